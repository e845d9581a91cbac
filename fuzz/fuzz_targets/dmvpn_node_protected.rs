//! The protected DMVPN (`tunnel protection ipsec profile`): the seeds' example hub and spoke
//! with IPsec (`Example::protected`, phase 3), driven by arbitrary UDP datagrams to ports 500
//! and 4500, arbitrary ESP and cleartext GRE datagrams, arbitrary overlay packets, pings across
//! the LANs, each other's transmits (intact, with a byte changed, or carried over UDP 4500 the
//! way NAT-T would), routes, `clear ip nhrp`, shutdown, clock steps and timeouts. Checked (see
//! `dmvpn_fuzz::node`): no panic; every transmit is ESP (carrying GRE with the tunnel key) or
//! IKE from port 500/4500, from the node's tunnel source, never cleartext GRE; output queues
//! within their limits; after a timeout at the announced deadline the next one is later; the
//! status and `show` functions do not panic. Delivering the queues a few times lets IKE and
//! the registration complete (the scripted seeds reach child SAs both ways).
#![no_main]

use arbitrary::Arbitrary;
use dmvpn_core::sim::example::Example;
use dmvpn_fuzz::node::{IKE_PORT, NAT_T_PORT, Pair};
use dmvpn_wire::{Proto, Transmit};
use libfuzzer_sys::fuzz_target;

/// Source ports of arbitrary UDP datagrams.
const SRC_PORTS: [u16; 4] = [IKE_PORT, NAT_T_PORT, 1024, 61_000];

#[derive(Debug, Arbitrary)]
enum Op {
    /// Arbitrary UDP bytes to the hub (true) or the spoke, port 4500 (true) or 500, from one
    /// of a few addresses and ports.
    Udp(bool, bool, u8, u8, Vec<u8>),
    /// Arbitrary ESP bytes (IP protocol 50) to the hub or the spoke from one of a few addresses.
    Esp(bool, u8, Vec<u8>),
    /// Arbitrary cleartext GRE bytes (IP protocol 47): always dropped on a protected interface.
    Gre(bool, u8, Vec<u8>),
    /// An arbitrary overlay packet from the hub's or the spoke's TUN.
    Overlay(bool, Vec<u8>),
    /// A valid echo request from the spoke's LAN to host `h` of LAN `l`.
    Ping(u8, u8),
    /// Carry up to n queued transmits between the two (UDP with its ports, ESP as ESP).
    Deliver(u8),
    /// Carry the next queued transmit with one byte changed.
    Mutate(u16, u8),
    /// Carry the hub's (true) or the spoke's next transmit over UDP 4500 to port 4500: ESP in
    /// UDP, IKE after the non-ESP marker.
    NatT(bool),
    /// Let time pass (milliseconds × 64) and fire due timers.
    Advance(u16),
    /// Fire timers at the earliest deadline.
    Timeout,
    /// Route LAN `l` via tunnel address `v` on the spoke (false) or hub.
    Route(bool, u8, u8),
    /// `clear ip nhrp` for tunnel address `a` (`a` ≥ 200: `clear crypto session`).
    Clear(bool, u8),
    /// Graceful shutdown of the hub or the spoke (purges, IKE deletes).
    Shutdown(bool),
}

/// Carries `from`'s next transmit to the other node over UDP 4500.
fn nat_t(p: &mut Pair, from_hub: bool) {
    let now = p.now;
    let (from, to) = if from_hub {
        (&mut p.hub, &mut p.spoke)
    } else {
        (&mut p.spoke, &mut p.hub)
    };
    if from.queue.is_empty() {
        return;
    }
    let mut t = from.queue.remove(0);
    match t.proto {
        Proto::ESP => {}
        Proto::Udp { dst_port, .. } if dst_port == IKE_PORT => {
            t.payload.splice(0..0, [0u8; 4]);
        }
        _ => {}
    }
    let t = Transmit {
        proto: Proto::Udp {
            src_port: NAT_T_PORT,
            dst_port: NAT_T_PORT,
        },
        ..t
    };
    to.receive(now, &t);
    from.node.recycle(t.payload);
}

fuzz_target!(|ops: Vec<Op>| {
    let mut p = Pair::new(Example::new(3).protected());
    for op in ops.into_iter().take(256) {
        match op {
            Op::Udp(to_hub, nat_t, from, port, bytes) => {
                let dst_port = if nat_t { NAT_T_PORT } else { IKE_PORT };
                let src_port = SRC_PORTS[usize::from(port) % SRC_PORTS.len()];
                p.udp(to_hub, from, src_port, dst_port, &bytes);
            }
            Op::Esp(to_hub, from, bytes) => p.esp(to_hub, from, &bytes),
            Op::Gre(to_hub, from, bytes) => p.underlay(to_hub, from, &bytes),
            Op::Overlay(on_hub, bytes) => p.overlay(on_hub, &bytes),
            Op::Ping(l, h) => p.ping(l, h),
            Op::Deliver(n) => p.deliver(n),
            Op::Mutate(at, xor) => p.mutate(at, xor),
            Op::NatT(from_hub) => nat_t(&mut p, from_hub),
            Op::Advance(ms) => p.advance(ms),
            Op::Timeout => p.timeout(),
            Op::Route(on_hub, l, v) => p.route(on_hub, l, v),
            Op::Clear(on_hub, a) => p.clear(on_hub, a),
            Op::Shutdown(hub) => {
                let now = p.now;
                p.side(hub).node.shutdown(now);
            }
        }
        p.settle();
    }
    p.finish();
});
