//! Overlay packets as they come from the caller's TUN device: what the forwarding decision needs.

use std::net::IpAddr;

use dmvpn_gre::Protocol;
use dmvpn_gre::wire::ip::Repr;
use ipnet::IpNet;

/// How an overlay packet is to be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// To one destination.
    Unicast,
    /// To a multicast group (IPv4 224.0.0.0/4, IPv6 ff00::/8): replicated to every multicast
    /// NBMA destination (`ip nhrp map multicast`).
    Multicast,
    /// To every host on the tunnel subnet (limited broadcast, or the subnet's broadcast
    /// address): replicated like multicast.
    Broadcast,
}

/// The facts about an overlay IP packet that forwarding uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlayPacket {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The GRE protocol type to carry it with.
    pub protocol: Protocol,
    /// Unicast, multicast or broadcast, relative to the tunnel subnet.
    pub cast: Cast,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

/// Errors classifying an overlay packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OverlayError {
    /// Not a valid IPv4/IPv6 packet.
    #[error("not a valid overlay IP packet: {0}")]
    Malformed(#[from] dmvpn_gre::Error),
}

impl OverlayPacket {
    /// Reads the IP header of an overlay packet (IPv4 header checksum verified) and classifies its
    /// destination relative to the tunnel subnet `subnet`.
    pub fn classify(bytes: &[u8], subnet: &IpNet) -> Result<OverlayPacket, OverlayError> {
        let (repr, _) = Repr::parse(bytes)?;
        let (src, dst) = (repr.src_addr(), repr.dst_addr());
        let (protocol, ttl) = match &repr {
            Repr::V4(r) => (Protocol::IPV4, r.ttl),
            Repr::V6(r) => (Protocol::IPV6, r.hop_limit),
        };
        let cast = match dst {
            d if d.is_multicast() => Cast::Multicast,
            IpAddr::V4(d) if d.is_broadcast() => Cast::Broadcast,
            IpAddr::V4(_) if matches!(subnet, IpNet::V4(n) if n.prefix_len() < 31 && IpAddr::V4(n.broadcast()) == dst) => {
                Cast::Broadcast
            }
            _ => Cast::Unicast,
        };
        Ok(OverlayPacket {
            src,
            dst,
            protocol,
            cast,
            ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use dmvpn_gre::wire::ip::{IpProtocol, OuterOptions};

    fn packet(src: &str, dst: &str) -> Vec<u8> {
        let r = Repr::new(
            src.parse().unwrap(),
            dst.parse().unwrap(),
            IpProtocol::ICMP,
            8,
            &OuterOptions::default(),
            1,
        )
        .unwrap();
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf).unwrap();
        buf
    }

    #[test]
    fn classification() {
        let subnet: IpNet = "10.0.0.11/24".parse().unwrap();
        let c = |s, d| {
            OverlayPacket::classify(&packet(s, d), &subnet)
                .unwrap()
                .cast
        };
        assert_eq!(c("192.168.1.25", "192.168.2.37"), Cast::Unicast);
        assert_eq!(c("10.0.0.11", "224.0.0.10"), Cast::Multicast); // EIGRP hellos
        assert_eq!(c("10.0.0.11", "10.0.0.255"), Cast::Broadcast);
        assert_eq!(c("10.0.0.11", "255.255.255.255"), Cast::Broadcast);
        let v6: IpNet = "fd00::11/64".parse().unwrap();
        let p = OverlayPacket::classify(&packet("fd00::11", "ff02::5"), &v6).unwrap();
        assert_eq!(
            (p.cast, p.protocol, p.ttl),
            (Cast::Multicast, Protocol::IPV6, 255)
        );
        let mut bad = packet("10.0.0.1", "10.0.0.2");
        bad[8] = 1; // TTL changed without fixing the checksum
        assert!(OverlayPacket::classify(&bad, &subnet).is_err());
        assert!(OverlayPacket::classify(&[], &subnet).is_err());
    }
}
