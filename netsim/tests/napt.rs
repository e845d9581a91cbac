//! The port-translating NAT box (NAPT): mapping, port preservation and allocation, UDP-only
//! translation, filtering, idle timeout and refresh, rebinding, hairpinning, checksums.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dmvpn_netsim::{
    Datagram, Decap, Filtering, LinkProfile, NaptConfig, NatConfig, NatId, NatStats, Network,
    Recorder, Transmit,
};
use dmvpn_wire::checksum;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn udp(from: SocketAddr, to: SocketAddr, payload: &[u8]) -> Datagram {
    Datagram::try_from(Transmit::udp(from, to, payload.to_vec())).unwrap()
}

fn raw(from: &str, to: &str, protocol: u8) -> Datagram {
    Datagram {
        src: ip(from),
        dst: ip(to),
        protocol,
        payload: vec![0x45; 40],
    }
}

/// The UDP checksum recomputed over the pseudo-header and the datagram with its checksum field
/// taken as zero, as a receiver would, compared with the field (never zero here).
fn checksum_ok(d: &Datagram) -> bool {
    let field = u16::from_be_bytes([d.payload[6], d.payload[7]]);
    let mut zeroed = d.payload.clone();
    zeroed[6..8].copy_from_slice(&[0, 0]);
    let sum = checksum::pseudo_header(d.src, d.dst, 17, zeroed.len() as u32);
    let computed = match checksum::finish(checksum::accumulate(sum, &zeroed)) {
        0 => 0xffff,
        c => c,
    };
    field != 0 && field == computed
}

fn ports(d: &Datagram) -> (u16, u16) {
    (
        u16::from_be_bytes([d.payload[0], d.payload[1]]),
        u16::from_be_bytes([d.payload[2], d.payload[3]]),
    )
}

fn src(d: &Datagram) -> SocketAddr {
    SocketAddr::new(d.src, ports(d).0)
}

fn dst(d: &Datagram) -> SocketAddr {
    SocketAddr::new(d.dst, ports(d).1)
}

/// A network with instant links (arrival at the instant of sending) and one NAPT box.
fn napt_net(config: NaptConfig) -> (Network, NatId, Instant) {
    let start = Instant::now();
    let mut net = Network::new(1, start);
    net.set_default_link(LinkProfile {
        delay: Duration::ZERO,
        ..LinkProfile::default()
    });
    let id = net.add_napt(config);
    (net, id, start)
}

fn home(f: impl FnOnce(&mut NaptConfig)) -> (Network, NatId, Instant) {
    let mut c = NaptConfig::new(
        ip("203.0.113.1"),
        vec![ip("192.168.1.2"), ip("192.168.1.3")],
    );
    f(&mut c);
    napt_net(c)
}

/// Sends `d` and returns what arrives (at once: the links have no delay).
fn through(net: &mut Network, d: Datagram) -> Option<Datagram> {
    net.send(d);
    let got = net.pop_due();
    assert!(net.pop_due().is_none());
    got
}

fn stats(net: &Network, id: NatId) -> NatStats {
    net.nat_stats(id).unwrap()
}

