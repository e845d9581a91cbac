//! DMVPN nodes on the deterministic simulated network of [`dmvpn_netsim`] (feature `sim`): what the
//! scenario tests and the `dmvpn-sim` demo share.
//!
//! A [`SimNode`] is a [`Node`] as a [`dmvpn_netsim::Host`]: underlay datagrams in and out (GRE,
//! protocol 47), timers on the virtual clock, and the overlay side simulated too: the LAN
//! hosts behind the node (its [`NodeConfig::networks`]) answer ICMP echo requests, and ICMPv6
//! ones on an IPv6 LAN (with valid checksums, see [`icmp`]), and record the echo replies they
//! get. Everything the node reports
//! is logged with its virtual time, and an optional trace names every packet the node sends.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dmvpn_gre::Protocol;
use dmvpn_netsim::{Datagram, Host};
use dmvpn_wire::Proto;
use ipnet::IpNet;

use crate::config::NodeConfig;
use crate::entropy::Entropy;
use crate::error::Error;
use crate::event::Event;
use crate::node::{Input, Limits, Node, Output, Transmit};
use crate::small_map::SmallMap;

pub mod example;
pub mod icmp;

/// An echo reply a LAN host behind a node received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRecord {
    /// The echo (src is the host that answered).
    pub echo: icmp::Echo,
    /// When the request was sent, if this node sent it.
    pub sent: Option<Instant>,
    /// When the reply arrived.
    pub received: Instant,
}

/// One packet the node sent, for narration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// When.
    pub at: Instant,
    /// Tunnel interface index.
    pub tunnel: usize,
    /// Outer source.
    pub src: IpAddr,
    /// Outer destination.
    pub dst: IpAddr,
    /// What it carries: an NHRP packet type, an ICMP echo, or another IP packet (inside the
    /// ESP packet, when `protected`); an IKE message (`IKE IKE_AUTH(35) request`).
    pub what: String,
    /// The ICMP echo it carries, if any.
    pub echo: Option<icmp::Echo>,
    /// Whether it went in ESP (`what` then describes the GRE packet inside).
    pub protected: bool,
}

/// An IKE datagram in words: `IKE IKE_SA_INIT request`, `NAT keepalive`.
pub fn describe_ike(payload: &[u8], src_port: u16, dst_port: u16) -> String {
    let ike = if src_port == 4500 || dst_port == 4500 {
        match payload {
            [0xff] => return "NAT keepalive".into(),
            [0, 0, 0, 0, rest @ ..] => rest,
            _ => return "ESP in UDP".into(),
        }
    } else {
        payload
    };
    match dmvpn_ikev2::wire::Header::new_checked(ike) {
        Ok(h) => format!(
            "IKE {} {}",
            h.exchange_type(),
            if h.flags().response() {
                "response"
            } else {
                "request"
            }
        ),
        Err(_) => "malformed IKE".into(),
    }
}

/// What a GRE packet the node sent carries, in words.
pub fn describe(t: &Transmit) -> (String, Option<icmp::Echo>) {
    let Ok((hdr, payload)) = dmvpn_gre::wire::gre::decapsulate(&t.payload) else {
        return ("malformed GRE".into(), None);
    };
    match hdr.protocol {
        Protocol::NHRP => {
            let ty = dmvpn_nhrp::wire::Packet::new_checked(payload)
                .map(|p| p.packet_type())
                .unwrap_or_default();
            let name = ty.name().unwrap_or("unknown NHRP packet");
            (format!("NHRP {name}"), None)
        }
        _ => match icmp::parse(payload) {
            Some(e) => {
                let k = match e.kind {
                    icmp::EchoKind::Request => "request",
                    icmp::EchoKind::Reply => "reply",
                };
                let icmp = if e.src.is_ipv6() { "ICMPv6" } else { "ICMP" };
                (
                    format!("{icmp} echo {k} {} > {} seq {}", e.src, e.dst, e.seq),
                    Some(e),
                )
            }
            None => match dmvpn_wire::ip::Repr::parse(payload) {
                Ok((ip, _)) => (
                    format!(
                        "IP {} > {} proto {}",
                        ip.src_addr(),
                        ip.dst_addr(),
                        ip.protocol()
                    ),
                    None,
                ),
                Err(_) => ("malformed IP".into(), None),
            },
        },
    }
}

/// A packet the node delivered to the overlay, bytes and all (see [`SimNode::set_capture`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// When.
    pub at: Instant,
    /// Tunnel interface index.
    pub tunnel: usize,
    /// The IP packet, as [`Deliver::packet`](crate::Deliver::packet) gave it.
    pub packet: Vec<u8>,
}

