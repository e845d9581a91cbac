//! The configuration of an IKEv1 [`Endpoint`](crate::Endpoint): phase 1 policies (`crypto
//! isakmp policy`), pre-shared keys by peer address (`crypto isakmp key`), Quick Mode
//! transforms and lifetimes (`crypto ipsec transform-set`, `set security-association
//! lifetime`, `set pfs`), DPD (`crypto isakmp keepalive`) and NAT traversal.

use core::fmt;
use core::net::IpAddr;
use std::time::Duration;

use dmvpn_esp::{EncryptionAlgorithm, Mode, Suite};
use dmvpn_ikev2::auth::{Psk, PskLookup, PskTable};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::wire::Identity;

use crate::Error;
use crate::algorithm::Hash;
use crate::wire::GroupDescription;

pub use dmvpn_ikev2::Retransmit;

/// A phase 1 policy (`crypto isakmp policy N` with `authentication pre-share`): what Main
/// Mode proposes (initiator) or accepts (responder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The priority (lower first, as IOS orders policies).
    pub priority: u32,
    /// The cipher: AES-CBC with a 128-, 192- or 256-bit key.
    pub cipher: EncryptionAlgorithm,
    /// The hash (and its HMAC as the PRF).
    pub hash: Hash,
    /// The Diffie-Hellman group.
    pub group: GroupDescription,
    /// The ISAKMP SA's lifetime (IOS default 86,400 s).
    pub lifetime: Duration,
}

impl Policy {
    /// IOS's default phase 1 lifetime.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(86_400);

    /// A policy from strongSwan-style text: `aes128-sha256-modp2048`, `aes256-sha1-ecp256`
    /// (cipher `aes128|aes192|aes256`, hash `sha1|sha256|sha384|sha512`, group `modp768`,
    /// `modp1024`, `modp1536`, `modp2048`, `modp3072`, `modp4096`, `ecp256`, `ecp384`,
    /// `ecp521`), priority 1 and the default lifetime.
    pub fn parse(s: &str) -> Result<Policy, Error> {
        let bad = || Error::UnsupportedAlgorithm(format!("phase 1 policy {s:?}"));
        let mut parts = s.split('-');
        let (Some(c), Some(h), Some(g), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let cipher = match c {
            "aes128" | "aes" => EncryptionAlgorithm::AesCbc128,
            "aes192" => EncryptionAlgorithm::AesCbc192,
            "aes256" => EncryptionAlgorithm::AesCbc256,
            "des" | "3des" => {
                let alg = if c == "des" {
                    crate::wire::EncryptionAlgorithm::DES_CBC
                } else {
                    crate::wire::EncryptionAlgorithm::TRIPLE_DES_CBC
                };
                return Err(crate::algorithm::phase1_cipher(alg, None)
                    .err()
                    .unwrap_or_else(bad));
            }
            _ => return Err(bad()),
        };
        let hash = match h {
            "sha1" | "sha" => Hash::Sha1,
            "sha256" => Hash::Sha256,
            "sha384" => Hash::Sha384,
            "sha512" => Hash::Sha512,
            "md5" => {
                return Err(Hash::from_attribute(crate::wire::HashAlgorithm::MD5)
                    .err()
                    .unwrap_or_else(bad));
            }
            _ => return Err(bad()),
        };
        let group = group_by_name(g).ok_or_else(bad)?;
        Ok(Policy {
            priority: 1,
            cipher,
            hash,
            group,
            lifetime: Self::DEFAULT_LIFETIME,
        })
    }
}

/// A group by its strongSwan-style name (`modp2048`, `ecp256`, …).
pub fn group_by_name(name: &str) -> Option<GroupDescription> {
    Some(match name {
        "modp768" => GroupDescription::MODP_768,
        "modp1024" => GroupDescription::MODP_1024,
        "modp1536" => GroupDescription::MODP_1536,
        "modp2048" => GroupDescription::MODP_2048,
        "modp3072" => GroupDescription::MODP_3072,
        "modp4096" => GroupDescription::MODP_4096,
        "ecp256" => GroupDescription::ECP_256,
        "ecp384" => GroupDescription::ECP_384,
        "ecp521" => GroupDescription::ECP_521,
        _ => return None,
    })
}

/// Whether a group is one of the legacy ones (1, 2, 5: 768-, 1024- and 1536-bit MODP) that
/// are used only with [`Config::allow_legacy_groups`].
pub const fn is_legacy_group(g: GroupDescription) -> bool {
    matches!(g.0, 1 | 2 | 5)
}

/// One Quick Mode transform (a `crypto ipsec transform-set`): the ESP suite and the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspTransform {
    /// Encryption and integrity.
    pub suite: Suite,
    /// Transport (DMVPN's usual `mode transport`) or tunnel.
    pub mode: Mode,
}

