//! The NHRP packet: fixed header, mandatory part, extensions (RFC 2332 §5.2, §5.3).

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::address::{Address, NbmaAddress, tl_len};
use super::cie::{Cie, CieIter, check_len};
use super::codes::{
    AddressFamily, ErrorCode, ExtensionType, Flags, PacketType, ProtocolType, TrafficCode,
};
use super::extension::{
    Authentication, Extension, ExtensionBody, ExtensionIter, ExtensionRef, put,
};
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
    buffer: T,
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

/// The mandatory part of packet types 1 to 6: flags, request ID and CIEs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// Flags ([`Flags`] has the bits for each packet type).
    pub flags: Flags,
    /// Request ID, copied from request to reply.
    pub request_id: u32,
    /// Client Information Entries.
    pub cies: Vec<Cie>,
}

/// The mandatory part of an Error Indication (RFC 2332 §5.2.7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorIndication {
    /// What went wrong.
    pub code: ErrorCode,
    /// Offset into the quoted packet at which the error was found.
    pub offset: u16,
    /// The packet in error, as received (it may itself be malformed, so it stays bytes: see
    /// [`ErrorIndication::quoted`]).
    pub packet: Vec<u8>,
}

impl ErrorIndication {
    /// The quoted packet as a checked view.
    pub fn quoted(&self) -> Result<Packet<&[u8]>, Error> {
        Packet::new_checked(self.packet.as_slice())
    }

    /// The quoted packet, parsed (checksum included).
    pub fn quoted_repr(&self) -> Result<Repr, Error> {
        Repr::parse(&self.quoted()?)
    }
}

/// The mandatory part of a Cisco Traffic Indication (packet type 8, DMVPN phase 3).
///
/// On the wire: 2 unused bytes in place of the flags, the traffic code, 2 unused bytes, the
/// addresses, then the data packet that triggered the indication (an IPv4 or IPv6 packet, per
/// `ar$pro.type`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrafficIndication {
    /// Traffic code: 0 is redirect.
    pub code: TrafficCode,
    /// The data packet that triggered the indication.
    pub packet: Vec<u8>,
}

/// The mandatory part of a packet type this crate does not know, kept as bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnknownMessage {
    /// The packet type. It must not be 1 to 8, or it parses back as that type.
    pub packet_type: PacketType,
    /// The 6 bytes after the two protocol address lengths (where the known types have flags
    /// and request ID).
    pub header: [u8; 6],
    /// The bytes after the addresses, up to the extensions.
    pub body: Vec<u8>,
}

/// The packet type and its type-specific mandatory fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// 1: Resolution Request.
    ResolutionRequest(Body),
    /// 2: Resolution Reply.
    ResolutionReply(Body),
    /// 3: Registration Request.
    RegistrationRequest(Body),
    /// 4: Registration Reply.
    RegistrationReply(Body),
    /// 5: Purge Request.
    PurgeRequest(Body),
    /// 6: Purge Reply.
    PurgeReply(Body),
    /// 7: Error Indication.
    ErrorIndication(ErrorIndication),
    /// 8: Cisco Traffic Indication.
    TrafficIndication(TrafficIndication),
    /// Any other packet type.
    Unknown(UnknownMessage),
}

