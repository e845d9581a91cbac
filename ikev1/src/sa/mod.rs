//! One ISAKMP SA: Main Mode (`main_mode.rs`), its Quick Modes (`quick_mode.rs`) and
//! Informational exchanges (`info.rs`: delete, DPD, INITIAL-CONTACT), with what they share
//! here: the context of a call, sending (ports 500 / 4500 and the non-ESP marker),
//! retransmission and encryption of protected messages.

use core::net::SocketAddr;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use dmvpn_ikev2::crypto::KeyExchange;
use dmvpn_wire::Transmit;

use crate::cipher::IsakmpCipher;
use crate::config::Config;
use crate::event::{Counters, Event, IkeSaId, IsakmpState, Phase1Suite};
use crate::iv::IvTracker;
use crate::keys::Phase1Keys;
use crate::wire::{
    Body, ExchangeType, Flags, IdPayload, Message, NON_ESP_MARKER, NatTNumbering, Payload,
    chain_to_vec,
};
use crate::{Error, Psk};

mod info;
mod main_mode;
mod quick_mode;

pub(crate) use quick_mode::QmRequest;

/// UDP port of IKE.
pub(crate) const IKE_PORT: u16 = 500;
/// UDP port of NAT-T (RFC 3948).
pub(crate) const NAT_T_PORT: u16 = 4500;
/// Length of our nonces (RFC 2409 allows 8–256 bytes; 32 is as long as the longest PRF key
/// the cipher needs).
pub(crate) const NONCE_LEN: usize = 32;
/// How long a finished exchange's last messages are kept to answer a retransmission.
const LINGER: Duration = Duration::from_secs(30);

/// What a call into an SA may touch besides the SA.
pub(crate) struct Cx<'a> {
    pub cfg: &'a Config,
    pub transmits: &'a mut VecDeque<Transmit>,
    pub events: &'a mut VecDeque<Event>,
    pub counters: &'a mut Counters,
    /// Inbound ESP SPIs in use.
    pub esp_spis: &'a mut HashSet<u32>,
}

impl Cx<'_> {
    pub fn event(&mut self, e: Event) {
        if self.events.len() >= self.cfg.max_events {
            self.counters.events_dropped += 1;
        } else {
            self.events.push_back(e);
        }
    }

    pub fn transmit(&mut self, t: Transmit) {
        if self.transmits.len() >= self.cfg.max_transmits {
            self.counters.transmits_dropped += 1;
        } else {
            self.transmits.push_back(t);
        }
    }

    pub fn random(&self, n: usize) -> Result<Vec<u8>, Error> {
        self.cfg
            .provider
            .random_bytes(n)
            .map_err(Error::KeyExchange)
    }

    pub fn random_u32(&self) -> Result<u32, Error> {
        let b = self.random(4)?;
        Ok(b.iter().fold(0u32, |a, x| (a << 8) | u32::from(*x)))
    }

    /// A fresh inbound ESP SPI (≥ 256, RFC 4303 §2.1, not in use).
    pub fn new_spi(&mut self) -> Result<u32, Error> {
        for _ in 0..64 {
            let spi = self.random_u32()?;
            if spi >= 256 && self.esp_spis.insert(spi) {
                return Ok(spi);
            }
        }
        Err(Error::Dropped("no free SPI"))
    }

    /// A jitter of up to `max`.
    pub fn jitter(&self, max: Duration) -> Result<Duration, Error> {
        let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return Ok(Duration::ZERO);
        }
        Ok(Duration::from_millis(u64::from(self.random_u32()?) % ms))
    }

    /// When to rekey something of `lifetime` created now: the margin and a jitter before
    /// its end; `later` (the responder of the exchange) halves the margin, so that the side
    /// that started it normally rekeys first.
    pub fn rekey_at(
        &self,
        now: Instant,
        lifetime: Duration,
        later: bool,
    ) -> Result<Instant, Error> {
        let mut margin = lifetime / 100 * u32::from(self.cfg.rekey_margin_percent);
        if later {
            margin /= 2;
        }
        let jitter = self.jitter(lifetime / 100 * u32::from(self.cfg.rekey_jitter_percent))?;
        Ok(now + lifetime.saturating_sub(margin).saturating_sub(jitter))
    }
}

