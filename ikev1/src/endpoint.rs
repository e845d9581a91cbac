//! The IKEv1 endpoint: every ISAKMP SA of one node, with the handle/poll contract of
//! ARCHITECTURE.md, "The machine shape".

use core::net::{IpAddr, SocketAddr};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

use dmvpn_wire::Transmit;

use crate::Error;
use crate::config::Config;
use crate::event::{Counters, DownReason, Event, IkeSaId, IsakmpSaStatus};
use crate::sa::{Cx, IKE_PORT, IsakmpSa, NAT_T_PORT, QmRequest};
use crate::wire::{
    ExchangeType, Header, HeaderRepr, IdPayload, Message, NotifyType, strip_non_esp_marker,
};

/// Every ISAKMP SA of one node: Main Mode and Quick Mode in both roles, Informational
/// exchanges (delete, DPD, INITIAL-CONTACT), NAT-T, retransmissions, lifetimes and rekeys.
///
/// The handle/poll contract:
///
/// - [`Endpoint::handle_datagram`]: a UDP payload arrived on port 500 or 4500 (on 4500 a NAT
///   keepalive is ignored and the non-ESP marker removed; ESP there belongs to the caller's
///   ESP path). Never panics, whatever the bytes; an `Err` is a datagram dropped and counted.
/// - [`Endpoint::handle_timeout`] at [`Endpoint::poll_timeout`] (a spurious call is a no-op).
/// - [`Endpoint::poll_transmit`], [`Endpoint::poll_event`]: bounded queues
///   ([`Config::max_transmits`], [`Config::max_events`]); drain them after every call.
/// - Commands: [`Endpoint::initiate`], [`Endpoint::create_child`], [`Endpoint::rekey_child`],
///   [`Endpoint::delete_child`], [`Endpoint::close`], [`Endpoint::close_all`],
///   [`Endpoint::check_liveness`], [`Endpoint::note_activity`], [`Endpoint::peer_moved`].
///
/// An Aggressive Mode request is refused ([`Counters::aggressive_refused`],
/// [`Event::Refused`]) and never answered. SAs are found by cookie (hash maps, lookups only);
/// everything that reports on every SA walks them in id order.
pub struct Endpoint {
    cfg: Config,
    sas: BTreeMap<IkeSaId, IsakmpSa>,
    /// Our cookie to SA (the initiator cookie of SAs we started, the responder cookie of the
    /// others); lookups only.
    by_cookie: HashMap<u64, IkeSaId>,
    /// Responder SAs by (initiator cookie, peer address): message 1 copies; lookups only.
    by_init: HashMap<(u64, IpAddr), IkeSaId>,
    timers: BTreeSet<(Instant, IkeSaId)>,
    deadlines: HashMap<IkeSaId, Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    counters: Counters,
    esp_spis: HashSet<u32>,
    next_id: u64,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("isakmp_sas", &self.sas.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

macro_rules! cx {
    ($s:ident) => {
        Cx {
            cfg: &$s.cfg,
            transmits: &mut $s.transmits,
            events: &mut $s.events,
            counters: &mut $s.counters,
            esp_spis: &mut $s.esp_spis,
        }
    };
}

impl Endpoint {
    /// An endpoint with no SAs; the configuration is checked first ([`Config::validate`]).
    pub fn new(cfg: Config) -> Result<Self, Error> {
        cfg.validate()?;
        Ok(Endpoint {
            cfg,
            sas: BTreeMap::new(),
            by_cookie: HashMap::new(),
            by_init: HashMap::new(),
            timers: BTreeSet::new(),
            deadlines: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            esp_spis: HashSet::new(),
            next_id: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// ISAKMP SAs (all states).
    pub fn isakmp_sa_count(&self) -> usize {
        self.sas.len()
    }

    /// ISAKMP SAs in negotiation.
    pub fn half_open(&self) -> usize {
        self.sas.values().filter(|s| s.is_half_open()).count()
    }

    fn fresh_id(&mut self) -> IkeSaId {
        self.next_id += 1;
        IkeSaId(self.next_id)
    }

    fn fresh_cookie(&self) -> Result<u64, Error> {
        for _ in 0..16 {
            let b = self
                .cfg
                .provider
                .random_bytes(8)
                .map_err(Error::KeyExchange)?;
            let c = b.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x));
            if c != 0 && !self.by_cookie.contains_key(&c) {
                return Ok(c);
            }
        }
        Err(Error::Dropped("no free cookie"))
    }

    fn admission(&mut self) -> Result<(), Error> {
        if self.half_open() >= self.cfg.max_half_open {
            self.counters.cac_rejected += 1;
            return Err(Error::AdmissionRefused(
                "too many ISAKMP SAs in negotiation",
            ));
        }
        if self.cfg.max_sas.is_some_and(|m| self.sas.len() >= m) {
            self.counters.cac_rejected += 1;
            return Err(Error::AdmissionRefused("the ISAKMP SA limit is reached"));
        }
        Ok(())
    }

    /// Starts Main Mode with `remote` from `local` (port 500), then a Quick Mode with `ids`
    /// (ours, the peer's; default: the two addresses). DMVPN's transport-mode IDs are GRE
    /// between the two addresses ([`IdPayload::gre_host`]).
    pub fn initiate(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ids: Option<(IdPayload, IdPayload)>,
    ) -> Result<IkeSaId, Error> {
        self.cfg
            .keys
            .lookup(remote.ip())
            .ok_or(Error::NoKey(remote.ip()))?;
        self.admission()?;
        let id = self.start_main_mode(now, local, remote, None)?;
        let ids = ids.unwrap_or_else(|| (IdPayload::ip(local.ip()), IdPayload::ip(remote.ip())));
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.pending.push(QmRequest {
                ids,
                rekey_of: None,
            });
        }
        Ok(id)
    }

    fn start_main_mode(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        replaces: Option<IkeSaId>,
    ) -> Result<IkeSaId, Error> {
        let cookie = self.fresh_cookie()?;
        let id = self.fresh_id();
        let mut sa = IsakmpSa::new(id, true, local, remote, now);
        sa.dpd_cfg = self.cfg.dpd;
        sa.replaces = replaces;
        sa.initial_contact = replaces.is_none()
            && !self
                .sas
                .values()
                .any(|s| s.remote.ip() == remote.ip() && !s.is_dead());
        let mut cx = cx!(self);
        sa.start_main_mode(now, &mut cx, cookie)?;
        self.by_cookie.insert(cookie, id);
        self.sas.insert(id, sa);
        self.refresh(id);
        Ok(id)
    }

    /// Another Quick Mode on an established ISAKMP SA.
    pub fn create_child(
        &mut self,
        now: Instant,
        sa: IkeSaId,
        ids: (IdPayload, IdPayload),
    ) -> Result<(), Error> {
        let s = self.sas.get_mut(&sa).ok_or(Error::UnknownSa)?;
        let mut cx = cx!(self);
        s.start_quick_mode(
            now,
            &mut cx,
            QmRequest {
                ids,
                rekey_of: None,
            },
        )?;
        self.refresh(sa);
        Ok(())
    }

    /// A UDP datagram arrived at `local` from `remote`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        payload: &[u8],
    ) -> Result<(), Error> {
        let r = self.datagram(now, local, remote, payload);
        if r.is_err() {
            self.counters.dropped += 1;
        }
        r
    }

    fn datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        payload: &[u8],
    ) -> Result<(), Error> {
        let raw = if local.port() == NAT_T_PORT {
            if payload == [0xff] {
                return Ok(());
            }
            strip_non_esp_marker(payload)
                .ok_or(Error::Dropped("ESP on port 4500 (the caller's ESP path)"))?
        } else {
            payload
        };
        let view = Header::new_checked(raw)?;
        let h = HeaderRepr::parse(&view)?;
        let raw = view.message();
        if h.cookie_r == 0 {
            return self.first_message(now, local, remote, raw, &h);
        }
        let id = self
            .by_cookie
            .get(&h.cookie_r)
            .copied()
            .filter(|id| {
                self.sas
                    .get(id)
                    .is_some_and(|s| !s.initiator && s.cookie_i == h.cookie_i)
            })
            .or_else(|| {
                self.by_cookie.get(&h.cookie_i).copied().filter(|id| {
                    self.sas.get(id).is_some_and(|s| {
                        s.initiator && (s.cookie_r == h.cookie_r || s.cookie_r == 0)
                    })
                })
            })
            .ok_or(Error::Dropped("no ISAKMP SA with these cookies"))?;
        let r = self.for_sa(now, id, local, remote, raw, &h);
        self.refresh(id);
        r
    }

