//! The GRE header: RFC 2784 with the key and sequence number extensions of RFC 2890.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |C|R|K|S|s|Recur|  Reserved0  | Ver |         Protocol Type         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Checksum (optional)      |       Reserved1 (Optional)    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Key (optional)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Sequence Number (Optional)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! R, s and the high Recur bit are RFC 1701 fields; RFC 2784 §2.5 requires a packet with any of
//! bits 1–5 set to be discarded, and this module rejects it with [`Error::RoutingPresent`] or
//! [`Error::Rfc1701Flags`]. Bits 6–12 and Reserved1 must be sent as zero and ignored on receipt;
//! the [`Repr`] keeps them (default zero) only so that any accepted header re-emits byte for byte.

use core::fmt;

use super::be;
use crate::Error;
use dmvpn_wire::checksum;

/// Checksum present (RFC 2784).
pub const FLAG_CHECKSUM: u16 = 0x8000;
/// Routing present (RFC 1701 only; rejected).
pub const FLAG_ROUTING: u16 = 0x4000;
/// Key present (RFC 2890 §2.1).
pub const FLAG_KEY: u16 = 0x2000;
/// Sequence number present (RFC 2890 §2.2).
pub const FLAG_SEQUENCE: u16 = 0x1000;
/// RFC 1701 strict source route and the top recursion-control bit: bits 4–5, rejected.
pub const FLAGS_RFC1701: u16 = 0x0c00;
/// Bits 6–12: reserved, sent as zero, ignored on receipt (RFC 2784 §2.5).
pub const RESERVED0_MASK: u16 = 0x03f8;
/// The version field, bits 13–15.
pub const VERSION_MASK: u16 = 0x0007;

/// Length of the mandatory part of the header (flags, version, protocol type).
pub const BASE_HEADER_LEN: usize = 4;

/// Header length for a set of options: 4 bytes plus 4 for each of checksum, key and sequence.
///
/// ```
/// assert_eq!(dmvpn_gre::wire::gre::header_len(false, true, false), 8);
/// assert_eq!(dmvpn_gre::wire::gre::header_len(true, true, true), 16);
/// ```
pub const fn header_len(checksum: bool, key: bool, sequence: bool) -> usize {
    BASE_HEADER_LEN + 4 * (checksum as usize + key as usize + sequence as usize)
}

/// The protocol type of the payload: an EtherType (RFC 2784 §2.4). Open: any value parses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Protocol(pub u16);

impl Protocol {
    /// IPv4.
    pub const IPV4: Protocol = Protocol(0x0800);
    /// IPv6.
    pub const IPV6: Protocol = Protocol(0x86dd);
    /// NHRP as carried by Cisco DMVPN (and Linux/FRR) inside GRE.
    pub const NHRP: Protocol = Protocol(0x2001);
    /// MPLS unicast.
    pub const MPLS: Protocol = Protocol(0x8847);
    /// Transparent Ethernet bridging (Ethernet frames in GRE).
    pub const TRANSPARENT_ETHERNET: Protocol = Protocol(0x6558);

