//! `dmvpn-sim`: the seeds' DMVPN example, simulated in-process on a virtual clock (no root, no
//! network): a hub (NBMA 172.17.0.1, tunnel 10.0.0.1), spoke A (NBMA 172.16.1.1, tunnel
//! 10.0.0.11, LAN 192.168.1.0/24) and spoke B (NBMA 172.16.2.1, tunnel 10.0.0.12, LAN
//! 192.168.2.0/24). The PC 192.168.1.25 pings the web server 192.168.2.37 and every step is
//! narrated as in the seed slides, from what the nodes' events and packet traces say happened:
//! registration, resolution through the hub, the first packets via the hub, direct
//! spoke-to-spoke traffic once it is seen on the wire, how spoke B learned spoke A, and the
//! mapping expiring after the holdtime with no traffic.
//!
//! With `--spokes N`, host .25 on spoke 2k-1's LAN pings host .37 behind spoke 2k for every k
//! (A pings B, C pings D, …): N/2 spoke-to-spoke tunnels. Runs of up to 10 spokes narrate the
//! pair A-B; larger runs print each stage's outcome and the summary only. `--phase 3` uses hub
//! redirects and spoke shortcuts, with the hub forwarding Resolution Requests to the spoke that
//! owns the prefix as IOS does (`--hub-answers` makes it answer from its own table); `--nat` puts
//! every spoke behind its own NAT box (a port-translating home router that passes UDP only,
//! so IPsec runs in UDP 4500; with `--no-ipsec` a one-to-one NAT, which passes GRE); `--loss P` loses that fraction of every datagram (1:
//! all of them); `--pcap FILE` records the underlay (raw IP) for Wireshark.
#![allow(clippy::print_stdout)]

// The narration of the pair A-B (not a binary of its own: cargo only takes `src/bin/*.rs` and
// `src/bin/*/main.rs`).
#[path = "dmvpn-sim/narrate.rs"]
mod narrate;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use dmvpn_core::config::{HubResolution, MaxSend};
use dmvpn_core::sim::example::{Example, HUB_NBMA, HUB_TUNNEL, spoke_name};
use dmvpn_core::sim::{SimNode, TraceLine};
use dmvpn_core::{Entropy, EventKind, NhrpEvent, RemoveReason};
use dmvpn_netsim::{HostId, LinkProfile, NaptConfig, NatConfig, Network, Recorder, Sim};

use narrate::{Story, conclude, narrate_window, print_prelude};

/// Runs of at most this many spokes are narrated step by step; larger ones are summarised.
const NARRATE_MAX: u32 = 10;
/// How long the spokes get to register before the demo goes on without the missing ones.
const REGISTER_LIMIT_SECS: u64 = 600;
/// The most pairs listed by number when they did not build their tunnel.
const LIST_MAX: usize = 10;

#[derive(Parser, Debug)]
#[command(
    name = "dmvpn-sim",
    about = "Simulate the seeds' DMVPN example (hub + spokes, mGRE + NHRP) on a virtual clock"
)]
struct Args {
    /// Number of spokes. Traffic: host .25 on spoke 2k-1's LAN pings host .37 behind spoke 2k
    /// (A pings B, C pings D, ...; an odd last spoke only registers). Up to 10 spokes the pair
    /// A-B is narrated step by step; larger runs print each stage's outcome and the summary.
    #[arg(long, default_value_t = 2)]
    spokes: u32,
    /// DMVPN phase: 2 (spokes resolve each other) or 3 (hub redirect + spoke shortcut).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
    phase: u8,
    /// Fraction of datagrams lost on every link, from 0 to 1 (1: every datagram is lost); a
    /// value above 1 is a percentage (30 is 0.3).
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
    /// The hub forwards Resolution Requests to the spoke that owns the address, which answers
    /// the requester directly (IOS 12.4+). The default in phase 3; in phase 2 the hub answers
    /// them itself unless this is given (seed 003 steps 3 and 9).
    #[arg(long, conflicts_with = "hub_answers")]
    forward: bool,
    /// The hub answers Resolution Requests from its own registration table instead of
    /// forwarding them (the phase 2 default; in phase 3 the old, non-IOS behaviour).
    #[arg(long)]
    hub_answers: bool,
    /// GRE in clear: no `tunnel protection ipsec profile` (by default every node protects its
    /// tunnel with IKEv2 + ESP, transport mode, as the seeds configure it).
    #[arg(long)]
    no_ipsec: bool,
    /// IPsec with IKEv1, as the seeds configure it (`crypto isakmp policy 10` with AES-256,
    /// SHA-256, pre-shared keys and group 14; `crypto isakmp key … address 0.0.0.0 0.0.0.0`;
    /// the profile without `set ikev2-profile`) instead of IKEv2.
    #[arg(long, conflicts_with = "no_ipsec")]
    ikev1: bool,
    /// Write the IKE and ESP keys of every SA to this file, one tshark `-o` argument per line
    /// (`uat:esp_sa:…`, `uat:ikev2_decryption_table:…` or `uat:ikev1_decryption_table:…`), to
    /// decrypt the `--pcap` capture:
    /// `sed 's/^/-o\n/' K | tr '\n' '\0' | xargs -0 tshark -r F` (the rows hold spaces); the
    /// file starts with tshark's ESP decryption preferences. The file holds secret keys.
    #[arg(long)]
    keylog: Option<PathBuf>,
}

