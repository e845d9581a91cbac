//! The crypto state of a protected node (`tunnel protection ipsec profile`) as data
//! ([`CryptoStatus`], [`PeerCrypto`], [`EspSaStatus`]) and as the IOS text of `show crypto
//! ikev2 sa`, `show crypto ipsec sa` (seed 004's layout), `show crypto session` and `show
//! dmvpn detail`.
//!
//! Everything comes from ordered tables (the groups' peers and child SAs, the IKE endpoint's SA
//! table, the SA database), so two identical runs print identical text. Nothing here prints
//! key material: SPIs, algorithms, counters and lifetimes only.
//!
//! What the node does not know it does not make up: there is no VRF (`none`, `(none)`), no
//! connection id beyond the IKE SA's own number, and the underlay's MTU (`path mtu`, `ip mtu`)
//! is the configured [`TunnelConfig::underlay_mtu`](crate::config::TunnelConfig::underlay_mtu)
//! (Ethernet's 1500 by default), as the node never learns the NBMA interface's MTU itself.

use core::fmt::{self, Write as _};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dmvpn_esp::{Counters, EncryptionAlgorithm, IntegrityAlgorithm, Lifetime, Mode, Suite};
use dmvpn_ikev2::transform::PrfId;
use dmvpn_ikev2::{IkeSaStatus, IkeState};

use crate::node::{CryptoStats, Node};
use crate::status::{PeerStatus, Status, TunnelStatus, hms};

/// GRE, the protocol every DMVPN flow protects.
const GRE: u8 = 47;

/// The state of a crypto session, as `show crypto session` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// The IKE SA is established and ESP SAs carry the traffic (`UP-ACTIVE`).
    UpActive,
    /// The IKE SA is established but no ESP SA is installed (`UP-IDLE`).
    UpIdle,
    /// ESP SAs are installed but their IKE SA is gone (`UP-NO-IKE`).
    UpNoIke,
    /// An IKE SA is being negotiated (`DOWN-NEGOTIATING`).
    DownNegotiating,
    /// Nothing: the peer is known but no SA is up or under way (`DOWN`).
    Down,
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionState::UpActive => "UP-ACTIVE",
            SessionState::UpIdle => "UP-IDLE",
            SessionState::UpNoIke => "UP-NO-IKE",
            SessionState::DownNegotiating => "DOWN-NEGOTIATING",
            SessionState::Down => "DOWN",
        })
    }
}

/// One installed ESP SA (one direction) in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspSaStatus {
    /// The SPI (inbound: ours; outbound: the peer's).
    pub spi: u32,
    /// Its algorithms.
    pub suite: Suite,
    /// Transport (DMVPN's) or tunnel mode.
    pub mode: Mode,
    /// Its packet counters.
    pub counters: Counters,
    /// What is left of its hard lifetime (time, payload bytes).
    pub remaining: Lifetime,
    /// Whether a hard lifetime was reached (it refuses packets, and goes at the next timeout).
    pub expired: bool,
    /// Whether it carries this node's traffic to the peer now (outbound: the newest SA;
    /// inbound: always).
    pub current: bool,
}

/// The crypto state of one NBMA peer: its IKE SA, its ESP SAs and the session state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCrypto {
    /// The tunnel interface the peer is mapped on (the group's first one if none).
    pub interface: String,
    /// `tunnel protection ipsec profile`.
    pub profile: String,
    /// This node's crypto endpoint (the tunnel source).
    pub local: IpAddr,
    /// The peer's NBMA address.
    pub peer: IpAddr,
    /// The session state.
    pub state: SessionState,
    /// The IKE SA that carries (or is negotiating) the peer's child SAs.
    pub ike: Option<IkeSaStatus>,
    /// The configured IKE SA lifetime (`crypto ikev2 profile … lifetime`).
    pub ike_lifetime: Duration,
    /// Time since the peer's current IKE SA came up.
    pub up_for: Option<Duration>,
    /// Inbound ESP SAs, in SPI order.
    pub inbound: Vec<EspSaStatus>,
    /// Outbound ESP SAs, in SPI order.
    pub outbound: Vec<EspSaStatus>,
    /// The outbound SA carrying traffic to the peer now.
    pub current_outbound_spi: Option<u32>,
    /// Whether liveness checks run (`crypto ikev2 dpd`).
    pub dpd: bool,
}

impl PeerCrypto {
    /// Installed ESP SAs, both directions (`Active SAs`).
    pub fn active_sas(&self) -> usize {
        let live = |v: &[EspSaStatus]| v.iter().filter(|s| !s.expired).count();
        live(&self.inbound) + live(&self.outbound)
    }

    /// The port IKE talks to the peer on (500, or 4500 behind NAT).
    pub fn peer_port(&self) -> u16 {
        self.ike.as_ref().map_or(500, |s| s.remote.port())
    }

