//! The next-hop server (NHS): a hub that learns spokes from their registrations and answers or
//! forwards their resolutions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::Error;
use crate::cache::{
    Cache, CacheEvent, Entry, EntryFlags, EntryType, Prefix, RemoveReason, max_len,
};
use crate::client::{Nhs, StaticMap};
use crate::machine::{Common, Core, Event, Stats, Traffic, Transmit};
use crate::wire::{
    Address, Cie, CieCode, ErrorCode, Extension, ExtensionBody, ExtensionType, Flags, Message,
    NbmaAddress, PacketType, Repr,
};

/// How the server answers a Resolution Request for a registered spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolutionMode {
    /// Forward the request to the spoke that owns the address, with this NHS appended to the
    /// Forward Transit NHS Record; the spoke answers the requester directly (what Cisco IOS
    /// does in DMVPN phase 2, as in the capture
    /// `dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap`).
    #[default]
    Forward,
    /// Answer from the registration table (seed 003, steps 3 and 9).
    Authoritative,
}

/// A route the hub's data path uses: `prefix` lives behind the spoke whose tunnel address is
/// `next_hop` (normally learned by a routing protocol). Resolutions for addresses in `prefix`
/// go to that spoke (DMVPN phase 3 shortcuts to networks behind spokes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The destination prefix.
    pub prefix: Prefix,
    /// The spoke's protocol address.
    pub next_hop: IpAddr,
}

/// Configuration of a [`Server`], with the IOS commands it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Addresses, authentication, `max-send`, network-id and queue bounds.
    pub common: Common,
    /// Forward resolutions to the owner (phase 2, default) or answer them.
    pub resolution: ResolutionMode,
    /// `ip nhrp nhs` on a hub: the next NHS in a hub hierarchy, where resolutions for unknown
    /// destinations are forwarded (hop count decremented). Without one they get a negative
    /// reply (code 12, No Binding Exists).
    pub next_nhs: Option<Nhs>,
    /// `ip nhrp map` on the hub.
    pub map: Vec<StaticMap>,
    /// Routes to networks behind spokes (see [`Route`]).
    pub routes: Vec<Route>,
    /// `ip nhrp map multicast dynamic`: registered spokes join the multicast list.
    pub map_multicast_dynamic: bool,
    /// Most registrations (cache entries), default 1,000,000.
    pub max_registrations: usize,
    /// Holding time of negative replies and of answers for static entries, in seconds.
    pub holdtime: u16,
    /// Phase 3: at most one Traffic Indication per source and destination pair per this
    /// interval (default 10 s).
    pub redirect_interval: Duration,
    /// Most source/destination pairs remembered for the redirect rate limit.
    pub max_redirect_pairs: usize,
    /// Requesters remembered per registration (they get a Purge Request when it is purged).
    pub max_requesters: usize,
}

impl ServerConfig {
    /// Defaults for a hub with these addresses.
    pub fn new(nbma_addr: IpAddr, protocol_addr: IpAddr) -> ServerConfig {
        ServerConfig {
            common: Common::new(nbma_addr, protocol_addr),
            resolution: ResolutionMode::Forward,
            next_nhs: None,
            map: Vec::new(),
            routes: Vec::new(),
            map_multicast_dynamic: true,
            max_registrations: 1_000_000,
            holdtime: 7200,
            redirect_interval: Duration::from_secs(10),
            max_redirect_pairs: 4096,
            max_requesters: 8,
        }
    }

    /// Checks the configuration, reporting every problem.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        self.common.validate(&mut problems);
        if let Some(n) = &self.next_nhs
            && n.nbma_addr.is_none()
            && !self.map.iter().any(|m| m.protocol_addr == n.protocol_addr)
        {
            problems.push(format!("next_nhs {}: no NBMA address", n.protocol_addr));
        }
        if self.max_registrations <= self.map.len() {
            problems.push("max_registrations must exceed the number of static maps".into());
        }
        if self.holdtime == 0 {
            problems.push("holdtime must be at least 1 second".into());
        }
        if self.max_redirect_pairs == 0 {
            problems.push("max_redirect_pairs must be at least 1".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig { problems })
        }
    }
}

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
    redirects: HashMap<(IpAddr, IpAddr), Instant>,
    purges: Vec<u32>,
}

