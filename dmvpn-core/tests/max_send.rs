//! `ip nhrp max-send` under load, on netsim: resolution traffic must not starve registrations.
//! A spoke whose LAN scans new destinations, and a hub flooded with spoofed Resolution
//! Requests, both keep their registrations answered (the seeds' example network, phase 2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::*;
use dmvpn_core::sim::example::Example;
use dmvpn_core::{EventKind, Input, NhrpEvent};
use dmvpn_netsim::HostId;
use dmvpn_nhrp::wire::{Node, PacketType, Repr};

/// The example with a /16 tunnel subnet everywhere (room for thousands of new destinations).
fn wide(name: &'static str, seed: u64, ex: Example) -> Scenario {
    let mut s = Scenario::empty(name, seed, ex);
    let mut hub = s.ex.hub();
    hub.tunnels[0].address = "10.0.0.1/16".parse().unwrap();
    let hub = s.add(hub);
    s.hub = Some(hub);
    for i in 1..=s.ex.spokes {
        let mut cfg = s.ex.spoke(i);
        let a = s.ex.spoke_tunnel(i);
        cfg.tunnels[0].address = ipnet::IpNet::V4(ipnet::Ipv4Net::new(a, 16).unwrap());
        let id = s.add(cfg);
        s.spokes.push(id);
    }
    s
}

fn nhs_down_since(s: &Scenario, id: HostId, since: Instant) -> usize {
    s.get(id)
        .events()
        .iter()
        .filter(|(t, e)| {
            *t >= since && matches!(e.kind, EventKind::Nhrp(NhrpEvent::NhsDown { .. }))
        })
        .count()
}

fn sent(s: &Scenario, id: HostId, t: PacketType) -> u64 {
    let n = s.get(id).node();
    let c = n.nhrp_client(0).map_or(0, |c| c.traffic(s.now()).sent(t));
    let v = n.nhrp_server(0).map_or(0, |v| v.traffic(s.now()).sent(t));
    c + v
}

/// The first case: a LAN host on spoke A scans 15 new tunnel addresses a second for
/// 900 s. Every one is a new resolution; A's `max-send` (100 per 10 s) is exceeded all the
/// time, yet its Registration Requests still go out every holdtime/3 and the hub stays up.
#[test]
fn a_spoke_whose_lan_scans_15_new_destinations_a_second_keeps_its_nhs_up() {
    let mut s = wide("max-send-scan", 5, Example::new(2));
    let (hub, a) = (s.hub(), s.spoke(1));
    s.run(secs(5));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    let start = s.now();
    let src = s.ex.lan_host(1, 25);
    let scan = 15 * 900u32;
    for k in 0..scan {
        // 10.0.1.1, 10.0.1.2, …: never a spoke, never the hub.
        let dst = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 1, 0)) + 1 + k + k / 250 * 6);
        let at = start + Duration::from_millis(u64::from(k) * 1000 / 15);
        s.node(a)
            .schedule_ping(at, src, dst, 7, (k % 65_536) as u16);
    }
    s.run(secs(900));
    let requests = sent(&s, a, PacketType::RESOLUTION_REQUEST);
    let registrations = sent(&s, a, PacketType::REGISTRATION_REQUEST);
    let client = s.get(a).node().nhrp_client(0).unwrap();
    println!(
        "scan: spoke A sent {requests} Resolution Requests and {registrations} Registration \
         Requests in 900 s; {:?}",
        client.stats()
    );
    assert!(requests > 0);
    assert_eq!(nhs_down_since(&s, a, start), 0, "spoke A's NHS went down");
    assert!(
        client.nhs_status().iter().all(|n| n.up),
        "{:?}",
        client.nhs_status()
    );
    // One every holdtime/3 (100 s), at least, and the hub kept the registration.
    assert!(registrations >= 9, "{registrations} Registration Requests");
    assert!(s.registered(hub, 1));
    s.finish();
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// A spoofed Resolution Request in GRE (key 100000): from a random NBMA address and tunnel
/// address, for spoke `target`'s tunnel address (which the hub answers from its table).
fn spoofed_resolution(rng: &mut Rng, id: u32, target: Ipv4Addr) -> (IpAddr, Vec<u8>) {
    let nbma = Ipv4Addr::from(0xc612_0000 | (rng.next() & 0xffff));
    let proto = Ipv4Addr::from(0x0a00_0000 | (rng.next() & 0xffff) | 0x100);
    let me = Node::new(nbma, proto);
    let nhrp = Repr::resolution_request(id, &me, target, 300, 1400)
        .to_bytes()
        .unwrap();
    let mut gre = vec![0x20, 0x00, 0x20, 0x01];
    gre.extend_from_slice(&100_000u32.to_be_bytes());
    gre.extend_from_slice(&nhrp);
    (IpAddr::V4(nbma), gre)
}

/// The second case: spoofed Resolution Requests at ten times the hub's quota for
/// 900 s. The hub answers what its quota allows of them, but keeps answering the legitimate
/// spokes' registrations: neither spoke sees its NHS go down.
#[test]
fn a_hub_flooded_with_spoofed_resolution_requests_keeps_answering_registrations() {
    let mut ex = Example::new(2);
    ex.password = None;
    let mut s = wide("max-send-spoofed-flood", 9, ex);
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(5));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    let start = s.now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let hub_nbma: IpAddr = HUB_NBMA.into();
    let mut id = 1u32;
    // 100 a second (the quota is 10 a second), in batches every 100 ms.
    for _ in 0..9000 {
        let now = s.now();
        for _ in 0..10 {
            let target = s.ex.spoke_tunnel(1 + rng.next() % 2);
            let (src, payload) = spoofed_resolution(&mut rng, id, target);
            id += 1;
            let node = s.node(hub);
            let _ = node.node_mut().handle_input(Input::Underlay {
                now,
                src,
                dst: hub_nbma,
                payload: &payload,
            });
            node.pump(now);
        }
        s.sim.flush();
        s.run(Duration::from_millis(100));
    }
    let server = s.get(hub).node().nhrp_server(0).unwrap();
    println!(
        "spoofed flood: hub received {} Resolution Requests, sent {} Resolution Replies and {} \
         Registration Replies; {:?}",
        server
            .traffic(s.now())
            .received(PacketType::RESOLUTION_REQUEST),
        sent(&s, hub, PacketType::RESOLUTION_REPLY),
        sent(&s, hub, PacketType::REGISTRATION_REPLY),
        server.stats()
    );
    assert!(
        server.stats().quota_dropped > 0,
        "the flood exceeded the quota"
    );
    for (name, id) in [("A", a), ("B", b)] {
        assert_eq!(
            nhs_down_since(&s, id, start),
            0,
            "spoke {name}'s NHS went down"
        );
        let c = s.get(id).node().nhrp_client(0).unwrap();
        assert!(c.nhs_status().iter().all(|n| n.up), "{:?}", c.nhs_status());
    }
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    s.finish();
}
