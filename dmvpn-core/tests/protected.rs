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

fn stats(s: &Scenario, id: HostId) -> dmvpn_core::CryptoStats {
    s.get(id).node().crypto_stats()[0].1
}

use std::time::Duration;

/// Phase 2 with the hub forwarding the Resolution Request to spoke B (IOS's behaviour): B
/// learns A from the request and answers A directly; the answer waits for the A–B SA (never
/// in clear), which both resolved at once: one IKE SA remains.
#[test]
fn protected_hub_forwarding_resolution_answered_through_the_new_sa() {
    let mut ex = Example::new(2).protected();
    ex.hub_resolution = dmvpn_core::config::HubResolution::Forward;
    let mut s = Scenario::new("protected-forward", 11, ex);
    let (a, b) = (s.spoke(1), s.spoke(2));
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=5 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "{:?}", s.get(a).errors());
    }
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == s.nbma(2))
    ));
    assert!(s.has(
        b,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == s.nbma(1))
    ));
    // B's Resolution Reply went straight to A, in ESP.
    let b_trace = s.node(b).take_trace();
    assert!(
        b_trace
            .iter()
            .any(|t| t.what == "NHRP Resolution Reply" && t.dst == s.nbma(1) && t.protected),
        "{b_trace:?}"
    );
    assert_eq!(ike_sas_with(&s, a, s.nbma(2)), 1);
    assert_eq!(ike_sas_with(&s, b, s.nbma(1)), 1);
    s.finish();
}

/// A cleartext GRE packet from a protected peer (here: spoke A's address, a valid NHRP
/// registration in clear) is dropped and counted, and changes nothing; ESP with a bad ICV or
/// replayed is dropped and counted too.
#[test]
fn cleartext_gre_and_bad_esp_are_dropped_and_counted() {
    let mut s = Scenario::new("protected-cleartext", 12, Example::new(1).protected());
    let hub = s.hub();
    s.run(secs(3));
    assert!(s.registered(hub, 1));
    let now = s.now();
    let regs_before = s.get(hub).node().nhrp_server(0).unwrap().stats();
    // A GRE packet (protocol type NHRP) in clear from spoke A's NBMA address.
    let gre = [0x20u8, 0x00, 0x20, 0x01, 0x00, 0x01, 0x86, 0xa0, 0, 1, 2, 3];
    let a_nbma = s.nbma(1);
    let e = s
        .node(hub)
        .node_mut()
        .handle_input(dmvpn_core::Input::Underlay {
            now,
            src: a_nbma,
            dst: HUB_NBMA.into(),
            payload: &gre,
        });
    assert!(matches!(e, Err(dmvpn_core::Error::Cleartext(_))), "{e:?}");
    assert_eq!(stats(&s, hub).cleartext_dropped, 1);
    assert_eq!(
        s.get(hub).node().nhrp_server(0).unwrap().stats(),
        regs_before
    );
    // ESP with a known SPI and a broken ICV, and a replay of a real packet.
    let (_, in_spi, _) = s.get(hub).node().child_sas(0)[0];
    let mut esp = in_spi.to_be_bytes().to_vec();
    esp.extend_from_slice(&[0, 0, 0, 1]);
    esp.extend_from_slice(&[0u8; 64]);
    let e = s.node(hub).node_mut().handle_input(dmvpn_core::Input::Esp {
        now,
        src: a_nbma,
        dst: HUB_NBMA.into(),
        payload: &esp,
    });
    assert!(matches!(e, Err(dmvpn_core::Error::Esp(_))), "{e:?}");
    assert_eq!(stats(&s, hub).esp_dropped, 1);
    // Neither the pre-shared key nor any SA key shows in the node's Debug output.
    let debug = format!("{:?}", s.get(hub).node());
    assert!(!debug.contains("cisco123"));
    s.run(secs(1));
    assert!(s.registered(hub, 1));
    s.finish();
}

