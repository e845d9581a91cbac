//! Deterministic scenarios: NHRP clients and servers on netsim's virtual clock and NBMA network
//! (seeded delay and loss, NAT boxes, crashes), every packet wrapped in GRE (0x2001) and
//! recorded to `<target>/nhrp-scenarios/<name>.pcap`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dmvpn_netsim::{HostId, LinkProfile, MachineHost, NatConfig, Sim, Transmit};
use dmvpn_nhrp::wire::{
    Cie, ErrorCode, Extension, ExtensionBody, ExtensionType, Node, PacketType, Repr, Secret,
};
use dmvpn_nhrp::{
    CacheEvent, Client, ClientConfig, EntryType, Error, Event, MaxSend, OverQuota, Prefix,
    RemoveReason, Resolution, ResolutionMode, Route, Server, ServerConfig,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

use common::role::{NHRP, Role};

type Nhrp = MachineHost<Role>;

trait NhrpHost {
    /// Sends `repr` from this host to `dst`, in GRE.
    fn send_raw(&mut self, dst: IpAddr, repr: &Repr);
    /// The NHRP packets received (that parse), with their NBMA source.
    fn nhrp_received(&self) -> Vec<(IpAddr, Repr)>;
}

impl NhrpHost for Nhrp {
    fn send_raw(&mut self, dst: IpAddr, repr: &Repr) {
        let src = dmvpn_netsim::Host::addr(self);
        let payload = repr.to_bytes().unwrap();
        self.send(Transmit {
            src,
            dst,
            proto: NHRP,
            payload,
        });
    }
    fn nhrp_received(&self) -> Vec<(IpAddr, Repr)> {
        self.received()
            .iter()
            .filter_map(|(_, t)| Some((t.src, Repr::parse_bytes(&t.payload).ok()?)))
            .collect()
    }
}

struct Scenario {
    sim: dmvpn_netsim::Scenario<Nhrp>,
}

impl Scenario {
    fn new(name: &'static str, seed: u64) -> Scenario {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../nhrp-scenarios");
        Scenario {
            sim: dmvpn_netsim::Scenario::new(name, seed, dir),
        }
    }
    fn now(&self) -> Instant {
        self.sim.now()
    }
    fn add(&mut self, addr: &str, role: Role) -> HostId {
        self.sim.add_host(Nhrp::new(ip(addr), role))
    }
    fn h(&mut self, id: HostId) -> &mut Nhrp {
        self.sim.host_mut(id).unwrap()
    }
    fn get(&self, id: HostId) -> &Nhrp {
        self.sim.host(id).unwrap()
    }
    fn run(&mut self, d: Duration) {
        self.sim.run_for(d).unwrap();
    }
    fn run_until(&mut self, limit: Duration, pred: impl FnMut(&Sim<Nhrp>) -> bool) -> bool {
        self.sim.run_for_until(limit, pred).unwrap()
    }
    /// Writes the pcap and returns the NHRP packet types in it; every datagram's GRE was good.
    fn finish(mut self) -> Vec<PacketType> {
        for (_, h) in self.sim.hosts() {
            assert!(h.rejected().is_empty(), "{:?}", h.rejected());
        }
        let rec = self.sim.finish().unwrap();
        let mut types: Vec<PacketType> = rec
            .frames()
            .iter()
            .filter_map(|(_, f)| {
                // IPv4 (20) + GRE (4) + NHRP: the type is byte 17 of the NHRP header.
                f.get(20 + 4 + 17).map(|&t| PacketType(t))
            })
            .collect();
        types.sort();
        types.dedup();
        types
    }
}

fn hub_config(nbma: &str, proto: &str) -> ServerConfig {
    let mut c = ServerConfig::new(ip(nbma), ip(proto));
    c.common.authentication = Some(Secret::from(&b"DMVPN"[..]));
    c.holdtime = 300;
    c
}

fn spoke_config(nbma: &str, proto: &str, hubs: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new(ip(nbma), ip(proto));
    for (p, n) in hubs {
        c = c.with_nhs(ip(p), ip(n));
    }
    c.common.authentication = Some(Secret::from(&b"DMVPN"[..]));
    c.holdtime = 300;
    c
}

fn hub(now: Instant, cfg: ServerConfig) -> Role {
    Role::Server(Box::new(Server::new(now, cfg).unwrap()))
}

fn spoke(now: Instant, cfg: ClientConfig) -> Role {
    Role::Client(Box::new(Client::new(now, cfg).unwrap()))
}

const HUB: (&str, &str) = ("10.0.0.1", "172.17.0.1");
const HUB2: (&str, &str) = ("10.0.0.254", "172.17.0.2");

fn registered(sim: &Sim<Nhrp>, hub: HostId, addr: &str) -> bool {
    sim.host(hub)
        .is_some_and(|h| h.s().registration(ip(addr)).is_some())
}

fn dynamic_nbma(n: &Nhrp, addr: &str) -> Option<IpAddr> {
    n.c()
        .cache()
        .lookup(ip(addr))
        .filter(|e| e.kind == EntryType::Dynamic)
        .and_then(|e| e.effective_nbma())
}

/// Hub and two spokes registered (authoritative or forwarding hub).
fn three_nodes(name: &'static str, seed: u64, mode: ResolutionMode) -> (Scenario, [HostId; 3]) {
    let mut s = Scenario::new(name, seed);
    let now = s.now();
    let mut hc = hub_config(HUB.1, HUB.0);
    hc.resolution = mode;
    let h = s.add(HUB.1, hub(now, hc));
    let a = s.add(
        "172.16.1.24",
        spoke(now, spoke_config("172.16.1.24", "10.0.0.2", &[HUB])),
    );
    let b = s.add(
        "172.16.2.75",
        spoke(now, spoke_config("172.16.2.75", "10.0.0.3", &[HUB])),
    );
    s.h(a).client().register(now);
    s.h(b).client().register(now);
    assert!(s.run_until(secs(5), |sim| registered(sim, h, "10.0.0.2")
        && registered(sim, h, "10.0.0.3")));
    s.run(secs(1));
    (s, [h, a, b])
}

#[test]
fn seed_003_spoke_to_spoke_steps_1_to_11() {
    let (mut s, [h, a, b]) =
        three_nodes("seed003-spoke-to-spoke", 3, ResolutionMode::Authoritative);
    assert!(
        s.get(a)
            .has_event(|e| *e == Event::NhsUp { nhs: ip(HUB.0) })
    );
    // The hub learned both spokes dynamically, as `show ip nhrp` shows.
    let now = s.now();
    let shown = s.get(h).s().cache().show(now, "Tunnel0").to_string();
    assert!(
        shown.contains("10.0.0.2/32 via 10.0.0.2, Tunnel0 created 00:00:01, expire 00:04:59"),
        "{shown}"
    );
    assert!(
        shown.contains(
            "Type: dynamic, Flags: authoritative unique registered\n  NBMA address: 172.16.1.24"
        ),
        "{shown}"
    );
    assert_eq!(s.get(h).s().multicast_nbmas().len(), 2);

    // Steps 1-4: spoke 1 has no mapping for 10.0.0.3, asks its NHS, the hub answers.
    assert_eq!(
        s.h(a).client().resolve(now, ip("10.0.0.3")).unwrap(),
        Resolution::Pending
    );
    assert_eq!(
        s.get(a).c().cache().lookup(ip("10.0.0.3")).unwrap().kind,
        EntryType::Incomplete
    );
    assert!(s.run_until(secs(2), |sim| {
        dynamic_nbma(sim.host(a).unwrap(), "10.0.0.3").is_some()
    }));
    assert_eq!(dynamic_nbma(s.get(a), "10.0.0.3"), Some(ip("172.16.2.75")));
    assert!(s.get(a).has_event(|e| matches!(e, Event::Resolved { target, nbma, .. } if *target == ip("10.0.0.3") && *nbma == ip("172.16.2.75"))));
    let now = s.now();
    assert_eq!(
        s.h(a).client().resolve(now, ip("10.0.0.3")).unwrap(),
        Resolution::Cached(ip("172.16.2.75"))
    );
    // Steps 7-10: the reverse direction.
    assert!(dynamic_nbma(s.get(b), "10.0.0.2").is_none());
    s.h(b).client().resolve(now, ip("10.0.0.2")).unwrap();
    assert!(s.run_until(secs(2), |sim| {
        dynamic_nbma(sim.host(b).unwrap(), "10.0.0.2").is_some()
    }));
    assert_eq!(dynamic_nbma(s.get(b), "10.0.0.2"), Some(ip("172.16.1.24")));

    // Step 11: spoke 1 keeps using its mapping and uses it in the last minute: refreshed.
    let created = s
        .get(a)
        .c()
        .cache()
        .lookup(ip("10.0.0.3"))
        .unwrap()
        .expires
        .unwrap();
    let sent_before = s
        .get(a)
        .c()
        .traffic(s.now())
        .sent(PacketType::RESOLUTION_REQUEST);
    s.run(secs(250));
    let now = s.now();
    assert_eq!(
        s.h(a).client().mark_used(now, ip("10.0.0.3")),
        Some(ip("172.16.2.75"))
    );
    s.run(secs(5));
    assert_eq!(
        s.get(a)
            .c()
            .traffic(s.now())
            .sent(PacketType::RESOLUTION_REQUEST),
        sent_before + 1
    );
    let refreshed = s
        .get(a)
        .c()
        .cache()
        .lookup(ip("10.0.0.3"))
        .unwrap()
        .expires
        .unwrap();
    assert!(
        refreshed > created + secs(200),
        "refresh extended the mapping"
    );
    // Spoke 2 did not use its mapping: it expires and says so (IPsec tears down the SAs).
    s.run(secs(60));
    assert!(dynamic_nbma(s.get(b), "10.0.0.2").is_none());
    assert!(s.get(b).has_event(|e| matches!(e, Event::Cache(CacheEvent::Removed(en, RemoveReason::Expired)) if en.prefix == Prefix::host(ip("10.0.0.2")))));
    assert!(dynamic_nbma(s.get(a), "10.0.0.3").is_some());
    // Spokes kept registering every holdtime/3: the hub still has both.
    assert!(registered(&s.sim, h, "10.0.0.2") && registered(&s.sim, h, "10.0.0.3"));
    let traffic = s.get(h).s().traffic(s.now()).to_string();
    assert!(
        traffic.starts_with("Tunnel0: Max-send limit:100Pkts/10Sec, Usage:"),
        "{traffic}"
    );
    assert!(
        s.get(h).errors().is_empty() && s.get(a).errors().is_empty(),
        "{:?}",
        s.get(a).errors()
    );
    s.finish();
}

#[test]
fn phase_2_hub_forwards_and_target_answers_directly() {
    let (mut s, [_h, a, b]) =
        three_nodes("phase2-forwarded-resolution", 5, ResolutionMode::Forward);
    let now = s.now();
    s.h(a).client().resolve(now, ip("10.0.0.3")).unwrap();
    assert!(s.run_until(secs(2), |sim| {
        dynamic_nbma(sim.host(a).unwrap(), "10.0.0.3").is_some()
    }));
    // The hub forwarded (hop count 254, itself in the forward transit record) to spoke 2 ...
    let (from, fwd) = s
        .get(b)
        .nhrp_received()
        .into_iter()
        .find(|(_, r)| r.packet_type() == PacketType::RESOLUTION_REQUEST)
        .unwrap();
    assert_eq!(from, ip(HUB.1));
    assert_eq!(fwd.hop_count, 254);
    let transit = fwd
        .extension(ExtensionType::FORWARD_TRANSIT_NHS)
        .unwrap()
        .cies()
        .unwrap();
    assert_eq!(transit[0].client_proto_addr.ip(), Some(ip(HUB.0)));
    // ... which answered spoke 1 directly, and both installed a mapping.
    let (from, _) = s
        .get(a)
        .nhrp_received()
        .into_iter()
        .find(|(_, r)| r.packet_type() == PacketType::RESOLUTION_REPLY)
        .unwrap();
    assert_eq!(from, ip("172.16.2.75"));
    assert_eq!(dynamic_nbma(s.get(b), "10.0.0.2"), Some(ip("172.16.1.24")));
    let now = s.now();
    assert_eq!(
        s.h(b).client().resolve(now, ip("10.0.0.2")).unwrap(),
        Resolution::Cached(ip("172.16.1.24"))
    );
    // Nobody in the cloud: a negative answer.
    s.h(a).client().resolve(now, ip("10.0.0.99")).unwrap();
    assert!(s.run_until(secs(2), |sim| {
        sim.host(a)
            .unwrap()
            .has_event(|e| matches!(e, Event::ResolutionNegative { .. }))
    }));
    assert_eq!(
        s.get(a).c().cache().lookup(ip("10.0.0.99")).unwrap().kind,
        EntryType::Negative
    );
    s.finish();
}

#[test]
fn dual_nhs_lose_one_then_both_then_recover() {
    let mut s = Scenario::new("dual-nhs", 11);
    let now = s.now();
    let h1 = s.add(HUB.1, hub(now, hub_config(HUB.1, HUB.0)));
    let h2 = s.add(HUB2.1, hub(now, hub_config(HUB2.1, HUB2.0)));
    let mut cfg = spoke_config("172.16.1.24", "10.0.0.2", &[HUB, HUB2]);
    cfg.holdtime = 30;
    let a = s.add("172.16.1.24", spoke(now, cfg));
    s.h(a).client().register(now);
    s.run(secs(1));
    assert!(registered(&s.sim, h1, "10.0.0.2") && registered(&s.sim, h2, "10.0.0.2"));
    assert!(s.get(a).c().nhs_status().iter().all(|n| n.up));

    let saved1 = s.sim.crash(h1).unwrap();
    s.run(secs(60));
    assert!(
        s.get(a)
            .has_event(|e| *e == Event::NhsDown { nhs: ip(HUB.0) })
    );
    assert!(
        !s.get(a)
            .has_event(|e| *e == Event::NhsDown { nhs: ip(HUB2.0) })
    );
    assert!(!s.get(a).has_event(|e| *e == Event::AllNhsDown));
    let st = s.get(a).c().nhs_status();
    assert!(!st[0].up && st[1].up);

    let _saved2 = s.sim.crash(h2).unwrap();
    s.run(secs(60));
    assert!(
        s.get(a)
            .has_event(|e| *e == Event::NhsDown { nhs: ip(HUB2.0) })
    );
    assert!(s.get(a).has_event(|e| *e == Event::AllNhsDown));

    // Both hubs come back (fresh state): the spoke's back-off (at most 64 s) re-registers it.
    let now = s.now();
    drop(saved1);
    s.sim
        .restart(h1, Nhrp::new(ip(HUB.1), hub(now, hub_config(HUB.1, HUB.0))));
    s.sim.restart(
        h2,
        Nhrp::new(ip(HUB2.1), hub(now, hub_config(HUB2.1, HUB2.0))),
    );
    assert!(s.run_until(secs(70), |sim| registered(sim, h1, "10.0.0.2")
        && registered(sim, h2, "10.0.0.2")));
    s.run(secs(1));
    let ups = s
        .get(a)
        .events()
        .iter()
        .filter(|(_, e)| matches!(e, Event::NhsUp { .. }))
        .count();
    assert_eq!(ups, 4);
    assert!(s.get(a).c().nhs_status().iter().all(|n| n.up));
    s.finish();
}

#[test]
fn unique_address_conflict_gets_code_14() {
    let mut s = Scenario::new("unique-conflict", 13);
    let now = s.now();
    let h = s.add(HUB.1, hub(now, hub_config(HUB.1, HUB.0)));
    let a = s.add(
        "172.16.1.24",
        spoke(now, spoke_config("172.16.1.24", "10.0.0.2", &[HUB])),
    );
    let intruder = s.add(
        "172.16.9.9",
        spoke(now, spoke_config("172.16.9.9", "10.0.0.2", &[HUB])),
    );
    s.h(a).client().register(now);
    s.run(secs(1));
    let now = s.now();
    s.h(intruder).client().register(now);
    s.run(secs(1));
    assert!(
        s.get(intruder)
            .has_event(|e| matches!(e, Event::RegistrationRejected { code, .. } if code.0 == 14))
    );
    assert!(s.get(h).has_event(|e| matches!(e, Event::RegistrationConflict { holder, claimant, .. } if *holder == ip("172.16.1.24") && *claimant == ip("172.16.9.9"))));
    assert_eq!(
        s.get(h).s().registration(ip("10.0.0.2")).unwrap().nbma,
        Some(ip("172.16.1.24"))
    );
    // No tight loop: over a minute the intruder tries again only at its registration interval.
    let before = s
        .get(intruder)
        .c()
        .traffic(s.now())
        .sent(PacketType::REGISTRATION_REQUEST);
    s.run(secs(60));
    let after = s
        .get(intruder)
        .c()
        .traffic(s.now())
        .sent(PacketType::REGISTRATION_REQUEST);
    assert!(after - before <= 1, "{before} -> {after}");
    s.finish();
}

#[test]
fn nat_detection_and_post_nat_resolution() {
    let mut s = Scenario::new("nat", 17);
    s.sim.network_mut().add_nat(NatConfig {
        public: vec![ip("203.0.113.10")],
        inside: vec![ip("192.168.0.2")],
    });
    let now = s.now();
    let mut hc = hub_config(HUB.1, HUB.0);
    hc.resolution = ResolutionMode::Authoritative;
    let h = s.add(HUB.1, hub(now, hc));
    let natted = s.add(
        "192.168.0.2",
        spoke(now, spoke_config("192.168.0.2", "10.0.0.2", &[HUB])),
    );
    let b = s.add(
        "172.16.2.75",
        spoke(now, spoke_config("172.16.2.75", "10.0.0.3", &[HUB])),
    );
    s.h(natted).client().register(now);
    s.h(b).client().register(now);
    s.run(secs(1));
    let reg = s.get(h).s().registration(ip("10.0.0.2")).unwrap();
    assert_eq!(reg.nbma, Some(ip("192.168.0.2")));
    assert_eq!(reg.nat_nbma, Some(ip("203.0.113.10")));
    assert!(s.get(h).s().multicast_nbmas().contains(&ip("203.0.113.10")));
    assert!(s.get(natted).has_event(|e| matches!(e, Event::NatDetected { public_nbma, .. } if *public_nbma == ip("203.0.113.10"))));
    assert_eq!(s.get(natted).c().public_nbma(), Some(ip("203.0.113.10")));
    let shown = s.get(h).s().cache().show(s.now(), "Tunnel0").to_string();
    assert!(
        shown.contains("NBMA address: 203.0.113.10\n    (Claimed NBMA address: 192.168.0.2)"),
        "{shown}"
    );
    // Spoke B resolves the natted spoke: it gets the post-NAT address.
    let now = s.now();
    s.h(b).client().resolve(now, ip("10.0.0.2")).unwrap();
    s.run(secs(1));
    assert_eq!(dynamic_nbma(s.get(b), "10.0.0.2"), Some(ip("203.0.113.10")));
    s.finish();
}

#[test]
fn purge_both_ways() {
    let (mut s, [h, a, b]) = three_nodes("purge", 19, ResolutionMode::Authoritative);
    let now = s.now();
    s.h(a).client().resolve(now, ip("10.0.0.3")).unwrap();
    s.run(secs(1));
    assert!(dynamic_nbma(s.get(a), "10.0.0.3").is_some());
    // Hub -> spoke: the hub purges spoke 2's registration and tells spoke 1, which resolved it.
    let now = s.now();
    assert!(s.h(h).server().purge(now, ip("10.0.0.3")));
    s.run(secs(1));
    assert!(dynamic_nbma(s.get(a), "10.0.0.3").is_none());
    assert!(s.get(a).has_event(|e| matches!(e, Event::Cache(CacheEvent::Removed(en, RemoveReason::Purged)) if en.next_hop == ip("10.0.0.3"))));
    assert_eq!(
        s.get(h)
            .s()
            .traffic(s.now())
            .received(PacketType::PURGE_REPLY),
        1
    );
    // Spoke 2 re-registers at its next interval; then it shuts down gracefully: spoke -> hub.
    s.run(secs(101));
    assert!(registered(&s.sim, h, "10.0.0.3"));
    let now = s.now();
    s.h(b).client().shutdown(now);
    s.run(secs(1));
    assert!(!registered(&s.sim, h, "10.0.0.3"));
    assert_eq!(
        s.get(b)
            .c()
            .traffic(s.now())
            .received(PacketType::PURGE_REPLY),
        1
    );
    assert!(s.get(h).has_event(|e| matches!(e, Event::Cache(CacheEvent::Removed(en, RemoveReason::Purged)) if en.next_hop == ip("10.0.0.3"))));
    assert!(s.get(h).errors().is_empty(), "{:?}", s.get(h).errors());
    s.finish();
}

#[test]
fn authentication_mismatch_is_dropped_and_counted() {
    let mut s = Scenario::new("auth-mismatch", 23);
    let now = s.now();
    let mut hc = hub_config(HUB.1, HUB.0);
    hc.common.authentication_failure_indication = true;
    let h = s.add(HUB.1, hub(now, hc));
    let mut cfg = spoke_config("172.16.1.24", "10.0.0.2", &[HUB]);
    cfg.common.authentication = Some(Secret::from(&b"WRONG"[..]));
    let a = s.add("172.16.1.24", spoke(now, cfg));
    s.h(a).client().register(now);
    s.run(secs(2));
    assert!(!registered(&s.sim, h, "10.0.0.2"));
    assert!(s.get(h).s().stats().authentication_failures >= 1);
    assert!(matches!(
        s.get(h).errors()[0].1,
        Error::AuthenticationFailure
    ));
    // The hub said so with an Error Indication (no extensions), which the spoke accepts.
    assert!(s.get(a).has_event(|e| matches!(e, Event::ErrorIndication { code, .. } if *code == ErrorCode::AUTHENTICATION_FAILURE)));
    s.finish();
}

#[test]
fn max_send_quota_holds_the_101st_packet() {
    let mut s = Scenario::new("max-send", 29);
    let now = s.now();
    let mut hc = hub_config(HUB.1, HUB.0);
    hc.resolution = ResolutionMode::Authoritative;
    let h = s.add(HUB.1, hub(now, hc));
    let mut cfg = spoke_config("172.16.1.24", "10.0.0.2", &[HUB]);
    cfg.max_pending = 200;
    cfg.common.max_send = MaxSend {
        over_quota: OverQuota::Hold,
        ..MaxSend::default()
    };
    let a = s.add("172.16.1.24", spoke(now, cfg));
    s.h(a).client().register(now);
    s.run(secs(1));
    let now = s.now();
    // 1 registration + 120 resolutions at one instant: 99 more fit in the 10 s window.
    for i in 0..120u8 {
        s.h(a)
            .client()
            .resolve(now, IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)))
            .unwrap();
    }
    let t = s.get(a).c().traffic(now);
    assert_eq!(t.sent.iter().sum::<u64>(), 100);
    assert!(t.to_string().contains("Usage:100%"), "{t}");
    assert_eq!(s.get(a).c().stats().over_quota, 21);
    assert_eq!(s.get(a).c().queued().2, 21);
    s.h(a).drain_events(now);
    assert!(s.get(a).has_event(|e| matches!(
        e,
        Event::QuotaExceeded {
            limit: 100,
            held: true
        }
    )));
    // The held ones go out when the window moves on (and then retransmissions too).
    s.run(secs(15));
    assert_eq!(s.get(a).c().queued().2, 0);
    assert!(
        s.get(h)
            .s()
            .traffic(s.now())
            .received(PacketType::RESOLUTION_REQUEST)
            >= 120
    );
    // In drop mode the 101st is dropped.
    let mut cfg = spoke_config("172.16.1.25", "10.0.0.4", &[HUB]);
    cfg.max_pending = 200;
    cfg.common.max_send.over_quota = OverQuota::Drop;
    let now = s.now();
    let mut c = Client::new(now, cfg).unwrap();
    for i in 0..101u8 {
        c.resolve(now, IpAddr::V4(Ipv4Addr::new(10, 2, 0, i)))
            .unwrap();
    }
    assert_eq!(c.traffic(now).sent.iter().sum::<u64>(), 100);
    assert_eq!(c.stats().quota_dropped, 1);
    assert_eq!(std::iter::from_fn(|| c.poll_transmit()).count(), 100);
    s.finish();
}

