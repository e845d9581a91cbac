//! The generic payload header, the payload chain, and the decoded payloads (RFC 2408 §3.2,
//! §3.4–§3.16; RFC 3947 §3.2 and §5.2; the IKE fragment payload).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Next Payload  |   RESERVED    |         Payload Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{
    CertEncoding, DeletePayload, IdPayload, NatDPayload, NatOaPayload, NatTNumbering,
    NotifyPayload, PayloadType, SaPayload, Writer, be16, len16, truncated, u8_at,
};
use crate::Error;

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

    /// The type of the next payload.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(u8_at(self.buffer.as_ref(), 0).unwrap_or(0))
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
    /// Writes the generic header (RESERVED zero).
    pub fn set_header(&mut self, next: PayloadType, length: u16) {
        let [hi, lo] = length.to_be_bytes();
        dmvpn_wire::be::put(self.buffer.as_mut(), 0, &[next.0, 0, hi, lo]);
    }
}

/// One payload of a chain, not yet decoded: its type (from the previous header), its header's
/// Next Payload and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    /// This payload's type (the previous header's Next Payload).
    pub payload_type: PayloadType,
    /// This header's Next Payload.
    pub next_payload: PayloadType,
    /// The body after the generic header.
    pub body: &'a [u8],
}

/// A borrowed iterator over a payload chain, yielding `Result<RawPayload, Error>`.
///
/// The chain ends at Next Payload 0; bytes left over then are [`Error::TrailingData`], unless
/// the iterator was made with [`Payloads::with_padding`] for decrypted contents, which end in
/// padding (RFC 2409 §5.3); [`Payloads::rest`] is then that padding. After an error the
/// iterator is exhausted. Unknown payload types are yielded like the others (their length
/// lets the chain go on).
#[derive(Debug, Clone)]
pub struct Payloads<'a> {
    data: &'a [u8],
    next: PayloadType,
    padding: bool,
    done: bool,
}

impl<'a> Payloads<'a> {
    /// Iterates over `data`, whose first payload has type `first` (the header's Next
    /// Payload).
    pub fn new(first: PayloadType, data: &'a [u8]) -> Self {
        Payloads {
            data,
            next: first,
            padding: false,
            done: false,
        }
    }

    /// Iterates over decrypted contents: like [`Payloads::new`], but what follows the last
    /// payload is padding, not an error.
    pub fn with_padding(first: PayloadType, data: &'a [u8]) -> Self {
        Payloads {
            padding: true,
            ..Self::new(first, data)
        }
    }

    /// The bytes not consumed yet (after the chain's end: the padding).
    pub fn rest(&self) -> &'a [u8] {
        self.data
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
            return if self.data.is_empty() || self.padding {
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
            body: self.data.get(GENERIC_HEADER_LEN..len).unwrap_or(&[]),
        };
        self.data = self.data.get(len..).unwrap_or(&[]);
        self.next = item.next_payload;
        Some(Ok(item))
    }
}

/// A decoded payload. The Next Payload field is not part of it: the chain computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// Security Association (RFC 2408 §3.4) with its proposals and transforms.
    Sa(SaPayload),
    /// Key Exchange (§3.7): the Diffie-Hellman public value.
    Ke(Vec<u8>),
    /// Identification (§3.8, RFC 2407 §4.6.2).
    Id(IdPayload),
    /// Certificate (§3.9).
    Cert(CertPayload),
    /// Certificate Request (§3.10).
    CertRequest(CertRequestPayload),
    /// Hash (§3.11): HASH_I / HASH_R, or Quick Mode's HASH(1)–HASH(3).
    Hash(Vec<u8>),
    /// Signature (§3.12).
    Signature(Vec<u8>),
    /// Nonce (§3.13).
    Nonce(Vec<u8>),
    /// Notification (§3.14).
    Notify(NotifyPayload),
    /// Delete (§3.15).
    Delete(DeletePayload),
    /// Vendor ID (§3.16): opaque bytes (name them with
    /// [`recognise_vendor_id`](super::recognise_vendor_id)).
    VendorId(Vec<u8>),
    /// NAT Discovery (RFC 3947 §3.2; 20, 130 or 15).
    NatD(NatDPayload),
    /// NAT Original Address (RFC 3947 §5.2; 21, 131 or 16).
    NatOa(NatOaPayload),
    /// An IKE fragment (payload 132).
    Fragment(FragmentPayload),
    /// A payload type this crate does not decode, kept as bytes (ISAKMP has no critical
    /// bit: unknown payloads are the receiver's to refuse).
    Unknown {
        /// Its type.
        payload_type: PayloadType,
        /// Its body.
        body: Vec<u8>,
    },
}

