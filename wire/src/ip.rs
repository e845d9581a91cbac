//! IP of either family: the protocol number, a header [`Repr`] dispatched on the version nibble,
//! and the few reads and in-place edits a router makes on a packet it forwards.

use core::fmt;
use core::net::IpAddr;

use crate::{Error, checksum, ipv4, ipv6};

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

/// The fields of an IP header we build that do not come from the addresses or the payload
/// (for a tunnel: `tunnel ttl`, `tunnel tos`, `tunnel path-mtu-discovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderOptions {
    /// IPv4 TTL / IPv6 hop limit (IOS tunnels default to 255).
    pub ttl: u8,
    /// IPv4 DSCP/ECN byte or IPv6 traffic class.
    pub tos: u8,
    /// Set IPv4 don't-fragment. Ignored for IPv6.
    pub dont_fragment: bool,
    /// IPv6 flow label (20 bits). Ignored for IPv4.
    pub flow_label: u32,
}

impl Default for HeaderOptions {
    fn default() -> Self {
        HeaderOptions {
            ttl: 255,
            tos: 0,
            dont_fragment: false,
            flow_label: 0,
        }
    }
}

/// An IP header of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr {
    /// IPv4.
    V4(ipv4::Repr),
    /// IPv6.
    V6(ipv6::Repr),
}

