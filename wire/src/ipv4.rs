//! The IPv4 header (RFC 791): a view over a packet and its high-level form.

use core::net::Ipv4Addr;

use crate::ip::IpProtocol;
use crate::{Error, be, checksum};

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Maximum length of IPv4 options.
pub const MAX_OPTIONS_LEN: usize = 40;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 packet.
///
/// [`Packet::new_checked`] validates the version, IHL and total length against the buffer; the
/// buffer may be longer than the total length (link-layer padding), and [`Packet::payload`] stops
/// at the total length.
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

    /// Validates version 4, IHL ≥ 5, and IHL ≤ total length ≤ buffer length.
    pub fn check(&self) -> Result<(), Error> {
        let got = self.buffer.as_ref().len();
        if got < MIN_HEADER_LEN {
            return Err(Error::Truncated {
                needed: MIN_HEADER_LEN,
                got,
            });
        }
        if self.version() != 4 {
            return Err(Error::IpVersion(self.version()));
        }
        let hlen = self.header_len();
        if hlen < MIN_HEADER_LEN {
            return Err(Error::Ipv4HeaderLen(self.ihl()));
        }
        let total = usize::from(self.total_len());
        if total < hlen {
            return Err(Error::IpLength(total));
        }
        if got < total {
            return Err(Error::Truncated { needed: total, got });
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        self.byte(0) >> 4
    }

    /// The IHL field, in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.byte(0) & 0x0f
    }

    /// The header length in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// The DSCP/ECN byte (formerly type of service).
    pub fn dscp_ecn(&self) -> u8 {
        self.byte(1)
    }

    /// The total length field.
    pub fn total_len(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 2)
    }

    /// The identification field.
    pub fn identification(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 4)
    }

    fn flags_offset(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 6)
    }

    /// The don't-fragment flag.
    pub fn dont_fragment(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }

    /// The more-fragments flag.
    pub fn more_fragments(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }

    /// The fragment offset in bytes.
    pub fn fragment_offset(&self) -> u16 {
        (self.flags_offset() & OFFSET_MASK) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.byte(8)
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.byte(9))
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 10)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(be::get::<4>(self.buffer.as_ref(), 12))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(be::get::<4>(self.buffer.as_ref(), 16))
    }

    /// The options bytes.
    pub fn options(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(MIN_HEADER_LEN..self.header_len())
            .unwrap_or(&[])
    }

    /// Computes the header checksum with the checksum field taken as zero.
    pub fn compute_checksum(&self) -> u16 {
        let buf = self.buffer.as_ref();
        let sum = checksum::accumulate(0, buf.get(..10).unwrap_or(&[]));
        checksum::finish(checksum::accumulate(
            sum,
            buf.get(12..self.header_len()).unwrap_or(&[]),
        ))
    }

    /// Checks the header checksum: the received field must equal [`Packet::compute_checksum`]
    /// (the check [`Repr::parse`] makes).
    pub fn verify_checksum(&self) -> Result<(), Error> {
        let computed = self.compute_checksum();
        if self.checksum() != computed {
            return Err(Error::Ipv4Checksum {
                received: self.checksum(),
                computed,
            });
        }
        Ok(())
    }

    /// The payload, up to the total length.
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.total_len());
        self.buffer
            .as_ref()
            .get(self.header_len()..end)
            .unwrap_or(&[])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload with the lifetime of the underlying buffer.
    pub fn into_payload(self) -> &'a [u8] {
        let end = usize::from(self.total_len());
        T::as_ref(self.buffer)
            .get(self.header_len()..end)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the time to live (the header checksum is not updated: see
    /// [`crate::ip::decrement_ttl`] or [`crate::checksum::update`]).
    pub fn set_ttl(&mut self, ttl: u8) {
        be::put(self.buffer.as_mut(), 8, &[ttl]);
    }

    /// Sets the header checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        be::put_u16(self.buffer.as_mut(), 10, checksum);
    }

    /// Sets or clears don't-fragment (the header checksum is not updated).
    pub fn set_dont_fragment(&mut self, df: bool) {
        let flags = be::u16(self.buffer.as_ref(), 6);
        let flags = if df {
            flags | FLAG_DF
        } else {
            flags & !FLAG_DF
        };
        be::put_u16(self.buffer.as_mut(), 6, flags);
    }

    /// The payload, up to the total length, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        self.buffer.as_mut().get_mut(start..end).unwrap_or(&mut [])
    }
}

/// IPv4 options kept inline (at most 40 bytes), so that [`Repr`] stays `Copy` and allocation-free.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Options {
    bytes: [u8; MAX_OPTIONS_LEN],
    len: u8,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bytes: [0; MAX_OPTIONS_LEN],
            len: 0,
        }
    }
}