    fn newest_inbound(&self) -> Option<&EspSaStatus> {
        self.inbound
            .iter()
            .max_by_key(|s| (s.remaining.time, s.spi))
    }

    fn current_outbound(&self) -> Option<&EspSaStatus> {
        let spi = self.current_outbound_spi?;
        self.outbound.iter().find(|s| s.spi == spi)
    }
}

/// The crypto group of one tunnel source: its protected interfaces, IKE SAs, peers and
/// counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoStatus {
    /// The tunnel source (the group's local crypto endpoint).
    pub source: IpAddr,
    /// `tunnel protection ipsec profile`.
    pub profile: String,
    /// The protected interfaces, in configuration order.
    pub interfaces: Vec<String>,
    /// The profile's ESP proposals (strongSwan syntax).
    pub proposals: String,
    /// Every IKE SA of the group's endpoint, by id (IKEv2 groups).
    pub ike_sas: Vec<IkeSaStatus>,
    /// Every ISAKMP SA of the group's endpoint, by id (IKEv1 groups: `crypto isakmp`).
    pub isakmp_sas: Vec<dmvpn_ikev1::IsakmpSaStatus>,
    /// The configured IKE SA lifetime.
    pub ike_lifetime: Duration,
    /// The MTU of the underlay interface the tunnel source is on (the smallest
    /// [`TunnelConfig::underlay_mtu`](crate::config::TunnelConfig::underlay_mtu) of the
    /// group's interfaces).
    pub underlay_mtu: u16,
    /// Every peer with a mapping, an SA or a negotiation, by address.
    pub peers: Vec<PeerCrypto>,
    /// The group's counters.
    pub stats: CryptoStats,
}

fn esp_status(
    spi: u32,
    suite: Suite,
    mode: Mode,
    counters: Counters,
    remaining: Lifetime,
    expired: bool,
    current: bool,
) -> EspSaStatus {
    EspSaStatus {
        spi,
        suite,
        mode,
        counters,
        remaining,
        expired,
        current,
    }
}

impl Node {
    /// The crypto state of every protected tunnel source, in configuration order (empty on an
    /// unprotected node).
    pub fn crypto_status(&self, now: Instant) -> Vec<CryptoStatus> {
        (0..self.groups.len())
            .filter_map(|g| self.crypto_group(now, g))
            .collect()
    }

    fn crypto_group(&self, now: Instant, g: usize) -> Option<CryptoStatus> {
        let grp = self.groups.get(g)?;
        Some(CryptoStatus {
            source: grp.source,
            profile: grp.profile.to_string(),
            // A dual-stack interface's two overlays are one interface here.
            interfaces: grp
                .ifaces
                .iter()
                .filter_map(|i| self.ifaces.get(*i).map(|f| f.cfg.name.clone()))
                .fold(Vec::new(), |mut names, n| {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                    names
                }),
            proposals: grp.transform.clone(),
            ike_sas: grp.ep.v2().map(|e| e.status(now)).unwrap_or_default(),
            isakmp_sas: grp.ep.v1().map(|e| e.status(now)).unwrap_or_default(),
            ike_lifetime: grp.ep.ike_lifetime(),
            underlay_mtu: grp
                .ifaces
                .iter()
                .filter_map(|i| self.ifaces.get(*i).map(|f| f.cfg.underlay_mtu))
                .min()
                .unwrap_or(1500),
            peers: self.crypto_peers(now, g),
            stats: grp.stats,
        })
    }

