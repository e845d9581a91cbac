//! Registrations on the server (RFC 2332 §5.2.3, §5.2.4): a table learned with no per-spoke
//! configuration, uniqueness (code 14 for a different NBMA address claiming a unique,
//! unexpired registration), holding times, NAT detection from the outer source address, and
//! what may be registered at all (code 4 for a prefix outside the tunnel subnet or wider than
//! a host, unless configured).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::Server;
use crate::Error;
use crate::cache::{Entry, EntryFlags, EntryType, Prefix, max_len};
use crate::machine::Event;
use crate::wire::{
    Address, Cie, CieCode, Extension, ExtensionBody, ExtensionType, Flags, NbmaAddress, PacketType,
    Repr,
};

impl Server {
    /// A Registration Request: every CIE is registered (or refused) and the reply carries
    /// the post-NAT address in the NAT Address extension when NAT was detected. Only what
    /// [`super::ServerConfig::may_register`] allows is registered: by default host addresses
    /// inside the tunnel subnet, never this server's own; the rest gets code 4,
    /// Administratively Prohibited, counted and reported ([`Event::RegistrationRefused`]).
    pub(super) fn on_registration(
        &mut self,
        now: Instant,
        from: IpAddr,
        mut req: Repr,
        src_reg: Option<Entry>,
    ) -> Result<(), Error> {
        let packet_type = req.packet_type();
        let Some(body) = req.message.body_mut() else {
            return Err(Error::Unexpected {
                packet_type,
                reason: "no body",
            });
        };
        if req.dst_proto_addr.ip() != Some(self.config.common.protocol_addr) {
            return Err(Error::Unexpected {
                packet_type: PacketType::REGISTRATION_REQUEST,
                reason: "registration for another NHS",
            });
        }
        let src_proto = req.src_proto_addr.ip();
        let src_nbma = req.src_nbma_addr.addr.ip();
        let unique = body.flags.contains(Flags::REGISTRATION_U);
        // The answers are the request's CIEs with their codes set, in place: the request is
        // consumed by the reply.
        let mut answers = core::mem::take(&mut body.cies);
        let mut nat_cie = None;
        // The registration of the source protocol address, as `handle_packet` found it: the
        // current entry for the first CIE's prefix when that is the one it covers (after the
        // first CIE the table may have changed, so later ones look again).
        let mut hint = src_reg;
        for answer in &mut answers {
            let c = &*answer;
            let proto = c.client_proto_addr.ip().or(src_proto);
            let claimed = c.client_nbma_addr.addr.ip().or(src_nbma).unwrap_or(from);
            let Some(proto) = proto else {
                answer.code = CieCode::ADMINISTRATIVELY_PROHIBITED;
                self.core.stats.registrations_refused =
                    self.core.stats.registrations_refused.saturating_add(1);
                continue;
            };
            let len = if c.prefix_len == 0 || c.client_proto_addr.is_empty() {
                max_len(proto)
            } else {
                c.prefix_len
            };
            let prefix = Prefix::new(proto, len);
            let nat_nbma = (from != claimed).then_some(from);
            let effective = nat_nbma.unwrap_or(claimed);
            let code = if self.config.may_register(prefix) {
                let old = match hint.take() {
                    Some(e) if e.prefix == prefix => Some(e),
                    _ => self.cache.get(&prefix),
                };
                self.register_one(now, prefix, old, proto, claimed, nat_nbma, unique, c)
            } else {
                CieCode::ADMINISTRATIVELY_PROHIBITED
            };
            answer.code = code;
            if answer.code == CieCode::ADMINISTRATIVELY_PROHIBITED {
                self.refused(prefix, from);
            }
            if answer.code == CieCode::SUCCESS && nat_nbma.is_some() {
                nat_cie = Some(Cie {
                    prefix_len: max_len(proto),
                    client_nbma_addr: NbmaAddress::from(effective),
                    client_proto_addr: Address::from(proto),
                    ..Cie::default()
                });
            }
        }
        let Some(mut reply) = req.into_reply(&self.core.me, answers) else {
            return Ok(());
        };
        if let Some(cie) = nat_cie {
            match reply.extension_mut(ExtensionType::NAT_ADDRESS) {
                Some(ext) => ext.body = ExtensionBody::NatAddress(vec![cie]),
                None => reply
                    .extensions
                    .push(Extension::new(ExtensionBody::NatAddress(vec![cie]))),
            }
        }
        self.core.send(now, from, reply);
        Ok(())
    }

