//! Scenario tests on netsim's virtual clock and network (ARCHITECTURE.md, "How it is tested"): the seeds' example
//! (hub 172.17.0.1 / 10.0.0.1, spoke A 172.16.1.1 / 10.0.0.11 / 192.168.1.0/24, spoke B
//! 172.16.2.1 / 10.0.0.12 / 192.168.2.0/24) in phase 2 and 3, dual hub, dual DMVPN, NAT,
//! multicast, loss, hub restart and key mismatch. Timing is on the virtual clock only.
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
use dmvpn_core::{EventKind, NhrpEvent, RemoveReason};

/// Seed 003 steps 1–11 / seed 001 slides: registration, resolution through the hub, the first
/// packets via the hub, then direct; the reverse direction resolves; unused mappings expire.
fn phase2_spoke_to_spoke_via_hub_then_direct_then_expiry(ipsec: bool) {
    let mut s = Scenario::new(name("phase2", ipsec), 1, example(ipsec, 2));
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(2));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    assert!(s.has(a, |k| matches!(k, EventKind::Nhrp(NhrpEvent::NhsUp { .. }))));
    assert_eq!(
        s.count(hub, |k| matches!(k, EventKind::PeerRegistered { .. })),
        2
    );
    s.route(1, 2);
    s.route(2, 1);
    s.node(a).take_trace();
    s.node(b).take_trace();
    s.node(hub).take_trace();

    // Step 1-3: the PC pings the web server; A has no mapping for 10.0.0.12: the request goes
    // to the hub while A resolves.
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(1));
    assert_eq!(s.replies(a, 1), 1, "{:?}", s.get(a).errors());
    let a_first = s.echo_path(a, 1);
    assert_eq!(
        a_first[0].dst,
        ip("172.17.0.1"),
        "first request via the hub"
    );
    let hub_path = s.echo_path(hub, 1);
    assert!(
        hub_path.iter().any(|t| t.dst == s.nbma(2)),
        "hub forwards to B"
    );
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::Resolving { target } if *target == ip("10.0.0.12"))
    ));
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == ip("172.16.2.1"))
    ));
    // Steps 7-10: B resolves A for the reply.
    assert!(s.has(
        b,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == ip("172.16.1.1"))
    ));
    assert!(s.has(
        b,
        |k| matches!(k, EventKind::NbmaPeerUp { nbma } if *nbma == ip("172.16.1.1"))
    ));

    // Step 6: direct, both ways.
    for seq in 2..=4 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1);
        let pa = s.echo_path(a, seq);
        assert!(pa.iter().all(|t| t.dst == s.nbma(2)), "{pa:?}");
        let pb = s.echo_path(b, seq);
        assert!(pb.iter().all(|t| t.dst == s.nbma(1)), "{pb:?}");
        assert!(s.echo_path(hub, seq).is_empty());
    }
    let forwarded = s.get(hub).node().stats().forwarded;
    assert!((1..=2).contains(&forwarded), "hub forwarded {forwarded}");
    let shown = s.get(a).node().show_dmvpn(s.now());
    assert!(shown.contains("Type:Spoke, NHRP Peers:2,"), "{shown}");
    assert!(
        shown.contains("172.16.2.1       10.0.0.12    UP"),
        "{shown}"
    );
    let nhrp = s.get(a).node().show_ip_nhrp(s.now());
    assert!(
        nhrp.contains("10.0.0.12/32 via 10.0.0.12, Tunnel0 created"),
        "{nhrp}"
    );
    assert!(nhrp.contains("NBMA address: 172.16.2.1"), "{nhrp}");

    // Step 11: no traffic for longer than the holdtime: the mappings expire, the peers go down;
    // the hub keeps the registrations (refreshed every holdtime/3).
    s.run(secs(400));
    for (x, peer) in [(a, "172.16.2.1"), (b, "172.16.1.1")] {
        assert!(s.has(x, |k| matches!(k, EventKind::MappingRemoved { reason: RemoveReason::Expired, nbma, .. } if *nbma == ip(peer))));
        assert!(s.has(
            x,
            |k| matches!(k, EventKind::NbmaPeerDown { nbma } if *nbma == ip(peer))
        ));
        assert!(!s.get(x).node().show_dmvpn(s.now()).contains(peer));
    }
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    assert_eq!(
        s.count(hub, |k| matches!(k, EventKind::PeerExpired { .. })),
        0
    );
    let traffic = s.get(a).node().show_ip_nhrp_traffic(s.now());
    assert!(
        traffic.starts_with("Tunnel0: Max-send limit:100Pkts/10Sec"),
        "{traffic}"
    );
    s.finish();
}

