//! The ESP header/trailer parsers and the RFC 3948 UDP-encapsulation classifier on arbitrary
//! bytes: no panic, and whatever parses re-emits to the same bytes.
#![no_main]

use dmvpn_esp::wire::{Packet, Repr, Trailer, UdpEncapRepr, UdpPayload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // ESP header.
    let view = Packet::new_unchecked(data);
    let _ = (view.spi(), view.sequence(), view.payload());
    if let Ok(p) = Packet::new_checked(data)
        && let Ok(repr) = Repr::parse(&p)
    {
        let mut hdr = [0u8; 8];
        repr.emit(&mut Packet::new_unchecked(&mut hdr[..]));
        assert_eq!(&hdr[..], &data[..8], "ESP header re-emission differs");
    }
    // Trailer (as if `data` were a decrypted payload).
    if let Ok((t, payload)) = Trailer::parse(data) {
        let mut again = payload.to_vec();
        again.resize(payload.len() + t.buffer_len(), 0);
        t.emit(&mut again[payload.len()..]);
        assert_eq!(&again[..], data, "trailer re-emission differs");
    }
    // UDP port 4500 payload.
    match UdpPayload::classify(data) {
        Ok(UdpPayload::NatKeepalive) => assert_eq!(data, &[0xff]),
        Ok(UdpPayload::Ike(ike)) => assert_eq!(ike.len() + 4, data.len()),
        Ok(UdpPayload::Esp(p)) => assert_eq!(p.spi(), view.spi()),
        Err(_) => {}
    }
    if let Ok(r) = UdpEncapRepr::parse(data) {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf).expect("emit into buffer_len bytes");
        assert_eq!(
            &buf[..],
            &data[..r.buffer_len()],
            "UDP-encap re-emission differs"
        );
    }
});
