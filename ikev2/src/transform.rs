//! Transforms: the IANA registries as open code points, proposals in strongSwan's syntax, and
//! the negotiated IKE suite.
//!
//! Users configure proposals the way they know from strongSwan (`aes128-sha256-modp2048`,
//! `aes256gcm16-prfsha256-x25519` for IKE, `aes128gcm16-x25519` for ESP):
//!
//! ```
//! use dmvpn_ikev2::transform::{EncrId, IntegId, KeGroup, PrfId};
//! use dmvpn_ikev2::wire::{Proposal, ProtocolId};
//!
//! let p = Proposal::from_strongswan("aes128-sha256-modp2048", ProtocolId::IKE)?;
//! assert_eq!(p.to_strongswan(), "aes128-sha256-modp2048");
//! // For IKE, an integrity algorithm implies the PRF of the same hash (as in strongSwan).
//! let prfs: Vec<u16> = p.of_type(dmvpn_ikev2::transform::TransformType::PRF).map(|t| t.transform_id).collect();
//! assert_eq!(prfs, [PrfId::HMAC_SHA2_256.0]);
//! let esp = Proposal::from_strongswan("aes128gcm16-x25519", ProtocolId::ESP)?;
//! assert_eq!(esp.to_strongswan(), "aes128gcm16-x25519");
//! assert!(Proposal::from_strongswan("3des-sha1-modp1024", ProtocolId::IKE).is_err());
//! # Ok::<(), dmvpn_ikev2::Error>(())
//! ```

use core::fmt;

use dmvpn_esp::{EncryptionAlgorithm, IntegrityAlgorithm};

use crate::Error;
use crate::wire::{Proposal, ProtocolId, Transform, code_point};

code_point! {
    /// Transform type (RFC 7296 §3.3.2).
    TransformType(u8): compact {
        ENCR = 1, "ENCR";
        PRF = 2, "PRF";
        INTEG = 3, "INTEG";
        KE = 4, "KE";
        ESN = 5, "ESN";
        ADDKE1 = 6, "ADDKE1";
        ADDKE2 = 7, "ADDKE2";
        ADDKE3 = 8, "ADDKE3";
        ADDKE4 = 9, "ADDKE4";
        ADDKE5 = 10, "ADDKE5";
        ADDKE6 = 11, "ADDKE6";
        ADDKE7 = 12, "ADDKE7";
    }
}

code_point! {
    /// Encryption algorithm, transform type 1 (IANA "Transform Type 1").
    EncrId(u16): compact {
        DES_IV64 = 1, "ENCR_DES_IV64";
        DES = 2, "ENCR_DES";
        TRIPLE_DES = 3, "ENCR_3DES";
        RC5 = 4, "ENCR_RC5";
        IDEA = 5, "ENCR_IDEA";
        CAST = 6, "ENCR_CAST";
        BLOWFISH = 7, "ENCR_BLOWFISH";
        IDEA_3 = 8, "ENCR_3IDEA";
        DES_IV32 = 9, "ENCR_DES_IV32";
        NULL = 11, "ENCR_NULL";
        AES_CBC = 12, "ENCR_AES_CBC";
        AES_CTR = 13, "ENCR_AES_CTR";
        AES_CCM_8 = 14, "ENCR_AES_CCM_8";
        AES_CCM_12 = 15, "ENCR_AES_CCM_12";
        AES_CCM_16 = 16, "ENCR_AES_CCM_16";
        AES_GCM_8 = 18, "ENCR_AES_GCM_8";
        AES_GCM_12 = 19, "ENCR_AES_GCM_12";
        AES_GCM_16 = 20, "ENCR_AES_GCM_16";
        NULL_AUTH_AES_GMAC = 21, "ENCR_NULL_AUTH_AES_GMAC";
        CAMELLIA_CBC = 23, "ENCR_CAMELLIA_CBC";
        CAMELLIA_CTR = 24, "ENCR_CAMELLIA_CTR";
        CAMELLIA_CCM_8 = 25, "ENCR_CAMELLIA_CCM_8";
        CAMELLIA_CCM_12 = 26, "ENCR_CAMELLIA_CCM_12";
        CAMELLIA_CCM_16 = 27, "ENCR_CAMELLIA_CCM_16";
        CHACHA20_POLY1305 = 28, "ENCR_CHACHA20_POLY1305";
    }
}

