//! The IPv6 fixed header (RFC 8200 §3): a view over a packet and its high-level form.
//!
//! Only the fixed header is modelled: [`Repr::next_header`] is the first next-header value (47 for
//! GRE-in-IPv6, RFC 7676). Extension headers, if a peer sends any, are part of the payload for
//! the caller to walk.

use core::net::Ipv6Addr;

use crate::ip::IpProtocol;
use crate::{Error, be};

/// Length of the IPv6 fixed header.
pub const HEADER_LEN: usize = 40;

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validating it (accessors still never panic).
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after validating it (see [`Packet::check`]).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        p.check()?;
        Ok(p)
    }

    /// Validates version 6 and that the payload length fits the buffer (which may be longer).
    pub fn check(&self) -> Result<(), Error> {
        let got = self.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got,
            });
        }
        if self.version() != 6 {
            return Err(Error::IpVersion(self.version()));
        }
        let needed = HEADER_LEN + usize::from(self.payload_len());
        if got < needed {
            return Err(Error::Truncated { needed, got });
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn word0(&self) -> u32 {
        be::u32(self.buffer.as_ref(), 0)
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }

    /// Payload length field.
    pub fn payload_len(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 4)
    }

    /// Next header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref().get(6).copied().unwrap_or(0))
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref().get(7).copied().unwrap_or(0)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(be::get::<16>(self.buffer.as_ref(), 8))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(be::get::<16>(self.buffer.as_ref(), 24))
    }

    /// The payload, up to the payload length.
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        self.buffer.as_ref().get(HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload with the lifetime of the underlying buffer.
    pub fn into_payload(self) -> &'a [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        T::as_ref(self.buffer).get(HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        be::put(self.buffer.as_mut(), 7, &[hop_limit]);
    }

    /// The payload, up to the payload length, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        self.buffer
            .as_mut()
            .get_mut(HEADER_LEN..end)
            .unwrap_or(&mut [])
    }
}

/// An IPv6 fixed header in high-level form, plus the payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header (47 for GRE).
    pub next_header: IpProtocol,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Payload length.
    pub payload_len: usize,
}

impl Repr {
    /// A header with hop limit 255, traffic class 0 and no flow label.
    #[inline]
    pub fn new(
        src_addr: Ipv6Addr,
        dst_addr: Ipv6Addr,
        next_header: IpProtocol,
        payload_len: usize,
    ) -> Self {
        Repr {
            src_addr,
            dst_addr,
            next_header,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
            payload_len,
        }
    }

    /// Parses and validates a packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, Error> {
        packet.check()?;
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
            payload_len: usize::from(packet.payload_len()),
        })
    }

    /// Header length (always 40).
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header into the start of the packet; the payload is left as it is. Fails if the
    /// buffer is shorter than the header, the payload is over 65535 bytes (no jumbograms), or the
    /// flow label does not fit 20 bits.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
    ) -> Result<(), Error> {
        let len = u16::try_from(self.payload_len).map_err(|_| Error::TooLong(self.payload_len))?;
        if self.flow_label > 0x000f_ffff {
            return Err(Error::FlowLabel(self.flow_label));
        }
        let got = packet.buffer.as_ref().len();
        let buf = packet
            .buffer
            .as_mut()
            .get_mut(..HEADER_LEN)
            .ok_or(Error::BufferTooSmall {
                needed: HEADER_LEN,
                got,
            })?;
        let word0 = (6u32 << 28) | (u32::from(self.traffic_class) << 20) | self.flow_label;
        be::put_u32(buf, 0, word0);
        be::put_u16(buf, 4, len);
        be::put(buf, 6, &[self.next_header.0, self.hop_limit]);
        be::put(buf, 8, &self.src_addr.octets());
        be::put(buf, 24, &self.dst_addr.octets());
        Ok(())
    }
}
