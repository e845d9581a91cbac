//! Timers: the table of an IKE SA's deadlines, and what happens when one passes.
//!
//! [`IkeSa::timers`] is the one place that knows when each timer is armed and when it falls
//! due: [`IkeSa::next_timeout`] (behind `Endpoint::poll_timeout`) takes its earliest entry,
//! and [`IkeSa::handle_timeout`] acts on the entries due, reading the table again after each
//! step (a retransmission counts as traffic for the keepalive, a queued exchange disarms the
//! liveness check).

use std::time::{Duration, Instant};

use dmvpn_esp::wire::udp_encap::NAT_KEEPALIVE;

use crate::config::{Config, Retransmit};
use crate::event::{DownReason, Event};
use crate::{Error, Transmit};

use super::{Action, ChildState, Cx, IkeSa, Req, State};

/// One deadline of an IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The pending request's next retransmission, or giving up on it (§2.1, §2.4).
    Retransmit,
    /// A half-open responder SA's wait for IKE_AUTH, or a rekeyed SA's wait for the peer's
    /// Delete.
    Deadline,
    /// The earliest postponed exchange (a retry after TEMPORARY_FAILURE, §2.25).
    Delayed,
    /// Rekeying the IKE SA ahead of its lifetime (§2.8).
    IkeRekey,
    /// The end of the IKE SA's lifetime: it is deleted.
    IkeExpire,
    /// The end of a child SA's lifetime (by inbound SPI): it is deleted.
    ChildExpire(u32),
    /// Rekeying a child SA (by inbound SPI) ahead of its lifetime.
    ChildRekey(u32),
    /// A NAT keepalive (RFC 3948 §2.3): we are behind a NAT and sent nothing for the interval.
    Keepalive,
    /// A liveness check (§2.4): nothing heard from the peer for the configured time, and no
    /// exchange in flight or queued.
    Liveness,
}

/// The wait before the next retransmission after one of `wait`: doubled, at most
/// `max_interval`.
fn backoff(r: &Retransmit, wait: Duration) -> Duration {
    wait.saturating_mul(2).min(r.max_interval)
}

impl IkeSa {
    /// The timer table: every armed timer of this SA with the instant it falls due.
    ///
    /// Retransmission, the deadline and postponed exchanges run in any state; the lifetimes,
    /// keepalives and liveness checks only once the SA is established.
    pub(super) fn timers(&self, cfg: &Config) -> impl Iterator<Item = (Timer, Instant)> {
        let up = self.state == State::Established;
        let retransmit = self.pending.as_ref().map(|p| (Timer::Retransmit, p.next));
        let deadline = self.deadline.map(|t| (Timer::Deadline, t));
        let delayed = self.delayed.iter().map(|(t, _)| *t).min();
        let ike_rekey = self.rekey_at.filter(|_| up).map(|t| (Timer::IkeRekey, t));
        let ike_expire = self.expire_at.filter(|_| up).map(|t| (Timer::IkeExpire, t));
        let keepalive = (up && self.natt && self.nat_local)
            .then(|| (Timer::Keepalive, self.last_sent + cfg.nat_keepalive));
        let liveness = cfg
            .liveness_idle
            .filter(|_| up && self.pending.is_none() && self.actions.is_empty())
            .map(|idle| (Timer::Liveness, self.last_heard + idle));
        let children = self.children.iter().filter(move |_| up).flat_map(|c| {
            let rekey = (c.state == ChildState::Installed)
                .then_some((Timer::ChildRekey(c.spi_in), c.rekey_at));
            core::iter::once((Timer::ChildExpire(c.spi_in), c.expire_at)).chain(rekey)
        });
        [
            retransmit,
            deadline,
            delayed.map(|t| (Timer::Delayed, t)),
            ike_rekey,
            ike_expire,
            keepalive,
            liveness,
        ]
        .into_iter()
        .flatten()
        .chain(children)
    }

    /// When `timer` falls due, if it is armed.
    pub(super) fn timer(&self, cfg: &Config, timer: Timer) -> Option<Instant> {
        self.timers(cfg)
            .find(|(t, _)| *t == timer)
            .map(|(_, at)| at)
    }

    /// Whether `timer` is armed and due at `now`.
    pub(super) fn due(&self, cfg: &Config, timer: Timer, now: Instant) -> bool {
        self.timer(cfg, timer).is_some_and(|at| at <= now)
    }

