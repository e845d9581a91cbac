//! IKE_AUTH (RFC 7296 §1.2, §2.15): the initiator's request with its AUTH payload and first
//! child SA, the responder's verification and answer, and the SA becoming established.

use std::sync::Arc;
use std::time::Instant;

use crate::Error;
use crate::auth::{PskAuthKey, PskLookup, SignedOctets, verify_psk_auth};
use crate::event::{DownReason, Event};
use crate::wire::{ExchangeType, Identity, NotifyType, Payload, SaPayload, TsPayload};

use super::{Cx, IkeSa, Req, State, error_notify, find_notify, found, notify};

impl IkeSa {
    pub(super) fn send_auth(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        let (Some(hs), Some(keys), Some(suite)) = (self.hs.as_ref(), &self.keys, &self.suite)
        else {
            return Err(Error::MissingState {
                operation: "IKE_AUTH request",
                missing: "IKE_SA_INIT keys and handshake state",
            });
        };
        let peer = hs
            .remote_id
            .clone()
            .unwrap_or_else(|| Identity::ip(self.remote.ip()));
        let psk = cx
            .cfg
            .psks
            .psk(&peer)
            .ok_or_else(|| Error::NoPsk(peer.to_string()))?;
        let octets = SignedOctets::new(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_pi,
            &hs.init_req,
            &hs.nr,
            &cx.cfg.local_id,
        )?;
        let key = PskAuthKey::new(&cx.cfg.provider, suite.prf, psk)?;
        let auth = key.payload(&octets)?;
        let mut payloads = vec![Payload::IdI(cx.cfg.local_id.clone())];
        if let Some(id) = &hs.remote_id {
            payloads.push(Payload::IdR(id.clone()));
        }
        payloads.push(Payload::Auth(auth));
        if let Some(c) = &hs.child {
            if c.transport {
                payloads.push(notify(NotifyType::USE_TRANSPORT_MODE, &[]));
            }
            payloads.push(Payload::Sa(SaPayload {
                proposals: c.proposals.clone(),
            }));
            payloads.push(Payload::TsI(TsPayload {
                selectors: c.ts_i.clone(),
            }));
            payloads.push(Payload::TsR(TsPayload {
                selectors: c.ts_r.clone(),
            }));
        }
        if let Some(hs) = self.hs.as_mut() {
            hs.psk_key = Some((peer, key));
        }
        self.state = State::AuthSent;
        self.request(cx, now, ExchangeType::IKE_AUTH, &payloads, Req::Auth)
    }

    pub(super) fn handle_auth_response(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        p: &[Payload],
    ) -> Result<(), Error> {
        let Some(hs) = self.hs.take() else {
            return Ok(());
        };
        if find_notify(p, NotifyType::AUTHENTICATION_FAILED).is_some() {
            cx.counters.auth_failures += 1;
            return self.fail(cx, DownReason::AuthenticationFailed);
        }
        let idr = p.iter().find_map(|x| match x {
            Payload::IdR(i) => Some(i),
            _ => None,
        });
        let auth = p.iter().find_map(|x| match x {
            Payload::Auth(a) => Some(a),
            _ => None,
        });
        let (Some(idr), Some(auth)) = (idr, auth) else {
            let e = error_notify(p).unwrap_or(NotifyType::INVALID_SYNTAX);
            return self.fail(cx, DownReason::Refused(e));
        };
        let (Some(keys), Some(suite)) = (&self.keys, self.suite) else {
            return Ok(());
        };
        let id_ok = hs.remote_id.as_ref().is_none_or(|want| want == idr);
        let octets = SignedOctets::new(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_pr,
            &hs.init_resp,
            &hs.ni,
            idr,
        )?;
        // The key our request was signed with serves if the responder's identity is the one
        // it was looked up by (always when we named the responder: `id_ok`).
        let verified = match hs.psk_key.as_ref().filter(|(id, _)| id == idr) {
            Some((_, key)) => key.verify(&octets, auth),
            None => verify_psk_auth(
                &cx.cfg.provider,
                suite.prf,
                &cx.cfg.psks,
                idr,
                &octets,
                auth,
            ),
        };
        if !id_ok || verified.is_err() {
            cx.counters.auth_failures += 1;
            return self.fail(cx, DownReason::AuthenticationFailed);
        }
        self.peer_id = Some(idr.clone());
        self.established(cx, now)?;
        if let Some(req) = hs.child {
            self.finish_child(cx, now, *req, Some((&hs.ni, &hs.nr)), p)?;
        }
        Ok(())
    }

