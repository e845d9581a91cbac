//! The narration of `dmvpn-sim`'s ping between spokes A and B, from what the nodes' events and
//! packet traces say happened: which mappings came up and how each was learned (a Resolution
//! Reply from the hub or from the other spoke, or the other spoke's forwarded Resolution
//! Request), Traffic Indications, and which echoes went directly between the spokes' NBMA
//! addresses and which through the hub.

use std::net::IpAddr;
use std::time::Instant;

use dmvpn_core::config::HubResolution;
use dmvpn_core::sim::TraceLine;
use dmvpn_core::sim::example::{Example, HUB_NBMA, spoke_name};
use dmvpn_core::sim::icmp::EchoKind;
use dmvpn_core::{EventKind, NhrpEvent};
use dmvpn_netsim::HostId;
use dmvpn_nhrp::wire::PacketType;

use super::Demo;

/// Where an echo went from the spoke that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Direct,
    ViaHub,
    Other,
}

/// How a spoke learned a mapping, from the packet traces around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Learned {
    /// It answered a Resolution Request at that instant: the mapping is the requester's.
    FromRequest,
    /// A Resolution Reply sent to it by this host.
    FromReply(HostId),
    Unknown,
}

/// Whether a traced packet is an NHRP packet of type `ty` (in the clear, or inside ESP).
fn is_nhrp(t: &TraceLine, ty: PacketType) -> bool {
    let what = t
        .what
        .strip_prefix("ESP [")
        .and_then(|w| w.strip_suffix(']'))
        .unwrap_or(&t.what);
    what.strip_prefix("NHRP ")
        .is_some_and(|w| Some(w) == ty.name())
}

fn echo_kind(t: &TraceLine) -> Option<EchoKind> {
    t.echo.map(|e| e.kind)
}

impl Demo {
    /// "the hub", "spoke A", … for a host.
    fn who(&self, id: HostId) -> String {
        if id == self.hub {
            return "the hub".into();
        }
        match self.spokes.iter().position(|&s| s == id) {
            Some(k) => format!("spoke {}", spoke_name(k as u32 + 1)),
            None => self.name(id),
        }
    }

    /// Where a packet a spoke sent went: straight to `peer`'s NBMA address, or to the hub.
    fn path(&self, t: &TraceLine, from: u32, peer: u32) -> Path {
        if t.src == IpAddr::from(self.ex.spoke_nbma(from)) && t.dst == self.seen_nbma(peer) {
            Path::Direct
        } else if t.dst == IpAddr::from(HUB_NBMA) {
            Path::ViaHub
        } else {
            Path::Other
        }
    }

    /// How spoke `me` (1 or 2) came by the mapping it installed at `at`, from the traces.
    fn learned(&self, me: u32, at: Instant) -> Learned {
        let Some(me_id) = self.spoke(me) else {
            return Learned::Unknown;
        };
        let answered = self
            .history
            .iter()
            .any(|(h, t)| *h == me_id && t.at == at && is_nhrp(t, PacketType::RESOLUTION_REPLY));
        if answered {
            return Learned::FromRequest;
        }
        let me_seen = self.seen_nbma(me);
        let reply = self
            .history
            .iter()
            .rev()
            .find(|(h, t)| {
                *h != me_id
                    && t.at <= at
                    && t.dst == me_seen
                    && is_nhrp(t, PacketType::RESOLUTION_REPLY)
            })
            .map(|(h, _)| *h);
        match reply {
            Some(h) => Learned::FromReply(h),
            // Protected: the answer to a forwarded request waits for the new SA, so it goes out
            // after the mapping; the forwarded request is what taught this spoke.
            None if self.hub_forwarded_to(me, at) => Learned::FromRequest,
            None => Learned::Unknown,
        }
    }

