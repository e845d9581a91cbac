//! `SaDatabase` driven by arbitrary inserts (colliding SPIs, several SAs per peer, short time
//! and packet lifetimes), removals, outgoing packets, received packets (genuine, bit-flipped,
//! replayed, arbitrary bytes), clock steps, timeouts and event polls, on two databases at once.
//!
//! Checks, against a model of what is installed: the SA counts, the policies and the outbound SA
//! that carries each peer's traffic (the newest installed); `poll_timeout` is exactly the
//! earliest deadline of any installed SA, a `handle_timeout` before it changes nothing, and after
//! one at it the next deadline is later; timer events come out in (deadline, SA) order and never
//! before their deadline; every polled event names an installed SA with its policy (the events of
//! a removed or replaced SA go with it); a modified or replayed packet is never accepted, an
//! accepted one decrypts to what was sent; and the twin database, whose maps hash differently,
//! gives the same results, bytes and events in the same order.
#![no_main]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use dmvpn_esp::crypto::{ChaChaRandom, rustcrypto};
use dmvpn_esp::{
    Error, Event, InboundSa, Lifetime, Lifetimes, Limit, OutboundSa, Policy, SaConfig, SaDatabase,
    SaEvent, SaId, SaKeys, Suite,
};
use libfuzzer_sys::fuzz_target;

const SUITES: [&str; 4] = ["aes128gcm16", "aes256-sha512", "null-sha384", "aes128-sha1"];

#[derive(Arbitrary, Debug)]
struct Sa {
    spi: u8,
    local: u8,
    peer: u8,
    suite: u8,
    /// Soft and hard time lifetimes in seconds (0: none).
    soft: u16,
    hard: u16,
    /// Hard packet lifetime (soft: half of it).
    packets: Option<u8>,
    /// DMVPN's policy (GRE only) or any protocol.
    gre: bool,
}

#[derive(Arbitrary, Debug)]
enum Op {
    InsertInbound(Sa),
    InsertOutbound(Sa),
    RemoveInbound(u8),
    RemoveOutbound(u8),
    RemovePeer(u8),
    /// Protect `len % 1500` bytes of `protocol` from `src` to `dst`.
    Send {
        src: u8,
        dst: u8,
        protocol: u8,
        len: u16,
    },
    /// Receive sent packet `which` from `src` at `dst`, maybe with a byte changed.
    Receive {
        which: u8,
        src: u8,
        dst: u8,
        flip: Option<(u16, u8)>,
    },
    /// Arbitrary bytes received from `src` at `dst`.
    Raw {
        src: u8,
        dst: u8,
        data: Vec<u8>,
    },
    /// Let time pass (× 10 ms) and call `handle_timeout`.
    Advance(u16),
    /// Jump to the announced deadline and call `handle_timeout` there.
    Timeout,
    /// Poll up to n events.
    Events(u8),
}

fn addr(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, i % 4))
}

fn spi(i: u8) -> u32 {
    u32::from(i % 8) + 1
}

fn policy(sa: &Sa) -> Policy {
    let (local, peer) = (addr(sa.local), addr(sa.peer));
    if sa.gre {
        Policy::dmvpn(local, peer)
    } else {
        Policy::any_protocol(local, peer)
    }
}

fn lifetimes(sa: &Sa) -> Lifetimes {
    let secs = |s: u16| (s != 0).then(|| Duration::from_secs(u64::from(s)));
    Lifetimes {
        soft: Lifetime {
            time: secs(sa.soft),
            bytes: None,
            packets: sa.packets.map(|p| u64::from(p) / 2),
        },
        hard: Lifetime {
            time: secs(sa.hard),
            bytes: None,
            packets: sa.packets.map(u64::from),
        },
    }
}

