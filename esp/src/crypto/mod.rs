//! The pluggable crypto provider (ARCHITECTURE.md, "Time, randomness, crypto"): traits for random bytes, AEADs, CBC ciphers
//! and HMACs, a [`CryptoProvider`] bundling one implementation of each, and the backends.
//!
//! There is no process-global default: a provider is built by the caller
//! ([`rustcrypto::provider`], or `ring::provider` with the `ring` feature) and passed in every
//! SA configuration. Random bytes come through it too ([`SecureRandom`]).
//!
//! Keys are created once per SA (`new_key`, which may allocate); the per-packet methods never
//! allocate. Key objects zeroize their key schedules on drop where the backend supports it
//! (RustCrypto does with its `zeroize` features; `ring` keeps its AES key schedule in a type
//! it does not zeroize).
//!
//! The traits are shaped for IKEv2 too: [`MacKey::sign`] with a full-length output is the
//! HMAC PRF of RFC 7296, and [`HmacAlgorithm::new_key`] accepts keys of any length.

use core::fmt;
use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::{EncryptionAlgorithm, Error, IntegrityAlgorithm};

pub mod rustcrypto;

#[cfg(feature = "ring")]
pub mod ring;

/// A source of cryptographically secure random bytes.
pub trait SecureRandom: Send + Sync + fmt::Debug {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error>;
}

/// An AEAD algorithm with a 12-byte nonce and a 16-byte tag (AES-GCM).
pub trait AeadAlgorithm: Send + Sync + fmt::Debug {
    /// Which algorithm this is.
    fn algorithm(&self) -> EncryptionAlgorithm;
    /// Builds a key (without the ESP salt) of [`EncryptionAlgorithm::key_len`] bytes.
    fn new_key(&self, key: &[u8]) -> Result<Box<dyn AeadKey>, Error>;
}

/// An AEAD key. Per-packet methods never allocate.
pub trait AeadKey: Send + Sync {
    /// Encrypts `in_out` in place and writes the tag.
    fn seal(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8; 16],
    ) -> Result<(), Error>;
    /// Verifies the tag (in constant time) and decrypts `in_out` in place;
    /// [`Error::Integrity`] if the tag is wrong.
    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), Error>;
}

/// A block cipher in CBC mode with 16-byte blocks and IV (AES-CBC).
pub trait CbcCipher: Send + Sync + fmt::Debug {
    /// Which algorithm this is.
    fn algorithm(&self) -> EncryptionAlgorithm;
    /// Builds a key of [`EncryptionAlgorithm::key_len`] bytes.
    fn new_key(&self, key: &[u8]) -> Result<Box<dyn CbcKey>, Error>;
}

/// A CBC key. `buf` must be a whole number of 16-byte blocks ([`Error::InvalidPadding`]
/// otherwise). Per-packet methods never allocate.
pub trait CbcKey: Send + Sync {
    /// Encrypts `buf` in place with `iv`.
    fn encrypt(&self, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), Error>;
    /// Decrypts `buf` in place with `iv`.
    fn decrypt(&self, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), Error>;
}

/// An HMAC algorithm (integrity for ESP; PRF for IKEv2).
pub trait HmacAlgorithm: Send + Sync + fmt::Debug {
    /// Which algorithm this is (its ESP truncation is [`IntegrityAlgorithm::icv_len`]).
    fn algorithm(&self) -> IntegrityAlgorithm;
    /// Builds a key; HMAC accepts any key length (the SA checks ESP's fixed lengths).
    fn new_key(&self, key: &[u8]) -> Result<Box<dyn MacKey>, Error>;
}

/// An HMAC key. Per-packet methods never allocate.
pub trait MacKey: Send + Sync {
    /// Full output length in bytes.
    fn output_len(&self) -> usize;
    /// Computes the HMAC over the concatenation of `parts` and writes its first `out.len()`
    /// bytes (truncation, RFC 4868 §2.1.1) to `out`; `out` longer than [`MacKey::output_len`]
    /// is an error.
    fn sign(&self, parts: &[&[u8]], out: &mut [u8]) -> Result<(), Error>;
    /// Computes the HMAC over `parts` and compares its first `expected.len()` bytes with
    /// `expected` in constant time; [`Error::Integrity`] on mismatch.
    fn verify(&self, parts: &[&[u8]], expected: &[u8]) -> Result<(), Error> {
        let mut full = zeroize::Zeroizing::new([0u8; 64]);
        let n = expected.len();
        let buf = full.get_mut(..n).ok_or(Error::Integrity)?;
        self.sign(parts, buf)?;
        if bool::from(subtle::ConstantTimeEq::ct_eq(&*buf, expected)) {
            Ok(())
        } else {
            Err(Error::Integrity)
        }
    }
}

