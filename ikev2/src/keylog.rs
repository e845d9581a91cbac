//! Key-log rows: an IKE SA's keys as a row of Wireshark's IKEv2 decryption table, for
//! decrypting a capture with tshark.
//!
//! # These rows contain secret keys
//!
//! **A row holds the IKE SA's encryption and integrity keys (SK_ei, SK_er, SK_ai, SK_ar) in
//! clear.** Anyone who reads it can decrypt the IKE SA's messages (identities, traffic
//! selectors, the child SAs' nonces) and forge new ones. It exists only for an explicit,
//! opt-in key log that an operator asked for (a `--keylog FILE` flag, a debug setting that is
//! off by default), to debug or to check interoperability against a capture; never write one
//! by default, never log it at any log level, never send it anywhere. Nothing in this crate
//! calls it. The returned `String` is not zeroized: write it out and drop it; wrap it in
//! [`zeroize::Zeroizing`] if it has to stay in memory.
//!
//! The format is tshark's `-o` option value for the `ikev2_decryption_table` (one line, no
//! newline):
//!
//! ```text
//! uat:ikev2_decryption_table:<SPIi, 16 hex digits>,<SPIr>,<SK_ei hex>,<SK_er hex>,"AES-CBC-128 [RFC3602]",<SK_ai hex>,<SK_ar hex>,"HMAC_SHA2_256_128 [RFC4868]"
//! ```
//!
//! The ESP SAs' rows come from [`dmvpn_esp::keylog::esp_sa_row`].

use core::fmt::Write;

use dmvpn_esp::{EncryptionAlgorithm, IntegrityAlgorithm};

use crate::keys::IkeSaKeys;
use crate::transform::IkeSuite;

/// The `uat:ikev2_decryption_table:` row (tshark `-o` option value, without a newline) for the
/// IKE SA with SPIs `spi_i` / `spi_r`, suite `suite` and keys `keys`: the two SPIs, SK_ei and
/// SK_er (AES-GCM keys with their 4-byte salt), Wireshark's name of the encryption algorithm,
/// SK_ai and SK_ar (empty for AES-GCM), Wireshark's name of the integrity algorithm.
///
/// **The row contains the IKE SA's secret keys in clear**: only for an explicit, opt-in key
/// log (see the [module documentation](self)).
pub fn ike_sa_row(spi_i: u64, spi_r: u64, suite: &IkeSuite, keys: &IkeSaKeys) -> String {
    let secret_len = keys.sk_ei.len() + keys.sk_er.len() + keys.sk_ai.len() + keys.sk_ar.len();
    // One allocation of the final size: no partial copies of the keys left behind by a regrowth.
    let mut row = String::with_capacity(200 + 2 * secret_len);
    // Writing into a String cannot fail.
    let _ = write!(row, "uat:ikev2_decryption_table:{spi_i:016x},{spi_r:016x},");
    push_hex(&mut row, keys.sk_ei.as_bytes());
    row.push(',');
    push_hex(&mut row, keys.sk_er.as_bytes());
    let _ = write!(row, ",\"{}\",", wireshark_encr(suite.encryption));
    push_hex(&mut row, keys.sk_ai.as_bytes());
    row.push(',');
    push_hex(&mut row, keys.sk_ar.as_bytes());
    let _ = write!(row, ",\"{}\"", wireshark_integ(suite.integrity));
    row
}

/// Wireshark's name of an IKEv2 encryption algorithm in its decryption table.
fn wireshark_encr(e: EncryptionAlgorithm) -> &'static str {
    match e {
        EncryptionAlgorithm::AesCbc128 => "AES-CBC-128 [RFC3602]",
        EncryptionAlgorithm::AesCbc192 => "AES-CBC-192 [RFC3602]",
        EncryptionAlgorithm::AesCbc256 => "AES-CBC-256 [RFC3602]",
        EncryptionAlgorithm::AesGcm128 => "AES-GCM-128 with 16 octet ICV [RFC5282]",
        EncryptionAlgorithm::AesGcm256 => "AES-GCM-256 with 16 octet ICV [RFC5282]",
        EncryptionAlgorithm::Null => "NONE [RFC2410]",
    }
}

/// Wireshark's name of an IKEv2 integrity algorithm in its decryption table.
fn wireshark_integ(i: IntegrityAlgorithm) -> &'static str {
    match i {
        IntegrityAlgorithm::None => "NONE [RFC4306]",
        IntegrityAlgorithm::HmacSha256_128 => "HMAC_SHA2_256_128 [RFC4868]",
        IntegrityAlgorithm::HmacSha384_192 => "HMAC_SHA2_384_192 [RFC4868]",
        IntegrityAlgorithm::HmacSha512_256 => "HMAC_SHA2_512_256 [RFC4868]",
        IntegrityAlgorithm::HmacSha1_96 => "HMAC_SHA1_96 [RFC2404]",
    }
}

