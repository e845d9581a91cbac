//! Scenario tests: two (or more) in-process IKEv2 endpoints on netsim's virtual clock and network
//! (UDP inside netsim datagrams), exercising the state machines end to end.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_esp::{InboundSa, OutboundSa};
use dmvpn_ikev2::auth::{Psk, PskTable};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::transform::KeGroup;
use dmvpn_ikev2::wire::{
    ExchangeType, Flags, Identity, KePayload, Message, NotifyType, Payload, SaPayload,
};
use dmvpn_ikev2::{Config, DownReason, Endpoint, Event, IkeSaId};
use dmvpn_netsim::{
    HostId, Inbound, LinkProfile, Machine, MachineHost, NatConfig, Network, Proto, Sim, Transmit,
};

const A: &str = "192.0.2.1";
const B: &str = "198.51.100.2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// An IKEv2 endpoint as a netsim machine (UDP headers added and checked by netsim).
struct Ike {
    ep: Endpoint,
}

impl Machine for Ike {
    type Event = Event;
    type Error = dmvpn_ikev2::Error;

    fn handle(&mut self, now: Instant, d: Inbound<'_>) -> Result<(), dmvpn_ikev2::Error> {
        match d.proto {
            Proto::Udp { .. } => self
                .ep
                .handle_datagram(now, d.local(), d.remote(), d.payload),
            _ => Ok(()),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.ep.poll_timeout()
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.ep.poll_event()
    }
}

type Peer = MachineHost<Ike>;

fn peer(addr: &str, cfg: Config) -> Peer {
    MachineHost::new(
        ip(addr),
        Ike {
            ep: Endpoint::new(cfg).unwrap(),
        },
    )
}

/// What the scenarios ask of a peer's event log.
trait Sas {
    fn ike_up(&self) -> Vec<IkeSaId>;
    fn children_up(&self) -> Vec<(&dmvpn_ikev2::ChildSaUp, Option<u32>)>;
    fn deleted(&self) -> Vec<u32>;
    fn down(&self) -> Vec<DownReason>;
    /// Inbound SPIs of child SAs up and not deleted.
    fn live_children(&self) -> Vec<u32>;
}

impl Sas for Peer {
    fn ike_up(&self) -> Vec<IkeSaId> {
        self.events()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::IkeUp { sa, .. } => Some(*sa),
                _ => None,
            })
            .collect()
    }

    fn children_up(&self) -> Vec<(&dmvpn_ikev2::ChildSaUp, Option<u32>)> {
        self.events()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ChildUp {
                    child, rekey_of, ..
                } => Some((&**child, *rekey_of)),
                _ => None,
            })
            .collect()
    }

    fn deleted(&self) -> Vec<u32> {
        self.events()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ChildDeleted { inbound_spi, .. } => Some(*inbound_spi),
                _ => None,
            })
            .collect()
    }

    fn down(&self) -> Vec<DownReason> {
        self.events()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::IkeDown { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    fn live_children(&self) -> Vec<u32> {
        let del = self.deleted();
        self.children_up()
            .iter()
            .map(|(c, _)| c.inbound.spi)
            .filter(|s| !del.contains(s))
            .collect()
    }
}

fn provider(seed: u8) -> IkeCryptoProvider {
    IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])))
}

fn config(seed: u8, me: &str, peer: &str, psk: &str, ike: &[&str], esp: &[&str]) -> Config {
    let mut psks = PskTable::new();
    psks.insert(Identity::fqdn(peer), Psk::from(psk));
    if peer == "*" {
        psks.set_wildcard(Psk::from(psk));
    }
    Config::new(provider(seed), Identity::fqdn(me), psks)
        .with_ike_proposals(ike)
        .unwrap()
        .with_esp_proposals(esp)
        .unwrap()
}

struct Pair {
    sim: Sim<Peer>,
    a: HostId,
    b: HostId,
}

/// The two peers of a [`Pair`] as its predicates see them.
struct View<'a> {
    sim: &'a Sim<Peer>,
    a: HostId,
    b: HostId,
}

impl View<'_> {
    fn pa(&self) -> &Peer {
        self.sim.host(self.a).unwrap()
    }

    fn pb(&self) -> &Peer {
        self.sim.host(self.b).unwrap()
    }
}

impl Pair {
    fn new(seed: u64, ca: Config, cb: Config) -> Pair {
        let mut sim = Sim::new(Network::new(seed, Instant::now()));
        let a = sim.add_host(peer(A, ca));
        let b = sim.add_host(peer(B, cb));
        Pair { sim, a, b }
    }

    fn standard(ike: &str, esp: &str) -> Pair {
        Pair::new(
            1,
            config(
                1,
                "spoke.example",
                "hub.example",
                "cisco123",
                &[ike],
                &[esp],
            ),
            config(
                2,
                "hub.example",
                "spoke.example",
                "cisco123",
                &[ike],
                &[esp],
            ),
        )
    }

    fn a(&mut self) -> &mut Peer {
        self.sim.host_mut(self.a).unwrap()
    }

    fn b(&mut self) -> &mut Peer {
        self.sim.host_mut(self.b).unwrap()
    }

    fn pa(&self) -> &Peer {
        self.sim.host(self.a).unwrap()
    }

    fn pb(&self) -> &Peer {
        self.sim.host(self.b).unwrap()
    }

