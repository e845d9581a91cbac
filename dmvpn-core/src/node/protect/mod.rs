//! IPsec protection of tunnel interfaces (`tunnel protection ipsec profile NAME [shared]`):
//! the node's IKEv2 endpoints and ESP SA databases, one per crypto group (the protected
//! interfaces of one tunnel source), driven by NHRP.
//!
//! Rules (seed 003, "spoke-to-spoke" steps 4, 5 and 11; seed 002):
//!
//! - GRE on a protected interface travels only inside ESP in transport mode: IP protocol 47
//!   between the tunnel source and the peer's NBMA address, the selectors derived from the
//!   tunnel. Cleartext GRE arriving on a protected interface is dropped and counted; so is
//!   ESP that fails integrity, replay or policy checks.
//! - A mapping of the NHRP client (a static map to an NHS, a spoke-to-spoke mapping from a
//!   resolution) makes this node keep an IKE SA to the peer's NBMA address: it initiates at
//!   once, and again with back-off while the mapping stays and the SA is down. A hub only
//!   answers (dynamic crypto, no per-spoke configuration). The last mapping of a peer going
//!   away (expiry, purge, `clear`) closes its SAs.
//! - While a peer has no SA, NHRP packets for it wait in a bounded queue (drops counted),
//!   released in order when its first child SA comes up; data never goes in clear: on a
//!   spoke it keeps going through the hub (see `next_nbma`), anything else is dropped and
//!   counted.
//! - Two IKE SAs between the same two nodes (both resolved each other at the same moment):
//!   the one initiated by the lower address stays; the node that initiated the other closes it
//!   and both stop sending on its child SAs at once. Through a NAT the two nodes do not see the
//!   same addresses (each knows its own private one and the other's public one), so there the
//!   SA with the lower SPI pair (initiator's, then responder's) stays, which both see alike.
//! - A hub that loses a spoke's IKE SA (liveness, delete) removes that spoke's registrations.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_esp::SaDatabase;
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_esp::wire::udp_encap::{NAT_T_PORT, UdpPayload};
use dmvpn_ikev2::auth::{Psk, PskTable};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::reinit::Backoff;
use dmvpn_ikev2::wire::{Identity, TrafficSelector};
use dmvpn_ikev2::{Endpoint, IkeSaId};

pub(crate) use datapath::{Egress, Sealable};
use ike::Ike;

mod datapath;
mod events;
pub(crate) mod ike;
mod nat;

use super::debug::Dir;
use super::{Node, bump};
use crate::config::{CryptoConfig, IpsecMode, NodeConfig};
use crate::entropy::Entropy;
use crate::error::Error;

/// IKE's port.
pub(crate) const IKE_PORT: u16 = 500;
/// GRE, the protocol DMVPN's ESP protects.
const GRE: u8 = 47;

/// Counters of one crypto group (`show crypto ipsec sa` totals, drops by reason).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CryptoStats {
    /// ESP packets received.
    pub esp_in: u64,
    /// ESP packets that failed: unknown SPI, integrity, replay, policy, malformed.
    pub esp_dropped: u64,
    /// ESP packets sent.
    pub esp_out: u64,
    /// Packets ESP could not protect (an SA that ran out, a crypto failure).
    pub encrypt_errors: u64,
    /// Cleartext GRE packets that arrived on a protected interface: dropped.
    pub cleartext_dropped: u64,
    /// Data packets dropped because their peer has no SA yet (never sent in clear).
    pub no_sa_dropped: u64,
    /// NHRP packets queued while their peer's SA was negotiated.
    pub queued: u64,
    /// NHRP packets dropped because the peer's queue was full.
    pub queue_dropped: u64,
    /// IKE datagrams received (ports 500 and 4500).
    pub ike_in: u64,
    /// IKE datagrams the endpoint dropped.
    pub ike_dropped: u64,
    /// IKE SAs this node started.
    pub initiated: u64,
    /// IKE SAs that could not start (call admission, crypto).
    pub initiate_failed: u64,
    /// Peers' requests refused (authentication, proposals, …).
    pub refused: u64,
    /// Duplicate IKE SAs closed after a simultaneous initiation.
    pub duplicates_closed: u64,
    /// Peers behind a NAT followed to a new port (their mapping changed), on authenticated
    /// ESP in UDP or IKE.
    pub nat_moves: u64,
}

