//! Every length inconsistency is a precise error; indications quote the right bytes.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::fixtures::*;
use dmvpn_nhrp::Error;
use dmvpn_nhrp::wire::{
    Address, Authentication, Body, Cie, ErrorCode, Extension, ExtensionBody, ExtensionType, Flags,
    Message, NbmaAddress, NbmaFormat, Node, Packet, PacketType, ProtocolType, Repr, TrafficCode,
    UnknownMessage, VendorPrivate,
};

/// Fixes the checksum of a modified packet so that the error under test is the one reported.
fn refresh(mut bytes: Vec<u8>) -> Vec<u8> {
    let mut p = Packet::new_unchecked(&mut bytes[..]);
    p.fill_checksum();
    bytes
}

fn hub() -> Node {
    Node::new(
        Ipv4Addr::new(192, 168, 123, 1),
        Ipv4Addr::new(172, 16, 123, 1),
    )
}

#[test]
fn short_buffer() {
    assert_eq!(
        Packet::new_checked(&REGISTRATION_REQUEST[..19]).unwrap_err(),
        Error::Truncated {
            needed: 20,
            got: 19
        }
    );
    assert_eq!(
        Repr::parse_bytes(&[]).unwrap_err(),
        Error::Truncated { needed: 20, got: 0 }
    );
}

#[test]
fn packet_size_vs_buffer() {
    assert_eq!(
        Packet::new_checked(&REGISTRATION_REQUEST[..104]).unwrap_err(),
        Error::PacketSizeExceedsBuffer {
            size: 105,
            available: 104
        }
    );
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[10..12].copy_from_slice(&27u16.to_be_bytes());
    assert_eq!(
        Packet::new_checked(&b[..]).unwrap_err(),
        Error::PacketSizeTooSmall { size: 27 }
    );
    // Trailing bytes after ar$pktsz (e.g. link padding) are not part of the packet.
    let mut padded = REGISTRATION_REQUEST.to_vec();
    padded.extend_from_slice(&[0xee; 7]);
    let p = Packet::new_checked(&padded[..]).unwrap();
    assert_eq!(p.packet_bytes(), REGISTRATION_REQUEST);
    assert_eq!(
        Repr::parse(&p).unwrap().to_bytes().unwrap(),
        REGISTRATION_REQUEST
    );
}

#[test]
fn checksum_mismatch_says_so() {
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[9] = 254; // hop count changed, checksum not updated
    let err = Repr::parse_bytes(&b).unwrap_err();
    let Error::Checksum { expected, computed } = err else {
        panic!("{err:?}")
    };
    assert_eq!(expected, 0xa25d);
    assert_eq!(computed, 0xa25e);
    assert!(err.to_string().contains("checksum"));
    assert_eq!(err.offset(), Some(12));
}

#[test]
fn version_must_be_1() {
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[16] = 2;
    assert_eq!(
        Repr::parse_bytes(&refresh(b)).unwrap_err(),
        Error::Version(2)
    );
}

#[test]
fn extension_offset_out_of_range() {
    for bad in [1u16, 27, 106, 0xffff] {
        let mut b = REGISTRATION_REQUEST.to_vec();
        b[14..16].copy_from_slice(&bad.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            Error::ExtensionOffset {
                offset: bad,
                min: 28,
                max: 105
            },
            "{bad}"
        );
    }
    // An offset inside the addresses: the destination address overruns the mandatory part.
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[14..16].copy_from_slice(&38u16.to_be_bytes());
    assert_eq!(
        Packet::new_checked(&b[..]).unwrap_err(),
        Error::AddressOverrun {
            field: "destination protocol address",
            at: 36,
            len: 4,
            end: 38
        }
    );
}

#[test]
fn address_lengths_vs_remaining_bytes() {
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[18] = 0x3f; // source NBMA address 63 bytes, past ar$extoff = 52
    assert_eq!(
        Packet::new_checked(&b[..]).unwrap_err(),
        Error::AddressOverrun {
            field: "source NBMA address",
            at: 28,
            len: 63,
            end: 52
        }
    );
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[20] = 200;
    assert!(matches!(
        Packet::new_checked(&b[..]).unwrap_err(),
        Error::AddressOverrun {
            field: "source protocol address",
            at: 32,
            len: 200,
            ..
        }
    ));
}

