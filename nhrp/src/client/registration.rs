//! The registration side of the client (RFC 2332 §5.2.3, §5.2.4): a Registration Request to
//! every NHS now and every registration interval (holdtime/3), retransmission with back-off
//! while unanswered, NHS up/down, rejections and NAT detection from the replies.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::Client;
use crate::Error;
use crate::machine::Event;
use crate::wire::{CieCode, ExtensionType, Flags, Node, PacketType, Repr};

/// The state of one NHS as the client sees it (`show ip nhrp nhs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NhsStatus {
    /// Protocol address.
    pub protocol_addr: IpAddr,
    /// NBMA address.
    pub nbma_addr: IpAddr,
    /// R: responding (the last registration was answered).
    pub up: bool,
    /// E: a registration is outstanding.
    pub expecting: bool,
    /// Registrations missed in a row.
    pub misses: u32,
}

/// One NHS and its registration.
#[derive(Debug, Clone)]
pub(super) struct NhsState {
    pub(super) proto: IpAddr,
    pub(super) nbma: IpAddr,
    up: bool,
    down_reported: bool,
    outstanding: Option<u32>,
    /// When the next registration (or retransmission) is due.
    pub(super) next: Option<Instant>,
    interval: Duration,
    misses: u32,
}

impl NhsState {
    /// An NHS not registered with yet, retransmitting first after `initial`.
    pub(super) fn new(proto: IpAddr, nbma: IpAddr, initial: Duration) -> NhsState {
        NhsState {
            proto,
            nbma,
            up: false,
            down_reported: false,
            outstanding: None,
            next: None,
            interval: initial,
            misses: 0,
        }
    }

    /// The request ID of the registration outstanding.
    pub(super) fn outstanding(&self) -> Option<u32> {
        self.outstanding
    }

    /// Stops registering: nothing outstanding, nothing due, not up.
    pub(super) fn stop(&mut self) {
        self.next = None;
        self.outstanding = None;
        self.up = false;
    }
}

impl Client {
    /// `show ip nhrp nhs`.
    pub fn nhs_status(&self) -> Vec<NhsStatus> {
        self.nhs
            .iter()
            .map(|n| NhsStatus {
                protocol_addr: n.proto,
                nbma_addr: n.nbma,
                up: n.up,
                expecting: n.outstanding.is_some(),
                misses: n.misses,
            })
            .collect()
    }

    /// Registers with every NHS now (IOS does at interface up), then every registration
    /// interval.
    pub fn register(&mut self, now: Instant) {
        for i in 0..self.nhs.len() {
            if let Some(n) = self.nhs.get_mut(i) {
                n.outstanding = None;
                n.interval = self.config.registration_backoff.initial;
            }
            self.send_registration(now, i);
        }
    }

    /// Registers now with the NHS(s) at NBMA address `nbma`, with a new request ID, and then
    /// every registration interval: what IOS does when the path to an NHS comes back (its
    /// IPsec SA is up again after it was cleared or lost), so that an NHS that dropped the
    /// registration with the SA has it again at once rather than at the next refresh.
    /// Returns whether `nbma` is an NHS of this client.
    pub fn register_with(&mut self, now: Instant, nbma: IpAddr) -> bool {
        let mut any = false;
        for i in 0..self.nhs.len() {
            if let Some(n) = self.nhs.get_mut(i).filter(|n| n.nbma == nbma) {
                n.outstanding = None;
                n.interval = self.config.registration_backoff.initial;
                any = true;
                self.send_registration(now, i);
            }
        }
        any
    }

    /// Sends (or retransmits, with the same request ID) the registration to NHS `i`.
    fn send_registration(&mut self, now: Instant, i: usize) {
        let Some(n) = self.nhs.get(i) else { return };
        let (proto, nbma) = (n.proto, n.nbma);
        let id = match n.outstanding {
            Some(id) => id,
            None => self.fresh_request_id(),
        };
        let nhs_node = Node::new(nbma, proto);
        let mut req = Repr::registration_request(
            id,
            &self.core.me,
            &nhs_node,
            self.config.holdtime,
            self.config.common.mtu,
        );
        if !self.config.unique
            && let Some(b) = req.message.body_mut()
        {
            b.flags = Flags(b.flags.0 & !Flags::REGISTRATION_U.0);
        }
        self.core.send(now, nbma, req);
        if let Some(n) = self.nhs.get_mut(i) {
            n.outstanding = Some(id);
            n.next = Some(now + n.interval);
        }
    }

