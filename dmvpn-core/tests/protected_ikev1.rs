//! Scenario tests of a DMVPN protected with IKEv1 (`crypto isakmp policy` / `crypto isakmp
//! key`, an IPsec profile without `set ikev2-profile`, as in every seed) on netsim's virtual
//! clock: Main Mode and Quick Mode to the hub before the registration, spoke-to-spoke SAs on
//! demand after the mapping and gone with it, a wrong key refused and counted, a crashed hub
//! found by DPD (`crypto isakmp keepalive`) and rejoined, a spoke behind a NAT on ESP in UDP,
//! an Aggressive Mode initiator refused. No cleartext GRE on the wire; every underlay datagram
//! goes to a pcap for the CI's tshark sweep.
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
use dmvpn_core::config::{IsakmpKeepalive, NodeConfig, Password};
use dmvpn_core::sim::example::Example;
use dmvpn_core::{EventKind, NhrpEvent};
use dmvpn_netsim::HostId;

fn crypto_up(s: &Scenario, id: HostId, peer: IpAddr) -> bool {
    s.has(
        id,
        |k| matches!(k, EventKind::CryptoUp { peer: p, .. } if p.ip() == peer),
    )
}

/// Established ISAKMP SAs (QM_IDLE) of node `id` with `peer`.
fn isakmp_sas_with(s: &Scenario, id: HostId, peer: IpAddr) -> usize {
    let now = s.now();
    s.get(id)
        .node()
        .ikev1_endpoint(0)
        .expect("an IKEv1 group")
        .status(now)
        .iter()
        .filter(|st| st.remote.ip() == peer && st.state == dmvpn_ikev1::IsakmpState::QmIdle)
        .count()
}

fn child_sas_with(s: &Scenario, id: HostId, peer: IpAddr) -> usize {
    s.get(id)
        .node()
        .child_sas(0)
        .iter()
        .filter(|(p, _, _)| *p == peer)
        .count()
}

/// IP protocol numbers of every frame on the wire.
fn protocols(s: &mut Scenario) -> Vec<u8> {
    let rec = s.sim.finish().unwrap();
    rec.frames().iter().map(|(_, f)| f[9]).collect()
}

/// Seed 003's phase 2 with IKEv1: ISAKMP and IPsec SAs to the hub before the registration,
/// the first echo via the hub in ESP, Main Mode and Quick Mode between the spokes triggered by
/// the mapping, then ESP directly between 172.16.1.1 and 172.16.2.1; without traffic the
/// mappings expire and the spoke-to-spoke SAs go with them, the hub's stay.
#[test]
fn ikev1_phase2_spoke_to_spoke_on_demand_then_expiry() {
    let mut s = Scenario::new("ikev1-phase2", 41, Example::new(2).protected_ikev1());
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
    let ev = s.events(a);
    let ike_at = ev
        .iter()
        .position(|e| matches!(e.kind, EventKind::CryptoUp { .. }))
        .unwrap();
    let nhs_at = ev
        .iter()
        .position(|e| matches!(e.kind, EventKind::Nhrp(NhrpEvent::NhsUp { .. })))
        .unwrap();
    assert!(ike_at < nhs_at, "IKE before the registration");
    assert_eq!(isakmp_sas_with(&s, a, hub_nbma), 1);
    assert_eq!(isakmp_sas_with(&s, hub, s.nbma(1)), 1);
    s.route(1, 2);
    s.route(2, 1);
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(3));
    assert_eq!(s.replies(a, 1), 1, "{:?}", s.get(a).errors());
    let first = s.echo_path(a, 1);
    assert_eq!(first[0].dst, hub_nbma, "first request via the hub");
    assert!(first[0].protected, "{first:?}");
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
    }
    // One ISAKMP SA and one IPsec SA pair between the spokes, whoever started.
    assert_eq!(isakmp_sas_with(&s, a, s.nbma(2)), 1);
    assert_eq!(isakmp_sas_with(&s, b, s.nbma(1)), 1);
    assert_eq!(child_sas_with(&s, a, s.nbma(2)), 1);
    assert_eq!(child_sas_with(&s, b, s.nbma(1)), 1);
    // `show crypto isakmp sa` lists them: A initiated to the hub (dst the hub), and the
    // spoke-to-spoke SA, QM_IDLE.
    let now = s.now();
    let text = s.get(a).node().show_crypto_isakmp_sa(now);
    let hub_row = format!("{:<16}{:<16}QM_IDLE", HUB_NBMA, s.nbma(1));
    assert!(text.contains(&hub_row), "{text}");
    assert_eq!(text.matches("QM_IDLE").count(), 2, "{text}");

    s.run(secs(400));
    assert!(s.has(a, |k| matches!(k, EventKind::MappingRemoved { .. })));
    assert_eq!(isakmp_sas_with(&s, a, s.nbma(2)), 0, "{:?}", s.events(a));
    assert_eq!(isakmp_sas_with(&s, b, s.nbma(1)), 0);
    assert_eq!(child_sas_with(&s, a, s.nbma(2)), 0);
    assert_eq!(isakmp_sas_with(&s, a, hub_nbma), 1);
    assert!(s.registered(hub, 1));
    // Nothing but ESP and IKE on the wire.
    let protos = protocols(&mut s);
    assert!(
        protos.iter().all(|p| *p == 50 || *p == 17),
        "only ESP and IKE on the wire"
    );
}

