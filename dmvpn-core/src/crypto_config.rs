//! IPsec configuration of a node, in the terms of IOS (seed 002, "Configuring the Hub" /
//! "Configuring the Spoke"; seed 004): transform sets, IPsec profiles, the IKEv2 proposal,
//! identity and keyring, liveness, call admission, and per tunnel interface `tunnel protection
//! ipsec profile NAME [shared]`, as plain serde data.
//!
//! ```text
//! crypto ikev2 keyring DMVPN-KEYS             CryptoConfig { ikev2: Ikev2Config {
//!  peer ANY                                     keyring: [KeyringPeer { name: "ANY",
//!   address 0.0.0.0 0.0.0.0                       address: Some(0.0.0.0/0),
//!   pre-shared-key cisco123                       pre_shared_key: "cisco123" }],
//! crypto ikev2 dpd 10 3 on-demand               dpd: Some(Dpd { interval: 10, retries: 3 }),
//! crypto ikev2 nat keepalive 20                 nat_keepalive_seconds: 20, … },
//! crypto ipsec transform-set TS                transform_sets: [TransformSet { name: "TS",
//!  esp-aes 256 esp-sha256-hmac                    transforms: "esp-aes 256 esp-sha256-hmac",
//!  mode transport                                 mode: Transport }],
//! crypto ipsec profile DMVPN                   ipsec_profiles: [IpsecProfile { name: "DMVPN",
//!  set transform-set TS                           transform_sets: ["TS"],
//!  set security-association lifetime seconds 120  lifetime_seconds: Some(120), … }] }
//! interface Tunnel0                            TunnelConfig { …,
//!  tunnel protection ipsec profile DMVPN         protection: Some(TunnelProtection {
//!                                                  profile: "DMVPN", shared: false }) }
//! ```
//!
//! IKEv1 (`crypto isakmp …`, for the profiles without `set ikev2-profile`) is
//! [`IsakmpConfig`], in `crypto_config/isakmp.rs`.
//!
//! The protected traffic needs no ACL: it is GRE (IP protocol 47) between the tunnel source
//! and each peer's NBMA address (seed 003), in transport mode by default.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::config::{Password, TunnelMode};

mod isakmp;

pub use isakmp::{
    DpdMode, IkeVersion, IsakmpAuthentication, IsakmpConfig, IsakmpEncryption, IsakmpHash,
    IsakmpKeepalive, IsakmpKey, IsakmpPolicy, is_legacy_group,
};
pub(crate) use isakmp::{GroupLine, group_refusal};

/// Every `crypto ...` setting of a node. The default (no profile) protects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CryptoConfig {
    /// `crypto ipsec transform-set NAME ...`.
    #[serde(default)]
    pub transform_sets: Vec<TransformSet>,
    /// `crypto ipsec profile NAME`.
    #[serde(default)]
    pub ipsec_profiles: Vec<IpsecProfile>,
    /// `crypto ikev2 ...`: proposals, identity, keyring, DPD, lifetime.
    #[serde(default)]
    pub ikev2: Ikev2Config,
    /// `crypto isakmp ...` (IKEv1): policies, keys, keepalives, for the profiles whose
    /// [`IpsecProfile::ike`] is [`IkeVersion::Ikev1`].
    #[serde(default)]
    pub isakmp: IsakmpConfig,
    /// `crypto call admission limit` / `crypto ikev2 limit`.
    #[serde(default)]
    pub call_admission: CallAdmission,
}

/// `crypto ipsec transform-set NAME TRANSFORMS` with its `mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformSet {
    /// The set's name.
    pub name: String,
    /// The transforms in IOS syntax (`esp-aes 256 esp-sha256-hmac`, `esp-gcm 256`,
    /// `esp-aes esp-sha-hmac`) or one strongSwan ESP proposal (`aes256gcm16`,
    /// `aes256-sha256`). DES, 3DES and MD5 are refused.
    pub transforms: String,
    /// `mode transport` (the default, DMVPN's) or `mode tunnel`.
    #[serde(default)]
    pub mode: IpsecMode,
}

/// `mode transport` / `mode tunnel` of a transform set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpsecMode {
    /// ESP protects the GRE packet in place (the default; the only mode NAT-transparent DMVPN
    /// works with, seed 002).
    #[default]
    Transport,
    /// ESP carries the whole GRE-in-IP packet (20 more bytes per packet).
    Tunnel,
}

