//! A deterministic simulated network for testing Sans-IO protocol machines: a virtual clock, a
//! virtual NBMA (underlay) network with seeded delay, jitter, loss, duplication and reordering,
//! NAT boxes, hosts that crash and restart, and a pcap recording of every datagram sent.
//!
//! Nothing here sleeps or reads the wall clock after construction: time only moves when the
//! simulation moves it, so days of protocol time run in milliseconds and every run with the same
//! seed is identical. DMVPN's test scenarios (seeds 000–004) run on it; so does the `dmvpn-sim`
//! demo.
//!
//! - [`Network`]: datagrams in flight, per-link [`LinkProfile`]s, [`NatConfig`] boxes, hosts
//!   that are down, statistics, and the optional pcap [`Recorder`].
//! - [`Sim`]: drives a set of [`Host`]s (anything with the handle/poll contract of ARCHITECTURE.md, "The machine shape")
//!   over a [`Network`], folding every host's timer and every delivery into one event loop.
//! - [`Machine`] and [`MachineHost`]: a machine of the family that hands out [`Transmit`]s
//!   (NHRP's client and server, the IKEv2 endpoint, ...) as a [`Host`], with its outbox and logs
//!   of events, errors, received datagrams and sent transmits. The headers a machine leaves to
//!   its caller are added and checked here ([`Datagram::from_transmit`], [`Datagram::inbound`]):
//!   a UDP header with its checksum for [`Proto::Udp`], a GRE header for [`Proto::InGre`]. NAT
//!   boxes keep UDP checksums right, as real ones do.
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
mod network;
mod pcap;
mod scenario;
mod sim;

pub use adapt::{AdaptError, Decap, Inbound};
pub use dmvpn_wire::{Proto, Transmit};
pub use machine::{Machine, MachineHost};
pub use network::{Datagram, LinkProfile, NatConfig, NatId, NetStats, Network};
pub use pcap::Recorder;
pub use scenario::Scenario;
pub use sim::{Host, HostId, Sim, SimError};
