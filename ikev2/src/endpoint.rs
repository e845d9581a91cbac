//! The IKEv2 endpoint: every IKE SA of one node, with the handle/poll contract of ARCHITECTURE.md, "The machine shape".

use core::net::{IpAddr, SocketAddr};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dmvpn_esp::wire::udp_encap::{NAT_T_PORT, UdpPayload};

use crate::config::Config;
use crate::crypto::Prf;
use crate::event::{Counters, Event, IkeSaId, IkeSaStatus};
use crate::ike::{Cx, IkeSa, State, init_notify_response};
use crate::queue::Bounded;
use crate::wire::{
    ExchangeType, Flags, HEADER_LEN, Header, HeaderRepr, Message, NotifyType, Payload,
    TrafficSelector, be64,
};
use crate::{Error, Transmit};

/// One IKE SA with what the endpoint's indexes hold for it, so that updating them after the
/// SA changed touches only its own entries.
struct Slot {
    sa: IkeSa,
    /// Its entry in [`Endpoint::timers`].
    deadline: Option<Instant>,
    /// Whether it is counted in [`Endpoint::half_open`].
    half_open: bool,
    /// The peer address it is counted under in [`Endpoint::half_open_by_addr`] (a half-open
    /// responder SA).
    half_open_from: Option<IpAddr>,
    /// Its key in [`Endpoint::by_init`] (a responder SA).
    init_key: Option<(u64, IpAddr)>,
}

/// The SA table: every IKE SA in id order, with a count of the entries looked at (lookups,
/// insertions, removals, iteration steps) so that tests can check that the work per datagram
/// does not grow with the number of SAs ([`Endpoint::sa_table_visits`]).
#[derive(Default)]
struct SaTable {
    /// Boxed: an IKE SA is large, and a B-tree node holds eleven entries that it moves when
    /// it grows or splits.
    map: BTreeMap<IkeSaId, Box<Slot>>,
    visits: AtomicU64,
}

