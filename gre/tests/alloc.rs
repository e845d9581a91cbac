//! `Tunnel` encapsulation and decapsulation make no heap allocation per packet once the peer is
//! known: with and without key, checksum and sequencing, over IPv4 and IPv6 outer headers, with
//! and without the outer header, multipoint and point-to-point, and on every error path
//! (wrong key, bad GRE or IPv4 checksum, missing checksum or sequence number, replayed sequence
//! number, truncated, fragment, not GRE, not local, wrong peer, a full peer table), and for
//! packets from sources that have no entry (which never get one here).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::alloc::System;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dmvpn_gre::wire::gre;
use dmvpn_gre::{Config, Error, Mode, Protocol, Tunnel};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PAYLOAD: usize = 1400;
const PACKETS: usize = 64;

/// The allocator's counters are process-wide, so this file runs without the libtest harness
/// (`harness = false` in Cargo.toml), as esp/tests/alloc.rs does: `main` is the only thread; a
/// failed check panics, which fails `cargo test`.
fn main() {
    println!("\nrunning 1 test");
    let mut cases = 0;
    for v6 in [false, true] {
        for key in [None, Some(100)] {
            for checksum in [false, true] {
                for sequence in [false, true] {
                    for p2p in [false, true] {
                        tunnel_does_not_allocate(v6, key, checksum, sequence, p2p);
                        cases += 1;
                    }
                }
            }
        }
    }
    full_table_does_not_allocate();
    println!("test tunnel_data_path_does_not_allocate ({cases} configurations) ... ok");
    println!("\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
}

fn addrs(v6: bool) -> (IpAddr, IpAddr, IpAddr) {
    let s = |a: &str| a.parse::<IpAddr>().unwrap();
    if v6 {
        (s("2001:db8::1"), s("2001:db8::2"), s("2001:db8::99"))
    } else {
        (s("172.16.1.1"), s("172.17.0.1"), s("172.16.9.9"))
    }
}

fn config(
    local: IpAddr,
    remote: IpAddr,
    key: Option<u32>,
    checksum: bool,
    seq: bool,
    p2p: bool,
) -> Config {
    let base = if p2p {
        Config::point_to_point(local, remote)
    } else {
        Config::multipoint(local)
    };
    Config {
        key,
        checksum,
        sequence: seq,
        ..base
    }
}

/// Asserts that `f` allocates nothing (nor frees, nor reallocates).
fn no_alloc(what: &str, f: impl FnOnce()) {
    let region = Region::new(GLOBAL);
    f();
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations, stats.deallocations),
        (0, 0, 0),
        "{what}: {stats:?}"
    );
}