impl Message {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Message::ResolutionRequest(_) => PacketType::RESOLUTION_REQUEST,
            Message::ResolutionReply(_) => PacketType::RESOLUTION_REPLY,
            Message::RegistrationRequest(_) => PacketType::REGISTRATION_REQUEST,
            Message::RegistrationReply(_) => PacketType::REGISTRATION_REPLY,
            Message::PurgeRequest(_) => PacketType::PURGE_REQUEST,
            Message::PurgeReply(_) => PacketType::PURGE_REPLY,
            Message::ErrorIndication(_) => PacketType::ERROR_INDICATION,
            Message::TrafficIndication(_) => PacketType::TRAFFIC_INDICATION,
            Message::Unknown(u) => u.packet_type,
        }
    }

    /// Flags, request ID and CIEs, for packet types 1–6.
    pub fn body(&self) -> Option<&Body> {
        match self {
            Message::ResolutionRequest(b)
            | Message::ResolutionReply(b)
            | Message::RegistrationRequest(b)
            | Message::RegistrationReply(b)
            | Message::PurgeRequest(b)
            | Message::PurgeReply(b) => Some(b),
            _ => None,
        }
    }

    /// Mutable [`Message::body`].
    pub fn body_mut(&mut self) -> Option<&mut Body> {
        match self {
            Message::ResolutionRequest(b)
            | Message::ResolutionReply(b)
            | Message::RegistrationRequest(b)
            | Message::RegistrationReply(b)
            | Message::PurgeRequest(b)
            | Message::PurgeReply(b) => Some(b),
            _ => None,
        }
    }

    /// Builds the message of a packet type 1–6 around a body; `None` for other types.
    pub fn with_body(packet_type: PacketType, body: Body) -> Option<Message> {
        Some(match packet_type {
            PacketType::RESOLUTION_REQUEST => Message::ResolutionRequest(body),
            PacketType::RESOLUTION_REPLY => Message::ResolutionReply(body),
            PacketType::REGISTRATION_REQUEST => Message::RegistrationRequest(body),
            PacketType::REGISTRATION_REPLY => Message::RegistrationReply(body),
            PacketType::PURGE_REQUEST => Message::PurgeRequest(body),
            PacketType::PURGE_REPLY => Message::PurgeReply(body),
            _ => return None,
        })
    }

    fn header_words(&self) -> (u16, u32) {
        match self {
            Message::ErrorIndication(e) => (0, (u32::from(e.code.0) << 16) | u32::from(e.offset)),
            Message::TrafficIndication(t) => (0, u32::from(t.code.0) << 16),
            Message::Unknown(u) => (be::u16(&u.header, 0), be::u32(&u.header, 2)),
            other => other.body().map_or((0, 0), |b| (b.flags.0, b.request_id)),
        }
    }

    fn tail_len(&self) -> usize {
        match self {
            Message::ErrorIndication(e) => e.packet.len(),
            Message::TrafficIndication(t) => t.packet.len(),
            Message::Unknown(u) => u.body.len(),
            other => other
                .body()
                .map_or(0, |b| b.cies.iter().map(Cie::buffer_len).sum()),
        }
    }
}

/// A whole NHRP packet in owned, high-level form.
///
/// `ar$pktsz`, `ar$extoff`, `ar$chksum` and the length fields are computed on emit and checked on
/// parse; the version is always 1; the End extension is implicit (written after the last
/// extension when there is at least one, and not listed in `extensions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// NBMA address family (`ar$afn`).
    pub afn: AddressFamily,
    /// Protocol type (`ar$pro.type`).
    pub protocol_type: ProtocolType,
    /// SNAP extension of the protocol type (`ar$pro.snap`, zero for IP).
    pub protocol_snap: [u8; 5],
    /// Hop count.
    pub hop_count: u8,
    /// Source NBMA address (`ar$shtl` and the address).
    pub src_nbma_addr: NbmaAddress,
    /// Source NBMA subaddress (`ar$sstl` and the subaddress).
    pub src_nbma_subaddr: NbmaAddress,
    /// Source protocol address.
    pub src_proto_addr: Address,
    /// Destination protocol address.
    pub dst_proto_addr: Address,
    /// Packet type and type-specific fields.
    pub message: Message,
    /// Extensions, in order, without the End extension.
    pub extensions: Vec<Extension>,
}

