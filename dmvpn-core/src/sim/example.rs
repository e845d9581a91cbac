//! The seeds' example network (seed 001 slides, seed 003): a hub with NBMA 172.17.0.1 and
//! tunnel 10.0.0.1, and spokes numbered from 1: spoke *i* has NBMA 172.16.*i*.1, tunnel
//! 10.0.0.(10+*i*) and LAN 192.168.*i*.0/24 (spoke A is 1, spoke B is 2). Beyond 244 spokes the
//! tunnel subnet grows to 10.0.0.0/16, NBMA addresses come from 100.64.0.0/10 and LANs from
//! 10.128.0.0/9.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use crate::config::{
    CallAdmission, CryptoConfig, HubResolution, Ikev2Config, IpsecMode, IpsecProfile, KeyringPeer,
    MaxSend, NhrpConfig, NhsConfig, NodeConfig, Password, StaticMap, TransformSet, TunnelConfig,
    TunnelMode, TunnelProtection,
};

/// The hub's NBMA address.
pub const HUB_NBMA: Ipv4Addr = Ipv4Addr::new(172, 17, 0, 1);
/// The hub's tunnel address.
pub const HUB_TUNNEL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

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
}

impl Example {
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
        }
    }

    /// The same network protected by IPsec (see [`Example::crypto`]), with the pre-shared
    /// key "cisco123".
    pub fn protected(mut self) -> Example {
        self.ipsec = Some("cisco123".into());
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
            }],
            ikev2: Ikev2Config {
                keyring: vec![KeyringPeer {
                    name: "ANY".into(),
                    address: "0.0.0.0/0".parse().ok(),
                    identity: None,
                    pre_shared_key: Password::new(psk.clone()),
                }],
                ..Ikev2Config::default()
            },
            call_admission: CallAdmission::default(),
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

    /// The tunnel subnet's prefix length.
    pub fn tunnel_len(&self) -> u8 {
        if self.big() { 16 } else { 24 }
    }

    /// NBMA address of spoke `i` (from 1).
    pub fn spoke_nbma(&self, i: u32) -> Ipv4Addr {
        if self.big() {
            Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)).wrapping_add(i))
        } else {
            Ipv4Addr::new(172, 16, (i & 0xff) as u8, 1)
        }
    }

    /// Tunnel address of spoke `i`.
    pub fn spoke_tunnel(&self, i: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 10)).wrapping_add(i))
    }

    /// LAN of spoke `i`.
    pub fn spoke_lan(&self, i: u32) -> Ipv4Net {
        let base = if self.big() {
            u32::from(Ipv4Addr::new(10, 128, 0, 0)).wrapping_add(i << 8)
        } else {
            u32::from(Ipv4Addr::new(192, 168, 0, 0)).wrapping_add((i & 0xff) << 8)
        };
        Ipv4Net::new(Ipv4Addr::from(base), 24).unwrap_or_default()
    }

    /// Host `h` on spoke `i`'s LAN (the PC is 192.168.1.25, the web server 192.168.2.37).
    pub fn lan_host(&self, i: u32, h: u8) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.spoke_lan(i).network()) | u32::from(h))
    }

    /// The summary of every spoke LAN (phase 3 spokes route it to the hub).
    pub fn lan_summary(&self) -> Ipv4Net {
        if self.big() {
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

    fn tunnel(&self, addr: Ipv4Addr, source: Ipv4Addr, nhrp: NhrpConfig) -> TunnelConfig {
        TunnelConfig {
            name: "Tunnel0".into(),
            address: IpNet::V4(Ipv4Net::new(addr, self.tunnel_len()).unwrap_or_default()),
            source: source.into(),
            mode: TunnelMode::Multipoint,
            key: self.key,
            mtu: 1400,
            underlay_mtu: 1500,
            adjust_mss: None,
            verify_unicast_source: false,
            nhrp,
            protection: self.protection(),
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
        NodeConfig {
            hostname: "hub".into(),
            tunnels: vec![self.tunnel(HUB_TUNNEL, HUB_NBMA, nhrp)],
            networks: Vec::new(),
            crypto: self.crypto(),
        }
    }

    /// Spoke `i`: `ip nhrp nhs 10.0.0.1`, `ip nhrp map 10.0.0.1 172.17.0.1`, `ip nhrp map
    /// multicast 172.17.0.1`, `shortcut` in phase 3.
    pub fn spoke(&self, i: u32) -> NodeConfig {
        let hub: IpAddr = HUB_TUNNEL.into();
        let nhrp = NhrpConfig {
            nhs: vec![NhsConfig {
                address: hub,
                nbma: None,
            }],
            maps: vec![StaticMap {
                address: hub,
                nbma: HUB_NBMA.into(),
            }],
            map_multicast: vec![HUB_NBMA.into()],
            shortcut: self.phase >= 3,
            ..self.nhrp()
        };
        NodeConfig {
            hostname: format!("spoke-{}", spoke_name(i)),
            tunnels: vec![self.tunnel(self.spoke_tunnel(i), self.spoke_nbma(i), nhrp)],
            networks: vec![IpNet::V4(self.spoke_lan(i))],
            crypto: self.crypto(),
        }
    }

    /// The hub's routes: every spoke LAN via its tunnel address (what EIGRP/OSPF over the
    /// tunnel would learn).
    pub fn hub_routes(&self) -> impl Iterator<Item = (IpNet, IpAddr)> + '_ {
        (1..=self.spokes).map(|i| (IpNet::V4(self.spoke_lan(i)), self.spoke_tunnel(i).into()))
    }

    /// Spoke `i`'s route to spoke `j`'s LAN: phase 2, via spoke `j`'s tunnel address (no
    /// next-hop-self on the hub); phase 3, the summary via the hub.
    pub fn spoke_route(&self, j: u32) -> (IpNet, IpAddr) {
        if self.phase >= 3 {
            (IpNet::V4(self.lan_summary()), HUB_TUNNEL.into())
        } else {
            (IpNet::V4(self.spoke_lan(j)), self.spoke_tunnel(j).into())
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
