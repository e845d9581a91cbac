//! Key derivation and the HASH payloads (RFC 2409 §5, §5.4, §5.5, §5.7 and Appendix B) for
//! pre-shared-key authentication, on the shared crypto provider.
//!
//! The PRF is the HMAC of the negotiated hash ([`enum@Hash`]), at its full output length, from the
//! `esp` provider that `dmvpn-ikev2`'s [`IkeCryptoProvider`] carries.
//!
//! Phase 1 (§5, §5.4):
//!
//! ```text
//! SKEYID   = prf(pre-shared-key, Ni_b | Nr_b)
//! SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
//! SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
//! SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
//! HASH_I   = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
//! HASH_R   = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
//! ```
//!
//! The encryption key is SKEYID_e truncated to the cipher's key length; when SKEYID_e is
//! shorter (SHA-1's 20 bytes for AES-192 or AES-256) it is Ka = K1 | K2 | …, K1 =
//! prf(SKEYID_e, 0), K(n+1) = prf(SKEYID_e, Kn), truncated (Appendix B). The first IV is
//! hash(g^xi | g^xr) ([`crate::iv`]).
//!
//! Phase 2 (§5.5, §5.7), with `after HASH` the payload chain that follows the HASH payload,
//! their generic headers included and padding excluded:
//!
//! ```text
//! HASH(1) = prf(SKEYID_a, M-ID | after HASH)                  Quick Mode, initiator
//! HASH(2) = prf(SKEYID_a, M-ID | Ni_b | after HASH)           Quick Mode, responder
//! HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)             Quick Mode, initiator
//! HASH(1) = prf(SKEYID_a, M-ID | N/D)                          Informational
//! KEYMAT  = K1 | K2 | …, K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
//!           K(n+1) = prf(SKEYID_d, Kn | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
//! ```
//!
//! where Ni_b and Nr_b of phase 2 are the Quick Mode nonces, M-ID is the message ID in
//! network byte order, and SPI is the SPI of the SA the keys are for: the one its receiver
//! chose, so that the initiator's inbound SA and the responder's outbound SA, which share an
//! SPI, get the same keys. An ESP SA takes its encryption key (with the 4-byte salt for
//! AES-GCM, RFC 4106 §8.1) first and its integrity key after it, as `esp` and strongSwan
//! split KEYMAT.
//!
//! Every secret here ([`Secret`]: SKEYID and its children, the encryption key, KEYMAT) is
//! zeroized on drop and redacted in `Debug`; the HMAC keys built from them live in the
//! provider's key objects, which zeroize theirs.
//!
//! ```
//! use std::sync::Arc;
//! use dmvpn_esp::crypto::ChaChaRandom;
//! use dmvpn_esp::{EncryptionAlgorithm, Suite};
//! use dmvpn_ikev1::algorithm::{Hash, start_key_exchange};
//! use dmvpn_ikev1::keys::{Phase1Inputs, Phase1Keys};
//! use dmvpn_ikev1::wire::GroupDescription;
//! use dmvpn_ikev1::{IkeCryptoProvider, Psk};
//!
//! let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([1; 32])));
//! let (ki, kr) = (
//!     start_key_exchange(&provider, GroupDescription::ECP_256)?,
//!     start_key_exchange(&provider, GroupDescription::ECP_256)?,
//! );
//! let g_xy = ki.complete(kr.public_value()).map_err(dmvpn_ikev1::Error::KeyExchange)?;
//! let inputs = Phase1Inputs {
//!     ni_b: &[0x11; 16],
//!     nr_b: &[0x22; 16],
//!     g_xi: ki.public_value(),
//!     g_xr: kr.public_value(),
//!     g_xy: g_xy.as_bytes(),
//!     cky_i: 0x0102_0304_0506_0708,
//!     cky_r: 0x1112_1314_1516_1718,
//! };
//! let psk = Psk::from("cisco123");
//! let aes256 = EncryptionAlgorithm::AesCbc256;
//! let keys = Phase1Keys::derive_psk(&provider, Hash::Sha256, aes256, &psk, &inputs)?;
//! assert_eq!(keys.encryption_key().len(), 32);
//! // The responder checks HASH_I (SAi_b and IDii_b: the payload bodies as sent).
//! let hash_i = keys.hash_i(b"SAi_b", b"IDii_b")?;
//! keys.verify_hash_i(b"SAi_b", b"IDii_b", &hash_i)?;
//! // Quick Mode's ESP keys, from the initiator's point of view.
//! let suite = Suite::parse("esp-aes 256 esp-sha256-hmac")?;
//! let qm = keys.esp_keys(&suite, 0x1000_0001, 0x2000_0002, None, &[0x33; 16], &[0x44; 16])?;
//! assert_eq!((qm.inbound.spi, qm.outbound.spi), (0x1000_0001, 0x2000_0002));
//! assert_eq!(qm.outbound.keys.encryption().len(), 32);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use dmvpn_esp::crypto::MacKey;
use dmvpn_esp::{EncryptionAlgorithm, SaKeys, Suite};
use dmvpn_ikev2::auth::Psk;
use dmvpn_ikev2::crypto::IkeCryptoProvider;

