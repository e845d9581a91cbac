//! Re-initiating an IKE SA that failed or went down: an exponential back-off with a cap, and a
//! report of every failure.
//!
//! A node that keeps a tunnel to a peer up (a spoke to its hub, `ipsec-peer --initiate`) starts
//! a new IKE SA when its current one is gone. If the peer keeps refusing
//! (AUTHENTICATION_FAILED, NO_PROPOSAL_CHOSEN) or does not answer, retrying at a fixed rate
//! forever wastes both sides' work; [`Reinitiator`] waits [`Backoff::initial`] after the first
//! failure, twice as long after each further one, at most [`Backoff::max`], and starts again
//! from `initial` once an SA came up. Sans-IO like the [`crate::Endpoint`]: it reads the
//! endpoint's events and tells the caller when to call [`crate::Endpoint::initiate`].

use std::time::{Duration, Instant};

use crate::event::{DownReason, Event, IkeSaId};

/// The waits between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure (and after an SA that was up goes down).
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 3 s, doubling, at most 5 minutes apart.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(3),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait after `failures` consecutive failures (1 for the first): `initial` doubled
    /// `failures - 1` times, at most `max`.
    pub fn wait(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// A failed or lost IKE SA and when the next attempt is due: what [`Reinitiator::handle_event`]
/// reports each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The SA that went down.
    pub sa: IkeSaId,
    /// Why.
    pub reason: DownReason,
    /// Consecutive failed attempts so far (1 after an SA that was up went down).
    pub failures: u32,
    /// The wait before the next attempt.
    pub wait: Duration,
    /// When the next attempt is due.
    pub at: Instant,
}

/// Keeps one IKE SA to a peer: when to (re-)initiate, with [`Backoff`].
#[derive(Debug, Clone)]
pub struct Reinitiator {
    backoff: Backoff,
    next: Option<Instant>,
    current: Option<IkeSaId>,
    up: bool,
    failures: u32,
}

impl Reinitiator {
    /// A reinitiator whose first attempt is due at `now`.
    pub fn new(backoff: Backoff, now: Instant) -> Self {
        Reinitiator {
            backoff,
            next: Some(now),
            current: None,
            up: false,
            failures: 0,
        }
    }

    /// When the next attempt is due, if one is scheduled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// Whether an attempt is due at `now`; if so it is taken (call
    /// [`crate::Endpoint::initiate`], then [`Reinitiator::started`], or
    /// [`Reinitiator::start_failed`] if initiating was refused).
    pub fn due(&mut self, now: Instant) -> bool {
        if self.next.is_some_and(|t| t <= now) {
            self.next = None;
            true
        } else {
            false
        }
    }

    /// The attempt started as IKE SA `sa`.
    pub fn started(&mut self, sa: IkeSaId) {
        self.current = Some(sa);
        self.up = false;
    }

    /// Initiating was refused (admission control, no key for the peer): counted as a failure,
    /// the next attempt after the back-off. Returns when it is due.
    pub fn start_failed(&mut self, now: Instant) -> Instant {
        self.failures = self.failures.saturating_add(1);
        let at = now + self.backoff.wait(self.failures);
        self.next = Some(at);
        at
    }

