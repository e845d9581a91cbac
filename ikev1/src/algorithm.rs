//! The negotiated algorithms, mapped onto what the family already implements: the phase 1
//! hash and its HMAC (the PRF, RFC 2409 §4 and Appendix A), the phase 1 cipher (an `esp`
//! [`EncryptionAlgorithm`]), the Diffie-Hellman groups (`dmvpn-ikev2`'s [`KeGroup`]s, whose
//! numbers IKEv1 shares), and the ESP suite of a Quick Mode transform (an `esp` [`Suite`]).
//!
//! Refused, with the reason: DES and 3DES (phase 1 and ESP), MD5 (the phase 1 hash and ESP's
//! HMAC-MD5). The MODP groups 1, 2 and 5 (768, 1024, 1536 bits) are not in the provider and
//! are refused as unsupported; Cisco's own guidance has moved `crypto isakmp policy` to group
//! 14 or better.
//!
//! ```
//! use dmvpn_ikev1::algorithm::{Hash, esp_suite, phase1_cipher};
//! use dmvpn_ikev1::wire::{AuthAlgorithm, EncryptionAlgorithm, EspTransformId, HashAlgorithm};
//!
//! assert_eq!(Hash::from_attribute(HashAlgorithm::SHA2_256)?, Hash::Sha256);
//! assert!(Hash::from_attribute(HashAlgorithm::MD5).is_err());
//! assert_eq!(
//!     phase1_cipher(EncryptionAlgorithm::AES_CBC, Some(192))?,
//!     dmvpn_esp::EncryptionAlgorithm::AesCbc192
//! );
//! // `crypto ipsec transform-set T esp-aes 256 esp-sha256-hmac`
//! let suite = esp_suite(EspTransformId::AES_CBC, Some(256), Some(AuthAlgorithm::HMAC_SHA2_256))?;
//! assert_eq!(suite.to_string(), "aes256-sha256");
//! # Ok::<(), dmvpn_ikev1::Error>(())
//! ```

use core::fmt;

use dmvpn_esp::{EncryptionAlgorithm, IntegrityAlgorithm, Suite};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::transform::KeGroup;

use crate::Error;
use crate::wire::{self, AuthAlgorithm, EspTransformId, GroupDescription, HashAlgorithm};

const MD5_REASON: &str = "MD5 is broken and RFC 8247 says MUST NOT; use SHA-256";
const DES_REASON: &str = "56-bit key, broken by exhaustive search; RFC 8247 says MUST NOT";
const TDES_REASON: &str =
    "64-bit block (Sweet32 birthday attacks) and slow; RFC 8247 deprecates it, use AES";

/// The negotiated phase 1 hash (RFC 2409 Appendix A, attribute class 2). Its HMAC is the PRF
/// (§4: without a negotiated PRF, which neither Cisco nor strongSwan proposes, the PRF is the
/// HMAC of the negotiated hash), and the plain hash makes the IVs (Appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// SHA-1 (`hash sha`, Cisco's default): 20 bytes.
    Sha1,
    /// SHA2-256 (`hash sha256`): 32 bytes.
    Sha256,
    /// SHA2-384 (`hash sha384`): 48 bytes.
    Sha384,
    /// SHA2-512 (`hash sha512`): 64 bytes.
    Sha512,
}

impl Hash {
    /// Every supported hash.
    pub const ALL: [Hash; 4] = [Hash::Sha1, Hash::Sha256, Hash::Sha384, Hash::Sha512];

    /// The hash of a phase 1 transform's Hash Algorithm attribute; MD5 is refused with the
    /// reason, Tiger and unknown values are unsupported.
    pub fn from_attribute(h: HashAlgorithm) -> Result<Self, Error> {
        match h {
            HashAlgorithm::SHA1 => Ok(Hash::Sha1),
            HashAlgorithm::SHA2_256 => Ok(Hash::Sha256),
            HashAlgorithm::SHA2_384 => Ok(Hash::Sha384),
            HashAlgorithm::SHA2_512 => Ok(Hash::Sha512),
            HashAlgorithm::MD5 => Err(Error::RejectedAlgorithm {
                name: "MD5",
                reason: MD5_REASON,
            }),
            other => Err(Error::UnsupportedAlgorithm(format!("hash {other}"))),
        }
    }

