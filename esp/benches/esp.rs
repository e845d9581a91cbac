//! ESP data-path benchmark.
//!
//! For each backend and suite, at 64 and 1400 bytes of payload:
//! - `raw_seal` / `raw_open`: the bare primitive on the same payload (AEAD seal / copy + open;
//!   CBC encrypt + HMAC / HMAC verify + copy + CBC decrypt; NULL: HMAC only), payload rounded
//!   up to the 16-byte block for CBC;
//! - `encapsulate` / `decapsulate`: the full ESP data path (header, IV, padding, trailer,
//!   sequence number, anti-replay check and update, lifetimes, counters);
//! - `encapsulate_in_place` / `decapsulate_in_place`: the same data path on the payload where
//!   it lies (no copy of the payload, header and IV into headroom, trailer into spare capacity);
//! - `boringtun`: WireGuard's `Tunn::encapsulate` / `Tunn::decapsulate` on the same payloads.
//!
//! After the run it prints each ESP figure as a ratio to the raw primitive of the same backend
//! (goal: ≥ 0.9 at 1400 B, ≥ 0.75 at 64 B), then the in-place figures the same way, and the
//! boringtun figures alongside.
//! Run: `cargo bench -p dmvpn-esp [--features ring] -- --warm-up-time 1 --measurement-time 2`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use dmvpn_esp::crypto::{ChaChaRandom, CryptoProvider, all_providers};
use dmvpn_esp::{EncryptionAlgorithm, InboundSa, OutboundSa, SaConfig, SaKeys, Suite};
use dmvpn_wire::{IpProtocol, ipv4};

const SIZES: [usize; 2] = [64, 1400];
const SUITES: [&str; 6] = [
    "aes128gcm16",
    "aes256gcm16",
    "aes128-sha256",
    "aes256-sha256",
    "aes256-sha512",
    "null-sha256",
];

/// An IPv4 packet of `size` bytes from 10.0.0.1 to 10.0.0.2 (boringtun routes on it).
fn ipv4_payload(size: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..size).map(|i| i as u8).collect();
    ipv4::Repr::new(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        IpProtocol(253),
        size - ipv4::MIN_HEADER_LEN,
    )
    .emit(&mut ipv4::Packet::new_unchecked(&mut p[..]))
    .unwrap();
    p
}

fn group_name(provider: &CryptoProvider, suite: &str) -> String {
    format!("{}-{suite}", provider.name)
}