use crate::algorithm::Hash;
use crate::cipher::IsakmpCipher;
use crate::iv::{Iv, phase1_iv};
use crate::wire::{GenericPayload, PayloadType, ProtocolId};
use crate::{Error, Secret};

/// The HMAC of `hash` keyed with `key`, from the provider.
fn prf_key(provider: &IkeCryptoProvider, hash: Hash, key: &[u8]) -> Result<Box<dyn MacKey>, Error> {
    Ok(provider.esp.hmac(hash.hmac())?.new_key(key)?)
}

/// prf(key, the concatenation of `parts`) at full length.
fn prf(key: &dyn MacKey, parts: &[&[u8]]) -> Result<Secret, Error> {
    let mut out = Secret::zeroed(key.output_len());
    key.sign(parts, out.as_mut_bytes())?;
    Ok(out)
}

/// The same, for outputs that go on the wire (HASH payloads).
fn prf_public(key: &dyn MacKey, parts: &[&[u8]]) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; key.output_len()];
    key.sign(parts, &mut out)?;
    Ok(out)
}

/// K1 | K2 | … truncated to `len`: K1 = prf(key, first | seed), K(n+1) = prf(key, Kn | seed)
/// (RFC 2409 Appendix B and §5.5; `first` is the lone 0 octet of Appendix B's K1, or nothing
/// for KEYMAT).
fn expand(key: &dyn MacKey, first: &[u8], seed: &[&[u8]], len: usize) -> Result<Secret, Error> {
    let n = key.output_len();
    if n == 0 || len > n.saturating_mul(255) {
        return Err(Error::TooLong {
            what: "expanded key material",
            len,
        });
    }
    let mut out = Secret::zeroed(len);
    let mut k = Secret::zeroed(0);
    for chunk in out.as_mut_bytes().chunks_mut(n) {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(seed.len() + 1);
        parts.push(if k.is_empty() { first } else { k.as_bytes() });
        parts.extend_from_slice(seed);
        let next = prf(key, &parts)?;
        let src = next
            .as_bytes()
            .get(..chunk.len())
            .ok_or(Error::Malformed("PRF output shorter than its length"))?;
        chunk.copy_from_slice(src);
        k = next;
    }
    Ok(out)
}

/// Compares a computed HASH with a received one in constant time.
fn verify(what: &'static str, computed: &[u8], received: &[u8]) -> Result<(), Error> {
    if bool::from(subtle::ConstantTimeEq::ct_eq(computed, received)) {
        Ok(())
    } else {
        Err(Error::HashMismatch(what))
    }
}

/// SKEYID for pre-shared-key authentication: prf(pre-shared-key, Ni_b | Nr_b) (§5.4), Ni_b and
/// Nr_b the bodies of the phase 1 Nonce payloads.
pub fn skeyid_psk(
    provider: &IkeCryptoProvider,
    hash: Hash,
    psk: &Psk,
    ni_b: &[u8],
    nr_b: &[u8],
) -> Result<Secret, Error> {
    prf(&*prf_key(provider, hash, psk.as_bytes())?, &[ni_b, nr_b])
}

/// What phase 1 derives its keys from, as exchanged in Main Mode messages 1–4.
#[derive(Clone, Copy)]
pub struct Phase1Inputs<'a> {
    /// The body of the initiator's Nonce payload.
    pub ni_b: &'a [u8],
    /// The body of the responder's Nonce payload.
    pub nr_b: &'a [u8],
    /// The initiator's Diffie-Hellman public value (its KE payload's body).
    pub g_xi: &'a [u8],
    /// The responder's Diffie-Hellman public value.
    pub g_xr: &'a [u8],
    /// The shared secret g^xy, as the key exchange computes it (MODP: padded to the modulus
    /// length; ECP: the x coordinate, RFC 5903 §9).
    pub g_xy: &'a [u8],
    /// The initiator's cookie (CKY-I).
    pub cky_i: u64,
    /// The responder's cookie (CKY-R).
    pub cky_r: u64,
}

