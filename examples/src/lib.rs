//! Shared code of the DMVPN example binaries.
//!
//! - [`decode`]: the packet-capture decoder behind `dmvpn-decode` (pcap/pcapng → link layer →
//!   IPv4/IPv6 → GRE → inner protocols, one JSON object per frame, with an optional re-emission
//!   check of every header we parse).
#![forbid(unsafe_code)]

pub mod decode;
