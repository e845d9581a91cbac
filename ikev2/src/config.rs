//! Configuration of the IKE state machines ([`crate::Endpoint`]): identities, keys, proposals,
//! modes, lifetimes, timers, NAT traversal and Call Admission Control.

use std::time::Duration;

use crate::Error;
use crate::auth::PskTable;
use crate::crypto::IkeCryptoProvider;
use crate::transform::{KeGroup, TransformType};
use crate::wire::{Identity, Proposal, ProtocolId, TrafficSelector};

/// Retransmission of requests (RFC 7296 §2.1, §2.4): the first retry after `initial`, each
/// further one after twice the previous wait (capped at `max_interval`), and after `tries`
/// transmissions without an answer the peer is declared dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmit {
    /// Wait before the first retransmission.
    pub initial: Duration,
    /// The longest wait between two transmissions.
    pub max_interval: Duration,
    /// Transmissions (the first one included) before giving up.
    pub tries: u32,
}

impl Default for Retransmit {
    /// 1 s, doubling, at most 16 s apart, 6 transmissions (about a minute before giving up).
    fn default() -> Self {
        Retransmit {
            initial: Duration::from_secs(1),
            max_interval: Duration::from_secs(16),
            tries: 6,
        }
    }
}

/// Call Admission Control (seed 002, `crypto call admission limit`): limits on IKE SAs in
/// negotiation (half-open), in total, and half-open responder SAs per peer address. Requests
/// over a limit are dropped and counted ([`crate::Counters::cac_rejected`]).
///
/// The default bounds half-open SAs: at most [`Cac::DEFAULT_MAX_HALF_OPEN`] in all and
/// [`Cac::DEFAULT_MAX_HALF_OPEN_PER_ADDRESS`] answered for one peer address, no limit on
/// established SAs; [`Cac::unlimited`] has no limits at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cac {
    /// Most IKE SAs in negotiation at once (`crypto ikev2 limit max-in-negotiation-sa`),
    /// initiator and responder.
    pub max_half_open: Option<usize>,
    /// Most IKE SAs at all (`crypto ikev2 limit max-sa`).
    pub max_ike_sas: Option<usize>,
    /// Most half-open responder SAs for one peer address (whatever its ports), so that one
    /// host cannot take the whole [`Cac::max_half_open`] (strongSwan's `block_threshold`).
    pub max_half_open_per_address: Option<usize>,
}

impl Cac {
    /// The default bound on IKE SAs in negotiation (about 5 MB of half-open state).
    pub const DEFAULT_MAX_HALF_OPEN: usize = 1024;
    /// The default bound on half-open responder SAs for one peer address.
    pub const DEFAULT_MAX_HALF_OPEN_PER_ADDRESS: usize = 16;

    /// No limits at all.
    pub const fn unlimited() -> Self {
        Cac {
            max_half_open: None,
            max_ike_sas: None,
            max_half_open_per_address: None,
        }
    }
}

impl Default for Cac {
    /// [`Cac::DEFAULT_MAX_HALF_OPEN`] half-open SAs, [`Cac::DEFAULT_MAX_HALF_OPEN_PER_ADDRESS`]
    /// per peer address, no limit on established SAs.
    fn default() -> Self {
        Cac {
            max_half_open: Some(Self::DEFAULT_MAX_HALF_OPEN),
            max_ike_sas: None,
            max_half_open_per_address: Some(Self::DEFAULT_MAX_HALF_OPEN_PER_ADDRESS),
        }
    }
}

/// Which limit of [`Cac`] refused an IKE SA ([`crate::Error::AdmissionRefused`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacLimit {
    /// [`Cac::max_half_open`]: IKE SAs in negotiation.
    MaxHalfOpen,
    /// [`Cac::max_ike_sas`]: IKE SAs in total.
    MaxIkeSas,
    /// [`Cac::max_half_open_per_address`]: half-open responder SAs for one peer address.
    MaxHalfOpenPerAddress,
}

impl core::fmt::Display for CacLimit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CacLimit::MaxHalfOpen => "IKE SAs in negotiation",
            CacLimit::MaxIkeSas => "IKE SAs",
            CacLimit::MaxHalfOpenPerAddress => "IKE SAs in negotiation from one address",
        })
    }
}

