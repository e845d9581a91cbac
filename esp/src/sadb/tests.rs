use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::crypto::{ChaChaRandom, rustcrypto};
use crate::{Lifetime, Lifetimes, Limit, SaConfig, SaKeys, Suite};

const LOCAL: &str = "198.51.100.1";
const PEER: &str = "203.0.113.9";
const OTHER: &str = "203.0.113.77";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn local() -> IpAddr {
    ip(LOCAL)
}

fn peer() -> IpAddr {
    ip(PEER)
}

/// An AES-GCM SA config with time limits in seconds (`None`: no limit).
fn cfg(spi: u32, soft: Option<u64>, hard: Option<u64>) -> SaConfig {
    let suite = Suite::parse("aes128gcm16").unwrap();
    let provider = rustcrypto::provider(Arc::new(ChaChaRandom::from_seed([9; 32])));
    let mut c = SaConfig::new(spi, suite, SaKeys::new(&[7; 20], &[]), provider);
    c.lifetimes = Lifetimes {
        soft: Lifetime {
            time: soft.map(Duration::from_secs),
            ..Lifetime::default()
        },
        hard: Lifetime {
            time: hard.map(Duration::from_secs),
            ..Lifetime::default()
        },
    };
    c
}

fn inbound(spi: u32, soft: Option<u64>, hard: Option<u64>, t0: Instant) -> InboundSa {
    InboundSa::new(&cfg(spi, soft, hard), t0).unwrap()
}

fn outbound(spi: u32, soft: Option<u64>, hard: Option<u64>, t0: Instant) -> OutboundSa {
    OutboundSa::new(&cfg(spi, soft, hard), t0).unwrap()
}

fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

fn events(db: &mut SaDatabase) -> Vec<SaEvent> {
    std::iter::from_fn(|| db.poll_event()).collect()
}

/// The compact form of an event: (direction, SPI, event).
fn brief(events: &[SaEvent]) -> Vec<(Direction, u32, Event)> {
    events
        .iter()
        .map(|e| (e.sa.direction, e.sa.spi, e.event))
        .collect()
}

/// The expiry index holds exactly every SA's own next deadline, the per-peer index exactly the
/// SAs of each peer, and `poll_timeout` is the earliest deadline.
fn assert_consistent(db: &SaDatabase) {
    let mut want = BTreeSet::new();
    let mut peers: BTreeMap<IpAddr, (BTreeSet<u32>, BTreeSet<u32>)> = BTreeMap::new();
    for (spi, e) in &db.inbound {
        assert_eq!(e.deadline, e.sa.poll_timeout(), "inbound {spi:#x}");
        if let Some(t) = e.deadline {
            want.insert((t, SaId::inbound(*spi)));
        }
        peers.entry(e.policy.peer).or_default().0.insert(*spi);
    }
    for (spi, o) in &db.outbound {
        assert_eq!(
            o.entry.deadline,
            o.entry.sa.poll_timeout(),
            "outbound {spi:#x}"
        );
        if let Some(t) = o.entry.deadline {
            want.insert((t, SaId::outbound(*spi)));
        }
        peers.entry(o.entry.policy.peer).or_default().1.insert(*spi);
        assert_eq!(
            db.peers[&o.entry.policy.peer].outbound.get(&o.installed),
            Some(spi)
        );
    }
    assert_eq!(db.expiry, want);
    assert_eq!(db.poll_timeout(), want.first().map(|(t, _)| *t));
    let got: BTreeMap<IpAddr, (BTreeSet<u32>, BTreeSet<u32>)> = db
        .peers
        .iter()
        .map(|(p, s)| {
            (
                *p,
                (s.inbound.clone(), s.outbound.values().copied().collect()),
            )
        })
        .collect();
    assert_eq!(got, peers);
}

