//! `Tunnel` behaviour: the key rule, checksums, RFC 2890 sequencing, peer bounds and counters.
//! Every packet the tunnels build here is also written to `<target>/tmp/pcap/gre-tunnel.pcap`,
//! which CI decodes with tshark (no malformed frames or expert warnings allowed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dmvpn_gre::{Config, DropReason, Error, Mode, Protocol, Tunnel};
use dmvpn_wire::checksum::checksum;

static PCAP: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A valid inner packet (ICMP echo request over IPv4 or ICMPv6 over IPv6) so that tshark's
/// decode of the whole frame is clean.
fn inner_packet(v6: bool, seq: u16) -> (Protocol, Vec<u8>) {
    let data = b"dmvpn-rs gre test payload";
    if v6 {
        let src: std::net::Ipv6Addr = "fd00::11".parse().unwrap();
        let dst: std::net::Ipv6Addr = "fd00::12".parse().unwrap();
        let mut icmp = vec![128, 0, 0, 0, 0, 7, (seq >> 8) as u8, seq as u8];
        icmp.extend_from_slice(data);
        // ICMPv6 checksum over the pseudo-header.
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src.octets());
        pseudo.extend_from_slice(&dst.octets());
        pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 58]);
        pseudo.extend_from_slice(&icmp);
        let c = checksum(&pseudo);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        p.extend_from_slice(&[58, 64]);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(&icmp);
        (Protocol::IPV6, p)
    } else {
        let mut icmp = vec![8, 0, 0, 0, 0, 7, (seq >> 8) as u8, seq as u8];
        icmp.extend_from_slice(data);
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let total = (20 + icmp.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[
            0, seq as u8, 0, 0, 64, 1, 0, 0, 192, 168, 1, 25, 192, 168, 2, 37,
        ]);
        let c = checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&icmp);
        (Protocol::IPV4, p)
    }
}

/// Encapsulates one inner packet with GRE-in-IP, records it for the pcap, returns the wire bytes.
fn send(t: &mut Tunnel, remote: IpAddr, seq: u16) -> Vec<u8> {
    let (proto, inner) = inner_packet(seq % 2 == 1, seq);
    let head = t.overhead();
    let mut buf = vec![0u8; head + inner.len()];
    buf[head..].copy_from_slice(&inner);
    let wire = t
        .encapsulate_ip(remote, proto, &mut buf, head, inner.len())
        .unwrap()
        .to_vec();
    PCAP.lock().unwrap().push(wire.clone());
    wire
}

fn keyed(local: &str, key: Option<u32>) -> Tunnel {
    Tunnel::new(Config {
        key,
        ..Config::multipoint(ip(local))
    })
    .unwrap()
}

#[test]
fn key_must_match() {
    let hub = ip("172.17.0.1");
    let spoke = ip("172.16.1.1");
    let mut a = keyed("172.16.1.1", Some(100));
    let mut good = keyed("172.17.0.1", Some(100));
    let mut other_key = keyed("172.17.0.1", Some(200));
    let mut no_key = keyed("172.17.0.1", None);

    let wire = send(&mut a, hub, 0);
    let rx = good.decapsulate_ip(&wire).unwrap();
    // The upper layer accepts the packet: the spoke gets per-peer state.
    good.admit(Instant::now(), &rx).unwrap();
    assert_eq!((rx.remote, rx.header.key), (spoke, Some(100)));
    assert_eq!(
        other_key.decapsulate_ip(&wire).unwrap_err(),
        Error::KeyMismatch {
            expected: Some(200),
            received: Some(100)
        }
    );
    assert_eq!(
        no_key.decapsulate_ip(&wire).unwrap_err(),
        Error::KeyMismatch {
            expected: None,
            received: Some(100)
        }
    );
    // A packet without a key on a keyed tunnel.
    let mut unkeyed = keyed("172.16.1.1", None);
    let wire = send(&mut unkeyed, hub, 1);
    assert_eq!(
        good.decapsulate_ip(&wire).unwrap_err(),
        Error::KeyMismatch {
            expected: Some(100),
            received: None
        }
    );
    // Dropped packets are counted, and a dropped packet from a new peer creates no state...
    assert_eq!(other_key.totals().drops.get(DropReason::KeyMismatch), 1);
    assert!(other_key.peer(spoke).is_none());
    // ...but is counted against a peer that already has state.
    assert_eq!(good.totals().drops.key_mismatch, 1);
    assert_eq!(good.peer(spoke).unwrap().counters.drops.key_mismatch, 1);
    assert_eq!(good.peer(spoke).unwrap().counters.packets_in, 1);
    assert_eq!(good.totals().drops.total(), 1);
}

