//! `dmvpn-sim`: the seeds' DMVPN example, simulated in-process on a virtual clock (no root, no
//! network): a hub (NBMA 172.17.0.1, tunnel 10.0.0.1), spoke A (NBMA 172.16.1.1, tunnel
//! 10.0.0.11, LAN 192.168.1.0/24) and spoke B (NBMA 172.16.2.1, tunnel 10.0.0.12, LAN
//! 192.168.2.0/24). The PC 192.168.1.25 pings the web server 192.168.2.37 and every step is
//! narrated as in the seed slides: registration, resolution through the hub, the first packets
//! via the hub, direct spoke-to-spoke traffic, the reverse direction resolving, and the mapping
//! expiring after the holdtime with no traffic.
//!
//! With `--spokes N`, spoke 2k-1 pings spoke 2k for every k: N/2 spoke-to-spoke tunnels.
//! `--phase 3` uses hub redirects and spoke shortcuts; `--nat` puts every spoke behind its own
//! NAT box; `--loss P` loses that fraction of every datagram; `--pcap FILE` records the
//! underlay (raw IP) for Wireshark.
#![allow(clippy::print_stdout)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use dmvpn_core::config::HubResolution;
use dmvpn_core::sim::SimNode;
use dmvpn_core::sim::example::{Example, HUB_NBMA, spoke_name};
use dmvpn_core::{Entropy, EventKind, NhrpEvent, RemoveReason};
use dmvpn_netsim::{HostId, LinkProfile, NatConfig, Network, Recorder, Sim};

#[derive(Parser, Debug)]
#[command(
    name = "dmvpn-sim",
    about = "Simulate the seeds' DMVPN example (hub + spokes, mGRE + NHRP) on a virtual clock"
)]
struct Args {
    /// Number of spokes (spoke 2k-1 pings spoke 2k).
    #[arg(long, default_value_t = 2)]
    spokes: u32,
    /// DMVPN phase: 2 (spokes resolve each other) or 3 (hub redirect + spoke shortcut).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
    phase: u8,
    /// Fraction of datagrams lost on every link (0 to 1; a value above 1 is a percentage).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Put every spoke behind its own NAT box.
    #[arg(long)]
    nat: bool,
    /// Seed of the simulated network's randomness.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write every underlay datagram to this pcap file (raw IP).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Virtual seconds to let pass with no traffic after the pings (default: holdtime + 60,
    /// so that the spoke-to-spoke mappings expire).
    #[arg(long)]
    duration: Option<u64>,
    /// `ip nhrp holdtime` in seconds.
    #[arg(long, default_value_t = 300)]
    holdtime: u32,
    /// Echo requests per pair.
    #[arg(long, default_value_t = 5)]
    pings: u16,
    /// The hub forwards Resolution Requests to the spoke (IOS 12.4+) instead of answering
    /// them (seed 003 steps 3 and 9).
    #[arg(long)]
    forward: bool,
}

