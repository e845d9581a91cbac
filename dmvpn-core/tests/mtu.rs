//! The overlay MTU on the virtual network: `ip mtu` and the underlay's MTU held against what
//! the encapsulation adds, IPv4 fragmented before encryption (and put back together by the
//! receiving host, here the test), ICMP "fragmentation needed" and ICMPv6 "packet too big"
//! with their rate limit, and `ip tcp adjust-mss` both ways; in clear and protected.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use common::*;
use dmvpn_core::config::{NhrpConfig, NodeConfig, TunnelConfig, TunnelMode};
use dmvpn_core::sim::example::{Example, HUB_TUNNEL};
use dmvpn_core::wired::input_of;
use dmvpn_core::{Entropy, Error, Input, Limits, Node, NodeStats, Output};
use dmvpn_netsim::HostId;
use dmvpn_wire::ip::{HeaderOptions, IpProtocol, Repr as IpRepr};
use dmvpn_wire::{checksum, fragment, ipv4, tcp};
use proptest::prelude::*;

// ----- packets -----

/// An IPv4 packet of `total` bytes (`total` ≥ 28): a UDP datagram with a counting pattern and
/// a valid checksum, TTL 64, identification `id`, Don't Fragment as `df` says.
fn udp4(src: Ipv4Addr, dst: Ipv4Addr, total: usize, df: bool, id: u16) -> Vec<u8> {
    let opts = HeaderOptions {
        ttl: 64,
        dont_fragment: df,
        ..HeaderOptions::default()
    };
    let ip = IpRepr::new(
        src.into(),
        dst.into(),
        IpProtocol::UDP,
        total - 20,
        &opts,
        id,
    )
    .unwrap();
    let mut p = vec![0u8; total];
    ip.emit(&mut p).unwrap();
    udp_body(&mut p[20..], src.into(), dst.into());
    p
}

/// An IPv6 packet of `total` bytes: a UDP datagram as [`udp4`]'s.
fn udp6(src: Ipv6Addr, dst: Ipv6Addr, total: usize) -> Vec<u8> {
    let opts = HeaderOptions {
        ttl: 64,
        ..HeaderOptions::default()
    };
    let ip = IpRepr::new(
        src.into(),
        dst.into(),
        IpProtocol::UDP,
        total - 40,
        &opts,
        0,
    )
    .unwrap();
    let mut p = vec![0u8; total];
    ip.emit(&mut p).unwrap();
    udp_body(&mut p[40..], src.into(), dst.into());
    p
}

