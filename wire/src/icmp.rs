//! ICMP (RFC 792) and ICMPv6 (RFC 4443) error messages a router sends about a packet it cannot
//! forward: fragmentation needed / packet too big (path MTU discovery, RFC 1191 / RFC 8201),
//! time exceeded, destination unreachable.
//!
//! [`error`] builds the whole IP packet (header, ICMP header, the quoted original) and refuses,
//! with `None`, the packets RFC 1812 §4.3.2.7 and RFC 4443 §2.4(e) say must never be answered
//! with an error: ICMP errors themselves, non-initial fragments, and packets whose source is not
//! a unicast host.

use core::net::IpAddr;

use crate::ip::{HeaderOptions, IpProtocol, Repr as IpRepr, version};
use crate::{be, checksum, ipv4, ipv6};

/// Most bytes of an ICMPv4 error (IP header included): RFC 1812 §4.3.2.3 quotes as much of
/// the original as fits in 576.
pub const MAX_V4_ERROR_LEN: usize = 576;
/// Most bytes of an ICMPv6 error (IPv6 header included): the minimum MTU (RFC 4443 §2.4(c)).
pub const MAX_V6_ERROR_LEN: usize = 1280;

/// Which error to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The packet is larger than the next hop's MTU and may not be fragmented: ICMP type 3
    /// code 4 "fragmentation needed and DF set" with the next-hop MTU (RFC 1191 §4), or ICMPv6
    /// type 2 "packet too big" (RFC 4443 §3.2).
    PacketTooBig {
        /// The MTU the sender must fit into.
        mtu: u32,
    },
    /// The TTL / hop limit ran out in transit: ICMP type 11 code 0, ICMPv6 type 3 code 0.
    TimeExceeded,
    /// No route to the destination: ICMP type 3 code 1 (host unreachable), ICMPv6 type 1 code 0
    /// (no route to destination).
    NoRoute,
    /// The destination is administratively prohibited: ICMP type 3 code 13, ICMPv6 type 1 code 1.
    Prohibited,
}

impl ErrorKind {
    fn v4_type_code(self) -> (u8, u8) {
        match self {
            ErrorKind::PacketTooBig { .. } => (3, 4),
            ErrorKind::TimeExceeded => (11, 0),
            ErrorKind::NoRoute => (3, 1),
            ErrorKind::Prohibited => (3, 13),
        }
    }

    fn v6_type_code(self) -> (u8, u8) {
        match self {
            ErrorKind::PacketTooBig { .. } => (2, 0),
            ErrorKind::TimeExceeded => (3, 0),
            ErrorKind::NoRoute => (1, 0),
            ErrorKind::Prohibited => (1, 1),
        }
    }

    /// The 32-bit field after the checksum: the MTU for "too big" (ICMPv4 puts it in the low 16
    /// bits, RFC 1191 §4), otherwise unused (zero).
    fn rest_of_header(self, v6: bool) -> u32 {
        match self {
            ErrorKind::PacketTooBig { mtu } if v6 => mtu,
            ErrorKind::PacketTooBig { mtu } => mtu.min(0xffff),
            _ => 0,
        }
    }
}

/// Whether RFC 1812 §4.3.2.7 / RFC 4443 §2.4(e) forbid answering `original` with an error: it is
/// an ICMP error (or an ICMPv6 error) itself, an IPv4 fragment other than the first, or its
/// source is unspecified, multicast, broadcast or loopback. Unparseable packets are not answered
/// either.
pub fn must_not_answer(original: &[u8]) -> bool {
    let Ok((ip, payload)) = IpRepr::parse_unverified(original) else {
        return true;
    };
    let src = ip.src_addr();
    let bad_source = match src {
        IpAddr::V4(a) => {
            a.is_unspecified() || a.is_multicast() || a.is_broadcast() || a.is_loopback()
        }
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast() || a.is_loopback(),
    };
    let bad_dest = match ip.dst_addr() {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
        // RFC 4443 §2.4(e.3): packet too big is allowed to multicast destinations.
        IpAddr::V6(_) => false,
    };
    let later_fragment = matches!(ip, IpRepr::V4(r) if r.fragment_offset != 0);
    let is_error = match ip {
        // ICMPv4 errors: unreachable 3, source quench 4, redirect 5, time exceeded 11,
        // parameter problem 12 (RFC 792); informational ones may be answered.
        IpRepr::V4(r) => {
            r.protocol == IpProtocol::ICMP
                && r.fragment_offset == 0
                && matches!(payload.first(), Some(3 | 4 | 5 | 11 | 12))
        }
        // ICMPv6 error messages are types 0-127 (RFC 4443 §2.1).
        IpRepr::V6(r) => {
            r.next_header == IpProtocol::ICMPV6 && matches!(payload.first(), Some(t) if *t < 128)
        }
    };
    bad_source || bad_dest || later_fragment || is_error
}

