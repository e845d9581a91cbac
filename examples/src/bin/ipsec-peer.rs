//! `ipsec-peer`: a small IKEv2 + ESP endpoint over UDP 500/4500 with a TUN device for the inner
//! traffic — the `ikev2` state machines and `esp` SAs driven by a real socket and clock.
//!
//! ```text
//! ipsec-peer --local 10.99.0.1 --remote 10.99.0.2 --local-id moon --remote-id sun \
//!     --psk-file psk.txt --ike aes128-sha256-modp2048 --esp aes128-sha256-modp2048 \
//!     --tun ipsecp0 --local-ts 10.1.0.1/32 --remote-ts 10.2.0.1/32 --initiate --keylog keys.txt
//! ```
//!
//! It creates the TUN device with the local traffic selector's address and a route to the
//! remote one (when the remote selector holds the peer's own address — transport mode, or a
//! host-to-host tunnel — a routing rule instead that UDP 500/4500 and ESP skip, so IKE and ESP
//! stay on the underlay), negotiates (or answers) an IKE SA with a child SA, carries the TUN's packets in
//! ESP (UDP-encapsulated on port 4500, RFC 3948, when NAT traversal is in use — always with
//! strongSwan's `encap = yes`), and logs every SA event and refusal; with `--initiate` it
//! re-initiates after a failure with an exponential back-off (3 s doubling up to 5 min). SIGINT/SIGTERM delete the SAs and exit;
//! SIGUSR1 rekeys the child SAs, SIGUSR2 the IKE SAs. `--keylog FILE` appends the derived IKE and
//! ESP keys as tshark `-o` option values (`uat:ikev2_decryption_table:…`, `uat:esp_sa:…`): the
//! one place keys are ever written, and only on request.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_esp::wire::udp_encap::{NAT_T_PORT, UdpPayload};
use dmvpn_esp::{Direction, InboundSa, Mode, OutboundSa, Policy, SaDatabase};
use dmvpn_ikev2::auth::{Psk, PskTable};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::keys::IkeSaKeys;
use dmvpn_ikev2::negotiate::ts_prefix;
use dmvpn_ikev2::reinit::{Backoff, Reinitiator};
use dmvpn_ikev2::transform::IkeSuite;
use dmvpn_ikev2::wire::Identity;
use dmvpn_ikev2::{ChildSaUp, Config, Endpoint, Event, IkeSaId};
use dmvpn_wire::ip::{self, HeaderOptions, IpProtocol};
use tokio::net::UdpSocket;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, info, warn};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "IKEv2 + ESP peer over UDP 500/4500 with a TUN device"
)]
struct Args {
    /// Our underlay address (bound on UDP 500 and 4500).
    #[arg(long)]
    local: IpAddr,
    /// The peer's underlay address.
    #[arg(long)]
    remote: IpAddr,
    /// Our identity (an IP address, else an FQDN).
    #[arg(long)]
    local_id: String,
    /// The peer's identity (an IP address, else an FQDN).
    #[arg(long)]
    remote_id: String,
    /// File whose first line is the pre-shared key.
    #[arg(long)]
    psk_file: PathBuf,
    /// IKE proposals (strongSwan syntax), e.g. aes128-sha256-modp2048, or a comma-separated
    /// list in order of preference: aes128-sha256-modp3072,aes128-sha256-modp2048.
    #[arg(long)]
    ike: String,
    /// ESP proposals (strongSwan syntax), e.g. aes256gcm16-x25519 (a group means PFS on rekey),
    /// or a comma-separated list in order of preference.
    #[arg(long)]
    esp: String,
    /// Name of the TUN device to create.
    #[arg(long)]
    tun: String,
    /// Local traffic selector, a prefix (its address goes on the TUN device).
    #[arg(long)]
    local_ts: String,
    /// Remote traffic selector, a prefix (routed into the TUN device).
    #[arg(long)]
    remote_ts: String,
    /// Start the IKE SA (else wait for the peer).
    #[arg(long)]
    initiate: bool,
    /// ESP mode.
    #[arg(long, default_value = "tunnel")]
    mode: String,
    /// Append the derived keys as tshark decryption table rows to this file.
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// Child SA lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    child_lifetime: u64,
    /// IKE SA lifetime in seconds.
    #[arg(long, default_value_t = 14400)]
    ike_lifetime: u64,
    /// Pretend a NAT so that ESP goes in UDP (like strongSwan's `encap = yes`).
    #[arg(long)]
    force_encap: bool,
}

