//! The one error type of this crate.

use crate::wire::ErrorCode;

/// Everything that can go wrong reading or writing an NHRP packet.
///
/// Parse errors carry the byte offset (from the start of the NHRP fixed header) at which the
/// problem was found, where there is one: [`Error::offset`] returns it, and
/// [`Error::indication_code`] says which RFC 2332 error code an Error Indication answering it
/// would carry, so that [`Repr::error_indication_for`](crate::wire::Repr::error_indication_for)
/// can quote the offending packet with the right offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before a structure that must be there.
    #[error("truncated: need {needed} bytes, got {got}")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// `ar$pktsz` is smaller than the fixed header plus the common mandatory fields (28 bytes).
    #[error("packet size field {size} is smaller than the 28-byte minimum NHRP packet")]
    PacketSizeTooSmall {
        /// The value of `ar$pktsz`.
        size: u16,
    },
    /// `ar$pktsz` says the packet is longer than the buffer holding it.
    #[error("packet size field says {size} bytes but the buffer holds only {available}")]
    PacketSizeExceedsBuffer {
        /// The value of `ar$pktsz`.
        size: u16,
        /// The length of the buffer.
        available: usize,
    },
    /// `ar$chksum` does not match the checksum of the packet.
    #[error(
        "checksum mismatch: packet carries {expected:#06x}, its contents checksum to {computed:#06x}"
    )]
    Checksum {
        /// The checksum carried in the packet.
        expected: u16,
        /// The checksum computed over the packet (with the checksum field taken as zero).
        computed: u16,
    },
    /// `ar$op.version` is not 1 (RFC 2332 §5.2.0.1).
    #[error("unsupported NHRP version {0} (only version 1, RFC 2332, exists)")]
    Version(u8),
    /// `ar$extoff` is neither 0 nor inside `[min, max]` (the end of the mandatory part's fixed
    /// fields and addresses, and `ar$pktsz`).
    #[error("extension offset {offset} is outside the allowed range {min}..={max}")]
    ExtensionOffset {
        /// The value of `ar$extoff`.
        offset: u16,
        /// Smallest acceptable offset: the end of the addresses of the mandatory part.
        min: usize,
        /// Largest acceptable offset: the packet size.
        max: usize,
    },
    /// An address whose length is given in the header runs past the end of the mandatory part.
    #[error(
        "{field} ({len} bytes at offset {at}) runs past the end of the mandatory part at {end}"
    )]
    AddressOverrun {
        /// Which address.
        field: &'static str,
        /// Where it starts.
        at: usize,
        /// Its declared length.
        len: usize,
        /// Where the mandatory part ends.
        end: usize,
    },
    /// A Client Information Entry does not fit in what is left of its list.
    #[error("client information entry at offset {at} needs {needed} bytes, only {available} left")]
    CieOverrun {
        /// Where the entry starts.
        at: usize,
        /// Bytes it needs (12 until its address lengths are readable).
        needed: usize,
        /// Bytes left in the mandatory part or extension.
        available: usize,
    },
    /// An extension header or value does not fit before `ar$pktsz`.
    #[error("extension at offset {at} needs {needed} bytes, only {available} left in the packet")]
    ExtensionOverrun {
        /// Where the extension starts.
        at: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left before the end of the packet.
        available: usize,
    },
    /// A known extension whose value does not have the form its type requires.
    #[error("extension type {ext_type} at offset {at} is malformed: {reason}")]
    InvalidExtension {
        /// The extension type (without the compulsory bit).
        ext_type: u16,
        /// Where the extension starts.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Bytes between the End extension and `ar$pktsz`.
    #[error("{len} bytes follow the End extension at offset {at}")]
    TrailingData {
        /// Where the unexpected bytes start.
        at: usize,
        /// How many there are.
        len: usize,
    },
    /// The output buffer given to `emit` is shorter than `buffer_len()`.
    #[error("buffer too small: need {needed} bytes, got {got}")]
    BufferTooSmall {
        /// `buffer_len()` of the representation.
        needed: usize,
        /// Length of the buffer.
        got: usize,
    },
    /// A field of a representation is longer than its length field can express.
    #[error("{field} is {len} bytes, more than the {max} the wire format allows")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The largest length the wire format can carry.
        max: usize,
    },
    /// A Cisco cleartext password must be 1 to 8 bytes (`ip nhrp authentication`).
    #[error("NHRP authentication password must be 1 to 8 bytes, got {len}")]
    PasswordLength {
        /// Length of the password given.
        len: usize,
    },
    /// The packet to quote in a Traffic Indication is not an IPv4 or IPv6 packet.
    #[error("not an IPv4 or IPv6 data packet: {reason}")]
    NotAnIpPacket {
        /// What is wrong.
        reason: &'static str,
    },
    /// A state machine dropped a packet whose Authentication extension is missing or does not
    /// carry the configured password (`ip nhrp authentication`).
    #[error("authentication failure: missing or wrong NHRP authentication extension")]
    AuthenticationFailure,
    /// A state machine dropped a reply that matches no outstanding request (unsolicited or
    /// spoofed: wrong request ID, requested address or sender).
    #[error("{packet_type} with request ID {request_id} matches no outstanding request")]
    UnmatchedReply {
        /// Type of the reply.
        packet_type: crate::wire::PacketType,
        /// Its request ID.
        request_id: u32,
    },
    /// A client refused a Resolution Reply that matches an outstanding request: it came from
    /// neither the NHS asked nor the NBMA address it maps to, or it maps a prefix broader than
    /// the responder may claim. The resolution stays outstanding.
    #[error("Resolution Reply with request ID {request_id} refused: {reason}")]
    ReplyRefused {
        /// Its request ID.
        request_id: u32,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A state machine dropped a packet that this role does not handle, or that is not meant
    /// for this node.
    #[error("{packet_type} dropped: {reason}")]
    Unexpected {
        /// Type of the packet.
        packet_type: crate::wire::PacketType,
        /// Why it was dropped.
        reason: &'static str,
    },
    /// The packet carries a compulsory extension this node does not know (RFC 2332 §5.3); an
    /// Error Indication "Unrecognized Extension" was sent unless the packet was one.
    #[error("unrecognized compulsory extension type {ext_type}")]
    UnrecognizedExtension {
        /// The extension type (without the compulsory bit).
        ext_type: u16,
    },
    /// A request had to be forwarded with a hop count that would reach zero (RFC 2332 §5.2.7
    /// "Hop Count Exceeded"), or arrived with hop count zero.
    #[error("hop count exhausted")]
    HopCountExceeded,
    /// This NHS already appears in the request's Forward Transit NHS Record (RFC 2332 §5.3.2).
    #[error("NHRP loop detected: this NHS is already in the forward transit record")]
    LoopDetected,
    /// The strict-RFC receive mode rejected a Cisco quirk.
    #[error("rejected in strict RFC 2332 mode: {reason}")]
    Strict {
        /// The quirk.
        reason: &'static str,
    },
    /// A bounded table (cache, pending requests) is full.
    #[error("{what} is full ({limit} entries)")]
    Full {
        /// Which table.
        what: &'static str,
        /// Its configured bound.
        limit: usize,
    },
    /// A configuration is invalid; every problem found is listed.
    #[error("invalid NHRP configuration: {}", problems.join("; "))]
    InvalidConfig {
        /// One sentence per problem.
        problems: Vec<String>,
    },
}

