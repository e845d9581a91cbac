//! The hardening issue's flood: spoofed Registration Requests (otherwise valid: host addresses
//! inside the tunnel subnet, random NBMA sources) and spoofed Resolution Requests against the
//! hub of the seeds' example network while its two legitimate spokes register, resolve each
//! other and ping each other's LANs, with and without NHRP authentication.
//!
//! The legitimate spokes must stay registered (their refreshes are taken while the table is
//! full), resolve each other and pass traffic; the hub's registration table stays within its
//! configured limit; every packet the hub did not answer is counted. The figures (packets/s
//! the hub handled, heap bytes of state, drop counters) are printed, not asserted.
//!
//! Counts: `DMVPN_FLOOD_REGISTRATIONS` and `DMVPN_FLOOD_RESOLUTIONS`, by default the issue's
//! 1,000,000 and 100,000 in a release build (`cargo test --release -p dmvpn-core --test
//! flood`) and 100,000 and 20,000 in a debug build, where the full count takes minutes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::alloc::System;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use dmvpn_core::sim::SimNode;
use dmvpn_core::sim::example::{Example, HUB_TUNNEL};
use dmvpn_core::{EventKind, Input, Limits, NhrpEvent};
use dmvpn_netsim::HostId;
use dmvpn_nhrp::wire::{Node, PacketType, Repr};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One flood at a time, so that the allocator's figures are one flood's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The hub's registration table (`Limits::max_registrations`): the flood fills it.
const TABLE: usize = 50_000;

/// How long the flood lasts (virtual time): three registration intervals of the spokes.
const FLOOD_SECS: u32 = 300;

/// Flood ticks per second.
const TICKS: u32 = 10;

/// The tunnel subnet: room for a million spoofed host addresses.
const SUBNET_LEN: u8 = 12;

fn count(var: &str, release: u32, debug: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            debug
        } else {
            release
        })
}

/// The example, phase 2, with a /12 tunnel subnet, the hub's table limited to [`TABLE`].
fn network(name: &'static str, password: bool) -> Scenario {
    let mut ex = Example::new(2);
    if !password {
        ex.password = None;
    }
    let mut s = Scenario::empty(name, 17, ex);
    let mut cfg = s.ex.hub();
    cfg.tunnels[0].address = format!("{HUB_TUNNEL}/{SUBNET_LEN}").parse().unwrap();
    let limits = Limits {
        max_registrations: TABLE,
        ..Limits::default()
    };
    let entropy = s.entropy();
    let mut hub = SimNode::with_limits(s.now(), cfg, entropy, limits).unwrap();
    // The harness's logs stay small; the node's own state is what is measured.
    hub.set_max_log(10_000);
    let hub = s.sim.add_host(hub);
    for (net, via) in s.ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=s.ex.spokes {
        let mut cfg = s.ex.spoke(i);
        let a = s.ex.spoke_tunnel(i);
        cfg.tunnels[0].address = ipnet::IpNet::V4(ipnet::Ipv4Net::new(a, SUBNET_LEN).unwrap());
        let id = s.add(cfg);
        s.node(id).set_max_log(10_000);
        s.spokes.push(id);
    }
    s
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// The hosts of the /12 that spoofed registrations take, beyond the first /24 (the hub and
/// the legitimate spokes) and before the last.
const SPOOF_SPACE: u32 = (1 << 20) - 512;

/// The `i`th spoofed registration's tunnel address: distinct for every `i` below
/// [`SPOOF_SPACE`] (multiplication by a unit modulo it).
fn spoofed_address(i: u32) -> Ipv4Addr {
    const UNIT: u64 = 2_654_435_761; // odd, and prime to 23 and 89 (SPOOF_SPACE = 2^9·23·89)
    let k = (u64::from(i) * UNIT % u64::from(SPOOF_SPACE)) as u32;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + 256 + k)
}

fn gre(nhrp: &[u8]) -> Vec<u8> {
    let mut v = vec![0x20, 0x00, 0x20, 0x01];
    v.extend_from_slice(&100_000u32.to_be_bytes());
    v.extend_from_slice(nhrp);
    v
}

fn hub_node() -> Node {
    Node::new(HUB_NBMA, HUB_TUNNEL)
}

