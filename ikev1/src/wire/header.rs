//! The ISAKMP header (RFC 2408 §3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Initiator                            |
//! |                            Cookie                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Responder                            |
//! |                            Cookie                             |
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

/// Length of the ISAKMP header.
pub const HEADER_LEN: usize = 28;

/// The ISAKMP major version this crate speaks (RFC 2408 §3.1).
pub const MAJOR_VERSION: u8 = 1;

/// A read/write view of an ISAKMP message: its header and the bytes after it.
///
/// [`Header::new_checked`] validates that the buffer holds the header, that the major version
/// is 1 and that the Length field is at least the header and at most the buffer; afterwards no
/// accessor panics and [`Header::payload`] is exactly the bytes the Length covers.
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

    /// Validates the header length, the major version (1; an IKEv2 message is
    /// [`Error::UnsupportedVersion`]) and the Length field.
    pub fn check(&self) -> Result<(), Error> {
        let got = self.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(truncated("ISAKMP header", HEADER_LEN, got));
        }
        if self.major_version() != MAJOR_VERSION {
            return Err(Error::UnsupportedVersion {
                major: self.major_version(),
                minor: self.minor_version(),
            });
        }
        let len = usize::try_from(self.length()).unwrap_or(usize::MAX);
        if len < HEADER_LEN {
            return Err(Error::BadLength {
                what: "ISAKMP header",
                length: len,
            });
        }
        if len > got {
            return Err(truncated("ISAKMP message", len, got));
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

    /// The initiator's cookie (RFC 2408 §2.5.3).
    pub fn cookie_i(&self) -> u64 {
        be64(self.data(), 0).unwrap_or(0)
    }

    /// The responder's cookie (zero in the first message of an exchange).
    pub fn cookie_r(&self) -> u64 {
        be64(self.data(), 8).unwrap_or(0)
    }

    /// The type of the first payload.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(u8_at(self.data(), 16).unwrap_or(0))
    }

    /// The major version (1).
    pub fn major_version(&self) -> u8 {
        u8_at(self.data(), 17).unwrap_or(0) >> 4
    }

    /// The minor version (0).
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

    /// The message ID (zero in phase 1, random in Quick Mode and Informational exchanges).
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

    /// The bytes after the header, up to the Length field: the payload chain, or its
    /// ciphertext when the E flag is set.
    pub fn payload(&self) -> &[u8] {
        self.message().get(HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        dmvpn_wire::be::put(self.buffer.as_mut(), at, bytes);
    }

    /// Sets the initiator's cookie.
    pub fn set_cookie_i(&mut self, v: u64) {
        self.put(0, &v.to_be_bytes());
    }

    /// Sets the responder's cookie.
    pub fn set_cookie_r(&mut self, v: u64) {
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

/// The ISAKMP header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HeaderRepr {
    /// The initiator's cookie.
    pub cookie_i: u64,
    /// The responder's cookie.
    pub cookie_r: u64,
    /// The type of the first payload (for an encrypted message, of the first encrypted one).
    pub next_payload: PayloadType,
    /// The minor version (4 bits; the major version is always 1).
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
    /// Reads the header fields of a view (validating it first).
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<Self, Error> {
        h.check()?;
        Ok(HeaderRepr {
            cookie_i: h.cookie_i(),
            cookie_r: h.cookie_r(),
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
    /// shorter buffer is [`Error::BufferTooSmall`], a minor version above 15 [`Error::TooLong`]).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut Header<T>) -> Result<(), Error> {
        let got = h.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::BufferTooSmall {
                needed: HEADER_LEN,
                got,
            });
        }
        if self.minor_version > 0x0f {
            return Err(Error::TooLong {
                what: "minor version (4 bits)",
                len: usize::from(self.minor_version),
            });
        }
        h.set_cookie_i(self.cookie_i);
        h.set_cookie_r(self.cookie_r);
        h.set_next_payload(self.next_payload);
        h.set_version(MAJOR_VERSION, self.minor_version);
        h.set_exchange_type(self.exchange_type);
        h.set_flags(self.flags);
        h.set_message_id(self.message_id);
        h.set_length(self.length);
        Ok(())
    }

    /// The header as bytes (a minor version above 15 is truncated to its 4 bits).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        let mut h = Header::new_unchecked(&mut b[..]);
        let fixed = HeaderRepr {
            minor_version: self.minor_version & 0x0f,
            ..*self
        };
        // The buffer is exactly HEADER_LEN bytes and the minor version fits: emit cannot fail.
        let _ = fixed.emit(&mut h);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ikev2_and_short_headers_are_refused_with_detail() {
        let mut b = [0u8; HEADER_LEN];
        b[17] = 0x20;
        b[27] = HEADER_LEN as u8;
        assert_eq!(
            Header::new_checked(&b[..]).unwrap_err(),
            Error::UnsupportedVersion { major: 2, minor: 0 }
        );
        b[17] = 0x10;
        assert!(Header::new_checked(&b[..]).is_ok());
        b[27] = 27;
        assert!(matches!(
            Header::new_checked(&b[..]),
            Err(Error::BadLength { length: 27, .. })
        ));
        b[27] = 29;
        assert!(matches!(
            Header::new_checked(&b[..]),
            Err(Error::Truncated { needed: 29, .. })
        ));
        assert!(matches!(
            Header::new_checked(&b[..10]),
            Err(Error::Truncated {
                needed: 28,
                got: 10,
                ..
            })
        ));
    }

    #[test]
    fn header_round_trips() {
        let r = HeaderRepr {
            cookie_i: 0x0102_0304_0506_0708,
            cookie_r: 0x1112_1314_1516_1718,
            next_payload: PayloadType::HASH,
            minor_version: 0,
            exchange_type: ExchangeType::QUICK_MODE,
            flags: Flags::ENCRYPTION,
            message_id: 0xdead_beef,
            length: 28,
        };
        let b = r.to_bytes();
        assert_eq!(b[16..20], [8, 0x10, 32, 1]);
        assert_eq!(
            HeaderRepr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap(),
            r
        );
    }
}
