//! The next-hop client (NHC): a spoke that registers with its NHSs and resolves other spokes.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::Error;
use crate::cache::{Cache, Entry, EntryFlags, EntryType, Prefix, RemoveReason, max_len};
use crate::machine::{Backoff, Common, Core, Event, Stats, Traffic, Transmit};
use crate::wire::{
    Address, Cie, CieCode, ExtensionBody, ExtensionType, Flags, Message, NbmaAddress, Node,
    PacketType, Repr,
};

/// `ip nhrp map PROTOCOL NBMA`: a static mapping (`prefix_len` 32 or 128 for a host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticMap {
    /// Protocol (overlay) address or prefix.
    pub protocol_addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// NBMA (underlay) address.
    pub nbma_addr: IpAddr,
}

impl StaticMap {
    /// The cache entry for this mapping: static and authoritative, created at `now`.
    pub fn entry(&self, now: Instant) -> Entry {
        let mut e = Entry::new(
            now,
            Prefix::new(self.protocol_addr, self.prefix_len),
            self.protocol_addr,
            Some(self.nbma_addr),
            EntryType::Static,
        );
        e.flags = EntryFlags::AUTHORITATIVE;
        e
    }
}

/// `ip nhrp nhs PROTOCOL [nbma NBMA]`: a next-hop server. Without `nbma_addr`, the NBMA address
/// comes from a static map of the same protocol address, as in IOS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nhs {
    /// The NHS's protocol (tunnel) address.
    pub protocol_addr: IpAddr,
    /// Its NBMA address, if not given by a static map.
    pub nbma_addr: Option<IpAddr>,
}

/// Configuration of a [`Client`], with the IOS interface commands it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Addresses, authentication, `max-send`, network-id and queue bounds.
    pub common: Common,
    /// `ip nhrp nhs`: one or more servers (two for a dual hub).
    pub nhs: Vec<Nhs>,
    /// `ip nhrp map`: static mappings (installed as static, authoritative cache entries).
    pub map: Vec<StaticMap>,
    /// Networks behind this node that it answers Resolution Requests for (its own protocol
    /// address is always answered); DMVPN phase 3 shortcuts point at them.
    pub local_prefixes: Vec<Prefix>,
    /// `ip nhrp holdtime`: the holding time, in seconds, in this node's registrations and
    /// resolution answers (IOS default 7200; the design guides recommend 300–600).
    pub holdtime: u16,
    /// `ip nhrp registration timeout`: the registration interval (default: holdtime/3).
    pub registration_timeout: Option<Duration>,
    /// Retransmission of unanswered registrations (default 1 s doubling to 64 s).
    pub registration_backoff: Backoff,
    /// Unanswered registrations after which an NHS is declared down (default 3).
    pub nhs_down_after: u32,
    /// Register with the unique flag (`ip nhrp registration no-unique` clears it).
    pub unique: bool,
    /// Retransmission of unanswered resolutions.
    pub resolution_backoff: Backoff,
    /// Resolution Requests sent for one resolution before giving up (default 5).
    pub resolution_attempts: u32,
    /// An entry used this long before it expires is refreshed (default 60 s).
    pub refresh_window: Duration,
    /// Holding time of a negative entry when the reply carries none (default 10 s).
    pub negative_holding_time: Duration,
    /// Most cache entries (default 65536).
    pub max_cache: usize,
    /// Most resolutions in progress (default 256).
    pub max_pending: usize,
}

impl ClientConfig {
    /// Defaults for a spoke with these addresses and no NHS.
    pub fn new(nbma_addr: IpAddr, protocol_addr: IpAddr) -> ClientConfig {
        ClientConfig {
            common: Common::new(nbma_addr, protocol_addr),
            nhs: Vec::new(),
            map: Vec::new(),
            local_prefixes: Vec::new(),
            holdtime: 7200,
            registration_timeout: None,
            registration_backoff: Backoff::default(),
            nhs_down_after: 3,
            unique: true,
            resolution_backoff: Backoff::default(),
            resolution_attempts: 5,
            refresh_window: Duration::from_secs(60),
            negative_holding_time: Duration::from_secs(10),
            max_cache: 65536,
            max_pending: 256,
        }
    }