fn udp_body(u: &mut [u8], src: IpAddr, dst: IpAddr) {
    let len = u.len();
    // Discard (port 9) both ways: nothing for tshark to misread in the pcaps.
    u[0..4].copy_from_slice(&[0x00, 0x09, 0x00, 0x09]);
    u[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    for (i, b) in u[8..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let sum = checksum::pseudo_header(src, dst, 17, len as u32);
    let c = checksum::finish(checksum::accumulate(sum, u));
    u[6..8].copy_from_slice(&c.to_be_bytes());
}

/// A TCP segment over IPv4 (TTL 64) with `flags` and the option bytes `options` (padded with
/// EOL to a multiple of 4), and a valid checksum.
fn tcp4(src: Ipv4Addr, dst: Ipv4Addr, flags: u8, options: &[u8]) -> Vec<u8> {
    let mut opts = options.to_vec();
    opts.resize(options.len().next_multiple_of(4), 0);
    let tcp_len = 20 + opts.len() + 12;
    let o = HeaderOptions {
        ttl: 64,
        dont_fragment: true,
        ..HeaderOptions::default()
    };
    let ip = IpRepr::new(src.into(), dst.into(), IpProtocol::TCP, tcp_len, &o, 99).unwrap();
    let mut p = vec![0u8; ip.buffer_len()];
    ip.emit(&mut p).unwrap();
    let t = &mut p[20..];
    t[0..4].copy_from_slice(&[0xc3, 0x50, 0x01, 0xbb]);
    t[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    t[12] = (((20 + opts.len()) / 4) as u8) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t[20..20 + opts.len()].copy_from_slice(&opts);
    let sum = checksum::pseudo_header(src.into(), dst.into(), 6, tcp_len as u32);
    let c = checksum::finish(checksum::accumulate(sum, t));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    p
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// MSS `mss`, NOP, window scale 7, SACK permitted: what a Linux SYN carries (shortened).
fn syn_options(mss: u16) -> Vec<u8> {
    let [hi, lo] = mss.to_be_bytes();
    vec![2, 4, hi, lo, 1, 3, 3, 7, 4, 2]
}

/// Whether the TCP checksum of an IPv4 or IPv6 packet verifies (recomputed from scratch).
fn tcp_checksum_ok(packet: &[u8]) -> bool {
    let (ip, seg) = IpRepr::parse(packet).unwrap();
    let sum = checksum::pseudo_header(ip.src_addr(), ip.dst_addr(), 6, seg.len() as u32);
    checksum::finish(checksum::accumulate(sum, seg)) == 0
}

/// An ICMP "fragmentation needed and DF set" (RFC 792 type 3 code 4, RFC 1191 next-hop MTU):
/// its IP source and destination, the MTU and the quoted original; every checksum verified.
fn frag_needed(p: &[u8]) -> (IpAddr, IpAddr, u16, Vec<u8>) {
    // `parse` verifies the IPv4 header checksum.
    let (ip, icmp) = IpRepr::parse(p).expect("a valid IPv4 packet");
    assert_eq!(ip.protocol(), IpProtocol::ICMP);
    assert_eq!(checksum::checksum(icmp), 0, "ICMP checksum");
    assert_eq!((icmp[0], icmp[1]), (3, 4), "type 3 code 4");
    assert_eq!(&icmp[4..6], &[0, 0], "unused (RFC 1191 §4)");
    let mtu = u16::from_be_bytes([icmp[6], icmp[7]]);
    (ip.src_addr(), ip.dst_addr(), mtu, icmp[8..].to_vec())
}

// ----- the network -----

/// The example network with each node's configuration adjusted (`tweak(0, hub)`,
/// `tweak(i, spoke i)`) before it starts; the hub's routes in place, traces and captures on.
fn network(
    name: &'static str,
    seed: u64,
    ex: Example,
    tweak: impl Fn(u32, &mut NodeConfig),
) -> Scenario {
    let mut s = Scenario::empty(name, seed, ex.clone());
    let mut hub_cfg = ex.hub();
    tweak(0, &mut hub_cfg);
    let hub = s.add(hub_cfg);
    for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=ex.spokes {
        let mut cfg = ex.spoke(i);
        tweak(i, &mut cfg);
        let id = s.add(cfg);
        s.spokes.push(id);
    }
    for id in [hub].into_iter().chain(s.spokes.clone()) {
        s.node(id).set_capture(true);
    }
    s
}

/// Two spokes and the hub, registered (and protected: their SAs up), with routes between the
/// spokes' LANs.
fn up(name: &'static str, protected: bool, tweak: impl Fn(u32, &mut NodeConfig)) -> Scenario {
    let ex = if protected {
        Example::new(2).protected()
    } else {
        Example::new(2)
    };
    let mut s = network(name, 7, ex, tweak);
    s.run(secs(3));
    assert!(s.registered(s.hub(), 1) && s.registered(s.hub(), 2));
    s.route(1, 2);
    s.route(2, 1);
    s
}

/// Pings from spoke A to B until the two talk directly (phase 2: the mapping, and protected,
/// the spoke-to-spoke SA).
fn direct(s: &mut Scenario) {
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(2));
    s.ping(1, 25, 2, 37, 2);
    s.run(secs(1));
    assert_eq!(s.replies(s.spoke(1), 2), 1);
    let path = s.echo_path(s.spoke(1), 2);
    assert!(path.iter().all(|t| t.dst == s.nbma(2)), "{path:?}");
}

/// A LAN host behind spoke `i` sends `packet` now.
fn send(s: &mut Scenario, i: u32, packet: &[u8]) {
    let now = s.now();
    let id = s.spoke(i);
    s.node(id).send_overlay(now, packet);
    s.sim.flush();
}

/// What node `id` delivered to its LAN for `dst` since the last call (other packets dropped).
fn delivered_to(s: &mut Scenario, id: HostId, dst: Ipv4Addr) -> Vec<Vec<u8>> {
    s.node(id)
        .take_captured()
        .into_iter()
        .map(|c| c.packet)
        .filter(|p| dmvpn_wire::ip::destination(p) == Some(dst.into()))
        .collect()
}

fn stats(s: &Scenario, id: HostId) -> NodeStats {
    s.get(id).node().stats()
}

/// Every IP frame on the wire (stops the recording and writes the pcap); on a protected
/// network only ESP and IKE.
fn frames(s: &mut Scenario) -> Vec<Vec<u8>> {
    let rec = s.sim.finish().unwrap();
    let frames: Vec<Vec<u8>> = rec.frames().iter().map(|(_, f)| f.clone()).collect();
    if s.ex.ipsec.is_some() {
        assert!(
            frames.iter().all(|f| f[9] == 50 || f[9] == 17),
            "cleartext on the wire"
        );
    }
    frames
}

/// The overhead towards a peer, worked out by hand: outer IPv4 (20), GRE with a key (4 + 4);
/// protected with `esp-aes 256 esp-sha256-hmac`: ESP header (8), CBC IV (16), at most 15
/// bytes of padding, pad length and next header (2), HMAC-SHA-256-128 ICV (16).
fn overhead(protected: bool) -> u16 {
    20 + 8 + if protected { 8 + 16 + 15 + 2 + 16 } else { 0 }
}

// ----- fragmentation needed -----

fn df_packets_larger_than_the_mtu_get_fragmentation_needed(name: &'static str, protected: bool) {
    let mut s = up(name, protected, |_, _| {});
    direct(&mut s);
    let (a, b) = (s.spoke(1), s.spoke(2));
    let (pc, server) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    let a_tunnel = s.tunnel(1);
    assert_eq!(s.get(a).node().tunnel_mtu(0, s.nbma(2)), Some(1400));
    assert_eq!(
        s.get(a).node().tunnel_overhead(0, s.nbma(2)),
        Some(overhead(protected))
    );
    delivered_to(&mut s, a, pc);
    delivered_to(&mut s, b, server);
    let before = stats(&s, a);

    // Exactly `ip mtu` passes, whole.
    let fits = udp4(pc, server, 1400, true, 1);
    send(&mut s, 1, &fits);
    s.run(secs(1));
    assert_eq!(delivered_to(&mut s, b, server), vec![fits]);

    // The seeds' 1,500 bytes with DF do not: dropped, and the PC hears why.
    let big = udp4(pc, server, 1500, true, 2);
    send(&mut s, 1, &big);
    s.run(secs(1));
    assert!(delivered_to(&mut s, b, server).is_empty());
    let back = delivered_to(&mut s, a, pc);
    assert_eq!(back.len(), 1, "one ICMP error");
    let (src, dst, mtu, quote) = frag_needed(&back[0]);
    assert_eq!((src, dst, mtu), (a_tunnel, IpAddr::from(pc), 1400));
    // The original's header and first 8 data bytes (RFC 792), then as much as fits in 576
    // bytes (RFC 1812 §4.3.2.3), exactly as sent.
    assert_eq!(&quote[..28], &big[..28]);
    assert_eq!(quote, big[..576 - 28]);
    let after = stats(&s, a);
    assert_eq!(after.too_big - before.too_big, 1);
    assert_eq!(after.icmp_sent - before.icmp_sent, 1);
    assert_eq!(after.fragments, before.fragments);
    assert!(
        s.get(a).errors().iter().any(|(_, e)| *e
            == Error::PacketTooBig {
                dst: server.into(),
                mtu: 1400
            }),
        "{:?}",
        s.get(a).errors()
    );
    frames(&mut s);
}

#[test]
fn df_packets_larger_than_the_mtu_get_fragmentation_needed_in_clear() {
    df_packets_larger_than_the_mtu_get_fragmentation_needed("mtu-df-clear", false);
}

#[test]
fn df_packets_larger_than_the_mtu_get_fragmentation_needed_protected() {
    df_packets_larger_than_the_mtu_get_fragmentation_needed("mtu-df-protected", true);
}

// ----- fragmentation before encryption -----

/// The datagrams of `fragments` (grouped by identification, in first-seen order), reassembled.
fn reassembled(fragments: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut ids: Vec<u16> = Vec::new();
    for f in fragments {
        let id = ipv4::Packet::new_checked(&f[..]).unwrap().identification();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.into_iter()
        .map(|id| {
            let parts = fragments
                .iter()
                .filter(|f| ipv4::Packet::new_checked(&f[..]).unwrap().identification() == id)
                .map(Vec::as_slice);
            fragment::reassemble(parts).unwrap()
        })
        .collect()
}

/// `p` as a router one hop on forwards it: TTL one less, header checksum updated.
fn one_hop_on(p: &[u8]) -> Vec<u8> {
    let mut q = p.to_vec();
    assert!(dmvpn_wire::ip::decrement_ttl(&mut q));
    q
}

fn non_df_packets_are_fragmented_before_encryption(name: &'static str, protected: bool) {
    // The underlay carries 1,400 bytes only: the effective MTU is 1,400 less the overhead.
    let mut s = up(name, protected, |_, c| c.tunnels[0].underlay_mtu = 1400);
    let (a, b) = (s.spoke(1), s.spoke(2));
    let (pc, server) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    let mtu = 1400 - overhead(protected);
    assert_eq!(s.get(a).node().tunnel_mtu(0, HUB_NBMA.into()), Some(mtu));
    delivered_to(&mut s, b, server);

    // The first goes through the hub (no mapping yet), which forwards each fragment.
    let first = udp4(pc, server, 1500, false, 0x0101);
    send(&mut s, 1, &first);
    s.run(secs(2));
    let got = delivered_to(&mut s, b, server);
    assert_eq!(got.len(), 2, "two fragments");
    for f in &got {
        assert!(f.len() <= usize::from(mtu));
    }
    assert_eq!(reassembled(&got), vec![one_hop_on(&first)]);
    direct(&mut s);
    delivered_to(&mut s, b, server);

    // Then straight to spoke B: a big one, and one of the largest datagrams there are.
    let big = udp4(pc, server, 1500, false, 0x0202);
    let huge = udp4(pc, server, 65_535, false, 0x0303);
    send(&mut s, 1, &big);
    send(&mut s, 1, &huge);
    s.run(secs(1));
    let got = delivered_to(&mut s, b, server);
    let per = usize::from(mtu - 20) & !7;
    assert_eq!(got.len(), 2 + (65_535 - 20usize).div_ceil(per));
    assert_eq!(reassembled(&got), vec![big, huge]);
    let st = stats(&s, a);
    assert_eq!(st.fragments, got.len() as u64 + 2);
    assert_eq!(st.too_big, 0);

    // Every GRE (or ESP) packet of them fitted the underlay, and some only just.
    let frames = frames(&mut s);
    let largest = frames.iter().map(Vec::len).max().unwrap();
    assert!(
        largest <= 1400,
        "a {largest}-byte frame on a 1,400-byte underlay"
    );
    assert!(
        largest > 1400 - 24,
        "{largest}: the fragments use the room there is"
    );
}

#[test]
fn non_df_packets_are_fragmented_before_encryption_in_clear() {
    non_df_packets_are_fragmented_before_encryption("mtu-frag-clear", false);
}

#[test]
fn non_df_packets_are_fragmented_before_encryption_protected() {
    non_df_packets_are_fragmented_before_encryption("mtu-frag-protected", true);
}

// ----- the underlay's MTU -----

fn a_narrow_underlay_lowers_the_effective_mtu(name: &'static str, protected: bool) {
    let mut s = up(name, protected, |_, c| c.tunnels[0].underlay_mtu = 1400);
    direct(&mut s);
    let (a, b) = (s.spoke(1), s.spoke(2));
    let hub_nbma: IpAddr = HUB_NBMA.into();
    let (pc, server) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    let mtu = 1400 - overhead(protected);
    let node = s.get(a).node();
    assert_eq!(node.tunnel_mtu(0, hub_nbma), Some(mtu));
    assert_eq!(node.tunnel_mtu(0, s.nbma(2)), Some(mtu));
    // In the status data and in `show dmvpn detail`.
    let st = node.status(s.now());
    let hub = st.tunnels[0]
        .peers
        .iter()
        .find(|p| p.nbma == Some(hub_nbma))
        .unwrap();
    assert_eq!(
        (hub.mtu, hub.overhead),
        (Some(mtu), Some(overhead(protected)))
    );
    assert_eq!(
        (st.tunnels[0].mtu, st.tunnels[0].underlay_mtu),
        (1400, 1400)
    );
    let detail = node.show_dmvpn_detail(s.now());
    assert!(
        detail.contains(" IP MTU 1400 bytes, underlay MTU 1400 bytes\n"),
        "{detail}"
    );
    assert!(
        detail.contains(&format!(
            " Peer 172.17.0.1: MTU {mtu} bytes, overhead {} bytes\n",
            overhead(protected)
        )),
        "{detail}"
    );
    if protected {
        // `show crypto ipsec sa` names the underlay's MTU.
        let ipsec = node.show_crypto_ipsec_sa(s.now());
        assert!(
            ipsec.contains("     path mtu 1400, ip mtu 1400\n"),
            "{ipsec}"
        );
    }
    delivered_to(&mut s, a, pc);
    delivered_to(&mut s, b, server);

    // A packet of `ip mtu` with DF no longer fits: the ICMP says what does.
    let p = udp4(pc, server, 1400, true, 5);
    send(&mut s, 1, &p);
    s.run(secs(1));
    let back = delivered_to(&mut s, a, pc);
    assert_eq!(back.len(), 1);
    let (_, _, said, quote) = frag_needed(&back[0]);
    assert_eq!(said, mtu);
    assert_eq!(&quote[..], &p[..548]);
    assert!(delivered_to(&mut s, b, server).is_empty());
    // And a packet of that size does fit.
    let q = udp4(pc, server, usize::from(mtu), true, 6);
    send(&mut s, 1, &q);
    s.run(secs(1));
    assert_eq!(delivered_to(&mut s, b, server), vec![q]);
    let largest = frames(&mut s).iter().map(Vec::len).max().unwrap();
    assert!(largest <= 1400, "{largest}");
}

#[test]
fn a_narrow_underlay_lowers_the_effective_mtu_in_clear() {
    a_narrow_underlay_lowers_the_effective_mtu("mtu-underlay-clear", false);
}

#[test]
fn a_narrow_underlay_lowers_the_effective_mtu_protected() {
    a_narrow_underlay_lowers_the_effective_mtu("mtu-underlay-protected", true);
}

// ----- ESP in UDP: 8 bytes more -----

/// Spokes behind NAPT boxes (every SA in ESP-in-UDP 4500, RFC 3948) on a 1,400-byte underlay:
/// the UDP header's 8 bytes come off the effective MTU too.
#[test]
fn esp_in_udp_costs_the_udp_header() {
    let ex = Example::new(2).protected();
    let mut s = Scenario::empty("mtu-napt", 31, ex.clone());
    for (i, public) in [(1, "198.51.100.1"), (2, "203.0.113.2")] {
        let nat = dmvpn_netsim::NaptConfig::new(ip(public), vec![ex.spoke_nbma(i).into()]);
        s.sim.network_mut().add_napt(nat);
    }
    let narrow = |mut c: NodeConfig| {
        c.tunnels[0].underlay_mtu = 1400;
        c
    };
    let hub = s.add(narrow(ex.hub()));
    for (net, via) in ex.hub_routes().collect::<Vec<_>>() {
        s.node(hub).add_route(net, via).unwrap();
    }
    s.hub = Some(hub);
    for i in 1..=2 {
        let id = s.add(narrow(ex.spoke(i)));
        s.node(id).set_capture(true);
        s.spokes.push(id);
    }
    s.run(secs(3));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    s.route(1, 2);
    s.route(2, 1);
    let (a, b) = (s.spoke(1), s.spoke(2));
    let mtu = 1400 - overhead(true) - 8;
    assert_eq!(s.get(a).node().tunnel_mtu(0, HUB_NBMA.into()), Some(mtu));
    assert_eq!(
        s.get(hub).node().tunnel_mtu(0, ip("198.51.100.1")),
        Some(mtu)
    );
    let (pc, server) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    // Through the hub, both legs in UDP: DF gets the number, the other is cut to fit.
    let df = udp4(pc, server, 1400, true, 1);
    let frag = udp4(pc, server, 1500, false, 2);
    send(&mut s, 1, &df);
    send(&mut s, 1, &frag);
    s.run(secs(2));
    let back = delivered_to(&mut s, a, pc);
    assert_eq!(back.len(), 1);
    assert_eq!(frag_needed(&back[0]).2, mtu);
    let got = delivered_to(&mut s, b, server);
    assert_eq!(got.len(), 2);
    assert_eq!(reassembled(&got), vec![one_hop_on(&frag)]);
    let frames = frames(&mut s);
    assert!(frames.iter().all(|f| f[9] == 17), "all in UDP");
    let largest = frames.iter().map(Vec::len).max().unwrap();
    assert!(largest <= 1400 && largest > 1400 - 24, "{largest}");
}

// ----- the hub's MTU: the error goes back into the tunnel -----

fn a_hub_with_a_smaller_mtu_answers_through_the_tunnel(name: &'static str, protected: bool) {
    // The hub's `ip mtu` is 1,300; the spokes' 1,400.
    let mut s = up(name, protected, |i, c| {
        if i == 0 {
            c.tunnels[0].mtu = 1300;
        }
    });
    let (hub, a, b) = (s.hub(), s.spoke(1), s.spoke(2));
    let (pc, server) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    delivered_to(&mut s, a, pc);
    delivered_to(&mut s, b, server);
    // Both go through the hub (no mapping to B yet): 1,400 bytes fit A's tunnel, not the
    // hub's towards B.
    let df = udp4(pc, server, 1400, true, 7);
    let frag = udp4(pc, server, 1400, false, 8);
    send(&mut s, 1, &df);
    send(&mut s, 1, &frag);
    s.run(secs(2));
    let h = stats(&s, hub);
    assert_eq!((h.too_big, h.icmp_sent, h.fragments), (1, 1, 2));
    // The error came back through the tunnel from the hub's tunnel address to the PC.
    let back = delivered_to(&mut s, a, pc);
    assert_eq!(back.len(), 1, "{back:?}");
    let (src, dst, mtu, quote) = frag_needed(&back[0]);
    assert_eq!(
        (src, dst, mtu),
        (IpAddr::from(HUB_TUNNEL), IpAddr::from(pc), 1300)
    );
    // It quotes the packet as the hub received it (before its TTL decrement).
    assert_eq!(quote, df[..548]);
    // The other was cut in two by the hub and put together again behind spoke B.
    let got = delivered_to(&mut s, b, server);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|f| f.len() <= 1300));
    assert_eq!(reassembled(&got), vec![one_hop_on(&frag)]);
    frames(&mut s);
}

#[test]
fn a_hub_with_a_smaller_mtu_answers_through_the_tunnel_in_clear() {
    a_hub_with_a_smaller_mtu_answers_through_the_tunnel("mtu-hub-clear", false);
}

#[test]
fn a_hub_with_a_smaller_mtu_answers_through_the_tunnel_protected() {
    a_hub_with_a_smaller_mtu_answers_through_the_tunnel("mtu-hub-protected", true);
}

// ----- the rate limit -----

#[test]
fn a_burst_of_too_big_packets_gets_only_the_permitted_errors() {
    let mut s = up("mtu-rate-limit", false, |_, _| {});
    let a = s.spoke(1);
    let (pc, server) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    delivered_to(&mut s, a, pc);
    let burst = |s: &mut Scenario, first: u16| {
        for k in 0..10 {
            send(s, 1, &udp4(pc, server, 1500, true, first + k));
        }
        s.run(Duration::from_millis(100));
    };
    // The default bucket: 2 at once, then one per 500 ms.
    burst(&mut s, 0);
    assert_eq!(delivered_to(&mut s, a, pc).len(), 2);
    let st = stats(&s, a);
    assert_eq!((st.too_big, st.icmp_sent, st.icmp_rate_limited), (10, 2, 8));
    s.run(Duration::from_millis(500));
    burst(&mut s, 100);
    assert_eq!(delivered_to(&mut s, a, pc).len(), 1);
    let st = stats(&s, a);
    assert_eq!(
        (st.too_big, st.icmp_sent, st.icmp_rate_limited),
        (20, 3, 17)
    );
    // Long after, the bucket is full again (and no fuller).
    s.run(secs(30));
    burst(&mut s, 200);
    assert_eq!(delivered_to(&mut s, a, pc).len(), 2);
    let st = stats(&s, a);
    assert_eq!(
        (st.too_big, st.icmp_sent, st.icmp_rate_limited),
        (30, 5, 25)
    );
    // An ICMP error too big for the tunnel is dropped but never answered.
    let err = IpRepr::new(
        pc.into(),
        server.into(),
        IpProtocol::ICMP,
        1480,
        &HeaderOptions {
            dont_fragment: true,
            ..HeaderOptions::default()
        },
        1,
    )
    .unwrap();
    let mut p = vec![0u8; 1500];
    err.emit(&mut p).unwrap();
    p[20] = 3; // destination unreachable
    s.run(secs(30));
    send(&mut s, 1, &p);
    s.run(secs(1));
    assert!(delivered_to(&mut s, a, pc).is_empty());
    let st = stats(&s, a);
    assert_eq!(
        (st.too_big, st.icmp_sent, st.icmp_rate_limited),
        (31, 5, 25)
    );
    frames(&mut s);
}

// ----- ip tcp adjust-mss -----

fn syns_are_clamped_both_ways(name: &'static str, protected: bool) {
    // Only spoke A clamps: what goes into its tunnel, and what comes out of it.
    let mut s = up(name, protected, |i, c| {
        if i == 1 {
            c.tunnels[0].adjust_mss = Some(1360);
        }
    });
    direct(&mut s);
    let (a, b) = (s.spoke(1), s.spoke(2));
    let (pc, server) = (s.ex.lan_host(1, 25), s.ex.lan_host(2, 37));
    delivered_to(&mut s, a, pc);
    delivered_to(&mut s, b, server);

    // Into the tunnel: A's SYN with MSS 1460 arrives at B with 1360.
    let syn = tcp4(pc, server, SYN, &syn_options(1460));
    send(&mut s, 1, &syn);
    s.run(secs(1));
    let got = delivered_to(&mut s, b, server);
    assert_eq!(got.len(), 1);
    assert_eq!(tcp::syn_mss(&got[0]), Some(1360));
    assert!(tcp_checksum_ok(&got[0]));
    let changed: Vec<usize> = (0..syn.len()).filter(|&i| syn[i] != got[0][i]).collect();
    assert!(
        changed.iter().all(|i| [36, 37, 42, 43].contains(i)),
        "only the TCP checksum and the MSS: {changed:?}"
    );

    // Out of the tunnel: B's SYN-ACK with 1460 (B does not clamp) reaches the PC with 1360.
    let syn_ack = tcp4(server, pc, SYN | ACK, &syn_options(1460));
    let now = s.now();
    s.node(b).send_overlay(now, &syn_ack);
    s.sim.flush();
    s.run(secs(1));
    let got = delivered_to(&mut s, a, pc);
    assert_eq!(got.len(), 1);
    assert_eq!(tcp::syn_mss(&got[0]), Some(1360));
    assert!(tcp_checksum_ok(&got[0]));
    assert_eq!(stats(&s, a).mss_clamped, 2);

    // Left alone: a smaller MSS.
    let small = tcp4(pc, server, SYN, &syn_options(1200));
    send(&mut s, 1, &small);
    s.run(secs(1));
    assert_eq!(delivered_to(&mut s, b, server), vec![small]);
    // The pcap ends here: what follows is malformed on purpose (the CI's tshark sweep wants
    // clean captures).
    frames(&mut s);

    // Left alone: a segment without SYN, malformed option lists.
    let untouched = [
        tcp4(pc, server, ACK, &syn_options(1460)),
        // MSS, then an option of length 0.
        tcp4(pc, server, SYN, &[2, 4, 5, 0xb4, 8, 0]),
        // An MSS option of length 3.
        tcp4(pc, server, SYN, &[2, 3, 5, 0xb4]),
        // An option running past the header, before the MSS.
        tcp4(pc, server, SYN, &[8, 40, 2, 4, 5, 0xb4]),
    ];
    let mut truncated = tcp4(pc, server, SYN, &syn_options(1460));
    truncated[32] = 0xf0; // data offset 60 bytes: past the packet's end
    for p in untouched.iter().chain([&truncated]) {
        send(&mut s, 1, p);
    }
    s.run(secs(1));
    let got = delivered_to(&mut s, b, server);
    assert_eq!(got.len(), 5);
    assert_eq!(&got[..4], &untouched[..]);
    assert_eq!(got[4], truncated);
    assert_eq!(stats(&s, a).mss_clamped, 2);
    // B clamps nothing.
    assert_eq!(stats(&s, b).mss_clamped, 0);
}

#[test]
fn syns_are_clamped_both_ways_in_clear() {
    syns_are_clamped_both_ways("mtu-mss-clear", false);
}

#[test]
fn syns_are_clamped_both_ways_protected() {
    syns_are_clamped_both_ways("mtu-mss-protected", true);
}

// ----- IPv6: packet too big -----

/// A static point-to-point tunnel with an IPv6 overlay over IPv4 (`ipv6 address`, `tunnel
/// destination`, no NHRP peers), `lan` behind it.
fn v6_node(name: &str, me: u8, peer: u8, lan: &str, underlay_mtu: u16) -> NodeConfig {
    let nbma = |x: u8| IpAddr::from(Ipv4Addr::new(198, 51, 100, x));
    NodeConfig {
        hostname: name.into(),
        tunnels: vec![TunnelConfig {
            name: "Tunnel0".into(),
            address: format!("fd00::{me}/64").parse().unwrap(),
            source: nbma(me),
            mode: TunnelMode::PointToPoint {
                destination: nbma(peer),
            },
            key: None,
            mtu: 1400,
            underlay_mtu,
            adjust_mss: None,
            verify_unicast_source: false,
            nhrp: NhrpConfig::new(1),
            protection: None,
            ipv6: None,
        }],
        networks: vec![lan.parse().unwrap()],
        crypto: Default::default(),
    }
}

/// An ICMPv6 "packet too big" (RFC 4443 §3.2): source, destination, MTU and the quoted
/// original, the checksum (with the pseudo-header) verified.
fn packet_too_big(p: &[u8]) -> (IpAddr, IpAddr, u32, Vec<u8>) {
    let (ip, icmp) = IpRepr::parse(p).expect("a valid IPv6 packet");
    assert_eq!(ip.protocol(), IpProtocol::ICMPV6);
    let sum = checksum::pseudo_header(ip.src_addr(), ip.dst_addr(), 58, icmp.len() as u32);
    assert_eq!(checksum::finish(checksum::accumulate(sum, icmp)), 0);
    assert_eq!((icmp[0], icmp[1]), (2, 0));
    let mtu = u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]);
    (ip.src_addr(), ip.dst_addr(), mtu, icmp[8..].to_vec())
}

