//! The DMVPN node: tunnel interfaces (mGRE + NHRP) behind one Input/Output loop.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_gre::Protocol;
use dmvpn_nhrp::wire::{PacketType, Secret};
use dmvpn_nhrp::{
    CacheEvent, Client, ClientConfig, Entry, EntryFlags, EntryType, Prefix, Resolution, Route,
    Server, ServerConfig,
};
use dmvpn_wire::ip::Repr as IpRepr;
use ipnet::IpNet;

use crate::config::{HubResolution, NodeConfig, TunnelConfig, TunnelMode};
use crate::error::Error;
use crate::event::{Event, EventKind, Gone};
use crate::route::{NextHop, RouteSource, RouteTable};

/// An input to [`Node::handle_input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A datagram from the underlay (NBMA) network: `payload` is what follows the outer IP
    /// header (a GRE packet, IP protocol 47), `src` and `dst` are the outer addresses (`src` as
    /// received, i.e. after any NAT on the way).
    Underlay {
        /// The current time.
        now: Instant,
        /// Outer source address.
        src: IpAddr,
        /// Outer destination address (one of this node's tunnel sources).
        dst: IpAddr,
        /// The GRE packet.
        payload: &'a [u8],
    },
    /// An IPv4/IPv6 packet from the caller's TUN device (the overlay), to route into a
    /// tunnel.
    Overlay {
        /// The current time.
        now: Instant,
        /// The IP packet.
        packet: &'a [u8],
    },
    /// The time [`Output::Timeout`] asked for has come (an early or spurious call is
    /// harmless).
    Timeout(Instant),
}

/// What to send on the underlay, in the family's one datagram shape ([`dmvpn_wire::Transmit`]):
/// from `src` (a `tunnel source`) to `dst`. Today every node transmit is a GRE packet
/// (`proto` [`Proto::GRE`](dmvpn_wire::Proto::GRE), IP protocol 47): send it on a raw socket of
/// protocol 47 (the kernel adds the IP header). Give the payload buffer back with
/// [`Node::recycle`] to spare the next packet an allocation.
pub use dmvpn_wire::Transmit;

/// An overlay packet that arrived through a tunnel, for the caller's TUN device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// Index of the tunnel interface it came in on.
    pub tunnel: usize,
    /// The IPv4/IPv6 packet. Give the buffer back with [`Node::recycle`].
    pub packet: Vec<u8>,
}

/// What [`Node::poll_output`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this on the underlay.
    Transmit(Transmit),
    /// Write this to the overlay (TUN).
    Deliver(Deliver),
    /// Something happened.
    Event(Event),
    /// Nothing more for now: feed [`Input::Timeout`] at this instant (`None`: no timer is
    /// pending; wait for packets).
    Timeout(Option<Instant>),
}

/// Bounds on a node's queues and tables. Whatever exceeds them is dropped and counted in
/// [`NodeStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Underlay transmits queued between [`Node::handle_input`] and [`Node::poll_output`]
    /// (a hub replicating multicast to every spoke needs one per spoke).
    pub max_transmits: usize,
    /// Overlay deliveries queued.
    pub max_delivers: usize,
    /// Events queued.
    pub max_events: usize,
    /// Recycled buffers kept ([`Node::recycle`]).
    pub buffer_pool: usize,
    /// NHRP cache entries per spoke interface.
    pub max_cache: usize,
    /// Registrations per hub interface.
    pub max_registrations: usize,
    /// NHRP resolutions in progress per interface.
    pub max_pending_resolutions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_transmits: 65_536,
            max_delivers: 4096,
            max_events: 65_536,
            buffer_pool: 256,
            max_cache: 65_536,
            max_registrations: 1_000_000,
            max_pending_resolutions: 256,
        }
    }
}

/// What a tunnel interface does in its cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// NHS only: learns spokes from their registrations.
    Hub,
    /// NHC only: registers with its NHSs and resolves other spokes.
    Spoke,
    /// Both: a secondary hub that is a spoke of the primary (seed 003).
    HubAndSpoke,
    /// Plain point-to-point GRE without NHRP.
    Static,
}

impl core::fmt::Display for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Role::Hub => "Hub",
            Role::Spoke => "Spoke",
            Role::HubAndSpoke => "Hub/Spoke",
            Role::Static => "Static",
        })
    }
}

/// Data-path counters of a node: what it forwarded, and every drop by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Underlay datagrams received.
    pub underlay_in: u64,
    /// Underlay datagrams for no tunnel source of this node.
    pub underlay_not_local: u64,
    /// Underlay datagrams GRE refused (malformed, key mismatch, wrong peer: the tunnel
    /// counters say which).
    pub gre_dropped: u64,
    /// GRE payloads of a protocol type DMVPN does not carry.
    pub unsupported_protocol: u64,
    /// NHRP packets received.
    pub nhrp_in: u64,
    /// NHRP packets the machines dropped (their counters say why).
    pub nhrp_dropped: u64,
    /// Traffic Indications ignored because `ip nhrp shortcut` is off.
    pub redirects_ignored: u64,
    /// Tunnelled IP packets that were malformed.
    pub tunnelled_malformed: u64,
    /// Packets delivered to the overlay.
    pub delivered: u64,
    /// Overlay packets from the caller.
    pub overlay_in: u64,
    /// Overlay packets that were malformed.
    pub overlay_malformed: u64,
    /// Overlay packets with no route.
    pub no_route: u64,
    /// Packets with no mapping and no NHS to send through.
    pub no_mapping: u64,
    /// Unicast packets sent straight to the next hop's NBMA address.
    pub sent_direct: u64,
    /// Unicast packets sent through an NHS while a resolution runs (or failed).
    pub sent_via_nhs: u64,
    /// Packets a hub forwarded back out of a cloud (spoke to spoke through the hub).
    pub forwarded: u64,
    /// Phase 3 Traffic Indications sent by this hub.
    pub redirects_sent: u64,
    /// Multicast/broadcast copies sent.
    pub multicast_copies: u64,
    /// Packets dropped because their TTL ran out while forwarding.
    pub ttl_expired: u64,
    /// Packets dropped because forwarding would send them back to their sender.
    pub loops: u64,
    /// Packets GRE could not encapsulate.
    pub encapsulation_errors: u64,
    /// Transmits dropped because the queue was full.
    pub transmits_dropped: u64,
    /// Deliveries dropped because the queue was full.
    pub delivers_dropped: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
}

