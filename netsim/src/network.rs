//! The virtual NBMA network: datagrams in flight on a virtual clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::nat::Nats;
use crate::{NaptConfig, NatConfig, NatId, NatStats, Recorder};

/// An IP datagram on the underlay: addresses, IP protocol number and everything above IP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Datagram {
    /// Source address (rewritten by a NAT box on the way out).
    pub src: IpAddr,
    /// Destination address (rewritten by a NAT box on the way in).
    pub dst: IpAddr,
    /// IP protocol number of the payload (47 for GRE, 17 for UDP, 50 for ESP).
    pub protocol: u8,
    /// The bytes after the IP header.
    pub payload: Vec<u8>,
}

/// How a directed link treats datagrams. Probabilities are in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkProfile {
    /// Base one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per datagram (reorders when large).
    pub jitter: Duration,
    /// Probability a datagram is lost.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram is held back by `reorder_delay`, arriving after later ones.
    pub reorder: f64,
    /// The hold-back for reordered datagrams.
    pub reorder_delay: Duration,
}

impl Default for LinkProfile {
    /// 10 ms, no jitter, loss, duplication or reordering.
    fn default() -> Self {
        LinkProfile {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(50),
        }
    }
}

impl LinkProfile {
    /// The default profile with loss probability `loss`.
    pub fn lossy(loss: f64) -> Self {
        LinkProfile {
            loss,
            ..LinkProfile::default()
        }
    }
}

/// What the network did with the datagrams sent into it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams delivered (duplicates count twice).
    pub delivered: u64,
    /// Lost on a link.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Held back to arrive out of order.
    pub reordered: u64,
    /// Dropped by a NAT box, every box and reason together: no public address or port left,
    /// no live mapping for an inbound datagram, refused by a NAPT box's filtering, a protocol
    /// other than UDP at a NAPT box, no hairpinning, ... ([`Network::nat_stats`] has each
    /// box's counts by reason).
    pub nat_dropped: u64,
    /// Dropped because the destination host was down or does not exist.
    pub undeliverable: u64,
}

/// The work the simulator did, counted in operations on its tables: a diagnostic, not part of
/// the behaviour, for tests that check that the work per datagram does not grow with the size
/// of the network (`dmvpn-core/tests/op_counts.rs`). Each field only ever grows.
///
/// What is counted is operations, not their cost inside a structure: a push onto or a pop off a
/// binary heap counts one (and costs `O(log n)` in the heap's size), a hash probe counts one,
/// a linear scan counts every element it compares. [`Network::op_counts`] fills the network's
/// fields and leaves the host fields at zero; [`crate::Sim::op_counts`] fills them all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Datagrams put into the in-flight queue (a binary heap), duplicates included.
    pub arrivals_queued: u64,
    /// Datagrams taken off the in-flight queue when due.
    pub arrivals_popped: u64,
    /// Lookups of a link profile and of a host being down (one hash probe each).
    pub link_lookups: u64,
    /// NAT work: the inside-host and public-address lookups made for each datagram, every
    /// box and every address compared in a scan, and every port tried for a new NAPT mapping.
    pub nat_entries_examined: u64,
    /// Host timers pushed onto the simulation's timer heap.
    pub timers_queued: u64,
    /// Entries taken off the timer heap, stale ones included.
    pub timers_popped: u64,
    /// Calls of [`crate::Host::poll_timeout`] made by the simulation: re-reading a touched
    /// host's timer, checking that a due timer still is, and every host of a full scan.
    pub hosts_polled: u64,
    /// Hosts whose queued transmits the simulation drained ([`crate::Sim::flush`]).
    pub hosts_flushed: u64,
    /// Address-to-host lookups for datagrams delivered (one hash probe each).
    pub host_lookups: u64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Instant,
    seq: u64,
}

/// The virtual network and clock. See the [crate docs](crate).
#[derive(Debug)]
pub struct Network {
    now: Instant,
    rng: ChaCha8Rng,
    default_link: LinkProfile,
    links: HashMap<(IpAddr, IpAddr), LinkProfile>,
    nats: Nats,
    queue: BinaryHeap<Reverse<InFlight>>,
    payloads: HashMap<u64, Datagram>,
    seq: u64,
    down: HashSet<IpAddr>,
    stats: NetStats,
    recorder: Option<Recorder>,
    /// The diagnostic counters ([`Network::op_counts`]); the simulation adds its own.
    pub(crate) ops: OpCounts,
}

