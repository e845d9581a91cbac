//! Wire formats: the ESP header and trailer (RFC 4303 §2) and UDP encapsulation (RFC 3948).
//!
//! Views ([`dmvpn_esp::Packet`]) validate lengths once in `new_checked`; afterwards no accessor
//! panics. Reprs have public fields, `parse` / `buffer_len` / `emit`, and round-trip.

pub mod esp;
pub mod udp_encap;

pub use self::esp::{HEADER_LEN, Packet, Repr, Trailer};
pub use self::udp_encap::{NAT_KEEPALIVE, NAT_T_PORT, NON_ESP_MARKER, UdpEncapRepr, UdpPayload};

/// Reads a big-endian u32 at `off`, or 0 when out of range (callers check lengths first).
pub(crate) fn be_u32(buf: &[u8], off: usize) -> u32 {
    buf.get(off..off.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

/// Writes a big-endian u32 at `off` if it fits.
pub(crate) fn put_be_u32(buf: &mut [u8], off: usize, v: u32) {
    if let Some(b) = buf.get_mut(off..off.saturating_add(4)) {
        b.copy_from_slice(&v.to_be_bytes());
    }
}
