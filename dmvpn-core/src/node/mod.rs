//! The DMVPN node: tunnel interfaces (mGRE + NHRP) behind one Input/Output loop.
//!
//! This module holds the [`Node`] type, its inputs and outputs, its bounds and counters, the
//! handle/poll loop and the commands. The rest lives in:
//!
//! - `translate`: the node configuration ([`NodeConfig`] / [`TunnelConfig`]) turned into a GRE
//!   tunnel and NHRP client and server configurations, one tunnel interface at a time;
//! - `forward`: the data path (underlay in, overlay in, tunnelled packets, the hub's hairpin
//!   and redirect, multicast replication, GRE encapsulation);
//! - `nhrp_glue`: the NHRP machines' packets, transmits and events, and their cache events
//!   turned into mappings, peer references, routes and node events;
//! - `mtu`: the effective MTU towards each peer (`ip mtu`, the underlay's MTU, the
//!   encapsulation overhead), fragmentation before encryption, ICMP "fragmentation needed" /
//!   "packet too big" with their rate limit, and `ip tcp adjust-mss`.

mod debug;
mod dispatch;
mod forward;
mod mtu;
mod nhrp_glue;
mod operator;
mod protect;

pub use debug::DebugFlags;
pub use protect::CryptoStats;
#[cfg(test)]
mod testkit;
mod translate;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_nhrp::{CacheEvent, Client, Entry, EntryType, Prefix, Route, Server};
use ipnet::IpNet;

use crate::config::{NodeConfig, TunnelConfig};
use crate::entropy::Entropy;
use crate::error::Error;
use crate::event::{Event, EventKind};
use crate::route::{NextHop, RouteSource, RouteTable};
use crate::small_map::SmallMap;

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
    /// An ESP packet from the underlay (IP protocol 50): `payload` is what follows the outer IP
    /// header, for a protected interface (`tunnel protection`) whose `tunnel source` is `dst`.
    Esp {
        /// The current time.
        now: Instant,
        /// Outer source address.
        src: IpAddr,
        /// Outer destination address (one of this node's tunnel sources).
        dst: IpAddr,
        /// The ESP packet (SPI to ICV).
        payload: &'a [u8],
    },
    /// A UDP datagram from the underlay to port 500 (IKE) or 4500 (IKE after the non-ESP
    /// marker, NAT keepalives, ESP in UDP, RFC 3948) of a protected tunnel source: `payload`
    /// is what follows the UDP header.
    Udp {
        /// The current time.
        now: Instant,
        /// Source address and port.
        src: SocketAddr,
        /// Destination address (a tunnel source) and port.
        dst: SocketAddr,
        /// The UDP payload.
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
/// from `src` (a `tunnel source`) to `dst`, `proto` saying what the payload is: a GRE packet
/// ([`Proto::GRE`](dmvpn_wire::Proto::GRE), IP protocol 47) on an unprotected interface, an
/// ESP packet ([`Proto::ESP`](dmvpn_wire::Proto::ESP), IP protocol 50) or an IKE datagram
/// ([`Proto::Udp`](dmvpn_wire::Proto::Udp), ports 500/4500) on a protected one. Send IP
/// payloads on a raw socket of that protocol (the kernel adds the IP header), UDP from the
/// given port. Give the payload buffer back with [`Node::recycle`] to spare the next packet an
/// allocation.
pub use dmvpn_wire::Transmit;

/// An overlay packet that arrived through a tunnel, for the caller's TUN device: write
/// [`Deliver::packet`], then give the buffer back with [`Node::recycle`]
/// (`node.recycle(d.into_buffer())`).
///
/// The packet may sit behind the headers it arrived with (a decrypted ESP packet is delivered
/// in the buffer it was decrypted in, not copied again), so it is a slice of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// Index of the tunnel interface it came in on.
    pub tunnel: usize,
    buffer: Vec<u8>,
    start: usize,
    /// `ip tcp adjust-mss` still to apply once the packet is in its buffer (a delivery queued
    /// before its buffer was free, see [`Deliver::fill`]).
    clamp: Option<u16>,
}

