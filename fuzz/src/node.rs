//! The harness of the `dmvpn_core::Node` targets: a hub and spoke 1 of the seeds' example
//! network (`dmvpn_core::sim::example`, phase 3 so that redirects and shortcuts are reachable),
//! every output checked as it is drained, and the operations both targets drive them with.
//!
//! Checked on every drain: every transmit comes from the node's tunnel source; in clear it is
//! a GRE packet with the tunnel key; a protected node sends only ESP (with a GRE packet with
//! the tunnel key inside, seen through the node's plaintext tap) or IKE from port 500/4500,
//! never cleartext GRE; a run of transmits or deliveries is no longer than its queue's limit;
//! once `poll_output` said `Timeout`, nothing is left to poll. After a timeout at the announced
//! deadline the next deadline is later; the status and `show` functions do not panic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use dmvpn_core::sim::example::Example;
use dmvpn_core::sim::icmp;
use dmvpn_core::{Entropy, Input, Limits, Node, Output, Transmit};
use dmvpn_wire::Proto;

/// Small queues and tables, so that the fuzzer reaches their limits.
pub const LIMITS: Limits = Limits {
    max_transmits: 64,
    max_delivers: 32,
    max_events: 64,
    buffer_pool: 8,
    max_cache: 64,
    max_registrations: 64,
    max_pending_resolutions: 8,
    // Short enough that the fuzzer's clock (up to ~4 s a step) sees GRE entries expire.
    gre_peer_idle: Duration::from_secs(30),
    // IOS's ICMP error rate, so that bursts of too-big packets reach the limit.
    icmp_error_interval: Duration::from_millis(500),
    icmp_error_burst: 2,
};

/// IKE's port.
pub const IKE_PORT: u16 = 500;
/// IKE after the non-ESP marker and ESP in UDP (RFC 3948).
pub const NAT_T_PORT: u16 = 4500;

/// One node, the transmits it sent that were not carried yet, and what its transmits must be.
pub struct Side {
    pub node: Node,
    pub queue: Vec<Transmit>,
    /// Its tunnel source: every transmit is from here.
    pub source: IpAddr,
    /// The tunnel key every GRE packet carries.
    pub key: Option<u32>,
    /// `tunnel protection`: only ESP and IKE on the wire (the plaintext tap is on).
    pub protected: bool,
    /// The underlay's MTU: no transmit carrying an IP packet is larger.
    pub underlay_mtu: usize,
}

impl Side {
    fn new(start: Instant, ex: &Example, hub: bool, seed: u64, source: IpAddr) -> Side {
        let mut cfg = if hub { ex.hub() } else { ex.spoke(1) };
        // The MTU paths within reach: the spoke's underlay is narrower than `ip mtu` needs
        // (overlay packets from 1,316 or 1,373 bytes on are fragmented or refused with ICMP),
        // and both clamp the MSS of TCP SYNs.
        let t = &mut cfg.tunnels[0];
        t.adjust_mss = Some(1360);
        if !hub {
            t.underlay_mtu = 1400;
        }
        let underlay_mtu = usize::from(t.underlay_mtu);
        let mut node =
            Node::with_limits(start, cfg, Entropy::from_seed(seed), LIMITS).expect("valid example");
        let protected = ex.ipsec.is_some();
        node.set_tap(protected);
        // `debug nhrp` / `debug crypto` on: their records describe hostile packets too.
        node.set_debug(dmvpn_core::DebugFlags {
            nhrp: true,
            crypto: true,
        });
        Side {
            node,
            queue: Vec::new(),
            source,
            key: ex.key,
            protected,
            underlay_mtu,
        }
    }

    /// Checks a GRE packet of ours; returns whether it carries IP (held to the MTU).
    fn check_gre(&self, gre: &[u8]) -> bool {
        let (hdr, _) = dmvpn_gre::wire::gre::decapsulate(gre).expect("our GRE parses");
        assert_eq!(hdr.key, self.key);
        matches!(
            hdr.protocol,
            dmvpn_gre::Protocol::IPV4 | dmvpn_gre::Protocol::IPV6
        )
    }

    /// An IP packet in a transmit of `len` bytes (IP payload, UDP header included) fits the
    /// underlay with its outer IPv4 header.
    fn check_size(&self, len: usize, t: &Transmit) {
        assert!(
            20 + len <= self.underlay_mtu,
            "{} bytes on a {}-byte underlay: {t:?}",
            20 + len,
            self.underlay_mtu
        );
    }