    /// A message with no responder cookie: Main Mode message 1 (new, or a copy), a cleartext
    /// refusal of our message 1, or an Aggressive Mode request (refused).
    fn first_message(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        h: &HeaderRepr,
    ) -> Result<(), Error> {
        match h.exchange_type {
            ExchangeType::MAIN_MODE if h.message_id == 0 && !h.flags.encryption() => {}
            ExchangeType::AGGRESSIVE => {
                self.counters.aggressive_refused += 1;
                self.events.push_back(Event::Refused {
                    sa: None,
                    remote,
                    reason: NotifyType::INVALID_EXCHANGE_TYPE,
                });
                return Err(Error::AggressiveModeRefused);
            }
            ExchangeType::INFORMATIONAL => {
                let id = self
                    .by_cookie
                    .get(&h.cookie_i)
                    .copied()
                    .filter(|id| {
                        self.sas
                            .get(id)
                            .is_some_and(|s| s.initiator && s.cookie_r == 0)
                    })
                    .ok_or(Error::Dropped("an Informational for no SA"))?;
                let r = self.for_sa(now, id, local, remote, raw, h);
                self.refresh(id);
                return r;
            }
            _ => return Err(Error::Dropped("not a Main Mode message 1")),
        }
        if let Some(id) = self.by_init.get(&(h.cookie_i, remote.ip())).copied() {
            let r = self.for_sa(now, id, local, remote, raw, h);
            self.refresh(id);
            return r;
        }
        let msg = Message::parse(raw)?;
        self.admission()?;
        let cookie_r = self.fresh_cookie()?;
        let id = self.fresh_id();
        let mut sa = IsakmpSa::new(id, false, local, remote, now);
        sa.dpd_cfg = self.cfg.dpd;
        let mut cx = cx!(self);
        if let Err(e) = sa.answer_mm1(now, &mut cx, &msg, raw, cookie_r) {
            let reason = match &e {
                Error::NoKey(_) => NotifyType::AUTHENTICATION_FAILED,
                _ => NotifyType::NO_PROPOSAL_CHOSEN,
            };
            cx.event(Event::Refused {
                sa: None,
                remote,
                reason,
            });
            return Err(e);
        }
        self.by_cookie.insert(cookie_r, id);
        self.by_init.insert((h.cookie_i, remote.ip()), id);
        self.sas.insert(id, sa);
        self.refresh(id);
        Ok(())
    }

