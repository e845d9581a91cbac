//! Node configuration, in the terms of a Cisco IOS DMVPN tunnel interface (seed 002,
//! "Configuring the Hub" / "Configuring the Spoke"), as plain serde-friendly data.
//!
//! ```text
//! interface Tunnel0                      TunnelConfig { name: "Tunnel0",
//!  ip address 10.0.0.1 255.255.255.0       address: 10.0.0.1/24,
//!  ip mtu 1400                             mtu: 1400,
//!  ip tcp adjust-mss 1360                  adjust_mss: Some(1360),
//!  ip nhrp authentication donttell         nhrp.authentication: Some("donttell"),
//!  ip nhrp map multicast dynamic           nhrp.map_multicast_dynamic: true,
//!  ip nhrp network-id 99                   nhrp.network_id: 99,
//!  ip nhrp holdtime 300                    nhrp.holdtime: 300,
//!  ip nhrp redirect                        nhrp.redirect: true,
//!  tunnel source 172.17.0.1                source: 172.17.0.1,
//!  tunnel mode gre multipoint              mode: Multipoint,
//!  tunnel key 100000                       key: Some(100000),
//! interface Ethernet0 / mtu 1500           underlay_mtu: 1500 }
//! ```
//!
//! [`NodeConfig::validate`] reports every problem at once, each with the path of the field.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

mod validate;

pub use crate::crypto_config::{
    CallAdmission, CryptoConfig, Dpd, DpdMode, IdentityConfig, IkeVersion, Ikev2Config, IpsecMode,
    IpsecProfile, IsakmpAuthentication, IsakmpConfig, IsakmpEncryption, IsakmpHash,
    IsakmpKeepalive, IsakmpKey, IsakmpPolicy, KeyringPeer, TransformSet, TunnelProtection,
    is_legacy_group,
};

/// A whole node: one or more tunnel interfaces (two for dual DMVPN, seed 003).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// Host name, used in status output and logs.
    pub hostname: String,
    /// Tunnel interfaces.
    pub tunnels: Vec<TunnelConfig>,
    /// The networks behind this node (its LAN interfaces, e.g. `interface FastEthernet0/1` /
    /// `ip address 192.168.1.1 255.255.255.0`): a spoke answers NHRP resolutions for addresses
    /// in them with the whole prefix, which is what phase 3 shortcuts point at.
    #[serde(default)]
    pub networks: Vec<IpNet>,
    /// `crypto ...`: transform sets, IPsec profiles, IKEv2 (used by the interfaces'
    /// [`TunnelConfig::protection`]).
    #[serde(default)]
    pub crypto: CryptoConfig,
}

/// `tunnel mode gre multipoint` or point-to-point GRE with `tunnel destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelMode {
    /// mGRE (`tunnel mode gre multipoint`): hubs, and spokes that build spoke-to-spoke tunnels.
    Multipoint,
    /// Point-to-point GRE to one `tunnel destination` (phase 1 spokes).
    PointToPoint {
        /// `tunnel destination`: the hub's NBMA address.
        destination: IpAddr,
    },
}

