//! `ip nhrp max-send` with priorities: the sliding window of packets sent, an allowance for
//! registrations beyond it, and the hold queue in order of rank.
//!
//! IOS counts every NHRP packet an interface sends against one quota (seed 002, "NHRP
//! Rate-Limiting Mechanism": "restricts the total number of NHRP packets from any given
//! interface", 100 every 10 seconds by default) and says nothing of an order among them. That
//! lets resolution traffic starve registrations: a LAN host scanning new destinations, or a
//! flood of spoofed Resolution Requests at a hub, spends the whole quota, the Registration
//! Requests or Replies wait behind it, and the NHS goes down. So every packet still counts
//! against IOS's quota as IOS does, but:
//!
//! - packets rank in three [`Tier`]s: [`Tier::Control`] (registrations and purges of this node
//!   or of a registered spoke), [`Tier::Peer`] (resolutions of this node or of a registered
//!   spoke) and [`Tier::Other`] (anything for a sender the node does not know: a new
//!   registration, a stranger's Resolution Request, Error and Traffic Indications, answers to
//!   other nodes' requests);
//! - a [`Tier::Control`] packet that finds the window full may still go, up to a quarter of
//!   the quota per interval ([`allowance`]): registrations bypass the quota by that much at
//!   most, so they never wait behind resolutions, and the node never sends more than 125% of
//!   the quota (IOS sends at most 100%, and lets its registrations starve);
//! - packets over the quota are held in order of rank (tier, then the age of the sender's
//!   registration, oldest first, then arrival) and released best first; when the hold queue
//!   is full, the worst held packet is dropped for a better one (resolution traffic first).
//!
//! A registered spoke's seniority is its registration's creation time: spoofed registrations
//! that fill a hub's table while legitimate spokes are registered rank behind them, whatever
//! they send afterwards.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use super::Transmit;
use super::config::MaxSend;
use crate::wire::PacketType;

/// How much a packet matters to keeping the cloud up, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Tier {
    /// Registrations and purges: this node's own, or answers to a registered spoke.
    Control,
    /// Resolutions: this node's own, or for a registered spoke.
    Peer,
    /// Anything for a sender the node does not know, and Error or Traffic Indications.
    Other,
}

/// Who sent the packet being answered (set by a server while it handles one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    /// No registration from the packet's outer source for its source protocol address.
    Stranger,
    /// A spoke registered from the packet's outer source, since `since`.
    Registered {
        /// When its registration was created.
        since: Instant,
    },
}

/// A packet's rank under the quota: its tier, then the age of its sender's registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rank {
    pub(crate) tier: Tier,
    pub(crate) since: Option<Instant>,
}

impl Rank {
    /// The rank of a packet of type `ptype` sent on behalf of `sender` (`None`: this node's
    /// own, not an answer to a packet).
    pub(crate) fn of(ptype: PacketType, sender: Option<Sender>) -> Rank {
        let tier = match (ptype, sender) {
            (_, Some(Sender::Stranger)) => Tier::Other,
            (PacketType::REGISTRATION_REQUEST | PacketType::PURGE_REQUEST, _) => Tier::Control,
            (PacketType::REGISTRATION_REPLY | PacketType::PURGE_REPLY, Some(_)) => Tier::Control,
            (PacketType::RESOLUTION_REQUEST, _) => Tier::Peer,
            (PacketType::RESOLUTION_REPLY, Some(_)) => Tier::Peer,
            _ => Tier::Other,
        };
        let since = match sender {
            Some(Sender::Registered { since }) => Some(since),
            _ => None,
        };
        Rank { tier, since }
    }

    /// The order of the hold queue: tier, then senior senders (unknown last), then `seq`.
    fn key(self, seq: u64) -> (Tier, bool, Option<Instant>, u64) {
        (self.tier, self.since.is_none(), self.since, seq)
    }
}

/// How many [`Tier::Control`] packets may go beyond a full window per interval: a quarter of
/// the quota, at least one.
pub(crate) fn allowance(max_send: &MaxSend) -> usize {
    usize::try_from((max_send.packets / 4).max(1)).unwrap_or(usize::MAX)
}

/// What [`Quota::hold`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// The packet waits.
    Kept,
    /// The packet waits; a worse one was dropped for it.
    Evicted,
    /// The queue is full of better packets: this one is dropped.
    Refused,
}

type Key = (Tier, bool, Option<Instant>, u64);

/// The `max-send` window and hold queue of one machine.
#[derive(Debug)]
pub(crate) struct Quota {
    max_send: MaxSend,
    /// When each packet counted in the quota's window was sent.
    window: VecDeque<Instant>,
    /// When each [`Tier::Control`] packet sent beyond a full window was sent.
    beyond: VecDeque<Instant>,
    held: BTreeMap<Key, (Transmit, PacketType, Tier)>,
    seq: u64,
    /// The latest time the quota was told of.
    last: Option<Instant>,
}

