//! The forwarding path: underlay datagrams in (GRE, then NHRP or tunnelled IP), overlay
//! packets in (routed unicast, replicated multicast), the hub's hairpin back into the cloud
//! with its phase 3 redirect, and GRE encapsulation of everything the node sends.
//!
//! Rules: a forwarded packet's TTL is decremented and a packet whose TTL runs out is dropped
//! and counted; a hub never sends a packet back to the peer it came from (counted as a loop);
//! multicast goes once to every multicast destination of the interface.

use std::net::IpAddr;
use std::time::Instant;

use dmvpn_gre::Protocol;
use dmvpn_nhrp::{Entry, EntryType, Resolution};
use dmvpn_wire::ip::Repr as IpRepr;
use ipnet::IpNet;

use super::mtu::Origin;
use super::protect::Egress;
use super::{Iface, Node, Transmit, bump};
use crate::config::TunnelMode;
use crate::error::Error;

/// Where a unicast packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Path {
    /// Straight to the next hop's NBMA address.
    Direct,
    /// Through an NHS, while a resolution runs (or after it failed).
    ViaNhs,
}

/// Whether `dst` is a broadcast address for one of the interfaces' subnets (or the limited
/// broadcast).
fn is_broadcast(dst: IpAddr, ifaces: &[Iface]) -> bool {
    match dst {
        IpAddr::V4(d) => {
            d.is_broadcast()
                || ifaces.iter().any(|i| {
                    matches!(i.cfg.address, IpNet::V4(n) if n.prefix_len() < 31 && n.broadcast() == d)
                })
        }
        IpAddr::V6(_) => false,
    }
}

/// The GRE protocol type of an IP packet (by its version nibble).
fn ip_protocol(packet: &[u8]) -> Protocol {
    if packet.first().map(|b| b >> 4) == Some(6) {
        Protocol::IPV6
    } else {
        Protocol::IPV4
    }
}

impl Node {
    // ----- underlay (from the NBMA network) -----

    /// A GRE packet from the underlay: decapsulated by the interface it is for, then NHRP to
    /// the machines, IP to [`Node::on_tunnelled`].
    ///
    /// GRE keeps per-peer state only for peers the node vouches for ([`dmvpn_gre::Tunnel::admit`]):
    /// a peer whose NHRP packet a machine accepted (authenticated, when `ip nhrp
    /// authentication` is on; Error Indications, which carry no authentication, do not count),
    /// and a peer the interface has a mapping for sending tunnelled IP. Peers the node sends to
    /// get state on transmit. A spoofed source that fails the key check or authentication, or
    /// sends IP with no mapping, leaves nothing behind but the counters.
    pub(super) fn on_underlay(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) -> Result<(), Error> {
        bump(&mut self.stats.underlay_in);
        self.on_gre(now, src, dst, payload, None)
    }

    /// A GRE packet from `src` to `dst`: in clear (`group` `None`) or out of an ESP SA of
    /// crypto group `group`. A protected interface takes GRE only from its own group's ESP;
    /// cleartext GRE for it is dropped and counted.
    pub(super) fn on_gre(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
        group: Option<usize>,
    ) -> Result<(), Error> {
        let Some(t) = self.interface_for(dst, payload) else {
            bump(&mut self.stats.underlay_not_local);
            return Err(Error::NotLocal(dst));
        };
        let Some(f) = self.ifaces.get_mut(t) else {
            return Err(Error::NotLocal(dst));
        };
        if f.protect != group {
            match f.protect.and_then(|g| self.groups.get_mut(g)) {
                Some(grp) => bump(&mut grp.stats.cleartext_dropped),
                None => bump(&mut self.stats.gre_dropped),
            }
            return Err(Error::Cleartext(src));
        }
        let rx = match f.gre.decapsulate(src, payload) {
            Ok(rx) => rx,
            Err(e) => {
                bump(&mut self.stats.gre_dropped);
                return Err(Error::Gre(e));
            }
        };
        let protocol = rx.protocol();
        let inner = rx.payload;
        match protocol {
            Protocol::NHRP => {
                if self.on_nhrp(now, t, src, inner)? {
                    self.admit(now, t, &rx);
                }
                Ok(())
            }
            Protocol::IPV4 | Protocol::IPV6 => {
                if f.gre.peer(src).is_none() && f.peers.contains_key(&src) {
                    // A mapped peer without GRE state yet (its entry expired, say).
                    let _ = f.gre.admit(now, &rx);
                }
                self.on_tunnelled(now, t, src, protocol, inner)
            }
            other => {
                bump(&mut self.stats.unsupported_protocol);
                Err(Error::UnsupportedProtocol(other.0))
            }
        }
    }

