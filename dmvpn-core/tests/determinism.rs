//! Same inputs, same outputs, in every process. A dual-hub DMVPN (seed 003: every spoke has two
//! static hubs, hub2 is also a spoke of hub1) with eight spokes runs on netsim's virtual clock:
//! registration, a ping between two spokes (resolution, then direct), the mappings expiring.
//! Everything the nodes report is written down as text: every event with its virtual time,
//! every packet sent, every node's routing table (in iteration order and as `Debug`) and its
//! `show` output. That sequence must be the same in this process and in two fresh processes of
//! the same test binary: std's `HashMap` seeds its hasher per process (and per map), so any
//! output that followed a hash map's iteration order would differ between the runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use dmvpn_core::Entropy;
use dmvpn_core::config::{NhsConfig, NodeConfig, StaticMap};
use dmvpn_core::sim::SimNode;
use dmvpn_core::sim::example::Example;
use dmvpn_netsim::{HostId, Network, Sim};

/// Set in the child processes: the helper test prints the sequence.
const CHILD: &str = "DMVPN_DETERMINISM_CHILD";
/// Marks the sequence's lines in the child's output (libtest prints its own lines too).
const MARK: &str = "SEQ|";
/// The helper test the children run.
const HELPER: &str = "helper_prints_the_sequence_in_a_child_process";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A spoke config with both hubs as NHSs, static maps and multicast destinations.
fn two_static_hubs(mut cfg: NodeConfig) -> NodeConfig {
    let n = &mut cfg.tunnels[0].nhrp;
    n.nhs.push(NhsConfig {
        address: ip("10.0.0.2"),
        nbma: None,
    });
    n.maps.push(StaticMap {
        address: ip("10.0.0.2"),
        nbma: ip("172.17.0.2"),
    });
    n.map_multicast.push(ip("172.17.0.2"));
    cfg
}

/// Hub2: also a spoke of hub1.
fn hub2(ex: &Example) -> NodeConfig {
    let mut cfg = ex.hub();
    cfg.hostname = "hub2".into();
    let t = &mut cfg.tunnels[0];
    t.address = "10.0.0.2/24".parse().unwrap();
    t.source = ip("172.17.0.2");
    t.nhrp.nhs = vec![NhsConfig {
        address: ip("10.0.0.1"),
        nbma: None,
    }];
    t.nhrp.maps = vec![StaticMap {
        address: ip("10.0.0.1"),
        nbma: ip("172.17.0.1"),
    }];
    t.nhrp.map_multicast = vec![ip("172.17.0.1")];
    cfg
}

/// Writes down everything node `id` reported and holds, relative to `start`.
fn record(sim: &mut Sim<SimNode>, id: HostId, start: Instant, out: &mut Vec<String>) {
    let now = sim.now();
    let n = sim.host_mut(id).unwrap();
    let name = n.node().hostname().to_string();
    for t in n.take_trace() {
        out.push(format!(
            "{name} tx {:?} tunnel {} {} -> {} {}",
            t.at.duration_since(start),
            t.tunnel,
            t.src,
            t.dst,
            t.what
        ));
    }
    for (at, e) in n.events() {
        out.push(format!(
            "{name} event {:?} {e} | {:?}",
            at.duration_since(start),
            e.kind
        ));
    }
    let node = n.node();
    for (net, src, hop) in node.routes().iter() {
        out.push(format!(
            "{name} route {net} {src:?} via {} tunnel {}",
            hop.via, hop.tunnel
        ));
    }
    out.push(format!("{name} routes {:?}", node.routes()));
    out.push(format!("{name} stats {:?}", node.stats()));
    for text in [
        node.show_dmvpn(now),
        node.show_ip_nhrp(now),
        node.show_ip_nhrp_traffic(now),
    ] {
        out.extend(text.lines().map(|l| format!("{name} show {l}")));
    }
}