    /// The peers of crypto group `g`, by address.
    fn crypto_peers(&self, now: Instant, g: usize) -> Vec<PeerCrypto> {
        let Some(grp) = self.groups.get(g) else {
            return Vec::new();
        };
        let ike_lifetime = grp.ep.ike_lifetime();
        let dpd = grp.ep.dpd();
        let name = |i: usize| self.ifaces.get(i).map(|f| f.cfg.name.clone());
        // One pass over the child SAs (keyed by inbound SPI), so a hub with many spokes costs
        // O(n log n), not a scan per peer.
        let mut children: BTreeMap<IpAddr, Vec<(u32, u32)>> = BTreeMap::new();
        for (spi, c) in &grp.children {
            children
                .entry(c.peer)
                .or_default()
                .push((*spi, c.outbound_spi));
        }
        let addrs: BTreeSet<IpAddr> = grp.peers.keys().chain(children.keys()).copied().collect();
        addrs
            .into_iter()
            .map(|peer| {
                let p = grp.peers.get(&peer);
                let kids = children.get(&peer).map(Vec::as_slice).unwrap_or_default();
                let current_outbound_spi = grp.sadb.outbound_for(peer).map(|o| o.spi());
                let inbound: Vec<EspSaStatus> = kids
                    .iter()
                    .filter_map(|(spi, _)| grp.sadb.inbound(*spi))
                    .map(|sa| {
                        esp_status(
                            sa.spi(),
                            sa.suite(),
                            sa.mode(),
                            *sa.counters(),
                            sa.remaining_lifetime(now),
                            sa.is_expired(),
                            true,
                        )
                    })
                    .collect();
                let outs: BTreeSet<u32> = kids.iter().map(|(_, o)| *o).collect();
                let outbound: Vec<EspSaStatus> = outs
                    .into_iter()
                    .filter_map(|spi| grp.sadb.outbound(spi))
                    .map(|sa| {
                        esp_status(
                            sa.spi(),
                            sa.suite(),
                            sa.mode(),
                            *sa.counters(),
                            sa.remaining_lifetime(now),
                            sa.is_expired(),
                            Some(sa.spi()) == current_outbound_spi,
                        )
                    })
                    .collect();
                let established = p.and_then(|p| p.ike).map(|(sa, _)| sa);
                let negotiating = p.and_then(|p| p.negotiating);
                let ike = established
                    .or(negotiating)
                    .and_then(|sa| grp.ep.v2().and_then(|e| e.sa_status(now, sa)));
                let up = established.is_some_and(|sa| grp.ep.is_established(now, sa));
                let negotiating_v1 = grp.ep.is_v1() && negotiating.is_some();
                let any_sa = !(inbound.is_empty() && outbound.is_empty());
                let state = match (up, any_sa) {
                    (true, true) => SessionState::UpActive,
                    (true, false) => SessionState::UpIdle,
                    (false, true) => SessionState::UpNoIke,
                    (false, false) if negotiating.is_some() || ike.is_some() || negotiating_v1 => {
                        SessionState::DownNegotiating
                    }
                    (false, false) => SessionState::Down,
                };
                let interface = grp
                    .ifaces
                    .iter()
                    .find(|i| {
                        self.ifaces
                            .get(**i)
                            .is_some_and(|f| f.peers.contains_key(&peer))
                    })
                    .or(grp.ifaces.first())
                    .and_then(|i| name(*i))
                    .unwrap_or_default();
                PeerCrypto {
                    interface,
                    profile: grp.profile.to_string(),
                    local: grp.source,
                    peer,
                    state,
                    ike,
                    ike_lifetime,
                    up_for: p
                        .and_then(|p| p.up_since)
                        .map(|t| now.saturating_duration_since(t)),
                    inbound,
                    outbound,
                    current_outbound_spi,
                    dpd,
                }
            })
            .collect()
    }

    /// Fills in the crypto state of the NBMA peers of tunnel interface `t` (for
    /// [`Node::status`]); peers of an unprotected interface keep `None`.
    pub(crate) fn attach_crypto(&self, now: Instant, t: usize, peers: &mut [PeerStatus]) {
        let Some(g) = self.ifaces.get(t).and_then(|f| f.protect) else {
            return;
        };
        let mut by_addr: BTreeMap<IpAddr, PeerCrypto> = self
            .crypto_peers(now, g)
            .into_iter()
            .map(|p| (p.peer, p))
            .collect();
        for p in peers.iter_mut() {
            p.crypto = p.nbma.and_then(|n| by_addr.remove(&n));
        }
    }

    /// `show crypto ikev2 sa` at `now`: every IKE SA, IPv4 then IPv6, with its algorithms,
    /// configured lifetime and age.
    pub fn show_crypto_ikev2_sa(&self, now: Instant) -> String {
        let groups = self.crypto_status(now);
        let mut s = String::new();
        let _ = write_ikev2_sa(&mut s, &groups);
        s
    }

    /// `show crypto ipsec sa` at `now` (seed 004's layout): per interface and peer, the flow's
    /// selectors, the counters of its installed SAs, then each SA with its transform and
    /// remaining lifetime. `No SAs found` on an unprotected node.
    pub fn show_crypto_ipsec_sa(&self, now: Instant) -> String {
        let groups = self.crypto_status(now);
        let mut s = String::new();
        let _ = write_ipsec_sa(&mut s, &groups);
        s
    }

    /// `show crypto session` at `now`: per interface and peer, the session state, the IKE SA
    /// and the GRE flow with its number of SAs. Only the title on an unprotected node.
    pub fn show_crypto_session(&self, now: Instant) -> String {
        let groups = self.crypto_status(now);
        let mut s = String::new();
        let _ = write_session(&mut s, &groups);
        s
    }

    /// `show dmvpn detail` at `now`: `show dmvpn`, each interface followed by its MTU and
    /// the effective MTU towards each peer, then the crypto session details of its peers (see
    /// [`Status::show_dmvpn_detail`]).
    pub fn show_dmvpn_detail(&self, now: Instant) -> String {
        self.status(now).show_dmvpn_detail()
    }
}

