//! TCP MSS clamping (IOS `ip tcp adjust-mss`): the Maximum Segment Size option of a SYN (or
//! SYN-ACK) is lowered in place, so that the two ends of a connection across a tunnel send
//! segments that fit the tunnel without fragmentation.
//!
//! The MSS option (kind 2, length 4; RFC 879, RFC 9293 §3.1 and §3.7.1: sent only in segments
//! with SYN set) says how large a segment the sender of the SYN can receive: the MTU less the
//! fixed IP and TCP headers (RFC 6691 §2; seed 002's `ip mtu 1400` and `ip tcp adjust-mss
//! 1360`). A router in the path may lower it, never raise it; the TCP checksum is then updated
//! incrementally (RFC 1624 eqn. 3) and no other byte changes.
//!
//! Only the fixed places are parsed, and anything unexpected leaves the packet untouched:
//!
//! - IPv4: the header length (IHL, at least 5 words), total length, protocol 6, and a fragment
//!   offset of 0 (a first fragment with MF set is clamped if the TCP header is all in it; the
//!   checksum covers the whole segment, and an incremental update stays right);
//! - IPv6: the fixed header (a payload length of 0, a jumbogram, is left alone), then at most
//!   [`MAX_EXTENSION_HEADERS`] extension headers of the kinds that may precede TCP without
//!   protecting it: Hop-by-Hop Options (0), Routing (43), Destination Options (60) and Fragment
//!   (44, only with offset 0). Any other next header (AH, ESP, No Next Header, Mobility, …)
//!   leaves the packet alone; AH in particular authenticates the MSS, which must not change;
//! - TCP: the data offset (at least 5 words, the whole header in the packet), the SYN flag,
//!   and the options: End of Option List (0) and No-Operation (1) are one byte, every other
//!   option has a length byte of at least 2 that stays inside the header. The whole list is
//!   checked before anything is written: a malformed list, an MSS option whose length is not
//!   4, or a second MSS option leaves the segment as it is.

use crate::{be, checksum, ipv4, ipv6};

/// The most IPv6 extension headers walked before giving up on finding TCP.
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// TCP's protocol number.
const TCP: u8 = 6;
/// The SYN flag in TCP's flags byte.
const SYN: u8 = 0x02;
/// TCP's fixed header length, and where its checksum is.
const TCP_HEADER_LEN: usize = 20;
const TCP_CHECKSUM_AT: usize = 16;

/// Where the TCP header of a packet is: its start and the end of the IP payload in `packet`
/// (for a first fragment, the end of this fragment's data).
fn tcp_segment(packet: &[u8]) -> Option<(usize, usize)> {
    match crate::ip::version(packet)? {
        4 => {
            let p = ipv4::Packet::new_checked(packet).ok()?;
            if p.protocol().0 != TCP || p.fragment_offset() != 0 {
                return None;
            }
            Some((p.header_len(), usize::from(p.total_len())))
        }
        6 => {
            let p = ipv6::Packet::new_checked(packet).ok()?;
            let plen = usize::from(p.payload_len());
            if plen == 0 {
                return None;
            }
            let end = ipv6::HEADER_LEN + plen;
            let mut next = p.next_header().0;
            let mut at = ipv6::HEADER_LEN;
            for _ in 0..=MAX_EXTENSION_HEADERS {
                match next {
                    TCP => return Some((at, end)),
                    // Hop-by-Hop, Routing, Destination Options: next header, length in 8-byte
                    // units not counting the first 8 (RFC 8200 §4.3, §4.4, §4.6).
                    0 | 43 | 60 => {
                        let n = be::read_u8(packet, at)?;
                        let len = (usize::from(be::read_u8(packet, at + 1)?) + 1) * 8;
                        next = n;
                        at += len;
                    }
                    // Fragment (RFC 8200 §4.5): 8 bytes; only the first fragment has TCP.
                    44 => {
                        let n = be::read_u8(packet, at)?;
                        let offset = be::read_u16(packet, at + 2)? >> 3;
                        if offset != 0 {
                            return None;
                        }
                        next = n;
                        at += 8;
                    }
                    _ => return None,
                }
                if at > end {
                    return None;
                }
            }
            None
        }
        _ => None,
    }
}

