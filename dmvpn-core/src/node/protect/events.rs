//! The IKE endpoint's and the SA database's events turned into the node's state: SAs
//! installed and removed, duplicates retired, lost hubs reset and registrations of lost
//! spokes removed, queued NHRP packets released, lifetimes rekeyed, timers run.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use dmvpn_esp::wire::udp_encap::NAT_T_PORT;
use dmvpn_esp::{InboundSa, OutboundSa, Policy};
use dmvpn_ikev2::{DownReason, IkeSaId};
use dmvpn_wire::Proto;

use super::ike::IkeEvent;
use super::{Child, IKE_PORT};
use crate::event::EventKind;
use crate::node::debug::Dir;
use crate::node::{Node, bump};

impl Node {
    /// Moves the endpoint's datagrams to the transmit queue and handles its events.
    pub(crate) fn drain_ike(&mut self, now: Instant, g: usize) {
        loop {
            let Some(grp) = self.groups.get_mut(g) else {
                return;
            };
            if let Some(t) = grp.ep.poll_transmit() {
                if let Proto::Udp { src_port, dst_port } = t.proto {
                    let (local, remote) = (
                        SocketAddr::new(t.src, src_port),
                        SocketAddr::new(t.dst, dst_port),
                    );
                    self.debug_ike(Dir::Send, local, remote, &t.payload);
                }
                let _ = self.push_transmit(t);
                continue;
            }
            let Some(e) = grp.ep.poll_event(self.keylog_on) else {
                break;
            };
            self.on_ike_event(now, g, e);
        }
        self.drain_sadb(now, g);
    }

    /// The SA database's lifetime events: a soft limit rekeys the child SA, a hard one removes
    /// the ESP SA.
    pub(crate) fn drain_sadb(&mut self, now: Instant, g: usize) {
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        let mut rekey = Vec::new();
        while let Some(e) = grp.sadb.poll_event() {
            let inbound = match e.sa.direction {
                dmvpn_esp::Direction::Inbound => Some(e.sa.spi),
                dmvpn_esp::Direction::Outbound => grp
                    .children
                    .iter()
                    .find(|(_, c)| c.outbound_spi == e.sa.spi)
                    .map(|(s, _)| *s),
            };
            match e.event {
                dmvpn_esp::Event::RekeyDue { .. } | dmvpn_esp::Event::SequenceExhausted { .. } => {
                    if let Some(spi) = inbound
                        && let Some(c) = grp.children.get(&spi)
                    {
                        rekey.push((c.ike, spi));
                    }
                }
                dmvpn_esp::Event::Expired { spi, .. } => match e.sa.direction {
                    dmvpn_esp::Direction::Inbound => {
                        grp.sadb.remove_inbound(spi);
                    }
                    dmvpn_esp::Direction::Outbound => {
                        grp.sadb.remove_outbound(spi);
                    }
                },
            }
        }
        rekey.sort_unstable();
        rekey.dedup();
        let mut any = false;
        for (ike, spi) in rekey {
            any |= grp.ep.rekey_child(now, ike, spi).is_ok();
        }
        if any {
            self.drain_ike(now, g);
        }
    }