impl Status {
    /// `show dmvpn detail`: what `show dmvpn` prints, each interface followed by its MTU
    /// settings and one line per NBMA peer with the effective MTU towards it and the
    /// encapsulation overhead ([`PeerStatus::mtu`], [`PeerStatus::overhead`]), then the crypto
    /// session details of its peers (from [`PeerStatus::crypto`]):
    ///
    /// ```text
    ///  IP MTU 1400 bytes, underlay MTU 1500 bytes, TCP adjust-mss 1360
    ///  Peer 172.17.0.1: MTU 1400 bytes, overhead 85 bytes
    ///  Peer 172.16.2.1: MTU unknown (no IPsec SA)
    /// ```
    pub fn show_dmvpn_detail(&self) -> String {
        let mut s = String::new();
        let _ = self.write_dmvpn_detail(&mut s);
        s
    }

    fn write_dmvpn_detail(&self, s: &mut String) -> fmt::Result {
        crate::status::write_dmvpn_legend(s)?;
        for t in &self.tunnels {
            crate::status::write_dmvpn_tunnel(s, t)?;
            write_mtu_details(s, t)?;
            write_crypto_details(s, t)?;
        }
        Ok(())
    }
}

/// The MTU lines of `show dmvpn detail` (see [`Status::show_dmvpn_detail`]).
fn write_mtu_details(s: &mut String, t: &TunnelStatus) -> fmt::Result {
    writeln!(s)?;
    write!(
        s,
        " IP MTU {} bytes, underlay MTU {} bytes",
        t.mtu, t.underlay_mtu
    )?;
    match t.adjust_mss {
        Some(m) => writeln!(s, ", TCP adjust-mss {m}")?,
        None => writeln!(s)?,
    }
    for p in &t.peers {
        let Some(nbma) = p.nbma else { continue };
        match (p.mtu, p.overhead) {
            (Some(m), Some(o)) => writeln!(s, " Peer {nbma}: MTU {m} bytes, overhead {o} bytes")?,
            _ => writeln!(s, " Peer {nbma}: MTU unknown (no IPsec SA)")?,
        }
    }
    Ok(())
}

fn write_crypto_details(s: &mut String, t: &TunnelStatus) -> fmt::Result {
    let crypto: Vec<&PeerCrypto> = t.peers.iter().filter_map(|p| p.crypto.as_ref()).collect();
    if crypto.is_empty() {
        return Ok(());
    }
    writeln!(s)?;
    writeln!(s, "Crypto Session Details:")?;
    writeln!(s, "{}", "-".repeat(80))?;
    for c in crypto {
        writeln!(s)?;
        writeln!(s, "Interface: {}", t.name)?;
        if let Some(ike) = &c.ike {
            writeln!(
                s,
                "  IKEv2 SA: local {} remote {} {}",
                slash(ike.local),
                slash(ike.remote),
                ike_word(ike.state)
            )?;
            writeln!(
                s,
                "          Capabilities:{} connid:{} lifetime:{}",
                capabilities(c.dpd, ike.nat),
                ike.sa.0,
                hms(c.ike_lifetime.saturating_sub(ike.age))
            )?;
        }
        writeln!(s, "  Crypto Session Status: {}", c.state)?;
        let id = c
            .ike
            .as_ref()
            .and_then(|i| i.peer_id.as_ref())
            .map_or_else(|| c.peer.to_string(), ToString::to_string);
        writeln!(s, "  fvrf: (none), Phase1_id: {id}")?;
        writeln!(s, "  IPSEC FLOW: {}", flow(c))?;
        writeln!(
            s,
            "        Active SAs: {}, origin: crypto map",
            c.active_sas()
        )?;
        let sum = |v: &[EspSaStatus], f: fn(&Counters) -> u64| -> u64 {
            v.iter().map(|x| f(&x.counters)).sum()
        };
        writeln!(
            s,
            "        Inbound:  #pkts dec'ed {} drop {} life (KB/Sec) {}",
            sum(&c.inbound, |k| k.pkts_decaps),
            sum(&c.inbound, recv_errors),
            life_pair(c.newest_inbound())
        )?;
        writeln!(
            s,
            "        Outbound: #pkts enc'ed {} drop {} life (KB/Sec) {}",
            sum(&c.outbound, |k| k.pkts_encaps),
            sum(&c.outbound, |k| k.send_errors),
            life_pair(c.current_outbound())
        )?;
        if let Some(o) = c.current_outbound() {
            writeln!(
                s,
                "   Outbound SPI : 0x{:08X}, transform : {}",
                o.spi,
                transform(o.suite)
            )?;
        }
    }
    Ok(())
}

/// IOS's capability letters of an IKE SA: D dead peer detection, N NAT traversal.
fn capabilities(dpd: bool, nat: bool) -> String {
    let s: String = [(dpd, 'D'), (nat, 'N')]
        .into_iter()
        .filter_map(|(on, c)| on.then_some(c))
        .collect();
    if s.is_empty() { "(none)".into() } else { s }
}

