//! Driving handle/poll machines over the virtual network.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::{Datagram, Network, OpCounts};

/// A host on the simulated network: anything with the handle/poll contract of ARCHITECTURE.md, "The machine shape".
pub trait Host {
    /// The host's underlay address (inside address if it is behind a NAT box).
    fn addr(&self) -> IpAddr;
    /// A datagram arrived.
    fn handle_datagram(&mut self, now: Instant, datagram: Datagram);
    /// The time from [`Host::poll_timeout`] was reached (or passed).
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Datagram>;
    /// When [`Host::handle_timeout`] should next be called.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Identifies a host in a [`Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub usize);

/// A simulation that cannot make progress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Hosts keep asking for timeouts at the same instant without time moving: a busy loop.
    #[error("livelock: {events} events at one instant without time advancing")]
    Livelock {
        /// Events processed at that instant.
        events: u64,
    },
}

/// Events at a single instant before the simulation declares a livelock.
const MAX_EVENTS_PER_INSTANT: u64 = 1_000_000;

/// Hosts on a [`Network`], run on its virtual clock. Crashed hosts are kept out of the loop until
/// restarted.
#[derive(Debug)]
pub struct Sim<H: Host> {
    net: Network,
    hosts: Vec<Option<H>>,
    by_addr: HashMap<IpAddr, usize>,
    /// Host timers: (deadline, host), with stale entries skipped when popped (a host's current
    /// deadline is in `deadline`). Keeps each event `O(log n)` instead of a scan of every host.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    deadline: Vec<Option<Instant>>,
    /// Hosts touched since the last flush: their transmits are sent and their timers re-read.
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
    later: Vec<usize>,
    /// The host side of [`Sim::op_counts`] (the network keeps its own).
    ops: SimOps,
}

/// The simulation's diagnostic counters ([`Sim::op_counts`]).
#[derive(Debug, Default)]
struct SimOps {
    timers_queued: u64,
    timers_popped: u64,
    hosts_flushed: u64,
    host_lookups: u64,
    /// Atomic: [`Sim::next_event`] polls hosts through `&self`.
    hosts_polled: AtomicU64,
}

impl SimOps {
    fn polled(&self, n: u64) {
        self.hosts_polled.fetch_add(n, Ordering::Relaxed);
    }
}

impl<H: Host> Sim<H> {
    /// A simulation over `net`.
    pub fn new(net: Network) -> Sim<H> {
        Sim {
            net,
            hosts: Vec::new(),
            by_addr: HashMap::new(),
            timers: BinaryHeap::new(),
            deadline: Vec::new(),
            dirty: Vec::new(),
            is_dirty: Vec::new(),
            later: Vec::new(),
            ops: SimOps::default(),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.net.now()
    }

    /// Reserves room for `additional` more hosts, so that adding many (a simulated spoke per
    /// host) does not leave the host table up to twice as large as it needs to be.
    pub fn reserve_hosts(&mut self, additional: usize) {
        self.hosts.reserve_exact(additional);
        self.by_addr.reserve(additional);
        self.deadline.reserve_exact(additional);
        self.is_dirty.reserve_exact(additional);
    }

    /// Adds a host (its address must be unique).
    pub fn add_host(&mut self, host: H) -> HostId {
        let id = self.hosts.len();
        self.by_addr.insert(host.addr(), id);
        self.hosts.push(Some(host));
        self.deadline.push(None);
        self.is_dirty.push(false);
        self.touch(id);
        HostId(id)
    }

    /// A host, unless crashed.
    pub fn host(&self, id: HostId) -> Option<&H> {
        self.hosts.get(id.0)?.as_ref()
    }

    /// A host, unless crashed, for commands. Call [`Sim::flush`] (or any `run_*`) afterwards so
    /// that what the command queued is sent.
    pub fn host_mut(&mut self, id: HostId) -> Option<&mut H> {
        if self.hosts.get(id.0)?.is_some() {
            self.touch(id.0);
        }
        self.hosts.get_mut(id.0)?.as_mut()
    }

    /// Marks host `i` as touched: flushed and its timer re-read at the next flush.
    fn touch(&mut self, i: usize) {
        if let Some(d) = self.is_dirty.get_mut(i)
            && !*d
        {
            *d = true;
            self.dirty.push(i);
        }
    }

    /// The work done so far by the network and the simulation, counted in operations (a
    /// diagnostic: see [`OpCounts`]).
    pub fn op_counts(&self) -> OpCounts {
        OpCounts {
            timers_queued: self.ops.timers_queued,
            timers_popped: self.ops.timers_popped,
            hosts_polled: self.ops.hosts_polled.load(Ordering::Relaxed),
            hosts_flushed: self.ops.hosts_flushed,
            host_lookups: self.ops.host_lookups,
            ..self.net.op_counts()
        }
    }

    /// Re-reads the timer of host `i` and queues it if it changed.
    fn refresh(&mut self, i: usize) {
        self.ops.polled(1);
        let t = self
            .hosts
            .get(i)
            .and_then(Option::as_ref)
            .and_then(Host::poll_timeout);
        if let Some(d) = self.deadline.get_mut(i)
            && *d != t
        {
            *d = t;
            if let Some(t) = t {
                self.ops.timers_queued += 1;
                self.timers.push(Reverse((t, i)));
            }
        }
    }

    /// Drops timer entries that no longer match their host's deadline from the top of the
    /// heap.
    fn prune_timers(&mut self) {
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if self.deadline.get(i).copied().flatten() == Some(t)
                && self.hosts.get(i).is_some_and(Option::is_some)
            {
                break;
            }
            self.timers.pop();
            self.ops.timers_popped += 1;
        }
    }

