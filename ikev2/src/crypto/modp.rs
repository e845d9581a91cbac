//! Group 14: 2048-bit MODP group (RFC 3526 §3), with `crypto-bigint` in constant time.

use std::sync::LazyLock;

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U384, U2048};
use dmvpn_esp::crypto::SecureRandom;
use zeroize::Zeroize;

use super::{KeyExchange, KeyExchangeGroup, sample};
use crate::transform::KeGroup;
use crate::{Error, Secret};

/// The RFC 3526 2048-bit prime: 2^2048 - 2^1984 - 1 + 2^64 * ( [2^1918 pi] + 124476 ).
const P_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

/// Bits of the secret exponent (as strongSwan uses for this group: far above twice the
/// group's ~110-bit strength).
pub(crate) const EXPONENT_BITS: u32 = 384;

const MODULUS_LEN: usize = 256;

static PARAMS: LazyLock<FixedMontyParams<{ U2048::LIMBS }>> =
    LazyLock::new(|| FixedMontyParams::new_vartime(Odd::<U2048>::from_be_hex(P_HEX)));

/// MODP-2048 (group 14): generator 2, 256-byte public values; the secret exponent is
/// 384 random bits; exponentiation is constant time. The peer's value y must
/// satisfy 1 < y < p-1 (RFC 7296 §5, NIST SP 800-56A).
#[derive(Debug, Clone, Copy, Default)]
pub struct Modp2048;

struct Exchange {
    secret: U384,
    public: Vec<u8>,
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

fn pow(base: &U2048, exp: &U384) -> U2048 {
    FixedMontyForm::new(base, &PARAMS)
        .pow_bounded_exp(exp, EXPONENT_BITS)
        .retrieve()
}

impl KeyExchangeGroup for Modp2048 {
    fn group(&self) -> KeGroup {
        KeGroup::MODP_2048
    }

    fn public_len(&self) -> usize {
        MODULUS_LEN
    }

    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KeyExchange>, Error> {
        let secret = sample(random, 48, |b| {
            let x = U384::from_be_slice(b);
            (x != U384::ZERO).then_some(x)
        })?;
        let y = pow(&U2048::from_u8(2), &secret);
        let public = y.to_be_bytes().as_ref().to_vec();
        Ok(Box::new(Exchange { secret, public }))
    }
}

impl KeyExchange for Exchange {
    fn group(&self) -> KeGroup {
        KeGroup::MODP_2048
    }

    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn complete(&self, peer: &[u8]) -> Result<Secret, Error> {
        let invalid = |reason| Error::InvalidKeyExchange {
            group: KeGroup::MODP_2048,
            reason,
        };
        if peer.len() != MODULUS_LEN {
            return Err(invalid("public value must be 256 bytes"));
        }
        let y = U2048::from_be_slice(peer);
        let p_minus_1 = PARAMS.modulus().get().wrapping_sub(&U2048::ONE);
        // The public value is public: variable-time comparisons are fine here.
        if y <= U2048::ONE || y >= p_minus_1 {
            return Err(invalid("public value out of range (must be 1 < y < p-1)"));
        }
        let mut z = pow(&y, &self.secret);
        let out = Secret::from_slice(z.to_be_bytes().as_ref());
        z.zeroize();
        Ok(out)
    }
}