impl Quota {
    pub(crate) fn new(max_send: MaxSend) -> Quota {
        Quota {
            max_send,
            window: VecDeque::new(),
            beyond: VecDeque::new(),
            held: BTreeMap::new(),
            seq: 0,
            last: None,
        }
    }

    fn total(&self) -> usize {
        usize::try_from(self.max_send.packets).unwrap_or(usize::MAX)
    }

    fn window_full(&self) -> bool {
        self.window.len() >= self.total()
    }

    fn beyond_full(&self) -> bool {
        self.beyond.len() >= allowance(&self.max_send)
    }

    /// Forgets sends older than the interval.
    pub(crate) fn prune(&mut self, now: Instant) {
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        let interval = self.max_send.interval;
        for q in [&mut self.window, &mut self.beyond] {
            while q
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) >= interval)
            {
                q.pop_front();
            }
        }
    }

    /// Whether a packet of `tier` may be sent now (after [`Quota::prune`]).
    pub(crate) fn has_room(&self, tier: Tier) -> bool {
        !self.window_full() || (tier == Tier::Control && !self.beyond_full())
    }

    /// Counts a packet sent at `now`: in the window, or beyond it (a [`Tier::Control`] one
    /// that found it full).
    pub(crate) fn record(&mut self, now: Instant) {
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        if self.window_full() {
            self.beyond.push_back(now);
        } else {
            self.window.push_back(now);
        }
    }

    /// Holds a packet over the quota (the queue bounded by [`MaxSend::max_held`]).
    pub(crate) fn hold(&mut self, rank: Rank, t: Transmit, ptype: PacketType) -> Held {
        let key = rank.key(self.seq);
        self.seq = self.seq.wrapping_add(1);
        let mut held = Held::Kept;
        if self.held.len() >= self.max_send.max_held {
            match self.held.last_key_value() {
                Some((&worst, _)) if key < worst => {
                    self.held.remove(&worst);
                    held = Held::Evicted;
                }
                _ => return Held::Refused,
            }
        }
        self.held.insert(key, (t, ptype, rank.tier));
        held
    }

    /// The best held packet, if the window has room for it now.
    pub(crate) fn pop_ready(&mut self) -> Option<(Transmit, PacketType, Tier)> {
        let (_, (_, _, tier)) = self.held.first_key_value()?;
        if !self.has_room(*tier) {
            return None;
        }
        self.held.pop_first().map(|(_, v)| v)
    }

    /// When the best held packet can go: when the window next has room (or, for a
    /// [`Tier::Control`] one, the allowance beyond it, if sooner).
    pub(crate) fn release_at(&self) -> Option<Instant> {
        let (_, (_, _, tier)) = self.held.first_key_value()?;
        if self.has_room(*tier) {
            // Due already (the window moved on since the last release).
            return self.last;
        }
        let interval = self.max_send.interval;
        let at = |q: &VecDeque<Instant>| q.front().map(|&t| t + interval);
        match (tier, at(&self.window), at(&self.beyond)) {
            (Tier::Control, Some(a), Some(b)) => Some(a.min(b)),
            (_, a, _) => a.or(self.last),
        }
    }

    /// Packets held.
    pub(crate) fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Packets sent within the interval before `now` (those beyond the window too).
    pub(crate) fn usage(&self, now: Instant) -> usize {
        let interval = self.max_send.interval;
        self.window
            .iter()
            .chain(self.beyond.iter())
            .filter(|&&t| now.saturating_duration_since(t) < interval)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmvpn_wire::Proto;
    use std::time::Duration;

    fn packet(n: u8) -> Transmit {
        Transmit {
            src: "172.16.1.1".parse().unwrap(),
            dst: "172.17.0.1".parse().unwrap(),
            proto: Proto::InGre(0x2001),
            payload: vec![n],
        }
    }

    #[test]
    fn packets_rank_by_type_and_by_who_they_answer() {
        let t0 = Instant::now();
        let own = |p| Rank::of(p, None).tier;
        assert_eq!(own(PacketType::REGISTRATION_REQUEST), Tier::Control);
        assert_eq!(own(PacketType::PURGE_REQUEST), Tier::Control);
        assert_eq!(own(PacketType::RESOLUTION_REQUEST), Tier::Peer);
        // Answers to whoever asked, and indications, rank last unless the asker is known.
        assert_eq!(own(PacketType::RESOLUTION_REPLY), Tier::Other);
        assert_eq!(own(PacketType::PURGE_REPLY), Tier::Other);
        assert_eq!(own(PacketType::ERROR_INDICATION), Tier::Other);
        let spoke = Some(Sender::Registered { since: t0 });
        assert_eq!(
            Rank::of(PacketType::REGISTRATION_REPLY, spoke),
            Rank {
                tier: Tier::Control,
                since: Some(t0)
            }
        );
        assert_eq!(
            Rank::of(PacketType::RESOLUTION_REPLY, spoke).tier,
            Tier::Peer
        );
        assert_eq!(
            Rank::of(PacketType::ERROR_INDICATION, spoke).tier,
            Tier::Other
        );
        let stranger = Some(Sender::Stranger);
        for p in [PacketType::REGISTRATION_REPLY, PacketType::RESOLUTION_REPLY] {
            assert_eq!(
                Rank::of(p, stranger),
                Rank {
                    tier: Tier::Other,
                    since: None
                }
            );
        }
    }

    #[test]
    fn registrations_may_go_a_quarter_beyond_a_full_window() {
        let t0 = Instant::now();
        let mut q = Quota::new(MaxSend::new(100, Duration::from_secs(10)));
        for _ in 0..100 {
            assert!(q.has_room(Tier::Other));
            q.record(t0);
        }
        assert!(!q.has_room(Tier::Other) && !q.has_room(Tier::Peer));
        for _ in 0..25 {
            assert!(q.has_room(Tier::Control));
            q.record(t0);
        }
        assert!(!q.has_room(Tier::Control), "at most 125% of the quota");
        assert_eq!(q.usage(t0), 125);
        q.prune(t0 + Duration::from_secs(10));
        assert!(q.has_room(Tier::Other));
        assert_eq!(q.usage(t0 + Duration::from_secs(10)), 0);
        // The allowance is at least one packet.
        let mut small = Quota::new(MaxSend::new(1, Duration::from_secs(10)));
        small.record(t0);
        assert!(!small.has_room(Tier::Peer) && small.has_room(Tier::Control));
        small.record(t0);
        assert!(!small.has_room(Tier::Control));
    }

    #[test]
    fn held_packets_go_best_first_and_the_worst_is_dropped_for_a_better_one() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut q = Quota::new(MaxSend {
            max_held: 3,
            ..MaxSend::new(1, s(10))
        });
        // The window and the allowance beyond it are both used up.
        q.record(t0);
        q.record(t0);
        let stranger = Rank::of(PacketType::RESOLUTION_REPLY, Some(Sender::Stranger));
        let young = Rank::of(
            PacketType::REGISTRATION_REPLY,
            Some(Sender::Registered { since: t0 + s(5) }),
        );
        let senior = Rank::of(
            PacketType::REGISTRATION_REPLY,
            Some(Sender::Registered { since: t0 }),
        );
        let rr = PacketType::RESOLUTION_REPLY;
        assert_eq!(q.hold(stranger, packet(1), rr), Held::Kept);
        assert_eq!(q.hold(stranger, packet(2), rr), Held::Kept);
        assert_eq!(q.hold(young, packet(3), rr), Held::Kept);
        // Full: a better packet takes the place of the newest stranger's, a worse one is not
        // taken.
        assert_eq!(q.hold(senior, packet(4), rr), Held::Evicted);
        assert_eq!(q.hold(stranger, packet(5), rr), Held::Refused);
        assert_eq!(q.held_len(), 3);
        assert!(q.pop_ready().is_none(), "the window is full");
        assert_eq!(q.release_at(), Some(t0 + s(10)));
        let mut order = Vec::new();
        while q.held_len() > 0 {
            let now = q.release_at().unwrap();
            q.prune(now);
            while let Some((t, _, _)) = q.pop_ready() {
                q.record(now);
                order.push((t.payload[0], now.duration_since(t0).as_secs()));
            }
        }
        // The senior one takes the window, the younger the allowance beyond it, and the
        // stranger waits for the window.
        assert_eq!(order, vec![(4, 10), (3, 10), (1, 20)]);
    }

    #[test]
    fn a_held_registration_goes_when_the_window_or_the_allowance_frees_first() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut q = Quota::new(MaxSend::new(4, s(10)));
        for i in 0..4 {
            q.record(t0 + s(i));
        }
        q.record(t0 + s(5));
        assert!(!q.has_room(Tier::Control));
        let reg = PacketType::REGISTRATION_REQUEST;
        q.hold(Rank::of(reg, None), packet(1), reg);
        // The window's oldest send leaves at +10 s, before the allowance's at +15 s.
        assert_eq!(q.release_at(), Some(t0 + s(10)));
        // A held resolution waits for the window only.
        let mut r = Quota::new(MaxSend::new(4, s(10)));
        for i in 0..4 {
            r.record(t0 + s(i + 2));
        }
        r.record(t0);
        let res = PacketType::RESOLUTION_REQUEST;
        r.hold(Rank::of(res, None), packet(2), res);
        assert_eq!(r.release_at(), Some(t0 + s(12)));
        r.prune(t0 + s(12));
        assert!(r.pop_ready().is_some());
    }
}
