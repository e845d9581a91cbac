//! The `crypto isakmp …` lines (IKEv1): `crypto isakmp policy N` and its lines, `crypto
//! isakmp key`, `keepalive`, `nat keepalive`, `identity address`, `aggressive-mode
//! disable`, `no crypto isakmp default policy`, and this crate's `crypto isakmp
//! legacy-groups`; the drafts into an [`IsakmpConfig`], each refusal on the line that
//! configured it (or, for IOS's default of a line not given, on the policy's first line).

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::lex::Line;
use super::parser::{At, Done, number, put, with_mask};
use crate::config::Password;
use crate::crypto_config::{
    DpdMode, IsakmpAuthentication, IsakmpConfig, IsakmpEncryption, IsakmpHash, IsakmpKeepalive,
    IsakmpKey, IsakmpPolicy,
};

/// Why an unsupported `crypto isakmp` line is refused.
const NOT_SUPPORTED: &str = "this crypto isakmp setting is not supported (policy, key, keepalive, nat keepalive, identity address, aggressive-mode disable and legacy-groups are)";

/// `crypto isakmp policy N`.
pub(crate) struct PolicyDraft {
    pub priority: u16,
    pub header: usize,
    pub encryption: At<IsakmpEncryption>,
    pub hash: At<IsakmpHash>,
    pub authentication: At<IsakmpAuthentication>,
    pub group: At<u16>,
    pub lifetime: At<u32>,
    /// The lines refused, by field: IOS's default for such a field is no further problem.
    pub failed: Vec<(&'static str, usize)>,
}

/// `crypto isakmp key KEY address …`.
pub(crate) struct KeyDraft {
    pub address: IpNet,
    pub key: Password,
    pub line: usize,
}

/// Every `crypto isakmp` line read.
#[derive(Default)]
pub(crate) struct IsakmpDraft {
    pub policies: Vec<PolicyDraft>,
    pub keys: Vec<KeyDraft>,
    pub keepalive: At<IsakmpKeepalive>,
    pub nat_keepalive: At<u32>,
    pub legacy_groups: At<()>,
    /// A `crypto isakmp policy` / `key` line was refused: that there is none is no further
    /// problem.
    pub refused_policy: bool,
    pub refused_key: bool,
}

/// What [`IsakmpDraft::build`] made: the configuration, the problems and notes by line, and
/// the configuration paths with the lines that set them.
pub(crate) struct Built {
    pub config: IsakmpConfig,
    pub errors: Vec<(usize, String)>,
    pub notes: Vec<(usize, String)>,
    pub paths: Vec<(String, usize)>,
}

/// `A [MASK]` (IPv4; `0.0.0.0` alone is every peer, as in IOS, another address alone one
/// host) or `ipv6 P/LEN` from word `i` to the end of the line (a trailing `no-xauth` allowed:
/// the node never does XAUTH).
fn key_address(l: &Line, i: usize) -> Result<IpNet, String> {
    const EXPECTED: &str = "expected address A [MASK] or address ipv6 PREFIX/LENGTH";
    let end = if l.kw(l.len().saturating_sub(1)) == "no-xauth" {
        l.len() - 1
    } else {
        l.len()
    };
    let net: IpNet = if l.kw(i) == "ipv6" {
        if end != i + 2 {
            return Err(EXPECTED.into());
        }
        let w = l.need(i + 1, "IPv6 prefix")?;
        match w.parse::<Ipv6Net>() {
            Ok(n) => n.into(),
            Err(_) => w
                .parse::<std::net::Ipv6Addr>()
                .map(Ipv6Net::from)
                .map_err(|_| format!("{w:?} is not an IPv6 prefix (ADDRESS/LENGTH)"))?
                .into(),
        }
    } else {
        let a = l.need(i, "address")?;
        match end.checked_sub(i) {
            Some(1) => {
                let v4 = a
                    .parse::<std::net::Ipv4Addr>()
                    .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
                Ipv4Net::from(v4).into()
            }
            Some(2) => with_mask(a, l.need(i + 1, "mask")?)?.into(),
            _ => return Err(EXPECTED.into()),
        }
    };
    // `address 0.0.0.0` (no mask) and `address ipv6 ::/0`: the wildcard.
    Ok(if net.addr().is_unspecified() {
        IpNet::new(net.addr(), 0).unwrap_or(net)
    } else {
        net.trunc()
    })
}

impl IsakmpDraft {
    /// A global `crypto isakmp …` line: what it did and the policy it opens, if any.
    pub fn global(&mut self, l: &Line) -> Result<(Done, Option<usize>), String> {
        let r = self.global_line(l);
        if r.is_err() {
            self.refused_policy |= l.kw(2) == "policy";
            self.refused_key |= l.kw(2) == "key";
        }
        r
    }