/// Phase 3 (seed 002): spokes route the LAN summary to the hub; the hub forwards the first
/// packets and sends each sender a Traffic Indication; the spokes resolve the destinations and
/// install shortcut routes; traffic then goes directly; shortcuts go when the mappings expire.
fn phase3_redirect_and_shortcut(ipsec: bool) {
    let mut ex = example(ipsec, 2);
    ex.phase = 3;
    let mut s = Scenario::new(name("phase3", ipsec), 2, ex);
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(2));
    s.route(1, 2);
    s.route(2, 1);
    s.node(hub).take_trace();
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(1));
    assert_eq!(s.replies(a, 1), 1);
    let hub_tx = s.node(hub).take_trace();
    let tis: Vec<_> = hub_tx
        .iter()
        .filter(|t| t.what == "NHRP Traffic Indication")
        .map(|t| t.dst)
        .collect();
    assert!(
        tis.contains(&s.nbma(1)) && tis.contains(&s.nbma(2)),
        "{hub_tx:?}"
    );
    assert!(s.get(hub).node().stats().redirects_sent >= 2);
    for (x, lan, peer) in [
        (a, "192.168.2.0/24", "10.0.0.12"),
        (b, "192.168.1.0/24", "10.0.0.11"),
    ] {
        assert!(
            s.has(
                x,
                |k| matches!(k, EventKind::ShortcutAdded { prefix, next_hop, .. }
                if prefix.to_string() == lan && *next_hop == ip(peer))
            ),
            "{:?}",
            s.events(x)
        );
        let (net, src, hop) = s
            .get(x)
            .node()
            .routes()
            .lookup(lan.parse::<ipnet::IpNet>().unwrap().addr())
            .unwrap();
        assert_eq!(
            (net.to_string(), src, hop.via),
            (
                lan.to_string(),
                dmvpn_core::route::RouteSource::Shortcut,
                ip(peer)
            )
        );
    }
    for seq in 2..=4 {
        s.node(a).take_trace();
        s.node(b).take_trace();
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1);
        assert!(s.echo_path(a, seq).iter().all(|t| t.dst == s.nbma(2)));
        assert!(s.echo_path(b, seq).iter().all(|t| t.dst == s.nbma(1)));
    }
    // Shortcut routes carry the traffic; when the mappings expire the shortcuts go.
    s.run(secs(400));
    for x in [a, b] {
        assert!(s.has(x, |k| matches!(k, EventKind::ShortcutRemoved { .. })));
        assert!(
            s.get(x)
                .node()
                .routes()
                .iter()
                .all(|(_, src, _)| src == dmvpn_core::route::RouteSource::Routed)
        );
    }
    // Without traffic the hub sends nothing more than registration replies.
    let later = s.node(hub).take_trace();
    assert!(
        later.iter().all(|t| t.what == "NHRP Registration Reply"),
        "{later:?}"
    );
    s.finish();
}

