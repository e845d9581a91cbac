//! `dmvpnctl`: asks a running `dmvpn-node` for its `show` output or to `clear` something,
//! through its control socket.
//!
//! ```text
//! dmvpnctl [--node HOSTNAME | --socket PATH] show dmvpn [detail] [--json]
//! dmvpnctl --node spoke-a show ip nhrp [brief|nhs|traffic] [--json]
//! dmvpnctl --node spoke-a show crypto ikev2 sa | show crypto ipsec sa | show crypto session
//! dmvpnctl --node hub show crypto isakmp sa      # the IKEv1 (ISAKMP) SAs
//! dmvpnctl --node hub clear ip nhrp [10.0.0.11]
//! dmvpnctl --node hub clear crypto session [peer 172.16.1.1]
//! dmvpnctl --node spoke-a debug nhrp | debug crypto | debug all | undebug all | show debugging
//! ```
//! `--json` works after every `show`. An answer that starts with `%` is an error (exit 1).
//! Without `--node` or `--socket`, the only socket in /run/dmvpn-node is used.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(about = "Ask a running dmvpn-node (show / clear)")]
struct Args {
    /// The node's hostname (its socket is /run/dmvpn-node/HOSTNAME.sock).
    #[arg(long)]
    node: Option<String>,
    /// The node's control socket.
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The command, as on a router: `show dmvpn`, `show ip nhrp brief`, `show crypto isakmp
    /// sa`, `clear crypto session`, `debug nhrp`, … (`--json` after any `show` for JSON).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

const DIR: &str = "/run/dmvpn-node";

fn socket(args: &Args) -> Result<PathBuf, String> {
    if let Some(p) = &args.socket {
        return Ok(p.clone());
    }
    if let Some(n) = &args.node {
        return Ok(PathBuf::from(DIR).join(format!("{n}.sock")));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(DIR)
        .map_err(|e| format!("{DIR}: {e} (is a dmvpn-node running?)"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!("no node socket in {DIR}")),
        _ => Err(format!(
            "several nodes in {DIR}: say which with --node ({})",
            found
                .iter()
                .filter_map(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let path = match socket(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("dmvpnctl: {e}");
            return ExitCode::from(2);
        }
    };
    let run = || -> std::io::Result<String> {
        let mut s = UnixStream::connect(&path)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(format!("{}\n", args.command.join(" ")).as_bytes())?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    match run() {
        Ok(out) => {
            print!("{out}");
            if out.starts_with('%') {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("dmvpnctl: {}: {e}", path.display());
            ExitCode::from(1)
        }
    }
}
