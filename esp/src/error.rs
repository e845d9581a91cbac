//! The crate's error type.

/// Everything that can go wrong in this crate: parsing, configuration, crypto and the data path.
///
/// Errors are values: the data path never panics, and a rejected packet leaves the SA's replay
/// window untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is shorter than the structure it must hold.
    #[error("truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The caller's output buffer is too small.
    #[error("output buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes the operation needs in the output buffer.
        needed: usize,
    },
    /// In-place encapsulation needs room for the ESP header and IV in front of the payload
    /// ([`OutboundSa::header_len`](crate::OutboundSa::header_len)); the payload starts earlier.
    #[error(
        "headroom too small: {needed} bytes of ESP header and IV needed before the payload, {got} available"
    )]
    Headroom {
        /// Bytes needed in front of the payload.
        needed: usize,
        /// Bytes available in front of the payload (its offset in the buffer).
        got: usize,
    },
    /// SPI 0 is reserved for local use and never appears on the wire (RFC 4303 §2.1).
    #[error("SPI 0 is reserved (RFC 4303 §2.1)")]
    ReservedSpi,
    /// No inbound SA has this SPI (and destination).
    #[error("no SA for SPI {spi:#010x}")]
    UnknownSpi {
        /// The SPI of the packet.
        spi: u32,
    },
    /// No outbound SA towards this peer.
    #[error("no outbound SA for this peer")]
    NoOutboundSa,
    /// The packet's SPI does not belong to this SA.
    #[error("SPI {got:#010x} does not match the SA's {expected:#010x}")]
    SpiMismatch {
        /// This SA's SPI.
        expected: u32,
        /// The packet's SPI.
        got: u32,
    },
    /// The sequence number was already received or lies left of the anti-replay window
    /// (RFC 4303 §3.4.3).
    #[error("replayed or too old sequence number {sequence}")]
    Replay {
        /// The (inferred 64-bit, with ESN) sequence number.
        sequence: u64,
    },
    /// The ICV did not verify (or the AEAD tag did not): the packet is forged or corrupted.
    #[error("integrity check failed")]
    Integrity,
    /// The decrypted trailer is inconsistent: the padding is not 1, 2, 3, … (RFC 4303 §2.4), the
    /// pad length exceeds the payload, or the ciphertext is not a whole number of blocks.
    #[error("invalid padding or trailer")]
    InvalidPadding,
    /// A dummy packet (next header 59, RFC 4303 §2.6) was authenticated and dropped.
    #[error("dummy packet (next header 59) dropped")]
    DummyPacket,
    /// The next header does not fit the SA's mode (tunnel mode carries only IPv4 = 4 and
    /// IPv6 = 41), or the inner packet does not match it.
    #[error("next header {next_header} not allowed on this SA")]
    UnexpectedNextHeader {
        /// The next header value.
        next_header: u8,
    },
    /// A decapsulated packet does not match the policy of its SA (RFC 4301 §5.2): wrong source,
    /// destination or protocol.
    #[error("packet does not match the SA's policy")]
    PolicyMismatch,
    /// The outbound sequence counter is exhausted: the SA must be rekeyed, it never wraps
    /// (RFC 4303 §3.3.3).
    #[error("sequence number space exhausted: rekey required")]
    SequenceExhausted,
    /// The SA passed a hard lifetime (time, bytes or packets) and may no longer be used.
    #[error("SA expired (hard lifetime reached)")]
    Expired,
    /// An algorithm this crate refuses, with the reason (DES, 3DES, MD5, …).
    #[error("algorithm {name} rejected: {reason}")]
    RejectedAlgorithm {
        /// The algorithm's name.
        name: &'static str,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// An algorithm name or identifier this crate does not know.
    #[error("unknown algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// The crypto provider has no implementation of this algorithm.
    #[error("the crypto provider does not implement {0}")]
    Unsupported(&'static str),
    /// A key has the wrong length for its algorithm.
    #[error("{what} key must be {expected} bytes, got {got}")]
    KeyLength {
        /// Which key.
        what: &'static str,
        /// Expected length in bytes.
        expected: usize,
        /// Given length in bytes.
        got: usize,
    },
    /// The SA configuration is inconsistent.
    #[error("invalid SA configuration: {0}")]
    InvalidConfig(&'static str),
    /// The crypto backend failed (for example the random source).
    #[error("crypto backend failure: {0}")]
    Crypto(&'static str),
    /// The UDP-encapsulated payload is neither a NAT keepalive, nor IKE behind a non-ESP marker,
    /// nor ESP (RFC 3948 §2.2).
    #[error("malformed UDP-encapsulated payload")]
    MalformedUdpEncap,
}