    /// Counts and reports a registration of `prefix` from `claimant` refused with code 4.
    fn refused(&mut self, prefix: Prefix, claimant: IpAddr) {
        self.core.stats.registrations_refused =
            self.core.stats.registrations_refused.saturating_add(1);
        self.core
            .event(Event::RegistrationRefused { prefix, claimant });
    }

    /// Registers one binding (`old`: the entry for `prefix`, if any); the CIE code of the
    /// answer.
    #[allow(clippy::too_many_arguments)]
    fn register_one(
        &mut self,
        now: Instant,
        prefix: Prefix,
        old: Option<Entry>,
        proto: IpAddr,
        claimed: IpAddr,
        nat_nbma: Option<IpAddr>,
        unique: bool,
        c: &Cie,
    ) -> CieCode {
        let effective = nat_nbma.unwrap_or(claimed);
        let mut is_new = true;
        if let Some(old) = old {
            if old.kind == EntryType::Static || old.kind == EntryType::Local {
                return CieCode::ADMINISTRATIVELY_PROHIBITED;
            }
            let old_effective = old.effective_nbma();
            if old.flags.contains(EntryFlags::UNIQUE)
                && old.expires.is_some_and(|t| t > now)
                && old_effective != Some(effective)
            {
                self.core.event(Event::RegistrationConflict {
                    protocol_addr: proto,
                    holder: old_effective.unwrap_or(claimed),
                    claimant: effective,
                });
                return CieCode::ALREADY_REGISTERED;
            }
            is_new = old_effective != Some(effective);
        }
        let mut e = Entry::new(now, prefix, proto, Some(claimed), EntryType::Dynamic);
        e.nat_nbma = nat_nbma;
        e.mtu = c.mtu;
        e.expires = Some(now + Duration::from_secs(u64::from(c.holding_time.max(1))));
        e.flags = EntryFlags::AUTHORITATIVE | EntryFlags::REGISTERED;
        if unique {
            e.flags |= EntryFlags::UNIQUE;
        }
        if nat_nbma.is_some() {
            e.flags |= EntryFlags::NAT;
        }
        if let Some(old) = old
            && old.flags.contains(EntryFlags::USED)
        {
            e.flags |= EntryFlags::USED;
            e.last_used = old.last_used;
        }
        if self.cache.insert(now, e).is_err() {
            self.core.stats.table_full = self.core.stats.table_full.saturating_add(1);
            return CieCode::INSUFFICIENT_RESOURCES;
        }
        if is_new {
            self.core.event(Event::SpokeRegistered {
                protocol_addr: proto,
                nbma: effective,
                nat: nat_nbma.is_some(),
            });
        }
        CieCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        HUB_PROTO, events, hub, ip, me, nbma, proto, register, registration, spoke, transmits,
    };
    use super::*;
    use crate::cache::CacheEvent;
    use crate::client::StaticMap;
    use crate::wire::Node;
    use std::time::Duration;

