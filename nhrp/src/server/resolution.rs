//! Resolutions on the server (RFC 2332 §5.2.1, §5.2.2, §5.3.2): answered from the
//! registration table or forwarded to the owner (Cisco phase 2), loop and hop-count checks
//! with Error Indications (§5.2.7), the next NHS for unknown destinations, and the requesters
//! remembered for purges.

use std::net::IpAddr;
use std::time::Instant;

use super::{ResolutionMode, Server};
use crate::Error;
use crate::cache::{Entry, EntryFlags, EntryType, Prefix, max_len};
use crate::wire::{
    Address, Cie, CieCode, ErrorCode, Extension, ExtensionBody, ExtensionType, Flags, NbmaAddress,
    PacketType, Repr,
};

impl Server {
    /// The entry that answers for `dst`: a registration or static map covering it, or the
    /// registration of a route's next hop (with the route's prefix).
    fn owner(&self, dst: IpAddr) -> Option<(Entry, Prefix)> {
        if let Some(e) = self.cache.lookup(dst).filter(|e| e.is_complete()) {
            return Some((e, e.prefix));
        }
        let route = self.routes.lookup(dst)?;
        let e = self
            .cache
            .lookup(route.next_hop)
            .filter(|e| e.is_complete())?;
        Some((e, route.prefix))
    }

    /// A Resolution Request: loops and exhausted hop counts get an Error Indication; the
    /// owner of the destination answers (from the table) or gets it forwarded; unknown
    /// destinations go to the next NHS or get a negative reply.
    pub(super) fn on_resolution(
        &mut self,
        now: Instant,
        from: IpAddr,
        bytes: &[u8],
        req: Repr,
        src_reg: Option<Entry>,
    ) -> Result<(), Error> {
        let body = req.message.body().ok_or(Error::Unexpected {
            packet_type: req.packet_type(),
            reason: "no body",
        })?;
        let me = self.config.common.protocol_addr;
        let my_nbma = self.config.common.nbma_addr;
        let transit: &[Cie] = req
            .extension(ExtensionType::FORWARD_TRANSIT_NHS)
            .and_then(|e| e.cies())
            .unwrap_or(&[]);
        if transit.iter().any(|c| {
            c.client_proto_addr.ip() == Some(me) || c.client_nbma_addr.addr.ip() == Some(my_nbma)
        }) {
            self.core
                .error_indication(now, from, bytes, ErrorCode::LOOP_DETECTED, 0);
            return Err(Error::LoopDetected);
        }
        if req.hop_count == 0 {
            self.core
                .error_indication(now, from, bytes, ErrorCode::HOP_COUNT_EXCEEDED, 0);
            return Err(Error::HopCountExceeded);
        }
        let src_proto = req.src_proto_addr.ip();
        // The registration of `src_proto` (looked up by `handle_packet`).
        let requester_reg = src_reg;
        // A request straight from its requester in the name of an address registered here
        // must come from where that registration is (post-NAT): otherwise it is someone
        // else's word about a registered spoke, and relaying or answering it would plant that
        // word in the destination's cache (RFC 2332 §5.2.1: the source binding is the
        // requester's own).
        if transit.is_empty() && requester_reg.is_some_and(|e| e.effective_nbma() != Some(from)) {
            return Err(Error::Unexpected {
                packet_type: PacketType::RESOLUTION_REQUEST,
                reason: "source protocol address is registered from another NBMA address",
            });
        }
        let requester_reg_nat = requester_reg.and_then(|e| e.nat_nbma);
        // What the next node is told about the requester's post-NAT address: the
        // registration's, else, for a request straight from its requester, the outer source
        // this NHS saw when it differs from the claim (the Cisco NAT extension).
        let requester_seen = requester_reg_nat.or_else(|| {
            (transit.is_empty() && req.src_nbma_addr.addr.ip() != Some(from)).then_some(from)
        });
        let requester_nbma = if transit.is_empty() {
            from
        } else {
            requester_reg_nat
                .or_else(|| req.src_nbma_addr.addr.ip())
                .unwrap_or(from)
        };
        let first_mtu = body.cies.first().map_or(0, |c| c.mtu);
        let Some(dst) = req.dst_proto_addr.ip() else {
            return Err(Error::Unexpected {
                packet_type: PacketType::RESOLUTION_REQUEST,
                reason: "no destination protocol address",
            });
        };
        let own = if dst == me {
            let mut e = Entry::new(now, Prefix::host(me), me, Some(my_nbma), EntryType::Local);
            e.flags = EntryFlags::AUTHORITATIVE | EntryFlags::UNIQUE;
            Some((e, Prefix::host(me)))
        } else {
            None
        };
        match own.or_else(|| self.owner(dst)) {
            Some((owner, prefix)) => {
                if let Some(list) = self.requesters.get_mut(&owner.prefix) {
                    if !list.contains(&requester_nbma) {
                        if list.len() >= self.config.max_requesters {
                            list.remove(0);
                        }
                        list.push(requester_nbma);
                    }
                } else if self.config.max_requesters > 0
                    && owner.flags.contains(EntryFlags::REGISTERED)
                {
                    self.requesters.insert(owner.prefix, vec![requester_nbma]);
                }
                let forward = self.config.resolution == ResolutionMode::Forward
                    && owner.flags.contains(EntryFlags::REGISTERED)
                    && Some(owner.next_hop) != src_proto;
                if forward {
                    let to = owner.effective_nbma().unwrap_or(from);
                    self.forward(now, from, bytes, &req, to, requester_seen)
                } else {
                    self.answer(now, req, &owner, prefix, requester_nbma);
                    Ok(())
                }
            }
            None => match self.next_nhs_nbma {
                Some(to) => self.forward(now, from, bytes, &req, to, requester_seen),
                None => {
                    let cie = Cie {
                        code: CieCode::NO_BINDING_EXISTS,
                        prefix_len: max_len(dst),
                        mtu: first_mtu,
                        holding_time: self.config.holdtime,
                        ..Cie::default()
                    };
                    if let Some(reply) = req.into_reply(&self.core.me, vec![cie]) {
                        self.core.send(now, requester_nbma, reply);
                    }
                    Ok(())
                }
            },
        }
    }

