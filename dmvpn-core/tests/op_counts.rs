//! The work per datagram does not grow with the number of spokes: the operation-count
//! regression test of the simulator and the hub (the performance issue's "done when").
//!
//! The same scenario runs at two sizes — every spoke behind a one-to-one NAT box of its own,
//! the spokes registering, then a fixed number of spoke pairs resolving each other and
//! pinging — and the work is counted, not timed: netsim's [`OpCounts`] (heap operations,
//! hash probes, NAT boxes, addresses and ports compared, hosts polled and flushed) per
//! datagram delivered, and the hub's [`WorkCounters`] (route lookups and the prefix lengths
//! they probe, NHRP cache entries and hub routes looked at) per registration and per
//! datagram the hub received. An operation on a heap or an ordered map costs `O(log n)` in
//! its size, but counts one here, so a structure that stays logarithmic keeps the counts
//! flat; a linear scan of hosts, NAT boxes, cache entries or routes counts every element and
//! grows with the network. The larger size has 16 times the spokes; every count per operation
//! must stay within [`FACTOR`] of the smaller size's (plus [`SLACK`] for counts well below one
//! per operation), where a linear step would multiply it by up to 16.
//!
//! Phase 2 (the hub answers resolutions for the spokes' tunnel addresses from its table) and
//! phase 3 (the hub forwards the first packets, sends Traffic Indications, and answers
//! resolutions for the LANs behind spokes through its routes) both run; cleartext, so that
//! IKE's arithmetic does not dominate a debug build, and once protected at smaller sizes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss,
    missing_docs
)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use dmvpn_core::WorkCounters;
use dmvpn_core::sim::example::Example;
use dmvpn_netsim::{NatConfig, OpCounts};

/// How much more work per operation the larger network may take.
const FACTOR: f64 = 1.5;
/// Added to the bound, for counts that are a fraction of one per operation.
const SLACK: f64 = 0.25;
/// Spoke pairs that resolve each other and ping, the same at every size.
const PAIRS: u32 = 6;
/// Echo requests per pair.
const PINGS: u16 = 4;

/// The public address of spoke `i`'s NAT box (198.18.0.0/15, RFC 2544's benchmarking block).
fn public(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i))
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    delivered: u64,
    net: OpCounts,
    hub: WorkCounters,
    hub_in: u64,
}

fn snapshot(s: &Scenario) -> Snapshot {
    let hub = s.get(s.hub()).node();
    Snapshot {
        delivered: s.sim.network().stats().delivered,
        net: s.sim.op_counts(),
        hub: hub.work_counters(),
        hub_in: hub.stats().underlay_in,
    }
}

