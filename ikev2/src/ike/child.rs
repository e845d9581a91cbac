//! CREATE_CHILD_SA for child SAs (RFC 7296 §1.3.1, §1.3.3): proposing, accepting and installing
//! a new child SA or a child SA rekey, with traffic selector narrowing (§2.9), PFS, the §2.8.1
//! rule for simultaneous rekeys and the retry after TEMPORARY_FAILURE (§2.25).

use std::time::{Duration, Instant};

use dmvpn_esp::{Lifetime, Lifetimes, Mode, SaConfig};

use crate::event::{ChildSaUp, Event};
use crate::keys::ChildSaKeys;
use crate::negotiate::{
    accepted, esn, ke_group, narrow, offers_group, select, ts_any_address, ts_subset, ts_with_host,
    without_ke,
};
use crate::transform::KeGroup;
use crate::wire::{
    ExchangeType, KePayload, NotifyPayload, NotifyType, Payload, Proposal, ProtocolId, SaPayload,
    TrafficSelector, TsPayload,
};
use crate::{Error, Secret};

use super::{
    Action, Child, ChildReq, ChildState, Cx, IkeSa, NONCE_LEN, NewChild, Req, error_notify,
    esp_suite, find_notify, found, notify, requested_group, spi32, with_spi,
};

impl IkeSa {
    /// The responder's side of a child SA proposal (IKE_AUTH or CREATE_CHILD_SA): selection,
    /// key exchange, narrowing; returns the response payloads and the child to install, or the
    /// error notification to answer with.
    pub(super) fn accept_child(
        &mut self,
        cx: &mut Cx<'_>,
        p: &[Payload],
        ni: &[u8],
        auth_nr: Option<&[u8]>,
        rekey_of: Option<u32>,
    ) -> Result<(Vec<Payload>, NewChild), (NotifyType, Vec<u8>)> {
        let plain = |t: NotifyType| (t, Vec::new());
        let in_auth = auth_nr.is_some();
        let f = found(p);
        let (Some(sa), Some(tsi), Some(tsr)) = (f.sa, f.tsi, f.tsr) else {
            return Err(plain(NotifyType::INVALID_SYNTAX));
        };
        let ours: Vec<Proposal> = if in_auth {
            cx.cfg.esp_proposals.iter().map(without_ke).collect()
        } else {
            cx.cfg.esp_proposals.clone()
        };
        let theirs: Vec<Proposal> = if in_auth {
            sa.proposals.iter().map(without_ke).collect()
        } else {
            sa.proposals.clone()
        };
        let mut chosen = select(&ours, &theirs).ok_or(plain(NotifyType::NO_PROPOSAL_CHOSEN))?;
        let spi_out = spi32(&chosen.spi).ok_or(plain(NotifyType::INVALID_SYNTAX))?;
        let suite = esp_suite(&chosen).map_err(|_| plain(NotifyType::NO_PROPOSAL_CHOSEN))?;
        let mut shared = None;
        let mut ker = None;
        if let Some(g) = ke_group(&chosen) {
            match f.ke {
                Some(k) if k.group == g => {
                    let kex = cx
                        .cfg
                        .provider
                        .start_key_exchange(g)
                        .map_err(|_| plain(NotifyType::NO_PROPOSAL_CHOSEN))?;
                    shared = Some(
                        kex.complete(&k.data)
                            .map_err(|_| plain(NotifyType::INVALID_SYNTAX))?,
                    );
                    ker = Some(KePayload {
                        group: g,
                        data: kex.public_value().to_vec(),
                    });
                }
                _ => return Err((NotifyType::INVALID_KE_PAYLOAD, g.0.to_be_bytes().to_vec())),
            }
        }
        let transport = cx.cfg.mode == Mode::Transport
            && find_notify(p, NotifyType::USE_TRANSPORT_MODE).is_some();
        // Transport mode through a NAT (§2.23.1): the initiator's TSi names its private
        // address and its TSr our public one. Each side behind a NAT has its selector replaced
        // by the address the IKE SA runs from (the initiator's as seen here, our own), the
        // policy is checked on those, and the reply carries the original selectors (narrowed
        // to the protocols and ports chosen), which is what the initiator proposed and checks.
        let (sub_i, sub_r) = if transport {
            (
                self.nat_remote
                    .then(|| ts_with_host(&tsi.selectors, self.remote.ip())),
                self.nat_local
                    .then(|| ts_with_host(&tsr.selectors, self.local.ip())),
            )
        } else {
            (None, None)
        };
        let ts_i = narrow(
            sub_i.as_ref().unwrap_or(&tsi.selectors),
            &self.remote_ts(cx),
        );
        let ts_r = narrow(sub_r.as_ref().unwrap_or(&tsr.selectors), &self.local_ts(cx));
        if ts_i.is_empty() || ts_r.is_empty() {
            return Err(plain(NotifyType::TS_UNACCEPTABLE));
        }
        let reply_i = match sub_i {
            Some(_) => narrow(&tsi.selectors, &ts_any_address(&ts_i)),
            None => ts_i.clone(),
        };
        let reply_r = match sub_r {
            Some(_) => narrow(&tsr.selectors, &ts_any_address(&ts_r)),
            None => ts_r.clone(),
        };
        let spi_in = cx
            .esp_spi()
            .map_err(|_| plain(NotifyType::TEMPORARY_FAILURE))?;
        let nr = match auth_nr {
            Some(n) => n.to_vec(),
            None => cx
                .random(NONCE_LEN)
                .map_err(|_| plain(NotifyType::TEMPORARY_FAILURE))?,
        };
        chosen.spi = spi_in.to_be_bytes().to_vec();
        let mut out = Vec::new();
        if transport {
            out.push(notify(NotifyType::USE_TRANSPORT_MODE, &[]));
        }
        out.push(Payload::Sa(SaPayload {
            proposals: vec![chosen.clone()],
        }));
        if !in_auth {
            out.push(Payload::Nonce(nr.clone()));
            if let Some(k) = ker {
                out.push(Payload::Ke(k));
            }
        }
        out.push(Payload::TsI(TsPayload { selectors: reply_i }));
        out.push(Payload::TsR(TsPayload { selectors: reply_r }));
        Ok((
            out,
            NewChild {
                spi_in,
                spi_out,
                suite,
                esn: esn(&chosen),
                mode: if transport {
                    Mode::Transport
                } else {
                    Mode::Tunnel
                },
                ts_local: ts_r,
                ts_remote: ts_i,
                ni: ni.to_vec(),
                nr,
                shared,
                we_initiated: false,
                rekey_of,
            },
        ))
    }

