//! Property tests: every `Repr` round-trips through its bytes; no input makes a parser panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use dmvpn_nhrp::wire::{
    Address, AddressFamily, AuthType, Authentication, Body, Cie, CieCode, ErrorCode,
    ErrorIndication, Extension, ExtensionBody, ExtensionType, Flags, Message, NbmaAddress,
    NbmaFormat, Packet, PacketType, ProtocolType, Repr, Secret, TrafficCode, TrafficIndication,
    UnknownMessage, VendorPrivate,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn address(max: usize) -> impl Strategy<Value = Address> {
    prop_oneof![
        Just(Address::Empty),
        any::<[u8; 4]>().prop_map(|a| Address::Ipv4(Ipv4Addr::from(a))),
        any::<[u8; 16]>().prop_map(|a| Address::Ipv6(Ipv6Addr::from(a))),
        vec(any::<u8>(), 1..=max)
            .prop_filter("0, 4 and 16 bytes are the other variants", |v| v.len() != 4
                && v.len() != 16)
            .prop_map(Address::Other),
    ]
}

fn nbma() -> impl Strategy<Value = NbmaAddress> {
    (any::<bool>(), address(63)).prop_map(|(e164, addr)| NbmaAddress {
        format: if e164 {
            NbmaFormat::E164
        } else {
            NbmaFormat::Nsap
        },
        addr,
    })
}

fn cie() -> impl Strategy<Value = Cie> {
    (any::<(u8, u8, u16, u16, u8)>(), nbma(), nbma(), address(40)).prop_map(
        |((code, prefix_len, mtu, holding_time, preference), n, s, p)| Cie {
            code: CieCode(code),
            prefix_len,
            mtu,
            holding_time,
            client_nbma_addr: n,
            client_nbma_subaddr: s,
            client_proto_addr: p,
            preference,
        },
    )
}

fn cies() -> impl Strategy<Value = Vec<Cie>> {
    vec(cie(), 0..3)
}

fn extension_body() -> impl Strategy<Value = ExtensionBody> {
    prop_oneof![
        cies().prop_map(ExtensionBody::ResponderAddress),
        cies().prop_map(ExtensionBody::ForwardTransitNhs),
        cies().prop_map(ExtensionBody::ReverseTransitNhs),
        cies().prop_map(ExtensionBody::NatAddress),
        (any::<u32>(), vec(any::<u8>(), 0..12)).prop_map(|(t, d)| ExtensionBody::Authentication(
            Authentication {
                auth_type: AuthType(t),
                data: Secret::new(d)
            }
        )),
        (any::<[u8; 3]>(), vec(any::<u8>(), 0..20)).prop_map(|(vendor_id, data)| {
            ExtensionBody::VendorPrivate(VendorPrivate { vendor_id, data })
        }),
        (1u16..=0x3fff, vec(any::<u8>(), 0..20))
            .prop_filter("known types parse as themselves", |(t, _)| !ExtensionType(
                *t
            )
            .is_known())
            .prop_map(|(t, data)| ExtensionBody::Unknown {
                ext_type: ExtensionType(t),
                data
            }),
    ]
}

fn extension() -> impl Strategy<Value = Extension> {
    (any::<bool>(), extension_body()).prop_map(|(compulsory, body)| Extension { compulsory, body })
}

fn message() -> impl Strategy<Value = Message> {
    let body = (any::<u16>(), any::<u32>(), cies()).prop_map(|(f, request_id, cies)| Body {
        flags: Flags(f),
        request_id,
        cies,
    });
    prop_oneof![
        (1u8..=6, body).prop_map(|(t, b)| Message::with_body(PacketType(t), b).unwrap()),
        (any::<u16>(), any::<u16>(), vec(any::<u8>(), 0..80)).prop_map(|(c, offset, packet)| {
            Message::ErrorIndication(ErrorIndication {
                code: ErrorCode(c),
                offset,
                packet,
            })
        }),
        (any::<u16>(), vec(any::<u8>(), 0..80)).prop_map(|(c, packet)| {
            Message::TrafficIndication(TrafficIndication {
                code: TrafficCode(c),
                packet,
            })
        }),
        (
            prop_oneof![Just(0u8), 9u8..=255],
            any::<[u8; 6]>(),
            vec(any::<u8>(), 0..40)
        )
            .prop_map(|(t, header, body)| Message::Unknown(UnknownMessage {
                packet_type: PacketType(t),
                header,
                body
            })),
    ]
}

