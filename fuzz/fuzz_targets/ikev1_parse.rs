//! The ISAKMP / IKEv1 parser on arbitrary bytes: never panics; whatever parses re-emits into
//! bytes that parse back to the same message (and re-emit to the same bytes); every payload of
//! the raw chain decodes or fails cleanly; the typed readings of transform attributes, IDs,
//! notifications and vendor IDs never panic, and typed attributes round-trip. An encrypted body
//! and a header-less chain are also read as decrypted contents (payloads, then padding).
#![no_main]

use dmvpn_ikev1::wire::{
    Body, BodyView, Header, HeaderRepr, IkeAttributes, IpsecAttributes, Message, MessageView,
    Payload, PayloadType, Transform, chain_len, emit_chain, parse_chain, parse_decrypted_chain,
    recognise_vendor_id, strip_non_esp_marker,
};
use libfuzzer_sys::fuzz_target;

fn readings(payloads: &[Payload]) {
    for p in payloads {
        match p {
            Payload::Sa(sa) => {
                for t in sa.proposals.iter().flat_map(|p| &p.transforms) {
                    if let Ok(ike) = t.ike_attributes() {
                        let again = Transform::ike(t.number, &ike);
                        assert_eq!(again.ike_attributes().as_ref(), Ok(&ike));
                        assert_eq!(IkeAttributes::parse(&ike.to_attributes()), Ok(ike));
                    }
                    if let Ok(ipsec) = t.ipsec_attributes() {
                        assert_eq!(IpsecAttributes::parse(&ipsec.to_attributes()), Ok(ipsec));
                    }
                }
            }
            Payload::Id(id) => {
                let _ = (id.value(), id.as_ip(), id.to_string());
            }
            Payload::Notify(n) => {
                let _ = (
                    n.dpd_sequence(),
                    n.replay_status(),
                    n.responder_lifetime_attributes(),
                );
            }
            Payload::VendorId(v) => {
                if let Some(m) = recognise_vendor_id(v) {
                    let _ = (
                        m.version(),
                        m.fragmentation_capabilities(),
                        m.id.to_string(),
                    );
                }
            }
            Payload::NatOa(n) => {
                let _ = n.as_ip();
            }
            _ => {}
        }
    }
}

fn chain_round_trips(payloads: &[Payload]) {
    let mut buf = vec![0u8; chain_len(payloads)];
    emit_chain(payloads, &mut buf).expect("a parsed chain re-emits");
    let first = payloads
        .first()
        .map_or(PayloadType::NONE, Payload::payload_type);
    assert_eq!(parse_chain(first, &buf).as_deref(), Ok(payloads));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::new_checked(data) {
        let repr = HeaderRepr::parse(&h).expect("a checked header parses");
        assert_eq!(repr.to_bytes()[..], data[..28]);
    }
    if let Ok(view) = MessageView::new_checked(data) {
        match view.body() {
            BodyView::Clear(payloads) => {
                for raw in payloads.flatten() {
                    if let Ok(p) = Payload::parse(&raw) {
                        let mut body = vec![0u8; p.body_len()];
                        p.emit_body(&mut body).expect("emit into body_len bytes");
                        let again = dmvpn_ikev1::wire::RawPayload { body: &body, ..raw };
                        assert_eq!(Payload::parse(&again).as_ref(), Ok(&p));
                    }
                }
            }
            BodyView::Encrypted {
                first_payload,
                ciphertext,
            } => {
                if let Ok((payloads, _)) = parse_decrypted_chain(first_payload, ciphertext) {
                    readings(&payloads);
                    chain_round_trips(&payloads);
                }
            }
        }
    }
    if let Ok(msg) = Message::parse(data) {
        let bytes = msg.to_vec().expect("a parsed message re-emits");
        assert_eq!(bytes.len(), msg.buffer_len());
        let again = Message::parse(&bytes).expect("re-emitted message parses");
        assert_eq!(again, msg);
        assert_eq!(
            again.to_vec().as_ref(),
            Ok(&bytes),
            "emission is idempotent"
        );
        if let Body::Clear(payloads) = &msg.body {
            readings(payloads);
        }
    }
    // The same on UDP 4500, behind the non-ESP marker.
    if let Some(inner) = strip_non_esp_marker(data) {
        let _ = Message::parse(inner);
    }
    // Payload chains without a header, starting at the type in the first byte.
    if let Some((&first, rest)) = data.split_first() {
        if let Ok(payloads) = parse_chain(PayloadType(first), rest) {
            readings(&payloads);
            chain_round_trips(&payloads);
        }
        if let Ok((payloads, padding)) = parse_decrypted_chain(PayloadType(first), rest) {
            assert!(padding <= rest.len());
            chain_round_trips(&payloads);
        }
    }
});
