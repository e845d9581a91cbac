//! One IKE SA and its child SAs: the exchanges of RFC 7296 as a state machine driven by
//! [`crate::Endpoint`].

use core::net::SocketAddr;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use dmvpn_esp::wire::udp_encap::{NAT_KEEPALIVE, NAT_T_PORT, NON_ESP_MARKER};
use dmvpn_esp::{
    EncryptionAlgorithm, IntegrityAlgorithm, Lifetime, Lifetimes, Mode, SaConfig, Suite,
};

use crate::auth::{PskLookup, SignedOctets, psk_auth_payload, verify_psk_auth};
use crate::config::Config;
use crate::crypto::KeyExchange;
use crate::event::{
    ChildSaUp, ChildStatus, Counters, DownReason, Event, IkeSaId, IkeSaStatus, IkeState, Transmit,
};
use crate::keys::{ChildSaKeys, IkeSaKeys};
use crate::negotiate::{
    accepted, esn, ke_group, narrow, nat_detection_hash, offers_group, select, ts_subset,
    without_ke,
};
use crate::sk::SkCrypto;
use crate::transform::{IkeSuite, KeGroup, TransformType};
use crate::wire::{
    DeletePayload, ExchangeType, Flags, HeaderRepr, Identity, KePayload, Message, NotifyPayload,
    NotifyType, Payload, Proposal, ProtocolId, SaPayload, TrafficSelector, TsPayload,
};
use crate::{Error, Secret};

/// Nonce length we send (§2.10: at least half the PRF key size, at least 16).
const NONCE_LEN: usize = 32;
/// How many COOKIE or INVALID_KE_PAYLOAD restarts an initiator accepts (§2.6, §1.2).
const MAX_RESTARTS: u8 = 3;

/// Shared state an IKE SA works with: configuration, outputs, counters, SPI allocation.
pub(crate) struct Cx<'a> {
    pub cfg: &'a Config,
    pub transmits: &'a mut VecDeque<Transmit>,
    pub events: &'a mut VecDeque<Event>,
    pub counters: &'a mut Counters,
    pub esp_spis: &'a mut HashSet<u32>,
    pub next_id: &'a mut u64,
    /// IKE SAs created by an IKE SA rekey, for the endpoint to insert.
    pub new_sas: Vec<IkeSa>,
}

impl Cx<'_> {
    fn random(&self, n: usize) -> Result<Vec<u8>, Error> {
        self.cfg.provider.random_bytes(n)
    }

    fn rand_u64(&self) -> Result<u64, Error> {
        let mut b = [0u8; 8];
        self.cfg.provider.random().fill(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    pub(crate) fn ike_spi(&self) -> Result<u64, Error> {
        loop {
            let v = self.rand_u64()?;
            if v != 0 {
                return Ok(v);
            }
        }
    }

    fn esp_spi(&mut self) -> Result<u32, Error> {
        loop {
            let mut b = [0u8; 4];
            self.cfg.provider.random().fill(&mut b)?;
            let v = u32::from_be_bytes(b);
            // 1-255 are reserved by IANA (RFC 4303 §2.1).
            if v > 255 && self.esp_spis.insert(v) {
                return Ok(v);
            }
        }
    }

    /// A uniformly random duration in `[0, max]`.
    fn jitter(&self, max: Duration) -> Result<Duration, Error> {
        let r = self.rand_u64()?;
        let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        Ok(Duration::from_millis(if ms == 0 {
            0
        } else {
            r % (ms + 1)
        }))
    }

    pub(crate) fn new_id(&mut self) -> IkeSaId {
        *self.next_id = self.next_id.wrapping_add(1);
        IkeSaId(*self.next_id)
    }

    fn event(&mut self, e: Event) {
        self.events.push_back(e);
    }

    /// When to rekey something with this lifetime: margin plus jitter before its end.
    fn rekey_time(&self, now: Instant, lifetime: Duration) -> Result<Instant, Error> {
        let margin = lifetime / 100 * u32::from(self.cfg.rekey_margin_percent);
        let jitter = self.jitter(lifetime / 100 * u32::from(self.cfg.rekey_jitter_percent))?;
        Ok(now + lifetime.saturating_sub(margin).saturating_sub(jitter))
    }
}

/// The state of an IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    InitSent,
    AuthSent,
    HalfOpen,
    Established,
    /// Replaced by a rekey the peer started: waiting for its Delete.
    Rekeyed,
    /// Sending (or sent) a Delete for this SA.
    Deleting,
    /// To be removed by the endpoint.
    Dead,
}

/// A child SA we proposed and wait to hear about.
struct ChildReq {
    spi_in: u32,
    nonce: Vec<u8>,
    ke: Option<Box<dyn KeyExchange>>,
    proposals: Vec<Proposal>,
    ts_i: Vec<TrafficSelector>,
    ts_r: Vec<TrafficSelector>,
    transport: bool,
    rekey_of: Option<u32>,
}

/// An IKE SA rekey we proposed.
struct IkeRekeyReq {
    spi: u64,
    nonce: Vec<u8>,
    ke: Box<dyn KeyExchange>,
    proposals: Vec<Proposal>,
}

enum Req {
    Init,
    Auth,
    Child(Box<ChildReq>),
    RekeyIke(Box<IkeRekeyReq>),
    Delete,
    DeleteIke,
    Liveness,
}

struct Pending {
    mid: u32,
    /// The IKE message as sent (without the non-ESP marker).
    bytes: Vec<u8>,
    req: Req,
    sent: u32,
    wait: Duration,
    next: Instant,
}

/// Something to do once the window is free.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    CreateChild(Vec<TrafficSelector>, Vec<TrafficSelector>),
    RekeyChild(u32),
    RekeyIke,
    DeleteChild(u32),
    DeleteIke,
    Liveness,
}

/// Handshake state kept until IKE_AUTH completes.
struct Handshake {
    ke: Option<Box<dyn KeyExchange>>,
    group: KeGroup,
    ni: Vec<u8>,
    nr: Vec<u8>,
    init_req: Vec<u8>,
    init_resp: Vec<u8>,
    cookie: Option<Vec<u8>>,
    restarts: u8,
    child: Option<Box<ChildReq>>,
    remote_id: Option<Identity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChildState {
    Installed,
    Rekeying,
    /// Replaced; the rekey's initiator deletes it (or its lifetime ends).
    Rekeyed,
}

struct Child {
    spi_in: u32,
    spi_out: u32,
    suite: Suite,
    mode: Mode,
    ts_local: Vec<TrafficSelector>,
    ts_remote: Vec<TrafficSelector>,
    created: Instant,
    rekey_at: Instant,
    expire_at: Instant,
    state: ChildState,
    /// A simultaneous rekey by the peer (§2.8.1): the lowest nonce of its exchange and the
    /// inbound SPI of the child SA it created.
    collision: Option<(Vec<u8>, u32)>,
}

/// One IKE SA.
pub(crate) struct IkeSa {
    pub id: IkeSaId,
    pub state: State,
    /// Whether we are the original initiator of this IKE SA (§2.14; after a rekey, whoever
    /// started the rekey).
    pub initiator: bool,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub spi_i: u64,
    pub spi_r: u64,
    nat_local: bool,
    nat_remote: bool,
    /// IKE and ESP on port 4500.
    pub natt: bool,
    suite: Option<IkeSuite>,
    keys: Option<IkeSaKeys>,
    sk: Option<SkCrypto>,
    hs: Option<Handshake>,
    peer_id: Option<Identity>,
    mid_out: u32,
    mid_in: u32,
    pending: Option<Pending>,
    actions: VecDeque<Action>,
    delayed: Vec<(Instant, Action)>,
    last_response: Option<(u32, Vec<u8>)>,
    children: Vec<Child>,
    created: Instant,
    rekey_at: Option<Instant>,
    expire_at: Option<Instant>,
    deadline: Option<Instant>,
    last_heard: Instant,
    last_sent: Instant,
    /// Reason reported when a Delete we send completes.
    close_reason: Option<DownReason>,
}

fn find_notify(payloads: &[Payload], ty: NotifyType) -> Option<&NotifyPayload> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type == ty => Some(n),
        _ => None,
    })
}

fn error_notify(payloads: &[Payload]) -> Option<NotifyType> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type.is_error() => Some(n.notify_type),
        _ => None,
    })
}

fn notify(ty: NotifyType, data: &[u8]) -> Payload {
    Payload::Notify(NotifyPayload::new(ty, data))
}

struct Found<'a> {
    sa: Option<&'a SaPayload>,
    ke: Option<&'a KePayload>,
    nonce: Option<&'a Vec<u8>>,
    tsi: Option<&'a TsPayload>,
    tsr: Option<&'a TsPayload>,
}

fn found(payloads: &[Payload]) -> Found<'_> {
    let mut f = Found {
        sa: None,
        ke: None,
        nonce: None,
        tsi: None,
        tsr: None,
    };
    for p in payloads {
        match p {
            Payload::Sa(s) if f.sa.is_none() => f.sa = Some(s),
            Payload::Ke(k) if f.ke.is_none() => f.ke = Some(k),
            Payload::Nonce(n) if f.nonce.is_none() => f.nonce = Some(n),
            Payload::TsI(t) if f.tsi.is_none() => f.tsi = Some(t),
            Payload::TsR(t) if f.tsr.is_none() => f.tsr = Some(t),
            _ => {}
        }
    }
    f
}

fn esp_suite(p: &Proposal) -> Result<Suite, Error> {
    let e = p
        .of_type(TransformType::ENCR)
        .next()
        .ok_or(Error::InvalidProposal("no encryption transform"))?;
    let enc = EncryptionAlgorithm::from_ikev2(e.transform_id, e.key_length())?;
    let integ = match p.of_type(TransformType::INTEG).next() {
        Some(t) if t.transform_id != 0 => IntegrityAlgorithm::from_ikev2(t.transform_id)?,
        _ => IntegrityAlgorithm::None,
    };
    Ok(Suite::new(enc, integ)?)
}

