//! What the unit tests of the exchanges share: a node's outputs without an endpoint, and two IKE
//! SAs talking to each other directly.

use core::net::SocketAddr;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_esp::wire::udp_encap::NAT_T_PORT;

use crate::auth::{Psk, PskTable};
use crate::config::Config;
use crate::crypto::IkeCryptoProvider;
use crate::event::{Counters, DownReason, Event};
use crate::queue::Bounded;
use crate::wire::{ExchangeType, Header, HeaderRepr, Identity, Message, Payload};
use crate::{Error, Transmit};

use super::{Cx, IkeSa, State};

/// The initiator's address.
pub(super) const A: &str = "192.0.2.1:500";
/// The responder's address.
pub(super) const B: &str = "192.0.2.2:500";

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A configuration for `me` sharing the key `psk` with `peer`, randomness from `seed`.
pub(super) fn config(me: &str, peer: &str, psk: &str, seed: u8) -> Config {
    let mut psks = PskTable::new();
    psks.insert(Identity::fqdn(peer), Psk::from(psk));
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])));
    Config::new(provider, Identity::fqdn(me), psks)
        .with_ike_proposals(&["aes256gcm16-prfsha256-x25519", "aes128-sha256-modp2048"])
        .unwrap()
        .with_esp_proposals(&["aes256gcm16", "aes128-sha256"])
        .unwrap()
}

/// What an endpoint keeps for its SAs: configuration, output queues, counters, SPIs.
pub(super) struct Node {
    pub cfg: Config,
    pub transmits: Bounded<Transmit>,
    pub events: Bounded<Event>,
    pub counters: Counters,
    pub esp_spis: HashSet<u32>,
    pub next_id: u64,
    /// IKE SAs created by IKE SA rekeys.
    pub new_sas: Vec<IkeSa>,
}

impl Node {
    pub fn new(cfg: Config) -> Node {
        Node {
            transmits: Bounded::new(cfg.max_transmits),
            events: Bounded::new(cfg.max_events),
            cfg,
            counters: Counters::default(),
            esp_spis: HashSet::new(),
            next_id: 0,
            new_sas: Vec::new(),
        }
    }

    /// Runs `f` with this node's context (as the endpoint does around every call).
    pub fn run<R>(&mut self, f: impl FnOnce(&mut Cx<'_>) -> R) -> R {
        let mut cx = Cx {
            cfg: &self.cfg,
            transmits: &mut self.transmits,
            events: &mut self.events,
            counters: &mut self.counters,
            esp_spis: &mut self.esp_spis,
            next_id: &mut self.next_id,
            new_sas: Vec::new(),
        };
        let r = f(&mut cx);
        let new = core::mem::take(&mut cx.new_sas);
        self.new_sas.extend(new);
        r
    }

    /// Every datagram queued, oldest first.
    pub fn sent(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.transmits.pop()).collect()
    }

    /// The one datagram queued.
    pub fn sent_one(&mut self) -> Transmit {
        let mut v = self.sent();
        assert_eq!(v.len(), 1, "expected exactly one datagram");
        v.remove(0)
    }

    /// Every event queued, oldest first.
    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.events.pop()).collect()
    }
}

/// The IKE message of a datagram (after the non-ESP marker on port 4500).
pub(super) fn ike_bytes(t: &Transmit) -> &[u8] {
    if t.local().port() == NAT_T_PORT {
        t.payload.get(4..).unwrap()
    } else {
        &t.payload
    }
}

/// The header of a datagram's IKE message.
pub(super) fn header(t: &Transmit) -> HeaderRepr {
    HeaderRepr::parse(&Header::new_checked(ike_bytes(t)).unwrap()).unwrap()
}

/// An unprotected message (IKE_SA_INIT).
pub(super) fn plain(t: &Transmit) -> Message {
    Message::parse(ike_bytes(t)).unwrap()
}

/// The decrypted payloads of a datagram `sa` can read (one its peer sent).
pub(super) fn inner(sa: &IkeSa, t: &Transmit) -> Vec<Payload> {
    let sk = sa.sk.as_ref().unwrap();
    sk.inbound
        .unprotect(ike_bytes(t))
        .unwrap()
        .payloads()
        .unwrap()
}