#[test]
fn sequencing_rfc2890() {
    let hub = ip("10.0.0.1");
    let spoke = ip("10.0.0.2");
    let cfg = |local| Config {
        sequence: true,
        key: Some(1),
        ..Config::multipoint(ip(local))
    };
    let mut tx = Tunnel::new(cfg("10.0.0.2")).unwrap();
    let mut rx = Tunnel::new(cfg("10.0.0.1")).unwrap();
    let w: Vec<Vec<u8>> = (0..4).map(|i| send(&mut tx, hub, i)).collect();
    // The first packet carries sequence 0 (and is admitted: the spoke gets per-peer state).
    let first = rx.decapsulate_ip(&w[0]).unwrap();
    rx.admit(Instant::now(), &first).unwrap();
    assert_eq!(first.header.sequence, Some(0));
    assert_eq!(rx.decapsulate_ip(&w[2]).unwrap().header.sequence, Some(2)); // a gap is fine
    // Out of order (1 after 2) and duplicate (2 again) are dropped.
    assert_eq!(
        rx.decapsulate_ip(&w[1]).unwrap_err(),
        Error::OutOfOrder {
            last: 2,
            received: 1
        }
    );
    assert_eq!(
        rx.decapsulate_ip(&w[2]).unwrap_err(),
        Error::OutOfOrder {
            last: 2,
            received: 2
        }
    );
    assert_eq!(rx.decapsulate_ip(&w[3]).unwrap().header.sequence, Some(3));
    let c = rx.peer(spoke).unwrap().counters;
    assert_eq!((c.packets_in, c.drops.out_of_order), (3, 2));
    assert_eq!(tx.peer(hub).unwrap().tx_sequence, 4);

    // A packet with no sequence number is dropped when sequencing.
    let mut plain = keyed("10.0.0.2", Some(1));
    let wire = send(&mut plain, hub, 5);
    assert_eq!(
        rx.decapsulate_ip(&wire).unwrap_err(),
        Error::SequenceMissing
    );

    // Removing the peer restarts its numbering.
    rx.remove_peer(spoke).unwrap();
    assert!(rx.decapsulate_ip(&w[0]).is_ok());
}

#[test]
fn sequence_wraps() {
    let remote = ip("10.0.0.2");
    let mut rx = Tunnel::new(Config {
        sequence: true,
        ..Config::multipoint(ip("10.0.0.1"))
    })
    .unwrap();
    let gre_with_seq = |seq: u32| {
        let mut b = vec![0x10, 0, 0x08, 0, 0, 0, 0, 0, 0x45];
        b[4..8].copy_from_slice(&seq.to_be_bytes());
        b
    };
    let first = gre_with_seq(u32::MAX - 1);
    let r = rx.decapsulate(remote, &first);
    assert!(r.is_ok());
    rx.admit(Instant::now(), &r.unwrap()).unwrap(); // per-peer state from the first packet
    assert!(rx.decapsulate(remote, &gre_with_seq(u32::MAX)).is_ok());
    assert!(rx.decapsulate(remote, &gre_with_seq(0)).is_ok());
    assert!(rx.decapsulate(remote, &gre_with_seq(1)).is_ok());
    assert!(matches!(
        rx.decapsulate(remote, &gre_with_seq(u32::MAX)),
        Err(Error::OutOfOrder { .. })
    ));
    // More than 2^31 ahead counts as behind.
    assert!(matches!(
        rx.decapsulate(remote, &gre_with_seq(0x8000_0001)),
        Err(Error::OutOfOrder { .. })
    ));
}

