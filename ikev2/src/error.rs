//! The crate's error type.

use crate::transform::KeGroup;
use crate::wire::PayloadType;

/// Everything that can go wrong in this crate: parsing, building, proposals, key exchange, key
/// derivation, SK protection and authentication.
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
    /// The header's major version is not 2 (RFC 7296 §2.5: answer INVALID_MAJOR_VERSION).
    #[error("IKE major version {major}.{minor} is not supported (only 2.x)")]
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
    /// An unknown payload with the critical bit set (RFC 7296 §2.5): the message must be
    /// rejected with an UNSUPPORTED_CRITICAL_PAYLOAD notification carrying this type.
    #[error("unsupported critical payload type {0}")]
    UnsupportedCriticalPayload(PayloadType),
    /// Bytes follow the last payload (after an SK payload, or beyond the chain's end).
    #[error("{len} bytes of trailing data after the last payload")]
    TrailingData {
        /// Number of stray bytes.
        len: usize,
    },
    /// A substructure is inconsistent (counts, sizes, types).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A field to be emitted does not fit its length field.
    #[error("{what} too long ({len} bytes)")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// The `esp` crypto provider failed or lacks an algorithm.
    #[error("crypto provider: {0}")]
    Crypto(#[from] dmvpn_esp::Error),
    /// The key-exchange group is not implemented by the provider.
    #[error("key exchange group {0} not supported")]
    UnsupportedGroup(KeGroup),
    /// The peer's key-exchange public value is invalid (wrong length, out of range, not on the
    /// curve, or leading to an all-zero shared secret).
    #[error("invalid key exchange value for {group}: {reason}")]
    InvalidKeyExchange {
        /// The group.
        group: KeGroup,
        /// What was wrong.
        reason: &'static str,
    },
    /// A transform this crate does not implement (for key derivation or SK protection).
    #[error("transform not supported: {0}")]
    UnsupportedTransform(String),
    /// An algorithm this crate refuses, with the reason (DES, 3DES, MD5, …).
    #[error("algorithm {name} rejected: {reason}")]
    RejectedAlgorithm {
        /// The algorithm's name.
        name: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A proposal string contains a keyword this crate does not know.
    #[error("unknown proposal keyword {0:?}")]
    UnknownKeyword(String),
    /// A proposal is inconsistent (for example AEAD with an integrity algorithm).
    #[error("invalid proposal: {0}")]
    InvalidProposal(&'static str),
    /// The integrity check of an SK/SKF payload (HMAC or AEAD tag) failed.
    #[error("integrity check failed")]
    Integrity,
    /// The decrypted SK payload's padding is inconsistent, or the ciphertext is not a whole
    /// number of blocks.
    #[error("invalid padding in encrypted payload")]
    InvalidPadding,
    /// The message carries no SK or SKF payload to unprotect.
    #[error("no encrypted payload in message")]
    NoEncryptedPayload,
    /// The AUTH payload did not verify.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// No pre-shared key is configured for this peer identity.
    #[error("no pre-shared key for identity {0}")]
    NoPsk(String),
    /// A configuration or argument is inconsistent.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
}
