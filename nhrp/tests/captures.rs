//! The real Cisco captures: every NHRP packet parses, re-emits byte for byte, agrees with
//! Wireshark's decode, and the builders reproduce what the routers sent.

mod common;

use std::net::Ipv4Addr;

use common::fixtures::*;
use dmvpn_nhrp::wire::{
    Address, AuthType, CieCode, ExtensionBody, ExtensionType, Flags, Node, Packet, PacketType, Repr,
};

fn ip(a: u8, b: u8, c: u8, d: u8) -> Address {
    Address::Ipv4(Ipv4Addr::new(a, b, c, d))
}

fn spoke2() -> Node {
    Node::new(
        Ipv4Addr::new(192, 168, 123, 2),
        Ipv4Addr::new(172, 16, 123, 2),
    )
}
fn hub() -> Node {
    Node::new(
        Ipv4Addr::new(192, 168, 123, 1),
        Ipv4Addr::new(172, 16, 123, 1),
    )
}
fn spoke3() -> Node {
    Node::new(
        Ipv4Addr::new(192, 168, 123, 3),
        Ipv4Addr::new(172, 16, 123, 3),
    )
}

/// (file, fixture, Wireshark's packet type, request ID, hop count, src NBMA, src proto, dst proto),
/// values read with `tshark -T fields -e nhrp.hdr.op.type -e nhrp.reqid -e nhrp.hdr.hopcnt
/// -e nhrp.src.nbma.addr -e nhrp.src.prot.addr -e nhrp.dst.prot.addr`.
type Expected = (
    &'static str,
    &'static [u8],
    u8,
    u32,
    u8,
    Address,
    Address,
    Address,
);

fn expected() -> Vec<Expected> {
    let reg = "dmvpn-nhrp-registration.pcap";
    let res = "dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap";
    vec![
        (
            reg,
            REGISTRATION_REQUEST,
            3,
            1,
            255,
            ip(192, 168, 123, 2),
            ip(172, 16, 123, 2),
            ip(172, 16, 123, 1),
        ),
        (
            reg,
            REGISTRATION_REPLY,
            4,
            1,
            255,
            ip(192, 168, 123, 2),
            ip(172, 16, 123, 2),
            ip(172, 16, 123, 1),
        ),
        (
            res,
            RESOLUTION_REQUEST,
            1,
            3,
            255,
            ip(192, 168, 123, 2),
            ip(172, 16, 123, 2),
            ip(172, 16, 123, 3),
        ),
        (
            res,
            RESOLUTION_REQUEST_FORWARDED,
            1,
            3,
            254,
            ip(192, 168, 123, 2),
            ip(172, 16, 123, 2),
            ip(172, 16, 123, 3),
        ),
        (
            res,
            RESOLUTION_REPLY,
            2,
            3,
            255,
            ip(192, 168, 123, 2),
            ip(172, 16, 123, 2),
            ip(172, 16, 123, 3),
        ),
    ]
}

#[test]
fn captures_hold_the_fixtures() {
    let mut from_files = Vec::new();
    for file in [
        "dmvpn-nhrp-registration.pcap",
        "dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap",
    ] {
        for frame in common::read_frames(file) {
            from_files.push(common::nhrp_in_frame(&frame).unwrap().to_vec());
        }
    }
    let fixtures: Vec<Vec<u8>> = expected().iter().map(|e| e.1.to_vec()).collect();
    assert_eq!(from_files, fixtures);
}

#[test]
fn every_capture_packet_parses_reemits_and_matches_wireshark() {
    for (file, bytes, ptype, reqid, hops, nbma, src, dst) in expected() {
        let packet = Packet::new_checked(bytes).unwrap();
        packet.verify_checksum().unwrap();
        let repr = Repr::parse(&packet).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(repr.packet_type(), PacketType(ptype), "{file}");
        assert_eq!(repr.request_id(), Some(reqid), "{file}");
        assert_eq!(repr.hop_count, hops, "{file}");
        assert_eq!(repr.src_nbma_addr.addr, nbma, "{file}");
        assert_eq!(repr.src_proto_addr, src, "{file}");
        assert_eq!(repr.dst_proto_addr, dst, "{file}");
        assert_eq!(repr.buffer_len(), bytes.len());
        assert_eq!(
            repr.to_bytes().unwrap(),
            bytes,
            "{file}: re-emitted bytes differ"
        );
        assert!(repr.unrecognized_compulsory_extension().is_none());
        assert!(
            packet
                .unrecognized_compulsory_extension()
                .unwrap()
                .is_none()
        );
        // Cisco authentication: type 1, password "DMVPN".
        let auth = repr.authentication().unwrap();
        assert_eq!(auth.auth_type, AuthType::CLEARTEXT);
        assert!(auth.verify_cleartext(b"DMVPN"));
        assert!(!auth.verify_cleartext(b"DMVPM"));
    }
}

