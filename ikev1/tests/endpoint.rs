//! Two IKEv1 endpoints talking to each other through a hand-driven wire on a virtual clock:
//! Main Mode and Quick Mode with and without PFS, NAT-T, retransmissions, wrong keys,
//! Aggressive Mode, deletes, DPD, rekeys.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::type_complexity
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_esp::{Mode, Suite};
use dmvpn_ikev1::wire::{
    AuthMethod, Body, EncryptionAlgorithm, ExchangeType, Flags, GroupDescription, HashAlgorithm,
    IdPayload, IkeAttributes, Lifetime, Message, Payload, Proposal, ProtocolId, SaPayload,
    Transform,
};
use dmvpn_ikev1::{
    Config, DownReason, Dpd, Endpoint, EspTransform, Event, IkeCryptoProvider, KeyTable, Policy,
    Psk,
};
use dmvpn_wire::{Proto, Transmit};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));

fn provider(seed: u8) -> IkeCryptoProvider {
    IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])))
}

fn config(seed: u8, key: &str) -> Config {
    let mut keys = KeyTable::new();
    keys.set_wildcard(Psk::new(key.as_bytes()));
    let mut c = Config::new(provider(seed), keys);
    c.policies = vec![Policy::parse("aes128-sha256-modp2048").unwrap()];
    c
}

struct Net {
    now: Instant,
    a: Endpoint,
    b: Endpoint,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
    /// Datagrams on the wire so far (a to b: true).
    log: Vec<(bool, Transmit)>,
    /// Drops the datagram if it returns false.
    filter: Box<dyn FnMut(bool, &Transmit) -> bool>,
}

impl Net {
    fn new(a: Config, b: Config) -> Net {
        Net {
            now: Instant::now(),
            a: Endpoint::new(a).unwrap(),
            b: Endpoint::new(b).unwrap(),
            a_events: Vec::new(),
            b_events: Vec::new(),
            log: Vec::new(),
            filter: Box::new(|_, _| true),
        }
    }

    /// Moves datagrams both ways until both queues are empty.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                self.deliver(true, t);
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                self.deliver(false, t);
            }
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
            if !moved {
                break;
            }
        }
    }

    fn deliver(&mut self, from_a: bool, t: Transmit) {
        self.log.push((from_a, t.clone()));
        if !(self.filter)(from_a, &t) {
            return;
        }
        let Proto::Udp { src_port, dst_port } = t.proto else {
            panic!("not UDP")
        };
        let (src, dst) = (
            SocketAddr::new(t.src, src_port),
            SocketAddr::new(t.dst, dst_port),
        );
        let to = if from_a { &mut self.b } else { &mut self.a };
        let _ = to.handle_datagram(self.now, dst, src, &t.payload);
    }

    /// Runs the clock to `until`, firing timers and pumping.
    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = end;
        self.pump();
    }

    fn start(&mut self) {
        let now = self.now;
        self.a
            .initiate(
                now,
                SocketAddr::new(A, 500),
                SocketAddr::new(B, 500),
                Some((IdPayload::gre_host(A), IdPayload::gre_host(B))),
            )
            .unwrap();
        self.pump();
    }
}

fn children(events: &[Event]) -> Vec<&dmvpn_ikev1::ChildSaUp> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChildUp { child, .. } => Some(&**child),
            _ => None,
        })
        .collect()
}

fn ups(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::IsakmpUp { .. }))
        .count()
}

/// The keys each side derived fit the other's: A's outbound SA is B's inbound one.
fn assert_pair(net: &Net) {
    let ca = children(&net.a_events);
    let cb = children(&net.b_events);
    assert_eq!(ca.len(), 1, "{:?}", net.a_events);
    assert_eq!(cb.len(), 1, "{:?}", net.b_events);
    let (a, b) = (ca[0], cb[0]);
    assert_eq!(a.outbound.spi, b.inbound.spi);
    assert_eq!(a.inbound.spi, b.outbound.spi);
    assert_eq!(a.outbound.keys, b.inbound.keys);
    assert_eq!(a.inbound.keys, b.outbound.keys);
    assert_ne!(a.inbound.keys, a.outbound.keys);
    assert_eq!(a.outbound.suite, b.inbound.suite);
}