#[test]
fn thirty_percent_loss_still_converges() {
    let mut s = Scenario::new("loss-30", 31);
    s.sim
        .network_mut()
        .set_default_link(LinkProfile::lossy(0.3));
    let now = s.now();
    let h = s.add(HUB.1, hub(now, hub_config(HUB.1, HUB.0)));
    let mut spokes = Vec::new();
    for i in 2..6u8 {
        let nbma = format!("172.16.{i}.1");
        let proto = format!("10.0.0.{i}");
        let mut cfg = spoke_config(&nbma, &proto, &[HUB]);
        cfg.resolution_attempts = 12;
        let nbma: &'static str = Box::leak(nbma.into_boxed_str());
        spokes.push(s.add(nbma, spoke(now, cfg)));
    }
    for &sp in &spokes {
        s.h(sp).client().register(now);
    }
    assert!(s.run_until(secs(300), |sim| (2..6).all(|i| registered(
        sim,
        h,
        &format!("10.0.0.{i}")
    ))));
    let now = s.now();
    for (k, &sp) in spokes.iter().enumerate() {
        let target = format!("10.0.0.{}", (k + 1) % 4 + 2);
        s.h(sp).client().resolve(now, ip(&target)).unwrap();
    }
    assert!(s.run_until(secs(600), |sim| spokes.iter().enumerate().all(
        |(k, &sp)| {
            dynamic_nbma(
                sim.host(sp).unwrap(),
                &format!("10.0.0.{}", (k + 1) % 4 + 2),
            )
            .is_some()
        }
    )));
    for (k, &sp) in spokes.iter().enumerate() {
        let target = (k + 1) % 4 + 2;
        assert_eq!(
            dynamic_nbma(s.get(sp), &format!("10.0.0.{target}")),
            Some(ip(&format!("172.16.{target}.1")))
        );
    }
    assert!(s.sim.network().stats().lost > 0);
    s.finish();
}

