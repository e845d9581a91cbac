//! The IOS crypto status commands on the protected example network (netsim): `show crypto
//! ikev2 sa`, `show crypto ipsec sa`, `show crypto session`, `show dmvpn detail`, and the crypto
//! state in [`dmvpn_core::PeerStatus`]. They name the right peers and SPIs, their counters grow
//! with traffic, their lifetimes fall with time, and two identical runs print identical text.
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
use dmvpn_core::SessionState;
use dmvpn_core::sim::example::Example;

/// The four outputs of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shows {
    ikev2: String,
    ipsec: String,
    session: String,
    detail: String,
}

fn shows(s: &Scenario, id: dmvpn_netsim::HostId) -> Shows {
    let (n, now) = (s.get(id).node(), s.now());
    Shows {
        ikev2: n.show_crypto_ikev2_sa(now),
        ipsec: n.show_crypto_ipsec_sa(now),
        session: n.show_crypto_session(now),
        detail: n.show_dmvpn_detail(now),
    }
}

/// The number after `name` (`#pkts encaps`, `#send errors`, …) of the flow to `peer` in `show crypto ipsec sa`.
fn counter(ipsec: &str, peer: IpAddr, name: &str) -> u64 {
    let flow = ipsec
        .split("protected vrf")
        .find(|f| f.contains(&format!("current_peer {peer} port")))
        .unwrap_or_else(|| panic!("no flow to {peer} in\n{ipsec}"));
    let at = flow.find(name).unwrap() + name.len();
    flow[at..]
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The `(k/sec)` pairs of `show crypto ipsec sa`, in order.
fn lifetimes(ipsec: &str) -> Vec<(u64, u64)> {
    ipsec
        .lines()
        .filter_map(|l| l.split_once("remaining key lifetime (k/sec): ("))
        .map(|(_, r)| {
            let (k, sec) = r.trim_end_matches(')').split_once('/').unwrap();
            (k.parse().unwrap(), sec.parse().unwrap())
        })
        .collect()
}

/// The example's hub and two spokes, protected, registered, and spoke A pinging spoke B's LAN
/// until the spoke-to-spoke SA carries the echoes.
fn network(name: &'static str) -> Scenario {
    let mut s = Scenario::new(name, 41, Example::new(2).protected());
    s.run(secs(3));
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=4 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
    }
    s
}