impl SaTable {
    fn visit(&self, n: u64) {
        self.visits.fetch_add(n, Ordering::Relaxed);
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn get(&self, id: IkeSaId) -> Option<&Slot> {
        self.visit(1);
        self.map.get(&id).map(|s| &**s)
    }

    fn get_mut(&mut self, id: IkeSaId) -> Option<&mut Slot> {
        self.visit(1);
        self.map.get_mut(&id).map(|s| &mut **s)
    }

    fn insert(&mut self, slot: Box<Slot>) {
        self.visit(1);
        self.map.insert(slot.sa.id, slot);
    }

    fn remove(&mut self, id: IkeSaId) -> Option<Box<Slot>> {
        self.visit(1);
        self.map.remove(&id)
    }

    /// Every SA in id order (each step counted).
    fn iter(&self) -> impl Iterator<Item = &IkeSa> {
        self.map.values().map(|s| {
            self.visit(1);
            &s.sa
        })
    }
}

/// Every IKE SA of one node: initiator and responder state machines (RFC 7296), cookies
/// (§2.6), Call Admission Control, NAT traversal (§2.23).
///
/// The handle/poll contract (ARCHITECTURE.md, "The machine shape"):
///
/// - [`Endpoint::handle_datagram`]: a UDP payload arrived on port 500 or 4500 (on 4500 it may
///   be a keepalive or IKE after the non-ESP marker; ESP packets are the caller's, see
///   [`dmvpn_esp::wire::udp_encap::UdpPayload::classify`]). It never panics, whatever the bytes.
/// - [`Endpoint::handle_timeout`]: at (or after) [`Endpoint::poll_timeout`]; a spurious call is
///   a no-op.
/// - [`Endpoint::poll_transmit`]: datagrams to send ([`Transmit`], UDP).
/// - [`Endpoint::poll_event`]: what happened ([`Event`]: SAs up, rekeyed, deleted, dead peers).
///
/// Both queues are bounded ([`Config::max_transmits`], [`Config::max_events`]): drain them
/// after every call; what does not fit is dropped and counted ([`Counters::transmits_dropped`],
/// [`Counters::events_dropped`]).
/// - Commands: [`Endpoint::initiate`], [`Endpoint::create_child`], [`Endpoint::rekey_child`],
///   [`Endpoint::rekey_ike`], [`Endpoint::delete_child`], [`Endpoint::close`],
///   [`Endpoint::check_liveness`].
///
/// `now` must be monotonic; retransmissions, lifetimes and liveness checks all run on it.
///
/// The cost of a datagram, a timeout or `poll_timeout` does not depend on how many SAs there
/// are: SAs are found through indexes (our SPI; initiator SPI and peer address for
/// IKE_SA_INIT copies; deadlines), half-open SAs are counted as they change, and only the SAs
/// a call touched are re-indexed. Commands that report on every SA ([`Endpoint::status`],
/// [`Endpoint::close_all`], [`Endpoint::sa_for_peer`]) walk them.
pub struct Endpoint {
    cfg: Config,
    /// Every IKE SA, in id order: everything that walks SAs (status, `close_all`) does so in
    /// this deterministic order.
    sas: SaTable,
    /// Our IKE SPI to SA; lookups only (never iterated).
    by_spi: HashMap<u64, IkeSaId>,
    /// Responder SAs by (initiator SPI, peer address), to spot copies of an IKE_SA_INIT
    /// request (retransmitted, or resent from other ports); lookups only.
    by_init: HashMap<(u64, IpAddr), IkeSaId>,
    /// Each SA's next deadline, earliest first: `poll_timeout` reads the first entry,
    /// `handle_timeout` takes the due ones.
    timers: BTreeSet<(Instant, IkeSaId)>,
    /// IKE SAs in negotiation (initiator and responder).
    half_open: usize,
    /// Half-open responder SAs by peer address; lookups only.
    half_open_by_addr: HashMap<IpAddr, usize>,
    transmits: Bounded<Transmit>,
    events: Bounded<Event>,
    counters: Counters,
    /// Inbound ESP SPIs in use; membership only (never iterated).
    esp_spis: HashSet<u32>,
    next_id: u64,
    /// The cookie PRF (§2.6), keyed once with a secret from the provider's random source.
    cookie_prf: Prf,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("local_id", &self.cfg.local_id)
            .field("ike_sas", &self.sas.len())
            .field("half_open", &self.half_open)
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
            next_id: &mut $s.next_id,
            new_sas: Vec::new(),
        }
    };
}

