//! Two IKEv1 endpoints, an initiator and a responder (Main Mode with a pre-shared key, then
//! Quick Mode), fed arbitrary datagrams on ports 500 and 4500, each other's genuine messages
//! (delivered, with a byte changed, duplicated or dropped), forged messages under the genuine
//! SA's cookies, commands and clock jumps. Neither may panic; a spurious timeout is harmless;
//! `poll_timeout` is never in the past after `handle_timeout`.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_ikev1::wire::{GroupDescription, IdPayload};
use dmvpn_ikev1::{Config, Dpd, Endpoint, IkeCryptoProvider, KeyTable, Policy, Psk, Transmit};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Arbitrary bytes to one side.
    Raw {
        to_initiator: bool,
        nat_t: bool,
        data: Vec<u8>,
    },
    /// Arbitrary bytes after a genuine header of the SA (its cookies), to one side.
    Forged {
        to_initiator: bool,
        exchange: u8,
        flags: u8,
        message_id: u32,
        body: Vec<u8>,
    },
    /// The next genuine datagram in one direction, maybe with one byte changed.
    Deliver {
        to_initiator: bool,
        flip: Option<(u16, u8)>,
        duplicate: bool,
    },
    /// Drop the next genuine datagram in one direction.
    Drop { to_initiator: bool },
    /// Move the clock.
    Advance(u16),
    /// A command on one side's first SA.
    Command { initiator: bool, what: u8 },
}

fn endpoint(seed: u8, pfs: bool) -> Option<Endpoint> {
    let mut keys = KeyTable::new();
    keys.set_wildcard(Psk::new(b"fuzz"));
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([seed; 32])));
    let mut cfg = Config::new(provider, keys);
    cfg.policies = vec![
        Policy::parse("aes128-sha256-ecp256").ok()?,
        Policy::parse("aes256-sha1-modp2048").ok()?,
    ];
    cfg.pfs = pfs.then_some(GroupDescription::ECP_256);
    cfg.dpd = Some(Dpd::on_demand(
        Duration::from_secs(10),
        Duration::from_secs(2),
    ));
    cfg.force_encap = seed % 2 == 0;
    cfg.ipsec_lifetime = Duration::from_secs(120);
    Endpoint::new(cfg).ok()
}

fn header(cookies: (u64, u64), exchange: u8, flags: u8, mid: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(28 + body.len());
    v.extend_from_slice(&cookies.0.to_be_bytes());
    v.extend_from_slice(&cookies.1.to_be_bytes());
    v.push(body.first().copied().unwrap_or(8));
    v.push(0x10);
    v.push(exchange);
    v.push(flags);
    v.extend_from_slice(&mid.to_be_bytes());
    v.extend_from_slice(&u32::try_from(28 + body.len()).unwrap_or(0).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fuzz_target!(|input: (bool, Vec<Op>)| {
    let (pfs, ops) = input;
    let (Some(mut init), Some(mut resp)) = (endpoint(1, pfs), endpoint(2, pfs)) else {
        return;
    };
    let i_addr: SocketAddr = "192.0.2.1:500".parse().unwrap_or_else(|_| unreachable!());
    let r_addr: SocketAddr = "192.0.2.2:500".parse().unwrap_or_else(|_| unreachable!());
    let mut now = Instant::now();
    let ids = (
        IdPayload::gre_host(i_addr.ip()),
        IdPayload::gre_host(r_addr.ip()),
    );
    let _ = init.initiate(now, i_addr, r_addr, Some(ids));
    let mut to_resp: Vec<Transmit> = Vec::new();
    let mut to_init: Vec<Transmit> = Vec::new();
    for op in ops.into_iter().take(96) {
        to_resp.extend(std::iter::from_fn(|| init.poll_transmit()));
        to_init.extend(std::iter::from_fn(|| resp.poll_transmit()));
        match op {
            Op::Raw {
                to_initiator,
                nat_t,
                data,
            } => {
                let port = if nat_t { 4500 } else { 500 };
                let (ep, local, remote) = if to_initiator {
                    (&mut init, i_addr, r_addr)
                } else {
                    (&mut resp, r_addr, i_addr)
                };
                let local = SocketAddr::new(local.ip(), port);
                let remote = SocketAddr::new(remote.ip(), port);
                let _ = ep.handle_datagram(now, local, remote, &data);
            }
            Op::Forged {
                to_initiator,
                exchange,
                flags,
                message_id,
                body,
            } => {
                let cookies = init
                    .status(now)
                    .first()
                    .map(|s| (s.cookie_i, s.cookie_r))
                    .unwrap_or((1, 2));
                let bytes = header(cookies, exchange, flags, message_id, &body);
                let (ep, local, remote) = if to_initiator {
                    (&mut init, i_addr, r_addr)
                } else {
                    (&mut resp, r_addr, i_addr)
                };
                let _ = ep.handle_datagram(now, local, remote, &bytes);
            }
            Op::Deliver {
                to_initiator,
                flip,
                duplicate,
            } => {
                let (queue, ep) = if to_initiator {
                    (&mut to_init, &mut init)
                } else {
                    (&mut to_resp, &mut resp)
                };
                if queue.is_empty() {
                    continue;
                }
                let mut t = queue.remove(0);
                if let Some((at, x)) = flip
                    && !t.payload.is_empty()
                {
                    let i = usize::from(at) % t.payload.len();
                    if let Some(b) = t.payload.get_mut(i) {
                        *b ^= x;
                    }
                }
                let _ = ep.handle_datagram(now, t.remote(), t.local(), &t.payload);
                if duplicate {
                    let _ = ep.handle_datagram(now, t.remote(), t.local(), &t.payload);
                }
            }
            Op::Drop { to_initiator } => {
                let queue = if to_initiator {
                    &mut to_init
                } else {
                    &mut to_resp
                };
                if !queue.is_empty() {
                    queue.remove(0);
                }
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms) * 32);
                init.handle_timeout(now);
                resp.handle_timeout(now);
                // A spurious call is a no-op.
                resp.handle_timeout(now);
                for ep in [&init, &resp] {
                    if let Some(t) = ep.poll_timeout() {
                        assert!(t > now, "a deadline left in the past after handle_timeout");
                    }
                }
            }
            Op::Command { initiator, what } => {
                let ep = if initiator { &mut init } else { &mut resp };
                if let Some(s) = ep.status(now).first() {
                    let sa = s.sa;
                    let child = s.children.first().copied();
                    let _ = match (what % 5, child) {
                        (0, Some(spi)) => ep.rekey_child(now, sa, spi),
                        (1, Some(spi)) => ep.delete_child(now, sa, spi),
                        (2, _) => ep.check_liveness(now, sa),
                        (3, _) => {
                            ep.note_activity(now, sa);
                            Ok(())
                        }
                        _ => ep.close(now, sa),
                    };
                }
            }
        }
        while init.poll_event().is_some() {}
        while resp.poll_event().is_some() {}
    }
});