impl Server {
    /// A server; fails with [`Error::InvalidConfig`] listing every problem.
    pub fn new(now: Instant, config: ServerConfig) -> Result<Server, Error> {
        config.validate()?;
        let mut cache = Cache::new(config.max_registrations, config.common.max_events);
        for m in &config.map {
            cache.insert(now, m.entry(now))?;
        }
        while cache.poll_event().is_some() {}
        let next_nhs_nbma = config.next_nhs.and_then(|n| {
            n.nbma_addr.or_else(|| {
                config
                    .map
                    .iter()
                    .find(|m| m.protocol_addr == n.protocol_addr)
                    .map(|m| m.nbma_addr)
            })
        });
        Ok(Server {
            core: Core::new(config.common.clone()),
            config,
            cache,
            next_nhs_nbma,
            requesters: HashMap::new(),
            redirects: HashMap::new(),
            purges: Vec::new(),
        })
    }

    /// Reserves room for `n` registrations.
    pub fn reserve(&mut self, n: usize) {
        self.cache.reserve(n);
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The registration table and static maps (`show ip nhrp`).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The registration of a protocol address (longest prefix), if any.
    pub fn registration(&self, addr: IpAddr) -> Option<&Entry> {
        self.cache
            .lookup(addr)
            .filter(|e| e.flags.contains(EntryFlags::REGISTERED))
    }

    /// `ip nhrp map multicast dynamic`: the NBMA addresses (post-NAT) of every registered spoke,
    /// plus the static maps, for multicast replication.
    pub fn multicast_nbmas(&self) -> Vec<IpAddr> {
        self.cache
            .iter()
            .filter(|e| {
                e.kind == EntryType::Static
                    || (self.config.map_multicast_dynamic
                        && e.flags.contains(EntryFlags::REGISTERED))
            })
            .filter_map(Entry::effective_nbma)
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
        self.config.routes.retain(|r| r.prefix != route.prefix);
        self.config.routes.push(route);
    }

    /// Removes the route for exactly `prefix`; returns whether there was one.
    pub fn remove_route(&mut self, prefix: Prefix) -> bool {
        let before = self.config.routes.len();
        self.config.routes.retain(|r| r.prefix != prefix);
        self.config.routes.len() != before
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
    /// before anything is due does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.release(now);
        for e in self.cache.expire(now) {
            self.requesters.remove(&e.prefix);
        }
        self.drain_cache();
    }

    fn drain_cache(&mut self) {
        while let Some(e) = self.cache.poll_event() {
            self.core.event(Event::Cache(e));
        }
    }

    /// Removes the registration of `addr` (`clear ip nhrp`) and sends a Purge Request for it
    /// to every spoke that resolved it through this server (RFC 2332 §5.2.5). Returns whether
    /// one was removed.
    pub fn purge(&mut self, now: Instant, addr: IpAddr) -> bool {
        let Some(prefix) = self.registration(addr).map(|e| e.prefix) else {
            return false;
        };
        if let Some(e) = self.cache.remove(&prefix, RemoveReason::Purged) {
            self.notify_purge(now, &e, false);
        }
        self.drain_cache();
        true
    }

    fn notify_purge(&mut self, now: Instant, e: &Entry, no_reply: bool) {
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
            let id = self.core.request_id();
            let req =
                Repr::purge_request(id, &self.core.me, e.next_hop, vec![cie.clone()], no_reply);
            if !no_reply {
                if self.purges.len() >= 256 {
                    self.purges.remove(0);
                }
                self.purges.push(id);
            }
            self.core.send(now, nbma, req);
        }
    }

    /// Phase 3 (`ip nhrp redirect`): the data path forwarded `inner` (an IP packet that came
    /// in from `from_nbma`) back out the same NBMA cloud. Sends the sender a Traffic Indication
    /// quoting it, at most once per source and destination pair per `redirect_interval`.
    /// Returns whether one was sent.
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
        let interval = self.config.redirect_interval;
        if self
            .redirects
            .get(&(src, dst))
            .is_some_and(|&t| now.saturating_duration_since(t) < interval)
        {
            return Ok(false);
        }
        if self.redirects.len() >= self.config.max_redirect_pairs {
            self.redirects
                .retain(|_, t| now.saturating_duration_since(*t) < interval);
            if self.redirects.len() >= self.config.max_redirect_pairs {
                self.core.stats.table_full = self.core.stats.table_full.saturating_add(1);
                return Ok(false);
            }
        }
        let ti = Repr::traffic_indication(inner, &self.core.me)?;
        self.redirects.insert((src, dst), now);
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
        let r = match &repr.message {
            Message::RegistrationRequest(_) => self.on_registration(now, from_nbma, &repr),
            Message::ResolutionRequest(_) => self.on_resolution(now, from_nbma, bytes, &repr),
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
        self.drain_cache();
        r.map_err(|e| self.core.drop_err(e))
    }

