//! The crate's error type.

use crate::config::CacLimit;
use crate::event::IkeSaId;
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
    /// The configuration is inconsistent ([`crate::Config::validate`], proposal lists, a
    /// proposal without the key exchange IKE needs).
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// Call Admission Control ([`crate::Cac`]) refused a new IKE SA: `count` SAs of the kind
    /// `limit` counts already reach its maximum `max`.
    #[error("call admission control: {count} {limit} reach the limit of {max}")]
    AdmissionRefused {
        /// The limit that refused.
        limit: CacLimit,
        /// How many there are.
        count: usize,
        /// The configured maximum.
        max: usize,
    },
    /// No IKE SA with this id (it never existed, or it is gone).
    #[error("no IKE SA {sa}")]
    NoSuchIkeSa {
        /// The id asked for.
        sa: IkeSaId,
    },
    /// The IKE SA has no child SA with this inbound SPI.
    #[error("no child SA with inbound SPI {spi:#010x}")]
    NoSuchChildSa {
        /// The inbound SPI asked for.
        spi: u32,
    },
    /// An operation needs state the IKE SA does not have (yet, or any more): SK keys before
    /// IKE_SA_INIT completed, handshake state after IKE_AUTH.
    #[error("{operation} needs {missing}, which the IKE SA does not have")]
    MissingState {
        /// What was attempted.
        operation: &'static str,
        /// What it needs.
        missing: &'static str,
    },
    /// Key material or a fixed-size field of the wrong length (SK_e, SK_a, a GCM salt or tag,
    /// KEYMAT, an encoded public value).
    #[error("{what} is {got} bytes, expected {expected}")]
    LengthMismatch {
        /// Which key.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// prf+ (§2.13) was asked for more than 255 blocks of its PRF's output.
    #[error("prf+ output of {requested} bytes exceeds its maximum of {max}")]
    PrfPlusTooLong {
        /// Bytes asked for.
        requested: usize,
        /// 255 times the PRF's output length.
        max: usize,
    },
    /// A fragment's payloads were asked for before reassembly (RFC 7383).
    #[error("fragment {number} of {total}: payloads can only be decoded after reassembly")]
    FragmentNotReassembled {
        /// The fragment's number.
        number: u16,
        /// Fragments in the message.
        total: u16,
    },
    /// A fragment size that cannot carry anything.
    #[error("fragment size {size}: at least 1 byte of plaintext per fragment")]
    InvalidFragmentSize {
        /// The size asked for.
        size: usize,
    },
}
