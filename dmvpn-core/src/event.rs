//! What a [`Node`](crate::Node) reports: what its NHRP machines report (NHS up/down,
//! rejected registrations, NAT, failed resolutions, conflicts, Error Indications: carried as
//! [`dmvpn_nhrp::Event`]s, [`EventKind::Nhrp`]), and what the node itself derives: spokes
//! registered and expired, mappings added and removed (the hook for IPsec protection), NBMA
//! peers up and down, phase 3 shortcuts and the `max-send` quota. Each event prints like the
//! IOS syslog message it mirrors (seed 002, "Troubleshooting": `%DMVPN-5-NHRP_NHS`,
//! `%DMVPN-5-NHRP_CACHE`, `%DMVPN-3-NHRP_ERROR`, `%NHRP-4-QUOTA`).

use core::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dmvpn_nhrp::{CacheEvent, RemoveReason};
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

/// The kinds of [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// What an NHRP machine of the interface reported, as it reported it: [`NhsUp`],
    /// [`NhsDown`], [`AllNhsDown`], [`RegistrationRejected`], [`NatDetected`],
    /// [`ResolutionNegative`], [`ResolutionFailed`], [`RegistrationConflict`],
    /// [`RegistrationRefused`], [`PurgeRefused`] and [`ErrorIndication`]. The node never
    /// passes on cache events, `Registered`, `Resolved` or `SpokeRegistered` (it reports
    /// mappings and registrations as the kinds below) or `Shortcut` and `QuotaExceeded` (it
    /// reports [`EventKind::ShortcutAdded`] and [`EventKind::QuotaExceeded`]).
    ///
    /// [`NhsUp`]: dmvpn_nhrp::Event::NhsUp
    /// [`NhsDown`]: dmvpn_nhrp::Event::NhsDown
    /// [`AllNhsDown`]: dmvpn_nhrp::Event::AllNhsDown
    /// [`RegistrationRejected`]: dmvpn_nhrp::Event::RegistrationRejected
    /// [`NatDetected`]: dmvpn_nhrp::Event::NatDetected
    /// [`ResolutionNegative`]: dmvpn_nhrp::Event::ResolutionNegative
    /// [`ResolutionFailed`]: dmvpn_nhrp::Event::ResolutionFailed
    /// [`RegistrationConflict`]: dmvpn_nhrp::Event::RegistrationConflict
    /// [`RegistrationRefused`]: dmvpn_nhrp::Event::RegistrationRefused
    /// [`PurgeRefused`]: dmvpn_nhrp::Event::PurgeRefused
    /// [`ErrorIndication`]: dmvpn_nhrp::Event::ErrorIndication
    Nhrp(dmvpn_nhrp::Event),
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
        reason: RemoveReason,
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
        reason: RemoveReason,
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
    /// `%NHRP-4-QUOTA`: the `max-send` quota was exceeded on the interface. The machine's
    /// [`QuotaExceeded`](dmvpn_nhrp::Event::QuotaExceeded) with the interval the IOS message
    /// prints (from the interface's `ip nhrp max-send`), which the machine's event lacks.
    QuotaExceeded {
        /// The quota, in packets per interval.
        limit: u32,
        /// The interval in seconds.
        every_secs: u64,
    },
    /// `%CRYPTO-5-SESSION_STATUS: Crypto tunnel is UP`: an IKE SA with a peer is established
    /// (authenticated); its first child SA follows ([`EventKind::IpsecUp`]).
    CryptoUp {
        /// The peer's address and IKE port.
        peer: SocketAddr,
        /// Our address and IKE port.
        local: SocketAddr,
        /// The peer's authenticated identity.
        peer_id: String,
        /// Whether this node initiated.
        initiator: bool,
        /// Whether a NAT was detected (ESP goes in UDP 4500).
        nat: bool,
    },
    /// `%CRYPTO-5-SESSION_STATUS: Crypto tunnel is DOWN`: the IKE SA with a peer is gone,
    /// with its child SAs.
    CryptoDown {
        /// The peer's address and IKE port.
        peer: SocketAddr,
        /// Why.
        reason: dmvpn_ikev2::DownReason,
    },
    /// `%IKEV2-3-NEG_ABORT`: an IKE SA this node started did not come up.
    CryptoFailed {
        /// The peer's address and IKE port.
        peer: SocketAddr,
        /// Why.
        reason: dmvpn_ikev2::DownReason,
        /// When the node tries again (it does while a mapping needs the peer).
        retry_in: Option<Duration>,
    },
    /// `%IKEV2-5-DPD`: the peer of an established IKE SA stopped answering (its SAs go
    /// down next).
    CryptoPeerDead {
        /// The peer's address and IKE port.
        peer: SocketAddr,
    },
    /// `%IKEV2-5-NAT_MAPPING`: a peer behind a NAT now sends from another port or address (its
    /// NAT box rebound it), as authenticated ESP in UDP or IKE showed; ESP, IKE and its NHRP
    /// mappings follow it, the registrations and SAs stay. One that cannot be followed (another
    /// peer has that address) has its IKE SA closed (`followed` false).
    CryptoPeerMoved {
        /// The address and port it had.
        from: SocketAddr,
        /// The address and port it has now.
        to: SocketAddr,
        /// Whether ESP, IKE and NHRP now go to `to`.
        followed: bool,
    },
    /// `%CRYPTO-4-IKMP_WARNING`: a warning of the IKE machine (an IKEv1 negotiation used a
    /// legacy Diffie-Hellman group, allowed by `crypto isakmp legacy-groups`).
    CryptoWarning {
        /// The peer, when known.
        peer: Option<IpAddr>,
        /// What happened.
        message: String,
    },
    /// `%IKEV2-3-REFUSED`: a peer's IKE request was refused (authentication failed, no
    /// proposal chosen, call admission, …) or refused ours.
    CryptoRefused {
        /// The peer's address and port.
        peer: SocketAddr,
        /// The exchange (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA).
        exchange: String,
        /// The error notification.
        reason: String,
    },
    /// `%CRYPTO-5-IPSEC_SA_UP`: a child SA pair with a peer is installed (GRE to it now goes
    /// in ESP).
    IpsecUp {
        /// The peer's NBMA address.
        peer: IpAddr,
        /// Our SPI.
        inbound_spi: u32,
        /// The peer's SPI.
        outbound_spi: u32,
        /// Whether it replaces a rekeyed child SA.
        rekey: bool,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.interface;
        match &self.kind {
            EventKind::Nhrp(e) => write_nhrp(f, i, e),
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
                "%DMVPN-5-NHRP_CACHE: Client {address} on {i} went DOWN (NBMA {nbma}, {}).",
                reason_text(*reason)
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
                "%DMVPN-5-NHRP_CACHE: {i} mapping {prefix} via {next_hop} NBMA {nbma} went DOWN ({}).",
                reason_text(*reason)
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
            EventKind::QuotaExceeded { limit, every_secs } => write!(
                f,
                "%NHRP-4-QUOTA: Max-send quota of {limit}pkts/{every_secs}Sec. exceeded on {i}"
            ),
            EventKind::CryptoUp {
                peer,
                local,
                peer_id,
                initiator,
                nat,
            } => write!(
                f,
                "%CRYPTO-5-SESSION_STATUS: Crypto tunnel is UP. Peer {peer} Id: {peer_id} ({i}, local {local}, {}{})",
                if *initiator { "initiator" } else { "responder" },
                if *nat { ", NAT-T" } else { "" }
            ),
            EventKind::CryptoDown { peer, reason } => write!(
                f,
                "%CRYPTO-5-SESSION_STATUS: Crypto tunnel is DOWN. Peer {peer} ({i}, {})",
                down_text(*reason)
            ),
            EventKind::CryptoFailed {
                peer,
                reason,
                retry_in,
            } => {
                write!(
                    f,
                    "%IKEV2-3-NEG_ABORT: {i} negotiation with {peer} failed ({})",
                    down_text(*reason)
                )?;
                match retry_in {
                    Some(d) => write!(f, "; retrying in {} s", d.as_secs()),
                    None => Ok(()),
                }
            }
            EventKind::CryptoPeerDead { peer } => write!(
                f,
                "%IKEV2-5-DPD: {i} peer {peer} stopped answering liveness checks"
            ),
            EventKind::CryptoWarning { peer, message } => match peer {
                Some(p) => write!(f, "%CRYPTO-4-IKMP_WARNING: {i} peer {p}: {message}"),
                None => write!(f, "%CRYPTO-4-IKMP_WARNING: {i} {message}"),
            },
            EventKind::CryptoRefused {
                peer,
                exchange,
                reason,
            } => write!(f, "%IKEV2-3-REFUSED: {i} {exchange} with {peer}: {reason}"),
            EventKind::CryptoPeerMoved { from, to, followed } => {
                let what = if *followed {
                    "following it"
                } else {
                    "closing its SA"
                };
                write!(
                    f,
                    "%IKEV2-5-NAT_MAPPING: {i} peer {from} now sends from {to}, {what}"
                )
            }
            EventKind::IpsecUp {
                peer,
                inbound_spi,
                outbound_spi,
                rekey,
            } => write!(
                f,
                "%CRYPTO-5-IPSEC_SA_UP: {i} peer {peer} inbound SPI 0x{inbound_spi:08X} outbound SPI 0x{outbound_spi:08X}{}",
                if *rekey { " (rekey)" } else { "" }
            ),
        }
    }
}