prop_compose! {
    fn repr()(
        afn in any::<u16>(),
        protocol_type in any::<u16>(),
        protocol_snap in any::<[u8; 5]>(),
        hop_count in any::<u8>(),
        src_nbma_addr in nbma(),
        src_nbma_subaddr in nbma(),
        src_proto_addr in address(40),
        dst_proto_addr in address(40),
        message in message(),
        extensions in vec(extension(), 0..8),
    ) -> Repr {
        Repr {
            afn: AddressFamily(afn),
            protocol_type: ProtocolType(protocol_type),
            protocol_snap,
            hop_count,
            src_nbma_addr,
            src_nbma_subaddr,
            src_proto_addr,
            dst_proto_addr,
            message,
            extensions,
        }
    }
}

/// Everything a reader of an untrusted packet might call.
fn exercise(bytes: &[u8]) {
    let view = Packet::new_unchecked(bytes);
    let _ = (
        view.afn(),
        view.protocol_type(),
        view.hop_count(),
        view.flags(),
        view.request_id(),
        view.error_code(),
        view.error_offset(),
        view.traffic_code(),
        view.src_nbma_addr(),
        view.src_nbma_subaddr(),
        view.src_proto_addr(),
        view.dst_proto_addr(),
        view.body(),
        view.packet_bytes(),
        view.compute_checksum(),
    );
    let _ = view.cies().count();
    let _ = view.extensions().count();
    let _ = view.unrecognized_compulsory_extension();
    if let Ok(repr) = Repr::parse(&view) {
        // Whatever parses re-emits to bytes that parse to the same thing.
        let again = repr.to_bytes().unwrap();
        assert_eq!(Repr::parse_bytes(&again).unwrap(), repr);
        if let Message::ErrorIndication(e) = &repr.message {
            let _ = e.quoted_repr();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn repr_round_trips(r in repr()) {
        let bytes = r.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), r.buffer_len());
        let view = Packet::new_checked(&bytes[..]).unwrap();
        view.verify_checksum().unwrap();
        prop_assert_eq!(Repr::parse(&view).unwrap(), r);
    }

    #[test]
    fn cie_round_trips(c in cie()) {
        let r = Repr::new(
            Message::RegistrationReply(Body { cies: vec![c.clone()], ..Body::default() }),
            Address::Empty, Address::Empty, Address::Empty,
        );
        let parsed = Repr::parse_bytes(&r.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(&parsed.cies()[0], &c);
    }

    #[test]
    fn extension_round_trips(e in extension()) {
        let r = Repr::new(
            Message::PurgeReply(Body::default()), Address::Empty, Address::Empty, Address::Empty,
        ).with_extension(e.clone());
        let parsed = Repr::parse_bytes(&r.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(&parsed.extensions[0], &e);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_packets_never_panic(
        r in repr(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = r.to_bytes().unwrap();
        for (at, v) in edits {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        exercise(&bytes);
        // Fix the checksum so that the structural checks behind it are reached too.
        let mut fixed = bytes.clone();
        Packet::new_unchecked(&mut fixed[..]).fill_checksum();
        exercise(&fixed);
        exercise(&fixed[..cut.index(fixed.len() + 1)]);
    }

    #[test]
    fn mutated_cisco_packets_never_panic(
        which in 0usize..5,
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let src = [
            common::fixtures::REGISTRATION_REQUEST,
            common::fixtures::REGISTRATION_REPLY,
            common::fixtures::RESOLUTION_REQUEST,
            common::fixtures::RESOLUTION_REQUEST_FORWARDED,
            common::fixtures::RESOLUTION_REPLY,
        ][which];
        let mut bytes = src.to_vec();
        for (at, v) in edits {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        exercise(&bytes);
    }

    #[test]
    fn error_indication_quotes_any_packet(r in repr(), off in any::<u16>()) {
        let bytes = r.to_bytes().unwrap();
        let me = dmvpn_nhrp::wire::Node::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(172, 16, 0, 1));
        let ind = Repr::error_indication(&bytes, ErrorCode::PROTOCOL_ERROR, off, &me);
        let parsed = Repr::parse_bytes(&ind.to_bytes().unwrap()).unwrap();
        let Message::ErrorIndication(e) = &parsed.message else { panic!() };
        prop_assert_eq!(&e.packet, &bytes);
        prop_assert_eq!(e.offset, off);
        prop_assert_eq!(e.quoted_repr().unwrap(), r.clone());
        prop_assert_eq!(&parsed.dst_proto_addr, &r.src_proto_addr);
    }
}
