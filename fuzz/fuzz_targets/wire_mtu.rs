//! The MTU helpers of `dmvpn-wire` on arbitrary bytes: the TCP MSS clamp (`ip tcp adjust-mss`:
//! the IPv4/IPv6, extension header, TCP header and option walks) and IPv4 fragmentation with
//! its reassembler. Input: two bytes of MSS limit, two of MTU, then an IP packet.
#![no_main]

use dmvpn_wire::fragment::{Fragmenter, MIN_MTU, reassemble};
use dmvpn_wire::tcp::{clamp_mss, syn_mss};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [l0, l1, m0, m1, packet @ ..] = data else {
        return;
    };
    let limit = u16::from_be_bytes([*l0, *l1]);
    let mtu = usize::from(u16::from_be_bytes([*m0, *m1]));

    // The clamp changes at most the MSS and the checksum, and only of a SYN whose MSS was
    // larger than the limit; then the MSS is the limit.
    let before = syn_mss(packet);
    let mut p = packet.to_vec();
    match clamp_mss(&mut p, limit) {
        Some(old) => {
            assert_eq!(before, Some(old));
            assert!(old > limit);
            assert_eq!(syn_mss(&p), Some(limit));
            let changed = p.iter().zip(packet).filter(|(a, b)| a != b).count();
            assert!(changed <= 4, "{changed} bytes changed");
        }
        None => {
            assert_eq!(&p[..], packet);
            assert!(before.is_none_or(|m| m <= limit));
        }
    }

    // Whatever the fragmenter takes comes apart into pieces that fit and go back together.
    if let Ok(mut f) = Fragmenter::new(packet, mtu.max(MIN_MTU)) {
        let n = f.count();
        let mut frags = Vec::new();
        let mut buf = Vec::new();
        while f.next_into(&mut buf) {
            assert!(buf.len() <= mtu.max(MIN_MTU));
            frags.push(buf.clone());
        }
        assert_eq!(frags.len(), n);
        let whole = reassemble(frags.iter().map(Vec::as_slice)).expect("our fragments reassemble");
        let ip = dmvpn_wire::ipv4::Packet::new_checked(packet).expect("it fragmented");
        // The original up to its total length, with its header checksum recomputed (the
        // fragmenter does not check it).
        let total = usize::from(ip.total_len());
        assert_eq!(whole.len(), total);
        assert_eq!(&whole[..10], &packet[..10]);
        assert_eq!(&whole[12..], &packet[12..total]);
    }
    let _ = reassemble([packet, packet]);
});