struct Demo {
    sim: Sim<SimNode>,
    start: Instant,
    ex: Example,
    nat: bool,
    hub: HostId,
    spokes: Vec<HostId>,
    /// Every packet traced so far (the hub and spokes A and B when narrating).
    history: Vec<(HostId, TraceLine)>,
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The public address of spoke `i`'s NAT box (`--nat`).
fn nat_public(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)).wrapping_add(i))
}

/// The spokes' events a run that is not narrated reads: the mappings (and the peers that
/// came up with them) and shortcuts the summary counts.
fn counted_event(e: &dmvpn_core::Event) -> bool {
    matches!(
        e.kind,
        EventKind::MappingAdded { .. }
            | EventKind::MappingRemoved { .. }
            | EventKind::NbmaPeerUp { .. }
            | EventKind::ShortcutAdded { .. }
    )
}

/// Whether a mapping (next hop, NBMA address) is one spoke's to another, not to the hub.
fn spoke_to_spoke(hop: &IpAddr, nbma: &IpAddr) -> bool {
    *hop != IpAddr::from(HUB_TUNNEL) && *nbma != IpAddr::from(HUB_NBMA)
}

impl Demo {
    fn t(&self) -> f64 {
        self.sim.now().duration_since(self.start).as_secs_f64()
    }

    fn at(&self, at: Instant) -> f64 {
        at.duration_since(self.start).as_secs_f64()
    }

    fn node(&self, id: HostId) -> Option<&SimNode> {
        self.sim.host(id)
    }

    fn name(&self, id: HostId) -> String {
        self.node(id)
            .map_or_else(|| "?".into(), |n| n.node().hostname().to_string())
    }

    /// Spoke `i`'s host id (from 1).
    fn spoke(&self, i: u32) -> Option<HostId> {
        self.spokes.get((i as usize).checked_sub(1)?).copied()
    }