#[test]
fn ipv6_larger_than_the_mtu_gets_packet_too_big() {
    let mut s = Scenario::empty("mtu-ipv6", 9, Example::new(0));
    let x = s.add(v6_node("x", 1, 2, "fd00:1::/64", 1500));
    let y = s.add(v6_node("y", 2, 1, "fd00:2::/64", 1500));
    s.node(x)
        .add_route("fd00:2::/64".parse().unwrap(), "fd00::2".parse().unwrap())
        .unwrap();
    s.node(y)
        .add_route("fd00:1::/64".parse().unwrap(), "fd00::1".parse().unwrap())
        .unwrap();
    for id in [x, y] {
        s.node(id).set_capture(true);
    }
    s.run(secs(1));
    let host: Ipv6Addr = "fd00:1::25".parse().unwrap();
    let server: Ipv6Addr = "fd00:2::37".parse().unwrap();
    let send6 = |s: &mut Scenario, p: &[u8]| {
        let now = s.now();
        s.node(x).send_overlay(now, p);
        s.sim.flush();
        s.run(secs(1));
    };
    let taken = |s: &mut Scenario, id: HostId, to: Ipv6Addr| -> Vec<Vec<u8>> {
        s.node(id)
            .take_captured()
            .into_iter()
            .map(|c| c.packet)
            .filter(|p| dmvpn_wire::ip::destination(p) == Some(to.into()))
            .collect()
    };
    assert_eq!(
        s.get(x)
            .node()
            .tunnel_mtu(0, "198.51.100.2".parse().unwrap()),
        Some(1400)
    );
    // 1,400 bytes go through whole.
    let fits = udp6(host, server, 1400);
    send6(&mut s, &fits);
    assert_eq!(taken(&mut s, y, server), vec![fits]);
    // 1,500 do not, DF or not (routers never fragment IPv6).
    let big = udp6(host, server, 1500);
    send6(&mut s, &big);
    assert!(taken(&mut s, y, server).is_empty());
    let back = taken(&mut s, x, host);
    assert_eq!(back.len(), 1);
    let (src, dst, mtu, quote) = packet_too_big(&back[0]);
    assert_eq!(
        (src, dst, mtu),
        (
            "fd00::1".parse::<IpAddr>().unwrap(),
            IpAddr::from(host),
            1400
        )
    );
    // As much of the original as fits in 1,280 bytes.
    assert_eq!(back[0].len(), 1280);
    assert_eq!(quote, big[..1280 - 48]);
    let st = stats(&s, x);
    assert_eq!((st.too_big, st.icmp_sent, st.fragments), (1, 1, 0));
    s.finish();
}

