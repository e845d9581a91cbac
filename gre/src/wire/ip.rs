//! GRE-in-IP: the outer IPv4 or IPv6 header, dispatched on the version nibble.
//!
//! mGRE has one local endpoint and many remote ones, so the outer header is built per packet
//! from a source, a destination and a few [`OuterOptions`].

use core::fmt;
use core::net::IpAddr;

use super::{gre, ipv4, ipv6};
use crate::Error;

/// An IP protocol number (IPv4 protocol / IPv6 next header). Open: any value parses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// ICMP.
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// TCP.
    pub const TCP: IpProtocol = IpProtocol(6);
    /// UDP.
    pub const UDP: IpProtocol = IpProtocol(17);
    /// GRE (RFC 2784).
    pub const GRE: IpProtocol = IpProtocol(47);
    /// ESP (RFC 4303).
    pub const ESP: IpProtocol = IpProtocol(50);
    /// AH.
    pub const AH: IpProtocol = IpProtocol(51);
    /// ICMPv6.
    pub const ICMPV6: IpProtocol = IpProtocol(58);
}

impl fmt::Debug for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpProtocol({})", self.0)
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Options for the outer header of tunnelled packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OuterOptions {
    /// IPv4 TTL / IPv6 hop limit (`tunnel ttl`; IOS defaults to 255).
    pub ttl: u8,
    /// IPv4 DSCP/ECN byte or IPv6 traffic class (`tunnel tos`).
    pub tos: u8,
    /// Set IPv4 don't-fragment (`tunnel path-mtu-discovery`). Ignored for IPv6.
    pub dont_fragment: bool,
    /// IPv6 flow label (20 bits). Ignored for IPv4.
    pub flow_label: u32,
}

impl Default for OuterOptions {
    fn default() -> Self {
        OuterOptions {
            ttl: 255,
            tos: 0,
            dont_fragment: false,
            flow_label: 0,
        }
    }
}

/// An outer IP header of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr {
    /// IPv4.
    V4(ipv4::Repr),
    /// IPv6.
    V6(ipv6::Repr),
}

