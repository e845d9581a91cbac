//! The IKEv2 message parser on arbitrary bytes: never panics; whatever parses re-emits into
//! bytes that parse back to the same message, and every payload of the raw chain decodes or
//! fails cleanly.
#![no_main]

use dmvpn_ikev2::wire::{Header, HeaderRepr, Message, Payload, PayloadType, Payloads};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::new_checked(data) {
        let repr = HeaderRepr::parse(&h).expect("a checked header parses");
        assert_eq!(repr.to_bytes()[..], data[..28]);
        for raw in Payloads::new(h.next_payload(), h.payload()).flatten() {
            if let Ok(p) = Payload::parse(&raw) {
                let mut body = vec![0u8; p.body_len()];
                p.emit_body(&mut body).expect("emit into buffer_len bytes");
            }
        }
    }
    if let Ok(msg) = Message::parse(data) {
        let bytes = msg.to_vec().expect("a parsed message re-emits");
        assert_eq!(bytes.len(), msg.buffer_len());
        let again = Message::parse(&bytes).expect("re-emitted message parses");
        assert_eq!(again, msg);
    }
    // Payload chains without a header, starting at every known type.
    if let Some((&first, rest)) = data.split_first() {
        for raw in Payloads::new(PayloadType(first), rest).flatten() {
            let _ = Payload::parse(&raw);
        }
    }
});
