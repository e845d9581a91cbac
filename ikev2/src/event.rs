//! What the state machines hand to their caller: datagrams to send, events, counters and status
//! snapshots.

use core::fmt;
use core::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::keys::IkeSaKeys;
use crate::transform::IkeSuite;
use crate::wire::{ExchangeType, Identity, NotifyType, TrafficSelector};

/// Identifies one IKE SA of an [`crate::Endpoint`]. A rekeyed IKE SA gets a new id
/// ([`Event::IkeRekeyed`] says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IkeSaId(pub u64);

impl fmt::Display for IkeSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ike#{}", self.0)
    }
}

/// A datagram to send, in the family's one shape: the endpoint's are UDP
/// ([`dmvpn_wire::Proto::Udp`]) from port 500, or 4500 once NAT traversal floated. On
/// port 4500 the payload already starts with the non-ESP marker (RFC 3948 §2.2), or is a NAT
/// keepalive (one 0xFF byte, §2.3).
pub use dmvpn_wire::Transmit;

/// Why an IKE SA went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownReason {
    /// We closed it ([`crate::Endpoint::close`]) or its hard lifetime ended.
    Closed,
    /// The peer deleted it.
    DeletedByPeer,
    /// The handshake got no answer after every retransmission.
    Timeout,
    /// An established SA's peer stopped answering (liveness check or any request).
    PeerDead,
    /// AUTH did not verify, or the peer said AUTHENTICATION_FAILED.
    AuthenticationFailed,
    /// The peer answered the handshake with this error notification, or we refused its
    /// request with it.
    Refused(NotifyType),
    /// A half-open SA waited too long for IKE_AUTH.
    HalfOpenExpired,
}

/// A child SA that came up: the parameters of its two `esp` SAs and where they carry traffic.
#[derive(Debug, Clone)]
pub struct ChildSaUp {
    /// The inbound ESP SA (our SPI).
    pub inbound: dmvpn_esp::SaConfig,
    /// The outbound ESP SA (the peer's SPI).
    pub outbound: dmvpn_esp::SaConfig,
    /// Our traffic selectors (TSi when we initiated the exchange that created it, else TSr).
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's traffic selectors.
    pub remote_ts: Vec<TrafficSelector>,
    /// Our address and port (4500 when ESP is UDP-encapsulated).
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// Whether ESP goes in UDP (RFC 3948) between `local` and `remote`: a NAT was detected
    /// (or forced).
    pub udp_encap: bool,
}

/// Something that happened, polled with [`crate::Endpoint::poll_event`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// An IKE SA is established (after IKE_AUTH).
    IkeUp {
        /// The SA.
        sa: IkeSaId,
        /// Our address and port.
        local: SocketAddr,
        /// The peer's address and port.
        remote: SocketAddr,
        /// Whether we were the initiator.
        initiator: bool,
        /// The initiator's SPI.
        spi_i: u64,
        /// The responder's SPI.
        spi_r: u64,
        /// The negotiated algorithms.
        suite: IkeSuite,
        /// The authenticated peer identity.
        peer_id: Identity,
        /// The SA's keys (redacted in `Debug`; for an explicit key log only): shared with the
        /// SA, not copied, and zeroized when the last holder drops them.
        keys: Arc<IkeSaKeys>,
        /// Whether a NAT was detected (or forced) and IKE and ESP use UDP port 4500.
        nat: bool,
        /// Whether a NAT is in front of us (§2.23: our NAT_DETECTION_DESTINATION_IP did not
        /// match; we send the keepalives), as opposed to only in front of the peer.
        behind_nat: bool,
    },
    /// An IKE SA was rekeyed (§2.18): its child SAs now belong to `new`.
    IkeRekeyed {
        /// The old SA (being deleted).
        old: IkeSaId,
        /// The new SA.
        new: IkeSaId,
        /// The new SA's initiator SPI.
        spi_i: u64,
        /// The new SA's responder SPI.
        spi_r: u64,
        /// The new SA's algorithms.
        suite: IkeSuite,
        /// The new SA's keys (redacted in `Debug`; shared with the SA, not copied).
        keys: Arc<IkeSaKeys>,
    },
    /// An IKE SA is gone, with every child SA it had (each also reported by
    /// [`Event::ChildDeleted`] first).
    IkeDown {
        /// The SA.
        sa: IkeSaId,
        /// Why.
        reason: DownReason,
    },
    /// The peer of an established IKE SA stopped answering (reported before `IkeDown`).
    PeerDead {
        /// The SA.
        sa: IkeSaId,
        /// The peer's address.
        remote: SocketAddr,
    },
    /// The peer of an established IKE SA behind a NAT now sends from another address or port
    /// (its NAT mapping changed: a rebinding, or a mapping re-created after it timed out), as
    /// an authenticated IKE message showed, or as [`crate::Endpoint::peer_moved`] was told
    /// after authenticated ESP in UDP (RFC 7296 §2.23: the side not behind the NAT follows
    /// the peer). IKE messages go to `to` from now on; ESP in UDP should too.
    PeerMoved {
        /// The SA.
        sa: IkeSaId,
        /// The address and port it had.
        from: SocketAddr,
        /// The address and port it has now.
        to: SocketAddr,
    },
    /// A child SA is up: install its ESP SAs.
    ChildUp {
        /// The IKE SA it belongs to.
        sa: IkeSaId,
        /// The ESP parameters.
        child: Box<ChildSaUp>,
        /// The inbound SPI of the child SA it replaces, for a rekey.
        rekey_of: Option<u32>,
    },
    /// A child SA is gone: remove its ESP SAs.
    ChildDeleted {
        /// The IKE SA it belonged to.
        sa: IkeSaId,
        /// Our inbound SPI.
        inbound_spi: u32,
        /// The peer's (outbound) SPI.
        outbound_spi: u32,
    },
    /// We refused a peer's request: an error notification went out (NO_PROPOSAL_CHOSEN,
    /// INVALID_KE_PAYLOAD, AUTHENTICATION_FAILED, TS_UNACCEPTABLE, INVALID_SYNTAX, …), in an
    /// unprotected IKE_SA_INIT answer or in a protected response. One event per refusal sent
    /// (a retransmitted answer from the cache is not reported again).
    Refused {
        /// The IKE SA the request belonged to; `None` for IKE_SA_INIT refusals, which create
        /// no SA.
        sa: Option<IkeSaId>,
        /// The peer's address and port.
        remote: SocketAddr,
        /// The exchange of the refused request.
        exchange: ExchangeType,
        /// The error notification sent.
        reason: NotifyType,
    },
    /// Creating or rekeying a child SA failed with this notification (the IKE SA stays).
    ChildFailed {
        /// The IKE SA.
        sa: IkeSaId,
        /// The error the peer sent, or that we found in its answer.
        error: NotifyType,
    },
}

