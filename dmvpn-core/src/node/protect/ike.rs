//! The IKE endpoint of a crypto group: IKEv2 (`set ikev2-profile`) or IKEv1 (`crypto isakmp`,
//! a profile without an IKEv2 profile, as on IOS), behind one face, with their events in one
//! shape for the node ([`IkeEvent`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use dmvpn_ikev1::wire::IdPayload;
use dmvpn_ikev2::wire::TrafficSelector;
use dmvpn_ikev2::{ChildSaUp, DownReason, IkeSaId};
use dmvpn_wire::Transmit;

/// The IKE endpoint of one crypto group.
pub(crate) enum Ike {
    /// IKEv2 (RFC 7296).
    V2(Box<dmvpn_ikev2::Endpoint>),
    /// IKEv1 (RFC 2409), for `crypto isakmp` clouds.
    V1(Box<dmvpn_ikev1::Endpoint>),
}

/// What either endpoint reports, in the shape the node uses.
#[derive(Debug)]
pub(crate) enum IkeEvent {
    Up {
        sa: IkeSaId,
        local: SocketAddr,
        remote: SocketAddr,
        initiator: bool,
        /// The SPIs (IKEv2) or cookies (IKEv1), initiator's first.
        spis: (u64, u64),
        peer_id: String,
        /// The key log row of the IKE SA (made only when the key log is on).
        keylog: Option<String>,
        nat: bool,
        behind_nat: bool,
    },
    Rekeyed {
        old: IkeSaId,
        new: IkeSaId,
        /// The new SA's SPIs; `None` when they did not change (IKEv1: the new SA reported
        /// its own `Up`).
        spis: Option<(u64, u64)>,
        keylog: Option<String>,
    },
    Down {
        sa: IkeSaId,
        reason: DownReason,
    },
    PeerDead {
        sa: IkeSaId,
        remote: SocketAddr,
    },
    PeerMoved {
        sa: IkeSaId,
        from: SocketAddr,
        to: SocketAddr,
    },
    ChildUp {
        sa: IkeSaId,
        child: Box<ChildSaUp>,
        rekey_of: Option<u32>,
    },
    ChildDeleted {
        inbound_spi: u32,
        outbound_spi: u32,
    },
    Refused {
        remote: SocketAddr,
        exchange: String,
        reason: String,
    },
    ChildFailed {
        sa: IkeSaId,
        error: String,
    },
    /// A warning to log (IKEv1's legacy groups).
    Warning {
        remote: Option<IpAddr>,
        message: String,
    },
}

/// IKEv1's down reasons in IKEv2's terms (the node acts on them alike).
fn v1_reason(r: dmvpn_ikev1::DownReason) -> DownReason {
    use dmvpn_ikev1::DownReason as R;
    match r {
        R::DeletedByPeer => DownReason::DeletedByPeer,
        R::Timeout => DownReason::Timeout,
        R::PeerDead => DownReason::PeerDead,
        R::AuthenticationFailed => DownReason::AuthenticationFailed,
        R::Refused(_) => DownReason::Refused(dmvpn_ikev2::wire::NotifyType::NO_PROPOSAL_CHOSEN),
        _ => DownReason::Closed,
    }
}

impl Ike {
    pub fn is_v1(&self) -> bool {
        matches!(self, Ike::V1(_))
    }

    /// The IKEv2 endpoint, if that is what this is.
    pub fn v2(&self) -> Option<&dmvpn_ikev2::Endpoint> {
        match self {
            Ike::V2(e) => Some(e),
            Ike::V1(_) => None,
        }
    }

    /// The IKEv1 endpoint, if that is what this is.
    pub fn v1(&self) -> Option<&dmvpn_ikev1::Endpoint> {
        match self {
            Ike::V1(e) => Some(e),
            Ike::V2(_) => None,
        }
    }

    /// The configured IKE SA lifetime (IKEv1: the first policy's).
    pub fn ike_lifetime(&self) -> std::time::Duration {
        match self {
            Ike::V2(e) => e.config().ike_lifetime,
            Ike::V1(e) => e
                .config()
                .policies
                .first()
                .map_or(dmvpn_ikev1::Policy::DEFAULT_LIFETIME, |p| p.lifetime),
        }
    }

