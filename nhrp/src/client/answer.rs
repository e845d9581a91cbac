//! Answers to other nodes' Resolution Requests for this node's addresses (RFC 2332 §5.2.2): a
//! request a hub forwarded (phase 2) is answered straight to the requester, whose binding is
//! installed on the way; this node answers for its own address and its local prefixes.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::Client;
use crate::Error;
use crate::cache::{Entry, EntryFlags, EntryType, Prefix};
use crate::wire::{Cie, ExtensionBody, ExtensionType, Flags, NbmaAddress, PacketType, Repr};

impl Client {
    /// The prefix of this node's that covers `addr`: its own address or a local prefix.
    fn owned_prefix(&self, addr: IpAddr) -> Option<Prefix> {
        if addr == self.config.common.protocol_addr {
            return Some(Prefix::host(addr));
        }
        self.config
            .local_prefixes
            .iter()
            .filter(|p| p.contains(addr))
            .max_by_key(|p| p.len())
            .copied()
    }

    /// A Resolution Request for one of this node's addresses (forwarded by an NHS in phase 2,
    /// or sent directly): answered to the requester, whose binding is installed.
    pub(super) fn on_resolution_request(
        &mut self,
        now: Instant,
        from: IpAddr,
        req: &Repr,
    ) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        let target = req.dst_proto_addr.ip();
        let Some(prefix) = target.and_then(|t| self.owned_prefix(t)) else {
            return Err(Error::Unexpected {
                packet_type: PacketType::RESOLUTION_REQUEST,
                reason: "resolution for an address this client does not own",
            });
        };
        let src_proto = req.src_proto_addr.ip();
        // Relayed by one of this node's NHSs (it is in the Forward Transit NHS Record and the
        // packet comes from its NBMA address): the NHS vouches for the requester. Anything
        // else is a direct request, whatever its record says.
        let relayed = self.nhs.iter().any(|n| n.nbma == from)
            && req
                .extension(ExtensionType::FORWARD_TRANSIT_NHS)
                .and_then(|e| e.cies())
                .is_some_and(|c| !c.is_empty());
        let requester_nat = req
            .extension(ExtensionType::NAT_ADDRESS)
            .and_then(|e| e.cies())
            .and_then(|cies| {
                cies.iter().find_map(|c| {
                    (c.client_proto_addr.ip() == src_proto && src_proto.is_some())
                        .then(|| c.client_nbma_addr.addr.ip())
                        .flatten()
                })
            });
        let claimed = req.src_nbma_addr.addr.ip();
        // A relayed request is answered straight to the requester (phase 2), a direct one to
        // the packet's outer source, never to an address merely written inside it.
        let reply_to = if relayed {
            requester_nat.or(claimed).unwrap_or(from)
        } else {
            from
        };
        let answer = Cie {
            prefix_len: prefix.len(),
            ..self.own_cie()
        };
        let Some(mut reply) = req.reply(&self.core.me, vec![answer]) else {
            return Ok(());
        };
        if let Some(b) = reply.message.body_mut() {
            b.flags |= Flags::D;
            if self.config.unique {
                b.flags |= Flags::RESOLUTION_U;
            }
        }
        if let Some(ext) = reply.extension_mut(ExtensionType::NAT_ADDRESS) {
            let mine = self.public_nbma.map(|public| {
                vec![Cie {
                    client_nbma_addr: NbmaAddress::from(public),
                    ..self.own_cie()
                }]
            });
            ext.body = ExtensionBody::NatAddress(mine.unwrap_or_default());
        }
        self.core.send(now, reply_to, reply);
        // The requester's binding (S: the source binding is stable).
        if body.flags.contains(Flags::S)
            && let (Some(src), Some(nbma)) = (src_proto, claimed)
        {
            let claim = Claim {
                src,
                nbma,
                reached: reply_to,
                relayed,
                hold: body
                    .cies
                    .first()
                    .map_or(self.config.holdtime, |c| c.holding_time),
                router: body.flags.contains(Flags::Q),
            };
            self.learn_requester(now, &claim);
        }
        Ok(())
    }

    /// Installs the requester's binding a Resolution Request carried, within what RFC 2332
    /// §5.2.1 and the seeds allow. The binding is the requester's own claim, not an NHS's
    /// answer, so:
    ///
    /// - a request relayed by one of this node's NHSs (phase 2/3: the NHS forwarded it to the
    ///   owner of the destination, seed 003) may create the mapping where there is none, or
    ///   replace an incomplete or negative entry;
    /// - any request may refresh (extend) a dynamic mapping that already points where the
    ///   request came from (post-NAT), keeping its flags: a peer over its spoke-to-spoke
    ///   tunnel;
    /// - nothing else: a direct request creates nothing, and no request changes where an
    ///   existing mapping points (unique, static, local or learned from a reply). A spoke whose
    ///   NBMA address changed is corrected by its NHS (purge, next reply) or by expiry.
    ///
    /// Refusals are counted in [`crate::Stats::bindings_refused`].
    fn learn_requester(&mut self, now: Instant, claim: &Claim) {
        let key = Prefix::host(claim.src);
        let existing = self.cache.get(&key);
        let expires = now + Duration::from_secs(u64::from(claim.hold.max(1)));
        let e = match existing {
            Some(old) if old.kind == EntryType::Dynamic && old.is_complete() => {
                if old.effective_nbma() != Some(claim.reached) {
                    self.refuse_binding();
                    return;
                }
                let mut e = old;
                e.expires = e.expires.map(|t| t.max(expires));
                e
            }
            Some(Entry {
                kind: EntryType::Incomplete | EntryType::Negative,
                ..
            })
            | None
                if claim.relayed =>
            {
                claim.entry(now, expires)
            }
            _ => {
                self.refuse_binding();
                return;
            }
        };
        if let Err(err) = self.cache.insert(now, e) {
            self.core.drop_err(err);
        }
    }

    fn refuse_binding(&mut self) {
        self.core.stats.bindings_refused = self.core.stats.bindings_refused.saturating_add(1);
    }
}