    /// Answers `req` (consumed by the reply) for `owner` (with `prefix`) to the requester at
    /// `to`.
    fn answer(&mut self, now: Instant, req: Repr, owner: &Entry, prefix: Prefix, to: IpAddr) {
        let holding_time = match owner.expires {
            Some(t) => u16::try_from(t.saturating_duration_since(now).as_secs())
                .unwrap_or(u16::MAX)
                .max(1),
            None => self.config.holdtime,
        };
        let cie = Cie {
            code: CieCode::SUCCESS,
            prefix_len: prefix.len(),
            mtu: if owner.mtu == 0 {
                self.config.common.mtu
            } else {
                owner.mtu
            },
            holding_time,
            client_nbma_addr: owner.nbma.map(NbmaAddress::from).unwrap_or_default(),
            client_nbma_subaddr: NbmaAddress::EMPTY,
            client_proto_addr: Address::from(owner.next_hop),
            preference: 0,
        };
        let Some(mut reply) = req.into_reply(&self.core.me, vec![cie]) else {
            return;
        };
        if let Some(b) = reply.message.body_mut() {
            b.flags |= Flags::A | Flags::D;
            if owner.flags.contains(EntryFlags::UNIQUE) {
                b.flags |= Flags::RESOLUTION_U;
            }
        }
        let nat = owner.nat_nbma.map(|n| {
            vec![Cie {
                prefix_len: max_len(owner.next_hop),
                client_nbma_addr: NbmaAddress::from(n),
                client_proto_addr: Address::from(owner.next_hop),
                ..Cie::default()
            }]
        });
        match (reply.extension_mut(ExtensionType::NAT_ADDRESS), nat) {
            (Some(ext), nat) => ext.body = ExtensionBody::NatAddress(nat.unwrap_or_default()),
            (None, Some(nat)) => reply
                .extensions
                .push(Extension::new(ExtensionBody::NatAddress(nat))),
            (None, None) => {}
        }
        self.core.send(now, to, reply);
    }