fn spi32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

fn spi64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// An unprotected IKE_SA_INIT response carrying one notification (errors, COOKIE).
pub(crate) fn init_notify_response(spi_i: u64, ty: NotifyType, data: &[u8]) -> Message {
    Message {
        spi_i,
        spi_r: 0,
        minor_version: 0,
        exchange_type: ExchangeType::IKE_SA_INIT,
        flags: Flags::RESPONSE,
        message_id: 0,
        payloads: vec![notify(ty, data)],
    }
}

fn with_spi(proposals: &[Proposal], spi: &[u8]) -> Vec<Proposal> {
    proposals
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.spi = spi.to_vec();
            p
        })
        .collect()
}

impl IkeSa {
    fn blank(id: IkeSaId, now: Instant, local: SocketAddr, remote: SocketAddr) -> Self {
        IkeSa {
            id,
            state: State::InitSent,
            initiator: true,
            local,
            remote,
            spi_i: 0,
            spi_r: 0,
            nat_local: false,
            nat_remote: false,
            natt: false,
            suite: None,
            keys: None,
            sk: None,
            hs: None,
            peer_id: None,
            mid_out: 0,
            mid_in: 0,
            pending: None,
            actions: VecDeque::new(),
            delayed: Vec::new(),
            last_response: None,
            children: Vec::new(),
            created: now,
            rekey_at: None,
            expire_at: None,
            deadline: None,
            last_heard: now,
            last_sent: now,
            close_reason: None,
        }
    }

    /// Whether the SA counts as half-open (in negotiation) for cookies and CAC.
    pub(crate) fn half_open(&self) -> bool {
        matches!(
            self.state,
            State::InitSent | State::AuthSent | State::HalfOpen
        )
    }

    /// Our SPI of this SA.
    pub(crate) fn local_spi(&self) -> u64 {
        if self.initiator {
            self.spi_i
        } else {
            self.spi_r
        }
    }

    fn flags(&self, response: bool) -> Flags {
        let mut f = Flags(0);
        if self.initiator {
            f = f | Flags::INITIATOR;
        }
        if response {
            f = f | Flags::RESPONSE;
        }
        f
    }

    fn local_ts(&self, cx: &Cx<'_>) -> Vec<TrafficSelector> {
        cx.cfg
            .local_ts
            .clone()
            .unwrap_or_else(|| vec![TrafficSelector::host(self.local.ip(), 0)])
    }

    fn remote_ts(&self, cx: &Cx<'_>) -> Vec<TrafficSelector> {
        cx.cfg
            .remote_ts
            .clone()
            .unwrap_or_else(|| vec![TrafficSelector::host(self.remote.ip(), 0)])
    }

    // ----------------------------------------------------------------------------------------
    // Sending

    fn send_raw(&mut self, cx: &mut Cx<'_>, now: Instant, ike: &[u8]) {
        let payload = if self.local.port() == NAT_T_PORT {
            let mut v = Vec::with_capacity(ike.len() + 4);
            v.extend_from_slice(&NON_ESP_MARKER);
            v.extend_from_slice(ike);
            v
        } else {
            ike.to_vec()
        };
        self.last_sent = now;
        cx.transmits.push_back(Transmit {
            local: self.local,
            remote: self.remote,
            payload,
        });
    }

    fn protect(
        &self,
        cx: &Cx<'_>,
        exchange: ExchangeType,
        mid: u32,
        response: bool,
        payloads: &[Payload],
    ) -> Result<Vec<u8>, Error> {
        let sk = self
            .sk
            .as_ref()
            .ok_or(Error::InvalidConfig("no IKE keys"))?;
        let outer = Message {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            minor_version: 0,
            exchange_type: exchange,
            flags: self.flags(response),
            message_id: mid,
            payloads: Vec::new(),
        };
        sk.outbound
            .protect(cx.cfg.provider.random(), &outer, payloads)
    }