/// A packet delivered to the overlay that no simulated LAN host consumed (routing protocol
/// multicast, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// When.
    pub at: Instant,
    /// Tunnel interface index.
    pub tunnel: usize,
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ping {
    src: IpAddr,
    dst: IpAddr,
    id: u16,
    seq: u16,
    data_len: usize,
}

/// A [`Node`] on the simulated network with its LAN simulated behind it. See the
/// [module docs](self).
#[derive(Debug)]
pub struct SimNode {
    node: Node,
    addr: IpAddr,
    lans: Vec<IpNet>,
    out: VecDeque<Datagram>,
    events: Vec<(Instant, Event)>,
    replies: Vec<EchoRecord>,
    /// Echo requests in flight (one or two per pinging spoke: a small map).
    sent: SmallMap<(IpAddr, IpAddr, u16, u16), Instant>,
    answered: u64,
    unsendable: u64,
    delivered: Vec<Delivered>,
    errors: Vec<(Instant, Error)>,
    scheduled: BinaryHeap<Reverse<(Instant, u64)>>,
    pings: BTreeMap<u64, Ping>,
    next_ping: u64,
    trace: Option<Vec<TraceLine>>,
    captured: Option<Vec<Captured>>,
    next_timeout: Option<Instant>,
    max_log: usize,
    event_filter: Option<fn(&Event) -> bool>,
}

impl SimNode {
    /// A node with its NBMA address (the netsim host address) taken from its first tunnel's
    /// source, and its randomness from `entropy` (see [`Node::new`]; a simulation seeds it,
    /// [`Entropy::from_seed`], so that its runs repeat).
    pub fn new(now: Instant, config: NodeConfig, entropy: Entropy) -> Result<SimNode, Error> {
        SimNode::with_limits(now, config, entropy, Limits::default())
    }

    /// Like [`SimNode::new`] with explicit [`Limits`].
    pub fn with_limits(
        now: Instant,
        config: NodeConfig,
        entropy: Entropy,
        limits: Limits,
    ) -> Result<SimNode, Error> {
        let addr = config
            .tunnels
            .first()
            .map(|t| t.source)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let lans = config.networks.clone();
        let node = Node::with_limits(now, config, entropy, limits)?;
        let s = SimNode {
            node,
            addr,
            lans,
            out: VecDeque::new(),
            events: Vec::new(),
            replies: Vec::new(),
            sent: SmallMap::default(),
            answered: 0,
            unsendable: 0,
            delivered: Vec::new(),
            errors: Vec::new(),
            scheduled: BinaryHeap::new(),
            pings: BTreeMap::new(),
            next_ping: 0,
            trace: None,
            captured: None,
            // The node's first outputs (its Registration Requests) are drained at the first
            // timeout, right away, so that a trace switched on after `new` sees them.
            next_timeout: Some(now),
            max_log: 1_000_000,
            event_filter: None,
        };
        Ok(s)
    }

