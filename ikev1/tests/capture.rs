//! Every ISAKMP datagram of the real captures in `testdata/captures/` (UDP 500, and UDP 4500
//! after the non-ESP marker) parses and re-emits byte for byte: cleartext messages in full
//! (every payload decoded, every body re-emitted on its own too), encrypted ones as header
//! plus opaque body. Exchange types, flags, message IDs and payload chains are the ones
//! Wireshark shows (`tshark -T fields -e isakmp.exchangetype -e isakmp.flags -e
//! isakmp.messageid -e isakmp.nextpayload`), and the contents the ones it decodes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use core::net::Ipv4Addr;

use common::{IkeDatagram, ike_datagrams, unhex};
use dmvpn_ikev1::wire::{
    AuthMethod, Body, Doi, EncryptionAlgorithm, ExchangeType, GroupDescription, HashAlgorithm,
    Header, HeaderRepr, IdValue, IkeAttributes, IsakmpTransformId, KnownVendorId, Lifetime,
    Message, MessageView, NatTNumbering, Payload, PayloadType, Payloads, ProtocolId, Situation,
    recognise_vendor_id,
};

const MAIN_MODE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/captures/wireshark-capture-ipsec-ikev1-isakmp-main-mode.pcap"
));
const AGGRESSIVE_MODE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/captures/wireshark-capture-ipsec-ikev1-isakmp-aggressive-mode.pcap"
));
const PACKETLIFE_MAIN_MODE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/captures/tcpdump-ISAKMP_sa_setup.pcap"
));
const NAT_T_4500: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/captures/tcpdump-isakmp4500.pcap"
));