#[test]
fn checksum_required_and_verified() {
    let hub = ip("192.0.2.1");
    let mut tx = Tunnel::new(Config {
        checksum: true,
        ..Config::multipoint(ip("192.0.2.2"))
    })
    .unwrap();
    let mut rx = Tunnel::new(Config {
        checksum: true,
        ..Config::multipoint(hub)
    })
    .unwrap();
    let mut wire = send(&mut tx, hub, 0);
    assert!(rx.decapsulate_ip(&wire).unwrap().header.checksum_present);
    // Corrupt one payload byte: the GRE checksum catches it (the IPv4 header checksum does not
    // cover the payload).
    let last = wire.len() - 1;
    wire[last] ^= 0x40;
    assert!(matches!(
        rx.decapsulate_ip(&wire),
        Err(Error::GreChecksum { .. })
    ));
    // No checksum on a tunnel that requires one.
    let mut plain = Tunnel::new(Config::multipoint(ip("192.0.2.2"))).unwrap();
    let wire = send(&mut plain, hub, 1);
    assert_eq!(
        rx.decapsulate_ip(&wire).unwrap_err(),
        Error::ChecksumMissing
    );
    let d = rx.totals().drops;
    assert_eq!((d.malformed, d.checksum_missing), (1, 1));
}

#[test]
fn point_to_point_and_addressing() {
    let (a, b, c) = (ip("198.51.100.1"), ip("198.51.100.2"), ip("198.51.100.3"));
    let mut p2p = Tunnel::new(Config::point_to_point(a, b)).unwrap();
    assert_eq!(p2p.config().mode, Mode::PointToPoint { remote: b });
    let mut from_b = Tunnel::new(Config::point_to_point(b, a)).unwrap();
    let mut from_c = Tunnel::new(Config::multipoint(c)).unwrap();
    let ok = send(&mut from_b, a, 0);
    let wrong = send(&mut from_c, a, 1);
    assert!(p2p.decapsulate_ip(&ok).is_ok());
    assert_eq!(p2p.decapsulate_ip(&wrong).unwrap_err(), Error::WrongPeer(c));
    // Not addressed to us.
    let to_c = send(&mut from_c, b, 2);
    assert_eq!(p2p.decapsulate_ip(&to_c).unwrap_err(), Error::NotLocal(b));
    // Sending to another endpoint on a p2p tunnel is refused.
    let mut buf = [0u8; 64];
    assert_eq!(
        p2p.encapsulate(c, Protocol::IPV4, &mut buf, 32, 4)
            .unwrap_err(),
        Error::WrongPeer(c)
    );
    // Families must agree.
    assert!(Tunnel::new(Config::point_to_point(a, ip("::1"))).is_err());
    let d = p2p.totals().drops;
    assert_eq!((d.wrong_peer, d.not_local), (1, 1));
}

#[test]
fn ipv6_underlay() {
    let (a, b) = (ip("2001:db8::1"), ip("2001:db8::2"));
    let mut ta = Tunnel::new(Config {
        key: Some(7),
        sequence: true,
        checksum: true,
        ..Config::multipoint(a)
    })
    .unwrap();
    let mut tb = Tunnel::new(Config {
        key: Some(7),
        sequence: true,
        checksum: true,
        ..Config::multipoint(b)
    })
    .unwrap();
    assert_eq!(ta.overhead(), 40 + 16);
    for i in 0..4 {
        let wire = send(&mut ta, b, i);
        let rx = tb.decapsulate_ip(&wire).unwrap();
        tb.admit(Instant::now(), &rx).unwrap();
        assert_eq!(rx.header.sequence, Some(u32::from(i)));
        assert_eq!(rx.remote, a);
    }
    let c = tb.peer(a).unwrap().counters;
    assert_eq!(c.packets_in, 4);
    assert_eq!(c.bytes_in, ta.peer(b).unwrap().counters.bytes_out);
}

