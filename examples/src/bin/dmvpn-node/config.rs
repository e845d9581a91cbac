//! Loading the node's configuration: IOS configuration text (the seeds' blocks, parsed by
//! `dmvpn_core::ios`) or JSON (a `NodeConfig`, with an optional `"routes": [["PREFIX", "VIA"],
//! …]`), plus `--route` flags. Every problem is reported, with its line (IOS) or path (JSON).

use std::net::IpAddr;
use std::path::Path;

use dmvpn_core::config::NodeConfig;
use ipnet::IpNet;

/// A configuration ready to run.
pub struct Loaded {
    /// The node's configuration (validated).
    pub node: NodeConfig,
    /// Overlay routes: prefix via a tunnel next hop.
    pub routes: Vec<(IpNet, IpAddr)>,
    /// Lines of other subsystems that are not applied, each with its line number.
    pub notes: Vec<String>,
}

impl Loaded {
    /// What `--check` prints: the node, its tunnels and routes.
    pub fn summary(&self) -> String {
        let mut s = format!("hostname {}\n", self.node.hostname);
        for t in &self.node.tunnels {
            s.push_str(&format!(
                "interface {}: {} source {}{}{}, {} NHS, {} static maps\n",
                t.name,
                t.address,
                t.source,
                t.key.map(|k| format!(" key {k}")).unwrap_or_default(),
                t.protection
                    .as_ref()
                    .map(|p| format!(", protection ipsec profile {}", p.profile))
                    .unwrap_or_default(),
                t.nhrp.nhs.len(),
                t.nhrp.maps.len()
            ));
        }
        for (p, v) in &self.routes {
            s.push_str(&format!("ip route {p} {v}\n"));
        }
        for n in &self.notes {
            s.push_str(&format!("not applied: {n}\n"));
        }
        s
    }
}

impl Loaded {
    /// The configuration as JSON (what [`load`] reads from a `.json` file): the `NodeConfig`
    /// and its `"routes"`. Secrets only with `reveal` (else `"<redacted>"`).
    pub fn to_json(&self, reveal: bool) -> String {
        let write = || {
            let mut v = serde_json::to_value(&self.node)?;
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("routes".into(), serde_json::to_value(&self.routes)?);
            }
            serde_json::to_string_pretty(&v)
        };
        let r = if reveal {
            dmvpn_core::config::with_secrets_revealed(write)
        } else {
            write()
        };
        r.unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
    }
}

/// Reads and checks the configuration at `path`, adding the `--route` flags.
pub fn load(path: &Path, flags: &[String]) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut loaded = if text.trim_start().starts_with('{') {
        json(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        ios(&text).map_err(|e| format!("{}:\n{e}", path.display()))?
    };
    for f in flags {
        loaded.routes.push(super::parse_route(f)?);
    }
    loaded
        .node
        .validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(loaded)
}

fn json(text: &str) -> Result<Loaded, String> {
    let mut v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut routes = Vec::new();
    if let Some(r) = v.as_object_mut().and_then(|o| o.remove("routes")) {
        let list: Vec<(IpNet, IpAddr)> =
            serde_json::from_value(r).map_err(|e| format!("routes: {e}"))?;
        routes = list;
    }
    let node: NodeConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
    Ok(Loaded {
        node,
        routes,
        notes: Vec::new(),
    })
}

