//! IKE floods against a responder with the default configuration: 100,000 spoofed
//! IKE_SA_INIT requests, and one host that got one cookie resending the same request from
//! 20,000 source ports. Half-open SAs stay within the default bounds, a legitimate peer still
//! establishes, and the work per datagram does not grow with the number of SAs (counted in
//! SA-table entries visited, never timed; the times per datagram are printed as figures).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_esp::crypto::SecureRandom;
use dmvpn_ikev2::auth::{Psk, PskTable};
use dmvpn_ikev2::crypto::{IkeCryptoProvider, KeyExchange, KeyExchangeGroup};
use dmvpn_ikev2::transform::KeGroup;
use dmvpn_ikev2::wire::{ExchangeType, Identity, Message, NotifyType, Payload};
use dmvpn_ikev2::{Cac, Config, Endpoint, Event, Secret};

const HUB: &str = "192.0.2.10:500";

fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn config(seed: u8, me: &str, peer: &str) -> Config {
    let mut psks = PskTable::new();
    psks.insert(Identity::fqdn(peer), Psk::from("flood-test"));
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])));
    Config::new(provider, Identity::fqdn(me), psks)
}

/// The hub: the default configuration (only identities and keys set).
fn hub() -> Endpoint {
    Endpoint::new(config(1, "hub", "spoke")).unwrap()
}

/// A spoofed source: a distinct address of 198.18.0.0/15 for each `i` (port 500).
fn spoofed(i: u32) -> SocketAddr {
    let [_, b, c, d] = i.to_be_bytes();
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18 + (b & 1), c, d)), 500)
}

/// An IKE_SA_INIT request as a real initiator sends it (from `from`), for replaying.
fn init_request(seed: u8, from: SocketAddr) -> Vec<u8> {
    let mut ep = Endpoint::new(config(seed, "attacker", "hub")).unwrap();
    ep.initiate(Instant::now(), from, sock(HUB), None, None)
        .unwrap();
    ep.poll_transmit().unwrap().payload
}

/// The same request with initiator SPI `spi` (the first 8 bytes of the header).
fn with_spi(req: &[u8], spi: u64) -> Vec<u8> {
    let mut r = req.to_vec();
    r[..8].copy_from_slice(&spi.to_be_bytes());
    r
}

/// Everything the endpoint queued, dropped (an attacker reads nothing of it here).
fn drain(ep: &mut Endpoint) -> usize {
    let mut n = 0;
    while ep.poll_transmit().is_some() {
        n += 1;
    }
    while ep.poll_event().is_some() {}
    n
}

