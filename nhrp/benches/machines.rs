//! One NHS holding 100,000 registered spokes: registrations/s (refreshes) and resolution
//! replies/s, against a plain `HashMap` insert/lookup of the same keys in the same run; and
//! heap bytes per registered spoke.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::alloc::System;
use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dmvpn_nhrp::wire::{Node, Repr};
use dmvpn_nhrp::{MaxSend, ResolutionMode, Server, ServerConfig};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SPOKES: u32 = 100_000;

fn spoke(i: u32) -> Node {
    let [_, a, b, c] = i.to_be_bytes();
    Node::new(
        Ipv4Addr::new(172, 16 + a, b, c),
        Ipv4Addr::new(10, 1 + a, b, c),
    )
}

fn hub() -> Node {
    Node::new(Ipv4Addr::new(172, 17, 0, 1), Ipv4Addr::new(10, 0, 0, 1))
}

fn server(now: Instant) -> Server {
    let h = hub();
    let mut c = ServerConfig::new(h.nbma_addr.addr.ip().unwrap(), h.proto_addr.ip().unwrap());
    c.resolution = ResolutionMode::Authoritative;
    // The spokes' tunnel addresses are in 10.1.0.0 to 10.2.134.159: a 10.0.0.0/8 cloud.
    c.tunnel_prefix_len = 8;
    c.common.max_send = MaxSend {
        packets: 1_000_000,
        interval: Duration::from_nanos(1),
        ..MaxSend::default()
    };
    c.common.max_events = 1;
    Server::new(now, c).unwrap()
}

fn registrations() -> Vec<(IpAddr, Vec<u8>)> {
    (0..SPOKES)
        .map(|i| {
            let s = spoke(i);
            let bytes = Repr::registration_request(i + 1, &s, &hub(), 7200, 1400)
                .to_bytes()
                .unwrap();
            (s.nbma_addr.addr.ip().unwrap(), bytes)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let start = Instant::now();
    let regs = registrations();

    // Memory: heap growth of a server taking 100,000 registrations.
    let region = Region::new(GLOBAL);
    let base = server(start);
    let before = region.change();
    let mut s = base;
    for (from, bytes) in &regs {
        s.handle_packet(start, *from, bytes).unwrap();
        while s.poll_transmit().is_some() {}
        while s.poll_event().is_some() {}
    }
    let after = region.change();
    let grown = (after.bytes_allocated as i64 - after.bytes_deallocated as i64)
        - (before.bytes_allocated as i64 - before.bytes_deallocated as i64);
    let map_region = Region::new(GLOBAL);
    let mut map: HashMap<IpAddr, (IpAddr, Instant)> = HashMap::new();
    for (from, bytes) in &regs {
        let p = dmvpn_nhrp::wire::Packet::new_checked(&bytes[..]).unwrap();
        let proto = IpAddr::from(<[u8; 4]>::try_from(p.src_proto_addr()).unwrap());
        map.insert(proto, (*from, start));
    }
    let m = map_region.change();
    let map_grown = m.bytes_allocated as i64 - m.bytes_deallocated as i64;
    println!(
        "memory: server {} registrations, {} bytes heap = {} bytes/registration; \
         HashMap<IpAddr,(IpAddr,Instant)> reference {} bytes/entry",
        s.cache().len(),
        grown,
        grown / i64::from(SPOKES),
        map_grown / i64::from(SPOKES)
    );
    drop(map);

    let mut g = c.benchmark_group("server_100k");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));

    // Registration refreshes by the 100,000 registered spokes, round robin.
    let mut now = start;
    let mut i = 0usize;
    g.bench_function("registration", |b| {
        b.iter(|| {
            let (from, bytes) = &regs[i % regs.len()];
            i += 1;
            now += Duration::from_micros(1);
            s.handle_packet(now, *from, bytes).unwrap();
            black_box(s.poll_transmit());
            // A refresh is a cache update; its event must be polled, or the cache (which
            // never drops one) would refuse the next change.
            while s.poll_event().is_some() {}
        })
    });

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

    // Parse alone, to see how much of the above it is.
    g.bench_function("parse_registration_only", |b| {
        let mut k = 0usize;
        b.iter(|| {
            let (_, bytes) = &regs[k % regs.len()];
            k += 1;
            black_box(Repr::parse_bytes(bytes).unwrap());
        })
    });

    // Reference: HashMap insert and lookup of the same keys.
    let keys: Vec<(IpAddr, IpAddr)> = (0..SPOKES)
        .map(|k| {
            let s = spoke(k);
            (s.proto_addr.ip().unwrap(), s.nbma_addr.addr.ip().unwrap())
        })
        .collect();
    let mut map: HashMap<IpAddr, (IpAddr, Instant)> =
        keys.iter().map(|&(p, n)| (p, (n, start))).collect();
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
