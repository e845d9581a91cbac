//! GRE-in-IP: an outer IPv4 or IPv6 header ([`dmvpn_wire::ip::Repr`]) carrying GRE.
//!
//! mGRE has one local endpoint and many remote ones, so the outer header is built per packet
//! from a source, a destination and a few [`HeaderOptions`](dmvpn_wire::HeaderOptions).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dmvpn_wire::ip::{IpProtocol, Repr};
use dmvpn_wire::{ipv4, ipv6};

use super::gre;
use crate::Error;

/// Header bytes GRE-in-IP adds for this family and these GRE options: the outer IP header
/// (without IPv4 options) plus the GRE header.
pub const fn overhead(ipv6: bool, gre: &gre::Repr) -> usize {
    (if ipv6 {
        ipv6::HEADER_LEN
    } else {
        ipv4::MIN_HEADER_LEN
    }) + gre.header_len()
}

/// Writes an outer IP header and a GRE header in front of the payload already at
/// `buf[headroom..headroom + gre.payload_len]`, and returns the whole IP packet as a slice of
/// `buf`. No copy of the payload, no allocation.
#[inline]
pub fn encapsulate<'a>(
    outer: &Repr,
    gre: &gre::Repr,
    buf: &'a mut [u8],
    headroom: usize,
) -> Result<&'a mut [u8], Error> {
    let ip_hlen = outer.header_len();
    let need = ip_hlen + gre.header_len();
    let start = headroom.checked_sub(need).ok_or(Error::BufferTooSmall {
        needed: need,
        got: headroom,
    })?;
    if outer.payload_len() != gre.buffer_len() {
        return Err(Error::Ip(dmvpn_wire::Error::IpLength(outer.payload_len())));
    }
    if outer.protocol() != IpProtocol::GRE {
        return Err(Error::NotGre(outer.protocol().0));
    }
    let end = headroom.saturating_add(gre.payload_len);
    let got = buf.len();
    let out = buf
        .get_mut(start..end)
        .ok_or(Error::BufferTooSmall { needed: end, got })?;
    // GRE first (its checksum covers only GRE header + payload), then the IP header.
    let (ip_part, gre_part) = out.split_at_mut(ip_hlen);
    gre.emit(&mut gre::Packet::new_unchecked(gre_part))?;
    outer.emit(ip_part)?;
    Ok(out)
}

/// Parses an outer IPv4/IPv6 header carrying GRE, then the GRE header, returning both headers
/// and the GRE payload (a slice of `bytes`). IPv4 fragments are refused with
/// [`Error::Fragment`]: reassemble first.
#[inline]
pub fn decapsulate(bytes: &[u8]) -> Result<(Repr, gre::Repr, &[u8]), Error> {
    let (outer, ip_payload) = outer_header(bytes)?;
    let (gre, payload) = gre::decapsulate(ip_payload)?;
    Ok((outer, gre, payload))
}

/// Parses the outer IPv4/IPv6 header of a GRE-in-IP packet and returns it with the GRE packet
/// it carries (not yet parsed): refuses IPv4 fragments ([`Error::Fragment`]) and other protocols
/// ([`Error::NotGre`]).
#[inline]
pub fn outer_header(bytes: &[u8]) -> Result<(Repr, &[u8]), Error> {
    let (outer, ip_payload) = Repr::parse(bytes)?;
    if let Repr::V4(r) = &outer
        && r.is_fragment()
    {
        return Err(Error::Fragment {
            offset: r.fragment_offset,
            more: r.more_fragments,
        });
    }
    if outer.protocol() != IpProtocol::GRE {
        return Err(Error::NotGre(outer.protocol().0));
    }
    Ok((outer, ip_payload))
}

/// An address as one 128-bit integer and its family (crate-internal: the tunnel's peer key and
/// the receive path's outer addresses).
///
/// `IpAddr` is 17 bytes with its address at an odd offset: hashing or comparing a copy of one
/// just made on the stack reads 8 bytes across the copy's 16-byte store, which the store buffer
/// cannot forward (a stall that was most of a tunnel lookup's time). This one is built once per
/// packet, 16-byte aligned. Its hash is the address bits only; the family takes part in
/// equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerKey {
    pub(crate) bits: u128,
    pub(crate) v6: bool,
}

