//! The crate's error type.

use crate::wire::PayloadType;

/// Everything that can go wrong in this crate: parsing and building ISAKMP messages.
///
/// Parsers return these as values whatever the bytes; they never panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is shorter than the structure it must hold.
    #[error("truncated {what}: needed {needed} bytes, got {got}")]
    Truncated {
        /// Which structure.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The caller's output buffer is too small.
    #[error("output buffer too small: needed {needed} bytes, got {got}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The header's major version is not 1 (RFC 2408 §3.1). An IKEv2 message (major version 2)
    /// lands here, so that a caller listening on one port can hand it to the IKEv2 crate.
    #[error("ISAKMP version {major}.{minor} is not supported (only 1.x)")]
    UnsupportedVersion {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// A length field is impossible (shorter than its own header, or inconsistent).
    #[error("bad length {length} in {what}")]
    BadLength {
        /// Which structure.
        what: &'static str,
        /// The length found.
        length: usize,
    },
    /// Bytes follow the last payload of a cleartext chain.
    #[error("{len} bytes of trailing data after the last payload")]
    TrailingData {
        /// Number of stray bytes.
        len: usize,
    },
    /// A substructure is inconsistent (counts, sizes, types).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A payload of a type that cannot appear in a message's payload chain (Proposal and
    /// Transform live inside an SA payload, RFC 2408 §3.5/§3.6).
    #[error("payload type {0} cannot appear in a payload chain")]
    MisplacedPayload(PayloadType),
    /// A data attribute has the wrong form or value for its type (RFC 2408 §3.3, RFC 2409
    /// Appendix A, RFC 2407 §4.5).
    #[error("attribute {attr_type}: {reason}")]
    BadAttribute {
        /// The attribute type.
        attr_type: u16,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The identification data does not fit its ID type (RFC 2407 §4.6.2.1).
    #[error("identification data: {0}")]
    BadIdentification(&'static str),
    /// The SA payload's situation carries labelled-domain fields (SIT_SECRECY or
    /// SIT_INTEGRITY, RFC 2407 §4.6.1), which this crate does not parse.
    #[error("situation {0:#x} (secrecy/integrity labels) is not supported")]
    UnsupportedSituation(u32),
    /// A field to be emitted does not fit its length field.
    #[error("{what} too long ({len} bytes)")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
    },
}