    /// Tells tunnel `t`'s GRE that the node accepted `rx` from its peer (a full table refuses,
    /// counted in the tunnel's [`dmvpn_gre::PeerTableStats::refused`]; the packet stays
    /// accepted).
    fn admit(&mut self, now: Instant, t: usize, rx: &dmvpn_gre::Received<'_>) {
        if let Some(f) = self.ifaces.get_mut(t) {
            let _ = f.gre.admit(now, rx);
        }
    }

    /// An IP packet out of a tunnel: delivered to the overlay, or, on a hub whose routes say
    /// it belongs behind another peer, sent back out (with a Traffic Indication to the sender
    /// when `ip nhrp redirect` is on).
    fn on_tunnelled(
        &mut self,
        now: Instant,
        t: usize,
        from: IpAddr,
        protocol: Protocol,
        inner: &[u8],
    ) -> Result<(), Error> {
        let ip = match IpRepr::parse(inner) {
            Ok((ip, _)) => ip,
            Err(e) => {
                bump(&mut self.stats.tunnelled_malformed);
                return Err(Error::MalformedOverlay(e));
            }
        };
        let src = ip.src_addr();
        if self
            .ifaces
            .get(t)
            .is_some_and(|f| f.cfg.verify_unicast_source)
            && !self.source_routes_back(t, src, from)
        {
            bump(&mut self.stats.verify_source_drops);
            self.resolve_source(now, t, src, from);
            return Err(Error::UnverifiedSource { src, from });
        }
        let dst = ip.dst_addr();
        let hub = self.ifaces.get(t).is_some_and(|f| f.server.is_some());
        if hub
            && !dst.is_multicast()
            && !is_broadcast(dst, &self.ifaces)
            && !self.is_own(dst)
            && let Some((out, via, shortcut)) = self.lookup(dst)
            && !self.is_own(via)
        {
            let (nbma, path, egress) = match self.next_nbma(now, out, via, dst, shortcut) {
                Ok(x) => x,
                Err(e) => {
                    bump(&mut self.stats.no_mapping);
                    return Err(e);
                }
            };
            if nbma == from && out == t {
                bump(&mut self.stats.loops);
                return Err(Error::Loop(dst));
            }
            let origin = Origin::Tunnel { t, from };
            self.send_ip(now, out, nbma, egress, protocol, inner, origin)?;
            bump(&mut self.stats.forwarded);
            if path == Path::ViaNhs {
                bump(&mut self.stats.sent_via_nhs);
            }
            let redirect = out == t && self.ifaces.get(t).is_some_and(|f| f.cfg.nhrp.redirect);
            if redirect
                && let Some(s) = self.ifaces.get_mut(t).and_then(|f| f.server.as_mut())
                && let Ok(true) = s.note_forwarded(now, from, inner)
            {
                bump(&mut self.stats.redirects_sent);
            }
            self.drain_iface(now, t);
            return Ok(());
        }
        self.deliver_clamped(t, inner, self.adjust_mss(t))
    }

