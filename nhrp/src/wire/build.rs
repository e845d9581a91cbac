//! Builders for the packets a node sends, with the field values Cisco IOS uses.

use std::net::IpAddr;

use super::address::{Address, NbmaAddress};
use super::cie::Cie;
use super::codes::{
    AddressFamily, CieCode, ErrorCode, ExtensionType, Flags, PacketType, ProtocolType, TrafficCode,
};
use super::extension::{Authentication, Extension, ExtensionBody};
use super::packet::{CISCO_HOP_COUNT, MIN_PACKET_LEN, Packet};
use super::repr::{Body, ErrorIndication, Message, Repr, TrafficIndication};
use crate::Error;

/// A node's pair of addresses: NBMA (underlay) and protocol (overlay).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// NBMA (public, underlay) address.
    pub nbma_addr: NbmaAddress,
    /// Protocol (tunnel, overlay) address.
    pub proto_addr: Address,
}

impl Node {
    /// A node from its two addresses.
    pub fn new(nbma_addr: impl Into<NbmaAddress>, proto_addr: impl Into<Address>) -> Self {
        Node {
            nbma_addr: nbma_addr.into(),
            proto_addr: proto_addr.into(),
        }
    }
}

/// The prefix length of a host route for an address (32 for IPv4, 128 for IPv6, 8 × length
/// otherwise, saturating).
pub fn host_prefix_len(addr: &Address) -> u8 {
    u8::try_from(addr.len().saturating_mul(8)).unwrap_or(u8::MAX)
}

/// The `ar$afn` that goes with an NBMA address (IPv4 unless it is an IPv6 address).
pub fn afn_for(nbma: &NbmaAddress) -> AddressFamily {
    match nbma.addr {
        Address::Ipv6(_) => AddressFamily::IPV6,
        _ => AddressFamily::IPV4,
    }
}

/// The `ar$pro.type` that goes with protocol addresses (IPv6 if the first non-empty one is).
pub fn protocol_type_for(addrs: &[&Address]) -> ProtocolType {
    match addrs.iter().find(|a| !a.is_empty()) {
        Some(Address::Ipv6(_)) => ProtocolType::IPV6,
        _ => ProtocolType::IPV4,
    }
}

impl Repr {
    /// A packet with the defaults Cisco uses: `ar$afn` from the source NBMA address,
    /// `ar$pro.type` from the protocol addresses, hop count 255, no extensions.
    pub fn new(
        message: Message,
        src_nbma_addr: impl Into<NbmaAddress>,
        src_proto_addr: impl Into<Address>,
        dst_proto_addr: impl Into<Address>,
    ) -> Repr {
        let src_nbma_addr = src_nbma_addr.into();
        let src_proto_addr = src_proto_addr.into();
        let dst_proto_addr = dst_proto_addr.into();
        Repr {
            afn: afn_for(&src_nbma_addr),
            protocol_type: protocol_type_for(&[&src_proto_addr, &dst_proto_addr]),
            protocol_snap: [0; 5],
            hop_count: CISCO_HOP_COUNT,
            src_nbma_addr,
            src_nbma_subaddr: NbmaAddress::EMPTY,
            src_proto_addr,
            dst_proto_addr,
            message,
            extensions: Vec::new(),
        }
    }

    /// Appends an extension.
    pub fn with_extension(mut self, ext: Extension) -> Repr {
        self.extensions.push(ext);
        self
    }

    /// Sets the hop count.
    pub fn with_hop_count(mut self, hop_count: u8) -> Repr {
        self.hop_count = hop_count;
        self
    }

    /// Appends the three empty record extensions Cisco puts in every request: Responder
    /// Address, Forward and Reverse Transit NHS Record, all compulsory.
    pub fn with_record_extensions(self) -> Repr {
        self.with_extension(Extension::new(ExtensionBody::ResponderAddress(Vec::new())))
            .with_extension(Extension::new(ExtensionBody::ForwardTransitNhs(Vec::new())))
            .with_extension(Extension::new(ExtensionBody::ReverseTransitNhs(Vec::new())))
    }

