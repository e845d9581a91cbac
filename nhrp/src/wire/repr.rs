//! The NHRP packet in owned form: the message of each packet type and [`Repr`], parsed from
//! and emitted into a [`Packet`] view (RFC 2332 §5.2, §5.3).

use zerocopy::IntoBytes;
use zerocopy::network_endian::{U16, U32};

use super::address::{Address, NbmaAddress};
use super::cie::{Cie, check_len};
use super::codes::{
    AddressFamily, ErrorCode, ExtensionType, Flags, PacketType, ProtocolType, TrafficCode,
};
use super::extension::{Authentication, Extension, ExtensionBody, put};
use super::packet::{FixedHeader, MIN_PACKET_LEN, MandatoryHeader, Packet, VERSION};
use crate::Error;
use dmvpn_wire::be;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Node;
    use std::net::Ipv4Addr;

    fn me() -> Node {
        Node::new(Ipv4Addr::new(172, 16, 1, 24), Ipv4Addr::new(10, 0, 0, 2))
    }

    fn round_trip(r: &Repr) -> Repr {
        let bytes = r.to_bytes().unwrap();
        assert_eq!(bytes.len(), r.buffer_len());
        Repr::parse_bytes(&bytes).unwrap()
    }

    #[test]
    fn every_kind_of_message_round_trips() {
        let request = Repr::resolution_request(9, &me(), Ipv4Addr::new(10, 0, 0, 3), 600, 1400);
        assert_eq!(round_trip(&request), request);
        let ei = Repr::error_indication(
            &request.to_bytes().unwrap(),
            ErrorCode::LOOP_DETECTED,
            4,
            &me(),
        );
        let parsed = round_trip(&ei);
        assert_eq!(parsed, ei);
        assert!(matches!(
            &parsed.message,
            Message::ErrorIndication(e) if e.code == ErrorCode::LOOP_DETECTED && e.offset == 4
        ));
        let unknown = Repr::new(
            Message::Unknown(UnknownMessage {
                packet_type: PacketType(42),
                header: [0x12, 0x34, 0xde, 0xad, 0xbe, 0xef],
                body: vec![1, 2, 3],
            }),
            me().nbma_addr,
            me().proto_addr,
            Address::from(Ipv4Addr::new(10, 0, 0, 3)),
        );
        let bytes = unknown.to_bytes().unwrap();
        let view = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(view.flags(), Flags(0x1234));
        assert_eq!(view.request_id(), 0xdead_beef);
        assert_eq!(Repr::parse(&view).unwrap(), unknown);
    }

    #[test]
    fn the_end_extension_is_written_only_after_extensions() {
        let bare = Repr::purge_request(1, &me(), Ipv4Addr::new(10, 0, 0, 1), Vec::new(), true);
        let bytes = bare.to_bytes().unwrap();
        let view = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(view.extension_offset(), 0);
        assert_eq!(bytes.len(), MIN_PACKET_LEN + 12);
        let with = bare.with_record_extensions();
        let bytes = with.to_bytes().unwrap();
        let view = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(usize::from(view.extension_offset()), MIN_PACKET_LEN + 12);
        assert_eq!(bytes.get(bytes.len() - 4..), Some(&[0x80, 0, 0, 0][..]));
        assert_eq!(with.extensions.len(), 3, "End is implicit");
        assert_eq!(round_trip(&with), with);
    }

    #[test]
    fn emit_writes_nothing_into_a_short_buffer_or_for_an_overlong_field() {
        let r = Repr::registration_request(1, &me(), &me(), 600, 1400);
        let mut short = vec![0xaa; r.buffer_len() - 1];
        assert!(matches!(
            r.emit(&mut Packet::new_unchecked(&mut short[..])),
            Err(Error::BufferTooSmall { .. })
        ));
        assert!(short.iter().all(|&b| b == 0xaa));
        let mut long = r.clone();
        long.dst_proto_addr = Address::from_bytes(&[7; 256]);
        assert!(matches!(long.to_bytes(), Err(Error::FieldTooLong { .. })));
    }

    #[test]
    fn an_unknown_compulsory_extension_is_found_at_its_emitted_offset() {
        let r = Repr::resolution_request(1, &me(), Ipv4Addr::new(10, 0, 0, 3), 600, 1400)
            .with_extension(Extension {
                compulsory: true,
                body: ExtensionBody::Unknown {
                    ext_type: ExtensionType(0x1234),
                    data: vec![1, 2],
                },
            });
        let (ext, at) = r.unrecognized_compulsory_extension().unwrap();
        assert_eq!(ext.ext_type(), ExtensionType(0x1234));
        let bytes = r.to_bytes().unwrap();
        let view = Packet::new_checked(&bytes[..]).unwrap();
        let found = view.unrecognized_compulsory_extension().unwrap().unwrap();
        assert_eq!(found.offset, at);
        assert_eq!(found.data, &[1, 2]);
        let plain = Repr::resolution_request(1, &me(), Ipv4Addr::new(10, 0, 0, 3), 600, 1400);
        assert!(plain.unrecognized_compulsory_extension().is_none());
    }
}
