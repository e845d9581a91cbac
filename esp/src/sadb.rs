//! The SA database: inbound SAs by SPI (and destination), outbound SAs by SPI and by peer, their
//! time-based lifetimes in an expiry index, their events in one queue, and the policy that says
//! what each SA protects.
//!
//! DMVPN needs no crypto ACLs: the policy is derived from the GRE tunnel's source and
//! destination (seed 003: "crypto ACLs … automatically derived from the GRE tunnel source and
//! destination"), i.e. protect IP protocol 47 between the local and the peer NBMA address
//! ([`Policy::dmvpn`]). A plain IKEv2 peer protects every protocol between two addresses
//! ([`Policy::any_protocol`]).
//!
//! Costs: the data path ([`SaDatabase::encapsulate`], [`SaDatabase::decapsulate`], and their
//! in-place forms [`SaDatabase::encapsulate_in_place`], [`SaDatabase::decapsulate_in_place`]) is a hash
//! probe by SPI (outbound: by peer, then by SPI) and allocates nothing unless a lifetime event is
//! raised; [`SaDatabase::poll_timeout`] reads the first entry of an ordered `(deadline, SA)`
//! index; [`SaDatabase::handle_timeout`] touches only the SAs that are due.
//!
//! Events come out of [`SaDatabase::poll_event`] in the order they were raised, timer events in
//! the order their limits were reached; SAs due at the same instant raise theirs in [`SaId`]
//! order (inbound before outbound, then by SPI). Nothing depends on insertion order or on
//! hashing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The database's hash maps: foldhash, seeded per map, instead of SipHash, which was most of the
/// cost of a lookup on the data path (three per packet); the keys are SPIs and peer addresses,
/// and nothing iterates these maps where the order could reach an output.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::net::IpAddr;
use std::time::Instant;

use crate::Error;
use crate::sa::{Decapsulated, Event, InPlace, InboundSa, NEXT_HEADER_GRE, OutboundSa};
use crate::wire::esp::Packet;

/// A traffic selector pair for one peer: protect `protocol` between `local` and `peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Our address (for DMVPN: our NBMA address).
    pub local: IpAddr,
    /// The peer's address (for DMVPN: its NBMA address).
    pub peer: IpAddr,
    /// The protected IP protocol (`Some(47)`, GRE, for DMVPN); `None`: every protocol.
    pub protocol: Option<u8>,
}

impl Policy {
    /// DMVPN's policy: GRE (protocol 47) between the local and the peer NBMA address.
    pub fn dmvpn(local: IpAddr, peer: IpAddr) -> Self {
        Self {
            local,
            peer,
            protocol: Some(NEXT_HEADER_GRE),
        }
    }

    /// Every protocol between `local` and `peer` (in tunnel mode the next header is the inner
    /// packet's family, 4 or 41; in transport mode whatever the upper layer is).
    pub fn any_protocol(local: IpAddr, peer: IpAddr) -> Self {
        Self {
            local,
            peer,
            protocol: None,
        }
    }

    fn covers(&self, protocol: u8) -> bool {
        self.protocol.is_none_or(|p| p == protocol)
    }

    /// Whether an outgoing packet from `src` to `dst` of `protocol` falls under this policy.
    pub fn matches_outbound(&self, src: IpAddr, dst: IpAddr, protocol: u8) -> bool {
        src == self.local && dst == self.peer && self.covers(protocol)
    }

    /// Whether a decapsulated packet from `src` to `dst` of `protocol` falls under this policy
    /// (the inbound policy check of RFC 4301 §5.2).
    pub fn matches_inbound(&self, src: IpAddr, dst: IpAddr, protocol: u8) -> bool {
        src == self.peer && dst == self.local && self.covers(protocol)
    }
}

/// Which way an SA carries traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// From the peer to us: we chose the SPI.
    Inbound,
    /// From us to the peer: the peer chose the SPI.
    Outbound,
}

/// An SA in the database: its direction and SPI. Inbound SPIs are ours and outbound SPIs the
/// peers', so one value may name an SA of each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaId {
    /// Inbound or outbound.
    pub direction: Direction,
    /// The SPI.
    pub spi: u32,
}

impl SaId {
    /// The inbound SA with `spi`.
    pub const fn inbound(spi: u32) -> Self {
        Self {
            direction: Direction::Inbound,
            spi,
        }
    }

    /// The outbound SA with `spi`.
    pub const fn outbound(spi: u32) -> Self {
        Self {
            direction: Direction::Outbound,
            spi,
        }
    }
}

