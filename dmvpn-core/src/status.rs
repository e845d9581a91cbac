//! Status as data ([`Status`]) and as the IOS text of seed 002: `show dmvpn`, `show ip nhrp`,
//! `show ip nhrp nhs`, `show ip nhrp traffic`.

use core::fmt::{self, Write as _};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dmvpn_nhrp::{Entry, EntryFlags, EntryType, NhsStatus, Traffic};
use ipnet::IpNet;

use crate::node::{Iface, Node, NodeStats, Role};
use crate::status_crypto::PeerCrypto;

/// A snapshot of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Host name.
    pub hostname: String,
    /// Data-path counters.
    pub stats: NodeStats,
    /// One per tunnel interface.
    pub tunnels: Vec<TunnelStatus>,
}

/// The state of an NBMA peer in `show dmvpn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Mapped and usable.
    Up,
    /// Known to NHRP but not answering (an NHS not responding).
    Nhrp,
    /// A resolution is in progress (no NBMA address yet).
    Incomplete,
}

impl fmt::Display for PeerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerState::Up => "UP",
            PeerState::Nhrp | PeerState::Incomplete => "NHRP",
        })
    }
}

/// One line of `show dmvpn`: an NBMA peer and its mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer's NBMA address (none while incomplete).
    pub nbma: Option<IpAddr>,
    /// Its tunnel address.
    pub tunnel_addr: IpAddr,
    /// NHRP entries with this NBMA peer (`# Ent`).
    pub entries: usize,
    /// State.
    pub state: PeerState,
    /// Time since it came up (`UpDn Tm`).
    pub up_for: Duration,
    /// S static, D dynamic, I incomplete, N NATed.
    pub attributes: String,
    /// The peer's IPsec state on a protected interface (`show dmvpn detail`); `None` on an
    /// unprotected one.
    pub crypto: Option<PeerCrypto>,
    /// The effective MTU towards the peer ([`Node::tunnel_mtu`]): `ip mtu`, or less when the
    /// underlay cannot carry it after the encapsulation. `None` while unknown (no NBMA address
    /// yet, or a protected interface without an IPsec SA to the peer).
    pub mtu: Option<u16>,
    /// The bytes the encapsulation towards the peer adds (outer IP, GRE, ESP), when known
    /// ([`Node::tunnel_overhead`]).
    pub overhead: Option<u16>,
}

/// One tunnel interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelStatus {
    /// Index in the configuration.
    pub index: usize,
    /// Interface name.
    pub name: String,
    /// Hub, spoke or both.
    pub role: Role,
    /// Overlay address and subnet.
    pub address: IpNet,
    /// NBMA source address.
    pub source: IpAddr,
    /// This node's NBMA address as its NHS sees it, when behind NAT.
    pub public_nbma: Option<IpAddr>,
    /// `tunnel key`.
    pub key: Option<u32>,
    /// `ip mtu`.
    pub mtu: u16,
    /// The underlay interface's MTU ([`TunnelConfig::underlay_mtu`](crate::config::TunnelConfig::underlay_mtu)).
    pub underlay_mtu: u16,
    /// `ip tcp adjust-mss`.
    pub adjust_mss: Option<u16>,
    /// `ip nhrp network-id`.
    pub network_id: u32,
    /// NBMA peers (`show dmvpn`).
    pub peers: Vec<PeerStatus>,
    /// NHSs (`show ip nhrp nhs`).
    pub nhs: Vec<NhsStatus>,
    /// NHRP cache and registration entries (`show ip nhrp`), sorted by prefix.
    pub entries: Vec<Entry>,
    /// NHRP counters (`show ip nhrp traffic`), client and server together.
    pub traffic: Traffic,
    /// NHRP drop counters, client and server together.
    pub nhrp: dmvpn_nhrp::Stats,
    /// GRE counters, with drops by reason (key mismatch, malformed, …).
    pub gre: dmvpn_gre::Counters,
}

fn add_stats(a: &mut dmvpn_nhrp::Stats, b: dmvpn_nhrp::Stats) {
    a.malformed += b.malformed;
    a.authentication_failures += b.authentication_failures;
    a.unmatched_replies += b.unmatched_replies;
    a.dropped += b.dropped;
    a.error_indications_sent += b.error_indications_sent;
    a.over_quota += b.over_quota;
    a.quota_dropped += b.quota_dropped;
    a.transmits_dropped += b.transmits_dropped;
    a.events_dropped += b.events_dropped;
    a.table_full += b.table_full;
    a.emit_errors += b.emit_errors;
    a.purges_refused += b.purges_refused;
    a.registrations_refused += b.registrations_refused;
}