    /// Adds an NHS with its NBMA address (`ip nhrp nhs P nbma N` / `ip nhrp map P N`).
    pub fn with_nhs(mut self, protocol_addr: IpAddr, nbma_addr: IpAddr) -> ClientConfig {
        self.nhs.push(Nhs {
            protocol_addr,
            nbma_addr: Some(nbma_addr),
        });
        self.map.push(StaticMap {
            protocol_addr,
            prefix_len: max_len(protocol_addr),
            nbma_addr,
        });
        self
    }

    /// The registration interval: `registration_timeout`, or holdtime/3.
    pub fn registration_interval(&self) -> Duration {
        self.registration_timeout
            .unwrap_or(Duration::from_secs(u64::from(self.holdtime) / 3))
    }

    /// Checks the configuration, reporting every problem.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        self.common.validate(&mut problems);
        if self.holdtime == 0 {
            problems.push("holdtime must be at least 1 second".into());
        }
        if self.registration_interval().is_zero() {
            problems.push("registration interval (holdtime/3) must not be zero".into());
        }
        if self.nhs_down_after == 0 {
            problems.push("nhs_down_after must be at least 1".into());
        }
        if self.resolution_attempts == 0 {
            problems.push("resolution_attempts must be at least 1".into());
        }
        if self.max_cache == 0 || self.max_pending == 0 {
            problems.push("max_cache and max_pending must be at least 1".into());
        }
        for b in [&self.registration_backoff, &self.resolution_backoff] {
            if b.initial.is_zero() || b.max < b.initial {
                problems.push("backoff: initial must be non-zero and at most max".into());
            }
        }
        let me = self.common.protocol_addr;
        for n in &self.nhs {
            if n.nbma_addr.is_none() && !self.map.iter().any(|m| m.protocol_addr == n.protocol_addr)
            {
                problems.push(format!(
                    "nhs {}: no NBMA address (give one or add `ip nhrp map`)",
                    n.protocol_addr
                ));
            }
            if n.protocol_addr == me {
                problems.push(format!(
                    "nhs {}: is this node's own address",
                    n.protocol_addr
                ));
            }
            if n.protocol_addr.is_ipv4() != me.is_ipv4() {
                problems.push(format!(
                    "nhs {}: address family differs from the tunnel address",
                    n.protocol_addr
                ));
            }
        }
        for m in &self.map {
            if m.prefix_len > max_len(m.protocol_addr) {
                problems.push(format!(
                    "map {}/{}: prefix length too long",
                    m.protocol_addr, m.prefix_len
                ));
            }
        }
        if self.map.len().saturating_add(self.local_prefixes.len()) > self.max_cache {
            problems.push("more static maps and local prefixes than max_cache".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig { problems })
        }
    }
}

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

#[derive(Debug, Clone)]
struct NhsState {
    proto: IpAddr,
    nbma: IpAddr,
    up: bool,
    down_reported: bool,
    outstanding: Option<u32>,
    next: Option<Instant>,
    interval: Duration,
    misses: u32,
}

#[derive(Debug, Clone)]
struct Pending {
    target: IpAddr,
    request_id: u32,
    attempts: u32,
    next: Instant,
    interval: Duration,
    shortcut: bool,
    refresh: bool,
}

/// What [`Client::resolve`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A complete mapping exists: send to this NBMA address.
    Cached(IpAddr),
    /// A Resolution Request is outstanding (possibly sent by this call).
    Pending,
    /// A negative entry says no binding exists.
    Negative,
}

