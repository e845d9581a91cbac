//! The IKE header (RFC 7296 §3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Initiator's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Responder's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Message ID                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            Length                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{ExchangeType, Flags, PayloadType, be32, be64, truncated, u8_at};
use crate::Error;

/// Length of the IKE header.
pub const HEADER_LEN: usize = 28;

/// A read/write view of an IKE message: its header and the payloads after it.
///
/// [`Header::new_checked`] validates that the buffer holds the header, that the major version
/// is 2 and that the Length field is at least the header and at most the buffer; afterwards no
/// accessor panics and [`Header::payload`] is exactly the payload bytes the Length covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps a buffer without validating it; accessors return zeroes beyond the buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Wraps a buffer after validating it (see [`Header::check`]).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let h = Self::new_unchecked(buffer);
        h.check()?;
        Ok(h)
    }

    /// Validates the header length, the major version (2; RFC 7296 §2.5) and the Length field.
    pub fn check(&self) -> Result<(), Error> {
        let got = self.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(truncated("IKE header", HEADER_LEN, got));
        }
        if self.major_version() != 2 {
            return Err(Error::UnsupportedVersion {
                major: self.major_version(),
                minor: self.minor_version(),
            });
        }
        let len = usize::try_from(self.length()).unwrap_or(usize::MAX);
        if len < HEADER_LEN {
            return Err(Error::BadLength {
                what: "IKE header",
                length: len,
            });
        }
        if len > got {
            return Err(truncated("IKE message", len, got));
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn data(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The initiator's SPI.
    pub fn spi_i(&self) -> u64 {
        be64(self.data(), 0).unwrap_or(0)
    }

    /// The responder's SPI (zero in the first IKE_SA_INIT request).
    pub fn spi_r(&self) -> u64 {
        be64(self.data(), 8).unwrap_or(0)
    }

    /// The type of the first payload.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(u8_at(self.data(), 16).unwrap_or(0))
    }

    /// The major version (2).
    pub fn major_version(&self) -> u8 {
        u8_at(self.data(), 17).unwrap_or(0) >> 4
    }

    /// The minor version (0; ignored on receipt).
    pub fn minor_version(&self) -> u8 {
        u8_at(self.data(), 17).unwrap_or(0) & 0x0f
    }

    /// The exchange type.
    pub fn exchange_type(&self) -> ExchangeType {
        ExchangeType(u8_at(self.data(), 18).unwrap_or(0))
    }

    /// The flags.
    pub fn flags(&self) -> Flags {
        Flags(u8_at(self.data(), 19).unwrap_or(0))
    }

    /// The message ID.
    pub fn message_id(&self) -> u32 {
        be32(self.data(), 20).unwrap_or(0)
    }

    /// The Length field: header plus payloads.
    pub fn length(&self) -> u32 {
        be32(self.data(), 24).unwrap_or(0)
    }

    /// The whole message as the Length field delimits it (header included).
    pub fn message(&self) -> &[u8] {
        let len = usize::try_from(self.length()).unwrap_or(usize::MAX);
        let data = self.data();
        data.get(..len).unwrap_or(data)
    }

    /// The payload bytes after the header, up to the Length field.
    pub fn payload(&self) -> &[u8] {
        self.message().get(HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        if let Some(dst) = self
            .buffer
            .as_mut()
            .get_mut(at..at.saturating_add(bytes.len()))
        {
            dst.copy_from_slice(bytes);
        }
    }

    /// Sets the initiator's SPI.
    pub fn set_spi_i(&mut self, v: u64) {
        self.put(0, &v.to_be_bytes());
    }

    /// Sets the responder's SPI.
    pub fn set_spi_r(&mut self, v: u64) {
        self.put(8, &v.to_be_bytes());
    }

    /// Sets the first payload's type.
    pub fn set_next_payload(&mut self, v: PayloadType) {
        self.put(16, &[v.0]);
    }

    /// Sets the major and minor versions (4 bits each).
    pub fn set_version(&mut self, major: u8, minor: u8) {
        self.put(17, &[(major << 4) | (minor & 0x0f)]);
    }

    /// Sets the exchange type.
    pub fn set_exchange_type(&mut self, v: ExchangeType) {
        self.put(18, &[v.0]);
    }

    /// Sets the flags.
    pub fn set_flags(&mut self, v: Flags) {
        self.put(19, &[v.0]);
    }

    /// Sets the message ID.
    pub fn set_message_id(&mut self, v: u32) {
        self.put(20, &v.to_be_bytes());
    }

    /// Sets the Length field.
    pub fn set_length(&mut self, v: u32) {
        self.put(24, &v.to_be_bytes());
    }
}

/// The IKE header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HeaderRepr {
    /// The initiator's SPI.
    pub spi_i: u64,
    /// The responder's SPI.
    pub spi_r: u64,
    /// The type of the first payload.
    pub next_payload: PayloadType,
    /// The minor version (the major version is always 2).
    pub minor_version: u8,
    /// The exchange type.
    pub exchange_type: ExchangeType,
    /// The flags.
    pub flags: Flags,
    /// The message ID.
    pub message_id: u32,
    /// The Length field (header plus payloads).
    pub length: u32,
}

impl HeaderRepr {
    /// Reads the header fields of a checked view.
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<Self, Error> {
        h.check()?;
        Ok(HeaderRepr {
            spi_i: h.spi_i(),
            spi_r: h.spi_r(),
            next_payload: h.next_payload(),
            minor_version: h.minor_version(),
            exchange_type: h.exchange_type(),
            flags: h.flags(),
            message_id: h.message_id(),
            length: h.length(),
        })
    }

    /// Bytes [`HeaderRepr::emit`] writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of the view (never panics; a
    /// shorter buffer is [`Error::BufferTooSmall`]).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut Header<T>) -> Result<(), Error> {
        let got = h.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::BufferTooSmall {
                needed: HEADER_LEN,
                got,
            });
        }
        h.set_spi_i(self.spi_i);
        h.set_spi_r(self.spi_r);
        h.set_next_payload(self.next_payload);
        h.set_version(2, self.minor_version);
        h.set_exchange_type(self.exchange_type);
        h.set_flags(self.flags);
        h.set_message_id(self.message_id);
        h.set_length(self.length);
        Ok(())
    }

    /// The header as bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        let mut h = Header::new_unchecked(&mut b[..]);
        // The buffer is exactly HEADER_LEN bytes: emit cannot fail.
        let _ = self.emit(&mut h);
        b
    }
}