#[test]
fn ipv6_never_gets_less_than_1280() {
    // The underlay leaves 1,276 bytes (1,300 - 20 - 4): IPv6 still gets its minimum MTU, the
    // rest is the underlay's to fragment (RFC 8200 §5).
    let mut s = Scenario::empty("mtu-ipv6-floor", 10, Example::new(0));
    let x = s.add(v6_node("x", 1, 2, "fd00:1::/64", 1300));
    let y = s.add(v6_node("y", 2, 1, "fd00:2::/64", 1500));
    s.node(x)
        .add_route("fd00:2::/64".parse().unwrap(), "fd00::2".parse().unwrap())
        .unwrap();
    s.node(x).set_capture(true);
    s.node(y).set_capture(true);
    let peer: IpAddr = "198.51.100.2".parse().unwrap();
    assert_eq!(s.get(x).node().tunnel_mtu(0, peer), Some(1280));
    assert_eq!(s.get(x).node().tunnel_overhead(0, peer), Some(24));
    let host: Ipv6Addr = "fd00:1::25".parse().unwrap();
    let server: Ipv6Addr = "fd00:2::37".parse().unwrap();
    let now = s.now();
    s.node(x).send_overlay(now, &udp6(host, server, 1280));
    s.node(x).send_overlay(now, &udp6(host, server, 1281));
    s.sim.flush();
    s.run(secs(1));
    let at_y = s.node(y).take_captured();
    assert_eq!(at_y.len(), 1);
    assert_eq!(at_y[0].packet.len(), 1280);
    let back = s.node(x).take_captured();
    assert_eq!(back.len(), 1);
    assert_eq!(packet_too_big(&back[0].packet).2, 1280);
    s.finish();
}

