//! What a client is configured with: `ip nhrp map`, `ip nhrp nhs` and the other interface
//! commands, and the checks on them. [`StaticMap`] and [`Nhs`] serve the server too.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::Error;
use crate::cache::{Entry, EntryFlags, EntryType, Prefix, max_len};
use crate::machine::{Backoff, Common};

/// `ip nhrp map PROTOCOL NBMA`: a static mapping (`prefix_len` 32 or 128 for a host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StaticMap {
    /// Protocol (overlay) address or prefix.
    pub protocol_addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// NBMA (underlay) address.
    pub nbma_addr: IpAddr,
}

impl StaticMap {
    /// `ip nhrp map PROTOCOL NBMA` for one host: prefix length 32 or 128.
    pub fn host(protocol_addr: IpAddr, nbma_addr: IpAddr) -> StaticMap {
        StaticMap {
            protocol_addr,
            prefix_len: max_len(protocol_addr),
            nbma_addr,
        }
    }

    /// The prefix it maps.
    pub fn prefix(&self) -> Prefix {
        Prefix::new(self.protocol_addr, self.prefix_len)
    }

    /// The cache entry for this mapping: static and authoritative, created at `now`. Both
    /// [`crate::Client::new`] and [`crate::Server::new`] install their maps with it.
    pub fn entry(&self, now: Instant) -> Entry {
        let mut e = Entry::new(
            now,
            self.prefix(),
            self.protocol_addr,
            Some(self.nbma_addr),
            EntryType::Static,
        );
        e.flags = EntryFlags::AUTHORITATIVE;
        e
    }
}

/// `ip nhrp nhs PROTOCOL [nbma NBMA]`: a next-hop server. Without `nbma_addr`, the NBMA address
/// comes from a static map of the same protocol address, as in IOS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nhs {
    /// The NHS's protocol (tunnel) address.
    pub protocol_addr: IpAddr,
    /// Its NBMA address, if not given by a static map.
    pub nbma_addr: Option<IpAddr>,
}

impl Nhs {
    /// Its NBMA address: `nbma_addr`, else that of the first static map of its protocol
    /// address (`None` if neither gives one).
    pub fn nbma_in(&self, map: &[StaticMap]) -> Option<IpAddr> {
        self.nbma_addr.or_else(|| {
            map.iter()
                .find(|m| m.protocol_addr == self.protocol_addr)
                .map(|m| m.nbma_addr)
        })
    }
}

/// Configuration of a [`crate::Client`], with the IOS interface commands it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Addresses, authentication, `max-send`, network-id and queue bounds.
    pub common: Common,
    /// `ip nhrp nhs`: one or more servers (two for a dual hub).
    pub nhs: Vec<Nhs>,
    /// `ip nhrp map`: static mappings (installed as static, authoritative cache entries).
    pub map: Vec<StaticMap>,
    /// Networks behind this node that it answers Resolution Requests for (its own protocol
    /// address is always answered); DMVPN phase 3 shortcuts point at them.
    pub local_prefixes: Vec<Prefix>,
    /// `ip nhrp holdtime`: the holding time, in seconds, in this node's registrations and
    /// resolution answers (IOS default 7200; the design guides recommend 300–600).
    pub holdtime: u16,
    /// `ip nhrp registration timeout`: the registration interval (default: holdtime/3).
    pub registration_timeout: Option<Duration>,
    /// Retransmission of unanswered registrations (default 1 s doubling to 64 s).
    pub registration_backoff: Backoff,
    /// Unanswered registrations after which an NHS is declared down (default 3).
    pub nhs_down_after: u32,
    /// Register with the unique flag (`ip nhrp registration no-unique` clears it).
    pub unique: bool,
    /// Retransmission of unanswered resolutions.
    pub resolution_backoff: Backoff,
    /// Resolution Requests sent for one resolution before giving up (default 5).
    pub resolution_attempts: u32,
    /// An entry used this long before it expires is refreshed (default 60 s).
    pub refresh_window: Duration,
    /// Holding time of a negative entry when the reply carries none (default 10 s); also how
    /// long a destination whose resolution gave up is not asked for again.
    pub negative_holding_time: Duration,
    /// Most cache entries (default 65536).
    pub max_cache: usize,
    /// Most resolutions in progress (default 256).
    pub max_pending: usize,
    /// The shortest prefix a Resolution Reply may map for an IPv4 destination (default 8); a
    /// broader answer is refused (see [`crate::Client`]'s reply rules).
    pub min_reply_prefix_v4: u8,
    /// The same for IPv6 (default 32).
    pub min_reply_prefix_v6: u8,
    /// How long after the last Traffic Indication for a destination its shortcut resolution
    /// keeps being retried (starting over instead of giving up after `resolution_attempts`
    /// requests; default 60 s). Each further indication restarts it at once.
    pub shortcut_retry_window: Duration,
    /// Meanwhile its retransmissions back off to at most this (default 4 s, at least
    /// `resolution_backoff.initial`): the traffic is hairpinning through the hub until it
    /// gets an answer.
    pub shortcut_backoff_max: Duration,
}

