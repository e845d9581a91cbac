//! The unprotected (mGRE only) data path allocates nothing per packet: spoke A sends overlay
//! packets to spoke B over their direct NHRP mapping (an overlay packet copied once into a
//! pooled buffer, the GRE header written in front of it) and B delivers them (the GRE payload
//! copied once into a pooled buffer), watched by a counting allocator after a warm-up that
//! fills the buffer pools. The protected path's twin is `protected_alloc.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::alloc::System;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dmvpn_core::sim::example::Example;
use dmvpn_core::sim::icmp;
use dmvpn_core::wired::{Wired, input_of};
use dmvpn_core::{Input, Node, Output};
use dmvpn_wire::Proto;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn the_clear_data_path_allocates_nothing_per_packet() {
    let ex = Example::new(2);
    let mut now = Instant::now();
    let mut w = Wired::example(now, &ex, |_| {}, 7).unwrap();
    w.settle(now);
    let b_nbma: IpAddr = ex.spoke_nbma(2).into();
    // A pings B until NHRP has resolved B and the traffic goes spoke to spoke.
    let ping = icmp::echo_request(ex.lan_host(1, 25), ex.lan_host(2, 37), 1, 1, 1372).unwrap();
    for _ in 0..20 {
        now += Duration::from_millis(50);
        w.nodes[1]
            .handle_input(Input::Overlay { now, packet: &ping })
            .unwrap();
        w.settle(now);
    }

    // One packet A -> B straight: A's GRE transmit, B's delivery, buffers given back.
    let one = |nodes: &mut Vec<Node>, now: Instant| {
        nodes[1]
            .handle_input(Input::Overlay { now, packet: &ping })
            .unwrap();
        let Output::Transmit(t) = nodes[1].poll_output() else {
            panic!("no transmit")
        };
        assert_eq!((t.proto, t.dst), (Proto::GRE, b_nbma), "not spoke to spoke");
        nodes[2].handle_input(input_of(now, &t)).unwrap();
        nodes[1].recycle(t.payload);
        let Output::Deliver(d) = nodes[2].poll_output() else {
            panic!("no delivery")
        };
        assert_eq!(d.packet(), &ping[..]);
        nodes[2].recycle(d.into_buffer());
        while !matches!(nodes[1].poll_output(), Output::Timeout(_)) {}
        while !matches!(nodes[2].poll_output(), Output::Timeout(_)) {}
    };
    // Warm-up: pools filled, every table entry of the flow created.
    let nodes = &mut w.nodes;
    for _ in 0..200 {
        now += Duration::from_micros(100);
        one(nodes, now);
    }
    let region = Region::new(GLOBAL);
    for _ in 0..5000 {
        now += Duration::from_micros(100);
        one(nodes, now);
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "allocations in 5000 clear packets: {stats:?}"
    );
}
