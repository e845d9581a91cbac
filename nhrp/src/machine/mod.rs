//! What the client and server machines share: transmits, events, counters, the `max-send` rate
//! limit, authentication and the receive checks.
//!
//! The settings are in `config`, the events and counters in `report`; [`Core`] here sends
//! (within `max-send`), receives (with the checks) and counts for both roles.

mod config;
mod quota;
mod report;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

pub use config::{Backoff, Common, MaxSend, OverQuota, ReceiveMode, RequestIdKey};
pub(crate) use quota::Sender;
pub use report::{Event, Stats, Traffic};

use crate::Error;
use crate::cache::Cache;
use crate::wire::{ErrorCode, Message, Node, Packet, PacketType, Repr};

use dmvpn_wire::Proto;
use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;

/// A packet to send, in the family's one datagram shape: from this node's NBMA address (`src`)
/// to the NBMA (underlay) address `dst`, with `proto` [`Proto::InGre`]`(0x2001)` and the NHRP
/// packet as `payload`. GRE encapsulation (protocol type `0x2001`) and the tunnel key are the
/// caller's job.
pub use dmvpn_wire::Transmit;

/// The GRE protocol type of NHRP (RFC 2332 §5; Cisco DMVPN carries it in GRE).
pub(crate) const GRE_PROTOCOL_TYPE: u16 = 0x2001;

/// The stream of [`RequestIdKey`] a client draws its request IDs from.
pub(crate) const CLIENT_IDS: u64 = 0;
/// The stream a server draws its request IDs from.
pub(crate) const SERVER_IDS: u64 = 1;

/// The part of both machines that sends, receives and counts.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) common: Common,
    pub(crate) me: Node,
    quota: quota::Quota,
    /// Who sent the packet being handled, while a server handles one (its answers rank by
    /// it under `max-send`).
    pub(crate) sender: Option<Sender>,
    quota_warned_until: Option<Instant>,
    tx: VecDeque<Transmit>,
    events: VecDeque<Event>,
    pub(crate) traffic: Traffic,
    pub(crate) stats: Stats,
    ids: ChaCha20Rng,
}

impl Core {
    /// Releases the spare capacity of the transmit and event queues if both are drained.
    pub(crate) fn shrink_idle(&mut self) {
        if self.tx.is_empty() && self.tx.capacity() > 0 {
            self.tx = VecDeque::new();
        }
        if self.events.is_empty() && self.events.capacity() > 0 {
            self.events = VecDeque::new();
        }
    }

    /// The core of a machine drawing its request IDs from stream `id_stream` of the key
    /// ([`CLIENT_IDS`] or [`SERVER_IDS`]).
    pub(crate) fn new(common: Common, id_stream: u64) -> Core {
        let me = Node::new(common.nbma_addr, common.protocol_addr);
        let traffic = Traffic {
            interface: common.interface.clone(),
            max_send: common.max_send.packets,
            max_send_secs: common.max_send.interval.as_secs(),
            ..Traffic::default()
        };
        Core {
            me,
            ids: common.request_id_key.ids(id_stream),
            quota: quota::Quota::new(common.max_send),
            sender: None,
            common,
            quota_warned_until: None,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            traffic,
            stats: Stats::default(),
        }
    }

    /// A fresh request ID, drawn from the key: never 0, never one `in_use` says is still
    /// outstanding (a reply to the old request must not match the new one).
    pub(crate) fn request_id(&mut self, in_use: impl Fn(u32) -> bool) -> u32 {
        let mut id = self.ids.next_u32();
        let mut draws = 1u32;
        while id == 0 || in_use(id) {
            // Each draw collides with odds of outstanding/2^32; after a few, step instead:
            // the outstanding IDs are finite, so this ends.
            id = if draws < 8 {
                draws = draws.saturating_add(1);
                self.ids.next_u32()
            } else {
                id.wrapping_add(1)
            };
        }
        id
    }

