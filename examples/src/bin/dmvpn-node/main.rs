//! `dmvpn-node`: one DMVPN hub or spoke (or both, with several tunnel interfaces) on Linux, with
//! the real clock: the `dmvpn_core::Node` driven by TUN devices and sockets. No kernel GRE or
//! XFRM is needed: everything above IP is the node's.
//!
//! - A TUN device per tunnel interface, named after it (`Tunnel0`), with its overlay address
//!   and `ip mtu`.
//! - Per tunnel source (IPv4, or IPv6 with `tunnel mode gre multipoint ipv6`): a raw IP socket
//!   for GRE (protocol 47) on an unprotected interface, one for ESP (50) and UDP sockets on 500
//!   and 4500 on a protected one.
//! - Overlay routes (`ip route` lines, `--route PREFIX=VIA`) go into the node's table and into
//!   the kernel's, through netlink, towards the TUN.
//! - Phase 3 shortcut routes go into the kernel's table as the node's events add and withdraw
//!   them (towards the same TUN: the kernel's table shows what `show ip route` shows as `H`).
//! - A control socket (`dmvpnctl`): `show` (`--json` on each), `clear`, `debug`; root only
//!   (mode 0600), or a group's too with `--socket-group`.
//! - Logs through `tracing` (`RUST_LOG`) in the seeds' `%DMVPN-…` / `%CRYPTO-…` style; `debug
//!   nhrp` / `debug crypto` add a record per NHRP packet / IKE message (target `dmvpn::debug`).
//! - SIGTERM / SIGINT: NHRP purges and IKE deletes go out, then exit 0. SIGHUP: the file is
//!   read again; route changes are applied, other changes are named and need a restart
//!   (`reload.rs`). A bad configuration at start: the problems, exit status 2. A lost socket or
//!   device: an error naming it, exit 1.
//!
//! ```text
//! dmvpn-node --config hub.cfg [--socket PATH] [--route 192.168.0.0/16=10.0.0.1]
//! dmvpn-node --config spoke.cfg --check      # validate and exit
//! dmvpn-node --config hub.cfg --keylog keys.txt   # SA keys for tshark (secret!)
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod config;
mod ctl;
mod io;
mod json;
mod reload;
mod routes;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use dmvpn_core::config::TunnelConfig;
use dmvpn_core::{Entropy, EventKind, Input, Node, Output};
use dmvpn_wire::{IpProtocol, Proto, Transmit};
use ipnet::IpNet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use io::{Pool, RawSocket, Rx, Tun, Udp};

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(about = "A DMVPN hub or spoke over TUN and sockets (dmvpn-core)")]
struct Args {
    /// The configuration: IOS configuration text (`interface Tunnel0`, `ip nhrp …`, `crypto
    /// ikev2 …`, `ip route …`) or JSON (a `dmvpn_core::config::NodeConfig`, `.json`).
    #[arg(long)]
    config: PathBuf,
    /// The control socket (default: /run/dmvpn-node/HOSTNAME.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// An overlay route `PREFIX=VIA` (as `ip route PREFIX VIA`), repeatable.
    #[arg(long = "route")]
    routes: Vec<String>,
    /// Check the configuration, print what it would run, and exit (0: good, 2: refused).
    #[arg(long)]
    check: bool,
    /// A group whose members may use the control socket too (mode 0660).
    #[arg(long)]
    socket_group: Option<String>,
    /// Print the configuration as JSON (the `NodeConfig` with its `"routes"`, what `--config
    /// FILE.json` reads) and exit. Secrets are printed as `"<redacted>"` (which is refused when
    /// read back) unless `--reveal-secrets` is given too.
    #[arg(long)]
    to_json: bool,
    /// With `--to-json`: print the pre-shared keys and NHRP passwords in clear.
    #[arg(long, requires = "to_json")]
    reveal_secrets: bool,
    /// Append the IKE and ESP keys of every SA to this file (created mode 0600), one tshark
    /// `-o` argument per line (`uat:esp_sa:…`, `uat:ikev2_decryption_table:…`,
    /// `uat:ikev1_decryption_table:…`), to decrypt a capture: `tshark -r F $(sed 's/^/-o /'
    /// FILE)`. The file holds secret keys: for debugging only.
    #[arg(long)]
    keylog: Option<PathBuf>,
}

