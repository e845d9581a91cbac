//! GRE (RFC 2784/2890), parsed with the `gre` crate.

use dmvpn_gre::wire::gre::{Packet, Repr};
use serde_json::json;

use super::{Frame, dispatch_gre};

/// Decodes a GRE header, checks its re-emission, and dispatches the payload by protocol type.
pub(crate) fn decode(frame: &mut Frame, bytes: &[u8]) {
    let view = match Packet::new_checked(bytes) {
        Ok(v) => v,
        Err(e) => return frame.error("gre", e),
    };
    let repr = match Repr::parse(&view) {
        Ok(r) => r,
        Err(e) => return frame.error("gre", e),
    };
    frame.push(
        "gre",
        json!({
            "checksum_present": repr.checksum_present,
            "key_present": repr.key.is_some(),
            "sequence_present": repr.sequence.is_some(),
            "version": view.version(),
            "protocol_type": repr.protocol.0,
            "checksum": view.checksum(),
            "key": repr.key,
            "sequence": repr.sequence,
            "payload_length": repr.payload_len,
        }),
    );
    let payload = view.into_payload();
    if frame.check_roundtrip() {
        // Re-emit header and payload into a fresh buffer from the Repr alone.
        let mut again = vec![0u8; repr.buffer_len()];
        let head = repr.header_len();
        if let Some(dst) = again.get_mut(head..) {
            dst.copy_from_slice(payload);
        }
        match dmvpn_gre::wire::gre::encapsulate(&repr, &mut again, head) {
            Ok(out) => {
                let out = out.to_vec();
                frame.compare("gre", bytes, &out);
            }
            Err(e) => frame.error("gre", format!("re-emit failed: {e}")),
        }
    }
    dispatch_gre(frame, repr.protocol.0, payload);
}
