//! Config translation: one [`TunnelConfig`] (IOS terms, serde data) becomes the GRE tunnel
//! configuration and the NHRP client and/or server configurations of one tunnel interface.
//!
//! What both NHRP machines share (addresses, network-id, authentication, `max-send`, MTU, the
//! static maps, the NHS list and the holdtime) is translated once and handed to both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_nhrp::wire::Secret;
use dmvpn_nhrp::{Client, ClientConfig, RequestIdKey, Server, ServerConfig};
use ipnet::IpNet;

use super::{Iface, Limits, prefix_of};
use crate::config::{HubResolution, TunnelConfig, TunnelMode};
use crate::error::Error;

/// `tunnel source`, `tunnel key` and `tunnel mode` as GRE's configuration.
pub(super) fn gre_config(t: &TunnelConfig) -> dmvpn_gre::Config {
    let mode = match t.mode {
        TunnelMode::Multipoint => dmvpn_gre::Mode::Multipoint,
        TunnelMode::PointToPoint { destination } => dmvpn_gre::Mode::PointToPoint {
            remote: destination,
        },
    };
    dmvpn_gre::Config {
        key: t.key,
        mode,
        ..dmvpn_gre::Config::multipoint(t.source)
    }
}

/// Whether the interface runs an NHRP client: it has at least one `ip nhrp nhs`.
pub(super) fn is_spoke(t: &TunnelConfig) -> bool {
    !t.nhrp.nhs.is_empty()
}

/// Whether the interface runs an NHRP server: a multipoint interface with no NHS, or with
/// `ip nhrp map multicast dynamic` or `ip nhrp redirect` (a hub, possibly also a spoke of
/// another hub).
pub(super) fn is_hub(t: &TunnelConfig) -> bool {
    t.mode == TunnelMode::Multipoint
        && (t.nhrp.nhs.is_empty() || t.nhrp.map_multicast_dynamic || t.nhrp.redirect)
}

/// `ip nhrp holdtime` in the 16 bits NHRP carries it in (longer holdtimes are clamped).
pub(super) fn holdtime(t: &TunnelConfig) -> u16 {
    u16::try_from(t.nhrp.holdtime).unwrap_or(u16::MAX)
}

/// The NHRP machine configurations of one interface; `None` for a role it does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NhrpConfigs {
    pub(super) client: Option<ClientConfig>,
    pub(super) server: Option<ServerConfig>,
}

/// Translates the `ip nhrp` settings of `t`. `networks` are the node's LANs (a spoke answers
/// resolutions for those of the tunnel's family).
pub(super) fn nhrp_configs(t: &TunnelConfig, networks: &[IpNet], limits: &Limits) -> NhrpConfigs {
    let mut common = dmvpn_nhrp::Common::new(t.source, t.address.addr());
    common.network_id = t.nhrp.network_id;
    common.interface = t.name.clone();
    common.authentication = t
        .nhrp
        .authentication
        .as_ref()
        .map(|p| Secret::new(p.expose().to_vec()));
    common.max_send = t.nhrp.max_send.into();
    common.mtu = t.mtu;
    let mut map: Vec<dmvpn_nhrp::StaticMap> = t.nhrp.maps.iter().map(|&m| m.into()).collect();
    // IOS 15's `ip nhrp nhs A nbma N` is also the static map `ip nhrp map A N` (one line for
    // both); an explicit map for A wins.
    for n in &t.nhrp.nhs {
        if let Some(nbma) = n.nbma
            && !map.iter().any(|m| m.protocol_addr == n.address)
        {
            map.push(
                crate::config::StaticMap {
                    address: n.address,
                    nbma,
                }
                .into(),
            );
        }
    }
    let nhs: Vec<dmvpn_nhrp::Nhs> = t
        .nhrp
        .nhs
        .iter()
        .map(|n| dmvpn_nhrp::Nhs {
            protocol_addr: n.address,
            nbma_addr: t.nhrp.nhs_nbma(n),
        })
        .collect();
    let holdtime = holdtime(t);

    let server = is_hub(t).then(|| {
        let mut s = ServerConfig::new(t.source, t.address.addr());
        s.common = common.clone();
        s.resolution = match t.nhrp.hub_resolution {
            HubResolution::Forward => dmvpn_nhrp::ResolutionMode::Forward,
            HubResolution::Answer => dmvpn_nhrp::ResolutionMode::Authoritative,
        };
        s.next_nhs = nhs.first().copied();
        s.tunnel_prefix_len = t.address.prefix_len();
        s.registration_prefixes = t
            .nhrp
            .registration_prefixes
            .iter()
            .map(|n| prefix_of(*n))
            .collect();
        s.map = map.clone();
        s.map_multicast_dynamic = t.nhrp.map_multicast_dynamic;
        s.max_registrations = limits.max_registrations.max(map.len().saturating_add(1));
        s.holdtime = holdtime;
        s
    });
    let client = is_spoke(t).then(|| {
        let mut c = ClientConfig::new(t.source, t.address.addr());
        c.common = common;
        c.nhs = nhs;
        c.map = map;
        c.local_prefixes = networks
            .iter()
            .filter(|n| n.addr().is_ipv4() == t.address.addr().is_ipv4())
            .map(|n| prefix_of(*n))
            .collect();
        c.holdtime = holdtime;
        c.registration_timeout = t
            .nhrp
            .registration_timeout
            .map(|s| Duration::from_secs(u64::from(s)));
        c.max_cache = limits.max_cache;
        c.max_pending = limits.max_pending_resolutions;
        c
    });
    NhrpConfigs { client, server }
}

