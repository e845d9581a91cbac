//! IKE's additions to the `esp` crypto provider: key exchange groups and the PRF.
//!
//! The IKE provider ([`IkeCryptoProvider`]) wraps the [`dmvpn_esp::crypto::CryptoProvider`] (AEADs,
//! CBC ciphers, HMACs, the random source) and adds a table of [`KeyExchangeGroup`]s. The traits
//! live here, in `ikev2`, on top of esp's: the `esp` crate is not changed. The PRF ([`Prf`]) is
//! an HMAC of the esp provider used at full output length.
//!
//! Groups built in (RustCrypto, constant time): 14, 15 and 16 (MODP-2048, -3072 and -4096,
//! RFC 3526, `crypto-bigint`, 384-, 384- and 512-bit secret exponents), 19, 20 and 21 (ECP-256,
//! -384 and -521, RFC 5903, `p256`, `p384`, `p521`), 31 (Curve25519, RFC 8031,
//! `x25519-dalek`): every group strongSwan proposes by default. Private values come from the provider's random source, never from global
//! randomness, and are zeroized on drop.
//!
//! There is no `ring` key exchange, although ring's X25519 is somewhat faster on x86-64 (the
//! `handshake` bench measures both): ring draws its ephemeral keys from its own system random
//! source (its `SecureRandom` trait is sealed: only its OS source, or a deprecated test-only
//! source, can feed it), and it zeroizes neither the private scalar nor the shared secret it
//! computes. Both would break rules this crate keeps (Sans-IO, no global randomness; secrets
//! zeroized).

use core::fmt;
use std::sync::Arc;

use dmvpn_esp::crypto::{CryptoProvider, MacKey, SecureRandom};

use crate::transform::{KeGroup, PrfId};
use crate::{Error, Secret};

mod ecp;
mod modp;
mod x25519;

pub use ecp::{Ecp256, Ecp384, Ecp521};
pub use modp::{Modp768, Modp1024, Modp1536, Modp2048, Modp3072, Modp4096};
pub use x25519::Curve25519;

/// A key exchange group (IKEv2 transform type 4).
pub trait KeyExchangeGroup: Send + Sync + fmt::Debug {
    /// Which group this is.
    fn group(&self) -> KeGroup;
    /// Length of the public value in the KE payload.
    fn public_len(&self) -> usize;
    /// Generates a private value with `random` and returns the exchange holding it.
    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KeyExchange>, Error>;
}

/// One side of a key exchange in progress: a private value (zeroized on drop) and its public
/// value.
pub trait KeyExchange: Send + Sync {
    /// The group.
    fn group(&self) -> KeGroup;
    /// Our public value, as sent in the KE payload.
    fn public_value(&self) -> &[u8];
    /// Validates the peer's public value (range for MODP, on the curve for ECP, a contributory
    /// result for Curve25519) and computes the shared secret g^ir in the encoding RFC 7296
    /// §2.14 uses (MODP: padded to the modulus length; ECP: the x coordinate, RFC 5903 §9;
    /// Curve25519: the 32-byte u coordinate, RFC 8031 §2).
    fn complete(&self, peer: &[u8]) -> Result<Secret, Error>;
}

/// The groups this crate implements: 14, 15, 16 (MODP), 19, 20, 21 (ECP) and 31 (Curve25519).
pub static DEFAULT_GROUPS: &[&dyn KeyExchangeGroup] = &[
    &Curve25519,
    &Ecp256,
    &Ecp384,
    &Ecp521,
    &Modp2048,
    &Modp3072,
    &Modp4096,
];

/// [`DEFAULT_GROUPS`] and the legacy MODP groups 1, 2 and 5 (768, 1024 and 1536 bits): for
/// IKEv1 peers of old clouds only, on explicit request
/// ([`IkeCryptoProvider::with_legacy_groups`]); IKEv2 configurations never offer them.
pub static LEGACY_GROUPS: &[&dyn KeyExchangeGroup] = &[
    &Curve25519,
    &Ecp256,
    &Ecp384,
    &Ecp521,
    &Modp2048,
    &Modp3072,
    &Modp4096,
    &Modp768,
    &Modp1024,
    &Modp1536,
];

/// The crypto provider for IKE: esp's provider plus key exchange groups.
#[derive(Clone)]
pub struct IkeCryptoProvider {
    /// Ciphers, HMACs and the random source (shared with the ESP SAs IKE creates).
    pub esp: CryptoProvider,
    /// Key exchange groups.
    pub groups: &'static [&'static dyn KeyExchangeGroup],
}

impl IkeCryptoProvider {
    /// esp's provider with the [`DEFAULT_GROUPS`].
    pub fn new(esp: CryptoProvider) -> Self {
        IkeCryptoProvider {
            esp,
            groups: DEFAULT_GROUPS,
        }
    }

    /// The RustCrypto provider with `random` as its random source.
    pub fn rustcrypto(random: Arc<dyn SecureRandom>) -> Self {
        Self::new(dmvpn_esp::crypto::rustcrypto::provider(random))
    }

    /// The same provider with the legacy MODP groups 1, 2 and 5 as well ([`LEGACY_GROUPS`]),
    /// for IKEv1's `crypto isakmp legacy-groups`.
    pub fn with_legacy_groups(mut self) -> Self {
        self.groups = LEGACY_GROUPS;
        self
    }

    /// The random source.
    pub fn random(&self) -> &dyn SecureRandom {
        &*self.esp.random
    }

