//! `ipsec-peer`: a small IKE + ESP endpoint over UDP 500/4500 with a TUN device for the inner
//! traffic — the `ikev2` (or, with `--ike-version 1`, the `ikev1`) state machines and `esp` SAs
//! driven by a real socket and clock.
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
//! stay on the underlay, `routes.rs`), negotiates (or answers) an IKE SA with a child SA, carries the TUN's packets in
//! ESP (UDP-encapsulated on port 4500, RFC 3948, when NAT traversal is in use — always with
//! strongSwan's `encap = yes`), and logs every SA event and refusal; with `--initiate` it
//! re-initiates after a failure with an exponential back-off (3 s doubling up to 5 min). SIGINT/SIGTERM delete the SAs and exit;
//! SIGUSR1 rekeys the child SAs, SIGUSR2 the IKE SAs. `--keylog FILE` appends the derived IKE and
//! ESP keys as tshark `-o` option values (`uat:ikev2_decryption_table:…` or
//! `uat:ikev1_decryption_table:…`, `uat:esp_sa:…`): the one place keys are ever written, and
//! only on request.
//!
//! The data plane (TUN, ESP, child SAs, the loop) is this file's and is the same for both IKE
//! versions; each version's machine sits behind [`KeyExchange`] (`v2.rs`, `v1.rs`: Main Mode
//! and Quick Mode with the pre-shared key, one policy and one transform set from `--ike` and
//! `--esp`, the traffic selectors as Quick Mode IDs).
#![forbid(unsafe_code)]

mod routes;
mod v1;
mod v2;

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
use dmvpn_ikev2::ChildSaUp;
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::wire::Identity;
use dmvpn_wire::Transmit;
use dmvpn_wire::ip::{self, HeaderOptions, IpProtocol};
use tokio::net::UdpSocket;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, info, warn};

use routes::{Routes, prefix_contains};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "IKEv2 (or IKEv1) + ESP peer over UDP 500/4500 with a TUN device"
)]
pub(crate) struct Args {
    /// IKE version: 2 (RFC 7296), or 1 (RFC 2409: Main Mode and Quick Mode with the pre-shared
    /// key; --ike and --esp then name one phase 1 policy and one phase 2 transform set, the
    /// --esp group meaning PFS).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub(crate) ike_version: u8,
    /// Our underlay address (bound on UDP 500 and 4500).
    #[arg(long)]
    pub(crate) local: IpAddr,
    /// The peer's underlay address.
    #[arg(long)]
    pub(crate) remote: IpAddr,
    /// Our identity (an IP address, else an FQDN).
    #[arg(long)]
    pub(crate) local_id: String,
    /// The peer's identity (an IP address, else an FQDN).
    #[arg(long)]
    pub(crate) remote_id: String,
    /// File whose first line is the pre-shared key.
    #[arg(long)]
    pub(crate) psk_file: PathBuf,
    /// IKE proposals (strongSwan syntax), e.g. aes128-sha256-modp2048, or a comma-separated
    /// list in order of preference: aes128-sha256-modp3072,aes128-sha256-modp2048.
    #[arg(long)]
    pub(crate) ike: String,
    /// ESP proposals (strongSwan syntax), e.g. aes256gcm16-x25519 (a group means PFS on rekey),
    /// or a comma-separated list in order of preference.
    #[arg(long)]
    pub(crate) esp: String,
    /// Name of the TUN device to create.
    #[arg(long)]
    pub(crate) tun: String,
    /// Local traffic selector, a prefix (its address goes on the TUN device).
    #[arg(long)]
    pub(crate) local_ts: String,
    /// Remote traffic selector, a prefix (routed into the TUN device).
    #[arg(long)]
    pub(crate) remote_ts: String,
    /// Start the IKE SA (else wait for the peer).
    #[arg(long)]
    pub(crate) initiate: bool,
    /// ESP mode.
    #[arg(long, default_value = "tunnel")]
    pub(crate) mode: String,
    /// Append the derived keys as tshark decryption table rows to this file.
    #[arg(long)]
    pub(crate) keylog: Option<PathBuf>,
    /// Child SA lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub(crate) child_lifetime: u64,
    /// IKE SA lifetime in seconds.
    #[arg(long, default_value_t = 14400)]
    pub(crate) ike_lifetime: u64,
    /// Pretend a NAT so that ESP goes in UDP (like strongSwan's `encap = yes`).
    #[arg(long)]
    pub(crate) force_encap: bool,
    /// IKEv1: dead peer detection on demand (RFC 3706; IOS `crypto isakmp keepalive`) after
    /// this many seconds without traffic from the peer; 0: off.
    #[arg(long, default_value_t = 0)]
    pub(crate) dpd: u64,
}

