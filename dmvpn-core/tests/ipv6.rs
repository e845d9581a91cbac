//! IPv6 DMVPN on netsim: the seed 003 spoke-to-spoke flow (steps 1–11) and phase 3 with an
//! IPv6 overlay (tunnel 2001:db8::/64, LANs 2001:db8:N::/64, NHRP with IPv6 protocol
//! addresses) over an IPv4 underlay (the seeds' 172.16/172.17 NBMA addresses) and over an IPv6
//! underlay (2001:db8:ffff::/48: GRE, ESP and IKE over IPv6), each in clear and protected
//! (`tunnel protection ipsec profile`). The addressing is [`Example::overlay_v6`] and
//! [`Example::underlay_v6`]'s.
//!
//! Each run writes its underlay to `<CARGO_TARGET_TMPDIR>/pcap/dmvpn-ipv6-*.pcap`; a protected
//! run also writes the nodes' key log beside it (`.keys`, one tshark `-o uat:…` row per line),
//! which `.ci/checks/dmvpn-ipv6-tshark.sh` uses to decrypt the capture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::net::IpAddr;

use common::*;
use dmvpn_core::sim::example::{Example, Family};
use dmvpn_core::{EventKind, NhrpEvent, RemoveReason};
use dmvpn_netsim::HostId;

/// One combination: the underlay's family, clear or protected.
#[derive(Clone, Copy)]
struct Case {
    underlay: Family,
    ipsec: bool,
}

impl Case {
    fn example(self, spokes: u32, phase: u8) -> Example {
        let mut ex = Example::new(spokes).overlay_v6();
        ex.phase = phase;
        if self.underlay == Family::V6 {
            ex = ex.underlay_v6();
        }
        if self.ipsec { ex.protected() } else { ex }
    }

    /// The pcap's name: `ipv6-over-ipv4-phase2`, `ipv6-over-ipv6-phase3-ipsec`, ….
    fn name(self, phase: u8) -> &'static str {
        let under = match self.underlay {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        };
        let ipsec = if self.ipsec { "-ipsec" } else { "" };
        Box::leak(format!("ipv6-over-{under}-phase{phase}{ipsec}").into_boxed_str())
    }
}

/// A scenario with every node's key log on (protected runs), before any IKE SA exists.
fn scenario(c: Case, phase: u8, seed: u64) -> Scenario {
    let mut s = Scenario::new(c.name(phase), seed, c.example(2, phase));
    if c.ipsec {
        for id in [s.hub(), s.spoke(1), s.spoke(2)] {
            s.node(id).node_mut().enable_keylog();
        }
    }
    s
}

