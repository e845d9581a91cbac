//! The simulated network: determinism, link effects, NAT, crash/restart, recording.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dmvpn_netsim::{Datagram, Host, LinkProfile, NatConfig, Network, Recorder, Sim, SimError};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Sends `count` numbered datagrams to `peer`, one every `interval`, and records what it receives.
struct Pinger {
    addr: IpAddr,
    peer: Option<IpAddr>,
    interval: Duration,
    count: u32,
    sent: u32,
    next: Option<Instant>,
    queue: Vec<Datagram>,
    received: Vec<(Instant, Datagram)>,
    echo: bool,
}

impl Pinger {
    fn new(addr: IpAddr, peer: Option<IpAddr>, start: Instant, count: u32) -> Self {
        Pinger {
            addr,
            peer,
            interval: Duration::from_millis(100),
            count,
            sent: 0,
            next: peer.map(|_| start),
            queue: Vec::new(),
            received: Vec::new(),
            echo: false,
        }
    }
}

impl Host for Pinger {
    fn addr(&self) -> IpAddr {
        self.addr
    }
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        if self.echo {
            self.queue.push(Datagram {
                src: self.addr,
                dst: d.src,
                protocol: d.protocol,
                payload: d.payload.clone(),
            });
        }
        self.received.push((now, d));
    }
    fn handle_timeout(&mut self, now: Instant) {
        let Some(peer) = self.peer else { return };
        self.queue.push(Datagram {
            src: self.addr,
            dst: peer,
            protocol: 253,
            payload: self.sent.to_be_bytes().to_vec(),
        });
        self.sent += 1;
        self.next = (self.sent < self.count).then(|| now + self.interval);
    }
    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.queue.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

fn seq(d: &Datagram) -> u32 {
    u32::from_be_bytes(d.payload[..4].try_into().unwrap())
}

fn run(seed: u64, profile: LinkProfile) -> (Vec<u32>, dmvpn_netsim::NetStats) {
    let start = Instant::now();
    let mut net = Network::new(seed, start);
    net.set_default_link(profile);
    let mut sim = Sim::new(net);
    sim.add_host(Pinger::new(
        ip("10.0.0.1"),
        Some(ip("10.0.0.2")),
        start,
        1000,
    ));
    let b = sim.add_host(Pinger::new(ip("10.0.0.2"), None, start, 0));
    sim.run_until(start + Duration::from_secs(200)).unwrap();
    let got = sim
        .host(b)
        .unwrap()
        .received
        .iter()
        .map(|(_, d)| seq(d))
        .collect();
    (got, sim.network().stats())
}

#[test]
fn deterministic_per_seed() {
    let p = LinkProfile {
        loss: 0.3,
        duplicate: 0.1,
        reorder: 0.1,
        jitter: Duration::from_millis(5),
        ..LinkProfile::default()
    };
    assert_eq!(run(1, p), run(1, p));
    assert_ne!(run(1, p).0, run(2, p).0);
}

#[test]
fn perfect_link_delivers_in_order_with_delay() {
    let (got, stats) = run(5, LinkProfile::default());
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    assert_eq!((stats.sent, stats.delivered, stats.lost), (1000, 1000, 0));
}

#[test]
fn loss_duplication_and_reordering_happen_at_about_their_rates() {
    let (got, stats) = run(
        9,
        LinkProfile {
            loss: 0.3,
            ..LinkProfile::default()
        },
    );
    assert_eq!(stats.lost as usize + got.len(), 1000);
    assert!((250..350).contains(&stats.lost), "lost {}", stats.lost);

    let (got, stats) = run(
        9,
        LinkProfile {
            duplicate: 0.2,
            ..LinkProfile::default()
        },
    );
    assert_eq!(got.len(), 1000 + stats.duplicated as usize);
    assert!(
        (150..250).contains(&stats.duplicated),
        "duplicated {}",
        stats.duplicated
    );

    let (got, stats) = run(
        9,
        LinkProfile {
            reorder: 0.2,
            reorder_delay: Duration::from_millis(250),
            ..LinkProfile::default()
        },
    );
    let inversions = got.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(
        stats.reordered > 100 && inversions > 100,
        "reordered {} inversions {inversions}",
        stats.reordered
    );
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
}

