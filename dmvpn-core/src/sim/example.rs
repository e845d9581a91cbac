//! The seeds' example network (seed 001 slides, seed 003): a hub with NBMA 172.17.0.1 and
//! tunnel 10.0.0.1, and spokes numbered from 1: spoke *i* has NBMA 172.16.*i*.1, tunnel
//! 10.0.0.(10+*i*) and LAN 192.168.*i*.0/24 (spoke A is 1, spoke B is 2). Beyond 244 spokes the
//! tunnel subnet grows to 10.0.0.0/16, NBMA addresses come from 100.64.0.0/10 (100.64.0.0 +
//! *i*) and LANs from 10.128.0.0/9 (10.128.0.0 + 256 *i*, /24 each). Beyond 32,767 spokes
//! (more than that /9 and the /16 hold) the tunnel subnet is 10.0.0.0/8 (the same tunnel
//! addresses, 10.0.0.10 + *i*), NBMA addresses still 100.64.0.0 + *i*, and LANs /24s from
//! 32.0.0.0/3 (32.0.0.0 + 256 *i*; outside every other block of the plan): every address
//! distinct and inside its block up to [`Example::MAX_SPOKES`] spokes.
//!
//! The same network in IPv6 (documentation prefixes, RFC 3849), for either side or both
//! ([`Example::overlay_v6`], [`Example::underlay_v6`]):
//!
//! | | IPv4 | IPv6 |
//! |---|---|---|
//! | hub NBMA | 172.17.0.1 | 2001:db8:ffff::1 |
//! | spoke *i* NBMA | 172.16.*i*.1 | 2001:db8:ffff:*i*::1 |
//! | tunnel subnet | 10.0.0.0/24 | 2001:db8::/64 |
//! | hub tunnel | 10.0.0.1 | 2001:db8::1 |
//! | spoke *i* tunnel | 10.0.0.(10+*i*) | 2001:db8::(0x10+*i*), spoke A 2001:db8::11 |
//! | spoke *i* LAN | 192.168.*i*.0/24 | 2001:db8:*i*::/64 |
//! | LAN summary (phase 3) | 192.168.0.0/16 | 2001:db8::/33 |
//!
//! (*i* in hex in IPv6; from spoke 0x8000 on, the LAN's third group wraps and the rest of *i*
//! goes to the fourth, and from spoke 0x10000 on an NBMA address's overflow goes to the fifth,
//! so that every address stays unique and inside its block: LANs up to spoke 2^31 - 1, the
//! rest for every spoke number.) The IPv6 summary covers the tunnel subnet too (the
//! connected /64 is the longer match) but not the underlay's 2001:db8:ffff::/48.
//!
//! The `spoke_*`, `lan_*` accessors and the `HUB_*` constants are the IPv4 plan whatever the
//! families; [`Example::nbma`], [`Example::tunnel_addr`], [`Example::lan`], [`Example::host`],
//! [`Example::summary`], [`Example::hub_nbma`] and [`Example::hub_tunnel`] follow them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::config::{
    CallAdmission, CryptoConfig, HubResolution, IkeVersion, Ikev2Config, IpsecMode, IpsecProfile,
    Ipv6Overlay, IsakmpAuthentication, IsakmpConfig, IsakmpEncryption, IsakmpHash, IsakmpKey,
    IsakmpPolicy, KeyringPeer, MaxSend, NhrpConfig, NhsConfig, NodeConfig, Password, StaticMap,
    TransformSet, TunnelConfig, TunnelMode, TunnelProtection,
};

/// The hub's NBMA address.
pub const HUB_NBMA: Ipv4Addr = Ipv4Addr::new(172, 17, 0, 1);
/// The hub's tunnel address.
pub const HUB_TUNNEL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The hub's NBMA address on an IPv6 underlay.
pub const HUB_NBMA_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
/// The hub's tunnel address in an IPv6 overlay.
pub const HUB_TUNNEL_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

/// An address family, of the overlay or of the underlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// IPv4 (the seeds' addressing).
    #[default]
    V4,
    /// IPv6 (the documentation prefix 2001:db8::/32).
    V6,
}