    pub(super) fn established(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        self.state = State::Established;
        self.deadline = None;
        self.last_heard = now;
        self.rekey_at = Some(cx.rekey_time(now, cx.cfg.ike_lifetime)?);
        self.expire_at = Some(now + cx.cfg.ike_lifetime);
        cx.counters.ike_sas_established += 1;
        let (Some(suite), Some(keys), Some(peer)) = (self.suite, &self.keys, &self.peer_id) else {
            return Ok(());
        };
        cx.event(Event::IkeUp {
            sa: self.id,
            local: self.local,
            remote: self.remote,
            initiator: self.initiator,
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            suite,
            peer_id: peer.clone(),
            keys: Arc::clone(keys),
            nat: self.natt,
            behind_nat: self.nat_local,
        });
        Ok(())
    }

    pub(super) fn handle_auth_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        let Some(hs) = self.hs.take() else {
            return Ok(());
        };
        let idi = p.iter().find_map(|x| match x {
            Payload::IdI(i) => Some(i),
            _ => None,
        });
        let auth = p.iter().find_map(|x| match x {
            Payload::Auth(a) => Some(a),
            _ => None,
        });
        let (Some(idi), Some(auth), Some(keys), Some(suite)) = (idi, auth, &self.keys, self.suite)
        else {
            self.respond(
                cx,
                now,
                ExchangeType::IKE_AUTH,
                mid,
                &[notify(NotifyType::INVALID_SYNTAX, &[])],
            )?;
            return self.fail(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
        };
        let octets = SignedOctets::new(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_pi,
            &hs.init_req,
            &hs.nr,
            idi,
        )?;
        // One AUTH key for the initiator's AUTH payload and ours (the same PSK).
        let key = cx
            .cfg
            .psks
            .psk(idi)
            .map(|psk| PskAuthKey::new(&cx.cfg.provider, suite.prf, psk));
        let verified = match &key {
            Some(Ok(k)) => k.verify(&octets, auth),
            Some(Err(_)) | None => Err(Error::AuthenticationFailed),
        };
        let (Ok(()), Some(Ok(key))) = (verified, key) else {
            cx.counters.auth_failures += 1;
            self.respond(
                cx,
                now,
                ExchangeType::IKE_AUTH,
                mid,
                &[notify(NotifyType::AUTHENTICATION_FAILED, &[])],
            )?;
            return self.fail(cx, DownReason::AuthenticationFailed);
        };
        let mine = SignedOctets::new(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_pr,
            &hs.init_resp,
            &hs.ni,
            &cx.cfg.local_id,
        )?;
        let my_auth = key.payload(&mine)?;
        self.peer_id = Some(idi.clone());
        let mut out = vec![
            Payload::IdR(cx.cfg.local_id.clone()),
            Payload::Auth(my_auth),
        ];
        let child = if found(p).sa.is_some() {
            match self.accept_child(cx, p, &hs.ni, Some(&hs.nr), None) {
                Ok((payloads, child)) => {
                    out.extend(payloads);
                    Some(child)
                }
                Err((e, data)) => {
                    out.push(notify(e, &data));
                    None
                }
            }
        } else {
            None
        };
        self.respond(cx, now, ExchangeType::IKE_AUTH, mid, &out)?;
        self.established(cx, now)?;
        if let Some(c) = child {
            self.install(cx, now, c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::testutil::{config, deliver, down_reason, established, half_open, inner};

    fn child_up(events: &[Event]) -> Vec<&crate::event::ChildSaUp> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::ChildUp { child, .. } => Some(&**child),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn both_sides_come_up_with_crossed_child_spis() {
        let now = Instant::now();
        let mut p = half_open(
            config("spoke", "hub", "secret", 1),
            config("hub", "spoke", "secret", 2),
            now,
        );
        let auth = p.ni.sent_one();
        deliver(&mut p.nr, &mut p.r, now, &auth).unwrap();
        deliver(&mut p.ni, &mut p.i, now, &p.nr.sent_one()).unwrap();
        let (ei, er) = (p.ni.events(), p.nr.events());
        let up = |e: &[Event]| {
            e.iter().find_map(|e| match e {
                Event::IkeUp {
                    initiator, peer_id, ..
                } => Some((*initiator, peer_id.clone())),
                _ => None,
            })
        };
        assert_eq!(up(&ei), Some((true, Identity::fqdn("hub"))));
        assert_eq!(up(&er), Some((false, Identity::fqdn("spoke"))));
        let (ci, cr) = (child_up(&ei), child_up(&er));
        assert_eq!((ci.len(), cr.len()), (1, 1));
        assert_eq!(ci[0].inbound.spi, cr[0].outbound.spi);
        assert_eq!(ci[0].outbound.spi, cr[0].inbound.spi);
        assert_eq!(ci[0].inbound.mode, dmvpn_esp::Mode::Transport);
        assert_eq!(ci[0].local_ts, cr[0].remote_ts);
        assert_eq!(
            (
                p.ni.counters.ike_sas_established,
                p.nr.counters.ike_sas_established
            ),
            (1, 1)
        );
        assert_eq!(
            (p.i.hs.is_none(), p.r.hs.is_none()),
            (true, true),
            "handshake state dropped"
        );
        assert!(p.i.rekey_at.is_some() && p.i.expire_at.is_some());
    }

    #[test]
    fn a_wrong_key_fails_both_sides() {
        let now = Instant::now();
        let mut p = half_open(
            config("spoke", "hub", "secret", 1),
            config("hub", "spoke", "other secret", 2),
            now,
        );
        deliver(&mut p.nr, &mut p.r, now, &p.ni.sent_one()).unwrap();
        let answer = p.nr.sent_one();
        let refused = inner(&p.i, &answer);
        assert!(
            matches!(refused.as_slice(), [Payload::Notify(n)] if n.notify_type == NotifyType::AUTHENTICATION_FAILED),
            "{refused:?}"
        );
        assert_eq!(
            down_reason(&p.nr.events()),
            Some(DownReason::AuthenticationFailed)
        );
        assert_eq!(
            (p.nr.counters.auth_failures, p.nr.counters.errors_sent),
            (1, 1)
        );
        deliver(&mut p.ni, &mut p.i, now, &answer).unwrap();
        let ei = p.ni.events();
        assert_eq!(down_reason(&ei), Some(DownReason::AuthenticationFailed));
        assert!(child_up(&ei).is_empty());
        assert_eq!(p.ni.counters.auth_failures, 1);
        assert_eq!((p.i.state, p.r.state), (State::Dead, State::Dead));
    }

    #[test]
    fn the_initiator_refuses_another_identity_than_it_asked_for() {
        let now = Instant::now();
        // The responder knows the key but calls itself "impostor"; we asked for "hub".
        let mut cfg_i = config("spoke", "hub", "secret", 1);
        cfg_i
            .psks
            .insert(Identity::fqdn("impostor"), crate::auth::Psk::from("secret"));
        let mut p = half_open(cfg_i, config("impostor", "spoke", "secret", 2), now);
        deliver(&mut p.nr, &mut p.r, now, &p.ni.sent_one()).unwrap();
        assert_eq!(p.r.state, State::Established, "the responder is satisfied");
        deliver(&mut p.ni, &mut p.i, now, &p.nr.sent_one()).unwrap();
        let ei = p.ni.events();
        assert_eq!(down_reason(&ei), Some(DownReason::AuthenticationFailed));
        assert!(!ei.iter().any(|e| matches!(e, Event::IkeUp { .. })));
        assert_eq!(p.ni.counters.auth_failures, 1);
    }

    #[test]
    fn auth_needs_the_sa_init_keys() {
        let now = Instant::now();
        let mut p = established(now);
        // After IKE_AUTH the handshake state is gone: a second IKE_AUTH cannot be built.
        let r = p.ni.run(|cx| p.i.send_auth(cx, now));
        assert!(
            matches!(
                r,
                Err(Error::MissingState {
                    operation: "IKE_AUTH request",
                    ..
                })
            ),
            "{r:?}"
        );
        assert!(p.ni.sent().is_empty());
    }
}