impl Cac {
    /// Whether one more IKE SA may start, given `ike_sas` SAs of which `half_open` are in
    /// negotiation; the limit reached if not. The total is checked first.
    pub(crate) fn admit(&self, ike_sas: usize, half_open: usize) -> Result<(), crate::Error> {
        let refuse = |limit, count, max| crate::Error::AdmissionRefused { limit, count, max };
        if let Some(max) = self.max_ike_sas
            && ike_sas >= max
        {
            return Err(refuse(CacLimit::MaxIkeSas, ike_sas, max));
        }
        if let Some(max) = self.max_half_open
            && half_open >= max
        {
            return Err(refuse(CacLimit::MaxHalfOpen, half_open, max));
        }
        Ok(())
    }

    /// Whether one more half-open responder SA may start for a peer address that already has
    /// `from_address` of them.
    pub(crate) fn admit_from_address(&self, from_address: usize) -> Result<(), crate::Error> {
        match self.max_half_open_per_address {
            Some(max) if from_address >= max => Err(crate::Error::AdmissionRefused {
                limit: CacLimit::MaxHalfOpenPerAddress,
                count: from_address,
                max,
            }),
            _ => Ok(()),
        }
    }
}

/// Everything an [`crate::Endpoint`] needs. Build with [`Config::new`] and adjust the public
/// fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// Crypto and randomness.
    pub provider: IkeCryptoProvider,
    /// Our identity (IDi or IDr).
    pub local_id: Identity,
    /// Pre-shared keys by peer identity (§2.15; the same key authenticates both directions).
    pub psks: PskTable,
    /// IKE proposals in order of preference.
    pub ike_proposals: Vec<Proposal>,
    /// ESP proposals in order of preference; a key exchange transform asks for PFS in
    /// CREATE_CHILD_SA (it is left out of IKE_AUTH, §1.2).
    pub esp_proposals: Vec<Proposal>,
    /// Transport (DMVPN's default, USE_TRANSPORT_MODE, §1.3.1) or tunnel mode.
    pub mode: dmvpn_esp::Mode,
    /// What we protect on our side; `None`: our own address (host selector).
    pub local_ts: Option<Vec<TrafficSelector>>,
    /// What we accept on the peer's side; `None`: the peer's address (host selector).
    pub remote_ts: Option<Vec<TrafficSelector>>,
    /// The IP protocol of the default host selectors (`local_ts` / `remote_ts` `None`): 0 for
    /// every protocol, 47 for DMVPN's GRE between the two NBMA addresses (what IOS proposes
    /// for `tunnel protection`).
    pub host_ts_protocol: u8,
    /// IKE SA lifetime; it is rekeyed ahead of it (§2.8).
    pub ike_lifetime: Duration,
    /// Child SA lifetime in seconds (`set security-association lifetime seconds`).
    pub child_lifetime: Duration,
    /// Child SA lifetime in kilobytes (`set security-association lifetime kilobytes`), enforced
    /// by the `esp` SAs: their soft limit raises `dmvpn_esp::Event::RekeyDue`, on which the caller
    /// calls [`crate::Endpoint::rekey_child`].
    pub child_lifetime_kb: Option<u64>,
    /// Rekeying starts this fraction of the lifetime before it ends (percent, 1–50).
    pub rekey_margin_percent: u8,
    /// A random extra head start of up to this fraction of the lifetime (percent), so the two
    /// peers rarely rekey at once.
    pub rekey_jitter_percent: u8,
    /// Retransmission of requests.
    pub retransmit: Retransmit,
    /// Liveness check (§2.4): an empty INFORMATIONAL after this long without hearing from the
    /// peer; no answer after the retransmissions means the peer is dead. `None` disables it.
    pub liveness_idle: Option<Duration>,
    /// NAT keepalive interval (RFC 3948 §2.3) while we are behind a NAT.
    pub nat_keepalive: Duration,
    /// Pretend a NAT to force UDP encapsulation (like strongSwan's `encap = yes`): our
    /// NAT_DETECTION_SOURCE_IP hash is random, so both sides float to port 4500.
    pub force_encap: bool,
    /// Half-open IKE SAs at which the responder asks for cookies (§2.6).
    pub cookie_threshold: usize,
    /// Call Admission Control.
    pub cac: Cac,
    /// A half-open responder SA is dropped after this long without IKE_AUTH.
    pub half_open_timeout: Duration,
    /// Anti-replay window of the inbound ESP SAs.
    pub replay_window: u32,
    /// Most datagrams waiting for [`crate::Endpoint::poll_transmit`]; further ones are dropped
    /// and counted in [`crate::Counters::transmits_dropped`] (a dropped request is still
    /// retransmitted). At least 1.
    pub max_transmits: usize,
    /// Most events waiting for [`crate::Endpoint::poll_event`]; further ones are dropped and
    /// counted in [`crate::Counters::events_dropped`]. At least 1.
    pub max_events: usize,
}

