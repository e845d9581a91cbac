//! The NHRP glue: which machine (client or server) an NHRP packet is for, the machines'
//! transmits into GRE, their events into node events, and their cache events into the node's
//! mappings, NBMA peer references (the hook for IPsec), shortcut routes and events.
//!
//! Rules: a complete mapping (static, registered or resolved) references its NBMA peer, and
//! the first reference brings the peer up, the last one takes it down; a dynamic mapping added
//! or removed is reported, a registration is reported as the spoke registering or going away;
//! when a mapping goes, the shortcut route for its prefix goes with it.

use std::net::IpAddr;
use std::time::Instant;

use dmvpn_gre::Protocol;
use dmvpn_nhrp::wire::PacketType;
use dmvpn_nhrp::{CacheEvent, EntryFlags, EntryType, RemoveReason};
use dmvpn_wire::Proto;

use super::debug::Dir;
use super::{Node, PeerRef, Transmit, bump, net_of};
use crate::error::Error;
use crate::event::EventKind;
use crate::route::{NextHop, RouteSource};

/// The most node events one NHRP event turns into: a mapping moving to another NBMA address
/// reports the old registration or mapping gone, the old peer down, the new peer up and the
/// new registration or mapping, and a client mapping removed takes its shortcut route along.
const EVENTS_PER_NHRP_EVENT: usize = 5;

/// Which machine of an interface an NHRP packet is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NhrpTarget {
    Client,
    Server,
    Ignore,
}

impl Node {
    fn nhrp_target(&self, t: usize, from: IpAddr, bytes: &[u8]) -> NhrpTarget {
        let Some(f) = self.ifaces.get(t) else {
            return NhrpTarget::Ignore;
        };
        let ptype = dmvpn_nhrp::wire::Packet::new_checked(bytes)
            .map(|p| p.packet_type())
            .unwrap_or_default();
        let shortcut = f.cfg.nhrp.shortcut;
        match (&f.client, &f.server) {
            (None, None) => NhrpTarget::Ignore,
            (Some(_), None) => {
                if ptype == PacketType::TRAFFIC_INDICATION && !shortcut {
                    NhrpTarget::Ignore
                } else {
                    NhrpTarget::Client
                }
            }
            (None, Some(_)) => NhrpTarget::Server,
            (Some(_), Some(s)) => match ptype {
                PacketType::REGISTRATION_REQUEST => NhrpTarget::Server,
                PacketType::REGISTRATION_REPLY | PacketType::RESOLUTION_REPLY => NhrpTarget::Client,
                PacketType::TRAFFIC_INDICATION if shortcut => NhrpTarget::Client,
                PacketType::TRAFFIC_INDICATION => NhrpTarget::Ignore,
                PacketType::RESOLUTION_REQUEST => {
                    let dst = dmvpn_nhrp::wire::Repr::parse_bytes(bytes)
                        .ok()
                        .and_then(|r| r.dst_proto_addr.ip());
                    let owned = dst.is_some_and(|d| {
                        d == f.own() || self.networks.iter().any(|n| n.contains(&d))
                    });
                    if owned {
                        NhrpTarget::Client
                    } else {
                        NhrpTarget::Server
                    }
                }
                PacketType::PURGE_REQUEST | PacketType::PURGE_REPLY => {
                    let src = dmvpn_nhrp::wire::Repr::parse_bytes(bytes)
                        .ok()
                        .and_then(|r| r.src_proto_addr.ip());
                    let registered = src.is_some_and(|a| {
                        s.registration(a)
                            .is_some_and(|e| e.effective_nbma() == Some(from))
                    });
                    if registered {
                        NhrpTarget::Server
                    } else {
                        NhrpTarget::Client
                    }
                }
                _ => NhrpTarget::Client,
            },
        }
    }

    /// An NHRP packet out of tunnel `t` from NBMA address `from`. `Ok(true)` when a machine
    /// accepted it and it vouches for its sender: it passed the machine's checks (its
    /// authentication, when configured) and is not an Error Indication (which carries no
    /// authentication); the node then admits the sender to GRE's peer table.
    pub(super) fn on_nhrp(
        &mut self,
        now: Instant,
        t: usize,
        from: IpAddr,
        bytes: &[u8],
    ) -> Result<bool, Error> {
        bump(&mut self.stats.nhrp_in);
        self.debug_nhrp(Dir::Receive, t, from, bytes);
        let target = self.nhrp_target(t, from, bytes);
        let Some(f) = self.ifaces.get_mut(t) else {
            return Ok(false);
        };
        let vouches = dmvpn_nhrp::wire::Packet::new_checked(bytes)
            .is_ok_and(|p| p.packet_type() != PacketType::ERROR_INDICATION);
        let r = match target {
            NhrpTarget::Client => match f.client.as_mut() {
                Some(c) => c.handle_packet(now, from, bytes).map(|()| vouches),
                None => Ok(false),
            },
            NhrpTarget::Server => match f.server.as_mut() {
                Some(s) => s.handle_packet(now, from, bytes).map(|()| vouches),
                None => Ok(false),
            },
            NhrpTarget::Ignore => {
                bump(&mut self.stats.redirects_ignored);
                Ok(false)
            }
        };
        self.drain_iface(now, t);
        r.map_err(|e| {
            bump(&mut self.stats.nhrp_dropped);
            Error::Nhrp(e)
        })
    }