    fn on_ike_event(&mut self, now: Instant, g: usize, e: IkeEvent) {
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        let t = grp.ifaces.first().copied().unwrap_or(0);
        match e {
            IkeEvent::Up {
                sa,
                local,
                remote,
                initiator,
                spis: (spi_i, spi_r),
                peer_id,
                keylog,
                nat,
                behind_nat,
            } => {
                let peer = remote.ip();
                // Behind a NAT, new SAs start on port 4500 (RFC 7296 §2.23 allows it): the
                // NAT's mapping for 4500 is the one the keepalives keep open.
                grp.behind_nat = behind_nat;
                if let Some(row) = keylog {
                    self.keylog.push_back(row);
                }
                let Some(grp) = self.groups.get_mut(g) else {
                    return;
                };
                let p = grp.peers.entry(peer).or_default();
                if p.negotiating == Some(sa) {
                    p.negotiating = None;
                }
                let keep = match p.ike {
                    Some((other, other_init)) if other != sa => {
                        // Two SAs with one peer: the one the lower address initiated stays;
                        // through a NAT (each side sees other addresses) the one with the
                        // lower SPI pair, which both sides see alike.
                        let init_addr = |we: bool| if we { local.ip() } else { peer };
                        let new_wins = if nat {
                            (spi_i, spi_r) < p.ike_spis
                        } else {
                            init_addr(initiator) < init_addr(other_init)
                        };
                        let (loser, loser_ours) = if new_wins {
                            (other, other_init)
                        } else {
                            (sa, initiator)
                        };
                        if new_wins {
                            p.ike = Some((sa, initiator));
                            p.ike_spis = (spi_i, spi_r);
                        }
                        Some((loser, loser_ours))
                    }
                    _ => {
                        p.ike = Some((sa, initiator));
                        p.ike_spis = (spi_i, spi_r);
                        None
                    }
                };
                p.failures = 0;
                p.up_since.get_or_insert(now);
                grp.set_retry(peer, None);
                if let Some((loser, ours)) = keep {
                    if ours {
                        bump(&mut grp.stats.duplicates_closed);
                    }
                    self.retire(now, g, loser, ours);
                }
                self.event(
                    t,
                    EventKind::CryptoUp {
                        peer: remote,
                        local,
                        peer_id,
                        initiator,
                        nat,
                    },
                );
            }
            IkeEvent::Rekeyed {
                old,
                new,
                spis,
                keylog,
            } => {
                if let Some(row) = keylog {
                    self.keylog.push_back(row);
                }
                let Some(grp) = self.groups.get_mut(g) else {
                    return;
                };
                for c in grp.children.values_mut() {
                    if c.ike == old {
                        c.ike = new;
                    }
                }
                for p in grp.peers.values_mut() {
                    if let Some((sa, init)) = p.ike
                        && sa == old
                    {
                        p.ike = Some((new, init));
                        if let Some(spis) = spis {
                            p.ike_spis = spis;
                        }
                    }
                }
            }
            IkeEvent::ChildUp {
                sa,
                child,
                rekey_of,
            } => self.child_up(now, g, sa, &child, rekey_of),
            IkeEvent::ChildDeleted {
                inbound_spi,
                outbound_spi,
            } => {
                grp.children.remove(&inbound_spi);
                grp.sadb.remove_inbound(inbound_spi);
                if !grp
                    .children
                    .values()
                    .any(|c| c.outbound_spi == outbound_spi)
                {
                    grp.sadb.remove_outbound(outbound_spi);
                }
            }
            IkeEvent::Down { sa, reason } => self.ike_down(now, g, sa, reason),
            IkeEvent::PeerDead { sa, remote } => {
                let ifaces = grp.ifaces.clone();
                self.event(t, EventKind::CryptoPeerDead { peer: remote });
                // Down now (its IkeDown, which follows, then finds nothing to do).
                self.ike_down(now, g, sa, DownReason::PeerDead);
                // A dead hub's NHS is down now, not after the registrations time out.
                for i in ifaces {
                    if let Some(c) = self.ifaces.get_mut(i).and_then(|f| f.client.as_mut()) {
                        c.nhs_unreachable(remote.ip());
                    }
                    self.drain_iface(now, i);
                }
            }
            IkeEvent::PeerMoved { sa, from, to } => {
                // Authenticated IKE from the peer's new place (or ESP in UDP told IKE so):
                // follow it; if it cannot be followed (another peer has that address), start
                // over from there.
                let followed = self.follow_nat(g, from.ip(), to);
                if !followed && let Some(grp) = self.groups.get_mut(g) {
                    let _ = grp.ep.close(now, sa);
                }
                self.event(t, EventKind::CryptoPeerMoved { from, to, followed });
            }
            IkeEvent::Refused {
                remote,
                exchange,
                reason,
            } => {
                bump(&mut grp.stats.refused);
                self.event(
                    t,
                    EventKind::CryptoRefused {
                        peer: remote,
                        exchange,
                        reason,
                    },
                );
            }
            IkeEvent::ChildFailed { sa, error } => {
                let peer = grp
                    .peers
                    .iter()
                    .find(|(_, p)| p.ike.map(|(s, _)| s) == Some(sa))
                    .map_or(grp.source, |(a, _)| *a);
                let exchange = if grp.ep.is_v1() {
                    "QUICK_MODE"
                } else {
                    "CREATE_CHILD_SA"
                };
                self.event(
                    t,
                    EventKind::CryptoRefused {
                        peer: SocketAddr::new(peer, IKE_PORT),
                        exchange: exchange.into(),
                        reason: error,
                    },
                );
            }
            IkeEvent::Warning { remote, message } => {
                self.event(
                    t,
                    EventKind::CryptoWarning {
                        peer: remote,
                        message,
                    },
                );
            }
        }
    }

