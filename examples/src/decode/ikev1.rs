//! ISAKMP / IKEv1 (RFC 2408, RFC 2409) on UDP 500, and on 4500 after the non-ESP marker, parsed
//! with the `ikev1` crate: header fields and, for a cleartext message, the payload chain with
//! decoded contents; for an encrypted one (E flag), the first inner payload type and the
//! ciphertext length (without keys nothing more is visible).

use dmvpn_ikev1::wire::{
    Attribute, AttributeValue, Body, Message, Payload, Transform, recognise_vendor_id,
};
use serde_json::{Value, json};

use super::{Frame, hex};

/// Decodes one ISAKMP message and checks its re-emission.
pub(crate) fn decode(frame: &mut Frame, bytes: &[u8]) {
    let msg = match Message::parse(bytes) {
        Ok(m) => m,
        Err(e) => return frame.error("ikev1", e),
    };
    let mut layer = json!({
        "cookie_i": format!("{:016x}", msg.cookie_i),
        "cookie_r": format!("{:016x}", msg.cookie_r),
        "exchange_type": msg.exchange_type.0,
        "exchange": msg.exchange_type.name(),
        "message_id": msg.message_id,
        "flags": msg.flags.0,
        "encrypted": msg.flags.encryption(),
        "length": msg.buffer_len(),
    });
    if let Value::Object(m) = &mut layer {
        match &msg.body {
            Body::Clear(payloads) => {
                m.insert(
                    "payloads".into(),
                    payloads.iter().map(payload_json).collect(),
                );
            }
            Body::Encrypted(e) => {
                m.insert("first_payload".into(), json!(e.first_payload.0));
                m.insert("encrypted_length".into(), json!(e.ciphertext.len()));
            }
        }
    }
    frame.push("ikev1", layer);
    if frame.check_roundtrip() {
        match msg.to_vec() {
            Ok(again) => frame.compare(
                "ikev1",
                bytes.get(..msg.buffer_len()).unwrap_or(bytes),
                &again,
            ),
            Err(e) => frame.error("ikev1", format!("re-emit failed: {e}")),
        }
    }
}

fn attribute_json(a: &Attribute) -> Value {
    match &a.value {
        AttributeValue::Short(v) => json!({ "type": a.attr_type, "value": v }),
        AttributeValue::Long(v) => json!({ "type": a.attr_type, "data": hex(v) }),
    }
}

fn transform_json(t: &Transform) -> Value {
    json!({
        "number": t.number,
        "id": t.transform_id,
        "attributes": t.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
    })
}

fn payload_json(p: &Payload) -> Value {
    let t = p.payload_type();
    let mut v = match p {
        Payload::Sa(sa) => json!({
            "doi": sa.doi.0,
            "situation": sa.situation.0,
            "proposals": sa.proposals.iter().map(|pr| json!({
                "number": pr.number,
                "protocol": pr.protocol_id.0,
                "spi": hex(&pr.spi),
                "transforms": pr.transforms.iter().map(transform_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
        Payload::Ke(k) => json!({ "data_length": k.len() }),
        Payload::Id(id) => json!({
            "id_type": id.id_type.0,
            "protocol": id.protocol_id,
            "port": id.port,
            "id": id.to_string(),
        }),
        Payload::Cert(c) => json!({ "encoding": c.encoding.0, "data_length": c.data.len() }),
        Payload::CertRequest(c) => {
            json!({ "cert_type": c.cert_type.0, "authority_length": c.authority.len() })
        }
        Payload::Hash(h) | Payload::Signature(h) => json!({ "data_length": h.len() }),
        Payload::Nonce(n) => json!({ "nonce": hex(n) }),
        Payload::Notify(n) => json!({
            "doi": n.doi.0,
            "notify_type": n.notify_type.0,
            "notify": n.notify_type.name(),
            "protocol": n.protocol_id.0,
            "spi": hex(&n.spi),
            "data": hex(&n.data),
        }),
        Payload::Delete(d) => json!({
            "doi": d.doi.0,
            "protocol": d.protocol_id.0,
            "spis": d.spis.iter().map(|s| hex(s)).collect::<Vec<_>>(),
        }),
        Payload::VendorId(vid) => json!({
            "vendor_id": hex(vid),
            "known": recognise_vendor_id(vid).map(|m| m.id.to_string()),
        }),
        Payload::NatD(n) => json!({ "hash": hex(&n.hash) }),
        Payload::NatOa(n) => json!({
            "id_type": n.id_type.0,
            "address": n.as_ip().map_or_else(|| hex(&n.address), |a| a.to_string()),
        }),
        Payload::Fragment(f) => json!({
            "fragment_id": f.id,
            "fragment_number": f.number,
            "last": f.is_last(),
            "data_length": f.data.len(),
        }),
        _ => json!({ "body_length": p.body_len() }),
    };
    if let Value::Object(m) = &mut v {
        let mut head = serde_json::Map::new();
        head.insert("type".into(), json!(t.0));
        head.insert("name".into(), json!(t.name()));
        head.insert("length".into(), json!(p.buffer_len()));
        head.extend(std::mem::take(m));
        *m = head;
    }
    v
}