    fn initiate(&mut self) -> IkeSaId {
        let now = self.sim.now();
        let id = self
            .a()
            .ep
            .initiate(
                now,
                SocketAddr::new(ip(A), 500),
                SocketAddr::new(ip(B), 500),
                Some(Identity::fqdn("hub.example")),
                None,
            )
            .unwrap();
        self.a().drain_events(now);
        id
    }

    fn run(&mut self, secs: u64) {
        self.sim.run_for(Duration::from_secs(secs)).unwrap();
    }

    fn run_until(&mut self, secs: u64, pred: impl Fn(&View<'_>) -> bool) -> bool {
        let (a, b) = (self.a, self.b);
        self.sim
            .run_for_until(Duration::from_secs(secs), |sim| pred(&View { sim, a, b }))
            .unwrap()
    }

    fn established(&mut self) -> IkeSaId {
        let id = self.initiate();
        assert!(
            self.run_until(120, |p| !p.pa().live_children().is_empty()
                && !p.pb().live_children().is_empty()),
            "handshake did not complete: a {:?} / b {:?}",
            self.pa().events(),
            self.pb().events()
        );
        id
    }
}

/// The two ESP SAs of a child pair carry a packet each way.
fn esp_works(a: &dmvpn_ikev2::ChildSaUp, b: &dmvpn_ikev2::ChildSaUp) {
    let now = Instant::now();
    assert_eq!(a.outbound.spi, b.inbound.spi);
    assert_eq!(b.outbound.spi, a.inbound.spi);
    let (nh, inner): (u8, Vec<u8>) = if a.inbound.mode == dmvpn_esp::Mode::Tunnel {
        let mut ip4 = vec![
            0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 1, 1, 10, 2, 0, 1,
        ];
        ip4.extend_from_slice(b"udp packet");
        (4, ip4)
    } else {
        (47, b"gre packet".to_vec())
    };
    for (tx, rx) in [(a, b), (b, a)] {
        let mut o = OutboundSa::new(&tx.outbound, now).unwrap();
        let mut i = InboundSa::new(&rx.inbound, now).unwrap();
        let mut wire = [0u8; 256];
        let mut plain = [0u8; 256];
        let pkt = o.encapsulate(now, nh, &inner, &mut wire).unwrap();
        let got = i.decapsulate(now, pkt, &mut plain).unwrap();
        assert_eq!(got.payload, &inner[..]);
    }
}

fn last_child(p: &Peer) -> dmvpn_ikev2::ChildSaUp {
    p.children_up().last().unwrap().0.clone()
}

#[test]
fn handshake_for_each_proposal() {
    for (ike, esp) in [
        ("aes128-sha256-modp2048", "aes128-sha256"),
        ("aes256gcm16-prfsha256-x25519", "aes256gcm16"),
        ("aes128gcm16-prfsha256-ecp256", "aes128gcm16"),
        ("aes256-sha384-x25519", "aes256-sha512"),
        ("aes256-sha512-ecp256", "aes128-sha1"),
        ("aes128-sha1-x25519", "aes256gcm16-esn"),
    ] {
        let mut p = Pair::standard(ike, esp);
        p.established();
        assert_eq!(p.pa().ike_up().len(), 1, "{ike}");
        assert_eq!(p.pb().ike_up().len(), 1, "{ike}");
        let (ca, cb) = (last_child(p.pa()), last_child(p.pb()));
        assert_eq!(ca.inbound.mode, dmvpn_esp::Mode::Transport, "{ike}");
        assert!(!ca.udp_encap);
        esp_works(&ca, &cb);
        let peer_id = p.pb().events().iter().find_map(|(_, e)| match e {
            Event::IkeUp { peer_id, suite, .. } => Some((peer_id.clone(), *suite)),
            _ => None,
        });
        let (peer_id, suite) = peer_id.unwrap();
        assert_eq!(peer_id, Identity::fqdn("spoke.example"));
        assert_eq!(suite.to_string(), ike);
        assert_eq!(p.pa().errors().len() + p.pb().errors().len(), 0);
    }
}

#[test]
fn the_groups_strongswan_proposes_by_default_establish() {
    for (ike, esp) in [
        ("aes128-sha256-modp3072", "aes128-sha256-modp3072"),
        ("aes128-sha256-modp4096", "aes128gcm16"),
        ("aes256-sha384-ecp384", "aes256gcm16-ecp384"),
        ("aes256gcm16-prfsha512-ecp521", "aes256gcm16-ecp521"),
    ] {
        let mut p = Pair::standard(ike, esp);
        p.established();
        let suite = p.pb().events().iter().find_map(|(_, e)| match e {
            Event::IkeUp { suite, .. } => Some(*suite),
            _ => None,
        });
        assert_eq!(suite.unwrap().to_string(), ike);
        esp_works(&last_child(p.pa()), &last_child(p.pb()));
        // A child rekey with PFS in the ESP proposal's group.
        let sa = p.pa().ike_up()[0];
        let spi = p.pa().live_children()[0];
        let now = p.sim.now();
        p.a().ep.rekey_child(now, sa, spi).unwrap();
        p.run(5);
        assert!(!p.pa().live_children().contains(&spi), "{esp}: rekeyed");
        assert_eq!(p.pa().errors().len() + p.pb().errors().len(), 0, "{ike}");
    }
}

#[test]
fn a_modp3072_offer_is_answered_and_used_in_either_role() {
    // One proposal with two groups, MODP-3072 first (`--ike aes128-sha256-modp3072-modp2048`):
    // the initiator sends MODP-3072, and a responder with only MODP-3072 uses it.
    let ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-modp3072-modp2048"],
        &["aes128-sha256"],
    );
    let cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-modp3072"],
        &["aes128-sha256"],
    );
    let mut p = Pair::new(3, ca, cb);
    p.established();
    let suite = p.pa().events().iter().find_map(|(_, e)| match e {
        Event::IkeUp { suite, .. } => Some(*suite),
        _ => None,
    });
    assert_eq!(suite.unwrap().group, KeGroup::MODP_3072);
    assert_eq!(p.pb().ep.counters().errors_sent, 0);

    // The comma list against a MODP-2048-only responder: INVALID_KE_PAYLOAD names MODP-2048,
    // and the initiator retries in it.
    let ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-modp3072,aes128-sha256-modp2048"],
        &["aes128-sha256"],
    );
    let cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-modp2048"],
        &["aes128-sha256"],
    );
    let mut p = Pair::new(4, ca, cb);
    p.established();
    assert_eq!(
        first_notify(p.pb(), None),
        vec![NotifyType::INVALID_KE_PAYLOAD]
    );
    let suite = p.pa().events().iter().find_map(|(_, e)| match e {
        Event::IkeUp { suite, .. } => Some(*suite),
        _ => None,
    });
    assert_eq!(suite.unwrap().to_string(), "aes128-sha256-modp2048");
}

