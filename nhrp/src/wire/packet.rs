//! The NHRP packet as a view over a buffer: fixed header, mandatory part, extensions (RFC 2332
//! §5.2, §5.3), with the length checks and the checksum. The owned form is in `repr`.

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::address::tl_len;
use super::cie::CieIter;
use super::codes::{AddressFamily, ErrorCode, Flags, PacketType, ProtocolType, TrafficCode};
use super::extension::{ExtensionIter, ExtensionRef};
use crate::Error;
use dmvpn_wire::{be, checksum};

/// Length of the fixed header (RFC 2332 §5.2.0.1).
pub const FIXED_HEADER_LEN: usize = 20;
/// Length of the fixed fields at the start of every mandatory part: source and destination
/// protocol address lengths, flags, request ID (or error code and offset, or traffic code).
pub const MANDATORY_HEADER_LEN: usize = 8;
/// The smallest NHRP packet: fixed header plus the mandatory part's fixed fields.
pub const MIN_PACKET_LEN: usize = FIXED_HEADER_LEN + MANDATORY_HEADER_LEN;
/// The NHRP version this crate speaks (`ar$op.version`).
pub const VERSION: u8 = 1;
/// The hop count Cisco IOS puts in the packets it originates (the captures show 255; an NHS
/// forwarding a request decrements it).
pub const CISCO_HOP_COUNT: u8 = 255;

/// The 20-byte fixed header, network byte order.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub struct FixedHeader {
    /// `ar$afn`: NBMA address family.
    pub afn: U16,
    /// `ar$pro.type`: protocol type.
    pub protocol_type: U16,
    /// `ar$pro.snap`: SNAP extension of the protocol type (zero for IP).
    pub protocol_snap: [u8; 5],
    /// `ar$hopcnt`.
    pub hop_count: u8,
    /// `ar$pktsz`: packet size including the fixed header.
    pub packet_size: U16,
    /// `ar$chksum`.
    pub checksum: U16,
    /// `ar$extoff`: offset of the first extension, 0 if none.
    pub extension_offset: U16,
    /// `ar$op.version`.
    pub version: u8,
    /// `ar$op.type`.
    pub packet_type: u8,
    /// `ar$shtl`: source NBMA address type/length.
    pub src_nbma_tl: u8,
    /// `ar$sstl`: source NBMA subaddress type/length.
    pub src_nbma_sub_tl: u8,
}

/// The 8 fixed bytes of the mandatory part.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub struct MandatoryHeader {
    /// Source protocol address length.
    pub src_proto_len: u8,
    /// Destination protocol address length.
    pub dst_proto_len: u8,
    /// Flags (unused in Error and Traffic Indications).
    pub flags: U16,
    /// Request ID; in an Error Indication the error code (high half) and error offset (low
    /// half); in a Traffic Indication the traffic code (high half) and an unused half.
    pub request_id: U32,
}

