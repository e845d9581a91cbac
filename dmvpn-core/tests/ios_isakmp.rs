//! `dmvpn_core::ios` on the seeds' IKEv1 configurations (`crypto isakmp policy`, `crypto
//! isakmp key`, IPsec profiles without `set ikev2-profile`): seed 002's hub and spoke
//! examples and its 2547oDMVPN hub, seed 004's hub and spoke. As printed they are refused
//! (their policies have no `encryption` line, so IOS's DES; their transform sets are DES and
//! MD5); with AES, SHA-256 and group 14 they parse into the `IsakmpConfig` and a tunnel
//! protected with IKEv1; a legacy group needs `crypto isakmp legacy-groups`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use dmvpn_core::config::{
    IkeVersion, IsakmpAuthentication, IsakmpConfig, IsakmpEncryption, IsakmpHash, IsakmpKey,
    IsakmpPolicy, with_secrets_revealed,
};
use dmvpn_core::ios::{self, IosError, Parsed};
use dmvpn_core::{Entropy, Node};

/// Seed 002's "Example Hub Configuration for DMVPN" as printed (its crypto lines, the
/// tunnel and the interfaces; one comment that lost its `!` has it back).
const SEED_002_HUB: &str = "\
crypto isakmp policy 1
 authentication pre-share
crypto isakmp key cisco47 address 0.0.0.0
!
crypto ipsec transform-set trans2 esp-des esp-md5-hmac
 mode transport
!
crypto ipsec profile vpnprof
 set transform-set trans2
!
interface Tunnel0
 bandwidth 1000
 ip address 10.0.0.1 255.255.255.0
 ip mtu 1400
 ip nhrp authentication donttell
 ip nhrp map multicast dynamic
 ip nhrp network-id 99
 ip nhrp holdtime 300
 no ip split-horizon eigrp 1
 no ip next-hop-self eigrp 1
 ip tcp adjust-mss 1360
 delay 1000
 tunnel source Ethernet0
 tunnel mode gre multipoint
 tunnel key 100000
 tunnel protection ipsec profile vpnprof
!
interface Ethernet0
 ip address 172.17.0.1 255.255.255.0
!
interface Ethernet1
 ip address 192.168.0.1 255.255.255.0
";

/// Seed 002's "Example Spoke Configuration for DMVPN" (its tunnel's second half unindented,
/// as printed), with a static source address in place of its DHCP one.
const SEED_002_SPOKE: &str = "\
crypto isakmp policy 1
 authentication pre-share
crypto isakmp key cisco47 address 0.0.0.0
!
crypto ipsec transform-set trans2 esp-des esp-md5-hmac
mode transport
!
crypto ipsec profile vpnprof
 set transform-set trans2
!
interface Tunnel0
 bandwidth 1000
 ip address 10.0.0.2 255.255.255.0
 ip mtu 1400
 ip nhrp authentication donttell
 ip nhrp map 10.0.0.1 172.17.0.1
ip nhrp map multicast 172.17.0.1
ip nhrp network-id 99
ip nhrp holdtime 300
ip nhrp nhs 10.0.0.1
ip tcp adjust-mss 1360
delay 1000
tunnel source Ethernet0
tunnel mode gre multipoint
tunnel key 100000
tunnel protection ipsec profile vpnprof
!
interface Ethernet0
 ip address 172.16.1.1 255.255.255.0
";

/// Seed 002's 2547oDMVPN hub, its crypto and DMVPN interface (`interface Tunnell` as the
/// seed misprints it corrected to `Tunnel1`).
const SEED_002_MPLS_HUB: &str = "\
crypto isakmp policy 1
 authentication pre-share
crypto isakmp key cisco address 0.0.0.0 0.0.0.0
crypto ipsec transform-set t1 esp-des
 mode transport
crypto ipsec profile prof
 set transform-set t1
interface Tunnel1
 ip address 10.9.9.1 255.255.255.0
 ip nhrp authentication cisco
 ip nhrp map multicast dynamic
 ip nhrp network-id 1
 tunnel source Ethernet0/0
 tunnel mode gre multipoint
 tunnel protection ipsec profile prof
