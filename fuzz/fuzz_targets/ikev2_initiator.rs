//! The IKEv2 initiator state machine fed arbitrary responses (and arbitrary requests) as well as
//! a real responder's genuine answers, possibly bit-flipped, duplicated or dropped, with clock
//! jumps and commands. It must never panic.
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
    /// Arbitrary bytes to the initiator, as if from the responder.
    Raw { nat_t: bool, data: Vec<u8> },
    /// Arbitrary bytes after a genuine IKE header taken from the initiator's last request,
    /// turned into a response (reaches deep into the response handlers' parsing).
    Forged { tail: Vec<u8> },
    /// The responder's next datagram, maybe with one byte changed.
    Deliver {
        flip: Option<(u16, u8)>,
        duplicate: bool,
    },
    /// Drop the responder's next datagram.
    Drop,
    /// Move the clock.
    Advance(u16),
    /// A command on the initiator's first IKE SA.
    Command(u8),
}

fn endpoint(seed: u8, me: &str, peer: &str) -> Option<Endpoint> {
    let mut psks = PskTable::new();
    psks.insert(Identity::fqdn(peer), Psk::from("fuzz"));
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])));
    let cfg = Config::new(provider, Identity::fqdn(me), psks)
        .with_ike_proposals(&["aes128gcm16-prfsha256-x25519", "aes128-sha256-ecp256"])
        .ok()?
        .with_esp_proposals(&["aes128gcm16-x25519", "aes128-sha256"])
        .ok()?;
    Endpoint::new(cfg).ok()
}

fuzz_target!(|ops: Vec<Op>| {
    let (Some(mut init), Some(mut resp)) =
        (endpoint(1, "spoke", "hub"), endpoint(2, "hub", "spoke"))
    else {
        return;
    };
    let i_addr: SocketAddr = "192.0.2.1:500".parse().unwrap_or_else(|_| unreachable!());
    let r_addr: SocketAddr = "192.0.2.2:500".parse().unwrap_or_else(|_| unreachable!());
    let mut now = Instant::now();
    if init
        .initiate(now, i_addr, r_addr, Some(Identity::fqdn("hub")), None)
        .is_err()
    {
        return;
    }
    let mut from_resp: Vec<Transmit> = Vec::new();
    let mut last_request: Vec<u8> = Vec::new();
    for op in ops.into_iter().take(64) {
        // The initiator's requests reach the responder unchanged.
        while let Some(t) = init.poll_transmit() {
            let ike = if t.local().port() == 4500 {
                t.payload.get(4..).unwrap_or(&[])
            } else {
                &t.payload[..]
            };
            if ike.len() >= 28 {
                last_request = ike.to_vec();
            }
            let _ = resp.handle_datagram(now, t.remote(), t.local(), &t.payload);
        }
        from_resp.extend(std::iter::from_fn(|| resp.poll_transmit()));
        match op {
            Op::Raw { nat_t, data } => {
                let port = if nat_t { 4500 } else { 500 };
                let local = SocketAddr::new(i_addr.ip(), port);
                let remote = SocketAddr::new(r_addr.ip(), port);
                let _ = init.handle_datagram(now, local, remote, &data);
            }
            Op::Forged { tail } => {
                let mut m: Vec<u8> = last_request.iter().take(28).copied().collect();
                if m.len() == 28 {
                    if let Some(f) = m.get_mut(19) {
                        *f = 0x20; // response from the responder
                    }
                    m.extend_from_slice(&tail);
                    let len = u32::try_from(m.len()).unwrap_or(0).to_be_bytes();
                    if let Some(l) = m.get_mut(24..28) {
                        l.copy_from_slice(&len);
                    }
                    let _ = init.handle_datagram(now, i_addr, r_addr, &m);
                }
            }
            Op::Deliver { flip, duplicate } => {
                if from_resp.is_empty() {
                    continue;
                }
                let mut t = from_resp.remove(0);
                if let Some((at, x)) = flip
                    && !t.payload.is_empty()
                {
                    let i = usize::from(at) % t.payload.len();
                    if let Some(b) = t.payload.get_mut(i) {
                        *b ^= x;
                    }
                }
                let _ = init.handle_datagram(now, t.remote(), t.local(), &t.payload);
                if duplicate {
                    let _ = init.handle_datagram(now, t.remote(), t.local(), &t.payload);
                }
            }
            Op::Drop => {
                if !from_resp.is_empty() {
                    from_resp.remove(0);
                }
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms) * 16);
                init.handle_timeout(now);
                resp.handle_timeout(now);
                init.handle_timeout(now);
            }
            Op::Command(c) => {
                if let Some(s) = init.status(now).first() {
                    let sa = s.sa;
                    let child = s.children.first().map(|c| c.inbound_spi);
                    let _ = match (c % 6, child) {
                        (0, Some(spi)) => init.rekey_child(now, sa, spi),
                        (1, _) => init.rekey_ike(now, sa),
                        (2, Some(spi)) => init.delete_child(now, sa, spi),
                        (3, _) => init.check_liveness(now, sa),
                        (4, _) => init.create_child(now, sa, None),
                        _ => init.close(now, sa),
                    };
                }
            }
        }
        while init.poll_event().is_some() {}
        while resp.poll_event().is_some() {}
        let _ = init.poll_timeout();
    }
});