/// A read (and optionally write) view of an NHRP packet in a buffer.
///
/// [`Packet::new_checked`] validates every length once (buffer vs `ar$pktsz`, `ar$extoff` vs the
/// mandatory part, address lengths vs the bytes there); afterwards no accessor panics, and none
/// panics on an unchecked view either (they return zero or empty values for missing bytes).
/// Extensions and CIEs are checked as they are iterated.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    /// The bytes viewed (`repr` parses from and emits into them).
    pub(super) buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer and checks its lengths ([`Packet::check_len`]).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// Checks the length fields against each other and against the buffer.
    pub fn check_len(&self) -> Result<(), Error> {
        let buf = self.buffer.as_ref();
        if buf.len() < FIXED_HEADER_LEN {
            return Err(Error::Truncated {
                needed: FIXED_HEADER_LEN,
                got: buf.len(),
            });
        }
        let size = self.packet_size();
        if usize::from(size) < MIN_PACKET_LEN {
            return Err(Error::PacketSizeTooSmall { size });
        }
        if usize::from(size) > buf.len() {
            return Err(Error::PacketSizeExceedsBuffer {
                size,
                available: buf.len(),
            });
        }
        let extoff = self.extension_offset();
        if extoff != 0 && (usize::from(extoff) < MIN_PACKET_LEN || extoff > size) {
            return Err(Error::ExtensionOffset {
                offset: extoff,
                min: MIN_PACKET_LEN,
                max: usize::from(size),
            });
        }
        let end = self.mandatory_end();
        let mut at = MIN_PACKET_LEN;
        for (field, len) in [
            ("source NBMA address", self.src_nbma_len()),
            ("source NBMA subaddress", self.src_nbma_sub_len()),
            ("source protocol address", self.src_proto_len()),
            ("destination protocol address", self.dst_proto_len()),
        ] {
            if at + len > end {
                return Err(Error::AddressOverrun {
                    field,
                    at,
                    len,
                    end,
                });
            }
            at += len;
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The fixed header, if the buffer holds one.
    pub fn header(&self) -> Option<&FixedHeader> {
        FixedHeader::ref_from_prefix(self.buffer.as_ref())
            .ok()
            .map(|(h, _)| h)
    }

    fn mand_header(&self) -> Option<&MandatoryHeader> {
        let rest = self.buffer.as_ref().get(FIXED_HEADER_LEN..)?;
        MandatoryHeader::ref_from_prefix(rest).ok().map(|(h, _)| h)
    }

    /// `ar$afn`.
    pub fn afn(&self) -> AddressFamily {
        AddressFamily(self.header().map_or(0, |h| h.afn.get()))
    }
    /// `ar$pro.type`.
    pub fn protocol_type(&self) -> ProtocolType {
        ProtocolType(self.header().map_or(0, |h| h.protocol_type.get()))
    }
    /// `ar$pro.snap`.
    pub fn protocol_snap(&self) -> [u8; 5] {
        self.header().map_or([0; 5], |h| h.protocol_snap)
    }
    /// `ar$hopcnt`.
    pub fn hop_count(&self) -> u8 {
        self.header().map_or(0, |h| h.hop_count)
    }
    /// `ar$pktsz`.
    pub fn packet_size(&self) -> u16 {
        self.header().map_or(0, |h| h.packet_size.get())
    }
    /// `ar$chksum`.
    pub fn checksum(&self) -> u16 {
        self.header().map_or(0, |h| h.checksum.get())
    }
    /// `ar$extoff`.
    pub fn extension_offset(&self) -> u16 {
        self.header().map_or(0, |h| h.extension_offset.get())
    }
    /// `ar$op.version`.
    pub fn version(&self) -> u8 {
        self.header().map_or(0, |h| h.version)
    }
    /// `ar$op.type`.
    pub fn packet_type(&self) -> PacketType {
        PacketType(self.header().map_or(0, |h| h.packet_type))
    }
    /// `ar$shtl`: source NBMA address type/length octet.
    pub fn src_nbma_type_len(&self) -> u8 {
        self.header().map_or(0, |h| h.src_nbma_tl)
    }
    /// `ar$sstl`: source NBMA subaddress type/length octet.
    pub fn src_nbma_sub_type_len(&self) -> u8 {
        self.header().map_or(0, |h| h.src_nbma_sub_tl)
    }
    /// Source NBMA address length.
    pub fn src_nbma_len(&self) -> usize {
        tl_len(self.src_nbma_type_len())
    }
    /// Source NBMA subaddress length.
    pub fn src_nbma_sub_len(&self) -> usize {
        tl_len(self.src_nbma_sub_type_len())
    }
    /// Source protocol address length.
    pub fn src_proto_len(&self) -> usize {
        self.mand_header()
            .map_or(0, |h| usize::from(h.src_proto_len))
    }
    /// Destination protocol address length.
    pub fn dst_proto_len(&self) -> usize {
        self.mand_header()
            .map_or(0, |h| usize::from(h.dst_proto_len))
    }
    /// Flags (packet types 1–6).
    pub fn flags(&self) -> Flags {
        Flags(self.mand_header().map_or(0, |h| h.flags.get()))
    }
    /// Request ID (packet types 1–6).
    pub fn request_id(&self) -> u32 {
        self.mand_header().map_or(0, |h| h.request_id.get())
    }
    /// Error code (Error Indication).
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode(be::u16(self.buffer.as_ref(), 24))
    }
    /// Error offset (Error Indication).
    pub fn error_offset(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 26)
    }
    /// Traffic code (Traffic Indication).
    pub fn traffic_code(&self) -> TrafficCode {
        TrafficCode(be::u16(self.buffer.as_ref(), 24))
    }

    /// The bytes of the NHRP packet: the buffer up to `ar$pktsz`, or the whole buffer if it
    /// has no fixed header or `ar$pktsz` is not between 20 and the buffer length.
    pub fn packet_bytes(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let size = usize::from(self.packet_size());
        if size < FIXED_HEADER_LEN {
            return buf;
        }
        buf.get(..size).unwrap_or(buf)
    }

    /// Where the mandatory part ends: `ar$extoff` if there are extensions, else `ar$pktsz`.
    pub fn mandatory_end(&self) -> usize {
        match self.extension_offset() {
            0 => usize::from(self.packet_size()),
            off => usize::from(off),
        }
    }

    fn field(&self, start: usize, len: usize) -> &[u8] {
        self.buffer.as_ref().get(start..start + len).unwrap_or(&[])
    }

    fn src_nbma_start(&self) -> usize {
        MIN_PACKET_LEN
    }
    fn src_nbma_sub_start(&self) -> usize {
        self.src_nbma_start() + self.src_nbma_len()
    }
    fn src_proto_start(&self) -> usize {
        self.src_nbma_sub_start() + self.src_nbma_sub_len()
    }
    fn dst_proto_start(&self) -> usize {
        self.src_proto_start() + self.src_proto_len()
    }
    /// Where the addresses of the mandatory part end (and the CIEs or quoted packet begin).
    pub fn addresses_end(&self) -> usize {
        self.dst_proto_start() + self.dst_proto_len()
    }

    /// Source NBMA address bytes.
    pub fn src_nbma_addr(&self) -> &[u8] {
        self.field(self.src_nbma_start(), self.src_nbma_len())
    }
    /// Source NBMA subaddress bytes.
    pub fn src_nbma_subaddr(&self) -> &[u8] {
        self.field(self.src_nbma_sub_start(), self.src_nbma_sub_len())
    }
    /// Source protocol address bytes.
    pub fn src_proto_addr(&self) -> &[u8] {
        self.field(self.src_proto_start(), self.src_proto_len())
    }
    /// Destination protocol address bytes.
    pub fn dst_proto_addr(&self) -> &[u8] {
        self.field(self.dst_proto_start(), self.dst_proto_len())
    }

    /// The rest of the mandatory part after the addresses: the CIEs (types 1–6), the packet in
    /// error (Error Indication) or the data packet (Traffic Indication).
    pub fn body(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(self.addresses_end()..self.mandatory_end())
            .unwrap_or(&[])
    }

    /// The CIEs of the mandatory part (meaningful for packet types 1–6).
    pub fn cies(&self) -> CieIter<'_> {
        CieIter::new(self.body(), self.addresses_end())
    }

    /// The extensions.
    pub fn extensions(&self) -> ExtensionIter<'_> {
        ExtensionIter::new(self.packet_bytes(), usize::from(self.extension_offset()))
    }

    /// The first extension that this crate does not know and that has the compulsory bit set:
    /// RFC 2332 §5.3 says such a packet must be answered with an Error Indication (Unrecognized
    /// Extension) whose error offset is the extension's [`ExtensionRef::offset`].
    pub fn unrecognized_compulsory_extension(&self) -> Result<Option<ExtensionRef<'_>>, Error> {
        for ext in self.extensions() {
            let ext = ext?;
            if ext.compulsory && !ext.is_known() {
                return Ok(Some(ext));
            }
        }
        Ok(None)
    }

    /// The checksum the packet should carry: computed over `ar$pktsz` bytes with the checksum
    /// field taken as zero.
    pub fn compute_checksum(&self) -> u16 {
        let bytes = self.packet_bytes();
        let sum = checksum::accumulate(0, bytes.get(..12).unwrap_or(bytes));
        checksum::finish(checksum::accumulate(sum, bytes.get(14..).unwrap_or(&[])))
    }

    /// Checks `ar$chksum`.
    pub fn verify_checksum(&self) -> Result<(), Error> {
        let (expected, computed) = (self.checksum(), self.compute_checksum());
        if expected == computed {
            Ok(())
        } else {
            Err(Error::Checksum { expected, computed })
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// The fixed header, mutably.
    pub fn header_mut(&mut self) -> Option<&mut FixedHeader> {
        FixedHeader::mut_from_prefix(self.buffer.as_mut())
            .ok()
            .map(|(h, _)| h)
    }

    /// Sets `ar$hopcnt` (call [`Packet::fill_checksum`] afterwards).
    pub fn set_hop_count(&mut self, hop_count: u8) {
        if let Some(h) = self.header_mut() {
            h.hop_count = hop_count;
        }
    }

    /// Sets `ar$chksum` to the given value.
    pub fn set_checksum(&mut self, value: u16) {
        if let Some(h) = self.header_mut() {
            h.checksum = U16::new(value);
        }
    }

    /// Recomputes `ar$chksum` over `ar$pktsz` bytes.
    pub fn fill_checksum(&mut self) {
        let c = self.compute_checksum();
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Node, Repr};
    use std::net::Ipv4Addr;

    fn request() -> Vec<u8> {
        let me = Node::new(Ipv4Addr::new(172, 16, 1, 24), Ipv4Addr::new(10, 0, 0, 2));
        Repr::resolution_request(7, &me, Ipv4Addr::new(10, 0, 0, 3), 600, 1400)
            .to_bytes()
            .unwrap()
    }

    #[test]
    fn a_built_packet_reads_back_field_by_field() {
        let bytes = request();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.afn(), AddressFamily::IPV4);
        assert_eq!(p.protocol_type(), ProtocolType::IPV4);
        assert_eq!(p.hop_count(), 255);
        assert_eq!(usize::from(p.packet_size()), bytes.len());
        assert_eq!(p.version(), VERSION);
        assert_eq!(p.packet_type(), PacketType::RESOLUTION_REQUEST);
        assert_eq!(p.request_id(), 7);
        assert_eq!(p.src_nbma_addr(), &[172, 16, 1, 24]);
        assert_eq!(p.src_proto_addr(), &[10, 0, 0, 2]);
        assert_eq!(p.dst_proto_addr(), &[10, 0, 0, 3]);
        assert_eq!(p.addresses_end(), MIN_PACKET_LEN + 12);
        assert_eq!(p.cies().count(), 1);
        assert!(p.extension_offset() > 0);
        assert_eq!(p.mandatory_end(), usize::from(p.extension_offset()));
        assert!(p.extensions().all(|e| e.is_ok()));
        assert!(p.verify_checksum().is_ok());
    }

    #[test]
    fn every_length_inconsistency_is_its_own_error() {
        let bytes = request();
        let with = |at: usize, v: &[u8]| {
            let mut b = bytes.clone();
            be::put(&mut b, at, v);
            b
        };
        assert!(matches!(
            Packet::new_checked(&bytes[..19]),
            Err(Error::Truncated {
                needed: FIXED_HEADER_LEN,
                got: 19
            })
        ));
        assert!(matches!(
            Packet::new_checked(&with(10, &[0, 27])[..]),
            Err(Error::PacketSizeTooSmall { size: 27 })
        ));
        assert!(matches!(
            Packet::new_checked(&bytes[..bytes.len() - 1]),
            Err(Error::PacketSizeExceedsBuffer { .. })
        ));
        assert!(matches!(
            Packet::new_checked(&with(14, &[0, 20])[..]),
            Err(Error::ExtensionOffset { offset: 20, .. })
        ));
        // A destination protocol address running past the mandatory part.
        assert!(matches!(
            Packet::new_checked(&with(21, &[200])[..]),
            Err(Error::AddressOverrun {
                field: "destination protocol address",
                ..
            })
        ));
        // Bytes after ar$pktsz are not part of the packet.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0xee; 5]);
        let p = Packet::new_checked(&longer[..]).unwrap();
        assert_eq!(p.packet_bytes(), &bytes[..]);
        assert!(p.verify_checksum().is_ok());
    }

    #[test]
    fn an_unchecked_short_view_reads_zeroes_and_never_panics() {
        let p = Packet::new_unchecked(&[0x00, 0x01, 0x08][..]);
        assert!(p.header().is_none());
        assert_eq!(p.packet_size(), 0);
        assert_eq!(p.request_id(), 0);
        assert_eq!(p.error_code(), ErrorCode(0));
        assert!(p.src_proto_addr().is_empty());
        assert!(p.body().is_empty());
        assert_eq!(p.packet_bytes(), &[0x00, 0x01, 0x08]);
        assert_eq!(p.extensions().count(), 0);
    }

    #[test]
    fn the_checksum_covers_everything_but_itself() {
        let mut bytes = request();
        let stored = Packet::new_unchecked(&bytes[..]).checksum();
        // Changing the checksum field does not change what the packet should carry.
        be::put(&mut bytes, 12, &[0, 0]);
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        assert_eq!(p.compute_checksum(), stored);
        assert!(matches!(
            p.verify_checksum(),
            Err(Error::Checksum { expected: 0, computed }) if computed == stored
        ));
        // Any other field does: set the hop count, and the checksum must be refilled.
        p.set_hop_count(254);
        assert!(p.verify_checksum().is_err());
        p.fill_checksum();
        assert!(p.verify_checksum().is_ok());
        assert_ne!(p.checksum(), stored);
        assert_eq!(p.hop_count(), 254);
    }
}
