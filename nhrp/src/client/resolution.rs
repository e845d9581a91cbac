//! The resolution side of the client (RFC 2332 §5.2.1, §5.2.2): Resolution Requests with an
//! incomplete entry, back-off and give-up; replies matched to an outstanding request; refresh
//! of used mappings; and Cisco Traffic Indications (DMVPN phase 3) ending in a shortcut.
//! Answers to other nodes' Resolution Requests are in `answer`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::Client;
use crate::Error;
use crate::cache::{Entry, EntryFlags, EntryType, Prefix, RemoveReason, max_len};
use crate::machine::Event;
use crate::wire::{CieCode, ErrorIndication, ExtensionType, Flags, PacketType, Repr};

/// What [`Client::resolve`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A complete mapping exists: send to this NBMA address.
    Cached(IpAddr),
    /// A Resolution Request is outstanding (possibly sent by this call).
    Pending,
    /// A negative entry says no binding exists, or a resolution of it failed within the
    /// negative holding time (no new request goes out meanwhile).
    Negative,
}

/// A resolution in progress.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) target: IpAddr,
    pub(super) request_id: u32,
    attempts: u32,
    /// When the next retransmission (or the give-up) is due.
    pub(super) next: Instant,
    interval: Duration,
    /// Started by a Traffic Indication: the answer is also an [`Event::Shortcut`].
    shortcut: bool,
    /// A refresh of a mapping in use: no incomplete entry, and a negative answer keeps it.
    refresh: bool,
    /// The NBMA addresses of the NHSs the request went to (the only ones whose answers are
    /// taken on their word).
    asked: Vec<IpAddr>,
    /// When the request was last sent.
    last_sent: Instant,
    /// When the last Traffic Indication for the target came (a shortcut resolution).
    last_redirect: Option<Instant>,
}

/// `e` keeps the data-path use of the dynamic entry `old` it replaces.
pub(super) fn keep_use(e: &mut Entry, old: Option<&Entry>) {
    if let Some(old) = old.filter(|o| o.kind == EntryType::Dynamic) {
        e.last_used = old.last_used;
        if old.flags.contains(EntryFlags::USED) {
            e.flags |= EntryFlags::USED;
        }
    }
}

impl Client {
    /// Resolutions in progress.
    pub fn pending_resolutions(&self) -> usize {
        self.pending.len()
    }

    /// Resolves `addr` (the next hop of a packet with no mapping, seed 003 step 2): returns the
    /// mapping if the cache has one, else sends a Resolution Request to an NHS, installs an
    /// incomplete entry and retransmits with back-off until a reply comes or it gives up
    /// ([`Event::ResolutionFailed`]). A destination whose resolution gave up is not asked for
    /// again within [`crate::ClientConfig::negative_holding_time`] ([`Resolution::Negative`]).
    pub fn resolve(&mut self, now: Instant, addr: IpAddr) -> Result<Resolution, Error> {
        if let Some(e) = self.cache.lookup(addr) {
            match e.kind {
                EntryType::Static | EntryType::Dynamic | EntryType::Local => {
                    if let Some(n) = e.effective_nbma() {
                        return Ok(Resolution::Cached(n));
                    }
                }
                EntryType::Negative => return Ok(Resolution::Negative),
                EntryType::Incomplete => return Ok(Resolution::Pending),
            }
        }
        if self.held_down.blocks(now, addr) {
            return Ok(Resolution::Negative);
        }
        self.start_resolution(now, addr, false, false)?;
        Ok(Resolution::Pending)
    }

    /// The data path used the mapping for `addr` at `now`: marks it used and, when it is a
    /// dynamic entry in its last `refresh_window` (60 s), refreshes it with a new resolution
    /// (seed 003). Returns the NBMA address to send to, if there is a complete mapping.
    pub fn mark_used(&mut self, now: Instant, addr: IpAddr) -> Option<IpAddr> {
        let e = self.cache.mark_used(now, addr)?;
        let nbma = if e.is_complete() {
            e.effective_nbma()
        } else {
            None
        };
        let refresh = e.kind == EntryType::Dynamic
            && e.expires
                .is_some_and(|t| t.saturating_duration_since(now) <= self.config.refresh_window);
        if refresh {
            // A full pending table only delays the refresh; the entry expires if it never runs.
            let _ = self.start_resolution(now, addr, false, true);
        }
        nbma
    }