code_point! {
    /// Pseudorandom function, transform type 2.
    PrfId(u16): compact {
        HMAC_MD5 = 1, "PRF_HMAC_MD5";
        HMAC_SHA1 = 2, "PRF_HMAC_SHA1";
        HMAC_TIGER = 3, "PRF_HMAC_TIGER";
        AES128_XCBC = 4, "PRF_AES128_XCBC";
        HMAC_SHA2_256 = 5, "PRF_HMAC_SHA2_256";
        HMAC_SHA2_384 = 6, "PRF_HMAC_SHA2_384";
        HMAC_SHA2_512 = 7, "PRF_HMAC_SHA2_512";
        AES128_CMAC = 8, "PRF_AES128_CMAC";
    }
}

code_point! {
    /// Integrity algorithm, transform type 3.
    IntegId(u16): compact {
        NONE = 0, "NONE";
        HMAC_MD5_96 = 1, "AUTH_HMAC_MD5_96";
        HMAC_SHA1_96 = 2, "AUTH_HMAC_SHA1_96";
        DES_MAC = 3, "AUTH_DES_MAC";
        KPDK_MD5 = 4, "AUTH_KPDK_MD5";
        AES_XCBC_96 = 5, "AUTH_AES_XCBC_96";
        HMAC_MD5_128 = 6, "AUTH_HMAC_MD5_128";
        HMAC_SHA1_160 = 7, "AUTH_HMAC_SHA1_160";
        AES_CMAC_96 = 8, "AUTH_AES_CMAC_96";
        AES_128_GMAC = 9, "AUTH_AES_128_GMAC";
        AES_192_GMAC = 10, "AUTH_AES_192_GMAC";
        AES_256_GMAC = 11, "AUTH_AES_256_GMAC";
        HMAC_SHA2_256_128 = 12, "AUTH_HMAC_SHA2_256_128";
        HMAC_SHA2_384_192 = 13, "AUTH_HMAC_SHA2_384_192";
        HMAC_SHA2_512_256 = 14, "AUTH_HMAC_SHA2_512_256";
    }
}

code_point! {
    /// Key exchange method ("Diffie-Hellman group"), transform type 4.
    KeGroup(u16): compact {
        NONE = 0, "NONE";
        MODP_768 = 1, "768-bit MODP Group";
        MODP_1024 = 2, "1024-bit MODP Group";
        MODP_1536 = 5, "1536-bit MODP Group";
        MODP_2048 = 14, "2048-bit MODP Group";
        MODP_3072 = 15, "3072-bit MODP Group";
        MODP_4096 = 16, "4096-bit MODP Group";
        MODP_6144 = 17, "6144-bit MODP Group";
        MODP_8192 = 18, "8192-bit MODP Group";
        ECP_256 = 19, "256-bit random ECP group";
        ECP_384 = 20, "384-bit random ECP group";
        ECP_521 = 21, "521-bit random ECP group";
        MODP_1024_160 = 22, "1024-bit MODP Group with 160-bit Prime Order Subgroup";
        MODP_2048_224 = 23, "2048-bit MODP Group with 224-bit Prime Order Subgroup";
        MODP_2048_256 = 24, "2048-bit MODP Group with 256-bit Prime Order Subgroup";
        ECP_192 = 25, "192-bit Random ECP Group";
        ECP_224 = 26, "224-bit Random ECP Group";
        BRAINPOOL_P224R1 = 27, "brainpoolP224r1";
        BRAINPOOL_P256R1 = 28, "brainpoolP256r1";
        BRAINPOOL_P384R1 = 29, "brainpoolP384r1";
        BRAINPOOL_P512R1 = 30, "brainpoolP512r1";
        CURVE25519 = 31, "Curve25519";
        CURVE448 = 32, "Curve448";
    }
}

code_point! {
    /// Extended sequence numbers, transform type 5.
    EsnId(u16): compact {
        NO = 0, "No Extended Sequence Numbers";
        YES = 1, "Extended Sequence Numbers";
    }
}

fn reject(name: &'static str, reason: &'static str) -> Error {
    Error::RejectedAlgorithm { name, reason }
}

const DES_REASON: &str = "56-bit key, broken by exhaustive search; RFC 8221 says MUST NOT";
const TDES_REASON: &str =
    "64-bit block (Sweet32 birthday attacks) and slow; RFC 8221 deprecates it, use AES";
