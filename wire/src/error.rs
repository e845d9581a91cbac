//! The crate's error type.

use core::net::IpAddr;

/// What was wrong with an IP, UDP or ICMP header being parsed or built.
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
    /// The IP version nibble is neither 4 nor 6, or does not match the header kind expected.
    #[error("unexpected IP version {0}")]
    IpVersion(u8),
    /// The IPv4 header length (IHL) is below 5 words or beyond the packet.
    #[error("bad IPv4 header length {0} (in 32-bit words)")]
    Ipv4HeaderLen(u8),
    /// The IP length field is inconsistent with the header.
    #[error("bad IP length field {0}")]
    IpLength(usize),
    /// The IPv4 header checksum does not match the header.
    #[error(
        "IPv4 header checksum mismatch: packet carries {received:#06x}, header sums to {computed:#06x}"
    )]
    Ipv4Checksum {
        /// The checksum carried in the header.
        received: u16,
        /// The checksum computed with the field zeroed.
        computed: u16,
    },
    /// IPv4 options longer than 40 bytes or not a multiple of 4.
    #[error("IPv4 options must be at most 40 bytes and a multiple of 4, got {0}")]
    Ipv4Options(usize),
    /// An IPv6 flow label wider than its 20 bits.
    #[error("IPv6 flow label {0:#x} does not fit in 20 bits")]
    FlowLabel(u32),
    /// The payload is too long for the length field.
    #[error("payload of {0} bytes does not fit the length field")]
    TooLong(usize),
    /// Source and destination addresses are of different families.
    #[error("address family mismatch between {0} and {1}")]
    FamilyMismatch(IpAddr, IpAddr),
    /// The UDP length field is below the header or beyond the datagram.
    #[error("bad UDP length field {0}")]
    UdpLength(u16),
    /// The UDP checksum does not match the datagram.
    #[error(
        "UDP checksum mismatch: datagram carries {received:#06x}, contents sum to {computed:#06x}"
    )]
    UdpChecksum {
        /// The checksum carried in the header.
        received: u16,
        /// The checksum computed over the pseudo-header and the datagram.
        computed: u16,
    },
    /// An IPv6 UDP datagram with a zero checksum (RFC 8200 §8.1 forbids it).
    #[error("UDP over IPv6 with a zero checksum (RFC 8200 §8.1)")]
    UdpZeroChecksumV6,
    /// An IPv4 packet with Don't Fragment set was handed to the fragmenter.
    #[error("the packet has Don't Fragment set")]
    DontFragment,
    /// An MTU too small to fragment into: no room for 8 data bytes behind the header.
    #[error("MTU {mtu} is too small to fragment into: need at least {needed}")]
    MtuTooSmall {
        /// The MTU asked for.
        mtu: usize,
        /// The smallest that works for this header.
        needed: usize,
    },
    /// Fragments that do not make one datagram.
    #[error("cannot reassemble: {0}")]
    Reassembly(&'static str),
}