    fn request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        exchange: ExchangeType,
        payloads: &[Payload],
        req: Req,
    ) -> Result<(), Error> {
        let mid = self.mid_out;
        let bytes = self.protect(cx, exchange, mid, false, payloads)?;
        self.mid_out = mid.wrapping_add(1);
        self.send_pending(cx, now, mid, bytes, req);
        Ok(())
    }

    fn send_pending(&mut self, cx: &mut Cx<'_>, now: Instant, mid: u32, bytes: Vec<u8>, req: Req) {
        self.send_raw(cx, now, &bytes);
        let wait = cx.cfg.retransmit.initial;
        self.pending = Some(Pending {
            mid,
            bytes,
            req,
            sent: 1,
            wait,
            next: now + wait,
        });
    }

    fn respond(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        exchange: ExchangeType,
        mid: u32,
        payloads: &[Payload],
    ) -> Result<(), Error> {
        if payloads
            .iter()
            .any(|p| matches!(p, Payload::Notify(n) if n.notify_type.is_error()))
        {
            cx.counters.errors_sent += 1;
        }
        let bytes = self.protect(cx, exchange, mid, true, payloads)?;
        self.send_raw(cx, now, &bytes);
        self.last_response = Some((mid, bytes));
        self.mid_in = mid.wrapping_add(1);
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // IKE_SA_INIT, initiator

    /// Starts an IKE SA as initiator: sends IKE_SA_INIT (§1.2).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn initiate(
        cx: &mut Cx<'_>,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        remote_id: Option<Identity>,
        ts_i: Option<Vec<TrafficSelector>>,
        ts_r: Option<Vec<TrafficSelector>>,
    ) -> Result<IkeSa, Error> {
        let id = cx.new_id();
        let mut sa = IkeSa::blank(id, now, local, remote);
        sa.spi_i = cx.ike_spi()?;
        let group = cx
            .cfg
            .ike_proposals
            .first()
            .and_then(ke_group)
            .ok_or(Error::InvalidConfig(
                "first IKE proposal has no key exchange",
            ))?;
        let spi_in = cx.esp_spi()?;
        let child = ChildReq {
            spi_in,
            nonce: Vec::new(),
            ke: None,
            proposals: with_spi(
                &cx.cfg
                    .esp_proposals
                    .iter()
                    .map(without_ke)
                    .collect::<Vec<_>>(),
                &spi_in.to_be_bytes(),
            ),
            ts_i: ts_i.unwrap_or_else(|| sa.local_ts(cx)),
            ts_r: ts_r.unwrap_or_else(|| sa.remote_ts(cx)),
            transport: cx.cfg.mode == Mode::Transport,
            rekey_of: None,
        };
        sa.hs = Some(Handshake {
            ke: None,
            group,
            ni: cx.random(NONCE_LEN)?,
            nr: Vec::new(),
            init_req: Vec::new(),
            init_resp: Vec::new(),
            cookie: None,
            restarts: 0,
            child: Some(Box::new(child)),
            remote_id,
        });
        sa.deadline = None;
        sa.send_init(cx, now)?;
        Ok(sa)
    }

    fn send_init(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        let hs = self
            .hs
            .as_mut()
            .ok_or(Error::InvalidConfig("no handshake"))?;
        let ke = cx.cfg.provider.start_key_exchange(hs.group)?;
        let mut payloads = Vec::new();
        if let Some(c) = &hs.cookie {
            payloads.push(notify(NotifyType::COOKIE, c));
        }
        payloads.push(Payload::Sa(SaPayload {
            proposals: cx.cfg.ike_proposals.clone(),
        }));
        payloads.push(Payload::Ke(KePayload {
            group: hs.group,
            data: ke.public_value().to_vec(),
        }));
        payloads.push(Payload::Nonce(hs.ni.clone()));
        let src = if cx.cfg.force_encap {
            cx.random(20)?
        } else {
            nat_detection_hash(self.spi_i, 0, self.local)
        };
        payloads.push(notify(NotifyType::NAT_DETECTION_SOURCE_IP, &src));
        payloads.push(notify(
            NotifyType::NAT_DETECTION_DESTINATION_IP,
            &nat_detection_hash(self.spi_i, 0, self.remote),
        ));
        let msg = Message {
            spi_i: self.spi_i,
            spi_r: 0,
            minor_version: 0,
            exchange_type: ExchangeType::IKE_SA_INIT,
            flags: Flags::INITIATOR,
            message_id: 0,
            payloads,
        };
        let bytes = msg.to_vec()?;
        hs.ke = Some(ke);
        hs.init_req = bytes.clone();
        self.state = State::InitSent;
        self.mid_out = 1;
        self.send_pending(cx, now, 0, bytes, Req::Init);
        Ok(())
    }

    fn handle_init_response(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        raw: &[u8],
        msg: Message,
    ) -> Result<(), Error> {
        let Some(hs) = self.hs.as_mut() else {
            return Ok(());
        };
        let p = &msg.payloads;
        if let Some(c) = find_notify(p, NotifyType::COOKIE) {
            if hs.restarts >= MAX_RESTARTS {
                return self.fail(cx, DownReason::Refused(NotifyType::COOKIE));
            }
            hs.restarts += 1;
            hs.cookie = Some(c.data.clone());
            self.pending = None;
            return self.send_init(cx, now);
        }
        if let Some(n) = find_notify(p, NotifyType::INVALID_KE_PAYLOAD) {
            let g = n
                .data
                .get(..2)
                .and_then(|b| b.try_into().ok())
                .map(|b: [u8; 2]| KeGroup(u16::from_be_bytes(b)));
            match g {
                Some(g)
                    if hs.restarts < MAX_RESTARTS
                        && g != hs.group
                        && offers_group(&cx.cfg.ike_proposals, g) =>
                {
                    hs.restarts += 1;
                    hs.group = g;
                    self.pending = None;
                    return self.send_init(cx, now);
                }
                _ => return self.fail(cx, DownReason::Refused(NotifyType::INVALID_KE_PAYLOAD)),
            }
        }
        if let Some(e) = error_notify(p) {
            return self.fail(cx, DownReason::Refused(e));
        }
        let f = found(p);
        let (Some(sa), Some(ke), Some(nr)) = (f.sa, f.ke, f.nonce) else {
            return self.fail(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
        };
        let chosen = match sa.proposals.as_slice() {
            [c] if accepted(&cx.cfg.ike_proposals, c) => c,
            _ => return self.fail(cx, DownReason::Refused(NotifyType::NO_PROPOSAL_CHOSEN)),
        };
        let suite = match IkeSuite::from_proposal(chosen) {
            Ok(s) if s.group == hs.group && ke.group == hs.group => s,
            _ => return self.fail(cx, DownReason::Refused(NotifyType::NO_PROPOSAL_CHOSEN)),
        };
        if nr.len() < 16 || nr.len() > 256 || msg.spi_r == 0 {
            return self.fail(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
        }
        let Some(kex) = hs.ke.as_ref() else {
            return Ok(());
        };
        let shared = match kex.complete(&ke.data) {
            Ok(s) => s,
            Err(_) => return self.fail(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX)),
        };
        self.spi_r = msg.spi_r;
        hs.nr = nr.clone();
        hs.init_resp = raw.to_vec();
        let keys = IkeSaKeys::derive(
            &cx.cfg.provider,
            &suite,
            shared.as_bytes(),
            &hs.ni,
            &hs.nr,
            self.spi_i,
            self.spi_r,
        )?;
        // NAT detection (§2.23).
        let src = find_notify(p, NotifyType::NAT_DETECTION_SOURCE_IP);
        let dst = find_notify(p, NotifyType::NAT_DETECTION_DESTINATION_IP);
        if let (Some(src), Some(dst)) = (src, dst) {
            self.nat_remote = src.data != nat_detection_hash(self.spi_i, self.spi_r, self.remote);
            self.nat_local = dst.data != nat_detection_hash(self.spi_i, self.spi_r, self.local);
            self.natt = self.nat_local || self.nat_remote || cx.cfg.force_encap;
        }
        if self.natt {
            self.local.set_port(NAT_T_PORT);
            self.remote.set_port(NAT_T_PORT);
        }
        self.sk = Some(SkCrypto::new(&cx.cfg.provider, &suite, &keys, true)?);
        self.suite = Some(suite);
        self.keys = Some(keys);
        self.pending = None;
        if let Err(e) = self.send_auth(cx, now) {
            // No key for the peer, or a provider failure: never leave a stuck SA.
            self.down(cx, DownReason::AuthenticationFailed);
            return Err(e);
        }
        Ok(())
    }

    fn send_auth(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        let (Some(hs), Some(keys), Some(suite)) = (self.hs.as_ref(), &self.keys, &self.suite)
        else {
            return Err(Error::InvalidConfig("IKE_AUTH before IKE_SA_INIT"));
        };
        let peer = hs
            .remote_id
            .clone()
            .unwrap_or_else(|| Identity::ip(self.remote.ip()));
        let psk = cx
            .cfg
            .psks
            .psk(&peer)
            .ok_or_else(|| Error::NoPsk(peer.to_string()))?;
        let octets = SignedOctets::new(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_pi,
            &hs.init_req,
            &hs.nr,
            &cx.cfg.local_id,
        )?;
        let auth = psk_auth_payload(&cx.cfg.provider, suite.prf, psk, &octets)?;
        let mut payloads = vec![Payload::IdI(cx.cfg.local_id.clone())];
        if let Some(id) = &hs.remote_id {
            payloads.push(Payload::IdR(id.clone()));
        }
        payloads.push(Payload::Auth(auth));
        if let Some(c) = &hs.child {
            if c.transport {
                payloads.push(notify(NotifyType::USE_TRANSPORT_MODE, &[]));
            }
            payloads.push(Payload::Sa(SaPayload {
                proposals: c.proposals.clone(),
            }));
            payloads.push(Payload::TsI(TsPayload {
                selectors: c.ts_i.clone(),
            }));
            payloads.push(Payload::TsR(TsPayload {
                selectors: c.ts_r.clone(),
            }));
        }
        self.state = State::AuthSent;
        self.request(cx, now, ExchangeType::IKE_AUTH, &payloads, Req::Auth)
    }

    fn handle_auth_response(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        p: &[Payload],
    ) -> Result<(), Error> {
        let Some(hs) = self.hs.take() else {
            return Ok(());
        };
        if find_notify(p, NotifyType::AUTHENTICATION_FAILED).is_some() {
            cx.counters.auth_failures += 1;
            return self.fail(cx, DownReason::AuthenticationFailed);
        }
        let idr = p.iter().find_map(|x| match x {
            Payload::IdR(i) => Some(i),
            _ => None,
        });
        let auth = p.iter().find_map(|x| match x {
            Payload::Auth(a) => Some(a),
            _ => None,
        });
        let (Some(idr), Some(auth)) = (idr, auth) else {
            let e = error_notify(p).unwrap_or(NotifyType::INVALID_SYNTAX);
            return self.fail(cx, DownReason::Refused(e));
        };
        let (Some(keys), Some(suite)) = (&self.keys, self.suite) else {
            return Ok(());
        };
        let id_ok = hs.remote_id.as_ref().is_none_or(|want| want == idr);
        let octets = SignedOctets::new(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_pr,
            &hs.init_resp,
            &hs.ni,
            idr,
        )?;
        if !id_ok
            || verify_psk_auth(
                &cx.cfg.provider,
                suite.prf,
                &cx.cfg.psks,
                idr,
                &octets,
                auth,
            )
            .is_err()
        {
            cx.counters.auth_failures += 1;
            return self.fail(cx, DownReason::AuthenticationFailed);
        }
        self.peer_id = Some(idr.clone());
        self.established(cx, now)?;
        if let Some(req) = hs.child {
            self.finish_child(cx, now, *req, Some((&hs.ni, &hs.nr)), p)?;
        }
        Ok(())
    }

    fn established(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        self.state = State::Established;
        self.deadline = None;
        self.last_heard = now;
        self.rekey_at = Some(cx.rekey_time(now, cx.cfg.ike_lifetime)?);
        self.expire_at = Some(now + cx.cfg.ike_lifetime);
        cx.counters.ike_sas_established += 1;
        let (Some(suite), Some(keys), Some(peer)) = (self.suite, &self.keys, &self.peer_id) else {
            return Ok(());
        };
        cx.event(Event::IkeUp {
            sa: self.id,
            local: self.local,
            remote: self.remote,
            initiator: self.initiator,
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            suite,
            peer_id: peer.clone(),
            keys: Box::new(keys.clone()),
            nat: self.natt,
        });
        Ok(())
    }

    /// Ends the SA: children deleted, `IkeDown`.
    fn fail(&mut self, cx: &mut Cx<'_>, reason: DownReason) -> Result<(), Error> {
        self.down(cx, reason);
        Ok(())
    }

    pub(crate) fn down(&mut self, cx: &mut Cx<'_>, reason: DownReason) {
        if self.state == State::Dead {
            return;
        }
        for c in self.children.drain(..) {
            cx.esp_spis.remove(&c.spi_in);
            cx.events.push_back(Event::ChildDeleted {
                sa: self.id,
                inbound_spi: c.spi_in,
                outbound_spi: c.spi_out,
            });
        }
        self.pending = None;
        self.actions.clear();
        self.delayed.clear();
        self.state = State::Dead;
        cx.events.push_back(Event::IkeDown {
            sa: self.id,
            reason,
        });
    }

    // ----------------------------------------------------------------------------------------
    // IKE_SA_INIT, responder

    /// Answers an IKE_SA_INIT request (after cookie and CAC checks): a new half-open SA, or an
    /// unprotected error response (`Err` side of the result).
    pub(crate) fn respond_init(
        cx: &mut Cx<'_>,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        msg: &Message,
    ) -> Result<Result<IkeSa, Message>, Error> {
        let refuse =
            |ty: NotifyType, data: &[u8]| Ok(Err(init_notify_response(msg.spi_i, ty, data)));
        let f = found(&msg.payloads);
        let (Some(sa), Some(ke), Some(ni)) = (f.sa, f.ke, f.nonce) else {
            return refuse(NotifyType::INVALID_SYNTAX, &[]);
        };
        if ni.len() < 16 || ni.len() > 256 {
            return refuse(NotifyType::INVALID_SYNTAX, &[]);
        }
        let Some(mut chosen) = select(&cx.cfg.ike_proposals, &sa.proposals) else {
            return refuse(NotifyType::NO_PROPOSAL_CHOSEN, &[]);
        };
        let Ok(suite) = IkeSuite::from_proposal(&chosen) else {
            return refuse(NotifyType::NO_PROPOSAL_CHOSEN, &[]);
        };
        if ke.group != suite.group {
            return refuse(NotifyType::INVALID_KE_PAYLOAD, &suite.group.0.to_be_bytes());
        }
        let kex = cx.cfg.provider.start_key_exchange(suite.group)?;
        let Ok(shared) = kex.complete(&ke.data) else {
            return refuse(NotifyType::INVALID_SYNTAX, &[]);
        };
        let id = cx.new_id();
        let mut s = IkeSa::blank(id, now, local, remote);
        s.initiator = false;
        s.state = State::HalfOpen;
        s.spi_i = msg.spi_i;
        s.spi_r = cx.ike_spi()?;
        let nr = cx.random(NONCE_LEN)?;
        chosen.spi = Vec::new();
        let src = find_notify(&msg.payloads, NotifyType::NAT_DETECTION_SOURCE_IP);
        let dst = find_notify(&msg.payloads, NotifyType::NAT_DETECTION_DESTINATION_IP);
        let mut payloads = vec![
            Payload::Sa(SaPayload {
                proposals: vec![chosen],
            }),
            Payload::Ke(KePayload {
                group: suite.group,
                data: kex.public_value().to_vec(),
            }),
            Payload::Nonce(nr.clone()),
        ];
        if let (Some(src), Some(dst)) = (src, dst) {
            s.nat_remote = src.data != nat_detection_hash(s.spi_i, 0, remote);
            s.nat_local = dst.data != nat_detection_hash(s.spi_i, 0, local);
            s.natt = s.nat_local || s.nat_remote || cx.cfg.force_encap;
            let ours = if cx.cfg.force_encap {
                cx.random(20)?
            } else {
                nat_detection_hash(s.spi_i, s.spi_r, local)
            };
            payloads.push(notify(NotifyType::NAT_DETECTION_SOURCE_IP, &ours));
            payloads.push(notify(
                NotifyType::NAT_DETECTION_DESTINATION_IP,
                &nat_detection_hash(s.spi_i, s.spi_r, remote),
            ));
        }
        let resp = Message {
            spi_i: s.spi_i,
            spi_r: s.spi_r,
            minor_version: 0,
            exchange_type: ExchangeType::IKE_SA_INIT,
            flags: Flags::RESPONSE,
            message_id: 0,
            payloads,
        };
        let bytes = resp.to_vec()?;
        let keys = IkeSaKeys::derive(
            &cx.cfg.provider,
            &suite,
            shared.as_bytes(),
            ni,
            &nr,
            s.spi_i,
            s.spi_r,
        )?;
        s.sk = Some(SkCrypto::new(&cx.cfg.provider, &suite, &keys, false)?);
        s.suite = Some(suite);
        s.keys = Some(keys);
        s.hs = Some(Handshake {
            ke: None,
            group: suite.group,
            ni: ni.clone(),
            nr,
            init_req: raw.to_vec(),
            init_resp: bytes.clone(),
            cookie: None,
            restarts: 0,
            child: None,
            remote_id: None,
        });
        s.send_raw(cx, now, &bytes);
        s.last_response = Some((0, bytes));
        s.mid_in = 1;
        s.deadline = Some(now + cx.cfg.half_open_timeout);
        Ok(Ok(s))
    }

    /// Resends the cached IKE_SA_INIT response (a retransmitted request, §2.1).
    pub(crate) fn resend_init_response(&mut self, cx: &mut Cx<'_>, now: Instant) {
        if let Some((0, bytes)) = self.last_response.clone() {
            cx.counters.cached_responses += 1;
            self.send_raw(cx, now, &bytes);
        }
    }

    fn handle_auth_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        let Some(hs) = self.hs.take() else {
            return Ok(());
        };
        let idi = p.iter().find_map(|x| match x {
            Payload::IdI(i) => Some(i),
            _ => None,
        });
        let auth = p.iter().find_map(|x| match x {
            Payload::Auth(a) => Some(a),
            _ => None,
        });
        let (Some(idi), Some(auth), Some(keys), Some(suite)) = (idi, auth, &self.keys, self.suite)
        else {
            self.respond(
                cx,
                now,
                ExchangeType::IKE_AUTH,
                mid,
                &[notify(NotifyType::INVALID_SYNTAX, &[])],
            )?;
            return self.fail(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
        };
        let octets = SignedOctets::new(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_pi,
            &hs.init_req,
            &hs.nr,
            idi,
        )?;
        let psk = cx.cfg.psks.psk(idi);
        let verified = verify_psk_auth(
            &cx.cfg.provider,
            suite.prf,
            &cx.cfg.psks,
            idi,
            &octets,
            auth,
        );
        let (Ok(()), Some(psk)) = (verified, psk) else {
            cx.counters.auth_failures += 1;
            self.respond(
                cx,
                now,
                ExchangeType::IKE_AUTH,
                mid,
                &[notify(NotifyType::AUTHENTICATION_FAILED, &[])],
            )?;
            return self.fail(cx, DownReason::AuthenticationFailed);
        };
        let mine = SignedOctets::new(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_pr,
            &hs.init_resp,
            &hs.ni,
            &cx.cfg.local_id,
        )?;
        let my_auth = psk_auth_payload(&cx.cfg.provider, suite.prf, psk, &mine)?;
        self.peer_id = Some(idi.clone());
        let mut out = vec![
            Payload::IdR(cx.cfg.local_id.clone()),
            Payload::Auth(my_auth),
        ];
        let child = if found(p).sa.is_some() {
            match self.accept_child(cx, p, &hs.ni, Some(&hs.nr), None) {
                Ok((payloads, child)) => {
                    out.extend(payloads);
                    Some(child)
                }
                Err((e, data)) => {
                    out.push(notify(e, &data));
                    None
                }
            }
        } else {
            None
        };
        self.respond(cx, now, ExchangeType::IKE_AUTH, mid, &out)?;
        self.established(cx, now)?;
        if let Some(c) = child {
            self.install(cx, now, c)?;
        }
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // Child SAs

    /// The responder's side of a child SA proposal (IKE_AUTH or CREATE_CHILD_SA): selection,
    /// key exchange, narrowing; returns the response payloads and the child to install, or the
    /// error notification to answer with.
    fn accept_child(
        &mut self,
        cx: &mut Cx<'_>,
        p: &[Payload],
        ni: &[u8],
        auth_nr: Option<&[u8]>,
        rekey_of: Option<u32>,
    ) -> Result<(Vec<Payload>, NewChild), (NotifyType, Vec<u8>)> {
        let plain = |t: NotifyType| (t, Vec::new());
        let in_auth = auth_nr.is_some();
        let f = found(p);
        let (Some(sa), Some(tsi), Some(tsr)) = (f.sa, f.tsi, f.tsr) else {
            return Err(plain(NotifyType::INVALID_SYNTAX));
        };
        let ours: Vec<Proposal> = if in_auth {
            cx.cfg.esp_proposals.iter().map(without_ke).collect()
        } else {
            cx.cfg.esp_proposals.clone()
        };
        let theirs: Vec<Proposal> = if in_auth {
            sa.proposals.iter().map(without_ke).collect()
        } else {
            sa.proposals.clone()
        };
        let mut chosen = select(&ours, &theirs).ok_or(plain(NotifyType::NO_PROPOSAL_CHOSEN))?;
        let spi_out = spi32(&chosen.spi).ok_or(plain(NotifyType::INVALID_SYNTAX))?;
        let suite = esp_suite(&chosen).map_err(|_| plain(NotifyType::NO_PROPOSAL_CHOSEN))?;
        let mut shared = None;
        let mut ker = None;
        if let Some(g) = ke_group(&chosen) {
            match f.ke {
                Some(k) if k.group == g => {
                    let kex = cx
                        .cfg
                        .provider
                        .start_key_exchange(g)
                        .map_err(|_| plain(NotifyType::NO_PROPOSAL_CHOSEN))?;
                    shared = Some(
                        kex.complete(&k.data)
                            .map_err(|_| plain(NotifyType::INVALID_SYNTAX))?,
                    );
                    ker = Some(KePayload {
                        group: g,
                        data: kex.public_value().to_vec(),
                    });
                }
                _ => return Err((NotifyType::INVALID_KE_PAYLOAD, g.0.to_be_bytes().to_vec())),
            }
        }
        // Transport mode through a NAT (§2.23.1): the peer proposes its own (private) address,
        // which we accept when no remote policy is configured.
        let remote_policy = match (&cx.cfg.remote_ts, self.nat_remote) {
            (None, true) => tsi.selectors.clone(),
            _ => self.remote_ts(cx),
        };
        let ts_i = narrow(&tsi.selectors, &remote_policy);
        let ts_r = narrow(&tsr.selectors, &self.local_ts(cx));
        if ts_i.is_empty() || ts_r.is_empty() {
            return Err(plain(NotifyType::TS_UNACCEPTABLE));
        }
        let transport = cx.cfg.mode == Mode::Transport
            && find_notify(p, NotifyType::USE_TRANSPORT_MODE).is_some();
        let spi_in = cx
            .esp_spi()
            .map_err(|_| plain(NotifyType::TEMPORARY_FAILURE))?;
        let nr = match auth_nr {
            Some(n) => n.to_vec(),
            None => cx
                .random(NONCE_LEN)
                .map_err(|_| plain(NotifyType::TEMPORARY_FAILURE))?,
        };
        chosen.spi = spi_in.to_be_bytes().to_vec();
        let mut out = Vec::new();
        if transport {
            out.push(notify(NotifyType::USE_TRANSPORT_MODE, &[]));
        }
        out.push(Payload::Sa(SaPayload {
            proposals: vec![chosen.clone()],
        }));
        if !in_auth {
            out.push(Payload::Nonce(nr.clone()));
            if let Some(k) = ker {
                out.push(Payload::Ke(k));
            }
        }
        out.push(Payload::TsI(TsPayload {
            selectors: ts_i.clone(),
        }));
        out.push(Payload::TsR(TsPayload {
            selectors: ts_r.clone(),
        }));
        Ok((
            out,
            NewChild {
                spi_in,
                spi_out,
                suite,
                esn: esn(&chosen),
                mode: if transport {
                    Mode::Transport
                } else {
                    Mode::Tunnel
                },
                ts_local: ts_r,
                ts_remote: ts_i,
                ni: ni.to_vec(),
                nr,
                shared,
                we_initiated: false,
                rekey_of,
            },
        ))
    }

    /// Installs a negotiated child SA: derives its keys (§2.17) and reports [`Event::ChildUp`].
    fn install(&mut self, cx: &mut Cx<'_>, now: Instant, c: NewChild) -> Result<(), Error> {
        let (Some(keys), Some(suite)) = (&self.keys, self.suite) else {
            return Ok(());
        };
        let derived = ChildSaKeys::derive(
            &cx.cfg.provider,
            suite.prf,
            &keys.sk_d,
            &c.suite,
            c.shared.as_ref().map(Secret::as_bytes),
            &c.ni,
            &c.nr,
        );
        let derived = match derived {
            Ok(d) => d,
            Err(e) => {
                cx.esp_spis.remove(&c.spi_in);
                cx.event(Event::ChildFailed {
                    sa: self.id,
                    error: NotifyType::NO_PROPOSAL_CHOSEN,
                });
                return Err(e);
            }
        };
        let (k_in, k_out) = if c.we_initiated {
            (
                derived.responder_to_initiator,
                derived.initiator_to_responder,
            )
        } else {
            (
                derived.initiator_to_responder,
                derived.responder_to_initiator,
            )
        };
        let lifetime = cx.cfg.child_lifetime;
        let bytes = cx.cfg.child_lifetime_kb.map(|kb| kb.saturating_mul(1024));
        let lifetimes = Lifetimes {
            soft: Lifetime {
                time: None,
                bytes: bytes.map(|b| b - b / 10),
                packets: None,
            },
            hard: Lifetime {
                time: Some(lifetime),
                bytes,
                packets: None,
            },
        };
        let sa_cfg = |spi: u32, k: dmvpn_esp::SaKeys| {
            let mut s = SaConfig::new(spi, c.suite, k, cx.cfg.provider.esp.clone());
            s.mode = c.mode;
            s.esn = c.esn;
            s.replay_window = cx.cfg.replay_window;
            s.lifetimes = lifetimes;
            s
        };
        let inbound = sa_cfg(c.spi_in, k_in);
        let outbound = sa_cfg(c.spi_out, k_out);
        let child = Child {
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            suite: c.suite,
            mode: c.mode,
            ts_local: c.ts_local.clone(),
            ts_remote: c.ts_remote.clone(),
            created: now,
            rekey_at: cx.rekey_time(now, lifetime)?,
            expire_at: now + lifetime,
            state: ChildState::Installed,
            collision: None,
        };
        self.children.push(child);
        cx.counters.child_sas_created += 1;
        if c.rekey_of.is_some() {
            cx.counters.child_rekeys += 1;
        }
        cx.event(Event::ChildUp {
            sa: self.id,
            child: Box::new(ChildSaUp {
                inbound,
                outbound,
                local_ts: c.ts_local,
                remote_ts: c.ts_remote,
                local: self.local,
                remote: self.remote,
                udp_encap: self.natt,
            }),
            rekey_of: c.rekey_of,
        });
        Ok(())
    }

    fn child_failed(&mut self, cx: &mut Cx<'_>, now: Instant, req: &ChildReq, error: NotifyType) {
        cx.esp_spis.remove(&req.spi_in);
        cx.event(Event::ChildFailed { sa: self.id, error });
        if let Some(old) = req.rekey_of {
            if error == NotifyType::CHILD_SA_NOT_FOUND {
                self.remove_child(cx, old);
            } else if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
                c.state = ChildState::Installed;
                if error == NotifyType::TEMPORARY_FAILURE {
                    // §2.25: retry after a short random wait.
                    let wait = Duration::from_secs(1)
                        + cx.jitter(Duration::from_secs(3)).unwrap_or_default();
                    self.delayed.push((now + wait, Action::RekeyChild(old)));
                }
            }
        } else if error == NotifyType::TEMPORARY_FAILURE {
            let wait =
                Duration::from_secs(1) + cx.jitter(Duration::from_secs(3)).unwrap_or_default();
            self.delayed.push((
                now + wait,
                Action::CreateChild(req.ts_i.clone(), req.ts_r.clone()),
            ));
        }
    }

    fn remove_child(&mut self, cx: &mut Cx<'_>, spi_in: u32) -> Option<u32> {
        let i = self.children.iter().position(|c| c.spi_in == spi_in)?;
        let c = self.children.remove(i);
        cx.esp_spis.remove(&c.spi_in);
        cx.event(Event::ChildDeleted {
            sa: self.id,
            inbound_spi: c.spi_in,
            outbound_spi: c.spi_out,
        });
        Some(c.spi_out)
    }

    /// The initiator's end of a child SA exchange (IKE_AUTH or CREATE_CHILD_SA).
    fn finish_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        req: ChildReq,
        auth_nonces: Option<(&[u8], &[u8])>,
        p: &[Payload],
    ) -> Result<(), Error> {
        if let Some(n) = find_notify(p, NotifyType::INVALID_KE_PAYLOAD)
            && auth_nonces.is_none()
        {
            let g = n
                .data
                .get(..2)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map(|b| KeGroup(u16::from_be_bytes(b)));
            if let (Some(g), Some(ke)) = (g, &req.ke)
                && g != ke.group()
                && offers_group(&cx.cfg.esp_proposals, g)
            {
                cx.esp_spis.remove(&req.spi_in);
                return self.start_child(
                    cx,
                    now,
                    req.rekey_of,
                    req.ts_i,
                    req.ts_r,
                    req.transport,
                    Some(g),
                );
            }
        }
        if let Some(e) = error_notify(p) {
            self.child_failed(cx, now, &req, e);
            return Ok(());
        }
        let f = found(p);
        let (Some(sa), Some(tsi), Some(tsr)) = (f.sa, f.tsi, f.tsr) else {
            self.child_failed(cx, now, &req, NotifyType::INVALID_SYNTAX);
            return Ok(());
        };
        let (ni, nr) = match (auth_nonces, f.nonce) {
            (Some((ni, nr)), _) => (ni.to_vec(), nr.to_vec()),
            (None, Some(nr)) => (req.nonce.clone(), nr.clone()),
            (None, None) => {
                self.child_failed(cx, now, &req, NotifyType::INVALID_SYNTAX);
                return Ok(());
            }
        };
        let chosen = match sa.proposals.as_slice() {
            [c] if accepted(&req.proposals, c) => c,
            _ => {
                self.child_failed(cx, now, &req, NotifyType::NO_PROPOSAL_CHOSEN);
                return Ok(());
            }
        };
        let (Some(spi_out), Ok(suite)) = (spi32(&chosen.spi), esp_suite(chosen)) else {
            self.child_failed(cx, now, &req, NotifyType::NO_PROPOSAL_CHOSEN);
            return Ok(());
        };
        let shared = match (&req.ke, ke_group(chosen), f.ke) {
            (None, None, _) => None,
            (Some(ke), Some(g), Some(ker)) if ke.group() == g && ker.group == g => {
                match ke.complete(&ker.data) {
                    Ok(s) => Some(s),
                    Err(_) => {
                        self.child_failed(cx, now, &req, NotifyType::INVALID_SYNTAX);
                        return Ok(());
                    }
                }
            }
            _ => {
                self.child_failed(cx, now, &req, NotifyType::NO_PROPOSAL_CHOSEN);
                return Ok(());
            }
        };
        if !ts_subset(&tsi.selectors, &req.ts_i) || !ts_subset(&tsr.selectors, &req.ts_r) {
            self.child_failed(cx, now, &req, NotifyType::TS_UNACCEPTABLE);
            // The responder installed it: delete it.
            self.actions.push_back(Action::DeleteChild(req.spi_in));
            return Ok(());
        }
        let transport = req.transport && find_notify(p, NotifyType::USE_TRANSPORT_MODE).is_some();
        let new_in = req.spi_in;
        self.install(
            cx,
            now,
            NewChild {
                spi_in: req.spi_in,
                spi_out,
                suite,
                esn: esn(chosen),
                mode: if transport {
                    Mode::Transport
                } else {
                    Mode::Tunnel
                },
                ts_local: tsi.selectors.clone(),
                ts_remote: tsr.selectors.clone(),
                ni: ni.clone(),
                nr: nr.clone(),
                shared,
                we_initiated: true,
                rekey_of: req.rekey_of,
            },
        )?;
        if let Some(old_in) = req.rekey_of
            && let Some(old) = self.children.iter_mut().find(|c| c.spi_in == old_in)
        {
            old.state = ChildState::Rekeyed;
            match old.collision.take() {
                // §2.8.1: the SA created with the lowest of the four nonces is deleted by
                // whoever created it; the other exchange's initiator deletes the old SA.
                Some((peer_min, _peer_new)) => {
                    cx.counters.rekey_collisions += 1;
                    let ours_min = core::cmp::min(ni, nr);
                    if ours_min < peer_min {
                        self.actions.push_back(Action::DeleteChild(new_in));
                    } else {
                        self.actions.push_back(Action::DeleteChild(old_in));
                    }
                }
                None => self.actions.push_back(Action::DeleteChild(old_in)),
            }
        }
        Ok(())
    }

    /// Sends CREATE_CHILD_SA for a new child SA or a child SA rekey (§1.3.1, §1.3.3).
    #[allow(clippy::too_many_arguments)]
    fn start_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        rekey_of: Option<u32>,
        ts_i: Vec<TrafficSelector>,
        ts_r: Vec<TrafficSelector>,
        transport: bool,
        group: Option<KeGroup>,
    ) -> Result<(), Error> {
        let spi_in = cx.esp_spi()?;
        let nonce = cx.random(NONCE_LEN)?;
        let group = group.or_else(|| cx.cfg.esp_proposals.first().and_then(ke_group));
        let ke = match group {
            Some(g) => Some(cx.cfg.provider.start_key_exchange(g)?),
            None => None,
        };
        let proposals = with_spi(&cx.cfg.esp_proposals, &spi_in.to_be_bytes());
        let mut payloads = Vec::new();
        if let Some(old) = rekey_of {
            payloads.push(Payload::Notify(NotifyPayload {
                protocol_id: ProtocolId::ESP,
                spi: old.to_be_bytes().to_vec(),
                notify_type: NotifyType::REKEY_SA,
                data: Vec::new(),
            }));
        }
        if transport {
            payloads.push(notify(NotifyType::USE_TRANSPORT_MODE, &[]));
        }
        payloads.push(Payload::Sa(SaPayload {
            proposals: proposals.clone(),
        }));
        payloads.push(Payload::Nonce(nonce.clone()));
        if let Some(k) = &ke {
            payloads.push(Payload::Ke(KePayload {
                group: k.group(),
                data: k.public_value().to_vec(),
            }));
        }
        payloads.push(Payload::TsI(TsPayload {
            selectors: ts_i.clone(),
        }));
        payloads.push(Payload::TsR(TsPayload {
            selectors: ts_r.clone(),
        }));
        let req = ChildReq {
            spi_in,
            nonce,
            ke,
            proposals,
            ts_i,
            ts_r,
            transport,
            rekey_of,
        };
        self.request(
            cx,
            now,
            ExchangeType::CREATE_CHILD_SA,
            &payloads,
            Req::Child(Box::new(req)),
        )
    }

    fn handle_create_child_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        let ex = ExchangeType::CREATE_CHILD_SA;
        let f = found(p);
        let (Some(sa), Some(ni)) = (f.sa, f.nonce) else {
            return self.respond(cx, now, ex, mid, &[notify(NotifyType::INVALID_SYNTAX, &[])]);
        };
        if sa.proposals.first().map(|x| x.protocol_id) == Some(ProtocolId::IKE) {
            return self.handle_ike_rekey_request(cx, now, mid, p);
        }
        if matches!(
            self.pending.as_ref().map(|x| &x.req),
            Some(Req::RekeyIke(_) | Req::DeleteIke)
        ) {
            // §2.25: we are rekeying or closing the IKE SA.
            return self.respond(
                cx,
                now,
                ex,
                mid,
                &[notify(NotifyType::TEMPORARY_FAILURE, &[])],
            );
        }
        let mut rekey_of = None;
        if let Some(n) = find_notify(p, NotifyType::REKEY_SA) {
            let old = spi32(&n.spi)
                .and_then(|spi| self.children.iter().find(|c| c.spi_out == spi))
                .map(|c| c.spi_in);
            match old {
                Some(o) => rekey_of = Some(o),
                None => {
                    let nf = Payload::Notify(NotifyPayload {
                        protocol_id: n.protocol_id,
                        spi: n.spi.clone(),
                        notify_type: NotifyType::CHILD_SA_NOT_FOUND,
                        data: Vec::new(),
                    });
                    return self.respond(cx, now, ex, mid, &[nf]);
                }
            }
        }
        match self.accept_child(cx, p, ni, None, rekey_of) {
            Ok((payloads, child)) => {
                self.respond(cx, now, ex, mid, &payloads)?;
                if let Some(old_in) = rekey_of
                    && let Some(old) = self.children.iter_mut().find(|c| c.spi_in == old_in)
                {
                    if old.state == ChildState::Rekeying {
                        let lowest = core::cmp::min(child.ni.clone(), child.nr.clone());
                        old.collision = Some((lowest, child.spi_in));
                    } else {
                        old.state = ChildState::Rekeyed;
                    }
                }
                self.install(cx, now, child)
            }
            Err((e, data)) => self.respond(cx, now, ex, mid, &[notify(e, &data)]),
        }
    }

    // ----------------------------------------------------------------------------------------
    // IKE SA rekey (§1.3.2, §2.18)

    fn start_ike_rekey(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        group: Option<KeGroup>,
    ) -> Result<(), Error> {
        let spi = cx.ike_spi()?;
        let nonce = cx.random(NONCE_LEN)?;
        let group = group
            .or_else(|| cx.cfg.ike_proposals.first().and_then(ke_group))
            .ok_or(Error::InvalidConfig("IKE proposal without key exchange"))?;
        let ke = cx.cfg.provider.start_key_exchange(group)?;
        let proposals = with_spi(&cx.cfg.ike_proposals, &spi.to_be_bytes());
        let payloads = vec![
            Payload::Sa(SaPayload {
                proposals: proposals.clone(),
            }),
            Payload::Nonce(nonce.clone()),
            Payload::Ke(KePayload {
                group,
                data: ke.public_value().to_vec(),
            }),
        ];
        let req = IkeRekeyReq {
            spi,
            nonce,
            ke,
            proposals,
        };
        self.request(
            cx,
            now,
            ExchangeType::CREATE_CHILD_SA,
            &payloads,
            Req::RekeyIke(Box::new(req)),
        )
    }

    /// The SA that replaces this one after a rekey: same peer, addresses and children.
    #[allow(clippy::too_many_arguments)]
    fn successor(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        initiator: bool,
        spi_i: u64,
        spi_r: u64,
        suite: IkeSuite,
        keys: IkeSaKeys,
    ) -> Result<(), Error> {
        let id = cx.new_id();
        let mut n = IkeSa::blank(id, now, self.local, self.remote);
        n.initiator = initiator;
        n.spi_i = spi_i;
        n.spi_r = spi_r;
        n.nat_local = self.nat_local;
        n.nat_remote = self.nat_remote;
        n.natt = self.natt;
        n.sk = Some(SkCrypto::new(&cx.cfg.provider, &suite, &keys, initiator)?);
        n.suite = Some(suite);
        n.peer_id = self.peer_id.clone();
        n.state = State::Established;
        n.last_heard = now;
        n.rekey_at = Some(cx.rekey_time(now, cx.cfg.ike_lifetime)?);
        n.expire_at = Some(now + cx.cfg.ike_lifetime);
        n.children = core::mem::take(&mut self.children);
        for c in &mut n.children {
            if c.state == ChildState::Rekeying {
                c.state = ChildState::Installed;
            }
        }
        cx.counters.ike_rekeys += 1;
        cx.event(Event::IkeRekeyed {
            old: self.id,
            new: id,
            spi_i,
            spi_r,
            suite,
            keys: Box::new(keys.clone()),
        });
        n.keys = Some(keys);
        cx.new_sas.push(n);
        Ok(())
    }

    fn handle_ike_rekey_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        let ex = ExchangeType::CREATE_CHILD_SA;
        let fail = |t: NotifyType, d: &[u8]| [notify(t, d)];
        if self.pending.is_some() || self.state != State::Established {
            // §2.25.2: busy (our own rekey or another exchange in flight); the peer retries.
            return self.respond(cx, now, ex, mid, &fail(NotifyType::TEMPORARY_FAILURE, &[]));
        }
        let f = found(p);
        let (Some(sa), Some(ni), Some(ke)) = (f.sa, f.nonce, f.ke) else {
            return self.respond(cx, now, ex, mid, &fail(NotifyType::INVALID_SYNTAX, &[]));
        };
        let Some(mut chosen) = select(&cx.cfg.ike_proposals, &sa.proposals) else {
            return self.respond(cx, now, ex, mid, &fail(NotifyType::NO_PROPOSAL_CHOSEN, &[]));
        };
        let (Ok(suite), Some(spi_i)) = (IkeSuite::from_proposal(&chosen), spi64(&chosen.spi))
        else {
            return self.respond(cx, now, ex, mid, &fail(NotifyType::NO_PROPOSAL_CHOSEN, &[]));
        };
        if ke.group != suite.group {
            let g = suite.group.0.to_be_bytes();
            return self.respond(cx, now, ex, mid, &fail(NotifyType::INVALID_KE_PAYLOAD, &g));
        }
        let kex = cx.cfg.provider.start_key_exchange(suite.group)?;
        let Ok(shared) = kex.complete(&ke.data) else {
            return self.respond(cx, now, ex, mid, &fail(NotifyType::INVALID_SYNTAX, &[]));
        };
        let (Some(old_keys), Some(old_suite)) = (&self.keys, self.suite) else {
            return Ok(());
        };
        let spi_r = cx.ike_spi()?;
        let nr = cx.random(NONCE_LEN)?;
        let keys = old_keys.derive_rekey(
            &cx.cfg.provider,
            old_suite.prf,
            &suite,
            shared.as_bytes(),
            ni,
            &nr,
            spi_i,
            spi_r,
        )?;
        chosen.spi = spi_r.to_be_bytes().to_vec();
        let out = [
            Payload::Sa(SaPayload {
                proposals: vec![chosen],
            }),
            Payload::Nonce(nr),
            Payload::Ke(KePayload {
                group: suite.group,
                data: kex.public_value().to_vec(),
            }),
        ];
        self.respond(cx, now, ex, mid, &out)?;
        self.successor(cx, now, false, spi_i, spi_r, suite, keys)?;
        self.state = State::Rekeyed;
        self.actions.clear();
        self.deadline = Some(now + cx.cfg.half_open_timeout);
        Ok(())
    }

    fn finish_ike_rekey(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        req: IkeRekeyReq,
        p: &[Payload],
    ) -> Result<(), Error> {
        let retry = |cx: &mut Cx<'_>, s: &mut IkeSa| {
            let wait =
                Duration::from_secs(1) + cx.jitter(Duration::from_secs(3)).unwrap_or_default();
            s.delayed.push((now + wait, Action::RekeyIke));
        };
        if let Some(n) = find_notify(p, NotifyType::INVALID_KE_PAYLOAD) {
            let g = n
                .data
                .get(..2)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map(|b| KeGroup(u16::from_be_bytes(b)));
            if let Some(g) = g
                && g != req.ke.group()
                && offers_group(&cx.cfg.ike_proposals, g)
            {
                return self.start_ike_rekey(cx, now, Some(g));
            }
        }
        if error_notify(p).is_some() {
            retry(cx, self);
            return Ok(());
        }
        let f = found(p);
        let (Some(sa), Some(nr), Some(ker)) = (f.sa, f.nonce, f.ke) else {
            retry(cx, self);
            return Ok(());
        };
        let chosen = match sa.proposals.as_slice() {
            [c] if accepted(&req.proposals, c) => c,
            _ => {
                retry(cx, self);
                return Ok(());
            }
        };
        let (Ok(suite), Some(spi_r)) = (IkeSuite::from_proposal(chosen), spi64(&chosen.spi)) else {
            retry(cx, self);
            return Ok(());
        };
        if suite.group != req.ke.group() || ker.group != suite.group {
            retry(cx, self);
            return Ok(());
        }
        let Ok(shared) = req.ke.complete(&ker.data) else {
            retry(cx, self);
            return Ok(());
        };
        let (Some(old_keys), Some(old_suite)) = (&self.keys, self.suite) else {
            return Ok(());
        };
        let keys = old_keys.derive_rekey(
            &cx.cfg.provider,
            old_suite.prf,
            &suite,
            shared.as_bytes(),
            &req.nonce,
            nr,
            req.spi,
            spi_r,
        )?;
        self.successor(cx, now, true, req.spi, spi_r, suite, keys)?;
        // The old SA is deleted by the rekey's initiator (§1.3.2), silently for the caller.
        self.state = State::Deleting;
        self.close_reason = None;
        self.actions.clear();
        self.actions.push_back(Action::DeleteIke);
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // INFORMATIONAL (§1.4)

    fn handle_informational_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        let ex = ExchangeType::INFORMATIONAL;
        let mut delete_ike = false;
        let mut ours = Vec::new();
        for d in p.iter().filter_map(|x| match x {
            Payload::Delete(d) => Some(d),
            _ => None,
        }) {
            if d.protocol_id == ProtocolId::IKE {
                delete_ike = true;
            } else if d.protocol_id == ProtocolId::ESP {
                for spi in d.spis.iter().filter_map(|s| spi32(s)) {
                    let mine = self
                        .children
                        .iter()
                        .find(|c| c.spi_out == spi)
                        .map(|c| c.spi_in);
                    if let Some(i) = mine {
                        self.remove_child(cx, i);
                        ours.push(i.to_be_bytes().to_vec());
                    }
                }
            }
        }
        if delete_ike {
            self.respond(cx, now, ex, mid, &[])?;
            if matches!(self.state, State::Rekeyed)
                || self.close_reason.is_none() && self.state == State::Deleting
            {
                self.state = State::Dead;
            } else {
                self.down(cx, DownReason::DeletedByPeer);
            }
            return Ok(());
        }
        let out = if ours.is_empty() {
            Vec::new()
        } else {
            vec![Payload::Delete(DeletePayload {
                protocol_id: ProtocolId::ESP,
                spi_size: 4,
                spis: ours,
            })]
        };
        self.respond(cx, now, ex, mid, &out)
    }

    // ----------------------------------------------------------------------------------------
    // Input

    /// An IKE_SA_INIT response for this (initiator) SA.
    pub(crate) fn handle_init(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        raw: &[u8],
        msg: Message,
    ) -> Result<(), Error> {
        let expected = matches!(
            self.pending.as_ref(),
            Some(Pending {
                mid: 0,
                req: Req::Init,
                ..
            })
        );
        if self.state != State::InitSent || !expected || msg.message_id != 0 {
            cx.counters.dropped += 1;
            return Ok(());
        }
        self.handle_init_response(cx, now, raw, msg)?;
        self.pump(cx, now)
    }

    /// An SK-protected message for this SA (RFC 7296 §2.1: requests by message ID, a
    /// retransmitted request answered from the cache; responses matched to our request).
    pub(crate) fn handle_protected(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        hdr: &HeaderRepr,
    ) -> Result<(), Error> {
        let Some(sk) = self.sk.as_ref() else {
            cx.counters.dropped += 1;
            return Ok(());
        };
        if self.state == State::Dead {
            cx.counters.dropped += 1;
            return Ok(());
        }
        let response = hdr.flags.response();
        let mid = hdr.message_id;
        if response {
            if self.pending.as_ref().is_none_or(|p| p.mid != mid) {
                cx.counters.dropped += 1;
                return Ok(());
            }
        } else if mid != self.mid_in {
            let cached = self
                .last_response
                .as_ref()
                .filter(|(m, _)| *m == mid)
                .map(|(_, b)| b.clone());
            match cached {
                Some(bytes) if sk.inbound.unprotect(raw).is_ok() => {
                    cx.counters.cached_responses += 1;
                    self.send_raw(cx, now, &bytes);
                }
                _ => cx.counters.dropped += 1,
            }
            return Ok(());
        }
        let un = match sk.inbound.unprotect(raw) {
            Ok(u) => u,
            Err(e) => {
                cx.counters.dropped += 1;
                return Err(e);
            }
        };
        if un.fragment.is_some() {
            cx.counters.dropped += 1;
            return Err(Error::Malformed("IKE fragments are not supported"));
        }
        self.last_heard = now;
        if (self.natt || self.state == State::HalfOpen)
            && (remote != self.remote || local != self.local)
        {
            // NAT traversal (§2.23): follow the peer to its current address and port.
            self.local = local;
            self.remote = remote;
            self.natt = self.natt || local.port() == NAT_T_PORT;
        }
        let payloads = match un.payloads() {
            Ok(p) => p,
            Err(e) => {
                if response {
                    let pend = self.pending.take();
                    if matches!(pend.map(|p| p.req), Some(Req::Auth)) {
                        self.down(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
                    }
                } else {
                    let n = match e {
                        Error::UnsupportedCriticalPayload(t) => {
                            notify(NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD, &[t.0])
                        }
                        _ => notify(NotifyType::INVALID_SYNTAX, &[]),
                    };
                    self.respond(cx, now, hdr.exchange_type, mid, &[n])?;
                    if self.state == State::HalfOpen {
                        self.down(cx, DownReason::Refused(NotifyType::INVALID_SYNTAX));
                    }
                }
                return Err(e);
            }
        };
        if response {
            if let Some(p) = self.pending.take() {
                self.handle_response(cx, now, p.req, &payloads)?;
            }
        } else {
            self.handle_request(cx, now, hdr.exchange_type, mid, &payloads)?;
        }
        self.pump(cx, now)
    }

    fn handle_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        ex: ExchangeType,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        match (self.state, ex) {
            (State::HalfOpen, ExchangeType::IKE_AUTH) => self.handle_auth_request(cx, now, mid, p),
            (State::Established, ExchangeType::CREATE_CHILD_SA) => {
                self.handle_create_child_request(cx, now, mid, p)
            }
            (
                State::Established | State::Rekeyed | State::Deleting,
                ExchangeType::INFORMATIONAL,
            ) => self.handle_informational_request(cx, now, mid, p),
            (State::Rekeyed | State::Deleting, ExchangeType::CREATE_CHILD_SA) => self.respond(
                cx,
                now,
                ex,
                mid,
                &[notify(NotifyType::TEMPORARY_FAILURE, &[])],
            ),
            _ => {
                cx.counters.dropped += 1;
                Ok(())
            }
        }
    }

    fn handle_response(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        req: Req,
        p: &[Payload],
    ) -> Result<(), Error> {
        match req {
            Req::Init => Ok(()),
            Req::Auth => self.handle_auth_response(cx, now, p),
            Req::Child(r) => self.finish_child(cx, now, *r, None, p),
            Req::RekeyIke(r) => self.finish_ike_rekey(cx, now, *r, p),
            Req::Delete | Req::Liveness => Ok(()),
            Req::DeleteIke => {
                match self.close_reason {
                    Some(r) => self.down(cx, r),
                    None => self.state = State::Dead,
                }
                Ok(())
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Commands and timers

    /// Starts queued exchanges while the window (of 1) is free.
    pub(crate) fn pump(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        if self.delayed.iter().any(|(t, _)| *t <= now) {
            let (due, later): (Vec<_>, Vec<_>) =
                self.delayed.drain(..).partition(|(t, _)| *t <= now);
            self.delayed = later;
            self.actions.extend(due.into_iter().map(|(_, a)| a));
        }
        while self.pending.is_none() {
            let Some(front) = self.actions.front() else {
                break;
            };
            let ready = self.state == State::Established
                || (self.state == State::Deleting && *front == Action::DeleteIke);
            if !ready {
                break;
            }
            let Some(a) = self.actions.pop_front() else {
                break;
            };
            match a {
                Action::CreateChild(ts_i, ts_r) => {
                    let transport = cx.cfg.mode == Mode::Transport;
                    self.start_child(cx, now, None, ts_i, ts_r, transport, None)?;
                }
                Action::RekeyChild(spi) => {
                    let Some(c) = self
                        .children
                        .iter_mut()
                        .find(|c| c.spi_in == spi && c.state == ChildState::Installed)
                    else {
                        continue;
                    };
                    c.state = ChildState::Rekeying;
                    let (ts_i, ts_r) = (c.ts_local.clone(), c.ts_remote.clone());
                    let transport = c.mode == Mode::Transport;
                    self.start_child(cx, now, Some(spi), ts_i, ts_r, transport, None)?;
                }
                Action::RekeyIke => self.start_ike_rekey(cx, now, None)?,
                Action::DeleteChild(spi) => {
                    self.remove_child(cx, spi);
                    let d = Payload::Delete(DeletePayload {
                        protocol_id: ProtocolId::ESP,
                        spi_size: 4,
                        spis: vec![spi.to_be_bytes().to_vec()],
                    });
                    self.request(cx, now, ExchangeType::INFORMATIONAL, &[d], Req::Delete)?;
                }
                Action::DeleteIke => {
                    for spi in self.children.iter().map(|c| c.spi_in).collect::<Vec<_>>() {
                        self.remove_child(cx, spi);
                    }
                    self.state = State::Deleting;
                    let d = Payload::Delete(DeletePayload {
                        protocol_id: ProtocolId::IKE,
                        spi_size: 0,
                        spis: Vec::new(),
                    });
                    self.request(cx, now, ExchangeType::INFORMATIONAL, &[d], Req::DeleteIke)?;
                }
                Action::Liveness => {
                    self.request(cx, now, ExchangeType::INFORMATIONAL, &[], Req::Liveness)?;
                }
            }
        }
        Ok(())
    }

    /// Queues a new child SA.
    pub(crate) fn create_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        ts_i: Option<Vec<TrafficSelector>>,
        ts_r: Option<Vec<TrafficSelector>>,
    ) -> Result<(), Error> {
        let ts_i = ts_i.unwrap_or_else(|| self.local_ts(cx));
        let ts_r = ts_r.unwrap_or_else(|| self.remote_ts(cx));
        self.actions.push_back(Action::CreateChild(ts_i, ts_r));
        self.pump(cx, now)
    }

    /// Queues a child SA rekey.
    pub(crate) fn rekey_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        spi_in: u32,
    ) -> Result<(), Error> {
        if !self.children.iter().any(|c| c.spi_in == spi_in) {
            return Err(Error::InvalidConfig("no such child SA"));
        }
        self.actions.push_back(Action::RekeyChild(spi_in));
        self.pump(cx, now)
    }

    /// Queues an IKE SA rekey.
    pub(crate) fn rekey_ike(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        if !self.actions.contains(&Action::RekeyIke) {
            self.actions.push_back(Action::RekeyIke);
        }
        self.pump(cx, now)
    }

    /// Queues the deletion of a child SA.
    pub(crate) fn delete_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        spi_in: u32,
    ) -> Result<(), Error> {
        if !self.children.iter().any(|c| c.spi_in == spi_in) {
            return Err(Error::InvalidConfig("no such child SA"));
        }
        self.actions.push_back(Action::DeleteChild(spi_in));
        self.pump(cx, now)
    }

    /// Closes the SA: a Delete once established, at once before.
    pub(crate) fn close(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        match self.state {
            State::InitSent | State::AuthSent | State::HalfOpen => {
                self.down(cx, DownReason::Closed);
                Ok(())
            }
            State::Established => {
                self.close_reason = Some(DownReason::Closed);
                self.actions.clear();
                self.actions.push_back(Action::DeleteIke);
                self.pump(cx, now)
            }
            State::Rekeyed | State::Deleting | State::Dead => Ok(()),
        }
    }

    /// Queues a liveness check now (§2.4).
    pub(crate) fn check_liveness(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        if !self.actions.contains(&Action::Liveness) {
            self.actions.push_back(Action::Liveness);
        }
        self.pump(cx, now)
    }

    /// Notes that the peer is alive (ESP traffic from it, for example).
    pub(crate) fn note_activity(&mut self, now: Instant) {
        if now > self.last_heard {
            self.last_heard = now;
        }
    }

    fn keepalive_due(&self, cx: &Cx<'_>) -> Option<Instant> {
        (self.natt && self.nat_local && self.state == State::Established)
            .then(|| self.last_sent + cx.cfg.nat_keepalive)
    }

    fn liveness_due(&self, cx: &Cx<'_>) -> Option<Instant> {
        let idle = cx.cfg.liveness_idle?;
        (self.state == State::Established && self.pending.is_none() && self.actions.is_empty())
            .then(|| self.last_heard + idle)
    }

    /// When [`IkeSa::handle_timeout`] must next run.
    pub(crate) fn next_timeout(&self, cfg: &Config) -> Option<Instant> {
        let cx_cfg = cfg;
        let mut t: Option<Instant> = None;
        let mut add = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        add(self.pending.as_ref().map(|p| p.next));
        add(self.deadline);
        add(self.delayed.iter().map(|(t, _)| *t).min());
        if self.state == State::Established {
            add(self.rekey_at);
            add(self.expire_at);
            for c in &self.children {
                add(Some(c.expire_at));
                if c.state == ChildState::Installed {
                    add(Some(c.rekey_at));
                }
            }
            if self.natt && self.nat_local {
                add(Some(self.last_sent + cx_cfg.nat_keepalive));
            }
            if let Some(idle) = cx_cfg.liveness_idle
                && self.pending.is_none()
                && self.actions.is_empty()
            {
                add(Some(self.last_heard + idle));
            }
        }
        t
    }

    /// Retransmissions, lifetimes, liveness checks, keepalives.
    pub(crate) fn handle_timeout(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        if let Some(p) = self.pending.as_mut()
            && p.next <= now
        {
            if p.sent >= cx.cfg.retransmit.tries {
                let req = self.pending.take().map(|p| p.req);
                match req {
                    Some(Req::Init | Req::Auth) => self.down(cx, DownReason::Timeout),
                    Some(Req::DeleteIke) => match self.close_reason {
                        Some(r) => self.down(cx, r),
                        None => self.state = State::Dead,
                    },
                    _ => {
                        cx.counters.peers_dead += 1;
                        cx.event(Event::PeerDead {
                            sa: self.id,
                            remote: self.remote,
                        });
                        self.down(cx, DownReason::PeerDead);
                    }
                }
                return Ok(());
            }
            p.sent += 1;
            p.wait = (p.wait * 2).min(cx.cfg.retransmit.max_interval);
            p.next = now + p.wait;
            let bytes = p.bytes.clone();
            cx.counters.retransmits += 1;
            self.send_raw(cx, now, &bytes);
        }
        if self.deadline.is_some_and(|d| d <= now) {
            self.deadline = None;
            match self.state {
                State::HalfOpen => {
                    self.down(cx, DownReason::HalfOpenExpired);
                    return Ok(());
                }
                State::Rekeyed => {
                    self.state = State::Dead;
                    return Ok(());
                }
                _ => {}
            }
        }
        if self.state == State::Established {
            if self.expire_at.is_some_and(|t| t <= now) {
                self.expire_at = None;
                self.close_reason = Some(DownReason::Closed);
                self.actions.clear();
                self.actions.push_back(Action::DeleteIke);
            } else if self.rekey_at.is_some_and(|t| t <= now) {
                self.rekey_at = None;
                self.actions.push_back(Action::RekeyIke);
            }
            let expired: Vec<u32> = self
                .children
                .iter()
                .filter(|c| c.expire_at <= now)
                .map(|c| c.spi_in)
                .collect();
            for spi in expired {
                self.actions.push_back(Action::DeleteChild(spi));
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                    c.expire_at = now + Duration::from_secs(3600 * 24 * 365);
                    c.state = ChildState::Rekeyed;
                }
            }
            for c in &mut self.children {
                if c.state == ChildState::Installed && c.rekey_at <= now {
                    c.rekey_at = c.expire_at;
                    self.actions.push_back(Action::RekeyChild(c.spi_in));
                }
            }
            if self.liveness_due(cx).is_some_and(|t| t <= now) {
                self.actions.push_back(Action::Liveness);
            }
            if self.keepalive_due(cx).is_some_and(|t| t <= now) {
                self.last_sent = now;
                cx.transmits.push_back(Transmit {
                    local: self.local,
                    remote: self.remote,
                    payload: NAT_KEEPALIVE.to_vec(),
                });
            }
        }
        self.pump(cx, now)
    }

    /// A status snapshot.
    pub(crate) fn status(&self, now: Instant) -> IkeSaStatus {
        IkeSaStatus {
            sa: self.id,
            local: self.local,
            remote: self.remote,
            state: match self.state {
                State::InitSent => IkeState::InitSent,
                State::AuthSent => IkeState::AuthSent,
                State::HalfOpen => IkeState::HalfOpen,
                State::Established => IkeState::Ready,
                State::Rekeyed => IkeState::Rekeyed,
                State::Deleting | State::Dead => IkeState::Deleting,
            },
            initiator: self.initiator,
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            suite: self.suite,
            peer_id: self.peer_id.clone(),
            nat: self.natt,
            age: now.saturating_duration_since(self.created),
            children: self
                .children
                .iter()
                .map(|c| ChildStatus {
                    inbound_spi: c.spi_in,
                    outbound_spi: c.spi_out,
                    mode: c.mode,
                    suite: c.suite,
                    local_ts: c.ts_local.clone(),
                    remote_ts: c.ts_remote.clone(),
                    age: now.saturating_duration_since(c.created),
                })
                .collect(),
        }
    }

    /// Inbound SPIs of the child SAs.
    pub(crate) fn child_spis(&self) -> Vec<u32> {
        self.children.iter().map(|c| c.spi_in).collect()
    }
}

/// A negotiated child SA, ready to install.
struct NewChild {
    spi_in: u32,
    spi_out: u32,
    suite: Suite,
    esn: bool,
    mode: Mode,
    ts_local: Vec<TrafficSelector>,
    ts_remote: Vec<TrafficSelector>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    shared: Option<Secret>,
    we_initiated: bool,
    rekey_of: Option<u32>,
}
