//! Off-path attacks on a cloud without IPsec (issue "Hardening: off-path attacks on NHRP",
//! items 1 and 2): an attacker that knows the cloud's addresses, tunnel key and cleartext NHRP
//! password, but sees none of its packets,
//!
//! - sends spoke A Resolution Requests saying spoke B's tunnel address is at the attacker,
//!   directly and through the hub: A's mapping of B stays (a request's source binding is the
//!   requester's claim, and the hub refuses one in the name of a spoke registered elsewhere);
//! - forges a Traffic Indication to spoke A and then Resolution Replies guessing the request
//!   ID, spoofing the hub: request IDs come from each node's [`Entropy`], so none of the
//!   guesses lands and no shortcut is planted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use std::net::IpAddr;

use common::*;
use dmvpn_core::config::HubResolution;
use dmvpn_core::sim::example::Example;
use dmvpn_core::{Entropy, EventKind, Node, Output};
use dmvpn_netsim::{Datagram, Proto, Transmit};
use dmvpn_nhrp::wire::{Cie, Node as NhrpNode, Repr};

const ATTACKER: &str = "198.51.100.66";

/// An IPv4 header (20 bytes, checksum right) from `src` to `dst`, as a Traffic Indication
/// quotes it.
fn ipv4_header(src: &str, dst: &str) -> Vec<u8> {
    let h = dmvpn_wire::ip::Repr::new(
        ip(src),
        ip(dst),
        dmvpn_wire::IpProtocol::ICMP,
        8,
        &dmvpn_wire::HeaderOptions::default(),
        64,
    )
    .unwrap();
    let mut buf = vec![0; h.buffer_len()];
    h.emit(&mut buf).unwrap();
    buf.extend_from_slice(&[8, 0, 0xf7, 0xff, 0, 0, 0, 0]);
    buf
}

/// `repr` (with the cloud's password) in GRE with the cloud's key, from `src` to `dst`, put on
/// the network as if sent from `src`.
fn inject(s: &mut Scenario, src: IpAddr, dst: IpAddr, repr: Repr) {
    let payload = repr
        .with_authentication(s.ex.password.clone().unwrap().as_bytes())
        .unwrap()
        .to_bytes()
        .unwrap();
    let t = Transmit {
        src,
        dst,
        proto: Proto::InGre(0x2001),
        payload,
    };
    s.sim
        .network_mut()
        .send(Datagram::from_transmit(t, s.ex.key).unwrap());
}

#[test]
fn a_forged_traffic_indication_and_replies_guessing_request_ids_plant_no_shortcut() {
    let mut ex = Example::new(2);
    ex.phase = 3;
    let mut s = Scenario::new("off-path-shortcut", 61, ex);
    s.run(secs(2));
    let (hub, a) = (s.hub(), s.spoke(1));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    let (a_nbma, a_tunnel) = (s.nbma(1), s.tunnel(1));
    let hub_nbma = IpAddr::from(HUB_NBMA);
    // "192.168.1.25 -> 200.1.2.3 went through me": spoke A resolves 200.1.2.3.
    let hub_node = NhrpNode::new(hub_nbma, ip("10.0.0.1"));
    let ti =
        Repr::traffic_indication(&ipv4_header("192.168.1.25", "200.1.2.3"), &hub_node).unwrap();
    inject(&mut s, ip(ATTACKER), a_nbma, ti);
    s.run(std::time::Duration::from_millis(15));
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::Resolving { target } if *target == ip("200.1.2.3"))
    ));
    // Then, before the hub's answer is back, replies for request IDs 1..=200, spoofing the
    // hub: "128.0.0.0/1 (and 200.1.2.0/24) via 10.0.0.66 at 198.51.100.66".
    let a_node = NhrpNode::new(a_nbma, a_tunnel);
    for len in [1u8, 24] {
        let cie = Cie {
            prefix_len: len,
            mtu: 1400,
            holding_time: 7200,
            client_nbma_addr: ip(ATTACKER).into(),
            client_proto_addr: ip("10.0.0.66").into(),
            ..Cie::default()
        };
        for id in 1..=200 {
            let reply = Repr::resolution_request(id, &a_node, ip("200.1.2.3"), 300, 1400)
                .reply(&hub_node, vec![cie.clone()])
                .unwrap();
            inject(&mut s, hub_nbma, a_nbma, reply);
        }
    }
    s.run(secs(5));
    assert!(
        !s.has(a, |k| matches!(k, EventKind::ShortcutAdded { .. })),
        "{:?}",
        s.events(a)
    );
    assert!(!s.has(
        a,
        |k| matches!(k, EventKind::NbmaPeerUp { nbma } if *nbma == ip(ATTACKER))
    ));
    let routes = format!("{:?}", s.get(a).node().routes());
    assert!(!routes.contains("128.0.0.0/1"), "{routes}");
    assert!(!routes.contains("200.1.2.0/24"), "{routes}");
    let stats = s.get(a).node().nhrp_client(0).unwrap().stats();
    assert_eq!(
        stats.unmatched_replies, 400,
        "every guess missed the request ID"
    );
    s.finish();
}