/// One tunnel interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelConfig {
    /// Interface name (`interface Tunnel0`).
    pub name: String,
    /// `ip address`: the overlay address and subnet of the DMVPN cloud.
    pub address: IpNet,
    /// `tunnel source`: the local NBMA (underlay) address.
    pub source: IpAddr,
    /// `tunnel mode`.
    pub mode: TunnelMode,
    /// `tunnel key`: must match across the DMVPN; distinguishes clouds sharing a source address.
    #[serde(default)]
    pub key: Option<u32>,
    /// `ip mtu`: the overlay MTU (seeds recommend 1400), at least 576 (IPv4 overlay) or 1280
    /// (IPv6). Every IPv4/IPv6 packet the interface sends into the tunnel is held to the
    /// effective MTU towards its peer: this, or less when the underlay cannot carry this much
    /// after the encapsulation ([`underlay_mtu`](Self::underlay_mtu) minus the outer IP, GRE
    /// and, protected, the ESP overhead of the peer's SA). Larger IPv4 packets are fragmented
    /// before they are encrypted (seed 002: "ensures longer packets are fragmented before they
    /// are encrypted; otherwise, the receiving router would have to do the reassembly"), or,
    /// with Don't Fragment set, dropped and answered with ICMP "fragmentation needed" carrying
    /// the effective MTU (RFC 1191); larger IPv6 packets are dropped and answered with ICMPv6
    /// "packet too big" (RFC 4443 §3.2). See the crate docs, "MTU".
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// The MTU of the underlay interface `tunnel source` is on (IOS: the `mtu` of that
    /// interface; Ethernet's 1500 by default): the largest outer packet (IP header included)
    /// the node may hand to the underlay. At least 576 with an IPv4 tunnel source, 1280 with
    /// an IPv6 one. The node never learns it by itself (Sans-IO): set it when the NBMA path is
    /// narrower (PPPoE 1492, a provider's 1400, …).
    #[serde(default = "default_underlay_mtu")]
    pub underlay_mtu: u16,
    /// `ip tcp adjust-mss N` (seed 002 recommends 1360 with `ip mtu 1400`): the MSS option of
    /// TCP SYN and SYN-ACK segments, IPv4 and IPv6, going into and coming out of the tunnel is
    /// lowered to N when it is larger (never raised), the TCP checksum updated incrementally
    /// (RFC 1624), nothing else touched. 500..=1460, as IOS. Malformed segments pass as they
    /// are; see [`dmvpn_wire::tcp`] for exactly what is parsed. Default off.
    #[serde(default)]
    pub adjust_mss: Option<u16>,
    /// `ip verify unicast source reachable-via rx`, in spirit (unicast reverse-path
    /// forwarding, strict): a packet that comes out of this tunnel is accepted only if its
    /// inner source routes back through the peer that sent it. That is, the source is not on
    /// one of the node's [`networks`](NodeConfig::networks) or its own tunnel address, its
    /// route (the node's routing table, or the connected tunnel subnet) leaves through this
    /// interface, and the NBMA address the packet came from is where that route leads: the
    /// mapping of the route's next hop (a hub: the registration), NHRP's own mapping of the
    /// source, or, on a spoke, one of its NHSs, the path back while it has no mapping (and the
    /// path spoke-to-spoke traffic takes until both sides' mappings or shortcuts are in
    /// place). Anything else is dropped and counted in
    /// [`NodeStats::verify_source_drops`](crate::NodeStats::verify_source_drops).
    ///
    /// Stricter than IOS, whose check stops at the interface: a spoke here also refuses another
    /// spoke's direct packets from a source it would reach through someone else. On a phase 3
    /// spoke (`shortcut`) the far side's shortcut may come up first, while this spoke's summary
    /// route still leads to the hub: a refused packet straight from a peer the spoke has a
    /// mapping for then has its source resolved (as a Traffic Indication would), and once NHRP
    /// maps the source to that peer its packets pass. The spoke has that mapping when the hub
    /// relayed the far side's resolution request to it ([`HubResolution::Forward`], what IOS
    /// does); with [`HubResolution::Answer`] a one-way phase 3 flow from a spoke this one never
    /// talked to stays refused. Default off: any inner source is accepted.
    #[serde(default)]
    pub verify_unicast_source: bool,
    /// `ip nhrp ...` settings.
    pub nhrp: NhrpConfig,
    /// `tunnel protection ipsec profile NAME [shared]`: GRE to and from every peer of the
    /// interface travels only inside ESP (transport mode by default), keyed by IKEv2.
    #[serde(default)]
    pub protection: Option<TunnelProtection>,
    /// Dual stack: the interface's IPv6 overlay beside the IPv4 one of [`address`] and
    /// [`nhrp`] (`ipv6 address`, `ipv6 nhrp …`, as IOS 15.2 and later allow on one tunnel
    /// interface), with its own NHRP instance. `None`: one overlay (which may be IPv6 itself,
    /// in [`address`]). See [`Ipv6Overlay`].
    ///
    /// [`address`]: TunnelConfig::address
    /// [`nhrp`]: TunnelConfig::nhrp
    #[serde(default)]
    pub ipv6: Option<Ipv6Overlay>,
}

