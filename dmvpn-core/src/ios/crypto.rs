//! The `crypto …` lines: transform sets and IPsec profiles, the IKEv2 proposal, policy,
//! keyring and profile blocks, the global IKEv2 and call admission lines, `crypto isakmp`
//! (IKEv1, in [`super::isakmp`]), and the refusals (`crypto keyring`, crypto maps,
//! certificates). Transforms and groups are checked with `crypto_config`'s own translation,
//! so its refusals read the same here.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use super::isakmp::IsakmpDraft;
use super::lex::Line;
use super::parser::{At, Ctx, Done, VRF, addr, number, put, with_mask};
use crate::config::{Dpd, IdentityConfig, Password};
use crate::crypto_config::{esp_proposal, ike_proposal};

/// The refusal of `crypto keyring` (IKEv1's keyrings).
const KEYRING: &str = "crypto keyring is not supported: give IKEv1 keys as crypto isakmp key KEY address A MASK (or use crypto ikev2 keyring)";
/// The refusal of crypto maps.
pub(crate) const CRYPTO_MAP: &str =
    "crypto maps are not supported: protect the tunnel with tunnel protection ipsec profile NAME";
const CERTS: &str = "certificates are not supported: use pre-shared keys (crypto ikev2 keyring)";

/// `crypto ipsec transform-set NAME TRANSFORMS`.
pub(crate) struct TransformSetDraft {
    pub name: String,
    pub header: usize,
    pub transforms: String,
    pub tunnel_mode: At<bool>,
    /// Its transforms were refused (on its line).
    pub failed: bool,
}

/// `crypto ipsec profile NAME`.
pub(crate) struct ProfileDraft {
    pub name: String,
    pub header: usize,
    pub transform_sets: At<Vec<String>>,
    pub ikev2_profile: At<String>,
    pub pfs: At<u16>,
    /// `set pfs` without a group (IOS's group 1).
    pub pfs_implicit: bool,
    pub seconds: At<u32>,
    pub kilobytes: At<u64>,
}

/// `crypto ikev2 proposal NAME`: its lines in IOS syntax.
pub(crate) struct ProposalDraft {
    pub name: String,
    pub header: usize,
    pub parts: Vec<(String, usize)>,
    pub failed: bool,
}

/// `crypto ikev2 policy NAME`.
pub(crate) struct PolicyDraft {
    pub name: String,
    pub header: usize,
    pub proposals: Vec<(String, usize)>,
}

/// A `peer` of a `crypto ikev2 keyring`.
pub(crate) struct PeerDraft {
    pub name: String,
    pub line: usize,
    pub address: At<IpNet>,
    pub identity: At<IdentityConfig>,
    pub psk: At<Password>,
    pub local: At<Password>,
    pub remote: At<Password>,
    /// A `pre-shared-key` line of it was refused (on its line).
    pub key_failed: bool,
}

/// `crypto ikev2 keyring NAME`.
pub(crate) struct KeyringDraft {
    pub name: String,
    pub header: usize,
    pub peers: Vec<PeerDraft>,
}

/// `crypto ikev2 profile NAME`.
pub(crate) struct IkeProfileDraft {
    pub name: String,
    pub header: usize,
    pub keyring: At<String>,
    pub identity: At<IdentityConfig>,
    pub dpd: At<Dpd>,
    pub lifetime: At<u32>,
    pub nat_keepalive: At<u32>,
}

/// Every `crypto` block and line read.
#[derive(Default)]
pub(crate) struct CryptoDraft {
    pub transform_sets: Vec<TransformSetDraft>,
    pub profiles: Vec<ProfileDraft>,
    pub proposals: Vec<ProposalDraft>,
    pub policies: Vec<PolicyDraft>,
    pub keyrings: Vec<KeyringDraft>,
    pub ike_profiles: Vec<IkeProfileDraft>,
    /// `crypto isakmp …`.
    pub isakmp: IsakmpDraft,
    /// `crypto ikev2 dpd`.
    pub dpd: At<Dpd>,
    /// `crypto ikev2 nat keepalive`.
    pub nat_keepalive: At<u32>,
    pub max_sa: At<usize>,
    pub max_in_negotiation: At<usize>,
    /// `crypto ipsec security-association lifetime seconds|kilobytes`.
    pub sa_seconds: At<u32>,
    pub sa_kilobytes: At<u64>,
}

