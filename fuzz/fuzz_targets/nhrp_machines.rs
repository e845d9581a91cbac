//! An NHRP client and server driven by arbitrary sequences of packets (arbitrary bytes, each
//! other's packets, mutated copies of them), commands and timeouts: no panic, cache, pending
//! requests and queues stay within their configured bounds, and `poll_timeout` is exact (after
//! `handle_timeout` at that instant, the next deadline is later).
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use dmvpn_nhrp::wire::Secret;
use dmvpn_nhrp::{
    Client, ClientConfig, MaxSend, OverQuota, Prefix, ResolutionMode, Route, Server, ServerConfig,
    Transmit,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    /// Arbitrary bytes to the client (false) or server (true) from one of a few addresses.
    Raw(bool, u8, Vec<u8>),
    /// Deliver up to n queued packets between the two.
    Deliver(u8),
    /// Deliver the next queued packet with one byte changed.
    Mutate(u16, u8),
    /// Let time pass (milliseconds × 16).
    Advance(u16),
    /// Fire timers at the earliest deadline.
    Timeout,
    Register,
    Resolve(u8),
    MarkUsed(u8),
    Purge(u8),
    Shutdown,
    NoteForwarded(u8, u8),
    ServerPurge(u8),
}

#[derive(Debug, Arbitrary)]
struct Input {
    auth: bool,
    forward: bool,
    hold: bool,
    ops: Vec<Op>,
}

const MAX_CACHE: usize = 16;
const MAX_PENDING: usize = 4;
const MAX_TX: usize = 32;
const MAX_EVENTS: usize = 32;
const MAX_HELD: usize = 4;

fn addr(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i % 8))
}

fn nbma(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(172, 16, 0, i % 4))
}

fn check(c: &Client, s: &Server) {
    assert!(c.cache().len() <= MAX_CACHE);
    assert!(s.cache().len() <= MAX_CACHE);
    assert!(c.pending_resolutions() <= MAX_PENDING);
    for (tx, ev, held) in [c.queued(), s.queued()] {
        assert!(tx <= MAX_TX && ev <= MAX_EVENTS && held <= MAX_HELD);
    }
    assert!(s.redirect_pairs() <= 8);
}

fuzz_target!(|input: Input| {
    let mut now = Instant::now();
    let max_send = MaxSend {
        packets: 10,
        interval: Duration::from_secs(10),
        over_quota: if input.hold {
            OverQuota::Hold
        } else {
            OverQuota::Drop
        },
        max_held: MAX_HELD,
    };
    let mut cc = ClientConfig::new(nbma(2), addr(2)).with_nhs(addr(1), nbma(1));
    cc.holdtime = 30;
    cc.max_cache = MAX_CACHE;
    cc.max_pending = MAX_PENDING;
    cc.local_prefixes = vec![Prefix::new(IpAddr::V4(Ipv4Addr::new(192, 168, 2, 0)), 24)];
    let mut sc = ServerConfig::new(nbma(1), addr(1));
    sc.max_registrations = MAX_CACHE;
    sc.max_redirect_pairs = 8;
    sc.routes = vec![Route {
        prefix: Prefix::new(IpAddr::V4(Ipv4Addr::new(192, 168, 2, 0)), 24),
        next_hop: addr(2),
    }];
    sc.resolution = if input.forward {
        ResolutionMode::Forward
    } else {
        ResolutionMode::Authoritative
    };
    for common in [&mut cc.common, &mut sc.common] {
        common.max_send = max_send;
        common.max_transmits = MAX_TX;
        common.max_events = MAX_EVENTS;
        if input.auth {
            common.authentication = Some(Secret::from(&b"DMVPN"[..]));
        }
    }
    let (Ok(mut c), Ok(mut s)) = (Client::new(now, cc), Server::new(now, sc)) else {
        return;
    };
    // Packets in flight: (to the server?, transmit).
    let mut wire: Vec<(bool, Transmit)> = Vec::new();
    for op in input.ops {
        match op {
            Op::Raw(to_server, from, bytes) => {
                let _ = if to_server {
                    s.handle_packet(now, nbma(from), &bytes)
                } else {
                    c.handle_packet(now, nbma(from), &bytes)
                };
            }
            Op::Deliver(n) => {
                for _ in 0..n {
                    if wire.is_empty() {
                        break;
                    }
                    let (to_server, t) = wire.remove(0);
                    let _ = if to_server {
                        s.handle_packet(now, nbma(2), &t.payload)
                    } else {
                        c.handle_packet(now, nbma(1), &t.payload)
                    };
                }
            }
            Op::Mutate(pos, val) => {
                if !wire.is_empty() {
                    let (to_server, mut t) = wire.remove(0);
                    let len = t.payload.len();
                    if let Some(b) = t.payload.get_mut(usize::from(pos) % len.max(1)) {
                        *b ^= val;
                    }
                    let _ = if to_server {
                        s.handle_packet(now, nbma(2), &t.payload)
                    } else {
                        c.handle_packet(now, nbma(1), &t.payload)
                    };
                }
            }
            Op::Advance(ms) => now += Duration::from_millis(u64::from(ms) * 16),
            Op::Timeout => {
                let next = [c.poll_timeout(), s.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                if let Some(t) = next {
                    now = now.max(t);
                    c.handle_timeout(now);
                    s.handle_timeout(now);
                    assert!(c.poll_timeout().is_none_or(|t| t > now));
                    assert!(s.poll_timeout().is_none_or(|t| t > now));
                } else {
                    c.handle_timeout(now);
                    s.handle_timeout(now);
                }
            }
            Op::Register => c.register(now),
            Op::Resolve(i) => {
                let _ = c.resolve(now, addr(i));
            }
            Op::MarkUsed(i) => {
                c.mark_used(now, addr(i));
            }
            Op::Purge(i) => {
                c.purge(now, addr(i));
            }
            Op::Shutdown => c.shutdown(now),
            Op::NoteForwarded(src, dst) => {
                let mut p = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0];
                p.extend_from_slice(&[192, 168, 1, src % 3]);
                p.extend_from_slice(&[192, 168, 2, dst % 5]);
                let _ = s.note_forwarded(now, nbma(2), &p);
            }
            Op::ServerPurge(i) => {
                s.purge(now, addr(i));
            }
        }
        check(&c, &s);
        while let Some(t) = c.poll_transmit() {
            if wire.len() < 256 {
                wire.push((true, t));
            }
        }
        while let Some(t) = s.poll_transmit() {
            if wire.len() < 256 {
                wire.push((false, t));
            }
        }
        while c.poll_event().is_some() {}
        while s.poll_event().is_some() {}
        let _ = c.cache().show(now, "Tunnel0").to_string();
        let _ = c.traffic(now).to_string();
    }
});