/// Keys depend on the SPI and suite only, so that an outbound and an inbound SA with the same
/// SPI and suite are the two ends of one SA.
fn config(sa: &Sa) -> SaConfig {
    let suite = Suite::parse(SUITES[usize::from(sa.suite) % SUITES.len()]).expect("suite");
    let s = spi(sa.spi);
    let keys = SaKeys::new(
        &vec![0x11 ^ s as u8; suite.encryption.keymat_len()],
        &vec![0x22 ^ s as u8; suite.integrity.key_len()],
    );
    let provider = rustcrypto::provider(Arc::new(ChaChaRandom::from_seed([s as u8; 32])));
    let mut cfg = SaConfig::new(s, suite, keys, provider);
    cfg.lifetimes = lifetimes(sa);
    cfg
}

/// What the model knows of an installed SA.
#[derive(Clone, Copy)]
struct Installed {
    policy: Policy,
    created: Instant,
    lifetimes: Lifetimes,
    /// The installation number (one counter for both directions).
    generation: u64,
}

#[derive(Default)]
struct Model {
    inbound: BTreeMap<u32, Installed>,
    outbound: BTreeMap<u32, Installed>,
    installs: u64,
}

impl Model {
    fn get(&self, id: SaId) -> Option<&Installed> {
        match id.direction {
            dmvpn_esp::Direction::Inbound => self.inbound.get(&id.spi),
            dmvpn_esp::Direction::Outbound => self.outbound.get(&id.spi),
        }
    }

    /// The outbound SA that must carry the traffic towards `peer`: the newest installed.
    fn current(&self, peer: IpAddr) -> Option<u32> {
        self.outbound
            .iter()
            .filter(|(_, i)| i.policy.peer == peer)
            .max_by_key(|(_, i)| i.generation)
            .map(|(s, _)| *s)
    }

    /// When a timer event of an installed SA was due.
    fn deadline(&self, e: &SaEvent) -> Option<Instant> {
        let i = self.get(e.sa)?;
        let d = match e.event {
            Event::RekeyDue {
                limit: Limit::Time, ..
            } => i.lifetimes.soft.time?,
            Event::Expired {
                limit: Limit::Time, ..
            } => i.lifetimes.hard.time?,
            _ => return None,
        };
        i.created.checked_add(d)
    }
}

/// Both databases, fed the same calls, must answer alike.
struct Twin {
    a: SaDatabase,
    b: SaDatabase,
}