impl Args {
    /// `--mode`: the ESP mode of the child SAs.
    fn esp_mode(&self) -> Result<Mode, BoxError> {
        match self.mode.as_str() {
            "tunnel" => Ok(Mode::Tunnel),
            "transport" => Ok(Mode::Transport),
            other => Err(format!("--mode {other}: tunnel or transport").into()),
        }
    }
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

/// The explicit, opt-in key log (`--keylog FILE`): rows from the IKE crates' `keylog` modules
/// and `dmvpn_esp::keylog`, formatted only when a file was given.
pub(crate) struct KeyLog(Option<std::fs::File>);

impl KeyLog {
    /// Appends the row `f` makes, if there is a key log (`f` is not called otherwise).
    pub(crate) fn row(&mut self, f: impl FnOnce() -> String) {
        if let Some(file) = self.0.as_mut()
            && let Err(e) = writeln!(file, "{}", f()).and_then(|()| file.flush())
        {
            warn!("keylog: {e}");
        }
    }

    fn esp(&mut self, src: IpAddr, dst: IpAddr, sa: &dmvpn_esp::SaConfig) {
        self.row(|| dmvpn_esp::keylog::esp_sa_row(src, dst, sa));
    }
}

/// What the data plane acts on, from either IKE version's events (the rest the
/// [`KeyExchange`] logs itself).
pub(crate) enum Update<S> {
    /// A child SA (IKEv1: a Quick Mode SA pair) to install; `rekey_of` names the inbound SPI
    /// of the one it replaces.
    ChildUp {
        sa: S,
        child: Box<ChildSaUp>,
        rekey_of: Option<u32>,
    },
    /// A child SA to remove.
    ChildDeleted {
        sa: S,
        inbound_spi: u32,
        outbound_spi: u32,
    },
    /// The child SAs of IKE SA `old` now belong to `new`.
    IkeRekeyed { old: S, new: S },
}

/// One IKE version's endpoint as the loop drives it: the handle/poll contract of the family's
/// machines, the commands the signals give, and the events the data plane needs.
pub(crate) trait KeyExchange {
    /// The IKE SA handle.
    type Sa: Copy + Eq + std::fmt::Display;
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), BoxError>;
    /// Timers, and with `--initiate` (re-)initiation when due.
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The next event the data plane acts on; every event before it is logged (and its keys
    /// written to `keylog`).
    fn poll_update(&mut self, keylog: &mut KeyLog) -> Option<Update<Self::Sa>>;
    fn rekey_child(&mut self, now: Instant, sa: Self::Sa, inbound_spi: u32)
    -> Result<(), BoxError>;
    /// SIGUSR2.
    fn rekey_ikes(&mut self, now: Instant);
    /// ESP arrived on a child SA of `sa` (liveness checks need not ask).
    fn note_activity(&mut self, now: Instant, sa: Self::Sa);
    fn close_all(&mut self, now: Instant);
    fn sa_count(&self) -> usize;
    fn counters(&self) -> String;
}

/// One installed child SA. Its two ESP SAs live in the [`SaDatabase`]: the inbound one under
/// the key of [`Peer::children`], the outbound one under `outbound_spi`.
struct Child<S> {
    ike: S,
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

struct Peer<K: KeyExchange> {
    ike: K,
    local: IpAddr,
    start: Instant,
    sock500: UdpSocket,
    sock4500: UdpSocket,
    tun: tun_rs::AsyncDevice,
    /// The child SAs by inbound SPI.
    children: BTreeMap<u32, Child<K::Sa>>,
    /// Every child SA's inbound and outbound ESP SA.
    sadb: SaDatabase,
    keylog: KeyLog,
    installed: u64,
}

impl<K: KeyExchange> Peer<K> {
    async fn flush(&mut self) {
        while let Some(t) = self.ike.poll_transmit() {
            let sock = if t.local().port() == NAT_T_PORT {
                &self.sock4500
            } else {
                &self.sock500
            };
            if let Err(e) = sock.send_to(&t.payload, t.remote()).await {
                warn!("send to {}: {e}", t.remote());
            }
        }
        while let Some(u) = self.ike.poll_update(&mut self.keylog) {
            match u {
                Update::ChildUp {
                    sa,
                    child,
                    rekey_of,
                } => self.child_up(sa, &child, rekey_of),
                Update::ChildDeleted {
                    sa,
                    inbound_spi,
                    outbound_spi,
                } => {
                    info!(%sa, "child SA deleted in {inbound_spi:08x} out {outbound_spi:08x}");
                    if let Some(c) = self.children.remove(&inbound_spi) {
                        self.remove_child_sas(inbound_spi, c.outbound_spi);
                    }
                }
                Update::IkeRekeyed { old, new } => {
                    for c in self.children.values_mut() {
                        if c.ike == old {
                            c.ike = new;
                        }
                    }
                }
            }
        }
    }

