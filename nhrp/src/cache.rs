//! The NHRP cache: protocol address or prefix → NBMA address, as `show ip nhrp` lists it.

use core::fmt;
use core::hash::BuildHasher;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Error;

mod slab;
mod timers;

/// A protocol (overlay) prefix: an address with its host bits cleared, and a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// The prefix `addr/len`; host bits are cleared and `len` is capped at 32 (IPv4) or 128.
    pub fn new(addr: IpAddr, len: u8) -> Prefix {
        let len = len.min(max_len(addr));
        Prefix {
            addr: mask(addr, len),
            len,
        }
    }

    /// A host prefix (/32 or /128).
    pub fn host(addr: IpAddr) -> Prefix {
        Prefix::new(addr, max_len(addr))
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether this is a host prefix.
    pub fn is_host(&self) -> bool {
        self.len == max_len(self.addr)
    }

    /// Whether `addr` is inside the prefix.
    pub fn contains(&self, addr: IpAddr) -> bool {
        addr.is_ipv4() == self.addr.is_ipv4() && mask(addr, self.len) == self.addr
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// 32 for IPv4, 128 for IPv6.
pub(crate) fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// `addr` with the bits after `len` cleared.
pub(crate) fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// The kind of a cache entry (`Type:` in `show ip nhrp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// Configured (`ip nhrp map`); never expires.
    Static,
    /// Learned from a registration or a resolution; expires with its holding time.
    Dynamic,
    /// A resolution is pending; there is no NBMA address yet.
    Incomplete,
    /// A resolution said that no binding exists; kept so as not to ask again at once.
    Negative,
    /// One of this node's own addresses or prefixes (what it answers resolutions for).
    Local,
}

impl EntryType {
    fn name(self) -> &'static str {
        match self {
            EntryType::Static => "static",
            EntryType::Dynamic => "dynamic",
            EntryType::Incomplete => "incomplete",
            EntryType::Negative => "negative",
            EntryType::Local => "local",
        }
    }
}

/// Flags of a cache entry, as `show ip nhrp` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EntryFlags(pub u8);

