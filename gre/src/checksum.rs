//! The Internet checksum (RFC 1071), used by GRE (RFC 2784 §2.5) and the outer IPv4 header.

/// Adds `data` to a running one's-complement sum, treating it as big-endian 16-bit words (an odd
/// trailing byte is padded with zero, RFC 1071 §4.1). Fold the result with [`finish`].
///
/// The sum is accumulated in 32-bit steps into a 64-bit register and folded at the end, which is
/// equivalent (RFC 1071 §2, "deferred carries") and several times faster than 16-bit steps.
pub fn accumulate(mut sum: u64, data: &[u8]) -> u64 {
    let (words, rest) = data.as_chunks::<4>();
    for w in words {
        sum += u64::from(u32::from_be_bytes(*w));
    }
    let mut tail = [0u8; 4];
    for (t, b) in tail.iter_mut().zip(rest) {
        *t = *b;
    }
    sum + u64::from(u32::from_be_bytes(tail))
}

/// Folds a running sum from [`accumulate`] to 16 bits and complements it: the value to put in a
/// checksum field. A packet whose checksum field is correct sums (with the field) to `0`.
pub fn finish(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // `sum` now fits in 16 bits.
    !(sum as u16)
}

/// The Internet checksum of `data` (one's complement of the one's-complement sum).
///
/// ```
/// // RFC 1071 §3 example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
/// assert_eq!(dmvpn_gre::checksum::checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
/// ```
pub fn checksum(data: &[u8]) -> u16 {
    finish(accumulate(0, data))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    /// The obvious 16-bit reference implementation.
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = u32::from(data[i]) << 8;
            let lo = data.get(i + 1).copied().map_or(0, u32::from);
            sum += hi | lo;
            sum = (sum & 0xffff) + (sum >> 16);
            i += 2;
        }
        !(sum as u16)
    }

    #[test]
    fn matches_reference_on_all_lengths() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(151) >> 1) as u8 ^ 0xa5)
            .collect();
        for len in 0..data.len() {
            assert_eq!(checksum(&data[..len]), reference(&data[..len]), "len {len}");
        }
    }

    #[test]
    fn all_ones_and_empty() {
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0xff; 64]), 0x0000);
    }

    proptest::proptest! {
        #[test]
        fn matches_reference(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            proptest::prop_assert_eq!(checksum(&data), reference(&data));
        }
    }
}
