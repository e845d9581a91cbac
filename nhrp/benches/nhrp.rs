//! Parse + validate of Cisco NHRP packets, against a memcpy of the same bytes in the same run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dmvpn_nhrp::wire::{Packet, Repr};

#[path = "../tests/common/fixtures.rs"]
mod fixtures;

/// Walks the whole packet through the borrowed view (lengths, checksum, every CIE and
/// extension) without building a `Repr`.
fn validate_view(bytes: &[u8]) -> usize {
    let p = Packet::new_checked(bytes).unwrap();
    p.verify_checksum().unwrap();
    let mut n = 0;
    for c in p.cies() {
        n += c.unwrap().holding_time as usize;
    }
    for e in p.extensions() {
        let e = e.unwrap();
        if matches!(e.ext_type.0, 3 | 4 | 5 | 9) {
            for c in e.cies() {
                n += c.unwrap().mtu as usize;
            }
        } else {
            n += e.data.len();
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    for (name, bytes) in [
        ("registration_request", fixtures::REGISTRATION_REQUEST),
        ("resolution_reply", fixtures::RESOLUTION_REPLY),
    ] {
        let mut g = c.benchmark_group(format!("nhrp/{name}"));
        g.throughput(Throughput::Elements(1));
        let mut buf = vec![0u8; bytes.len()];
        g.bench_function("memcpy (reference)", |b| {
            b.iter(|| {
                buf.copy_from_slice(black_box(bytes));
                black_box(&buf);
            })
        });
        g.bench_function("parse+validate Repr", |b| {
            b.iter(|| {
                let p = Packet::new_checked(black_box(bytes)).unwrap();
                black_box(Repr::parse(&p).unwrap())
            })
        });
        g.bench_function("validate view (no alloc)", |b| {
            b.iter(|| black_box(validate_view(black_box(bytes))))
        });
        let repr = Repr::parse_bytes(bytes).unwrap();
        let mut out = vec![0u8; repr.buffer_len()];
        g.bench_function("emit", |b| {
            b.iter(|| {
                black_box(&repr)
                    .emit(&mut Packet::new_unchecked(&mut out[..]))
                    .unwrap();
                black_box(&out);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