/// The index of the block named `name`, a new one made by `make` if there is none (IOS
/// enters the existing block again).
fn find_or<T>(
    v: &mut Vec<T>,
    name: &str,
    named: impl Fn(&T) -> &str,
    make: impl FnOnce() -> T,
) -> usize {
    match v.iter().position(|x| named(x) == name) {
        Some(i) => i,
        None => {
            v.push(make());
            v.len() - 1
        }
    }
}

/// Why a transform set is refused: every DES, 3DES and MD5 transform in it named (in
/// `crypto_config`'s words), else the translation's own problem.
fn check_transforms(transforms: &str) -> Result<(), String> {
    let refused: Vec<String> = transforms
        .split_whitespace()
        .filter(|w| {
            matches!(
                w.to_ascii_lowercase().as_str(),
                "esp-des" | "esp-3des" | "esp-md5-hmac"
            )
        })
        .filter_map(|w| esp_proposal(w, None).err())
        .collect();
    if !refused.is_empty() {
        return Err(refused.join("; "));
    }
    esp_proposal(transforms, None).map(drop)
}

/// One word of an IKEv2 proposal line, checked by translating a proposal that is complete
/// but for it.
fn check_ike_word(kind: &str, w: &str) -> Result<(), String> {
    let p = match kind {
        "encryption" if w.contains("gcm") => format!("encryption {w} prf sha256 group 19"),
        "encryption" => format!("encryption {w} integrity sha256 group 19"),
        "integrity" => format!("encryption aes-cbc-256 integrity {w} group 19"),
        "prf" => format!("encryption aes-cbc-256 integrity sha256 prf {w} group 19"),
        _ => format!("encryption aes-cbc-256 integrity sha256 group {w}"),
    };
    ike_proposal(&p).map(drop)
}

/// `dpd INTERVAL RETRY on-demand|periodic` from word `i` (the interval).
fn dpd(l: &Line, i: usize) -> Result<(Dpd, Done), String> {
    if l.len() != i + 3 {
        return Err("expected dpd INTERVAL RETRY on-demand".into());
    }
    let d = Dpd {
        interval: number(l.need(i, "interval")?, "interval")?,
        retry: number(l.need(i + 1, "retry")?, "retry")?,
    };
    match l.kw(i + 2) {
        "on-demand" => Ok((d, Done::Applied)),
        "periodic" => Ok((
            d,
            Done::Note(format!(
                "applied as on-demand: the node checks a peer after {} s without traffic from it",
                d.interval
            )),
        )),
        _ => Err("expected on-demand or periodic".into()),
    }
}

/// `address|fqdn|email|key-id …` from word `i`; `address` alone is the tunnel source.
fn identity(l: &Line, i: usize) -> Result<IdentityConfig, String> {
    let value = || -> Result<String, String> {
        if l.len() != i + 2 {
            return Err(format!("expected {} VALUE", l.kw(i)));
        }
        Ok(l.need(i + 1, "identity")?.to_owned())
    };
    match l.kw(i) {
        "address" if l.len() == i + 1 => Ok(IdentityConfig::Address(None)),
        "address" => Ok(IdentityConfig::Address(Some(addr(&value()?)?))),
        "fqdn" => Ok(IdentityConfig::Fqdn(value()?)),
        "email" => Ok(IdentityConfig::Email(value()?)),
        "key-id" => Ok(IdentityConfig::KeyId(value()?)),
        "dn" => Err(CERTS.into()),
        _ => Err("expected address, fqdn, email or key-id".into()),
    }
}

