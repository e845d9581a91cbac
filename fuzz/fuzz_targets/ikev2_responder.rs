//! The IKEv2 responder state machine fed arbitrary datagrams (on ports 500 and 4500), genuine
//! messages from a real initiator (possibly bit-flipped, duplicated or dropped), commands and
//! clock jumps. It must never panic, and a spurious timeout must be harmless.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_ikev2::auth::{Psk, PskTable};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::wire::Identity;
use dmvpn_ikev2::{Config, Endpoint, Transmit};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Arbitrary bytes to the responder.
    Raw { nat_t: bool, data: Vec<u8> },
    /// The initiator's next datagram, maybe with one byte changed.
    Deliver {
        flip: Option<(u16, u8)>,
        duplicate: bool,
    },
    /// Drop the initiator's next datagram.
    Drop,
    /// Move the clock.
    Advance(u16),
    /// A command on the responder's first IKE SA.
    Command(u8),
}

fn endpoint(seed: u8, me: &str, peer: &str) -> Option<Endpoint> {
    let mut psks = PskTable::new();
    psks.insert(Identity::fqdn(peer), Psk::from("fuzz"));
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])));
    let mut cfg = Config::new(provider, Identity::fqdn(me), psks)
        .with_ike_proposals(&["aes128gcm16-prfsha256-x25519", "aes128-sha256-x25519"])
        .ok()?
        .with_esp_proposals(&["aes128gcm16-x25519", "aes128-sha256"])
        .ok()?;
    cfg.cookie_threshold = usize::from(seed % 3);
    Endpoint::new(cfg).ok()
}

fuzz_target!(|ops: Vec<Op>| {
    let (Some(mut resp), Some(mut init)) =
        (endpoint(2, "hub", "spoke"), endpoint(1, "spoke", "hub"))
    else {
        return;
    };
    let i_addr: SocketAddr = "192.0.2.1:500".parse().unwrap_or_else(|_| unreachable!());
    let r_addr: SocketAddr = "192.0.2.2:500".parse().unwrap_or_else(|_| unreachable!());
    let mut now = Instant::now();
    let _ = init.initiate(now, i_addr, r_addr, Some(Identity::fqdn("hub")), None);
    let mut from_init: Vec<Transmit> = Vec::new();
    for op in ops.into_iter().take(64) {
        from_init.extend(std::iter::from_fn(|| init.poll_transmit()));
        match op {
            Op::Raw { nat_t, data } => {
                let port = if nat_t { 4500 } else { 500 };
                let local = SocketAddr::new(r_addr.ip(), port);
                let remote = SocketAddr::new(i_addr.ip(), port);
                let _ = resp.handle_datagram(now, local, remote, &data);
            }
            Op::Deliver { flip, duplicate } => {
                if from_init.is_empty() {
                    continue;
                }
                let mut t = from_init.remove(0);
                if let Some((at, x)) = flip
                    && !t.payload.is_empty()
                {
                    let i = usize::from(at) % t.payload.len();
                    if let Some(b) = t.payload.get_mut(i) {
                        *b ^= x;
                    }
                }
                let _ = resp.handle_datagram(now, t.remote(), t.local(), &t.payload);
                if duplicate {
                    let _ = resp.handle_datagram(now, t.remote(), t.local(), &t.payload);
                }
            }
            Op::Drop => {
                if !from_init.is_empty() {
                    from_init.remove(0);
                }
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms) * 16);
                resp.handle_timeout(now);
                init.handle_timeout(now);
                // A spurious call is a no-op.
                resp.handle_timeout(now);
            }
            Op::Command(c) => {
                if let Some(s) = resp.status(now).first() {
                    let sa = s.sa;
                    let child = s.children.first().map(|c| c.inbound_spi);
                    let _ = match (c % 5, child) {
                        (0, Some(spi)) => resp.rekey_child(now, sa, spi),
                        (1, _) => resp.rekey_ike(now, sa),
                        (2, Some(spi)) => resp.delete_child(now, sa, spi),
                        (3, _) => resp.check_liveness(now, sa),
                        _ => resp.close(now, sa),
                    };
                }
            }
        }
        // The responder's answers reach the initiator unchanged.
        while let Some(t) = resp.poll_transmit() {
            let _ = init.handle_datagram(now, t.remote(), t.local(), &t.payload);
        }
        while resp.poll_event().is_some() {}
        while init.poll_event().is_some() {}
        let _ = resp.poll_timeout();
    }
});