/// Parameters of the example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Number of spokes.
    pub spokes: u32,
    /// DMVPN phase: 2 (spokes resolve each other's tunnel addresses) or 3 (hub redirect,
    /// spoke shortcut).
    pub phase: u8,
    /// `ip nhrp holdtime` everywhere.
    pub holdtime: u32,
    /// `tunnel key`.
    pub key: Option<u32>,
    /// `ip nhrp network-id`.
    pub network_id: u32,
    /// `ip nhrp authentication`.
    pub password: Option<String>,
    /// How the hub answers resolutions.
    pub hub_resolution: HubResolution,
    /// `tunnel protection ipsec profile DMVPN` on every node, with the pre-shared key of
    /// the wildcard keyring entry (`address 0.0.0.0 0.0.0.0`); `None`: cleartext GRE.
    pub ipsec: Option<String>,
    /// The overlay's family: tunnel addresses, LANs, NHRP protocol addresses (IOS `ipv6
    /// address`, `ipv6 nhrp map`, `ipv6 nhrp nhs` on an IPv6 overlay).
    pub overlay: Family,
    /// The underlay's family: NBMA addresses, `tunnel source`, the outer headers of GRE, ESP
    /// and IKE (IOS `tunnel mode gre multipoint ipv6` on an IPv6 underlay).
    pub underlay: Family,
    /// Dual stack ([`Example::dual_stack`]): every tunnel interface carries the IPv4 overlay
    /// (`overlay` stays [`Family::V4`]) and an IPv6 one ([`TunnelConfig::ipv6`]), every LAN
    /// both families.
    pub dual_stack: bool,
    /// IPsec with IKEv1 ([`Example::protected_ikev1`]) instead of IKEv2.
    pub ikev1: bool,
}

impl Example {
    /// The most spokes the IPv4 plan has distinct addresses for (LANs in 32.0.0.0/3).
    pub const MAX_SPOKES: u32 = (1 << 21) - 1;

    /// `spokes` spokes, phase 2, holdtime 300 s, key 100000, network-id 99, password
    /// "donttell", the hub answering resolutions (seed 003 steps 3 and 9).
    pub fn new(spokes: u32) -> Example {
        Example {
            spokes,
            phase: 2,
            holdtime: 300,
            key: Some(100_000),
            network_id: 99,
            password: Some("donttell".into()),
            hub_resolution: HubResolution::Answer,
            ipsec: None,
            overlay: Family::V4,
            underlay: Family::V4,
            dual_stack: false,
            ikev1: false,
        }
    }

    /// The same network dual-stack: each tunnel interface has its IPv4 overlay (`ip address`,
    /// `ip nhrp …`) and its IPv6 overlay (`ipv6 address`, `ipv6 nhrp …`, the same network-id,
    /// NHRP settings and hub NBMA address), each LAN an IPv4 and an IPv6 prefix. The IPv6
    /// side's addresses are [`Example::with_overlay`]`(Family::V6)`'s.
    pub fn dual_stack(mut self) -> Example {
        self.overlay = Family::V4;
        self.dual_stack = true;
        self
    }

    /// This example with a single overlay of family `f` (not dual-stack): the addresses of
    /// one side of a dual-stack network.
    pub fn with_overlay(&self, f: Family) -> Example {
        Example {
            overlay: f,
            dual_stack: false,
            ..self.clone()
        }
    }

    /// A dual-stack node: `cfg` (the IPv4 side's) with the IPv6 side's overlay and LANs.
    fn with_ipv6_side(&self, mut cfg: NodeConfig, v6: NodeConfig) -> NodeConfig {
        if let (Some(t), Some(t6)) = (cfg.tunnels.first_mut(), v6.tunnels.into_iter().next()) {
            t.ipv6 = Some(Ipv6Overlay {
                address: t6.address,
                mtu: None,
                nhrp: t6.nhrp,
            });
            cfg.networks.extend(v6.networks);
        }
        cfg
    }

    /// The same network with an IPv6 overlay (see the [module docs](self)).
    pub fn overlay_v6(mut self) -> Example {
        self.overlay = Family::V6;
        self
    }

    /// The same network over an IPv6 underlay (see the [module docs](self)).
    pub fn underlay_v6(mut self) -> Example {
        self.underlay = Family::V6;
        self
    }