/// Writes the pcap, checks it, and (protected) the key log rows beside it as `<pcap>.keys`:
/// ESP rows with IPv4 or IPv6 addresses as the underlay is. Both ends of an SA log it: each
/// row is written once, in the order first logged.
fn finish(s: &mut Scenario, c: Case) {
    let mut rows: Vec<String> = Vec::new();
    for id in [s.hub(), s.spoke(1), s.spoke(2)] {
        while let Some(r) = s.node(id).node_mut().poll_keylog() {
            if !rows.contains(&r) {
                rows.push(r);
            }
        }
    }
    let pcap = s.finish();
    // Every frame is of the underlay's family.
    let v6 = c.underlay == Family::V6;
    let bytes = std::fs::read(&pcap).unwrap();
    // pcap: 24-byte file header (its magic number in the writer's byte order), then 16-byte
    // record headers; LINKTYPE_RAW (101), which carries IPv4 and IPv6 alike.
    let word = |at: usize| {
        let w: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if bytes[..4] == [0xa1, 0xb2, 0xc3, 0xd4] {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    assert_eq!(word(20), 101);
    let mut at = 24;
    let mut frames = 0;
    while at + 16 <= bytes.len() {
        let len = word(at + 8) as usize;
        let version = bytes[at + 16] >> 4;
        assert_eq!(version, if v6 { 6 } else { 4 }, "frame {frames}");
        at += 16 + len;
        frames += 1;
    }
    assert!(frames > 0);
    if c.ipsec {
        let family = if v6 { "\"IPv6\"" } else { "\"IPv4\"" };
        let esp: Vec<_> = rows
            .iter()
            .filter(|r| r.starts_with("uat:esp_sa:"))
            .collect();
        assert!(esp.len() >= 4, "{rows:?}");
        assert!(
            esp.iter()
                .all(|r| r.starts_with(&format!("uat:esp_sa:{family},"))),
            "{esp:?}"
        );
        assert!(
            rows.iter()
                .any(|r| r.starts_with("uat:ikev2_decryption_table:"))
        );
        let mut keys = pcap.clone().into_os_string();
        keys.push(".keys");
        std::fs::write(keys, rows.join("\n") + "\n").unwrap();
    }
}

fn crypto_up(s: &Scenario, id: HostId, peer: IpAddr) -> bool {
    s.has(
        id,
        |k| matches!(k, EventKind::CryptoUp { peer: p, .. } if p.ip() == peer),
    )
}

/// Spokes registered with the hub, the registrations carrying the right addresses: the
/// spoke's IPv6 tunnel address and its NBMA address of the underlay's family.
fn check_registrations(s: &Scenario, c: Case) {
    let hub = s.hub();
    let hub_nbma = s.ex.hub_nbma();
    assert_eq!(hub_nbma.is_ipv6(), c.underlay == Family::V6);
    for i in 1..=2 {
        let id = s.spoke(i);
        assert!(s.registered(hub, i), "spoke {i}: {:?}", s.events(hub));
        let (tunnel, nbma) = (s.tunnel(i), s.nbma(i));
        assert!(tunnel.is_ipv6());
        assert!(
            s.has(
                hub,
                |k| matches!(k, EventKind::PeerRegistered { address, nbma: n, nat: false }
                if *address == tunnel && *n == nbma)
            ),
            "{:?}",
            s.events(hub)
        );
        assert!(
            s.has(id, |k| matches!(k, EventKind::Nhrp(NhrpEvent::NhsUp { nhs }) if *nhs == s.ex.hub_tunnel())),
            "{:?}",
            s.events(id)
        );
        if c.ipsec {
            assert!(crypto_up(s, id, hub_nbma), "spoke {i}: {:?}", s.events(id));
            assert!(crypto_up(s, hub, nbma), "hub with {i}: {:?}", s.events(hub));
        }
    }
    assert_eq!(
        s.count(hub, |k| matches!(k, EventKind::PeerRegistered { .. })),
        2
    );
    let now = s.now();
    let table = s.get(hub).node().show_ip_nhrp(now);
    for i in 1..=2 {
        let (tunnel, nbma) = (s.tunnel(i), s.nbma(i));
        assert!(
            table.contains(&format!("{tunnel}/128 via {tunnel}, Tunnel0 created")),
            "{table}"
        );
        assert!(table.contains(&format!("NBMA address: {nbma}")), "{table}");
    }
    let dmvpn = s.get(hub).node().show_dmvpn(now);
    assert!(
        dmvpn.contains("Interface: Tunnel0, IPv6 NHRP Details"),
        "{dmvpn}"
    );
    assert!(
        dmvpn.contains("Type:Hub, Total NBMA Peers (v4/v6): 2\n"),
        "{dmvpn}"
    );
    for i in 1..=2 {
        // IOS's IPv6 layout: a block per peer, the tunnel address on its own line.
        let block = format!(
            "{i}.Peer NBMA Address: {}\n        Tunnel IPv6 Address: {}\n        # Ent: 1, Status: UP, UpDn Time: ",
            s.nbma(i),
            s.tunnel(i)
        );
        assert!(dmvpn.contains(&block), "{dmvpn}");
    }
}

/// `show crypto ikev2 sa` and `show crypto ipsec sa` of a protected spoke with IPv6 peers
/// (the underlay's family): the table of that family holds every SA, its columns apart, and
/// the selectors are the two NBMA hosts and GRE.
fn check_crypto_show(s: &Scenario, c: Case, id: HostId, peers: &[IpAddr]) {
    let now = s.now();
    let node = s.get(id).node();
    let ike = node.show_crypto_ikev2_sa(now);
    let own = node.status(now).tunnels[0].source;
    let (this, other) = match c.underlay {
        Family::V4 => (" IPv4 Crypto IKEv2  SA\n", " IPv6 Crypto IKEv2  SA\n"),
        Family::V6 => (" IPv6 Crypto IKEv2  SA\n", " IPv4 Crypto IKEv2  SA\n"),
    };
    let table = ike
        .split(other)
        .find(|part| part.contains(this))
        .unwrap_or("");
    let ipsec = node.show_crypto_ipsec_sa(now);
    let ident = |a: IpAddr| match a {
        IpAddr::V4(_) => format!("(addr/mask/prot/port): ({a}/255.255.255.255/47/0)"),
        IpAddr::V6(_) => format!("(addr/prefixlen/prot/port): ({a}/128/47/0)"),
    };
    for peer in peers {
        let remote = format!("{peer}/500");
        let row = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cols| cols.get(2) == Some(&remote.as_str()));
        let Some(cols) = row else {
            panic!("no IKE SA row with remote {remote} in\n{ike}")
        };
        assert_eq!(
            cols[1..],
            [&*format!("{own}/500"), &*remote, "none/none", "READY"],
            "{ike}"
        );
        let idents = format!(
            "   local  ident {}\n   remote ident {}\n",
            ident(own),
            ident(*peer)
        );
        assert!(ipsec.contains(&idents), "{ipsec}");
    }
}

/// Seed 003 steps 1–11 with an IPv6 overlay: registration, the PC (2001:db8:1::19) pings the
/// web server (2001:db8:2::25): the first request via the hub while spoke A resolves
/// 2001:db8::12, then direct both ways (spoke B resolved A for its replies); unused, the
/// mappings expire and the peers (and, protected, their SAs) go.
fn seed003_spoke_to_spoke(c: Case) {
    let mut s = scenario(c, 2, 11);
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(3));
    check_registrations(&s, c);
    s.route(1, 2);
    s.route(2, 1);
    for id in [hub, a, b] {
        s.node(id).take_trace();
    }

    // Steps 1-3: no mapping for 2001:db8::12 yet: the request goes to the hub.
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(2));
    assert_eq!(s.replies(a, 1), 1, "{:?}", s.get(a).errors());
    assert_eq!(s.get(b).answered(), 1);
    let first = s.echo_path(a, 1);
    assert_eq!(first[0].dst, s.ex.hub_nbma(), "first request via the hub");
    assert!(
        first[0].what.starts_with("ICMPv6 echo request"),
        "{first:?}"
    );
    assert_eq!(first[0].protected, c.ipsec);
    let hub_path = s.echo_path(hub, 1);
    assert!(
        hub_path.iter().any(|t| t.dst == s.nbma(2)),
        "hub forwards to B: {hub_path:?}"
    );
    let tb = s.tunnel(2);
    let (na, nb) = (s.nbma(1), s.nbma(2));
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::Resolving { target } if *target == tb)
    ));
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == nb)
    ));
    // Steps 7-10: B resolves A for the reply.
    assert!(s.has(
        b,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == na)
    ));
    assert!(s.has(
        b,
        |k| matches!(k, EventKind::NbmaPeerUp { nbma } if *nbma == na)
    ));
    if c.ipsec {
        // The mapping brought IKE up between the spokes (seed 003 step 4).
        s.run(secs(2));
        assert!(crypto_up(&s, a, nb), "{:?}", s.events(a));
        assert!(crypto_up(&s, b, na), "{:?}", s.events(b));
    }

    // Step 6: direct, both ways.
    for seq in 2..=4 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "{:?}", s.get(a).errors());
        let pa = s.echo_path(a, seq);
        assert!(!pa.is_empty());
        assert!(
            pa.iter().all(|t| t.dst == nb && t.protected == c.ipsec),
            "{pa:?}"
        );
        let pb = s.echo_path(b, seq);
        assert!(!pb.is_empty());
        assert!(
            pb.iter().all(|t| t.dst == na && t.protected == c.ipsec),
            "{pb:?}"
        );
        assert!(s.echo_path(hub, seq).is_empty());
    }
    assert_eq!(s.get(b).answered(), 4);
    let now = s.now();
    let shown = s.get(a).node().show_dmvpn(now);
    assert!(
        shown.contains("Interface: Tunnel0, IPv6 NHRP Details\n"),
        "{shown}"
    );
    assert!(
        shown.contains("Type:Spoke, Total NBMA Peers (v4/v6): 2\n"),
        "{shown}"
    );
    for (nbma, tunnel) in [(nb, tb), (s.ex.hub_nbma(), s.ex.hub_tunnel())] {
        let block = format!(
            "Peer NBMA Address: {nbma}\n        Tunnel IPv6 Address: {tunnel}\n        # Ent: 1, Status: UP, "
        );
        assert!(shown.contains(&block), "{shown}");
    }
    let nhrp = s.get(a).node().show_ip_nhrp(now);
    assert!(
        nhrp.contains(&format!("{tb}/128 via {tb}, Tunnel0 created")),
        "{nhrp}"
    );
    assert!(nhrp.contains(&format!("NBMA address: {nb}")), "{nhrp}");
    if c.ipsec {
        let sessions = s.get(a).node().show_crypto_session(now);
        assert!(sessions.contains(&nb.to_string()), "{sessions}");
        assert!(sessions.contains("UP-ACTIVE"), "{sessions}");
        check_crypto_show(&s, c, a, &[s.ex.hub_nbma(), nb]);
    }

    // Step 11: unused for longer than the holdtime: the mappings expire, the peers go down;
    // the hub keeps the registrations.
    s.run(secs(400));
    for (x, peer) in [(a, nb), (b, na)] {
        assert!(s.has(x, |k| matches!(k, EventKind::MappingRemoved { reason: RemoveReason::Expired, nbma, .. } if *nbma == peer)));
        assert!(s.has(
            x,
            |k| matches!(k, EventKind::NbmaPeerDown { nbma } if *nbma == peer)
        ));
        assert!(
            !s.get(x)
                .node()
                .show_dmvpn(s.now())
                .contains(&peer.to_string())
        );
        if c.ipsec {
            assert!(
                s.get(x)
                    .node()
                    .child_sas(0)
                    .iter()
                    .all(|(p, _, _)| *p != peer),
                "SAs with {peer} after the mapping expired"
            );
        }
    }
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    assert_eq!(
        s.count(hub, |k| matches!(k, EventKind::PeerExpired { .. })),
        0
    );
    assert!(s.get(a).errors().is_empty(), "{:?}", s.get(a).errors());
    finish(&mut s, c);
}