    /// The NHS at NBMA address `nbma` is unreachable, by what a lower layer knows (its IPsec
    /// peer stopped answering liveness checks): it is down now, as after `nhs_down_after`
    /// missed registrations ([`Event::NhsDown`], and [`Event::AllNhsDown`] if it was the
    /// last), and registrations to it go on at the back-off interval until it answers again.
    /// Returns whether an NHS was up and is now down.
    pub fn nhs_unreachable(&mut self, nbma: IpAddr) -> bool {
        let mut any = false;
        for n in self.nhs.iter_mut().filter(|n| n.nbma == nbma) {
            if n.down_reported {
                continue;
            }
            n.up = false;
            n.down_reported = true;
            n.misses = n.misses.max(self.config.nhs_down_after);
            any = true;
            let nhs = n.proto;
            self.core.event(Event::NhsDown { nhs });
        }
        if !self.nhs.is_empty()
            && self.nhs.iter().all(|n| n.down_reported)
            && !self.all_down_reported
        {
            self.all_down_reported = true;
            self.core.event(Event::AllNhsDown);
        }
        any
    }

    /// The NHS to send resolutions (and traffic still waiting for one) to: the first one up,
    /// else the first configured, as (protocol address, NBMA address). Allocates nothing (it is
    /// on the data path of every packet sent through the hub).
    pub fn first_nhs(&self) -> Option<(IpAddr, IpAddr)> {
        self.nhs
            .iter()
            .find(|n| n.up)
            .or_else(|| self.nhs.first())
            .map(|n| (n.proto, n.nbma))
    }

    /// The registration timers due at `now`: a registration still outstanding is a miss (the
    /// interval backs off, the NHS is down after `nhs_down_after` misses), and the
    /// registration is sent again.
    pub(super) fn registration_timers(&mut self, now: Instant) {
        for i in 0..self.nhs.len() {
            let Some(n) = self.nhs.get_mut(i) else {
                continue;
            };
            if n.next.is_none_or(|t| t > now) {
                continue;
            }
            if n.outstanding.is_some() {
                n.misses = n.misses.saturating_add(1);
                n.interval = self.config.registration_backoff.next(n.interval);
                if n.misses >= self.config.nhs_down_after && !n.down_reported {
                    n.up = false;
                    n.down_reported = true;
                    let nhs = n.proto;
                    self.core.event(Event::NhsDown { nhs });
                }
            }
            self.send_registration(now, i);
        }
        if !self.nhs.is_empty()
            && self.nhs.iter().all(|n| n.down_reported)
            && !self.all_down_reported
        {
            self.all_down_reported = true;
            self.core.event(Event::AllNhsDown);
        }
    }