impl EntryFlags {
    /// No flag.
    pub const NONE: EntryFlags = EntryFlags(0);
    /// Learned from an authoritative source (static, registration, or an A-flagged reply).
    pub const AUTHORITATIVE: EntryFlags = EntryFlags(0x01);
    /// Registered or replied as unique: no other NBMA address may claim it.
    pub const UNIQUE: EntryFlags = EntryFlags(0x02);
    /// Learned from a Registration Request (hub side).
    pub const REGISTERED: EntryFlags = EntryFlags(0x04);
    /// Used by the data path since it was installed.
    pub const USED: EntryFlags = EntryFlags(0x08);
    /// The peer is a router (Q flag of the resolution).
    pub const ROUTER: EntryFlags = EntryFlags(0x10);
    /// The peer is behind NAT: the post-NAT NBMA address differs from the one it claims.
    pub const NAT: EntryFlags = EntryFlags(0x20);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: EntryFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for EntryFlags {
    type Output = EntryFlags;
    fn bitor(self, rhs: EntryFlags) -> EntryFlags {
        EntryFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for EntryFlags {
    fn bitor_assign(&mut self, rhs: EntryFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for EntryFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (flag, name) in [
            (EntryFlags::AUTHORITATIVE, "authoritative"),
            (EntryFlags::ROUTER, "router"),
            (EntryFlags::UNIQUE, "unique"),
            (EntryFlags::REGISTERED, "registered"),
            (EntryFlags::USED, "used"),
            (EntryFlags::NAT, "nat"),
        ] {
            if self.contains(flag) {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// One cache entry (a value: the cache stores it compactly and hands out copies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The protocol prefix it maps.
    pub prefix: Prefix,
    /// The protocol next hop (`via`): the peer's tunnel address.
    pub next_hop: IpAddr,
    /// The NBMA address the peer claims (none for incomplete and negative entries).
    pub nbma: Option<IpAddr>,
    /// The peer's NBMA address as seen after NAT, when it differs from [`Entry::nbma`].
    pub nat_nbma: Option<IpAddr>,
    /// Static, dynamic, incomplete, negative or local.
    pub kind: EntryType,
    /// Flags.
    pub flags: EntryFlags,
    /// When it was first installed.
    pub created: Instant,
    /// When it expires (`None`: never).
    pub expires: Option<Instant>,
    /// When the data path last used it.
    pub last_used: Option<Instant>,
    /// The MTU the peer announced.
    pub mtu: u16,
}

impl Entry {
    /// An entry with no flags, no NAT address, not used, never expiring.
    pub fn new(
        now: Instant,
        prefix: Prefix,
        next_hop: IpAddr,
        nbma: Option<IpAddr>,
        kind: EntryType,
    ) -> Entry {
        Entry {
            prefix,
            next_hop,
            nbma,
            nat_nbma: None,
            kind,
            flags: EntryFlags::NONE,
            created: now,
            expires: None,
            last_used: None,
            mtu: 0,
        }
    }

    /// The address to send to: the post-NAT address if known, else the claimed one.
    pub fn effective_nbma(&self) -> Option<IpAddr> {
        self.nat_nbma.or(self.nbma)
    }

    /// Whether it maps to an NBMA address (static, dynamic or local).
    pub fn is_complete(&self) -> bool {
        matches!(
            self.kind,
            EntryType::Static | EntryType::Dynamic | EntryType::Local
        ) && self.nbma.is_some()
    }
}

/// Why an entry left the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoveReason {
    /// Its holding time ran out.
    Expired,
    /// A Purge Request, or a purge command.
    Purged,
    /// The owner of the state machine removed it (e.g. a resolution gave up).
    Removed,
}

/// What changed in a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    /// A new entry.
    Added(Entry),
    /// An entry was replaced or refreshed (the new value).
    Updated(Entry),
    /// An entry left the cache (its last value).
    Removed(Entry, RemoveReason),
}

/// The NHRP cache: entries by prefix with longest-prefix lookup, expiry timers, a size bound
/// and a queue of [`CacheEvent`]s that never drops one.
///
/// The events are what the owner mirrors (the node's mappings, NBMA peers and routes, and
/// the IPsec SAs hanging off them), so losing one would leak state. Instead of dropping, the
/// queue applies back-pressure: a change that would queue an event while `event_limit` are
/// already queued is refused ([`Error::Full`]); removals always go through (each one removes
/// an entry, so they are bounded by the table); and [`Cache::expire`] removes at most as many
/// entries as the queue has room for, leaving the rest due ([`Cache::next_expiry`] stays at or
/// before `now`) for the next call once the owner has polled. The queue therefore never holds
/// more than `event_limit` plus `limit` events.
///
/// Storage is compact (issue 17): the entries live in a slab of 48-byte slots (`slab`:
/// addresses stored once, IPv4 inline, IPv6 in a pool; times as nanoseconds from an epoch),
/// and expiry is one lazy queue of `(time, slot)` for the whole table (`timers`). Two indexes
/// map a prefix to its slot:
///
/// - an ordered map (a `u64` key for IPv4 prefixes, a `(u128, u8)` one for IPv6) that
///   iteration follows ([`Cache::iter`], and so `show ip nhrp`, purges and the hub's
///   multicast list): prefix order whatever the insertion order or the hasher;
/// - a hash table of bare slot numbers (4 bytes and a control byte per entry), hashed by the
///   prefix in the slot, for the exact lookups of every packet (one per prefix length
///   present in a longest-prefix lookup, at most 33 for IPv4).
///
/// The ordered map alone would do, deterministically and with nothing for attacker-chosen
/// keys to work on, but each of its lookups walks ~7 nodes of a 100,000-entry table (cache
/// misses: it was a third of a resolution's time in a profile), against ~2 for the table.
/// The table's hasher is foldhash seeded per cache (as esp and gre do): the seed keeps its
/// layout out of the reach of the spokes choosing their addresses, and no output depends on
/// the table (iteration never walks it). An IPv4 registration costs 48 bytes of slab, 16 of
/// timer queue, ~5 of hash table and its share of the ordered map's nodes (~25), and no
/// allocation of its own.
#[derive(Debug, Clone)]
pub struct Cache {
    visits: Visits,
    slab: slab::Slab,
    v4: BTreeMap<u64, u32>,
    v6: BTreeMap<(u128, u8), u32>,
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    lengths: BTreeMap<(bool, u8), usize>,
    timers: timers::Timers,
    limit: usize,
    events: VecDeque<CacheEvent>,
    event_limit: usize,
    last_now: Option<Instant>,
}

/// A counter of entries looked at ([`Cache::visits`]): atomic because lookups take `&self`.
#[derive(Debug, Default)]
pub(crate) struct Visits(AtomicU64);

impl Visits {
    /// Adds `n`.
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count so far.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Clone for Visits {
    fn clone(&self) -> Visits {
        Visits(AtomicU64::new(self.get()))
    }
}

/// The index key of a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    V4(u64),
    V6((u128, u8)),
}

fn key(p: &Prefix) -> Key {
    match p.addr {
        IpAddr::V4(a) => Key::V4((u64::from(u32::from(a)) << 8) | u64::from(p.len)),
        IpAddr::V6(a) => Key::V6((u128::from(a), p.len)),
    }
}

impl Cache {
    /// A cache of at most `limit` entries that takes new changes while fewer than
    /// `event_limit` events are queued (see the type docs).
    pub fn new(limit: usize, event_limit: usize) -> Cache {
        Cache {
            visits: Visits::default(),
            slab: slab::Slab::default(),
            v4: BTreeMap::new(),
            v6: BTreeMap::new(),
            index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            lengths: BTreeMap::new(),
            timers: timers::Timers::default(),
            limit,
            events: VecDeque::new(),
            event_limit,
            last_now: None,
        }
    }

    /// Releases the spare capacity of the event queue if it is drained (for a host of many
    /// idle caches, such as a simulation of many spokes; nothing else changes).
    pub fn shrink_idle(&mut self) {
        if self.events.is_empty() && self.events.capacity() > 0 {
            self.events = VecDeque::new();
        }
    }

    /// Reserves room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        let n = additional.min(self.limit);
        self.slab.reserve(n);
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index
            .reserve(n, |&id| slab.key(id).map_or(0, |k| hasher.hash_one(k)));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// The size bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Events dropped because the event queue was full: always 0, since the queue applies
    /// back-pressure instead (see the type docs); kept so that the machines' counters still
    /// add it up.
    pub fn events_dropped(&self) -> u64 {
        0
    }

    /// Entries looked at so far: one per exact lookup, insertion or removal, one per prefix
    /// length probed by a longest-prefix lookup, one per step of an iteration or a walk. A
    /// diagnostic, not a counter of traffic and not part of the behaviour: the difference
    /// over one registration or resolution shows that handling it does not walk the cache
    /// (`dmvpn-core/tests/op_counts.rs` checks that it stays the same however many entries
    /// there are).
    pub fn visits(&self) -> u64 {
        self.visits.get()
    }

    /// The slot of exactly `prefix`.
    fn slot(&self, prefix: &Prefix) -> Option<u32> {
        let k = key(prefix);
        self.index
            .find(self.hasher.hash_one(k), |&id| self.slab.key(id) == Some(k))
            .copied()
    }

    /// The entry for exactly `prefix`.
    pub fn get(&self, prefix: &Prefix) -> Option<Entry> {
        self.visits.add(1);
        self.slab.get(self.slot(prefix)?)
    }

    /// All entries, in prefix order (IPv4 before IPv6, then by address, then by length).
    pub fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.v4.values().chain(self.v6.values()).filter_map(|&id| {
            self.visits.add(1);
            self.slab.get(id)
        })
    }

    /// The slot of the longest prefix containing `addr`.
    fn lookup_slot(&self, addr: IpAddr) -> Option<u32> {
        let v4 = addr.is_ipv4();
        self.lengths
            .range((v4, 0)..=(v4, u8::MAX))
            .rev()
            .find_map(|(&(_, len), _)| {
                self.visits.add(1);
                self.slot(&Prefix::new(addr, len))
            })
    }

    /// The longest prefix containing `addr`, whatever its kind.
    pub fn lookup(&self, addr: IpAddr) -> Option<Entry> {
        self.slab.get(self.lookup_slot(addr)?)
    }

    /// Room in the event queue before changes are refused.
    pub fn event_room(&self) -> usize {
        self.event_limit.saturating_sub(self.events.len())
    }

    /// Events queued, not yet polled.
    pub fn queued_events(&self) -> usize {
        self.events.len()
    }

    fn events_full(&self) -> Error {
        Error::Full {
            what: "NHRP cache event queue",
            limit: self.event_limit,
        }
    }

    /// The next queued event.
    pub fn poll_event(&mut self) -> Option<CacheEvent> {
        self.events.pop_front()
    }

    /// Inserts or replaces an entry, emitting [`CacheEvent::Added`] or
    /// [`CacheEvent::Updated`]. A replaced entry keeps its creation time. Fails with
    /// [`Error::Full`] when the cache is full and the prefix is new, or when the change would
    /// queue an event and the event queue has no room (its events are not being polled).
    pub fn insert(&mut self, now: Instant, mut entry: Entry) -> Result<(), Error> {
        self.last_now = Some(now);
        self.visits.add(1);
        let k = key(&entry.prefix);
        if let Some(id) = self.slot(&entry.prefix)
            && let Some(old) = self.slab.get(id)
        {
            entry.created = old.created;
            let changed = old != entry;
            if changed && self.event_room() == 0 {
                return Err(self.events_full());
            }
            let before = self.slab.expires_code(id);
            self.slab.replace(id, &entry);
            let at = self.slab.expires_code(id);
            self.timers.set(id, at, before);
            self.timers.settle(&self.slab);
            if changed {
                self.events.push_back(CacheEvent::Updated(entry));
            }
            return Ok(());
        }
        if self.slab.len() >= self.limit {
            return Err(Error::Full {
                what: "NHRP cache",
                limit: self.limit,
            });
        }
        if self.event_room() == 0 {
            return Err(self.events_full());
        }
        let id = self.slab.insert(&entry);
        let at = self.slab.expires_code(id);
        self.timers.set(id, at, None);
        self.timers.settle(&self.slab);
        *self
            .lengths
            .entry((entry.prefix.addr.is_ipv4(), entry.prefix.len))
            .or_insert(0) += 1;
        match k {
            Key::V4(k) => self.v4.insert(k, id),
            Key::V6(k) => self.v6.insert(k, id),
        };
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index.insert_unique(hasher.hash_one(k), id, |&id| {
            slab.key(id).map_or(0, |k| hasher.hash_one(k))
        });
        self.events.push_back(CacheEvent::Added(entry));
        Ok(())
    }

    /// Frees slot `id` holding `prefix` and queues its removal.
    fn remove_slot(&mut self, id: u32, prefix: &Prefix, reason: RemoveReason) -> Option<Entry> {
        let k = key(prefix);
        if let Ok(found) = self.index.find_entry(self.hasher.hash_one(k), |&i| i == id) {
            found.remove();
        }
        let entry = self.slab.remove(id)?;
        match k {
            Key::V4(k) => self.v4.remove(&k),
            Key::V6(k) => self.v6.remove(&k),
        };
        let k = (prefix.addr.is_ipv4(), prefix.len);
        if let Some(n) = self.lengths.get_mut(&k) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.lengths.remove(&k);
            }
        }
        self.timers.settle(&self.slab);
        self.events.push_back(CacheEvent::Removed(entry, reason));
        Some(entry)
    }

    /// Removes the entry for exactly `prefix`, emitting [`CacheEvent::Removed`].
    pub fn remove(&mut self, prefix: &Prefix, reason: RemoveReason) -> Option<Entry> {
        self.visits.add(1);
        let id = self.slot(prefix)?;
        self.remove_slot(id, prefix, reason)
    }

    /// The peer whose NBMA address as seen after NAT was `old` is now at `new` (its NAT box
    /// rebound it to another public address, as authenticated traffic from there showed):
    /// every complete entry whose [`Entry::effective_nbma`] is `old` gets `new` as its post-NAT
    /// address (and the NAT flag), the claimed address staying as it was. No event: the
    /// mappings stay, only their NBMA address changes. Returns how many entries moved.
    pub fn rebind_nbma(&mut self, old: IpAddr, new: IpAddr) -> usize {
        let mut moved = 0;
        self.visits.add(self.slab.len() as u64);
        if old == new {
            return 0;
        }
        // Each entry on its own: the order of the walk does not matter.
        let ids: Vec<u32> = self.slab.slot_ids().collect();
        for id in ids {
            let Some(mut e) = self.slab.get(id) else {
                continue;
            };
            if e.is_complete() && e.effective_nbma() == Some(old) {
                e.nat_nbma = (e.nbma != Some(new)).then_some(new);
                if e.nat_nbma.is_some() {
                    e.flags |= EntryFlags::NAT;
                }
                self.slab.replace(id, &e);
                moved += 1;
            }
        }
        moved
    }

    /// Marks the longest prefix containing `addr` as used by the data path at `now`; returns
    /// the entry.
    pub fn mark_used(&mut self, now: Instant, addr: IpAddr) -> Option<Entry> {
        self.last_now = Some(now);
        let id = self.lookup_slot(addr)?;
        self.slab.mark_used(id, now);
        self.slab.get(id)
    }

    /// When the next entry expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.slab.instant(self.timers.next()?)
    }

