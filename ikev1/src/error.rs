//! The crate's error type.

use crate::wire::{GroupDescription, PayloadType};

/// Everything that can go wrong in this crate: parsing and building ISAKMP messages, mapping
/// the negotiated algorithms, key derivation, and encrypting and decrypting message bodies.
///
/// Parsers and decryption return these as values whatever the bytes; they never panic.
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
    /// An algorithm this crate refuses, with the reason (DES, 3DES, MD5).
    #[error("algorithm {name} rejected: {reason}")]
    RejectedAlgorithm {
        /// The algorithm's name.
        name: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An algorithm (or key length) this crate does not implement.
    #[error("{0} is not supported")]
    UnsupportedAlgorithm(String),
    /// A Diffie-Hellman group the crypto provider does not implement (the MODP groups below
    /// 2048 bits, 1, 2 and 5, among them).
    #[error("group {0} is not supported")]
    UnsupportedGroup(GroupDescription),
    /// The `esp` crypto provider failed or lacks an algorithm (ciphers, HMACs, random bytes).
    #[error("crypto provider: {0}")]
    Crypto(#[from] dmvpn_esp::Error),
    /// The key exchange (the groups of `dmvpn-ikev2`'s provider) failed: an invalid peer
    /// public value, or the provider.
    #[error("key exchange: {0}")]
    KeyExchange(dmvpn_ikev2::Error),
    /// An encrypted body that is not a whole, non-zero number of cipher blocks (RFC 2409
    /// Appendix B).
    #[error("ciphertext of {len} bytes is not a non-empty multiple of the {block}-byte block")]
    CiphertextLength {
        /// The ciphertext's length.
        len: usize,
        /// The cipher's block length.
        block: usize,
    },
    /// A HASH payload that does not match what this side computes (HASH_I, HASH_R, Quick
    /// Mode's HASH(1)–HASH(3), an Informational HASH): a wrong key, or a forged or corrupted
    /// message.
    #[error("{0} does not verify")]
    HashMismatch(&'static str),
    /// A message that must begin with a HASH payload (RFC 2409 §5.5, §5.7) does not.
    #[error("the first payload is {0}, not HASH")]
    MissingHash(PayloadType),
    /// A configuration that cannot work (no policy, a legacy group not allowed, …).
    #[error("configuration: {0}")]
    Config(String),
    /// No pre-shared key for this peer address (`crypto isakmp key … address`).
    #[error("no pre-shared key for peer {0}")]
    NoKey(core::net::IpAddr),
    /// Over a Call Admission Control limit (half-open or total ISAKMP SAs).
    #[error("refused by call admission control: {0}")]
    AdmissionRefused(&'static str),
    /// No ISAKMP SA with this id, or not in a state that can do it.
    #[error("no such ISAKMP SA, or it is not established")]
    UnknownSa,
    /// No IPsec SA with this inbound SPI.
    #[error("no IPsec SA with inbound SPI {0:#010x}")]
    UnknownChild(u32),
    /// A datagram that is not for this endpoint or that its state does not expect, dropped
    /// (and counted): what it was.
    #[error("dropped: {0}")]
    Dropped(&'static str),
    /// An Aggressive Mode request, refused: with a pre-shared key it hands an eavesdropper
    /// what an offline dictionary attack on the key needs (seed 002).
    #[error(
        "aggressive mode is refused (a pre-shared key in aggressive mode is open to an offline dictionary attack)"
    )]
    AggressiveModeRefused,
    /// A proposal with nothing acceptable in it.
    #[error("no proposal chosen: {0}")]
    NoProposalChosen(String),
}