/// Dual hub, one DMVPN cloud (seed 003): hub2 is also a spoke of hub1. Spokes register with
/// both; when hub1 crashes they detect it, resolve through hub2 and keep working; when hub1
/// comes back they re-register and its table holds exactly the live registrations.
fn dual_hub_survives_a_hub_crash(ipsec: bool) {
    use dmvpn_core::config::{NhsConfig, StaticMap};
    let ex = example(ipsec, 3);
    let mut s = Scenario::empty(name("dual-hub", ipsec), 3, ex.clone());
    let hub1_cfg = ex.hub();
    let mut hub2_cfg = ex.hub();
    hub2_cfg.hostname = "hub2".into();
    {
        let t = &mut hub2_cfg.tunnels[0];
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
    }
    let add_hub = |s: &mut Scenario, cfg: dmvpn_core::config::NodeConfig| {
        let id = s.add(cfg);
        for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
            s.node(id).add_route(net, via).unwrap();
        }
        id
    };
    let hub1 = add_hub(&mut s, hub1_cfg.clone());
    let hub2 = add_hub(&mut s, hub2_cfg);
    s.hub = Some(hub1);
    for i in 1..=3 {
        let mut cfg = ex.spoke(i);
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
        let id = s.add(cfg);
        s.spokes.push(id);
    }
    s.run(secs(2));
    assert_eq!(
        s.get(hub2).node().role(0),
        Some(dmvpn_core::Role::HubAndSpoke)
    );
    for i in 1..=3 {
        assert!(s.registered(hub1, i) && s.registered(hub2, i), "spoke {i}");
    }
    assert!(
        s.get(hub1)
            .node()
            .nhrp_server(0)
            .unwrap()
            .registration(ip("10.0.0.2"))
            .is_some()
    );
    s.route(1, 2);
    s.route(2, 1);
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(2));
    assert_eq!(s.replies(s.spoke(1), 1), 1);

    // Hub1 crashes. Spokes notice within a registration interval plus retransmissions.
    let crash_at = s.now();
    s.sim.crash(hub1);
    s.run(secs(130));
    for i in 1..=3 {
        assert!(
            s.has(
                s.spoke(i),
                |k| matches!(k, EventKind::Nhrp(NhrpEvent::NhsDown { nhs }) if *nhs == ip("10.0.0.1"))
            ),
            "spoke {i} did not see hub1 go down"
        );
        assert!(!s.has(s.spoke(i), |k| matches!(
            k,
            EventKind::Nhrp(NhrpEvent::AllNhsDown)
        )));
    }
    // A new spoke-to-spoke pair resolves through hub2.
    s.route(1, 3);
    s.route(3, 1);
    let a = s.spoke(1);
    s.node(a).take_trace();
    s.ping(1, 25, 3, 37, 7);
    s.run(secs(2));
    assert_eq!(s.replies(a, 7), 1, "{:?}", s.get(a).errors());
    let path = s.node(a).take_trace();
    assert!(
        path.iter()
            .any(|t| t.what == "NHRP Resolution Request" && t.dst == ip("172.17.0.2")),
        "{path:?}"
    );
    // (Only IKE, retrying the dead hub with back-off, goes to hub1.)
    assert!(
        path.iter()
            .filter(|t| !t.what.starts_with("IKE"))
            .all(|t| t.dst != ip("172.17.0.1"))
    );
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == s.nbma(3))
    ));

    // Hub1 restarts with fresh state; the spokes and hub2 re-register with it.
    let restart_at = s.now();
    let entropy = s.entropy();
    let mut fresh = dmvpn_core::sim::SimNode::new(restart_at, hub1_cfg, entropy).unwrap();
    for (net, via) in ex.hub_routes() {
        fresh.add_route(net, via).unwrap();
    }
    s.sim.restart(hub1, fresh);
    let bound = restart_at + secs(100 + 64);
    let ok = s
        .sim
        .run_until_true(bound, |sim| {
            let h = sim.host(hub1).unwrap().node().nhrp_server(0).unwrap();
            (1..=3).all(|i| h.registration(ex.spoke_tunnel(i).into()).is_some())
        })
        .unwrap();
    assert!(
        ok,
        "spokes did not re-register with hub1 by holdtime/3 + back-off"
    );
    s.run(secs(5));
    for i in 1..=3 {
        assert!(s.get(s.spoke(i)).events().iter().any(|(t, e)| *t > crash_at
            && matches!(e.kind, EventKind::Nhrp(NhrpEvent::NhsUp { nhs }) if nhs == ip("10.0.0.1"))));
        let st = s.get(s.spoke(i)).node().status(s.now());
        assert!(
            st.tunnels[0].nhs.iter().all(|n| n.up),
            "{:?}",
            st.tunnels[0].nhs
        );
        assert!(
            st.tunnels[0]
                .entries
                .iter()
                .all(|e| e.kind != dmvpn_nhrp::EntryType::Incomplete)
        );
    }
    // No stale entries: hub1 holds the three spokes and hub2, nothing else.
    let regs = s
        .get(hub1)
        .node()
        .nhrp_server(0)
        .unwrap()
        .cache()
        .iter()
        .filter(|e| e.flags.contains(dmvpn_nhrp::EntryFlags::REGISTERED))
        .count();
    assert_eq!(regs, 4);
    s.finish();
}

