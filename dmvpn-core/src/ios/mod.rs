//! IOS configuration text to a [`NodeConfig`]: a network engineer runs a node from the
//! `show running-config` they already have (seed 002's hub and spoke, seed 003's network).
//!
//! Sans-IO: [`parse`] takes the text and a function that knows the system's interface
//! addresses, and returns data: the [`NodeConfig`] (already checked by
//! [`NodeConfig::validate`]), the static routes for the caller to install, and a [`Note`] for
//! every line of another subsystem that the node does not apply (routing protocols, physical
//! interface settings, `line`, `service`, …), so that nothing is dropped silently. Every line
//! the parser does not understand inside the blocks it owns (tunnel interfaces, `crypto`,
//! `ip route`, `hostname`) is an error; all of them are collected into one [`IosError`].
//!
//! ```text
//! hostname spoke-a                           NodeConfig { hostname: "spoke-a",
//! crypto ikev2 proposal P                      crypto.ikev2.proposals (through a policy):
//!  encryption aes-gcm-256                        ["encryption aes-gcm-256 prf sha256 group 19"],
//!  prf sha256 / group 19
//! crypto ikev2 policy POL / proposal P
//! crypto ikev2 keyring KEYS                    crypto.ikev2.keyring: [KeyringPeer { name: "ANY",
//!  peer ANY / address 0.0.0.0 0.0.0.0             address: 0.0.0.0/0, pre_shared_key, … }],
//!   pre-shared-key K
//! crypto ikev2 profile IKE                     (the profile the IPsec profile names:)
//!  match identity remote address 0.0.0.0        (a note: any peer with a key is accepted)
//!  authentication local pre-share / remote …
//!  keyring local KEYS                            keyring of crypto.ikev2 from KEYS,
//!  identity local address                        crypto.ikev2.local_identity,
//!  dpd 10 3 on-demand / lifetime 86400           crypto.ikev2.dpd, lifetime_seconds,
//!  nat keepalive 20                              crypto.ikev2.nat_keepalive_seconds
//! crypto ikev2 dpd 10 3 on-demand              crypto.ikev2.dpd (unless the profile has one)
//! crypto ikev2 nat keepalive 20                crypto.ikev2.nat_keepalive_seconds
//! crypto ikev2 limit max-sa N                  crypto.call_admission.max_sa
//! crypto call admission limit ike sa N           (the same)
//! crypto call admission limit ike
//!   in-negotiation-sa N                        crypto.call_admission.max_in_negotiation
//!   (also crypto ikev2 limit max-in-negotiation-sa N)
//! crypto isakmp policy 10                     crypto.isakmp.policies: [IsakmpPolicy {
//!  encryption aes [128|192|256]                  priority: 10, encryption (IOS's default
//!                                                  des, refused: add encryption aes 256),
//!  hash sha|sha256|sha384|sha512                 hash (default sha),
//!  authentication pre-share                      authentication (default rsa-sig, refused),
//!  group 14|15|16|19|20|21                       group (default 1: needs legacy-groups),
//!  lifetime 86400                                lifetime_seconds }] (IKEv1)
//! crypto isakmp key K address A [MASK]         crypto.isakmp.keys: [IsakmpKey { address: A/MASK
//!   (address 0.0.0.0 [0.0.0.0]: every peer;      (0.0.0.0/0, ::/0), key }]
//!   address ipv6 P/LEN; [no-xauth])
//! crypto isakmp keepalive S [R] [periodic|     crypto.isakmp.keepalive: Some(IsakmpKeepalive
//!   on-demand]                                   { interval: S, retry: R (2), mode })
//! crypto isakmp nat keepalive S                crypto.isakmp.nat_keepalive_seconds: Some(S)
//! crypto isakmp legacy-groups (this crate's    crypto.isakmp.legacy_groups: true (groups 1, 2
//!   line, not IOS's)                             and 5 in policies and IKEv1 `set pfs`)
//! crypto isakmp identity address               (the default: the node's identity is its
//!                                                address)
//! crypto isakmp aggressive-mode disable        (a note: the node never uses aggressive mode)
//! no crypto isakmp default policy              (a note: the node has no default policies)
//! crypto ipsec transform-set TS esp-gcm 256    crypto.transform_sets: [TransformSet {
//!  mode transport                                name: "TS", transforms: "esp-gcm 256", mode }]
//! crypto ipsec security-association
//!   lifetime seconds|kilobytes N               every profile's default lifetime
//! crypto ipsec profile DMVPN                   crypto.ipsec_profiles: [IpsecProfile {
//!  set transform-set TS                          transform_sets: ["TS"],
//!  set ikev2-profile IKE                         ike: Ikev2 (which IKEv2 profile: one per
//!                                                  node); without it ike: Ikev1 (IOS's IKEv1)
//!  set pfs group19                               pfs: Some(19),
//!  set security-association lifetime seconds N   lifetime_seconds / lifetime_kilobytes }]
//! interface Tunnel0                            tunnels: [TunnelConfig { name: "Tunnel0",
//!  ip address 10.0.0.11 255.255.255.0            address: 10.0.0.11/24,
//!  ip mtu 1400                                   mtu,
//!  ipv6 address 2001:db8::11/64                  with ip address: ipv6: Some(Ipv6Overlay {
//!  ipv6 mtu 1400                                   address, mtu, nhrp (ipv6 nhrp …) });
//!  ipv6 nhrp network-id 6 / nhs … / map …        alone: address, mtu, nhrp (IPv6-only),
//!  ip tcp adjust-mss 1360 (or ipv6 tcp …)       adjust_mss: Some(1360),
//!  ip nhrp authentication K                      nhrp.authentication,
//!  ip nhrp network-id 99                         nhrp.network_id,
//!  ip nhrp holdtime 300                          nhrp.holdtime,
//!  ip nhrp nhs 10.0.0.1 [nbma N] [multicast]     nhrp.nhs (multicast: map_multicast += N),
//!  ip nhrp map 10.0.0.1 172.17.0.1               nhrp.maps,
//!  ip nhrp map multicast 172.17.0.1 | dynamic    nhrp.map_multicast / map_multicast_dynamic,
//!  ip nhrp redirect / ip nhrp shortcut           nhrp.redirect / nhrp.shortcut,
//!  ip nhrp max-send 100 every 10                 nhrp.max_send,
//!  ip nhrp registration timeout 100              nhrp.registration_timeout,
//!  ip nhrp registration prefix P/L               nhrp.registration_prefixes (this crate's),
//!  ip verify unicast source reachable-via rx     verify_unicast_source: true,
//!  tunnel source 172.16.1.1 | Ethernet0          source (an interface: its address),
//!  tunnel mode gre multipoint [ipv6]             mode: Multipoint,
//!  tunnel mode gre ip|ipv6 + tunnel destination  mode: PointToPoint { destination },
//!  tunnel key 100000                             key: Some(100000),
//!  tunnel protection ipsec profile DMVPN [shared] protection }],
//! interface Ethernet0 (the tunnel source)      (its address: the source above,
//!  ip address 172.16.1.1 255.255.255.0           `from_text` in Parsed::sources)
//!  mtu 1492                                      underlay_mtu: 1492 }]
//! interface Ethernet1                          networks: [192.168.1.0/24] (every interface
//!  ip address 192.168.1.1 255.255.255.0          that is no tunnel's source)
//! ip route 0.0.0.0 0.0.0.0 172.16.1.254 [D]    Parsed::routes
//! ```
//!
//! Refused, with what to use instead: `crypto keyring` (give IKEv1 keys as `crypto isakmp
//! key`), `crypto isakmp profile`, `set isakmp-profile`, `crypto isakmp identity` other than
//! `address`, `crypto isakmp key … hostname`, encrypted keys (type 6, 7), `crypto isakmp
//! invalid-spi-recovery` and every other `crypto isakmp` or `no crypto isakmp` line not listed
//! above, `crypto map` (tunnel protection), certificates (`crypto pki`, `authentication
//! rsa-sig`/`rsa-encr`), DES, 3DES, MD5 (in ESP, IKEv2 and ISAKMP policies alike, e.g.
//! "encryption des is refused (DES is broken, RFC 8247): use encryption aes 256"),
//! Diffie-Hellman groups 1, 2 and 5 in IKEv2 and, without `crypto isakmp legacy-groups`, in
//! IKEv1 ("group 2 is a legacy group (1024-bit MODP, too small for today, RFC 8247): use group
//! 14 or 19, or add the line crypto isakmp legacy-groups to accept it"), group 24 (not in the
//! crypto provider: use group 14), and `shutdown` on a tunnel (running an interface the
//! configuration turned off would register, negotiate IKE and carry traffic the operator
//! stopped; leaving it out silently would change the network: remove the interface or the
//! line). A `crypto isakmp policy` whose `encryption`, `authentication` or `group` line is
//! missing takes IOS's default (DES, rsa-sig, group 1), which is refused on the policy's
//! first line with the line to add.
//!
//! An IPsec profile without `set ikev2-profile` negotiates IKEv1, as on IOS
//! ([`IkeVersion::Ikev1`](crate::config::IkeVersion::Ikev1)): a tunnel protected with it needs
//! a `crypto isakmp policy` and a `crypto isakmp key`. `crypto isakmp legacy-groups` is this
//! crate's own line (IOS has no such switch): the explicit opt-in for groups 1, 2 and 5, with
//! a warning at every negotiation. The `crypto isakmp` lines are notes when no protected
//! tunnel uses IKEv1. ([`Node::new`](crate::Node::new) refuses a tunnel protected with IKEv1
//! until the IKEv1 machine is part of the node.)
//!
//! The node has one IKEv2 configuration: every protected tunnel's IPsec profile must name the
//! same IKEv2 profile, whose keyring becomes the node's. IKEv2 proposals count, as in IOS,
//! only when a `crypto ikev2 policy` names them (otherwise the defaults of
//! [`Ikev2Config::proposals`](crate::config::Ikev2Config::proposals) apply, and a note says
//! so). `match identity remote` with anything but the wildcard is refused (restrict peers
//! in the keyring instead). Defaults where the text has none: `ip mtu` 1400 (the seeds' value;
//! IOS computes one from the encapsulation), the underlay MTU 1500, hostname `Router`. No
//! IOS line sets [`NhrpConfig::hub_resolution`](crate::config::NhrpConfig::hub_resolution)
//! (it stays `Forward`, what IOS does); `ip nhrp registration no-unique` is a note (the
//! configuration has no such field). A tunnel with both `ip address` and `ipv6 address` is
//! dual stack: the `ipv6 …` lines make its [`Ipv6Overlay`](crate::config::Ipv6Overlay), which
//! needs its own `ipv6 nhrp network-id`.
//!
//! Lines may be indented with any white space or not at all (IOS's own parser ignores
//! indentation): an unindented line that is a command of the block above continues the
//! block, as when IOS reads a pasted configuration. Keywords match in any case;
//! abbreviations of keywords are not accepted, interface names are (`Fa0/0` is
//! `FastEthernet0/0`). Secrets (pre-shared keys, NHRP passwords, and other subsystems'
//! passwords, secrets and keys in notes) never appear in errors, notes or `Debug`: they read
//! `<redacted>`.
//!
//! ```
//! use dmvpn_core::ios;
//!
//! let text = "\
//! hostname spoke-a
//! interface Tunnel0
//!  ip address 10.0.0.11 255.255.255.0
//!  ip nhrp network-id 99
//!  ip nhrp nhs 10.0.0.1 nbma 172.17.0.1 multicast
//!  tunnel source Ethernet0
//!  tunnel mode gre multipoint
//! !
//! interface Ethernet0
//!  ip address 172.16.1.1 255.255.255.0
//!  duplex auto
//! router eigrp 1
//!  network 10.0.0.0 0.0.0.255
//! ip route 0.0.0.0 0.0.0.0 172.16.1.254
//! ";
//! let parsed = ios::parse(text, &|_| None)?;
//! let t = &parsed.config.tunnels[0];
//! assert_eq!(t.source.to_string(), "172.16.1.1");
//! assert_eq!(t.nhrp.map_multicast, vec!["172.17.0.1".parse::<std::net::IpAddr>()?]);
//! assert_eq!(parsed.routes[0].prefix.to_string(), "0.0.0.0/0");
//! let noted: Vec<usize> = parsed.notes.iter().map(|n| n.line).collect();
//! assert_eq!(noted, [11, 12, 13]);
//!
//! // IOS's default encryption of an ISAKMP policy is DES.
//! let err = ios::parse("interface Tunnel0\n tunnel bogus\ncrypto isakmp policy 1\n", &|_| None)
//!     .unwrap_err();
//! assert!(err.to_string().contains(
//!     "line 3: crypto isakmp policy 1: no encryption line: IOS's default is encryption des, \
//!      and encryption des is refused (DES is broken, RFC 8247): add encryption aes 256"
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::NodeConfig;