impl Endpoint {
    /// An endpoint with no SAs. The cookie secret (§2.6) comes from the provider's random
    /// source.
    pub fn new(cfg: Config) -> Result<Self, Error> {
        cfg.validate()?;
        let secret = crate::Secret::new(cfg.provider.random_bytes(32)?);
        let cookie_prf = cfg
            .provider
            .prf(crate::transform::PrfId::HMAC_SHA2_256, secret.as_bytes())?;
        let (max_transmits, max_events) = (cfg.max_transmits, cfg.max_events);
        Ok(Endpoint {
            cfg,
            sas: SaTable::default(),
            by_spi: HashMap::new(),
            by_init: HashMap::new(),
            timers: BTreeSet::new(),
            half_open: 0,
            half_open_by_addr: HashMap::new(),
            transmits: Bounded::new(max_transmits),
            events: Bounded::new(max_events),
            counters: Counters::default(),
            esp_spis: HashSet::new(),
            next_id: 0,
            cookie_prf,
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

    /// IKE SAs in negotiation (half-open).
    pub fn half_open(&self) -> usize {
        self.half_open
    }

    /// IKE SAs (all states).
    pub fn ike_sa_count(&self) -> usize {
        self.sas.len()
    }

    /// How many SA-table entries this endpoint has looked at so far: lookups, insertions,
    /// removals and every step of a walk over the SAs. A diagnostic, not a counter of
    /// traffic: the difference over one datagram shows that receiving does not walk the SAs
    /// (it stays the same however many SAs there are; `ikev2/tests/flood.rs` checks it).
    pub fn sa_table_visits(&self) -> u64 {
        self.sas.visits.load(Ordering::Relaxed)
    }

    /// A snapshot of every IKE SA, like `show crypto ikev2 sa detailed`.
    pub fn status(&self, now: Instant) -> Vec<IkeSaStatus> {
        self.sas.iter().map(|s| s.status(now)).collect()
    }

    /// The status of one IKE SA.
    pub fn sa_status(&self, now: Instant, sa: IkeSaId) -> Option<IkeSaStatus> {
        self.sas.get(sa).map(|s| s.sa.status(now))
    }

    /// Inbound SPIs of an IKE SA's child SAs.
    pub fn child_spis(&self, sa: IkeSaId) -> Vec<u32> {
        self.sas
            .get(sa)
            .map(|s| s.sa.child_spis())
            .unwrap_or_default()
    }

    /// The established IKE SA with a peer address, if any.
    pub fn sa_for_peer(&self, remote: IpAddr) -> Option<IkeSaId> {
        self.sas
            .iter()
            .find(|s| s.remote.ip() == remote && s.state == State::Established)
            .map(|s| s.id)
    }

    /// Call Admission Control: whether one more IKE SA may start.
    fn admission(&self) -> Result<(), Error> {
        self.cfg.cac.admit(self.sas.len(), self.half_open)
    }

    /// Inserts a new SA and indexes it.
    fn insert(&mut self, sa: IkeSa, init_key: Option<(u64, IpAddr)>) {
        let id = sa.id;
        self.by_spi.insert(sa.local_spi(), id);
        if let Some(k) = init_key {
            self.by_init.insert(k, id);
        }
        self.sas.insert(Box::new(Slot {
            sa,
            deadline: None,
            half_open: false,
            half_open_from: None,
            init_key,
        }));
        self.refresh(id);
    }

    /// Brings the indexes up to date with SA `id` after it may have changed (its deadline,
    /// whether it is half-open), and removes it if it is dead. Touches only its own entries.
    fn refresh(&mut self, id: IkeSaId) {
        let Some(slot) = self.sas.get_mut(id) else {
            return;
        };
        if let Some(t) = slot.deadline.take() {
            self.timers.remove(&(t, id));
        }
        if core::mem::take(&mut slot.half_open) {
            self.half_open = self.half_open.saturating_sub(1);
        }
        if let Some(ip) = slot.half_open_from.take()
            && let Some(n) = self.half_open_by_addr.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.half_open_by_addr.remove(&ip);
            }
        }
        if slot.sa.state == State::Dead {
            let spi = slot.sa.local_spi();
            let init_key = slot.init_key;
            if self.by_spi.get(&spi) == Some(&id) {
                self.by_spi.remove(&spi);
            }
            if let Some(k) = init_key
                && self.by_init.get(&k) == Some(&id)
            {
                self.by_init.remove(&k);
            }
            self.sas.remove(id);
            return;
        }
        slot.deadline = slot.sa.next_timeout(&self.cfg);
        if let Some(t) = slot.deadline {
            self.timers.insert((t, id));
        }
        if slot.sa.half_open() {
            slot.half_open = true;
            self.half_open += 1;
        }
        if slot.sa.state == State::HalfOpen
            && let Some((_, ip)) = slot.init_key
        {
            slot.half_open_from = Some(ip);
            *self.half_open_by_addr.entry(ip).or_insert(0) += 1;
        }
    }

    /// Starts an IKE SA with its first child SA (IKE_SA_INIT, then IKE_AUTH). `remote_id` is
    /// the identity the peer must prove (also sent as IDr); the traffic selectors default to
    /// the configured ones (or the two addresses). `local` is the address we send from, port
    /// 500. Refused with [`Error::AdmissionRefused`] over the CAC limits.
    pub fn initiate(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        remote_id: Option<crate::wire::Identity>,
        ts: Option<(Vec<TrafficSelector>, Vec<TrafficSelector>)>,
    ) -> Result<IkeSaId, Error> {
        if let Err(refused) = self.admission() {
            self.counters.cac_rejected += 1;
            return Err(refused);
        }
        let (ts_i, ts_r) = match ts {
            Some((i, r)) => (Some(i), Some(r)),
            None => (None, None),
        };
        let mut cx = cx!(self);
        let sa = IkeSa::initiate(&mut cx, now, local, remote, remote_id, ts_i, ts_r)?;
        let id = sa.id;
        self.insert(sa, None);
        Ok(id)
    }

    /// A UDP datagram arrived at `local` from `remote`. On port 4500 NAT keepalives are
    /// ignored and the non-ESP marker is removed; an ESP packet there is an error (it belongs
    /// to the caller's ESP path).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        payload: &[u8],
    ) -> Result<(), Error> {
        let ike = if local.port() == NAT_T_PORT {
            match UdpPayload::classify(payload) {
                Ok(UdpPayload::NatKeepalive) => return Ok(()),
                Ok(UdpPayload::Ike(b)) => b,
                Ok(UdpPayload::Esp(_)) | Err(_) => {
                    self.counters.dropped += 1;
                    return Err(Error::Malformed("not an IKE message on port 4500"));
                }
            }
        } else {
            payload
        };
        let result = self.handle_ike(now, local, remote, ike);
        if result.is_err() {
            self.counters.dropped += 1;
        }
        result
    }