    /// Removes the entries whose expiry is at or before `now` ([`RemoveReason::Expired`]),
    /// earliest first (in prefix order among those of the same instant), as many as the
    /// event queue has room for, and returns them. What is left stays due:
    /// [`Cache::next_expiry`] is then still at or before `now`, and the owner calls again
    /// once it has polled the events.
    pub fn expire(&mut self, now: Instant) -> Vec<Entry> {
        self.last_now = Some(now);
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        let now_code = self.slab.time_code(now);
        let mut due = Vec::new();
        while self.event_room() > 0 {
            let Some(t) = self.timers.next().filter(|&t| t <= now_code) else {
                break;
            };
            due.clear();
            self.timers.take_at(t, &self.slab, &mut due);
            let mut batch: Vec<(Prefix, u32)> = due
                .iter()
                .filter_map(|&id| self.slab.get(id).map(|e| (e.prefix, id)))
                .collect();
            batch.sort_unstable();
            for (prefix, id) in batch {
                if self.event_room() == 0 {
                    // Not removed: its timer goes back, still due.
                    self.timers.set(id, Some(t), None);
                    continue;
                }
                if let Some(e) = self.remove_slot(id, &prefix, RemoveReason::Expired) {
                    out.push(e);
                }
            }
            self.timers.settle(&self.slab);
        }
        out
    }