/// `crypto ipsec profile NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpsecProfile {
    /// The profile's name (what `tunnel protection ipsec profile` names).
    pub name: String,
    /// `set transform-set A B ...`, in order of preference. Empty: `esp-gcm 256` then
    /// `esp-aes 256 esp-sha256-hmac`, transport mode.
    #[serde(default)]
    pub transform_sets: Vec<String>,
    /// `set security-association lifetime seconds N` (IOS default 3600; seed 004 uses 120).
    #[serde(default)]
    pub lifetime_seconds: Option<u32>,
    /// `set security-association lifetime kilobytes N` (IOS default 4608000).
    #[serde(default)]
    pub lifetime_kilobytes: Option<u64>,
    /// `set pfs groupN`: a fresh key exchange of this group for every child SA rekey.
    #[serde(default)]
    pub pfs: Option<u16>,
    /// Which IKE negotiates the profile's SAs: IKEv2 (the default; IOS: `set ikev2-profile
    /// NAME`) or IKEv1 (IOS: no `set ikev2-profile`), with [`CryptoConfig::isakmp`].
    #[serde(default)]
    pub ike: IkeVersion,
}

impl IpsecProfile {
    /// Which IKE version negotiates the profile's SAs.
    pub fn ike_version(&self) -> IkeVersion {
        self.ike
    }
}

/// `crypto ikev2 ...` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ikev2Config {
    /// `crypto ikev2 proposal`: each entry in IOS syntax (`encryption aes-cbc-256 integrity
    /// sha256 group 14`, `encryption aes-gcm-256 prf sha384 group 19`) or strongSwan syntax
    /// (`aes256-sha256-modp2048`); several strongSwan proposals may be comma-separated. Empty:
    /// `aes256gcm16-prfsha256-x25519` and `aes256-sha256-modp2048`.
    #[serde(default)]
    pub proposals: Vec<String>,
    /// `identity local ...`; the default is the tunnel source address (`identity local
    /// address`).
    #[serde(default)]
    pub local_identity: Option<IdentityConfig>,
    /// `crypto ikev2 keyring`: the pre-shared keys.
    #[serde(default)]
    pub keyring: Vec<KeyringPeer>,
    /// `crypto ikev2 dpd INTERVAL RETRY on-demand`: liveness checks; `None`: IKEv2's own
    /// default (a check after 30 s without traffic, the retransmission schedule to decide).
    #[serde(default)]
    pub dpd: Option<Dpd>,
    /// `lifetime N` of the IKEv2 profile in seconds (IOS default 86400).
    #[serde(default = "default_ike_lifetime")]
    pub lifetime_seconds: u32,
    /// `crypto ikev2 nat keepalive N`: seconds between NAT keepalives (RFC 3948 §2.3) while
    /// this node is behind a NAT, 5..=3600. Default 20 (IOS has none unless configured; a
    /// home NAT's UDP mapping idles out in 30 s or so, and the hub could then not reach the
    /// spoke until it sent again).
    #[serde(default = "default_nat_keepalive")]
    pub nat_keepalive_seconds: u32,
}

fn default_nat_keepalive() -> u32 {
    20
}

fn default_ike_lifetime() -> u32 {
    86_400
}

impl Default for Ikev2Config {
    fn default() -> Self {
        Ikev2Config {
            proposals: Vec::new(),
            local_identity: None,
            keyring: Vec::new(),
            dpd: None,
            lifetime_seconds: default_ike_lifetime(),
            nat_keepalive_seconds: default_nat_keepalive(),
        }
    }
}

/// An IKE identity (`identity local ...`, `match identity remote ...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityConfig {
    /// `address`: the tunnel source (local) or this address.
    Address(Option<IpAddr>),
    /// `fqdn NAME`.
    Fqdn(String),
    /// `email NAME`.
    Email(String),
    /// `key-id NAME`.
    KeyId(String),
}

