//! Whole ISAKMP messages: the header and either the decoded payload chain or, when the E flag
//! is set (RFC 2408 §3.1), the still-encrypted body.

use super::{ExchangeType, Flags, HEADER_LEN, Header, HeaderRepr, Payload, PayloadType, Payloads};
use crate::Error;

/// A view of a whole message: the checked header and its body, walked without copying.
///
/// ```
/// use dmvpn_ikev1::wire::{BodyView, MessageView};
///
/// # let bytes = dmvpn_ikev1::wire::Message {
/// #     cookie_i: 1, cookie_r: 0, minor_version: 0,
/// #     exchange_type: dmvpn_ikev1::wire::ExchangeType::MAIN_MODE,
/// #     flags: dmvpn_ikev1::wire::Flags::NONE, message_id: 0,
/// #     body: dmvpn_ikev1::wire::Body::Clear(vec![dmvpn_ikev1::wire::Payload::Nonce(vec![7; 16])]),
/// # }.to_vec()?;
/// let view = MessageView::new_checked(&bytes[..])?;
/// match view.body() {
///     BodyView::Clear(payloads) => {
///         for p in payloads {
///             println!("{}", p?.payload_type);
///         }
///     }
///     BodyView::Encrypted { ciphertext, .. } => println!("{} bytes encrypted", ciphertext.len()),
/// }
/// # Ok::<(), dmvpn_ikev1::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageView<T: AsRef<[u8]>> {
    header: Header<T>,
}

/// The body of a [`MessageView`].
#[derive(Debug, Clone)]
pub enum BodyView<'a> {
    /// The payload chain of a cleartext message, bounds-checked as it is walked.
    Clear(Payloads<'a>),
    /// The body of a message with the E flag set: opaque until decrypted.
    Encrypted {
        /// The type of the first payload inside (the header's Next Payload).
        first_payload: PayloadType,
        /// The ciphertext (IV-chained CBC blocks in IKEv1, RFC 2409 Appendix B).
        ciphertext: &'a [u8],
    },
}

impl<T: AsRef<[u8]>> MessageView<T> {
    /// Wraps a buffer after checking its header ([`Header::check`]).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        Ok(MessageView {
            header: Header::new_checked(buffer)?,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header<T> {
        &self.header
    }

    /// The body: the payload chain, or the ciphertext when the E flag is set.
    pub fn body(&self) -> BodyView<'_> {
        let h = &self.header;
        if h.flags().encryption() {
            BodyView::Encrypted {
                first_payload: h.next_payload(),
                ciphertext: h.payload(),
            }
        } else {
            BodyView::Clear(Payloads::new(h.next_payload(), h.payload()))
        }
    }
}

/// The encrypted body of a message, carried until it is decrypted (RFC 2409 §5.3 and
/// Appendix B: the payload chain and padding, CBC-encrypted with the phase 1 key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncryptedBody {
    /// The type of the first payload inside (the header's Next Payload).
    pub first_payload: PayloadType,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
}

impl EncryptedBody {
    /// Decodes the decrypted contents `plaintext` of this body: the payload chain starting at
    /// [`EncryptedBody::first_payload`], and the length of the padding after it.
    pub fn parse_plaintext(&self, plaintext: &[u8]) -> Result<(Vec<Payload>, usize), Error> {
        parse_decrypted_chain(self.first_payload, plaintext)
    }
}

/// A message's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Cleartext payloads (E flag clear).
    Clear(Vec<Payload>),
    /// Still encrypted (E flag set).
    Encrypted(EncryptedBody),
}

/// An ISAKMP message: header fields and body (RFC 2408 §3).
///
/// The Next Payload fields and the Length are computed on emit from the body. The E flag must
/// agree with the body ([`Body::Encrypted`] if and only if it is set).
///
/// ```
/// use dmvpn_ikev1::wire::{Body, ExchangeType, Flags, KnownVendorId, Message, Payload};
///
/// let msg = Message {
///     cookie_i: 0x0102_0304_0506_0708,
///     cookie_r: 0,
///     minor_version: 0,
///     exchange_type: ExchangeType::MAIN_MODE,
///     flags: Flags::NONE,
///     message_id: 0,
///     body: Body::Clear(vec![Payload::VendorId(KnownVendorId::NatTRfc3947.to_bytes())]),
/// };
/// let bytes = msg.to_vec()?;
/// assert_eq!(bytes.len(), 28 + 4 + 16);
/// assert_eq!(Message::parse(&bytes)?, msg);
/// # Ok::<(), dmvpn_ikev1::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The initiator's cookie.
    pub cookie_i: u64,
    /// The responder's cookie.
    pub cookie_r: u64,
    /// The minor version (0; 4 bits).
    pub minor_version: u8,
    /// The exchange type.
    pub exchange_type: ExchangeType,
    /// The flags (E must agree with the body).
    pub flags: Flags,
    /// The message ID.
    pub message_id: u32,
    /// The payloads, or the ciphertext.
    pub body: Body,
}