fn add_traffic(a: &mut Traffic, b: &Traffic) {
    for (x, y) in a.sent.iter_mut().zip(b.sent.iter()) {
        *x = x.saturating_add(*y);
    }
    for (x, y) in a.received.iter_mut().zip(b.received.iter()) {
        *x = x.saturating_add(*y);
    }
    a.window_usage = a.window_usage.saturating_add(b.window_usage);
}

/// The entries of an interface: the client's cache, then the server's (without the static
/// maps both hold on a hub that is also a spoke).
fn entries(f: &Iface) -> Vec<Entry> {
    let mut out: Vec<Entry> = f.client.iter().flat_map(|c| c.cache().iter()).collect();
    let both = f.client.is_some();
    out.extend(
        f.server
            .iter()
            .flat_map(|s| s.cache().iter())
            .filter(|e| !(both && e.kind == EntryType::Static)),
    );
    out.sort_by_key(|e| e.prefix);
    out
}

fn peers(f: &Iface, nhs: &[NhsStatus], entries: &[Entry], now: Instant) -> Vec<PeerStatus> {
    let mut groups: BTreeMap<(Option<IpAddr>, IpAddr), Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        match e.kind {
            EntryType::Static | EntryType::Dynamic => {
                if let Some(n) = e.effective_nbma() {
                    groups.entry((Some(n), n)).or_default().push(e);
                }
            }
            EntryType::Incomplete => groups.entry((None, e.next_hop)).or_default().push(e),
            EntryType::Local | EntryType::Negative => {}
        }
    }
    groups
        .into_iter()
        .filter_map(|((nbma, _), es)| {
            let first = es.iter().min_by_key(|e| (!e.prefix.is_host(), e.prefix))?;
            let state = match (nbma, first.kind) {
                (None, _) => PeerState::Incomplete,
                (Some(n), EntryType::Static) if nhs.iter().any(|s| s.nbma_addr == n && !s.up) => {
                    PeerState::Nhrp
                }
                _ => PeerState::Up,
            };
            let since = nbma
                .and_then(|n| f.peers.get(&n))
                .map_or(first.created, |p| p.since);
            let mut attributes = String::from(match first.kind {
                EntryType::Static => "S",
                EntryType::Incomplete => "I",
                _ => "D",
            });
            if es.iter().any(|e| e.flags.contains(EntryFlags::NAT)) {
                attributes.push('N');
            }
            Some(PeerStatus {
                nbma,
                tunnel_addr: first.next_hop,
                entries: es.len(),
                state,
                up_for: now.saturating_duration_since(since),
                attributes,
                crypto: None,
                mtu: None,
                overhead: None,
            })
        })
        .collect()
}

pub(crate) fn hms(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        format!("{}d{:02}h", s / 86_400, (s / 3600) % 24)
    } else {
        format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

fn kind_name(k: EntryType) -> &'static str {
    match k {
        EntryType::Static => "static",
        EntryType::Dynamic => "dynamic",
        EntryType::Incomplete => "incomplete",
        EntryType::Negative => "negative",
        EntryType::Local => "local",
    }
}

impl Node {
    /// A snapshot of every interface at `now`.
    pub fn status(&self, now: Instant) -> Status {
        let tunnels = self
            .ifaces
            .iter()
            .enumerate()
            .map(|(index, f)| {
                let nhs = f
                    .client
                    .as_ref()
                    .map(|c| c.nhs_status())
                    .unwrap_or_default();
                let entries = entries(f);
                let mut peers = peers(f, &nhs, &entries, now);
                self.attach_crypto(now, index, &mut peers);
                for p in &mut peers {
                    if let Some(n) = p.nbma {
                        p.mtu = self.tunnel_mtu(index, n);
                        p.overhead = self.tunnel_overhead(index, n);
                    }
                }
                let mut traffic = Traffic {
                    interface: f.cfg.name.clone(),
                    max_send: f.cfg.nhrp.max_send.packets,
                    max_send_secs: u64::from(f.cfg.nhrp.max_send.every_secs),
                    ..Traffic::default()
                };
                let mut stats = dmvpn_nhrp::Stats::default();
                if let Some(c) = &f.client {
                    add_traffic(&mut traffic, &c.traffic(now));
                    add_stats(&mut stats, c.stats());
                }
                if let Some(s) = &f.server {
                    add_traffic(&mut traffic, &s.traffic(now));
                    add_stats(&mut stats, s.stats());
                }
                TunnelStatus {
                    index,
                    name: f.cfg.name.clone(),
                    role: f.role(),
                    address: f.cfg.address,
                    source: f.cfg.source,
                    public_nbma: f.client.as_ref().and_then(|c| c.public_nbma()),
                    key: f.cfg.key,
                    mtu: f.cfg.mtu,
                    underlay_mtu: f.cfg.underlay_mtu,
                    adjust_mss: f.cfg.adjust_mss,
                    network_id: f.cfg.nhrp.network_id,
                    peers,
                    nhs,
                    entries,
                    traffic,
                    nhrp: stats,
                    gre: *f.gre.totals(),
                }
            })
            .collect();
        Status {
            hostname: self.hostname.clone(),
            stats: self.stats,
            tunnels,
        }
    }

