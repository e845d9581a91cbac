//! The `ring` backend (cargo feature `ring`): ring's AES-GCM and HMAC, RustCrypto's AES-CBC
//! (ring has no CBC).

use std::sync::Arc;

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

use super::{AeadAlgorithm, AeadKey, CryptoProvider, HmacAlgorithm, MacKey, SecureRandom};
use crate::{EncryptionAlgorithm, Error, IntegrityAlgorithm};

/// The ring provider with `random` as its random source.
pub fn provider(random: Arc<dyn SecureRandom>) -> CryptoProvider {
    CryptoProvider {
        name: "ring",
        aeads: AEADS,
        ciphers: super::rustcrypto::CIPHERS,
        hmacs: HMACS,
        random,
    }
}

/// ring's AES-GCM implementations.
pub static AEADS: &[&dyn AeadAlgorithm] = &[
    &Gcm(EncryptionAlgorithm::AesGcm128),
    &Gcm(EncryptionAlgorithm::AesGcm256),
];
/// ring's HMAC implementations.
pub static HMACS: &[&dyn HmacAlgorithm] = &[
    &Hmac(IntegrityAlgorithm::HmacSha1_96),
    &Hmac(IntegrityAlgorithm::HmacSha256_128),
    &Hmac(IntegrityAlgorithm::HmacSha384_192),
    &Hmac(IntegrityAlgorithm::HmacSha512_256),
];

#[derive(Debug)]
struct Gcm(EncryptionAlgorithm);

struct GcmKey(LessSafeKey);

impl AeadAlgorithm for Gcm {
    fn algorithm(&self) -> EncryptionAlgorithm {
        self.0
    }

    fn new_key(&self, key: &[u8]) -> Result<Box<dyn AeadKey>, Error> {
        let alg = match self.0 {
            EncryptionAlgorithm::AesGcm128 => &AES_128_GCM,
            EncryptionAlgorithm::AesGcm256 => &AES_256_GCM,
            _ => return Err(Error::Unsupported(self.0.name())),
        };
        let k = UnboundKey::new(alg, key).map_err(|_| Error::KeyLength {
            what: "AES-GCM",
            expected: self.0.key_len(),
            got: key.len(),
        })?;
        Ok(Box::new(GcmKey(LessSafeKey::new(k))))
    }
}

impl AeadKey for GcmKey {
    fn seal(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8; 16],
    ) -> Result<(), Error> {
        let t = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                in_out,
            )
            .map_err(|_| Error::Crypto("AES-GCM seal failed"))?;
        tag.copy_from_slice(t.as_ref());
        Ok(())
    }

    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), Error> {
        self.0
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                Tag::from(*tag),
                in_out,
                0..,
            )
            .map(|_| ())
            .map_err(|_| Error::Integrity)
    }
}

#[derive(Debug)]
struct Hmac(IntegrityAlgorithm);

struct HmacKey(ring::hmac::Key);

impl HmacAlgorithm for Hmac {
    fn algorithm(&self) -> IntegrityAlgorithm {
        self.0
    }

    fn new_key(&self, key: &[u8]) -> Result<Box<dyn MacKey>, Error> {
        let alg = match self.0 {
            IntegrityAlgorithm::HmacSha1_96 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            IntegrityAlgorithm::HmacSha256_128 => ring::hmac::HMAC_SHA256,
            IntegrityAlgorithm::HmacSha384_192 => ring::hmac::HMAC_SHA384,
            IntegrityAlgorithm::HmacSha512_256 => ring::hmac::HMAC_SHA512,
            IntegrityAlgorithm::None => return Err(Error::Unsupported("integrity none")),
        };
        Ok(Box::new(HmacKey(ring::hmac::Key::new(alg, key))))
    }
}

impl MacKey for HmacKey {
    fn output_len(&self) -> usize {
        self.0.algorithm().digest_algorithm().output_len()
    }

    fn sign(&self, parts: &[&[u8]], out: &mut [u8]) -> Result<(), Error> {
        let mut ctx = ring::hmac::Context::with_key(&self.0);
        for p in parts {
            ctx.update(p);
        }
        let tag = ctx.sign();
        let src = tag
            .as_ref()
            .get(..out.len())
            .ok_or(Error::Crypto("HMAC output requested too long"))?;
        out.copy_from_slice(src);
        Ok(())
    }
}
