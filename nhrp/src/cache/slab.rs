//! The cache's storage: a slab of fixed-size, 48-byte slots, one per entry.
//!
//! A slot holds an [`Entry`] with each address stored once, IPv4 addresses inline (4 bytes)
//! and IPv6 ones as an index into a pool of 16-byte addresses, and its times as signed
//! nanoseconds from the slab's epoch (the first time it was given; exact, since `Instant`
//! has nanosecond resolution). The common IPv4 entry therefore costs one slot and no heap
//! allocation of its own; freed slots are reused through a free list. The slots are kept in
//! chunks of 4096 (192 KiB), so the slab never holds more than one chunk beyond its entries
//! (a doubling vector would hold up to twice them); only the first chunk starts small and
//! doubles up to its full size, so that a small cache stays small.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::{Entry, EntryFlags, EntryType, Prefix};

/// No time (`None`).
const NONE: i64 = i64::MIN;
/// The kind of a free slot.
const FREE: u8 = u8::MAX;
/// No slot (end of the free list).
const END: u32 = u32::MAX;

// Bits of `Slot::fam`.
const PREFIX_V6: u8 = 0x01;
const HOP_V6: u8 = 0x02;
const NBMA_SOME: u8 = 0x04;
const NBMA_V6: u8 = 0x08;
const NAT_SOME: u8 = 0x10;
const NAT_V6: u8 = 0x20;

/// One entry, compact. A free slot has `kind == FREE` and the next free slot in `prefix`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    created: i64,
    expires: i64,
    last_used: i64,
    prefix: u32,
    next_hop: u32,
    nbma: u32,
    nat_nbma: u32,
    mtu: u16,
    len: u8,
    kind: u8,
    flags: u8,
    fam: u8,
}

const EMPTY: Slot = Slot {
    created: NONE,
    expires: NONE,
    last_used: NONE,
    prefix: END,
    next_hop: 0,
    nbma: 0,
    nat_nbma: 0,
    mtu: 0,
    len: 0,
    kind: FREE,
    flags: 0,
    fam: 0,
};

fn kind_code(k: EntryType) -> u8 {
    match k {
        EntryType::Static => 0,
        EntryType::Dynamic => 1,
        EntryType::Incomplete => 2,
        EntryType::Negative => 3,
        EntryType::Local => 4,
    }
}

fn kind_of(c: u8) -> EntryType {
    match c {
        0 => EntryType::Static,
        1 => EntryType::Dynamic,
        2 => EntryType::Incomplete,
        3 => EntryType::Negative,
        _ => EntryType::Local,
    }
}

/// Slots per chunk (a power of two).
const CHUNK: usize = 4096;

/// The slab: slots, their free list, the IPv6 address pool and the time epoch.
#[derive(Debug, Clone)]
pub(super) struct Slab {
    chunks: Vec<Vec<Slot>>,
    /// Slots handed out so far (in use or free), from the start of the first chunk.
    used: usize,
    free: u32,
    live: usize,
    v6: Vec<Ipv6Addr>,
    v6_free: Vec<u32>,
    epoch: Option<Instant>,
}

impl Default for Slab {
    fn default() -> Slab {
        Slab {
            chunks: Vec::new(),
            used: 0,
            free: END,
            live: 0,
            v6: Vec::new(),
            v6_free: Vec::new(),
            epoch: None,
        }
    }
}

impl Slab {
    /// Reserves room for `n` more slots (the chunks' list; chunks are allocated as needed).
    pub(super) fn reserve(&mut self, n: usize) {
        self.chunks.reserve(n.div_ceil(CHUNK));
    }

    fn slot_ref(&self, id: u32) -> Option<&Slot> {
        let id = id as usize;
        self.chunks.get(id / CHUNK)?.get(id % CHUNK)
    }

    fn slot_mut(&mut self, id: u32) -> Option<&mut Slot> {
        let id = id as usize;
        self.chunks.get_mut(id / CHUNK)?.get_mut(id % CHUNK)
    }