    /// The Hash Algorithm attribute value.
    pub const fn to_attribute(self) -> HashAlgorithm {
        match self {
            Hash::Sha1 => HashAlgorithm::SHA1,
            Hash::Sha256 => HashAlgorithm::SHA2_256,
            Hash::Sha384 => HashAlgorithm::SHA2_384,
            Hash::Sha512 => HashAlgorithm::SHA2_512,
        }
    }

    /// Output length in bytes (of the hash, and of its HMAC: every SKEYID and HASH).
    pub const fn output_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    /// The provider's HMAC of this hash (used at its full output length, as a PRF).
    pub const fn hmac(self) -> IntegrityAlgorithm {
        match self {
            Hash::Sha1 => IntegrityAlgorithm::HmacSha1_96,
            Hash::Sha256 => IntegrityAlgorithm::HmacSha256_128,
            Hash::Sha384 => IntegrityAlgorithm::HmacSha384_192,
            Hash::Sha512 => IntegrityAlgorithm::HmacSha512_256,
        }
    }

    /// The hash of the concatenation of `parts` (the IVs of Appendix B). A plain hash has no
    /// key, so it is computed here (RustCrypto's `sha1`/`sha2`, as `dmvpn-ikev2` does for
    /// NAT detection) rather than through the provider, which carries keyed primitives.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha1::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Hash::Sha1 => run::<sha1::Sha1>(parts),
            Hash::Sha256 => run::<sha2::Sha256>(parts),
            Hash::Sha384 => run::<sha2::Sha384>(parts),
            Hash::Sha512 => run::<sha2::Sha512>(parts),
        }
    }

    /// The name Cisco's `crypto isakmp policy` uses (`sha`, `sha256`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Hash::Sha1 => "sha",
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
        }
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The phase 1 cipher of a transform's Encryption Algorithm and Key Length attributes:
/// AES-CBC with 128-, 192- or 256-bit keys (the Key Length attribute is required, as for
/// every variable-length cipher, RFC 2409 Appendix A; Cisco sends it). DES and 3DES are
/// refused with the reason.
pub fn phase1_cipher(
    alg: wire::EncryptionAlgorithm,
    key_length: Option<u16>,
) -> Result<EncryptionAlgorithm, Error> {
    match (alg, key_length) {
        (wire::EncryptionAlgorithm::AES_CBC, Some(128)) => Ok(EncryptionAlgorithm::AesCbc128),
        (wire::EncryptionAlgorithm::AES_CBC, Some(192)) => Ok(EncryptionAlgorithm::AesCbc192),
        (wire::EncryptionAlgorithm::AES_CBC, Some(256)) => Ok(EncryptionAlgorithm::AesCbc256),
        (wire::EncryptionAlgorithm::AES_CBC, bits) => Err(Error::UnsupportedAlgorithm(format!(
            "AES-CBC with key length {bits:?} (128, 192 or 256 is required)"
        ))),
        (wire::EncryptionAlgorithm::DES_CBC, _) => Err(Error::RejectedAlgorithm {
            name: "DES",
            reason: DES_REASON,
        }),
        (wire::EncryptionAlgorithm::TRIPLE_DES_CBC, _) => Err(Error::RejectedAlgorithm {
            name: "3DES",
            reason: TDES_REASON,
        }),
        (other, _) => Err(Error::UnsupportedAlgorithm(format!(
            "phase 1 encryption {other}"
        ))),
    }
}

/// The Encryption Algorithm and Key Length attributes of a phase 1 cipher (the inverse of
/// [`phase1_cipher`]); `None` for what phase 1 cannot use (AES-GCM, NULL).
pub const fn phase1_cipher_attributes(
    alg: EncryptionAlgorithm,
) -> Option<(wire::EncryptionAlgorithm, u16)> {
    match alg {
        EncryptionAlgorithm::AesCbc128 => Some((wire::EncryptionAlgorithm::AES_CBC, 128)),
        EncryptionAlgorithm::AesCbc192 => Some((wire::EncryptionAlgorithm::AES_CBC, 192)),
        EncryptionAlgorithm::AesCbc256 => Some((wire::EncryptionAlgorithm::AES_CBC, 256)),
        _ => None,
    }
}