    /// Whether liveness checks (IKEv2) or DPD (IKEv1) are configured.
    pub fn dpd(&self) -> bool {
        match self {
            Ike::V2(e) => e.config().liveness_idle.is_some(),
            Ike::V1(e) => e.config().dpd.is_some(),
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Ike::V2(e) => e.poll_timeout(),
            Ike::V1(e) => e.poll_timeout(),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self {
            Ike::V2(e) => e.handle_timeout(now),
            Ike::V1(e) => e.handle_timeout(now),
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Ike::V2(e) => e.poll_transmit(),
            Ike::V1(e) => e.poll_transmit(),
        }
    }

    /// A datagram for IKE; the error says why it was dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        payload: &[u8],
    ) -> Result<(), crate::Error> {
        match self {
            Ike::V2(e) => e
                .handle_datagram(now, local, remote, payload)
                .map_err(crate::Error::Ike),
            Ike::V1(e) => e
                .handle_datagram(now, local, remote, payload)
                .map_err(crate::Error::Ikev1),
        }
    }

    /// Starts an SA to `remote` with GRE between the two addresses (IKEv2's traffic
    /// selectors, IKEv1's Quick Mode IDs).
    pub fn initiate(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ts: (Vec<TrafficSelector>, Vec<TrafficSelector>),
    ) -> Result<IkeSaId, String> {
        match self {
            Ike::V2(e) => e
                .initiate(now, local, remote, None, Some(ts))
                .map_err(|e| e.to_string()),
            Ike::V1(e) => {
                let ids = (
                    IdPayload::gre_host(local.ip()),
                    IdPayload::gre_host(remote.ip()),
                );
                e.initiate(now, local, remote, Some(ids))
                    .map_err(|e| e.to_string())
            }
        }
    }

    pub fn close(&mut self, now: Instant, sa: IkeSaId) -> Result<(), String> {
        match self {
            Ike::V2(e) => e.close(now, sa).map_err(|e| e.to_string()),
            Ike::V1(e) => e.close(now, sa).map_err(|e| e.to_string()),
        }
    }

    pub fn close_all(&mut self, now: Instant) {
        match self {
            Ike::V2(e) => e.close_all(now),
            Ike::V1(e) => e.close_all(now),
        }
    }

    pub fn rekey_child(&mut self, now: Instant, sa: IkeSaId, spi: u32) -> Result<(), String> {
        match self {
            Ike::V2(e) => e.rekey_child(now, sa, spi).map_err(|e| e.to_string()),
            Ike::V1(e) => e.rekey_child(now, sa, spi).map_err(|e| e.to_string()),
        }
    }

    pub fn note_activity(&mut self, now: Instant, sa: IkeSaId) {
        match self {
            Ike::V2(e) => e.note_activity(now, sa),
            Ike::V1(e) => e.note_activity(now, sa),
        }
    }

    pub fn peer_moved(&mut self, sa: IkeSaId, to: SocketAddr) {
        match self {
            Ike::V2(e) => {
                let _ = e.peer_moved(sa, to);
            }
            Ike::V1(e) => {
                let _ = e.peer_moved(sa, to);
            }
        }
    }

    /// Whether an IKE SA is established.
    pub fn is_established(&self, now: Instant, sa: IkeSaId) -> bool {
        match self {
            Ike::V2(e) => e
                .sa_status(now, sa)
                .is_some_and(|s| s.state == dmvpn_ikev2::IkeState::Ready),
            Ike::V1(e) => e
                .sa_status(now, sa)
                .is_some_and(|s| s.state == dmvpn_ikev1::IsakmpState::QmIdle),
        }
    }

    /// The next event, converted; `keylog` asks for the IKE SA's key log row.
    pub fn poll_event(&mut self, keylog: bool) -> Option<IkeEvent> {
        match self {
            Ike::V2(e) => {
                while let Some(ev) = e.poll_event() {
                    if let Some(x) = v2_event(ev, keylog) {
                        return Some(x);
                    }
                }
                None
            }
            Ike::V1(e) => {
                while let Some(ev) = e.poll_event() {
                    if let Some(x) = v1_event(ev, keylog) {
                        return Some(x);
                    }
                }
                None
            }
        }
    }
}