impl Options {
    /// Options from raw bytes: at most 40, a multiple of 4 (pad with End-of-Options zeroes).
    #[inline]
    pub fn new(raw: &[u8]) -> Result<Options, Error> {
        if raw.len() > MAX_OPTIONS_LEN || !raw.len().is_multiple_of(4) {
            return Err(Error::Ipv4Options(raw.len()));
        }
        let mut bytes = [0u8; MAX_OPTIONS_LEN];
        be::put(&mut bytes, 0, raw);
        Ok(Options {
            bytes,
            len: raw.len() as u8,
        })
    }

    /// The raw option bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when there are no options.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::fmt::Debug for Options {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Options({:02x?})", self.as_bytes())
    }
}

/// An IPv4 header in high-level form, plus the payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Payload protocol (47 for GRE).
    pub protocol: IpProtocol,
    /// Time to live.
    pub ttl: u8,
    /// DSCP and ECN (the old type-of-service byte).
    pub dscp_ecn: u8,
    /// Identification.
    pub identification: u16,
    /// Don't fragment.
    pub dont_fragment: bool,
    /// More fragments.
    pub more_fragments: bool,
    /// Fragment offset in bytes (a multiple of 8).
    pub fragment_offset: u16,
    /// Options (usually none).
    pub options: Options,
    /// Length of the payload.
    pub payload_len: usize,
}

impl Repr {
    /// A header with no options, not fragmented, identification 0.
    #[inline]
    pub fn new(
        src_addr: Ipv4Addr,
        dst_addr: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
    ) -> Self {
        Repr {
            src_addr,
            dst_addr,
            protocol,
            ttl: 255,
            dscp_ecn: 0,
            identification: 0,
            dont_fragment: false,
            more_fragments: false,
            fragment_offset: 0,
            options: Options::default(),
            payload_len,
        }
    }

    /// Parses and validates a packet, including its header checksum.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, Error> {
        packet.check()?;
        packet.verify_checksum()?;
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            dscp_ecn: packet.dscp_ecn(),
            identification: packet.identification(),
            dont_fragment: packet.dont_fragment(),
            more_fragments: packet.more_fragments(),
            fragment_offset: packet.fragment_offset(),
            options: Options::new(packet.options())?,
            payload_len: packet.payload().len(),
        })
    }

    /// True if this is a fragment (MF set or a nonzero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.fragment_offset != 0
    }

    /// Header length in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN + self.options.len()
    }

    /// Header plus payload.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the header (with its checksum) into the start of the packet; the payload is left
    /// as it is. Fails if the buffer is shorter than the header or the total length exceeds 65535.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
    ) -> Result<(), Error> {
        let hlen = self.header_len();
        let total =
            u16::try_from(self.buffer_len()).map_err(|_| Error::TooLong(self.payload_len))?;
        let got = packet.buffer.as_ref().len();
        let buf = packet
            .buffer
            .as_mut()
            .get_mut(..hlen)
            .ok_or(Error::BufferTooSmall { needed: hlen, got })?;
        let mut flags = (self.fragment_offset >> 3) & OFFSET_MASK;
        if self.dont_fragment {
            flags |= FLAG_DF;
        }
        if self.more_fragments {
            flags |= FLAG_MF;
        }
        let word0 = u16::from_be_bytes([0x40 | (hlen / 4) as u8, self.dscp_ecn]);
        let ttl_protocol = u16::from_be_bytes([self.ttl, self.protocol.0]);
        let (src, dst) = (self.src_addr.to_bits(), self.dst_addr.to_bits());
        // The checksum is summed from the field values, not read back from the header just
        // written: a read spanning several recent narrow stores cannot be forwarded from the
        // store buffer and stalls until they retire (it cost more than the rest of the header).
        let sum = [
            word0,
            total,
            self.identification,
            flags,
            ttl_protocol,
            (src >> 16) as u16,
            src as u16,
            (dst >> 16) as u16,
            dst as u16,
        ]
        .iter()
        .fold(0u64, |a, w| a + u64::from(*w));
        let options = self.options.as_bytes();
        let sum = if options.is_empty() {
            sum
        } else {
            checksum::accumulate(sum, options)
        };
        let c = checksum::finish(sum);
        be::put_u32(buf, 0, u32::from(word0) << 16 | u32::from(total));
        be::put_u32(
            buf,
            4,
            u32::from(self.identification) << 16 | u32::from(flags),
        );
        be::put_u32(buf, 8, u32::from(ttl_protocol) << 16 | u32::from(c));
        be::put_u32(buf, 12, src);
        be::put_u32(buf, 16, dst);
        if !options.is_empty() {
            be::put(buf, MIN_HEADER_LEN, options);
        }
        Ok(())
    }
}