/// The requester's binding as a Resolution Request carries it.
struct Claim {
    /// Its protocol address.
    src: IpAddr,
    /// The NBMA address it claims.
    nbma: IpAddr,
    /// Where it is reached: its post-NAT address (what its NHS reported, or the packet's
    /// outer source), the claim itself when there is no NAT.
    reached: IpAddr,
    /// Relayed by one of this node's NHSs.
    relayed: bool,
    /// The holding time it asks for.
    hold: u16,
    /// Q: the requester is a router.
    router: bool,
}

impl Claim {
    /// A new dynamic entry for it, expiring at `expires`.
    fn entry(&self, now: Instant, expires: Instant) -> Entry {
        let mut e = Entry::new(
            now,
            Prefix::host(self.src),
            self.src,
            Some(self.nbma),
            EntryType::Dynamic,
        );
        e.expires = Some(expires);
        if self.reached != self.nbma {
            e.nat_nbma = Some(self.reached);
            e.flags |= EntryFlags::NAT;
        }
        if self.router {
            e.flags |= EntryFlags::ROUTER;
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{HUB_NBMA, SPOKE_NBMA, SPOKE_PROTO, binding, ip, spoke, transmits};
    use super::*;
    use crate::wire::{Extension, Node};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_forwarded_request_for_this_node_is_answered_to_the_requester_directly() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        let requester = Node::new(ip("172.16.3.1"), ip("10.0.0.3"));
        let mut req = Repr::resolution_request(77, &requester, ip(SPOKE_PROTO), 600, 1400);
        if let Some(Extension {
            body: ExtensionBody::ForwardTransitNhs(c),
            ..
        }) = req.extension_mut(ExtensionType::FORWARD_TRANSIT_NHS)
        {
            c.push(binding(HUB_NBMA, "10.0.0.1", 600));
        }
        req.hop_count = 254;
        c.handle_packet(t0, ip(HUB_NBMA), &req.to_bytes().unwrap())
            .unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        assert_eq!(
            sent.dst,
            ip("172.16.3.1"),
            "phase 2: straight to the requester"
        );
        let rep = Repr::parse_bytes(&sent.payload).unwrap();
        assert_eq!(rep.packet_type(), PacketType::RESOLUTION_REPLY);
        assert_eq!(rep.request_id(), Some(77));
        let cie = rep.cies().first().unwrap();
        assert_eq!(cie.client_nbma_addr.addr.ip(), Some(ip(SPOKE_NBMA)));
        assert_eq!(cie.client_proto_addr.ip(), Some(ip(SPOKE_PROTO)));
        assert!(rep.flags().unwrap().contains(Flags::D));
        // The requester's binding (S flag) is installed on the way.
        let e = c.cache().get(&Prefix::host(ip("10.0.0.3"))).unwrap();
        assert_eq!(e.kind, EntryType::Dynamic);
        assert_eq!(e.effective_nbma(), Some(ip("172.16.3.1")));
        assert_eq!(e.expires, Some(t0 + secs(600)));
        // A request for an address this node does not own is dropped.
        let other = Repr::resolution_request(78, &requester, ip("10.0.0.99"), 600, 1400);
        assert!(matches!(
            c.handle_packet(t0, ip(HUB_NBMA), &other.to_bytes().unwrap()),
            Err(Error::Unexpected { .. })
        ));
        assert_eq!(c.stats().dropped, 1);
    }

    /// Spoke 10.0.0.12 as the hub resolved it for this spoke: 172.16.2.1, unique.
    const PEER_NBMA: &str = "172.16.2.1";
    const PEER_PROTO: &str = "10.0.0.12";
    const ATTACKER: &str = "198.51.100.66";

    /// A spoke that resolved `PEER_PROTO` through the hub and got a unique mapping.
    fn spoke_with_unique_mapping(t0: Instant) -> Client {
        let mut c = spoke(t0, |_| {});
        c.resolve(t0, ip(PEER_PROTO)).unwrap();
        let sent = transmits(&mut c).pop().unwrap();
        let mut rep = Repr::parse_bytes(&super::super::testing::reply(
            &sent.payload,
            vec![binding(PEER_NBMA, PEER_PROTO, 600)],
        ))
        .unwrap();
        if let Some(b) = rep.message.body_mut() {
            b.flags |= Flags::A | Flags::RESOLUTION_U;
        }
        c.handle_packet(t0, ip(HUB_NBMA), &rep.to_bytes().unwrap())
            .unwrap();
        let e = c.cache().get(&Prefix::host(ip(PEER_PROTO))).unwrap();
        assert!(e.flags.contains(EntryFlags::UNIQUE));
        assert_eq!(e.effective_nbma(), Some(ip(PEER_NBMA)));
        c
    }

    /// The attacker's Resolution Request for this spoke's address, saying that `PEER_PROTO` is
    /// at `claimed` (S flag set, as every request sets it); `relayed` adds the hub to the
    /// Forward Transit NHS Record, as the hub does when it forwards a request.
    fn forged_request(claimed: &str, relayed: bool) -> Vec<u8> {
        let forger = Node::new(ip(claimed), ip(PEER_PROTO));
        let mut req = Repr::resolution_request(4242, &forger, ip(SPOKE_PROTO), 600, 1400);
        if relayed
            && let Some(Extension {
                body: ExtensionBody::ForwardTransitNhs(c),
                ..
            }) = req.extension_mut(ExtensionType::FORWARD_TRANSIT_NHS)
        {
            c.push(binding(HUB_NBMA, "10.0.0.1", 600));
        }
        req.to_bytes().unwrap()
    }

    fn peer_nbma(c: &Client) -> Option<IpAddr> {
        c.cache()
            .get(&Prefix::host(ip(PEER_PROTO)))
            .and_then(|e| e.effective_nbma())
    }

    #[test]
    fn a_forged_request_sent_directly_does_not_replace_a_unique_mapping() {
        let t0 = Instant::now();
        let mut c = spoke_with_unique_mapping(t0);
        transmits(&mut c);
        c.handle_packet(t0 + secs(1), ip(ATTACKER), &forged_request(ATTACKER, false))
            .unwrap();
        assert_eq!(
            peer_nbma(&c),
            Some(ip(PEER_NBMA)),
            "the genuine mapping stays"
        );
        assert!(
            c.cache()
                .get(&Prefix::host(ip(PEER_PROTO)))
                .unwrap()
                .flags
                .contains(EntryFlags::UNIQUE)
        );
        assert_eq!(c.stats().bindings_refused, 1);
        // The question about this node's own address is still answered, to whoever asked.
        let sent = transmits(&mut c);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent.first().unwrap().dst, ip(ATTACKER));
        // The next packet for 10.0.0.12 goes to the genuine spoke.
        assert_eq!(
            c.resolve(t0 + secs(1), ip(PEER_PROTO)).unwrap(),
            crate::client::Resolution::Cached(ip(PEER_NBMA))
        );
    }