/// One installed child SA: its IKE SA, its peer and its outbound SPI (the inbound SPI is the
/// key of [`Group::children`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Child {
    pub(crate) ike: IkeSaId,
    pub(crate) peer: IpAddr,
    pub(crate) outbound_spi: u32,
    /// The last time ESP from the peer was reported to IKE (liveness), at most once a second.
    noted: Option<Instant>,
}

/// What the group knows of one NBMA peer.
#[derive(Debug, Default)]
pub(crate) struct CryptoPeer {
    /// Client-side mappings (static NHS maps, resolved spokes): this node keeps an SA up.
    pub(crate) client_refs: u32,
    /// Server-side mappings (registrations): the peer keeps the SA up.
    pub(crate) server_refs: u32,
    /// The established IKE SA that carries the child SAs, and whether we initiated it.
    pub(crate) ike: Option<(IkeSaId, bool)>,
    /// That IKE SA's SPIs (initiator's, responder's): both peers see the same pair.
    ike_spis: (u64, u64),
    /// An IKE SA we started that is not up yet.
    pub(crate) negotiating: Option<IkeSaId>,
    /// When to try again after a failure, and how many failed in a row.
    retry_at: Option<Instant>,
    failures: u32,
    /// NHRP packets waiting for the first child SA.
    queue: VecDeque<Sealable>,
    /// Since when the peer's current IKE SA is up (`show crypto session` uptime).
    pub(crate) up_since: Option<Instant>,
    /// ESP goes in UDP to this port of the peer (RFC 3948: IKE found a NAT between us).
    pub(crate) udp_encap: Option<u16>,
    /// `clear crypto session` closed its SA: when it is down, negotiate again at once.
    cleared: bool,
}

impl CryptoPeer {
    fn wanted(&self) -> bool {
        self.client_refs > 0
    }

    fn idle(&self) -> bool {
        self.client_refs == 0
            && self.server_refs == 0
            && self.ike.is_none()
            && self.negotiating.is_none()
            && self.queue.is_empty()
    }
}

/// The IKE endpoint and ESP SAs of the protected interfaces of one tunnel source.
pub(crate) struct Group {
    pub(crate) source: IpAddr,
    pub(crate) profile: Arc<str>,
    pub(crate) ifaces: Vec<usize>,
    pub(crate) ep: Ike,
    pub(crate) sadb: SaDatabase,
    pub(crate) children: BTreeMap<u32, Child>,
    pub(crate) peers: BTreeMap<IpAddr, CryptoPeer>,
    /// Peers' retry deadlines, in order.
    retries: BTreeSet<(Instant, IpAddr)>,
    pub(crate) stats: CryptoStats,
    backoff: Backoff,
    queue_limit: usize,
    #[allow(dead_code)] // read by the crypto show commands
    pub(crate) transform: String,
    /// After [`Node::shutdown`]: no new IKE SA is started.
    pub(crate) stopped: bool,
    /// The latest IKE SA found a NAT in front of this node: new SAs start on port 4500.
    pub(crate) behind_nat: bool,
}