impl Payload {
    /// Decodes a payload body by its type. Types without a decoding become
    /// [`Payload::Unknown`]; a Proposal or Transform outside an SA payload is
    /// [`Error::MisplacedPayload`].
    pub fn parse(raw: &RawPayload<'_>) -> Result<Payload, Error> {
        let b = raw.body;
        let t = raw.payload_type;
        if let Some(n) = NatTNumbering::of_nat_d(t) {
            return Ok(Payload::NatD(NatDPayload {
                numbering: n,
                hash: b.to_vec(),
            }));
        }
        if let Some(n) = NatTNumbering::of_nat_oa(t) {
            return Ok(Payload::NatOa(NatOaPayload::parse(n, b)?));
        }
        Ok(match t {
            PayloadType::SA => Payload::Sa(SaPayload::parse(b)?),
            PayloadType::PROPOSAL | PayloadType::TRANSFORM => {
                return Err(Error::MisplacedPayload(t));
            }
            PayloadType::KE => Payload::Ke(b.to_vec()),
            PayloadType::ID => Payload::Id(IdPayload::parse(b)?),
            PayloadType::CERT => Payload::Cert(CertPayload::parse(b)?),
            PayloadType::CR => Payload::CertRequest(CertRequestPayload::parse(b)?),
            PayloadType::HASH => Payload::Hash(b.to_vec()),
            PayloadType::SIG => Payload::Signature(b.to_vec()),
            PayloadType::NONCE => Payload::Nonce(b.to_vec()),
            PayloadType::NOTIFICATION => Payload::Notify(NotifyPayload::parse(b)?),
            PayloadType::DELETE => Payload::Delete(DeletePayload::parse(b)?),
            PayloadType::VENDOR_ID => Payload::VendorId(b.to_vec()),
            PayloadType::FRAGMENT => Payload::Fragment(FragmentPayload::parse(b)?),
            other => Payload::Unknown {
                payload_type: other,
                body: b.to_vec(),
            },
        })
    }

    /// Whether [`Payload::parse`] decodes this type into something other than
    /// [`Payload::Unknown`] (or refuses it as misplaced).
    pub const fn is_decoded_type(t: PayloadType) -> bool {
        matches!(t.0, 1..=13 | 15 | 16 | 20 | 21 | 130..=132)
    }

