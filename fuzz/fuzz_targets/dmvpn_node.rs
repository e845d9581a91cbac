//! A DMVPN hub and spoke (the seeds' example, phase 3 so that redirects and shortcuts are
//! reachable) driven by arbitrary underlay datagrams, arbitrary overlay packets, each other's
//! transmits (intact or with a byte changed), route commands and timeouts: no panic, every
//! transmit is a GRE packet from the node's tunnel source with its tunnel key, output queues stay
//! within their limits, and after a timeout at the announced deadline the next one is later.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use dmvpn_core::sim::example::Example;
use dmvpn_core::sim::icmp;
use dmvpn_core::{Entropy, Input, Limits, Node, Output, Transmit};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    /// Arbitrary GRE bytes to the hub (true) or the spoke from one of a few addresses.
    Underlay(bool, u8, Vec<u8>),
    /// An arbitrary overlay packet from the hub's or the spoke's TUN.
    Overlay(bool, Vec<u8>),
    /// A valid echo request from the spoke's LAN to host `h` of LAN `l`.
    Ping(u8, u8),
    /// Carry up to n queued transmits between the two.
    Deliver(u8),
    /// Carry the next queued transmit with one byte changed.
    Mutate(u16, u8),
    /// Let time pass (milliseconds × 64) and fire due timers.
    Advance(u16),
    /// Fire timers at the earliest deadline.
    Timeout,
    /// Route LAN `l` via tunnel address `v` on the spoke (false) or hub.
    Route(bool, u8, u8),
    /// `clear ip nhrp` for tunnel address `a`.
    Clear(bool, u8),
}

const LIMITS: Limits = Limits {
    max_transmits: 64,
    max_delivers: 32,
    max_events: 64,
    buffer_pool: 8,
    max_cache: 64,
    max_registrations: 64,
    max_pending_resolutions: 8,
    // Short enough that the fuzzer's clock (up to ~4 s a step) sees GRE entries expire.
    gre_peer_idle: Duration::from_secs(30),
};

struct Side {
    node: Node,
    queue: Vec<Transmit>,
    source: IpAddr,
    key: Option<u32>,
}