    /// `verify_unicast_source`: whether inner source `src` of a packet that came out of tunnel
    /// `t` from NBMA address `from` routes back through `from` (see
    /// [`TunnelConfig::verify_unicast_source`](crate::config::TunnelConfig::verify_unicast_source)).
    /// Looks only: unlike [`Node::next_nbma`], it marks no mapping used and starts no
    /// resolution.
    fn source_routes_back(&self, t: usize, src: IpAddr, from: IpAddr) -> bool {
        if self.is_own(src) || self.networks.iter().any(|n| n.contains(&src)) {
            return false;
        }
        let Some((out, via, shortcut)) = self.lookup(src) else {
            return false;
        };
        let Some(f) = self.ifaces.get(t).filter(|_| out == t) else {
            return false;
        };
        if let TunnelMode::PointToPoint { destination } = f.cfg.mode {
            return destination == from;
        }
        let complete = |e: &Entry| e.is_complete() && e.kind != EntryType::Local;
        if let Some(n) = f.server.as_ref().and_then(|s| {
            s.cache()
                .lookup(via)
                .filter(complete)
                .and_then(|e| e.effective_nbma())
        }) {
            return n == from;
        }
        let Some(c) = f.client.as_ref() else {
            return false;
        };
        let mapped = |key: IpAddr| {
            c.cache()
                .lookup(key)
                .filter(complete)
                .and_then(|e| e.effective_nbma())
                .filter(|n| *n != f.cfg.source)
        };
        // The mapping NHRP has for the source itself (a shortcut's, or one resolved by
        // `resolve_source`), or the one for the route's next hop (for a shortcut route, the
        // mapping of the destination it was installed for).
        let key = if shortcut { src } else { via };
        mapped(src) == Some(from)
            || mapped(key) == Some(from)
            || mapped(via) == Some(from)
            || f.cfg
                .nhrp
                .nhs
                .iter()
                .any(|n| f.cfg.nhrp.nhs_nbma(n) == Some(from))
    }

    /// After a `verify_unicast_source` drop on a phase 3 spoke (`ip nhrp shortcut`): a packet
    /// straight from a peer the interface has a mapping for, whose source this node still
    /// routes through the hub (the summary route; the far side's shortcut came up first), may
    /// well be from behind that peer. Resolve the source as a Traffic Indication would; once
    /// NHRP maps it to that peer, its packets pass (a one-way flow would otherwise never be
    /// delivered). A spoofed source resolves elsewhere and stays refused. Bounded like every
    /// resolution (`max-send`, the pending table, the negative hold-down).
    fn resolve_source(&mut self, now: Instant, t: usize, src: IpAddr, from: IpAddr) {
        let routed_here = !self.is_own(src)
            && !self.networks.iter().any(|n| n.contains(&src))
            && self.lookup(src).is_some_and(|(out, _, _)| out == t);
        let Some(f) = self.ifaces.get_mut(t) else {
            return;
        };
        if !(routed_here && f.cfg.nhrp.shortcut && f.peers.contains_key(&from)) {
            return;
        }
        if let Some(c) = f.client.as_mut() {
            // A refusal (a full pending table) is counted by the client.
            let _ = c.resolve(now, src);
            self.drain_iface(now, t);
        }
    }

    // ----- overlay (from the TUN) -----

