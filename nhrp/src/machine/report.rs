//! What the machines report: [`Event`]s, `show ip nhrp traffic` counters ([`Traffic`]) and
//! drop counters ([`Stats`]).

use core::fmt;
use std::net::IpAddr;

use crate::cache::{CacheEvent, Prefix};
use crate::wire::{CieCode, ErrorCode, PacketType};

/// Something that happened in a client or server, from [`crate::Client::poll_event`] or
/// [`crate::Server::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A cache entry was added, updated or removed (registration table on a server). The
    /// IPsec layer tears a peer's SAs down on removal (seed 003, step 11).
    Cache(CacheEvent),
    /// An NHS answered a registration: it is up.
    NhsUp {
        /// The NHS's protocol address.
        nhs: IpAddr,
    },
    /// An NHS missed the configured number of registration replies.
    NhsDown {
        /// The NHS's protocol address.
        nhs: IpAddr,
    },
    /// Every configured NHS is down: the spoke is isolated.
    AllNhsDown,
    /// A registration was accepted; the next one is due in holdtime/3.
    Registered {
        /// The NHS's protocol address.
        nhs: IpAddr,
        /// The holding time registered, in seconds.
        holding_time: u16,
    },
    /// An NHS refused a registration (e.g. 14, Unique Address Already Registered). The client
    /// retries only after the registration interval, not in a tight loop.
    RegistrationRejected {
        /// The NHS's protocol address.
        nhs: IpAddr,
        /// The CIE code of the reply.
        code: CieCode,
    },
    /// An NHS reported this node's NBMA address as seen after NAT.
    NatDetected {
        /// The NHS's protocol address.
        nhs: IpAddr,
        /// This node's post-NAT NBMA address.
        public_nbma: IpAddr,
    },
    /// A resolution got an answer; the mapping is in the cache.
    Resolved {
        /// The address resolved.
        target: IpAddr,
        /// The prefix installed.
        prefix: Prefix,
        /// The NBMA address to send to (post-NAT if known).
        nbma: IpAddr,
    },
    /// A resolution was answered negatively (no binding exists).
    ResolutionNegative {
        /// The address resolved.
        target: IpAddr,
    },
    /// A resolution got no reply after every retry.
    ResolutionFailed {
        /// The address resolved.
        target: IpAddr,
    },
    /// A Traffic Indication led to a shortcut (DMVPN phase 3): route `prefix` via `next_hop`
    /// at `nbma` directly.
    Shortcut {
        /// The destination prefix.
        prefix: Prefix,
        /// The peer's protocol address.
        next_hop: IpAddr,
        /// The peer's NBMA address (post-NAT if known).
        nbma: IpAddr,
    },
    /// A spoke registered (server); also visible as a [`CacheEvent`].
    SpokeRegistered {
        /// Its protocol address.
        protocol_addr: IpAddr,
        /// The NBMA address to reach it (post-NAT if NAT was detected).
        nbma: IpAddr,
        /// Whether it is behind NAT.
        nat: bool,
    },
    /// A registration was refused with code 14: another NBMA address holds the address
    /// uniquely (server).
    RegistrationConflict {
        /// The contested protocol address.
        protocol_addr: IpAddr,
        /// The NBMA address holding it.
        holder: IpAddr,
        /// The NBMA address that claimed it.
        claimant: IpAddr,
    },
    /// An Error Indication arrived.
    ErrorIndication {
        /// Its sender (outer NBMA address).
        from: IpAddr,
        /// The error code.
        code: ErrorCode,
    },
    /// A Purge Request asked to remove an entry its sender may not purge, which stays
    /// (counted in [`Stats::purges_refused`]). A server takes purges of a registration only
    /// from the NBMA address it was registered from (post-NAT); a client takes purges of a
    /// mapping only from one of its NHSs or from the NBMA address the mapping points at.
    PurgeRefused {
        /// The entry that stays.
        prefix: Prefix,
        /// The outer source of the Purge Request (post-NAT).
        from: IpAddr,
    },
    /// A registration was refused with code 4, Administratively Prohibited (server; counted
    /// in [`Stats::registrations_refused`]): it claims a prefix registrations may not claim
    /// (only host addresses inside the tunnel subnet, or what
    /// [`crate::ServerConfig::registration_prefixes`] allows), one covering this server's
    /// own address, or a static map.
    RegistrationRefused {
        /// The prefix claimed.
        prefix: Prefix,
        /// The NBMA address that claimed it (the outer source, post-NAT).
        claimant: IpAddr,
    },
    /// `%NHRP-4-QUOTA`: the `max-send` quota was exceeded in the current window (once per
    /// window).
    QuotaExceeded {
        /// The quota in packets.
        limit: u32,
        /// Whether packets over the quota are held (else dropped).
        held: bool,
    },
}