/// `addr/port`.
fn slash(a: SocketAddr) -> String {
    format!("{}/{}", a.ip(), a.port())
}

fn ike_word(state: IkeState) -> &'static str {
    match state {
        IkeState::Ready => "Active",
        IkeState::InitSent | IkeState::AuthSent | IkeState::HalfOpen => "Negotiating",
        IkeState::Rekeyed | IkeState::Deleting => "Inactive",
    }
}

fn ike_status_word(state: IkeState) -> &'static str {
    match state {
        IkeState::Ready => "READY",
        IkeState::InitSent | IkeState::AuthSent | IkeState::HalfOpen => "IN-NEG",
        IkeState::Rekeyed | IkeState::Deleting => "DELETE",
    }
}

/// `permit 47 host LOCAL host PEER`.
fn flow(c: &PeerCrypto) -> String {
    format!("permit {GRE} host {} host {}", c.local, c.peer)
}

/// Inbound drops of an SA: replayed, forged and otherwise bad packets.
fn recv_errors(k: &Counters) -> u64 {
    k.recv_errors
        .saturating_add(k.replay_failures)
        .saturating_add(k.integrity_failures)
}

/// `KB/Sec` left, or `-` without an SA.
fn life_pair(sa: Option<&EspSaStatus>) -> String {
    let Some(sa) = sa else {
        return "-".into();
    };
    let kb = sa
        .remaining
        .bytes
        .map_or_else(|| "-".to_string(), |b| (b / 1024).to_string());
    let sec = sa
        .remaining
        .time
        .map_or_else(|| "-".to_string(), |t| t.as_secs().to_string());
    format!("{kb}/{sec}")
}

/// An ESP suite as IOS names its transforms: `esp-256-aes esp-sha256-hmac`, `esp-gcm 256`.
fn transform(suite: Suite) -> String {
    let enc = match suite.encryption {
        EncryptionAlgorithm::AesCbc128 => "esp-aes",
        EncryptionAlgorithm::AesCbc192 => "esp-192-aes",
        EncryptionAlgorithm::AesCbc256 => "esp-256-aes",
        EncryptionAlgorithm::AesGcm128 => "esp-gcm",
        EncryptionAlgorithm::AesGcm256 => "esp-gcm 256",
        EncryptionAlgorithm::Null => "esp-null",
    };
    let integ = match suite.integrity {
        IntegrityAlgorithm::None => None,
        IntegrityAlgorithm::HmacSha1_96 => Some("esp-sha-hmac"),
        IntegrityAlgorithm::HmacSha256_128 => Some("esp-sha256-hmac"),
        IntegrityAlgorithm::HmacSha384_192 => Some("esp-sha384-hmac"),
        IntegrityAlgorithm::HmacSha512_256 => Some("esp-sha512-hmac"),
    };
    match integ {
        Some(i) => format!("{enc} {i}"),
        None => enc.to_string(),
    }
}

fn write_ikev2_sa(s: &mut String, groups: &[CryptoStatus]) -> fmt::Result {
    let sas: Vec<(&IkeSaStatus, Duration)> = groups
        .iter()
        .flat_map(|g| g.ike_sas.iter().map(move |sa| (sa, g.ike_lifetime)))
        .collect();
    for (v6, family) in [(false, "IPv4"), (true, "IPv6")] {
        writeln!(s, " {family} Crypto IKEv2  SA")?;
        writeln!(s)?;
        let rows: Vec<&(&IkeSaStatus, Duration)> = sas
            .iter()
            .filter(|(sa, _)| sa.local.is_ipv6() == v6)
            .collect();
        if rows.is_empty() {
            continue;
        }
        // IOS widens the address columns of the IPv6 table: an address with its port is up
        // to 45 characters (`ffff:…:ffff/65535`), 21 in IPv4.
        let w = if v6 { 46 } else { 22 };
        writeln!(
            s,
            "{:<10}{:<w$}{:<w$}{:<21}Status",
            "Tunnel-id", "Local", "Remote", "fvrf/ivrf"
        )?;
        for (sa, lifetime) in rows {
            writeln!(
                s,
                "{:<10}{:<w$}{:<w$}{:<21}{}",
                sa.sa.0,
                slash(sa.local),
                slash(sa.remote),
                "none/none",
                ike_status_word(sa.state)
            )?;
            match &sa.suite {
                Some(suite) => {
                    let (encr, bits) = match suite.encryption {
                        EncryptionAlgorithm::AesCbc128 => ("AES-CBC", 128),
                        EncryptionAlgorithm::AesCbc192 => ("AES-CBC", 192),
                        EncryptionAlgorithm::AesCbc256 => ("AES-CBC", 256),
                        EncryptionAlgorithm::AesGcm128 => ("AES-GCM", 128),
                        EncryptionAlgorithm::AesGcm256 => ("AES-GCM", 256),
                        EncryptionAlgorithm::Null => ("NULL", 0),
                    };
                    writeln!(
                        s,
                        "      Encr: {encr}, keysize: {bits}, PRF: {}, Hash: {}, DH Grp:{}, Auth sign: PSK, Auth verify: PSK",
                        prf_name(suite.prf),
                        hash_name(suite.integrity),
                        suite.group.0
                    )?;
                }
                None => writeln!(
                    s,
                    "      Encr: Unknown - 0, PRF: Unknown - 0, Hash: None, DH Grp:0, Auth sign: PSK, Auth verify: PSK"
                )?,
            }
            writeln!(
                s,
                "      Life/Active Time: {}/{} sec",
                lifetime.as_secs(),
                sa.age.as_secs()
            )?;
            if sa.nat {
                writeln!(s, "      NAT-T is detected")?;
            }
        }
        writeln!(s)?;
    }
    Ok(())
}