impl Config {
    /// A configuration with strongSwan-compatible defaults: IKE
    /// `aes256gcm16-prfsha256-x25519` and `aes128-sha256-modp2048`, ESP `aes256gcm16` and
    /// `aes128-sha256`, transport mode, IKE lifetime 24 h (Cisco IKEv2's 86400 s), child 1 h
    /// (Cisco's 3600 s), rekeying 10 % (plus up to 5 % jitter) before the end, liveness after
    /// 30 s idle, keepalives every 20 s, cookies from 32 half-open SAs, the default CAC bounds on
    /// half-open SAs ([`Cac::default`]), at most
    /// 4096 transmits and 4096 events queued (a hub closing every SA at shutdown queues one
    /// Delete per SA in one call, so the bound is well above NHRP's 1024).
    pub fn new(provider: IkeCryptoProvider, local_id: Identity, psks: PskTable) -> Self {
        let ike = ["aes256gcm16-prfsha256-x25519", "aes128-sha256-modp2048"]
            .iter()
            .filter_map(|s| Proposal::from_strongswan(s, ProtocolId::IKE).ok())
            .collect();
        let esp = ["aes256gcm16", "aes128-sha256"]
            .iter()
            .filter_map(|s| Proposal::from_strongswan(s, ProtocolId::ESP).ok())
            .collect();
        Config {
            provider,
            local_id,
            psks,
            ike_proposals: ike,
            esp_proposals: esp,
            mode: dmvpn_esp::Mode::Transport,
            local_ts: None,
            remote_ts: None,
            host_ts_protocol: 0,
            ike_lifetime: Duration::from_secs(86_400),
            child_lifetime: Duration::from_secs(3600),
            child_lifetime_kb: None,
            rekey_margin_percent: 10,
            rekey_jitter_percent: 5,
            retransmit: Retransmit::default(),
            liveness_idle: Some(Duration::from_secs(30)),
            nat_keepalive: Duration::from_secs(20),
            force_encap: false,
            cookie_threshold: 32,
            cac: Cac::default(),
            half_open_timeout: Duration::from_secs(30),
            replay_window: 1024,
            max_transmits: 4096,
            max_events: 4096,
        }
    }

    /// Replaces the IKE proposals with strongSwan-syntax ones (`aes128-sha256-modp2048`); each
    /// string may be a comma-separated list (`aes128-sha256-modp3072,aes128-sha256-modp2048`),
    /// and the proposals keep the order given.
    pub fn with_ike_proposals(mut self, proposals: &[&str]) -> Result<Self, Error> {
        self.ike_proposals = parse_all(proposals, ProtocolId::IKE)?;
        Ok(self)
    }

    /// Replaces the ESP proposals with strongSwan-syntax ones (`aes256gcm16-x25519`: with PFS);
    /// each string may be a comma-separated list, as for [`Config::with_ike_proposals`].
    pub fn with_esp_proposals(mut self, proposals: &[&str]) -> Result<Self, Error> {
        self.esp_proposals = parse_all(proposals, ProtocolId::ESP)?;
        Ok(self)
    }