impl IdentityConfig {
    /// The IKE identity; an `Address(None)` is `source`.
    pub fn identity(&self, source: IpAddr) -> dmvpn_ikev2::wire::Identity {
        use dmvpn_ikev2::wire::Identity;
        match self {
            IdentityConfig::Address(a) => Identity::ip(a.unwrap_or(source)),
            IdentityConfig::Fqdn(n) => Identity::fqdn(n),
            IdentityConfig::Email(n) => Identity::rfc822(n),
            IdentityConfig::KeyId(n) => Identity::key_id(n.as_bytes()),
        }
    }
}

/// A `peer NAME` of a `crypto ikev2 keyring`: which peers the key is for, by address or
/// prefix (`address 0.0.0.0 0.0.0.0` is the wildcard key spoke-to-spoke tunnels need, seed
/// 002) or by identity, and the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringPeer {
    /// `peer NAME`.
    pub name: String,
    /// `address A [MASK]`: peers whose address identity lies in this prefix.
    #[serde(default)]
    pub address: Option<IpNet>,
    /// `identity ...`: a peer with this identity.
    #[serde(default)]
    pub identity: Option<IdentityConfig>,
    /// `pre-shared-key KEY` (zeroized on drop, redacted in `Debug`).
    pub pre_shared_key: Password,
}

/// `crypto ikev2 dpd INTERVAL RETRY on-demand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dpd {
    /// Seconds without traffic from the peer before a liveness check (10–3600).
    pub interval: u32,
    /// Seconds between retransmissions of the check (2–60); the peer is declared dead after
    /// five retries without an answer, as IOS does.
    pub retry: u32,
}

/// `crypto call admission limit ike in-negotiation-sa N` and `crypto ikev2 limit max-sa N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAdmission {
    /// Most IKE SAs at all; `None`: no limit.
    #[serde(default)]
    pub max_sa: Option<usize>,
    /// Most IKE SAs in negotiation at once; `None`: IKEv2's default bound (1024).
    #[serde(default)]
    pub max_in_negotiation: Option<usize>,
}

/// `tunnel protection ipsec profile NAME [shared]` of a tunnel interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelProtection {
    /// The IPsec profile.
    pub profile: String,
    /// `shared`: tunnel interfaces with the same source share one IKE and IPsec database
    /// (dual DMVPN, seed 002). Required when two protected interfaces share a source.
    #[serde(default)]
    pub shared: bool,
}

/// What is wrong with a transform or proposal, for [`crate::ConfigProblem`].
type Problem = String;

/// An ESP transform set as a strongSwan proposal (`aes256-sha256`), from IOS or strongSwan
/// syntax; with `pfs`, the key exchange of that group appended.
pub(crate) fn esp_proposal(transforms: &str, pfs: Option<u16>) -> Result<String, Problem> {
    let words: Vec<&str> = transforms.split_whitespace().collect();
    let mut out = if words.iter().any(|w| w.starts_with("esp-")) {
        ios_transforms(&words)?
    } else {
        let s = transforms.trim();
        if s.is_empty() || s.contains(',') || s.contains(' ') {
            return Err(format!(
                "{transforms:?} is neither IOS transforms (`esp-aes 256 esp-sha256-hmac`) nor one strongSwan proposal (`aes256-sha256`)"
            ));
        }
        s.to_ascii_lowercase()
    };
    if let Some(g) = pfs {
        out.push('-');
        out.push_str(group_keyword(g)?);
    }
    dmvpn_ikev2::wire::Proposal::from_strongswan(&out, dmvpn_ikev2::wire::ProtocolId::ESP)
        .map_err(|e| format!("{transforms:?}: {e}"))?;
    Ok(out)
}

