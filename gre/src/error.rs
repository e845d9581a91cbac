//! The crate's error type.

use core::net::IpAddr;

/// Everything that can go wrong parsing, building or receiving GRE.
///
/// Parse errors say what was wrong with the bytes; [`Tunnel`](crate::Tunnel) receive errors say
/// why a packet was dropped (each one is also counted, see [`DropReason`](crate::DropReason)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the header (or the length fields) say it must be.
    #[error("truncated: need {needed} bytes, got {got}")]
    Truncated {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// An output buffer is too small for what is to be written into it.
    #[error("buffer too small: need {needed} bytes, got {got}")]
    BufferTooSmall {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// GRE version other than 0 (RFC 2784 §2.3.1; version 1 is PPTP's enhanced GRE).
    #[error("unsupported GRE version {0} (only version 0, RFC 2784, is supported)")]
    UnsupportedVersion(u8),
    /// The RFC 1701 routing-present bit is set (RFC 2784 §2.5 requires such packets be discarded).
    #[error(
        "GRE routing present bit set (RFC 1701 source routing is not supported, RFC 2784 §2.5)"
    )]
    RoutingPresent,
    /// The RFC 1701 strict-source-route or recursion-control bits are set (RFC 2784 §2.5: bits
    /// 1–5 must be zero).
    #[error(
        "GRE RFC 1701 flags set (strict source route / recursion control: {0:#06x}); RFC 2784 §2.5 requires discard"
    )]
    Rfc1701Flags(u16),
    /// The GRE checksum does not match the packet's contents.
    #[error(
        "GRE checksum mismatch: packet carries {received:#06x}, contents sum to {computed:#06x}"
    )]
    GreChecksum {
        /// The checksum carried in the packet.
        received: u16,
        /// The checksum computed over the packet with the field zeroed.
        computed: u16,
    },
    /// The packet is an IPv4 fragment; GRE can only be read from a reassembled packet.
    #[error(
        "IPv4 fragment (offset {offset}, more fragments {more}); reassemble before decapsulating"
    )]
    Fragment {
        /// Fragment offset in bytes.
        offset: u16,
        /// The more-fragments flag.
        more: bool,
    },
    /// The outer IP header does not carry GRE (protocol 47).
    #[error("outer IP protocol {0} is not GRE (47)")]
    NotGre(u8),
    /// Outer source and destination addresses are of different families.
    #[error("address family mismatch between {0} and {1}")]
    FamilyMismatch(IpAddr, IpAddr),

    /// The outer IPv4/IPv6 header is malformed or cannot be built.
    #[error("outer IP header: {0}")]
    Ip(#[from] dmvpn_wire::Error),
    /// The payload is too long for the GRE-in-IP length fields.
    #[error("payload of {0} bytes does not fit the IP length field")]
    TooLong(usize),

    /// A received packet's key differs from the tunnel's (or one of them has none).
    #[error("GRE key mismatch: tunnel expects {expected:?}, packet carries {received:?}")]
    KeyMismatch {
        /// The tunnel's configured key.
        expected: Option<u32>,
        /// The packet's key.
        received: Option<u32>,
    },
    /// The tunnel requires checksums and the packet has none.
    #[error("GRE checksum required by the tunnel but absent")]
    ChecksumMissing,
    /// The tunnel uses sequence numbers and the packet has none.
    #[error("GRE sequence number required by the tunnel but absent")]
    SequenceMissing,
    /// Duplicate or out-of-order sequence number (RFC 2890 §2.2).
    #[error("GRE sequence number {received} is not after {last} (duplicate or out of order)")]
    OutOfOrder {
        /// The last in-order sequence number accepted from this peer.
        last: u32,
        /// The sequence number received.
        received: u32,
    },
    /// Point-to-point tunnel: the packet is from (or to) an endpoint other than the configured one.
    #[error("{0} is not this point-to-point tunnel's remote endpoint")]
    WrongPeer(IpAddr),
    /// The outer destination is not the tunnel's local endpoint.
    #[error("outer destination {0} is not the tunnel's local endpoint")]
    NotLocal(IpAddr),
    /// The per-peer table is full and this packet needs per-peer state (sequencing).
    #[error("peer table full ({0} peers); {1} not admitted")]
    PeerLimit(usize, IpAddr),
    /// Invalid tunnel configuration.
    #[error("invalid tunnel configuration: {0}")]
    Config(&'static str),
}
