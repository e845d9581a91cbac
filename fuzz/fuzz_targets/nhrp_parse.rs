//! NHRP parser: arbitrary bytes through the view, the `Repr`, the extension and CIE iterators
//! and the quoted packet of Error Indications; whatever parses must re-emit to bytes that parse
//! back to the same `Repr`, and an Error Indication quoting the input must round-trip.
#![no_main]

use dmvpn_nhrp::wire::{Message, Node, Packet, Repr};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8], depth: usize) {
    let view = Packet::new_unchecked(data);
    let _ = (
        view.afn(),
        view.hop_count(),
        view.src_nbma_addr(),
        view.dst_proto_addr(),
    );
    let _ = (view.body(), view.compute_checksum(), view.verify_checksum());
    let _ = view.cies().count();
    for ext in view.extensions().flatten() {
        let _ = ext.cies().count();
    }
    let _ = view.unrecognized_compulsory_extension();
    let parsed = Repr::parse(&view);
    if let Ok(repr) = &parsed {
        let bytes = repr.to_bytes().expect("a parsed packet re-emits");
        assert_eq!(bytes.len(), repr.buffer_len());
        let again = Repr::parse_bytes(&bytes).expect("re-emitted bytes parse");
        assert_eq!(&again, repr);
        let _ = repr.unrecognized_compulsory_extension();
        // The quoted-packet paths: the packet in error, and the Traffic Indication's data packet.
        match &repr.message {
            Message::ErrorIndication(e) if depth < 4 => {
                let _ = e.quoted();
                check(&e.packet, depth + 1);
            }
            Message::TrafficIndication(t) => {
                let me = Node::new(std::net::Ipv4Addr::LOCALHOST, std::net::Ipv4Addr::LOCALHOST);
                if let Ok(r) = Repr::traffic_indication(&t.packet, &me) {
                    let b = r.to_bytes().expect("a traffic indication emits");
                    assert_eq!(Repr::parse_bytes(&b).expect("and parses"), r);
                }
            }
            _ => {}
        }
    }
    if depth == 0 {
        // Answering the input with an Error Indication quotes it whole and round-trips.
        let me = Node::new(std::net::Ipv4Addr::LOCALHOST, std::net::Ipv4Addr::LOCALHOST);
        let ind = match &parsed {
            Err(e) => Repr::error_indication_for(data, e, &me),
            Ok(_) => Repr::unrecognized_extension_indication(data, &me)
                .unwrap_or_else(|| Repr::error_indication(data, Default::default(), 0, &me)),
        };
        let b = ind.to_bytes().expect("an error indication emits");
        assert_eq!(Repr::parse_bytes(&b).expect("and parses"), ind);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, 0);
    // Random bytes rarely carry a valid checksum: fix it so the structural checks behind it
    // (CIEs, extensions, quoted packets) are reached as well.
    let mut fixed = data.to_vec();
    Packet::new_unchecked(&mut fixed[..]).fill_checksum();
    check(&fixed, 0);
});
