//! `verify_unicast_source` (IOS `ip verify unicast source reachable-via rx`, in spirit) on the
//! seeds' example network on netsim (issue "Hardening: off-path attacks on NHRP", item 8): spoke
//! A sends tunnelled packets whose inner source is on spoke B's LAN (or spoke C's). With the
//! check on, the hub (relaying) and spoke B (receiving directly) drop and count them, while real
//! traffic, relayed or direct, in phase 2 and phase 3, still flows; with it off, the spoofed
//! packets are relayed and delivered as before.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use common::*;
use dmvpn_core::sim::example::Example;
use dmvpn_core::{Error, NodeStats};
use dmvpn_netsim::HostId;

/// The example network of three spokes, `verify_unicast_source` set per node (hub, A, B, C),
/// registered, every spoke routing every other spoke's LAN.
fn network(name: &'static str, ex: Example, verify: [bool; 4]) -> Scenario {
    let mut s = Scenario::empty(name, 8, ex);
    let mut hub = s.ex.hub();
    hub.tunnels[0].verify_unicast_source = verify[0];
    let hub = s.add(hub);
    for (net, via) in s.ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=3u32 {
        let mut cfg = s.ex.spoke(i);
        cfg.tunnels[0].verify_unicast_source = verify[i as usize];
        let id = s.add(cfg);
        s.spokes.push(id);
    }
    s.run(secs(2));
    for i in 1..=3 {
        assert!(s.registered(hub, i));
        for j in (1..=3).filter(|j| *j != i) {
            s.route(i, j);
        }
    }
    s
}

fn stats(s: &Scenario, id: HostId) -> NodeStats {
    s.get(id).node().stats()
}

/// Spoke `from` sends an echo request from `src` (host `h` of spoke `owner`'s LAN, not its own)
/// to host `hd` of spoke `to`'s LAN.
fn spoof(s: &mut Scenario, from: u32, owner: u32, h: u8, to: u32, hd: u8, seq: u16) {
    let (src, dst) = (s.ex.lan_host(owner, h), s.ex.lan_host(to, hd));
    let now = s.now();
    let id = s.spoke(from);
    s.node(id).ping(now, src, dst, 7, seq);
    s.sim.flush();
    s.run(secs(1));
}

fn unverified(s: &Scenario, id: HostId) -> usize {
    s.get(id)
        .errors()
        .iter()
        .filter(|(_, e)| matches!(e, Error::UnverifiedSource { .. }))
        .count()
}

#[test]
fn with_verify_source_on_the_hub_and_spoke_b_drop_and_count_spoke_b_lan_sources_from_spoke_a() {
    let mut s = network("verify-source-on", Example::new(3), [true; 4]);
    let (hub, a, b, c) = (s.hub(), s.spoke(1), s.spoke(2), s.spoke(3));
    // Real traffic passes: the first echo relayed by the hub, the next ones direct.
    for seq in 1..=3 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "seq {seq}: {:?}", s.get(a).errors());
    }
    for id in [hub, a, b, c] {
        assert_eq!(stats(&s, id).verify_source_drops, 0);
    }
    let (hub0, b0, c0) = (stats(&s, hub), s.get(b).answered(), s.get(c).answered());

    // A (no mapping for C yet) sends C a packet from B's LAN: through the hub, which knows
    // B's LAN is behind B's NBMA address, not A's: dropped and counted, never forwarded.
    spoof(&mut s, 1, 2, 99, 3, 37, 100);
    let hub1 = stats(&s, hub);
    assert_eq!(hub1.verify_source_drops, hub0.verify_source_drops + 1);
    assert_eq!(hub1.forwarded, hub0.forwarded);
    assert_eq!(unverified(&s, hub), 1);
    assert_eq!(s.get(c).answered(), c0);

    // A (with a direct mapping for B) sends B a packet from B's own LAN, and one from C's LAN
    // (which B reaches through the hub, not through A): B drops and counts both.
    spoof(&mut s, 1, 2, 99, 2, 37, 101);
    spoof(&mut s, 1, 3, 99, 2, 37, 102);
    assert!(s.echo_path(a, 101).iter().all(|t| t.dst == s.nbma(2)));
    assert_eq!(stats(&s, b).verify_source_drops, 2);
    assert_eq!(unverified(&s, b), 2);
    assert_eq!(s.get(b).answered(), b0);
    s.finish();
}

#[test]
fn with_verify_source_off_spoofed_lan_sources_are_relayed_and_delivered_as_before() {
    let mut s = network("verify-source-off", Example::new(3), [false; 4]);
    let (hub, a, b, c) = (s.hub(), s.spoke(1), s.spoke(2), s.spoke(3));
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(1));
    assert_eq!(s.replies(a, 1), 1);
    let (hub0, b0, c0) = (stats(&s, hub), s.get(b).answered(), s.get(c).answered());
    spoof(&mut s, 1, 2, 99, 3, 37, 100);
    assert!(
        stats(&s, hub).forwarded > hub0.forwarded,
        "the hub relays it"
    );
    assert_eq!(s.get(c).answered(), c0 + 1, "C's host answers it");
    spoof(&mut s, 1, 2, 99, 2, 37, 101);
    spoof(&mut s, 1, 3, 99, 2, 37, 102);
    assert_eq!(s.get(b).answered(), b0 + 2, "B's host answers both");
    for id in [hub, a, b, c] {
        assert_eq!(stats(&s, id).verify_source_drops, 0);
        assert_eq!(unverified(&s, id), 0);
    }
    s.finish();
}

