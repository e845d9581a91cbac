//! Nodes wired to each other by hand, without netsim: every transmit handed straight to the
//! node it is addressed to, at one instant. For allocation tests and benchmarks of the data
//! path, where the simulated network's own work would be in the way.

use std::net::IpAddr;
use std::time::Instant;

use dmvpn_wire::Proto;

use crate::config::NodeConfig;
use crate::node::{Deliver, Input, Node, Output, Transmit};
use crate::sim::example::Example;
use crate::{Entropy, Error};

/// The input that hands transmit `t` to the node it is addressed to: a GRE packet, an ESP
/// packet, or a UDP datagram (IKE, ESP in UDP).
pub fn input_of(now: Instant, t: &Transmit) -> Input<'_> {
    match t.proto {
        Proto::Udp { src_port, dst_port } => Input::Udp {
            now,
            src: (t.src, src_port).into(),
            dst: (t.dst, dst_port).into(),
            payload: &t.payload,
        },
        Proto::ESP => Input::Esp {
            now,
            src: t.src,
            dst: t.dst,
            payload: &t.payload,
        },
        _ => Input::Underlay {
            now,
            src: t.src,
            dst: t.dst,
            payload: &t.payload,
        },
    }
}

/// Some nodes and their NBMA addresses (their first tunnel's source).
pub struct Wired {
    /// The nodes, in the order they were given.
    pub nodes: Vec<Node>,
    addrs: Vec<IpAddr>,
}

impl Wired {
    /// Nodes built from `configs` at `now`, with randomness derived from `seed`.
    pub fn new(now: Instant, configs: Vec<NodeConfig>, seed: u64) -> Result<Wired, Error> {
        let root = Entropy::from_seed(seed);
        let mut nodes = Vec::new();
        let mut addrs = Vec::new();
        for (i, cfg) in configs.into_iter().enumerate() {
            addrs.push(
                cfg.tunnels
                    .first()
                    .map_or(IpAddr::from([0, 0, 0, 0]), |t| t.source),
            );
            let e = root.derive(u32::try_from(i).unwrap_or(u32::MAX));
            nodes.push(Node::new(now, cfg, e)?);
        }
        Ok(Wired { nodes, addrs })
    }

    /// The example's hub (node 0, with its routes) and spokes A and B (nodes 1 and 2, routing
    /// each other's LAN as phase 2 does), with `tweak` applied to every configuration first.
    pub fn example(
        now: Instant,
        ex: &Example,
        tweak: impl Fn(&mut NodeConfig),
        seed: u64,
    ) -> Result<Wired, Error> {
        let mut cfgs = vec![ex.hub(), ex.spoke(1), ex.spoke(2)];
        for c in &mut cfgs {
            tweak(c);
        }
        let mut w = Wired::new(now, cfgs, seed)?;
        let routes: Vec<_> = ex.hub_routes().collect();
        for (i, (net, via)) in [
            (0, routes),
            (1, vec![ex.spoke_route(2)]),
            (2, vec![ex.spoke_route(1)]),
        ]
        .into_iter()
        .flat_map(|(i, r)| r.into_iter().map(move |x| (i, x)))
        {
            if let Some(n) = w.nodes.get_mut(i) {
                n.add_route(net, via)?;
            }
        }
        Ok(w)
    }

    /// Fires every node's timers at `now` and carries every transmit to its node until nothing
    /// moves; returns each node's deliveries.
    pub fn settle(&mut self, now: Instant) -> Vec<Vec<Deliver>> {
        let mut delivered: Vec<Vec<Deliver>> = self.nodes.iter().map(|_| Vec::new()).collect();
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                let Some(n) = self.nodes.get_mut(i) else {
                    continue;
                };
                let _ = n.handle_input(Input::Timeout(now));
                while let Some(out) = self.nodes.get_mut(i).map(Node::poll_output) {
                    match out {
                        Output::Transmit(t) => {
                            moved = true;
                            if let Some(j) = self.addrs.iter().position(|a| *a == t.dst)
                                && let Some(to) = self.nodes.get_mut(j)
                            {
                                let _ = to.handle_input(input_of(now, &t));
                            }
                            if let Some(n) = self.nodes.get_mut(i) {
                                n.recycle(t.payload);
                            }
                        }
                        Output::Deliver(d) => {
                            if let Some(v) = delivered.get_mut(i) {
                                v.push(d);
                            }
                        }
                        Output::Event(_) => {}
                        Output::Timeout(_) => break,
                    }
                }
            }
            if !moved {
                return delivered;
            }
        }
    }
}