/// `esp-aes 256 esp-sha256-hmac` → `aes256-sha256`.
fn ios_transforms(words: &[&str]) -> Result<String, Problem> {
    let mut encr: Option<String> = None;
    let mut integ: Option<&str> = None;
    let mut i = 0;
    while let Some(w) = words.get(i) {
        let bits = words.get(i + 1).and_then(|b| b.parse::<u16>().ok());
        let mut take_bits = || {
            if bits.is_some() {
                i += 1;
            }
            bits
        };
        let w = w.to_ascii_lowercase();
        match w.as_str() {
            "esp-aes" | "esp-gcm" => {
                let b = take_bits().unwrap_or(128);
                if ![128, 192, 256].contains(&b) {
                    return Err(format!("{w} {b}: AES keys are 128, 192 or 256 bits"));
                }
                if encr.is_some() {
                    return Err("a transform set has one encryption transform".into());
                }
                encr = Some(if w == "esp-gcm" {
                    format!("aes{b}gcm16")
                } else {
                    format!("aes{b}")
                });
            }
            "esp-null" => encr = Some("null".into()),
            "esp-des" | "esp-3des" => {
                return Err(format!(
                    "{w} is refused (DES and 3DES are broken or deprecated, RFC 8221): use esp-gcm 256 or esp-aes 256"
                ));
            }
            "esp-md5-hmac" => {
                return Err(
                    "esp-md5-hmac is refused (MD5 is broken, RFC 8221): use esp-sha256-hmac".into(),
                );
            }
            "esp-sha-hmac" => integ = Some("sha1"),
            "esp-sha256-hmac" => integ = Some("sha256"),
            "esp-sha384-hmac" => integ = Some("sha384"),
            "esp-sha512-hmac" => integ = Some("sha512"),
            other => return Err(format!("unknown transform {other:?}")),
        }
        i += 1;
    }
    let encr = encr.ok_or("no encryption transform (esp-aes, esp-gcm)")?;
    let aead = encr.contains("gcm");
    match (aead, integ) {
        (true, Some(_)) => Err("esp-gcm takes no integrity transform".into()),
        (true, None) => Ok(encr),
        (false, Some(i)) => Ok(format!("{encr}-{i}")),
        (false, None) if encr == "null" => Err("esp-null needs an integrity transform".into()),
        (false, None) => Err(format!(
            "{encr} needs an integrity transform (esp-sha256-hmac)"
        )),
    }
}

/// The strongSwan keyword of Diffie-Hellman group `g` (`set pfs groupN`, `group N`).
fn group_keyword(g: u16) -> Result<&'static str, Problem> {
    Ok(match g {
        14 => "modp2048",
        15 => "modp3072",
        16 => "modp4096",
        19 => "ecp256",
        20 => "ecp384",
        21 => "ecp521",
        31 => "x25519",
        1 | 2 | 5 => {
            return Err(format!(
                "group {g} is refused (too small for today, RFC 8247): use group 14, 19, 20 or 31"
            ));
        }
        other => {
            return Err(format!(
                "group {other} is not supported (14, 15, 16, 19, 20, 21, 31 are)"
            ));
        }
    })
}

/// An IKEv2 proposal as strongSwan proposals (`aes256-sha256-modp2048`), from IOS syntax
/// (`encryption aes-cbc-256 integrity sha256 group 14`) or strongSwan syntax.
pub(crate) fn ike_proposal(p: &str) -> Result<String, Problem> {
    let words: Vec<String> = p.split_whitespace().map(str::to_ascii_lowercase).collect();
    let keywords = ["encryption", "integrity", "prf", "group"];
    let out = if words
        .first()
        .is_some_and(|w| keywords.contains(&w.as_str()))
    {
        let (mut encr, mut integ, mut prf, mut group) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut current = "";
        for w in &words {
            if keywords.contains(&w.as_str()) {
                current = w;
                continue;
            }
            match current {
                "encryption" => encr.push(match w.as_str() {
                    "aes-cbc-128" => "aes128".to_owned(),
                    "aes-cbc-192" => "aes192".to_owned(),
                    "aes-cbc-256" => "aes256".to_owned(),
                    "aes-gcm-128" => "aes128gcm16".to_owned(),
                    "aes-gcm-256" => "aes256gcm16".to_owned(),
                    "des" | "3des" => {
                        return Err(format!(
                            "encryption {w} is refused (broken or deprecated, RFC 8247): use aes-gcm-256 or aes-cbc-256"
                        ));
                    }
                    other => return Err(format!("unknown IKEv2 encryption {other:?}")),
                }),
                "integrity" | "prf" => {
                    let k = match w.as_str() {
                        "sha1" => "sha1",
                        "sha256" => "sha256",
                        "sha384" => "sha384",
                        "sha512" => "sha512",
                        "md5" => {
                            return Err(
                                "md5 is refused (broken, RFC 8247): use sha256".into(),
                            );
                        }
                        other => return Err(format!("unknown IKEv2 {current} {other:?}")),
                    };
                    if current == "prf" {
                        prf.push(format!("prf{k}"));
                    } else {
                        integ.push(k.to_owned());
                    }
                }
                "group" => {
                    let g = w
                        .parse::<u16>()
                        .map_err(|_| format!("group {w:?} is not a number"))?;
                    group.push(group_keyword(g)?.to_owned());
                }
                _ => return Err(format!("{w:?} before encryption/integrity/prf/group")),
            }
        }
        let aead = !encr.is_empty() && encr.iter().all(|e| e.contains("gcm"));
        if aead && prf.is_empty() {
            return Err("an AES-GCM IKEv2 proposal needs `prf` (e.g. prf sha256)".into());
        }
        if aead && !integ.is_empty() {
            return Err("an AES-GCM IKEv2 proposal takes no `integrity` (give `prf`)".into());
        }
        if group.is_empty() {
            return Err("an IKEv2 proposal needs `group` (e.g. group 19)".into());
        }
        [encr, integ, prf, group].concat().join("-")
    } else {
        p.trim().to_ascii_lowercase()
    };
    for one in out.split(',') {
        dmvpn_ikev2::wire::Proposal::from_strongswan(one, dmvpn_ikev2::wire::ProtocolId::IKE)
            .map_err(|e| format!("{p:?}: {e}"))?;
    }
    Ok(out)
}