impl fmt::Debug for Phase1Inputs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phase1Inputs")
            .field("ni_b", &self.ni_b.len())
            .field("nr_b", &self.nr_b.len())
            .field("g_xi", &self.g_xi.len())
            .field("g_xr", &self.g_xr.len())
            .field("g_xy", &"<redacted>")
            .field("cky_i", &format_args!("{:016x}", self.cky_i))
            .field("cky_r", &format_args!("{:016x}", self.cky_r))
            .finish()
    }
}

/// The keys of an ISAKMP SA (phase 1): SKEYID and its three children, the phase 1 encryption
/// key, the first IV, and what HASH_I / HASH_R cover besides the payload bodies.
///
/// Every key is zeroized on drop; `Debug` shows only the algorithms.
pub struct Phase1Keys {
    hash: Hash,
    cipher: EncryptionAlgorithm,
    skeyid: Secret,
    skeyid_d: Secret,
    skeyid_a: Secret,
    skeyid_e: Secret,
    encryption_key: Secret,
    initial_iv: Iv,
    g_xi: Vec<u8>,
    g_xr: Vec<u8>,
    cky_i: u64,
    cky_r: u64,
    prf_skeyid: Box<dyn MacKey>,
    prf_d: Box<dyn MacKey>,
    prf_a: Box<dyn MacKey>,
}

impl fmt::Debug for Phase1Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Phase1Keys({}, {}, cookies {:016x}/{:016x}, keys: <redacted>)",
            self.hash, self.cipher, self.cky_i, self.cky_r
        )
    }
}

impl Phase1Keys {
    /// Derives the keys of a phase 1 authenticated with a pre-shared key: SKEYID from the key
    /// and the nonces ([`skeyid_psk`]), then [`Phase1Keys::from_skeyid`].
    pub fn derive_psk(
        provider: &IkeCryptoProvider,
        hash: Hash,
        cipher: EncryptionAlgorithm,
        psk: &Psk,
        inputs: &Phase1Inputs<'_>,
    ) -> Result<Self, Error> {
        let skeyid = skeyid_psk(provider, hash, psk, inputs.ni_b, inputs.nr_b)?;
        Self::from_skeyid(provider, hash, cipher, skeyid, inputs)
    }

    /// Derives SKEYID_d, SKEYID_a, SKEYID_e, the encryption key and the first IV from SKEYID
    /// (however the authentication method made it). `cipher` must be a CBC cipher
    /// ([`crate::algorithm::phase1_cipher`]).
    pub fn from_skeyid(
        provider: &IkeCryptoProvider,
        hash: Hash,
        cipher: EncryptionAlgorithm,
        skeyid: Secret,
        inputs: &Phase1Inputs<'_>,
    ) -> Result<Self, Error> {
        if crate::algorithm::phase1_cipher_attributes(cipher).is_none() {
            return Err(Error::UnsupportedAlgorithm(format!(
                "{cipher} as the phase 1 cipher"
            )));
        }
        let (cky_i, cky_r) = (inputs.cky_i.to_be_bytes(), inputs.cky_r.to_be_bytes());
        let g_xy = inputs.g_xy;
        let prf_skeyid = prf_key(provider, hash, skeyid.as_bytes())?;
        let skeyid_d = prf(&*prf_skeyid, &[g_xy, &cky_i, &cky_r, &[0]])?;
        let skeyid_a = prf(
            &*prf_skeyid,
            &[skeyid_d.as_bytes(), g_xy, &cky_i, &cky_r, &[1]],
        )?;
        let skeyid_e = prf(
            &*prf_skeyid,
            &[skeyid_a.as_bytes(), g_xy, &cky_i, &cky_r, &[2]],
        )?;
        let key_len = cipher.key_len();
        let encryption_key = match skeyid_e.as_bytes().get(..key_len) {
            Some(k) => Secret::from_slice(k),
            None => expand(
                &*prf_key(provider, hash, skeyid_e.as_bytes())?,
                &[0],
                &[],
                key_len,
            )?,
        };
        Ok(Phase1Keys {
            hash,
            cipher,
            prf_d: prf_key(provider, hash, skeyid_d.as_bytes())?,
            prf_a: prf_key(provider, hash, skeyid_a.as_bytes())?,
            prf_skeyid,
            skeyid,
            skeyid_d,
            skeyid_a,
            skeyid_e,
            encryption_key,
            initial_iv: phase1_iv(hash, inputs.g_xi, inputs.g_xr),
            g_xi: inputs.g_xi.to_vec(),
            g_xr: inputs.g_xr.to_vec(),
            cky_i: inputs.cky_i,
            cky_r: inputs.cky_r,
        })
    }