/// A bundle of crypto implementations and a random source, passed in SA configuration.
///
/// Build one with [`rustcrypto::provider`] or (feature `ring`) `ring::provider`. Fields are
/// public so a caller can mix backends or add its own implementations.
#[derive(Clone)]
pub struct CryptoProvider {
    /// The backend's name, for logs and benchmarks.
    pub name: &'static str,
    /// AEAD implementations.
    pub aeads: &'static [&'static dyn AeadAlgorithm],
    /// CBC cipher implementations.
    pub ciphers: &'static [&'static dyn CbcCipher],
    /// HMAC implementations.
    pub hmacs: &'static [&'static dyn HmacAlgorithm],
    /// The random source (CBC IVs; IKE nonces and SPIs later).
    pub random: Arc<dyn SecureRandom>,
}

impl CryptoProvider {
    /// The AEAD implementing `alg`.
    pub fn aead(&self, alg: EncryptionAlgorithm) -> Result<&'static dyn AeadAlgorithm, Error> {
        self.aeads
            .iter()
            .copied()
            .find(|a| a.algorithm() == alg)
            .ok_or(Error::Unsupported(alg.name()))
    }

    /// The CBC cipher implementing `alg`.
    pub fn cipher(&self, alg: EncryptionAlgorithm) -> Result<&'static dyn CbcCipher, Error> {
        self.ciphers
            .iter()
            .copied()
            .find(|a| a.algorithm() == alg)
            .ok_or(Error::Unsupported(alg.name()))
    }

    /// The HMAC implementing `alg`.
    pub fn hmac(&self, alg: IntegrityAlgorithm) -> Result<&'static dyn HmacAlgorithm, Error> {
        self.hmacs
            .iter()
            .copied()
            .find(|a| a.algorithm() == alg)
            .ok_or(Error::Unsupported(alg.name()))
    }

    /// Replaces the random source (for example with a seeded one in tests).
    pub fn with_random(mut self, random: Arc<dyn SecureRandom>) -> Self {
        self.random = random;
        self
    }
}

impl fmt::Debug for CryptoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoProvider")
            .field("name", &self.name)
            .field("aeads", &self.aeads)
            .field("ciphers", &self.ciphers)
            .field("hmacs", &self.hmacs)
            .field("random", &self.random)
            .finish()
    }
}

/// Every provider compiled into this build, each with `random` as its random source:
/// RustCrypto always, `ring` with the `ring` feature. Tests and benchmarks iterate over it.
pub fn all_providers(random: Arc<dyn SecureRandom>) -> Vec<CryptoProvider> {
    #[allow(unused_mut)]
    let mut v = vec![rustcrypto::provider(random.clone())];
    #[cfg(feature = "ring")]
    v.push(ring::provider(random));
    v
}

/// A fast CSPRNG: ChaCha20 keyed from the operating system (or from a caller's seed).
///
/// The caller creates it (the crate never reaches for global randomness itself); one lock and a
/// ChaCha20 block per call, so a per-packet CBC IV costs tens of nanoseconds instead of a
/// system call.
pub struct ChaChaRandom(Mutex<ChaCha20Rng>);

impl ChaChaRandom {
    /// Seeds from the operating system's random source (`getrandom`).
    pub fn from_os() -> Result<Self, Error> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *seed)
            .map_err(|_| Error::Crypto("operating system random source failed"))?;
        Ok(Self(Mutex::new(ChaCha20Rng::from_seed(*seed))))
    }

    /// A deterministic generator from a fixed seed: for tests and reproducible captures only.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(Mutex::new(ChaCha20Rng::from_seed(seed)))
    }
}

impl SecureRandom for ChaChaRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error> {
        let mut rng = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rng.fill_bytes(dest);
        Ok(())
    }
}

impl fmt::Debug for ChaChaRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChaChaRandom(<redacted>)")
    }
}

/// The operating system's random source (`getrandom`), one system call per fill.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error> {
        getrandom::fill(dest).map_err(|_| Error::Crypto("operating system random source failed"))
    }
}
