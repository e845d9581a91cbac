//! Sans-IO DMVPN nodes: the hub and spoke logic that composes mGRE ([`gre`]) and NHRP ([`nhrp`])
//! — and, next, IPsec — into what a router project embeds.
//!
//! This crate is being built up in stages (see the project README). Present so far:
//!
//! - [`config`]: the node configuration in Cisco IOS terms (`interface Tunnel0`, `tunnel
//!   source`, `tunnel key`, `ip nhrp network-id`, `nhs`, `map`, `map multicast dynamic`,
//!   `redirect`, `shortcut`, `max-send`, …), serde-friendly, with validation that reports every
//!   problem with the path of the field (seed 002 "Configuring the Hub/Spoke"; dual DMVPN needs
//!   distinct tunnel keys and network-ids, seed 003).
//! - [`route`]: the overlay routing table (longest prefix match; phase 3 shortcuts win over routed
//!   entries of the same length).
//! - [`overlay`]: classification of overlay packets from the caller's TUN device (unicast,
//!   multicast, broadcast relative to the tunnel subnet).
//!
//! ```
//! use dmvpn_core::config::{NhrpConfig, NhsConfig, NodeConfig, StaticMap, TunnelConfig, TunnelMode};
//!
//! // Spoke A of the seeds: NBMA 172.16.1.1, tunnel 10.0.0.11/24, hub 10.0.0.1 at 172.17.0.1.
//! let hub_nbma = "172.17.0.1".parse().unwrap();
//! let spoke = NodeConfig {
//!     hostname: "spoke-a".into(),
//!     tunnels: vec![TunnelConfig {
//!         name: "Tunnel0".into(),
//!         address: "10.0.0.11/24".parse().unwrap(),
//!         source: "172.16.1.1".parse().unwrap(),
//!         mode: TunnelMode::Multipoint,
//!         key: Some(100000),
//!         mtu: 1400,
//!         nhrp: NhrpConfig {
//!             holdtime: 300,
//!             nhs: vec![NhsConfig { address: "10.0.0.1".parse().unwrap(), nbma: None }],
//!             maps: vec![StaticMap { address: "10.0.0.1".parse().unwrap(), nbma: hub_nbma }],
//!             map_multicast: vec![hub_nbma],
//!             ..NhrpConfig::new(99)
//!         },
//!     }],
//! };
//! spoke.validate().unwrap();
//! ```
#![forbid(unsafe_code)]

pub mod config;
pub mod overlay;
pub mod route;