/// Endpoint-wide counters, in the spirit of `show crypto ikev2 stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Times a NATed peer was followed to a new address or port ([`Event::PeerMoved`]).
    pub peer_moves: u64,
    /// IKE SAs established (initiator and responder).
    pub ike_sas_established: u64,
    /// IKE SAs rekeyed.
    pub ike_rekeys: u64,
    /// Child SAs created (rekeys included).
    pub child_sas_created: u64,
    /// Child SAs rekeyed.
    pub child_rekeys: u64,
    /// Requests retransmitted.
    pub retransmits: u64,
    /// Retransmitted requests answered from the cached response.
    pub cached_responses: u64,
    /// COOKIE notifications sent (§2.6).
    pub cookies_sent: u64,
    /// IKE_SA_INIT requests refused by Call Admission Control.
    pub cac_rejected: u64,
    /// AUTH payloads that did not verify.
    pub auth_failures: u64,
    /// Error notifications sent.
    pub errors_sent: u64,
    /// Datagrams dropped: unparsable, unknown SPI, bad integrity, unexpected message ID.
    pub dropped: u64,
    /// Peers declared dead.
    pub peers_dead: u64,
    /// Rekey collisions resolved (§2.8.1).
    pub rekey_collisions: u64,
    /// Datagrams dropped because the transmit queue was full
    /// ([`crate::Config::max_transmits`]; requests among them are retransmitted).
    pub transmits_dropped: u64,
    /// Events dropped because the event queue was full ([`crate::Config::max_events`]).
    pub events_dropped: u64,
}

/// The state of an IKE SA, as `show crypto ikev2 sa` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IkeState {
    /// IKE_SA_INIT sent (initiator).
    InitSent,
    /// IKE_AUTH sent (initiator).
    AuthSent,
    /// IKE_SA_INIT answered, waiting for IKE_AUTH (responder): half-open.
    HalfOpen,
    /// Established (`READY`).
    Ready,
    /// Replaced by a rekey, waiting to be deleted.
    Rekeyed,
    /// Being deleted.
    Deleting,
}

/// A child SA in a status snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildStatus {
    /// Our inbound SPI.
    pub inbound_spi: u32,
    /// The peer's SPI.
    pub outbound_spi: u32,
    /// Transport or tunnel.
    pub mode: dmvpn_esp::Mode,
    /// The ESP algorithms.
    pub suite: dmvpn_esp::Suite,
    /// Our selectors.
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's selectors.
    pub remote_ts: Vec<TrafficSelector>,
    /// Time since it was created.
    pub age: Duration,
}

/// An IKE SA in a status snapshot ([`crate::Endpoint::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeSaStatus {
    /// The SA.
    pub sa: IkeSaId,
    /// Our address.
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// State.
    pub state: IkeState,
    /// Whether we are the (original) initiator.
    pub initiator: bool,
    /// Initiator SPI.
    pub spi_i: u64,
    /// Responder SPI.
    pub spi_r: u64,
    /// Negotiated algorithms, once known.
    pub suite: Option<IkeSuite>,
    /// The authenticated peer identity, once known.
    pub peer_id: Option<Identity>,
    /// Whether NAT traversal is in use.
    pub nat: bool,
    /// Time since the SA was created (or established).
    pub age: Duration,
    /// Child SAs.
    pub children: Vec<ChildStatus>,
}

impl fmt::Display for IkeSaStatus {
    /// One line per SA like `show crypto ikev2 sa`, then one per child SA.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suite = self.suite.map(|s| s.to_string()).unwrap_or_default();
        write!(
            f,
            "{} {} -> {} {:?} {} {:016x}/{:016x} {} life {}s{}",
            self.sa,
            self.local,
            self.remote,
            self.state,
            if self.initiator {
                "initiator"
            } else {
                "responder"
            },
            self.spi_i,
            self.spi_r,
            suite,
            self.age.as_secs(),
            if self.nat { " NAT-T" } else { "" }
        )?;
        for c in &self.children {
            write!(
                f,
                "\n  child in {:08x} out {:08x} {:?} {} life {}s",
                c.inbound_spi,
                c.outbound_spi,
                c.mode,
                c.suite,
                c.age.as_secs()
            )?;
        }
        Ok(())
    }
}
