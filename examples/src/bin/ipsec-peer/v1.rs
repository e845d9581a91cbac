//! `--ike-version 1`: the `dmvpn_ikev1::Endpoint` (Main Mode with the pre-shared key, Quick
//! Mode, Informational) behind the [`KeyExchange`] the data plane drives.
//!
//! The flags map onto IOS-style IKEv1 configuration: `--ike` is one phase 1 policy
//! (`aes128-sha256-modp2048`: `encryption aes`, `hash sha256`, `group 14`), `--esp` one
//! transform set whose group, if any, is the Quick Mode PFS group; `--local-ts` and
//! `--remote-ts` are the Quick Mode IDs (a host address for a /32, else a subnet); the
//! pre-shared key is the remote address's (Main Mode finds the key by address, so
//! `--local-id`/`--remote-id` are not used: the IDs are the two addresses).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dmvpn_esp::Suite;
use dmvpn_ikev1::config::group_by_name;
use dmvpn_ikev1::wire::IdPayload;
use dmvpn_ikev1::{Config, Dpd, Endpoint, EspTransform, Event, IkeSaId, KeyTable, Policy, Psk};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_wire::Transmit;
use tracing::{debug, info, warn};

use crate::{Args, BoxError, KeyExchange, KeyLog, Update, prefix};

/// IKEv1 (RFC 2409) with one policy and one transform set from the flags.
pub(crate) struct V1 {
    ep: Endpoint,
    local: SocketAddr,
    remote: SocketAddr,
    /// The Quick Mode IDs (ours, the peer's).
    ids: (IdPayload, IdPayload),
    /// With `--initiate`: not yet initiated.
    initiate: bool,
}

/// A traffic selector flag as a Quick Mode ID: a /32 (/128) is a host address, anything
/// shorter a subnet with its network address.
fn id_of(ts: &str) -> Result<IdPayload, BoxError> {
    let (addr, len) = prefix(ts)?;
    Ok(match addr {
        IpAddr::V4(a) if len < 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IdPayload::subnet(IpAddr::from((u32::from(a) & mask).to_be_bytes()), len)
        }
        IpAddr::V6(a) if len < 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IdPayload::subnet(IpAddr::from((u128::from(a) & mask).to_be_bytes()), len)
        }
        _ => IdPayload::ip(addr),
    })
}

impl V1 {
    pub(crate) fn new(
        args: &Args,
        provider: IkeCryptoProvider,
        psk: &str,
    ) -> Result<Self, BoxError> {
        let mut keys = KeyTable::new();
        keys.insert(args.remote, Psk::from(psk));
        let mut cfg = Config::new(provider, keys);
        let mut policy = Policy::parse(&args.ike)?;
        policy.lifetime = Duration::from_secs(args.ike_lifetime);
        cfg.policies = vec![policy];
        cfg.transforms = vec![EspTransform {
            suite: Suite::parse(&args.esp)?,
            mode: args.esp_mode()?,
        }];
        cfg.pfs = match args.esp.rsplit_once('-') {
            Some((_, g)) => group_by_name(g),
            None => None,
        };
        cfg.ipsec_lifetime = Duration::from_secs(args.child_lifetime);
        cfg.force_encap = args.force_encap;
        cfg.dpd = (args.dpd > 0)
            .then(|| Dpd::on_demand(Duration::from_secs(args.dpd), Duration::from_secs(2)));
        info!(
            policy = ?cfg.policies, transforms = ?cfg.transforms, pfs = ?cfg.pfs, dpd = ?cfg.dpd,
            "IKEv1"
        );
        Ok(Self {
            ep: Endpoint::new(cfg)?,
            local: SocketAddr::new(args.local, 500),
            remote: SocketAddr::new(args.remote, 500),
            ids: (id_of(&args.local_ts)?, id_of(&args.remote_ts)?),
            initiate: args.initiate,
        })
    }
}

impl KeyExchange for V1 {
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
        if std::mem::take(&mut self.initiate) {
            match self
                .ep
                .initiate(now, self.local, self.remote, Some(self.ids.clone()))
            {
                Ok(sa) => info!(%sa, remote = %self.remote, "initiating Main Mode"),
                Err(e) => warn!("initiate: {e}"),
            }
        }
        self.ep.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.initiate {
            return Some(Instant::now());
        }
        self.ep.poll_timeout()
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }

    fn poll_update(&mut self, keylog: &mut KeyLog) -> Option<Update<IkeSaId>> {
        while let Some(e) = self.ep.poll_event() {
            match e {
                Event::IsakmpUp {
                    sa,
                    local,
                    remote,
                    initiator,
                    cookie_i,
                    cookie_r,
                    suite,
                    peer_id,
                    keys,
                    nat,
                    behind_nat,
                    ..
                } => {
                    info!(
                        %sa, %local, %remote, initiator, %suite, %peer_id, nat, behind_nat,
                        "ISAKMP SA established {cookie_i:016x}/{cookie_r:016x}"
                    );
                    keylog.row(|| format!("uat:ikev1_decryption_table:{}", keys.tshark_row()));
                }
                Event::IsakmpReplaced { old, new } => {
                    info!(%old, %new, "ISAKMP SA replaced");
                    return Some(Update::IkeRekeyed { old, new });
                }
                Event::IsakmpDown { sa, reason } => info!(%sa, ?reason, "ISAKMP SA down"),
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
                Event::ChildFailed { sa, error } => warn!(%sa, ?error, "Quick Mode failed"),
                Event::Refused { sa, remote, reason } => warn!(
                    sa = %sa.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    %remote, ?reason,
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

    fn rekey_ikes(&mut self, _now: Instant) {
        warn!("IKEv1: no ISAKMP SA rekey on request (a new one is negotiated before expiry)");
    }

    fn note_activity(&mut self, now: Instant, sa: IkeSaId) {
        self.ep.note_activity(now, sa);
    }

    fn close_all(&mut self, now: Instant) {
        self.ep.close_all(now);
    }

    fn sa_count(&self) -> usize {
        self.ep.isakmp_sa_count()
    }

    fn counters(&self) -> String {
        format!("{:?}", self.ep.counters())
    }
}
