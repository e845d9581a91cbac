//! The generic payload header, the payload chain, and the bodies of the payloads that are not
//! big enough for their own module (RFC 7296 §3.2–§3.16, RFC 7383 §2.5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Next Payload  |C|  RESERVED   |         Payload Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    AuthMethod, CertEncoding, CfgType, ConfigAttributeType, Hex, IdType, NotifyType, PayloadType,
    ProtocolId, SaPayload, TsPayload, Writer, be16, len16, truncated, u8_at,
};
use crate::Error;
use crate::transform::KeGroup;

/// Length of the generic payload header.
pub const GENERIC_HEADER_LEN: usize = 4;

/// A read/write view of one payload: the generic header and its body.
///
/// [`GenericPayload::new_checked`] validates that the Payload Length is at least 4 and at most
/// the buffer; afterwards [`GenericPayload::body`] never panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenericPayload<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GenericPayload<T> {
    /// Wraps a buffer without validating it.
    pub const fn new_unchecked(buffer: T) -> Self {
        GenericPayload { buffer }
    }

    /// Wraps a buffer after validating the header and length.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        let got = p.buffer.as_ref().len();
        if got < GENERIC_HEADER_LEN {
            return Err(truncated("payload header", GENERIC_HEADER_LEN, got));
        }
        let len = usize::from(p.payload_length());
        if len < GENERIC_HEADER_LEN {
            return Err(Error::BadLength {
                what: "payload",
                length: len,
            });
        }
        if len > got {
            return Err(truncated("payload", len, got));
        }
        Ok(p)
    }

    /// The type of the next payload (for SK and SKF: of the first inner payload).
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(u8_at(self.buffer.as_ref(), 0).unwrap_or(0))
    }

    /// The critical bit.
    pub fn critical(&self) -> bool {
        u8_at(self.buffer.as_ref(), 1).unwrap_or(0) & 0x80 != 0
    }

    /// The Payload Length field (header included).
    pub fn payload_length(&self) -> u16 {
        be16(self.buffer.as_ref(), 2).unwrap_or(0)
    }

    /// The body: the bytes after the generic header, up to the Payload Length.
    pub fn body(&self) -> &[u8] {
        let len = usize::from(self.payload_length());
        self.buffer
            .as_ref()
            .get(GENERIC_HEADER_LEN..len)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GenericPayload<T> {
    /// Writes the generic header (reserved bits zero).
    pub fn set_header(&mut self, next: PayloadType, critical: bool, length: u16) {
        let [hi, lo] = length.to_be_bytes();
        if let Some(h) = self.buffer.as_mut().get_mut(..GENERIC_HEADER_LEN) {
            h.copy_from_slice(&[next.0, if critical { 0x80 } else { 0 }, hi, lo]);
        }
    }
}

/// One payload of a chain, not yet decoded: its type (from the previous header), the fields of
/// its generic header and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    /// This payload's type (the previous header's Next Payload).
    pub payload_type: PayloadType,
    /// This header's Next Payload (for SK and SKF: the first inner payload's type).
    pub next_payload: PayloadType,
    /// The critical bit.
    pub critical: bool,
    /// The body after the generic header.
    pub body: &'a [u8],
}

/// A borrowed iterator over a payload chain, yielding `Result<RawPayload, Error>`.
///
/// The chain ends at Next Payload 0 or after an SK/SKF payload (whose Next Payload names the
/// first encrypted payload, RFC 7296 §3.14); bytes left over then are
/// [`Error::TrailingData`]. After an error the iterator is exhausted. Unknown payload types are
/// yielded like the others (their length lets the chain go on); deciding about the critical
/// bit is left to the caller (see [`Message::parse`](super::Message::parse)).
#[derive(Debug, Clone)]
pub struct Payloads<'a> {
    data: &'a [u8],
    next: PayloadType,
    done: bool,
}

impl<'a> Payloads<'a> {
    /// Iterates over `data`, whose first payload has type `first` (the IKE header's Next
    /// Payload, or the SK payload's for decrypted contents).
    pub fn new(first: PayloadType, data: &'a [u8]) -> Self {
        Payloads {
            data,
            next: first,
            done: false,
        }
    }
}