impl core::fmt::Debug for Group {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group")
            .field("source", &self.source)
            .field("profile", &self.profile)
            .field("ifaces", &self.ifaces)
            .field("children", &self.children)
            .field("peers", &self.peers)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The IKEv2 configuration of a group: the profile's ESP proposals and lifetimes, the IKEv2
/// proposals, identity, keyring, DPD and call admission.
fn ike_config(
    crypto: &CryptoConfig,
    profile: &str,
    source: IpAddr,
    seed: [u8; 32],
) -> Result<(dmvpn_ikev2::Config, String), String> {
    let p = crypto
        .profile(profile)
        .ok_or_else(|| format!("no crypto ipsec profile {profile:?}"))?;
    let (esp, mode) = crypto.esp_of(p).map_err(|e| e.join("; "))?;
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed(seed)));
    let ike = &crypto.ikev2;
    let local_id = ike
        .local_identity
        .as_ref()
        .map_or_else(|| Identity::ip(source), |i| i.identity(source));
    let mut psks = PskTable::new();
    for k in &ike.keyring {
        let psk = Psk::new(k.pre_shared_key.expose());
        if let Some(id) = &k.identity {
            psks.insert(id.identity(source), psk.clone());
        }
        if let Some(net) = k.address {
            psks.insert_prefix(net.addr(), net.prefix_len(), psk);
        }
    }
    let mut cfg = dmvpn_ikev2::Config::new(provider, local_id, psks);
    if !ike.proposals.is_empty() {
        let props = ike
            .proposals
            .iter()
            .map(|p| crate::crypto_config::ike_proposal(p))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&str> = props.iter().map(String::as_str).collect();
        cfg = cfg.with_ike_proposals(&refs).map_err(|e| e.to_string())?;
    }
    let refs: Vec<&str> = esp.iter().map(String::as_str).collect();
    cfg = cfg.with_esp_proposals(&refs).map_err(|e| e.to_string())?;
    cfg.mode = match mode {
        IpsecMode::Transport => dmvpn_esp::Mode::Transport,
        IpsecMode::Tunnel => dmvpn_esp::Mode::Tunnel,
    };
    cfg.host_ts_protocol = GRE;
    cfg.ike_lifetime = Duration::from_secs(u64::from(ike.lifetime_seconds));
    cfg.nat_keepalive = Duration::from_secs(u64::from(ike.nat_keepalive_seconds));
    cfg.child_lifetime = Duration::from_secs(u64::from(p.lifetime_seconds.unwrap_or(3600)));
    cfg.child_lifetime_kb = Some(p.lifetime_kilobytes.unwrap_or(4_608_000));
    // Without `crypto ikev2 dpd` there are no liveness checks (IOS's default); a spoke still
    // finds a dead hub through its registrations (`crypto_reset`).
    cfg.liveness_idle = None;
    if let Some(d) = ike.dpd {
        cfg.liveness_idle = Some(Duration::from_secs(u64::from(d.interval)));
        let retry = Duration::from_secs(u64::from(d.retry));
        cfg.retransmit = dmvpn_ikev2::Retransmit {
            initial: retry,
            max_interval: retry,
            tries: 6,
        };
    }
    let cac = crypto.call_admission;
    cfg.cac.max_ike_sas = cac.max_sa;
    if let Some(n) = cac.max_in_negotiation {
        cfg.cac.max_half_open = Some(n);
    }
    cfg.validate().map_err(|e| e.to_string())?;
    Ok((cfg, esp.join(" ")))
}