#[test]
fn napt_keeps_the_port_gives_a_second_host_another_and_translates_replies_back() {
    for (public, a, b, server) in [
        ("203.0.113.1", "192.168.1.2", "192.168.1.3", "198.51.100.7"),
        ("2001:db8:1::1", "fd00::2", "fd00::3", "2001:db8:2::7"),
    ] {
        let (mut net, id, start) = napt_net(NaptConfig::new(ip(public), vec![ip(a), ip(b)]));
        net.record(Recorder::new(start));
        let server = SocketAddr::new(ip(server), 4500);
        let (a, b) = (SocketAddr::new(ip(a), 4500), SocketAddr::new(ip(b), 4500));

        let out = through(&mut net, udp(a, server, b"from a")).unwrap();
        assert_eq!(
            src(&out),
            SocketAddr::new(ip(public), 4500),
            "port preserved"
        );
        assert_eq!(dst(&out), server);
        assert!(checksum_ok(&out));
        assert_eq!(out.inbound(Decap::Udp).unwrap().payload, b"from a");

        let out_b = through(&mut net, udp(b, server, b"from b")).unwrap();
        assert_eq!(
            src(&out_b),
            SocketAddr::new(ip(public), 1024),
            "4500 is taken: first port of the range"
        );
        assert!(checksum_ok(&out_b));
        assert_eq!(net.napt_mapping(a), Some(src(&out)));
        assert_eq!(net.napt_mapping(b), Some(src(&out_b)));
        // The recording shows both after source NAT, with checksums a receiver accepts.
        let frames = net.recorder().unwrap().frames();
        assert_eq!(frames.len(), 2);
        let header = if ip(public).is_ipv4() { 20 } else { 40 };
        let frame_src = |f: &[u8]| match ip(public) {
            IpAddr::V4(_) => IpAddr::from(<[u8; 4]>::try_from(&f[12..16]).unwrap()),
            IpAddr::V6(_) => IpAddr::from(<[u8; 16]>::try_from(&f[8..24]).unwrap()),
        };
        for (f, d) in frames.iter().zip([&out, &out_b]) {
            assert_eq!(frame_src(&f.1), ip(public));
            assert_eq!(f.1[header..], d.payload[..]);
        }

        // Replies from the server come back to each inside socket, address and port.
        for (inside, mapped, body) in [(a, src(&out), &b"to a"[..]), (b, src(&out_b), b"to b")] {
            let back = through(&mut net, udp(server, mapped, body)).unwrap();
            assert_eq!(dst(&back), inside);
            assert_eq!(src(&back), server);
            assert!(
                checksum_ok(&back),
                "checksum after address and port rewrite"
            );
            assert_eq!(back.inbound(Decap::Udp).unwrap().payload, body);
        }
        let s = stats(&net, id);
        assert_eq!(
            (s.mappings_created, s.translated_out, s.translated_in),
            (2, 2, 2)
        );
        assert_eq!(net.stats().nat_dropped, 0);
    }
}

#[test]
fn napt_allocates_sequentially_and_maps_independently_of_the_destination() {
    let inside: Vec<IpAddr> = (2..=40).map(|i| ip(&format!("192.168.1.{i}"))).collect();
    let mut c = NaptConfig::new(ip("203.0.113.1"), inside.clone());
    c.port_range = 20000..=20009;
    let (mut net, id, _) = napt_net(c);
    let mut got = Vec::new();
    for h in &inside {
        let out = through(
            &mut net,
            udp(SocketAddr::new(*h, 500), sock("198.51.100.7:500"), b"x"),
        );
        got.push(out.map(|d| ports(&d).0));
    }
    let mut want = vec![Some(500)];
    want.extend((20000..=20009).map(Some));
    want.resize(inside.len(), None);
    assert_eq!(got, want);
    assert_eq!(stats(&net, id).exhausted, (inside.len() - 11) as u64);
    // One mapping per inside socket, whatever the destination (RFC 4787 REQ-1).
    let again = through(
        &mut net,
        udp(sock("192.168.1.3:500"), sock("192.0.2.99:7"), b"y"),
    );
    assert_eq!(ports(&again.unwrap()).0, 20000);

    // Without port preservation even a free inside port is replaced by the range's next one.
    let (mut net, _, _) = home(|c| c.port_preservation = false);
    let out = through(
        &mut net,
        udp(sock("192.168.1.2:4500"), sock("198.51.100.7:4500"), b"x"),
    );
    assert_eq!(ports(&out.unwrap()).0, 1024);
}

#[test]
fn napt_drops_gre_esp_and_every_other_protocol_both_ways() {
    let (mut net, id, start) = home(|_| {});
    net.record(Recorder::new(start));
    // A live UDP mapping: what is dropped below is dropped for its protocol, not for a miss.
    let out = through(
        &mut net,
        udp(sock("192.168.1.2:4500"), sock("198.51.100.7:4500"), b"x"),
    )
    .unwrap();
    for protocol in [47, 50, 6, 253] {
        assert_eq!(
            through(&mut net, raw("192.168.1.2", "198.51.100.7", protocol)),
            None
        );
    }
    assert_eq!(stats(&net, id).protocol_dropped, 4);
    // Dropped at the box: never on the outside wire, so not in the recording.
    assert_eq!(net.recorder().unwrap().frames().len(), 1);
    for protocol in [47, 50] {
        assert_eq!(
            through(&mut net, raw("198.51.100.7", "203.0.113.1", protocol)),
            None
        );
    }
    let s = stats(&net, id);
    assert_eq!((s.protocol_dropped, s.no_mapping), (6, 0));
    assert_eq!(net.stats().nat_dropped, 6);
    // UDP still passes both ways.
    assert!(through(&mut net, udp(sock("198.51.100.7:4500"), src(&out), b"ok")).is_some());

    // The one-to-one box lets the same GRE and ESP through.
    let mut net = Network::new(1, start);
    net.add_nat(NatConfig {
        public: vec![ip("203.0.113.1")],
        inside: vec![ip("192.168.1.2")],
    });
    for protocol in [47, 50] {
        net.send(raw("192.168.1.2", "198.51.100.7", protocol));
    }
    net.advance(start + Duration::from_secs(1));
    assert_eq!(
        [net.pop_due().unwrap().src, net.pop_due().unwrap().src],
        [ip("203.0.113.1"); 2]
    );
}