#[test]
fn tunnel_mode_and_narrowing() {
    let mut ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128gcm16"],
    );
    let mut cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128gcm16"],
    );
    ca.mode = dmvpn_esp::Mode::Tunnel;
    ca.local_ts = Some(vec![dmvpn_ikev2::negotiate::ts_prefix(ip("10.1.0.0"), 16)]);
    ca.remote_ts = Some(vec![dmvpn_ikev2::negotiate::ts_prefix(ip("10.0.0.0"), 8)]);
    cb.local_ts = Some(vec![dmvpn_ikev2::negotiate::ts_prefix(ip("10.2.0.0"), 16)]);
    cb.remote_ts = Some(vec![dmvpn_ikev2::negotiate::ts_prefix(ip("10.1.1.0"), 24)]);
    let mut p = Pair::new(3, ca, cb);
    p.established();
    let (a, b) = (last_child(p.pa()), last_child(p.pb()));
    assert_eq!(a.inbound.mode, dmvpn_esp::Mode::Tunnel);
    assert_eq!(b.inbound.mode, dmvpn_esp::Mode::Tunnel);
    // Narrowed by the responder to its policy on both sides.
    assert_eq!(
        a.local_ts,
        vec![dmvpn_ikev2::negotiate::ts_prefix(ip("10.1.1.0"), 24)]
    );
    assert_eq!(
        a.remote_ts,
        vec![dmvpn_ikev2::negotiate::ts_prefix(ip("10.2.0.0"), 16)]
    );
    assert_eq!(b.remote_ts, a.local_ts);
    assert_eq!(b.local_ts, a.remote_ts);
    esp_works(&a, &b);
}

#[test]
fn child_rekey_on_command_and_on_lifetime() {
    let mut ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-modp2048"],
        &["aes128-sha256-modp2048"],
    );
    ca.child_lifetime = Duration::from_secs(600);
    ca.liveness_idle = None;
    let mut cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-modp2048"],
        &["aes128-sha256-modp2048"],
    );
    cb.child_lifetime = Duration::from_secs(3600);
    cb.liveness_idle = None;
    let mut p = Pair::new(4, ca, cb);
    let sa = p.established();
    let first = p.pa().live_children()[0];
    let now = p.sim.now();
    p.a().ep.rekey_child(now, sa, first).unwrap();
    p.a().drain_events(now);
    assert!(p.run_until(30, |p| p.pa().deleted().contains(&first)
        && p.pb().live_children().len() == 1
        && p.pb().children_up().len() == 2));
    let (a, b) = (last_child(p.pa()), last_child(p.pb()));
    esp_works(&a, &b);
    assert_eq!(p.pa().children_up().last().unwrap().1, Some(first));
    assert_eq!(p.pa().live_children().len(), 1);
    assert_eq!(p.pb().live_children().len(), 1);
    // PFS: the rekey used a fresh key exchange, so the keys differ from the first child's.
    assert_ne!(
        p.pa().children_up()[0].0.outbound.keys,
        p.pa().children_up()[1].0.outbound.keys
    );
    // The lifetime (600 s on A) triggers the next rekey on its own, before 600 s.
    assert!(p.run_until(600, |p| p.pa().children_up().len() == 3
        && p.pa().live_children().len() == 1
        && p.pb().live_children().len() == 1));
    esp_works(&last_child(p.pa()), &last_child(p.pb()));
    assert_eq!(p.pa().ep.counters().child_rekeys, 2);
    assert!(
        p.pa().ep.status(p.sim.now())[0]
            .to_string()
            .contains("child in")
    );
}