/// The `esp` error of a refused algorithm as this crate's.
fn from_esp(e: dmvpn_esp::Error) -> Error {
    match e {
        dmvpn_esp::Error::RejectedAlgorithm { name, reason } => {
            Error::RejectedAlgorithm { name, reason }
        }
        dmvpn_esp::Error::UnknownAlgorithm(what) => Error::UnsupportedAlgorithm(what),
        other => Error::Crypto(other),
    }
}

/// The ESP suite of a Quick Mode transform (RFC 2407 §4.4.4 transform ID, §4.5 Key Length and
/// Authentication Algorithm attributes), as `esp` runs it.
///
/// The ESP transform IDs are the IKEv2 ENCR numbers (ESP_AES-CBC 12, ESP_AES-GCM_16 20,
/// ESP_NULL 11), so `esp`'s own mapping decides, with its reasons for DES and 3DES; the
/// authentication algorithms HMAC-SHA (2), HMAC-SHA2-256/384/512 (5–7, RFC 4868 §2.4's
/// truncations) map to its HMACs, HMAC-MD5 is refused. AES-GCM takes no authentication
/// algorithm; everything else needs one (RFC 4303 §3.2).
pub fn esp_suite(
    transform: EspTransformId,
    key_length: Option<u16>,
    auth: Option<AuthAlgorithm>,
) -> Result<Suite, Error> {
    let encryption =
        EncryptionAlgorithm::from_ikev2(u16::from(transform.0), key_length).map_err(from_esp)?;
    let integrity = match auth {
        None => IntegrityAlgorithm::None,
        Some(AuthAlgorithm::HMAC_SHA1) => IntegrityAlgorithm::HmacSha1_96,
        Some(AuthAlgorithm::HMAC_SHA2_256) => IntegrityAlgorithm::HmacSha256_128,
        Some(AuthAlgorithm::HMAC_SHA2_384) => IntegrityAlgorithm::HmacSha384_192,
        Some(AuthAlgorithm::HMAC_SHA2_512) => IntegrityAlgorithm::HmacSha512_256,
        Some(AuthAlgorithm::HMAC_MD5) => {
            return Err(Error::RejectedAlgorithm {
                name: "HMAC-MD5",
                reason: MD5_REASON,
            });
        }
        Some(other) => {
            return Err(Error::UnsupportedAlgorithm(format!(
                "authentication algorithm {other}"
            )));
        }
    };
    Suite::new(encryption, integrity).map_err(from_esp)
}

/// The ESP transform ID, Key Length and Authentication Algorithm attributes of a suite (the
/// inverse of [`esp_suite`]).
pub fn esp_transform(suite: &Suite) -> (EspTransformId, Option<u16>, Option<AuthAlgorithm>) {
    let (id, bits) = suite.encryption.ikev2_id();
    let auth = match suite.integrity {
        IntegrityAlgorithm::None => None,
        IntegrityAlgorithm::HmacSha1_96 => Some(AuthAlgorithm::HMAC_SHA1),
        IntegrityAlgorithm::HmacSha256_128 => Some(AuthAlgorithm::HMAC_SHA2_256),
        IntegrityAlgorithm::HmacSha384_192 => Some(AuthAlgorithm::HMAC_SHA2_384),
        IntegrityAlgorithm::HmacSha512_256 => Some(AuthAlgorithm::HMAC_SHA2_512),
    };
    (EspTransformId(u8::try_from(id).unwrap_or(0)), bits, auth)
}

/// The key exchange group of a Group Description attribute (IKEv1's group numbers are the
/// IKEv2 ones), if `provider` implements it.
pub fn ke_group(provider: &IkeCryptoProvider, group: GroupDescription) -> Result<KeGroup, Error> {
    let g = KeGroup(group.0);
    if provider.supports(g) {
        Ok(g)
    } else {
        Err(Error::UnsupportedGroup(group))
    }
}