impl<'a> Iterator for Payloads<'a> {
    type Item = Result<RawPayload<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.next == PayloadType::NONE {
            self.done = true;
            return if self.data.is_empty() {
                None
            } else {
                Some(Err(Error::TrailingData {
                    len: self.data.len(),
                }))
            };
        }
        let p = match GenericPayload::new_checked(self.data) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let len = usize::from(p.payload_length());
        let item = RawPayload {
            payload_type: self.next,
            next_payload: p.next_payload(),
            critical: p.critical(),
            body: self.data.get(GENERIC_HEADER_LEN..len).unwrap_or(&[]),
        };
        self.data = self.data.get(len..).unwrap_or(&[]);
        self.next = if matches!(item.payload_type, PayloadType::SK | PayloadType::SKF) {
            PayloadType::NONE
        } else {
            item.next_payload
        };
        Some(Ok(item))
    }
}

/// A decoded payload (RFC 7296 §3.3–§3.16, RFC 7383 §2.5). The Next Payload field is not part
/// of it: [`Message`](super::Message) computes it from the chain (SK and SKF carry their
/// inner type themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// Security Association (§3.3).
    Sa(SaPayload),
    /// Key Exchange (§3.4).
    Ke(KePayload),
    /// Identification of the initiator (§3.5).
    IdI(Identity),
    /// Identification of the responder (§3.5).
    IdR(Identity),
    /// Certificate (§3.6).
    Cert(CertPayload),
    /// Certificate Request (§3.7).
    CertReq(CertPayload),
    /// Authentication (§3.8).
    Auth(AuthPayload),
    /// Nonce (§3.9): 16 to 256 bytes of randomness.
    Nonce(Vec<u8>),
    /// Notify (§3.10).
    Notify(NotifyPayload),
    /// Delete (§3.11).
    Delete(DeletePayload),
    /// Vendor ID (§3.12).
    VendorId(Vec<u8>),
    /// Traffic Selector, initiator (§3.13).
    TsI(TsPayload),
    /// Traffic Selector, responder (§3.13).
    TsR(TsPayload),
    /// Encrypted and Authenticated (§3.14), still protected.
    Sk(SkPayload),
    /// Configuration (§3.15).
    Cp(CpPayload),
    /// Extensible Authentication (§3.16): one EAP message.
    Eap(Vec<u8>),
    /// Encrypted and Authenticated Fragment (RFC 7383 §2.5), still protected.
    Skf(SkfPayload),
    /// A payload type this crate does not know, kept as bytes (it is skipped unless
    /// critical, RFC 7296 §2.5).
    Unknown {
        /// Its type.
        payload_type: PayloadType,
        /// Its critical bit.
        critical: bool,
        /// Its body.
        body: Vec<u8>,
    },
}

impl Payload {
    /// Decodes a payload body by its type. Unknown types become [`Payload::Unknown`] (with
    /// their critical bit); the critical bit of known types is ignored (§3.2).
    pub fn parse(raw: &RawPayload<'_>) -> Result<Payload, Error> {
        let b = raw.body;
        Ok(match raw.payload_type {
            PayloadType::SA => Payload::Sa(SaPayload::parse(b)?),
            PayloadType::KE => Payload::Ke(KePayload::parse(b)?),
            PayloadType::IDI => Payload::IdI(Identity::parse(b)?),
            PayloadType::IDR => Payload::IdR(Identity::parse(b)?),
            PayloadType::CERT => Payload::Cert(CertPayload::parse(b)?),
            PayloadType::CERTREQ => Payload::CertReq(CertPayload::parse(b)?),
            PayloadType::AUTH => Payload::Auth(AuthPayload::parse(b)?),
            PayloadType::NONCE => Payload::Nonce(b.to_vec()),
            PayloadType::NOTIFY => Payload::Notify(NotifyPayload::parse(b)?),
            PayloadType::DELETE => Payload::Delete(DeletePayload::parse(b)?),
            PayloadType::VENDOR_ID => Payload::VendorId(b.to_vec()),
            PayloadType::TSI => Payload::TsI(TsPayload::parse(b)?),
            PayloadType::TSR => Payload::TsR(TsPayload::parse(b)?),
            PayloadType::SK => Payload::Sk(SkPayload {
                inner_next: raw.next_payload,
                data: b.to_vec(),
            }),
            PayloadType::CP => Payload::Cp(CpPayload::parse(b)?),
            PayloadType::EAP => Payload::Eap(b.to_vec()),
            PayloadType::SKF => Payload::Skf(SkfPayload::parse(raw.next_payload, b)?),
            other => Payload::Unknown {
                payload_type: other,
                critical: raw.critical,
                body: b.to_vec(),
            },
        })
    }

