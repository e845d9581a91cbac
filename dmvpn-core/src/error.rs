//! Why a node refused a configuration or dropped an input.

use std::net::IpAddr;

use crate::config::ConfigError;

/// Errors of [`Node`](crate::Node). An input that returns an error was dropped and counted in
/// [`NodeStats`](crate::NodeStats); the node stays usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid (every problem is listed).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An NHRP machine refused its configuration or dropped a packet.
    #[error("NHRP: {0}")]
    Nhrp(#[from] dmvpn_nhrp::Error),
    /// GRE refused a packet (malformed, key mismatch, wrong peer, …) or could not build one.
    #[error("GRE: {0}")]
    Gre(#[from] dmvpn_gre::Error),
    /// An overlay packet is not a valid IPv4/IPv6 packet.
    #[error("malformed overlay packet: {0}")]
    MalformedOverlay(dmvpn_wire::Error),
    /// An underlay datagram is addressed to no tunnel source of this node.
    #[error("underlay datagram for {0}, which is no tunnel source of this node")]
    NotLocal(IpAddr),
    /// A GRE payload type this node does not carry.
    #[error("GRE protocol type {0:#06x} is not carried by DMVPN")]
    UnsupportedProtocol(u16),
    /// No route for an overlay destination.
    #[error("no route to {0}")]
    NoRoute(IpAddr),
    /// A route's next hop is on no tunnel subnet of this node.
    #[error("next hop {0} is on no tunnel interface")]
    NoTunnelFor(IpAddr),
    /// No NBMA address for a next hop, and no NHS to send through.
    #[error("no NHRP mapping for {0} and no NHS to send through")]
    NoMapping(IpAddr),
    /// A packet to forward had its TTL (hop limit) run out.
    #[error("TTL expired forwarding to {0}")]
    TtlExpired(IpAddr),
    /// Forwarding would send a packet back to where it came from.
    #[error("forwarding loop: {0} routes back to its sender")]
    Loop(IpAddr),
    /// A tunnelled packet's inner source does not route back through the peer it came from
    /// ([`TunnelConfig::verify_unicast_source`](crate::config::TunnelConfig::verify_unicast_source)).
    #[error("inner source {src} does not route back through NBMA peer {from}")]
    UnverifiedSource {
        /// The inner source address.
        src: IpAddr,
        /// The NBMA address the packet came from.
        from: IpAddr,
    },
    /// A packet larger than the effective MTU towards its peer that may not be fragmented
    /// (IPv4 with Don't Fragment, or IPv6): dropped, and answered with ICMP "fragmentation
    /// needed" / ICMPv6 "packet too big" carrying `mtu` (rate permitting).
    #[error("packet for {dst} exceeds the tunnel MTU {mtu}")]
    PacketTooBig {
        /// The packet's destination.
        dst: IpAddr,
        /// The effective MTU it had to fit.
        mtu: u16,
    },
    /// The output queue is full; the packet was dropped.
    #[error("output queue full ({0} entries)")]
    QueueFull(usize),
    /// A cleartext GRE packet arrived on a protected interface (`tunnel protection`): dropped.
    #[error("cleartext GRE from {0} on a protected interface")]
    Cleartext(IpAddr),
    /// A data packet for a peer of a protected interface that has no IPsec SA yet: dropped,
    /// never sent in clear.
    #[error("no IPsec SA with {0} yet")]
    NoSa(IpAddr),
    /// ESP refused a packet (unknown SPI, integrity, replay, policy) or could not protect one.
    #[error("ESP: {0}")]
    Esp(dmvpn_esp::Error),
    /// IKE refused a datagram.
    #[error("IKE: {0}")]
    Ike(dmvpn_ikev2::Error),
    /// An IKEv1 datagram was dropped.
    #[error("IKEv1: {0}")]
    Ikev1(dmvpn_ikev1::Error),
}
