//! The lines of an `interface TunnelN` block: addresses, MTU, `ip nhrp …` / `ipv6 nhrp …`,
//! `tunnel …`, and the routing and system lines that are notes.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::iface;
use super::lex::Line;
use super::parser::{At, Done, ROUTING, SYSTEM, VRF, addr, number, put, v6_prefix, with_mask};
use crate::config::{MaxSend, NhsConfig, Password, StaticMap, TunnelProtection};

/// `tunnel source`: an address or an interface name (as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Addr(IpAddr),
    Iface(String),
}

/// `tunnel mode gre …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mode {
    /// `multipoint`.
    pub multipoint: bool,
    /// `ipv6`: the underlay is IPv6.
    pub ipv6: bool,
}

/// One `ip nhrp nhs` line.
pub(crate) struct NhsLine {
    pub nhs: NhsConfig,
    pub line: usize,
    /// `multicast`: the NHS's NBMA address is a multicast destination.
    pub multicast: bool,
}

/// The `ip nhrp …` (or `ipv6 nhrp …`) lines of one overlay.
#[derive(Default)]
pub(crate) struct NhrpDraft {
    /// The first line, for problems of the whole.
    pub first: Option<usize>,
    pub network_id: At<u32>,
    pub authentication: At<Password>,
    pub holdtime: At<u32>,
    pub nhs: Vec<NhsLine>,
    pub maps: Vec<(StaticMap, usize)>,
    pub multicast_dynamic: At<()>,
    pub multicast: Vec<(IpAddr, usize)>,
    pub redirect: At<()>,
    pub shortcut: At<()>,
    pub max_send: At<MaxSend>,
    pub registration_timeout: At<u32>,
    pub registration_prefixes: Vec<(IpNet, usize)>,
}

/// An `interface TunnelN` block as read.
pub(crate) struct TunnelDraft {
    /// `Tunnel0`.
    pub name: String,
    /// The `interface` line.
    pub header: usize,
    pub v4: At<Ipv4Net>,
    pub v6: At<Ipv6Net>,
    pub mtu: At<u16>,
    pub v6_mtu: At<u16>,
    pub adjust_mss: At<u16>,
    pub v6_adjust_mss: At<u16>,
    pub nhrp4: NhrpDraft,
    pub nhrp6: NhrpDraft,
    pub source: At<Source>,
    pub destination: At<IpAddr>,
    pub mode: At<Mode>,
    pub key: At<u32>,
    pub protection: At<TunnelProtection>,
    pub verify_source: At<()>,
}

/// Interface lines of routing protocols (after `ip` / `ipv6`).
const ROUTING_IP: &[&str] = &[
    "ospf",
    "eigrp",
    "rip",
    "pim",
    "igmp",
    "mld",
    "multicast",
    "mroute-cache",
    "hello-interval",
    "hold-time",
    "bandwidth-percent",
    "summary-address",
    "authentication",
    "split-horizon",
    "next-hop-self",
];

/// Interface lines of other system features (after `ip` / `ipv6`).
const SYSTEM_IP: &[&str] = &[
    "redirects",
    "unreachables",
    "proxy-arp",
    "flow",
    "virtual-reassembly",
    "route-cache",
    "nat",
    "access-group",
    "traffic-filter",
    "policy",
    "helper-address",
    "directed-broadcast",
    "nd",
    "enable",
];

impl TunnelDraft {
    pub fn new(name: String, header: usize) -> TunnelDraft {
        TunnelDraft {
            name,
            header,
            v4: None,
            v6: None,
            mtu: None,
            v6_mtu: None,
            adjust_mss: None,
            v6_adjust_mss: None,
            nhrp4: NhrpDraft::default(),
            nhrp6: NhrpDraft::default(),
            source: None,
            destination: None,
            mode: None,
            key: None,
            protection: None,
            verify_source: None,
        }
    }