/// The NHRP client (NHC) of a spoke: registers with its NHSs (RFC 2332 §5.2.3), resolves
/// protocol addresses (§5.2.1), answers forwarded Resolution Requests for its own addresses
/// (§5.2.2), handles Purge Requests (§5.2.5), Error Indications (§5.2.7) and Cisco Traffic
/// Indications, and keeps the [`Cache`].
///
/// Sans-IO, with the handle/poll contract of the crate docs: feed it [`Client::handle_packet`]
/// and [`Client::handle_timeout`], drain [`Client::poll_transmit`] and [`Client::poll_event`],
/// and call `handle_timeout` at [`Client::poll_timeout`]. It never panics.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    core: Core,
    cache: Cache,
    nhs: Vec<NhsState>,
    all_down_reported: bool,
    pending: Vec<Pending>,
    purges: Vec<u32>,
    public_nbma: Option<IpAddr>,
}

impl Client {
    /// A client; fails with [`Error::InvalidConfig`] listing every problem.
    pub fn new(now: Instant, config: ClientConfig) -> Result<Client, Error> {
        config.validate()?;
        let mut cache = Cache::new(config.max_cache, config.common.max_events);
        for m in &config.map {
            cache.insert(now, m.entry(now))?;
        }
        for p in &config.local_prefixes {
            let mut e = Entry::new(
                now,
                *p,
                config.common.protocol_addr,
                Some(config.common.nbma_addr),
                EntryType::Local,
            );
            e.flags = EntryFlags::AUTHORITATIVE;
            cache.insert(now, e)?;
        }
        while cache.poll_event().is_some() {}
        let nhs = config
            .nhs
            .iter()
            .filter_map(|n| {
                let nbma = n.nbma_addr.or_else(|| {
                    config
                        .map
                        .iter()
                        .find(|m| m.protocol_addr == n.protocol_addr)
                        .map(|m| m.nbma_addr)
                })?;
                Some(NhsState {
                    proto: n.protocol_addr,
                    nbma,
                    up: false,
                    down_reported: false,
                    outstanding: None,
                    next: None,
                    interval: config.registration_backoff.initial,
                    misses: 0,
                })
            })
            .collect();
        Ok(Client {
            core: Core::new(config.common.clone()),
            config,
            cache,
            nhs,
            all_down_reported: false,
            pending: Vec::new(),
            purges: Vec::new(),
            public_nbma: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The cache (`show ip nhrp`: `client.cache().show(now, "Tunnel0")`).
    pub fn cache(&self) -> &Cache {
        &self.cache
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

    /// Resolutions in progress.
    pub fn pending_resolutions(&self) -> usize {
        self.pending.len()
    }

    /// Transmits, events and quota-held packets queued.
    pub fn queued(&self) -> (usize, usize, usize) {
        self.core.queued()
    }

    /// This node's NBMA address as its NHS sees it, when NAT was detected.
    pub fn public_nbma(&self) -> Option<IpAddr> {
        self.public_nbma
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

    /// When to call [`Client::handle_timeout`]: the earliest deadline (registration,
    /// retransmission, expiry, quota release).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let nhs = self.nhs.iter().filter_map(|n| n.next).min();
        let pending = self.pending.iter().map(|p| p.next).min();
        [
            nhs,
            pending,
            self.cache.next_expiry(),
            self.core.release_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn drain_cache(&mut self) {
        while let Some(e) = self.cache.poll_event() {
            self.core.event(Event::Cache(e));
        }
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

    fn send_registration(&mut self, now: Instant, i: usize) {
        let Some(n) = self.nhs.get(i) else { return };
        let (proto, nbma) = (n.proto, n.nbma);
        let id = match n.outstanding {
            Some(id) => id,
            None => self.core.request_id(),
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

    fn first_nhs(&self) -> Option<(IpAddr, IpAddr)> {
        self.nhs
            .iter()
            .find(|n| n.up)
            .or_else(|| self.nhs.first())
            .map(|n| (n.proto, n.nbma))
    }

    /// Resolves `addr` (the next hop of a packet with no mapping, seed 003 step 2): returns the
    /// mapping if the cache has one, else sends a Resolution Request to an NHS, installs an
    /// incomplete entry and retransmits with back-off until a reply comes or it gives up
    /// ([`Event::ResolutionFailed`]).
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
        self.start_resolution(now, addr, false, false)?;
        Ok(Resolution::Pending)
    }

    fn start_resolution(
        &mut self,
        now: Instant,
        target: IpAddr,
        shortcut: bool,
        refresh: bool,
    ) -> Result<(), Error> {
        if let Some(p) = self.pending.iter_mut().find(|p| p.target == target) {
            p.shortcut |= shortcut;
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
        let id = self.core.request_id();
        self.pending.push(Pending {
            target,
            request_id: id,
            attempts: 0,
            next: now,
            interval: self.config.resolution_backoff.initial,
            shortcut,
            refresh,
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
        let Some((_, nbma)) = nhs else {
            return;
        };
        let req = Repr::resolution_request(
            p.request_id,
            &self.core.me,
            p.target,
            self.config.holdtime,
            self.config.common.mtu,
        );
        self.core.send(now, nbma, req);
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

    /// Removes the mapping for `addr` (`clear ip nhrp`) and, when it was a dynamic mapping to
    /// a peer, sends that peer a Purge Request for this node's own binding so that it forgets
    /// this node too (RFC 2332 §5.2.5). Returns whether an entry was removed.
    pub fn purge(&mut self, now: Instant, addr: IpAddr) -> bool {
        let Some(prefix) = self.cache.lookup(addr).map(|e| e.prefix) else {
            return false;
        };
        let Some(e) = self.cache.remove(&prefix, RemoveReason::Purged) else {
            return false;
        };
        self.pending.retain(|p| !prefix.contains(p.target));
        if e.kind == EntryType::Dynamic
            && let Some(nbma) = e.effective_nbma()
        {
            self.send_purge(now, nbma, e.next_hop, false);
        }
        true
    }

    fn own_cie(&self) -> Cie {
        Cie {
            code: CieCode::SUCCESS,
            prefix_len: max_len(self.config.common.protocol_addr),
            mtu: self.config.common.mtu,
            holding_time: self.config.holdtime,
            client_nbma_addr: NbmaAddress::from(self.config.common.nbma_addr),
            client_nbma_subaddr: NbmaAddress::EMPTY,
            client_proto_addr: Address::from(self.config.common.protocol_addr),
            preference: 0,
        }
    }

    fn send_purge(&mut self, now: Instant, nbma: IpAddr, dst_proto: IpAddr, no_reply: bool) {
        let id = self.core.request_id();
        let req = Repr::purge_request(id, &self.core.me, dst_proto, vec![self.own_cie()], no_reply);
        if !no_reply {
            if self.purges.len() >= self.config.max_pending {
                self.purges.remove(0);
            }
            self.purges.push(id);
        }
        self.core.send(now, nbma, req);
    }

    /// Graceful shutdown: purges this node's registration from every NHS (Purge Request for
    /// its own binding) and stops registering. [`Client::register`] starts again.
    pub fn shutdown(&mut self, now: Instant) {
        let targets: Vec<(IpAddr, IpAddr)> = self.nhs.iter().map(|n| (n.nbma, n.proto)).collect();
        for (nbma, proto) in targets {
            self.send_purge(now, nbma, proto, false);
        }
        for n in &mut self.nhs {
            n.next = None;
            n.outstanding = None;
            n.up = false;
        }
        self.pending.clear();
    }

    /// Fires every due timer: registrations and their retransmissions (NHS down after the
    /// configured misses), resolution retransmissions and give-ups, expiry, quota release. A
    /// call before anything is due does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.release(now);
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
        let mut i = 0;
        while i < self.pending.len() {
            let Some(p) = self.pending.get(i) else { break };
            if p.next > now {
                i += 1;
                continue;
            }
            if p.attempts >= self.config.resolution_attempts {
                let p = self.pending.remove(i);
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
                continue;
            }
            if let Some(p) = self.pending.get_mut(i) {
                p.interval = self.config.resolution_backoff.next(p.interval);
            }
            self.send_resolution(now, i);
            i += 1;
        }
        self.cache.expire(now);
        self.drain_cache();
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
            Message::RegistrationReply(_) => self.on_registration_reply(now, &repr),
            Message::ResolutionReply(_) => self.on_resolution_reply(now, from_nbma, &repr),
            Message::ResolutionRequest(_) => self.on_resolution_request(now, from_nbma, &repr),
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
            Message::TrafficIndication(t) => match dmvpn_wire::ip::destination(&t.packet) {
                Some(dst) => self.on_traffic_indication(now, dst),
                None => Err(Error::NotAnIpPacket {
                    reason: "Traffic Indication quotes no IP packet",
                }),
            },
            Message::ErrorIndication(ei) => {
                self.core.event(Event::ErrorIndication {
                    from: from_nbma,
                    code: ei.code,
                });
                if let Ok(q) = ei.quoted()
                    && q.packet_type() == PacketType::RESOLUTION_REQUEST
                    && let Some(i) = self
                        .pending
                        .iter()
                        .position(|p| p.request_id == q.request_id())
                {
                    let p = self.pending.remove(i);
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
                Ok(())
            }
            Message::RegistrationRequest(_) | Message::Unknown(_) => Err(Error::Unexpected {
                packet_type: repr.packet_type(),
                reason: "a client does not accept this packet type",
            }),
        };
        self.drain_cache();
        r.map_err(|e| self.core.drop_err(e))
    }

    fn on_registration_reply(&mut self, now: Instant, repr: &Repr) -> Result<(), Error> {
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

    fn on_resolution_reply(
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
        let p = self.pending.remove(i);
        let host = Prefix::host(target);
        if cie.code != CieCode::SUCCESS {
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
        let mut nat_nbma = repr
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
        let responder = repr
            .extension(ExtensionType::RESPONDER_ADDRESS)
            .and_then(|e| e.cies())
            .and_then(|c| c.first())
            .and_then(|c| c.client_proto_addr.ip());
        if nat_nbma.is_none() && responder == Some(next_hop) && from != nbma {
            nat_nbma = Some(from);
        }
        if prefix != host
            && self
                .cache
                .get(&host)
                .is_some_and(|e| e.kind == EntryType::Incomplete)
        {
            self.cache.remove(&host, RemoveReason::Removed);
        }
        let old = self.cache.get(&prefix).cloned();
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
        if let Some(old) = old.filter(|o| o.kind == EntryType::Dynamic) {
            e.last_used = old.last_used;
            if old.flags.contains(EntryFlags::USED) {
                e.flags |= EntryFlags::USED;
            }
        }
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

    /// The prefix of this node's that covers `addr`: its own address or a local prefix.
    fn owned_prefix(&self, addr: IpAddr) -> Option<Prefix> {
        if addr == self.config.common.protocol_addr {
            return Some(Prefix::host(addr));
        }
        self.config
            .local_prefixes
            .iter()
            .filter(|p| p.contains(addr))
            .max_by_key(|p| p.len())
            .copied()
    }

    fn on_resolution_request(
        &mut self,
        now: Instant,
        from: IpAddr,
        req: &Repr,
    ) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        let target = req.dst_proto_addr.ip();
        let Some(prefix) = target.and_then(|t| self.owned_prefix(t)) else {
            return Err(Error::Unexpected {
                packet_type: PacketType::RESOLUTION_REQUEST,
                reason: "resolution for an address this client does not own",
            });
        };
        let src_proto = req.src_proto_addr.ip();
        let forwarded = req
            .extension(ExtensionType::FORWARD_TRANSIT_NHS)
            .and_then(|e| e.cies())
            .is_some_and(|c| !c.is_empty());
        let requester_nat = req
            .extension(ExtensionType::NAT_ADDRESS)
            .and_then(|e| e.cies())
            .and_then(|cies| {
                cies.iter().find_map(|c| {
                    (c.client_proto_addr.ip() == src_proto && src_proto.is_some())
                        .then(|| c.client_nbma_addr.addr.ip())
                        .flatten()
                })
            });
        let claimed = req.src_nbma_addr.addr.ip();
        let reply_to = if forwarded {
            requester_nat.or(claimed).unwrap_or(from)
        } else {
            from
        };
        let answer = Cie {
            prefix_len: prefix.len(),
            ..self.own_cie()
        };
        let Some(mut reply) = req.reply(&self.core.me, vec![answer]) else {
            return Ok(());
        };
        if let Some(b) = reply.message.body_mut() {
            b.flags |= Flags::D;
            if self.config.unique {
                b.flags |= Flags::RESOLUTION_U;
            }
        }
        if let Some(ext) = reply.extension_mut(ExtensionType::NAT_ADDRESS) {
            let mine = self.public_nbma.map(|public| {
                vec![Cie {
                    client_nbma_addr: NbmaAddress::from(public),
                    ..self.own_cie()
                }]
            });
            ext.body = ExtensionBody::NatAddress(mine.unwrap_or_default());
        }
        self.core.send(now, reply_to, reply);
        // Install the requester's binding (S: the source binding is stable).
        if body.flags.contains(Flags::S)
            && let (Some(src), Some(nbma)) = (src_proto, claimed)
        {
            let key = Prefix::host(src);
            let existing = self.cache.get(&key);
            if existing.is_none_or(|e| {
                matches!(
                    e.kind,
                    EntryType::Dynamic | EntryType::Incomplete | EntryType::Negative
                )
            }) {
                let hold = body
                    .cies
                    .first()
                    .map_or(self.config.holdtime, |c| c.holding_time);
                let mut e = Entry::new(now, key, src, Some(nbma), EntryType::Dynamic);
                e.expires = Some(now + Duration::from_secs(u64::from(hold.max(1))));
                if reply_to != nbma {
                    e.nat_nbma = Some(reply_to);
                    e.flags |= EntryFlags::NAT;
                }
                if body.flags.contains(Flags::Q) {
                    e.flags |= EntryFlags::ROUTER;
                }
                if let Some(old) = existing.filter(|o| o.kind == EntryType::Dynamic) {
                    e.last_used = old.last_used;
                    if old.flags.contains(EntryFlags::USED) {
                        e.flags |= EntryFlags::USED;
                    }
                }
                if let Err(err) = self.cache.insert(now, e) {
                    self.core.drop_err(err);
                }
            }
        }
        Ok(())
    }

    fn on_purge_request(&mut self, now: Instant, from: IpAddr, req: &Repr) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        for c in &body.cies {
            let Some(addr) = c.client_proto_addr.ip() else {
                continue;
            };
            let len = if c.prefix_len == 0 {
                max_len(addr)
            } else {
                c.prefix_len
            };
            let purged = Prefix::new(addr, len);
            let victims: Vec<Prefix> = self
                .cache
                .iter()
                .filter(|e| {
                    matches!(
                        e.kind,
                        EntryType::Dynamic | EntryType::Negative | EntryType::Incomplete
                    ) && (e.prefix == purged || e.next_hop == addr)
                })
                .map(|e| e.prefix)
                .collect();
            for v in victims {
                self.cache.remove(&v, RemoveReason::Purged);
                self.pending.retain(|p| !v.contains(p.target));
            }
        }
        if !body.flags.contains(Flags::N)
            && let Some(reply) = req.reply(&self.core.me, body.cies.clone())
        {
            self.core.send(now, from, reply);
        }
        Ok(())
    }

    fn on_traffic_indication(&mut self, now: Instant, dst: IpAddr) -> Result<(), Error> {
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
