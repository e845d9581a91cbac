//! `remaining_lifetime`: what is left of an SA's hard lifetime, by time and by bytes, as
//! `show crypto ipsec sa` prints it ("remaining key lifetime (k/sec)").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_esp::crypto::{ChaChaRandom, all_providers};
use dmvpn_esp::{
    InboundSa, Lifetime, Lifetimes, NEXT_HEADER_GRE, OutboundSa, SaConfig, SaKeys, Suite,
};

fn config(lifetimes: Lifetimes) -> SaConfig {
    let suite = Suite::parse("aes256-sha256").unwrap();
    let keys = SaKeys::new(&[0x11; 32], &[0x22; 32]);
    let provider = all_providers(Arc::new(ChaChaRandom::from_seed([3; 32])))
        .into_iter()
        .next()
        .unwrap();
    let mut cfg = SaConfig::new(0x1000_0001, suite, keys, provider);
    cfg.lifetimes = lifetimes;
    cfg
}

#[test]
fn remaining_lifetime_falls_with_time_and_bytes_in_both_directions() {
    let t0 = Instant::now();
    let hard = Lifetime {
        time: Some(Duration::from_secs(3600)),
        bytes: Some(10_000),
        packets: None,
    };
    let cfg = config(Lifetimes::from_hard(hard));
    let mut out = OutboundSa::new(&cfg, t0).unwrap();
    let mut inb = InboundSa::new(&cfg, t0).unwrap();
    assert_eq!(out.lifetimes().hard, hard);
    assert_eq!(out.remaining_lifetime(t0), hard, "nothing used yet");

    let payload = [0x5a; 100];
    let mut buf = vec![0; out.encapsulated_len(payload.len())];
    let t1 = t0 + Duration::from_secs(10);
    let packet = out
        .encapsulate(t1, NEXT_HEADER_GRE, &payload, &mut buf)
        .unwrap()
        .to_vec();
    let mut plain = vec![0; packet.len()];
    inb.decapsulate(t1, &packet, &mut plain).unwrap();
    for left in [out.remaining_lifetime(t1), inb.remaining_lifetime(t1)] {
        assert_eq!(left.time, Some(Duration::from_secs(3590)));
        assert_eq!(left.bytes, Some(10_000 - 100), "payload bytes count");
        assert_eq!(left.packets, None);
    }
    // Past the hard limit: zero left, never negative.
    let late = t0 + Duration::from_secs(7200);
    assert_eq!(out.remaining_lifetime(late).time, Some(Duration::ZERO));
    // No limits at all: nothing to count down.
    let free = OutboundSa::new(&config(Lifetimes::UNLIMITED), t0).unwrap();
    assert_eq!(free.remaining_lifetime(late), Lifetime::default());
}