#[test]
fn napt_filtering_modes() {
    let server = sock("198.51.100.7:4500");
    // From: the server itself, the server's address on another port, a third party.
    let senders = [server, sock("198.51.100.7:9999"), sock("192.0.2.66:4500")];
    for (mode, want) in [
        (Filtering::EndpointIndependent, [true, true, true]),
        (Filtering::AddressDependent, [true, true, false]),
        (Filtering::AddressAndPortDependent, [true, false, false]),
    ] {
        let (mut net, id, _) = home(|c| c.filtering = mode);
        let mapped = src(&through(&mut net, udp(sock("192.168.1.2:4500"), server, b"x")).unwrap());
        let got: Vec<bool> = senders
            .iter()
            .map(|from| {
                through(&mut net, udp(*from, mapped, b"in")).is_some_and(|d| {
                    assert_eq!(dst(&d), sock("192.168.1.2:4500"));
                    assert!(checksum_ok(&d));
                    true
                })
            })
            .collect();
        assert_eq!(got, want, "{mode:?}");
        let refused = want.iter().filter(|ok| !**ok).count() as u64;
        assert_eq!(stats(&net, id).filtered, refused, "{mode:?}");
        assert_eq!(net.stats().nat_dropped, refused);
        // Nothing reaches a public port without a mapping, whatever the filtering.
        assert!(through(&mut net, udp(server, sock("203.0.113.1:4501"), b"in")).is_none());
        assert_eq!(stats(&net, id).no_mapping, 1);
    }
    assert_eq!(
        NaptConfig::new(ip("203.0.113.1"), vec![]).filtering,
        Filtering::AddressAndPortDependent
    );
}

#[test]
fn napt_mapping_expires_unless_outbound_traffic_refreshes_it() {
    let (a, server) = (sock("192.168.1.2:4500"), sock("198.51.100.7:4500"));
    let at = |start: Instant, ms: u64| start + Duration::from_millis(ms);

    // No traffic for idle_timeout (30 s): gone.
    let (mut net, id, start) = home(|_| {});
    let mapped = src(&through(&mut net, udp(a, server, b"x")).unwrap());
    net.advance(at(start, 29_999));
    assert_eq!(net.napt_mapping(a), Some(mapped));
    net.advance(at(start, 30_000));
    assert_eq!(net.napt_mapping(a), None);
    assert!(through(&mut net, udp(server, mapped, b"late")).is_none());
    let s = stats(&net, id);
    assert_eq!((s.expired, s.no_mapping), (1, 1));
    // The socket's next datagram makes a new mapping, here with the same port back.
    let again = src(&through(&mut net, udp(a, server, b"x")).unwrap());
    assert_eq!(again, mapped);
    assert_eq!(stats(&net, id).mappings_created, 2);

    // Outbound traffic before the timeout keeps it: alive until 30 s after the last one.
    let (mut net, id, start) = home(|_| {});
    let mapped = src(&through(&mut net, udp(a, server, b"x")).unwrap());
    net.advance(at(start, 20_000));
    through(&mut net, udp(a, server, b"keepalive")).unwrap();
    net.advance(at(start, 49_999));
    assert!(through(&mut net, udp(server, mapped, b"in")).is_some());
    net.advance(at(start, 50_000));
    assert!(through(&mut net, udp(server, mapped, b"in")).is_none());
    assert_eq!(stats(&net, id).expired, 1);

    // Inbound traffic alone does not (RFC 4787 REQ-6).
    let (mut net, id, start) = home(|_| {});
    let mapped = src(&through(&mut net, udp(a, server, b"x")).unwrap());
    for ms in [10_000, 20_000, 29_999] {
        net.advance(at(start, ms));
        assert!(
            through(&mut net, udp(server, mapped, b"in")).is_some(),
            "{ms}"
        );
    }
    net.advance(at(start, 30_000));
    assert!(through(&mut net, udp(server, mapped, b"in")).is_none());
    let s = stats(&net, id);
    assert_eq!((s.translated_in, s.expired, s.no_mapping), (3, 1, 1));

    // An expired mapping's port is free for the next socket that wants it.
    let (mut net, _, start) = home(|c| c.idle_timeout = Duration::from_secs(5));
    through(&mut net, udp(a, server, b"x")).unwrap();
    net.advance(at(start, 5_000));
    let b = through(&mut net, udp(sock("192.168.1.3:4500"), server, b"x")).unwrap();
    assert_eq!(ports(&b).0, 4500);
}