/// The crypto groups of a configuration and each interface's group.
pub(crate) fn build_groups(
    config: &NodeConfig,
    entropy: &Entropy,
) -> Result<(Vec<Group>, Vec<Option<usize>>), Error> {
    let mut groups: Vec<Group> = Vec::new();
    let mut of_iface = Vec::new();
    for (i, t) in config.tunnels.iter().enumerate() {
        let Some(prot) = &t.protection else {
            of_iface.push(None);
            continue;
        };
        if let Some(g) = groups.iter().position(|g| g.source == t.source) {
            if let Some(grp) = groups.get_mut(g) {
                grp.ifaces.push(i);
            }
            of_iface.push(Some(g));
            continue;
        }
        let problem = |message: String| {
            Error::Config(crate::config::ConfigError(vec![
                crate::config::ConfigProblem {
                    path: format!("tunnels[{i}].protection"),
                    message,
                },
            ]))
        };
        let seed = entropy.crypto_seed(groups.len());
        let v1 = config
            .crypto
            .profile(&prot.profile)
            .is_some_and(|p| p.ike_version() == crate::config::IkeVersion::Ikev1);
        let (ep, transform) = if v1 {
            let (cfg, transform) =
                ike::ikev1_config(&config.crypto, &prot.profile, seed).map_err(problem)?;
            let ep = dmvpn_ikev1::Endpoint::new(cfg).map_err(|e| problem(e.to_string()))?;
            (Ike::V1(Box::new(ep)), transform)
        } else {
            let (cfg, transform) =
                ike_config(&config.crypto, &prot.profile, t.source, seed).map_err(problem)?;
            let ep = Endpoint::new(cfg).map_err(|e| problem(e.to_string()))?;
            (Ike::V2(Box::new(ep)), transform)
        };
        of_iface.push(Some(groups.len()));
        groups.push(Group {
            source: t.source,
            profile: Arc::from(prot.profile.as_str()),
            ifaces: vec![i],
            ep,
            sadb: SaDatabase::new(),
            children: BTreeMap::new(),
            peers: BTreeMap::new(),
            retries: BTreeSet::new(),
            stats: CryptoStats::default(),
            backoff: Backoff::default(),
            queue_limit: 64,
            transform,
            stopped: false,
            behind_nat: false,
        });
    }
    Ok((groups, of_iface))
}

