//! The message-ID window of an IKE SA (RFC 7296 §2.1, a window of 1): protecting and sending
//! requests and responses, matching what arrives to the pending request or answering it
//! (retransmitted requests from the cached response), and starting queued exchanges.

use core::net::SocketAddr;
use std::time::Instant;

use dmvpn_esp::Mode;
use dmvpn_esp::wire::udp_encap::{NAT_T_PORT, NON_ESP_MARKER};

use crate::event::{DownReason, Event};
use crate::wire::{
    DeletePayload, ExchangeType, HeaderRepr, Message, NotifyType, Payload, ProtocolId,
};
use crate::{Error, Transmit};

use super::timers::Timer;
use super::{Action, ChildState, Cx, IkeSa, Pending, Req, State, notify};

impl IkeSa {
    pub(super) fn send_raw(&mut self, cx: &mut Cx<'_>, now: Instant, ike: &[u8]) {
        let to = self.remote;
        self.send_raw_to(cx, now, to, ike);
    }

    /// Sends the IKE message `ike` to `to` (after the non-ESP marker on port 4500).
    pub(super) fn send_raw_to(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        to: SocketAddr,
        ike: &[u8],
    ) {
        let payload = if self.local.port() == NAT_T_PORT {
            let mut v = Vec::with_capacity(ike.len() + 4);
            v.extend_from_slice(&NON_ESP_MARKER);
            v.extend_from_slice(ike);
            v
        } else {
            ike.to_vec()
        };
        self.last_sent = now;
        cx.transmit(Transmit::udp(self.local, to, payload));
    }

    pub(super) fn protect(
        &self,
        cx: &Cx<'_>,
        exchange: ExchangeType,
        mid: u32,
        response: bool,
        payloads: &[Payload],
    ) -> Result<Vec<u8>, Error> {
        let sk = self.sk.as_ref().ok_or(Error::MissingState {
            operation: "SK protection",
            missing: "IKE SA keys (IKE_SA_INIT not complete)",
        })?;
        let outer = Message {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            minor_version: 0,
            exchange_type: exchange,
            flags: self.flags(response),
            message_id: mid,
            payloads: Vec::new(),
        };
        sk.outbound
            .protect(cx.cfg.provider.random(), &outer, payloads)
    }

