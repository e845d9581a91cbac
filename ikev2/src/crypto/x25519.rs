//! Group 31: Curve25519 (RFC 8031, X25519 of RFC 7748), with `x25519-dalek`.

use dmvpn_esp::crypto::SecureRandom;
use x25519_dalek::{PublicKey, StaticSecret};

use super::{KeyExchange, KeyExchangeGroup, sample};
use crate::transform::KeGroup;
use crate::{Error, Secret};

/// Curve25519 (group 31): 32-byte public values; the private value is 32 random bytes
/// (clamped by X25519, RFC 7748 §5); an all-zero shared secret is rejected (RFC 8031 §2).
#[derive(Debug, Clone, Copy, Default)]
pub struct Curve25519;

struct Exchange {
    secret: StaticSecret,
    public: [u8; 32],
}

impl KeyExchangeGroup for Curve25519 {
    fn group(&self) -> KeGroup {
        KeGroup::CURVE25519
    }

    fn public_len(&self) -> usize {
        32
    }

    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KeyExchange>, Error> {
        let secret = sample(random, 32, |b| {
            let a: [u8; 32] = b.try_into().ok()?;
            Some(StaticSecret::from(a))
        })?;
        let public = PublicKey::from(&secret).to_bytes();
        Ok(Box::new(Exchange { secret, public }))
    }
}

impl KeyExchange for Exchange {
    fn group(&self) -> KeGroup {
        KeGroup::CURVE25519
    }

    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn complete(&self, peer: &[u8]) -> Result<Secret, Error> {
        let invalid = |reason| Error::InvalidKeyExchange {
            group: KeGroup::CURVE25519,
            reason,
        };
        let peer: [u8; 32] = peer
            .try_into()
            .map_err(|_| invalid("public value must be 32 bytes"))?;
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(invalid("all-zero shared secret (low-order point)"));
        }
        Ok(Secret::from_slice(shared.as_bytes()))
    }
}
