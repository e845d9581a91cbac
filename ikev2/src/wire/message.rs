//! Whole IKE messages: the header and the decoded payload chain.

use super::{ExchangeType, Flags, HEADER_LEN, Header, HeaderRepr, Payload, PayloadType, Payloads};
use crate::Error;

/// An IKE message: header fields and decoded payloads (RFC 7296 §3).
///
/// The Next Payload fields and the Length are computed on emit from `payloads`; an SK or SKF
/// payload ends the chain (§3.14). Parsing rejects a message carrying an unknown payload with
/// the critical bit set ([`Error::UnsupportedCriticalPayload`], §2.5) and keeps unknown
/// non-critical payloads as [`Payload::Unknown`].
///
/// ```
/// use dmvpn_ikev2::wire::{ExchangeType, Flags, Message, Payload};
///
/// let msg = Message {
///     spi_i: 0x0102_0304_0506_0708,
///     spi_r: 0,
///     minor_version: 0,
///     exchange_type: ExchangeType::IKE_SA_INIT,
///     flags: Flags::INITIATOR,
///     message_id: 0,
///     payloads: vec![Payload::Nonce(vec![7; 32])],
/// };
/// let bytes = msg.to_vec()?;
/// assert_eq!(bytes.len(), 28 + 4 + 32);
/// assert_eq!(Message::parse(&bytes)?, msg);
/// # Ok::<(), dmvpn_ikev2::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The initiator's SPI.
    pub spi_i: u64,
    /// The responder's SPI.
    pub spi_r: u64,
    /// The minor version (0; 4 bits).
    pub minor_version: u8,
    /// The exchange type.
    pub exchange_type: ExchangeType,
    /// The flags.
    pub flags: Flags,
    /// The message ID.
    pub message_id: u32,
    /// The payloads in order.
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Parses a message (the buffer may be longer than the Length field; the rest is ignored).
    pub fn parse(bytes: &[u8]) -> Result<Message, Error> {
        let h = Header::new_checked(bytes)?;
        let hdr = HeaderRepr::parse(&h)?;
        let payloads = parse_chain(hdr.next_payload, h.payload())?;
        Ok(Message {
            spi_i: hdr.spi_i,
            spi_r: hdr.spi_r,
            minor_version: hdr.minor_version,
            exchange_type: hdr.exchange_type,
            flags: hdr.flags,
            message_id: hdr.message_id,
            payloads,
        })
    }

    /// The header this message is sent with (Next Payload and Length computed).
    pub fn header(&self) -> Result<HeaderRepr, Error> {
        let length = u32::try_from(self.buffer_len()).map_err(|_| Error::TooLong {
            what: "message",
            len: self.buffer_len(),
        })?;
        Ok(HeaderRepr {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            next_payload: self
                .payloads
                .first()
                .map_or(PayloadType::NONE, Payload::payload_type),
            minor_version: self.minor_version,
            exchange_type: self.exchange_type,
            flags: self.flags,
            message_id: self.message_id,
            length,
        })
    }

    /// Length on the wire.
    pub fn buffer_len(&self) -> usize {
        chain_len(&self.payloads).saturating_add(HEADER_LEN)
    }

    /// Writes the message into `buf` (at least [`Message::buffer_len`] bytes); returns its
    /// length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
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
        emit_chain(&self.payloads, rest)?;
        Ok(len)
    }

    /// The message as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, Error> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }

    /// The first payload of a kind, by a selector such as
    /// `|p| if let Payload::Nonce(n) = p { Some(n) } else { None }`.
    pub fn find<'a, R>(&'a self, f: impl FnMut(&'a Payload) -> Option<R>) -> Option<R> {
        self.payloads.iter().find_map(f)
    }
}

/// Decodes a payload chain starting with type `first` (a message's payloads, or the decrypted
/// contents of an SK payload), rejecting unknown critical payloads (RFC 7296 §2.5).
pub fn parse_chain(first: PayloadType, data: &[u8]) -> Result<Vec<Payload>, Error> {
    let mut out = Vec::new();
    for raw in Payloads::new(first, data) {
        let p = Payload::parse(&raw?)?;
        if let Payload::Unknown {
            payload_type,
            critical: true,
            ..
        } = p
        {
            return Err(Error::UnsupportedCriticalPayload(payload_type));
        }
        out.push(p);
    }
    Ok(out)
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