/// An event raised by an SA of the database, with the SA and its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SaEvent {
    /// The SA that raised it.
    pub sa: SaId,
    /// The SA's policy (its peer and what it protects).
    pub policy: Policy,
    /// What happened.
    pub event: Event,
}

/// What the database needs of an SA of either direction.
trait Managed {
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_event(&mut self) -> Option<Event>;
}

macro_rules! managed {
    ($t:ty) => {
        impl Managed for $t {
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$t>::poll_event(self)
            }
        }
    };
}

managed!(InboundSa);
managed!(OutboundSa);

struct Entry<S> {
    sa: S,
    policy: Policy,
    /// The SA's deadline as it stands in the expiry index (`None`: not in it).
    deadline: Option<Instant>,
}

type Expiry = BTreeSet<(Instant, SaId)>;

impl<S: Managed> Entry<S> {
    /// After anything that may have changed the SA: re-files its deadline in the index and moves
    /// its events to the database's queue.
    fn sync(&mut self, id: SaId, expiry: &mut Expiry, events: &mut VecDeque<SaEvent>) {
        let next = self.sa.poll_timeout();
        if next != self.deadline {
            if let Some(t) = self.deadline {
                expiry.remove(&(t, id));
            }
            if let Some(t) = next {
                expiry.insert((t, id));
            }
            self.deadline = next;
        }
        while let Some(event) = self.sa.poll_event() {
            events.push_back(SaEvent {
                sa: id,
                policy: self.policy,
                event,
            });
        }
    }
}

/// The SAs of one peer.
#[derive(Debug, Default)]
struct PeerSas {
    inbound: BTreeSet<u32>,
    /// Outbound SPIs by installation number: the newest (last) carries the traffic.
    outbound: BTreeMap<u64, u32>,
}

impl PeerSas {
    fn is_empty(&self) -> bool {
        self.inbound.is_empty() && self.outbound.is_empty()
    }
}

struct OutboundEntry {
    entry: Entry<OutboundSa>,
    /// Installation number (the key in [`PeerSas::outbound`]).
    installed: u64,
}

/// Inbound and outbound SAs with their policies, lifetimes and events.
///
/// Outbound SAs are kept by SPI; several may lead to one peer (a rekeyed SA and its
/// replacement), and the newest installed one carries the traffic until it is removed, when the
/// next newest takes over.
#[derive(Default)]
pub struct SaDatabase {
    inbound: HashMap<u32, Entry<InboundSa>>,
    outbound: HashMap<u32, OutboundEntry>,
    peers: HashMap<IpAddr, PeerSas>,
    expiry: Expiry,
    events: VecDeque<SaEvent>,
    installed: u64,
}

impl core::fmt::Debug for SaDatabase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Sorted by SPI, so that the output does not depend on hashing.
        let inbound: BTreeMap<_, _> = self
            .inbound
            .iter()
            .map(|(spi, e)| (*spi, (&e.policy, &e.sa)))
            .collect();
        let outbound: BTreeMap<_, _> = self
            .outbound
            .iter()
            .map(|(spi, o)| (*spi, (&o.entry.policy, &o.entry.sa)))
            .collect();
        f.debug_struct("SaDatabase")
            .field("inbound", &inbound.values().collect::<Vec<_>>())
            .field("outbound", &outbound.values().collect::<Vec<_>>())
            .field("next_timeout", &self.poll_timeout())
            .field("pending_events", &self.events.len())
            .finish()
    }
}