    pub(super) fn request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        exchange: ExchangeType,
        payloads: &[Payload],
        req: Req,
    ) -> Result<(), Error> {
        let mid = self.mid_out;
        let bytes = self.protect(cx, exchange, mid, false, payloads)?;
        self.mid_out = mid.wrapping_add(1);
        self.send_pending(cx, now, mid, bytes, req);
        Ok(())
    }

    pub(super) fn send_pending(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        bytes: Vec<u8>,
        req: Req,
    ) {
        self.send_raw(cx, now, &bytes);
        let wait = cx.cfg.retransmit.initial;
        self.pending = Some(Pending {
            mid,
            bytes,
            req,
            sent: 1,
            wait,
            next: now + wait,
        });
    }

    pub(super) fn respond(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        exchange: ExchangeType,
        mid: u32,
        payloads: &[Payload],
    ) -> Result<(), Error> {
        let refusal = payloads.iter().find_map(|p| match p {
            Payload::Notify(n) if n.notify_type.is_error() => Some(n.notify_type),
            _ => None,
        });
        if let Some(reason) = refusal {
            cx.counters.errors_sent += 1;
            cx.event(Event::Refused {
                sa: Some(self.id),
                remote: self.remote,
                exchange,
                reason,
            });
        }
        let bytes = self.protect(cx, exchange, mid, true, payloads)?;
        self.send_raw(cx, now, &bytes);
        self.last_response = Some((mid, bytes));
        self.mid_in = mid.wrapping_add(1);
        Ok(())
    }

    /// An IKE_SA_INIT response for this (initiator) SA.
    pub(crate) fn handle_init(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        raw: &[u8],
        msg: Message,
    ) -> Result<(), Error> {
        let expected = matches!(
            self.pending.as_ref(),
            Some(Pending {
                mid: 0,
                req: Req::Init,
                ..
            })
        );
        if self.state != State::InitSent || !expected || msg.message_id != 0 {
            cx.counters.dropped += 1;
            return Ok(());
        }
        self.handle_init_response(cx, now, raw, msg)?;
        self.pump(cx, now)
    }

    /// An SK-protected message for this SA (RFC 7296 §2.1: requests by message ID, a
    /// retransmitted request answered from the cache; responses matched to our request).
    pub(crate) fn handle_protected(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        hdr: &HeaderRepr,
    ) -> Result<(), Error> {
        let Some(sk) = self.sk.as_ref() else {
            cx.counters.dropped += 1;
            return Ok(());
        };
        if self.state == State::Dead {
            cx.counters.dropped += 1;
            return Ok(());
        }
        let response = hdr.flags.response();
        let mid = hdr.message_id;
        if response {
            if self.pending.as_ref().is_none_or(|p| p.mid != mid) {
                cx.counters.dropped += 1;
                return Ok(());
            }
        } else if mid != self.mid_in {
            let cached = self
                .last_response
                .as_ref()
                .filter(|(m, _)| *m == mid)
                .map(|(_, b)| b.clone());
            match cached {
                Some(bytes) if sk.inbound.unprotect(raw).is_ok() => {
                    cx.counters.cached_responses += 1;
                    self.send_raw(cx, now, &bytes);
                }
                _ => cx.counters.dropped += 1,
            }
            return Ok(());
        }
        let un = match sk.inbound.unprotect(raw) {
            Ok(u) => u,
            Err(e) => {
                cx.counters.dropped += 1;
                return Err(e);
            }
        };
        if un.fragment.is_some() {
            cx.counters.dropped += 1;
            return Err(Error::Malformed("IKE fragments are not supported"));
        }
        self.last_heard = now;
        if (self.natt || self.state == State::HalfOpen)
            && (remote != self.remote || local != self.local)
        {
            // NAT traversal (§2.23): follow the peer to its current address and port.
            let from = self.remote;
            self.local = local;
            self.remote = remote;
            self.natt = self.natt || local.port() == NAT_T_PORT;
            if self.state == State::Established && from != remote {
                cx.counters.peer_moves += 1;
                cx.event(Event::PeerMoved {
                    sa: self.id,
                    from,
                    to: remote,
                });
            }
        }
        let payloads = match un.payloads() {
            Ok(p) => p,
            Err(e) => {
                if response {
                    let pend = self.pending.take();
                    if matches!(pend.map(|p| p.req), Some(Req::Auth)) {
                        self.down(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
                    }
                } else {
                    let n = match e {
                        Error::UnsupportedCriticalPayload(t) => {
                            notify(NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD, &[t.0])
                        }
                        _ => notify(NotifyType::INVALID_SYNTAX, &[]),
                    };
                    self.respond(cx, now, hdr.exchange_type, mid, &[n])?;
                    if self.state == State::HalfOpen {
                        self.down(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
                    }
                }
                return Err(e);
            }
        };
        if response {
            if let Some(p) = self.pending.take() {
                self.handle_response(cx, now, p.req, &payloads)?;
            }
        } else {
            self.handle_request(cx, now, hdr.exchange_type, mid, &payloads)?;
        }
        self.pump(cx, now)
    }

    pub(super) fn handle_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        ex: ExchangeType,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        match (self.state, ex) {
            (State::HalfOpen, ExchangeType::IKE_AUTH) => self.handle_auth_request(cx, now, mid, p),
            (State::Established, ExchangeType::CREATE_CHILD_SA) => {
                self.handle_create_child_request(cx, now, mid, p)
            }
            (
                State::Established | State::Rekeyed | State::Deleting,
                ExchangeType::INFORMATIONAL,
            ) => self.handle_informational_request(cx, now, mid, p),
            (State::Rekeyed | State::Deleting, ExchangeType::CREATE_CHILD_SA) => self.respond(
                cx,
                now,
                ex,
                mid,
                &[notify(NotifyType::TEMPORARY_FAILURE, &[])],
            ),
            _ => {
                cx.counters.dropped += 1;
                Ok(())
            }
        }
    }

    pub(super) fn handle_response(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        req: Req,
        p: &[Payload],
    ) -> Result<(), Error> {
        match req {
            Req::Init => Ok(()),
            Req::Auth => self.handle_auth_response(cx, now, p),
            Req::Child(r) => self.finish_child(cx, now, *r, None, p),
            Req::RekeyIke(r) => self.finish_ike_rekey(cx, now, *r, p),
            Req::Delete | Req::Liveness => Ok(()),
            Req::DeleteIke => {
                match self.close_reason {
                    Some(r) => self.down(cx, r),
                    None => self.state = State::Dead,
                }
                Ok(())
            }
        }
    }

    /// Starts queued exchanges while the window (of 1) is free.
    pub(crate) fn pump(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        if self.due(cx.cfg, Timer::Delayed, now) {
            let (due, later): (Vec<_>, Vec<_>) =
                self.delayed.drain(..).partition(|(t, _)| *t <= now);
            self.delayed = later;
            self.actions.extend(due.into_iter().map(|(_, a)| a));
        }
        while self.pending.is_none() {
            let Some(front) = self.actions.front() else {
                break;
            };
            let ready = self.state == State::Established
                || (self.state == State::Deleting && *front == Action::DeleteIke);
            if !ready {
                break;
            }
            let Some(a) = self.actions.pop_front() else {
                break;
            };
            match a {
                Action::CreateChild(ts_i, ts_r) => {
                    let transport = cx.cfg.mode == Mode::Transport;
                    self.start_child(cx, now, None, ts_i, ts_r, transport, None)?;
                }
                Action::RekeyChild(spi) => {
                    let Some(c) = self
                        .children
                        .iter_mut()
                        .find(|c| c.spi_in == spi && c.state == ChildState::Installed)
                    else {
                        continue;
                    };
                    c.state = ChildState::Rekeying;
                    let (ts_i, ts_r) = (c.ts_local.clone(), c.ts_remote.clone());
                    let transport = c.mode == Mode::Transport;
                    self.start_child(cx, now, Some(spi), ts_i, ts_r, transport, None)?;
                }
                Action::RekeyIke => self.start_ike_rekey(cx, now, None)?,
                Action::DeleteChild(spi) => {
                    self.remove_child(cx, spi);
                    let d = Payload::Delete(DeletePayload {
                        protocol_id: ProtocolId::ESP,
                        spi_size: 4,
                        spis: vec![spi.to_be_bytes().to_vec()],
                    });
                    self.request(cx, now, ExchangeType::INFORMATIONAL, &[d], Req::Delete)?;
                }
                Action::DeleteIke => {
                    for spi in self.children.iter().map(|c| c.spi_in).collect::<Vec<_>>() {
                        self.remove_child(cx, spi);
                    }
                    self.state = State::Deleting;
                    let d = Payload::Delete(DeletePayload {
                        protocol_id: ProtocolId::IKE,
                        spi_size: 0,
                        spis: Vec::new(),
                    });
                    self.request(cx, now, ExchangeType::INFORMATIONAL, &[d], Req::DeleteIke)?;
                }
                Action::Liveness => {
                    self.request(cx, now, ExchangeType::INFORMATIONAL, &[], Req::Liveness)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::testutil::{config, deliver, established, initiator};

    #[test]
    fn a_retransmitted_request_is_answered_from_the_cache() {
        let now = Instant::now();
        let mut p = established(now);
        p.ni.run(|cx| p.i.check_liveness(cx, now)).unwrap();
        let req = p.ni.sent_one();
        deliver(&mut p.nr, &mut p.r, now, &req).unwrap();
        let first = p.nr.sent_one();
        let mid_in = p.r.mid_in;
        deliver(&mut p.nr, &mut p.r, now, &req).unwrap();
        let again = p.nr.sent_one();
        assert_eq!(again, first, "the cached bytes, not a new response");
        assert_eq!(p.r.mid_in, mid_in, "the window did not move");
        assert_eq!(p.nr.counters.cached_responses, 1);
    }

    #[test]
    fn a_response_nobody_waits_for_is_dropped() {
        let now = Instant::now();
        let mut p = established(now);
        p.ni.run(|cx| p.i.check_liveness(cx, now)).unwrap();
        deliver(&mut p.nr, &mut p.r, now, &p.ni.sent_one()).unwrap();
        let answer = p.nr.sent_one();
        deliver(&mut p.ni, &mut p.i, now, &answer).unwrap();
        let dropped = p.ni.counters.dropped;
        deliver(&mut p.ni, &mut p.i, now, &answer).unwrap();
        assert_eq!(p.ni.counters.dropped, dropped + 1);
        assert!(p.ni.sent().is_empty() && p.ni.events().is_empty());
    }

    #[test]
    fn a_request_out_of_the_window_is_dropped() {
        let now = Instant::now();
        let mut p = established(now);
        // A request with the message ID after the expected one (window of 1).
        p.i.mid_out += 1;
        p.ni.run(|cx| p.i.check_liveness(cx, now)).unwrap();
        deliver(&mut p.nr, &mut p.r, now, &p.ni.sent_one()).unwrap();
        assert!(p.nr.sent().is_empty());
        assert_eq!(p.nr.counters.dropped, 1);
    }

    #[test]
    fn protection_needs_the_ike_sa_keys() {
        let now = Instant::now();
        let (mut n, sa) = initiator(config("spoke", "hub", "secret", 1), now);
        let r = n.run(|cx| sa.protect(cx, ExchangeType::INFORMATIONAL, 1, false, &[]));
        assert!(
            matches!(
                r,
                Err(Error::MissingState {
                    operation: "SK protection",
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[test]
    fn on_port_4500_messages_carry_the_non_esp_marker() {
        let now = Instant::now();
        let mut p = established(now);
        p.i.local.set_port(NAT_T_PORT);
        p.i.remote.set_port(NAT_T_PORT);
        p.ni.run(|cx| p.i.check_liveness(cx, now)).unwrap();
        let t = p.ni.sent_one();
        assert_eq!(t.payload.get(..4), Some(&NON_ESP_MARKER[..]));
        assert_eq!(
            (t.local().port(), t.remote().port()),
            (NAT_T_PORT, NAT_T_PORT)
        );
        assert_eq!(
            p.i.pending.as_ref().map(|x| x.bytes.len()),
            Some(t.payload.len() - 4)
        );
    }
}