fn tunnel_does_not_allocate(v6: bool, key: Option<u32>, checksum: bool, sequence: bool, p2p: bool) {
    let what = format!("v6 {v6} key {key:?} checksum {checksum} sequence {sequence} p2p {p2p}");
    let now = Instant::now();
    let (a, b, stranger) = addrs(v6);
    let mut tx = Tunnel::new(config(a, b, key, checksum, sequence, p2p)).unwrap();
    let mut rx = Tunnel::new(config(b, a, key, checksum, sequence, p2p)).unwrap();
    // A stranger's tunnel with the same settings (multipoint, so that it may send to `b`).
    let mut other = Tunnel::new(config(stranger, b, key, checksum, sequence, false)).unwrap();
    // A sender with the wrong key, and one that never checksums or numbers its packets.
    let mut wrong_key = Tunnel::new(config(a, b, Some(7), checksum, sequence, p2p)).unwrap();
    let mut plain = Tunnel::new(config(a, b, key, false, false, p2p)).unwrap();

    let head = tx.overhead();
    let ghead = tx.gre_overhead();
    let proto = if v6 { Protocol::IPV6 } else { Protocol::IPV4 };
    let mut buf = vec![0x45u8; head + PAYLOAD];
    let mut gbuf = vec![0x45u8; ghead + PAYLOAD];
    let mut copy = vec![0u8; head + PAYLOAD];

    // Before the region: the first packet each way creates the peers' entries (allowed to
    // allocate: a new peer), and `rx` admits its peer as an upper layer does.
    let first = tx
        .encapsulate_ip(b, proto, &mut buf, head, PAYLOAD)
        .unwrap()
        .to_vec();
    let rx_first = rx.decapsulate_ip(&first).unwrap();
    rx.admit(now, &rx_first).unwrap();
    let gfirst = rx
        .encapsulate(a, proto, &mut gbuf, ghead, PAYLOAD)
        .unwrap()
        .to_vec();
    let got = tx.decapsulate(b, &gfirst).unwrap();
    tx.admit(now, &got).unwrap();
    // The other senders' first packets (their entries for `b`), built outside the region.
    let stranger_wire = other
        .encapsulate_ip(
            b,
            proto,
            &mut vec![0x45u8; other.overhead() + PAYLOAD],
            other.overhead(),
            PAYLOAD,
        )
        .unwrap()
        .to_vec();
    let wrong_key_wire = wrong_key
        .encapsulate_ip(
            b,
            proto,
            &mut vec![0x45u8; wrong_key.overhead() + PAYLOAD],
            wrong_key.overhead(),
            PAYLOAD,
        )
        .unwrap()
        .to_vec();
    let plain_wire = plain
        .encapsulate_ip(
            b,
            proto,
            &mut vec![0x45u8; plain.overhead() + PAYLOAD],
            plain.overhead(),
            PAYLOAD,
        )
        .unwrap()
        .to_vec();
    // A checksummed packet (valid, from a tunnel whatever `checksum` says), to corrupt.
    let mut summer = Tunnel::new(config(a, b, key, true, sequence, p2p)).unwrap();
    let summed = summer
        .encapsulate_ip(
            b,
            proto,
            &mut vec![0x45u8; summer.overhead() + PAYLOAD],
            summer.overhead(),
            PAYLOAD,
        )
        .unwrap()
        .to_vec();
    let outer_len = if v6 { 40 } else { 20 };

    no_alloc(&what, || {
        for _ in 0..PACKETS {
            // Both directions, with and without the outer header.
            let wire = tx
                .encapsulate_ip(b, proto, &mut buf, head, PAYLOAD)
                .unwrap();
            copy[..wire.len()].copy_from_slice(wire);
            let len = wire.len();
            let r = rx.decapsulate_ip(&copy[..len]).unwrap();
            assert_eq!(r.payload.len(), PAYLOAD);
            // Replayed: out of order with sequencing, accepted again without.
            let again = rx.decapsulate_ip(&copy[..len]);
            assert_eq!(again.is_err(), sequence);
            let g = rx.encapsulate(a, proto, &mut gbuf, ghead, PAYLOAD).unwrap();
            let r = tx.decapsulate(b, g).unwrap();
            assert_eq!(r.payload.len(), PAYLOAD);
        }

        // A stranger: accepted or not, it gets no entry (multipoint) or is the wrong peer.
        let r = rx.decapsulate_ip(&stranger_wire);
        if p2p {
            assert!(matches!(r, Err(Error::WrongPeer(_))), "{r:?}");
        } else {
            assert!(r.is_ok(), "{r:?}");
        }
        let r = rx.decapsulate(stranger, &stranger_wire[outer_len..]);
        assert_eq!(r.is_err(), p2p);

        // Wrong key.
        assert!(matches!(
            rx.decapsulate_ip(&wrong_key_wire),
            Err(Error::KeyMismatch { .. })
        ));
        // No checksum / sequence number where the tunnel requires one.
        let r = rx.decapsulate_ip(&plain_wire);
        match (checksum, sequence) {
            (true, _) => assert_eq!(r.unwrap_err(), Error::ChecksumMissing),
            (false, true) => assert_eq!(r.unwrap_err(), Error::SequenceMissing),
            (false, false) => assert!(r.is_ok()),
        }
        // Bad GRE checksum (a payload byte flipped).
        let mut bad = [0u8; 2048];
        let n = summed.len();
        bad[..n].copy_from_slice(&summed);
        bad[n - 1] ^= 1;
        assert!(matches!(
            rx.decapsulate_ip(&bad[..n]),
            Err(Error::GreChecksum { .. })
        ));
        let n = first.len();
        bad[..n].copy_from_slice(&first);
        if !v6 {
            // Bad IPv4 header checksum (TTL changed).
            bad[8] ^= 1;
            assert!(matches!(rx.decapsulate_ip(&bad[..n]), Err(Error::Ip(_))));
            bad[8] ^= 1;
            // A fragment (MF set, checksum fixed).
            bad[6] |= 0x20;
            fix_ipv4_checksum(&mut bad[..20]);
            assert!(matches!(
                rx.decapsulate_ip(&bad[..n]),
                Err(Error::Fragment { .. })
            ));
            bad[6] &= !0x20;
            // Not GRE.
            bad[9] = 17;
            fix_ipv4_checksum(&mut bad[..20]);
            assert!(matches!(
                rx.decapsulate_ip(&bad[..n]),
                Err(Error::NotGre(17))
            ));
            bad[9] = 47;
            fix_ipv4_checksum(&mut bad[..20]);
        } else {
            // Not GRE (IPv6 next header).
            bad[6] = 17;
            assert!(matches!(
                rx.decapsulate_ip(&bad[..n]),
                Err(Error::NotGre(17))
            ));
            bad[6] = 47;
        }
        // Not addressed to the local endpoint: `tx` receives what it sent to `b`.
        assert!(matches!(
            tx.decapsulate_ip(&bad[..n]),
            Err(Error::NotLocal(_))
        ));
        // Truncated: outer header, GRE header.
        assert!(rx.decapsulate_ip(&bad[..outer_len - 1]).is_err());
        assert!(rx.decapsulate(a, &bad[outer_len..outer_len + 3]).is_err());
        assert!(rx.decapsulate_ip(&[]).is_err());
        // A reserved GRE bit (RFC 1701 routing present).
        let mut g = [0u8; 64];
        g[..16].copy_from_slice(&bad[outer_len..outer_len + 16]);
        g[0] |= (gre::FLAG_ROUTING >> 8) as u8;
        assert_eq!(rx.decapsulate(a, &g), Err(Error::RoutingPresent));
        // Headroom too small on transmit.
        assert!(
            tx.encapsulate_ip(b, proto, &mut buf, head - 1, PAYLOAD)
                .is_err()
        );
        assert!(
            tx.encapsulate(b, proto, &mut gbuf, ghead - 1, PAYLOAD)
                .is_err()
        );
        // Time passes: sweeps that keep the active peers.
        rx.handle_timeout(now + Duration::from_secs(100));
        let _ = rx.poll_timeout();
    });
    assert!(
        rx.peer(a).is_some() && rx.peer(stranger).is_none(),
        "{what}"
    );
    assert!(rx.totals().drops.total() > 0, "{what}");
}