#[test]
fn registration_request_fields() {
    let r = Repr::parse_bytes(REGISTRATION_REQUEST).unwrap();
    assert_eq!(r.flags(), Some(Flags::REGISTRATION_U | Flags::CISCO_NAT));
    let cie = &r.cies()[0];
    assert_eq!(
        (
            cie.code,
            cie.prefix_len,
            cie.mtu,
            cie.holding_time,
            cie.preference
        ),
        (CieCode::SUCCESS, 32, 17916, 7200, 255)
    );
    assert!(cie.client_nbma_addr.addr.is_empty() && cie.client_proto_addr.is_empty());
    let types: Vec<(u16, bool)> = r
        .extensions
        .iter()
        .map(|e| (e.ext_type().0, e.compulsory))
        .collect();
    assert_eq!(
        types,
        [(3, true), (4, true), (5, true), (7, true), (9, false)]
    );
    let nat = r
        .extension(ExtensionType::NAT_ADDRESS)
        .unwrap()
        .cies()
        .unwrap();
    assert_eq!(nat[0].client_nbma_addr.addr, ip(192, 168, 123, 1));
    assert_eq!(nat[0].client_proto_addr, ip(172, 16, 123, 1));
    assert_eq!(nat[0].holding_time, 0);
    // The password never shows in Debug output.
    let dbg = format!("{r:?}");
    assert!(
        !dbg.contains("DMVPN") && !dbg.contains("68, 77, 86"),
        "{dbg}"
    );
    assert!(dbg.contains("redacted"));
}

#[test]
fn builders_reproduce_the_registration_exchange() {
    let request = Repr::registration_request(1, &spoke2(), &hub(), 7200, 17916)
        .with_authentication(b"DMVPN")
        .unwrap();
    assert_eq!(request.to_bytes().unwrap(), REGISTRATION_REQUEST);

    let parsed = Repr::parse_bytes(REGISTRATION_REQUEST).unwrap();
    let reply = parsed.reply(&hub(), parsed.cies().to_vec()).unwrap();
    assert_eq!(reply.to_bytes().unwrap(), REGISTRATION_REPLY);
}

#[test]
fn builders_reproduce_the_resolution_exchange() {
    let request =
        Repr::resolution_request(3, &spoke2(), Ipv4Addr::new(172, 16, 123, 3), 7200, 17916)
            .with_authentication(b"DMVPN")
            .unwrap();
    assert_eq!(request.to_bytes().unwrap(), RESOLUTION_REQUEST);

    // The hub forwards it: hop count - 1, its own CIE appended to the Forward Transit record.
    let mut forwarded = Repr::parse_bytes(RESOLUTION_REQUEST).unwrap();
    forwarded.hop_count -= 1;
    let hub_cie = dmvpn_nhrp::wire::Cie {
        prefix_len: 32,
        mtu: 17916,
        holding_time: 7200,
        client_nbma_addr: hub().nbma_addr,
        client_proto_addr: hub().proto_addr,
        ..Default::default()
    };
    match &mut forwarded
        .extension_mut(ExtensionType::FORWARD_TRANSIT_NHS)
        .unwrap()
        .body
    {
        ExtensionBody::ForwardTransitNhs(c) => c.push(hub_cie),
        other => panic!("{other:?}"),
    }
    assert_eq!(forwarded.to_bytes().unwrap(), RESOLUTION_REQUEST_FORWARDED);

    // Also through the view: decrementing the hop count and refreshing the checksum.
    let mut buf = RESOLUTION_REQUEST.to_vec();
    let mut view = Packet::new_checked(&mut buf[..]).unwrap();
    view.set_hop_count(254);
    view.fill_checksum();
    view.verify_checksum().unwrap();

    // Spoke 3 answers the forwarded request directly, authoritative and unique.
    let answer = dmvpn_nhrp::wire::Cie {
        prefix_len: 32,
        mtu: 17916,
        holding_time: 7200,
        client_nbma_addr: spoke3().nbma_addr,
        client_proto_addr: spoke3().proto_addr,
        ..Default::default()
    };
    let mut reply = Repr::parse_bytes(RESOLUTION_REQUEST_FORWARDED)
        .unwrap()
        .reply(&spoke3(), vec![answer])
        .unwrap();
    reply.message.body_mut().unwrap().flags |= Flags::D | Flags::RESOLUTION_U;
    assert_eq!(reply.to_bytes().unwrap(), RESOLUTION_REPLY);
}
