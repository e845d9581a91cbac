//! One IKE SA and its child SAs: the exchanges of RFC 7296 as a state machine driven by
//! [`crate::Endpoint`].
//!
//! The state and the helpers every exchange shares live here; each exchange has its module:
//!
//! - [`exchange`]: the message-ID window (§2.1): sending requests and responses, dispatching
//!   what arrives, starting queued exchanges;
//! - [`sa_init`]: IKE_SA_INIT (§1.2), initiator and responder, with cookies and
//!   INVALID_KE_PAYLOAD restarts;
//! - [`auth`]: IKE_AUTH (§1.2, §2.15) with the first child SA;
//! - [`child`]: CREATE_CHILD_SA for a new child SA and for a child SA rekey (§1.3.1, §1.3.3,
//!   §2.8.1 collisions);
//! - [`rekey_ike`]: CREATE_CHILD_SA rekeying the IKE SA (§1.3.2, §2.18);
//! - [`informational`]: INFORMATIONAL, deletes and liveness checks (§1.4, §2.4);
//! - [`timers`]: the timer table every deadline comes from, and what happens when one passes.

mod auth;
mod child;
mod exchange;
mod informational;
mod rekey_ike;
mod sa_init;
#[cfg(test)]
mod testutil;
mod timers;

use core::net::SocketAddr;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_esp::{EncryptionAlgorithm, IntegrityAlgorithm, Mode, Suite};
use dmvpn_wire::be;

use crate::auth::PskAuthKey;
use crate::config::Config;
use crate::crypto::KeyExchange;
use crate::event::{ChildStatus, Counters, DownReason, Event, IkeSaId, IkeSaStatus, IkeState};
use crate::keys::IkeSaKeys;
use crate::queue::Bounded;
use crate::sk::SkCrypto;
use crate::transform::{IkeSuite, KeGroup, TransformType};
use crate::wire::{
    ExchangeType, Flags, Identity, KePayload, Message, NotifyPayload, NotifyType, Payload,
    Proposal, SaPayload, TrafficSelector, TsPayload, be16, be32, be64,
};
use crate::{Error, Secret, Transmit};

/// Nonce length we send (§2.10: at least half the PRF key size, at least 16).
const NONCE_LEN: usize = 32;
/// How many COOKIE or INVALID_KE_PAYLOAD restarts an initiator accepts (§2.6, §1.2).
const MAX_RESTARTS: u8 = 3;

/// Shared state an IKE SA works with: configuration, outputs, counters, SPI allocation.
pub(crate) struct Cx<'a> {
    pub cfg: &'a Config,
    pub transmits: &'a mut Bounded<Transmit>,
    pub events: &'a mut Bounded<Event>,
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
        Ok(be::u64(&b, 0))
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
            let v = be::u32(&b, 0);
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

    /// Queues an event; counted in [`Counters::events_dropped`] if the queue is full.
    pub(crate) fn event(&mut self, e: Event) {
        if !self.events.push(e) {
            self.counters.events_dropped += 1;
        }
    }

    /// Queues a datagram; counted in [`Counters::transmits_dropped`] if the queue is full.
    pub(crate) fn transmit(&mut self, t: Transmit) {
        if !self.transmits.push(t) {
            self.counters.transmits_dropped += 1;
        }
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
    /// The initiator's AUTH key and the identity its PSK was looked up by, kept from its
    /// IKE_AUTH request to verify the response with when the responder's identity is the same.
    psk_key: Option<(Identity, PskAuthKey)>,
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
    /// Shared with the `IkeUp` / `IkeRekeyed` events (no copies of the keys).
    keys: Option<Arc<IkeSaKeys>>,
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

/// An ESP SPI field: exactly 4 bytes (RFC 7296 §3.3.1), anything else is no SPI.
fn spi32(b: &[u8]) -> Option<u32> {
    be32(b, 0).filter(|_| b.len() == 4)
}

/// An IKE SPI field (in an IKE SA rekey proposal): exactly 8 bytes (§3.3.1).
fn spi64(b: &[u8]) -> Option<u64> {
    be64(b, 0).filter(|_| b.len() == 8)
}

/// The group an INVALID_KE_PAYLOAD notification asks for (its first two data bytes, §3.10.1).
fn requested_group(n: &NotifyPayload) -> Option<KeGroup> {
    be16(&n.data, 0).map(KeGroup)
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
        cx.cfg.local_ts.clone().unwrap_or_else(|| {
            vec![TrafficSelector::host(
                self.local.ip(),
                cx.cfg.host_ts_protocol,
            )]
        })
    }

    fn remote_ts(&self, cx: &Cx<'_>) -> Vec<TrafficSelector> {
        cx.cfg.remote_ts.clone().unwrap_or_else(|| {
            vec![TrafficSelector::host(
                self.remote.ip(),
                cx.cfg.host_ts_protocol,
            )]
        })
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
            cx.event(Event::ChildDeleted {
                sa: self.id,
                inbound_spi: c.spi_in,
                outbound_spi: c.spi_out,
            });
        }
        self.pending = None;
        self.actions.clear();
        self.delayed.clear();
        self.state = State::Dead;
        cx.event(Event::IkeDown {
            sa: self.id,
            reason,
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::testutil::{A, B, Node, addr, config};

    #[test]
    fn spi_fields_have_exactly_their_size() {
        assert_eq!(spi32(&[0, 0, 1, 0]), Some(256));
        assert_eq!(spi32(&[0, 0, 1]), None);
        assert_eq!(spi32(&[0, 0, 1, 0, 0]), None, "an 8-byte SPI is no ESP SPI");
        assert_eq!(spi64(&[0, 0, 0, 0, 0, 0, 0, 7]), Some(7));
        assert_eq!(spi64(&[0, 0, 0, 7]), None);
    }

    #[test]
    fn invalid_ke_names_the_group_in_its_first_two_bytes() {
        let n = |d: &[u8]| NotifyPayload::new(NotifyType::INVALID_KE_PAYLOAD, d);
        assert_eq!(requested_group(&n(&[0, 14])), Some(KeGroup::MODP_2048));
        assert_eq!(requested_group(&n(&[0, 31, 9])), Some(KeGroup::CURVE25519));
        assert_eq!(requested_group(&n(&[14])), None);
    }

    #[test]
    fn full_output_queues_drop_and_count() {
        let now = Instant::now();
        let mut cfg = config("spoke", "hub", "secret", 1);
        cfg.max_transmits = 1;
        cfg.max_events = 1;
        let mut n = Node::new(cfg);
        let mut sas: Vec<IkeSa> = (0..3)
            .map(|_| {
                n.run(|cx| IkeSa::initiate(cx, now, addr(A), addr(B), None, None, None))
                    .unwrap()
            })
            .collect();
        assert_eq!(n.counters.transmits_dropped, 2);
        let kept = n.sent_one();
        assert_eq!(
            kept.payload,
            sas[0].pending.as_ref().unwrap().bytes,
            "the first one kept"
        );
        for sa in &mut sas {
            n.run(|cx| sa.down(cx, DownReason::Closed));
        }
        assert_eq!(n.counters.events_dropped, 2);
        assert!(matches!(n.events().as_slice(), [Event::IkeDown { sa, .. }] if *sa == sas[0].id));
        // Room again once drained.
        n.run(|cx| cx.transmit(kept.clone()));
        assert_eq!(n.sent(), vec![kept]);
        assert_eq!(n.counters.transmits_dropped, 2);
    }
}
