//! Dual-stack tunnel interfaces ([`dmvpn_core::config::Ipv6Overlay`]): one `interface Tunnel0`
//! with an IPv4 overlay (10.0.0.0/24, `ip nhrp …`) and an IPv6 overlay (2001:db8::/64, `ipv6
//! nhrp …`), each with its own NHRP instance, over one GRE tunnel and, protected, one IKE SA
//! and one pair of child SAs per NBMA peer. The seed 003 flow in both families at once:
//! registrations of both addresses, the first packets via the hub, resolution, direct, expiry.
//! The protected run writes its key log beside the pcap for `.ci/checks/dmvpn-ipv6-tshark.sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::net::IpAddr;

use common::*;
use dmvpn_core::config::{Ipv6Overlay, NhsConfig, NodeConfig, with_secrets_revealed};
use dmvpn_core::sim::example::{Example, Family};
use dmvpn_core::{EventKind, RemoveReason};
use dmvpn_netsim::HostId;

fn paths(cfg: &NodeConfig) -> Vec<String> {
    match cfg.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e.0.into_iter().map(|p| p.path).collect(),
    }
}

#[test]
fn a_dual_stack_interface_is_validated_as_two_overlays() {
    let ex = Example::new(2).dual_stack();
    let spoke = ex.spoke(1);
    spoke.validate().unwrap();
    ex.hub().validate().unwrap();
    let t = &spoke.tunnels[0];
    assert_eq!(t.address.to_string(), "10.0.0.11/24");
    let v6 = t.ipv6.as_ref().unwrap();
    assert_eq!(v6.address.to_string(), "2001:db8::11/64");
    assert_eq!(
        v6.nhrp.network_id, t.nhrp.network_id,
        "one network-id may serve both"
    );
    assert_eq!(v6.nhrp.nhs[0].address, ip("2001:db8::1"));
    let half = t.ipv6_overlay().unwrap();
    assert_eq!(
        (half.name.as_str(), half.source, half.key, half.mtu),
        ("Tunnel0", t.source, t.key, t.mtu)
    );
    assert!(half.ipv6.is_none());

    // Serde: the field round-trips, and leaving it out means one overlay.
    let json = with_secrets_revealed(|| serde_json::to_string(&spoke).unwrap());
    assert_eq!(serde_json::from_str::<NodeConfig>(&json).unwrap(), spoke);
    let single = Example::new(2).spoke(1);
    let json = with_secrets_revealed(|| serde_json::to_string(&single))
        .unwrap()
        .replace(",\"ipv6\":null", "");
    assert!(!json.contains("ipv6"), "{json}");
    assert_eq!(serde_json::from_str::<NodeConfig>(&json).unwrap(), single);

    // The IPv6 overlay's problems under tunnels[0].ipv6.
    let mut bad = spoke.clone();
    {
        let v6 = bad.tunnels[0].ipv6.as_mut().unwrap();
        v6.mtu = Some(1279);
        v6.nhrp.nhs.push(NhsConfig {
            address: ip("2001:db8:9::1"),
            nbma: Some(ip("172.17.0.9")),
        });
        v6.nhrp.network_id = 0;
    }
    assert_eq!(
        paths(&bad),
        [
            "tunnels[0].ipv6.mtu",
            "tunnels[0].ipv6.nhrp.network_id",
            "tunnels[0].ipv6.nhrp.nhs[1]"
        ]
    );
    // An IPv4 `ipv6` overlay, or an IPv6 primary with a second IPv6 one.
    let mut bad = spoke.clone();
    bad.tunnels[0].ipv6.as_mut().unwrap().address = "10.9.0.1/24".parse().unwrap();
    assert!(paths(&bad).contains(&"tunnels[0].ipv6.address".to_string()));
    let mut bad = Example::new(2).overlay_v6().spoke(1);
    bad.tunnels[0].ipv6 = Some(Ipv6Overlay {
        address: "2001:db8:77::1/64".parse().unwrap(),
        mtu: None,
        nhrp: bad.tunnels[0].nhrp.clone(),
    });
    assert!(paths(&bad).contains(&"tunnels[0].address".to_string()));
    // A second dual-stack interface may not reuse the first's IPv6 subnet or network-id.
    let mut two = spoke.clone();
    let mut t1 = two.tunnels[0].clone();
    t1.name = "Tunnel1".into();
    t1.key = Some(7);
    t1.address = "10.0.1.11/24".parse().unwrap();
    t1.nhrp.network_id = 100;
    t1.nhrp.nhs.clear();
    t1.nhrp.maps.clear();
    two.tunnels.push(t1);
    assert_eq!(
        paths(&two),
        ["tunnels[1].ipv6.nhrp.network_id", "tunnels[1].ipv6.address"]
    );
    // A LAN may not overlap an IPv6 overlay either.
    let mut lan = spoke;
    lan.networks.push("2001:db8::/48".parse().unwrap());
    assert_eq!(paths(&lan), ["networks[2]"]);
}