    /// Consecutive failed attempts so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Follows the endpoint's events for the SA it started: up (the back-off starts over),
    /// rekeyed (the new SA is followed), down (the next attempt is scheduled and reported).
    pub fn handle_event(&mut self, now: Instant, event: &Event) -> Option<Retry> {
        match *event {
            Event::IkeUp { sa, .. } if Some(sa) == self.current => {
                self.up = true;
                self.failures = 0;
                None
            }
            Event::IkeRekeyed { old, new, .. } if Some(old) == self.current => {
                self.current = Some(new);
                None
            }
            Event::IkeDown { sa, reason } if Some(sa) == self.current => {
                self.current = None;
                self.failures = if self.up {
                    1
                } else {
                    self.failures.saturating_add(1)
                };
                self.up = false;
                let wait = self.backoff.wait(self.failures);
                let at = now + wait;
                self.next = Some(at);
                Some(Retry {
                    sa,
                    reason,
                    failures: self.failures,
                    wait,
                    at,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::NotifyType;

    fn down(sa: u64, reason: DownReason) -> Event {
        Event::IkeDown {
            sa: IkeSaId(sa),
            reason,
        }
    }

    #[test]
    fn refusals_back_off_exponentially_up_to_the_cap_and_each_is_reported() {
        let t0 = Instant::now();
        let mut r = Reinitiator::new(Backoff::default(), t0);
        assert!(r.due(t0));
        assert!(!r.due(t0), "taken");
        let mut now = t0;
        let mut waits = Vec::new();
        for attempt in 1..=10u64 {
            r.started(IkeSaId(attempt));
            let reason = if attempt % 2 == 0 {
                DownReason::AuthenticationFailed
            } else {
                DownReason::Refused(NotifyType::NO_PROPOSAL_CHOSEN)
            };
            let retry = r.handle_event(now, &down(attempt, reason)).unwrap();
            assert_eq!((retry.sa, retry.reason), (IkeSaId(attempt), reason));
            assert_eq!(retry.failures, u32::try_from(attempt).unwrap());
            assert_eq!(r.poll_timeout(), Some(retry.at));
            assert!(!r.due(retry.at - Duration::from_millis(1)));
            assert!(r.due(retry.at));
            waits.push(retry.wait.as_secs());
            now = retry.at;
        }
        assert_eq!(waits, [3, 6, 12, 24, 48, 96, 192, 300, 300, 300]);
    }

    #[test]
    fn an_sa_that_came_up_starts_the_back_off_over() {
        let t0 = Instant::now();
        let mut r = Reinitiator::new(Backoff::default(), t0);
        r.due(t0);
        for i in 1..=3 {
            r.started(IkeSaId(i));
            r.handle_event(t0, &down(i, DownReason::Timeout)).unwrap();
        }
        assert_eq!(r.failures(), 3);
        r.started(IkeSaId(4));
        assert!(
            r.handle_event(t0, &down(99, DownReason::Timeout)).is_none(),
            "not ours"
        );
        // Up, rekeyed into SA 5, then lost: the first wait again.
        let provider = crate::crypto::IkeCryptoProvider::rustcrypto(std::sync::Arc::new(
            dmvpn_esp::crypto::ChaChaRandom::from_seed([1; 32]),
        ));
        let suite = crate::transform::IkeSuite::parse("aes128-sha256-x25519").unwrap();
        let keys =
            crate::keys::IkeSaKeys::derive(&provider, &suite, &[7; 32], &[1; 16], &[2; 16], 1, 2)
                .unwrap();
        let up = Event::IkeUp {
            sa: IkeSaId(4),
            local: "192.0.2.1:500".parse().unwrap(),
            remote: "192.0.2.2:500".parse().unwrap(),
            initiator: true,
            spi_i: 1,
            spi_r: 2,
            suite,
            peer_id: crate::wire::Identity::fqdn("hub"),
            keys: std::sync::Arc::new(keys.clone()),
            nat: false,
            behind_nat: false,
        };
        assert!(r.handle_event(t0, &up).is_none());
        assert_eq!(r.failures(), 0);
        let rekeyed = Event::IkeRekeyed {
            old: IkeSaId(4),
            new: IkeSaId(5),
            spi_i: 3,
            spi_r: 4,
            suite,
            keys: std::sync::Arc::new(keys),
        };
        assert!(r.handle_event(t0, &rekeyed).is_none());
        assert!(
            r.handle_event(t0, &down(4, DownReason::Closed)).is_none(),
            "the old one"
        );
        assert!(
            r.handle_event(t0, &down(5, DownReason::PeerDead))
                .is_some_and(|x| x.failures == 1 && x.wait == Duration::from_secs(3))
        );
        // Refused before it could even start.
        let at = r.start_failed(t0);
        assert_eq!(at, t0 + Duration::from_secs(6));
    }
}