/// Brings `spoke` up with `hub` at `now`, moving datagrams between them until both are quiet;
/// whether the spoke's IKE SA and child SA came up.
fn establish(
    hub: &mut Endpoint,
    spoke: &mut Endpoint,
    spoke_addr: SocketAddr,
    now: Instant,
) -> bool {
    spoke
        .initiate(
            now,
            spoke_addr,
            sock(HUB),
            Some(Identity::fqdn("hub")),
            None,
        )
        .unwrap();
    let mut up = false;
    for _ in 0..20 {
        let mut moved = false;
        while let Some(t) = spoke.poll_transmit() {
            let _ = hub.handle_datagram(now, t.remote(), t.local(), &t.payload);
            moved = true;
        }
        while let Some(t) = hub.poll_transmit() {
            if t.remote().ip() == spoke_addr.ip() {
                let _ = spoke.handle_datagram(now, t.remote(), t.local(), &t.payload);
                moved = true;
            }
        }
        while let Some(e) = spoke.poll_event() {
            up |= matches!(e, Event::ChildUp { .. });
        }
        while hub.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    up
}

/// Sends the hub `n` spoofed requests (a distinct address and SPI each) at `now`.
fn spoofed_flood(hub: &mut Endpoint, req: &[u8], n: u32, now: Instant) {
    for i in 0..n {
        let spi = 0x5000_0000_0000_0000 | u64::from(i);
        let _ = hub.handle_datagram(now, sock(HUB), spoofed(i), &with_spi(req, spi));
        if i.is_multiple_of(1024) {
            drain(hub);
        }
    }
    drain(hub);
}

#[test]
fn a_spoofed_flood_stays_within_the_default_bound_and_a_real_peer_still_establishes() {
    let now = Instant::now();
    let mut hub = hub();
    let defaults = Cac::default();
    let bound = defaults
        .max_half_open
        .expect("the default bounds half-open SAs");
    let req = init_request(2, spoofed(0));
    spoofed_flood(&mut hub, &req, 100_000, now);
    let c = hub.counters();
    println!(
        "100,000 spoofed IKE_SA_INIT: {} half-open SAs, {} cookies sent, {} refused by CAC",
        hub.half_open(),
        c.cookies_sent,
        c.cac_rejected
    );
    assert!(hub.half_open() <= bound, "{} > {bound}", hub.half_open());
    assert!(hub.half_open() <= hub.config().cookie_threshold);
    assert_eq!(hub.ike_sa_count(), hub.half_open());
    assert!(c.cookies_sent >= 100_000 - 1_000);

    // A legitimate spoke gets a cookie, returns it and establishes.
    let spoke_addr = sock("203.0.113.7:500");
    let mut spoke = Endpoint::new(config(3, "spoke", "hub")).unwrap();
    assert!(establish(&mut hub, &mut spoke, spoke_addr, now));
    assert_eq!(hub.counters().ike_sas_established, 1);

    // The spoofed SAs expire; the hub is back to the one real SA.
    hub.handle_timeout(now + Duration::from_secs(31));
    drain(&mut hub);
    assert_eq!(hub.half_open(), 0);
    assert_eq!(hub.ike_sa_count(), 1);
}

#[test]
fn one_cookie_resent_from_many_ports_is_one_half_open_sa() {
    let now = Instant::now();
    let mut hub = hub();
    // Enough half-open SAs that the hub asks for cookies.
    let threshold = hub.config().cookie_threshold;
    let filler = init_request(2, spoofed(0));
    spoofed_flood(&mut hub, &filler, u32::try_from(threshold).unwrap(), now);
    let before = hub.half_open();

    // The attacker asks, gets a cookie, and sends the request with it once...
    let attacker = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 66));
    let mut a = Endpoint::new(config(4, "attacker", "hub")).unwrap();
    a.initiate(now, SocketAddr::new(attacker, 500), sock(HUB), None, None)
        .unwrap();
    let first = a.poll_transmit().unwrap();
    hub.handle_datagram(now, sock(HUB), first.local(), &first.payload)
        .unwrap();
    let cookie = hub.poll_transmit().unwrap();
    let m = Message::parse(&cookie.payload).unwrap();
    assert!(matches!(&m.payloads[..], [Payload::Notify(n)] if n.notify_type == NotifyType::COOKIE));
    a.handle_datagram(now, cookie.remote(), cookie.local(), &cookie.payload)
        .unwrap();
    let with_cookie = a.poll_transmit().unwrap().payload;
    // ...then resends it from ports 1024-21023.
    let mut answers = Vec::new();
    for port in 1024..21024u16 {
        let _ = hub.handle_datagram(
            now,
            sock(HUB),
            SocketAddr::new(attacker, port),
            &with_cookie,
        );
        while let Some(t) = hub.poll_transmit() {
            answers.push((t.remote().port(), t.payload));
        }
        while hub.poll_event().is_some() {}
    }
    println!(
        "one cookie from 20,000 ports: {} new half-open SA(s), {} answers",
        hub.half_open() - before,
        answers.len()
    );
    assert_eq!(hub.half_open(), before + 1, "one SA for one request");
    assert_eq!(answers.len(), 20_000, "every copy answered");
    // Every answer is the cached IKE_SA_INIT response, to the port the copy came from.
    let first_answer = &answers[0].1;
    let resp = Message::parse(first_answer).unwrap();
    assert_eq!(resp.exchange_type, ExchangeType::IKE_SA_INIT);
    assert!(resp.payloads.iter().any(|p| matches!(p, Payload::Ke(_))));
    for (i, (port, bytes)) in answers.iter().enumerate() {
        assert_eq!(*port, 1024 + u16::try_from(i).unwrap());
        assert_eq!(bytes, first_answer);
    }
    assert_eq!(hub.counters().cached_responses, 19_999);
}