/// Why an IKE SA went away, in the words the messages use.
fn down_text(r: dmvpn_ikev2::DownReason) -> &'static str {
    use dmvpn_ikev2::DownReason as D;
    match r {
        D::Closed => "closed",
        D::DeletedByPeer => "deleted by the peer",
        D::Timeout => "no answer",
        D::PeerDead => "peer dead",
        D::AuthenticationFailed => "authentication failed",
        D::Refused(_) => "refused by the peer",
        D::HalfOpenExpired => "half-open timeout",
        _ => "down",
    }
}

/// Why a mapping or registration went away, in the words the messages use.
pub(crate) fn reason_text(r: RemoveReason) -> &'static str {
    match r {
        RemoveReason::Expired => "expired",
        RemoveReason::Purged => "purged",
        RemoveReason::Removed => "removed",
    }
}

/// The message of an NHRP machine's event on interface `i`.
fn write_nhrp(f: &mut fmt::Formatter<'_>, i: &str, e: &dmvpn_nhrp::Event) -> fmt::Result {
    use dmvpn_nhrp::Event as N;
    match e {
        N::NhsUp { nhs } => write!(f, "%DMVPN-5-NHRP_NHS: {i} {nhs} is UP"),
        N::NhsDown { nhs } => write!(f, "%DMVPN-5-NHRP_NHS: {i} {nhs} is DOWN"),
        N::AllNhsDown => write!(f, "%DMVPN-3-NHRP_ERROR: every NHS on {i} is DOWN"),
        N::RegistrationRejected { nhs, code } => write!(
            f,
            "%DMVPN-3-NHRP_ERROR: Registration Request failed for {nhs} on {i}: {code}"
        ),
        N::NatDetected { nhs, public_nbma } => write!(
            f,
            "%DMVPN-5-NHRP_NAT: {i} NHS {nhs} sees this node at NBMA {public_nbma} (behind NAT)"
        ),
        N::ResolutionNegative { target } => write!(
            f,
            "%DMVPN-3-NHRP_ERROR: Resolution Request failed for {target} on {i}: no binding exists"
        ),
        N::ResolutionFailed { target } => write!(
            f,
            "%DMVPN-3-NHRP_ERROR: Resolution Request failed for {target} on {i}: no reply"
        ),
        N::RegistrationConflict {
            protocol_addr,
            holder,
            claimant,
        } => write!(
            f,
            "%DMVPN-3-NHRP_ERROR: {i} registration of {protocol_addr} from {claimant} refused: held by {holder}"
        ),
        N::ErrorIndication { from, code } => write!(
            f,
            "%DMVPN-3-NHRP_ERROR: {i} Error Indication from {from}: {code}"
        ),
        N::RegistrationRefused { prefix, claimant } => write!(
            f,
            "%DMVPN-3-NHRP_ERROR: {i} registration of {prefix} from {claimant} refused: administratively prohibited"
        ),
        N::PurgeRefused { prefix, from } => write!(
            f,
            "%DMVPN-3-NHRP_ERROR: {i} Purge Request for {prefix} from {from} refused: not the registrant, an NHS or the mapped peer"
        ),
        // The machines' other events, which the node reports in its own kinds; printed for
        // callers that build such events themselves.
        N::Registered { nhs, holding_time } => write!(
            f,
            "%DMVPN-5-NHRP_NHS: {i} registered with {nhs} (holdtime {holding_time} s)"
        ),
        N::Resolved {
            target,
            prefix,
            nbma,
        } => write!(
            f,
            "%DMVPN-5-NHRP_RESOLVE: {i} {target} resolved: {prefix} at NBMA {nbma}"
        ),
        N::SpokeRegistered {
            protocol_addr,
            nbma,
            nat,
        } => write!(
            f,
            "%DMVPN-5-NHRP_CACHE: Client {protocol_addr} on {i} Registered (NBMA {nbma}{}).",
            if *nat { ", NATed" } else { "" }
        ),
        N::Shortcut {
            prefix,
            next_hop,
            nbma,
        } => write!(
            f,
            "%DMVPN-5-NHRP_SHORTCUT: {i} shortcut {prefix} via {next_hop} (NBMA {nbma}) offered"
        ),
        N::QuotaExceeded { limit, .. } => write!(
            f,
            "%NHRP-4-QUOTA: Max-send quota of {limit}pkts exceeded on {i}"
        ),
        N::Cache(c) => {
            let (what, e) = match c {
                CacheEvent::Added(e) => ("added", e),
                CacheEvent::Updated(e) => ("updated", e),
                CacheEvent::Removed(e, _) => ("removed", e),
            };
            write!(
                f,
                "%DMVPN-7-NHRP_CACHE: {i} entry {} via {} {what}",
                e.prefix, e.next_hop
            )?;
            if let CacheEvent::Removed(_, r) = c {
                write!(f, " ({})", reason_text(*r))?;
            }
            Ok(())
        }
        other => write!(f, "%DMVPN-7-NHRP: {i} {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use dmvpn_nhrp::Event as N;
    use dmvpn_nhrp::wire::{CieCode, ErrorCode};

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn text(kind: EventKind) -> String {
        Event {
            tunnel: 0,
            interface: Arc::from("Tunnel0"),
            kind,
        }
        .to_string()
    }

    #[test]
    fn the_machines_events_print_as_the_ios_messages() {
        let cases = [
            (
                N::NhsUp {
                    nhs: ip("10.0.0.1"),
                },
                "%DMVPN-5-NHRP_NHS: Tunnel0 10.0.0.1 is UP",
            ),
            (
                N::NhsDown {
                    nhs: ip("10.0.0.1"),
                },
                "%DMVPN-5-NHRP_NHS: Tunnel0 10.0.0.1 is DOWN",
            ),
            (
                N::AllNhsDown,
                "%DMVPN-3-NHRP_ERROR: every NHS on Tunnel0 is DOWN",
            ),
            (
                N::NatDetected {
                    nhs: ip("10.0.0.1"),
                    public_nbma: ip("198.51.100.1"),
                },
                "%DMVPN-5-NHRP_NAT: Tunnel0 NHS 10.0.0.1 sees this node at NBMA 198.51.100.1 (behind NAT)",
            ),
            (
                N::ResolutionNegative {
                    target: ip("10.0.0.12"),
                },
                "%DMVPN-3-NHRP_ERROR: Resolution Request failed for 10.0.0.12 on Tunnel0: no binding exists",
            ),
            (
                N::ResolutionFailed {
                    target: ip("10.0.0.12"),
                },
                "%DMVPN-3-NHRP_ERROR: Resolution Request failed for 10.0.0.12 on Tunnel0: no reply",
            ),
            (
                N::RegistrationConflict {
                    protocol_addr: ip("10.0.0.11"),
                    holder: ip("172.16.1.1"),
                    claimant: ip("192.0.2.66"),
                },
                "%DMVPN-3-NHRP_ERROR: Tunnel0 registration of 10.0.0.11 from 192.0.2.66 refused: held by 172.16.1.1",
            ),
        ];
        for (e, expected) in cases {
            assert_eq!(text(EventKind::Nhrp(e)), expected);
        }
        let purge = text(EventKind::Nhrp(N::PurgeRefused {
            prefix: dmvpn_nhrp::Prefix::host(ip("10.0.0.12")),
            from: ip("192.0.2.66"),
        }));
        assert_eq!(
            purge,
            "%DMVPN-3-NHRP_ERROR: Tunnel0 Purge Request for 10.0.0.12/32 from 192.0.2.66 refused: not the registrant, an NHS or the mapped peer"
        );
        let refused = text(EventKind::Nhrp(N::RegistrationRefused {
            prefix: dmvpn_nhrp::Prefix::new(ip("192.168.2.0"), 24),
            claimant: ip("192.0.2.66"),
        }));
        assert_eq!(
            refused,
            "%DMVPN-3-NHRP_ERROR: Tunnel0 registration of 192.168.2.0/24 from 192.0.2.66 refused: administratively prohibited"
        );
        let rejected = text(EventKind::Nhrp(N::RegistrationRejected {
            nhs: ip("10.0.0.1"),
            code: CieCode(14),
        }));
        assert_eq!(
            rejected,
            format!(
                "%DMVPN-3-NHRP_ERROR: Registration Request failed for 10.0.0.1 on Tunnel0: {}",
                CieCode(14)
            )
        );
        let indication = text(EventKind::Nhrp(N::ErrorIndication {
            from: ip("172.17.0.1"),
            code: ErrorCode(5),
        }));
        assert_eq!(
            indication,
            format!(
                "%DMVPN-3-NHRP_ERROR: Tunnel0 Error Indication from 172.17.0.1: {}",
                ErrorCode(5)
            )
        );
    }

    #[test]
    fn the_node_events_print_as_the_ios_messages_with_the_remove_reason() {
        let cases = [
            (
                EventKind::PeerRegistered {
                    address: ip("10.0.0.11"),
                    nbma: ip("198.51.100.1"),
                    nat: true,
                },
                "%DMVPN-5-NHRP_CACHE: Client 10.0.0.11 on Tunnel0 Registered (NBMA 198.51.100.1, NATed).",
            ),
            (
                EventKind::PeerExpired {
                    address: ip("10.0.0.11"),
                    nbma: ip("172.16.1.1"),
                    reason: RemoveReason::Purged,
                },
                "%DMVPN-5-NHRP_CACHE: Client 10.0.0.11 on Tunnel0 went DOWN (NBMA 172.16.1.1, purged).",
            ),
            (
                EventKind::MappingRemoved {
                    prefix: "10.0.0.12/32".parse().unwrap(),
                    next_hop: ip("10.0.0.12"),
                    nbma: ip("172.16.2.1"),
                    reason: RemoveReason::Expired,
                },
                "%DMVPN-5-NHRP_CACHE: Tunnel0 mapping 10.0.0.12/32 via 10.0.0.12 NBMA 172.16.2.1 went DOWN (expired).",
            ),
            (
                EventKind::NbmaPeerUp {
                    nbma: ip("172.16.2.1"),
                },
                "%DMVPN-5-NHRP_PEER: Tunnel0-172.16.2.1 tunnel to NBMA peer is UP",
            ),
            (
                EventKind::QuotaExceeded {
                    limit: 100,
                    every_secs: 10,
                },
                "%NHRP-4-QUOTA: Max-send quota of 100pkts/10Sec. exceeded on Tunnel0",
            ),
        ];
        for (k, expected) in cases {
            assert_eq!(text(k), expected);
        }
        assert_eq!(
            [
                RemoveReason::Expired,
                RemoveReason::Purged,
                RemoveReason::Removed
            ]
            .map(reason_text),
            ["expired", "purged", "removed"]
        );
    }
}