    /// Starts resolving `target` unless it is already being resolved. Then `shortcut` is
    /// added to that resolution, and a Traffic Indication (`shortcut`) restarts it: the hub
    /// is still hairpinning the traffic, so the shortcut is still wanted, and the request or
    /// its reply may well have been lost. The request goes again at once (unless it went less
    /// than the initial back-off ago) with the back-off and the attempts starting over, so a
    /// resolution under loss is retried for as long as the hub keeps redirecting, instead of
    /// waiting out a long back-off or giving up while traffic still flows through the hub.
    fn start_resolution(
        &mut self,
        now: Instant,
        target: IpAddr,
        shortcut: bool,
        refresh: bool,
    ) -> Result<(), Error> {
        if let Some(i) = self.pending.iter().position(|p| p.target == target) {
            let initial = self.config.resolution_backoff.initial;
            let mut restart = false;
            if let Some(p) = self.pending.get_mut(i) {
                p.shortcut |= shortcut;
                if shortcut {
                    p.last_redirect = Some(now);
                }
                restart = shortcut && now.saturating_duration_since(p.last_sent) >= initial;
                if restart {
                    p.attempts = 0;
                    p.interval = initial;
                }
            }
            if restart {
                self.send_resolution(now, i);
            }
            return Ok(());
        }
        if self.pending.len() >= self.config.max_pending {
            return Err(self.core.drop_err(Error::Full {
                what: "pending resolutions",
                limit: self.config.max_pending,
            }));
        }
        if !refresh {
            let e = Entry::new(
                now,
                Prefix::host(target),
                target,
                None,
                EntryType::Incomplete,
            );
            if let Err(e) = self.cache.insert(now, e) {
                return Err(self.core.drop_err(e));
            }
        }
        let id = self.fresh_request_id();
        self.pending.push(Pending {
            target,
            request_id: id,
            attempts: 0,
            next: now,
            interval: self.config.resolution_backoff.initial,
            shortcut,
            refresh,
            asked: Vec::new(),
            last_sent: now,
            last_redirect: shortcut.then_some(now),
        });
        self.send_resolution(now, self.pending.len().saturating_sub(1));
        Ok(())
    }

    fn send_resolution(&mut self, now: Instant, i: usize) {
        let nhs = self.first_nhs();
        let Some(p) = self.pending.get_mut(i) else {
            return;
        };
        p.attempts = p.attempts.saturating_add(1);
        p.next = now + p.interval;
        p.last_sent = now;
        let Some((_, nbma)) = nhs else {
            return;
        };
        if !p.asked.contains(&nbma) {
            p.asked.push(nbma);
        }
        let req = Repr::resolution_request(
            p.request_id,
            &self.core.me,
            p.target,
            self.config.holdtime,
            self.config.common.mtu,
        );
        self.core.send(now, nbma, req);
    }

    /// Drops resolution `i`, its incomplete entry, and says it failed; its target is held
    /// down for the negative holding time (see `holddown`).
    fn give_up(&mut self, now: Instant, i: usize) {
        if i >= self.pending.len() {
            return;
        }
        let p = self.pending.remove(i);
        self.held_down
            .hold(now, p.target, now + self.config.negative_holding_time);
        let host = Prefix::host(p.target);
        if self
            .cache
            .get(&host)
            .is_some_and(|e| e.kind == EntryType::Incomplete)
        {
            self.cache.remove(&host, RemoveReason::Removed);
        }
        self.core
            .event(Event::ResolutionFailed { target: p.target });
    }

    /// The resolution timers due at `now`: retransmit with back-off, or give up after
    /// `resolution_attempts` requests. A shortcut resolution whose last Traffic Indication
    /// is less than [`crate::ClientConfig::shortcut_retry_window`] old starts over instead
    /// (back-off and attempts from the start): the hub redirects only once per redirect
    /// interval, its indications get lost like anything else, and the traffic is most likely
    /// still hairpinning through it.
    pub(super) fn resolution_timers(&mut self, now: Instant) {
        let window = self.config.shortcut_retry_window;
        let initial = self.config.resolution_backoff.initial;
        let mut i = 0;
        while i < self.pending.len() {
            let Some(p) = self.pending.get(i) else { break };
            if p.next > now {
                i += 1;
                continue;
            }
            if p.attempts >= self.config.resolution_attempts {
                let redirected = p
                    .last_redirect
                    .is_some_and(|t| now.saturating_duration_since(t) < window);
                if !redirected {
                    self.give_up(now, i);
                    continue;
                }
                if let Some(p) = self.pending.get_mut(i) {
                    p.attempts = 0;
                    p.interval = initial;
                }
            } else if let Some(p) = self.pending.get_mut(i) {
                p.interval = self.config.resolution_backoff.next(p.interval);
            }
            self.send_resolution(now, i);
            i += 1;
        }
    }

