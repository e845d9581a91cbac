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
    s.add_example_nodes();
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
    s.add_example_nodes();
    let hub = s.hub();
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

/// A NAT rebinding (the box forgets its mappings and hands out new ports, as after a reboot,
/// and with `new_public` a new public address, as after a new lease) in the middle of a ping
/// through a direct spoke-to-spoke SA: the far spoke and the hub follow the NATed spoke to its
/// new place on its first authenticated packet (RFC 3948, RFC 7296 §2.23), the registration and
/// the SAs stay, and no more than the echoes in flight are lost.
fn rebinding_mid_ping(name: &'static str, new_public: Option<&str>) {
    let ex = Example::new(2).protected();
    let mut s = Scenario::empty(name, 24, ex.clone());
    let mut nat = NaptConfig::new(ip(PUB1), vec![ex.spoke_nbma(1).into()]);
    nat.filtering = Filtering::EndpointIndependent;
    let nat = s.sim.network_mut().add_napt(nat);
    s.add_example_nodes();
    let hub = s.hub();
    let (a, b) = (s.spoke(1), s.spoke(2));
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=3 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1);
    }
    let spoke1 = SocketAddr::new(ex.spoke_nbma(1).into(), 4500);
    let before = s.sim.network().napt_mapping(spoke1).unwrap();
    // 40 echoes 100 ms apart; the box rebinds after the 20th.
    let (src, dst) = (ex.lan_host(1, 25), ex.lan_host(2, 37));
    let t0 = s.now();
    for k in 0..40u16 {
        let at = t0 + std::time::Duration::from_millis(100 * u64::from(k));
        s.node(a).schedule_ping(at, src, dst, 1, 100 + k);
    }
    s.run(std::time::Duration::from_millis(2_050));
    assert!(s.sim.network_mut().rebind(nat, new_public.map(ip)));
    s.run(secs(3));
    let lost: Vec<u16> = (100..140).filter(|q| s.replies(a, *q) == 0).collect();
    assert!(lost.len() <= 1, "lost {lost:?}");
    let after = s.sim.network().napt_mapping(spoke1).unwrap();
    assert_ne!(before.port(), after.port());
    assert_eq!(after.ip(), ip(new_public.unwrap_or(PUB1)));
    // The far spoke followed on authenticated ESP; still the direct path.
    assert!(s.has(
        b,
        |k| matches!(k, EventKind::CryptoPeerMoved { to, followed: true, .. } if *to == after)
    ));
    let path = s.echo_path(b, 139);
    assert!(
        !path.is_empty() && path.iter().all(|t| t.dst == after.ip()),
        "{path:?}"
    );
    // The hub follows too (the registration refresh, IKE), and the registration stays.
    s.run(secs(150));
    assert!(s.has(
        hub,
        |k| matches!(k, EventKind::CryptoPeerMoved { to, followed: true, .. } if *to == after)
    ));
    assert!(s.registered(hub, 1));
    assert_eq!(
        s.count(hub, |k| matches!(k, EventKind::CryptoDown { .. })),
        0
    );
    let nhrp = s.get(hub).node().show_ip_nhrp(s.now());
    assert!(
        nhrp.contains(&format!("NBMA address: {}\n", after.ip())),
        "{nhrp}"
    );
    s.ping(1, 25, 2, 37, 200);
    s.run(secs(1));
    assert_eq!(s.replies(a, 200), 1);
    // Spoke 2 pings spoke 1 through the hub too (the hub's side of the move).
    let now = s.now();
    s.node(b)
        .ping(now, ex.lan_host(2, 37), ex.lan_host(1, 25), 2, 201);
    s.run(secs(1));
    assert_eq!(s.replies(b, 201), 1);
    s.finish();
}

#[test]
fn a_nat_rebinding_to_a_new_port_mid_ping_loses_only_the_echoes_in_flight() {
    rebinding_mid_ping("napt-rebind-port", None);
}

#[test]
fn a_nat_rebinding_to_a_new_address_mid_ping_loses_only_the_echoes_in_flight() {
    rebinding_mid_ping("napt-rebind-address", Some("198.51.100.77"));
}

