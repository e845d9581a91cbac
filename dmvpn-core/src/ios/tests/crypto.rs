//! The `crypto` lines: each to its field, the notes, and the refusals with what to use.

use super::{err, ok};
use crate::config::{CryptoConfig, Dpd, IdentityConfig, IpsecMode};

/// A hub's complete crypto; each case below changes one thing.
pub(super) const CRYPTO: &str = "\
crypto ikev2 proposal PROP
 encryption aes-gcm-256
 prf sha256
 group 19
crypto ikev2 policy POL
 proposal PROP
crypto ikev2 keyring KEYS
 peer ANY
  address 0.0.0.0 0.0.0.0
  pre-shared-key cisco123
crypto ikev2 profile IKE
 match identity remote address 0.0.0.0 0.0.0.0
 authentication local pre-share
 authentication remote pre-share
 keyring local KEYS
crypto ipsec transform-set TS esp-gcm 256
 mode transport
crypto ipsec profile DMVPN
 set transform-set TS
 set ikev2-profile IKE
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 ip nhrp network-id 99
 ip nhrp map multicast dynamic
 tunnel source 172.17.0.1
 tunnel mode gre multipoint
 tunnel protection ipsec profile DMVPN
";

fn crypto_with(replace: &str, by: &str) -> String {
    assert!(CRYPTO.contains(replace), "{replace}");
    CRYPTO.replacen(replace, by, 1)
}