    /// The node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The node, for commands; call [`SimNode::pump`] afterwards.
    pub fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }

    /// Records every packet sent from now on, for [`SimNode::take_trace`] (or stops).
    pub fn set_trace(&mut self, on: bool) {
        self.trace = if on { Some(Vec::new()) } else { None };
        self.node.set_tap(on);
    }

    /// Takes the trace recorded so far.
    pub fn take_trace(&mut self) -> Vec<TraceLine> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Keeps a copy of every packet the node delivers to the overlay from now on, for
    /// [`SimNode::take_captured`] (or stops). The LAN hosts still see them as before.
    pub fn set_capture(&mut self, on: bool) {
        self.captured = on.then(Vec::new);
    }

    /// Takes the packets captured so far (see [`SimNode::set_capture`]).
    pub fn take_captured(&mut self) -> Vec<Captured> {
        self.captured
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Bounds the event, reply, delivery and error logs (default 1,000,000 each); beyond it
    /// they stop growing.
    pub fn set_max_log(&mut self, n: usize) {
        self.max_log = n;
    }

    /// Logs only the events `keep` accepts from now on (`None`: every event, the default): a
    /// simulation of many nodes that counts a few kinds of events need not hold the rest.
    pub fn set_event_filter(&mut self, keep: Option<fn(&Event) -> bool>) {
        self.event_filter = keep;
    }

    /// Every event with its time (those [`SimNode::set_event_filter`] kept).
    pub fn events(&self) -> &[(Instant, Event)] {
        &self.events
    }

    /// Echo replies received by the LAN hosts.
    pub fn replies(&self) -> &[EchoRecord] {
        &self.replies
    }

    /// Echo requests the LAN hosts answered.
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// Transmits the node produced that could not be put on the simulated wire (a UDP payload
    /// too long for its length field).
    pub fn unsendable(&self) -> u64 {
        self.unsendable
    }

    /// Other packets delivered to the overlay.
    pub fn delivered(&self) -> &[Delivered] {
        &self.delivered
    }

    /// Inputs the node dropped, with why.
    pub fn errors(&self) -> &[(Instant, Error)] {
        &self.errors
    }

    /// Adds a route (see [`Node::add_route`]).
    pub fn add_route(&mut self, prefix: IpNet, via: IpAddr) -> Result<(), Error> {
        self.node.add_route(prefix, via)
    }

    /// A LAN host sends an echo request now.
    pub fn ping(
        &mut self,
        now: Instant,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        id: u16,
        seq: u16,
    ) {
        self.send_ping(
            now,
            Ping {
                src: src.into(),
                dst: dst.into(),
                id,
                seq,
                data_len: 56,
            },
        );
        self.pump(now);
    }

    /// A LAN host will send an echo request at `at`.
    pub fn schedule_ping(
        &mut self,
        at: Instant,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        id: u16,
        seq: u16,
    ) {
        self.schedule_ping_sized(at, src, dst, id, seq, 56);
    }

    /// Like [`SimNode::schedule_ping`] with `data_len` bytes of echo data.
    pub fn schedule_ping_sized(
        &mut self,
        at: Instant,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        id: u16,
        seq: u16,
        data_len: usize,
    ) {
        let (src, dst) = (src.into(), dst.into());
        let n = self.next_ping;
        self.next_ping += 1;
        self.pings.insert(
            n,
            Ping {
                src,
                dst,
                id,
                seq,
                data_len,
            },
        );
        self.scheduled.push(Reverse((at, n)));
    }

    /// Feeds an overlay packet from the LAN to the node now.
    pub fn send_overlay(&mut self, now: Instant, packet: &[u8]) {
        self.input(now, Input::Overlay { now, packet });
        self.pump(now);
    }

    fn send_ping(&mut self, now: Instant, p: Ping) {
        let Some(pkt) = icmp::echo_request_ip(p.src, p.dst, p.id, p.seq, p.data_len) else {
            return;
        };
        if self.sent.len() < self.max_log {
            self.sent.insert((p.src, p.dst, p.id, p.seq), now);
        }
        self.input(now, Input::Overlay { now, packet: &pkt });
    }

    fn input(&mut self, now: Instant, input: Input<'_>) {
        if let Err(e) = self.node.handle_input(input)
            && self.errors.len() < self.max_log
        {
            self.errors.push((now, e));
        }
    }

    fn is_lan(&self, a: IpAddr) -> bool {
        self.lans.iter().any(|n| n.contains(&a))
    }

    /// Drains the node's outputs: transmits to the network, deliveries to the LAN hosts
    /// (which answer echo requests at once), events to the log.
    pub fn pump(&mut self, now: Instant) {
        loop {
            match self.node.poll_output() {
                Output::Transmit(t) => {
                    if self.trace.is_some() {
                        let mut tunnel = self.node.tunnel_of(&t).unwrap_or(usize::MAX);
                        let esp = match t.proto {
                            Proto::ESP => true,
                            Proto::Udp { src_port: 4500, .. } => matches!(
                                dmvpn_esp::wire::udp_encap::UdpPayload::classify(&t.payload),
                                Ok(dmvpn_esp::wire::udp_encap::UdpPayload::Esp(_))
                            ),
                            _ => false,
                        };
                        let (what, echo) = match t.proto {
                            // What the ESP packet protects: the GRE packet the node tapped.
                            _ if esp => match self.node.poll_tap() {
                                Some(gre) => {
                                    let inner = Transmit {
                                        src: t.src,
                                        dst: t.dst,
                                        proto: Proto::GRE,
                                        payload: gre,
                                    };
                                    tunnel = self.node.tunnel_of(&inner).unwrap_or(tunnel);
                                    let described = describe(&inner);
                                    self.node.recycle(inner.payload);
                                    described
                                }
                                None => ("ESP".into(), None),
                            },
                            Proto::Udp { src_port, dst_port } => {
                                (describe_ike(&t.payload, src_port, dst_port), None)
                            }
                            _ => describe(&t),
                        };
                        if let Some(trace) = self.trace.as_mut() {
                            trace.push(TraceLine {
                                at: now,
                                tunnel,
                                src: t.src,
                                dst: t.dst,
                                what,
                                echo,
                                protected: esp,
                            });
                        }
                    }
                    // One conversion for every kind of transmit (GRE as is; a UDP transmit, such
                    // as IKE passed through, gets its UDP header).
                    match Datagram::from_transmit(t, None) {
                        Ok(d) => self.out.push_back(d),
                        Err(_) => self.unsendable += 1,
                    }
                }
                Output::Deliver(d) => {
                    if let Some(c) = self.captured.as_mut().filter(|c| c.len() < self.max_log) {
                        c.push(Captured {
                            at: now,
                            tunnel: d.tunnel,
                            packet: d.packet().to_vec(),
                        });
                    }
                    let echo = icmp::parse(d.packet());
                    match echo {
                        Some(e) if self.is_lan(e.dst) && e.kind == icmp::EchoKind::Request => {
                            self.answered += 1;
                            if let Some(reply) = icmp::reply_to(d.packet()) {
                                self.input(
                                    now,
                                    Input::Overlay {
                                        now,
                                        packet: &reply,
                                    },
                                );
                            }
                        }
                        Some(e) if self.is_lan(e.dst) => {
                            if self.replies.len() < self.max_log {
                                let sent = self.sent.remove(&(e.dst, e.src, e.id, e.seq));
                                self.replies.push(EchoRecord {
                                    echo: e,
                                    sent,
                                    received: now,
                                });
                            }
                        }
                        _ => {
                            if self.delivered.len() < self.max_log
                                && let Ok((ip, _)) = dmvpn_wire::ip::Repr::parse(d.packet())
                            {
                                self.delivered.push(Delivered {
                                    at: now,
                                    tunnel: d.tunnel,
                                    src: ip.src_addr(),
                                    dst: ip.dst_addr(),
                                });
                            }
                        }
                    }
                    self.node.recycle(d.into_buffer());
                }
                Output::Event(e) => {
                    if self.events.len() < self.max_log
                        && self.event_filter.is_none_or(|keep| keep(&e))
                    {
                        self.events.push((now, e));
                    }
                }
                Output::Timeout(t) => {
                    self.next_timeout = t;
                    // Drained: an idle node keeps no queue capacity (many spokes are idle).
                    self.node.shrink_idle();
                    break;
                }
            }
        }
    }

    fn next_scheduled(&self) -> Option<Instant> {
        self.scheduled.peek().map(|Reverse((t, _))| *t)
    }

    /// How long until the node's next timer, from `now` (for display).
    pub fn next_timer_in(&self, now: Instant) -> Option<Duration> {
        self.next_timeout.map(|t| t.saturating_duration_since(now))
    }
}