#[test]
fn nat_translates_both_ways_and_drops_unsolicited() {
    let start = Instant::now();
    let mut net = Network::new(3, start);
    net.add_nat(NatConfig {
        public: vec![ip("203.0.113.10")],
        inside: vec![ip("192.168.0.2"), ip("192.168.0.3")],
    });
    let mut sim = Sim::new(net);
    let hub = sim.add_host(Pinger {
        echo: true,
        ..Pinger::new(ip("198.51.100.1"), None, start, 0)
    });
    let spoke = sim.add_host(Pinger::new(
        ip("192.168.0.2"),
        Some(ip("198.51.100.1")),
        start,
        3,
    ));
    let second = sim.add_host(Pinger::new(
        ip("192.168.0.3"),
        Some(ip("198.51.100.1")),
        start,
        1,
    ));
    sim.run_until(start + Duration::from_secs(5)).unwrap();
    // The hub sees the public address; its echoes are translated back to the inside host.
    let hub_rx = &sim.host(hub).unwrap().received;
    assert_eq!(hub_rx.len(), 3);
    assert!(hub_rx.iter().all(|(_, d)| d.src == ip("203.0.113.10")));
    assert_eq!(sim.host(spoke).unwrap().received.len(), 3);
    assert!(
        sim.host(spoke)
            .unwrap()
            .received
            .iter()
            .all(|(_, d)| d.dst == ip("192.168.0.2"))
    );
    assert_eq!(
        sim.network().nat_mapping(ip("192.168.0.2")),
        Some(ip("203.0.113.10"))
    );
    // The pool had one address: the second inside host cannot get out.
    assert!(sim.host(second).unwrap().received.is_empty());
    assert_eq!(sim.network().stats().nat_dropped, 1);
    // Unsolicited traffic to an inside address is not routable from outside.
    let start2 = sim.now();
    sim.host_mut(hub).unwrap().peer = Some(ip("192.168.0.3"));
    sim.host_mut(hub).unwrap().next = Some(start2);
    sim.host_mut(hub).unwrap().count = 1;
    sim.run_until(start2 + Duration::from_secs(1)).unwrap();
    assert_eq!(sim.network().stats().nat_dropped, 2);
}

#[test]
fn crash_and_restart() {
    let start = Instant::now();
    let mut sim = Sim::new(Network::new(4, start));
    sim.add_host(Pinger::new(ip("10.0.0.1"), Some(ip("10.0.0.2")), start, 30));
    let b = sim.add_host(Pinger::new(ip("10.0.0.2"), None, start, 0));
    sim.run_until(start + Duration::from_millis(950)).unwrap();
    let before = sim.crash(b).unwrap();
    assert_eq!(before.received.len(), 10);
    sim.run_until(start + Duration::from_millis(1950)).unwrap();
    sim.restart(b, Pinger::new(ip("10.0.0.2"), None, start, 0));
    sim.run_until(start + Duration::from_secs(10)).unwrap();
    let after: Vec<u32> = sim
        .host(b)
        .unwrap()
        .received
        .iter()
        .map(|(_, d)| seq(d))
        .collect();
    assert_eq!(after, (20..30).collect::<Vec<_>>());
    assert_eq!(sim.network().stats().undeliverable, 10);
}

/// A host that always wants a timeout at the same past instant and never moves it. (The
/// instant is fixed at construction: one read from the real clock at each poll would move the
/// deadline with wall time, so on a slow machine it would pass the end of the run and the loop
/// would end without the livelock being seen.)
struct Spinner(Instant);
impl Host for Spinner {
    fn addr(&self) -> IpAddr {
        ip("10.9.9.9")
    }
    fn handle_datagram(&mut self, _: Instant, _: Datagram) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<Datagram> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.0)
    }
}

#[test]
fn livelock_is_reported_not_hung() {
    let start = Instant::now();
    let mut sim = Sim::new(Network::new(0, start));
    sim.add_host(Spinner(start - Duration::from_secs(1)));
    assert!(matches!(
        sim.run_until(start + Duration::from_secs(1)),
        Err(SimError::Livelock { .. })
    ));
}

