//! Complete IKE_SA_INIT + IKE_AUTH handshakes (with the first child SA), both peers in process,
//! against the bare key-exchange cost of the same handshake (two key pairs and two shared
//! secrets) measured in the same run with the same implementation (the provider's own
//! `start_key_exchange` / `complete`): the difference is the protocol overhead (messages,
//! proposals, key derivation, SK protection, AUTH).
//!
//! Also measured, for the record: the bare X25519 of `x25519-dalek` (what the provider uses)
//! and of `ring` (`ring::agreement`, a dev-dependency only: the provider does not offer it, see
//! the `crypto` module documentation).
//!
//! After the run it prints the ratio table twice: from criterion's medians, and from a paired
//! run (handshakes and key exchanges timed alternately in small batches, the fastest batch of
//! each kept), which a shared, loaded machine disturbs much less than two separate criterion
//! measurements taken seconds apart.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion};
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_esp::crypto::SecureRandom;
use dmvpn_ikev2::auth::{Psk, PskTable};
use dmvpn_ikev2::crypto::{IkeCryptoProvider, KeyExchange, KeyExchangeGroup};
use dmvpn_ikev2::transform::KeGroup;
use dmvpn_ikev2::wire::Identity;
use dmvpn_ikev2::{Config, Endpoint, Error, Event, Secret};

const GROUP: &str = "ike_handshake";

/// Name, IKE proposal, ESP proposal, key exchange group.
const SUITES: [(&str, &str, &str, KeGroup); 2] = [
    (
        "x25519",
        "aes256gcm16-prfsha256-x25519",
        "aes256gcm16",
        KeGroup::CURVE25519,
    ),
    (
        "modp2048",
        "aes128-sha256-modp2048",
        "aes128-sha256",
        KeGroup::MODP_2048,
    ),
];

/// A stand-in for group 31 that does no arithmetic (its public value is 32 random bytes, the
/// shared secret the XOR of both): a handshake with it costs the protocol work alone.
#[derive(Debug)]
struct NullX25519;

struct NullExchange([u8; 32]);

impl KeyExchangeGroup for NullX25519 {
    fn group(&self) -> KeGroup {
        KeGroup::CURVE25519
    }
    fn public_len(&self) -> usize {
        32
    }
    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KeyExchange>, Error> {
        let mut p = [0u8; 32];
        random.fill(&mut p)?;
        Ok(Box::new(NullExchange(p)))
    }
}

impl KeyExchange for NullExchange {
    fn group(&self) -> KeGroup {
        KeGroup::CURVE25519
    }
    fn public_value(&self) -> &[u8] {
        &self.0
    }
    fn complete(&self, peer: &[u8]) -> Result<Secret, Error> {
        let mut s = self.0;
        for (a, b) in s.iter_mut().zip(peer) {
            *a ^= b;
        }
        Ok(Secret::from_slice(&s))
    }
}

static NULL_GROUPS: &[&dyn KeyExchangeGroup] = &[&NullX25519];

fn endpoint(seed: u8, me: &str, peer: &str, ike: &str, esp: &str) -> Endpoint {
    endpoint_with(seed, me, peer, ike, esp, false)
}

fn endpoint_with(seed: u8, me: &str, peer: &str, ike: &str, esp: &str, null: bool) -> Endpoint {
    let mut psks = PskTable::new();
    psks.insert(Identity::fqdn(peer), Psk::from("bench"));
    let mut provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])));
    if null {
        provider.groups = NULL_GROUPS;
    }
    let cfg = Config::new(provider, Identity::fqdn(me), psks)
        .with_ike_proposals(&[ike])
        .unwrap()
        .with_esp_proposals(&[esp])
        .unwrap();
    Endpoint::new(cfg).unwrap()
}

fn pair(ike: &str, esp: &str) -> (Endpoint, Endpoint) {
    (
        endpoint(1, "spoke", "hub", ike, esp),
        endpoint(2, "hub", "spoke", ike, esp),
    )
}

/// Two endpoints whose group 31 is [`NullX25519`].
fn null_pair() -> (Endpoint, Endpoint) {
    let (ike, esp) = (SUITES[0].1, SUITES[0].2);
    (
        endpoint_with(1, "spoke", "hub", ike, esp, true),
        endpoint_with(2, "hub", "spoke", ike, esp, true),
    )
}