    fn for_sa(
        &mut self,
        now: Instant,
        id: IkeSaId,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        h: &HeaderRepr,
    ) -> Result<(), Error> {
        let Some(sa) = self.sas.get_mut(&id) else {
            return Err(Error::UnknownSa);
        };
        let mut cx = cx!(self);
        match h.exchange_type {
            ExchangeType::MAIN_MODE if h.message_id == 0 => {
                let out = sa.handle_main_mode(now, &mut cx, local, remote, raw, h)?;
                if out.established {
                    self.after_up(now, id);
                }
                Ok(())
            }
            ExchangeType::QUICK_MODE if h.flags.encryption() && sa.is_up() => {
                sa.handle_quick_mode(now, &mut cx, raw, h.message_id)?;
                self.follow(id, remote);
                Ok(())
            }
            ExchangeType::INFORMATIONAL => {
                let out =
                    sa.handle_informational(now, &mut cx, raw, h.message_id, h.flags.encryption())?;
                if h.flags.encryption() {
                    self.follow(id, remote);
                }
                if out.initial_contact {
                    self.initial_contact(now, id);
                }
                if let Some(reason) = out.down {
                    self.teardown(now, id, reason, false);
                }
                Ok(())
            }
            _ => Err(Error::Dropped("an exchange this endpoint does not run")),
        }
    }