/// Builds the ICMP (for an IPv4 `original`) or ICMPv6 (for IPv6) error `kind` about `original`,
/// sent from `from` (this router's address on the interface, of the same family) to the
/// original's source, quoting as much of `original` as fits in [`MAX_V4_ERROR_LEN`] /
/// [`MAX_V6_ERROR_LEN`] (RFC 1812 §4.3.2.3, RFC 4443 §2.4(c): at least the original's IP header
/// and its first 8 data bytes, RFC 792). `None` when [`must_not_answer`] says so or `from` is
/// of the other family.
pub fn error(kind: ErrorKind, from: IpAddr, original: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    error_into(kind, from, original, &mut out).then_some(out)
}

/// Like [`error`], writing the message into `out` (cleared first; its capacity is reused, so
/// that a caller with a buffer pool allocates nothing). Returns whether a message was built;
/// `out` is left empty when not.
pub fn error_into(kind: ErrorKind, from: IpAddr, original: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let built = build(kind, from, original, out).is_some();
    if !built {
        out.clear();
    }
    built
}

fn build(kind: ErrorKind, from: IpAddr, original: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if must_not_answer(original) {
        return None;
    }
    let to = crate::ip::source(original)?;
    let v6 = match (from, to) {
        (IpAddr::V4(_), IpAddr::V4(_)) => false,
        (IpAddr::V6(_), IpAddr::V6(_)) => true,
        _ => return None,
    };
    let (ip_hlen, max, proto, (ty, code)) = if v6 {
        (
            ipv6::HEADER_LEN,
            MAX_V6_ERROR_LEN,
            IpProtocol::ICMPV6,
            kind.v6_type_code(),
        )
    } else {
        (
            ipv4::MIN_HEADER_LEN,
            MAX_V4_ERROR_LEN,
            IpProtocol::ICMP,
            kind.v4_type_code(),
        )
    };
    let quoted = original.get(..original.len().min(max - ip_hlen - 8))?;
    let icmp_len = 8 + quoted.len();
    let opts = HeaderOptions {
        ttl: 64,
        ..HeaderOptions::default()
    };
    let ip = IpRepr::new(from, to, proto, icmp_len, &opts, 0).ok()?;
    out.resize(ip.buffer_len(), 0);
    ip.emit(out).ok()?;
    let icmp = out.get_mut(ip_hlen..)?;
    be::put(icmp, 0, &[ty, code, 0, 0]);
    be::put_u32(icmp, 4, kind.rest_of_header(v6));
    be::put(icmp, 8, quoted);
    let sum = if v6 {
        checksum::pseudo_header(from, to, proto.0, icmp_len as u32)
    } else {
        0
    };
    let c = checksum::finish(checksum::accumulate(sum, icmp));
    be::put_u16(icmp, 2, c);
    Some(())
}

impl IpRepr {
    /// [`IpRepr::parse`] without the IPv4 header checksum check: an error quotes the packet as it
    /// arrived, and deciding whether to answer must not depend on it.
    fn parse_unverified(bytes: &[u8]) -> Result<(IpRepr, &[u8]), crate::Error> {
        match version(bytes) {
            Some(4) => {
                let p = ipv4::Packet::new_checked(bytes)?;
                let mut r =
                    ipv4::Repr::new(p.src_addr(), p.dst_addr(), p.protocol(), p.payload().len());
                r.fragment_offset = p.fragment_offset();
                Ok((IpRepr::V4(r), p.into_payload()))
            }
            _ => IpRepr::parse(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn packet(src: IpAddr, dst: IpAddr, proto: IpProtocol, payload: &[u8]) -> Vec<u8> {
        let ip = IpRepr::new(src, dst, proto, payload.len(), &HeaderOptions::default(), 1).unwrap();
        let mut b = vec![0u8; ip.buffer_len()];
        ip.emit(&mut b).unwrap();
        b[ip.header_len()..].copy_from_slice(payload);
        b
    }

    const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const PC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 25);
    const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 2, 37);

    #[test]
    fn fragmentation_needed_quotes_and_checksums() {
        let orig = packet(PC.into(), SERVER.into(), IpProtocol::TCP, &[7u8; 1400]);
        let e = error(ErrorKind::PacketTooBig { mtu: 1400 }, ROUTER.into(), &orig).unwrap();
        assert_eq!(e.len(), MAX_V4_ERROR_LEN);
        let (ip, icmp) = IpRepr::parse(&e).unwrap();
        assert_eq!(
            (ip.src_addr(), ip.dst_addr(), ip.protocol()),
            (ROUTER.into(), PC.into(), IpProtocol::ICMP)
        );
        assert_eq!(&icmp[..2], &[3, 4]);
        assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1400);
        assert_eq!(checksum::checksum(icmp), 0);
        assert_eq!(&icmp[8..], &orig[..MAX_V4_ERROR_LEN - 28]);
    }

