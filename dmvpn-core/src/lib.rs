//! Sans-IO DMVPN nodes: the hub and spoke logic that composes mGRE ([`dmvpn_gre`]) and NHRP
//! ([`dmvpn_nhrp`]) into what a router project embeds. IPsec protection comes next and plugs in
//! at [`EventKind::NbmaPeerUp`] / [`EventKind::NbmaPeerDown`] (a mapping added triggers it, a
//! mapping removed tears it down, seed 003 steps 4 and 11).
//!
//! # What a node does
//!
//! A [`Node`] has one or more tunnel interfaces ([`config::TunnelConfig`], in IOS terms: `ip
//! address`, `tunnel source`, `tunnel key`, `tunnel mode gre multipoint` or `tunnel
//! destination`, `ip nhrp network-id`, `authentication`, `holdtime`, `nhs`, `map`, `map
//! multicast dynamic`, `redirect`, `shortcut`, `max-send`, `ip mtu`, `ip verify unicast source
//! reachable-via rx`). Each interface is a hub
//! (an NHRP server: `ip nhrp map multicast dynamic`, `redirect`, or no `nhs`), a spoke (an NHRP
//! client: it has `nhs`), or both (a secondary hub that is a spoke of the primary, seed 003).
//! Several interfaces make dual DMVPN (different tunnel keys and network-ids, seed 003).
//!
//! - **Registration** (seed 002 "Configuring the Spoke", seed 003): spokes register with every
//!   NHS at start and every holdtime/3; hubs learn them with no per-spoke configuration.
//! - **Forwarding**: an overlay packet → the caller's routes ([`Node::add_route`]; the tunnel
//!   subnet is connected) → next hop → NHRP mapping → GRE → underlay. With no mapping yet the
//!   packet goes through the hub while the Resolution Request runs (seed 003 steps 1–3; no
//!   drop, no queue), then traffic goes directly (steps 4–6); the other side resolves back
//!   (steps 7–10); an unused mapping expires after its holdtime (step 11).
//! - **Hub data path**: an IP packet from a spoke whose route leads to another spoke is sent
//!   back out of the cloud (TTL decremented), with a Traffic Indication to the sender when
//!   `ip nhrp redirect` is on (phase 3, seed 002); a spoke with `ip nhrp shortcut` then
//!   resolves the destination and installs a shortcut route ([`EventKind::ShortcutAdded`]).
//! - **Multicast/broadcast** is replicated to every registered spoke (hub, `map multicast
//!   dynamic`) or to the `map multicast` addresses (spoke).
//! - **Status** as data ([`Status`]) and as the IOS text of `show dmvpn`, `show ip nhrp`, `show
//!   ip nhrp nhs`, `show ip nhrp traffic` (seed 002); [`Event`]s print like the seeds'
//!   `%DMVPN-5-NHRP_*` messages.
//!
//! RFCs: GRE (RFC 2784, keys RFC 2890), NHRP (RFC 2332) with Cisco's DMVPN extensions.
//!
//! # The loop (ARCHITECTURE.md, "The machine shape")
//!
//! [`Node::handle_input`] takes an [`Input`]: an underlay datagram (the GRE packet after the
//! outer IP header, with its outer addresses), an overlay packet from the caller's TUN, or a
//! timeout. [`Node::poll_output`] then yields [`Output`]s until [`Output::Timeout`] says when
//! to call again: underlay [`Transmit`]s, overlay [`Deliver`]ies and [`Event`]s. Time is an
//! argument and randomness is handed in at construction ([`Entropy`]: it keys the NHRP
//! request IDs); nothing here reads a clock, opens a socket or draws randomness of its own.
//! Queues are bounded ([`Limits`]) and every drop is counted ([`NodeStats`]). The NHRP
//! password never appears in `Debug` output or events.
//!
//! # Example: a hub and a spoke
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::Instant;
//! use dmvpn_core::config::{NhrpConfig, NhsConfig, NodeConfig, StaticMap, TunnelConfig, TunnelMode};
//! use dmvpn_core::{Entropy, EventKind, Input, Node, Output};
//!
//! let ip = |s: &str| s.parse::<IpAddr>().unwrap();
//! let tunnel = |addr: &str, source: &str, nhrp: NhrpConfig| TunnelConfig {
//!     name: "Tunnel0".into(),
//!     address: addr.parse().unwrap(),
//!     source: ip(source),
//!     mode: TunnelMode::Multipoint,
//!     key: Some(100000),
//!     mtu: 1400,
//!     verify_unicast_source: false,
//!     nhrp,
//!     protection: None,
//! };
//! // The seeds' hub: NBMA 172.17.0.1, tunnel 10.0.0.1/24, `ip nhrp map multicast dynamic`.
//! let hub_cfg = NodeConfig {
//!     hostname: "hub".into(),
//!     tunnels: vec![tunnel("10.0.0.1/24", "172.17.0.1",
//!         NhrpConfig { holdtime: 300, map_multicast_dynamic: true, ..NhrpConfig::new(99) })],
//!     networks: vec![],
//!     crypto: Default::default(),
//! };
//! // Spoke A: NBMA 172.16.1.1, tunnel 10.0.0.11/24, LAN 192.168.1.0/24, NHS 10.0.0.1.
//! let spoke_cfg = NodeConfig {
//!     hostname: "spoke-a".into(),
//!     tunnels: vec![tunnel("10.0.0.11/24", "172.16.1.1", NhrpConfig {
//!         holdtime: 300,
//!         nhs: vec![NhsConfig { address: ip("10.0.0.1"), nbma: None }],
//!         maps: vec![StaticMap { address: ip("10.0.0.1"), nbma: ip("172.17.0.1") }],
//!         map_multicast: vec![ip("172.17.0.1")],
//!         ..NhrpConfig::new(99)
//!     })],
//!     networks: vec!["192.168.1.0/24".parse().unwrap()],
//!     crypto: Default::default(),
//! };
//! let now = Instant::now();
//! // Each node's own randomness (a router takes 32 bytes from the operating system).
//! let mut hub = Node::new(now, hub_cfg, Entropy::new([0x5a; 32]))?;
//! let mut spoke = Node::new(now, spoke_cfg, Entropy::new([0xa5; 32]))?;
//!
//! // Carry one node's transmits to the other; true if anything moved.
//! fn carry(from: &mut Node, to: &mut Node, now: Instant, log: &mut Vec<String>)
//!     -> Result<bool, dmvpn_core::Error> {
//!     let mut moved = false;
//!     loop {
//!         match from.poll_output() {
//!             Output::Transmit(t) => {
//!                 moved = true;
//!                 to.handle_input(Input::Underlay { now, src: t.src, dst: t.dst, payload: &t.payload })?;
//!             }
//!             Output::Event(e) => log.push(e.to_string()),
//!             Output::Deliver(_) => {}
//!             Output::Timeout(_) => return Ok(moved),
//!         }
//!     }
//! }
//! let mut events = Vec::new();
//! while carry(&mut spoke, &mut hub, now, &mut events)? | carry(&mut hub, &mut spoke, now, &mut events)? {}
//! assert!(events.contains(&"%DMVPN-5-NHRP_NHS: Tunnel0 10.0.0.1 is UP".to_string()));
//! assert!(hub.show_ip_nhrp(now).contains("10.0.0.11/32 via 10.0.0.11, Tunnel0"));
//! assert!(spoke.show_dmvpn(now).contains("Type:Spoke, NHRP Peers:1,"));
//! # Ok::<(), dmvpn_core::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod config;
mod crypto_config;
mod entropy;
mod error;
mod event;
mod node;
pub mod route;
#[cfg(feature = "sim")]
pub mod sim;
mod status;

/// The NHRP machines' events, carried as they are by [`EventKind::Nhrp`], and why a mapping or
/// registration went away ([`EventKind::MappingRemoved`], [`EventKind::PeerExpired`]).
pub use dmvpn_nhrp::{Event as NhrpEvent, RemoveReason};
pub use entropy::Entropy;
pub use error::Error;
pub use event::{Event, EventKind};
pub use node::{CryptoStats, Deliver, Input, Limits, Node, NodeStats, Output, Role, Transmit};
pub use status::{PeerState, PeerStatus, Status, TunnelStatus};