#[test]
fn ike_rekey_keeps_children_and_works_after() {
    let mut p = Pair::standard("aes256gcm16-prfsha256-x25519", "aes256gcm16");
    let sa = p.established();
    let now = p.sim.now();
    p.a().ep.rekey_ike(now, sa).unwrap();
    p.a().drain_events(now);
    let rekeyed = |p: &Peer| {
        p.events().iter().find_map(|(_, e)| match e {
            Event::IkeRekeyed {
                new, spi_i, spi_r, ..
            } => Some((*new, *spi_i, *spi_r)),
            _ => None,
        })
    };
    assert!(p.run_until(30, |p| rekeyed(p.pa()).is_some()
        && rekeyed(p.pb()).is_some()));
    p.run(5);
    let (new_a, si, sr) = rekeyed(p.pa()).unwrap();
    let (_, si2, sr2) = rekeyed(p.pb()).unwrap();
    assert_eq!((si, sr), (si2, sr2));
    assert_eq!(p.pa().ep.ike_sa_count(), 1, "old IKE SA deleted");
    assert_eq!(p.pb().ep.ike_sa_count(), 1, "old IKE SA deleted");
    assert!(p.pa().down().is_empty() && p.pb().down().is_empty());
    assert_eq!(p.pa().live_children().len(), 1);
    // The child moved to the new IKE SA and can be rekeyed there.
    let child = p.pa().live_children()[0];
    assert_eq!(p.pa().ep.child_spis(new_a), vec![child]);
    let now = p.sim.now();
    p.a().ep.rekey_child(now, new_a, child).unwrap();
    p.a().drain_events(now);
    assert!(p.run_until(30, |p| p.pa().deleted().contains(&child)
        && p.pb().live_children().len() == 1));
    esp_works(&last_child(p.pa()), &last_child(p.pb()));
    // And the responder can rekey the new IKE SA in turn.
    let new_b = p.pb().ep.status(p.sim.now())[0].sa;
    let now = p.sim.now();
    p.b().ep.rekey_ike(now, new_b).unwrap();
    p.b().drain_events(now);
    assert!(p.run_until(30, |p| p.pb().ep.counters().ike_rekeys == 2
        && p.pa().ep.ike_sa_count() == 1
        && p.pb().ep.ike_sa_count() == 1));
}

#[test]
fn delete_child_and_ike_sa() {
    let mut p = Pair::standard("aes128-sha256-modp2048", "aes128-sha256");
    let sa = p.established();
    let now = p.sim.now();
    p.a().ep.create_child(now, sa, None).unwrap();
    p.a().drain_events(now);
    assert!(p.run_until(30, |p| p.pb().live_children().len() == 2
        && p.pa().live_children().len() == 2));
    let victim = p.pa().live_children()[0];
    let now = p.sim.now();
    p.a().ep.delete_child(now, sa, victim).unwrap();
    p.a().drain_events(now);
    assert!(p.run_until(30, |p| p.pb().live_children().len() == 1));
    assert_eq!(p.pa().live_children().len(), 1);
    let now = p.sim.now();
    p.a().ep.close(now, sa).unwrap();
    p.a().drain_events(now);
    assert!(p.run_until(30, |p| !p.pa().down().is_empty()
        && !p.pb().down().is_empty()));
    assert_eq!(p.pa().down(), vec![DownReason::Closed]);
    assert_eq!(p.pb().down(), vec![DownReason::DeletedByPeer]);
    assert!(p.pa().live_children().is_empty() && p.pb().live_children().is_empty());
    assert_eq!(p.pa().ep.ike_sa_count() + p.pb().ep.ike_sa_count(), 0);
}

#[test]
fn liveness_detects_a_dead_peer() {
    let mut p = Pair::standard("aes256gcm16-prfsha256-x25519", "aes256gcm16");
    p.established();
    // Idle but alive: liveness checks are answered.
    p.run(200);
    assert!(p.pa().down().is_empty());
    let b = p.b;
    p.sim.crash(b);
    let start = p.sim.now();
    assert!(p.run_until(300, |p| !p.pa().down().is_empty()));
    assert_eq!(p.pa().down(), vec![DownReason::PeerDead]);
    assert!(
        p.pa()
            .events()
            .iter()
            .any(|(_, e)| matches!(e, Event::PeerDead { .. }))
    );
    assert!(p.pa().live_children().is_empty());
    // 30 s idle, then 6 transmissions 1+2+4+8+16+16 s apart.
    let took = p.sim.now() - start;
    assert!(
        took >= Duration::from_secs(47) && took <= Duration::from_secs(30 + 47 + 1),
        "{took:?}"
    );
    assert!(p.pa().ep.counters().retransmits >= 5);
}

#[test]
fn converges_with_30_percent_loss() {
    for seed in 0..4 {
        let mut ca = config(
            1,
            "spoke.example",
            "hub.example",
            "k",
            &["aes128-sha256-x25519"],
            &["aes128-sha256"],
        );
        let mut cb = config(
            2,
            "hub.example",
            "spoke.example",
            "k",
            &["aes128-sha256-x25519"],
            &["aes128-sha256"],
        );
        for c in [&mut ca, &mut cb] {
            c.retransmit.tries = 10;
        }
        let mut p = Pair::new(100 + seed, ca, cb);
        p.sim
            .network_mut()
            .set_default_link(LinkProfile::lossy(0.3));
        let sa = p.established();
        let first = p.pa().live_children()[0];
        let now = p.sim.now();
        p.a().ep.rekey_child(now, sa, first).unwrap();
        p.a().drain_events(now);
        assert!(
            p.run_until(300, |p| p.pa().live_children().len() == 1
                && p.pb().live_children().len() == 1
                && p.pa().children_up().len() == 2
                && p.pb().children_up().len() == 2),
            "seed {seed}"
        );
        esp_works(&last_child(p.pa()), &last_child(p.pb()));
        assert!(p.sim.network().stats().lost > 0);
        assert!(p.pa().ep.counters().retransmits > 0 || p.pb().ep.counters().cached_responses > 0);
    }
}

