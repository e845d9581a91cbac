//! ESP transforms: encryption and integrity algorithms, their IKEv2 identifiers and the legacy
//! transforms this crate refuses.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// An ESP encryption transform (IKEv2 transform type 1).
///
/// Supported: AES-GCM with a 16-octet ICV (RFC 4106), AES-CBC with 128-, 192- and 256-bit
/// keys (RFC 3602) and NULL (RFC 2410, only together with an integrity algorithm). DES and
/// 3DES are refused: see [`EncryptionAlgorithm::from_ikev2`] and the [`FromStr`] impl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncryptionAlgorithm {
    /// AES-128-GCM, 16-octet ICV, 4-byte salt (RFC 4106). Combined mode: no integrity algorithm.
    AesGcm128,
    /// AES-256-GCM, 16-octet ICV, 4-byte salt (RFC 4106). Combined mode: no integrity algorithm.
    AesGcm256,
    /// AES-128-CBC with an explicit 16-byte IV (RFC 3602).
    AesCbc128,
    /// AES-192-CBC with an explicit 16-byte IV (RFC 3602): Cisco's `esp-aes 192` and IKEv1's
    /// `encryption aes 192`.
    AesCbc192,
    /// AES-256-CBC with an explicit 16-byte IV (RFC 3602).
    AesCbc256,
    /// No encryption (RFC 2410): integrity only, for debugging.
    Null,
}

impl EncryptionAlgorithm {
    /// All supported encryption algorithms.
    pub const ALL: [EncryptionAlgorithm; 6] = [
        Self::AesGcm128,
        Self::AesGcm256,
        Self::AesCbc128,
        Self::AesCbc192,
        Self::AesCbc256,
        Self::Null,
    ];

    /// Whether this is a combined-mode (AEAD) algorithm that brings its own integrity.
    pub const fn is_aead(self) -> bool {
        matches!(self, Self::AesGcm128 | Self::AesGcm256)
    }

    /// Length of the cipher key in bytes (for GCM without the 4-byte salt).
    pub const fn key_len(self) -> usize {
        match self {
            Self::AesGcm128 | Self::AesCbc128 => 16,
            Self::AesCbc192 => 24,
            Self::AesGcm256 | Self::AesCbc256 => 32,
            Self::Null => 0,
        }
    }

    /// Length of the keying material taken from KEYMAT (RFC 7296 §2.17): the key, plus the
    /// 4-byte salt for GCM (RFC 4106 §8.1).
    pub const fn keymat_len(self) -> usize {
        match self {
            Self::AesGcm128 | Self::AesGcm256 => self.key_len() + 4,
            _ => self.key_len(),
        }
    }

    /// Length of the explicit IV carried in each packet.
    pub const fn iv_len(self) -> usize {
        match self {
            Self::AesGcm128 | Self::AesGcm256 => 8,
            Self::AesCbc128 | Self::AesCbc192 | Self::AesCbc256 => 16,
            Self::Null => 0,
        }
    }

    /// Block size the encrypted part (payload + padding + 2) must be a multiple of
    /// (RFC 4303 §2.4: at least 4).
    pub const fn block_len(self) -> usize {
        match self {
            Self::AesCbc128 | Self::AesCbc192 | Self::AesCbc256 => 16,
            _ => 4,
        }
    }

    /// Length of the combined-mode ICV (16 for GCM, 0 otherwise).
    pub const fn aead_icv_len(self) -> usize {
        if self.is_aead() { 16 } else { 0 }
    }

    /// The IKEv2 transform ID (IANA "Transform Type 1") and key length attribute in bits.
    pub const fn ikev2_id(self) -> (u16, Option<u16>) {
        match self {
            Self::AesGcm128 => (20, Some(128)),
            Self::AesGcm256 => (20, Some(256)),
            Self::AesCbc128 => (12, Some(128)),
            Self::AesCbc192 => (12, Some(192)),
            Self::AesCbc256 => (12, Some(256)),
            Self::Null => (11, None),
        }
    }

    /// Maps an IKEv2 transform ID and key length to an algorithm; DES (2) and 3DES (3) are
    /// rejected with the reason.
    pub fn from_ikev2(id: u16, key_bits: Option<u16>) -> Result<Self, Error> {
        match (id, key_bits) {
            (1 | 2, _) => Err(reject_des()),
            (3, _) => Err(reject_3des()),
            (11, None) => Ok(Self::Null),
            (12, Some(128)) => Ok(Self::AesCbc128),
            (12, Some(192)) => Ok(Self::AesCbc192),
            (12, Some(256)) => Ok(Self::AesCbc256),
            (20, Some(128)) => Ok(Self::AesGcm128),
            (20, Some(256)) => Ok(Self::AesGcm256),
            _ => Err(Error::UnknownAlgorithm(format!(
                "ENCR transform {id} key length {key_bits:?}"
            ))),
        }
    }