impl ClientConfig {
    /// Defaults for a spoke with these addresses and no NHS.
    pub fn new(nbma_addr: IpAddr, protocol_addr: IpAddr) -> ClientConfig {
        ClientConfig {
            common: Common::new(nbma_addr, protocol_addr),
            nhs: Vec::new(),
            map: Vec::new(),
            local_prefixes: Vec::new(),
            holdtime: 7200,
            registration_timeout: None,
            registration_backoff: Backoff::default(),
            nhs_down_after: 3,
            unique: true,
            resolution_backoff: Backoff::default(),
            resolution_attempts: 5,
            refresh_window: Duration::from_secs(60),
            negative_holding_time: Duration::from_secs(10),
            max_cache: 65536,
            max_pending: 256,
            min_reply_prefix_v4: 8,
            min_reply_prefix_v6: 32,
            shortcut_retry_window: Duration::from_secs(60),
            shortcut_backoff_max: Duration::from_secs(4),
        }
    }

    /// Adds an NHS with its NBMA address (`ip nhrp nhs P nbma N` / `ip nhrp map P N`).
    pub fn with_nhs(mut self, protocol_addr: IpAddr, nbma_addr: IpAddr) -> ClientConfig {
        self.nhs.push(Nhs {
            protocol_addr,
            nbma_addr: Some(nbma_addr),
        });
        self.map.push(StaticMap::host(protocol_addr, nbma_addr));
        self
    }

    /// The registration interval: `registration_timeout`, or holdtime/3.
    pub fn registration_interval(&self) -> Duration {
        self.registration_timeout
            .unwrap_or(Duration::from_secs(u64::from(self.holdtime) / 3))
    }