fn v2_event(e: dmvpn_ikev2::Event, keylog: bool) -> Option<IkeEvent> {
    use dmvpn_ikev2::Event as E;
    Some(match e {
        E::IkeUp {
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
        } => IkeEvent::Up {
            sa,
            local,
            remote,
            initiator,
            spis: (spi_i, spi_r),
            peer_id: peer_id.to_string(),
            keylog: keylog.then(|| dmvpn_ikev2::keylog::ike_sa_row(spi_i, spi_r, &suite, &keys)),
            nat,
            behind_nat,
        },
        E::IkeRekeyed {
            old,
            new,
            spi_i,
            spi_r,
            suite,
            keys,
        } => IkeEvent::Rekeyed {
            old,
            new,
            spis: Some((spi_i, spi_r)),
            keylog: keylog.then(|| dmvpn_ikev2::keylog::ike_sa_row(spi_i, spi_r, &suite, &keys)),
        },
        E::IkeDown { sa, reason } => IkeEvent::Down { sa, reason },
        E::PeerDead { sa, remote } => IkeEvent::PeerDead { sa, remote },
        E::PeerMoved { sa, from, to } => IkeEvent::PeerMoved { sa, from, to },
        E::ChildUp {
            sa,
            child,
            rekey_of,
        } => IkeEvent::ChildUp {
            sa,
            child,
            rekey_of,
        },
        E::ChildDeleted {
            inbound_spi,
            outbound_spi,
            ..
        } => IkeEvent::ChildDeleted {
            inbound_spi,
            outbound_spi,
        },
        E::Refused {
            remote,
            exchange,
            reason,
            ..
        } => IkeEvent::Refused {
            remote,
            exchange: exchange.to_string(),
            reason: reason.to_string(),
        },
        E::ChildFailed { sa, error } => IkeEvent::ChildFailed {
            sa,
            error: error.to_string(),
        },
        _ => return None,
    })
}

fn v1_event(e: dmvpn_ikev1::Event, keylog: bool) -> Option<IkeEvent> {
    use dmvpn_ikev1::Event as E;
    Some(match e {
        E::IsakmpUp {
            sa,
            cookie_i,
            cookie_r,
            keys,
            replaces: Some(old),
            ..
        } => IkeEvent::Rekeyed {
            // A phase 1 rekey: the new SA takes the old one's place (its IPsec SAs follow).
            old,
            new: sa,
            spis: Some((cookie_i, cookie_r)),
            keylog: keylog.then(|| format!("uat:ikev1_decryption_table:{}", keys.tshark_row())),
        },
        E::IsakmpUp {
            sa,
            local,
            remote,
            initiator,
            cookie_i,
            cookie_r,
            peer_id,
            keys,
            nat,
            behind_nat,
            ..
        } => IkeEvent::Up {
            sa,
            local,
            remote,
            initiator,
            spis: (cookie_i, cookie_r),
            peer_id: peer_id
                .as_ip()
                .map_or_else(|| format!("{:?}", peer_id.id_type), |a| a.to_string()),
            keylog: keylog.then(|| format!("uat:ikev1_decryption_table:{}", keys.tshark_row())),
            nat,
            behind_nat,
        },
        E::IsakmpReplaced { old, new } => IkeEvent::Rekeyed {
            old,
            new,
            spis: None,
            keylog: None,
        },
        E::IsakmpDown { sa, reason } => IkeEvent::Down {
            sa,
            reason: v1_reason(reason),
        },
        E::PeerDead { sa, remote } => IkeEvent::PeerDead { sa, remote },
        E::PeerMoved { sa, from, to } => IkeEvent::PeerMoved { sa, from, to },
        E::ChildUp {
            sa,
            child,
            rekey_of,
        } => IkeEvent::ChildUp {
            sa,
            child,
            rekey_of,
        },
        E::ChildDeleted {
            inbound_spi,
            outbound_spi,
            ..
        } => IkeEvent::ChildDeleted {
            inbound_spi,
            outbound_spi,
        },
        E::Refused { remote, reason, .. } => IkeEvent::Refused {
            remote,
            exchange: "IKEv1".into(),
            reason: reason.to_string(),
        },
        E::ChildFailed { sa, error } => IkeEvent::ChildFailed {
            sa,
            error: error.to_string(),
        },
        E::LegacyGroup { group, pfs, .. } => IkeEvent::Warning {
            remote: None,
            message: format!(
                "legacy Diffie-Hellman group {} ({group}) negotiated{}: move to group 14 or 19",
                group.0,
                if pfs { " for PFS" } else { "" }
            ),
        },
        _ => return None,
    })
}

