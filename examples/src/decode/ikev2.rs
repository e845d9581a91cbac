//! IKEv2 (RFC 7296) on UDP 500, and on 4500 after the non-ESP marker, parsed with the `ikev2`
//! crate: header fields and the payload chain, with decoded contents for cleartext payloads and,
//! for SK/SKF, the inner next payload and lengths (without keys nothing more is visible).

use dmvpn_ikev2::wire::{Message, Payload, TrafficSelector, Transform};
use serde_json::{Value, json};

use super::{Frame, hex};

/// Decodes one IKE message and checks its re-emission.
pub(crate) fn decode(frame: &mut Frame, bytes: &[u8]) {
    let msg = match Message::parse(bytes) {
        Ok(m) => m,
        Err(e) => return frame.error("ikev2", e),
    };
    let payloads: Vec<Value> = msg.payloads.iter().map(payload_json).collect();
    frame.push(
        "ikev2",
        json!({
            "spi_i": format!("{:016x}", msg.spi_i),
            "spi_r": format!("{:016x}", msg.spi_r),
            "exchange_type": msg.exchange_type.0,
            "exchange": msg.exchange_type.name(),
            "message_id": msg.message_id,
            "flags": msg.flags.0,
            "initiator": msg.flags.initiator(),
            "response": msg.flags.response(),
            "length": msg.buffer_len(),
            "payloads": payloads,
        }),
    );
    if frame.check_roundtrip() {
        match msg.to_vec() {
            Ok(again) => frame.compare(
                "ikev2",
                bytes.get(..msg.buffer_len()).unwrap_or(bytes),
                &again,
            ),
            Err(e) => frame.error("ikev2", format!("re-emit failed: {e}")),
        }
    }
}

fn transform_json(t: &Transform) -> Value {
    json!({
        "type": t.transform_type.0,
        "type_name": t.transform_type.name(),
        "id": t.transform_id,
        "key_length": t.key_length(),
    })
}

fn selector_json(s: &TrafficSelector) -> Value {
    match s {
        TrafficSelector::Range {
            ip_protocol,
            start_port,
            end_port,
            start,
            end,
        } => json!({
            "ts_type": s.ts_type().0,
            "ip_protocol": ip_protocol,
            "ports": format!("{start_port}-{end_port}"),
            "addresses": format!("{start}-{end}"),
        }),
        TrafficSelector::Unknown {
            ts_type,
            ip_protocol,
            data,
        } => json!({ "ts_type": ts_type.0, "ip_protocol": ip_protocol, "data": hex(data) }),
    }
}

fn payload_json(p: &Payload) -> Value {
    let t = p.payload_type();
    let mut v = match p {
        Payload::Sa(sa) => json!({
            "proposals": sa.proposals.iter().map(|pr| json!({
                "number": pr.number,
                "protocol": pr.protocol_id.0,
                "spi": hex(&pr.spi),
                "proposal": pr.to_strongswan(),
                "transforms": pr.transforms.iter().map(transform_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
        Payload::Ke(ke) => json!({ "group": ke.group.0, "data_length": ke.data.len() }),
        Payload::IdI(id) | Payload::IdR(id) => {
            json!({ "id_type": id.id_type.0, "id": id.to_string() })
        }
        Payload::Cert(c) | Payload::CertReq(c) => {
            json!({ "encoding": c.encoding.0, "data_length": c.data.len() })
        }
        Payload::Auth(a) => json!({ "method": a.method.0, "data_length": a.data.len() }),
        Payload::Nonce(n) => json!({ "nonce": hex(n) }),
        Payload::Notify(n) => json!({
            "notify_type": n.notify_type.0,
            "notify": n.notify_type.name(),
            "protocol": n.protocol_id.0,
            "spi": hex(&n.spi),
            "data": hex(&n.data),
        }),
        Payload::Delete(d) => json!({
            "protocol": d.protocol_id.0,
            "spis": d.spis.iter().map(|s| hex(s)).collect::<Vec<_>>(),
        }),
        Payload::VendorId(v) => json!({ "vendor_id": hex(v) }),
        Payload::TsI(ts) | Payload::TsR(ts) => json!({
            "selectors": ts.selectors.iter().map(selector_json).collect::<Vec<_>>(),
        }),
        Payload::Sk(sk) => json!({ "inner_next": sk.inner_next.0, "data_length": sk.data.len() }),
        Payload::Skf(f) => json!({
            "inner_next": f.inner_next.0,
            "fragment_number": f.fragment_number,
            "total_fragments": f.total_fragments,
            "data_length": f.data.len(),
        }),
        Payload::Cp(cp) => json!({
            "cfg_type": cp.cfg_type.0,
            "attributes": cp.attributes.iter().map(|a| json!({
                "type": a.attr_type.0, "value": hex(&a.value),
            })).collect::<Vec<_>>(),
        }),
        Payload::Eap(e) => json!({ "eap_length": e.len() }),
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