/// Dual DMVPN (seed 003): two clouds on one spoke, same tunnel source, different tunnel keys
/// and network-ids, one hub each. Each cloud registers and resolves through its own hub.
fn dual_dmvpn_two_clouds_on_one_spoke(ipsec: bool) {
    let ex = example(ipsec, 2);
    let mut s = Scenario::empty(name("dual-dmvpn", ipsec), 4, ex.clone());
    let second = |mut t: dmvpn_core::config::TunnelConfig, addr: &str| {
        t.name = "Tunnel1".into();
        t.address = addr.parse().unwrap();
        t.key = Some(200_000);
        t.nhrp.network_id = 100;
        for n in &mut t.nhrp.nhs {
            n.address = ip("10.0.1.1");
        }
        for m in &mut t.nhrp.maps {
            m.address = ip("10.0.1.1");
            m.nbma = ip("172.17.0.2");
        }
        if !t.nhrp.map_multicast.is_empty() {
            t.nhrp.map_multicast = vec![ip("172.17.0.2")];
        }
        t
    };
    let hub1 = s.add(ex.hub());
    let mut hub2_cfg = ex.hub();
    hub2_cfg.hostname = "hub2".into();
    hub2_cfg.tunnels[0] = second(hub2_cfg.tunnels[0].clone(), "10.0.1.1/24");
    hub2_cfg.tunnels[0].source = ip("172.17.0.2");
    let hub2 = s.add(hub2_cfg);
    for (h, sub) in [(hub1, 0u8), (hub2, 1)] {
        for i in 1..=2u32 {
            let via = ip(&format!("10.0.{sub}.{}", 10 + i));
            s.node(h)
                .add_route(ipnet::IpNet::V4(ex.spoke_lan(i)), via)
                .unwrap();
        }
    }
    s.hub = Some(hub1);
    for i in 1..=2u32 {
        let mut cfg = ex.spoke(i);
        let t1 = second(cfg.tunnels[0].clone(), &format!("10.0.1.{}/24", 10 + i));
        cfg.tunnels.push(t1);
        // Seed 002, dual DMVPN: two protected interfaces on one source share their IPsec.
        for t in &mut cfg.tunnels {
            if let Some(p) = t.protection.as_mut() {
                p.shared = true;
            }
        }
        let id = s.add(cfg);
        s.spokes.push(id);
    }
    s.run(secs(2));
    let (a, b) = (s.spoke(1), s.spoke(2));
    for i in 1..=2 {
        assert!(s.registered(hub1, i));
        let h2 = s.get(hub2).node().nhrp_server(0).unwrap();
        assert!(h2.registration(ip(&format!("10.0.1.{}", 10 + i))).is_some());
        assert!(h2.registration(ip(&format!("10.0.0.{}", 10 + i))).is_none());
    }
    for t in [0usize, 1] {
        assert!(
            s.get(a).events().iter().any(|(_, e)| e.tunnel == t
                && matches!(e.kind, EventKind::Nhrp(NhrpEvent::NhsUp { .. })))
        );
    }
    // Spoke A reaches B's LAN over the second cloud.
    s.node(a)
        .add_route(ipnet::IpNet::V4(ex.spoke_lan(2)), ip("10.0.1.12"))
        .unwrap();
    s.node(b)
        .add_route(ipnet::IpNet::V4(ex.spoke_lan(1)), ip("10.0.1.11"))
        .unwrap();
    s.node(a).take_trace();
    for seq in 1..=3 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1);
    }
    let tr = s.node(a).take_trace();
    // (IKE belongs to the shared crypto group, not to one interface.)
    assert!(
        tr.iter()
            .filter(|t| !t.what.starts_with("IKE"))
            .all(|t| t.tunnel == 1),
        "{tr:?}"
    );
    assert!(
        tr.iter()
            .any(|t| t.what == "NHRP Resolution Request" && t.dst == ip("172.17.0.2"))
    );
    assert!(tr.iter().any(|t| t.echo.is_some() && t.dst == s.nbma(2)));
    assert!(s.get(a).events().iter().any(|(_, e)| e.tunnel == 1
        && matches!(e.kind, EventKind::MappingAdded { next_hop, .. } if next_hop == ip("10.0.1.12"))));
    assert!(
        !s.get(a)
            .events()
            .iter()
            .any(|(_, e)| e.tunnel == 0 && matches!(e.kind, EventKind::MappingAdded { .. }))
    );
    let shown = s.get(a).node().show_dmvpn(s.now());
    assert!(
        shown.contains("Interface: Tunnel0") && shown.contains("Interface: Tunnel1"),
        "{shown}"
    );
    assert_eq!(
        s.get(hub1)
            .node()
            .gre(0)
            .unwrap()
            .totals()
            .drops
            .key_mismatch,
        0
    );
    s.finish();
}