    fn on_registration(&mut self, now: Instant, from: IpAddr, req: &Repr) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        if req.dst_proto_addr.ip() != Some(self.config.common.protocol_addr) {
            return Err(Error::Unexpected {
                packet_type: PacketType::REGISTRATION_REQUEST,
                reason: "registration for another NHS",
            });
        }
        let src_proto = req.src_proto_addr.ip();
        let src_nbma = req.src_nbma_addr.addr.ip();
        let unique = body.flags.contains(Flags::REGISTRATION_U);
        let mut answers = Vec::with_capacity(body.cies.len());
        let mut nat_cie = None;
        for c in &body.cies {
            let mut answer = c.clone();
            let proto = c.client_proto_addr.ip().or(src_proto);
            let claimed = c.client_nbma_addr.addr.ip().or(src_nbma).unwrap_or(from);
            let Some(proto) = proto else {
                answer.code = CieCode::ADMINISTRATIVELY_PROHIBITED;
                answers.push(answer);
                continue;
            };
            let len = if c.prefix_len == 0 || c.client_proto_addr.is_empty() {
                max_len(proto)
            } else {
                c.prefix_len
            };
            let prefix = Prefix::new(proto, len);
            let nat_nbma = (from != claimed).then_some(from);
            let effective = nat_nbma.unwrap_or(claimed);
            answer.code = self.register_one(now, prefix, proto, claimed, nat_nbma, unique, c);
            if answer.code == CieCode::SUCCESS && nat_nbma.is_some() {
                nat_cie = Some(Cie {
                    prefix_len: max_len(proto),
                    client_nbma_addr: NbmaAddress::from(effective),
                    client_proto_addr: Address::from(proto),
                    ..Cie::default()
                });
            }
            answers.push(answer);
        }
        let Some(mut reply) = req.reply(&self.core.me, answers) else {
            return Ok(());
        };
        if let Some(cie) = nat_cie {
            match reply.extension_mut(ExtensionType::NAT_ADDRESS) {
                Some(ext) => ext.body = ExtensionBody::NatAddress(vec![cie]),
                None => reply
                    .extensions
                    .push(Extension::new(ExtensionBody::NatAddress(vec![cie]))),
            }
        }
        self.core.send(now, from, reply);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn register_one(
        &mut self,
        now: Instant,
        prefix: Prefix,
        proto: IpAddr,
        claimed: IpAddr,
        nat_nbma: Option<IpAddr>,
        unique: bool,
        c: &Cie,
    ) -> CieCode {
        let effective = nat_nbma.unwrap_or(claimed);
        let mut is_new = true;
        if let Some(old) = self.cache.get(&prefix) {
            if old.kind == EntryType::Static || old.kind == EntryType::Local {
                return CieCode::ADMINISTRATIVELY_PROHIBITED;
            }
            let old_effective = old.effective_nbma();
            if old.flags.contains(EntryFlags::UNIQUE)
                && old.expires.is_some_and(|t| t > now)
                && old_effective != Some(effective)
            {
                self.core.event(Event::RegistrationConflict {
                    protocol_addr: proto,
                    holder: old_effective.unwrap_or(claimed),
                    claimant: effective,
                });
                return CieCode::ALREADY_REGISTERED;
            }
            is_new = old_effective != Some(effective);
        }
        let mut e = Entry::new(now, prefix, proto, Some(claimed), EntryType::Dynamic);
        e.nat_nbma = nat_nbma;
        e.mtu = c.mtu;
        e.expires = Some(now + Duration::from_secs(u64::from(c.holding_time.max(1))));
        e.flags = EntryFlags::AUTHORITATIVE | EntryFlags::REGISTERED;
        if unique {
            e.flags |= EntryFlags::UNIQUE;
        }
        if nat_nbma.is_some() {
            e.flags |= EntryFlags::NAT;
        }
        if let Some(old) = self.cache.get(&prefix)
            && old.flags.contains(EntryFlags::USED)
        {
            e.flags |= EntryFlags::USED;
            e.last_used = old.last_used;
        }
        if self.cache.insert(now, e).is_err() {
            self.core.stats.table_full = self.core.stats.table_full.saturating_add(1);
            return CieCode::INSUFFICIENT_RESOURCES;
        }
        if is_new {
            self.core.event(Event::SpokeRegistered {
                protocol_addr: proto,
                nbma: effective,
                nat: nat_nbma.is_some(),
            });
        }
        CieCode::SUCCESS
    }