impl Message {
    /// Parses a message (the buffer may be longer than the Length field; the rest is
    /// ignored). An encrypted body is kept as ciphertext; a cleartext one is decoded fully.
    pub fn parse(bytes: &[u8]) -> Result<Message, Error> {
        let h = Header::new_checked(bytes)?;
        let hdr = HeaderRepr::parse(&h)?;
        let body = if hdr.flags.encryption() {
            Body::Encrypted(EncryptedBody {
                first_payload: hdr.next_payload,
                ciphertext: h.payload().to_vec(),
            })
        } else {
            Body::Clear(parse_chain(hdr.next_payload, h.payload())?)
        };
        Ok(Message {
            cookie_i: hdr.cookie_i,
            cookie_r: hdr.cookie_r,
            minor_version: hdr.minor_version,
            exchange_type: hdr.exchange_type,
            flags: hdr.flags,
            message_id: hdr.message_id,
            body,
        })
    }

    /// The payloads of a cleartext message (`None` while encrypted).
    pub fn payloads(&self) -> Option<&[Payload]> {
        match &self.body {
            Body::Clear(p) => Some(p),
            Body::Encrypted(_) => None,
        }
    }

    /// The header this message is sent with (Next Payload and Length computed).
    pub fn header(&self) -> Result<HeaderRepr, Error> {
        let len = self.buffer_len();
        let length = u32::try_from(len).map_err(|_| Error::TooLong {
            what: "message",
            len,
        })?;
        let next_payload = match &self.body {
            Body::Clear(p) => p.first().map_or(PayloadType::NONE, Payload::payload_type),
            Body::Encrypted(e) => e.first_payload,
        };
        Ok(HeaderRepr {
            cookie_i: self.cookie_i,
            cookie_r: self.cookie_r,
            next_payload,
            minor_version: self.minor_version,
            exchange_type: self.exchange_type,
            flags: self.flags,
            message_id: self.message_id,
            length,
        })
    }

    /// Length on the wire.
    pub fn buffer_len(&self) -> usize {
        let body = match &self.body {
            Body::Clear(p) => chain_len(p),
            Body::Encrypted(e) => e.ciphertext.len(),
        };
        body.saturating_add(HEADER_LEN)
    }

    /// Writes the message into `buf` (at least [`Message::buffer_len`] bytes); returns its
    /// length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.flags.encryption() != matches!(self.body, Body::Encrypted(_)) {
            return Err(Error::Malformed(
                "message: the E flag and the body disagree",
            ));
        }
        let hdr = self.header()?;
        let len = self.buffer_len();
        let got = buf.len();
        let dst = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len, got })?;
        let (head, rest) = dst
            .split_at_mut_checked(HEADER_LEN)
            .ok_or(Error::BufferTooSmall {
                needed: HEADER_LEN,
                got,
            })?;
        hdr.emit(&mut Header::new_unchecked(head))?;
        match &self.body {
            Body::Clear(p) => emit_chain(p, rest)?,
            Body::Encrypted(e) => rest.copy_from_slice(&e.ciphertext),
        }
        Ok(len)
    }

    /// The message as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, Error> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }

    /// The first cleartext payload of a kind, by a selector such as
    /// `|p| if let Payload::Nonce(n) = p { Some(n) } else { None }`.
    pub fn find<'a, R>(&'a self, f: impl FnMut(&'a Payload) -> Option<R>) -> Option<R> {
        self.payloads()?.iter().find_map(f)
    }
}

/// Decodes a cleartext payload chain starting with type `first`; bytes after the last
/// payload are [`Error::TrailingData`].
pub fn parse_chain(first: PayloadType, data: &[u8]) -> Result<Vec<Payload>, Error> {
    Payloads::new(first, data)
        .map(|raw| Payload::parse(&raw?))
        .collect()
}

