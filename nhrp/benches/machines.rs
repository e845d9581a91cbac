//! One NHS holding 100,000 registered spokes: registrations/s (refreshes) and resolution
//! replies/s, against a plain `HashMap` insert/lookup of the same keys in the same run; and
//! heap bytes per registered spoke (a counting allocator), against the bytes per entry of a
//! `HashMap<IpAddr, (IpAddr, Instant)>` of the same spokes. Prints its table first, then
//! criterion's measurements of the same operations.
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

use common::{Registrations, Row, handle, ns_per_op, print_table, server, spoke};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dmvpn_nhrp::wire::Repr;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SPOKES: u32 = 100_000;

fn net(r: &Region<'_, System>) -> i64 {
    let c = r.change();
    c.bytes_allocated as i64 - c.bytes_deallocated as i64
}

fn bench(c: &mut Criterion) {
    let start = Instant::now();
    let regs = Registrations::new(SPOKES);

    // Memory: heap growth of a server taking 100,000 registrations, and of a HashMap of the
    // same spokes. They come 1 µs apart: all at one instant, the `max-send` window (1,000,000
    // packets per nanosecond here, to keep it out of the way) would hold every reply's send
    // time, 16 bytes each, which is not state kept per spoke.
    let mut now = start;
    let region = Region::new(GLOBAL);
    let mut s = server(start, SPOKES as usize);
    let base = net(&region);
    for i in 0..regs.count() {
        let (from, bytes) = regs.get(i);
        now += Duration::from_micros(1);
        handle(&mut s, now, from, bytes);
    }
    let grown = net(&region) - base;
    assert_eq!(s.cache().len(), SPOKES as usize);
    let keys: Vec<(IpAddr, IpAddr)> = (0..SPOKES)
        .map(|k| {
            let s = spoke(k);
            (s.proto_addr.ip().unwrap(), s.nbma_addr.addr.ip().unwrap())
        })
        .collect();
    let map_region = Region::new(GLOBAL);
    let mut map: HashMap<IpAddr, (IpAddr, Instant)> = HashMap::new();
    for &(p, n) in &keys {
        map.insert(p, (n, start));
    }
    let map_grown = net(&map_region);
    let bytes = (
        grown as f64 / f64::from(SPOKES),
        map_grown as f64 / f64::from(SPOKES),
    );

    // Resolution requests for registered spokes, answered from the table.
    let requests: Vec<(IpAddr, Vec<u8>)> = (0..4096u32)
        .map(|k| {
            let from = spoke(k);
            let target = spoke((k * 7919 + 13) % SPOKES);
            let bytes = Repr::resolution_request(k, &from, target.proto_addr, 7200, 1400)
                .to_bytes()
                .unwrap();
            (from.nbma_addr.addr.ip().unwrap(), bytes)
        })
        .collect();

    // The table: the fastest of 10 rounds of 20,000 operations, alternating with their
    // reference (see `ns_per_op`).
    let (rounds, n) = (10, 20_000);
    let (registration, insert) = ns_per_op(
        rounds,
        n,
        |i| {
            let (from, bytes) = regs.get(i);
            now += Duration::from_micros(1);
            handle(&mut s, now, from, bytes);
        },
        |i| {
            let (p, a) = keys[i % keys.len()];
            black_box(map.insert(p, (a, start)));
        },
    );
    let (resolution, lookup) = ns_per_op(
        rounds,
        n,
        |i| {
            let (from, bytes) = &requests[i % requests.len()];
            now += Duration::from_micros(1);
            handle(&mut s, now, *from, bytes);
        },
        |i| {
            let (p, _) = keys[(i * 7919 + 13) % keys.len()];
            black_box(map.get(&p));
        },
    );
    let (parse, insert2) = ns_per_op(
        rounds,
        n,
        |i| {
            black_box(Repr::parse_bytes(regs.get(i).1).unwrap());
        },
        |i| {
            let (p, a) = keys[i % keys.len()];
            black_box(map.insert(p, (a, start)));
        },
    );
    print_table(
        "NHRP server with 100,000 registered spokes",
        &[
            Row {
                what: "registration refresh (parse..reply, polled)",
                ns: registration,
                reference: "HashMap insert",
                ref_ns: insert,
            },
            Row {
                what: "resolution reply (parse..reply, polled)",
                ns: resolution,
                reference: "HashMap lookup",
                ref_ns: lookup,
            },
            Row {
                what: "parse of a Registration Request alone",
                ns: parse,
                reference: "HashMap insert",
                ref_ns: insert2,
            },
        ],
        bytes,
    );

    let mut g = c.benchmark_group("server_100k");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);

    // Registration refreshes by the 100,000 registered spokes, round robin.
    let mut i = 0usize;
    g.bench_function("registration", |b| {
        b.iter(|| {
            let (from, bytes) = regs.get(i);
            i += 1;
            now += Duration::from_micros(1);
            s.handle_packet(now, from, bytes).unwrap();
            black_box(s.poll_transmit());
            // A refresh is a cache update; its event must be polled, or the cache (which
            // never drops one) would refuse the next change.
            while s.poll_event().is_some() {}
        })
    });
    let mut j = 0usize;
    g.bench_function("resolution_reply", |b| {
        b.iter(|| {
            let (from, bytes) = &requests[j % requests.len()];
            j += 1;
            now += Duration::from_micros(1);
            s.handle_packet(now, *from, bytes).unwrap();
            black_box(s.poll_transmit().unwrap());
        })
    });
    g.bench_function("parse_registration_only", |b| {
        let mut k = 0usize;
        b.iter(|| {
            k += 1;
            black_box(Repr::parse_bytes(regs.get(k).1).unwrap());
        })
    });
    let mut k = 0usize;
    g.bench_function("hashmap_insert", |b| {
        b.iter(|| {
            let (p, n) = keys[k % keys.len()];
            k += 1;
            black_box(map.insert(p, (n, now)));
        })
    });
    g.bench_function("hashmap_lookup", |b| {
        b.iter(|| {
            let (p, _) = keys[(k * 7919 + 13) % keys.len()];
            k += 1;
            black_box(map.get(&p));
        })
    });
    g.finish();
    assert_eq!(s.cache().len(), SPOKES as usize);
}

criterion_group!(benches, bench);
criterion_main!(benches);
