//! The NHRP cache: protocol address or prefix → NBMA address, as `show ip nhrp` lists it.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Error;

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

/// One cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The NHRP cache: entries by prefix with longest-prefix lookup, an expiry index, a size bound
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
/// Lookups are a hash probe per prefix length present (at most 33 for IPv4); expiry is an
/// ordered index, so [`Cache::next_expiry`] is `O(log n)`. Iteration ([`Cache::iter`], and so
/// `show ip nhrp`, purges and the hub's multicast list) follows an ordered index of the
/// prefixes, so it is in prefix order whatever the insertion order or the hasher.
///
/// The hash map uses foldhash, seeded per map, rather than SipHash: the lookup is on the data
/// path of every packet a spoke sends (`mark_used`); the per-map seed keeps its layout out of
/// an attacker's reach, and no output depends on it.
#[derive(Debug, Clone)]
pub struct Cache {
    visits: Visits,
    entries: HashMap<Prefix, Entry, foldhash::fast::RandomState>,
    order: BTreeSet<Prefix>,
    lengths: BTreeMap<(bool, u8), usize>,
    expiry: BTreeSet<(Instant, Prefix)>,
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

impl Cache {
    /// A cache of at most `limit` entries that takes new changes while fewer than
    /// `event_limit` events are queued (see the type docs).
    pub fn new(limit: usize, event_limit: usize) -> Cache {
        Cache {
            visits: Visits::default(),
            entries: HashMap::default(),
            order: BTreeSet::new(),
            lengths: BTreeMap::new(),
            expiry: BTreeSet::new(),
            limit,
            events: VecDeque::new(),
            event_limit,
            last_now: None,
        }
    }

    /// Reserves room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional.min(self.limit));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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

    /// The entry for exactly `prefix`.
    pub fn get(&self, prefix: &Prefix) -> Option<&Entry> {
        self.visits.add(1);
        self.entries.get(prefix)
    }

    /// All entries, in prefix order (IPv4 before IPv6, then by address, then by length).
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.order.iter().filter_map(|p| {
            self.visits.add(1);
            self.entries.get(p)
        })
    }

    /// The longest prefix containing `addr`, whatever its kind.
    pub fn lookup(&self, addr: IpAddr) -> Option<&Entry> {
        let v4 = addr.is_ipv4();
        self.lengths
            .range((v4, 0)..=(v4, u8::MAX))
            .rev()
            .find_map(|(&(_, len), _)| {
                self.visits.add(1);
                self.entries.get(&Prefix::new(addr, len))
            })
    }

    /// Queues an event; never drops one (see the type docs for what bounds the queue).
    fn push_event(&mut self, e: CacheEvent) {
        self.events.push_back(e);
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
        let key = entry.prefix;
        if let Some(old) = self.entries.get(&key) {
            entry.created = old.created;
            let changed = *old != entry;
            if changed && self.event_room() == 0 {
                return Err(self.events_full());
            }
            if let Some(t) = old.expires {
                self.expiry.remove(&(t, key));
            }
            if let Some(t) = entry.expires {
                self.expiry.insert((t, key));
            }
            self.entries.insert(key, entry.clone());
            if changed {
                self.push_event(CacheEvent::Updated(entry));
            }
            return Ok(());
        }
        if self.entries.len() >= self.limit {
            return Err(Error::Full {
                what: "NHRP cache",
                limit: self.limit,
            });
        }
        if self.event_room() == 0 {
            return Err(self.events_full());
        }
        if let Some(t) = entry.expires {
            self.expiry.insert((t, key));
        }
        *self
            .lengths
            .entry((key.addr.is_ipv4(), key.len))
            .or_insert(0) += 1;
        self.order.insert(key);
        self.entries.insert(key, entry.clone());
        self.push_event(CacheEvent::Added(entry));
        Ok(())
    }