impl Group {
    fn set_retry(&mut self, peer: IpAddr, at: Option<Instant>) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if let Some(old) = p.retry_at.take() {
            self.retries.remove(&(old, peer));
        }
        if let Some(t) = at {
            p.retry_at = Some(t);
            self.retries.insert((t, peer));
        }
    }

    fn forget_if_idle(&mut self, peer: IpAddr) {
        if self.peers.get(&peer).is_some_and(CryptoPeer::idle) {
            self.set_retry(peer, None);
            self.peers.remove(&peer);
        }
    }

    /// The earliest deadline of the group's machines.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.ep.poll_timeout(),
            self.sadb.poll_timeout(),
            self.retries.first().map(|(t, _)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Where the GRE packet is in a decrypted ESP packet: the payload itself in transport mode;
/// in tunnel mode the payload is an IP packet that must be GRE between the same two addresses
/// as the ESP packet (the inbound policy check of RFC 4301 §5.2 for the tunnel's selectors).
fn gre_range(
    buf: &[u8],
    d: dmvpn_esp::InPlace,
    src: IpAddr,
    dst: IpAddr,
) -> Result<core::ops::Range<usize>, Error> {
    match d.next_header {
        GRE => Ok(d.payload),
        dmvpn_esp::NEXT_HEADER_IPV4 | dmvpn_esp::NEXT_HEADER_IPV6 => {
            let inner = buf.get(d.payload.clone()).unwrap_or_default();
            let (ip, rest) = dmvpn_wire::ip::Repr::parse(inner).map_err(Error::MalformedOverlay)?;
            if ip.src_addr() != src
                || ip.dst_addr() != dst
                || ip.protocol() != dmvpn_wire::IpProtocol::GRE
            {
                return Err(Error::Esp(dmvpn_esp::Error::PolicyMismatch));
            }
            let start = d.payload.start + (inner.len() - rest.len());
            Ok(start..start + rest.len())
        }
        _ => Err(Error::Esp(dmvpn_esp::Error::PolicyMismatch)),
    }
}

impl Node {
    /// The crypto group of tunnel interface `t`, if it is protected.
    pub(super) fn group_of(&self, t: usize) -> Option<usize> {
        self.ifaces.get(t).and_then(|f| f.protect)
    }

    /// A mapping to `nbma` appeared on interface `t` (`client`: of the NHRP client, which
    /// keeps an SA up; else a registration at the server).
    pub(super) fn crypto_ref(&mut self, now: Instant, t: usize, nbma: IpAddr, client: bool) {
        let Some(g) = self.group_of(t) else { return };
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        let p = grp.peers.entry(nbma).or_default();
        if client {
            p.client_refs = p.client_refs.saturating_add(1);
        } else {
            p.server_refs = p.server_refs.saturating_add(1);
        }
        if client && p.ike.is_none() && p.negotiating.is_none() && p.retry_at.is_none() {
            self.initiate(now, g, nbma);
        }
    }

    /// A mapping to `nbma` went away on interface `t`; the last one closes the peer's SAs.
    pub(super) fn crypto_unref(&mut self, now: Instant, t: usize, nbma: IpAddr, client: bool) {
        let Some(g) = self.group_of(t) else { return };
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        let Some(p) = grp.peers.get_mut(&nbma) else {
            return;
        };
        if client {
            p.client_refs = p.client_refs.saturating_sub(1);
        } else {
            p.server_refs = p.server_refs.saturating_sub(1);
        }
        if p.client_refs > 0 || p.server_refs > 0 {
            return;
        }
        // Step 11: the mapping is gone, so are the SAs.
        let ike = p.ike.take().map(|(sa, _)| sa);
        let negotiating = p.negotiating.take();
        let port = p.udp_encap.unwrap_or(IKE_PORT);
        p.queue.clear();
        p.up_since = None;
        let was_up = ike.is_some();
        for sa in ike.into_iter().chain(negotiating) {
            let _ = grp.ep.close(now, sa);
        }
        grp.set_retry(nbma, None);
        if was_up {
            self.event(
                t,
                crate::EventKind::CryptoDown {
                    peer: SocketAddr::new(nbma, port),
                    reason: dmvpn_ikev2::DownReason::Closed,
                },
            );
        }
        self.drain_ike(now, g);
        if let Some(grp) = self.groups.get_mut(g) {
            grp.forget_if_idle(nbma);
        }
    }

    /// An NHS of interface `t` went down (its registrations went unanswered): the IKE SA to
    /// it is suspect (the hub may have restarted and lost it, which nothing else tells when
    /// DPD is off, IOS's default), so it is closed, its child SAs stop carrying traffic at
    /// once, and a new one is started (the registrations wait for it).
    pub(super) fn crypto_reset(&mut self, now: Instant, t: usize, nbma: IpAddr) {
        let Some(g) = self.group_of(t) else { return };
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        let Some(p) = grp.peers.get_mut(&nbma) else {
            return;
        };
        let Some((sa, _)) = p.ike.take() else {
            return;
        };
        p.up_since = None;
        let wanted = p.wanted() && p.negotiating.is_none();
        self.retire(now, g, sa, true);
        if wanted {
            self.initiate(now, g, nbma);
        }
    }

    /// Starts an IKE SA to `peer` (port 500), proposing GRE between the two NBMA addresses.
    fn initiate(&mut self, now: Instant, g: usize, peer: IpAddr) {
        let Some(grp) = self.groups.get_mut(g).filter(|g| !g.stopped) else {
            return;
        };
        let port = if grp.behind_nat { NAT_T_PORT } else { IKE_PORT };
        let local = SocketAddr::new(grp.source, port);
        let remote = SocketAddr::new(peer, port);
        let ts = (
            vec![TrafficSelector::host(grp.source, GRE)],
            vec![TrafficSelector::host(peer, GRE)],
        );
        match grp.ep.initiate(now, local, remote, ts) {
            Ok(sa) => {
                bump(&mut grp.stats.initiated);
                if let Some(p) = grp.peers.get_mut(&peer) {
                    p.negotiating = Some(sa);
                }
                grp.set_retry(peer, None);
            }
            Err(_) => {
                bump(&mut grp.stats.initiate_failed);
                let wait = {
                    let p = grp.peers.entry(peer).or_default();
                    p.failures = p.failures.saturating_add(1);
                    grp.backoff.wait(p.failures)
                };
                grp.set_retry(peer, Some(now + wait));
            }
        }
        self.drain_ike(now, g);
    }

    /// An ESP packet (IP protocol 50, or from UDP port 4500) from `src` to `dst`: copied once
    /// into a pool buffer, decrypted and verified there in place, and the GRE packet inside
    /// handled as if it had arrived in clear on its (protected) interface. An overlay packet
    /// inside is delivered in that same buffer (no second copy).
    pub(super) fn on_esp(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        packet: &[u8],
        src_port: Option<u16>,
    ) -> Result<(), Error> {
        bump(&mut self.stats.underlay_in);
        let Some(g) = self.groups.iter().position(|g| g.source == dst) else {
            bump(&mut self.stats.underlay_not_local);
            return Err(Error::NotLocal(dst));
        };
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(packet);
        let Some(grp) = self.groups.get_mut(g) else {
            return Err(Error::NotLocal(dst));
        };
        bump(&mut grp.stats.esp_in);
        let spi = dmvpn_esp::wire::esp::Packet::new_checked(packet)
            .map(|p| p.spi())
            .ok();
        // ESP in UDP may come from a new public address of its peer (a NAT rebinding): it is
        // followed once the packet has passed its integrity check.
        let opened = match src_port {
            Some(_) => grp
                .sadb
                .decapsulate_in_place_following(now, src, dst, &mut buf),
            None => grp
                .sadb
                .decapsulate_in_place(now, src, dst, &mut buf)
                .map(|d| (d, None)),
        };
        let mut moved = false;
        let opened = match opened {
            Ok((d, Some(old))) => {
                let to = SocketAddr::new(src, src_port.unwrap_or(NAT_T_PORT));
                if self.follow_nat(g, old, to) {
                    moved = true;
                    Ok(d)
                } else {
                    Err(dmvpn_esp::Error::PolicyMismatch)
                }
            }
            Ok((d, None)) => Ok(d),
            Err(e) => Err(e),
        };
        let Some(grp) = self.groups.get_mut(g) else {
            return Err(Error::NotLocal(dst));
        };
        let gre = match opened
            .map_err(Error::Esp)
            .and_then(|d| gre_range(&buf, d, src, dst))
        {
            Ok(r) => r,
            Err(e) => {
                bump(&mut grp.stats.esp_dropped);
                self.recycle(buf);
                self.drain_sadb(now, g);
                return Err(e);
            }
        };
        // Liveness: ESP from the peer proves it alive (told to IKE at most once a second).
        if let Some(c) = spi.and_then(|s| grp.children.get_mut(&s)) {
            let ike = c.ike;
            if c.noted
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
            {
                c.noted = Some(now);
                grp.ep.note_activity(now, ike);
            }
            // ESP in UDP from another port than the peer had: its NAT mapping changed (a
            // rebinding, or a mapping re-created after it timed out). This packet passed the
            // integrity check, so follow it: ESP and IKE go to the new port (RFC 3948 §3.1's
            // mapping update; RFC 7296 §2.23).
            if let (Some(port), Some(p)) = (src_port, grp.peers.get(&src))
                && p.udp_encap.is_some_and(|old| old != port)
            {
                let to = SocketAddr::new(src, port);
                self.follow_nat(g, src, to);
                self.ike_follows(now, g, ike, to);
            } else if moved {
                self.ike_follows(
                    now,
                    g,
                    ike,
                    SocketAddr::new(src, src_port.unwrap_or(NAT_T_PORT)),
                );
            }
        }
        self.drain_sadb(now, g);
        self.rx_window = Some((buf.as_ptr() as usize, buf.len()));
        let r = self.on_gre(now, src, dst, buf.get(gre).unwrap_or_default(), Some(g));
        self.rx_window = None;
        match self.rx_claim.take() {
            // `deliver` took the inner packet: the buffer becomes the delivery.
            Some((i, start, end)) => {
                buf.truncate(end);
                match self.delivers.get_mut(i) {
                    Some(d) => d.fill(buf, start),
                    None => self.recycle(buf),
                }
            }
            None => self.recycle(buf),
        }
        r
    }

    /// A UDP datagram to port 500 or 4500 of a protected tunnel source: IKE, NAT keepalives,
    /// or ESP in UDP (RFC 3948).
    pub(super) fn on_udp(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), Error> {
        let Some(g) = self.groups.iter().position(|g| g.source == dst.ip()) else {
            bump(&mut self.stats.underlay_not_local);
            return Err(Error::NotLocal(dst.ip()));
        };
        if dst.port() == NAT_T_PORT
            && let Ok(UdpPayload::Esp(_)) = UdpPayload::classify(payload)
        {
            return self.on_esp(now, src.ip(), dst.ip(), payload, Some(src.port()));
        }
        if dst.port() != IKE_PORT && dst.port() != NAT_T_PORT {
            return Err(Error::UnsupportedProtocol(dst.port()));
        }
        let Some(grp) = self.groups.get_mut(g) else {
            return Err(Error::NotLocal(dst.ip()));
        };
        bump(&mut grp.stats.ike_in);
        self.debug_ike(Dir::Receive, dst, src, payload);
        let Some(grp) = self.groups.get_mut(g) else {
            return Err(Error::NotLocal(dst.ip()));
        };
        let r = grp.ep.handle_datagram(now, dst, src, payload);
        if r.is_err() {
            bump(&mut grp.stats.ike_dropped);
        }
        self.drain_ike(now, g);
        r
    }

    /// Turns on the key log ([`Node::poll_keylog`]): from now on every IKE and ESP SA's keys
    /// are exported as tshark decryption-table rows. Off by default; the rows are secrets.
    pub fn enable_keylog(&mut self) {
        self.keylog_on = true;
    }

    /// The next key-log row (see [`Node::enable_keylog`]): one tshark `-o` argument,
    /// `uat:esp_sa:…` or `uat:ikev2_decryption_table:…`, in the format `ipsec-peer --keylog`
    /// writes.
    pub fn poll_keylog(&mut self) -> Option<String> {
        self.keylog.pop_front()
    }

    /// Turns the plaintext tap on or off: while on, the GRE packet inside every ESP transmit
    /// is kept, in transmit order, for [`Node::poll_tap`] (traces of a protected node, tests).
    /// Off by default; it costs a buffer per packet while on.
    pub fn set_tap(&mut self, on: bool) {
        self.tap = on.then(VecDeque::new);
    }

    /// The GRE packet inside the oldest ESP transmit not yet tapped (see [`Node::set_tap`]).
    pub fn poll_tap(&mut self) -> Option<Vec<u8>> {
        self.tap.as_mut()?.pop_front()
    }

    /// The crypto groups' counters: (tunnel source, counters), in configuration order.
    pub fn crypto_stats(&self) -> Vec<(IpAddr, CryptoStats)> {
        self.groups.iter().map(|g| (g.source, g.stats)).collect()
    }

    /// The IKEv2 endpoint of tunnel interface `t`'s crypto group, for inspection (`None`
    /// for an IKEv1 group).
    pub fn ike_endpoint(&self, t: usize) -> Option<&Endpoint> {
        self.groups.get(self.group_of(t)?).and_then(|g| g.ep.v2())
    }

    /// The IKEv1 endpoint of tunnel interface `t`'s crypto group, for inspection (`None` for
    /// an IKEv2 group).
    pub fn ikev1_endpoint(&self, t: usize) -> Option<&dmvpn_ikev1::Endpoint> {
        self.groups.get(self.group_of(t)?).and_then(|g| g.ep.v1())
    }

    /// Child SAs of tunnel interface `t`'s crypto group: (peer, inbound SPI, outbound SPI), in
    /// SPI order.
    pub fn child_sas(&self, t: usize) -> Vec<(IpAddr, u32, u32)> {
        self.group_of(t)
            .and_then(|g| self.groups.get(g))
            .map(|g| {
                g.children
                    .iter()
                    .map(|(i, c)| (c.peer, *i, c.outbound_spi))
                    .collect()
            })
            .unwrap_or_default()
    }
}
