//! IKEv1 settings (`crypto isakmp …`, RFC 2409), for joining and migrating existing
//! `crypto isakmp` clouds (seed 002's hub and spokes, seed 004): the phase 1 policies, the
//! pre-shared keys by peer address, DPD (RFC 3706) and NAT keepalives, and the explicit
//! opt-in for the legacy Diffie-Hellman groups 1, 2 and 5.
//!
//! ```text
//! crypto isakmp policy 10                      IsakmpConfig { policies: [IsakmpPolicy {
//!  encryption aes 256                            priority: 10, encryption: Aes256,
//!  hash sha256                                   hash: Sha256,
//!  authentication pre-share                      authentication: PreShare,
//!  group 14                                      group: 14,
//!  lifetime 86400                                lifetime_seconds: 86400 }],
//! crypto isakmp key cisco47 address 0.0.0.0    keys: [IsakmpKey { address: 0.0.0.0/0, key }],
//! crypto isakmp keepalive 10 3 on-demand       keepalive: Some(IsakmpKeepalive { interval: 10,
//!                                                retry: 3, mode: OnDemand }),
//! crypto isakmp nat keepalive 20               nat_keepalive_seconds: Some(20),
//! crypto isakmp legacy-groups (ours, not IOS)  legacy_groups: true }
//! ```
//!
//! The defaults are IOS's for a line not given (`encryption des`, `hash sha`,
//! `authentication rsa-sig`, `group 1`, `lifetime 86400`), so a policy means in JSON what it
//! means in IOS text; [`IsakmpConfig`]'s validation (through
//! [`NodeConfig::validate`](crate::config::NodeConfig::validate)) refuses DES, 3DES, MD5,
//! RSA signatures and encryption, and the legacy groups without the opt-in, each with what to
//! use instead. An IPsec profile negotiates with IKEv1 when its
//! [`ike`](super::IpsecProfile::ike) is [`IkeVersion::Ikev1`] (IOS: no `set ikev2-profile`).

use core::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::config::Password;

/// Which IKE version negotiates the SAs of an IPsec profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IkeVersion {
    /// IKEv2 with the node's [`Ikev2Config`](super::Ikev2Config) (IOS: the profile has `set
    /// ikev2-profile NAME`). The default, so a configuration written before IKEv1 keeps its
    /// meaning.
    #[default]
    Ikev2,
    /// IKEv1 (Main Mode and Quick Mode with pre-shared keys) with the node's
    /// [`IsakmpConfig`] (IOS: the profile has no `set ikev2-profile`).
    Ikev1,
}

impl fmt::Display for IkeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IkeVersion::Ikev2 => "IKEv2",
            IkeVersion::Ikev1 => "IKEv1",
        })
    }
}

/// Every `crypto isakmp …` setting of a node (IKEv1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsakmpConfig {
    /// `crypto isakmp policy N`: the phase 1 proposals, offered and accepted in order of
    /// priority (lowest first).
    #[serde(default)]
    pub policies: Vec<IsakmpPolicy>,
    /// `crypto isakmp key KEY address …`: the pre-shared keys by peer address.
    #[serde(default)]
    pub keys: Vec<IsakmpKey>,
    /// `crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand]`: Dead Peer Detection
    /// (RFC 3706); `None`: no DPD (IOS's default).
    #[serde(default)]
    pub keepalive: Option<IsakmpKeepalive>,
    /// `crypto isakmp nat keepalive SECONDS`: NAT keepalives (RFC 3948 §2.3) while this
    /// node is behind a NAT, 5..=3600; `None`: IOS's default, none.
    #[serde(default)]
    pub nat_keepalive_seconds: Option<u32>,
    /// `crypto isakmp legacy-groups` (this crate's line; IOS has none): accept the
    /// Diffie-Hellman groups 1, 2 and 5 (768-, 1024- and 1536-bit MODP, too small for today,
    /// RFC 8247) in `crypto isakmp policy` and in `set pfs` of IKEv1 profiles. The IKEv1
    /// machine logs a warning at every negotiation that uses one.
    #[serde(default)]
    pub legacy_groups: bool,
}