/// Sent and received packets per type, like `show ip nhrp traffic`, with the `max-send`
/// usage at the time it was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Interface name.
    pub interface: String,
    /// Packets sent, indexed by packet type (0 counts unknown types).
    pub sent: [u64; 9],
    /// Packets received, indexed like `sent`.
    pub received: [u64; 9],
    /// The `max-send` quota.
    pub max_send: u32,
    /// Its interval in seconds.
    pub max_send_secs: u64,
    /// Packets sent in the current window.
    pub window_usage: u32,
}

impl Traffic {
    /// Counts one packet of type `t` (unknown types in slot 0).
    pub(super) fn bump(counts: &mut [u64; 9], t: PacketType) {
        let i = if (1..=8).contains(&t.0) {
            usize::from(t.0)
        } else {
            0
        };
        if let Some(c) = counts.get_mut(i) {
            *c = c.saturating_add(1);
        }
    }

    /// Packets sent of a type.
    pub fn sent(&self, t: PacketType) -> u64 {
        self.sent.get(usize::from(t.0)).copied().unwrap_or(0)
    }

    /// Packets received of a type.
    pub fn received(&self, t: PacketType) -> u64 {
        self.received.get(usize::from(t.0)).copied().unwrap_or(0)
    }

    fn block(f: &mut fmt::Formatter<'_>, what: &str, c: &[u64; 9]) -> fmt::Result {
        let g = |i: usize| c.get(i).copied().unwrap_or(0);
        writeln!(f, "{what}: Total {}", c.iter().sum::<u64>())?;
        writeln!(
            f,
            " {} Resolution Request {} Resolution Reply {} Registration Request",
            g(1),
            g(2),
            g(3)
        )?;
        writeln!(
            f,
            " {} Registration Reply {} Purge Request {} Purge Reply",
            g(4),
            g(5),
            g(6)
        )?;
        writeln!(f, " {} Error Indication {} Traffic Indication", g(7), g(8))
    }
}

/// `show ip nhrp traffic`.
impl fmt::Display for Traffic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let usage = u64::from(self.window_usage) * 100 / u64::from(self.max_send.max(1));
        writeln!(
            f,
            "{}: Max-send limit:{}Pkts/{}Sec, Usage:{}%",
            self.interface, self.max_send, self.max_send_secs, usage
        )?;
        Traffic::block(f, "Sent", &self.sent)?;
        Traffic::block(f, "Rcvd", &self.received)
    }
}

/// Drop and error counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets that did not parse.
    pub malformed: u64,
    /// Packets dropped for missing or wrong authentication.
    pub authentication_failures: u64,
    /// Replies matching no outstanding request (unsolicited or spoofed).
    pub unmatched_replies: u64,
    /// Other packets dropped (wrong role, not for us, strict mode, loops, hop count).
    pub dropped: u64,
    /// Error Indications sent.
    pub error_indications_sent: u64,
    /// Packets over the `max-send` quota (held or dropped).
    pub over_quota: u64,
    /// Packets dropped because of the quota (or a full hold queue).
    pub quota_dropped: u64,
    /// Transmits dropped because the transmit queue was full.
    pub transmits_dropped: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
    /// Entries or requests refused because a table was full.
    pub table_full: u64,
    /// Packets that could not be built (e.g. an oversized address).
    pub emit_errors: u64,
    /// Entries a Purge Request named that its sender may not purge (kept; see
    /// [`Event::PurgeRefused`]).
    pub purges_refused: u64,
    /// Registrations (CIEs) answered with code 4, Administratively Prohibited (server; see
    /// [`Event::RegistrationRefused`]).
    pub registrations_refused: u64,
    /// Source bindings of Resolution Requests not installed (client): the request did not
    /// come through one of this node's NHSs, or it would have changed where an existing
    /// mapping points (RFC 2332 §5.2.1: the binding is the requester's own claim).
    pub bindings_refused: u64,
    /// Resolution Replies matching an outstanding request but refused (client): from neither
    /// the NHS the request went to nor the NBMA address they map to (post-NAT), or mapping a
    /// prefix broader than the responder may claim. The resolution stays outstanding.
    pub replies_refused: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_renders_like_show_ip_nhrp_traffic() {
        let mut t = Traffic {
            interface: "Tunnel0".into(),
            max_send: 4,
            max_send_secs: 10,
            window_usage: 1,
            ..Traffic::default()
        };
        Traffic::bump(&mut t.sent, PacketType::RESOLUTION_REQUEST);
        Traffic::bump(&mut t.received, PacketType(200));
        let shown = t.to_string();
        assert!(
            shown.starts_with(
                "Tunnel0: Max-send limit:4Pkts/10Sec, Usage:25%\nSent: Total 1\n 1 Resolution Request 0 Resolution Reply"
            ),
            "{shown}"
        );
        assert!(
            shown.contains("Rcvd: Total 1\n 0 Resolution Request"),
            "{shown}"
        );
        assert_eq!(t.sent(PacketType::RESOLUTION_REQUEST), 1);
        assert_eq!(
            t.received(PacketType(0)),
            1,
            "unknown types count in slot 0"
        );
        assert_eq!(t.received(PacketType(200)), 0);
    }
}
