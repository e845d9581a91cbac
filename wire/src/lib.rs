//! The wire toolkit shared by the DMVPN crate family: the Internet checksum (RFC 1071) and its
//! incremental update (RFC 1624), IPv4 (RFC 791) and IPv6 (RFC 8200 §3) header views and
//! `Repr`s, the UDP header (RFC 768), ICMP/ICMPv6 error builders (RFC 792, RFC 1191, RFC 4443,
//! with the RFC 1812 §4.3.2.7 rules on what never to answer), IPv4 fragmentation (RFC 791,
//! [`fragment`]), TCP MSS clamping (`ip tcp adjust-mss`, [`tcp`]), non-panicking big-endian field
//! access, the [`code_point!`] macro for open registries, and [`Transmit`], the one shape in which
//! every machine hands out a datagram.
//!
//! It is a leaf: it depends on nothing of the family, and `dmvpn-gre`, `dmvpn-nhrp`,
//! `dmvpn-esp`, `dmvpn-ikev2`, `dmvpn-netsim` and `dmvpn-core` all use it, so that each of these
//! concepts has one home.
//!
//! Every header follows the same shape: a view `Packet<T: AsRef<[u8]>>` whose `new_checked`
//! validates the lengths once (afterwards no accessor panics, whatever the bytes), and a `Repr`
//! with public fields whose `parse` and `emit` are inverse.
//!
//! ```
//! use dmvpn_wire::ip::{HeaderOptions, IpProtocol, Repr};
//!
//! let ip = Repr::new(
//!     "192.168.1.25".parse().unwrap(),
//!     "192.168.2.37".parse().unwrap(),
//!     IpProtocol::UDP,
//!     8,
//!     &HeaderOptions::default(),
//!     1,
//! )
//! .unwrap();
//! let mut packet = vec![0u8; ip.buffer_len()];
//! ip.emit(&mut packet).unwrap();
//! assert_eq!(dmvpn_wire::checksum::checksum(&packet[..20]), 0);
//! assert!(dmvpn_wire::ip::decrement_ttl(&mut packet));
//! assert_eq!(Repr::parse(&packet).unwrap().0.dst_addr(), ip.dst_addr());
//! ```
#![forbid(unsafe_code)]

pub mod be;
pub mod checksum;
mod code_point;
mod error;
pub mod fragment;
pub mod icmp;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
mod transmit;
pub mod udp;

pub use error::Error;
pub use ip::{HeaderOptions, IpProtocol};
pub use transmit::{Proto, Transmit};
