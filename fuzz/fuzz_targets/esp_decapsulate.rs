//! `InboundSa::decapsulate` on SAs with fixed keys, fed a sequence of raw packets, genuine
//! packets (possibly bit-flipped) and replays: never panics, only genuine unmodified packets
//! are accepted, each at most once, and they decrypt to what was sent.
#![no_main]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use dmvpn_esp::crypto::{ChaChaRandom, rustcrypto};
use dmvpn_esp::{Error, InboundSa, Mode, OutboundSa, SaConfig, SaKeys, Suite};
use dmvpn_wire::{IpProtocol, ipv4};
use libfuzzer_sys::fuzz_target;

const SUITES: [&str; 6] = [
    "aes128gcm16",
    "aes256gcm16",
    "aes128-sha256",
    "aes256-sha512",
    "null-sha384",
    "aes128-sha1",
];

#[derive(Arbitrary, Debug)]
enum Op {
    /// Arbitrary bytes as a packet.
    Raw(Vec<u8>),
    /// Build a genuine packet (after skipping `skip % 8` sequence numbers), maybe flip a bit.
    Genuine {
        skip: u8,
        payload: Vec<u8>,
        dummy: bool,
        flip: Option<(u16, u8)>,
    },
    /// Send an earlier genuine packet again.
    Replay(u8),
    /// Let time pass (seconds).
    Wait(u16),
}

#[derive(Arbitrary, Debug)]
struct Input {
    suite: u8,
    esn: bool,
    tunnel: bool,
    window: u8,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let suite = Suite::parse(SUITES[usize::from(input.suite) % SUITES.len()]).expect("suite");
    let keys = SaKeys::new(
        &vec![0x11; suite.encryption.keymat_len()],
        &vec![0x22; suite.integrity.key_len()],
    );
    let provider = rustcrypto::provider(Arc::new(ChaChaRandom::from_seed([5; 32])));
    let mut cfg = SaConfig::new(0x0bad_cafe, suite, keys, provider);
    cfg.esn = input.esn;
    cfg.mode = if input.tunnel {
        Mode::Tunnel
    } else {
        Mode::Transport
    };
    cfg.replay_window = u32::from(input.window) * 8 + 64;
    cfg.lifetimes = dmvpn_esp::Lifetimes::from_hard(dmvpn_esp::Lifetime {
        time: Some(Duration::from_secs(3600)),
        packets: Some(200),
        bytes: None,
    });
    let mut now = Instant::now();
    let mut tx = OutboundSa::new(&cfg, now).expect("outbound");
    let mut rx = InboundSa::new(&cfg, now).expect("inbound");
    let mut sent: Vec<(Vec<u8>, Vec<u8>, bool)> = Vec::new();
    let mut out = vec![0u8; 4096];
    let mut wire = vec![0u8; 4096];
    for op in input.ops.into_iter().take(64) {
        match op {
            Op::Raw(bytes) => {
                let _ = rx.decapsulate(now, &bytes, &mut out);
            }
            Op::Genuine {
                skip,
                payload,
                dummy,
                flip,
            } => {
                for _ in 0..(skip % 8) {
                    let _ = tx.encapsulate(now, 47, &[], &mut wire);
                }
                let payload: Vec<u8> = payload.into_iter().take(2000).collect();
                let payload = if input.tunnel {
                    // An IPv4 header whose total length covers the payload.
                    let ip = ipv4::Repr::new(
                        Ipv4Addr::UNSPECIFIED,
                        Ipv4Addr::UNSPECIFIED,
                        IpProtocol(0),
                        payload.len(),
                    );
                    let mut p = vec![0u8; ip.header_len()];
                    p.extend_from_slice(&payload);
                    ip.emit(&mut ipv4::Packet::new_unchecked(&mut p[..]))
                        .expect("IPv4 header");
                    p
                } else {
                    payload
                };
                let nh = if dummy {
                    59
                } else if input.tunnel {
                    4
                } else {
                    47
                };
                let Ok(pkt) = tx.encapsulate(now, nh, &payload, &mut wire) else {
                    continue;
                };
                let mut pkt = pkt.to_vec();
                let mut flipped = false;
                if let Some((pos, mask)) = flip
                    && mask != 0
                {
                    let i = usize::from(pos) % pkt.len();
                    pkt[i] ^= mask;
                    flipped = true;
                }
                let before = rx.counters().pkts_verify;
                match rx.decapsulate(now, &pkt, &mut out) {
                    Ok(d) => {
                        assert!(!flipped, "a modified packet was accepted");
                        assert!(!dummy);
                        assert_eq!(d.payload, &payload[..]);
                    }
                    Err(Error::DummyPacket) => assert!(dummy && !flipped),
                    Err(_) => {}
                }
                if flipped {
                    assert_eq!(
                        rx.counters().pkts_verify,
                        before,
                        "a modified packet verified"
                    );
                }
                sent.push((pkt, payload, flipped));
            }
            Op::Replay(i) => {
                if !sent.is_empty() {
                    let (pkt, _, _) = &sent[usize::from(i) % sent.len()];
                    assert!(
                        rx.decapsulate(now, pkt, &mut out).is_err(),
                        "a replay was accepted"
                    );
                }
            }
            Op::Wait(s) => {
                now += Duration::from_secs(u64::from(s));
                rx.handle_timeout(now);
                tx.handle_timeout(now);
            }
        }
        while rx.poll_event().is_some() {}
        while tx.poll_event().is_some() {}
    }
});
