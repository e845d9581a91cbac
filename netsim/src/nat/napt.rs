//! The port-translating NAT (NAPT, RFC 4787's "NAT" for UDP): one public address (or a small
//! pool of them, paired per inside host) shared by the inside hosts, told apart by public port.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use dmvpn_wire::IpProtocol;

use super::{NatStats, Side, translate, udp_ports};
use crate::Datagram;

/// Which inbound datagrams a NAPT mapping lets through (RFC 4787 §5, "filtering behavior").
/// A mapping remembers every remote endpoint its inside socket sent to for as long as the
/// mapping lives (real boxes may age these permissions separately; this one does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Filtering {
    /// Endpoint-independent filtering: anyone may send to a live mapping ("full cone").
    EndpointIndependent,
    /// Address-dependent filtering: only remote addresses the inside socket sent to, from any
    /// port ("restricted cone").
    AddressDependent,
    /// Address- and port-dependent filtering: only remote address and port pairs the inside
    /// socket sent to ("port-restricted cone"), as typical home routers and Linux conntrack do.
    #[default]
    AddressAndPortDependent,
}

/// A port-translating NAT box (NAPT), added with [`crate::Network::add_napt`]: the `inside`
/// hosts share the one `public` address (or, with a [`NaptConfig::pool`], a few public
/// addresses), and each of their UDP sockets gets a public port.
///
/// Its behaviour, in RFC 4787's terms:
///
/// - **Mapping** is endpoint-independent (REQ-1): one public port per inside address and port,
///   whatever the destination, created by the socket's first outbound datagram.
/// - **Address pooling** is paired (REQ-2) when [`NaptConfig::pool`] is not empty: every inside
///   host goes out on one public address of `[public] + pool`, for all its sockets; the first
///   host the box makes a mapping for gets `public`, the next one the pool's first address, and
///   so on in order; once every address has its host, further hosts share them round-robin in
///   the same order (the host after the last address's gets `public` again, the next one the
///   pool's first, ...). A host keeps its address for the life of the box, whether its
///   mappings expire or a rebinding drops them. Each address has its own port space: two hosts
///   on different addresses may both keep port 4500. Inbound datagrams to any of the addresses
///   are the box's to translate. With an empty pool (the default) every host shares `public`.
/// - **Port assignment**: with [`NaptConfig::port_preservation`] the inside port is kept when it
///   is free on the box (on the host's public address), as Linux MASQUERADE does; otherwise
///   (or when off) the next free port of [`NaptConfig::port_range`] is taken, sequentially
///   from where the last allocation on that address stopped and wrapping, so allocation is
///   deterministic. Port 0 is never handed out.
/// - **Filtering** of inbound datagrams: [`NaptConfig::filtering`].
/// - **Refresh** (REQ-6): outbound datagrams keep a mapping alive; inbound ones do not. A
///   mapping with no outbound datagram for [`NaptConfig::idle_timeout`] is gone, and inbound
///   datagrams to it are dropped. The box has no timers: it evaluates expiry on the network
///   clock whenever it handles a datagram. An expired socket's next outbound datagram creates a
///   new mapping, which with port preservation may well get the same port back, as on a real
///   box.
/// - **Hairpinning** (§6): [`NaptConfig::hairpin`], to any of the box's public addresses.
/// - **Protocols**: only UDP is translated. Every other IP protocol (GRE 47, ESP 50, ...) from
///   an inside host or to a public address is dropped, so IPsec must run as ESP in UDP 4500
///   (RFC 3948) behind such a box.
/// - **Rebinding**: [`crate::Network::rebind`] drops every mapping and moves new ones to ports
///   the box never used before, on every public address (and optionally replaces the primary
///   address `public`, not the pool's), as a carrier NAT's reboot or a new DHCP lease would.
///
/// Inside hosts of a different address family than `public` are not translated (their
/// datagrams are dropped and counted); IPv6 boxes (NAPT66) translate the same way as IPv4 ones.
/// Every drop is counted in the box's [`crate::NatStats`] and in
/// [`crate::NetStats::nat_dropped`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptConfig {
    /// The box's public (outside) address, shared by every inside host (by the first inside
    /// host and those paired with it, if there is a [`NaptConfig::pool`]).
    pub public: IpAddr,
    /// More public addresses, after `public` (default none). With any, the box pools addresses
    /// in pairs (RFC 4787 §4.1, REQ-2): each inside host, when the box makes its first
    /// mapping, is given the next address of `[public] + pool` no host has yet, in order, and
    /// keeps it for all its mappings (ports are still translated per socket, in a port space
    /// of each address); once all have a host, further hosts share them round-robin in that
    /// order. Seed 002's "the NAT box must translate the DMVPN spokes to different outside NAT
    /// IP addresses" is such a box. Addresses of the other family than `public`, `public`
    /// itself and repeats are ignored.
    pub pool: Vec<IpAddr>,
    /// The hosts behind the box.
    pub inside: Vec<IpAddr>,
    /// How long a mapping lives after its last outbound datagram. Default 30 s, the lifetime
    /// of a Linux conntrack UDP entry that has seen no reply (`nf_conntrack_udp_timeout`; an
    /// entry that saw replies lives 120 s there, and RFC 4787 REQ-5 asks for at least 2 min).
    /// DMVPN's NAT keepalives (RFC 3948 §4, 20 s by default) keep such a mapping open.
    pub idle_timeout: Duration,
    /// Whether a new mapping keeps the inside port as its public port when the box has that
    /// port free (default true, as Linux MASQUERADE). Ports retired by a rebinding are never
    /// kept.
    pub port_preservation: bool,
    /// The public ports handed out when the inside port is not kept (default 1024–65535).
    /// An empty range leaves only port preservation.
    pub port_range: RangeInclusive<u16>,
    /// Which inbound datagrams a live mapping accepts (default
    /// [`Filtering::AddressAndPortDependent`], a typical home NAT).
    pub filtering: Filtering,
    /// Whether a datagram from an inside host to one of the box's own public addresses (another
    /// inside host's mapping, or its own, on the same address or another one of the pool) is
    /// translated and delivered inside (RFC 4787 §6, REQ-9), as if it had come from outside,
    /// from the sender's public mapping; when false (the default, as many home routers) it is
    /// dropped and counted in [`crate::NatStats::hairpin_dropped`].
    pub hairpin: bool,
}