    /// A Registration Reply: matched by request ID and NHS; the next registration is due in
    /// one registration interval whether it was accepted or rejected.
    pub(super) fn on_registration_reply(&mut self, now: Instant, repr: &Repr) -> Result<(), Error> {
        let body = repr.message.body().ok_or(Error::Unexpected {
            packet_type: repr.packet_type(),
            reason: "no body",
        })?;
        let dst = repr.dst_proto_addr.ip();
        let Some(i) = self
            .nhs
            .iter()
            .position(|n| n.outstanding == Some(body.request_id) && Some(n.proto) == dst)
        else {
            return Err(Error::UnmatchedReply {
                packet_type: PacketType::REGISTRATION_REPLY,
                request_id: body.request_id,
            });
        };
        let interval = self.config.registration_interval();
        let initial = self.config.registration_backoff.initial;
        let rejected = body
            .cies
            .iter()
            .find(|c| c.code != CieCode::SUCCESS)
            .map(|c| c.code);
        let me = self.config.common.protocol_addr;
        let my_nbma = self.config.common.nbma_addr;
        let nat = repr
            .extension(ExtensionType::NAT_ADDRESS)
            .and_then(|e| e.cies())
            .and_then(|cies| {
                cies.iter().find_map(|c| {
                    let nbma = c.client_nbma_addr.addr.ip()?;
                    (c.client_proto_addr.ip() == Some(me) && nbma != my_nbma).then_some(nbma)
                })
            });
        let Some(n) = self.nhs.get_mut(i) else {
            return Ok(());
        };
        n.outstanding = None;
        n.next = Some(now + interval);
        n.interval = initial;
        n.misses = 0;
        let nhs = n.proto;
        if let Some(code) = rejected {
            self.core.event(Event::RegistrationRejected { nhs, code });
            return Ok(());
        }
        let was_up = n.up;
        n.up = true;
        n.down_reported = false;
        self.all_down_reported = false;
        if !was_up {
            self.core.event(Event::NhsUp { nhs });
        }
        self.core.event(Event::Registered {
            nhs,
            holding_time: self.config.holdtime,
        });
        if let Some(public) = nat
            && self.public_nbma != Some(public)
        {
            self.public_nbma = Some(public);
            self.core.event(Event::NatDetected {
                nhs,
                public_nbma: public,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{HUB_NBMA, HUB_PROTO, events, ip, reply, spoke, transmits};
    use super::*;
    use crate::machine::Backoff;
    use crate::wire::{Cie, Extension, ExtensionBody, NbmaAddress};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn accepted_registration_is_refreshed_every_holdtime_over_three() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| c.holdtime = 600);
        c.register(t0);
        let req = transmits(&mut c).pop().unwrap();
        assert_eq!(req.dst, ip(HUB_NBMA));
        let first = Repr::parse_bytes(&req.payload).unwrap();
        assert_eq!(first.packet_type(), PacketType::REGISTRATION_REQUEST);
        assert_eq!(first.cies().first().unwrap().holding_time, 600);
        let answer = first.cies().to_vec();
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&req.payload, answer))
            .unwrap();
        assert_eq!(
            events(&mut c),
            vec![
                Event::NhsUp { nhs: ip(HUB_PROTO) },
                Event::Registered {
                    nhs: ip(HUB_PROTO),
                    holding_time: 600
                }
            ]
        );
        // The next registration is due in 600/3 = 200 s, not at the back-off interval.
        assert_eq!(c.poll_timeout(), Some(t0 + secs(200)));
        c.handle_timeout(t0 + secs(199));
        assert!(transmits(&mut c).is_empty());
        c.handle_timeout(t0 + secs(200));
        let refresh = transmits(&mut c);
        assert_eq!(refresh.len(), 1);
        let again = Repr::parse_bytes(&refresh.first().unwrap().payload).unwrap();
        assert_eq!(again.packet_type(), PacketType::REGISTRATION_REQUEST);
        assert_ne!(
            again.request_id(),
            first.request_id(),
            "a refresh is a new request"
        );
        // Answered again: no second NhsUp, and the NHS is not counted as missed.
        let answer = again.cies().to_vec();
        c.handle_packet(
            t0 + secs(200),
            ip(HUB_NBMA),
            &reply(&refresh.first().unwrap().payload, answer),
        )
        .unwrap();
        assert!(
            !events(&mut c)
                .iter()
                .any(|e| matches!(e, Event::NhsUp { .. }))
        );
        assert_eq!(c.nhs_status().first().unwrap().misses, 0);
    }

