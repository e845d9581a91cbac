//! Every IKEv2 message of the real Cisco capture parses (IKE_SA_INIT fully, IKE_AUTH up to
//! its SK payload) and re-emits byte for byte; exchange types and message IDs are the ones
//! Wireshark shows (`isakmp.exchangetype`, `isakmp.messageid`).

mod common;

use dmvpn_ikev2::transform::{EncrId, IntegId, KeGroup, PrfId, TransformType};
use dmvpn_ikev2::wire::{
    ExchangeType, Flags, Header, HeaderRepr, Message, NotifyType, Payload, PayloadType, Payloads,
    ProtocolId,
};

const CAPTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/captures/wireshark-capture-ipsec-ikev2.pcap"
));

#[test]
fn capture_parses_and_reemits_byte_for_byte() {
    let msgs = common::udp_payloads(CAPTURE);
    assert_eq!(msgs.len(), 4);
    // tshark -T fields -e isakmp.exchangetype -e isakmp.messageid
    let wireshark = [(34u8, 0u32), (34, 0), (35, 1), (35, 1)];
    for (i, ((sport, dport, bytes), (exch, mid))) in msgs.iter().zip(wireshark).enumerate() {
        assert_eq!((*sport, *dport), (500, 500));
        let msg = Message::parse(bytes).unwrap_or_else(|e| panic!("frame {}: {e}", i + 1));
        assert_eq!(msg.exchange_type, ExchangeType(exch), "frame {}", i + 1);
        assert_eq!(msg.message_id, mid, "frame {}", i + 1);
        assert_eq!(msg.to_vec().unwrap(), *bytes, "frame {} re-emission", i + 1);
        // The header view and Repr agree with the message.
        let h = Header::new_checked(&bytes[..]).unwrap();
        let hr = HeaderRepr::parse(&h).unwrap();
        assert_eq!(hr, msg.header().unwrap());
        assert_eq!(usize::try_from(hr.length).unwrap(), bytes.len());
        assert_eq!(hr.to_bytes(), bytes[..28]);
        // Every payload body re-emits on its own too.
        for raw in Payloads::new(h.next_payload(), h.payload()) {
            let raw = raw.unwrap();
            let p = Payload::parse(&raw).unwrap();
            let mut body = vec![0u8; p.body_len()];
            p.emit_body(&mut body).unwrap();
            assert_eq!(body, raw.body, "frame {} {}", i + 1, raw.payload_type);
        }
    }
}

#[test]
fn ike_sa_init_is_decoded_fully() {
    let msgs = common::udp_payloads(CAPTURE);
    let req = Message::parse(&msgs[0].2).unwrap();
    assert_eq!(req.flags, Flags::INITIATOR);
    assert_eq!(req.spi_r, 0);
    let types: Vec<PayloadType> = req.payloads.iter().map(Payload::payload_type).collect();
    use PayloadType as T;
    assert_eq!(
        types,
        [
            T::SA,
            T::KE,
            T::NONCE,
            T::VENDOR_ID,
            T::VENDOR_ID,
            T::VENDOR_ID,
            T::NOTIFY,
            T::NOTIFY,
            T::VENDOR_ID
        ]
    );
    let Payload::Sa(sa) = &req.payloads[0] else {
        panic!()
    };
    assert_eq!(sa.proposals.len(), 1);
    let p = &sa.proposals[0];
    assert_eq!(p.protocol_id, ProtocolId::IKE);
    assert!(p.spi.is_empty());
    let Payload::Ke(ke) = &req.payloads[1] else {
        panic!()
    };
    let group = p.of_type(TransformType::KE).next().unwrap().transform_id;
    assert_eq!(ke.group, KeGroup(group));
    let Payload::Nonce(n) = &req.payloads[2] else {
        panic!()
    };
    assert!((16..=256).contains(&n.len()));
    // The proposal prints in strongSwan's syntax and reads back to itself.
    let text = p.to_strongswan();
    let again = dmvpn_ikev2::wire::Proposal::from_strongswan(&text, ProtocolId::IKE).unwrap();
    assert_eq!(again.transforms, p.transforms, "{text}");
    eprintln!("capture proposal: {text}");
    for t in &p.transforms {
        match t.transform_type {
            TransformType::ENCR => assert!(EncrId(t.transform_id).name().is_some()),
            TransformType::PRF => assert!(PrfId(t.transform_id).name().is_some()),
            TransformType::INTEG => assert!(IntegId(t.transform_id).name().is_some()),
            TransformType::KE => assert!(KeGroup(t.transform_id).name().is_some()),
            other => panic!("unexpected transform type {other}"),
        }
    }
    let notifies: Vec<NotifyType> = req
        .payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Notify(n) => Some(n.notify_type),
            _ => None,
        })
        .collect();
    assert_eq!(
        notifies,
        [
            NotifyType::NAT_DETECTION_SOURCE_IP,
            NotifyType::NAT_DETECTION_DESTINATION_IP
        ]
    );
    let resp = Message::parse(&msgs[1].2).unwrap();
    assert_eq!(resp.flags, Flags::RESPONSE);
    assert_ne!(resp.spi_r, 0);
    assert_eq!(resp.spi_i, req.spi_i);
}

#[test]
fn ike_auth_is_decoded_up_to_sk() {
    let msgs = common::udp_payloads(CAPTURE);
    for (_, _, bytes) in &msgs[2..] {
        let m = Message::parse(bytes).unwrap();
        let [Payload::Sk(sk)] = m.payloads.as_slice() else {
            panic!("{:?}", m.payloads)
        };
        // tshark shows the SK payload's next payload as IDi/IDr (35/36) or, with Cisco, AUTH.
        assert!(sk.inner_next.name().is_some(), "{}", sk.inner_next);
        assert_eq!(sk.data.len() + 4 + 28, bytes.len());
    }
}