    /// Forwards `req` to `to`, hop count decremented and this NHS appended to the Forward
    /// Transit NHS Record, with the requester's post-NAT address when known.
    fn forward(
        &mut self,
        now: Instant,
        from: IpAddr,
        bytes: &[u8],
        req: &Repr,
        to: IpAddr,
        requester_nat: Option<IpAddr>,
    ) -> Result<(), Error> {
        if req.hop_count <= 1 {
            self.core
                .error_indication(now, from, bytes, ErrorCode::HOP_COUNT_EXCEEDED, 0);
            return Err(Error::HopCountExceeded);
        }
        let mut fwd = req.clone();
        fwd.hop_count = req.hop_count.saturating_sub(1);
        let me = Cie {
            prefix_len: max_len(self.config.common.protocol_addr),
            mtu: self.config.common.mtu,
            holding_time: self.config.holdtime,
            client_nbma_addr: NbmaAddress::from(self.config.common.nbma_addr),
            client_proto_addr: Address::from(self.config.common.protocol_addr),
            ..Cie::default()
        };
        match fwd.extension_mut(ExtensionType::FORWARD_TRANSIT_NHS) {
            Some(Extension {
                body: ExtensionBody::ForwardTransitNhs(c),
                ..
            }) => c.push(me),
            _ => {
                return Err(Error::Unexpected {
                    packet_type: PacketType::RESOLUTION_REQUEST,
                    reason: "no Forward Transit NHS Record extension to forward with",
                });
            }
        }
        if let (Some(nat), Some(src)) = (requester_nat, req.src_proto_addr.ip()) {
            let cie = Cie {
                prefix_len: max_len(src),
                client_nbma_addr: NbmaAddress::from(nat),
                client_proto_addr: Address::from(src),
                ..Cie::default()
            };
            match fwd.extension_mut(ExtensionType::NAT_ADDRESS) {
                Some(ext) => ext.body = ExtensionBody::NatAddress(vec![cie]),
                None => fwd
                    .extensions
                    .push(Extension::new(ExtensionBody::NatAddress(vec![cie]))),
            }
        }
        self.core.send(now, to, fwd);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        HUB_NBMA, HUB_PROTO, hub, ip, nbma, proto, register, spoke, transmits,
    };
    use super::*;
    use crate::client::Nhs;
    use crate::server::Route;
    use crate::wire::{Message, Node};

    /// Spoke `from` resolving `target`, as it sends it.
    fn request(from: u8, target: IpAddr) -> Repr {
        Repr::resolution_request(40 + u32::from(from), &spoke(from), target, 600, 1400)
    }

    fn transit(r: &Repr) -> Vec<Cie> {
        r.extension(ExtensionType::FORWARD_TRANSIT_NHS)
            .and_then(|e| e.cies())
            .unwrap_or_default()
            .to_vec()
    }

