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
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dmvpn_core::sim::example::Example;
use dmvpn_core::sim::icmp;
use dmvpn_core::{Deliver, Entropy, Input, Node, Output, Transmit};
use dmvpn_wire::Proto;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Hands a transmit to the node it is for.
fn input<'a>(now: Instant, t: &'a Transmit) -> Input<'a> {
    match t.proto {
        Proto::Udp { src_port, dst_port } => Input::Udp {
            now,
            src: (t.src, src_port).into(),
            dst: (t.dst, dst_port).into(),
            payload: &t.payload,
        },
        Proto::ESP => Input::Esp {
            now,
            src: t.src,
            dst: t.dst,
            payload: &t.payload,
        },
        other => panic!("a protected node sent {other:?}"),
    }
}

/// Runs the three nodes until nothing moves; returns the deliveries of each.
fn settle(nodes: &mut [Node], now: Instant) -> Vec<Vec<Deliver>> {
    let addrs: Vec<IpAddr> = vec![
        Ipv4Addr::new(172, 17, 0, 1).into(),
        Ipv4Addr::new(172, 16, 1, 1).into(),
        Ipv4Addr::new(172, 16, 2, 1).into(),
    ];
    let mut delivered = vec![Vec::new(); nodes.len()];
    loop {
        let mut moved = false;
        for i in 0..nodes.len() {
            let _ = nodes[i].handle_input(Input::Timeout(now));
            loop {
                match nodes[i].poll_output() {
                    Output::Transmit(t) => {
                        moved = true;
                        if let Some(j) = addrs.iter().position(|a| *a == t.dst) {
                            let _ = nodes[j].handle_input(input(now, &t));
                        }
                        nodes[i].recycle(t.payload);
                    }
                    Output::Deliver(d) => delivered[i].push(d),
                    Output::Event(_) => {}
                    Output::Timeout(_) => break,
                }
            }
        }
        if !moved {
            return delivered;
        }
    }
}

#[test]
fn the_protected_data_path_allocates_nothing_per_packet_and_copies_once_each_way() {
    let ex = Example::new(2).protected();
    let start = Instant::now();
    let mut now = start;
    let e = Entropy::from_seed(7);
    let mut nodes = vec![
        Node::new(now, ex.hub(), e.derive(0)).unwrap(),
        Node::new(now, ex.spoke(1), e.derive(1)).unwrap(),
        Node::new(now, ex.spoke(2), e.derive(2)).unwrap(),
    ];
    for (net, via) in ex.hub_routes() {
        nodes[0].add_route(net, via).unwrap();
    }
    let (net, via) = ex.spoke_route(2);
    nodes[1].add_route(net, via).unwrap();
    let (net, via) = ex.spoke_route(1);
    nodes[2].add_route(net, via).unwrap();
    settle(&mut nodes, now);
    let b_nbma: IpAddr = ex.spoke_nbma(2).into();
    // A pings B until the spoke-to-spoke SA carries the traffic.
    let ping = icmp::echo_request(ex.lan_host(1, 25), ex.lan_host(2, 37), 1, 1, 1372).unwrap();
    for _ in 0..20 {
        now += Duration::from_millis(50);
        nodes[1]
            .handle_input(Input::Overlay { now, packet: &ping })
            .unwrap();
        settle(&mut nodes, now);
    }
    assert!(
        nodes[1].child_sas(0).iter().any(|(p, _, _)| *p == b_nbma),
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
        nodes[2].handle_input(input(now, &t)).unwrap();
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
    for _ in 0..200 {
        now += Duration::from_micros(100);
        one(&mut nodes, now);
    }
    let region = Region::new(GLOBAL);
    let (esp_len, offset) = one(&mut nodes, now);
    for _ in 0..5000 {
        now += Duration::from_micros(100);
        let (l, o) = one(&mut nodes, now);
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