fn identity(s: &str) -> Identity {
    match s.parse::<IpAddr>() {
        Ok(ip) => Identity::ip(ip),
        Err(_) => Identity::fqdn(s),
    }
}

fn prefix(s: &str) -> Result<(IpAddr, u8), BoxError> {
    let (a, l) = s.split_once('/').unwrap_or((s, "32"));
    Ok((a.parse()?, l.parse()?))
}

/// The explicit, opt-in key log (`--keylog FILE`): rows from `dmvpn_ikev2::keylog` and
/// `dmvpn_esp::keylog`, formatted only when a file was given.
struct KeyLog(Option<std::fs::File>);

impl KeyLog {
    fn line(&mut self, l: &str) {
        if let Some(f) = self.0.as_mut()
            && let Err(e) = writeln!(f, "{l}").and_then(|()| f.flush())
        {
            warn!("keylog: {e}");
        }
    }

    fn ike(&mut self, spi_i: u64, spi_r: u64, suite: &IkeSuite, k: &IkeSaKeys) {
        if self.0.is_some() {
            self.line(&dmvpn_ikev2::keylog::ike_sa_row(spi_i, spi_r, suite, k));
        }
    }

    fn esp(&mut self, src: IpAddr, dst: IpAddr, sa: &dmvpn_esp::SaConfig) {
        if self.0.is_some() {
            self.line(&dmvpn_esp::keylog::esp_sa_row(src, dst, sa));
        }
    }
}

/// One installed child SA. Its two ESP SAs live in the [`SaDatabase`]: the inbound one under
/// the key of [`Peer::children`], the outbound one under `outbound_spi`.
struct Child {
    ike: IkeSaId,
    outbound_spi: u32,
    remote: SocketAddr,
    udp_encap: bool,
    mode: Mode,
    /// Installation order: the newest child SA carries outbound traffic.
    order: u64,
}

/// Transport mode to a TUN device: rebuild an IP header (TTL 64, DF, identification 0) around
/// a decapsulated payload.
fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Option<Vec<u8>> {
    let opts = HeaderOptions {
        ttl: 64,
        tos: 0,
        dont_fragment: true,
        flow_label: 0,
    };
    let header = ip::Repr::new(src, dst, IpProtocol(proto), payload.len(), &opts, 0).ok()?;
    let mut packet = vec![0u8; header.header_len()];
    packet.extend_from_slice(payload);
    header.emit(&mut packet).ok()?;
    Some(packet)
}

struct Peer {
    args: Args,
    ep: Endpoint,
    start: Instant,
    sock500: UdpSocket,
    sock4500: UdpSocket,
    tun: tun_rs::AsyncDevice,
    /// The child SAs by inbound SPI.
    children: BTreeMap<u32, Child>,
    /// Every child SA's inbound and outbound ESP SA.
    sadb: SaDatabase,
    keylog: KeyLog,
    established: bool,
    /// With `--initiate`: when to (re-)initiate, backing off after failures.
    reinit: Option<Reinitiator>,
    installed: u64,
}

impl Peer {
    async fn flush(&mut self) {
        while let Some(t) = self.ep.poll_transmit() {
            let sock = if t.local().port() == NAT_T_PORT {
                &self.sock4500
            } else {
                &self.sock500
            };
            if let Err(e) = sock.send_to(&t.payload, t.remote()).await {
                warn!("send to {}: {e}", t.remote());
            }
        }
        while let Some(e) = self.ep.poll_event() {
            self.event(e);
        }
    }