impl Twin {
    fn events(&mut self, n: usize) -> Vec<SaEvent> {
        let mut out = Vec::new();
        for _ in 0..n {
            let (x, y) = (self.a.poll_event(), self.b.poll_event());
            assert_eq!(x, y, "the twin databases' events differ");
            match x {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }

    fn timeout(&mut self, now: Instant) {
        self.a.handle_timeout(now);
        self.b.handle_timeout(now);
    }
}

fn check(db: &Twin, m: &Model) {
    for d in [&db.a, &db.b] {
        assert_eq!(d.inbound_len(), m.inbound.len());
        assert_eq!(d.outbound_len(), m.outbound.len());
        assert_eq!(d.is_empty(), m.inbound.is_empty() && m.outbound.is_empty());
        let mut earliest: Option<Instant> = None;
        for (spi, i) in &m.inbound {
            let sa = d.inbound(*spi).expect("installed inbound SA");
            assert_eq!(d.policy(SaId::inbound(*spi)), Some(i.policy));
            earliest = [earliest, sa.poll_timeout()].into_iter().flatten().min();
        }
        for (spi, i) in &m.outbound {
            let sa = d.outbound(*spi).expect("installed outbound SA");
            assert_eq!(d.policy(SaId::outbound(*spi)), Some(i.policy));
            earliest = [earliest, sa.poll_timeout()].into_iter().flatten().min();
        }
        assert_eq!(d.poll_timeout(), earliest, "poll_timeout is not exact");
        for p in 0..4 {
            let peer = addr(p);
            assert_eq!(d.outbound_for(peer).map(|s| s.spi()), m.current(peer));
        }
    }
}

/// Polled events: each names an installed SA under its policy.
fn check_events(events: &[SaEvent], m: &Model) {
    for e in events {
        let i = m
            .get(e.sa)
            .expect("an event of an SA that is not installed");
        assert_eq!(e.policy, i.policy);
        let spi = match e.event {
            Event::RekeyDue { spi, .. } | Event::Expired { spi, .. } => spi,
            Event::SequenceExhausted { spi } => spi,
        };
        assert_eq!(spi, e.sa.spi);
    }
}

struct Sent {
    packet: Vec<u8>,
    payload: Vec<u8>,
    protocol: u8,
    spi: u32,
    /// The installations of the inbound SA that accepted it: at most once each.
    accepted: Vec<u64>,
}

fuzz_target!(|ops: Vec<Op>| {
    let start = Instant::now();
    let mut now = start;
    let mut db = Twin {
        a: SaDatabase::new(),
        b: SaDatabase::new(),
    };
    let mut m = Model::default();
    let mut sent: Vec<Sent> = Vec::new();
    let (mut out_a, mut out_b) = (vec![0u8; 2048], vec![0u8; 2048]);
    for op in ops.into_iter().take(128) {
        match op {
            Op::InsertInbound(sa) => {
                // Each database's SA has a random source of its own, seeded alike.
                let cfg = config(&sa);
                let (Ok(x), Ok(y)) = (InboundSa::new(&cfg, now), InboundSa::new(&config(&sa), now))
                else {
                    continue;
                };
                let p = policy(&sa);
                let old = (db.a.insert_inbound(p, x), db.b.insert_inbound(p, y));
                assert_eq!(old.0.is_some(), m.inbound.contains_key(&cfg.spi));
                assert_eq!(old.0.is_some(), old.1.is_some());
                m.installs += 1;
                let generation = m.installs;
                m.inbound.insert(
                    cfg.spi,
                    Installed {
                        policy: p,
                        created: now,
                        lifetimes: cfg.lifetimes,
                        generation,
                    },
                );
            }
            Op::InsertOutbound(sa) => {
                let cfg = config(&sa);
                let (Ok(x), Ok(y)) = (
                    OutboundSa::new(&cfg, now),
                    OutboundSa::new(&config(&sa), now),
                ) else {
                    continue;
                };
                let p = policy(&sa);
                let old = (db.a.insert_outbound(p, x), db.b.insert_outbound(p, y));
                assert_eq!(old.0.is_some(), m.outbound.contains_key(&cfg.spi));
                assert_eq!(old.0.is_some(), old.1.is_some());
                m.installs += 1;
                m.outbound.insert(
                    cfg.spi,
                    Installed {
                        policy: p,
                        created: now,
                        lifetimes: cfg.lifetimes,
                        generation: m.installs,
                    },
                );
            }
            Op::RemoveInbound(i) => {
                let s = spi(i);
                let r = (db.a.remove_inbound(s), db.b.remove_inbound(s));
                assert_eq!(r.0.is_some(), m.inbound.remove(&s).is_some());
                assert_eq!(r.0.is_some(), r.1.is_some());
            }
            Op::RemoveOutbound(i) => {
                let s = spi(i);
                let r = (db.a.remove_outbound(s), db.b.remove_outbound(s));
                assert_eq!(r.0.is_some(), m.outbound.remove(&s).is_some());
                assert_eq!(r.0.is_some(), r.1.is_some());
            }
            Op::RemovePeer(p) => {
                let peer = addr(p);
                db.a.remove_peer(peer);
                db.b.remove_peer(peer);
                m.inbound.retain(|_, i| i.policy.peer != peer);
                m.outbound.retain(|_, i| i.policy.peer != peer);
            }
            Op::Send {
                src,
                dst,
                protocol,
                len,
            } => {
                let payload = vec![0xa5; usize::from(len % 1500)];
                let (src, dst) = (addr(src), addr(dst));
                let x =
                    db.a.encapsulate(now, src, dst, protocol, &payload, &mut out_a);
                let y =
                    db.b.encapsulate(now, src, dst, protocol, &payload, &mut out_b);
                assert_eq!(x, y, "the twin databases encapsulate differently");
                let want = m.current(dst);
                match (&x, want) {
                    (Err(Error::NoOutboundSa), None) => {}
                    (_, None) => panic!("sent without an outbound SA: {x:?}"),
                    (Ok(pkt), Some(s)) => {
                        assert_eq!(&pkt[..4], &s.to_be_bytes(), "sent on the wrong SA");
                        if sent.len() < 64 {
                            sent.push(Sent {
                                packet: pkt.to_vec(),
                                payload,
                                protocol,
                                spi: s,
                                accepted: Vec::new(),
                            });
                        }
                    }
                    (Err(_), Some(_)) => {}
                }
            }
            Op::Receive {
                which,
                src,
                dst,
                flip,
            } => {
                if sent.is_empty() {
                    continue;
                }
                let k = usize::from(which) % sent.len();
                let mut pkt = sent[k].packet.clone();
                let flipped = match flip {
                    Some((at, x)) if x != 0 => {
                        let i = usize::from(at) % pkt.len();
                        pkt[i] ^= x;
                        true
                    }
                    _ => false,
                };
                let (src, dst) = (addr(src), addr(dst));
                let x = db.a.decapsulate(now, src, dst, &pkt, &mut out_a);
                let y = db.b.decapsulate(now, src, dst, &pkt, &mut out_b);
                assert_eq!(x, y, "the twin databases decapsulate differently");
                if let Ok(d) = x {
                    assert!(!flipped, "a modified packet was accepted");
                    let s = &mut sent[k];
                    assert_eq!(d.payload, &s.payload[..]);
                    assert_eq!(d.next_header, s.protocol);
                    let i = m.inbound.get(&s.spi).expect("accepted by an installed SA");
                    assert!(
                        i.policy.matches_inbound(src, dst, s.protocol),
                        "accepted outside the SA's policy"
                    );
                    assert!(!s.accepted.contains(&i.generation), "a replay was accepted");
                    s.accepted.push(i.generation);
                }
            }
            Op::Raw { src, dst, data } => {
                let (src, dst) = (addr(src), addr(dst));
                let x = db.a.decapsulate(now, src, dst, &data, &mut out_a);
                let y = db.b.decapsulate(now, src, dst, &data, &mut out_b);
                assert_eq!(x, y, "the twin databases decapsulate differently");
            }
            Op::Advance(t) => {
                let before = db.events(usize::MAX);
                check_events(&before, &m);
                now += Duration::from_millis(u64::from(t) * 10);
                let due = db.a.poll_timeout().is_some_and(|d| d <= now);
                let deadline = db.a.poll_timeout();
                db.timeout(now);
                let raised = db.events(usize::MAX);
                if !due {
                    assert!(raised.is_empty(), "a spurious timeout raised {raised:?}");
                    assert_eq!(db.a.poll_timeout(), deadline);
                }
                timer_events(&raised, &m, now);
            }
            Op::Timeout => {
                let before = db.events(usize::MAX);
                check_events(&before, &m);
                let Some(t) = db.a.poll_timeout() else {
                    continue;
                };
                if t > now {
                    // Just before the deadline nothing happens.
                    let early = t - Duration::from_nanos(1);
                    now = now.max(early);
                    db.timeout(now);
                    assert!(db.events(1).is_empty(), "an event before its deadline");
                    assert_eq!(db.a.poll_timeout(), Some(t));
                }
                now = now.max(t);
                db.timeout(now);
                let raised = db.events(usize::MAX);
                timer_events(&raised, &m, now);
                assert!(db.a.poll_timeout().is_none_or(|d| d > now));
            }
            Op::Events(n) => {
                let events = db.events(usize::from(n));
                check_events(&events, &m);
            }
        }
        check(&db, &m);
    }
    assert_eq!(format!("{:?}", db.a), format!("{:?}", db.b));
});

/// The events raised by one `handle_timeout` at `now`: of installed SAs; those of time limits
/// due by `now` and in (deadline, SA) order. (A packet limit found reached when an SA is
/// evaluated for its time limit raises its event there too.)
fn timer_events(raised: &[SaEvent], m: &Model, now: Instant) {
    check_events(raised, m);
    let keys: Vec<(Instant, SaId)> = raised
        .iter()
        .filter_map(|e| {
            let d = m.deadline(e)?;
            assert!(d <= now, "an event before its deadline");
            Some((d, e.sa))
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] <= w[1]),
        "timer events out of order: {raised:?}"
    );
}
