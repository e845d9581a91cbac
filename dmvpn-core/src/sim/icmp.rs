//! ICMP echo over IPv4, enough to ping across the overlay.

use std::net::{IpAddr, Ipv4Addr};

use dmvpn_wire::ip::{HeaderOptions, IpProtocol, Repr};

/// Echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EchoKind {
    /// Type 8.
    Request,
    /// Type 0.
    Reply,
}

/// The facts of an ICMP echo packet.
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

fn build(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    kind: EchoKind,
    id: u16,
    seq: u16,
    data: &[u8],
) -> Option<Vec<u8>> {
    let icmp_len = 8usize.checked_add(data.len())?;
    let opts = HeaderOptions {
        ttl: 64,
        ..HeaderOptions::default()
    };
    let ip = Repr::new(
        src.into(),
        dst.into(),
        IpProtocol::ICMP,
        icmp_len,
        &opts,
        seq,
    )
    .ok()?;
    let mut buf = vec![0u8; ip.buffer_len()];
    ip.emit(&mut buf).ok()?;
    let hl = ip.header_len();
    let body = buf.get_mut(hl..)?;
    let t = match kind {
        EchoKind::Request => 8,
        EchoKind::Reply => 0,
    };
    let [i0, i1] = id.to_be_bytes();
    let [s0, s1] = seq.to_be_bytes();
    body.get_mut(..8)?
        .copy_from_slice(&[t, 0, 0, 0, i0, i1, s0, s1]);
    body.get_mut(8..)?.copy_from_slice(data);
    let [c0, c1] = dmvpn_wire::checksum::checksum(body).to_be_bytes();
    body.get_mut(2..4)?.copy_from_slice(&[c0, c1]);
    Some(buf)
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
    let data: Vec<u8> = (0..data_len).map(|i| (i % 251) as u8).collect();
    build(src, dst, EchoKind::Request, id, seq, &data)
}

/// Reads an ICMP echo request or reply (IP and ICMP checksums verified).
pub fn parse(packet: &[u8]) -> Option<Echo> {
    let (ip, payload) = Repr::parse(packet).ok()?;
    if ip.protocol() != IpProtocol::ICMP || dmvpn_wire::checksum::checksum(payload) != 0 {
        return None;
    }
    let kind = match payload.first()? {
        8 => EchoKind::Request,
        0 => EchoKind::Reply,
        _ => return None,
    };
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

/// The echo reply answering an echo request.
pub fn reply_to(request: &[u8]) -> Option<Vec<u8>> {
    let e = parse(request)?;
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (e.src, e.dst) else {
        return None;
    };
    if e.kind != EchoKind::Request {
        return None;
    }
    let (_, payload) = Repr::parse(request).ok()?;
    build(dst, src, EchoKind::Reply, e.id, e.seq, payload.get(8..)?)
}