/// A message kept for retransmission (ours) with its schedule.
#[derive(Debug)]
pub(crate) struct Retx {
    pub bytes: Vec<u8>,
    pub next: Instant,
    pub sent: u32,
    pub interval: Duration,
}

impl Retx {
    pub fn new(cfg: &Config, now: Instant, bytes: Vec<u8>) -> Retx {
        Retx {
            bytes,
            next: now + cfg.retransmit.initial,
            sent: 1,
            interval: cfg.retransmit.initial,
        }
    }

    /// Due at `now`: `Some(bytes)` to send again (and the next time scheduled), or `None`
    /// when every try is spent.
    pub fn fire(&mut self, cfg: &Config, now: Instant) -> Option<Vec<u8>> {
        if self.sent >= cfg.retransmit.tries {
            return None;
        }
        self.sent += 1;
        self.interval = (self.interval * 2).min(cfg.retransmit.max_interval);
        self.next = now + self.interval;
        Some(self.bytes.clone())
    }
}

/// Main Mode's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Initiator: message 1 sent.
    I1,
    /// Initiator: message 3 sent.
    I3,
    /// Initiator: message 5 sent.
    I5,
    /// Responder: message 2 sent.
    R2,
    /// Responder: message 4 sent.
    R4,
    /// Established.
    Up,
    /// To be removed.
    Dead,
}

/// The phase 1 negotiation's working values.
pub(crate) struct Handshake {
    pub ke: Option<Box<dyn KeyExchange>>,
    pub nonce_i: Vec<u8>,
    pub nonce_r: Vec<u8>,
    pub g_xi: Vec<u8>,
    pub g_xr: Vec<u8>,
    /// The body of the initiator's SA payload (HASH_I and HASH_R cover it).
    pub sai_b: Vec<u8>,
}

/// An IPsec SA pair of this ISAKMP SA.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub spi_in: u32,
    pub spi_out: u32,
    /// The IDs (ours, the peer's) it was negotiated with, for its rekey.
    pub ids: (IdPayload, IdPayload),
    pub rekey_at: Option<Instant>,
    pub expire_at: Instant,
    /// Replaced by our rekey: deleted then.
    pub delete_at: Option<Instant>,
    /// A rekey is under way (or done): do not start another.
    pub rekeying: bool,
}

/// DPD's state.
#[derive(Debug, Default)]
pub(crate) struct DpdState {
    /// Whether the peer announced DPD.
    pub peer_supports: bool,
    pub last_activity: Option<Instant>,
    pub seq: u32,
    /// The outstanding R-U-THERE: its sequence number, tries so far, next retry.
    pub outstanding: Option<(u32, u32, Instant)>,
}

/// One ISAKMP SA.
pub(crate) struct IsakmpSa {
    pub id: IkeSaId,
    pub initiator: bool,
    pub cookie_i: u64,
    pub cookie_r: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub phase: Phase,
    pub suite: Option<Phase1Suite>,
    pub hs: Option<Handshake>,
    pub keys: Option<Phase1Keys>,
    pub cipher: Option<IsakmpCipher>,
    pub ivs: Option<IvTracker>,
    /// NAT-T numbering both sides announced (none: no NAT-T).
    pub nat_t: Option<NatTNumbering>,
    pub nat: bool,
    pub behind_nat: bool,
    pub peer_id: Option<IdPayload>,
    /// The last message received in Main Mode, to spot a retransmission before decrypting.
    pub last_rx: Vec<u8>,
    /// Our answer to it (re-sent for a retransmission).
    pub last_tx: Vec<u8>,
    pub retx: Option<Retx>,
    pub created: Instant,
    pub established: Option<Instant>,
    pub expire_at: Option<Instant>,
    pub rekey_at: Option<Instant>,
    /// The older SA this one replaces once up (a phase 1 rekey we started).
    pub replaces: Option<IkeSaId>,
    /// A replacement is being negotiated.
    pub replaced_by: Option<IkeSaId>,
    /// The Quick Mode to start once Main Mode is done (initiator).
    pub pending: Vec<QmRequest>,
    pub quick: Vec<quick_mode::Qm>,
    pub children: Vec<Child>,
    pub dpd: DpdState,
    /// DPD as configured (`None`: only on request, [`IsakmpSa::check_liveness`]).
    pub dpd_cfg: Option<crate::config::Dpd>,
    pub keepalive_at: Option<Instant>,
    /// Whether this SA sent (or will send) INITIAL-CONTACT in message 5.
    pub initial_contact: bool,
    /// The peer's INITIAL-CONTACT, to act on once established.
    pub peer_initial_contact: bool,
}