#[test]
fn one_address_with_fresh_cookies_stays_within_the_per_address_bound() {
    let now = Instant::now();
    let mut hub = hub();
    let per_address = Cac::default()
        .max_half_open_per_address
        .expect("the default bounds half-open SAs per address");
    let threshold = hub.config().cookie_threshold;
    let filler = init_request(2, spoofed(0));
    spoofed_flood(&mut hub, &filler, u32::try_from(threshold).unwrap(), now);
    let before = hub.half_open();
    // One real host runs 200 complete cookie exchanges (a new SPI each).
    let host = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 99));
    for k in 0..200u16 {
        let seed = 30 + u8::try_from(k).unwrap();
        let mut a = Endpoint::new(config(seed, "attacker", "hub")).unwrap();
        let from = SocketAddr::new(host, 2000 + k);
        a.initiate(now, from, sock(HUB), None, None).unwrap();
        for _ in 0..2 {
            let Some(t) = a.poll_transmit() else { break };
            let _ = hub.handle_datagram(now, sock(HUB), from, &t.payload);
            while let Some(r) = hub.poll_transmit() {
                let _ = a.handle_datagram(now, r.remote(), r.local(), &r.payload);
            }
        }
        drain(&mut hub);
    }
    let from_host = hub.half_open() - before;
    println!("200 cookie exchanges from one address: {from_host} half-open SAs");
    assert_eq!(from_host, per_address);
    assert!(hub.counters().cac_rejected >= u64::try_from(200 - per_address).unwrap());
}

/// A stand-in for Curve25519 that costs next to nothing (public value: 32 random bytes; shared
/// secret: the XOR of the two public values), so that the table can grow to 20,000 SAs in a
/// debug build; the work this test counts is the endpoint's, not the group's.
#[derive(Debug)]
struct CheapGroup;

struct CheapExchange([u8; 32]);

impl KeyExchangeGroup for CheapGroup {
    fn group(&self) -> KeGroup {
        KeGroup::CURVE25519
    }

    fn public_len(&self) -> usize {
        32
    }

    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KeyExchange>, dmvpn_ikev2::Error> {
        let mut v = [0u8; 32];
        random.fill(&mut v)?;
        Ok(Box::new(CheapExchange(v)))
    }
}

impl KeyExchange for CheapExchange {
    fn group(&self) -> KeGroup {
        KeGroup::CURVE25519
    }

    fn public_value(&self) -> &[u8] {
        &self.0
    }

    fn complete(&self, peer: &[u8]) -> Result<Secret, dmvpn_ikev2::Error> {
        let x: Vec<u8> = self.0.iter().zip(peer).map(|(a, b)| a ^ b).collect();
        Ok(Secret::from_slice(&x))
    }
}

static CHEAP: &[&dyn KeyExchangeGroup] = &[&CheapGroup];

/// [`config`] with the cheap group as its only one.
fn cheap_config(seed: u8, me: &str, peer: &str) -> Config {
    let mut c = config(seed, me, peer)
        .with_ike_proposals(&["aes128-sha256-x25519"])
        .unwrap();
    c.provider.groups = CHEAP;
    c
}

/// Per-datagram work at one table size: SA-table entries visited and nanoseconds, per kind of
/// datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Work {
    garbage: u64,
    unknown_spi: u64,
    init_copy: u64,
    new_init: u64,
    timeout_nothing_due: u64,
}