/// `crypto isakmp policy PRIORITY`: one phase 1 proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsakmpPolicy {
    /// The policy's priority, 1..=10000 (lower first).
    pub priority: u16,
    /// `encryption …` (IOS's default: DES, refused).
    #[serde(default)]
    pub encryption: IsakmpEncryption,
    /// `hash …` (IOS's default: SHA-1).
    #[serde(default)]
    pub hash: IsakmpHash,
    /// `authentication …` (IOS's default: rsa-sig, refused; only `pre-share` is supported).
    #[serde(default)]
    pub authentication: IsakmpAuthentication,
    /// `group N`: the Diffie-Hellman group (IOS's default: 1, a legacy group).
    #[serde(default = "default_group")]
    pub group: u16,
    /// `lifetime SECONDS` of the phase 1 SA, 60..=86400 (IOS's default 86400).
    #[serde(default = "default_lifetime")]
    pub lifetime_seconds: u32,
}

fn default_group() -> u16 {
    1
}

fn default_lifetime() -> u32 {
    86_400
}

impl IsakmpPolicy {
    /// A policy with IOS's defaults for every line not given.
    pub fn new(priority: u16) -> IsakmpPolicy {
        IsakmpPolicy {
            priority,
            encryption: IsakmpEncryption::default(),
            hash: IsakmpHash::default(),
            authentication: IsakmpAuthentication::default(),
            group: default_group(),
            lifetime_seconds: default_lifetime(),
        }
    }
}

/// `encryption …` of a `crypto isakmp policy`: the phase 1 cipher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IsakmpEncryption {
    /// `encryption des` (IOS's default): refused, DES is broken.
    #[default]
    #[serde(rename = "des")]
    Des,
    /// `encryption 3des`: refused, 3DES is deprecated.
    #[serde(rename = "3des")]
    TripleDes,
    /// `encryption aes` (or `aes 128`): AES-CBC with a 128-bit key.
    #[serde(rename = "aes128")]
    Aes128,
    /// `encryption aes 192`: AES-CBC with a 192-bit key.
    #[serde(rename = "aes192")]
    Aes192,
    /// `encryption aes 256`: AES-CBC with a 256-bit key.
    #[serde(rename = "aes256")]
    Aes256,
}

impl IsakmpEncryption {
    /// The AES-CBC cipher (`esp`'s, which IKEv1 uses for its message bodies); `None` for DES
    /// and 3DES, which validation refuses.
    pub fn cipher(self) -> Option<dmvpn_esp::EncryptionAlgorithm> {
        use dmvpn_esp::EncryptionAlgorithm as E;
        match self {
            IsakmpEncryption::Aes128 => Some(E::AesCbc128),
            IsakmpEncryption::Aes192 => Some(E::AesCbc192),
            IsakmpEncryption::Aes256 => Some(E::AesCbc256),
            IsakmpEncryption::Des | IsakmpEncryption::TripleDes => None,
        }
    }

    /// The key length in bits (the Key Length attribute of AES, RFC 2409 Appendix A); `None`
    /// for DES and 3DES.
    pub fn key_bits(self) -> Option<u16> {
        match self {
            IsakmpEncryption::Aes128 => Some(128),
            IsakmpEncryption::Aes192 => Some(192),
            IsakmpEncryption::Aes256 => Some(256),
            IsakmpEncryption::Des | IsakmpEncryption::TripleDes => None,
        }
    }

    /// Why it is refused, with what to use; `None` for AES.
    pub(crate) fn refusal(self) -> Option<String> {
        match self {
            IsakmpEncryption::Des => Some(
                "encryption des is refused (DES is broken, RFC 8247): use encryption aes 256"
                    .into(),
            ),
            IsakmpEncryption::TripleDes => Some(
                "encryption 3des is refused (3DES is deprecated, RFC 8247): use encryption aes 256"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl fmt::Display for IsakmpEncryption {
    /// As IOS writes it after `encryption`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsakmpEncryption::Des => "des",
            IsakmpEncryption::TripleDes => "3des",
            IsakmpEncryption::Aes128 => "aes",
            IsakmpEncryption::Aes192 => "aes 192",
            IsakmpEncryption::Aes256 => "aes 256",
        })
    }
}

/// `hash …` of a `crypto isakmp policy`: the phase 1 hash, whose HMAC is IKEv1's PRF.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsakmpHash {
    /// `hash md5`: refused, MD5 is broken.
    Md5,
    /// `hash sha` (IOS's default): SHA-1.
    #[default]
    #[serde(alias = "sha")]
    Sha1,
    /// `hash sha256`.
    Sha256,
    /// `hash sha384`.
    Sha384,
    /// `hash sha512`.
    Sha512,
}