    fn send_unprotected(&mut self, local: SocketAddr, remote: SocketAddr, msg: &Message) {
        let Ok(bytes) = msg.to_vec() else {
            return;
        };
        let mut payload = Vec::with_capacity(bytes.len() + 4);
        if local.port() == NAT_T_PORT {
            payload.extend_from_slice(&[0; 4]);
        }
        payload.extend_from_slice(&bytes);
        let mut cx = cx!(self);
        let refusal = msg.payloads.iter().find_map(|p| match p {
            Payload::Notify(n) if n.notify_type.is_error() => Some(n.notify_type),
            _ => None,
        });
        if let Some(reason) = refusal {
            cx.counters.errors_sent += 1;
            cx.event(Event::Refused {
                sa: None,
                remote,
                exchange: msg.exchange_type,
                reason,
            });
        }
        cx.transmit(Transmit::udp(local, remote, payload));
    }

    fn handle_ike(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ike: &[u8],
    ) -> Result<(), Error> {
        let header = match Header::new_checked(ike) {
            Ok(h) => h,
            Err(e @ Error::UnsupportedVersion { .. }) => {
                self.answer_bad_version(local, remote, ike);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let hdr = HeaderRepr::parse(&header)?;
        let raw = header.message();
        if hdr.exchange_type == ExchangeType::IKE_SA_INIT && !hdr.flags.response() {
            return self.handle_init_request(now, local, remote, raw, &hdr);
        }
        // Our SPI is the responder's if the sender is the original initiator (§3.1).
        let ours = if hdr.flags.initiator() {
            hdr.spi_r
        } else {
            hdr.spi_i
        };
        let Some(&id) = self.by_spi.get(&ours) else {
            return Err(Error::Malformed("unknown IKE SPI"));
        };
        let mut cx = cx!(self);
        let Some(slot) = self.sas.get_mut(id) else {
            return Err(Error::Malformed("unknown IKE SPI"));
        };
        let sa = &mut slot.sa;
        let r = if hdr.exchange_type == ExchangeType::IKE_SA_INIT {
            match Message::parse(raw) {
                Ok(msg) => sa.handle_init(&mut cx, now, raw, msg),
                Err(e) => Err(e),
            }
        } else {
            sa.handle_protected(&mut cx, now, local, remote, raw, &hdr)
        };
        let new = core::mem::take(&mut cx.new_sas);
        self.refresh(id);
        self.adopt(new);
        r
    }

    /// INVALID_MAJOR_VERSION (§2.5) for an IKE_SA_INIT request of another major version.
    fn answer_bad_version(&mut self, local: SocketAddr, remote: SocketAddr, ike: &[u8]) {
        let (Some(spi_i), Some(&exch), Some(&flags)) = (be64(ike, 0), ike.get(18), ike.get(19))
        else {
            return;
        };
        if ike.len() < HEADER_LEN
            || ExchangeType(exch) != ExchangeType::IKE_SA_INIT
            || Flags(flags).response()
        {
            return;
        }
        let msg = init_notify_response(spi_i, NotifyType::INVALID_MAJOR_VERSION, &[]);
        self.send_unprotected(local, remote, &msg);
    }

    /// The cookie for a request (§2.6): version 1, then prf(secret, Ni | IPi | SPIi).
    fn cookie(&self, msg: &Message, remote: SocketAddr) -> Option<Vec<u8>> {
        let ni = msg.find(|p| match p {
            Payload::Nonce(n) => Some(n),
            _ => None,
        })?;
        let ip = match remote.ip() {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let mac = self
            .cookie_prf
            .compute(&[ni, &ip, &msg.spi_i.to_be_bytes()])
            .ok()?;
        let mut c = vec![1u8];
        c.extend_from_slice(mac.as_bytes());
        Some(c)
    }

    fn handle_init_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        hdr: &HeaderRepr,
    ) -> Result<(), Error> {
        if hdr.spi_r != 0 || hdr.message_id != 0 || hdr.spi_i == 0 {
            return Err(Error::Malformed("IKE_SA_INIT request with responder SPI"));
        }
        // A copy of a request we answered (retransmitted, or the same bytes from another port
        // of the same address): the cached response, to where the copy came from (§2.1). The
        // same SPI from the same address with another request is not a new SA either.
        let init_key = (hdr.spi_i, remote.ip());
        if let Some(&id) = self.by_init.get(&init_key) {
            let mut cx = cx!(self);
            let copy = match self.sas.get_mut(id) {
                Some(slot) if slot.sa.is_init_copy(raw) => {
                    slot.sa.resend_init_response_to(&mut cx, now, remote);
                    true
                }
                _ => false,
            };
            self.refresh(id);
            return if copy
                || self
                    .sas
                    .get(id)
                    .is_none_or(|s| s.sa.state != State::HalfOpen)
            {
                Ok(())
            } else {
                Err(Error::Malformed(
                    "another IKE_SA_INIT request with the SPI of a half-open SA",
                ))
            };
        }
        let msg = match Message::parse(raw) {
            Ok(m) => m,
            Err(Error::UnsupportedCriticalPayload(t)) => {
                let m = init_notify_response(
                    hdr.spi_i,
                    NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
                    &[t.0],
                );
                self.send_unprotected(local, remote, &m);
                return Err(Error::UnsupportedCriticalPayload(t));
            }
            Err(e) => {
                let m = init_notify_response(hdr.spi_i, NotifyType::INVALID_SYNTAX, &[]);
                self.send_unprotected(local, remote, &m);
                return Err(e);
            }
        };
        if self.admission().is_err() {
            // Dropped silently (seed 002), only counted.
            self.counters.cac_rejected += 1;
            return Ok(());
        }
        if self.half_open >= self.cfg.cookie_threshold {
            let want = self.cookie(&msg, remote);
            let got = msg.payloads.first().and_then(|p| match p {
                Payload::Notify(n) if n.notify_type == NotifyType::COOKIE => Some(&n.data),
                _ => None,
            });
            let valid = match (&want, got) {
                (Some(w), Some(g)) => {
                    w.len() == g.len() && bool::from(subtle::ConstantTimeEq::ct_eq(&w[..], &g[..]))
                }
                _ => false,
            };
            if !valid {
                if let Some(c) = want {
                    self.counters.cookies_sent += 1;
                    let m = init_notify_response(hdr.spi_i, NotifyType::COOKIE, &c);
                    self.send_unprotected(local, remote, &m);
                }
                return Ok(());
            }
        }
        // One address may hold only so many half-open SAs (after the cookie: the address is
        // then known to be real).
        let from_address = self
            .half_open_by_addr
            .get(&remote.ip())
            .copied()
            .unwrap_or(0);
        if self.cfg.cac.admit_from_address(from_address).is_err() {
            self.counters.cac_rejected += 1;
            return Ok(());
        }
        let mut cx = cx!(self);
        match IkeSa::respond_init(&mut cx, now, local, remote, raw, &msg)? {
            Ok(sa) => self.insert(sa, Some(init_key)),
            Err(refusal) => self.send_unprotected(local, remote, &refusal),
        }
        Ok(())
    }

    fn adopt(&mut self, new: Vec<IkeSa>) {
        for sa in new {
            self.insert(sa, None);
        }
    }

    /// Runs timers due at `now`: retransmissions (with back-off and give-up), rekeys ahead of
    /// lifetimes, expiries, liveness checks, NAT keepalives, half-open timeouts. Only the SAs
    /// with a deadline at or before `now` are touched.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<IkeSaId> = self
            .timers
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            let mut cx = cx!(self);
            if let Some(slot) = self.sas.get_mut(id) {
                // Errors here are crypto provider failures; the SA stays as it was and its
                // timers retry.
                let _ = slot.sa.handle_timeout(&mut cx, now);
            }
            let new = core::mem::take(&mut cx.new_sas);
            self.refresh(id);
            self.adopt(new);
        }
    }

