//! Sans-IO GRE for DMVPN: the wire format of RFC 2784 with the key and sequence number
//! extensions of RFC 2890, the outer IPv4/IPv6 header of GRE-in-IP, and a point-to-point or
//! multipoint (mGRE) [`Tunnel`] with key matching, sequencing and counters.
//!
//! Nothing here does I/O. Encapsulation writes headers into headroom in front of a payload that is
//! already in the caller's buffer, and decapsulation returns the payload as a slice of the received
//! buffer: the payload is never copied and no memory is allocated per packet.
//!
//! - [`wire::gre`]: the GRE header view and [`wire::gre::Repr`]. The checksum (RFC 2784 §2.5) is
//!   computed on emit and verified on parse; version ≠ 0 (§2.3.1) and the RFC 1701 routing,
//!   strict-source-route and recursion bits (§2.5: bits 1–5) are rejected; protocol types are open.
//! - [`wire::ip`]: GRE-in-IP encapsulation and decapsulation in one call, with the outer header
//!   (per-packet destination for mGRE, TTL, TOS, DF and flow label) from `dmvpn_wire`, the
//!   family's one home for IP headers and checksums.
//! - [`Tunnel`]: the `tunnel key` rule DMVPN depends on (a different or missing key is dropped and
//!   counted), optional checksums, RFC 2890 §2.2 sequencing per remote endpoint (duplicates and
//!   out-of-order packets dropped; out-of-order packets are not buffered), counters per endpoint.
//!   Per-endpoint state exists only for endpoints the caller sent to or [admitted](Tunnel::admit)
//!   after accepting their packet, never for a spoofed source, and expires when idle
//!   ([`Tunnel::handle_timeout`]).
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::Instant;
//! use dmvpn_gre::{Config, Protocol, Tunnel};
//!
//! let hub: IpAddr = "172.17.0.1".parse().unwrap();
//! let spoke: IpAddr = "172.16.1.1".parse().unwrap();
//! let mut hub_tun = Tunnel::new(Config { key: Some(100), ..Config::multipoint(hub) }).unwrap();
//! let mut spoke_tun = Tunnel::new(Config { key: Some(100), ..Config::point_to_point(spoke, hub) }).unwrap();
//!
//! // The spoke's overlay packet sits in its buffer after enough headroom for IPv4 + GRE.
//! let inner = b"\x45 an overlay IPv4 packet";
//! let head = spoke_tun.overhead();
//! let mut buf = vec![0u8; head + inner.len()];
//! buf[head..].copy_from_slice(inner);
//! let wire = spoke_tun.encapsulate_ip(hub, Protocol::IPV4, &mut buf, head, inner.len()).unwrap();
//!
//! // The hub accepts it: right key, addressed to the hub.
//! let rx = hub_tun.decapsulate_ip(wire).unwrap();
//! assert_eq!((rx.remote, rx.protocol(), rx.payload), (spoke, Protocol::IPV4, &inner[..]));
//! // The upper layer vouches for the spoke (it authenticated it, say): the spoke gets state.
//! assert!(hub_tun.peer(spoke).is_none());
//! hub_tun.admit(Instant::now(), &rx).unwrap();
//! assert_eq!(hub_tun.peer(spoke).unwrap().counters.packets_in, 1);
//! ```
#![forbid(unsafe_code)]

mod error;
pub mod tunnel;
pub mod wire;

pub use dmvpn_wire::{HeaderOptions, IpProtocol};
pub use error::Error;
pub use tunnel::{
    Config, Counters, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_PEERS, DropReason, Drops, Mode, Peer,
    PeerTableStats, Received, Tunnel,
};
pub use wire::gre::Protocol;