    #[test]
    fn lost_replies_back_off_doubling_up_to_the_cap_then_the_nhs_is_down() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| {
            c.registration_backoff = Backoff {
                initial: secs(1),
                max: secs(8),
            };
        });
        c.register(t0);
        let first = transmits(&mut c).pop().unwrap();
        let id = Repr::parse_bytes(&first.payload).unwrap().request_id();
        let mut now = t0;
        let mut gaps = Vec::new();
        for _ in 0..6 {
            let next = c.poll_timeout().unwrap();
            gaps.push(next.duration_since(now).as_secs());
            now = next;
            c.handle_timeout(now);
            let sent = transmits(&mut c);
            assert_eq!(sent.len(), 1);
            // A retransmission keeps the request ID of the registration it repeats.
            let r = Repr::parse_bytes(&sent.first().unwrap().payload).unwrap();
            assert_eq!(r.request_id(), id);
        }
        assert_eq!(gaps, vec![1, 2, 4, 8, 8, 8]);
        let status = c.nhs_status();
        assert_eq!(status.first().unwrap().misses, 6);
        assert!(status.first().unwrap().expecting);
        assert!(!status.first().unwrap().up);
        // Down after the third miss (the default), reported once; every NHS is down.
        let evs = events(&mut c);
        let downs = evs
            .iter()
            .filter(|e| **e == Event::NhsDown { nhs: ip(HUB_PROTO) })
            .count();
        assert_eq!(downs, 1);
        assert_eq!(evs.iter().filter(|e| **e == Event::AllNhsDown).count(), 1);
    }

    #[test]
    fn rejected_registration_raises_an_event_and_waits_for_the_interval() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| c.holdtime = 300);
        c.register(t0);
        let req = transmits(&mut c).pop().unwrap();
        let nak = Cie {
            code: CieCode::ALREADY_REGISTERED,
            ..Cie::default()
        };
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&req.payload, vec![nak]))
            .unwrap();
        assert_eq!(
            events(&mut c),
            vec![Event::RegistrationRejected {
                nhs: ip(HUB_PROTO),
                code: CieCode::ALREADY_REGISTERED
            }]
        );
        assert!(!c.nhs_status().first().unwrap().up);
        assert_eq!(c.poll_timeout(), Some(t0 + secs(100)));
    }

    #[test]
    fn reply_with_an_unknown_request_id_is_dropped_and_counted() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        c.register(t0);
        let req = transmits(&mut c).pop().unwrap();
        let mut r = Repr::parse_bytes(&req.payload).unwrap();
        let id = r.request_id().unwrap();
        if let Some(b) = r.message.body_mut() {
            b.request_id = id.wrapping_add(1);
        }
        let forged = reply(&r.to_bytes().unwrap(), r.cies().to_vec());
        let err = c.handle_packet(t0, ip(HUB_NBMA), &forged).unwrap_err();
        assert!(matches!(
            err,
            Error::UnmatchedReply {
                packet_type: PacketType::REGISTRATION_REPLY,
                ..
            }
        ));
        assert_eq!(c.stats().unmatched_replies, 1);
        assert!(events(&mut c).is_empty());
        assert!(c.nhs_status().first().unwrap().expecting);
    }

    #[test]
    fn nat_address_in_the_reply_is_this_nodes_public_nbma() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        c.register(t0);
        let req = transmits(&mut c).pop().unwrap();
        let r = Repr::parse_bytes(&req.payload).unwrap();
        let hub = Node::new(ip(HUB_NBMA), ip(HUB_PROTO));
        let mut rep = r.reply(&hub, r.cies().to_vec()).unwrap();
        let seen = Cie {
            client_nbma_addr: NbmaAddress::from(ip("203.0.113.7")),
            client_proto_addr: ip("10.0.0.2").into(),
            prefix_len: 32,
            ..Cie::default()
        };
        match rep.extension_mut(ExtensionType::NAT_ADDRESS) {
            Some(e) => e.body = ExtensionBody::NatAddress(vec![seen]),
            None => rep
                .extensions
                .push(Extension::new(ExtensionBody::NatAddress(vec![seen]))),
        }
        c.handle_packet(t0, ip(HUB_NBMA), &rep.to_bytes().unwrap())
            .unwrap();
        assert_eq!(c.public_nbma(), Some(ip("203.0.113.7")));
        assert!(events(&mut c).contains(&Event::NatDetected {
            nhs: ip(HUB_PROTO),
            public_nbma: ip("203.0.113.7")
        }));
    }
}