/// The IPv6 overlay of a dual-stack tunnel interface ([`TunnelConfig::ipv6`]):
///
/// ```text
/// interface Tunnel0                      TunnelConfig { address: 10.0.0.11/24, nhrp: …,
///  ip address 10.0.0.11 255.255.255.0
///  ip nhrp nhs 10.0.0.1 nbma 172.17.0.1
///  ipv6 address 2001:db8::11/64            ipv6: Some(Ipv6Overlay { address: 2001:db8::11/64,
///  ipv6 nhrp nhs 2001:db8::1 nbma 172.17.0.1   nhrp: NhrpConfig { nhs: […], … }, mtu: None }),
///  tunnel source 172.16.1.1                source: 172.16.1.1, … }
/// ```
///
/// Both overlays share the interface's GRE tunnel (source, key, mode), its protection (one
/// IKE SA and one pair of child SAs per NBMA peer carry both families' GRE) and its
/// `verify_unicast_source`; each has its own NHRP client and/or server, registrations,
/// mappings and `show` section (`Interface: Tunnel0, IPv4 NHRP Details`, then `… IPv6 …`).
/// A received GRE packet goes to the overlay of its family (its GRE protocol type, or an
/// NHRP packet's `ar$pro.type`). In a [`Node`](crate::Node) the IPv6 overlays come after
/// the configured interfaces: tunnel index `tunnels.len() + k` is the IPv6 overlay of the
/// `k`-th dual-stack interface (in [`Event::tunnel`](crate::Event::tunnel),
/// [`TunnelStatus::index`](crate::TunnelStatus::index), [`Node::nhrp_client`](crate::Node::nhrp_client), …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Overlay {
    /// `ipv6 address`: the IPv6 overlay address and prefix.
    pub address: IpNet,
    /// `ipv6 mtu` (default: the interface's [`TunnelConfig::mtu`]); at least 1280.
    #[serde(default)]
    pub mtu: Option<u16>,
    /// `ipv6 nhrp …`: the IPv6 overlay's NHRP settings (`ipv6 nhrp network-id`, `ipv6 nhrp
    /// nhs`, `ipv6 nhrp map`, …), NBMA addresses of the tunnel source's family.
    pub nhrp: NhrpConfig,
}

impl TunnelConfig {
    /// The IPv6 overlay of a dual-stack interface as an interface of its own: this one's name,
    /// source, mode, key, protection and source check with the [`Ipv6Overlay`]'s address, MTU
    /// and NHRP settings. `None` without [`TunnelConfig::ipv6`].
    pub fn ipv6_overlay(&self) -> Option<TunnelConfig> {
        let v6 = self.ipv6.as_ref()?;
        Some(TunnelConfig {
            address: v6.address,
            mtu: v6.mtu.unwrap_or(self.mtu),
            nhrp: v6.nhrp.clone(),
            ipv6: None,
            ..self.clone()
        })
    }
}

fn default_mtu() -> u16 {
    1400
}

fn default_underlay_mtu() -> u16 {
    1500
}

/// The range of `ip tcp adjust-mss` (IOS's).
pub const ADJUST_MSS_RANGE: core::ops::RangeInclusive<u16> = 500..=1460;

/// An `ip nhrp nhs` entry: a next-hop server (hub) by its overlay address, with the NBMA address
/// from the matching static `ip nhrp map` (or given here directly, as `ip nhrp nhs X nbma Y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NhsConfig {
    /// The hub's tunnel (overlay) address.
    pub address: IpAddr,
    /// The hub's NBMA address, if not given by a static map.
    #[serde(default)]
    pub nbma: Option<IpAddr>,
}

