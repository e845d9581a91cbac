//! The overlay routing table a node forwards with: prefix → overlay next hop, longest prefix
//! wins. The caller's routing protocol (running over the tunnel) owns the routes and pushes them
//! as commands; phase 3 adds NHRP shortcuts (seed 002, "DMVPN phase 3": `ip nhrp shortcut`),
//! which win over routed entries of the same length.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use ipnet::IpNet;

use crate::small_map::SmallMap;

/// Where a route came from. At equal prefix length a shortcut beats a routed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteSource {
    /// Pushed by the caller (its routing protocol or static routes).
    Routed,
    /// Installed from an NHRP resolution (phase 3 shortcut).
    Shortcut,
}

/// A route's target: the overlay next hop, on which tunnel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// Overlay address of the next hop (a hub, a spoke, or the destination itself when the
    /// prefix is on the tunnel subnet).
    pub via: IpAddr,
    /// Index of the tunnel interface in the node configuration.
    pub tunnel: usize,
}

/// The routes for one prefix, one per source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    routed: Option<NextHop>,
    shortcut: Option<NextHop>,
}

impl Entry {
    fn slot(&mut self, source: RouteSource) -> &mut Option<NextHop> {
        match source {
            RouteSource::Routed => &mut self.routed,
            RouteSource::Shortcut => &mut self.shortcut,
        }
    }

    /// The preferred route: a shortcut before a routed entry.
    fn best(&self) -> Option<(RouteSource, NextHop)> {
        self.shortcut
            .map(|h| (RouteSource::Shortcut, h))
            .or(self.routed.map(|h| (RouteSource::Routed, h)))
    }
}

/// Prefixes of one family and length → their routes.
type LenTable = SmallMap<IpAddr, Entry>;

/// A longest-prefix-match table: one ordered map per prefix length in use, searched from the
/// longest length down, so a lookup costs one search per distinct length (a handful in
/// practice). Ordered maps (a sorted vector while small), not hash maps: iteration (and `Debug`) is the same in every run.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    by_len: SmallMap<(bool, u8), LenTable>,
    lens_v4: Vec<u8>,
    lens_v6: Vec<u8>,
    len: usize,
    lookups: Counter,
    probes: Counter,
}

/// A diagnostic counter that `&self` methods can bump (atomic, relaxed).
#[derive(Debug, Default)]
struct Counter(AtomicU64);

impl Counter {
    fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Clone for Counter {
    fn clone(&self) -> Counter {
        Counter(AtomicU64::new(self.get()))
    }
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> RouteTable {
        RouteTable::default()
    }

    /// Number of routes (a prefix with both a routed entry and a shortcut counts twice).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn lens(&mut self, v6: bool) -> &mut Vec<u8> {
        if v6 {
            &mut self.lens_v6
        } else {
            &mut self.lens_v4
        }
    }

    /// Lookups so far ([`RouteTable::lookup`]): a diagnostic, not part of the behaviour.
    pub fn lookups(&self) -> u64 {
        self.lookups.get()
    }

    /// Prefix lengths probed by lookups so far (one ordered-map search each, at most one per
    /// distinct prefix length in the table), and prefixes stepped over by iterations
    /// ([`RouteTable::iter`]): a diagnostic, not part of the behaviour, for
    /// tests that check that a lookup does not grow with the number of routes.
    pub fn probes(&self) -> u64 {
        self.probes.get()
    }

    /// Adds or replaces a route; returns the one it replaced.
    pub fn insert(&mut self, prefix: IpNet, source: RouteSource, hop: NextHop) -> Option<NextHop> {
        let prefix = prefix.trunc();
        let key = (prefix.addr().is_ipv6(), prefix.prefix_len());
        let old = self.by_len.with_default(key, |m| {
            m.with_default(prefix.addr(), |e| e.slot(source).replace(hop))
        });
        if old.is_none() {
            self.len += 1;
        }
        let lens = self.lens(key.0);
        if let Err(at) = lens.binary_search_by(|l| key.1.cmp(l)) {
            lens.insert(at, key.1); // kept longest first
        }
        old
    }

    /// Removes a route; returns it.
    pub fn remove(&mut self, prefix: IpNet, source: RouteSource) -> Option<NextHop> {
        let prefix = prefix.trunc();
        let key = (prefix.addr().is_ipv6(), prefix.prefix_len());
        let map = self.by_len.get_mut(&key)?;
        let entry = map.get_mut(&prefix.addr())?;
        let old = entry.slot(source).take();
        if old.is_some() {
            self.len -= 1;
        }
        if entry.best().is_none() {
            map.remove(&prefix.addr());
        }
        if map.is_empty() {
            self.by_len.remove(&key);
            self.lens(key.0).retain(|l| *l != key.1);
        }
        old
    }

    /// The route for `dst`: the longest matching prefix, a shortcut before a routed entry.
    pub fn lookup(&self, dst: IpAddr) -> Option<(IpNet, RouteSource, NextHop)> {
        let v6 = dst.is_ipv6();
        let lens = if v6 { &self.lens_v6 } else { &self.lens_v4 };
        self.lookups.add(1);
        for &len in lens {
            self.probes.add(1);
            let Ok(net) = IpNet::new(dst, len) else {
                continue;
            };
            let net = net.trunc();
            if let Some((src, hop)) = self
                .by_len
                .get(&(v6, len))
                .and_then(|m| m.get(&net.addr())?.best())
            {
                return Some((net, src, hop));
            }
        }
        None
    }

