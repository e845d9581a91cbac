//! The `crypto isakmp` lines (IKEv1): each to its field, the notes, and the refusals with
//! what to use.

use super::{err, ok};
use crate::config::{DpdMode, IkeVersion, IsakmpConfig, IsakmpEncryption, IsakmpHash};

/// A hub protected with IKEv1; each case below changes one thing.
const V1: &str = "\
crypto isakmp policy 10
 encryption aes 256
 hash sha256
 authentication pre-share
 group 14
crypto isakmp key cisco123 address 0.0.0.0 0.0.0.0
crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac
 mode transport
crypto ipsec profile DMVPN
 set transform-set TS
interface Tunnel0
 ip address 10.0.0.1 255.255.255.0
 ip nhrp network-id 99
 ip nhrp map multicast dynamic
 tunnel source 172.17.0.1
 tunnel mode gre multipoint
 tunnel protection ipsec profile DMVPN
";

fn v1_with(replace: &str, by: &str) -> String {
    assert!(V1.contains(replace), "{replace}");
    V1.replacen(replace, by, 1)
}

#[test]
fn each_isakmp_line_sets_its_field() {
    type Check = fn(&IsakmpConfig) -> bool;
    let table: &[(&str, &str, Check)] = &[
        (" encryption aes 256\n", " encryption aes\n", |c| {
            c.policies[0].encryption == IsakmpEncryption::Aes128
        }),
        (" encryption aes 256\n", " encryption aes 128\n", |c| {
            c.policies[0].encryption == IsakmpEncryption::Aes128
        }),
        (" encryption aes 256\n", " encryption aes 192\n", |c| {
            c.policies[0].encryption == IsakmpEncryption::Aes192
        }),
        (" hash sha256\n", " hash sha\n", |c| {
            c.policies[0].hash == IsakmpHash::Sha1
        }),
        // IOS's default hash is SHA-1.
        (" hash sha256\n", "", |c| {
            c.policies[0].hash == IsakmpHash::Sha1
        }),
        (" hash sha256\n", " hash sha384\n", |c| {
            c.policies[0].hash == IsakmpHash::Sha384
        }),
        (" hash sha256\n", " hash sha512\n", |c| {
            c.policies[0].hash == IsakmpHash::Sha512
        }),
        (" group 14\n", " group 19\n", |c| c.policies[0].group == 19),
        (" group 14\n", " group 21\n", |c| c.policies[0].group == 21),
        (" group 14\n", " group 14\n lifetime 3600\n", |c| {
            c.policies[0].lifetime_seconds == 3600
        }),
        (
            "crypto isakmp policy 10\n",
            "crypto isakmp policy 5\n encryption aes 128\n authentication pre-share\n group 19\ncrypto isakmp policy 10\n",
            |c| {
                c.policies.len() == 2
                    && c.policies_by_priority()[0].priority == 5
                    && c.policies[0].priority == 5
            },
        ),
        (
            "0.0.0.0 0.0.0.0\n",
            "0.0.0.0 0.0.0.0\ncrypto isakmp key hubkey address 172.17.0.2\n",
            |c| {
                c.keys.get(1).map(|k| k.address) == Some("172.17.0.2/32".parse().unwrap())
                    && c.key_for("172.17.0.2".parse().unwrap())
                        .map(|k| k.key.expose())
                        == Some(&b"hubkey"[..])
                    && c.key_for("172.17.0.3".parse().unwrap())
                        .map(|k| k.key.expose())
                        == Some(&b"cisco123"[..])
            },
        ),
        (
            "0.0.0.0 0.0.0.0\n",
            "0.0.0.0 0.0.0.0\ncrypto isakmp key k2 address 10.1.0.0 255.255.0.0 no-xauth\n",
            |c| c.keys.get(1).map(|k| k.address) == Some("10.1.0.0/16".parse().unwrap()),
        ),
        (
            "0.0.0.0 0.0.0.0\n",
            "0.0.0.0 0.0.0.0\ncrypto isakmp key k6 address ipv6 2001:db8::/32\n",
            |c| c.keys.get(1).map(|k| k.address) == Some("2001:db8::/32".parse().unwrap()),
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp keepalive 10\ncrypto ipsec transform-set",
            |c| {
                c.keepalive
                    .is_some_and(|k| (k.interval, k.retry, k.mode) == (10, 2, DpdMode::OnDemand))
            },
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp keepalive 30 5 periodic\ncrypto ipsec transform-set",
            |c| {
                c.keepalive
                    .is_some_and(|k| (k.interval, k.retry, k.mode) == (30, 5, DpdMode::Periodic))
            },
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp keepalive 30 on-demand\ncrypto ipsec transform-set",
            |c| {
                c.keepalive
                    .is_some_and(|k| (k.interval, k.retry, k.mode) == (30, 2, DpdMode::OnDemand))
            },
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp nat keepalive 20\ncrypto ipsec transform-set",
            |c| c.nat_keepalive_seconds == Some(20),
        ),
        (
            " group 14\n",
            " group 5\ncrypto isakmp legacy-groups\n",
            |c| c.legacy_groups && c.policies[0].group == 5,
        ),
    ];
    let base = ok(V1).config.crypto;
    assert_eq!(base.ipsec_profiles[0].ike, IkeVersion::Ikev1);
    assert_eq!(base.isakmp.policies.len(), 1);
    assert_eq!(base.isakmp.keys.len(), 1);
    for (replace, by, check) in table {
        assert!(!check(&base.isakmp), "{by}: already true without it");
        let p = ok(&v1_with(replace, by));
        assert!(
            check(&p.config.crypto.isakmp),
            "{by}: {:#?}",
            p.config.crypto.isakmp
        );
    }
    // `address 0.0.0.0` without a mask is the wildcard too, as in IOS.
    assert!(base.isakmp.keys[0].is_wildcard());
    let no_mask = ok(&v1_with("address 0.0.0.0 0.0.0.0\n", "address 0.0.0.0\n"));
    assert_eq!(no_mask.config.crypto.isakmp, base.isakmp);
    // `key 0 KEY`: the key in clear, type 0.
    let typed = ok(&v1_with("key cisco123", "key 0 cisco123"));
    assert_eq!(typed.config.crypto.isakmp, base.isakmp);
}