/// An `ip nhrp map OVERLAY NBMA` static mapping.
///
/// This is the serde shape of the IOS command (a host address and its NBMA address); the NHRP
/// machines take [`dmvpn_nhrp::StaticMap`], which also carries a prefix length and has no
/// serde support (`dmvpn-nhrp` does not depend on serde and must not), so the two stay
/// separate types with one conversion between them (`From`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StaticMap {
    /// Overlay (protocol) address.
    pub address: IpAddr,
    /// NBMA address.
    pub nbma: IpAddr,
}

/// `ip nhrp map` as the NHRP machines take it: a host mapping (prefix length 32 or 128). The
/// one place a configured static map becomes the machines' (client and server share it).
impl From<StaticMap> for dmvpn_nhrp::StaticMap {
    fn from(m: StaticMap) -> dmvpn_nhrp::StaticMap {
        dmvpn_nhrp::StaticMap {
            protocol_addr: m.address,
            prefix_len: if m.address.is_ipv4() { 32 } else { 128 },
            nbma_addr: m.nbma,
        }
    }
}

/// How a hub answers a Resolution Request for a spoke registered with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubResolution {
    /// Forward the request to the spoke, which answers the requester directly and learns the
    /// requester's mapping on the way (what IOS 12.4 and later put on the wire).
    #[default]
    Forward,
    /// Answer from the registration table (seed 003, steps 3 and 9): each side resolves the
    /// other through the hub.
    Answer,
}

/// `ip nhrp max-send PACKETS every SECONDS`.
///
/// The serde shape of the IOS command, in whole seconds; the NHRP machines take
/// [`dmvpn_nhrp::MaxSend`], which has a [`Duration`] interval and the over-quota policy and
/// queue bound IOS does not configure here, and no serde support (`dmvpn-nhrp` does not depend
/// on serde and must not). One conversion (`From`) joins them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MaxSend {
    /// Packets allowed per interval.
    pub packets: u32,
    /// Interval in seconds.
    pub every_secs: u32,
}

impl Default for MaxSend {
    /// IOS default: 100 packets every 10 seconds.
    fn default() -> Self {
        MaxSend {
            packets: 100,
            every_secs: 10,
        }
    }
}

/// `ip nhrp max-send` as the NHRP machines take it: the packets and interval configured, the
/// machines' defaults for what IOS does not configure (hold packets over the quota, and how
/// many).
impl From<MaxSend> for dmvpn_nhrp::MaxSend {
    fn from(m: MaxSend) -> dmvpn_nhrp::MaxSend {
        dmvpn_nhrp::MaxSend {
            packets: m.packets,
            interval: Duration::from_secs(u64::from(m.every_secs)),
            ..dmvpn_nhrp::MaxSend::default()
        }
    }
}

/// A secret of the configuration: the NHRP password (`ip nhrp authentication`, at most 8
/// characters) or a pre-shared key. Zeroized on drop, never shown by `Debug`, and serialized
/// as `"<redacted>"` unless the caller asks for the secrets explicitly with
/// [`with_secrets_revealed`] (to write a configuration file, say). Reading `"<redacted>"` back
/// is an error, so a redacted configuration cannot silently run with that word as its key.
///
/// ```
/// use dmvpn_core::config::{Password, with_secrets_revealed};
/// let p = Password::new("donttell");
/// assert_eq!(serde_json::to_string(&p).unwrap(), r#""<redacted>""#);
/// let clear = with_secrets_revealed(|| serde_json::to_string(&p).unwrap());
/// assert_eq!(clear, r#""donttell""#);
/// assert!(serde_json::from_str::<Password>(r#""<redacted>""#).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

/// What a secret serializes as unless revealed.
pub const REDACTED: &str = "<redacted>";

