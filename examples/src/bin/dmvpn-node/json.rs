//! `--json` for every `show`: the node's [`Status`] and [`CryptoStatus`] snapshots as JSON, for
//! scripts and monitoring. Field names are stable; durations are whole seconds; addresses are
//! strings; absent values are `null`.

use std::time::Instant;

use dmvpn_core::{CryptoStatus, EspSaStatus, IsakmpSaRow, PeerStatus, Status, TunnelStatus};
use dmvpn_nhrp::{Entry, EntryType};
use serde_json::{Value, json};

/// What `show … --json` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// `show dmvpn [detail]`.
    Dmvpn,
    /// `show ip nhrp`.
    Nhrp,
    /// `show ip nhrp brief` (static and dynamic entries only).
    NhrpBrief,
    /// `show ip nhrp nhs`.
    Nhs,
    /// `show ip nhrp traffic`.
    Traffic,
    /// `show crypto ikev2 sa`, `show crypto ipsec sa`, `show crypto session`: the crypto
    /// groups with their IKE SAs, peers and ESP SAs.
    Crypto,
    /// `show crypto isakmp sa`: the ISAKMP (IKEv1) SAs of every crypto group, as the rows of
    /// `Node::isakmp_sa_rows` (by group, then by conn-id) with what else the SA's status says.
    Isakmp,
}

/// The JSON text of `show` (one line, newline-terminated).
pub fn show(what: Show, st: &Status, crypto: &[CryptoStatus], now: Instant) -> String {
    let tunnels = |f: &dyn Fn(&TunnelStatus) -> Value| -> Vec<Value> {
        st.tunnels
            .iter()
            .map(|t| {
                let mut v = json!({ "name": t.name });
                if let (Value::Object(m), Value::Object(x)) = (&mut v, f(t)) {
                    m.extend(x);
                }
                v
            })
            .collect()
    };
    let body = match what {
        Show::Dmvpn => json!({ "tunnels": tunnels(&dmvpn_tunnel) }),
        Show::Nhrp => json!({ "tunnels": tunnels(&|t| entries(t, now, false)) }),
        Show::NhrpBrief => json!({ "tunnels": tunnels(&|t| entries(t, now, true)) }),
        Show::Nhs => json!({ "tunnels": tunnels(&nhs) }),
        Show::Traffic => json!({ "tunnels": tunnels(&traffic) }),
        Show::Crypto => json!({ "groups": crypto.iter().map(group).collect::<Vec<_>>() }),
        Show::Isakmp => json!({ "sas": isakmp_sas(crypto) }),
    };
    let mut v = json!({ "hostname": st.hostname });
    if let (Value::Object(m), Value::Object(b)) = (&mut v, body) {
        m.extend(b);
    }
    let mut s = v.to_string();
    s.push('\n');
    s
}

fn dmvpn_tunnel(t: &TunnelStatus) -> Value {
    json!({
        "role": t.role.to_string(),
        "address": t.address.to_string(),
        "source": t.source.to_string(),
        "public_nbma": t.public_nbma.map(|a| a.to_string()),
        "tunnel_key": t.key,
        "mtu": t.mtu,
        "network_id": t.network_id,
        "peers": t.peers.iter().map(peer).collect::<Vec<_>>(),
        "nhs": nhs_list(t),
    })
}

fn peer(p: &PeerStatus) -> Value {
    json!({
        "nbma": p.nbma.map(|a| a.to_string()),
        "tunnel": p.tunnel_addr.to_string(),
        "state": p.state.to_string(),
        "up_seconds": p.up_for.as_secs(),
        "attributes": p.attributes.trim(),
        "entries": p.entries,
        "crypto": p.crypto.as_ref().map(|c| c.state.to_string()),
        "mtu": p.mtu,
        "overhead": p.overhead,
    })
}

fn kind(k: EntryType) -> &'static str {
    match k {
        EntryType::Static => "static",
        EntryType::Dynamic => "dynamic",
        EntryType::Incomplete => "incomplete",
        EntryType::Negative => "negative",
        EntryType::Local => "local",
    }
}

fn entry(e: &Entry, now: Instant) -> Value {
    json!({
        "prefix": e.prefix.to_string(),
        "via": e.next_hop.to_string(),
        "nbma": e.effective_nbma().map(|a| a.to_string()),
        "claimed_nbma": e.nat_nbma.and(e.nbma).map(|a| a.to_string()),
        "type": kind(e.kind),
        "flags": e.flags.to_string().split_whitespace().collect::<Vec<_>>(),
        "created_seconds": now.saturating_duration_since(e.created).as_secs(),
        "expires_seconds": e.expires.map(|t| t.saturating_duration_since(now).as_secs()),
    })
}

fn entries(t: &TunnelStatus, now: Instant, brief: bool) -> Value {
    let shown = t
        .entries
        .iter()
        .filter(|e| !brief || matches!(e.kind, EntryType::Static | EntryType::Dynamic))
        .map(|e| entry(e, now))
        .collect::<Vec<_>>();
    json!({ "entries": shown })
}