/// Decodes the decrypted contents of an encrypted body: the payload chain starting with type
/// `first`, then padding (RFC 2409 §5.3); returns the payloads and the padding's length.
pub fn parse_decrypted_chain(
    first: PayloadType,
    plaintext: &[u8],
) -> Result<(Vec<Payload>, usize), Error> {
    let mut it = Payloads::with_padding(first, plaintext);
    let payloads = it
        .by_ref()
        .map(|raw| Payload::parse(&raw?))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((payloads, it.rest().len()))
}

/// A payload chain as a new vector ([`emit_chain`]): the bytes a Quick Mode or Informational
/// HASH covers when they follow the HASH payload (RFC 2409 §5.5, §5.7), or the plaintext of an
/// encrypted body.
pub fn chain_to_vec(payloads: &[Payload]) -> Result<Vec<u8>, Error> {
    let mut v = vec![0u8; chain_len(payloads)];
    emit_chain(payloads, &mut v)?;
    Ok(v)
}

/// Length of a payload chain on the wire.
pub fn chain_len(payloads: &[Payload]) -> usize {
    payloads
        .iter()
        .fold(0usize, |n, p| n.saturating_add(p.buffer_len()))
}

/// Writes a payload chain (Next Payload fields linking them; the last one's is 0) into `buf`,
/// which must hold [`chain_len`] bytes.
pub fn emit_chain(payloads: &[Payload], buf: &mut [u8]) -> Result<(), Error> {
    let mut at = 0usize;
    for (i, p) in payloads.iter().enumerate() {
        let next = payloads
            .get(i + 1)
            .map_or(PayloadType::NONE, Payload::payload_type);
        let got = buf.len();
        let dst = buf
            .get_mut(at..)
            .ok_or(Error::BufferTooSmall { needed: at, got })?;
        p.emit(next, dst)?;
        at = at.saturating_add(p.buffer_len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(flags: Flags, body: Body) -> Message {
        Message {
            cookie_i: 1,
            cookie_r: 2,
            minor_version: 0,
            exchange_type: ExchangeType::QUICK_MODE,
            flags,
            message_id: 0x1234_5678,
            body,
        }
    }

    #[test]
    fn encrypted_bodies_stay_opaque() {
        let m = msg(
            Flags::ENCRYPTION,
            Body::Encrypted(EncryptedBody {
                first_payload: PayloadType::HASH,
                ciphertext: vec![0xee; 32],
            }),
        );
        let b = m.to_vec().unwrap();
        assert_eq!(b.len(), 60);
        assert_eq!(b[16], 8);
        assert_eq!(Message::parse(&b).unwrap(), m);
        assert!(m.payloads().is_none());
        let view = MessageView::new_checked(&b[..]).unwrap();
        assert!(matches!(
            view.body(),
            BodyView::Encrypted { first_payload: PayloadType::HASH, ciphertext } if ciphertext.len() == 32
        ));
    }

    #[test]
    fn the_e_flag_must_agree_with_the_body() {
        assert!(
            msg(Flags::ENCRYPTION, Body::Clear(vec![]))
                .to_vec()
                .is_err()
        );
        let enc = Body::Encrypted(EncryptedBody {
            first_payload: PayloadType::HASH,
            ciphertext: vec![],
        });
        assert!(msg(Flags::COMMIT, enc).to_vec().is_err());
    }

    #[test]
    fn decrypted_contents_end_in_padding() {
        // HASH with 4 bytes, then 7 bytes of padding with its length last.
        let mut plain = vec![0, 0, 0, 8, 1, 2, 3, 4];
        plain.extend_from_slice(&[0, 0, 0, 0, 0, 0, 7]);
        let body = EncryptedBody {
            first_payload: PayloadType::HASH,
            ciphertext: vec![],
        };
        let (p, pad) = body.parse_plaintext(&plain).unwrap();
        assert_eq!((p, pad), (vec![Payload::Hash(vec![1, 2, 3, 4])], 7));
        assert!(parse_chain(PayloadType::HASH, &plain).is_err());
    }

    #[test]
    fn trailing_bytes_beyond_the_length_field_are_ignored() {
        let m = msg(Flags::NONE, Body::Clear(vec![Payload::Hash(vec![9; 20])]));
        let mut b = m.to_vec().unwrap();
        b.extend_from_slice(&[0; 3]);
        assert_eq!(Message::parse(&b).unwrap(), m);
    }
}
