//! Phase 3 redirects (`ip nhrp redirect`): when a flow the hub hairpins gets a Traffic
//! Indication.
//!
//! A Traffic Indication is one unacknowledged datagram: nothing tells the hub it arrived,
//! and a spoke cannot ask for one it never got. What the hub does see is the flow itself:
//! until the spoke has its shortcut, the flow's packets keep coming through the hub. So the
//! rate limit is per flow (inner source and destination) and follows the flow:
//!
//! - its first hairpinned packet gets a Traffic Indication at once;
//! - while it keeps hairpinning, the next ones may go [`ServerConfig::redirect_retry`]
//!   apart (2 s by default), for [`ServerConfig::redirect_retries`] quick retries (8): a
//!   spoke that got an indication has its shortcut within a round trip or two, so a flow
//!   still hairpinning seconds later most likely lost it, or lost the resolution it started
//!   (which each indication restarts on the spoke);
//! - after those, one per [`ServerConfig::redirect_interval`] (10 s) for as long as it
//!   hairpins: a spoke that ignores indications (no `ip nhrp shortcut`) gets 9 in its first
//!   16 s or so and then no more than before, and one still converging keeps being reminded;
//! - a flow that did not hairpin for a whole `redirect_interval` (it went direct, or
//!   stopped) starts over when it comes back.
//!
//! Nothing is sent without a hairpinned packet, so a flow slower than one packet per
//! `redirect_retry` gets one indication per packet at most. With one indication per 10 s
//! only, 30% loss on every link left one spoke-to-spoke direction in 170 to 400 without its
//! shortcut after 50 s of pings (`dmvpn-core/tests/phase3_loss.rs`, `dmvpn-sim --phase 3
//! --loss 0.3`): its four or five indications were all lost. IOS rate-limits redirects per
//! flow as well (`ip nhrp redirect timeout`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::ServerConfig;

/// The redirect schedule of one flow.
#[derive(Debug, Clone, Copy)]
struct Flow {
    /// When its last Traffic Indication went.
    sent_at: Instant,
    /// When it last hairpinned.
    seen_at: Instant,
    /// Traffic Indications in its current run (since it last started hairpinning).
    sent: u32,
}

/// What [`Redirects::check`] says of a hairpinned packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Send a Traffic Indication (and then call [`Redirects::sent`]).
    Send,
    /// The flow's rate limit holds it back.
    Wait,
    /// A new flow, and the table of flows is full of live ones.
    Full,
}

/// The flows remembered for the redirect rate limit, at most `max_redirect_pairs`.
#[derive(Debug, Clone, Default)]
pub(super) struct Redirects {
    // Looked up by key only, never iterated where the order reaches output.
    flows: HashMap<(IpAddr, IpAddr), Flow>,
}

/// The schedule's settings, from the server's configuration.
#[derive(Debug, Clone, Copy)]
struct Limits {
    interval: Duration,
    retry: Duration,
    retries: u32,
    max: usize,
}

impl Limits {
    fn of(c: &ServerConfig) -> Limits {
        Limits {
            interval: c.redirect_interval,
            retry: c.redirect_retry,
            retries: c.redirect_retries,
            max: c.max_redirect_pairs,
        }
    }
}

impl Redirects {
    /// Flows remembered.
    pub(super) fn len(&self) -> usize {
        self.flows.len()
    }

    /// Flow `src` → `dst` hairpinned at `now`: whether it gets a Traffic Indication now.
    pub(super) fn check(
        &mut self,
        config: &ServerConfig,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
    ) -> Verdict {
        let l = Limits::of(config);
        if let Some(f) = self.flows.get_mut(&(src, dst)) {
            if now.saturating_duration_since(f.seen_at) >= l.interval {
                // Quiet for a whole interval: a new run.
                f.sent = 0;
            }
            f.seen_at = now;
            let wait = if f.sent == 0 {
                Duration::ZERO
            } else if f.sent <= l.retries {
                l.retry
            } else {
                l.interval
            };
            return if now.saturating_duration_since(f.sent_at) >= wait {
                Verdict::Send
            } else {
                Verdict::Wait
            };
        }
        if self.flows.len() >= l.max {
            // A flow quiet for an interval is as good as forgotten.
            self.flows
                .retain(|_, f| now.saturating_duration_since(f.seen_at) < l.interval);
            if self.flows.len() >= l.max {
                return Verdict::Full;
            }
        }
        Verdict::Send
    }