    /// An Error Indication quoting one of this client's Resolution Requests ends that
    /// resolution.
    pub(super) fn on_error_indication(&mut self, now: Instant, ei: &ErrorIndication) {
        if let Ok(q) = ei.quoted()
            && q.packet_type() == PacketType::RESOLUTION_REQUEST
            && let Some(i) = self
                .pending
                .iter()
                .position(|p| p.request_id == q.request_id())
        {
            self.give_up(now, i);
        }
    }

    /// A Resolution Reply: accepted only for an outstanding request of this node with the
    /// same request ID and target, and then only
    ///
    /// - from the NHS the request went to, or, for a direct reply (phase 2: the hub forwarded
    ///   the request and its owner answers), from the NBMA address the reply maps the target
    ///   to (post-NAT: the NAT extension's address for it). A negative answer comes from the
    ///   NHS asked;
    /// - for a prefix the responder may claim ([`Client::claimable`]).
    ///
    /// Installs a dynamic (or negative) entry. A refused reply is counted
    /// ([`crate::Stats::replies_refused`]) and leaves the resolution outstanding, so the
    /// genuine reply still lands.
    pub(super) fn on_resolution_reply(
        &mut self,
        now: Instant,
        from: IpAddr,
        repr: &Repr,
    ) -> Result<(), Error> {
        let body = repr.message.body().ok_or(Error::Unexpected {
            packet_type: repr.packet_type(),
            reason: "no body",
        })?;
        let unmatched = Error::UnmatchedReply {
            packet_type: PacketType::RESOLUTION_REPLY,
            request_id: body.request_id,
        };
        let target = repr.dst_proto_addr.ip().ok_or(unmatched.clone())?;
        if repr.src_proto_addr.ip() != Some(self.config.common.protocol_addr) {
            return Err(unmatched);
        }
        let i = self
            .pending
            .iter()
            .position(|p| p.request_id == body.request_id && p.target == target)
            .ok_or(unmatched)?;
        let cie = body.cies.first().ok_or(Error::Unexpected {
            packet_type: PacketType::RESOLUTION_REPLY,
            reason: "no client information entry",
        })?;
        let refused = |reason| Error::ReplyRefused {
            request_id: body.request_id,
            reason,
        };
        let from_nhs_asked = self.pending.get(i).is_some_and(|p| p.asked.contains(&from));
        let host = Prefix::host(target);
        if cie.code != CieCode::SUCCESS {
            if !from_nhs_asked {
                return Err(refused("a negative answer not from the NHS asked"));
            }
            let p = self.pending.remove(i);
            let hold = if cie.holding_time > 0 {
                Duration::from_secs(u64::from(cie.holding_time))
            } else {
                self.config.negative_holding_time
            };
            if !p.refresh {
                let mut e = Entry::new(now, host, target, None, EntryType::Negative);
                e.expires = Some(now + hold);
                self.cache.insert(now, e)?;
            }
            self.core.event(Event::ResolutionNegative { target });
            return Ok(());
        }
        let next_hop = cie.client_proto_addr.ip().unwrap_or(target);
        let nbma = cie.client_nbma_addr.addr.ip().ok_or(Error::Unexpected {
            packet_type: PacketType::RESOLUTION_REPLY,
            reason: "reply carries no NBMA address",
        })?;
        let len = if cie.prefix_len == 0 {
            max_len(target)
        } else {
            cie.prefix_len
        };
        let prefix = Prefix::new(target, len);
        let nat_nbma = repr
            .extension(ExtensionType::NAT_ADDRESS)
            .and_then(|e| e.cies())
            .and_then(|cies| {
                cies.iter().find_map(|c| {
                    (c.client_proto_addr.ip() == Some(next_hop))
                        .then(|| c.client_nbma_addr.addr.ip())
                        .flatten()
                })
            })
            .filter(|&n| n != nbma);
        if !from_nhs_asked && from != nbma && nat_nbma != Some(from) {
            return Err(refused(
                "from neither the NHS asked nor the NBMA address it maps to",
            ));
        }
        if !self.claimable(prefix) {
            return Err(refused("a prefix broader than the responder may claim"));
        }
        let p = self.pending.remove(i);
        if prefix != host
            && self
                .cache
                .get(&host)
                .is_some_and(|e| e.kind == EntryType::Incomplete)
        {
            self.cache.remove(&host, RemoveReason::Removed);
        }
        let mut e = Entry::new(now, prefix, next_hop, Some(nbma), EntryType::Dynamic);
        e.nat_nbma = nat_nbma;
        e.mtu = cie.mtu;
        e.expires = Some(now + Duration::from_secs(u64::from(cie.holding_time.max(1))));
        if body.flags.contains(Flags::Q) {
            e.flags |= EntryFlags::ROUTER;
        }
        if body.flags.contains(Flags::RESOLUTION_U) {
            e.flags |= EntryFlags::UNIQUE;
        }
        if nat_nbma.is_some() {
            e.flags |= EntryFlags::NAT;
        }
        keep_use(&mut e, self.cache.get(&prefix));
        let effective = e.effective_nbma().unwrap_or(nbma);
        if let Err(err) = self.cache.insert(now, e) {
            self.core.event(Event::ResolutionFailed { target });
            return Err(err);
        }
        self.core.event(Event::Resolved {
            target,
            prefix,
            nbma: effective,
        });
        if p.shortcut {
            self.core.event(Event::Shortcut {
                prefix,
                next_hop,
                nbma: effective,
            });
        }
        Ok(())
    }

