//! A DMVPN hub and spoke (the seeds' example, phase 3 so that redirects and shortcuts are
//! reachable) driven by arbitrary underlay datagrams, arbitrary overlay packets, each other's
//! transmits (intact or with a byte changed), route commands and timeouts: no panic, every
//! transmit is a GRE packet from the node's tunnel source with its tunnel key, output queues stay
//! within their limits, and after a timeout at the announced deadline the next one is later.
//! The nodes, the operations and the checks are `dmvpn_fuzz::node`'s (shared with
//! `dmvpn_node_protected`).
#![no_main]

use arbitrary::Arbitrary;
use dmvpn_core::sim::example::Example;
use dmvpn_fuzz::node::Pair;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    /// Arbitrary GRE bytes to the hub (true) or the spoke from one of a few addresses.
    Underlay(bool, u8, Vec<u8>),
    /// An arbitrary overlay packet from the hub's or the spoke's TUN.
    Overlay(bool, Vec<u8>),
    /// A valid echo request from the spoke's LAN to host `h` of LAN `l`.
    Ping(u8, u8),
    /// Carry up to n queued transmits between the two.
    Deliver(u8),
    /// Carry the next queued transmit with one byte changed.
    Mutate(u16, u8),
    /// Let time pass (milliseconds × 64) and fire due timers.
    Advance(u16),
    /// Fire timers at the earliest deadline.
    Timeout,
    /// Route LAN `l` via tunnel address `v` on the spoke (false) or hub.
    Route(bool, u8, u8),
    /// `clear ip nhrp` for tunnel address `a` (`a` ≥ 200: `clear crypto session`).
    Clear(bool, u8),
}

fuzz_target!(|ops: Vec<Op>| {
    let mut p = Pair::new(Example::new(3));
    for op in ops.into_iter().take(256) {
        match op {
            Op::Underlay(to_hub, from, bytes) => p.underlay(to_hub, from, &bytes),
            Op::Overlay(on_hub, bytes) => p.overlay(on_hub, &bytes),
            Op::Ping(l, h) => p.ping(l, h),
            Op::Deliver(n) => p.deliver(n),
            Op::Mutate(at, xor) => p.mutate(at, xor),
            Op::Advance(ms) => p.advance(ms),
            Op::Timeout => p.timeout(),
            Op::Route(on_hub, l, v) => p.route(on_hub, l, v),
            Op::Clear(on_hub, a) => p.clear(on_hub, a),
        }
        p.settle();
    }
    p.finish();
});