    fn event(&mut self, e: Event) {
        if let Some(r) = self.reinit.as_mut()
            && !matches!(e, Event::IkeDown { .. })
        {
            r.handle_event(Instant::now(), &e);
        }
        match e {
            Event::IkeUp {
                sa,
                local,
                remote,
                initiator,
                spi_i,
                spi_r,
                suite,
                peer_id,
                keys,
                nat,
                behind_nat,
            } => {
                info!(
                    %sa, %local, %remote, initiator, %suite, %peer_id, nat, behind_nat,
                    "IKE SA established {spi_i:016x}/{spi_r:016x}"
                );
                self.keylog.ike(spi_i, spi_r, &suite, &keys);
                self.established = true;
            }
            Event::IkeRekeyed {
                old,
                new,
                spi_i,
                spi_r,
                suite,
                keys,
            } => {
                info!(%old, %new, %suite, "IKE SA rekeyed {spi_i:016x}/{spi_r:016x}");
                self.keylog.ike(spi_i, spi_r, &suite, &keys);
                for c in self.children.values_mut() {
                    if c.ike == old {
                        c.ike = new;
                    }
                }
            }
            Event::IkeDown { sa, reason } => {
                info!(%sa, ?reason, "IKE SA down");
                self.established = self.ep.ike_sa_count() > 0;
                if let Some(r) = self.reinit.as_mut()
                    && let Some(retry) = r.handle_event(Instant::now(), &e)
                {
                    warn!(
                        sa = %retry.sa, reason = ?retry.reason, failures = retry.failures,
                        "IKE SA failed; re-initiating in {:?}", retry.wait
                    );
                }
            }
            Event::PeerDead { sa, remote } => warn!(%sa, %remote, "peer dead"),
            Event::ChildUp {
                sa,
                child,
                rekey_of,
            } => self.child_up(sa, &child, rekey_of),
            Event::ChildDeleted {
                sa,
                inbound_spi,
                outbound_spi,
            } => {
                info!(%sa, "child SA deleted in {inbound_spi:08x} out {outbound_spi:08x}");
                if let Some(c) = self.children.remove(&inbound_spi) {
                    self.remove_child_sas(inbound_spi, c.outbound_spi);
                }
            }
            Event::ChildFailed { sa, error } => warn!(%sa, %error, "child SA failed"),
            Event::Refused {
                sa,
                remote,
                exchange,
                reason,
            } => warn!(
                sa = %sa.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                %remote, %exchange, %reason,
                "refused the peer's request"
            ),
            other => debug!(?other, "event"),
        }
    }

    fn child_up(&mut self, sa: IkeSaId, c: &ChildSaUp, rekey_of: Option<u32>) {
        info!(
            %sa,
            mode = ?c.inbound.mode,
            suite = %c.inbound.suite,
            udp_encap = c.udp_encap,
            local_ts = ?c.local_ts,
            remote_ts = ?c.remote_ts,
            rekey_of = ?rekey_of.map(|s| format!("{s:08x}")),
            "child SA up in {:08x} out {:08x}",
            c.inbound.spi,
            c.outbound.spi
        );
        self.keylog.esp(c.remote.ip(), c.local.ip(), &c.inbound);
        self.keylog.esp(c.local.ip(), c.remote.ip(), &c.outbound);
        let now = Instant::now();
        self.installed += 1;
        match (
            InboundSa::new(&c.inbound, now),
            OutboundSa::new(&c.outbound, now),
        ) {
            (Ok(inbound), Ok(outbound)) => {
                if !c.udp_encap {
                    warn!("no NAT detected: plain ESP needs kernel support; use --force-encap");
                }
                let policy = Policy::any_protocol(self.args.local, c.remote.ip());
                let outbound_spi = outbound.spi();
                let replaced = self.children.insert(
                    c.inbound.spi,
                    Child {
                        ike: sa,
                        outbound_spi,
                        remote: c.remote,
                        udp_encap: c.udp_encap,
                        mode: c.inbound.mode,
                        order: self.installed,
                    },
                );
                if let Some(old) = replaced
                    && old.outbound_spi != outbound_spi
                {
                    self.remove_child_sas(c.inbound.spi, old.outbound_spi);
                }
                self.sadb.insert_inbound(policy, inbound);
                self.sadb.insert_outbound(policy, outbound);
            }
            (Err(e), _) | (_, Err(e)) => warn!("cannot install child SA: {e}"),
        }
    }