#[test]
fn spoofed_resolution_reply_is_ignored() {
    let (mut s, [h, a, _b]) = three_nodes("spoofed-reply", 37, ResolutionMode::Authoritative);
    let attacker = s.add("198.51.100.66", Role::Raw);
    // Take the hub off the air so that only the forgery can answer.
    let saved = s.sim.crash(h).unwrap();
    let now = s.now();
    s.h(a).client().resolve(now, ip("10.0.0.3")).unwrap();
    s.run(Duration::from_millis(100));
    // A's request as recorded (IPv4 20 + GRE 4 + NHRP): request IDs are drawn from a key, so
    // the attacker is handed the real one here, as if it were on the path.
    let request_id = s
        .sim
        .network()
        .recorder()
        .unwrap()
        .frames()
        .iter()
        .rev()
        .find_map(|(_, f)| {
            Repr::parse_bytes(f.get(24..)?)
                .ok()
                .filter(|r| r.packet_type() == PacketType::RESOLUTION_REQUEST)
        })
        .unwrap()
        .request_id()
        .unwrap();
    assert_ne!(request_id, 999);
    let me = Node::new(ip("172.16.1.24"), ip("10.0.0.2"));
    let evil = Node::new(ip("198.51.100.66"), ip("10.0.0.3"));
    let cie = Cie {
        prefix_len: 32,
        holding_time: 300,
        client_nbma_addr: ip("198.51.100.66").into(),
        client_proto_addr: ip("10.0.0.3").into(),
        ..Cie::default()
    };
    // Wrong request ID (the attacker guesses), then the right ID for another address.
    for (id, target) in [(999u32, "10.0.0.3"), (request_id, "10.0.0.9")] {
        let fake = Repr::resolution_request(id, &me, ip(target), 300, 1400)
            .reply(&evil, vec![cie.clone()])
            .unwrap()
            .with_authentication(b"DMVPN")
            .unwrap();
        s.h(attacker).send_raw(ip("172.16.1.24"), &fake);
    }
    s.run(Duration::from_millis(100));
    assert_eq!(s.get(a).c().stats().unmatched_replies, 2);
    assert!(
        s.get(a)
            .errors()
            .iter()
            .all(|(_, e)| matches!(e, Error::UnmatchedReply { .. }))
    );
    assert!(dynamic_nbma(s.get(a), "10.0.0.3").is_none());
    // The real hub comes back and the retransmitted request gets the genuine answer.
    s.sim.restart(h, saved);
    s.run(secs(5));
    assert_eq!(dynamic_nbma(s.get(a), "10.0.0.3"), Some(ip("172.16.2.75")));
    s.finish();
}