    /// The child SAs (inbound SPIs) whose timer of this kind is due at `now`, in order.
    fn due_children(&self, cfg: &Config, now: Instant, kind: fn(u32) -> Timer) -> Vec<u32> {
        self.timers(cfg)
            .filter(|&(_, at)| at <= now)
            .filter_map(|(t, _)| match t {
                Timer::ChildExpire(spi) | Timer::ChildRekey(spi) if t == kind(spi) => Some(spi),
                _ => None,
            })
            .collect()
    }

    /// When [`IkeSa::handle_timeout`] must next run: the earliest entry of the timer table.
    pub(crate) fn next_timeout(&self, cfg: &Config) -> Option<Instant> {
        self.timers(cfg).map(|(_, at)| at).min()
    }

    /// Runs the timers due at `now`: retransmissions, deadlines, lifetimes, liveness checks,
    /// keepalives. With nothing due it changes nothing.
    pub(crate) fn handle_timeout(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        let cfg = cx.cfg;
        if self.due(cfg, Timer::Retransmit, now) && self.retransmit(cx, now) {
            return Ok(());
        }
        if self.due(cfg, Timer::Deadline, now) {
            self.deadline = None;
            match self.state {
                State::HalfOpen => {
                    self.down(cx, DownReason::HalfOpenExpired);
                    return Ok(());
                }
                State::Rekeyed => {
                    self.state = State::Dead;
                    return Ok(());
                }
                _ => {}
            }
        }
        if self.due(cfg, Timer::IkeExpire, now) {
            self.expire_at = None;
            self.close_reason = Some(DownReason::Closed);
            self.actions.clear();
            self.actions.push_back(Action::DeleteIke);
        } else if self.due(cfg, Timer::IkeRekey, now) {
            self.rekey_at = None;
            self.actions.push_back(Action::RekeyIke);
        }
        for spi in self.due_children(cfg, now, Timer::ChildExpire) {
            self.actions.push_back(Action::DeleteChild(spi));
            if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                c.expire_at = now + Duration::from_secs(3600 * 24 * 365);
                c.state = ChildState::Rekeyed;
            }
        }
        for spi in self.due_children(cfg, now, Timer::ChildRekey) {
            if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                c.rekey_at = c.expire_at;
                self.actions.push_back(Action::RekeyChild(spi));
            }
        }
        if self.due(cfg, Timer::Liveness, now) {
            self.actions.push_back(Action::Liveness);
        }
        if self.due(cfg, Timer::Keepalive, now) {
            self.last_sent = now;
            cx.transmit(Transmit::udp(
                self.local,
                self.remote,
                NAT_KEEPALIVE.to_vec(),
            ));
        }
        self.pump(cx, now)
    }

    /// The pending request's retransmission is due: sends it again after a doubled wait, or,
    /// after the configured tries, gives up on the peer. `true` if the SA gave up (and the rest
    /// of the timers do not matter any more).
    fn retransmit(&mut self, cx: &mut Cx<'_>, now: Instant) -> bool {
        let Some(p) = self.pending.as_mut() else {
            return false;
        };
        if p.sent >= cx.cfg.retransmit.tries {
            let req = self.pending.take().map(|p| p.req);
            match req {
                Some(Req::Init | Req::Auth) => self.down(cx, DownReason::Timeout),
                Some(Req::DeleteIke) => match self.close_reason {
                    Some(r) => self.down(cx, r),
                    None => self.state = State::Dead,
                },
                _ => {
                    cx.counters.peers_dead += 1;
                    cx.event(Event::PeerDead {
                        sa: self.id,
                        remote: self.remote,
                    });
                    self.down(cx, DownReason::PeerDead);
                }
            }
            return true;
        }
        p.sent += 1;
        p.wait = backoff(&cx.cfg.retransmit, p.wait);
        p.next = now + p.wait;
        let bytes = p.bytes.clone();
        cx.counters.retransmits += 1;
        self.send_raw(cx, now, &bytes);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::testutil::{
        config, deliver, down_reason, established, established_with, header, initiator, inner,
        shuttle,
    };
    use crate::wire::{ExchangeType, Payload};

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Retransmit {
            initial: secs(1),
            max_interval: secs(5),
            tries: 9,
        };
        let mut w = r.initial;
        let mut waits = Vec::new();
        for _ in 0..5 {
            w = backoff(&r, w);
            waits.push(w.as_secs());
        }
        assert_eq!(waits, vec![2, 4, 5, 5, 5]);
        assert_eq!(backoff(&r, Duration::MAX), secs(5), "no overflow");
    }

    #[test]
    fn the_table_holds_every_armed_deadline_and_poll_takes_the_earliest() {
        let t0 = Instant::now();
        let p = established(t0);
        let cfg = &p.ni.cfg;
        let spi = p.i.child_spis()[0];
        let kinds: Vec<Timer> = p.i.timers(cfg).map(|(t, _)| t).collect();
        assert_eq!(
            kinds,
            vec![
                Timer::IkeRekey,
                Timer::IkeExpire,
                Timer::Liveness,
                Timer::ChildExpire(spi),
                Timer::ChildRekey(spi),
            ],
            "no request pending, no NAT: no retransmission, no keepalive"
        );
        assert_eq!(p.i.timer(cfg, Timer::Liveness), Some(t0 + secs(30)));
        assert_eq!(p.i.timer(cfg, Timer::IkeExpire), Some(t0 + secs(86_400)));
        assert_eq!(
            p.i.timer(cfg, Timer::ChildExpire(spi)),
            Some(t0 + secs(3600))
        );
        // Rekeying 10 % (plus up to 5 % jitter) ahead of the child's hour.
        let rekey = p.i.timer(cfg, Timer::ChildRekey(spi)).unwrap();
        assert!(
            rekey >= t0 + secs(3060) && rekey <= t0 + secs(3240),
            "{rekey:?}"
        );
        let earliest = p.i.timers(cfg).map(|(_, at)| at).min();
        assert_eq!(p.i.next_timeout(cfg), earliest);
        assert_eq!(p.i.next_timeout(cfg), Some(t0 + secs(30)));

        // Without liveness checks the child's rekey comes first.
        let mut cfg_i = config("spoke", "hub", "secret", 1);
        cfg_i.liveness_idle = None;
        let q = established_with(cfg_i, config("hub", "spoke", "secret", 2), t0);
        let spi = q.i.child_spis()[0];
        assert_eq!(q.i.timer(&q.ni.cfg, Timer::Liveness), None);
        assert_eq!(
            q.i.next_timeout(&q.ni.cfg),
            q.i.timer(&q.ni.cfg, Timer::ChildRekey(spi))
        );
    }

    #[test]
    fn a_pending_request_arms_retransmission_and_disarms_liveness() {
        let t0 = Instant::now();
        let mut p = established(t0);
        let t1 = t0 + secs(5);
        p.ni.run(|cx| p.i.check_liveness(cx, t1)).unwrap();
        assert_eq!(p.ni.sent().len(), 1);
        let cfg = &p.ni.cfg;
        assert_eq!(p.i.timer(cfg, Timer::Retransmit), Some(t1 + secs(1)));
        assert_eq!(p.i.timer(cfg, Timer::Liveness), None);
        assert_eq!(p.i.next_timeout(cfg), Some(t1 + secs(1)));
    }

    #[test]
    fn a_spurious_timeout_changes_nothing() {
        let t0 = Instant::now();
        let mut p = established(t0);
        let before: Vec<_> = p.i.timers(&p.ni.cfg).collect();
        let counters = p.ni.counters;
        let early = p.i.next_timeout(&p.ni.cfg).unwrap() - Duration::from_millis(1);
        p.ni.run(|cx| p.i.handle_timeout(cx, early)).unwrap();
        assert!(p.ni.sent().is_empty());
        assert!(p.ni.events().is_empty());
        assert_eq!(p.ni.counters, counters);
        assert_eq!(p.i.timers(&p.ni.cfg).collect::<Vec<_>>(), before);
        assert_eq!(p.i.state, State::Established);
    }

    #[test]
    fn retransmissions_follow_the_schedule_then_give_up() {
        let t0 = Instant::now();
        let mut cfg = config("spoke", "hub", "secret", 1);
        cfg.retransmit = Retransmit {
            initial: secs(1),
            max_interval: secs(4),
            tries: 5,
        };
        let (mut n, mut sa) = initiator(cfg, t0);
        let first = n.sent_one();
        let mut at = Vec::new();
        while let Some(t) = sa.next_timeout(&n.cfg) {
            n.run(|cx| sa.handle_timeout(cx, t)).unwrap();
            at.push((t - t0).as_secs());
            for again in n.sent() {
                assert_eq!(again, first, "the same request, byte for byte");
            }
        }
        // Sent at 0, again after 1, 2, 4 and 4 (capped) seconds; at 15 the fifth goes
        // unanswered and the SA gives up.
        assert_eq!(at, vec![1, 3, 7, 11, 15]);
        assert_eq!(n.counters.retransmits, 4);
        assert_eq!(down_reason(&n.events()), Some(DownReason::Timeout));
        assert_eq!(sa.state, State::Dead);
    }

    #[test]
    fn keepalives_only_behind_a_nat_and_only_when_idle() {
        let t0 = Instant::now();
        let mut p = established(t0);
        // No NAT: never a keepalive.
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Keepalive), None);
        // Only the peer behind a NAT: it keeps the mapping open, not us.
        p.i.natt = true;
        p.i.nat_remote = true;
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Keepalive), None);
        // We are behind a NAT: 20 s after the last datagram we sent.
        p.i.nat_local = true;
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Keepalive), Some(t0 + secs(20)));
        // Sending something (a new child SA's exchange) postpones it.
        let t10 = t0 + secs(10);
        p.ni.run(|cx| p.i.create_child(cx, t10, None, None))
            .unwrap();
        assert_eq!(shuttle(&mut p, t10), 2);
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Keepalive), Some(t0 + secs(30)));
        p.ni.run(|cx| p.i.handle_timeout(cx, t0 + secs(20)))
            .unwrap();
        assert!(p.ni.sent().is_empty(), "not idle long enough yet");
        let t30 = t0 + secs(30);
        p.ni.run(|cx| p.i.handle_timeout(cx, t30)).unwrap();
        let ka = p.ni.sent_one();
        assert_eq!(ka.payload, NAT_KEEPALIVE);
        assert_eq!((ka.local(), ka.remote()), (p.i.local, p.i.remote));
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Keepalive), Some(t30 + secs(20)));
        // The responder, not behind a NAT, sends none.
        assert_eq!(p.r.timer(&p.nr.cfg, Timer::Keepalive), None);
    }

    #[test]
    fn liveness_check_after_the_configured_silence_and_peer_dead_without_answer() {
        let t0 = Instant::now();
        let mut p = established(t0);
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Liveness), Some(t0 + secs(30)));
        // Traffic from the peer postpones it.
        p.i.note_activity(t0 + secs(20));
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Liveness), Some(t0 + secs(50)));
        p.ni.run(|cx| p.i.handle_timeout(cx, t0 + secs(30)))
            .unwrap();
        assert!(p.ni.sent().is_empty());
        let t50 = t0 + secs(50);
        p.ni.run(|cx| p.i.handle_timeout(cx, t50)).unwrap();
        let check = p.ni.sent_one();
        assert_eq!(header(&check).exchange_type, ExchangeType::INFORMATIONAL);
        assert_eq!(
            inner(&p.r, &check),
            Vec::<Payload>::new(),
            "an empty INFORMATIONAL"
        );
        // Answered: the peer is alive, the next check 30 s after the answer.
        deliver(&mut p.nr, &mut p.r, t50, &check).unwrap();
        let answer = p.nr.sent_one();
        let t51 = t50 + secs(1);
        deliver(&mut p.ni, &mut p.i, t51, &answer).unwrap();
        assert!(p.ni.events().is_empty());
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Liveness), Some(t51 + secs(30)));
        // Unanswered: after the retransmissions, the peer is dead.
        while let Some(t) = p.i.next_timeout(&p.ni.cfg) {
            p.ni.run(|cx| p.i.handle_timeout(cx, t)).unwrap();
            if p.i.state == State::Dead {
                break;
            }
        }
        let events = p.ni.events();
        assert!(events.iter().any(|e| matches!(e, Event::PeerDead { .. })));
        assert_eq!(down_reason(&events), Some(DownReason::PeerDead));
        assert_eq!(p.ni.counters.peers_dead, 1);
    }
}
