//! The control socket: `dmvpnctl` sends one command line (`show dmvpn`, `show ip nhrp`, …,
//! `clear ip nhrp ADDR`, `debug nhrp`, with `--json` after any `show` for JSON), the node
//! answers with the output and closes. The socket is the owner's only (mode 0600), or also its
//! group's (0660) with `--socket-group`, in a directory of its own; one per node, named after
//! the hostname, so nodes in several network namespaces of one machine do not collide.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dmvpn_core::{DebugFlags, Node};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::json::{self, Show};

/// Where the sockets live.
pub const DIR: &str = "/run/dmvpn-node";

/// The default socket of the node with this hostname.
pub fn default_path(hostname: &str) -> PathBuf {
    Path::new(DIR).join(format!("{hostname}.sock"))
}

/// The listening socket.
pub struct Server(UnixListener);

impl Server {
    /// Binds `path` (a stale socket there is replaced), mode 0600; with `group` (a group
    /// id), owned by that group and mode 0660.
    pub fn bind(path: &Path, group: Option<u32>) -> std::io::Result<Server> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)?;
        let mode = match group {
            Some(gid) => {
                std::os::unix::fs::chown(path, None, Some(gid))?;
                0o660
            }
            None => 0o600,
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        Ok(Server(l))
    }

    /// The next client.
    pub async fn accept(&self) -> std::io::Result<UnixStream> {
        self.0.accept().await.map(|(s, _)| s)
    }
}

/// Removes the socket at exit.
pub fn unlink(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Reads one command from `stream` and answers it.
pub async fn serve(node: &mut Node, start: Instant, stream: UnixStream) {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(2),
        BufReader::new(r).read_line(&mut line),
    )
    .await;
    if !matches!(read, Ok(Ok(_))) {
        return;
    }
    let out = answer(node, start, line.trim());
    let _ = w.write_all(out.as_bytes()).await;
    let _ = w.shutdown().await;
}

/// The commands, for the error that answers an unknown one.
const USAGE: &str = "show dmvpn [detail] | show ip nhrp [brief|nhs|traffic] \
                     | show crypto ikev2 sa | show crypto isakmp sa | show crypto ipsec sa \
                     | show crypto session \
                     | show uptime (--json after any show) | clear ip nhrp [ADDR] \
                     | clear crypto session [peer ADDR] | [no|undebug] debug nhrp|crypto|all";

