//! Sans-IO IKEv2 for DMVPN: the exact bytes, the exact keys, and the state machines that bring
//! tunnels up, keep them up and take them down.
//!
//! DMVPN brings up an IPsec SA to the hub at boot and to another spoke on demand; IKEv2
//! (RFC 7296) negotiates them. This crate implements:
//!
//! - **Wire format** ([`wire`]): the IKE header (§3.1) and every payload of §3.2–§3.16 — SA with
//!   proposals, transforms and attributes, KE, IDi/IDr, CERT, CERTREQ, AUTH, Nonce, Notify,
//!   Delete, Vendor ID, TSi/TSr, SK (Encrypted), CP, EAP — plus SKF (Encrypted Fragment,
//!   RFC 7383). Views with `new_checked`, Reprs with `parse`/`buffer_len`/`emit`, open code
//!   points. The payload chain honours the critical bit (§2.5): an unknown critical payload is
//!   reported as [`Error::UnsupportedCriticalPayload`] (answer UNSUPPORTED_CRITICAL_PAYLOAD),
//!   unknown non-critical ones are kept as [`wire::Payload::Unknown`].
//! - **Transforms** ([`transform`]): the IANA registries (ENCR, PRF, INTEG, KE, ESN) and
//!   proposals in strongSwan's syntax (`aes128-sha256-modp2048`,
//!   `aes256gcm16-prfsha256-x25519`); DES, 3DES and MD5 are refused with the reason.
//! - **Key exchange** ([`crypto`]): groups 14, 15, 16 (MODP-2048, -3072, -4096, RFC 3526),
//!   19, 20, 21 (ECP-256, -384, -521, RFC 5903) and 31 (Curve25519, RFC 8031) — every group
//!   strongSwan proposes by default — constant time, with peer values validated; the PRF. A
//!   configuration naming a group the provider lacks is refused ([`Config::validate`]).
//! - **Keys** ([`keys`]): prf+ (§2.13), SKEYSEED and SK_d/ai/ar/ei/er/pi/pr (§2.14), IKE SA
//!   rekeying (§2.18: the old PRF and SK_d), child SA KEYMAT with and without PFS (§2.17), as
//!   [`dmvpn_esp::SaKeys`].
//! - **Key log** ([`keylog`]): an IKE SA's keys as a row of Wireshark's IKEv2 decryption
//!   table, for an explicit, opt-in key log only — **the rows contain the secret keys**.
//! - **SK protection** ([`sk`]): AES-CBC with HMAC-SHA2 (RFC 3602, RFC 4868) and AES-GCM-16
//!   (RFC 5282), integrity checked in constant time before decryption.
//! - **Authentication** ([`auth`]): the signed octets (§2.15) and shared-key AUTH with per-peer
//!   keys looked up by identity.
//!
//! - **State machines** ([`Endpoint`]): every IKE SA of a node, initiator and responder, with
//!   the handle/poll contract (`handle_datagram`, `handle_timeout`, `poll_transmit`,
//!   `poll_event`, `poll_timeout`; commands `initiate`, `create_child`, `rekey_child`,
//!   `rekey_ike`, `delete_child`, `close`, `check_liveness`). Configured by [`Config`]; reports
//!   [`Event`]s (IKE SA up/rekeyed/down, child SA up with its [`dmvpn_esp::SaConfig`]s, deleted,
//!   failed, peer dead, every refusal we send with its peer and reason) and [`Counters`].
//!   Datagrams are the family's [`Transmit`] (UDP); the transmit and event queues are bounded
//!   ([`Config::max_transmits`], [`Config::max_events`]), drops counted. Re-initiation after a
//!   failure, with an exponential back-off, is [`reinit::Reinitiator`]. What it implements of
//!   RFC 7296:
//!   - §1.2–§1.4 the exchanges: IKE_SA_INIT, IKE_AUTH with the first child SA (transport mode
//!     via USE_TRANSPORT_MODE, DMVPN's default, or tunnel mode), CREATE_CHILD_SA (new child,
//!     child rekey with REKEY_SA, IKE SA rekey, optional PFS), INFORMATIONAL (delete, liveness);
//!   - §2.1 message IDs with a window of 1, retransmission with exponential back-off and
//!     give-up ([`Retransmit`]), retransmitted requests answered from the cached response;
//!   - §2.4 liveness checks after an idle time, peer-dead detection;
//!   - §2.6 cookies once the half-open SAs reach a threshold, and the initiator's retry;
//!   - §2.7 proposal selection and §1.2/§1.3 INVALID_KE_PAYLOAD with a retry in the group the
//!     responder asks for;
//!   - §2.8 rekeying ahead of the lifetimes (seconds, with jitter; kilobytes through the
//!     `esp` SAs' soft limit), §2.8.1 simultaneous child rekeys resolved by the lowest nonce,
//!     §2.18 IKE SA rekeying with children moved to the new SA (collisions there are answered
//!     with TEMPORARY_FAILURE and retried after a random wait, §2.25);
//!   - §2.9 traffic selector narrowing, §2.17 child SA keys;
//!   - §2.23 NAT detection (NAT_DETECTION_SOURCE_IP / _DESTINATION_IP), floating to port 4500
//!     with the non-ESP marker, UDP-encapsulated ESP, NAT keepalives while behind a NAT, and a
//!     forced encapsulation like strongSwan's `encap = yes`;
//!   - §1.5/§2.21 errors answered with NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD,
//!     AUTHENTICATION_FAILED, TS_UNACCEPTABLE, INVALID_SYNTAX, INVALID_MAJOR_VERSION,
//!     UNSUPPORTED_CRITICAL_PAYLOAD, CHILD_SA_NOT_FOUND, TEMPORARY_FAILURE — never a panic or a
//!     stuck SA;
//!   - Call Admission Control (seed 002): limits on half-open SAs (bounded by default, in all
//!     and per peer address), total IKE SAs ([`Cac`]), refusals counted; copies of an
//!     IKE_SA_INIT request from any port of the same address are answered from the cache.
//!
//!   Not implemented: IKE fragmentation reassembly (RFC 7383 messages are dropped),
//!   certificates/EAP, MOBIKE, windows larger than 1.
//!
//! Crypto comes from the `esp` crate's provider ([`dmvpn_esp::crypto::CryptoProvider`]), extended
//! here with key exchange groups ([`crypto::IkeCryptoProvider`]); randomness only comes from
//! its `SecureRandom`. Secrets ([`Secret`], [`auth::Psk`], private values) are zeroized on drop
//! and redacted in `Debug`. Parsers never panic, whatever the bytes. There are no sockets,
//! clocks, threads or global randomness here.
//!
//! # Example
//!
//! Two peers agree on keys over Curve25519 and exchange an SK-protected message:
//!
//! ```
//! use std::sync::Arc;
//! use dmvpn_esp::crypto::ChaChaRandom;
//! use dmvpn_ikev2::crypto::IkeCryptoProvider;
//! use dmvpn_ikev2::keys::IkeSaKeys;
//! use dmvpn_ikev2::sk::SkCrypto;
//! use dmvpn_ikev2::transform::IkeSuite;
//! use dmvpn_ikev2::wire::{ExchangeType, Flags, Identity, Message, Payload};
//!
//! let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_os()?));
//! let suite = IkeSuite::parse("aes256gcm16-prfsha256-x25519")?;
//! let (ni, nr) = (provider.random_bytes(32)?, provider.random_bytes(32)?);
//! let (spi_i, spi_r) = (0x1111_2222_3333_4444, 0x5555_6666_7777_8888);
//!
//! // IKE_SA_INIT: each side sends its public value and derives the same keys.
//! let i = provider.start_key_exchange(suite.group)?;
//! let r = provider.start_key_exchange(suite.group)?;
//! let gir = i.complete(r.public_value())?;
//! assert_eq!(gir, r.complete(i.public_value())?);
//! let keys_i = IkeSaKeys::derive(&provider, &suite, gir.as_bytes(), &ni, &nr, spi_i, spi_r)?;
//! let keys_r = IkeSaKeys::derive(&provider, &suite, gir.as_bytes(), &ni, &nr, spi_i, spi_r)?;
//!
//! // IKE_AUTH: the initiator protects its payloads, the responder checks and decrypts them.
//! let sk_i = SkCrypto::new(&provider, &suite, &keys_i, true)?;
//! let sk_r = SkCrypto::new(&provider, &suite, &keys_r, false)?;
//! let outer = Message {
//!     spi_i, spi_r, minor_version: 0,
//!     exchange_type: ExchangeType::IKE_AUTH, flags: Flags::INITIATOR, message_id: 1,
//!     payloads: vec![],
//! };
//! let inner = vec![Payload::IdI(Identity::fqdn("spoke1.dmvpn.example"))];
//! let wire = sk_i.outbound.protect(provider.random(), &outer, &inner)?;
//! let got = sk_r.inbound.unprotect(&wire)?;
//! assert_eq!(got.payloads()?, inner);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Two endpoints bring up an IKE SA and a transport-mode child SA (the caller moves the datagrams
//! and the clock):
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use std::time::Instant;
//! use dmvpn_esp::crypto::ChaChaRandom;
//! use dmvpn_ikev2::auth::{Psk, PskTable};
//! use dmvpn_ikev2::crypto::IkeCryptoProvider;
//! use dmvpn_ikev2::wire::Identity;
//! use dmvpn_ikev2::{Config, Endpoint, Event};
//!
//! let make = |me: &str, peer: &str| -> Result<Endpoint, Box<dyn std::error::Error>> {
//!     let mut psks = PskTable::new();
//!     psks.insert(Identity::fqdn(peer), Psk::from("cisco123"));
//!     let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_os()?));
//!     let cfg = Config::new(provider, Identity::fqdn(me), psks)
//!         .with_ike_proposals(&["aes256gcm16-prfsha256-x25519"])?
//!         .with_esp_proposals(&["aes256gcm16"])?;
//!     Ok(Endpoint::new(cfg)?)
//! };
//! let (mut spoke, mut hub) = (make("spoke", "hub")?, make("hub", "spoke")?);
//! let (s_addr, h_addr): (SocketAddr, SocketAddr) = ("192.0.2.1:500".parse()?, "192.0.2.2:500".parse()?);
//! let now = Instant::now();
//! spoke.initiate(now, s_addr, h_addr, Some(Identity::fqdn("hub")), None)?;
//! // Deliver datagrams until both sides are quiet.
//! loop {
//!     let mut moved = false;
//!     while let Some(t) = spoke.poll_transmit() {
//!         hub.handle_datagram(now, t.remote(), t.local(), &t.payload)?;
//!         moved = true;
//!     }
//!     while let Some(t) = hub.poll_transmit() {
//!         spoke.handle_datagram(now, t.remote(), t.local(), &t.payload)?;
//!         moved = true;
//!     }
//!     if !moved { break; }
//! }
//! let up = |ep: &mut Endpoint| std::iter::from_fn(|| ep.poll_event())
//!     .filter(|e| matches!(e, Event::ChildUp { .. })).count();
//! assert_eq!((up(&mut spoke), up(&mut hub)), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod crypto;
mod endpoint;
mod error;
pub mod event;
mod ike;
pub mod keylog;
pub mod keys;
pub mod negotiate;
mod queue;
pub mod reinit;
mod secret;
pub mod sk;
pub mod transform;
pub mod wire;

pub use config::{Cac, CacLimit, Config, Retransmit};
pub use dmvpn_wire::Transmit;
pub use endpoint::Endpoint;
pub use error::Error;
pub use event::{ChildSaUp, Counters, DownReason, Event, IkeSaId, IkeSaStatus, IkeState};
pub use secret::Secret;
