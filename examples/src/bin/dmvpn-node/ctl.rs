//! The control socket: `dmvpnctl` sends one command line (`show dmvpn`, `show ip nhrp`, …,
//! `clear ip nhrp ADDR`, with `--json` for a machine-readable `show dmvpn`), the node answers
//! with the output and closes. The socket is the owner's only (mode 0600), in a directory of
//! its own; one per node, named after the hostname, so nodes in several network namespaces of
//! one machine do not collide.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dmvpn_core::Node;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Where the sockets live.
pub const DIR: &str = "/run/dmvpn-node";

/// The default socket of the node with this hostname.
pub fn default_path(hostname: &str) -> PathBuf {
    Path::new(DIR).join(format!("{hostname}.sock"))
}

/// The listening socket.
pub struct Server(UnixListener);

impl Server {
    /// Binds `path` (a stale socket there is replaced), mode 0600.
    pub fn bind(path: &Path) -> std::io::Result<Server> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
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

/// The output of one command.
pub fn answer(node: &mut Node, start: Instant, cmd: &str) -> String {
    let now = Instant::now();
    let mut words: Vec<&str> = cmd.split_whitespace().collect();
    let json = words.contains(&"--json");
    words.retain(|w| *w != "--json");
    match words.as_slice() {
        ["show", "dmvpn"] if json => dmvpn_json(node, now),
        ["show", "dmvpn"] => node.show_dmvpn(now),
        ["show", "dmvpn", "detail"] => node.show_dmvpn_detail(now),
        ["show", "ip", "nhrp"] => node.show_ip_nhrp(now),
        ["show", "ip", "nhrp", "nhs"] => node.show_ip_nhrp_nhs(now),
        ["show", "ip", "nhrp", "traffic"] => node.show_ip_nhrp_traffic(now),
        ["show", "crypto", "ikev2", "sa"] => node.show_crypto_ikev2_sa(now),
        ["show", "crypto", "ipsec", "sa"] => node.show_crypto_ipsec_sa(now),
        ["show", "crypto", "session"] => node.show_crypto_session(now),
        ["show", "uptime"] => format!("{} s\n", now.saturating_duration_since(start).as_secs()),
        ["clear", "ip", "nhrp", addr] => match addr.parse::<IpAddr>() {
            Ok(a) if node.clear_nhrp(now, a) => format!("cleared {a}\n"),
            Ok(a) => format!("% no NHRP entry for {a}\n"),
            Err(e) => format!("% {addr}: {e}\n"),
        },
        _ => format!(
            "% unknown command {cmd:?}: show dmvpn [detail] [--json] | show ip nhrp [nhs|traffic] \
             | show crypto ikev2 sa | show crypto ipsec sa | show crypto session \
             | clear ip nhrp ADDR\n"
        ),
    }
}

/// `show dmvpn --json`: the node's tunnels, peers and NHSs.
fn dmvpn_json(node: &Node, now: Instant) -> String {
    let st = node.status(now);
    let tunnels: Vec<_> = st
        .tunnels
        .iter()
        .map(|t| {
            let peers: Vec<_> = t
                .peers
                .iter()
                .map(|p| {
                    json!({
                        "nbma": p.nbma.map(|a| a.to_string()),
                        "tunnel": p.tunnel_addr.to_string(),
                        "state": p.state.to_string(),
                        "up_seconds": p.up_for.as_secs(),
                        "attributes": p.attributes.trim(),
                        "entries": p.entries,
                        "crypto": p.crypto.as_ref().map(|c| format!("{:?}", c.state)),
                    })
                })
                .collect();
            let nhs: Vec<_> = t
                .nhs
                .iter()
                .map(|n| {
                    json!({
                        "address": n.protocol_addr.to_string(),
                        "nbma": n.nbma_addr.to_string(),
                        "up": n.up,
                        "expecting": n.expecting,
                    })
                })
                .collect();
            json!({
                "name": t.name,
                "role": format!("{:?}", t.role),
                "address": t.address.to_string(),
                "source": t.source.to_string(),
                "public_nbma": t.public_nbma.map(|a| a.to_string()),
                "peers": peers,
                "nhs": nhs,
            })
        })
        .collect();
    let mut s = json!({ "hostname": st.hostname, "tunnels": tunnels }).to_string();
    s.push('\n');
    s
}