    /// Adds (or replaces) a Cisco cleartext Authentication extension, placed where Cisco puts
    /// it: after the record extensions, before the NAT Address extension. Errors unless the
    /// password is 1 to 8 bytes.
    pub fn with_authentication(self, password: &[u8]) -> Result<Repr, Error> {
        Ok(self.with_authentication_extension(Authentication::cisco_cleartext(password)?))
    }

    /// Adds (or replaces) an Authentication extension (compulsory), placed where Cisco puts it.
    pub fn with_authentication_extension(mut self, auth: Authentication) -> Repr {
        let ext = Extension::new(ExtensionBody::Authentication(auth));
        if let Some(e) = self.extension_mut(ExtensionType::AUTHENTICATION) {
            *e = ext;
            return self;
        }
        let at = self
            .extensions
            .iter()
            .rposition(|e| {
                matches!(
                    e.body,
                    ExtensionBody::ResponderAddress(_)
                        | ExtensionBody::ForwardTransitNhs(_)
                        | ExtensionBody::ReverseTransitNhs(_)
                )
            })
            .map_or(0, |i| i + 1);
        self.extensions.insert(at, ext);
        self
    }

    /// A Registration Request as Cisco IOS sends it to its NHS: flags U (unique) and Cisco NAT,
    /// one CIE with the holding time and MTU and empty client addresses (the client is the
    /// source), preference 255, the record extensions, and a Cisco NAT Address extension
    /// holding the NHS's addresses as this spoke knows them. Add a password with
    /// [`Repr::with_authentication`].
    pub fn registration_request(
        request_id: u32,
        me: &Node,
        nhs: &Node,
        holding_time: u16,
        mtu: u16,
    ) -> Repr {
        let prefix_len = host_prefix_len(&me.proto_addr);
        let cie = Cie {
            code: CieCode::SUCCESS,
            prefix_len,
            mtu,
            holding_time,
            preference: 255,
            ..Cie::default()
        };
        let nat = Cie {
            code: CieCode::SUCCESS,
            prefix_len: host_prefix_len(&nhs.proto_addr),
            mtu,
            holding_time: 0,
            client_nbma_addr: nhs.nbma_addr.clone(),
            client_nbma_subaddr: NbmaAddress::EMPTY,
            client_proto_addr: nhs.proto_addr.clone(),
            preference: 255,
        };
        Repr::new(
            Message::RegistrationRequest(Body {
                flags: Flags::REGISTRATION_U | Flags::CISCO_NAT,
                request_id,
                cies: vec![cie],
            }),
            me.nbma_addr.clone(),
            me.proto_addr.clone(),
            nhs.proto_addr.clone(),
        )
        .with_record_extensions()
        .with_extension(Extension::new(ExtensionBody::NatAddress(vec![nat])))
    }

    /// A Resolution Request as Cisco IOS sends it: flags Q, A, S and Cisco NAT, one CIE with the
    /// holding time and MTU, the record extensions and an empty Cisco NAT Address extension.
    pub fn resolution_request(
        request_id: u32,
        me: &Node,
        target: impl Into<Address>,
        holding_time: u16,
        mtu: u16,
    ) -> Repr {
        let target = target.into();
        let cie = Cie {
            code: CieCode::SUCCESS,
            prefix_len: host_prefix_len(&target),
            mtu,
            holding_time,
            preference: 0,
            ..Cie::default()
        };
        Repr::new(
            Message::ResolutionRequest(Body {
                flags: Flags::Q | Flags::A | Flags::S | Flags::CISCO_NAT,
                request_id,
                cies: vec![cie],
            }),
            me.nbma_addr.clone(),
            me.proto_addr.clone(),
            target,
        )
        .with_record_extensions()
        .with_extension(Extension::new(ExtensionBody::NatAddress(Vec::new())))
    }

