//! What the IKEv1 [`Endpoint`](crate::Endpoint) hands to its caller: events, counters and
//! status snapshots (`show crypto isakmp sa`).

use core::fmt;
use core::net::SocketAddr;
use std::time::Duration;

use crate::Secret;
use crate::algorithm::Hash;
use crate::wire::{GroupDescription, IdPayload, NotifyType};

pub use dmvpn_ikev2::{ChildSaUp, IkeSaId};

/// Why an ISAKMP SA went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownReason {
    /// We closed it, or its lifetime ended.
    Closed,
    /// The peer deleted it (a protected Delete).
    DeletedByPeer,
    /// Main Mode got no answer after every retransmission, or a half-open SA waited too long.
    Timeout,
    /// Dead peer detection: R-U-THERE went unanswered.
    PeerDead,
    /// HASH_I or HASH_R did not verify (a wrong pre-shared key, most likely).
    AuthenticationFailed,
    /// The peer refused Main Mode with this notification, or we refused its offer.
    Refused(NotifyType),
    /// A newer ISAKMP SA with the same peer took its place (its IPsec SAs moved there, see
    /// [`Event::IsakmpReplaced`]), or the peer's INITIAL-CONTACT said it restarted.
    Replaced,
}

/// The algorithms of an ISAKMP SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase1Suite {
    /// The cipher (AES-CBC).
    pub cipher: dmvpn_esp::EncryptionAlgorithm,
    /// The hash.
    pub hash: Hash,
    /// The group.
    pub group: GroupDescription,
    /// The lifetime agreed.
    pub lifetime: Duration,
}

impl fmt::Display for Phase1Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/group {}/{} s",
            self.cipher,
            self.hash,
            self.group.0,
            self.lifetime.as_secs()
        )
    }
}

/// The phase 1 encryption key of an ISAKMP SA, for an explicit key log only (tshark's
/// `ikev1_decryption_table`: the initiator's cookie and this key). Redacted in `Debug`.
pub struct Phase1KeyLog {
    /// The initiator's cookie.
    pub cookie_i: u64,
    /// The phase 1 encryption key.
    pub encryption_key: Secret,
}

impl fmt::Debug for Phase1KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phase1KeyLog({:016x}, <redacted>)", self.cookie_i)
    }
}

impl Phase1KeyLog {
    /// The row of tshark's `uat:ikev1_decryption_table` (`cookie,key`, both in hex and
    /// unquoted: both are byte-buffer fields of that table, and tshark 4.0 reads a quoted
    /// field as the string's bytes, refusing `"<16 hex digits>"` as "Length of Initiator's
    /// COOKIE must be 8 octets").
    pub fn tshark_row(&self) -> String {
        let key: String = self
            .encryption_key
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{:016x},{key}", self.cookie_i)
    }
}

/// Something that happened, polled with [`Endpoint::poll_event`](crate::Endpoint::poll_event).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Main Mode finished: the ISAKMP SA is established (`QM_IDLE`).
    IsakmpUp {
        /// The SA.
        sa: IkeSaId,
        /// Our address and port.
        local: SocketAddr,
        /// The peer's.
        remote: SocketAddr,
        /// Whether we initiated Main Mode.
        initiator: bool,
        /// The initiator's cookie.
        cookie_i: u64,
        /// The responder's cookie.
        cookie_r: u64,
        /// The algorithms.
        suite: Phase1Suite,
        /// The peer's phase 1 identity (authenticated by HASH_I / HASH_R).
        peer_id: IdPayload,
        /// The phase 1 encryption key (for an explicit key log).
        keys: Box<Phase1KeyLog>,
        /// Whether a NAT was detected (or forced) and IKE and ESP use port 4500.
        nat: bool,
        /// Whether the NAT is in front of us (we send the keepalives).
        behind_nat: bool,
        /// The older ISAKMP SA with the peer this one replaces (a phase 1 rekey we started;
        /// [`Event::IsakmpReplaced`] follows once its IPsec SAs moved).
        replaces: Option<IkeSaId>,
    },
    /// An ISAKMP SA replaced an older one with the same peer (a phase 1 rekey): the old SA's
    /// IPsec SAs belong to `new` from now on.
    IsakmpReplaced {
        /// The old SA (going).
        old: IkeSaId,
        /// The new SA.
        new: IkeSaId,
    },
    /// An ISAKMP SA is gone, with the IPsec SAs it still had (each reported by
    /// [`Event::ChildDeleted`] first).
    IsakmpDown {
        /// The SA.
        sa: IkeSaId,
        /// Why.
        reason: DownReason,
    },
    /// DPD: the peer stopped answering (reported before `IsakmpDown`).
    PeerDead {
        /// The SA.
        sa: IkeSaId,
        /// The peer.
        remote: SocketAddr,
    },
    /// The peer behind a NAT now sends from another address or port (an authenticated
    /// message showed it, or [`Endpoint::peer_moved`](crate::Endpoint::peer_moved) was told).
    PeerMoved {
        /// The SA.
        sa: IkeSaId,
        /// Where it was.
        from: SocketAddr,
        /// Where it is.
        to: SocketAddr,
    },
    /// A Quick Mode finished: install the two ESP SAs.
    ChildUp {
        /// The ISAKMP SA it was negotiated under.
        sa: IkeSaId,
        /// The ESP parameters.
        child: Box<ChildSaUp>,
        /// The inbound SPI of the IPsec SA it replaces (a rekey).
        rekey_of: Option<u32>,
    },
    /// An IPsec SA pair is gone (deleted by either side, expired, or with its ISAKMP SA).
    ChildDeleted {
        /// The ISAKMP SA.
        sa: IkeSaId,
        /// Our inbound SPI.
        inbound_spi: u32,
        /// The peer's SPI.
        outbound_spi: u32,
    },
    /// A Quick Mode we started failed (refused, or no answer); the ISAKMP SA stays.
    ChildFailed {
        /// The ISAKMP SA.
        sa: IkeSaId,
        /// What the peer said, or what we found.
        error: NotifyType,
    },
    /// We refused something of a peer: a proposal, a HASH that does not verify, an
    /// Aggressive Mode request. One event per refusal.
    Refused {
        /// The ISAKMP SA, if the message belonged to one.
        sa: Option<IkeSaId>,
        /// The peer.
        remote: SocketAddr,
        /// Why, as IKEv1 names it.
        reason: NotifyType,
    },
    /// A warning: a negotiation used a legacy group (1, 2 or 5), allowed by
    /// [`Config::allow_legacy_groups`](crate::Config::allow_legacy_groups).
    LegacyGroup {
        /// The ISAKMP SA.
        sa: IkeSaId,
        /// The group.
        group: GroupDescription,
        /// Whether it was the Quick Mode PFS group (else the phase 1 group).
        pfs: bool,
    },
}

