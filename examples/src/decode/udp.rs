//! UDP, just enough to find ESP-in-UDP and IKE (ports 500 and 4500).

use serde_json::json;

use super::{Frame, be16, dispatch_udp};

/// Decodes the UDP header and dispatches the payload by port.
pub(crate) fn decode(frame: &mut Frame, bytes: &[u8]) {
    let field = |at| be16(bytes, at);
    let (Some(src), Some(dst), Some(len), Some(sum)) = (field(0), field(2), field(4), field(6))
    else {
        return;
    };
    frame.push(
        "udp",
        json!({ "src_port": src, "dst_port": dst, "length": len, "checksum": sum }),
    );
    // The UDP length bounds the payload (link-layer padding may follow).
    let end = usize::from(len).clamp(8, bytes.len());
    if let Some(payload) = bytes.get(8..end) {
        dispatch_udp(frame, src, dst, payload);
    }
}
