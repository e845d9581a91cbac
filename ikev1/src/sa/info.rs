//! Informational exchanges of an established ISAKMP SA (RFC 2409 §5.7): Delete of the ISAKMP
//! SA and of IPsec SAs, INITIAL-CONTACT (RFC 2407 §4.6.3.3), DPD R-U-THERE / R-U-THERE-ACK
//! (RFC 3706), CONNECTED (the commit bit), error notifications; and the SA's timers (Main
//! Mode retransmission, lifetimes, DPD, NAT keepalives).

use std::time::Instant;

use dmvpn_wire::Transmit;

use crate::Error;
use crate::event::{DownReason, Event};
use crate::keys::split_hash;
use crate::wire::{
    DeletePayload, ExchangeType, NotifyPayload, NotifyType, Payload, PayloadType, ProtocolId,
};

use super::{Cx, IsakmpSa, NAT_T_PORT, Phase};

/// What an Informational or a timer asks the endpoint to do besides the events.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct InfoOutcome {
    /// The SA goes, for this reason.
    pub down: Option<DownReason>,
    /// The peer said INITIAL-CONTACT: its other SAs with us are stale.
    pub initial_contact: bool,
    /// Start a phase 1 rekey (a new Main Mode to the same peer).
    pub rekey: bool,
}

impl IsakmpSa {
    /// Sends a protected Informational with one notification.
    pub fn send_notify(&mut self, cx: &mut Cx<'_>, n: NotifyPayload) -> Result<(), Error> {
        self.send_info(cx, Payload::Notify(n))
    }

    fn send_info(&mut self, cx: &mut Cx<'_>, p: Payload) -> Result<(), Error> {
        if self.keys.is_none() {
            return Err(Error::UnknownSa);
        }
        let mid = loop {
            let m = cx.random_u32()?;
            if m != 0 && !self.quick.iter().any(|q| q.mid == m) {
                break m;
            }
        };
        let bytes = self.seal_hashed(ExchangeType::INFORMATIONAL, mid, vec![p], |k, after| {
            k.informational_hash(mid, after)
        })?;
        if let Some(ivs) = &mut self.ivs {
            ivs.forget(mid);
        }
        self.send(cx, &bytes);
        Ok(())
    }

    /// Deletes IPsec SAs of ours by inbound SPI: `ChildDeleted` for each and one Delete to
    /// the peer naming them.
    pub fn delete_children(&mut self, _now: Instant, cx: &mut Cx<'_>, spis: &[u32]) {
        let mut gone = Vec::new();
        self.children.retain(|c| {
            if spis.contains(&c.spi_in) {
                gone.push((c.spi_in, c.spi_out));
                false
            } else {
                true
            }
        });
        if gone.is_empty() {
            return;
        }
        for (i, o) in &gone {
            cx.esp_spis.remove(i);
            cx.event(Event::ChildDeleted {
                sa: self.id,
                inbound_spi: *i,
                outbound_spi: *o,
            });
        }
        if self.is_up() {
            let spis: Vec<u32> = gone.iter().map(|(i, _)| *i).collect();
            let _ = self.send_info(cx, Payload::Delete(DeletePayload::esp(&spis)));
        }
    }

    /// Sends the Delete of this ISAKMP SA (when it is established).
    pub fn send_delete(&mut self, cx: &mut Cx<'_>) {
        if self.is_up() {
            let d = DeletePayload::isakmp(self.cookie_i, self.cookie_r);
            let _ = self.send_info(cx, Payload::Delete(d));
        }
    }