    pub(crate) fn event(&mut self, e: Event) {
        if self.events.len() >= self.common.max_events {
            self.stats.events_dropped = self.stats.events_dropped.saturating_add(1);
        } else {
            self.events.push_back(e);
        }
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Room left in the event queue.
    pub(crate) fn event_room(&self) -> usize {
        self.common.max_events.saturating_sub(self.events.len())
    }

    /// Moves `cache`'s events into the event queue while it has room. Cache events carry the
    /// state owners mirror, so they are never dropped: what does not fit waits in the cache's
    /// own queue (holding expiry back and refusing new entries, see [`Cache`]) until
    /// `poll_event` makes room.
    pub(crate) fn drain_cache(&mut self, cache: &mut Cache) {
        while self.event_room() > 0 {
            let Some(e) = cache.poll_event() else { break };
            self.events.push_back(Event::Cache(e));
        }
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx.pop_front()
    }

    pub(crate) fn queued(&self) -> (usize, usize, usize) {
        (self.tx.len(), self.events.len(), self.quota.held_len())
    }

    fn push_tx(&mut self, now: Instant, t: Transmit, ptype: PacketType) {
        self.quota.record(now);
        if self.tx.len() >= self.common.max_transmits {
            self.stats.transmits_dropped = self.stats.transmits_dropped.saturating_add(1);
            return;
        }
        Traffic::bump(&mut self.traffic.sent, ptype);
        self.tx.push_back(t);
    }

    /// Emits `repr` (with the Authentication extension, except in Error Indications) and
    /// sends it subject to `max-send`, ranked by its type and [`Core::sender`] (see
    /// `quota`): registrations go first and may go a quarter of the quota beyond it.
    pub(crate) fn send(&mut self, now: Instant, dst: IpAddr, mut repr: Repr) {
        let ptype = repr.packet_type();
        if ptype != PacketType::ERROR_INDICATION
            && let Some(p) = &self.common.authentication
        {
            match repr.clone().with_authentication(p.expose()) {
                Ok(r) => repr = r,
                Err(_) => {
                    self.stats.emit_errors = self.stats.emit_errors.saturating_add(1);
                    return;
                }
            }
        }
        let Ok(bytes) = repr.to_bytes() else {
            self.stats.emit_errors = self.stats.emit_errors.saturating_add(1);
            return;
        };
        if ptype == PacketType::ERROR_INDICATION {
            self.stats.error_indications_sent = self.stats.error_indications_sent.saturating_add(1);
        }
        let t = Transmit {
            src: self.common.nbma_addr,
            dst,
            proto: Proto::InGre(GRE_PROTOCOL_TYPE),
            payload: bytes,
        };
        let rank = quota::Rank::of(ptype, self.sender);
        self.release(now);
        if self.quota.has_room(rank.tier) {
            self.push_tx(now, t, ptype);
            return;
        }
        self.stats.over_quota = self.stats.over_quota.saturating_add(1);
        let hold = self.common.max_send.over_quota == OverQuota::Hold;
        if self.quota_warned_until.is_none_or(|u| now >= u) {
            self.quota_warned_until = Some(now + self.common.max_send.interval);
            self.event(Event::QuotaExceeded {
                limit: self.common.max_send.packets,
                held: hold,
            });
        }
        // One packet is dropped unless this one is kept without evicting a worse one.
        let dropped = !hold || self.quota.hold(rank, t, ptype) != quota::Held::Kept;
        if dropped {
            self.stats.quota_dropped = self.stats.quota_dropped.saturating_add(1);
        }
    }

    /// Sends held packets the window has room for, best first.
    pub(crate) fn release(&mut self, now: Instant) {
        self.quota.prune(now);
        while let Some((t, ptype, _)) = self.quota.pop_ready() {
            self.push_tx(now, t, ptype);
        }
    }

    /// When held packets can next be released.
    pub(crate) fn release_at(&self) -> Option<Instant> {
        self.quota.release_at()
    }

    pub(crate) fn traffic(&self, now: Instant) -> Traffic {
        let usage = self.quota.usage(now);
        Traffic {
            window_usage: u32::try_from(usage).unwrap_or(u32::MAX),
            ..self.traffic.clone()
        }
    }

    pub(crate) fn drop_err(&mut self, e: Error) -> Error {
        match &e {
            Error::AuthenticationFailure => {
                self.stats.authentication_failures =
                    self.stats.authentication_failures.saturating_add(1);
            }
            Error::UnmatchedReply { .. } => {
                self.stats.unmatched_replies = self.stats.unmatched_replies.saturating_add(1);
            }
            Error::ReplyRefused { .. } => {
                self.stats.replies_refused = self.stats.replies_refused.saturating_add(1);
            }
            Error::Full { .. } => {
                self.stats.table_full = self.stats.table_full.saturating_add(1);
            }
            _ => self.stats.dropped = self.stats.dropped.saturating_add(1),
        }
        e
    }

    /// Sends an Error Indication about `offending` unless it is one (RFC 2332 §5.2.7).
    pub(crate) fn error_indication(
        &mut self,
        now: Instant,
        to: IpAddr,
        offending: &[u8],
        code: ErrorCode,
        offset: u16,
    ) {
        let view = Packet::new_unchecked(offending);
        if view.header().is_some() && view.packet_type() == PacketType::ERROR_INDICATION {
            return;
        }
        let ei = Repr::error_indication(offending, code, offset, &self.me);
        self.send(now, to, ei);
    }

    /// Parses, counts and checks a received packet: authentication, compulsory extensions,
    /// strict-mode rules. Answers with Error Indications where RFC 2332 says to.
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        from: IpAddr,
        bytes: &[u8],
    ) -> Result<Repr, Error> {
        let repr = match Packet::new_checked(bytes).and_then(|p| Repr::parse(&p)) {
            Ok(r) => r,
            Err(e) => {
                self.stats.malformed = self.stats.malformed.saturating_add(1);
                return Err(e);
            }
        };
        let ptype = repr.packet_type();
        Traffic::bump(&mut self.traffic.received, ptype);
        if ptype == PacketType::ERROR_INDICATION {
            return Ok(repr);
        }
        if let Some(p) = &self.common.authentication {
            let ok = repr
                .authentication()
                .is_some_and(|a| a.verify_cleartext(p.expose()));
            if !ok {
                if self.common.authentication_failure_indication {
                    self.error_indication(now, from, bytes, ErrorCode::AUTHENTICATION_FAILURE, 0);
                }
                return Err(self.drop_err(Error::AuthenticationFailure));
            }
        }
        if let Some((ext, _)) = repr.unrecognized_compulsory_extension() {
            let ext_type = ext.ext_type().0;
            if let Some(ei) = Repr::unrecognized_extension_indication(bytes, &self.me) {
                self.send(now, from, ei);
            }
            return Err(self.drop_err(Error::UnrecognizedExtension { ext_type }));
        }
        if self.common.receive_mode == ReceiveMode::StrictRfc {
            if ptype == PacketType::TRAFFIC_INDICATION {
                return Err(self.drop_err(Error::Strict {
                    reason: "Traffic Indication is not in RFC 2332",
                }));
            }
            if repr.hop_count == 0 {
                return Err(self.drop_err(Error::Strict {
                    reason: "hop count 0",
                }));
            }
        }
        if matches!(repr.message, Message::Unknown(_)) {
            return Err(self.drop_err(Error::Unexpected {
                packet_type: ptype,
                reason: "unknown packet type",
            }));
        }
        Ok(repr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Node, Secret};
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn core(f: impl FnOnce(&mut Common)) -> Core {
        let mut c = Common::new(ip("172.16.1.24"), ip("10.0.0.2"));
        f(&mut c);
        Core::new(c, CLIENT_IDS)
    }

    fn hub() -> Node {
        Node::new(ip("172.17.0.1"), ip("10.0.0.1"))
    }

    fn request(core: &Core, id: u32) -> Repr {
        Repr::resolution_request(id, &core.me, ip("10.0.0.3"), 600, 1400)
    }

    fn events(core: &mut Core) -> Vec<Event> {
        std::iter::from_fn(|| core.poll_event()).collect()
    }

    #[test]
    fn packets_over_the_quota_are_held_and_released_when_the_window_has_room() {
        let t0 = Instant::now();
        let mut c = core(|c| c.max_send = MaxSend::new(2, Duration::from_secs(10)));
        for id in 1..=4 {
            let r = request(&c, id);
            c.send(t0, ip("172.17.0.1"), r);
        }
        assert_eq!(c.queued(), (2, 1, 2));
        assert_eq!(
            events(&mut c),
            vec![Event::QuotaExceeded {
                limit: 2,
                held: true
            }],
            "one warning per window"
        );
        assert_eq!(c.stats.over_quota, 2);
        assert_eq!(c.release_at(), Some(t0 + Duration::from_secs(10)));
        c.release(t0 + Duration::from_secs(9));
        assert_eq!(c.queued(), (2, 0, 2));
        c.release(t0 + Duration::from_secs(10));
        assert_eq!(c.queued(), (4, 0, 0));
        let ids: Vec<u32> = std::iter::from_fn(|| c.poll_transmit())
            .map(|t| {
                assert_eq!(t.src, ip("172.16.1.24"));
                assert_eq!(t.proto, Proto::InGre(GRE_PROTOCOL_TYPE));
                Repr::parse_bytes(&t.payload).unwrap().request_id().unwrap()
            })
            .collect();
        assert_eq!(ids, vec![1, 2, 3, 4], "held packets keep their order");
        assert_eq!(
            c.traffic(t0 + Duration::from_secs(10))
                .sent(PacketType::RESOLUTION_REQUEST),
            4
        );
    }

    #[test]
    fn resolutions_over_the_quota_do_not_hold_up_a_registration() {
        let t0 = Instant::now();
        let mut c = core(|c| c.max_send = MaxSend::new(8, Duration::from_secs(10)));
        for id in 1..=20 {
            let r = request(&c, id);
            c.send(t0, ip("172.17.0.1"), r);
        }
        // Resolutions fill the quota; the rest wait.
        assert_eq!(c.queued(), (8, 1, 12));
        let reg = Repr::registration_request(99, &c.me, &hub(), 600, 1400);
        c.send(t0 + Duration::from_secs(1), ip("172.17.0.1"), reg);
        let sent: Vec<PacketType> = std::iter::from_fn(|| c.poll_transmit())
            .map(|t| Repr::parse_bytes(&t.payload).unwrap().packet_type())
            .collect();
        // The registration does not wait behind them: it goes beyond the full window (by a
        // quarter of the quota at most).
        assert_eq!(sent.len(), 9);
        assert_eq!(sent.last(), Some(&PacketType::REGISTRATION_REQUEST));
        assert_eq!(c.stats.quota_dropped, 0);
        assert_eq!(c.traffic(t0 + Duration::from_secs(1)).window_usage, 9);
    }

    #[test]
    fn packets_over_the_quota_are_dropped_when_so_configured() {
        let t0 = Instant::now();
        let mut c = core(|c| {
            c.max_send = MaxSend {
                over_quota: OverQuota::Drop,
                ..MaxSend::new(1, Duration::from_secs(10))
            };
        });
        for id in 1..=3 {
            let r = request(&c, id);
            c.send(t0, ip("172.17.0.1"), r);
        }
        assert_eq!(c.queued(), (1, 1, 0));
        assert_eq!((c.stats.over_quota, c.stats.quota_dropped), (2, 2));
        assert_eq!(c.release_at(), None);
    }

    #[test]
    fn request_ids_are_drawn_from_the_key_and_never_zero_or_outstanding() {
        let draw = |key: RequestIdKey, stream: u64, n: usize| {
            let mut c = Core::new(
                Common {
                    request_id_key: key,
                    ..Common::new(ip("172.16.1.24"), ip("10.0.0.2"))
                },
                stream,
            );
            (0..n)
                .map(|_| c.request_id(|_| false))
                .collect::<Vec<u32>>()
        };
        let a = draw(RequestIdKey::from_seed(1), CLIENT_IDS, 64);
        // The same key gives the same IDs (deterministic simulations) ...
        assert_eq!(a, draw(RequestIdKey::from_seed(1), CLIENT_IDS, 64));
        // ... another key, another role or a derived key other ones.
        let b = draw(RequestIdKey::from_seed(2), CLIENT_IDS, 64);
        let server = draw(RequestIdKey::from_seed(1), SERVER_IDS, 64);
        let derived = draw(RequestIdKey::from_seed(1).derive(0), CLIENT_IDS, 64);
        for other in [&b, &server, &derived] {
            assert!(a.iter().all(|id| !other.contains(id)), "{a:?} {other:?}");
        }
        // Not a counter: consecutive IDs are far apart, and none is 0.
        assert!(a.windows(2).all(|w| w[0].abs_diff(w[1]) > 1), "{a:?}");
        assert!(!a.contains(&0));
        assert!(a.iter().all(|&id| id > 200), "no small IDs to guess");
        // An ID still outstanding is never handed out again.
        let mut c = core(|c| c.request_id_key = RequestIdKey::from_seed(1));
        let first = *a.first().unwrap();
        let id = c.request_id(|id| id == first);
        assert_ne!(id, first);
        assert_eq!(id, a[1], "the next draw");
        // Draw after draw taken: it steps from the last one to whatever is left.
        let mut stuck = core(|c| c.request_id_key = RequestIdKey::from_seed(1));
        let free = a[7].wrapping_add(3);
        assert_eq!(stuck.request_id(|id| id != free), free);
        assert_eq!(
            format!("{:?}", RequestIdKey::new([9; 32])),
            "RequestIdKey(<redacted>)"
        );
    }

    #[test]
    fn authentication_is_added_on_send_and_checked_on_receive() {
        let t0 = Instant::now();
        let mut c = core(|c| {
            c.authentication = Some(Secret::new(b"DMVPN".to_vec()));
            c.authentication_failure_indication = true;
        });
        let r = request(&c, 1);
        c.send(t0, ip("172.17.0.1"), r);
        let sent = c.poll_transmit().unwrap();
        let parsed = Repr::parse_bytes(&sent.payload).unwrap();
        assert!(
            parsed
                .authentication()
                .is_some_and(|a| a.verify_cleartext(b"DMVPN"))
        );
        assert!(c.receive(t0, ip("172.17.0.1"), &sent.payload).is_ok());
        let bare = Repr::resolution_request(2, &hub(), ip("10.0.0.2"), 600, 1400)
            .to_bytes()
            .unwrap();
        assert!(matches!(
            c.receive(t0, ip("172.17.0.1"), &bare),
            Err(Error::AuthenticationFailure)
        ));
        assert_eq!(c.stats.authentication_failures, 1);
        let ei = Repr::parse_bytes(&c.poll_transmit().unwrap().payload).unwrap();
        assert_eq!(ei.packet_type(), PacketType::ERROR_INDICATION);
        assert!(
            ei.authentication().is_none(),
            "no password in an Error Indication"
        );
        // An Error Indication is never answered with another one.
        assert!(
            c.receive(t0, ip("172.17.0.1"), &ei.to_bytes().unwrap())
                .is_ok()
        );
        assert!(c.poll_transmit().is_none());
    }

    #[test]
    fn strict_mode_drops_traffic_indications_and_hop_count_zero() {
        let t0 = Instant::now();
        let mut strict = core(|c| c.receive_mode = ReceiveMode::StrictRfc);
        let mut cisco = core(|_| {});
        let header = dmvpn_wire::ip::Repr::new(
            ip("10.0.0.2"),
            ip("10.0.0.3"),
            dmvpn_wire::IpProtocol::UDP,
            0,
            &dmvpn_wire::HeaderOptions::default(),
            1,
        )
        .unwrap();
        let mut data = vec![0; header.buffer_len()];
        header.emit(&mut data).unwrap();
        let ti = Repr::traffic_indication(&data, &hub())
            .unwrap()
            .to_bytes()
            .unwrap();
        let hop0 = Repr::resolution_request(1, &hub(), ip("10.0.0.2"), 600, 1400)
            .with_hop_count(0)
            .to_bytes()
            .unwrap();
        for bytes in [&ti, &hop0] {
            assert!(matches!(
                strict.receive(t0, ip("172.17.0.1"), bytes),
                Err(Error::Strict { .. })
            ));
            assert!(cisco.receive(t0, ip("172.17.0.1"), bytes).is_ok());
        }
        assert_eq!((strict.stats.dropped, cisco.stats.dropped), (2, 0));
        assert_eq!(
            strict.traffic(t0).received(PacketType::TRAFFIC_INDICATION),
            1,
            "dropped packets are still counted as received"
        );
    }
}