#[test]
fn cie_overrun() {
    // Claim a 4-byte client protocol address in the mandatory CIE: it runs into ar$extoff.
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[40 + 10] = 4;
    let err = Repr::parse_bytes(&refresh(b)).unwrap_err();
    assert_eq!(
        err,
        Error::CieOverrun {
            at: 40,
            needed: 16,
            available: 12
        }
    );
    assert_eq!(err.offset(), Some(40));
    // A mandatory part with 5 stray bytes after the addresses.
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[14..16].copy_from_slice(&45u16.to_be_bytes());
    assert_eq!(
        Repr::parse_bytes(&refresh(b)).unwrap_err(),
        Error::CieOverrun {
            at: 40,
            needed: 12,
            available: 5
        }
    );
}

#[test]
fn extension_errors() {
    // Responder Address extension (at 52) claiming 100 bytes.
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[54..56].copy_from_slice(&100u16.to_be_bytes());
    let err = Repr::parse_bytes(&refresh(b)).unwrap_err();
    assert_eq!(
        err,
        Error::ExtensionOverrun {
            at: 52,
            needed: 104,
            available: 53
        }
    );
    assert_eq!(err.indication_code(), ErrorCode::INVALID_EXTENSION);

    // End extension with a length.
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[104] = 1;
    let mut b = refresh(b);
    b.truncate(105);
    assert!(matches!(
        Repr::parse_bytes(&b).unwrap_err(),
        Error::InvalidExtension {
            ext_type: 0,
            at: 101,
            ..
        } | Error::ExtensionOverrun { at: 101, .. }
    ));

    // Bytes after End.
    let mut b = REGISTRATION_REQUEST.to_vec();
    b.extend_from_slice(&[0, 0]);
    b[10..12].copy_from_slice(&107u16.to_be_bytes());
    assert_eq!(
        Repr::parse_bytes(&refresh(b)).unwrap_err(),
        Error::TrailingData { at: 105, len: 2 }
    );

    // Authentication shorter than its type field.
    let r = Repr::parse_bytes(REGISTRATION_REQUEST).unwrap();
    let mut short = r.clone();
    short.extensions[3] = Extension {
        compulsory: true,
        body: ExtensionBody::Unknown {
            ext_type: ExtensionType(7),
            data: vec![0, 0, 1],
        },
    };
    let err = Repr::parse_bytes(&short.to_bytes().unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidExtension {
                ext_type: 7,
                at: 64,
                ..
            }
        ),
        "{err:?}"
    );

    // Vendor-private shorter than its OUI.
    let mut short = r;
    short.extensions[3] = Extension {
        compulsory: false,
        body: ExtensionBody::Unknown {
            ext_type: ExtensionType(8),
            data: vec![0, 0],
        },
    };
    let err = Repr::parse_bytes(&short.to_bytes().unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidExtension {
                ext_type: 8,
                at: 64,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn missing_end_is_tolerated_and_restored() {
    let mut b = REGISTRATION_REQUEST[..101].to_vec();
    b[10..12].copy_from_slice(&101u16.to_be_bytes());
    let r = Repr::parse_bytes(&refresh(b)).unwrap();
    assert_eq!(r.to_bytes().unwrap(), REGISTRATION_REQUEST);
}

#[test]
fn unknown_compulsory_extension_and_its_error_indication() {
    let mut r = Repr::parse_bytes(REGISTRATION_REQUEST).unwrap();
    r.extensions.insert(
        1,
        Extension {
            compulsory: true,
            body: ExtensionBody::Unknown {
                ext_type: ExtensionType(0x1234),
                data: vec![1, 2, 3],
            },
        },
    );
    r.extensions.insert(
        1,
        Extension {
            compulsory: false,
            body: ExtensionBody::Unknown {
                ext_type: ExtensionType(0x99),
                data: vec![],
            },
        },
    );
    let bytes = r.to_bytes().unwrap();
    let parsed = Repr::parse_bytes(&bytes).unwrap();
    assert_eq!(parsed, r);
    // Responder Address at 52 (4 bytes), the non-compulsory unknown at 56 (4), then ours at 60.
    let (ext, at) = parsed.unrecognized_compulsory_extension().unwrap();
    assert_eq!((ext.ext_type(), at), (ExtensionType(0x1234), 60));
    let view = Packet::new_checked(&bytes[..]).unwrap();
    let found = view.unrecognized_compulsory_extension().unwrap().unwrap();
    assert_eq!(
        (found.ext_type, found.offset, found.data),
        (ExtensionType(0x1234), 60, &[1u8, 2, 3][..])
    );

    let ind = Repr::unrecognized_extension_indication(&bytes, &hub()).unwrap();
    let Message::ErrorIndication(e) = &ind.message else {
        panic!()
    };
    assert_eq!((e.code, e.offset), (ErrorCode::UNRECOGNIZED_EXTENSION, 60));
    assert_eq!(e.packet, bytes);
    assert_eq!(
        ind.dst_proto_addr,
        Address::Ipv4(Ipv4Addr::new(172, 16, 123, 2))
    );
    assert!(ind.extensions.is_empty());
    let back = Repr::parse_bytes(&ind.to_bytes().unwrap()).unwrap();
    assert_eq!(back, ind);
    let Message::ErrorIndication(e) = &back.message else {
        panic!()
    };
    assert_eq!(e.quoted_repr().unwrap(), r);
    assert_eq!(&e.quoted().unwrap().packet_bytes()[60..62], &[0x92, 0x34]);
    // The Cisco packets have none.
    assert!(Repr::unrecognized_extension_indication(REGISTRATION_REQUEST, &hub()).is_none());
}

#[test]
fn error_indication_for_a_parse_error() {
    let mut b = REGISTRATION_REQUEST.to_vec();
    b[54..56].copy_from_slice(&100u16.to_be_bytes());
    let b = refresh(b);
    let err = Repr::parse_bytes(&b).unwrap_err();
    let ind = Repr::error_indication_for(&b, &err, &hub());
    let Message::ErrorIndication(e) = &ind.message else {
        panic!()
    };
    assert_eq!((e.code, e.offset), (ErrorCode::INVALID_EXTENSION, 52));
    assert_eq!(e.packet, b);
    // The quoted packet is itself broken: the view says so, the indication still round-trips.
    assert_eq!(e.quoted_repr().unwrap_err(), err);
    assert_eq!(Repr::parse_bytes(&ind.to_bytes().unwrap()).unwrap(), ind);

    // Garbage that is not even a header is quoted whole, with offset 0.
    let ind =
        Repr::error_indication_for(&[1, 2, 3], &Error::Truncated { needed: 20, got: 3 }, &hub());
    let Message::ErrorIndication(e) = &ind.message else {
        panic!()
    };
    assert_eq!(
        (e.code, e.offset, e.packet.as_slice()),
        (ErrorCode::PROTOCOL_ERROR, 0, &[1u8, 2, 3][..])
    );
    assert_eq!(ind.dst_proto_addr, Address::Empty);
}

#[test]
fn traffic_indication_quotes_the_data_packet() {
    // An IPv4 header (ICMP, 172.16.123.2 -> 172.16.123.3) plus 4 bytes.
    let mut data = vec![
        0x45, 0, 0, 24, 0, 1, 0, 0, 64, 1, 0, 0, 172, 16, 123, 2, 172, 16, 123, 3, 8, 0, 0xf7, 0xff,
    ];
    let c = dmvpn_wire::checksum::checksum(&data[..20]);
    data[10..12].copy_from_slice(&c.to_be_bytes());
    let r = Repr::traffic_indication(&data, &hub()).unwrap();
    assert_eq!(r.packet_type(), PacketType::TRAFFIC_INDICATION);
    assert_eq!(r.protocol_type, ProtocolType::IPV4);
    assert_eq!(
        r.dst_proto_addr,
        Address::Ipv4(Ipv4Addr::new(172, 16, 123, 2))
    );
    let bytes = r.to_bytes().unwrap();
    let view = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(view.traffic_code(), TrafficCode::REDIRECT);
    assert_eq!(view.body(), data.as_slice());
    assert_eq!(Repr::parse(&view).unwrap(), r);

    let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
    v6.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets());
    v6.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3).octets());
    let r = Repr::traffic_indication(&v6, &hub()).unwrap();
    assert_eq!(r.protocol_type, ProtocolType::IPV6);
    assert_eq!(
        r.dst_proto_addr,
        Address::Ipv6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2))
    );

    assert!(matches!(
        Repr::traffic_indication(&[0x45, 0, 0], &hub()),
        Err(Error::NotAnIpPacket { .. })
    ));
    assert!(matches!(
        Repr::traffic_indication(&[0x12; 40], &hub()),
        Err(Error::NotAnIpPacket { .. })
    ));
    assert!(matches!(
        Repr::traffic_indication(&[], &hub()),
        Err(Error::NotAnIpPacket { .. })
    ));
}