    /// Closes (if we initiated it) or stops using (if the peer did, and will close it) the
    /// losing IKE SA of a simultaneous initiation.
    pub(crate) fn retire(&mut self, now: Instant, g: usize, loser: IkeSaId, ours: bool) {
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        let spis: Vec<(u32, u32)> = grp
            .children
            .iter()
            .filter(|(_, c)| c.ike == loser)
            .map(|(i, c)| (*i, c.outbound_spi))
            .collect();
        for (_, out) in &spis {
            grp.sadb.remove_outbound(*out);
        }
        if ours {
            let _ = grp.ep.close(now, loser);
            self.drain_ike(now, g);
        }
    }

    fn child_up(
        &mut self,
        now: Instant,
        g: usize,
        sa: IkeSaId,
        c: &dmvpn_ikev2::ChildSaUp,
        rekey_of: Option<u32>,
    ) {
        let peer = c.remote.ip();
        if self.keylog_on {
            // The inbound SA carries the peer's packets to us, the outbound one ours to it.
            // Through a NAT a capture shows a private address on one side of the box and a
            // public one on the other: those rows name no address (the SPI finds the SA).
            let (local, remote) = (c.local.ip(), c.remote.ip());
            for (src, dst, sa) in [(remote, local, &c.inbound), (local, remote, &c.outbound)] {
                self.keylog.push_back(if c.udp_encap {
                    dmvpn_esp::keylog::esp_sa_row_any_address(local.is_ipv6(), sa)
                } else {
                    dmvpn_esp::keylog::esp_sa_row(src, dst, sa)
                });
            }
        }
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        let t = grp.ifaces.first().copied().unwrap_or(0);
        let (inbound, outbound) = match (
            InboundSa::new(&c.inbound, now),
            OutboundSa::new(&c.outbound, now),
        ) {
            (Ok(i), Ok(o)) => (i, o),
            _ => {
                bump(&mut grp.stats.encrypt_errors);
                return;
            }
        };
        // Transport mode: GRE between the two addresses, checked by the database; tunnel mode:
        // the inner GRE-in-IP header is checked on the way in (`gre_range`).
        let policy = match c.inbound.mode {
            dmvpn_esp::Mode::Transport => Policy::dmvpn(grp.source, peer),
            dmvpn_esp::Mode::Tunnel => Policy::any_protocol(grp.source, peer),
        };
        if let Some(p) = grp.peers.get_mut(&peer) {
            p.udp_encap = c.udp_encap.then_some(c.remote.port());
        }
        let outbound_spi = c.outbound.spi;
        grp.children.insert(
            c.inbound.spi,
            Child {
                ike: sa,
                peer,
                outbound_spi,
                noted: None,
            },
        );
        grp.sadb.insert_inbound(policy, inbound);
        // The child SA of a losing duplicate IKE SA receives but never carries our traffic.
        let current = grp.peers.get(&peer).and_then(|p| p.ike).map(|(s, _)| s);
        if current.is_none_or(|s| s == sa) {
            grp.sadb.insert_outbound(policy, outbound);
        }
        let queued: Vec<super::Sealable> = grp
            .peers
            .get_mut(&peer)
            .map(|p| p.queue.drain(..).collect())
            .unwrap_or_default();
        self.event(
            t,
            EventKind::IpsecUp {
                peer,
                inbound_spi: c.inbound.spi,
                outbound_spi,
                rekey: rekey_of.is_some(),
            },
        );
        let waited = !queued.is_empty();
        for p in queued {
            let _ = self.seal(g, peer, p, true);
        }
        if rekey_of.is_none() && !waited {
            // A new SA with nothing waiting for it: if the peer is an NHS, the SA came back
            // after it was lost or cleared, and the NHS may have dropped our registration
            // with it: register now (IOS does when the crypto socket comes up).
            let ifaces = self
                .groups
                .get(g)
                .map(|g| g.ifaces.clone())
                .unwrap_or_default();
            for i in ifaces {
                if let Some(c) = self.ifaces.get_mut(i).and_then(|f| f.client.as_mut())
                    && c.register_with(now, peer)
                {
                    self.drain_iface(now, i);
                }
            }
        }
    }

