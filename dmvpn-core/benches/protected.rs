//! The protected node's data path against the raw AEAD it is built on.
//!
//! Spoke A sends overlay packets of 64 and 1400 bytes to spoke B over their direct SA
//! (`esp-gcm 256`: AES-256-GCM, RustCrypto backend), and B receives them:
//! - `node_send`: `Node::handle_input(Overlay)` + `poll_output` (route, NHRP mapping, GRE
//!   header, ESP in place, the transmit) with the buffer given back;
//! - `node_receive`: `Node::handle_input(Esp)` + `poll_output` (SA lookup, anti-replay,
//!   decryption in place, GRE, the delivery) with the buffer given back; each packet a fresh
//!   one from A (made outside the measurement, as anti-replay refuses repeats);
//! - `raw_seal` / `raw_open`: the same backend's AES-256-GCM sealing and opening (copy +
//!   open) of a buffer of the ESP payload's size (the overlay packet plus the GRE header).
//!
//! After the run it prints the node figures as ratios to the raw AEAD (goal: ≥ 0.8 at 1400 B).
//! Run: `cargo bench -p dmvpn-core --bench protected -- --warm-up-time 1 --measurement-time 3`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use dmvpn_core::sim::example::Example;
use dmvpn_core::sim::icmp;
use dmvpn_core::wired::{Wired, input_of};
use dmvpn_core::{Input, Node, Output, Transmit};
use dmvpn_esp::EncryptionAlgorithm;
use dmvpn_esp::crypto::{ChaChaRandom, all_providers};

const SIZES: [usize; 2] = [64, 1400];
/// GRE header with a key (the example's `tunnel key`).
const GRE_LEN: usize = 8;
const GROUP: &str = "protected-node-aes256gcm";

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("criterion")
}

fn median_ns(func: &str, size: usize) -> Option<f64> {
    let path = criterion_dir()
        .join(GROUP)
        .join(func)
        .join(size.to_string())
        .join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// Spokes A and B with their direct SA up (`esp-gcm 256`).
fn network() -> (Wired, Instant) {
    let ex = Example::new(2).protected();
    let mut now = Instant::now();
    let mut w = Wired::example(
        now,
        &ex,
        |c| {
            c.crypto.transform_sets[0].transforms = "esp-gcm 256".into();
            // The run pushes gigabytes through one SA: no kilobyte rekey in the middle.
            c.crypto.ipsec_profiles[0].lifetime_kilobytes = Some(4_294_967_295);
        },
        3,
    )
    .unwrap();
    w.settle(now);
    let ping = icmp::echo_request(ex.lan_host(1, 25), ex.lan_host(2, 37), 1, 1, 56).unwrap();
    for _ in 0..20 {
        now += Duration::from_millis(50);
        w.nodes[1]
            .handle_input(Input::Overlay { now, packet: &ping })
            .unwrap();
        w.settle(now);
    }
    let b: IpAddr = ex.spoke_nbma(2).into();
    assert!(w.nodes[1].child_sas(0).iter().any(|(p, _, _)| *p == b));
    (w, now)
}

/// An echo request of `size` bytes in all from A's LAN to B's.
fn packet(size: usize) -> Vec<u8> {
    let ex = Example::new(2);
    icmp::echo_request(ex.lan_host(1, 25), ex.lan_host(2, 37), 1, 1, size - 28).unwrap()
}

/// A's ESP transmit of `p` to B (anything else A had to send, NHRP to the hub say, is dropped:
/// the measurement is of the data packet).
fn send(a: &mut Node, now: Instant, p: &[u8], b: IpAddr) -> Transmit {
    a.handle_input(Input::Overlay { now, packet: p }).unwrap();
    loop {
        match a.poll_output() {
            Output::Transmit(t) if t.dst == b => return t,
            Output::Transmit(t) => a.recycle(t.payload),
            Output::Timeout(_) => panic!("no transmit to B"),
            _ => {}
        }
    }
}

fn main() {
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .configure_from_args();
    // RustCrypto, the backend the node uses (`all_providers` lists it first).
    let provider = all_providers(Arc::new(ChaChaRandom::from_seed([5; 32])))
        .into_iter()
        .next()
        .unwrap();
    let key = provider
        .aead(EncryptionAlgorithm::AesGcm256)
        .unwrap()
        .new_key(&[0x42; 32])
        .unwrap();
    let (mut w, now) = network();
    let b_nbma: IpAddr = Example::new(2).spoke_nbma(2).into();
    let mut group = c.benchmark_group(GROUP);
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let p = packet(size);
        group.bench_function(BenchmarkId::new("node_send", size), |b| {
            b.iter(|| {
                let t = send(&mut w.nodes[1], now, black_box(&p), b_nbma);
                w.nodes[1].recycle(t.payload);
            })
        });
        // The receive side, packets made by A outside the measurement.
        let (a, rest) = w.nodes.split_at_mut(2);
        let (spoke_a, spoke_b) = (&mut a[1], &mut rest[0]);
        group.bench_function(BenchmarkId::new("node_receive", size), |b| {
            b.iter_batched(
                || send(spoke_a, now, &p, b_nbma),
                |t| {
                    spoke_b.handle_input(input_of(now, black_box(&t))).unwrap();
                    // The delivery (an IKE message B still had queued is dropped).
                    loop {
                        match spoke_b.poll_output() {
                            Output::Deliver(d) => break spoke_b.recycle(d.into_buffer()),
                            Output::Transmit(x) => spoke_b.recycle(x.payload),
                            Output::Timeout(_) => panic!("no delivery"),
                            Output::Event(_) => {}
                        }
                    }
                    t
                },
                BatchSize::SmallInput,
            )
        });
        let nonce = [7u8; 12];
        let aad = [1u8; 8];
        let mut tag = [0u8; 16];
        let mut buf = vec![0x5au8; size + GRE_LEN];
        group.bench_function(BenchmarkId::new("raw_seal", size), |b| {
            b.iter(|| {
                key.seal(&nonce, &aad, black_box(&mut buf), &mut tag)
                    .unwrap()
            })
        });
        let mut ct = vec![0x5au8; size + GRE_LEN];
        let mut ct_tag = [0u8; 16];
        key.seal(&nonce, &aad, &mut ct, &mut ct_tag).unwrap();
        group.bench_function(BenchmarkId::new("raw_open", size), |b| {
            b.iter(|| {
                buf.copy_from_slice(black_box(&ct));
                key.open(&nonce, &aad, &mut buf, &ct_tag).unwrap()
            })
        });
    }
    group.finish();
    c.final_summary();
    println!(
        "\nProtected node vs raw AES-256-GCM of the same backend (median; ratio = raw / node time)"
    );
    println!(
        "{:>5}  {:>10} {:>10} {:>6}   {:>10} {:>10} {:>6}",
        "bytes", "seal MB/s", "send MB/s", "ratio", "open MB/s", "recv MB/s", "ratio"
    );
    let mbs = |size: usize, ns: f64| size as f64 / ns * 1e3;
    for size in SIZES {
        if let (Some(rs), Some(se), Some(ro), Some(re)) = (
            median_ns("raw_seal", size),
            median_ns("node_send", size),
            median_ns("raw_open", size),
            median_ns("node_receive", size),
        ) {
            println!(
                "{size:>5}  {:>10.0} {:>10.0} {:>6.2}   {:>10.0} {:>10.0} {:>6.2}",
                mbs(size, rs),
                mbs(size, se),
                rs / se,
                mbs(size, ro),
                mbs(size, re),
                ro / re
            );
        }
    }
}
