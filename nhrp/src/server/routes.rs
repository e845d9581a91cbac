//! The hub's routes to networks behind spokes ([`Route`]), indexed for longest-prefix
//! lookup: one ordered map per family and prefix length in use, searched from the longest
//! length down, so that a resolution for an address the registration table does not cover
//! costs one search per distinct length (a handful), not a walk over every route, and adding
//! or removing a route costs one search, not a walk.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::Route;
use crate::cache::{Prefix, Visits};

/// Routes by (is IPv6, prefix length) → network address → next hop, with a count of the
/// entries looked at ([`super::Server::route_visits`]).
#[derive(Debug, Default)]
pub(super) struct Routes {
    by_len: BTreeMap<(bool, u8), BTreeMap<IpAddr, IpAddr>>,
    visits: Visits,
}

impl Routes {
    /// The routes of `config`, a later one for the same prefix replacing an earlier one.
    pub(super) fn new(config: Vec<Route>) -> Routes {
        let mut r = Routes::default();
        for route in config {
            r.insert(route);
        }
        r
    }

    /// Entries looked at so far.
    pub(super) fn visits(&self) -> u64 {
        self.visits.get()
    }

    /// Adds `route`, replacing any route for the same prefix.
    pub(super) fn insert(&mut self, route: Route) {
        self.visits.add(1);
        let p = route.prefix;
        self.by_len
            .entry((p.addr().is_ipv6(), p.len()))
            .or_default()
            .insert(p.addr(), route.next_hop);
    }

    /// Removes the route for exactly `prefix`; returns whether there was one.
    pub(super) fn remove(&mut self, prefix: Prefix) -> bool {
        self.visits.add(1);
        let key = (prefix.addr().is_ipv6(), prefix.len());
        let Some(map) = self.by_len.get_mut(&key) else {
            return false;
        };
        let removed = map.remove(&prefix.addr()).is_some();
        if map.is_empty() {
            self.by_len.remove(&key);
        }
        removed
    }

    /// The route with the longest prefix containing `dst`.
    pub(super) fn lookup(&self, dst: IpAddr) -> Option<Route> {
        let v6 = dst.is_ipv6();
        self.by_len
            .range((v6, 0)..=(v6, u8::MAX))
            .rev()
            .find_map(|(&(_, len), map)| {
                self.visits.add(1);
                let prefix = Prefix::new(dst, len);
                let next_hop = *map.get(&prefix.addr())?;
                Some(Route { prefix, next_hop })
            })
    }

    /// Every route: IPv4 before IPv6, shorter prefixes first, then by address.
    pub(super) fn iter(&self) -> impl Iterator<Item = Route> + '_ {
        self.by_len.iter().flat_map(move |(&(_, len), map)| {
            map.iter().map(move |(&addr, &next_hop)| {
                self.visits.add(1);
                Route {
                    prefix: Prefix::new(addr, len),
                    next_hop,
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn route(a: [u8; 4], len: u8, hop: u8) -> Route {
        Route {
            prefix: Prefix::new(IpAddr::from(a), len),
            next_hop: IpAddr::from([10, 0, 0, hop]),
        }
    }

    #[test]
    fn longest_prefix_wins_and_a_route_replaces_its_prefix() {
        let mut r = Routes::new(vec![
            route([192, 168, 0, 0], 16, 1),
            route([192, 168, 2, 0], 24, 2),
            route([192, 168, 2, 0], 24, 3),
        ]);
        let dst = IpAddr::from([192, 168, 2, 37]);
        assert_eq!(r.lookup(dst), Some(route([192, 168, 2, 0], 24, 3)));
        assert_eq!(
            r.lookup(IpAddr::from([192, 168, 7, 1])),
            Some(route([192, 168, 0, 0], 16, 1))
        );
        assert_eq!(r.lookup("2001:db8::1".parse().unwrap()), None);
        assert!(r.remove(Prefix::new(dst, 24)));
        assert!(!r.remove(Prefix::new(dst, 24)));
        assert_eq!(r.lookup(dst), Some(route([192, 168, 0, 0], 16, 1)));
        assert_eq!(r.iter().count(), 1);
    }

    /// A lookup looks at one entry per prefix length in use, however many routes there are.
    #[test]
    fn a_lookup_visits_one_entry_per_length_not_per_route() {
        let mut r = Routes::default();
        for i in 0..1000u32 {
            let [_, _, a, b] = i.to_be_bytes();
            r.insert(route([10, 128 + a, b, 0], 24, 1));
        }
        r.insert(route([10, 0, 0, 0], 8, 2));
        let v0 = r.visits();
        assert_eq!(
            r.lookup(IpAddr::from([10, 200, 0, 1])),
            Some(route([10, 0, 0, 0], 8, 2))
        );
        assert_eq!(r.visits() - v0, 2);
    }

    proptest! {
        /// Lookups, after any sequence of insertions and removals, agree with the scan the
        /// server did before (every route containing the address, the longest prefix).
        #[test]
        fn lookups_agree_with_a_scan(
            ops in proptest::collection::vec((any::<bool>(), any::<u8>(), 0u8..=32, any::<u8>()), 0..60),
            probes in proptest::collection::vec(any::<u32>(), 1..30),
        ) {
            let mut r = Routes::default();
            let mut list: Vec<Route> = Vec::new();
            for (add, a, len, hop) in ops {
                let rt = route([a & 0xf0, a, 0, 0], len, hop);
                if add {
                    r.insert(rt);
                    list.retain(|x| x.prefix != rt.prefix);
                    list.push(rt);
                } else {
                    prop_assert_eq!(r.remove(rt.prefix), list.iter().any(|x| x.prefix == rt.prefix));
                    list.retain(|x| x.prefix != rt.prefix);
                }
            }
            prop_assert_eq!(r.iter().count(), list.len());
            for p in probes {
                let dst = IpAddr::from(p.to_be_bytes());
                let scan = list
                    .iter()
                    .filter(|x| x.prefix.contains(dst))
                    .max_by_key(|x| x.prefix.len())
                    .copied();
                prop_assert_eq!(r.lookup(dst), scan);
            }
        }
    }
}