impl IsakmpSa {
    pub fn new(
        id: IkeSaId,
        initiator: bool,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> Self {
        IsakmpSa {
            id,
            initiator,
            cookie_i: 0,
            cookie_r: 0,
            local,
            remote,
            phase: if initiator { Phase::I1 } else { Phase::R2 },
            suite: None,
            hs: None,
            keys: None,
            cipher: None,
            ivs: None,
            nat_t: None,
            nat: false,
            behind_nat: false,
            peer_id: None,
            last_rx: Vec::new(),
            last_tx: Vec::new(),
            retx: None,
            created: now,
            established: None,
            expire_at: None,
            rekey_at: None,
            replaces: None,
            replaced_by: None,
            pending: Vec::new(),
            quick: Vec::new(),
            children: Vec::new(),
            dpd: DpdState::default(),
            dpd_cfg: None,
            keepalive_at: None,
            initial_contact: false,
            peer_initial_contact: false,
        }
    }

    /// Our cookie (the one that finds this SA).
    pub fn our_cookie(&self) -> u64 {
        if self.initiator {
            self.cookie_i
        } else {
            self.cookie_r
        }
    }

    pub fn is_up(&self) -> bool {
        self.phase == Phase::Up
    }

    pub fn is_dead(&self) -> bool {
        self.phase == Phase::Dead
    }

    pub fn is_half_open(&self) -> bool {
        !matches!(self.phase, Phase::Up | Phase::Dead)
    }

    pub fn state(&self) -> IsakmpState {
        match self.phase {
            Phase::I1 | Phase::R2 if self.hs.is_none() => IsakmpState::MmNoState,
            Phase::I1 => IsakmpState::MmNoState,
            Phase::R2 | Phase::I3 => IsakmpState::MmSaSetup,
            Phase::R4 | Phase::I5 => IsakmpState::MmKeyExch,
            Phase::Up => IsakmpState::QmIdle,
            Phase::Dead => IsakmpState::Deleted,
        }
    }

    pub fn psk<'c>(&self, cfg: &'c Config) -> Result<&'c Psk, Error> {
        cfg.keys
            .lookup(self.remote.ip())
            .ok_or(Error::NoKey(self.remote.ip()))
    }

    /// Sends ISAKMP bytes from our current port (with the non-ESP marker on 4500).
    pub fn send(&self, cx: &mut Cx<'_>, bytes: &[u8]) {
        let payload = if self.local.port() == NAT_T_PORT {
            let mut v = Vec::with_capacity(bytes.len() + 4);
            v.extend_from_slice(&NON_ESP_MARKER);
            v.extend_from_slice(bytes);
            v
        } else {
            bytes.to_vec()
        };
        cx.transmit(Transmit::udp(self.local, self.remote, payload));
    }

    /// A message header of this SA.
    pub fn message(
        &self,
        exchange_type: ExchangeType,
        message_id: u32,
        payloads: Vec<Payload>,
    ) -> Message {
        Message {
            cookie_i: self.cookie_i,
            cookie_r: self.cookie_r,
            minor_version: 0,
            exchange_type,
            flags: Flags::NONE,
            message_id,
            body: Body::Clear(payloads),
        }
    }

    /// Encrypts a message of exchange `message_id` with the exchange's IV, counts it in the
    /// IV chain, and returns its bytes.
    pub fn seal(&mut self, msg: &Message) -> Result<Vec<u8>, Error> {
        let (Some(cipher), Some(ivs)) = (&self.cipher, &mut self.ivs) else {
            return Err(Error::UnknownSa);
        };
        let iv = ivs.iv(msg.message_id);
        let (bytes, next) = cipher.seal_message(&iv, msg)?;
        ivs.advance(msg.message_id, next);
        Ok(bytes)
    }

    /// A protected message whose first payload is `HASH(prf(SKEYID_a, M-ID | rest))` (Quick
    /// Mode message 1, Informational), sealed.
    pub fn seal_hashed(
        &mut self,
        exchange_type: ExchangeType,
        message_id: u32,
        rest: Vec<Payload>,
        hash: impl FnOnce(&Phase1Keys, &[u8]) -> Result<Vec<u8>, Error>,
    ) -> Result<Vec<u8>, Error> {
        let keys = self.keys.as_ref().ok_or(Error::UnknownSa)?;
        let h = hash(keys, &chain_to_vec(&rest)?)?;
        let mut payloads = Vec::with_capacity(rest.len() + 1);
        payloads.push(Payload::Hash(h));
        payloads.extend(rest);
        let msg = self.message(exchange_type, message_id, payloads);
        self.seal(&msg)
    }

    /// The phase 1 suite as the status shows it.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.expire_at.map(|e| e.saturating_duration_since(now))
    }

    /// Every deadline of this SA, the earliest.
    pub fn deadline(&self) -> Option<Instant> {
        if self.is_dead() {
            return None;
        }
        let mut d: Option<Instant> = None;
        let mut take = |t: Option<Instant>| {
            if let Some(t) = t {
                d = Some(d.map_or(t, |x| x.min(t)));
            }
        };
        take(self.retx.as_ref().map(|r| r.next));
        take(self.expire_at);
        take(self.rekey_at);
        take(self.keepalive_at);
        if self.is_half_open() {
            take(Some(self.created + HALF_OPEN_CAP));
        }
        for q in &self.quick {
            take(q.deadline());
        }
        for c in &self.children {
            take(c.rekey_at);
            take(c.delete_at);
            take(Some(c.expire_at));
        }
        take(self.dpd_deadline());
        d
    }

    /// Marks the SA for removal, reporting its children gone first (`IsakmpDown` is the
    /// endpoint's to report, with the reason).
    pub fn kill(&mut self, cx: &mut Cx<'_>) {
        for c in self.children.drain(..) {
            cx.esp_spis.remove(&c.spi_in);
            cx.event(Event::ChildDeleted {
                sa: self.id,
                inbound_spi: c.spi_in,
                outbound_spi: c.spi_out,
            });
        }
        for q in self.quick.drain(..) {
            if let Some(spi) = q.spi_in
                && !q.installed
            {
                cx.esp_spis.remove(&spi);
            }
        }
        self.phase = Phase::Dead;
        self.retx = None;
        self.hs = None;
    }
}

/// The hard cap on a half-open SA's life, whatever the configuration says (the configured
/// `half_open_timeout` applies first; see `IsakmpSa::on_timeout`).
const HALF_OPEN_CAP: Duration = Duration::from_secs(300);

/// The raw body of the first payload of type `t` in a payload chain.
pub(crate) fn raw_body(
    first: crate::wire::PayloadType,
    chain: &[u8],
    t: crate::wire::PayloadType,
) -> Option<&[u8]> {
    crate::wire::Payloads::new(first, chain)
        .filter_map(Result::ok)
        .find(|p| p.payload_type == t)
        .map(|p| p.body)
}

pub(crate) fn linger() -> Duration {
    LINGER
}