#[test]
fn main_mode_and_quick_mode_without_pfs() {
    let mut net = Net::new(config(1, "cisco47"), config(2, "cisco47"));
    net.start();
    assert_eq!(ups(&net.a_events), 1);
    assert_eq!(ups(&net.b_events), 1);
    assert_pair(&net);
    let a = children(&net.a_events)[0];
    assert_eq!(a.inbound.mode, Mode::Transport);
    assert!(!a.udp_encap);
    // 6 Main Mode messages and 3 Quick Mode messages, nothing else.
    assert_eq!(net.log.len(), 9, "{:?}", net.log.len());
    assert_eq!(net.a.counters().isakmp_sas_established, 1);
    assert_eq!(net.b.counters().quick_modes, 1);
}

#[test]
fn quick_mode_with_pfs_and_ecp() {
    let mut a = config(3, "k");
    let mut b = config(4, "k");
    for c in [&mut a, &mut b] {
        c.policies = vec![Policy::parse("aes256-sha1-ecp256").unwrap()];
        c.pfs = Some(GroupDescription::ECP_256);
        c.transforms = vec![EspTransform {
            suite: Suite::parse("aes256-sha1").unwrap(),
            mode: Mode::Tunnel,
        }];
    }
    let mut net = Net::new(a, b);
    net.start();
    assert_pair(&net);
    assert_eq!(children(&net.a_events)[0].inbound.mode, Mode::Tunnel);
}

#[test]
fn a_responder_with_pfs_refuses_a_quick_mode_without() {
    let a = config(5, "k");
    let mut b = config(6, "k");
    b.pfs = Some(GroupDescription::MODP_2048);
    let mut net = Net::new(a, b);
    net.start();
    assert_eq!(ups(&net.a_events), 1);
    assert!(children(&net.a_events).is_empty());
    assert!(
        net.a_events
            .iter()
            .any(|e| matches!(e, Event::ChildFailed { .. })),
        "{:?}",
        net.a_events
    );
    assert!(net.b.counters().no_proposal_chosen >= 1);
}

#[test]
fn a_wrong_pre_shared_key_is_refused_and_counted() {
    let mut net = Net::new(config(7, "right"), config(8, "wrong"));
    net.start();
    net.run_for(Duration::from_secs(120));
    assert_eq!(ups(&net.a_events), 0);
    assert_eq!(ups(&net.b_events), 0);
    assert!(net.b.counters().auth_failures >= 1);
    assert!(
        net.b_events
            .iter()
            .any(|e| matches!(e, Event::Refused { .. }))
    );
    assert!(
        net.a_events.iter().any(|e| matches!(
            e,
            Event::IsakmpDown {
                reason: DownReason::Timeout,
                ..
            }
        )),
        "{:?}",
        net.a_events
    );
    // Retransmissions of the same bad message 5 are counted once each as a datagram, but the
    // SA waits: nothing was ever established, and both sides are clean at the end.
    assert_eq!(net.a.isakmp_sa_count(), 0);
    assert_eq!(net.b.isakmp_sa_count(), 0);
}

