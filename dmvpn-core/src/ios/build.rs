//! The drafts of [`super::parser`] into a [`NodeConfig`]: tunnel sources resolved, networks
//! from the other interfaces, the one IKEv2 configuration from the IKEv2 profile in use, the
//! IKEv1 one from the `crypto isakmp` lines ([`super::isakmp`]), then
//! [`NodeConfig::validate`], its problems mapped back to the lines that configured them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::crypto::CryptoDraft;
use super::iface::{self, PhysDraft};
use super::parser::Parser;
use super::tunnel::{Mode, NhrpDraft, Source, TunnelDraft};
use super::{IosError, Note, Parsed, Problem, SourceInterface};
use crate::config::{
    CallAdmission, ConfigError, CryptoConfig, IkeVersion, Ikev2Config, IpsecMode, IpsecProfile,
    Ipv6Overlay, KeyringPeer, NhrpConfig, NodeConfig, TransformSet, TunnelConfig, TunnelMode,
};
use crate::crypto_config::{GroupLine, esp_proposal, group_refusal, ike_proposal};

/// IOS's host name when the text has none.
const DEFAULT_HOSTNAME: &str = "Router";

struct Builder<'a> {
    problems: Vec<Problem>,
    notes: Vec<Note>,
    texts: &'a BTreeMap<usize, String>,
    /// Configuration paths (`tunnels[0].nhrp.nhs[1]`) and the lines that set them.
    paths: Vec<(String, usize)>,
    sources: Vec<SourceInterface>,
    /// Canonical names of the interfaces that are tunnel sources.
    source_ifaces: Vec<String>,
    /// Tunnel interfaces left out for their problems.
    dropped_tunnels: bool,
    /// Transform sets refused on their own line.
    failed_sets: Vec<String>,
    /// A problem of the keyring in use was reported.
    keyring_problem: bool,
    /// A `crypto isakmp policy` line, a `crypto isakmp key` line was refused.
    isakmp_refused: (bool, bool),
}

impl Builder<'_> {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push(Problem {
            line: Some(line),
            text: self.texts.get(&line).cloned().unwrap_or_default(),
            message: message.into(),
        });
    }

    fn note(&mut self, line: usize, why: impl Into<String>) {
        self.notes.push(Note {
            line,
            text: self.texts.get(&line).cloned().unwrap_or_default(),
            why: why.into(),
        });
    }

    fn path(&mut self, path: String, line: usize) {
        self.paths.push((path, line));
    }

    /// The line that configured `path`: the longest registered path it begins with.
    fn line_of(&self, path: &str) -> Option<usize> {
        self.paths
            .iter()
            .filter(|(p, _)| {
                path.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .max_by_key(|(p, _)| p.len())
            .map(|(_, l)| *l)
    }
}

/// Assembles, validates and maps the problems back to lines.
pub(crate) fn build(p: Parser, resolve: &dyn Fn(&str) -> Vec<IpAddr>) -> Result<Parsed, IosError> {
    let mut b = Builder {
        problems: p.problems,
        notes: p.notes,
        texts: &p.texts,
        paths: Vec::new(),
        sources: Vec::new(),
        source_ifaces: Vec::new(),
        dropped_tunnels: false,
        failed_sets: Vec::new(),
        keyring_problem: false,
        isakmp_refused: (p.crypto.isakmp.refused_policy, p.crypto.isakmp.refused_key),
    };
    let mut tunnels = Vec::new();
    for t in &p.tunnels {
        let mark = b.paths.len();
        match b.tunnel(t, tunnels.len(), &p.phys, resolve) {
            Some(cfg) => tunnels.push(cfg),
            None => {
                b.paths.truncate(mark);
                b.dropped_tunnels = true;
            }
        }
    }
    let networks = b.networks(&p.phys, &tunnels);
    let crypto = b.crypto(&p.crypto, &tunnels);
    let config = NodeConfig {
        hostname: p
            .hostname
            .map_or_else(|| DEFAULT_HOSTNAME.to_owned(), |(h, _)| h),
        tunnels,
        networks,
        crypto,
    };
    if let Err(ConfigError(problems)) = config.validate() {
        for pr in problems {
            b.validation_problem(&config, &p.tunnels, pr.path, pr.message);
        }
    }
    let Builder {
        mut problems,
        mut notes,
        sources,
        ..
    } = b;
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        return Err(IosError { problems });
    }
    notes.sort_by_key(|n| n.line);
    Ok(Parsed {
        config,
        routes: p.routes,
        sources,
        notes,
    })
}

