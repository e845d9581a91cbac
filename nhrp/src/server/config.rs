//! What a server is configured with: how it answers resolutions, the next NHS, static maps,
//! routes to networks behind spokes and the table bounds.

use std::net::IpAddr;
use std::time::Duration;

use crate::Error;
use crate::cache::{Prefix, max_len};
use crate::client::{Nhs, StaticMap};
use crate::machine::Common;

/// How the server answers a Resolution Request for a registered spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolutionMode {
    /// Forward the request to the spoke that owns the address, with this NHS appended to the
    /// Forward Transit NHS Record; the spoke answers the requester directly (what Cisco IOS
    /// does in DMVPN phase 2, as in the capture
    /// `dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap`).
    #[default]
    Forward,
    /// Answer from the registration table (seed 003, steps 3 and 9).
    Authoritative,
}

/// A route the hub's data path uses: `prefix` lives behind the spoke whose tunnel address is
/// `next_hop` (normally learned by a routing protocol). Resolutions for addresses in `prefix`
/// go to that spoke (DMVPN phase 3 shortcuts to networks behind spokes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The destination prefix.
    pub prefix: Prefix,
    /// The spoke's protocol address.
    pub next_hop: IpAddr,
}

/// Configuration of a [`crate::Server`], with the IOS commands it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Addresses, authentication, `max-send`, network-id and queue bounds.
    pub common: Common,
    /// Forward resolutions to the owner (phase 2, default) or answer them.
    pub resolution: ResolutionMode,
    /// `ip nhrp nhs` on a hub: the next NHS in a hub hierarchy, where resolutions for unknown
    /// destinations are forwarded (hop count decremented). Without one they get a negative
    /// reply (code 12, No Binding Exists).
    pub next_nhs: Option<Nhs>,
    /// The prefix length of the tunnel's `ip address` (`255.255.255.0` is 24): with
    /// `common.protocol_addr` it gives the tunnel subnet ([`ServerConfig::tunnel_subnet`]).
    /// By default a registration must be for a host address (/32 or /128, what Cisco spokes
    /// register) inside it, other than this server's own; anything else is refused with
    /// code 4, Administratively Prohibited. [`ServerConfig::new`] sets 24 for IPv4 (the
    /// seeds' `ip address 10.0.0.1 255.255.255.0`) and 64 for IPv6; set the interface's own
    /// (dmvpn-core does).
    pub tunnel_prefix_len: u8,
    /// Prefixes registrations may claim besides host addresses in the tunnel subnet (default
    /// none): a registered prefix, of any length, inside one of these is accepted unless it
    /// covers this server's own address. For spokes that register the networks behind them;
    /// Cisco spokes register their tunnel address only.
    pub registration_prefixes: Vec<Prefix>,
    /// `ip nhrp map` on the hub.
    pub map: Vec<StaticMap>,
    /// Routes to networks behind spokes (see [`Route`]); a later one for the same prefix
    /// replaces an earlier one. The server takes them into its route table, indexed by
    /// prefix length ([`crate::Server::routes`], [`crate::Server::add_route`]).
    pub routes: Vec<Route>,
    /// `ip nhrp map multicast dynamic`: registered spokes join the multicast list.
    pub map_multicast_dynamic: bool,
    /// Most registrations (cache entries), default 1,000,000.
    pub max_registrations: usize,
    /// Holding time of negative replies and of answers for static entries, in seconds.
    pub holdtime: u16,
    /// Phase 3: at most one Traffic Indication per source and destination pair per this
    /// interval (default 10 s), once its quick retries are used up.
    pub redirect_interval: Duration,
    /// Phase 3: while a flow keeps hairpinning after a Traffic Indication, the next one may
    /// go this much later (default 2 s; above zero and at most `redirect_interval`)...
    pub redirect_retry: Duration,
    /// ...for this many quick retries (default 8), then one per `redirect_interval`. A flow
    /// that did not hairpin for a whole `redirect_interval` starts over. 0: one per
    /// `redirect_interval` only.
    pub redirect_retries: u32,
    /// Most source/destination pairs remembered for the redirect rate limit.
    pub max_redirect_pairs: usize,
    /// Requesters remembered per registration (they get a Purge Request when it is purged).
    pub max_requesters: usize,
}

impl ServerConfig {
    /// Defaults for a hub with these addresses.
    pub fn new(nbma_addr: IpAddr, protocol_addr: IpAddr) -> ServerConfig {
        ServerConfig {
            common: Common::new(nbma_addr, protocol_addr),
            resolution: ResolutionMode::Forward,
            next_nhs: None,
            tunnel_prefix_len: if protocol_addr.is_ipv4() { 24 } else { 64 },
            registration_prefixes: Vec::new(),
            map: Vec::new(),
            routes: Vec::new(),
            map_multicast_dynamic: true,
            max_registrations: 1_000_000,
            holdtime: 7200,
            redirect_interval: Duration::from_secs(10),
            redirect_retry: Duration::from_secs(2),
            redirect_retries: 8,
            max_redirect_pairs: 4096,
            max_requesters: 8,
        }
    }