impl CryptoConfig {
    /// The profile named `name`.
    pub fn profile(&self, name: &str) -> Option<&IpsecProfile> {
        self.ipsec_profiles.iter().find(|p| p.name == name)
    }

    /// The transform set named `name`.
    pub fn transform_set(&self, name: &str) -> Option<&TransformSet> {
        self.transform_sets.iter().find(|t| t.name == name)
    }

    /// A profile's ESP proposals (strongSwan syntax) and mode; the problems found if any.
    pub(crate) fn esp_of(
        &self,
        p: &IpsecProfile,
    ) -> Result<(Vec<String>, IpsecMode), Vec<Problem>> {
        let mut problems = Vec::new();
        let mut out = Vec::new();
        let mut mode = None;
        if p.transform_sets.is_empty() {
            for t in ["aes256gcm16", "aes256-sha256"] {
                match esp_proposal(t, p.pfs) {
                    Ok(s) => out.push(s),
                    Err(e) => problems.push(e),
                }
            }
            mode = Some(IpsecMode::Transport);
        }
        for name in &p.transform_sets {
            match self.transform_set(name) {
                None => problems.push(format!("no transform set {name:?}")),
                Some(ts) => {
                    match esp_proposal(&ts.transforms, p.pfs) {
                        Ok(s) => out.push(s),
                        Err(e) => problems.push(format!("transform set {name:?}: {e}")),
                    }
                    match mode {
                        Some(m) if m != ts.mode => problems.push(format!(
                            "transform set {name:?} is in {:?} mode, the profile's first in {m:?}: one profile has one mode",
                            ts.mode
                        )),
                        _ => mode = Some(ts.mode),
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok((out, mode.unwrap_or_default()))
        } else {
            Err(problems)
        }
    }

    /// Checks the crypto settings and the interfaces' protection against them; `report` gets
    /// each problem with its path.
    pub(crate) fn validate(
        &self,
        tunnels: &[crate::config::TunnelConfig],
        report: &mut dyn FnMut(String, String),
    ) {
        for (i, ts) in self.transform_sets.iter().enumerate() {
            let p = format!("crypto.transform_sets[{i}]");
            if self
                .transform_sets
                .iter()
                .take(i)
                .any(|o| o.name == ts.name)
            {
                report(
                    p.clone(),
                    format!("transform set {:?} defined twice", ts.name),
                );
            }
            if let Err(e) = esp_proposal(&ts.transforms, None) {
                report(format!("{p}.transforms"), e);
            }
        }
        for (i, pr) in self.ipsec_profiles.iter().enumerate() {
            let p = format!("crypto.ipsec_profiles[{i}]");
            if self
                .ipsec_profiles
                .iter()
                .take(i)
                .any(|o| o.name == pr.name)
            {
                report(
                    p.clone(),
                    format!("IPsec profile {:?} defined twice", pr.name),
                );
            }
            // The PFS group by the profile's IKE version (IKEv1 takes the legacy groups with
            // `crypto isakmp legacy-groups`); the ESP proposals are then checked without it.
            let pfs_problem = pr.pfs.and_then(|g| match pr.ike {
                IkeVersion::Ikev2 => group_keyword(g).err(),
                IkeVersion::Ikev1 => group_refusal(g, self.isakmp.legacy_groups, GroupLine::Pfs),
            });
            if let Some(e) = &pfs_problem {
                report(format!("{p}.pfs"), e.clone());
            }
            let esp = if pfs_problem.is_some() || pr.ike == IkeVersion::Ikev1 {
                IpsecProfile {
                    pfs: None,
                    ..pr.clone()
                }
            } else {
                pr.clone()
            };
            if let Err(es) = self.esp_of(&esp) {
                for e in es {
                    report(p.clone(), e);
                }
            }
            if let Some(s) = pr.lifetime_seconds
                && !(120..=86_400).contains(&s)
            {
                report(
                    format!("{p}.lifetime_seconds"),
                    format!("{s} s is outside 120..=86400 (IOS's range)"),
                );
            }
            if let Some(k) = pr.lifetime_kilobytes
                && !(2560..=4_294_967_295).contains(&k)
            {
                report(
                    format!("{p}.lifetime_kilobytes"),
                    format!("{k} KB is outside 2560..=4294967295 (IOS's range)"),
                );
            }
        }
        self.isakmp.validate(report);
        let ike = &self.ikev2;
        for (i, prop) in ike.proposals.iter().enumerate() {
            if let Err(e) = ike_proposal(prop) {
                report(format!("crypto.ikev2.proposals[{i}]"), e);
            }
        }
        for (i, k) in ike.keyring.iter().enumerate() {
            let p = format!("crypto.ikev2.keyring[{i}]");
            if k.address.is_none() && k.identity.is_none() {
                report(
                    p.clone(),
                    format!("peer {:?} needs `address` or `identity`", k.name),
                );
            }
            if k.pre_shared_key.expose().is_empty() {
                report(format!("{p}.pre_shared_key"), "empty pre-shared key".into());
            }
        }
        if let Some(d) = ike.dpd {
            if !(10..=3600).contains(&d.interval) {
                report(
                    "crypto.ikev2.dpd.interval".into(),
                    format!("{} s is outside 10..=3600", d.interval),
                );
            }
            if !(2..=60).contains(&d.retry) {
                report(
                    "crypto.ikev2.dpd.retry".into(),
                    format!("{} s is outside 2..=60", d.retry),
                );
            }
        }
        if !(5..=3600).contains(&ike.nat_keepalive_seconds) {
            report(
                "crypto.ikev2.nat_keepalive_seconds".into(),
                format!("{} s is outside 5..=3600", ike.nat_keepalive_seconds),
            );
        }
        if !(120..=86_400).contains(&ike.lifetime_seconds) {
            report(
                "crypto.ikev2.lifetime_seconds".into(),
                format!("{} s is outside 120..=86400", ike.lifetime_seconds),
            );
        }
        for (i, t) in tunnels.iter().enumerate() {
            let Some(prot) = &t.protection else { continue };
            let p = format!("tunnels[{i}].protection");
            if self.profile(&prot.profile).is_none() {
                report(
                    p.clone(),
                    format!("no crypto ipsec profile {:?}", prot.profile),
                );
            }
            match self.profile(&prot.profile).map(IpsecProfile::ike_version) {
                Some(IkeVersion::Ikev1) => {
                    if self.isakmp.policies.is_empty() {
                        report(
                            p.clone(),
                            format!(
                                "IPsec profile {:?} negotiates IKEv1, which needs a phase 1 policy: add crypto isakmp policy 10 (encryption aes 256, hash sha256, authentication pre-share, group 14)",
                                prot.profile
                            ),
                        );
                    }
                    if self.isakmp.keys.is_empty() {
                        report(
                            p.clone(),
                            format!(
                                "IPsec profile {:?} negotiates IKEv1, which needs pre-shared keys: add crypto isakmp key KEY address 0.0.0.0 0.0.0.0",
                                prot.profile
                            ),
                        );
                    }
                }
                _ if ike.keyring.is_empty() => report(
                    p.clone(),
                    "tunnel protection needs pre-shared keys: add a crypto ikev2 keyring peer"
                        .into(),
                ),
                _ => {}
            }
            if let TunnelMode::PointToPoint { .. } = t.mode {
                // Protected point-to-point GRE works the same way (one peer).
            }
            for (j, o) in tunnels.iter().enumerate().take(i) {
                let Some(op) = &o.protection else { continue };
                if o.source != t.source {
                    continue;
                }
                if !(prot.shared && op.shared) {
                    report(
                        p.clone(),
                        format!(
                            "tunnels[{j}] is protected with the same tunnel source {}: both need `shared`",
                            t.source
                        ),
                    );
                } else if op.profile != prot.profile {
                    report(
                        p.clone(),
                        format!(
                            "shared protection on source {} uses profile {:?} on tunnels[{j}]: shared interfaces use one profile",
                            t.source, op.profile
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_keepalive_defaults_to_20_s_and_is_bounded() {
        let mut c = CryptoConfig::default();
        assert_eq!(c.ikev2.nat_keepalive_seconds, 20);
        let problems = |c: &CryptoConfig| {
            let mut out = Vec::new();
            c.validate(&[], &mut |p, m| out.push((p, m)));
            out
        };
        assert!(problems(&c).is_empty(), "{:?}", problems(&c));
        c.ikev2.nat_keepalive_seconds = 4;
        assert_eq!(
            problems(&c),
            vec![(
                "crypto.ikev2.nat_keepalive_seconds".to_string(),
                "4 s is outside 5..=3600".to_string()
            )]
        );
    }

    #[test]
    fn ios_transform_sets_become_strongswan_proposals() {
        assert_eq!(
            esp_proposal("esp-aes 256 esp-sha256-hmac", None).unwrap(),
            "aes256-sha256"
        );
        assert_eq!(esp_proposal("esp-gcm 256", None).unwrap(), "aes256gcm16");
        assert_eq!(
            esp_proposal("esp-aes esp-sha-hmac", None).unwrap(),
            "aes128-sha1"
        );
        assert_eq!(
            esp_proposal("esp-gcm", Some(19)).unwrap(),
            "aes128gcm16-ecp256"
        );
        assert_eq!(
            esp_proposal("aes256gcm16", Some(14)).unwrap(),
            "aes256gcm16-modp2048"
        );
    }

    #[test]
    fn des_3des_md5_and_small_groups_are_refused_with_what_to_use() {
        for (t, hint) in [
            ("esp-des esp-sha-hmac", "esp-gcm 256"),
            ("esp-3des esp-sha-hmac", "esp-aes 256"),
            ("esp-aes esp-md5-hmac", "esp-sha256-hmac"),
        ] {
            let e = esp_proposal(t, None).unwrap_err();
            assert!(e.contains("refused") && e.contains(hint), "{t}: {e}");
        }
        assert!(
            esp_proposal("esp-gcm 256", Some(2))
                .unwrap_err()
                .contains("group 14")
        );
        assert!(esp_proposal("3des-sha1", None).is_err());
        assert!(
            esp_proposal("esp-aes 256", None)
                .unwrap_err()
                .contains("integrity")
        );
        assert!(esp_proposal("esp-gcm 256 esp-sha-hmac", None).is_err());
        assert!(esp_proposal("esp-aes 200 esp-sha-hmac", None).is_err());
        assert!(ike_proposal("encryption 3des integrity sha256 group 14").is_err());
        assert!(ike_proposal("encryption aes-cbc-256 integrity md5 group 14").is_err());
    }

    #[test]
    fn ios_ikev2_proposals_become_strongswan_proposals() {
        assert_eq!(
            ike_proposal("encryption aes-cbc-256 integrity sha256 group 14").unwrap(),
            "aes256-sha256-modp2048"
        );
        assert_eq!(
            ike_proposal("encryption aes-gcm-256 prf sha384 group 19 20").unwrap(),
            "aes256gcm16-prfsha384-ecp256-ecp384"
        );
        assert_eq!(
            ike_proposal("aes128-sha256-modp3072,aes128-sha256-modp2048").unwrap(),
            "aes128-sha256-modp3072,aes128-sha256-modp2048"
        );
        assert!(
            ike_proposal("encryption aes-gcm-256 group 19")
                .unwrap_err()
                .contains("prf")
        );
        assert!(
            ike_proposal("encryption aes-cbc-256 integrity sha256")
                .unwrap_err()
                .contains("group")
        );
    }
}
