//! Key-log rows: an ESP SA's keys as a row of Wireshark's ESP SA table, for decrypting a
//! capture with tshark.
//!
//! # These rows contain secret keys
//!
//! **A row holds the SA's encryption and integrity keys in clear.** Anyone who reads it can
//! decrypt and forge the SA's traffic. It exists only for an explicit, opt-in key log that an
//! operator asked for (a `--keylog FILE` flag, a debug setting that is off by default), to
//! debug or to check interoperability against a capture; never write one by default, never
//! log it at any log level, never send it anywhere. Nothing in this crate calls it. The
//! returned `String` is not zeroized: write it out and drop it; wrap it in
//! [`zeroize::Zeroizing`] if it has to stay in memory.
//!
//! The format is tshark's `-o` option value for the `esp_sa` table (one line, no newline):
//!
//! ```text
//! uat:esp_sa:"IPv4","198.51.100.1","203.0.113.9","0x0000abcd","AES-GCM with 16 octet ICV [RFC4106]","0x<key and salt>","NULL",""
//! ```
//!
//! i.e. `tshark -o 'uat:esp_sa:…' -o esp.enable_encryption_dissection:TRUE -r capture.pcap`
//! decrypts that SA's packets. IKE SAs have their own rows in `dmvpn_ikev2::keylog`.

use core::fmt::Write;
use std::net::IpAddr;

use crate::SaConfig;

/// The `uat:esp_sa:` row (tshark `-o` option value, without a newline) for the SA `sa` carrying
/// traffic from `src` to `dst`: address family, source, destination, SPI, Wireshark's names of
/// the encryption and integrity algorithms ([`crate::EncryptionAlgorithm::wireshark_name`],
/// [`crate::IntegrityAlgorithm::wireshark_name`]) and the two keys in hex (the AES-GCM key with
/// its 4-byte salt; an empty integrity key, as for AES-GCM, is an empty field).
///
/// **The row contains the SA's secret keys in clear**: only for an explicit, opt-in key log
/// (see the [module documentation](self)).
pub fn esp_sa_row(src: IpAddr, dst: IpAddr, sa: &SaConfig) -> String {
    row(src.is_ipv6(), &src, &dst, sa)
}

/// [`esp_sa_row`] with both addresses wildcarded (`*`): the SA is found by its SPI alone. For
/// an SA through a NAT (ESP in UDP), whose packets carry a private address on one side of the
/// NAT box and a public one on the other, so that a capture shows addresses that neither
/// peer's own view of the SA names.
///
/// **The row contains the SA's secret keys in clear**: only for an explicit, opt-in key log
/// (see the [module documentation](self)).
pub fn esp_sa_row_any_address(ipv6: bool, sa: &SaConfig) -> String {
    row(ipv6, &"*", &"*", sa)
}

fn row(
    ipv6: bool,
    src: &dyn core::fmt::Display,
    dst: &dyn core::fmt::Display,
    sa: &SaConfig,
) -> String {
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    let (ek, ik) = (sa.keys.encryption(), sa.keys.integrity());
    // One allocation of the final size: no partial copies of the keys left behind by a regrowth.
    let mut row = String::with_capacity(200 + 2 * (ek.len() + ik.len()));
    // Writing into a String cannot fail.
    let _ = write!(
        row,
        "uat:esp_sa:\"{family}\",\"{src}\",\"{dst}\",\"0x{:08x}\",\"{}\",\"0x",
        sa.spi,
        sa.suite.encryption.wireshark_name(),
    );
    push_hex(&mut row, ek);
    let _ = write!(row, "\",\"{}\",\"", sa.suite.integrity.wireshark_name());
    if !ik.is_empty() {
        row.push_str("0x");
        push_hex(&mut row, ik);
    }
    row.push('"');
    row
}

