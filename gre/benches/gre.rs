//! GRE encapsulation and decapsulation of a 1400-byte payload, against a plain `copy_from_slice`
//! of the same 1400 bytes measured in the same run (the reference: GRE should cost less than
//! copying the payload once, since it never copies it).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dmvpn_gre::wire::gre::{Repr, decapsulate, encapsulate};
use dmvpn_gre::{Config, Protocol, Tunnel};

const PAYLOAD: usize = 1400;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("gre-1400B");
    g.throughput(Throughput::Bytes(PAYLOAD as u64));

    let src = vec![0xabu8; PAYLOAD];
    let mut dst = vec![0u8; PAYLOAD];
    g.bench_function("reference/copy_from_slice", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        })
    });

    let keyed = Repr {
        key: Some(100),
        ..Repr::new(Protocol::IPV4, PAYLOAD)
    };
    let mut buf = vec![0x45u8; 64 + PAYLOAD];
    g.bench_function("encapsulate/key", |b| {
        b.iter(|| {
            let out = encapsulate(black_box(&keyed), &mut buf, 64).unwrap();
            black_box(out.len());
        })
    });

    let wire = encapsulate(&keyed, &mut buf, 64).unwrap().to_vec();
    g.bench_function("decapsulate/key", |b| {
        b.iter(|| {
            let (repr, payload) = decapsulate(black_box(&wire)).unwrap();
            black_box((repr, payload.len()));
        })
    });

    let local: IpAddr = "172.16.1.1".parse().unwrap();
    let remote: IpAddr = "172.17.0.1".parse().unwrap();
    let mut tx = Tunnel::new(Config {
        key: Some(100),
        ..Config::multipoint(local)
    })
    .unwrap();
    let mut rx = Tunnel::new(Config {
        key: Some(100),
        ..Config::multipoint(remote)
    })
    .unwrap();
    let head = tx.overhead();
    let mut tbuf = vec![0x45u8; head + PAYLOAD];
    g.bench_function("tunnel/encapsulate_ip/key", |b| {
        b.iter(|| {
            let out = tx
                .encapsulate_ip(black_box(remote), Protocol::IPV4, &mut tbuf, head, PAYLOAD)
                .unwrap();
            black_box(out.len());
        })
    });
    let twire = tx
        .encapsulate_ip(remote, Protocol::IPV4, &mut tbuf, head, PAYLOAD)
        .unwrap()
        .to_vec();
    // The receiver has admitted its peer, as an upper layer does: the steady state measured
    // updates the peer's entry.
    let first = rx.decapsulate_ip(&twire).unwrap();
    rx.admit(std::time::Instant::now(), &first).unwrap();
    g.bench_function("tunnel/decapsulate_ip/key", |b| {
        b.iter(|| {
            let r = rx.decapsulate_ip(black_box(&twire)).unwrap();
            black_box(r.payload.len());
        })
    });

    // With a checksum the payload must be read once: comparable to the copy, not free.
    let summed = Repr {
        checksum_present: true,
        ..keyed
    };
    g.bench_function("encapsulate/key+checksum", |b| {
        b.iter(|| {
            let out = encapsulate(black_box(&summed), &mut buf, 64).unwrap();
            black_box(out.len());
        })
    });
    let swire = encapsulate(&summed, &mut buf, 64).unwrap().to_vec();
    g.bench_function("decapsulate/key+checksum", |b| {
        b.iter(|| {
            let (repr, payload) = decapsulate(black_box(&swire)).unwrap();
            black_box((repr, payload.len()));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