#[test]
fn each_crypto_line_sets_its_field() {
    type Check = fn(&CryptoConfig) -> bool;
    let table: &[(&str, &str, Check)] = &[
        (" mode transport\n", " mode tunnel\n", |c| {
            c.transform_sets[0].mode == IpsecMode::Tunnel
        }),
        (
            "crypto ipsec transform-set TS esp-gcm 256",
            "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac",
            |c| c.transform_sets[0].transforms == "esp-aes 256 esp-sha256-hmac",
        ),
        (
            " set transform-set TS\n",
            " set transform-set TS TS2\ncrypto ipsec transform-set TS2 esp-aes esp-sha-hmac\ncrypto ipsec profile DMVPN\n",
            |c| c.ipsec_profiles[0].transform_sets == ["TS", "TS2"],
        ),
        (
            " set ikev2-profile IKE\n",
            " set ikev2-profile IKE\n set pfs group19\n",
            |c| c.ipsec_profiles[0].pfs == Some(19),
        ),
        (
            " set ikev2-profile IKE\n",
            " set ikev2-profile IKE\n set security-association lifetime seconds 120\n",
            |c| c.ipsec_profiles[0].lifetime_seconds == Some(120),
        ),
        (
            " set ikev2-profile IKE\n",
            " set ikev2-profile IKE\n set security-association lifetime kilobytes 10000\n",
            |c| c.ipsec_profiles[0].lifetime_kilobytes == Some(10000),
        ),
        (
            "crypto ipsec profile DMVPN\n",
            "crypto ipsec security-association lifetime seconds 1800\ncrypto ipsec profile DMVPN\n",
            |c| c.ipsec_profiles[0].lifetime_seconds == Some(1800),
        ),
        (" group 19\n", " group 19 14\n", |c| {
            c.ikev2.proposals == ["encryption aes-gcm-256 prf sha256 group 19 14"]
        }),
        (" prf sha256\n", " prf sha384\n", |c| {
            c.ikev2.proposals == ["encryption aes-gcm-256 prf sha384 group 19"]
        }),
        (
            "crypto ikev2 policy POL\n proposal PROP\n",
            "crypto ikev2 policy POL\n proposal PROP\n proposal CBC\ncrypto ikev2 proposal CBC\n encryption aes-cbc-128\n integrity sha1\n group 14\n",
            |c| {
                c.ikev2.proposals.get(1).map(String::as_str)
                    == Some("encryption aes-cbc-128 integrity sha1 group 14")
            },
        ),
        (
            "  address 0.0.0.0 0.0.0.0\n",
            "  address 10.1.0.0 255.255.0.0\n",
            |c| c.ikev2.keyring[0].address == Some("10.1.0.0/16".parse().unwrap()),
        ),
        (
            "  address 0.0.0.0 0.0.0.0\n",
            "  identity fqdn spoke.example.com\n",
            |c| {
                c.ikev2.keyring[0].identity
                    == Some(IdentityConfig::Fqdn("spoke.example.com".into()))
            },
        ),
        (
            "  pre-shared-key cisco123\n",
            "  pre-shared-key local k2\n  pre-shared-key remote k2\n",
            |c| c.ikev2.keyring[0].pre_shared_key.expose() == b"k2",
        ),
        (
            "  pre-shared-key cisco123\n",
            "  pre-shared-key 0 k3\n",
            |c| c.ikev2.keyring[0].pre_shared_key.expose() == b"k3",
        ),
        (
            " keyring local KEYS\n",
            " keyring local KEYS\n identity local fqdn hub.example.com\n",
            |c| c.ikev2.local_identity == Some(IdentityConfig::Fqdn("hub.example.com".into())),
        ),
        (
            " keyring local KEYS\n",
            " keyring local KEYS\n identity local address\n",
            |c| c.ikev2.local_identity == Some(IdentityConfig::Address(None)),
        ),
        (
            " keyring local KEYS\n",
            " keyring local KEYS\n dpd 10 3 on-demand\n",
            |c| {
                c.ikev2.dpd
                    == Some(Dpd {
                        interval: 10,
                        retry: 3,
                    })
            },
        ),
        (
            " keyring local KEYS\n",
            " keyring local KEYS\n lifetime 3600\n",
            |c| c.ikev2.lifetime_seconds == 3600,
        ),
        (
            " keyring local KEYS\n",
            " keyring local KEYS\n nat keepalive 30\n",
            |c| c.ikev2.nat_keepalive_seconds == 30,
        ),
        (
            "crypto ipsec transform-set",
            "crypto ikev2 dpd 30 5 on-demand\ncrypto ipsec transform-set",
            |c| {
                c.ikev2.dpd
                    == Some(Dpd {
                        interval: 30,
                        retry: 5,
                    })
            },
        ),
        (
            "crypto ipsec transform-set",
            "crypto ikev2 nat keepalive 60\ncrypto ipsec transform-set",
            |c| c.ikev2.nat_keepalive_seconds == 60,
        ),
        (
            "crypto ipsec transform-set",
            "crypto ikev2 limit max-sa 100\ncrypto ipsec transform-set",
            |c| c.call_admission.max_sa == Some(100),
        ),
        (
            "crypto ipsec transform-set",
            "crypto call admission limit ike sa 50\ncrypto ipsec transform-set",
            |c| c.call_admission.max_sa == Some(50),
        ),
        (
            "crypto ipsec transform-set",
            "crypto call admission limit ike in-negotiation-sa 10\ncrypto ipsec transform-set",
            |c| c.call_admission.max_in_negotiation == Some(10),
        ),
        (
            "crypto ipsec transform-set",
            "crypto ikev2 limit max-in-negotiation-sa 20\ncrypto ipsec transform-set",
            |c| c.call_admission.max_in_negotiation == Some(20),
        ),
    ];
    let base = ok(CRYPTO).config.crypto;
    assert_eq!(
        base.ikev2.proposals,
        ["encryption aes-gcm-256 prf sha256 group 19"]
    );
    assert_eq!(base.ikev2.keyring.len(), 1);
    assert_eq!(base.ipsec_profiles[0].transform_sets, ["TS"]);
    assert_eq!(base.transform_sets[0].mode, IpsecMode::Transport);
    for (replace, by, check) in table {
        assert!(!check(&base), "{by}: already true without it");
        let p = ok(&crypto_with(replace, by));
        assert!(check(&p.config.crypto), "{by}: {:#?}", p.config.crypto);
    }
}