    /// Spoke `i`'s NBMA address as the hub and the other spokes see it (its NAT box's public
    /// address with `--nat`).
    fn seen_nbma(&self, i: u32) -> IpAddr {
        if self.nat {
            nat_public(i).into()
        } else {
            self.ex.spoke_nbma(i).into()
        }
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
            println!("  [{:>8.3}s] {l}", self.at(at));
        }
    }

    /// Takes the packet traces of `ids` (kept in the history too).
    fn take_traces(&mut self, ids: &[HostId]) -> Vec<(HostId, TraceLine)> {
        let mut out = Vec::new();
        for &id in ids {
            let Some(n) = self.sim.host_mut(id) else {
                continue;
            };
            out.extend(n.take_trace().into_iter().map(|t| (id, t)));
        }
        self.history.extend(out.iter().cloned());
        out
    }

    /// A traced packet as a timed line.
    fn trace_line(&self, id: HostId, t: &TraceLine) -> (Instant, String) {
        let path = if t.dst == IpAddr::from(HUB_NBMA) {
            "  (to the hub)"
        } else if t.src == IpAddr::from(HUB_NBMA) {
            "  (from the hub)"
        } else {
            "  (spoke to spoke, direct)"
        };
        let carrier = if t.what.starts_with("IKE") || t.what == "NAT keepalive" {
            "UDP"
        } else if t.protected {
            "ESP"
        } else {
            "GRE"
        };
        let line = format!(
            "{:>8}  {carrier} {:>15} -> {:<15} {}{}",
            self.name(id),
            t.src.to_string(),
            t.dst.to_string(),
            t.what,
            if t.echo.is_some() { path } else { "" }
        );
        (t.at, line)
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

/// `--loss` as a fraction: 0 to 1, or a percentage above 1 (up to 100).
fn parse_loss(loss: f64) -> Result<f64, String> {
    let fraction = if loss > 1.0 { loss / 100.0 } else { loss };
    if (0.0..=1.0).contains(&fraction) {
        Ok(fraction)
    } else {
        Err(format!(
            "--loss {loss}: must be a fraction from 0 to 1 (or a percentage up to 100)"
        ))
    }
}

fn hub_resolution(args: &Args) -> HubResolution {
    if args.hub_answers {
        HubResolution::Answer
    } else if args.forward || args.phase >= 3 {
        HubResolution::Forward
    } else {
        HubResolution::Answer
    }
}

fn run(args: &Args) -> Result<(), String> {
    let wall = Instant::now();
    if args.spokes < 1 {
        return Err("--spokes must be at least 1".into());
    }
    if args.spokes > Example::MAX_SPOKES {
        return Err(format!(
            "--spokes {}: the address plan has room for {} spokes",
            args.spokes,
            Example::MAX_SPOKES
        ));
    }
    let loss = parse_loss(args.loss)?;
    let mut ex = Example::new(args.spokes);
    ex.phase = args.phase;
    ex.holdtime = args.holdtime;
    ex.hub_resolution = hub_resolution(args);
    let ipsec = !args.no_ipsec;
    if ipsec {
        ex = if args.ikev1 {
            ex.protected_ikev1()
        } else {
            ex.protected()
        };
    }
    if args.keylog.is_some() && !ipsec {
        return Err("--keylog needs IPsec (no --no-ipsec)".into());
    }
    let narrate = args.spokes <= NARRATE_MAX;
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
            let (public, inside) = (nat_public(i).into(), vec![ex.spoke_nbma(i).into()]);
            if ipsec {
                // A home router: ports translated (kept when free), UDP only, port-dependent
                // filtering. IPsec runs in UDP 4500 through it.
                net.add_napt(NaptConfig::new(public, inside));
            } else {
                // GRE (IP protocol 47) has no ports to translate: only a one-to-one NAT passes it.
                net.add_nat(NatConfig {
                    public: vec![public],
                    inside,
                });
            }
        }
    }
    let mut sim = Sim::new(net);
    // Every node's randomness (NHRP request IDs) from --seed: a run repeats exactly.
    let entropy = Entropy::from_seed(args.seed);
    let hub_config = ex.hub();
    let hub_max_send = hub_config
        .tunnels
        .first()
        .map_or_else(MaxSend::default, |t| t.nhrp.max_send);
    let hub_in_negotiation = hub_config.crypto.call_admission.max_in_negotiation;
    let mut hub_node =
        SimNode::new(start, hub_config, entropy.derive(0)).map_err(|e| e.to_string())?;
    hub_node.set_trace(narrate);
    if !narrate {
        // The summary reads no event of the hub's.
        hub_node.set_event_filter(Some(|_| false));
    }
    if args.keylog.is_some() {
        hub_node.node_mut().enable_keylog();
    }
    for (net, via) in ex.hub_routes() {
        hub_node.add_route(net, via).map_err(|e| e.to_string())?;
    }
    let hub = sim.add_host(hub_node);
    let mut spokes = Vec::with_capacity(args.spokes as usize);
    sim.reserve_hosts(args.spokes as usize);
    for i in 1..=args.spokes {
        let mut n =
            SimNode::new(start, ex.spoke(i), entropy.derive(i)).map_err(|e| e.to_string())?;
        n.set_trace(narrate && i <= 2);
        if !narrate {
            // Only what the summary counts (a spoke holds its log for the whole run).
            n.set_event_filter(Some(counted_event));
        }
        if args.keylog.is_some() {
            n.node_mut().enable_keylog();
        }
        spokes.push(sim.add_host(n));
    }
    let mut d = Demo {
        sim,
        start,
        ex: ex.clone(),
        nat: args.nat,
        hub,
        spokes,
        history: Vec::new(),
    };
    let (a, b) = (d.spoke(1).unwrap_or(hub), d.spoke(2));
    let pairs = args.spokes / 2;

    println!(
        "DMVPN phase {} simulation: hub {} (tunnel {}), {} spoke{}{}{}, holdtime {} s, seed {}",
        args.phase,
        HUB_NBMA,
        HUB_TUNNEL,
        args.spokes,
        if args.spokes == 1 { "" } else { "s" },
        if args.nat {
            ", every spoke behind NAT"
        } else {
            ""
        },
        if loss > 0.0 {
            format!(", {}% loss", (loss * 10_000.0).round() / 100.0)
        } else {
            String::new()
        },
        args.holdtime,
        args.seed
    );
    if ipsec {
        println!(
            "  IPsec: tunnel protection ipsec profile DMVPN on every node: {} with a wildcard \
             pre-shared key, transform set esp-aes 256 esp-sha256-hmac, mode transport (GRE only \
             inside ESP; --no-ipsec: GRE in clear)",
            if args.ikev1 {
                "IKEv1 (crypto isakmp policy 10: aes 256, sha256, group 14; Main Mode, Quick Mode)"
            } else {
                "IKEv2"
            }
        );
        if args.nat {
            println!(
                "  NAT: every spoke behind its own home-router NAT (ports translated, UDP only, \
                 port-dependent filtering): IKE finds it, IKE and ESP go in UDP 4500 with \
                 keepalives (RFC 3948)"
            );
        }
    } else {
        println!("  IPsec: off (--no-ipsec): GRE in clear");
        if args.nat {
            println!(
                "  NAT: every spoke behind its own one-to-one NAT (GRE has no ports: a \
                 port-translating NAT drops it)"
            );
        }
    }
    match ex.hub_resolution {
        HubResolution::Forward => println!(
            "  hub: forwards Resolution Requests to the spoke that owns the address, which answers \
             the requester directly (as IOS does{})",
            if args.phase >= 3 {
                "; --hub-answers: the hub answers them itself"
            } else {
                ""
            }
        ),
        HubResolution::Answer => println!(
            "  hub: answers Resolution Requests from its own registration table{}",
            if args.phase >= 3 {
                " (--hub-answers; IOS forwards them to the spoke that owns the prefix)"
            } else {
                " (--forward: forward them to the spoke, as IOS 12.4+ does)"
            }
        ),
    }
    let ios = MaxSend::default();
    if hub_max_send != ios {
        println!(
            "  hub: ip nhrp max-send {} every {} (raised from the IOS default of {} every {} so that \
             all {} spokes can register and resolve at once)",
            hub_max_send.packets, hub_max_send.every_secs, ios.packets, ios.every_secs, args.spokes
        );
    }
    if let Some(n) = hub_in_negotiation {
        println!(
            "  hub: {} (raised from the default of {} so that all {} spokes can negotiate at \
             once)",
            match args.ikev1 {
                true => format!("crypto call admission limit ike in-negotiation-sa {n}"),
                false => format!("crypto ikev2 limit max-in-negotiation-sa {n}"),
            },
            match args.ikev1 {
                true => dmvpn_ikev1::Config::DEFAULT_MAX_HALF_OPEN,
                false => dmvpn_ikev2::Cac::DEFAULT_MAX_HALF_OPEN,
            },
            args.spokes
        );
    }
    if narrate {
        for i in 1..=args.spokes {
            println!(
                "  spoke {}: NBMA {}{}, tunnel {}, LAN {}",
                spoke_name(i),
                ex.spoke_nbma(i),
                if args.nat {
                    format!(" (behind NAT {})", nat_public(i))
                } else {
                    String::new()
                },
                ex.spoke_tunnel(i),
                ex.spoke_lan(i)
            );
        }
        if args.spokes > 2 {
            let others = match pairs.saturating_sub(1) {
                0 => String::new(),
                1 => "; the other pair is counted only in the summary".into(),
                n => format!("; the other {n} pairs are counted only in the summary"),
            };
            println!(
                "  narrated: the registration of every spoke (its events; the packets of the hub and \
                 of spokes A and B), then spoke A pinging spoke B step by step{others}"
            );
        }
    } else {
        println!(
            "  {} spokes: more than {NARRATE_MAX}, so nothing is narrated step by step (no packet traces, \
             events or show output); each stage prints its outcome and the last line sums up every pair",
            args.spokes
        );
    }
    if loss >= 1.0 {
        println!("  with 100% loss every datagram is lost: nothing will get through");
    }

    // 1. Registration.
    println!("\n== 1. The spokes boot and register their NBMA addresses with the hub (NHS)");
    let limit = d.sim.now() + secs(REGISTER_LIMIT_SECS);
    let n_spokes = args.spokes as usize;
    let registered_count = |s: &Sim<SimNode>| {
        s.host(hub)
            .and_then(|h| h.node().nhrp_server(0))
            .map_or(0, |srv| {
                srv.cache()
                    .iter()
                    .filter(|e| e.flags.contains(dmvpn_nhrp::EntryFlags::REGISTERED))
                    .count()
            })
    };
    // Checked after every event: the cache's size first (O(1)), the count of registrations
    // (a walk over the cache) only once there can be enough of them, else the run is
    // quadratic in the spokes.
    let cache_len = |s: &Sim<SimNode>| {
        s.host(hub)
            .and_then(|h| h.node().nhrp_server(0))
            .map_or(0, |srv| srv.cache().len())
    };
    d.sim
        .run_until_true(limit, |s| {
            cache_len(s) >= n_spokes && registered_count(s) >= n_spokes
        })
        .map_err(|e| e.to_string())?;
    d.run_for(secs(1))?;
    let regs = registered_count(&d.sim);
    if narrate {
        let mut ids = vec![hub, a];
        ids.extend(b);
        let traces = d.take_traces(&ids);
        let mut lines: Vec<_> = traces.iter().map(|(id, t)| d.trace_line(*id, t)).collect();
        let mut ids = vec![hub];
        ids.extend(d.spokes.iter().copied());
        lines.extend(d.event_lines(&ids, start, |k| {
            matches!(
                k,
                EventKind::Nhrp(NhrpEvent::NhsUp { .. } | NhrpEvent::NatDetected { .. })
                    | EventKind::PeerRegistered { .. }
                    | EventKind::CryptoUp { .. }
                    | EventKind::IpsecUp { .. }
            )
        }));
        d.print_timeline(lines);
    }
    println!(
        "  {regs}/{} spokes registered after {:.3} s (virtual)",
        args.spokes,
        d.t()
    );
    if regs < n_spokes {
        let missing: Vec<String> = (1..=args.spokes)
            .filter(|&i| {
                let tunnel = IpAddr::from(ex.spoke_tunnel(i));
                !d.node(hub)
                    .and_then(|h| h.node().nhrp_server(0))
                    .is_some_and(|srv| {
                        srv.cache().iter().any(|e| {
                            e.flags.contains(dmvpn_nhrp::EntryFlags::REGISTERED)
                                && e.prefix.addr() == tunnel
                        })
                    })
            })
            .take(LIST_MAX)
            .map(|i| format!("spoke {}", spoke_name(i)))
            .collect();
        println!(
            "  not registered within {REGISTER_LIMIT_SECS} s: {}{}; {}",
            missing.join(", "),
            if n_spokes - regs > missing.len() {
                ", ..."
            } else {
                ""
            },
            if loss >= 1.0 {
                "no Registration Request can reach the hub with 100% loss"
            } else {
                if n_spokes - regs == 1 {
                    "its Registration Requests or the replies were lost; the demo goes on regardless"
                } else {
                    "their Registration Requests or the replies were lost; the demo goes on regardless"
                }
            }
        );
    }

    // Routes: what the routing protocol over the tunnel would install on the spokes.
    for k in 0..pairs {
        let (i, j) = (2 * k + 1, 2 * k + 2);
        for (x, y) in [(i, j), (j, i)] {
            let (net, via) = ex.spoke_route(y);
            if let Some(n) = d.spoke(x).and_then(|id| d.sim.host_mut(id)) {
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
        if pairs == 1 {
            println!(
                "\n== 2. The PC {} on spoke A's LAN pings the web server {} behind spoke B ({} echo \
                 request{}, one a second)",
                ex.lan_host(1, 25),
                ex.lan_host(2, 37),
                args.pings,
                if args.pings == 1 { "" } else { "s" }
            );
        } else {
            println!(
                "\n== 2. In each of the {pairs} pairs, host .25 on spoke 2k-1's LAN pings host .37 behind \
                 spoke 2k (A -> B, C -> D, ...): {} echo request{} per pair, one a second",
                args.pings,
                if args.pings == 1 { "" } else { "s" }
            );
        }
        if args.spokes % 2 == 1 {
            println!(
                "  spoke {} has no partner: it only registers",
                spoke_name(args.spokes)
            );
        }
        if narrate && pairs > 1 {
            println!(
                "  narrated: the PC {} on spoke A's LAN pinging the web server {} behind spoke B",
                ex.lan_host(1, 25),
                ex.lan_host(2, 37)
            );
        }
        if narrate {
            print_prelude(&ex, args.phase);
        }
    }
    let mut story = Story::default();
    for seq in 1..=args.pings {
        let now = d.sim.now();
        for k in 0..pairs {
            let (i, j) = (2 * k + 1, 2 * k + 2);
            if let Some(n) = d.spoke(i).and_then(|id| d.sim.host_mut(id)) {
                n.ping(now, ex.lan_host(i, 25), ex.lan_host(j, 37), 1, seq);
            }
        }
        d.sim.flush();
        d.run_for(secs(1))?;
        if narrate && pairs > 0 {
            narrate_window(&mut d, &mut story, args.phase, seq, now);
        }
    }
    if narrate && let Some(b) = b {
        conclude(&d, &story, args.pings);
        println!("\n-- after the ping:");
        d.show(&[hub, a, b]);
        if let Some(n) = d.node(a) {
            println!("{}# show ip nhrp traffic", n.node().hostname());
            print_limited(&n.node().show_ip_nhrp_traffic(d.sim.now()), 12);
        }
    }
    let replies: usize = (0..pairs)
        .filter_map(|k| d.spoke(2 * k + 1).and_then(|id| d.node(id)))
        .map(|n| n.replies().len())
        .sum();
    let expected_replies = u32::from(args.pings) * pairs;
    if !narrate && pairs > 0 {
        println!("  {replies}/{expected_replies} echo replies received");
    }

    // 3. Expiry.
    let idle = args.duration.unwrap_or(u64::from(args.holdtime) + 60);
    println!(
        "\n== 3. No more traffic: {idle} s pass (step 11: an unused mapping is deleted after its holdtime)"
    );
    let idle_start = d.sim.now();
    d.run_for(secs(idle))?;
    if !narrate {
        let expired = d
            .spokes
            .iter()
            .filter_map(|&id| d.node(id))
            .flat_map(|n| n.events())
            .filter(|(at, e)| {
                *at >= idle_start
                    && matches!(&e.kind, EventKind::MappingRemoved {
                        reason: RemoveReason::Expired,
                        next_hop,
                        nbma,
                        ..
                    } if spoke_to_spoke(next_hop, nbma))
            })
            .count();
        println!("  {expired} spoke-to-spoke mappings expired");
    }
    if narrate {
        let mut ids = vec![a];
        ids.extend(b);
        let lines = d.event_lines(&ids, idle_start, |k| {
            matches!(
                k,
                EventKind::MappingRemoved { .. }
                    | EventKind::NbmaPeerDown { .. }
                    | EventKind::ShortcutRemoved { .. }
                    | EventKind::CryptoDown { .. }
                    | EventKind::IpsecUp { rekey: true, .. }
                    // A resolution still retrying after the pings may succeed now.
                    | EventKind::MappingAdded { .. }
                    | EventKind::NbmaPeerUp { .. }
                    | EventKind::ShortcutAdded { .. }
            )
        });
        if lines.is_empty() {
            println!("  (no mapping came or went)");
        }
        d.print_timeline(lines);
        println!("\n-- after {idle} s without traffic:");
        d.show(&ids);
    }

    // Summary.
    let mut mappings = 0usize;
    let mut shortcuts = 0usize;
    let mut expired = 0usize;
    let (mut direct, mut via_hub) = (0u64, 0u64);
    // A pair's tunnel is built when spoke 2k-1 mapped spoke 2k dynamically (spoke 2k's tunnel
    // address as next hop at its NBMA address): the static entry for the hub never counts.
    let mut pairs_ok = 0u32;
    let mut both_ways = 0u32;
    let mut failed = Vec::new();
    for k in 0..pairs {
        let (i, j) = (2 * k + 1, 2 * k + 2);
        let forth = d.mapped(i, j, start);
        let back = d.mapped(j, i, start);
        if forth {
            pairs_ok += 1;
        } else {
            failed.push(format!("{}->{}", spoke_name(i), spoke_name(j)));
        }
        if forth && back {
            both_ways += 1;
        }
    }
    for &id in &d.spokes {
        let Some(n) = d.node(id) else { continue };
        let s = n.node().stats();
        direct += s.sent_direct;
        via_hub += s.sent_via_nhs;
        for (_, e) in n.events() {
            match &e.kind {
                EventKind::MappingAdded { next_hop, nbma, .. }
                    if spoke_to_spoke(next_hop, nbma) =>
                {
                    mappings += 1
                }
                EventKind::ShortcutAdded { .. } => shortcuts += 1,
                EventKind::MappingRemoved {
                    reason: RemoveReason::Expired,
                    next_hop,
                    nbma,
                    ..
                } if spoke_to_spoke(next_hop, nbma) => expired += 1,
                _ => {}
            }
        }
    }
    if !narrate && !failed.is_empty() {
        println!(
            "\n  pairs whose first spoke never mapped the second: {}{}",
            failed
                .iter()
                .take(LIST_MAX)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if failed.len() > LIST_MAX { ", ..." } else { "" }
        );
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
    if let Some(path) = &args.keylog {
        // Every node's rows, each SA once (both ends log it), in the order they came up.
        let mut seen = std::collections::BTreeSet::new();
        let mut rows = Vec::new();
        let ids: Vec<HostId> = std::iter::once(hub)
            .chain(d.spokes.iter().copied())
            .collect();
        for id in ids {
            let Some(n) = d.sim.host_mut(id) else {
                continue;
            };
            while let Some(row) = n.node_mut().poll_keylog() {
                if seen.insert(row.clone()) {
                    rows.push(row);
                }
            }
        }
        let n = rows.len();
        // tshark's ESP preferences first, so that the file alone decrypts the capture.
        let mut text = String::from(
            "esp.enable_encryption_decode:TRUE\nesp.enable_authentication_check:TRUE\n",
        );
        text.push_str(&rows.join("\n"));
        text.push('\n');
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "wrote {n} key log rows to {} (secret keys; one tshark -o value per line, some with spaces: sed 's/^/-o\\n/' {} | tr '\\n' '\\0' | xargs -0 tshark -r PCAP)",
            path.display(),
            path.display()
        );
    }
    if net.sent > 0 && net.lost == net.sent {
        println!(
            "\nevery one of the {} datagrams was lost: nothing got through",
            net.sent
        );
    }
    println!(
        "\ndmvpn-sim: {regs}/{} spokes registered; {pairs_ok}/{pairs} spoke-to-spoke tunnels built \
         ({both_ways} mapped both ways; {mappings} dynamic mappings, {shortcuts} shortcuts); \
         {replies}/{expected_replies} echo replies; {via_hub} packets via the hub while resolving \
         ({hub_fwd} forwarded by it), {direct} sent directly; {expired} mappings expired after {idle} s \
         idle; {} datagrams ({} lost); {:.0} s virtual in {:.2} s",
        args.spokes,
        net.sent,
        net.lost,
        d.t(),
        wall.elapsed().as_secs_f64()
    );
    Ok(())
}