#[test]
fn aggressive_mode_is_refused_without_an_answer() {
    let mut net = Net::new(config(9, "k"), config(10, "k"));
    let attrs = IkeAttributes {
        encryption: Some(EncryptionAlgorithm::AES_CBC),
        key_length: Some(128),
        hash: Some(HashAlgorithm::SHA2_256),
        group: Some(GroupDescription::MODP_2048),
        auth_method: Some(AuthMethod::PRE_SHARED_KEY),
        lifetimes: vec![Lifetime::seconds(86_400)],
        ..IkeAttributes::default()
    };
    let msg = Message {
        cookie_i: 0x1122_3344_5566_7788,
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
            Payload::Ke(vec![7; 256]),
            Payload::Nonce(vec![8; 32]),
            Payload::Id(IdPayload::ip(A)),
        ]),
    };
    let now = net.now;
    let r = net.b.handle_datagram(
        now,
        SocketAddr::new(B, 500),
        SocketAddr::new(A, 500),
        &msg.to_vec().unwrap(),
    );
    assert!(matches!(r, Err(dmvpn_ikev1::Error::AggressiveModeRefused)));
    assert!(net.b.poll_transmit().is_none());
    assert_eq!(net.b.counters().aggressive_refused, 1);
    assert!(matches!(net.b.poll_event(), Some(Event::Refused { .. })));
    assert_eq!(net.b.isakmp_sa_count(), 0);
}

#[test]
fn forced_encapsulation_floats_to_4500() {
    let mut a = config(11, "k");
    a.force_encap = true;
    let mut net = Net::new(a, config(12, "k"));
    net.start();
    assert_pair(&net);
    let ca = children(&net.a_events)[0];
    assert!(ca.udp_encap);
    assert_eq!(ca.local.port(), 4500);
    assert_eq!(ca.remote.port(), 4500);
    // Messages 5 on are on 4500 with the non-ESP marker.
    let floated: Vec<_> = net
        .log
        .iter()
        .filter(|(_, t)| matches!(t.proto, Proto::Udp { src_port: 4500, .. }))
        .collect();
    assert_eq!(floated.len(), 5);
    assert!(floated.iter().all(|(_, t)| t.payload.starts_with(&[0; 4])));
    // A keeps the mapping open.
    net.run_for(Duration::from_secs(45));
    assert!(net.log.iter().any(|(a, t)| *a && t.payload == [0xff]));
}

#[test]
fn lost_messages_are_retransmitted_and_copies_answered() {
    let mut net = Net::new(config(13, "k"), config(14, "k"));
    // Drop the first copy of message 6 (B's second encrypted message) and of Quick Mode's
    // message 2: the IV chains must survive the copies.
    let mut seen_b = 0;
    net.filter = Box::new(move |from_a, _| {
        if !from_a {
            seen_b += 1;
            return seen_b != 3 && seen_b != 5;
        }
        true
    });
    net.start();
    net.run_for(Duration::from_secs(30));
    assert_pair(&net);
    assert!(net.a.counters().retransmits >= 1);
    assert!(net.b.counters().retransmits_answered + net.b.counters().retransmits >= 1);
}

#[test]
fn close_deletes_at_the_peer() {
    let mut net = Net::new(config(15, "k"), config(16, "k"));
    net.start();
    let sa = net.a.sa_for_peer(B).unwrap();
    let now = net.now;
    net.a.close(now, sa).unwrap();
    net.pump();
    assert!(
        net.b_events
            .iter()
            .any(|e| matches!(e, Event::ChildDeleted { .. }))
    );
    assert!(net.b_events.iter().any(|e| matches!(
        e,
        Event::IsakmpDown {
            reason: DownReason::DeletedByPeer,
            ..
        }
    )));
    assert_eq!(net.a.isakmp_sa_count(), 0);
    assert_eq!(net.b.isakmp_sa_count(), 0);
}

#[test]
fn dpd_declares_a_silent_peer_dead() {
    let mut a = config(17, "k");
    a.dpd = Some(Dpd::on_demand(
        Duration::from_secs(10),
        Duration::from_secs(3),
    ));
    let mut net = Net::new(a, config(18, "k"));
    net.start();
    // While B answers, A's R-U-THEREs are acknowledged.
    net.run_for(Duration::from_secs(25));
    assert!(net.a.counters().dpd_sent >= 1);
    assert_eq!(net.a.counters().dpd_acked, net.a.counters().dpd_sent);
    // B goes silent.
    net.filter = Box::new(|from_a, _| from_a);
    net.run_for(Duration::from_secs(40));
    assert!(
        net.a_events
            .iter()
            .any(|e| matches!(e, Event::PeerDead { .. }))
    );
    assert!(net.a_events.iter().any(|e| matches!(
        e,
        Event::IsakmpDown {
            reason: DownReason::PeerDead,
            ..
        }
    )));
}