/// A tunnel source's sockets.
struct Source {
    gre: Option<RawSocket>,
    esp: Option<RawSocket>,
    udp: BTreeMap<u16, Udp>,
}

/// A change to the kernel's routing table the node's events asked for.
enum RouteOp {
    Add(IpNet, String),
    Del(IpNet),
}

/// The running daemon.
struct Daemon {
    node: Node,
    /// The configured tunnel interfaces (the TUN devices' names).
    tunnels: Vec<TunnelConfig>,
    tuns: Vec<Tun>,
    sources: BTreeMap<IpAddr, Source>,
    pool: Pool,
    start: Instant,
    /// Kernel route changes from the node's events, applied after each drain.
    route_ops: Vec<RouteOp>,
    /// The overlay routes of the configuration (`ip route`, `--route`), as running.
    routes: Vec<(IpNet, IpAddr)>,
    /// Shortcut routes in the kernel's table.
    shortcuts: BTreeSet<IpNet>,
    /// `--keylog`: the file the node's key-log rows go to.
    keylog: Option<std::fs::File>,
}

/// The TUN device (tunnel interface name) that overlay next hop `via` is on.
fn dev_for(node: &Node, tunnels: &[TunnelConfig], via: IpAddr) -> Option<String> {
    let (t, _, _) = node.lookup(via)?;
    let i = node.configured_tunnel(t)?;
    tunnels.get(i).map(|c| c.name.clone())
}

impl Daemon {
    /// A node event: logged; a shortcut route becomes a kernel route (unless a configured
    /// route has that prefix).
    fn on_event(&mut self, e: &dmvpn_core::Event) {
        info!(target: "dmvpn", "{e}");
        let configured = |p: &IpNet| self.routes.iter().any(|(r, _)| r == p);
        match &e.kind {
            EventKind::ShortcutAdded { prefix, .. } if !configured(prefix) => {
                let dev = self
                    .node
                    .configured_tunnel(e.tunnel)
                    .and_then(|i| self.tunnels.get(i))
                    .map(|c| c.name.clone());
                if let Some(dev) = dev {
                    self.route_ops.push(RouteOp::Add(*prefix, dev));
                }
            }
            EventKind::ShortcutRemoved { prefix, .. } if !configured(prefix) => {
                self.route_ops.push(RouteOp::Del(*prefix));
            }
            _ => {}
        }
    }

    /// Applies the kernel route changes the events asked for.
    async fn apply_routes(&mut self, kernel: &routes::Kernel) {
        for op in std::mem::take(&mut self.route_ops) {
            match op {
                RouteOp::Add(prefix, dev) => match kernel.add(prefix, &dev).await {
                    Ok(()) => {
                        debug!("kernel route {prefix} dev {dev} (NHRP shortcut)");
                        self.shortcuts.insert(prefix);
                    }
                    Err(e) => warn!("kernel route {prefix} dev {dev}: {e}"),
                },
                RouteOp::Del(prefix) => {
                    if self.shortcuts.remove(&prefix)
                        && let Err(e) = kernel.del(prefix).await
                    {
                        warn!("kernel route {prefix}: {e}");
                    }
                }
            }
        }
    }

    /// SIGHUP: reads the file again and applies what can be applied (see `reload.rs`).
    async fn reload(&mut self, args: &Args, running: &mut config::Loaded, kernel: &routes::Kernel) {
        let new = match config::load(&args.config, &args.routes) {
            Ok(n) => n,
            Err(e) => {
                error!("reload: {e}; the running configuration stays");
                return;
            }
        };
        let plan = reload::plan(&running.node, &running.routes, &new.node, &new.routes);
        for (prefix, via) in &plan.remove {
            self.node.remove_route(*prefix);
            if !self.shortcuts.contains(prefix)
                && let Err(e) = kernel.del(*prefix).await
            {
                warn!("reload: kernel route {prefix}: {e}");
            }
            info!("reload: no ip route {prefix} {via}");
        }
        for (prefix, via) in &plan.add {
            if let Err(e) = self.node.add_route(*prefix, *via) {
                error!("reload: ip route {prefix} {via}: {e}");
                continue;
            }
            match dev_for(&self.node, &self.tunnels, *via) {
                Some(dev) => match kernel.add(*prefix, &dev).await {
                    Ok(()) => info!("reload: ip route {prefix} {via} (dev {dev})"),
                    Err(e) => warn!("reload: kernel route {prefix} dev {dev}: {e}"),
                },
                None => warn!("reload: ip route {prefix} {via}: {via} is on no tunnel"),
            }
        }
        running.routes = self
            .routes
            .iter()
            .filter(|r| !plan.remove.contains(r))
            .chain(plan.add.iter())
            .copied()
            .collect();
        self.routes = running.routes.clone();
        if plan.restart.is_empty() {
            info!(
                "reload: {} route(s) added, {} removed; nothing else changed",
                plan.add.len(),
                plan.remove.len()
            );
        } else {
            warn!(
                "reload: these changes need a restart and are NOT applied (the running \
                 configuration stays): {}",
                plan.restart.join("; ")
            );
        }
        for n in &new.notes {
            info!("reload: {n}");
        }
    }