/// The output of one command. An error starts with `%`, as on a router.
pub fn answer(node: &mut Node, start: Instant, cmd: &str) -> String {
    let now = Instant::now();
    let mut words: Vec<&str> = cmd.split_whitespace().collect();
    let json = words.contains(&"--json");
    words.retain(|w| *w != "--json");
    if json && words.first() != Some(&"show") {
        return format!("% --json is for show commands: {cmd:?}\n");
    }
    let as_json = |what: Show, node: &Node| {
        let crypto = if matches!(what, Show::Crypto | Show::Isakmp) {
            node.crypto_status(now)
        } else {
            Vec::new()
        };
        json::show(what, &node.status(now), &crypto, now)
    };
    match words.as_slice() {
        ["show", "dmvpn"] | ["show", "dmvpn", "detail"] if json => as_json(Show::Dmvpn, node),
        ["show", "dmvpn"] => node.show_dmvpn(now),
        ["show", "dmvpn", "detail"] => node.show_dmvpn_detail(now),
        ["show", "ip", "nhrp"] if json => as_json(Show::Nhrp, node),
        ["show", "ip", "nhrp"] => node.show_ip_nhrp(now),
        ["show", "ip", "nhrp", "brief"] if json => as_json(Show::NhrpBrief, node),
        ["show", "ip", "nhrp", "brief"] => node.show_ip_nhrp_brief(now),
        ["show", "ip", "nhrp", "nhs"] if json => as_json(Show::Nhs, node),
        ["show", "ip", "nhrp", "nhs"] => node.show_ip_nhrp_nhs(now),
        ["show", "ip", "nhrp", "traffic"] if json => as_json(Show::Traffic, node),
        ["show", "ip", "nhrp", "traffic"] => node.show_ip_nhrp_traffic(now),
        ["show", "crypto", "ikev2", "sa"]
        | ["show", "crypto", "ipsec", "sa"]
        | ["show", "crypto", "session"]
            if json =>
        {
            as_json(Show::Crypto, node)
        }
        ["show", "crypto", "isakmp", "sa"] if json => as_json(Show::Isakmp, node),
        ["show", "crypto", "ikev2", "sa"] => node.show_crypto_ikev2_sa(now),
        ["show", "crypto", "isakmp", "sa"] => node.show_crypto_isakmp_sa(now),
        ["show", "crypto", "ipsec", "sa"] => node.show_crypto_ipsec_sa(now),
        ["show", "crypto", "session"] => node.show_crypto_session(now),
        ["show", "uptime"] => {
            let up = now.saturating_duration_since(start).as_secs();
            if json {
                format!(
                    "{{\"hostname\":{:?},\"uptime_seconds\":{up}}}\n",
                    node.hostname()
                )
            } else {
                format!("{up} s\n")
            }
        }
        ["clear", "ip", "nhrp"] => {
            // Every dynamic entry, as IOS's `clear ip nhrp` (static maps stay).
            let st = node.status(now);
            let dynamic: Vec<IpAddr> = st
                .tunnels
                .iter()
                .flat_map(|t| t.entries.iter())
                .filter(|e| e.kind == dmvpn_nhrp::EntryType::Dynamic)
                .map(|e| e.prefix.addr())
                .collect();
            let n = dynamic.iter().filter(|a| node.clear_nhrp(now, **a)).count();
            format!("cleared {n} dynamic NHRP entries\n")
        }
        ["clear", "ip", "nhrp", addr] => match addr.parse::<IpAddr>() {
            Ok(a) if node.clear_nhrp(now, a) => format!("cleared {a}\n"),
            Ok(a) => format!("% no NHRP entry for {a}\n"),
            Err(e) => format!("% {addr}: {e}\n"),
        },
        ["clear", "crypto", "session"] => {
            let n = node.clear_crypto_session(now, None);
            format!("cleared {n} crypto sessions\n")
        }
        ["clear", "crypto", "session", "peer", addr] => match addr.parse::<IpAddr>() {
            Ok(a) => match node.clear_crypto_session(now, Some(a)) {
                0 => format!("% no crypto session with {a}\n"),
                n => format!("cleared {n} crypto session(s) with {a}\n"),
            },
            Err(e) => format!("% {addr}: {e}\n"),
        },
        ["debug", what] => debug(node, what, true),
        ["no" | "undebug", "debug", what] | ["undebug", what] => debug(node, what, false),
        ["show", "debugging"] => debugging(node),
        _ => format!("% unknown command {cmd:?}: {USAGE}\n"),
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// `debug nhrp|crypto|all` on or off.
fn debug(node: &mut Node, what: &str, on: bool) -> String {
    let mut f = node.debug_flags();
    match what {
        "nhrp" => f.nhrp = on,
        "crypto" => f.crypto = on,
        "all" => {
            f = DebugFlags {
                nhrp: on,
                crypto: on,
            }
        }
        other => return format!("% debug {other}: nhrp, crypto or all\n"),
    }
    node.set_debug(f);
    debugging(node)
}

/// `show debugging`: NHRP, and the crypto of the IKE version(s) the node runs (IOS names
/// IKEv1's `Crypto ISAKMP`).
fn debugging(node: &Node) -> String {
    let f = node.debug_flags();
    let v1 = (0..node.tunnels()).any(|t| node.ikev1_endpoint(t).is_some());
    let v2 = (0..node.tunnels()).any(|t| node.ike_endpoint(t).is_some());
    let mut out = format!("NHRP protocol debugging is {}\n", on_off(f.nhrp));
    if v1 {
        out.push_str(&format!(
            "Crypto ISAKMP debugging is {}\n",
            on_off(f.crypto)
        ));
    }
    if v2 || !v1 {
        out.push_str(&format!("Crypto IKEv2 debugging is {}\n", on_off(f.crypto)));
    }
    out
}
