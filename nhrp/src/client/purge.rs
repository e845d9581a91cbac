//! Purges on the client (RFC 2332 §5.2.5, §5.2.6): Purge Requests received delete the matching
//! learned entries and are answered unless the N flag is set; `clear ip nhrp` and a graceful
//! shutdown send Purge Requests for this node's own binding, whose replies are matched.

use std::net::IpAddr;
use std::time::Instant;

use super::Client;
use crate::Error;
use crate::cache::{Entry, EntryType, Prefix, RemoveReason, max_len};
use crate::machine::Event;
use crate::wire::{Body, Flags, PacketType, Repr};

impl Client {
    /// Removes the mapping for `addr` (`clear ip nhrp`) and, when it was a dynamic mapping to
    /// a peer, sends that peer a Purge Request for this node's own binding so that it forgets
    /// this node too (RFC 2332 §5.2.5). Returns whether an entry was removed.
    pub fn purge(&mut self, now: Instant, addr: IpAddr) -> bool {
        let Some(prefix) = self.cache.lookup(addr).map(|e| e.prefix) else {
            return false;
        };
        let Some(e) = self.cache.remove(&prefix, RemoveReason::Purged) else {
            return false;
        };
        self.pending.retain(|p| !prefix.contains(p.target));
        if e.kind == EntryType::Dynamic
            && let Some(nbma) = e.effective_nbma()
        {
            self.send_purge(now, nbma, e.next_hop, false);
        }
        true
    }

    /// Graceful shutdown: purges this node's registration from every NHS (Purge Request for
    /// its own binding) and stops registering. [`Client::register`] starts again.
    pub fn shutdown(&mut self, now: Instant) {
        let targets: Vec<(IpAddr, IpAddr)> = self.nhs.iter().map(|n| (n.nbma, n.proto)).collect();
        for (nbma, proto) in targets {
            self.send_purge(now, nbma, proto, false);
        }
        for n in &mut self.nhs {
            n.stop();
        }
        self.pending.clear();
    }

    /// Sends a Purge Request for this node's own binding to `dst_proto` at `nbma`, remembering
    /// its request ID (the most recent `max_pending`) unless no reply is wanted.
    fn send_purge(&mut self, now: Instant, nbma: IpAddr, dst_proto: IpAddr, no_reply: bool) {
        let id = self.fresh_request_id();
        let req = Repr::purge_request(id, &self.core.me, dst_proto, vec![self.own_cie()], no_reply);
        if !no_reply {
            if self.purges.len() >= self.config.max_pending {
                self.purges.remove(0);
            }
            self.purges.push(id);
        }
        self.core.send(now, nbma, req);
    }

