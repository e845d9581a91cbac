//! CREATE_CHILD_SA rekeying the IKE SA (RFC 7296 §1.3.2, §2.18): the new SA's keys from the old
//! SK_d, its child SAs moved over, the old SA retired, busy peers answered with
//! TEMPORARY_FAILURE and retried after a random wait (§2.25).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Error;
use crate::event::Event;
use crate::keys::IkeSaKeys;
use crate::negotiate::{accepted, ke_group, offers_group, select};
use crate::sk::SkCrypto;
use crate::transform::{IkeSuite, KeGroup};
use crate::wire::{ExchangeType, KePayload, NotifyType, Payload, SaPayload};

use super::{
    Action, ChildState, Cx, IkeRekeyReq, IkeSa, NONCE_LEN, Req, State, error_notify, find_notify,
    found, notify, requested_group, spi64, with_spi,
};

impl IkeSa {
    pub(super) fn start_ike_rekey(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        group: Option<KeGroup>,
    ) -> Result<(), Error> {
        let spi = cx.ike_spi()?;
        let nonce = cx.random(NONCE_LEN)?;
        let group = group
            .or_else(|| cx.cfg.ike_proposals.first().and_then(ke_group))
            .ok_or(Error::InvalidConfig("IKE proposal without key exchange"))?;
        let ke = cx.cfg.provider.start_key_exchange(group)?;
        let proposals = with_spi(&cx.cfg.ike_proposals, &spi.to_be_bytes());
        let payloads = vec![
            Payload::Sa(SaPayload {
                proposals: proposals.clone(),
            }),
            Payload::Nonce(nonce.clone()),
            Payload::Ke(KePayload {
                group,
                data: ke.public_value().to_vec(),
            }),
        ];
        let req = IkeRekeyReq {
            spi,
            nonce,
            ke,
            proposals,
        };
        self.request(
            cx,
            now,
            ExchangeType::CREATE_CHILD_SA,
            &payloads,
            Req::RekeyIke(Box::new(req)),
        )
    }

