//! ISAKMP / IKEv1 wire formats: the ISAKMP header (RFC 2408 §3.1), the generic payload header
//! and its chain (§3.2), every payload's body (§3.4–§3.15, RFC 2407 §4.6, RFC 3947 §3.2/§5.2,
//! RFC 3706 §5), the data attributes of RFC 2409 Appendix A and RFC 2407 §4.5, and whole
//! messages, cleartext or still encrypted.
//!
//! Views ([`Header`], [`GenericPayload`], [`Payloads`], [`MessageView`]) validate lengths once;
//! afterwards no accessor panics. Reprs ([`HeaderRepr`], [`Payload`], [`Message`], …) have
//! public fields, `parse`, `buffer_len` and `emit`, and `parse(emit(r)) == r`. Every code point
//! is open (a newtype with named constants), so unknown values parse and re-emit unchanged.
//! Reserved fields are ignored on receipt and sent as zero (RFC 2408 §3.2).

use core::fmt;

use crate::Error;

mod attribute;
mod codes;
mod header;
mod id;
mod message;
mod nat;
mod notify;
mod payload;
mod sa;
mod vendor;

pub use attribute::{Attribute, AttributeValue, IkeAttributes, IpsecAttributes, Lifetime};
pub use codes::{
    AhTransformId, AuthAlgorithm, AuthMethod, CertEncoding, Doi, EncapsulationMode,
    EncryptionAlgorithm, EspTransformId, ExchangeType, Flags, GroupDescription, GroupType,
    HashAlgorithm, IdType, IkeAttributeType, IpcompTransformId, IpsecAttributeType,
    IsakmpTransformId, LifeType, NotifyType, PayloadType, ProtocolId, Situation,
};
pub use header::{HEADER_LEN, Header, HeaderRepr};
pub use id::{IP_PROTOCOL_GRE, IdPayload, IdValue};
pub use message::{
    Body, BodyView, EncryptedBody, Message, MessageView, chain_len, chain_to_vec, emit_chain,
    parse_chain, parse_decrypted_chain,
};
pub use nat::{NatDPayload, NatOaPayload, NatTNumbering};
pub use notify::{DeletePayload, NotifyPayload, isakmp_spi};
pub use payload::{
    CertPayload, CertRequestPayload, FragmentPayload, GENERIC_HEADER_LEN, GenericPayload, Payload,
    Payloads, RawPayload,
};
pub use sa::{Proposal, SaPayload, Transform};
pub use vendor::{KnownVendorId, VendorIdMatch, recognise_vendor_id};

pub(crate) use dmvpn_wire::code_point;

/// Bounds-checked big-endian reads (`None` beyond the buffer), from the family's wire toolkit.
pub(crate) use dmvpn_wire::be::{
    read_u8 as u8_at, read_u16 as be16, read_u32 as be32, read_u64 as be64,
};

/// The non-ESP marker (RFC 3948 §2.2): four zero bytes before an IKE message on UDP port 4500.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// The IKE message in a UDP 4500 datagram, after the non-ESP marker (RFC 3947 §4, RFC 3948
/// §2.2); `None` for anything else (ESP in UDP, a NAT keepalive, a runt).
///
/// ```
/// use dmvpn_ikev1::wire::strip_non_esp_marker;
///
/// assert_eq!(strip_non_esp_marker(&[0, 0, 0, 0, 1, 2]), Some(&[1u8, 2][..]));
/// assert_eq!(strip_non_esp_marker(&[0xff]), None); // NAT keepalive
/// assert_eq!(strip_non_esp_marker(&[0x12, 0x34, 0x56, 0x78, 0]), None); // an ESP SPI
/// ```
pub fn strip_non_esp_marker(datagram: &[u8]) -> Option<&[u8]> {
    match datagram.split_first_chunk::<4>() {
        Some((marker, rest)) if *marker == NON_ESP_MARKER => Some(rest),
        _ => None,
    }
}

/// A `Truncated` error for `what`.
pub(crate) fn truncated(what: &'static str, needed: usize, got: usize) -> Error {
    Error::Truncated { what, needed, got }
}

/// A length that must fit a 16-bit field.
pub(crate) fn len16(what: &'static str, len: usize) -> Result<u16, Error> {
    u16::try_from(len).map_err(|_| Error::TooLong { what, len })
}

/// A length that must fit an 8-bit field.
pub(crate) fn len8(what: &'static str, len: usize) -> Result<u8, Error> {
    u8::try_from(len).map_err(|_| Error::TooLong { what, len })
}

/// Sums lengths without overflow (saturating: a saturated sum is refused by the length fields).
pub(crate) fn sum_len(parts: impl IntoIterator<Item = usize>) -> usize {
    parts.into_iter().fold(0usize, usize::saturating_add)
}

/// A bounds-checked writer over a caller's buffer: every write is checked, nothing panics.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// The bytes `[pos, pos + len)`, advancing past them.
    fn take(&mut self, len: usize) -> Result<&mut [u8], Error> {
        let end = self.pos.checked_add(len).ok_or(Error::TooLong {
            what: "message",
            len: usize::MAX,
        })?;
        let got = self.buf.len();
        let start = self.pos;
        let dst = self
            .buf
            .get_mut(start..end)
            .ok_or(Error::BufferTooSmall { needed: end, got })?;
        self.pos = end;
        Ok(dst)
    }

    /// Appends `bytes`.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.take(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Appends one byte.
    pub(crate) fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.put(&[v])
    }

    /// Appends a big-endian 16-bit value.
    pub(crate) fn u16(&mut self, v: u16) -> Result<(), Error> {
        self.put(&v.to_be_bytes())
    }

    /// Appends a big-endian 32-bit value.
    pub(crate) fn u32(&mut self, v: u32) -> Result<(), Error> {
        self.put(&v.to_be_bytes())
    }

    /// The next `len` bytes of the buffer, for a nested emitter, advancing past them.
    pub(crate) fn sub(&mut self, len: usize) -> Result<&mut [u8], Error> {
        self.take(len)
    }
}

/// Hex text of bytes, for `Display` implementations.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
