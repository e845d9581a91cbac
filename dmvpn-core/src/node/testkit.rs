//! Unit-test helpers: the seeds' network (hub 172.17.0.1 / 10.0.0.1, spoke *i* at
//! 172.16.*i*.1 / 10.0.0.(10+*i*) with LAN 192.168.*i*.0/24) as plain nodes, with the
//! underlay carried by hand.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use dmvpn_gre::Protocol;
use dmvpn_wire::ip::{HeaderOptions, IpProtocol, Repr};

use super::{Deliver, Input, Limits, Node, Output, Transmit};
use crate::config::{NhrpConfig, NhsConfig, NodeConfig, StaticMap, TunnelConfig, TunnelMode};
use crate::entropy::Entropy;
use crate::event::Event;

pub(crate) const HUB_NBMA: IpAddr = IpAddr::V4(Ipv4Addr::new(172, 17, 0, 1));
pub(crate) const HUB_TUNNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const HUB_TUNNEL: IpAddr = IpAddr::V4(HUB_TUNNEL_V4);

pub(crate) fn spoke_nbma(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(172, 16, i, 1))
}

pub(crate) fn spoke_tunnel(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10 + i))
}

fn tunnel(address: &str, source: IpAddr, nhrp: NhrpConfig) -> TunnelConfig {
    TunnelConfig {
        name: "Tunnel0".into(),
        address: address.parse().unwrap(),
        source,
        mode: TunnelMode::Multipoint,
        key: Some(100_000),
        mtu: 1400,
        underlay_mtu: 1500,
        adjust_mss: None,
        verify_unicast_source: false,
        nhrp,
        protection: None,
        ipv6: None,
    }
}

pub(crate) fn hub_config() -> NodeConfig {
    NodeConfig {
        hostname: "hub".into(),
        tunnels: vec![tunnel(
            "10.0.0.1/24",
            HUB_NBMA,
            NhrpConfig {
                holdtime: 300,
                map_multicast_dynamic: true,
                ..NhrpConfig::new(99)
            },
        )],
        networks: Vec::new(),
        crypto: Default::default(),
    }
}

pub(crate) fn spoke_config(i: u8) -> NodeConfig {
    NodeConfig {
        hostname: format!("spoke-{i}"),
        tunnels: vec![tunnel(
            &format!("10.0.0.{}/24", 10 + i),
            spoke_nbma(i),
            NhrpConfig {
                holdtime: 300,
                nhs: vec![NhsConfig {
                    address: HUB_TUNNEL,
                    nbma: None,
                }],
                maps: vec![StaticMap {
                    address: HUB_TUNNEL,
                    nbma: HUB_NBMA,
                }],
                map_multicast: vec![HUB_NBMA],
                shortcut: true,
                ..NhrpConfig::new(99)
            },
        )],
        networks: vec![format!("192.168.{i}.0/24").parse().unwrap()],
        crypto: Default::default(),
    }
}

/// An IPv4/UDP packet from `src` to `dst` with this TTL and 8 bytes of zeros.
pub(crate) fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
    let opts = HeaderOptions {
        ttl,
        ..HeaderOptions::default()
    };
    let ip = Repr::new(src.into(), dst.into(), IpProtocol::UDP, 8, &opts, 1).unwrap();
    let mut buf = vec![0u8; ip.buffer_len()];
    ip.emit(&mut buf).unwrap();
    buf
}

/// The inner IP packet of a GRE transmit, if it carries one.
pub(crate) fn data(t: &Transmit) -> Option<&[u8]> {
    let (hdr, inner) = dmvpn_gre::wire::gre::decapsulate(&t.payload).ok()?;
    matches!(hdr.protocol, Protocol::IPV4 | Protocol::IPV6).then_some(inner)
}

/// Feeds a transmit of one node to another as the underlay delivers it.
pub(crate) fn underlay(to: &mut Node, now: Instant, t: &Transmit) -> Result<(), crate::Error> {
    to.handle_input(Input::Underlay {
        now,
        src: t.src,
        dst: t.dst,
        payload: &t.payload,
    })
}

