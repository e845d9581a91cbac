//! The virtual NBMA network: datagrams in flight on a virtual clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use dmvpn_wire::{IpProtocol, be, checksum};

use crate::Recorder;

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

/// Keeps a UDP datagram's checksum (in `payload`, the bytes after the IP header) right when a NAT box rewrites one of its addresses from `old`
/// to `new`, as real ones do (RFC 3022 §4.1), by the RFC 1624 update for each pseudo-header word
/// that changed. A datagram sent without a checksum (zero, IPv4) keeps none; other protocols
/// (GRE, ESP) have no checksum over the addresses.
fn fix_udp_checksum(protocol: u8, payload: &mut [u8], old: IpAddr, new: IpAddr) {
    if protocol != IpProtocol::UDP.0 || payload.len() < dmvpn_wire::udp::HEADER_LEN {
        return;
    }
    let words = |a: IpAddr| -> Vec<u16> {
        let octets = match a {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        (0..octets.len())
            .step_by(2)
            .map(|at| be::u16(&octets, at))
            .collect()
    };
    let (old, new) = (words(old), words(new));
    let mut sum = be::u16(payload, 6);
    if sum == 0 || old.len() != new.len() {
        return;
    }
    for (o, n) in old.into_iter().zip(new) {
        sum = checksum::update(sum, o, n);
    }
    // Zero means "no checksum" in UDP: a computed zero is sent as its other form (RFC 768).
    be::put_u16(payload, 6, if sum == 0 { 0xffff } else { sum });
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

/// A NAT box: hosts with `inside` addresses reach the network through it. Each inside host gets
/// the next free `public` address on its first outbound datagram (one-to-one dynamic NAT, which
/// GRE and ESP can traverse); inbound datagrams to a public address are translated back, and
/// inbound datagrams to a public address with no mapping are dropped (no static mappings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// The pool of public (outside) addresses.
    pub public: Vec<IpAddr>,
    /// The hosts behind the box.
    pub inside: Vec<IpAddr>,
}

/// Identifies a NAT box in a [`Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NatId(pub usize);

#[derive(Debug)]
struct Nat {
    free: Vec<IpAddr>,
    out: HashMap<IpAddr, IpAddr>,
    back: HashMap<IpAddr, IpAddr>,
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
    /// Dropped by a NAT box (no public address left, or no mapping for an inbound datagram).
    pub nat_dropped: u64,
    /// Dropped because the destination host was down or does not exist.
    pub undeliverable: u64,
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
    nats: Vec<Nat>,
    nat_of: HashMap<IpAddr, usize>,
    queue: BinaryHeap<Reverse<InFlight>>,
    payloads: HashMap<u64, Datagram>,
    seq: u64,
    down: HashSet<IpAddr>,
    stats: NetStats,
    recorder: Option<Recorder>,
}

impl Network {
    /// A network whose clock starts at `start`, with all randomness drawn from `seed`.
    pub fn new(seed: u64, start: Instant) -> Network {
        Network {
            now: start,
            rng: ChaCha8Rng::seed_from_u64(seed),
            default_link: LinkProfile::default(),
            links: HashMap::new(),
            nats: Vec::new(),
            nat_of: HashMap::new(),
            queue: BinaryHeap::new(),
            payloads: HashMap::new(),
            seq: 0,
            down: HashSet::new(),
            stats: NetStats::default(),
            recorder: None,
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

    /// Adds a NAT box.
    pub fn add_nat(&mut self, config: NatConfig) -> NatId {
        let id = self.nats.len();
        for host in &config.inside {
            self.nat_of.insert(*host, id);
        }
        let mut free = config.public;
        free.reverse(); // hand out in the order given
        self.nats.push(Nat {
            free,
            out: HashMap::new(),
            back: HashMap::new(),
        });
        NatId(id)
    }

    /// The public address a NAT box gave an inside host, if it has one yet.
    pub fn nat_mapping(&self, inside: IpAddr) -> Option<IpAddr> {
        let nat = self.nats.get(*self.nat_of.get(&inside)?)?;
        nat.out.get(&inside).copied()
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

    /// Sends a datagram now: source NAT, recording, then loss, duplication, delay and reordering
    /// as the link's profile says. A datagram from a down host is dropped.
    pub fn send(&mut self, mut d: Datagram) {
        self.stats.sent += 1;
        let link = self
            .links
            .get(&(d.src, d.dst))
            .copied()
            .unwrap_or(self.default_link);
        if let Some(&n) = self.nat_of.get(&d.src) {
            let Some(nat) = self.nats.get_mut(n) else {
                return;
            };
            let public = match nat.out.get(&d.src) {
                Some(p) => *p,
                None => match nat.free.pop() {
                    Some(p) => {
                        nat.out.insert(d.src, p);
                        nat.back.insert(p, d.src);
                        p
                    }
                    None => {
                        self.stats.nat_dropped += 1;
                        return;
                    }
                },
            };
            fix_udp_checksum(d.protocol, &mut d.payload, d.src, public);
            d.src = public;
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
        for _ in 0..copies {
            let mut delay = link.delay;
            if !link.jitter.is_zero() {
                delay += link.jitter.mul_f64(self.unit());
            }
            if self.chance(link.reorder) {
                self.stats.reordered += 1;
                delay += link.reorder_delay;
            }
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                at: self.now + delay,
                seq: self.seq,
            }));
            self.payloads.insert(self.seq, d.clone());
        }
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(f)| f.at)
    }

    /// The next datagram due by now, after destination NAT; datagrams to down hosts and NAT
    /// misses are dropped (and counted) on the way. Datagrams due at the same instant come out in
    /// the order they were sent.
    pub fn pop_due(&mut self) -> Option<Datagram> {
        loop {
            let Reverse(head) = self.queue.peek()?;
            if head.at > self.now {
                return None;
            }
            let seq = head.seq;
            self.queue.pop();
            let mut d = self.payloads.remove(&seq)?;
            // Destination NAT: a public address a box handed out maps back to its inside host.
            if let Some(nat) = self
                .nats
                .iter()
                .find(|n| n.back.contains_key(&d.dst) || n.free.contains(&d.dst))
            {
                match nat.back.get(&d.dst).copied() {
                    Some(inside) => {
                        fix_udp_checksum(d.protocol, &mut d.payload, d.dst, inside);
                        d.dst = inside;
                    }
                    None => {
                        self.stats.nat_dropped += 1;
                        continue;
                    }
                }
            } else if self.nat_of.contains_key(&d.dst) {
                // Private addresses behind a NAT box are not reachable from outside it.
                self.stats.nat_dropped += 1;
                continue;
            }
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