/// NAT-Transparency Aware DMVPN (seed 002): spokes behind two different (one-to-one) NAT boxes
/// register with their post-NAT addresses and still build a direct tunnel to each other;
/// protected, every SA runs in ESP-in-UDP and the spoke-to-spoke one uses the transport-mode
/// selector rules of RFC 7296 §2.23.1.
fn spokes_behind_two_nats_go_direct(ipsec: bool) {
    let ex = example(ipsec, 2);
    let mut s = Scenario::empty(name("nat", ipsec), 5, ex.clone());
    s.sim.network_mut().add_nat(dmvpn_netsim::NatConfig {
        public: vec![ip("198.51.100.1")],
        inside: vec![ip("172.16.1.1")],
    });
    s.sim.network_mut().add_nat(dmvpn_netsim::NatConfig {
        public: vec![ip("203.0.113.2")],
        inside: vec![ip("172.16.2.1")],
    });
    let hub = s.add(ex.hub());
    for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=2 {
        let id = s.add(ex.spoke(i));
        s.spokes.push(id);
    }
    let (a, b) = (s.spoke(1), s.spoke(2));
    s.run(secs(2));
    assert!(s.has(hub, |k| matches!(k, EventKind::PeerRegistered { nbma, nat: true, .. } if *nbma == ip("198.51.100.1"))));
    assert!(s.has(hub, |k| matches!(k, EventKind::PeerRegistered { nbma, nat: true, .. } if *nbma == ip("203.0.113.2"))));
    assert!(s.has(a, |k| matches!(k, EventKind::Nhrp(NhrpEvent::NatDetected { public_nbma, .. }) if *public_nbma == ip("198.51.100.1"))));
    let hub_nhrp = s.get(hub).node().show_ip_nhrp(s.now());
    assert!(
        hub_nhrp.contains("NBMA address: 198.51.100.1\n    (Claimed NBMA address: 172.16.1.1)"),
        "{hub_nhrp}"
    );
    assert!(s.get(hub).node().show_dmvpn(s.now()).contains("DN"));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=4 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "seq {seq}: {:?}", s.get(a).errors());
    }
    for seq in 2..=4 {
        assert!(
            s.echo_path(a, seq)
                .iter()
                .all(|t| t.dst == ip("203.0.113.2"))
        );
        assert!(
            s.echo_path(b, seq)
                .iter()
                .all(|t| t.dst == ip("198.51.100.1"))
        );
    }
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == ip("203.0.113.2"))
    ));
    s.finish();
}

/// A UDP datagram (discard port) for multicast tests, with valid checksums.
fn udp(src: &str, dst: &str) -> Vec<u8> {
    use dmvpn_wire::ip::{HeaderOptions, IpProtocol, Repr};
    let data = b"hello, routing neighbours";
    let ip_repr = Repr::new(
        ip(src),
        ip(dst),
        IpProtocol::UDP,
        8 + data.len(),
        &HeaderOptions {
            ttl: 1,
            ..HeaderOptions::default()
        },
        7,
    )
    .unwrap();
    let mut buf = vec![0u8; ip_repr.buffer_len()];
    ip_repr.emit(&mut buf).unwrap();
    let hl = ip_repr.header_len();
    let len = (8 + data.len()) as u16;
    buf[hl..hl + 8].copy_from_slice(&[0x13, 0x89, 0, 9, (len >> 8) as u8, len as u8, 0, 0]);
    buf[hl + 8..].copy_from_slice(data);
    buf
}