/// `A [MASK]` (IPv4, a host without the mask) or `A/LEN` / `A` (IPv6) from word `i`, to the
/// end of the line.
fn address_range(l: &Line, i: usize) -> Result<IpNet, String> {
    let a = l.need(i, "address")?;
    let net: IpNet = match (a.parse::<IpAddr>(), l.word(i + 1)) {
        (Ok(IpAddr::V4(v4)), None) => Ipv4Net::from(v4).into(),
        (Ok(IpAddr::V4(_)), Some(m)) => with_mask(a, m)?.into(),
        (Ok(IpAddr::V6(v6)), None) => ipnet::Ipv6Net::from(v6).into(),
        (Err(_), None) if a.contains('/') => a
            .parse::<IpNet>()
            .map_err(|_| format!("{a:?} is not an address or prefix"))?,
        _ => return Err("expected ADDRESS [MASK] or IPV6-PREFIX/LENGTH".into()),
    };
    if l.len() > i + 2 || (l.len() == i + 2 && net.addr().is_ipv6()) {
        return Err("expected ADDRESS [MASK] or IPV6-PREFIX/LENGTH".into());
    }
    Ok(net.trunc())
}

/// `0.0.0.0`, `0.0.0.0 0.0.0.0`, `::/0`: every peer.
fn is_wildcard(net: &IpNet) -> bool {
    net.prefix_len() == 0 || net.addr().is_unspecified()
}

impl CryptoDraft {
    /// A global `crypto …` line: what it did and the block it opens.
    pub fn global(&mut self, l: &Line) -> Result<(Done, Option<Ctx>), String> {
        let applied = |ctx: Option<Ctx>| Ok((Done::Applied, ctx));
        let name = || -> Result<String, String> {
            if l.len() != 4 {
                return Err(format!("expected crypto {} {} NAME", l.kw(1), l.kw(2)));
            }
            Ok(l.need(3, "name")?.to_owned())
        };
        match (l.kw(1), l.kw(2)) {
            ("isakmp", _) => {
                let (done, policy) = self.isakmp.global(l)?;
                Ok((done, policy.map(Ctx::IsakmpPolicy)))
            }
            ("keyring", _) => Err(KEYRING.into()),
            ("map" | "dynamic-map", _) => Err(CRYPTO_MAP.into()),
            ("pki" | "ca" | "key", _) => Err(CERTS.into()),
            ("ipsec", "transform-set") => {
                let name = l.need(3, "name")?.to_owned();
                let transforms = l.rest(4);
                if transforms.is_empty() {
                    return Err("expected crypto ipsec transform-set NAME TRANSFORMS".into());
                }
                if let Some(old) = self.transform_sets.iter().find(|t| t.name == name) {
                    return Err(format!(
                        "transform set {name:?} already defined on line {}",
                        old.header
                    ));
                }
                let check = check_transforms(&transforms);
                self.transform_sets.push(TransformSetDraft {
                    name,
                    header: l.no,
                    transforms,
                    tunnel_mode: None,
                    failed: check.is_err(),
                });
                let i = self.transform_sets.len() - 1;
                // A refused set still opens its block: its `mode` line is no new problem.
                check.map_err(|e| e.to_string())?;
                applied(Some(Ctx::TransformSet(i)))
            }
            ("ipsec", "profile") => {
                let name = name()?;
                let header = l.no;
                let i = find_or(
                    &mut self.profiles,
                    &name,
                    |p| &p.name,
                    || ProfileDraft {
                        name: name.clone(),
                        header,
                        transform_sets: None,
                        ikev2_profile: None,
                        pfs: None,
                        pfs_implicit: false,
                        seconds: None,
                        kilobytes: None,
                    },
                );
                applied(Some(Ctx::IpsecProfile(i)))
            }
            ("ipsec", "security-association") if l.len() == 6 && l.kw(3) == "lifetime" => {
                match l.kw(4) {
                    "seconds" => put(
                        &mut self.sa_seconds,
                        number(l.need(5, "seconds")?, "lifetime")?,
                        l.no,
                    ),
                    "kilobytes" => put(
                        &mut self.sa_kilobytes,
                        number(l.need(5, "kilobytes")?, "lifetime")?,
                        l.no,
                    ),
                    _ => Err("expected lifetime seconds N or kilobytes N".into()),
                }
                .map(|d| (d, None))
            }
            ("ikev2", "proposal") => {
                let name = name()?;
                let header = l.no;
                let i = find_or(
                    &mut self.proposals,
                    &name,
                    |p| &p.name,
                    || ProposalDraft {
                        name: name.clone(),
                        header,
                        parts: Vec::new(),
                        failed: false,
                    },
                );
                applied(Some(Ctx::Proposal(i)))
            }
            ("ikev2", "policy") => {
                let name = name()?;
                let header = l.no;
                let i = find_or(
                    &mut self.policies,
                    &name,
                    |p| &p.name,
                    || PolicyDraft {
                        name: name.clone(),
                        header,
                        proposals: Vec::new(),
                    },
                );
                applied(Some(Ctx::Policy(i)))
            }
            ("ikev2", "keyring") => {
                let name = name()?;
                let header = l.no;
                let i = find_or(
                    &mut self.keyrings,
                    &name,
                    |k| &k.name,
                    || KeyringDraft {
                        name: name.clone(),
                        header,
                        peers: Vec::new(),
                    },
                );
                applied(Some(Ctx::Keyring(i)))
            }
            ("ikev2", "profile") => {
                let name = name()?;
                let header = l.no;
                let i = find_or(
                    &mut self.ike_profiles,
                    &name,
                    |p| &p.name,
                    || IkeProfileDraft {
                        name: name.clone(),
                        header,
                        keyring: None,
                        identity: None,
                        dpd: None,
                        lifetime: None,
                        nat_keepalive: None,
                    },
                );
                applied(Some(Ctx::IkeProfile(i)))
            }
            ("ikev2", "dpd") => {
                let (d, done) = dpd(l, 3)?;
                put(&mut self.dpd, d, l.no)?;
                Ok((done, None))
            }
            ("ikev2", "nat") if l.len() == 5 && l.kw(3) == "keepalive" => put(
                &mut self.nat_keepalive,
                number(l.need(4, "seconds")?, "keepalive")?,
                l.no,
            )
            .map(|d| (d, None)),
            ("ikev2", "limit") if l.len() == 5 => {
                let n = number(l.need(4, "limit")?, "limit")?;
                match l.kw(3) {
                    "max-sa" => put(&mut self.max_sa, n, l.no),
                    "max-in-negotiation-sa" => put(&mut self.max_in_negotiation, n, l.no),
                    _ => Err("expected limit max-sa N or max-in-negotiation-sa N".into()),
                }
                .map(|d| (d, None))
            }
            ("call", "admission") if l.len() == 7 && l.starts_at(3, &["limit", "ike"]) => {
                let n = number(l.need(6, "limit")?, "limit")?;
                match l.kw(5) {
                    "sa" => put(&mut self.max_sa, n, l.no),
                    "in-negotiation-sa" => put(&mut self.max_in_negotiation, n, l.no),
                    _ => Err("expected limit ike sa N or in-negotiation-sa N".into()),
                }
                .map(|d| (d, None))
            }
            ("ikev2", _) | ("ipsec", _) => Err("this crypto setting is not supported".into()),
            _ => Err("this crypto setting is not supported".into()),
        }
    }

