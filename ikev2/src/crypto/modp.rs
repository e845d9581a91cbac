//! Groups 14, 15 and 16: the 2048-, 3072- and 4096-bit MODP groups (RFC 3526 §3–§5), with
//! `crypto-bigint` in constant time; and the legacy groups 1, 2 and 5 (768-, 1024- and
//! 1536-bit MODP, RFC 2409 §6.1–6.2, RFC 3526 §2), which only IKEv1 uses and only on request
//! ([`super::LEGACY_GROUPS`]): too small for today (RFC 8247 §2.4), needed to join old IOS
//! clouds (`set pfs group2`).

use std::sync::LazyLock;

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U512, U768, U1024, U1536, U2048, U3072, U4096};
use dmvpn_esp::crypto::SecureRandom;
use zeroize::Zeroize;

use super::{KeyExchange, KeyExchangeGroup, sample};
use crate::transform::KeGroup;
use crate::{Error, Secret};

/// The RFC 3526 2048-bit prime: 2^2048 - 2^1984 - 1 + 2^64 * ( [2^1918 pi] + 124476 ).
const P2048_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

/// The RFC 3526 3072-bit prime: 2^3072 - 2^3008 - 1 + 2^64 * ( [2^2942 pi] + 1690314 ).
const P3072_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

/// The RFC 3526 4096-bit prime: 2^4096 - 2^4032 - 1 + 2^64 * ( [2^3966 pi] + 240904 ).
const P4096_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D788719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA993B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF";

/// The RFC 2409 §6.1 768-bit prime (group 1): 2^768 - 2^704 - 1 + 2^64 * ( [2^638 pi] + 149686 ).
const P768_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF";

/// The RFC 2409 §6.2 1024-bit prime (group 2): 2^1024 - 2^960 - 1 + 2^64 * ( [2^894 pi] + 129093 ).
const P1024_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";

/// The RFC 3526 §2 1536-bit prime (group 5): 2^1536 - 2^1472 - 1 + 2^64 * ( [2^1406 pi] + 741804 ).
const P1536_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF";

/// Bits of the MODP-2048 secret exponent (as strongSwan uses for this group: far above twice
/// the group's ~110-bit strength).
pub(crate) const EXPONENT_BITS: u32 = 384;

/// The secret exponent, wide enough for every group here (at most 512 bits are used).
type Exponent = U512;

struct Exchange<const L: usize> {
    group: KeGroup,
    params: &'static FixedMontyParams<L>,
    exponent_bits: u32,
    secret: Exponent,
    public: Vec<u8>,
}

impl<const L: usize> Drop for Exchange<L> {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// One RFC 3526 group: its prime, secret exponent length and code point, generator 2.
macro_rules! modp_group {
    ($(#[$doc:meta])* $name:ident, $uint:ident, $group:expr, $hex:expr, $exp_bits:expr, $len_msg:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl $name {
            fn params() -> &'static FixedMontyParams<{ $uint::LIMBS }> {
                static PARAMS: LazyLock<FixedMontyParams<{ $uint::LIMBS }>> =
                    LazyLock::new(|| FixedMontyParams::new_vartime(Odd::<$uint>::from_be_hex($hex)));
                &PARAMS
            }
        }

        impl KeyExchangeGroup for $name {
            fn group(&self) -> KeGroup {
                $group
            }

            fn public_len(&self) -> usize {
                $uint::BYTES
            }

            fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KeyExchange>, Error> {
                let params = Self::params();
                const EXPONENT_BYTES: usize = ($exp_bits / 8) as usize;
                let secret = sample(random, EXPONENT_BYTES, |b| {
                    let mut wide = [0u8; Exponent::BYTES];
                    let at = Exponent::BYTES.checked_sub(b.len())?;
                    wide.get_mut(at..)?.copy_from_slice(b);
                    let x = Exponent::from_be_slice(&wide);
                    wide.zeroize();
                    (x != Exponent::ZERO).then_some(x)
                })?;
                let y = pow(params, &$uint::from_u8(2), &secret, $exp_bits);
                let public = y.to_be_bytes().as_ref().to_vec();
                Ok(Box::new(Exchange {
                    group: $group,
                    params,
                    exponent_bits: $exp_bits,
                    secret,
                    public,
                }))
            }
        }

        impl KeyExchange for Exchange<{ $uint::LIMBS }> {
            fn group(&self) -> KeGroup {
                self.group
            }

            fn public_value(&self) -> &[u8] {
                &self.public
            }

            fn complete(&self, peer: &[u8]) -> Result<Secret, Error> {
                let invalid = |reason| Error::InvalidKeyExchange {
                    group: self.group,
                    reason,
                };
                if peer.len() != $uint::BYTES {
                    return Err(invalid($len_msg));
                }
                let y = $uint::from_be_slice(peer);
                let p_minus_1 = self.params.modulus().get().wrapping_sub(&$uint::ONE);
                // The public value is public: variable-time comparisons are fine here.
                if y <= $uint::ONE || y >= p_minus_1 {
                    return Err(invalid("public value out of range (must be 1 < y < p-1)"));
                }
                let mut z = pow(self.params, &y, &self.secret, self.exponent_bits);
                let out = Secret::from_slice(z.to_be_bytes().as_ref());
                z.zeroize();
                Ok(out)
            }
        }
    };
}

