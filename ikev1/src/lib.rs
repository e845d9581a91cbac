//! Sans-IO IKEv1 for DMVPN: the ISAKMP wire format, the keys and the message encryption, so
//! far, of the IKEv1 that existing Cisco DMVPN clouds configured with `crypto isakmp` speak.
//!
//! IKEv1 is deprecated (RFC 9395, "Deprecation of the Internet Key Exchange Version 1
//! (IKEv1) Protocol and Obsoleted Algorithms"). This crate exists to join such clouds and to
//! migrate them: new deployments use IKEv2, `dmvpn-ikev2`
//! (<https://docs.rs/dmvpn-ikev2>), which is what `dmvpn-core` negotiates. The aim is Main
//! Mode and Quick Mode with pre-shared keys, as IOS hubs and spokes run them. Two parts are
//! here: the wire layer ([`wire`]) and the keys and encryption ([`keys`], [`cipher`], [`iv`],
//! [`algorithm`]); the exchanges come next.
//!
//! # The wire layer
//!
//! - **ISAKMP** (RFC 2408): the header (§3.1: cookies, next payload, version 1.0, exchange
//!   type — Base, Identity Protection (Main Mode), Authentication Only, Aggressive,
//!   Informational, Quick Mode, New Group Mode —, the E, C and A flags, message ID, length),
//!   the generic payload header and chain (§3.2), the SA payload (§3.4) with its Proposal
//!   (§3.5) and Transform (§3.6) payloads and data attributes in TV and TLV form (§3.3), KE
//!   (§3.7), ID (§3.8), CERT (§3.9), CR (§3.10), HASH (§3.11), SIG (§3.12), Nonce (§3.13),
//!   Notification (§3.14, the error types 1–30 of §3.14.1), Delete (§3.15) and Vendor ID
//!   (§3.16). A message with the E flag set is carried as its still-encrypted body
//!   ([`wire::EncryptedBody`]); [`wire::parse_decrypted_chain`] reads its contents, padding
//!   included, once decrypted.
//! - **IKE** (RFC 2409): the phase 1 SA attributes of Appendix A, typed
//!   ([`wire::IkeAttributes`]: encryption algorithm, hash, authentication method, group
//!   description and type, life type and (variable-length) duration, PRF, key length).
//! - **The IPsec DOI** (RFC 2407): the situation (§4.2), the protocol and transform IDs
//!   (§4.4), the SA attributes of §4.5, typed ([`wire::IpsecAttributes`]: SA life type and
//!   duration, PFS group, encapsulation mode, authentication algorithm, key length), the ID
//!   payload with protocol and port (§4.6.2; DMVPN's Quick Mode IDs are GRE, protocol 47,
//!   between the two tunnel endpoints), and the status notifications of §4.6.3
//!   (RESPONDER-LIFETIME, REPLAY-STATUS, INITIAL-CONTACT).
//! - **NAT-T** (RFC 3947): NAT-D (§3.2) and NAT-OA (§5.2) under RFC 3947's payload numbers
//!   20/21 and the drafts' 130/131 and 15/16, the UDP-Encapsulated-Tunnel/Transport modes
//!   (§5.1, 3 and 4, and the drafts' 61443/61444 that Cisco IOS still sends), and the
//!   non-ESP marker of port 4500 (RFC 3948 §2.2, [`wire::strip_non_esp_marker`]).
//! - **DPD** (RFC 3706 §5): R-U-THERE / R-U-THERE-ACK with their sequence numbers.
//! - **Vendor IDs** ([`wire::recognise_vendor_id`]): RFC 3947 and the NAT-T drafts, DPD,
//!   XAUTH, Cisco Unity, FRAGMENTATION (IKE fragmentation, and its payload 132), Windows,
//!   strongSwan, racoon; by exact match or by prefix where the ID carries version or
//!   capability bytes.
//!
//! Views with `new_checked`, Reprs with `parse`/`buffer_len`/`emit` and `parse(emit(r)) == r`,
//! open code points. Parsers never panic, whatever the bytes.
//!
//! # Keys and encryption
//!
//! On the family's crypto provider, not a copy of it: [`IkeCryptoProvider`] (re-exported from
//! `dmvpn-ikev2`) with `esp`'s ciphers, HMACs and random source and IKEv2's Diffie-Hellman
//! groups, which IKEv1 numbers the same; keys for ESP come out as `esp`'s
//! [`SaKeys`](dmvpn_esp::SaKeys); [`Secret`] and [`Psk`] are IKEv2's.
//!
//! - **Algorithms** ([`algorithm`]): the phase 1 hash ([`algorithm::Hash`]: SHA-1, SHA2-256,
//!   -384, -512; its HMAC is the PRF, RFC 2409 §4), the phase 1 cipher (AES-CBC with 128-,
//!   192- or 256-bit keys, RFC 2409 Appendix A), the groups the provider implements under
//!   their common numbers (14–16, 19–21, 31), and a Quick Mode transform as an `esp` suite
//!   (RFC 2407 §4.4.4, §4.5: AES-CBC with HMAC-SHA-1 or HMAC-SHA2, AES-GCM-16, NULL with an
//!   HMAC).
//! - **Phase 1 keys** ([`keys::Phase1Keys`]) for pre-shared keys (RFC 2409 §5, §5.4): SKEYID,
//!   SKEYID_d, SKEYID_a, SKEYID_e, the encryption key expanded as Appendix B says when
//!   SKEYID_e is shorter than the cipher's key, HASH_I and HASH_R.
//! - **Phase 2** (§5.5, §5.7): Quick Mode's HASH(1), HASH(2), HASH(3), the Informational HASH,
//!   KEYMAT with and without PFS, and the keys of both ESP SAs with their SPIs
//!   ([`keys::QuickModeKeys`]).
//! - **IVs** ([`iv`], Appendix B): hash(g^xi | g^xr) for phase 1, hash(last phase 1 block |
//!   M-ID) for each phase 2 exchange, the chaining on each message's last ciphertext block,
//!   and [`iv::IvTracker`], the chains of one ISAKMP SA by message ID.
//! - **Encryption** ([`cipher::IsakmpCipher`]): message bodies encrypted and decrypted on the
//!   wire layer's [`wire::EncryptedBody`] and [`wire::parse_decrypted_chain`]; any padding is
//!   accepted, and what is sent suits readers that ignore padding (strongSwan, libreswan) and
//!   those that count it (racoon) alike (see [`cipher`]).
//!
//! Checked against vectors computed independently (Python's hashlib/hmac and `cryptography`,
//! `tests/vectors/gen.py`). As in the rest of the family, DES, 3DES and MD5 are refused with
//! the reason ([`Error::RejectedAlgorithm`]); the wire layer still parses their code points,
//! so that what a peer proposes can be shown and refused. Secrets are zeroized on drop and
//! never shown by `Debug`. Decryption never panics, whatever the bytes. There are no sockets,
//! clocks, threads or global randomness here.
//!
//! Not here yet: the Main Mode, Quick Mode and Informational exchanges and the IKE SA state
//! machine that will use all this.
//!
//! # Example
//!
//! The first Main Mode message a spoke sends for `crypto isakmp policy 10` with AES-256,
//! SHA-256, pre-shared keys and group 14, announcing NAT-T and DPD:
//!
//! ```
//! use dmvpn_ikev1::wire::{
//!     AuthMethod, Body, EncryptionAlgorithm, ExchangeType, Flags, GroupDescription,
//!     HashAlgorithm, IkeAttributes, KnownVendorId, Lifetime, Message, Payload, Proposal,
//!     ProtocolId, SaPayload, Transform, recognise_vendor_id,
//! };
//!
//! let policy = IkeAttributes {
//!     encryption: Some(EncryptionAlgorithm::AES_CBC),
//!     key_length: Some(256),
//!     hash: Some(HashAlgorithm::SHA2_256),
//!     group: Some(GroupDescription::MODP_2048),
//!     auth_method: Some(AuthMethod::PRE_SHARED_KEY),
//!     lifetimes: vec![Lifetime::seconds(86_400)],
//!     ..IkeAttributes::default()
//! };
//! let sa = SaPayload::ipsec(vec![Proposal {
//!     number: 1,
//!     protocol_id: ProtocolId::ISAKMP,
//!     spi: vec![],
//!     transforms: vec![Transform::ike(1, &policy)],
//! }]);
//! let mm1 = Message {
//!     cookie_i: 0x5ee1_5ee1_5ee1_5ee1,
//!     cookie_r: 0,
//!     minor_version: 0,
//!     exchange_type: ExchangeType::MAIN_MODE,
//!     flags: Flags::NONE,
//!     message_id: 0,
//!     body: Body::Clear(vec![
//!         Payload::Sa(sa),
//!         Payload::VendorId(KnownVendorId::NatTRfc3947.to_bytes()),
//!         Payload::VendorId(KnownVendorId::Dpd.to_bytes()),
//!     ]),
//! };
//! let bytes = mm1.to_vec()?;
//!
//! // The responder's side.
//! let got = Message::parse(&bytes)?;
//! let Some(Payload::Sa(sa)) = got.payloads().and_then(|p| p.first()) else {
//!     unreachable!()
//! };
//! assert_eq!(sa.proposals[0].transforms[0].ike_attributes()?, policy);
//! let vendors: Vec<_> = got
//!     .payloads()
//!     .unwrap_or_default()
//!     .iter()
//!     .filter_map(|p| match p {
//!         Payload::VendorId(v) => recognise_vendor_id(v).map(|m| m.id),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(vendors, [KnownVendorId::NatTRfc3947, KnownVendorId::Dpd]);
//! # Ok::<(), dmvpn_ikev1::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod algorithm;
pub mod cipher;
pub mod config;
mod endpoint;
mod error;
pub mod event;
pub mod iv;
pub mod keys;
mod sa;
pub mod wire;

pub use config::{Config, Dpd, EspTransform, KeyTable, Policy, Retransmit};
pub use dmvpn_ikev2::Secret;
pub use dmvpn_ikev2::auth::Psk;
pub use dmvpn_ikev2::crypto::IkeCryptoProvider;
pub use dmvpn_wire::Transmit;
pub use endpoint::Endpoint;
pub use error::Error;
pub use event::{
    ChildSaUp, Counters, DownReason, Event, IkeSaId, IsakmpSaStatus, IsakmpState, Phase1KeyLog,
    Phase1Suite,
};