    /// The same network protected by IPsec (see [`Example::crypto`]), with the pre-shared
    /// key "cisco123".
    pub fn protected(mut self) -> Example {
        self.ipsec = Some("cisco123".into());
        self
    }

    /// The same network protected by IPsec negotiated with IKEv1, as the seeds configure it
    /// (with the algorithms made current): `crypto isakmp policy 10` with `encryption aes
    /// 256`, `hash sha256`, `authentication pre-share`, `group 14`; `crypto isakmp key
    /// cisco123 address 0.0.0.0 0.0.0.0`; the IPsec profile without `set ikev2-profile`.
    pub fn protected_ikev1(mut self) -> Example {
        self.ipsec = Some("cisco123".into());
        self.ikev1 = true;
        self
    }

    /// The crypto configuration of every node (seed 004's): transform set `esp-aes 256
    /// esp-sha256-hmac`, `mode transport`, IPsec profile DMVPN, an IKEv2 keyring with one
    /// wildcard key.
    pub fn crypto(&self) -> CryptoConfig {
        let Some(psk) = &self.ipsec else {
            return CryptoConfig::default();
        };
        CryptoConfig {
            transform_sets: vec![TransformSet {
                name: "DMVPN-TS".into(),
                transforms: "esp-aes 256 esp-sha256-hmac".into(),
                mode: IpsecMode::Transport,
            }],
            ipsec_profiles: vec![IpsecProfile {
                name: "DMVPN".into(),
                transform_sets: vec!["DMVPN-TS".into()],
                lifetime_seconds: None,
                lifetime_kilobytes: None,
                pfs: None,
                ike: if self.ikev1 {
                    IkeVersion::Ikev1
                } else {
                    IkeVersion::Ikev2
                },
            }],
            ikev2: Ikev2Config {
                keyring: vec![KeyringPeer {
                    name: "ANY".into(),
                    address: Some(match self.underlay {
                        Family::V4 => IpNet::V4(Ipv4Net::default()),
                        Family::V6 => IpNet::V6(Ipv6Net::default()),
                    }),
                    identity: None,
                    pre_shared_key: Password::new(psk.clone()),
                }],
                ..Ikev2Config::default()
            },
            call_admission: CallAdmission::default(),
            isakmp: if self.ikev1 {
                IsakmpConfig {
                    policies: vec![IsakmpPolicy {
                        encryption: IsakmpEncryption::Aes256,
                        hash: IsakmpHash::Sha256,
                        authentication: IsakmpAuthentication::PreShare,
                        group: 14,
                        ..IsakmpPolicy::new(10)
                    }],
                    keys: vec![IsakmpKey {
                        address: match self.underlay {
                            Family::V4 => IpNet::V4(Ipv4Net::default()),
                            Family::V6 => IpNet::V6(Ipv6Net::default()),
                        },
                        key: Password::new(psk.clone()),
                    }],
                    ..IsakmpConfig::default()
                }
            } else {
                IsakmpConfig::default()
            },
        }
    }

    fn protection(&self) -> Option<TunnelProtection> {
        self.ipsec.as_ref().map(|_| TunnelProtection {
            profile: "DMVPN".into(),
            shared: false,
        })
    }

    fn big(&self) -> bool {
        self.spokes > 244
    }

    /// More spokes than the 10.0.0.0/16 tunnel subnet and the 10.128.0.0/9 LANs hold.
    fn huge(&self) -> bool {
        self.spokes > 32_767
    }

    /// The tunnel subnet's prefix length (64 in an IPv6 overlay).
    pub fn tunnel_len(&self) -> u8 {
        match self.overlay {
            Family::V6 => 64,
            Family::V4 if self.huge() => 8,
            Family::V4 if self.big() => 16,
            Family::V4 => 24,
        }
    }

    /// The hub's NBMA address in the underlay's family.
    pub fn hub_nbma(&self) -> IpAddr {
        match self.underlay {
            Family::V4 => HUB_NBMA.into(),
            Family::V6 => HUB_NBMA_V6.into(),
        }
    }

