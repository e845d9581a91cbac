//! ICMP echo over IPv4 (RFC 792) and ICMPv6 echo over IPv6 (RFC 4443 §4), enough to ping
//! across the overlay of either family.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dmvpn_wire::checksum;
use dmvpn_wire::ip::{HeaderOptions, IpProtocol, Repr};

/// Echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EchoKind {
    /// Type 8 (ICMPv6: 128).
    Request,
    /// Type 0 (ICMPv6: 129).
    Reply,
}

/// The facts of an ICMP or ICMPv6 echo packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Echo {
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// Request or reply.
    pub kind: EchoKind,
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub seq: u16,
}

/// The ICMP type of an echo of `kind` for the family of `v6`.
fn echo_type(kind: EchoKind, v6: bool) -> u8 {
    match (kind, v6) {
        (EchoKind::Request, false) => 8,
        (EchoKind::Reply, false) => 0,
        (EchoKind::Request, true) => 128,
        (EchoKind::Reply, true) => 129,
    }
}

/// The echo kind of ICMP type `t` in the family of `v6`.
fn echo_kind(t: u8, v6: bool) -> Option<EchoKind> {
    match (t, v6) {
        (8, false) | (128, true) => Some(EchoKind::Request),
        (0, false) | (129, true) => Some(EchoKind::Reply),
        _ => None,
    }
}

/// An echo packet from `src` to `dst` (both of one family): IPv4 with identification `seq`
/// and a header checksum, or IPv6; TTL / hop limit 64; the ICMP checksum (ICMPv6: over the
/// pseudo-header too, RFC 4443 §2.3).
fn build(
    src: IpAddr,
    dst: IpAddr,
    kind: EchoKind,
    id: u16,
    seq: u16,
    data: &[u8],
) -> Option<Vec<u8>> {
    let v6 = src.is_ipv6();
    let icmp_len = 8usize.checked_add(data.len())?;
    let opts = HeaderOptions {
        ttl: 64,
        ..HeaderOptions::default()
    };
    let protocol = if v6 {
        IpProtocol::ICMPV6
    } else {
        IpProtocol::ICMP
    };
    let ip = Repr::new(src, dst, protocol, icmp_len, &opts, seq).ok()?;
    let mut buf = vec![0u8; ip.buffer_len()];
    ip.emit(&mut buf).ok()?;
    let hl = ip.header_len();
    let body = buf.get_mut(hl..)?;
    let [i0, i1] = id.to_be_bytes();
    let [s0, s1] = seq.to_be_bytes();
    body.get_mut(..8)?
        .copy_from_slice(&[echo_type(kind, v6), 0, 0, 0, i0, i1, s0, s1]);
    body.get_mut(8..)?.copy_from_slice(data);
    let sum = if v6 {
        let start = checksum::pseudo_header(src, dst, protocol.0, u32::try_from(icmp_len).ok()?);
        checksum::finish(checksum::accumulate(start, body))
    } else {
        checksum::checksum(body)
    };
    body.get_mut(2..4)?.copy_from_slice(&sum.to_be_bytes());
    Some(buf)
}

/// The counting pattern of an echo request's data.
fn pattern(data_len: usize) -> Vec<u8> {
    (0..data_len).map(|i| (i % 251) as u8).collect()
}

/// An ICMP echo request from `src` to `dst` with `data_len` bytes of data (a counting
/// pattern), valid IPv4 and ICMP checksums, TTL 64.
pub fn echo_request(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    seq: u16,
    data_len: usize,
) -> Option<Vec<u8>> {
    build(
        src.into(),
        dst.into(),
        EchoKind::Request,
        id,
        seq,
        &pattern(data_len),
    )
}

/// An ICMPv6 echo request (type 128) from `src` to `dst` with `data_len` bytes of data (the
/// same counting pattern), hop limit 64, the ICMPv6 checksum over the pseudo-header.
pub fn echo_request_v6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    id: u16,
    seq: u16,
    data_len: usize,
) -> Option<Vec<u8>> {
    build(
        src.into(),
        dst.into(),
        EchoKind::Request,
        id,
        seq,
        &pattern(data_len),
    )
}

/// An echo request of the family of `src` and `dst`: [`echo_request`] or
/// [`echo_request_v6`]; `None` if they are of different families.
pub fn echo_request_ip(
    src: IpAddr,
    dst: IpAddr,
    id: u16,
    seq: u16,
    data_len: usize,
) -> Option<Vec<u8>> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => echo_request(s, d, id, seq, data_len),
        (IpAddr::V6(s), IpAddr::V6(d)) => echo_request_v6(s, d, id, seq, data_len),
        _ => None,
    }
}