fn ios(text: &str) -> Result<Loaded, String> {
    let parsed = dmvpn_core::ios::parse_with_addresses(text, &system_addresses)
        .map_err(|e| e.to_string())?;
    let mut notes: Vec<String> = parsed
        .notes
        .iter()
        .map(|n| format!("line {}: {}: {}", n.line, n.text, n.why))
        .collect();
    let node = parsed.config;
    let in_tunnel = |a: IpAddr| {
        node.tunnels.iter().any(|t| {
            t.address.contains(&a) || t.ipv6.as_ref().is_some_and(|v| v.address.contains(&a))
        })
    };
    let mut routes = Vec::new();
    for r in &parsed.routes {
        use dmvpn_core::ios::RouteVia;
        let via = match &r.via {
            RouteVia::NextHop(a) => Some(*a),
            RouteVia::InterfaceNextHop { next_hop, .. } => Some(*next_hop),
            RouteVia::Interface(_) => None,
        };
        match via {
            Some(v) if in_tunnel(v) => routes.push((r.prefix, v)),
            Some(v) => notes.push(format!(
                "line {}: {} {} {v}: an underlay route, left to the system's routing",
                r.line,
                if r.prefix.addr().is_ipv6() {
                    "ipv6 route"
                } else {
                    "ip route"
                },
                r.prefix
            )),
            None => notes.push(format!(
                "line {}: ip route {} to an interface: not applied (the node routes into a \
                 tunnel by next hop)",
                r.line, r.prefix
            )),
        }
    }
    Ok(Loaded {
        node,
        routes,
        notes,
    })
}

/// Every address of a system interface, in the system's order (`tunnel source Ethernet0`
/// when the file has no address for it): the parser takes the first of the tunnel's family,
/// link-local ones left out, so an IPv6 tunnel on a dual-stack interface gets its global
/// IPv6 address.
fn system_addresses(name: &str) -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter(|a| a.interface_name == name)
        .filter_map(|a| {
            let s = a.address?;
            s.as_sockaddr_in()
                .map(|v| IpAddr::V4(v.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v| IpAddr::V6(v.ip())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The JSON form of each example configuration is the same node as its IOS form.
    #[test]
    fn the_json_examples_are_the_ios_examples() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        for name in ["hub", "spoke-a", "spoke-b"] {
            let from_ios = load(&dir.join(format!("{name}.cfg")), &[]).unwrap();
            let from_json = load(&dir.join("json").join(format!("{name}.json")), &[]).unwrap();
            assert_eq!(from_json.node, from_ios.node, "{name}");
            assert_eq!(from_json.routes, from_ios.routes, "{name}");
        }
    }

    /// `configs/ikev1/` is `configs/` with IKEv1 crypto: the same tunnels (the same profile
    /// name) and routes, the profile negotiated by IKEv1 with one `crypto isakmp` policy.
    #[test]
    fn the_ikev1_examples_are_the_ikev2_ones_with_isakmp() {
        use dmvpn_core::config::IkeVersion;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        for name in ["hub", "spoke-a", "spoke-b"] {
            let v2 = load(&dir.join(format!("{name}.cfg")), &[]).unwrap();
            let v1 = load(&dir.join("ikev1").join(format!("{name}.cfg")), &[]).unwrap();
            assert_eq!(v1.node.hostname, v2.node.hostname, "{name}");
            assert_eq!(v1.node.tunnels, v2.node.tunnels, "{name}");
            assert_eq!(v1.routes, v2.routes, "{name}");
            let profile = |l: &Loaded| l.node.crypto.profile("DMVPN").unwrap().ike_version();
            assert_eq!(profile(&v2), IkeVersion::Ikev2, "{name}");
            assert_eq!(profile(&v1), IkeVersion::Ikev1, "{name}");
            assert_eq!(v1.node.crypto.isakmp.policies.len(), 1, "{name}");
        }
    }

    /// `--to-json` without `--reveal-secrets` prints no secret, and what it prints is refused
    /// when read back; with it, the JSON loads as the same node.
    #[test]
    fn to_json_redacts_unless_asked() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let l = load(&dir.join("spoke-a.cfg"), &[]).unwrap();
        let redacted = l.to_json(false);
        assert!(!redacted.contains("cisco123") && !redacted.contains("donttell"));
        assert!(json(&redacted).is_err());
        let clear = json(&l.to_json(true)).unwrap();
        assert_eq!(clear.node, l.node);
        assert_eq!(clear.routes, l.routes);
    }
}
