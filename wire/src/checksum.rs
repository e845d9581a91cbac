//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624): the IPv4 header, UDP,
//! TCP, ICMP/ICMPv6, GRE (RFC 2784 §2.5) and NHRP (`ar$chksum`, RFC 2332 §5.2.0.1) all use it.

use core::net::IpAddr;

/// Adds `data` to a running one's-complement sum, treating it as big-endian 16-bit words (an odd
/// trailing byte is padded with zero, RFC 1071 §4.1). Fold the result with [`finish`].
///
/// The data is summed in native byte order, 32 bits at a time into a 64-bit register (deferred
/// carries, RFC 1071 §2 (C)), and the folded 16-bit result is byte-swapped to big-endian order
/// (the sum is byte-order independent up to that swap, RFC 1071 §2 (B)). Without a byte swap per
/// word the loop vectorizes to plain additions. The result equals a 16-bit big-endian
/// summation's once folded, including its zero/0xffff case: it folds to zero only for all-zero
/// data.
#[inline]
pub fn accumulate(sum: u64, data: &[u8]) -> u64 {
    let (words, rest) = data.as_chunks::<4>();
    let mut native = 0u64;
    for w in words {
        native += u64::from(u32::from_ne_bytes(*w));
    }
    let mut tail = [0u8; 4];
    for (t, b) in tail.iter_mut().zip(rest) {
        *t = *b;
    }
    native += u64::from(u32::from_ne_bytes(tail));
    sum + u64::from(u16::from_be(fold(native)))
}

/// Folds a sum to 16 bits with end-around carries (zero only for a zero sum).
#[inline]
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // `sum` now fits in 16 bits.
    sum as u16
}

/// Folds a running sum from [`accumulate`] to 16 bits and complements it: the value to put in a
/// checksum field. A packet whose checksum field is correct sums (with the field) to `0`.
#[inline]
pub fn finish(sum: u64) -> u16 {
    !fold(sum)
}

/// The Internet checksum of `data` (one's complement of the one's-complement sum).
///
/// ```
/// // RFC 1071 §3 example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
/// assert_eq!(dmvpn_wire::checksum::checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
/// ```
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    finish(accumulate(0, data))
}

/// Updates a checksum field after one 16-bit word it covers changed from `old` to `new`, without
/// summing the data again (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`). Used to decrement a TTL
/// or rewrite a TCP MSS option in place.
#[inline]
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    let sum = u64::from(!checksum) + u64::from(!old) + u64::from(new);
    finish(sum)
}

/// The running sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 768, RFC 9293 §3.1, RFC 8200 §8.1):
/// both addresses, the protocol and the upper-layer length. Continue it with [`accumulate`] over
/// the upper-layer header and payload, then [`finish`]. Addresses of different families give the
/// sum of both, which no receiver accepts (callers check the families first).
#[inline]
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u64 {
    let mut sum = 0;
    for a in [src, dst] {
        sum = match a {
            IpAddr::V4(a) => accumulate(sum, &a.octets()),
            IpAddr::V6(a) => accumulate(sum, &a.octets()),
        };
    }
    sum + u64::from(protocol) + u64::from(len >> 16) + u64::from(len & 0xffff)
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn rfc1071_example_and_odd_lengths() {
        // RFC 1071 §3: words 0001 f203 f4f5 f6f7 sum to 0xddf2, checksum 0x220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0x12]), !0x1200);
        assert_eq!(checksum(&[0x12, 0x00]), checksum(&[0x12]));
    }

    #[test]
    fn pseudo_header_sums_the_fields() {
        let v4 = pseudo_header([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 17, 12);
        assert_eq!(finish(v4), !(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 12));
        let v6 = pseudo_header(
            core::net::Ipv6Addr::LOCALHOST.into(),
            core::net::Ipv6Addr::LOCALHOST.into(),
            58,
            0x1_0002,
        );
        assert_eq!(finish(v6), !(1 + 1 + 58 + 1 + 2));
    }

    proptest::proptest! {
        /// RFC 1624: an incremental update equals a recomputation (RFC 1624 §3 shows eqn. 3 gets
        /// the one case RFC 1141's formula got wrong, a result of 0x0000 vs 0xffff, right).
        #[test]
        fn update_matches_recompute(
            mut data in proptest::collection::vec(proptest::num::u8::ANY, 2..200),
            at in 0usize..100,
            new in proptest::num::u16::ANY,
        ) {
            let at = (at % (data.len() / 2)) * 2;
            let before = checksum(&data);
            let old = u16::from_be_bytes([data[at], data[at + 1]]);
            data[at..at + 2].copy_from_slice(&new.to_be_bytes());
            let after = checksum(&data);
            let updated = update(before, old, new);
            // 0x0000 and 0xffff are both zero in one's complement: the only case the two may
            // differ is data summing to zero (all zero words), where both are "zero".
            if data.iter().any(|&b| b != 0) {
                proptest::prop_assert_eq!(updated, after);
            } else {
                proptest::prop_assert!(updated == 0 || updated == 0xffff);
            }
        }

        #[test]
        fn matches_reference(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            proptest::prop_assert_eq!(checksum(&data), reference(&data));
        }
    }
}