    /// A short name for the known values, `None` for others.
    pub const fn name(self) -> Option<&'static str> {
        match self.0 {
            0x0800 => Some("IPv4"),
            0x86dd => Some("IPv6"),
            0x2001 => Some("NHRP"),
            0x8847 => Some("MPLS"),
            0x6558 => Some("Ethernet"),
            _ => None,
        }
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({:#06x})", self.0),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

impl From<u16> for Protocol {
    fn from(v: u16) -> Self {
        Protocol(v)
    }
}

/// A read/write view of a GRE packet (header and payload).
///
/// [`Packet::new_checked`] validates the version, the RFC 1701 bits and that the buffer holds the
/// whole header; afterwards no accessor panics. The checksum is verified by [`Repr::parse`] (or
/// [`Packet::verify_checksum`]), not by the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validating it. Accessors never panic, but return zeroes for fields
    /// beyond the buffer; use [`Packet::new_checked`] on untrusted input.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after validating it (see [`Packet::check`]).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    /// Validates version 0, no RFC 1701 routing/strict-route/recursion bits, and that the buffer
    /// holds the header the flags announce.
    pub fn check(&self) -> Result<(), Error> {
        validate(self.buffer.as_ref()).map(|_| ())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The first 16 bits: flags, reserved bits and version.
    pub fn flags(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 0)
    }

    /// The C bit.
    pub fn checksum_present(&self) -> bool {
        self.flags() & FLAG_CHECKSUM != 0
    }

    /// The K bit.
    pub fn key_present(&self) -> bool {
        self.flags() & FLAG_KEY != 0
    }

    /// The S bit.
    pub fn sequence_present(&self) -> bool {
        self.flags() & FLAG_SEQUENCE != 0
    }

    /// Reserved bits 6–12, right-aligned.
    pub fn reserved0(&self) -> u8 {
        ((self.flags() & RESERVED0_MASK) >> 3) as u8
    }

    /// The version field (0 for RFC 2784 GRE).
    pub fn version(&self) -> u8 {
        (self.flags() & VERSION_MASK) as u8
    }

    /// The payload's protocol type.
    pub fn protocol(&self) -> Protocol {
        Protocol(be::u16(self.buffer.as_ref(), 2))
    }

    /// The header length the flags announce.
    pub fn header_len(&self) -> usize {
        header_len(
            self.checksum_present(),
            self.key_present(),
            self.sequence_present(),
        )
    }

    fn key_offset(&self) -> usize {
        header_len(self.checksum_present(), false, false)
    }

    fn sequence_offset(&self) -> usize {
        header_len(self.checksum_present(), self.key_present(), false)
    }

    /// The checksum field, if present.
    pub fn checksum(&self) -> Option<u16> {
        self.checksum_present()
            .then(|| be::u16(self.buffer.as_ref(), 4))
    }

    /// The Reserved1 field that follows the checksum, if present.
    pub fn reserved1(&self) -> Option<u16> {
        self.checksum_present()
            .then(|| be::u16(self.buffer.as_ref(), 6))
    }

    /// The key, if present.
    pub fn key(&self) -> Option<u32> {
        self.key_present()
            .then(|| be::u32(self.buffer.as_ref(), self.key_offset()))
    }

    /// The sequence number, if present.
    pub fn sequence(&self) -> Option<u32> {
        self.sequence_present()
            .then(|| be::u32(self.buffer.as_ref(), self.sequence_offset()))
    }

    /// The payload: everything after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }

    /// Computes the checksum over the whole packet with the checksum field taken as zero.
    pub fn compute_checksum(&self) -> u16 {
        checksum_of(self.buffer.as_ref())
    }

    /// True if there is no checksum, or if the checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        match self.checksum() {
            None => true,
            Some(c) => c == self.compute_checksum(),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload with the lifetime of the underlying buffer.
    pub fn into_payload(self) -> &'a [u8] {
        T::as_ref(self.buffer)
            .get(self.header_len()..)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the first 16 bits (flags, reserved bits, version).
    pub fn set_flags(&mut self, flags: u16) {
        be::put_u16(self.buffer.as_mut(), 0, flags);
    }

    /// Sets the protocol type.
    pub fn set_protocol(&mut self, protocol: Protocol) {
        be::put_u16(self.buffer.as_mut(), 2, protocol.0);
    }

    /// Sets the checksum field (no-op if the C bit is clear).
    pub fn set_checksum(&mut self, value: u16) {
        if self.checksum_present() {
            be::put_u16(self.buffer.as_mut(), 4, value);
        }
    }

    /// Sets the Reserved1 field (no-op if the C bit is clear).
    pub fn set_reserved1(&mut self, value: u16) {
        if self.checksum_present() {
            be::put_u16(self.buffer.as_mut(), 6, value);
        }
    }

    /// Sets the key (no-op if the K bit is clear).
    pub fn set_key(&mut self, key: u32) {
        if self.key_present() {
            let at = self.key_offset();
            be::put_u32(self.buffer.as_mut(), at, key);
        }
    }

    /// Sets the sequence number (no-op if the S bit is clear).
    pub fn set_sequence(&mut self, sequence: u32) {
        if self.sequence_present() {
            let at = self.sequence_offset();
            be::put_u32(self.buffer.as_mut(), at, sequence);
        }
    }

    /// Computes and stores the checksum over the whole buffer (no-op if the C bit is clear).
    pub fn fill_checksum(&mut self) {
        if self.checksum_present() {
            let c = self.compute_checksum();
            self.set_checksum(c);
        }
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        self.buffer.as_mut().get_mut(at..).unwrap_or(&mut [])
    }
}

/// A GRE header in high-level form, plus the payload length.
///
/// The version is always 0 (others are rejected on parse). `parse` verifies the checksum when
/// present; `emit` computes it. The payload is not part of the `Repr`: it is whatever follows the
/// header in the buffer, so encapsulation never copies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// C: a checksum over header and payload is present.
    pub checksum_present: bool,
    /// The payload's protocol type.
    pub protocol: Protocol,
    /// K: the key (RFC 2890 §2.1), if present.
    pub key: Option<u32>,
    /// S: the sequence number (RFC 2890 §2.2), if present.
    pub sequence: Option<u32>,
    /// Reserved bits 6–12 (right-aligned, 7 bits). Zero when sending; kept on receipt only for
    /// byte-exact re-emission (RFC 2784 §2.5 says to ignore them).
    pub reserved0: u8,
    /// Reserved1 (present with the checksum). Zero when sending; kept like `reserved0`.
    pub reserved1: u16,
    /// Length of the payload that follows the header.
    pub payload_len: usize,
}

impl Repr {
    /// A header for `protocol` with no options.
    pub const fn new(protocol: Protocol, payload_len: usize) -> Self {
        Repr {
            checksum_present: false,
            protocol,
            key: None,
            sequence: None,
            reserved0: 0,
            reserved1: 0,
            payload_len,
        }
    }