    /// An IP packet from the caller's TUN: replicated (multicast, broadcast), delivered back
    /// (for one of the node's own tunnel addresses) or routed into a tunnel.
    pub(super) fn on_overlay(&mut self, now: Instant, packet: &[u8]) -> Result<(), Error> {
        bump(&mut self.stats.overlay_in);
        let (ip, _) = match IpRepr::parse(packet) {
            Ok(r) => r,
            Err(e) => {
                bump(&mut self.stats.overlay_malformed);
                return Err(Error::MalformedOverlay(e));
            }
        };
        let protocol = ip_protocol(packet);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        if dst.is_multicast() || is_broadcast(dst, &self.ifaces) {
            return self.replicate(now, src, protocol, packet);
        }
        if let Some(t) = self.ifaces.iter().position(|f| f.own() == dst) {
            return self.deliver(t, packet);
        }
        let Some((t, via, shortcut)) = self.lookup(dst) else {
            bump(&mut self.stats.no_route);
            return Err(Error::NoRoute(dst));
        };
        let (nbma, path, egress) = match self.next_nbma(now, t, via, dst, shortcut) {
            Ok(x) => x,
            Err(e) => {
                bump(&mut self.stats.no_mapping);
                return Err(e);
            }
        };
        self.send_ip(now, t, nbma, egress, protocol, packet, Origin::Lan)?;
        match path {
            Path::Direct => bump(&mut self.stats.sent_direct),
            Path::ViaNhs => bump(&mut self.stats.sent_via_nhs),
        }
        Ok(())
    }

    /// The NBMA address to send a packet for `dst` (next hop `via`) to on tunnel `t`: a
    /// registration (hub), a mapping (spoke), or, while a resolution runs, an NHS; with how the
    /// packet leaves for it ([`Node::egress`], looked up once here for the whole send path).
    fn next_nbma(
        &mut self,
        now: Instant,
        t: usize,
        via: IpAddr,
        dst: IpAddr,
        shortcut: bool,
    ) -> Result<(IpAddr, Path, Egress), Error> {
        let f = self.ifaces.get_mut(t).ok_or(Error::NoTunnelFor(via))?;
        if let TunnelMode::PointToPoint { destination } = f.cfg.mode {
            return Ok((destination, Path::Direct, self.egress(t, destination)));
        }
        let source = f.cfg.source;
        if let Some(s) = f.server.as_ref()
            && let Some(n) = s
                .cache()
                .lookup(via)
                .filter(|e| e.is_complete() && e.kind != EntryType::Local)
                .and_then(|e| e.effective_nbma())
        {
            return Ok((n, Path::Direct, self.egress(t, n)));
        }
        let Some(c) = f.client.as_mut() else {
            return Err(Error::NoMapping(via));
        };
        let key = if shortcut { dst } else { via };
        let mut direct = c.mark_used(now, key).filter(|n| *n != source);
        if direct.is_none() && shortcut && key != via {
            direct = c.mark_used(now, via).filter(|n| *n != source);
        }
        if direct.is_none() {
            direct = match c.resolve(now, via) {
                Ok(Resolution::Cached(n)) if n != source => Some(n),
                _ => None,
            };
        }
        let nhs = c.first_nhs().map(|(_, nbma)| nbma);
        // Marking a mapping used may have started its refresh: send it now, not at the
        // retransmission timer.
        self.drain_iface(now, t);
        // On a protected interface a peer without an SA yet is reached through the hub.
        if let Some(n) = direct {
            let egress = self.egress(t, n);
            if egress.can_send() || nhs.is_none() {
                return Ok((n, Path::Direct, egress));
            }
        }
        match nhs {
            Some(n) => Ok((n, Path::ViaNhs, self.egress(t, n))),
            None => Err(Error::NoMapping(via)),
        }
    }