#[test]
fn napt_rebinding_moves_to_fresh_ports_and_a_new_address() {
    let (a, server) = (sock("192.168.1.2:4500"), sock("198.51.100.7:4500"));
    let (mut net, id, _) = home(|_| {});
    let first = src(&through(&mut net, udp(a, server, b"x")).unwrap());
    let other = src(&through(&mut net, udp(sock("192.168.1.3:500"), server, b"x")).unwrap());
    assert_eq!((first.port(), other.port()), (4500, 500));

    assert!(net.rebind(id, None));
    assert_eq!(net.napt_mapping(a), None);
    assert!(through(&mut net, udp(server, first, b"stale")).is_none());
    assert_eq!(stats(&net, id).no_mapping, 1);
    let second = src(&through(&mut net, udp(a, server, b"x")).unwrap());
    assert_eq!(
        second,
        sock("203.0.113.1:1024"),
        "4500 was used before the rebinding"
    );
    // Not even the other host's old port comes back for it.
    let other2 = src(&through(&mut net, udp(sock("192.168.1.3:500"), server, b"x")).unwrap());
    assert_eq!(other2, sock("203.0.113.1:1025"));

    assert!(net.rebind(id, Some(ip("203.0.113.99"))));
    let third = through(&mut net, udp(a, server, b"x")).unwrap();
    assert_eq!(src(&third), sock("203.0.113.99:1026"));
    assert!(checksum_ok(&third));
    assert_eq!(net.napt_mapping(a), Some(src(&third)));
    // The old address is dead, even on the new mapping's port; the new endpoint works.
    assert!(through(&mut net, udp(server, sock("203.0.113.1:1026"), b"old")).is_none());
    assert!(through(&mut net, udp(server, second, b"old")).is_none());
    let back = through(&mut net, udp(server, src(&third), b"new")).unwrap();
    assert_eq!(dst(&back), a);
    assert!(checksum_ok(&back));
    let s = stats(&net, id);
    assert_eq!((s.rebinds, s.no_mapping, s.mappings_created), (2, 3, 5));

    // A one-to-one box has nothing to rebind.
    let nat = net.add_nat(NatConfig {
        public: vec![ip("198.51.100.50")],
        inside: vec![ip("10.1.1.1")],
    });
    assert!(!net.rebind(nat, None));
    assert!(!net.rebind(NatId(99), None));
}