    /// Sends what the interface's NHRP machines queued and turns their events into node
    /// events, as many as the node's event queue has room for (see
    /// [`Node::drain_nhrp_events`]).
    pub(super) fn drain_iface(&mut self, now: Instant, t: usize) {
        loop {
            let Some(f) = self.ifaces.get_mut(t) else {
                return;
            };
            let tx = match f.client.as_mut().and_then(|c| c.poll_transmit()) {
                Some(x) => Some(x),
                None => f.server.as_mut().and_then(|s| s.poll_transmit()),
            };
            let Some(tx) = tx else { break };
            // A full queue or a refused transmit is counted in `emit_in_gre`.
            let _ = self.emit_in_gre(t, tx);
        }
        self.drain_nhrp_events(now, t);
    }

    /// Turns the interface's NHRP events into node events while the node's event queue has
    /// room for everything one of them can give (an NBMA peer moving: the old one down, the
    /// new one up, with their reports), or is empty. The rest wait in the machines, whose
    /// queues never drop a cache event either (they hold expiry back instead), and are taken
    /// when [`Node::poll_output`] has emptied the queue: so no state-bearing event is ever
    /// dropped while the caller drains its outputs, and the node's mappings and peers always
    /// follow the machines' caches.
    pub(super) fn drain_nhrp_events(&mut self, now: Instant, t: usize) {
        loop {
            let room = self.limits.max_events.saturating_sub(self.events.len());
            if room < EVENTS_PER_NHRP_EVENT && !self.events.is_empty() {
                return;
            }
            let Some(f) = self.ifaces.get_mut(t) else {
                return;
            };
            if let Some(e) = f.client.as_mut().and_then(|c| c.poll_event()) {
                self.on_nhrp_event(now, t, false, e);
            } else if let Some(e) = f.server.as_mut().and_then(|s| s.poll_event()) {
                self.on_nhrp_event(now, t, true, e);
            } else {
                return;
            }
        }
    }

    /// A machine's transmit ([`Proto::InGre`]: a payload for the tunnel to put in GRE, from the
    /// interface's NBMA address) as the node's GRE transmit on tunnel `t`: the one place an
    /// NHRP transmit becomes a GRE one. Its buffer goes back to the pool. Anything but
    /// `InGre` is not for a tunnel: refused and counted as an encapsulation error.
    pub(super) fn emit_in_gre(&mut self, t: usize, tx: Transmit) -> Result<(), Error> {
        let Transmit {
            dst,
            proto,
            payload,
            ..
        } = tx;
        let r = match proto {
            Proto::InGre(protocol) => {
                self.debug_nhrp(Dir::Send, t, dst, &payload);
                let egress = self.egress(t, dst);
                self.emit(t, dst, egress, Protocol(protocol), &payload, false)
            }
            other => {
                bump(&mut self.stats.encapsulation_errors);
                Err(Error::UnsupportedProtocol(u16::from(other.ip_protocol().0)))
            }
        };
        self.recycle(payload);
        r
    }