#[test]
fn expiry_index_gives_exact_deadlines_after_inserts_removals_and_rekeys() {
    let t0 = Instant::now();
    let mut db = SaDatabase::new();
    let p = Policy::dmvpn(local(), peer());
    assert_eq!(db.poll_timeout(), None);

    db.insert_inbound(p, inbound(0x100, Some(540), Some(600), t0));
    assert_eq!(db.poll_timeout(), Some(at(t0, 540)));
    db.insert_outbound(p, outbound(0x200, Some(300), Some(400), t0));
    assert_eq!(db.poll_timeout(), Some(at(t0, 300)));
    // An SA without time limits is not in the index.
    db.insert_inbound(p, inbound(0x101, None, None, t0));
    assert_eq!(db.expiry.len(), 2);
    assert_consistent(&db);

    // The soft limit of 0x200 falls due: its hard limit takes its place in the index.
    db.handle_timeout(at(t0, 300));
    assert_eq!(
        brief(&events(&mut db)),
        [(
            Direction::Outbound,
            0x200,
            Event::RekeyDue {
                spi: 0x200,
                limit: Limit::Time
            }
        )]
    );
    assert_eq!(db.poll_timeout(), Some(at(t0, 400)));
    assert_consistent(&db);

    // The rekey: new SAs created later, the old ones stay until removed.
    let t1 = at(t0, 310);
    db.insert_inbound(p, inbound(0x110, Some(540), Some(600), t1));
    db.insert_outbound(p, outbound(0x210, Some(300), Some(400), t1));
    assert_eq!(db.poll_timeout(), Some(at(t0, 400)));
    assert_eq!(db.outbound_for(peer()).map(OutboundSa::spi), Some(0x210));
    assert_consistent(&db);
    db.remove_outbound(0x200).unwrap();
    assert_eq!(db.poll_timeout(), Some(at(t0, 540)));
    db.remove_inbound(0x100).unwrap();
    assert_eq!(db.poll_timeout(), Some(at(t1, 300)));
    assert_consistent(&db);

    // Replacing an SA with one of the same SPI re-files its deadline.
    let old = db.insert_outbound(p, outbound(0x210, None, Some(1000), t1));
    assert_eq!(old.map(|sa| sa.spi()), Some(0x210));
    assert_eq!(db.poll_timeout(), Some(at(t1, 540)));
    assert_eq!(db.outbound_len(), 1);
    assert_consistent(&db);
    db.remove_inbound(0x110).unwrap();
    assert_eq!(db.poll_timeout(), Some(at(t1, 1000)));
    assert_eq!(db.remove_inbound(0x110).map(|sa| sa.spi()), None);
    assert_consistent(&db);
}

#[test]
fn soft_then_hard_lifetime_events_in_order() {
    let t0 = Instant::now();
    let mut db = SaDatabase::new();
    let p = Policy::dmvpn(local(), peer());
    db.insert_outbound(p, outbound(0x1, Some(90), Some(100), t0));
    db.insert_inbound(p, inbound(0x2, Some(10), Some(50), t0));
    db.insert_inbound(p, inbound(0x3, Some(20), Some(30), t0));

    db.handle_timeout(at(t0, 95));
    let rekey = |spi| Event::RekeyDue {
        spi,
        limit: Limit::Time,
    };
    let expired = |spi| Event::Expired {
        spi,
        limit: Limit::Time,
    };
    // After a long sleep the events still come out in the order the limits were reached.
    assert_eq!(
        brief(&events(&mut db)),
        [
            (Direction::Inbound, 0x2, rekey(0x2)),
            (Direction::Inbound, 0x3, rekey(0x3)),
            (Direction::Inbound, 0x3, expired(0x3)),
            (Direction::Inbound, 0x2, expired(0x2)),
            (Direction::Outbound, 0x1, rekey(0x1)),
        ]
    );
    assert_eq!(db.poll_timeout(), Some(at(t0, 100)));
    assert!(db.inbound(0x2).unwrap().is_expired());
    assert_consistent(&db);

    db.handle_timeout(at(t0, 100));
    let got = events(&mut db);
    assert_eq!(brief(&got), [(Direction::Outbound, 0x1, expired(0x1))]);
    assert_eq!(got[0].policy, p);
    assert_eq!(db.poll_timeout(), None);
    assert!(db.expiry.is_empty());
    assert_consistent(&db);

    // Both limits passed at once: soft first, then hard, from one call.
    db.insert_inbound(p, inbound(0x4, Some(10), Some(20), t0));
    db.handle_timeout(at(t0, 500));
    assert_eq!(
        brief(&events(&mut db)),
        [
            (Direction::Inbound, 0x4, rekey(0x4)),
            (Direction::Inbound, 0x4, expired(0x4)),
        ]
    );
}