thread_local! {
    static REVEAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the configuration's secrets serialized in clear (on this thread, for the
/// duration of `f`): the explicit opt-in [`Password`]'s serialization needs.
pub fn with_secrets_revealed<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            REVEAL.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REVEAL.with(|r| r.replace(true)));
    f()
}

impl Serialize for Password {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if REVEAL.with(std::cell::Cell::get) {
            s.serialize_str(&self.0)
        } else {
            s.serialize_str(REDACTED)
        }
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Password, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        if s.as_str() == REDACTED {
            return Err(serde::de::Error::custom(
                "a redacted secret (\"<redacted>\"): write the password or key itself",
            ));
        }
        Ok(Password(s))
    }
}

impl Password {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Password {
        Password(Zeroizing::new(s.into()))
    }

    /// The password bytes, for the NHRP layer.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// `ip nhrp ...` settings of a tunnel interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NhrpConfig {
    /// `ip nhrp network-id`: required to enable NHRP on the interface.
    pub network_id: u32,
    /// `ip nhrp authentication`.
    #[serde(default)]
    pub authentication: Option<Password>,
    /// `ip nhrp holdtime` in seconds: how long others keep our mappings (IOS default 7200;
    /// seeds recommend 300–600).
    #[serde(default = "default_holdtime")]
    pub holdtime: u32,
    /// `ip nhrp nhs`: the hubs this node registers with (empty on a pure hub).
    #[serde(default)]
    pub nhs: Vec<NhsConfig>,
    /// `ip nhrp map`: static mappings.
    #[serde(default)]
    pub maps: Vec<StaticMap>,
    /// `ip nhrp map multicast dynamic`: replicate multicast to every registered spoke (hub).
    #[serde(default)]
    pub map_multicast_dynamic: bool,
    /// `ip nhrp map multicast NBMA`: static multicast destinations (a spoke's hubs).
    #[serde(default)]
    pub map_multicast: Vec<IpAddr>,
    /// `ip nhrp redirect`: send Traffic Indications (hub, phase 3).
    #[serde(default)]
    pub redirect: bool,
    /// `ip nhrp shortcut`: install shortcuts from resolutions (spoke, phase 3).
    #[serde(default)]
    pub shortcut: bool,
    /// `ip nhrp max-send`.
    #[serde(default)]
    pub max_send: MaxSend,
    /// `ip nhrp registration timeout` in seconds: how often to register (default holdtime / 3).
    #[serde(default)]
    pub registration_timeout: Option<u32>,
    /// How this interface, as a hub, answers resolutions for its registered spokes.
    #[serde(default)]
    pub hub_resolution: HubResolution,
    /// `ip nhrp registration prefix 192.168.0.0/16` (hub; one line per prefix): prefixes
    /// spokes may register besides their own host address. By default a hub accepts only
    /// registrations of host addresses (/32, /128: what Cisco spokes register) inside the
    /// tunnel subnet (`ip address` and its mask) and answers anything else with code 4,
    /// Administratively Prohibited. A prefix of any length inside one of these is accepted.
    /// IOS has no such command (its spokes register their tunnel address only); the name
    /// follows `ip nhrp registration timeout`. Each must be a network (no host bits) of the
    /// tunnel's family.
    #[serde(default)]
    pub registration_prefixes: Vec<IpNet>,
}

fn default_holdtime() -> u32 {
    7200
}

impl NhrpConfig {
    /// NHRP on network `network_id` with IOS defaults and no hubs.
    pub fn new(network_id: u32) -> NhrpConfig {
        NhrpConfig {
            network_id,
            authentication: None,
            holdtime: default_holdtime(),
            nhs: Vec::new(),
            maps: Vec::new(),
            map_multicast_dynamic: false,
            map_multicast: Vec::new(),
            redirect: false,
            shortcut: false,
            max_send: MaxSend::default(),
            registration_timeout: None,
            hub_resolution: HubResolution::Forward,
            registration_prefixes: Vec::new(),
        }
    }

