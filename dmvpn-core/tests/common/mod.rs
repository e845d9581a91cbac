//! The scenario harness: the seeds' example network on netsim, every underlay datagram recorded
//! to `<CARGO_TARGET_TMPDIR>/pcap/dmvpn-<name>.pcap` for the CI's tshark sweep.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dmvpn_core::config::NodeConfig;
use dmvpn_core::sim::example::Example;
use dmvpn_core::sim::{SimNode, TraceLine};
use dmvpn_core::{Entropy, Event, EventKind};
use dmvpn_netsim::HostId;

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub struct Scenario {
    pub sim: dmvpn_netsim::Scenario<SimNode>,
    pub ex: Example,
    pub hub: Option<HostId>,
    pub spokes: Vec<HostId>,
    /// The nodes' randomness, from the scenario's seed (each node its own derivation).
    entropy: Entropy,
    nodes: u32,
}

impl Scenario {
    /// An empty network with recording on.
    pub fn empty(name: &'static str, seed: u64, ex: Example) -> Scenario {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pcap");
        Scenario {
            sim: dmvpn_netsim::Scenario::new(format!("dmvpn-{name}"), seed, dir),
            ex,
            hub: None,
            spokes: Vec::new(),
            entropy: Entropy::from_seed(seed),
            nodes: 0,
        }
    }

    /// The example's hub and spokes, with the hub's routes; traces on.
    pub fn new(name: &'static str, seed: u64, ex: Example) -> Scenario {
        let mut s = Scenario::empty(name, seed, ex);
        s.add_example_nodes();
        s
    }

    /// Adds the example's hub (with its routes) and spokes, as [`Scenario::new`] does, to a
    /// network built with [`Scenario::empty`] (NAT boxes first, say).
    pub fn add_example_nodes(&mut self) {
        let hub = self.add(self.ex.hub());
        for (net, via) in self.ex.hub_routes().collect::<Vec<_>>() {
            self.node(hub).add_route(net, via).unwrap();
        }
        self.hub = Some(hub);
        for i in 1..=self.ex.spokes {
            let id = self.add(self.ex.spoke(i));
            self.spokes.push(id);
        }
    }

    pub fn add(&mut self, cfg: NodeConfig) -> HostId {
        let entropy = self.entropy();
        let mut n = SimNode::new(self.sim.now(), cfg, entropy).unwrap();
        n.set_trace(true);
        self.sim.add_host(n)
    }

    /// The next node's randomness (a node restarted with empty tables takes new entropy too).
    pub fn entropy(&mut self) -> Entropy {
        let e = self.entropy.derive(self.nodes);
        self.nodes += 1;
        e
    }

    pub fn now(&self) -> Instant {
        self.sim.now()
    }

    pub fn node(&mut self, id: HostId) -> &mut SimNode {
        self.sim.host_mut(id).unwrap()
    }

    pub fn get(&self, id: HostId) -> &SimNode {
        self.sim.host(id).unwrap()
    }

    pub fn hub(&self) -> HostId {
        self.hub.unwrap()
    }

    /// Spoke `i` (from 1).
    pub fn spoke(&self, i: u32) -> HostId {
        self.spokes[(i - 1) as usize]
    }

    pub fn run(&mut self, d: Duration) {
        self.sim.run_for(d).unwrap();
    }

    /// Routes on spoke `i` to spoke `j`'s LAN (phase 2: via `j`; phase 3: the summary via the
    /// hub).
    pub fn route(&mut self, i: u32, j: u32) {
        let (net, via) = self.ex.spoke_route(j);
        let id = self.spoke(i);
        self.node(id).add_route(net, via).unwrap();
    }

    /// Host `h` on spoke `i` pings host `hj` on spoke `j`.
    pub fn ping(&mut self, i: u32, h: u8, j: u32, hj: u8, seq: u16) {
        let (src, dst) = (self.ex.host(i, h), self.ex.host(j, hj));
        let now = self.now();
        let id = self.spoke(i);
        self.node(id).ping(now, src, dst, 1, seq);
        self.sim.flush();
    }

    pub fn replies(&self, id: HostId, seq: u16) -> usize {
        self.get(id)
            .replies()
            .iter()
            .filter(|r| r.echo.seq == seq)
            .count()
    }