    fn on_nhrp_event(&mut self, now: Instant, t: usize, server: bool, e: dmvpn_nhrp::Event) {
        use dmvpn_nhrp::Event as N;
        let kind = match e {
            N::Cache(ce) => {
                self.on_cache_event(now, t, server, ce);
                return;
            }
            N::Shortcut {
                prefix,
                next_hop,
                nbma,
            } => {
                let enabled = self.ifaces.get(t).is_some_and(|f| f.cfg.nhrp.shortcut);
                if !enabled {
                    return;
                }
                let net = net_of(prefix);
                let hop = NextHop {
                    via: next_hop,
                    tunnel: t,
                };
                if self.routes.insert(net, RouteSource::Shortcut, hop) == Some(hop) {
                    return;
                }
                EventKind::ShortcutAdded {
                    prefix: net,
                    next_hop,
                    nbma,
                }
            }
            N::QuotaExceeded { limit, .. } => EventKind::QuotaExceeded {
                limit,
                every_secs: self
                    .ifaces
                    .get(t)
                    .map_or(0, |f| u64::from(f.cfg.nhrp.max_send.every_secs)),
            },
            N::NhsDown { nhs } => {
                let nbma = self.ifaces.get(t).and_then(|f| {
                    let n = &f.cfg.nhrp;
                    n.nhs
                        .iter()
                        .find(|c| c.address == nhs)
                        .and_then(|c| n.nhs_nbma(c))
                });
                if let Some(nbma) = nbma {
                    self.crypto_reset(now, t, nbma);
                }
                EventKind::Nhrp(N::NhsDown { nhs })
            }
            // What the node reports as the machines do.
            e @ (N::NhsUp { .. }
            | N::AllNhsDown
            | N::RegistrationRejected { .. }
            | N::NatDetected { .. }
            | N::ResolutionNegative { .. }
            | N::ResolutionFailed { .. }
            | N::RegistrationConflict { .. }
            | N::PurgeRefused { .. }
            | N::RegistrationRefused { .. }
            | N::ErrorIndication { .. }) => EventKind::Nhrp(e),
            // `Registered`, `Resolved` and `SpokeRegistered` repeat what the cache events
            // already told (and the node reports as mappings and registrations).
            _ => return,
        };
        self.event(t, kind);
    }

    fn peer_ref(&mut self, now: Instant, t: usize, nbma: IpAddr) {
        let Some(f) = self.ifaces.get_mut(t) else {
            return;
        };
        let make = || PeerRef {
            entries: 0,
            since: now,
        };
        let first = f.peers.with_entry(nbma, make, |p| {
            p.entries = p.entries.saturating_add(1);
            p.entries == 1
        });
        if first {
            self.event(t, EventKind::NbmaPeerUp { nbma });
        }
    }

    fn peer_unref(&mut self, t: usize, nbma: IpAddr) {
        let Some(f) = self.ifaces.get_mut(t) else {
            return;
        };
        let gone = match f.peers.get_mut(&nbma) {
            Some(p) => {
                p.entries = p.entries.saturating_sub(1);
                p.entries == 0
            }
            None => false,
        };
        if gone {
            f.peers.remove(&nbma);
            f.gre.remove_peer(nbma);
            self.event(t, EventKind::NbmaPeerDown { nbma });
        }
    }

