//! The routing that sends the remote selector's traffic into the TUN device (a route, or a
//! table of its own with rules that keep IKE and ESP on the underlay), undone on drop.

use std::net::IpAddr;

use tracing::{debug, info};

use crate::{Args, BoxError};

/// Whether `addr` lies in the IPv4 prefix `net/len`.
pub(crate) fn prefix_contains(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// The routing that sends the remote selector's traffic into the TUN device; removed again on
/// drop.
pub(crate) struct Routes {
    /// `ip` argument lists that undo what was installed, in order.
    undo: Vec<Vec<String>>,
}

/// The routing table and rule priorities used when the peer's address is inside the remote
/// selector.
const TABLE: &str = "4242";
const PRIO_UNDERLAY: &str = "4240";
const PRIO_INNER: &str = "4241";

fn ip_cmd(args: &[String]) -> Result<(), BoxError> {
    let status = std::process::Command::new("ip").args(args).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ip {} failed", args.join(" ")).into())
    }
}

impl Routes {
    pub(crate) fn install(
        args: &Args,
        rts: IpAddr,
        rlen: u8,
        peer_inside: bool,
    ) -> Result<Self, BoxError> {
        let net = format!("{rts}/{rlen}");
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
        let mut routes = Routes { undo: Vec::new() };
        if !peer_inside {
            ip_cmd(&s(&["route", "replace", &net, "dev", &args.tun]))?;
            routes
                .undo
                .push(s(&["route", "del", &net, "dev", &args.tun]));
            return Ok(routes);
        }
        let local = args.local.to_string();
        let peer = format!("{}", args.remote);
        ip_cmd(&s(&[
            "route", "replace", &net, "dev", &args.tun, "src", &local, "table", TABLE,
        ]))?;
        routes.undo.push(s(&["route", "flush", "table", TABLE]));
        // IKE and ESP to the peer stay on the main table (our IKE always leaves from port 500
        // or 4500; the peer's may listen elsewhere behind a NAT).
        let underlay: [&[&str]; 5] = [
            &["ipproto", "udp", "sport", "500"],
            &["ipproto", "udp", "sport", "4500"],
            &["ipproto", "udp", "dport", "500"],
            &["ipproto", "udp", "dport", "4500"],
            &["ipproto", "esp"],
        ];
        for sel in underlay {
            let mut rule = s(&["rule", "add", "priority", PRIO_UNDERLAY, "to", &peer]);
            rule.extend(s(sel));
            rule.extend(s(&["lookup", "main"]));
            ip_cmd(&rule)?;
            let mut del = rule.clone();
            if let Some(verb) = del.get_mut(1) {
                *verb = "del".to_owned();
            }
            routes.undo.push(del);
        }
        let rule = s(&[
            "rule", "add", "priority", PRIO_INNER, "to", &net, "lookup", TABLE,
        ]);
        ip_cmd(&rule)?;
        routes.undo.push(s(&[
            "rule", "del", "priority", PRIO_INNER, "to", &net, "lookup", TABLE,
        ]));
        info!(
            table = TABLE,
            "peer address inside the remote selector: inner traffic through the TUN by policy, IKE and ESP on the underlay"
        );
        Ok(routes)
    }
}

impl Drop for Routes {
    fn drop(&mut self) {
        for args in self.undo.iter().rev() {
            if let Err(e) = ip_cmd(args) {
                debug!("undo routing: {e}");
            }
        }
    }
}