    /// When to call [`Endpoint::handle_timeout`] next (exact).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// The next datagram to send: UDP from `local()` (port 500, or 4500 once NAT traversal
    /// floated) to `remote()`. On port 4500 the payload already starts with the non-ESP marker
    /// (RFC 3948 §2.2), or is a NAT keepalive (one 0xFF byte, §2.3).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    fn with_sa(
        &mut self,
        sa: IkeSaId,
        f: impl FnOnce(&mut IkeSa, &mut Cx<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut cx = cx!(self);
        let s = self.sas.get_mut(sa).ok_or(Error::NoSuchIkeSa { sa })?;
        let r = f(&mut s.sa, &mut cx);
        let new = core::mem::take(&mut cx.new_sas);
        self.refresh(sa);
        self.adopt(new);
        r
    }

    /// Creates another child SA on an established IKE SA (CREATE_CHILD_SA, §1.3.1).
    pub fn create_child(
        &mut self,
        now: Instant,
        sa: IkeSaId,
        ts: Option<(Vec<TrafficSelector>, Vec<TrafficSelector>)>,
    ) -> Result<(), Error> {
        let (i, r) = match ts {
            Some((i, r)) => (Some(i), Some(r)),
            None => (None, None),
        };
        self.with_sa(sa, |s, cx| s.create_child(cx, now, i, r))
    }