impl Deliver {
    /// The IPv4/IPv6 packet.
    pub fn packet(&self) -> &[u8] {
        self.buffer.get(self.start..).unwrap_or_default()
    }

    /// The buffer, to give back with [`Node::recycle`].
    pub fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }

    /// Puts the packet `buffer[start..]` in a delivery queued before its buffer was free (and
    /// lowers its TCP MSS there, in place, if `ip tcp adjust-mss` asked for it).
    pub(crate) fn fill(&mut self, buffer: Vec<u8>, start: usize) {
        self.buffer = buffer;
        self.start = start;
        if let (Some(max), Some(p)) = (self.clamp.take(), self.buffer.get_mut(start..)) {
            let _ = dmvpn_wire::tcp::clamp_mss(p, max);
        }
    }
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
    /// Events queued. The NHRP machines' events are taken only as this has room (they wait
    /// in the machines meanwhile, see [`Node::poll_output`]); other events beyond it are
    /// dropped and counted.
    pub max_events: usize,
    /// Recycled buffers kept ([`Node::recycle`]).
    pub buffer_pool: usize,
    /// NHRP cache entries per spoke interface.
    pub max_cache: usize,
    /// Registrations per hub interface.
    pub max_registrations: usize,
    /// NHRP resolutions in progress per interface.
    pub max_pending_resolutions: usize,
    /// How long a GRE peer entry (per-peer counters and sequence numbers) of a peer the
    /// interface has no NHRP mapping for lives without traffic ([`dmvpn_gre::Config::idle_timeout`]).
    /// Entries exist only for peers the node sent to or accepted an NHRP packet from (never for
    /// a source that failed the key check or NHRP authentication); those of mapped peers go
    /// with their last mapping.
    pub gre_peer_idle: Duration,
    /// The ICMP errors the node originates ("fragmentation needed", "packet too big") are
    /// rate-limited by one token bucket per node: at most `icmp_error_burst` at once, then one
    /// per `icmp_error_interval` (IOS: `ip icmp rate-limit unreachable`, one per 500 ms by
    /// default). Suppressed errors are counted in [`NodeStats::icmp_rate_limited`].
    pub icmp_error_interval: Duration,
    /// The bucket's depth (see [`Limits::icmp_error_interval`]); 0 sends no ICMP errors.
    pub icmp_error_burst: u32,
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
            gre_peer_idle: dmvpn_gre::DEFAULT_IDLE_TIMEOUT,
            icmp_error_interval: Duration::from_millis(500),
            icmp_error_burst: 2,
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

/// The work a node did, counted in table entries looked at ([`Node::work_counters`]): a
/// diagnostic, not part of the behaviour, for tests that check that the work per packet does
/// not grow with the number of peers (`dmvpn-core/tests/op_counts.rs`). Each field only ever
/// grows; the difference over a stretch of traffic is the work it took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkCounters {
    /// Lookups in the overlay routing table ([`RouteTable::lookups`]).
    pub route_lookups: u64,
    /// Prefix lengths they probed, and prefixes iterated over ([`RouteTable::probes`]).
    pub route_probes: u64,
    /// NHRP cache entries looked at by every interface's client and server
    /// ([`dmvpn_nhrp::Cache::visits`]).
    pub nhrp_cache_visits: u64,
    /// Routes to networks behind spokes looked at by every interface's NHRP server
    /// ([`dmvpn_nhrp::Server::route_visits`]).
    pub nhrp_route_visits: u64,
    /// IKE SA table entries looked at by the IKEv2 endpoints of the crypto groups
    /// (`dmvpn_ikev2::Endpoint::sa_table_visits`; IKEv1 groups count nothing here).
    pub ike_sa_table_visits: u64,
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
    /// Tunnelled IP packets dropped by `verify_unicast_source` (`ip verify unicast source
    /// reachable-via rx`): their inner source does not route back through the peer they came
    /// from.
    pub verify_source_drops: u64,
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
    /// Packets larger than the effective MTU towards their peer that may not be fragmented
    /// (IPv4 with Don't Fragment, IPv6): dropped, and answered with an ICMP error as the rate
    /// limit permits (see [`TunnelConfig::mtu`]).
    pub too_big: u64,
    /// IPv4 fragments made of packets larger than the effective MTU (each then sent as its own
    /// GRE packet, encrypted on a protected interface).
    pub fragments: u64,
    /// ICMP "fragmentation needed" and ICMPv6 "packet too big" errors sent.
    pub icmp_sent: u64,
    /// ICMP errors the rate limit suppressed ([`Limits::icmp_error_interval`]).
    pub icmp_rate_limited: u64,
    /// TCP SYNs whose MSS option `ip tcp adjust-mss` lowered, in either direction.
    pub mss_clamped: u64,
}

