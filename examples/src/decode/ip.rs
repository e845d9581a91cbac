//! IPv4 and IPv6 (outer and inner), parsed with the `gre` crate's IP layer.

use dmvpn_wire::ip::Repr;
use serde_json::json;

use super::{Frame, dispatch_ip};

/// Decodes an IPv4/IPv6 packet and dispatches its payload. Anything that is not IP at all (an
/// unknown version nibble) is left undecoded; a broken IP header is an error.
pub(crate) fn decode(frame: &mut Frame, bytes: &[u8]) {
    let Some(version) = bytes.first().map(|b| b >> 4) else {
        return;
    };
    if version != 4 && version != 6 {
        return;
    }
    let (repr, payload) = match Repr::parse(bytes) {
        Ok(x) => x,
        Err(e) => return frame.error(if version == 4 { "ipv4" } else { "ipv6" }, e),
    };
    match &repr {
        Repr::V4(r) => frame.push(
            "ipv4",
            json!({
                "src": r.src_addr.to_string(),
                "dst": r.dst_addr.to_string(),
                "protocol": r.protocol.0,
                "ttl": r.ttl,
                "dscp_ecn": r.dscp_ecn,
                "identification": r.identification,
                "dont_fragment": r.dont_fragment,
                "more_fragments": r.more_fragments,
                "fragment_offset": r.fragment_offset,
                "total_length": r.buffer_len(),
            }),
        ),
        Repr::V6(r) => frame.push(
            "ipv6",
            json!({
                "src": r.src_addr.to_string(),
                "dst": r.dst_addr.to_string(),
                "next_header": r.next_header.0,
                "hop_limit": r.hop_limit,
                "traffic_class": r.traffic_class,
                "flow_label": r.flow_label,
                "payload_length": r.payload_len,
            }),
        ),
    }
    if frame.check_roundtrip() {
        let hlen = repr.header_len();
        let mut again = vec![0u8; hlen];
        match repr.emit(&mut again) {
            Ok(()) => frame.compare(
                &format!("{}-header", layer_name(&repr)),
                bytes.get(..hlen).unwrap_or(&[]),
                &again,
            ),
            Err(e) => frame.error(layer_name(&repr), format!("re-emit failed: {e}")),
        }
    }
    if let Repr::V4(r) = &repr
        && r.is_fragment()
    {
        return; // A fragment's payload is not a whole packet of the next protocol.
    }
    dispatch_ip(frame, repr.protocol().0, payload);
}

fn layer_name(repr: &Repr) -> &'static str {
    match repr {
        Repr::V4(_) => "ipv4",
        Repr::V6(_) => "ipv6",
    }
}