    /// Rekeys a child SA (by our inbound SPI) now (§1.3.3); also what to do on the `esp` SA's
    /// `RekeyDue` (kilobyte lifetime).
    pub fn rekey_child(
        &mut self,
        now: Instant,
        sa: IkeSaId,
        inbound_spi: u32,
    ) -> Result<(), Error> {
        self.with_sa(sa, |s, cx| s.rekey_child(cx, now, inbound_spi))
    }

    /// Rekeys an IKE SA now (§1.3.2).
    pub fn rekey_ike(&mut self, now: Instant, sa: IkeSaId) -> Result<(), Error> {
        self.with_sa(sa, |s, cx| s.rekey_ike(cx, now))
    }

    /// Deletes a child SA (by our inbound SPI) (§1.4.1).
    pub fn delete_child(
        &mut self,
        now: Instant,
        sa: IkeSaId,
        inbound_spi: u32,
    ) -> Result<(), Error> {
        self.with_sa(sa, |s, cx| s.delete_child(cx, now, inbound_spi))
    }

    /// Closes an IKE SA and its child SAs (Delete, §1.4.1).
    pub fn close(&mut self, now: Instant, sa: IkeSaId) -> Result<(), Error> {
        self.with_sa(sa, |s, cx| s.close(cx, now))
    }

    /// Closes every IKE SA (on shutdown).
    pub fn close_all(&mut self, now: Instant) {
        let ids: Vec<IkeSaId> = self.sas.iter().map(|s| s.id).collect();
        for id in ids {
            let _ = self.close(now, id);
        }
    }

    /// Checks now that the peer is alive (an empty INFORMATIONAL, §2.4).
    pub fn check_liveness(&mut self, now: Instant, sa: IkeSaId) -> Result<(), Error> {
        self.with_sa(sa, |s, cx| s.check_liveness(cx, now))
    }

    /// Tells an IKE SA that authenticated ESP in UDP of one of its child SAs came from
    /// `remote`: when the SA runs NAT traversal and the peer was elsewhere, IKE follows it
    /// (its next messages go to `remote`) and reports [`Event::PeerMoved`]. Call it only for
    /// ESP whose integrity check passed: the address of an unauthenticated packet proves
    /// nothing.
    pub fn peer_moved(&mut self, sa: IkeSaId, remote: SocketAddr) -> Result<(), Error> {
        self.with_sa(sa, |s, cx| {
            s.peer_moved(cx, remote);
            Ok(())
        })
    }