#[test]
fn emit_errors() {
    let r = Repr::parse_bytes(REGISTRATION_REQUEST).unwrap();
    let mut small = [0u8; 104];
    assert_eq!(
        r.emit(&mut Packet::new_unchecked(&mut small[..]))
            .unwrap_err(),
        Error::BufferTooSmall {
            needed: 105,
            got: 104
        }
    );
    assert!(small.iter().all(|&b| b == 0), "nothing written");
    // A larger buffer is fine; ar$pktsz says where the packet ends.
    let mut big = [0u8; 200];
    r.emit(&mut Packet::new_unchecked(&mut big[..])).unwrap();
    assert_eq!(&big[..105], REGISTRATION_REQUEST);

    let mut long = r.clone();
    long.src_nbma_addr.addr = Address::Other(vec![1; 64]);
    assert_eq!(
        long.to_bytes().unwrap_err(),
        Error::FieldTooLong {
            field: "source NBMA address",
            len: 64,
            max: 63
        }
    );
    let mut long = r.clone();
    long.message.body_mut().unwrap().cies[0].client_proto_addr = Address::Other(vec![1; 256]);
    assert!(matches!(
        long.to_bytes().unwrap_err(),
        Error::FieldTooLong { max: 255, .. }
    ));
    let mut long = r;
    long.extensions
        .push(Extension::new(ExtensionBody::VendorPrivate(
            VendorPrivate {
                vendor_id: [0, 0, 0x0c],
                data: vec![0; 70000],
            },
        )));
    assert!(matches!(
        long.to_bytes().unwrap_err(),
        Error::FieldTooLong { .. }
    ));
}