    /// `show dmvpn` at `now`.
    pub fn show_dmvpn(&self, now: Instant) -> String {
        self.status(now).show_dmvpn()
    }

    /// `show ip nhrp` at `now`.
    pub fn show_ip_nhrp(&self, now: Instant) -> String {
        self.status(now).show_ip_nhrp(now)
    }

    /// `show ip nhrp brief` at `now`.
    pub fn show_ip_nhrp_brief(&self, now: Instant) -> String {
        self.status(now).show_ip_nhrp_brief()
    }

    /// `show ip nhrp nhs` at `now`.
    pub fn show_ip_nhrp_nhs(&self, now: Instant) -> String {
        self.status(now).show_ip_nhrp_nhs()
    }

    /// `show ip nhrp traffic` at `now`.
    pub fn show_ip_nhrp_traffic(&self, now: Instant) -> String {
        self.status(now).show_ip_nhrp_traffic()
    }
}

impl Status {
    /// `show dmvpn`.
    pub fn show_dmvpn(&self) -> String {
        let mut s = String::new();
        let _ = self.write_dmvpn(&mut s);
        s
    }

    fn write_dmvpn(&self, s: &mut String) -> fmt::Result {
        write_dmvpn_legend(s)?;
        for t in &self.tunnels {
            write_dmvpn_tunnel(s, t)?;
        }
        Ok(())
    }

    /// `show ip nhrp`, with ages and expiry times relative to `now` (the time the snapshot
    /// was taken).
    pub fn show_ip_nhrp(&self, now: Instant) -> String {
        let mut s = String::new();
        for t in &self.tunnels {
            for e in &t.entries {
                let _ = write_entry(&mut s, e, &t.name, now);
            }
        }
        s
    }

    /// `show ip nhrp brief`, in seed 004's layout: one line per static or dynamic entry
    /// (incomplete, negative and local ones are not shown), the interface abbreviated as IOS
    /// does (`Tu0`), and the NBMA address the peer claimed when it is behind a NAT.
    pub fn show_ip_nhrp_brief(&self) -> String {
        let mut s = String::from(
            "   Target             Via            NBMA           Mode   Intfc   Claimed\n",
        );
        for t in &self.tunnels {
            let intfc = t.name.replace("Tunnel", "Tu");
            for e in &t.entries {
                let mode = match e.kind {
                    EntryType::Static => "static",
                    EntryType::Dynamic => "dynamic",
                    _ => continue,
                };
                let nbma = e.effective_nbma().map_or("-".into(), |a| a.to_string());
                let claimed = match (e.nbma, e.nat_nbma) {
                    (Some(c), Some(_)) => format!("<{c}>"),
                    _ => "< >".into(),
                };
                let _ = writeln!(
                    s,
                    "{:<18} {:<15} {:<15} {:<7} {:<7} {claimed}",
                    e.prefix.to_string(),
                    e.next_hop,
                    nbma,
                    mode,
                    intfc
                );
            }
        }
        s
    }

    /// `show ip nhrp nhs`.
    pub fn show_ip_nhrp_nhs(&self) -> String {
        let mut s = String::from("Legend: E=Expecting replies, R=Responding\n");
        for t in self.tunnels.iter().filter(|t| !t.nhs.is_empty()) {
            let _ = writeln!(s, "{}:", t.name);
            for n in &t.nhs {
                let flags = format!(
                    "{}{}",
                    if n.up { "R" } else { "" },
                    if n.expecting { "E" } else { "" }
                );
                let _ = writeln!(s, "{} {flags}", n.protocol_addr);
            }
        }
        s
    }

    /// `show ip nhrp traffic`.
    pub fn show_ip_nhrp_traffic(&self) -> String {
        self.tunnels.iter().map(|t| t.traffic.to_string()).collect()
    }
}