fn bench_suite(c: &mut Criterion, provider: &CryptoProvider, name: &str) {
    let now = Instant::now();
    let suite = Suite::parse(name).unwrap();
    let ek = vec![0x42u8; suite.encryption.keymat_len()];
    let ik = vec![0x24u8; suite.integrity.key_len()];
    let mut cfg = SaConfig::new(0x1234_5678, suite, SaKeys::new(&ek, &ik), provider.clone());
    cfg.replay_window = 1024;
    let mut group = c.benchmark_group(group_name(provider, name));
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let payload = ipv4_payload(size);
        let mut tx = OutboundSa::new(&cfg, now).unwrap();
        let mut rx = InboundSa::new(&cfg, now).unwrap();
        let mut wire = vec![0u8; 2048];
        let mut out = vec![0u8; 2048];
        let nonce = [7u8; 12];
        let aad = [1u8; 8];
        let iv = [9u8; 16];
        let mut tag = [0u8; 16];

        match suite.encryption {
            EncryptionAlgorithm::AesGcm128 | EncryptionAlgorithm::AesGcm256 => {
                let key = provider
                    .aead(suite.encryption)
                    .unwrap()
                    .new_key(&ek[..ek.len() - 4])
                    .unwrap();
                let mut buf = payload.clone();
                group.bench_function(BenchmarkId::new("raw_seal", size), |b| {
                    b.iter(|| {
                        key.seal(&nonce, &aad, black_box(&mut buf), &mut tag)
                            .unwrap()
                    })
                });
                let mut ct = payload.clone();
                let mut ct_tag = [0u8; 16];
                key.seal(&nonce, &aad, &mut ct, &mut ct_tag).unwrap();
                group.bench_function(BenchmarkId::new("raw_open", size), |b| {
                    b.iter(|| {
                        buf.copy_from_slice(black_box(&ct));
                        key.open(&nonce, &aad, &mut buf, &ct_tag).unwrap()
                    })
                });
            }
            enc => {
                let mac = provider
                    .hmac(suite.integrity)
                    .unwrap()
                    .new_key(&ik)
                    .unwrap();
                let icv_len = suite.integrity.icv_len();
                let mut icv = vec![0u8; icv_len];
                let cipher = (enc != EncryptionAlgorithm::Null)
                    .then(|| provider.cipher(enc).unwrap().new_key(&ek).unwrap());
                let padded = size.div_ceil(16) * 16;
                let mut buf = payload.clone();
                buf.resize(padded, 0);
                group.bench_function(BenchmarkId::new("raw_seal", size), |b| {
                    b.iter(|| {
                        if let Some(k) = &cipher {
                            k.encrypt(&iv, black_box(&mut buf)).unwrap();
                        }
                        mac.sign(&[&buf], &mut icv).unwrap();
                    })
                });
                let ct = buf.clone();
                mac.sign(&[&ct], &mut icv).unwrap();
                group.bench_function(BenchmarkId::new("raw_open", size), |b| {
                    b.iter(|| {
                        mac.verify(&[black_box(&ct)], &icv).unwrap();
                        buf.copy_from_slice(&ct);
                        if let Some(k) = &cipher {
                            k.decrypt(&iv, &mut buf).unwrap();
                        }
                    })
                });
            }
        }

        group.bench_function(BenchmarkId::new("encapsulate", size), |b| {
            b.iter(|| {
                tx.encapsulate(now, 47, black_box(&payload), &mut wire)
                    .unwrap()
                    .len()
            })
        });
        let mut tx_ip = OutboundSa::new(&cfg, now).unwrap();
        let start = tx_ip.header_len();
        let mut buf = Vec::with_capacity(start + size + tx_ip.max_trailer_len());
        buf.resize(start, 0);
        buf.extend_from_slice(&payload);
        group.bench_function(BenchmarkId::new("encapsulate_in_place", size), |b| {
            b.iter(|| {
                // The previous iteration's ciphertext stands for the next payload: same cost.
                buf.truncate(start + size);
                tx_ip
                    .encapsulate_in_place(now, 47, black_box(&mut buf), start)
                    .unwrap()
            })
        });
        let mut src = OutboundSa::new(&cfg, now).unwrap();
        let mut rx_ip = InboundSa::new(&cfg, now).unwrap();
        group.bench_function(BenchmarkId::new("decapsulate_in_place", size), |b| {
            b.iter_batched_ref(
                || {
                    src.encapsulate(now, 47, &payload, &mut wire)
                        .unwrap()
                        .to_vec()
                },
                |pkt| {
                    rx_ip
                        .decapsulate_in_place(now, black_box(pkt))
                        .unwrap()
                        .payload
                        .len()
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(BenchmarkId::new("decapsulate", size), |b| {
            b.iter_batched_ref(
                || {
                    src.encapsulate(now, 47, &payload, &mut wire)
                        .unwrap()
                        .to_vec()
                },
                |pkt| {
                    rx.decapsulate(now, black_box(pkt), &mut out)
                        .unwrap()
                        .payload
                        .len()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn boringtun_pair() -> (Tunn, Tunn) {
    let sk_a = StaticSecret::from([1u8; 32]);
    let sk_b = StaticSecret::from([2u8; 32]);
    let (pk_a, pk_b) = (PublicKey::from(&sk_a), PublicKey::from(&sk_b));
    let mut a = Tunn::new(sk_a, pk_b, None, None, 1, None);
    let mut b = Tunn::new(sk_b, pk_a, None, None, 2, None);
    let mut buf = vec![0u8; 2048];
    let mut buf2 = vec![0u8; 2048];
    let init = match a.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        _ => panic!("no handshake initiation"),
    };
    let resp = match b.decapsulate(None, &init, &mut buf2) {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        _ => panic!("no handshake response"),
    };
    if let TunnResult::WriteToNetwork(keepalive) = a.decapsulate(None, &resp, &mut buf) {
        let keepalive = keepalive.to_vec();
        let _ = b.decapsulate(None, &keepalive, &mut buf2);
    }
    (a, b)
}

fn bench_boringtun(c: &mut Criterion) {
    let mut group = c.benchmark_group("boringtun");
    let (mut a, mut b) = boringtun_pair();
    let mut dst = vec![0u8; 2048];
    let mut dst2 = vec![0u8; 2048];
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let payload = ipv4_payload(size);
        group.bench_function(BenchmarkId::new("encapsulate", size), |bench| {
            bench.iter(|| match a.encapsulate(black_box(&payload), &mut dst) {
                TunnResult::WriteToNetwork(p) => p.len(),
                _ => panic!("boringtun encapsulate failed"),
            })
        });
        group.bench_function(BenchmarkId::new("decapsulate", size), |bench| {
            bench.iter_batched_ref(
                || match a.encapsulate(&payload, &mut dst2) {
                    TunnResult::WriteToNetwork(p) => p.to_vec(),
                    _ => panic!("boringtun encapsulate failed"),
                },
                |pkt| match b.decapsulate(None, black_box(pkt), &mut dst) {
                    TunnResult::WriteToTunnelV4(p, _) => p.len(),
                    _ => panic!("boringtun decapsulate failed"),
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("criterion")
}

/// Median time in ns of one benchmark of this run, from criterion's estimates.
fn median_ns(group: &str, func: &str, size: usize) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(func)
        .join(size.to_string())
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn mbs(size: usize, ns: f64) -> f64 {
    size as f64 / ns * 1e3
}

/// One table: the ESP functions `encap` / `decap` against the raw primitives, per backend,
/// suite and size.
fn table(providers: &[CryptoProvider], title: &str, encap: &str, decap: &str) {
    println!("\n{title}");
    println!(
        "{:<26} {:>5}  {:>10} {:>10} {:>6}   {:>10} {:>10} {:>6}",
        "backend-suite",
        "bytes",
        "seal MB/s",
        "encap MB/s",
        "ratio",
        "open MB/s",
        "decap MB/s",
        "ratio"
    );
    for p in providers {
        for s in SUITES {
            let g = group_name(p, s);
            for size in SIZES {
                let get = |f| median_ns(&g, f, size);
                if let (Some(rs), Some(en), Some(ro), Some(de)) =
                    (get("raw_seal"), get(encap), get("raw_open"), get(decap))
                {
                    println!(
                        "{g:<26} {size:>5}  {:>10.0} {:>10.0} {:>6.2}   {:>10.0} {:>10.0} {:>6.2}",
                        mbs(size, rs),
                        mbs(size, en),
                        rs / en,
                        mbs(size, ro),
                        mbs(size, de),
                        ro / de
                    );
                }
            }
        }
    }
}

fn report(providers: &[CryptoProvider]) {
    table(
        providers,
        "ESP data path vs the raw primitive of the same backend (median; ratio = raw / ESP time)",
        "encapsulate",
        "decapsulate",
    );
    table(
        providers,
        "The same in place (ratio = raw / in-place ESP time)",
        "encapsulate_in_place",
        "decapsulate_in_place",
    );
    for size in SIZES {
        if let (Some(en), Some(de)) = (
            median_ns("boringtun", "encapsulate", size),
            median_ns("boringtun", "decapsulate", size),
        ) {
            println!(
                "{:<26} {size:>5}  {:>10} {:>10.0} {:>6}   {:>10} {:>10.0}",
                "boringtun (ChaCha20-Poly1305)",
                "",
                mbs(size, en),
                "",
                "",
                mbs(size, de)
            );
        }
    }
}

fn main() {
    let providers = all_providers(Arc::new(ChaChaRandom::from_os().unwrap()));
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .configure_from_args();
    for p in &providers {
        for s in SUITES {
            bench_suite(&mut c, p, s);
        }
    }
    bench_boringtun(&mut c);
    c.final_summary();
    report(&providers);
}