    /// Notes that the peer of an IKE SA is alive (ESP traffic arrived), which postpones the
    /// liveness check.
    pub fn note_activity(&mut self, now: Instant, sa: IkeSaId) {
        if let Some(s) = self.sas.get_mut(sa) {
            s.sa.note_activity(now);
            self.refresh(sa);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dmvpn_esp::crypto::ChaChaRandom;

    use super::*;
    use crate::auth::{Psk, PskTable};
    use crate::config::CacLimit;
    use crate::crypto::IkeCryptoProvider;
    use crate::wire::Identity;

    fn cfg() -> Config {
        let mut psks = PskTable::new();
        psks.insert(Identity::fqdn("hub"), Psk::from("secret"));
        let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([5; 32])));
        Config::new(provider, Identity::fqdn("spoke"), psks)
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn start(ep: &mut Endpoint, now: Instant, peer: &str) -> Result<IkeSaId, Error> {
        ep.initiate(now, addr("192.0.2.1:500"), addr(peer), None, None)
    }

    #[test]
    fn admission_control_says_which_limit_refused() {
        let now = Instant::now();
        let mut c = cfg();
        c.cac.max_half_open = Some(1);
        let mut ep = Endpoint::new(c).unwrap();
        start(&mut ep, now, "192.0.2.2:500").unwrap();
        let refused = Error::AdmissionRefused {
            limit: CacLimit::MaxHalfOpen,
            count: 1,
            max: 1,
        };
        assert_eq!(start(&mut ep, now, "192.0.2.3:500"), Err(refused.clone()));
        assert_eq!(
            refused.to_string(),
            "call admission control: 1 IKE SAs in negotiation reach the limit of 1"
        );

        let mut c = cfg();
        c.cac = crate::Cac {
            max_half_open: Some(1),
            max_ike_sas: Some(1),
            ..crate::Cac::default()
        };
        let mut ep = Endpoint::new(c).unwrap();
        start(&mut ep, now, "192.0.2.2:500").unwrap();
        let r = start(&mut ep, now, "192.0.2.3:500");
        assert!(matches!(
            r,
            Err(Error::AdmissionRefused {
                limit: CacLimit::MaxIkeSas,
                ..
            })
        ));
        assert_eq!(ep.counters().cac_rejected, 1);
        assert_eq!(ep.ike_sa_count(), 1);
    }

    #[test]
    fn commands_name_the_missing_sa() {
        let now = Instant::now();
        let mut ep = Endpoint::new(cfg()).unwrap();
        let ghost = IkeSaId(42);
        assert_eq!(ep.close(now, ghost), Err(Error::NoSuchIkeSa { sa: ghost }));
        assert_eq!(
            ep.rekey_ike(now, ghost),
            Err(Error::NoSuchIkeSa { sa: ghost })
        );
    }

    #[test]
    fn the_transmit_queue_is_bounded() {
        let now = Instant::now();
        let mut c = cfg();
        c.max_transmits = 2;
        let mut ep = Endpoint::new(c).unwrap();
        let ids: Vec<IkeSaId> = ["192.0.2.2:500", "192.0.2.3:500", "192.0.2.4:500"]
            .into_iter()
            .map(|peer| start(&mut ep, now, peer).unwrap())
            .collect();
        let sent: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
        let to: Vec<_> = sent.iter().map(|t| t.remote()).collect();
        assert_eq!(to, vec![addr("192.0.2.2:500"), addr("192.0.2.3:500")]);
        assert!(sent.iter().all(|t| t.local() == addr("192.0.2.1:500")));
        assert_eq!(ep.counters().transmits_dropped, 1);
        // The dropped request is retransmitted like a lost one.
        ep.close(now, ids[0]).unwrap();
        ep.close(now, ids[1]).unwrap();
        ep.handle_timeout(ep.poll_timeout().unwrap());
        let again: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].remote(), addr("192.0.2.4:500"));
        assert_eq!(ep.counters().retransmits, 1);
    }

    #[test]
    fn queue_limits_must_leave_room() {
        let mut c = cfg();
        c.max_events = 0;
        assert!(matches!(Endpoint::new(c), Err(Error::InvalidConfig(_))));
    }
}