/// Phase 3 with an IPv6 overlay: spokes route the LAN summary (2001:db8::/33) to the hub; the
/// hub forwards the first packets and sends Traffic Indications; the spokes resolve and
/// install shortcuts to each other's /64; then traffic goes directly.
fn phase3_redirect_and_shortcut(c: Case) {
    let mut s = scenario(c, 3, 12);
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    s.run(secs(3));
    check_registrations(&s, c);
    s.route(1, 2);
    s.route(2, 1);
    s.node(hub).take_trace();
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(2));
    assert_eq!(s.replies(a, 1), 1, "{:?}", s.get(a).errors());
    let hub_tx = s.node(hub).take_trace();
    let tis: Vec<_> = hub_tx
        .iter()
        .filter(|t| t.what == "NHRP Traffic Indication")
        .map(|t| t.dst)
        .collect();
    assert!(
        tis.contains(&s.nbma(1)) && tis.contains(&s.nbma(2)),
        "{hub_tx:?}"
    );
    for (x, lan, peer) in [(a, s.ex.lan(2), s.tunnel(2)), (b, s.ex.lan(1), s.tunnel(1))] {
        assert!(
            s.has(
                x,
                |k| matches!(k, EventKind::ShortcutAdded { prefix, next_hop, .. }
                if *prefix == lan && *next_hop == peer)
            ),
            "{:?}",
            s.events(x)
        );
    }
    s.run(secs(2));
    for seq in 2..=4 {
        s.node(a).take_trace();
        s.node(b).take_trace();
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1);
        let (pa, pb) = (s.echo_path(a, seq), s.echo_path(b, seq));
        assert!(
            !pa.is_empty() && pa.iter().all(|t| t.dst == s.nbma(2)),
            "{pa:?}"
        );
        assert!(
            !pb.is_empty() && pb.iter().all(|t| t.dst == s.nbma(1)),
            "{pb:?}"
        );
    }
    s.run(secs(400));
    for x in [a, b] {
        assert!(s.has(x, |k| matches!(k, EventKind::ShortcutRemoved { .. })));
    }
    finish(&mut s, c);
}