/// Sends `n` datagrams of each kind and returns the SA-table entries visited per datagram,
/// printing the time per datagram.
fn per_datagram(hub: &mut Endpoint, req: &[u8], next: &mut u32, n: u32, now: Instant) -> Work {
    let sas = hub.ike_sa_count();
    let measure = |hub: &mut Endpoint, what: &str, f: &mut dyn FnMut(&mut Endpoint, u32)| {
        let v0 = hub.sa_table_visits();
        let t0 = Instant::now();
        for i in 0..n {
            f(hub, i);
        }
        let per = t0.elapsed() / n;
        let visits = hub.sa_table_visits() - v0;
        drain(hub);
        println!(
            "  {sas:>6} SAs: {what:<38} {per:>10.2?} per datagram, {visits} SA-table visits for {n}"
        );
        assert_eq!(
            visits % u64::from(n),
            0,
            "{what}: the same work for each datagram"
        );
        visits / u64::from(n)
    };
    let garbage = measure(hub, "40 bytes of garbage", &mut |hub, i| {
        let mut g = [0x5au8; 40];
        g[..4].copy_from_slice(&i.to_be_bytes());
        let _ = hub.handle_datagram(now, sock(HUB), spoofed(i), &g);
    });
    let unknown_spi = measure(hub, "IKE_AUTH for an unknown SPI", &mut |hub, i| {
        let mut m = with_spi(req, 0x7000_0000_0000_0000 | u64::from(i));
        m[8..16].copy_from_slice(&(0x6000_0000_0000_0000 | u64::from(i)).to_be_bytes());
        m[18] = ExchangeType::IKE_AUTH.0;
        m[20..24].copy_from_slice(&1u32.to_be_bytes());
        let _ = hub.handle_datagram(now, sock(HUB), spoofed(i), &m);
    });
    let init_copy = measure(hub, "copy of an answered IKE_SA_INIT", &mut |hub, i| {
        let k = i % *next;
        let spi = 0x5000_0000_0000_0000 | u64::from(k);
        let _ = hub.handle_datagram(now, sock(HUB), spoofed(k), &with_spi(req, spi));
    });
    let new_init = measure(hub, "new IKE_SA_INIT (a new SA)", &mut |hub, _| {
        let k = *next;
        *next += 1;
        let spi = 0x5000_0000_0000_0000 | u64::from(k);
        let _ = hub.handle_datagram(now, sock(HUB), spoofed(k), &with_spi(req, spi));
    });
    let timeout_nothing_due = measure(hub, "handle_timeout with nothing due", &mut |hub, _| {
        hub.handle_timeout(now);
        assert!(hub.poll_timeout().is_some_and(|t| t > now));
    });
    Work {
        garbage,
        unknown_spi,
        init_copy,
        new_init,
        timeout_nothing_due,
    }
}

#[test]
fn per_datagram_work_does_not_grow_with_the_number_of_sas() {
    let now = Instant::now();
    // Limits lifted so that the table can grow to 20,000 half-open SAs.
    let mut cfg = cheap_config(1, "hub", "spoke");
    cfg.cac = Cac::unlimited();
    cfg.cookie_threshold = usize::MAX;
    cfg.half_open_timeout = Duration::from_secs(3600);
    let mut hub = Endpoint::new(cfg).unwrap();
    let mut initiator = Endpoint::new(cheap_config(2, "attacker", "hub")).unwrap();
    initiator
        .initiate(now, spoofed(0), sock(HUB), None, None)
        .unwrap();
    let req = initiator.poll_transmit().unwrap().payload;
    let mut next = 0u32;
    let grow_to = |hub: &mut Endpoint, next: &mut u32, n: usize| {
        while hub.ike_sa_count() < n {
            let spi = 0x5000_0000_0000_0000 | u64::from(*next);
            hub.handle_datagram(now, sock(HUB), spoofed(*next), &with_spi(&req, spi))
                .unwrap();
            *next += 1;
            if (*next).is_multiple_of(1024) {
                drain(hub);
            }
        }
        drain(hub);
    };
    println!("work per datagram (SA-table visits are the guard; times are figures only):");
    grow_to(&mut hub, &mut next, 1_000);
    let small = per_datagram(&mut hub, &req, &mut next, 500, now);
    grow_to(&mut hub, &mut next, 20_000);
    let large = per_datagram(&mut hub, &req, &mut next, 500, now);
    println!("visits per datagram at 1k SAs {small:?}, at 20k SAs {large:?}");
    assert_eq!(
        small, large,
        "per-datagram work grew with the number of SAs"
    );
    // Receiving garbage or an unknown SPI looks at no SA; a copy of a request finds its SA
    // by index; a new SA is inserted and indexed once.
    assert_eq!((large.garbage, large.unknown_spi), (0, 0));
    assert!(large.init_copy <= 4, "{large:?}");
    assert!(large.new_init <= 4, "{large:?}");
    assert_eq!(large.timeout_nothing_due, 0);
}