/// Feeds an overlay packet.
pub(crate) fn overlay(to: &mut Node, now: Instant, packet: &[u8]) -> Result<(), crate::Error> {
    to.handle_input(Input::Overlay { now, packet })
}

/// A hub (node 0) and spokes 1..=n, with every node's events and deliveries logged.
pub(crate) struct Net {
    pub(crate) now: Instant,
    pub(crate) nodes: Vec<Node>,
    pub(crate) events: Vec<Vec<Event>>,
    pub(crate) delivered: Vec<Vec<Deliver>>,
}

impl Net {
    /// The nodes, nothing exchanged yet; the hub has the given limits and routes to every LAN.
    pub(crate) fn with_limits(spokes: u8, limits: Limits) -> Net {
        let now = Instant::now();
        let mut hub = Node::with_limits(now, hub_config(), Entropy::from_seed(0), limits).unwrap();
        let mut nodes = Vec::new();
        for i in 1..=spokes {
            let lan = format!("192.168.{i}.0/24").parse().unwrap();
            hub.add_route(lan, spoke_tunnel(i)).unwrap();
            let mut s = Node::new(now, spoke_config(i), Entropy::from_seed(u64::from(i))).unwrap();
            for j in (1..=spokes).filter(|j| *j != i) {
                let lan = format!("192.168.{j}.0/24").parse().unwrap();
                s.add_route(lan, spoke_tunnel(j)).unwrap();
            }
            nodes.push(s);
        }
        nodes.insert(0, hub);
        let n = usize::from(spokes) + 1;
        let mut net = Net {
            now,
            nodes,
            events: vec![Vec::new(); n],
            delivered: vec![Vec::new(); n],
        };
        net.carry();
        net
    }

    /// Every spoke registered with the hub.
    pub(crate) fn registered(spokes: u8) -> Net {
        Net::with_limits(spokes, Limits::default())
    }

    pub(crate) fn hub(&mut self) -> &mut Node {
        &mut self.nodes[0]
    }

    pub(crate) fn spoke(&mut self, i: u8) -> &mut Node {
        &mut self.nodes[usize::from(i)]
    }

    /// Drains node `k`'s outputs: its transmits are returned, events and deliveries logged.
    pub(crate) fn take_node(&mut self, k: usize) -> Vec<Transmit> {
        let mut out = Vec::new();
        loop {
            match self.nodes[k].poll_output() {
                Output::Transmit(t) => out.push(t),
                Output::Deliver(d) => self.delivered[k].push(d),
                Output::Event(e) => self.events[k].push(e),
                Output::Timeout(_) => return out,
            }
        }
    }

    /// Spoke `i`'s transmits (see [`Net::take_node`]).
    pub(crate) fn take(&mut self, i: u8) -> Vec<Transmit> {
        self.take_node(usize::from(i))
    }

    /// The hub's transmits (see [`Net::take_node`]).
    pub(crate) fn take_hub(&mut self) -> Vec<Transmit> {
        self.take_node(0)
    }

    fn owner(&self, nbma: IpAddr) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.ifaces.iter().any(|f| f.cfg.source == nbma))
    }

    /// Carries every queued transmit to its destination node, one at a time, until nothing
    /// moves; returns how many were carried.
    pub(crate) fn carry(&mut self) -> usize {
        let mut queue: VecDeque<Transmit> = VecDeque::new();
        for k in 0..self.nodes.len() {
            queue.extend(self.take_node(k));
        }
        let mut moved = 0;
        while let Some(t) = queue.pop_front() {
            moved += 1;
            let Some(k) = self.owner(t.dst) else { continue };
            let now = self.now;
            let _ = underlay(&mut self.nodes[k], now, &t);
            queue.extend(self.take_node(k));
        }
        moved
    }
}