impl Builder<'_> {
    fn validation_problem(
        &mut self,
        config: &NodeConfig,
        drafts: &[TunnelDraft],
        path: String,
        mut message: String,
    ) {
        if path == "tunnels" && self.dropped_tunnels {
            return;
        }
        if self
            .failed_sets
            .iter()
            .any(|s| message.starts_with(&format!("transform set {s:?}: ")))
        {
            return;
        }
        if self.keyring_problem && message.starts_with("tunnel protection needs pre-shared keys") {
            return;
        }
        // A refused `crypto isakmp policy` or `key` line says why there is none.
        if (self.isakmp_refused.0 && message.contains("negotiates IKEv1, which needs a phase 1"))
            || (self.isakmp_refused.1
                && message.contains("negotiates IKEv1, which needs pre-shared"))
        {
            return;
        }
        let line = self.line_of(&path);
        if let Some(l) = line
            && self.problems.iter().any(|p| p.line == Some(l))
        {
            // That line's own problem says it first.
            return;
        }
        // `tunnels[1]` in the message: the interface by name and line.
        for (j, t) in config.tunnels.iter().enumerate().rev() {
            if let Some(d) = drafts.iter().find(|d| d.name == t.name) {
                message = message.replace(
                    &format!("tunnels[{j}].ipv6"),
                    &format!("the IPv6 overlay of {} (line {})", t.name, d.header),
                );
                message = message.replace(
                    &format!("tunnels[{j}]"),
                    &format!("{} (line {})", t.name, d.header),
                );
            }
        }
        self.problems.push(Problem {
            line,
            text: line
                .and_then(|l| self.texts.get(&l).cloned())
                .unwrap_or_default(),
            message,
        });
    }

    /// One tunnel interface; `None` (its problems reported) when it cannot be built.
    fn tunnel(
        &mut self,
        t: &TunnelDraft,
        index: usize,
        phys: &[PhysDraft],
        resolve: &dyn Fn(&str) -> Vec<IpAddr>,
    ) -> Option<TunnelConfig> {
        let p = format!("tunnels[{index}]");
        let mut ok = true;
        self.path(p.clone(), t.header);
        // The overlay: IPv4, IPv6 alone (`ipv6 address` and `ipv6 nhrp`), or both.
        let (address, addr_line, nd, v6_only) = match (&t.v4, &t.v6) {
            (Some((n, l)), None) => {
                if let Some(f) = t.nhrp6.first {
                    self.error(f, "ipv6 nhrp needs ipv6 address on the interface");
                    ok = false;
                }
                (IpNet::V4(*n), *l, &t.nhrp4, false)
            }
            (None, Some((n, l))) => {
                if let Some(f) = t.nhrp4.first {
                    self.error(f, "ip nhrp on an IPv6-only tunnel interface: use ipv6 nhrp");
                    ok = false;
                }
                (IpNet::V6(*n), *l, &t.nhrp6, true)
            }
            // Dual stack: the IPv6 overlay beside the IPv4 one, with its own NHRP.
            (Some((n, l)), Some(_)) => (IpNet::V4(*n), *l, &t.nhrp4, false),
            (None, None) => {
                self.error(
                    t.header,
                    "a tunnel interface needs ip address ADDRESS MASK (or ipv6 address PREFIX/LENGTH)",
                );
                return None;
            }
        };
        self.path(format!("{p}.address"), addr_line);
        let mode = self.mode(t, &p, &mut ok);
        let want_v6 = t.mode.is_some_and(|(m, _)| m.ipv6);
        let source = match &t.source {
            None => {
                self.error(
                    t.header,
                    "a tunnel interface needs tunnel source ADDRESS or INTERFACE",
                );
                return None;
            }
            Some((Source::Addr(a), l)) => {
                if a.is_ipv6() != want_v6 {
                    self.error(*l, family_hint(*a));
                    ok = false;
                }
                self.path(format!("{p}.source"), *l);
                *a
            }
            Some((Source::Iface(name), l)) => match source_address(name, want_v6, phys, resolve) {
                Ok((a, from_text)) => {
                    self.path(format!("{p}.source"), *l);
                    self.source_ifaces.push(iface::canon(name));
                    self.sources.push(SourceInterface {
                        tunnel: t.name.clone(),
                        interface: name.clone(),
                        line: *l,
                        address: a,
                        from_text,
                    });
                    a
                }
                Err(e) => {
                    self.error(*l, e);
                    return None;
                }
            },
        };
        let ip = if v6_only { "ipv6" } else { "ip" };
        if nd.network_id.is_none() {
            self.error(
                t.header,
                format!("no {ip} nhrp network-id N: the node runs NHRP on every tunnel interface"),
            );
            ok = false;
        }
        let nhrp = self.nhrp(nd, &format!("{p}.nhrp"), t.header);
        let ipv6 = match (&t.v4, &t.v6) {
            (Some(_), Some((n6, l6))) => {
                let vp = format!("{p}.ipv6");
                self.path(vp.clone(), *l6);
                self.path(format!("{vp}.address"), *l6);
                if let Some((_, l)) = t.v6_mtu {
                    self.path(format!("{vp}.mtu"), l);
                }
                if t.nhrp6.network_id.is_none() {
                    self.error(
                        t.header,
                        "no ipv6 nhrp network-id N: the IPv6 overlay of a dual-stack interface runs its own NHRP",
                    );
                    ok = false;
                }
                Some(Ipv6Overlay {
                    address: IpNet::V6(*n6),
                    mtu: t.v6_mtu.map(|(m, _)| m),
                    nhrp: self.nhrp(&t.nhrp6, &format!("{vp}.nhrp"), *l6),
                })
            }
            _ => None,
        };
        let (mtu, other_mtu) = match (v6_only, &ipv6) {
            (true, _) => (t.v6_mtu, t.mtu),
            (false, Some(_)) => (t.mtu, None),
            (false, None) => (t.mtu, t.v6_mtu),
        };
        if let Some((_, l)) = other_mtu {
            self.note(
                l,
                "the MTU of an overlay family this interface does not have",
            );
        }
        if let Some((_, l)) = mtu {
            self.path(format!("{p}.mtu"), l);
        }
        if let Some((_, l)) = t.key {
            self.path(format!("{p}.key"), l);
        }
        if let Some((_, l)) = t.protection {
            self.path(format!("{p}.protection"), l);
        }
        let mut cfg = TunnelConfig {
            name: t.name.clone(),
            address,
            source,
            mode,
            key: t.key.map(|(k, _)| k),
            mtu: mtu.map_or(1400, |(m, _)| m),
            underlay_mtu: 1500,
            adjust_mss: None,
            verify_unicast_source: t.verify_source.is_some(),
            nhrp,
            protection: t.protection.as_ref().map(|(p, _)| p.clone()),
            ipv6,
        };
        ok &= self.mtu_support(t, &p, &mut cfg, phys);
        ok.then_some(cfg)
    }

    /// `ip tcp adjust-mss` / `ipv6 tcp adjust-mss` (one MSS for both families in the node),
    /// and the `mtu` of the source interface as the underlay MTU.
    fn mtu_support(
        &mut self,
        t: &TunnelDraft,
        p: &str,
        cfg: &mut TunnelConfig,
        phys: &[PhysDraft],
    ) -> bool {
        let mut ok = true;
        if let (Some((a, la)), Some((b, lb))) = (t.adjust_mss, t.v6_adjust_mss)
            && a != b
        {
            self.error(
                lb,
                format!(
                    "differs from ip tcp adjust-mss {a} (line {la}): the node clamps both families to one MSS"
                ),
            );
            ok = false;
        }
        if let Some((m, l)) = t.adjust_mss.or(t.v6_adjust_mss) {
            self.path(format!("{p}.adjust_mss"), l);
            cfg.adjust_mss = Some(m);
        }
        let source_iface = phys.iter().find(|ph| match &t.source {
            Some((Source::Iface(name), _)) => ph.canon == iface::canon(name),
            Some((Source::Addr(a), _)) => {
                ph.v4.iter().any(|(n, _)| IpAddr::V4(n.addr()) == *a)
                    || ph.v6.iter().any(|(n, _)| IpAddr::V6(n.addr()) == *a)
            }
            None => false,
        });
        if let Some((m, l)) = source_iface.and_then(|ph| ph.mtu) {
            self.path(format!("{p}.underlay_mtu"), l);
            cfg.underlay_mtu = m;
        }
        ok
    }

    fn mode(&mut self, t: &TunnelDraft, p: &str, ok: &mut bool) -> TunnelMode {
        // IOS's default mode is point-to-point GRE over IPv4 (`tunnel mode gre ip`).
        let (m, mode_line) = t.mode.map_or(
            (
                Mode {
                    multipoint: false,
                    ipv6: false,
                },
                None,
            ),
            |(m, l)| (m, Some(l)),
        );
        self.path(
            format!("{p}.mode"),
            mode_line.or(t.destination.map(|d| d.1)).unwrap_or(t.header),
        );
        if let Some((d, l)) = t.destination
            && d.is_ipv6() != m.ipv6
        {
            self.error(l, family_hint(d));
            *ok = false;
        }
        if m.multipoint {
            if let Some((_, l)) = t.destination {
                self.error(
                    l,
                    "tunnel destination and tunnel mode gre multipoint exclude each other: a multipoint interface finds its peers by NHRP",
                );
                *ok = false;
            }
            return TunnelMode::Multipoint;
        }
        match t.destination {
            Some((destination, _)) => TunnelMode::PointToPoint { destination },
            None => {
                self.error(
                    mode_line.unwrap_or(t.header),
                    if mode_line.is_some() {
                        "point-to-point GRE needs tunnel destination ADDRESS"
                    } else {
                        "no tunnel mode and no tunnel destination: IOS's default mode (gre ip) needs tunnel destination; for DMVPN add tunnel mode gre multipoint"
                    },
                );
                *ok = false;
                TunnelMode::Multipoint
            }
        }
    }

    fn nhrp(&mut self, n: &NhrpDraft, np: &str, header: usize) -> NhrpConfig {
        let mut c = NhrpConfig::new(n.network_id.map_or(0, |(v, _)| v));
        self.path(np.to_owned(), n.first.unwrap_or(header));
        let one = |b: &mut Self, field: &str, line: Option<usize>| {
            if let Some(l) = line {
                b.path(format!("{np}.{field}"), l);
            }
        };
        one(self, "network_id", n.network_id.as_ref().map(|x| x.1));
        one(
            self,
            "authentication",
            n.authentication.as_ref().map(|x| x.1),
        );
        one(self, "holdtime", n.holdtime.map(|x| x.1));
        one(self, "redirect", n.redirect.map(|x| x.1));
        one(self, "shortcut", n.shortcut.map(|x| x.1));
        one(self, "max_send", n.max_send.map(|x| x.1));
        one(
            self,
            "registration_timeout",
            n.registration_timeout.map(|x| x.1),
        );
        c.authentication = n.authentication.as_ref().map(|(p, _)| p.clone());
        if let Some((h, _)) = n.holdtime {
            c.holdtime = h;
        }
        c.redirect = n.redirect.is_some();
        c.shortcut = n.shortcut.is_some();
        c.map_multicast_dynamic = n.multicast_dynamic.is_some();
        if let Some((m, _)) = n.max_send {
            c.max_send = m;
        }
        c.registration_timeout = n.registration_timeout.map(|(r, _)| r);
        for (k, (m, l)) in n.maps.iter().enumerate() {
            self.path(format!("{np}.maps[{k}]"), *l);
            c.maps.push(*m);
        }
        for (k, h) in n.nhs.iter().enumerate() {
            self.path(format!("{np}.nhs[{k}]"), h.line);
            c.nhs.push(h.nhs);
        }
        for (k, (net, l)) in n.registration_prefixes.iter().enumerate() {
            self.path(format!("{np}.registration_prefixes[{k}]"), *l);
            c.registration_prefixes.push(*net);
        }
        // `map multicast N` lines and `nhs … multicast`, in the order of the text.
        let mut multicast: Vec<(IpAddr, usize)> = n.multicast.clone();
        multicast.extend(
            n.nhs
                .iter()
                .filter(|h| h.multicast)
                .filter_map(|h| c.nhs_nbma(&h.nhs).map(|a| (a, h.line))),
        );
        multicast.sort_by_key(|m| m.1);
        for (a, l) in multicast {
            if !c.map_multicast.contains(&a) {
                self.path(format!("{np}.map_multicast[{}]", c.map_multicast.len()), l);
                c.map_multicast.push(a);
            }
        }
        c
    }

    /// The networks behind the node: every static address of an interface that is no
    /// tunnel's source.
    fn networks(&mut self, phys: &[PhysDraft], tunnels: &[TunnelConfig]) -> Vec<IpNet> {
        let mut out: Vec<IpNet> = Vec::new();
        for ph in phys {
            let addrs: Vec<(IpNet, usize)> = ph
                .v4
                .iter()
                .map(|(n, l)| (IpNet::V4(*n), *l))
                .chain(ph.v6.iter().map(|(n, l)| (IpNet::V6(*n), *l)))
                .collect();
            let is_source = self.source_ifaces.contains(&ph.canon)
                || addrs
                    .iter()
                    .any(|(n, _)| tunnels.iter().any(|t| t.source == n.addr()));
            if is_source {
                continue;
            }
            for (net, l) in &addrs {
                let net = net.trunc();
                if !out.contains(&net) {
                    self.path(format!("networks[{}]", out.len()), *l);
                    out.push(net);
                }
            }
            for l in &ph.dynamic {
                self.note(
                    *l,
                    "an address from the system (DHCP, PPP): unknown here, so not one of the node's networks",
                );
            }
            if let Some((_, l)) = ph.mtu {
                self.note(
                    l,
                    "the MTU of an interface that is no tunnel source: the system's",
                );
            }
            if addrs.is_empty() && ph.dynamic.is_empty() {
                self.note(
                    ph.header,
                    "no static address: neither a tunnel source nor a network of the node",
                );
            }
        }
        out
    }

    fn crypto(&mut self, c: &CryptoDraft, tunnels: &[TunnelConfig]) -> CryptoConfig {
        let mut out = CryptoConfig::default();
        for (i, t) in c.transform_sets.iter().enumerate() {
            self.path(format!("crypto.transform_sets[{i}]"), t.header);
            if t.failed {
                self.failed_sets.push(t.name.clone());
            }
            out.transform_sets.push(TransformSet {
                name: t.name.clone(),
                transforms: t.transforms.clone(),
                mode: match t.tunnel_mode {
                    Some((true, _)) => IpsecMode::Tunnel,
                    _ => IpsecMode::Transport,
                },
            });
        }
        for (i, p) in c.profiles.iter().enumerate() {
            let pp = format!("crypto.ipsec_profiles[{i}]");
            self.path(
                pp.clone(),
                p.transform_sets.as_ref().map_or(p.header, |x| x.1),
            );
            let seconds = p.seconds.or(c.sa_seconds);
            let kilobytes = p.kilobytes.or(c.sa_kilobytes);
            if let Some((_, l)) = seconds {
                self.path(format!("{pp}.lifetime_seconds"), l);
            }
            if let Some((_, l)) = kilobytes {
                self.path(format!("{pp}.lifetime_kilobytes"), l);
            }
            // IOS negotiates IKEv1 for a profile without `set ikev2-profile`.
            let ike = match p.ikev2_profile {
                Some(_) => IkeVersion::Ikev2,
                None => IkeVersion::Ikev1,
            };
            if let Some((g, l)) = p.pfs {
                self.path(format!("{pp}.pfs"), l);
                let refused = match ike {
                    IkeVersion::Ikev2 => esp_proposal("aes256gcm16", Some(g)).err(),
                    IkeVersion::Ikev1 => group_refusal(g, c.isakmp.legacy(), GroupLine::Pfs),
                };
                if let Some(e) = refused {
                    self.error(
                        l,
                        if p.pfs_implicit {
                            format!("set pfs without a group is group 1: {e}")
                        } else {
                            e
                        },
                    );
                }
            }
            out.ipsec_profiles.push(IpsecProfile {
                name: p.name.clone(),
                transform_sets: p
                    .transform_sets
                    .as_ref()
                    .map_or_else(Vec::new, |x| x.0.clone()),
                lifetime_seconds: seconds.map(|x| x.0),
                lifetime_kilobytes: kilobytes.map(|x| x.0),
                pfs: p.pfs.map(|x| x.0),
                ike,
            });
        }
        let chosen = self.ike_profile(c, tunnels);
        out.ikev2 = self.ikev2(c, chosen);
        let ikev1_used = tunnels.iter().any(|t| {
            t.protection.as_ref().is_some_and(|prot| {
                out.profile(&prot.profile)
                    .is_some_and(|p| p.ike_version() == IkeVersion::Ikev1)
            })
        });
        let isakmp = c.isakmp.build(ikev1_used);
        for (path, l) in isakmp.paths {
            self.path(path, l);
        }
        for (l, e) in isakmp.errors {
            self.error(l, e);
        }
        for (l, n) in isakmp.notes {
            self.note(l, n);
        }
        out.isakmp = isakmp.config;
        out.call_admission = CallAdmission {
            max_sa: c.max_sa.map(|x| x.0),
            max_in_negotiation: c.max_in_negotiation.map(|x| x.0),
        };
        out
    }

    /// The IKEv2 profile the protected tunnels' IPsec profiles name (one per node).
    fn ike_profile(&mut self, c: &CryptoDraft, tunnels: &[TunnelConfig]) -> Option<usize> {
        let mut chosen: Option<(usize, usize)> = None;
        let mut seen = Vec::new();
        let before = self.problems.len();
        for t in tunnels {
            let Some(prot) = &t.protection else { continue };
            let Some(pi) = c.profiles.iter().position(|p| p.name == prot.profile) else {
                continue; // validation says so, at `tunnel protection`
            };
            if seen.contains(&pi) {
                continue;
            }
            seen.push(pi);
            let Some(pd) = c.profiles.get(pi) else {
                continue;
            };
            match &pd.ikev2_profile {
                // IKEv1, with the `crypto isakmp` settings (validation checks there are some).
                None => {}
                Some((name, line)) => match c.ike_profiles.iter().position(|x| &x.name == name) {
                    None => self.error(*line, format!("no crypto ikev2 profile {name}")),
                    Some(k) => match chosen {
                        None => chosen = Some((k, *line)),
                        Some((k0, l0)) if k0 != k => self.error(
                            *line,
                            format!(
                                "the node has one IKEv2 configuration: every protected tunnel's IPsec profile names the same IKEv2 profile (line {l0} names {})",
                                c.ike_profiles.get(k0).map_or("", |x| x.name.as_str())
                            ),
                        ),
                        Some(_) => {}
                    },
                },
            }
        }
        // Without the IKEv2 profile there is no keyring: validation would say so again.
        self.keyring_problem |= self.problems.len() > before;
        for (k, ip) in c.ike_profiles.iter().enumerate() {
            if chosen.is_none_or(|(c, _)| c != k) {
                self.note(
                    ip.header,
                    "not used: no protected tunnel's IPsec profile names it (set ikev2-profile)",
                );
            }
        }
        chosen.map(|(k, _)| k)
    }

    fn ikev2(&mut self, c: &CryptoDraft, chosen: Option<usize>) -> Ikev2Config {
        let mut ike = Ikev2Config::default();
        let prof = chosen.and_then(|k| c.ike_profiles.get(k));
        if let Some(p) = prof
            && let (Some(_), Some((_, gl))) = (p.dpd, c.dpd)
        {
            self.note(gl, "overridden by the dpd of the IKEv2 profile in use");
        }
        if let Some(p) = prof
            && let (Some(_), Some((_, gl))) = (p.nat_keepalive, c.nat_keepalive)
        {
            self.note(
                gl,
                "overridden by the nat keepalive of the IKEv2 profile in use",
            );
        }
        if let Some((d, l)) = prof.and_then(|p| p.dpd).or(c.dpd) {
            self.path("crypto.ikev2.dpd".into(), l);
            ike.dpd = Some(d);
        }
        if let Some((n, l)) = prof.and_then(|p| p.nat_keepalive).or(c.nat_keepalive) {
            self.path("crypto.ikev2.nat_keepalive_seconds".into(), l);
            ike.nat_keepalive_seconds = n;
        }
        if let Some((n, l)) = prof.and_then(|p| p.lifetime) {
            self.path("crypto.ikev2.lifetime_seconds".into(), l);
            ike.lifetime_seconds = n;
        }
        ike.local_identity = prof.and_then(|p| p.identity.clone()).map(|x| x.0);
        let ring = match prof {
            None => None,
            Some(p) => match &p.keyring {
                None => {
                    self.error(
                        p.header,
                        "an IKEv2 profile needs keyring local NAME (the pre-shared keys)",
                    );
                    self.keyring_problem = true;
                    None
                }
                Some((name, l)) => match c.keyrings.iter().position(|k| &k.name == name) {
                    None => {
                        self.error(*l, format!("no crypto ikev2 keyring {name}"));
                        self.keyring_problem = true;
                        None
                    }
                    Some(i) => Some(i),
                },
            },
        };
        for (i, k) in c.keyrings.iter().enumerate() {
            if ring != Some(i) {
                self.note(
                    k.header,
                    "not used: the IKEv2 profile in use names another keyring",
                );
            }
        }
        for peer in ring
            .and_then(|i| c.keyrings.get(i))
            .map_or(&[][..], |k| &k.peers)
        {
            let key = match (&peer.psk, &peer.local, &peer.remote) {
                (Some((k, l)), None, None) => Some((k.clone(), *l)),
                (None, Some((a, _)), Some((b, l))) if a == b => Some((a.clone(), *l)),
                (None, Some(_), Some((_, l))) => {
                    self.error(
                        *l,
                        "different local and remote keys are not supported: use one pre-shared-key KEY",
                    );
                    None
                }
                (None, None, None) => {
                    if !peer.key_failed {
                        self.error(
                            peer.line,
                            format!("peer {} has no pre-shared-key", peer.name),
                        );
                    }
                    None
                }
                (_, Some((_, l)), _) | (_, _, Some((_, l))) => {
                    self.error(
                        *l,
                        "give pre-shared-key KEY, or local and remote with the same key",
                    );
                    None
                }
            };
            let Some((pre_shared_key, kl)) = key else {
                self.keyring_problem = true;
                continue;
            };
            let kp = format!("crypto.ikev2.keyring[{}]", ike.keyring.len());
            self.path(kp.clone(), peer.line);
            self.path(format!("{kp}.pre_shared_key"), kl);
            ike.keyring.push(KeyringPeer {
                name: peer.name.clone(),
                address: peer.address.map(|x| x.0),
                identity: peer.identity.clone().map(|x| x.0),
                pre_shared_key,
            });
        }
        self.proposals(c, &mut ike);
        ike
    }

    /// The proposals the policies name, in order (IOS offers no other).
    fn proposals(&mut self, c: &CryptoDraft, ike: &mut Ikev2Config) {
        let mut used = vec![false; c.proposals.len()];
        let mut reported = vec![false; c.proposals.len()];
        for pol in &c.policies {
            if pol.proposals.is_empty() {
                self.error(pol.header, "a policy needs proposal NAME");
            }
            for (name, line) in &pol.proposals {
                let Some(j) = c.proposals.iter().position(|p| &p.name == name) else {
                    self.error(*line, format!("no crypto ikev2 proposal {name}"));
                    continue;
                };
                let (Some(prop), Some(u), Some(r)) =
                    (c.proposals.get(j), used.get_mut(j), reported.get_mut(j))
                else {
                    continue;
                };
                *u = true;
                if prop.failed || *r {
                    continue;
                }
                let text = prop
                    .parts
                    .iter()
                    .map(|(s, _)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                if let Err(e) = ike_proposal(&text) {
                    *r = true;
                    let e = if text.is_empty() {
                        "an empty proposal: give encryption, integrity or prf, and group".into()
                    } else {
                        e
                    };
                    self.error(prop.header, e);
                } else if !ike.proposals.contains(&text) {
                    self.path(
                        format!("crypto.ikev2.proposals[{}]", ike.proposals.len()),
                        *line,
                    );
                    ike.proposals.push(text);
                }
            }
        }
        for (p, u) in c.proposals.iter().zip(used) {
            if !u {
                self.note(
                    p.header,
                    "not used: no crypto ikev2 policy names it (IOS offers only the proposals of its policies, else its defaults)",
                );
            }
        }
    }
}