    /// A `show ip nhrp` rendering of the cache at `now` for tunnel interface `interface`.
    pub fn show<'a>(&'a self, now: Instant, interface: &'a str) -> Show<'a> {
        Show {
            cache: self,
            now,
            interface,
        }
    }
}

/// `show ip nhrp` (see [`Cache::show`]).
#[derive(Debug)]
pub struct Show<'a> {
    cache: &'a Cache,
    now: Instant,
    interface: &'a str,
}

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.cache.iter() {
            write!(
                f,
                "{} via {}, {} created {}, ",
                e.prefix,
                e.next_hop,
                self.interface,
                hms(self.now.saturating_duration_since(e.created))
            )?;
            match e.expires {
                Some(t) => writeln!(f, "expire {}", hms(t.saturating_duration_since(self.now)))?,
                None => writeln!(f, "never expire")?,
            }
            write!(f, "  Type: {}, Flags: {}", e.kind.name(), e.flags)?;
            if e.kind == EntryType::Negative {
                f.write_str(if e.flags.0 == 0 {
                    "negative"
                } else {
                    " negative"
                })?;
            }
            writeln!(f)?;
            if let Some(nbma) = e.effective_nbma() {
                writeln!(f, "  NBMA address: {nbma}")?;
            }
            if let (Some(claimed), Some(_)) = (e.nbma, e.nat_nbma) {
                writeln!(f, "    (Claimed NBMA address: {claimed})")?;
            }
        }
        Ok(())
    }
}

/// `show ip nhrp` as of the last time the cache was changed or asked (for a rendering at a
/// given time use [`Cache::show`]); the interface is called `Tunnel0`.
impl fmt::Display for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last_now {
            Some(now) => self.show(now, "Tunnel0").fmt(f),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