/// The MSS option of a SYN: the position of its value in `packet`, whether that position is
/// at an odd offset from the start of the TCP header, where the TCP checksum is, and the value.
/// `None` for anything but a well-formed SYN with exactly one MSS option.
fn find_mss(packet: &[u8]) -> Option<(usize, bool, usize, u16)> {
    let (tcp, end) = tcp_segment(packet)?;
    let segment = packet.get(tcp..end)?;
    let flags = be::read_u8(segment, 13)?;
    let data_offset = usize::from(be::read_u8(segment, 12)? >> 4) * 4;
    if flags & SYN == 0 || data_offset < TCP_HEADER_LEN {
        return None;
    }
    let options = segment.get(TCP_HEADER_LEN..data_offset)?;
    let mut found = None;
    let mut i = 0;
    while let Some(&kind) = options.get(i) {
        match kind {
            0 => break,
            1 => i += 1,
            _ => {
                let len = usize::from(be::read_u8(options, i + 1)?);
                if len < 2 || i + len > options.len() {
                    return None;
                }
                if kind == 2 {
                    if len != 4 || found.is_some() {
                        return None;
                    }
                    found = Some((i + 2, be::read_u16(options, i + 2)?));
                }
                i += len;
            }
        }
    }
    let (at, mss) = found?;
    let rel = TCP_HEADER_LEN + at;
    Some((tcp + rel, rel % 2 == 1, tcp + TCP_CHECKSUM_AT, mss))
}

/// The MSS option of `packet` if it is a well-formed TCP SYN (or SYN-ACK) over IPv4 or IPv6
/// with one (see the [module docs](self) for what is parsed).
pub fn syn_mss(packet: &[u8]) -> Option<u16> {
    find_mss(packet).map(|(.., mss)| mss)
}

