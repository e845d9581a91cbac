//! Answers to other nodes' Resolution Requests for this node's addresses (RFC 2332 §5.2.2): a
//! request a hub forwarded (phase 2) is answered straight to the requester, whose binding is
//! installed on the way; this node answers for its own address and its local prefixes.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::Client;
use super::resolution::keep_use;
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
        let forwarded = req
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
        let reply_to = if forwarded {
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
        // Install the requester's binding (S: the source binding is stable).
        if body.flags.contains(Flags::S)
            && let (Some(src), Some(nbma)) = (src_proto, claimed)
        {
            let key = Prefix::host(src);
            let existing = self.cache.get(&key);
            if existing.is_none_or(|e| {
                matches!(
                    e.kind,
                    EntryType::Dynamic | EntryType::Incomplete | EntryType::Negative
                )
            }) {
                let hold = body
                    .cies
                    .first()
                    .map_or(self.config.holdtime, |c| c.holding_time);
                let mut e = Entry::new(now, key, src, Some(nbma), EntryType::Dynamic);
                e.expires = Some(now + Duration::from_secs(u64::from(hold.max(1))));
                if reply_to != nbma {
                    e.nat_nbma = Some(reply_to);
                    e.flags |= EntryFlags::NAT;
                }
                if body.flags.contains(Flags::Q) {
                    e.flags |= EntryFlags::ROUTER;
                }
                keep_use(&mut e, existing);
                if let Err(err) = self.cache.insert(now, e) {
                    self.core.drop_err(err);
                }
            }
        }
        Ok(())
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
}
