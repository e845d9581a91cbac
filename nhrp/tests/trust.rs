//! Off-path attacks on an NHRP cloud without IPsec, on netsim's virtual clock and NBMA network:
//! an attacker host that knows the cloud's addresses (and its cleartext password) forges Purge
//! Requests and Registration Requests, and the hub and spokes keep their state. Every packet
//! is wrapped in GRE (0x2001) and recorded to `<target>/nhrp-scenarios/<name>.pcap`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dmvpn_netsim::{HostId, MachineHost, Sim, Transmit};
use dmvpn_nhrp::wire::{Cie, CieCode, Node, PacketType, Repr, Secret};
use dmvpn_nhrp::{
    Client, ClientConfig, EntryType, Event, Prefix, ResolutionMode, Route, Server, ServerConfig,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const PASSWORD: &[u8] = b"DMVPN";

use common::role::{NHRP, Role};

type Nhrp = MachineHost<Role>;

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
    /// Sends `repr`, with the cloud's password, from host `id` to `dst` in GRE.
    fn forge(&mut self, id: HostId, dst: &str, repr: Repr) {
        let h = self.h(id);
        let src = dmvpn_netsim::Host::addr(h);
        let payload = repr
            .with_authentication(PASSWORD)
            .unwrap()
            .to_bytes()
            .unwrap();
        h.send(Transmit {
            src,
            dst: ip(dst),
            proto: NHRP,
            payload,
        });
    }
    /// Writes the pcap; every datagram's GRE was good.
    fn finish(mut self) {
        for (_, h) in self.sim.hosts() {
            assert!(h.rejected().is_empty(), "{:?}", h.rejected());
        }
        self.sim.finish().unwrap();
    }
}

/// The hub: NBMA 172.17.0.1, tunnel 10.0.0.1/24.
const HUB: (&str, &str) = ("172.17.0.1", "10.0.0.1");
/// Spoke A: NBMA 172.16.1.24, tunnel 10.0.0.2, LAN 192.168.1.0/24.
const A: (&str, &str) = ("172.16.1.24", "10.0.0.2");
/// Spoke B: NBMA 172.16.2.75, tunnel 10.0.0.3, LAN 192.168.2.0/24.
const B: (&str, &str) = ("172.16.2.75", "10.0.0.3");
/// The attacker's NBMA address (no tunnel address: it is not part of the cloud).
const ATTACKER: &str = "198.51.100.66";

fn node((nbma, proto): (&str, &str)) -> Node {
    Node::new(ip(nbma), ip(proto))
}

fn hub_config(mode: ResolutionMode) -> ServerConfig {
    let mut c = ServerConfig::new(ip(HUB.0), ip(HUB.1));
    c.common.authentication = Some(Secret::from(PASSWORD));
    c.holdtime = 300;
    c.resolution = mode;
    c
}

fn spoke_config((nbma, proto): (&str, &str), lan: &str) -> ClientConfig {
    let mut c = ClientConfig::new(ip(nbma), ip(proto)).with_nhs(ip(HUB.1), ip(HUB.0));
    c.common.authentication = Some(Secret::from(PASSWORD));
    c.holdtime = 300;
    c.local_prefixes = vec![Prefix::new(ip(lan), 24)];
    c
}

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

/// The hub, spokes A and B registered, and the attacker.
fn cloud(name: &'static str, seed: u64, hub: ServerConfig) -> (Scenario, [HostId; 4]) {
    let mut s = Scenario::new(name, seed);
    let now = s.now();
    let h = s.add(
        HUB.0,
        Role::Server(Box::new(Server::new(now, hub).unwrap())),
    );
    let spoke = |s: &mut Scenario, who: (&str, &str), lan: &str| {
        let c = Client::new(now, spoke_config(who, lan)).unwrap();
        s.add(who.0, Role::Client(Box::new(c)))
    };
    let a = spoke(&mut s, A, "192.168.1.0");
    let b = spoke(&mut s, B, "192.168.2.0");
    let x = s.add(ATTACKER, Role::Raw);
    s.h(a).client().register(now);
    s.h(b).client().register(now);
    assert!(s.run_until(secs(5), |sim| registered(sim, h, A.1)
        && registered(sim, h, B.1)));
    s.run(secs(1));
    (s, [h, a, b, x])
}