#[test]
fn isakmp_lines_that_are_notes_or_the_default() {
    for (by, noted) in [
        (
            "crypto isakmp aggressive-mode disable\n",
            Some("crypto isakmp aggressive-mode disable"),
        ),
        (
            "no crypto isakmp default policy\n",
            Some("no crypto isakmp default policy"),
        ),
        ("crypto isakmp identity address\n", None),
    ] {
        let text = format!("{by}{V1}");
        let p = ok(&text);
        let notes: Vec<&str> = p.notes.iter().map(|n| n.text.as_str()).collect();
        assert_eq!(notes, noted.into_iter().collect::<Vec<_>>(), "{by}");
    }
    // With every protected tunnel on IKEv2, the crypto isakmp lines have no effect.
    let text = format!(
        "crypto isakmp policy 10\n encryption aes 256\n authentication pre-share\n group 19\n\
         crypto isakmp key k address 0.0.0.0 0.0.0.0\n{}",
        super::crypto::CRYPTO
    );
    let p = ok(&text);
    let unused: Vec<usize> = p
        .notes
        .iter()
        .filter(|n| n.why.contains("negotiates IKEv1"))
        .map(|n| n.line)
        .collect();
    assert_eq!(unused, [1, 5]);
}

#[test]
fn isakmp_refusals_say_what_to_use() {
    for (replace, by, line, why) in [
        (
            " encryption aes 256\n",
            " encryption des\n",
            "encryption des",
            "encryption des is refused (DES is broken, RFC 8247): use encryption aes 256",
        ),
        (
            " encryption aes 256\n",
            " encryption 3des\n",
            "encryption 3des",
            "encryption 3des is refused (3DES is deprecated, RFC 8247): use encryption aes 256",
        ),
        (
            " encryption aes 256\n",
            "",
            "crypto isakmp policy 10",
            "no encryption line: IOS's default is encryption des, and encryption des is refused (DES is broken, RFC 8247): add encryption aes 256",
        ),
        (
            " encryption aes 256\n",
            " encryption aes 512\n",
            "encryption aes 512",
            "AES keys are 128, 192 or 256 bits",
        ),
        (
            " hash sha256\n",
            " hash md5\n",
            "hash md5",
            "hash md5 is refused (MD5 is broken, RFC 8247): use hash sha256",
        ),
        (
            " authentication pre-share\n",
            " authentication rsa-sig\n",
            "authentication rsa-sig",
            "authentication rsa-sig is not supported (only pre-shared keys are): use authentication pre-share",
        ),
        (
            " authentication pre-share\n",
            " authentication rsa-encr\n",
            "authentication rsa-encr",
            "use authentication pre-share",
        ),
        (
            " authentication pre-share\n",
            "",
            "crypto isakmp policy 10",
            "no authentication line: IOS's default is authentication rsa-sig, and authentication rsa-sig is not supported (only pre-shared keys are): add authentication pre-share",
        ),
        (
            " group 14\n",
            " group 2\n",
            "group 2",
            "group 2 is a legacy group (1024-bit MODP, too small for today, RFC 8247): use group 14 or 19, or add the line crypto isakmp legacy-groups",
        ),
        (
            " group 14\n",
            "",
            "crypto isakmp policy 10",
            "no group line: IOS's default is group 1, and group 1 is a legacy group (768-bit MODP",
        ),
        (
            " group 14\n",
            " group 24\ncrypto isakmp legacy-groups\n",
            "group 24",
            "group 24 is not supported (2048-bit MODP with a 224-bit subgroup, which the crypto provider does not implement): use group 14",
        ),
        (
            " group 14\n",
            " group 14\n lifetime 30\n",
            "lifetime 30",
            "30 s is outside 60..=86400",
        ),
        (
            " group 14\n",
            " group 14\n encryption aes 128\n",
            "encryption aes 128",
            "already given on line 2",
        ),
        (
            " group 14\n",
            " group 14\n prf sha256\n",
            "prf sha256",
            "not supported in an ISAKMP policy",
        ),
        (
            "crypto isakmp policy 10\n",
            "crypto isakmp policy 0\n",
            "crypto isakmp policy 0",
            "priority 0 is outside 1..=10000",
        ),
        (
            "0.0.0.0 0.0.0.0\n",
            "0.0.0.0 0.0.0.0\ncrypto isakmp key other address 0.0.0.0\n",
            "crypto isakmp key <redacted> address 0.0.0.0",
            "a key for 0.0.0.0/0 is already given on line 6",
        ),
        (
            "crypto isakmp key cisco123 address 0.0.0.0 0.0.0.0\n",
            "crypto isakmp key 6 cisco123 address 0.0.0.0 0.0.0.0\n",
            "crypto isakmp key 6 <redacted> address 0.0.0.0 0.0.0.0",
            "give it in clear",
        ),
        (
            "0.0.0.0 0.0.0.0\n",
            "0.0.0.0 0.0.0.0\ncrypto isakmp key cisco123 address 10.0.0.1 255.0.255.0\n",
            "crypto isakmp key <redacted> address 10.0.0.1 255.0.255.0",
            "not a contiguous netmask",
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp keepalive 5\ncrypto ipsec transform-set",
            "crypto isakmp keepalive 5",
            "5 s is outside 10..=3600",
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp keepalive 10 3 sometimes\ncrypto ipsec transform-set",
            "crypto isakmp keepalive 10 3 sometimes",
            "expected crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand]",
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp nat keepalive 4\ncrypto ipsec transform-set",
            "crypto isakmp nat keepalive 4",
            "4 s is outside 5..=3600",
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp invalid-spi-recovery\ncrypto ipsec transform-set",
            "crypto isakmp invalid-spi-recovery",
            "not supported",
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp identity hostname\ncrypto ipsec transform-set",
            "crypto isakmp identity hostname",
            "only crypto isakmp identity address is supported",
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp profile P\n match identity address 0.0.0.0\ncrypto ipsec transform-set",
            "crypto isakmp profile P",
            "ISAKMP profiles are not supported",
        ),
        (
            "crypto ipsec transform-set",
            "crypto isakmp xauth timeout 10\ncrypto ipsec transform-set",
            "crypto isakmp xauth timeout 10",
            "this crypto isakmp setting is not supported",
        ),
        (
            "crypto ipsec transform-set",
            "no crypto isakmp ccm\ncrypto ipsec transform-set",
            "no crypto isakmp ccm",
            "turning this crypto isakmp setting off is not supported",
        ),
        (
            " set transform-set TS\n",
            " set transform-set TS\n set pfs\n",
            "set pfs",
            "set pfs without a group is group 1: set pfs group1 is a legacy group",
        ),
        (
            " set transform-set TS\n",
            " set transform-set TS\n set pfs group5\n",
            "set pfs group5",
            "set pfs group5 is a legacy group (1536-bit MODP",
        ),
        (
            " set transform-set TS\n",
            " set transform-set TS\n set isakmp-profile OLD\n",
            "set isakmp-profile OLD",
            "set isakmp-profile is not supported",
        ),
    ] {
        let text = v1_with(replace, by);
        let e = err(&text);
        assert_eq!(e.problems.len(), 1, "{by}: {e}");
        assert_eq!(e.problems[0].text, line, "{e}");
        assert!(e.problems[0].message.contains(why), "{why}: {e}");
        assert!(!format!("{e}{e:?}").contains("cisco123"), "{e}");
    }
}