/// Endpoint-wide counters, in the spirit of `show crypto isakmp stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// ISAKMP SAs established.
    pub isakmp_sas_established: u64,
    /// Quick Modes completed (IPsec SA pairs created).
    pub quick_modes: u64,
    /// Requests retransmitted after a timeout.
    pub retransmits: u64,
    /// Retransmitted peer messages answered with our last message again.
    pub retransmits_answered: u64,
    /// Main Modes whose HASH_I / HASH_R did not verify (a wrong pre-shared key, or garbage).
    pub auth_failures: u64,
    /// Quick Mode and Informational HASHes that did not verify.
    pub hash_failures: u64,
    /// Aggressive Mode requests refused.
    pub aggressive_refused: u64,
    /// Proposals refused (NO-PROPOSAL-CHOSEN).
    pub no_proposal_chosen: u64,
    /// Requests refused over a Call Admission Control limit.
    pub cac_rejected: u64,
    /// Datagrams dropped: unparsable, for no SA, unexpected in the SA's state.
    pub dropped: u64,
    /// R-U-THEREs sent.
    pub dpd_sent: u64,
    /// R-U-THERE-ACKs received for ours.
    pub dpd_acked: u64,
    /// Peers declared dead.
    pub dead_peers: u64,
    /// Transmits dropped because the queue was full.
    pub transmits_dropped: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
    /// Peers followed to a new address or port.
    pub peer_moves: u64,
}

/// The state of an ISAKMP SA as `show crypto isakmp sa` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsakmpState {
    /// Initiator, message 1 sent; responder, message 1 received (IOS `MM_NO_STATE`).
    MmNoState,
    /// Messages 1–2 done (`MM_SA_SETUP`).
    MmSaSetup,
    /// Messages 3–4 done, keys derived (`MM_KEY_EXCH`).
    MmKeyExch,
    /// Established (`QM_IDLE`).
    QmIdle,
    /// Being deleted (`MM_NO_STATE` with status DELETED on IOS; we show `DELETED`).
    Deleted,
}

impl IsakmpState {
    /// The IOS name.
    pub const fn name(self) -> &'static str {
        match self {
            IsakmpState::MmNoState => "MM_NO_STATE",
            IsakmpState::MmSaSetup => "MM_SA_SETUP",
            IsakmpState::MmKeyExch => "MM_KEY_EXCH",
            IsakmpState::QmIdle => "QM_IDLE",
            IsakmpState::Deleted => "MM_NO_STATE",
        }
    }
}

/// A snapshot of one ISAKMP SA, a row of `show crypto isakmp sa [detail]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsakmpSaStatus {
    /// The SA (its number is IOS's conn-id).
    pub sa: IkeSaId,
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's.
    pub remote: SocketAddr,
    /// Whether we initiated Main Mode.
    pub initiator: bool,
    /// The state.
    pub state: IsakmpState,
    /// The cookies.
    pub cookie_i: u64,
    /// The responder's cookie (0 before message 2).
    pub cookie_r: u64,
    /// The algorithms, once agreed.
    pub suite: Option<Phase1Suite>,
    /// Lifetime left (established SAs).
    pub remaining: Option<Duration>,
    /// Whether NAT-T is in use.
    pub nat: bool,
    /// Whether the peer said it does DPD.
    pub dpd: bool,
    /// The IPsec SAs (our inbound SPIs).
    pub children: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tshark_row_is_unquoted_hex() {
        let k = Phase1KeyLog {
            cookie_i: 0x62c7_a7bd_f1db_b346,
            encryption_key: Secret::new(vec![0xec, 0xbd, 0x00, 0x0f]),
        };
        assert_eq!(k.tshark_row(), "62c7a7bdf1dbb346,ecbd000f");
    }
}