#[test]
fn show_crypto_names_the_peers_spis_and_counters_of_a_protected_spoke_and_hub() {
    let mut s = network("show-crypto");
    let (hub, a) = (s.hub(), s.spoke(1));
    let hub_nbma: IpAddr = HUB_NBMA.into();
    let (a_nbma, b_nbma) = (s.nbma(1), s.nbma(2));
    assert_eq!(s.replies(a, 4), 1, "{:?}", s.get(a).errors());
    let before = shows(&s, a);
    println!("--- spoke A: show crypto ikev2 sa\n{}", before.ikev2);
    println!("--- spoke A: show crypto ipsec sa\n{}", before.ipsec);
    println!("--- spoke A: show crypto session\n{}", before.session);
    println!("--- spoke A: show dmvpn detail\n{}", before.detail);
    println!("--- hub: show crypto session\n{}", shows(&s, hub).session);

    // show crypto ikev2 sa: one READY SA to the hub and one to spoke B, with the suite.
    let ready: Vec<&str> = before
        .ikev2
        .lines()
        .filter(|l| l.trim_end().ends_with("READY"))
        .collect();
    assert_eq!(ready.len(), 2, "{}", before.ikev2);
    for peer in [hub_nbma, b_nbma] {
        assert!(
            ready.iter().any(|l| l.contains(&format!("{peer}/500"))),
            "{}",
            before.ikev2
        );
    }
    assert!(before.ikev2.contains(" IPv4 Crypto IKEv2  SA"));
    assert!(before.ikev2.contains("Auth sign: PSK, Auth verify: PSK"));
    assert!(before.ikev2.contains("Life/Active Time: 86400/"));

    // show crypto ipsec sa: every child SA of the node, its SPIs in hex and decimal.
    let children = s.get(a).node().child_sas(0);
    assert!(children.len() >= 2, "{children:?}");
    for (peer, inbound, outbound) in &children {
        assert!(*peer == hub_nbma || *peer == b_nbma);
        for spi in [inbound, outbound] {
            assert!(
                before.ipsec.contains(&format!("spi: 0x{spi:X}({spi})")),
                "{spi:#x} missing\n{}",
                before.ipsec
            );
        }
    }
    assert!(before.ipsec.contains(&format!(
        "local  ident (addr/mask/prot/port): ({a_nbma}/255.255.255.255/47/0)"
    )));
    assert!(before.ipsec.contains(&format!(
        "remote ident (addr/mask/prot/port): ({b_nbma}/255.255.255.255/47/0)"
    )));
    assert!(before.ipsec.contains(&format!(
        "local crypto endpt.: {a_nbma}, remote crypto endpt.: {hub_nbma}"
    )));
    assert!(before.ipsec.contains("in use settings ={Transport, }"));
    assert!(
        before
            .ipsec
            .contains("transform: esp-256-aes esp-sha256-hmac ,")
    );
    let current = s.get(a).node().crypto_status(s.now())[0]
        .peers
        .iter()
        .find(|p| p.peer == b_nbma)
        .unwrap()
        .current_outbound_spi
        .unwrap();
    assert!(
        before
            .ipsec
            .contains(&format!("current outbound spi: 0x{current:X}({current})"))
    );

    // show crypto session: both peers UP-ACTIVE with a GRE flow and two SAs.
    for peer in [hub_nbma, b_nbma] {
        assert!(
            before.session.contains(&format!(
                "Session status: UP-ACTIVE\nPeer: {peer} port 500\n  IKEv2 SA: local {a_nbma}/500 remote {peer}/500 Active\n  IPSEC FLOW: permit 47 host {a_nbma} host {peer}\n        Active SAs: 2, origin: crypto map"
            )),
            "{}",
            before.session
        );
    }
    // The hub: both spokes, each on Tunnel0, UP-ACTIVE.
    let hub_session = shows(&s, hub).session;
    for peer in [a_nbma, b_nbma] {
        assert!(
            hub_session.contains(&format!("Session status: UP-ACTIVE\nPeer: {peer} port 500")),
            "{hub_session}"
        );
    }

    // show dmvpn detail: show dmvpn's table, then each peer's crypto session.
    let plain = s.get(a).node().show_dmvpn(s.now());
    for line in plain.lines() {
        assert!(before.detail.contains(line), "{line:?} missing");
    }
    assert!(before.detail.contains("Crypto Session Details:"));
    assert!(before.detail.contains(&format!(
        "IPSEC FLOW: permit 47 host {a_nbma} host {b_nbma}"
    )));
    assert!(before.detail.contains(&format!(
        "Outbound SPI : 0x{current:08X}, transform : esp-256-aes"
    )));
    // …and in the status data.
    let st = s.get(a).node().status(s.now());
    let to_b = st.tunnels[0]
        .peers
        .iter()
        .find(|p| p.nbma == Some(b_nbma))
        .unwrap();
    let crypto = to_b.crypto.as_ref().unwrap();
    assert_eq!(crypto.state, SessionState::UpActive);
    assert_eq!(crypto.current_outbound_spi, Some(current));
    assert_eq!(crypto.active_sas(), 2);

    // More traffic: the flow's counters grow; later, the lifetimes have fallen.
    let encaps = counter(&before.ipsec, b_nbma, "#pkts encaps");
    let decaps = counter(&before.ipsec, b_nbma, "#pkts decaps");
    assert!(encaps > 0 && decaps > 0, "{}", before.ipsec);
    for seq in 5..=14 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
    }
    s.run(secs(60));
    let after = shows(&s, a);
    assert!(counter(&after.ipsec, b_nbma, "#pkts encaps") >= encaps + 10);
    assert!(counter(&after.ipsec, b_nbma, "#pkts decaps") >= decaps + 10);
    assert_eq!(counter(&after.ipsec, b_nbma, "#send errors"), 0);
    let (l0, l1) = (lifetimes(&before.ipsec), lifetimes(&after.ipsec));
    assert_eq!(l0.len(), l1.len(), "no rekey in 70 s");
    assert!(!l0.is_empty());
    for ((k0, sec0), (k1, sec1)) in l0.iter().zip(&l1) {
        assert!(sec1 + 70 <= *sec0 + 1, "{sec0} -> {sec1}");
        assert!(k1 <= k0);
        assert!(*sec0 <= 3600 && *k0 <= 4_608_000);
    }
    // The spoke-to-spoke SAs carried bytes: their kilobytes left fell below the full amount.
    assert!(l1.iter().any(|(k, _)| *k < 4_608_000), "{l1:?}");
    s.finish();
}