#[test]
fn peer_table_is_bounded() {
    let local = ip("10.1.0.1");
    let mut seq = Tunnel::new(Config {
        sequence: true,
        max_peers: 2,
        ..Config::multipoint(local)
    })
    .unwrap();
    let mut plain = Tunnel::new(Config {
        max_peers: 2,
        ..Config::multipoint(local)
    })
    .unwrap();
    let pkt = |seq_on: bool| {
        if seq_on {
            vec![0x10, 0, 0x08, 0, 0, 0, 0, 0, 0x45]
        } else {
            vec![0, 0, 0x08, 0, 0x45]
        }
    };
    for i in 1..=3u8 {
        let remote = IpAddr::from([10, 1, 0, 10 + i]);
        let (with_seq, without) = (pkt(true), pkt(false));
        let r_seq = seq.decapsulate(remote, &with_seq);
        let r_plain = plain.decapsulate(remote, &without);
        // The upper layer admits every packet it gets: per-peer state while there is room.
        if let Ok(rx) = &r_seq {
            seq.admit(Instant::now(), rx).unwrap();
        }
        if let Ok(rx) = &r_plain {
            assert_eq!(plain.admit(Instant::now(), rx).is_ok(), i <= 2);
        }
        if i <= 2 {
            assert!(r_seq.is_ok() && r_plain.is_ok());
        } else {
            // Sequencing needs per-peer state: refused and counted. Without sequencing the packet
            // is still delivered (nothing lost), and only counted in the totals.
            assert_eq!(r_seq.unwrap_err(), Error::PeerLimit(2, remote));
            assert!(r_plain.is_ok());
        }
    }
    assert_eq!(seq.peers().count(), 2);
    assert_eq!(plain.peers().count(), 2);
    assert_eq!(seq.totals().drops.peer_limit, 1);
    assert_eq!(plain.totals().packets_in, 3);
    let mut buf = [0u8; 64];
    assert_eq!(
        seq.encapsulate(ip("10.1.0.99"), Protocol::IPV4, &mut buf, 32, 4)
            .unwrap_err(),
        Error::PeerLimit(2, ip("10.1.0.99"))
    );
}

#[test]
fn malformed_input_is_counted_not_fatal() {
    let mut t = Tunnel::new(Config::multipoint(ip("10.0.0.1"))).unwrap();
    for junk in [
        &[][..],
        &[0x45][..],
        &[0x60; 10][..],
        &[0x45, 0, 0, 20, 0, 0, 0, 0, 64, 47][..],
    ] {
        assert!(t.decapsulate_ip(junk).is_err());
        assert!(t.decapsulate(ip("10.0.0.2"), junk).is_err());
    }
    assert_eq!(t.totals().drops.malformed, 8);
    assert_eq!(t.peers().count(), 0);
}