#[test]
fn spurious_handle_timeout_is_a_no_op() {
    let t0 = Instant::now();
    let mut db = SaDatabase::new();
    db.handle_timeout(t0);
    assert_eq!((db.poll_timeout(), db.poll_event()), (None, None));

    let p = Policy::dmvpn(local(), peer());
    db.insert_inbound(p, inbound(0x10, Some(60), Some(120), t0));
    db.insert_outbound(p, outbound(0x20, Some(70), Some(120), t0));
    let index = db.expiry.clone();
    for s in [0, 1, 59] {
        db.handle_timeout(at(t0, s));
        assert_eq!(db.poll_event(), None);
        assert_eq!(db.expiry, index);
        assert_eq!(db.poll_timeout(), Some(at(t0, 60)));
    }
    // Earlier than a past call: still nothing.
    db.handle_timeout(t0);
    assert_eq!(db.poll_event(), None);
    // Due, then the same instant again: the second call does nothing.
    db.handle_timeout(at(t0, 60));
    assert_eq!(events(&mut db).len(), 1);
    let index = db.expiry.clone();
    db.handle_timeout(at(t0, 60));
    assert_eq!(db.poll_event(), None);
    assert_eq!(db.expiry, index);
    assert_consistent(&db);
}

/// An SA to install: direction, SPI, peer, soft and hard time limit in seconds.
type Planned = (Direction, u32, IpAddr, Option<u64>, Option<u64>);