impl Error {
    /// The offset into the NHRP packet (from the first byte of the fixed header) at which the
    /// error was detected, for the Error Offset field of an Error Indication (RFC 2332 §5.2.7).
    ///
    /// `None` for errors that are not about a received packet, or that have no position.
    pub fn offset(&self) -> Option<usize> {
        match *self {
            Error::PacketSizeTooSmall { .. } | Error::PacketSizeExceedsBuffer { .. } => Some(10),
            Error::Checksum { .. } => Some(12),
            Error::ExtensionOffset { .. } => Some(14),
            Error::Version(_) => Some(16),
            Error::AddressOverrun { at, .. }
            | Error::CieOverrun { at, .. }
            | Error::ExtensionOverrun { at, .. }
            | Error::InvalidExtension { at, .. }
            | Error::TrailingData { at, .. } => Some(at),
            Error::Truncated { .. }
            | Error::BufferTooSmall { .. }
            | Error::FieldTooLong { .. }
            | Error::PasswordLength { .. }
            | Error::NotAnIpPacket { .. }
            | Error::AuthenticationFailure
            | Error::UnmatchedReply { .. }
            | Error::ReplyRefused { .. }
            | Error::Unexpected { .. }
            | Error::UnrecognizedExtension { .. }
            | Error::HopCountExceeded
            | Error::LoopDetected
            | Error::Strict { .. }
            | Error::Full { .. }
            | Error::InvalidConfig { .. } => None,
        }
    }

    /// The RFC 2332 §5.2.7 error code an Error Indication about this error carries: Invalid
    /// Extension for malformed extensions, Protocol Error otherwise.
    ///
    /// Whether to answer a bad packet at all, rather than drop it, is the caller's decision.
    pub fn indication_code(&self) -> ErrorCode {
        match self {
            Error::ExtensionOverrun { .. }
            | Error::InvalidExtension { .. }
            | Error::TrailingData { .. } => ErrorCode::INVALID_EXTENSION,
            _ => ErrorCode::PROTOCOL_ERROR,
        }
    }
}