    #[test]
    fn authoritative_mode_answers_from_the_table() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| c.resolution = ResolutionMode::Authoritative);
        register(&mut s, t0, 2, 600);
        register(&mut s, t0, 3, 600);
        s.handle_packet(t0, nbma(2), &request(2, proto(3)).to_bytes().unwrap())
            .unwrap();
        let t = transmits(&mut s).pop().unwrap();
        assert_eq!(t.dst, nbma(2));
        let r = Repr::parse_bytes(&t.payload).unwrap();
        assert_eq!(r.packet_type(), PacketType::RESOLUTION_REPLY);
        let cie = r.cies().first().unwrap();
        assert_eq!(cie.code, CieCode::SUCCESS);
        assert_eq!(cie.client_nbma_addr.addr.ip(), Some(nbma(3)));
        assert_eq!(cie.client_proto_addr.ip(), Some(proto(3)));
        assert_eq!(cie.holding_time, 600);
        let flags = r.flags().unwrap();
        assert!(flags.contains(Flags::A) && flags.contains(Flags::RESOLUTION_U));
    }

    #[test]
    fn forward_mode_forwards_to_the_owner_with_this_nhs_in_the_transit_record() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        register(&mut s, t0, 2, 600);
        register(&mut s, t0, 3, 600);
        s.handle_packet(t0, nbma(2), &request(2, proto(3)).to_bytes().unwrap())
            .unwrap();
        let t = transmits(&mut s).pop().unwrap();
        assert_eq!(t.dst, nbma(3), "to the owner, which answers the requester");
        let f = Repr::parse_bytes(&t.payload).unwrap();
        assert_eq!(f.packet_type(), PacketType::RESOLUTION_REQUEST);
        assert_eq!(f.hop_count, 254);
        assert_eq!(f.request_id(), Some(42));
        let record = transit(&f);
        assert_eq!(record.len(), 1);
        assert_eq!(
            record.first().unwrap().client_proto_addr.ip(),
            Some(ip(HUB_PROTO))
        );
        // A spoke resolving itself is answered, not forwarded back to it.
        s.handle_packet(t0, nbma(2), &request(2, proto(2)).to_bytes().unwrap())
            .unwrap();
        let r = Repr::parse_bytes(&transmits(&mut s).pop().unwrap().payload).unwrap();
        assert_eq!(r.packet_type(), PacketType::RESOLUTION_REPLY);
    }

    #[test]
    fn a_request_that_already_passed_this_nhs_is_a_loop() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        let mut req = request(2, proto(3));
        if let Some(Extension {
            body: ExtensionBody::ForwardTransitNhs(c),
            ..
        }) = req.extension_mut(ExtensionType::FORWARD_TRANSIT_NHS)
        {
            c.push(Cie {
                prefix_len: 32,
                client_nbma_addr: NbmaAddress::from(ip(HUB_NBMA)),
                client_proto_addr: Address::from(ip(HUB_PROTO)),
                ..Cie::default()
            });
        }
        let bytes = req.to_bytes().unwrap();
        assert!(matches!(
            s.handle_packet(t0, nbma(2), &bytes),
            Err(Error::LoopDetected)
        ));
        let t = transmits(&mut s).pop().unwrap();
        let ei = Repr::parse_bytes(&t.payload).unwrap();
        let Message::ErrorIndication(ei) = ei.message else {
            panic!("not an Error Indication: {ei:?}");
        };
        assert_eq!(ei.code, ErrorCode::LOOP_DETECTED);
        assert_eq!(ei.packet, bytes, "the offending packet is quoted");
        assert_eq!(s.stats().error_indications_sent, 1);
    }

    #[test]
    fn a_request_with_no_hops_left_to_forward_is_an_error() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        register(&mut s, t0, 3, 600);
        for hops in [0, 1] {
            let req = request(2, proto(3)).with_hop_count(hops);
            assert!(matches!(
                s.handle_packet(t0, nbma(2), &req.to_bytes().unwrap()),
                Err(Error::HopCountExceeded)
            ));
            let ei = Repr::parse_bytes(&transmits(&mut s).pop().unwrap().payload).unwrap();
            assert!(matches!(
                ei.message,
                Message::ErrorIndication(ref e) if e.code == ErrorCode::HOP_COUNT_EXCEEDED
            ));
        }
    }

    #[test]
    fn an_unknown_destination_gets_a_negative_reply_or_goes_to_the_next_nhs() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| c.holdtime = 120);
        s.handle_packet(t0, nbma(2), &request(2, proto(9)).to_bytes().unwrap())
            .unwrap();
        let r = Repr::parse_bytes(&transmits(&mut s).pop().unwrap().payload).unwrap();
        let cie = r.cies().first().unwrap();
        assert_eq!(cie.code, CieCode::NO_BINDING_EXISTS);
        assert_eq!(cie.holding_time, 120);

        let mut up = hub(t0, |c| {
            c.next_nhs = Some(Nhs {
                protocol_addr: ip("10.0.0.250"),
                nbma_addr: Some(ip("172.17.0.250")),
            });
        });
        up.handle_packet(t0, nbma(2), &request(2, proto(9)).to_bytes().unwrap())
            .unwrap();
        let t = transmits(&mut up).pop().unwrap();
        assert_eq!(t.dst, ip("172.17.0.250"));
        let f = Repr::parse_bytes(&t.payload).unwrap();
        assert_eq!(f.packet_type(), PacketType::RESOLUTION_REQUEST);
        assert_eq!(f.hop_count, 254);
    }

    #[test]
    fn a_route_points_resolutions_for_a_network_at_the_spoke_behind_it() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| c.resolution = ResolutionMode::Authoritative);
        register(&mut s, t0, 3, 600);
        s.add_route(Route {
            prefix: Prefix::new(ip("192.168.3.0"), 24),
            next_hop: proto(3),
        });
        s.handle_packet(
            t0,
            nbma(2),
            &request(2, ip("192.168.3.7")).to_bytes().unwrap(),
        )
        .unwrap();
        let r = Repr::parse_bytes(&transmits(&mut s).pop().unwrap().payload).unwrap();
        let cie = r.cies().first().unwrap();
        assert_eq!(cie.code, CieCode::SUCCESS);
        assert_eq!(cie.prefix_len, 24);
        assert_eq!(cie.client_nbma_addr.addr.ip(), Some(nbma(3)));
        assert_eq!(cie.client_proto_addr.ip(), Some(proto(3)));
        assert!(s.remove_route(Prefix::new(ip("192.168.3.0"), 24)));
        s.handle_packet(
            t0,
            nbma(2),
            &request(2, ip("192.168.3.7")).to_bytes().unwrap(),
        )
        .unwrap();
        let r = Repr::parse_bytes(&transmits(&mut s).pop().unwrap().payload).unwrap();
        assert_eq!(r.cies().first().unwrap().code, CieCode::NO_BINDING_EXISTS);
    }

    #[test]
    fn a_request_in_the_name_of_a_registered_spoke_from_another_address_is_not_relayed() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        register(&mut s, t0, 2, 600);
        register(&mut s, t0, 3, 600);
        // An attacker says "10.0.0.3 is at 198.51.100.66" in a request for spoke 2: forwarded,
        // spoke 2 would learn the attacker as spoke 3.
        let attacker = ip("198.51.100.66");
        let forged =
            Repr::resolution_request(7, &Node::new(attacker, proto(3)), proto(2), 600, 1400);
        for mode in [ResolutionMode::Forward, ResolutionMode::Authoritative] {
            s.config.resolution = mode;
            assert!(matches!(
                s.handle_packet(t0, attacker, &forged.to_bytes().unwrap()),
                Err(Error::Unexpected { .. })
            ));
            assert!(
                transmits(&mut s).is_empty(),
                "{mode:?}: neither relayed nor answered"
            );
        }
        assert_eq!(s.stats().dropped, 2);
        // Spoke 3 itself is still relayed.
        s.config.resolution = ResolutionMode::Forward;
        s.handle_packet(t0, nbma(3), &request(3, proto(2)).to_bytes().unwrap())
            .unwrap();
        assert_eq!(transmits(&mut s).pop().unwrap().dst, nbma(2));
    }

    #[test]
    fn a_relayed_request_carries_the_outer_source_the_hub_saw_when_it_differs_from_the_claim() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        register(&mut s, t0, 2, 600);
        // Not registered here: the hub cannot check the claim, so it says where it came from.
        let seen = ip("198.51.100.66");
        let req = Repr::resolution_request(
            8,
            &Node::new(ip("203.0.113.9"), proto(9)),
            proto(2),
            600,
            1400,
        );
        s.handle_packet(t0, seen, &req.to_bytes().unwrap()).unwrap();
        let f = Repr::parse_bytes(&transmits(&mut s).pop().unwrap().payload).unwrap();
        let nat = f
            .extension(ExtensionType::NAT_ADDRESS)
            .and_then(|e| e.cies())
            .unwrap()
            .to_vec();
        assert_eq!(nat.len(), 1);
        let cie = nat.first().unwrap();
        assert_eq!(cie.client_proto_addr.ip(), Some(proto(9)));
        assert_eq!(cie.client_nbma_addr.addr.ip(), Some(seen));
    }
}