/// What to change when an address's family does not match the tunnel mode.
fn family_hint(a: IpAddr) -> String {
    if a.is_ipv6() {
        format!("{a} is IPv6: an IPv6 underlay needs tunnel mode gre multipoint ipv6 (or gre ipv6)")
    } else {
        format!("{a} is IPv4, and tunnel mode says the underlay is IPv6")
    }
}

/// The address of interface `name`: its static address in the text, else the system's first
/// of the tunnel's family (`v6`) that is not link-local.
fn source_address(
    name: &str,
    v6: bool,
    phys: &[PhysDraft],
    resolve: &dyn Fn(&str) -> Vec<IpAddr>,
) -> Result<(IpAddr, bool), String> {
    let canon = iface::canon(name);
    let ph = phys.iter().find(|p| p.canon == canon);
    let from_text = ph.and_then(|p| {
        if v6 {
            p.v6.first().map(|(n, _)| IpAddr::V6(n.addr()))
        } else {
            p.v4.first().map(|(n, _)| IpAddr::V4(n.addr()))
        }
    });
    if let Some(a) = from_text {
        return Ok((a, true));
    }
    let family = if v6 { "IPv6" } else { "IPv4" };
    let link_local = |a: &IpAddr| matches!(a, IpAddr::V6(v) if v.is_unicast_link_local());
    let system = resolve(name);
    let mut same = system.iter().filter(|a| a.is_ipv6() == v6);
    if let Some(a) = same.clone().find(|a| !link_local(a)) {
        return Ok((*a, false));
    }
    if let Some(a) = same.next() {
        return Err(format!(
            "the system has only the link-local {a} on {name}, and a tunnel source needs a \
             global IPv6 address (a link-local one has no meaning beyond the link)"
        ));
    }
    if !system.is_empty() {
        let gives: Vec<String> = system.iter().map(IpAddr::to_string).collect();
        return Err(format!(
            "the system gives {} for {name}, and the tunnel needs an {family} source",
            gives.join(", ")
        ));
    }
    Err(match ph {
        Some(p) if !p.dynamic.is_empty() => {
            format!(
                "{name} gets its address from the system (DHCP, PPP), which has none for it yet"
            )
        }
        Some(_) => {
            format!("{name} has no static {family} address here and the system has none for it")
        }
        None => format!("no interface {name} here and the system has no address for it"),
    })
}