    /// Installs a negotiated child SA: derives its keys (§2.17) and reports [`Event::ChildUp`].
    pub(super) fn install(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        c: NewChild,
    ) -> Result<(), Error> {
        let (Some(keys), Some(suite)) = (&self.keys, self.suite) else {
            return Ok(());
        };
        let derived = ChildSaKeys::derive(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_d,
            &c.suite,
            c.shared.as_ref().map(Secret::as_bytes),
            &c.ni,
            &c.nr,
        );
        let derived = match derived {
            Ok(d) => d,
            Err(e) => {
                cx.esp_spis.remove(&c.spi_in);
                cx.event(Event::ChildFailed {
                    sa: self.id,
                    error: NotifyType::NO_PROPOSAL_CHOSEN,
                });
                return Err(e);
            }
        };
        let (k_in, k_out) = if c.we_initiated {
            (
                derived.responder_to_initiator,
                derived.initiator_to_responder,
            )
        } else {
            (
                derived.initiator_to_responder,
                derived.responder_to_initiator,
            )
        };
        let lifetime = cx.cfg.child_lifetime;
        let bytes = cx.cfg.child_lifetime_kb.map(|kb| kb.saturating_mul(1024));
        let lifetimes = Lifetimes {
            soft: Lifetime {
                time: None,
                bytes: bytes.map(|b| b - b / 10),
                packets: None,
            },
            hard: Lifetime {
                time: Some(lifetime),
                bytes,
                packets: None,
            },
        };
        let sa_cfg = |spi: u32, k: dmvpn_esp::SaKeys| {
            let mut s = SaConfig::new(spi, c.suite, k, cx.cfg.provider.esp.clone());
            s.mode = c.mode;
            s.esn = c.esn;
            s.replay_window = cx.cfg.replay_window;
            s.lifetimes = lifetimes;
            s
        };
        let inbound = sa_cfg(c.spi_in, k_in);
        let outbound = sa_cfg(c.spi_out, k_out);
        let child = Child {
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            suite: c.suite,
            mode: c.mode,
            ts_local: c.ts_local.clone(),
            ts_remote: c.ts_remote.clone(),
            created: now,
            rekey_at: cx.rekey_time(now, lifetime)?,
            expire_at: now + lifetime,
            state: ChildState::Installed,
            collision: None,
        };
        self.children.push(child);
        cx.counters.child_sas_created += 1;
        if c.rekey_of.is_some() {
            cx.counters.child_rekeys += 1;
        }
        cx.event(Event::ChildUp {
            sa: self.id,
            child: Box::new(ChildSaUp {
                inbound,
                outbound,
                local_ts: c.ts_local,
                remote_ts: c.ts_remote,
                local: self.local,
                remote: self.remote,
                udp_encap: self.natt,
            }),
            rekey_of: c.rekey_of,
        });
        Ok(())
    }