/// What tshark shows of one message: frame, UDP port, exchange type, flags, message ID, and
/// for a cleartext one the payload types in chain order.
type Expected = (usize, u16, u8, u8, u32, &'static [u8]);

/// Checks one capture against tshark's view, returning its messages.
fn check_capture(name: &str, pcap: &[u8], expected: &[Expected]) -> Vec<(IkeDatagram, Message)> {
    let datagrams = ike_datagrams(pcap);
    assert_eq!(datagrams.len(), expected.len(), "{name}: ISAKMP datagrams");
    let mut out = Vec::new();
    for (d, &(frame, port, exch, flags, mid, chain)) in datagrams.into_iter().zip(expected) {
        let at = format!("{name} frame {}", d.frame);
        assert_eq!((d.frame, d.sport, d.dport), (frame, port, port), "{at}");
        let bytes = &d.message;
        let msg = Message::parse(bytes).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(msg.exchange_type, ExchangeType(exch), "{at}");
        assert_eq!(msg.flags.0, flags, "{at}");
        assert_eq!(msg.message_id, mid, "{at}");
        // Byte for byte.
        assert_eq!(msg.to_vec().unwrap(), *bytes, "{at}: re-emission");
        // The header view and Repr agree with the message.
        let h = Header::new_checked(&bytes[..]).unwrap();
        let hr = HeaderRepr::parse(&h).unwrap();
        assert_eq!(hr, msg.header().unwrap(), "{at}");
        assert_eq!(usize::try_from(hr.length).unwrap(), bytes.len(), "{at}");
        assert_eq!(hr.to_bytes(), bytes[..28], "{at}");
        match &msg.body {
            Body::Clear(payloads) => {
                assert!(!msg.flags.encryption(), "{at}");
                let types: Vec<u8> = payloads.iter().map(|p| p.payload_type().0).collect();
                assert_eq!(types, chain, "{at}: payload chain");
                // Every payload body re-emits on its own.
                for raw in Payloads::new(h.next_payload(), h.payload()) {
                    let raw = raw.unwrap();
                    let p = Payload::parse(&raw).unwrap();
                    let mut body = vec![0u8; p.body_len()];
                    p.emit_body(&mut body).unwrap();
                    assert_eq!(body, raw.body, "{at}: {} body", raw.payload_type);
                }
                assert!(matches!(
                    MessageView::new_checked(&bytes[..]).unwrap().body(),
                    dmvpn_ikev1::wire::BodyView::Clear(_)
                ));
            }
            Body::Encrypted(e) => {
                assert!(msg.flags.encryption(), "{at}");
                assert_eq!(e.first_payload, PayloadType(chain[0]), "{at}");
                assert_eq!(e.ciphertext, bytes[28..], "{at}");
                // IKEv1 encrypts whole CBC blocks (8 for 3DES, 16 for AES).
                assert_eq!(e.ciphertext.len() % 8, 0, "{at}");
            }
        }
        out.push((d, msg));
    }
    out
}

fn vendor_ids(msg: &Message) -> Vec<Option<KnownVendorId>> {
    msg.payloads()
        .unwrap()
        .iter()
        .filter_map(|p| match p {
            Payload::VendorId(v) => Some(recognise_vendor_id(v).map(|m| m.id)),
            _ => None,
        })
        .collect()
}

fn only_transform(msg: &Message) -> IkeAttributes {
    let Some(Payload::Sa(sa)) = msg.payloads().unwrap().first() else {
        panic!("no SA first")
    };
    assert_eq!(
        (sa.doi, sa.situation),
        (Doi::IPSEC, Situation::IDENTITY_ONLY)
    );
    assert_eq!(sa.proposals.len(), 1);
    let p = &sa.proposals[0];
    assert_eq!(p.protocol_id, ProtocolId::ISAKMP);
    assert!(p.spi.is_empty());
    assert_eq!(p.transforms.len(), 1);
    assert_eq!(p.transforms[0].transform_id, IsakmpTransformId::KEY_IKE.0);
    p.transforms[0].ike_attributes().unwrap()
}

fn nat_d(msg: &Message) -> Vec<(NatTNumbering, usize)> {
    msg.payloads()
        .unwrap()
        .iter()
        .filter_map(|p| match p {
            Payload::NatD(n) => Some((n.numbering, n.hash.len())),
            _ => None,
        })
        .collect()
}

const E: u8 = 1;

#[test]
fn cisco_main_and_quick_mode() {
    let msgs = check_capture(
        "main mode",
        MAIN_MODE,
        &[
            (1, 500, 2, 0, 0, &[1, 13, 13, 13, 13]),
            (2, 500, 2, 0, 0, &[1, 13]),
            (3, 500, 2, 0, 0, &[4, 10, 13, 13, 13, 20, 20]),
            (4, 500, 2, 0, 0, &[4, 10, 13, 13, 13, 13, 20, 20]),
            (5, 500, 2, E, 0, &[5]),
            (6, 500, 2, E, 0, &[5]),
            (7, 500, 32, E, 0x635a_2e6a, &[8]),
            (8, 500, 32, E, 0x635a_2e6a, &[8]),
            (9, 500, 32, E, 0x635a_2e6a, &[8]),
        ],
    );
    // crypto isakmp policy: encryption aes (128), hash sha, group 2, pre-share, lifetime 86400.
    let policy = IkeAttributes {
        encryption: Some(EncryptionAlgorithm::AES_CBC),
        key_length: Some(128),
        hash: Some(HashAlgorithm::SHA1),
        group: Some(GroupDescription::MODP_1024),
        auth_method: Some(AuthMethod::PRE_SHARED_KEY),
        lifetimes: vec![Lifetime::seconds(86_400)],
        ..IkeAttributes::default()
    };
    assert_eq!(only_transform(&msgs[0].1), policy);
    assert_eq!(only_transform(&msgs[1].1), policy);
    // IOS writes its policy in exactly the order to_attributes uses.
    let Some(Payload::Sa(sa)) = msgs[0].1.payloads().unwrap().first() else {
        panic!()
    };
    assert_eq!(
        policy.to_attributes(),
        sa.proposals[0].transforms[0].attributes
    );
    use KnownVendorId as V;
    assert_eq!(
        vendor_ids(&msgs[0].1),
        [
            Some(V::NatTRfc3947),
            Some(V::NatTDraft(7)),
            Some(V::NatTDraft(3)),
            Some(V::NatTDraft02Newline)
        ]
    );
    assert_eq!(vendor_ids(&msgs[1].1), [Some(V::NatTRfc3947)]);
    // MM3/MM4: DPD, IOS's per-device ID (unnamed, as in Wireshark), XAUTH; the responder adds
    // Cisco Unity 1.0.
    assert_eq!(vendor_ids(&msgs[2].1), [Some(V::Dpd), None, Some(V::Xauth)]);
    assert_eq!(
        vendor_ids(&msgs[3].1),
        [Some(V::CiscoUnity), Some(V::Dpd), None, Some(V::Xauth)]
    );
    for m in &msgs[2..4] {
        // SHA-1 NAT-D hashes under RFC 3947's number, the peer's address first.
        assert_eq!(nat_d(&m.1), [(NatTNumbering::Rfc3947, 20); 2]);
        let ke = m.1.find(|p| match p {
            Payload::Ke(k) => Some(k.len()),
            _ => None,
        });
        assert_eq!(ke, Some(128), "group 2 is 1024 bits");
    }
}

#[test]
fn cisco_aggressive_mode() {
    let msgs = check_capture(
        "aggressive mode",
        AGGRESSIVE_MODE,
        &[
            (1, 500, 4, 0, 0, &[1, 13, 13, 13, 13, 4, 10, 5, 13, 13, 13]),
            (
                2,
                500,
                4,
                0,
                0,
                &[1, 13, 13, 13, 13, 13, 4, 5, 10, 8, 20, 20],
            ),
            (3, 500, 4, E, 0, &[8]),
            (4, 500, 32, E, 0xe22a_74c1, &[8]),
            (5, 500, 32, E, 0xe22a_74c1, &[8]),
            (6, 500, 32, E, 0xe22a_74c1, &[8]),
        ],
    );
    let ids: Vec<_> = msgs[..2]
        .iter()
        .map(|(_, m)| {
            m.find(|p| match p {
                Payload::Id(id) => Some(id.clone()),
                _ => None,
            })
            .unwrap()
        })
        .collect();
    // As tshark decodes them (isakmp.id.data.ipv4_addr, isakmp.id.protoid, isakmp.id.port).
    let addr = Ipv4Addr::new(192, 168, 12, 2);
    assert_eq!(ids[0].value().unwrap(), IdValue::Ipv4(addr));
    assert_eq!((ids[0].protocol_id, ids[0].port), (17, 0));
    assert_eq!(ids[1].value().unwrap(), IdValue::Ipv4(addr));
    assert_eq!((ids[1].protocol_id, ids[1].port), (0, 0));
    let hash = msgs[1].1.find(|p| match p {
        Payload::Hash(h) => Some(h.len()),
        _ => None,
    });
    assert_eq!(hash, Some(20), "HASH_R with SHA-1");
    use KnownVendorId as V;
    assert_eq!(
        vendor_ids(&msgs[1].1),
        [
            Some(V::CiscoUnity),
            Some(V::Dpd),
            None,
            Some(V::Xauth),
            Some(V::NatTRfc3947)
        ]
    );
}

#[test]
fn packetlife_cisco_nat_d_as_payload_15() {
    let msgs = check_capture(
        "PacketLife main mode",
        PACKETLIFE_MAIN_MODE,
        &[
            (1, 500, 2, 0, 0, &[1, 13, 13, 13]),
            (2, 500, 2, 0, 0, &[1, 13]),
            (3, 500, 2, 0, 0, &[4, 10, 13, 13, 13, 13, 15, 15]),
            (4, 500, 2, 0, 0, &[4, 10, 13, 13, 13, 13, 15, 15]),
            (5, 500, 2, E, 0, &[5]),
            (6, 500, 2, E, 0, &[5]),
            (7, 500, 32, E, 0x0f2b_7862, &[8]),
            (8, 500, 32, E, 0x0f2b_7862, &[8]),
            (9, 500, 32, E, 0x0f2b_7862, &[8]),
        ],
    );
    let attrs = only_transform(&msgs[0].1);
    assert_eq!(attrs.group, Some(GroupDescription::MODP_768));
    assert_eq!(attrs.lifetime_seconds(), Some(86_400));
    // The responder chose NAT-T draft 07 …
    let Some(Payload::VendorId(chosen)) = msgs[1].1.payloads().unwrap().get(1) else {
        panic!()
    };
    let chosen = recognise_vendor_id(chosen).unwrap().id;
    assert_eq!(chosen, KnownVendorId::NatTDraft(7));
    // … and both sides then send their NAT-D hashes as payload 15 (Wireshark, reading 15 as
    // GDOI's SA KEK, calls these frames malformed).
    assert_eq!(chosen.nat_t_numbering(), Some(NatTNumbering::Legacy));
    for m in &msgs[2..4] {
        assert_eq!(nat_d(&m.1), [(NatTNumbering::Legacy, 20); 2]);
    }
}

#[test]
fn openswan_nat_t_floats_to_4500() {
    let mid = 0x8b7e_8947;
    let msgs = check_capture(
        "isakmp4500",
        NAT_T_4500,
        &[
            (3, 500, 2, 0, 0, &[1, 13, 13, 13, 13, 13, 13]),
            (4, 500, 2, 0, 0, &[1, 13, 13, 13]),
            (5, 500, 2, 0, 0, &[4, 10, 20, 20]),
            (6, 500, 2, 0, 0, &[4, 10, 20, 20]),
            (7, 4500, 2, E, 0, &[5]),
            (8, 4500, 2, E, 0, &[5]),
            (9, 4500, 32, E, mid, &[8]),
            (10, 4500, 32, E, mid, &[8]),
            (11, 4500, 32, E, mid, &[8]),
            (15, 4500, 32, E, mid, &[8]),
            (16, 4500, 32, E, mid, &[8]),
            (20, 4500, 32, E, mid, &[8]),
            (21, 4500, 32, E, mid, &[8]),
            (30, 4500, 32, E, mid, &[8]),
            (35, 4500, 5, E, 0x02bd_c64f, &[8]),
        ],
    );
    // Four transforms in proposal 0, lifetimes in TV form (3600 s) before the algorithms.
    let Some(Payload::Sa(sa)) = msgs[0].1.payloads().unwrap().first() else {
        panic!()
    };
    let p = &sa.proposals[0];
    assert_eq!((p.number, p.transforms.len()), (0, 4));
    let groups: Vec<_> = p
        .transforms
        .iter()
        .map(|t| {
            let a = t.ike_attributes().unwrap();
            assert_eq!(a.lifetimes, [Lifetime::seconds(3600)]);
            assert_eq!(a.encryption, Some(EncryptionAlgorithm::TRIPLE_DES_CBC));
            assert_eq!(a.auth_method, Some(AuthMethod::RSA_SIGNATURES));
            (a.hash.unwrap(), a.group.unwrap())
        })
        .collect();
    use GroupDescription as G;
    use HashAlgorithm as H;
    assert_eq!(
        groups,
        [
            (H::MD5, G::MODP_1536),
            (H::SHA1, G::MODP_1536),
            (H::SHA1, G::MODP_1024),
            (H::MD5, G::MODP_1024)
        ]
    );
    use KnownVendorId as V;
    assert_eq!(
        vendor_ids(&msgs[0].1),
        [
            None, // Openswan's own ("OEkRbGXRvmPE")
            Some(V::Dpd),
            Some(V::NatTRfc3947),
            Some(V::NatTDraft(3)),
            Some(V::NatTDraft(2)),
            Some(V::NatTDraft(0))
        ]
    );
    let Some(Payload::VendorId(own)) = msgs[0].1.payloads().unwrap().get(1) else {
        panic!()
    };
    assert_eq!(*own, unhex("4f456b5262475852766d5045"));
    for m in &msgs[2..4] {
        assert_eq!(nat_d(&m.1), [(NatTNumbering::Rfc3947, 16); 2], "MD5 hashes");
    }
}

#[test]
fn thirty_nine_datagrams_in_all() {
    let all: Vec<_> = [MAIN_MODE, AGGRESSIVE_MODE, PACKETLIFE_MAIN_MODE, NAT_T_4500]
        .iter()
        .flat_map(|p| ike_datagrams(p))
        .collect();
    assert_eq!(all.len(), 39);
    let clear = all
        .iter()
        .filter(|d| !Message::parse(&d.message).unwrap().flags.encryption())
        .count();
    assert_eq!((clear, all.len() - clear), (14, 25));
}