impl NaptConfig {
    /// A box with public address `public` for the hosts `inside`, with the defaults: no pool,
    /// 30 s idle timeout, port preservation, ports 1024–65535, address- and port-dependent
    /// filtering, no hairpinning.
    pub fn new(public: IpAddr, inside: Vec<IpAddr>) -> NaptConfig {
        NaptConfig {
            public,
            pool: Vec::new(),
            inside,
            idle_timeout: Duration::from_secs(30),
            port_preservation: true,
            port_range: 1024..=65535,
            filtering: Filtering::default(),
            hairpin: false,
        }
    }
}

/// A public port on one of the box's public addresses: the index of the address in
/// [`Napt::addrs`], and the port. Each address has its own port space.
type Public = (usize, u16);

/// One mapping: an inside socket and the public port it goes out on.
#[derive(Debug)]
struct Mapping {
    inside: SocketAddr,
    /// When it expires unless refreshed (`None`: the timeout overflows the clock, never).
    expires: Option<Instant>,
    /// Remote endpoints the inside socket sent to (address- and port-dependent filtering).
    peers: BTreeSet<SocketAddr>,
    /// Remote addresses the inside socket sent to (address-dependent filtering).
    peer_addrs: BTreeSet<IpAddr>,
}

/// A NAPT box's state. Ordered maps throughout: nothing here depends on a hasher's seed.
#[derive(Debug)]
pub(super) struct Napt {
    config: NaptConfig,
    /// The current public addresses, never empty: first the primary one (`config.public` until
    /// a rebinding replaces it), then the pool's, in order.
    addrs: Vec<IpAddr>,
    /// Public addresses given up at rebindings: datagrams to them are dropped.
    old_public: Vec<IpAddr>,
    /// Each current public address's index in `addrs` (lookups only).
    slot_of_addr: BTreeMap<IpAddr, usize>,
    /// The address (index into `addrs`) each inside host was paired with, at its first mapping.
    paired: BTreeMap<IpAddr, usize>,
    by_inside: BTreeMap<SocketAddr, Public>,
    by_port: BTreeMap<Public, Mapping>,
    /// (expiry, public port) of every mapping that can expire, earliest first.
    expiry: BTreeSet<(Instant, Public)>,
    /// Every public port the box has handed out.
    used: BTreeSet<Public>,
    /// Ports handed out before the last rebinding: never handed out again.
    retired: BTreeSet<Public>,
    /// Where the next sequential allocation on each address starts looking.
    next_port: Vec<u16>,
    stats: NatStats,
}

