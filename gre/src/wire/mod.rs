//! Wire formats: GRE itself ([`gre`]) and the outer IP layer of GRE-in-IP ([`ip`], [`ipv4`],
//! [`ipv6`]).
//!
//! Each module has a view, `Packet<T: AsRef<[u8]>>`, whose `new_checked` validates the lengths once
//! (afterwards no accessor panics), and a `Repr` with public fields whose `parse` and `emit` are
//! inverse: `Repr::parse(&emit(r)) == r`.

pub mod gre;
pub mod ip;
pub mod ipv4;
pub mod ipv6;

/// Big-endian field access that cannot panic: reads outside the buffer yield zero and writes
/// outside it are skipped. Views only call these after `new_checked` (or an explicit length
/// check), so the fallbacks are never taken; they exist so that no input can cause a panic.
pub(crate) mod be {
    pub(crate) fn get<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
        buf.get(at..at.saturating_add(N))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .unwrap_or([0; N])
    }
    pub(crate) fn u16(buf: &[u8], at: usize) -> u16 {
        u16::from_be_bytes(get(buf, at))
    }
    pub(crate) fn u32(buf: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(get(buf, at))
    }
    pub(crate) fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
        if let Some(dst) = buf.get_mut(at..at.saturating_add(bytes.len())) {
            dst.copy_from_slice(bytes);
        }
    }
    pub(crate) fn put_u16(buf: &mut [u8], at: usize, v: u16) {
        put(buf, at, &v.to_be_bytes());
    }
    pub(crate) fn put_u32(buf: &mut [u8], at: usize, v: u32) {
        put(buf, at, &v.to_be_bytes());
    }
}