impl SaDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of inbound SAs.
    pub fn inbound_len(&self) -> usize {
        self.inbound.len()
    }

    /// Number of outbound SAs.
    pub fn outbound_len(&self) -> usize {
        self.outbound.len()
    }

    /// Whether the database holds no SA.
    pub fn is_empty(&self) -> bool {
        self.inbound.is_empty() && self.outbound.is_empty()
    }

    /// Installs an inbound SA for `policy`; returns the SA it replaces (same SPI), if any. The
    /// events the replaced SA raised and nobody polled yet are discarded.
    pub fn insert_inbound(&mut self, policy: Policy, sa: InboundSa) -> Option<InboundSa> {
        let spi = sa.spi();
        let old = self.unlink_inbound(spi);
        self.peers
            .entry(policy.peer)
            .or_default()
            .inbound
            .insert(spi);
        let mut entry = Entry {
            sa,
            policy,
            deadline: None,
        };
        entry.sync(SaId::inbound(spi), &mut self.expiry, &mut self.events);
        self.inbound.insert(spi, entry);
        old
    }

    /// Installs an outbound SA for `policy`; from now on it carries the traffic towards
    /// `policy.peer` (after a rekey the new SA takes over at once, and the old one stays until it
    /// is removed). Returns the SA it replaces (same SPI), if any, discarding the events that SA
    /// raised and nobody polled yet.
    pub fn insert_outbound(&mut self, policy: Policy, sa: OutboundSa) -> Option<OutboundSa> {
        let spi = sa.spi();
        let old = self.unlink_outbound(spi);
        self.installed += 1;
        let installed = self.installed;
        self.peers
            .entry(policy.peer)
            .or_default()
            .outbound
            .insert(installed, spi);
        let mut entry = Entry {
            sa,
            policy,
            deadline: None,
        };
        entry.sync(SaId::outbound(spi), &mut self.expiry, &mut self.events);
        self.outbound
            .insert(spi, OutboundEntry { entry, installed });
        old
    }

    /// Removes the inbound SA with `spi`, with its index entry and unpolled events.
    pub fn remove_inbound(&mut self, spi: u32) -> Option<InboundSa> {
        self.unlink_inbound(spi)
    }

    /// Removes the outbound SA with `spi`, with its index entry and unpolled events; if it
    /// carried the traffic towards its peer, the newest remaining SA towards that peer takes over.
    pub fn remove_outbound(&mut self, spi: u32) -> Option<OutboundSa> {
        self.unlink_outbound(spi)
    }

    /// Removes every SA of `peer` (for example when its NHRP mapping expires).
    pub fn remove_peer(&mut self, peer: IpAddr) {
        let Some(sas) = self.peers.remove(&peer) else {
            return;
        };
        for spi in sas.inbound {
            if let Some(e) = self.inbound.remove(&spi) {
                self.forget(SaId::inbound(spi), e.deadline);
            }
        }
        for spi in sas.outbound.into_values() {
            if let Some(o) = self.outbound.remove(&spi) {
                self.forget(SaId::outbound(spi), o.entry.deadline);
            }
        }
    }

    fn unlink_inbound(&mut self, spi: u32) -> Option<InboundSa> {
        let e = self.inbound.remove(&spi)?;
        if let Some(p) = self.peers.get_mut(&e.policy.peer) {
            p.inbound.remove(&spi);
            if p.is_empty() {
                self.peers.remove(&e.policy.peer);
            }
        }
        self.forget(SaId::inbound(spi), e.deadline);
        Some(e.sa)
    }

    fn unlink_outbound(&mut self, spi: u32) -> Option<OutboundSa> {
        let o = self.outbound.remove(&spi)?;
        let peer = o.entry.policy.peer;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.outbound.remove(&o.installed);
            if p.is_empty() {
                self.peers.remove(&peer);
            }
        }
        self.forget(SaId::outbound(spi), o.entry.deadline);
        Some(o.entry.sa)
    }

    /// Drops a removed SA's index entry and its unpolled events.
    fn forget(&mut self, id: SaId, deadline: Option<Instant>) {
        if let Some(t) = deadline {
            self.expiry.remove(&(t, id));
        }
        self.events.retain(|e| e.sa != id);
    }

    /// The inbound SA with `spi`.
    pub fn inbound(&self, spi: u32) -> Option<&InboundSa> {
        self.inbound.get(&spi).map(|e| &e.sa)
    }

    /// The outbound SA with `spi`.
    pub fn outbound(&self, spi: u32) -> Option<&OutboundSa> {
        self.outbound.get(&spi).map(|o| &o.entry.sa)
    }

    /// The policy of an SA.
    pub fn policy(&self, sa: SaId) -> Option<Policy> {
        match sa.direction {
            Direction::Inbound => self.inbound.get(&sa.spi).map(|e| e.policy),
            Direction::Outbound => self.outbound.get(&sa.spi).map(|o| o.entry.policy),
        }
    }

    /// The SPI of the outbound SA that carries the traffic towards `peer` (the newest one).
    fn current_outbound(&self, peer: IpAddr) -> Option<u32> {
        self.peers
            .get(&peer)?
            .outbound
            .last_key_value()
            .map(|(_, spi)| *spi)
    }

    /// The outbound SA that carries the traffic towards `peer`: the newest one installed.
    pub fn outbound_for(&self, peer: IpAddr) -> Option<&OutboundSa> {
        self.outbound(self.current_outbound(peer)?)
    }

    /// Whether an outbound SA carries traffic towards `peer`.
    pub fn has_outbound(&self, peer: IpAddr) -> bool {
        self.current_outbound(peer).is_some()
    }

    /// The [`OutboundSa::header_len`] (ESP header and IV) of the SA that carries the traffic
    /// towards `peer`: the headroom [`SaDatabase::encapsulate_in_place`] needs in front of the
    /// payload. `None` without such an SA.
    pub fn outbound_header_len(&self, peer: IpAddr) -> Option<usize> {
        self.outbound_for(peer).map(OutboundSa::header_len)
    }

    /// Protects an outgoing packet from `src` to `dst` of `protocol` with the SA that carries
    /// the traffic towards `dst`: [`Error::NoOutboundSa`] without one, [`Error::PolicyMismatch`]
    /// if its policy does not cover the packet.
    pub fn encapsulate<'o>(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        payload: &[u8],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], Error> {
        let spi = self.current_outbound(dst).ok_or(Error::NoOutboundSa)?;
        let o = self.outbound.get_mut(&spi).ok_or(Error::NoOutboundSa)?;
        if !o.entry.policy.matches_outbound(src, dst, protocol) {
            return Err(Error::PolicyMismatch);
        }
        let r = o.entry.sa.encapsulate(now, protocol, payload, out);
        o.entry
            .sync(SaId::outbound(spi), &mut self.expiry, &mut self.events);
        r
    }

    /// [`SaDatabase::encapsulate`] in place: protects the payload `buf[start..]` with
    /// [`OutboundSa::encapsulate_in_place`] of the SA that carries the traffic towards `dst`
    /// (the same lookup and policy check) and returns the offset of the ESP packet in `buf`.
    /// `start` must leave [`SaDatabase::outbound_header_len`] bytes of headroom.
    pub fn encapsulate_in_place(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        buf: &mut Vec<u8>,
        start: usize,
    ) -> Result<usize, Error> {
        let spi = self.current_outbound(dst).ok_or(Error::NoOutboundSa)?;
        self.encapsulate_in_place_with(now, spi, src, dst, protocol, buf, start)
    }

    /// The outbound SA that carries the traffic towards `peer` ([`SaDatabase::outbound_for`])
    /// and its SPI: a handle for [`SaDatabase::encapsulate_in_place_with`], so that a data path
    /// that looks the SA up once per packet (for its layout) seals with it without a second
    /// lookup.
    pub fn outbound_for_with_spi(&self, peer: IpAddr) -> Option<(u32, &OutboundSa)> {
        let spi = self.current_outbound(peer)?;
        Some((spi, self.outbound(spi)?))
    }

    /// [`SaDatabase::encapsulate_in_place`] with the outbound SA `spi`, as
    /// [`SaDatabase::outbound_for_with_spi`] found it for `dst` with no SA installed or removed
    /// since (the caller's promise: the SA carrying the traffic is then still that one). The
    /// same policy check; [`Error::NoOutboundSa`] if the SA is gone.
    #[allow(clippy::too_many_arguments)]
    pub fn encapsulate_in_place_with(
        &mut self,
        now: Instant,
        spi: u32,
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        buf: &mut Vec<u8>,
        start: usize,
    ) -> Result<usize, Error> {
        let o = self.outbound.get_mut(&spi).ok_or(Error::NoOutboundSa)?;
        if !o.entry.policy.matches_outbound(src, dst, protocol) {
            return Err(Error::PolicyMismatch);
        }
        let r = o.entry.sa.encapsulate_in_place(now, protocol, buf, start);
        o.entry
            .sync(SaId::outbound(spi), &mut self.expiry, &mut self.events);
        r
    }

    /// Looks up the inbound SA by the packet's SPI and `dst`, decapsulates, and checks the
    /// result against the SA's policy (source, destination, protocol).
    pub fn decapsulate<'o>(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        packet: &[u8],
        out: &'o mut [u8],
    ) -> Result<Decapsulated<'o>, Error> {
        let spi = Packet::new_checked(packet)?.spi();
        let entry = self
            .inbound
            .get_mut(&spi)
            .filter(|e| e.policy.local == dst)
            .ok_or(Error::UnknownSpi { spi })?;
        let r = entry.sa.decapsulate(now, packet, out);
        entry.sync(SaId::inbound(spi), &mut self.expiry, &mut self.events);
        let d = r?;
        if !entry.policy.matches_inbound(src, dst, d.next_header) {
            return Err(Error::PolicyMismatch);
        }
        Ok(d)
    }

    /// [`SaDatabase::decapsulate`] in place: looks up the inbound SA by the SPI of the ESP
    /// packet `buf` (header to ICV) and `dst`, decrypts it with
    /// [`InboundSa::decapsulate_in_place`], and checks the result against the SA's policy. The
    /// payload is `buf[result.payload]`.
    pub fn decapsulate_in_place(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        buf: &mut [u8],
    ) -> Result<InPlace, Error> {
        let (d, moved) = self.open_in_place(now, src, dst, buf)?;
        match moved {
            None => Ok(d),
            Some(_) => Err(Error::PolicyMismatch),
        }
    }

    /// [`SaDatabase::decapsulate_in_place`] for ESP in UDP through a NAT (RFC 3948): a packet
    /// that passed the integrity check and matches its SA's policy but for its source is
    /// accepted, and the SA's peer address returned beside the payload: the peer's NAT box
    /// rebound it to another public address (`src`). Nothing moves here: a caller that follows
    /// the peer calls [`SaDatabase::move_peer`]. Only the source may differ (destination and
    /// protocol are checked as always), and only after authentication: an unauthenticated
    /// packet's source proves nothing.
    pub fn decapsulate_in_place_following(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        buf: &mut [u8],
    ) -> Result<(InPlace, Option<IpAddr>), Error> {
        self.open_in_place(now, src, dst, buf)
    }

    fn open_in_place(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        buf: &mut [u8],
    ) -> Result<(InPlace, Option<IpAddr>), Error> {
        let spi = Packet::new_checked(&*buf)?.spi();
        let entry = self
            .inbound
            .get_mut(&spi)
            .filter(|e| e.policy.local == dst)
            .ok_or(Error::UnknownSpi { spi })?;
        let r = entry.sa.decapsulate_in_place(now, buf);
        entry.sync(SaId::inbound(spi), &mut self.expiry, &mut self.events);
        let d = r?;
        let peer = entry.policy.peer;
        if entry.policy.matches_inbound(src, dst, d.next_header) {
            Ok((d, None))
        } else if src.is_ipv4() == peer.is_ipv4()
            && entry.policy.matches_inbound(peer, dst, d.next_header)
        {
            Ok((d, Some(peer)))
        } else {
            Err(Error::PolicyMismatch)
        }
    }

    /// The peer at `old` is now at `new` (its NAT box rebound it, see
    /// [`SaDatabase::decapsulate_in_place_following`]): every SA of `old` now has `new` as its
    /// policy's peer, and the traffic towards `new` takes `old`'s outbound SAs. Returns how many
    /// SAs moved; none if `new` already has SAs of its own (two peers are not merged).
    pub fn move_peer(&mut self, old: IpAddr, new: IpAddr) -> usize {
        if old == new || self.peers.contains_key(&new) {
            return 0;
        }
        let Some(sas) = self.peers.remove(&old) else {
            return 0;
        };
        let mut n = 0;
        for spi in &sas.inbound {
            if let Some(e) = self.inbound.get_mut(spi) {
                e.policy.peer = new;
                n += 1;
            }
        }
        for spi in sas.outbound.values() {
            if let Some(o) = self.outbound.get_mut(spi) {
                o.entry.policy.peer = new;
                n += 1;
            }
        }
        self.peers.insert(new, sas);
        n
    }

    /// Checks the time-based lifetimes of the SAs due by `now`, and only those; a spurious call
    /// is a no-op.
    ///
    /// The index is worked through in `(deadline, SA)` order and each SA is evaluated as of the
    /// deadline that fell due, so that after a long sleep the events still come out in the order
    /// their limits were reached (one SA's soft limit, another's hard limit, then the first
    /// one's hard limit, …).
    pub fn handle_timeout(&mut self, now: Instant) {
        // Each SA has at most two time limits (soft and hard), each of which fires once.
        let mut budget = 2 * (self.inbound.len() + self.outbound.len());
        while budget > 0
            && let Some(&(t, id)) = self.expiry.first()
            && t <= now
        {
            budget -= 1;
            self.expiry.pop_first();
            match id.direction {
                Direction::Inbound => {
                    if let Some(e) = self.inbound.get_mut(&id.spi) {
                        e.deadline = None;
                        e.sa.handle_timeout(t);
                        e.sync(id, &mut self.expiry, &mut self.events);
                    }
                }
                Direction::Outbound => {
                    if let Some(o) = self.outbound.get_mut(&id.spi) {
                        o.entry.deadline = None;
                        o.entry.sa.handle_timeout(t);
                        o.entry.sync(id, &mut self.expiry, &mut self.events);
                    }
                }
            }
        }
    }

    /// The earliest time-based lifetime of any SA: when to call [`SaDatabase::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiry.first().map(|(t, _)| *t)
    }

    /// The next event of any SA, in the order they were raised.
    pub fn poll_event(&mut self) -> Option<SaEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;