const MD5_REASON: &str = "MD5 is broken and RFC 8221 says MUST NOT; use SHA-256";

/// strongSwan keyword of an encryption transform, if it has one.
fn encr_keyword(id: EncrId, bits: Option<u16>) -> Option<String> {
    let b = bits.map(|b| b.to_string()).unwrap_or_default();
    Some(match id {
        EncrId::AES_CBC => format!("aes{b}"),
        EncrId::AES_CTR => format!("aes{b}ctr"),
        EncrId::AES_CCM_8 => format!("aes{b}ccm8"),
        EncrId::AES_CCM_12 => format!("aes{b}ccm12"),
        EncrId::AES_CCM_16 => format!("aes{b}ccm16"),
        EncrId::AES_GCM_8 => format!("aes{b}gcm8"),
        EncrId::AES_GCM_12 => format!("aes{b}gcm12"),
        EncrId::AES_GCM_16 => format!("aes{b}gcm16"),
        EncrId::NULL_AUTH_AES_GMAC => format!("aes{b}gmac"),
        EncrId::CAMELLIA_CBC => format!("camellia{b}"),
        EncrId::CHACHA20_POLY1305 if bits.is_none() => "chacha20poly1305".into(),
        EncrId::NULL if bits.is_none() => "null".into(),
        _ => return None,
    })
}

