use super::{
    Action, Child, ChildReq, ChildState, Cx, IkeSa, NONCE_LEN, NewChild, Req, error_notify,
    esp_suite, find_notify, found, notify, requested_group, spi32, with_spi,
};
use crate::event::{ChildSaUp, Event};
use crate::keys::ChildSaKeys;
use crate::negotiate::{
    accepted, esn, ke_group, narrow, offers_group, select, ts_subset, without_ke,
};
use crate::transform::KeGroup;
use crate::wire::{
    ExchangeType, KePayload, NotifyPayload, NotifyType, Payload, Proposal, ProtocolId, SaPayload,
    TrafficSelector, TsPayload,
};
use crate::{Error, Secret};
use dmvpn_esp::{Lifetime, Lifetimes, Mode, SaConfig};
use std::time::{Duration, Instant};

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
        // Transport mode through a NAT (§2.23.1): the peer proposes its own (private) address,
        // which we accept when no remote policy is configured.
        let remote_policy = match (&cx.cfg.remote_ts, self.nat_remote) {
            (None, true) => tsi.selectors.clone(),
            _ => self.remote_ts(cx),
        };
        let ts_i = narrow(&tsi.selectors, &remote_policy);
        let ts_r = narrow(&tsr.selectors, &self.local_ts(cx));
        if ts_i.is_empty() || ts_r.is_empty() {
            return Err(plain(NotifyType::TS_UNACCEPTABLE));
        }
        let transport = cx.cfg.mode == Mode::Transport
            && find_notify(p, NotifyType::USE_TRANSPORT_MODE).is_some();
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
        out.push(Payload::TsI(TsPayload {
            selectors: ts_i.clone(),
        }));
        out.push(Payload::TsR(TsPayload {
            selectors: ts_r.clone(),
        }));
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
        if !ts_subset(&tsi.selectors, &req.ts_i) || !ts_subset(&tsr.selectors, &req.ts_r) {
            self.child_failed(cx, now, &req, NotifyType::TS_UNACCEPTABLE);
            // The responder installed it: delete it.
            self.actions.push_back(Action::DeleteChild(req.spi_in));
            return Ok(());
        }
        let transport = req.transport && find_notify(p, NotifyType::USE_TRANSPORT_MODE).is_some();
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
                ts_local: tsi.selectors.clone(),
                ts_remote: tsr.selectors.clone(),
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
