//! Sans-IO NHRP: the Next Hop Resolution Protocol wire format as Cisco DMVPN speaks it.
//!
//! This crate reads and writes NHRP packets (RFC 2332) exactly as Cisco IOS routers put them on
//! the wire inside GRE (protocol type `0x2001`). It does no I/O: give it bytes, get a
//! [`wire::Repr`]; give it a `Repr`, get bytes. The NHRP client and server state machines
//! ([`Client`], [`Server`], with the [`Cache`]) build on it.
//!
//! # What is implemented
//!
//! - The fixed header (RFC 2332 §5.2.0.1): address family, protocol type and SNAP, hop count,
//!   packet size, checksum, extension offset, version 1, packet type, source NBMA address and
//!   subaddress type/length octets (NSAP/E.164 bit, 6-bit length).
//! - The mandatory part of all eight packet types: Resolution Request/Reply (§5.2.1, §5.2.2),
//!   Registration Request/Reply (§5.2.3, §5.2.4), Purge Request/Reply (§5.2.5, §5.2.6), Error
//!   Indication (§5.2.7: error code, error offset, the packet in error quoted), and Cisco's
//!   Traffic Indication (type 8). Unknown packet types are kept as bytes.
//! - Client Information Entries (§5.2.0.1) with the CIE codes of §5.2.2/§5.2.4 (No Binding
//!   Exists is 12, Binding Not Unique 13, Unique Address Already Registered 14) and the error
//!   codes of §5.2.7 (Loop Detected is 3, Hop Count Exceeded 15).
//! - Extensions (§5.3) with the compulsory bit: End, Responder Address, Forward and Reverse
//!   Transit NHS Record, Authentication, Vendor-Private, Cisco NAT Address; unknown extensions
//!   are kept as bytes and [`wire::Packet::unrecognized_compulsory_extension`] /
//!   [`wire::Repr::unrecognized_compulsory_extension`] say whether one was compulsory (§5.3:
//!   answer with an Error Indication "Unrecognized Extension").
//! - IPv4 and IPv6 as protocol (overlay) and NBMA (underlay) addresses in any combination, and
//!   zero-length addresses.
//! - The checksum (§5.2.0.1: the IP checksum over the whole packet), computed on emit and
//!   verified on parse; every length inconsistency is a precise [`Error`], never a panic.
//!
//! # Cisco behaviour handled
//!
//! - **Authentication extension** (type 7): Cisco's `ip nhrp authentication` sends a 4-byte
//!   type 1 (cleartext) followed by the password, 1 to 8 bytes, unpadded (length 5 to 12). The
//!   password is a [`wire::Secret`]: zeroized on drop, redacted in `Debug`.
//! - **NAT Address extension** (type 9, not compulsory): CIEs carrying the NBMA address of a
//!   peer as seen after NAT (a spoke's Registration Request carries its NHS's addresses there).
//! - **Traffic Indication** (type 8, DMVPN phase 3 redirect): 2 unused bytes, the traffic code
//!   (0 = redirect), 2 unused bytes, the addresses, then the data packet that triggered it.
//! - **Flags**: the Cisco "NAT capable" bit `0x0002` in Registration and Resolution packets.
//! - **Hop count**: Cisco originates packets with hop count 255; an NHS forwarding a request
//!   decrements it (the captures show 255, then 254 after the hub).
//! - Extensions are not padded: the next extension follows the previous value directly.
//! - RFC 2332 §5.2.7 has no extensions in an Error Indication; Wireshark flags them. This
//!   crate parses them if present, and its Error Indication builder adds none.
//!
//! # Example
//!
//! ```
//! use std::net::Ipv4Addr;
//! use dmvpn_nhrp::wire::{ExtensionType, Node, Packet, PacketType, Repr};
//!
//! let spoke = Node::new(Ipv4Addr::new(192, 168, 123, 2), Ipv4Addr::new(172, 16, 123, 2));
//! let hub = Node::new(Ipv4Addr::new(192, 168, 123, 1), Ipv4Addr::new(172, 16, 123, 1));
//! let request = Repr::registration_request(1, &spoke, &hub, 7200, 17916)
//!     .with_authentication(b"DMVPN")?;
//!
//! let bytes = request.to_bytes()?;
//! let packet = Packet::new_checked(&bytes[..])?;
//! assert_eq!(packet.packet_type(), PacketType::REGISTRATION_REQUEST);
//! assert_eq!(packet.hop_count(), 255);
//! let parsed = Repr::parse(&packet)?;
//! assert_eq!(parsed, request);
//! assert!(parsed.authentication().is_some_and(|a| a.verify_cleartext(b"DMVPN")));
//!
//! let reply = parsed.reply(&hub, parsed.cies().to_vec()).expect("a request has a reply");
//! assert_eq!(reply.packet_type(), PacketType::REGISTRATION_REPLY);
//! assert!(reply.extension(ExtensionType::RESPONDER_ADDRESS).is_some());
//! # Ok::<(), dmvpn_nhrp::Error>(())
//! ```
//!
//! # State machines
//!
//! On top of the wire format sit the NHRP machines of a DMVPN cloud, Sans-IO like everything
//! here (ARCHITECTURE.md, "The machine shape"): no sockets, clocks, threads or global randomness. Every call takes the
//! current `now: Instant`; packets come in through `handle_packet(now, from_nbma, bytes)`
//! (`from_nbma` is the *outer* source address, i.e. post-NAT), timers through
//! `handle_timeout(now)` (a spurious call is a no-op) at the instant `poll_timeout()` names
//! (exact: the earliest deadline), and everything to send comes out of `poll_transmit()` as a
//! [`Transmit`] (`dmvpn_wire::Transmit`: NBMA source and destination + NHRP bytes as an
//! `InGre(0x2001)` payload; GRE encapsulation with protocol type `0x2001`
//! is the caller's job) and everything that happened out of `poll_event()` as an [`Event`].
//! Queues, tables and pending requests are bounded, drops are counted ([`Stats`]), and
//! `handle_packet` returns an [`Error`] saying why a packet was dropped. Nothing panics,
//! whatever the bytes or call order.
//!
//! - [`Cache`]: protocol prefix → NBMA address (and post-NAT NBMA address), entry types
//!   static / dynamic / incomplete / negative / local, Cisco's flags, creation and expiry
//!   times, longest-prefix lookup, "used" marking, a size bound, [`CacheEvent`]s, and a
//!   `show ip nhrp` rendering ([`Cache::show`]).
//! - [`Client`] (NHC, spoke): static maps and NHSs as `ip nhrp map` / `ip nhrp nhs` (several
//!   for a dual hub). Registers (RFC 2332 §5.2.3, §5.2.4) at [`Client::register`] and every
//!   holdtime/3, with the unique flag and the holding time in the CIE; unanswered
//!   registrations are retransmitted with exponential back-off (1 s doubling to 64 s) and an
//!   NHS is declared down after 3 misses ([`Event::NhsDown`], [`Event::AllNhsDown`] when every
//!   hub is lost); a NAK (e.g. code 14, Unique Address Already Registered) raises
//!   [`Event::RegistrationRejected`] and waits for the next interval. Resolves (§5.2.1,
//!   §5.2.2) with fresh request IDs, an incomplete entry, back-off and give-up; a reply is
//!   accepted only if its request ID and requested address match an outstanding request, so
//!   unsolicited or spoofed replies are dropped and counted. A mapping used in the last 60 s
//!   before it expires is refreshed, an unused one expires with an event (seed 003 step 11:
//!   the IPsec layer tears its SAs down). Answers Resolution Requests a hub forwarded to it,
//!   directly to the requester (phase 2), and installs the requester's binding when one of
//!   its NHSs relayed the request, never changing where an existing mapping points (a
//!   direct request only refreshes the mapping of the address it came from). A Cisco
//!   Traffic Indication (phase 3) starts a resolution of the original destination and ends in
//!   [`Event::Shortcut`]. Purge Requests (§5.2.5) delete matching entries and are answered
//!   unless the N flag is set; an entry goes only if the packet came from an NHS or from the
//!   NBMA address the entry points at ([`Event::PurgeRefused`] otherwise).
//!   [`Client::shutdown`] purges its registration from every NHS.
//! - [`Server`] (NHS, hub): a registration table learned with no per-spoke configuration,
//!   with authentication, uniqueness (a different NBMA address claiming a unique, unexpired
//!   address gets code 14), holding-time expiry and `map multicast dynamic`
//!   ([`Server::multicast_nbmas`]). Only host addresses inside the tunnel subnet
//!   ([`ServerConfig::tunnel_prefix_len`]) are registered, other than the server's own,
//!   unless [`ServerConfig::registration_prefixes`] allows more; anything else gets code 4,
//!   Administratively Prohibited ([`Event::RegistrationRefused`]). A registration is purged
//!   (§5.2.5) only by a Purge Request from the NBMA address it was registered from
//!   (post-NAT), whatever the packet says inside ([`Event::PurgeRefused`] otherwise). NAT
//!   detection: when the outer source differs from the source NBMA address in the packet,
//!   the post-NAT address is recorded, used for replies and
//!   returned in the Cisco NAT Address extension. Resolution Requests are answered from the
//!   table or forwarded to the owner with this NHS in the Forward Transit NHS Record (§5.3.2,
//!   Cisco phase 2, [`ResolutionMode`]); unknown destinations go to the next NHS with the hop
//!   count decremented. Error Indications (§5.2.7) for loops (this NHS already in the transit
//!   record), exhausted hop counts, unknown compulsory extensions (§5.3) and, optionally,
//!   authentication failures — never in answer to an Error Indication.
//!   [`Server::note_forwarded`] sends phase 3 Traffic Indications, rate-limited per source
//!   and destination pair: a few quick retries while the flow keeps hairpinning (its
//!   indication or the resolution it started was likely lost), then one per
//!   [`ServerConfig::redirect_interval`].
//! - Both: Cisco cleartext authentication (`ip nhrp authentication`), one instance per
//!   `ip nhrp network-id`, `ip nhrp max-send` (default 100 packets per 10 s, counting every
//!   packet sent; over quota packets are held or dropped, counted, and
//!   [`Event::QuotaExceeded`] says so once per window like `%NHRP-4-QUOTA`), per-type
//!   counters like `show ip nhrp traffic` ([`Traffic`]), hop count 255 on everything sent
//!   (never 0), and [`ReceiveMode`]: Cisco-compatible or strict RFC 2332 receive checks.
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::Instant;
//! use dmvpn_nhrp::{Client, ClientConfig, Event, Resolution, Server, ServerConfig};
//!
//! let ip = |s: &str| s.parse::<IpAddr>().unwrap();
//! let now = Instant::now();
//! let mut hub = Server::new(now, ServerConfig::new(ip("172.17.0.1"), ip("10.0.0.1")))?;
//! let mut spoke = Client::new(
//!     now,
//!     ClientConfig::new(ip("172.16.1.24"), ip("10.0.0.2")).with_nhs(ip("10.0.0.1"), ip("172.17.0.1")),
//! )?;
//!
//! spoke.register(now);
//! let request = spoke.poll_transmit().unwrap();
//! assert_eq!(request.dst, ip("172.17.0.1"));
//! hub.handle_packet(now, ip("172.16.1.24"), &request.payload)?;
//! let reply = hub.poll_transmit().unwrap();
//! assert_eq!(reply.dst, ip("172.16.1.24"));
//! spoke.handle_packet(now, ip("172.17.0.1"), &reply.payload)?;
//! assert!(hub.registration(ip("10.0.0.2")).is_some());
//! assert!(std::iter::from_fn(|| spoke.poll_event()).any(|e| e == Event::NhsUp { nhs: ip("10.0.0.1") }));
//! // The hub's static map answers at once.
//! assert_eq!(spoke.resolve(now, ip("10.0.0.1"))?, Resolution::Cached(ip("172.17.0.1")));
//! # Ok::<(), dmvpn_nhrp::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod cache;
pub mod client;
mod error;
mod machine;
pub mod server;
pub mod wire;

pub use cache::{Cache, CacheEvent, Entry, EntryFlags, EntryType, Prefix, RemoveReason};
pub use client::{Client, ClientConfig, Nhs, NhsStatus, Resolution, StaticMap};
pub use error::Error;
pub use machine::{
    Backoff, Common, Event, MaxSend, OverQuota, ReceiveMode, RequestIdKey, Stats, Traffic, Transmit,
};
pub use server::{ResolutionMode, Route, Server, ServerConfig};