/// Dead peer detection (RFC 3706; IOS `crypto isakmp keepalive SECONDS RETRY [periodic]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dpd {
    /// Idle time (no traffic from the peer) before an R-U-THERE is sent.
    pub interval: Duration,
    /// The wait between unanswered R-U-THEREs.
    pub retry: Duration,
    /// R-U-THEREs sent without an answer before the peer is declared dead (IOS: 5).
    pub tries: u32,
    /// `periodic`: check every interval even while the peer's traffic arrives; otherwise
    /// on demand (only after `interval` without anything from the peer).
    pub periodic: bool,
}

impl Dpd {
    /// `crypto isakmp keepalive SECONDS [RETRY]` on demand, 5 tries.
    pub fn on_demand(interval: Duration, retry: Duration) -> Dpd {
        Dpd {
            interval,
            retry,
            tries: 5,
            periodic: false,
        }
    }
}

/// Pre-shared keys by peer address (`crypto isakmp key KEY address A [MASK]`): Main Mode with
/// pre-shared keys must choose the key before it sees the peer's identity, so the key is the
/// one of the peer's address (longest prefix, then the wildcard `0.0.0.0 0.0.0.0`).
#[derive(Debug, Default)]
pub struct KeyTable {
    table: PskTable,
}

impl KeyTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The key of one peer address.
    pub fn insert(&mut self, addr: IpAddr, psk: Psk) {
        self.table.insert(Identity::ip(addr), psk);
    }

    /// The key of every address in `addr/len`.
    pub fn insert_prefix(&mut self, addr: IpAddr, len: u8, psk: Psk) {
        self.table.insert_prefix(addr, len, psk);
    }

    /// The key of every other address (`address 0.0.0.0 0.0.0.0`).
    pub fn set_wildcard(&mut self, psk: Psk) {
        self.table.set_wildcard(psk);
    }

    /// The key for a peer address.
    pub fn lookup(&self, addr: IpAddr) -> Option<&Psk> {
        self.table.psk(&Identity::ip(addr))
    }
}

/// The configuration of an [`Endpoint`](crate::Endpoint).
#[derive(Clone)]
pub struct Config {
    /// Ciphers, HMACs, groups and the random source.
    pub provider: IkeCryptoProvider,
    /// Phase 1 policies, in priority order (an initiator proposes them all; a responder takes
    /// the first of the initiator's offers that matches one of them).
    pub policies: Vec<Policy>,
    /// Pre-shared keys by peer address.
    pub keys: std::sync::Arc<KeyTable>,
    /// Quick Mode transforms, in order of preference.
    pub transforms: Vec<EspTransform>,
    /// `set pfs groupN`: a Diffie-Hellman exchange in every Quick Mode. As a responder, a
    /// Quick Mode with PFS of another group, or without PFS, is refused when this is set.
    pub pfs: Option<GroupDescription>,
    /// The IPsec SAs' lifetime in seconds (`set security-association lifetime seconds`, IOS
    /// default 3,600).
    pub ipsec_lifetime: Duration,
    /// The IPsec SAs' lifetime in kilobytes (IOS default 4,608,000; `None`: no limit).
    pub ipsec_lifetime_kb: Option<u64>,
    /// Dead peer detection (`None`: none, IOS's default; the DPD vendor ID is still sent, so
    /// the peer may check us).
    pub dpd: Option<Dpd>,
    /// NAT-T (RFC 3947): vendor IDs, NAT-D, the float to port 4500. On by default.
    pub nat_traversal: bool,
    /// Send NAT-D payloads that do not match our address, so that the peer and we both
    /// believe we are behind a NAT and use ESP in UDP (strongSwan's `encap = yes`).
    pub force_encap: bool,
    /// NAT keepalives (one 0xFF byte to port 4500, RFC 3948 §2.3) while behind a NAT
    /// (`crypto isakmp nat keepalive`, 20 s by default here).
    pub nat_keepalive: Duration,
    /// Allow the legacy groups 1, 2 and 5 (a warning event at every negotiation that uses
    /// one, [`Event::LegacyGroup`](crate::Event::LegacyGroup)); the provider must implement
    /// them ([`IkeCryptoProvider::with_legacy_groups`]).
    pub allow_legacy_groups: bool,
    /// Retransmission of Main Mode, Quick Mode and Informational requests.
    pub retransmit: Retransmit,
    /// How long a half-open ISAKMP SA (Main Mode not finished) may wait.
    pub half_open_timeout: Duration,
    /// The most ISAKMP SAs in negotiation (initiator and responder); more are refused.
    pub max_half_open: usize,
    /// The most ISAKMP SAs in all (`crypto call admission limit ike sa`).
    pub max_sas: Option<usize>,
    /// Rekey the ISAKMP SA and the IPsec SAs this share of their lifetime before it ends
    /// (percent), less a random jitter of up to `rekey_jitter_percent`.
    pub rekey_margin_percent: u8,
    /// See `rekey_margin_percent`.
    pub rekey_jitter_percent: u8,
    /// The anti-replay window of inbound ESP SAs.
    pub replay_window: u32,
    /// Bound of the transmit queue.
    pub max_transmits: usize,
    /// Bound of the event queue.
    pub max_events: usize,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("policies", &self.policies)
            .field("keys", &"<redacted>")
            .field("transforms", &self.transforms)
            .field("pfs", &self.pfs)
            .field("ipsec_lifetime", &self.ipsec_lifetime)
            .field("ipsec_lifetime_kb", &self.ipsec_lifetime_kb)
            .field("dpd", &self.dpd)
            .field("nat_traversal", &self.nat_traversal)
            .field("force_encap", &self.force_encap)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The default of [`Config::max_half_open`].
    pub const DEFAULT_MAX_HALF_OPEN: usize = 1000;