fn crypto_up(s: &Scenario, id: HostId, peer: IpAddr) -> bool {
    s.has(
        id,
        |k| matches!(k, EventKind::CryptoUp { peer: p, .. } if p.ip() == peer),
    )
}

fn ike_sas_with(s: &Scenario, id: HostId, peer: IpAddr) -> usize {
    let now = s.now();
    s.get(id)
        .node()
        .ike_endpoint(0)
        .unwrap()
        .status(now)
        .iter()
        .filter(|st| st.remote.ip() == peer && st.state == dmvpn_ikev2::IkeState::Ready)
        .count()
}

/// Seed 003 steps 1–11 in both families over one dual-stack interface.
fn seed003_in_both_families(ipsec: bool) {
    let ex = if ipsec {
        Example::new(2).dual_stack().protected()
    } else {
        Example::new(2).dual_stack()
    };
    let name = if ipsec {
        "dual-stack-phase2-ipsec"
    } else {
        "dual-stack-phase2"
    };
    let mut s = Scenario::new(name, 21, ex.clone());
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    for id in [hub, a, b] {
        assert_eq!(
            s.get(id).node().tunnels(),
            2,
            "the IPv6 overlay is tunnel 1"
        );
        if ipsec {
            s.node(id).node_mut().enable_keylog();
        }
    }
    let (v4, v6) = (ex.with_overlay(Family::V4), ex.with_overlay(Family::V6));
    s.run(secs(3));
    // Both addresses registered, each with its own NHRP server, from the one NBMA address.
    for (t, side) in [(0, &v4), (1, &v6)] {
        let srv = s.get(hub).node().nhrp_server(t).unwrap();
        for i in 1..=2 {
            let addr = side.tunnel_addr(i);
            assert!(srv.registration(addr).is_some(), "{addr}");
            assert!(s.has(
                hub,
                |k| matches!(k, EventKind::PeerRegistered { address, nbma, .. }
                if *address == addr && *nbma == ex.nbma(i))
            ));
        }
        assert_eq!(srv.cache().iter().count(), 2);
    }
    let events = s.events(hub);
    assert!(events.iter().all(|e| &*e.interface == "Tunnel0"));
    assert!(
        events
            .iter()
            .any(|e| e.tunnel == 1 && matches!(e.kind, EventKind::PeerRegistered { .. }))
    );
    if ipsec {
        assert!(crypto_up(&s, a, ex.hub_nbma()));
        assert_eq!(ike_sas_with(&s, a, ex.hub_nbma()), 1, "one IKE SA for both");
    }
    let now = s.now();
    let dmvpn = s.get(hub).node().show_dmvpn(now);
    let v4_at = dmvpn.find("Interface: Tunnel0, IPv4 NHRP Details").unwrap();
    let v6_at = dmvpn.find("Interface: Tunnel0, IPv6 NHRP Details").unwrap();
    assert!(v4_at < v6_at, "{dmvpn}");
    assert!(
        dmvpn[v6_at..].contains(
            "2.Peer NBMA Address: 172.16.2.1\n        Tunnel IPv6 Address: 2001:db8::12\n"
        ),
        "{dmvpn}"
    );
    let nhrp = s.get(hub).node().show_ip_nhrp(now);
    assert!(
        nhrp.contains("10.0.0.12/32 via 10.0.0.12, Tunnel0 created"),
        "{nhrp}"
    );
    assert!(
        nhrp.contains("2001:db8::12/128 via 2001:db8::12, Tunnel0 created"),
        "{nhrp}"
    );

    for side in [&v4, &v6] {
        for (i, j) in [(1, 2), (2, 1)] {
            let (net, via) = side.spoke_route(j);
            s.node(s.spoke(i)).add_route(net, via).unwrap();
        }
    }
    for id in [hub, a, b] {
        s.node(id).take_trace();
    }
    // Steps 1-3 in both families: the first echo via the hub while each NHRP instance
    // resolves the other spoke's address of its family.
    let now = s.now();
    s.node(a).ping(now, v4.host(1, 25), v4.host(2, 37), 1, 1);
    s.node(a).ping(now, v6.host(1, 25), v6.host(2, 37), 1, 2);
    s.sim.flush();
    s.run(secs(3));
    assert_eq!(
        (s.replies(a, 1), s.replies(a, 2)),
        (1, 1),
        "{:?}",
        s.get(a).errors()
    );
    let first = s.node(a).take_trace();
    for (seq, what) in [(1, "ICMP echo request"), (2, "ICMPv6 echo request")] {
        let t = first
            .iter()
            .find(|t| t.echo.is_some_and(|e| e.seq == seq))
            .unwrap();
        assert!(t.what.starts_with(what), "{t:?}");
        assert_eq!((t.dst, t.protected), (ex.hub_nbma(), ipsec));
    }
    for target in [v4.tunnel_addr(2), v6.tunnel_addr(2)] {
        assert!(s.has(
            a,
            |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == ex.nbma(2))
        ));
        assert!(s.has(
            a,
            |k| matches!(k, EventKind::Resolving { target: t } if *t == target)
        ));
    }
    if ipsec {
        assert!(crypto_up(&s, a, ex.nbma(2)));
        assert_eq!(ike_sas_with(&s, a, ex.nbma(2)), 1, "one IKE SA for both");
        let kids = s.get(a).node().child_sas(1);
        assert_eq!(kids, s.get(a).node().child_sas(0), "one crypto group");
        assert_eq!(kids.iter().filter(|(p, ..)| *p == ex.nbma(2)).count(), 1);
    }
    // Step 6: direct, both ways, in both families.
    for seq in 3..=6 {
        let side = if seq % 2 == 1 { &v4 } else { &v6 };
        let now = s.now();
        s.node(a)
            .ping(now, side.host(1, 25), side.host(2, 37), 1, seq);
        s.sim.flush();
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1);
        for (x, to) in [(a, ex.nbma(2)), (b, ex.nbma(1))] {
            let path = s.echo_path(x, seq);
            assert!(!path.is_empty());
            assert!(
                path.iter().all(|t| t.dst == to && t.protected == ipsec),
                "{path:?}"
            );
        }
        assert!(s.echo_path(hub, seq).is_empty());
    }
    let now = s.now();
    let shown = s.get(a).node().show_dmvpn(now);
    assert!(shown.contains("Type:Spoke, NHRP Peers:2,"), "{shown}");
    assert!(
        shown.contains("Type:Spoke, Total NBMA Peers (v4/v6): 2\n"),
        "{shown}"
    );
    if ipsec {
        let sessions = s.get(a).node().show_crypto_session(now);
        assert_eq!(
            sessions.matches("Interface: Tunnel0").count(),
            2,
            "{sessions}"
        );
        assert_eq!(
            sessions.matches("Peer: 172.16.2.1 port 500").count(),
            1,
            "{sessions}"
        );
    }
    // Step 11: the mappings of both families expire; the peer and its SAs go with the last.
    s.run(secs(400));
    for (x, peer) in [(a, ex.nbma(2)), (b, ex.nbma(1))] {
        for t in [0, 1] {
            assert!(
                s.get(x).events().iter().any(|(_, e)| e.tunnel == t
                    && matches!(e.kind, EventKind::MappingRemoved { reason: RemoveReason::Expired, nbma, .. } if nbma == peer)),
                "tunnel {t}"
            );
        }
        if ipsec {
            assert_eq!(ike_sas_with(&s, x, peer), 0);
            assert!(
                s.get(x)
                    .node()
                    .child_sas(0)
                    .iter()
                    .all(|(p, ..)| *p != peer)
            );
        }
    }
    for (t, side) in [(0, &v4), (1, &v6)] {
        let srv = s.get(hub).node().nhrp_server(t).unwrap();
        assert!((1..=2).all(|i| srv.registration(side.tunnel_addr(i)).is_some()));
    }
    assert!(s.get(a).errors().is_empty(), "{:?}", s.get(a).errors());
    let mut rows: Vec<String> = Vec::new();
    for id in [hub, a, b] {
        while let Some(r) = s.node(id).node_mut().poll_keylog() {
            if !rows.contains(&r) {
                rows.push(r);
            }
        }
    }
    let pcap = s.finish();
    if ipsec {
        let mut keys = pcap.into_os_string();
        keys.push(".keys");
        std::fs::write(keys, rows.join("\n") + "\n").unwrap();
    }
}