impl Repr {
    /// A header from `src` to `dst` carrying `protocol`. IPv4 gets identification `ident`; both
    /// families take TTL, TOS and (IPv4) DF or (IPv6) flow label from `opts`.
    #[inline]
    pub fn new(
        src: IpAddr,
        dst: IpAddr,
        protocol: IpProtocol,
        payload_len: usize,
        opts: &HeaderOptions,
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
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<(Repr, &[u8]), Error> {
        match version(bytes) {
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
    #[inline]
    pub fn src_addr(&self) -> IpAddr {
        match self {
            Repr::V4(r) => r.src_addr.into(),
            Repr::V6(r) => r.src_addr.into(),
        }
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> IpAddr {
        match self {
            Repr::V4(r) => r.dst_addr.into(),
            Repr::V6(r) => r.dst_addr.into(),
        }
    }

    /// The payload protocol (IPv6: the first next header).
    #[inline]
    pub fn protocol(&self) -> IpProtocol {
        match self {
            Repr::V4(r) => r.protocol,
            Repr::V6(r) => r.next_header,
        }
    }

    /// Payload length.
    #[inline]
    pub fn payload_len(&self) -> usize {
        match self {
            Repr::V4(r) => r.payload_len,
            Repr::V6(r) => r.payload_len,
        }
    }

    /// Header length.
    #[inline]
    pub fn header_len(&self) -> usize {
        match self {
            Repr::V4(r) => r.header_len(),
            Repr::V6(r) => r.header_len(),
        }
    }

    /// Header plus payload.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len()
    }

    /// Writes the header into the start of `buf` (the payload, after it, is left alone).
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        match self {
            Repr::V4(r) => r.emit(&mut ipv4::Packet::new_unchecked(buf)),
            Repr::V6(r) => r.emit(&mut ipv6::Packet::new_unchecked(buf)),
        }
    }
}

/// The version nibble of a packet (`None` for an empty buffer).
#[inline]
pub fn version(packet: &[u8]) -> Option<u8> {
    packet.first().map(|b| b >> 4)
}

/// The source address of an IPv4 or IPv6 packet (or of the start of one quoted in an error),
/// read without validating anything else; `None` if the buffer is too short for it or the
/// version is neither 4 nor 6.
pub fn source(packet: &[u8]) -> Option<IpAddr> {
    match version(packet) {
        Some(4) => Some(
            ipv4::Packet::new_unchecked(packet.get(..ipv4::MIN_HEADER_LEN)?)
                .src_addr()
                .into(),
        ),
        Some(6) => Some(
            ipv6::Packet::new_unchecked(packet.get(..ipv6::HEADER_LEN)?)
                .src_addr()
                .into(),
        ),
        _ => None,
    }
}

/// The destination address of an IPv4 or IPv6 packet, read as [`source`] reads the source.
pub fn destination(packet: &[u8]) -> Option<IpAddr> {
    match version(packet) {
        Some(4) => Some(
            ipv4::Packet::new_unchecked(packet.get(..ipv4::MIN_HEADER_LEN)?)
                .dst_addr()
                .into(),
        ),
        Some(6) => Some(
            ipv6::Packet::new_unchecked(packet.get(..ipv6::HEADER_LEN)?)
                .dst_addr()
                .into(),
        ),
        _ => None,
    }
}

/// Decrements the IPv4 TTL or IPv6 hop limit of a packet being forwarded, updating the IPv4
/// header checksum incrementally (RFC 1624 eqn. 3, as RFC 1812 §5.3.1 allows). Returns `false`,
/// leaving the packet alone, when the TTL would reach zero (the packet must be dropped, RFC 1812
/// §5.2.7.1 / RFC 8200 §3) or the buffer holds no IPv4/IPv6 header.
pub fn decrement_ttl(packet: &mut [u8]) -> bool {
    match version(packet) {
        Some(4) => {
            let Some(header) = packet.get_mut(..ipv4::MIN_HEADER_LEN) else {
                return false;
            };
            let mut p = ipv4::Packet::new_unchecked(header);
            let ttl = p.ttl();
            if ttl <= 1 {
                return false;
            }
            let proto = p.protocol().0;
            let old = u16::from_be_bytes([ttl, proto]);
            let new = u16::from_be_bytes([ttl - 1, proto]);
            let sum = checksum::update(p.checksum(), old, new);
            p.set_ttl(ttl - 1);
            p.set_checksum(sum);
            true
        }
        Some(6) => {
            let Some(header) = packet.get_mut(..ipv6::HEADER_LEN) else {
                return false;
            };
            let mut p = ipv6::Packet::new_unchecked(header);
            let hops = p.hop_limit();
            if hops <= 1 {
                return false;
            }
            p.set_hop_limit(hops - 1);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    fn v4_packet(ttl: u8) -> Vec<u8> {
        let r = ipv4::Repr {
            ttl,
            ..ipv4::Repr::new(
                Ipv4Addr::new(192, 168, 1, 25),
                Ipv4Addr::new(192, 168, 2, 37),
                IpProtocol::ICMP,
                4,
            )
        };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        buf
    }

    #[test]
    fn addresses_of_both_families() {
        let p = v4_packet(64);
        assert_eq!(source(&p), Some(IpAddr::from([192, 168, 1, 25])));
        assert_eq!(destination(&p), Some(IpAddr::from([192, 168, 2, 37])));
        assert_eq!(source(&p[..19]), None);
        let s = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let d = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
        let r = ipv6::Repr::new(s, d, IpProtocol::ICMPV6, 0);
        let mut buf = vec![0u8; 40];
        r.emit(&mut ipv6::Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(source(&buf), Some(s.into()));
        assert_eq!(destination(&buf), Some(d.into()));
        assert_eq!(destination(&buf[..39]), None);
        assert_eq!(source(&[0x55; 40]), None);
        assert_eq!(source(&[]), None);
    }

    #[test]
    fn ttl_decrement_keeps_the_checksum_valid() {
        for ttl in [2u8, 64, 255] {
            let mut p = v4_packet(ttl);
            assert!(decrement_ttl(&mut p));
            assert_eq!(p[8], ttl - 1);
            assert_eq!(checksum::checksum(&p[..20]), 0, "ttl {ttl}");
        }
        let mut last = v4_packet(1);
        let before = last.clone();
        assert!(!decrement_ttl(&mut last));
        assert_eq!(last, before);
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 58, 2];
        v6.resize(40, 0);
        assert!(decrement_ttl(&mut v6));
        assert_eq!(v6[7], 1);
        assert!(!decrement_ttl(&mut v6));
        assert!(!decrement_ttl(&mut [0x45; 10]));
    }

    #[test]
    fn errors() {
        let v4 = IpAddr::from(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::from(Ipv6Addr::LOCALHOST);
        assert_eq!(
            Repr::new(v4, v6, IpProtocol::GRE, 0, &HeaderOptions::default(), 0),
            Err(Error::FamilyMismatch(v4, v6))
        );
        assert_eq!(Repr::parse(&[0x55]).unwrap_err(), Error::IpVersion(5));
        assert_eq!(
            Repr::parse(&[]).unwrap_err(),
            Error::Truncated { needed: 1, got: 0 }
        );
        assert_eq!(
            Repr::parse(&[0x45, 0, 0]).unwrap_err(),
            Error::Truncated { needed: 20, got: 3 }
        );
    }

    pub(crate) fn arb_v4() -> impl Strategy<Value = ipv4::Repr> {
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

    pub(crate) fn arb_v6() -> impl Strategy<Value = ipv6::Repr> {
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
        fn ttl_decrement_matches_a_full_recompute(repr in arb_v4()) {
            let mut buf = vec![0u8; repr.buffer_len()];
            Repr::V4(repr).emit(&mut buf).unwrap();
            if decrement_ttl(&mut buf) {
                let p = ipv4::Packet::new_checked(&buf[..]).unwrap();
                prop_assert_eq!(p.checksum(), p.compute_checksum());
                prop_assert_eq!(p.ttl(), repr.ttl - 1);
            } else {
                prop_assert!(repr.ttl <= 1);
            }
        }

        #[test]
        fn ip_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = Repr::parse(&bytes);
            let _ = (source(&bytes), destination(&bytes));
            let mut copy = bytes.clone();
            let _ = decrement_ttl(&mut copy);
            let v4 = ipv4::Packet::new_unchecked(&bytes[..]);
            let _ = (v4.payload(), v4.options(), v4.compute_checksum(), v4.src_addr());
            let v6 = ipv6::Packet::new_unchecked(&bytes[..]);
            let _ = (v6.payload(), v6.dst_addr(), v6.flow_label());
        }
    }
}