#[test]
fn napt_hairpinning_on_and_off() {
    let (a, b, server) = (
        sock("192.168.1.2:4500"),
        sock("192.168.1.3:4500"),
        sock("198.51.100.7:4500"),
    );
    // Both inside sockets get mappings; then `a` sends to `b`'s public endpoint.
    let setup = |hairpin, filtering| {
        let (mut net, id, start) = home(|c| {
            c.hairpin = hairpin;
            c.filtering = filtering;
        });
        net.record(Recorder::new(start));
        let pa = src(&through(&mut net, udp(a, server, b"x")).unwrap());
        let pb = src(&through(&mut net, udp(b, server, b"x")).unwrap());
        (net, id, pa, pb)
    };

    // Off (the default): dropped at the box, counted, and never on the outside wire.
    let (mut net, id, _, pb) = setup(false, Filtering::EndpointIndependent);
    assert!(through(&mut net, udp(a, pb, b"hi b")).is_none());
    let s = stats(&net, id);
    assert_eq!((s.hairpin_dropped, s.hairpinned), (1, 0));
    assert_eq!(net.stats().nat_dropped, 1);
    assert_eq!(net.recorder().unwrap().frames().len(), 2);
    assert!(!NaptConfig::new(ip("203.0.113.1"), vec![]).hairpin);

    // On: delivered inside, from `a`'s public endpoint, recorded once as sent.
    let (mut net, id, pa, pb) = setup(true, Filtering::EndpointIndependent);
    let d = through(&mut net, udp(a, pb, b"hi b")).unwrap();
    assert_eq!((src(&d), dst(&d)), (pa, b));
    assert!(checksum_ok(&d));
    assert_eq!(d.inbound(Decap::Udp).unwrap().payload, b"hi b");
    let frames = net.recorder().unwrap().frames();
    assert_eq!(frames.len(), 3);
    assert_eq!(
        frames[2].1[16..20],
        [203, 0, 113, 1],
        "recorded to the public address"
    );
    let s = stats(&net, id);
    assert_eq!((s.hairpinned, s.hairpin_dropped), (1, 0));

    // On, with port-dependent filtering: the target mapping filters as for outside senders,
    // so the two sockets punch a hole (the first datagram is refused, the answer passes).
    let (mut net, id, pa, pb) = setup(true, Filtering::AddressAndPortDependent);
    assert!(through(&mut net, udp(a, pb, b"1")).is_none());
    assert_eq!(stats(&net, id).filtered, 1);
    let d = through(&mut net, udp(b, pa, b"2")).unwrap();
    assert_eq!((src(&d), dst(&d)), (pb, a));
    let d = through(&mut net, udp(a, pb, b"3")).unwrap();
    assert_eq!((src(&d), dst(&d)), (pa, b));
}

#[test]
fn napt_drops_odd_datagrams_without_panicking() {
    let (mut net, id, _) = home(|_| {});
    // Too short for a UDP header, both ways.
    let short = |from: &str, to: &str| Datagram {
        src: ip(from),
        dst: ip(to),
        protocol: 17,
        payload: vec![1, 2, 3],
    };
    assert!(through(&mut net, short("192.168.1.2", "198.51.100.7")).is_none());
    assert!(through(&mut net, short("198.51.100.7", "203.0.113.1")).is_none());
    assert_eq!(stats(&net, id).malformed, 2);
    // An IPv6 host behind an IPv4 box is not translated.
    net.add_napt(NaptConfig::new(ip("203.0.113.2"), vec![ip("fd00::9")]));
    let v6 = udp(sock("[fd00::9]:1"), sock("[2001:db8::1]:2"), b"x");
    assert!(through(&mut net, v6).is_none());
    assert_eq!(net.nat_stats(NatId(1)).unwrap().wrong_family, 1);
    // Private addresses are not reachable from outside; nor is an inside host's private
    // address from its neighbour.
    assert!(
        through(
            &mut net,
            udp(sock("198.51.100.7:1"), sock("192.168.1.2:1"), b"x")
        )
        .is_none()
    );
    assert!(
        through(
            &mut net,
            udp(sock("192.168.1.3:1"), sock("192.168.1.2:1"), b"x")
        )
        .is_none()
    );
    assert_eq!(stats(&net, id).addressed_inside, 2);
    // A zero (absent) IPv4 checksum stays zero through address and port rewrites.
    let mut bare = udp(sock("192.168.1.3:4500"), sock("198.51.100.7:4500"), b"bare");
    bare.payload[6..8].copy_from_slice(&[0, 0]);
    let out = through(&mut net, bare).unwrap();
    assert_eq!(ports(&out).0, 4500);
    assert_eq!(out.payload[6..8], [0, 0]);
    assert_eq!(net.nat_mapping(ip("192.168.1.3")), None);
    assert!(net.nat_stats(NatId(7)).is_none());
}

