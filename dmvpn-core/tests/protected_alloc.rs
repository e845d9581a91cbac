//! The protected data path allocates nothing per packet and copies the payload once each way:
//! an overlay packet into a pooled buffer (GRE and ESP are then added in place around it), and
//! an ESP packet from the caller's receive buffer into a pooled buffer (decrypted in place, the
//! inner packet delivered from there). A counting allocator watches spoke A sending to spoke B
//! over their direct SA and B delivering, after a warm-up that fills the buffer pools.
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
fn the_protected_data_path_allocates_nothing_per_packet_and_copies_once_each_way() {
    let ex = Example::new(2).protected();
    let mut now = Instant::now();
    let mut w = Wired::example(now, &ex, |_| {}, 7).unwrap();
    w.settle(now);
    let b_nbma: IpAddr = ex.spoke_nbma(2).into();
    // A pings B until the spoke-to-spoke SA carries the traffic.
    let ping = icmp::echo_request(ex.lan_host(1, 25), ex.lan_host(2, 37), 1, 1, 1372).unwrap();
    for _ in 0..20 {
        now += Duration::from_millis(50);
        w.nodes[1]
            .handle_input(Input::Overlay { now, packet: &ping })
            .unwrap();
        w.settle(now);
    }
    assert!(
        w.nodes[1].child_sas(0).iter().any(|(p, _, _)| *p == b_nbma),
        "no direct SA between the spokes"
    );

    // One packet A -> B over the direct SA: A's transmit, B's delivery, buffers given back.
    let one = |nodes: &mut Vec<Node>, now: Instant| -> (usize, usize) {
        nodes[1]
            .handle_input(Input::Overlay { now, packet: &ping })
            .unwrap();
        let Output::Transmit(t) = nodes[1].poll_output() else {
            panic!("no transmit")
        };
        assert_eq!((t.proto, t.dst), (Proto::ESP, b_nbma));
        let esp_len = t.payload.len();
        nodes[2].handle_input(input_of(now, &t)).unwrap();
        nodes[1].recycle(t.payload);
        let Output::Deliver(d) = nodes[2].poll_output() else {
            panic!("no delivery")
        };
        assert_eq!(d.packet(), &ping[..]);
        // Delivered where it was decrypted: behind the ESP header, IV and GRE header, not
        // moved to the front of a buffer of its own.
        let behind = d.into_buffer();
        let offset = behind.len() - ping.len();
        nodes[2].recycle(behind);
        while !matches!(nodes[1].poll_output(), Output::Timeout(_)) {}
        while !matches!(nodes[2].poll_output(), Output::Timeout(_)) {}
        (esp_len, offset)
    };
    // Warm-up: pools filled, every table entry of the flow created.
    let nodes = &mut w.nodes;
    for _ in 0..200 {
        now += Duration::from_micros(100);
        one(nodes, now);
    }
    let region = Region::new(GLOBAL);
    let (esp_len, offset) = one(nodes, now);
    for _ in 0..5000 {
        now += Duration::from_micros(100);
        let (l, o) = one(nodes, now);
        assert_eq!((l, o), (esp_len, offset));
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "allocations in 5001 protected packets: {stats:?}"
    );
    // AES-CBC: 8-byte ESP header + 16-byte IV, then the 8-byte GRE header (with key).
    assert_eq!(offset, 8 + 16 + 8);
    assert!(esp_len > ping.len() + 32);
}