mod build;
mod crypto;
mod iface;
mod isakmp;
mod lex;
mod parser;
mod tunnel;

#[cfg(test)]
mod tests;

/// Parses IOS configuration text into a node configuration.
///
/// `resolve` gives the address of a system interface by the name the text uses (`tunnel
/// source FastEthernet0/0`, as written); it is asked only when the text itself has no
/// static address for that interface (`interface FastEthernet0/0` / `ip address A M` wins, a
/// DHCP interface is asked). A daemon reads it from the system; `&|_| None` when the text
/// has every address.
///
/// # Errors
///
/// Every line not understood inside the blocks the parser owns, every refused one, and
/// every problem [`NodeConfig::validate`] finds, mapped back to the line that configured it
/// where there is one; all collected.
pub fn parse(text: &str, resolve: &dyn Fn(&str) -> Option<IpAddr>) -> Result<Parsed, IosError> {
    parse_with_addresses(text, &|name| resolve(name).into_iter().collect())
}

/// [`parse`], with every address the system has for an interface: `addresses` gives them
/// all, in the system's order, and a tunnel source takes the first of its tunnel's family
/// that is not link-local (`fe80::/10`, which means nothing beyond the link). What a daemon
/// on a dual-stack interface needs: an IPv4 tunnel there takes the IPv4 address, an IPv6
/// one (`tunnel mode gre multipoint ipv6`) the global IPv6 address.
///
/// # Errors
///
/// As [`parse`]; a tunnel source interface with no address of its tunnel's family, or only
/// a link-local one, is a problem on its `tunnel source` line.
pub fn parse_with_addresses(
    text: &str,
    addresses: &dyn Fn(&str) -> Vec<IpAddr>,
) -> Result<Parsed, IosError> {
    let lines = lex::lines(text);
    let mut p = parser::Parser::default();
    for line in &lines {
        p.line(line);
    }
    // A message may quote part of its line (a transform set that is not one, say): whatever
    // the line's redaction hides stays hidden there too.
    build::build(p, addresses).map_err(|mut e| {
        for pr in &mut e.problems {
            if let Some(l) = pr.line.and_then(|n| lines.iter().find(|l| l.no == n)) {
                pr.message = lex::scrub(&pr.message, &l.words);
            }
        }
        e
    })
}