#[test]
fn duplicated_requests_are_answered_from_the_cache() {
    let mut p = Pair::standard("aes128-sha256-x25519", "aes128-sha256");
    p.sim.network_mut().set_default_link(LinkProfile {
        duplicate: 1.0,
        ..LinkProfile::default()
    });
    p.established();
    assert!(p.pb().ep.counters().cached_responses >= 2);
    assert_eq!(p.pa().ike_up().len(), 1);
    assert_eq!(p.pb().ike_up().len(), 1);
}

#[test]
fn cookie_path() {
    let ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    let mut cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    cb.cookie_threshold = 0;
    let mut p = Pair::new(5, ca, cb);
    p.established();
    assert_eq!(p.pb().ep.counters().cookies_sent, 1);
    assert_eq!(p.pb().ike_up().len(), 1);
    // The initiator's second IKE_SA_INIT starts with N(COOKIE).
    let inits: Vec<Message> = p
        .pa()
        .sent()
        .iter()
        .filter_map(|t| Message::parse(&t.payload).ok())
        .filter(|m| m.exchange_type == ExchangeType::IKE_SA_INIT)
        .collect();
    assert_eq!(inits.len(), 2);
    assert!(
        matches!(&inits[1].payloads[0], Payload::Notify(n) if n.notify_type == NotifyType::COOKIE)
    );
}

#[test]
fn invalid_ke_then_retry_with_requested_group() {
    let ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-x25519-modp2048"],
        &["aes128-sha256"],
    );
    let cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-modp2048"],
        &["aes128-sha256"],
    );
    let mut p = Pair::new(6, ca, cb);
    p.established();
    let suite = p.pa().events().iter().find_map(|(_, e)| match e {
        Event::IkeUp { suite, .. } => Some(*suite),
        _ => None,
    });
    assert_eq!(suite.unwrap().to_string(), "aes128-sha256-modp2048");
    assert_eq!(p.pb().ep.counters().errors_sent, 1);
}

#[test]
fn simultaneous_child_rekey_collision() {
    for seed in 0..3u8 {
        let mut ca = config(
            10 + seed,
            "spoke.example",
            "hub.example",
            "k",
            &["aes128-sha256-x25519"],
            &["aes128gcm16"],
        );
        let mut cb = config(
            20 + seed,
            "hub.example",
            "spoke.example",
            "k",
            &["aes128-sha256-x25519"],
            &["aes128gcm16"],
        );
        ca.liveness_idle = None;
        cb.liveness_idle = None;
        let mut p = Pair::new(7, ca, cb);
        let sa_a = p.established();
        p.run(1);
        let sa_b = p.pb().ike_up()[0];
        let (ca_in, cb_in) = (p.pa().live_children()[0], p.pb().live_children()[0]);
        let now = p.sim.now();
        p.a().ep.rekey_child(now, sa_a, ca_in).unwrap();
        p.b().ep.rekey_child(now, sa_b, cb_in).unwrap();
        p.a().drain_events(now);
        p.b().drain_events(now);
        p.run(30);
        assert_eq!(p.pa().ep.counters().rekey_collisions, 1);
        assert_eq!(p.pb().ep.counters().rekey_collisions, 1);
        let (la, lb) = (p.pa().live_children(), p.pb().live_children());
        assert_eq!(la.len(), 1, "seed {seed}: a {la:?}");
        assert_eq!(lb.len(), 1, "seed {seed}: b {lb:?}");
        assert!(!la.contains(&ca_in) && !lb.contains(&cb_in));
        let ua = p
            .pa()
            .children_up()
            .into_iter()
            .find(|(c, _)| c.inbound.spi == la[0])
            .unwrap()
            .0
            .clone();
        let ub = p
            .pb()
            .children_up()
            .into_iter()
            .find(|(c, _)| c.inbound.spi == lb[0])
            .unwrap()
            .0
            .clone();
        esp_works(&ua, &ub);
    }
}

fn first_notify(p: &Peer, port_filter: Option<u16>) -> Vec<NotifyType> {
    p.sent()
        .iter()
        .filter(|t| port_filter.is_none_or(|f| f == t.local().port()))
        .filter_map(|t| Message::parse(&t.payload).ok())
        .flat_map(|m| m.payloads)
        .filter_map(|p| match p {
            Payload::Notify(n) if n.notify_type.is_error() => Some(n.notify_type),
            _ => None,
        })
        .collect()
}

#[test]
fn no_proposal_chosen() {
    let ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    let cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes256gcm16-prfsha384-ecp256"],
        &["aes128-sha256"],
    );
    let mut p = Pair::new(8, ca, cb);
    p.initiate();
    p.run(10);
    assert_eq!(
        first_notify(p.pb(), None),
        vec![NotifyType::NO_PROPOSAL_CHOSEN]
    );
    assert_eq!(
        p.pa().down(),
        vec![DownReason::Refused(NotifyType::NO_PROPOSAL_CHOSEN)]
    );
    assert_eq!(p.pb().ep.ike_sa_count(), 0);
}