    fn check_transmit(&mut self, t: &Transmit) {
        assert_eq!(
            t.src, self.source,
            "transmit not from the tunnel source: {t:?}"
        );
        if !self.protected {
            assert_eq!(t.proto, Proto::GRE, "{t:?}");
            if self.check_gre(&t.payload) {
                self.check_size(t.payload.len(), t);
            }
            return;
        }
        let ike = match (t.proto, t.payload.as_slice()) {
            (Proto::ESP, _) => None,
            (Proto::Udp { src_port, .. }, payload) if src_port == IKE_PORT => Some(payload),
            (Proto::Udp { src_port, .. }, payload) if src_port == NAT_T_PORT => match payload {
                [0xff] => return, // a NAT keepalive
                [0, 0, 0, 0, ike @ ..] => Some(ike),
                _ => None, // ESP in UDP (RFC 3948)
            },
            (Proto::Udp { src_port, .. }, _) => panic!("UDP from port {src_port}: {t:?}"),
            (p, _) => panic!("a protected node sent {p:?} (cleartext GRE?): {t:?}"),
        };
        if let Some(ike) = ike {
            dmvpn_ikev2::wire::Header::new_checked(ike).expect("our IKE header parses");
            return;
        }
        assert!(t.payload.len() >= 8, "ESP shorter than its header: {t:?}");
        let Some(gre) = self.node.poll_tap() else {
            panic!("an ESP transmit whose GRE packet the tap did not see: {t:?}");
        };
        if self.check_gre(&gre) {
            let udp = if matches!(t.proto, Proto::Udp { .. }) {
                8
            } else {
                0
            };
            self.check_size(t.payload.len() + udp, t);
        }
        self.node.recycle(gre);
    }

    /// Drains outputs, checking them; returns the next deadline.
    pub fn drain(&mut self) -> Option<Instant> {
        // Consecutive transmits (deliveries) are what the queue held: within its limit.
        let (mut transmits, mut delivers) = (0, 0);
        for _ in 0..10_000 {
            let out = self.node.poll_output();
            transmits = if matches!(out, Output::Transmit(_)) {
                transmits + 1
            } else {
                0
            };
            delivers = if matches!(out, Output::Deliver(_)) {
                delivers + 1
            } else {
                0
            };
            assert!(
                transmits <= LIMITS.max_transmits,
                "transmit queue beyond its limit"
            );
            assert!(
                delivers <= LIMITS.max_delivers,
                "deliver queue beyond its limit"
            );
            match out {
                Output::Transmit(t) => {
                    self.check_transmit(&t);
                    if self.queue.len() < 256 {
                        self.queue.push(t);
                    } else {
                        self.node.recycle(t.payload);
                    }
                }
                Output::Deliver(d) => self.node.recycle(d.into_buffer()),
                Output::Event(e) => {
                    let _ = e.to_string();
                }
                Output::Timeout(t) => {
                    let again = self.node.poll_output();
                    assert_eq!(again, Output::Timeout(t), "output left after Timeout");
                    // The tap holds only the plaintext of ESP transmits (not of packets that
                    // failed to encrypt or did not fit in the queue).
                    assert_eq!(self.node.poll_tap(), None, "tapped GRE without its ESP");
                    while let Some(r) = self.node.poll_debug() {
                        assert!(!r.is_empty(), "an empty debug record");
                    }
                    return t;
                }
            }
        }
        panic!("poll_output never returned Timeout");
    }

    /// Hands `t` (the other node's transmit, maybe altered) to this node the way it arrives:
    /// GRE as an underlay datagram, ESP as ESP, UDP with its ports.
    pub fn receive(&mut self, now: Instant, t: &Transmit) {
        let dst = self.source;
        let input = match t.proto {
            Proto::ESP => Input::Esp {
                now,
                src: t.src,
                dst,
                payload: &t.payload,
            },
            Proto::Udp { src_port, dst_port } => Input::Udp {
                now,
                src: SocketAddr::new(t.src, src_port),
                dst: SocketAddr::new(dst, dst_port),
                payload: &t.payload,
            },
            _ => Input::Underlay {
                now,
                src: t.src,
                dst,
                payload: &t.payload,
            },
        };
        let _ = self.node.handle_input(input);
    }

    /// Status snapshots and counters: no panic, tables within their limits.
    fn check_status(&self, now: Instant) {
        let _ = self.node.stats();
        let status = self.node.status(now);
        assert!(status.tunnels[0].entries.len() <= LIMITS.max_registrations + 8);
        if self.protected {
            let _ = self.node.crypto_stats();
            let _ = self.node.crypto_status(now);
            let _ = self.node.child_sas(0);
            let ep = self
                .node
                .ike_endpoint(0)
                .expect("a protected interface has IKE");
            let _ = format!("{:?}", ep.status(now));
        }
    }