impl Network {
    /// A network whose clock starts at `start`, with all randomness drawn from `seed`.
    pub fn new(seed: u64, start: Instant) -> Network {
        Network {
            now: start,
            rng: ChaCha8Rng::seed_from_u64(seed),
            default_link: LinkProfile::default(),
            links: HashMap::new(),
            nats: Nats::default(),
            queue: BinaryHeap::new(),
            payloads: HashMap::new(),
            seq: 0,
            down: HashSet::new(),
            stats: NetStats::default(),
            recorder: None,
            ops: OpCounts::default(),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Moves the clock forward to `to` (never backward).
    pub fn advance(&mut self, to: Instant) {
        self.now = self.now.max(to);
    }

    /// Sets the profile of every link without its own.
    pub fn set_default_link(&mut self, profile: LinkProfile) {
        self.default_link = profile;
    }

    /// Sets the profile of the directed link from `src` to `dst` (addresses as sent, before NAT).
    pub fn set_link(&mut self, src: IpAddr, dst: IpAddr, profile: LinkProfile) {
        self.links.insert((src, dst), profile);
    }

    /// Adds a one-to-one NAT box ([`NatConfig`]).
    pub fn add_nat(&mut self, config: NatConfig) -> NatId {
        self.nats.add_nat(config)
    }

    /// Adds a port-translating NAT box ([`NaptConfig`]: UDP only, RFC 4787 behaviour).
    pub fn add_napt(&mut self, config: NaptConfig) -> NatId {
        self.nats.add_napt(config)
    }

    /// The public address a one-to-one NAT box gave an inside host, if it has one yet (`None`
    /// behind a NAPT box: see [`Network::napt_mapping`]).
    pub fn nat_mapping(&self, inside: IpAddr) -> Option<IpAddr> {
        self.nats.nat_mapping(inside)
    }

    /// The public endpoint a NAPT box maps the inside socket `inside` to, if it has a live
    /// mapping at the current time (one whose idle timeout has not run out since its last
    /// outbound datagram, and not dropped by a rebinding).
    pub fn napt_mapping(&self, inside: SocketAddr) -> Option<SocketAddr> {
        self.nats.napt_mapping(self.now, inside)
    }

    /// What a NAT box (of either kind) did so far, if `id` names one.
    pub fn nat_stats(&self, id: NatId) -> Option<NatStats> {
        self.nats.stats(id)
    }

    /// Rebinds a NAPT box, as a carrier NAT's reboot or a new DHCP lease would: every mapping
    /// is dropped, new mappings get public ports the box never handed out before on their
    /// address (so a rebinding always shows as a new port, port preservation notwithstanding),
    /// and, if `new_public` is given, the new public address from now on (datagrams to the old
    /// one are dropped and counted in [`NatStats::no_mapping`]). A box with a
    /// [`NaptConfig::pool`] retires the ports of every address of it; `new_public` replaces the
    /// primary address ([`NaptConfig::public`]) only, and the inside hosts keep their pairing
    /// (those that went out on the primary address go out on `new_public`, the others on the
    /// same pool address as before); a `new_public` that is already one of the pool's
    /// addresses changes no address. Returns `false`, changing nothing, if `id` is not a NAPT
    /// box.
    pub fn rebind(&mut self, id: NatId, new_public: Option<IpAddr>) -> bool {
        self.nats.rebind(id, new_public)
    }

    /// Marks a host down (datagrams to it are dropped) or up again.
    pub fn set_down(&mut self, addr: IpAddr, down: bool) {
        if down {
            self.down.insert(addr);
        } else {
            self.down.remove(&addr);
        }
    }

    /// Whether a host is marked down.
    pub fn is_down(&self, addr: IpAddr) -> bool {
        self.down.contains(&addr)
    }

    /// Starts recording every datagram sent (after source NAT) into `recorder`.
    pub fn record(&mut self, recorder: Recorder) {
        self.recorder = Some(recorder);
    }

    /// The recorder, if recording.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// Stops recording and returns the recorder.
    pub fn take_recorder(&mut self) -> Option<Recorder> {
        self.recorder.take()
    }

    /// Statistics so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// The work done so far, counted in operations (a diagnostic: see [`OpCounts`]).
    pub fn op_counts(&self) -> OpCounts {
        OpCounts {
            nat_entries_examined: self.nats.work,
            ..self.ops
        }
    }

    /// Datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// A uniform draw in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Sends a datagram now: source NAT (a NAT box may drop it: then it is not recorded),
    /// recording, then loss, duplication, delay and reordering
    /// as the link's profile says. A datagram from a down host is dropped.
    pub fn send(&mut self, mut d: Datagram) {
        self.stats.sent += 1;
        self.ops.link_lookups += 1;
        let link = self
            .links
            .get(&(d.src, d.dst))
            .copied()
            .unwrap_or(self.default_link);
        if !self.nats.outbound(self.now, &mut d) {
            self.stats.nat_dropped += 1;
            return;
        }
        if let Some(r) = &mut self.recorder {
            r.record(self.now, &d);
        }
        if self.chance(link.loss) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.chance(link.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let mut pending = Some(d);
        for copy in 0..copies {
            let mut delay = link.delay;
            if !link.jitter.is_zero() {
                delay += link.jitter.mul_f64(self.unit());
            }
            if self.chance(link.reorder) {
                self.stats.reordered += 1;
                delay += link.reorder_delay;
            }
            self.seq += 1;
            self.ops.arrivals_queued += 1;
            self.queue.push(Reverse(InFlight {
                at: self.now + delay,
                seq: self.seq,
            }));
            // The last copy takes the datagram itself; only a duplicate is cloned.
            let item = if copy + 1 == copies {
                pending.take()
            } else {
                pending.clone()
            };
            if let Some(item) = item {
                self.payloads.insert(self.seq, item);
            }
        }
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(f)| f.at)
    }

    /// The next datagram due by now, after destination NAT (evaluated at arrival, on the
    /// network clock); datagrams to down hosts and those a NAT box drops are counted on the
    /// way. Datagrams due at the same instant come out in
    /// the order they were sent.
    pub fn pop_due(&mut self) -> Option<Datagram> {
        loop {
            let Reverse(head) = self.queue.peek()?;
            if head.at > self.now {
                return None;
            }
            let seq = head.seq;
            self.queue.pop();
            self.ops.arrivals_popped += 1;
            let mut d = self.payloads.remove(&seq)?;
            // Destination NAT: a public address a box handed out maps back to its inside host.
            if !self.nats.inbound(self.now, &mut d) {
                self.stats.nat_dropped += 1;
                continue;
            }
            self.ops.link_lookups += 1;
            if self.down.contains(&d.dst) {
                self.stats.undeliverable += 1;
                continue;
            }
            self.stats.delivered += 1;
            return Some(d);
        }
    }

    /// Counts a datagram that arrived for an address no host has.
    pub(crate) fn count_undeliverable(&mut self) {
        self.stats.delivered = self.stats.delivered.saturating_sub(1);
        self.stats.undeliverable += 1;
    }
}