impl IsakmpHash {
    /// Why it is refused, with what to use; `None` for the SHA family.
    pub(crate) fn refusal(self) -> Option<String> {
        (self == IsakmpHash::Md5)
            .then(|| "hash md5 is refused (MD5 is broken, RFC 8247): use hash sha256".into())
    }
}

impl fmt::Display for IsakmpHash {
    /// As IOS writes it after `hash`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsakmpHash::Md5 => "md5",
            IsakmpHash::Sha1 => "sha",
            IsakmpHash::Sha256 => "sha256",
            IsakmpHash::Sha384 => "sha384",
            IsakmpHash::Sha512 => "sha512",
        })
    }
}

/// `authentication …` of a `crypto isakmp policy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsakmpAuthentication {
    /// `authentication pre-share`: the pre-shared keys of [`IsakmpConfig::keys`] (the only
    /// method supported).
    PreShare,
    /// `authentication rsa-sig` (IOS's default): certificates, refused.
    #[default]
    RsaSig,
    /// `authentication rsa-encr`: RSA-encrypted nonces, refused.
    RsaEncr,
}

impl IsakmpAuthentication {
    /// Why it is refused, with what to use; `None` for pre-shared keys.
    pub(crate) fn refusal(self) -> Option<String> {
        let method = match self {
            IsakmpAuthentication::PreShare => return None,
            IsakmpAuthentication::RsaSig => "rsa-sig",
            IsakmpAuthentication::RsaEncr => "rsa-encr",
        };
        Some(format!(
            "authentication {method} is not supported (only pre-shared keys are): use authentication pre-share"
        ))
    }
}

impl fmt::Display for IsakmpAuthentication {
    /// As IOS writes it after `authentication`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsakmpAuthentication::PreShare => "pre-share",
            IsakmpAuthentication::RsaSig => "rsa-sig",
            IsakmpAuthentication::RsaEncr => "rsa-encr",
        })
    }
}

/// `crypto isakmp key KEY address A [MASK]` / `address ipv6 P/LEN`: a pre-shared key for
/// the peers whose address lies in a prefix (`address 0.0.0.0 [0.0.0.0]` is the wildcard key
/// spoke-to-spoke tunnels need, seed 002).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsakmpKey {
    /// The peers' prefix; `0.0.0.0/0` or `::/0` for every peer of that family.
    pub address: IpNet,
    /// The key (zeroized on drop, redacted in `Debug` and, unless revealed, in serialization).
    pub key: Password,
}

impl IsakmpKey {
    /// The key is for every peer of its family.
    pub fn is_wildcard(&self) -> bool {
        self.address.prefix_len() == 0
    }
}

/// How DPD checks a peer (`crypto isakmp keepalive … periodic|on-demand`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DpdMode {
    /// A check only after the interval without traffic from the peer while there is traffic
    /// to send (IOS's default).
    #[default]
    OnDemand,
    /// A check every interval without traffic from the peer.
    Periodic,
}

/// `crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand]` (RFC 3706).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsakmpKeepalive {
    /// Seconds without traffic from the peer before a check, 10..=3600.
    pub interval: u32,
    /// Seconds between retransmissions of an unanswered check, 2..=60 (IOS's default 2).
    #[serde(default = "default_retry")]
    pub retry: u32,
    /// On demand (IOS's default) or periodic.
    #[serde(default)]
    pub mode: DpdMode,
}

fn default_retry() -> u32 {
    2
}

/// The groups of `crypto isakmp policy` accepted without the opt-in.
const MODERN_GROUPS: [u16; 6] = [14, 15, 16, 19, 20, 21];

/// Diffie-Hellman groups 1, 2 and 5: accepted only with [`IsakmpConfig::legacy_groups`].
pub fn is_legacy_group(group: u16) -> bool {
    matches!(group, 1 | 2 | 5)
}

/// Where a group is configured: a policy's `group N` or a profile's `set pfs groupN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupLine {
    Policy,
    Pfs,
}

