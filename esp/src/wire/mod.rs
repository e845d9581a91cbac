//! Wire formats: the ESP header and trailer (RFC 4303 §2) and UDP encapsulation (RFC 3948).
//!
//! Views ([`Packet`]) validate lengths once in `new_checked`; afterwards no accessor
//! panics. Reprs have public fields, `parse` / `buffer_len` / `emit`, and round-trip.

pub mod esp;
pub mod udp_encap;

pub use self::esp::{HEADER_LEN, Packet, Repr, Trailer};
pub use self::udp_encap::{NAT_KEEPALIVE, NAT_T_PORT, NON_ESP_MARKER, UdpEncapRepr, UdpPayload};

/// Big-endian field access that cannot panic, from the family's wire toolkit.
pub(crate) use dmvpn_wire::be::{put_u32 as put_be_u32, u32 as be_u32};