    /// An Informational for this SA. Protected ones must verify; a cleartext one is
    /// believed only while Main Mode runs (a refusal of our offer), else ignored.
    pub fn handle_informational(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        raw: &[u8],
        mid: u32,
        encrypted: bool,
    ) -> Result<InfoOutcome, Error> {
        if !encrypted {
            if self.is_half_open() && self.keys.is_none() {
                let msg = crate::wire::Message::parse(raw)?;
                let refusal = msg
                    .payloads()
                    .unwrap_or_default()
                    .iter()
                    .find_map(|p| match p {
                        Payload::Notify(n) if n.notify_type.is_error() => Some(n.notify_type),
                        _ => None,
                    });
                if let Some(t) = refusal {
                    return Ok(InfoOutcome {
                        down: Some(DownReason::Refused(t)),
                        ..InfoOutcome::default()
                    });
                }
            }
            return Err(Error::Dropped("an unprotected Informational"));
        }
        let (Some(cipher), Some(ivs), Some(keys)) = (&self.cipher, &self.ivs, &self.keys) else {
            return Err(Error::Dropped("an Informational before the keys"));
        };
        let (_, o) = cipher.open_message(&ivs.iv(mid), raw)?;
        let first = o
            .payloads
            .first()
            .map_or(PayloadType::NONE, Payload::payload_type);
        let (hash, after) = split_hash(first, &o.chain)?;
        if let Err(e) = keys.verify_hash1(mid, after, hash) {
            cx.counters.hash_failures += 1;
            return Err(e);
        }
        // Nothing chains on an Informational: its IV is not kept.
        self.dpd.last_activity = Some(now);
        let mut out = InfoOutcome::default();
        for p in o.payloads.iter().skip(1) {
            match p {
                Payload::Delete(d) => {
                    if let Some(r) = self.peer_delete(now, cx, d) {
                        out.down = Some(r);
                    }
                }
                Payload::Notify(n) => self.peer_notify(now, cx, n, mid, &mut out),
                _ => {}
            }
        }
        Ok(out)
    }

    fn peer_delete(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        d: &DeletePayload,
    ) -> Option<DownReason> {
        match d.protocol_id {
            ProtocolId::ISAKMP => {
                let ours = crate::wire::isakmp_spi(self.cookie_i, self.cookie_r);
                d.spis.contains(&ours).then_some(DownReason::DeletedByPeer)
            }
            ProtocolId::ESP => {
                // The peer names its inbound SPIs: our outbound ones. The pair goes; the peer
                // already knows, so no Delete is sent back.
                let spis: Vec<u32> = d
                    .spis
                    .iter()
                    .filter_map(|s| {
                        <[u8; 4]>::try_from(s.as_slice())
                            .ok()
                            .map(u32::from_be_bytes)
                    })
                    .collect();
                let mut gone = Vec::new();
                self.children.retain(|c| {
                    if spis.contains(&c.spi_out) {
                        gone.push((c.spi_in, c.spi_out));
                        false
                    } else {
                        true
                    }
                });
                for (i, o) in gone {
                    cx.esp_spis.remove(&i);
                    cx.event(Event::ChildDeleted {
                        sa: self.id,
                        inbound_spi: i,
                        outbound_spi: o,
                    });
                }
                let _ = now;
                None
            }
            _ => None,
        }
    }

    fn peer_notify(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        n: &NotifyPayload,
        mid: u32,
        out: &mut InfoOutcome,
    ) {
        match n.notify_type {
            NotifyType::R_U_THERE => {
                if let Some(seq) = n.dpd_sequence() {
                    let ack = NotifyPayload::r_u_there_ack(self.cookie_i, self.cookie_r, seq);
                    let _ = self.send_notify(cx, ack);
                }
            }
            NotifyType::R_U_THERE_ACK => {
                if let (Some(seq), Some((want, _, _))) = (n.dpd_sequence(), self.dpd.outstanding)
                    && seq == want
                {
                    self.dpd.outstanding = None;
                    cx.counters.dpd_acked += 1;
                }
            }
            NotifyType::INITIAL_CONTACT => out.initial_contact = true,
            NotifyType::CONNECTED => {
                let _ = self.connected(now, cx, mid);
                // CONNECTED comes in its own exchange; the Quick Mode's ID is in no field,
                // so any Quick Mode waiting for it is the one.
                let waiting: Vec<u32> = self
                    .quick
                    .iter()
                    .filter(|q| q.state == super::quick_mode::QmState::AwaitConnected)
                    .map(|q| q.mid)
                    .collect();
                for m in waiting {
                    let _ = self.connected(now, cx, m);
                }
            }
            t if t.is_error() => {
                let spi = n.spi.clone();
                self.quick_refused(cx, &spi, t);
            }
            _ => {}
        }
    }