impl Repr {
    /// Parses and validates a packet: lengths, version, checksum, CIEs and extensions.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        packet.check_len()?;
        if packet.version() != VERSION {
            return Err(Error::Version(packet.version()));
        }
        packet.verify_checksum()?;
        let ptype = packet.packet_type();
        let message = match ptype {
            PacketType::ERROR_INDICATION => Message::ErrorIndication(ErrorIndication {
                code: packet.error_code(),
                offset: packet.error_offset(),
                packet: packet.body().to_vec(),
            }),
            PacketType::TRAFFIC_INDICATION => Message::TrafficIndication(TrafficIndication {
                code: packet.traffic_code(),
                packet: packet.body().to_vec(),
            }),
            _ => {
                let body = Body {
                    flags: packet.flags(),
                    request_id: packet.request_id(),
                    cies: Vec::new(),
                };
                match Message::with_body(ptype, body) {
                    Some(mut m) => {
                        if let Some(b) = m.body_mut() {
                            b.cies = packet.cies().collect::<Result<_, _>>()?;
                        }
                        m
                    }
                    None => Message::Unknown(UnknownMessage {
                        packet_type: ptype,
                        header: be::get(packet.buffer.as_ref(), 22),
                        body: packet.body().to_vec(),
                    }),
                }
            }
        };
        let mut extensions = Vec::new();
        for ext in packet.extensions() {
            if extensions.is_empty() {
                // Cisco sends 5 or 6; one allocation for the usual case.
                extensions.reserve(8);
            }
            extensions.push(Extension::parse(&ext?)?);
        }
        Ok(Repr {
            afn: packet.afn(),
            protocol_type: packet.protocol_type(),
            protocol_snap: packet.protocol_snap(),
            hop_count: packet.hop_count(),
            src_nbma_addr: NbmaAddress::from_type_and_bytes(
                packet.src_nbma_type_len(),
                packet.src_nbma_addr(),
            ),
            src_nbma_subaddr: NbmaAddress::from_type_and_bytes(
                packet.src_nbma_sub_type_len(),
                packet.src_nbma_subaddr(),
            ),
            src_proto_addr: Address::from_bytes(packet.src_proto_addr()),
            dst_proto_addr: Address::from_bytes(packet.dst_proto_addr()),
            message,
            extensions,
        })
    }

    /// Parses a packet from bytes (the buffer may be longer than `ar$pktsz`).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Repr, Error> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        self.message.packet_type()
    }

    /// Request ID, for packet types 1–6.
    pub fn request_id(&self) -> Option<u32> {
        self.message.body().map(|b| b.request_id)
    }

    /// Flags, for packet types 1–6.
    pub fn flags(&self) -> Option<Flags> {
        self.message.body().map(|b| b.flags)
    }

    /// The CIEs of the mandatory part (empty for Error/Traffic Indications).
    pub fn cies(&self) -> &[Cie] {
        self.message.body().map_or(&[], |b| b.cies.as_slice())
    }

    /// The first extension of a type.
    pub fn extension(&self, ext_type: ExtensionType) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.ext_type() == ext_type)
    }

    /// The first extension of a type, mutably.
    pub fn extension_mut(&mut self, ext_type: ExtensionType) -> Option<&mut Extension> {
        self.extensions
            .iter_mut()
            .find(|e| e.ext_type() == ext_type)
    }

    /// The Authentication extension, if present.
    pub fn authentication(&self) -> Option<&Authentication> {
        self.extensions.iter().find_map(|e| match &e.body {
            ExtensionBody::Authentication(a) => Some(a),
            _ => None,
        })
    }

    /// The first unknown extension with the compulsory bit set, with its offset in the emitted
    /// packet: the node must answer with an Error Indication "Unrecognized Extension" at that
    /// offset (RFC 2332 §5.3).
    pub fn unrecognized_compulsory_extension(&self) -> Option<(&Extension, usize)> {
        let mut at = self.extensions_offset();
        for e in &self.extensions {
            if e.is_unrecognized_compulsory() {
                return Some((e, at));
            }
            at += e.buffer_len();
        }
        None
    }

    fn addresses_len(&self) -> usize {
        self.src_nbma_addr.addr.len()
            + self.src_nbma_subaddr.addr.len()
            + self.src_proto_addr.len()
            + self.dst_proto_addr.len()
    }

    fn extensions_offset(&self) -> usize {
        MIN_PACKET_LEN + self.addresses_len() + self.message.tail_len()
    }

    /// Bytes the packet takes on the wire.
    pub fn buffer_len(&self) -> usize {
        let ext: usize = self.extensions.iter().map(Extension::buffer_len).sum();
        let end = if self.extensions.is_empty() { 0 } else { 4 };
        self.extensions_offset() + ext + end
    }

    /// Checks that every length fits its field.
    pub fn check(&self) -> Result<(), Error> {
        check_len(
            "source NBMA address",
            self.src_nbma_addr.addr.len(),
            NbmaAddress::MAX_LEN,
        )?;
        check_len(
            "source NBMA subaddress",
            self.src_nbma_subaddr.addr.len(),
            NbmaAddress::MAX_LEN,
        )?;
        check_len("source protocol address", self.src_proto_addr.len(), 255)?;
        check_len(
            "destination protocol address",
            self.dst_proto_addr.len(),
            255,
        )?;
        for c in self.cies() {
            c.check()?;
        }
        for e in &self.extensions {
            e.check()?;
        }
        check_len("NHRP packet", self.buffer_len(), usize::from(u16::MAX))
    }

    /// Writes the packet at the start of the packet's buffer, checksum included.
    ///
    /// Errors (and writes nothing) if a field is too long for its length field or the buffer is
    /// shorter than [`Repr::buffer_len`]; never panics.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        self.check()?;
        let len = self.buffer_len();
        let got = packet.buffer.as_ref().len();
        let Some(out) = packet.buffer.as_mut().get_mut(..len) else {
            return Err(Error::BufferTooSmall { needed: len, got });
        };
        out.fill(0);
        let ext_off = if self.extensions.is_empty() {
            0
        } else {
            self.extensions_offset()
        };
        let to16 = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
        let to8 = |v: usize| u8::try_from(v).unwrap_or(u8::MAX);
        let header = FixedHeader {
            afn: U16::new(self.afn.0),
            protocol_type: U16::new(self.protocol_type.0),
            protocol_snap: self.protocol_snap,
            hop_count: self.hop_count,
            packet_size: U16::new(to16(len)),
            checksum: U16::new(0),
            extension_offset: U16::new(to16(ext_off)),
            version: VERSION,
            packet_type: self.packet_type().0,
            src_nbma_tl: self.src_nbma_addr.type_len(),
            src_nbma_sub_tl: self.src_nbma_subaddr.type_len(),
        };
        let (flags, word) = self.message.header_words();
        let mand = MandatoryHeader {
            src_proto_len: to8(self.src_proto_addr.len()),
            dst_proto_len: to8(self.dst_proto_addr.len()),
            flags: U16::new(flags),
            request_id: U32::new(word),
        };
        let mut pos = put(out, 0, header.as_bytes());
        pos += put(out, pos, mand.as_bytes());
        for a in [
            &self.src_nbma_addr.addr,
            &self.src_nbma_subaddr.addr,
            &self.src_proto_addr,
            &self.dst_proto_addr,
        ] {
            pos += a.write(out.get_mut(pos..).unwrap_or_default());
        }
        match &self.message {
            Message::ErrorIndication(e) => pos += put(out, pos, &e.packet),
            Message::TrafficIndication(t) => pos += put(out, pos, &t.packet),
            Message::Unknown(u) => pos += put(out, pos, &u.body),
            other => {
                for c in other.body().map_or(&[][..], |b| b.cies.as_slice()) {
                    pos += c.emit(out.get_mut(pos..).unwrap_or_default());
                }
            }
        }
        for e in &self.extensions {
            pos += e.emit(out.get_mut(pos..).unwrap_or_default());
        }
        if !self.extensions.is_empty() {
            // End of extensions: compulsory bit set, type 0, length 0 (RFC 2332 §5.3.0).
            put(out, pos, &[0x80, 0, 0, 0]);
        }
        let mut view = Packet::new_unchecked(out);
        view.fill_checksum();
        Ok(())
    }

    /// Emits into a new vector of [`Repr::buffer_len`] bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut buf))?;
        Ok(buf)
    }
}