/// `ip nhrp map multicast dynamic`: a multicast from the hub reaches every registered spoke; a
/// spoke's multicast goes to its `map multicast` hub only.
fn multicast_replicates_to_every_registered_spoke(ipsec: bool) {
    let mut s = Scenario::new(name("multicast", ipsec), 6, example(ipsec, 5));
    let hub = s.hub();
    s.run(secs(2));
    let now = s.now();
    s.node(hub)
        .send_overlay(now, &udp("10.0.0.1", "224.0.0.10"));
    s.sim.flush();
    s.run(secs(1));
    assert_eq!(s.get(hub).node().stats().multicast_copies, 5);
    for i in 1..=5 {
        let got = s
            .get(s.spoke(i))
            .delivered()
            .iter()
            .filter(|d| d.dst == ip("224.0.0.10"))
            .count();
        assert_eq!(got, 1, "spoke {i}");
    }
    // A broadcast on the tunnel subnet from spoke 3 goes to the hub only.
    let sp = s.spoke(3);
    let now = s.now();
    s.node(sp)
        .send_overlay(now, &udp("10.0.0.13", "10.0.0.255"));
    s.sim.flush();
    s.run(secs(1));
    assert_eq!(s.get(sp).node().stats().multicast_copies, 1);
    assert_eq!(
        s.get(hub)
            .delivered()
            .iter()
            .filter(|d| d.dst == ip("10.0.0.255"))
            .count(),
        1
    );
    for i in [1, 2, 4, 5] {
        assert!(
            s.get(s.spoke(i))
                .delivered()
                .iter()
                .all(|d| d.dst != ip("10.0.0.255"))
        );
    }
    s.finish();
}

/// 30% loss on every link: registration, resolution and the data path still converge.
fn thirty_percent_loss_converges(ipsec: bool) {
    let mut s = Scenario::new(name("loss30", ipsec), 7, example(ipsec, 4));
    s.sim
        .network_mut()
        .set_default_link(dmvpn_netsim::LinkProfile::lossy(0.3));
    let hub = s.hub();
    let limit = s.now() + secs(600);
    let all = s
        .sim
        .run_until_true(limit, |sim| {
            let srv = sim.host(hub).unwrap().node().nhrp_server(0).unwrap();
            srv.cache()
                .iter()
                .filter(|e| e.flags.contains(dmvpn_nhrp::EntryFlags::REGISTERED))
                .count()
                == 4
        })
        .unwrap();
    assert!(all, "not every spoke registered under 30% loss");
    for (i, j) in [(1, 2), (3, 4)] {
        s.route(i, j);
        s.route(j, i);
    }
    for seq in 1..=30 {
        s.ping(1, 25, 2, 37, seq);
        s.ping(3, 25, 4, 37, seq);
        s.run(secs(1));
    }
    for (i, j) in [(1u32, 2u32), (3, 4)] {
        let x = s.spoke(i);
        // Replies got through, and the late ones directly between the spokes.
        let late = s
            .get(x)
            .replies()
            .iter()
            .filter(|r| r.echo.seq > 20)
            .count();
        assert!(late >= 3, "spoke {i}: only {late} late replies");
        assert!(s.has(
            x,
            |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == s.nbma(j))
        ));
        assert!(s.get(x).node().stats().sent_direct >= 5);
    }
    assert!(s.sim.network().stats().lost > 20);
    s.finish();
}