fn handshake(mut i: Endpoint, mut r: Endpoint) -> usize {
    let now = Instant::now();
    let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
    let b: SocketAddr = "192.0.2.2:500".parse().unwrap();
    i.initiate(now, a, b, Some(Identity::fqdn("hub")), None)
        .unwrap();
    loop {
        let mut moved = false;
        while let Some(t) = i.poll_transmit() {
            r.handle_datagram(now, t.remote(), t.local(), &t.payload)
                .unwrap();
            moved = true;
        }
        while let Some(t) = r.poll_transmit() {
            i.handle_datagram(now, t.remote(), t.local(), &t.payload)
                .unwrap();
            moved = true;
        }
        if !moved {
            break;
        }
    }
    let up = std::iter::from_fn(|| i.poll_event())
        .filter(|e| matches!(e, Event::ChildUp { .. }))
        .count();
    assert_eq!(up, 1);
    up
}

/// The same handshake's key-exchange work with the provider's implementation: two key pairs,
/// two shared secrets.
fn key_exchange_x2(p: &IkeCryptoProvider, group: KeGroup) {
    let x = p.start_key_exchange(group).unwrap();
    let y = p.start_key_exchange(group).unwrap();
    let s1 = x.complete(y.public_value()).unwrap();
    let s2 = y.complete(x.public_value()).unwrap();
    black_box((s1, s2));
}

fn provider() -> IkeCryptoProvider {
    IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([9; 32])))
}