    /// Whether the hub forwarded a Resolution Request to spoke `to` at or before `at`.
    fn hub_forwarded_to(&self, to: u32, at: Instant) -> bool {
        let dst = self.seen_nbma(to);
        self.history.iter().any(|(h, t)| {
            *h == self.hub
                && t.at <= at
                && t.dst == dst
                && is_nhrp(t, PacketType::RESOLUTION_REQUEST)
        })
    }

    /// What a mapping spoke `me` installed to spoke `peer` means, in words.
    fn mapping_note(&self, phase: u8, me: u32, peer: u32, mapping: &Mapping) -> String {
        let me_name = format!("spoke {}", spoke_name(me));
        let peer_name = format!("spoke {}", spoke_name(peer));
        let step = match (phase, me) {
            (2, 1) => "steps 4-6: ",
            (2, _) => "steps 7-10: ",
            _ => "",
        };
        let maps = format!(
            "{me_name} maps {} via {} to NBMA {}",
            mapping.prefix, mapping.next_hop, mapping.nbma
        );
        // Step 4: the first mapping to an NBMA peer starts IKE to it (when protected).
        let protected = self.ex.ipsec.is_some();
        let ipsec = match (mapping.peer_up, protected) {
            (true, true) => {
                " (its first mapping to that NBMA peer: IKE to it starts now, seed 003 step 4)"
            }
            (true, false) => {
                " (its first mapping to that NBMA peer: with IPsec, IKE would start here)"
            }
            _ => "",
        };
        let what = match self.learned(me, mapping.at) {
            Learned::FromReply(h) if h == self.hub => format!(
                "{step}the hub answered {me_name}'s Resolution Request from its own table: {maps}"
            ),
            Learned::FromReply(h) => format!(
                "{step}{} answered {me_name}'s Resolution Request directly{}: {maps}",
                self.who(h),
                if self.hub_forwarded_to(peer, mapping.at) {
                    " (the hub had forwarded the request to it)"
                } else {
                    ""
                }
            ),
            Learned::FromRequest => format!(
                "{me_name} learned {peer_name} from {peer_name}'s Resolution Request{}, and answered \
                 {peer_name} directly: {maps}",
                if self.hub_forwarded_to(me, mapping.at) {
                    ", which the hub forwarded to it"
                } else {
                    ""
                }
            ),
            Learned::Unknown => maps,
        };
        format!("{what}{ipsec}")
    }

    /// The dynamic spoke-to-spoke mappings spoke `me` installed to spoke `peer` (tunnel address
    /// of `peer` as next hop, at `peer`'s NBMA address as `me` sees it), at or after `since`.
    /// Whether spoke `me` installed a dynamic mapping to spoke `peer` at or after `since`.
    pub(super) fn mapped(&self, me: u32, peer: u32, since: Instant) -> bool {
        !self.mappings(me, peer, since).is_empty()
    }

    fn mappings(&self, me: u32, peer: u32, since: Instant) -> Vec<Mapping> {
        let Some(n) = self.spoke(me).and_then(|id| self.node(id)) else {
            return Vec::new();
        };
        let (hop, nbma) = (
            IpAddr::from(self.ex.spoke_tunnel(peer)),
            self.seen_nbma(peer),
        );
        n.events()
            .iter()
            .filter(|(at, _)| *at >= since)
            .filter_map(|(at, e)| match e.kind {
                EventKind::MappingAdded {
                    prefix,
                    next_hop,
                    nbma: to,
                } if next_hop == hop && to == nbma => Some(Mapping {
                    at: *at,
                    prefix: prefix.to_string(),
                    next_hop,
                    nbma: to,
                    peer_up: n.events().iter().any(|(t, e)| {
                        t == at && matches!(e.kind, EventKind::NbmaPeerUp { nbma: p } if p == to)
                    }),
                }),
                _ => None,
            })
            .collect()
    }
}

/// A dynamic mapping a spoke installed.
struct Mapping {
    at: Instant,
    prefix: String,
    next_hop: IpAddr,
    nbma: IpAddr,
    /// The NBMA peer came up with it.
    peer_up: bool,
}