    /// Trace lines of node `id` carrying ICMP echoes with sequence number `seq`.
    pub fn echo_path(&mut self, id: HostId, seq: u16) -> Vec<TraceLine> {
        self.node(id)
            .take_trace()
            .into_iter()
            .filter(|t| t.echo.is_some_and(|e| e.seq == seq))
            .collect()
    }

    pub fn events(&self, id: HostId) -> Vec<Event> {
        self.get(id)
            .events()
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub fn has(&self, id: HostId, f: impl Fn(&EventKind) -> bool) -> bool {
        self.get(id).events().iter().any(|(_, e)| f(&e.kind))
    }

    pub fn count(&self, id: HostId, f: impl Fn(&EventKind) -> bool) -> usize {
        self.get(id)
            .events()
            .iter()
            .filter(|(_, e)| f(&e.kind))
            .count()
    }

    pub fn nbma(&self, i: u32) -> IpAddr {
        self.ex.nbma(i)
    }

    pub fn tunnel(&self, i: u32) -> IpAddr {
        self.ex.tunnel_addr(i)
    }

    pub fn registered(&self, hub: HostId, i: u32) -> bool {
        self.get(hub)
            .node()
            .nhrp_server(0)
            .and_then(|s| s.registration(self.ex.tunnel_addr(i)))
            .is_some()
    }

    /// Writes the pcap and returns its path.
    pub fn finish(&mut self) -> PathBuf {
        let rec = self.sim.finish().unwrap();
        assert!(!rec.frames().is_empty());
        if self.ex.ipsec.is_some() {
            // A protected network: IKE (UDP) and ESP only, not one GRE frame in clear. The
            // protocol is at byte 9 of an IPv4 header, the next header at byte 6 of an IPv6
            // one (netsim adds no extension headers).
            let clear = rec
                .frames()
                .iter()
                .filter(|(_, f)| {
                    let at = if f.first().is_some_and(|b| b >> 4 == 6) {
                        6
                    } else {
                        9
                    };
                    f.get(at).is_none_or(|p| *p != 50 && *p != 17)
                })
                .count();
            assert_eq!(
                clear, 0,
                "frames neither ESP nor IKE on a protected network"
            );
        }
        self.sim.pcap_path().to_path_buf()
    }
}

pub const HUB_NBMA: Ipv4Addr = dmvpn_core::sim::example::HUB_NBMA;

/// The example network with each node's configuration adjusted (`tweak(0, hub)`,
/// `tweak(i, spoke i)`) before it starts; the hub's routes in place, traces on.
pub fn network(
    name: &'static str,
    seed: u64,
    ex: Example,
    tweak: impl Fn(u32, &mut dmvpn_core::config::NodeConfig),
) -> Scenario {
    let mut s = Scenario::empty(name, seed, ex.clone());
    let mut hub_cfg = ex.hub();
    tweak(0, &mut hub_cfg);
    let hub = s.add(hub_cfg);
    for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=ex.spokes {
        let mut cfg = ex.spoke(i);
        tweak(i, &mut cfg);
        let id = s.add(cfg);
        s.spokes.push(id);
    }
    s
}

/// Schedules `n` echo requests from host 25 on spoke `i` to host 37 on spoke `j`, one every
/// `every`, starting now, with sequence numbers from `first`, of `len` data bytes.
pub fn stream(s: &mut Scenario, i: u32, j: u32, first: u16, n: u16, every: Duration, len: usize) {
    let (src, dst) = (s.ex.lan_host(i, 25), s.ex.lan_host(j, 37));
    let now = s.now();
    let id = s.spoke(i);
    for k in 0..n {
        let at = now + every * u32::from(k);
        s.node(id)
            .schedule_ping_sized(at, src, dst, 1, first.wrapping_add(k), len);
    }
}

/// IPsec SA rekeys (`IpsecUp` with `rekey`) node `id` reported with `peer`.
pub fn rekeys(s: &Scenario, id: HostId, peer: IpAddr) -> usize {
    s.count(
        id,
        |k| matches!(k, EventKind::IpsecUp { peer: p, rekey: true, .. } if *p == peer),
    )
}