#[test]
fn forged_resolution_requests_direct_and_through_the_hub_leave_spoke_as_mapping_of_b() {
    // Phase 2 with the hub forwarding Resolution Requests to their owner (IOS 12.4+).
    let mut ex = Example::new(2);
    ex.hub_resolution = HubResolution::Forward;
    let mut s = Scenario::new("off-path-request", 62, ex);
    s.run(secs(2));
    let (hub, a) = (s.hub(), s.spoke(1));
    assert!(s.registered(hub, 1) && s.registered(hub, 2));
    s.route(1, 2);
    s.route(2, 1);
    // A resolves B (10.0.0.12 at 172.16.2.1, unique) while its first ping goes via the hub.
    s.ping(1, 25, 2, 37, 1);
    s.run(secs(2));
    let (b_tunnel, b_nbma) = (s.tunnel(2), s.nbma(2));
    assert!(s.has(
        a,
        |k| matches!(k, EventKind::MappingAdded { nbma, .. } if *nbma == b_nbma)
    ));
    let (a_nbma, a_tunnel) = (s.nbma(1), s.tunnel(1));
    let hub_nbma = IpAddr::from(HUB_NBMA);
    // "10.0.0.12 is at 198.51.100.66", asking A for its own address: straight to A, and to
    // the hub, which would forward it to A.
    let forger = NhrpNode::new(ip(ATTACKER), b_tunnel);
    for (n, to) in [(1u32, a_nbma), (2, hub_nbma)] {
        let req = Repr::resolution_request(n, &forger, a_tunnel, 7200, 1400);
        inject(&mut s, ip(ATTACKER), to, req);
    }
    s.run(secs(1));
    let mapping = s
        .get(a)
        .node()
        .nhrp_client(0)
        .unwrap()
        .cache()
        .lookup(b_tunnel)
        .and_then(|e| e.effective_nbma());
    assert_eq!(mapping, Some(b_nbma), "A still maps B to B");
    assert!(!s.has(
        a,
        |k| matches!(k, EventKind::NbmaPeerUp { nbma } if *nbma == ip(ATTACKER))
    ));
    // The next packet goes to B, not to the attacker.
    s.node(a).take_trace();
    s.ping(1, 25, 2, 37, 2);
    s.run(secs(1));
    let path = s.echo_path(a, 2);
    assert!(
        !path.is_empty() && path.iter().all(|t| t.dst == b_nbma),
        "{path:?}"
    );
    assert_eq!(s.replies(a, 2), 1);
    assert!(
        s.get(a)
            .node()
            .nhrp_client(0)
            .unwrap()
            .stats()
            .bindings_refused
            >= 1
    );
    assert!(s.get(hub).node().nhrp_server(0).unwrap().stats().dropped >= 1);
    s.finish();
}

/// The request ID of the first NHRP packet a node sends (its Registration Request).
fn first_request_id(n: &mut Node) -> u32 {
    loop {
        match n.poll_output() {
            Output::Transmit(t) => {
                let gre = dmvpn_gre::wire::gre::Packet::new_checked(&t.payload[..]).unwrap();
                return Repr::parse_bytes(gre.payload())
                    .unwrap()
                    .request_id()
                    .unwrap();
            }
            Output::Timeout(_) => panic!("nothing sent"),
            Output::Deliver(_) | Output::Event(_) => {}
        }
    }
}

#[test]
fn request_ids_come_from_the_entropy_the_node_is_given() {
    let ex = Example::new(2);
    let now = std::time::Instant::now();
    let id = |seed: u64| {
        let mut n = Node::new(now, ex.spoke(1), Entropy::from_seed(seed)).unwrap();
        first_request_id(&mut n)
    };
    assert_eq!(
        id(1),
        id(1),
        "the same entropy, the same IDs: simulations repeat"
    );
    assert_ne!(id(1), id(2));
    let bytes = |b: u8| {
        let mut n = Node::new(now, ex.spoke(1), Entropy::new([b; 32])).unwrap();
        first_request_id(&mut n)
    };
    assert_ne!(bytes(1), bytes(2));
    for x in [id(1), id(2), bytes(1), bytes(2)] {
        assert!(x > 1000, "not a counter: {x}");
    }
}