/// An NBMA peer with mappings on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerRef {
    pub(crate) entries: u32,
    pub(crate) since: Instant,
}

impl Iface {
    /// The peer at NBMA `old` is at `new` now (its NAT box rebound it): the mapping and peer
    /// tables name it by `new`; its GRE peer entry (counters) starts over at `new`.
    pub(crate) fn rebind_nbma(&mut self, old: IpAddr, new: IpAddr) {
        for nbma in self.mappings.values_mut() {
            if *nbma == old {
                *nbma = new;
            }
        }
        if let Some(p) = self.peers.remove(&old) {
            let make = || PeerRef {
                entries: 0,
                since: p.since,
            };
            self.peers.with_entry(new, make, |e| {
                e.entries = e.entries.saturating_add(p.entries);
            });
        }
        self.gre.remove_peer(old);
    }
}

/// One tunnel interface. Its tables are ordered maps, so that nothing the node outputs (nor
/// these tables' `Debug`) depends on a per-process hash seed.
#[derive(Debug)]
pub(crate) struct Iface {
    pub(crate) cfg: TunnelConfig,
    pub(crate) name: Arc<str>,
    pub(crate) gre: dmvpn_gre::Tunnel,
    pub(crate) client: Option<Box<Client>>,
    pub(crate) server: Option<Box<Server>>,
    /// Complete mappings by (from the server, prefix) → NBMA address.
    mappings: SmallMap<(bool, Prefix), IpAddr>,
    pub(crate) peers: SmallMap<IpAddr, PeerRef>,
    /// The crypto group protecting the interface (`tunnel protection`), an index into
    /// [`Node::groups`].
    pub(crate) protect: Option<usize>,
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

    /// The static entries of both machines (client first, each in prefix order), tagged with
    /// whether they are the server's.
    fn static_entries(&self) -> Vec<(bool, Entry)> {
        let c = self
            .client
            .iter()
            .flat_map(|c| c.cache().iter().map(|e| (false, e)));
        let s = self
            .server
            .iter()
            .flat_map(|s| s.cache().iter().map(|e| (true, e)));
        c.chain(s)
            .filter(|(_, e)| e.kind == EntryType::Static)
            .collect()
    }
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
/// It never panics, whatever the input; every drop is counted ([`NodeStats`]). Its outputs
/// depend on its inputs only: no clock, no randomness, no hash-seeded iteration order.
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
    /// The IKE endpoints and ESP SAs of the protected interfaces, one per tunnel source.
    pub(crate) groups: Vec<protect::Group>,
    /// Whether the key log is on ([`Node::enable_keylog`]), and its rows not yet taken.
    keylog_on: bool,
    keylog: VecDeque<String>,
    /// The plaintext of every ESP transmit, in order, while on (tracing and tests).
    tap: Option<VecDeque<Vec<u8>>>,
    /// While `on_esp` handles a decrypted packet: its buffer's address and length; and the
    /// delivery (index, start, end in the buffer) that took the packet inside, if one did.
    rx_window: Option<(usize, usize)>,
    rx_claim: Option<(usize, usize, usize)>,
    /// The ICMP error rate limit ([`Limits::icmp_error_interval`]).
    icmp_bucket: mtu::TokenBucket,
    /// `debug nhrp` / `debug crypto` and their records not yet taken.
    debug: debug::DebugLog,
}