// ----- the node API: two static tunnels wired by hand -----

/// Two nodes with a point-to-point IPv4 tunnel between them (192.168.10.0/24 behind the first,
/// 192.168.20.0/24 behind the second), `tweak`ed, with the given limits.
fn pair(tweak: impl Fn(&mut TunnelConfig), limits: Limits) -> (Node, Node, Instant) {
    let now = Instant::now();
    let cfg = |me: u8, peer: u8, lan: &str| {
        let nbma = |x: u8| IpAddr::from(Ipv4Addr::new(198, 51, 100, x));
        let mut t = TunnelConfig {
            name: "Tunnel0".into(),
            address: format!("10.9.0.{me}/24").parse().unwrap(),
            source: nbma(me),
            mode: TunnelMode::PointToPoint {
                destination: nbma(peer),
            },
            key: Some(7),
            mtu: 1400,
            underlay_mtu: 1500,
            adjust_mss: None,
            verify_unicast_source: false,
            nhrp: NhrpConfig::new(1),
            protection: None,
            ipv6: None,
        };
        tweak(&mut t);
        NodeConfig {
            hostname: format!("r{me}"),
            tunnels: vec![t],
            networks: vec![lan.parse().unwrap()],
            crypto: Default::default(),
        }
    };
    let mut a = Node::with_limits(
        now,
        cfg(1, 2, "192.168.10.0/24"),
        Entropy::from_seed(1),
        limits,
    )
    .unwrap();
    let mut b = Node::with_limits(
        now,
        cfg(2, 1, "192.168.20.0/24"),
        Entropy::from_seed(2),
        limits,
    )
    .unwrap();
    a.add_route(
        "192.168.20.0/24".parse().unwrap(),
        "10.9.0.2".parse().unwrap(),
    )
    .unwrap();
    b.add_route(
        "192.168.10.0/24".parse().unwrap(),
        "10.9.0.1".parse().unwrap(),
    )
    .unwrap();
    (a, b, now)
}