    fn show(&self, now: Instant) {
        let _ = self.node.show_dmvpn(now);
        let _ = self.node.show_ip_nhrp(now);
        let _ = self.node.show_ip_nhrp_nhs(now);
        let _ = self.node.show_ip_nhrp_brief(now);
        let _ = self.node.show_ip_nhrp_traffic(now);
        let _ = self.node.show_dmvpn_detail(now);
        let _ = self.node.show_crypto_ikev2_sa(now);
        let _ = self.node.show_crypto_ipsec_sa(now);
        let _ = self.node.show_crypto_session(now);
    }
}

/// The hub and spoke 1 on one clock.
pub struct Pair {
    pub ex: Example,
    pub hub: Side,
    pub spoke: Side,
    pub now: Instant,
    /// The deadlines the last drain announced (hub, spoke).
    pub deadlines: [Option<Instant>; 2],
    /// Underlay sources for arbitrary datagrams: the hub, spoke 1, spoke 2 (not simulated)
    /// and a stranger.
    pub peers: [IpAddr; 4],
}

impl Pair {
    /// The example's hub (with its routes to the spoke LANs) and spoke 1 (with its route to
    /// the other LANs), in phase 3; protected if `ex` is.
    pub fn new(mut ex: Example) -> Pair {
        ex.phase = 3;
        let start = Instant::now();
        let hub_nbma = IpAddr::from(dmvpn_core::sim::example::HUB_NBMA);
        let mut hub = Side::new(start, &ex, true, 0, hub_nbma);
        for (net, via) in ex.hub_routes() {
            hub.node.add_route(net, via).expect("hub route");
        }
        let mut spoke = Side::new(start, &ex, false, 1, ex.spoke_nbma(1).into());
        let (net, via) = ex.spoke_route(2);
        spoke.node.add_route(net, via).expect("spoke route");
        let peers = [
            hub.source,
            spoke.source,
            ex.spoke_nbma(2).into(),
            Ipv4Addr::new(192, 0, 2, 9).into(),
        ];
        let deadlines = [hub.drain(), spoke.drain()];
        Pair {
            ex,
            hub,
            spoke,
            now: start,
            deadlines,
            peers,
        }
    }

    /// The hub (true) or the spoke.
    pub fn side(&mut self, hub: bool) -> &mut Side {
        if hub { &mut self.hub } else { &mut self.spoke }
    }

    /// One of [`Pair::peers`].
    pub fn peer(&self, i: u8) -> IpAddr {
        self.peers[usize::from(i) % self.peers.len()]
    }

    /// Arbitrary GRE bytes (IP protocol 47) to the hub (true) or the spoke from peer `from`.
    pub fn underlay(&mut self, to_hub: bool, from: u8, bytes: &[u8]) {
        let (now, src) = (self.now, self.peer(from));
        let side = self.side(to_hub);
        let dst = side.source;
        let _ = side.node.handle_input(Input::Underlay {
            now,
            src,
            dst,
            payload: bytes,
        });
    }

    /// Arbitrary ESP bytes (IP protocol 50) to the hub (true) or the spoke from peer `from`.
    pub fn esp(&mut self, to_hub: bool, from: u8, bytes: &[u8]) {
        let (now, src) = (self.now, self.peer(from));
        let side = self.side(to_hub);
        let dst = side.source;
        let _ = side.node.handle_input(Input::Esp {
            now,
            src,
            dst,
            payload: bytes,
        });
    }

    /// An arbitrary UDP datagram to the hub (true) or the spoke, port `dst_port`, from peer
    /// `from`, port `src_port`.
    pub fn udp(&mut self, to_hub: bool, from: u8, src_port: u16, dst_port: u16, bytes: &[u8]) {
        let (now, src) = (self.now, self.peer(from));
        let side = self.side(to_hub);
        let dst = side.source;
        let _ = side.node.handle_input(Input::Udp {
            now,
            src: SocketAddr::new(src, src_port),
            dst: SocketAddr::new(dst, dst_port),
            payload: bytes,
        });
    }

    /// An arbitrary overlay packet from the hub's or the spoke's TUN.
    pub fn overlay(&mut self, on_hub: bool, bytes: &[u8]) {
        let now = self.now;
        let _ = self
            .side(on_hub)
            .node
            .handle_input(Input::Overlay { now, packet: bytes });
    }