    /// Removes a child SA's ESP SAs from the database (the outbound one only if no other child
    /// SA uses the same SPI).
    fn remove_child_sas(&mut self, inbound_spi: u32, outbound_spi: u32) {
        self.sadb.remove_inbound(inbound_spi);
        if !self
            .children
            .values()
            .any(|c| c.outbound_spi == outbound_spi)
        {
            self.sadb.remove_outbound(outbound_spi);
        }
    }

    /// The newest child SA carries outbound traffic.
    fn outbound_child(&self) -> Option<&Child> {
        self.children.values().max_by_key(|c| c.order)
    }

    async fn on_tun(&mut self, pkt: &[u8]) {
        let now = Instant::now();
        let Some(c) = self.outbound_child() else {
            debug!("no child SA: dropping {} bytes from the TUN", pkt.len());
            return;
        };
        let (remote, encap) = (c.remote, c.udp_encap);
        let (nh, payload) = match c.mode {
            Mode::Tunnel => match ip::version(pkt) {
                Some(4) => (dmvpn_esp::NEXT_HEADER_IPV4, pkt),
                Some(6) => (dmvpn_esp::NEXT_HEADER_IPV6, pkt),
                _ => return,
            },
            Mode::Transport => match ip::Repr::parse(pkt) {
                Ok((header, payload)) => (header.protocol().0, payload),
                Err(_) => return,
            },
        };
        let mut wire = vec![0u8; payload.len() + 128];
        let local = self.args.local;
        match self
            .sadb
            .encapsulate(now, local, remote.ip(), nh, payload, &mut wire)
        {
            Ok(esp_pkt) if encap => {
                let esp_pkt = esp_pkt.to_vec();
                if let Err(e) = self.sock4500.send_to(&esp_pkt, remote).await {
                    warn!("ESP send: {e}");
                }
            }
            Ok(_) => debug!("plain ESP not supported here"),
            Err(e) => debug!("encapsulate: {e}"),
        }
    }

    async fn on_4500(&mut self, from: SocketAddr, data: &[u8]) {
        let now = Instant::now();
        match UdpPayload::classify(data) {
            Ok(UdpPayload::NatKeepalive) => {}
            Ok(UdpPayload::Ike(_)) => {
                let local = SocketAddr::new(self.args.local, NAT_T_PORT);
                if let Err(e) = self.ep.handle_datagram(now, local, from, data) {
                    debug!("IKE from {from}: {e}");
                }
                self.flush().await;
            }
            Ok(UdpPayload::Esp(p)) => {
                let spi = p.spi();
                let Some(c) = self.children.get(&spi) else {
                    debug!("ESP with unknown SPI {spi:08x}");
                    return;
                };
                let mut plain = vec![0u8; data.len()];
                let ike = c.ike;
                let mode = c.mode;
                let peer = c.remote.ip();
                let local = self.args.local;
                let out = match self
                    .sadb
                    .decapsulate(now, from.ip(), local, data, &mut plain)
                {
                    Ok(d) => match mode {
                        Mode::Tunnel => Some(d.payload.to_vec()),
                        Mode::Transport => ip_packet(peer, local, d.next_header, d.payload),
                    },
                    Err(e) => {
                        debug!("decapsulate {spi:08x}: {e}");
                        None
                    }
                };
                self.ep.note_activity(now, ike);
                if let Some(pkt) = out
                    && let Err(e) = self.tun.send(&pkt).await
                {
                    warn!("TUN write: {e}");
                }
            }
            Err(e) => debug!("UDP 4500 from {from}: {e}"),
        }
    }