impl PeerKey {
    /// The key of an address.
    #[inline]
    pub(crate) fn of(addr: IpAddr) -> PeerKey {
        match addr {
            IpAddr::V4(a) => PeerKey::v4(a),
            IpAddr::V6(a) => PeerKey::v6(a),
        }
    }

    #[inline]
    fn v4(a: Ipv4Addr) -> PeerKey {
        PeerKey {
            bits: u128::from(a.to_bits()),
            v6: false,
        }
    }

    #[inline]
    fn v6(a: Ipv6Addr) -> PeerKey {
        PeerKey {
            bits: a.to_bits(),
            v6: true,
        }
    }

    /// The address back.
    #[inline]
    pub(crate) fn addr(self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from_bits(self.bits))
        } else {
            IpAddr::V4(Ipv4Addr::from_bits(self.bits as u32))
        }
    }
}

impl core::hash::Hash for PeerKey {
    #[inline]
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.bits);
    }
}

/// The checks of [`outer_header`], with the same errors in the same order, returning only the
/// outer source and destination and the GRE packet: the addresses are read from the packet,
/// without building a [`Repr`] (the tunnel's receive path needs nothing else).
#[inline]
pub fn outer_addresses(bytes: &[u8]) -> Result<(IpAddr, IpAddr, &[u8]), Error> {
    outer_keys(bytes).map(|(s, d, p)| (s.addr(), d.addr(), p))
}