/// What the narration of the pair A-B has seen so far.
#[derive(Default)]
pub(super) struct Story {
    /// The path of spoke A's last echo request and spoke B's last echo reply.
    last_request: Option<Path>,
    last_reply: Option<Path>,
    /// Echo requests A sent, and echo replies B sent: (directly, via the hub).
    requests: (u32, u32),
    replies: (u32, u32),
}

/// What the seeds' steps say should happen to the first echo request (narrated runs).
pub(super) fn print_prelude(ex: &Example, phase: u8) {
    let forward = ex.hub_resolution == HubResolution::Forward;
    println!("  what should happen (seed 003):");
    if phase >= 3 {
        println!(
            "  step 1: the PC sends the echo request to its gateway, spoke A\n  \
             step 2: spoke A's routing table gives the summary {} via the hub {} on Tunnel0\n  \
             step 3: the hub's mapping is static: the packet goes to the hub, which forwards it to spoke B\n  \
             \x20        and (ip nhrp redirect) sends spoke A a Traffic Indication; spoke A (ip nhrp shortcut)\n  \
             \x20        sends a Resolution Request for {} to the hub, {}",
            ex.lan_summary(),
            ex.spoke_route(2).1,
            ex.lan_host(2, 37),
            if forward {
                "which forwards it to spoke B,\n  \
                 \x20        the owner of the prefix; spoke B answers spoke A directly and spoke A installs\n  \
                 \x20        a shortcut route (and spoke B, redirected too, the same way back)"
            } else {
                "which answers it\n  \
                 \x20        from its own table (--hub-answers); spoke A installs a shortcut route"
            },
        );
    } else {
        println!(
            "  step 1: the PC sends the echo request to its gateway, spoke A\n  \
             step 2: spoke A's routing table gives {} via {} on Tunnel0\n  \
             step 3: spoke A has no NHRP mapping for {}: it sends a Resolution Request to the hub\n  \
             \x20        and, meanwhile, the packet itself to the hub, which forwards it to spoke B{}",
            ex.lan_host(2, 37),
            ex.spoke_route(2).1,
            ex.spoke_route(2).1,
            if forward {
                ";\n           the hub forwards the Resolution Request to spoke B (--forward), which learns spoke A\n  \
                 \x20        from it and answers spoke A directly"
            } else {
                ""
            },
        );
    }
    println!("  what happened:");
}

