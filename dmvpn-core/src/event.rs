//! What a [`Node`](crate::Node) reports: NHS up/down, spokes registered and expired, mappings
//! added and removed (the hook for IPsec protection), phase 3 shortcuts, failed resolutions and
//! the `max-send` quota. Each event prints like the IOS syslog message it mirrors (seed 002,
//! "Troubleshooting": `%DMVPN-5-NHRP_NHS`, `%DMVPN-5-NHRP_CACHE`, `%DMVPN-3-NHRP_ERROR`,
//! `%NHRP-4-QUOTA`).

use core::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use dmvpn_nhrp::RemoveReason;
use dmvpn_nhrp::wire::{CieCode, ErrorCode};
use ipnet::IpNet;

/// Something that happened on one tunnel interface of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Index of the tunnel interface in the node configuration.
    pub tunnel: usize,
    /// Its name (`Tunnel0`).
    pub interface: Arc<str>,
    /// What happened.
    pub kind: EventKind,
}

/// Why a mapping or registration went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gone {
    /// Its holding time ran out without a refresh (unused, or the peer stopped registering).
    Expired,
    /// A Purge Request or a `clear` command removed it.
    Purged,
    /// It was replaced or withdrawn (e.g. a negative answer, a failed refresh).
    Removed,
}

impl From<RemoveReason> for Gone {
    fn from(r: RemoveReason) -> Gone {
        match r {
            RemoveReason::Expired => Gone::Expired,
            RemoveReason::Purged => Gone::Purged,
            RemoveReason::Removed => Gone::Removed,
        }
    }
}

impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Gone::Expired => "expired",
            Gone::Purged => "purged",
            Gone::Removed => "removed",
        })
    }
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// An NHS answered a registration (`%DMVPN-5-NHRP_NHS: Tunnel0 10.0.0.1 is UP`).
    NhsUp {
        /// The NHS's tunnel address.
        nhs: IpAddr,
    },
    /// An NHS stopped answering registrations.
    NhsDown {
        /// The NHS's tunnel address.
        nhs: IpAddr,
    },
    /// Every NHS of the interface is down: the spoke is isolated on this cloud.
    AllNhsDown,
    /// An NHS refused this node's registration (e.g. code 14, unique address already
    /// registered).
    RegistrationRejected {
        /// The NHS's tunnel address.
        nhs: IpAddr,
        /// The CIE code of the reply.
        code: CieCode,
    },
    /// The NHS sees this node behind NAT, at `public_nbma`.
    NatDetected {
        /// The NHS's tunnel address.
        nhs: IpAddr,
        /// This node's NBMA address after NAT.
        public_nbma: IpAddr,
    },
    /// Hub: a spoke registered (`%DMVPN-5-NHRP_CACHE: Client 10.0.0.11 on Tunnel0
    /// Registered.`).
    PeerRegistered {
        /// The spoke's tunnel address.
        address: IpAddr,
        /// Its NBMA address (post-NAT).
        nbma: IpAddr,
        /// Whether it is behind NAT.
        nat: bool,
    },
    /// Hub: a spoke's registration went away (holding time over, or purged).
    PeerExpired {
        /// The spoke's tunnel address.
        address: IpAddr,
        /// Its NBMA address.
        nbma: IpAddr,
        /// Why.
        reason: Gone,
    },
    /// A resolution started: a Resolution Request went to the NHS (seed 003 step 2).
    Resolving {
        /// The address being resolved.
        target: IpAddr,
    },
    /// A dynamic mapping was installed (a resolution answered, or a peer's request learned):
    /// `prefix` is reached at `nbma` directly (seed 003 step 4).
    MappingAdded {
        /// The overlay prefix.
        prefix: IpNet,
        /// The peer's tunnel address.
        next_hop: IpAddr,
        /// The peer's NBMA address (post-NAT).
        nbma: IpAddr,
    },
    /// A dynamic mapping went away (seed 003 step 11).
    MappingRemoved {
        /// The overlay prefix.
        prefix: IpNet,
        /// The peer's tunnel address.
        next_hop: IpAddr,
        /// The peer's NBMA address.
        nbma: IpAddr,
        /// Why.
        reason: Gone,
    },
    /// The first mapping (static, registered or resolved) to an NBMA peer appeared: the
    /// GRE tunnel to it is in use, and this is where IPsec protection starts.
    NbmaPeerUp {
        /// The peer's NBMA address.
        nbma: IpAddr,
    },
    /// The last mapping to an NBMA peer went away: IPsec protection to it is torn down.
    NbmaPeerDown {
        /// The peer's NBMA address.
        nbma: IpAddr,
    },
    /// Phase 3: a shortcut route was installed (`ip nhrp shortcut`): the caller may add
    /// `prefix` via `next_hop` to its own routing table too.
    ShortcutAdded {
        /// The destination prefix.
        prefix: IpNet,
        /// The peer spoke's tunnel address.
        next_hop: IpAddr,
        /// Its NBMA address.
        nbma: IpAddr,
    },
    /// Phase 3: a shortcut route was withdrawn (its mapping went away).
    ShortcutRemoved {
        /// The destination prefix.
        prefix: IpNet,
        /// The peer spoke's tunnel address.
        next_hop: IpAddr,
    },
    /// A resolution got no answer after every retry, or a negative one.
    ResolutionFailed {
        /// The address that could not be resolved.
        target: IpAddr,
        /// The NHS answered that no binding exists (else: no answer at all).
        negative: bool,
    },
    /// Hub: a registration was refused because another NBMA address holds the address.
    RegistrationConflict {
        /// The contested tunnel address.
        address: IpAddr,
        /// The NBMA address holding it.
        holder: IpAddr,
        /// The NBMA address that claimed it.
        claimant: IpAddr,
    },
    /// An NHRP Error Indication arrived.
    ErrorIndication {
        /// Its sender's NBMA address.
        from: IpAddr,
        /// The error code.
        code: ErrorCode,
    },
    /// `%NHRP-4-QUOTA`: the `max-send` quota was exceeded on the interface.
    QuotaExceeded {
        /// The quota, in packets per interval.
        limit: u32,
        /// The interval in seconds.
        every_secs: u64,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.interface;
        match &self.kind {
            EventKind::NhsUp { nhs } => write!(f, "%DMVPN-5-NHRP_NHS: {i} {nhs} is UP"),
            EventKind::NhsDown { nhs } => write!(f, "%DMVPN-5-NHRP_NHS: {i} {nhs} is DOWN"),
            EventKind::AllNhsDown => write!(f, "%DMVPN-3-NHRP_ERROR: every NHS on {i} is DOWN"),
            EventKind::RegistrationRejected { nhs, code } => write!(
                f,
                "%DMVPN-3-NHRP_ERROR: Registration Request failed for {nhs} on {i}: {code}"
            ),
            EventKind::NatDetected { nhs, public_nbma } => write!(
                f,
                "%DMVPN-5-NHRP_NAT: {i} NHS {nhs} sees this node at NBMA {public_nbma} (behind NAT)"
            ),
            EventKind::PeerRegistered { address, nbma, nat } => write!(
                f,
                "%DMVPN-5-NHRP_CACHE: Client {address} on {i} Registered (NBMA {nbma}{}).",
                if *nat { ", NATed" } else { "" }
            ),
            EventKind::PeerExpired {
                address,
                nbma,
                reason,
            } => write!(
                f,
                "%DMVPN-5-NHRP_CACHE: Client {address} on {i} went DOWN (NBMA {nbma}, {reason})."
            ),
            EventKind::Resolving { target } => write!(
                f,
                "%DMVPN-7-NHRP_RESOLVE: {i} sending Resolution Request for {target}"
            ),
            EventKind::MappingAdded {
                prefix,
                next_hop,
                nbma,
            } => write!(
                f,
                "%DMVPN-5-NHRP_CACHE: {i} mapping {prefix} via {next_hop} NBMA {nbma} came UP."
            ),
            EventKind::MappingRemoved {
                prefix,
                next_hop,
                nbma,
                reason,
            } => write!(
                f,
                "%DMVPN-5-NHRP_CACHE: {i} mapping {prefix} via {next_hop} NBMA {nbma} went DOWN ({reason})."
            ),
            EventKind::NbmaPeerUp { nbma } => {
                write!(
                    f,
                    "%DMVPN-5-NHRP_PEER: {i}-{nbma} tunnel to NBMA peer is UP"
                )
            }
            EventKind::NbmaPeerDown { nbma } => {
                write!(
                    f,
                    "%DMVPN-5-NHRP_PEER: {i}-{nbma} tunnel to NBMA peer is DOWN"
                )
            }
            EventKind::ShortcutAdded {
                prefix,
                next_hop,
                nbma,
            } => write!(
                f,
                "%DMVPN-5-NHRP_SHORTCUT: {i} shortcut {prefix} via {next_hop} (NBMA {nbma}) installed"
            ),
            EventKind::ShortcutRemoved { prefix, next_hop } => write!(
                f,
                "%DMVPN-5-NHRP_SHORTCUT: {i} shortcut {prefix} via {next_hop} removed"
            ),
            EventKind::ResolutionFailed { target, negative } => write!(
                f,
                "%DMVPN-3-NHRP_ERROR: Resolution Request failed for {target} on {i}: {}",
                if *negative {
                    "no binding exists"
                } else {
                    "no reply"
                }
            ),
            EventKind::RegistrationConflict {
                address,
                holder,
                claimant,
            } => write!(
                f,
                "%DMVPN-3-NHRP_ERROR: {i} registration of {address} from {claimant} refused: held by {holder}"
            ),
            EventKind::ErrorIndication { from, code } => write!(
                f,
                "%DMVPN-3-NHRP_ERROR: {i} Error Indication from {from}: {code}"
            ),
            EventKind::QuotaExceeded { limit, every_secs } => write!(
                f,
                "%NHRP-4-QUOTA: Max-send quota of {limit}pkts/{every_secs}Sec. exceeded on {i}"
            ),
        }
    }
}
