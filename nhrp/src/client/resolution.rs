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
pub(super) fn keep_use(e: &mut Entry, old: Option<Entry>) {
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
    /// its reply may well have been lost. The back-off and the attempts start over and the
    /// request goes again at once, or, if it went less than the initial back-off ago, that
    /// long after it went (not later, whatever the back-off had reached). So a resolution
    /// under loss is retried for as long as the hub keeps redirecting, instead of waiting out
    /// a long back-off or giving up while traffic still flows through the hub, and however
    /// often the hub redirects, its requests go at most once per initial back-off.
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
                } else if shortcut {
                    // As if the last request had been the restart's first.
                    p.attempts = 1;
                    p.interval = initial;
                    p.next = p.next.min(p.last_sent + initial);
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
    /// (back-off and attempts from the start), and its back-off stops growing at
    /// [`crate::ClientConfig::shortcut_backoff_max`]: the hub rate-limits its redirects per
    /// flow (after a few quick retries, one per redirect interval), its indications get lost
    /// like anything else, and the traffic is most likely still hairpinning through it.
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
            let redirected = p
                .last_redirect
                .is_some_and(|t| now.saturating_duration_since(t) < window);
            if p.attempts >= self.config.resolution_attempts {
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
                if redirected {
                    p.interval = p.interval.min(self.config.shortcut_backoff_max);
                }
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
mod tests;