impl Side {
    /// Drains outputs, checking them; returns the next deadline.
    fn drain(&mut self) -> Option<Instant> {
        for _ in 0..10_000 {
            match self.node.poll_output() {
                Output::Transmit(t) => {
                    assert_eq!(t.src, self.source);
                    let (hdr, _) =
                        dmvpn_gre::wire::gre::decapsulate(&t.payload).expect("our GRE parses");
                    assert_eq!(hdr.key, self.key);
                    if self.queue.len() < 256 {
                        self.queue.push(t);
                    }
                }
                Output::Deliver(d) => self.node.recycle(d.packet),
                Output::Event(e) => {
                    let _ = e.to_string();
                }
                Output::Timeout(t) => return t,
            }
        }
        panic!("poll_output never returned Timeout");
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut ex = Example::new(3);
    ex.phase = 3;
    let start = Instant::now();
    let mut now = start;
    let mk = |cfg, seed| {
        Node::with_limits(start, cfg, Entropy::from_seed(seed), LIMITS).expect("valid example")
    };
    let mut hub = Side {
        node: mk(ex.hub(), 0),
        queue: Vec::new(),
        source: Ipv4Addr::new(172, 17, 0, 1).into(),
        key: ex.key,
    };
    for (net, via) in ex.hub_routes() {
        hub.node.add_route(net, via).expect("hub route");
    }
    let mut spoke = Side {
        node: mk(ex.spoke(1), 1),
        queue: Vec::new(),
        source: ex.spoke_nbma(1).into(),
        key: ex.key,
    };
    let (net, via) = ex.spoke_route(2);
    spoke.node.add_route(net, via).expect("spoke route");
    let peers: [IpAddr; 4] = [
        hub.source,
        spoke.source,
        ex.spoke_nbma(2).into(),
        Ipv4Addr::new(192, 0, 2, 9).into(),
    ];
    let mut deadlines = [hub.drain(), spoke.drain()];
    for op in ops.into_iter().take(256) {
        match op {
            Op::Underlay(to_hub, from, bytes) => {
                let from = peers[usize::from(from) % peers.len()];
                let side = if to_hub { &mut hub } else { &mut spoke };
                let dst = side.source;
                let _ = side.node.handle_input(Input::Underlay {
                    now,
                    src: from,
                    dst,
                    payload: &bytes,
                });
            }
            Op::Overlay(on_hub, bytes) => {
                let side = if on_hub { &mut hub } else { &mut spoke };
                let _ = side.node.handle_input(Input::Overlay {
                    now,
                    packet: &bytes,
                });
            }
            Op::Ping(l, h) => {
                let dst = ex.lan_host(u32::from(l % 4) + 1, h);
                if let Some(p) = icmp::echo_request(ex.lan_host(1, 25), dst, 1, u16::from(h), 8) {
                    let _ = spoke.node.handle_input(Input::Overlay { now, packet: &p });
                }
            }
            Op::Deliver(n) => {
                for _ in 0..n.min(16) {
                    let (from, to) = if !hub.queue.is_empty() {
                        (&mut hub, &mut spoke)
                    } else {
                        (&mut spoke, &mut hub)
                    };
                    if from.queue.is_empty() {
                        break;
                    }
                    let t = from.queue.remove(0);
                    let dst = to.source;
                    let _ = to.node.handle_input(Input::Underlay {
                        now,
                        src: t.src,
                        dst,
                        payload: &t.payload,
                    });
                    from.node.recycle(t.payload);
                }
            }
            Op::Mutate(at, xor) => {
                let (from, to) = if !spoke.queue.is_empty() {
                    (&mut spoke, &mut hub)
                } else {
                    (&mut hub, &mut spoke)
                };
                if !from.queue.is_empty() {
                    let mut t = from.queue.remove(0);
                    if !t.payload.is_empty() {
                        let i = usize::from(at) % t.payload.len();
                        t.payload[i] ^= xor.max(1);
                    }
                    let dst = to.source;
                    let _ = to.node.handle_input(Input::Underlay {
                        now,
                        src: t.src,
                        dst,
                        payload: &t.payload,
                    });
                }
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms) * 64);
                let _ = hub.node.handle_input(Input::Timeout(now));
                let _ = spoke.node.handle_input(Input::Timeout(now));
            }
            Op::Timeout => {
                if let Some(t) = deadlines.iter().flatten().min().copied() {
                    now = now.max(t);
                    let _ = hub.node.handle_input(Input::Timeout(now));
                    let _ = spoke.node.handle_input(Input::Timeout(now));
                    let (h, s) = (hub.drain(), spoke.drain());
                    // Exact deadlines: after firing at `now`, nothing is due at or before it.
                    assert!(
                        h.is_none_or(|d| d > now),
                        "hub deadline {h:?} not after {now:?}"
                    );
                    assert!(
                        s.is_none_or(|d| d > now),
                        "spoke deadline {s:?} not after {now:?}"
                    );
                }
            }
            Op::Route(on_hub, l, v) => {
                let side = if on_hub { &mut hub } else { &mut spoke };
                let net = ipnet::IpNet::V4(ex.spoke_lan(u32::from(l % 4) + 1));
                let via = IpAddr::from(Ipv4Addr::new(10, 0, 0, v));
                let _ = side.node.add_route(net, via);
            }
            Op::Clear(on_hub, a) => {
                let side = if on_hub { &mut hub } else { &mut spoke };
                side.node
                    .clear_nhrp(now, IpAddr::from(Ipv4Addr::new(10, 0, 0, a)));
            }
        }
        deadlines = [hub.drain(), spoke.drain()];
        for side in [&hub, &spoke] {
            let st = side.node.stats();
            let _ = st;
            let status = side.node.status(now);
            assert!(status.tunnels[0].entries.len() <= LIMITS.max_registrations + 8);
        }
    }
    let _ = hub.node.show_dmvpn(now);
    let _ = spoke.node.show_ip_nhrp(now);
    let _ = spoke.node.show_ip_nhrp_traffic(now);
});