    /// Parses and validates a packet, verifying the checksum when present.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, Error> {
        parse(packet.buffer.as_ref()).map(|(repr, _)| repr)
    }

    /// The header length.
    pub const fn header_len(&self) -> usize {
        header_len(
            self.checksum_present,
            self.key.is_some(),
            self.sequence.is_some(),
        )
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// The first 16 bits of the header for this representation.
    pub fn flags(&self) -> u16 {
        let mut flags = (u16::from(self.reserved0) << 3) & RESERVED0_MASK;
        if self.checksum_present {
            flags |= FLAG_CHECKSUM;
        }
        if self.key.is_some() {
            flags |= FLAG_KEY;
        }
        if self.sequence.is_some() {
            flags |= FLAG_SEQUENCE;
        }
        flags
    }

    /// Writes the header into the first [`Repr::header_len`] bytes of the packet and, when the
    /// checksum is present, computes it over the header and the first `payload_len` payload bytes,
    /// which must already be in place. Bytes beyond [`Repr::buffer_len`] are left alone and not
    /// covered by the checksum.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
    ) -> Result<(), Error> {
        let needed = self.buffer_len();
        let got = packet.buffer.as_ref().len();
        let buf = packet
            .buffer
            .as_mut()
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed, got })?;
        // The fields in order, each written once (the setters of `Packet` would read the flags
        // back for every field).
        // With a checksum, the header's part of the sum comes from the field values, not from
        // reading back the bytes just written (such a read stalls: the store buffer cannot
        // forward it); the payload, already in place, is summed from the buffer.
        let flags = self.flags();
        let hlen = self.header_len();
        let mut sum = u64::from(flags) + u64::from(self.protocol.0);
        let mut at = BASE_HEADER_LEN;
        if self.checksum_present {
            sum += u64::from(self.reserved1);
            at += 4;
        }
        if let Some(key) = self.key {
            be::put_u32(buf, at, key);
            sum += u64::from(key >> 16) + u64::from(key & 0xffff);
            at += 4;
        }
        if let Some(seq) = self.sequence {
            be::put_u32(buf, at, seq);
            sum += u64::from(seq >> 16) + u64::from(seq & 0xffff);
        }
        be::put_u32(buf, 0, u32::from(flags) << 16 | u32::from(self.protocol.0));
        if self.checksum_present {
            let payload = buf.get(hlen..).unwrap_or(&[]);
            let c = checksum::finish(checksum::accumulate(sum, payload));
            be::put_u32(buf, 4, u32::from(c) << 16 | u32::from(self.reserved1));
        }
        Ok(())
    }
}

/// The checksum over a whole GRE packet with its checksum field (bytes 4–5) taken as zero.
#[inline]
fn checksum_of(buf: &[u8]) -> u16 {
    // Sum the first word (flags + protocol), skip the checksum field, sum the rest.
    let sum = checksum::accumulate(0, buf.get(..4).unwrap_or(&[]));
    let sum = checksum::accumulate(sum, buf.get(6..).unwrap_or(&[]));
    checksum::finish(sum)
}