    /// A Purge Request: every learned (dynamic, negative or incomplete) entry for a purged
    /// prefix or via a purged next hop goes, in prefix order, with resolutions inside it, if
    /// the packet comes from one of this client's NHSs or from the NBMA address the entry
    /// points at (the peer purging its own binding). The addresses written inside the packet
    /// are the sender's word and prove nothing: entries the sender may not purge stay,
    /// counted and reported ([`Event::PurgeRefused`]).
    pub(super) fn on_purge_request(
        &mut self,
        now: Instant,
        from: IpAddr,
        req: &Repr,
    ) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        for c in &body.cies {
            let Some(addr) = c.client_proto_addr.ip() else {
                continue;
            };
            let len = if c.prefix_len == 0 {
                max_len(addr)
            } else {
                c.prefix_len
            };
            let purged = Prefix::new(addr, len);
            let from_nhs = self.nhs.iter().any(|n| n.nbma == from);
            let (victims, refused): (Vec<Entry>, Vec<Entry>) = self
                .cache
                .iter()
                .filter(|e| {
                    matches!(
                        e.kind,
                        EntryType::Dynamic | EntryType::Negative | EntryType::Incomplete
                    ) && (e.prefix == purged || e.next_hop == addr)
                })
                .partition(|e| from_nhs || e.effective_nbma() == Some(from));
            let victims: Vec<Prefix> = victims.iter().map(|e| e.prefix).collect();
            let refused: Vec<Prefix> = refused.iter().map(|e| e.prefix).collect();
            for prefix in refused {
                self.core.stats.purges_refused = self.core.stats.purges_refused.saturating_add(1);
                self.core.event(Event::PurgeRefused { prefix, from });
            }
            for v in victims {
                self.cache.remove(&v, RemoveReason::Purged);
                self.pending.retain(|p| !v.contains(p.target));
            }
        }
        if !body.flags.contains(Flags::N)
            && let Some(reply) = req.reply(&self.core.me, body.cies.clone())
        {
            self.core.send(now, from, reply);
        }
        Ok(())
    }

    /// A Purge Reply: it must answer one of this node's Purge Requests.
    pub(super) fn on_purge_reply(&mut self, b: &Body) -> Result<(), Error> {
        if let Some(i) = self.purges.iter().position(|&id| id == b.request_id) {
            self.purges.remove(i);
            Ok(())
        } else {
            Err(Error::UnmatchedReply {
                packet_type: PacketType::PURGE_REPLY,
                request_id: b.request_id,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{HUB_NBMA, HUB_PROTO, events, hub, ip, spoke, transmits};
    use super::*;
    use crate::cache::CacheEvent;
    use crate::wire::{Cie, Node};
    use std::time::Duration;

    fn dynamic(now: Instant, prefix: Prefix, next_hop: &str, nbma: &str) -> Entry {
        let mut e = Entry::new(
            now,
            prefix,
            ip(next_hop),
            Some(ip(nbma)),
            EntryType::Dynamic,
        );
        e.expires = Some(now + Duration::from_secs(600));
        e
    }

    fn purge_of(addr: &str, prefix_len: u8, no_reply: bool) -> Vec<u8> {
        let cie = Cie {
            prefix_len,
            client_proto_addr: ip(addr).into(),
            ..Cie::default()
        };
        Repr::purge_request(900, &hub(), ip("10.0.0.2"), vec![cie], no_reply)
            .to_bytes()
            .unwrap()
    }

    fn removed(evs: &[Event]) -> Vec<Prefix> {
        evs.iter()
            .filter_map(|e| match e {
                Event::Cache(CacheEvent::Removed(en, RemoveReason::Purged)) => Some(en.prefix),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_purge_request_removes_only_the_matching_entry_and_is_answered() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        for (p, via, nbma) in [
            (Prefix::host(ip("10.0.0.3")), "10.0.0.3", "172.16.3.1"),
            (Prefix::host(ip("10.0.0.4")), "10.0.0.4", "172.16.4.1"),
        ] {
            c.cache.insert(t0, dynamic(t0, p, via, nbma)).unwrap();
        }
        events(&mut c);
        c.handle_packet(t0, ip(HUB_NBMA), &purge_of("10.0.0.3", 32, false))
            .unwrap();
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.3"))).is_none());
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.4"))).is_some());
        assert!(c.cache().get(&Prefix::host(ip(HUB_PROTO))).is_some());
        assert_eq!(removed(&events(&mut c)), vec![Prefix::host(ip("10.0.0.3"))]);
        let sent = transmits(&mut c);
        assert_eq!(sent.len(), 1);
        let t = sent.first().unwrap();
        assert_eq!(t.dst, ip(HUB_NBMA));
        let r = Repr::parse_bytes(&t.payload).unwrap();
        assert_eq!(r.packet_type(), PacketType::PURGE_REPLY);
        assert_eq!(r.request_id(), Some(900));
    }

    #[test]
    fn a_purge_request_never_removes_static_maps_and_n_means_no_reply() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        c.handle_packet(t0, ip(HUB_NBMA), &purge_of(HUB_PROTO, 32, true))
            .unwrap();
        assert_eq!(
            c.cache().get(&Prefix::host(ip(HUB_PROTO))).unwrap().kind,
            EntryType::Static
        );
        assert!(transmits(&mut c).is_empty());
        assert!(removed(&events(&mut c)).is_empty());
    }

    #[test]
    fn a_purge_is_taken_only_from_an_nhs_or_the_peer_the_mapping_points_at() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        for (via, nbma) in [("10.0.0.3", "172.16.3.1"), ("10.0.0.4", "172.16.4.1")] {
            c.cache
                .insert(t0, dynamic(t0, Prefix::host(ip(via)), via, nbma))
                .unwrap();
        }
        // A resolution in progress: an incomplete entry, with no NBMA address yet.
        c.resolve(t0, ip("10.0.0.5")).unwrap();
        transmits(&mut c);
        events(&mut c);
        // An attacker forges the hub's Purge Requests (the hub's addresses inside) from its
        // own address: every entry stays, each refusal counted and reported.
        let attacker = ip("198.51.100.66");
        for target in ["10.0.0.3", "10.0.0.5"] {
            c.handle_packet(t0, attacker, &purge_of(target, 32, true))
                .unwrap();
        }
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.3"))).is_some());
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.5"))).is_some());
        assert_eq!(c.pending_resolutions(), 1);
        assert_eq!(
            events(&mut c),
            vec![
                Event::PurgeRefused {
                    prefix: Prefix::host(ip("10.0.0.3")),
                    from: attacker
                },
                Event::PurgeRefused {
                    prefix: Prefix::host(ip("10.0.0.5")),
                    from: attacker
                },
            ]
        );
        // Another peer may not purge a mapping to 10.0.0.3 either.
        c.handle_packet(t0, ip("172.16.4.1"), &purge_of("10.0.0.3", 32, true))
            .unwrap();
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.3"))).is_some());
        assert_eq!(c.stats().purges_refused, 3);
        // The peer the mapping points at may, and so may the NHS.
        c.handle_packet(t0, ip("172.16.3.1"), &purge_of("10.0.0.3", 32, true))
            .unwrap();
        c.handle_packet(t0, ip(HUB_NBMA), &purge_of("10.0.0.5", 32, true))
            .unwrap();
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.3"))).is_none());
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.5"))).is_none());
        assert!(c.cache().get(&Prefix::host(ip("10.0.0.4"))).is_some());
        assert_eq!(c.pending_resolutions(), 0);
        let s = c.stats();
        assert_eq!((s.purges_refused, s.dropped), (3, 0));
    }

    #[test]
    fn a_purge_of_many_entries_removes_them_in_prefix_order_whatever_the_insertion_order() {
        let t0 = Instant::now();
        let prefixes: Vec<Prefix> = (1..=40u8)
            .map(|i| Prefix::new(IpAddr::from([192, 168, i, 0]), 24))
            .collect();
        let mut orders = Vec::new();
        for reversed in [false, true] {
            let mut c = spoke(t0, |_| {});
            let mut ps = prefixes.clone();
            if reversed {
                ps.reverse();
            }
            for p in ps {
                // Every network is behind one peer: its purge takes them all.
                c.cache
                    .insert(t0, dynamic(t0, p, "10.0.0.3", "172.16.3.1"))
                    .unwrap();
            }
            events(&mut c);
            c.handle_packet(t0, ip(HUB_NBMA), &purge_of("10.0.0.3", 32, true))
                .unwrap();
            orders.push(removed(&events(&mut c)));
            assert_eq!(c.cache().len(), 1, "only the hub's static map is left");
        }
        assert_eq!(orders.first(), orders.last());
        assert_eq!(orders.first(), Some(&prefixes));
    }

    #[test]
    fn clear_sends_a_purge_to_the_peer_whose_reply_is_matched_once() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        c.cache
            .insert(
                t0,
                dynamic(t0, Prefix::host(ip("10.0.0.3")), "10.0.0.3", "172.16.3.1"),
            )
            .unwrap();
        assert!(c.purge(t0, ip("10.0.0.3")));
        assert!(!c.purge(t0, ip("10.0.0.3")), "already gone");
        let sent = transmits(&mut c).pop().unwrap();
        assert_eq!(sent.dst, ip("172.16.3.1"));
        let req = Repr::parse_bytes(&sent.payload).unwrap();
        assert_eq!(req.packet_type(), PacketType::PURGE_REQUEST);
        let own = req.cies().first().unwrap();
        assert_eq!(own.client_proto_addr.ip(), Some(ip("10.0.0.2")));
        let peer = Node::new(ip("172.16.3.1"), ip("10.0.0.3"));
        let rep = req.reply(&peer, req.cies().to_vec()).unwrap();
        let rep = rep.to_bytes().unwrap();
        c.handle_packet(t0, ip("172.16.3.1"), &rep).unwrap();
        assert!(matches!(
            c.handle_packet(t0, ip("172.16.3.1"), &rep),
            Err(Error::UnmatchedReply {
                packet_type: PacketType::PURGE_REPLY,
                ..
            })
        ));
        assert_eq!(c.stats().unmatched_replies, 1);
        // A static map is removed locally but purges nobody.
        assert!(c.purge(t0, ip(HUB_PROTO)));
        assert!(transmits(&mut c).is_empty());
    }

    #[test]
    fn shutdown_purges_every_nhs_and_stops_registering() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| {
            c.nhs.push(crate::client::Nhs {
                protocol_addr: ip("10.0.0.254"),
                nbma_addr: Some(ip("172.17.0.254")),
            });
        });
        c.register(t0);
        c.resolve(t0, ip("10.0.0.3")).unwrap();
        transmits(&mut c);
        c.shutdown(t0);
        let sent = transmits(&mut c);
        let to: Vec<IpAddr> = sent.iter().map(|t| t.dst).collect();
        assert_eq!(to, vec![ip(HUB_NBMA), ip("172.17.0.254")]);
        for t in &sent {
            let r = Repr::parse_bytes(&t.payload).unwrap();
            assert_eq!(r.packet_type(), PacketType::PURGE_REQUEST);
        }
        assert_eq!(c.pending_resolutions(), 0);
        assert!(c.nhs_status().iter().all(|n| !n.up && !n.expecting));
        assert_eq!(c.poll_timeout(), None, "nothing is due any more");
    }
}