    /// `peer NAME` in keyring `k`: the peer's index.
    pub fn peer(&mut self, k: usize, l: &Line) -> Result<usize, String> {
        let ring = self.keyrings.get_mut(k).ok_or("no keyring")?;
        if l.len() != 2 {
            return Err("expected peer NAME".into());
        }
        let name = l.need(1, "peer name")?.to_owned();
        let line = l.no;
        Ok(find_or(
            &mut ring.peers,
            &name,
            |p| &p.name,
            || PeerDraft {
                name: name.clone(),
                line,
                address: None,
                identity: None,
                psk: None,
                local: None,
                remote: None,
                key_failed: false,
            },
        ))
    }

    /// A line inside a crypto block.
    pub fn sub_line(&mut self, ctx: Ctx, l: &Line) -> Result<Done, String> {
        let missing = || "no such block".to_string();
        match ctx {
            Ctx::TransformSet(i) => {
                let t = self.transform_sets.get_mut(i).ok_or_else(missing)?;
                match (l.len(), l.kw(0), l.kw(1)) {
                    (2, "mode", "transport") => put(&mut t.tunnel_mode, false, l.no),
                    (2, "mode", "tunnel") => put(&mut t.tunnel_mode, true, l.no),
                    _ => Err("expected mode transport or mode tunnel".into()),
                }
            }
            Ctx::IpsecProfile(i) => {
                let p = self.profiles.get_mut(i).ok_or_else(missing)?;
                profile_line(p, l)
            }
            Ctx::Proposal(i) => {
                let p = self.proposals.get_mut(i).ok_or_else(missing)?;
                let kind = l.kw(0);
                if !matches!(kind, "encryption" | "integrity" | "prf" | "group") {
                    return Err("expected encryption, integrity, prf or group".into());
                }
                if l.len() < 2 {
                    return Err(format!("{kind} needs at least one value"));
                }
                for w in l.words.get(1..).unwrap_or_default() {
                    if let Err(e) = check_ike_word(kind, &w.to_ascii_lowercase()) {
                        p.failed = true;
                        return Err(e);
                    }
                }
                p.parts
                    .push((format!("{kind} {}", l.rest(1).to_ascii_lowercase()), l.no));
                Ok(Done::Applied)
            }
            Ctx::Policy(i) => {
                let p = self.policies.get_mut(i).ok_or_else(missing)?;
                match l.kw(0) {
                    "proposal" if l.len() == 2 => {
                        p.proposals.push((l.need(1, "proposal")?.to_owned(), l.no));
                        Ok(Done::Applied)
                    }
                    "match" if l.kw(1) == "fvrf" => Ok(Done::Note(VRF.into())),
                    "match" => Ok(Done::Note(
                        "not applied: the proposals of every policy are offered to every peer"
                            .into(),
                    )),
                    "description" => Ok(Done::Note("a description".into())),
                    _ => Err("expected proposal NAME".into()),
                }
            }
            Ctx::Keyring(_) => {
                Err("a keyring's settings belong to a peer: start with peer NAME".into())
            }
            Ctx::Peer(k, j) => {
                let p = self
                    .keyrings
                    .get_mut(k)
                    .and_then(|r| r.peers.get_mut(j))
                    .ok_or_else(missing)?;
                peer_line(p, l)
            }
            Ctx::IkeProfile(i) => {
                let p = self.ike_profiles.get_mut(i).ok_or_else(missing)?;
                ike_profile_line(p, l)
            }
            Ctx::IsakmpPolicy(i) => self.isakmp.policy_line(i, l),
            _ => Err(missing()),
        }
    }
}