    /// This payload's type.
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::IdI(_) => PayloadType::IDI,
            Payload::IdR(_) => PayloadType::IDR,
            Payload::Cert(_) => PayloadType::CERT,
            Payload::CertReq(_) => PayloadType::CERTREQ,
            Payload::Auth(_) => PayloadType::AUTH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFY,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::TsI(_) => PayloadType::TSI,
            Payload::TsR(_) => PayloadType::TSR,
            Payload::Sk(_) => PayloadType::SK,
            Payload::Cp(_) => PayloadType::CP,
            Payload::Eap(_) => PayloadType::EAP,
            Payload::Skf(_) => PayloadType::SKF,
            Payload::Unknown { payload_type, .. } => *payload_type,
        }
    }

    /// The critical bit this payload is sent with (only unknown payloads carry one).
    pub fn critical(&self) -> bool {
        matches!(self, Payload::Unknown { critical: true, .. })
    }

    /// Length of the body (without the generic header).
    pub fn body_len(&self) -> usize {
        match self {
            Payload::Sa(p) => p.buffer_len(),
            Payload::Ke(p) => p.buffer_len(),
            Payload::IdI(p) | Payload::IdR(p) => p.buffer_len(),
            Payload::Cert(p) | Payload::CertReq(p) => p.buffer_len(),
            Payload::Auth(p) => p.buffer_len(),
            Payload::Nonce(b) | Payload::VendorId(b) | Payload::Eap(b) => b.len(),
            Payload::Notify(p) => p.buffer_len(),
            Payload::Delete(p) => p.buffer_len(),
            Payload::TsI(p) | Payload::TsR(p) => p.buffer_len(),
            Payload::Sk(p) => p.data.len(),
            Payload::Cp(p) => p.buffer_len(),
            Payload::Skf(p) => p.buffer_len(),
            Payload::Unknown { body, .. } => body.len(),
        }
    }

    /// Length on the wire: generic header plus body.
    pub fn buffer_len(&self) -> usize {
        GENERIC_HEADER_LEN.saturating_add(self.body_len())
    }

    /// Writes the body into `buf` (exactly [`Payload::body_len`] bytes).
    pub fn emit_body(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        match self {
            Payload::Sa(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Ke(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::IdI(p) | Payload::IdR(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Cert(p) | Payload::CertReq(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Auth(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Nonce(b) | Payload::VendorId(b) | Payload::Eap(b) => w.put(b),
            Payload::Notify(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Delete(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::TsI(p) | Payload::TsR(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Sk(p) => w.put(&p.data),
            Payload::Cp(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Skf(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Unknown { body, .. } => w.put(body),
        }
    }

    /// Writes the generic header and the body into `buf` (at least [`Payload::buffer_len`]
    /// bytes). `next` is the type of the payload that follows (ignored by SK and SKF, whose
    /// Next Payload is their first inner payload's type).
    pub fn emit(&self, next: PayloadType, buf: &mut [u8]) -> Result<(), Error> {
        let len = len16("payload", self.buffer_len())?;
        let next = match self {
            Payload::Sk(p) => p.inner_next,
            Payload::Skf(p) => p.inner_next,
            _ => next,
        };
        let got = buf.len();
        let dst = buf
            .get_mut(..usize::from(len))
            .ok_or(Error::BufferTooSmall {
                needed: usize::from(len),
                got,
            })?;
        let (head, body) =
            dst.split_at_mut_checked(GENERIC_HEADER_LEN)
                .ok_or(Error::BufferTooSmall {
                    needed: GENERIC_HEADER_LEN,
                    got,
                })?;
        GenericPayload::new_unchecked(head).set_header(next, self.critical(), len);
        self.emit_body(body)
    }
}

/// The Key Exchange payload body (§3.4): group number, reserved, key exchange data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KePayload {
    /// The key exchange group ("Diffie-Hellman Group Num").
    pub group: KeGroup,
    /// The sender's public value.
    pub data: Vec<u8>,
}

impl KePayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let group = be16(b, 0).ok_or(truncated("KE payload", 4, b.len()))?;
        let data = b.get(4..).ok_or(truncated("KE payload", 4, b.len()))?;
        Ok(KePayload {
            group: KeGroup(group),
            data: data.to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        4usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u16(self.group.0)?;
        w.u16(0)?;
        w.put(&self.data)
    }
}

/// An identity: the IDi/IDr payload body (§3.5), ID type plus identification data.
///
/// The data is kept as bytes whatever the type (so anything re-emits unchanged); typed
/// constructors and accessors cover the common types.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// The ID type.
    pub id_type: IdType,
    /// The identification data.
    pub data: Vec<u8>,
}

impl Identity {
    /// An ID_IPV4_ADDR identity.
    pub fn ipv4(addr: Ipv4Addr) -> Self {
        Identity {
            id_type: IdType::IPV4_ADDR,
            data: addr.octets().to_vec(),
        }
    }

    /// An ID_IPV6_ADDR identity.
    pub fn ipv6(addr: Ipv6Addr) -> Self {
        Identity {
            id_type: IdType::IPV6_ADDR,
            data: addr.octets().to_vec(),
        }
    }

    /// An ID_IPV4_ADDR or ID_IPV6_ADDR identity.
    pub fn ip(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Self::ipv4(a),
            IpAddr::V6(a) => Self::ipv6(a),
        }
    }

    /// An ID_FQDN identity (`hub1.example.net`).
    pub fn fqdn(name: &str) -> Self {
        Identity {
            id_type: IdType::FQDN,
            data: name.as_bytes().to_vec(),
        }
    }

    /// An ID_RFC822_ADDR identity (`spoke@example.net`).
    pub fn rfc822(addr: &str) -> Self {
        Identity {
            id_type: IdType::RFC822_ADDR,
            data: addr.as_bytes().to_vec(),
        }
    }

    /// An ID_KEY_ID identity (opaque bytes).
    pub fn key_id(id: &[u8]) -> Self {
        Identity {
            id_type: IdType::KEY_ID,
            data: id.to_vec(),
        }
    }

    /// An ID_DER_ASN1_DN identity (a DER-encoded distinguished name, as bytes).
    pub fn der_asn1_dn(der: &[u8]) -> Self {
        Identity {
            id_type: IdType::DER_ASN1_DN,
            data: der.to_vec(),
        }
    }

    /// The address of an ID_IPV4_ADDR / ID_IPV6_ADDR identity with the right length.
    pub fn as_ip(&self) -> Option<IpAddr> {
        match self.id_type {
            IdType::IPV4_ADDR => {
                let o: [u8; 4] = self.data.as_slice().try_into().ok()?;
                Some(IpAddr::V4(o.into()))
            }
            IdType::IPV6_ADDR => {
                let o: [u8; 16] = self.data.as_slice().try_into().ok()?;
                Some(IpAddr::V6(o.into()))
            }
            _ => None,
        }
    }

    /// The text of an ID_FQDN / ID_RFC822_ADDR identity, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self.id_type {
            IdType::FQDN | IdType::RFC822_ADDR => core::str::from_utf8(&self.data).ok(),
            _ => None,
        }
    }

    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let id_type = u8_at(b, 0).ok_or(truncated("ID payload", 4, b.len()))?;
        let data = b.get(4..).ok_or(truncated("ID payload", 4, b.len()))?;
        Ok(Identity {
            id_type: IdType(id_type),
            data: data.to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        4usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.put(&[self.id_type.0, 0, 0, 0])?;
        w.put(&self.data)
    }

    /// The body as bytes: what RFC 7296 §2.15 calls RestOfInitIDPayload / RestOfRespIDPayload,
    /// the input of the MACedID in AUTH.
    pub fn to_body(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buffer_len());
        v.extend_from_slice(&[self.id_type.0, 0, 0, 0]);
        v.extend_from_slice(&self.data);
        v
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.as_ip() {
            write!(f, "{ip}")
        } else if let Some(s) = self.as_str() {
            f.write_str(s)
        } else {
            write!(f, "{}:{}", self.id_type, Hex(&self.data))
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({}, {self})", self.id_type)
    }
}

/// The CERT (§3.6) and CERTREQ (§3.7) payload body: an encoding and opaque data (the
/// certificate, or for CERTREQ the concatenated SHA-1 hashes of trusted CAs' public keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertPayload {
    /// The certificate encoding.
    pub encoding: CertEncoding,
    /// The certificate data or CA hashes.
    pub data: Vec<u8>,
}

impl CertPayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let encoding = u8_at(b, 0).ok_or(truncated("CERT payload", 1, 0))?;
        Ok(CertPayload {
            encoding: CertEncoding(encoding),
            data: b.get(1..).unwrap_or(&[]).to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        1usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u8(self.encoding.0)?;
        w.put(&self.data)
    }
}

/// The AUTH payload body (§3.8): method, reserved, authentication data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthPayload {
    /// The authentication method.
    pub method: AuthMethod,
    /// The authentication data (for a shared key: the PRF output, §2.15).
    pub data: Vec<u8>,
}

impl AuthPayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let method = u8_at(b, 0).ok_or(truncated("AUTH payload", 4, b.len()))?;
        let data = b.get(4..).ok_or(truncated("AUTH payload", 4, b.len()))?;
        Ok(AuthPayload {
            method: AuthMethod(method),
            data: data.to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        4usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.put(&[self.method.0, 0, 0, 0])?;
        w.put(&self.data)
    }
}

/// The Notify payload body (§3.10): protocol, SPI, notify type and data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyPayload {
    /// The protocol the SPI belongs to (0 when there is no SPI).
    pub protocol_id: ProtocolId,
    /// The SPI (empty for IKE SA notifications).
    pub spi: Vec<u8>,
    /// The notification type.
    pub notify_type: NotifyType,
    /// Type-specific data.
    pub data: Vec<u8>,
}

impl NotifyPayload {
    /// A notification without SPI.
    pub fn new(notify_type: NotifyType, data: &[u8]) -> Self {
        NotifyPayload {
            protocol_id: ProtocolId::NONE,
            spi: Vec::new(),
            notify_type,
            data: data.to_vec(),
        }
    }

    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(protocol), Some(spi_size), Some(notify_type)) =
            (u8_at(b, 0), u8_at(b, 1), be16(b, 2))
        else {
            return Err(truncated("Notify payload", 4, b.len()));
        };
        let spi_end = 4 + usize::from(spi_size);
        let spi = b
            .get(4..spi_end)
            .ok_or(truncated("Notify SPI", spi_end, b.len()))?;
        Ok(NotifyPayload {
            protocol_id: ProtocolId(protocol),
            spi: spi.to_vec(),
            notify_type: NotifyType(notify_type),
            data: b.get(spi_end..).unwrap_or(&[]).to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        4usize
            .saturating_add(self.spi.len())
            .saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let spi_size = u8::try_from(self.spi.len()).map_err(|_| Error::TooLong {
            what: "Notify SPI",
            len: self.spi.len(),
        })?;
        let mut w = Writer::new(buf);
        w.put(&[self.protocol_id.0, spi_size])?;
        w.u16(self.notify_type.0)?;
        w.put(&self.spi)?;
        w.put(&self.data)
    }
}

/// The Delete payload body (§3.11): protocol, SPI size and the SPIs to delete (none for an
/// IKE SA).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeletePayload {
    /// The protocol of the SAs deleted.
    pub protocol_id: ProtocolId,
    /// The size of each SPI (0 for IKE, 4 for ESP and AH).
    pub spi_size: u8,
    /// The SPIs, each `spi_size` bytes.
    pub spis: Vec<Vec<u8>>,
}

impl DeletePayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(protocol), Some(spi_size), Some(n)) = (u8_at(b, 0), u8_at(b, 1), be16(b, 2))
        else {
            return Err(truncated("Delete payload", 4, b.len()));
        };
        let size = usize::from(spi_size);
        let needed = 4 + size * usize::from(n);
        if b.len() != needed {
            return Err(Error::Malformed("Delete payload: SPI count and size"));
        }
        let rest = b.get(4..).unwrap_or(&[]);
        let spis = if size == 0 {
            Vec::new()
        } else {
            rest.chunks_exact(size).map(<[u8]>::to_vec).collect()
        };
        if spis.len() != usize::from(n) {
            return Err(Error::Malformed("Delete payload: SPI count and size"));
        }
        Ok(DeletePayload {
            protocol_id: ProtocolId(protocol),
            spi_size,
            spis,
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        4usize.saturating_add(self.spis.iter().map(Vec::len).sum())
    }

    /// Writes the body; every SPI must be `spi_size` bytes (and there are none if it is 0).
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        if self
            .spis
            .iter()
            .any(|s| s.len() != usize::from(self.spi_size))
            || (self.spi_size == 0 && !self.spis.is_empty())
        {
            return Err(Error::Malformed("Delete payload: SPI count and size"));
        }
        let mut w = Writer::new(buf);
        w.put(&[self.protocol_id.0, self.spi_size])?;
        w.u16(len16("Delete SPI count", self.spis.len())?)?;
        for s in &self.spis {
            w.put(s)?;
        }
        Ok(())
    }
}