    /// One line of the block.
    pub fn line(&mut self, l: &Line) -> Result<Done, String> {
        match l.kw(0) {
            "description" => Ok(Done::Note("a description: no effect on the node".into())),
            "ip" => self.ip(l),
            "ipv6" => self.ipv6(l),
            "tunnel" => self.tunnel(l),
            "shutdown" if l.len() == 1 => Err(
                "shutdown is not supported: the node runs every tunnel interface it is given; remove the interface (or this line)"
                    .into(),
            ),
            "no" => self.no(l),
            "bandwidth" | "delay" => Ok(Done::Note(ROUTING.into())),
            "load-interval" | "cdp" | "if-state" | "service-policy" | "zone-member" | "qos" => {
                Ok(Done::Note(SYSTEM.into()))
            }
            "keepalive" => Ok(Done::Note(
                "GRE keepalives are not sent by the node (NHRP registrations and IKE DPD watch the hub)"
                    .into(),
            )),
            "vrf" if l.kw(1) == "forwarding" => Ok(Done::Note(VRF.into())),
            "crypto" => Err(
                "crypto maps are not supported: protect the tunnel with tunnel protection ipsec profile NAME"
                    .into(),
            ),
            _ => Err(unknown()),
        }
    }

    fn ip(&mut self, l: &Line) -> Result<Done, String> {
        match l.kw(1) {
            "address" => {
                if l.len() == 4 {
                    put(
                        &mut self.v4,
                        with_mask(l.need(2, "address")?, l.need(3, "mask")?)?,
                        l.no,
                    )
                } else {
                    Err(match l.kw(4) {
                        "secondary" => {
                            "secondary addresses are not supported on a tunnel interface".into()
                        }
                        _ if matches!(l.kw(2), "dhcp" | "negotiated") => {
                            "a tunnel interface needs a static ip address A M".into()
                        }
                        _ => "expected ip address ADDRESS MASK".into(),
                    })
                }
            }
            "unnumbered" => Err(
                "ip unnumbered is not supported: NHRP needs the tunnel's own ip address A M".into(),
            ),
            "mtu" if l.len() == 3 => put(&mut self.mtu, number(l.need(2, "MTU")?, "MTU")?, l.no),
            "tcp" if l.starts_at(2, &["adjust-mss"]) && l.len() == 4 => put(
                &mut self.adjust_mss,
                number(l.need(3, "MSS")?, "MSS")?,
                l.no,
            ),
            "nhrp" => nhrp(&mut self.nhrp4, l, false),
            "verify" => {
                if l.exactly(2, &["unicast", "source", "reachable-via", "rx"]) {
                    put(&mut self.verify_source, (), l.no)
                } else {
                    Err("only ip verify unicast source reachable-via rx is supported".into())
                }
            }
            "vrf" if l.kw(2) == "forwarding" => Ok(Done::Note(VRF.into())),
            k if ROUTING_IP.contains(&k) => Ok(Done::Note(ROUTING.into())),
            k if SYSTEM_IP.contains(&k) => Ok(Done::Note(SYSTEM.into())),
            _ => Err(unknown()),
        }
    }

    fn ipv6(&mut self, l: &Line) -> Result<Done, String> {
        match l.kw(1) {
            "address" if l.len() == 3 => {
                let net = v6_prefix(l.need(2, "prefix")?)?;
                put(&mut self.v6, net, l.no)
                    .map_err(|e| format!("{e}: one IPv6 address per tunnel interface"))
            }
            "address" if l.len() == 4 && l.kw(3) == "link-local" => Ok(Done::Note(
                "a link-local address: NHRP and the node use the global address".into(),
            )),
            "address" => Err("expected ipv6 address PREFIX/LENGTH".into()),
            "mtu" if l.len() == 3 => put(&mut self.v6_mtu, number(l.need(2, "MTU")?, "MTU")?, l.no),
            "tcp" if l.starts_at(2, &["adjust-mss"]) && l.len() == 4 => put(
                &mut self.v6_adjust_mss,
                number(l.need(3, "MSS")?, "MSS")?,
                l.no,
            ),
            "nhrp" => nhrp(&mut self.nhrp6, l, true),
            k if ROUTING_IP.contains(&k) => Ok(Done::Note(ROUTING.into())),
            k if SYSTEM_IP.contains(&k) => Ok(Done::Note(SYSTEM.into())),
            _ => Err(unknown()),
        }
    }