    /// All live hosts.
    pub fn hosts(&self) -> impl Iterator<Item = (HostId, &H)> {
        self.hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| Some((HostId(i), h.as_ref()?)))
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The network, to change links, NAT boxes or recording.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// Crashes a host: its state is dropped (returned) and datagrams to it are lost.
    pub fn crash(&mut self, id: HostId) -> Option<H> {
        let host = self.hosts.get_mut(id.0)?.take()?;
        self.net.set_down(host.addr(), true);
        if let Some(d) = self.deadline.get_mut(id.0) {
            *d = None;
        }
        Some(host)
    }

    /// Restarts a crashed host with fresh state.
    pub fn restart(&mut self, id: HostId, host: H) {
        self.net.set_down(host.addr(), false);
        self.by_addr.insert(host.addr(), id.0);
        if let Some(slot) = self.hosts.get_mut(id.0) {
            *slot = Some(host);
        }
        self.touch(id.0);
    }

    /// Sends everything the hosts have queued (those touched since the last flush: hosts only
    /// queue datagrams when handed something, or through [`Sim::host_mut`]).
    pub fn flush(&mut self) {
        // In host order, as a full sweep would (it decides, e.g., who gets a NAT address first).
        self.dirty.sort_unstable_by(|a, b| b.cmp(a));
        while let Some(i) = self.dirty.pop() {
            if let Some(d) = self.is_dirty.get_mut(i) {
                *d = false;
            }
            if let Some(host) = self.hosts.get_mut(i).and_then(Option::as_mut) {
                self.ops.hosts_flushed += 1;
                while let Some(d) = host.poll_transmit() {
                    self.net.send(d);
                }
            }
            self.refresh(i);
        }
    }