    #[test]
    fn a_registration_is_learned_with_its_holding_time_and_answered() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        let reply = register(&mut s, t0, 2, 600);
        assert_eq!(reply.packet_type(), PacketType::REGISTRATION_REPLY);
        assert_eq!(reply.request_id(), Some(102));
        assert_eq!(reply.cies().first().unwrap().code, CieCode::SUCCESS);
        assert!(reply.extension(ExtensionType::NAT_ADDRESS).is_some());
        let e = s.registration(proto(2)).unwrap();
        assert_eq!(e.prefix, Prefix::host(proto(2)));
        assert_eq!(e.nbma, Some(nbma(2)));
        assert_eq!(e.nat_nbma, None);
        assert_eq!(e.expires, Some(t0 + Duration::from_secs(600)));
        assert_eq!(
            e.flags,
            EntryFlags::AUTHORITATIVE | EntryFlags::REGISTERED | EntryFlags::UNIQUE
        );
        let evs = events(&mut s);
        assert_eq!(
            evs.first(),
            Some(&Event::SpokeRegistered {
                protocol_addr: proto(2),
                nbma: nbma(2),
                nat: false
            })
        );
        assert!(matches!(
            evs.get(1),
            Some(Event::Cache(CacheEvent::Added(_)))
        ));
        // A refresh from the same address is not a new spoke.
        register(&mut s, t0 + Duration::from_secs(200), 2, 600);
        assert!(
            !events(&mut s)
                .iter()
                .any(|e| matches!(e, Event::SpokeRegistered { .. }))
        );
        assert_eq!(
            s.registration(proto(2)).unwrap().expires,
            Some(t0 + Duration::from_secs(800))
        );
    }

    #[test]
    fn nat_is_detected_from_the_outer_source_and_returned_in_the_reply() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        let public = ip("203.0.113.9");
        s.handle_packet(t0, public, &registration(2, 600)).unwrap();
        let t = transmits(&mut s).pop().unwrap();
        assert_eq!(t.dst, public, "the reply goes back through the NAT");
        let reply = Repr::parse_bytes(&t.payload).unwrap();
        let nat = reply
            .extension(ExtensionType::NAT_ADDRESS)
            .and_then(|e| e.cies())
            .and_then(|c| c.first())
            .unwrap();
        assert_eq!(nat.client_nbma_addr.addr.ip(), Some(public));
        assert_eq!(nat.client_proto_addr.ip(), Some(proto(2)));
        let e = s.registration(proto(2)).unwrap();
        assert_eq!((e.nbma, e.nat_nbma), (Some(nbma(2)), Some(public)));
        assert!(e.flags.contains(EntryFlags::NAT));
        assert_eq!(s.multicast_nbmas(), vec![public]);
    }

    #[test]
    fn a_unique_address_claimed_from_elsewhere_gets_code_14_until_it_expires() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        register(&mut s, t0, 2, 60);
        events(&mut s);
        // Another NBMA address claims 10.0.0.2.
        let thief = Node::new(ip("172.16.99.1"), proto(2));
        let claim = Repr::registration_request(5, &thief, &me(), 60, 1400)
            .to_bytes()
            .unwrap();
        s.handle_packet(t0, ip("172.16.99.1"), &claim).unwrap();
        let reply = Repr::parse_bytes(&transmits(&mut s).pop().unwrap().payload).unwrap();
        assert_eq!(
            reply.cies().first().unwrap().code,
            CieCode::ALREADY_REGISTERED
        );
        assert_eq!(
            events(&mut s),
            vec![Event::RegistrationConflict {
                protocol_addr: proto(2),
                holder: nbma(2),
                claimant: ip("172.16.99.1"),
            }]
        );
        assert_eq!(s.registration(proto(2)).unwrap().nbma, Some(nbma(2)));
        // Once the holder's registration has expired, the claim succeeds.
        let later = t0 + Duration::from_secs(61);
        s.handle_packet(later, ip("172.16.99.1"), &claim).unwrap();
        let reply = Repr::parse_bytes(&transmits(&mut s).pop().unwrap().payload).unwrap();
        assert_eq!(reply.cies().first().unwrap().code, CieCode::SUCCESS);
        assert_eq!(
            s.registration(proto(2)).unwrap().nbma,
            Some(ip("172.16.99.1"))
        );
    }

    #[test]
    fn a_static_map_cannot_be_registered_over() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| c.map.push(StaticMap::host(proto(2), nbma(2))));
        let reply = register(&mut s, t0, 2, 600);
        assert_eq!(
            reply.cies().first().unwrap().code,
            CieCode::ADMINISTRATIVELY_PROHIBITED
        );
        assert_eq!(
            s.cache().get(&Prefix::host(proto(2))).unwrap().kind,
            EntryType::Static
        );
        assert!(s.registration(proto(2)).is_none());
    }

    /// A Registration Request from `who` claiming `cies`.
    fn claim(id: u32, who: &Node, cies: Vec<Cie>) -> Vec<u8> {
        let mut r = Repr::registration_request(id, who, &me(), 600, 1400);
        if let Some(b) = r.message.body_mut() {
            b.cies = cies;
        }
        r.to_bytes().unwrap()
    }

    /// A CIE claiming `addr`/`len` at `nbma`.
    fn binding(addr: &str, len: u8, nbma: IpAddr) -> Cie {
        Cie {
            prefix_len: len,
            holding_time: 600,
            client_nbma_addr: NbmaAddress::from(nbma),
            client_proto_addr: Address::from(ip(addr)),
            ..Cie::default()
        }
    }

    /// The CIE codes of the reply the server just sent.
    fn codes(s: &mut Server) -> Vec<CieCode> {
        let t = transmits(s).pop().unwrap();
        Repr::parse_bytes(&t.payload)
            .unwrap()
            .cies()
            .iter()
            .map(|c| c.code)
            .collect()
    }

    #[test]
    fn only_host_addresses_in_the_tunnel_subnet_other_than_the_hubs_are_registered_by_default() {
        let t0 = Instant::now();
        let mut s = hub(t0, |_| {});
        let attacker = ip("198.51.100.66");
        let who = Node::new(attacker, ip("10.0.0.66"));
        let cies = vec![
            binding("192.168.2.0", 24, attacker),
            binding("172.30.0.5", 32, attacker),
            binding("10.0.0.0", 24, attacker),
            binding("10.0.0.64", 26, attacker),
            binding(HUB_PROTO, 32, attacker),
            binding("10.0.0.66", 32, attacker),
        ];
        s.handle_packet(t0, attacker, &claim(1, &who, cies))
            .unwrap();
        let admin = CieCode::ADMINISTRATIVELY_PROHIBITED;
        assert_eq!(
            codes(&mut s),
            vec![admin, admin, admin, admin, admin, CieCode::SUCCESS]
        );
        let refused: Vec<Prefix> = events(&mut s)
            .into_iter()
            .filter_map(|e| match e {
                Event::RegistrationRefused { prefix, claimant } => {
                    assert_eq!(claimant, attacker);
                    Some(prefix)
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            refused,
            vec![
                Prefix::new(ip("192.168.2.0"), 24),
                Prefix::host(ip("172.30.0.5")),
                Prefix::new(ip("10.0.0.0"), 24),
                Prefix::new(ip("10.0.0.64"), 26),
                Prefix::host(ip(HUB_PROTO)),
            ]
        );
        assert_eq!(s.stats().registrations_refused, 5);
        assert_eq!(s.cache().len(), 1);
        assert!(s.registration(ip("192.168.2.1")).is_none());
        assert!(s.registration(ip("172.30.0.5")).is_none());
        assert!(s.registration(ip("10.0.0.65")).is_none());
        assert!(s.registration(ip("10.0.0.66")).is_some());
        // A Cisco-style request (the source is the client) from outside the subnet likewise.
        let outside = Node::new(attacker, ip("172.30.0.9"));
        let req = Repr::registration_request(2, &outside, &me(), 600, 1400);
        s.handle_packet(t0, attacker, &req.to_bytes().unwrap())
            .unwrap();
        assert_eq!(codes(&mut s), vec![admin]);
        // So is a static map (counted the same way).
        let mut s = hub(t0, |c| c.map.push(StaticMap::host(proto(2), nbma(2))));
        register(&mut s, t0, 2, 600);
        assert_eq!(s.stats().registrations_refused, 1);
    }

    #[test]
    fn configured_registration_prefixes_and_a_wider_tunnel_subnet_admit_more() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| {
            c.tunnel_prefix_len = 16;
            c.registration_prefixes = vec![Prefix::new(ip("192.168.0.0"), 16)];
        });
        let spoke_nbma = ip("100.64.1.54");
        let who = Node::new(spoke_nbma, ip("10.0.1.54"));
        let cies = vec![
            binding("10.0.1.54", 32, spoke_nbma),
            binding("192.168.54.0", 24, spoke_nbma),
            binding("192.168.54.7", 32, spoke_nbma),
            binding("192.168.0.0", 15, spoke_nbma),
            binding("192.169.0.0", 24, spoke_nbma),
            binding("10.1.0.1", 32, spoke_nbma),
        ];
        s.handle_packet(t0, spoke_nbma, &claim(1, &who, cies))
            .unwrap();
        let admin = CieCode::ADMINISTRATIVELY_PROHIBITED;
        let ok = CieCode::SUCCESS;
        assert_eq!(codes(&mut s), vec![ok, ok, ok, admin, admin, admin]);
        assert_eq!(
            s.registration(ip("192.168.54.9")).unwrap().prefix,
            Prefix::new(ip("192.168.54.0"), 24)
        );
        assert_eq!(s.stats().registrations_refused, 3);
    }

    #[test]
    fn a_registration_for_another_nhs_or_over_the_table_bound_is_refused() {
        let t0 = Instant::now();
        let mut s = hub(t0, |c| c.max_registrations = 1);
        let elsewhere = Node::new(ip("172.17.0.2"), ip("10.0.0.250"));
        let req = Repr::registration_request(1, &spoke(2), &elsewhere, 600, 1400);
        assert!(matches!(
            s.handle_packet(t0, nbma(2), &req.to_bytes().unwrap()),
            Err(Error::Unexpected {
                packet_type: PacketType::REGISTRATION_REQUEST,
                ..
            })
        ));
        assert!(transmits(&mut s).is_empty());
        register(&mut s, t0, 2, 600);
        let full = register(&mut s, t0, 3, 600);
        assert_eq!(
            full.cies().first().unwrap().code,
            CieCode::INSUFFICIENT_RESOURCES
        );
        assert_eq!(s.stats().table_full, 1);
        assert_eq!(s.cache().len(), 1);
        assert_eq!(
            full.dst_proto_addr.ip(),
            Some(ip(HUB_PROTO)),
            "a reply keeps the request's addresses"
        );
    }
}