    /// A Traffic Indication for flow `src` → `dst` went at `now` (after [`Verdict::Send`]).
    pub(super) fn sent(&mut self, now: Instant, src: IpAddr, dst: IpAddr) {
        let f = self.flows.entry((src, dst)).or_insert(Flow {
            sent_at: now,
            seen_at: now,
            sent: 0,
        });
        f.sent_at = now;
        f.seen_at = now;
        f.sent = f.sent.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ms(m: u64) -> Duration {
        Duration::from_millis(m)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn config(f: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
        let mut c = ServerConfig::new(ip("172.17.0.1"), ip("10.0.0.1"));
        f(&mut c);
        c
    }

    /// Offers flow `src` → `dst` a hairpinned packet at every `step` from `t0` until `end`;
    /// returns when Traffic Indications went, as offsets from `t0`.
    fn run(
        r: &mut Redirects,
        c: &ServerConfig,
        t0: Instant,
        (src, dst): (IpAddr, IpAddr),
        step: Duration,
        end: Duration,
    ) -> Vec<Duration> {
        let mut sent = Vec::new();
        let mut at = Duration::ZERO;
        while at < end {
            if r.check(c, t0 + at, src, dst) == Verdict::Send {
                r.sent(t0 + at, src, dst);
                sent.push(at);
            }
            at += step;
        }
        sent
    }

    #[test]
    fn a_hairpinning_flow_gets_quick_retries_then_one_indication_per_interval() {
        let t0 = Instant::now();
        let c = config(|_| {});
        assert_eq!(c.redirect_retry, secs(2));
        assert_eq!(c.redirect_retries, 8);
        assert_eq!(c.redirect_interval, secs(10));
        let mut r = Redirects::default();
        let flow = (ip("192.168.2.37"), ip("192.168.1.25"));
        // A packet every 500 ms that never stops hairpinning (the indications are lost, or
        // the spoke ignores them): at once, eight more 2 s apart, then every 10 s.
        let sent = run(&mut r, &c, t0, flow, ms(500), secs(60));
        let expect: Vec<Duration> = [0, 2, 4, 6, 8, 10, 12, 14, 16, 26, 36, 46, 56]
            .into_iter()
            .map(secs)
            .collect();
        assert_eq!(sent, expect);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn the_retry_waits_for_the_next_hairpinned_packet_and_never_comes_early() {
        let t0 = Instant::now();
        let c = config(|_| {});
        let mut r = Redirects::default();
        let flow = (ip("192.168.2.37"), ip("192.168.1.25"));
        // One packet every 3 s: each quick retry goes with the first packet 2 s after the
        // last indication, and after the eight of them, every fourth packet (12 s).
        let sent = run(&mut r, &c, t0, flow, secs(3), secs(50));
        let expect: Vec<Duration> = [0, 3, 6, 9, 12, 15, 18, 21, 24, 36, 48]
            .into_iter()
            .map(secs)
            .collect();
        assert_eq!(sent, expect);
        // Within 2 s of an indication nothing goes, whatever the traffic.
        let mut r = Redirects::default();
        r.sent(t0, flow.0, flow.1);
        assert_eq!(r.check(&c, t0 + ms(1999), flow.0, flow.1), Verdict::Wait);
        assert_eq!(r.check(&c, t0 + secs(2), flow.0, flow.1), Verdict::Send);
    }

    #[test]
    fn a_flow_quiet_for_an_interval_starts_over_and_flows_are_limited_separately() {
        let t0 = Instant::now();
        let c = config(|_| {});
        let mut r = Redirects::default();
        let a = (ip("192.168.2.37"), ip("192.168.1.25"));
        let b = (ip("192.168.2.37"), ip("192.168.3.9"));
        // Nine indications use up the quick retries...
        assert_eq!(run(&mut r, &c, t0, a, secs(2), secs(18)).len(), 9);
        assert_eq!(r.check(&c, t0 + secs(18), a.0, a.1), Verdict::Wait);
        // ...but another destination is another flow.
        assert_eq!(r.check(&c, t0 + secs(18), b.0, b.1), Verdict::Send);
        // Flow a hairpinned last at 18 s; back at 28 s (a whole interval later, say its
        // shortcut expired) it starts over: at once, then 2 s later.
        let t1 = t0 + secs(28);
        assert_eq!(
            run(&mut r, &c, t1, a, secs(1), secs(3)),
            vec![secs(0), secs(2)]
        );
    }

    #[test]
    fn no_quick_retries_keeps_one_indication_per_interval() {
        let t0 = Instant::now();
        let c = config(|c| c.redirect_retries = 0);
        let mut r = Redirects::default();
        let flow = (ip("192.168.2.37"), ip("192.168.1.25"));
        let sent = run(&mut r, &c, t0, flow, secs(1), secs(35));
        assert_eq!(sent, vec![secs(0), secs(10), secs(20), secs(30)]);
    }

    #[test]
    fn a_full_table_forgets_quiet_flows_and_refuses_new_ones_while_all_are_live() {
        let t0 = Instant::now();
        let c = config(|c| c.max_redirect_pairs = 2);
        let mut r = Redirects::default();
        let flow = |i: u8| (ip(&format!("192.168.2.{i}")), ip("192.168.1.25"));
        for i in 1..=2 {
            let (s, d) = flow(i);
            assert_eq!(r.check(&c, t0, s, d), Verdict::Send);
            r.sent(t0, s, d);
        }
        let (s3, d3) = flow(3);
        assert_eq!(r.check(&c, t0 + secs(5), s3, d3), Verdict::Full);
        // Flow 1 keeps hairpinning; flow 2 goes quiet: at 10 s flow 2 is forgotten.
        let (s1, d1) = flow(1);
        assert_eq!(r.check(&c, t0 + secs(6), s1, d1), Verdict::Send);
        r.sent(t0 + secs(6), s1, d1);
        assert_eq!(r.check(&c, t0 + secs(10), s3, d3), Verdict::Send);
        r.sent(t0 + secs(10), s3, d3);
        assert_eq!(r.len(), 2);
    }
}
