//! The endpoint's output queues: transmits and events wait here for `poll_transmit` and
//! `poll_event`, at most a configured number of each ([`crate::Config::max_transmits`],
//! [`crate::Config::max_events`]), like the NHRP machines' queues. What does not fit is
//! dropped and counted ([`crate::Counters::transmits_dropped`],
//! [`crate::Counters::events_dropped`]) instead of growing without bound when the caller stops
//! polling.

use std::collections::VecDeque;

/// A first-in first-out queue holding at most `limit` items.
#[derive(Debug)]
pub(crate) struct Bounded<T> {
    items: VecDeque<T>,
    limit: usize,
}

impl<T> Bounded<T> {
    /// An empty queue for at most `limit` items.
    pub(crate) fn new(limit: usize) -> Self {
        Bounded {
            items: VecDeque::new(),
            limit,
        }
    }

    /// Appends `item`; `false` (and the item is dropped) when the queue is full.
    #[must_use]
    pub(crate) fn push(&mut self, item: T) -> bool {
        if self.items.len() >= self.limit {
            return false;
        }
        self.items.push_back(item);
        true
    }

    /// The oldest item.
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// Items queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The queued items, oldest first.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_refuses_beyond_the_limit() {
        let mut q = Bounded::new(2);
        assert!(q.push(1));
        assert!(q.push(2));
        assert!(!q.push(3), "a third item does not fit");
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(1));
        // Room again after a pop; the dropped item is gone for good.
        assert!(q.push(4));
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(2), Some(4), None));
    }
}