#[test]
fn ipsec_sas_are_rekeyed_before_they_expire_and_the_old_ones_deleted() {
    let mut a = config(19, "k");
    let mut b = config(20, "k");
    a.ipsec_lifetime = Duration::from_secs(120);
    b.ipsec_lifetime = Duration::from_secs(120);
    let mut net = Net::new(a, b);
    net.start();
    net.run_for(Duration::from_secs(119));
    let rekeys = net
        .a_events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::ChildUp {
                    rekey_of: Some(_),
                    ..
                }
            )
        })
        .count();
    assert!(rekeys >= 1, "{:?}", net.a_events);
    assert!(
        net.b_events
            .iter()
            .any(|e| matches!(e, Event::ChildDeleted { .. }))
    );
    let sa = net.a.sa_for_peer(B).unwrap();
    assert_eq!(net.a.child_spis(sa).len(), 1);
    let sb = net.b.sa_for_peer(A).unwrap();
    assert_eq!(net.b.child_spis(sb).len(), 1);
}

#[test]
fn the_responders_shorter_lifetime_is_honoured() {
    let a = config(21, "k");
    let mut b = config(22, "k");
    b.ipsec_lifetime = Duration::from_secs(600);
    let mut net = Net::new(a, b);
    net.start();
    let ca = children(&net.a_events)[0];
    assert_eq!(
        ca.outbound.lifetimes.hard.time,
        Some(Duration::from_secs(600))
    );
}

#[test]
fn phase_1_is_rekeyed_and_the_ipsec_sas_move_to_the_new_sa() {
    let mut a = config(23, "k");
    a.policies[0].lifetime = Duration::from_secs(600);
    a.ipsec_lifetime = Duration::from_secs(3600);
    let mut b = config(24, "k");
    b.ipsec_lifetime = Duration::from_secs(3600);
    let mut net = Net::new(a, b);
    net.start();
    net.run_for(Duration::from_secs(700));
    assert!(
        net.a_events
            .iter()
            .any(|e| matches!(e, Event::IsakmpReplaced { .. })),
        "{:?}",
        net.a_events
    );
    assert_eq!(ups(&net.a_events), 2);
    let sa = net.a.sa_for_peer(B).unwrap();
    assert_eq!(net.a.child_spis(sa).len(), 1);
    let sb = net.b.sa_for_peer(A).unwrap();
    assert_eq!(net.b.child_spis(sb).len(), 1);
    assert_eq!(net.a.isakmp_sa_count(), 1);
    assert_eq!(net.b.isakmp_sa_count(), 1);
    // No IPsec SA was lost on the way.
    assert!(
        !net.a_events
            .iter()
            .any(|e| matches!(e, Event::ChildDeleted { .. }))
    );
}

#[test]
fn legacy_groups_need_the_opt_in_and_warn() {
    let mut a = config(25, "k");
    a.policies = vec![Policy::parse("aes128-sha1-modp1024").unwrap()];
    a.pfs = Some(GroupDescription::MODP_1024);
    let e = Endpoint::new(a.clone()).unwrap_err().to_string();
    assert!(e.contains("legacy"), "{e}");
    a.allow_legacy_groups = true;
    // The default provider does not carry them: refused with the group named, not a panic.
    let e = Endpoint::new(a.clone()).unwrap_err().to_string();
    assert!(e.contains("group"), "{e}");
    a.provider = a.provider.with_legacy_groups();
    let mut b = config(28, "k");
    b.policies = a.policies.clone();
    b.pfs = a.pfs;
    b.allow_legacy_groups = true;
    b.provider = b.provider.with_legacy_groups();
    let mut net = Net::new(a, b);
    net.start();
    assert_pair(&net);
    // A warning at every negotiation that used one: phase 1 and the Quick Mode's PFS.
    for events in [&net.a_events, &net.b_events] {
        let warnings: Vec<bool> = events
            .iter()
            .filter_map(|e| match e {
                Event::LegacyGroup { group, pfs, .. } => {
                    assert_eq!(*group, GroupDescription::MODP_1024);
                    Some(*pfs)
                }
                _ => None,
            })
            .collect();
        assert_eq!(warnings, [false, true], "{events:?}");
    }
}