    /// A Purge Request for the given bindings (RFC 2332 §5.2.5); `no_reply` sets the N flag.
    pub fn purge_request(
        request_id: u32,
        me: &Node,
        dst_proto_addr: impl Into<Address>,
        purged: Vec<Cie>,
        no_reply: bool,
    ) -> Repr {
        let flags = if no_reply { Flags::N } else { Flags::NONE };
        Repr::new(
            Message::PurgeRequest(Body {
                flags,
                request_id,
                cies: purged,
            }),
            me.nbma_addr.clone(),
            me.proto_addr.clone(),
            dst_proto_addr,
        )
    }

    /// The reply to a Resolution, Registration or Purge Request (`None` for other types).
    ///
    /// As RFC 2332 §5.2.2/§5.2.4/§5.2.6 and Cisco do: the source and destination fields, flags
    /// and request ID stay those of the request, the hop count is reset to 255, the
    /// request's extensions are copied and an empty Responder Address extension is filled with
    /// the responder's CIE (its addresses, with prefix length, MTU, holding time and preference
    /// of the first of `cies`).
    pub fn reply(&self, responder: &Node, cies: Vec<Cie>) -> Option<Repr> {
        let body = self.message.body()?;
        // The request's header and extensions, without its CIEs (no allocation for those).
        let request = Repr {
            afn: self.afn,
            protocol_type: self.protocol_type,
            protocol_snap: self.protocol_snap,
            hop_count: self.hop_count,
            src_nbma_addr: self.src_nbma_addr.clone(),
            src_nbma_subaddr: self.src_nbma_subaddr.clone(),
            src_proto_addr: self.src_proto_addr.clone(),
            dst_proto_addr: self.dst_proto_addr.clone(),
            message: Message::with_body(
                self.packet_type(),
                Body {
                    flags: body.flags,
                    request_id: body.request_id,
                    cies: Vec::new(),
                },
            )?,
            extensions: self.extensions.clone(),
        };
        request.into_reply(responder, cies)
    }

    /// [`Repr::reply`], consuming the request: its addresses and extensions move into the
    /// reply instead of being copied (what a server answering a packet it parsed does).
    pub fn into_reply(self, responder: &Node, cies: Vec<Cie>) -> Option<Repr> {
        let reply_type = match self.packet_type() {
            PacketType::RESOLUTION_REQUEST => PacketType::RESOLUTION_REPLY,
            PacketType::REGISTRATION_REQUEST => PacketType::REGISTRATION_REPLY,
            PacketType::PURGE_REQUEST => PacketType::PURGE_REPLY,
            _ => return None,
        };
        let body = self.message.body()?;
        let (flags, request_id) = (body.flags, body.request_id);
        let mut extensions = self.extensions;
        for e in &mut extensions {
            if let ExtensionBody::ResponderAddress(c) = &mut e.body
                && c.is_empty()
            {
                let template = cies.first().cloned().unwrap_or_default();
                c.push(Cie {
                    code: CieCode::SUCCESS,
                    prefix_len: host_prefix_len(&responder.proto_addr),
                    client_nbma_addr: responder.nbma_addr.clone(),
                    client_nbma_subaddr: NbmaAddress::EMPTY,
                    client_proto_addr: responder.proto_addr.clone(),
                    ..template
                });
            }
        }
        let message = Message::with_body(
            reply_type,
            Body {
                flags,
                request_id,
                cies,
            },
        )?;
        Some(Repr {
            afn: self.afn,
            protocol_type: self.protocol_type,
            protocol_snap: self.protocol_snap,
            hop_count: CISCO_HOP_COUNT,
            src_nbma_addr: self.src_nbma_addr,
            src_nbma_subaddr: self.src_nbma_subaddr,
            src_proto_addr: self.src_proto_addr,
            dst_proto_addr: self.dst_proto_addr,
            message,
            extensions,
        })
    }