/// The SK payload (§3.14), still protected: the IV, the ciphertext (inner payloads, padding,
/// pad length) and the integrity checksum, undivided (the split depends on the negotiated
/// transforms; see [`crate::sk`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SkPayload {
    /// The type of the first inner payload (the SK header's Next Payload).
    pub inner_next: PayloadType,
    /// IV, encrypted data and ICV.
    pub data: Vec<u8>,
}

/// The SKF payload (RFC 7383 §2.5), still protected: fragment number, total fragments, and IV,
/// ciphertext and ICV undivided.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SkfPayload {
    /// The first inner payload's type in fragment 1, 0 in the others.
    pub inner_next: PayloadType,
    /// This fragment's number, from 1.
    pub fragment_number: u16,
    /// The number of fragments.
    pub total_fragments: u16,
    /// IV, encrypted data and ICV.
    pub data: Vec<u8>,
}

impl SkfPayload {
    /// Parses the body (after the generic header whose Next Payload is `inner_next`).
    pub fn parse(inner_next: PayloadType, b: &[u8]) -> Result<Self, Error> {
        let (Some(n), Some(t)) = (be16(b, 0), be16(b, 2)) else {
            return Err(truncated("SKF payload", 4, b.len()));
        };
        Ok(SkfPayload {
            inner_next,
            fragment_number: n,
            total_fragments: t,
            data: b.get(4..).unwrap_or(&[]).to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        4usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u16(self.fragment_number)?;
        w.u16(self.total_fragments)?;
        w.put(&self.data)
    }
}

/// One configuration attribute (§3.15.1): a 15-bit type and a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigAttribute {
    /// The attribute type (15 bits; the reserved top bit is sent as zero).
    pub attr_type: ConfigAttributeType,
    /// The value (empty in requests).
    pub value: Vec<u8>,
}

/// The Configuration payload body (§3.15): CFG type and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CpPayload {
    /// Request, reply, set or ack.
    pub cfg_type: CfgType,
    /// The attributes.
    pub attributes: Vec<ConfigAttribute>,
}

