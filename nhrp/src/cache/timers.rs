//! The cache's expiry timers: one queue of `(time, slot)` items for the whole table, 16 bytes
//! per entry, instead of an ordered index of per-entry keys.
//!
//! The queue is lazy. Its invariant: every entry that expires at `e` has an item `(t, slot)`
//! with `t <= e`. So a refresh that moves an expiry later (every registration refresh) costs
//! nothing; only a new expiry, or one moved earlier, adds an item. An item that comes first
//! with `t` before its entry's expiry is queued again at the expiry; an item for a freed
//! slot, or one whose entry no longer expires, is dropped. [`Timers::settle`] does this at the
//! front after every change, so the front is then exact: the next expiry. Items left behind
//! (removed entries, expiries moved earlier) are bounded by rebuilding the queue from the
//! slab once it holds twice as many items as entries.
//!
//! The queue is two parts: a deque of items in time order, for items at or after the last
//! one (expiries usually grow with time: the holding times are the same, and refreshes come
//! in the order of the first registrations, so the front entry, refreshed, goes to the back
//! in `O(1)`), and a binary heap for the others.

use core::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::slab::Slab;

/// The expiry queue (see the module docs).
#[derive(Debug, Clone, Default)]
pub(super) struct Timers {
    fifo: VecDeque<(i64, u32)>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
}

impl Timers {
    fn push(&mut self, t: i64, id: u32) {
        if self.fifo.back().is_none_or(|&(b, _)| b <= t) {
            self.fifo.push_back((t, id));
        } else {
            self.heap.push(Reverse((t, id)));
        }
    }

    /// The first item.
    fn peek(&self) -> Option<(i64, u32)> {
        match (self.fifo.front(), self.heap.peek()) {
            (Some(&a), Some(&Reverse(b))) => Some(a.min(b)),
            (Some(&a), None) => Some(a),
            (None, Some(&Reverse(b))) => Some(b),
            (None, None) => None,
        }
    }

    /// Removes the first item.
    fn pop(&mut self) {
        match (self.fifo.front(), self.heap.peek()) {
            (Some(&a), Some(&Reverse(b))) if b < a => {
                self.heap.pop();
            }
            (Some(_), _) => {
                self.fifo.pop_front();
            }
            (None, _) => {
                self.heap.pop();
            }
        }
    }

    /// Records that slot `id` expires at `at`, having expired at `before` (`None`: new, or
    /// never expired): an item is added unless one at or before `at` is already there.
    pub(super) fn set(&mut self, id: u32, at: Option<i64>, before: Option<i64>) {
        if let Some(at) = at
            && before.is_none_or(|b| at < b)
        {
            self.push(at, id);
        }
    }

    /// Makes the front exact (see the module docs), and rebuilds the queue when it holds too
    /// many items left behind.
    pub(super) fn settle(&mut self, slab: &Slab) {
        if self.fifo.len() + self.heap.len() > 2 * slab.len() + 64 {
            let mut items: Vec<(i64, u32)> = slab
                .slot_ids()
                .filter_map(|id| slab.expires_code(id).map(|t| (t, id)))
                .collect();
            items.sort_unstable();
            self.fifo = items.into();
            self.heap = BinaryHeap::new();
        }
        while let Some((t, id)) = self.peek() {
            match slab.expires_code(id) {
                Some(e) if e == t => return,
                Some(e) if e > t => {
                    self.pop();
                    self.push(e, id);
                }
                _ => self.pop(),
            }
        }
    }

    /// The next expiry (exact after [`Timers::settle`]).
    pub(super) fn next(&self) -> Option<i64> {
        self.peek().map(|(t, _)| t)
    }

    /// Takes the slots that expire at `t`, the front's time after [`Timers::settle`] (each
    /// once, in slot order); what the caller does not remove it gives back with
    /// [`Timers::set`].
    pub(super) fn take_at(&mut self, t: i64, slab: &Slab, out: &mut Vec<u32>) {
        while let Some((at, id)) = self.peek() {
            if at != t {
                break;
            }
            self.pop();
            match slab.expires_code(id) {
                Some(e) if e == t => out.push(id),
                Some(e) if e > t => self.push(e, id),
                _ => {}
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Items queued.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.fifo.len() + self.heap.len()
    }
}