/// Narrates one second of the ping between spokes A and B: the packets and events, then what
/// they show (mappings and how they were learned, the path of the echoes).
pub(super) fn narrate_window(d: &mut Demo, story: &mut Story, phase: u8, seq: u16, since: Instant) {
    let (Some(a), Some(b)) = (d.spoke(1), d.spoke(2)) else {
        return;
    };
    let hub = d.hub;
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
    let window = d.take_traces(&[a, hub, b]);
    let (a_seen, b_seen) = (d.seen_nbma(1), d.seen_nbma(2));
    let mut lines: Vec<(Instant, String)> = window
        .iter()
        .filter(|(id, t)| *id != hub || t.dst == a_seen || t.dst == b_seen)
        .map(|(id, t)| d.trace_line(*id, t))
        .collect();
    lines.extend(d.event_lines(&[a, hub, b], since, |k| {
        matches!(
            k,
            EventKind::Resolving { .. }
                | EventKind::MappingAdded { .. }
                | EventKind::NbmaPeerUp { .. }
                | EventKind::ShortcutAdded { .. }
                | EventKind::Nhrp(
                    NhrpEvent::ResolutionFailed { .. }
                        | NhrpEvent::ResolutionNegative { .. }
                        | NhrpEvent::NhsUp { .. }
                        | NhrpEvent::NhsDown { .. }
                )
                | EventKind::PeerRegistered { .. }
                | EventKind::CryptoUp { .. }
                | EventKind::IpsecUp { .. }
                | EventKind::CryptoFailed { .. }
                | EventKind::CryptoRefused { .. }
        )
    }));
    d.print_timeline(lines);

    // What the events and traces show.
    let mut notes: Vec<(Instant, String)> = Vec::new();
    for (me, peer) in [(1, 2), (2, 1)] {
        for m in d.mappings(me, peer, since) {
            notes.push((m.at, d.mapping_note(phase, me, peer, &m)));
        }
    }
    for (id, t) in &window {
        if *id == hub && is_nhrp(t, PacketType::TRAFFIC_INDICATION) {
            let to = if t.dst == a_seen {
                "spoke A"
            } else {
                "spoke B"
            };
            notes.push((
                t.at,
                format!(
                    "the hub sent {to} a Traffic Indication (ip nhrp redirect): {to}'s packet to the \
                     other spoke went through the hub"
                ),
            ));
            continue;
        }
        let (from, peer, what, last, count) = match echo_kind(t) {
            Some(EchoKind::Request) if *id == a => (
                1,
                2,
                "echo request",
                &mut story.last_request,
                &mut story.requests,
            ),
            Some(EchoKind::Reply) if *id == b => (
                2,
                1,
                "echo reply",
                &mut story.last_reply,
                &mut story.replies,
            ),
            _ => continue,
        };
        let path = d.path(t, from, peer);
        let seq = t.echo.map_or(0, |e| e.seq);
        let (me_name, peer_name) = (
            format!("spoke {}", spoke_name(from)),
            format!("spoke {}", spoke_name(peer)),
        );
        match path {
            Path::Direct => count.0 += 1,
            Path::ViaHub => count.1 += 1,
            Path::Other => {}
        }
        match (path, *last) {
            (Path::Direct, l) if l != Some(Path::Direct) => notes.push((
                t.at,
                format!(
                    "{what} seq {seq} went directly from {me_name}'s NBMA {} to {peer_name}'s NBMA {}{}",
                    t.src,
                    t.dst,
                    if l == Some(Path::ViaHub) {
                        ", no longer via the hub"
                    } else {
                        ""
                    }
                ),
            )),
            (Path::ViaHub, Some(Path::Direct)) => notes.push((
                t.at,
                format!("{what} seq {seq} went via the hub again"),
            )),
            _ => {}
        }
        *last = Some(path);
    }
    notes.sort_by_key(|(t, _)| *t);
    for (at, n) in notes {
        println!("  -> [{:>8.3}s] {n}", d.at(at));
    }
}

/// After the pings: the path the pair's echoes took, and why none went directly if so.
pub(super) fn conclude(d: &Demo, story: &Story, pings: u16) {
    let start = d.start;
    let (a_mapped, b_mapped) = (d.mapped(1, 2, start), d.mapped(2, 1, start));
    println!();
    let (dir, hub) = story.requests;
    println!(
        "  -> spoke A sent {} of {pings} echo requests: {dir} directly to spoke B, {hub} via the hub",
        dir + hub
    );
    if dir == 0 {
        println!(
            "     none went directly: {}",
            if a_mapped {
                "spoke A's mapping for spoke B came up only after its last echo request"
            } else {
                "spoke A never got a mapping for spoke B (no Resolution Reply reached it)"
            }
        );
    }
    let (dir, hub) = story.replies;
    if dir + hub == 0 {
        println!("  -> spoke B sent no echo reply: no echo request reached it");
    } else {
        println!(
            "  -> spoke B sent {} echo repl{}: {dir} directly to spoke A, {hub} via the hub",
            dir + hub,
            if dir + hub == 1 { "y" } else { "ies" }
        );
        if dir == 0 {
            println!(
                "     none went directly: {}",
                if b_mapped {
                    "spoke B's mapping for spoke A came up only after its last echo reply"
                } else {
                    "spoke B never learned spoke A's NBMA address"
                }
            );
        }
    }
}
