//! The plaintext tap of a protected node (`Node::set_tap`) holds the GRE packet of every ESP
//! transmit and nothing else, even when a packet fails to go out, so that the n-th tapped packet
//! stays the n-th ESP transmit's (the simulator's traces read them in that order). Found by the
//! fuzz target `dmvpn_node_protected` (fuzz/fuzz_targets/): its scripted seed "a long silence"
//! (IKE and registration done, then the clock jumping 3840 s at once) left a packet in the
//! spoke's tap that no ESP transmit carried.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dmvpn_core::sim::example::{Example, HUB_NBMA};
use dmvpn_core::wired::input_of;
use dmvpn_core::{Entropy, Input, Node, Output, Transmit};
use dmvpn_wire::Proto;

fn is_esp(t: &Transmit) -> bool {
    match t.proto {
        Proto::ESP => true,
        Proto::Udp { src_port, .. } => {
            src_port == 4500 && t.payload.len() > 1 && t.payload.get(..4) != Some(&[0; 4])
        }
        _ => false,
    }
}

/// Fires both nodes' timers at `now` (both before either hears from the other) and carries
/// their transmits to each other until nothing moves; every ESP transmit must have its GRE
/// packet in the tap, and once a node is drained its tap must be empty.
fn carry(nodes: &mut [Node; 2], addrs: [IpAddr; 2], now: Instant) {
    for n in nodes.iter_mut() {
        let _ = n.handle_input(Input::Timeout(now));
    }
    loop {
        let mut moved = false;
        for i in 0..2 {
            let mut out = Vec::new();
            loop {
                match nodes[i].poll_output() {
                    Output::Transmit(t) => {
                        if is_esp(&t) {
                            let gre = nodes[i]
                                .poll_tap()
                                .expect("the GRE packet of an ESP transmit in the tap");
                            dmvpn_gre::wire::gre::decapsulate(&gre).expect("GRE");
                        }
                        out.push(t);
                    }
                    Output::Timeout(_) => break,
                    _ => {}
                }
            }
            assert_eq!(
                nodes[i].poll_tap(),
                None,
                "node {i} at {:?}: a tapped packet no ESP transmit carried",
                now
            );
            for t in out {
                moved = true;
                if let Some(j) = addrs.iter().position(|a| *a == t.dst) {
                    let _ = nodes[j].handle_input(input_of(now, &t));
                }
            }
        }
        if !moved {
            return;
        }
    }
}

#[test]
fn tapped_packets_are_those_esp_carried_after_a_clock_jump_past_the_sa_lifetime() {
    let ex = Example::new(1).protected();
    let start = Instant::now();
    let mut nodes = [
        Node::new(start, ex.hub(), Entropy::from_seed(0)).unwrap(),
        Node::new(start, ex.spoke(1), Entropy::from_seed(1)).unwrap(),
    ];
    let addrs = [IpAddr::from(HUB_NBMA), IpAddr::from(ex.spoke_nbma(1))];
    for n in &mut nodes {
        n.set_tap(true);
    }
    carry(&mut nodes, addrs, start);
    assert_eq!(
        nodes[1].child_sas(0).len(),
        1,
        "IKE and the first child SA up"
    );
    assert!(nodes[1].status(start).tunnels[0].nhs[0].up, "registered");

    // Nothing runs for 3840 s (a suspended host): the child SAs' hard lifetime (3600 s) and the
    // spoke's registration refresh are both due at the same instant.
    let jump = start + Duration::from_secs(3840);
    carry(&mut nodes, addrs, jump);
    // The expired SAs went before NHRP's timers ran: the refresh waited for the new SA instead
    // of being sealed with the dead one and dropped.
    let spoke = nodes[1].crypto_stats()[0].1;
    assert_eq!(spoke.encrypt_errors, 0, "{spoke:?}");
    assert!(
        nodes[1].status(jump).tunnels[0].nhs[0].up,
        "still registered"
    );

    // And the pair comes back: a new IKE SA, the registration through it.
    let mut now = jump;
    for _ in 0..120 {
        now += Duration::from_secs(1);
        carry(&mut nodes, addrs, now);
    }
    assert_eq!(
        nodes[1].child_sas(0).len(),
        1,
        "{:?}",
        nodes[1].crypto_stats()
    );
    assert!(
        nodes[1].status(now).tunnels[0].nhs[0].up,
        "registered again"
    );
}