/// Phase 3 with the check on everywhere: the spokes route the LAN summary through the hub, the
/// first packets are relayed (accepted: the hub is the path back), shortcuts form and traffic
/// goes direct both ways without a drop; a spoofed source is still refused by the hub, and by
/// spoke B for its own LAN even though its summary route would send that LAN to the hub.
#[test]
fn with_verify_source_on_phase3_shortcuts_converge_and_spoofing_is_still_dropped() {
    let mut ex = Example::new(3);
    ex.phase = 3;
    let mut s = network("verify-source-phase3", ex, [true; 4]);
    let (hub, a, b, c) = (s.hub(), s.spoke(1), s.spoke(2), s.spoke(3));
    for seq in 1..=5 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "seq {seq}: {:?}", s.get(b).errors());
    }
    let last = s.echo_path(a, 5);
    assert!(last.iter().all(|t| t.dst == s.nbma(2)), "direct: {last:?}");
    for id in [hub, a, b, c] {
        assert_eq!(
            stats(&s, id).verify_source_drops,
            0,
            "{:?}",
            s.get(id).errors()
        );
    }
    let hub0 = stats(&s, hub);
    spoof(&mut s, 1, 2, 99, 3, 37, 100);
    assert_eq!(
        stats(&s, hub).verify_source_drops,
        hub0.verify_source_drops + 1
    );
    spoof(&mut s, 1, 2, 99, 2, 37, 101);
    assert_eq!(stats(&s, b).verify_source_drops, 1);
    s.finish();
}

/// Phase 3, one way: A streams UDP to a host on B's LAN and B never answers. After A's
/// shortcut, A's packets come to B directly while B's summary route still points at the hub;
/// B drops the first of them and resolves their source, learns (through the hub) that A's LAN
/// is behind A, and delivers the rest.
#[test]
fn with_verify_source_on_a_one_way_phase3_flow_is_delivered_once_the_source_is_resolved() {
    let mut ex = Example::new(3);
    ex.phase = 3;
    ex.hub_resolution = dmvpn_core::config::HubResolution::Forward;
    let mut s = network("verify-source-one-way", ex, [true; 4]);
    let (a, b) = (s.spoke(1), s.spoke(2));
    let (src, dst) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    let opts = dmvpn_wire::HeaderOptions::default();
    for n in 0..10u16 {
        let ip = dmvpn_wire::ip::Repr::new(
            src.into(),
            dst.into(),
            dmvpn_wire::IpProtocol::UDP,
            8,
            &opts,
            n,
        )
        .unwrap();
        // A well-formed UDP datagram (an empty one, to the discard port) so that the pcap
        // decodes cleanly.
        let udp = dmvpn_wire::udp::datagram(src.into(), dst.into(), 40000 + n, 9, &[]).unwrap();
        let mut packet = vec![0u8; ip.header_len()];
        ip.emit(&mut packet).unwrap();
        packet.extend_from_slice(&udp);
        let now = s.now();
        s.node(a).send_overlay(now, &packet);
        s.sim.flush();
        s.run(secs(1));
    }
    let to_b = s
        .get(b)
        .delivered()
        .iter()
        .filter(|d| d.dst == std::net::IpAddr::V4(dst))
        .count();
    let drops = stats(&s, b).verify_source_drops;
    assert!(drops <= 2, "B dropped {drops}: {:?}", s.get(b).errors());
    assert_eq!(to_b as u64 + drops, 10);
    assert!(
        s.get(a).node().stats().sent_direct >= 7,
        "A's shortcut carries the flow"
    );
    s.finish();
}

/// The option is serde data, off unless configured (today's behaviour).
#[test]
fn verify_unicast_source_is_off_unless_configured() {
    let json = |extra: &str| {
        format!(
            r#"{{"hostname":"s","tunnels":[{{"name":"Tunnel0","address":"10.0.0.11/24",
            "source":"172.16.1.1","mode":"multipoint",{extra}
            "nhrp":{{"network_id":1,"nhs":[{{"address":"10.0.0.1","nbma":"172.17.0.1"}}]}}}}]}}"#
        )
    };
    let off: dmvpn_core::config::NodeConfig = serde_json::from_str(&json("")).unwrap();
    assert!(!off.tunnels[0].verify_unicast_source);
    let on: dmvpn_core::config::NodeConfig =
        serde_json::from_str(&json(r#""verify_unicast_source":true,"#)).unwrap();
    assert!(on.tunnels[0].verify_unicast_source);
    on.validate().unwrap();
}