fn handshakes(c: &mut Criterion) {
    let p = provider();
    let mut g = c.benchmark_group(GROUP);
    for (name, ike, esp, group) in SUITES {
        g.bench_function(BenchmarkId::new(name, "handshake"), |bch| {
            bch.iter_batched(
                || pair(ike, esp),
                |(i, r)| black_box(handshake(i, r)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(BenchmarkId::new(name, "key_exchange_x2"), |bch| {
            bch.iter(|| key_exchange_x2(&p, group))
        });
    }
    // The x25519 handshake's protocol work alone, measured directly.
    g.bench_function(BenchmarkId::new("x25519", "protocol_only"), |bch| {
        bch.iter_batched(
            null_pair,
            |(i, r)| black_box(handshake(i, r)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Bare X25519, two key pairs and two shared secrets, with each library directly.
fn bare_x25519(c: &mut Criterion) {
    let mut g = c.benchmark_group(GROUP);
    let mut seed = [7u8; 32];
    g.bench_function(BenchmarkId::new("x25519", "dalek_bare_x2"), |bch| {
        bch.iter(|| {
            seed[0] = seed[0].wrapping_add(1);
            let a = x25519_dalek::StaticSecret::from(seed);
            let b = x25519_dalek::StaticSecret::from([seed[0]; 32]);
            let pa = x25519_dalek::PublicKey::from(&a);
            let pb = x25519_dalek::PublicKey::from(&b);
            black_box((a.diffie_hellman(&pb), b.diffie_hellman(&pa)))
        })
    });
    let rng = ring::rand::SystemRandom::new();
    g.bench_function(BenchmarkId::new("x25519", "ring_bare_x2"), |bch| {
        use ring::agreement::{EphemeralPrivateKey, UnparsedPublicKey, X25519, agree_ephemeral};
        bch.iter(|| {
            let a = EphemeralPrivateKey::generate(&X25519, &rng).unwrap();
            let b = EphemeralPrivateKey::generate(&X25519, &rng).unwrap();
            let pa = a.compute_public_key().unwrap();
            let pb = b.compute_public_key().unwrap();
            let s1 = agree_ephemeral(a, &UnparsedPublicKey::new(&X25519, pb.as_ref()), |k| {
                k.to_vec()
            });
            let s2 = agree_ephemeral(b, &UnparsedPublicKey::new(&X25519, pa.as_ref()), |k| {
                k.to_vec()
            });
            black_box((s1.unwrap(), s2.unwrap()))
        })
    });
    g.finish();
}

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("criterion")
}

/// Median time in µs of one benchmark of this run, from criterion's estimates.
fn median_us(name: &str, func: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(GROUP)
        .join(name)
        .join(func)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("median")?
        .get("point_estimate")?
        .as_f64()
        .map(|ns| ns / 1e3)
}

/// Handshakes, key exchanges and (for x25519) handshakes with [`NullX25519`] timed alternately
/// in batches of `batch`, `rounds` times; the fastest batch of each, in µs per handshake / per
/// key exchange / per protocol-only handshake.
fn paired(
    ike: &str,
    esp: &str,
    group: KeGroup,
    batch: u32,
    rounds: u32,
) -> (f64, f64, Option<f64>) {
    let p = provider();
    let null = group == KeGroup::CURVE25519;
    let (mut hs, mut kx, mut po) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let pairs: Vec<_> = (0..batch).map(|_| pair(ike, esp)).collect();
        let t = Instant::now();
        for (i, r) in pairs {
            black_box(handshake(i, r));
        }
        hs = hs.min(t.elapsed());
        let t = Instant::now();
        for _ in 0..batch {
            key_exchange_x2(&p, group);
        }
        kx = kx.min(t.elapsed());
        if null {
            let pairs: Vec<_> = (0..batch).map(|_| null_pair()).collect();
            let t = Instant::now();
            for (i, r) in pairs {
                black_box(handshake(i, r));
            }
            po = po.min(t.elapsed());
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(batch);
    (per(hs), per(kx), null.then(|| per(po)))
}

/// One row: handshake, key exchange, their difference and ratio, and where measured the
/// protocol-only handshake and the ratio it gives (key exchange + protocol) / key exchange.
fn row(name: &str, hs: f64, kx: f64, protocol: Option<f64>) {
    let direct = protocol.map_or_else(
        || format!("{:>12} {:>7}", "-", "-"),
        |po| format!("{po:>12.1} {:>7.3}", (kx + po) / kx),
    );
    println!(
        "{name:<10} {hs:>12.1} {kx:>16.1} {:>12.1} {:>7.3}   {direct}",
        hs - kx,
        hs / kx
    );
}

fn header(title: &str) {
    println!("\n{title}");
    println!(
        "{:<10} {:>12} {:>16} {:>12} {:>7}   {:>12} {:>7}",
        "suite", "handshake µs", "key exchange µs", "difference", "ratio", "protocol µs", "ratio'"
    );
}

fn report(paired_runs: bool) {
    header(
        "IKE handshake vs its bare key exchange, same provider (criterion medians; ratio = handshake / key exchange, goal <= 1.15 for x25519; protocol µs = the handshake with a no-op group 31, ratio' = (key exchange + protocol) / key exchange)",
    );
    for (name, ..) in SUITES {
        if let (Some(hs), Some(kx)) = (
            median_us(name, "handshake"),
            median_us(name, "key_exchange_x2"),
        ) {
            let po = (name == "x25519")
                .then(|| median_us(name, "protocol_only"))
                .flatten();
            row(name, hs, kx, po);
        }
    }
    if let (Some(d), Some(r)) = (
        median_us("x25519", "dalek_bare_x2"),
        median_us("x25519", "ring_bare_x2"),
    ) {
        println!(
            "bare X25519 x2 (two key pairs, two shared secrets): x25519-dalek {d:.1} µs (the provider's), ring {r:.1} µs (ring / dalek = {:.3})",
            r / d
        );
    }
    if paired_runs {
        header("The same, paired (alternate batches, fastest batch of each)");
        for (name, ike, esp, group) in SUITES {
            let (batch, rounds) = if group == KeGroup::CURVE25519 {
                (8, 150)
            } else {
                (1, 60)
            };
            let (hs, kx, po) = paired(ike, esp, group, batch, rounds);
            row(name, hs, kx, po);
        }
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .output_directory(&criterion_dir())
        .configure_from_args();
    handshakes(&mut c);
    bare_x25519(&mut c);
    c.final_summary();
    // `cargo test --benches` runs each benchmark once in test mode: no table then.
    let testing = std::env::args().any(|a| a == "--test" || a == "--list");
    let profiling = std::env::args().any(|a| a == "--profile-time");
    if !testing && !profiling {
        report(true);
    }
}
