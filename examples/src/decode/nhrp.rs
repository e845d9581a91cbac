//! NHRP (RFC 2332 with the Cisco DMVPN extensions), parsed with the `nhrp` crate.
//!
//! The layer shows every field, every CIE and every extension (authentication passwords are
//! shown by length only). The packet quoted by an Error Indication is decoded as NHRP, the data
//! packet quoted by a Traffic Indication as IP; what is inside a quoted packet is shown in the
//! layer's `quoted` object and never counts as an error of the frame.

use dmvpn_nhrp::wire::{
    Address, Cie, Extension, ExtensionBody, Message, NbmaAddress, NbmaFormat, Packet, Repr,
};
use serde_json::{Map, Value, json};

use super::{Frame, hex, ip};

/// How deep Error Indications quoting Error Indications are followed.
const MAX_QUOTE_DEPTH: usize = 4;

/// Decodes an NHRP packet (the payload of GRE protocol type 0x2001) and checks its re-emission.
pub(crate) fn decode(frame: &mut Frame, bytes: &[u8]) {
    let view = match Packet::new_checked(bytes) {
        Ok(v) => v,
        Err(e) => return frame.error("nhrp", e),
    };
    let repr = match Repr::parse(&view) {
        Ok(r) => r,
        Err(e) => return frame.error("nhrp", e),
    };
    frame.push("nhrp", layer(&view, &repr, frame, 0));
    if frame.check_roundtrip() {
        match repr.to_bytes() {
            Ok(out) => frame.compare("nhrp", view.packet_bytes(), &out),
            Err(e) => frame.error("nhrp", format!("re-emit failed: {e}")),
        }
    }
}

fn addr(a: &Address) -> Value {
    Value::from(a.to_string())
}

fn nbma_format(a: &NbmaAddress) -> &'static str {
    match a.format {
        NbmaFormat::Nsap => "nsap",
        NbmaFormat::E164 => "e164",
    }
}

fn cie(c: &Cie) -> Value {
    json!({
        "code": c.code.0,
        "code_name": c.code.name(),
        "prefix_len": c.prefix_len,
        "mtu": c.mtu,
        "holding_time": c.holding_time,
        "client_nbma_format": nbma_format(&c.client_nbma_addr),
        "client_nbma_addr": addr(&c.client_nbma_addr.addr),
        "client_nbma_subaddr": addr(&c.client_nbma_subaddr.addr),
        "client_proto_addr": addr(&c.client_proto_addr),
        "preference": c.preference,
    })
}

fn extension(e: &Extension) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), Value::from(e.ext_type().0));
    m.insert("type_name".into(), json!(e.ext_type().name()));
    m.insert("compulsory".into(), Value::from(e.compulsory));
    m.insert("length".into(), Value::from(e.value_len()));
    match &e.body {
        ExtensionBody::Authentication(a) => {
            m.insert("auth_type".into(), Value::from(a.auth_type.0));
            m.insert("auth_type_name".into(), json!(a.auth_type.name()));
            // Secrets are not printed.
            m.insert("auth_data_length".into(), Value::from(a.data.len()));
        }
        ExtensionBody::VendorPrivate(v) => {
            m.insert("vendor_id".into(), Value::from(hex(&v.vendor_id)));
            m.insert("data".into(), Value::from(hex(&v.data)));
        }
        ExtensionBody::Unknown { data, .. } => {
            m.insert("data".into(), Value::from(hex(data)));
        }
        _ => {
            let cies: Vec<Value> = e.cies().unwrap_or_default().iter().map(cie).collect();
            m.insert("cies".into(), Value::from(cies));
        }
    }
    Value::Object(m)
}

/// An NHRP packet quoted by an Error Indication: decoded if it parses, else its error and bytes.
fn quoted_nhrp(bytes: &[u8], frame: &Frame, depth: usize) -> Value {
    let parsed = Packet::new_checked(bytes).and_then(|v| Repr::parse(&v).map(|r| (v, r)));
    match parsed {
        Ok((view, repr)) if depth < MAX_QUOTE_DEPTH => {
            json!({ "proto": "nhrp", "layer": layer(&view, &repr, frame, depth + 1) })
        }
        Ok(_) => json!({ "proto": "nhrp", "bytes": hex(bytes), "error": "quoted too deep" }),
        Err(e) => json!({ "proto": "nhrp", "bytes": hex(bytes), "error": e.to_string() }),
    }
}

/// A data packet quoted by a Traffic Indication, decoded as IP into a scratch frame.
fn quoted_ip(bytes: &[u8], frame: &Frame) -> Value {
    let mut sub = Frame::new(frame.number, false);
    ip::decode(&mut sub, bytes);
    json!({ "layers": sub.layers, "errors": sub.errors, "length": bytes.len() })
}

fn layer<T: AsRef<[u8]>>(view: &Packet<T>, repr: &Repr, frame: &Frame, depth: usize) -> Value {
    let body = repr.message.body();
    let mut m = json!({
        "packet_type": repr.packet_type().0,
        "packet_type_name": repr.packet_type().name(),
        "afn": repr.afn.0,
        "protocol_type": repr.protocol_type.0,
        "protocol_snap": hex(&repr.protocol_snap),
        "hop_count": repr.hop_count,
        "packet_size": view.packet_size(),
        "checksum": view.checksum(),
        "extension_offset": view.extension_offset(),
        "version": view.version(),
        "src_nbma_format": nbma_format(&repr.src_nbma_addr),
        "src_nbma_addr": addr(&repr.src_nbma_addr.addr),
        "src_nbma_subaddr": addr(&repr.src_nbma_subaddr.addr),
        "src_proto_addr": addr(&repr.src_proto_addr),
        "dst_proto_addr": addr(&repr.dst_proto_addr),
        "request_id": body.map(|b| b.request_id),
        "flags": body.map(|b| b.flags.0),
        "cies": repr.cies().iter().map(cie).collect::<Vec<_>>(),
        "extensions": repr.extensions.iter().map(extension).collect::<Vec<_>>(),
    });
    if let Value::Object(obj) = &mut m {
        match &repr.message {
            Message::ErrorIndication(e) => {
                obj.insert("error_code".into(), Value::from(e.code.0));
                obj.insert("error_code_name".into(), json!(e.code.name()));
                obj.insert("error_offset".into(), Value::from(e.offset));
                obj.insert("quoted".into(), quoted_nhrp(&e.packet, frame, depth));
            }
            Message::TrafficIndication(t) => {
                obj.insert("traffic_code".into(), Value::from(t.code.0));
                obj.insert("traffic_code_name".into(), json!(t.code.name()));
                obj.insert("quoted".into(), quoted_ip(&t.packet, frame));
            }
            Message::Unknown(u) => {
                obj.insert("header".into(), Value::from(hex(&u.header)));
                obj.insert("body".into(), Value::from(hex(&u.body)));
            }
            _ => {}
        }
        if let Some((e, at)) = repr.unrecognized_compulsory_extension() {
            obj.insert(
                "unrecognized_compulsory_extension".into(),
                json!({ "type": e.ext_type().0, "offset": at }),
            );
        }
    }
    m
}