/// `set security-association lifetime seconds 120` (seed 004): the child SAs are rekeyed
/// before they expire, again and again, under a continuous ping, with no echo lost.
#[test]
fn child_sas_rekey_by_seconds_under_a_continuous_ping_without_loss() {
    let mut ex = Example::new(2).protected();
    ex.holdtime = 600;
    let mut s = network("protected-rekey-seconds", 13, ex, |_, cfg| {
        cfg.crypto.ipsec_profiles[0].lifetime_seconds = Some(120);
        // The IKE SAs too (IOS's shortest IKEv2 lifetime), under the same ping.
        cfg.crypto.ikev2.lifetime_seconds = 120;
    });
    let (hub, a) = (s.hub(), s.spoke(1));
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    stream(&mut s, 1, 2, 1, 500, Duration::from_millis(1000), 56);
    s.run(secs(505));
    let replies = s.get(a).replies().len();
    assert_eq!(replies, 500, "{:?}", s.get(a).errors());
    assert!(rekeys(&s, a, s.nbma(2)) >= 3, "{:?}", s.events(a));
    assert!(rekeys(&s, a, HUB_NBMA.into()) >= 3);
    assert!(rekeys(&s, hub, s.nbma(1)) >= 3);
    let ike_rekeys = |id| {
        s.get(id)
            .node()
            .ike_endpoint(0)
            .unwrap()
            .counters()
            .ike_rekeys
    };
    assert!(
        ike_rekeys(a) + ike_rekeys(s.spoke(2)) >= 3,
        "IKE SAs rekeyed"
    );
    assert_eq!(ike_sas_with(&s, a, s.nbma(2)), 1);
    // Old SAs are deleted, not piled up: one child pair per peer (two briefly around a
    // rekey).
    assert!(child_sas_with(&s, a, s.nbma(2)) <= 2);
    s.finish();
}

/// `set security-association lifetime kilobytes 2560`: the child SAs between the spokes are
/// rekeyed by volume under a continuous stream of 1300-byte echoes, with no echo lost.
#[test]
fn child_sas_rekey_by_kilobytes_under_a_continuous_ping_without_loss() {
    let mut s = network(
        "protected-rekey-kilobytes",
        14,
        Example::new(2).protected(),
        |_, cfg| {
            cfg.crypto.ipsec_profiles[0].lifetime_kilobytes = Some(2560);
        },
    );
    let a = s.spoke(1);
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    // 4000 echoes of 1300 bytes, 50 a second: about 5.3 MB each way.
    stream(&mut s, 1, 2, 1, 4000, Duration::from_millis(20), 1300);
    s.run(secs(85));
    assert_eq!(s.get(a).replies().len(), 4000, "{:?}", s.get(a).errors());
    assert!(rekeys(&s, a, s.nbma(2)) >= 2, "{:?}", s.events(a));
    s.finish();
}

/// A spoke with the wrong pre-shared key is refused (and counted) by the hub; it never
/// registers; the other spokes are unaffected.
#[test]
fn a_spoke_with_a_wrong_psk_is_refused_and_counted_the_others_unaffected() {
    let mut s = network(
        "protected-wrong-psk",
        15,
        Example::new(3).protected(),
        |i, cfg| {
            if i == 3 {
                cfg.crypto.ikev2.keyring[0].pre_shared_key =
                    dmvpn_core::config::Password::new("wrong-key");
            }
        },
    );
    let hub = s.hub();
    s.run(secs(30));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    assert!(!s.registered(hub, 3));
    assert!(stats(&s, hub).refused >= 1, "{:?}", stats(&s, hub));
    assert!(s.has(
        hub,
        |k| matches!(k, EventKind::CryptoRefused { peer, .. } if peer.ip() == s.nbma(3))
    ));
    let c = s.spoke(3);
    assert!(s.has(c, |k| matches!(k, EventKind::CryptoFailed { .. })));
    assert!(!crypto_up(&s, c, HUB_NBMA.into()));
    s.route(1, 2);
    s.route(2, 1);
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(2));
    assert_eq!(s.replies(s.spoke(1), 1), 1);
    s.finish();
}

/// `crypto call admission limit` on the hub: with at most 2 IKE SAs, the third spoke is
/// refused (counted), and gets in once another leaves.
#[test]
fn call_admission_limits_ike_sas_on_the_hub() {
    let mut s = network(
        "protected-cac",
        16,
        Example::new(3).protected(),
        |i, cfg| {
            if i == 0 {
                cfg.crypto.call_admission.max_sa = Some(2);
            }
        },
    );
    let hub = s.hub();
    s.run(secs(20));
    let registered: Vec<u32> = (1..=3).filter(|i| s.registered(hub, *i)).collect();
    assert_eq!(registered.len(), 2, "{registered:?}");
    let cac = s
        .get(hub)
        .node()
        .ike_endpoint(0)
        .unwrap()
        .counters()
        .cac_rejected;
    assert!(cac >= 1);
    let out = (1..=3).find(|i| !registered.contains(i)).unwrap();
    let leaving = registered[0];
    let id = s.spoke(leaving);
    let now = s.now();
    s.node(id).node_mut().shutdown(now);
    s.sim.flush();
    s.run(secs(400));
    assert!(s.registered(hub, out), "{:?}", s.events(s.spoke(out)));
    s.finish();
}