fn prf_name(p: PrfId) -> String {
    match p {
        PrfId::HMAC_SHA1 => "SHA1".into(),
        PrfId::HMAC_SHA2_256 => "SHA256".into(),
        PrfId::HMAC_SHA2_384 => "SHA384".into(),
        PrfId::HMAC_SHA2_512 => "SHA512".into(),
        other => other.to_string(),
    }
}

fn hash_name(i: IntegrityAlgorithm) -> &'static str {
    match i {
        IntegrityAlgorithm::None => "None",
        IntegrityAlgorithm::HmacSha1_96 => "SHA96",
        IntegrityAlgorithm::HmacSha256_128 => "SHA256",
        IntegrityAlgorithm::HmacSha384_192 => "SHA384",
        IntegrityAlgorithm::HmacSha512_256 => "SHA512",
    }
}

/// The peers of each interface of each group, in configuration and address order.
fn by_interface(groups: &[CryptoStatus]) -> Vec<(&CryptoStatus, &str, Vec<&PeerCrypto>)> {
    let mut out = Vec::new();
    for g in groups {
        for name in &g.interfaces {
            let peers: Vec<&PeerCrypto> = g.peers.iter().filter(|p| &p.interface == name).collect();
            out.push((g, name.as_str(), peers));
        }
    }
    out
}

/// `(addr/mask/prot/port): (…)` of one host and GRE; IPv6 has a prefix length,
/// `(addr/prefixlen/prot/port)`.
fn ident(a: IpAddr) -> String {
    match a {
        IpAddr::V4(_) => format!("(addr/mask/prot/port): ({a}/255.255.255.255/{GRE}/0)"),
        IpAddr::V6(_) => format!("(addr/prefixlen/prot/port): ({a}/128/{GRE}/0)"),
    }
}

fn write_ipsec_sa(s: &mut String, groups: &[CryptoStatus]) -> fmt::Result {
    if groups.is_empty() {
        return writeln!(s, "No SAs found");
    }
    for (g, name, peers) in by_interface(groups) {
        let tag = format!("{name}-head-0");
        writeln!(s)?;
        writeln!(s, "interface: {name}")?;
        writeln!(s, "    Crypto map tag: {tag}, local addr {}", g.source)?;
        for p in peers {
            let total = |v: &[EspSaStatus], f: fn(&Counters) -> u64| -> u64 {
                v.iter().map(|x| f(&x.counters)).sum()
            };
            let (o, i) = (&p.outbound, &p.inbound);
            writeln!(s)?;
            writeln!(s, "   protected vrf: (none)")?;
            writeln!(s, "   local  ident {}", ident(p.local))?;
            writeln!(s, "   remote ident {}", ident(p.peer))?;
            writeln!(s, "   current_peer {} port {}", p.peer, p.peer_port())?;
            writeln!(s, "     PERMIT, flags={{origin_is_acl,}}")?;
            writeln!(
                s,
                "    #pkts encaps: {}, #pkts encrypt: {}, #pkts digest: {}",
                total(o, |k| k.pkts_encaps),
                total(o, |k| k.pkts_encrypt),
                total(o, |k| k.pkts_digest)
            )?;
            writeln!(
                s,
                "    #pkts decaps: {}, #pkts decrypt: {}, #pkts verify: {}",
                total(i, |k| k.pkts_decaps),
                total(i, |k| k.pkts_decrypt),
                total(i, |k| k.pkts_verify)
            )?;
            writeln!(s, "    #pkts compressed: 0, #pkts decompressed: 0")?;
            writeln!(s, "    #pkts not compressed: 0, #pkts compr. failed: 0")?;
            writeln!(
                s,
                "    #pkts not decompressed: 0, #pkts decompress failed: 0"
            )?;
            writeln!(
                s,
                "    #send errors {}, #recv errors {}",
                total(o, |k| k.send_errors),
                total(i, recv_errors)
            )?;
            writeln!(s)?;
            writeln!(
                s,
                "     local crypto endpt.: {}, remote crypto endpt.: {}",
                p.local, p.peer
            )?;
            writeln!(s, "     path mtu {0}, ip mtu {0}", g.underlay_mtu)?;
            let spi = p.current_outbound_spi.unwrap_or(0);
            writeln!(s, "     current outbound spi: 0x{spi:X}({spi})")?;
            writeln!(s)?;
            write_esp_sas(s, "inbound", i, &tag)?;
            write_esp_sas(s, "outbound", o, &tag)?;
        }
    }
    Ok(())
}