/// Why IKEv1 refuses Diffie-Hellman group `g` (given `legacy` opt-in), with what to use;
/// `None` if accepted.
pub(crate) fn group_refusal(g: u16, legacy: bool, line: GroupLine) -> Option<String> {
    let (name, use_) = match line {
        GroupLine::Policy => (format!("group {g}"), "group 14 or 19"),
        GroupLine::Pfs => (format!("set pfs group{g}"), "set pfs group14 or group19"),
    };
    let bits = match g {
        1 => 768,
        2 => 1024,
        5 => 1536,
        24 => {
            return Some(format!(
                "{name} is not supported (2048-bit MODP with a 224-bit subgroup, which the crypto provider does not implement): use {}",
                if line == GroupLine::Policy {
                    "group 14"
                } else {
                    "set pfs group14"
                }
            ));
        }
        g if MODERN_GROUPS.contains(&g) => return None,
        _ => {
            return Some(format!(
                "{name} is not supported (groups 14, 15, 16, 19, 20 and 21 are; 1, 2 and 5 with crypto isakmp legacy-groups)"
            ));
        }
    };
    (!legacy).then(|| {
        format!(
            "{name} is a legacy group ({bits}-bit MODP, too small for today, RFC 8247): use {use_}, or add the line crypto isakmp legacy-groups to accept it (with a warning at every negotiation)"
        )
    })
}

impl IsakmpConfig {
    /// The key for `peer`: the longest prefix containing it (the wildcard last).
    pub fn key_for(&self, peer: IpAddr) -> Option<&IsakmpKey> {
        self.keys
            .iter()
            .filter(|k| k.address.contains(&peer))
            .max_by_key(|k| k.address.prefix_len())
    }

    /// The policies in order of priority, lowest first (what IOS proposes, in order).
    pub fn policies_by_priority(&self) -> Vec<&IsakmpPolicy> {
        let mut v: Vec<&IsakmpPolicy> = self.policies.iter().collect();
        v.sort_by_key(|p| p.priority);
        v
    }

