//! Group 19: 256-bit random ECP group, NIST P-256 (RFC 5903), with `p256`.

use dmvpn_esp::crypto::SecureRandom;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{FieldBytes, PublicKey, SecretKey};

use super::{KeyExchange, KeyExchangeGroup, sample};
use crate::transform::KeGroup;
use crate::{Error, Secret};

/// ECP-256 (group 19): the public value is x | y, 32 bytes each (RFC 5903 §7); the shared
/// secret is the x coordinate of the shared point (§9). The peer's point must be on the curve
/// and not the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ecp256;

struct Exchange {
    secret: SecretKey,
    public: [u8; 64],
}

impl KeyExchangeGroup for Ecp256 {
    fn group(&self) -> KeGroup {
        KeGroup::ECP_256
    }

    fn public_len(&self) -> usize {
        64
    }

    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KeyExchange>, Error> {
        // Rejection sampling: 32 random bytes are a valid scalar unless 0 or >= n.
        let secret = sample(random, 32, |b| {
            let a: [u8; 32] = b.try_into().ok()?;
            SecretKey::from_bytes(&FieldBytes::from(a)).ok()
        })?;
        let point = secret.public_key().to_sec1_point(false);
        let mut public = [0u8; 64];
        let xy = point.as_bytes().get(1..65).ok_or(Error::LengthMismatch {
            what: "uncompressed P-256 point",
            expected: 65,
            got: point.as_bytes().len(),
        })?;
        public.copy_from_slice(xy);
        Ok(Box::new(Exchange { secret, public }))
    }
}

impl KeyExchange for Exchange {
    fn group(&self) -> KeGroup {
        KeGroup::ECP_256
    }

    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn complete(&self, peer: &[u8]) -> Result<Secret, Error> {
        let invalid = |reason| Error::InvalidKeyExchange {
            group: KeGroup::ECP_256,
            reason,
        };
        if peer.len() != 64 {
            return Err(invalid("public value must be 64 bytes (x | y)"));
        }
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        if let Some(dst) = sec1.get_mut(1..) {
            dst.copy_from_slice(peer);
        }
        let peer =
            PublicKey::from_sec1_bytes(&sec1).map_err(|_| invalid("point is not on the curve"))?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        Ok(Secret::from_slice(shared.raw_secret_bytes()))
    }
}