    /// An Error Indication about `offending` (the bytes of the NHRP packet in error), sent by
    /// `me` back to the offending packet's source (RFC 2332 §5.2.7).
    ///
    /// The quoted packet is `offending` up to its `ar$pktsz` when that is readable and within
    /// the buffer, else the whole buffer, cut so that the Error Indication fits in 65535 bytes.
    /// `ar$afn` and `ar$pro.type` are those of the offending packet when its fixed header is
    /// there. No extensions: RFC 2332 §5.2.7 has none in an Error Indication.
    pub fn error_indication(offending: &[u8], code: ErrorCode, offset: u16, me: &Node) -> Repr {
        let view = Packet::new_unchecked(offending);
        let dst = if view.check_len().is_ok() {
            Address::from_bytes(view.src_proto_addr())
        } else {
            Address::Empty
        };
        let quoted = view.packet_bytes();
        let room = usize::from(u16::MAX)
            - MIN_PACKET_LEN
            - me.nbma_addr.addr.len().min(63)
            - me.proto_addr.len().min(255)
            - dst.len();
        let quoted = quoted.get(..room).unwrap_or(quoted).to_vec();
        let mut repr = Repr::new(
            Message::ErrorIndication(ErrorIndication {
                code,
                offset,
                packet: quoted,
            }),
            me.nbma_addr.clone(),
            me.proto_addr.clone(),
            dst,
        );
        if view.header().is_some() {
            repr.afn = view.afn();
            repr.protocol_type = view.protocol_type();
            repr.protocol_snap = view.protocol_snap();
        }
        repr
    }

    /// An Error Indication answering a parse error of `offending`: the code is
    /// [`Error::indication_code`], the offset [`Error::offset`] (0 if it has none).
    pub fn error_indication_for(offending: &[u8], error: &Error, me: &Node) -> Repr {
        let offset = error
            .offset()
            .and_then(|o| u16::try_from(o).ok())
            .unwrap_or(0);
        Repr::error_indication(offending, error.indication_code(), offset, me)
    }

    /// An Error Indication "Unrecognized Extension" for a packet carrying an unknown compulsory
    /// extension, with the offset of that extension; `None` if it has none (or its extensions
    /// do not parse).
    pub fn unrecognized_extension_indication(offending: &[u8], me: &Node) -> Option<Repr> {
        let view = Packet::new_checked(offending).ok()?;
        let ext = view.unrecognized_compulsory_extension().ok()??;
        let offset = u16::try_from(ext.offset).ok()?;
        Some(Repr::error_indication(
            offending,
            ErrorCode::UNRECOGNIZED_EXTENSION,
            offset,
            me,
        ))
    }

    /// A Cisco Traffic Indication (redirect, DMVPN phase 3) quoting the data packet that
    /// triggered it, sent by `me` (the hub) to the data packet's source: the destination
    /// protocol address is the triggering packet's source address, and `ar$pro.type` follows
    /// its IP version.
    pub fn traffic_indication(triggering: &[u8], me: &Node) -> Result<Repr, Error> {
        let (protocol_type, source) = ip_source(triggering)?;
        let room = usize::from(u16::MAX)
            - MIN_PACKET_LEN
            - me.nbma_addr.addr.len().min(63)
            - me.proto_addr.len().min(255)
            - source.len();
        let quoted = triggering.get(..room).unwrap_or(triggering).to_vec();
        let mut repr = Repr::new(
            Message::TrafficIndication(TrafficIndication {
                code: TrafficCode::REDIRECT,
                packet: quoted,
            }),
            me.nbma_addr.clone(),
            me.proto_addr.clone(),
            source,
        );
        repr.protocol_type = protocol_type;
        Ok(repr)
    }
}

/// The protocol type and source address of an IPv4 or IPv6 packet.
fn ip_source(packet: &[u8]) -> Result<(ProtocolType, Address), Error> {
    let reason = match dmvpn_wire::ip::version(packet) {
        Some(4) => "IPv4 header shorter than 20 bytes",
        Some(6) => "IPv6 header shorter than 40 bytes",
        Some(_) => "IP version is neither 4 nor 6",
        None => "empty packet",
    };
    match dmvpn_wire::ip::source(packet) {
        Some(a @ IpAddr::V4(_)) => Ok((ProtocolType::IPV4, a.into())),
        Some(a @ IpAddr::V6(_)) => Ok((ProtocolType::IPV6, a.into())),
        None => Err(Error::NotAnIpPacket { reason }),
    }
}