fn fix_ipv4_checksum(h: &mut [u8]) {
    h[10] = 0;
    h[11] = 0;
    let c = dmvpn_wire::checksum::checksum(h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

/// A full table: sending to (or receiving from) a peer with no entry neither allocates nor
/// creates one; with sequencing the packet is refused.
fn full_table_does_not_allocate() {
    for sequence in [false, true] {
        let (a, b, stranger) = addrs(false);
        let cfg = Config {
            max_peers: 1,
            sequence,
            ..Config::multipoint(a)
        };
        assert_eq!(cfg.mode, Mode::Multipoint);
        let mut tx = Tunnel::new(cfg).unwrap();
        let head = tx.overhead();
        let mut buf = vec![0u8; head + PAYLOAD];
        tx.encapsulate_ip(b, Protocol::IPV4, &mut buf, head, PAYLOAD)
            .unwrap();
        no_alloc("full table", || {
            for _ in 0..PACKETS {
                let r = tx.encapsulate_ip(stranger, Protocol::IPV4, &mut buf, head, PAYLOAD);
                assert_eq!(r.is_err(), sequence);
                tx.encapsulate_ip(b, Protocol::IPV4, &mut buf, head, PAYLOAD)
                    .unwrap();
            }
        });
        assert!(tx.peer(stranger).is_none());
        assert_eq!(tx.peer_table().refused, PACKETS as u64);
    }
}