/// A box with public address 203.0.113.1 and one more in its pool, for four inside hosts
/// (192.168.1.2 to .5). The pool also lists addresses the box ignores: its primary address, a
/// repeat and an IPv6 one.
fn pooled(f: impl FnOnce(&mut NaptConfig)) -> (Network, NatId, Instant) {
    let mut c = NaptConfig::new(
        ip("203.0.113.1"),
        (2..=5).map(|i| ip(&format!("192.168.1.{i}"))).collect(),
    );
    c.pool = vec![
        ip("203.0.113.1"),
        ip("203.0.113.2"),
        ip("2001:db8::2"),
        ip("203.0.113.2"),
    ];
    f(&mut c);
    napt_net(c)
}

#[test]
fn napt_pool_pairs_each_host_with_an_address_of_its_own_then_round_robin() {
    assert!(NaptConfig::new(ip("203.0.113.1"), vec![]).pool.is_empty());
    let server = sock("198.51.100.7:4500");
    let (mut net, id, _) = pooled(|c| c.filtering = Filtering::EndpointIndependent);
    let out =
        |net: &mut Network, from: &str| src(&through(net, udp(sock(from), server, b"x")).unwrap());
    // The first host gets the primary address, for both its sockets (paired).
    let a1 = out(&mut net, "192.168.1.2:4500");
    let a2 = out(&mut net, "192.168.1.2:500");
    assert_eq!(
        (a1, a2),
        (sock("203.0.113.1:4500"), sock("203.0.113.1:500"))
    );
    // The second host the pool's address, in a port space of its own: 4500 is kept there too.
    let b1 = out(&mut net, "192.168.1.3:4500");
    let b2 = out(&mut net, "192.168.1.3:500");
    assert_eq!(
        (b1, b2),
        (sock("203.0.113.2:4500"), sock("203.0.113.2:500"))
    );
    // Every address has its host: the third and fourth share them, in order again (4500 is
    // taken on both, so the first port of the range on each).
    let c = out(&mut net, "192.168.1.4:4500");
    let d = out(&mut net, "192.168.1.5:4500");
    assert_eq!((c, d), (sock("203.0.113.1:1024"), sock("203.0.113.2:1024")));
    // A host's later sockets stay on its address, whatever it sends to.
    let a3 = src(&through(
        &mut net,
        udp(sock("192.168.1.2:7"), sock("192.0.2.9:7"), b"x"),
    )
    .unwrap());
    assert_eq!(a3, sock("203.0.113.1:7"));
    assert_eq!(net.napt_mapping(sock("192.168.1.3:500")), Some(b2));

    // Inbound to each address and port reaches the host behind it.
    for (public, inside) in [
        (a1, "192.168.1.2:4500"),
        (a2, "192.168.1.2:500"),
        (b1, "192.168.1.3:4500"),
        (b2, "192.168.1.3:500"),
        (c, "192.168.1.4:4500"),
        (d, "192.168.1.5:4500"),
    ] {
        let back = through(&mut net, udp(server, public, b"in")).unwrap();
        assert_eq!(dst(&back), sock(inside), "to {public}");
        assert!(checksum_ok(&back));
    }
    // The port spaces are separate: port 7 is mapped on the primary address only.
    assert!(through(&mut net, udp(server, sock("203.0.113.2:7"), b"in")).is_none());
    let s = stats(&net, id);
    assert_eq!(
        (
            s.mappings_created,
            s.translated_out,
            s.translated_in,
            s.no_mapping
        ),
        (7, 7, 6, 1)
    );
    // The ignored pool entries: the IPv6 address is not the box's.
    assert!(
        through(
            &mut net,
            udp(sock("[2001:db8::9]:1"), sock("[2001:db8::2]:4500"), b"x")
        )
        .is_some()
    );
    assert_eq!(net.stats().nat_dropped, 1);

    // The pairing outlives the host's mappings: after they idle out it gets its address back.
    let (mut net, _, start) = pooled(|c| c.idle_timeout = Duration::from_secs(5));
    out(&mut net, "192.168.1.2:4500");
    out(&mut net, "192.168.1.3:4500");
    net.advance(start + Duration::from_secs(5));
    assert_eq!(net.napt_mapping(sock("192.168.1.3:4500")), None);
    // The other host speaks first this time: the pairing, not the order, decides.
    assert_eq!(out(&mut net, "192.168.1.3:4500"), sock("203.0.113.2:4500"));
    assert_eq!(out(&mut net, "192.168.1.2:4500"), sock("203.0.113.1:4500"));
}

