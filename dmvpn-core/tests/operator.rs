//! The operator's commands on the protected example network (netsim): `show ip nhrp brief`,
//! `clear crypto session [peer ADDR]` and `debug nhrp` / `debug crypto`.
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
use dmvpn_core::{DebugFlags, EventKind};

/// The example's hub and two spokes, protected, registered, with A's echoes to B's LAN on
/// the direct SA.
fn network(name: &'static str) -> Scenario {
    let mut s = Scenario::new(name, 43, Example::new(2).protected());
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=4 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
    }
    assert!(s.replies(s.spoke(1), 4) > 0, "no reply before the commands");
    s
}

fn crypto_ups(s: &Scenario, id: dmvpn_netsim::HostId, peer: std::net::IpAddr) -> usize {
    s.count(
        id,
        |k| matches!(k, EventKind::CryptoUp { peer: p, .. } if p.ip() == peer),
    )
}

#[test]
fn show_ip_nhrp_brief_lists_the_hubs_registrations_in_seed_004s_layout() {
    let s = network("operator-brief");
    let hub = s.get(s.hub()).node().show_ip_nhrp_brief(s.now());
    let lines: Vec<&str> = hub.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["Target", "Via", "NBMA", "Mode", "Intfc", "Claimed"]
    );
    for i in 1..=2 {
        let (t, n) = (s.tunnel(i), s.nbma(i));
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{t}/32 ")))
            .unwrap_or_else(|| panic!("no line for {t} in\n{hub}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words,
            [
                format!("{t}/32").as_str(),
                &t.to_string(),
                &n.to_string(),
                "dynamic",
                "Tu0",
                "<",
                ">"
            ],
            "{line}"
        );
    }
    // The spoke: its static map to the hub, and the resolved spoke B.
    let a = s.get(s.spoke(1)).node().show_ip_nhrp_brief(s.now());
    assert!(
        a.lines()
            .any(|l| l.contains(" static ") && l.contains("Tu0")),
        "{a}"
    );
    assert!(a.lines().any(|l| l.contains(" dynamic ")), "{a}");
    // What `show ip nhrp` lists as incomplete or local is not in the brief form.
    assert!(!a.contains("incomplete") && !a.contains("local"), "{a}");
}

#[test]
fn clear_crypto_session_to_one_peer_brings_it_up_again_and_leaves_the_others() {
    let mut s = network("operator-clear-peer");
    let (a, b, hub) = (s.spoke(1), s.spoke(2), s.hub());
    let (nb, nh) = (s.nbma(2), s.ex.hub_nbma());
    let (ups_b, ups_hub) = (crypto_ups(&s, a, nb), crypto_ups(&s, a, nh));
    let now = s.now();
    let closed = s.node(a).node_mut().clear_crypto_session(now, Some(nb));
    s.node(a).pump(now);
    assert_eq!(closed, 1, "one IKE SA with spoke B");
    s.run(secs(3));
    // A deleted the SA with B, and negotiated a new one at once (it still has the mapping);
    // its SA with the hub was not touched.
    assert!(
        s.has(
            a,
            |k| matches!(k, EventKind::CryptoDown { peer, .. } if peer.ip() == nb)
        ),
        "no CryptoDown for B"
    );
    assert_eq!(
        crypto_ups(&s, a, nb),
        ups_b + 1,
        "A did not bring B up again"
    );
    assert_eq!(crypto_ups(&s, a, nh), ups_hub, "the hub's SA was touched");
    assert!(
        s.has(b, |k| matches!(k, EventKind::CryptoDown { .. })),
        "B did not see the delete"
    );
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    // Traffic flows over the new SA.
    for seq in 10..=12 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
    }
    assert!(s.replies(a, 12) > 0, "no reply after the clear");
    s.finish();
}

#[test]
fn clear_crypto_session_on_the_hub_drops_the_registrations_and_the_spokes_come_back() {
    let mut s = network("operator-clear-all");
    let hub = s.hub();
    let now = s.now();
    let closed = s.node(hub).node_mut().clear_crypto_session(now, None);
    s.node(hub).pump(now);
    assert_eq!(closed, 2, "the hub has an IKE SA with each spoke");
    // The spokes' registrations went with the SAs (once the deletes were answered).
    s.run(secs(1));
    assert!(
        s.has(hub, |k| matches!(k, EventKind::PeerExpired { .. })),
        "no registration removed"
    );
    // The spokes negotiate again after their back-off (3 s) and register at once, not at
    // their next refresh (100 s).
    s.run(secs(10));
    assert!(s.registered(hub, 1) && s.registered(hub, 2), "not back");
    let nothing = s
        .node(hub)
        .node_mut()
        .clear_crypto_session(now, Some(ip("192.0.2.99")));
    assert_eq!(nothing, 0, "no SA with an unknown peer");
    s.finish();
}

#[test]
fn debug_nhrp_and_crypto_record_every_packet_while_on_and_nothing_when_off() {
    let mut s = network("operator-debug");
    let a = s.spoke(1);
    // Off by default: nothing recorded.
    s.run(secs(120));
    assert!(s.node(a).node_mut().poll_debug().is_none());
    s.node(a).node_mut().set_debug(DebugFlags {
        nhrp: true,
        crypto: true,
    });
    // Registration refreshes (every holdtime/3 = 100 s) and an IKE exchange (a clear and a
    // new negotiation with the hub).
    let (now, hub) = (s.now(), s.ex.hub_nbma());
    s.node(a).node_mut().clear_crypto_session(now, Some(hub));
    s.node(a).pump(now);
    s.run(secs(110));
    let mut records = Vec::new();
    while let Some(r) = s.node(a).node_mut().poll_debug() {
        records.push(r);
    }
    let has = |p: &str| records.iter().any(|r| r.contains(p));
    assert!(
        has("NHRP: Send Registration Request via Tunnel0 vrf 0"),
        "{records:#?}"
    );
    assert!(
        has("NHRP: Receive Registration Reply via Tunnel0 vrf 0"),
        "{records:#?}"
    );
    assert!(has("src: 10.0.0.11, dst: 10.0.0.1"), "{records:#?}");
    assert!(
        has(&format!("IKEv2:Sending Packet [To {hub}:")),
        "{records:#?}"
    );
    assert!(
        has("IKEv2 INFORMATIONAL Exchange REQUEST"),
        "the delete: {records:#?}"
    );
    assert!(has("IKEv2 IKE_SA_INIT Exchange RESPONSE"), "{records:#?}");
    // Off again: nothing more.
    s.node(a).node_mut().set_debug(DebugFlags::default());
    s.run(secs(110));
    assert!(s.node(a).node_mut().poll_debug().is_none());
}