    /// Checks the configuration for consistency; a key exchange group in a proposal that the
    /// provider does not implement is refused as [`Error::UnsupportedGroup`] naming it.
    pub fn validate(&self) -> Result<(), Error> {
        if self.ike_proposals.is_empty() || self.esp_proposals.is_empty() {
            return Err(Error::InvalidConfig("no IKE or no ESP proposal"));
        }
        if self.retransmit.tries == 0 || self.retransmit.initial.is_zero() {
            return Err(Error::InvalidConfig(
                "retransmission needs tries and a wait",
            ));
        }
        if self.ike_lifetime.is_zero() || self.child_lifetime.is_zero() {
            return Err(Error::InvalidConfig("lifetimes must not be zero"));
        }
        if !(1..=50).contains(&self.rekey_margin_percent) || self.rekey_jitter_percent > 40 {
            return Err(Error::InvalidConfig(
                "rekey margin 1-50 %, jitter at most 40 %",
            ));
        }
        // Never accept what cannot be negotiated: every key exchange group of a proposal
        // (IKE, or ESP with PFS) must be one the provider implements.
        for p in self.ike_proposals.iter().chain(&self.esp_proposals) {
            for t in p.of_type(TransformType::KE) {
                let g = KeGroup(t.transform_id);
                if g != KeGroup::NONE && !self.provider.supports(g) {
                    return Err(Error::UnsupportedGroup(g));
                }
            }
        }
        if self.max_transmits == 0 || self.max_events == 0 {
            return Err(Error::InvalidConfig(
                "the transmit and event queues need room for at least one item",
            ));
        }
        Ok(())
    }
}

fn parse_all(proposals: &[&str], proto: ProtocolId) -> Result<Vec<Proposal>, Error> {
    let mut v = Vec::with_capacity(proposals.len());
    for s in proposals {
        for mut p in Proposal::list_from_strongswan(s, proto)? {
            p.number = u8::try_from(v.len() + 1)
                .map_err(|_| Error::InvalidConfig("too many proposals"))?;
            v.push(p);
        }
    }
    if v.is_empty() {
        return Err(Error::InvalidConfig("no proposal"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dmvpn_esp::crypto::ChaChaRandom;

    use super::*;

    fn cfg() -> Config {
        let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([3; 32])));
        Config::new(provider, Identity::fqdn("me"), PskTable::new())
    }

    #[test]
    fn proposal_strings_may_hold_comma_lists() {
        let c = cfg()
            .with_ike_proposals(&[
                "aes128-sha256-modp3072,aes128-sha256-modp2048",
                "aes256gcm16-prfsha256-x25519",
            ])
            .unwrap()
            .with_esp_proposals(&["aes128gcm16,aes128-sha256"])
            .unwrap();
        let ike: Vec<(u8, String)> = c
            .ike_proposals
            .iter()
            .map(|p| (p.number, p.to_strongswan()))
            .collect();
        assert_eq!(
            ike,
            [
                (1, "aes128-sha256-modp3072".to_owned()),
                (2, "aes128-sha256-modp2048".to_owned()),
                (3, "aes256gcm16-prfsha256-x25519".to_owned()),
            ]
        );
        assert_eq!(c.esp_proposals.len(), 2);
        assert_eq!(c.esp_proposals[1].number, 2);
    }

    #[test]
    fn validation_refuses_a_group_the_provider_lacks_naming_it() {
        let c = cfg()
            .with_ike_proposals(&["aes128-sha256-modp3072-modp1024"])
            .unwrap();
        let e = c.validate().unwrap_err();
        assert_eq!(e, Error::UnsupportedGroup(KeGroup::MODP_1024));
        assert!(e.to_string().contains("1024-bit MODP Group"), "{e}");
        // ESP proposals (PFS groups) too.
        let c = cfg().with_esp_proposals(&["aes128gcm16-ecp224"]).unwrap();
        assert_eq!(c.validate(), Err(Error::UnsupportedGroup(KeGroup::ECP_224)));
        assert!(matches!(
            crate::Endpoint::new(cfg().with_ike_proposals(&["aes128-sha256-x448"]).unwrap()),
            Err(Error::UnsupportedGroup(KeGroup::CURVE448))
        ));
        // Every group strongSwan proposes by default, and the others built in, are accepted.
        for g in [
            "modp2048", "modp3072", "modp4096", "ecp256", "ecp384", "ecp521", "x25519",
        ] {
            let c = cfg()
                .with_ike_proposals(&[&format!("aes128-sha256-{g}")])
                .unwrap()
                .with_esp_proposals(&[&format!("aes128gcm16-{g}")])
                .unwrap();
            assert_eq!(c.validate(), Ok(()), "{g}");
        }
    }
}