macro_rules! cases {
    ($($f:ident),* $(,)?) => {
        mod over_ipv4 {
            use super::*;
            $(#[test] fn $f() { super::$f(Case { underlay: Family::V4, ipsec: false }) })*
        }
        mod over_ipv4_protected {
            use super::*;
            $(#[test] fn $f() { super::$f(Case { underlay: Family::V4, ipsec: true }) })*
        }
        mod over_ipv6 {
            use super::*;
            $(#[test] fn $f() { super::$f(Case { underlay: Family::V6, ipsec: false }) })*
        }
        mod over_ipv6_protected {
            use super::*;
            $(#[test] fn $f() { super::$f(Case { underlay: Family::V6, ipsec: true }) })*
        }
    };
}

cases!(seed003_spoke_to_spoke, phase3_redirect_and_shortcut);

/// A spoke with an IPv4 overlay on Tunnel0 and an IPv6 overlay on Tunnel1 (two clouds, two
/// keys, one tunnel source) and nothing but their registrations sent yet.
fn two_family_spoke() -> (dmvpn_core::Node, std::time::Instant) {
    let now = std::time::Instant::now();
    let mut cfg = Example::new(1).spoke(1);
    let mut v6 = Example::new(1).overlay_v6().spoke(1);
    let mut t1 = v6.tunnels.remove(0);
    t1.name = "Tunnel1".into();
    t1.key = Some(200_000);
    t1.nhrp.network_id = 100;
    cfg.tunnels.push(t1);
    cfg.networks.append(&mut v6.networks);
    let mut n = dmvpn_core::Node::new(now, cfg, dmvpn_core::Entropy::from_seed(6)).unwrap();
    while !matches!(n.poll_output(), dmvpn_core::Output::Timeout(_)) {}
    (n, now)
}

/// A UDP packet (TTL 1) from `src` to `dst`, as a routing protocol's hello.
fn hello(src: &str, dst: &str) -> Vec<u8> {
    use dmvpn_wire::ip::{HeaderOptions, IpProtocol, Repr};
    let data = b"hello";
    let opts = HeaderOptions {
        ttl: 1,
        ..HeaderOptions::default()
    };
    let repr = Repr::new(ip(src), ip(dst), IpProtocol::UDP, 8 + data.len(), &opts, 1).unwrap();
    let mut p = vec![0u8; repr.header_len()];
    repr.emit(&mut p).ok();
    p.truncate(repr.header_len());
    p.extend(dmvpn_wire::udp::datagram(ip(src), ip(dst), 520, 521, data).unwrap());
    assert_eq!(p.len(), repr.buffer_len());
    p
}

/// Multicast from a source on none of the tunnel subnets (an IPv6 link-local address, a LAN
/// address) goes out of the interfaces of its own family only: an IPv6 hello never into the
/// IPv4 overlay, an IPv4 one never into the IPv6 overlay.
#[test]
fn multicast_from_outside_the_tunnel_subnets_stays_in_its_family() {
    let (mut n, now) = two_family_spoke();
    for (src, dst, tunnel) in [
        ("fe80::11", "ff02::a", 1),
        ("2001:db8:1::1", "ff02::5", 1),
        ("192.168.1.1", "224.0.0.10", 0),
        ("2001:db8::11", "ff02::a", 1),
        ("10.0.0.11", "224.0.0.5", 0),
    ] {
        let packet = hello(src, dst);
        n.handle_input(dmvpn_core::Input::Overlay {
            now,
            packet: &packet,
        })
        .unwrap();
        let mut out = Vec::new();
        loop {
            match n.poll_output() {
                dmvpn_core::Output::Transmit(t) => out.push(n.tunnel_of(&t)),
                dmvpn_core::Output::Timeout(_) => break,
                _ => {}
            }
        }
        assert_eq!(out, [Some(tunnel)], "{src} > {dst}");
    }
}

/// `mode tunnel` over an IPv6 underlay: ESP carries GRE-in-IPv6 (next header 41) between the
/// two NBMA addresses; registration, resolution and the direct path work as in transport mode.
#[test]
fn tunnel_mode_over_ipv6() {
    let ex = Example::new(2).overlay_v6().underlay_v6().protected();
    let mut s = Scenario::empty("ipv6-over-ipv6-tunnel-mode-ipsec", 13, ex.clone());
    let tunnel_mode = |mut cfg: dmvpn_core::config::NodeConfig| {
        cfg.crypto.transform_sets[0].mode = dmvpn_core::config::IpsecMode::Tunnel;
        cfg
    };
    let hub = s.add(tunnel_mode(ex.hub()));
    for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=2 {
        let id = s.add(tunnel_mode(ex.spoke(i)));
        s.spokes.push(id);
    }
    let (a, b) = (s.spoke(1), s.spoke(2));
    for id in [hub, a, b] {
        s.node(id).node_mut().enable_keylog();
    }
    s.run(secs(3));
    assert!(
        s.registered(hub, 1) && s.registered(hub, 2),
        "{:?}",
        s.events(a)
    );
    s.route(1, 2);
    s.route(2, 1);
    for seq in 1..=4 {
        s.ping(1, 25, 2, 37, seq);
        s.run(secs(1));
        assert_eq!(s.replies(a, seq), 1, "{:?}", s.get(a).errors());
    }
    let now = s.now();
    let st = s.get(a).node().ike_endpoint(0).unwrap().status(now);
    assert!(!st.is_empty());
    assert!(
        st.iter()
            .all(|i| i.children.iter().all(|c| c.mode == dmvpn_esp::Mode::Tunnel))
    );
    assert!(crypto_up(&s, b, s.nbma(1)));
    s.node(a).take_trace();
    s.ping(1, 25, 2, 37, 9);
    s.run(secs(1));
    let path = s.echo_path(a, 9);
    assert!(
        !path.is_empty() && path.iter().all(|t| t.dst == s.nbma(2) && t.protected),
        "{path:?}"
    );
    finish(
        &mut s,
        Case {
            underlay: Family::V6,
            ipsec: true,
        },
    );
}
