//! Scenario tests of the protected DMVPN (`tunnel protection ipsec profile`) on netsim's
//! virtual clock: IKE to the hub before registration, IKE between spokes after the mapping,
//! the first packets via the hub, then ESP directly between the spokes, the SAs deleted at
//! expiry; no cleartext GRE on the wire. Every underlay datagram is recorded to a pcap for the
//! CI's tshark sweep.
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
use dmvpn_core::sim::example::Example;
use dmvpn_core::{EventKind, NhrpEvent};
use dmvpn_netsim::HostId;

/// IP protocol numbers of every frame on the wire.
fn protocols(s: &mut Scenario) -> Vec<u8> {
    let rec = s.sim.finish().unwrap();
    rec.frames().iter().map(|(_, f)| f[9]).collect()
}

fn crypto_up(s: &Scenario, id: HostId, peer: IpAddr) -> bool {
    s.has(
        id,
        |k| matches!(k, EventKind::CryptoUp { peer: p, .. } if p.ip() == peer),
    )
}

fn child_sas_with(s: &Scenario, id: HostId, peer: IpAddr) -> usize {
    s.get(id)
        .node()
        .child_sas(0)
        .iter()
        .filter(|(p, _, _)| *p == peer)
        .count()
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

/// Seed 003 steps 1–11 with IPsec: IKE to the hub before the registration, the first packets
/// via the hub (in ESP), IKE between the spokes triggered by the mapping, then ESP directly
/// between 172.16.1.1 and 172.16.2.1; the mappings expire and take the spoke-to-spoke SAs with
/// them. Not one GRE frame in clear on the wire.
#[test]
fn protected_phase2_spoke_to_spoke_then_expiry() {
    let mut s = Scenario::new("protected-phase2", 1, Example::new(2).protected());
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    let hub_nbma: IpAddr = HUB_NBMA.into();
    s.run(secs(3));
    assert!(crypto_up(&s, a, hub_nbma), "{:?}", s.events(a));
    assert!(crypto_up(&s, b, hub_nbma));
    assert!(
        s.registered(hub, 1) && s.registered(hub, 2),
        "{:?}",
        s.events(hub)
    );
    assert!(s.has(a, |k| matches!(k, EventKind::Nhrp(NhrpEvent::NhsUp { .. }))));
    // IKE came up before the registration was accepted.
    let ev = s.events(a);
    let ike_at = ev
        .iter()
        .position(|e| matches!(e.kind, EventKind::CryptoUp { .. }))
        .unwrap();
    let nhs_at = ev
        .iter()
        .position(|e| matches!(e.kind, EventKind::Nhrp(NhrpEvent::NhsUp { .. })))
        .unwrap();
    assert!(ike_at < nhs_at);
    s.route(1, 2);
    s.route(2, 1);
    s.node(a).take_trace();
    s.node(b).take_trace();

    s.ping(1, 25, 2, 37, 1);
    s.run(secs(2));
    assert_eq!(s.replies(a, 1), 1, "{:?}", s.get(a).errors());
    let first = s.echo_path(a, 1);
    assert_eq!(first[0].dst, hub_nbma, "first request via the hub");
    assert!(first[0].protected, "{first:?}");
    // The mapping triggered IKE between the spokes.
    assert!(crypto_up(&s, a, s.nbma(2)), "{:?}", s.events(a));
    assert!(crypto_up(&s, b, s.nbma(1)));
    for seq in 2..=4 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1);
        let pa = s.echo_path(a, seq);
        assert!(
            pa.iter().all(|t| t.dst == s.nbma(2) && t.protected),
            "{pa:?}"
        );
        let pb = s.echo_path(b, seq);
        assert!(pb.iter().all(|t| t.dst == s.nbma(1)), "{pb:?}");
    }
    // Exactly one IKE SA and one child SA pair between the spokes, whoever started.
    assert_eq!(ike_sas_with(&s, a, s.nbma(2)), 1);
    assert_eq!(ike_sas_with(&s, b, s.nbma(1)), 1);
    assert_eq!(child_sas_with(&s, a, s.nbma(2)), 1);
    assert_eq!(child_sas_with(&s, b, s.nbma(1)), 1);

    // Step 11: without traffic the mappings expire (holdtime 300 s) and the SAs go.
    s.run(secs(400));
    assert!(s.has(a, |k| matches!(k, EventKind::MappingRemoved { .. })));
    assert_eq!(ike_sas_with(&s, a, s.nbma(2)), 0, "{:?}", s.events(a));
    assert_eq!(ike_sas_with(&s, b, s.nbma(1)), 0);
    assert_eq!(child_sas_with(&s, a, s.nbma(2)), 0);
    // The hub's SAs stay (static maps, registrations refreshed through them).
    assert_eq!(ike_sas_with(&s, a, hub_nbma), 1);
    assert!(s.registered(hub, 1));
    let protos = protocols(&mut s);
    assert!(!protos.is_empty());
    assert!(
        protos.iter().all(|p| *p == 50 || *p == 17),
        "only ESP and IKE on the wire: {:?}",
        protos.iter().filter(|p| **p != 50 && **p != 17).count()
    );
}