    fn global_line(&mut self, l: &Line) -> Result<(Done, Option<usize>), String> {
        let applied = Ok((Done::Applied, None));
        match l.kw(2) {
            "policy" if l.len() == 4 => {
                let n: u16 = number(l.need(3, "priority")?, "priority")?;
                if !(1..=10_000).contains(&n) {
                    return Err(format!("priority {n} is outside 1..=10000"));
                }
                let i = match self.policies.iter().position(|p| p.priority == n) {
                    Some(i) => i,
                    None => {
                        self.policies.push(PolicyDraft {
                            priority: n,
                            header: l.no,
                            encryption: None,
                            hash: None,
                            authentication: None,
                            group: None,
                            lifetime: None,
                            failed: Vec::new(),
                        });
                        self.policies.len() - 1
                    }
                };
                Ok((Done::Applied, Some(i)))
            }
            "key" => self.key(l).map(|d| (d, None)),
            "keepalive" => {
                let k = keepalive(l)?;
                put(&mut self.keepalive, k, l.no).map(|d| (d, None))
            }
            "nat" if l.len() == 5 && l.kw(3) == "keepalive" => put(
                &mut self.nat_keepalive,
                number(l.need(4, "seconds")?, "keepalive")?,
                l.no,
            )
            .map(|d| (d, None)),
            "legacy-groups" if l.len() == 3 => {
                put(&mut self.legacy_groups, (), l.no).map(|d| (d, None))
            }
            "aggressive-mode" if l.exactly(3, &["disable"]) => Ok((
                Done::Note(
                    "the node never uses aggressive mode (Main Mode only): this is its default"
                        .into(),
                ),
                None,
            )),
            // The node's identity is its address, as this line says.
            "identity" if l.exactly(3, &["address"]) => applied,
            "identity" => Err(
                "only crypto isakmp identity address is supported: the node's IKEv1 identity is its address"
                    .into(),
            ),
            "profile" => Err(
                "ISAKMP profiles are not supported: the node uses the global crypto isakmp policies and keys"
                    .into(),
            ),
            "invalid-spi-recovery" => Err(
                "not supported: the node does not start an IKE SA to report an unknown SPI; remove the line"
                    .into(),
            ),
            _ => Err(NOT_SUPPORTED.into()),
        }
    }

    /// `no crypto isakmp …`.
    pub fn no_line(&mut self, l: &Line) -> Result<Done, String> {
        if l.exactly(3, &["default", "policy"]) {
            return Ok(Done::Note(
                "the node has no default ISAKMP policies: nothing to turn off".into(),
            ));
        }
        Err("turning this crypto isakmp setting off is not supported".into())
    }

    /// `crypto isakmp key [0] KEY address A [MASK] [no-xauth]` / `… address ipv6 P/LEN`.
    fn key(&mut self, l: &Line) -> Result<Done, String> {
        let mut i = 3;
        // A type word (`0`, or `6`/`7` for an encrypted key) unless it is the key itself.
        if matches!(l.kw(3), "0" | "6" | "7") && l.kw(4) != "address" && l.kw(4) != "hostname" {
            if l.kw(3) != "0" {
                return Err(
                    "an encrypted key cannot be read here: give it in clear (crypto isakmp key KEY address A MASK)"
                        .into(),
                );
            }
            i = 4;
        }
        let key = l.need(i, "key")?;
        match l.kw(i + 1) {
            "address" => {}
            "hostname" => {
                return Err(
                    "a key by host name is not supported: give the peer's address (crypto isakmp key KEY address A MASK)"
                        .into(),
                );
            }
            _ => return Err("expected crypto isakmp key KEY address A [MASK]".into()),
        }
        let address = key_address(l, i + 2)?;
        if let Some(old) = self.keys.iter().find(|k| k.address == address) {
            return Err(format!(
                "a key for {address} is already given on line {}",
                old.line
            ));
        }
        self.keys.push(KeyDraft {
            address,
            key: Password::new(key),
            line: l.no,
        });
        Ok(Done::Applied)
    }