    /// Whether the provider implements `group`.
    pub fn supports(&self, group: KeGroup) -> bool {
        self.groups.iter().any(|g| g.group() == group)
    }

    /// The implementation of a group.
    pub fn group(&self, group: KeGroup) -> Result<&'static dyn KeyExchangeGroup, Error> {
        self.groups
            .iter()
            .copied()
            .find(|g| g.group() == group)
            .ok_or(Error::UnsupportedGroup(group))
    }

    /// Starts a key exchange in `group` with a fresh private value.
    pub fn start_key_exchange(&self, group: KeGroup) -> Result<Box<dyn KeyExchange>, Error> {
        self.group(group)?.start(self.random())
    }

    /// A PRF keyed with `key`.
    pub fn prf(&self, alg: PrfId, key: &[u8]) -> Result<Prf, Error> {
        let hmac = self.esp.hmac(alg.hmac()?)?;
        Ok(Prf {
            alg,
            key: hmac.new_key(key)?,
        })
    }

    /// `len` random bytes (nonces, SPIs).
    pub fn random_bytes(&self, len: usize) -> Result<Vec<u8>, Error> {
        let mut v = vec![0u8; len];
        self.random().fill(&mut v)?;
        Ok(v)
    }
}

impl fmt::Debug for IkeCryptoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IkeCryptoProvider")
            .field("esp", &self.esp)
            .field("groups", &self.groups)
            .finish()
    }
}

/// A keyed PRF (RFC 7296 §2.13): an HMAC at full output length.
pub struct Prf {
    alg: PrfId,
    key: Box<dyn MacKey>,
}

impl Prf {
    /// Which PRF.
    pub fn alg(&self) -> PrfId {
        self.alg
    }

    /// Output length in bytes.
    pub fn output_len(&self) -> usize {
        self.key.output_len()
    }

    /// prf(K, the concatenation of `parts`).
    pub fn compute(&self, parts: &[&[u8]]) -> Result<Secret, Error> {
        let mut out = Secret::zeroed(self.output_len());
        self.key.sign(parts, out.as_mut_bytes())?;
        Ok(out)
    }

    /// prf+(K, S) truncated to `len` bytes (§2.13): T1 = prf(K, S | 0x01),
    /// Tn = prf(K, Tn-1 | S | n), at most 255 blocks; S is the concatenation of `seed`.
    ///
    /// Each block is computed straight into the output; Tn-1 is read back from the output
    /// (where it was just written), so the only scratch is the last, partly used block (on
    /// the stack, zeroized after use). The keyed HMAC state is set up once, in [`Prf`].
    pub fn plus(&self, seed: &[&[u8]], len: usize) -> Result<Secret, Error> {
        let n = self.output_len();
        let max = n.saturating_mul(255);
        let too_long = || Error::PrfPlusTooLong {
            requested: len,
            max,
        };
        if n == 0 || len > max {
            return Err(too_long());
        }
        let mut out = Secret::zeroed(len);
        let mut last = zeroize::Zeroizing::new([0u8; MAX_PRF_LEN]);
        let last = last.get_mut(..n).ok_or(Error::BufferTooSmall {
            needed: n,
            got: MAX_PRF_LEN,
        })?;
        let bytes = out.as_mut_bytes();
        let mut at = 0usize;
        let mut counter = 1u8;
        while at < len {
            let (done, rest) = bytes.split_at_mut(at);
            let prev = done.len().checked_sub(n).and_then(|p| done.get(p..));
            let c = [counter];
            // The parts of one block: Tn-1 (none for T1), the seed, the counter; on the stack
            // for the seeds of RFC 7296 (up to four parts).
            let mut stack: [&[u8]; 6] = [&[]; 6];
            let mut heap = Vec::new();
            let parts: &[&[u8]] = if seed.len() + 2 <= stack.len() {
                let mut k = 0;
                for p in prev.into_iter().chain(seed.iter().copied()).chain([&c[..]]) {
                    if let Some(slot) = stack.get_mut(k) {
                        *slot = p;
                        k += 1;
                    }
                }
                stack.get(..k).unwrap_or(&[])
            } else {
                heap.extend(prev);
                heap.extend_from_slice(seed);
                heap.push(&c[..]);
                &heap
            };
            match rest.get_mut(..n) {
                Some(block) => self.key.sign(parts, block)?,
                None => {
                    // The last block is only partly needed.
                    self.key.sign(parts, last)?;
                    let tail = last.get(..rest.len()).ok_or(too_long())?;
                    rest.copy_from_slice(tail);
                }
            }
            at += n;
            counter = counter.checked_add(1).unwrap_or(0);
            if counter == 0 && at < len {
                return Err(too_long());
            }
        }
        Ok(out)
    }
}

/// The longest PRF output (HMAC-SHA-512).
const MAX_PRF_LEN: usize = 64;

impl fmt::Debug for Prf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prf({}, key: <redacted>)", self.alg)
    }
}

/// Takes up to `tries` candidates of `len` random bytes until `accept` returns a value.
pub(crate) fn sample<T>(
    random: &dyn SecureRandom,
    len: usize,
    mut accept: impl FnMut(&[u8]) -> Option<T>,
) -> Result<T, Error> {
    let mut buf = Secret::zeroed(len);
    for _ in 0..16 {
        random.fill(buf.as_mut_bytes())?;
        if let Some(v) = accept(buf.as_bytes()) {
            return Ok(v);
        }
    }
    Err(Error::Crypto(dmvpn_esp::Error::Crypto(
        "random source keeps producing invalid private values",
    )))
}
