//! [`NodeConfig::validate`]: every problem of a configuration at once, each with the path of
//! its field. The checks of one overlay (`ip address`, `ip mtu`, `ip nhrp …`) run for a
//! tunnel's primary overlay and again for its second, IPv6, overlay ([`TunnelConfig::ipv6`],
//! under `tunnels[i].ipv6`).

use ipnet::IpNet;

use super::{ADJUST_MSS_RANGE, ConfigError, ConfigProblem, NodeConfig, TunnelConfig, TunnelMode};

type Report<'a> = dyn FnMut(String, String) + 'a;

impl NodeConfig {
    /// Checks the whole configuration and reports every problem found, not just the first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut report =
            |path: String, message: String| problems.push(ConfigProblem { path, message });
        if self.tunnels.is_empty() {
            report(
                "tunnels".into(),
                "a node needs at least one tunnel interface".into(),
            );
        }
        for (i, t) in self.tunnels.iter().enumerate() {
            let p = format!("tunnels[{i}]");
            check_interface(&p, i, t, &self.tunnels, &mut report);
            check_overlay(&p, t, true, &mut report);
            if let Some(v6) = &t.ipv6 {
                let vp = format!("{p}.ipv6");
                if t.address.addr().is_ipv6() {
                    report(
                        format!("{p}.address"),
                        format!(
                            "{} is IPv6: a dual-stack interface has its IPv4 overlay in `address` and its IPv6 one in `ipv6`",
                            t.address
                        ),
                    );
                }
                if v6.address.addr().is_ipv4() {
                    report(
                        format!("{vp}.address"),
                        format!("{} is not an IPv6 address", v6.address),
                    );
                }
                if let Some(half) = t.ipv6_overlay() {
                    check_overlay(&vp, &half, false, &mut report);
                }
            }
        }
        check_overlaps(&self.tunnels, &mut report);
        self.crypto.validate(&self.tunnels, &mut |path, message| {
            problems.push(ConfigProblem { path, message })
        });
        let overlays: Vec<(usize, IpNet)> = self
            .tunnels
            .iter()
            .enumerate()
            .flat_map(|(j, t)| {
                std::iter::once((j, t.address)).chain(t.ipv6.as_ref().map(|v| (j, v.address)))
            })
            .collect();
        for (i, net) in self.networks.iter().enumerate() {
            for (j, a) in &overlays {
                if net.contains(&a.addr()) || a.contains(&net.addr()) {
                    problems.push(ConfigProblem {
                        path: format!("networks[{i}]"),
                        message: format!("{net} overlaps the subnet of tunnels[{j}] ({a})"),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems))
        }
    }
}

/// What belongs to the interface `tunnels[i]` (at path `p`) itself: its name, source,
/// destination and key, and its primary overlay's network-id and subnet against the
/// interfaces before it.
fn check_interface(
    p: &str,
    i: usize,
    t: &TunnelConfig,
    tunnels: &[TunnelConfig],
    report: &mut Report<'_>,
) {
    if t.name.is_empty() {
        report(format!("{p}.name"), "empty interface name".into());
    }
    if let Some((j, _)) = tunnels
        .iter()
        .enumerate()
        .find(|(j, o)| *j < i && o.name == t.name)
    {
        report(
            format!("{p}.name"),
            format!("duplicate interface name {:?} (also tunnels[{j}])", t.name),
        );
    }
    for (j, o) in tunnels.iter().enumerate().filter(|(j, _)| *j < i) {
        if o.source == t.source
            && o.key == t.key
            && o.mode == TunnelMode::Multipoint
            && t.mode == TunnelMode::Multipoint
        {
            report(
                format!("{p}.key"),
                format!(
                    "same tunnel source and key as tunnels[{j}]: two mGRE clouds on one source need different tunnel keys"
                ),
            );
        }
        if o.nhrp.network_id == t.nhrp.network_id {
            report(
                format!("{p}.nhrp.network_id"),
                format!("network-id {} also used by tunnels[{j}]", t.nhrp.network_id),
            );
        }
        if o.address.contains(&t.address.addr()) || t.address.contains(&o.address.addr()) {
            report(
                format!("{p}.address"),
                format!("{} overlaps tunnels[{j}] ({})", t.address, o.address),
            );
        }
    }
    if let TunnelMode::PointToPoint { destination } = t.mode
        && destination.is_ipv4() != t.source.is_ipv4()
    {
        report(
            format!("{p}.mode"),
            format!(
                "tunnel destination {destination} and source {} differ in family",
                t.source
            ),
        );
    }
    if t.source.is_unspecified() || t.source.is_multicast() {
        report(
            format!("{p}.source"),
            format!("{} is not a usable tunnel source", t.source),
        );
    }
}

/// The network-id and subnet of a second (IPv6) overlay against every other interface's
/// overlays of its family (the two overlays of one dual-stack interface may share their
/// network-id, as `ip nhrp network-id` and `ipv6 nhrp network-id` may).
fn check_overlaps(tunnels: &[TunnelConfig], report: &mut Report<'_>) {
    for (i, t) in tunnels.iter().enumerate() {
        let p = format!("tunnels[{i}]");
        let Some(v6) = &t.ipv6 else {
            continue;
        };
        for (j, o) in tunnels.iter().enumerate().filter(|(j, _)| *j != i) {
            let others = std::iter::once((o.address, o.nhrp.network_id, "", j < i)).chain(
                o.ipv6
                    .as_ref()
                    .map(|w| (w.address, w.nhrp.network_id, ".ipv6", j < i)),
            );
            for (net, id, which, before) in others.filter(|(n, ..)| n.addr().is_ipv6()) {
                // A pair of second overlays is reported once, at the later one.
                if which == ".ipv6" && !before {
                    continue;
                }
                if id == v6.nhrp.network_id {
                    report(
                        format!("{p}.ipv6.nhrp.network_id"),
                        format!("network-id {id} also used by tunnels[{j}]{which}"),
                    );
                }
                if net.contains(&v6.address.addr()) || v6.address.contains(&net.addr()) {
                    report(
                        format!("{p}.ipv6.address"),
                        format!("{} overlaps tunnels[{j}]{which} ({net})", v6.address),
                    );
                }
            }
        }
    }
}

/// One overlay of an interface at path `p` (the interface's own, `primary`, or its IPv6 one):
/// its MTU (and, once, for the primary, the interface's underlay MTU and `adjust-mss`, which
/// both overlays share) and its `nhrp` settings against its subnet and the tunnel source's
/// family.
fn check_overlay(p: &str, t: &TunnelConfig, primary: bool, report: &mut Report<'_>) {
    let min_mtu = if t.address.addr().is_ipv6() {
        1280
    } else {
        576
    };
    if t.mtu < min_mtu {
        report(
            format!("{p}.mtu"),
            format!(
                "{} is below the minimum {min_mtu} for the overlay family",
                t.mtu
            ),
        );
    }
    if primary {
        let min_underlay = if t.source.is_ipv6() { 1280 } else { 576 };
        if t.underlay_mtu < min_underlay {
            report(
                format!("{p}.underlay_mtu"),
                format!(
                    "{} is below the minimum {min_underlay} for the tunnel source's family",
                    t.underlay_mtu
                ),
            );
        }
        if let Some(mss) = t.adjust_mss
            && !ADJUST_MSS_RANGE.contains(&mss)
        {
            report(
                format!("{p}.adjust_mss"),
                format!(
                    "{mss} is outside {}..={}",
                    ADJUST_MSS_RANGE.start(),
                    ADJUST_MSS_RANGE.end()
                ),
            );
        }
    }
    let n = &t.nhrp;
    let np = format!("{p}.nhrp");
    if n.network_id == 0 {
        report(
            format!("{np}.network_id"),
            "network-id must be 1 or more".into(),
        );
    }
    if let Some(pw) = &n.authentication
        && !(1..=8).contains(&pw.expose().len())
    {
        report(
            format!("{np}.authentication"),
            "the NHRP password is 1 to 8 characters".into(),
        );
    }
    if n.holdtime == 0 || n.holdtime > u32::from(u16::MAX) {
        report(
            format!("{np}.holdtime"),
            format!("{} s is outside 1..=65535", n.holdtime),
        );
    }
    if let Some(r) = n.registration_timeout
        && (r == 0 || r >= n.holdtime)
    {
        report(
            format!("{np}.registration_timeout"),
            format!(
                "{r} s must be at least 1 and less than the holdtime ({} s)",
                n.holdtime
            ),
        );
    }
    if n.max_send.packets == 0 || n.max_send.every_secs == 0 {
        report(
            format!("{np}.max_send"),
            "max-send needs at least 1 packet every at least 1 second".into(),
        );
    }
    for (k, nhs) in n.nhs.iter().enumerate() {
        let hp = format!("{np}.nhs[{k}]");
        if !t.address.contains(&nhs.address) {
            report(
                hp.clone(),
                format!(
                    "NHS {} is outside the tunnel subnet {}",
                    nhs.address, t.address
                ),
            );
        }
        if nhs.address == t.address.addr() {
            report(hp.clone(), "a node cannot be its own NHS".into());
        }
        match n.nhs_nbma(nhs) {
            None => report(
                hp.clone(),
                format!(
                    "no NBMA address for NHS {}: add `ip nhrp map {} NBMA` or give `nbma`",
                    nhs.address, nhs.address
                ),
            ),
            Some(nbma) if nbma.is_ipv4() != t.source.is_ipv4() => report(
                hp.clone(),
                format!("NHS NBMA address {nbma} is not of the tunnel source's family"),
            ),
            Some(_) => {}
        }
        if n.nhs.iter().take(k).any(|o| o.address == nhs.address) {
            report(hp, format!("NHS {} listed twice", nhs.address));
        }
    }
    for (k, m) in n.maps.iter().enumerate() {
        let mp = format!("{np}.maps[{k}]");
        if !t.address.contains(&m.address) {
            report(
                mp.clone(),
                format!("{} is outside the tunnel subnet {}", m.address, t.address),
            );
        }
        if m.nbma.is_ipv4() != t.source.is_ipv4() {
            report(
                mp.clone(),
                format!(
                    "NBMA address {} is not of the tunnel source's family",
                    m.nbma
                ),
            );
        }
        if n.maps
            .iter()
            .take(k)
            .any(|o| o.address == m.address && o.nbma != m.nbma)
        {
            report(
                mp,
                format!("{} is mapped twice to different NBMA addresses", m.address),
            );
        }
    }
    for (k, net) in n.registration_prefixes.iter().enumerate() {
        let rp = format!("{np}.registration_prefixes[{k}]");
        if net.addr().is_ipv4() != t.address.addr().is_ipv4() {
            report(rp, format!("{net} is not of the tunnel's family"));
        } else if net.trunc() != *net {
            report(
                rp,
                format!("{net} has host bits set: the network is {}", net.trunc()),
            );
        }
    }
    for (k, a) in n.map_multicast.iter().enumerate() {
        if a.is_ipv4() != t.source.is_ipv4() {
            report(
                format!("{np}.map_multicast[{k}]"),
                format!("{a} is not of the tunnel source's family"),
            );
        }
    }
    if n.shortcut && n.redirect && n.nhs.is_empty() {
        report(
            format!("{np}.shortcut"),
            "shortcut is a spoke feature: this interface has no NHS".into(),
        );
    }
    if let TunnelMode::PointToPoint { .. } = t.mode
        && (n.map_multicast_dynamic || n.redirect)
    {
        report(
            format!("{p}.mode"),
            "map multicast dynamic and redirect need a multipoint (hub) interface".into(),
        );
    }
}