    /// esp lifetime events: a soft (kilobyte) limit asks for a rekey of the child SA (named by
    /// its IKE SA and inbound SPI) whose inbound or outbound ESP SA reached it.
    fn esp_events(&mut self) -> Vec<(IkeSaId, u32)> {
        let mut due = Vec::new();
        while let Some(e) = self.sadb.poll_event() {
            let child = match e.sa.direction {
                Direction::Inbound => self.children.get(&e.sa.spi).map(|c| (c.ike, e.sa.spi)),
                Direction::Outbound => self
                    .children
                    .iter()
                    .find(|(_, c)| c.outbound_spi == e.sa.spi)
                    .map(|(spi, c)| (c.ike, *spi)),
            };
            match (e.event, child) {
                (dmvpn_esp::Event::RekeyDue { .. }, Some(c)) => due.push(c),
                _ => debug!(?e, "ESP SA event"),
            }
        }
        due
    }

    fn rekey_children(&mut self) {
        let now = Instant::now();
        let list: Vec<(IkeSaId, u32)> = self.children.iter().map(|(s, c)| (c.ike, *s)).collect();
        for (ike, spi) in list {
            if let Err(e) = self.ep.rekey_child(now, ike, spi) {
                warn!("rekey child {spi:08x}: {e}");
            }
        }
    }

    fn rekey_ikes(&mut self) {
        let now = Instant::now();
        for s in self.ep.status(now) {
            if let Err(e) = self.ep.rekey_ike(now, s.sa) {
                warn!("rekey {}: {e}", s.sa);
            }
        }
    }

    fn initiate(&mut self) {
        let now = Instant::now();
        let local = SocketAddr::new(self.args.local, 500);
        let remote = SocketAddr::new(self.args.remote, 500);
        let started = self.ep.initiate(
            now,
            local,
            remote,
            Some(identity(&self.args.remote_id)),
            None,
        );
        let Some(r) = self.reinit.as_mut() else {
            return;
        };
        match started {
            Ok(sa) => {
                info!(%sa, %remote, "initiating");
                r.started(sa);
            }
            Err(e) => {
                let at = r.start_failed(now);
                warn!(
                    "initiate: {e}; again in {:?}",
                    at.saturating_duration_since(now)
                );
            }
        }
    }
}

