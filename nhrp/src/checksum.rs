//! The Internet checksum (RFC 1071) as RFC 2332 §5.2.0.1 uses it for `ar$chksum`.

/// Adds `data` to a running one's-complement sum (not yet folded).
///
/// `data` is read as big-endian 16-bit words; an odd trailing byte is padded with a zero byte, as
/// RFC 1071 specifies. Split a buffer only at even offsets when summing it piecewise.
pub fn accumulate(mut sum: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        if let [hi, lo] = *w {
            sum += u64::from(u16::from_be_bytes([hi, lo]));
        }
    }
    if let [last] = *words.remainder() {
        sum += u64::from(u16::from_be_bytes([last, 0]));
    }
    sum
}

/// Folds a running sum to 16 bits (end-around carry) and complements it.
pub fn finish(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // `sum` fits in 16 bits after the loop.
    !(u16::try_from(sum).unwrap_or(0xffff))
}

/// The Internet checksum of `data`: the complement of the one's-complement sum of its 16-bit words.
///
/// A buffer whose checksum field is correct sums to `0xffff`, so `internet_checksum` of the whole
/// buffer is `0`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish(accumulate(0, data))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example: words 0001 f203 f4f5 f6f7 sum to 0xddf2 (folded), checksum 0x220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(internet_checksum(&[0x12]), !0x1200);
        assert_eq!(internet_checksum(&[0x12, 0x00]), internet_checksum(&[0x12]));
    }

    #[test]
    fn correct_buffer_sums_to_zero() {
        let mut data = vec![0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11];
        let c = internet_checksum(&data);
        data.extend_from_slice(&c.to_be_bytes());
        assert_eq!(internet_checksum(&data), 0);
    }
}