#[test]
fn idle_and_predicates() {
    let start = Instant::now();
    let mut sim = Sim::new(Network::new(0, start));
    sim.add_host(Pinger::new(ip("10.0.0.1"), Some(ip("10.0.0.2")), start, 5));
    let b = sim.add_host(Pinger::new(ip("10.0.0.2"), None, start, 0));
    let held = sim
        .run_until_true(start + Duration::from_secs(10), |s| {
            s.host(b).unwrap().received.len() == 3
        })
        .unwrap();
    assert!(held);
    assert_eq!(sim.now(), start + Duration::from_millis(210));
    let stopped = sim
        .run_until_idle(Duration::from_secs(1), start + Duration::from_secs(60))
        .unwrap();
    assert_eq!(sim.host(b).unwrap().received.len(), 5);
    assert_eq!(stopped, start + Duration::from_millis(410));
}

#[test]
fn records_a_pcap_tshark_can_read() {
    let start = Instant::now();
    let mut net = Network::new(0, start);
    net.record(Recorder::new(start));
    net.set_default_link(LinkProfile::lossy(0.5));
    let mut sim = Sim::new(net);
    sim.add_host(Pinger::new(ip("10.0.0.1"), Some(ip("10.0.0.2")), start, 20));
    sim.add_host(Pinger::new(
        ip("2001:db8::1"),
        Some(ip("2001:db8::2")),
        start,
        5,
    ));
    sim.add_host(Pinger::new(ip("10.0.0.2"), None, start, 0));
    sim.run_until(start + Duration::from_secs(5)).unwrap();
    let rec = sim.network().recorder().unwrap();
    // Lost datagrams were still sent, so they are in the recording.
    assert_eq!(rec.frames().len(), 25);
    assert_eq!(rec.frames()[1].0, Duration::ZERO);
    let v4 = &rec.frames().iter().find(|(_, f)| f[0] >> 4 == 4).unwrap().1;
    assert_eq!(
        dmvpn_wire::checksum::checksum(&v4[..20]),
        0,
        "IPv4 header checksum"
    );
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pcap/netsim-pinger.pcap");
    rec.write(&path).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 24);
}

#[test]
fn nat_keeps_udp_checksums_right_both_ways() {
    use dmvpn_netsim::{Decap, Proto, Transmit};
    for (inside, public, server) in [
        ("192.168.0.2", "203.0.113.10", "198.51.100.1"),
        ("fd00::2", "2001:db8:1::10", "2001:db8:2::1"),
    ] {
        let start = Instant::now();
        let mut net = Network::new(1, start);
        net.add_nat(NatConfig {
            public: vec![ip(public)],
            inside: vec![ip(inside)],
        });
        let ike = |src: &str, dst: &str, payload: &[u8]| {
            Datagram::try_from(Transmit::udp(
                SocketAddr::new(ip(src), 4500),
                SocketAddr::new(ip(dst), 4500),
                payload.to_vec(),
            ))
            .unwrap()
        };
        net.send(ike(inside, server, b"out"));
        net.advance(start + Duration::from_secs(1));
        let out = net.pop_due().unwrap();
        assert_eq!(out.src, ip(public));
        let rx = out.inbound(Decap::Udp).unwrap();
        assert_eq!((rx.payload, rx.remote().port()), (&b"out"[..], 4500));
        // The recording (after source NAT) carries the corrected checksum too.
        net.send(ike(server, public, b"back"));
        net.advance(start + Duration::from_secs(2));
        let back = net.pop_due().unwrap();
        assert_eq!(back.dst, ip(inside));
        assert_eq!(back.inbound(Decap::Udp).unwrap().payload, b"back");
        assert_eq!(
            back.inbound(Decap::Udp).unwrap().proto,
            Proto::Udp {
                src_port: 4500,
                dst_port: 4500
            }
        );
        if ip(inside).is_ipv4() {
            // No checksum (zero, IPv4 only) stays none rather than becoming a wrong one.
            let mut bare = ike(inside, server, b"bare");
            bare.payload[6..8].copy_from_slice(&[0, 0]);
            net.send(bare);
            net.advance(start + Duration::from_secs(3));
            let d = net.pop_due().unwrap();
            assert_eq!(&d.payload[6..8], &[0, 0]);
            assert!(d.inbound(Decap::Udp).is_ok());
        }
    }
}
