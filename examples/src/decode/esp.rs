//! ESP (RFC 4303), raw (IP protocol 50) and inside UDP on port 4500 (RFC 3948), parsed with the
//! `esp` crate. Without keys only the header is visible: SPI and sequence number.

pub(crate) use dmvpn_esp::wire::NAT_T_PORT;
use dmvpn_esp::wire::{Packet, Repr, UdpEncapRepr, UdpPayload};
use serde_json::json;

use super::Frame;

/// Decodes an ESP header and checks its re-emission.
pub(crate) fn decode(frame: &mut Frame, bytes: &[u8]) {
    let view = match Packet::new_checked(bytes) {
        Ok(v) => v,
        Err(e) => return frame.error("esp", e),
    };
    let repr = match Repr::parse(&view) {
        Ok(r) => r,
        Err(e) => return frame.error("esp", e),
    };
    frame.push(
        "esp",
        json!({
            "spi": repr.spi,
            "sequence": repr.sequence,
            "payload_length": view.payload().len(),
        }),
    );
    if frame.check_roundtrip() {
        let mut again = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut again[..]));
        frame.compare(
            "esp",
            bytes.get(..repr.buffer_len()).unwrap_or(bytes),
            &again,
        );
    }
}

/// Decodes a UDP payload on port 4500: NAT keepalive, IKE behind the non-ESP marker, or ESP.
pub(crate) fn decode_udp_encap(frame: &mut Frame, bytes: &[u8]) {
    let kind = match UdpPayload::classify(bytes) {
        Ok(UdpPayload::NatKeepalive) => "nat_keepalive",
        Ok(UdpPayload::Ike(_)) => "non_esp_marker",
        Ok(UdpPayload::Esp(_)) => "esp",
        Err(e) => return frame.error("udpencap", e),
    };
    frame.push("udpencap", json!({ "kind": kind }));
    if frame.check_roundtrip()
        && let Ok(repr) = UdpEncapRepr::parse(bytes)
    {
        let mut again = vec![0u8; repr.buffer_len()];
        match repr.emit(&mut again) {
            Ok(()) => frame.compare(
                "udpencap",
                bytes.get(..again.len()).unwrap_or(bytes),
                &again,
            ),
            Err(e) => frame.error("udpencap", format!("re-emit failed: {e}")),
        }
    }
    if kind == "esp" {
        decode(frame, bytes);
    }
}
