//! The node's randomness, handed in by the caller at construction (Sans-IO: nothing here reads
//! a random source).

use core::fmt;

use dmvpn_nhrp::RequestIdKey;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use zeroize::Zeroizing;

/// The ChaCha20 stream of the crypto seeds of [`Entropy::crypto_seed`] (NHRP's derivations use
/// streams with the high bit set, [`Entropy::derive`] the stream of the node index).
const CRYPTO_STREAMS: u64 = 1 << 62;

/// 32 bytes of randomness a [`crate::Node`] is built with ([`crate::Node::new`]). Every tunnel
/// interface's NHRP machines draw their request IDs from a key derived from it, so that an
/// off-path attacker cannot guess them and answer a Resolution Request it never saw (a forged
/// Traffic Indication followed by replies numbered 1, 2, 3, …).
///
/// A router takes it from the operating system (`getrandom`, `/dev/urandom`) each time it
/// starts: [`Entropy::new`]. A simulation or test seeds it from a number so that its runs
/// repeat exactly: [`Entropy::from_seed`]. Zeroized on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct Entropy {
    nhrp: RequestIdKey,
    /// The key of the IPsec randomness (SPIs, nonces, key exchange secrets, IVs).
    crypto: Zeroizing<[u8; 32]>,
}

impl Entropy {
    /// Entropy from 32 random bytes (from the operating system's random source).
    pub fn new(bytes: [u8; 32]) -> Entropy {
        let mut rng = ChaCha20Rng::from_seed(bytes);
        rng.set_stream(CRYPTO_STREAMS);
        let mut crypto = Zeroizing::new([0; 32]);
        rng.fill_bytes(&mut crypto[..]);
        Entropy {
            nhrp: RequestIdKey::new(bytes),
            crypto,
        }
    }

    /// Entropy expanded from a 64-bit seed: deterministic, for simulations and tests only
    /// (anyone who knows the seed can compute every request ID and every IPsec key).
    pub fn from_seed(seed: u64) -> Entropy {
        let mut crypto = Zeroizing::new([0; 32]);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        rng.set_stream(CRYPTO_STREAMS);
        rng.fill_bytes(&mut crypto[..]);
        Entropy {
            nhrp: RequestIdKey::from_seed(seed),
            crypto,
        }
    }

    /// Independent entropy for the `index`th of several nodes built from one seed (the hosts
    /// of a simulation).
    pub fn derive(&self, index: u32) -> Entropy {
        let mut rng = ChaCha20Rng::from_seed(*self.crypto);
        rng.set_stream(u64::from(index));
        let mut crypto = Zeroizing::new([0; 32]);
        rng.fill_bytes(&mut crypto[..]);
        Entropy {
            nhrp: self.nhrp.derive(u64::from(index)),
            crypto,
        }
    }

    /// The seed of the IPsec random generator of crypto group `group` (one per protected
    /// tunnel source).
    pub(crate) fn crypto_seed(&self, group: usize) -> [u8; 32] {
        let mut rng = ChaCha20Rng::from_seed(*self.crypto);
        rng.set_stream(CRYPTO_STREAMS | u64::try_from(group).unwrap_or(u64::MAX));
        let mut seed = [0; 32];
        rng.fill_bytes(&mut seed);
        seed
    }

    /// The key of tunnel interface `tunnel`'s NHRP machines (the client and the server draw
    /// from separate streams of it).
    pub(crate) fn nhrp_key(&self, tunnel: usize) -> RequestIdKey {
        // Interfaces take the derivations from 2^32 up, nodes (`derive`) those below.
        self.nhrp
            .derive((1 << 32) | u64::try_from(tunnel).unwrap_or(u64::MAX))
    }
}

impl fmt::Debug for Entropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Entropy(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_node_and_by_interface_and_debug_is_redacted() {
        let e = Entropy::from_seed(1);
        let keys = [
            e.nhrp_key(0),
            e.nhrp_key(1),
            e.derive(0).nhrp_key(0),
            e.derive(1).nhrp_key(0),
            Entropy::from_seed(2).nhrp_key(0),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in keys.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            Entropy::from_seed(1).nhrp_key(3),
            e.nhrp_key(3),
            "deterministic"
        );
        assert_eq!(format!("{e:?}"), "Entropy(<redacted>)");
    }
}