#[test]
fn crypto_lines_that_are_notes() {
    for (replace, by, noted) in [
        (
            " keyring local KEYS\n",
            " keyring local KEYS\n dpd 10 3 periodic\n",
            "dpd 10 3 periodic",
        ),
        (
            " keyring local KEYS\n",
            " keyring local KEYS\n match fvrf any\n",
            "match fvrf any",
        ),
        (
            "\n proposal PROP\n",
            "\n proposal PROP\n match address local 172.17.0.1\n",
            "match address local 172.17.0.1",
        ),
        (
            "crypto ikev2 policy POL",
            "crypto ikev2 proposal SPARE\n encryption aes-cbc-256\n integrity sha256\n group 14\ncrypto ikev2 policy POL",
            "crypto ikev2 proposal SPARE",
        ),
        (
            "crypto ipsec profile",
            "crypto ikev2 keyring SPARE\ncrypto ipsec profile",
            "crypto ikev2 keyring SPARE",
        ),
        (
            "crypto ipsec profile",
            "crypto ikev2 profile SPARE\ncrypto ipsec profile",
            "crypto ikev2 profile SPARE",
        ),
        (
            " keyring local KEYS\n",
            " keyring local KEYS\n dpd 10 3 on-demand\ncrypto ikev2 dpd 20 3 on-demand\n",
            "crypto ikev2 dpd 20 3 on-demand",
        ),
    ] {
        let p = ok(&crypto_with(replace, by));
        let n = p.notes.iter().find(|n| n.text == noted);
        assert!(n.is_some(), "{noted}: {:#?}", p.notes);
    }
    // The wildcard remote identity is a note too.
    assert!(
        ok(CRYPTO)
            .notes
            .iter()
            .any(|n| n.text.starts_with("match identity remote"))
    );
}