    /// The hub's tunnel address in the overlay's family.
    pub fn hub_tunnel(&self) -> IpAddr {
        match self.overlay {
            Family::V4 => HUB_TUNNEL.into(),
            Family::V6 => HUB_TUNNEL_V6.into(),
        }
    }

    /// NBMA address of spoke `i` in the underlay's family (IPv6: 2001:db8:ffff:*i*::1).
    pub fn nbma(&self, i: u32) -> IpAddr {
        match self.underlay {
            Family::V4 => self.spoke_nbma(i).into(),
            Family::V6 => {
                let i = u128::from(i);
                let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1));
                Ipv6Addr::from(base | (i & 0xffff) << 64 | (i >> 16) << 48).into()
            }
        }
    }

    /// Tunnel address of spoke `i` in the overlay's family (IPv6: 2001:db8::(0x10+*i*)).
    pub fn tunnel_addr(&self, i: u32) -> IpAddr {
        match self.overlay {
            Family::V4 => self.spoke_tunnel(i).into(),
            Family::V6 => {
                Ipv6Addr::from(u128::from(HUB_TUNNEL_V6) - 1 + 0x10 + u128::from(i)).into()
            }
        }
    }

    /// LAN of spoke `i` in the overlay's family (IPv6: 2001:db8:*i*::/64).
    pub fn lan(&self, i: u32) -> IpNet {
        match self.overlay {
            Family::V4 => IpNet::V4(self.spoke_lan(i)),
            Family::V6 => {
                let i = u128::from(i);
                let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0));
                let net = base | (i & 0x7fff) << 80 | (i >> 15 & 0xffff) << 64;
                IpNet::V6(Ipv6Net::new(Ipv6Addr::from(net), 64).unwrap_or_default())
            }
        }
    }

    /// Host `h` on spoke `i`'s LAN in the overlay's family (the PC is 192.168.1.25 or
    /// 2001:db8:1::19, the web server 192.168.2.37 or 2001:db8:2::25).
    pub fn host(&self, i: u32, h: u8) -> IpAddr {
        match self.lan(i) {
            IpNet::V4(n) => Ipv4Addr::from(u32::from(n.network()) | u32::from(h)).into(),
            IpNet::V6(n) => Ipv6Addr::from(u128::from(n.network()) | u128::from(h)).into(),
        }
    }

    /// The summary of every spoke LAN in the overlay's family (phase 3 spokes route it to the
    /// hub).
    pub fn summary(&self) -> IpNet {
        match self.overlay {
            Family::V4 => IpNet::V4(self.lan_summary()),
            Family::V6 => IpNet::V6(
                Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 33)
                    .unwrap_or_default(),
            ),
        }
    }

    /// IPv4 NBMA address of spoke `i` (from 1), whatever the underlay's family ([`Example::nbma`]
    /// follows it).
    pub fn spoke_nbma(&self, i: u32) -> Ipv4Addr {
        if self.big() {
            Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)).wrapping_add(i))
        } else {
            Ipv4Addr::new(172, 16, (i & 0xff) as u8, 1)
        }
    }

    /// IPv4 tunnel address of spoke `i`, whatever the overlay's family
    /// ([`Example::tunnel_addr`] follows it).
    pub fn spoke_tunnel(&self, i: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 10)).wrapping_add(i))
    }

    /// IPv4 LAN of spoke `i`, whatever the overlay's family ([`Example::lan`] follows it).
    pub fn spoke_lan(&self, i: u32) -> Ipv4Net {
        let base = if self.huge() {
            u32::from(Ipv4Addr::new(32, 0, 0, 0)).wrapping_add(i << 8)
        } else if self.big() {
            u32::from(Ipv4Addr::new(10, 128, 0, 0)).wrapping_add(i << 8)
        } else {
            u32::from(Ipv4Addr::new(192, 168, 0, 0)).wrapping_add((i & 0xff) << 8)
        };
        Ipv4Net::new(Ipv4Addr::from(base), 24).unwrap_or_default()
    }

    /// IPv4 host `h` on spoke `i`'s LAN (the PC is 192.168.1.25, the web server 192.168.2.37),
    /// whatever the overlay's family ([`Example::host`] follows it).
    pub fn lan_host(&self, i: u32, h: u8) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.spoke_lan(i).network()) | u32::from(h))
    }

    /// The IPv4 summary of every spoke LAN, whatever the overlay's family ([`Example::summary`]
    /// follows it).
    pub fn lan_summary(&self) -> Ipv4Net {
        if self.huge() {
            Ipv4Net::new(Ipv4Addr::new(32, 0, 0, 0), 3).unwrap_or_default()
        } else if self.big() {
            Ipv4Net::new(Ipv4Addr::new(10, 128, 0, 0), 9).unwrap_or_default()
        } else {
            Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).unwrap_or_default()
        }
    }

    fn nhrp(&self) -> NhrpConfig {
        NhrpConfig {
            authentication: self.password.clone().map(Password::new),
            holdtime: self.holdtime,
            hub_resolution: self.hub_resolution,
            ..NhrpConfig::new(self.network_id)
        }
    }

    fn tunnel(&self, addr: IpAddr, source: IpAddr, nhrp: NhrpConfig) -> TunnelConfig {
        TunnelConfig {
            name: "Tunnel0".into(),
            address: IpNet::new(addr, self.tunnel_len()).unwrap_or(IpNet::V4(Ipv4Net::default())),
            source,
            mode: TunnelMode::Multipoint,
            key: self.key,
            mtu: 1400,
            underlay_mtu: 1500,
            adjust_mss: None,
            verify_unicast_source: false,
            nhrp,
            protection: self.protection(),
            ipv6: None,
        }
    }

    /// The hub: `ip nhrp map multicast dynamic`, `redirect` in phase 3, and a `max-send`
    /// large enough for every spoke to register at once.
    pub fn hub(&self) -> NodeConfig {
        let nhrp = NhrpConfig {
            map_multicast_dynamic: true,
            redirect: self.phase >= 3,
            max_send: MaxSend {
                packets: 100u32.max(self.spokes.saturating_mul(20)),
                every_secs: 10,
            },
            ..self.nhrp()
        };
        let mut crypto = self.crypto();
        // As with max-send: every spoke boots at the same instant, so a hub held to the default
        // bound on SAs in negotiation (IKEv2 1024, IKEv1 1000) sheds most of a large cloud's
        // first attempts, which come back only after their retransmissions give up. Raised
        // only past that default (twice the spokes: a spoke's rekey may overlap its first SA).
        let all = usize::try_from(self.spokes)
            .unwrap_or(usize::MAX)
            .saturating_mul(2);
        let default = match self.ikev1 {
            true => dmvpn_ikev1::Config::DEFAULT_MAX_HALF_OPEN,
            false => dmvpn_ikev2::Cac::DEFAULT_MAX_HALF_OPEN,
        };
        if self.ipsec.is_some() && all > default {
            crypto.call_admission.max_in_negotiation = Some(all);
        }
        let cfg = NodeConfig {
            hostname: "hub".into(),
            tunnels: vec![self.tunnel(self.hub_tunnel(), self.hub_nbma(), nhrp)],
            networks: Vec::new(),
            crypto,
        };
        match self.dual_stack {
            true => self.with_ipv6_side(cfg, self.with_overlay(Family::V6).hub()),
            false => cfg,
        }
    }

    /// Spoke `i`: `ip nhrp nhs 10.0.0.1`, `ip nhrp map 10.0.0.1 172.17.0.1`, `ip nhrp map
    /// multicast 172.17.0.1`, `shortcut` in phase 3 (in IPv6, `ipv6 nhrp nhs 2001:db8::1`,
    /// `ipv6 nhrp map 2001:db8::1/64 …`, with the NBMA address of the underlay's family).
    pub fn spoke(&self, i: u32) -> NodeConfig {
        let hub = self.hub_tunnel();
        let nhrp = NhrpConfig {
            nhs: vec![NhsConfig {
                address: hub,
                nbma: None,
            }],
            maps: vec![StaticMap {
                address: hub,
                nbma: self.hub_nbma(),
            }],
            map_multicast: vec![self.hub_nbma()],
            shortcut: self.phase >= 3,
            ..self.nhrp()
        };
        let cfg = NodeConfig {
            hostname: format!("spoke-{}", spoke_name(i)),
            tunnels: vec![self.tunnel(self.tunnel_addr(i), self.nbma(i), nhrp)],
            networks: vec![self.lan(i)],
            crypto: self.crypto(),
        };
        match self.dual_stack {
            true => self.with_ipv6_side(cfg, self.with_overlay(Family::V6).spoke(i)),
            false => cfg,
        }
    }

    /// The hub's routes: every spoke LAN via its tunnel address (what EIGRP/OSPF over the
    /// tunnel would learn); dual-stack, the IPv6 LANs via the IPv6 tunnel addresses too.
    pub fn hub_routes(&self) -> impl Iterator<Item = (IpNet, IpAddr)> + '_ {
        let sides = if self.dual_stack {
            vec![self.with_overlay(Family::V4), self.with_overlay(Family::V6)]
        } else {
            vec![self.clone()]
        };
        let spokes = self.spokes;
        sides
            .into_iter()
            .flat_map(move |ex| (1..=spokes).map(move |i| (ex.lan(i), ex.tunnel_addr(i))))
    }

    /// Spoke `i`'s route to spoke `j`'s LAN: phase 2, via spoke `j`'s tunnel address (no
    /// next-hop-self on the hub); phase 3, the summary via the hub.
    pub fn spoke_route(&self, j: u32) -> (IpNet, IpAddr) {
        if self.phase >= 3 {
            (self.summary(), self.hub_tunnel())
        } else {
            (self.lan(j), self.tunnel_addr(j))
        }
    }
}