    /// The negotiated hash.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The phase 1 cipher.
    pub fn cipher_algorithm(&self) -> EncryptionAlgorithm {
        self.cipher
    }

    /// The initiator's and responder's cookies.
    pub fn cookies(&self) -> (u64, u64) {
        (self.cky_i, self.cky_r)
    }

    /// SKEYID.
    pub fn skeyid(&self) -> &Secret {
        &self.skeyid
    }

    /// SKEYID_d: derives the phase 2 KEYMAT.
    pub fn skeyid_d(&self) -> &Secret {
        &self.skeyid_d
    }

    /// SKEYID_a: keys the phase 2 HASH payloads.
    pub fn skeyid_a(&self) -> &Secret {
        &self.skeyid_a
    }

    /// SKEYID_e: the source of the encryption key.
    pub fn skeyid_e(&self) -> &Secret {
        &self.skeyid_e
    }

    /// The phase 1 encryption key (SKEYID_e, expanded if needed, truncated to the cipher's
    /// key length). It is what Wireshark's IKEv1 decryption table takes with the initiator's
    /// cookie.
    pub fn encryption_key(&self) -> &Secret {
        &self.encryption_key
    }

    /// The IV of the first encrypted phase 1 message: hash(g^xi | g^xr), truncated.
    pub fn initial_iv(&self) -> Iv {
        self.initial_iv
    }

    /// The cipher of this SA's messages, keyed with [`Phase1Keys::encryption_key`].
    pub fn cipher(&self, provider: &IkeCryptoProvider) -> Result<IsakmpCipher, Error> {
        IsakmpCipher::new(provider, self.cipher, self.encryption_key.as_bytes())
    }

    /// The IV tracker of this SA, starting from [`Phase1Keys::initial_iv`].
    pub fn iv_tracker(&self) -> crate::iv::IvTracker {
        crate::iv::IvTracker::new(self.hash, self.initial_iv)
    }

    /// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) (§5): `sai_b` is the
    /// body of the initiator's SA payload as it sent it (MM1, without the generic header),
    /// `idii_b` the body of its ID payload.
    pub fn hash_i(&self, sai_b: &[u8], idii_b: &[u8]) -> Result<Vec<u8>, Error> {
        let (ci, cr) = (self.cky_i.to_be_bytes(), self.cky_r.to_be_bytes());
        prf_public(
            &*self.prf_skeyid,
            &[&self.g_xi, &self.g_xr, &ci, &cr, sai_b, idii_b],
        )
    }

    /// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b) (§5): `sai_b` is the
    /// body of the initiator's SA payload (the proposal, not the responder's answer),
    /// `idir_b` the body of the responder's ID payload.
    pub fn hash_r(&self, sai_b: &[u8], idir_b: &[u8]) -> Result<Vec<u8>, Error> {
        let (ci, cr) = (self.cky_i.to_be_bytes(), self.cky_r.to_be_bytes());
        prf_public(
            &*self.prf_skeyid,
            &[&self.g_xr, &self.g_xi, &cr, &ci, sai_b, idir_b],
        )
    }

    /// Checks a received HASH_I in constant time ([`Error::HashMismatch`] if it differs).
    pub fn verify_hash_i(&self, sai_b: &[u8], idii_b: &[u8], received: &[u8]) -> Result<(), Error> {
        verify("HASH_I", &self.hash_i(sai_b, idii_b)?, received)
    }

    /// Checks a received HASH_R in constant time.
    pub fn verify_hash_r(&self, sai_b: &[u8], idir_b: &[u8], received: &[u8]) -> Result<(), Error> {
        verify("HASH_R", &self.hash_r(sai_b, idir_b)?, received)
    }

