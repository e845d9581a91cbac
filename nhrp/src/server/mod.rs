//! The next-hop server (NHS): a hub that learns spokes from their registrations and answers or
//! forwards their resolutions.
//!
//! [`Server`] and its handle/poll contract, purges and phase 3 redirects live here; the rules
//! are in the submodules: `config`, `registration` (the registration table), `resolution`
//! (answering and forwarding Resolution Requests) and `redirect` (when a hairpinned flow gets
//! a Traffic Indication).

mod config;
mod redirect;
mod registration;
mod resolution;
mod routes;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

pub use config::{ResolutionMode, Route, ServerConfig};

use crate::Error;
use crate::cache::{Cache, Entry, EntryFlags, EntryType, Prefix, RemoveReason};
use crate::machine::{Core, Event, Sender, Stats, Traffic, Transmit};
use crate::wire::{Address, Cie, Flags, Message, NbmaAddress, PacketType, Repr};

/// The NHRP server (NHS) of a hub: a registration table with uniqueness, holding times and NAT
/// detection (RFC 2332 §5.2.3/§5.2.4), resolution by answer or forwarding (§5.2.1/§5.2.2)
/// with loop and hop-count checks (§5.2.7, §5.3.2), purges (§5.2.5), and Cisco Traffic
/// Indications for phase 3 ([`Server::note_forwarded`]).
///
/// Sans-IO, with the handle/poll contract of the crate docs. It never panics.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    core: Core,
    cache: Cache,
    next_nhs_nbma: Option<IpAddr>,
    requesters: HashMap<Prefix, Vec<IpAddr>>,
    redirects: redirect::Redirects,
    purges: Vec<u32>,
    /// Routes to networks behind spokes, taken out of the configuration.
    routes: routes::Routes,
}

impl Server {
    /// A server; fails with [`Error::InvalidConfig`] listing every problem.
    pub fn new(now: Instant, mut config: ServerConfig) -> Result<Server, Error> {
        config.validate()?;
        let routes = routes::Routes::new(std::mem::take(&mut config.routes));
        let mut cache = Cache::new(config.max_registrations, config.common.max_events);
        for m in &config.map {
            // Configuration is not news: drained as it goes, so any number of maps fits.
            cache.insert(now, m.entry(now))?;
            while cache.poll_event().is_some() {}
        }
        let next_nhs_nbma = config.next_nhs.and_then(|n| n.nbma_in(&config.map));
        Ok(Server {
            core: Core::new(config.common.clone(), crate::machine::SERVER_IDS),
            config,
            cache,
            next_nhs_nbma,
            requesters: HashMap::new(),
            redirects: redirect::Redirects::default(),
            purges: Vec::new(),
            routes,
        })
    }

    /// Reserves room for `n` registrations.
    pub fn reserve(&mut self, n: usize) {
        self.cache.reserve(n);
    }

    /// The configuration, without its [`ServerConfig::routes`]: the server took them into
    /// its route table ([`Server::routes`]).
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The registration table and static maps (`show ip nhrp`).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The registration of a protocol address (longest prefix), if any.
    pub fn registration(&self, addr: IpAddr) -> Option<Entry> {
        self.cache
            .lookup(addr)
            .filter(|e| e.flags.contains(EntryFlags::REGISTERED))
    }

    /// Entries of the registration table looked at so far ([`Cache::visits`]). A diagnostic,
    /// not part of the behaviour: the difference over one registration or resolution shows
    /// how much of the table handling it looked at (it stays the same however many spokes
    /// are registered; `dmvpn-core/tests/op_counts.rs` checks it).
    pub fn cache_visits(&self) -> u64 {
        self.cache.visits()
    }

    /// Entries of the route table ([`Server::routes`]) looked at so far: one per prefix
    /// length searched by a resolution for an address the registration table does not cover,
    /// one per route added or removed, one per step of [`Server::routes`]. A diagnostic, like
    /// [`Server::cache_visits`].
    pub fn route_visits(&self) -> u64 {
        self.routes.visits()
    }

