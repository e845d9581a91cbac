//! A hub at a million spokes (issue 17): registers 1,000,000 spokes on one server (new
//! registrations, then a round of refreshes) and reports heap bytes per spoke (a counting
//! allocator) and registrations per second, against a `HashMap<IpAddr, (IpAddr, Instant)>`
//! of the same million spokes in the same run. One pass each, timed with `Instant`: this is
//! a capacity check, not a criterion measurement (`cargo bench -p dmvpn-nhrp --bench
//! million`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::alloc::System;
use std::collections::HashMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::{Registrations, Row, handle, print_table, server, spoke};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SPOKES: u32 = 1_000_000;

fn net(r: &Region<'_, System>) -> i64 {
    let c = r.change();
    c.bytes_allocated as i64 - c.bytes_deallocated as i64
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then only check that
    // it runs, on fewer spokes.
    let spokes = if std::env::args().any(|a| a == "--bench") {
        SPOKES
    } else {
        10_000
    };
    let start = Instant::now();
    let regs = Registrations::new(spokes);
    let n = f64::from(spokes);

    let region = Region::new(GLOBAL);
    let allocs = region.change().allocations;
    let mut s = server(start, spokes as usize);
    let base = net(&region);
    // 1 µs apart (see the note in `machines`: the `max-send` window).
    let mut now = start;
    let t = Instant::now();
    for i in 0..regs.count() {
        let (from, bytes) = regs.get(i);
        now += Duration::from_micros(1);
        handle(&mut s, now, from, bytes);
    }
    let new_ns = t.elapsed().as_nanos() as f64 / n;
    let grown = net(&region) - base;
    let new_allocs = (region.change().allocations - allocs) as f64 / n;
    assert_eq!(s.cache().len(), spokes as usize);

    let allocs = region.change().allocations;
    let t = Instant::now();
    for i in 0..regs.count() {
        let (from, bytes) = regs.get(i);
        now += Duration::from_micros(1);
        handle(&mut s, now, from, bytes);
    }
    let refresh_ns = t.elapsed().as_nanos() as f64 / n;
    let refresh_allocs = (region.change().allocations - allocs) as f64 / n;
    assert_eq!(s.cache().len(), spokes as usize);

    let keys: Vec<(IpAddr, IpAddr)> = (0..spokes)
        .map(|k| {
            let s = spoke(k);
            (s.proto_addr.ip().unwrap(), s.nbma_addr.addr.ip().unwrap())
        })
        .collect();
    let map_region = Region::new(GLOBAL);
    let mut map: HashMap<IpAddr, (IpAddr, Instant)> = HashMap::new();
    let t = Instant::now();
    for &(p, a) in &keys {
        map.insert(p, (a, start));
    }
    let insert_ns = t.elapsed().as_nanos() as f64 / n;
    let map_grown = net(&map_region);
    let t = Instant::now();
    for &(p, a) in &keys {
        black_box(map.insert(p, (a, now)));
    }
    let reinsert_ns = t.elapsed().as_nanos() as f64 / n;

    print_table(
        &format!("NHRP hub at {spokes} spokes (one pass each)"),
        &[
            Row {
                what: "new registration (parse..reply, polled)",
                ns: new_ns,
                reference: "HashMap insert, new key",
                ref_ns: insert_ns,
            },
            Row {
                what: "registration refresh (parse..reply, polled)",
                ns: refresh_ns,
                reference: "HashMap insert, existing key",
                ref_ns: reinsert_ns,
            },
        ],
        (grown as f64 / n, map_grown as f64 / n),
    );
    println!(
        "allocations per new registration {new_allocs:.1}, per refresh {refresh_allocs:.1} \
         (the reply's payload, parse and events included)"
    );
}
