//! INFORMATIONAL (RFC 7296 §1.4): deletes of child SAs and of the IKE SA, and the commands that
//! queue them and liveness checks (§2.4).

use std::net::SocketAddr;
use std::time::Instant;

use crate::Error;
use crate::event::{DownReason, Event};
use crate::wire::{DeletePayload, ExchangeType, Payload, ProtocolId};

use super::{Action, Cx, IkeSa, State, spi32};

impl IkeSa {
    pub(super) fn handle_informational_request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        mid: u32,
        p: &[Payload],
    ) -> Result<(), Error> {
        let ex = ExchangeType::INFORMATIONAL;
        let mut delete_ike = false;
        let mut ours = Vec::new();
        for d in p.iter().filter_map(|x| match x {
            Payload::Delete(d) => Some(d),
            _ => None,
        }) {
            if d.protocol_id == ProtocolId::IKE {
                delete_ike = true;
            } else if d.protocol_id == ProtocolId::ESP {
                for spi in d.spis.iter().filter_map(|s| spi32(s)) {
                    let mine = self
                        .children
                        .iter()
                        .find(|c| c.spi_out == spi)
                        .map(|c| c.spi_in);
                    if let Some(i) = mine {
                        self.remove_child(cx, i);
                        ours.push(i.to_be_bytes().to_vec());
                    }
                }
            }
        }
        if delete_ike {
            self.respond(cx, now, ex, mid, &[])?;
            if matches!(self.state, State::Rekeyed)
                || self.close_reason.is_none() && self.state == State::Deleting
            {
                self.state = State::Dead;
            } else {
                self.down(cx, DownReason::DeletedByPeer);
            }
            return Ok(());
        }
        let out = if ours.is_empty() {
            Vec::new()
        } else {
            vec![Payload::Delete(DeletePayload {
                protocol_id: ProtocolId::ESP,
                spi_size: 4,
                spis: ours,
            })]
        };
        self.respond(cx, now, ex, mid, &out)
    }

    /// Queues the deletion of a child SA.
    pub(crate) fn delete_child(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        spi_in: u32,
    ) -> Result<(), Error> {
        if !self.children.iter().any(|c| c.spi_in == spi_in) {
            return Err(Error::NoSuchChildSa { spi: spi_in });
        }
        self.actions.push_back(Action::DeleteChild(spi_in));
        self.pump(cx, now)
    }

    /// Closes the SA: a Delete once established, at once before.
    pub(crate) fn close(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        match self.state {
            State::InitSent | State::AuthSent | State::HalfOpen => {
                self.down(cx, DownReason::Closed);
                Ok(())
            }
            State::Established => {
                self.close_reason = Some(DownReason::Closed);
                self.actions.clear();
                self.actions.push_back(Action::DeleteIke);
                self.pump(cx, now)
            }
            State::Rekeyed | State::Deleting | State::Dead => Ok(()),
        }
    }

    /// Queues a liveness check now (§2.4).
    pub(crate) fn check_liveness(&mut self, cx: &mut Cx<'_>, now: Instant) -> Result<(), Error> {
        if !self.actions.contains(&Action::Liveness) {
            self.actions.push_back(Action::Liveness);
        }
        self.pump(cx, now)
    }

    /// Notes that the peer is alive (ESP traffic from it, for example).
    pub(crate) fn note_activity(&mut self, now: Instant) {
        if now > self.last_heard {
            self.last_heard = now;
        }
    }

    /// The peer behind a NAT was seen at `remote` in authenticated ESP in UDP (§2.23): IKE
    /// follows it there, as it would after an authenticated IKE message from there.
    pub(crate) fn peer_moved(&mut self, cx: &mut Cx<'_>, remote: SocketAddr) {
        if !self.natt || self.remote == remote || self.state != State::Established {
            return;
        }
        let from = self.remote;
        self.remote = remote;
        cx.counters.peer_moves += 1;
        cx.event(Event::PeerMoved {
            sa: self.id,
            from,
            to: remote,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::ike::Req;
    use crate::ike::testutil::{
        config, deliver, down_reason, established, initiator, inner, shuttle,
    };
    use crate::wire::{DeletePayload, ProtocolId};

    #[test]
    fn the_peer_deletes_a_child_and_answers_with_its_own_spi() {
        let now = Instant::now();
        let mut p = established(now);
        let (spi_i, spi_r) = (p.i.child_spis()[0], p.r.child_spis()[0]);
        p.ni.run(|cx| p.i.delete_child(cx, now, spi_i)).unwrap();
        assert!(p.i.children.is_empty(), "gone at once on our side");
        assert!(
            matches!(p.ni.events().as_slice(), [Event::ChildDeleted { inbound_spi, .. }] if *inbound_spi == spi_i)
        );
        deliver(&mut p.nr, &mut p.r, now, &p.ni.sent_one()).unwrap();
        assert!(
            matches!(p.nr.events().as_slice(), [Event::ChildDeleted { inbound_spi, .. }] if *inbound_spi == spi_r)
        );
        let answer = p.nr.sent_one();
        assert_eq!(
            inner(&p.i, &answer),
            vec![Payload::Delete(DeletePayload {
                protocol_id: ProtocolId::ESP,
                spi_size: 4,
                spis: vec![spi_r.to_be_bytes().to_vec()],
            })]
        );
        deliver(&mut p.ni, &mut p.i, now, &answer).unwrap();
        assert!(p.i.pending.is_none());
        assert!(p.ni.events().is_empty());
        assert_eq!(
            (p.i.state, p.r.state),
            (State::Established, State::Established)
        );
    }

    #[test]
    fn a_delete_for_an_unknown_spi_is_answered_empty() {
        let now = Instant::now();
        let mut p = established(now);
        let d = Payload::Delete(DeletePayload {
            protocol_id: ProtocolId::ESP,
            spi_size: 4,
            spis: vec![0xdead_beef_u32.to_be_bytes().to_vec()],
        });
        p.ni.run(|cx| {
            p.i.request(cx, now, ExchangeType::INFORMATIONAL, &[d], Req::Delete)
        })
        .unwrap();
        deliver(&mut p.nr, &mut p.r, now, &p.ni.sent_one()).unwrap();
        assert_eq!(inner(&p.i, &p.nr.sent_one()), Vec::<Payload>::new());
        assert_eq!(p.r.children.len(), 1);
        assert!(p.nr.events().is_empty());
    }

    #[test]
    fn closing_deletes_the_ike_sa_on_both_sides() {
        let now = Instant::now();
        let mut p = established(now);
        p.ni.run(|cx| p.i.close(cx, now)).unwrap();
        assert_eq!(p.i.state, State::Deleting);
        assert!(matches!(
            p.ni.events().as_slice(),
            [Event::ChildDeleted { .. }]
        ));
        assert_eq!(shuttle(&mut p, now), 2);
        let er = p.nr.events();
        assert!(matches!(er.first(), Some(Event::ChildDeleted { .. })));
        assert_eq!(down_reason(&er), Some(DownReason::DeletedByPeer));
        assert_eq!(down_reason(&p.ni.events()), Some(DownReason::Closed));
        assert_eq!((p.i.state, p.r.state), (State::Dead, State::Dead));
    }

    #[test]
    fn closing_before_established_needs_no_exchange() {
        let now = Instant::now();
        let (mut n, mut sa) = initiator(config("spoke", "hub", "secret", 1), now);
        n.sent();
        n.run(|cx| sa.close(cx, now)).unwrap();
        assert!(n.sent().is_empty());
        assert_eq!(down_reason(&n.events()), Some(DownReason::Closed));
        assert_eq!(sa.state, State::Dead);
    }

    #[test]
    fn liveness_checks_are_not_queued_twice() {
        let now = Instant::now();
        let mut p = established(now);
        p.ni.run(|cx| p.i.create_child(cx, now, None, None))
            .unwrap();
        p.ni.run(|cx| p.i.check_liveness(cx, now)).unwrap();
        p.ni.run(|cx| p.i.check_liveness(cx, now)).unwrap();
        assert_eq!(
            p.i.actions
                .iter()
                .filter(|a| **a == Action::Liveness)
                .count(),
            1
        );
        // The child's exchange, then the one check.
        assert_eq!(shuttle(&mut p, now), 4);
        assert!(p.i.actions.is_empty() && p.i.pending.is_none());
    }
}