    /// Every problem of policy `p` as (field, message).
    pub(crate) fn policy_problems(&self, p: &IsakmpPolicy) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(e) = p.encryption.refusal() {
            out.push(("encryption", e));
        }
        if let Some(e) = p.hash.refusal() {
            out.push(("hash", e));
        }
        if let Some(e) = p.authentication.refusal() {
            out.push(("authentication", e));
        }
        if let Some(e) = group_refusal(p.group, self.legacy_groups, GroupLine::Policy) {
            out.push(("group", e));
        }
        if !(60..=86_400).contains(&p.lifetime_seconds) {
            out.push((
                "lifetime_seconds",
                format!(
                    "{} s is outside 60..=86400 (IOS's range)",
                    p.lifetime_seconds
                ),
            ));
        }
        out
    }

    /// Checks the settings; `report` gets each problem with its path.
    pub(crate) fn validate(&self, report: &mut dyn FnMut(String, String)) {
        for (i, p) in self.policies.iter().enumerate() {
            let path = format!("crypto.isakmp.policies[{i}]");
            if !(1..=10_000).contains(&p.priority) {
                report(
                    format!("{path}.priority"),
                    format!("priority {} is outside 1..=10000", p.priority),
                );
            }
            if self
                .policies
                .iter()
                .take(i)
                .any(|o| o.priority == p.priority)
            {
                report(
                    path.clone(),
                    format!("crypto isakmp policy {} defined twice", p.priority),
                );
            }
            for (field, e) in self.policy_problems(p) {
                report(format!("{path}.{field}"), e);
            }
        }
        for (i, k) in self.keys.iter().enumerate() {
            let path = format!("crypto.isakmp.keys[{i}]");
            if k.key.expose().is_empty() {
                report(format!("{path}.key"), "empty pre-shared key".into());
            }
            if k.address.trunc() != k.address {
                report(
                    format!("{path}.address"),
                    format!(
                        "{} has host bits set: the prefix is {}",
                        k.address,
                        k.address.trunc()
                    ),
                );
            }
            if self.keys.iter().take(i).any(|o| o.address == k.address) {
                report(
                    path.clone(),
                    format!("a second key for {}: one key per address", k.address),
                );
            }
        }
        if let Some(k) = self.keepalive {
            if !(10..=3600).contains(&k.interval) {
                report(
                    "crypto.isakmp.keepalive.interval".into(),
                    format!("{} s is outside 10..=3600", k.interval),
                );
            }
            if !(2..=60).contains(&k.retry) {
                report(
                    "crypto.isakmp.keepalive.retry".into(),
                    format!("{} s is outside 2..=60", k.retry),
                );
            }
        }
        if let Some(n) = self.nat_keepalive_seconds
            && !(5..=3600).contains(&n)
        {
            report(
                "crypto.isakmp.nat_keepalive_seconds".into(),
                format!("{n} s is outside 5..=3600"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::with_secrets_revealed;

    fn good() -> IsakmpPolicy {
        IsakmpPolicy {
            encryption: IsakmpEncryption::Aes256,
            hash: IsakmpHash::Sha256,
            authentication: IsakmpAuthentication::PreShare,
            group: 14,
            ..IsakmpPolicy::new(10)
        }
    }

    fn problems(c: &IsakmpConfig) -> Vec<(String, String)> {
        let mut out = Vec::new();
        c.validate(&mut |p, m| out.push((p, m)));
        out
    }

    #[test]
    fn ios_defaults_are_refused_field_by_field() {
        let c = IsakmpConfig {
            policies: vec![IsakmpPolicy::new(1)],
            ..IsakmpConfig::default()
        };
        let got = problems(&c);
        let fields: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            fields,
            [
                "crypto.isakmp.policies[0].encryption",
                "crypto.isakmp.policies[0].authentication",
                "crypto.isakmp.policies[0].group",
            ]
        );
        assert_eq!(
            got[0].1,
            "encryption des is refused (DES is broken, RFC 8247): use encryption aes 256"
        );
        assert!(
            got[1].1.ends_with("use authentication pre-share"),
            "{got:?}"
        );
        assert!(got[2].1.contains("crypto isakmp legacy-groups"), "{got:?}");
        let ok = IsakmpConfig {
            policies: vec![good()],
            ..IsakmpConfig::default()
        };
        assert!(problems(&ok).is_empty(), "{:?}", problems(&ok));
    }

    #[test]
    fn legacy_groups_need_the_opt_in_and_group_24_is_refused() {
        let mut c = IsakmpConfig {
            policies: vec![IsakmpPolicy { group: 2, ..good() }],
            ..IsakmpConfig::default()
        };
        let e = &problems(&c)[0].1;
        assert!(
            e.starts_with("group 2 is a legacy group (1024-bit MODP")
                && e.contains("use group 14 or 19, or add the line crypto isakmp legacy-groups"),
            "{e}"
        );
        c.legacy_groups = true;
        assert!(problems(&c).is_empty());
        for g in [1, 5] {
            assert_eq!(group_refusal(g, true, GroupLine::Pfs), None);
            assert!(group_refusal(g, false, GroupLine::Pfs).is_some());
        }
        let e = group_refusal(24, true, GroupLine::Policy).unwrap();
        assert!(
            e.contains("224-bit subgroup") && e.ends_with("use group 14"),
            "{e}"
        );
        assert!(group_refusal(3, true, GroupLine::Policy).is_some());
        for g in MODERN_GROUPS {
            assert_eq!(group_refusal(g, false, GroupLine::Policy), None);
        }
        assert!(
            group_refusal(2, false, GroupLine::Pfs)
                .unwrap()
                .contains("use set pfs group14 or group19")
        );
    }

    #[test]
    fn weak_algorithms_name_their_replacement() {
        let c = IsakmpConfig {
            policies: vec![IsakmpPolicy {
                encryption: IsakmpEncryption::TripleDes,
                hash: IsakmpHash::Md5,
                authentication: IsakmpAuthentication::RsaEncr,
                lifetime_seconds: 59,
                ..good()
            }],
            ..IsakmpConfig::default()
        };
        let got: Vec<String> = problems(&c).into_iter().map(|x| x.1).collect();
        assert_eq!(
            got,
            [
                "encryption 3des is refused (3DES is deprecated, RFC 8247): use encryption aes 256",
                "hash md5 is refused (MD5 is broken, RFC 8247): use hash sha256",
                "authentication rsa-encr is not supported (only pre-shared keys are): use authentication pre-share",
                "59 s is outside 60..=86400 (IOS's range)",
            ]
        );
    }

    #[test]
    fn algorithms_convert_to_what_the_machine_uses() {
        use dmvpn_esp::EncryptionAlgorithm as E;
        assert_eq!(IsakmpEncryption::Aes128.cipher(), Some(E::AesCbc128));
        assert_eq!(IsakmpEncryption::Aes192.cipher(), Some(E::AesCbc192));
        assert_eq!(IsakmpEncryption::Aes256.cipher(), Some(E::AesCbc256));
        assert_eq!(IsakmpEncryption::Des.cipher(), None);
        assert_eq!(IsakmpEncryption::TripleDes.key_bits(), None);
        assert_eq!(IsakmpEncryption::Aes192.key_bits(), Some(192));
        assert_eq!(IsakmpEncryption::Aes128.to_string(), "aes");
        assert_eq!(IsakmpHash::Sha1.to_string(), "sha");
        assert!(is_legacy_group(2) && !is_legacy_group(14));
    }

    #[test]
    fn the_longest_prefix_key_wins_and_the_wildcard_is_last() {
        let key = |a: &str, k: &str| IsakmpKey {
            address: a.parse().unwrap(),
            key: Password::new(k),
        };
        let c = IsakmpConfig {
            keys: vec![
                key("0.0.0.0/0", "any"),
                key("172.17.0.1/32", "hub"),
                key("172.17.0.0/16", "site"),
                key("::/0", "any6"),
            ],
            ..IsakmpConfig::default()
        };
        let k = |a: &str| {
            c.key_for(a.parse().unwrap())
                .map(|k| k.key.expose().to_vec())
        };
        assert_eq!(k("172.17.0.1"), Some(b"hub".to_vec()));
        assert_eq!(k("172.17.9.9"), Some(b"site".to_vec()));
        assert_eq!(k("10.0.0.1"), Some(b"any".to_vec()));
        assert_eq!(k("2001:db8::1"), Some(b"any6".to_vec()));
        assert!(c.keys[0].is_wildcard() && !c.keys[1].is_wildcard());
        let dup = IsakmpConfig {
            keys: vec![
                key("10.0.0.0/8", "a"),
                key("10.0.0.0/8", "b"),
                key("10.0.0.1/8", "c"),
            ],
            ..IsakmpConfig::default()
        };
        let got = problems(&dup);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "crypto.isakmp.keys[1]");
        assert_eq!(got[1].0, "crypto.isakmp.keys[2].address");
    }

    #[test]
    fn json_round_trip_redacts_the_key_unless_revealed() {
        let c = IsakmpConfig {
            policies: vec![good()],
            keys: vec![IsakmpKey {
                address: "0.0.0.0/0".parse().unwrap(),
                key: Password::new("cisco47"),
            }],
            keepalive: Some(IsakmpKeepalive {
                interval: 10,
                retry: 3,
                mode: DpdMode::Periodic,
            }),
            nat_keepalive_seconds: Some(20),
            legacy_groups: true,
        };
        let redacted = serde_json::to_string(&c).unwrap();
        assert!(!redacted.contains("cisco47"), "{redacted}");
        assert!(redacted.contains("\"key\":\"<redacted>\""), "{redacted}");
        assert!(serde_json::from_str::<IsakmpConfig>(&redacted).is_err());
        let clear = with_secrets_revealed(|| serde_json::to_string(&c).unwrap());
        assert!(clear.contains("\"encryption\":\"aes256\""), "{clear}");
        assert_eq!(serde_json::from_str::<IsakmpConfig>(&clear).unwrap(), c);
        assert!(!format!("{c:?}").contains("cisco47"));
        // Fields left out take IOS's defaults.
        let p: IsakmpPolicy = serde_json::from_str(r#"{"priority": 5, "hash": "sha"}"#).unwrap();
        assert_eq!(p, IsakmpPolicy::new(5));
        let k: IsakmpKeepalive = serde_json::from_str(r#"{"interval": 30}"#).unwrap();
        assert_eq!((k.retry, k.mode), (2, DpdMode::OnDemand));
        assert_eq!(
            serde_json::from_str::<IsakmpConfig>("{}").unwrap(),
            IsakmpConfig::default()
        );
    }
}