fn write_esp_sas(s: &mut String, dir: &str, sas: &[EspSaStatus], tag: &str) -> fmt::Result {
    writeln!(s, "     {dir} esp sas:")?;
    for sa in sas {
        writeln!(s, "      spi: 0x{:X}({})", sa.spi, sa.spi)?;
        writeln!(s, "        transform: {} ,", transform(sa.suite))?;
        let mode = match sa.mode {
            Mode::Transport => "Transport",
            Mode::Tunnel => "Tunnel",
        };
        writeln!(s, "        in use settings ={{{mode}, }}")?;
        writeln!(s, "        crypto map: {tag}")?;
        let r = sa.remaining;
        match (r.bytes, r.time) {
            (Some(b), Some(t)) => writeln!(
                s,
                "        sa timing: remaining key lifetime (k/sec): ({}/{})",
                b / 1024,
                t.as_secs()
            )?,
            (None, Some(t)) => writeln!(
                s,
                "        sa timing: remaining key lifetime (sec): ({})",
                t.as_secs()
            )?,
            (Some(b), None) => writeln!(
                s,
                "        sa timing: remaining key lifetime (k): ({})",
                b / 1024
            )?,
            (None, None) => writeln!(s, "        sa timing: remaining key lifetime: unlimited")?,
        }
        writeln!(s, "        IV size: {} bytes", sa.suite.encryption.iv_len())?;
        writeln!(s, "        replay detection support: Y")?;
        let status = if sa.expired {
            "EXPIRED"
        } else if sa.current {
            "ACTIVE"
        } else {
            "STANDBY"
        };
        writeln!(s, "        Status: {status}")?;
        writeln!(s)?;
    }
    writeln!(s, "     {dir} ah sas:")?;
    writeln!(s)?;
    writeln!(s, "     {dir} pcp sas:")?;
    writeln!(s)
}