    /// This payload's type.
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::Id(_) => PayloadType::ID,
            Payload::Cert(_) => PayloadType::CERT,
            Payload::CertRequest(_) => PayloadType::CR,
            Payload::Hash(_) => PayloadType::HASH,
            Payload::Signature(_) => PayloadType::SIG,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFICATION,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::NatD(p) => p.numbering.nat_d(),
            Payload::NatOa(p) => p.numbering.nat_oa(),
            Payload::Fragment(_) => PayloadType::FRAGMENT,
            Payload::Unknown { payload_type, .. } => *payload_type,
        }
    }

    /// Length of the body (without the generic header).
    pub fn body_len(&self) -> usize {
        match self {
            Payload::Sa(p) => p.buffer_len(),
            Payload::Ke(b)
            | Payload::Hash(b)
            | Payload::Signature(b)
            | Payload::Nonce(b)
            | Payload::VendorId(b)
            | Payload::NatD(NatDPayload { hash: b, .. })
            | Payload::Unknown { body: b, .. } => b.len(),
            Payload::Id(p) => p.buffer_len(),
            Payload::Cert(p) => p.buffer_len(),
            Payload::CertRequest(p) => p.buffer_len(),
            Payload::Notify(p) => p.buffer_len(),
            Payload::Delete(p) => p.buffer_len(),
            Payload::NatOa(p) => p.buffer_len(),
            Payload::Fragment(p) => p.buffer_len(),
        }
    }

    /// Length on the wire: generic header plus body.
    pub fn buffer_len(&self) -> usize {
        GENERIC_HEADER_LEN.saturating_add(self.body_len())
    }

    /// Writes the body into `buf` (exactly [`Payload::body_len`] bytes). An
    /// [`Payload::Unknown`] of a type this crate decodes is refused (it would not parse back
    /// as itself).
    pub fn emit_body(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        match self {
            Payload::Sa(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Ke(b)
            | Payload::Hash(b)
            | Payload::Signature(b)
            | Payload::Nonce(b)
            | Payload::VendorId(b)
            | Payload::NatD(NatDPayload { hash: b, .. }) => w.put(b),
            Payload::Id(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Cert(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::CertRequest(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Notify(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Delete(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::NatOa(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Fragment(p) => p.emit(w.sub(p.buffer_len())?),
            Payload::Unknown { payload_type, body } => {
                if Self::is_decoded_type(*payload_type) || *payload_type == PayloadType::NONE {
                    return Err(Error::Malformed(
                        "an unknown payload of a type this crate decodes",
                    ));
                }
                w.put(body)
            }
        }
    }

    /// Writes the generic header and the body into `buf` (at least [`Payload::buffer_len`]
    /// bytes); `next` is the type of the payload that follows.
    pub fn emit(&self, next: PayloadType, buf: &mut [u8]) -> Result<(), Error> {
        let len = len16("payload", self.buffer_len())?;
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
        GenericPayload::new_unchecked(head).set_header(next, len);
        self.emit_body(body)
    }
}

/// The Certificate payload body (RFC 2408 §3.9): an encoding and the certificate data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertPayload {
    /// The certificate encoding.
    pub encoding: CertEncoding,
    /// The certificate data.
    pub data: Vec<u8>,
}

impl CertPayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (&encoding, data) = b
            .split_first()
            .ok_or(truncated("Certificate payload", 1, 0))?;
        Ok(CertPayload {
            encoding: CertEncoding(encoding),
            data: data.to_vec(),
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

/// The Certificate Request payload body (RFC 2408 §3.10): the certificate type wanted and an
/// acceptable certificate authority (a DER distinguished name for X.509; may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertRequestPayload {
    /// The certificate type requested.
    pub cert_type: CertEncoding,
    /// The certificate authority, as bytes.
    pub authority: Vec<u8>,
}

impl CertRequestPayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (&cert_type, authority) =
            b.split_first()
                .ok_or(truncated("Certificate Request payload", 1, 0))?;
        Ok(CertRequestPayload {
            cert_type: CertEncoding(cert_type),
            authority: authority.to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        1usize.saturating_add(self.authority.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u8(self.cert_type.0)?;
        w.put(&self.authority)
    }
}

/// An IKE fragment payload body (payload 132, announced by the FRAGMENTATION vendor ID): a
/// piece of a whole ISAKMP message too large for one datagram.
///
/// ```text
/// | Fragment ID (2) | Fragment Number | Flags | Fragment Data ... |
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FragmentPayload {
    /// Which message the fragment belongs to.
    pub id: u16,
    /// The fragment's number, from 1.
    pub number: u8,
    /// The flags ([`FragmentPayload::LAST`]).
    pub flags: u8,
    /// This piece of the message.
    pub data: Vec<u8>,
}

impl FragmentPayload {
    /// The flag of the last fragment.
    pub const LAST: u8 = 0x01;

    /// Whether this is the last fragment.
    pub const fn is_last(&self) -> bool {
        self.flags & Self::LAST != 0
    }

    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(id), Some(number), Some(flags)) = (be16(b, 0), u8_at(b, 2), u8_at(b, 3)) else {
            return Err(truncated("fragment payload", 4, b.len()));
        };
        Ok(FragmentPayload {
            id,
            number,
            flags,
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
        w.u16(self.id)?;
        w.put(&[self.number, self.flags])?;
        w.put(&self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_walks_and_stops_cleanly() {
        // VID (4 bytes of body) then NONCE (0 bytes), then 3 stray bytes.
        let b = [10, 0, 0, 8, 1, 2, 3, 4, 0, 0, 0, 4, 9, 9, 9];
        let mut it = Payloads::new(PayloadType::VENDOR_ID, &b);
        let vid = it.next().unwrap().unwrap();
        assert_eq!(
            (vid.payload_type, vid.body),
            (PayloadType::VENDOR_ID, &[1, 2, 3, 4][..])
        );
        assert_eq!(it.next().unwrap().unwrap().payload_type, PayloadType::NONCE);
        assert_eq!(it.next(), Some(Err(Error::TrailingData { len: 3 })));
        assert_eq!(it.next(), None);
        let mut padded = Payloads::with_padding(PayloadType::VENDOR_ID, &b);
        assert_eq!(padded.by_ref().count(), 2);
        assert_eq!(padded.rest(), &[9, 9, 9]);
    }

    #[test]
    fn bad_lengths_end_the_chain() {
        for b in [&[0u8, 0, 0, 3][..], &[0, 0, 0, 9, 1], &[0, 0]] {
            let mut it = Payloads::new(PayloadType::HASH, b);
            assert!(it.next().unwrap().is_err());
            assert_eq!(it.next(), None);
        }
    }

    #[test]
    fn proposals_outside_sa_and_disguised_unknowns_are_refused() {
        let raw = RawPayload {
            payload_type: PayloadType::PROPOSAL,
            next_payload: PayloadType::NONE,
            body: &[],
        };
        assert_eq!(
            Payload::parse(&raw),
            Err(Error::MisplacedPayload(PayloadType::PROPOSAL))
        );
        let fake = Payload::Unknown {
            payload_type: PayloadType::HASH,
            body: vec![],
        };
        assert!(fake.emit_body(&mut []).is_err());
        let attr = Payload::Unknown {
            payload_type: PayloadType::ATTRIBUTES,
            body: vec![1],
        };
        let mut b = [0u8; 5];
        attr.emit(PayloadType::NONE, &mut b).unwrap();
        assert_eq!(b, [0, 0, 0, 5, 1]);
    }

    #[test]
    fn fragment_flags() {
        let f = FragmentPayload::parse(&[0, 7, 2, 1, 0xaa]).unwrap();
        assert_eq!(
            (f.id, f.number, f.is_last(), f.data.as_slice()),
            (7, 2, true, &[0xaa][..])
        );
        assert!(FragmentPayload::parse(&[0, 7, 2]).is_err());
    }
}