/// The IKEv1 configuration of a group (`crypto isakmp`, a profile without `set
/// ikev2-profile`): the policies, keys, DPD and NAT keepalives, the profile's transform sets,
/// PFS group and lifetimes, call admission.
pub(crate) fn ikev1_config(
    crypto: &crate::config::CryptoConfig,
    profile: &str,
    seed: [u8; 32],
) -> Result<(dmvpn_ikev1::Config, String), String> {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::config::{DpdMode, IpsecMode};
    let p = crypto
        .profile(profile)
        .ok_or_else(|| format!("no crypto ipsec profile {profile:?}"))?;
    let isakmp = &crypto.isakmp;
    let provider = dmvpn_ikev2::crypto::IkeCryptoProvider::rustcrypto(Arc::new(
        dmvpn_esp::crypto::ChaChaRandom::from_seed(seed),
    ));
    let mut keys = dmvpn_ikev1::KeyTable::new();
    for k in &isakmp.keys {
        let psk = dmvpn_ikev1::Psk::new(k.key.expose());
        if k.is_wildcard() {
            keys.set_wildcard(psk);
        } else {
            keys.insert_prefix(k.address.addr(), k.address.prefix_len(), psk);
        }
    }
    let provider = if isakmp.legacy_groups {
        provider.with_legacy_groups()
    } else {
        provider
    };
    let mut cfg = dmvpn_ikev1::Config::new(provider, keys);
    cfg.policies = isakmp
        .policies_by_priority()
        .into_iter()
        .map(|pol| {
            let cipher = pol.encryption.cipher().ok_or_else(|| {
                format!(
                    "crypto isakmp policy {}: encryption {}",
                    pol.priority, pol.encryption
                )
            })?;
            let hash = match pol.hash {
                crate::config::IsakmpHash::Sha1 => dmvpn_ikev1::algorithm::Hash::Sha1,
                crate::config::IsakmpHash::Sha256 => dmvpn_ikev1::algorithm::Hash::Sha256,
                crate::config::IsakmpHash::Sha384 => dmvpn_ikev1::algorithm::Hash::Sha384,
                crate::config::IsakmpHash::Sha512 => dmvpn_ikev1::algorithm::Hash::Sha512,
                crate::config::IsakmpHash::Md5 => {
                    return Err(format!("crypto isakmp policy {}: hash md5", pol.priority));
                }
            };
            Ok(dmvpn_ikev1::Policy {
                priority: u32::from(pol.priority),
                cipher,
                hash,
                group: dmvpn_ikev1::wire::GroupDescription(pol.group),
                lifetime: Duration::from_secs(u64::from(pol.lifetime_seconds)),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (esp, mode) = crypto.esp_of(p).map_err(|e| e.join("; "))?;
    let mode = match mode {
        IpsecMode::Transport => dmvpn_esp::Mode::Transport,
        IpsecMode::Tunnel => dmvpn_esp::Mode::Tunnel,
    };
    cfg.transforms = esp
        .iter()
        .map(|s| {
            // The proposal without a PFS group suffix (IKEv1 negotiates PFS apart).
            let suite_text = s
                .split('-')
                .filter(|w| dmvpn_ikev1::config::group_by_name(w).is_none())
                .collect::<Vec<_>>()
                .join("-");
            dmvpn_esp::Suite::parse(&suite_text)
                .map(|suite| dmvpn_ikev1::EspTransform { suite, mode })
                .map_err(|e| format!("{s}: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    cfg.pfs = p.pfs.map(dmvpn_ikev1::wire::GroupDescription);
    cfg.allow_legacy_groups = isakmp.legacy_groups;
    cfg.ipsec_lifetime = Duration::from_secs(u64::from(p.lifetime_seconds.unwrap_or(3600)));
    cfg.ipsec_lifetime_kb = Some(p.lifetime_kilobytes.unwrap_or(4_608_000));
    cfg.dpd = isakmp.keepalive.map(|k| dmvpn_ikev1::Dpd {
        interval: Duration::from_secs(u64::from(k.interval)),
        retry: Duration::from_secs(u64::from(k.retry)),
        tries: 5,
        periodic: k.mode == DpdMode::Periodic,
    });
    if let Some(s) = isakmp.nat_keepalive_seconds {
        cfg.nat_keepalive = Duration::from_secs(u64::from(s));
    }
    let cac = crypto.call_admission;
    cfg.max_sas = cac.max_sa;
    if let Some(n) = cac.max_in_negotiation {
        cfg.max_half_open = n;
    }
    cfg.validate().map_err(|e| e.to_string())?;
    Ok((cfg, esp.join(" ")))
}
