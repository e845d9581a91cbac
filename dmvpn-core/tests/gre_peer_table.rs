//! The GRE peer table of a node's tunnel holds state only for peers the node accepted (issue
//! "Hardening: off-path attacks on NHRP", item 7): a flood from spoofed sources that fails the
//! GRE key check or NHRP authentication leaves it empty, and the entries of legitimate peers
//! the node has no mapping for expire when idle.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dmvpn_core::sim::example::Example;
use dmvpn_core::sim::icmp;
use dmvpn_core::{Entropy, Input, Limits, Node, Output, Transmit};

/// Drains a node: its transmits, everything else dropped.
fn transmits(n: &mut Node) -> Vec<Transmit> {
    let mut out = Vec::new();
    loop {
        match n.poll_output() {
            Output::Transmit(t) => out.push(t),
            Output::Timeout(_) => return out,
            Output::Deliver(_) | Output::Event(_) => {}
        }
    }
}

fn underlay(
    n: &mut Node,
    now: Instant,
    src: IpAddr,
    t: &Transmit,
) -> Result<(), dmvpn_core::Error> {
    n.handle_input(Input::Underlay {
        now,
        src,
        dst: t.dst,
        payload: &t.payload,
    })
}

/// 100,000 spoofed sources send the hub a Registration Request with the wrong NHRP password
/// (and the right tunnel key), then one with the wrong tunnel key: the hub keeps no GRE state
/// for any of them. A real spoke then registers and gets its entry.
#[test]
fn spoofed_nhrp_failing_authentication_or_the_key_leaves_no_gre_peer_state() {
    let now = Instant::now();
    let ex = Example::new(1);
    let mut hub = Node::new(now, ex.hub(), Entropy::from_seed(0)).unwrap();
    let _ = transmits(&mut hub);
    let wrong_password = Example {
        password: Some("guessed".into()),
        ..Example::new(1)
    };
    let wrong_key = Example {
        key: Some(7),
        ..Example::new(1)
    };
    let reg = |ex: &Example| {
        let mut s = Node::new(now, ex.spoke(1), Entropy::from_seed(1)).unwrap();
        transmits(&mut s).into_iter().next().unwrap()
    };
    let (bad_auth, bad_key) = (reg(&wrong_password), reg(&wrong_key));
    for i in 0..100_000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + i));
        assert!(matches!(
            underlay(&mut hub, now, src, &bad_auth),
            Err(dmvpn_core::Error::Nhrp(_))
        ));
        assert!(matches!(
            underlay(&mut hub, now, src, &bad_key),
            Err(dmvpn_core::Error::Gre(_))
        ));
    }
    // Tunnelled IP with the right key from sources the hub has no mapping for: delivered as
    // today, but no GRE state either.
    let ping = icmp::echo_request(ex.lan_host(1, 25), Ipv4Addr::new(10, 0, 0, 1), 1, 1, 8).unwrap();
    let mut gre_ip = vec![0x20, 0, 0x08, 0];
    gre_ip.extend_from_slice(&100_000u32.to_be_bytes());
    gre_ip.extend_from_slice(&ping);
    for i in 0..1000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 96, 0, 0)) + i));
        hub.handle_input(Input::Underlay {
            now,
            src,
            dst: bad_auth.dst,
            payload: &gre_ip,
        })
        .unwrap();
    }
    assert_eq!(hub.stats().delivered, 1000);
    assert!(transmits(&mut hub).is_empty());
    assert_eq!(hub.gre(0).unwrap().peers().count(), 0);
    let s = hub.stats();
    assert_eq!((s.nhrp_dropped, s.gre_dropped), (100_000, 100_000));
    assert_eq!(
        hub.nhrp_server(0).unwrap().stats().authentication_failures,
        100_000
    );
    // The real spoke A registers: its entry is the only one.
    let good = reg(&ex);
    let a: IpAddr = ex.spoke_nbma(1).into();
    underlay(&mut hub, now, a, &good).unwrap();
    let peers: Vec<IpAddr> = hub.gre(0).unwrap().peers().map(|(p, _)| *p).collect();
    assert_eq!(peers, vec![a]);
}

/// Carries every transmit between the nodes (by tunnel source) until nothing moves.
fn carry(nodes: &mut [Node], now: Instant) {
    loop {
        let mut moved = false;
        for k in 0..nodes.len() {
            for t in transmits(&mut nodes[k]) {
                moved = true;
                if let Some(to) = nodes
                    .iter()
                    .position(|n| n.status(now).tunnels[0].source == t.dst)
                {
                    let _ = underlay(&mut nodes[to], now, t.src, &t);
                }
            }
        }
        if !moved {
            return;
        }
    }
}