/// The `i`th spoofed Registration Request: a host address of the subnet, from a random NBMA
/// address of 100.64.0.0/10, holding time 7200 s, with `password` (the attacker's guess).
fn spoofed_registration(rng: &mut Rng, i: u32, password: Option<&[u8]>) -> (IpAddr, Vec<u8>) {
    let nbma = Ipv4Addr::from(0x6440_0000 | (rng.next() & 0x003f_ffff));
    let me = Node::new(nbma, spoofed_address(i));
    let mut r = Repr::registration_request(rng.next() | 1, &me, &hub_node(), 7200, 1400);
    if let Some(p) = password {
        r = r.with_authentication(p).unwrap();
    }
    (IpAddr::V4(nbma), gre(&r.to_bytes().unwrap()))
}

/// A spoofed Resolution Request for `target`, from a random NBMA address of 198.18.0.0/15 in
/// the name of an unregistered address of the first /24.
fn spoofed_resolution(
    rng: &mut Rng,
    target: Ipv4Addr,
    password: Option<&[u8]>,
) -> (IpAddr, Vec<u8>) {
    let nbma = Ipv4Addr::from(0xc612_0000 | (rng.next() & 0x0001_ffff));
    let proto = Ipv4Addr::new(10, 0, 0, 100 + (rng.next() % 150) as u8);
    let me = Node::new(nbma, proto);
    let mut r = Repr::resolution_request(rng.next() | 1, &me, target, 300, 1400);
    if let Some(p) = password {
        r = r.with_authentication(p).unwrap();
    }
    (IpAddr::V4(nbma), gre(&r.to_bytes().unwrap()))
}

fn nhs_down_since(s: &Scenario, id: HostId, since: Instant) -> usize {
    s.get(id)
        .events()
        .iter()
        .filter(|(t, e)| {
            *t >= since && matches!(e.kind, EventKind::Nhrp(NhrpEvent::NhsDown { .. }))
        })
        .count()
}

fn heap(r: &Region<'_, System>) -> i64 {
    let c = r.change();
    c.bytes_allocated as i64 - c.bytes_deallocated as i64
}

