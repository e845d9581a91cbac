//! Benchmarks: each key exchange group (keygen + shared secret, one side) and a full key
//! derivation (SKEYSEED + prf+ for the seven IKE SA keys).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::keys::IkeSaKeys;
use dmvpn_ikev2::transform::{IkeSuite, KeGroup};

fn key_exchange(c: &mut Criterion) {
    let p = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([1; 32])));
    let mut g = c.benchmark_group("key_exchange");
    for (name, group) in [
        ("x25519", KeGroup::CURVE25519),
        ("ecp256", KeGroup::ECP_256),
        ("modp2048", KeGroup::MODP_2048),
    ] {
        let peer = p.start_key_exchange(group).unwrap();
        let peer_public = peer.public_value().to_vec();
        g.bench_function(name, |b| {
            b.iter(|| {
                let k = p.start_key_exchange(group).unwrap();
                black_box(k.complete(black_box(&peer_public)).unwrap())
            })
        });
    }
    g.finish();
}

fn derivation(c: &mut Criterion) {
    let p = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([2; 32])));
    let mut g = c.benchmark_group("ike_sa_keys");
    for proposal in ["aes128-sha256-modp2048", "aes256gcm16-prfsha512-x25519"] {
        let suite = IkeSuite::parse(proposal).unwrap();
        let shared = vec![0x42; 256];
        let (ni, nr) = ([1u8; 32], [2u8; 32]);
        g.bench_function(proposal, |b| {
            b.iter(|| {
                black_box(
                    IkeSaKeys::derive(&p, &suite, black_box(&shared), &ni, &nr, 1, 2).unwrap(),
                )
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = key_exchange, derivation
}
criterion_main!(benches);