    #[test]
    fn packet_too_big_v6() {
        let r: IpAddr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into();
        let s: IpAddr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 25).into();
        let d: IpAddr = Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 37).into();
        let orig = packet(s, d, IpProtocol::UDP, &[1u8; 100]);
        let e = error(ErrorKind::PacketTooBig { mtu: 1280 }, r, &orig).unwrap();
        let (ip, icmp) = IpRepr::parse(&e).unwrap();
        assert_eq!(ip.dst_addr(), s);
        assert_eq!(&icmp[..2], &[2, 0]);
        assert_eq!(
            u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]),
            1280
        );
        let sum = checksum::pseudo_header(r, s, 58, icmp.len() as u32);
        assert_eq!(checksum::finish(checksum::accumulate(sum, icmp)), 0);
        assert_eq!(&icmp[8..], &orig[..]);
        let te = error(ErrorKind::TimeExceeded, r, &orig).unwrap();
        assert_eq!(te[40], 3);
    }

    #[test]
    fn never_about_errors_fragments_or_non_unicast_sources() {
        let echo = packet(
            PC.into(),
            SERVER.into(),
            IpProtocol::ICMP,
            &[8, 0, 0, 0, 0, 0, 0, 0],
        );
        assert!(error(ErrorKind::TimeExceeded, ROUTER.into(), &echo).is_some());
        let unreachable = packet(
            PC.into(),
            SERVER.into(),
            IpProtocol::ICMP,
            &[3, 1, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(
            error(ErrorKind::TimeExceeded, ROUTER.into(), &unreachable),
            None
        );
        let mut frag = packet(PC.into(), SERVER.into(), IpProtocol::UDP, &[0; 16]);
        frag[6] = 0x00;
        frag[7] = 0x02; // offset 16 bytes
        assert_eq!(error(ErrorKind::TimeExceeded, ROUTER.into(), &frag), None);
        let bcast = packet(
            Ipv4Addr::BROADCAST.into(),
            SERVER.into(),
            IpProtocol::UDP,
            &[0; 8],
        );
        assert_eq!(error(ErrorKind::NoRoute, ROUTER.into(), &bcast), None);
        let to_mcast = packet(
            PC.into(),
            Ipv4Addr::new(224, 0, 0, 5).into(),
            IpProtocol::UDP,
            &[0; 8],
        );
        assert_eq!(error(ErrorKind::NoRoute, ROUTER.into(), &to_mcast), None);
        let v6_from: IpAddr = Ipv6Addr::LOCALHOST.into();
        assert_eq!(
            error(ErrorKind::NoRoute, v6_from, &echo),
            None,
            "family mismatch"
        );
        assert_eq!(
            error(ErrorKind::NoRoute, ROUTER.into(), &[0x45, 0, 0]),
            None
        );
        let v6_err = packet(
            Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(),
            Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3).into(),
            IpProtocol::ICMPV6,
            &[1, 0, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(error(ErrorKind::NoRoute, v6_from, &v6_err), None);
    }

    #[test]
    fn error_into_reuses_the_buffer_and_agrees_with_error() {
        let orig = packet(PC.into(), SERVER.into(), IpProtocol::UDP, &[9u8; 40]);
        let mut buf = vec![0xaa; 3];
        let kind = ErrorKind::PacketTooBig { mtu: 1400 };
        assert!(error_into(kind, ROUTER.into(), &orig, &mut buf));
        assert_eq!(Some(buf.clone()), error(kind, ROUTER.into(), &orig));
        // The whole short original is quoted: header and data.
        assert_eq!(&buf[28..], &orig[..]);
        let err = buf.clone();
        assert!(!error_into(kind, ROUTER.into(), &err, &mut buf));
        assert!(buf.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = error(ErrorKind::PacketTooBig { mtu: 1400 }, ROUTER.into(), &bytes);
            let _ = error(ErrorKind::TimeExceeded, Ipv6Addr::LOCALHOST.into(), &bytes);
        }
    }
}