fn profile_line(p: &mut ProfileDraft, l: &Line) -> Result<Done, String> {
    match (l.kw(0), l.kw(1)) {
        ("set", "transform-set") if l.len() >= 3 => {
            let names = l.words.get(2..).unwrap_or_default().iter().map(|s| s.to_string());
            put(&mut p.transform_sets, names.collect(), l.no)
        }
        ("set", "ikev2-profile") if l.len() == 3 => {
            put(&mut p.ikev2_profile, l.need(2, "profile")?.to_owned(), l.no)
        }
        ("set", "isakmp-profile") => Err(
            "set isakmp-profile is not supported: IKEv1 uses the global crypto isakmp policies and keys; remove the line"
                .into(),
        ),
        // The group is checked once the whole text is read: which IKE the profile uses (`set
        // ikev2-profile` may follow) and whether IKEv1 accepts the legacy groups.
        ("set", "pfs") if l.len() <= 3 => {
            let g = match l.word(2) {
                None => {
                    p.pfs_implicit = true;
                    1
                }
                Some(w) => w
                    .to_ascii_lowercase()
                    .strip_prefix("group")
                    .and_then(|n| n.parse::<u16>().ok())
                    .ok_or_else(|| format!("{w:?} is not groupN (group14, group19, …)"))?,
            };
            put(&mut p.pfs, g, l.no)
        }
        ("set", "security-association") if l.len() == 5 && l.kw(2) == "lifetime" => {
            match l.kw(3) {
                "seconds" => put(&mut p.seconds, number(l.need(4, "seconds")?, "lifetime")?, l.no),
                "kilobytes" => put(&mut p.kilobytes, number(l.need(4, "kilobytes")?, "lifetime")?, l.no),
                _ => Err("expected lifetime seconds N or kilobytes N".into()),
            }
        }
        ("description", _) => Ok(Done::Note("a description".into())),
        _ => Err(
            "not supported in an IPsec profile (set transform-set, ikev2-profile, pfs and security-association lifetime are)"
                .into(),
        ),
    }
}