    /// The SA that replaces this one after a rekey: same peer, addresses and children.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn successor(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        initiator: bool,
        spi_i: u64,
        spi_r: u64,
        suite: IkeSuite,
        keys: IkeSaKeys,
    ) -> Result<(), Error> {
        let id = cx.new_id();
        let mut n = IkeSa::blank(id, now, self.local, self.remote);
        n.initiator = initiator;
        n.spi_i = spi_i;
        n.spi_r = spi_r;
        n.nat_local = self.nat_local;
        n.nat_remote = self.nat_remote;
        n.natt = self.natt;
        n.sk = Some(SkCrypto::new(&cx.cfg.provider, &suite, &keys, initiator)?);
        n.suite = Some(suite);
        n.peer_id = self.peer_id.clone();
        n.state = State::Established;
        n.last_heard = now;
        n.rekey_at = Some(cx.rekey_time(now, cx.cfg.ike_lifetime)?);
        n.expire_at = Some(now + cx.cfg.ike_lifetime);
        n.children = core::mem::take(&mut self.children);
        for c in &mut n.children {
            if c.state == ChildState::Rekeying {
                c.state = ChildState::Installed;
            }
        }
        cx.counters.ike_rekeys += 1;
        let keys = Arc::new(keys);
        cx.event(Event::IkeRekeyed {
            old: self.id,
            new: id,
            spi_i,
            spi_r,
            suite,
            keys: Arc::clone(&keys),
        });
        n.keys = Some(keys);
        cx.new_sas.push(n);
        Ok(())
    }

    pub(super) fn handle_ike_rekey_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        let ex = ExchangeType::CREATE_CHILD_SA;
        let fail = |t: NotifyType, d: &[u8]| [notify(t, d)];
        if self.pending.is_some() || self.state != State::Established {
            // §2.25.2: busy (our own rekey or another exchange in flight); the peer retries.
            return self.respond(cx, now, ex, mid, &fail(NotifyType::TEMPORARY_FAILURE, &[]));
        }
        let f = found(p);
        let (Some(sa), Some(ni), Some(ke)) = (f.sa, f.nonce, f.ke) else {
            return self.respond(cx, now, ex, mid, &fail(NotifyType::INVALID_SYNTAX, &[]));
        };
        let Some(mut chosen) = select(&cx.cfg.ike_proposals, &sa.proposals) else {
            return self.respond(cx, now, ex, mid, &fail(NotifyType::NO_PROPOSAL_CHOSEN, &[]));
        };
        let (Ok(suite), Some(spi_i)) = (IkeSuite::from_proposal(&chosen), spi64(&chosen.spi))
        else {
            return self.respond(cx, now, ex, mid, &fail(NotifyType::NO_PROPOSAL_CHOSEN, &[]));
        };
        if ke.group != suite.group {
            let g = suite.group.0.to_be_bytes();
            return self.respond(cx, now, ex, mid, &fail(NotifyType::INVALID_KE_PAYLOAD, &g));
        }
        let kex = cx.cfg.provider.start_key_exchange(suite.group)?;
        let Ok(shared) = kex.complete(&ke.data) else {
            return self.respond(cx, now, ex, mid, &fail(NotifyType::INVALID_SYNTAX, &[]));
        };
        let (Some(old_keys), Some(old_suite)) = (&self.keys, self.suite) else {
            return Ok(());
        };
        let spi_r = cx.ike_spi()?;
        let nr = cx.random(NONCE_LEN)?;
        let keys = old_keys.derive_rekey(
            &cx.cfg.provider,
            old_suite.prf,
            &suite,
            shared.as_bytes(),
            ni,
            &nr,
            spi_i,
            spi_r,
        )?;
        chosen.spi = spi_r.to_be_bytes().to_vec();
        let out = [
            Payload::Sa(SaPayload {
                proposals: vec![chosen],
            }),
            Payload::Nonce(nr),
            Payload::Ke(KePayload {
                group: suite.group,
                data: kex.public_value().to_vec(),
            }),
        ];
        self.respond(cx, now, ex, mid, &out)?;
        self.successor(cx, now, false, spi_i, spi_r, suite, keys)?;
        self.state = State::Rekeyed;
        self.actions.clear();
        self.deadline = Some(now + cx.cfg.half_open_timeout);
        Ok(())
    }

    pub(super) fn finish_ike_rekey(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        req: IkeRekeyReq,
        p: &[Payload],
    ) -> Result<(), Error> {
        let retry = |cx: &mut Cx<'_>, s: &mut IkeSa| {
            let wait =
                Duration::from_secs(1) + cx.jitter(Duration::from_secs(3)).unwrap_or_default();
            s.delayed.push((now + wait, Action::RekeyIke));
        };
        if let Some(n) = find_notify(p, NotifyType::INVALID_KE_PAYLOAD) {
            let g = requested_group(n);
            if let Some(g) = g
                && g != req.ke.group()
                && offers_group(&cx.cfg.ike_proposals, g)
            {
                return self.start_ike_rekey(cx, now, Some(g));
            }
        }
        if error_notify(p).is_some() {
            retry(cx, self);
            return Ok(());
        }
        let f = found(p);
        let (Some(sa), Some(nr), Some(ker)) = (f.sa, f.nonce, f.ke) else {
            retry(cx, self);
            return Ok(());
        };
        let chosen = match sa.proposals.as_slice() {
            [c] if accepted(&req.proposals, c) => c,
            _ => {
                retry(cx, self);
                return Ok(());
            }
        };
        let (Ok(suite), Some(spi_r)) = (IkeSuite::from_proposal(chosen), spi64(&chosen.spi)) else {
            retry(cx, self);
            return Ok(());
        };
        if suite.group != req.ke.group() || ker.group != suite.group {
            retry(cx, self);
            return Ok(());
        }
        let Ok(shared) = req.ke.complete(&ker.data) else {
            retry(cx, self);
            return Ok(());
        };
        let (Some(old_keys), Some(old_suite)) = (&self.keys, self.suite) else {
            return Ok(());
        };
        let keys = old_keys.derive_rekey(
            &cx.cfg.provider,
            old_suite.prf,
            &suite,
            shared.as_bytes(),
            &req.nonce,
            nr,
            req.spi,
            spi_r,
        )?;
        self.successor(cx, now, true, req.spi, spi_r, suite, keys)?;
        // The old SA is deleted by the rekey's initiator (§1.3.2), silently for the caller.
        self.state = State::Deleting;
        self.close_reason = None;
        self.actions.clear();
        self.actions.push_back(Action::DeleteIke);
        Ok(())
    }

    /// Queues an IKE SA rekey.
    pub(crate) fn rekey_ike(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        if !self.actions.contains(&Action::RekeyIke) {
            self.actions.push_back(Action::RekeyIke);
        }
        self.pump(cx, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::testutil::{Pair, deliver, established, shuttle};
    use crate::ike::timers::Timer;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_rekey_moves_the_children_to_a_successor_and_retires_the_old_sa_silently() {
        let now = Instant::now();
        let mut p = established(now);
        let children = p.i.child_spis();
        let (old_i, old_spis) = (p.i.id, (p.i.spi_i, p.i.spi_r));
        p.ni.run(|cx| p.i.rekey_ike(cx, now)).unwrap();
        deliver(&mut p.nr, &mut p.r, now, &p.ni.sent_one()).unwrap();
        assert_eq!(p.r.state, State::Rekeyed);
        assert!(p.r.children.is_empty());
        deliver(&mut p.ni, &mut p.i, now, &p.nr.sent_one()).unwrap();
        assert_eq!(
            p.i.state,
            State::Deleting,
            "the rekey's initiator deletes the old SA"
        );
        // The old SA's Delete and its answer.
        assert_eq!(shuttle(&mut p, now), 2);
        assert_eq!((p.i.state, p.r.state), (State::Dead, State::Dead));
        let (ei, er) = (p.ni.events(), p.nr.events());
        for e in [&ei, &er] {
            assert!(
                e.iter().all(|e| matches!(e, Event::IkeRekeyed { .. })) && e.len() == 1,
                "only IkeRekeyed, no IkeDown, no ChildDeleted: {e:?}"
            );
        }
        assert!(matches!(ei[0], Event::IkeRekeyed { old, .. } if old == old_i));
        let (ni, nr) = (p.ni.new_sas.pop().unwrap(), p.nr.new_sas.pop().unwrap());
        assert_eq!((ni.spi_i, ni.spi_r), (nr.spi_i, nr.spi_r));
        assert_ne!((ni.spi_i, ni.spi_r), old_spis);
        assert_eq!((ni.initiator, nr.initiator), (true, false));
        assert_eq!(ni.child_spis(), children);
        assert_eq!(ni.state, State::Established);
        assert_eq!(p.ni.counters.ike_rekeys, 1);
        // The successors share keys: a liveness check goes through.
        let mut q = Pair {
            ni: p.ni,
            i: ni,
            nr: p.nr,
            r: nr,
        };
        q.ni.run(|cx| q.i.check_liveness(cx, now)).unwrap();
        assert_eq!(shuttle(&mut q, now), 2);
        assert!(q.i.pending.is_none());
        assert_eq!(q.ni.counters.dropped + q.nr.counters.dropped, 0);
    }

    #[test]
    fn a_busy_peer_answers_temporary_failure_and_we_retry_later() {
        let t0 = Instant::now();
        let mut p = established(t0);
        // The responder has a request of its own in flight.
        p.nr.run(|cx| p.r.check_liveness(cx, t0)).unwrap();
        let _in_flight = p.nr.sent_one();
        p.ni.run(|cx| p.i.rekey_ike(cx, t0)).unwrap();
        deliver(&mut p.nr, &mut p.r, t0, &p.ni.sent_one()).unwrap();
        deliver(&mut p.ni, &mut p.i, t0, &p.nr.sent_one()).unwrap();
        assert!(p.ni.new_sas.is_empty() && p.nr.new_sas.is_empty());
        assert_eq!(
            (p.i.state, p.r.state),
            (State::Established, State::Established)
        );
        let [(at, Action::RekeyIke)] = p.i.delayed.as_slice() else {
            panic!("no retry queued: {:?}", p.i.delayed);
        };
        assert!(*at >= t0 + secs(1) && *at <= t0 + secs(4));
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Delayed), Some(*at));
    }

    #[test]
    fn simultaneous_rekeys_both_back_off_and_one_succeeds() {
        let t0 = Instant::now();
        let mut p = established(t0);
        p.ni.run(|cx| p.i.rekey_ike(cx, t0)).unwrap();
        p.nr.run(|cx| p.r.rekey_ike(cx, t0)).unwrap();
        let (a, b) = (p.ni.sent_one(), p.nr.sent_one());
        deliver(&mut p.nr, &mut p.r, t0, &a).unwrap();
        deliver(&mut p.ni, &mut p.i, t0, &b).unwrap();
        shuttle(&mut p, t0);
        assert!(
            p.ni.new_sas.is_empty() && p.nr.new_sas.is_empty(),
            "both refused"
        );
        let retry = |sa: &IkeSa| match sa.delayed.as_slice() {
            [(at, Action::RekeyIke)] => *at,
            other => panic!("{other:?}"),
        };
        let (ti, tr) = (retry(&p.i), retry(&p.r));
        let first = ti.min(tr);
        p.ni.run(|cx| p.i.handle_timeout(cx, first)).unwrap();
        p.nr.run(|cx| p.r.handle_timeout(cx, first)).unwrap();
        shuttle(&mut p, first);
        assert_eq!((p.ni.new_sas.len(), p.nr.new_sas.len()), (1, 1));
        assert_eq!((p.i.state, p.r.state), (State::Dead, State::Dead));
        let (ni, nr) = (&p.ni.new_sas[0], &p.nr.new_sas[0]);
        assert_eq!((ni.spi_i, ni.spi_r), (nr.spi_i, nr.spi_r));
        // Whoever retried first started the rekey and is the new SA's initiator.
        assert_eq!(ni.initiator, ti <= tr);
    }
}
