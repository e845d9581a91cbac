//! The default backend: RustCrypto's `aes-gcm`, `aes` + `cbc`, `hmac` + `sha1`/`sha2`.

use std::sync::Arc;

use aes::{Aes128Dec, Aes128Enc, Aes192Dec, Aes192Enc, Aes256Dec, Aes256Enc};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use cbc::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit,
};
use hmac::Mac as _;
use hmac::digest::block_api::EagerHash;

use super::{
    AeadAlgorithm, AeadKey, CbcCipher, CbcKey, CryptoProvider, HmacAlgorithm, MacKey, SecureRandom,
};
use crate::{EncryptionAlgorithm, Error, IntegrityAlgorithm};

/// The RustCrypto provider with `random` as its random source.
pub fn provider(random: Arc<dyn SecureRandom>) -> CryptoProvider {
    CryptoProvider {
        name: "rustcrypto",
        aeads: AEADS,
        ciphers: CIPHERS,
        hmacs: HMACS,
        random,
    }
}

/// RustCrypto's AES-GCM implementations.
pub static AEADS: &[&dyn AeadAlgorithm] = &[
    &Gcm(EncryptionAlgorithm::AesGcm128),
    &Gcm(EncryptionAlgorithm::AesGcm256),
];
/// RustCrypto's AES-CBC implementations.
pub static CIPHERS: &[&dyn CbcCipher] = &[
    &Cbc(EncryptionAlgorithm::AesCbc128),
    &Cbc(EncryptionAlgorithm::AesCbc192),
    &Cbc(EncryptionAlgorithm::AesCbc256),
];
/// RustCrypto's HMAC implementations.
pub static HMACS: &[&dyn HmacAlgorithm] = &[
    &Hmac(IntegrityAlgorithm::HmacSha1_96),
    &Hmac(IntegrityAlgorithm::HmacSha256_128),
    &Hmac(IntegrityAlgorithm::HmacSha384_192),
    &Hmac(IntegrityAlgorithm::HmacSha512_256),
];

fn key_len_check(what: &'static str, expected: usize, key: &[u8]) -> Result<(), Error> {
    if key.len() == expected {
        Ok(())
    } else {
        Err(Error::KeyLength {
            what,
            expected,
            got: key.len(),
        })
    }
}

#[derive(Debug)]
struct Gcm(EncryptionAlgorithm);

struct GcmKey<C>(C);

impl AeadAlgorithm for Gcm {
    fn algorithm(&self) -> EncryptionAlgorithm {
        self.0
    }

    fn new_key(&self, key: &[u8]) -> Result<Box<dyn AeadKey>, Error> {
        key_len_check("AES-GCM", self.0.key_len(), key)?;
        let bad = |_| Error::KeyLength {
            what: "AES-GCM",
            expected: self.0.key_len(),
            got: key.len(),
        };
        match self.0 {
            EncryptionAlgorithm::AesGcm128 => Ok(Box::new(GcmKey(
                Aes128Gcm::new_from_slice(key).map_err(bad)?,
            ))),
            EncryptionAlgorithm::AesGcm256 => Ok(Box::new(GcmKey(
                Aes256Gcm::new_from_slice(key).map_err(bad)?,
            ))),
            _ => Err(Error::Unsupported(self.0.name())),
        }
    }
}

impl<C> AeadKey for GcmKey<C>
where
    C: AeadInOut<NonceSize = aes_gcm::aead::consts::U12, TagSize = aes_gcm::aead::consts::U16>
        + Send
        + Sync,
{
    fn seal(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8; 16],
    ) -> Result<(), Error> {
        let t = self
            .0
            .encrypt_inout_detached(&Array::from(*nonce), aad, in_out.into())
            .map_err(|_| Error::Crypto("AES-GCM seal failed"))?;
        *tag = t.into();
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
            .decrypt_inout_detached(&Array::from(*nonce), aad, in_out.into(), &Array::from(*tag))
            .map_err(|_| Error::Integrity)
    }
}

#[derive(Debug)]
struct Cbc(EncryptionAlgorithm);

struct CbcKeyImpl<E, D> {
    enc: E,
    dec: D,
}

impl CbcCipher for Cbc {
    fn algorithm(&self) -> EncryptionAlgorithm {
        self.0
    }