/// Starts a Diffie-Hellman exchange in `group` with a fresh private value from the provider's
/// random source (the KE payload carries its public value; MODP values are padded to the
/// modulus length, ECP values are x | y, RFC 5903 §7).
pub fn start_key_exchange(
    provider: &IkeCryptoProvider,
    group: GroupDescription,
) -> Result<Box<dyn dmvpn_ikev2::crypto::KeyExchange>, Error> {
    let g = ke_group(provider, group)?;
    provider.start_key_exchange(g).map_err(Error::KeyExchange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_map_both_ways_and_md5_is_refused() {
        for h in Hash::ALL {
            assert_eq!(Hash::from_attribute(h.to_attribute()).unwrap(), h);
            assert_eq!(h.digest(&[b"abc"]).len(), h.output_len());
            assert_eq!(h.hmac().output_len(), h.output_len());
        }
        match Hash::from_attribute(HashAlgorithm::MD5) {
            Err(Error::RejectedAlgorithm {
                name: "MD5",
                reason,
            }) => assert!(!reason.is_empty()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Hash::from_attribute(HashAlgorithm::TIGER),
            Err(Error::UnsupportedAlgorithm(_))
        ));
        // FIPS 180 "abc".
        assert_eq!(
            Hash::Sha1.digest(&[b"a", b"bc"]),
            [
                0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
                0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d
            ]
        );
    }

    #[test]
    fn phase1_ciphers() {
        for alg in [
            EncryptionAlgorithm::AesCbc128,
            EncryptionAlgorithm::AesCbc192,
            EncryptionAlgorithm::AesCbc256,
        ] {
            let (a, bits) = phase1_cipher_attributes(alg).unwrap();
            assert_eq!(phase1_cipher(a, Some(bits)).unwrap(), alg);
        }
        assert!(phase1_cipher_attributes(EncryptionAlgorithm::AesGcm128).is_none());
        assert!(matches!(
            phase1_cipher(wire::EncryptionAlgorithm::TRIPLE_DES_CBC, None),
            Err(Error::RejectedAlgorithm { name: "3DES", .. })
        ));
        assert!(matches!(
            phase1_cipher(wire::EncryptionAlgorithm::DES_CBC, None),
            Err(Error::RejectedAlgorithm { name: "DES", .. })
        ));
        assert!(phase1_cipher(wire::EncryptionAlgorithm::AES_CBC, None).is_err());
        assert!(phase1_cipher(wire::EncryptionAlgorithm::AES_CBC, Some(64)).is_err());
        assert!(phase1_cipher(wire::EncryptionAlgorithm::CAMELLIA_CBC, Some(128)).is_err());
    }

    #[test]
    fn esp_suites() {
        let s = esp_suite(
            EspTransformId::AES_CBC,
            Some(128),
            Some(AuthAlgorithm::HMAC_SHA1),
        )
        .unwrap();
        assert_eq!(s.to_string(), "aes128-sha1");
        let s = esp_suite(EspTransformId::AES_GCM_16, Some(256), None).unwrap();
        assert_eq!(s.to_string(), "aes256gcm16");
        let s = esp_suite(
            EspTransformId::AES_CBC,
            Some(192),
            Some(AuthAlgorithm::HMAC_SHA2_512),
        )
        .unwrap();
        assert_eq!(s.to_string(), "aes192-sha512");
        for s in ["aes128-sha256", "aes256-sha384", "aes256gcm16", "null-sha1"] {
            let suite = Suite::parse(s).unwrap();
            let (t, k, a) = esp_transform(&suite);
            assert_eq!(esp_suite(t, k, a).unwrap(), suite, "{s}");
        }
        assert!(matches!(
            esp_suite(
                EspTransformId::TRIPLE_DES,
                None,
                Some(AuthAlgorithm::HMAC_SHA1)
            ),
            Err(Error::RejectedAlgorithm { name: "3DES", .. })
        ));
        assert!(matches!(
            esp_suite(
                EspTransformId::AES_CBC,
                Some(128),
                Some(AuthAlgorithm::HMAC_MD5)
            ),
            Err(Error::RejectedAlgorithm { .. })
        ));
        // CBC without integrity, GCM with it, an unknown key length.
        assert!(esp_suite(EspTransformId::AES_CBC, Some(128), None).is_err());
        assert!(
            esp_suite(
                EspTransformId::AES_GCM_16,
                Some(128),
                Some(AuthAlgorithm::HMAC_SHA1)
            )
            .is_err()
        );
        assert!(
            esp_suite(
                EspTransformId::AES_CBC,
                Some(100),
                Some(AuthAlgorithm::HMAC_SHA1)
            )
            .is_err()
        );
    }
}