#[test]
fn seed003_in_both_families_clear() {
    seed003_in_both_families(false);
}

#[test]
fn seed003_in_both_families_protected() {
    seed003_in_both_families(true);
}

/// The node's tunnel indices: the configured interfaces first, then the IPv6 overlays of the
/// dual-stack ones, each mapped back to its interface (for a caller with a device per
/// configured interface, as dmvpn-node's TUNs).
#[test]
fn ipv6_overlays_map_back_to_their_interfaces() {
    let now = std::time::Instant::now();
    let mut cfg = Example::new(1).spoke(1);
    let mut t1 = Example::new(1).dual_stack().spoke(1).tunnels.remove(0);
    t1.name = "Tunnel1".into();
    t1.key = Some(7);
    t1.address = "10.0.1.11/24".parse().unwrap();
    t1.nhrp.network_id = 100;
    t1.nhrp.nhs.clear();
    t1.nhrp.maps.clear();
    t1.nhrp.map_multicast.clear();
    cfg.tunnels.push(t1);
    cfg.networks.push("2001:db8:1::/64".parse().unwrap());
    let n = dmvpn_core::Node::new(now, cfg, dmvpn_core::Entropy::from_seed(3)).unwrap();
    assert_eq!(n.tunnels(), 3);
    let back: Vec<_> = (0..4).map(|t| n.configured_tunnel(t)).collect();
    assert_eq!(back, [Some(0), Some(1), Some(1), None]);
    let st = n.status(now);
    assert_eq!(
        st.tunnels
            .iter()
            .map(|t| (t.name.as_str(), t.address.to_string()))
            .collect::<Vec<_>>(),
        [
            ("Tunnel0", "10.0.0.11/24".to_string()),
            ("Tunnel1", "10.0.1.11/24".to_string()),
            ("Tunnel1", "2001:db8::11/64".to_string())
        ]
    );
    // The IPv6 overlay's route goes out of its own tunnel, 2.
    assert_eq!(n.lookup(ip("2001:db8::99")).map(|(t, ..)| t), Some(2));
}