fn ipv4_packet(src: &str, dst: &str) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (ip(src), ip(dst)) else {
        panic!()
    };
    let mut p = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0];
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    let sum = dmvpn_wire::checksum::checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&[8, 0, 0xf7, 0xff, 0, 0, 0, 0]);
    p
}

#[test]
fn traffic_indication_leads_to_a_shortcut() {
    let mut s = Scenario::new("phase3-shortcut", 41);
    let now = s.now();
    let mut hc = hub_config(HUB.1, HUB.0);
    hc.routes = vec![
        Route {
            prefix: Prefix::new(ip("192.168.1.0"), 24),
            next_hop: ip("10.0.0.2"),
        },
        Route {
            prefix: Prefix::new(ip("192.168.2.0"), 24),
            next_hop: ip("10.0.0.3"),
        },
    ];
    let h = s.add(HUB.1, hub(now, hc));
    let mut ca = spoke_config("172.16.1.24", "10.0.0.2", &[HUB]);
    ca.local_prefixes = vec![Prefix::new(ip("192.168.1.0"), 24)];
    let mut cb = spoke_config("172.16.2.75", "10.0.0.3", &[HUB]);
    cb.local_prefixes = vec![Prefix::new(ip("192.168.2.0"), 24)];
    let a = s.add("172.16.1.24", spoke(now, ca));
    let b = s.add("172.16.2.75", spoke(now, cb));
    s.h(a).client().register(now);
    s.h(b).client().register(now);
    s.run(secs(1));
    // Spoke 1 sent 192.168.1.2 -> 192.168.2.3 through the hub, which sent it back out the
    // cloud: redirect, once per pair per interval.
    let data = ipv4_packet("192.168.1.2", "192.168.2.3");
    let now = s.now();
    assert!(
        s.h(h)
            .server()
            .note_forwarded(now, ip("172.16.1.24"), &data)
            .unwrap()
    );
    assert!(
        !s.h(h)
            .server()
            .note_forwarded(now, ip("172.16.1.24"), &data)
            .unwrap()
    );
    s.run(secs(1));
    assert!(s.get(a).has_event(|e| matches!(e, Event::Shortcut { prefix, next_hop, nbma }
        if *prefix == Prefix::new(ip("192.168.2.0"), 24) && *next_hop == ip("10.0.0.3") && *nbma == ip("172.16.2.75"))));
    let e = s.get(a).c().cache().lookup(ip("192.168.2.200")).unwrap();
    assert_eq!((e.kind, e.next_hop), (EntryType::Dynamic, ip("10.0.0.3")));
    assert_eq!(
        s.get(h)
            .s()
            .traffic(s.now())
            .sent(PacketType::TRAFFIC_INDICATION),
        1
    );
    s.finish();
}