/// An NBMA peer with mappings on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerRef {
    pub(crate) entries: u32,
    pub(crate) since: Instant,
}

/// One tunnel interface.
#[derive(Debug)]
pub(crate) struct Iface {
    pub(crate) cfg: TunnelConfig,
    pub(crate) name: Arc<str>,
    pub(crate) gre: dmvpn_gre::Tunnel,
    pub(crate) client: Option<Box<Client>>,
    pub(crate) server: Option<Box<Server>>,
    /// Complete mappings by (from the server, prefix) → NBMA address.
    mappings: HashMap<(bool, Prefix), IpAddr>,
    pub(crate) peers: HashMap<IpAddr, PeerRef>,
}

impl Iface {
    pub(crate) fn role(&self) -> Role {
        match (&self.client, &self.server) {
            (Some(_), Some(_)) => Role::HubAndSpoke,
            (Some(_), None) => Role::Spoke,
            (None, Some(_)) => Role::Hub,
            (None, None) => Role::Static,
        }
    }

    fn own(&self) -> IpAddr {
        self.cfg.address.addr()
    }
}

/// Where an overlay packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Direct,
    ViaNhs,
}

/// A DMVPN node: one or more tunnel interfaces (mGRE or point-to-point GRE, each with its NHRP
/// client and/or server), the overlay routing table the caller feeds, and one Sans-IO loop.
///
/// - [`Node::handle_input`] takes an underlay datagram, an overlay packet or a timeout.
/// - [`Node::poll_output`] yields, until it says [`Output::Timeout`], underlay transmits,
///   overlay deliveries and events.
/// - Commands: [`Node::add_route`] / [`Node::remove_route`] (the caller's routing protocol),
///   [`Node::clear_nhrp`], [`Node::shutdown`].
/// - Status: [`Node::status`] (data), [`Node::show_dmvpn`], [`Node::show_ip_nhrp`],
///   [`Node::show_ip_nhrp_traffic`] (IOS text).
///
/// It never panics, whatever the input; every drop is counted ([`NodeStats`]).
#[derive(Debug)]
pub struct Node {
    pub(crate) hostname: String,
    pub(crate) networks: Vec<IpNet>,
    pub(crate) ifaces: Vec<Iface>,
    routes: RouteTable,
    transmits: VecDeque<Transmit>,
    delivers: VecDeque<Deliver>,
    events: VecDeque<Event>,
    pool: Vec<Vec<u8>>,
    limits: Limits,
    pub(crate) stats: NodeStats,
    last_now: Instant,
}

fn prefix_of(net: IpNet) -> Prefix {
    Prefix::new(net.addr(), net.prefix_len())
}

pub(crate) fn net_of(p: Prefix) -> IpNet {
    IpNet::new(p.addr(), p.len()).unwrap_or_else(|_| IpNet::from(p.addr()))
}