    /// A cache event of the interface's client (`server` false) or server.
    pub(super) fn on_cache_event(&mut self, now: Instant, t: usize, server: bool, ce: CacheEvent) {
        let (entry, removed) = match ce {
            CacheEvent::Added(e) => {
                if !server && e.kind == EntryType::Incomplete {
                    self.event(t, EventKind::Resolving { target: e.next_hop });
                }
                (e, None)
            }
            CacheEvent::Updated(e) => (e, None),
            CacheEvent::Removed(e, reason) => (e, Some(reason)),
        };
        let key = (server, entry.prefix);
        let Some(f) = self.ifaces.get_mut(t) else {
            return;
        };
        let old = f.mappings.get(&key).copied();
        let new = if removed.is_none() && entry.is_complete() && entry.kind != EntryType::Local {
            entry.effective_nbma()
        } else {
            None
        };
        let registered = server && entry.flags.contains(EntryFlags::REGISTERED);
        let dynamic = entry.kind == EntryType::Dynamic;
        if old != new {
            match new {
                Some(n) => f.mappings.insert(key, n),
                None => f.mappings.remove(&key),
            };
            if let Some(o) = old {
                let reason = removed.unwrap_or(RemoveReason::Removed);
                if registered {
                    self.event(
                        t,
                        EventKind::PeerExpired {
                            address: entry.next_hop,
                            nbma: o,
                            reason,
                        },
                    );
                } else if dynamic {
                    self.event(
                        t,
                        EventKind::MappingRemoved {
                            prefix: net_of(entry.prefix),
                            next_hop: entry.next_hop,
                            nbma: o,
                            reason,
                        },
                    );
                }
                self.peer_unref(t, o);
                self.crypto_unref(now, t, o, !server);
            }
            if let Some(n) = new {
                self.peer_ref(now, t, n);
                if self.ifaces.get(t).is_some_and(|f| f.cfg.source != n) {
                    self.crypto_ref(now, t, n, !server);
                }
                if registered {
                    self.event(
                        t,
                        EventKind::PeerRegistered {
                            address: entry.next_hop,
                            nbma: n,
                            nat: entry.nat_nbma.is_some(),
                        },
                    );
                } else if dynamic {
                    self.event(
                        t,
                        EventKind::MappingAdded {
                            prefix: net_of(entry.prefix),
                            next_hop: entry.next_hop,
                            nbma: n,
                        },
                    );
                }
            }
        }
        if removed.is_some() && !server {
            let net = net_of(entry.prefix);
            if let Some(hop) = self.routes.remove(net, RouteSource::Shortcut) {
                self.event(
                    hop.tunnel,
                    EventKind::ShortcutRemoved {
                        prefix: net,
                        next_hop: hop.via,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use dmvpn_nhrp::Entry;

    use super::*;
    use crate::entropy::Entropy;
    use crate::event::Event;
    use crate::node::testkit::{HUB_NBMA, Net, spoke_config, spoke_nbma, spoke_tunnel};
    use crate::node::{Output, prefix_of};

    fn dynamic(now: Instant, prefix: &str, next_hop: IpAddr, nbma: IpAddr) -> Entry {
        let net: ipnet::IpNet = prefix.parse().unwrap();
        Entry::new(
            now,
            prefix_of(net),
            next_hop,
            Some(nbma),
            EntryType::Dynamic,
        )
    }

    fn events(node: &mut Node) -> Vec<EventKind> {
        let mut out = Vec::new();
        loop {
            match node.poll_output() {
                Output::Event(Event { kind, .. }) => out.push(kind),
                Output::Timeout(_) => return out,
                Output::Transmit(_) | Output::Deliver(_) => {}
            }
        }
    }

    fn spoke() -> (Instant, Node) {
        let now = Instant::now();
        let mut n = Node::new(now, spoke_config(1), Entropy::from_seed(1)).unwrap();
        // The static map to the hub is up from the start.
        assert_eq!(
            events(&mut n),
            vec![EventKind::NbmaPeerUp { nbma: HUB_NBMA }]
        );
        (now, n)
    }

    #[test]
    fn mapping_added_installs_the_mapping_and_mapping_removed_removes_it() {
        let (now, mut n) = spoke();
        let b = dynamic(now, "10.0.0.12/32", spoke_tunnel(2), spoke_nbma(2));
        n.on_cache_event(now, 0, false, CacheEvent::Added(b));
        assert_eq!(
            n.ifaces[0].mappings.get(&(false, b.prefix)),
            Some(&spoke_nbma(2))
        );
        assert_eq!(
            n.ifaces[0].peers.get(&spoke_nbma(2)).map(|p| p.entries),
            Some(1)
        );
        assert_eq!(
            events(&mut n),
            vec![
                EventKind::NbmaPeerUp {
                    nbma: spoke_nbma(2)
                },
                EventKind::MappingAdded {
                    prefix: "10.0.0.12/32".parse().unwrap(),
                    next_hop: spoke_tunnel(2),
                    nbma: spoke_nbma(2),
                },
            ]
        );
        // A refresh to the same NBMA address changes nothing.
        n.on_cache_event(now, 0, false, CacheEvent::Updated(b));
        assert_eq!(events(&mut n), vec![]);
        n.on_cache_event(now, 0, false, CacheEvent::Removed(b, RemoveReason::Expired));
        assert_eq!(n.ifaces[0].mappings.get(&(false, b.prefix)), None);
        assert!(!n.ifaces[0].peers.contains_key(&spoke_nbma(2)));
        assert_eq!(
            events(&mut n),
            vec![
                EventKind::MappingRemoved {
                    prefix: "10.0.0.12/32".parse().unwrap(),
                    next_hop: spoke_tunnel(2),
                    nbma: spoke_nbma(2),
                    reason: RemoveReason::Expired,
                },
                EventKind::NbmaPeerDown {
                    nbma: spoke_nbma(2)
                },
            ]
        );
    }

    #[test]
    fn a_shortcut_installs_its_route_and_the_mapping_removed_takes_it_away() {
        let (now, mut n) = spoke();
        let lan: ipnet::IpNet = "192.168.2.0/24".parse().unwrap();
        let shortcut = dmvpn_nhrp::Event::Shortcut {
            prefix: prefix_of(lan),
            next_hop: spoke_tunnel(2),
            nbma: spoke_nbma(2),
        };
        n.on_nhrp_event(now, 0, false, shortcut.clone());
        let hop = NextHop {
            via: spoke_tunnel(2),
            tunnel: 0,
        };
        assert_eq!(
            n.routes().lookup("192.168.2.37".parse().unwrap()),
            Some((lan, RouteSource::Shortcut, hop))
        );
        assert_eq!(
            events(&mut n),
            vec![EventKind::ShortcutAdded {
                prefix: lan,
                next_hop: spoke_tunnel(2),
                nbma: spoke_nbma(2),
            }]
        );
        // The same shortcut again is no news.
        n.on_nhrp_event(now, 0, false, shortcut);
        assert_eq!(events(&mut n), vec![]);
        let entry = dynamic(now, "192.168.2.0/24", spoke_tunnel(2), spoke_nbma(2));
        n.on_cache_event(now, 0, false, CacheEvent::Added(entry));
        let _ = events(&mut n);
        n.on_cache_event(
            now,
            0,
            false,
            CacheEvent::Removed(entry, RemoveReason::Purged),
        );
        assert_eq!(n.routes().lookup("192.168.2.37".parse().unwrap()), None);
        let after = events(&mut n);
        assert!(after.contains(&EventKind::ShortcutRemoved {
            prefix: lan,
            next_hop: spoke_tunnel(2),
        }));
        assert!(after.iter().any(|k| matches!(
            k,
            EventKind::MappingRemoved {
                reason: RemoveReason::Purged,
                ..
            }
        )));
    }

    #[test]
    fn machine_events_pass_through_and_their_repeats_are_dropped() {
        let (now, mut n) = spoke();
        let up = dmvpn_nhrp::Event::NhsUp {
            nhs: crate::node::testkit::HUB_TUNNEL,
        };
        n.on_nhrp_event(now, 0, false, up.clone());
        n.on_nhrp_event(
            now,
            0,
            false,
            dmvpn_nhrp::Event::ResolutionNegative {
                target: spoke_tunnel(9),
            },
        );
        // Repeats of what the cache events tell: not reported.
        n.on_nhrp_event(
            now,
            0,
            false,
            dmvpn_nhrp::Event::Registered {
                nhs: crate::node::testkit::HUB_TUNNEL,
                holding_time: 300,
            },
        );
        n.on_nhrp_event(
            now,
            0,
            true,
            dmvpn_nhrp::Event::SpokeRegistered {
                protocol_addr: spoke_tunnel(2),
                nbma: spoke_nbma(2),
                nat: false,
            },
        );
        // The quota, with the interval of the interface's `ip nhrp max-send`.
        n.ifaces[0].cfg.nhrp.max_send.every_secs = 30;
        n.on_nhrp_event(
            now,
            0,
            false,
            dmvpn_nhrp::Event::QuotaExceeded {
                limit: 100,
                held: true,
            },
        );
        assert_eq!(
            events(&mut n),
            vec![
                EventKind::Nhrp(up),
                EventKind::Nhrp(dmvpn_nhrp::Event::ResolutionNegative {
                    target: spoke_tunnel(9)
                }),
                EventKind::QuotaExceeded {
                    limit: 100,
                    every_secs: 30
                },
            ]
        );
    }

    #[test]
    fn without_ip_nhrp_shortcut_a_shortcut_is_ignored() {
        let (now, mut n) = spoke();
        n.ifaces[0].cfg.nhrp.shortcut = false;
        let lan: ipnet::IpNet = "192.168.2.0/24".parse().unwrap();
        n.on_nhrp_event(
            now,
            0,
            false,
            dmvpn_nhrp::Event::Shortcut {
                prefix: prefix_of(lan),
                next_hop: spoke_tunnel(2),
                nbma: spoke_nbma(2),
            },
        );
        assert!(n.routes().is_empty());
        assert_eq!(events(&mut n), vec![]);
    }

    #[test]
    fn an_nbma_peer_is_up_while_any_mapping_references_it() {
        let (now, mut n) = spoke();
        let host = dynamic(now, "10.0.0.12/32", spoke_tunnel(2), spoke_nbma(2));
        let lan = dynamic(now, "192.168.2.0/24", spoke_tunnel(2), spoke_nbma(2));
        n.on_cache_event(now, 0, false, CacheEvent::Added(host));
        n.on_cache_event(now, 0, false, CacheEvent::Added(lan));
        let up = events(&mut n);
        assert_eq!(
            up.iter()
                .filter(|k| matches!(k, EventKind::NbmaPeerUp { .. }))
                .count(),
            1
        );
        assert_eq!(
            n.ifaces[0].peers.get(&spoke_nbma(2)).map(|p| p.entries),
            Some(2)
        );
        n.on_cache_event(
            now,
            0,
            false,
            CacheEvent::Removed(host, RemoveReason::Expired),
        );
        assert!(!events(&mut n).contains(&EventKind::NbmaPeerDown {
            nbma: spoke_nbma(2)
        }));
        n.on_cache_event(
            now,
            0,
            false,
            CacheEvent::Removed(lan, RemoveReason::Expired),
        );
        assert!(events(&mut n).contains(&EventKind::NbmaPeerDown {
            nbma: spoke_nbma(2)
        }));
        // A mapping that moves to another NBMA address moves its reference.
        let moved = dynamic(now, "10.0.0.13/32", spoke_tunnel(3), spoke_nbma(3));
        n.on_cache_event(now, 0, false, CacheEvent::Added(moved));
        let moved_again = dynamic(now, "10.0.0.13/32", spoke_tunnel(3), spoke_nbma(4));
        let _ = events(&mut n);
        n.on_cache_event(now, 0, false, CacheEvent::Updated(moved_again));
        let ev = events(&mut n);
        assert!(ev.contains(&EventKind::NbmaPeerDown {
            nbma: spoke_nbma(3)
        }));
        assert!(ev.contains(&EventKind::NbmaPeerUp {
            nbma: spoke_nbma(4)
        }));
        assert!(ev.iter().any(|k| matches!(
            k,
            EventKind::MappingRemoved {
                reason: RemoveReason::Removed,
                ..
            }
        )));
    }

    #[test]
    fn registrations_are_reported_as_peers_registered_and_expired() {
        let mut n = Net::registered(2);
        let regs: Vec<&EventKind> = n.events[0]
            .iter()
            .map(|e| &e.kind)
            .filter(|k| matches!(k, EventKind::PeerRegistered { .. }))
            .collect();
        assert_eq!(
            regs,
            vec![
                &EventKind::PeerRegistered {
                    address: spoke_tunnel(1),
                    nbma: spoke_nbma(1),
                    nat: false,
                },
                &EventKind::PeerRegistered {
                    address: spoke_tunnel(2),
                    nbma: spoke_nbma(2),
                    nat: false,
                },
            ]
        );
        let now = n.now;
        assert!(n.hub().clear_nhrp(now, spoke_tunnel(1)));
        let _ = n.take_hub();
        assert!(n.events[0].iter().any(|e| e.kind
            == EventKind::PeerExpired {
                address: spoke_tunnel(1),
                nbma: spoke_nbma(1),
                reason: RemoveReason::Purged,
            }));
        assert!(n.events[0].iter().any(|e| e.kind
            == EventKind::NbmaPeerDown {
                nbma: spoke_nbma(1)
            }));
        // The spokes saw their NHS come up, as the machine reported it.
        assert!(n.events[1].iter().any(|e| e.kind
            == EventKind::Nhrp(dmvpn_nhrp::Event::NhsUp {
                nhs: crate::node::testkit::HUB_TUNNEL
            })));
    }

    #[test]
    fn an_in_gre_transmit_becomes_one_gre_transmit_of_the_tunnel() {
        let (_, mut n) = spoke();
        let payload = vec![0, 1, 2, 3, 4, 5, 6, 7];
        let tx = Transmit {
            src: spoke_nbma(1),
            dst: HUB_NBMA,
            proto: Proto::InGre(0x2001),
            payload: payload.clone(),
        };
        n.emit_in_gre(0, tx).unwrap();
        let Output::Transmit(out) = n.poll_output() else {
            panic!("no transmit")
        };
        assert_eq!(
            (out.src, out.dst, out.proto),
            (spoke_nbma(1), HUB_NBMA, Proto::GRE)
        );
        let (hdr, inner) = dmvpn_gre::wire::gre::decapsulate(&out.payload).unwrap();
        assert_eq!(
            (hdr.protocol, hdr.key, inner),
            (Protocol::NHRP, Some(100_000), &payload[..])
        );
        assert_eq!(n.tunnel_of(&out), Some(0));
        // The machine's buffer went back to the pool.
        assert_eq!(n.pool.len(), 1);
        // Anything else is not for the tunnel.
        let udp = Transmit {
            src: spoke_nbma(1),
            dst: HUB_NBMA,
            proto: Proto::Udp {
                src_port: 500,
                dst_port: 500,
            },
            payload,
        };
        assert_eq!(n.emit_in_gre(0, udp), Err(Error::UnsupportedProtocol(17)));
        assert_eq!(n.stats().encapsulation_errors, 1);
        assert!(matches!(n.poll_output(), Output::Timeout(_)));
    }

    /// The NHRP bytes of the first Registration Request of a fresh spoke, and a copy with
    /// the packet type changed (`ar$op.type`, byte 17 of the fixed header).
    fn registration_and(ty: PacketType) -> (Vec<u8>, Vec<u8>) {
        let mut s = Node::new(Instant::now(), spoke_config(2), Entropy::from_seed(2)).unwrap();
        let reg = loop {
            match s.poll_output() {
                Output::Transmit(t) => break t,
                Output::Timeout(_) => panic!("no registration"),
                _ => {}
            }
        };
        let (_, nhrp) = dmvpn_gre::wire::gre::decapsulate(&reg.payload).unwrap();
        let reg = nhrp.to_vec();
        let mut other = reg.clone();
        other[17] = ty.0;
        let p = dmvpn_nhrp::wire::Packet::new_checked(&other[..]).unwrap();
        assert_eq!(p.packet_type(), ty);
        (reg, other)
    }

    #[test]
    fn nhrp_packets_go_to_the_right_machine() {
        let (reg, ti) = registration_and(PacketType::TRAFFIC_INDICATION);
        let mut n = Net::registered(1);
        let from = HUB_NBMA;
        assert_eq!(n.hub().nhrp_target(0, from, &reg), NhrpTarget::Server);
        assert_eq!(n.hub().nhrp_target(1, from, &reg), NhrpTarget::Ignore);
        assert_eq!(n.spoke(1).nhrp_target(0, from, &reg), NhrpTarget::Client);
        // A spoke takes Traffic Indications only with `ip nhrp shortcut`.
        assert_eq!(n.spoke(1).nhrp_target(0, from, &ti), NhrpTarget::Client);
        n.spoke(1).ifaces[0].cfg.nhrp.shortcut = false;
        assert_eq!(n.spoke(1).nhrp_target(0, from, &ti), NhrpTarget::Ignore);
        let before = n.spoke(1).stats();
        let now = n.now;
        n.spoke(1).on_nhrp(now, 0, from, &ti).unwrap();
        let after = n.spoke(1).stats();
        assert_eq!(after.redirects_ignored, before.redirects_ignored + 1);
        assert_eq!(after.nhrp_in, before.nhrp_in + 1);
    }

    #[test]
    fn a_hub_that_is_also_a_spoke_splits_nhrp_between_its_machines() {
        let now = Instant::now();
        let mut cfg = spoke_config(1);
        cfg.tunnels[0].nhrp.map_multicast_dynamic = true;
        cfg.tunnels[0].nhrp.shortcut = false;
        let n = Node::new(now, cfg, Entropy::from_seed(1)).unwrap();
        assert_eq!(n.role(0), Some(crate::Role::HubAndSpoke));
        let (reg, reply) = registration_and(PacketType::REGISTRATION_REPLY);
        assert_eq!(n.nhrp_target(0, spoke_nbma(2), &reg), NhrpTarget::Server);
        assert_eq!(n.nhrp_target(0, HUB_NBMA, &reply), NhrpTarget::Client);
        let (_, ti) = registration_and(PacketType::TRAFFIC_INDICATION);
        assert_eq!(n.nhrp_target(0, HUB_NBMA, &ti), NhrpTarget::Ignore);
        // A Resolution Request for someone else is the server's to answer or forward.
        let (_, res) = registration_and(PacketType::RESOLUTION_REQUEST);
        assert_eq!(n.nhrp_target(0, spoke_nbma(2), &res), NhrpTarget::Server);
    }

    /// Spoke `i` of a big cloud: NBMA 100.64.0.0 + `i`, tunnel address 10.1.0.0 + `i`.
    fn big_spoke(i: u32) -> dmvpn_nhrp::wire::Node {
        dmvpn_nhrp::wire::Node::new(
            std::net::Ipv4Addr::from(0x6440_0000 + i),
            std::net::Ipv4Addr::from(0x0a01_0000 + i),
        )
    }

    /// Big spoke `i`'s Registration Request to the testkit hub (key 100000), in GRE.
    fn big_registration(i: u32) -> (IpAddr, Vec<u8>) {
        let s = big_spoke(i);
        let hub = dmvpn_nhrp::wire::Node::new(HUB_NBMA, crate::node::testkit::HUB_TUNNEL);
        let nhrp = dmvpn_nhrp::wire::Repr::registration_request(i + 1, &s, &hub, 300, 1400)
            .to_bytes()
            .unwrap();
        let mut gre = vec![0x20, 0x00, 0x20, 0x01];
        gre.extend_from_slice(&100_000u32.to_be_bytes());
        gre.extend_from_slice(&nhrp);
        (s.nbma_addr.addr.ip().unwrap(), gre)
    }

    /// Drains a node, counting NbmaPeerUp and NbmaPeerDown; returns its next deadline.
    fn drain_counting(n: &mut Node, ups: &mut usize, downs: &mut usize) -> Option<Instant> {
        loop {
            match n.poll_output() {
                Output::Event(Event { kind, .. }) => match kind {
                    EventKind::NbmaPeerUp { .. } => *ups += 1,
                    EventKind::NbmaPeerDown { .. } => *downs += 1,
                    _ => {}
                },
                Output::Transmit(t) => n.recycle(t.payload),
                Output::Deliver(d) => n.recycle(d.into_buffer()),
                Output::Timeout(t) => return t,
            }
        }
    }

    /// A hub of a /8 cloud with these limits, with these registrations (holdtime 300 s);
    /// returns it with the NbmaPeerUp count.
    fn big_hub(now: Instant, limits: crate::Limits, regs: &[(IpAddr, Vec<u8>)]) -> (Node, usize) {
        let mut cfg = crate::node::testkit::hub_config();
        cfg.tunnels[0].address = "10.0.0.1/8".parse().unwrap();
        let mut hub = Node::with_limits(now, cfg, Entropy::from_seed(0), limits).unwrap();
        let (mut ups, mut downs) = (0, 0);
        drain_counting(&mut hub, &mut ups, &mut downs);
        for (src, payload) in regs {
            hub.handle_input(crate::node::Input::Underlay {
                now,
                src: *src,
                dst: HUB_NBMA,
                payload,
            })
            .unwrap();
            drain_counting(&mut hub, &mut ups, &mut downs);
        }
        assert_eq!(downs, 0);
        (hub, ups)
    }

    /// Fires the hub's timers at `at` until nothing is due at or before it, draining after
    /// every input; returns (rounds, NbmaPeerDown count).
    fn expire_all(hub: &mut Node, at: Instant) -> (usize, usize) {
        let (mut ups, mut downs, mut rounds) = (0, 0, 0);
        loop {
            hub.handle_input(crate::node::Input::Timeout(at)).unwrap();
            rounds += 1;
            let next = drain_counting(hub, &mut ups, &mut downs);
            if next.is_none_or(|t| t > at) {
                break;
            }
            assert!(rounds < 100_000, "expiry makes progress");
        }
        assert_eq!(ups, 0);
        (rounds, downs)
    }

    #[test]
    fn a_burst_of_100000_expiring_registrations_takes_every_peer_down_and_leaks_nothing() {
        const N: u32 = 100_000;
        let now = Instant::now();
        let regs: Vec<(IpAddr, Vec<u8>)> = (0..N).map(big_registration).collect();
        let (mut hub, ups) = big_hub(now, crate::Limits::default(), &regs);
        assert_eq!(ups, N as usize);
        assert_eq!(hub.ifaces[0].peers.len(), N as usize);
        let (rounds, downs) = expire_all(&mut hub, now + std::time::Duration::from_secs(300));
        assert_eq!(
            downs, N as usize,
            "one NbmaPeerDown per expired registration"
        );
        assert!(rounds > 1, "the burst was worked off over several inputs");
        assert!(hub.ifaces[0].peers.is_empty(), "no NBMA peer leaked");
        assert!(hub.ifaces[0].mappings.is_empty(), "no mapping leaked");
        assert!(hub.nhrp_server(0).unwrap().cache().is_empty());
        assert_eq!(hub.stats().events_dropped, 0);
        assert_eq!(hub.nhrp_server(0).unwrap().stats().events_dropped, 0);
        // Every spoke registering again comes up again.
        let later = now + std::time::Duration::from_secs(400);
        let (mut ups, mut downs) = (0, 0);
        for (src, payload) in &regs {
            hub.handle_input(crate::node::Input::Underlay {
                now: later,
                src: *src,
                dst: HUB_NBMA,
                payload,
            })
            .unwrap();
            drain_counting(&mut hub, &mut ups, &mut downs);
        }
        assert_eq!((ups, downs), (N as usize, 0));
        assert_eq!(hub.ifaces[0].peers.len(), N as usize);
    }

    #[test]
    fn a_node_event_queue_smaller_than_the_burst_still_reports_every_peer_down() {
        let now = Instant::now();
        let limits = crate::Limits {
            max_events: 100,
            ..crate::Limits::default()
        };
        let regs: Vec<(IpAddr, Vec<u8>)> = (0..5000).map(big_registration).collect();
        let (mut hub, ups) = big_hub(now, limits, &regs);
        assert_eq!(ups, 5000);
        let (_, downs) = expire_all(&mut hub, now + std::time::Duration::from_secs(300));
        assert_eq!(downs, 5000);
        assert!(hub.ifaces[0].peers.is_empty());
        assert_eq!(hub.stats().events_dropped, 0);
    }
}