/// Hands `t` (sent by the peer) to `sa` as the endpoint would.
pub(super) fn deliver(
    node: &mut Node,
    sa: &mut IkeSa,
    now: Instant,
    t: &Transmit,
) -> Result<(), Error> {
    let hdr = header(t);
    let raw = ike_bytes(t);
    node.run(|cx| {
        if hdr.exchange_type == ExchangeType::IKE_SA_INIT {
            sa.handle_init(cx, now, raw, Message::parse(raw)?)
        } else {
            sa.handle_protected(cx, now, t.remote(), t.local(), raw, &hdr)
        }
    })
}

/// Moves datagrams between the two SAs until both are quiet; how many were moved.
pub(super) fn shuttle(p: &mut Pair, now: Instant) -> usize {
    let mut moved = 0;
    loop {
        let (to_r, to_i) = (p.ni.sent(), p.nr.sent());
        if to_r.is_empty() && to_i.is_empty() {
            return moved;
        }
        moved += to_r.len() + to_i.len();
        for t in &to_r {
            deliver(&mut p.nr, &mut p.r, now, t).unwrap();
        }
        for t in &to_i {
            deliver(&mut p.ni, &mut p.i, now, t).unwrap();
        }
    }
}

/// An initiator and a responder with their SAs.
pub(super) struct Pair {
    pub ni: Node,
    pub i: IkeSa,
    pub nr: Node,
    pub r: IkeSa,
}

/// An initiator SA that has sent IKE_SA_INIT (still queued on its node).
pub(super) fn initiator(cfg: Config, now: Instant) -> (Node, IkeSa) {
    let mut n = Node::new(cfg);
    let sa = n
        .run(|cx| {
            let hub = Some(Identity::fqdn("hub"));
            IkeSa::initiate(cx, now, addr(A), addr(B), hub, None, None)
        })
        .unwrap();
    (n, sa)
}

/// The responder's answer to an IKE_SA_INIT request: its new SA, or the refusal it sends.
pub(super) fn respond(n: &mut Node, now: Instant, t: &Transmit) -> Result<IkeSa, Message> {
    let raw = ike_bytes(t);
    let msg = Message::parse(raw).unwrap();
    n.run(|cx| IkeSa::respond_init(cx, now, addr(B), addr(A), raw, &msg))
        .unwrap()
}

/// The two sides up to their first IKE_AUTH request from `cfg_i` and `cfg_r`: the responder
/// half-open, the initiator's IKE_AUTH request queued.
pub(super) fn half_open(cfg_i: Config, cfg_r: Config, now: Instant) -> Pair {
    let (mut ni, mut i) = initiator(cfg_i, now);
    let mut nr = Node::new(cfg_r);
    let init = ni.sent_one();
    let Ok(r) = respond(&mut nr, now, &init) else {
        panic!("IKE_SA_INIT refused");
    };
    deliver(&mut ni, &mut i, now, &nr.sent_one()).unwrap();
    assert_eq!((i.state, r.state), (State::AuthSent, State::HalfOpen));
    Pair { ni, i, nr, r }
}

/// An established pair ("spoke" initiates to "hub") with one child SA each; the events of
/// bringing it up are drained.
pub(super) fn established(now: Instant) -> Pair {
    established_with(
        config("spoke", "hub", "secret", 1),
        config("hub", "spoke", "secret", 2),
        now,
    )
}

/// [`established`] with these configurations.
pub(super) fn established_with(cfg_i: Config, cfg_r: Config, now: Instant) -> Pair {
    let mut p = half_open(cfg_i, cfg_r, now);
    shuttle(&mut p, now);
    assert_eq!(
        (p.i.state, p.r.state),
        (State::Established, State::Established)
    );
    p.ni.events();
    p.nr.events();
    p
}

/// The reason of the `IkeDown` among `events`, if any.
pub(super) fn down_reason(events: &[Event]) -> Option<DownReason> {
    events.iter().find_map(|e| match e {
        Event::IkeDown { reason, .. } => Some(*reason),
        _ => None,
    })
}