fn host_len(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

fn common(t: &TunnelConfig) -> dmvpn_nhrp::Common {
    let mut c = dmvpn_nhrp::Common::new(t.source, t.address.addr());
    c.network_id = t.nhrp.network_id;
    c.interface = t.name.clone();
    c.authentication = t
        .nhrp
        .authentication
        .as_ref()
        .map(|p| Secret::new(p.expose().to_vec()));
    c.max_send = dmvpn_nhrp::MaxSend {
        packets: t.nhrp.max_send.packets,
        interval: Duration::from_secs(u64::from(t.nhrp.max_send.every_secs)),
        ..dmvpn_nhrp::MaxSend::default()
    };
    c.mtu = t.mtu;
    c
}

fn client_config(t: &TunnelConfig, networks: &[IpNet], limits: &Limits) -> ClientConfig {
    let mut c = ClientConfig::new(t.source, t.address.addr());
    c.common = common(t);
    c.nhs = t
        .nhrp
        .nhs
        .iter()
        .map(|n| dmvpn_nhrp::Nhs {
            protocol_addr: n.address,
            nbma_addr: t.nhrp.nhs_nbma(n),
        })
        .collect();
    c.map = t
        .nhrp
        .maps
        .iter()
        .map(|m| dmvpn_nhrp::StaticMap {
            protocol_addr: m.address,
            prefix_len: host_len(m.address),
            nbma_addr: m.nbma,
        })
        .collect();
    c.local_prefixes = networks
        .iter()
        .filter(|n| n.addr().is_ipv4() == t.address.addr().is_ipv4())
        .map(|n| prefix_of(*n))
        .collect();
    c.holdtime = u16::try_from(t.nhrp.holdtime).unwrap_or(u16::MAX);
    c.registration_timeout = t
        .nhrp
        .registration_timeout
        .map(|s| Duration::from_secs(u64::from(s)));
    c.max_cache = limits.max_cache;
    c.max_pending = limits.max_pending_resolutions;
    c
}

fn server_config(t: &TunnelConfig, limits: &Limits) -> ServerConfig {
    let mut s = ServerConfig::new(t.source, t.address.addr());
    s.common = common(t);
    s.resolution = match t.nhrp.hub_resolution {
        HubResolution::Forward => dmvpn_nhrp::ResolutionMode::Forward,
        HubResolution::Answer => dmvpn_nhrp::ResolutionMode::Authoritative,
    };
    s.next_nhs = t.nhrp.nhs.first().map(|n| dmvpn_nhrp::Nhs {
        protocol_addr: n.address,
        nbma_addr: t.nhrp.nhs_nbma(n),
    });
    s.map = t
        .nhrp
        .maps
        .iter()
        .map(|m| dmvpn_nhrp::StaticMap {
            protocol_addr: m.address,
            prefix_len: host_len(m.address),
            nbma_addr: m.nbma,
        })
        .collect();
    s.map_multicast_dynamic = t.nhrp.map_multicast_dynamic;
    s.max_registrations = limits.max_registrations.max(s.map.len().saturating_add(1));
    s.holdtime = u16::try_from(t.nhrp.holdtime).unwrap_or(u16::MAX);
    s
}

/// Whether `dst` is a broadcast address for one of `subnets` (or the limited broadcast).
fn is_broadcast(dst: IpAddr, ifaces: &[Iface]) -> bool {
    match dst {
        IpAddr::V4(d) => {
            d.is_broadcast()
                || ifaces.iter().any(|i| {
                    matches!(i.cfg.address, IpNet::V4(n) if n.prefix_len() < 31 && n.broadcast() == d)
                })
        }
        IpAddr::V6(_) => false,
    }
}

enum NhrpTarget {
    Client,
    Server,
    Ignore,
}

impl Node {
    /// A node with default [`Limits`]. Validates the configuration (every problem reported),
    /// starts the NHRP machines and registers with every NHS at once (what IOS does at
    /// interface up): the Registration Requests are the first [`Output`]s.
    pub fn new(now: Instant, config: NodeConfig) -> Result<Node, Error> {
        Node::with_limits(now, config, Limits::default())
    }

    /// A node with explicit [`Limits`].
    pub fn with_limits(now: Instant, config: NodeConfig, limits: Limits) -> Result<Node, Error> {
        config.validate()?;
        let mut ifaces = Vec::with_capacity(config.tunnels.len());
        for t in &config.tunnels {
            let mode = match t.mode {
                TunnelMode::Multipoint => dmvpn_gre::Mode::Multipoint,
                TunnelMode::PointToPoint { destination } => dmvpn_gre::Mode::PointToPoint {
                    remote: destination,
                },
            };
            let gre = dmvpn_gre::Tunnel::new(dmvpn_gre::Config {
                key: t.key,
                mode,
                ..dmvpn_gre::Config::multipoint(t.source)
            })?;
            let multipoint = t.mode == TunnelMode::Multipoint;
            let client = if t.nhrp.nhs.is_empty() {
                None
            } else {
                let mut c = Client::new(now, client_config(t, &config.networks, &limits))?;
                c.register(now);
                Some(Box::new(c))
            };
            let hub = multipoint
                && (t.nhrp.nhs.is_empty() || t.nhrp.map_multicast_dynamic || t.nhrp.redirect);
            let server = if hub {
                let mut s = Server::new(now, server_config(t, &limits))?;
                s.reserve(64);
                Some(Box::new(s))
            } else {
                None
            };
            ifaces.push(Iface {
                cfg: t.clone(),
                name: Arc::from(t.name.as_str()),
                gre,
                client,
                server,
                mappings: HashMap::new(),
                peers: HashMap::new(),
            });
        }
        let mut node = Node {
            hostname: config.hostname,
            networks: config.networks,
            ifaces,
            routes: RouteTable::new(),
            transmits: VecDeque::new(),
            delivers: VecDeque::new(),
            events: VecDeque::new(),
            pool: Vec::new(),
            limits,
            stats: NodeStats::default(),
            last_now: now,
        };
        for i in 0..node.ifaces.len() {
            // Static maps are mappings too: the GRE tunnels to the hubs are up from the start.
            let statics: Vec<(bool, Entry)> = node
                .ifaces
                .get(i)
                .map(|f| {
                    let c = f
                        .client
                        .iter()
                        .flat_map(|c| c.cache().iter().map(|e| (false, e)));
                    let s = f
                        .server
                        .iter()
                        .flat_map(|s| s.cache().iter().map(|e| (true, e)));
                    c.chain(s)
                        .filter(|(_, e)| e.kind == EntryType::Static)
                        .map(|(b, e)| (b, e.clone()))
                        .collect()
                })
                .unwrap_or_default();
            for (server, e) in statics {
                node.on_cache_event(now, i, server, CacheEvent::Added(e));
            }
            node.drain_iface(now, i);
        }
        Ok(node)
    }

    /// The host name.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Number of tunnel interfaces.
    pub fn tunnels(&self) -> usize {
        self.ifaces.len()
    }

    /// The role of tunnel interface `tunnel`.
    pub fn role(&self, tunnel: usize) -> Option<Role> {
        self.ifaces.get(tunnel).map(Iface::role)
    }

    /// The NHRP client (spoke side) of an interface, for inspection.
    pub fn nhrp_client(&self, tunnel: usize) -> Option<&Client> {
        self.ifaces.get(tunnel)?.client.as_deref()
    }

    /// The NHRP server (hub side) of an interface, for inspection.
    pub fn nhrp_server(&self, tunnel: usize) -> Option<&Server> {
        self.ifaces.get(tunnel)?.server.as_deref()
    }

    /// The GRE tunnel of an interface (counters per peer, drops by reason).
    pub fn gre(&self, tunnel: usize) -> Option<&dmvpn_gre::Tunnel> {
        self.ifaces.get(tunnel).map(|f| &f.gre)
    }

    /// The tunnel interface a GRE packet between `local` (one of this node's tunnel sources) and
    /// a peer belongs to: the interface with that source whose `tunnel key` the packet carries,
    /// or else the first interface with that source (whose GRE then refuses the key mismatch).
    fn interface_for(&self, local: IpAddr, gre_packet: &[u8]) -> Option<usize> {
        let key = dmvpn_gre::wire::gre::Packet::new_checked(gre_packet)
            .ok()
            .map(|p| p.key());
        let mut first = None;
        for (i, f) in self.ifaces.iter().enumerate() {
            if f.cfg.source != local {
                continue;
            }
            first.get_or_insert(i);
            if key == Some(f.cfg.key) {
                return Some(i);
            }
        }
        first
    }

    /// The tunnel interface a transmit of this node's went out of (by its source and GRE key),
    /// for traces and per-interface accounting by the caller.
    pub fn tunnel_of(&self, t: &Transmit) -> Option<usize> {
        self.interface_for(t.src, &t.payload)
    }

    /// Data-path counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// The overlay routing table (routes from the caller, shortcuts from NHRP).
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    fn clock(&mut self, now: Instant) -> Instant {
        if now > self.last_now {
            self.last_now = now;
        }
        self.last_now
    }

    /// Gives a buffer from [`Transmit::payload`] or [`Deliver::packet`] back for reuse, so that
    /// the data path does not allocate per packet in steady state.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < self.limits.buffer_pool {
            buf.clear();
            self.pool.push(buf);
        }
    }

    fn buffer(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_default()
    }

    /// Handles one input. An error means the input was dropped (and counted); the node stays
    /// usable. Drain [`Node::poll_output`] afterwards.
    pub fn handle_input(&mut self, input: Input<'_>) -> Result<(), Error> {
        match input {
            Input::Timeout(now) => {
                let now = self.clock(now);
                self.handle_timeout(now);
                Ok(())
            }
            Input::Underlay {
                now,
                src,
                dst,
                payload,
            } => {
                let now = self.clock(now);
                self.on_underlay(now, src, dst, payload)
            }
            Input::Overlay { now, packet } => {
                let now = self.clock(now);
                self.on_overlay(now, packet)
            }
        }
    }

    /// The next output: transmits first, then deliveries, then events, and finally
    /// [`Output::Timeout`] with the earliest deadline of every machine of every interface.
    pub fn poll_output(&mut self) -> Output {
        if let Some(t) = self.transmits.pop_front() {
            return Output::Transmit(t);
        }
        if let Some(d) = self.delivers.pop_front() {
            return Output::Deliver(d);
        }
        if let Some(e) = self.events.pop_front() {
            return Output::Event(e);
        }
        Output::Timeout(self.poll_timeout())
    }

    /// The earliest deadline of every machine (what [`Output::Timeout`] carries).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ifaces
            .iter()
            .flat_map(|f| {
                [
                    f.client.as_ref().and_then(|c| c.poll_timeout()),
                    f.server.as_ref().and_then(|s| s.poll_timeout()),
                ]
            })
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.ifaces.len() {
            if let Some(f) = self.ifaces.get_mut(i) {
                if let Some(c) = f.client.as_mut()
                    && c.poll_timeout().is_some_and(|t| t <= now)
                {
                    c.handle_timeout(now);
                }
                if let Some(s) = f.server.as_mut()
                    && s.poll_timeout().is_some_and(|t| t <= now)
                {
                    s.handle_timeout(now);
                }
            }
            self.drain_iface(now, i);
        }
    }

    // ----- commands -----

    /// Adds (or replaces) a route from the caller's routing protocol: `prefix` via the overlay
    /// next hop `via`, on the tunnel interface whose subnet holds `via`. On a hub interface the
    /// route also tells NHRP where networks behind spokes are (phase 3 resolutions).
    pub fn add_route(&mut self, prefix: IpNet, via: IpAddr) -> Result<(), Error> {
        let tunnel = self
            .ifaces
            .iter()
            .position(|f| f.cfg.address.contains(&via))
            .ok_or(Error::NoTunnelFor(via))?;
        let prefix = prefix.trunc();
        let hop = NextHop { via, tunnel };
        if let Some(old) = self.routes.insert(prefix, RouteSource::Routed, hop)
            && old.tunnel != tunnel
            && let Some(s) = self
                .ifaces
                .get_mut(old.tunnel)
                .and_then(|f| f.server.as_mut())
        {
            s.remove_route(prefix_of(prefix));
        }
        if let Some(s) = self.ifaces.get_mut(tunnel).and_then(|f| f.server.as_mut()) {
            s.add_route(Route {
                prefix: prefix_of(prefix),
                next_hop: via,
            });
        }
        Ok(())
    }

    /// Removes the caller's route for exactly `prefix`; returns whether there was one.
    pub fn remove_route(&mut self, prefix: IpNet) -> bool {
        let prefix = prefix.trunc();
        match self.routes.remove(prefix, RouteSource::Routed) {
            Some(hop) => {
                if let Some(s) = self
                    .ifaces
                    .get_mut(hop.tunnel)
                    .and_then(|f| f.server.as_mut())
                {
                    s.remove_route(prefix_of(prefix));
                }
                true
            }
            None => false,
        }
    }

    /// `clear ip nhrp ADDRESS`: removes the mapping (or registration) covering `addr` on every
    /// interface and purges it at the peer (RFC 2332 §5.2.5). Returns whether one was removed.
    pub fn clear_nhrp(&mut self, now: Instant, addr: IpAddr) -> bool {
        let now = self.clock(now);
        let mut any = false;
        for i in 0..self.ifaces.len() {
            if let Some(f) = self.ifaces.get_mut(i) {
                if let Some(c) = f.client.as_mut() {
                    any |= c.purge(now, addr);
                }
                if let Some(s) = f.server.as_mut() {
                    any |= s.purge(now, addr);
                }
            }
            self.drain_iface(now, i);
        }
        any
    }

    /// Graceful shutdown: every spoke interface purges its registrations from its NHSs and
    /// stops registering.
    pub fn shutdown(&mut self, now: Instant) {
        let now = self.clock(now);
        for i in 0..self.ifaces.len() {
            if let Some(c) = self.ifaces.get_mut(i).and_then(|f| f.client.as_mut()) {
                c.shutdown(now);
            }
            self.drain_iface(now, i);
        }
    }

    // ----- routing -----

    /// The route for an overlay destination: the routing table, or the tunnel subnet itself
    /// (connected) when that is longer. Returns (tunnel, next hop, is a shortcut).
    pub fn lookup(&self, dst: IpAddr) -> Option<(usize, IpAddr, bool)> {
        let routed = self.routes.lookup(dst);
        let connected = self
            .ifaces
            .iter()
            .enumerate()
            .filter(|(_, f)| f.cfg.address.contains(&dst))
            .max_by_key(|(_, f)| f.cfg.address.prefix_len());
        match (routed, connected) {
            (Some((net, _, _)), Some((i, f))) if f.cfg.address.prefix_len() > net.prefix_len() => {
                Some((i, dst, false))
            }
            (Some((_, src, hop)), _) => Some((hop.tunnel, hop.via, src == RouteSource::Shortcut)),
            (None, Some((i, _))) => Some((i, dst, false)),
            (None, None) => None,
        }
    }

    fn is_own(&self, addr: IpAddr) -> bool {
        self.ifaces.iter().any(|f| f.own() == addr)
    }

    /// The NBMA address to send a packet for `dst` (next hop `via`) to on tunnel `t`: a
    /// registration (hub), a mapping (spoke), or, while a resolution runs, an NHS.
    fn next_nbma(
        &mut self,
        now: Instant,
        t: usize,
        via: IpAddr,
        dst: IpAddr,
        shortcut: bool,
    ) -> Result<(IpAddr, Path), Error> {
        let f = self.ifaces.get_mut(t).ok_or(Error::NoTunnelFor(via))?;
        if let TunnelMode::PointToPoint { destination } = f.cfg.mode {
            return Ok((destination, Path::Direct));
        }
        let source = f.cfg.source;
        if let Some(s) = f.server.as_ref()
            && let Some(n) = s
                .cache()
                .lookup(via)
                .filter(|e| e.is_complete() && e.kind != EntryType::Local)
                .and_then(Entry::effective_nbma)
        {
            return Ok((n, Path::Direct));
        }
        let Some(c) = f.client.as_mut() else {
            return Err(Error::NoMapping(via));
        };
        let key = if shortcut { dst } else { via };
        if let Some(n) = c.mark_used(now, key).filter(|n| *n != source) {
            return Ok((n, Path::Direct));
        }
        if shortcut
            && key != via
            && let Some(n) = c.mark_used(now, via).filter(|n| *n != source)
        {
            return Ok((n, Path::Direct));
        }
        let path = match c.resolve(now, via) {
            Ok(Resolution::Cached(n)) if n != source => Some(n),
            _ => None,
        };
        let nhs = c
            .nhs_status()
            .iter()
            .find(|n| n.up)
            .or(c.nhs_status().first())
            .map(|n| n.nbma_addr);
        self.drain_iface(now, t);
        match (path, nhs) {
            (Some(n), _) => Ok((n, Path::Direct)),
            (None, Some(n)) => Ok((n, Path::ViaNhs)),
            (None, None) => Err(Error::NoMapping(via)),
        }
    }

    /// Wraps `payload` in this tunnel's GRE header for `nbma` and queues it.
    fn emit(
        &mut self,
        t: usize,
        nbma: IpAddr,
        protocol: Protocol,
        payload: &[u8],
        decrement: bool,
    ) -> Result<(), Error> {
        if self.transmits.len() >= self.limits.max_transmits {
            self.stats.transmits_dropped = self.stats.transmits_dropped.saturating_add(1);
            return Err(Error::QueueFull(self.limits.max_transmits));
        }
        let mut buf = self.buffer();
        let Some(f) = self.ifaces.get_mut(t) else {
            return Err(Error::NoTunnelFor(nbma));
        };
        let hl = f.gre.gre_overhead();
        buf.resize(hl, 0);
        buf.extend_from_slice(payload);
        if decrement && !buf.get_mut(hl..).is_some_and(dmvpn_wire::ip::decrement_ttl) {
            self.stats.ttl_expired = self.stats.ttl_expired.saturating_add(1);
            self.recycle(buf);
            return Err(Error::TtlExpired(nbma));
        }
        if let Err(e) = f
            .gre
            .encapsulate(nbma, protocol, &mut buf, hl, payload.len())
        {
            self.stats.encapsulation_errors = self.stats.encapsulation_errors.saturating_add(1);
            self.recycle(buf);
            return Err(Error::Gre(e));
        }
        let src = f.cfg.source;
        self.transmits.push_back(Transmit {
            src,
            dst: nbma,
            proto: dmvpn_wire::Proto::GRE,
            payload: buf,
        });
        Ok(())
    }

    fn deliver(&mut self, t: usize, packet: &[u8]) -> Result<(), Error> {
        if self.delivers.len() >= self.limits.max_delivers {
            self.stats.delivers_dropped = self.stats.delivers_dropped.saturating_add(1);
            return Err(Error::QueueFull(self.limits.max_delivers));
        }
        let mut buf = self.buffer();
        buf.extend_from_slice(packet);
        self.stats.delivered = self.stats.delivered.saturating_add(1);
        self.delivers.push_back(Deliver {
            tunnel: t,
            packet: buf,
        });
        Ok(())
    }

    fn event(&mut self, t: usize, kind: EventKind) {
        if self.events.len() >= self.limits.max_events {
            self.stats.events_dropped = self.stats.events_dropped.saturating_add(1);
            return;
        }
        let interface = self
            .ifaces
            .get(t)
            .map_or_else(|| Arc::from("Tunnel?"), |f| f.name.clone());
        self.events.push_back(Event {
            tunnel: t,
            interface,
            kind,
        });
    }

    // ----- overlay (from the TUN) -----

    fn on_overlay(&mut self, now: Instant, packet: &[u8]) -> Result<(), Error> {
        self.stats.overlay_in = self.stats.overlay_in.saturating_add(1);
        let (ip, _) = match IpRepr::parse(packet) {
            Ok(r) => r,
            Err(e) => {
                self.stats.overlay_malformed = self.stats.overlay_malformed.saturating_add(1);
                return Err(Error::MalformedOverlay(e));
            }
        };
        let protocol = if packet.first().map(|b| b >> 4) == Some(6) {
            Protocol::IPV6
        } else {
            Protocol::IPV4
        };
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        if dst.is_multicast() || is_broadcast(dst, &self.ifaces) {
            return self.replicate(src, protocol, packet);
        }
        if let Some(t) = self.ifaces.iter().position(|f| f.own() == dst) {
            return self.deliver(t, packet);
        }
        let Some((t, via, shortcut)) = self.lookup(dst) else {
            self.stats.no_route = self.stats.no_route.saturating_add(1);
            return Err(Error::NoRoute(dst));
        };
        self.send_unicast(now, t, via, dst, shortcut, protocol, packet, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_unicast(
        &mut self,
        now: Instant,
        t: usize,
        via: IpAddr,
        dst: IpAddr,
        shortcut: bool,
        protocol: Protocol,
        packet: &[u8],
        forwarding: bool,
    ) -> Result<(), Error> {
        let (nbma, path) = match self.next_nbma(now, t, via, dst, shortcut) {
            Ok(x) => x,
            Err(e) => {
                self.stats.no_mapping = self.stats.no_mapping.saturating_add(1);
                return Err(e);
            }
        };
        self.emit(t, nbma, protocol, packet, forwarding)?;
        match path {
            Path::Direct => self.stats.sent_direct = self.stats.sent_direct.saturating_add(1),
            Path::ViaNhs => self.stats.sent_via_nhs = self.stats.sent_via_nhs.saturating_add(1),
        }
        Ok(())
    }

    /// Multicast and broadcast: one copy to every multicast NBMA destination of the interfaces
    /// the source belongs to (every registered spoke on a hub with `map multicast dynamic`, the
    /// `map multicast` addresses — the hubs — on a spoke).
    fn replicate(&mut self, src: IpAddr, protocol: Protocol, packet: &[u8]) -> Result<(), Error> {
        let own: Vec<usize> = self
            .ifaces
            .iter()
            .enumerate()
            .filter(|(_, f)| f.cfg.address.contains(&src))
            .map(|(i, _)| i)
            .collect();
        let tunnels: Vec<usize> = if own.is_empty() {
            (0..self.ifaces.len()).collect()
        } else {
            own
        };
        let mut result = Ok(());
        for t in tunnels {
            let Some(f) = self.ifaces.get(t) else {
                continue;
            };
            let mut targets: Vec<IpAddr> = f.cfg.nhrp.map_multicast.clone();
            if let Some(s) = &f.server {
                targets.extend(s.multicast_nbmas());
            }
            if let TunnelMode::PointToPoint { destination } = f.cfg.mode {
                targets.push(destination);
            }
            let source = f.cfg.source;
            targets.retain(|a| *a != source && a.is_ipv4() == source.is_ipv4());
            targets.sort_unstable();
            targets.dedup();
            for nbma in targets {
                match self.emit(t, nbma, protocol, packet, false) {
                    Ok(()) => {
                        self.stats.multicast_copies = self.stats.multicast_copies.saturating_add(1)
                    }
                    Err(e) => result = Err(e),
                }
            }
        }
        result
    }

    // ----- underlay (from the NBMA network) -----

    fn on_underlay(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) -> Result<(), Error> {
        self.stats.underlay_in = self.stats.underlay_in.saturating_add(1);
        let Some(t) = self.interface_for(dst, payload) else {
            self.stats.underlay_not_local = self.stats.underlay_not_local.saturating_add(1);
            return Err(Error::NotLocal(dst));
        };
        let Some(f) = self.ifaces.get_mut(t) else {
            return Err(Error::NotLocal(dst));
        };
        let rx = match f.gre.decapsulate(src, payload) {
            Ok(rx) => rx,
            Err(e) => {
                self.stats.gre_dropped = self.stats.gre_dropped.saturating_add(1);
                return Err(Error::Gre(e));
            }
        };
        let protocol = rx.protocol();
        let inner = rx.payload;
        match protocol {
            Protocol::NHRP => self.on_nhrp(now, t, src, inner),
            Protocol::IPV4 | Protocol::IPV6 => self.on_tunnelled(now, t, src, protocol, inner),
            other => {
                self.stats.unsupported_protocol = self.stats.unsupported_protocol.saturating_add(1);
                Err(Error::UnsupportedProtocol(other.0))
            }
        }
    }

    fn nhrp_target(&self, t: usize, from: IpAddr, bytes: &[u8]) -> NhrpTarget {
        let Some(f) = self.ifaces.get(t) else {
            return NhrpTarget::Ignore;
        };
        let ptype = dmvpn_nhrp::wire::Packet::new_checked(bytes)
            .map(|p| p.packet_type())
            .unwrap_or_default();
        let shortcut = f.cfg.nhrp.shortcut;
        match (&f.client, &f.server) {
            (None, None) => NhrpTarget::Ignore,
            (Some(_), None) => {
                if ptype == PacketType::TRAFFIC_INDICATION && !shortcut {
                    NhrpTarget::Ignore
                } else {
                    NhrpTarget::Client
                }
            }
            (None, Some(_)) => NhrpTarget::Server,
            (Some(_), Some(s)) => match ptype {
                PacketType::REGISTRATION_REQUEST => NhrpTarget::Server,
                PacketType::REGISTRATION_REPLY | PacketType::RESOLUTION_REPLY => NhrpTarget::Client,
                PacketType::TRAFFIC_INDICATION if shortcut => NhrpTarget::Client,
                PacketType::TRAFFIC_INDICATION => NhrpTarget::Ignore,
                PacketType::RESOLUTION_REQUEST => {
                    let dst = dmvpn_nhrp::wire::Repr::parse_bytes(bytes)
                        .ok()
                        .and_then(|r| r.dst_proto_addr.ip());
                    let owned = dst.is_some_and(|d| {
                        d == f.own() || self.networks.iter().any(|n| n.contains(&d))
                    });
                    if owned {
                        NhrpTarget::Client
                    } else {
                        NhrpTarget::Server
                    }
                }
                PacketType::PURGE_REQUEST | PacketType::PURGE_REPLY => {
                    let src = dmvpn_nhrp::wire::Repr::parse_bytes(bytes)
                        .ok()
                        .and_then(|r| r.src_proto_addr.ip());
                    let registered = src.is_some_and(|a| {
                        s.registration(a)
                            .is_some_and(|e| e.effective_nbma() == Some(from))
                    });
                    if registered {
                        NhrpTarget::Server
                    } else {
                        NhrpTarget::Client
                    }
                }
                _ => NhrpTarget::Client,
            },
        }
    }

    fn on_nhrp(&mut self, now: Instant, t: usize, from: IpAddr, bytes: &[u8]) -> Result<(), Error> {
        self.stats.nhrp_in = self.stats.nhrp_in.saturating_add(1);
        let target = self.nhrp_target(t, from, bytes);
        let Some(f) = self.ifaces.get_mut(t) else {
            return Ok(());
        };
        let r = match target {
            NhrpTarget::Client => match f.client.as_mut() {
                Some(c) => c.handle_packet(now, from, bytes),
                None => Ok(()),
            },
            NhrpTarget::Server => match f.server.as_mut() {
                Some(s) => s.handle_packet(now, from, bytes),
                None => Ok(()),
            },
            NhrpTarget::Ignore => {
                self.stats.redirects_ignored = self.stats.redirects_ignored.saturating_add(1);
                Ok(())
            }
        };
        self.drain_iface(now, t);
        r.map_err(|e| {
            self.stats.nhrp_dropped = self.stats.nhrp_dropped.saturating_add(1);
            Error::Nhrp(e)
        })
    }

    /// An IP packet out of a tunnel: delivered to the overlay, or, on a hub whose routes say
    /// it belongs behind another peer, sent back out (with a Traffic Indication to the sender
    /// when `ip nhrp redirect` is on).
    fn on_tunnelled(
        &mut self,
        now: Instant,
        t: usize,
        from: IpAddr,
        protocol: Protocol,
        inner: &[u8],
    ) -> Result<(), Error> {
        let ip = match IpRepr::parse(inner) {
            Ok((ip, _)) => ip,
            Err(e) => {
                self.stats.tunnelled_malformed = self.stats.tunnelled_malformed.saturating_add(1);
                return Err(Error::MalformedOverlay(e));
            }
        };
        let dst = ip.dst_addr();
        let hub = self.ifaces.get(t).is_some_and(|f| f.server.is_some());
        if hub
            && !dst.is_multicast()
            && !is_broadcast(dst, &self.ifaces)
            && !self.is_own(dst)
            && let Some((out, via, shortcut)) = self.lookup(dst)
            && !self.is_own(via)
        {
            let (nbma, path) = match self.next_nbma(now, out, via, dst, shortcut) {
                Ok(x) => x,
                Err(e) => {
                    self.stats.no_mapping = self.stats.no_mapping.saturating_add(1);
                    return Err(e);
                }
            };
            if nbma == from && out == t {
                self.stats.loops = self.stats.loops.saturating_add(1);
                return Err(Error::Loop(dst));
            }
            self.emit(out, nbma, protocol, inner, true)?;
            self.stats.forwarded = self.stats.forwarded.saturating_add(1);
            if path == Path::ViaNhs {
                self.stats.sent_via_nhs = self.stats.sent_via_nhs.saturating_add(1);
            }
            let redirect = out == t && self.ifaces.get(t).is_some_and(|f| f.cfg.nhrp.redirect);
            if redirect
                && let Some(s) = self.ifaces.get_mut(t).and_then(|f| f.server.as_mut())
                && let Ok(true) = s.note_forwarded(now, from, inner)
            {
                self.stats.redirects_sent = self.stats.redirects_sent.saturating_add(1);
            }
            self.drain_iface(now, t);
            return Ok(());
        }
        self.deliver(t, inner)
    }

    // ----- NHRP machine outputs -----

    /// Sends what the interface's NHRP machines queued and turns their events into node
    /// events.
    fn drain_iface(&mut self, now: Instant, t: usize) {
        loop {
            let Some(f) = self.ifaces.get_mut(t) else {
                return;
            };
            let tx = match f.client.as_mut().and_then(|c| c.poll_transmit()) {
                Some(x) => Some(x),
                None => f.server.as_mut().and_then(|s| s.poll_transmit()),
            };
            let Some(tx) = tx else { break };
            // A full queue is counted in `emit`.
            let _ = self.emit(t, tx.dst, Protocol::NHRP, &tx.payload, false);
        }
        loop {
            let Some(f) = self.ifaces.get_mut(t) else {
                return;
            };
            if let Some(e) = f.client.as_mut().and_then(|c| c.poll_event()) {
                self.on_nhrp_event(now, t, false, e);
            } else if let Some(e) = f.server.as_mut().and_then(|s| s.poll_event()) {
                self.on_nhrp_event(now, t, true, e);
            } else {
                break;
            }
        }
    }

    fn on_nhrp_event(&mut self, now: Instant, t: usize, server: bool, e: dmvpn_nhrp::Event) {
        let kind = match e {
            dmvpn_nhrp::Event::Cache(ce) => {
                self.on_cache_event(now, t, server, ce);
                return;
            }
            dmvpn_nhrp::Event::NhsUp { nhs } => EventKind::NhsUp { nhs },
            dmvpn_nhrp::Event::NhsDown { nhs } => EventKind::NhsDown { nhs },
            dmvpn_nhrp::Event::AllNhsDown => EventKind::AllNhsDown,
            dmvpn_nhrp::Event::RegistrationRejected { nhs, code } => {
                EventKind::RegistrationRejected { nhs, code }
            }
            dmvpn_nhrp::Event::NatDetected { nhs, public_nbma } => {
                EventKind::NatDetected { nhs, public_nbma }
            }
            dmvpn_nhrp::Event::ResolutionNegative { target } => EventKind::ResolutionFailed {
                target,
                negative: true,
            },
            dmvpn_nhrp::Event::ResolutionFailed { target } => EventKind::ResolutionFailed {
                target,
                negative: false,
            },
            dmvpn_nhrp::Event::Shortcut {
                prefix,
                next_hop,
                nbma,
            } => {
                let enabled = self.ifaces.get(t).is_some_and(|f| f.cfg.nhrp.shortcut);
                if !enabled {
                    return;
                }
                let net = net_of(prefix);
                let hop = NextHop {
                    via: next_hop,
                    tunnel: t,
                };
                if self.routes.insert(net, RouteSource::Shortcut, hop) == Some(hop) {
                    return;
                }
                EventKind::ShortcutAdded {
                    prefix: net,
                    next_hop,
                    nbma,
                }
            }
            dmvpn_nhrp::Event::RegistrationConflict {
                protocol_addr,
                holder,
                claimant,
            } => EventKind::RegistrationConflict {
                address: protocol_addr,
                holder,
                claimant,
            },
            dmvpn_nhrp::Event::ErrorIndication { from, code } => {
                EventKind::ErrorIndication { from, code }
            }
            dmvpn_nhrp::Event::QuotaExceeded { limit, .. } => EventKind::QuotaExceeded {
                limit,
                every_secs: self
                    .ifaces
                    .get(t)
                    .map_or(0, |f| u64::from(f.cfg.nhrp.max_send.every_secs)),
            },
            _ => return,
        };
        self.event(t, kind);
    }

    fn peer_ref(&mut self, now: Instant, t: usize, nbma: IpAddr) {
        let Some(f) = self.ifaces.get_mut(t) else {
            return;
        };
        let p = f.peers.entry(nbma).or_insert(PeerRef {
            entries: 0,
            since: now,
        });
        p.entries = p.entries.saturating_add(1);
        if p.entries == 1 {
            self.event(t, EventKind::NbmaPeerUp { nbma });
        }
    }

    fn peer_unref(&mut self, t: usize, nbma: IpAddr) {
        let Some(f) = self.ifaces.get_mut(t) else {
            return;
        };
        let gone = match f.peers.get_mut(&nbma) {
            Some(p) => {
                p.entries = p.entries.saturating_sub(1);
                p.entries == 0
            }
            None => false,
        };
        if gone {
            f.peers.remove(&nbma);
            f.gre.remove_peer(nbma);
            self.event(t, EventKind::NbmaPeerDown { nbma });
        }
    }

    fn on_cache_event(&mut self, now: Instant, t: usize, server: bool, ce: CacheEvent) {
        let (entry, removed) = match ce {
            CacheEvent::Added(e) => {
                if !server && e.kind == EntryType::Incomplete {
                    self.event(t, EventKind::Resolving { target: e.next_hop });
                }
                (e, None)
            }
            CacheEvent::Updated(e) => (e, None),
            CacheEvent::Removed(e, reason) => (e, Some(Gone::from(reason))),
        };
        let key = (server, entry.prefix);
        let Some(f) = self.ifaces.get_mut(t) else {
            return;
        };
        let old = f.mappings.get(&key).copied();
        let new = if removed.is_none() && entry.is_complete() && entry.kind != EntryType::Local {
            entry.effective_nbma()
        } else {
            None
        };
        let registered = server && entry.flags.contains(EntryFlags::REGISTERED);
        let dynamic = entry.kind == EntryType::Dynamic;
        if old != new {
            match new {
                Some(n) => f.mappings.insert(key, n),
                None => f.mappings.remove(&key),
            };
            if let Some(o) = old {
                let reason = removed.unwrap_or(Gone::Removed);
                if registered {
                    self.event(
                        t,
                        EventKind::PeerExpired {
                            address: entry.next_hop,
                            nbma: o,
                            reason,
                        },
                    );
                } else if dynamic {
                    self.event(
                        t,
                        EventKind::MappingRemoved {
                            prefix: net_of(entry.prefix),
                            next_hop: entry.next_hop,
                            nbma: o,
                            reason,
                        },
                    );
                }
                self.peer_unref(t, o);
            }
            if let Some(n) = new {
                self.peer_ref(now, t, n);
                if registered {
                    self.event(
                        t,
                        EventKind::PeerRegistered {
                            address: entry.next_hop,
                            nbma: n,
                            nat: entry.nat_nbma.is_some(),
                        },
                    );
                } else if dynamic {
                    self.event(
                        t,
                        EventKind::MappingAdded {
                            prefix: net_of(entry.prefix),
                            next_hop: entry.next_hop,
                            nbma: n,
                        },
                    );
                }
            }
        }
        if removed.is_some() && !server {
            let net = net_of(entry.prefix);
            if let Some(hop) = self.routes.remove(net, RouteSource::Shortcut) {
                self.event(
                    hop.tunnel,
                    EventKind::ShortcutRemoved {
                        prefix: net,
                        next_hop: hop.via,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NhrpConfig, Password};

    fn hub_config() -> NodeConfig {
        NodeConfig {
            hostname: "hub".into(),
            tunnels: vec![TunnelConfig {
                name: "Tunnel0".into(),
                address: "10.0.0.1/24".parse().unwrap(),
                source: "172.17.0.1".parse().unwrap(),
                mode: TunnelMode::Multipoint,
                key: Some(7),
                mtu: 1400,
                nhrp: NhrpConfig {
                    authentication: Some(Password::new("s3cret")),
                    map_multicast_dynamic: true,
                    ..NhrpConfig::new(1)
                },
            }],
            networks: Vec::new(),
        }
    }

    #[test]
    fn the_password_never_shows_and_bad_input_is_counted() {
        let now = Instant::now();
        let mut hub = Node::new(now, hub_config()).unwrap();
        assert!(!format!("{hub:?}").contains("s3cret"));
        assert_eq!(hub.role(0), Some(Role::Hub));
        let src: IpAddr = "192.0.2.1".parse().unwrap();
        let dst: IpAddr = "172.17.0.1".parse().unwrap();
        let e = hub.handle_input(Input::Underlay {
            now,
            src,
            dst,
            payload: &[1, 2, 3],
        });
        assert!(matches!(e, Err(Error::Gre(_))));
        let e = hub.handle_input(Input::Underlay {
            now,
            src,
            dst: src,
            payload: &[],
        });
        assert_eq!(e, Err(Error::NotLocal(src)));
        assert!(matches!(
            hub.handle_input(Input::Overlay {
                now,
                packet: &[0x45]
            }),
            Err(Error::MalformedOverlay(_))
        ));
        let s = hub.stats();
        assert_eq!(
            (s.underlay_in, s.gre_dropped, s.underlay_not_local),
            (2, 1, 1)
        );
        assert_eq!(s.overlay_malformed, 1);
        assert!(matches!(hub.poll_output(), Output::Timeout(None)));
        // Routes need a tunnel for their next hop.
        assert_eq!(
            hub.add_route(
                "192.168.9.0/24".parse().unwrap(),
                "10.9.9.9".parse().unwrap()
            ),
            Err(Error::NoTunnelFor("10.9.9.9".parse().unwrap()))
        );
    }

    #[test]
    fn invalid_configuration_lists_every_problem() {
        let mut cfg = hub_config();
        cfg.tunnels[0].nhrp.holdtime = 0;
        cfg.tunnels[0].mtu = 10;
        match Node::new(Instant::now(), cfg) {
            Err(Error::Config(c)) => assert_eq!(c.0.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