#[test]
fn show_crypto_is_the_same_in_two_identical_runs() {
    let run = || {
        let mut s = network("show-crypto-twice");
        s.run(secs(30));
        let all = [s.hub(), s.spoke(1), s.spoke(2)].map(|id| shows(&s, id));
        s.finish();
        all
    };
    let (first, second) = (run(), run());
    assert_eq!(first, second);
    // Nothing that looks like key material: only the words and numbers of the layouts.
    for sh in &first {
        for text in [&sh.ikev2, &sh.ipsec, &sh.session, &sh.detail] {
            assert!(!text.to_lowercase().contains("key:"), "{text}");
            assert!(!text.contains("cisco123"));
        }
    }
}

#[test]
fn unprotected_nodes_show_no_crypto_state() {
    let mut s = Scenario::new("show-crypto-clear", 42, Example::new(1));
    s.run(secs(3));
    let a = s.spoke(1);
    let sh = shows(&s, a);
    assert_eq!(sh.ipsec, "No SAs found\n");
    assert_eq!(sh.session, "Crypto session current status\n");
    assert_eq!(
        sh.ikev2,
        " IPv4 Crypto IKEv2  SA\n\n IPv6 Crypto IKEv2  SA\n\n"
    );
    // `show dmvpn detail` is `show dmvpn` and the MTU lines when no peer has crypto state
    // (the hub's NBMA address: 20 bytes of IPv4 and 8 of GRE with a key).
    let plain = s.get(a).node().show_dmvpn(s.now());
    assert_eq!(
        sh.detail.strip_prefix(&plain),
        Some(
            "\n IP MTU 1400 bytes, underlay MTU 1500 bytes\n Peer 172.17.0.1: MTU 1400 bytes, overhead 28 bytes\n"
        ),
        "{}",
        sh.detail
    );
    assert!(s.get(a).node().crypto_status(s.now()).is_empty());
    let st = s.get(a).node().status(s.now());
    assert!(st.tunnels[0].peers.iter().all(|p| p.crypto.is_none()));
    s.finish();
}

/// While the spoke's IKE SA to the hub is still being negotiated, the session shows
/// DOWN-NEGOTIATING with no SA and the IKE SA not READY.
#[test]
fn a_session_under_negotiation_is_down_negotiating() {
    let mut s = Scenario::new("show-crypto-neg", 43, Example::new(1).protected());
    let a = s.spoke(1);
    // The spoke's IKE_SA_INIT is out but not answered yet.
    s.run(std::time::Duration::from_millis(1));
    let st = s.get(a).node().crypto_status(s.now());
    let hub_nbma: IpAddr = HUB_NBMA.into();
    let p = st[0].peers.iter().find(|p| p.peer == hub_nbma).unwrap();
    assert_eq!(p.state, SessionState::DownNegotiating, "{p:?}");
    assert_eq!(p.active_sas(), 0);
    let sh = shows(&s, a);
    assert!(
        sh.session.contains("Session status: DOWN-NEGOTIATING"),
        "{}",
        sh.session
    );
    assert!(sh.ikev2.contains("IN-NEG"), "{}", sh.ikev2);
    assert!(!sh.ikev2.contains("READY"));
    assert!(
        sh.ipsec.contains("current outbound spi: 0x0(0)"),
        "{}",
        sh.ipsec
    );
    s.run(secs(3));
    let sh = shows(&s, a);
    assert!(
        sh.session.contains("Session status: UP-ACTIVE"),
        "{}",
        sh.session
    );
    s.finish();
}
