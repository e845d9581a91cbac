//! Scenario tests on netsim's virtual clock and network (DESIGN.md §5): the seeds' example
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
use dmvpn_core::{EventKind, Gone};

/// Seed 003 steps 1–11 / seed 001 slides: registration, resolution through the hub, the first
/// packets via the hub, then direct; the reverse direction resolves; unused mappings expire.
#[test]
fn phase2_spoke_to_spoke_via_hub_then_direct_then_expiry() {
    let mut s = Scenario::new("phase2", 1, Example::new(2));
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(2));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    assert!(s.has(a, |k| matches!(k, EventKind::NhsUp { .. })));
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
        assert!(s.has(x, |k| matches!(k, EventKind::MappingRemoved { reason: Gone::Expired, nbma, .. } if *nbma == ip(peer))));
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
