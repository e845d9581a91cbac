//! `encapsulate` and `decapsulate` make no heap allocation, for every suite, backend, mode and
//! for the error paths (replay, forgery, dummy packets); nor do their in-place forms, given a
//! buffer with `max_trailer_len` bytes of spare capacity.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::alloc::System;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use dmvpn_esp::crypto::{ChaChaRandom, all_providers};
use dmvpn_esp::{Error, InboundSa, Mode, OutboundSa, Policy, SaConfig, SaDatabase, SaKeys, Suite};
use dmvpn_wire::{IpProtocol, ipv4};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SUITES: [&str; 8] = [
    "aes128gcm16",
    "aes256gcm16",
    "aes128-sha256",
    "aes256-sha384",
    "aes256-sha512",
    "aes128-sha1",
    "null-sha256",
    "aes256-sha256",
];

/// The allocator's counters are process-wide, so this file runs without the libtest harness
/// (`harness = false` in Cargo.toml): the harness's own thread, printing progress while the test
/// thread runs, allocated inside the measured regions and failed the check in most runs. Here
/// `main` is the only thread; a failed check panics, which fails `cargo test`.
fn main() {
    println!("\nrunning 1 test");
    sas_do_not_allocate();
    in_place_does_not_allocate();
    sadb_lookup_does_not_allocate();
    println!("test data_path_does_not_allocate ... ok");
    println!("\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
}

fn sas_do_not_allocate() {
    let now = Instant::now();
    let payload = vec![0x5au8; 1400];
    // A 100-byte inner IPv4 packet for tunnel mode.
    let mut inner = [0u8; 100];
    ipv4::Repr::new(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        IpProtocol(253),
        100 - ipv4::MIN_HEADER_LEN,
    )
    .emit(&mut ipv4::Packet::new_unchecked(&mut inner[..]))
    .unwrap();
    let mut wire = vec![0u8; 2048];
    let mut out = vec![0u8; 2048];
    for provider in all_providers(Arc::new(ChaChaRandom::from_seed([3; 32]))) {
        for name in SUITES {
            for (esn, mode) in [
                (false, Mode::Transport),
                (true, Mode::Transport),
                (false, Mode::Tunnel),
            ] {
                let suite = Suite::parse(name).unwrap();
                let keys = SaKeys::new(
                    &vec![1; suite.encryption.keymat_len()],
                    &vec![2; suite.integrity.key_len()],
                );
                let mut cfg = SaConfig::new(0x100, suite, keys, provider.clone());
                cfg.esn = esn;
                cfg.mode = mode;
                cfg.lifetimes = dmvpn_esp::Lifetimes::from_hard(dmvpn_esp::Lifetime {
                    packets: Some(10),
                    ..Default::default()
                });
                let mut tx = OutboundSa::new(&cfg, now).unwrap();
                let mut rx = InboundSa::new(&cfg, now).unwrap();
                let (nh, msg) = match mode {
                    Mode::Transport => (47u8, &payload[..]),
                    Mode::Tunnel => (4u8, &inner[..]),
                };
                let region = Region::new(GLOBAL);
                let mut events = 0;
                for i in 0..12 {
                    let r = tx.encapsulate(now, nh, msg, &mut wire);
                    if i >= 10 {
                        assert_eq!(r.unwrap_err(), Error::Expired);
                        continue;
                    }
                    let len = r.unwrap().len();
                    let d = rx.decapsulate(now, &wire[..len], &mut out).unwrap();
                    assert_eq!(d.payload, msg);
                    // Replay and forgery paths.
                    assert!(rx.decapsulate(now, &wire[..len], &mut out).is_err());
                    wire[len - 1] ^= 1;
                    assert!(rx.decapsulate(now, &wire[..len], &mut out).is_err());
                    while tx.poll_event().is_some() {
                        events += 1;
                    }
                }
                let dummy_len = tx.encapsulate(now, 59, &[], &mut wire).map(<[u8]>::len);
                assert_eq!(dummy_len, Err(Error::Expired));
                let stats = region.change();
                assert_eq!(
                    (stats.allocations, stats.reallocations),
                    (0, 0),
                    "{} {name} esn={esn} {mode:?}: {stats:?}",
                    provider.name
                );
                assert_eq!(events, 2, "rekey due and expired");
            }
        }
    }
}

fn in_place_does_not_allocate() {
    let now = Instant::now();
    let payload = vec![0x5au8; 1400];
    for provider in all_providers(Arc::new(ChaChaRandom::from_seed([5; 32]))) {
        for name in SUITES {
            for esn in [false, true] {
                let suite = Suite::parse(name).unwrap();
                let keys = SaKeys::new(
                    &vec![1; suite.encryption.keymat_len()],
                    &vec![2; suite.integrity.key_len()],
                );
                let mut cfg = SaConfig::new(0x300, suite, keys, provider.clone());
                cfg.esn = esn;
                let mut tx = OutboundSa::new(&cfg, now).unwrap();
                let mut rx = InboundSa::new(&cfg, now).unwrap();
                // Outer headers (IPv4 + UDP for NAT-T), ESP header and IV, payload, trailer.
                let start = 28 + tx.header_len();
                let mut buf = Vec::with_capacity(start + payload.len() + tx.max_trailer_len());
                let mut small = vec![0u8; 4];
                let region = Region::new(GLOBAL);
                for _ in 0..10 {
                    buf.clear();
                    buf.resize(start, 0);
                    buf.extend_from_slice(&payload);
                    let off = tx.encapsulate_in_place(now, 47, &mut buf, start).unwrap();
                    let pkt = &mut buf[off..];
                    let len = pkt.len();
                    let r = rx.decapsulate_in_place(now, pkt).unwrap();
                    assert_eq!(&pkt[r.payload], &payload[..]);
                    // Replay and forgery paths.
                    assert!(rx.decapsulate_in_place(now, pkt).is_err());
                    pkt[len - 1] ^= 1;
                    assert!(rx.decapsulate_in_place(now, pkt).is_err());
                }
                assert!(tx.encapsulate_in_place(now, 47, &mut small, 4).is_err());
                let stats = region.change();
                assert_eq!(
                    (stats.allocations, stats.reallocations),
                    (0, 0),
                    "in place: {} {name} esn={esn}: {stats:?}",
                    provider.name
                );
            }
        }
    }
}

fn sadb_lookup_does_not_allocate() {
    let now = Instant::now();
    let provider = all_providers(Arc::new(ChaChaRandom::from_seed([4; 32]))).remove(0);
    let suite = Suite::parse("aes128gcm16").unwrap();
    let keys = SaKeys::new(&[7; 20], &[]);
    let local = "198.51.100.1".parse().unwrap();
    let peer = "203.0.113.9".parse().unwrap();
    let cfg = SaConfig::new(0x200, suite, keys, provider);
    // Our outbound SA and the peer's inbound one (same keys, one direction).
    let mut ours = SaDatabase::new();
    ours.insert_outbound(
        Policy::dmvpn(local, peer),
        OutboundSa::new(&cfg, now).unwrap(),
    );
    let mut theirs = SaDatabase::new();
    theirs.insert_inbound(
        Policy::dmvpn(peer, local),
        InboundSa::new(&cfg, now).unwrap(),
    );
    let mut wire = [0u8; 256];
    let mut out = [0u8; 256];
    let region = Region::new(GLOBAL);
    for _ in 0..10 {
        let len = ours
            .encapsulate(now, local, peer, 47, b"gre packet", &mut wire)
            .unwrap()
            .len();
        let d = theirs
            .decapsulate(now, local, peer, &wire[..len], &mut out)
            .unwrap();
        assert_eq!(d.payload, b"gre packet");
    }
    assert_eq!(region.change().allocations, 0);

    let header = ours.outbound_header_len(peer).unwrap();
    let mut buf = Vec::with_capacity(256);
    let region = Region::new(GLOBAL);
    for _ in 0..10 {
        buf.clear();
        buf.resize(header, 0);
        buf.extend_from_slice(b"gre packet");
        let off = ours
            .encapsulate_in_place(now, local, peer, 47, &mut buf, header)
            .unwrap();
        let d = theirs
            .decapsulate_in_place(now, local, peer, &mut buf[off..])
            .unwrap();
        assert_eq!(&buf[off..][d.payload], b"gre packet");
    }
    assert_eq!(region.change().allocations, 0);
}