#[test]
fn passwords() {
    assert_eq!(
        Authentication::cisco_cleartext(b"").unwrap_err(),
        Error::PasswordLength { len: 0 }
    );
    assert_eq!(
        Authentication::cisco_cleartext(b"123456789").unwrap_err(),
        Error::PasswordLength { len: 9 }
    );
    let a = Authentication::cisco_cleartext(b"12345678").unwrap();
    assert!(a.verify_cleartext(b"12345678"));
    assert!(!a.verify_cleartext(b"1234567"));
    assert!(!format!("{a:?}").contains("1234"));
    // Replacing keeps a single authentication extension.
    let r = Repr::parse_bytes(REGISTRATION_REQUEST)
        .unwrap()
        .with_authentication(b"other")
        .unwrap();
    assert_eq!(
        r.extensions
            .iter()
            .filter(|e| e.ext_type() == ExtensionType::AUTHENTICATION)
            .count(),
        1
    );
    assert!(r.authentication().unwrap().verify_cleartext(b"other"));
}

#[test]
fn zero_length_addresses_e164_and_unknown_types() {
    let r = Repr {
        src_nbma_addr: NbmaAddress {
            format: NbmaFormat::E164,
            addr: Address::Other(b"4930123456".to_vec()),
        },
        src_nbma_subaddr: NbmaAddress {
            format: NbmaFormat::Nsap,
            addr: Address::Other(vec![9; 20]),
        },
        ..Repr::new(
            Message::Unknown(UnknownMessage {
                packet_type: PacketType(42),
                header: [1, 2, 3, 4, 5, 6],
                body: vec![7; 9],
            }),
            Address::Empty,
            Address::Empty,
            Address::Empty,
        )
    };
    let bytes = r.to_bytes().unwrap();
    assert_eq!(bytes[18], 0x40 | 10);
    assert_eq!(bytes[19], 20);
    assert_eq!(Repr::parse_bytes(&bytes).unwrap(), r);

    let purge = Repr::purge_request(
        9,
        &Node::new(Address::Empty, Address::Empty),
        Address::Empty,
        vec![Cie {
            client_proto_addr: Ipv6Addr::LOCALHOST.into(),
            prefix_len: 128,
            ..Cie::default()
        }],
        true,
    );
    let parsed = Repr::parse_bytes(&purge.to_bytes().unwrap()).unwrap();
    assert_eq!(parsed, purge);
    assert_eq!(parsed.flags(), Some(Flags::N));
    assert_eq!(parsed.packet_type(), PacketType::PURGE_REQUEST);
    let reply = parsed.reply(&hub(), vec![]).unwrap();
    assert_eq!(reply.packet_type(), PacketType::PURGE_REPLY);
    assert!(reply.reply(&hub(), vec![]).is_none());
    let _ = Body::default();
}
