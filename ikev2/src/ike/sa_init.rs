//! IKE_SA_INIT (RFC 7296 §1.2): the initiator's request and its restarts (COOKIE §2.6,
//! INVALID_KE_PAYLOAD §1.2), the responder's selection, key exchange and NAT detection (§2.23),
//! and its unprotected refusals.

use core::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use dmvpn_esp::Mode;
use dmvpn_esp::wire::udp_encap::NAT_T_PORT;

use crate::Error;
use crate::event::DownReason;
use crate::keys::IkeSaKeys;
use crate::negotiate::{accepted, ke_group, nat_detection_hash, offers_group, select, without_ke};
use crate::sk::SkCrypto;
use crate::transform::IkeSuite;
use crate::wire::{
    ExchangeType, Flags, Identity, KePayload, Message, NotifyType, Payload, SaPayload,
    TrafficSelector,
};

use super::{
    ChildReq, Cx, Handshake, IkeSa, MAX_RESTARTS, NONCE_LEN, Req, State, error_notify, find_notify,
    found, init_notify_response, notify, requested_group,
};

impl IkeSa {
    /// Starts an IKE SA as initiator: sends IKE_SA_INIT (§1.2).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn initiate(
        cx: &mut Cx<'_>,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        remote_id: Option<Identity>,
        ts_i: Option<Vec<TrafficSelector>>,
        ts_r: Option<Vec<TrafficSelector>>,
    ) -> Result<IkeSa, Error> {
        let id = cx.new_id();
        let mut sa = IkeSa::blank(id, now, local, remote);
        sa.spi_i = cx.ike_spi()?;
        let group = cx
            .cfg
            .ike_proposals
            .first()
            .and_then(ke_group)
            .ok_or(Error::InvalidConfig(
                "first IKE proposal has no key exchange",
            ))?;
        let spi_in = cx.esp_spi()?;
        let child = ChildReq {
            spi_in,
            nonce: Vec::new(),
            ke: None,
            // Our ESP proposals without KE (§1.2), with our SPI: one copy each.
            proposals: cx
                .cfg
                .esp_proposals
                .iter()
                .map(|p| {
                    let mut p = without_ke(p);
                    p.spi = spi_in.to_be_bytes().to_vec();
                    p
                })
                .collect(),
            ts_i: ts_i.unwrap_or_else(|| sa.local_ts(cx)),
            ts_r: ts_r.unwrap_or_else(|| sa.remote_ts(cx)),
            transport: cx.cfg.mode == Mode::Transport,
            rekey_of: None,
        };
        sa.hs = Some(Handshake {
            ke: None,
            group,
            ni: cx.random(NONCE_LEN)?,
            nr: Vec::new(),
            init_req: Vec::new(),
            init_resp: Vec::new(),
            cookie: None,
            restarts: 0,
            child: Some(Box::new(child)),
            remote_id,
            psk_key: None,
        });
        sa.deadline = None;
        sa.send_init(cx, now)?;
        Ok(sa)
    }

    pub(super) fn send_init(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        let hs = self.hs.as_mut().ok_or(Error::MissingState {
            operation: "IKE_SA_INIT request",
            missing: "handshake state",
        })?;
        let ke = cx.cfg.provider.start_key_exchange(hs.group)?;
        let mut payloads = Vec::new();
        if let Some(c) = &hs.cookie {
            payloads.push(notify(NotifyType::COOKIE, c));
        }
        payloads.push(Payload::Sa(SaPayload {
            proposals: cx.cfg.ike_proposals.clone(),
        }));
        payloads.push(Payload::Ke(KePayload {
            group: hs.group,
            data: ke.public_value().to_vec(),
        }));
        payloads.push(Payload::Nonce(hs.ni.clone()));
        let src = if cx.cfg.force_encap {
            cx.random(20)?
        } else {
            nat_detection_hash(self.spi_i, 0, self.local)
        };
        payloads.push(notify(NotifyType::NAT_DETECTION_SOURCE_IP, &src));
        payloads.push(notify(
            NotifyType::NAT_DETECTION_DESTINATION_IP,
            &nat_detection_hash(self.spi_i, 0, self.remote),
        ));
        let msg = Message {
            spi_i: self.spi_i,
            spi_r: 0,
            minor_version: 0,
            exchange_type: ExchangeType::IKE_SA_INIT,
            flags: Flags::INITIATOR,
            message_id: 0,
            payloads,
        };
        let bytes = msg.to_vec()?;
        hs.ke = Some(ke);
        hs.init_req = bytes.clone();
        self.state = State::InitSent;
        self.mid_out = 1;
        self.send_pending(cx, now, 0, bytes, Req::Init);
        Ok(())
    }

    pub(super) fn handle_init_response(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        raw: &[u8],
        msg: Message,
    ) -> Result<(), Error> {
        let Some(hs) = self.hs.as_mut() else {
            return Ok(());
        };
        let p = &msg.payloads;
        if let Some(c) = find_notify(p, NotifyType::COOKIE) {
            if hs.restarts >= MAX_RESTARTS {
                return self.fail(cx, DownReason::Refused(NotifyType::COOKIE));
            }
            hs.restarts += 1;
            hs.cookie = Some(c.data.clone());
            self.pending = None;
            return self.send_init(cx, now);
        }
        if let Some(n) = find_notify(p, NotifyType::INVALID_KE_PAYLOAD) {
            let g = requested_group(n);
            match g {
                Some(g)
                    if hs.restarts < MAX_RESTARTS
                        && g != hs.group
                        && offers_group(&cx.cfg.ike_proposals, g) =>
                {
                    hs.restarts += 1;
                    hs.group = g;
                    self.pending = None;
                    return self.send_init(cx, now);
                }
                _ => return self.fail(cx, DownReason::Refused(NotifyType::INVALID_KE_PAYLOAD)),
            }
        }
        if let Some(e) = error_notify(p) {
            return self.fail(cx, DownReason::Refused(e));
        }
        let f = found(p);
        let (Some(sa), Some(ke), Some(nr)) = (f.sa, f.ke, f.nonce) else {
            return self.fail(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
        };
        let chosen = match sa.proposals.as_slice() {
            [c] if accepted(&cx.cfg.ike_proposals, c) => c,
            _ => return self.fail(cx, DownReason::Refused(NotifyType::NO_PROPOSAL_CHOSEN)),
        };
        let suite = match IkeSuite::from_proposal(chosen) {
            Ok(s) if s.group == hs.group && ke.group == hs.group => s,
            _ => return self.fail(cx, DownReason::Refused(NotifyType::NO_PROPOSAL_CHOSEN)),
        };
        if nr.len() < 16 || nr.len() > 256 || msg.spi_r == 0 {
            return self.fail(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
        }
        let Some(kex) = hs.ke.as_ref() else {
            return Ok(());
        };
        let shared = match kex.complete(&ke.data) {
            Ok(s) => s,
            Err(_) => return self.fail(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX)),
        };
        self.spi_r = msg.spi_r;
        hs.nr = nr.clone();
        hs.init_resp = raw.to_vec();
        let keys = IkeSaKeys::derive(
            &cx.cfg.provider,
            &suite,
            shared.as_bytes(),
            &hs.ni,
            &hs.nr,
            self.spi_i,
            self.spi_r,
        )?;
        // NAT detection (§2.23).
        let src = find_notify(p, NotifyType::NAT_DETECTION_SOURCE_IP);
        let dst = find_notify(p, NotifyType::NAT_DETECTION_DESTINATION_IP);
        if let (Some(src), Some(dst)) = (src, dst) {
            self.nat_remote = src.data != nat_detection_hash(self.spi_i, self.spi_r, self.remote);
            self.nat_local = dst.data != nat_detection_hash(self.spi_i, self.spi_r, self.local);
            self.natt = self.nat_local || self.nat_remote || cx.cfg.force_encap;
        }
        if self.natt {
            self.local.set_port(NAT_T_PORT);
            self.remote.set_port(NAT_T_PORT);
        }
        self.sk = Some(SkCrypto::new(&cx.cfg.provider, &suite, &keys, true)?);
        self.suite = Some(suite);
        self.keys = Some(Arc::new(keys));
        self.pending = None;
        if let Err(e) = self.send_auth(cx, now) {
            // No key for the peer, or a provider failure: never leave a stuck SA.
            self.down(cx, DownReason::AuthenticationFailed);
            return Err(e);
        }
        Ok(())
    }

    /// Answers an IKE_SA_INIT request (after cookie and CAC checks): a new half-open SA, or an
    /// unprotected error response (`Err` side of the result).
    pub(crate) fn respond_init(
        cx: &mut Cx<'_>,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        msg: &Message,
    ) -> Result<Result<IkeSa, Message>, Error> {
        let refuse =
            |ty: NotifyType, data: &[u8]| Ok(Err(init_notify_response(msg.spi_i, ty, data)));
        let f = found(&msg.payloads);
        let (Some(sa), Some(ke), Some(ni)) = (f.sa, f.ke, f.nonce) else {
            return refuse(NotifyType::INVALID_SYNTAX, &[]);
        };
        if ni.len() < 16 || ni.len() > 256 {
            return refuse(NotifyType::INVALID_SYNTAX, &[]);
        }
        let Some(mut chosen) = select(&cx.cfg.ike_proposals, &sa.proposals) else {
            return refuse(NotifyType::NO_PROPOSAL_CHOSEN, &[]);
        };
        let Ok(suite) = IkeSuite::from_proposal(&chosen) else {
            return refuse(NotifyType::NO_PROPOSAL_CHOSEN, &[]);
        };
        if ke.group != suite.group {
            return refuse(NotifyType::INVALID_KE_PAYLOAD, &suite.group.0.to_be_bytes());
        }
        // Configuration validation keeps unimplemented groups out of our proposals; should
        // one get through, the peer still hears a refusal rather than nothing.
        let kex = match cx.cfg.provider.start_key_exchange(suite.group) {
            Ok(k) => k,
            Err(Error::UnsupportedGroup(_)) => return refuse(NotifyType::NO_PROPOSAL_CHOSEN, &[]),
            Err(e) => return Err(e),
        };
        let Ok(shared) = kex.complete(&ke.data) else {
            return refuse(NotifyType::INVALID_SYNTAX, &[]);
        };
        let id = cx.new_id();
        let mut s = IkeSa::blank(id, now, local, remote);
        s.initiator = false;
        s.state = State::HalfOpen;
        s.spi_i = msg.spi_i;
        s.spi_r = cx.ike_spi()?;
        let nr = cx.random(NONCE_LEN)?;
        chosen.spi = Vec::new();
        let src = find_notify(&msg.payloads, NotifyType::NAT_DETECTION_SOURCE_IP);
        let dst = find_notify(&msg.payloads, NotifyType::NAT_DETECTION_DESTINATION_IP);
        let mut payloads = vec![
            Payload::Sa(SaPayload {
                proposals: vec![chosen],
            }),
            Payload::Ke(KePayload {
                group: suite.group,
                data: kex.public_value().to_vec(),
            }),
            Payload::Nonce(nr.clone()),
        ];
        if let (Some(src), Some(dst)) = (src, dst) {
            s.nat_remote = src.data != nat_detection_hash(s.spi_i, 0, remote);
            s.nat_local = dst.data != nat_detection_hash(s.spi_i, 0, local);
            s.natt = s.nat_local || s.nat_remote || cx.cfg.force_encap;
            let ours = if cx.cfg.force_encap {
                cx.random(20)?
            } else {
                nat_detection_hash(s.spi_i, s.spi_r, local)
            };
            payloads.push(notify(NotifyType::NAT_DETECTION_SOURCE_IP, &ours));
            payloads.push(notify(
                NotifyType::NAT_DETECTION_DESTINATION_IP,
                &nat_detection_hash(s.spi_i, s.spi_r, remote),
            ));
        }
        let resp = Message {
            spi_i: s.spi_i,
            spi_r: s.spi_r,
            minor_version: 0,
            exchange_type: ExchangeType::IKE_SA_INIT,
            flags: Flags::RESPONSE,
            message_id: 0,
            payloads,
        };
        let bytes = resp.to_vec()?;
        let keys = IkeSaKeys::derive(
            &cx.cfg.provider,
            &suite,
            shared.as_bytes(),
            ni,
            &nr,
            s.spi_i,
            s.spi_r,
        )?;
        s.sk = Some(SkCrypto::new(&cx.cfg.provider, &suite, &keys, false)?);
        s.suite = Some(suite);
        s.keys = Some(Arc::new(keys));
        s.hs = Some(Handshake {
            ke: None,
            group: suite.group,
            ni: ni.clone(),
            nr,
            init_req: raw.to_vec(),
            init_resp: bytes.clone(),
            cookie: None,
            restarts: 0,
            child: None,
            remote_id: None,
            psk_key: None,
        });
        s.send_raw(cx, now, &bytes);
        s.last_response = Some((0, bytes));
        s.mid_in = 1;
        s.deadline = Some(now + cx.cfg.half_open_timeout);
        Ok(Ok(s))
    }

    /// Resends the cached IKE_SA_INIT response (a retransmitted request, §2.1).
    #[cfg(test)]
    pub(crate) fn resend_init_response(&mut self, cx: &mut Cx<'_>, now: Instant) {
        let to = self.remote;
        self.resend_init_response_to(cx, now, to);
    }

    /// Resends the cached IKE_SA_INIT response to `to`, where the copy of the request came
    /// from (the same address, perhaps another port).
    pub(crate) fn resend_init_response_to(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        to: SocketAddr,
    ) {
        if let Some((0, bytes)) = self.last_response.clone() {
            cx.counters.cached_responses += 1;
            // As it was sent the first time: on port 4500 after the non-ESP marker.
            self.send_raw_to(cx, now, to, &bytes);
        }
    }

    /// Whether `raw` is a copy of the IKE_SA_INIT request this half-open responder SA
    /// answered (the same bytes: SPI, nonce, key exchange, cookie).
    pub(crate) fn is_init_copy(&self, raw: &[u8]) -> bool {
        self.state == State::HalfOpen && self.hs.as_ref().is_some_and(|h| h.init_req == raw)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Transmit;
    use crate::event::Event;
    use crate::ike::testutil::{
        A, B, Node, addr, config, deliver, down_reason, half_open, initiator, plain, respond,
    };
    use crate::transform::KeGroup;
    use crate::wire::NotifyPayload;

    /// The responder's unprotected answer `ty`/`data` to the request `req`.
    fn answer(req: &Transmit, ty: NotifyType, data: &[u8]) -> Transmit {
        let m = init_notify_response(plain(req).spi_i, ty, data);
        Transmit::udp(addr(B), addr(A), m.to_vec().unwrap())
    }

    fn ke_group_of(m: &Message) -> KeGroup {
        m.payloads
            .iter()
            .find_map(|p| match p {
                Payload::Ke(k) => Some(k.group),
                _ => None,
            })
            .unwrap()
    }

    fn nonce_of(m: &Message) -> Vec<u8> {
        m.payloads
            .iter()
            .find_map(|p| match p {
                Payload::Nonce(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap()
    }

    fn only_notify(m: &Message) -> &NotifyPayload {
        match m.payloads.as_slice() {
            [Payload::Notify(n)] => n,
            other => panic!("not a lone notification: {other:?}"),
        }
    }

    #[test]
    fn a_cookie_restarts_with_it_first_at_most_three_times() {
        let now = Instant::now();
        let (mut n, mut sa) = initiator(config("spoke", "hub", "secret", 1), now);
        let first = plain(&n.sent_one());
        let mut req = Transmit::udp(addr(A), addr(B), first.to_vec().unwrap());
        for round in 1..=3u8 {
            let cookie = [round; 16];
            deliver(
                &mut n,
                &mut sa,
                now,
                &answer(&req, NotifyType::COOKIE, &cookie),
            )
            .unwrap();
            req = n.sent_one();
            let m = plain(&req);
            // §2.6: the same request (SPI, nonce, group) with the cookie as first payload.
            match m.payloads.first() {
                Some(Payload::Notify(c)) if c.notify_type == NotifyType::COOKIE => {
                    assert_eq!(c.data, cookie)
                }
                other => panic!("round {round}: first payload {other:?}"),
            }
            assert_eq!(m.spi_i, first.spi_i);
            assert_eq!(nonce_of(&m), nonce_of(&first));
            assert_eq!(ke_group_of(&m), ke_group_of(&first));
            assert_eq!(sa.state, State::InitSent);
        }
        deliver(
            &mut n,
            &mut sa,
            now,
            &answer(&req, NotifyType::COOKIE, &[9; 16]),
        )
        .unwrap();
        assert!(n.sent().is_empty());
        assert_eq!(
            down_reason(&n.events()),
            Some(DownReason::Refused(NotifyType::COOKIE))
        );
        assert_eq!(sa.state, State::Dead);
    }

    #[test]
    fn invalid_ke_retries_in_the_asked_group_only_when_we_offer_it() {
        let now = Instant::now();
        let (mut n, mut sa) = initiator(config("spoke", "hub", "secret", 1), now);
        let req = n.sent_one();
        assert_eq!(ke_group_of(&plain(&req)), KeGroup::CURVE25519);
        // Our second proposal has MODP-2048: retry with it.
        let want = KeGroup::MODP_2048.0.to_be_bytes();
        deliver(
            &mut n,
            &mut sa,
            now,
            &answer(&req, NotifyType::INVALID_KE_PAYLOAD, &want),
        )
        .unwrap();
        let retry = n.sent_one();
        assert_eq!(ke_group_of(&plain(&retry)), KeGroup::MODP_2048);
        assert_eq!(sa.state, State::InitSent);
        // Asked again for the group we already use: no loop, the SA fails.
        deliver(
            &mut n,
            &mut sa,
            now,
            &answer(&retry, NotifyType::INVALID_KE_PAYLOAD, &want),
        )
        .unwrap();
        assert!(n.sent().is_empty());
        let refused = Some(DownReason::Refused(NotifyType::INVALID_KE_PAYLOAD));
        assert_eq!(down_reason(&n.events()), refused);

        // A group we do not offer: no retry either.
        let (mut n, mut sa) = initiator(config("spoke", "hub", "secret", 3), now);
        let req = n.sent_one();
        let p521 = KeGroup::ECP_521.0.to_be_bytes();
        deliver(
            &mut n,
            &mut sa,
            now,
            &answer(&req, NotifyType::INVALID_KE_PAYLOAD, &p521),
        )
        .unwrap();
        assert!(n.sent().is_empty());
        assert_eq!(down_reason(&n.events()), refused);
    }

    #[test]
    fn the_responder_names_its_group_and_accepts_the_retry() {
        let now = Instant::now();
        let (mut ni, mut i) = initiator(config("spoke", "hub", "secret", 1), now);
        let cfg_r = config("hub", "spoke", "secret", 2)
            .with_ike_proposals(&["aes128-sha256-modp2048"])
            .unwrap();
        let mut nr = Node::new(cfg_r);
        let req = ni.sent_one();
        let Err(refusal) = respond(&mut nr, now, &req) else {
            panic!("accepted a Curve25519 KE for a MODP-2048 proposal");
        };
        let n = only_notify(&refusal);
        assert_eq!(n.notify_type, NotifyType::INVALID_KE_PAYLOAD);
        assert_eq!(n.data, KeGroup::MODP_2048.0.to_be_bytes());
        assert_eq!((refusal.spi_i, refusal.spi_r), (plain(&req).spi_i, 0));
        assert_eq!(nr.next_id, 0, "no SA was created");
        let back = Transmit::udp(addr(B), addr(A), refusal.to_vec().unwrap());
        deliver(&mut ni, &mut i, now, &back).unwrap();
        let Ok(r) = respond(&mut nr, now, &ni.sent_one()) else {
            panic!("the retry in MODP-2048 was refused");
        };
        assert_eq!(r.state, State::HalfOpen);
        assert_eq!(r.suite.map(|s| s.group), Some(KeGroup::MODP_2048));
    }

    #[test]
    fn the_responder_refuses_short_nonces_and_foreign_proposals() {
        let now = Instant::now();
        let (mut ni, _i) = initiator(config("spoke", "hub", "secret", 1), now);
        let mut m = plain(&ni.sent_one());
        let mut nr = Node::new(config("hub", "spoke", "secret", 2));
        for p in &mut m.payloads {
            if let Payload::Nonce(n) = p {
                n.truncate(15);
            }
        }
        let short = Transmit::udp(addr(A), addr(B), m.to_vec().unwrap());
        let Err(r) = respond(&mut nr, now, &short) else {
            panic!("a 15-byte nonce was accepted");
        };
        assert_eq!(only_notify(&r).notify_type, NotifyType::INVALID_SYNTAX);

        let (mut ni, _i) = initiator(config("spoke", "hub", "secret", 3), now);
        let cfg_r = config("hub", "spoke", "secret", 4)
            .with_ike_proposals(&["aes128-sha256-ecp256"])
            .unwrap();
        let mut nr = Node::new(cfg_r);
        let Err(r) = respond(&mut nr, now, &ni.sent_one()) else {
            panic!("no common proposal, yet accepted");
        };
        assert_eq!(only_notify(&r).notify_type, NotifyType::NO_PROPOSAL_CHOSEN);
    }

    #[test]
    fn a_late_copy_of_the_response_is_dropped() {
        let now = Instant::now();
        let (mut ni, mut i) = initiator(config("spoke", "hub", "secret", 1), now);
        let mut nr = Node::new(config("hub", "spoke", "secret", 2));
        let Ok(_r) = respond(&mut nr, now, &ni.sent_one()) else {
            panic!("refused");
        };
        let resp = nr.sent_one();
        deliver(&mut ni, &mut i, now, &resp).unwrap();
        assert_eq!(i.state, State::AuthSent);
        assert_eq!(ni.sent().len(), 1, "IKE_AUTH");
        let dropped = ni.counters.dropped;
        deliver(&mut ni, &mut i, now, &resp).unwrap();
        assert_eq!(ni.counters.dropped, dropped + 1);
        assert!(ni.sent().is_empty());
        assert_eq!(i.state, State::AuthSent);
    }

    #[test]
    fn a_retransmitted_request_gets_the_same_response() {
        let now = Instant::now();
        let p = half_open(
            config("spoke", "hub", "secret", 1),
            config("hub", "spoke", "secret", 2),
            now,
        );
        let (mut nr, mut r) = (p.nr, p.r);
        nr.run(|cx| r.resend_init_response(cx, now));
        let again = nr.sent_one();
        assert_eq!(
            Some(&again.payload),
            r.last_response.as_ref().map(|(_, b)| b)
        );
        assert_eq!(plain(&again).message_id, 0);
        assert_eq!(nr.counters.cached_responses, 1);
    }

    #[test]
    fn a_half_open_sa_expires_without_ike_auth() {
        let now = Instant::now();
        let p = half_open(
            config("spoke", "hub", "secret", 1),
            config("hub", "spoke", "secret", 2),
            now,
        );
        let (mut nr, mut r) = (p.nr, p.r);
        let expiry = now + Duration::from_secs(30);
        assert_eq!(r.next_timeout(&nr.cfg), Some(expiry));
        nr.run(|cx| r.handle_timeout(cx, expiry - Duration::from_millis(1)))
            .unwrap();
        assert_eq!(r.state, State::HalfOpen);
        nr.run(|cx| r.handle_timeout(cx, expiry)).unwrap();
        let events = nr.events();
        assert_eq!(down_reason(&events), Some(DownReason::HalfOpenExpired));
        assert!(!events.iter().any(|e| matches!(e, Event::IkeUp { .. })));
        assert_eq!(r.state, State::Dead);
    }
}