/// A legitimate peer the hub has no mapping for (spoke A after `clear ip nhrp 10.0.0.11`,
/// resolving spoke B through the hub: its authenticated Resolution Request and the hub's reply
/// give it a GRE entry again) loses that entry once idle for `Limits::gre_peer_idle`, not
/// before; spoke B, registered but just as silent, keeps its entry while its mapping lives.
/// The totals keep everything.
#[test]
fn unmapped_peers_gre_state_expires_when_idle_and_mapped_peers_stay() {
    let t0 = Instant::now();
    let ex = Example::new(2);
    let idle = Duration::from_secs(60);
    let limits = Limits {
        gre_peer_idle: idle,
        ..Limits::default()
    };
    let mut nodes = vec![
        Node::with_limits(t0, ex.hub(), Entropy::from_seed(0), limits).unwrap(),
        Node::new(t0, ex.spoke(1), Entropy::from_seed(1)).unwrap(),
        Node::new(t0, ex.spoke(2), Entropy::from_seed(2)).unwrap(),
    ];
    carry(&mut nodes, t0);
    let (a, b): (IpAddr, IpAddr) = (ex.spoke_nbma(1).into(), ex.spoke_nbma(2).into());
    let mut peers: Vec<IpAddr> = nodes[0].gre(0).unwrap().peers().map(|(p, _)| *p).collect();
    peers.sort();
    assert_eq!(peers, vec![a, b]);
    // The hub forgets A: A's GRE entry goes with its registration.
    assert!(nodes[0].clear_nhrp(t0, ex.spoke_tunnel(1).into()));
    let _ = transmits(&mut nodes[0]);
    assert!(nodes[0].gre(0).unwrap().peer(a).is_none());
    // A pings B's LAN: the echo goes through the hub while A resolves B there. Only A's
    // packets reach the hub.
    let (lan_b, via_b) = ex.spoke_route(2);
    nodes[1].add_route(lan_b, via_b).unwrap();
    let ping = icmp::echo_request(ex.lan_host(1, 25), ex.lan_host(2, 37), 1, 1, 8).unwrap();
    nodes[1]
        .handle_input(Input::Overlay {
            now: t0,
            packet: &ping,
        })
        .unwrap();
    for t in transmits(&mut nodes[1]) {
        underlay(&mut nodes[0], t0, t.src, &t).unwrap();
    }
    let hub = &mut nodes[0];
    let replies = transmits(hub);
    assert!(replies.iter().any(|t| t.dst == a), "the hub answers A");
    assert!(hub.gre(0).unwrap().peer(a).is_some());
    assert!(
        hub.nhrp_server(0)
            .unwrap()
            .registration(ex.spoke_tunnel(1).into())
            .is_none()
    );
    let totals = *hub.gre(0).unwrap().totals();
    // Time passes on the hub's own timer only.
    let mut gone_at = None;
    let mut now = t0;
    while now < t0 + 2 * idle {
        let next = match hub.poll_output() {
            Output::Timeout(Some(t)) => t,
            Output::Timeout(None) => panic!("the hub has GRE entries: a timer must run"),
            _ => continue,
        };
        now = next;
        hub.handle_input(Input::Timeout(now)).unwrap();
        let _ = transmits(hub);
        if gone_at.is_none() && hub.gre(0).unwrap().peer(a).is_none() {
            gone_at = Some(now);
        }
    }
    let gone_at = gone_at.expect("A's entry expired");
    assert!(gone_at >= t0 + idle, "not before the idle time");
    assert!(gone_at <= t0 + idle + idle / 4, "within two sweeps of it");
    let g = hub.gre(0).unwrap();
    assert!(g.peer(b).is_some(), "B is mapped: its entry stays");
    assert_eq!(g.peer_table().expired, 1);
    assert_eq!(g.totals().packets_in, totals.packets_in);
    assert!(g.totals().packets_out >= totals.packets_out);
}

/// The next deadline after the timeout the node asked for. Drains the node, its own deadline.
fn deadline(n: &mut Node) -> Option<Instant> {
    loop {
        if let Output::Timeout(t) = n.poll_output() {
            return t;
        }
    }
}

/// `clear ip nhrp` of the hub's mapping removes the hub's GRE entry, the table's last; the next
/// registration creates it again, after the timeout's sweep, and the node's deadline is then
/// the new entry's sweep, not the removed one's (which was already past: the node announced a
/// deadline before the instant it had just handled). In clear and protected. Found by the fuzz
/// target `dmvpn_node_protected` (an hour's clock jump, a timeout, `clear ip nhrp 10.0.0.1` on
/// the spoke, a timeout at the announced deadline).
#[test]
fn after_clearing_the_last_mapped_peer_the_next_deadline_is_later() {
    for ex in [Example::new(1), Example::new(1).protected()] {
        let start = Instant::now();
        let limits = Limits {
            gre_peer_idle: Duration::from_secs(30),
            ..Limits::default()
        };
        let mut spoke =
            Node::with_limits(start, ex.spoke(1), Entropy::from_seed(1), limits).unwrap();
        deadline(&mut spoke);
        // The hub never answers; an hour later the spoke's timers run.
        let mut now = start + Duration::from_secs(3840);
        spoke.handle_input(Input::Timeout(now)).unwrap();
        now = now.max(deadline(&mut spoke).unwrap());
        spoke.handle_input(Input::Timeout(now)).unwrap();
        deadline(&mut spoke);
        assert!(spoke.clear_nhrp(now, IpAddr::from(Ipv4Addr::new(10, 0, 0, 1))));
        now = now.max(deadline(&mut spoke).unwrap());
        spoke.handle_input(Input::Timeout(now)).unwrap();
        let next = deadline(&mut spoke);
        assert!(
            next.is_some_and(|d| d > now),
            "protected {}: next deadline {:?} after a timeout at {:?}",
            ex.ipsec.is_some(),
            next.map(|d| d - start),
            now - start
        );
    }
}
