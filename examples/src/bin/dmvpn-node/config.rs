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

fn ios(_text: &str) -> Result<Loaded, String> {
    Err("IOS configuration text is not read yet: give the configuration as JSON".into())
}