/// A spoke with the wrong key: Main Mode message 5 does not verify at the hub, which counts
/// it and never registers the spoke; the other spokes are unaffected.
#[test]
fn ikev1_a_wrong_key_is_refused_and_counted() {
    let mut s = network(
        "ikev1-wrong-key",
        42,
        Example::new(3).protected_ikev1(),
        |i, cfg| {
            if i == 3 {
                cfg.crypto.isakmp.keys[0].key = Password::new("wrong-key");
            }
        },
    );
    let hub = s.hub();
    s.run(secs(30));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    assert!(!s.registered(hub, 3));
    let counters = s.get(hub).node().ikev1_endpoint(0).unwrap().counters();
    assert!(counters.auth_failures >= 1, "{counters:?}");
    assert!(s.has(
        hub,
        |k| matches!(k, EventKind::CryptoRefused { peer, .. } if peer.ip() == s.nbma(3))
    ));
    assert!(!crypto_up(&s, s.spoke(3), HUB_NBMA.into()));
    s.route(1, 2);
    s.route(2, 1);
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(3));
    assert_eq!(s.replies(s.spoke(1), 1), 1);
    s.finish();
}

/// `crypto isakmp keepalive 10 2`: the hub crashes, the spoke's R-U-THEREs go unanswered and
/// it declares the hub dead (its NHS down) well before the registration would have timed
/// out; the hub comes back with empty tables and the spoke gets IKE and its registration
/// back.
#[test]
fn ikev1_hub_crash_found_by_dpd_and_rejoined() {
    let dpd = |_: u32, cfg: &mut NodeConfig| {
        cfg.crypto.isakmp.keepalive = Some(IsakmpKeepalive {
            interval: 10,
            retry: 2,
            mode: Default::default(),
        });
    };
    let mut s = network("ikev1-dpd", 43, Example::new(1).protected_ikev1(), dpd);
    let (hub, a) = (s.hub(), s.spoke(1));
    s.run(secs(3));
    assert!(s.registered(hub, 1));
    s.sim.crash(hub).unwrap();
    let crash_at = s.now();
    s.run(secs(60));
    let dead_at = s
        .get(a)
        .events()
        .iter()
        .find(|(_, e)| matches!(e.kind, EventKind::CryptoPeerDead { .. }))
        .map(|(t, _)| *t)
        .unwrap_or_else(|| panic!("no DPD: {:?}", s.events(a)));
    assert!(dead_at.duration_since(crash_at) <= secs(30));
    assert!(s.has(a, |k| matches!(
        k,
        EventKind::Nhrp(NhrpEvent::NhsDown { .. })
    )));
    let mut hub_cfg = s.ex.hub();
    dpd(0, &mut hub_cfg);
    let entropy = s.entropy();
    let fresh = dmvpn_core::sim::SimNode::new(s.now(), hub_cfg, entropy).unwrap();
    s.sim.restart(hub, fresh);
    s.run(secs(200));
    assert!(s.registered(hub, 1), "{:?}", s.events(a));
    assert_eq!(isakmp_sas_with(&s, a, HUB_NBMA.into()), 1);
    s.finish();
}

/// A spoke behind a NAT box: NAT-D finds it, Main Mode floats to 4500, the IPsec SAs are
/// UDP-encapsulated transport mode, ESP goes in UDP both ways and the registration carries
/// the post-NAT address; never raw ESP or GRE from the NAT's address.
#[test]
fn ikev1_a_spoke_behind_nat_uses_nat_t() {
    let ex = Example::new(2).protected_ikev1();
    let mut s = Scenario::empty("ikev1-nat", 44, ex.clone());
    s.sim.network_mut().add_nat(dmvpn_netsim::NatConfig {
        public: vec![ip("198.51.100.1")],
        inside: vec![ip("172.16.1.1")],
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
    let a = s.spoke(1);
    s.run(secs(3));
    assert!(
        s.has(
            a,
            |k| matches!(k, EventKind::CryptoUp { peer, nat: true, .. } if peer.port() == 4500)
        ),
        "{:?}",
        s.events(a)
    );
    assert!(s.has(hub, |k| matches!(k, EventKind::PeerRegistered { nbma, nat: true, .. } if *nbma == ip("198.51.100.1"))));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=3 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(2));
        assert_eq!(s.replies(a, seq), 1, "{:?}", s.get(a).errors());
    }
    let rec = s.sim.finish().unwrap();
    let a_frames: Vec<&Vec<u8>> = rec
        .frames()
        .iter()
        .map(|(_, f)| f)
        .filter(|f| f[12..16] == [198, 51, 100, 1])
        .collect();
    assert!(!a_frames.is_empty());
    assert!(
        a_frames.iter().all(|f| f[9] == 17),
        "A sent a non-UDP frame"
    );
    let esp_in_udp = a_frames
        .iter()
        .filter(|f| f[20..22] == [0x11, 0x94] && f.len() > 32 && f[28..32] != [0, 0, 0, 0])
        .count();
    assert!(esp_in_udp >= 3, "{esp_in_udp}");
}