    fn child_up(&mut self, sa: K::Sa, c: &ChildSaUp, rekey_of: Option<u32>) {
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
                let policy = Policy::any_protocol(self.local, c.remote.ip());
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
    fn outbound_child(&self) -> Option<&Child<K::Sa>> {
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
        let local = self.local;
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
                let local = SocketAddr::new(self.local, NAT_T_PORT);
                if let Err(e) = self.ike.handle_datagram(now, local, from, data) {
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
                let local = self.local;
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
                self.ike.note_activity(now, ike);
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
    fn esp_events(&mut self) -> Vec<(K::Sa, u32)> {
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
        let list: Vec<(K::Sa, u32)> = self.children.iter().map(|(s, c)| (c.ike, *s)).collect();
        for (ike, spi) in list {
            if let Err(e) = self.ike.rekey_child(now, ike, spi) {
                warn!("rekey child {spi:08x}: {e}");
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
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_os()?));
    match args.ike_version {
        1 => {
            let ike = v1::V1::new(&args, provider, &psk)?;
            serve(args, ike).await
        }
        2 => {
            let ike = v2::V2::new(&args, provider, &psk)?;
            serve(args, ike).await
        }
        v => Err(format!("--ike-version {v}: 1 or 2").into()),
    }
}

/// The TUN device, the sockets and the loop around one IKE version's endpoint.
async fn serve<K: KeyExchange>(args: Args, ike: K) -> Result<(), BoxError> {
    let (lts, llen) = prefix(&args.local_ts)?;
    let (rts, rlen) = prefix(&args.remote_ts)?;
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
        ike,
        local: args.local,
        start: Instant::now(),
        sock500,
        sock4500,
        tun,
        children: BTreeMap::new(),
        sadb: SaDatabase::new(),
        keylog,
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
        let due = peer.esp_events();
        for (ike, spi) in due {
            let _ = peer.ike.rekey_child(Instant::now(), ike, spi);
        }
        peer.flush().await;
        let wake = [peer.ike.poll_timeout(), peer.sadb.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            r = peer.sock500.recv_from(&mut b500) => {
                let (n, from) = r?;
                let now = Instant::now();
                let local = SocketAddr::new(peer.local, 500);
                if let Some(d) = b500.get(..n)
                    && let Err(e) = peer.ike.handle_datagram(now, local, from, d)
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
                peer.ike.handle_timeout(now);
                peer.sadb.handle_timeout(now);
            }
            _ = usr1.recv() => { info!("SIGUSR1: rekeying child SAs"); peer.rekey_children(); }
            _ = usr2.recv() => { info!("SIGUSR2: rekeying IKE SAs"); peer.ike.rekey_ikes(Instant::now()); }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    info!("shutting down: deleting SAs");
    peer.ike.close_all(Instant::now());
    peer.flush().await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while peer.ike.sa_count() > 0 && Instant::now() < deadline {
        let wake = peer
            .ike
            .poll_timeout()
            .map_or(deadline, |t| t.min(deadline));
        tokio::select! {
            r = peer.sock500.recv_from(&mut b500) => {
                let (n, from) = r?;
                let local = SocketAddr::new(peer.local, 500);
                let _ = peer.ike.handle_datagram(Instant::now(), local, from, b500.get(..n).unwrap_or(&[]));
            }
            r = peer.sock4500.recv_from(&mut b4500) => {
                let (n, from) = r?;
                let d = b4500.get(..n).unwrap_or(&[]).to_vec();
                peer.on_4500(from, &d).await;
            }
            () = tokio::time::sleep_until(wake.into()) => peer.ike.handle_timeout(Instant::now()),
        }
        peer.flush().await;
    }
    drop(routes);
    info!(
        uptime_s = peer.start.elapsed().as_secs(),
        counters = %peer.ike.counters(),
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