fn parse_encr(word: &str) -> Result<Option<(EncrId, Option<u16>)>, Error> {
    match word {
        "des" => return Err(reject("DES", DES_REASON)),
        "3des" => return Err(reject("3DES", TDES_REASON)),
        "null" => return Ok(Some((EncrId::NULL, None))),
        "chacha20poly1305" => return Ok(Some((EncrId::CHACHA20_POLY1305, None))),
        _ => {}
    }
    let (family, rest) = if let Some(r) = word.strip_prefix("camellia") {
        ("camellia", r)
    } else if let Some(r) = word.strip_prefix("aes") {
        ("aes", r)
    } else {
        return Ok(None);
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (bits, mode) = rest.split_at(digits);
    let bits: u16 = if bits.is_empty() {
        128
    } else {
        match bits.parse() {
            Ok(b @ (128 | 192 | 256)) => b,
            _ => return Ok(None),
        }
    };
    let id = match (family, mode) {
        ("aes", "") => EncrId::AES_CBC,
        ("aes", "ctr") => EncrId::AES_CTR,
        ("aes", "ccm8" | "ccm64") => EncrId::AES_CCM_8,
        ("aes", "ccm12" | "ccm96") => EncrId::AES_CCM_12,
        ("aes", "ccm16" | "ccm128" | "ccm") => EncrId::AES_CCM_16,
        ("aes", "gcm8" | "gcm64") => EncrId::AES_GCM_8,
        ("aes", "gcm12" | "gcm96") => EncrId::AES_GCM_12,
        ("aes", "gcm16" | "gcm128" | "gcm") => EncrId::AES_GCM_16,
        ("aes", "gmac") => EncrId::NULL_AUTH_AES_GMAC,
        ("camellia", "") => EncrId::CAMELLIA_CBC,
        _ => return Ok(None),
    };
    Ok(Some((id, Some(bits))))
}

/// Whether an encryption transform is combined-mode (AEAD): it then takes no INTEG transform.
pub const fn is_aead(id: EncrId) -> bool {
    matches!(
        id,
        EncrId::AES_CCM_8
            | EncrId::AES_CCM_12
            | EncrId::AES_CCM_16
            | EncrId::AES_GCM_8
            | EncrId::AES_GCM_12
            | EncrId::AES_GCM_16
            | EncrId::NULL_AUTH_AES_GMAC
            | EncrId::CAMELLIA_CCM_8
            | EncrId::CAMELLIA_CCM_12
            | EncrId::CAMELLIA_CCM_16
            | EncrId::CHACHA20_POLY1305
    )
}

const INTEG_WORDS: &[(&str, IntegId, PrfId)] = &[
    ("sha1", IntegId::HMAC_SHA1_96, PrfId::HMAC_SHA1),
    ("sha", IntegId::HMAC_SHA1_96, PrfId::HMAC_SHA1),
    ("sha1_160", IntegId::HMAC_SHA1_160, PrfId::HMAC_SHA1),
    ("sha256", IntegId::HMAC_SHA2_256_128, PrfId::HMAC_SHA2_256),
    ("sha2_256", IntegId::HMAC_SHA2_256_128, PrfId::HMAC_SHA2_256),
    ("sha384", IntegId::HMAC_SHA2_384_192, PrfId::HMAC_SHA2_384),
    ("sha2_384", IntegId::HMAC_SHA2_384_192, PrfId::HMAC_SHA2_384),
    ("sha512", IntegId::HMAC_SHA2_512_256, PrfId::HMAC_SHA2_512),
    ("sha2_512", IntegId::HMAC_SHA2_512_256, PrfId::HMAC_SHA2_512),
    ("aesxcbc", IntegId::AES_XCBC_96, PrfId::AES128_XCBC),
    ("aescmac", IntegId::AES_CMAC_96, PrfId::AES128_CMAC),
];

const PRF_WORDS: &[(&str, PrfId)] = &[
    ("prfsha1", PrfId::HMAC_SHA1),
    ("prfsha256", PrfId::HMAC_SHA2_256),
    ("prfsha384", PrfId::HMAC_SHA2_384),
    ("prfsha512", PrfId::HMAC_SHA2_512),
    ("prfaesxcbc", PrfId::AES128_XCBC),
    ("prfaescmac", PrfId::AES128_CMAC),
];

const KE_WORDS: &[(&str, KeGroup)] = &[
    ("modp768", KeGroup::MODP_768),
    ("modp1024", KeGroup::MODP_1024),
    ("modp1536", KeGroup::MODP_1536),
    ("modp2048", KeGroup::MODP_2048),
    ("modp3072", KeGroup::MODP_3072),
    ("modp4096", KeGroup::MODP_4096),
    ("modp6144", KeGroup::MODP_6144),
    ("modp8192", KeGroup::MODP_8192),
    ("modp1024s160", KeGroup::MODP_1024_160),
    ("modp2048s224", KeGroup::MODP_2048_224),
    ("modp2048s256", KeGroup::MODP_2048_256),
    ("ecp256", KeGroup::ECP_256),
    ("ecp384", KeGroup::ECP_384),
    ("ecp521", KeGroup::ECP_521),
    ("ecp192", KeGroup::ECP_192),
    ("ecp224", KeGroup::ECP_224),
    ("ecp224bp", KeGroup::BRAINPOOL_P224R1),
    ("ecp256bp", KeGroup::BRAINPOOL_P256R1),
    ("ecp384bp", KeGroup::BRAINPOOL_P384R1),
    ("ecp512bp", KeGroup::BRAINPOOL_P512R1),
    ("x25519", KeGroup::CURVE25519),
    ("curve25519", KeGroup::CURVE25519),
    ("x448", KeGroup::CURVE448),
    ("curve448", KeGroup::CURVE448),
];

fn push_unique(v: &mut Vec<Transform>, t: Transform) {
    if !v.contains(&t) {
        v.push(t);
    }
}

impl Proposal {
    /// Parses a proposal in strongSwan's syntax: `-`-separated keywords for encryption
    /// (`aes128`, `aes256`, `aes128gcm16`, `aes256gcm16`, `aes128ctr`, `chacha20poly1305`,
    /// `null`, …), integrity (`sha1`, `sha256`, `sha384`, `sha512`, `aesxcbc`, `aescmac`), PRF
    /// (`prfsha256`, …), key exchange (`modp2048`, `ecp256`, `x25519`/`curve25519`, …) and ESN
    /// (`esn`, `noesn`), in any order; several of one type are alternatives in preference
    /// order.
    ///
    /// For IKE without an explicit PRF, each integrity algorithm implies the PRF on the same
    /// hash (strongSwan's behaviour); an AEAD IKE proposal needs an explicit PRF. For ESP
    /// without an ESN keyword, `noesn` is added (an ESP proposal must carry an ESN transform).
    /// DES, 3DES and MD5 are refused with the reason. The proposal is number 1 with no SPI.
    pub fn from_strongswan(s: &str, protocol: ProtocolId) -> Result<Proposal, Error> {
        let mut encr = Vec::new();
        let mut integ = Vec::new();
        let mut implied_prf = Vec::new();
        let mut prf = Vec::new();
        let mut ke = Vec::new();
        let mut esn = Vec::new();
        for word in s.trim().split('-') {
            let w = word.trim().to_ascii_lowercase();
            if let Some((id, bits)) = parse_encr(&w)? {
                push_unique(&mut encr, Transform::encr(id, bits));
            } else if let Some((_, i, p)) = INTEG_WORDS.iter().find(|(n, _, _)| *n == w) {
                push_unique(&mut integ, Transform::integ(*i));
                push_unique(&mut implied_prf, Transform::prf(*p));
            } else if let Some((_, p)) = PRF_WORDS.iter().find(|(n, _)| *n == w) {
                push_unique(&mut prf, Transform::prf(*p));
            } else if let Some((_, g)) = KE_WORDS.iter().find(|(n, _)| *n == w) {
                push_unique(&mut ke, Transform::ke(*g));
            } else if w == "esn" {
                push_unique(&mut esn, Transform::esn(EsnId::YES));
            } else if w == "noesn" {
                push_unique(&mut esn, Transform::esn(EsnId::NO));
            } else if w == "md5" || w == "prfmd5" {
                return Err(reject("MD5", MD5_REASON));
            } else {
                return Err(Error::UnknownKeyword(word.to_owned()));
            }
        }
        if encr.is_empty() {
            return Err(Error::InvalidProposal("no encryption algorithm"));
        }
        let all_aead = encr.iter().all(|t| is_aead(EncrId(t.transform_id)));
        let any_aead = encr.iter().any(|t| is_aead(EncrId(t.transform_id)));
        if any_aead && !all_aead {
            return Err(Error::InvalidProposal(
                "AEAD and non-AEAD encryption cannot share a proposal",
            ));
        }
        if all_aead && !integ.is_empty() {
            return Err(Error::InvalidProposal(
                "an AEAD algorithm takes no integrity algorithm",
            ));
        }
        if !all_aead && integ.is_empty() && encr.iter().all(|t| t.transform_id != EncrId::NULL.0) {
            return Err(Error::InvalidProposal("no integrity algorithm"));
        }
        // Wire order by transform type number (ENCR, PRF, INTEG, KE, ESN), as Cisco sends.
        let mut transforms = encr;
        match protocol {
            ProtocolId::IKE => {
                if prf.is_empty() {
                    prf = implied_prf;
                }
                if prf.is_empty() {
                    return Err(Error::InvalidProposal(
                        "an AEAD IKE proposal needs an explicit PRF (e.g. prfsha256)",
                    ));
                }
                if ke.is_empty() {
                    return Err(Error::InvalidProposal(
                        "an IKE proposal needs a key exchange",
                    ));
                }
                if !esn.is_empty() {
                    return Err(Error::InvalidProposal("ESN is not an IKE transform"));
                }
                transforms.extend(prf);
                transforms.extend(integ);
                transforms.extend(ke);
            }
            _ => {
                if !prf.is_empty() {
                    return Err(Error::InvalidProposal("a PRF is an IKE-only transform"));
                }
                transforms.extend(integ);
                transforms.extend(ke);
                if esn.is_empty() {
                    esn.push(Transform::esn(EsnId::NO));
                }
                transforms.extend(esn);
            }
        }
        Ok(Proposal {
            number: 1,
            protocol_id: protocol,
            spi: Vec::new(),
            transforms,
        })
    }

    /// Parses a comma-separated list of proposals in strongSwan's syntax
    /// (`aes128-sha256-modp3072,aes128-sha256-modp2048`), each as
    /// [`Proposal::from_strongswan`], into several proposals in the order given, numbered from
    /// 1. An empty entry (`a,,b`, a trailing comma) is refused.
    pub fn list_from_strongswan(s: &str, protocol: ProtocolId) -> Result<Vec<Proposal>, Error> {
        let mut v = Vec::new();
        for (i, entry) in s.split(',').enumerate() {
            if entry.trim().is_empty() {
                return Err(Error::InvalidProposal("empty entry in a proposal list"));
            }
            let mut p = Proposal::from_strongswan(entry, protocol)?;
            p.number = u8::try_from(i + 1)
                .map_err(|_| Error::InvalidProposal("more than 255 proposals"))?;
            v.push(p);
        }
        Ok(v)
    }

    /// Prints the proposal in strongSwan's syntax: encryption, integrity, PRF (omitted for IKE
    /// when it is exactly what the integrity algorithms imply), key exchange, ESN (omitted for
    /// ESP when it is only `noesn`). Transforms without a keyword print as `TYPE_ID` (for
    /// example `ENCR_1234`), which [`Proposal::from_strongswan`] does not accept.
    pub fn to_strongswan(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        let ids = |ty: TransformType| -> Vec<&Transform> { self.of_type(ty).collect() };
        for t in ids(TransformType::ENCR) {
            let id = EncrId(t.transform_id);
            words.push(
                encr_keyword(id, t.key_length())
                    .unwrap_or_else(|| format!("ENCR_{}", t.transform_id)),
            );
        }
        let mut implied = Vec::new();
        for t in ids(TransformType::INTEG) {
            match INTEG_WORDS.iter().find(|(_, i, _)| i.0 == t.transform_id) {
                Some((w, _, p)) => {
                    words.push((*w).to_owned());
                    if !implied.contains(p) {
                        implied.push(*p);
                    }
                }
                None => words.push(format!("INTEG_{}", t.transform_id)),
            }
        }
        let prfs: Vec<PrfId> = ids(TransformType::PRF)
            .iter()
            .map(|t| PrfId(t.transform_id))
            .collect();
        if !(self.protocol_id == ProtocolId::IKE && prfs == implied) {
            for p in prfs {
                match PRF_WORDS.iter().find(|(_, id)| *id == p) {
                    Some((w, _)) => words.push((*w).to_owned()),
                    None => words.push(format!("PRF_{}", p.0)),
                }
            }
        }
        for t in ids(TransformType::KE) {
            match KE_WORDS.iter().find(|(_, g)| g.0 == t.transform_id) {
                Some((w, _)) => words.push((*w).to_owned()),
                None => words.push(format!("KE_{}", t.transform_id)),
            }
        }
        let esns: Vec<u16> = ids(TransformType::ESN)
            .iter()
            .map(|t| t.transform_id)
            .collect();
        if !(self.protocol_id != ProtocolId::IKE && esns == [EsnId::NO.0]) {
            for e in esns {
                words.push(match EsnId(e) {
                    EsnId::YES => "esn".into(),
                    EsnId::NO => "noesn".into(),
                    _ => format!("ESN_{e}"),
                });
            }
        }
        words.join("-")
    }
}

impl fmt::Display for Proposal {
    /// strongSwan syntax, see [`Proposal::to_strongswan`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strongswan())
    }
}