    /// Hands the node's output to the sockets and devices until it asks for a timer.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.node.poll_output() {
                Output::Transmit(t) => {
                    self.send(&t);
                    self.node.recycle(t.payload);
                }
                Output::Deliver(d) => {
                    // A dual-stack interface's IPv6 overlay delivers into its interface's TUN.
                    let tun = self.node.configured_tunnel(d.tunnel);
                    if let Some(tun) = tun.and_then(|i| self.tuns.get_mut(i)) {
                        tun.send(d.packet());
                    }
                    self.node.recycle(d.into_buffer());
                }
                Output::Event(e) => self.on_event(&e),
                Output::Timeout(t) => {
                    while let Some(r) = self.node.poll_debug() {
                        for line in r.lines() {
                            info!(target: "dmvpn::debug", "{line}");
                        }
                    }
                    self.write_keylog();
                    return t;
                }
            }
        }
    }

    /// The node's new key-log rows into the `--keylog` file (none without one: the node
    /// keeps no rows then).
    fn write_keylog(&mut self) {
        use std::io::Write as _;
        let Some(f) = self.keylog.as_mut() else {
            return;
        };
        while let Some(row) = self.node.poll_keylog() {
            if let Err(e) = writeln!(f, "{row}").and_then(|()| f.flush()) {
                warn!("keylog: {e}");
            }
        }
    }

    fn send(&mut self, t: &Transmit) {
        let Some(s) = self.sources.get_mut(&t.src) else {
            warn!("transmit from {} (no such tunnel source)", t.src);
            return;
        };
        match t.proto {
            Proto::Ip(IpProtocol::GRE) => {
                if let Some(r) = s.gre.as_mut() {
                    r.send(t.dst, &t.payload);
                }
            }
            Proto::Ip(IpProtocol::ESP) => {
                if let Some(r) = s.esp.as_mut() {
                    r.send(t.dst, &t.payload);
                }
            }
            Proto::Udp { src_port, dst_port } => {
                if let Some(u) = s.udp.get_mut(&src_port) {
                    u.send(SocketAddr::new(t.dst, dst_port), &t.payload);
                }
            }
            other => warn!("transmit {other:?} not sent"),
        }
    }

    /// One datagram from a reader.
    fn on_rx(&mut self, rx: Rx) -> Result<(), String> {
        let now = Instant::now();
        match rx {
            Rx::Tun { buf, .. } => {
                if let Err(e) = self.node.handle_input(Input::Overlay { now, packet: &buf }) {
                    debug!("overlay packet: {e}");
                }
                self.pool.give(buf);
            }
            Rx::Raw { proto, buf } => {
                if let Some((src, dst, payload)) = ipv4_payload(&buf) {
                    self.raw_input(now, proto, src, dst, payload);
                }
                self.pool.give(buf);
            }
            Rx::Raw6 {
                proto,
                src,
                dst,
                buf,
            } => {
                self.raw_input(now, proto, src.into(), dst.into(), &buf);
                self.pool.give(buf);
            }
            Rx::Udp { local, from, buf } => {
                let r = self.node.handle_input(Input::Udp {
                    now,
                    src: from,
                    dst: local,
                    payload: &buf,
                });
                if let Err(e) = r {
                    debug!("UDP from {from}: {e}");
                }
                self.pool.give(buf);
            }
            Rx::Lost { what, error } => return Err(format!("{what}: {error}")),
        }
        Ok(())
    }

    /// A GRE or ESP payload from a raw socket.
    fn raw_input(&mut self, now: Instant, proto: u8, src: IpAddr, dst: IpAddr, payload: &[u8]) {
        let r = if proto == IpProtocol::ESP.0 {
            self.node.handle_input(Input::Esp {
                now,
                src,
                dst,
                payload,
            })
        } else {
            self.node.handle_input(Input::Underlay {
                now,
                src,
                dst,
                payload,
            })
        };
        if let Err(e) = r {
            debug!("from {src}: {e}");
        }
    }
}

