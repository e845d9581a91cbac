//! Sans-IO IPsec ESP for DMVPN: the data path that protects every GRE packet between two NBMA
//! endpoints.
//!
//! - **Wire** ([`wire`]): the ESP header and trailer (RFC 4303 §2; padding 1, 2, 3, … checked on
//!   receive, §2.4; dummy packets with next header 59 dropped and counted, §2.6), UDP
//!   encapsulation for NAT traversal (RFC 3948: port 4500, the non-ESP marker in front of IKE,
//!   §2.2, NAT keepalives, §2.3).
//! - **Suites** ([`Suite`]): AES-GCM with a 16-byte ICV, 128/256-bit keys (RFC 4106: 4-byte
//!   salt, §8.1; the 8-byte IV is the 64-bit sequence number so it never repeats, §3.1; AAD is
//!   SPI + sequence number or SPI + 64-bit ESN, §5); AES-CBC-128/192/256 (RFC 3602, a random IV
//!   per packet from the provider) with HMAC-SHA-256-128, HMAC-SHA-384-192, HMAC-SHA-512-256
//!   (RFC 4868) or HMAC-SHA-1-96 (RFC 2404, Cisco's `esp-sha-hmac`); NULL encryption with
//!   integrity (RFC 2410) for debugging. **DES, 3DES and MD5 are refused** with an error that
//!   says why ([`Error::RejectedAlgorithm`]).
//! - **Security associations** ([`OutboundSa`], [`InboundSa`]): a 32-bit or 64-bit (ESN,
//!   RFC 4303 §2.2.1) sequence counter that never wraps (§3.3.3: exhaustion is an error and an
//!   [`Event`]); an anti-replay window (default 1024 packets) checked before and updated only
//!   after ICV verification (§3.4.3), with ESN high-order bits inferred as in Appendix A2; the
//!   ESN high bits are covered by the ICV without being sent (§2.2.1, §3.3.2.2); transport mode
//!   (next header 47 for GRE, DMVPN's default) and tunnel mode (inner IPv4/IPv6, with optional
//!   TFC padding, §2.4/§2.7); soft and hard lifetimes by time, bytes and packets
//!   ([`Lifetimes`]), each raising an event; counters like `show crypto ipsec sa`.
//! - **SA database** ([`SaDatabase`]): inbound by SPI and destination, outbound by SPI and by
//!   peer (the newest SA carries the traffic), the time-based lifetimes of all of them in one
//!   expiry index and their events in one deterministic queue ([`SaEvent`]), and DMVPN's policy
//!   ([`Policy::dmvpn`]: GRE between the two NBMA addresses, no ACLs).
//! - **Key log** ([`keylog`]): an SA's keys as a row of Wireshark's ESP SA table, for an
//!   explicit, opt-in key log only — **the rows contain the secret keys**.
//! - **Crypto provider** ([`crypto`]): traits for AEADs, CBC ciphers, HMACs and random bytes,
//!   passed in configuration (no global default). RustCrypto by default; the `ring` feature
//!   adds a faster AES-GCM.
//!
//! The data path ([`OutboundSa::encapsulate`], [`InboundSa::decapsulate`]) writes into the
//! caller's buffers, never allocates, compares ICVs in constant time and never panics,
//! whatever the bytes. Its in-place form ([`OutboundSa::encapsulate_in_place`],
//! [`InboundSa::decapsulate_in_place`], and the same on [`SaDatabase`]) encrypts and decrypts
//! the payload where it lies in the caller's buffer, for a data path that copies a packet's
//! payload at most once: the ESP header and IV go into headroom in front of the payload
//! ([`OutboundSa::header_len`]), the trailer and ICV into spare capacity behind it
//! ([`OutboundSa::max_trailer_len`]), with the same bytes on the wire. Key material is zeroized on drop and never shown by `Debug`. Time is an
//! `Instant` argument: there are no clocks, sockets, threads or global randomness here.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use dmvpn_esp::crypto::{rustcrypto, ChaChaRandom};
//! use dmvpn_esp::{InboundSa, OutboundSa, SaConfig, SaKeys, Suite, NEXT_HEADER_GRE};
//!
//! let provider = rustcrypto::provider(Arc::new(ChaChaRandom::from_os()?));
//! let suite = Suite::parse("esp-aes 256 esp-sha256-hmac")?;
//! let keys = SaKeys::new(&[0x11; 32], &[0x22; 32]);
//! let cfg = SaConfig::new(0x1000_0001, suite, keys, provider);
//! let now = Instant::now();
//! let mut tx = OutboundSa::new(&cfg, now)?;
//! let mut rx = InboundSa::new(&cfg, now)?;
//!
//! let gre = [0x00, 0x00, 0x08, 0x00, 0x45]; // a GRE packet (truncated for the example)
//! let mut wire = [0u8; 128];
//! let esp_packet = tx.encapsulate(now, NEXT_HEADER_GRE, &gre, &mut wire)?;
//! let mut plain = [0u8; 128];
//! let inner = rx.decapsulate(now, esp_packet, &mut plain)?;
//! assert_eq!((inner.next_header, inner.payload), (NEXT_HEADER_GRE, &gre[..]));
//! assert!(rx.decapsulate(now, esp_packet, &mut plain).is_err()); // a replay
//! # Ok::<(), dmvpn_esp::Error>(())
//! ```
#![forbid(unsafe_code)]

mod algorithm;
pub mod crypto;
mod error;
pub mod keylog;
pub mod lifetime;
pub mod replay;
pub mod sa;
pub mod sadb;
pub mod wire;

pub use algorithm::{EncryptionAlgorithm, IntegrityAlgorithm, Suite};
pub use error::Error;
pub use lifetime::{Lifetime, Lifetimes, Limit};
pub use replay::ReplayWindow;
pub use sa::{
    Counters, Decapsulated, Event, InPlace, InboundSa, Mode, NEXT_HEADER_GRE, NEXT_HEADER_IPV4,
    NEXT_HEADER_IPV6, OutboundSa, SaConfig, SaKeys,
};
pub use sadb::{Direction, Policy, SaDatabase, SaEvent, SaId};