impl Repr {
    /// An outer header from `src` to `dst` carrying `protocol`. IPv4 gets identification
    /// `ident`; both families take TTL, TOS and (IPv4) DF or (IPv6) flow label from `opts`.
    pub fn new(
        src: IpAddr,
        dst: IpAddr,
        protocol: IpProtocol,
        payload_len: usize,
        opts: &OuterOptions,
        ident: u16,
    ) -> Result<Repr, Error> {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Ok(Repr::V4(ipv4::Repr {
                ttl: opts.ttl,
                dscp_ecn: opts.tos,
                dont_fragment: opts.dont_fragment,
                identification: ident,
                ..ipv4::Repr::new(s, d, protocol, payload_len)
            })),
            (IpAddr::V6(s), IpAddr::V6(d)) => Ok(Repr::V6(ipv6::Repr {
                hop_limit: opts.ttl,
                traffic_class: opts.tos,
                flow_label: opts.flow_label,
                ..ipv6::Repr::new(s, d, protocol, payload_len)
            })),
            _ => Err(Error::FamilyMismatch(src, dst)),
        }
    }

    /// Parses an IPv4 or IPv6 packet (by its version nibble), returning the header and the payload
    /// (a slice of `bytes`, trimmed to the IP length; link-layer padding is excluded).
    pub fn parse(bytes: &[u8]) -> Result<(Repr, &[u8]), Error> {
        match bytes.first().map(|b| b >> 4) {
            Some(4) => {
                let p = ipv4::Packet::new_checked(bytes)?;
                Ok((Repr::V4(ipv4::Repr::parse(&p)?), p.into_payload()))
            }
            Some(6) => {
                let p = ipv6::Packet::new_checked(bytes)?;
                Ok((Repr::V6(ipv6::Repr::parse(&p)?), p.into_payload()))
            }
            Some(v) => Err(Error::IpVersion(v)),
            None => Err(Error::Truncated { needed: 1, got: 0 }),
        }
    }

    /// Source address.
    pub fn src_addr(&self) -> IpAddr {
        match self {
            Repr::V4(r) => r.src_addr.into(),
            Repr::V6(r) => r.src_addr.into(),
        }
    }

    /// Destination address.
    pub fn dst_addr(&self) -> IpAddr {
        match self {
            Repr::V4(r) => r.dst_addr.into(),
            Repr::V6(r) => r.dst_addr.into(),
        }
    }

    /// The payload protocol (IPv6: the first next header).
    pub fn protocol(&self) -> IpProtocol {
        match self {
            Repr::V4(r) => r.protocol,
            Repr::V6(r) => r.next_header,
        }
    }

    /// Payload length.
    pub fn payload_len(&self) -> usize {
        match self {
            Repr::V4(r) => r.payload_len,
            Repr::V6(r) => r.payload_len,
        }
    }

    /// Header length.
    pub fn header_len(&self) -> usize {
        match self {
            Repr::V4(r) => r.header_len(),
            Repr::V6(r) => r.header_len(),
        }
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len()
    }

    /// Writes the header into the start of `buf` (the payload, after it, is left alone).
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        match self {
            Repr::V4(r) => r.emit(&mut ipv4::Packet::new_unchecked(buf)),
            Repr::V6(r) => r.emit(&mut ipv6::Packet::new_unchecked(buf)),
        }
    }
}

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
        return Err(Error::IpLength(outer.payload_len()));
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
pub fn decapsulate(bytes: &[u8]) -> Result<(Repr, gre::Repr, &[u8]), Error> {
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
    let (gre, payload) = gre::decapsulate(ip_payload)?;
    Ok((outer, gre, payload))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::checksum;
    use core::net::{Ipv4Addr, Ipv6Addr};
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
            Err(Error::Ipv4Checksum { .. })
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
        let opts = OuterOptions {
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
        let v4 = IpAddr::from(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::from(Ipv6Addr::LOCALHOST);
        assert_eq!(
            Repr::new(v4, v6, IpProtocol::GRE, 0, &OuterOptions::default(), 0),
            Err(Error::FamilyMismatch(v4, v6))
        );
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
        assert_eq!(Repr::parse(&[0x55]).unwrap_err(), Error::IpVersion(5));
        assert_eq!(
            Repr::parse(&[0x45, 0, 0]).unwrap_err(),
            Error::Truncated { needed: 20, got: 3 }
        );
    }

    fn arb_v4() -> impl Strategy<Value = ipv4::Repr> {
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u8>(),
            any::<(u8, u8, u16, bool, bool)>(),
            0u16..0x2000,
            (0usize..=10).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 4)),
            0usize..200,
        )
            .prop_map(
                |(s, d, p, (ttl, tos, id, df, mf), off, opts, payload_len)| ipv4::Repr {
                    src_addr: s.into(),
                    dst_addr: d.into(),
                    protocol: IpProtocol(p),
                    ttl,
                    dscp_ecn: tos,
                    identification: id,
                    dont_fragment: df,
                    more_fragments: mf,
                    fragment_offset: off << 3,
                    options: ipv4::Options::new(&opts).unwrap(),
                    payload_len,
                },
            )
    }

    fn arb_v6() -> impl Strategy<Value = ipv6::Repr> {
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<(u8, u8, u8)>(),
            0u32..0x10_0000,
            0usize..200,
        )
            .prop_map(|(s, d, (nh, hl, tc), fl, payload_len)| ipv6::Repr {
                src_addr: s.into(),
                dst_addr: d.into(),
                next_header: IpProtocol(nh),
                hop_limit: hl,
                traffic_class: tc,
                flow_label: fl,
                payload_len,
            })
    }

    proptest! {
        #[test]
        fn roundtrip_ip(repr in prop_oneof![arb_v4().prop_map(Repr::V4), arb_v6().prop_map(Repr::V6)]) {
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut buf).unwrap();
            let (parsed, payload) = Repr::parse(&buf).unwrap();
            prop_assert_eq!(parsed, repr);
            prop_assert_eq!(payload.len(), repr.payload_len());
        }

        #[test]
        fn roundtrip_gre_in_ip(g in gre::tests::arb_repr(), v6 in any::<bool>(), fill in any::<u8>()) {
            let (src, dst): (IpAddr, IpAddr) = if v6 {
                (Ipv6Addr::LOCALHOST.into(), Ipv6Addr::UNSPECIFIED.into())
            } else {
                (Ipv4Addr::new(10, 0, 0, 1).into(), Ipv4Addr::new(10, 0, 0, 2).into())
            };
            let outer = Repr::new(src, dst, IpProtocol::GRE, g.buffer_len(), &OuterOptions::default(), 7).unwrap();
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
            let v4 = ipv4::Packet::new_unchecked(&bytes[..]);
            let _ = (v4.payload(), v4.options(), v4.compute_checksum(), v4.src_addr());
            let v6 = ipv6::Packet::new_unchecked(&bytes[..]);
            let _ = (v6.payload(), v6.dst_addr(), v6.flow_label());
        }
    }
}