    /// Wireshark's name for the algorithm in its `esp_sa` table.
    pub const fn wireshark_name(self) -> &'static str {
        match self {
            Self::AesGcm128 | Self::AesGcm256 => "AES-GCM with 16 octet ICV [RFC4106]",
            Self::AesCbc128 | Self::AesCbc192 | Self::AesCbc256 => "AES-CBC [RFC3602]",
            Self::Null => "NULL",
        }
    }

    /// Name as in this crate's [`FromStr`] / [`Display`](fmt::Display).
    pub const fn name(self) -> &'static str {
        match self {
            Self::AesGcm128 => "aes128gcm16",
            Self::AesGcm256 => "aes256gcm16",
            Self::AesCbc128 => "aes128",
            Self::AesCbc192 => "aes192",
            Self::AesCbc256 => "aes256",
            Self::Null => "null",
        }
    }
}

impl fmt::Display for EncryptionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn reject_des() -> Error {
    Error::RejectedAlgorithm {
        name: "DES",
        reason: "56-bit key, broken by exhaustive search; RFC 8221 says MUST NOT",
    }
}
fn reject_3des() -> Error {
    Error::RejectedAlgorithm {
        name: "3DES",
        reason: "64-bit block (Sweet32 birthday attacks) and slow; RFC 8221 deprecates it, use AES",
    }
}
fn reject_md5() -> Error {
    Error::RejectedAlgorithm {
        name: "HMAC-MD5-96",
        reason: "MD5 is broken and RFC 8221 says MUST NOT; use HMAC-SHA-256-128",
    }
}

impl FromStr for EncryptionAlgorithm {
    type Err = Error;

    /// Accepts strongSwan proposal keywords (`aes128`, `aes192`, `aes256`, `aes128gcm16`,
    /// `aes256gcm16`, `null`) and Cisco transform names (`esp-aes`, `esp-aes 192`,
    /// `esp-aes 256`, `esp-gcm`, `esp-gcm 256`, `esp-null`). `des`, `3des`, `esp-des`,
    /// `esp-3des` are rejected with the reason.
    fn from_str(s: &str) -> Result<Self, Error> {
        let norm = s.trim().to_ascii_lowercase();
        match norm.as_str() {
            "aes128gcm16" | "aes128gcm" | "esp-gcm" | "esp-gcm 128" => Ok(Self::AesGcm128),
            "aes256gcm16" | "aes256gcm" | "esp-gcm 256" => Ok(Self::AesGcm256),
            "aes128" | "aes" | "esp-aes" | "esp-aes 128" => Ok(Self::AesCbc128),
            "aes192" | "esp-aes 192" => Ok(Self::AesCbc192),
            "aes256" | "esp-aes 256" => Ok(Self::AesCbc256),
            "null" | "esp-null" => Ok(Self::Null),
            "des" | "esp-des" => Err(reject_des()),
            "3des" | "esp-3des" => Err(reject_3des()),
            _ => Err(Error::UnknownAlgorithm(s.to_owned())),
        }
    }
}

/// An ESP integrity transform (IKEv2 transform type 3).
///
/// HMAC-SHA-256-128, HMAC-SHA-384-192 and HMAC-SHA-512-256 (RFC 4868), and HMAC-SHA-1-96
/// (RFC 2404) because it is the seeds' `esp-sha-hmac` and Cisco's default. HMAC-MD5-96 is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrityAlgorithm {
    /// No separate integrity: only valid with a combined-mode (AEAD) encryption algorithm.
    None,
    /// HMAC-SHA-1-96 (RFC 2404): 20-byte key, 12-byte ICV.
    HmacSha1_96,
    /// HMAC-SHA-256-128 (RFC 4868): 32-byte key, 16-byte ICV.
    HmacSha256_128,
    /// HMAC-SHA-384-192 (RFC 4868): 48-byte key, 24-byte ICV.
    HmacSha384_192,
    /// HMAC-SHA-512-256 (RFC 4868): 64-byte key, 32-byte ICV.
    HmacSha512_256,
}

impl IntegrityAlgorithm {
    /// All HMAC algorithms (without `None`).
    pub const ALL_HMAC: [IntegrityAlgorithm; 4] = [
        Self::HmacSha1_96,
        Self::HmacSha256_128,
        Self::HmacSha384_192,
        Self::HmacSha512_256,
    ];

