//! Protected forwarding on N threads against 1: the data path sharded the way the caller can
//! shard it today (see "Multi-core" in the crate docs and ARCHITECTURE.md): one shard per
//! thread, each its own `Node`s with their own peers and SAs, sharing nothing.
//!
//! Each shard is the example's hub and spokes A and B with their direct SA up (`esp-gcm 256`:
//! AES-256-GCM, RustCrypto); a thread moves packets of `--size` bytes (default 1400) from A to
//! B over and over: A's `handle_input(Overlay)` + `poll_output` (route, NHRP mapping, GRE, ESP
//! in place, the transmit), then B's `handle_input(Esp)` + `poll_output` (SA lookup,
//! anti-replay, decryption in place, GRE, the delivery), buffers given back. The run starts
//! all threads together behind a barrier and counts packets for `--secs` seconds (default 3);
//! it does 1 thread, then N (`--threads`, default 2), `--rounds` times (default 3), and prints
//! the aggregate packets/s of each, the median, and the ratio N-thread / 1-thread (goal ≥ 1.8
//! on 2 idle cores), with the load average at the start (the machine may be shared).
//!
//! Run: `cargo bench -p dmvpn-core --bench multicore` (options after `--`:
//! `-- --secs 3 --threads 2 --size 1400 --rounds 3`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::IpAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use dmvpn_core::sim::example::Example;
use dmvpn_core::sim::icmp;
use dmvpn_core::wired::{Wired, input_of};
use dmvpn_core::{Input, Node, Output};

/// One shard: spokes A and B (and their hub) with their direct SA up; `seed` makes each
/// shard's keys its own.
fn shard(seed: u64) -> (Wired, Instant) {
    let ex = Example::new(2).protected();
    let mut now = Instant::now();
    let mut w = Wired::example(
        now,
        &ex,
        |c| {
            c.crypto.transform_sets[0].transforms = "esp-gcm 256".into();
            // Gigabytes through one SA: no kilobyte rekey in the middle.
            c.crypto.ipsec_profiles[0].lifetime_kilobytes = Some(4_294_967_295);
        },
        seed,
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

/// One packet A → B over the direct SA, through both nodes' data paths.
fn one(a: &mut Node, b: &mut Node, now: Instant, p: &[u8], b_nbma: IpAddr) {
    a.handle_input(Input::Overlay { now, packet: p }).unwrap();
    loop {
        match a.poll_output() {
            Output::Transmit(t) if t.dst == b_nbma => {
                b.handle_input(input_of(now, &t)).unwrap();
                a.recycle(t.payload);
                break;
            }
            Output::Transmit(t) => a.recycle(t.payload),
            Output::Timeout(_) => panic!("no transmit to B"),
            _ => {}
        }
    }
    loop {
        match b.poll_output() {
            Output::Deliver(d) => break b.recycle(d.into_buffer()),
            Output::Transmit(x) => b.recycle(x.payload),
            Output::Timeout(_) => panic!("no delivery"),
            Output::Event(_) => {}
        }
    }
}

/// Aggregate packets/s of `threads` shards on as many threads for `secs`.
fn run(threads: usize, secs: f64, size: usize, round: u64) -> f64 {
    let ex = Example::new(2);
    let b_nbma: IpAddr = ex.spoke_nbma(2).into();
    let p = icmp::echo_request(ex.lan_host(1, 25), ex.lan_host(2, 37), 1, 1, size - 28).unwrap();
    let shards: Vec<(Wired, Instant)> = (0..threads)
        .map(|i| shard(1000 * round + i as u64))
        .collect();
    let barrier = Barrier::new(threads);
    let span = Duration::from_secs_f64(secs);
    let counts: Vec<(u64, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = shards
            .into_iter()
            .map(|(mut w, now)| {
                let (barrier, p) = (&barrier, &p);
                s.spawn(move || {
                    let (a, rest) = w.nodes.split_at_mut(2);
                    let (a, b) = (&mut a[1], &mut rest[0]);
                    // Warm-up: pools filled, tables touched.
                    for _ in 0..1000 {
                        one(a, b, now, p, b_nbma);
                    }
                    barrier.wait();
                    let start = Instant::now();
                    let mut n = 0u64;
                    loop {
                        for _ in 0..256 {
                            one(a, b, now, p, b_nbma);
                        }
                        n += 256;
                        let el = start.elapsed();
                        if el >= span {
                            break (n, el);
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    counts
        .iter()
        .map(|(n, el)| *n as f64 / el.as_secs_f64())
        .sum()
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; criterion-style filters are ignored.
    let secs: f64 = arg(&args, "--secs", 3.0);
    let threads: usize = arg(&args, "--threads", 2);
    let size: usize = arg(&args, "--size", 1400);
    let rounds: u64 = arg(&args, "--rounds", 3);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "protected forwarding A -> B, {size} B, AES-256-GCM; {threads} shards vs 1; \
         load average at start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:>5}  {:>14} {:>14} {:>6}",
        "round",
        "1 thread pkt/s",
        format!("{threads} threads pkt/s"),
        "ratio"
    );
    let (mut ones, mut ns) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let one = run(1, secs, size, r);
        let n = run(threads, secs, size, r);
        println!("{r:>5}  {one:>14.0} {n:>14.0} {:>6.2}", n / one);
        ones.push(one);
        ns.push(n);
    }
    let (one, n) = (median(&mut ones), median(&mut ns));
    println!(
        "median {one:>14.0} {n:>14.0} {:>6.2}   ({:.0} vs {:.0} MB/s of overlay packets)",
        n / one,
        one * size as f64 / 1e6,
        n * size as f64 / 1e6
    );
}