    fn ike_down(&mut self, now: Instant, g: usize, sa: IkeSaId, reason: DownReason) {
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        let t = grp.ifaces.first().copied().unwrap_or(0);
        let behind_nat = grp.behind_nat;
        let Some((&peer, _)) = grp
            .peers
            .iter()
            .find(|(_, p)| p.ike.map(|(s, _)| s) == Some(sa) || p.negotiating == Some(sa))
        else {
            return;
        };
        let Some(p) = grp.peers.get_mut(&peer) else {
            return;
        };
        let was_up = p.ike.map(|(s, _)| s) == Some(sa);
        // A negotiation that never came up has no encapsulation port yet: it went where
        // `initiate` sent it, 4500 from behind a NAT.
        let port = p.udp_encap.unwrap_or(if !was_up && behind_nat {
            NAT_T_PORT
        } else {
            IKE_PORT
        });
        if was_up {
            p.ike = None;
            p.up_since = None;
        } else {
            p.negotiating = None;
        }
        let (wanted, registered) = (p.wanted(), p.server_refs > 0);
        let cleared = std::mem::take(&mut p.cleared);
        let retry = if wanted && cleared {
            // The operator cleared it: up again now, as the next packet would in IOS.
            p.failures = 0;
            Some(now)
        } else if wanted {
            p.failures = if was_up {
                1
            } else {
                p.failures.saturating_add(1)
            };
            Some(now + grp.backoff.wait(p.failures))
        } else {
            p.queue.clear();
            None
        };
        grp.set_retry(peer, retry);
        if was_up {
            self.event(
                t,
                EventKind::CryptoDown {
                    peer: SocketAddr::new(peer, port),
                    reason,
                },
            );
        } else {
            self.event(
                t,
                EventKind::CryptoFailed {
                    peer: SocketAddr::new(peer, port),
                    reason,
                    retry_in: retry.map(|r| r.saturating_duration_since(now)),
                },
            );
        }
        if was_up && registered {
            // The spoke is unreachable through IPsec: its registrations go.
            let ifaces = self
                .groups
                .get(g)
                .map(|g| g.ifaces.clone())
                .unwrap_or_default();
            for i in ifaces {
                if let Some(s) = self.ifaces.get_mut(i).and_then(|f| f.server.as_mut()) {
                    s.remove_nbma(now, peer);
                }
                self.drain_iface(now, i);
            }
        }
        if let Some(grp) = self.groups.get_mut(g) {
            grp.forget_if_idle(peer);
        }
    }

    /// Runs the groups' timers due at `now`.
    pub(crate) fn crypto_timeout(&mut self, now: Instant) {
        for g in 0..self.groups.len() {
            let Some(grp) = self.groups.get_mut(g) else {
                continue;
            };
            if grp.ep.poll_timeout().is_some_and(|t| t <= now) {
                grp.ep.handle_timeout(now);
            }
            if grp.sadb.poll_timeout().is_some_and(|t| t <= now) {
                grp.sadb.handle_timeout(now);
            }
            let due: Vec<IpAddr> = grp
                .retries
                .iter()
                .take_while(|(t, _)| *t <= now)
                .map(|(_, p)| *p)
                .collect();
            for peer in due {
                if let Some(grp) = self.groups.get_mut(g) {
                    grp.set_retry(peer, None);
                }
                let wanted = self
                    .groups
                    .get(g)
                    .and_then(|grp| grp.peers.get(&peer))
                    .is_some_and(|p| (p.wanted() || !p.queue.is_empty()) && p.ike.is_none());
                if wanted {
                    self.initiate(now, g, peer);
                } else if let Some(grp) = self.groups.get_mut(g) {
                    grp.forget_if_idle(peer);
                }
            }
            self.drain_ike(now, g);
        }
    }

    /// `clear crypto session [peer ADDR]` (see [`Node::clear_crypto_session`]).
    pub(crate) fn crypto_clear(&mut self, now: Instant, peer: Option<IpAddr>) -> usize {
        let mut closed = 0;
        for g in 0..self.groups.len() {
            let Some(grp) = self.groups.get_mut(g) else {
                continue;
            };
            let mut sas = Vec::new();
            for (addr, p) in grp.peers.iter_mut() {
                if peer.is_some_and(|a| a != *addr) {
                    continue;
                }
                let ids = p.ike.map(|(s, _)| s).into_iter().chain(p.negotiating);
                let before = sas.len();
                sas.extend(ids);
                if sas.len() > before {
                    p.cleared = true;
                }
            }
            for sa in sas {
                if grp.ep.close(now, sa).is_ok() {
                    closed += 1;
                }
            }
            self.drain_ike(now, g);
        }
        closed
    }

    /// Closes every IKE SA (shutdown).
    pub(crate) fn crypto_close_all(&mut self, now: Instant) {
        for g in 0..self.groups.len() {
            if let Some(grp) = self.groups.get_mut(g) {
                grp.stopped = true;
                grp.ep.close_all(now);
            }
            self.drain_ike(now, g);
        }
    }
}