fn pow<const L: usize>(
    params: &FixedMontyParams<L>,
    base: &crypto_bigint::Uint<L>,
    exp: &Exponent,
    bits: u32,
) -> crypto_bigint::Uint<L> {
    FixedMontyForm::new(base, params)
        .pow_bounded_exp(exp, bits)
        .retrieve()
}

modp_group!(
    /// MODP-2048 (group 14): generator 2, 256-byte public values; the secret exponent is
    /// 384 random bits; exponentiation is constant time. The peer's value y must
    /// satisfy 1 < y < p-1 (RFC 7296 §5, NIST SP 800-56A).
    Modp2048,
    U2048,
    KeGroup::MODP_2048,
    P2048_HEX,
    EXPONENT_BITS,
    "public value must be 256 bytes"
);

modp_group!(
    /// MODP-3072 (group 15, RFC 3526 §4): generator 2, 384-byte public values; the secret
    /// exponent is 384 random bits (strongSwan's length for this group, far above twice its
    /// ~130-bit strength); constant-time exponentiation; the peer's value y must satisfy
    /// 1 < y < p-1.
    Modp3072,
    U3072,
    KeGroup::MODP_3072,
    P3072_HEX,
    384,
    "public value must be 384 bytes"
);

modp_group!(
    /// MODP-4096 (group 16, RFC 3526 §5): generator 2, 512-byte public values; the secret
    /// exponent is 512 random bits (strongSwan's length for this group, far above twice its
    /// ~150-bit strength); constant-time exponentiation; the peer's value y must satisfy
    /// 1 < y < p-1.
    Modp4096,
    U4096,
    KeGroup::MODP_4096,
    P4096_HEX,
    512,
    "public value must be 512 bytes"
);

modp_group!(
    /// MODP-768 (group 1, RFC 2409 §6.1), legacy: generator 2, 96-byte public values, a
    /// 256-bit secret exponent; for IKEv1 peers that offer nothing else, on request only.
    Modp768,
    U768,
    KeGroup::MODP_768,
    P768_HEX,
    256,
    "public value must be 96 bytes"
);

modp_group!(
    /// MODP-1024 (group 2, RFC 2409 §6.2), legacy: generator 2, 128-byte public values, a
    /// 256-bit secret exponent; seed 004's `set pfs group2`, on request only.
    Modp1024,
    U1024,
    KeGroup::MODP_1024,
    P1024_HEX,
    256,
    "public value must be 128 bytes"
);

modp_group!(
    /// MODP-1536 (group 5, RFC 3526 §2), legacy: generator 2, 192-byte public values, a
    /// 256-bit secret exponent; on request only.
    Modp1536,
    U1536,
    KeGroup::MODP_1536,
    P1536_HEX,
    256,
    "public value must be 192 bytes"
);
