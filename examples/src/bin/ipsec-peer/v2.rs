//! `--ike-version 2`: the `dmvpn_ikev2::Endpoint` behind the [`KeyExchange`] the data plane
//! drives, with `--initiate`'s re-initiation after failures.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dmvpn_ikev2::auth::{Psk, PskTable};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::negotiate::ts_prefix;
use dmvpn_ikev2::reinit::{Backoff, Reinitiator};
use dmvpn_ikev2::wire::Identity;
use dmvpn_ikev2::{Config, Endpoint, Event, IkeSaId};
use dmvpn_wire::Transmit;
use tracing::{debug, info, warn};

use crate::{Args, BoxError, KeyExchange, KeyLog, Update, identity, prefix};

/// IKEv2 (RFC 7296) with the flags' proposals, selectors, lifetimes and identities.
pub(crate) struct V2 {
    ep: Endpoint,
    local: SocketAddr,
    remote: SocketAddr,
    remote_id: Identity,
    /// With `--initiate`: when to (re-)initiate, backing off after failures.
    reinit: Option<Reinitiator>,
}

impl V2 {
    pub(crate) fn new(
        args: &Args,
        provider: IkeCryptoProvider,
        psk: &str,
    ) -> Result<Self, BoxError> {
        let mut psks = PskTable::new();
        psks.insert(identity(&args.remote_id), Psk::from(psk));
        let (lts, llen) = prefix(&args.local_ts)?;
        let (rts, rlen) = prefix(&args.remote_ts)?;
        let mut cfg = Config::new(provider, identity(&args.local_id), psks)
            .with_ike_proposals(&[args.ike.as_str()])?
            .with_esp_proposals(&[args.esp.as_str()])?;
        cfg.mode = args.esp_mode()?;
        cfg.local_ts = Some(vec![ts_prefix(lts, llen)]);
        cfg.remote_ts = Some(vec![ts_prefix(rts, rlen)]);
        cfg.child_lifetime = Duration::from_secs(args.child_lifetime);
        cfg.ike_lifetime = Duration::from_secs(args.ike_lifetime);
        cfg.force_encap = args.force_encap;
        Ok(Self {
            ep: Endpoint::new(cfg)?,
            local: SocketAddr::new(args.local, 500),
            remote: SocketAddr::new(args.remote, 500),
            remote_id: identity(&args.remote_id),
            reinit: args
                .initiate
                .then(|| Reinitiator::new(Backoff::default(), Instant::now())),
        })
    }

    fn initiate(&mut self, now: Instant) {
        let started = self.ep.initiate(
            now,
            self.local,
            self.remote,
            Some(self.remote_id.clone()),
            None,
        );
        let Some(r) = self.reinit.as_mut() else {
            return;
        };
        match started {
            Ok(sa) => {
                info!(%sa, remote = %self.remote, "initiating");
                r.started(sa);
            }
            Err(e) => {
                let at = r.start_failed(now);
                warn!(
                    "initiate: {e}; again in {:?}",
                    at.saturating_duration_since(now)
                );
            }
        }
    }
}

impl KeyExchange for V2 {
    type Sa = IkeSaId;

    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), BoxError> {
        Ok(self.ep.handle_datagram(now, local, remote, data)?)
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.reinit.as_mut().is_some_and(|r| r.due(now)) {
            self.initiate(now);
        }
        self.ep.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.ep.poll_timeout(),
            self.reinit.as_ref().and_then(Reinitiator::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }

    fn poll_update(&mut self, keylog: &mut KeyLog) -> Option<Update<IkeSaId>> {
        while let Some(e) = self.ep.poll_event() {
            if let Some(r) = self.reinit.as_mut()
                && !matches!(e, Event::IkeDown { .. })
            {
                r.handle_event(Instant::now(), &e);
            }
            match e {
                Event::IkeUp {
                    sa,
                    local,
                    remote,
                    initiator,
                    spi_i,
                    spi_r,
                    suite,
                    peer_id,
                    keys,
                    nat,
                    behind_nat,
                } => {
                    info!(
                        %sa, %local, %remote, initiator, %suite, %peer_id, nat, behind_nat,
                        "IKE SA established {spi_i:016x}/{spi_r:016x}"
                    );
                    keylog.row(|| dmvpn_ikev2::keylog::ike_sa_row(spi_i, spi_r, &suite, &keys));
                }
                Event::IkeRekeyed {
                    old,
                    new,
                    spi_i,
                    spi_r,
                    suite,
                    keys,
                } => {
                    info!(%old, %new, %suite, "IKE SA rekeyed {spi_i:016x}/{spi_r:016x}");
                    keylog.row(|| dmvpn_ikev2::keylog::ike_sa_row(spi_i, spi_r, &suite, &keys));
                    return Some(Update::IkeRekeyed { old, new });
                }
                Event::IkeDown { sa, reason } => {
                    info!(%sa, ?reason, "IKE SA down");
                    if let Some(r) = self.reinit.as_mut()
                        && let Some(retry) = r.handle_event(Instant::now(), &e)
                    {
                        warn!(
                            sa = %retry.sa, reason = ?retry.reason, failures = retry.failures,
                            "IKE SA failed; re-initiating in {:?}", retry.wait
                        );
                    }
                }
                Event::PeerDead { sa, remote } => warn!(%sa, %remote, "peer dead"),
                Event::ChildUp {
                    sa,
                    child,
                    rekey_of,
                } => {
                    return Some(Update::ChildUp {
                        sa,
                        child,
                        rekey_of,
                    });
                }
                Event::ChildDeleted {
                    sa,
                    inbound_spi,
                    outbound_spi,
                } => {
                    return Some(Update::ChildDeleted {
                        sa,
                        inbound_spi,
                        outbound_spi,
                    });
                }
                Event::ChildFailed { sa, error } => warn!(%sa, %error, "child SA failed"),
                Event::Refused {
                    sa,
                    remote,
                    exchange,
                    reason,
                } => warn!(
                    sa = %sa.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    %remote, %exchange, %reason,
                    "refused the peer's request"
                ),
                other => debug!(?other, "event"),
            }
        }
        None
    }

    fn rekey_child(&mut self, now: Instant, sa: IkeSaId, inbound_spi: u32) -> Result<(), BoxError> {
        Ok(self.ep.rekey_child(now, sa, inbound_spi)?)
    }

    fn rekey_ikes(&mut self, now: Instant) {
        for s in self.ep.status(now) {
            if let Err(e) = self.ep.rekey_ike(now, s.sa) {
                warn!("rekey {}: {e}", s.sa);
            }
        }
    }

    fn note_activity(&mut self, now: Instant, sa: IkeSaId) {
        self.ep.note_activity(now, sa);
    }

    fn close_all(&mut self, now: Instant) {
        self.ep.close_all(now);
    }

    fn sa_count(&self) -> usize {
        self.ep.ike_sa_count()
    }

    fn counters(&self) -> String {
        format!("{:?}", self.ep.counters())
    }
}