    /// Quick Mode's HASH(1) = prf(SKEYID_a, M-ID | after HASH) (§5.5): `after_hash` is the
    /// payload chain after the HASH payload (SA, Ni, then KE with PFS, IDci and IDcr when
    /// sent, …), generic headers included, padding excluded ([`split_hash`] on a received
    /// message, [`chain_to_vec`](crate::wire::chain_to_vec) of the other payloads when
    /// sending).
    pub fn quick_mode_hash1(&self, message_id: u32, after_hash: &[u8]) -> Result<Vec<u8>, Error> {
        prf_public(&*self.prf_a, &[&message_id.to_be_bytes(), after_hash])
    }

    /// Quick Mode's HASH(2) = prf(SKEYID_a, M-ID | Ni_b | after HASH) (§5.5): `ni_b` is the
    /// body of the initiator's Quick Mode Nonce payload.
    pub fn quick_mode_hash2(
        &self,
        message_id: u32,
        ni_b: &[u8],
        after_hash: &[u8],
    ) -> Result<Vec<u8>, Error> {
        prf_public(&*self.prf_a, &[&message_id.to_be_bytes(), ni_b, after_hash])
    }

    /// Quick Mode's HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) (§5.5), with the Quick
    /// Mode nonces.
    pub fn quick_mode_hash3(
        &self,
        message_id: u32,
        ni_b: &[u8],
        nr_b: &[u8],
    ) -> Result<Vec<u8>, Error> {
        prf_public(&*self.prf_a, &[&[0], &message_id.to_be_bytes(), ni_b, nr_b])
    }

    /// The HASH of an Informational exchange protected by this SA: prf(SKEYID_a, M-ID | N/D)
    /// (§5.7), `after_hash` the Notification or Delete payload (and any other payloads after
    /// the HASH payload), generic headers included. Cisco's DPD R-U-THERE and strongSwan's
    /// Transaction exchanges are hashed the same way.
    pub fn informational_hash(&self, message_id: u32, after_hash: &[u8]) -> Result<Vec<u8>, Error> {
        self.quick_mode_hash1(message_id, after_hash)
    }

    /// Checks a received HASH(1) (Quick Mode or Informational) in constant time.
    pub fn verify_hash1(
        &self,
        message_id: u32,
        after_hash: &[u8],
        received: &[u8],
    ) -> Result<(), Error> {
        verify(
            "HASH(1)",
            &self.quick_mode_hash1(message_id, after_hash)?,
            received,
        )
    }

    /// Checks a received HASH(2) in constant time.
    pub fn verify_hash2(
        &self,
        message_id: u32,
        ni_b: &[u8],
        after_hash: &[u8],
        received: &[u8],
    ) -> Result<(), Error> {
        verify(
            "HASH(2)",
            &self.quick_mode_hash2(message_id, ni_b, after_hash)?,
            received,
        )
    }

    /// Checks a received HASH(3) in constant time.
    pub fn verify_hash3(
        &self,
        message_id: u32,
        ni_b: &[u8],
        nr_b: &[u8],
        received: &[u8],
    ) -> Result<(), Error> {
        verify(
            "HASH(3)",
            &self.quick_mode_hash3(message_id, ni_b, nr_b)?,
            received,
        )
    }

    /// `len` bytes of KEYMAT for one SA (§5.5): K1 | K2 | … with K1 = prf(SKEYID_d,
    /// [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b) and K(n+1) = prf(SKEYID_d, Kn | …).
    /// `spi` is the SPI of the SA as its receiver chose it (4 bytes for ESP and AH),
    /// `pfs_g_xy` the Quick Mode's Diffie-Hellman shared secret with PFS, `ni_b` and `nr_b` the
    /// Quick Mode nonces.
    pub fn keymat(
        &self,
        protocol: ProtocolId,
        spi: &[u8],
        pfs_g_xy: Option<&[u8]>,
        ni_b: &[u8],
        nr_b: &[u8],
        len: usize,
    ) -> Result<Secret, Error> {
        let proto = [protocol.0];
        let mut seed: Vec<&[u8]> = Vec::with_capacity(5);
        if let Some(g) = pfs_g_xy {
            seed.push(g);
        }
        seed.extend_from_slice(&[&proto, spi, ni_b, nr_b]);
        expand(&*self.prf_d, &[], &seed, len)
    }