#[test]
fn a_forged_purge_of_spoke_b_changes_nothing_at_the_hub_or_at_spoke_a() {
    let (mut s, [h, a, b, x]) = cloud(
        "trust-forged-purge",
        53,
        hub_config(ResolutionMode::Authoritative),
    );
    // Spoke A resolves spoke B: a spoke-to-spoke mapping.
    let now = s.now();
    s.h(a).client().resolve(now, ip(B.1)).unwrap();
    s.run(secs(1));
    assert_eq!(dynamic_nbma(s.get(a), B.1), Some(ip(B.0)));
    // The attacker purges spoke B: at the hub as spoke B would (B's addresses in the packet),
    // at spoke A as the hub would (the hub's addresses in the packet).
    let b_cie = Cie {
        prefix_len: 32,
        client_nbma_addr: ip(B.0).into(),
        client_proto_addr: ip(B.1).into(),
        ..Cie::default()
    };
    s.forge(
        x,
        HUB.0,
        Repr::purge_request(1, &node(B), ip(HUB.1), vec![b_cie.clone()], false),
    );
    s.forge(
        x,
        A.0,
        Repr::purge_request(2, &node(HUB), ip(A.1), vec![b_cie], false),
    );
    s.run(secs(1));
    // Nothing was purged, and both said so.
    assert!(registered(&s.sim, h, B.1));
    assert_eq!(dynamic_nbma(s.get(a), B.1), Some(ip(B.0)));
    let refused = |e: &Event| {
        *e == Event::PurgeRefused {
            prefix: Prefix::host(ip(B.1)),
            from: ip(ATTACKER),
        }
    };
    assert!(s.get(h).has_event(refused));
    assert!(s.get(a).has_event(refused));
    assert_eq!(s.get(h).s().stats().purges_refused, 1);
    assert_eq!(s.get(a).c().stats().purges_refused, 1);
    // The genuine purges still work: spoke B shuts down gracefully (it purges its registration
    // at the hub), then the hub purges B from spoke A, which resolved it.
    let now = s.now();
    s.h(b).client().shutdown(now);
    s.run(secs(1));
    assert!(!registered(&s.sim, h, B.1));
    assert!(dynamic_nbma(s.get(a), B.1).is_none());
    assert_eq!(s.get(h).s().stats().purges_refused, 1);
    assert_eq!(s.get(a).c().stats().purges_refused, 1);
    assert!(s.get(h).errors().is_empty(), "{:?}", s.get(h).errors());
    assert!(s.get(a).errors().is_empty(), "{:?}", s.get(a).errors());
    s.finish();
}

#[test]
fn forged_registrations_of_spoke_bs_lan_or_outside_the_tunnel_subnet_do_not_hijack_resolution() {
    // The hub's routing protocol learned the spokes' LANs (phase 3 style routes).
    let mut hc = hub_config(ResolutionMode::Authoritative);
    hc.routes = vec![
        Route {
            prefix: Prefix::new(ip("192.168.1.0"), 24),
            next_hop: ip(A.1),
        },
        Route {
            prefix: Prefix::new(ip("192.168.2.0"), 24),
            next_hop: ip(B.1),
        },
    ];
    let (mut s, [h, a, _b, x]) = cloud("trust-forged-registration", 59, hc);
    // The attacker registers spoke B's LAN at its own address, and an address outside the
    // tunnel subnet (Cisco style: the source is the client).
    let lan = Cie {
        prefix_len: 24,
        holding_time: 300,
        client_nbma_addr: ip(ATTACKER).into(),
        client_proto_addr: ip("192.168.2.0").into(),
        ..Cie::default()
    };
    let mut wide =
        Repr::registration_request(1, &node((ATTACKER, "10.0.0.66")), &node(HUB), 300, 1400);
    wide.message.body_mut().unwrap().cies = vec![lan];
    s.forge(x, HUB.0, wide);
    let outside = node((ATTACKER, "172.30.0.5"));
    s.forge(
        x,
        HUB.0,
        Repr::registration_request(2, &outside, &node(HUB), 300, 1400),
    );
    s.run(secs(1));
    // Both refused with code 4, counted and reported; nothing was registered.
    let codes: Vec<CieCode> = s
        .get(x)
        .received()
        .iter()
        .filter_map(|(_, t)| Repr::parse_bytes(&t.payload).ok())
        .filter(|r| r.packet_type() == PacketType::REGISTRATION_REPLY)
        .flat_map(|r| r.cies().iter().map(|c| c.code).collect::<Vec<_>>())
        .collect();
    let admin = CieCode::ADMINISTRATIVELY_PROHIBITED;
    assert_eq!(codes, vec![admin, admin]);
    assert_eq!(s.get(h).s().stats().registrations_refused, 2);
    for prefix in [
        Prefix::new(ip("192.168.2.0"), 24),
        Prefix::host(ip("172.30.0.5")),
    ] {
        assert!(s.get(h).has_event(|e| *e
            == Event::RegistrationRefused {
                prefix,
                claimant: ip(ATTACKER),
            }));
    }
    assert_eq!(
        s.get(h).s().registration(ip("192.168.2.37")),
        None,
        "the LAN is not registered"
    );
    assert_eq!(s.get(h).s().registration(ip("172.30.0.5")), None);
    // Spoke A resolves a host on spoke B's LAN: the answer is spoke B, for B's whole LAN.
    let now = s.now();
    s.h(a).client().resolve(now, ip("192.168.2.37")).unwrap();
    assert!(s.run_until(secs(5), |sim| {
        dynamic_nbma(sim.host(a).unwrap(), "192.168.2.37").is_some()
    }));
    assert_eq!(dynamic_nbma(s.get(a), "192.168.2.37"), Some(ip(B.0)));
    let e = s.get(a).c().cache().lookup(ip("192.168.2.37")).unwrap();
    assert_eq!(
        (e.prefix, e.next_hop),
        (Prefix::new(ip("192.168.2.0"), 24), ip(B.1))
    );
    // The address outside the subnet has no binding at all.
    let now = s.now();
    s.h(a).client().resolve(now, ip("172.30.0.5")).unwrap();
    assert!(
        s.run_until(secs(5), |sim| sim.host(a).unwrap().has_event(|e| *e
            == Event::ResolutionNegative {
                target: ip("172.30.0.5")
            }))
    );
    assert!(s.get(h).errors().is_empty(), "{:?}", s.get(h).errors());
    s.finish();
}