/// What [`parse`] made of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The node configuration; it passed [`NodeConfig::validate`].
    pub config: NodeConfig,
    /// The `ip route` / `ipv6 route` lines, in order, for the caller to install (those via a
    /// tunnel next hop into the node with [`Node::add_route`](crate::Node::add_route), the
    /// others into the system).
    pub routes: Vec<Route>,
    /// Tunnel sources given by interface name, for a daemon to follow that interface's
    /// address (a DHCP spoke's changes).
    pub sources: Vec<SourceInterface>,
    /// Lines of other subsystems, and of ours that have no effect, in order.
    pub notes: Vec<Note>,
}

/// A line the node does not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// 1-based line number.
    pub line: usize,
    /// The line's words, secrets redacted.
    pub text: String,
    /// Why it is not applied.
    pub why: String,
}

/// An `ip route PREFIX MASK TARGET [DISTANCE] [name NAME]` or `ipv6 route PREFIX/LEN TARGET
/// [DISTANCE]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// 1-based line number.
    pub line: usize,
    /// The destination prefix.
    pub prefix: IpNet,
    /// Where it leads.
    pub via: RouteVia,
    /// Administrative distance (IOS's default for a static route: 1).
    pub distance: u8,
    /// `name NAME`.
    pub name: Option<String>,
}