// A node moves to the thread of its shard (see "Multi-core" in the crate docs).
const _: () = {
    const fn send<T: Send>() {}
    send::<Node>();
};

/// The NHRP prefix of an overlay network.
pub(crate) fn prefix_of(net: IpNet) -> Prefix {
    Prefix::new(net.addr(), net.prefix_len())
}

/// The overlay network of an NHRP prefix.
pub(crate) fn net_of(p: Prefix) -> IpNet {
    IpNet::new(p.addr(), p.len()).unwrap_or_else(|_| IpNet::from(p.addr()))
}

/// Adds one to a counter, saturating.
fn bump(counter: &mut u64) {
    *counter = counter.saturating_add(1);
}

impl Node {
    /// A node with default [`Limits`]. Validates the configuration (every problem reported),
    /// starts the NHRP machines and registers with every NHS at once (what IOS does at
    /// interface up): the Registration Requests are the first [`Output`]s.
    ///
    /// `entropy` is the node's randomness (Sans-IO: the node reads no random source): 32
    /// bytes from the operating system for a router ([`Entropy::new`]), a seed for a
    /// simulation that must repeat ([`Entropy::from_seed`]). Each interface's NHRP machines
    /// draw their request IDs from a key derived from it, so that an off-path attacker cannot
    /// answer requests it never saw.
    pub fn new(now: Instant, config: NodeConfig, entropy: Entropy) -> Result<Node, Error> {
        Node::with_limits(now, config, entropy, Limits::default())
    }