interface Ethernet0/0
 ip address 172.0.0.1 255.255.255.0
";

/// Seed 004's hub R1, its lines (printed run together in the seed) one per line.
const SEED_004_HUB: &str = "\
crypto isakmp policy 10
 authentication pre-share
crypto isakmp key cisco123 address 0.0.0.0 0.0.0.0
!
crypto ipsec transform-set mySet esp-aes esp-sha-hmac
!
crypto ipsec profile myDMVPN
 set security-association lifetime seconds 120
 set transform-set mySet
 set pfs group2
interface Tunnel0
 ip address 10.10.10.1 255.255.255.0
 ip nhrp network-id 1
 tunnel source FastEthernet0/0
 tunnel mode gre multipoint
 tunnel key 1
 tunnel protection ipsec profile myDMVPN
interface Fa0/0
 ip address 1.1.1.2 255.255.255.0
ip route 0.0.0.0 0.0.0.0 1.1.1.1
";

/// Seed 004's spoke R2 (point-to-point GRE to the hub), one line per line.
const SEED_004_SPOKE: &str = "\
crypto isakmp policy 10
 authentication pre-share
crypto isakmp key cisco123 address 0.0.0.0 0.0.0.0
!
crypto ipsec transform-set mySet esp-aes esp-sha-hmac
!
crypto ipsec profile myDMVPN
 set security-association lifetime seconds 120
 set transform-set mySet
 set pfs group2
interface Tunnel0
 ip address 10.10.10.2 255.255.255.0
 ip nhrp map 10.10.10.1 1.1.1.2
 ip nhrp network-id 1
 ip nhrp nhs 10.10.10.1
 tunnel source FastEthernet0/0
 tunnel destination 1.1.1.2
 tunnel key 1
 tunnel protection ipsec profile myDMVPN
interface Fa0/0
 ip address 2.2.2.2 255.255.255.0
ip route 0.0.0.0 0.0.0.0 2.2.2.1
";

/// The seed files with their key, their policy header and their transform set line.
const SEEDS: [(&str, &str, &str, &str, &str); 5] = [
    (
        "002 hub",
        SEED_002_HUB,
        "cisco47",
        "crypto isakmp policy 1",
        "crypto ipsec transform-set trans2 esp-des esp-md5-hmac",
    ),
    (
        "002 spoke",
        SEED_002_SPOKE,
        "cisco47",
        "crypto isakmp policy 1",
        "crypto ipsec transform-set trans2 esp-des esp-md5-hmac",
    ),
    (
        "002 2547oDMVPN hub",
        SEED_002_MPLS_HUB,
        "cisco",
        "crypto isakmp policy 1",
        "crypto ipsec transform-set t1 esp-des",
    ),
    (
        "004 hub",
        SEED_004_HUB,
        "cisco123",
        "crypto isakmp policy 10",
        "crypto ipsec transform-set mySet esp-aes esp-sha-hmac",
    ),
    (
        "004 spoke",
        SEED_004_SPOKE,
        "cisco123",
        "crypto isakmp policy 10",
        "crypto ipsec transform-set mySet esp-aes esp-sha-hmac",
    ),
];

/// The 1-based number of the line that is exactly `line` (trimmed); it must be unique.
fn line_no(text: &str, line: &str) -> usize {
    let found: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == line)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(found.len(), 1, "{line:?} is on lines {found:?}");
    found[0]
}

fn parse(text: &str) -> Result<Parsed, IosError> {
    ios::parse(text, &|_| None)
}

/// `text` with its policy made modern (`group` as given), a DES transform set AES/SHA-256,
/// and seed 004's `set pfs group2` group 14.
fn modernized(text: &str, header: &str, set: &str, group: &str) -> String {
    let name = set.split_whitespace().nth(3).unwrap();
    // Seed 004's `esp-aes esp-sha-hmac` stays as printed; seed 002's DES sets do not.
    let aes = if set.contains("esp-des") {
        format!("crypto ipsec transform-set {name} esp-aes 256 esp-sha256-hmac")
    } else {
        set.to_owned()
    };
    text.replace(
        &format!("{header}\n"),
        &format!("{header}\n encryption aes 256\n hash sha256\n group {group}\n"),
    )
    .replace(set, &aes)
    .replace("set pfs group2", "set pfs group14")
}