    /// The keys of the two ESP SAs of a Quick Mode, in the shape `esp` takes: the inbound SA
    /// (`inbound_spi`, the SPI this side put in its SA payload) and the outbound SA
    /// (`outbound_spi`, the peer's), each from its own KEYMAT split into the encryption key
    /// (with the AES-GCM salt) and the integrity key. Either side calls it with its own SPIs;
    /// `ni_b` and `nr_b` are always the initiator's and the responder's Quick Mode nonces.
    pub fn esp_keys(
        &self,
        suite: &Suite,
        inbound_spi: u32,
        outbound_spi: u32,
        pfs_g_xy: Option<&[u8]>,
        ni_b: &[u8],
        nr_b: &[u8],
    ) -> Result<QuickModeKeys, Error> {
        let len = suite.encryption.keymat_len() + suite.integrity.key_len();
        let one = |spi: u32| -> Result<IpsecSaKeys, Error> {
            let km = self.keymat(
                ProtocolId::ESP,
                &spi.to_be_bytes(),
                pfs_g_xy,
                ni_b,
                nr_b,
                len,
            )?;
            let (keys, _) = SaKeys::from_keymat(suite, km.as_bytes())?;
            Ok(IpsecSaKeys { spi, keys })
        };
        Ok(QuickModeKeys {
            inbound: one(inbound_spi)?,
            outbound: one(outbound_spi)?,
        })
    }
}

/// The keys of one IPsec SA and its SPI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpsecSaKeys {
    /// The SPI (chosen by the SA's receiver).
    pub spi: u32,
    /// The encryption key (with the salt for AES-GCM) and the integrity key, zeroized on drop.
    pub keys: SaKeys,
}

/// The two SAs a Quick Mode creates, from one side's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickModeKeys {
    /// The SA this side receives on.
    pub inbound: IpsecSaKeys,
    /// The SA this side sends on.
    pub outbound: IpsecSaKeys,
}

