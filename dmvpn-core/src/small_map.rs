//! A small ordered map: a sorted vector up to a few entries, an ordered map beyond.
//!
//! A node's tables often hold one or two entries (a spoke's routes), for which a `BTreeMap`
//! would allocate a whole node of eleven slots; this one allocates room for exactly what it
//! holds until it passes [`FEW`] entries, then moves them to a `BTreeMap`. Iteration is in key
//! order either way, and `Debug` prints as a map, as a `BTreeMap` would.

use std::collections::BTreeMap;
use std::fmt;

/// Entries kept in the sorted vector before switching to a `BTreeMap`.
const FEW: usize = 8;

/// An ordered map, compact while small. See the [module docs](self).
#[derive(Clone)]
pub(crate) enum SmallMap<K, V> {
    /// Up to [`FEW`] entries, sorted by key.
    Few(Vec<(K, V)>),
    /// More.
    Many(BTreeMap<K, V>),
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap::Few(Vec::new())
    }
}

impl<K: Ord + Copy, V> SmallMap<K, V> {
    /// The value for `k`.
    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        match self {
            SmallMap::Few(v) => v
                .binary_search_by(|(x, _)| x.cmp(k))
                .ok()
                .and_then(|i| v.get(i))
                .map(|(_, val)| val),
            SmallMap::Many(m) => m.get(k),
        }
    }

    /// The value for `k`, mutably.
    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        match self {
            SmallMap::Few(v) => match v.binary_search_by(|(x, _)| x.cmp(k)) {
                Ok(i) => v.get_mut(i).map(|(_, val)| val),
                Err(_) => None,
            },
            SmallMap::Many(m) => m.get_mut(k),
        }
    }

    /// Calls `f` on the value for `k`, inserted as the default first if absent; its result.
    pub(crate) fn with_default<R>(&mut self, k: K, f: impl FnOnce(&mut V) -> R) -> R
    where
        V: Default,
    {
        self.with_entry(k, V::default, f)
    }

    /// Sets the value for `k`; the one it replaced.
    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        if let Some(slot) = self.get_mut(&k) {
            return Some(std::mem::replace(slot, v));
        }
        self.with_entry(k, || v, |_| ());
        None
    }

    /// Whether `k` has a value.
    pub(crate) fn contains_key(&self, k: &K) -> bool {
        self.get(k).is_some()
    }

    /// Calls `f` on the value for `k`, inserted as `make()` first if absent; its result.
    pub(crate) fn with_entry<R>(
        &mut self,
        k: K,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> R {
        if let SmallMap::Few(v) = self
            && v.len() >= FEW
            && v.binary_search_by(|(x, _)| x.cmp(&k)).is_err()
        {
            let m: BTreeMap<K, V> = std::mem::take(v).into_iter().collect();
            *self = SmallMap::Many(m);
        }
        match self {
            SmallMap::Few(v) => match v.binary_search_by(|(x, _)| x.cmp(&k)) {
                Ok(i) => match v.get_mut(i) {
                    Some((_, val)) => f(val),
                    // Not reached: `i` was just found.
                    None => f(&mut make()),
                },
                Err(i) => {
                    let mut val = make();
                    let r = f(&mut val);
                    if v.len() == v.capacity() {
                        v.reserve_exact(v.len().max(1));
                    }
                    v.insert(i, (k, val));
                    r
                }
            },
            SmallMap::Many(m) => f(m.entry(k).or_insert_with(make)),
        }
    }

    /// The values, mutably, in key order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        let (few, many) = match self {
            SmallMap::Few(v) => (Some(v.iter_mut().map(|(_, v)| v)), None),
            SmallMap::Many(m) => (None, Some(m.values_mut())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }

    /// Removes `k`; its value.
    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        match self {
            SmallMap::Few(v) => match v.binary_search_by(|(x, _)| x.cmp(k)) {
                Ok(i) => Some(v.remove(i).1),
                Err(_) => None,
            },
            SmallMap::Many(m) => m.remove(k),
        }
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        match self {
            SmallMap::Few(v) => v.len(),
            SmallMap::Many(m) => m.len(),
        }
    }

    /// True when empty.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            SmallMap::Few(v) => v.is_empty(),
            SmallMap::Many(m) => m.is_empty(),
        }
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        let (few, many) = match self {
            SmallMap::Few(v) => (Some(v.iter().map(|(k, v)| (k, v))), None),
            SmallMap::Many(m) => (None, Some(m.iter())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }
}

impl<K: Ord + Copy + fmt::Debug, V: fmt::Debug> fmt::Debug for SmallMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_btreemap() {
        let mut s: SmallMap<u32, u32> = SmallMap::default();
        let mut b: BTreeMap<u32, u32> = BTreeMap::new();
        let mut x = 12345u32;
        for _ in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let k = (x >> 16) % 24;
            if x & 3 == 0 {
                assert_eq!(s.remove(&k), b.remove(&k));
            } else if x & 3 == 1 {
                assert_eq!(s.insert(k, x), b.insert(k, x));
            } else if x & 7 == 2 {
                s.values_mut().for_each(|v| *v ^= 1);
                b.values_mut().for_each(|v| *v ^= 1);
            } else {
                s.with_default(k, |v| *v += 1);
                *b.entry(k).or_default() += 1;
            }
            assert_eq!(s.get(&k), b.get(&k));
            assert_eq!(s.contains_key(&k), b.contains_key(&k));
            assert_eq!(s.is_empty(), b.is_empty());
            assert_eq!(s.len(), b.len());
            assert!(s.iter().eq(b.iter()));
            assert_eq!(format!("{s:?}"), format!("{b:?}"));
        }
    }
}