impl PrfId {
    /// The HMAC of the `esp` provider that computes this PRF (its full output is the PRF
    /// output), for the PRFs this crate implements: HMAC-SHA1 and HMAC-SHA2-256/384/512.
    /// PRF_HMAC_MD5 is refused with the reason.
    pub fn hmac(self) -> Result<IntegrityAlgorithm, Error> {
        match self {
            PrfId::HMAC_SHA1 => Ok(IntegrityAlgorithm::HmacSha1_96),
            PrfId::HMAC_SHA2_256 => Ok(IntegrityAlgorithm::HmacSha256_128),
            PrfId::HMAC_SHA2_384 => Ok(IntegrityAlgorithm::HmacSha384_192),
            PrfId::HMAC_SHA2_512 => Ok(IntegrityAlgorithm::HmacSha512_256),
            PrfId::HMAC_MD5 => Err(reject("PRF_HMAC_MD5", MD5_REASON)),
            other => Err(Error::UnsupportedTransform(other.to_string())),
        }
    }

    /// Output length in bytes, which is also the preferred key length (RFC 7296 §2.13) of
    /// SK_d, SK_pi and SK_pr; 0 for PRFs this crate does not implement.
    pub fn output_len(self) -> usize {
        self.hmac().map_or(0, IntegrityAlgorithm::output_len)
    }
}