    /// A configuration with these keys: policy `aes256-sha256-modp2048`, transforms
    /// `esp-aes 256 esp-sha256-hmac` and `esp-aes 128 esp-sha-hmac` in transport mode, no PFS,
    /// IOS's lifetimes, no DPD, NAT-T on.
    pub fn new(provider: IkeCryptoProvider, keys: KeyTable) -> Self {
        let suite = |s: &str| Suite::parse(s).ok();
        let transforms = ["aes256-sha256", "aes128-sha1"]
            .iter()
            .filter_map(|s| suite(s))
            .map(|suite| EspTransform {
                suite,
                mode: Mode::Transport,
            })
            .collect();
        Config {
            provider,
            policies: vec![Policy {
                priority: 1,
                cipher: EncryptionAlgorithm::AesCbc256,
                hash: Hash::Sha256,
                group: GroupDescription::MODP_2048,
                lifetime: Policy::DEFAULT_LIFETIME,
            }],
            keys: std::sync::Arc::new(keys),
            transforms,
            pfs: None,
            ipsec_lifetime: Duration::from_secs(3600),
            ipsec_lifetime_kb: Some(4_608_000),
            dpd: None,
            nat_traversal: true,
            force_encap: false,
            nat_keepalive: Duration::from_secs(20),
            allow_legacy_groups: false,
            retransmit: Retransmit::default(),
            half_open_timeout: Duration::from_secs(60),
            max_half_open: Self::DEFAULT_MAX_HALF_OPEN,
            max_sas: None,
            rekey_margin_percent: 10,
            rekey_jitter_percent: 5,
            replay_window: 1024,
            max_transmits: 1024,
            max_events: 1024,
        }
    }

    /// Checks the configuration: at least one policy and one transform, every group
    /// implemented by the provider, legacy groups only when allowed, AES-CBC phase 1 ciphers.
    pub fn validate(&self) -> Result<(), Error> {
        if self.policies.is_empty() {
            return Err(Error::Config(
                "no phase 1 policy (crypto isakmp policy)".into(),
            ));
        }
        if self.transforms.is_empty() {
            return Err(Error::Config(
                "no Quick Mode transform (transform-set)".into(),
            ));
        }
        let groups = self
            .policies
            .iter()
            .map(|p| p.group)
            .chain(self.pfs.iter().copied());
        for g in groups {
            if is_legacy_group(g) && !self.allow_legacy_groups {
                return Err(Error::Config(format!(
                    "group {} ({g}) is a legacy group: allow legacy groups explicitly, or use group 14 or 19",
                    g.0
                )));
            }
            crate::algorithm::ke_group(&self.provider, g)?;
        }
        for p in &self.policies {
            if crate::algorithm::phase1_cipher_attributes(p.cipher).is_none() {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "{} as the phase 1 cipher",
                    p.cipher
                )));
            }
        }
        if self.max_transmits == 0 || self.max_events == 0 {
            return Err(Error::Config("queue bounds must be at least 1".into()));
        }
        Ok(())
    }
}