impl Host for SimNode {
    fn addr(&self) -> IpAddr {
        self.addr
    }

    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        match dmvpn_wire::IpProtocol(d.protocol) {
            dmvpn_wire::IpProtocol::GRE => self.input(
                now,
                Input::Underlay {
                    now,
                    src: d.src,
                    dst: d.dst,
                    payload: &d.payload,
                },
            ),
            dmvpn_wire::IpProtocol::ESP => self.input(
                now,
                Input::Esp {
                    now,
                    src: d.src,
                    dst: d.dst,
                    payload: &d.payload,
                },
            ),
            dmvpn_wire::IpProtocol::UDP => {
                // IKE and ESP in UDP: the UDP header (checksum verified) comes off here.
                let Ok(inbound) = d.inbound(dmvpn_netsim::Decap::Udp) else {
                    return;
                };
                let (src, dst) = (inbound.remote(), inbound.local());
                self.input(
                    now,
                    Input::Udp {
                        now,
                        src,
                        dst,
                        payload: inbound.payload,
                    },
                );
            }
            _ => return,
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, n))) = self.scheduled.peek().copied() {
            if at > now {
                break;
            }
            self.scheduled.pop();
            if let Some(p) = self.pings.remove(&n) {
                self.send_ping(now, p);
            }
        }
        if self.next_timeout.is_some_and(|t| t <= now) {
            self.input(now, Input::Timeout(now));
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        let d = self.out.pop_front();
        if d.is_none() && self.out.capacity() > 0 {
            // Drained: an idle node keeps no queue capacity (many spokes are idle).
            self.out = VecDeque::new();
        }
        d
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_timeout, self.next_scheduled()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