/// Runs the flood; `auth`: the cloud uses NHRP authentication and the attacker does not know
/// the password (it guesses one).
fn flood(name: &'static str, auth: bool) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let registrations = count("DMVPN_FLOOD_REGISTRATIONS", 1_000_000, 100_000);
    let resolutions = count("DMVPN_FLOOD_RESOLUTIONS", 100_000, 20_000);
    assert!(registrations < SPOOF_SPACE);
    let guess: Option<&[u8]> = auth.then_some(b"letmein".as_slice());
    let mut s = network(name, auth);
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(5));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    s.route(1, 2);
    s.route(2, 1);
    let region = Region::new(GLOBAL);
    let before = heap(&region);
    let start = s.now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let hub_nbma: IpAddr = HUB_NBMA.into();
    let ticks = FLOOD_SECS * TICKS;
    let (mut sent_regs, mut sent_res) = (0u32, 0u32);
    let mut busy = Duration::ZERO;
    let mut peak = before;
    for tick in 1..=ticks {
        let now = s.now();
        let regs_due = (u64::from(registrations) * u64::from(tick) / u64::from(ticks)) as u32;
        let res_due = (u64::from(resolutions) * u64::from(tick) / u64::from(ticks)) as u32;
        let mut batch = Vec::new();
        while sent_regs < regs_due {
            batch.push(spoofed_registration(&mut rng, sent_regs, guess));
            sent_regs += 1;
        }
        while sent_res < res_due {
            let target = s.ex.spoke_tunnel(1 + rng.next() % 2);
            batch.push(spoofed_resolution(&mut rng, target, guess));
            sent_res += 1;
        }
        let node = s.node(hub);
        let wall = Instant::now();
        for (src, payload) in &batch {
            let _ = node.node_mut().handle_input(Input::Underlay {
                now,
                src: *src,
                dst: hub_nbma,
                payload,
            });
            node.pump(now);
        }
        busy += wall.elapsed();
        drop(batch);
        s.sim.flush();
        if tick % TICKS == 0 {
            let seq = (tick / TICKS) as u16;
            s.ping(1, 25, 2, 37, seq);
            s.ping(2, 37, 1, 25, seq);
            if tick % (30 * TICKS) == 0 {
                peak = peak.max(heap(&region));
            }
        }
        s.run(Duration::from_millis(1000 / u64::from(TICKS)));
    }
    s.run(secs(10));
    let grown = heap(&region).max(peak) - before;

    let pings = FLOOD_SECS as u16;
    let replies = |id: HostId| (1..=pings).filter(|&q| s.replies(id, q) > 0).count();
    let (a_replies, b_replies) = (replies(a), replies(b));
    let hub_node = s.get(hub).node();
    let server = hub_node.nhrp_server(0).unwrap();
    let st = server.stats();
    let tr = server.traffic(s.now());
    let table = server.cache().len();
    let (_, _, held) = server.queued();
    let injected = sent_regs + sent_res;
    println!(
        "flood ({}): {} spoofed Registration Requests and {} spoofed Resolution Requests in \
         {FLOOD_SECS} s of virtual time; the hub handled them at {:.0} packets/s ({:?} of \
         handle_input and draining)",
        if auth {
            "with authentication"
        } else {
            "without authentication"
        },
        sent_regs,
        sent_res,
        f64::from(injected) / busy.as_secs_f64(),
        busy
    );
    println!(
        "flood: heap growth {grown} bytes over the flood (the whole process: the hub's state, \
         the spokes', the simulation); hub registration table {table} of {TABLE} entries"
    );
    println!(
        "flood: hub received {} Registration / {} Resolution Requests, sent {} packets \
         ({} Registration Replies, {} Resolution Replies), {held} held; {st:?}; node {:?}; \
         gre {:?}",
        tr.received(PacketType::REGISTRATION_REQUEST),
        tr.received(PacketType::RESOLUTION_REQUEST),
        tr.sent.iter().sum::<u64>(),
        tr.sent(PacketType::REGISTRATION_REPLY),
        tr.sent(PacketType::RESOLUTION_REPLY),
        hub_node.stats(),
        hub_node.gre(0).map(|g| *g.totals()),
    );
    println!("flood: pings answered A->B {a_replies}/{pings}, B->A {b_replies}/{pings}");

    // The legitimate spokes stayed registered and up.
    for (name, id) in [("A", a), ("B", b)] {
        assert_eq!(
            nhs_down_since(&s, id, start),
            0,
            "spoke {name}'s NHS went down"
        );
        let c = s.get(id).node().nhrp_client(0).unwrap();
        assert!(c.nhs_status().iter().all(|n| n.up), "{:?}", c.nhs_status());
    }
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    // They resolved each other and passed traffic, directly.
    for (id, peer) in [(a, s.nbma(2)), (b, s.nbma(1))] {
        assert!(
            s.has(
                id,
                |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == peer)
            ),
            "no mapping to {peer}"
        );
    }
    assert!(a_replies >= usize::from(pings) - 10, "A->B {a_replies}");
    assert!(b_replies >= usize::from(pings) - 10, "B->A {b_replies}");
    // The table within its limit: full of the flood's registrations without authentication,
    // only the spokes' with it.
    assert!(table <= TABLE);
    let spoofed_accepted = table - 2;
    if auth {
        assert_eq!(table, 2);
        assert_eq!(st.authentication_failures, u64::from(injected));
    } else {
        assert_eq!(table, TABLE.min(registrations as usize + 2));
        // Every spoofed registration beyond the table was refused and counted.
        assert_eq!(
            st.table_full,
            u64::from(sent_regs) - spoofed_accepted as u64,
            "refusals"
        );
    }
    // Every request was answered, or its answer (or itself) counted as dropped.
    let requests =
        tr.received(PacketType::REGISTRATION_REQUEST) + tr.received(PacketType::RESOLUTION_REQUEST);
    let unanswered = st.authentication_failures
        + st.malformed
        + st.dropped
        + st.bindings_refused
        + st.unmatched_replies;
    let answers =
        tr.sent.iter().sum::<u64>() + st.quota_dropped + held as u64 + st.transmits_dropped;
    assert_eq!(answers + unanswered, requests, "{st:?} {tr:?}");
    s.finish();
}

#[test]
fn a_spoofed_flood_without_authentication_fills_the_table_but_the_spokes_stay_registered_and_pass_traffic()
 {
    flood("flood-no-auth", false);
}

#[test]
fn a_spoofed_flood_with_authentication_is_refused_and_counted_and_the_spokes_pass_traffic() {
    flood("flood-auth", true);
}