/// An Aggressive Mode initiator (a pre-shared key in Aggressive Mode hands an eavesdropper
/// what an offline dictionary attack needs) gets no answer from the hub: refused and counted;
/// the hub's spokes are unaffected.
#[test]
fn ikev1_an_aggressive_mode_initiator_is_refused() {
    use dmvpn_ikev1::wire::{
        AuthMethod, Body, EncryptionAlgorithm, ExchangeType, Flags, GroupDescription,
        HashAlgorithm, IdPayload, IkeAttributes, Lifetime, Message, Payload, Proposal, ProtocolId,
        SaPayload, Transform,
    };
    let mut s = Scenario::new("ikev1-aggressive", 45, Example::new(1).protected_ikev1());
    let hub = s.hub();
    s.run(secs(3));
    assert!(s.registered(hub, 1));
    let attrs = IkeAttributes {
        encryption: Some(EncryptionAlgorithm::AES_CBC),
        key_length: Some(256),
        hash: Some(HashAlgorithm::SHA2_256),
        group: Some(GroupDescription::MODP_2048),
        auth_method: Some(AuthMethod::PRE_SHARED_KEY),
        lifetimes: vec![Lifetime::seconds(86_400)],
        ..IkeAttributes::default()
    };
    let am1 = Message {
        cookie_i: 0xa66e_551e_0000_0001,
        cookie_r: 0,
        minor_version: 0,
        exchange_type: ExchangeType::AGGRESSIVE,
        flags: Flags::NONE,
        message_id: 0,
        body: Body::Clear(vec![
            Payload::Sa(SaPayload::ipsec(vec![Proposal {
                number: 1,
                protocol_id: ProtocolId::ISAKMP,
                spi: vec![],
                transforms: vec![Transform::ike(1, &attrs)],
            }])),
            Payload::Ke(vec![2; 256]),
            Payload::Nonce(vec![3; 32]),
            Payload::Id(IdPayload::ip(ip("172.16.9.9"))),
        ]),
    }
    .to_vec()
    .unwrap();
    let now = s.now();
    let hub_addr = std::net::SocketAddr::new(HUB_NBMA.into(), 500);
    let attacker = std::net::SocketAddr::new(ip("172.16.9.9"), 500);
    let node = s.node(hub).node_mut();
    let r = node.handle_input(dmvpn_core::Input::Udp {
        now,
        src: attacker,
        dst: hub_addr,
        payload: &am1,
    });
    assert!(r.is_err(), "{r:?}");
    let counters = s.get(hub).node().ikev1_endpoint(0).unwrap().counters();
    assert_eq!(counters.aggressive_refused, 1);
    // Nothing goes back to the would-be initiator; the refusal is reported.
    let mut answers = 0;
    let mut refused = false;
    loop {
        match s.node(hub).node_mut().poll_output() {
            dmvpn_core::Output::Timeout(_) => break,
            dmvpn_core::Output::Transmit(t) => answers += usize::from(t.dst == attacker.ip()),
            dmvpn_core::Output::Event(e) => {
                refused |=
                    matches!(e.kind, EventKind::CryptoRefused { peer, .. } if peer == attacker);
            }
            _ => {}
        }
    }
    assert_eq!(answers, 0, "an answer to the aggressive initiator");
    assert!(refused);
    s.route(1, 1);
    s.run(secs(5));
    assert!(s.registered(hub, 1));
    s.finish();
}

use std::time::Duration;