#[test]
fn des_3des_and_md5_are_refused_with_the_replacement() {
    for p in [
        "des-sha1-modp2048",
        "3des-sha1-modp2048",
        "aes128-md5-modp2048",
    ] {
        let e = Policy::parse(p).unwrap_err().to_string();
        assert!(e.contains("use") || e.contains("MUST NOT"), "{p}: {e}");
    }
}

#[test]
fn the_responder_of_a_rekey_keeps_the_old_pair_until_the_peer_deletes_it_or_it_expires() {
    let mut a = config(26, "k");
    let mut b = config(27, "k");
    a.ipsec_lifetime = Duration::from_secs(200);
    b.ipsec_lifetime = Duration::from_secs(200);
    let mut net = Net::new(a, b);
    // A's Informationals (its Delete of the old pair) never arrive, as with a peer that keeps
    // replaced SAs to their end.
    net.filter = Box::new(|from_a, t| !(from_a && t.payload.get(18) == Some(&5)));
    net.start();
    net.run_for(Duration::from_secs(195));
    let sb = net.b.sa_for_peer(A).unwrap();
    // B answered A's rekey: the new pair and the old one, which B did not rekey again.
    assert_eq!(net.b.child_spis(sb).len(), 2, "{:?}", net.b_events);
    let quick_modes_by_b = net
        .b_events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::ChildUp {
                    rekey_of: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(quick_modes_by_b, 1);
    assert_eq!(net.b.counters().quick_modes, 2);
    // At its end the old pair goes (and B says so).
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.b.child_spis(sb).len(), 1);
}

#[test]
fn a_responder_commit_bit_holds_the_sas_until_connected() {
    // B's Quick Mode message 2 with the commit bit set (the header is not under HASH(2)):
    // A must not use the SAs before B's CONNECTED (RFC 2408 §4.12), which B never sends here,
    // so A's Quick Mode fails when it has waited long enough.
    let mut net = Net::new(config(29, "k"), config(30, "k"));
    let now = net.now;
    net.a
        .initiate(
            now,
            SocketAddr::new(A, 500),
            SocketAddr::new(B, 500),
            Some((IdPayload::gre_host(A), IdPayload::gre_host(B))),
        )
        .unwrap();
    // Pump by hand, setting C on B's Quick Mode answer.
    for _ in 0..20 {
        while let Some(t) = net.a.poll_transmit() {
            let Proto::Udp { src_port, dst_port } = t.proto else {
                panic!()
            };
            let _ = net.b.handle_datagram(
                now,
                SocketAddr::new(t.dst, dst_port),
                SocketAddr::new(t.src, src_port),
                &t.payload,
            );
        }
        while let Some(mut t) = net.b.poll_transmit() {
            let Proto::Udp { src_port, dst_port } = t.proto else {
                panic!()
            };
            if t.payload.get(18) == Some(&32) {
                t.payload[19] |= 0x02;
            }
            let _ = net.a.handle_datagram(
                now,
                SocketAddr::new(t.dst, dst_port),
                SocketAddr::new(t.src, src_port),
                &t.payload,
            );
        }
    }
    while let Some(e) = net.a.poll_event() {
        net.a_events.push(e);
    }
    assert_eq!(ups(&net.a_events), 1);
    assert!(children(&net.a_events).is_empty(), "{:?}", net.a_events);
    net.run_for(Duration::from_secs(90));
    assert!(children(&net.a_events).is_empty());
    assert!(
        net.a_events
            .iter()
            .any(|e| matches!(e, Event::ChildFailed { .. })),
        "{:?}",
        net.a_events
    );
}
