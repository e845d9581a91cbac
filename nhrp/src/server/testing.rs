//! What the server's unit tests share: a hub, spokes, and draining helpers.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use super::{Server, ServerConfig};
use crate::machine::{Event, Transmit};
use crate::wire::{Node, Repr};

/// The hub's NBMA address.
pub(super) const HUB_NBMA: &str = "172.17.0.1";
/// The hub's tunnel address.
pub(super) const HUB_PROTO: &str = "10.0.0.1";

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The hub as a node.
pub(super) fn me() -> Node {
    Node::new(ip(HUB_NBMA), ip(HUB_PROTO))
}

/// Spoke `i`: NBMA 172.16.`i`.1, tunnel address 10.0.0.`i`.
pub(super) fn spoke(i: u8) -> Node {
    Node::new(Ipv4Addr::new(172, 16, i, 1), Ipv4Addr::new(10, 0, 0, i))
}

/// The NBMA address of spoke `i`.
pub(super) fn nbma(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(172, 16, i, 1))
}

/// The tunnel address of spoke `i`.
pub(super) fn proto(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))
}

/// A hub, the configuration adjusted by `f`.
pub(super) fn hub(now: Instant, f: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut config = ServerConfig::new(ip(HUB_NBMA), ip(HUB_PROTO));
    f(&mut config);
    Server::new(now, config).unwrap()
}

/// Spoke `i`'s Registration Request (request ID `100 + i`) for `holding_time` seconds.
pub(super) fn registration(i: u8, holding_time: u16) -> Vec<u8> {
    Repr::registration_request(100 + u32::from(i), &spoke(i), &me(), holding_time, 1400)
        .to_bytes()
        .unwrap()
}

/// Registers spoke `i` from its own NBMA address and returns the reply.
pub(super) fn register(s: &mut Server, now: Instant, i: u8, holding_time: u16) -> Repr {
    s.handle_packet(now, nbma(i), &registration(i, holding_time))
        .unwrap();
    let t = s.poll_transmit().unwrap();
    assert_eq!(t.dst, nbma(i));
    Repr::parse_bytes(&t.payload).unwrap()
}

/// Everything queued to send.
pub(super) fn transmits(s: &mut Server) -> Vec<Transmit> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

/// Everything that happened.
pub(super) fn events(s: &mut Server) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}
