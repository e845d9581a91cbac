//! Wire formats: GRE itself ([`gre`]) and GRE-in-IP ([`ip`]: the outer IPv4/IPv6 header, whose
//! views and `Repr`s live in `dmvpn_wire`).
//!
//! Each module has a view, `Packet<T: AsRef<[u8]>>`, whose `new_checked` validates the lengths once
//! (afterwards no accessor panics), and a `Repr` with public fields whose `parse` and `emit` are
//! inverse: `Repr::parse(&emit(r)) == r`.

pub mod gre;
pub mod ip;

pub(crate) use dmvpn_wire::be;