struct Demo {
    sim: Sim<SimNode>,
    start: Instant,
    spokes: Vec<HostId>,
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Demo {
    fn t(&self) -> f64 {
        self.sim.now().duration_since(self.start).as_secs_f64()
    }

    fn node(&self, id: HostId) -> Option<&SimNode> {
        self.sim.host(id)
    }

    fn name(&self, id: HostId) -> String {
        self.node(id)
            .map_or_else(|| "?".into(), |n| n.node().hostname().to_string())
    }

    fn run_for(&mut self, d: Duration) -> Result<(), String> {
        let until = self.sim.now() + d;
        self.sim.run_until(until).map_err(|e| e.to_string())
    }

    fn show(&self, ids: &[HostId]) {
        let now = self.sim.now();
        for &id in ids {
            let Some(n) = self.node(id) else { continue };
            let name = n.node().hostname();
            println!("{name}# show dmvpn");
            print_limited(&n.node().show_dmvpn(now), 16);
            println!("{name}# show ip nhrp");
            print_limited(&n.node().show_ip_nhrp(now), 12);
        }
    }

    /// The events of `ids` logged at or after `since` that pass `filter`, as timed lines.
    fn event_lines(
        &self,
        ids: &[HostId],
        since: Instant,
        filter: impl Fn(&EventKind) -> bool,
    ) -> Vec<(Instant, String)> {
        let mut lines = Vec::new();
        for &id in ids {
            let Some(n) = self.node(id) else { continue };
            for (at, e) in n.events() {
                if *at >= since && filter(&e.kind) {
                    lines.push((*at, format!("{:>8}: {e}", n.node().hostname())));
                }
            }
        }
        lines
    }

    /// Prints timed lines (packets and events together) in time order; lines at the same instant
    /// keep the order they were given in (packets before the events they caused).
    fn print_timeline(&self, mut lines: Vec<(Instant, String)>) {
        lines.sort_by_key(|(t, _)| *t);
        for (at, l) in lines {
            println!(
                "  [{:>8.3}s] {l}",
                at.duration_since(self.start).as_secs_f64()
            );
        }
    }

    /// Takes the packet traces of `ids` as timed lines.
    fn trace_lines(&mut self, ids: &[HostId]) -> Vec<(Instant, String)> {
        let mut lines = Vec::new();
        for &id in ids {
            let name = self.name(id);
            let Some(n) = self.sim.host_mut(id) else {
                continue;
            };
            for t in n.take_trace() {
                let path = if t.dst == IpAddr::from(HUB_NBMA) {
                    "  (to the hub)"
                } else if t.src == IpAddr::from(HUB_NBMA) {
                    "  (from the hub)"
                } else {
                    "  (spoke to spoke, direct)"
                };
                let line = format!(
                    "{name:>8}  GRE {:>15} -> {:<15} {}{}",
                    t.src.to_string(),
                    t.dst.to_string(),
                    t.what,
                    if t.echo.is_some() { path } else { "" }
                );
                lines.push((t.at, line));
            }
        }
        lines
    }
}

fn print_limited(text: &str, max: usize) {
    let lines: Vec<&str> = text.lines().collect();
    for l in lines.iter().take(max) {
        println!("  {l}");
    }
    if lines.len() > max {
        println!("  ... ({} more lines)", lines.len() - max);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dmvpn-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let wall = Instant::now();
    if args.spokes < 1 {
        return Err("--spokes must be at least 1".into());
    }
    let loss = if args.loss > 1.0 {
        args.loss / 100.0
    } else {
        args.loss
    };
    if !(0.0..1.0).contains(&loss) {
        return Err("--loss must be in [0, 1) (or a percentage below 100)".into());
    }
    let mut ex = Example::new(args.spokes);
    ex.phase = args.phase;
    ex.holdtime = args.holdtime;
    if args.forward {
        ex.hub_resolution = HubResolution::Forward;
    }
    let narrate = args.spokes <= 10;
    let start = Instant::now();
    let mut net = Network::new(args.seed, start);
    net.set_default_link(LinkProfile {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(2),
        loss,
        ..LinkProfile::default()
    });
    if args.pcap.is_some() {
        net.record(Recorder::new(start));
    }
    if args.nat {
        for i in 1..=args.spokes {
            let public = std::net::Ipv4Addr::from(
                u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0)).wrapping_add(i),
            );
            net.add_nat(NatConfig {
                public: vec![public.into()],
                inside: vec![ex.spoke_nbma(i).into()],
            });
        }
    }
    let mut sim = Sim::new(net);
    // Every node's randomness (NHRP request IDs) from --seed: a run repeats exactly.
    let entropy = Entropy::from_seed(args.seed);
    let mut hub_node =
        SimNode::new(start, ex.hub(), entropy.derive(0)).map_err(|e| e.to_string())?;
    hub_node.set_trace(narrate);
    for (net, via) in ex.hub_routes() {
        hub_node.add_route(net, via).map_err(|e| e.to_string())?;
    }
    let hub = sim.add_host(hub_node);
    let mut spokes = Vec::new();
    for i in 1..=args.spokes {
        let mut n =
            SimNode::new(start, ex.spoke(i), entropy.derive(i)).map_err(|e| e.to_string())?;
        n.set_trace(narrate && i <= 2);
        spokes.push(sim.add_host(n));
    }
    let mut d = Demo { sim, start, spokes };
    let (a, b) = (
        d.spokes.first().copied().unwrap_or(hub),
        d.spokes.get(1).copied(),
    );

    println!(
        "DMVPN phase {} simulation: hub {} (tunnel {}), {} spoke{}{}{}, holdtime {} s, seed {}",
        args.phase,
        HUB_NBMA,
        dmvpn_core::sim::example::HUB_TUNNEL,
        args.spokes,
        if args.spokes == 1 { "" } else { "s" },
        if args.nat {
            ", every spoke behind NAT"
        } else {
            ""
        },
        if loss > 0.0 {
            format!(", {:.0}% loss", loss * 100.0)
        } else {
            String::new()
        },
        args.holdtime,
        args.seed
    );
    if narrate {
        for i in 1..=args.spokes {
            println!(
                "  spoke {}: NBMA {}, tunnel {}, LAN {}",
                spoke_name(i),
                ex.spoke_nbma(i),
                ex.spoke_tunnel(i),
                ex.spoke_lan(i)
            );
        }
    }