/// Sends `packet` into `a` and carries its transmits to `b`: the packets `b` delivered, what
/// `a` delivered back (ICMP errors), and the largest outer packet (IPv4 header included).
fn through(
    a: &mut Node,
    b: &mut Node,
    now: Instant,
    packet: &[u8],
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, usize) {
    let _ = a.handle_input(Input::Overlay { now, packet });
    let (mut at_b, mut at_a, mut largest) = (Vec::new(), Vec::new(), 0);
    loop {
        match a.poll_output() {
            Output::Transmit(t) => {
                largest = largest.max(20 + t.payload.len());
                let _ = b.handle_input(input_of(now, &t));
            }
            Output::Deliver(d) => at_a.push(d.packet().to_vec()),
            Output::Event(_) => {}
            Output::Timeout(_) => break,
        }
    }
    loop {
        match b.poll_output() {
            Output::Deliver(d) => at_b.push(d.packet().to_vec()),
            Output::Timeout(_) => break,
            _ => {}
        }
    }
    (at_b, at_a, largest)
}

#[test]
fn no_icmp_errors_with_an_empty_bucket() {
    let limits = Limits {
        icmp_error_burst: 0,
        ..Limits::default()
    };
    let (mut a, mut b, now) = pair(|_| {}, limits);
    let p = udp4(
        [192, 168, 10, 5].into(),
        [192, 168, 20, 5].into(),
        1500,
        true,
        1,
    );
    let (at_b, at_a, _) = through(&mut a, &mut b, now, &p);
    assert!(at_b.is_empty() && at_a.is_empty());
    let st = a.stats();
    assert_eq!((st.too_big, st.icmp_sent, st.icmp_rate_limited), (1, 0, 1));
}