/// Every problem's message, with the key never in sight.
fn messages(e: &IosError, key: &str) -> Vec<(Option<usize>, String)> {
    let shown = format!("{e}\n{e:?}");
    assert!(!shown.contains(key), "the key {key:?} in {shown}");
    e.problems
        .iter()
        .map(|p| (p.line, p.message.clone()))
        .collect()
}

#[test]
fn the_seeds_as_printed_are_refused_for_des() {
    for (name, text, key, header, set) in SEEDS {
        let e = parse(text).unwrap_err();
        let got = messages(&e, key);
        let h = line_no(text, header);
        assert!(
            got.contains(&(
                Some(h),
                "no encryption line: IOS's default is encryption des, and encryption des is refused (DES is broken, RFC 8247): add encryption aes 256".into()
            )),
            "{name}: {e}"
        );
        // IOS's group 1 is a legacy group: the same line says what to add.
        assert!(
            got.iter().any(|(l, m)| *l == Some(h)
                && m.starts_with(
                    "no group line: IOS's default is group 1, and group 1 is a legacy group"
                )
                && m.contains("crypto isakmp legacy-groups")),
            "{name}: {e}"
        );
        // Seed 002's DES/MD5 transform sets on their own line; seed 004's is AES and SHA-1.
        let refused_set = got
            .iter()
            .any(|(l, m)| *l == Some(line_no(text, set)) && m.contains("esp-des is refused"));
        assert_eq!(refused_set, set.contains("esp-des"), "{name}: {e}");
        // The key line, the IPsec profile and the tunnel are no problem.
        let key_line = text
            .lines()
            .position(|l| l.starts_with("crypto isakmp key"))
            .unwrap()
            + 1;
        assert!(got.iter().all(|(l, _)| *l != Some(key_line)), "{name}: {e}");
    }
}