/// An IKE SA's negotiated algorithms: what key derivation and SK protection need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IkeSuite {
    /// Encryption (AES-CBC or AES-GCM-16; the `esp` type, shared with ESP).
    pub encryption: EncryptionAlgorithm,
    /// Integrity (an HMAC for AES-CBC, [`IntegrityAlgorithm::None`] for AES-GCM).
    pub integrity: IntegrityAlgorithm,
    /// The PRF.
    pub prf: PrfId,
    /// The key exchange group.
    pub group: KeGroup,
}

impl IkeSuite {
    /// A suite, checked: AES-GCM without integrity, AES-CBC with an HMAC, no NULL encryption,
    /// a PRF this crate implements.
    pub fn new(
        encryption: EncryptionAlgorithm,
        integrity: IntegrityAlgorithm,
        prf: PrfId,
        group: KeGroup,
    ) -> Result<Self, Error> {
        if encryption == EncryptionAlgorithm::Null {
            return Err(Error::InvalidProposal("IKE SAs must be encrypted"));
        }
        dmvpn_esp::Suite::new(encryption, integrity)?;
        prf.hmac()?;
        Ok(IkeSuite {
            encryption,
            integrity,
            prf,
            group,
        })
    }

    /// The first transform of each type of a (chosen) IKE proposal.
    pub fn from_proposal(p: &Proposal) -> Result<Self, Error> {
        let first = |ty| {
            p.of_type(ty)
                .next()
                .ok_or(Error::InvalidProposal("proposal lacks a transform type"))
        };
        let e = first(TransformType::ENCR)?;
        let encryption = EncryptionAlgorithm::from_ikev2(e.transform_id, e.key_length())?;
        let integrity = match p.of_type(TransformType::INTEG).next() {
            Some(t) => IntegrityAlgorithm::from_ikev2(t.transform_id)?,
            None => IntegrityAlgorithm::None,
        };
        let prf = PrfId(first(TransformType::PRF)?.transform_id);
        let group = KeGroup(first(TransformType::KE)?.transform_id);
        Self::new(encryption, integrity, prf, group)
    }