    /// Checks the configuration, reporting every problem.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        self.common.validate(&mut problems);
        if self.holdtime == 0 {
            problems.push("holdtime must be at least 1 second".into());
        }
        if self.registration_interval().is_zero() {
            problems.push("registration interval (holdtime/3) must not be zero".into());
        }
        if self.nhs_down_after == 0 {
            problems.push("nhs_down_after must be at least 1".into());
        }
        if self.resolution_attempts == 0 {
            problems.push("resolution_attempts must be at least 1".into());
        }
        if self.min_reply_prefix_v4 > 32 || self.min_reply_prefix_v6 > 128 {
            problems
                .push("min_reply_prefix_v4/v6 must be at most 32 and 128 (a host prefix)".into());
        }
        if self.max_cache == 0 || self.max_pending == 0 {
            problems.push("max_cache and max_pending must be at least 1".into());
        }
        for b in [&self.registration_backoff, &self.resolution_backoff] {
            if b.initial.is_zero() || b.max < b.initial {
                problems.push("backoff: initial must be non-zero and at most max".into());
            }
        }
        if self.shortcut_backoff_max < self.resolution_backoff.initial {
            problems.push(format!(
                "shortcut_backoff_max {:?} must be at least resolution_backoff.initial {:?}",
                self.shortcut_backoff_max, self.resolution_backoff.initial
            ));
        }
        let me = self.common.protocol_addr;
        for n in &self.nhs {
            if n.nbma_in(&self.map).is_none() {
                problems.push(format!(
                    "nhs {}: no NBMA address (give one or add `ip nhrp map`)",
                    n.protocol_addr
                ));
            }
            if n.protocol_addr == me {
                problems.push(format!(
                    "nhs {}: is this node's own address",
                    n.protocol_addr
                ));
            }
            if n.protocol_addr.is_ipv4() != me.is_ipv4() {
                problems.push(format!(
                    "nhs {}: address family differs from the tunnel address",
                    n.protocol_addr
                ));
            }
        }
        for m in &self.map {
            if m.prefix_len > max_len(m.protocol_addr) {
                problems.push(format!(
                    "map {}/{}: prefix length too long",
                    m.protocol_addr, m.prefix_len
                ));
            }
        }
        if self.map.len().saturating_add(self.local_prefixes.len()) > self.max_cache {
            problems.push("more static maps and local prefixes than max_cache".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn registration_interval_is_holdtime_over_three_unless_configured() {
        let mut c = ClientConfig::new(ip("172.16.1.24"), ip("10.0.0.2"));
        c.holdtime = 600;
        assert_eq!(c.registration_interval(), Duration::from_secs(200));
        c.holdtime = 7200;
        assert_eq!(c.registration_interval(), Duration::from_secs(2400));
        c.registration_timeout = Some(Duration::from_secs(30));
        assert_eq!(c.registration_interval(), Duration::from_secs(30));
    }

    #[test]
    fn validate_reports_every_problem() {
        let mut c = ClientConfig::new(ip("172.16.1.24"), ip("10.0.0.2"));
        c.holdtime = 2; // holdtime/3 rounds to zero
        c.nhs_down_after = 0;
        c.shortcut_backoff_max = Duration::from_millis(500);
        c.nhs.push(Nhs {
            protocol_addr: ip("10.0.0.2"),
            nbma_addr: None,
        });
        c.map.push(StaticMap {
            protocol_addr: ip("10.0.9.0"),
            prefix_len: 33,
            nbma_addr: ip("172.16.9.1"),
        });
        let Err(Error::InvalidConfig { problems }) = c.validate() else {
            panic!("an invalid configuration was accepted");
        };
        let has = |s: &str| problems.iter().any(|p| p.contains(s));
        assert!(has("registration interval"), "{problems:?}");
        assert!(has("nhs_down_after"), "{problems:?}");
        assert!(has("no NBMA address"), "{problems:?}");
        assert!(has("own address"), "{problems:?}");
        assert!(has("prefix length too long"), "{problems:?}");
        assert!(has("shortcut_backoff_max 500ms"), "{problems:?}");
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert!(
            ClientConfig::new(ip("172.16.1.24"), ip("10.0.0.2"))
                .with_nhs(ip("10.0.0.1"), ip("172.17.0.1"))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn nhs_takes_its_nbma_address_from_a_static_map_when_not_given() {
        let map = [
            StaticMap::host(ip("10.0.0.9"), ip("172.17.0.9")),
            StaticMap::host(ip("10.0.0.1"), ip("172.17.0.1")),
        ];
        let bare = Nhs {
            protocol_addr: ip("10.0.0.1"),
            nbma_addr: None,
        };
        assert_eq!(bare.nbma_in(&map), Some(ip("172.17.0.1")));
        let given = Nhs {
            nbma_addr: Some(ip("172.17.0.2")),
            ..bare
        };
        assert_eq!(given.nbma_in(&map), Some(ip("172.17.0.2")));
        assert_eq!(bare.nbma_in(&[]), None);
    }

    #[test]
    fn with_nhs_adds_a_host_map_and_static_map_entries_are_authoritative() {
        let c = ClientConfig::new(ip("2001:db8::2"), ip("fd00::2"))
            .with_nhs(ip("fd00::1"), ip("2001:db8::1"));
        assert_eq!(
            c.map,
            vec![StaticMap::host(ip("fd00::1"), ip("2001:db8::1"))]
        );
        let m = c.map.first().copied().unwrap();
        assert_eq!(m.prefix_len, 128);
        let now = Instant::now();
        let e = StaticMap {
            protocol_addr: ip("10.1.2.3"),
            prefix_len: 24,
            nbma_addr: ip("172.16.2.1"),
        }
        .entry(now);
        assert_eq!(e.prefix, Prefix::new(ip("10.1.2.0"), 24));
        assert_eq!(e.kind, EntryType::Static);
        assert_eq!(e.flags, EntryFlags::AUTHORITATIVE);
        assert_eq!(e.expires, None);
        assert_eq!(e.effective_nbma(), Some(ip("172.16.2.1")));
        assert_eq!(e.created, now);
    }
}
