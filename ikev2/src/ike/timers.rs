use super::{Action, ChildState, Cx, IkeSa, Req, State};
use crate::config::Config;
use crate::event::{DownReason, Event};
use crate::{Error, Transmit};
use dmvpn_esp::wire::udp_encap::NAT_KEEPALIVE;
use std::time::{Duration, Instant};

impl IkeSa {
    pub(super) fn keepalive_due(&self, cx: &Cx<'_>) -> Option<Instant> {
        (self.natt && self.nat_local && self.state == State::Established)
            .then(|| self.last_sent + cx.cfg.nat_keepalive)
    }

    pub(super) fn liveness_due(&self, cx: &Cx<'_>) -> Option<Instant> {
        let idle = cx.cfg.liveness_idle?;
        (self.state == State::Established && self.pending.is_none() && self.actions.is_empty())
            .then(|| self.last_heard + idle)
    }

    /// When [`IkeSa::handle_timeout`] must next run.
    pub(crate) fn next_timeout(&self, cfg: &Config) -> Option<Instant> {
        let cx_cfg = cfg;
        let mut t: Option<Instant> = None;
        let mut add = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        add(self.pending.as_ref().map(|p| p.next));
        add(self.deadline);
        add(self.delayed.iter().map(|(t, _)| *t).min());
        if self.state == State::Established {
            add(self.rekey_at);
            add(self.expire_at);
            for c in &self.children {
                add(Some(c.expire_at));
                if c.state == ChildState::Installed {
                    add(Some(c.rekey_at));
                }
            }
            if self.natt && self.nat_local {
                add(Some(self.last_sent + cx_cfg.nat_keepalive));
            }
            if let Some(idle) = cx_cfg.liveness_idle
                && self.pending.is_none()
                && self.actions.is_empty()
            {
                add(Some(self.last_heard + idle));
            }
        }
        t
    }

    /// Retransmissions, lifetimes, liveness checks, keepalives.
    pub(crate) fn handle_timeout(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        if let Some(p) = self.pending.as_mut()
            && p.next <= now
        {
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
                return Ok(());
            }
            p.sent += 1;
            p.wait = (p.wait * 2).min(cx.cfg.retransmit.max_interval);
            p.next = now + p.wait;
            let bytes = p.bytes.clone();
            cx.counters.retransmits += 1;
            self.send_raw(cx, now, &bytes);
        }
        if self.deadline.is_some_and(|d| d <= now) {
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
        if self.state == State::Established {
            if self.expire_at.is_some_and(|t| t <= now) {
                self.expire_at = None;
                self.close_reason = Some(DownReason::Closed);
                self.actions.clear();
                self.actions.push_back(Action::DeleteIke);
            } else if self.rekey_at.is_some_and(|t| t <= now) {
                self.rekey_at = None;
                self.actions.push_back(Action::RekeyIke);
            }
            let expired: Vec<u32> = self
                .children
                .iter()
                .filter(|c| c.expire_at <= now)
                .map(|c| c.spi_in)
                .collect();
            for spi in expired {
                self.actions.push_back(Action::DeleteChild(spi));
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                    c.expire_at = now + Duration::from_secs(3600 * 24 * 365);
                    c.state = ChildState::Rekeyed;
                }
            }
            for c in &mut self.children {
                if c.state == ChildState::Installed && c.rekey_at <= now {
                    c.rekey_at = c.expire_at;
                    self.actions.push_back(Action::RekeyChild(c.spi_in));
                }
            }
            if self.liveness_due(cx).is_some_and(|t| t <= now) {
                self.actions.push_back(Action::Liveness);
            }
            if self.keepalive_due(cx).is_some_and(|t| t <= now) {
                self.last_sent = now;
                cx.transmit(Transmit::udp(
                    self.local,
                    self.remote,
                    NAT_KEEPALIVE.to_vec(),
                ));
            }
        }
        self.pump(cx, now)
    }
}