/// `crypto ikev2 dpd 10 2`: a hub that stops answering is declared dead; the spoke's NHS goes
/// down; with a second hub the spoke keeps working through it; when the hub returns the spoke
/// gets IKE and its registration back.
#[test]
fn hub_liveness_failure_with_one_and_with_two_hubs() {
    let dpd = |_: u32, cfg: &mut dmvpn_core::config::NodeConfig| {
        cfg.crypto.ikev2.dpd = Some(dmvpn_core::config::Dpd {
            interval: 10,
            retry: 2,
        });
    };
    // One hub.
    let mut s = network(
        "protected-dpd-one-hub",
        17,
        Example::new(1).protected(),
        dpd,
    );
    let (hub, a) = (s.hub(), s.spoke(1));
    s.run(secs(3));
    assert!(s.registered(hub, 1));
    s.sim.crash(hub).unwrap();
    let crash_at = s.now();
    s.run(secs(60));
    assert!(
        s.has(a, |k| matches!(k, EventKind::CryptoPeerDead { .. })),
        "{:?}",
        s.events(a)
    );
    assert!(s.has(a, |k| matches!(k, EventKind::CryptoDown { .. })));
    assert!(s.has(a, |k| matches!(
        k,
        EventKind::Nhrp(NhrpEvent::NhsDown { .. })
    )));
    // Down within the DPD interval and the retries (10 s idle, 6 tries 2 s apart), not after
    // the 100 s registration interval.
    let dead_at = s
        .get(a)
        .events()
        .iter()
        .find(|(_, e)| matches!(e.kind, EventKind::CryptoPeerDead { .. }))
        .map(|(t, _)| *t)
        .unwrap();
    assert!(dead_at.duration_since(crash_at) <= secs(30));
    // The hub returns with empty tables: the spoke's retries get IKE and the registration
    // back.
    let mut hub_cfg = s.ex.hub();
    dpd(0, &mut hub_cfg);
    let entropy = s.entropy();
    let fresh = dmvpn_core::sim::SimNode::new(s.now(), hub_cfg, entropy).unwrap();
    s.sim.restart(hub, fresh);
    s.run(secs(200));
    assert!(s.registered(hub, 1), "{:?}", s.events(a));
    assert_eq!(ike_sas_with(&s, a, HUB_NBMA.into()), 1);
    s.finish();

    // Two hubs: hub1 dies, DPD takes its NHS down, the spoke keeps working through hub2.
    use dmvpn_core::config::{NhsConfig, StaticMap};
    let hub2_nbma = ip("172.17.0.2");
    let two = |i: u32, cfg: &mut dmvpn_core::config::NodeConfig| {
        dpd(i, cfg);
        if i > 0 {
            let n = &mut cfg.tunnels[0].nhrp;
            n.nhs.push(NhsConfig {
                address: ip("10.0.0.2"),
                nbma: None,
            });
            n.maps.push(StaticMap {
                address: ip("10.0.0.2"),
                nbma: hub2_nbma,
            });
            n.map_multicast.push(hub2_nbma);
        }
    };
    let mut s = network(
        "protected-dpd-two-hubs",
        18,
        Example::new(2).protected(),
        two,
    );
    let mut hub2_cfg = s.ex.hub();
    dpd(0, &mut hub2_cfg);
    hub2_cfg.hostname = "hub2".into();
    hub2_cfg.tunnels[0].address = "10.0.0.2/24".parse().unwrap();
    hub2_cfg.tunnels[0].source = hub2_nbma;
    let hub2 = s.add(hub2_cfg);
    for (net, via) in s.ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub2).add_route(net, via).unwrap();
    }
    let (hub1, a) = (s.hub(), s.spoke(1));
    s.run(secs(3));
    assert!(crypto_up(&s, a, hub2_nbma));
    s.route(1, 2);
    s.route(2, 1);
    s.sim.crash(hub1).unwrap();
    let crash_at = s.now();
    s.run(secs(40));
    let down = s.get(a).events().iter().any(|(t, e)| {
        *t > crash_at
            && matches!(e.kind, EventKind::Nhrp(NhrpEvent::NhsDown { nhs }) if nhs == ip("10.0.0.1"))
    });
    assert!(down, "{:?}", s.events(a));
    assert!(!s.has(a, |k| matches!(k, EventKind::Nhrp(NhrpEvent::AllNhsDown))));
    for seq in 1..=3 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(2));
        assert_eq!(s.replies(a, seq), 1, "{:?}", s.get(a).errors());
    }
    s.finish();
}