impl Napt {
    pub(super) fn new(config: NaptConfig) -> Napt {
        let mut addrs = vec![config.public];
        for &a in &config.pool {
            if a.is_ipv4() == config.public.is_ipv4() && !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        let slot_of_addr = addrs.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        Napt {
            slot_of_addr,
            next_port: vec![*config.port_range.start(); addrs.len()],
            addrs,
            config,
            old_public: Vec::new(),
            paired: BTreeMap::new(),
            by_inside: BTreeMap::new(),
            by_port: BTreeMap::new(),
            expiry: BTreeSet::new(),
            used: BTreeSet::new(),
            retired: BTreeSet::new(),
            stats: NatStats::default(),
        }
    }

    pub(super) fn stats(&self) -> NatStats {
        self.stats
    }

    pub(super) fn stats_mut(&mut self) -> &mut NatStats {
        &mut self.stats
    }

    /// Whether inbound datagrams to `addr` are this box's: one of its public addresses, or one
    /// it gave up at a rebinding.
    #[cfg(test)]
    pub(super) fn owns(&self, addr: IpAddr) -> bool {
        self.addrs.contains(&addr) || self.old_public.contains(&addr)
    }

    /// The current public addresses, primary first.
    pub(super) fn addrs(&self) -> &[IpAddr] {
        &self.addrs
    }

    /// The live public endpoint of `inside` at `now`.
    pub(super) fn mapping(&self, now: Instant, inside: SocketAddr) -> Option<SocketAddr> {
        let key = *self.by_inside.get(&inside)?;
        let m = self.by_port.get(&key)?;
        let addr = *self.addrs.get(key.0)?;
        m.expires
            .is_none_or(|e| e > now)
            .then_some(SocketAddr::new(addr, key.1))
    }

    /// Removes every mapping whose idle timeout has run out by `now`.
    fn sweep(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.expiry.first() {
            if at > now {
                break;
            }
            self.expiry.pop_first();
            if let Some(m) = self.by_port.remove(&key) {
                self.by_inside.remove(&m.inside);
                self.stats.expired += 1;
            }
        }
    }

    /// The address (index into `addrs`) of inside host `host`: the one it was paired with, or
    /// the one its first mapping will pair it with (the next in order, round-robin).
    fn slot_of(&self, host: IpAddr) -> usize {
        match self.paired.get(&host) {
            Some(&slot) => slot,
            None => self.paired.len() % self.addrs.len().max(1),
        }
    }

    /// Whether `port` may be handed out now on the address `slot`.
    fn is_free(&self, slot: usize, port: u16) -> bool {
        port != 0
            && !self.by_port.contains_key(&(slot, port))
            && !self.retired.contains(&(slot, port))
    }

    /// A public port on the address `slot` for a new mapping of a socket with inside port
    /// `inside_port`.
    fn allocate(&mut self, slot: usize, inside_port: u16, work: &mut u64) -> Option<u16> {
        *work += 1;
        if self.config.port_preservation && self.is_free(slot, inside_port) {
            return Some(inside_port);
        }
        let (lo, hi) = (
            *self.config.port_range.start(),
            *self.config.port_range.end(),
        );
        if lo > hi {
            return None;
        }
        let next = self.next_port.get(slot).copied().unwrap_or(lo);
        let span = u32::from(hi - lo) + 1;
        let from = u32::from(next.clamp(lo, hi) - lo);
        let port = (0..span)
            .filter_map(|i| u16::try_from(u32::from(lo) + (from + i) % span).ok())
            .find(|&p| {
                *work += 1;
                self.is_free(slot, p)
            })?;
        if let Some(n) = self.next_port.get_mut(slot) {
            *n = if port >= hi { lo } else { port + 1 };
        }
        Some(port)
    }

    /// Source NAT at `now`: `false` if dropped (counted).
    /// Adds the addresses and ports looked at to `work`.
    pub(super) fn outbound(&mut self, now: Instant, d: &mut Datagram, work: &mut u64) -> bool {
        self.sweep(now);
        if d.protocol != IpProtocol::UDP.0 {
            self.stats.protocol_dropped += 1;
            return false;
        }
        let slot = self.slot_of(d.src);
        let Some(&public) = self.addrs.get(slot) else {
            return false;
        };
        if d.src.is_ipv4() != public.is_ipv4() {
            self.stats.wrong_family += 1;
            return false;
        }
        let Some((src_port, dst_port)) = udp_ports(&d.payload) else {
            self.stats.malformed += 1;
            return false;
        };
        *work += 1;
        let hairpin = self.slot_of_addr.contains_key(&d.dst);
        if hairpin && !self.config.hairpin {
            self.stats.hairpin_dropped += 1;
            return false;
        }
        let inside = SocketAddr::new(d.src, src_port);
        let key = match self.by_inside.get(&inside) {
            Some(&key) => key,
            None => {
                // The host's first mapping pairs it with its address, even if no port is left.
                self.paired.entry(d.src).or_insert(slot);
                let Some(port) = self.allocate(slot, src_port, work) else {
                    self.stats.exhausted += 1;
                    return false;
                };
                let key = (slot, port);
                self.by_inside.insert(inside, key);
                self.by_port.insert(
                    key,
                    Mapping {
                        inside,
                        expires: None,
                        peers: BTreeSet::new(),
                        peer_addrs: BTreeSet::new(),
                    },
                );
                self.used.insert(key);
                self.stats.mappings_created += 1;
                key
            }
        };
        let Some(m) = self.by_port.get_mut(&key) else {
            return false;
        };
        // Outbound traffic refreshes the mapping and opens its filter to the destination.
        if let Some(old) = m.expires {
            self.expiry.remove(&(old, key));
        }
        m.expires = now.checked_add(self.config.idle_timeout);
        if let Some(at) = m.expires {
            self.expiry.insert((at, key));
        }
        m.peers.insert(SocketAddr::new(d.dst, dst_port));
        m.peer_addrs.insert(d.dst);
        translate(d, Side::Src, public, Some(key.1));
        self.stats.translated_out += 1;
        if hairpin {
            self.stats.hairpinned += 1;
        }
        true
    }

    /// Destination NAT at `now` of a datagram to one of the box's addresses: `false` if
    /// dropped (counted).
    /// Adds the addresses looked at to `work`.
    pub(super) fn inbound(&mut self, now: Instant, d: &mut Datagram, work: &mut u64) -> bool {
        self.sweep(now);
        if d.protocol != IpProtocol::UDP.0 {
            self.stats.protocol_dropped += 1;
            return false;
        }
        let Some((src_port, dst_port)) = udp_ports(&d.payload) else {
            self.stats.malformed += 1;
            return false;
        };
        *work += 1;
        let mapping =
            (self.slot_of_addr.get(&d.dst)).and_then(|&slot| self.by_port.get(&(slot, dst_port)));
        let Some(m) = mapping else {
            self.stats.no_mapping += 1;
            return false;
        };
        let allowed = match self.config.filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => m.peer_addrs.contains(&d.src),
            Filtering::AddressAndPortDependent => {
                m.peers.contains(&SocketAddr::new(d.src, src_port))
            }
        };
        if !allowed {
            self.stats.filtered += 1;
            return false;
        }
        let inside = m.inside;
        translate(d, Side::Dst, inside.ip(), Some(inside.port()));
        self.stats.translated_in += 1;
        true
    }