    /// Removes the entry for exactly `prefix`, emitting [`CacheEvent::Removed`].
    pub fn remove(&mut self, prefix: &Prefix, reason: RemoveReason) -> Option<Entry> {
        self.visits.add(1);
        let entry = self.entries.remove(prefix)?;
        self.order.remove(prefix);
        if let Some(t) = entry.expires {
            self.expiry.remove(&(t, *prefix));
        }
        let k = (prefix.addr.is_ipv4(), prefix.len);
        if let Some(n) = self.lengths.get_mut(&k) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.lengths.remove(&k);
            }
        }
        self.push_event(CacheEvent::Removed(entry.clone(), reason));
        Some(entry)
    }

    /// The peer whose NBMA address as seen after NAT was `old` is now at `new` (its NAT box
    /// rebound it to another public address, as authenticated traffic from there showed):
    /// every complete entry whose [`Entry::effective_nbma`] is `old` gets `new` as its post-NAT
    /// address (and the NAT flag), the claimed address staying as it was. No event: the
    /// mappings stay, only their NBMA address changes. Returns how many entries moved.
    pub fn rebind_nbma(&mut self, old: IpAddr, new: IpAddr) -> usize {
        let mut moved = 0;
        self.visits.add(self.entries.len() as u64);
        // Each entry on its own: the order of the walk does not matter.
        for e in self.entries.values_mut() {
            if e.is_complete() && e.effective_nbma() == Some(old) && old != new {
                e.nat_nbma = (e.nbma != Some(new)).then_some(new);
                if e.nat_nbma.is_some() {
                    e.flags |= EntryFlags::NAT;
                }
                moved += 1;
            }
        }
        moved
    }

    /// Marks the longest prefix containing `addr` as used by the data path at `now`; returns
    /// the entry.
    pub fn mark_used(&mut self, now: Instant, addr: IpAddr) -> Option<&Entry> {
        self.last_now = Some(now);
        let prefix = self.lookup(addr)?.prefix;
        let e = self.entries.get_mut(&prefix)?;
        e.flags |= EntryFlags::USED;
        e.last_used = Some(now);
        Some(e)
    }

    /// When the next entry expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiry.first().map(|(t, _)| *t)
    }

    /// Removes the entries whose expiry is at or before `now` ([`RemoveReason::Expired`]),
    /// earliest first, as many as the event queue has room for, and returns them. What is
    /// left stays due: [`Cache::next_expiry`] is then still at or before `now`, and the owner
    /// calls again once it has polled the events.
    pub fn expire(&mut self, now: Instant) -> Vec<Entry> {
        self.last_now = Some(now);
        let mut out = Vec::new();
        while let Some(&(t, p)) = self.expiry.first() {
            if t > now || self.event_room() == 0 {
                break;
            }
            self.expiry.remove(&(t, p));
            if let Some(e) = self.remove(&p, RemoveReason::Expired) {
                out.push(e);
            }
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
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_expiry_and_events() {
        let t0 = Instant::now();
        let mut c = Cache::new(3, 16);
        let mut net = Entry::new(
            t0,
            Prefix::new(ip("192.168.2.77"), 24),
            ip("10.0.0.3"),
            Some(ip("172.16.2.75")),
            EntryType::Dynamic,
        );
        net.expires = Some(t0 + Duration::from_secs(300));
        c.insert(t0, net).unwrap();
        let mut host = Entry::new(
            t0,
            Prefix::host(ip("192.168.2.3")),
            ip("10.0.0.4"),
            Some(ip("172.16.2.76")),
            EntryType::Static,
        );
        host.flags = EntryFlags::AUTHORITATIVE;
        c.insert(t0, host).unwrap();
        assert_eq!(
            c.lookup(ip("192.168.2.3")).unwrap().next_hop,
            ip("10.0.0.4")
        );
        assert_eq!(
            c.lookup(ip("192.168.2.4")).unwrap().next_hop,
            ip("10.0.0.3")
        );
        assert!(c.lookup(ip("192.168.3.4")).is_none());
        assert!(c.lookup(ip("::1")).is_none());
        assert_eq!(c.get(&Prefix::new(ip("192.168.2.0"), 24)).unwrap().mtu, 0);
        c.mark_used(t0 + Duration::from_secs(5), ip("192.168.2.9"));
        let shown = c.show(t0 + Duration::from_secs(65), "Tunnel0").to_string();
        assert!(
            shown.contains(
                "192.168.2.0/24 via 10.0.0.3, Tunnel0 created 00:01:05, expire 00:03:55\n  Type: dynamic, Flags: used\n  NBMA address: 172.16.2.75"
            ),
            "{shown}"
        );
        assert!(shown.contains("never expire\n  Type: static, Flags: authoritative"));
        assert_eq!(c.next_expiry(), Some(t0 + Duration::from_secs(300)));
        assert!(c.expire(t0 + Duration::from_secs(299)).is_empty());
        assert_eq!(c.expire(t0 + Duration::from_secs(300)).len(), 1);
        assert_eq!(c.next_expiry(), None);
        assert!(matches!(c.poll_event(), Some(CacheEvent::Added(_))));
        assert!(matches!(c.poll_event(), Some(CacheEvent::Added(_))));
        assert!(matches!(
            c.poll_event(),
            Some(CacheEvent::Removed(_, RemoveReason::Expired))
        ));
        assert_eq!(c.lookup(ip("192.168.2.4")), None);
        // Bounded.
        for i in 0..2 {
            c.insert(
                t0,
                Entry::new(
                    t0,
                    Prefix::host(IpAddr::V4(Ipv4Addr::new(10, 9, 9, i))),
                    ip("10.0.0.9"),
                    None,
                    EntryType::Incomplete,
                ),
            )
            .unwrap();
        }
        assert_eq!(c.len(), 3);
        let err = c.insert(
            t0,
            Entry::new(
                t0,
                Prefix::host(ip("10.9.9.9")),
                ip("10.0.0.9"),
                None,
                EntryType::Incomplete,
            ),
        );
        assert!(matches!(err, Err(Error::Full { limit: 3, .. })));
    }

    #[test]
    fn iteration_and_show_follow_prefix_order_whatever_the_insertion_order() {
        let t0 = Instant::now();
        let prefixes: Vec<Prefix> = (0..200u8)
            .map(|i| Prefix::host(IpAddr::V4(Ipv4Addr::new(10, 1, i, 7))))
            .chain([
                Prefix::new(ip("10.1.0.0"), 16),
                Prefix::new(ip("2001:db8::"), 32),
                Prefix::host(ip("2001:db8::1")),
            ])
            .collect();
        let build = |order: &[Prefix]| {
            let mut c = Cache::new(1000, 1000);
            for &p in order {
                let e = Entry::new(t0, p, p.addr(), Some(ip("172.16.0.1")), EntryType::Dynamic);
                c.insert(t0, e).unwrap();
            }
            // Remove and re-add one, so the two caches also differ in history.
            let first = order.first().copied().unwrap();
            let e = c.remove(&first, RemoveReason::Removed).unwrap();
            c.insert(t0, e).unwrap();
            c
        };
        let forward = build(&prefixes);
        let mut reversed_order = prefixes.clone();
        reversed_order.reverse();
        let reversed = build(&reversed_order);
        let listed = |c: &Cache| c.iter().map(|e| e.prefix).collect::<Vec<_>>();
        let mut sorted = prefixes.clone();
        sorted.sort();
        assert_eq!(listed(&forward), sorted);
        assert_eq!(listed(&reversed), sorted);
        assert_eq!(
            forward.show(t0, "Tunnel0").to_string(),
            reversed.show(t0, "Tunnel0").to_string()
        );
        // IPv4 first, and a network before the hosts inside it that sort after its address.
        assert_eq!(sorted.first(), Some(&Prefix::new(ip("10.1.0.0"), 16)));
        assert_eq!(sorted.last(), Some(&Prefix::host(ip("2001:db8::1"))));
        // The order index follows removals.
        let mut c = forward.clone();
        for p in prefixes.iter().take(100) {
            c.remove(p, RemoveReason::Purged);
        }
        assert_eq!(c.len(), 103);
        assert_eq!(c.iter().count(), 103);
        assert!(c.iter().all(|e| c.get(&e.prefix).is_some()));
    }

    #[test]
    fn rebinding_moves_the_post_nat_address_of_complete_entries_only() {
        let t0 = Instant::now();
        let mut c = Cache::new(10, 16);
        // A NATed spoke (claims 172.16.1.1, seen at 198.51.100.1), one seen at its claimed
        // address, another peer, and an incomplete entry.
        let mut natted = Entry::new(
            t0,
            Prefix::host(ip("10.0.0.11")),
            ip("10.0.0.11"),
            Some(ip("172.16.1.1")),
            EntryType::Dynamic,
        );
        natted.nat_nbma = Some(ip("198.51.100.1"));
        c.insert(t0, natted).unwrap();
        let plain = Entry::new(
            t0,
            Prefix::new(ip("192.168.1.0"), 24),
            ip("10.0.0.11"),
            Some(ip("198.51.100.1")),
            EntryType::Dynamic,
        );
        c.insert(t0, plain).unwrap();
        let other = Entry::new(
            t0,
            Prefix::host(ip("10.0.0.12")),
            ip("10.0.0.12"),
            Some(ip("203.0.113.2")),
            EntryType::Dynamic,
        );
        c.insert(t0, other).unwrap();
        let incomplete = Entry::new(
            t0,
            Prefix::host(ip("10.0.0.13")),
            ip("10.0.0.13"),
            None,
            EntryType::Incomplete,
        );
        c.insert(t0, incomplete).unwrap();
        while c.poll_event().is_some() {}
        assert_eq!(c.rebind_nbma(ip("198.51.100.1"), ip("198.51.100.77")), 2);
        let n = c.get(&Prefix::host(ip("10.0.0.11"))).unwrap();
        assert_eq!(n.nbma, Some(ip("172.16.1.1")));
        assert_eq!(n.effective_nbma(), Some(ip("198.51.100.77")));
        let p = c.get(&Prefix::new(ip("192.168.1.0"), 24)).unwrap();
        assert_eq!(p.effective_nbma(), Some(ip("198.51.100.77")));
        assert!(p.flags.contains(EntryFlags::NAT));
        let o = c.get(&Prefix::host(ip("10.0.0.12"))).unwrap();
        assert_eq!(o.effective_nbma(), Some(ip("203.0.113.2")));
        assert!(
            c.poll_event().is_none(),
            "a rebinding raises no cache event"
        );
        // Moving back to the claimed address leaves no post-NAT address.
        assert_eq!(c.rebind_nbma(ip("198.51.100.77"), ip("172.16.1.1")), 2);
        let n = c.get(&Prefix::host(ip("10.0.0.11"))).unwrap();
        assert_eq!((n.nbma, n.nat_nbma), (Some(ip("172.16.1.1")), None));
    }

    #[test]
    fn prefixes_mask_and_contain() {
        let p = Prefix::new(ip("10.1.2.3"), 8);
        assert_eq!(p.to_string(), "10.0.0.0/8");
        assert!(p.contains(ip("10.200.0.1")));
        assert!(!p.contains(ip("11.0.0.1")));
        assert_eq!(Prefix::new(ip("10.1.2.3"), 99).len(), 32);
        assert_eq!(Prefix::new(ip("2001:db8::1"), 0).to_string(), "::/0");
        assert!(Prefix::host(ip("2001:db8::1")).is_host());
    }

    fn dynamic(t0: Instant, i: u32, hold: u64) -> Entry {
        let mut e = Entry::new(
            t0,
            Prefix::host(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))),
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
            Some(IpAddr::V4(Ipv4Addr::from(0xac10_0000 + i))),
            EntryType::Dynamic,
        );
        e.expires = Some(t0 + Duration::from_secs(hold));
        e
    }

    #[test]
    fn expiring_more_entries_than_the_event_queue_holds_loses_no_removal() {
        let t0 = Instant::now();
        let mut c = Cache::new(10_000, 16);
        for i in 0..5000 {
            c.insert(t0, dynamic(t0, i, 300)).unwrap();
            while c.poll_event().is_some() {}
        }
        let due = t0 + Duration::from_secs(300);
        let mut removed = 0;
        let mut rounds = 0;
        // Expiry defers what the queue has no room for: the next expiry stays due, so the
        // owner calls again after draining.
        while c.next_expiry().is_some_and(|t| t <= due) {
            let expired = c.expire(due).len();
            assert!(expired <= 16, "at most the queue's room per call");
            while let Some(e) = c.poll_event() {
                assert!(matches!(e, CacheEvent::Removed(_, RemoveReason::Expired)));
                removed += 1;
            }
            rounds += 1;
            assert!(rounds <= 5000, "expiry makes progress");
        }
        assert_eq!(removed, 5000);
        assert_eq!(rounds, 5000 / 16 + 1);
        assert!(c.is_empty());
        assert_eq!(c.events_dropped(), 0);
    }

    #[test]
    fn a_cache_whose_events_are_not_polled_refuses_new_changes_but_never_drops_an_event() {
        let t0 = Instant::now();
        let mut c = Cache::new(100, 4);
        for i in 0..4 {
            c.insert(t0, dynamic(t0, i, 300)).unwrap();
        }
        // A fifth change would need a fifth queued event: refused, the entry not installed.
        assert!(matches!(
            c.insert(t0, dynamic(t0, 4, 300)),
            Err(Error::Full { .. })
        ));
        assert!(c.get(&dynamic(t0, 4, 300).prefix).is_none());
        // A refresh that changes nothing queues nothing and is taken.
        c.insert(t0, dynamic(t0, 0, 300)).unwrap();
        // Removals always go through (their events are bounded by the table), and expiry
        // waits for room.
        assert!(
            c.remove(&dynamic(t0, 1, 300).prefix, RemoveReason::Purged)
                .is_some()
        );
        assert!(c.expire(t0 + Duration::from_secs(300)).is_empty());
        assert_eq!(c.len(), 3);
        let events: Vec<CacheEvent> = std::iter::from_fn(|| c.poll_event()).collect();
        assert_eq!(events.len(), 5);
        assert!(matches!(
            events.last(),
            Some(CacheEvent::Removed(e, RemoveReason::Purged)) if e.prefix == dynamic(t0, 1, 300).prefix
        ));
        assert_eq!(c.events_dropped(), 0);
        // Drained, the cache takes changes again.
        c.insert(t0, dynamic(t0, 4, 300)).unwrap();
        assert_eq!(c.expire(t0 + Duration::from_secs(300)).len(), 3);
    }
}