    fn tunnel(&mut self, l: &Line) -> Result<Done, String> {
        match l.kw(1) {
            "source" if l.len() == 3 => {
                let w = l.need(2, "source")?;
                let s = match w.parse::<IpAddr>() {
                    Ok(a) => Source::Addr(a),
                    Err(_) if iface::is_tunnel(&iface::canon(w)) => {
                        return Err("a tunnel interface cannot be a tunnel source".into());
                    }
                    Err(_) => Source::Iface(w.to_owned()),
                };
                put(&mut self.source, s, l.no)
            }
            "destination" if l.len() == 3 => {
                let w = l.need(2, "destination")?;
                let a = w.parse::<IpAddr>().map_err(|_| {
                    format!("{w:?} is not an address: give the hub's NBMA address (names are not resolved)")
                })?;
                put(&mut self.destination, a, l.no)
            }
            "mode" => {
                let m = if l.exactly(2, &["gre", "multipoint"]) {
                    Mode {
                        multipoint: true,
                        ipv6: false,
                    }
                } else if l.exactly(2, &["gre", "multipoint", "ipv6"]) {
                    Mode {
                        multipoint: true,
                        ipv6: true,
                    }
                } else if l.exactly(2, &["gre", "ip"]) {
                    Mode {
                        multipoint: false,
                        ipv6: false,
                    }
                } else if l.exactly(2, &["gre", "ipv6"]) {
                    Mode {
                        multipoint: false,
                        ipv6: true,
                    }
                } else {
                    return Err(
                        "not supported: use tunnel mode gre multipoint [ipv6] or gre ip / gre ipv6 with tunnel destination"
                            .into(),
                    );
                };
                put(&mut self.mode, m, l.no)
            }
            "key" if l.len() == 3 => put(
                &mut self.key,
                number(l.need(2, "key")?, "tunnel key")?,
                l.no,
            ),
            "protection" => {
                if !l.starts_at(2, &["ipsec", "profile"]) {
                    return Err("expected tunnel protection ipsec profile NAME [shared]".into());
                }
                let profile = l.need(4, "profile name")?.to_owned();
                let shared = match (l.len(), l.kw(5)) {
                    (5, _) => false,
                    (6, "shared") => true,
                    _ => {
                        return Err("expected tunnel protection ipsec profile NAME [shared]".into());
                    }
                };
                put(
                    &mut self.protection,
                    TunnelProtection { profile, shared },
                    l.no,
                )
            }
            "vrf" => Ok(Done::Note(VRF.into())),
            "path-mtu-discovery" => Ok(Done::Note(
                "tunnel path MTU discovery is not run: the node holds packets to ip mtu".into(),
            )),
            "bandwidth" => Ok(Done::Note(ROUTING.into())),
            _ => Err(unknown()),
        }
    }

    fn no(&mut self, l: &Line) -> Result<Done, String> {
        let (k1, k2) = (l.kw(1), l.kw(2));
        if l.exactly(1, &["shutdown"]) {
            return Ok(Done::Applied);
        }
        match (k1, k2) {
            ("ip", "address") => Err("a tunnel interface needs ip address A M".into()),
            ("ip" | "ipv6", k) if ROUTING_IP.contains(&k) => Ok(Done::Note(ROUTING.into())),
            ("ip" | "ipv6", k) if SYSTEM_IP.contains(&k) => Ok(Done::Note(SYSTEM.into())),
            ("cdp" | "keepalive" | "mop", _) => Ok(Done::Note(SYSTEM.into())),
            _ => Err(unknown()),
        }
    }
}

fn unknown() -> String {
    "not understood in a tunnel interface".into()
}

/// An address of the overlay's family.
fn overlay(s: &str, v6: bool) -> Result<IpAddr, String> {
    let a = addr(s)?;
    if a.is_ipv6() != v6 {
        return Err(if v6 {
            format!("{a} is IPv4: ipv6 nhrp takes the IPv6 overlay's addresses")
        } else {
            format!("{a} is IPv6: use ipv6 nhrp for the IPv6 overlay")
        });
    }
    Ok(a)
}

