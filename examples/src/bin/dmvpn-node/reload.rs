//! SIGHUP: the configuration file read again and compared with what runs. Overlay routes
//! (`ip route`, `--route`) are applied at once, in the node and in the kernel, without
//! touching any tunnel. A change to anything else (the hostname, a tunnel interface, the
//! crypto configuration, the LAN networks) cannot be applied to a running node without
//! dropping its tunnels: it is named, path by path, and left for a restart; the running
//! configuration stays as it is. A file that does not load is reported and changes nothing.

use std::collections::BTreeSet;
use std::net::IpAddr;

use dmvpn_core::config::NodeConfig;
use ipnet::IpNet;
use serde_json::Value;

/// What a reload does.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Routes to add.
    pub add: Vec<(IpNet, IpAddr)>,
    /// Routes to remove.
    pub remove: Vec<(IpNet, IpAddr)>,
    /// Changes that need a restart, each a configuration path (`Tunnel0: nhrp.holdtime`).
    pub restart: Vec<String>,
}

/// Compares the running configuration and routes with the new ones.
pub fn plan(
    old: &NodeConfig,
    old_routes: &[(IpNet, IpAddr)],
    new: &NodeConfig,
    new_routes: &[(IpNet, IpAddr)],
) -> Plan {
    let (o, n): (BTreeSet<_>, BTreeSet<_>) = (
        old_routes.iter().copied().collect(),
        new_routes.iter().copied().collect(),
    );
    let mut restart = Vec::new();
    if old.hostname != new.hostname {
        restart.push("hostname".to_string());
    }
    if old.networks != new.networks {
        restart.push("networks (LAN interfaces)".to_string());
    }
    for t in &old.tunnels {
        match new.tunnels.iter().find(|x| x.name == t.name) {
            None => restart.push(format!("interface {} removed", t.name)),
            Some(x) if x != t => {
                let mut paths = Vec::new();
                diff("", &to_value(t), &to_value(x), &mut paths);
                for p in paths {
                    restart.push(format!("interface {}: {p}", t.name));
                }
            }
            Some(_) => {}
        }
    }
    for t in &new.tunnels {
        if !old.tunnels.iter().any(|x| x.name == t.name) {
            restart.push(format!("interface {} added", t.name));
        }
    }
    if old.crypto != new.crypto {
        let mut paths = Vec::new();
        diff(
            "",
            &to_value(&old.crypto),
            &to_value(&new.crypto),
            &mut paths,
        );
        for p in paths {
            restart.push(format!("crypto: {p}"));
        }
    }
    Plan {
        add: n.difference(&o).copied().collect(),
        remove: o.difference(&n).copied().collect(),
        restart,
    }
}

/// The configuration as JSON, secrets included: only the paths where two differ are ever
/// printed, and a changed key must be seen to differ.
fn to_value<T: serde::Serialize>(v: &T) -> Value {
    dmvpn_core::config::with_secrets_revealed(|| serde_json::to_value(v)).unwrap_or(Value::Null)
}

/// The paths where `a` and `b` differ (objects key by key; anything else as a whole). Only
/// paths, never values: a changed pre-shared key is named, not printed.
fn diff(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                diff(
                    &path,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ => out.push(if at.is_empty() {
            "(all)".into()
        } else {
            at.into()
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn cfg(text: &str) -> (NodeConfig, Vec<(IpNet, IpAddr)>) {
        let resolve = |_: &str| Some("172.16.1.1".parse().unwrap());
        let p = dmvpn_core::ios::parse(text, &resolve).unwrap();
        let routes = p
            .routes
            .iter()
            .filter_map(|r| match r.via {
                dmvpn_core::ios::RouteVia::NextHop(v) => Some((r.prefix, v)),
                _ => None,
            })
            .collect();
        (p.config, routes)
    }

    const SPOKE: &str = include_str!("../../../configs/spoke-a.cfg");

    #[test]
    fn a_route_change_is_applied_and_nothing_else_is_touched() {
        let (a, ra) = cfg(SPOKE);
        let text = SPOKE.replace(
            "ip route 192.168.0.0 255.255.0.0 10.0.0.1",
            "ip route 192.168.0.0 255.255.0.0 10.0.0.1\nip route 10.50.0.0 255.255.0.0 10.0.0.1",
        );
        let (b, rb) = cfg(&text);
        let p = plan(&a, &ra, &b, &rb);
        assert_eq!(
            p.add,
            vec![("10.50.0.0/16".parse().unwrap(), "10.0.0.1".parse().unwrap())]
        );
        assert!(p.remove.is_empty() && p.restart.is_empty(), "{p:?}");
        // And back: the route goes.
        let back = plan(&b, &rb, &a, &ra);
        assert_eq!(back.remove, p.add);
        assert!(back.add.is_empty());
    }

    #[test]
    fn a_tunnel_or_crypto_change_is_named_for_a_restart_without_its_secret() {
        let (a, ra) = cfg(SPOKE);
        let text = SPOKE
            .replace("ip nhrp holdtime 300", "ip nhrp holdtime 600")
            .replace("pre-shared-key cisco123", "pre-shared-key s3cret-new");
        let (b, rb) = cfg(&text);
        let p = plan(&a, &ra, &b, &rb);
        assert!(p.add.is_empty() && p.remove.is_empty());
        assert!(
            p.restart
                .iter()
                .any(|r| r.starts_with("interface Tunnel0: nhrp.") && r.contains("holdtime")),
            "{p:?}"
        );
        assert!(p.restart.iter().any(|r| r.starts_with("crypto: ")), "{p:?}");
        let all = p.restart.join("\n");
        assert!(
            !all.contains("s3cret") && !all.contains("cisco123"),
            "{all}"
        );
        // Nothing changed: nothing to do.
        assert_eq!(plan(&a, &ra, &a, &ra), Plan::default());
    }
}