    /// Whether a responder may map `prefix` (which holds the requested destination). A
    /// reply's CIE maps the destination with a prefix length (RFC 2332 §5.2.0.1, §5.2.2):
    /// the responder claims to be the egress for every address of the prefix. An honest one
    /// answers for itself (a host prefix) or for the network behind it (Cisco phase 3: the
    /// owner answers with its routing-table entry for the destination, its LAN, e.g.
    /// 192.168.2.0/24; a hub answers with the route it holds to that spoke, seed 003). So a
    /// prefix broader than a host is refused when
    ///
    /// - it is shorter than [`ClientConfig::min_reply_prefix_v4`] (or `_v6`; /8 and /32 by
    ///   default): no spoke's network is that wide, and `128.0.0.0/1` would capture half of
    ///   the address space; or
    /// - it holds an address known to be elsewhere: this node's own protocol address or one
    ///   of its local prefixes, or the protocol address of one of its NHSs (the responder is
    ///   not their egress; a shortcut over them would take this node's own or its hub's
    ///   traffic to the responder).
    ///
    /// [`ClientConfig::min_reply_prefix_v4`]: crate::ClientConfig::min_reply_prefix_v4
    pub(super) fn claimable(&self, prefix: Prefix) -> bool {
        let host = max_len(prefix.addr());
        if prefix.len() >= host {
            return true;
        }
        let floor = if prefix.addr().is_ipv4() {
            self.config.min_reply_prefix_v4
        } else {
            self.config.min_reply_prefix_v6
        };
        if prefix.len() < floor {
            return false;
        }
        let own = self.config.common.protocol_addr;
        !(prefix.contains(own)
            || self
                .config
                .local_prefixes
                .iter()
                .any(|l| prefix.contains(l.addr()) || l.contains(prefix.addr()))
            || self.nhs.iter().any(|n| prefix.contains(n.proto)))
    }

    /// A Traffic Indication for `dst`: a shortcut at once if a dynamic mapping exists, else a
    /// resolution that ends in one.
    pub(super) fn on_traffic_indication(&mut self, now: Instant, dst: IpAddr) -> Result<(), Error> {
        if let Some(e) = self.cache.lookup(dst)
            && e.kind == EntryType::Dynamic
            && let Some(nbma) = e.effective_nbma()
        {
            let (prefix, next_hop) = (e.prefix, e.next_hop);
            self.core.event(Event::Shortcut {
                prefix,
                next_hop,
                nbma,
            });
            return Ok(());
        }
        self.start_resolution(now, dst, true, false)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        HUB_NBMA, SPOKE_NBMA, SPOKE_PROTO, binding, events, hub, ip, reply, spoke, transmits,
    };
    use super::*;
    use crate::cache::CacheEvent;
    use crate::machine::Backoff;
    use crate::wire::Cie;
    use dmvpn_wire::{HeaderOptions, IpProtocol};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A UDP packet from `src` to `dst` (header only).
    fn ip_packet(src: &str, dst: &str) -> Vec<u8> {
        let h = dmvpn_wire::ip::Repr::new(
            ip(src),
            ip(dst),
            IpProtocol::UDP,
            0,
            &HeaderOptions::default(),
            1,
        )
        .unwrap();
        let mut buf = vec![0; h.buffer_len()];
        h.emit(&mut buf).unwrap();
        buf
    }