    #[test]
    fn a_forged_request_relayed_by_the_hub_does_not_replace_a_unique_mapping() {
        let t0 = Instant::now();
        let mut c = spoke_with_unique_mapping(t0);
        transmits(&mut c);
        c.handle_packet(t0 + secs(1), ip(HUB_NBMA), &forged_request(ATTACKER, true))
            .unwrap();
        assert_eq!(
            peer_nbma(&c),
            Some(ip(PEER_NBMA)),
            "the genuine mapping stays"
        );
        assert_eq!(c.stats().bindings_refused, 1);
        assert_eq!(
            c.resolve(t0 + secs(1), ip(PEER_PROTO)).unwrap(),
            crate::client::Resolution::Cached(ip(PEER_NBMA))
        );
    }

    #[test]
    fn a_request_not_relayed_by_an_nhs_creates_no_mapping_and_is_answered_to_its_outer_source() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        // Sent straight from the attacker, claiming to be relayed, with the source NBMA of a
        // victim: no mapping is created and the reply goes to the packet's outer source, not
        // to the address written inside it.
        let victim = "203.0.113.9";
        c.handle_packet(t0, ip(ATTACKER), &forged_request(victim, true))
            .unwrap();
        assert_eq!(peer_nbma(&c), None);
        assert!(c.cache().get(&Prefix::host(ip(PEER_PROTO))).is_none());
        let sent = transmits(&mut c);
        assert_eq!(
            sent.iter().map(|t| t.dst).collect::<Vec<_>>(),
            vec![ip(ATTACKER)]
        );
        // Nor when the claim matches the outer source: only an NHS vouches for a new binding.
        c.handle_packet(t0, ip(ATTACKER), &forged_request(ATTACKER, false))
            .unwrap();
        assert!(c.cache().get(&Prefix::host(ip(PEER_PROTO))).is_none());
        assert_eq!(c.stats().bindings_refused, 2);
    }

    #[test]
    fn a_direct_request_from_the_mapped_address_refreshes_the_mapping_keeping_its_flags() {
        let t0 = Instant::now();
        let mut c = spoke_with_unique_mapping(t0);
        transmits(&mut c);
        // The peer itself, over the spoke-to-spoke tunnel (a refresh).
        let peer = Node::new(ip(PEER_NBMA), ip(PEER_PROTO));
        let req = Repr::resolution_request(9, &peer, ip(SPOKE_PROTO), 900, 1400);
        c.handle_packet(t0 + secs(100), ip(PEER_NBMA), &req.to_bytes().unwrap())
            .unwrap();
        let e = c.cache().get(&Prefix::host(ip(PEER_PROTO))).unwrap();
        assert_eq!(e.effective_nbma(), Some(ip(PEER_NBMA)));
        assert_eq!(e.expires, Some(t0 + secs(1000)));
        assert!(
            e.flags.contains(EntryFlags::UNIQUE),
            "a refresh keeps the flags"
        );
        assert_eq!(c.stats().bindings_refused, 0);
    }
}
