//! `Tunnel` receive on arbitrary sequences of datagrams from a handful of remotes, with arbitrary
//! configuration, every accepted packet admitted as an upper layer would and the clock advancing
//! one second a packet (idle entries expire): no panic, state stays bounded, counters add up.
#![no_main]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use dmvpn_gre::{Config, Mode, Tunnel};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    key: Option<u32>,
    checksum: bool,
    sequence: bool,
    p2p: bool,
    max_peers: u8,
    packets: Vec<(u8, bool, Vec<u8>)>,
}

fuzz_target!(|input: Input| {
    let local = IpAddr::from([10, 0, 0, 1]);
    let mode = if input.p2p {
        Mode::PointToPoint {
            remote: IpAddr::from([10, 0, 0, 2]),
        }
    } else {
        Mode::Multipoint
    };
    let max_peers = usize::from(input.max_peers % 8) + 1;
    let config = Config {
        mode,
        key: input.key,
        checksum: input.checksum,
        sequence: input.sequence,
        max_peers,
        idle_timeout: Some(Duration::from_secs(8)),
        ..Config::multipoint(local)
    };
    let mut t = Tunnel::new(config).expect("valid config");
    let (mut ok, mut dropped) = (0u64, 0u64);
    let mut now = Instant::now();
    for (who, with_ip, bytes) in &input.packets {
        now += Duration::from_secs(1);
        let remote = IpAddr::from([10, 0, 0, 2 + who % 16]);
        let r = if *with_ip {
            t.decapsulate_ip(bytes)
        } else {
            t.decapsulate(remote, bytes)
        };
        match r {
            Ok(rx) => {
                ok += 1;
                assert_eq!(rx.header.key, input.key);
                if input.sequence {
                    assert!(rx.header.sequence.is_some());
                }
                let _ = t.admit(now, &rx);
            }
            Err(_) => dropped += 1,
        }
        t.handle_timeout(now);
        assert!(t.peers().count() <= max_peers);
    }
    assert_eq!(t.totals().packets_in, ok);
    assert_eq!(t.totals().drops.total(), dropped);
});