    /// A valid echo request from the spoke's LAN (192.168.1.25) to host `h` of LAN `l`.
    pub fn ping(&mut self, l: u8, h: u8) {
        let dst = self.ex.lan_host(u32::from(l % 4) + 1, h);
        if let Some(p) = icmp::echo_request(self.ex.lan_host(1, 25), dst, 1, u16::from(h), 8) {
            let now = self.now;
            let _ = self
                .spoke
                .node
                .handle_input(Input::Overlay { now, packet: &p });
        }
    }

    /// The hub's and the spoke's queues, the hub's first (Deliver) or the spoke's.
    fn from_to(&mut self, hub_first: bool) -> (&mut Side, &mut Side) {
        let hub_has = !self.hub.queue.is_empty();
        let spoke_has = !self.spoke.queue.is_empty();
        if (hub_first && hub_has) || (!hub_first && !spoke_has) {
            (&mut self.hub, &mut self.spoke)
        } else {
            (&mut self.spoke, &mut self.hub)
        }
    }

    /// Carries up to `n` (at most 16) queued transmits intact, the hub's first.
    pub fn deliver(&mut self, n: u8) {
        let now = self.now;
        for _ in 0..n.min(16) {
            let (from, to) = self.from_to(true);
            if from.queue.is_empty() {
                break;
            }
            let t = from.queue.remove(0);
            to.receive(now, &t);
            from.node.recycle(t.payload);
        }
    }

    /// Carries the next queued transmit (the spoke's first) with byte `at` xored with `xor`.
    pub fn mutate(&mut self, at: u16, xor: u8) {
        let now = self.now;
        let (from, to) = self.from_to(false);
        if !from.queue.is_empty() {
            let mut t = from.queue.remove(0);
            if !t.payload.is_empty() {
                let i = usize::from(at) % t.payload.len();
                t.payload[i] ^= xor.max(1);
            }
            to.receive(now, &t);
        }
    }

    /// Lets `ms` × 64 milliseconds pass and fires what is due.
    pub fn advance(&mut self, ms: u16) {
        self.now += Duration::from_millis(u64::from(ms) * 64);
        let now = self.now;
        let _ = self.hub.node.handle_input(Input::Timeout(now));
        let _ = self.spoke.node.handle_input(Input::Timeout(now));
    }

    /// Fires the timers at the earliest deadline announced; after that, nothing is due at or
    /// before it (exact deadlines).
    pub fn timeout(&mut self) {
        let Some(t) = self.deadlines.iter().flatten().min().copied() else {
            return;
        };
        self.now = self.now.max(t);
        let now = self.now;
        let _ = self.hub.node.handle_input(Input::Timeout(now));
        let _ = self.spoke.node.handle_input(Input::Timeout(now));
        let (h, s) = (self.hub.drain(), self.spoke.drain());
        assert!(
            h.is_none_or(|d| d > now),
            "hub deadline {h:?} not after {now:?}"
        );
        assert!(
            s.is_none_or(|d| d > now),
            "spoke deadline {s:?} not after {now:?}"
        );
    }

    /// Routes LAN `l` via tunnel address 10.0.0.`v` on the hub or the spoke.
    pub fn route(&mut self, on_hub: bool, l: u8, v: u8) {
        let net = ipnet::IpNet::V4(self.ex.spoke_lan(u32::from(l % 4) + 1));
        let via = IpAddr::from(Ipv4Addr::new(10, 0, 0, v));
        let _ = self.side(on_hub).node.add_route(net, via);
    }

    /// `clear ip nhrp 10.0.0.a` on the hub or the spoke.
    /// `clear ip nhrp 10.0.0.A`; for A ≥ 200, `clear crypto session` (A = 200: every
    /// peer; otherwise peer 172.16.0.1 or the hub or spoke 1 by A's last bits).
    pub fn clear(&mut self, on_hub: bool, a: u8) {
        let now = self.now;
        let peer = match a {
            0..200 => None,
            200 => Some(None),
            _ => Some(self.peers.get(usize::from(a % 4)).copied()),
        };
        let node = &mut self.side(on_hub).node;
        match peer {
            None => {
                node.clear_nhrp(now, IpAddr::from(Ipv4Addr::new(10, 0, 0, a)));
            }
            Some(p) => {
                node.clear_crypto_session(now, p);
            }
        }
    }

    /// After every operation: drains both nodes (checking their outputs) and their status.
    pub fn settle(&mut self) {
        self.deadlines = [self.hub.drain(), self.spoke.drain()];
        self.hub.check_status(self.now);
        self.spoke.check_status(self.now);
    }

    /// At the end: the `show` output of both.
    pub fn finish(&self) {
        self.hub.show(self.now);
        self.spoke.show(self.now);
    }
}