    /// Drops every mapping, retires every port used so far on every address, and moves the
    /// primary address to `new_public` if given (unless that is one of the pool's addresses:
    /// then the addresses stay as they are). Hosts keep their pairing: those on the primary
    /// address go out on `new_public` from now on.
    pub(super) fn rebind(&mut self, new_public: Option<IpAddr>) {
        self.by_inside.clear();
        self.by_port.clear();
        self.expiry.clear();
        self.retired.extend(self.used.iter().copied());
        if let Some(p) = new_public
            && !self.addrs.contains(&p)
            && let Some(primary) = self.addrs.first_mut()
        {
            self.old_public.retain(|&a| a != p);
            self.old_public.push(*primary);
            self.slot_of_addr.remove(primary);
            self.slot_of_addr.insert(p, 0);
            *primary = p;
        }
        self.stats.rebinds += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn sock(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn udp(from: SocketAddr, to: SocketAddr) -> Datagram {
        Datagram {
            src: from.ip(),
            dst: to.ip(),
            protocol: 17,
            payload: dmvpn_wire::udp::datagram(from.ip(), to.ip(), from.port(), to.port(), b"x")
                .unwrap(),
        }
    }

    fn boxed(f: impl FnOnce(&mut NaptConfig)) -> Napt {
        let mut c = NaptConfig::new(ip("203.0.113.1"), vec![ip("10.0.0.2"), ip("10.0.0.3")]);
        f(&mut c);
        Napt::new(c)
    }

    fn out_port(n: &mut Napt, now: Instant, from: &str) -> Option<u16> {
        let mut d = udp(sock(from), sock("198.51.100.9:4500"));
        n.outbound(now, &mut d, &mut 0)
            .then(|| udp_ports(&d.payload).unwrap().0)
    }

    #[test]
    fn sequential_allocation_wraps_and_skips_used_ports() {
        let now = Instant::now();
        let mut n = boxed(|c| {
            c.port_preservation = false;
            c.port_range = 5000..=5002;
        });
        let ports: Vec<_> = ["10.0.0.2:1", "10.0.0.2:2", "10.0.0.2:3", "10.0.0.3:1"]
            .iter()
            .map(|s| out_port(&mut n, now, s))
            .collect();
        assert_eq!(ports, [Some(5000), Some(5001), Some(5002), None]);
        assert_eq!(n.stats.exhausted, 1);
        // The same socket keeps its port for every destination (endpoint-independent mapping).
        let mut d = udp(sock("10.0.0.2:2"), sock("192.0.2.77:9"));
        assert!(n.outbound(now, &mut d, &mut 0));
        assert_eq!(udp_ports(&d.payload).unwrap().0, 5001);
    }

    #[test]
    fn port_zero_and_empty_range() {
        let now = Instant::now();
        #[allow(clippy::reversed_empty_ranges)]
        let mut n = boxed(|c| c.port_range = 10..=9);
        assert_eq!(out_port(&mut n, now, "10.0.0.2:0"), None);
        assert_eq!(out_port(&mut n, now, "10.0.0.2:7"), Some(7));
        assert_eq!(out_port(&mut n, now, "10.0.0.3:7"), None);
        let mut n = boxed(|c| c.port_range = 0..=1);
        assert_eq!(out_port(&mut n, now, "10.0.0.2:0"), Some(1));
    }

    #[test]
    fn rebinding_retires_every_port_used_before() {
        let now = Instant::now();
        let mut n = boxed(|c| c.port_range = 4500..=4502);
        assert_eq!(out_port(&mut n, now, "10.0.0.2:4500"), Some(4500));
        n.rebind(None);
        assert_eq!(out_port(&mut n, now, "10.0.0.2:4500"), Some(4501));
        n.rebind(None);
        assert_eq!(out_port(&mut n, now, "10.0.0.2:4500"), Some(4502));
        n.rebind(None);
        assert_eq!(out_port(&mut n, now, "10.0.0.2:4500"), None);
        assert_eq!((n.stats.rebinds, n.stats.exhausted), (3, 1));
    }
}