/// The scenario's whole sequence of outputs, as text.
fn sequence() -> Vec<String> {
    let ex = Example::new(8);
    let start = Instant::now();
    let mut sim = Sim::new(Network::new(7, start));
    let mut hubs = Vec::new();
    // Every node's randomness from the scenario's seed: the runs repeat exactly.
    let entropy = Entropy::from_seed(7);
    for (k, cfg) in [ex.hub(), hub2(&ex)].into_iter().enumerate() {
        let mut n = SimNode::new(start, cfg, entropy.derive(k as u32)).unwrap();
        n.set_trace(true);
        for (net, via) in ex.hub_routes() {
            n.add_route(net, via).unwrap();
        }
        hubs.push(sim.add_host(n));
    }
    let mut spokes = Vec::new();
    for i in 1..=ex.spokes {
        let mut n =
            SimNode::new(start, two_static_hubs(ex.spoke(i)), entropy.derive(1 + i)).unwrap();
        n.set_trace(true);
        // Spoke i routes every other spoke's LAN directly (phase 2).
        for j in (1..=ex.spokes).filter(|j| *j != i) {
            let (net, via) = ex.spoke_route(j);
            n.add_route(net, via).unwrap();
        }
        spokes.push(sim.add_host(n));
    }
    sim.run_until(start + Duration::from_secs(3)).unwrap();
    for seq in 1..=3 {
        let now = sim.now();
        let (src, dst) = (ex.lan_host(1, 25), ex.lan_host(2, 37));
        sim.host_mut(spokes[0]).unwrap().ping(now, src, dst, 1, seq);
        sim.flush();
        sim.run_until(now + Duration::from_secs(1)).unwrap();
    }
    sim.run_until(sim.now() + Duration::from_secs(400)).unwrap();
    let mut out = Vec::new();
    for id in hubs.into_iter().chain(spokes) {
        record(&mut sim, id, start, &mut out);
    }
    out
}

/// Runs [`HELPER`] in a fresh process of this test binary and returns the sequence it printed.
fn sequence_of_a_child_process() -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([HELPER, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.find(MARK).map(|at| l[at + MARK.len()..].to_string()))
        .collect()
}

/// The first line where two sequences differ, for the failure message.
fn first_difference(a: &[String], b: &[String]) -> Option<String> {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))?;
    Some(format!(
        "line {at} of {}/{}:\n  {:?}\n  {:?}",
        a.len(),
        b.len(),
        a.get(at),
        b.get(at)
    ))
}

/// The helper: prints the sequence when run as a child; otherwise checks that the scenario
/// did what the sequence is meant to cover.
#[test]
fn helper_prints_the_sequence_in_a_child_process() {
    let seq = sequence();
    if std::env::var_os(CHILD).is_some() {
        for l in &seq {
            println!("{MARK}{l}");
        }
    }
    // Both static hubs came up on a spoke, in the order of its maps.
    let up: Vec<&String> = seq
        .iter()
        .filter(|l| l.starts_with("spoke-A event") && l.contains("NBMA peer is UP"))
        .take(2)
        .collect();
    assert_eq!(up.len(), 2, "{seq:#?}");
    assert!(up[0].contains("Tunnel0-172.17.0.1 "), "{up:?}");
    assert!(up[1].contains("Tunnel0-172.17.0.2 "), "{up:?}");
    // Each hub routes all eight LANs; spoke A routes the seven others.
    assert_eq!(
        seq.iter().filter(|l| l.starts_with("hub route ")).count(),
        8
    );
    assert_eq!(
        seq.iter()
            .filter(|l| l.starts_with("spoke-A route "))
            .count(),
        7
    );
    // The ping resolved spoke B and its mapping expired.
    assert!(seq.iter().any(|l| l.starts_with("spoke-A event")
        && l.contains("mapping 10.0.0.12/32")
        && l.contains("came UP")));
    assert!(
        seq.iter()
            .any(|l| l.starts_with("spoke-A event") && l.contains("went DOWN (expired)"))
    );
}

#[test]
fn two_fresh_processes_and_this_one_see_the_same_sequence() {
    let here = sequence();
    for run in 0..2 {
        let child = sequence_of_a_child_process();
        assert!(!child.is_empty(), "child {run} printed no sequence");
        if let Some(d) = first_difference(&here, &child) {
            panic!("child process {run} saw another sequence, {d}");
        }
    }
}