    /// A node with explicit [`Limits`] (see [`Node::new`]).
    pub fn with_limits(
        now: Instant,
        config: NodeConfig,
        entropy: Entropy,
        limits: Limits,
    ) -> Result<Node, Error> {
        config.validate()?;
        // A dual-stack interface's IPv6 overlay is an interface of its own after the
        // configured ones (config::Ipv6Overlay), in the crypto group of its source.
        let config = NodeConfig {
            tunnels: (config.tunnels.iter().cloned())
                .chain(config.tunnels.iter().filter_map(TunnelConfig::ipv6_overlay))
                .collect(),
            ..config
        };
        let (groups, protect) = protect::build_groups(&config, &entropy)?;
        // Exactly as many as there are interfaces: collecting `Result`s would reserve room for
        // four (an `Iface` is most of a kilobyte, and a simulation holds a node per spoke).
        let mut ifaces = Vec::with_capacity(config.tunnels.len());
        for (i, t) in config.tunnels.iter().enumerate() {
            ifaces.push(Iface::new(
                now,
                t,
                &config.networks,
                &limits,
                entropy.nhrp_key(i),
            )?);
        }
        for (f, g) in ifaces.iter_mut().zip(protect) {
            f.protect = g;
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
            groups,
            keylog_on: false,
            keylog: VecDeque::new(),
            tap: None,
            rx_window: None,
            rx_claim: None,
            icmp_bucket: mtu::TokenBucket::new(limits.icmp_error_burst),
            debug: debug::DebugLog::default(),
        };
        for i in 0..node.ifaces.len() {
            // Static maps are mappings too: the GRE tunnels to the hubs are up from the start,
            // in interface order, then the machines' cache order (by prefix).
            let statics = node
                .ifaces
                .get(i)
                .map(Iface::static_entries)
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

    /// Number of tunnel interfaces, counting a dual-stack interface's IPv6 overlay as one of
    /// its own (after the configured interfaces, see [`Ipv6Overlay`](crate::config::Ipv6Overlay)).
    pub fn tunnels(&self) -> usize {
        self.ifaces.len()
    }

    /// The configured interface (index into [`NodeConfig::tunnels`]) that tunnel `t` of this
    /// node is: `t` itself, or, for the IPv6 overlay of a dual-stack interface (`t` at or
    /// beyond the configured interfaces), that interface. `None` past the last tunnel.
    pub fn configured_tunnel(&self, t: usize) -> Option<usize> {
        let dual: Vec<usize> = (self.ifaces.iter().enumerate())
            .filter(|(_, f)| f.cfg.ipv6.is_some())
            .map(|(i, _)| i)
            .collect();
        let configured = self.ifaces.len().saturating_sub(dual.len());
        if t < configured {
            Some(t)
        } else {
            dual.get(t - configured).copied()
        }
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

    /// Data-path counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// The work done so far, in table entries looked at (a diagnostic: see
    /// [`WorkCounters`]).
    pub fn work_counters(&self) -> WorkCounters {
        let mut w = WorkCounters {
            route_lookups: self.routes.lookups(),
            route_probes: self.routes.probes(),
            ..WorkCounters::default()
        };
        for f in &self.ifaces {
            if let Some(c) = &f.client {
                w.nhrp_cache_visits += c.cache_visits();
            }
            if let Some(s) = &f.server {
                w.nhrp_cache_visits += s.cache_visits();
                w.nhrp_route_visits += s.route_visits();
            }
        }
        for g in &self.groups {
            if let Some(e) = g.ep.v2() {
                w.ike_sa_table_visits += e.sa_table_visits();
            }
        }
        w
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
            Input::Esp {
                now,
                src,
                dst,
                payload,
            } => {
                let now = self.clock(now);
                self.on_esp(now, src, dst, payload, None)
            }
            Input::Udp {
                now,
                src,
                dst,
                payload,
            } => {
                let now = self.clock(now);
                self.on_udp(now, src, dst, payload)
            }
        }
    }

    /// The next output: transmits first, then deliveries, then events, and finally
    /// [`Output::Timeout`] with the earliest deadline of every machine of every interface.
    ///
    /// Events that change state (NBMA peers up and down, registrations, mappings, shortcuts)
    /// are never dropped as long as the caller drains this until [`Output::Timeout`]: the node
    /// takes the NHRP machines' events only as its queue has room, and a burst bigger than
    /// the queues (a hundred thousand registrations expiring at once) is worked off over
    /// several rounds, the deadline staying due (at or before the last input's time) until it
    /// is done.
    pub fn poll_output(&mut self) -> Output {
        if let Some(t) = self.transmits.pop_front() {
            return Output::Transmit(t);
        }
        if let Some(d) = self.delivers.pop_front() {
            return Output::Deliver(d);
        }
        if self.events.is_empty() {
            // What the machines still hold because the queue was full (see
            // `drain_nhrp_events`).
            let now = self.last_now;
            for t in 0..self.ifaces.len() {
                self.drain_nhrp_events(now, t);
            }
        }
        if let Some(e) = self.events.pop_front() {
            return Output::Event(e);
        }
        Output::Timeout(self.poll_timeout())
    }

    /// Releases the spare capacity of the drained output queues (the node's and its NHRP
    /// clients'), which otherwise keep their peak size: for a host of many mostly idle nodes,
    /// such as a simulation of many spokes, to call once it has drained the outputs. Nothing
    /// else changes; the next output allocates its queue again.
    pub fn shrink_idle(&mut self) {
        if self.transmits.is_empty() && self.transmits.capacity() > 0 {
            self.transmits = VecDeque::new();
        }
        if self.delivers.is_empty() && self.delivers.capacity() > 0 {
            self.delivers = VecDeque::new();
        }
        if self.events.is_empty() && self.events.capacity() > 0 {
            self.events = VecDeque::new();
        }
        for f in &mut self.ifaces {
            if let Some(c) = f.client.as_mut() {
                c.shrink_idle();
            }
        }
    }

    /// The earliest deadline of every machine (what [`Output::Timeout`] carries).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let crypto = self
            .groups
            .iter()
            .filter_map(protect::Group::poll_timeout)
            .min();
        self.ifaces
            .iter()
            .flat_map(|f| {
                [
                    f.client.as_ref().and_then(|c| c.poll_timeout()),
                    f.server.as_ref().and_then(|s| s.poll_timeout()),
                    f.gre.poll_timeout(),
                ]
            })
            .flatten()
            .chain(crypto)
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        // IPsec first: an SA whose lifetime ran out is gone before NHRP's timers send through
        // it (after a clock jump a registration refresh would otherwise be sealed with an
        // expired SA and dropped, instead of waiting for the new one).
        self.crypto_timeout(now);
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
                // Idle GRE peer entries go, except those of peers with a mapping.
                let mapped = &f.peers;
                f.gre
                    .handle_timeout_keeping(now, |nbma| mapped.contains_key(nbma));
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

    // ----- output queues -----

    fn deliver(&mut self, t: usize, packet: &[u8]) -> Result<(), Error> {
        self.deliver_clamped(t, packet, None)
    }

    /// [`Node::deliver`], lowering the MSS of a TCP SYN to `clamp` on the way (`ip tcp
    /// adjust-mss` for a packet out of the tunnel): in the delivery's own buffer, after the
    /// one copy into it, or, for a packet delivered where it was decrypted, in that buffer.
    fn deliver_clamped(
        &mut self,
        t: usize,
        packet: &[u8],
        clamp: Option<u16>,
    ) -> Result<(), Error> {
        if self.delivers.len() >= self.limits.max_delivers {
            bump(&mut self.stats.delivers_dropped);
            return Err(Error::QueueFull(self.limits.max_delivers));
        }
        bump(&mut self.stats.delivered);
        // Whether the clamp will change the packet (the same bytes are clamped below or in
        // `Deliver::fill`).
        let clamp = clamp.filter(|max| dmvpn_wire::tcp::syn_mss(packet).is_some_and(|m| m > *max));
        if clamp.is_some() {
            bump(&mut self.stats.mss_clamped);
        }
        // A packet inside the buffer of the ESP packet being handled (`on_esp`) is delivered in
        // that buffer, which `on_esp` puts into this delivery once the call returns.
        let at = packet.as_ptr() as usize;
        if let Some((base, len)) = self.rx_window
            && self.rx_claim.is_none()
            && at >= base
            && at + packet.len() <= base + len
        {
            self.rx_claim = Some((self.delivers.len(), at - base, at - base + packet.len()));
            self.delivers.push_back(Deliver {
                tunnel: t,
                buffer: Vec::new(),
                start: 0,
                clamp,
            });
            return Ok(());
        }
        let mut buf = self.buffer();
        buf.extend_from_slice(packet);
        if let Some(max) = clamp {
            let _ = dmvpn_wire::tcp::clamp_mss(&mut buf, max);
        }
        self.delivers.push_back(Deliver {
            tunnel: t,
            buffer: buf,
            start: 0,
            clamp: None,
        });
        Ok(())
    }

    /// Delivers a packet the node built itself in `buf` (an ICMP error for the LAN side).
    fn deliver_buffer(&mut self, t: usize, buf: Vec<u8>) -> Result<(), Error> {
        if self.delivers.len() >= self.limits.max_delivers {
            bump(&mut self.stats.delivers_dropped);
            self.recycle(buf);
            return Err(Error::QueueFull(self.limits.max_delivers));
        }
        bump(&mut self.stats.delivered);
        self.delivers.push_back(Deliver {
            tunnel: t,
            buffer: buf,
            start: 0,
            clamp: None,
        });
        Ok(())
    }

    fn event(&mut self, t: usize, kind: EventKind) {
        if self.events.len() >= self.limits.max_events {
            bump(&mut self.stats.events_dropped);
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
}

#[cfg(test)]
mod tests;