fn raw_request(id: u32, from: (&str, &str), target: &str) -> Repr {
    Repr::resolution_request(
        id,
        &Node::new(ip(from.0), ip(from.1)),
        ip(target),
        300,
        1400,
    )
}

#[test]
fn error_indications_for_unknown_extension_hop_count_and_loop() {
    let mut s = Scenario::new("error-indications", 43);
    let now = s.now();
    let mut hc = hub_config(HUB.1, HUB.0);
    hc.next_nhs = Some(dmvpn_nhrp::Nhs {
        protocol_addr: ip("10.0.0.254"),
        nbma_addr: Some(ip("172.17.0.2")),
    });
    let h = s.add(HUB.1, hub(now, hc));
    let _upper = s.add("172.17.0.2", Role::Raw);
    let r = s.add("172.16.7.7", Role::Raw);
    let me = ("172.16.7.7", "10.0.0.7");
    // 1. An unknown compulsory extension.
    let unknown = raw_request(1, me, "10.0.0.3")
        .with_extension(Extension {
            compulsory: true,
            body: ExtensionBody::Unknown {
                ext_type: ExtensionType(0x1234),
                data: vec![1, 2, 3, 4],
            },
        })
        .with_authentication(b"DMVPN")
        .unwrap();
    // 2. Hop count exhausted: an unknown destination must be forwarded, but hop count is 1.
    let tired = raw_request(2, me, "10.9.9.9")
        .with_hop_count(1)
        .with_authentication(b"DMVPN")
        .unwrap();
    // 3. A loop: the hub is already in the forward transit record.
    let mut looped = raw_request(3, me, "10.9.9.9")
        .with_authentication(b"DMVPN")
        .unwrap();
    if let Some(Extension {
        body: ExtensionBody::ForwardTransitNhs(c),
        ..
    }) = looped.extension_mut(ExtensionType::FORWARD_TRANSIT_NHS)
    {
        c.push(Cie {
            prefix_len: 32,
            client_nbma_addr: ip(HUB.1).into(),
            client_proto_addr: ip(HUB.0).into(),
            ..Cie::default()
        });
    }
    // 4. A fine one, forwarded up the hierarchy with hop count 254.
    let fine = raw_request(4, me, "10.9.9.9")
        .with_authentication(b"DMVPN")
        .unwrap();
    for p in [&unknown, &tired, &looped, &fine] {
        s.h(r).send_raw(ip(HUB.1), p);
    }
    s.run(secs(1));
    let codes: Vec<ErrorCode> = s
        .get(r)
        .nhrp_received()
        .iter()
        .filter_map(|(_, p)| match &p.message {
            dmvpn_nhrp::wire::Message::ErrorIndication(ei) => Some(ei.code),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        [
            ErrorCode::UNRECOGNIZED_EXTENSION,
            ErrorCode::HOP_COUNT_EXCEEDED,
            ErrorCode::LOOP_DETECTED
        ]
    );
    assert!(
        s.get(r)
            .nhrp_received()
            .iter()
            .all(|(_, p)| p.extensions.is_empty())
    );
    let errs = s.get(h).errors();
    assert!(matches!(
        errs[0].1,
        Error::UnrecognizedExtension { ext_type: 0x1234 }
    ));
    assert!(matches!(errs[1].1, Error::HopCountExceeded));
    assert!(matches!(errs[2].1, Error::LoopDetected));
    let up = s.get(_upper).nhrp_received();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1.hop_count, 254);
    // 5. Never an Error Indication in answer to an Error Indication.
    let ei = s.get(r).nhrp_received()[0].1.clone();
    let n = s.get(r).nhrp_received().len();
    s.h(r).send_raw(ip(HUB.1), &ei);
    s.run(secs(1));
    assert_eq!(s.get(r).nhrp_received().len(), n);
    assert!(
        s.get(h)
            .has_event(|e| matches!(e, Event::ErrorIndication { .. }))
    );
    s.finish();
}

#[test]
fn scenarios_cover_all_eight_packet_types() {
    // Runs two short scenarios and checks the pcaps between them hold every packet type.
    let (mut s, [h, a, b]) = three_nodes("all-types", 47, ResolutionMode::Forward);
    let now = s.now();
    s.h(a).client().resolve(now, ip("10.0.0.3")).unwrap();
    s.run(secs(1));
    let now = s.now();
    s.h(h)
        .server()
        .note_forwarded(now, ip("172.16.1.24"), &ipv4_packet("10.0.0.2", "10.0.0.3"))
        .unwrap();
    s.h(b).client().shutdown(now);
    let bogus = raw_request(77, ("172.16.1.24", "10.0.0.2"), "10.0.0.3")
        .with_extension(Extension {
            compulsory: true,
            body: ExtensionBody::Unknown {
                ext_type: ExtensionType(0x1ff),
                data: vec![0; 4],
            },
        })
        .with_authentication(b"DMVPN")
        .unwrap();
    s.h(a).send_raw(ip(HUB.1), &bogus);
    s.run(secs(2));
    let types = s.finish();
    assert_eq!(types, (1..=8).map(PacketType).collect::<Vec<_>>());
}