    /// Key length in bytes (RFC 4868 §2.1.1: equal to the hash output).
    pub const fn key_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::HmacSha1_96 => 20,
            Self::HmacSha256_128 => 32,
            Self::HmacSha384_192 => 48,
            Self::HmacSha512_256 => 64,
        }
    }

    /// Length of the full HMAC output (what a PRF would use).
    pub const fn output_len(self) -> usize {
        self.key_len()
    }

    /// Length of the truncated ICV carried in each packet.
    pub const fn icv_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::HmacSha1_96 => 12,
            Self::HmacSha256_128 => 16,
            Self::HmacSha384_192 => 24,
            Self::HmacSha512_256 => 32,
        }
    }

    /// The IKEv2 transform ID (IANA "Transform Type 3").
    pub const fn ikev2_id(self) -> u16 {
        match self {
            Self::None => 0,
            Self::HmacSha1_96 => 2,
            Self::HmacSha256_128 => 12,
            Self::HmacSha384_192 => 13,
            Self::HmacSha512_256 => 14,
        }
    }

    /// Maps an IKEv2 integrity transform ID; HMAC-MD5-96 (1) is rejected with the reason.
    pub fn from_ikev2(id: u16) -> Result<Self, Error> {
        match id {
            0 => Ok(Self::None),
            1 => Err(reject_md5()),
            2 => Ok(Self::HmacSha1_96),
            12 => Ok(Self::HmacSha256_128),
            13 => Ok(Self::HmacSha384_192),
            14 => Ok(Self::HmacSha512_256),
            _ => Err(Error::UnknownAlgorithm(format!("INTEG transform {id}"))),
        }
    }

    /// Wireshark's name for the algorithm in its `esp_sa` table.
    pub const fn wireshark_name(self) -> &'static str {
        match self {
            Self::None => "NULL",
            Self::HmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
            Self::HmacSha256_128 => "HMAC-SHA-256-128 [RFC4868]",
            Self::HmacSha384_192 => "HMAC-SHA-384-192 [RFC4868]",
            Self::HmacSha512_256 => "HMAC-SHA-512-256 [RFC4868]",
        }
    }

    /// Name as in this crate's [`FromStr`] / [`Display`](fmt::Display).
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::HmacSha1_96 => "sha1",
            Self::HmacSha256_128 => "sha256",
            Self::HmacSha384_192 => "sha384",
            Self::HmacSha512_256 => "sha512",
        }
    }
}

impl fmt::Display for IntegrityAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IntegrityAlgorithm {
    type Err = Error;

    /// Accepts strongSwan keywords (`sha1`, `sha256`, `sha384`, `sha512`) and Cisco names
    /// (`esp-sha-hmac`, `esp-sha256-hmac`, `esp-sha384-hmac`, `esp-sha512-hmac`); `md5` and
    /// `esp-md5-hmac` are rejected with the reason.
    fn from_str(s: &str) -> Result<Self, Error> {
        let norm = s.trim().to_ascii_lowercase();
        match norm.as_str() {
            "none" => Ok(Self::None),
            "sha1" | "sha" | "esp-sha-hmac" => Ok(Self::HmacSha1_96),
            "sha256" | "sha2_256" | "esp-sha256-hmac" => Ok(Self::HmacSha256_128),
            "sha384" | "sha2_384" | "esp-sha384-hmac" => Ok(Self::HmacSha384_192),
            "sha512" | "sha2_512" | "esp-sha512-hmac" => Ok(Self::HmacSha512_256),
            "md5" | "esp-md5-hmac" => Err(reject_md5()),
            _ => Err(Error::UnknownAlgorithm(s.to_owned())),
        }
    }
}

/// A complete ESP transform: encryption plus integrity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Suite {
    /// The encryption algorithm.
    pub encryption: EncryptionAlgorithm,
    /// The integrity algorithm; [`IntegrityAlgorithm::None`] exactly when `encryption` is AEAD.
    pub integrity: IntegrityAlgorithm,
}

impl Suite {
    /// Builds a suite, checking that AEAD goes without, and everything else with, an HMAC
    /// (NULL encryption without integrity is forbidden by RFC 4303 §3.2).
    pub fn new(
        encryption: EncryptionAlgorithm,
        integrity: IntegrityAlgorithm,
    ) -> Result<Self, Error> {
        match (encryption.is_aead(), integrity) {
            (true, IntegrityAlgorithm::None) => Ok(Self {
                encryption,
                integrity,
            }),
            (true, _) => Err(Error::InvalidConfig(
                "a combined-mode (GCM) algorithm takes no separate integrity algorithm",
            )),
            (false, IntegrityAlgorithm::None) => Err(Error::InvalidConfig(
                "AES-CBC and NULL encryption need an integrity algorithm",
            )),
            (false, _) => Ok(Self {
                encryption,
                integrity,
            }),
        }
    }