    // 1. Registration.
    println!("\n== 1. The spokes boot and register their NBMA addresses with the hub (NHS)");
    let limit = d.sim.now() + secs(600);
    let n_spokes = args.spokes as usize;
    let registered = |s: &Sim<SimNode>| {
        s.host(hub)
            .and_then(|h| h.node().nhrp_server(0))
            .is_some_and(|srv| {
                srv.cache()
                    .iter()
                    .filter(|e| e.flags.contains(dmvpn_nhrp::EntryFlags::REGISTERED))
                    .count()
                    >= n_spokes
            })
    };
    d.sim
        .run_until_true(limit, registered)
        .map_err(|e| e.to_string())?;
    d.run_for(secs(1))?;
    let regs = d
        .node(hub)
        .and_then(|h| h.node().nhrp_server(0))
        .map_or(0, |s| {
            s.cache()
                .iter()
                .filter(|e| e.flags.contains(dmvpn_nhrp::EntryFlags::REGISTERED))
                .count()
        });
    if narrate {
        let mut ids = vec![hub, a];
        ids.extend(b);
        let mut lines = d.trace_lines(&ids);
        let mut ids = vec![hub];
        ids.extend(d.spokes.iter().copied());
        lines.extend(d.event_lines(&ids, start, |k| {
            matches!(
                k,
                EventKind::Nhrp(NhrpEvent::NhsUp { .. } | NhrpEvent::NatDetected { .. })
                    | EventKind::PeerRegistered { .. }
            )
        }));
        d.print_timeline(lines);
    }
    println!(
        "  {regs}/{} spokes registered after {:.3} s (virtual)",
        args.spokes,
        d.t()
    );

    // Routes: what the routing protocol over the tunnel would install on the spokes.
    for k in 0..args.spokes / 2 {
        let (i, j) = (2 * k + 1, 2 * k + 2);
        for (x, y) in [(i, j), (j, i)] {
            let (net, via) = ex.spoke_route(y);
            if let Some(n) = d
                .spokes
                .get((x - 1) as usize)
                .and_then(|&id| d.sim.host_mut(id))
            {
                n.add_route(net, via).map_err(|e| e.to_string())?;
            }
        }
    }
    if narrate {
        println!("\n-- before the ping:");
        let mut ids = vec![hub, a];
        ids.extend(b);
        d.show(&ids);
    }

    // 2. The ping.
    if b.is_none() {
        println!("\n(one spoke only: nothing to ping)");
    } else {
        println!(
            "\n== 2. The PC {} on spoke A's LAN pings the web server {} behind spoke B",
            ex.lan_host(1, 25),
            ex.lan_host(2, 37)
        );
        if narrate && args.phase >= 3 {
            println!(
                "  step 1: the PC sends the echo request to its gateway, spoke A\n  \
                 step 2: spoke A's routing table gives the summary {} via the hub {} on Tunnel0\n  \
                 step 3: the hub's mapping is static: the packet goes to the hub, which forwards it to spoke B\n  \
                 \x20        and (ip nhrp redirect) sends spoke A a Traffic Indication; spoke A (ip nhrp shortcut)\n  \
                 \x20        resolves {} through the hub and installs a shortcut route",
                ex.lan_summary(),
                ex.spoke_route(2).1,
                ex.lan_host(2, 37),
            );
        } else if narrate {
            println!(
                "  step 1: the PC sends the echo request to its gateway, spoke A\n  \
                 step 2: spoke A's routing table gives {} via {} on Tunnel0\n  \
                 step 3: spoke A has no NHRP mapping for {}: it sends a Resolution Request to the hub\n  \
                 \x20        and, meanwhile, the packet itself to the hub, which forwards it to spoke B",
                ex.lan_host(2, 37),
                ex.spoke_route(2).1,
                ex.spoke_route(2).1,
            );
        }
    }
    let pairs = args.spokes / 2;
    for seq in 1..=args.pings {
        let now = d.sim.now();
        for k in 0..pairs {
            let (i, j) = (2 * k + 1, 2 * k + 2);
            let (src, dst) = if i == 1 {
                (ex.lan_host(1, 25), ex.lan_host(2, 37))
            } else {
                (ex.lan_host(i, 25), ex.lan_host(j, 37))
            };
            if let Some(n) = d
                .spokes
                .get((i - 1) as usize)
                .and_then(|&id| d.sim.host_mut(id))
            {
                n.ping(now, src, dst, 1, seq);
            }
        }
        d.sim.flush();
        d.run_for(secs(1))?;
        if narrate && pairs > 0 {
            let got = d.node(a).map_or(0, |n| {
                n.replies().iter().filter(|r| r.echo.seq == seq).count()
            });
            println!(
                "\n  -- echo seq {seq}: {}",
                if got > 0 {
                    "reply received by the PC"
                } else {
                    "no reply (lost)"
                }
            );
            let mut ids = vec![a, hub];
            ids.extend(b);
            let mut lines = d.trace_lines(&ids);
            if seq == 1 {
                lines.extend(d.event_lines(&ids, now, |k| {
                    matches!(
                        k,
                        EventKind::Resolving { .. }
                            | EventKind::MappingAdded { .. }
                            | EventKind::NbmaPeerUp { .. }
                            | EventKind::ShortcutAdded { .. }
                            | EventKind::Nhrp(
                                NhrpEvent::ResolutionFailed { .. }
                                    | NhrpEvent::ResolutionNegative { .. }
                            )
                    )
                }));
            }
            d.print_timeline(lines);
            if seq == 1 {
                println!(
                    "  steps 4-6: the Resolution Reply maps {} -> {}; the mapping would trigger IPsec here;\n  \
                     \x20           further packets go directly spoke to spoke\n  \
                     steps 7-10: spoke B resolves spoke A the same way for its replies",
                    if args.phase >= 3 {
                        ex.spoke_lan(2).to_string()
                    } else {
                        ex.spoke_tunnel(2).to_string()
                    },
                    ex.spoke_nbma(2)
                );
            }
        }
    }
    if narrate && b.is_some() {
        println!("\n-- after the ping:");
        let mut ids = vec![hub, a];
        ids.extend(b);
        d.show(&ids);
        if let Some(n) = d.node(a) {
            println!("{}# show ip nhrp traffic", n.node().hostname());
            print_limited(&n.node().show_ip_nhrp_traffic(d.sim.now()), 12);
        }
    }