#[test]
fn authentication_failed() {
    let ca = config(
        1,
        "spoke.example",
        "hub.example",
        "right",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    let cb = config(
        2,
        "hub.example",
        "spoke.example",
        "wrong",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    let mut p = Pair::new(9, ca, cb);
    p.initiate();
    p.run(10);
    assert_eq!(p.pa().down(), vec![DownReason::AuthenticationFailed]);
    assert_eq!(p.pb().down(), vec![DownReason::AuthenticationFailed]);
    assert_eq!(p.pb().ep.counters().auth_failures, 1);
    assert!(p.pa().ike_up().is_empty() && p.pb().ike_up().is_empty());
    assert_eq!(p.pa().ep.ike_sa_count() + p.pb().ep.ike_sa_count(), 0);
}

#[test]
fn ts_unacceptable_keeps_the_ike_sa() {
    let ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    let mut cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    cb.remote_ts = Some(vec![dmvpn_ikev2::negotiate::ts_prefix(
        ip("172.16.0.0"),
        12,
    )]);
    let mut p = Pair::new(10, ca, cb);
    p.initiate();
    p.run(10);
    assert_eq!(p.pa().ike_up().len(), 1);
    assert!(p.pa().events().iter().any(
        |(_, e)| matches!(e, Event::ChildFailed { error, .. } if *error == NotifyType::TS_UNACCEPTABLE)
    ));
    assert!(p.pa().live_children().is_empty());
    assert!(p.pb().live_children().is_empty());
    assert!(p.pa().down().is_empty());
}

/// Sends one raw datagram from a scripted host to B and returns B's answers (parsed).
fn raw_exchange(bytes: Vec<u8>) -> Vec<Message> {
    let cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    let mut b = Endpoint::new(cb).unwrap();
    let now = Instant::now();
    let _ = b.handle_datagram(
        now,
        SocketAddr::new(ip(B), 500),
        SocketAddr::new(ip(A), 500),
        &bytes,
    );
    assert!(b.ike_sa_count() == 0);
    std::iter::from_fn(|| b.poll_transmit())
        .map(|t| Message::parse(&t.payload).unwrap())
        .collect()
}

fn init_request(payloads: Vec<Payload>) -> Message {
    Message {
        spi_i: 0x1122_3344_5566_7788,
        spi_r: 0,
        minor_version: 0,
        exchange_type: ExchangeType::IKE_SA_INIT,
        flags: Flags::INITIATOR,
        message_id: 0,
        payloads,
    }
}

fn only_notify(msgs: &[Message]) -> (NotifyType, Vec<u8>) {
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].flags.response());
    match msgs[0].payloads.as_slice() {
        [Payload::Notify(n)] => (n.notify_type, n.data.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_syntax_for_a_request_without_ke() {
    let sa = dmvpn_ikev2::wire::Proposal::from_strongswan(
        "aes128-sha256-x25519",
        dmvpn_ikev2::wire::ProtocolId::IKE,
    )
    .unwrap();
    let m = init_request(vec![
        Payload::Sa(SaPayload {
            proposals: vec![sa],
        }),
        Payload::Nonce(vec![1; 32]),
    ]);
    let (n, _) = only_notify(&raw_exchange(m.to_vec().unwrap()));
    assert_eq!(n, NotifyType::INVALID_SYNTAX);
}

#[test]
fn invalid_ke_payload_names_the_group() {
    let sa = dmvpn_ikev2::wire::Proposal::from_strongswan(
        "aes128-sha256-x25519-modp2048",
        dmvpn_ikev2::wire::ProtocolId::IKE,
    )
    .unwrap();
    let ke = KePayload {
        group: dmvpn_ikev2::transform::KeGroup::MODP_2048,
        data: vec![2; 256],
    };
    let m = init_request(vec![
        Payload::Sa(SaPayload {
            proposals: vec![sa],
        }),
        Payload::Ke(ke),
        Payload::Nonce(vec![1; 32]),
    ]);
    let (n, data) = only_notify(&raw_exchange(m.to_vec().unwrap()));
    assert_eq!(n, NotifyType::INVALID_KE_PAYLOAD);
    assert_eq!(data, 31u16.to_be_bytes());
}

#[test]
fn invalid_major_version() {
    let sa = dmvpn_ikev2::wire::Proposal::from_strongswan(
        "aes128-sha256-x25519",
        dmvpn_ikev2::wire::ProtocolId::IKE,
    )
    .unwrap();
    let mut bytes = init_request(vec![Payload::Sa(SaPayload {
        proposals: vec![sa],
    })])
    .to_vec()
    .unwrap();
    bytes[17] = 0x30; // version 3.0
    let (n, _) = only_notify(&raw_exchange(bytes));
    assert_eq!(n, NotifyType::INVALID_MAJOR_VERSION);
}

#[test]
fn unsupported_critical_payload() {
    let m = init_request(vec![
        Payload::Nonce(vec![1; 32]),
        Payload::Unknown {
            payload_type: dmvpn_ikev2::wire::PayloadType(200),
            critical: true,
            body: vec![1, 2, 3],
        },
    ]);
    let (n, data) = only_notify(&raw_exchange(m.to_vec().unwrap()));
    assert_eq!(n, NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
    assert_eq!(data, vec![200]);
}

#[test]
fn nat_detected_floats_to_4500_with_keepalives() {
    let mut p = Pair::standard("aes256gcm16-prfsha256-x25519", "aes256gcm16");
    // A is behind a NAT box: 192.0.2.1 appears as 203.0.113.9.
    p.sim.network_mut().add_nat(NatConfig {
        public: vec![ip("203.0.113.9")],
        inside: vec![ip(A)],
    });
    p.established();
    let (a, b) = (last_child(p.pa()), last_child(p.pb()));
    assert!(a.udp_encap && b.udp_encap);
    assert_eq!(a.local.port(), 4500);
    assert_eq!(a.remote, SocketAddr::new(ip(B), 4500));
    assert_eq!(b.remote, SocketAddr::new(ip("203.0.113.9"), 4500));
    esp_works(&a, &b);
    // The NATed side keeps the mapping open; the other does not need to.
    p.run(70);
    let keepalives = |p: &Peer| {
        p.sent()
            .iter()
            .filter(|t| t.local().port() == 4500 && t.payload == [0xff])
            .count()
    };
    assert!(keepalives(p.pa()) >= 1, "{:?}", p.pa().sent().len());
    assert_eq!(keepalives(p.pb()), 0);
    // IKE_AUTH and later went on 4500 behind the non-ESP marker.
    assert!(
        p.pa()
            .sent()
            .iter()
            .filter(|t| t.local().port() == 4500)
            .all(|t| t.payload == [0xff] || t.payload[..4] == [0; 4])
    );
}

#[test]
fn forced_encapsulation_without_nat() {
    let mut ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    ca.force_encap = true;
    let cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    let mut p = Pair::new(11, ca, cb);
    p.established();
    assert!(last_child(p.pa()).udp_encap && last_child(p.pb()).udp_encap);
}

#[test]
fn call_admission_control_limits_half_open_sas() {
    let mut cb = config(
        2,
        "hub.example",
        "*",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    cb.cac.max_half_open = Some(1);
    cb.cac.max_ike_sas = Some(1);
    let mut sim = Sim::new(Network::new(12, Instant::now()));
    let mut ids = Vec::new();
    for (i, addr) in ["192.0.2.10", "192.0.2.11"].iter().enumerate() {
        let ca = config(
            30 + i as u8,
            "spoke.example",
            "*",
            "k",
            &["aes128-sha256-x25519"],
            &["aes128-sha256"],
        );
        ids.push(sim.add_host(peer(addr, ca)));
    }
    let b = sim.add_host(peer(B, cb));
    let now = sim.now();
    for (id, addr) in ids.iter().zip(["192.0.2.10", "192.0.2.11"]) {
        let h = sim.host_mut(*id).unwrap();
        h.ep.initiate(
            now,
            SocketAddr::new(ip(addr), 500),
            SocketAddr::new(ip(B), 500),
            None,
            None,
        )
        .unwrap();
        h.drain_events(now);
    }
    sim.run_for(Duration::from_secs(5)).unwrap();
    let hb = sim.host(b).unwrap();
    assert_eq!(hb.ike_up().len(), 1);
    assert!(hb.ep.counters().cac_rejected >= 1);
    assert_eq!(hb.ep.ike_sa_count(), 1);
}

#[test]
fn handshake_times_out_without_a_peer() {
    let mut p = Pair::standard("aes128-sha256-x25519", "aes128-sha256");
    let b = p.b;
    p.sim.crash(b);
    p.initiate();
    p.run(120);
    assert_eq!(p.pa().down(), vec![DownReason::Timeout]);
    assert_eq!(p.pa().ep.ike_sa_count(), 0);
    assert_eq!(p.pa().ep.poll_timeout(), None);
}

/// The responder's [`Event::Refused`] reports: (SA, peer, exchange, reason).
fn refusals(p: &Peer) -> Vec<(Option<IkeSaId>, SocketAddr, ExchangeType, NotifyType)> {
    p.events()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Refused {
                sa,
                remote,
                exchange,
                reason,
            } => Some((*sa, *remote, *exchange, *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_refusal_is_an_event_with_the_peer_and_the_reason() {
    let spoke = SocketAddr::new(ip(A), 500);
    let one = |seed, ike_a: &str, ike_b: &str, psk_b: &str| {
        let ca = config(
            1,
            "spoke.example",
            "hub.example",
            "k",
            &[ike_a],
            &["aes128-sha256"],
        );
        let cb = config(
            2,
            "hub.example",
            "spoke.example",
            psk_b,
            &[ike_b],
            &["aes128-sha256"],
        );
        let mut p = Pair::new(seed, ca, cb);
        p.initiate();
        p.run(10);
        p
    };
    // IKE_SA_INIT refusals have no SA yet.
    let p = one(
        11,
        "aes128-sha256-x25519",
        "aes256gcm16-prfsha384-ecp256",
        "k",
    );
    assert_eq!(
        refusals(p.pb()),
        vec![(
            None,
            spoke,
            ExchangeType::IKE_SA_INIT,
            NotifyType::NO_PROPOSAL_CHOSEN
        )]
    );
    let p = one(
        12,
        "aes128-sha256-x25519-modp2048",
        "aes128-sha256-modp2048",
        "k",
    );
    assert_eq!(
        refusals(p.pb()),
        vec![(
            None,
            spoke,
            ExchangeType::IKE_SA_INIT,
            NotifyType::INVALID_KE_PAYLOAD
        )]
    );
    assert_eq!(p.pa().ike_up().len(), 1, "and the retry succeeded");
    // IKE_AUTH refusals name the half-open SA.
    let p = one(13, "aes128-sha256-x25519", "aes128-sha256-x25519", "wrong");
    let r = refusals(p.pb());
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].0.is_some());
    assert_eq!(
        (r[0].1, r[0].2, r[0].3),
        (
            spoke,
            ExchangeType::IKE_AUTH,
            NotifyType::AUTHENTICATION_FAILED
        )
    );
    // A child SA refused inside IKE_AUTH (no common ESP proposal) is reported too.
    let ca = config(
        1,
        "spoke.example",
        "hub.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes128-sha256"],
    );
    let cb = config(
        2,
        "hub.example",
        "spoke.example",
        "k",
        &["aes128-sha256-x25519"],
        &["aes256gcm16"],
    );
    let mut p = Pair::new(14, ca, cb);
    p.initiate();
    p.run(10);
    let r = refusals(p.pb());
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].2, r[0].3),
        (ExchangeType::IKE_AUTH, NotifyType::NO_PROPOSAL_CHOSEN)
    );
}

/// RFC 7296 §2.23.1: transport mode with both peers behind NATs. The initiator's TSi names its
/// private address and its TSr the responder's public one; the responder (behind its own NAT)
/// substitutes the addresses the IKE SA runs between, checks its policy on those, and answers
/// with the original selectors. Each side installs the addresses it really talks to.
#[test]
fn transport_mode_between_two_nated_peers() {
    use dmvpn_ikev2::wire::TrafficSelector;
    let cfg = |seed: u8, me: &str, peer: &str| {
        let mut c = config(
            seed,
            me,
            peer,
            "cisco123",
            &["aes256gcm16-prfsha256-x25519"],
            &["aes256gcm16"],
        );
        c.mode = dmvpn_esp::Mode::Transport;
        c.host_ts_protocol = 47;
        c
    };
    let mut p = Pair::new(
        3,
        cfg(1, "spoke1.example", "spoke2.example"),
        cfg(2, "spoke2.example", "spoke1.example"),
    );
    let (a_pub, b_pub) = (ip("203.0.113.9"), ip("198.51.100.7"));
    p.sim.network_mut().add_nat(NatConfig {
        public: vec![a_pub],
        inside: vec![ip(A)],
    });
    p.sim.network_mut().add_nat(NatConfig {
        public: vec![b_pub],
        inside: vec![ip(B)],
    });
    // B's box maps B once B has sent something (an NHRP exchange would have, in DMVPN).
    p.sim.network_mut().send(dmvpn_netsim::Datagram {
        src: ip(B),
        dst: a_pub,
        protocol: 17,
        payload: vec![1, 244, 1, 244, 0, 8, 0, 0],
    });
    p.run(1);
    let now = p.sim.now();
    p.a()
        .ep
        .initiate(
            now,
            SocketAddr::new(ip(A), 500),
            SocketAddr::new(b_pub, 500),
            Some(Identity::fqdn("spoke2.example")),
            None,
        )
        .unwrap();
    p.a().drain_events(now);
    assert!(
        p.run_until(60, |v| !v.pa().live_children().is_empty()
            && !v.pb().live_children().is_empty()),
        "no child SA: a {:?} / b {:?}",
        p.pa().events(),
        p.pb().events()
    );
    let (a, b) = (last_child(p.pa()), last_child(p.pb()));
    let host = |s: &str| vec![TrafficSelector::host(ip(s), 47)];
    assert_eq!(a.inbound.mode, dmvpn_esp::Mode::Transport);
    assert!(a.udp_encap && b.udp_encap);
    assert_eq!(
        (a.local_ts.clone(), a.remote_ts.clone()),
        (host(A), host("198.51.100.7"))
    );
    assert_eq!(
        (b.local_ts.clone(), b.remote_ts.clone()),
        (host(B), host("203.0.113.9"))
    );
    assert_eq!(b.remote, SocketAddr::new(a_pub, 4500));
    esp_works(&a, &b);
}

/// RFC 7296 §2.23: the side not behind the NAT follows its peer to the address and port that
/// authenticated ESP in UDP came from (`Endpoint::peer_moved`): `PeerMoved`, and IKE's next
/// message goes there. A peer with no NAT between is not moved.
#[test]
fn the_side_outside_the_nat_follows_a_moved_peer() {
    let mut p = Pair::standard("aes256gcm16-prfsha256-x25519", "aes256gcm16");
    p.sim.network_mut().add_nat(NatConfig {
        public: vec![ip("203.0.113.9")],
        inside: vec![ip(A)],
    });
    p.established();
    let sa = *p.pb().ike_up().last().unwrap();
    let moved: SocketAddr = "203.0.113.9:31000".parse().unwrap();
    let now = p.sim.now();
    p.b().machine_mut().ep.peer_moved(sa, moved).unwrap();
    p.b().drain_events(now);
    let got: Vec<_> = p
        .pb()
        .events()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PeerMoved { sa: s, from, to } => Some((*s, *from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![(sa, "203.0.113.9:4500".parse().unwrap(), moved)]);
    let before = p.pb().sent().len();
    p.b().machine_mut().ep.create_child(now, sa, None).unwrap();
    p.b().drain_events(now);
    p.run(1);
    assert!(p.pb().sent()[before..].iter().any(|t| t.remote() == moved));
    // Told again with the same place: nothing new.
    p.b().machine_mut().ep.peer_moved(sa, moved).unwrap();
    p.b().drain_events(now);
    assert_eq!(p.pb().machine().ep.counters().peer_moves, 1);
    // Without a NAT between them, ESP's source proves no move.
    let mut q = Pair::standard("aes256gcm16-prfsha256-x25519", "aes256gcm16");
    q.established();
    let sa = *q.pb().ike_up().last().unwrap();
    q.b().machine_mut().ep.peer_moved(sa, moved).unwrap();
    assert_eq!(q.pb().machine().ep.counters().peer_moves, 0);
}