/// An IPv4 packet's addresses and payload (what a raw IPv4 socket reads); `None` if it is not
/// a well-formed unfragmented IPv4 packet.
fn ipv4_payload(packet: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    let p = dmvpn_wire::ipv4::Packet::new_checked(packet).ok()?;
    if p.more_fragments() || p.fragment_offset() != 0 {
        return None;
    }
    let (src, dst) = (p.src_addr().into(), p.dst_addr().into());
    let hl = p.header_len();
    let total = usize::from(p.total_len());
    Some((src, dst, packet.get(hl..total)?))
}

/// 32 bytes from the operating system for the node's randomness.
fn os_entropy() -> std::io::Result<Entropy> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(Entropy::new(b))
}

async fn run(args: Args) -> Result<(), (u8, String)> {
    let loaded = config::load(&args.config, &args.routes).map_err(|e| (2, e))?;
    for n in &loaded.notes {
        warn!("{n}");
    }
    if args.check {
        println!("{}", loaded.summary());
        return Ok(());
    }
    if args.to_json {
        println!("{}", loaded.to_json(args.reveal_secrets));
        return Ok(());
    }
    let cfg = loaded.node.clone();
    let now = Instant::now();
    let entropy = os_entropy().map_err(|e| (1, format!("/dev/urandom: {e}")))?;
    let mut node = Node::new(now, cfg.clone(), entropy).map_err(|e| (2, e.to_string()))?;
    let keylog = match &args.keylog {
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt as _;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| (1, format!("--keylog {}: {e}", path.display())))?;
            warn!(
                "--keylog {}: the keys of every SA are written there",
                path.display()
            );
            node.enable_keylog();
            Some(f)
        }
        None => None,
    };
    for (prefix, via) in &loaded.routes {
        node.add_route(*prefix, *via)
            .map_err(|e| (2, format!("ip route {prefix} {via}: {e}")))?;
    }
    let (tx, mut rx) = mpsc::channel::<Rx>(1024);
    let pool = Pool::default();
    let mut tuns = Vec::new();
    for t in &cfg.tunnels {
        let tun = Tun::create(&t.name, t.address, t.mtu)
            .map_err(|e| (1, format!("TUN device {}: {e}", t.name)))?;
        tun.spawn_reader(tx.clone(), &pool);
        tuns.push(tun);
    }
    let mut sources: BTreeMap<IpAddr, Source> = BTreeMap::new();
    for t in &cfg.tunnels {
        let s = sources.entry(t.source).or_insert(Source {
            gre: None,
            esp: None,
            udp: BTreeMap::new(),
        });
        if t.protection.is_some() {
            if s.esp.is_none() {
                let r = RawSocket::open(t.source, IpProtocol::ESP.0)
                    .map_err(|e| (1, format!("ESP socket on {}: {e}", t.source)))?;
                r.spawn_reader(IpProtocol::ESP.0, tx.clone(), &pool);
                s.esp = Some(r);
            }
            for port in [500, 4500] {
                if let std::collections::btree_map::Entry::Vacant(v) = s.udp.entry(port) {
                    let local = SocketAddr::new(t.source, port);
                    let u = Udp::bind(local)
                        .await
                        .map_err(|e| (1, format!("UDP socket {local}: {e}")))?;
                    u.spawn_reader(tx.clone(), &pool);
                    v.insert(u);
                }
            }
        } else if s.gre.is_none() {
            let r = RawSocket::open(t.source, IpProtocol::GRE.0)
                .map_err(|e| (1, format!("GRE socket on {}: {e}", t.source)))?;
            r.spawn_reader(IpProtocol::GRE.0, tx.clone(), &pool);
            s.gre = Some(r);
        }
    }
    // The kernel sends the overlay routes' traffic into the TUN devices.
    let kernel = routes::Kernel::new().map_err(|e| (1, format!("netlink: {e}")))?;
    for (prefix, via) in &loaded.routes {
        if let Some(dev) = dev_for(&node, &cfg.tunnels, *via) {
            kernel
                .add(*prefix, &dev)
                .await
                .map_err(|e| (1, format!("kernel route {prefix} dev {dev}: {e}")))?;
        }
    }
    let socket_path = args
        .socket
        .clone()
        .unwrap_or_else(|| ctl::default_path(&cfg.hostname));
    let group = match &args.socket_group {
        Some(g) => match nix::unistd::Group::from_name(g) {
            Ok(Some(g)) => Some(g.gid.as_raw()),
            Ok(None) => return Err((2, format!("--socket-group {g}: no such group"))),
            Err(e) => return Err((1, format!("--socket-group {g}: {e}"))),
        },
        None => None,
    };
    let ctl = ctl::Server::bind(&socket_path, group)
        .map_err(|e| (1, format!("{}: {e}", socket_path.display())))?;
    info!(
        hostname = %cfg.hostname,
        tunnels = cfg.tunnels.len(),
        socket = %socket_path.display(),
        "dmvpn-node running"
    );
    let mut d = Daemon {
        node,
        tunnels: cfg.tunnels.clone(),
        tuns,
        sources,
        pool,
        start: now,
        route_ops: Vec::new(),
        routes: loaded.routes.clone(),
        shortcuts: BTreeSet::new(),
        keylog,
    };
    let mut running = loaded;
    let sig = |k: SignalKind| signal(k).map_err(|e| (1, format!("signal: {e}")));
    let (mut sigint, mut sigterm) = (sig(SignalKind::interrupt())?, sig(SignalKind::terminate())?);
    let mut sighup = sig(SignalKind::hangup())?;
    let result = loop {
        let wake = d
            .drain()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        if !d.route_ops.is_empty() {
            d.apply_routes(&kernel).await;
        }
        tokio::select! {
            r = rx.recv() => match r {
                Some(r) => {
                    // This one and whatever else is waiting, before the output (a batch per
                    // wakeup).
                    let mut lost = d.on_rx(r).err();
                    let mut more = 0;
                    while lost.is_none() && more < 64 {
                        let Ok(r) = rx.try_recv() else { break };
                        lost = d.on_rx(r).err();
                        more += 1;
                    }
                    if let Some(e) = lost {
                        break Err((1, e));
                    }
                }
                None => break Err((1, "every reader stopped".to_string())),
            },
            () = tokio::time::sleep_until(wake.into()) => {
                let _ = d.node.handle_input(Input::Timeout(Instant::now()));
            }
            c = ctl.accept() => {
                if let Ok(stream) = c {
                    ctl::serve(&mut d.node, d.start, stream).await;
                }
            }
            _ = sighup.recv() => {
                info!("SIGHUP: reading {} again", args.config.display());
                d.reload(&args, &mut running, &kernel).await;
            }
            _ = sigint.recv() => break Ok(()),
            _ = sigterm.recv() => break Ok(()),
        }
    };
    // Purges and IKE deletes go out; give them a moment on the wire.
    info!("shutting down: NHRP purges and IKE deletes");
    d.node.shutdown(Instant::now());
    d.drain();
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        tokio::select! {
            r = rx.recv() => match r {
                Some(r) => { let _ = d.on_rx(r); }
                None => break,
            },
            () = tokio::time::sleep_until(until.into()) => {}
        }
        d.drain();
    }
    for (prefix, _) in &d.routes {
        let _ = kernel.del(*prefix).await;
    }
    for prefix in std::mem::take(&mut d.shortcuts) {
        let _ = kernel.del(prefix).await;
    }
    ctl::unlink(&socket_path);
    result
}

fn main() -> ExitCode {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        // Escape codes only on a terminal: a log file is read by people and by grep.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dmvpn-node: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            error!("{msg}");
            eprintln!("dmvpn-node: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Overlay routes given on the command line: `PREFIX=VIA`.
fn parse_route(s: &str) -> Result<(IpNet, IpAddr), String> {
    let (p, v) = s
        .split_once('=')
        .ok_or_else(|| format!("--route {s}: PREFIX=VIA"))?;
    let prefix: IpNet = p.parse().map_err(|e| format!("--route {s}: {e}"))?;
    let via: IpAddr = v.parse().map_err(|e| format!("--route {s}: {e}"))?;
    Ok((prefix, via))
}