/// The hub restarts with empty tables: the spokes notice, back off, and re-register within
/// holdtime/3 plus the back-off.
fn hub_restart_spokes_reregister_within_holdtime_third_plus_backoff(ipsec: bool) {
    let ex = example(ipsec, 3);
    let mut s = Scenario::new(name("hub-restart", ipsec), 8, ex.clone());
    let hub = s.hub();
    s.run(secs(10));
    for i in 1..=3 {
        assert!(s.registered(hub, i));
    }
    s.sim.crash(hub);
    s.run(secs(140));
    for i in 1..=3 {
        assert!(s.has(s.spoke(i), |k| matches!(
            k,
            EventKind::Nhrp(NhrpEvent::AllNhsDown)
        )));
    }
    let restart = s.now();
    let entropy = s.entropy();
    let mut fresh = dmvpn_core::sim::SimNode::new(restart, ex.hub(), entropy).unwrap();
    fresh.set_trace(true);
    s.sim.restart(hub, fresh);
    let bound = restart + secs(u64::from(ex.holdtime) / 3 + 64);
    let back = s
        .sim
        .run_until_true(bound, |sim| {
            let srv = sim.host(hub).unwrap().node().nhrp_server(0).unwrap();
            (1..=3).all(|i| srv.registration(ex.spoke_tunnel(i).into()).is_some())
        })
        .unwrap();
    assert!(
        back,
        "spokes did not re-register by restart + holdtime/3 + 64 s"
    );
    s.run(secs(1));
    for i in 1..=3 {
        assert!(
            s.get(s.spoke(i)).events().iter().any(|(t, e)| *t >= restart
                && matches!(e.kind, EventKind::Nhrp(NhrpEvent::NhsUp { .. })))
        );
    }
    s.finish();
}

/// `tunnel key` must match: a spoke with another key is dropped by GRE at the hub and counted;
/// it never registers and its traffic never arrives.
fn key_mismatch_is_dropped_and_counted(ipsec: bool) {
    let ex = example(ipsec, 2);
    let mut s = Scenario::new(name("key-mismatch", ipsec), 9, ex.clone());
    let mut rogue_ex = ex.clone();
    rogue_ex.key = Some(999);
    let rogue = s.add(rogue_ex.spoke(3));
    let hub = s.hub();
    s.run(secs(30));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    assert!(!s.registered(hub, 3));
    let drops = s
        .get(hub)
        .node()
        .gre(0)
        .unwrap()
        .totals()
        .drops
        .key_mismatch;
    assert!(drops >= 3, "key mismatches counted: {drops}");
    assert_eq!(s.get(hub).node().stats().gre_dropped, drops);
    assert_eq!(
        s.get(hub).node().status(s.now()).tunnels[0]
            .gre
            .drops
            .key_mismatch,
        drops
    );
    assert!(!s.has(rogue, |k| matches!(
        k,
        EventKind::Nhrp(NhrpEvent::NhsUp { .. })
    )));
    assert!(s.has(rogue, |k| matches!(
        k,
        EventKind::Nhrp(NhrpEvent::NhsDown { .. })
    )));
    // Its data is dropped too.
    let (net, via) = ex.spoke_route(1);
    s.node(rogue).add_route(net, via).unwrap();
    let now = s.now();
    s.node(rogue)
        .ping(now, ex.lan_host(3, 25), ex.lan_host(1, 37), 1, 1);
    s.sim.flush();
    s.run(secs(2));
    assert!(s.get(rogue).replies().is_empty());
    assert_eq!(s.get(s.spoke(1)).answered(), 0);
    assert!(
        s.get(hub)
            .node()
            .gre(0)
            .unwrap()
            .totals()
            .drops
            .key_mismatch
            > drops
    );
    s.finish();
}

/// The example, protected by IPsec when `ipsec`.
fn example(ipsec: bool, spokes: u32) -> Example {
    let ex = Example::new(spokes);
    if ipsec { ex.protected() } else { ex }
}

/// The scenario's pcap name (`-ipsec` when protected).
fn name(base: &'static str, ipsec: bool) -> &'static str {
    if ipsec {
        Box::leak(format!("{base}-ipsec").into_boxed_str())
    } else {
        base
    }
}

/// Every scenario twice: in clear (GRE on the wire) and protected (`tunnel protection ipsec
/// profile`: IKE and ESP only).
macro_rules! both {
    ($($f:ident),* $(,)?) => {
        mod clear {
            $(#[test] fn $f() { super::$f(false) })*
        }
        mod protected {
            $(#[test] fn $f() { super::$f(true) })*
        }
    };
}

both!(
    phase2_spoke_to_spoke_via_hub_then_direct_then_expiry,
    phase3_redirect_and_shortcut,
    dual_hub_survives_a_hub_crash,
    dual_dmvpn_two_clouds_on_one_spoke,
    multicast_replicates_to_every_registered_spoke,
    thirty_percent_loss_converges,
    hub_restart_spokes_reregister_within_holdtime_third_plus_backoff,
    key_mismatch_is_dropped_and_counted,
    spokes_behind_two_nats_go_direct,
);