    #[test]
    fn resolve_sends_one_request_and_installs_an_incomplete_entry() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        assert_eq!(c.resolve(t0, ip("10.0.0.3")).unwrap(), Resolution::Pending);
        let sent = transmits(&mut c);
        assert_eq!(sent.len(), 1);
        let t = sent.first().unwrap();
        assert_eq!(t.dst, ip(HUB_NBMA));
        let req = Repr::parse_bytes(&t.payload).unwrap();
        assert_eq!(req.packet_type(), PacketType::RESOLUTION_REQUEST);
        assert_eq!(req.dst_proto_addr.ip(), Some(ip("10.0.0.3")));
        let e = c.cache().get(&Prefix::host(ip("10.0.0.3"))).unwrap();
        assert_eq!(e.kind, EntryType::Incomplete);
        // Asking again while it is pending sends nothing more.
        assert_eq!(c.resolve(t0, ip("10.0.0.3")).unwrap(), Resolution::Pending);
        assert!(transmits(&mut c).is_empty());
        assert_eq!(c.pending_resolutions(), 1);
        // The hub's own address is a static map: no request.
        assert_eq!(
            c.resolve(t0, ip("10.0.0.1")).unwrap(),
            Resolution::Cached(ip(HUB_NBMA))
        );
        assert!(transmits(&mut c).is_empty());
    }

    #[test]
    fn reply_for_an_unknown_request_id_is_dropped_and_counted() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        let mut req = Repr::parse_bytes(&sent.payload).unwrap();
        let id = req.request_id().unwrap();
        if let Some(b) = req.message.body_mut() {
            b.request_id = id.wrapping_add(100);
        }
        let forged = reply(
            &req.to_bytes().unwrap(),
            vec![binding("172.16.2.75", "10.0.0.3", 600)],
        );
        let err = c.handle_packet(t0, ip(HUB_NBMA), &forged).unwrap_err();
        assert!(matches!(
            err,
            Error::UnmatchedReply {
                packet_type: PacketType::RESOLUTION_REPLY,
                request_id,
            } if request_id == id.wrapping_add(100)
        ));
        assert_eq!(c.stats().unmatched_replies, 1);
        // Nothing was learned: the resolution is still pending, the entry incomplete.
        assert_eq!(c.pending_resolutions(), 1);
        assert_eq!(
            c.cache().lookup(ip("10.0.0.3")).unwrap().kind,
            EntryType::Incomplete
        );
        // The real reply is still accepted.
        let good = reply(&sent.payload, vec![binding("172.16.2.75", "10.0.0.3", 600)]);
        c.handle_packet(t0, ip(HUB_NBMA), &good).unwrap();
        assert_eq!(
            c.resolve(t0, ip("10.0.0.3")).unwrap(),
            Resolution::Cached(ip("172.16.2.75"))
        );
    }

    #[test]
    fn a_reply_installs_a_dynamic_mapping_with_its_holding_time() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        events(&mut c);
        let ok = reply(&sent.payload, vec![binding("172.16.2.75", "10.0.0.3", 600)]);
        c.handle_packet(t0 + secs(1), ip(HUB_NBMA), &ok).unwrap();
        let e = c
            .cache()
            .get(&Prefix::host(ip("10.0.0.3")))
            .unwrap()
            .clone();
        assert_eq!(e.kind, EntryType::Dynamic);
        assert_eq!(e.nbma, Some(ip("172.16.2.75")));
        assert_eq!(e.expires, Some(t0 + secs(601)));
        assert_eq!(c.pending_resolutions(), 0);
        // The machine's own event first, then the cache's (drained at the end of the call).
        let evs = events(&mut c);
        assert_eq!(
            evs.first(),
            Some(&Event::Resolved {
                target: ip("10.0.0.3"),
                prefix: Prefix::host(ip("10.0.0.3")),
                nbma: ip("172.16.2.75"),
            })
        );
        assert!(matches!(evs.get(1), Some(Event::Cache(CacheEvent::Updated(u))) if *u == e));
        assert_eq!(evs.len(), 2);
        // The same reply again matches nothing.
        assert!(c.handle_packet(t0 + secs(1), ip(HUB_NBMA), &ok).is_err());
        assert_eq!(c.stats().unmatched_replies, 1);
    }

    #[test]
    fn a_negative_reply_installs_a_negative_entry() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| c.negative_holding_time = secs(7));
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        let no = Cie {
            code: CieCode::NO_BINDING_EXISTS,
            ..Cie::default()
        };
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, vec![no]))
            .unwrap();
        assert_eq!(c.resolve(t0, ip("10.0.0.3")).unwrap(), Resolution::Negative);
        let e = c.cache().get(&Prefix::host(ip("10.0.0.3"))).unwrap();
        assert_eq!(e.expires, Some(t0 + secs(7)));
        assert!(events(&mut c).contains(&Event::ResolutionNegative {
            target: ip("10.0.0.3")
        }));
        assert!(transmits(&mut c).is_empty());
    }

    #[test]
    fn unanswered_resolution_backs_off_then_gives_up() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| {
            c.resolution_attempts = 3;
            c.resolution_backoff = Backoff {
                initial: secs(1),
                max: secs(2),
            };
        });
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        assert_eq!(transmits(&mut c).len(), 1);
        events(&mut c);
        // Retransmissions at +1 (interval now 2) and +3; the give-up at +5.
        for (at, sends) in [(1, 1), (3, 1), (5, 0)] {
            assert_eq!(c.poll_timeout(), Some(t0 + secs(at)));
            c.handle_timeout(t0 + secs(at));
            assert_eq!(transmits(&mut c).len(), sends, "at +{at} s");
        }
        assert_eq!(c.pending_resolutions(), 0);
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.3"))).is_none());
        let evs = events(&mut c);
        assert_eq!(
            evs.first(),
            Some(&Event::ResolutionFailed {
                target: ip("10.0.0.3")
            })
        );
        assert!(matches!(
            evs.get(1),
            Some(Event::Cache(CacheEvent::Removed(e, RemoveReason::Removed)))
                if e.kind == EntryType::Incomplete
        ));
    }

    #[test]
    fn an_error_indication_quoting_the_request_ends_the_resolution() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        events(&mut c);
        let ei = Repr::error_indication(
            &sent.payload,
            crate::wire::ErrorCode::HOP_COUNT_EXCEEDED,
            0,
            &hub(),
        );
        c.handle_packet(t0, ip(HUB_NBMA), &ei.to_bytes().unwrap())
            .unwrap();
        assert_eq!(c.pending_resolutions(), 0);
        assert!(events(&mut c).contains(&Event::ResolutionFailed {
            target: ip("10.0.0.3")
        }));
    }

    #[test]
    fn a_traffic_indication_resolves_and_ends_in_a_shortcut() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        let data = ip_packet(SPOKE_PROTO, "192.168.3.9");
        let ti = Repr::traffic_indication(&data, &hub()).unwrap();
        c.handle_packet(t0, ip(HUB_NBMA), &ti.to_bytes().unwrap())
            .unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        let req = Repr::parse_bytes(&sent.payload).unwrap();
        assert_eq!(req.dst_proto_addr.ip(), Some(ip("192.168.3.9")));
        events(&mut c);
        // The owner answers for its network 192.168.3.0/24.
        let net = Cie {
            prefix_len: 24,
            ..binding("172.16.3.1", "10.0.0.3", 600)
        };
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, vec![net]))
            .unwrap();
        let shortcut = Event::Shortcut {
            prefix: Prefix::new(ip("192.168.3.0"), 24),
            next_hop: ip("10.0.0.3"),
            nbma: ip("172.16.3.1"),
        };
        assert!(events(&mut c).contains(&shortcut));
        // The incomplete host entry gave way to the /24.
        assert!(c.cache().get(&Prefix::host(ip("192.168.3.9"))).is_none());
        // A second indication for the network is a shortcut at once, with no request.
        let again = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "192.168.3.77"), &hub())
            .unwrap()
            .to_bytes()
            .unwrap();
        c.handle_packet(t0, ip(HUB_NBMA), &again).unwrap();
        assert!(transmits(&mut c).is_empty());
        assert_eq!(events(&mut c), vec![shortcut]);
    }

    const ATTACKER: &str = "198.51.100.66";

    /// The spoke's own Resolution Request for `target` with request ID `id`, as a forger
    /// would write it to build a reply.
    fn guessed_request(id: u32, target: &str) -> Repr {
        let me = crate::wire::Node::new(ip(SPOKE_NBMA), ip(SPOKE_PROTO));
        Repr::resolution_request(id, &me, ip(target), 600, 1400)
    }

    #[test]
    fn replies_guessing_request_ids_after_a_forged_traffic_indication_plant_no_shortcut() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| {
            c.common.request_id_key = crate::machine::RequestIdKey::from_seed(7);
        });
        // The attacker spoofs the hub: a Traffic Indication for 200.1.2.3 ...
        let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "200.1.2.3"), &hub()).unwrap();
        c.handle_packet(t0, ip(HUB_NBMA), &ti.to_bytes().unwrap())
            .unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        events(&mut c);
        // ... then replies with request IDs 1..=200, each mapping 128.0.0.0/1 to itself.
        let wide = Cie {
            prefix_len: 1,
            ..binding(ATTACKER, "10.0.0.66", 7200)
        };
        for id in 1..=200 {
            let forged = guessed_request(id, "200.1.2.3")
                .reply(&hub(), vec![wide.clone()])
                .unwrap();
            assert!(
                c.handle_packet(t0, ip(HUB_NBMA), &forged.to_bytes().unwrap())
                    .is_err()
            );
        }
        assert_eq!(
            c.stats().unmatched_replies,
            200,
            "no guess hit the request ID"
        );
        assert!(
            !events(&mut c)
                .iter()
                .any(|e| matches!(e, Event::Shortcut { .. })),
            "no shortcut"
        );
        assert_eq!(
            c.cache().lookup(ip("200.1.2.3")).unwrap().kind,
            EntryType::Incomplete
        );
        // The genuine reply still lands.
        let net = Cie {
            prefix_len: 24,
            ..binding("172.16.3.1", "10.0.0.3", 600)
        };
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, vec![net]))
            .unwrap();
        assert!(events(&mut c).contains(&Event::Shortcut {
            prefix: Prefix::new(ip("200.1.2.0"), 24),
            next_hop: ip("10.0.0.3"),
            nbma: ip("172.16.3.1"),
        }));
    }

    #[test]
    fn a_reply_is_taken_only_from_the_nhs_asked_or_from_the_nbma_address_it_maps() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        // Even with the right request ID: from a third address, mapping the genuine spoke or
        // the third address's neighbour.
        let genuine = reply(&sent.payload, vec![binding("172.16.2.75", "10.0.0.3", 600)]);
        let elsewhere = reply(&sent.payload, vec![binding("203.0.113.7", "10.0.0.3", 600)]);
        for bytes in [&genuine, &elsewhere] {
            assert!(c.handle_packet(t0, ip(ATTACKER), bytes).is_err());
        }
        assert_eq!(c.stats().replies_refused, 2);
        assert_eq!(
            c.pending_resolutions(),
            1,
            "still waiting for the real answer"
        );
        assert_eq!(
            c.cache().lookup(ip("10.0.0.3")).unwrap().kind,
            EntryType::Incomplete
        );
        // The owner answering directly (phase 2, the hub forwarded the request) from the NBMA
        // address it maps is taken.
        c.handle_packet(t0, ip("172.16.2.75"), &genuine).unwrap();
        assert_eq!(
            c.resolve(t0, ip("10.0.0.3")).unwrap(),
            Resolution::Cached(ip("172.16.2.75"))
        );
    }

    #[test]
    fn a_reply_broader_than_the_responder_may_claim_is_refused_and_counted() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| {
            c.local_prefixes.push(Prefix::new(ip("192.168.1.0"), 24))
        });
        let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "200.1.2.3"), &hub()).unwrap();
        c.handle_packet(t0, ip(HUB_NBMA), &ti.to_bytes().unwrap())
            .unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        events(&mut c);
        let owner = |len: u8| {
            vec![Cie {
                prefix_len: len,
                ..binding("172.16.3.1", "10.0.0.3", 600)
            }]
        };
        // A /1 for one host, even from the NHS asked with the right ID.
        assert!(
            c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, owner(1)))
                .is_err()
        );
        assert_eq!(c.stats().replies_refused, 1);
        assert_eq!(c.pending_resolutions(), 1);
        assert!(
            !events(&mut c)
                .iter()
                .any(|e| matches!(e, Event::Shortcut { .. }))
        );
        // The network behind the owner is what it may claim.
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, owner(24)))
            .unwrap();
        assert!(
            events(&mut c)
                .iter()
                .any(|e| matches!(e, Event::Shortcut { prefix, .. }
            if *prefix == Prefix::new(ip("200.1.2.0"), 24)))
        );
        // A prefix covering this node's own addresses is nobody else's to claim: 10.0.0.0/8
        // for 10.0.0.3 holds this spoke's tunnel address.
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        assert!(
            c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, owner(8)))
                .is_err()
        );
        assert_eq!(c.stats().replies_refused, 2);
        // 192.168.0.0/16 for 192.168.3.9 holds its LAN.
        c.resolve(t0, ip("192.168.3.9")).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        assert!(
            c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, owner(16)))
                .is_err()
        );
        assert_eq!(c.stats().replies_refused, 3);
    }

    #[test]
    fn a_traffic_indication_for_a_pending_resolution_sends_the_request_again_at_once() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "192.168.3.9"), &hub())
            .unwrap()
            .to_bytes()
            .unwrap();
        c.handle_packet(t0, ip(HUB_NBMA), &ti).unwrap();
        let first = transmits(&mut c);
        assert_eq!(first.len(), 1);
        // Retransmissions at +1 and +3 s are lost; the back-off now waits until +7 s.
        for at in [1, 3] {
            c.handle_timeout(t0 + secs(at));
            assert_eq!(transmits(&mut c).len(), 1);
        }
        assert_eq!(c.poll_timeout(), Some(t0 + secs(7)));
        // The hub redirects again at +4 s: the traffic still hairpins, so the request goes
        // again now and the back-off starts over.
        c.handle_packet(t0 + secs(4), ip(HUB_NBMA), &ti).unwrap();
        let again = transmits(&mut c);
        assert_eq!(again.len(), 1, "sent again at once");
        let req = Repr::parse_bytes(&again.first().unwrap().payload).unwrap();
        assert_eq!(req.dst_proto_addr.ip(), Some(ip("192.168.3.9")));
        assert_eq!(c.poll_timeout(), Some(t0 + secs(5)));
        assert_eq!(c.pending_resolutions(), 1, "the same resolution");
        // An indication right after a send adds nothing.
        c.handle_packet(t0 + secs(4), ip(HUB_NBMA), &ti).unwrap();
        assert!(transmits(&mut c).is_empty());
        // The answer to the retried request ends in the shortcut.
        let net = Cie {
            prefix_len: 24,
            ..binding("172.16.3.1", "10.0.0.3", 600)
        };
        events(&mut c);
        c.handle_packet(
            t0 + secs(4),
            ip(HUB_NBMA),
            &reply(&again.first().unwrap().payload, vec![net]),
        )
        .unwrap();
        assert!(
            events(&mut c)
                .iter()
                .any(|e| matches!(e, Event::Shortcut { .. }))
        );
    }

    #[test]
    fn a_shortcut_resolution_keeps_retrying_while_redirects_are_recent() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| {
            c.resolution_attempts = 3;
            c.resolution_backoff = Backoff {
                initial: secs(1),
                max: secs(2),
            };
            c.shortcut_retry_window = secs(20);
        });
        let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "192.168.3.9"), &hub())
            .unwrap()
            .to_bytes()
            .unwrap();
        c.handle_packet(t0, ip(HUB_NBMA), &ti).unwrap();
        events(&mut c);
        // Every request is lost; no further indication gets through. Three attempts (0, +1,
        // +3), then at +5, instead of giving up, it starts over, and so on until the last
        // indication is 20 s old.
        let mut sent = transmits(&mut c).len();
        let mut failed_at = None;
        let mut now = t0;
        while let Some(t) = c.poll_timeout() {
            now = t;
            c.handle_timeout(now);
            sent += transmits(&mut c).len();
            if events(&mut c)
                .iter()
                .any(|e| matches!(e, Event::ResolutionFailed { .. }))
            {
                failed_at = Some(now);
                break;
            }
            assert!(now < t0 + secs(60));
        }
        let failed_at = failed_at.unwrap();
        assert!(
            failed_at >= t0 + secs(20),
            "given up at {:?}",
            failed_at - t0
        );
        assert!(
            failed_at <= t0 + secs(25),
            "given up at {:?}",
            failed_at - t0
        );
        assert!(sent >= 12, "{sent} requests");
        // A data-path resolution (no indication) still gives up after its three attempts.
        c.resolve(now, ip("10.0.0.3")).unwrap();
        let start = now;
        transmits(&mut c);
        loop {
            let t = c.poll_timeout().unwrap();
            c.handle_timeout(t);
            transmits(&mut c);
            if events(&mut c)
                .iter()
                .any(|e| matches!(e, Event::ResolutionFailed { .. }))
            {
                assert_eq!(t - start, secs(5));
                break;
            }
        }
    }

    #[test]
    fn a_used_mapping_is_refreshed_in_its_last_window_only() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| c.refresh_window = secs(60));
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        let ok = reply(&sent.payload, vec![binding("172.16.2.75", "10.0.0.3", 300)]);
        c.handle_packet(t0, ip(HUB_NBMA), &ok).unwrap();
        assert_eq!(
            c.mark_used(t0 + secs(200), ip("10.0.0.3")),
            Some(ip("172.16.2.75"))
        );
        assert!(transmits(&mut c).is_empty(), "100 s left: no refresh yet");
        assert_eq!(
            c.mark_used(t0 + secs(240), ip("10.0.0.3")),
            Some(ip("172.16.2.75"))
        );
        let refresh = transmits(&mut c);
        assert_eq!(refresh.len(), 1, "60 s left: refreshed");
        // A refresh keeps the mapping usable (no incomplete entry in its place).
        assert_eq!(
            c.cache().lookup(ip("10.0.0.3")).unwrap().kind,
            EntryType::Dynamic
        );
        let e = c.cache().lookup(ip("10.0.0.3")).unwrap();
        assert!(e.flags.contains(EntryFlags::USED));
        assert_eq!(e.last_used, Some(t0 + secs(240)));
        // The refreshed entry keeps its use.
        let ok = reply(
            &refresh.first().unwrap().payload,
            vec![binding("172.16.2.75", "10.0.0.3", 300)],
        );
        c.handle_packet(t0 + secs(241), ip(HUB_NBMA), &ok).unwrap();
        let e = c.cache().lookup(ip("10.0.0.3")).unwrap();
        assert_eq!(e.expires, Some(t0 + secs(541)));
        assert!(e.flags.contains(EntryFlags::USED));
        assert_eq!(e.last_used, Some(t0 + secs(240)));
    }
}
