//! `dmvpn_core::ios` on whole configurations: the example configurations of seed 003's
//! network (`examples/configs/*.cfg`), seed 002's hub and spoke examples (their crypto as
//! IKEv2), the errors a whole file can have, and arbitrary text.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::IpAddr;

use dmvpn_core::config::{Dpd, IpsecMode, NhsConfig, StaticMap, TunnelMode, TunnelProtection};
use dmvpn_core::ios::{self, Parsed, RouteVia};
use dmvpn_core::{Entropy, Node};
use proptest::prelude::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn example(name: &str) -> String {
    let path = format!("{}/../examples/configs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

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

fn parse(text: &str) -> Parsed {
    ios::parse(text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

fn noted(p: &Parsed) -> Vec<usize> {
    p.notes.iter().map(|n| n.line).collect()
}

#[test]
fn example_hub() {
    let text = example("hub.cfg");
    let p = parse(&text);
    let c = &p.config;
    assert_eq!(c.hostname, "hub");
    assert_eq!(c.tunnels.len(), 1);
    let t = &c.tunnels[0];
    assert_eq!(t.name, "Tunnel0");
    assert_eq!(t.address, "10.0.0.1/24".parse().unwrap());
    assert_eq!(t.source, ip("172.17.0.1"));
    assert_eq!(t.mode, TunnelMode::Multipoint);
    assert_eq!(t.key, Some(100000));
    assert_eq!(t.mtu, 1400);
    assert_eq!(t.adjust_mss, Some(1360));
    assert_eq!(t.underlay_mtu, 1500);
    assert!(!t.verify_unicast_source);
    assert_eq!(t.nhrp.network_id, 99);
    assert_eq!(
        t.nhrp.authentication.as_ref().unwrap().expose(),
        b"donttell"
    );
    assert_eq!(t.nhrp.holdtime, 300);
    assert!(t.nhrp.map_multicast_dynamic);
    assert!(t.nhrp.redirect);
    assert!(!t.nhrp.shortcut);
    assert!(t.nhrp.nhs.is_empty() && t.nhrp.maps.is_empty() && t.nhrp.map_multicast.is_empty());
    assert_eq!(
        t.protection,
        Some(TunnelProtection {
            profile: "DMVPN".into(),
            shared: false
        })
    );
    assert_eq!(c.networks, vec!["192.168.0.0/24".parse().unwrap()]);
    let ts: Vec<(&str, &str, IpsecMode)> = c
        .crypto
        .transform_sets
        .iter()
        .map(|t| (t.name.as_str(), t.transforms.as_str(), t.mode))
        .collect();
    assert_eq!(
        ts,
        [
            ("DMVPN-GCM", "esp-gcm 256", IpsecMode::Transport),
            (
                "DMVPN-CBC",
                "esp-aes 256 esp-sha256-hmac",
                IpsecMode::Transport
            )
        ]
    );
    let prof = &c.crypto.ipsec_profiles[0];
    assert_eq!(prof.name, "DMVPN");
    assert_eq!(prof.transform_sets, ["DMVPN-GCM", "DMVPN-CBC"]);
    assert_eq!(
        (prof.lifetime_seconds, prof.lifetime_kilobytes, prof.pfs),
        (None, None, None)
    );
    let ike = &c.crypto.ikev2;
    assert_eq!(
        ike.proposals,
        [
            "encryption aes-gcm-256 prf sha256 group 19",
            "encryption aes-cbc-256 integrity sha256 group 14"
        ]
    );
    assert_eq!(ike.keyring.len(), 1);
    assert_eq!(ike.keyring[0].name, "ANY");
    assert_eq!(ike.keyring[0].address, Some("0.0.0.0/0".parse().unwrap()));
    assert_eq!(ike.keyring[0].pre_shared_key.expose(), b"cisco123");
    assert_eq!(
        ike.local_identity,
        Some(dmvpn_core::config::IdentityConfig::Address(Some(ip(
            "172.17.0.1"
        ))))
    );
    assert_eq!(
        ike.dpd,
        Some(Dpd {
            interval: 10,
            retry: 3
        })
    );
    assert_eq!(
        (ike.nat_keepalive_seconds, ike.lifetime_seconds),
        (20, 86400)
    );
    // Routes: the underlay default and the spokes' LANs through the tunnel.
    let routes: Vec<(String, RouteVia, u8)> = p
        .routes
        .iter()
        .map(|r| (r.prefix.to_string(), r.via.clone(), r.distance))
        .collect();
    assert_eq!(
        routes,
        [
            ("0.0.0.0/0".into(), RouteVia::NextHop(ip("172.17.0.254")), 1),
            (
                "192.168.1.0/24".into(),
                RouteVia::NextHop(ip("10.0.0.11")),
                1
            ),
            (
                "192.168.2.0/24".into(),
                RouteVia::NextHop(ip("10.0.0.12")),
                1
            ),
        ]
    );
    assert_eq!(p.sources.len(), 1);
    assert_eq!(
        (
            p.sources[0].interface.as_str(),
            p.sources[0].address,
            p.sources[0].from_text
        ),
        ("Ethernet0", ip("172.17.0.1"), true)
    );
    // Every line of another subsystem is a note, with its number.
    let mut expected: Vec<usize> = [
        "version 15.4",
        "service timestamps debug datetime msec",
        "match identity remote address 0.0.0.0",
        "description DMVPN hub, phase 3",
        "bandwidth 1000",
        "no ip split-horizon eigrp 1",
        "ip summary-address eigrp 1 192.168.0.0 255.255.0.0",
        "delay 1000",
        "description to the Internet",
        "duplex auto",
        "router eigrp 1",
        "network 10.0.0.0 0.0.0.255",
        "network 192.168.0.0 0.0.0.255",
        "no auto-summary",
        "line vty 0 4",
        "login",
        "end",
    ]
    .iter()
    .map(|l| line_no(&text, l))
    .collect();
    expected.sort();
    assert_eq!(noted(&p), expected, "{:#?}", p.notes);
    let eigrp = p.notes.iter().find(|n| n.text == "router eigrp 1").unwrap();
    assert!(eigrp.why.contains("routing"), "{eigrp:?}");
    Node::new(std::time::Instant::now(), p.config, Entropy::new([1; 32])).unwrap();
}

/// The spokes differ from each other in their addresses, the form of their NHS lines and the
/// order of their proposals.
#[test]
fn example_spokes() {
    for (file, name, tunnel, nbma, lan, first_ts) in [
        (
            "spoke-a.cfg",
            "spoke-a",
            "10.0.0.11/24",
            "172.16.1.1",
            "192.168.1.0/24",
            "DMVPN-GCM",
        ),
        (
            "spoke-b.cfg",
            "spoke-b",
            "10.0.0.12/24",
            "172.16.2.1",
            "192.168.2.0/24",
            "DMVPN-CBC",
        ),
    ] {
        let text = example(file);
        let p = parse(&text);
        let c = &p.config;
        assert_eq!(c.hostname, name);
        let t = &c.tunnels[0];
        assert_eq!(t.address, tunnel.parse().unwrap(), "{file}");
        assert_eq!(t.source, ip(nbma), "{file}");
        assert_eq!(t.mode, TunnelMode::Multipoint);
        assert_eq!(
            (t.key, t.mtu, t.adjust_mss),
            (Some(100000), 1400, Some(1360))
        );
        let n = &t.nhrp;
        assert_eq!((n.network_id, n.holdtime), (99, 300));
        assert_eq!(n.authentication.as_ref().unwrap().expose(), b"donttell");
        assert!(
            n.shortcut && !n.redirect && !n.map_multicast_dynamic,
            "{file}"
        );
        // The NHS with NBMA 172.17.0.1, however written; multicast to the hub.
        assert_eq!(n.nhs.len(), 1);
        assert_eq!(n.nhs[0].address, ip("10.0.0.1"));
        assert_eq!(n.nhs_nbma(&n.nhs[0]), Some(ip("172.17.0.1")), "{file}");
        assert_eq!(n.map_multicast, [ip("172.17.0.1")], "{file}");
        if file == "spoke-a.cfg" {
            assert_eq!(
                n.nhs[0],
                NhsConfig {
                    address: ip("10.0.0.1"),
                    nbma: Some(ip("172.17.0.1"))
                }
            );
            assert!(n.maps.is_empty());
        } else {
            assert_eq!(n.nhs[0].nbma, None);
            assert_eq!(
                n.maps,
                [StaticMap {
                    address: ip("10.0.0.1"),
                    nbma: ip("172.17.0.1")
                }]
            );
        }
        assert_eq!(t.protection.as_ref().unwrap().profile, "DMVPN");
        assert_eq!(c.networks, vec![lan.parse().unwrap()], "{file}");
        let prof = &c.crypto.ipsec_profiles[0];
        assert_eq!(prof.transform_sets[0], first_ts, "{file}");
        assert_eq!(c.crypto.transform_sets.len(), 2);
        assert!(
            c.crypto
                .transform_sets
                .iter()
                .all(|t| t.mode == IpsecMode::Transport)
        );
        let ike = &c.crypto.ikev2;
        assert_eq!(ike.proposals.len(), 2);
        assert!(ike.proposals[0].contains(if first_ts == "DMVPN-GCM" {
            "gcm"
        } else {
            "cbc"
        }));
        assert_eq!(ike.keyring[0].pre_shared_key.expose(), b"cisco123");
        assert_eq!(ike.local_identity, None);
        assert_eq!(
            p.routes
                .iter()
                .map(|r| (r.prefix.to_string(), r.via.clone()))
                .collect::<Vec<_>>(),
            [
                (
                    "0.0.0.0/0".to_string(),
                    RouteVia::NextHop(ip(&format!("{}.254", nbma.rsplit_once('.').unwrap().0)))
                ),
                (
                    "192.168.0.0/16".to_string(),
                    RouteVia::NextHop(ip("10.0.0.1"))
                ),
            ]
        );
        for l in [
            "router eigrp 1",
            "no auto-summary",
            "bandwidth 1000",
            "delay 1000",
        ] {
            assert!(noted(&p).contains(&line_no(&text, l)), "{file}: {l}");
        }
        Node::new(std::time::Instant::now(), p.config, Entropy::new([2; 32])).unwrap();
    }
}

/// Seed 002's "Example Hub Configuration for DMVPN", its crypto lines changed to IKEv2 (the
/// `crypto isakmp` lines replaced, DES/MD5 replaced by AES/SHA-256, the profile naming the
/// IKEv2 profile); everything else as printed, comments included.
const SEED_002_HUB: &str = "\
crypto ikev2 keyring KEYS
 peer ANY
  address 0.0.0.0 0.0.0.0
  pre-shared-key cisco47
crypto ikev2 profile IKE
 match identity remote address 0.0.0.0
 authentication remote pre-share
 authentication local pre-share
 keyring local KEYS
!
crypto ipsec transform-set trans2 esp-aes 256 esp-sha256-hmac
 mode transport
!
crypto ipsec profile vpnprof
 set transform-set trans2
 set ikev2-profile IKE
!
interface Tunnel0
 bandwidth 1000
 ip address 10.0.0.1 255.255.255.0
 ! Ensures longer packets are fragmented before they are encrypted; otherwise, the
 ! receiving router would have to do the reassembly.
 ip mtu 1400
 ! The following line must match on all nodes that \"want to use\" this mGRE tunnel:
 ip nhrp authentication donttell
 ! Note that the next line is required only on the hub.
 ip nhrp map multicast dynamic
 ! The following line must match on all nodes that want to use this mGRE tunnel:
 ip nhrp network-id 99
 ip nhrp holdtime 300
 ! Turns off split horizon on the mGRE tunnel interface; otherwise, EIGRP will not
 ! advertise routes that are learned via the mGRE interface back out that interface.
 no ip split-horizon eigrp 1
 ! Enables dynamic, direct spoke-to-spoke tunnels when using EIGRP.
 no ip next-hop-self eigrp 1
 ip tcp adjust-mss 1360
 delay 1000
 ! Sets IPsec peer address to Ethernet interface's public address.
 tunnel source Ethernet0
 tunnel mode gre multipoint
 ! The following line must match on all nodes that want to use this mGRE tunnel.
 tunnel key 100000
 tunnel protection ipsec profile vpnprof
!
interface Ethernet0
 ip address 172.17.0.1 255.255.255.0
!
interface Ethernet1
 ip address 192.168.0.1 255.255.255.0
!
router eigrp 1
 network 10.0.0.0 0.0.0.255
 network 192.168.0.0 0.0.0.255
!
";

/// Seed 002's "Example Spoke Configuration for DMVPN", crypto changed as for the hub. The
/// second half of its tunnel block is unindented, as the seed prints it: IOS (and this
/// parser) keep interface commands in the interface. One comment that lost its `!` in the
/// seed's text has it back.
const SEED_002_SPOKE: &str = "\
crypto ikev2 keyring KEYS
 peer ANY
  address 0.0.0.0 0.0.0.0
  pre-shared-key cisco47
crypto ikev2 profile IKE
 match identity remote address 0.0.0.0
 authentication remote pre-share
 authentication local pre-share
 keyring local KEYS
!
crypto ipsec transform-set trans2 esp-aes 256 esp-sha256-hmac
mode transport
!
crypto ipsec profile vpnprof
 set transform-set trans2
 set ikev2-profile IKE
!
interface Tunnel0
 bandwidth 1000
 ip address 10.0.0.2 255.255.255.0
 ip mtu 1400
 ! The following line must match on all nodes that want to use this mGRE tunnel:
 ip nhrp authentication donttell
 ! Definition of NHRP server at the hub (10.0.0.1), which is permanently mapped to the
 ! static public address of the hub (172.17.0.1).
 ip nhrp map 10.0.0.1 172.17.0.1
! Sends multicast packets to the hub router, and enables the use of a dynamic routing
! protocol between the spoke and the hub.
ip nhrp map multicast 172.17.0.1
! The following line must match on all nodes that want to use this mGRE tunnel:
ip nhrp network-id 99
ip nhrp holdtime 300
! Configures the hub router as the NHRP next-hop server.
ip nhrp nhs 10.0.0.1
ip tcp adjust-mss 1360
delay 1000
tunnel source Ethernet0
tunnel mode gre multipoint
! The following line must match on all nodes that want to use this mGRE tunnel:
tunnel key 100000
tunnel protection ipsec profile vpnprof
!
! This is a spoke, so the public address might be dynamically assigned via DHCP.
interface Ethernet0
 ip address dhcp hostname Spoke1
!
interface Ethernet1
 ip address 192.168.1.1 255.255.255.0
!
! EIGRP is configured to run over the inside physical interface and the tunnel.
router eigrp 1
 network 10.0.0.0 0.0.0.255
 network 192.168.1.0 0.0.0.255
";

#[test]
fn seed_002_hub() {
    let p = parse(SEED_002_HUB);
    let t = &p.config.tunnels[0];
    assert_eq!(t.address, "10.0.0.1/24".parse().unwrap());
    assert_eq!(t.source, ip("172.17.0.1"));
    assert!(t.nhrp.map_multicast_dynamic);
    assert_eq!(
        (t.nhrp.network_id, t.nhrp.holdtime, t.key),
        (99, 300, Some(100000))
    );
    assert_eq!(t.adjust_mss, Some(1360));
    assert_eq!(p.config.networks, vec!["192.168.0.0/24".parse().unwrap()]);
    assert_eq!(
        p.config.crypto.transform_sets[0].transforms,
        "esp-aes 256 esp-sha256-hmac"
    );
    let eigrp: Vec<usize> = [
        "router eigrp 1",
        "network 10.0.0.0 0.0.0.255",
        "network 192.168.0.0 0.0.0.255",
    ]
    .iter()
    .map(|l| line_no(SEED_002_HUB, l))
    .collect();
    assert_eq!(eigrp, [51, 52, 53]);
    let mut expected = eigrp.clone();
    for l in [
        "match identity remote address 0.0.0.0",
        "bandwidth 1000",
        "no ip split-horizon eigrp 1",
        "no ip next-hop-self eigrp 1",
        "delay 1000",
    ] {
        expected.push(line_no(SEED_002_HUB, l));
    }
    expected.sort();
    assert_eq!(noted(&p), expected, "{:#?}", p.notes);
    for n in p.notes.iter().filter(|n| eigrp.contains(&n.line)) {
        assert!(n.why.contains("routing"), "{n:?}");
    }
}

#[test]
fn seed_002_spoke_with_a_dhcp_source() {
    // The address of the DHCP interface comes from the system.
    let asked = std::cell::RefCell::new(Vec::new());
    let p = ios::parse(SEED_002_SPOKE, &|name| {
        asked.borrow_mut().push(name.to_string());
        (name == "Ethernet0").then(|| ip("172.16.1.1"))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(*asked.borrow(), ["Ethernet0"]);
    assert_eq!(p.sources[0].address, ip("172.16.1.1"));
    assert!(!p.sources[0].from_text);
    let t = &p.config.tunnels[0];
    assert_eq!(t.source, ip("172.16.1.1"));
    // The unindented lines stayed in the tunnel interface.
    assert_eq!(
        (t.nhrp.network_id, t.nhrp.holdtime, t.key),
        (99, 300, Some(100000))
    );
    assert_eq!(
        t.nhrp.nhs,
        [NhsConfig {
            address: ip("10.0.0.1"),
            nbma: None
        }]
    );
    assert_eq!(t.nhrp.map_multicast, [ip("172.17.0.1")]);
    assert_eq!(t.protection.as_ref().unwrap().profile, "vpnprof");
    assert_eq!(p.config.networks, vec!["192.168.1.0/24".parse().unwrap()]);
    let mut expected: Vec<usize> = [
        "match identity remote address 0.0.0.0",
        "bandwidth 1000",
        "delay 1000",
        "router eigrp 1",
        "network 10.0.0.0 0.0.0.255",
        "network 192.168.1.0 0.0.0.255",
    ]
    .iter()
    .map(|l| line_no(SEED_002_SPOKE, l))
    .collect();
    expected.sort();
    assert_eq!(noted(&p), expected, "{:#?}", p.notes);
    assert_eq!(*expected.last().unwrap(), 53);
    // Without the system's address the spoke has no tunnel source.
    let err = ios::parse(SEED_002_SPOKE, &|_| None).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(
        err.problems[0].line,
        Some(line_no(SEED_002_SPOKE, "tunnel source Ethernet0"))
    );
    assert!(err.problems[0].message.contains("DHCP"), "{err}");
}

#[test]
fn unknown_tunnel_line_has_its_number() {
    let text = example("spoke-a.cfg").replace(
        " ip nhrp shortcut\n",
        " ip nhrp shortcut\n ip nhrp frobnicate 3\n",
    );
    let err = ios::parse(&text, &|_| None).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    let n = line_no(&text, "ip nhrp frobnicate 3");
    assert_eq!(err.problems[0].line, Some(n));
    assert_eq!(err.problems[0].text, "ip nhrp frobnicate 3");
    assert_eq!(
        err.to_string(),
        format!("line {n}: ip nhrp frobnicate 3: not a supported NHRP setting")
    );
}

#[test]
fn des_and_md5_are_refused_with_the_replacement() {
    let text = example("hub.cfg").replace(
        "crypto ipsec transform-set DMVPN-CBC esp-aes 256 esp-sha256-hmac",
        "crypto ipsec transform-set DMVPN-CBC esp-des esp-md5-hmac",
    );
    let err = ios::parse(&text, &|_| None).unwrap_err();
    // One problem: the profile that names the set says nothing more.
    assert_eq!(err.problems.len(), 1, "{err}");
    let p = &err.problems[0];
    assert_eq!(
        p.line,
        Some(line_no(
            &text,
            "crypto ipsec transform-set DMVPN-CBC esp-des esp-md5-hmac"
        ))
    );
    for word in [
        "esp-des is refused",
        "use esp-gcm 256 or esp-aes 256",
        "esp-md5-hmac is refused",
        "use esp-sha256-hmac",
    ] {
        assert!(p.message.contains(word), "{word}: {err}");
    }
}

#[test]
fn an_nhs_needs_an_address_and_a_mapping() {
    let text = example("spoke-b.cfg");
    // No mapping: validation's problem, on the nhs line.
    let no_map = text.replace(" ip nhrp map 10.0.0.1 172.17.0.1\n", "");
    let err = ios::parse(&no_map, &|_| None).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(
        err.problems[0].line,
        Some(line_no(&no_map, "ip nhrp nhs 10.0.0.1"))
    );
    assert!(
        err.problems[0]
            .message
            .contains("no NBMA address for NHS 10.0.0.1: add `ip nhrp map 10.0.0.1 NBMA`"),
        "{err}"
    );
    // No address.
    let no_addr = text.replace(" ip nhrp nhs 10.0.0.1\n", " ip nhrp nhs\n");
    let err = ios::parse(&no_addr, &|_| None).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(err.problems[0].line, Some(line_no(&no_addr, "ip nhrp nhs")));
    assert!(
        err.problems[0].message.contains("missing NHS address"),
        "{err}"
    );
}

#[test]
fn every_problem_is_collected() {
    let text = example("spoke-a.cfg")
        .replace(" ip mtu 1400\n", " ip mtu 1400\n tunnel bogus\n")
        .replace(
            "crypto ikev2 nat keepalive 20\n",
            "crypto isakmp policy 1\n encryption des\n authentication pre-share\n group 14\n",
        )
        .replace(" ip nhrp holdtime 300\n", " ip nhrp holdtime 0\n");
    let err = ios::parse(&text, &|_| None).unwrap_err();
    let got: Vec<(Option<usize>, &str)> = err
        .problems
        .iter()
        .map(|p| (p.line, p.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(line_no(&text, "encryption des")), "encryption des"),
            (Some(line_no(&text, "tunnel bogus")), "tunnel bogus"),
            (
                Some(line_no(&text, "ip nhrp holdtime 0")),
                "ip nhrp holdtime 0"
            ),
        ],
        "{err}"
    );
    assert_eq!(err.to_string().lines().count(), 3);
    assert!(err.to_string().contains(
        "encryption des: encryption des is refused (DES is broken, RFC 8247): use encryption aes 256"
    ));
    assert!(
        err.problems[2].message.contains("outside 1..=65535"),
        "{err}"
    );
}

#[test]
fn secrets_never_show() {
    // A file with problems on the secret lines and notes of other subsystems' secrets.
    let text = example("hub.cfg")
        .replace("pre-shared-key cisco123", "pre-shared-key 6 cisco123")
        .replace(
            "ip nhrp authentication donttell",
            "ip nhrp authentication donttell-too-long",
        )
        .replace(
            "version 15.4\n",
            "version 15.4\nenable secret 5 $1$hunter2\nusername bob password 0 letmein\n",
        );
    let err = ios::parse(&text, &|_| None).unwrap_err();
    let shown = format!("{err}\n{err:?}");
    assert_eq!(err.problems.len(), 2, "{shown}");
    for secret in ["cisco123", "donttell", "hunter2", "letmein"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("pre-shared-key 6 <redacted>"), "{shown}");
    assert!(
        shown.contains("ip nhrp authentication <redacted>: the NHRP password is 1 to 8 characters"),
        "{shown}"
    );
    // Parsed: the notes and the configuration's Debug.
    let text = example("hub.cfg").replace(
        "version 15.4\n",
        "version 15.4\nenable secret 5 $1$hunter2\nusername bob password 0 letmein\n",
    );
    let p = parse(&text);
    let shown = format!("{p:?}");
    for secret in ["cisco123", "donttell", "hunter2", "letmein"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        p.notes
            .iter()
            .any(|n| n.text == "enable secret 5 <redacted>")
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.text == "username bob password 0 <redacted>")
    );
    // The secrets are there all the same.
    assert_eq!(
        p.config.crypto.ikev2.keyring[0].pre_shared_key.expose(),
        b"cisco123"
    );
}

/// Words IOS configurations are made of, for text that gets past the first keyword.
const WORDS: &[&str] = &[
    "interface",
    "Tunnel0",
    "Ethernet0",
    "ip",
    "ipv6",
    "address",
    "nhrp",
    "nhs",
    "map",
    "multicast",
    "dynamic",
    "nbma",
    "network-id",
    "tunnel",
    "source",
    "mode",
    "gre",
    "multipoint",
    "key",
    "protection",
    "ipsec",
    "profile",
    "crypto",
    "ikev2",
    "keyring",
    "peer",
    "pre-shared-key",
    "proposal",
    "policy",
    "encryption",
    "integrity",
    "prf",
    "group",
    "transform-set",
    "set",
    "route",
    "exit",
    "end",
    "!",
    "router",
    "eigrp",
    "banner",
    "motd",
    "^C",
    "10.0.0.1",
    "255.255.255.0",
    "0.0.0.0",
    "172.17.0.1",
    "2001:db8::1/64",
    "1",
    "99",
    "65536",
    "-1",
    "aes-gcm-256",
    "esp-gcm",
    "256",
    "shared",
    "local",
    "remote",
    "dpd",
    "on-demand",
    "lifetime",
    "seconds",
    "hostname",
    "x",
    "",
    "\t",
];

fn config_text() -> impl Strategy<Value = String> {
    let line = prop::collection::vec(
        (
            any::<bool>(),
            prop::collection::vec(prop::sample::select(WORDS), 0..7),
        ),
        0..40,
    );
    line.prop_map(|ls| {
        ls.into_iter()
            .map(|(indent, ws)| format!("{}{}", if indent { " " } else { "" }, ws.join(" ")))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = ios::parse(&text, &|_| None);
    }

    #[test]
    fn configuration_like_text_never_panics_and_validates(text in config_text()) {
        let resolve = |_: &str| Some(ip("172.16.9.9"));
        match ios::parse(&text, &resolve) {
            Ok(p) => {
                prop_assert!(p.config.validate().is_ok());
                Node::new(std::time::Instant::now(), p.config, Entropy::new([3; 32])).unwrap();
            }
            Err(e) => prop_assert!(!e.problems.is_empty()),
        }
    }

    #[test]
    fn example_with_one_line_replaced_never_panics(
        n in 0usize..90,
        words in prop::collection::vec(prop::sample::select(WORDS), 0..6),
    ) {
        let text = example("spoke-a.cfg");
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if let Some(l) = lines.get_mut(n) {
            *l = format!(" {}", words.join(" "));
        }
        match ios::parse(&lines.join("\n"), &|_| None) {
            Ok(p) => prop_assert!(p.config.validate().is_ok()),
            Err(e) => {
                for p in &e.problems {
                    prop_assert!(!p.message.is_empty());
                    prop_assert!(!p.to_string().contains("cisco123"));
                    prop_assert!(!p.to_string().contains("donttell"));
                }
            }
        }
    }
}

/// The three example configurations, parsed, run: the spokes negotiate IKEv2 with the hub
/// and register through their SAs, and the routes via tunnel next hops go into the nodes.
#[test]
fn the_examples_run_together() {
    let now = std::time::Instant::now();
    let parsed: Vec<Parsed> = ["hub.cfg", "spoke-a.cfg", "spoke-b.cfg"]
        .iter()
        .map(|f| parse(&example(f)))
        .collect();
    let mut w =
        dmvpn_core::wired::Wired::new(now, parsed.iter().map(|p| p.config.clone()).collect(), 7)
            .unwrap();
    for (node, p) in w.nodes.iter_mut().zip(&parsed) {
        for r in &p.routes {
            if let RouteVia::NextHop(via) = r.via
                && p.config.tunnels[0].address.contains(&via)
            {
                node.add_route(r.prefix, via).unwrap();
            }
        }
    }
    w.settle(now);
    let hub = w.nodes[0].show_ip_nhrp(now);
    for spoke in [
        "10.0.0.11/32 via 10.0.0.11, Tunnel0",
        "10.0.0.12/32 via 10.0.0.12, Tunnel0",
    ] {
        assert!(hub.contains(spoke), "{spoke}: {hub}");
    }
    for s in &w.nodes[1..] {
        // `ip nhrp nhs 10.0.0.1 nbma 172.17.0.1 multicast` is also the static map to the hub
        // (IOS 15): the hub is the spoke's static peer.
        let dmvpn = s.show_dmvpn(now);
        assert!(dmvpn.contains("Type:Spoke, NHRP Peers:1,"), "{dmvpn}");
        assert!(
            dmvpn.contains("172.17.0.1        10.0.0.1    UP"),
            "{dmvpn}"
        );
        let crypto = s.crypto_status(now);
        assert_eq!(crypto.len(), 1);
        assert_eq!(
            crypto[0].ike_sas.len(),
            1,
            "{}",
            s.show_crypto_ikev2_sa(now)
        );
    }
}

/// `examples/configs/ipv6/` is `examples/configs/` over an IPv6 underlay (IOS's "DMVPN over
/// IPv6 transport", `tunnel mode gre multipoint ipv6`): the same tunnels, LANs, NHRP and
/// protection, with IPv6 NBMA addresses and `address ::/0` in the keyring; and they run
/// together.
#[test]
fn the_ipv6_examples_are_the_ipv4_ones_over_ipv6() {
    let (hub6, hub4) = (ip("2001:db8:17::1"), ip("172.17.0.1"));
    let mut parsed = Vec::new();
    for (file, nbma4, nbma6) in [
        ("hub.cfg", hub4, hub6),
        ("spoke-a.cfg", ip("172.16.1.1"), ip("2001:db8:16:1::1")),
        ("spoke-b.cfg", ip("172.16.2.1"), ip("2001:db8:16:2::1")),
    ] {
        let v6 = parse(&example(&format!("ipv6/{file}")));
        let mut want = parse(&example(file)).config;
        let t = &mut want.tunnels[0];
        assert_eq!(t.source, nbma4);
        t.source = nbma6;
        let n = &mut t.nhrp;
        for nhs in &mut n.nhs {
            if let Some(a) = nhs.nbma.as_mut() {
                assert_eq!(*a, hub4);
                *a = hub6;
            }
        }
        for m in &mut n.maps {
            assert_eq!(m.nbma, hub4);
            m.nbma = hub6;
        }
        for a in &mut n.map_multicast {
            assert_eq!(*a, hub4);
            *a = hub6;
        }
        let ike = &mut want.crypto.ikev2;
        assert_eq!(ike.keyring[0].address, Some("0.0.0.0/0".parse().unwrap()));
        ike.keyring[0].address = Some("::/0".parse().unwrap());
        if let Some(dmvpn_core::config::IdentityConfig::Address(Some(a))) =
            ike.local_identity.as_mut()
        {
            assert_eq!(*a, hub4);
            *a = hub6;
        }
        assert_eq!(v6.config, want, "ipv6/{file}");
        assert_eq!(
            (v6.sources[0].address, v6.sources[0].from_text),
            (nbma6, true)
        );
        // The `ipv6 route ::/0` to the provider is an underlay route; the overlay's are the
        // IPv4 file's.
        assert_eq!(v6.routes[0].prefix, "::/0".parse().unwrap(), "ipv6/{file}");
        parsed.push(v6);
    }
    let now = std::time::Instant::now();
    let mut w =
        dmvpn_core::wired::Wired::new(now, parsed.iter().map(|p| p.config.clone()).collect(), 7)
            .unwrap();
    for (node, p) in w.nodes.iter_mut().zip(&parsed) {
        for r in &p.routes {
            if let RouteVia::NextHop(via) = r.via
                && p.config.tunnels[0].address.contains(&via)
            {
                node.add_route(r.prefix, via).unwrap();
            }
        }
    }
    w.settle(now);
    let hub = w.nodes[0].show_ip_nhrp(now);
    for spoke in ["2001:db8:16:1::1", "2001:db8:16:2::1"] {
        assert!(hub.contains(spoke), "{spoke}: {hub}");
    }
    for s in &w.nodes[1..] {
        let crypto = s.crypto_status(now);
        assert_eq!(crypto.len(), 1);
        assert_eq!(
            crypto[0].ike_sas.len(),
            1,
            "{}",
            s.show_crypto_ikev2_sa(now)
        );
    }
}

/// `tunnel source wan0` with no address for it in the text: the system's addresses of the
/// interface, the first of the tunnel's family that is not link-local.
#[test]
fn a_tunnel_source_interface_gives_its_address_of_the_tunnels_family() {
    let spoke = |v6: bool| {
        let text = example(if v6 {
            "ipv6/spoke-a.cfg"
        } else {
            "spoke-a.cfg"
        });
        text.replace(" tunnel source Ethernet0\n", " tunnel source wan0\n")
    };
    let dual = |name: &str| {
        assert_eq!(name, "wan0");
        vec![ip("fe80::1"), ip("192.0.2.1"), ip("2001:db8:99::1")]
    };
    for (v6, want) in [(false, "192.0.2.1"), (true, "2001:db8:99::1")] {
        let p = ios::parse_with_addresses(&spoke(v6), &dual).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.config.tunnels[0].source, ip(want));
        assert_eq!(
            (p.sources[0].interface.as_str(), p.sources[0].from_text),
            ("wan0", false)
        );
    }
    let line = line_no(&spoke(true), "tunnel source wan0");
    for (addresses, why) in [
        (
            vec![ip("192.0.2.1"), ip("fe80::1")],
            "the system has only the link-local fe80::1 on wan0",
        ),
        (
            vec![ip("192.0.2.1")],
            "the system gives 192.0.2.1 for wan0, and the tunnel needs an IPv6 source",
        ),
        (vec![], "the system has no address for it"),
    ] {
        let err = ios::parse_with_addresses(&spoke(true), &|_| addresses.clone()).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(err.problems[0].line, Some(line));
        assert!(err.problems[0].message.contains(why), "{err}");
    }
    // `parse`'s one address: a link-local one is no tunnel source either.
    let err = ios::parse(&spoke(true), &|_| Some(ip("fe80::1"))).unwrap_err();
    assert!(err.problems[0].message.contains("link-local"), "{err}");
    let p = ios::parse(&spoke(true), &|_| Some(ip("2001:db8:99::1"))).unwrap();
    assert_eq!(p.config.tunnels[0].source, ip("2001:db8:99::1"));
}