#[test]
fn napt_pool_hairpinning_between_two_addresses_on_and_off() {
    let (a, b, server) = (
        sock("192.168.1.2:4500"),
        sock("192.168.1.3:4500"),
        sock("198.51.100.7:4500"),
    );
    let setup = |hairpin| {
        let (mut net, id, start) = pooled(|c| {
            c.hairpin = hairpin;
            c.filtering = Filtering::EndpointIndependent;
        });
        net.record(Recorder::new(start));
        let pa = src(&through(&mut net, udp(a, server, b"x")).unwrap());
        let pb = src(&through(&mut net, udp(b, server, b"x")).unwrap());
        assert_ne!(pa.ip(), pb.ip());
        (net, id, pa, pb)
    };

    // Off: `a` cannot reach `b` on the box's other address, either way; dropped and counted,
    // never on the outside wire.
    let (mut net, id, pa, pb) = setup(false);
    assert!(through(&mut net, udp(a, pb, b"hi b")).is_none());
    assert!(through(&mut net, udp(b, pa, b"hi a")).is_none());
    let s = stats(&net, id);
    assert_eq!((s.hairpin_dropped, s.hairpinned), (2, 0));
    assert_eq!(net.stats().nat_dropped, 2);
    assert_eq!(net.recorder().unwrap().frames().len(), 2);

    // On: each reaches the other, from its own public endpoint on its own address.
    let (mut net, id, pa, pb) = setup(true);
    let d = through(&mut net, udp(a, pb, b"hi b")).unwrap();
    assert_eq!((src(&d), dst(&d)), (pa, b));
    assert!(checksum_ok(&d));
    assert_eq!(d.inbound(Decap::Udp).unwrap().payload, b"hi b");
    let d = through(&mut net, udp(b, pa, b"hi a")).unwrap();
    assert_eq!((src(&d), dst(&d)), (pb, a));
    assert!(checksum_ok(&d));
    let s = stats(&net, id);
    assert_eq!((s.hairpinned, s.hairpin_dropped), (2, 0));
    assert_eq!(net.stats().nat_dropped, 0);
}

#[test]
fn napt_pool_rebinding_renews_ports_on_every_address_and_replaces_the_primary_only() {
    let (a, b, server) = (
        sock("192.168.1.2:4500"),
        sock("192.168.1.3:4500"),
        sock("198.51.100.7:4500"),
    );
    let (mut net, id, _) = pooled(|c| c.filtering = Filtering::EndpointIndependent);
    let out =
        |net: &mut Network, from: SocketAddr| src(&through(net, udp(from, server, b"x")).unwrap());
    let (pa, pb) = (out(&mut net, a), out(&mut net, b));
    assert_eq!(
        (pa, pb),
        (sock("203.0.113.1:4500"), sock("203.0.113.2:4500"))
    );

    // New ports on both addresses; the hosts keep their addresses.
    assert!(net.rebind(id, None));
    assert!(through(&mut net, udp(server, pb, b"stale")).is_none());
    let (pa2, pb2) = (out(&mut net, a), out(&mut net, b));
    assert_eq!(
        (pa2, pb2),
        (sock("203.0.113.1:1024"), sock("203.0.113.2:1024"))
    );

    // A new primary address: the host paired with it moves, the pool's host stays.
    assert!(net.rebind(id, Some(ip("203.0.113.99"))));
    // In the other order: the pairing decides, not who speaks first.
    let (pb3, pa3) = (out(&mut net, b), out(&mut net, a));
    assert_eq!(
        (pa3, pb3),
        (sock("203.0.113.99:1025"), sock("203.0.113.2:1025"))
    );
    assert!(through(&mut net, udp(server, sock("203.0.113.1:1025"), b"old")).is_none());
    assert_eq!(
        dst(&through(&mut net, udp(server, pa3, b"new")).unwrap()),
        a
    );
    assert_eq!(
        dst(&through(&mut net, udp(server, pb3, b"new")).unwrap()),
        b
    );

    // A "new" primary that is the pool's address changes no address (ports still renew).
    assert!(net.rebind(id, Some(ip("203.0.113.2"))));
    assert_eq!(out(&mut net, a), sock("203.0.113.99:1026"));
    assert_eq!(out(&mut net, b), sock("203.0.113.2:1026"));
    let s = stats(&net, id);
    assert_eq!((s.rebinds, s.no_mapping, s.mappings_created), (3, 2, 8));
}