    /// When DPD wants to run next.
    pub fn dpd_deadline(&self) -> Option<Instant> {
        if !self.is_up() || !self.dpd.peer_supports {
            return None;
        }
        if let Some((_, _, next)) = self.dpd.outstanding {
            return Some(next);
        }
        let d = self.dpd_cfg?;
        self.dpd
            .last_activity
            .and_then(|t| t.checked_add(d.interval))
    }

    /// Every timer of this SA due at `now`.
    pub fn on_timeout(&mut self, now: Instant, cx: &mut Cx<'_>) -> InfoOutcome {
        let mut out = InfoOutcome::default();
        if self.is_dead() {
            return out;
        }
        if self.is_half_open() && now >= self.created + cx.cfg.half_open_timeout {
            out.down = Some(DownReason::Timeout);
            return out;
        }
        if let Some(r) = &mut self.retx
            && r.next <= now
        {
            match r.fire(cx.cfg, now) {
                Some(b) => {
                    cx.counters.retransmits += 1;
                    self.send(cx, &b);
                }
                None => {
                    self.retx = None;
                    if self.is_half_open() {
                        out.down = Some(DownReason::Timeout);
                        return out;
                    }
                }
            }
        }
        if self.phase != Phase::Up {
            return out;
        }
        if self.expire_at.is_some_and(|t| t <= now) {
            out.down = Some(DownReason::Closed);
            return out;
        }
        if self.rekey_at.is_some_and(|t| t <= now) {
            self.rekey_at = None;
            if !self.children.is_empty() && self.replaced_by.is_none() {
                out.rekey = true;
            }
        }
        self.quick_timeouts(now, cx);
        self.child_timeouts(now, cx);
        if self.keepalive_at.is_some_and(|t| t <= now) {
            if self.local.port() == NAT_T_PORT {
                cx.transmit(Transmit::udp(self.local, self.remote, vec![0xff]));
            }
            self.keepalive_at = Some(now + cx.cfg.nat_keepalive);
        }
        if self.dpd.peer_supports {
            let tries = self.dpd_cfg.map_or(cx.cfg.retransmit.tries, |d| d.tries);
            let retry = self.dpd_cfg.map_or(cx.cfg.retransmit.initial, |d| d.retry);
            match self.dpd.outstanding {
                Some((seq, sent, next)) if next <= now => {
                    if sent >= tries {
                        cx.counters.dead_peers += 1;
                        cx.event(Event::PeerDead {
                            sa: self.id,
                            remote: self.remote,
                        });
                        out.down = Some(DownReason::PeerDead);
                        return out;
                    }
                    self.dpd.outstanding = Some((seq, sent + 1, now + retry));
                    self.send_r_u_there(cx, seq);
                }
                None if self.dpd_cfg.is_some_and(|d| {
                    self.dpd
                        .last_activity
                        .and_then(|t| t.checked_add(d.interval))
                        .is_some_and(|t| t <= now)
                }) =>
                {
                    self.dpd.seq = self.dpd.seq.wrapping_add(1);
                    let seq = self.dpd.seq;
                    self.dpd.outstanding = Some((seq, 1, now + retry));
                    self.send_r_u_there(cx, seq);
                }
                _ => {}
            }
        }
        out
    }

    fn send_r_u_there(&mut self, cx: &mut Cx<'_>, seq: u32) {
        cx.counters.dpd_sent += 1;
        let n = NotifyPayload::r_u_there(self.cookie_i, self.cookie_r, seq);
        let _ = self.send_notify(cx, n);
    }

    /// Checks liveness now (an R-U-THERE), whatever DPD's schedule.
    pub fn check_liveness(&mut self, now: Instant, cx: &mut Cx<'_>) -> Result<(), Error> {
        if !self.is_up() {
            return Err(Error::UnknownSa);
        }
        if !self.dpd.peer_supports {
            return Err(Error::Dropped(
                "the peer does not do DPD (no DPD vendor ID)",
            ));
        }
        if self.dpd.outstanding.is_none() {
            self.dpd.seq = self.dpd.seq.wrapping_add(1);
            let seq = self.dpd.seq;
            let retry = self.dpd_cfg.map_or(cx.cfg.retransmit.initial, |d| d.retry);
            self.dpd.outstanding = Some((seq, 1, now + retry));
            self.send_r_u_there(cx, seq);
        }
        Ok(())
    }
}