/// [`outer_addresses`] with the addresses as keys.
#[inline]
pub(crate) fn outer_keys(bytes: &[u8]) -> Result<(PeerKey, PeerKey, &[u8]), Error> {
    match dmvpn_wire::ip::version(bytes) {
        Some(4) => {
            let p = ipv4::Packet::new_checked(bytes)?;
            p.verify_checksum()?;
            if p.more_fragments() || p.fragment_offset() != 0 {
                return Err(Error::Fragment {
                    offset: p.fragment_offset(),
                    more: p.more_fragments(),
                });
            }
            if p.protocol() != IpProtocol::GRE {
                return Err(Error::NotGre(p.protocol().0));
            }
            let (src, dst) = (PeerKey::v4(p.src_addr()), PeerKey::v4(p.dst_addr()));
            Ok((src, dst, p.into_payload()))
        }
        Some(6) => {
            let p = ipv6::Packet::new_checked(bytes)?;
            if p.next_header() != IpProtocol::GRE {
                return Err(Error::NotGre(p.next_header().0));
            }
            let (src, dst) = (PeerKey::v6(p.src_addr()), PeerKey::v6(p.dst_addr()));
            Ok((src, dst, p.into_payload()))
        }
        Some(v) => Err(Error::Ip(dmvpn_wire::Error::IpVersion(v))),
        None => Err(Error::Ip(dmvpn_wire::Error::Truncated {
            needed: 1,
            got: 0,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use dmvpn_wire::HeaderOptions;
    use dmvpn_wire::checksum;
    use gre::Protocol;
    use proptest::prelude::*;

    /// gre-tunnel-with-key.pcapng frame 1, from the IP header on (Ethernet stripped).
    pub(crate) const KEYED_FRAME: &str = "4500008000050000ff2f21f6c0a80c01c0a80c02200008000000000145000064045f0000fe01331ec0a80165c0a80266080084b90009000000000000004df93aabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn capture_frame_roundtrips() {
        let bytes = hex(KEYED_FRAME);
        let (outer, g, payload) = decapsulate(&bytes).unwrap();
        assert_eq!(outer.src_addr(), IpAddr::from([192, 168, 12, 1]));
        assert_eq!(outer.dst_addr(), IpAddr::from([192, 168, 12, 2]));
        assert_eq!(g.key, Some(1));
        assert_eq!(payload.len(), 100);
        let mut again = bytes.clone();
        let out = encapsulate(&outer, &g, &mut again, outer.header_len() + g.header_len()).unwrap();
        assert_eq!(&out[..], &bytes[..]);
    }

    #[test]
    fn ipv4_checksum_and_padding() {
        let mut bytes = hex(KEYED_FRAME);
        bytes.extend_from_slice(&[0xee; 6]); // link-layer padding is ignored
        let (outer, _, payload) = decapsulate(&bytes).unwrap();
        assert_eq!(outer.payload_len(), 108);
        assert_eq!(payload.len(), 100);
        assert_eq!(checksum::checksum(&bytes[..20]), 0);
        bytes[8] = 9; // TTL changed: header checksum no longer matches
        assert!(matches!(
            decapsulate(&bytes),
            Err(Error::Ip(dmvpn_wire::Error::Ipv4Checksum { .. }))
        ));
    }

    #[test]
    fn ipv6_outer() {
        let src = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let dst = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
        let g = gre::Repr {
            key: Some(42),
            ..gre::Repr::new(Protocol::NHRP, 3)
        };
        let opts = HeaderOptions {
            ttl: 64,
            tos: 0xb8,
            flow_label: 0x12345,
            ..Default::default()
        };
        let outer = Repr::new(
            src.into(),
            dst.into(),
            IpProtocol::GRE,
            g.buffer_len(),
            &opts,
            0,
        )
        .unwrap();
        let mut buf = vec![0u8; 100];
        let head = overhead(true, &g);
        buf[head..head + 3].copy_from_slice(b"abc");
        let out = encapsulate(&outer, &g, &mut buf, head).unwrap().to_vec();
        assert_eq!(out.len(), 40 + 8 + 3);
        let (o2, g2, p) = decapsulate(&out).unwrap();
        assert_eq!((o2, g2, p), (outer, g, &b"abc"[..]));
        match o2 {
            Repr::V6(r) => assert_eq!(
                (r.hop_limit, r.traffic_class, r.flow_label),
                (64, 0xb8, 0x12345)
            ),
            Repr::V4(_) => unreachable!(),
        }
    }

    #[test]
    fn errors() {
        let mut frag = hex(KEYED_FRAME);
        frag[6] = 0x20; // MF
        let c = {
            frag[10] = 0;
            frag[11] = 0;
            checksum::checksum(&frag[..20])
        };
        frag[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            decapsulate(&frag).unwrap_err(),
            Error::Fragment {
                offset: 0,
                more: true
            }
        );
        assert_eq!(
            decapsulate(&[0x55]).unwrap_err(),
            Error::Ip(dmvpn_wire::Error::IpVersion(5))
        );
    }

    proptest! {

        #[test]
        fn roundtrip_gre_in_ip(g in gre::tests::arb_repr(), v6 in any::<bool>(), fill in any::<u8>()) {
            let (src, dst): (IpAddr, IpAddr) = if v6 {
                (Ipv6Addr::LOCALHOST.into(), Ipv6Addr::UNSPECIFIED.into())
            } else {
                (Ipv4Addr::new(10, 0, 0, 1).into(), Ipv4Addr::new(10, 0, 0, 2).into())
            };
            let outer = Repr::new(src, dst, IpProtocol::GRE, g.buffer_len(), &HeaderOptions::default(), 7).unwrap();
            let head = overhead(v6, &g);
            let mut buf = vec![fill; head + g.payload_len];
            let out = encapsulate(&outer, &g, &mut buf, head).unwrap();
            let (o2, g2, p) = decapsulate(out).unwrap();
            prop_assert_eq!(o2, outer);
            prop_assert_eq!(g2, g);
            prop_assert_eq!(p.len(), g.payload_len);
        }

        #[test]
        fn ip_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = decapsulate(&bytes);
            // The lean receive path agrees with the full parse, errors included.
            let full = outer_header(&bytes).map(|(r, p)| (r.src_addr(), r.dst_addr(), p));
            prop_assert_eq!(outer_addresses(&bytes), full);
            let v4 = ipv4::Packet::new_unchecked(&bytes[..]);
            let _ = (v4.payload(), v4.options(), v4.compute_checksum(), v4.src_addr());
            let v6 = ipv6::Packet::new_unchecked(&bytes[..]);
            let _ = (v6.payload(), v6.dst_addr(), v6.flow_label());
        }
    }
}