    // 3. Expiry.
    let idle = args.duration.unwrap_or(u64::from(args.holdtime) + 60);
    println!(
        "\n== 3. No more traffic: {idle} s pass (step 11: an unused mapping is deleted after its holdtime)"
    );
    let idle_start = d.sim.now();
    d.run_for(secs(idle))?;
    if narrate {
        let mut ids = vec![a];
        ids.extend(b);
        let lines = d.event_lines(&ids, idle_start, |k| {
            matches!(
                k,
                EventKind::MappingRemoved { .. }
                    | EventKind::NbmaPeerDown { .. }
                    | EventKind::ShortcutRemoved { .. }
            )
        });
        d.print_timeline(lines);
        println!("\n-- after {idle} s without traffic:");
        let mut ids = vec![a];
        ids.extend(b);
        d.show(&ids);
    }

    // Summary.
    let mut replies = 0usize;
    let mut mappings = 0usize;
    let mut shortcuts = 0usize;
    let mut expired = 0usize;
    let (mut direct, mut via_hub) = (0u64, 0u64);
    let mut pairs_ok = 0u32;
    for k in 0..pairs {
        let i = 2 * k + 1;
        let Some(n) = d.spokes.get((i - 1) as usize).and_then(|&id| d.node(id)) else {
            continue;
        };
        let r = n.replies().len();
        replies += r;
        let peer = IpAddr::from(ex.spoke_nbma(i + 1));
        let mapped = n.events().iter().any(|(_, e)| {
            matches!(&e.kind, EventKind::NbmaPeerUp { nbma } if *nbma == peer)
                || matches!(&e.kind, EventKind::NbmaPeerUp { .. } if args.nat)
        });
        if mapped && r > 0 {
            pairs_ok += 1;
        }
    }
    for &id in &d.spokes {
        let Some(n) = d.node(id) else { continue };
        let s = n.node().stats();
        direct += s.sent_direct;
        via_hub += s.sent_via_nhs;
        for (_, e) in n.events() {
            match e.kind {
                EventKind::MappingAdded { .. } => mappings += 1,
                EventKind::ShortcutAdded { .. } => shortcuts += 1,
                EventKind::MappingRemoved {
                    reason: RemoveReason::Expired,
                    ..
                } => expired += 1,
                _ => {}
            }
        }
    }
    let hub_fwd = d.node(hub).map_or(0, |h| h.node().stats().forwarded);
    let net = d.sim.network().stats();
    if let Some(path) = &args.pcap
        && let Some(rec) = d.sim.network_mut().take_recorder()
    {
        rec.write(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "\nwrote {} frames to {}",
            rec.frames().len(),
            path.display()
        );
    }
    println!(
        "\ndmvpn-sim: {regs}/{} spokes registered; {pairs_ok}/{pairs} spoke-to-spoke tunnels built \
         ({mappings} mappings, {shortcuts} shortcuts); {replies}/{} echo replies; {via_hub} packets via the hub \
         while resolving ({hub_fwd} forwarded by it), {direct} sent directly; {expired} mappings expired \
         after {idle} s idle; {} datagrams ({} lost); {:.0} s virtual in {:.2} s",
        args.spokes,
        u32::from(args.pings) * pairs,
        net.sent,
        net.lost,
        d.t(),
        wall.elapsed().as_secs_f64()
    );
    Ok(())
}