/// Reads an ICMP echo request or reply in IPv4, or an ICMPv6 one in IPv6 (IP and ICMP
/// checksums verified; ICMPv6's with its pseudo-header). The ICMPv6 message must follow the
/// IPv6 header directly (no extension headers).
pub fn parse(packet: &[u8]) -> Option<Echo> {
    let (ip, payload) = Repr::parse(packet).ok()?;
    let v6 = matches!(ip, Repr::V6(_));
    let good = if v6 {
        let len = u32::try_from(payload.len()).ok()?;
        let start = checksum::pseudo_header(ip.src_addr(), ip.dst_addr(), 58, len);
        ip.protocol() == IpProtocol::ICMPV6
            && checksum::finish(checksum::accumulate(start, payload)) == 0
    } else {
        ip.protocol() == IpProtocol::ICMP && checksum::checksum(payload) == 0
    };
    if !good {
        return None;
    }
    let kind = echo_kind(*payload.first()?, v6)?;
    let id = u16::from_be_bytes([*payload.get(4)?, *payload.get(5)?]);
    let seq = u16::from_be_bytes([*payload.get(6)?, *payload.get(7)?]);
    Some(Echo {
        src: ip.src_addr(),
        dst: ip.dst_addr(),
        kind,
        id,
        seq,
    })
}

/// The echo reply answering an echo request (of either family).
pub fn reply_to(request: &[u8]) -> Option<Vec<u8>> {
    let e = parse(request)?;
    if e.kind != EchoKind::Request {
        return None;
    }
    let (_, payload) = Repr::parse(request).ok()?;
    build(
        e.dst,
        e.src,
        EchoKind::Reply,
        e.id,
        e.seq,
        payload.get(8..)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_echo_is_unchanged() {
        // The bytes the IPv4 echo had before ICMPv6 was added (other tests' pcaps and the
        // determinism test depend on them).
        let p = echo_request([192, 168, 1, 25].into(), [192, 168, 2, 37].into(), 1, 3, 4).unwrap();
        assert_eq!(
            p,
            [
                0x45, 0, 0, 32, 0, 3, 0, 0, 64, 1, 0xf6, 0x4b, 192, 168, 1, 25, 192, 168, 2, 37, 8,
                0, 0xf5, 0xf7, 0, 1, 0, 3, 0, 1, 2, 3
            ]
        );
        let r = reply_to(&p).unwrap();
        let e = parse(&r).unwrap();
        assert_eq!((e.kind, e.id, e.seq), (EchoKind::Reply, 1, 3));
        assert_eq!(
            (e.src, e.dst),
            (
                "192.168.2.37".parse().unwrap(),
                "192.168.1.25".parse().unwrap()
            )
        );
    }

    #[test]
    fn icmpv6_echo_request_and_reply() {
        let (a, b): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8:1::19".parse().unwrap(),
            "2001:db8:2::25".parse().unwrap(),
        );
        let p = echo_request_v6(a, b, 7, 9, 56).unwrap();
        assert_eq!(p.len(), 40 + 8 + 56);
        // IPv6, next header 58, hop limit 64; ICMPv6 type 128 code 0.
        assert_eq!((p[0] >> 4, p[6], p[7], p[40], p[41]), (6, 58, 64, 128, 0));
        let e = parse(&p).unwrap();
        assert_eq!(
            e,
            Echo {
                src: a.into(),
                dst: b.into(),
                kind: EchoKind::Request,
                id: 7,
                seq: 9
            }
        );
        let r = reply_to(&p).unwrap();
        assert_eq!((r[40], &r[48..]), (129, &p[48..]));
        let e = parse(&r).unwrap();
        assert_eq!(
            (e.src, e.dst, e.kind),
            (b.into(), a.into(), EchoKind::Reply)
        );
        assert!(reply_to(&r).is_none(), "a reply is not answered");
        assert_eq!(
            echo_request_ip(a.into(), b.into(), 7, 9, 56),
            Some(p.clone())
        );
        assert_eq!(
            echo_request_ip(a.into(), "192.0.2.1".parse().unwrap(), 7, 9, 56),
            None
        );
        // The checksum covers the pseudo-header: the same bytes to another address fail.
        let mut moved = p.clone();
        moved[39] ^= 1;
        assert_eq!(parse(&moved), None);
        // An ICMPv4 echo type in ICMPv6 is not an echo.
        let mut t8 = p;
        t8[40] = 8;
        assert_eq!(parse(&t8), None);
    }
}