/// Named counts per operation over a stretch of the scenario.
type Rates = Vec<(&'static str, f64)>;

/// The work between two snapshots: netsim's per datagram delivered, the hub's per datagram
/// it received, and (for registrations) the hub's NHRP work per registration.
fn rates(a: Snapshot, b: Snapshot, registrations: Option<u64>) -> Rates {
    let dg = (b.delivered - a.delivered) as f64;
    let hub_in = (b.hub_in - a.hub_in) as f64;
    assert!(dg > 0.0 && hub_in > 0.0, "no traffic in the window");
    let (n, m) = (b.net, a.net);
    let (h, g) = (b.hub, a.hub);
    let per = |x: u64, y: u64, d: f64| (x - y) as f64 / d;
    let mut r = vec![
        (
            "net: arrivals queued",
            per(n.arrivals_queued, m.arrivals_queued, dg),
        ),
        (
            "net: arrivals popped",
            per(n.arrivals_popped, m.arrivals_popped, dg),
        ),
        ("net: link lookups", per(n.link_lookups, m.link_lookups, dg)),
        (
            "net: NAT entries examined",
            per(n.nat_entries_examined, m.nat_entries_examined, dg),
        ),
        (
            "sim: timers queued",
            per(n.timers_queued, m.timers_queued, dg),
        ),
        (
            "sim: timers popped",
            per(n.timers_popped, m.timers_popped, dg),
        ),
        ("sim: hosts polled", per(n.hosts_polled, m.hosts_polled, dg)),
        (
            "sim: hosts flushed",
            per(n.hosts_flushed, m.hosts_flushed, dg),
        ),
        ("sim: host lookups", per(n.host_lookups, m.host_lookups, dg)),
        (
            "hub: route lookups / datagram in",
            per(h.route_lookups, g.route_lookups, hub_in),
        ),
        (
            "hub: route probes / datagram in",
            per(h.route_probes, g.route_probes, hub_in),
        ),
        (
            "hub: NHRP cache visits / datagram in",
            per(h.nhrp_cache_visits, g.nhrp_cache_visits, hub_in),
        ),
        (
            "hub: NHRP route visits / datagram in",
            per(h.nhrp_route_visits, g.nhrp_route_visits, hub_in),
        ),
        (
            "hub: IKE SA table visits / datagram in",
            per(h.ike_sa_table_visits, g.ike_sa_table_visits, hub_in),
        ),
    ];
    if let Some(regs) = registrations {
        r.push((
            "hub: NHRP cache visits / registration",
            per(h.nhrp_cache_visits, g.nhrp_cache_visits, regs as f64),
        ));
    }
    r
}

/// The rate named `name` (a part of its name will do).
fn rate(rates: &Rates, name: &str) -> f64 {
    rates.iter().find(|(n, _)| n.contains(name)).unwrap().1
}

/// What one run measured.
#[derive(Debug)]
struct Run {
    spokes: u32,
    /// Hub routes looked at per route the hub's routing protocol added.
    per_route_added: f64,
    registration: Rates,
    traffic: Rates,
}

/// `spokes` spokes, each behind its own one-to-one NAT box, in `phase`: set-up, registration,
/// then [`PAIRS`] pairs of spokes resolving each other and pinging.
fn run(spokes: u32, phase: u8, protected: bool) -> Run {
    let mut ex = Example::new(spokes);
    ex.phase = phase;
    if protected {
        ex = ex.protected();
    }
    let name: &'static str = Box::leak(
        format!(
            "op-counts-p{phase}-{spokes}{}",
            if protected { "-ipsec" } else { "" }
        )
        .into_boxed_str(),
    );
    let mut s = Scenario::empty(name, 11, ex.clone());
    for i in 1..=spokes {
        s.sim.network_mut().add_nat(NatConfig {
            public: vec![public(i)],
            inside: vec![ex.nbma(i)],
        });
    }

    // Set-up: the hub's routing protocol hands it a route to every spoke's LAN.
    let hub = s.add(ex.hub());
    let before = s.get(hub).node().work_counters().nhrp_route_visits;
    let routes: Vec<_> = ex.hub_routes().collect();
    let added = routes.len() as f64;
    for (net, via) in routes {
        s.node(hub).add_route(net, via).unwrap();
    }
    let per_route_added =
        (s.get(hub).node().work_counters().nhrp_route_visits - before) as f64 / added;
    s.hub = Some(hub);

    // Registration: every spoke registers at once (the hub's max-send allows it).
    let a = snapshot(&s);
    for i in 1..=spokes {
        let id = s.add(ex.spoke(i));
        s.spokes.push(id);
    }
    let registered = move |sim: &dmvpn_netsim::Sim<dmvpn_core::sim::SimNode>| {
        sim.host(hub)
            .and_then(|h| h.node().nhrp_server(0))
            .is_some_and(|srv| srv.cache().len() == spokes as usize)
    };
    assert!(
        s.sim.run_for_until(secs(60), registered).unwrap(),
        "{spokes} spokes did not all register"
    );
    let b = snapshot(&s);
    let registration = rates(a, b, Some(u64::from(spokes)));
    if !protected {
        assert_eq!(
            b.hub_in - a.hub_in,
            u64::from(spokes),
            "one Registration Request per spoke, none retransmitted"
        );
    }
    s.run(secs(2));

    // Traffic: PAIRS pairs spread over the network resolve each other and ping.
    let pairs: Vec<(u32, u32)> = (0..PAIRS)
        .map(|k| {
            let i = 1 + k * (spokes / PAIRS);
            (i, i + 1)
        })
        .collect();
    for &(i, j) in &pairs {
        s.route(i, j);
        s.route(j, i);
    }
    let a = snapshot(&s);
    for seq in 1..=PINGS {
        for &(i, j) in &pairs {
            s.ping(i, 25, j, 37, seq);
        }
        s.run(secs(1));
    }
    let b = snapshot(&s);
    for &(i, _) in &pairs {
        let id = s.spoke(i);
        for seq in 2..=PINGS {
            assert_eq!(s.replies(id, seq), 1, "spoke {i} seq {seq}");
        }
    }
    let traffic = rates(a, b, None);
    Run {
        spokes,
        per_route_added,
        registration,
        traffic,
    }
}