fn write_session(s: &mut String, groups: &[CryptoStatus]) -> fmt::Result {
    writeln!(s, "Crypto session current status")?;
    for (_, name, peers) in by_interface(groups) {
        for p in peers {
            writeln!(s)?;
            writeln!(s, "Interface: {name}")?;
            writeln!(s, "Session status: {}", p.state)?;
            writeln!(s, "Peer: {} port {}", p.peer, p.peer_port())?;
            if let Some(ike) = &p.ike {
                writeln!(
                    s,
                    "  IKEv2 SA: local {} remote {} {}",
                    slash(ike.local),
                    slash(ike.remote),
                    ike_word(ike.state)
                )?;
            }
            writeln!(s, "  IPSEC FLOW: {}", flow(p))?;
            writeln!(
                s,
                "        Active SAs: {}, origin: crypto map",
                p.active_sas()
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    #[test]
    fn ios_names_of_transforms_and_states() {
        let suite = |e, i| Suite::new(e, i).unwrap();
        assert_eq!(
            transform(suite(
                EncryptionAlgorithm::AesCbc256,
                IntegrityAlgorithm::HmacSha256_128
            )),
            "esp-256-aes esp-sha256-hmac"
        );
        assert_eq!(
            transform(suite(
                EncryptionAlgorithm::AesCbc128,
                IntegrityAlgorithm::HmacSha1_96
            )),
            "esp-aes esp-sha-hmac"
        );
        assert_eq!(
            transform(suite(
                EncryptionAlgorithm::AesGcm256,
                IntegrityAlgorithm::None
            )),
            "esp-gcm 256"
        );
        assert_eq!(SessionState::UpActive.to_string(), "UP-ACTIVE");
        assert_eq!(SessionState::UpNoIke.to_string(), "UP-NO-IKE");
        assert_eq!(
            SessionState::DownNegotiating.to_string(),
            "DOWN-NEGOTIATING"
        );
        assert_eq!(capabilities(false, false), "(none)");
        assert_eq!(capabilities(true, true), "DN");
        assert_eq!(ike_status_word(IkeState::Ready), "READY");
        assert_eq!(ike_status_word(IkeState::AuthSent), "IN-NEG");
        assert_eq!(
            ident(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            "(addr/prefixlen/prot/port): (::1/128/47/0)",
            "an IPv6 host is a /128"
        );
        assert_eq!(
            ident(IpAddr::V4([172, 16, 1, 1].into())),
            "(addr/mask/prot/port): (172.16.1.1/255.255.255.255/47/0)"
        );
    }

    #[test]
    fn lifetimes_print_as_kilobytes_and_seconds_left() {
        let suite = Suite::new(EncryptionAlgorithm::AesGcm128, IntegrityAlgorithm::None).unwrap();
        let sa = |bytes, time| {
            esp_status(
                7,
                suite,
                Mode::Transport,
                Counters::default(),
                Lifetime {
                    time,
                    bytes,
                    packets: None,
                },
                false,
                true,
            )
        };
        let full = sa(Some(4_608_000 * 1024), Some(Duration::from_secs(3600)));
        assert_eq!(life_pair(Some(&full)), "4608000/3600");
        assert_eq!(life_pair(Some(&sa(None, None))), "-/-");
        assert_eq!(life_pair(None), "-");
        let mut s = String::new();
        write_esp_sas(
            &mut s,
            "inbound",
            &[sa(None, Some(Duration::from_secs(5)))],
            "T-head-0",
        )
        .unwrap();
        assert!(s.contains("remaining key lifetime (sec): (5)"), "{s}");
        assert!(s.contains("spi: 0x7(7)"), "{s}");
        assert!(s.contains("IV size: 8 bytes"), "{s}");
    }

    /// A protected hub and spoke of the seeds' example, the underlay carried by hand: the
    /// hub's status carries the spoke's crypto state, its SPIs those of `child_sas`.
    #[cfg(feature = "sim")]
    #[test]
    fn a_protected_hub_shows_its_spoke() {
        use crate::sim::example::Example;
        use crate::{Entropy, Input, Output};
        use dmvpn_wire::Proto;

        let ex = Example::new(1).protected();
        let now = Instant::now();
        let mut hub = Node::new(now, ex.hub(), Entropy::new([1; 32])).unwrap();
        let mut spoke = Node::new(now, ex.spoke(1), Entropy::new([2; 32])).unwrap();
        // Carries one node's transmits to the other; true if anything moved.
        fn carry(from: &mut Node, to: &mut Node, now: Instant) -> bool {
            let mut moved = false;
            loop {
                let t = match from.poll_output() {
                    Output::Timeout(_) => return moved,
                    Output::Transmit(t) => t,
                    Output::Event(_) | Output::Deliver(_) => continue,
                };
                moved = true;
                let input = match t.proto {
                    Proto::Udp { src_port, dst_port } => Input::Udp {
                        now,
                        src: SocketAddr::new(t.src, src_port),
                        dst: SocketAddr::new(t.dst, dst_port),
                        payload: &t.payload,
                    },
                    p if p == Proto::ESP => Input::Esp {
                        now,
                        src: t.src,
                        dst: t.dst,
                        payload: &t.payload,
                    },
                    _ => Input::Underlay {
                        now,
                        src: t.src,
                        dst: t.dst,
                        payload: &t.payload,
                    },
                };
                let _ = to.handle_input(input);
            }
        }
        while carry(&mut spoke, &mut hub, now) | carry(&mut hub, &mut spoke, now) {}

        let spoke_nbma: IpAddr = ex.spoke_nbma(1).into();
        let st = hub.status(now);
        let p = st.tunnels[0]
            .peers
            .iter()
            .find(|p| p.nbma == Some(spoke_nbma))
            .unwrap();
        let c = p.crypto.as_ref().unwrap();
        assert_eq!(c.state, SessionState::UpActive);
        let sas = hub.child_sas(0);
        assert_eq!(sas.len(), 1);
        let (peer, inbound, outbound) = sas[0];
        assert_eq!(peer, spoke_nbma);
        assert_eq!(
            c.inbound.iter().map(|s| s.spi).collect::<Vec<_>>(),
            [inbound]
        );
        assert_eq!(c.current_outbound_spi, Some(outbound));
        assert!(
            c.inbound[0].counters.pkts_decaps > 0,
            "the registration came in ESP"
        );
        let ipsec = hub.show_crypto_ipsec_sa(now);
        assert!(ipsec.contains(&format!("current outbound spi: 0x{outbound:X}({outbound})")));
        let ikev2 = hub.show_crypto_ikev2_sa(now);
        assert!(ikev2.contains(&format!("{spoke_nbma}/500")), "{ikev2}");
        assert!(ikev2.contains("READY"), "{ikev2}");
        assert!(
            hub.show_dmvpn_detail(now)
                .contains("Crypto Session Status: UP-ACTIVE")
        );
    }
}