/// The legend of `show dmvpn` (and `show dmvpn detail`).
pub(crate) fn write_dmvpn_legend(s: &mut String) -> fmt::Result {
    writeln!(
        s,
        "Legend: Attrb --> S - Static, D - Dynamic, I - Incomplete"
    )?;
    writeln!(s, "        N - NATed, L - Local, X - No Socket")?;
    writeln!(
        s,
        "        # Ent --> Number of NHRP entries with same NBMA peer"
    )?;
    writeln!(
        s,
        "        NHS Status: E --> Expecting Replies, R --> Responding"
    )?;
    writeln!(s, "        UpDn Time --> Up or Down Time for a Tunnel")?;
    writeln!(s, "{}", "=".repeat(74))?;
    Ok(())
}

/// One interface of `show dmvpn`: its header and its NBMA peers. An IPv4 overlay's peers
/// are a table; an IPv6 overlay's, whose addresses do not fit 15-character columns, are one
/// block each, as IOS prints them ([`write_dmvpn_peers_v6`]).
pub(crate) fn write_dmvpn_tunnel(s: &mut String, t: &TunnelStatus) -> fmt::Result {
    writeln!(s)?;
    if t.address.addr().is_ipv6() {
        return write_dmvpn_peers_v6(s, t);
    }
    writeln!(s, "Interface: {}, IPv4 NHRP Details", t.name)?;
    writeln!(s, "Type:{}, NHRP Peers:{},", t.role, t.peers.len())?;
    writeln!(s)?;
    writeln!(
        s,
        " # Ent  Peer NBMA Addr Peer Tunnel Add State  UpDn Tm Attrb"
    )?;
    writeln!(
        s,
        " ----- --------------- --------------- ----- -------- -----"
    )?;
    for p in &t.peers {
        let nbma = p
            .nbma
            .map_or_else(|| "UNKNOWN".to_string(), |n| n.to_string());
        writeln!(
            s,
            " {:>5} {:>15} {:>15} {:>5} {:>8} {:>5}",
            p.entries,
            nbma,
            p.tunnel_addr,
            p.state.to_string(),
            hms(p.up_for),
            p.attributes
        )?;
    }
    Ok(())
}

/// The peers of an IPv6-overlay interface in IOS's IPv6 layout (`show dmvpn` on an `ipv6
/// nhrp` interface): a numbered block per NBMA peer, its tunnel address on a line of its own.
///
/// ```text
/// Interface: Tunnel0, IPv6 NHRP Details
/// Type:Spoke, Total NBMA Peers (v4/v6): 1
///
/// 1.Peer NBMA Address: 2001:db8:ffff::1
///         Tunnel IPv6 Address: 2001:db8::1
///         # Ent: 1, Status: UP, UpDn Time: 00:00:09, Cache Attrib: S
/// ```
fn write_dmvpn_peers_v6(s: &mut String, t: &TunnelStatus) -> fmt::Result {
    writeln!(s, "Interface: {}, IPv6 NHRP Details", t.name)?;
    writeln!(
        s,
        "Type:{}, Total NBMA Peers (v4/v6): {}",
        t.role,
        t.peers.len()
    )?;
    writeln!(s)?;
    for (i, p) in t.peers.iter().enumerate() {
        let nbma = p
            .nbma
            .map_or_else(|| "UNKNOWN".to_string(), |n| n.to_string());
        writeln!(s, "{}.Peer NBMA Address: {nbma}", i + 1)?;
        writeln!(s, "        Tunnel IPv6 Address: {}", p.tunnel_addr)?;
        writeln!(
            s,
            "        # Ent: {}, Status: {}, UpDn Time: {}, Cache Attrib: {}",
            p.entries,
            p.state,
            hms(p.up_for),
            p.attributes
        )?;
    }
    Ok(())
}

fn write_entry(s: &mut String, e: &Entry, interface: &str, now: Instant) -> fmt::Result {
    write!(
        s,
        "{} via {}, {} created {}, ",
        e.prefix,
        e.next_hop,
        interface,
        hms(now.saturating_duration_since(e.created))
    )?;
    match e.expires {
        Some(t) => writeln!(s, "expire {}", hms(t.saturating_duration_since(now)))?,
        None => writeln!(s, "never expire")?,
    }
    writeln!(s, "  Type: {}, Flags: {}", kind_name(e.kind), e.flags)?;
    if let Some(nbma) = e.effective_nbma() {
        writeln!(s, "  NBMA address: {nbma}")?;
    }
    if let (Some(claimed), Some(_)) = (e.nbma, e.nat_nbma) {
        writeln!(s, "    (Claimed NBMA address: {claimed})")?;
    }
    Ok(())
}