/// A protected spoke behind a NAT box: IKE detects the NAT and floats to port 4500, ESP goes
/// in UDP (RFC 3948) both ways, the registration carries the post-NAT address; traffic with
/// another spoke runs through the hub (spoke-to-spoke through NAT is the NAT-T issue).
#[test]
fn a_protected_spoke_behind_nat_uses_esp_in_udp_to_the_hub() {
    let ex = Example::new(2).protected();
    let mut s = Scenario::empty("protected-nat-hub", 19, ex.clone());
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
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::CryptoUp { peer, nat: true, .. } if peer.port() == 4500)
    ));
    assert!(s.has(hub, |k| matches!(k, EventKind::PeerRegistered { nbma, nat: true, .. } if *nbma == ip("198.51.100.1"))));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=3 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "{:?}", s.get(a).errors());
    }
    let rec = s.sim.finish().unwrap();
    let from_a_public = |f: &[u8]| f[12..16] == [198, 51, 100, 1];
    let a_frames: Vec<&Vec<u8>> = rec
        .frames()
        .iter()
        .map(|(_, f)| f)
        .filter(|f| from_a_public(f))
        .collect();
    assert!(!a_frames.is_empty());
    // From A's NAT address: UDP only (IKE on 500, then IKE and ESP on 4500), never ESP or GRE.
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

/// `mode tunnel` in the transform set: ESP carries GRE-in-IP between the two NBMA addresses
/// (20 bytes more per packet); registration, resolution and the direct spoke-to-spoke path work
/// the same, and nothing goes in clear.
#[test]
fn tunnel_mode_transform_sets_work_end_to_end() {
    let mut s = network(
        "protected-tunnel-mode",
        20,
        Example::new(2).protected(),
        |_, cfg| {
            cfg.crypto.transform_sets[0].mode = dmvpn_core::config::IpsecMode::Tunnel;
        },
    );
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(3));
    assert!(
        s.registered(hub, 1) && s.registered(hub, 2),
        "{:?}",
        s.events(a)
    );
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=4 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "{:?}", s.get(a).errors());
    }
    let now = s.now();
    let st = s.get(a).node().ike_endpoint(0).unwrap().status(now);
    assert!(
        st.iter()
            .all(|i| i.children.iter().all(|c| c.mode == dmvpn_esp::Mode::Tunnel))
    );
    assert!(crypto_up(&s, b, s.nbma(1)));
    s.node(a).take_trace();
    s.ping(1, 25, 2, 37, 9);
    s.run(secs(1));
    let path = s.echo_path(a, 9);
    assert!(
        path.iter().all(|t| t.dst == s.nbma(2) && t.protected),
        "{path:?}"
    );
    s.finish();
}

/// Both spokes start talking at the same instant (each resolves the other at once): both start
/// IKE, and they end with exactly one IKE SA and one child SA pair between them, stable over
/// further traffic.
#[test]
fn simultaneous_mutual_resolution_ends_with_one_ike_sa() {
    let mut s = Scenario::new("protected-simultaneous", 21, Example::new(2).protected());
    let (a, b) = (s.spoke(1), s.spoke(2));
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    let now = s.now();
    let (pa, pb) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    s.node(a).ping(now, pa, pb, 1, 1);
    s.node(b).ping(now, pb, pa, 2, 1);
    s.sim.flush();
    s.run(secs(3));
    // Both initiated (each has a CryptoUp as initiator towards the other).
    for (x, peer) in [(a, s.nbma(2)), (b, s.nbma(1))] {
        assert!(s.has(
            x,
            |k| matches!(k, EventKind::CryptoUp { peer: p, initiator: true, .. } if p.ip() == peer)
        ));
    }
    for seq in 2..=10 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1);
    }
    assert_eq!(ike_sas_with(&s, a, s.nbma(2)), 1);
    assert_eq!(ike_sas_with(&s, b, s.nbma(1)), 1);
    assert_eq!(child_sas_with(&s, a, s.nbma(2)), 1);
    assert_eq!(child_sas_with(&s, b, s.nbma(1)), 1);
    // The same SA on both sides: A's inbound SPI is B's outbound one.
    let ca = s.get(a).node().child_sas(0);
    let cb = s.get(b).node().child_sas(0);
    let (_, a_in, a_out) = ca.iter().find(|(p, _, _)| *p == s.nbma(2)).unwrap();
    let (_, b_in, b_out) = cb.iter().find(|(p, _, _)| *p == s.nbma(1)).unwrap();
    assert_eq!((a_in, a_out), (b_out, b_in));
    let dup = stats(&s, a).duplicates_closed + stats(&s, b).duplicates_closed;
    assert_eq!(dup, 1, "one side closed the duplicate it started");
    s.finish();
}