/// Splits a decrypted payload chain (padding excluded) that must begin with a HASH payload
/// (Quick Mode, Informational, RFC 2409 §5.5 and §5.7) into the HASH payload's body and the
/// bytes after it, which the HASH covers.
///
/// ```
/// use dmvpn_ikev1::keys::split_hash;
/// use dmvpn_ikev1::wire::{Payload, PayloadType, chain_to_vec};
///
/// let chain = chain_to_vec(&[Payload::Hash(vec![7; 20]), Payload::Nonce(vec![1; 16])])?;
/// let (hash, rest) = split_hash(PayloadType::HASH, &chain)?;
/// assert_eq!(hash, [7; 20]);
/// assert_eq!(rest, chain_to_vec(&[Payload::Nonce(vec![1; 16])])?);
/// # Ok::<(), dmvpn_ikev1::Error>(())
/// ```
pub fn split_hash(first: PayloadType, chain: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    if first != PayloadType::HASH {
        return Err(Error::MissingHash(first));
    }
    let p = GenericPayload::new_checked(chain)?;
    let len = usize::from(p.payload_length());
    let rest = chain.get(len..).unwrap_or(&[]);
    let body = chain
        .get(crate::wire::GENERIC_HEADER_LEN..len)
        .unwrap_or(&[]);
    Ok((body, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn provider() -> IkeCryptoProvider {
        IkeCryptoProvider::rustcrypto(Arc::new(dmvpn_esp::crypto::ChaChaRandom::from_seed(
            [3; 32],
        )))
    }

    fn inputs() -> Phase1Inputs<'static> {
        Phase1Inputs {
            ni_b: &[1; 16],
            nr_b: &[2; 16],
            g_xi: &[3; 64],
            g_xr: &[4; 64],
            g_xy: &[5; 32],
            cky_i: 6,
            cky_r: 7,
        }
    }

    #[test]
    fn appendix_b_expansion_only_when_skeyid_e_is_short() {
        let p = provider();
        let psk = Psk::from("k");
        for (hash, cipher, expanded) in [
            (Hash::Sha1, EncryptionAlgorithm::AesCbc128, false),
            (Hash::Sha1, EncryptionAlgorithm::AesCbc192, true),
            (Hash::Sha1, EncryptionAlgorithm::AesCbc256, true),
            (Hash::Sha256, EncryptionAlgorithm::AesCbc256, false),
            (Hash::Sha512, EncryptionAlgorithm::AesCbc192, false),
        ] {
            let k = Phase1Keys::derive_psk(&p, hash, cipher, &psk, &inputs()).unwrap();
            let e = k.skeyid_e().as_bytes();
            let key = k.encryption_key().as_bytes();
            assert_eq!(key.len(), cipher.key_len());
            if expanded {
                let prf_e = prf_key(&p, hash, e).unwrap();
                let k1 = prf(&*prf_e, &[&[0]]).unwrap();
                let k2 = prf(&*prf_e, &[k1.as_bytes()]).unwrap();
                let ka = [k1.as_bytes(), k2.as_bytes()].concat();
                assert_eq!(key, &ka[..key.len()]);
            } else {
                assert_eq!(key, &e[..key.len()]);
            }
        }
    }

    #[test]
    fn hash_r_mirrors_hash_i() {
        let p = provider();
        let k = Phase1Keys::derive_psk(
            &p,
            Hash::Sha256,
            EncryptionAlgorithm::AesCbc128,
            &Psk::from("k"),
            &inputs(),
        )
        .unwrap();
        assert_ne!(
            k.hash_i(b"sa", b"id").unwrap(),
            k.hash_r(b"sa", b"id").unwrap()
        );
        let h = k.hash_r(b"sa", b"id").unwrap();
        k.verify_hash_r(b"sa", b"id", &h).unwrap();
        assert_eq!(
            k.verify_hash_i(b"sa", b"id", &h),
            Err(Error::HashMismatch("HASH_I"))
        );
        assert!(k.verify_hash_r(b"sa", b"id", &h[..10]).is_err());
        // Keys never show in Debug.
        let shown = format!("{k:?} {:?} {:?}", inputs(), k.skeyid());
        assert!(!shown.contains("0505"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn gcm_is_no_phase1_cipher() {
        let r = Phase1Keys::derive_psk(
            &provider(),
            Hash::Sha256,
            EncryptionAlgorithm::AesGcm128,
            &Psk::from("k"),
            &inputs(),
        );
        assert!(matches!(r, Err(Error::UnsupportedAlgorithm(_))));
    }

    #[test]
    fn keymat_is_shared_by_spi_and_split_encryption_first() {
        let p = provider();
        let k = Phase1Keys::derive_psk(
            &p,
            Hash::Sha1,
            EncryptionAlgorithm::AesCbc128,
            &Psk::from("k"),
            &inputs(),
        )
        .unwrap();
        let suite = Suite::parse("esp-aes 256 esp-sha256-hmac").unwrap();
        let (ni, nr) = ([8u8; 16], [9u8; 16]);
        let initiator = k.esp_keys(&suite, 0x11, 0x22, None, &ni, &nr).unwrap();
        let responder = k.esp_keys(&suite, 0x22, 0x11, None, &ni, &nr).unwrap();
        assert_eq!(initiator.inbound, responder.outbound);
        assert_eq!(initiator.outbound, responder.inbound);
        assert_ne!(initiator.inbound.keys, initiator.outbound.keys);
        let km = k
            .keymat(ProtocolId::ESP, &0x22u32.to_be_bytes(), None, &ni, &nr, 64)
            .unwrap();
        assert_eq!(initiator.outbound.keys.encryption(), &km.as_bytes()[..32]);
        assert_eq!(initiator.outbound.keys.integrity(), &km.as_bytes()[32..]);
        // PFS changes everything.
        let pfs = k
            .esp_keys(&suite, 0x11, 0x22, Some(&[7; 32]), &ni, &nr)
            .unwrap();
        assert_ne!(pfs.inbound.keys, initiator.inbound.keys);
        assert!(
            k.keymat(ProtocolId::ESP, &[0; 4], None, &ni, &nr, 20 * 256)
                .is_err()
        );
    }

    #[test]
    fn split_hash_needs_a_hash_first() {
        assert_eq!(
            split_hash(PayloadType::NONCE, &[0, 0, 0, 4]),
            Err(Error::MissingHash(PayloadType::NONCE))
        );
        assert!(split_hash(PayloadType::HASH, &[0, 0, 0]).is_err());
        assert!(split_hash(PayloadType::HASH, &[0, 0, 0, 9]).is_err());
        assert_eq!(
            split_hash(PayloadType::HASH, &[0, 0, 0, 5, 1]).unwrap(),
            (&[1u8][..], &[][..])
        );
    }
}
