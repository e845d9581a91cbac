//! Hold-down of failed resolutions: after a resolution of a destination gave up (no answer
//! after every retry, or an Error Indication), the data path's [`super::Client::resolve`]
//! sends no new Resolution Request for it for the negative holding time, as if the NHS had
//! answered "no binding". With one outstanding request per destination (retransmitted with
//! back-off), this is the per-destination rate limit that keeps traffic to unreachable
//! destinations from asking again and again. A Traffic Indication (which the hub rate-limits
//! per flow) may still start one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Instant;

/// Destinations held down, each until an instant; at most `limit` of them (the ones ending
/// soonest are forgotten first).
#[derive(Debug, Clone)]
pub(super) struct HoldDown {
    until: BTreeMap<IpAddr, Instant>,
    order: BTreeSet<(Instant, IpAddr)>,
    limit: usize,
}

impl HoldDown {
    pub(super) fn new(limit: usize) -> HoldDown {
        HoldDown {
            until: BTreeMap::new(),
            order: BTreeSet::new(),
            limit,
        }
    }

    /// Holds `target` down until `until`.
    pub(super) fn hold(&mut self, now: Instant, target: IpAddr, until: Instant) {
        self.prune(now);
        if let Some(old) = self.until.remove(&target) {
            self.order.remove(&(old, target));
        }
        while self.until.len() >= self.limit {
            let Some((_, a)) = self.order.pop_first() else {
                break;
            };
            self.until.remove(&a);
        }
        if self.limit > 0 {
            self.until.insert(target, until);
            self.order.insert((until, target));
        }
    }

    /// Whether `target` is held down at `now`.
    pub(super) fn blocks(&self, now: Instant, target: IpAddr) -> bool {
        self.until.get(&target).is_some_and(|&u| now < u)
    }

    /// Forgets hold-downs that ended at or before `now`.
    fn prune(&mut self, now: Instant) {
        while let Some(&(t, a)) = self.order.first() {
            if t > now {
                break;
            }
            self.order.remove(&(t, a));
            self.until.remove(&a);
        }
    }

    /// Destinations remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.until.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(i: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, i])
    }

    #[test]
    fn a_destination_is_held_down_until_its_time_and_the_table_is_bounded() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut h = HoldDown::new(2);
        h.hold(t0, ip(1), t0 + s(10));
        assert!(h.blocks(t0 + s(9), ip(1)));
        assert!(!h.blocks(t0 + s(10), ip(1)));
        assert!(!h.blocks(t0, ip(2)));
        h.hold(t0, ip(2), t0 + s(20));
        // Full: the one ending soonest goes.
        h.hold(t0, ip(3), t0 + s(30));
        assert_eq!(h.len(), 2);
        assert!(!h.blocks(t0, ip(1)) && h.blocks(t0, ip(2)) && h.blocks(t0, ip(3)));
        // Ended ones are forgotten as new ones come.
        h.hold(t0 + s(25), ip(4), t0 + s(40));
        assert_eq!(h.len(), 2);
        assert!(h.blocks(t0 + s(25), ip(3)) && h.blocks(t0 + s(25), ip(4)));
        // Held again: the new time counts.
        h.hold(t0 + s(25), ip(4), t0 + s(26));
        assert!(!h.blocks(t0 + s(26), ip(4)));
    }
}