    /// A line of `crypto isakmp policy` number `i` (an index).
    pub fn policy_line(&mut self, i: usize, l: &Line) -> Result<Done, String> {
        let p = self.policies.get_mut(i).ok_or("no such block")?;
        let r = policy_line(p, l);
        if r.is_err()
            && let Some(f) = ["encryption", "hash", "authentication", "group", "lifetime"]
                .into_iter()
                .find(|f| *f == l.kw(0))
        {
            p.failed.push((f, l.no));
        }
        r
    }

    /// The legacy groups are accepted (`crypto isakmp legacy-groups`).
    pub fn legacy(&self) -> bool {
        self.legacy_groups.is_some()
    }

    /// The configuration; `used`: a protected tunnel's IPsec profile negotiates IKEv1 (else
    /// the lines are notes, once they have no problem).
    pub fn build(&self, used: bool) -> Built {
        let mut b = Built {
            config: IsakmpConfig {
                legacy_groups: self.legacy(),
                keepalive: self.keepalive.map(|x| x.0),
                nat_keepalive_seconds: self.nat_keepalive.map(|x| x.0),
                ..IsakmpConfig::default()
            },
            errors: Vec::new(),
            notes: Vec::new(),
            paths: Vec::new(),
        };
        const UNUSED: &str = "not used: no protected tunnel's IPsec profile negotiates IKEv1 (each names an IKEv2 profile)";
        for (i, d) in self.policies.iter().enumerate() {
            let pp = format!("crypto.isakmp.policies[{i}]");
            b.paths.push((pp.clone(), d.header));
            let mut field = |name: &str, line: Option<usize>| {
                if let Some(l) = line {
                    b.paths.push((format!("{pp}.{name}"), l));
                }
            };
            field("encryption", d.encryption.map(|x| x.1));
            field("hash", d.hash.map(|x| x.1));
            field("authentication", d.authentication.map(|x| x.1));
            field("group", d.group.map(|x| x.1));
            field("lifetime_seconds", d.lifetime.map(|x| x.1));
            // A refused line stands for its field: validation's word on the default is
            // left to it.
            for (f, l) in &d.failed {
                field(f, Some(*l));
            }
            let dflt = IsakmpPolicy::new(d.priority);
            let policy = IsakmpPolicy {
                priority: d.priority,
                encryption: d.encryption.map_or(dflt.encryption, |x| x.0),
                hash: d.hash.map_or(dflt.hash, |x| x.0),
                authentication: d.authentication.map_or(dflt.authentication, |x| x.0),
                group: d.group.map_or(dflt.group, |x| x.0),
                lifetime_seconds: d.lifetime.map_or(dflt.lifetime_seconds, |x| x.0),
            };
            let problems = b.config.policy_problems(&policy);
            for (name, message) in &problems {
                let (line, default) = match *name {
                    "encryption" => (
                        d.encryption.map(|x| x.1),
                        format!("encryption {}", dflt.encryption),
                    ),
                    "hash" => (d.hash.map(|x| x.1), format!("hash {}", dflt.hash)),
                    "authentication" => (
                        d.authentication.map(|x| x.1),
                        format!("authentication {}", dflt.authentication),
                    ),
                    "group" => (d.group.map(|x| x.1), format!("group {}", dflt.group)),
                    _ => (d.lifetime.map(|x| x.1), String::new()),
                };
                b.errors.push(match line {
                    Some(l) => (l, message.clone()),
                    // Its line was refused, which says enough.
                    None if d.failed.iter().any(|(f, _)| f == name) => continue,
                    // IOS's default of a line not given: at the end of the policy, on its
                    // first line, saying which line to add.
                    None => (
                        d.header,
                        format!(
                            "no {} line: IOS's default is {default}, and {}",
                            name,
                            message.replacen(": use ", ": add ", 1)
                        ),
                    ),
                });
            }
            if !used && problems.is_empty() {
                b.notes.push((d.header, UNUSED.into()));
            }
            b.config.policies.push(policy);
        }
        for (j, k) in self.keys.iter().enumerate() {
            b.paths.push((format!("crypto.isakmp.keys[{j}]"), k.line));
            if !used {
                b.notes.push((k.line, UNUSED.into()));
            }
            b.config.keys.push(IsakmpKey {
                address: k.address,
                key: k.key.clone(),
            });
        }
        for (path, at) in [
            ("crypto.isakmp.keepalive", self.keepalive.map(|x| x.1)),
            (
                "crypto.isakmp.nat_keepalive_seconds",
                self.nat_keepalive.map(|x| x.1),
            ),
        ] {
            if let Some(l) = at {
                b.paths.push((path.into(), l));
                if !used {
                    b.notes.push((l, UNUSED.into()));
                }
            }
        }
        b
    }
}

/// `crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand]`.
fn keepalive(l: &Line) -> Result<IsakmpKeepalive, String> {
    const EXPECTED: &str = "expected crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand]";
    let interval = number(l.need(3, "seconds")?, "keepalive")?;
    let (retry, mode_at) = match l.word(4) {
        Some(w) if w.bytes().all(|b| b.is_ascii_digit()) => (number(w, "retry")?, 5),
        _ => (2, 4),
    };
    let mode = match l.kw(mode_at) {
        "" => DpdMode::OnDemand,
        "on-demand" => DpdMode::OnDemand,
        "periodic" => DpdMode::Periodic,
        _ => return Err(EXPECTED.into()),
    };
    if l.len() > mode_at + 1 {
        return Err(EXPECTED.into());
    }
    Ok(IsakmpKeepalive {
        interval,
        retry,
        mode,
    })
}

/// A line of an ISAKMP policy.
fn policy_line(p: &mut PolicyDraft, l: &Line) -> Result<Done, String> {
    match (l.kw(0), l.len()) {

            ("encryption", 2 | 3) => {
                let e = match (l.kw(1), l.kw(2)) {
                    ("des", "") => IsakmpEncryption::Des,
                    ("3des", "") => IsakmpEncryption::TripleDes,
                    ("aes", "" | "128") => IsakmpEncryption::Aes128,
                    ("aes", "192") => IsakmpEncryption::Aes192,
                    ("aes", "256") => IsakmpEncryption::Aes256,
                    ("aes", _) => return Err("AES keys are 128, 192 or 256 bits".into()),
                    _ => return Err("expected encryption aes [128|192|256]".into()),
                };
                put(&mut p.encryption, e, l.no)
            }
            ("hash", 2) => {
                let h = match l.kw(1) {
                    "md5" => IsakmpHash::Md5,
                    "sha" => IsakmpHash::Sha1,
                    "sha256" => IsakmpHash::Sha256,
                    "sha384" => IsakmpHash::Sha384,
                    "sha512" => IsakmpHash::Sha512,
                    _ => return Err("expected hash sha, sha256, sha384 or sha512".into()),
                };
                put(&mut p.hash, h, l.no)
            }
            ("authentication", 2) => {
                let a = match l.kw(1) {
                    "pre-share" => IsakmpAuthentication::PreShare,
                    "rsa-sig" => IsakmpAuthentication::RsaSig,
                    "rsa-encr" => IsakmpAuthentication::RsaEncr,
                    _ => {
                        return Err(
                            "only pre-shared keys are supported: use authentication pre-share"
                                .into(),
                        );
                    }
                };
                put(&mut p.authentication, a, l.no)
            }
            ("group", 2) => put(&mut p.group, number(l.need(1, "group")?, "group")?, l.no),
            ("lifetime", 2) => put(
                &mut p.lifetime,
                number(l.need(1, "lifetime")?, "lifetime")?,
                l.no,
            ),
            _ => Err(
                "not supported in an ISAKMP policy (encryption, hash, authentication, group and lifetime are)"
                    .into(),
            ),
        }
}