/// Spoke 1 behind a NAPT box whose UDP mappings idle out after `idle`, with NAT keepalives
/// every `keepalive` seconds; 200 s without traffic, then (as soon as the mapping is gone, or
/// after 320 s) spoke 2 pings a host behind spoke 1 (through the hub, i.e. into spoke 1's box
/// from outside).
fn idle_then_ping_in(name: &'static str, idle: u64, keepalive: u32) -> (Scenario, bool, bool) {
    let ex = Example::new(2).protected();
    let mut s = Scenario::empty(name, 25, ex.clone());
    let mut nat = NaptConfig::new(ip(PUB1), vec![ex.spoke_nbma(1).into()]);
    nat.filtering = Filtering::EndpointIndependent;
    nat.idle_timeout = secs(idle);
    s.sim.network_mut().add_napt(nat);
    let mut hub_cfg = ex.hub();
    hub_cfg.crypto.ikev2.nat_keepalive_seconds = keepalive;
    let hub = s.add(hub_cfg);
    for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=2 {
        let mut cfg = ex.spoke(i);
        cfg.crypto.ikev2.nat_keepalive_seconds = keepalive;
        let id = s.add(cfg);
        s.spokes.push(id);
    }
    s.run(secs(3));
    assert!(s.registered(hub, 1));
    s.route(1, 2);
    s.route(2, 1);
    // Idle (NHRP refreshes every holdtime/3 = 100 s, so this is their quiet stretch),
    // watching the mapping of spoke 1's port 4500 second by second.
    let spoke1 = SocketAddr::new(ex.spoke_nbma(1).into(), 4500);
    let mut gone = false;
    for t in 0..320 {
        s.run(secs(1));
        gone |= s.sim.network().napt_mapping(spoke1).is_none();
        // After 200 s, ping as soon as the mapping is gone (if it ever is).
        if t >= 200 && s.sim.network().napt_mapping(spoke1).is_none() {
            break;
        }
    }
    let b = s.spoke(2);
    s.ping(2, 37, 1, 25, 1);
    s.run(secs(1));
    let answered = s.replies(b, 1) == 1;
    (s, gone, answered)
}

/// The keepalives (every 20 s) keep a 30 s NAPT mapping open through 200 idle seconds: the
/// hub reaches the spoke at once. Without them (one an hour) the mapping idles out and the
/// same ping is lost: the keepalives are what keeps the spoke reachable.
#[test]
fn keepalives_keep_an_idle_napt_mapping_open() {
    let (mut s, gone, answered) = idle_then_ping_in("napt-idle-kept", 30, 20);
    assert!(
        answered && !gone,
        "answered {answered}, mapping gone {gone}"
    );
    s.finish();
    let (_, gone, answered) = idle_then_ping_in("napt-idle-lost", 30, 3600);
    assert!(
        gone && !answered,
        "without keepalives: answered {answered}, gone {gone}"
    );
}

/// A box that forgets idle mappings faster (15 s) than the keepalives come (20 s): the mapping
/// goes between two keepalives and the next keepalive makes it again (the same port: the box
/// keeps ports), so from then on the spoke is reachable again.
#[test]
fn an_idled_out_napt_mapping_is_made_again_by_the_next_keepalive() {
    let ex = Example::new(1).protected();
    let mut s = Scenario::empty("napt-idle-remade", 26, ex.clone());
    let mut nat = NaptConfig::new(ip(PUB1), vec![ex.spoke_nbma(1).into()]);
    nat.idle_timeout = secs(15);
    let nat = s.sim.network_mut().add_napt(nat);
    let hub = s.add(ex.hub());
    s.hub = Some(hub);
    let a = s.add(ex.spoke(1));
    s.spokes.push(a);
    s.run(secs(3));
    assert!(s.registered(hub, 1));
    let spoke1 = SocketAddr::new(ex.spoke_nbma(1).into(), 4500);
    let public = s.sim.network().napt_mapping(spoke1).unwrap();
    // Watch the mapping second by second for a minute: it goes, and it comes back.
    let mut seen = Vec::new();
    for _ in 0..60 {
        s.run(secs(1));
        seen.push(s.sim.network().napt_mapping(spoke1));
    }
    assert!(seen.iter().any(Option::is_none), "never idled out");
    let last_gone = seen.iter().rposition(Option::is_none).unwrap();
    assert!(
        seen[last_gone..].contains(&Some(public)),
        "not made again: {seen:?}"
    );
    assert!(s.sim.network().nat_stats(nat).unwrap().expired >= 1);
    // The spoke's registration, refreshed through the remade mapping, still stands.
    s.run(secs(120));
    assert!(s.registered(hub, 1));
    s.finish();
}

/// The second public address of the box both spokes sit behind.
const PUB1B: &str = "198.51.100.2";