/// Writes a pcap of every header variant (key, checksum, sequence; IPv4 and IPv6 underlay) plus
/// whatever the other tests in this binary recorded so far (test order is not fixed, so the
/// variants are built here to make the file's minimum content deterministic).
#[test]
fn write_pcap_for_tshark() {
    use pcap_file::DataLink;
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let variants = [
        Config {
            key: Some(1),
            ..Config::multipoint(ip("172.16.1.1"))
        },
        Config {
            key: Some(0xdead_beef),
            checksum: true,
            sequence: true,
            ..Config::multipoint(ip("172.16.1.1"))
        },
        Config {
            checksum: true,
            ..Config::multipoint(ip("172.16.1.1"))
        },
        Config {
            key: Some(1),
            sequence: true,
            ..Config::multipoint(ip("2001:db8::11"))
        },
        Config {
            checksum: true,
            ..Config::multipoint(ip("2001:db8::11"))
        },
    ];
    let mut frames = Vec::new();
    for cfg in variants {
        let remote = if cfg.local.is_ipv4() {
            ip("172.17.0.1")
        } else {
            ip("2001:db8::1")
        };
        let mut t = Tunnel::new(cfg).unwrap();
        for i in 0..4 {
            frames.push(send(&mut t, remote, i));
        }
    }
    frames.extend(PCAP.lock().unwrap().iter().cloned());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pcap");
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("gre-tunnel.pcap")).unwrap();
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = std::time::Duration::from_millis(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
}

/// A GRE packet (no outer IP header) with this key and a one-byte payload.
fn gre_keyed(key: u32) -> Vec<u8> {
    let mut b = vec![0x20, 0, 0x08, 0, 0, 0, 0, 0, 0x45];
    b[4..8].copy_from_slice(&key.to_be_bytes());
    b
}

/// Issue item 7: packets from 100,000 spoofed sources, with a wrong key or with the right key
/// but never accepted by the upper layer (NHRP authentication failed, say), leave the peer
/// table empty; every packet is still in the totals.
#[test]
fn spoofed_sources_leave_the_peer_table_empty() {
    let mut t = keyed("10.0.0.1", Some(100));
    let (wrong, right) = (gre_keyed(200), gre_keyed(100));
    for i in 0..100_000u32 {
        let remote = IpAddr::from(std::net::Ipv4Addr::from(0x0a80_0000 + i));
        assert!(matches!(
            t.decapsulate(remote, &wrong),
            Err(Error::KeyMismatch { .. })
        ));
        assert!(t.decapsulate(remote, &right).is_ok());
    }
    assert_eq!(t.peers().count(), 0);
    let c = t.totals();
    assert_eq!((c.packets_in, c.drops.key_mismatch), (100_000, 100_000));
    // A peer the upper layer admits gets its entry, with the admitted packet counted in it.
    let legit = ip("172.16.1.1");
    let rx = t.decapsulate(legit, &right).unwrap();
    t.admit(Instant::now(), &rx).unwrap();
    assert_eq!(t.peers().count(), 1);
    assert_eq!(t.peer(legit).unwrap().counters.packets_in, 1);
    assert_eq!(t.peer_table().created, 1);
    assert_eq!(t.totals().packets_in, 100_001);
}

/// Issue item 7: an entry goes once its peer has been silent for the idle timeout (not before,
/// and within two sweep intervals after), an active peer's stays, and the totals keep the
/// removed peer's traffic.
#[test]
fn idle_peers_expire_and_their_traffic_stays_in_the_totals() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(80);
    let (hub, a, b) = (ip("172.17.0.1"), ip("172.16.1.1"), ip("172.16.2.1"));
    let mut t = Tunnel::new(Config {
        key: Some(1),
        idle_timeout: Some(idle),
        ..Config::multipoint(hub)
    })
    .unwrap();
    assert_eq!(t.poll_timeout(), None, "no entries, no timer");
    // A is admitted at t0; B gets an entry because the hub sends to it.
    let mut spoke_a = keyed("172.16.1.1", Some(1));
    let wire = send(&mut spoke_a, hub, 0);
    let rx = t.decapsulate_ip(&wire).unwrap();
    t.admit(t0, &rx).unwrap();
    send(&mut t, b, 1);
    assert_eq!(t.peers().count(), 2);
    let totals = *t.totals();
    // An early call changes nothing.
    t.handle_timeout(t0);
    let first = t.poll_timeout().unwrap();
    assert!(first > t0 && first <= t0 + idle);
    // Sweep on time; B sends and receives in between, A is silent.
    let mut gone_at = None;
    while let Some(at) = t.poll_timeout() {
        if at > t0 + 3 * idle {
            break;
        }
        send(&mut t, b, 2);
        t.handle_timeout(at);
        if gone_at.is_none() && t.peer(a).is_none() {
            gone_at = Some(at);
        }
    }
    let gone_at = gone_at.expect("A expired");
    assert!(gone_at >= t0 + idle, "not before the idle timeout");
    assert!(gone_at <= t0 + idle + 2 * (idle / 8), "within two sweeps");
    assert!(t.peer(b).is_some(), "an active peer stays");
    assert_eq!(t.peer_table().expired, 1);
    // The totals still count A's packet (and B's traffic since).
    assert_eq!(t.totals().packets_in, totals.packets_in);
    assert!(t.totals().packets_out > totals.packets_out);
    // A comes back: a fresh entry.
    let wire = send(&mut spoke_a, hub, 3);
    let rx = t.decapsulate_ip(&wire).unwrap();
    t.admit(gone_at, &rx).unwrap();
    assert_eq!(t.peer(a).unwrap().counters.packets_in, 1);
}