    /// The tunnel subnet: `common.protocol_addr` / `tunnel_prefix_len`.
    pub fn tunnel_subnet(&self) -> Prefix {
        Prefix::new(self.common.protocol_addr, self.tunnel_prefix_len)
    }

    /// Whether a registration may claim `prefix`: a host address inside the tunnel subnet,
    /// or a prefix inside one of `registration_prefixes`, and never one covering this
    /// server's own address.
    pub fn may_register(&self, prefix: Prefix) -> bool {
        if prefix.contains(self.common.protocol_addr) {
            return false;
        }
        (prefix.is_host() && self.tunnel_subnet().contains(prefix.addr()))
            || self
                .registration_prefixes
                .iter()
                .any(|p| p.len() <= prefix.len() && p.contains(prefix.addr()))
    }

    /// Checks the configuration, reporting every problem.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        self.common.validate(&mut problems);
        if let Some(n) = &self.next_nhs
            && n.nbma_in(&self.map).is_none()
        {
            problems.push(format!("next_nhs {}: no NBMA address", n.protocol_addr));
        }
        let own = self.common.protocol_addr;
        if self.tunnel_prefix_len > max_len(own) {
            problems.push(format!(
                "tunnel_prefix_len {} is longer than the protocol address {own}",
                self.tunnel_prefix_len
            ));
        }
        for p in &self.registration_prefixes {
            if p.addr().is_ipv4() != own.is_ipv4() {
                problems.push(format!(
                    "registration prefix {p} is not of the protocol address's family"
                ));
            }
        }
        if self.max_registrations <= self.map.len() {
            problems.push("max_registrations must exceed the number of static maps".into());
        }
        if self.holdtime == 0 {
            problems.push("holdtime must be at least 1 second".into());
        }
        if self.max_redirect_pairs == 0 {
            problems.push("max_redirect_pairs must be at least 1".into());
        }
        if self.redirect_retries > 0
            && (self.redirect_retry.is_zero() || self.redirect_retry > self.redirect_interval)
        {
            problems.push(format!(
                "redirect_retry {:?} must be above zero and at most redirect_interval {:?}",
                self.redirect_retry, self.redirect_interval
            ));
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
    fn validate_reports_every_problem_and_accepts_the_defaults() {
        let ok = ServerConfig::new(ip("172.17.0.1"), ip("10.0.0.1"));
        assert!(ok.validate().is_ok());
        assert_eq!(ok.resolution, ResolutionMode::Forward);
        let mut c = ok.clone();
        c.next_nhs = Some(Nhs {
            protocol_addr: ip("10.0.0.254"),
            nbma_addr: None,
        });
        c.holdtime = 0;
        c.max_redirect_pairs = 0;
        c.redirect_retry = Duration::from_secs(11);
        c.max_registrations = 1;
        c.map
            .push(StaticMap::host(ip("10.0.0.9"), ip("172.17.0.9")));
        let Err(Error::InvalidConfig { problems }) = c.validate() else {
            panic!("an invalid configuration was accepted");
        };
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("next_nhs 10.0.0.254")));
        assert!(problems.iter().any(|p| p.contains("redirect_retry 11s")));
        // A static map of the next NHS gives it its NBMA address.
        c.map
            .push(StaticMap::host(ip("10.0.0.254"), ip("172.17.0.254")));
        let Err(Error::InvalidConfig { problems }) = c.validate() else {
            panic!("still invalid");
        };
        assert!(!problems.iter().any(|p| p.contains("next_nhs")));
    }

    #[test]
    fn the_tunnel_subnet_and_registration_prefixes_are_checked() {
        let v6 = ServerConfig::new(ip("2001:db8:ffff::1"), ip("2001:db8::1"));
        assert_eq!(v6.tunnel_subnet(), Prefix::new(ip("2001:db8::"), 64));
        let mut c = ServerConfig::new(ip("172.17.0.1"), ip("10.0.0.1"));
        assert_eq!(c.tunnel_subnet(), Prefix::new(ip("10.0.0.0"), 24));
        c.tunnel_prefix_len = 33;
        c.registration_prefixes = vec![
            Prefix::new(ip("192.168.0.0"), 16),
            Prefix::new(ip("2001:db8:1::"), 48),
        ];
        let Err(Error::InvalidConfig { problems }) = c.validate() else {
            panic!("an invalid configuration was accepted");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("tunnel_prefix_len 33")));
        assert!(problems.iter().any(|p| p.contains("2001:db8:1::/48")));
    }
}