    /// The entry that answers for `dst`: a registration or static map covering it, or the
    /// registration of a route's next hop (with the route's prefix).
    fn owner(&self, dst: IpAddr) -> Option<(Entry, Prefix)> {
        if let Some(e) = self.cache.lookup(dst).filter(|e| e.is_complete()) {
            return Some((e.clone(), e.prefix));
        }
        let route = self
            .config
            .routes
            .iter()
            .filter(|r| r.prefix.contains(dst))
            .max_by_key(|r| r.prefix.len())?;
        let e = self
            .cache
            .lookup(route.next_hop)
            .filter(|e| e.is_complete())?;
        Some((e.clone(), route.prefix))
    }

    fn on_resolution(
        &mut self,
        now: Instant,
        from: IpAddr,
        bytes: &[u8],
        req: &Repr,
    ) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        let me = self.config.common.protocol_addr;
        let my_nbma = self.config.common.nbma_addr;
        let transit: &[Cie] = req
            .extension(ExtensionType::FORWARD_TRANSIT_NHS)
            .and_then(|e| e.cies())
            .unwrap_or(&[]);
        if transit.iter().any(|c| {
            c.client_proto_addr.ip() == Some(me) || c.client_nbma_addr.addr.ip() == Some(my_nbma)
        }) {
            self.core
                .error_indication(now, from, bytes, ErrorCode::LOOP_DETECTED, 0);
            return Err(Error::LoopDetected);
        }
        if req.hop_count == 0 {
            self.core
                .error_indication(now, from, bytes, ErrorCode::HOP_COUNT_EXCEEDED, 0);
            return Err(Error::HopCountExceeded);
        }
        let src_proto = req.src_proto_addr.ip();
        let requester_reg_nat = src_proto
            .and_then(|s| self.registration(s))
            .and_then(|e| e.nat_nbma);
        let requester_nbma = if transit.is_empty() {
            from
        } else {
            requester_reg_nat
                .or_else(|| req.src_nbma_addr.addr.ip())
                .unwrap_or(from)
        };
        let Some(dst) = req.dst_proto_addr.ip() else {
            return Err(Error::Unexpected {
                packet_type: PacketType::RESOLUTION_REQUEST,
                reason: "no destination protocol address",
            });
        };
        let own = if dst == me {
            let mut e = Entry::new(now, Prefix::host(me), me, Some(my_nbma), EntryType::Local);
            e.flags = EntryFlags::AUTHORITATIVE | EntryFlags::UNIQUE;
            Some((e, Prefix::host(me)))
        } else {
            None
        };
        match own.or_else(|| self.owner(dst)) {
            Some((owner, prefix)) => {
                if let Some(list) = self.requesters.get_mut(&owner.prefix) {
                    if !list.contains(&requester_nbma) {
                        if list.len() >= self.config.max_requesters {
                            list.remove(0);
                        }
                        list.push(requester_nbma);
                    }
                } else if self.config.max_requesters > 0
                    && owner.flags.contains(EntryFlags::REGISTERED)
                {
                    self.requesters.insert(owner.prefix, vec![requester_nbma]);
                }
                let forward = self.config.resolution == ResolutionMode::Forward
                    && owner.flags.contains(EntryFlags::REGISTERED)
                    && Some(owner.next_hop) != src_proto;
                if forward {
                    let to = owner.effective_nbma().unwrap_or(from);
                    self.forward(now, from, bytes, req, to, requester_reg_nat)
                } else {
                    self.answer(now, req, &owner, prefix, requester_nbma);
                    Ok(())
                }
            }
            None => match self.next_nhs_nbma {
                Some(to) => self.forward(now, from, bytes, req, to, requester_reg_nat),
                None => {
                    let cie = Cie {
                        code: CieCode::NO_BINDING_EXISTS,
                        prefix_len: max_len(dst),
                        mtu: body.cies.first().map_or(0, |c| c.mtu),
                        holding_time: self.config.holdtime,
                        ..Cie::default()
                    };
                    if let Some(reply) = req.reply(&self.core.me, vec![cie]) {
                        self.core.send(now, requester_nbma, reply);
                    }
                    Ok(())
                }
            },
        }
    }

    fn answer(&mut self, now: Instant, req: &Repr, owner: &Entry, prefix: Prefix, to: IpAddr) {
        let holding_time = match owner.expires {
            Some(t) => u16::try_from(t.saturating_duration_since(now).as_secs())
                .unwrap_or(u16::MAX)
                .max(1),
            None => self.config.holdtime,
        };
        let cie = Cie {
            code: CieCode::SUCCESS,
            prefix_len: prefix.len(),
            mtu: if owner.mtu == 0 {
                self.config.common.mtu
            } else {
                owner.mtu
            },
            holding_time,
            client_nbma_addr: owner.nbma.map(NbmaAddress::from).unwrap_or_default(),
            client_nbma_subaddr: NbmaAddress::EMPTY,
            client_proto_addr: Address::from(owner.next_hop),
            preference: 0,
        };
        let Some(mut reply) = req.reply(&self.core.me, vec![cie]) else {
            return;
        };
        if let Some(b) = reply.message.body_mut() {
            b.flags |= Flags::A | Flags::D;
            if owner.flags.contains(EntryFlags::UNIQUE) {
                b.flags |= Flags::RESOLUTION_U;
            }
        }
        let nat = owner.nat_nbma.map(|n| {
            vec![Cie {
                prefix_len: max_len(owner.next_hop),
                client_nbma_addr: NbmaAddress::from(n),
                client_proto_addr: Address::from(owner.next_hop),
                ..Cie::default()
            }]
        });
        match (reply.extension_mut(ExtensionType::NAT_ADDRESS), nat) {
            (Some(ext), nat) => ext.body = ExtensionBody::NatAddress(nat.unwrap_or_default()),
            (None, Some(nat)) => reply
                .extensions
                .push(Extension::new(ExtensionBody::NatAddress(nat))),
            (None, None) => {}
        }
        self.core.send(now, to, reply);
    }

    fn forward(
        &mut self,
        now: Instant,
        from: IpAddr,
        bytes: &[u8],
        req: &Repr,
        to: IpAddr,
        requester_nat: Option<IpAddr>,
    ) -> Result<(), Error> {
        if req.hop_count <= 1 {
            self.core
                .error_indication(now, from, bytes, ErrorCode::HOP_COUNT_EXCEEDED, 0);
            return Err(Error::HopCountExceeded);
        }
        let mut fwd = req.clone();
        fwd.hop_count = req.hop_count.saturating_sub(1);
        let me = Cie {
            prefix_len: max_len(self.config.common.protocol_addr),
            mtu: self.config.common.mtu,
            holding_time: self.config.holdtime,
            client_nbma_addr: NbmaAddress::from(self.config.common.nbma_addr),
            client_proto_addr: Address::from(self.config.common.protocol_addr),
            ..Cie::default()
        };
        match fwd.extension_mut(ExtensionType::FORWARD_TRANSIT_NHS) {
            Some(Extension {
                body: ExtensionBody::ForwardTransitNhs(c),
                ..
            }) => c.push(me),
            _ => {
                return Err(Error::Unexpected {
                    packet_type: PacketType::RESOLUTION_REQUEST,
                    reason: "no Forward Transit NHS Record extension to forward with",
                });
            }
        }
        if let (Some(nat), Some(src)) = (requester_nat, req.src_proto_addr.ip()) {
            let cie = Cie {
                prefix_len: max_len(src),
                client_nbma_addr: NbmaAddress::from(nat),
                client_proto_addr: Address::from(src),
                ..Cie::default()
            };
            match fwd.extension_mut(ExtensionType::NAT_ADDRESS) {
                Some(ext) => ext.body = ExtensionBody::NatAddress(vec![cie]),
                None => fwd
                    .extensions
                    .push(Extension::new(ExtensionBody::NatAddress(vec![cie]))),
            }
        }
        self.core.send(now, to, fwd);
        Ok(())
    }

    fn on_purge_request(&mut self, now: Instant, from: IpAddr, req: &Repr) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        let src_nbma = req.src_nbma_addr.addr.ip();
        for c in &body.cies {
            let Some(addr) = c.client_proto_addr.ip().or_else(|| req.src_proto_addr.ip()) else {
                continue;
            };
            let Some(e) = self.registration(addr).cloned() else {
                continue;
            };
            // Only the registrant may purge its registration.
            if e.effective_nbma() != Some(from) && e.nbma != src_nbma {
                continue;
            }
            if let Some(e) = self.cache.remove(&e.prefix, RemoveReason::Purged) {
                self.notify_purge(now, &e, false);
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

/// What changed, for callers that only care about registrations: `Some((protocol address,
/// added))` for a registration added or removed.
pub fn registration_change(e: &Event) -> Option<(IpAddr, bool)> {
    match e {
        Event::Cache(CacheEvent::Added(en)) if en.flags.contains(EntryFlags::REGISTERED) => {
            Some((en.next_hop, true))
        }
        Event::Cache(CacheEvent::Removed(en, _)) if en.flags.contains(EntryFlags::REGISTERED) => {
            Some((en.next_hop, false))
        }
        _ => None,
    }
}