    /// Parses a strongSwan IKE proposal and takes the first algorithm of each type.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Self::from_proposal(&Proposal::from_strongswan(s, ProtocolId::IKE)?)
    }

    /// The proposal offering exactly this suite.
    pub fn to_proposal(&self) -> Proposal {
        let (id, bits) = self.encryption.ikev2_id();
        let mut transforms = vec![Transform::encr(EncrId(id), bits), Transform::prf(self.prf)];
        if self.integrity != IntegrityAlgorithm::None {
            transforms.push(Transform::integ(IntegId(self.integrity.ikev2_id())));
        }
        transforms.push(Transform::ke(self.group));
        Proposal {
            number: 1,
            protocol_id: ProtocolId::IKE,
            spi: Vec::new(),
            transforms,
        }
    }

    /// Length of SK_d, SK_pi and SK_pr: the PRF's preferred key length (§2.13).
    pub fn prf_key_len(&self) -> usize {
        self.prf.output_len()
    }

    /// Length of SK_ai and SK_ar (0 for AEAD).
    pub fn integ_key_len(&self) -> usize {
        self.integrity.key_len()
    }

    /// Length of SK_ei and SK_er: the cipher key, plus the 4-byte salt for AES-GCM
    /// (RFC 5282 §7.1).
    pub fn encr_key_len(&self) -> usize {
        self.encryption.keymat_len()
    }
}

impl fmt::Display for IkeSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_proposal().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comma_list_is_several_proposals_in_order() {
        let list = Proposal::list_from_strongswan(
            "aes128-sha256-modp3072,aes128-sha256-modp2048",
            ProtocolId::IKE,
        )
        .unwrap();
        let words: Vec<String> = list.iter().map(Proposal::to_strongswan).collect();
        assert_eq!(words, ["aes128-sha256-modp3072", "aes128-sha256-modp2048"]);
        let numbers: Vec<u8> = list.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [1, 2]);
        // Spaces around the commas, and ESP lists, too.
        let esp =
            Proposal::list_from_strongswan("aes256gcm16 , aes128-sha256", ProtocolId::ESP).unwrap();
        assert_eq!(esp.len(), 2);
        assert_eq!(esp[1].to_strongswan(), "aes128-sha256");
        assert_eq!(esp[1].number, 2);
    }

    #[test]
    fn a_comma_list_names_the_bad_word_and_refuses_empty_entries() {
        assert_eq!(
            Proposal::list_from_strongswan(
                "aes128-sha256-modp2048,aes128-sha256-modp9",
                ProtocolId::IKE
            ),
            Err(Error::UnknownKeyword("modp9".into()))
        );
        assert!(matches!(
            Proposal::list_from_strongswan("aes128-sha256-modp2048,", ProtocolId::IKE),
            Err(Error::InvalidProposal(_))
        ));
        // A single proposal is a list of one.
        assert_eq!(
            Proposal::list_from_strongswan("aes128-sha256-x25519", ProtocolId::IKE).unwrap(),
            vec![Proposal::from_strongswan("aes128-sha256-x25519", ProtocolId::IKE).unwrap()]
        );
    }
}
