//! The SA database: inbound SAs by SPI (and destination), outbound SAs by peer, and the DMVPN
//! policy that says what to protect.
//!
//! DMVPN needs no crypto ACLs: the policy is derived from the GRE tunnel's source and
//! destination (seed 003: "crypto ACLs … automatically derived from the GRE tunnel source and
//! destination"), i.e. protect IP protocol 47 between the local and the peer NBMA address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use crate::Error;
use crate::sa::{Decapsulated, Event, InboundSa, NEXT_HEADER_GRE, OutboundSa};
use crate::wire::esp::Packet;

/// A traffic selector pair for one peer: protect `protocol` between `local` and `peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Our NBMA address.
    pub local: IpAddr,
    /// The peer's NBMA address.
    pub peer: IpAddr,
    /// The protected IP protocol (47, GRE, for DMVPN).
    pub protocol: u8,
}

impl Policy {
    /// DMVPN's policy: GRE (protocol 47) between the local and the peer NBMA address.
    pub fn dmvpn(local: IpAddr, peer: IpAddr) -> Self {
        Self {
            local,
            peer,
            protocol: NEXT_HEADER_GRE,
        }
    }

    /// Whether an outgoing packet from `src` to `dst` of `protocol` falls under this policy.
    pub fn matches_outbound(&self, src: IpAddr, dst: IpAddr, protocol: u8) -> bool {
        src == self.local && dst == self.peer && protocol == self.protocol
    }

    /// Whether a decapsulated packet from `src` to `dst` of `protocol` falls under this policy
    /// (the inbound policy check of RFC 4301 §5.2).
    pub fn matches_inbound(&self, src: IpAddr, dst: IpAddr, protocol: u8) -> bool {
        src == self.peer && dst == self.local && protocol == self.protocol
    }
}

struct InboundEntry {
    sa: InboundSa,
    policy: Policy,
}

/// Inbound and outbound SAs with their policies.
#[derive(Default)]
pub struct SaDatabase {
    inbound: HashMap<u32, InboundEntry>,
    outbound: HashMap<IpAddr, (Policy, OutboundSa)>,
}

impl core::fmt::Debug for SaDatabase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaDatabase")
            .field(
                "inbound",
                &self
                    .inbound
                    .values()
                    .map(|e| (&e.policy, &e.sa))
                    .collect::<Vec<_>>(),
            )
            .field("outbound", &self.outbound.values().collect::<Vec<_>>())
            .finish()
    }
}

impl SaDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs an inbound SA for `policy`; returns the SA it replaces (same SPI), if any.
    pub fn insert_inbound(&mut self, policy: Policy, sa: InboundSa) -> Option<InboundSa> {
        self.inbound
            .insert(sa.spi(), InboundEntry { sa, policy })
            .map(|e| e.sa)
    }

    /// Installs the outbound SA towards `policy.peer`; returns the SA it replaces (after a
    /// rekey the new SA takes over at once), if any.
    pub fn insert_outbound(&mut self, policy: Policy, sa: OutboundSa) -> Option<OutboundSa> {
        self.outbound
            .insert(policy.peer, (policy, sa))
            .map(|(_, sa)| sa)
    }

    /// Removes the inbound SA with `spi`.
    pub fn remove_inbound(&mut self, spi: u32) -> Option<InboundSa> {
        self.inbound.remove(&spi).map(|e| e.sa)
    }

    /// Removes the outbound SA towards `peer`.
    pub fn remove_outbound(&mut self, peer: IpAddr) -> Option<OutboundSa> {
        self.outbound.remove(&peer).map(|(_, sa)| sa)
    }

    /// Removes every SA of `peer` (for example when its NHRP mapping expires).
    pub fn remove_peer(&mut self, peer: IpAddr) {
        self.outbound.remove(&peer);
        self.inbound.retain(|_, e| e.policy.peer != peer);
    }

    /// The inbound SA with `spi` whose local address is `dst`.
    pub fn inbound(&mut self, spi: u32, dst: IpAddr) -> Option<&mut InboundSa> {
        self.inbound
            .get_mut(&spi)
            .filter(|e| e.policy.local == dst)
            .map(|e| &mut e.sa)
    }

    /// The outbound SA towards `peer`.
    pub fn outbound(&mut self, peer: IpAddr) -> Option<&mut OutboundSa> {
        self.outbound.get_mut(&peer).map(|(_, sa)| sa)
    }

    /// Protects an outgoing packet from `src` to `dst` of `protocol`: [`Error::NoOutboundSa`]
    /// without an SA towards `dst`, [`Error::PolicyMismatch`] if its policy does not cover it.
    pub fn encapsulate<'o>(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        payload: &[u8],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], Error> {
        let (policy, sa) = self.outbound.get_mut(&dst).ok_or(Error::NoOutboundSa)?;
        if !policy.matches_outbound(src, dst, protocol) {
            return Err(Error::PolicyMismatch);
        }
        sa.encapsulate(now, protocol, payload, out)
    }

    /// Looks up the inbound SA by the packet's SPI and `dst`, decapsulates, and checks the
    /// result against the SA's policy (source, destination, protocol).
    pub fn decapsulate<'o>(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        packet: &[u8],
        out: &'o mut [u8],
    ) -> Result<Decapsulated<'o>, Error> {
        let spi = Packet::new_checked(packet)?.spi();
        let entry = self
            .inbound
            .get_mut(&spi)
            .filter(|e| e.policy.local == dst)
            .ok_or(Error::UnknownSpi { spi })?;
        let d = entry.sa.decapsulate(now, packet, out)?;
        if !entry.policy.matches_inbound(src, dst, d.next_header) {
            return Err(Error::PolicyMismatch);
        }
        Ok(d)
    }

    /// Checks time-based lifetimes of every SA.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.inbound
            .values_mut()
            .for_each(|e| e.sa.handle_timeout(now));
        self.outbound
            .values_mut()
            .for_each(|(_, sa)| sa.handle_timeout(now));
    }

    /// The earliest time-based lifetime of any SA.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ins = self.inbound.values().filter_map(|e| e.sa.poll_timeout());
        let outs = self
            .outbound
            .values()
            .filter_map(|(_, sa)| sa.poll_timeout());
        ins.chain(outs).min()
    }

    /// The next event of any SA.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.inbound
            .values_mut()
            .find_map(|e| e.sa.poll_event())
            .or_else(|| {
                self.outbound
                    .values_mut()
                    .find_map(|(_, sa)| sa.poll_event())
            })
    }
}