impl CpPayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let cfg_type = u8_at(b, 0).ok_or(truncated("CP payload", 4, b.len()))?;
        let mut rest = b.get(4..).ok_or(truncated("CP payload", 4, b.len()))?;
        let mut attributes = Vec::new();
        while !rest.is_empty() {
            let (Some(t), Some(len)) = (be16(rest, 0), be16(rest, 2)) else {
                return Err(truncated("configuration attribute", 4, rest.len()));
            };
            let end = 4 + usize::from(len);
            let value =
                rest.get(4..end)
                    .ok_or(truncated("configuration attribute", end, rest.len()))?;
            attributes.push(ConfigAttribute {
                attr_type: ConfigAttributeType(t & 0x7fff),
                value: value.to_vec(),
            });
            rest = rest.get(end..).unwrap_or(&[]);
        }
        Ok(CpPayload {
            cfg_type: CfgType(cfg_type),
            attributes,
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        self.attributes.iter().fold(4usize, |n, a| {
            n.saturating_add(4).saturating_add(a.value.len())
        })
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.put(&[self.cfg_type.0, 0, 0, 0])?;
        for a in &self.attributes {
            w.u16(a.attr_type.0 & 0x7fff)?;
            w.u16(len16("configuration attribute", a.value.len())?)?;
            w.put(&a.value)?;
        }
        Ok(())
    }
}