/// Appends `bytes` in lowercase hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::crypto::{ChaChaRandom, rustcrypto};
    use crate::{EncryptionAlgorithm, IntegrityAlgorithm, SaKeys, Suite};

    /// The row as `examples/src/bin/ipsec-peer.rs` formatted it before it called this module.
    fn ipsec_peer_row(src: IpAddr, dst: IpAddr, sa: &SaConfig) -> String {
        fn hex(b: &[u8]) -> String {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
        let fam = if src.is_ipv4() { "IPv4" } else { "IPv6" };
        let auth_key = if sa.keys.integrity().is_empty() {
            String::new()
        } else {
            format!("0x{}", hex(sa.keys.integrity()))
        };
        format!(
            "uat:esp_sa:\"{fam}\",\"{src}\",\"{dst}\",\"0x{:08x}\",\"{}\",\"0x{}\",\"{}\",\"{}\"",
            sa.spi,
            sa.suite.encryption.wireshark_name(),
            hex(sa.keys.encryption()),
            sa.suite.integrity.wireshark_name(),
            auth_key,
        )
    }

    fn sa(spi: u32, suite: Suite) -> SaConfig {
        let ek: Vec<u8> = (0..suite.encryption.keymat_len() as u8).collect();
        let ik: Vec<u8> = (0..suite.integrity.key_len() as u8)
            .map(|i| 0xf0 ^ i)
            .collect();
        let provider = rustcrypto::provider(Arc::new(ChaChaRandom::from_seed([1; 32])));
        SaConfig::new(spi, suite, SaKeys::new(&ek, &ik), provider)
    }

    #[test]
    fn a_wildcard_row_names_no_address() {
        let gcm = sa(0xc1a5_0001, Suite::parse("aes128gcm16").unwrap());
        assert_eq!(
            esp_sa_row_any_address(false, &gcm),
            "uat:esp_sa:\"IPv4\",\"*\",\"*\",\"0xc1a50001\",\
             \"AES-GCM with 16 octet ICV [RFC4106]\",\"0x000102030405060708090a0b0c0d0e0f10111213\",\
             \"NULL\",\"\""
        );
        assert!(esp_sa_row_any_address(true, &gcm).starts_with("uat:esp_sa:\"IPv6\",\"*\",\"*\","));
    }

    #[test]
    fn esp_rows_are_byte_identical_to_ipsec_peers() {
        let v4 = ("10.231.7.1".parse().unwrap(), "10.231.7.2".parse().unwrap());
        let gcm = sa(0xc1a5_0001, Suite::parse("aes128gcm16").unwrap());
        assert_eq!(
            esp_sa_row(v4.0, v4.1, &gcm),
            "uat:esp_sa:\"IPv4\",\"10.231.7.1\",\"10.231.7.2\",\"0xc1a50001\",\
             \"AES-GCM with 16 octet ICV [RFC4106]\",\"0x000102030405060708090a0b0c0d0e0f10111213\",\
             \"NULL\",\"\""
        );
        let cbc = sa(0x42, Suite::parse("aes256-sha256").unwrap());
        let v6 = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8:0:1::2".parse().unwrap(),
        );
        assert_eq!(
            esp_sa_row(v6.0, v6.1, &cbc),
            "uat:esp_sa:\"IPv6\",\"2001:db8::1\",\"2001:db8:0:1::2\",\"0x00000042\",\
             \"AES-CBC [RFC3602]\",\
             \"0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\",\
             \"HMAC-SHA-256-128 [RFC4868]\",\
             \"0xf0f1f2f3f4f5f6f7f8f9fafbfcfdfeffe0e1e2e3e4e5e6e7e8e9eaebecedeeef\""
        );
        // Every suite, both families: the same bytes as before.
        let mut suites = vec![
            Suite::new(EncryptionAlgorithm::AesGcm128, IntegrityAlgorithm::None).unwrap(),
            Suite::new(EncryptionAlgorithm::AesGcm256, IntegrityAlgorithm::None).unwrap(),
        ];
        for e in [
            EncryptionAlgorithm::AesCbc128,
            EncryptionAlgorithm::AesCbc192,
            EncryptionAlgorithm::AesCbc256,
            EncryptionAlgorithm::Null,
        ] {
            for i in IntegrityAlgorithm::ALL_HMAC {
                suites.push(Suite::new(e, i).unwrap());
            }
        }
        for (n, s) in suites.iter().enumerate() {
            let cfg = sa(n as u32 + 1, *s);
            for (src, dst) in [v4, v6] {
                assert_eq!(
                    esp_sa_row(src, dst, &cfg),
                    ipsec_peer_row(src, dst, &cfg),
                    "{s}"
                );
            }
        }
    }
}