    /// The routes to networks behind spokes: those of [`ServerConfig::routes`] (a later one
    /// for the same prefix replacing an earlier one) and of [`Server::add_route`], less those
    /// removed; IPv4 before IPv6, shorter prefixes first, then by address.
    pub fn routes(&self) -> impl Iterator<Item = Route> + '_ {
        self.routes.iter()
    }

    /// `ip nhrp map multicast dynamic`: the NBMA addresses (post-NAT) of every registered spoke,
    /// plus the static maps, for multicast replication, in the prefix order of the entries.
    pub fn multicast_nbmas(&self) -> Vec<IpAddr> {
        self.cache
            .iter()
            .filter(|e| {
                e.kind == EntryType::Static
                    || (self.config.map_multicast_dynamic
                        && e.flags.contains(EntryFlags::REGISTERED))
            })
            .filter_map(|e| e.effective_nbma())
            .collect()
    }

    /// `show ip nhrp traffic` at `now`.
    pub fn traffic(&self, now: Instant) -> Traffic {
        self.core.traffic(now)
    }

    /// Drop and error counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.core.stats;
        s.events_dropped = s.events_dropped.saturating_add(self.cache.events_dropped());
        s
    }

    /// Transmits, events and quota-held packets queued.
    pub fn queued(&self) -> (usize, usize, usize) {
        self.core.queued()
    }

    /// Source/destination pairs remembered for the redirect rate limit.
    pub fn redirect_pairs(&self) -> usize {
        self.redirects.len()
    }

    /// Adds a route to a network behind a spoke, as the hub's routing protocol learned it
    /// (replacing any route for the same prefix): resolutions for addresses in `route.prefix`
    /// are then answered for, or forwarded to, the registration of `route.next_hop` (DMVPN
    /// phase 3 shortcuts to networks behind spokes). See [`ServerConfig::routes`].
    pub fn add_route(&mut self, route: Route) {
        self.routes.insert(route);
    }

    /// Removes the route for exactly `prefix`; returns whether there was one.
    pub fn remove_route(&mut self, prefix: Prefix) -> bool {
        self.routes.remove(prefix)
    }

    /// The next packet to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.drain_cache();
        self.core.poll_event()
    }

    /// When to call [`Server::handle_timeout`]: the next registration expiry or quota release.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.cache.next_expiry(), self.core.release_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Expires registrations whose holding time ran out and releases held packets. A call
    /// before anything is due does nothing. Expiry never drops the cache events it causes: it
    /// stops when the event queue is full, leaving [`Server::poll_timeout`] due, so that a
    /// burst larger than the queue is worked off over several calls as the events are polled.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.release(now);
        for e in self.cache.expire(now) {
            self.requesters.remove(&e.prefix);
        }
        self.drain_cache();
    }

    fn drain_cache(&mut self) {
        self.core.drain_cache(&mut self.cache);
    }

    /// Removes the registration of `addr` (`clear ip nhrp`) and sends a Purge Request for it
    /// to every spoke that resolved it through this server (RFC 2332 §5.2.5). Returns whether
    /// one was removed.
    pub fn purge(&mut self, now: Instant, addr: IpAddr) -> bool {
        let Some(prefix) = self.registration(addr).map(|e| e.prefix) else {
            return false;
        };
        if let Some(e) = self.cache.remove(&prefix, RemoveReason::Purged) {
            self.notify_purge(now, &e);
        }
        self.drain_cache();
        true
    }

    /// Removes every registration from NBMA address `nbma` (its post-NAT address, when the
    /// spoke is behind NAT) and purges them at the spokes that resolved them, as
    /// [`Server::purge`] does: what a hub does when it loses the spoke's IPsec SA, the spoke
    /// being unreachable until it registers again. Returns how many were removed.
    pub fn remove_nbma(&mut self, now: Instant, nbma: IpAddr) -> usize {
        let prefixes: Vec<Prefix> = self
            .cache
            .iter()
            .filter(|e| {
                e.flags.contains(EntryFlags::REGISTERED) && e.effective_nbma() == Some(nbma)
            })
            .map(|e| e.prefix)
            .collect();
        for p in &prefixes {
            if let Some(e) = self.cache.remove(p, RemoveReason::Removed) {
                self.notify_purge(now, &e);
            }
        }
        self.drain_cache();
        prefixes.len()
    }

    /// A registered spoke's NAT box rebound it from public address `old` to `new` (the node saw
    /// its authenticated traffic come from there): its registrations stay and name `new` from
    /// now on, and so do the requesters to purge. Returns how many registrations moved.
    pub fn rebind_nbma(&mut self, old: IpAddr, new: IpAddr) -> usize {
        let n = self.cache.rebind_nbma(old, new);
        for list in self.requesters.values_mut() {
            for a in list.iter_mut().filter(|a| **a == old) {
                *a = new;
            }
        }
        n
    }

    /// Sends a Purge Request for the removed registration `e` to every spoke that resolved it
    /// through this server, remembering the request IDs (the most recent 256) for the replies.
    fn notify_purge(&mut self, now: Instant, e: &Entry) {
        let Some(requesters) = self.requesters.remove(&e.prefix) else {
            return;
        };
        let cie = Cie {
            prefix_len: e.prefix.len(),
            client_nbma_addr: e.nbma.map(NbmaAddress::from).unwrap_or_default(),
            client_proto_addr: Address::from(e.next_hop),
            ..Cie::default()
        };
        for nbma in requesters {
            let purges = &self.purges;
            let id = self.core.request_id(|id| purges.contains(&id));
            let req = Repr::purge_request(id, &self.core.me, e.next_hop, vec![cie.clone()], false);
            if self.purges.len() >= 256 {
                self.purges.remove(0);
            }
            self.purges.push(id);
            self.core.send(now, nbma, req);
        }
    }

    /// Phase 3 (`ip nhrp redirect`): the data path forwarded `inner` (an IP packet that came
    /// in from `from_nbma`) back out the same NBMA cloud. Sends the sender a Traffic Indication
    /// quoting it, rate-limited per source and destination pair: at once, then while the
    /// flow keeps hairpinning up to [`ServerConfig::redirect_retries`] more after
    /// [`ServerConfig::redirect_retry`] each, then once per
    /// [`ServerConfig::redirect_interval`] (see `redirect`). Returns whether one was sent.
    pub fn note_forwarded(
        &mut self,
        now: Instant,
        from_nbma: IpAddr,
        inner: &[u8],
    ) -> Result<bool, Error> {
        let (Some(src), Some(dst)) = (
            dmvpn_wire::ip::source(inner),
            dmvpn_wire::ip::destination(inner),
        ) else {
            return Err(Error::NotAnIpPacket {
                reason: "not an IPv4 or IPv6 packet",
            });
        };
        match self.redirects.check(&self.config, now, src, dst) {
            redirect::Verdict::Send => {}
            redirect::Verdict::Wait => return Ok(false),
            redirect::Verdict::Full => {
                self.core.stats.table_full = self.core.stats.table_full.saturating_add(1);
                return Ok(false);
            }
        }
        let ti = Repr::traffic_indication(inner, &self.core.me)?;
        self.redirects.sent(now, src, dst);
        self.core.send(now, from_nbma, ti);
        Ok(true)
    }

    /// Handles one NHRP packet from `from_nbma` (the outer source address, post-NAT). On
    /// error the packet was dropped (and counted); the error says why.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        from_nbma: IpAddr,
        bytes: &[u8],
    ) -> Result<(), Error> {
        let repr = self.core.receive(now, from_nbma, bytes)?;
        // The registration of the packet's source protocol address, looked up once for the
        // ranking and the handlers (before the packet changes anything).
        let src_reg = repr.src_proto_addr.ip().and_then(|a| self.registration(a));
        // What is sent in answer ranks by who asked (`max-send` priorities).
        self.core.sender = Some(Self::sender(from_nbma, src_reg));
        let r = match &repr.message {
            Message::RegistrationRequest(_) => self.on_registration(now, from_nbma, repr, src_reg),
            Message::ResolutionRequest(_) => {
                self.on_resolution(now, from_nbma, bytes, repr, src_reg)
            }
            Message::PurgeRequest(_) => self.on_purge_request(now, from_nbma, &repr),
            Message::PurgeReply(b) => {
                if let Some(i) = self.purges.iter().position(|&id| id == b.request_id) {
                    self.purges.remove(i);
                    Ok(())
                } else {
                    Err(Error::UnmatchedReply {
                        packet_type: PacketType::PURGE_REPLY,
                        request_id: b.request_id,
                    })
                }
            }
            Message::ErrorIndication(ei) => {
                self.core.event(Event::ErrorIndication {
                    from: from_nbma,
                    code: ei.code,
                });
                Ok(())
            }
            _ => Err(Error::Unexpected {
                packet_type: repr.packet_type(),
                reason: "a server does not accept this packet type",
            }),
        };
        self.core.sender = None;
        self.drain_cache();
        r.map_err(|e| self.core.drop_err(e))
    }

    /// Who sent a packet from `from`, as far as `max-send` is concerned: a spoke registered
    /// from that NBMA address (post-NAT) for the packet's source protocol address (`src_reg`,
    /// its registration looked up before the packet changes it), with the age of its
    /// registration, or a stranger. Answers to a
    /// registered spoke's registrations and purges go first, then its resolutions, then
    /// anything for strangers (new registrations included: a legitimate newcomer's
    /// retransmission, once its first registration is in, ranks as registered).
    fn sender(from: IpAddr, src_reg: Option<Entry>) -> Sender {
        src_reg
            .filter(|e| e.effective_nbma() == Some(from))
            .map_or(Sender::Stranger, |e| Sender::Registered {
                since: e.created,
            })
    }

    /// A Purge Request: a registrant purges its own registrations (and the spokes that
    /// resolved them are told); answered unless the N flag is set. A registration is purged
    /// only by a packet from the NBMA address it was registered from (post-NAT): the
    /// addresses written inside the packet are the sender's word and prove nothing. Other
    /// registrations named stay, counted and reported ([`Event::PurgeRefused`]).
    fn on_purge_request(&mut self, now: Instant, from: IpAddr, req: &Repr) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        for c in &body.cies {
            let Some(addr) = c.client_proto_addr.ip().or_else(|| req.src_proto_addr.ip()) else {
                continue;
            };
            let Some(e) = self.registration(addr) else {
                continue;
            };
            // Only the registrant may purge its registration.
            if e.effective_nbma() != Some(from) {
                self.core.stats.purges_refused = self.core.stats.purges_refused.saturating_add(1);
                self.core.event(Event::PurgeRefused {
                    prefix: e.prefix,
                    from,
                });
                continue;
            }
            if let Some(e) = self.cache.remove(&e.prefix, RemoveReason::Purged) {
                self.notify_purge(now, &e);
            }
        }
        if !body.flags.contains(Flags::N)
            && let Some(reply) = req.reply(&self.core.me, body.cies.clone())
        {
            self.core.send(now, from, reply);
        }
        Ok(())
    }
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use super::testing::{
        HUB_NBMA, HUB_PROTO, events, hub, ip, me, nbma, proto, register, spoke, transmits,
    };
    use super::*;
    use crate::cache::CacheEvent;
    use crate::client::StaticMap;
    use dmvpn_wire::{HeaderOptions, IpProtocol};
    use std::time::Duration;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_multicast_list_and_show_do_not_depend_on_the_registration_order() {
        let t0 = Instant::now();
        let spokes: Vec<u8> = (2..=60).collect();
        let mut views = Vec::new();
        for reversed in [false, true] {
            let mut s = hub(t0, |c| {
                c.map
                    .push(StaticMap::host(ip("10.0.0.254"), ip("172.17.0.254")));
            });
            let mut order = spokes.clone();
            if reversed {
                order.reverse();
            }
            for i in order {
                register(&mut s, t0, i, 600);
            }
            views.push((
                s.multicast_nbmas(),
                s.cache().show(t0, "Tunnel0").to_string(),
            ));
        }
        assert_eq!(views.first(), views.last());
        let (list, _) = views.first().unwrap();
        let mut want: Vec<IpAddr> = spokes.iter().map(|&i| nbma(i)).collect();
        want.push(ip("172.17.0.254"));
        assert_eq!(
            list, &want,
            "registered spokes and the static map, in prefix order"
        );
    }

    #[test]
    fn without_map_multicast_dynamic_only_static_maps_are_replicated_to() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| {
            c.map_multicast_dynamic = false;
            c.map
                .push(StaticMap::host(ip("10.0.0.254"), ip("172.17.0.254")));
        });
        register(&mut s, t0, 2, 600);
        assert_eq!(s.multicast_nbmas(), vec![ip("172.17.0.254")]);
    }

    #[test]
    fn registrations_expire_with_their_holding_time() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        register(&mut s, t0, 2, 300);
        register(&mut s, t0 + secs(10), 3, 300);
        events(&mut s);
        assert_eq!(s.poll_timeout(), Some(t0 + secs(300)));
        s.handle_timeout(t0 + secs(299));
        assert!(events(&mut s).is_empty(), "a spurious timeout does nothing");
        s.handle_timeout(t0 + secs(300));
        assert!(s.registration(proto(2)).is_none());
        assert!(s.registration(proto(3)).is_some());
        assert!(matches!(
            events(&mut s).as_slice(),
            [Event::Cache(CacheEvent::Removed(e, RemoveReason::Expired))] if e.next_hop == proto(2)
        ));
        assert_eq!(s.poll_timeout(), Some(t0 + secs(310)));
    }

    #[test]
    fn a_burst_of_expiries_beyond_the_event_queue_reports_every_removal() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| {
            c.common.max_events = 16;
            c.common.max_send = crate::machine::MaxSend::new(1000, secs(10));
        });
        for i in 2..=201 {
            register(&mut s, t0, i, 300);
            transmits(&mut s);
            events(&mut s);
        }
        let due = t0 + secs(300);
        let (mut removed, mut rounds) = (0, 0);
        // The owner's loop: fire while due, drain the events after every call.
        while s.poll_timeout().is_some_and(|t| t <= due) {
            s.handle_timeout(due);
            removed += events(&mut s)
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        Event::Cache(CacheEvent::Removed(_, RemoveReason::Expired))
                    )
                })
                .count();
            rounds += 1;
            assert!(rounds <= 200, "expiry makes progress");
        }
        assert_eq!(removed, 200, "every expired registration is reported");
        assert!(rounds > 1, "the burst was spread over several calls");
        assert!(s.cache().is_empty());
        assert_eq!(s.stats().events_dropped, 0);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn cache_events_wait_for_room_in_a_full_event_queue_instead_of_being_dropped() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| c.common.max_events = 4);
        // Each registration queues SpokeRegistered and a cache addition; nobody polls.
        for i in 2..=5 {
            s.handle_packet(t0, nbma(i), &super::testing::registration(i, 300))
                .unwrap();
        }
        let added: Vec<IpAddr> = events(&mut s)
            .iter()
            .filter_map(|e| match e {
                Event::Cache(CacheEvent::Added(e)) => Some(e.next_hop),
                _ => None,
            })
            .collect();
        assert_eq!(added, vec![proto(2), proto(3), proto(4), proto(5)]);
        // Only the reports that carry no state were dropped (and counted).
        assert_eq!(s.stats().events_dropped, 2);
    }

    #[test]
    fn a_purge_tells_the_spokes_that_resolved_the_registration() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| c.resolution = ResolutionMode::Authoritative);
        register(&mut s, t0, 2, 600);
        register(&mut s, t0, 3, 600);
        // Spoke 2 resolves spoke 3, answered from the table.
        let req = Repr::resolution_request(7, &spoke(2), proto(3), 600, 1400);
        s.handle_packet(t0, nbma(2), &req.to_bytes().unwrap())
            .unwrap();
        assert_eq!(transmits(&mut s).len(), 1);
        assert!(s.purge(t0, proto(3)));
        assert!(!s.purge(t0, proto(3)), "already gone");
        let sent = transmits(&mut s);
        assert_eq!(sent.len(), 1);
        let t = sent.first().unwrap();
        assert_eq!(t.dst, nbma(2));
        let p = Repr::parse_bytes(&t.payload).unwrap();
        assert_eq!(p.packet_type(), PacketType::PURGE_REQUEST);
        assert_eq!(
            p.cies().first().unwrap().client_proto_addr.ip(),
            Some(proto(3))
        );
        // Its reply is matched once.
        let rep = p
            .reply(&spoke(2), p.cies().to_vec())
            .unwrap()
            .to_bytes()
            .unwrap();
        s.handle_packet(t0, nbma(2), &rep).unwrap();
        assert!(matches!(
            s.handle_packet(t0, nbma(2), &rep),
            Err(Error::UnmatchedReply { .. })
        ));
        assert_eq!(s.stats().unmatched_replies, 1);
    }

    #[test]
    fn only_the_registrant_may_purge_its_registration() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        register(&mut s, t0, 2, 600);
        register(&mut s, t0, 3, 600);
        let cie = Cie {
            prefix_len: 32,
            client_proto_addr: Address::from(proto(2)),
            ..Cie::default()
        };
        // Spoke 3 asks to purge spoke 2's registration: ignored, but answered.
        let forged = Repr::purge_request(9, &spoke(3), ip(HUB_NBMA), vec![cie.clone()], false);
        s.handle_packet(t0, nbma(3), &forged.to_bytes().unwrap())
            .unwrap();
        assert!(s.registration(proto(2)).is_some());
        assert_eq!(transmits(&mut s).len(), 1);
        // Spoke 2 itself, with N set: removed, no reply.
        let own = Repr::purge_request(10, &spoke(2), ip(HUB_NBMA), vec![cie], true);
        s.handle_packet(t0, nbma(2), &own.to_bytes().unwrap())
            .unwrap();
        assert!(s.registration(proto(2)).is_none());
        assert!(transmits(&mut s).is_empty());
        assert!(s.registration(proto(3)).is_some());
    }

    #[test]
    fn a_purge_naming_a_registrant_is_refused_unless_it_comes_from_the_registrants_address() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        register(&mut s, t0, 2, 600);
        let public = ip("203.0.113.9");
        s.handle_packet(t0, public, &super::testing::registration(3, 600))
            .unwrap();
        transmits(&mut s);
        events(&mut s);
        let cie = |i: u8| Cie {
            prefix_len: 32,
            client_proto_addr: Address::from(proto(i)),
            ..Cie::default()
        };
        // An attacker writes spoke 2's own addresses into the Purge Request and sends it from
        // its own address: refused, counted, reported (and answered, to the attacker).
        let attacker = ip("198.51.100.66");
        let forged = Repr::purge_request(9, &spoke(2), ip(HUB_PROTO), vec![cie(2)], false);
        s.handle_packet(t0, attacker, &forged.to_bytes().unwrap())
            .unwrap();
        assert!(s.registration(proto(2)).is_some());
        assert_eq!(s.stats().purges_refused, 1);
        assert_eq!(
            events(&mut s),
            vec![Event::PurgeRefused {
                prefix: Prefix::host(proto(2)),
                from: attacker
            }]
        );
        assert_eq!(
            transmits(&mut s).iter().map(|t| t.dst).collect::<Vec<_>>(),
            vec![attacker]
        );
        // Spoke 3 registered through NAT: its private address is not where it registered from.
        let own = Repr::purge_request(10, &spoke(3), ip(HUB_PROTO), vec![cie(3)], true);
        let own = own.to_bytes().unwrap();
        s.handle_packet(t0, nbma(3), &own).unwrap();
        assert!(s.registration(proto(3)).is_some());
        assert_eq!(s.stats().purges_refused, 2);
        // From its post-NAT address it purges its registration.
        s.handle_packet(t0, public, &own).unwrap();
        assert!(s.registration(proto(3)).is_none());
        assert_eq!(s.stats().purges_refused, 2);
        assert_eq!(
            s.stats().dropped,
            0,
            "refused purges are not dropped packets"
        );
    }

    #[test]
    fn traffic_indications_are_rate_limited_per_source_and_destination() {
        let t0 = Instant::now();
        // One per interval only (no quick retries; the schedule with them is `redirect`'s).
        let mut s = hub(t0, |c| {
            c.redirect_interval = secs(10);
            c.redirect_retries = 0;
        });
        let packet = |src: IpAddr, dst: &str| {
            let h = dmvpn_wire::ip::Repr::new(
                src,
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
        };
        let a = packet(ip("192.168.2.1"), "192.168.3.1");
        let b = packet(ip("192.168.2.1"), "192.168.4.1");
        assert!(s.note_forwarded(t0, nbma(2), &a).unwrap());
        assert!(!s.note_forwarded(t0 + secs(9), nbma(2), &a).unwrap());
        assert!(s.note_forwarded(t0 + secs(9), nbma(2), &b).unwrap());
        assert!(s.note_forwarded(t0 + secs(10), nbma(2), &a).unwrap());
        assert_eq!(s.redirect_pairs(), 2);
        let sent = transmits(&mut s);
        assert_eq!(sent.len(), 3);
        let ti = Repr::parse_bytes(&sent.first().unwrap().payload).unwrap();
        assert_eq!(ti.packet_type(), PacketType::TRAFFIC_INDICATION);
        assert_eq!(ti.dst_proto_addr.ip(), Some(ip("192.168.2.1")));
        assert!(matches!(
            s.note_forwarded(t0, nbma(2), &[0x12, 0x34]),
            Err(Error::NotAnIpPacket { .. })
        ));
        // The defaults: a flow still hairpinning 2 s after its indication gets another.
        let mut s = hub(t0, |_| {});
        assert!(s.note_forwarded(t0, nbma(2), &a).unwrap());
        assert!(!s.note_forwarded(t0 + secs(1), nbma(2), &a).unwrap());
        assert!(s.note_forwarded(t0 + secs(2), nbma(2), &a).unwrap());
        assert_eq!(transmits(&mut s).len(), 2);
    }

    #[test]
    fn packets_a_server_does_not_take_are_dropped_and_counted() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        let req = Repr::registration_request(1, &me(), &spoke(2), 600, 1400);
        let reply = req.reply(&spoke(2), req.cies().to_vec()).unwrap();
        assert!(matches!(
            s.handle_packet(t0, nbma(2), &reply.to_bytes().unwrap()),
            Err(Error::Unexpected {
                packet_type: PacketType::REGISTRATION_REPLY,
                ..
            })
        ));
        assert_eq!(s.stats().dropped, 1);
        assert!(transmits(&mut s).is_empty());
    }
}