    /// Slots in use.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// The slot numbers in use, in slot order (not a meaningful order).
    pub(super) fn slot_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.chunks
            .iter()
            .flatten()
            .zip(0u32..)
            .filter(|(s, _)| s.kind != FREE)
            .map(|(_, i)| i)
    }

    fn ns(&mut self, t: Instant) -> i64 {
        let e = *self.epoch.get_or_insert(t);
        if t >= e {
            i64::try_from(t.saturating_duration_since(e).as_nanos()).unwrap_or(i64::MAX)
        } else {
            i64::try_from(e.saturating_duration_since(t).as_nanos()).map_or(NONE + 1, |n| -n)
        }
    }

    fn opt_ns(&mut self, t: Option<Instant>) -> i64 {
        t.map_or(NONE, |t| self.ns(t))
    }

    /// The instant `x` nanoseconds from the epoch.
    pub(super) fn instant(&self, x: i64) -> Option<Instant> {
        let e = self.epoch?;
        if x == NONE {
            return None;
        }
        let d = Duration::from_nanos(x.unsigned_abs());
        Some(if x >= 0 {
            e.checked_add(d).unwrap_or(e)
        } else {
            e.checked_sub(d).unwrap_or(e)
        })
    }

    /// Nanoseconds from the epoch of `t` (setting the epoch if there is none).
    pub(super) fn time_code(&mut self, t: Instant) -> i64 {
        self.ns(t)
    }

    fn put_addr(&mut self, a: IpAddr) -> (u32, bool) {
        match a {
            IpAddr::V4(a) => (u32::from(a), false),
            IpAddr::V6(a) => {
                if let Some(i) = self.v6_free.pop()
                    && let Some(slot) = self.v6.get_mut(i as usize)
                {
                    *slot = a;
                    return (i, true);
                }
                let i = u32::try_from(self.v6.len()).unwrap_or(u32::MAX);
                self.v6.push(a);
                (i, true)
            }
        }
    }

    fn addr(&self, v: u32, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(
                self.v6
                    .get(v as usize)
                    .copied()
                    .unwrap_or(Ipv6Addr::UNSPECIFIED),
            )
        } else {
            IpAddr::V4(Ipv4Addr::from(v))
        }
    }

    fn release_v6(&mut self, s: &Slot) {
        for (bit, v) in [
            (PREFIX_V6, s.prefix),
            (HOP_V6, s.next_hop),
            (NBMA_V6, s.nbma),
            (NAT_V6, s.nat_nbma),
        ] {
            if s.fam & bit != 0 {
                self.v6_free.push(v);
            }
        }
    }

    fn encode(&mut self, e: &Entry) -> Slot {
        let mut fam = 0;
        let (prefix, p6) = self.put_addr(e.prefix.addr());
        let (next_hop, h6) = self.put_addr(e.next_hop);
        if p6 {
            fam |= PREFIX_V6;
        }
        if h6 {
            fam |= HOP_V6;
        }
        let mut nbma = 0;
        if let Some(a) = e.nbma {
            let (v, v6) = self.put_addr(a);
            nbma = v;
            fam |= NBMA_SOME | if v6 { NBMA_V6 } else { 0 };
        }
        let mut nat_nbma = 0;
        if let Some(a) = e.nat_nbma {
            let (v, v6) = self.put_addr(a);
            nat_nbma = v;
            fam |= NAT_SOME | if v6 { NAT_V6 } else { 0 };
        }
        Slot {
            created: self.ns(e.created),
            expires: self.opt_ns(e.expires),
            last_used: self.opt_ns(e.last_used),
            prefix,
            next_hop,
            nbma,
            nat_nbma,
            mtu: e.mtu,
            len: e.prefix.len(),
            kind: kind_code(e.kind),
            flags: e.flags.0,
            fam,
        }
    }

    fn live_slot(&self, id: u32) -> Option<&Slot> {
        self.slot_ref(id).filter(|s| s.kind != FREE)
    }

    /// The prefix in slot `id`, as its index key.
    pub(super) fn key(&self, id: u32) -> Option<super::Key> {
        let s = self.live_slot(id)?;
        Some(if s.fam & PREFIX_V6 != 0 {
            let a = self.v6.get(s.prefix as usize).copied()?;
            super::Key::V6((u128::from(a), s.len))
        } else {
            super::Key::V4((u64::from(s.prefix) << 8) | u64::from(s.len))
        })
    }

    /// The entry in slot `id`.
    pub(super) fn get(&self, id: u32) -> Option<Entry> {
        let s = self.live_slot(id)?;
        Some(Entry {
            prefix: Prefix::new(self.addr(s.prefix, s.fam & PREFIX_V6 != 0), s.len),
            next_hop: self.addr(s.next_hop, s.fam & HOP_V6 != 0),
            nbma: (s.fam & NBMA_SOME != 0).then(|| self.addr(s.nbma, s.fam & NBMA_V6 != 0)),
            nat_nbma: (s.fam & NAT_SOME != 0).then(|| self.addr(s.nat_nbma, s.fam & NAT_V6 != 0)),
            kind: kind_of(s.kind),
            flags: EntryFlags(s.flags),
            created: self.instant(s.created)?,
            expires: self.instant(s.expires),
            last_used: self.instant(s.last_used),
            mtu: s.mtu,
        })
    }

    /// The expiry of slot `id`, in nanoseconds from the epoch (`None`: free, or never).
    pub(super) fn expires_code(&self, id: u32) -> Option<i64> {
        self.live_slot(id).map(|s| s.expires).filter(|&t| t != NONE)
    }

    /// Stores `e` in a free slot; its number.
    pub(super) fn insert(&mut self, e: &Entry) -> u32 {
        let slot = self.encode(e);
        self.live += 1;
        let free = self.free;
        if let Some(next) = self.slot_ref(free).map(|s| s.prefix) {
            if let Some(s) = self.slot_mut(free) {
                *s = slot;
            }
            self.free = next;
            return free;
        }
        if self.chunks.last().is_none_or(|c| c.len() >= CHUNK) {
            // The first chunk starts small and doubles up to a full chunk (a cache of one or
            // two entries, as a spoke's, then costs a few slots, not 192 KiB); later chunks
            // are allocated whole.
            let first = if self.chunks.is_empty() { 4 } else { CHUNK };
            self.chunks.push(Vec::with_capacity(first));
        }
        if let Some(c) = self.chunks.last_mut() {
            if c.len() == c.capacity() {
                c.reserve_exact((c.len() * 2).clamp(4, CHUNK) - c.len());
            }
            c.push(slot);
        }
        let id = u32::try_from(self.used).unwrap_or(u32::MAX);
        self.used += 1;
        id
    }

    /// Replaces the entry in slot `id`.
    pub(super) fn replace(&mut self, id: u32, e: &Entry) {
        let Some(old) = self.live_slot(id).copied() else {
            return;
        };
        self.release_v6(&old);
        let slot = self.encode(e);
        if let Some(s) = self.slot_mut(id) {
            *s = slot;
        }
    }

    /// Marks slot `id` used at `now`.
    pub(super) fn mark_used(&mut self, id: u32, now: Instant) {
        let t = self.ns(now);
        if let Some(s) = self.slot_mut(id).filter(|s| s.kind != FREE) {
            s.flags |= EntryFlags::USED.0;
            s.last_used = t;
        }
    }

    /// Frees slot `id`; the entry it held.
    pub(super) fn remove(&mut self, id: u32) -> Option<Entry> {
        let e = self.get(id)?;
        let old = self.live_slot(id).copied()?;
        self.release_v6(&old);
        let free = self.free;
        if let Some(s) = self.slot_mut(id) {
            *s = Slot {
                prefix: free,
                ..EMPTY
            };
        }
        self.free = id;
        self.live -= 1;
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_48_bytes_and_round_trips_every_address_family() {
        assert_eq!(core::mem::size_of::<Slot>(), 48);
        let t0 = Instant::now();
        let mut slab = Slab::default();
        let v6: IpAddr = "2001:db8::7".parse().unwrap();
        let v4: IpAddr = "10.0.0.7".parse().unwrap();
        let mut e = Entry::new(t0, Prefix::new(v6, 64), v6, Some(v4), EntryType::Dynamic);
        e.nat_nbma = Some("2001:db8::99".parse().unwrap());
        e.expires = Some(t0 + Duration::from_nanos(123_456_789_012));
        e.last_used = t0.checked_sub(Duration::from_nanos(5));
        let id = slab.insert(&e);
        assert_eq!(slab.get(id), Some(e));
        let mut f = e;
        f.nbma = None;
        f.nat_nbma = None;
        slab.replace(id, &f);
        assert_eq!(slab.get(id), Some(f));
        assert_eq!(slab.remove(id), Some(f));
        assert_eq!(slab.get(id), None);
        assert_eq!(slab.insert(&e), id, "the free slot is reused");
        assert!(slab.v6.len() <= 4, "IPv6 pool entries are reused");
    }
}
