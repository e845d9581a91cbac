use super::{Action, Cx, IkeSa, State, spi32};
use crate::Error;
use crate::event::DownReason;
use crate::wire::{DeletePayload, ExchangeType, Payload, ProtocolId};
use std::time::Instant;

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
}
