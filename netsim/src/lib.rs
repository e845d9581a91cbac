//! A deterministic simulated network for testing Sans-IO protocol machines: a virtual clock, a
//! virtual NBMA (underlay) network with seeded delay, jitter, loss, duplication and reordering,
//! NAT boxes, hosts that crash and restart, and a pcap recording of every datagram sent.
//!
//! Nothing here sleeps or reads the wall clock after construction: time only moves when the
//! simulation moves it, so days of protocol time run in milliseconds and every run with the same
//! seed is identical. DMVPN's test scenarios (seeds 000–004) run on it; so does the `dmvpn-sim`
//! demo.
//!
//! - [`Network`]: datagrams in flight, per-link [`LinkProfile`]s, NAT boxes, hosts that are
//!   down, statistics, and the optional pcap [`Recorder`].
//! - NAT boxes, of two kinds, each with its [`NatStats`] ([`Network::nat_stats`]):
//!   - [`NatConfig`] ([`Network::add_nat`]): one-to-one dynamic NAT. Each inside host gets a
//!     public address of its own from a pool; every IP protocol passes (GRE and ESP included),
//!     and mappings never expire.
//!   - [`NaptConfig`] ([`Network::add_napt`]): a port-translating NAT like a home router or a
//!     carrier-grade NAT, with RFC 4787's behaviours: one public address shared by port, or a
//!     pool of them paired per inside host (REQ-2: each host keeps one address for all its
//!     sockets, so spokes behind one box go out on different addresses, as seed 002 asks);
//!     endpoint-independent mapping (REQ-1), port preservation or sequential allocation;
//!     endpoint-independent, address-dependent or address- and port-dependent [`Filtering`]
//!     (§5); refresh by outbound traffic only and an idle timeout (REQ-6); hairpinning on or
//!     off (§6); and rebinding to new ports and a new address ([`Network::rebind`]). Only UDP
//!     is translated: GRE (47), ESP (50) and every other protocol are dropped both ways, so
//!     IPsec must run as ESP in UDP 4500 with NAT keepalives (RFC 3948) behind one.
//!     [`Network::napt_mapping`] tells a test the public endpoint of an inside socket.
//!
//!   Boxes translate outbound datagrams when they are sent (the recording shows them after
//!   source NAT; a hairpinned datagram is recorded once, as sent to the public address) and
//!   inbound ones when they arrive, and keep UDP checksums right by incremental update.
//!   Private addresses behind a box are not reachable from outside it, nor from its other
//!   inside hosts, which talk to each other through public mappings.
//! - [`Sim`]: drives a set of [`Host`]s (anything with the handle/poll contract of ARCHITECTURE.md, "The machine shape")
//!   over a [`Network`], folding every host's timer and every delivery into one event loop.
//! - [`Machine`] and [`MachineHost`]: a machine of the family that hands out [`Transmit`]s
//!   (NHRP's client and server, the IKEv2 endpoint, ...) as a [`Host`], with its outbox and logs
//!   of events, errors, received datagrams and sent transmits. The headers a machine leaves to
//!   its caller are added and checked here ([`Datagram::from_transmit`], [`Datagram::inbound`]):
//!   a UDP header with its checksum for [`Proto::Udp`], a GRE header for [`Proto::InGre`]. NAT
//!   boxes keep UDP checksums right, as real ones do.
//! - [`OpCounts`] ([`Network::op_counts`], [`Sim::op_counts`]): the work done, counted in
//!   operations on the simulator's tables, a diagnostic for tests that check that the work
//!   per datagram does not grow with the number of hosts.
//! - [`Scenario`]: a named [`Sim`] that records from the start and writes `<dir>/<name>.pcap`
//!   when finished, so that a scenario test is its hosts, its commands and its assertions.
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::{Duration, Instant};
//! use dmvpn_netsim::{Datagram, Host, Network, Sim};
//!
//! /// Answers every datagram with the same payload, once.
//! struct Echo(IpAddr, Vec<Datagram>);
//! impl Host for Echo {
//!     fn addr(&self) -> IpAddr { self.0 }
//!     fn handle_datagram(&mut self, _now: Instant, d: Datagram) {
//!         if d.payload != b"pong" {
//!             self.1.push(Datagram { src: self.0, dst: d.src, protocol: d.protocol, payload: b"pong".to_vec() });
//!         }
//!     }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn poll_transmit(&mut self) -> Option<Datagram> { self.1.pop() }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//! }
//!
//! let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
//! let mut sim = Sim::new(Network::new(7, Instant::now()));
//! let ia = sim.add_host(Echo(a, vec![Datagram { src: a, dst: b, protocol: 253, payload: b"ping".to_vec() }]));
//! sim.add_host(Echo(b, vec![]));
//! let end = sim.now() + Duration::from_secs(1);
//! sim.run_until(end).unwrap();
//! assert_eq!(sim.network().stats().delivered, 2); // ping, then pong
//! ```
#![forbid(unsafe_code)]

mod adapt;
mod machine;
mod nat;
mod network;
mod pcap;
mod scenario;
mod sim;

pub use adapt::{AdaptError, Decap, Inbound};
pub use dmvpn_wire::{Proto, Transmit};
pub use machine::{Machine, MachineHost};
pub use nat::{Filtering, NaptConfig, NatConfig, NatId, NatStats};
pub use network::{Datagram, LinkProfile, NetStats, Network, OpCounts};
pub use pcap::Recorder;
pub use scenario::Scenario;
pub use sim::{Host, HostId, Sim, SimError};
