//! Groups 19, 20 and 21: the 256-, 384- and 521-bit random ECP groups, NIST P-256, P-384 and
//! P-521 (RFC 5903), with RustCrypto's `p256`, `p384` and `p521`.

use dmvpn_esp::crypto::SecureRandom;

use super::{KeyExchange, KeyExchangeGroup, sample};
use crate::transform::KeGroup;
use crate::{Error, Secret};

/// One RFC 5903 group on a RustCrypto curve crate: the public value is x | y, each coordinate
/// `$coord` bytes (§7); the shared secret is the x coordinate of the shared point (§9). The
/// peer's point must be on the curve and not the identity. `$top` masks the first byte of a
/// candidate private value (P-521's 66 bytes carry 521 bits), which is then taken if it is a
/// valid scalar (1 ≤ d < n).
macro_rules! ecp_group {
    ($(#[$doc:meta])* $name:ident, $exchange:ident, $curve:ident, $group:expr, $coord:literal,
     $top:literal, $len_msg:literal, $point_msg:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        struct $exchange {
            secret: $curve::SecretKey,
            public: [u8; 2 * $coord],
        }

        impl KeyExchangeGroup for $name {
            fn group(&self) -> KeGroup {
                $group
            }

            fn public_len(&self) -> usize {
                2 * $coord
            }

            fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KeyExchange>, Error> {
                use $curve::elliptic_curve::sec1::ToSec1Point;
                // Rejection sampling: the masked bytes are a valid scalar unless 0 or >= n.
                let secret = sample(random, $coord, |b| {
                    let mut a: [u8; $coord] = b.try_into().ok()?;
                    a[0] &= $top;
                    $curve::SecretKey::from_bytes(&$curve::FieldBytes::from(a)).ok()
                })?;
                let point = secret.public_key().to_sec1_point(false);
                let mut public = [0u8; 2 * $coord];
                let xy = point
                    .as_bytes()
                    .get(1..1 + 2 * $coord)
                    .ok_or(Error::LengthMismatch {
                        what: "uncompressed EC point",
                        expected: 1 + 2 * $coord,
                        got: point.as_bytes().len(),
                    })?;
                public.copy_from_slice(xy);
                Ok(Box::new($exchange { secret, public }))
            }
        }

        impl KeyExchange for $exchange {
            fn group(&self) -> KeGroup {
                $group
            }

            fn public_value(&self) -> &[u8] {
                &self.public
            }

            fn complete(&self, peer: &[u8]) -> Result<Secret, Error> {
                let invalid = |reason| Error::InvalidKeyExchange {
                    group: $group,
                    reason,
                };
                if peer.len() != 2 * $coord {
                    return Err(invalid($len_msg));
                }
                let mut sec1 = [0u8; 1 + 2 * $coord];
                sec1[0] = 4;
                if let Some(dst) = sec1.get_mut(1..) {
                    dst.copy_from_slice(peer);
                }
                let peer = $curve::PublicKey::from_sec1_bytes(&sec1)
                    .map_err(|_| invalid($point_msg))?;
                let shared =
                    $curve::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
                Ok(Secret::from_slice(shared.raw_secret_bytes()))
            }
        }
    };
}

ecp_group!(
    /// ECP-256 (group 19): the public value is x | y, 32 bytes each (RFC 5903 §7); the shared
    /// secret is the x coordinate of the shared point (§9). The peer's point must be on the
    /// curve and not the identity.
    Ecp256,
    Exchange256,
    p256,
    KeGroup::ECP_256,
    32,
    0xff,
    "public value must be 64 bytes (x | y)",
    "point is not on the curve"
);

ecp_group!(
    /// ECP-384 (group 20, RFC 5903): the public value is x | y, 48 bytes each; the shared
    /// secret is the 48-byte x coordinate of the shared point. The peer's point must be on the
    /// curve and not the identity.
    Ecp384,
    Exchange384,
    p384,
    KeGroup::ECP_384,
    48,
    0xff,
    "public value must be 96 bytes (x | y)",
    "point is not on the curve"
);

ecp_group!(
    /// ECP-521 (group 21, RFC 5903): the public value is x | y, 66 bytes each (521 bits padded
    /// to whole bytes); the shared secret is the 66-byte x coordinate of the shared point. The
    /// peer's point must be on the curve and not the identity. A private value takes 66 random
    /// bytes of which the first keeps only its lowest bit.
    Ecp521,
    Exchange521,
    p521,
    KeGroup::ECP_521,
    66,
    0x01,
    "public value must be 132 bytes (x | y)",
    "point is not on the curve"
);