/// SAs of two peers with shared and distinct deadlines (seconds), to be inserted in any order.
fn population() -> Vec<Planned> {
    let mut v = Vec::new();
    for i in 0..48u32 {
        let direction = if i % 3 == 0 {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let peer = if i % 2 == 0 { ip(PEER) } else { ip(OTHER) };
        // Several SAs share each deadline; some have none.
        let soft = (i % 7 != 6).then(|| 100 + u64::from(i % 5) * 10);
        let hard = (i % 11 != 10).then(|| 150 + u64::from(i % 4) * 10);
        v.push((
            direction,
            0x1000 + i * 0x0101_0101 % 0x7fff_ffff,
            peer,
            soft,
            hard,
        ));
    }
    v
}

fn build(order: &[usize], t0: Instant) -> SaDatabase {
    let sas = population();
    let mut db = SaDatabase::new();
    for &i in order {
        let (direction, spi, peer, soft, hard) = sas[i];
        let p = Policy::dmvpn(local(), peer);
        match direction {
            Direction::Inbound => {
                assert!(db.insert_inbound(p, inbound(spi, soft, hard, t0)).is_none())
            }
            Direction::Outbound => {
                assert!(
                    db.insert_outbound(p, outbound(spi, soft, hard, t0))
                        .is_none()
                );
            }
        }
    }
    db
}

/// Timer events of the whole population, step by step and after a long sleep.
fn run(db: &mut SaDatabase, t0: Instant) -> Vec<SaEvent> {
    let mut all = Vec::new();
    for s in [105, 120, 120, 155, 500] {
        db.handle_timeout(at(t0, s));
        all.extend(events(db));
        assert_consistent(db);
    }
    all
}

#[test]
fn events_come_out_in_the_same_order_whatever_the_insertion_order_or_hasher() {
    let t0 = Instant::now();
    let n = population().len();
    let forward: Vec<usize> = (0..n).collect();
    let backward: Vec<usize> = (0..n).rev().collect();
    // A fixed shuffle: every 7th element, modulo n (7 and 48 are coprime).
    let shuffled: Vec<usize> = (0..n).map(|i| i * 7 % n).collect();
    // Each database has its own randomly seeded hasher.
    let a = run(&mut build(&forward, t0), t0);
    let b = run(&mut build(&backward, t0), t0);
    let c = run(&mut build(&shuffled, t0), t0);
    assert_eq!(brief(&a), brief(&b));
    assert_eq!(brief(&a), brief(&c));
    assert_eq!(a, b);

    // And the order is the documented one: by deadline, then inbound before outbound, then SPI.
    let mut keyed = Vec::new();
    for (direction, spi, _, soft, hard) in population() {
        let id = SaId { direction, spi };
        let hard_at = hard.map(|h| at(t0, h));
        let soft_at = soft
            .map(|s| at(t0, s))
            .filter(|s| hard_at.is_none_or(|h| *s < h));
        if let Some(s) = soft_at {
            keyed.push((s, id, 0));
        }
        if let Some(h) = hard_at {
            keyed.push((h, id, 1));
        }
    }
    keyed.sort();
    let expected: Vec<(Direction, u32, bool)> = keyed
        .iter()
        .map(|(_, id, kind)| (id.direction, id.spi, *kind == 1))
        .collect();
    let got: Vec<(Direction, u32, bool)> = a
        .iter()
        .map(|e| {
            (
                e.sa.direction,
                e.sa.spi,
                matches!(e.event, Event::Expired { .. }),
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    // Within one handle_timeout call the order is exactly the index order; the step boundaries
    // (105, 120, 155, 500) do not reorder anything because each step sees only what is due.
    assert_eq!(got, expected);
}

#[test]
fn removal_cleans_the_index_and_unpolled_events() {
    let t0 = Instant::now();
    let mut db = SaDatabase::new();
    let p = Policy::dmvpn(local(), peer());
    let q = Policy::dmvpn(local(), ip(OTHER));
    db.insert_inbound(p, inbound(0x1, Some(10), Some(20), t0));
    db.insert_outbound(p, outbound(0x2, Some(10), Some(20), t0));
    db.insert_outbound(p, outbound(0x3, Some(15), Some(20), t0));
    db.insert_inbound(q, inbound(0x4, Some(12), Some(30), t0));
    db.insert_outbound(q, outbound(0x4, Some(12), Some(30), t0));
    db.handle_timeout(at(t0, 12));
    assert_eq!(db.events.len(), 4);

    // Unpolled events of a removed SA go with it.
    db.remove_inbound(0x1).unwrap();
    assert!(db.events.iter().all(|e| e.sa != SaId::inbound(0x1)));
    assert_eq!(db.events.len(), 3);
    assert_consistent(&db);

    db.remove_peer(peer());
    assert_eq!((db.inbound_len(), db.outbound_len()), (1, 1));
    assert_eq!(db.outbound_for(peer()).map(OutboundSa::spi), None);
    assert!(!db.peers.contains_key(&peer()));
    assert_eq!(
        brief(&events(&mut db)),
        [
            (
                Direction::Inbound,
                0x4,
                Event::RekeyDue {
                    spi: 0x4,
                    limit: Limit::Time
                }
            ),
            (
                Direction::Outbound,
                0x4,
                Event::RekeyDue {
                    spi: 0x4,
                    limit: Limit::Time
                }
            ),
        ]
    );
    assert_eq!(db.poll_timeout(), Some(at(t0, 30)));
    assert_consistent(&db);

    // Same SPI in both directions: removing one leaves the other and its deadline.
    db.remove_outbound(0x4).unwrap();
    assert_eq!(db.inbound(0x4).map(InboundSa::spi), Some(0x4));
    assert_eq!(db.expiry.len(), 1);
    db.remove_inbound(0x4).unwrap();
    assert!(db.is_empty() && db.expiry.is_empty() && db.peers.is_empty());
    assert_eq!(db.poll_timeout(), None);
    db.remove_peer(peer());
    db.handle_timeout(at(t0, 1000));
    assert_eq!(db.poll_event(), None);
}

#[test]
fn the_newest_outbound_sa_carries_the_traffic_and_the_policy_is_checked() {
    let t0 = Instant::now();
    let (l, r) = (local(), peer());
    let mut ours = SaDatabase::new();
    let mut theirs = SaDatabase::new();
    for spi in [0x10, 0x20] {
        ours.insert_outbound(Policy::dmvpn(l, r), outbound(spi, None, None, t0));
        theirs.insert_inbound(Policy::dmvpn(r, l), inbound(spi, None, None, t0));
    }
    let mut wire = [0u8; 256];
    let mut out = [0u8; 256];
    let spi_of = |pkt: &[u8]| Packet::new_checked(pkt).unwrap().spi();

    let pkt = ours.encapsulate(t0, l, r, 47, b"gre", &mut wire).unwrap();
    assert_eq!(spi_of(pkt), 0x20);
    let d = theirs.decapsulate(t0, l, r, pkt, &mut out).unwrap();
    assert_eq!((d.next_header, d.payload), (47, &b"gre"[..]));

    // The newest goes: the one before takes over.
    ours.remove_outbound(0x20).unwrap();
    let pkt = ours.encapsulate(t0, l, r, 47, b"gre", &mut wire).unwrap();
    assert_eq!(spi_of(pkt), 0x10);
    let len = pkt.len();
    // The inbound policy: source, destination (lookup), protocol.
    assert_eq!(
        theirs.decapsulate(t0, ip(OTHER), r, &wire[..len], &mut out),
        Err(Error::PolicyMismatch)
    );
    assert_eq!(
        theirs.decapsulate(t0, l, ip(OTHER), &wire[..len], &mut out),
        Err(Error::UnknownSpi { spi: 0x10 })
    );
    // The outbound policy: GRE only between the two addresses.
    assert_eq!(
        ours.encapsulate(t0, l, r, 1, b"icmp", &mut wire),
        Err(Error::PolicyMismatch)
    );
    assert_eq!(
        ours.encapsulate(t0, ip(OTHER), r, 47, b"gre", &mut wire),
        Err(Error::PolicyMismatch)
    );
    assert_eq!(
        ours.encapsulate(t0, l, ip(OTHER), 47, b"gre", &mut wire),
        Err(Error::NoOutboundSa)
    );
    ours.remove_outbound(0x10).unwrap();
    assert_eq!(
        ours.encapsulate(t0, l, r, 47, b"gre", &mut wire),
        Err(Error::NoOutboundSa)
    );

    // Any protocol: tunnel-mode or transport-mode payloads of every kind pass.
    let mut any = SaDatabase::new();
    any.insert_outbound(Policy::any_protocol(l, r), outbound(0x30, None, None, t0));
    for proto in [1, 4, 41, 47] {
        assert!(any.encapsulate(t0, l, r, proto, b"x", &mut wire).is_ok());
    }
    assert_eq!(
        any.policy(SaId::outbound(0x30)),
        Some(Policy::any_protocol(l, r))
    );
    assert_eq!(any.policy(SaId::inbound(0x30)), None);
}

#[test]
fn in_place_through_the_database_with_its_lookups_policy_and_events() {
    let t0 = Instant::now();
    let (l, r) = (local(), peer());
    let mut ours = SaDatabase::new();
    let mut theirs = SaDatabase::new();
    assert!(!ours.has_outbound(r));
    assert_eq!(ours.outbound_header_len(r), None);
    let mut buf = vec![0u8; 40];
    assert_eq!(
        ours.encapsulate_in_place(t0, l, r, 47, &mut buf, 20),
        Err(Error::NoOutboundSa)
    );
    let mut c = cfg(0x10, None, None);
    c.lifetimes.soft.packets = Some(1);
    ours.insert_outbound(Policy::dmvpn(l, r), OutboundSa::new(&c, t0).unwrap());
    theirs.insert_inbound(Policy::dmvpn(r, l), inbound(0x10, None, None, t0));
    assert!(ours.has_outbound(r));
    assert!(!ours.has_outbound(ip(OTHER)));
    // AES-GCM: 8 bytes of header, 8 of IV.
    let header = ours.outbound_header_len(r).unwrap();
    assert_eq!(header, 16);

    // 20 bytes of outer headers, the ESP header and IV, then the GRE packet.
    let mut buf = vec![0xee; 20 + header];
    buf.extend_from_slice(b"gre in place");
    let off = ours
        .encapsulate_in_place(t0, l, r, 47, &mut buf, 20 + header)
        .unwrap();
    assert_eq!(off, 20);
    assert_eq!(Packet::new_checked(&buf[off..]).unwrap().spi(), 0x10);
    // Its event came out with the SA and policy.
    assert_eq!(
        brief(&events(&mut ours)),
        [(
            Direction::Outbound,
            0x10,
            Event::RekeyDue {
                spi: 0x10,
                limit: Limit::Packets
            }
        )]
    );
    let pkt = buf[off..].to_vec();
    // The inbound policy: source, destination (lookup), protocol.
    let mut copy = pkt.clone();
    assert_eq!(
        theirs.decapsulate_in_place(t0, ip(OTHER), r, &mut copy),
        Err(Error::PolicyMismatch)
    );
    let mut copy = pkt.clone();
    assert_eq!(
        theirs.decapsulate_in_place(t0, l, ip(OTHER), &mut copy),
        Err(Error::UnknownSpi { spi: 0x10 })
    );
    // The policy mismatch above came after verification: the packet was taken (and is now a
    // replay). A fresh one passes.
    let mut buf = vec![0u8; header];
    buf.extend_from_slice(b"second");
    let off = ours
        .encapsulate_in_place(t0, l, r, 47, &mut buf, header)
        .unwrap();
    let d = theirs
        .decapsulate_in_place(t0, l, r, &mut buf[off..])
        .unwrap();
    assert_eq!(d.next_header, 47);
    assert_eq!(&buf[off..][d.payload], b"second");
    let mut short = [0u8; 7];
    assert_eq!(
        theirs.decapsulate_in_place(t0, l, r, &mut short),
        Err(Error::Truncated { needed: 8, got: 7 })
    );

    // The outbound policy: GRE only between the two addresses; too little headroom.
    let mut buf = vec![0u8; header + 4];
    assert_eq!(
        ours.encapsulate_in_place(t0, l, r, 1, &mut buf, header),
        Err(Error::PolicyMismatch)
    );
    assert_eq!(
        ours.encapsulate_in_place(t0, ip(OTHER), r, 47, &mut buf, header),
        Err(Error::PolicyMismatch)
    );
    assert_eq!(
        ours.encapsulate_in_place(t0, l, r, 47, &mut buf, header - 1),
        Err(Error::Headroom {
            needed: header,
            got: header - 1
        })
    );
    assert_eq!(ours.outbound(0x10).unwrap().counters().send_errors, 1);
    assert_consistent(&ours);
    assert_consistent(&theirs);
}

#[test]
fn data_path_events_come_out_with_their_sa_and_move_the_deadline() {
    let t0 = Instant::now();
    let (l, r) = (local(), peer());
    let mut c = cfg(0x77, Some(50), Some(100));
    c.lifetimes.soft.packets = Some(2);
    c.lifetimes.hard.packets = Some(3);
    let mut db = SaDatabase::new();
    db.insert_outbound(Policy::dmvpn(l, r), OutboundSa::new(&c, t0).unwrap());
    let mut wire = [0u8; 256];
    assert_eq!(db.poll_timeout(), Some(at(t0, 50)));
    db.encapsulate(t0, l, r, 47, b"1", &mut wire).unwrap();
    assert_eq!(db.poll_event(), None);
    db.encapsulate(t0, l, r, 47, b"2", &mut wire).unwrap();
    // The soft limit fired by packets: its time limit no longer counts.
    assert_eq!(db.poll_timeout(), Some(at(t0, 100)));
    assert_consistent(&db);
    db.encapsulate(t0, l, r, 47, b"3", &mut wire).unwrap();
    assert_eq!(
        db.encapsulate(t0, l, r, 47, b"4", &mut wire),
        Err(Error::Expired)
    );
    assert_eq!(db.poll_timeout(), None);
    let got = events(&mut db);
    assert_eq!(
        brief(&got),
        [
            (
                Direction::Outbound,
                0x77,
                Event::RekeyDue {
                    spi: 0x77,
                    limit: Limit::Packets
                }
            ),
            (
                Direction::Outbound,
                0x77,
                Event::Expired {
                    spi: 0x77,
                    limit: Limit::Packets
                }
            ),
        ]
    );
    assert!(got.iter().all(|e| e.policy == Policy::dmvpn(l, r)));
    assert_consistent(&db);

    // Inbound: the data path notices a passed time limit before any handle_timeout.
    let mut rx = SaDatabase::new();
    rx.insert_inbound(Policy::dmvpn(r, l), inbound(0x77, Some(50), Some(100), t0));
    let mut tx = OutboundSa::new(&cfg(0x77, None, None), t0).unwrap();
    let pkt = tx.encapsulate(t0, 47, b"late", &mut wire).unwrap();
    let mut out = [0u8; 256];
    rx.decapsulate(at(t0, 60), l, r, pkt, &mut out).unwrap();
    assert_eq!(
        brief(&events(&mut rx)),
        [(
            Direction::Inbound,
            0x77,
            Event::RekeyDue {
                spi: 0x77,
                limit: Limit::Time
            }
        )]
    );
    assert_eq!(rx.poll_timeout(), Some(at(t0, 100)));
    assert_consistent(&rx);
}

#[test]
fn debug_lists_sas_in_spi_order() {
    let t0 = Instant::now();
    let p = Policy::dmvpn(local(), peer());
    let mut a = SaDatabase::new();
    let mut b = SaDatabase::new();
    let spis = [0x9, 0x3, 0x7, 0x1, 0x5];
    for spi in spis {
        a.insert_inbound(p, inbound(spi, None, Some(10), t0));
    }
    for spi in spis.iter().rev() {
        b.insert_inbound(p, inbound(*spi, None, Some(10), t0));
    }
    let (da, db) = (format!("{a:?}"), format!("{b:?}"));
    assert_eq!(da, db);
    let pos: Vec<usize> = [
        "0x00000001",
        "0x00000003",
        "0x00000005",
        "0x00000007",
        "0x00000009",
    ]
    .iter()
    .map(|s| da.find(s).unwrap())
    .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{da}");
    assert!(!da.contains("[7, 7"), "no key material: {da}");
}

proptest! {
    /// Whatever the limits and the calls, the index stays exact, every deadline it reports is
    /// in the future of the last call, and each limit fires once, soft before hard.
    #[test]
    fn index_stays_exact(
        sas in proptest::collection::vec((any::<bool>(), 1u32..64, 0u64..200, 0u64..200, any::<bool>()), 1..24),
        steps in proptest::collection::vec(0u64..250, 1..12),
    ) {
        let t0 = Instant::now();
        let mut db = SaDatabase::new();
        for (out, spi, a, b, remove) in &sas {
            let (soft, hard) = (Some(*a.min(b)), Some(*a.max(b) + 1));
            let p = Policy::dmvpn(local(), peer());
            if *out {
                db.insert_outbound(p, outbound(*spi, soft, hard, t0));
            } else {
                db.insert_inbound(p, inbound(*spi, soft, hard, t0));
            }
            if *remove && spi % 3 == 0 {
                db.remove_outbound(*spi);
            }
        }
        assert_consistent(&db);
        let mut seen: BTreeMap<SaId, Vec<bool>> = BTreeMap::new();
        let mut now = 0;
        for s in steps {
            now = now.max(s);
            db.handle_timeout(at(t0, now));
            assert_consistent(&db);
            prop_assert!(db.poll_timeout().is_none_or(|t| t > at(t0, now)));
            for e in events(&mut db) {
                seen.entry(e.sa).or_default().push(matches!(e.event, Event::Expired { .. }));
            }
        }
        for kinds in seen.values() {
            prop_assert!(kinds == &[false] || kinds == &[false, true], "{kinds:?}");
        }
    }
}

#[test]
fn a_peer_rebound_by_its_nat_is_followed_only_after_authentication() {
    let t0 = Instant::now();
    let (l, r, moved) = (local(), peer(), ip(OTHER));
    let mut ours = SaDatabase::new();
    let mut theirs = SaDatabase::new();
    ours.insert_outbound(
        Policy::dmvpn(l, r),
        OutboundSa::new(&cfg(0x20, None, None), t0).unwrap(),
    );
    theirs.insert_inbound(Policy::dmvpn(r, l), inbound(0x20, None, None, t0));
    theirs.insert_outbound(Policy::dmvpn(r, l), outbound(0x21, None, None, t0));
    let header = ours.outbound_header_len(r).unwrap();
    let seal = |db: &mut SaDatabase, text: &[u8]| {
        let mut buf = vec![0u8; header];
        buf.extend_from_slice(text);
        let off = db
            .encapsulate_in_place(t0, l, r, 47, &mut buf, header)
            .unwrap();
        buf[off..].to_vec()
    };
    // From the new address: the strict check refuses it, the NAT-T one reports the old peer.
    let mut pkt = seal(&mut ours, b"one");
    assert_eq!(
        theirs.decapsulate_in_place(t0, moved, r, &mut pkt),
        Err(Error::PolicyMismatch)
    );
    let mut pkt = seal(&mut ours, b"two");
    let (d, from) = theirs
        .decapsulate_in_place_following(t0, moved, r, &mut pkt)
        .unwrap();
    assert_eq!((from, &pkt[d.payload]), (Some(l), &b"two"[..]));
    // A forged packet from the new address proves nothing: it fails before the source counts.
    let mut forged = seal(&mut ours, b"three");
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        theirs.decapsulate_in_place_following(t0, moved, r, &mut forged),
        Err(Error::Integrity)
    );
    // Moving the peer moves its SAs both ways.
    assert_eq!(theirs.move_peer(l, moved), 2);
    assert!(theirs.has_outbound(moved) && !theirs.has_outbound(l));
    let mut pkt = seal(&mut ours, b"four");
    let (_, from) = theirs
        .decapsulate_in_place_following(t0, moved, r, &mut pkt)
        .unwrap();
    assert_eq!(from, None);
    assert_consistent(&theirs);
    // Never onto a peer that has SAs of its own, nor from a peer without any.
    theirs.insert_inbound(Policy::dmvpn(r, l), inbound(0x30, None, None, t0));
    assert_eq!(theirs.move_peer(l, moved), 0);
    assert_eq!(theirs.move_peer(ip("192.0.2.99"), ip("192.0.2.100")), 0);
    assert_consistent(&theirs);
}