    pub(super) fn child_failed(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        req: &ChildReq,
        error: NotifyType,
    ) {
        cx.esp_spis.remove(&req.spi_in);
        cx.event(Event::ChildFailed { sa: self.id, error });
        if let Some(old) = req.rekey_of {
            if error == NotifyType::CHILD_SA_NOT_FOUND {
                self.remove_child(cx, old);
            } else if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
                c.state = ChildState::Installed;
                if error == NotifyType::TEMPORARY_FAILURE {
                    // §2.25: retry after a short random wait.
                    let wait = Duration::from_secs(1)
                        + cx.jitter(Duration::from_secs(3)).unwrap_or_default();
                    self.delayed.push((now + wait, Action::RekeyChild(old)));
                }
            }
        } else if error == NotifyType::TEMPORARY_FAILURE {
            let wait =
                Duration::from_secs(1) + cx.jitter(Duration::from_secs(3)).unwrap_or_default();
            self.delayed.push((
                now + wait,
                Action::CreateChild(req.ts_i.clone(), req.ts_r.clone()),
            ));
        }
    }

    pub(super) fn remove_child(&mut self, cx: &mut Cx<'_>, spi_in: u32) -> Option<u32> {
        let i = self.children.iter().position(|c| c.spi_in == spi_in)?;
        let c = self.children.remove(i);
        cx.esp_spis.remove(&c.spi_in);
        cx.event(Event::ChildDeleted {
            sa: self.id,
            inbound_spi: c.spi_in,
            outbound_spi: c.spi_out,
        });
        Some(c.spi_out)
    }

    /// The initiator's end of a child SA exchange (IKE_AUTH or CREATE_CHILD_SA).
    pub(super) fn finish_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        req: ChildReq,
        auth_nonces: Option<(&[u8], &[u8])>,
        p: &[Payload],
    ) -> Result<(), Error> {
        if let Some(n) = find_notify(p, NotifyType::INVALID_KE_PAYLOAD)
            && auth_nonces.is_none()
        {
            let g = requested_group(n);
            if let (Some(g), Some(ke)) = (g, &req.ke)
                && g != ke.group()
                && offers_group(&cx.cfg.esp_proposals, g)
            {
                cx.esp_spis.remove(&req.spi_in);
                return self.start_child(
                    cx,
                    now,
                    req.rekey_of,
                    req.ts_i,
                    req.ts_r,
                    req.transport,
                    Some(g),
                );
            }
        }
        if let Some(e) = error_notify(p) {
            self.child_failed(cx, now, &req, e);
            return Ok(());
        }
        let f = found(p);
        let (Some(sa), Some(tsi), Some(tsr)) = (f.sa, f.tsi, f.tsr) else {
            self.child_failed(cx, now, &req, NotifyType::INVALID_SYNTAX);
            return Ok(());
        };
        let (ni, nr) = match (auth_nonces, f.nonce) {
            (Some((ni, nr)), _) => (ni.to_vec(), nr.to_vec()),
            (None, Some(nr)) => (req.nonce.clone(), nr.clone()),
            (None, None) => {
                self.child_failed(cx, now, &req, NotifyType::INVALID_SYNTAX);
                return Ok(());
            }
        };
        let chosen = match sa.proposals.as_slice() {
            [c] if accepted(&req.proposals, c) => c,
            _ => {
                self.child_failed(cx, now, &req, NotifyType::NO_PROPOSAL_CHOSEN);
                return Ok(());
            }
        };
        let (Some(spi_out), Ok(suite)) = (spi32(&chosen.spi), esp_suite(chosen)) else {
            self.child_failed(cx, now, &req, NotifyType::NO_PROPOSAL_CHOSEN);
            return Ok(());
        };
        let shared = match (&req.ke, ke_group(chosen), f.ke) {
            (None, None, _) => None,
            (Some(ke), Some(g), Some(ker)) if ke.group() == g && ker.group == g => {
                match ke.complete(&ker.data) {
                    Ok(s) => Some(s),
                    Err(_) => {
                        self.child_failed(cx, now, &req, NotifyType::INVALID_SYNTAX);
                        return Ok(());
                    }
                }
            }
            _ => {
                self.child_failed(cx, now, &req, NotifyType::NO_PROPOSAL_CHOSEN);
                return Ok(());
            }
        };
        let transport = req.transport && find_notify(p, NotifyType::USE_TRANSPORT_MODE).is_some();
        // Transport mode through a NAT (§2.23.1): the side behind a NAT is known by the address
        // its IKE SA runs from, whatever address the selectors name (the responder answers with
        // our originals; a responder that answers with its substitutions is accepted too).
        let side = |sel: &[TrafficSelector], nat: bool, host: std::net::IpAddr| {
            if transport && nat {
                ts_with_host(sel, host)
            } else {
                sel.to_vec()
            }
        };
        let (local, remote) = (self.local.ip(), self.remote.ip());
        let ts_local = side(&tsi.selectors, self.nat_local, local);
        let ts_remote = side(&tsr.selectors, self.nat_remote, remote);
        if !ts_subset(&ts_local, &side(&req.ts_i, self.nat_local, local))
            || !ts_subset(&ts_remote, &side(&req.ts_r, self.nat_remote, remote))
        {
            self.child_failed(cx, now, &req, NotifyType::TS_UNACCEPTABLE);
            // The responder installed it: delete it.
            self.actions.push_back(Action::DeleteChild(req.spi_in));
            return Ok(());
        }
        let new_in = req.spi_in;
        self.install(
            cx,
            now,
            NewChild {
                spi_in: req.spi_in,
                spi_out,
                suite,
                esn: esn(chosen),
                mode: if transport {
                    Mode::Transport
                } else {
                    Mode::Tunnel
                },
                ts_local,
                ts_remote,
                ni: ni.clone(),
                nr: nr.clone(),
                shared,
                we_initiated: true,
                rekey_of: req.rekey_of,
            },
        )?;
        if let Some(old_in) = req.rekey_of
            && let Some(old) = self.children.iter_mut().find(|c| c.spi_in == old_in)
        {
            old.state = ChildState::Rekeyed;
            match old.collision.take() {
                // §2.8.1: the SA created with the lowest of the four nonces is deleted by
                // whoever created it; the other exchange's initiator deletes the old SA.
                Some((peer_min, _peer_new)) => {
                    cx.counters.rekey_collisions += 1;
                    let ours_min = core::cmp::min(ni, nr);
                    if ours_min < peer_min {
                        self.actions.push_back(Action::DeleteChild(new_in));
                    } else {
                        self.actions.push_back(Action::DeleteChild(old_in));
                    }
                }
                None => self.actions.push_back(Action::DeleteChild(old_in)),
            }
        }
        Ok(())
    }

    /// Sends CREATE_CHILD_SA for a new child SA or a child SA rekey (§1.3.1, §1.3.3).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        rekey_of: Option<u32>,
        ts_i: Vec<TrafficSelector>,
        ts_r: Vec<TrafficSelector>,
        transport: bool,
        group: Option<KeGroup>,
    ) -> Result<(), Error> {
        let spi_in = cx.esp_spi()?;
        let nonce = cx.random(NONCE_LEN)?;
        let group = group.or_else(|| cx.cfg.esp_proposals.first().and_then(ke_group));
        let ke = match group {
            Some(g) => Some(cx.cfg.provider.start_key_exchange(g)?),
            None => None,
        };
        let proposals = with_spi(&cx.cfg.esp_proposals, &spi_in.to_be_bytes());
        let mut payloads = Vec::new();
        if let Some(old) = rekey_of {
            payloads.push(Payload::Notify(NotifyPayload {
                protocol_id: ProtocolId::ESP,
                spi: old.to_be_bytes().to_vec(),
                notify_type: NotifyType::REKEY_SA,
                data: Vec::new(),
            }));
        }
        if transport {
            payloads.push(notify(NotifyType::USE_TRANSPORT_MODE, &[]));
        }
        payloads.push(Payload::Sa(SaPayload {
            proposals: proposals.clone(),
        }));
        payloads.push(Payload::Nonce(nonce.clone()));
        if let Some(k) = &ke {
            payloads.push(Payload::Ke(KePayload {
                group: k.group(),
                data: k.public_value().to_vec(),
            }));
        }
        payloads.push(Payload::TsI(TsPayload {
            selectors: ts_i.clone(),
        }));
        payloads.push(Payload::TsR(TsPayload {
            selectors: ts_r.clone(),
        }));
        let req = ChildReq {
            spi_in,
            nonce,
            ke,
            proposals,
            ts_i,
            ts_r,
            transport,
            rekey_of,
        };
        self.request(
            cx,
            now,
            ExchangeType::CREATE_CHILD_SA,
            &payloads,
            Req::Child(Box::new(req)),
        )
    }

    pub(super) fn handle_create_child_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        let ex = ExchangeType::CREATE_CHILD_SA;
        let f = found(p);
        let (Some(sa), Some(ni)) = (f.sa, f.nonce) else {
            return self.respond(cx, now, ex, mid, &[notify(NotifyType::INVALID_SYNTAX, &[])]);
        };
        if sa.proposals.first().map(|x| x.protocol_id) == Some(ProtocolId::IKE) {
            return self.handle_ike_rekey_request(cx, now, mid, p);
        }
        if matches!(
            self.pending.as_ref().map(|x| &x.req),
            Some(Req::RekeyIke(_) | Req::DeleteIke)
        ) {
            // §2.25: we are rekeying or closing the IKE SA.
            return self.respond(
                cx,
                now,
                ex,
                mid,
                &[notify(NotifyType::TEMPORARY_FAILURE, &[])],
            );
        }
        let mut rekey_of = None;
        if let Some(n) = find_notify(p, NotifyType::REKEY_SA) {
            let old = spi32(&n.spi)
                .and_then(|spi| self.children.iter().find(|c| c.spi_out == spi))
                .map(|c| c.spi_in);
            match old {
                Some(o) => rekey_of = Some(o),
                None => {
                    let nf = Payload::Notify(NotifyPayload {
                        protocol_id: n.protocol_id,
                        spi: n.spi.clone(),
                        notify_type: NotifyType::CHILD_SA_NOT_FOUND,
                        data: Vec::new(),
                    });
                    return self.respond(cx, now, ex, mid, &[nf]);
                }
            }
        }
        match self.accept_child(cx, p, ni, None, rekey_of) {
            Ok((payloads, child)) => {
                self.respond(cx, now, ex, mid, &payloads)?;
                if let Some(old_in) = rekey_of
                    && let Some(old) = self.children.iter_mut().find(|c| c.spi_in == old_in)
                {
                    if old.state == ChildState::Rekeying {
                        let lowest = core::cmp::min(child.ni.clone(), child.nr.clone());
                        old.collision = Some((lowest, child.spi_in));
                    } else {
                        old.state = ChildState::Rekeyed;
                    }
                }
                self.install(cx, now, child)
            }
            Err((e, data)) => self.respond(cx, now, ex, mid, &[notify(e, &data)]),
        }
    }

    /// Queues a new child SA.
    pub(crate) fn create_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        ts_i: Option<Vec<TrafficSelector>>,
        ts_r: Option<Vec<TrafficSelector>>,
    ) -> Result<(), Error> {
        let ts_i = ts_i.unwrap_or_else(|| self.local_ts(cx));
        let ts_r = ts_r.unwrap_or_else(|| self.remote_ts(cx));
        self.actions.push_back(Action::CreateChild(ts_i, ts_r));
        self.pump(cx, now)
    }

    /// Queues a child SA rekey.
    pub(crate) fn rekey_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        spi_in: u32,
    ) -> Result<(), Error> {
        if !self.children.iter().any(|c| c.spi_in == spi_in) {
            return Err(Error::NoSuchChildSa { spi: spi_in });
        }
        self.actions.push_back(Action::RekeyChild(spi_in));
        self.pump(cx, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::State;
    use crate::ike::testutil::{deliver, established, shuttle};
    use crate::ike::timers::Timer;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// The inbound SPI of the child SA a pending CREATE_CHILD_SA request proposes.
    fn proposed_spi(sa: &IkeSa) -> u32 {
        match sa.pending.as_ref().map(|p| &p.req) {
            Some(Req::Child(r)) => r.spi_in,
            _ => panic!("no CREATE_CHILD_SA pending"),
        }
    }

    /// Each side's (inbound, outbound) SPIs, the peer's flipped: equal when they agree.
    fn agree(p: &crate::ike::testutil::Pair) {
        let i: Vec<_> = p.i.children.iter().map(|c| (c.spi_in, c.spi_out)).collect();
        let r: Vec<_> = p.r.children.iter().map(|c| (c.spi_out, c.spi_in)).collect();
        assert_eq!(i, r);
    }

    #[test]
    fn a_new_child_sa_is_installed_on_both_sides() {
        let now = Instant::now();
        let mut p = established(now);
        p.ni.run(|cx| p.i.create_child(cx, now, None, None))
            .unwrap();
        assert_eq!(shuttle(&mut p, now), 2);
        assert_eq!((p.i.children.len(), p.r.children.len()), (2, 2));
        agree(&p);
        let ups = |e: Vec<Event>| {
            e.into_iter()
                .filter(|e| matches!(e, Event::ChildUp { rekey_of: None, .. }))
                .count()
        };
        assert_eq!((ups(p.ni.events()), ups(p.nr.events())), (1, 1));
        assert_eq!(
            p.ni.counters.child_sas_created, 2,
            "IKE_AUTH's and this one"
        );
    }

    #[test]
    fn commands_on_unknown_child_sas_are_refused() {
        let now = Instant::now();
        let mut p = established(now);
        let r = p.ni.run(|cx| p.i.rekey_child(cx, now, 0x1234));
        assert_eq!(r, Err(Error::NoSuchChildSa { spi: 0x1234 }));
        let r = p.ni.run(|cx| p.i.delete_child(cx, now, 0x1234));
        assert_eq!(r, Err(Error::NoSuchChildSa { spi: 0x1234 }));
        assert!(p.ni.sent().is_empty());
        assert!(p.i.actions.is_empty());
    }

    #[test]
    fn a_rekey_replaces_the_child_and_the_initiator_deletes_the_old_one() {
        let now = Instant::now();
        let mut p = established(now);
        let old = p.i.child_spis()[0];
        p.ni.run(|cx| p.i.rekey_child(cx, now, old)).unwrap();
        let new = proposed_spi(&p.i);
        shuttle(&mut p, now);
        assert_eq!(p.i.child_spis(), vec![new]);
        agree(&p);
        let ei = p.ni.events();
        assert!(
            ei.iter()
                .any(|e| matches!(e, Event::ChildUp { rekey_of: Some(o), .. } if *o == old))
        );
        assert!(
            ei.iter().any(
                |e| matches!(e, Event::ChildDeleted { inbound_spi, .. } if *inbound_spi == old)
            )
        );
        assert_eq!(
            (p.ni.counters.child_rekeys, p.ni.counters.rekey_collisions),
            (1, 0)
        );
    }

    #[test]
    fn simultaneous_rekeys_keep_the_child_of_the_higher_nonces() {
        // §2.8.1: of the two new child SAs, the one whose exchange had the lowest of the four
        // nonces goes; both sides end with the same single child SA.
        for seed in 0..4 {
            let now = Instant::now();
            let mut p = crate::ike::testutil::established_with(
                crate::ike::testutil::config("spoke", "hub", "secret", 10 + seed),
                crate::ike::testutil::config("hub", "spoke", "secret", 20 + seed),
                now,
            );
            let (old_i, old_r) = (p.i.child_spis()[0], p.r.child_spis()[0]);
            p.ni.run(|cx| p.i.rekey_child(cx, now, old_i)).unwrap();
            p.nr.run(|cx| p.r.rekey_child(cx, now, old_r)).unwrap();
            let a_on_i = proposed_spi(&p.i);
            let (req_a, req_b) = (p.ni.sent_one(), p.nr.sent_one());
            deliver(&mut p.nr, &mut p.r, now, &req_a).unwrap();
            deliver(&mut p.ni, &mut p.i, now, &req_b).unwrap();
            // Each side saw the other's rekey of a child it is rekeying itself.
            let collision = |sa: &IkeSa, old: u32| {
                let c = sa.children.iter().find(|c| c.spi_in == old).unwrap();
                c.collision.clone().unwrap()
            };
            let (min_a, _) = collision(&p.r, old_r);
            let (min_b, b_on_i) = collision(&p.i, old_i);
            shuttle(&mut p, now);
            let survivor = if min_a < min_b { b_on_i } else { a_on_i };
            assert_eq!(p.i.child_spis(), vec![survivor], "seed {seed}");
            agree(&p);
            assert_eq!(p.ni.counters.rekey_collisions, 1);
            assert_eq!(p.nr.counters.rekey_collisions, 1);
            assert_eq!(
                (p.i.state, p.r.state),
                (State::Established, State::Established)
            );
        }
    }

    #[test]
    fn child_sa_not_found_drops_the_old_child() {
        let now = Instant::now();
        let mut p = established(now);
        let old = p.i.child_spis()[0];
        // The responder lost it (deleted, its Delete lost).
        p.r.children.clear();
        p.ni.run(|cx| p.i.rekey_child(cx, now, old)).unwrap();
        shuttle(&mut p, now);
        let ei = p.ni.events();
        assert!(ei.iter().any(
            |e| matches!(e, Event::ChildFailed { error, .. } if *error == NotifyType::CHILD_SA_NOT_FOUND)
        ));
        assert!(
            ei.iter().any(
                |e| matches!(e, Event::ChildDeleted { inbound_spi, .. } if *inbound_spi == old)
            )
        );
        assert!(p.i.children.is_empty());
        assert_eq!(p.i.state, State::Established, "the IKE SA stays");
    }

    #[test]
    fn a_child_rekey_during_an_ike_rekey_is_retried_after_a_random_wait() {
        let t0 = Instant::now();
        let mut p = established(t0);
        let old = p.i.child_spis()[0];
        // The responder is rekeying the IKE SA (its request still in flight).
        p.nr.run(|cx| p.r.rekey_ike(cx, t0)).unwrap();
        let _in_flight = p.nr.sent_one();
        p.ni.run(|cx| p.i.rekey_child(cx, t0, old)).unwrap();
        deliver(&mut p.nr, &mut p.r, t0, &p.ni.sent_one()).unwrap();
        deliver(&mut p.ni, &mut p.i, t0, &p.nr.sent_one()).unwrap();
        assert!(p.ni.events().iter().any(
            |e| matches!(e, Event::ChildFailed { error, .. } if *error == NotifyType::TEMPORARY_FAILURE)
        ));
        assert_eq!(p.i.children[0].state, ChildState::Installed);
        assert_eq!(p.i.delayed.len(), 1);
        let (at, ref action) = p.i.delayed[0];
        assert_eq!(*action, Action::RekeyChild(old));
        assert!(
            at >= t0 + secs(1) && at <= t0 + secs(4),
            "§2.25: a short random wait"
        );
        assert_eq!(p.i.timer(&p.ni.cfg, Timer::Delayed), Some(at));
        p.ni.run(|cx| p.i.handle_timeout(cx, at)).unwrap();
        assert!(p.i.delayed.is_empty());
        assert_eq!(p.ni.sent().len(), 1, "the rekey again");
        assert_eq!(p.i.children[0].state, ChildState::Rekeying);
    }
}
