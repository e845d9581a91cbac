//! IKEv2 wire formats (RFC 7296 §3): the header, the generic payload header and its chain, every
//! payload's body, and whole messages.
//!
//! Views ([`Header`], [`GenericPayload`]) validate lengths once in `new_checked`; afterwards no
//! accessor panics. Reprs ([`HeaderRepr`], [`Payload`], [`Message`], …) have public fields,
//! `parse`, `buffer_len` and `emit`, and `parse(emit(r)) == r`. Every code point is open (a
//! newtype with named constants), so unknown values parse and re-emit unchanged. Reserved fields
//! are ignored on receipt and sent as zero (RFC 7296 §3.2).

use core::fmt;

use crate::Error;

mod codes;
mod header;
mod message;
mod payload;
mod sa;
mod ts;

pub use codes::{
    AuthMethod, CertEncoding, CfgType, ConfigAttributeType, ExchangeType, Flags, IdType,
    NotifyType, PayloadType, ProtocolId, TsType,
};
pub use header::{HEADER_LEN, Header, HeaderRepr};
pub use message::{Message, chain_len, emit_chain, parse_chain};
pub use payload::{
    AuthPayload, CertPayload, ConfigAttribute, CpPayload, DeletePayload, GENERIC_HEADER_LEN,
    GenericPayload, Identity, KePayload, NotifyPayload, Payload, Payloads, RawPayload, SkPayload,
    SkfPayload,
};
pub use sa::{Attribute, AttributeValue, Proposal, SaPayload, Transform};
pub use ts::{TrafficSelector, TsPayload};

pub(crate) use dmvpn_wire::code_point;

/// Bounds-checked big-endian reads (`None` beyond the buffer), from the family's wire toolkit.
pub(crate) use dmvpn_wire::be::{
    read_u8 as u8_at, read_u16 as be16, read_u32 as be32, read_u64 as be64,
};

/// A `Truncated` error for `what`.
pub(crate) fn truncated(what: &'static str, needed: usize, got: usize) -> Error {
    Error::Truncated { what, needed, got }
}

/// A length that must fit a 16-bit field.
pub(crate) fn len16(what: &'static str, len: usize) -> Result<u16, Error> {
    u16::try_from(len).map_err(|_| Error::TooLong { what, len })
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

    /// Appends `bytes`.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.pos.checked_add(bytes.len()).ok_or(Error::TooLong {
            what: "message",
            len: usize::MAX,
        })?;
        let got = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall { needed: end, got })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
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

    /// The rest of the buffer after what was written (for a nested emitter), and advances
    /// past `len` bytes of it once the nested emitter is done.
    pub(crate) fn sub(&mut self, len: usize) -> Result<&mut [u8], Error> {
        let end = self.pos.checked_add(len).ok_or(Error::TooLong {
            what: "message",
            len: usize::MAX,
        })?;
        let got = self.buf.len();
        let start = self.pos;
        self.pos = end;
        self.buf
            .get_mut(start..end)
            .ok_or(Error::BufferTooSmall { needed: end, got })
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