    /// Every route: IPv4 before IPv6, shorter prefixes first, then by address, a routed entry
    /// before a shortcut for the same prefix. The order is the same in every run.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, RouteSource, NextHop)> + '_ {
        self.by_len.iter().flat_map(move |(&(_, len), map)| {
            map.iter().flat_map(move |(addr, entry)| {
                self.probes.add(1);
                let net = IpNet::new(*addr, len).ok();
                [
                    (RouteSource::Routed, entry.routed),
                    (RouteSource::Shortcut, entry.shortcut),
                ]
                .into_iter()
                .filter_map(move |(src, h)| Some((net?, src, h?)))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hop(via: &str) -> NextHop {
        NextHop {
            via: via.parse().unwrap(),
            tunnel: 0,
        }
    }

    #[test]
    fn iteration_is_ordered_whatever_the_insertion_order() {
        let routes = [
            ("2001:db8::/32", RouteSource::Routed, "10.0.0.1"),
            ("192.168.2.0/24", RouteSource::Shortcut, "10.0.0.12"),
            ("10.0.0.0/8", RouteSource::Routed, "10.0.0.1"),
            ("192.168.2.0/24", RouteSource::Routed, "10.0.0.1"),
            ("192.168.1.0/24", RouteSource::Routed, "10.0.0.11"),
            ("0.0.0.0/0", RouteSource::Routed, "10.0.0.1"),
        ];
        let expected: Vec<String> = [
            "0.0.0.0/0 Routed",
            "10.0.0.0/8 Routed",
            "192.168.1.0/24 Routed",
            "192.168.2.0/24 Routed",
            "192.168.2.0/24 Shortcut",
            "2001:db8::/32 Routed",
        ]
        .map(String::from)
        .to_vec();
        let mut forward = RouteTable::new();
        let mut backward = RouteTable::new();
        for (p, src, via) in routes {
            forward.insert(p.parse().unwrap(), src, hop(via));
        }
        for (p, src, via) in routes.iter().rev() {
            backward.insert(p.parse().unwrap(), *src, hop(via));
        }
        for t in [&forward, &backward] {
            let got: Vec<String> = t.iter().map(|(n, s, _)| format!("{n} {s:?}")).collect();
            assert_eq!(got, expected);
        }
        assert_eq!(format!("{forward:?}"), format!("{backward:?}"));
    }

    #[test]
    fn longest_prefix_and_shortcut_preference() {
        let mut t = RouteTable::new();
        t.insert(
            "0.0.0.0/0".parse().unwrap(),
            RouteSource::Routed,
            hop("10.0.0.1"),
        );
        t.insert(
            "192.168.0.0/16".parse().unwrap(),
            RouteSource::Routed,
            hop("10.0.0.1"),
        );
        t.insert(
            "192.168.2.0/24".parse().unwrap(),
            RouteSource::Routed,
            hop("10.0.0.1"),
        );
        let dst = "192.168.2.37".parse().unwrap();
        assert_eq!(
            t.lookup(dst).unwrap().0,
            "192.168.2.0/24".parse::<IpNet>().unwrap()
        );
        // Phase 3: the shortcut for the same prefix wins; removing it restores the routed path.
        t.insert(
            "192.168.2.0/24".parse().unwrap(),
            RouteSource::Shortcut,
            hop("10.0.0.12"),
        );
        assert_eq!(t.lookup(dst).unwrap().1, RouteSource::Shortcut);
        assert_eq!(t.lookup(dst).unwrap().2, hop("10.0.0.12"));
        assert_eq!(t.len(), 4);
        t.remove("192.168.2.0/24".parse().unwrap(), RouteSource::Shortcut);
        assert_eq!(t.lookup(dst).unwrap().2, hop("10.0.0.1"));
        assert_eq!(
            t.lookup("8.8.8.8".parse().unwrap()).unwrap().0.prefix_len(),
            0
        );
        assert_eq!(t.lookup("2001:db8::1".parse().unwrap()), None);
        // Host bits are ignored on insert.
        t.insert(
            "172.16.5.9/12".parse().unwrap(),
            RouteSource::Routed,
            hop("10.0.0.2"),
        );
        assert_eq!(
            t.lookup("172.31.0.1".parse().unwrap()).unwrap().2,
            hop("10.0.0.2")
        );
        assert_eq!(t.iter().count(), t.len());
    }

    proptest! {
        /// Lookups agree with a linear scan for the longest match.
        #[test]
        fn matches_linear_scan(routes in proptest::collection::vec((any::<u32>(), 0u8..=32, any::<bool>()), 0..40),
                               probes in proptest::collection::vec(any::<u32>(), 1..40)) {
            let mut t = RouteTable::new();
            let mut all: Vec<(IpNet, RouteSource, NextHop)> = Vec::new();
            for (i, (a, len, sc)) in routes.iter().enumerate() {
                let net = IpNet::new(IpAddr::from(a.to_be_bytes()), *len).unwrap().trunc();
                let src = if *sc { RouteSource::Shortcut } else { RouteSource::Routed };
                let h = NextHop { via: IpAddr::from([10, 0, 0, i as u8]), tunnel: i };
                t.insert(net, src, h);
                all.retain(|(n, s, _)| !(*n == net && *s == src));
                all.push((net, src, h));
            }
            prop_assert_eq!(t.len(), all.len());
            for p in probes {
                let dst = IpAddr::from(p.to_be_bytes());
                let best = all.iter().filter(|(n, _, _)| n.contains(&dst))
                    .max_by_key(|(n, s, _)| (n.prefix_len(), *s)).copied();
                prop_assert_eq!(t.lookup(dst), best);
            }
        }
    }
}