    fn new_key(&self, key: &[u8]) -> Result<Box<dyn CbcKey>, Error> {
        key_len_check("AES-CBC", self.0.key_len(), key)?;
        let bad = |_| Error::KeyLength {
            what: "AES-CBC",
            expected: self.0.key_len(),
            got: key.len(),
        };
        match self.0 {
            EncryptionAlgorithm::AesCbc128 => Ok(Box::new(CbcKeyImpl {
                enc: Aes128Enc::new_from_slice(key).map_err(bad)?,
                dec: Aes128Dec::new_from_slice(key).map_err(bad)?,
            })),
            EncryptionAlgorithm::AesCbc192 => Ok(Box::new(CbcKeyImpl {
                enc: Aes192Enc::new_from_slice(key).map_err(bad)?,
                dec: Aes192Dec::new_from_slice(key).map_err(bad)?,
            })),
            EncryptionAlgorithm::AesCbc256 => Ok(Box::new(CbcKeyImpl {
                enc: Aes256Enc::new_from_slice(key).map_err(bad)?,
                dec: Aes256Dec::new_from_slice(key).map_err(bad)?,
            })),
            _ => Err(Error::Unsupported(self.0.name())),
        }
    }
}

type Block = Array<u8, cbc::cipher::consts::U16>;

fn as_blocks(buf: &mut [u8]) -> Result<&mut [Block], Error> {
    let (blocks, tail) = Block::slice_as_chunks_mut(buf);
    if tail.is_empty() {
        Ok(blocks)
    } else {
        Err(Error::InvalidPadding)
    }
}

impl<E, D> CbcKey for CbcKeyImpl<E, D>
where
    E: BlockCipherEncrypt<BlockSize = cbc::cipher::consts::U16> + Clone + Send + Sync,
    D: BlockCipherDecrypt<BlockSize = cbc::cipher::consts::U16> + Clone + Send + Sync,
{
    fn encrypt(&self, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), Error> {
        let blocks = as_blocks(buf)?;
        let mut mode = cbc::Encryptor::<E>::inner_iv_init(self.enc.clone(), &Array::from(*iv));
        mode.encrypt_blocks(blocks);
        Ok(())
    }

    fn decrypt(&self, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), Error> {
        let blocks = as_blocks(buf)?;
        let mut mode = cbc::Decryptor::<D>::inner_iv_init(self.dec.clone(), &Array::from(*iv));
        mode.decrypt_blocks(blocks);
        Ok(())
    }
}

#[derive(Debug)]
struct Hmac(IntegrityAlgorithm);

struct HmacKey<D: EagerHash>(hmac::Hmac<D>);

impl HmacAlgorithm for Hmac {
    fn algorithm(&self) -> IntegrityAlgorithm {
        self.0
    }

    fn new_key(&self, key: &[u8]) -> Result<Box<dyn MacKey>, Error> {
        let bad = |_| Error::Crypto("HMAC key rejected");
        match self.0 {
            IntegrityAlgorithm::HmacSha1_96 => Ok(Box::new(HmacKey(
                hmac::Hmac::<sha1::Sha1>::new_from_slice(key).map_err(bad)?,
            ))),
            IntegrityAlgorithm::HmacSha256_128 => Ok(Box::new(HmacKey(
                hmac::Hmac::<sha2::Sha256>::new_from_slice(key).map_err(bad)?,
            ))),
            IntegrityAlgorithm::HmacSha384_192 => Ok(Box::new(HmacKey(
                hmac::Hmac::<sha2::Sha384>::new_from_slice(key).map_err(bad)?,
            ))),
            IntegrityAlgorithm::HmacSha512_256 => Ok(Box::new(HmacKey(
                hmac::Hmac::<sha2::Sha512>::new_from_slice(key).map_err(bad)?,
            ))),
            IntegrityAlgorithm::None => Err(Error::Unsupported("integrity none")),
        }
    }
}

impl<D> MacKey for HmacKey<D>
where
    D: EagerHash + Send + Sync,
    hmac::Hmac<D>: hmac::Mac + Clone + Send + Sync,
{
    fn output_len(&self) -> usize {
        <hmac::Hmac<D> as hmac::digest::OutputSizeUser>::output_size()
    }

    fn sign(&self, parts: &[&[u8]], out: &mut [u8]) -> Result<(), Error> {
        let mut mac = self.0.clone();
        for p in parts {
            mac.update(p);
        }
        let full = mac.finalize().into_bytes();
        let src = full
            .get(..out.len())
            .ok_or(Error::Crypto("HMAC output requested too long"))?;
        out.copy_from_slice(src);
        Ok(())
    }
}