#[test]
fn an_ikev1_tunnel_needs_a_policy_and_a_key() {
    let no_key = v1_with("crypto isakmp key cisco123 address 0.0.0.0 0.0.0.0\n", "");
    let e = err(&no_key);
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].text, "tunnel protection ipsec profile DMVPN");
    assert!(
        e.problems[0].message.contains(
            "negotiates IKEv1, which needs pre-shared keys: add crypto isakmp key KEY address 0.0.0.0 0.0.0.0"
        ),
        "{e}"
    );
    let no_policy = v1_with(
        "crypto isakmp policy 10\n encryption aes 256\n hash sha256\n authentication pre-share\n group 14\n",
        "",
    );
    let e = err(&no_policy);
    assert_eq!(e.problems.len(), 1, "{e}");
    assert!(
        e.problems[0].message.contains(
            "negotiates IKEv1, which needs a phase 1 policy: add crypto isakmp policy 10"
        ),
        "{e}"
    );
    // An IKEv2 profile keeps needing the IKEv2 keyring, not IKEv1's keys.
    let v2 = v1_with(
        " set transform-set TS\n",
        " set transform-set TS\n set ikev2-profile IKE\ncrypto ikev2 profile IKE\n",
    );
    let e = err(&v2);
    assert!(
        e.problems
            .iter()
            .any(|p| p.message.contains("needs keyring local NAME")),
        "{e}"
    );
}