#[test]
fn crypto_refusals_say_what_to_use() {
    for (replace, by, line, why) in [
        (
            "crypto ikev2 policy POL",
            "crypto isakmp policy 1\n encryption aes 256\n authentication pre-share\n group 14\n hash md5\ncrypto ikev2 policy POL",
            "hash md5",
            "hash md5 is refused (MD5 is broken, RFC 8247): use hash sha256",
        ),
        (
            "crypto ikev2 policy POL",
            "crypto isakmp key cisco47 hostname spoke1\ncrypto ikev2 policy POL",
            "crypto isakmp key <redacted> hostname spoke1",
            "a key by host name is not supported",
        ),
        (
            "crypto ikev2 policy POL",
            "crypto keyring OLD\n pre-shared-key address 0.0.0.0 key x\ncrypto ikev2 policy POL",
            "crypto keyring OLD",
            "crypto keyring is not supported: give IKEv1 keys as crypto isakmp key KEY address A MASK",
        ),
        (
            "crypto ikev2 policy POL",
            "crypto map vpnmap1 10 ipsec-isakmp\n set peer 172.17.0.1\n match address 101\ncrypto ikev2 policy POL",
            "crypto map vpnmap1 10 ipsec-isakmp",
            "tunnel protection ipsec profile NAME",
        ),
        (
            "crypto ikev2 policy POL",
            "crypto pki trustpoint CA\n enrollment terminal\ncrypto ikev2 policy POL",
            "crypto pki trustpoint CA",
            "use pre-shared keys",
        ),
        (
            "crypto ipsec transform-set TS esp-gcm 256",
            "crypto ipsec transform-set TS esp-3des esp-sha-hmac",
            "crypto ipsec transform-set TS esp-3des esp-sha-hmac",
            "esp-3des is refused (DES and 3DES are broken or deprecated, RFC 8221): use esp-gcm 256 or esp-aes 256",
        ),
        (
            "crypto ipsec transform-set TS esp-gcm 256",
            "crypto ipsec transform-set TS esp-aes 256",
            "crypto ipsec transform-set TS esp-aes 256",
            "integrity",
        ),
        (
            " encryption aes-gcm-256\n",
            " encryption 3des\n",
            "encryption 3des",
            "encryption 3des is refused (broken or deprecated, RFC 8247): use aes-gcm-256 or aes-cbc-256",
        ),
        (
            " prf sha256\n",
            " integrity md5\n",
            "integrity md5",
            "md5 is refused (broken, RFC 8247): use sha256",
        ),
        (
            " group 19\n",
            " group 2\n",
            "group 2",
            "group 2 is refused (too small for today, RFC 8247): use group 14, 19, 20 or 31",
        ),
        (
            " prf sha256\n",
            "",
            "crypto ikev2 proposal PROP",
            "needs `prf`",
        ),
        (
            " set ikev2-profile IKE\n",
            " set ikev2-profile IKE\n set pfs group5\n",
            "set pfs group5",
            "group 5 is refused",
        ),
        (
            " set ikev2-profile IKE\n",
            " set ikev2-profile IKE\n set pfs\n",
            "set pfs",
            "set pfs without a group is group 1: group 1 is refused",
        ),
        (
            " set ikev2-profile IKE\n",
            " set ikev2-profile IKE\n set isakmp-profile OLD\n",
            "set isakmp-profile OLD",
            "set isakmp-profile is not supported",
        ),
        (
            " set ikev2-profile IKE\n",
            " set ikev2-profile NONE\n",
            "set ikev2-profile NONE",
            "no crypto ikev2 profile NONE",
        ),
        (
            " keyring local KEYS\n",
            "",
            "crypto ikev2 profile IKE",
            "needs keyring local NAME",
        ),
        (
            " keyring local KEYS\n",
            " keyring local NONE\n",
            "keyring local NONE",
            "no crypto ikev2 keyring NONE",
        ),
        (
            "\n proposal PROP\n",
            "\n proposal NONE\n",
            "proposal NONE",
            "no crypto ikev2 proposal NONE",
        ),
        (
            " match identity remote address 0.0.0.0 0.0.0.0\n",
            " match identity remote address 10.0.0.0 255.0.0.0\n",
            "match identity remote address 10.0.0.0 255.0.0.0",
            "restrict peers there",
        ),
        (
            " match identity remote address 0.0.0.0 0.0.0.0\n",
            " match identity remote fqdn domain example.com\n",
            "match identity remote fqdn domain example.com",
            "restricting peers",
        ),
        (
            " authentication local pre-share\n",
            " authentication local rsa-sig\n",
            "authentication local rsa-sig",
            "only pre-share",
        ),
        (
            "  pre-shared-key cisco123\n",
            "  pre-shared-key local a\n  pre-shared-key remote b\n",
            "pre-shared-key remote <redacted>",
            "different local and remote keys",
        ),
        (
            "  pre-shared-key cisco123\n",
            "  pre-shared-key 6 ABCD\n",
            "pre-shared-key 6 <redacted>",
            "give it in clear",
        ),
        (
            "  pre-shared-key cisco123\n",
            "",
            "peer ANY",
            "peer ANY has no pre-shared-key",
        ),
        (
            " tunnel protection ipsec profile DMVPN\n",
            " tunnel protection ipsec profile OTHER\n",
            "tunnel protection ipsec profile OTHER",
            "no crypto ipsec profile \"OTHER\"",
        ),
        (
            "crypto ikev2 keyring KEYS\n",
            "crypto ikev2 keyring KEYS\n address 1.2.3.4\n",
            "address 1.2.3.4",
            "start with peer NAME",
        ),
        (
            "crypto ipsec transform-set",
            "crypto ikev2 cookie-challenge 10\ncrypto ipsec transform-set",
            "crypto ikev2 cookie-challenge 10",
            "not supported",
        ),
    ] {
        let text = crypto_with(replace, by);
        let e = err(&text);
        assert_eq!(e.problems.len(), 1, "{by}: {e}");
        assert_eq!(e.problems[0].text, line, "{e}");
        assert!(e.problems[0].message.contains(why), "{why}: {e}");
        assert!(!e.to_string().contains("cisco"), "{e}");
    }
    // Two IPsec profiles of protected tunnels naming different IKEv2 profiles.
    let text = format!(
        "{CRYPTO}crypto ikev2 profile IKE2\n keyring local KEYS\ncrypto ipsec profile OTHER\n set ikev2-profile IKE2\n\
         interface Tunnel1\n ip address 10.1.0.1 255.255.255.0\n ip nhrp network-id 100\n tunnel source 172.17.0.1\n\
         \u{20}tunnel mode gre multipoint\n tunnel key 2\n tunnel protection ipsec profile OTHER shared\n"
    );
    let e = err(&text);
    assert!(
        e.problems
            .iter()
            .any(|p| p.text == "set ikev2-profile IKE2"
                && p.message.contains("one IKEv2 configuration")),
        "{e}"
    );
}
