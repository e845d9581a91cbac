//! Protected spokes behind port-translating NAT boxes (NAPT, RFC 4787) that pass UDP only, as
//! home and carrier NATs do: every SA runs in ESP-in-UDP 4500 (RFC 3948), the hub learns the
//! post-NAT addresses from IKE and NHRP (seed 002, "NAT-Transparency Aware DMVPN"), NAT
//! mappings are kept open by keepalives and followed when they change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;

use common::{Scenario, ip, secs};
use dmvpn_core::EventKind;
use dmvpn_core::sim::example::Example;
use dmvpn_netsim::{Filtering, NaptConfig, NatId};

const PUB1: &str = "198.51.100.1";
const PUB2: &str = "203.0.113.2";

/// The hub and spokes 1 and 2 of seed 003, protected, each spoke behind its own NAPT box.
fn napt_network(name: &'static str, seed: u64, filtering: Filtering) -> (Scenario, [NatId; 2]) {
    let ex = Example::new(2).protected();
    let mut s = Scenario::empty(name, seed, ex.clone());
    let mut ids = Vec::new();
    for (i, public) in [(1, PUB1), (2, PUB2)] {
        let mut nat = NaptConfig::new(ip(public), vec![ex.spoke_nbma(i).into()]);
        nat.filtering = filtering;
        ids.push(s.sim.network_mut().add_napt(nat));
    }
    let hub = s.add(ex.hub());
    for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=2 {
        let id = s.add(ex.spoke(i));
        s.spokes.push(id);
    }
    (s, [ids[0], ids[1]])
}

/// Nothing but UDP crossed the NAT boxes (none of the spokes tried GRE or ESP through them).
fn only_udp_crossed(s: &Scenario, nats: &[NatId]) {
    for n in nats {
        let st = s.sim.network().nat_stats(*n).unwrap();
        assert_eq!(st.protocol_dropped, 0, "{st:?}");
    }
}

/// Seed 002: spokes behind two different NAPT boxes register with their post-NAT addresses
/// and build a direct spoke-to-spoke SA in ESP-in-UDP; the shortcut expires like any other.
/// The boxes filter endpoint-independently (RFC 4787 REQ-8's choice for application
/// transparency): the IKE_SA_INIT of one spoke reaches the other through the mapping the
/// other's SA with the hub keeps open on port 4500.
#[test]
fn spokes_behind_two_napt_boxes_go_direct_in_udp() {
    let (mut s, nats) = napt_network("napt-direct", 21, Filtering::EndpointIndependent);
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(3));
    for (i, public) in [(1, PUB1), (2, PUB2)] {
        assert!(s.registered(hub, i), "spoke {i}: {:?}", s.events(hub));
        assert!(s.has(hub, |k| matches!(k, EventKind::PeerRegistered { nbma, nat: true, .. } if *nbma == ip(public))));
    }
    assert!(s.has(a, |k| matches!(k, EventKind::CryptoUp { nat: true, .. })));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=6 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "seq {seq}: {:?}", s.get(a).errors());
    }
    // Direct after resolution: to the other's public address, in UDP 4500.
    for (id, other) in [(a, PUB2), (b, PUB1)] {
        let path = s.echo_path(id, 6);
        assert!(!path.is_empty());
        assert!(
            path.iter().all(|t| t.dst == ip(other) && t.protected),
            "{path:?}"
        );
    }
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::CryptoUp { peer, nat: true, .. } if peer.ip() == ip(PUB2))
    ));
    let sess = s.get(a).node().show_crypto_session(s.now());
    assert!(sess.contains(PUB2), "{sess}");
    // The shortcut goes when unused (holdtime), and with it the direct SA (seed 003 step 11).
    s.run(secs(400));
    assert!(
        s.has(
            a,
            |k| matches!(k, EventKind::CryptoDown { peer, .. } if peer.ip() == ip(PUB2))
        ),
        "{}",
        s.events(a)
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    only_udp_crossed(&s, &nats);
    s.finish();
}

/// Both boxes filter by address and port (Linux's conntrack, most home routers): a spoke's
/// IKE_SA_INIT to the other's public address is dropped by the other's box unless that spoke
/// has sent to it first. Both spokes start IKE to each other (the requester when it gets the
/// answer, the answering spoke when it learns the requester from the forwarded request), both
/// on port 4500, so each one's first datagram opens its own box for the other's: the SA forms
/// on a retransmission, and traffic goes direct.
#[test]
fn spokes_behind_two_port_dependent_napt_boxes_punch_through() {
    let (mut s, nats) = napt_network("napt-apdf", 22, Filtering::AddressAndPortDependent);
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(3));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=10 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "seq {seq}: {:?}", s.get(a).errors());
    }
    for (id, other) in [(a, PUB2), (b, PUB1)] {
        let path = s.echo_path(id, 10);
        assert!(
            !path.is_empty() && path.iter().all(|t| t.dst == ip(other) && t.protected),
            "{path:?}"
        );
    }
    let filtered: u64 = nats
        .iter()
        .map(|n| s.sim.network().nat_stats(*n).unwrap().filtered)
        .sum();
    assert!(
        filtered >= 1,
        "no datagram was filtered: nothing was punched"
    );
    only_udp_crossed(&s, &nats);
    s.finish();
}

/// Boxes that do not keep the source port (a carrier NAT): a spoke's public port is not the
/// one its IKE runs on, and NHRP carries addresses, not ports, so the other spoke cannot reach
/// it (seed 002: with PAT on both sides "a session initiated between the two spokes cannot be
/// established"). The spoke-to-spoke tunnel does not form; the echoes keep going through the
/// hub, all answered, none in clear.
#[test]
fn spokes_behind_port_changing_napt_boxes_stay_on_the_hub() {
    let ex = Example::new(2).protected();
    let mut s = Scenario::empty("napt-pat", 23, ex.clone());
    let mut nats = Vec::new();
    for (i, public) in [(1, PUB1), (2, PUB2)] {
        let mut nat = NaptConfig::new(ip(public), vec![ex.spoke_nbma(i).into()]);
        nat.port_preservation = false;
        nat.port_range = 20_000..=20_999;
        nats.push(s.sim.network_mut().add_napt(nat));
    }
    let hub = s.add(ex.hub());
    for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=2 {
        let id = s.add(ex.spoke(i));
        s.spokes.push(id);
    }
    let a = s.spoke(1);
    s.run(secs(3));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    let hub_sees = s
        .sim
        .network()
        .napt_mapping(SocketAddr::new(ex.spoke_nbma(1).into(), 4500))
        .unwrap();
    assert_ne!(hub_sees.port(), 4500);
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=15 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "seq {seq}: {:?}", s.get(a).errors());
    }
    let path = s.echo_path(a, 15);
    assert!(
        !path.is_empty()
            && path
                .iter()
                .all(|t| t.dst == ip("172.17.0.1") && t.protected),
        "{path:?}"
    );
    // A tried (the hub and spoke 2) and never got an SA with spoke 2.
    assert!(s.get(a).node().crypto_stats()[0].1.initiated >= 2);
    assert!(!s.has(
        a,
        |k| matches!(k, EventKind::CryptoUp { peer, .. } if peer.ip() == ip(PUB2))
    ));
    let box2 = s.sim.network().nat_stats(nats[1]).unwrap();
    assert!(box2.no_mapping >= 1, "{box2:?}");
    only_udp_crossed(&s, &nats);
    s.finish();
}