/// An IPv4 packet (any options, TTL, TOS, identification; DF clear) of `payload_len` UDP-ish
/// bytes from the first LAN to the second.
fn any_v4(opts: &[u8], payload_len: usize, ttl: u8, tos: u8, id: u16) -> Vec<u8> {
    let r = ipv4::Repr {
        ttl,
        dscp_ecn: tos,
        identification: id,
        options: ipv4::Options::new(opts).unwrap(),
        ..ipv4::Repr::new(
            [192, 168, 10, 5].into(),
            [192, 168, 20, 5].into(),
            IpProtocol::UDP,
            payload_len,
        )
    };
    let mut p = vec![0u8; r.buffer_len()];
    r.emit(&mut ipv4::Packet::new_unchecked(&mut p[..]))
        .unwrap();
    let h = r.header_len();
    for (i, b) in p[h..].iter_mut().enumerate() {
        *b = (i * 7 % 256) as u8;
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any IPv4 packet without DF, any `ip mtu` and underlay MTU: what arrives on the far side
    /// reassembles into the packet sent, and no outer packet exceeded the underlay's MTU.
    #[test]
    fn fragments_through_a_tunnel_reassemble_into_the_original(
        words in 0usize..=10,
        opt_bytes in proptest::collection::vec(any::<u8>(), 40),
        payload_len in 0usize..4000,
        ttl in 1u8..=255,
        tos in any::<u8>(),
        id in any::<u16>(),
        mtu in 576u16..=1500,
        underlay_mtu in 576u16..=1500,
    ) {
        let (mut a, mut b, now) = pair(|t| {
            t.mtu = mtu;
            t.underlay_mtu = underlay_mtu;
        }, Limits::default());
        let effective = usize::from(mtu.min(underlay_mtu - 28));
        prop_assert_eq!(a.tunnel_mtu(0, "198.51.100.2".parse().unwrap()), Some(effective as u16));
        let p = any_v4(&opt_bytes[..words * 4], payload_len, ttl, tos, id);
        let (at_b, at_a, largest) = through(&mut a, &mut b, now, &p);
        prop_assert!(at_a.is_empty());
        prop_assert!(largest <= usize::from(underlay_mtu), "{} > {}", largest, underlay_mtu);
        let n = at_b.len();
        prop_assert_eq!(n > 1, p.len() > effective);
        prop_assert_eq!(a.stats().fragments, if n > 1 { n as u64 } else { 0 });
        prop_assert_eq!(fragment::reassemble(at_b.iter().map(Vec::as_slice)).unwrap(), p);
    }

    /// SYNs with arbitrary flags, MSS and option bytes through a clamping tunnel: a delivered
    /// segment differs from the one sent only when it is a SYN whose MSS was larger, and then
    /// only in the MSS (now the limit) and the checksum, which verifies.
    #[test]
    fn the_clamp_touches_only_big_mss_of_syns(
        flags in any::<u8>(),
        mss in any::<u16>(),
        before in proptest::collection::vec(any::<u8>(), 0..8),
        after in proptest::collection::vec(any::<u8>(), 0..12),
        limit in 500u16..=1460,
    ) {
        let (mut a, mut b, now) = pair(|t| t.adjust_mss = Some(limit), Limits::default());
        let mut opts = before.clone();
        opts.extend_from_slice(&[2, 4]);
        opts.extend_from_slice(&mss.to_be_bytes());
        opts.extend_from_slice(&after);
        let p = tcp4([192, 168, 10, 5].into(), [192, 168, 20, 5].into(), flags, &opts);
        let (at_b, _, _) = through(&mut a, &mut b, now, &p);
        prop_assert_eq!(at_b.len(), 1);
        let got = &at_b[0];
        prop_assert_eq!(got.len(), p.len());
        // The MSS the clamp sees (ours, or one in `before`, or none if the list is malformed
        // or ends before it).
        let sent = tcp::syn_mss(&p);
        if got != &p {
            prop_assert!(flags & SYN != 0 && sent.is_some_and(|m| m > limit));
            prop_assert_eq!(tcp::syn_mss(got), Some(limit));
            prop_assert!(tcp_checksum_ok(got));
            let changed = (0..p.len()).filter(|&i| p[i] != got[i]).count();
            prop_assert!(changed <= 4);
            prop_assert_eq!(a.stats().mss_clamped, 1);
        } else {
            prop_assert!(sent.is_none_or(|m| m <= limit));
            prop_assert_eq!(a.stats().mss_clamped, 0);
        }
    }

    /// Arbitrary bytes from the overlay and the underlay never panic a clamping node with a
    /// small MTU.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..1600),
        as_overlay in any::<bool>(),
    ) {
        let (mut a, mut b, now) = pair(|t| {
            t.adjust_mss = Some(500);
            t.mtu = 576;
        }, Limits::default());
        if as_overlay {
            let _ = through(&mut a, &mut b, now, &bytes);
        } else {
            let src = "198.51.100.2".parse().unwrap();
            let dst = "198.51.100.1".parse().unwrap();
            let _ = a.handle_input(Input::Underlay { now, src, dst, payload: &bytes });
            while !matches!(a.poll_output(), Output::Timeout(_)) {}
        }
    }
}