    /// Parses a Cisco transform set (`"esp-aes 256 esp-sha256-hmac"`, `"esp-gcm 256"`) or a
    /// strongSwan ESP proposal (`"aes128-sha256"`, `"aes256gcm16"`, key-exchange parts ignored).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.to_ascii_lowercase().starts_with("esp-") {
            let mut enc = None;
            let mut integ = IntegrityAlgorithm::None;
            let mut words = s.split_whitespace().peekable();
            while let Some(w) = words.next() {
                let lw = w.to_ascii_lowercase();
                if lw.ends_with("-hmac") {
                    integ = lw.parse()?;
                } else {
                    let mut name = lw;
                    if let Some(bits) = words.peek().filter(|b| b.parse::<u16>().is_ok()) {
                        name = format!("{name} {bits}");
                        words.next();
                    }
                    enc = Some(name.parse::<EncryptionAlgorithm>()?);
                }
            }
            let enc = enc.ok_or(Error::InvalidConfig("transform set without encryption"))?;
            Self::new(enc, integ)
        } else {
            let mut parts = s.split('-');
            let enc: EncryptionAlgorithm = parts.next().unwrap_or_default().parse()?;
            let integ = if enc.is_aead() {
                IntegrityAlgorithm::None
            } else {
                parts
                    .next()
                    .ok_or(Error::InvalidConfig("proposal without integrity"))?
                    .parse()?
            };
            Self::new(enc, integ)
        }
    }

    /// Length of the ICV carried at the end of each packet.
    pub const fn icv_len(&self) -> usize {
        self.encryption.aead_icv_len() + self.integrity.icv_len()
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.encryption.is_aead() {
            write!(f, "{}", self.encryption)
        } else {
            write!(f, "{}-{}", self.encryption, self.integrity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_transforms_are_rejected_with_reason() {
        for s in [
            "esp-des esp-sha-hmac",
            "esp-3des esp-sha-hmac",
            "esp-aes esp-md5-hmac",
            "3des-sha1",
            "aes128-md5",
        ] {
            match Suite::parse(s) {
                Err(Error::RejectedAlgorithm { reason, .. }) => assert!(!reason.is_empty()),
                other => panic!("{s}: {other:?}"),
            }
        }
        assert!(matches!(
            EncryptionAlgorithm::from_ikev2(3, None),
            Err(Error::RejectedAlgorithm { name: "3DES", .. })
        ));
        assert!(matches!(
            EncryptionAlgorithm::from_ikev2(2, None),
            Err(Error::RejectedAlgorithm { name: "DES", .. })
        ));
        assert!(matches!(
            IntegrityAlgorithm::from_ikev2(1),
            Err(Error::RejectedAlgorithm {
                name: "HMAC-MD5-96",
                ..
            })
        ));
        let msg = Suite::parse("esp-3des").unwrap_err().to_string();
        assert!(msg.contains("3DES") && msg.contains("Sweet32"), "{msg}");
    }

    #[test]
    fn parses_cisco_and_strongswan_names() {
        let s = Suite::parse("esp-aes esp-sha-hmac").unwrap();
        assert_eq!(
            s,
            Suite {
                encryption: EncryptionAlgorithm::AesCbc128,
                integrity: IntegrityAlgorithm::HmacSha1_96
            }
        );
        let s = Suite::parse("esp-aes 256 esp-sha256-hmac").unwrap();
        assert_eq!(
            s,
            Suite {
                encryption: EncryptionAlgorithm::AesCbc256,
                integrity: IntegrityAlgorithm::HmacSha256_128
            }
        );
        assert_eq!(
            Suite::parse("esp-gcm 256").unwrap().encryption,
            EncryptionAlgorithm::AesGcm256
        );
        assert_eq!(
            Suite::parse("aes256gcm16-x25519").unwrap().encryption,
            EncryptionAlgorithm::AesGcm256
        );
        let s = Suite::parse("aes128-sha256-modp2048").unwrap();
        assert_eq!(s.integrity, IntegrityAlgorithm::HmacSha256_128);
        assert!(Suite::parse("null").is_err());
        assert!(
            Suite::new(
                EncryptionAlgorithm::AesGcm128,
                IntegrityAlgorithm::HmacSha256_128
            )
            .is_err()
        );
        for e in EncryptionAlgorithm::ALL {
            let (id, bits) = e.ikev2_id();
            assert_eq!(EncryptionAlgorithm::from_ikev2(id, bits).unwrap(), e);
            assert_eq!(e.name().parse::<EncryptionAlgorithm>().unwrap(), e);
        }
        for i in IntegrityAlgorithm::ALL_HMAC {
            assert_eq!(IntegrityAlgorithm::from_ikev2(i.ikev2_id()).unwrap(), i);
            assert_eq!(i.name().parse::<IntegrityAlgorithm>().unwrap(), i);
        }
    }
}