/// "A", "B", … for the first 26 spokes, then the number.
pub fn spoke_name(i: u32) -> String {
    match i {
        1..=26 => {
            char::from_u32(u32::from(b'A') + i - 1).map_or_else(|| i.to_string(), |c| c.to_string())
        }
        _ => i.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_ipv4_plan_is_the_seeds() {
        let ex = Example::new(2);
        assert_eq!((ex.overlay, ex.underlay), (Family::V4, Family::V4));
        assert_eq!(
            (ex.hub_nbma(), ex.hub_tunnel()),
            (ip("172.17.0.1"), ip("10.0.0.1"))
        );
        assert_eq!(
            (ex.nbma(2), ex.tunnel_addr(2)),
            (ip("172.16.2.1"), ip("10.0.0.12"))
        );
        assert_eq!(ex.lan(1).to_string(), "192.168.1.0/24");
        assert_eq!(ex.host(1, 25), ip("192.168.1.25"));
        assert_eq!(ex.summary().to_string(), "192.168.0.0/16");
        let t = &ex.spoke(1).tunnels[0];
        assert_eq!(
            (t.address.to_string(), t.source),
            ("10.0.0.11/24".into(), ip("172.16.1.1"))
        );
        let psk = ex.protected().crypto().ikev2.keyring[0].address;
        assert_eq!(psk.map(|n| n.to_string()), Some("0.0.0.0/0".into()));
    }

    #[test]
    fn the_ipv6_plan_in_the_module_docs() {
        let ex = Example::new(2).overlay_v6();
        assert_eq!(
            (ex.hub_nbma(), ex.hub_tunnel()),
            (ip("172.17.0.1"), ip("2001:db8::1"))
        );
        assert_eq!(
            (ex.nbma(1), ex.tunnel_addr(1)),
            (ip("172.16.1.1"), ip("2001:db8::11"))
        );
        assert_eq!(ex.lan(2).to_string(), "2001:db8:2::/64");
        assert_eq!(
            (ex.host(1, 25), ex.host(2, 37)),
            (ip("2001:db8:1::19"), ip("2001:db8:2::25"))
        );
        assert_eq!(ex.summary().to_string(), "2001:db8::/33");
        assert_eq!(ex.spoke_route(2), (ex.lan(2), ip("2001:db8::12")));
        let hub = ex.hub();
        assert_eq!(hub.tunnels[0].address.to_string(), "2001:db8::1/64");
        let spoke = ex.spoke(1);
        let t = &spoke.tunnels[0];
        assert_eq!(t.nhrp.nhs[0].address, ip("2001:db8::1"));
        assert_eq!(t.nhrp.maps[0].nbma, ip("172.17.0.1"));
        spoke.validate().unwrap();
        hub.validate().unwrap();

        let ex = ex.underlay_v6().protected();
        assert_eq!(ex.hub_nbma(), ip("2001:db8:ffff::1"));
        assert_eq!(ex.nbma(2), ip("2001:db8:ffff:2::1"));
        let spoke = ex.spoke(2);
        assert_eq!(spoke.tunnels[0].source, ip("2001:db8:ffff:2::1"));
        assert_eq!(
            spoke.tunnels[0].nhrp.map_multicast,
            [ip("2001:db8:ffff::1")]
        );
        assert_eq!(
            spoke.crypto.ikev2.keyring[0].address.map(|n| n.to_string()),
            Some("::/0".into())
        );
        spoke.validate().unwrap();
        ex.hub().validate().unwrap();
        // An IPv4 overlay over IPv6 works too.
        let ex = Example::new(2).underlay_v6();
        assert_eq!(ex.spoke(1).tunnels[0].address.to_string(), "10.0.0.11/24");
        ex.spoke(1).validate().unwrap();
    }

    #[test]
    fn ipv4_addresses_stay_unique_and_in_their_blocks() {
        let blocks = [
            (244, "10.0.0.0/24", "172.16.0.0/16", "192.168.0.0/16"),
            (32_767, "10.0.0.0/16", "100.64.0.0/10", "10.128.0.0/9"),
            (
                Example::MAX_SPOKES,
                "10.0.0.0/8",
                "100.64.0.0/10",
                "32.0.0.0/3",
            ),
        ];
        for (n, tunnel, underlay, lans) in blocks {
            let ex = Example::new(n);
            let (tunnel, underlay, lans): (Ipv4Net, Ipv4Net, Ipv4Net) = (
                tunnel.parse().unwrap(),
                underlay.parse().unwrap(),
                lans.parse().unwrap(),
            );
            assert_eq!(ex.lan_summary(), lans);
            assert_eq!(
                ex.hub().tunnels[0].address.prefix_len(),
                tunnel.prefix_len()
            );
            let (mut nbmas, mut tunnels, mut nets) =
                (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
            let sample: Vec<u32> = if n > 100_000 {
                (1..70_000).chain(n - 70_000..=n).collect()
            } else {
                (1..=n).collect()
            };
            for i in sample {
                let (a, t, l) = (ex.spoke_nbma(i), ex.spoke_tunnel(i), ex.spoke_lan(i));
                assert!(nbmas.insert(a) && underlay.contains(&a), "{n} {i} {a}");
                assert!(
                    tunnels.insert(t) && tunnel.contains(&t) && t != tunnel.broadcast(),
                    "{n} {i} {t}"
                );
                assert!(nets.insert(l) && lans.contains(&l), "{n} {i} {l}");
                assert!(!tunnel.contains(&l.addr()) && !underlay.contains(&l.addr()));
            }
            assert!(!underlay.contains(&HUB_NBMA) && !lans.contains(&HUB_NBMA));
        }
        // The seeds' addresses stay those of small runs.
        let ex = Example::new(2);
        assert_eq!(ex.spoke_lan(2).to_string(), "192.168.2.0/24");
    }

    #[test]
    fn ipv6_addresses_stay_unique_and_in_their_blocks() {
        let ex = Example::new(3).overlay_v6().underlay_v6();
        let underlay: IpNet = "2001:db8:ffff::/48".parse().unwrap();
        let tunnel = ex.hub().tunnels[0].address;
        let (mut nbmas, mut tunnels, mut lans) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for i in (1..70_000).chain([(1 << 31) - 2, (1 << 31) - 1]) {
            assert!(
                nbmas.insert(ex.nbma(i)) && underlay.contains(&ex.nbma(i)),
                "{i}"
            );
            assert!(
                tunnels.insert(ex.tunnel_addr(i)) && tunnel.contains(&ex.tunnel_addr(i)),
                "{i}"
            );
            let lan = ex.lan(i);
            assert!(lans.insert(lan) && ex.summary().contains(&lan), "{i}");
            assert!(
                !underlay.contains(&lan.addr()) && !tunnel.contains(&lan.addr()),
                "{i}"
            );
        }
    }
}
