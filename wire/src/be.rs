//! Big-endian field access that cannot panic.
//!
//! Two flavours, for the two ways a parser reads: the plain readers ([`u16()`], [`u32()`], [`get`])
//! yield zero for a field beyond the buffer and the writers skip it, for views whose
//! `new_checked` has already validated the lengths (the fallbacks are never taken; they exist so
//! that no input can cause a panic); the `read_*` readers return `None` beyond the buffer, for
//! parsers that check as they go.

/// The `N` bytes at `at`, or zeroes if the buffer is too short.
#[inline]
pub fn get<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    read(buf, at).unwrap_or([0; N])
}

/// The big-endian 16-bit field at `at`, or zero.
#[inline]
pub fn u16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(get(buf, at))
}

/// The big-endian 32-bit field at `at`, or zero.
#[inline]
pub fn u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(get(buf, at))
}

/// The big-endian 64-bit field at `at`, or zero.
#[inline]
pub fn u64(buf: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(get(buf, at))
}

/// The `N` bytes at `at`, if present.
#[inline]
pub fn read<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
}

/// The byte at `at`, if present.
#[inline]
pub fn read_u8(buf: &[u8], at: usize) -> Option<u8> {
    buf.get(at).copied()
}

/// The big-endian 16-bit field at `at`, if present.
#[inline]
pub fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    read(buf, at).map(u16::from_be_bytes)
}

/// The big-endian 32-bit field at `at`, if present.
#[inline]
pub fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    read(buf, at).map(u32::from_be_bytes)
}

/// The big-endian 64-bit field at `at`, if present.
#[inline]
pub fn read_u64(buf: &[u8], at: usize) -> Option<u64> {
    read(buf, at).map(u64::from_be_bytes)
}

/// Writes `bytes` at `at`; skipped if they do not fit.
#[inline]
pub fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = at
        .checked_add(bytes.len())
        .and_then(|end| buf.get_mut(at..end))
    {
        dst.copy_from_slice(bytes);
    }
}

/// Writes a big-endian 16-bit field at `at`; skipped if it does not fit.
#[inline]
pub fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    put(buf, at, &v.to_be_bytes());
}

/// Writes a big-endian 32-bit field at `at`; skipped if it does not fit.
#[inline]
pub fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    put(buf, at, &v.to_be_bytes());
}

/// Writes a big-endian 64-bit field at `at`; skipped if it does not fit.
#[inline]
pub fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    put(buf, at, &v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_beyond_the_buffer() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16(&b, 0), 0x0102);
        assert_eq!(u32(&b, 5), 0x0607_0809);
        assert_eq!(u64(&b, 1), 0x0203_0405_0607_0809);
        assert_eq!(u32(&b, 6), 0);
        assert_eq!(read_u16(&b, 8), None);
        assert_eq!(read_u16(&b, 7), Some(0x0809));
        assert_eq!(read_u8(&b, 9), None);
        assert_eq!(read_u32(&b, usize::MAX), None);
        assert_eq!(read_u64(&b, 2), None);
        assert_eq!(get::<2>(&b, usize::MAX), [0, 0]);
    }

    #[test]
    fn writes_that_do_not_fit_are_skipped() {
        let mut b = [0u8; 4];
        put_u16(&mut b, 2, 0xabcd);
        put_u32(&mut b, 1, 0xffff_ffff);
        put_u64(&mut b, 0, 1);
        put(&mut b, usize::MAX, &[1]);
        assert_eq!(b, [0, 0, 0xab, 0xcd]);
        put_u32(&mut b, 0, 0x0102_0304);
        assert_eq!(b, [1, 2, 3, 4]);
    }
}