fn nhs_list(t: &TunnelStatus) -> Vec<Value> {
    t.nhs
        .iter()
        .map(|n| {
            json!({
                "address": n.protocol_addr.to_string(),
                "nbma": n.nbma_addr.to_string(),
                "up": n.up,
                "expecting": n.expecting,
            })
        })
        .collect()
}

fn nhs(t: &TunnelStatus) -> Value {
    json!({ "nhs": nhs_list(t) })
}

/// The packet types in the order of `Traffic`'s counters (slot 0: unknown types).
const TYPES: [&str; 9] = [
    "unknown",
    "resolution_request",
    "resolution_reply",
    "registration_request",
    "registration_reply",
    "purge_request",
    "purge_reply",
    "error_indication",
    "traffic_indication",
];

fn traffic(t: &TunnelStatus) -> Value {
    let counts = |c: &[u64; 9]| {
        let m: serde_json::Map<String, Value> = TYPES
            .iter()
            .zip(c.iter())
            .map(|(k, v)| ((*k).to_string(), json!(v)))
            .collect();
        Value::Object(m)
    };
    json!({
        "sent": counts(&t.traffic.sent),
        "received": counts(&t.traffic.received),
        "max_send": t.traffic.max_send,
        "max_send_seconds": t.traffic.max_send_secs,
        "window_usage": t.traffic.window_usage,
    })
}

fn esp(s: &EspSaStatus) -> Value {
    json!({
        "spi": format!("0x{:08X}", s.spi),
        "suite": s.suite.to_string(),
        "mode": format!("{:?}", s.mode).to_lowercase(),
        "packets": s.counters.pkts_encaps.max(s.counters.pkts_decaps),
        "bytes": s.counters.bytes,
        "remaining_seconds": s.remaining.time.map(|d| d.as_secs()),
        "remaining_kilobytes": s.remaining.bytes.map(|b| b / 1024),
        "expired": s.expired,
        "current": s.current,
    })
}

fn group(g: &CryptoStatus) -> Value {
    let ike: Vec<Value> = g
        .ike_sas
        .iter()
        .map(|s| {
            json!({
                "id": s.sa.0,
                "local": s.local.to_string(),
                "remote": s.remote.to_string(),
                "state": format!("{:?}", s.state),
                "initiator": s.initiator,
                "spi_i": format!("{:016X}", s.spi_i),
                "spi_r": format!("{:016X}", s.spi_r),
                "suite": s.suite.as_ref().map(|x| x.to_string()),
                "peer_id": s.peer_id.as_ref().map(|x| x.to_string()),
                "nat": s.nat,
                "age_seconds": s.age.as_secs(),
                "children": s.children.len(),
            })
        })
        .collect();
    let peers: Vec<Value> = g
        .peers
        .iter()
        .map(|p| {
            json!({
                "peer": p.peer.to_string(),
                "port": p.peer_port(),
                "interface": p.interface,
                "state": p.state.to_string(),
                "up_seconds": p.up_for.map(|d| d.as_secs()),
                "active_sas": p.active_sas(),
                "inbound": p.inbound.iter().map(esp).collect::<Vec<_>>(),
                "outbound": p.outbound.iter().map(esp).collect::<Vec<_>>(),
                "dpd": p.dpd,
            })
        })
        .collect();
    let st = &g.stats;
    json!({
        "source": g.source.to_string(),
        "profile": g.profile,
        "interfaces": g.interfaces,
        "proposals": g.proposals,
        "ike_sas": ike,
        "peers": peers,
        "stats": {
            "esp_in": st.esp_in, "esp_out": st.esp_out, "esp_dropped": st.esp_dropped,
            "cleartext_dropped": st.cleartext_dropped, "no_sa_dropped": st.no_sa_dropped,
            "ike_in": st.ike_in, "ike_dropped": st.ike_dropped, "initiated": st.initiated,
            "refused": st.refused, "nat_moves": st.nat_moves,
        },
    })
}

/// The ISAKMP SAs: each a row of `show crypto isakmp sa` (`dst` the responder, `src` the
/// initiator, IOS's state and status) with the SA's tunnel source, ports, cookies, suite and
/// timers.
fn isakmp_sas(crypto: &[CryptoStatus]) -> Vec<Value> {
    crypto
        .iter()
        .flat_map(|g| g.isakmp_sas.iter().map(move |s| (g, s)))
        .map(|(g, s)| {
            let row = IsakmpSaRow::of(s);
            json!({
                "source": g.source.to_string(),
                "dst": row.dst.to_string(),
                "src": row.src.to_string(),
                "state": row.state.to_string(),
                "conn_id": row.conn_id,
                "status": row.status.to_string(),
                "local": s.local.to_string(),
                "remote": s.remote.to_string(),
                "initiator": s.initiator,
                "cookie_i": format!("{:016x}", s.cookie_i),
                "cookie_r": format!("{:016x}", s.cookie_r),
                "suite": s.suite.as_ref().map(|x| x.to_string()),
                "remaining_seconds": s.remaining.map(|d| d.as_secs()),
                "nat": s.nat,
                "dpd": s.dpd,
                "ipsec_sas": s.children.len(),
            })
        })
        .collect()
}