/// The target of a [`Route`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteVia {
    /// A next-hop address.
    NextHop(IpAddr),
    /// An interface (`Tunnel0`, `Null0`, `Ethernet0`), as written.
    Interface(String),
    /// An interface and a next hop on it.
    InterfaceNextHop {
        /// The interface, as written.
        interface: String,
        /// The next hop.
        next_hop: IpAddr,
    },
}

/// A tunnel whose `tunnel source` names an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInterface {
    /// The tunnel interface (`Tunnel0`).
    pub tunnel: String,
    /// The source interface, as written (`Ethernet0`).
    pub interface: String,
    /// The line of `tunnel source`.
    pub line: usize,
    /// The address used.
    pub address: IpAddr,
    /// The address came from the text (`ip address`), not from `resolve`.
    pub from_text: bool,
}

/// Why a configuration was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IosError {
    /// The problems, by line.
    pub problems: Vec<Problem>,
}

/// One problem of an [`IosError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number; `None` for the configuration as a whole (no tunnel interface).
    pub line: Option<usize>,
    /// The line's words, secrets redacted (empty without a line).
    pub text: String,
    /// What is wrong, and what to do instead where there is something.
    pub message: String,
}

impl fmt::Display for Problem {
    /// `line N: <text>: <why>`, or `configuration: <why>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "line {n}: {}: {}", self.text, self.message),
            None => write!(f, "configuration: {}", self.message),
        }
    }
}

impl fmt::Display for IosError {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for IosError {}