/// The checks of [`Packet::check`], in its order, reading the flags once: returns the flags and
/// the header length they announce.
#[inline]
fn validate(buf: &[u8]) -> Result<(u16, usize), Error> {
    let got = buf.len();
    let Some(flags) = be::read_u16(buf, 0).filter(|_| got >= BASE_HEADER_LEN) else {
        return Err(Error::Truncated {
            needed: BASE_HEADER_LEN,
            got,
        });
    };
    if flags & FLAG_ROUTING != 0 {
        return Err(Error::RoutingPresent);
    }
    if flags & FLAGS_RFC1701 != 0 {
        return Err(Error::Rfc1701Flags(flags & FLAGS_RFC1701));
    }
    let version = (flags & VERSION_MASK) as u8;
    if version != 0 {
        return Err(Error::UnsupportedVersion(version));
    }
    let needed = header_len(
        flags & FLAG_CHECKSUM != 0,
        flags & FLAG_KEY != 0,
        flags & FLAG_SEQUENCE != 0,
    );
    if got < needed {
        return Err(Error::Truncated { needed, got });
    }
    Ok((flags, needed))
}

/// [`Repr::parse`] and the payload, in one pass over the header: validation, the checksum
/// verified when present, each field read once.
#[inline]
fn parse(buf: &[u8]) -> Result<(Repr, &[u8]), Error> {
    let (flags, hlen) = validate(buf)?;
    let (header, payload) = buf.split_at_checked(hlen).unwrap_or((buf, &[]));
    let checksum_present = flags & FLAG_CHECKSUM != 0;
    let mut at = BASE_HEADER_LEN;
    let mut reserved1 = 0;
    if checksum_present {
        let received = be::u16(header, 4);
        let computed = checksum_of(buf);
        if received != computed {
            return Err(Error::GreChecksum { received, computed });
        }
        reserved1 = be::u16(header, 6);
        at += 4;
    }
    let key = (flags & FLAG_KEY != 0).then(|| be::u32(header, at));
    if key.is_some() {
        at += 4;
    }
    let sequence = (flags & FLAG_SEQUENCE != 0).then(|| be::u32(header, at));
    let repr = Repr {
        checksum_present,
        protocol: Protocol(be::u16(header, 2)),
        key,
        sequence,
        reserved0: ((flags & RESERVED0_MASK) >> 3) as u8,
        reserved1,
        payload_len: payload.len(),
    };
    Ok((repr, payload))
}

/// Writes the GRE header described by `repr` in front of a payload already in `buf`.
///
/// The payload occupies `buf[headroom..headroom + repr.payload_len]`; the header goes into the
/// `repr.header_len()` bytes just before it. Returns the GRE packet (header + payload) as a slice
/// of `buf`. Nothing is copied or allocated; with a checksum, the payload is read once.
///
/// ```
/// use dmvpn_gre::wire::gre::{Protocol, Repr, encapsulate, decapsulate};
/// let mut buf = [0u8; 64];
/// buf[16..20].copy_from_slice(b"ping");
/// let repr = Repr { key: Some(1), ..Repr::new(Protocol::IPV4, 4) };
/// let packet = encapsulate(&repr, &mut buf, 16).unwrap();
/// assert_eq!(packet, &[0x20, 0, 0x08, 0, 0, 0, 0, 1, b'p', b'i', b'n', b'g']);
/// let (parsed, payload) = decapsulate(packet).unwrap();
/// assert_eq!((parsed, payload), (repr, &b"ping"[..]));
/// ```
#[inline]
pub fn encapsulate<'a>(
    repr: &Repr,
    buf: &'a mut [u8],
    headroom: usize,
) -> Result<&'a mut [u8], Error> {
    let start = headroom
        .checked_sub(repr.header_len())
        .ok_or(Error::BufferTooSmall {
            needed: repr.header_len(),
            got: headroom,
        })?;
    let end = headroom.saturating_add(repr.payload_len);
    let got = buf.len();
    let out = buf
        .get_mut(start..end)
        .ok_or(Error::BufferTooSmall { needed: end, got })?;
    repr.emit(&mut Packet::new_unchecked(&mut *out))?;
    Ok(out)
}

