//! Sans-IO DMVPN nodes: the hub and spoke logic that composes mGRE ([`dmvpn_gre`]), NHRP
//! ([`dmvpn_nhrp`]) and IPsec (IKEv2, [`dmvpn_ikev2`], and ESP, [`dmvpn_esp`]) into what a
//! router project embeds: one [`Node`], one loop, one clock.
//!
//! # What a node does
//!
//! A [`Node`] has one or more tunnel interfaces ([`config::TunnelConfig`], in IOS terms: `ip
//! address`, `tunnel source`, `tunnel key`, `tunnel mode gre multipoint` or `tunnel
//! destination`, `ip nhrp network-id`, `authentication`, `holdtime`, `nhs`, `map`, `map
//! multicast dynamic`, `redirect`, `shortcut`, `max-send`, `ip mtu`, `ip tcp adjust-mss`, `ip
//! verify unicast source reachable-via rx`, and the MTU of the underlay interface). Each
//! interface is a hub
//! (an NHRP server: `ip nhrp map multicast dynamic`, `redirect`, or no `nhs`), a spoke (an NHRP
//! client: it has `nhs`), or both (a secondary hub that is a spoke of the primary, seed 003).
//! Several interfaces make dual DMVPN (different tunnel keys and network-ids, seed 003).
//!
//! Either address family, on either side: an IPv4 or IPv6 overlay (`ip address` / `ipv6
//! address`, NHRP with protocol type 0x0800 or 0x86dd) over an IPv4 or IPv6 underlay (`tunnel
//! source`, GRE, ESP and IKE over that family; IPv6 traffic selectors), and dual stack: an
//! IPv4 and an IPv6 overlay on one interface, each with its own NHRP instance, over one GRE
//! tunnel and one set of SAs per peer ([`config::Ipv6Overlay`]).
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
//! - **IPsec protection** (`tunnel protection ipsec profile NAME [shared]`,
//!   [`config::TunnelProtection`], with [`config::CryptoConfig`]: transform sets, IPsec
//!   profiles, IKEv2 proposals, keyring, DPD, call admission): GRE to and from every peer
//!   travels only in ESP, transport mode, protecting IP protocol 47 between the two NBMA
//!   addresses (no ACL, seed 003). A spoke starts IKE to its NHSs at boot and the registration
//!   goes through the new SA; a spoke-to-spoke mapping triggers IKE to the peer (seed 003 step
//!   4) while data keeps going through the hub's SA, then goes direct; the mapping's expiry
//!   deletes the SAs (step 11). A hub answers IKE from any spoke (dynamic crypto). Cleartext
//!   GRE on a protected interface is dropped and counted; NHRP waits in a bounded queue for its
//!   SA; nothing that should be protected is ever sent in clear. Child SAs rekey by seconds
//!   and kilobytes, DPD declares a dead hub (its NHS goes down), a hub that loses a spoke's SA
//!   removes its registrations.
//! - **Status** as data ([`Status`]) and as the IOS text of `show dmvpn`, `show ip nhrp`, `show
//!   ip nhrp nhs`, `show ip nhrp traffic` (seed 002); on protected interfaces the crypto state
//!   ([`CryptoStatus`], [`PeerStatus::crypto`]) and `show crypto ikev2 sa`, `show crypto ipsec
//!   sa` (seed 004), `show crypto session`, `show dmvpn detail`; [`Event`]s print like the
//!   seeds' `%DMVPN-5-NHRP_*` and `%CRYPTO-5-SESSION_STATUS` messages.
//!
//! - **MTU** (`ip mtu`, `ip tcp adjust-mss`; see below): what is larger than a tunnel can
//!   carry is fragmented before it is encrypted, or refused with the ICMP error that makes
//!   the sender send smaller packets; TCP SYNs have their MSS lowered.
//!
//! RFCs: GRE (RFC 2784, keys RFC 2890), NHRP (RFC 2332) with Cisco's DMVPN extensions, ESP
//! (RFC 4303) in transport mode, IKEv2 (RFC 7296) with PSK authentication (§2.15); the
//! selectors are GRE host to host (RFC 4301 §4.4.1). IPv4 fragmentation (RFC 791), path MTU
//! discovery (RFC 1191, RFC 8201) with ICMP (RFC 792, RFC 1812) and ICMPv6 (RFC 4443), TCP's
//! MSS option (RFC 879, RFC 6691, RFC 9293).
//!
//! # MTU
//!
//! Seed 002 sets `ip mtu 1400` on every tunnel interface ("ensures longer packets are
//! fragmented before they are encrypted; otherwise, the receiving router would have to do the
//! reassembly") and `ip tcp adjust-mss 1360` (1400 less 40 bytes of IPv4 and TCP headers, RFC
//! 6691 §2). A node does both, for every IPv4/IPv6 packet it sends into a tunnel: from the
//! caller's TUN, copies of multicast, and what a hub forwards from one spoke to another.
//!
//! - **Effective MTU** towards a peer ([`Node::tunnel_mtu`], [`PeerStatus::mtu`], `show dmvpn
//!   detail`): `ip mtu` ([`config::TunnelConfig::mtu`]), or less when the underlay cannot
//!   carry that much: [`config::TunnelConfig::underlay_mtu`] (the node cannot learn it, say it
//!   when it is not Ethernet's 1500) minus the outer IP header (20, IPv6 40), the GRE header
//!   as the interface sends it (4, +4 with `tunnel key`) and, on a protected interface, the
//!   most the peer's current outbound SA adds: ESP header and IV, the longest padding, pad
//!   length, next header and ICV, the inner IP header in tunnel mode, 8 for UDP when the peer
//!   is behind NAT. Seed 004's `esp-aes 256 esp-sha256-hmac` adds 8 + 16 + 15 + 2 + 16 = 57,
//!   85 in all with IPv4 and a keyed GRE: 1,400 fits a 1,500-byte underlay, a 1,400-byte
//!   underlay leaves 1,315. Not below 68 for IPv4 (RFC 791 §3.1) nor 1,280 for IPv6 (RFC 8200
//!   §5; what does not fit then is the underlay's to fragment). Unknown, and not enforced, on a
//!   protected interface while the peer has no SA (nothing is sent to it then).
//! - **IPv4 without Don't Fragment** that is larger is fragmented (RFC 791 §2.3 and §3.2:
//!   8-byte offsets, More Fragments on all but the last, which keeps the original's, options
//!   whose copied flag is set in every fragment and the others in the first only), and each
//!   fragment goes through GRE and ESP on its own ([`NodeStats::fragments`]); the destination
//!   host reassembles.
//! - **IPv4 with DF, and IPv6** (which routers never fragment, RFC 8200 §5), are dropped
//!   ([`NodeStats::too_big`], [`Error::PacketTooBig`]) and answered with ICMP "fragmentation
//!   needed and DF set" (type 3 code 4 with the next-hop MTU, RFC 1191 §4) or ICMPv6 "packet
//!   too big" (type 2, RFC 4443 §3.2), quoting the original as RFC 1812 §4.3.2.3 and RFC 4443
//!   §2.4(c) say (its header and at least 8 data bytes, as much as fits in 576 or 1,280 bytes),
//!   from the overlay address of the interface the error leaves by: delivered to the overlay
//!   for a packet from the caller's side, sent back through the tunnel to the spoke it came
//!   from when a hub was forwarding it. Never about an ICMP error, a later fragment or a
//!   non-unicast source (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e)); at most
//!   [`Limits::icmp_error_burst`] at once and one per [`Limits::icmp_error_interval`] after
//!   (RFC 1812 §4.3.2.8, RFC 4443 §2.4(f); IOS's 500 ms), the rest counted
//!   ([`NodeStats::icmp_rate_limited`]).
//! - **`ip tcp adjust-mss`** ([`config::TunnelConfig::adjust_mss`]): the MSS option of TCP SYN
//!   and SYN-ACK segments (the only ones that carry it, RFC 9293 §3.7.1), IPv4 and IPv6, going
//!   into the tunnel and coming out of it, is lowered to the configured value if larger, the
//!   checksum updated incrementally (RFC 1624), nothing else touched
//!   ([`NodeStats::mss_clamped`]). A packet out of an ESP SA is clamped in the buffer it was
//!   decrypted in. What exactly is parsed, and what is left alone: [`dmvpn_wire::tcp`].
//!
//! # From IOS configuration text
//!
//! [`ios::parse`] reads the configuration a network engineer already has (`show
//! running-config`: `interface Tunnel0` with its `ip nhrp` and `tunnel` lines, `crypto ikev2`
//! keyring, profile, proposal and policy, `crypto ipsec` transform sets and profiles, `ip
//! route`, `hostname`) into a validated [`config::NodeConfig`], the static routes, and a note
//! for every line of another subsystem (`router eigrp`, physical interface settings, …). What
//! it does not understand in its own blocks, and what it refuses (crypto maps, certificates,
//! DES, 3DES, MD5, small groups), is an error with its line number and what to use instead;
//! secrets never appear in them. IKEv1 configuration (`crypto isakmp policy`, `crypto isakmp
//! key`, an IPsec profile without `set ikev2-profile`) is read into
//! [`config::IsakmpConfig`] and [`config::IkeVersion::Ikev1`], and the node protects such a
//! tunnel with `dmvpn-ikev1`'s Main Mode and Quick Mode (IKEv1 is deprecated, RFC 9395: it is
//! there to join and migrate existing clouds). `examples/configs/*.cfg` are seed 003's hub
//! and spokes, `examples/configs/ikev1/*.cfg` the same with the seeds' `crypto isakmp`.
//!
//! # The loop (ARCHITECTURE.md, "The machine shape")
//!
//! [`Node::handle_input`] takes an [`Input`]: an underlay datagram (a GRE packet, an ESP
//! packet, or a UDP datagram to port 500/4500, with its outer addresses), an overlay packet from
//! the caller's TUN, or a timeout. [`Node::poll_output`] then yields [`Output`]s until [`Output::Timeout`] says when
//! to call again: underlay [`Transmit`]s, overlay [`Deliver`]ies and [`Event`]s. Time is an
//! argument and randomness is handed in at construction ([`Entropy`]: it keys the NHRP
//! request IDs); nothing here reads a clock, opens a socket or draws randomness of its own.
//! Queues are bounded ([`Limits`]) and every drop is counted ([`NodeStats`]). The NHRP
//! password never appears in `Debug` output or events.
//!
//! # Multi-core
//!
//! A [`Node`] is `Send` (checked at compile time) and shares nothing with any other node: its
//! NHRP machines, routes, IKE endpoints, SA databases, buffer pool and crypto providers (seeded
//! per node) are its own, and nothing in the crate is global. So the caller scales across
//! cores by running **one node per thread**, each a shard with its own tunnel source(s) and
//! peers, and the shards scale with the cores (`benches/multicore.rs`: N shards on N threads
//! against one).
//!
//! One node's data path is not split further: [`Node::handle_input`] takes `&mut self`, and
//! every packet writes state the control plane owns: the NHRP mapping's used flag and
//! last-used time (idle expiry, refresh before expiry), the outbound SA's sequence number and
//! byte lifetime (rekey by kilobytes), the inbound SA's anti-replay window and the liveness it
//! reports to IKE, the NAT-T peer it may move, GRE's per-peer table and the counters. Control
//! plane (NHRP, IKE, timers) and data plane of a shard therefore run on the shard's thread, in
//! its one loop; a `Mutex<Node>` shared by threads would only serialize them.
//!
//! What a shard is, and what the caller does per shard:
//!
//! - **A shard is a node with its own NBMA address(es).** A hub site scales out as N hub nodes,
//!   each with its own `tunnel source`, the spokes spread across them (each spoke's `ip nhrp
//!   nhs`, or dual hub); a router in several clouds (dual DMVPN with distinct tunnel sources)
//!   runs one node per cloud. Shards share no NHRP or IKE state: a spoke is registered with,
//!   and has its SAs with, the shard it talks to.
//! - **Sockets**: per shard, its raw GRE or ESP socket and its UDP 500/4500 sockets bound to
//!   the shard's tunnel source, so the kernel steers each peer's datagrams to the shard that
//!   owns its state; each thread reads its own sockets and writes the [`Transmit`]s of its node.
//! - **Overlay**: per shard, its own TUN device (or queue) with the kernel routes of the
//!   shard's networks, so that a packet from the LAN reaches the node that has the route and
//!   the mapping for it. A multi-queue TUN that spreads flows by hash does not fit: a packet
//!   would reach a shard that does not know its peer.
//! - **Shared**: nothing but the kernel and the configuration the caller partitioned.
//!
//! Sharding one node's peers over threads (one SA per thread, one control plane) would need
//! the per-packet state above split out of the node: the SAs handed to the data-path shards,
//! a versioned snapshot of route → NBMA → SA for them, and channels back for what the data
//! path reports (mappings used, bytes against SA lifetimes, ESP activity, NAT moves,
//! counters). That is not a small addition to this API, and it is not built.
//!
//! # Example: a protected hub and spoke
//!
//! The seeds' hub and spoke A with `tunnel protection ipsec profile DMVPN` (seed 004's
//! transform set, a wildcard pre-shared key):
//!
//! ```text
//! crypto ikev2 keyring KEYS
//!  peer ANY
//!   address 0.0.0.0 0.0.0.0
//!   pre-shared-key cisco123
//! crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac
//!  mode transport
//! crypto ipsec profile DMVPN
//!  set transform-set TS
//! interface Tunnel0
//!  tunnel protection ipsec profile DMVPN
//! ```
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::Instant;
//! use dmvpn_core::config::{
//!     CryptoConfig, IkeVersion, Ikev2Config, IpsecMode, IpsecProfile, KeyringPeer, NhrpConfig, NhsConfig,
//!     NodeConfig, Password, StaticMap, TransformSet, TunnelConfig, TunnelMode, TunnelProtection,
//! };
//! use dmvpn_core::{Entropy, EventKind, Input, Node, Output};
//! use dmvpn_wire::Proto;
//!
//! let crypto = CryptoConfig {
//!     transform_sets: vec![TransformSet {
//!         name: "TS".into(),
//!         transforms: "esp-aes 256 esp-sha256-hmac".into(),
//!         mode: IpsecMode::Transport,
//!     }],
//!     ipsec_profiles: vec![IpsecProfile {
//!         name: "DMVPN".into(),
//!         transform_sets: vec!["TS".into()],
//!         lifetime_seconds: None,
//!         lifetime_kilobytes: None,
//!         pfs: None,
//!         ike: IkeVersion::Ikev2,
//!     }],
//!     ikev2: Ikev2Config {
//!         keyring: vec![KeyringPeer {
//!             name: "ANY".into(),
//!             address: "0.0.0.0/0".parse().ok(),
//!             identity: None,
//!             pre_shared_key: Password::new("cisco123"),
//!         }],
//!         ..Ikev2Config::default()
//!     },
//!     ..CryptoConfig::default()
//! };
//!
//! let ip = |s: &str| s.parse::<IpAddr>().unwrap();
//! let tunnel = |addr: &str, source: &str, nhrp: NhrpConfig| TunnelConfig {
//!     name: "Tunnel0".into(),
//!     address: addr.parse().unwrap(),
//!     source: ip(source),
//!     mode: TunnelMode::Multipoint,
//!     key: Some(100000),
//!     mtu: 1400,
//!     underlay_mtu: 1500,
//!     adjust_mss: Some(1360),
//!     verify_unicast_source: false,
//!     nhrp,
//!     protection: Some(TunnelProtection { profile: "DMVPN".into(), shared: false }),
//!     ipv6: None,
//! };
//! // The seeds' hub: NBMA 172.17.0.1, tunnel 10.0.0.1/24, `ip nhrp map multicast dynamic`.
//! let hub_cfg = NodeConfig {
//!     hostname: "hub".into(),
//!     tunnels: vec![tunnel("10.0.0.1/24", "172.17.0.1",
//!         NhrpConfig { holdtime: 300, map_multicast_dynamic: true, ..NhrpConfig::new(99) })],
//!     networks: vec![],
//!     crypto: crypto.clone(),
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
//!     crypto,
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
//!                 let (src, dst, payload) = (t.src, t.dst, &t.payload[..]);
//!                 // Only IKE (UDP 500) and ESP leave a protected node, never GRE in clear.
//!                 match t.proto {
//!                     Proto::Udp { src_port, dst_port } => to.handle_input(Input::Udp {
//!                         now,
//!                         src: (src, src_port).into(),
//!                         dst: (dst, dst_port).into(),
//!                         payload,
//!                     })?,
//!                     Proto::ESP => to.handle_input(Input::Esp { now, src, dst, payload })?,
//!                     other => panic!("{other:?} from a protected node"),
//!                 }
//!             }
//!             Output::Event(e) => log.push(e.to_string()),
//!             Output::Deliver(_) => {}
//!             Output::Timeout(_) => return Ok(moved),
//!         }
//!     }
//! }
//! let mut events = Vec::new();
//! while carry(&mut spoke, &mut hub, now, &mut events)? | carry(&mut hub, &mut spoke, now, &mut events)? {}
//! assert!(events.iter().any(|e| e.starts_with("%CRYPTO-5-SESSION_STATUS: Crypto tunnel is UP")));
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
pub mod ios;
mod node;
pub mod route;
#[cfg(feature = "sim")]
pub mod sim;
mod small_map;
mod status;
mod status_crypto;
mod status_isakmp;
#[cfg(feature = "sim")]
pub mod wired;

/// The NHRP machines' events, carried as they are by [`EventKind::Nhrp`], and why a mapping or
/// registration went away ([`EventKind::MappingRemoved`], [`EventKind::PeerExpired`]).
pub use dmvpn_nhrp::{Event as NhrpEvent, RemoveReason};
pub use entropy::Entropy;
pub use error::Error;
pub use event::{Event, EventKind};
pub use node::{
    CryptoStats, DebugFlags, Deliver, Input, Limits, Node, NodeStats, Output, Role, Transmit,
    WorkCounters,
};
pub use status::{PeerState, PeerStatus, Status, TunnelStatus};
pub use status_crypto::{CryptoStatus, EspSaStatus, PeerCrypto, SessionState};
pub use status_isakmp::{IsakmpSaRow, IsakmpSaState, IsakmpSaStatus, show_crypto_isakmp_sa};