fn peer_line(p: &mut PeerDraft, l: &Line) -> Result<Done, String> {
    match l.kw(0) {
        "address" => put(&mut p.address, address_range(l, 1)?, l.no),
        "identity" => put(&mut p.identity, identity(l, 1)?, l.no),
        "pre-shared-key" => {
            let r = psk_line(p, l);
            p.key_failed |= r.is_err();
            r
        }
        "description" => Ok(Done::Note("a description".into())),
        _ => {
            Err("not supported in a keyring peer (address, identity and pre-shared-key are)".into())
        }
    }
}

/// `pre-shared-key [local|remote] [0] KEY`.
fn psk_line(p: &mut PeerDraft, l: &Line) -> Result<Done, String> {
    let mut i = 1;
    let which = l.kw(1);
    if matches!(which, "local" | "remote") {
        i += 1;
    }
    match l.kw(i) {
        "0" => i += 1,
        "6" | "7" => {
            return Err(
                "an encrypted key cannot be read here: give it in clear (pre-shared-key KEY)"
                    .into(),
            );
        }
        _ => {}
    }
    if l.len() != i + 1 {
        return Err("expected pre-shared-key [local|remote] KEY".into());
    }
    let key = Password::new(l.need(i, "key")?);
    match which {
        "local" => put(&mut p.local, key, l.no),
        "remote" => put(&mut p.remote, key, l.no),
        _ => put(&mut p.psk, key, l.no),
    }
}

fn ike_profile_line(p: &mut IkeProfileDraft, l: &Line) -> Result<Done, String> {
    const RESTRICT: &str = "restricting peers by identity is not supported: the node's IKEv2 profile accepts every peer with a key in the keyring; restrict peers there (peer NAME / address A MASK)";
    match l.kw(0) {
        "match" => match (l.kw(1), l.kw(2)) {
            ("identity", "remote") => match l.kw(3) {
                "address" if is_wildcard(&address_range(l, 4)?) => Ok(Done::Note(
                    "every peer matches: the node accepts any peer with a key in the keyring".into(),
                )),
                "any" => Ok(Done::Note(
                    "every peer matches: the node accepts any peer with a key in the keyring".into(),
                )),
                _ => Err(RESTRICT.into()),
            },
            ("fvrf", _) => Ok(Done::Note(VRF.into())),
            ("address", "local") => Ok(Done::Note(
                "not applied: the node's one IKEv2 profile serves every local address".into(),
            )),
            _ => Err(RESTRICT.into()),
        },
        "identity" if l.kw(1) == "local" => put(&mut p.identity, identity(l, 2)?, l.no),
        "authentication" => match (l.len(), l.kw(1), l.kw(2)) {
            (3, "local" | "remote", "pre-share") => Ok(Done::Applied),
            (_, "local" | "remote", "pre-share") => Err(
                "a key here is not supported: put it in the keyring (pre-shared-key KEY)".into(),
            ),
            _ => Err("only pre-share authentication is supported (authentication local pre-share, authentication remote pre-share)".into()),
        },
        "keyring" => match (l.len(), l.kw(1)) {
            (3, "local") => put(&mut p.keyring, l.need(2, "keyring")?.to_owned(), l.no),
            (2, _) => put(&mut p.keyring, l.need(1, "keyring")?.to_owned(), l.no),
            _ => Err("expected keyring local NAME".into()),
        },
        "dpd" => {
            let (d, done) = dpd(l, 1)?;
            put(&mut p.dpd, d, l.no)?;
            Ok(done)
        }
        "lifetime" if l.len() == 2 => {
            put(&mut p.lifetime, number(l.need(1, "lifetime")?, "lifetime")?, l.no)
        }
        "nat" if l.len() == 3 && l.kw(1) == "keepalive" => put(
            &mut p.nat_keepalive,
            number(l.need(2, "keepalive")?, "keepalive")?,
            l.no,
        ),
        "description" => Ok(Done::Note("a description".into())),
        _ => Err("not supported in an IKEv2 profile (match identity remote, identity local, authentication, keyring, dpd, lifetime and nat keepalive are)".into()),
    }
}
