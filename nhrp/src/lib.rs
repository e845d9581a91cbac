//! Sans-IO NHRP: the Next Hop Resolution Protocol wire format as Cisco DMVPN speaks it.
//!
//! This crate reads and writes NHRP packets (RFC 2332) exactly as Cisco IOS routers put them on
//! the wire inside GRE (protocol type `0x2001`). It does no I/O: give it bytes, get a
//! [`wire::Repr`]; give it a `Repr`, get bytes. The NHRP client and server state machines build
//! on it.
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
//! use nhrp::wire::{ExtensionType, Node, Packet, PacketType, Repr};
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
//! # Ok::<(), nhrp::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod checksum;
mod error;
pub mod wire;

pub use error::Error;