/// `ip nhrp …` / `ipv6 nhrp …` (`v6`), from the word after `nhrp`.
fn nhrp(n: &mut NhrpDraft, l: &Line, v6: bool) -> Result<Done, String> {
    n.first.get_or_insert(l.no);
    let at = |i: usize, what: &str| l.need(i, what);
    match l.kw(2) {
        "authentication" if l.len() == 4 => {
            put(&mut n.authentication, Password::new(at(3, "password")?), l.no)
        }
        "network-id" if l.len() == 4 => {
            put(&mut n.network_id, number(at(3, "network-id")?, "network-id")?, l.no)
        }
        "holdtime" if l.len() == 4 => {
            put(&mut n.holdtime, number(at(3, "holdtime")?, "holdtime")?, l.no)
        }
        "map" if l.kw(3) == "multicast" => match (l.len(), l.kw(4)) {
            (5, "dynamic") => put(&mut n.multicast_dynamic, (), l.no),
            (5, _) => {
                n.multicast.push((addr(at(4, "NBMA address")?)?, l.no));
                Ok(Done::Applied)
            }
            _ => Err("expected map multicast NBMA or map multicast dynamic".into()),
        },
        "map" if l.len() == 5 => {
            let w = at(3, "address")?;
            // IPv6 maps are written with their length (`2001:db8::1/128`).
            let a = match w.split_once('/') {
                Some((a, len)) if v6 => {
                    if len != "128" {
                        return Err("an NHRP map is for one host: ADDRESS/128".into());
                    }
                    overlay(a, v6)?
                }
                _ => overlay(w, v6)?,
            };
            let nbma = addr(at(4, "NBMA address")?)?;
            n.maps.push((StaticMap { address: a, nbma }, l.no));
            Ok(Done::Applied)
        }
        "map" => Err("expected map ADDRESS NBMA, map multicast NBMA or map multicast dynamic".into()),
        "nhs" => {
            let w = at(3, "NHS address")?;
            match w.to_ascii_lowercase().as_str() {
                "dynamic" => {
                    return Err(
                        "nhs dynamic is not supported: give the hub's tunnel address (nhs ADDRESS nbma NBMA)"
                            .into(),
                    );
                }
                "fallback" | "cluster" => {
                    return Err(format!("nhs {w} is not supported"));
                }
                _ => {}
            }
            let address = overlay(w, v6)?;
            let mut nhs = NhsLine {
                nhs: NhsConfig { address, nbma: None },
                line: l.no,
                multicast: false,
            };
            let mut i = 4;
            let mut note = None;
            while l.word(i).is_some() {
                match l.kw(i) {
                    "nbma" if nhs.nbma_unset() => {
                        let w = at(i + 1, "NBMA address")?;
                        nhs.nhs.nbma = Some(w.parse().map_err(|_| {
                            format!("nbma {w:?} is not an address (names are not resolved)")
                        })?);
                        i += 2;
                    }
                    "multicast" if !nhs.multicast => {
                        nhs.multicast = true;
                        i += 1;
                    }
                    "priority" | "cluster" => {
                        let _: u8 = number(at(i + 1, "value")?, l.kw(i))?;
                        note = Some(
                            "priority and cluster are not applied: the node registers with every NHS",
                        );
                        i += 2;
                    }
                    _ => {
                        return Err(
                            "expected nhs ADDRESS [nbma NBMA] [multicast] [priority N] [cluster N]"
                                .into(),
                        );
                    }
                }
            }
            n.nhs.push(nhs);
            Ok(note.map_or(Done::Applied, |w| Done::Note(w.into())))
        }
        "redirect" if l.len() == 3 => put(&mut n.redirect, (), l.no),
        "redirect" => Err("only ip nhrp redirect is supported (no timeout)".into()),
        "shortcut" if l.len() == 3 => put(&mut n.shortcut, (), l.no),
        "max-send" if l.len() == 6 && l.kw(4) == "every" => {
            let m = MaxSend {
                packets: number(at(3, "packets")?, "max-send")?,
                every_secs: number(at(5, "interval")?, "interval")?,
            };
            put(&mut n.max_send, m, l.no)
        }
        "registration" => match (l.len(), l.kw(3)) {
            (5, "timeout") => put(
                &mut n.registration_timeout,
                number(at(4, "timeout")?, "timeout")?,
                l.no,
            ),
            (4, "no-unique") => Ok(Done::Note(
                "not applied: the node's configuration has no no-unique (registrations ask for the unique flag)"
                    .into(),
            )),
            (5, "prefix") => {
                let w = at(4, "prefix")?;
                let net: IpNet = w
                    .parse()
                    .map_err(|_| format!("{w:?} is not a prefix (ADDRESS/LENGTH)"))?;
                n.registration_prefixes.push((net, l.no));
                Ok(Done::Applied)
            }
            _ => Err("expected registration timeout N, no-unique or prefix P/L".into()),
        },
        _ => Err("not a supported NHRP setting".into()),
    }
}

impl NhsLine {
    fn nbma_unset(&self) -> bool {
        self.nhs.nbma.is_none()
    }
}