/// Spokes 1 and 2 behind ONE NAPT box with public addresses 198.51.100.1 and (pool)
/// 198.51.100.2, endpoint-independent filtering, hairpinning on or off; registered, with
/// routes to each other's LANs, then spoke 1 pings a host on spoke 2's LAN 15 times.
fn two_spokes_behind_one_box(name: &'static str, seed: u64, hairpin: bool) -> (Scenario, NatId) {
    let ex = Example::new(2).protected();
    let mut s = Scenario::empty(name, seed, ex.clone());
    let mut nat = NaptConfig::new(
        ip(PUB1),
        vec![ex.spoke_nbma(1).into(), ex.spoke_nbma(2).into()],
    );
    nat.pool = vec![ip(PUB1B)];
    nat.filtering = Filtering::EndpointIndependent;
    nat.hairpin = hairpin;
    let nat = s.sim.network_mut().add_napt(nat);
    s.add_example_nodes();
    let hub = s.hub();
    let a = s.spoke(1);
    s.run(secs(3));
    // Each spoke went out on an address of its own (paired pooling): the hub sees both.
    for i in 1..=2 {
        assert!(s.registered(hub, i), "spoke {i}: {:?}", s.events(hub));
    }
    let publics: Vec<_> = (1..=2)
        .map(|i| {
            s.sim
                .network()
                .napt_mapping(SocketAddr::new(ex.spoke_nbma(i).into(), 4500))
                .unwrap()
                .ip()
        })
        .collect();
    assert_eq!(publics, [ip(PUB1), ip(PUB1B)]);
    for public in &publics {
        assert!(
            s.has(
                hub,
                |k| matches!(k, EventKind::PeerRegistered { nbma, nat: true, .. } if nbma == public)
            ),
            "{public}: {:?}",
            s.events(hub)
        );
    }
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=15 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "seq {seq}: {:?}", s.get(a).errors());
    }
    (s, nat)
}

/// Seed 002: "If there is more than one DMVPN spoke behind the same NAT box, then the NAT box
/// must translate the DMVPN spokes to different outside NAT IP addresses. It is also likely
/// that you may not be able to build a direct spoke-spoke tunnel between these spokes. If a
/// spoke-spoke tunnel fails to form, then the spoke-spoke packets will continue to be
/// forwarded via the spoke-hub-spoke path." A box with an address for each spoke: when it does
/// not hairpin, spoke 1's attempts to reach spoke 2's public address die at the box and every
/// echo keeps going through the hub; when it does, the spokes build their SA through the box
/// and the later echoes go direct.
#[test]
fn two_spokes_behind_one_napt_box() {
    let hub_nbma = ip("172.17.0.1");
    // (a) No hairpinning: on the hub, answered, no direct SA.
    let (mut s, nat) = two_spokes_behind_one_box("napt-same-box", 27, false);
    // Every echo and every reply went through the hub (the traces are taken whole: one
    // `echo_path` per node would drain them).
    for i in 1..=2 {
        let id = s.spoke(i);
        let trace = s.node(id).take_trace();
        for seq in 1..=15 {
            let path: Vec<_> = trace
                .iter()
                .filter(|t| t.echo.is_some_and(|e| e.seq == seq))
                .collect();
            assert!(
                !path.is_empty() && path.iter().all(|t| t.dst == hub_nbma && t.protected),
                "spoke {i}, seq {seq}: {path:?}"
            );
        }
    }
    let st = s.sim.network().nat_stats(nat).unwrap();
    assert!(st.hairpin_dropped > 0, "spoke 1 never tried direct: {st:?}");
    // Its attempts (from behind the NAT: 4500 to 4500) fail and are retried while the
    // shortcut wants the peer, named with the port they went to; the echoes still go through
    // the hub.
    let a = s.spoke(1);
    s.run(secs(60));
    s.ping(1, 25, 2, 37, 16);
    s.run(secs(1));
    assert_eq!(s.replies(a, 16), 1);
    let path = s.echo_path(a, 16);
    assert!(
        !path.is_empty() && path.iter().all(|t| t.dst == hub_nbma && t.protected),
        "{path:?}"
    );
    assert!(
        s.has(
            a,
            |k| matches!(k, EventKind::CryptoFailed { peer, retry_in: Some(_), .. } if *peer == SocketAddr::new(ip(PUB1B), 4500))
        ),
        "{:?}",
        s.events(a)
    );
    for (i, other) in [(1, PUB1B), (2, PUB1)] {
        let id = s.spoke(i);
        assert!(
            !s.has(
                id,
                |k| matches!(k, EventKind::CryptoUp { peer, .. } if peer.ip() == ip(other))
            ),
            "spoke {i}: {:?}",
            s.events(id)
        );
    }
    only_udp_crossed(&s, &[nat]);
    s.finish();

    // (b) Hairpinning: the box carries the spokes' SA between its two addresses; direct.
    let (mut s, nat) = two_spokes_behind_one_box("napt-same-box-hairpin", 28, true);
    let (a, b) = (s.spoke(1), s.spoke(2));
    for (id, other) in [(a, PUB1B), (b, PUB1)] {
        let path = s.echo_path(id, 15);
        assert!(
            !path.is_empty() && path.iter().all(|t| t.dst == ip(other) && t.protected),
            "{path:?}"
        );
    }
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::CryptoUp { peer, nat: true, .. } if peer.ip() == ip(PUB1B))
    ));
    let st = s.sim.network().nat_stats(nat).unwrap();
    assert!(st.hairpinned > 0 && st.hairpin_dropped == 0, "{st:?}");
    only_udp_crossed(&s, &[nat]);
    s.finish();
}