/// Whether `addr` lies in the IPv4 prefix `net/len`.
fn prefix_contains(net: IpAddr, len: u8, addr: IpAddr) -> bool {
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
struct Routes {
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
    fn install(args: &Args, rts: IpAddr, rlen: u8, peer_inside: bool) -> Result<Self, BoxError> {
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

async fn run(args: Args) -> Result<(), BoxError> {
    let psk = std::fs::read_to_string(&args.psk_file)?;
    let psk = psk.lines().next().unwrap_or("").trim().to_string();
    if psk.is_empty() {
        return Err("empty pre-shared key".into());
    }
    let mut psks = PskTable::new();
    psks.insert(identity(&args.remote_id), Psk::from(psk.as_str()));
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_os()?));
    let (lts, llen) = prefix(&args.local_ts)?;
    let (rts, rlen) = prefix(&args.remote_ts)?;
    let mut cfg = Config::new(provider, identity(&args.local_id), psks)
        .with_ike_proposals(&[args.ike.as_str()])?
        .with_esp_proposals(&[args.esp.as_str()])?;
    cfg.mode = match args.mode.as_str() {
        "tunnel" => Mode::Tunnel,
        "transport" => Mode::Transport,
        other => return Err(format!("--mode {other}: tunnel or transport").into()),
    };
    cfg.local_ts = Some(vec![ts_prefix(lts, llen)]);
    cfg.remote_ts = Some(vec![ts_prefix(rts, rlen)]);
    cfg.child_lifetime = Duration::from_secs(args.child_lifetime);
    cfg.ike_lifetime = Duration::from_secs(args.ike_lifetime);
    cfg.force_encap = args.force_encap;
    let ep = Endpoint::new(cfg)?;

    // The peer's own address inside the remote selector (transport mode, or a host-to-host
    // tunnel): a plain route would send IKE and ESP into the TUN, where they never reach the
    // wire. The inner traffic then goes through a table of its own, chosen by a rule that
    // IKE (UDP 500/4500) and ESP skip, so they keep the underlay.
    let peer_inside = prefix_contains(rts, rlen, args.remote);
    let own_inside = prefix_contains(lts, llen, args.local);
    let mut builder = tun_rs::DeviceBuilder::new().name(&args.tun).mtu(1400);
    if !own_inside {
        builder = builder.ipv4(lts, 32, None);
    }
    let tun = builder.build_async()?;
    let routes = Routes::install(&args, rts, rlen, peer_inside)?;
    info!(tun = %args.tun, local_ts = %args.local_ts, remote_ts = %args.remote_ts, "TUN up");

    let sock500 = UdpSocket::bind(SocketAddr::new(args.local, 500)).await?;
    let sock4500 = UdpSocket::bind(SocketAddr::new(args.local, NAT_T_PORT)).await?;
    let keylog = KeyLog(match &args.keylog {
        Some(p) => Some(OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    });
    let mut peer = Peer {
        start: Instant::now(),
        reinit: args
            .initiate
            .then(|| Reinitiator::new(Backoff::default(), Instant::now())),
        args,
        ep,
        sock500,
        sock4500,
        tun,
        children: BTreeMap::new(),
        sadb: SaDatabase::new(),
        keylog,
        established: false,
        installed: 0,
    };
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut b500 = vec![0u8; 65536];
    let mut b4500 = vec![0u8; 65536];
    let mut btun = vec![0u8; 65536];
    loop {
        if peer.reinit.as_mut().is_some_and(|r| r.due(Instant::now())) {
            peer.initiate();
        }
        let due: Vec<(IkeSaId, u32)> = peer.esp_events();
        for (ike, spi) in due {
            let _ = peer.ep.rekey_child(Instant::now(), ike, spi);
        }
        peer.flush().await;
        let wake = [
            peer.ep.poll_timeout(),
            peer.sadb.poll_timeout(),
            peer.reinit.as_ref().and_then(Reinitiator::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            r = peer.sock500.recv_from(&mut b500) => {
                let (n, from) = r?;
                let now = Instant::now();
                let local = SocketAddr::new(peer.args.local, 500);
                if let Some(d) = b500.get(..n)
                    && let Err(e) = peer.ep.handle_datagram(now, local, from, d)
                {
                    debug!("IKE from {from}: {e}");
                }
            }
            r = peer.sock4500.recv_from(&mut b4500) => {
                let (n, from) = r?;
                let d = b4500.get(..n).unwrap_or(&[]).to_vec();
                peer.on_4500(from, &d).await;
            }
            r = peer.tun.recv(&mut btun) => {
                let n = r?;
                let d = btun.get(..n).unwrap_or(&[]).to_vec();
                peer.on_tun(&d).await;
            }
            () = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                peer.ep.handle_timeout(now);
                peer.sadb.handle_timeout(now);
            }
            _ = usr1.recv() => { info!("SIGUSR1: rekeying child SAs"); peer.rekey_children(); }
            _ = usr2.recv() => { info!("SIGUSR2: rekeying IKE SAs"); peer.rekey_ikes(); }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    info!("shutting down: deleting SAs");
    peer.ep.close_all(Instant::now());
    peer.flush().await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while peer.ep.ike_sa_count() > 0 && Instant::now() < deadline {
        let wake = peer.ep.poll_timeout().map_or(deadline, |t| t.min(deadline));
        tokio::select! {
            r = peer.sock500.recv_from(&mut b500) => {
                let (n, from) = r?;
                let local = SocketAddr::new(peer.args.local, 500);
                let _ = peer.ep.handle_datagram(Instant::now(), local, from, b500.get(..n).unwrap_or(&[]));
            }
            r = peer.sock4500.recv_from(&mut b4500) => {
                let (n, from) = r?;
                let d = b4500.get(..n).unwrap_or(&[]).to_vec();
                peer.on_4500(from, &d).await;
            }
            () = tokio::time::sleep_until(wake.into()) => peer.ep.handle_timeout(Instant::now()),
        }
        peer.flush().await;
    }
    drop(routes);
    info!(
        uptime_s = peer.start.elapsed().as_secs(),
        counters = ?peer.ep.counters(),
        "bye"
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}
