//! What the client's unit tests share: a spoke with one hub, and draining helpers.

use std::net::IpAddr;
use std::time::Instant;

use super::{Client, ClientConfig};
use crate::machine::{Event, Transmit};
use crate::wire::{Cie, NbmaAddress, Node, Repr};

/// The hub's NBMA address.
pub(super) const HUB_NBMA: &str = "172.17.0.1";
/// The hub's tunnel address.
pub(super) const HUB_PROTO: &str = "10.0.0.1";
/// The spoke's NBMA address.
pub(super) const SPOKE_NBMA: &str = "172.16.1.24";
/// The spoke's tunnel address.
pub(super) const SPOKE_PROTO: &str = "10.0.0.2";

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The hub as a node.
pub(super) fn hub() -> Node {
    Node::new(ip(HUB_NBMA), ip(HUB_PROTO))
}

/// A spoke with the hub as its NHS, the configuration adjusted by `f`.
pub(super) fn spoke(now: Instant, f: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config =
        ClientConfig::new(ip(SPOKE_NBMA), ip(SPOKE_PROTO)).with_nhs(ip(HUB_PROTO), ip(HUB_NBMA));
    f(&mut config);
    Client::new(now, config).unwrap()
}

/// Everything queued to send.
pub(super) fn transmits(c: &mut Client) -> Vec<Transmit> {
    std::iter::from_fn(|| c.poll_transmit()).collect()
}

/// Everything that happened.
pub(super) fn events(c: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The hub's reply, with `cies`, to the request in `request`.
pub(super) fn reply(request: &[u8], cies: Vec<Cie>) -> Vec<u8> {
    Repr::parse_bytes(request)
        .unwrap()
        .reply(&hub(), cies)
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// What a peer at `nbma` / `proto` answers for itself.
pub(super) fn binding(nbma: &str, proto: &str, holding_time: u16) -> Cie {
    Cie {
        prefix_len: 32,
        mtu: 1400,
        holding_time,
        client_nbma_addr: NbmaAddress::from(ip(nbma)),
        client_proto_addr: ip(proto).into(),
        ..Cie::default()
    }
}