impl Iface {
    /// The interface `t` at `now`: its GRE tunnel, its NHRP client (which sends its first
    /// Registration Requests at once) and/or server, drawing request IDs from `key`.
    pub(super) fn new(
        now: Instant,
        t: &TunnelConfig,
        networks: &[IpNet],
        limits: &Limits,
        key: RequestIdKey,
    ) -> Result<Iface, Error> {
        let mut gre = dmvpn_gre::Tunnel::new(dmvpn_gre::Config {
            idle_timeout: Some(limits.gre_peer_idle),
            ..gre_config(t)
        })?;
        gre.handle_timeout(now); // the tunnel's clock starts with the interface's
        let NhrpConfigs {
            mut client,
            mut server,
        } = nhrp_configs(t, networks, limits);
        if let Some(c) = client.as_mut() {
            c.common.request_id_key = key.clone();
        }
        if let Some(s) = server.as_mut() {
            s.common.request_id_key = key;
        }
        let client = match client {
            Some(cfg) => {
                let mut c = Client::new(now, cfg)?;
                c.register(now);
                Some(Box::new(c))
            }
            None => None,
        };
        let server = match server {
            Some(cfg) => {
                let mut s = Server::new(now, cfg)?;
                s.reserve(64);
                Some(Box::new(s))
            }
            None => None,
        };
        Ok(Iface {
            cfg: t.clone(),
            name: Arc::from(t.name.as_str()),
            gre,
            client,
            server,
            mappings: Default::default(),
            peers: Default::default(),
            protect: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::config::{MaxSend, NhrpConfig, NhsConfig, Password, StaticMap};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A secondary hub that is also a spoke of the primary (seed 003): both machines.
    fn hub_and_spoke() -> TunnelConfig {
        TunnelConfig {
            name: "Tunnel0".into(),
            address: "10.0.0.2/24".parse().unwrap(),
            source: ip("172.17.0.2"),
            mode: TunnelMode::Multipoint,
            key: Some(100_000),
            mtu: 1400,
            underlay_mtu: 1500,
            adjust_mss: None,
            verify_unicast_source: false,
            nhrp: NhrpConfig {
                authentication: Some(Password::new("donttell")),
                holdtime: 300,
                map_multicast_dynamic: true,
                nhs: vec![
                    NhsConfig {
                        address: ip("10.0.0.1"),
                        nbma: None,
                    },
                    NhsConfig {
                        address: ip("10.0.0.3"),
                        nbma: Some(ip("172.17.0.3")),
                    },
                ],
                maps: vec![
                    StaticMap {
                        address: ip("10.0.0.1"),
                        nbma: ip("172.17.0.1"),
                    },
                    StaticMap {
                        address: ip("10.0.0.9"),
                        nbma: ip("172.17.0.9"),
                    },
                ],
                max_send: MaxSend {
                    packets: 7,
                    every_secs: 3,
                },
                ..NhrpConfig::new(99)
            },
            protection: None,
            ipv6: None,
        }
    }

    #[test]
    fn static_maps_and_nhs_are_translated_once_and_shared_by_both_machines() {
        let t = hub_and_spoke();
        let nets = [
            "192.168.5.0/24".parse().unwrap(),
            "2001:db8::/64".parse().unwrap(),
        ];
        let c = nhrp_configs(&t, &nets, &Limits::default());
        let (client, server) = (c.client.unwrap(), c.server.unwrap());
        let expected = vec![
            dmvpn_nhrp::StaticMap {
                protocol_addr: ip("10.0.0.1"),
                prefix_len: 32,
                nbma_addr: ip("172.17.0.1"),
            },
            dmvpn_nhrp::StaticMap {
                protocol_addr: ip("10.0.0.9"),
                prefix_len: 32,
                nbma_addr: ip("172.17.0.9"),
            },
            // `ip nhrp nhs 10.0.0.3 nbma 172.17.0.3` maps it too.
            dmvpn_nhrp::StaticMap {
                protocol_addr: ip("10.0.0.3"),
                prefix_len: 32,
                nbma_addr: ip("172.17.0.3"),
            },
        ];
        assert_eq!(client.map, expected);
        assert_eq!(server.map, client.map);
        assert_eq!(server.common, client.common);
        // The NHS without its own NBMA address takes the static map's.
        assert_eq!(
            client.nhs,
            vec![
                dmvpn_nhrp::Nhs {
                    protocol_addr: ip("10.0.0.1"),
                    nbma_addr: Some(ip("172.17.0.1")),
                },
                dmvpn_nhrp::Nhs {
                    protocol_addr: ip("10.0.0.3"),
                    nbma_addr: Some(ip("172.17.0.3")),
                },
            ]
        );
        assert_eq!(server.next_nhs, client.nhs.first().copied());
        // Only the LANs of the tunnel's family are answered for.
        assert_eq!(
            client.local_prefixes,
            vec![dmvpn_nhrp::Prefix::new(ip("192.168.5.0"), 24)]
        );
        assert!(
            client
                .local_prefixes
                .iter()
                .all(|p| p.addr().is_ipv4() == t.address.addr().is_ipv4())
        );
        assert_eq!(client.common.max_send.packets, 7);
        assert_eq!(client.common.max_send.interval, Duration::from_secs(3));
        assert_eq!(client.common.interface, "Tunnel0");
        assert_eq!(client.common.network_id, 99);
        assert!(client.common.authentication.is_some());
        assert_eq!((client.holdtime, server.holdtime), (300, 300));
    }

    #[test]
    fn the_holdtime_is_clamped_to_sixteen_bits() {
        let mut t = hub_and_spoke();
        t.nhrp.holdtime = 100_000;
        assert_eq!(holdtime(&t), u16::MAX);
        let c = nhrp_configs(&t, &[], &Limits::default());
        assert_eq!(c.client.unwrap().holdtime, u16::MAX);
        assert_eq!(c.server.unwrap().holdtime, u16::MAX);
        t.nhrp.holdtime = 65_535;
        assert_eq!(holdtime(&t), 65_535);
        t.nhrp.holdtime = 600;
        assert_eq!(holdtime(&t), 600);
    }

    #[test]
    fn roles_follow_nhs_map_multicast_dynamic_redirect_and_mode() {
        let mut t = hub_and_spoke();
        assert!(is_hub(&t) && is_spoke(&t));
        t.nhrp.map_multicast_dynamic = false;
        assert!(!is_hub(&t) && is_spoke(&t));
        let c = nhrp_configs(&t, &[], &Limits::default());
        assert!(c.server.is_none() && c.client.is_some());
        t.nhrp.redirect = true;
        assert!(is_hub(&t));
        t.nhrp.nhs.clear();
        t.nhrp.redirect = false;
        assert!(is_hub(&t) && !is_spoke(&t));
        let c = nhrp_configs(&t, &[], &Limits::default());
        assert!(c.server.is_some() && c.client.is_none());
        t.mode = TunnelMode::PointToPoint {
            destination: ip("172.17.0.1"),
        };
        assert!(!is_hub(&t) && !is_spoke(&t));
        assert_eq!(
            nhrp_configs(&t, &[], &Limits::default()),
            NhrpConfigs {
                client: None,
                server: None
            }
        );
    }

    #[test]
    fn limits_reach_the_machines_and_a_hub_always_has_room_for_its_static_maps() {
        let t = hub_and_spoke();
        let limits = Limits {
            max_cache: 11,
            max_pending_resolutions: 5,
            max_registrations: 1,
            ..Limits::default()
        };
        let c = nhrp_configs(&t, &[], &limits);
        let (client, server) = (c.client.unwrap(), c.server.unwrap());
        assert_eq!((client.max_cache, client.max_pending), (11, 5));
        // Three static maps (two `ip nhrp map`, one `ip nhrp nhs … nbma`) and one more.
        assert_eq!(server.max_registrations, 4);
        assert!(server.map_multicast_dynamic);
        assert_eq!(server.resolution, dmvpn_nhrp::ResolutionMode::Forward);
    }

    #[test]
    fn the_tunnel_mask_and_registration_prefixes_reach_the_server() {
        let mut t = hub_and_spoke();
        let server = nhrp_configs(&t, &[], &Limits::default()).server.unwrap();
        assert_eq!(server.tunnel_prefix_len, 24);
        assert!(server.registration_prefixes.is_empty());
        let host = dmvpn_nhrp::Prefix::host;
        assert!(server.may_register(host(ip("10.0.0.11"))));
        assert!(!server.may_register(host(ip("10.0.1.54"))));
        // `ip address 10.0.0.2 255.255.0.0` and `ip nhrp registration prefix 192.168.0.0/16`.
        t.address = "10.0.0.2/16".parse().unwrap();
        t.nhrp.registration_prefixes = vec!["192.168.0.0/16".parse().unwrap()];
        let server = nhrp_configs(&t, &[], &Limits::default()).server.unwrap();
        assert_eq!(server.tunnel_prefix_len, 16);
        assert_eq!(
            server.registration_prefixes,
            vec![dmvpn_nhrp::Prefix::new(ip("192.168.0.0"), 16)]
        );
        assert!(server.may_register(host(ip("10.0.1.54"))));
        assert!(server.may_register(dmvpn_nhrp::Prefix::new(ip("192.168.7.0"), 24)));
    }

    /// The dmvpn-sim demo beyond 244 spokes grows the tunnel subnet to a /16: its hub takes
    /// the registration of every spoke.
    #[cfg(feature = "sim")]
    #[test]
    fn the_big_demo_hub_takes_every_spokes_registration() {
        let ex = crate::sim::example::Example::new(300);
        let hub = ex.hub();
        let t = hub.tunnels.first().unwrap();
        let server = nhrp_configs(t, &[], &Limits::default()).server.unwrap();
        assert_eq!(server.tunnel_prefix_len, 16);
        for i in [1, 244, 245, 300] {
            let spoke = dmvpn_nhrp::Prefix::host(ex.spoke_tunnel(i).into());
            assert!(server.may_register(spoke), "spoke {i}");
        }
    }

    #[test]
    fn gre_takes_source_key_and_mode() {
        let mut t = hub_and_spoke();
        let g = gre_config(&t);
        assert_eq!(
            (g.key, g.mode),
            (Some(100_000), dmvpn_gre::Mode::Multipoint)
        );
        t.mode = TunnelMode::PointToPoint {
            destination: ip("172.17.0.1"),
        };
        t.key = None;
        let g = gre_config(&t);
        assert_eq!(
            (g.key, g.mode),
            (
                None,
                dmvpn_gre::Mode::PointToPoint {
                    remote: ip("172.17.0.1")
                }
            )
        );
        assert_eq!(
            g,
            dmvpn_gre::Config {
                key: None,
                mode: dmvpn_gre::Mode::PointToPoint {
                    remote: ip("172.17.0.1")
                },
                ..dmvpn_gre::Config::multipoint(ip("172.17.0.2"))
            }
        );
    }
}
