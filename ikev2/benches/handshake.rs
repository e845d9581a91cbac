//! Complete IKE_SA_INIT + IKE_AUTH handshakes (with the first child SA), both peers in process,
//! against the bare key-exchange cost of the same handshake (two key pairs and two shared
//! secrets) measured in the same run: the difference is the protocol overhead (messages,
//! proposals, key derivation, SK protection, AUTH).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_ikev2::auth::{Psk, PskTable};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::transform::KeGroup;
use dmvpn_ikev2::wire::Identity;
use dmvpn_ikev2::{Config, Endpoint, Event};

fn endpoint(seed: u8, me: &str, peer: &str, ike: &str, esp: &str) -> Endpoint {
    let mut psks = PskTable::new();
    psks.insert(Identity::fqdn(peer), Psk::from("bench"));
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])));
    let cfg = Config::new(provider, Identity::fqdn(me), psks)
        .with_ike_proposals(&[ike])
        .unwrap()
        .with_esp_proposals(&[esp])
        .unwrap();
    Endpoint::new(cfg).unwrap()
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

fn handshakes(c: &mut Criterion) {
    let p = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([9; 32])));
    let mut g = c.benchmark_group("ike_handshake");
    for (name, ike, esp, group) in [
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
    ] {
        g.bench_function(format!("{name}/handshake"), |bch| {
            bch.iter_batched(
                || {
                    (
                        endpoint(1, "spoke", "hub", ike, esp),
                        endpoint(2, "hub", "spoke", ike, esp),
                    )
                },
                |(i, r)| black_box(handshake(i, r)),
                BatchSize::SmallInput,
            )
        });
        // The same handshake's key-exchange work: two key pairs, two shared secrets.
        g.bench_function(format!("{name}/key_exchange_x2"), |bch| {
            bch.iter(|| {
                let x = p.start_key_exchange(group).unwrap();
                let y = p.start_key_exchange(group).unwrap();
                let s1 = x.complete(y.public_value()).unwrap();
                let s2 = y.complete(x.public_value()).unwrap();
                black_box((s1, s2))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = handshakes
}
criterion_main!(benches);