#[test]
fn the_seeds_with_aes_sha256_and_group_14_run_ikev1() {
    for (name, text, key, header, set) in SEEDS {
        let fixed = modernized(text, header, set, "14");
        let p = parse(&fixed).unwrap_or_else(|e| panic!("{name}: {e}\n{fixed}"));
        let c = &p.config.crypto;
        let priority = header.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(
            c.isakmp,
            IsakmpConfig {
                policies: vec![IsakmpPolicy {
                    priority,
                    encryption: IsakmpEncryption::Aes256,
                    hash: IsakmpHash::Sha256,
                    authentication: IsakmpAuthentication::PreShare,
                    group: 14,
                    lifetime_seconds: 86_400,
                }],
                keys: vec![IsakmpKey {
                    address: "0.0.0.0/0".parse().unwrap(),
                    key: dmvpn_core::config::Password::new(key),
                }],
                ..IsakmpConfig::default()
            },
            "{name}"
        );
        assert!(c.isakmp.keys[0].is_wildcard());
        let t = &p.config.tunnels[0];
        let prof = c.profile(&t.protection.as_ref().unwrap().profile).unwrap();
        assert_eq!(prof.ike_version(), IkeVersion::Ikev1, "{name}");
        // No IKEv2 keyring: the tunnel's keys are IKEv1's.
        assert!(c.ikev2.keyring.is_empty());
        if name.starts_with("004") {
            assert_eq!(
                (prof.pfs, prof.lifetime_seconds),
                (Some(14), Some(120)),
                "{name}"
            );
        }
        // Nothing about crypto is a note: every crypto isakmp line was applied.
        assert!(
            p.notes.iter().all(|n| !n.text.starts_with("crypto")),
            "{name}: {:#?}",
            p.notes
        );
        assert!(!format!("{p:?}").contains(key), "{name}");
        // The node runs it: its crypto group is an IKEv1 endpoint with the seed's policy.
        let node = Node::new(std::time::Instant::now(), p.config, Entropy::new([1; 32]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ep = node
            .ikev1_endpoint(0)
            .unwrap_or_else(|| panic!("{name}: no IKEv1"));
        assert!(node.ike_endpoint(0).is_none(), "{name}");
        assert_eq!(ep.config().policies.len(), 1, "{name}");
        assert_eq!(
            ep.config().policies[0].group,
            dmvpn_ikev1::wire::GroupDescription::MODP_2048
        );
    }
}

#[test]
fn group_2_needs_the_opt_in() {
    for (name, text, key, header, set) in SEEDS {
        let g2 = modernized(text, header, set, "2");
        let e = parse(&g2).unwrap_err();
        let got = messages(&e, key);
        assert_eq!(got.len(), 1, "{name}: {e}");
        assert_eq!(got[0].0, Some(line_no(&g2, "group 2")), "{name}: {e}");
        assert!(
            got[0]
                .1
                .starts_with("group 2 is a legacy group (1024-bit MODP")
                && got[0]
                    .1
                    .contains("use group 14 or 19, or add the line crypto isakmp legacy-groups"),
            "{name}: {e}"
        );
        let opted = format!("crypto isakmp legacy-groups\n{g2}");
        let p = parse(&opted).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(p.config.crypto.isakmp.legacy_groups);
        assert_eq!(p.config.crypto.isakmp.policies[0].group, 2);
        // And the node runs it (the provider then carries the legacy groups).
        let node = Node::new(std::time::Instant::now(), p.config, Entropy::new([1; 32]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ep = node.ikev1_endpoint(0).unwrap();
        assert!(ep.config().allow_legacy_groups);
        assert!(
            ep.config()
                .provider
                .supports(dmvpn_ikev2::transform::KeGroup::MODP_1024)
        );
    }
}

#[test]
fn seed_004s_pfs_group2_needs_the_opt_in_too() {
    let (_, text, key, header, set) = SEEDS[3];
    // The policy modern, the profile's `set pfs group2` as printed.
    let fixed = modernized(text, header, set, "14").replace("set pfs group14", "set pfs group2");
    let e = parse(&fixed).unwrap_err();
    let got = messages(&e, key);
    assert_eq!(
        got,
        [(
            Some(line_no(&fixed, "set pfs group2")),
            "set pfs group2 is a legacy group (1024-bit MODP, too small for today, RFC 8247): use set pfs group14 or group19, or add the line crypto isakmp legacy-groups to accept it (with a warning at every negotiation)".into()
        )]
    );
    let p = parse(&format!("{fixed}crypto isakmp legacy-groups\n")).unwrap();
    assert_eq!(p.config.crypto.ipsec_profiles[0].pfs, Some(2));
    // With `set ikev2-profile` the profile is IKEv2's, which has no legacy groups at all.
    let v2 = format!(
        "crypto isakmp legacy-groups\n{}",
        fixed.replace(
            " set pfs group2\n",
            " set pfs group2\n set ikev2-profile IKE\n"
        )
    );
    let e = parse(&v2).unwrap_err();
    assert!(
        e.problems
            .iter()
            .any(|p| p.line == Some(line_no(&v2, "set pfs group2"))
                && p.message
                    .contains("group 2 is refused (too small for today, RFC 8247)")),
        "{e}"
    );
}

#[test]
fn json_round_trip_keeps_ikev1_and_redacts_the_key() {
    let (_, text, key, header, set) = SEEDS[0];
    let p = parse(&modernized(text, header, set, "14")).unwrap();
    let redacted = serde_json::to_string(&p.config).unwrap();
    assert!(!redacted.contains(key), "{redacted}");
    assert!(redacted.contains(r#""ike":"ikev1""#), "{redacted}");
    assert!(serde_json::from_str::<dmvpn_core::config::NodeConfig>(&redacted).is_err());
    let clear = with_secrets_revealed(|| serde_json::to_string(&p.config).unwrap());
    assert!(clear.contains(key));
    let back: dmvpn_core::config::NodeConfig = serde_json::from_str(&clear).unwrap();
    assert_eq!(back, p.config);
    back.validate().unwrap();
}