/// Lowers the MSS option of a TCP SYN or SYN-ACK in `packet` (an IPv4 or IPv6 packet) to
/// `max` if it is larger, updating the TCP checksum incrementally (RFC 1624). Returns the MSS
/// it replaced, or `None` when nothing changed: not a SYN, no MSS option or one of at most
/// `max`, or anything malformed (see the [module docs](self)). Never panics; touches only the
/// two MSS bytes and the checksum.
pub fn clamp_mss(packet: &mut [u8], max: u16) -> Option<u16> {
    let (at, odd, sum_at, mss) = find_mss(packet)?;
    if mss <= max {
        return None;
    }
    let old_sum = be::read_u16(packet, sum_at)?;
    // A 16-bit field at an odd offset straddles two checksum words: it adds to the sum
    // byte-swapped (RFC 1071 §2(B), byte order independence).
    let (old, new) = if odd {
        (mss.swap_bytes(), max.swap_bytes())
    } else {
        (mss, max)
    };
    let sum = checksum::update(old_sum, old, new);
    packet
        .get_mut(at..at + 2)?
        .copy_from_slice(&max.to_be_bytes());
    packet
        .get_mut(sum_at..sum_at + 2)?
        .copy_from_slice(&sum.to_be_bytes());
    Some(mss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::{HeaderOptions, IpProtocol, Repr as IpRepr};
    use core::net::IpAddr;
    use proptest::prelude::*;

    /// A TCP segment over IP with `flags` and `options` (padded to a multiple of 4 with EOL),
    /// a valid checksum, and `payload` bytes of data.
    fn segment(src: IpAddr, dst: IpAddr, flags: u8, options: &[u8], payload: usize) -> Vec<u8> {
        let mut opts = options.to_vec();
        opts.resize(options.len().next_multiple_of(4), 0);
        let tcp_len = 20 + opts.len() + payload;
        let ip = IpRepr::new(
            src,
            dst,
            IpProtocol::TCP,
            tcp_len,
            &HeaderOptions::default(),
            7,
        )
        .unwrap();
        let mut b = vec![0u8; ip.buffer_len()];
        ip.emit(&mut b).unwrap();
        let h = ip.header_len();
        let t = &mut b[h..];
        t[0..4].copy_from_slice(&[0x04, 0xd2, 0x00, 0x50]);
        t[4..8].copy_from_slice(&[1, 2, 3, 4]);
        t[12] = (((20 + opts.len()) / 4) as u8) << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&[0xff, 0xff]);
        t[20..20 + opts.len()].copy_from_slice(&opts);
        for (i, x) in t[20 + opts.len()..].iter_mut().enumerate() {
            *x = i as u8;
        }
        let c = tcp_checksum(src, dst, t);
        t[16..18].copy_from_slice(&c.to_be_bytes());
        b
    }

    fn tcp_checksum(src: IpAddr, dst: IpAddr, tcp: &[u8]) -> u16 {
        let mut copy = tcp.to_vec();
        copy[16] = 0;
        copy[17] = 0;
        let sum = checksum::pseudo_header(src, dst, 6, tcp.len() as u32);
        checksum::finish(checksum::accumulate(sum, &copy))
    }

    /// Whether the TCP checksum of an IP packet verifies.
    fn valid(packet: &[u8]) -> bool {
        let (ip, tcp) = IpRepr::parse(packet).unwrap();
        let sum = checksum::pseudo_header(ip.src_addr(), ip.dst_addr(), 6, tcp.len() as u32);
        checksum::finish(checksum::accumulate(sum, tcp)) == 0
    }

    fn v4() -> (IpAddr, IpAddr) {
        (
            "192.168.1.25".parse().unwrap(),
            "192.168.2.37".parse().unwrap(),
        )
    }

    fn v6() -> (IpAddr, IpAddr) {
        (
            "2001:db8:1::25".parse().unwrap(),
            "2001:db8:2::37".parse().unwrap(),
        )
    }

    const MSS_1460: [u8; 4] = [2, 4, 0x05, 0xb4];

    #[test]
    fn syn_and_syn_ack_are_clamped_with_a_valid_checksum() {
        for (src, dst) in [v4(), v6()] {
            for flags in [SYN, SYN | 0x10] {
                let mut p = segment(src, dst, flags, &MSS_1460, 0);
                let before = p.clone();
                assert_eq!(clamp_mss(&mut p, 1360), Some(1460));
                assert_eq!(syn_mss(&p), Some(1360));
                assert!(valid(&p));
                let changed: Vec<usize> = (0..p.len()).filter(|&i| p[i] != before[i]).collect();
                let h = if src.is_ipv4() { 20 } else { 40 };
                assert!(
                    changed
                        .iter()
                        .all(|&i| [h + 16, h + 17, h + 22, h + 23].contains(&i)),
                    "{changed:?}"
                );
                // Again: already at the limit, nothing changes.
                assert_eq!(clamp_mss(&mut p, 1360), None);
            }
        }
    }

    #[test]
    fn an_odd_aligned_mss_after_a_nop() {
        let (src, dst) = v4();
        // NOP, MSS, NOP, window scale (3 bytes): the MSS value sits at TCP offset 23.
        let mut p = segment(src, dst, SYN, &[1, 2, 4, 0x05, 0xb4, 1, 3, 3, 7], 0);
        assert_eq!(clamp_mss(&mut p, 1200), Some(1460));
        assert_eq!(syn_mss(&p), Some(1200));
        assert!(valid(&p));
    }

    #[test]
    fn left_alone() {
        let (src, dst) = v4();
        // A smaller MSS, a non-SYN, no MSS at all.
        for (flags, opts) in [
            (SYN, &[2, 4, 0x04, 0xb0][..]),
            (0x10, &MSS_1460[..]),
            (SYN, &[1, 1, 1, 0][..]),
        ] {
            let mut p = segment(src, dst, flags, opts, 10);
            let before = p.clone();
            assert_eq!(clamp_mss(&mut p, 1360), None);
            assert_eq!(p, before);
        }
        // Malformed option lists: a zero length, a length past the header, MSS of length 3,
        // two MSS options, an MSS after a bad option.
        for opts in [
            &[8, 0, 2, 4, 5, 0xb4, 0, 0][..],
            &[2, 4, 5, 0xb4, 8, 10, 0, 0][..],
            &[2, 3, 5, 0][..],
            &[2, 4, 5, 0xb4, 2, 4, 5, 0xb4][..],
            &[3, 1, 2, 4, 5, 0xb4, 0, 0][..],
        ] {
            let mut p = segment(src, dst, SYN, opts, 0);
            let before = p.clone();
            assert_eq!(clamp_mss(&mut p, 1360), None, "{opts:?}");
            assert_eq!(p, before);
        }
        // Truncated: the data offset claims more than the packet holds.
        let mut p = segment(src, dst, SYN, &MSS_1460, 0);
        p[20 + 12] = 0xf0;
        let before = p.clone();
        assert_eq!(clamp_mss(&mut p, 1360), None);
        assert_eq!(p, before);
        // A later IPv4 fragment is never touched.
        let mut p = segment(src, dst, SYN, &MSS_1460, 0);
        p[7] = 1;
        assert_eq!(clamp_mss(&mut p, 1360), None);
        // Not TCP.
        let mut p = segment(src, dst, SYN, &MSS_1460, 0);
        p[9] = 17;
        assert_eq!(clamp_mss(&mut p, 1360), None);
    }

    #[test]
    fn ipv6_extension_headers() {
        let (src, dst) = v6();
        let plain = segment(src, dst, SYN, &MSS_1460, 0);
        let with = |nh: u8, ext: &[u8]| {
            let mut p = plain.clone();
            p[6] = nh;
            p.splice(40..40, ext.iter().copied());
            let plen = (p.len() - 40) as u16;
            p[4..6].copy_from_slice(&plen.to_be_bytes());
            p
        };
        // Hop-by-Hop (8 bytes, PadN) then TCP; Destination Options then Fragment (offset 0).
        let hbh = [6, 0, 1, 4, 0, 0, 0, 0];
        let mut p = with(0, &hbh);
        assert_eq!(clamp_mss(&mut p, 1360), Some(1460));
        let (_, payload) = IpRepr::parse(&p).unwrap();
        let tcp = &payload[8..];
        let sum = checksum::pseudo_header(src, dst, 6, tcp.len() as u32);
        assert_eq!(checksum::finish(checksum::accumulate(sum, tcp)), 0);
        let chain = [44, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 1];
        let mut p = with(60, &chain);
        assert_eq!(clamp_mss(&mut p, 1360), Some(1460));
        // A later fragment, AH, or too many headers: left alone.
        let mut p = with(44, &[6, 0, 0, 0x08, 0, 0, 0, 1]);
        assert_eq!(clamp_mss(&mut p, 1360), None);
        let mut p = with(51, &[6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(clamp_mss(&mut p, 1360), None);
        let many: Vec<u8> = (0..=MAX_EXTENSION_HEADERS)
            .flat_map(|k| {
                let nh = if k == MAX_EXTENSION_HEADERS { 6 } else { 60 };
                [nh, 0, 1, 4, 0, 0, 0, 0]
            })
            .collect();
        let mut p = with(60, &many);
        assert_eq!(clamp_mss(&mut p, 1360), None);
        // A jumbogram's zero payload length.
        let mut p = plain.clone();
        p[4..6].copy_from_slice(&[0, 0]);
        assert_eq!(clamp_mss(&mut p, 1360), None);
    }

    proptest! {
        /// Arbitrary bytes never panic; when a clamp happens on a segment whose checksum was
        /// valid, it stays valid and the MSS is the limit.
        #[test]
        fn clamp_never_panics_and_keeps_checksums(
            bytes in proptest::collection::vec(any::<u8>(), 0..120),
            max in any::<u16>(),
        ) {
            let mut p = bytes.clone();
            let _ = syn_mss(&p);
            if clamp_mss(&mut p, max).is_some() {
                prop_assert_eq!(syn_mss(&p), Some(max));
                prop_assert_eq!(p.len(), bytes.len());
            } else {
                prop_assert_eq!(&p, &bytes);
            }
        }

        /// Valid SYNs with arbitrary options around an MSS: the clamp keeps the checksum valid.
        #[test]
        fn clamped_syns_verify(
            six in any::<bool>(),
            nops in 0usize..4,
            tail in proptest::collection::vec(1u8..2, 0..8),
            mss in any::<u16>(),
            max in 500u16..=1460,
            payload in 0usize..50,
            ack in any::<bool>(),
        ) {
            let (src, dst) = if six { v6() } else { v4() };
            let mut opts = vec![1u8; nops];
            opts.extend_from_slice(&[2, 4]);
            opts.extend_from_slice(&mss.to_be_bytes());
            opts.extend_from_slice(&tail);
            let flags = if ack { SYN | 0x10 } else { SYN };
            let mut p = segment(src, dst, flags, &opts, payload);
            prop_assert!(valid(&p));
            let r = clamp_mss(&mut p, max);
            prop_assert_eq!(r, (mss > max).then_some(mss));
            prop_assert_eq!(syn_mss(&p), Some(mss.min(max)));
            prop_assert!(valid(&p));
        }
    }
}