/// Appends `bytes` in lowercase hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    /// The row as `examples/src/bin/ipsec-peer.rs` formatted it before it called this module.
    fn ipsec_peer_row(spi_i: u64, spi_r: u64, suite: &IkeSuite, k: &IkeSaKeys) -> String {
        fn hex(b: &[u8]) -> String {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
        fn wireshark_ike_encr(s: &IkeSuite) -> &'static str {
            use dmvpn_esp::EncryptionAlgorithm as E;
            match s.encryption {
                E::AesCbc128 => "AES-CBC-128 [RFC3602]",
                E::AesCbc192 => "AES-CBC-192 [RFC3602]",
                E::AesCbc256 => "AES-CBC-256 [RFC3602]",
                E::AesGcm128 => "AES-GCM-128 with 16 octet ICV [RFC5282]",
                E::AesGcm256 => "AES-GCM-256 with 16 octet ICV [RFC5282]",
                E::Null => "NONE [RFC2410]",
            }
        }
        fn wireshark_ike_integ(s: &IkeSuite) -> &'static str {
            use dmvpn_esp::IntegrityAlgorithm as I;
            match s.integrity {
                I::None => "NONE [RFC4306]",
                I::HmacSha256_128 => "HMAC_SHA2_256_128 [RFC4868]",
                I::HmacSha384_192 => "HMAC_SHA2_384_192 [RFC4868]",
                I::HmacSha512_256 => "HMAC_SHA2_512_256 [RFC4868]",
                I::HmacSha1_96 => "HMAC_SHA1_96 [RFC2404]",
            }
        }
        format!(
            "uat:ikev2_decryption_table:{:016x},{:016x},{},{},\"{}\",{},{},\"{}\"",
            spi_i,
            spi_r,
            hex(k.sk_ei.as_bytes()),
            hex(k.sk_er.as_bytes()),
            wireshark_ike_encr(suite),
            hex(k.sk_ai.as_bytes()),
            hex(k.sk_ar.as_bytes()),
            wireshark_ike_integ(suite),
        )
    }

    /// Fixed keys of the right lengths for `suite`, each byte telling which key it is.
    fn keys(suite: &IkeSuite) -> IkeSaKeys {
        let key = |tag: u8, len: usize| {
            Secret::new((0..len).map(|i| tag.wrapping_add(i as u8)).collect())
        };
        let (p, i, e) = (
            suite.prf_key_len(),
            suite.integ_key_len(),
            suite.encr_key_len(),
        );
        IkeSaKeys {
            sk_d: key(0xd0, p),
            sk_ai: key(0xa0, i),
            sk_ar: key(0xb0, i),
            sk_ei: key(0x10, e),
            sk_er: key(0x20, e),
            sk_pi: key(0x30, p),
            sk_pr: key(0x40, p),
        }
    }

    #[test]
    fn ike_rows_are_byte_identical_to_ipsec_peers() {
        let cbc = IkeSuite::parse("aes128-sha256-modp2048").unwrap();
        assert_eq!(
            ike_sa_row(0x0123_4567_89ab_cdef, 0x42, &cbc, &keys(&cbc)),
            "uat:ikev2_decryption_table:0123456789abcdef,0000000000000042,\
             101112131415161718191a1b1c1d1e1f,202122232425262728292a2b2c2d2e2f,\
             \"AES-CBC-128 [RFC3602]\",\
             a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf,\
             b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf,\
             \"HMAC_SHA2_256_128 [RFC4868]\""
        );
        let gcm = IkeSuite::parse("aes256gcm16-prfsha256-x25519").unwrap();
        assert_eq!(
            ike_sa_row(1, u64::MAX, &gcm, &keys(&gcm)),
            "uat:ikev2_decryption_table:0000000000000001,ffffffffffffffff,\
             101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233,\
             202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243,\
             \"AES-GCM-256 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\""
        );
        for proposal in [
            "aes128-sha256-modp2048",
            "aes256-sha384-ecp384",
            "aes256-sha512-modp4096",
            "aes128-sha1-modp2048",
            "aes128gcm16-prfsha256-x25519",
            "aes256gcm16-prfsha384-ecp256",
        ] {
            let suite = IkeSuite::parse(proposal).unwrap();
            let k = keys(&suite);
            for (spi_i, spi_r) in [(0, 0), (0x1111_2222_3333_4444, 0xfedc_ba98_7654_3210)] {
                assert_eq!(
                    ike_sa_row(spi_i, spi_r, &suite, &k),
                    ipsec_peer_row(spi_i, spi_r, &suite, &k),
                    "{proposal}"
                );
            }
        }
    }
}