    /// Multicast and broadcast: one copy to every multicast NBMA destination of the interfaces
    /// the source belongs to (every registered spoke on a hub with `map multicast dynamic`, the
    /// `map multicast` addresses — the hubs — on a spoke); a source on none of their subnets
    /// (a LAN or IPv6 link-local address) goes to every interface whose overlay is of its
    /// family.
    fn replicate(
        &mut self,
        now: Instant,
        src: IpAddr,
        protocol: Protocol,
        packet: &[u8],
    ) -> Result<(), Error> {
        let own: Vec<usize> = self
            .ifaces
            .iter()
            .enumerate()
            .filter(|(_, f)| f.cfg.address.contains(&src))
            .map(|(i, _)| i)
            .collect();
        let tunnels: Vec<usize> = if own.is_empty() {
            let v4 = src.is_ipv4();
            (self.ifaces.iter().enumerate())
                .filter(|(_, f)| f.cfg.address.addr().is_ipv4() == v4)
                .map(|(i, _)| i)
                .collect()
        } else {
            own
        };
        let mut result = Ok(());
        for t in tunnels {
            let Some(f) = self.ifaces.get(t) else {
                continue;
            };
            let mut targets: Vec<IpAddr> = f.cfg.nhrp.map_multicast.clone();
            if let Some(s) = &f.server {
                targets.extend(s.multicast_nbmas());
            }
            if let TunnelMode::PointToPoint { destination } = f.cfg.mode {
                targets.push(destination);
            }
            let source = f.cfg.source;
            targets.retain(|a| *a != source && a.is_ipv4() == source.is_ipv4());
            targets.sort_unstable();
            targets.dedup();
            for nbma in targets {
                let egress = self.egress(t, nbma);
                match self.send_ip(now, t, nbma, egress, protocol, packet, Origin::Lan) {
                    Ok(()) => bump(&mut self.stats.multicast_copies),
                    Err(e) => result = Err(e),
                }
            }
        }
        result
    }

    // ----- GRE out -----

