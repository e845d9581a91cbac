//! Unit tests of the IOS parser: each supported line to its field, the lines that are notes,
//! the lines that are errors (with their line and why), crypto, routes, and the mapping of
//! validation problems back to lines.

use std::cell::RefCell;
use std::net::IpAddr;

use super::*;
use crate::config::{MaxSend, NhsConfig, StaticMap, TunnelConfig, TunnelMode, TunnelProtection};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A spoke tunnel interface; `extra` lines (one-space indented) go at its end.
const SPOKE: &str = "\
interface Tunnel0
 ip address 10.0.0.11 255.255.255.0
 ip nhrp network-id 99
 ip nhrp nhs 10.0.0.1 nbma 172.17.0.1
 tunnel source 172.16.1.1
 tunnel mode gre multipoint
";

fn spoke_with(extra: &[&str]) -> String {
    let mut s = SPOKE.to_owned();
    for l in extra {
        s.push(' ');
        s.push_str(l);
        s.push('\n');
    }
    s
}

fn ok(text: &str) -> Parsed {
    parse(text, &|_| None).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

fn err(text: &str) -> IosError {
    match parse(text, &|_| None) {
        Ok(p) => panic!("{text}\nparsed: {:?}", p.config),
        Err(e) => e,
    }
}

fn tunnel(text: &str) -> TunnelConfig {
    ok(text).config.tunnels.remove(0)
}

mod crypto;
mod isakmp;

#[test]
fn each_tunnel_line_sets_its_field() {
    type Check = fn(&TunnelConfig) -> bool;
    let table: &[(&str, Check)] = &[
        ("ip mtu 1300", |t| t.mtu == 1300),
        ("ip tcp adjust-mss 1360", |t| t.adjust_mss == Some(1360)),
        ("ipv6 tcp adjust-mss 1300", |t| t.adjust_mss == Some(1300)),
        ("ip nhrp authentication donttell", |t| {
            t.nhrp.authentication.as_ref().map(|p| p.expose()) == Some(&b"donttell"[..])
        }),
        ("ip nhrp map 10.0.0.2 172.17.0.2", |t| {
            t.nhrp.maps
                == [StaticMap {
                    address: ip("10.0.0.2"),
                    nbma: ip("172.17.0.2"),
                }]
        }),
        ("ip nhrp map multicast 172.17.0.9", |t| {
            t.nhrp.map_multicast == [ip("172.17.0.9")]
        }),
        ("ip nhrp map multicast dynamic", |t| {
            t.nhrp.map_multicast_dynamic
        }),
        ("ip nhrp holdtime 300", |t| t.nhrp.holdtime == 300),
        ("IP NHRP Holdtime 600", |t| t.nhrp.holdtime == 600),
        ("ip nhrp redirect", |t| t.nhrp.redirect),
        ("ip nhrp shortcut", |t| t.nhrp.shortcut),
        ("ip nhrp max-send 5 every 30", |t| {
            t.nhrp.max_send
                == MaxSend {
                    packets: 5,
                    every_secs: 30,
                }
        }),
        ("ip nhrp registration timeout 100", |t| {
            t.nhrp.registration_timeout == Some(100)
        }),
        ("ip nhrp registration prefix 192.168.0.0/16", |t| {
            t.nhrp.registration_prefixes == ["192.168.0.0/16".parse().unwrap()]
        }),
        ("ip nhrp nhs 10.0.0.2 nbma 172.17.0.2 multicast", |t| {
            t.nhrp.nhs.get(1)
                == Some(&NhsConfig {
                    address: ip("10.0.0.2"),
                    nbma: Some(ip("172.17.0.2")),
                })
                && t.nhrp.map_multicast == [ip("172.17.0.2")]
        }),
        ("ip verify unicast source reachable-via rx", |t| {
            t.verify_unicast_source
        }),
        ("tunnel key 7", |t| t.key == Some(7)),
        ("tunnel protection ipsec profile P shared", |t| {
            t.protection
                == Some(TunnelProtection {
                    profile: "P".into(),
                    shared: true,
                })
        }),
    ];
    let base = tunnel(SPOKE);
    for (line, check) in table {
        assert!(!check(&base), "{line}: already true without the line");
        let mut text = spoke_with(&[line]);
        if line.starts_with("tunnel protection") {
            text.push_str(CRYPTO_FOR_P);
        }
        let t = tunnel(&text);
        assert!(check(&t), "{line}: {t:#?}");
    }
    // The base itself.
    assert_eq!(base.name, "Tunnel0");
    assert_eq!(base.address, "10.0.0.11/24".parse().unwrap());
    assert_eq!(base.source, ip("172.16.1.1"));
    assert_eq!(base.mode, TunnelMode::Multipoint);
    assert_eq!(
        (base.mtu, base.underlay_mtu, base.adjust_mss),
        (1400, 1500, None)
    );
    assert_eq!(base.nhrp.network_id, 99);
    assert_eq!(base.nhrp.holdtime, 7200);
}

/// The crypto a protected tunnel with profile `P` needs.
const CRYPTO_FOR_P: &str = "\
crypto ikev2 keyring K
 peer ANY
  address 0.0.0.0 0.0.0.0
  pre-shared-key cisco123
crypto ikev2 profile IKE
 keyring local K
crypto ipsec profile P
 set ikev2-profile IKE
";

#[test]
fn tunnel_modes_sources_and_families() {
    // Point-to-point GRE: IOS's default mode with a destination, or `gre ip` said.
    for extra in [&[][..], &["tunnel mode gre ip"][..]] {
        let mut text = SPOKE.replace(
            " tunnel mode gre multipoint\n",
            " tunnel destination 172.17.0.1\n",
        );
        text = format!(
            "{}{}",
            text,
            extra.iter().map(|l| format!(" {l}\n")).collect::<String>()
        );
        assert_eq!(
            tunnel(&text).mode,
            TunnelMode::PointToPoint {
                destination: ip("172.17.0.1")
            }
        );
    }
    // The source interface from the text, abbreviated or not, and its mtu.
    for name in ["Ethernet0", "e0", "ETHERNET0"] {
        let text = format!(
            "{}interface Ethernet0\n ip address 172.16.1.1 255.255.255.0\n mtu 1492\n",
            SPOKE.replace("tunnel source 172.16.1.1", &format!("tunnel source {name}"))
        );
        let asked = RefCell::new(0);
        let p = parse(&text, &|_| {
            *asked.borrow_mut() += 1;
            Some(ip("192.0.2.1"))
        })
        .unwrap();
        assert_eq!(*asked.borrow(), 0, "the text's address comes first");
        let t = &p.config.tunnels[0];
        assert_eq!(
            (t.source, t.underlay_mtu),
            (ip("172.16.1.1"), 1492),
            "{name}"
        );
        assert_eq!(p.sources[0].interface, name);
        assert!(p.sources[0].from_text);
        assert!(p.config.networks.is_empty(), "the source is no network");
    }
    // Not in the text: the system's.
    let text = SPOKE.replace("tunnel source 172.16.1.1", "tunnel source enp0s3");
    let p = parse(&text, &|n| (n == "enp0s3").then(|| ip("172.16.1.7"))).unwrap();
    assert_eq!(p.config.tunnels[0].source, ip("172.16.1.7"));
    let e = err(&text);
    assert_eq!(e.problems[0].line, Some(5));
    assert!(
        e.problems[0].message.contains("no interface enp0s3 here"),
        "{e}"
    );
    // An IPv6-only overlay.
    let v6 = "\
interface Tunnel0
 ipv6 address 2001:db8::11/64
 ipv6 mtu 1400
 ipv6 nhrp network-id 6
 ipv6 nhrp map 2001:db8::1/128 172.17.0.1
 ipv6 nhrp nhs 2001:db8::1
 tunnel source 172.16.1.1
 tunnel mode gre multipoint
";
    let t = tunnel(v6);
    assert_eq!(t.address, "2001:db8::11/64".parse().unwrap());
    assert_eq!((t.mtu, t.nhrp.network_id), (1400, 6));
    assert_eq!(t.nhrp.nhs[0].address, ip("2001:db8::1"));
    assert_eq!(t.nhrp.maps[0].nbma, ip("172.17.0.1"));
    // Dual stack: the IPv6 overlay beside the IPv4 one, each with its NHRP and MTU.
    let t = tunnel(&spoke_with(&[
        "ip mtu 1400",
        "ipv6 address 2001:db8::11/64",
        "ipv6 mtu 1300",
        "ipv6 nhrp network-id 6",
        "ipv6 nhrp holdtime 300",
        "ipv6 nhrp nhs 2001:db8::1 nbma 172.17.0.1 multicast",
    ]));
    assert_eq!((t.address, t.mtu), ("10.0.0.11/24".parse().unwrap(), 1400));
    assert_eq!(t.nhrp.network_id, 99);
    let v6 = t.ipv6.as_ref().unwrap();
    assert_eq!(
        (v6.address, v6.mtu),
        ("2001:db8::11/64".parse().unwrap(), Some(1300))
    );
    assert_eq!((v6.nhrp.network_id, v6.nhrp.holdtime), (6, 300));
    assert_eq!(
        v6.nhrp.nhs,
        [NhsConfig {
            address: ip("2001:db8::1"),
            nbma: Some(ip("172.17.0.1"))
        }]
    );
    assert_eq!(v6.nhrp.map_multicast, [ip("172.17.0.1")]);
    assert!(tunnel(SPOKE).ipv6.is_none());
    // An IPv6 underlay.
    let t = tunnel(
        &SPOKE
            .replace("172.16.1.1", "2001:db8:ffff::11")
            .replace("172.17.0.1", "2001:db8:ffff::1")
            .replace("gre multipoint", "gre multipoint ipv6"),
    );
    assert_eq!(t.source, ip("2001:db8:ffff::11"));
    // Mixed up families and modes.
    for (text, line, why) in [
        (
            spoke_with(&["ipv6 address 2001:db8::11/64"]),
            1,
            "no ipv6 nhrp network-id N: the IPv6 overlay of a dual-stack interface",
        ),
        (
            spoke_with(&[
                "ipv6 address 2001:db8::11/64",
                "ipv6 nhrp network-id 6",
                "ipv6 nhrp nhs 2001:db8:9::1 nbma 172.17.0.1",
            ]),
            9,
            "outside the tunnel subnet 2001:db8::11/64",
        ),
        (
            SPOKE.replace("gre multipoint", "gre multipoint ipv6"),
            5,
            "is IPv4",
        ),
        (
            spoke_with(&["tunnel destination 172.17.0.1"]),
            7,
            "exclude each other",
        ),
        (
            SPOKE.replace(" tunnel mode gre multipoint\n", ""),
            1,
            "IOS's default mode (gre ip) needs tunnel destination",
        ),
        (
            spoke_with(&["ipv6 nhrp network-id 6"]),
            7,
            "ipv6 nhrp needs ipv6 address",
        ),
        (
            SPOKE.replace(" ip nhrp network-id 99\n", ""),
            1,
            "no ip nhrp network-id",
        ),
        (
            SPOKE.replace(" tunnel source 172.16.1.1\n", ""),
            1,
            "needs tunnel source",
        ),
        (
            SPOKE.replace(" ip address 10.0.0.11 255.255.255.0\n", ""),
            1,
            "needs ip address",
        ),
    ] {
        let e = err(&text);
        assert_eq!(e.problems.len(), 1, "{text}\n{e}");
        assert_eq!(e.problems[0].line, Some(line), "{e}");
        assert!(e.problems[0].message.contains(why), "{why}: {e}");
    }
}

#[test]
fn lines_of_other_subsystems_are_notes() {
    let in_tunnel = [
        "description to the hub",
        "bandwidth 1000",
        "delay 1000",
        "no ip split-horizon eigrp 1",
        "no ip next-hop-self eigrp 1",
        "ip summary-address eigrp 1 192.168.0.0 255.255.0.0",
        "ip ospf network point-to-multipoint",
        "ip ospf hello-interval 30",
        "no ip redirects",
        "ip nhrp registration no-unique",
        "ip nhrp nhs 10.0.0.5 nbma 172.17.0.5 priority 1",
        "tunnel vrf INTERNET",
        "ip vrf forwarding BLUE",
        "keepalive 10 3",
        "tunnel path-mtu-discovery",
    ];
    let text = format!(
        "{}interface Ethernet1\n ip address 192.168.1.1 255.255.255.0\n duplex auto\n no shutdown\n\
         router ospf 1\n network 10.0.0.0 0.0.0.255 area 0\n!\nservice password-encryption\nline con 0\n\
         \u{20}exec-timeout 0 0\nbanner motd ^C\nAuthorized\naccess only ^C\nip domain-name example.com\nend\n",
        spoke_with(&in_tunnel)
    );
    let p = ok(&text);
    let noted: Vec<(usize, &str)> = p.notes.iter().map(|n| (n.line, n.text.as_str())).collect();
    let mut expected: Vec<(usize, &str)> = in_tunnel
        .iter()
        .enumerate()
        .map(|(i, l)| (7 + i, *l))
        .collect();
    let after = 7 + in_tunnel.len();
    expected.extend([
        (after + 2, "duplex auto"),
        (after + 3, "no shutdown"),
        (after + 4, "router ospf 1"),
        (after + 5, "network 10.0.0.0 0.0.0.255 area 0"),
        (after + 7, "service password-encryption"),
        (after + 8, "line con 0"),
        (after + 9, "exec-timeout 0 0"),
        (after + 10, "banner motd ^C"),
        (after + 11, "Authorized"),
        (after + 12, "access only ^C"),
        (after + 13, "ip domain-name example.com"),
        (after + 14, "end"),
    ]);
    assert_eq!(noted, expected, "{:#?}", p.notes);
    // The NHS with a priority is applied all the same.
    assert_eq!(p.config.tunnels[0].nhrp.nhs[1].address, ip("10.0.0.5"));
    assert_eq!(p.config.networks, vec!["192.168.1.0/24".parse().unwrap()]);
    let why = |line: &str| p.notes.iter().find(|n| n.text == line).unwrap().why.clone();
    assert!(why("router ospf 1").contains("routing"));
    assert!(why("bandwidth 1000").contains("routing"));
    assert!(why("ip vrf forwarding BLUE").contains("VRF"));
}

#[test]
fn lines_not_understood_or_refused_in_a_tunnel_are_errors() {
    for (line, why) in [
        ("shutdown", "shutdown is not supported"),
        ("ip address dhcp", "needs a static ip address"),
        ("ip address 10.0.0.12 255.255.255.0 secondary", "secondary"),
        ("ip unnumbered Loopback0", "ip unnumbered is not supported"),
        (
            "ip nhrp nhs dynamic nbma 172.17.0.1",
            "nhs dynamic is not supported",
        ),
        (
            "ip nhrp nhs 10.0.0.2 nbma hub.example.com",
            "names are not resolved",
        ),
        ("ip nhrp redirect timeout 10", "no timeout"),
        ("ip nhrp map 2001:db8::1 172.17.0.1", "use ipv6 nhrp"),
        (
            "ip nhrp map group G service-policy output P",
            "expected map ADDRESS NBMA",
        ),
        ("ip nhrp holdtime x", "\"x\" is not a number"),
        ("ip nhrp network-id 100", "already given on line 3"),
        ("tunnel key 4294967296", "not a number in range"),
        ("tunnel mode ipsec ipv4", "use tunnel mode gre multipoint"),
        (
            "tunnel destination hub.example.com",
            "names are not resolved",
        ),
        ("tunnel protection ipsec profile", "missing profile name"),
        (
            "tunnel protection ipsec profile P unshared",
            "expected tunnel protection",
        ),
        ("tunnel source Tunnel1", "cannot be a tunnel source"),
        (
            "ip verify unicast source reachable-via any",
            "only ip verify unicast source reachable-via rx",
        ),
        (
            "crypto map vpnmap1",
            "crypto maps are not supported: protect the tunnel with tunnel protection ipsec profile NAME",
        ),
        ("no ip address", "needs ip address"),
        ("frobnicate", "not understood in a tunnel interface"),
        ("ip frobnicate", "not understood in a tunnel interface"),
    ] {
        let e = err(&spoke_with(&[line]));
        assert_eq!(e.problems.len(), 1, "{line}: {e}");
        assert_eq!(
            (e.problems[0].line, e.problems[0].text.as_str()),
            (Some(7), line)
        );
        assert!(e.problems[0].message.contains(why), "{line}: {e}");
        assert_eq!(
            e.to_string(),
            format!("line 7: {line}: {}", e.problems[0].message)
        );
    }
}

#[test]
fn routes() {
    for (line, prefix, via, distance, name) in [
        (
            "ip route 0.0.0.0 0.0.0.0 172.16.1.254",
            "0.0.0.0/0",
            RouteVia::NextHop(ip("172.16.1.254")),
            1,
            None,
        ),
        (
            "ip route 192.168.0.0 255.255.0.0 10.0.0.1 250",
            "192.168.0.0/16",
            RouteVia::NextHop(ip("10.0.0.1")),
            250,
            None,
        ),
        (
            "ip route 10.9.0.0 255.255.0.0 Null0",
            "10.9.0.0/16",
            RouteVia::Interface("Null0".into()),
            1,
            None,
        ),
        (
            "ip route 0.0.0.0 0.0.0.0 Ethernet0 172.16.1.254 5 name WAN",
            "0.0.0.0/0",
            RouteVia::InterfaceNextHop {
                interface: "Ethernet0".into(),
                next_hop: ip("172.16.1.254"),
            },
            5,
            Some("WAN"),
        ),
        (
            "ipv6 route 2001:db8:9::/48 2001:db8::1",
            "2001:db8:9::/48",
            RouteVia::NextHop(ip("2001:db8::1")),
            1,
            None,
        ),
    ] {
        let p = ok(&format!("{SPOKE}{line}\n"));
        let r = &p.routes[0];
        assert_eq!(
            (
                r.line,
                r.prefix.to_string(),
                &r.via,
                r.distance,
                r.name.as_deref()
            ),
            (7, prefix.to_string(), &via, distance, name),
            "{line}"
        );
    }
    for (line, why) in [
        (
            "ip route 10.1.1.1 255.255.0.0 10.0.0.1",
            "inconsistent address and mask: the network is 10.1.0.0/16",
        ),
        (
            "ip route 10.1.0.0 255.0.255.0 10.0.0.1",
            "not a contiguous netmask",
        ),
        (
            "ip route 10.1.0.0 255.255.0.0 10.0.0.1 permanent",
            "\"permanent\" is not supported",
        ),
        (
            "ip route 10.1.0.0 255.255.0.0 10.0.0.1 0",
            "distance is 1 to 255",
        ),
        (
            "ip route 10.1.0.0 255.255.0.0",
            "missing next hop or interface",
        ),
        (
            "ip route 10.1.0.0 255.255.0.0 2001:db8::1",
            "not of the prefix's family",
        ),
    ] {
        let e = err(&format!("{SPOKE}{line}\n"));
        assert_eq!(e.problems.len(), 1, "{line}: {e}");
        assert!(e.problems[0].message.contains(why), "{line}: {e}");
    }
    for line in [
        "ip route vrf RED 0.0.0.0 0.0.0.0 10.0.0.1",
        "ip route 0.0.0.0 0.0.0.0 dhcp",
    ] {
        let p = ok(&format!("{SPOKE}{line}\n"));
        assert!(p.routes.is_empty());
        assert_eq!(p.notes[0].line, 7, "{line}");
    }
}

#[test]
fn hostname_exit_and_blocks() {
    assert_eq!(ok(SPOKE).config.hostname, "Router");
    assert_eq!(
        ok(&format!("hostname spoke-a\n{SPOKE}")).config.hostname,
        "spoke-a"
    );
    let e = err(&format!("hostname a b\n{SPOKE}"));
    assert_eq!(e.problems[0].line, Some(1));
    // `exit` leaves a keyring peer for the keyring, then the keyring.
    let text = crypto::CRYPTO.replacen(
        "  pre-shared-key cisco123\n",
        "  pre-shared-key cisco123\n  exit\n peer TWO\n  address 10.9.0.0 255.255.0.0\n  pre-shared-key other\n exit\nexit\n",
        1,
    );
    let ring = ok(&text).config.crypto.ikev2.keyring;
    assert_eq!(
        ring.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["ANY", "TWO"]
    );
    // An interface given twice is one interface.
    let t = tunnel(&format!(
        "{SPOKE}interface Tunnel0\n ip nhrp holdtime 300\n"
    ));
    assert_eq!((t.nhrp.holdtime, t.nhrp.network_id), (300, 99));
    // Any indentation, and an unindented interface command continues the interface.
    let t = tunnel(
        &SPOKE
            .replace(" ip nhrp network-id 99", "\t\tip nhrp network-id 99")
            .replace(" tunnel mode", "tunnel mode"),
    );
    assert_eq!(t.nhrp.network_id, 99);
    assert_eq!(t.mode, TunnelMode::Multipoint);
    // A sub-interface (with IOS's point-to-point) as the source.
    let t = tunnel(&format!(
        "{}interface Serial0/0.1 point-to-point\n ip address 172.16.1.1 255.255.255.252\n",
        SPOKE.replace("tunnel source 172.16.1.1", "tunnel source Se0/0.1")
    ));
    assert_eq!(t.source, ip("172.16.1.1"));
    let e = err(&format!("{SPOKE}interface Tunnel1 multipoint\n"));
    assert_eq!(e.problems[0].line, Some(7), "{e}");
}

#[test]
fn validation_problems_point_at_their_lines() {
    // An NHS outside the tunnel subnet: its nhs line.
    let e = err(&SPOKE.replace("ip nhrp nhs 10.0.0.1", "ip nhrp nhs 10.9.0.1"));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].line, Some(4));
    assert!(
        e.problems[0].message.contains("outside the tunnel subnet"),
        "{e}"
    );
    // Two clouds on one source with one key: the second interface, named by the message.
    let second = SPOKE
        .replace("Tunnel0", "Tunnel1")
        .replace("10.0.0.", "10.0.1.")
        .replace("network-id 99", "network-id 100");
    let e = err(&format!("{SPOKE}{second}"));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].line, Some(7));
    assert!(
        e.problems[0]
            .message
            .contains("same tunnel source and key as Tunnel0 (line 1)"),
        "{e}"
    );
    // A LAN overlapping the tunnel: its ip address line.
    let e = err(&format!(
        "{SPOKE}interface Ethernet1\n ip address 10.0.0.129 255.255.255.128\n"
    ));
    assert_eq!(e.problems[0].line, Some(8), "{e}");
    // A too long NHRP password: its line, redacted.
    let e = err(&spoke_with(&["ip nhrp authentication 123456789"]));
    assert_eq!(
        e.to_string(),
        "line 7: ip nhrp authentication <redacted>: the NHRP password is 1 to 8 characters"
    );
    // No tunnel interface at all.
    let e = err("hostname r\n");
    assert_eq!(
        e.to_string(),
        "configuration: a node needs at least one tunnel interface"
    );
}