/// Prints both runs side by side and checks every count per operation.
fn compare(what: &str, small: &Run, large: &Run) {
    println!(
        "{what}: {} vs {} spokes (bound: {FACTOR} x small + {SLACK})",
        small.spokes, large.spokes
    );
    // The paths the bounds guard must have run at both sizes, or the check could not fail.
    for run in [small, large] {
        for (stage, rates, names) in [
            (
                "registration",
                &run.registration,
                &[
                    "net: NAT entries examined",
                    "hub: NHRP cache visits / registration",
                ][..],
            ),
            (
                "traffic",
                &run.traffic,
                &[
                    "net: NAT entries examined",
                    "sim: hosts polled",
                    "hub: route lookups / datagram in",
                    "hub: NHRP cache visits / datagram in",
                ][..],
            ),
        ] {
            for name in names {
                let v = rate(rates, name);
                assert!(v > 0.0, "{what}, {} spokes: {stage} {name}: 0", run.spokes);
            }
        }
    }
    let mut failures = Vec::new();
    let mut check = |stage: &str, name: &str, x: f64, y: f64| {
        let bound = FACTOR * x + SLACK;
        let ok = y <= bound;
        println!(
            "  {stage:<12} {name:<40} {x:>10.3} {y:>10.3}{}",
            if ok { "" } else { "  <-- grew" }
        );
        if !ok {
            failures.push(format!(
                "{stage} {name}: {x:.3} -> {y:.3} (bound {bound:.3})"
            ));
        }
    };
    check(
        "set-up",
        "hub: NHRP route visits / route added",
        small.per_route_added,
        large.per_route_added,
    );
    for (stage, x, y) in [
        ("registration", &small.registration, &large.registration),
        ("traffic", &small.traffic, &large.traffic),
    ] {
        for ((name, a), (_, b)) in x.iter().zip(y.iter()) {
            check(stage, name, *a, *b);
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: work per operation grew with the network:\n{}",
        failures.join("\n")
    );
}

#[test]
fn phase2_work_per_datagram_does_not_grow_with_the_spokes() {
    let small = run(50, 2, false);
    let large = run(800, 2, false);
    compare("phase 2", &small, &large);
}

#[test]
fn phase3_work_per_datagram_does_not_grow_with_the_spokes() {
    let small = run(50, 3, false);
    let large = run(800, 3, false);
    // Phase 3's resolutions are for hosts on the spokes' LANs: the hub answers them through
    // its routes, which must have been searched.
    for r in [&small, &large] {
        let v = rate(&r.traffic, "NHRP route");
        assert!(v > 0.0, "{} spokes: no route searched", r.spokes);
    }
    compare("phase 3", &small, &large);
}

#[test]
fn protected_work_per_datagram_does_not_grow_with_the_spokes() {
    let small = run(12, 2, true);
    let large = run(96, 2, true);
    for r in [&small, &large] {
        let v = rate(&r.traffic, "IKE SA");
        assert!(v > 0.0, "{} spokes: no IKE SA looked up", r.spokes);
    }
    compare("protected phase 2", &small, &large);
}