    /// The next instant something happens: a datagram arrives or a host's timer fires.
    pub fn next_event(&self) -> Option<Instant> {
        let top = self.timers.peek().map(|Reverse((t, _))| *t);
        // The heap may hold stale entries and untouched changes: scan when it cannot be trusted.
        let exact = self.dirty.is_empty()
            && self.timers.peek().is_none_or(|Reverse((t, i))| {
                self.deadline.get(*i).copied().flatten() == Some(*t)
                    && self.hosts.get(*i).is_some_and(Option::is_some)
            });
        let timers = if exact {
            top
        } else {
            self.ops.polled(self.hosts.len() as u64);
            self.hosts
                .iter()
                .flatten()
                .filter_map(|h| h.poll_timeout())
                .min()
        };
        match (timers, self.net.next_arrival()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// [`Sim::next_event`] after flushing and pruning, in `O(log n)`.
    fn next_event_mut(&mut self) -> Option<Instant> {
        self.flush();
        self.prune_timers();
        self.next_event()
    }

    /// Runs every event up to and including `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) -> Result<(), SimError> {
        self.flush();
        let mut same_instant = 0u64;
        while let Some(next) = self.next_event_mut() {
            if next > until {
                break;
            }
            if next > self.net.now() {
                same_instant = 0;
            }
            same_instant += 1;
            if same_instant > MAX_EVENTS_PER_INSTANT {
                return Err(SimError::Livelock {
                    events: same_instant,
                });
            }
            self.net.advance(next);
            self.step();
        }
        self.net.advance(until);
        Ok(())
    }

    /// Runs every event in the next `duration` ([`Sim::run_until`] `now + duration`).
    pub fn run_for(&mut self, duration: std::time::Duration) -> Result<(), SimError> {
        let until = self.net.now() + duration;
        self.run_until(until)
    }

    /// Runs until `pred` holds or `duration` has passed ([`Sim::run_until_true`] with the limit
    /// `now + duration`); returns whether it held.
    pub fn run_for_until(
        &mut self,
        duration: std::time::Duration,
        pred: impl FnMut(&Sim<H>) -> bool,
    ) -> Result<bool, SimError> {
        let limit = self.net.now() + duration;
        self.run_until_true(limit, pred)
    }

    /// Runs until no datagram is in flight and no timer is due before `limit` other than
    /// periodic ones further than `quiet` away; returns the time it stopped. Useful to "let the
    /// protocol settle".
    pub fn run_until_idle(
        &mut self,
        quiet: std::time::Duration,
        limit: Instant,
    ) -> Result<Instant, SimError> {
        loop {
            self.flush();
            let now = self.net.now();
            if self.net.in_flight() == 0 {
                match self.next_event_mut() {
                    None => return Ok(now),
                    Some(t) if t > now + quiet => return Ok(now),
                    _ => {}
                }
            }
            let Some(next) = self.next_event_mut() else {
                return Ok(now);
            };
            if next > limit {
                self.net.advance(limit);
                return Ok(limit);
            }
            self.run_until(next)?;
        }
    }

    /// Runs until `pred` holds (checked after every event) or `limit` is reached; returns whether
    /// it held.
    pub fn run_until_true(
        &mut self,
        limit: Instant,
        mut pred: impl FnMut(&Sim<H>) -> bool,
    ) -> Result<bool, SimError> {
        self.flush();
        if pred(self) {
            return Ok(true);
        }
        while let Some(next) = self.next_event_mut() {
            if next > limit {
                break;
            }
            self.run_until(next)?;
            if pred(self) {
                return Ok(true);
            }
        }
        self.net.advance(limit);
        Ok(pred(self))
    }

    /// Delivers what is due and fires due timers at the current instant, then sends what the
    /// hosts queued.
    fn step(&mut self) {
        let now = self.net.now();
        while let Some(d) = self.net.pop_due() {
            self.ops.host_lookups += 1;
            match self.by_addr.get(&d.dst).copied() {
                Some(i) => match self.hosts.get_mut(i).and_then(Option::as_mut) {
                    Some(host) => {
                        host.handle_datagram(now, d);
                        self.touch(i);
                    }
                    None => self.net.count_undeliverable(),
                },
                None => self.net.count_undeliverable(),
            }
        }
        // Timers as they stand after the deliveries.
        while let Some(i) = self.dirty.pop() {
            if let Some(d) = self.is_dirty.get_mut(i) {
                *d = false;
            }
            self.refresh(i);
            self.touch_later(i);
        }
        self.restore_dirty();
        let mut due = Vec::new();
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            self.ops.timers_popped += 1;
            if self.deadline.get(i).copied().flatten() == Some(t) {
                if let Some(d) = self.deadline.get_mut(i) {
                    *d = None;
                }
                due.push(i);
            }
        }
        due.sort_unstable();
        due.dedup();
        self.ops.polled(due.len() as u64);
        for i in due {
            if let Some(host) = self.hosts.get_mut(i).and_then(Option::as_mut)
                && host.poll_timeout().is_some_and(|t| t <= now)
            {
                host.handle_timeout(now);
            }
            self.touch(i);
        }
        self.flush();
    }

    /// Keeps host `i` to be flushed after the timers fire (see [`Sim::step`]).
    fn touch_later(&mut self, i: usize) {
        self.later.push(i);
    }

    fn restore_dirty(&mut self) {
        while let Some(i) = self.later.pop() {
            self.touch(i);
        }
    }
}
