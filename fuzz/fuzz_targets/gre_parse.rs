//! The GRE and outer IP parsers on arbitrary bytes: no panic, and whatever parses re-emits to the
//! same bytes.
#![no_main]

use dmvpn_gre::wire::{gre as g, ip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // GRE alone.
    let view = g::Packet::new_unchecked(data);
    let _ = (
        view.key(),
        view.sequence(),
        view.checksum(),
        view.payload(),
        view.verify_checksum(),
    );
    if let Ok((repr, payload)) = g::decapsulate(data) {
        assert_eq!(payload.len(), repr.payload_len);
        let mut again = data.to_vec();
        let out = g::encapsulate(&repr, &mut again, repr.header_len()).expect("re-emit");
        assert_eq!(&out[..], data, "GRE re-emission differs");
    }
    // GRE in IPv4/IPv6.
    if let Ok((outer, gre_repr, payload)) = ip::decapsulate(data) {
        assert_eq!(payload.len(), gre_repr.payload_len);
        let head = outer.header_len() + gre_repr.header_len();
        let mut again = data
            .get(..outer.buffer_len())
            .expect("length checked")
            .to_vec();
        let out = ip::encapsulate(&outer, &gre_repr, &mut again, head).expect("re-emit");
        assert_eq!(out.len(), outer.buffer_len());
        // The IPv4 header re-emits exactly; the GRE part too.
        assert_eq!(
            &out[..],
            data.get(..outer.buffer_len()).expect("length checked")
        );
    }
});