/// Parses a GRE packet (verifying the checksum when present) and returns its header and payload.
/// The payload is a slice of `packet`: nothing is copied.
#[inline]
pub fn decapsulate(packet: &[u8]) -> Result<(Repr, &[u8]), Error> {
    parse(packet)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keyed_header_from_capture() {
        // gre-tunnel-with-key.pcapng frame 1: K set, key 1, IPv4.
        let bytes = [0x20, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x45];
        let (repr, payload) = decapsulate(&bytes).unwrap();
        assert_eq!(repr.key, Some(1));
        assert_eq!(repr.protocol, Protocol::IPV4);
        assert_eq!(repr.sequence, None);
        assert!(!repr.checksum_present);
        assert_eq!(payload, &[0x45]);
    }

    #[test]
    fn checksum_is_computed_and_verified() {
        let mut buf = vec![0u8; 8 + 5];
        buf[8..].copy_from_slice(b"hello");
        let repr = Repr {
            checksum_present: true,
            ..Repr::new(Protocol::IPV4, 5)
        };
        let out = encapsulate(&repr, &mut buf, 8).unwrap();
        // A correct checksum sums to zero over the whole packet.
        assert_eq!(checksum::checksum(out), 0);
        assert_eq!(decapsulate(out).unwrap().0, repr);
        out[9] ^= 1;
        assert!(matches!(decapsulate(out), Err(Error::GreChecksum { .. })));
    }

    #[test]
    fn rejects_versions_and_rfc1701_bits() {
        assert_eq!(
            decapsulate(&[0x00, 0x01, 0x88, 0x0b]),
            Err(Error::UnsupportedVersion(1))
        );
        assert_eq!(
            decapsulate(&[0x40, 0x00, 0x08, 0x00]),
            Err(Error::RoutingPresent)
        );
        assert_eq!(
            decapsulate(&[0x08, 0x00, 0x08, 0x00]),
            Err(Error::Rfc1701Flags(0x0800))
        );
        assert_eq!(
            decapsulate(&[0x04, 0x00, 0x08, 0x00]),
            Err(Error::Rfc1701Flags(0x0400))
        );
        // Reserved bits 6..12 are ignored but kept.
        let (r, _) = decapsulate(&[0x03, 0xf8, 0x08, 0x00]).unwrap();
        assert_eq!(r.reserved0, 0x7f);
    }

    #[test]
    fn truncation_is_precise() {
        assert_eq!(
            decapsulate(&[0x20]),
            Err(Error::Truncated { needed: 4, got: 1 })
        );
        assert_eq!(
            decapsulate(&[0xb0, 0, 8, 0, 0, 0]),
            Err(Error::Truncated { needed: 16, got: 6 })
        );
    }

    #[test]
    fn encapsulate_needs_headroom_and_room() {
        let mut buf = [0u8; 10];
        let repr = Repr {
            key: Some(7),
            ..Repr::new(Protocol::NHRP, 4)
        };
        assert_eq!(
            encapsulate(&repr, &mut buf, 4),
            Err(Error::BufferTooSmall { needed: 8, got: 4 })
        );
        assert_eq!(
            encapsulate(&repr, &mut buf, 8),
            Err(Error::BufferTooSmall {
                needed: 12,
                got: 10
            })
        );
    }

    #[test]
    fn protocol_display() {
        assert_eq!(Protocol::NHRP.to_string(), "NHRP(0x2001)");
        assert_eq!(Protocol(0x1234).to_string(), "0x1234");
    }

    pub(crate) fn arb_repr() -> impl Strategy<Value = Repr> {
        (
            any::<bool>(),
            any::<u16>(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            0u8..0x80,
            any::<u16>(),
            0usize..64,
        )
            .prop_map(|(c, p, key, sequence, r0, r1, payload_len)| Repr {
                checksum_present: c,
                protocol: Protocol(p),
                key,
                sequence,
                reserved0: r0,
                reserved1: if c { r1 } else { 0 },
                payload_len,
            })
    }

    proptest! {
        #[test]
        fn roundtrip(repr in arb_repr(), fill in any::<u8>()) {
            let mut buf = vec![fill; repr.buffer_len()];
            let out = encapsulate(&repr, &mut buf, repr.header_len()).unwrap();
            let (parsed, payload) = decapsulate(out).unwrap();
            prop_assert_eq!(parsed, repr);
            prop_assert_eq!(payload.len(), repr.payload_len);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let view = Packet::new_unchecked(&bytes[..]);
            // Accessors on an unchecked view must not panic either.
            let _ = (view.key(), view.sequence(), view.checksum(), view.payload(), view.verify_checksum());
            if let Ok((repr, payload)) = decapsulate(&bytes) {
                // Whatever parses re-emits to the same bytes.
                let mut again = bytes.clone();
                let out = encapsulate(&repr, &mut again, repr.header_len()).unwrap();
                prop_assert_eq!(&out[..], &bytes[..]);
                prop_assert_eq!(payload.len(), repr.payload_len);
            }
        }
    }
}