/// `set security-association lifetime seconds 120` (seed 004) and `lifetime 600` in the
/// `crypto isakmp policy`: under a continuous ping the IPsec SAs are rekeyed by Quick Mode
/// again and again, and the ISAKMP SAs by new Main Modes that take the IPsec SAs over, with
/// no echo lost.
#[test]
fn ikev1_quick_mode_and_main_mode_rekeys_under_a_continuous_ping_without_loss() {
    let mut ex = Example::new(2).protected_ikev1();
    ex.holdtime = 900;
    let mut s = network("ikev1-rekeys", 46, ex, |_, cfg| {
        cfg.crypto.ipsec_profiles[0].lifetime_seconds = Some(120);
        cfg.crypto.isakmp.policies[0].lifetime_seconds = 600;
    });
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    stream(&mut s, 1, 2, 1, 800, Duration::from_millis(1000), 56);
    s.run(secs(805));
    assert_eq!(s.get(a).replies().len(), 800, "{:?}", s.get(a).errors());
    assert!(rekeys(&s, a, s.nbma(2)) >= 5, "{:?}", s.events(a));
    assert!(rekeys(&s, a, HUB_NBMA.into()) >= 5);
    assert!(rekeys(&s, hub, s.nbma(1)) >= 5);
    let established = |id: HostId| {
        s.get(id)
            .node()
            .ikev1_endpoint(0)
            .unwrap()
            .counters()
            .isakmp_sas_established
    };
    // The hub's and the spoke-to-spoke ISAKMP SAs were each replaced at least once.
    assert!(established(a) >= 4, "{}", established(a));
    assert_eq!(isakmp_sas_with(&s, a, s.nbma(2)), 1);
    assert_eq!(isakmp_sas_with(&s, b, s.nbma(1)), 1);
    assert_eq!(isakmp_sas_with(&s, a, HUB_NBMA.into()), 1);
    // Old IPsec SAs do not pile up.
    assert!(child_sas_with(&s, a, s.nbma(2)) <= 2);
    assert!(child_sas_with(&s, hub, s.nbma(1)) <= 2);
    s.finish();
}

/// Seed 002's NAT-Transparency Aware DMVPN with IKEv1: each spoke behind its own NAPT box
/// (port-dependent filtering, UDP only); both register with their post-NAT addresses (NAT-D,
/// NAT-T on 4500), and the spoke-to-spoke Main Mode and Quick Mode, started from port 4500 by
/// both at once, punch through both boxes: the echoes then go directly between the public
/// addresses in ESP in UDP. Nothing but UDP crosses the boxes.
#[test]
fn ikev1_spokes_behind_two_napt_boxes_go_direct_in_udp() {
    use dmvpn_netsim::{Filtering, NaptConfig};
    let (pub1, pub2) = ("198.51.100.1", "203.0.113.2");
    let ex = Example::new(2).protected_ikev1();
    let mut s = Scenario::empty("ikev1-napt", 47, ex.clone());
    let mut nats = Vec::new();
    for (i, public) in [(1, pub1), (2, pub2)] {
        let mut nat = NaptConfig::new(ip(public), vec![ex.spoke_nbma(i).into()]);
        nat.filtering = Filtering::AddressAndPortDependent;
        nats.push(s.sim.network_mut().add_napt(nat));
    }
    s.add_example_nodes();
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(3));
    for (i, public) in [(1, pub1), (2, pub2)] {
        assert!(s.registered(hub, i), "spoke {i}: {:?}", s.events(hub));
        assert!(s.has(hub, |k| matches!(k, EventKind::PeerRegistered { nbma, nat: true, .. } if *nbma == ip(public))));
    }
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=10 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "seq {seq}: {:?}", s.get(a).errors());
    }
    for (id, other) in [(a, pub2), (b, pub1)] {
        let path = s.echo_path(id, 10);
        assert!(
            !path.is_empty() && path.iter().all(|t| t.dst == ip(other) && t.protected),
            "{path:?}"
        );
    }
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::CryptoUp { peer, nat: true, .. } if peer.ip() == ip(pub2))
    ));
    for n in &nats {
        let st = s.sim.network().nat_stats(*n).unwrap();
        assert_eq!(st.protocol_dropped, 0, "{st:?}");
    }
    s.finish();
}

/// `set security-association lifetime kilobytes 2560` with IKEv1: the Quick Mode offers the
/// kilobyte lifetime, ESP's soft limit asks for the rekey, and the spoke-to-spoke IPsec SAs
/// are rekeyed by volume under a stream of 1300-byte echoes, none lost.
#[test]
fn ikev1_ipsec_sas_rekey_by_kilobytes_without_loss() {
    let mut s = network(
        "ikev1-rekey-kilobytes",
        48,
        Example::new(2).protected_ikev1(),
        |_, cfg| {
            cfg.crypto.ipsec_profiles[0].lifetime_kilobytes = Some(2560);
        },
    );
    let a = s.spoke(1);
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    stream(&mut s, 1, 2, 1, 4000, Duration::from_millis(20), 1300);
    s.run(secs(85));
    assert_eq!(s.get(a).replies().len(), 4000, "{:?}", s.get(a).errors());
    assert!(rekeys(&s, a, s.nbma(2)) >= 2, "{:?}", s.events(a));
    s.finish();
}