    /// An authenticated message from a NATed peer at a new address: follow it.
    fn follow(&mut self, id: IkeSaId, remote: SocketAddr) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if sa.nat && sa.remote != remote && sa.is_up() {
            let from = sa.remote;
            sa.remote = remote;
            self.counters.peer_moves += 1;
            self.events.push_back(Event::PeerMoved {
                sa: id,
                from,
                to: remote,
            });
        }
    }

    /// Main Mode of `id` just finished: a replacement takes over its old SA's IPsec SAs,
    /// the peer's INITIAL-CONTACT retires stale SAs, queued Quick Modes start.
    fn after_up(&mut self, now: Instant, id: IkeSaId) {
        let (replaces, ic) = match self.sas.get(&id) {
            Some(s) => (s.replaces, s.peer_initial_contact),
            None => return,
        };
        if let Some(old) = replaces {
            self.move_children(old, id);
            self.teardown(now, old, DownReason::Replaced, true);
        }
        if ic {
            self.initial_contact(now, id);
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let pending = core::mem::take(&mut sa.pending);
        let mut cx = cx!(self);
        for req in pending {
            if sa.start_quick_mode(now, &mut cx, req).is_err() {
                cx.event(Event::ChildFailed {
                    sa: id,
                    error: NotifyType::NO_PROPOSAL_CHOSEN,
                });
            }
        }
    }

    /// INITIAL-CONTACT on `id`: the peer restarted, so its SAs established before `id` began
    /// are stale and go (without a Delete: the peer forgot them).
    fn initial_contact(&mut self, now: Instant, id: IkeSaId) {
        let Some(sa) = self.sas.get(&id) else { return };
        let (ip, created) = (sa.remote.ip(), sa.created);
        let stale: Vec<IkeSaId> = self
            .sas
            .values()
            .filter(|s| {
                s.id != id
                    && s.remote.ip() == ip
                    && s.is_up()
                    && s.established.is_some_and(|t| t < created)
            })
            .map(|s| s.id)
            .collect();
        for s in stale {
            self.teardown(now, s, DownReason::Replaced, false);
        }
    }

    fn move_children(&mut self, from: IkeSaId, to: IkeSaId) {
        let children = match self.sas.get_mut(&from) {
            Some(s) => core::mem::take(&mut s.children),
            None => return,
        };
        if let Some(t) = self.sas.get_mut(&to) {
            t.children.extend(children);
            self.events
                .push_back(Event::IsakmpReplaced { old: from, new: to });
        }
        self.refresh(to);
    }

    /// Ends an SA: its IPsec SAs move to another established SA with the peer when the
    /// peer is alive and there is one (IKEv1's IPsec SAs outlive their ISAKMP SA), or go;
    /// `send_delete` tells the peer.
    fn teardown(&mut self, _now: Instant, id: IkeSaId, reason: DownReason, send_delete: bool) {
        let Some(sa) = self.sas.get(&id) else { return };
        if sa.is_dead() {
            return;
        }
        let ip = sa.remote.ip();
        if sa.is_up() && !matches!(reason, DownReason::PeerDead) && !sa.children.is_empty() {
            let heir = self
                .sas
                .values()
                .filter(|s| s.id != id && s.is_up() && s.remote.ip() == ip)
                .map(|s| s.id)
                .next_back();
            if let Some(h) = heir {
                self.move_children(id, h);
            }
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let mut cx = cx!(self);
        if send_delete {
            sa.send_delete(&mut cx);
        }
        sa.kill(&mut cx);
        self.events.push_back(Event::IsakmpDown { sa: id, reason });
        self.refresh(id);
    }

    /// Updates the indexes of SA `id`, and removes it if it is dead.
    fn refresh(&mut self, id: IkeSaId) {
        if let Some(old) = self.deadlines.remove(&id) {
            self.timers.remove(&(old, id));
        }
        let Some(sa) = self.sas.get(&id) else { return };
        if sa.is_dead() {
            let (cookie, ci, ip, init) =
                (sa.our_cookie(), sa.cookie_i, sa.remote.ip(), sa.initiator);
            self.sas.remove(&id);
            if self.by_cookie.get(&cookie) == Some(&id) {
                self.by_cookie.remove(&cookie);
            }
            if !init && self.by_init.get(&(ci, ip)) == Some(&id) {
                self.by_init.remove(&(ci, ip));
            }
            return;
        }
        if let Some(d) = sa.deadline() {
            self.deadlines.insert(id, d);
            self.timers.insert((d, id));
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, id)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, id));
            self.deadlines.remove(&id);
            let Some(sa) = self.sas.get_mut(&id) else {
                continue;
            };
            let mut cx = cx!(self);
            let out = sa.on_timeout(now, &mut cx);
            if out.rekey {
                let (local, remote) = (sa.local, sa.remote);
                let base = SocketAddr::new(local.ip(), IKE_PORT);
                let peer =
                    SocketAddr::new(remote.ip(), if sa.nat { remote.port() } else { IKE_PORT });
                if let Ok(new) = self.start_main_mode(now, base, peer, Some(id))
                    && let Some(sa) = self.sas.get_mut(&id)
                {
                    sa.replaced_by = Some(new);
                }
            }
            if let Some(reason) = out.down {
                self.teardown(now, id, reason, matches!(reason, DownReason::Closed));
            }
            self.refresh(id);
        }
    }

    /// When to call [`Endpoint::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// The next datagram to send (UDP; on port 4500 with the non-ESP marker, or a one-byte
    /// NAT keepalive).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Rekeys an IPsec SA (by our inbound SPI) now: a new Quick Mode with its IDs; also what
    /// to do on the `esp` SA's `RekeyDue` (kilobyte lifetime).
    pub fn rekey_child(
        &mut self,
        now: Instant,
        sa: IkeSaId,
        inbound_spi: u32,
    ) -> Result<(), Error> {
        let s = self.sas.get_mut(&sa).ok_or(Error::UnknownSa)?;
        let mut cx = cx!(self);
        let r = s.rekey_child(now, &mut cx, inbound_spi);
        self.refresh(sa);
        r
    }

    /// Deletes an IPsec SA pair (by our inbound SPI), telling the peer.
    pub fn delete_child(
        &mut self,
        now: Instant,
        sa: IkeSaId,
        inbound_spi: u32,
    ) -> Result<(), Error> {
        let s = self.sas.get_mut(&sa).ok_or(Error::UnknownSa)?;
        if !s.children.iter().any(|c| c.spi_in == inbound_spi) {
            return Err(Error::UnknownChild(inbound_spi));
        }
        let mut cx = cx!(self);
        s.delete_children(now, &mut cx, &[inbound_spi]);
        self.refresh(sa);
        Ok(())
    }

    /// Closes an ISAKMP SA with its IPsec SAs: Deletes for the IPsec SAs, then for the
    /// ISAKMP SA.
    pub fn close(&mut self, now: Instant, sa: IkeSaId) -> Result<(), Error> {
        let s = self.sas.get_mut(&sa).ok_or(Error::UnknownSa)?;
        let spis: Vec<u32> = s.children.iter().map(|c| c.spi_in).collect();
        let mut cx = cx!(self);
        s.delete_children(now, &mut cx, &spis);
        self.teardown(now, sa, DownReason::Closed, true);
        Ok(())
    }

    /// Closes every ISAKMP SA (on shutdown).
    pub fn close_all(&mut self, now: Instant) {
        let ids: Vec<IkeSaId> = self.sas.keys().copied().collect();
        for id in ids {
            let _ = self.close(now, id);
        }
    }

    /// Checks now that the peer is alive (an R-U-THERE; the peer must have announced DPD).
    pub fn check_liveness(&mut self, now: Instant, sa: IkeSaId) -> Result<(), Error> {
        let s = self.sas.get_mut(&sa).ok_or(Error::UnknownSa)?;
        let mut cx = cx!(self);
        let r = s.check_liveness(now, &mut cx);
        self.refresh(sa);
        r
    }

    /// Traffic from the peer arrived (authenticated ESP): DPD on demand waits again.
    pub fn note_activity(&mut self, now: Instant, sa: IkeSaId) {
        if let Some(s) = self.sas.get_mut(&sa)
            && s.dpd.outstanding.is_none()
        {
            s.dpd.last_activity = Some(now);
            self.refresh(sa);
        }
    }

    /// Authenticated ESP in UDP of one of the SA's IPsec SAs came from `remote`: a NATed
    /// peer is followed ([`Event::PeerMoved`]). Only for ESP whose ICV verified.
    pub fn peer_moved(&mut self, sa: IkeSaId, remote: SocketAddr) -> Result<(), Error> {
        if !self.sas.contains_key(&sa) {
            return Err(Error::UnknownSa);
        }
        self.follow(sa, remote);
        Ok(())
    }

    /// The established ISAKMP SA with a peer address (the newest), if any.
    pub fn sa_for_peer(&self, remote: IpAddr) -> Option<IkeSaId> {
        self.sas
            .values()
            .filter(|s| s.is_up() && s.remote.ip() == remote)
            .map(|s| s.id)
            .next_back()
    }

    /// The inbound SPIs of an SA's IPsec SAs.
    pub fn child_spis(&self, sa: IkeSaId) -> Vec<u32> {
        self.sas
            .get(&sa)
            .map(|s| s.children.iter().map(|c| c.spi_in).collect())
            .unwrap_or_default()
    }

    /// A snapshot of every ISAKMP SA, in id order (`show crypto isakmp sa`).
    pub fn status(&self, now: Instant) -> Vec<IsakmpSaStatus> {
        self.sas.values().map(|s| status_of(s, now)).collect()
    }

    /// The status of one ISAKMP SA.
    pub fn sa_status(&self, now: Instant, sa: IkeSaId) -> Option<IsakmpSaStatus> {
        self.sas.get(&sa).map(|s| status_of(s, now))
    }
}

fn status_of(s: &IsakmpSa, now: Instant) -> IsakmpSaStatus {
    IsakmpSaStatus {
        sa: s.id,
        local: s.local,
        remote: s.remote,
        initiator: s.initiator,
        state: s.state(),
        cookie_i: s.cookie_i,
        cookie_r: s.cookie_r,
        suite: s.suite,
        remaining: s.remaining(now),
        nat: s.nat,
        dpd: s.dpd.peer_supports,
        children: s.children.iter().map(|c| c.spi_in).collect(),
    }
}