/// `handle_timeout_keeping` keeps the peers its caller vouches for (a node's mapped peers),
/// however idle; with no idle timeout nothing expires and no timer runs.
#[test]
fn kept_peers_and_tunnels_without_an_idle_timeout_never_expire() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(8);
    let (local, kept, other) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"));
    let mut t = Tunnel::new(Config {
        idle_timeout: Some(idle),
        ..Config::multipoint(local)
    })
    .unwrap();
    t.handle_timeout(t0); // the tunnel learns the time
    send(&mut t, kept, 0);
    send(&mut t, other, 1);
    let mut now = t0;
    while now < t0 + 4 * idle {
        now = t.poll_timeout().unwrap();
        t.handle_timeout_keeping(now, |p| *p == kept);
    }
    assert!(t.peer(kept).is_some());
    assert!(t.peer(other).is_none());
    t.remove_peer(kept);
    assert_eq!(t.poll_timeout(), None);

    let mut forever = Tunnel::new(Config {
        idle_timeout: None,
        ..Config::multipoint(local)
    })
    .unwrap();
    send(&mut forever, other, 0);
    forever.handle_timeout(t0 + Duration::from_secs(1_000_000));
    assert_eq!(forever.poll_timeout(), None);
    assert!(forever.peer(other).is_some());
    assert!(
        Tunnel::new(Config {
            idle_timeout: Some(Duration::ZERO),
            ..Config::multipoint(local)
        })
        .is_err()
    );
}

/// After the last entry is removed (`remove_peer`: its NHRP mapping went), the next entry gets
/// a sweep from the time it was created, not the removed entries' stale one: no deadline in
/// the past after a timeout. Found by the fuzz target `dmvpn_node_protected` (`clear ip nhrp`
/// of the hub on a spoke, the next registration creating the hub's entry again: the node
/// announced a deadline before the instant it had just handled).
#[test]
fn an_entry_after_the_last_one_was_removed_gets_a_sweep_from_its_own_time() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(30);
    let (local, hub) = (ip("172.16.1.1"), ip("172.17.0.1"));
    let mut t = Tunnel::new(Config {
        idle_timeout: Some(idle),
        ..Config::multipoint(local)
    })
    .unwrap();
    t.handle_timeout(t0);
    send(&mut t, hub, 0);
    assert!(t.poll_timeout().is_some_and(|d| d > t0));
    t.remove_peer(hub);
    assert_eq!(t.poll_timeout(), None);
    let t1 = t0 + 2 * idle;
    t.handle_timeout(t1); // nothing to sweep
    send(&mut t, hub, 1);
    let next = t.poll_timeout().expect("a sweep for the new entry");
    assert!(next > t1, "sweep at {next:?}, before {t1:?}");
}