    /// The NBMA address of an NHS: its own `nbma`, or the static map for its address.
    pub fn nhs_nbma(&self, nhs: &NhsConfig) -> Option<IpAddr> {
        nhs.nbma.or_else(|| {
            self.maps
                .iter()
                .find(|m| m.address == nhs.address)
                .map(|m| m.nbma)
        })
    }
}

/// One configuration problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Path of the field, e.g. `tunnels[0].nhrp.nhs[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found by [`NodeConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct ConfigError(pub Vec<ConfigProblem>);

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The seeds' hub (NBMA 172.17.0.1, tunnel 10.0.0.1/24).
    pub(crate) fn hub() -> TunnelConfig {
        TunnelConfig {
            name: "Tunnel0".into(),
            address: "10.0.0.1/24".parse().unwrap(),
            source: ip("172.17.0.1"),
            mode: TunnelMode::Multipoint,
            key: Some(100000),
            mtu: 1400,
            underlay_mtu: 1500,
            adjust_mss: None,
            verify_unicast_source: false,
            nhrp: NhrpConfig {
                authentication: Some(Password::new("donttell")),
                holdtime: 300,
                map_multicast_dynamic: true,
                ..NhrpConfig::new(99)
            },
            protection: None,
            ipv6: None,
        }
    }

    /// The seeds' spoke A (NBMA 172.16.1.1, tunnel 10.0.0.11/24).
    pub(crate) fn spoke() -> TunnelConfig {
        TunnelConfig {
            name: "Tunnel0".into(),
            address: "10.0.0.11/24".parse().unwrap(),
            source: ip("172.16.1.1"),
            nhrp: NhrpConfig {
                nhs: vec![NhsConfig {
                    address: ip("10.0.0.1"),
                    nbma: None,
                }],
                maps: vec![StaticMap {
                    address: ip("10.0.0.1"),
                    nbma: ip("172.17.0.1"),
                }],
                map_multicast: vec![ip("172.17.0.1")],
                map_multicast_dynamic: false,
                ..hub().nhrp
            },
            ..hub()
        }
    }

    #[test]
    fn seed_examples_are_valid() {
        for t in [hub(), spoke()] {
            NodeConfig {
                hostname: "r".into(),
                networks: Vec::new(),
                tunnels: vec![t],
                crypto: Default::default(),
            }
            .validate()
            .unwrap();
        }
        assert_eq!(
            spoke().nhrp.nhs_nbma(&spoke().nhrp.nhs[0]),
            Some(ip("172.17.0.1"))
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let mut bad = spoke();
        bad.nhrp.nhs.push(NhsConfig {
            address: ip("10.9.0.1"),
            nbma: None,
        });
        bad.nhrp.authentication = Some(Password::new("far-too-long"));
        bad.nhrp.holdtime = 0;
        bad.mtu = 100;
        bad.underlay_mtu = 575;
        bad.adjust_mss = Some(1461);
        let mut dup = hub();
        dup.nhrp.network_id = 99;
        let err = NodeConfig {
            hostname: "r".into(),
            networks: Vec::new(),
            tunnels: vec![bad, dup],
            crypto: Default::default(),
        }
        .validate()
        .unwrap_err();
        let paths: Vec<&str> = err.0.iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "tunnels[0].mtu",
            "tunnels[0].underlay_mtu",
            "tunnels[0].adjust_mss",
            "tunnels[0].nhrp.authentication",
            "tunnels[0].nhrp.holdtime",
            "tunnels[0].nhrp.nhs[1]",
            "tunnels[1].name",
            "tunnels[1].nhrp.network_id",
            "tunnels[1].address",
        ] {
            assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
        }
        // The NHS outside the subnet with no NBMA mapping gets both complaints.
        assert_eq!(
            paths
                .iter()
                .filter(|p| **p == "tunnels[0].nhrp.nhs[1]")
                .count(),
            2
        );
        assert!(err.to_string().starts_with("invalid configuration: "));
    }

    #[test]
    fn underlay_mtu_and_adjust_mss_bounds() {
        let check = |t: TunnelConfig| {
            NodeConfig {
                hostname: "r".into(),
                networks: Vec::new(),
                tunnels: vec![t],
                crypto: Default::default(),
            }
            .validate()
            .map_err(|e| e.0.into_iter().map(|p| p.path).collect::<Vec<_>>())
        };
        for mss in [500, 1360, 1460] {
            let t = TunnelConfig {
                adjust_mss: Some(mss),
                underlay_mtu: 576,
                ..hub()
            };
            assert_eq!(check(t), Ok(()));
        }
        for mss in [0, 499, 1461] {
            let t = TunnelConfig {
                adjust_mss: Some(mss),
                ..hub()
            };
            assert_eq!(check(t), Err(vec!["tunnels[0].adjust_mss".to_string()]));
        }
        // An IPv6 tunnel source needs IPv6's minimum link MTU underneath.
        let v6 = TunnelConfig {
            source: ip("2001:db8::1"),
            underlay_mtu: 1279,
            ..hub()
        };
        assert_eq!(
            check(v6.clone()),
            Err(vec!["tunnels[0].underlay_mtu".to_string()])
        );
        assert_eq!(
            check(TunnelConfig {
                underlay_mtu: 1280,
                ..v6
            }),
            Ok(())
        );
        let json = serde_json::to_string(&TunnelConfig {
            adjust_mss: Some(1360),
            underlay_mtu: 1492,
            ..hub()
        })
        .unwrap();
        assert!(
            json.contains(r#""underlay_mtu":1492,"adjust_mss":1360"#),
            "{json}"
        );
    }

    #[test]
    fn dual_dmvpn_needs_distinct_keys() {
        let mut second = spoke();
        second.name = "Tunnel1".into();
        second.address = "10.0.1.11/24".parse().unwrap();
        second.nhrp.network_id = 100;
        second.nhrp.nhs = vec![NhsConfig {
            address: ip("10.0.1.1"),
            nbma: Some(ip("172.17.0.2")),
        }];
        second.nhrp.maps.clear();
        let err = NodeConfig {
            hostname: "r".into(),
            networks: Vec::new(),
            tunnels: vec![spoke(), second.clone()],
            crypto: Default::default(),
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].path, "tunnels[1].key");
        second.key = Some(200000);
        NodeConfig {
            hostname: "r".into(),
            networks: Vec::new(),
            tunnels: vec![spoke(), second],
            crypto: Default::default(),
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn static_maps_and_max_send_convert_to_the_machines_shapes() {
        let v4: dmvpn_nhrp::StaticMap = StaticMap {
            address: ip("10.0.0.1"),
            nbma: ip("172.17.0.1"),
        }
        .into();
        assert_eq!(
            v4,
            dmvpn_nhrp::StaticMap {
                protocol_addr: ip("10.0.0.1"),
                prefix_len: 32,
                nbma_addr: ip("172.17.0.1"),
            }
        );
        let v6: dmvpn_nhrp::StaticMap = StaticMap {
            address: ip("2001:db8::1"),
            nbma: ip("2001:db8:ffff::1"),
        }
        .into();
        assert_eq!((v6.prefix_len, v6.nbma_addr), (128, ip("2001:db8:ffff::1")));
        let m: dmvpn_nhrp::MaxSend = MaxSend {
            packets: 5,
            every_secs: 30,
        }
        .into();
        let defaults = dmvpn_nhrp::MaxSend::default();
        assert_eq!((m.packets, m.interval), (5, Duration::from_secs(30)));
        assert_eq!(
            (m.over_quota, m.max_held),
            (defaults.over_quota, defaults.max_held)
        );
        // The IOS defaults agree on both sides.
        let d: dmvpn_nhrp::MaxSend = MaxSend::default().into();
        assert_eq!(d, defaults);
    }

    #[test]
    fn registration_prefixes_must_be_networks_of_the_tunnels_family() {
        let mut h = hub();
        h.nhrp.registration_prefixes = vec![
            "192.168.0.0/16".parse().unwrap(),
            "192.168.1.1/24".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        let err = NodeConfig {
            hostname: "hub".into(),
            networks: Vec::new(),
            tunnels: vec![h.clone()],
            crypto: Default::default(),
        }
        .validate()
        .unwrap_err();
        let paths: Vec<&str> = err.0.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "tunnels[0].nhrp.registration_prefixes[1]",
                "tunnels[0].nhrp.registration_prefixes[2]"
            ]
        );
        assert!(err.0[0].message.contains("192.168.1.0/24"), "{err}");
        h.nhrp.registration_prefixes.truncate(1);
        let cfg = NodeConfig {
            hostname: "hub".into(),
            networks: Vec::new(),
            tunnels: vec![h],
            crypto: Default::default(),
        };
        cfg.validate().unwrap();
        let json = with_secrets_revealed(|| serde_json::to_string(&cfg).unwrap());
        assert!(
            json.contains(r#""registration_prefixes":["192.168.0.0/16"]"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<NodeConfig>(&json).unwrap(), cfg);
        // Left out, there are none.
        assert!(NhrpConfig::new(1).registration_prefixes.is_empty());
        let json = json.replace(r#","registration_prefixes":["192.168.0.0/16"]"#, "");
        let back: NodeConfig = serde_json::from_str(&json).unwrap();
        assert!(back.tunnels[0].nhrp.registration_prefixes.is_empty());
    }

    #[test]
    fn serde_roundtrip_and_password_redaction() {
        let cfg = NodeConfig {
            hostname: "hub".into(),
            networks: Vec::new(),
            tunnels: vec![hub()],
            crypto: Default::default(),
        };
        let json = with_secrets_revealed(|| serde_json::to_string(&cfg).unwrap());
        let back: NodeConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
        assert!(!format!("{cfg:?}").contains("donttell"));
        // Without the opt-in the password is not in the output, and the output cannot be
        // read back as if "<redacted>" were the password.
        let redacted = serde_json::to_string(&cfg).unwrap();
        assert!(
            !redacted.contains("donttell") && redacted.contains(REDACTED),
            "{redacted}"
        );
        let e = serde_json::from_str::<NodeConfig>(&redacted).unwrap_err();
        assert!(e.to_string().contains("redacted secret"), "{e}");
        // The opt-in ends with its closure, even when it unwinds.
        let _ = std::panic::catch_unwind(|| with_secrets_revealed(|| panic!("inside")));
        assert!(serde_json::to_string(&cfg).unwrap().contains(REDACTED));
        // Defaults fill in what an IOS config would leave out.
        let minimal = r#"{"hostname":"s","tunnels":[{"name":"Tunnel0","address":"10.0.0.11/24",
            "source":"172.16.1.1","mode":{"point_to_point":{"destination":"172.17.0.1"}},
            "nhrp":{"network_id":1,"nhs":[{"address":"10.0.0.1","nbma":"172.17.0.1"}]}}]}"#;
        let m: NodeConfig = serde_json::from_str(minimal).unwrap();
        assert_eq!(
            (
                m.tunnels[0].mtu,
                m.tunnels[0].nhrp.holdtime,
                m.tunnels[0].key
            ),
            (1400, 7200, None)
        );
        assert_eq!(
            (m.tunnels[0].underlay_mtu, m.tunnels[0].adjust_mss),
            (1500, None)
        );
        assert_eq!(
            m.tunnels[0].nhrp.max_send,
            MaxSend {
                packets: 100,
                every_secs: 10
            }
        );
        m.validate().unwrap();
    }
}
