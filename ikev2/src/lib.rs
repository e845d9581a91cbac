//! Sans-IO IKEv2 for DMVPN, part 1: everything below the state machines — the exact bytes and
//! the exact keys.
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
//! - **Key exchange** ([`crypto`]): groups 14 (MODP-2048, RFC 3526), 19 (ECP-256, RFC 5903)
//!   and 31 (Curve25519, RFC 8031), constant time, with peer values validated; the PRF.
//! - **Keys** ([`keys`]): prf+ (§2.13), SKEYSEED and SK_d/ai/ar/ei/er/pi/pr (§2.14), IKE SA
//!   rekeying (§2.18: the old PRF and SK_d), child SA KEYMAT with and without PFS (§2.17), as
//!   [`esp::SaKeys`].
//! - **SK protection** ([`sk`]): AES-CBC with HMAC-SHA2 (RFC 3602, RFC 4868) and AES-GCM-16
//!   (RFC 5282), integrity checked in constant time before decryption.
//! - **Authentication** ([`auth`]): the signed octets (§2.15) and shared-key AUTH with per-peer
//!   keys looked up by identity.
//!
//! Crypto comes from the `esp` crate's provider ([`esp::crypto::CryptoProvider`]), extended
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
//! use esp::crypto::ChaChaRandom;
//! use ikev2::crypto::IkeCryptoProvider;
//! use ikev2::keys::IkeSaKeys;
//! use ikev2::sk::SkCrypto;
//! use ikev2::transform::IkeSuite;
//! use ikev2::wire::{ExchangeType, Flags, Identity, Message, Payload};
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
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod crypto;
mod endpoint;
mod error;
pub mod event;
mod ike;
pub mod keys;
pub mod negotiate;
mod secret;
pub mod sk;
pub mod transform;
pub mod wire;

pub use config::{Cac, Config, Retransmit};
pub use endpoint::Endpoint;
pub use error::Error;
pub use event::{ChildSaUp, Counters, DownReason, Event, IkeSaId, IkeSaStatus, IkeState, Transmit};
pub use secret::Secret;