    /// Wraps `payload` (of GRE protocol type `protocol`) in tunnel `t`'s GRE header for `nbma`
    /// and queues it; `decrement` (forwarding) decrements the inner TTL first, dropping the
    /// packet when it runs out. An IP packet has its TCP MSS clamped (`ip tcp adjust-mss`) in
    /// the copy; its size is the caller's business (`send_ip` holds it to the MTU). `egress`
    /// is how it leaves ([`Node::egress`] of `t` and `nbma`, looked up by the caller).
    pub(super) fn emit(
        &mut self,
        t: usize,
        nbma: IpAddr,
        egress: Egress,
        protocol: Protocol,
        payload: &[u8],
        decrement: bool,
    ) -> Result<(), Error> {
        if self.transmits.len() >= self.limits.max_transmits {
            bump(&mut self.stats.transmits_dropped);
            return Err(Error::QueueFull(self.limits.max_transmits));
        }
        let mut buf = self.buffer();
        // A protected interface leaves room for ESP around the GRE packet (and, in tunnel mode,
        // an inner IP header), so that ESP is added in place: the payload is copied once.
        let sa = egress.sa();
        let Some(f) = self.ifaces.get_mut(t) else {
            return Err(Error::NoTunnelFor(nbma));
        };
        let (head, tail, tunnel) = sa.map_or((0, 0, false), |s| {
            (s.layout.head, s.layout.tail, s.layout.tunnel)
        });
        let hl = if tunnel {
            f.gre.overhead()
        } else {
            f.gre.gre_overhead()
        };
        buf.resize(head + hl, 0);
        buf.reserve(payload.len() + tail);
        buf.extend_from_slice(payload);
        if decrement
            && !buf
                .get_mut(head + hl..)
                .is_some_and(dmvpn_wire::ip::decrement_ttl)
        {
            bump(&mut self.stats.ttl_expired);
            self.recycle(buf);
            return Err(Error::TtlExpired(nbma));
        }
        // `ip tcp adjust-mss`, on the copy just made (see `mtu`).
        if let Some(max) = f.cfg.adjust_mss
            && matches!(protocol, Protocol::IPV4 | Protocol::IPV6)
            && buf
                .get_mut(head + hl..)
                .and_then(|p| dmvpn_wire::tcp::clamp_mss(p, max))
                .is_some()
        {
            bump(&mut self.stats.mss_clamped);
        }
        let gre = match buf.get_mut(head..) {
            Some(b) if tunnel => f.gre.encapsulate_ip(nbma, protocol, b, hl, payload.len()),
            Some(b) => f.gre.encapsulate(nbma, protocol, b, hl, payload.len()),
            None => Err(dmvpn_gre::Error::Truncated {
                needed: head,
                got: 0,
            }),
        };
        if let Err(e) = gre {
            bump(&mut self.stats.encapsulation_errors);
            self.recycle(buf);
            return Err(Error::Gre(e));
        }
        let src = f.cfg.source;
        if let Some(g) = f.protect {
            let inner = hl - f.gre.gre_overhead();
            let p = super::protect::Sealable {
                buf,
                start: head,
                inner,
                sa,
            };
            return self.seal(g, nbma, p, protocol == Protocol::NHRP);
        }
        self.transmits.push_back(Transmit {
            src,
            dst: nbma,
            proto: dmvpn_wire::Proto::GRE,
            payload: buf,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::node::Output;
    use crate::node::testkit::{
        HUB_NBMA, HUB_TUNNEL, HUB_TUNNEL_V4, Net, data, ipv4, overlay, spoke_nbma, underlay,
    };

    const A_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 25);
    const B_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 2, 37);

    /// Spoke `i` sends `packet` with no mapping yet: the data packet it sends to the hub.
    fn via_hub(n: &mut Net, i: u8, packet: &[u8]) -> Transmit {
        let now = n.now;
        overlay(n.spoke(i), now, packet).unwrap();
        let sent = n.take(i);
        let mut data_to_hub = sent
            .into_iter()
            .filter(|t| t.dst == HUB_NBMA && data(t).is_some());
        let t = data_to_hub.next().unwrap();
        assert!(data_to_hub.next().is_none());
        t
    }

    #[test]
    fn the_hub_decrements_the_ttl_and_drops_a_packet_whose_ttl_runs_out() {
        let mut n = Net::registered(2);
        let now = n.now;
        // TTL 1: spoke A sends it (a source does not decrement), the hub must not forward it.
        let tx = via_hub(&mut n, 1, &ipv4(A_HOST, B_HOST, 1));
        assert_eq!(data(&tx).map(|p| p[8]), Some(1));
        let before = n.hub().stats();
        assert_eq!(
            underlay(n.hub(), now, &tx),
            Err(Error::TtlExpired(spoke_nbma(2)))
        );
        let after = n.hub().stats();
        assert_eq!(after.ttl_expired, before.ttl_expired + 1);
        assert_eq!(after.forwarded, before.forwarded);
        assert!(n.take_hub().iter().all(|t| t.dst != spoke_nbma(2)));

        // TTL 9: forwarded to spoke B with TTL 8 and a header checksum still valid.
        let tx = via_hub(&mut n, 1, &ipv4(A_HOST, B_HOST, 9));
        underlay(n.hub(), now, &tx).unwrap();
        let out = n.take_hub();
        let fwd = out.iter().find(|t| t.dst == spoke_nbma(2)).unwrap();
        let inner = data(fwd).unwrap();
        let (ip, _) = IpRepr::parse(inner).unwrap();
        assert_eq!((ip.dst_addr(), inner[8]), (IpAddr::V4(B_HOST), 8));
        assert_eq!(dmvpn_wire::checksum::checksum(&inner[..20]), 0);
        let s = n.hub().stats();
        assert_eq!(
            (s.forwarded, s.ttl_expired),
            (before.forwarded + 1, after.ttl_expired)
        );
    }

    #[test]
    fn the_hub_never_sends_a_packet_back_to_its_sender() {
        let mut n = Net::registered(2);
        let now = n.now;
        // Spoke A routes a prefix of its own LAN via the hub; the hub routes it back to A.
        let lan = "192.168.1.0/24".parse().unwrap();
        n.spoke(1).add_route(lan, HUB_TUNNEL).unwrap();
        let dst = Ipv4Addr::new(192, 168, 1, 99);
        let tx = via_hub(&mut n, 1, &ipv4(Ipv4Addr::new(10, 0, 0, 11), dst, 64));
        let before = n.hub().stats();
        assert_eq!(
            underlay(n.hub(), now, &tx),
            Err(Error::Loop(IpAddr::V4(dst)))
        );
        let after = n.hub().stats();
        assert_eq!(after.loops, before.loops + 1);
        assert_eq!(after.forwarded, before.forwarded);
        assert!(n.take_hub().is_empty(), "nothing goes back to spoke A");
    }

    #[test]
    fn multicast_is_replicated_once_per_registered_spoke() {
        let mut n = Net::registered(3);
        let now = n.now;
        // A static multicast address that is also a registered spoke still gets one copy.
        n.hub().ifaces[0].cfg.nhrp.map_multicast.push(spoke_nbma(2));
        let p = ipv4(HUB_TUNNEL_V4, Ipv4Addr::new(224, 0, 0, 10), 2);
        overlay(n.hub(), now, &p).unwrap();
        let out = n.take_hub();
        let mut dsts: Vec<IpAddr> = out.iter().map(|t| t.dst).collect();
        dsts.sort();
        assert_eq!(dsts, vec![spoke_nbma(1), spoke_nbma(2), spoke_nbma(3)]);
        assert!(out.iter().all(|t| t.src == HUB_NBMA));
        assert_eq!(n.hub().stats().multicast_copies, 3);
        // The node is the source: no TTL decrement.
        assert!(out.iter().all(|t| data(t) == Some(&p[..])));
        // The tunnel subnet's broadcast address is replicated the same way.
        let b = ipv4(HUB_TUNNEL_V4, Ipv4Addr::new(10, 0, 0, 255), 2);
        overlay(n.hub(), now, &b).unwrap();
        assert_eq!(n.take_hub().len(), 3);
        assert_eq!(n.hub().stats().multicast_copies, 6);
    }

    #[test]
    fn a_spoke_sends_multicast_to_its_map_multicast_hubs_only() {
        let mut n = Net::registered(2);
        let now = n.now;
        let p = ipv4(Ipv4Addr::new(10, 0, 0, 11), Ipv4Addr::new(224, 0, 0, 5), 1);
        overlay(n.spoke(1), now, &p).unwrap();
        let out = n.take(1);
        assert_eq!(
            out.iter().map(|t| t.dst).collect::<Vec<_>>(),
            vec![HUB_NBMA]
        );
        assert_eq!(n.spoke(1).stats().multicast_copies, 1);
    }

    #[test]
    fn overlay_without_a_route_or_for_the_node_itself() {
        let mut n = Net::registered(1);
        let now = n.now;
        let nowhere = Ipv4Addr::new(172, 31, 0, 1);
        assert_eq!(
            overlay(n.spoke(1), now, &ipv4(A_HOST, nowhere, 64)),
            Err(Error::NoRoute(IpAddr::V4(nowhere)))
        );
        assert_eq!(n.spoke(1).stats().no_route, 1);
        // A packet for the node's own tunnel address comes straight back out to the overlay.
        let own = ipv4(A_HOST, Ipv4Addr::new(10, 0, 0, 11), 64);
        overlay(n.spoke(1), now, &own).unwrap();
        assert!(matches!(n.spoke(1).poll_output(), Output::Deliver(d) if d.packet() == own));
        assert!(n.take(1).is_empty());
    }

    #[test]
    fn a_full_transmit_queue_drops_and_counts() {
        let limits = crate::Limits {
            max_transmits: 2,
            ..crate::Limits::default()
        };
        let mut n = Net::with_limits(3, limits);
        let now = n.now;
        let p = ipv4(HUB_TUNNEL_V4, Ipv4Addr::new(224, 0, 0, 10), 2);
        assert_eq!(overlay(n.hub(), now, &p), Err(Error::QueueFull(2)));
        let s = n.hub().stats();
        assert_eq!((s.multicast_copies, s.transmits_dropped), (2, 1));
    }
}
