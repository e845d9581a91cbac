//! The line-by-line pass: which block a line belongs to, global lines (`hostname`,
//! `interface`, `crypto`, `ip route`, everything else as notes), and the drafts the blocks
//! fill in, which [`super::build`] assembles.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::crypto::CryptoDraft;
use super::iface::{self, PhysDraft};
use super::lex::Line;
use super::tunnel::TunnelDraft;
use super::{Note, Problem, Route, RouteVia};

/// A value and the line that set it.
pub(crate) type At<T> = Option<(T, usize)>;

/// What a line did, when it did not fail.
pub(crate) enum Done {
    /// Applied to the configuration (or understood as the default).
    Applied,
    /// Understood and not applied, for this reason.
    Note(String),
}

/// Why routing protocol lines are notes.
pub(crate) const ROUTING: &str =
    "routing protocol setting: the router's routing daemon applies it, not the node";
/// Why interface settings of other subsystems are notes.
pub(crate) const SYSTEM: &str = "interface setting of the system, not part of the node";
/// Why VRF lines are notes.
pub(crate) const VRF: &str =
    "VRFs are the system's: the node has one overlay routing table (not applied)";
/// Why global lines of other subsystems are notes.
const FOREIGN: &str = "not part of the DMVPN node configuration";

/// Sets a value given once; a second line for it is an error (IOS would keep the last one,
/// `show running-config` never prints two).
pub(crate) fn put<T>(slot: &mut At<T>, v: T, line: usize) -> Result<Done, String> {
    if let Some((_, old)) = slot {
        return Err(format!("already given on line {old}"));
    }
    *slot = Some((v, line));
    Ok(Done::Applied)
}

/// Parses a number, naming what it is when it is not one.
pub(crate) fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{what} {s:?} is not a number in range"))
}

/// Parses an address of either family.
pub(crate) fn addr(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("{s:?} is not an IP address"))
}

/// `A M` (a dotted mask) as a prefix, host bits kept.
pub(crate) fn with_mask(a: &str, m: &str) -> Result<Ipv4Net, String> {
    let a = a
        .parse()
        .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
    let m = m
        .parse()
        .map_err(|_| format!("{m:?} is not an IPv4 mask"))?;
    Ipv4Net::with_netmask(a, m).map_err(|_| format!("{m} is not a contiguous netmask"))
}

/// `P/L` as an IPv6 prefix, host bits kept.
pub(crate) fn v6_prefix(s: &str) -> Result<Ipv6Net, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv6 prefix (ADDRESS/LENGTH)"))
}

/// Which block the lines being read belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    /// Top level.
    Global,
    /// `interface TunnelN` (index into the tunnel drafts).
    Tunnel(usize),
    /// Any other `interface` (index into the physical drafts).
    Phys(usize),
    /// A block of another subsystem: its lines are notes with this reason.
    Foreign(&'static str),
    /// A refused block: its header is the error, its lines go with it.
    Refused,
    /// A `banner` until its delimiter (the `^C` or other character).
    Banner(char, bool),
    /// `crypto ipsec transform-set`.
    TransformSet(usize),
    /// `crypto ipsec profile`.
    IpsecProfile(usize),
    /// `crypto ikev2 proposal`.
    Proposal(usize),
    /// `crypto ikev2 policy`.
    Policy(usize),
    /// `crypto ikev2 keyring` (before its first peer).
    Keyring(usize),
    /// `peer` of a `crypto ikev2 keyring`.
    Peer(usize, usize),
    /// `crypto ikev2 profile`.
    IkeProfile(usize),
    /// `crypto isakmp policy` (an index into the ISAKMP policy drafts).
    IsakmpPolicy(usize),
}

/// Everything read so far.
#[derive(Default)]
pub(crate) struct Parser {
    pub ctx: Option<Ctx>,
    pub problems: Vec<Problem>,
    pub notes: Vec<Note>,
    pub hostname: At<String>,
    pub tunnels: Vec<TunnelDraft>,
    pub phys: Vec<PhysDraft>,
    pub crypto: CryptoDraft,
    pub routes: Vec<Route>,
    /// Every line's text as shown (secrets redacted), for problems found later.
    pub texts: BTreeMap<usize, String>,
}

impl Parser {
    fn ctx(&self) -> Ctx {
        self.ctx.unwrap_or(Ctx::Global)
    }

    /// Records an error for a line.
    pub fn error(&mut self, l: &Line, message: String) {
        self.problems.push(Problem {
            line: Some(l.no),
            text: l.shown(),
            message,
        });
    }

    /// Records a note for a line.
    pub fn note(&mut self, l: &Line, why: impl Into<String>) {
        self.notes.push(Note {
            line: l.no,
            text: l.shown(),
            why: why.into(),
        });
    }

    fn done(&mut self, l: &Line, r: Result<Done, String>) {
        match r {
            Ok(Done::Applied) => {}
            Ok(Done::Note(why)) => self.note(l, why),
            Err(e) => self.error(l, e),
        }
    }

    /// Reads one line.
    pub fn line(&mut self, l: &Line) {
        self.texts.insert(l.no, l.shown());
        let ctx = self.ctx();
        if let Ctx::Banner(delim, caret) = ctx {
            self.note(l, "banner text");
            if contains_delim(&l.words.join(" "), delim, caret) {
                self.ctx = None;
            }
            return;
        }
        if l.exactly(0, &["exit"]) {
            self.ctx = match ctx {
                Ctx::Peer(k, _) => Some(Ctx::Keyring(k)),
                Ctx::Foreign(why) => {
                    self.note(l, why);
                    None
                }
                _ => None,
            };
            return;
        }
        if l.exactly(0, &["end"]) {
            self.note(l, "end of the configuration");
            self.ctx = None;
            return;
        }
        if ctx != Ctx::Global && (l.indented || self.accepts(ctx, l)) {
            self.sub_line(ctx, l);
        } else {
            self.ctx = None;
            self.global(l);
        }
    }

    /// An unindented line that is a command of the current block continues it.
    fn accepts(&self, ctx: Ctx, l: &Line) -> bool {
        let k = l.kw(0);
        match ctx {
            Ctx::Global | Ctx::Foreign(_) | Ctx::Refused | Ctx::Banner(..) => false,
            Ctx::Tunnel(_) | Ctx::Phys(_) => iface::is_interface_line(l),
            Ctx::TransformSet(_) => k == "mode",
            Ctx::IpsecProfile(_) => matches!(k, "set" | "description" | "responder-only"),
            Ctx::Proposal(_) => matches!(k, "encryption" | "integrity" | "prf" | "group"),
            Ctx::Policy(_) => matches!(k, "proposal" | "match" | "description"),
            Ctx::Keyring(_) | Ctx::Peer(..) => matches!(
                k,
                "peer" | "address" | "identity" | "pre-shared-key" | "description" | "hostname"
            ),
            Ctx::IkeProfile(_) => matches!(
                k,
                "match"
                    | "identity"
                    | "authentication"
                    | "keyring"
                    | "dpd"
                    | "lifetime"
                    | "nat"
                    | "description"
                    | "virtual-template"
            ),
            Ctx::IsakmpPolicy(_) => matches!(
                k,
                "encryption" | "hash" | "authentication" | "group" | "lifetime"
            ),
        }
    }

    fn sub_line(&mut self, ctx: Ctx, l: &Line) {
        let r = match ctx {
            Ctx::Global | Ctx::Banner(..) => return,
            Ctx::Refused => return,
            Ctx::Foreign(why) => Ok(Done::Note(why.into())),
            Ctx::Tunnel(i) => match self.tunnels.get_mut(i) {
                Some(t) => t.line(l),
                None => return,
            },
            Ctx::Phys(i) => match self.phys.get_mut(i) {
                Some(p) => p.line(l),
                None => return,
            },
            Ctx::Keyring(k) | Ctx::Peer(k, _) if l.kw(0) == "peer" => {
                match self.crypto.peer(k, l) {
                    Ok(p) => {
                        self.ctx = Some(Ctx::Peer(k, p));
                        Ok(Done::Applied)
                    }
                    Err(e) => Err(e),
                }
            }
            _ => self.crypto.sub_line(ctx, l),
        };
        self.done(l, r);
    }

    fn global(&mut self, l: &Line) {
        match l.kw(0) {
            "hostname" => {
                let r = if l.len() == 2 {
                    put(&mut self.hostname, l.rest(1), l.no)
                } else {
                    Err("hostname takes one name".into())
                };
                self.done(l, r);
            }
            "interface" => self.interface(l),
            "crypto" => match self.crypto.global(l) {
                Ok((done, ctx)) => {
                    self.ctx = ctx;
                    self.done(l, Ok(done));
                }
                Err(e) => {
                    self.ctx = Some(Ctx::Refused);
                    self.error(l, e);
                }
            },
            "no" if l.starts_at(1, &["crypto", "isakmp"]) => {
                let r = self.crypto.isakmp.no_line(l);
                self.done(l, r);
            }
            "ip" | "ipv6" if l.kw(1) == "route" => {
                let r = self.route(l);
                self.done(l, r);
            }
            "router" => {
                self.note(l, ROUTING);
                self.ctx = Some(Ctx::Foreign(ROUTING));
            }
            "banner" => {
                self.note(l, "banner text");
                let at = match l.kw(1) {
                    "motd" | "login" | "exec" | "incoming" | "slip-ppp" | "config-save" => 2,
                    _ => 1,
                };
                if let Some(d) = l.word(at) {
                    let caret = d.starts_with("^C");
                    let delim = d.chars().next().unwrap_or('^');
                    let after = l.words.get(at..).unwrap_or_default().join(" ");
                    let body = after.get(if caret { 2 } else { 1 }..).unwrap_or("");
                    if !contains_delim(body, delim, caret) {
                        self.ctx = Some(Ctx::Banner(delim, caret));
                    }
                }
            }
            _ => {
                self.note(l, FOREIGN);
                self.ctx = Some(Ctx::Foreign(FOREIGN));
            }
        }
    }

    fn interface(&mut self, l: &Line) {
        let Some(name) = l.word(1) else {
            self.note(l, SYSTEM);
            self.ctx = Some(Ctx::Foreign(SYSTEM));
            return;
        };
        // `interface Serial0/0.1 point-to-point` is a sub-interface; a tunnel has one name.
        if l.len() > 2 && iface::is_tunnel(&iface::canon(name)) {
            self.error(l, "interface takes one name".into());
            self.ctx = Some(Ctx::Refused);
            return;
        }
        let canon = iface::canon(name);
        if iface::is_tunnel(&canon) {
            let i = match self
                .tunnels
                .iter()
                .position(|t| iface::canon(&t.name) == canon)
            {
                Some(i) => i,
                None => {
                    self.tunnels
                        .push(TunnelDraft::new(iface::tunnel_name(&canon), l.no));
                    self.tunnels.len() - 1
                }
            };
            self.ctx = Some(Ctx::Tunnel(i));
        } else {
            let i = match self.phys.iter().position(|p| p.canon == canon) {
                Some(i) => i,
                None => {
                    self.phys.push(PhysDraft::new(canon, l.no));
                    self.phys.len() - 1
                }
            };
            self.ctx = Some(Ctx::Phys(i));
        }
    }

    /// `ip route P M TARGET [DISTANCE] [name N]` / `ipv6 route P/L TARGET [DISTANCE] ...`.
    fn route(&mut self, l: &Line) -> Result<Done, String> {
        if l.kw(2) == "vrf" {
            return Ok(Done::Note(VRF.into()));
        }
        let v6 = l.kw(0) == "ipv6";
        let (prefix, mut i): (IpNet, usize) = if v6 {
            (v6_prefix(l.need(2, "prefix")?)?.into(), 3)
        } else {
            (
                with_mask(l.need(2, "prefix")?, l.need(3, "mask")?)?.into(),
                4,
            )
        };
        if prefix.trunc() != prefix {
            return Err(format!(
                "inconsistent address and mask: the network is {}",
                prefix.trunc()
            ));
        }
        let target = l.need(i, "next hop or interface")?;
        i += 1;
        let via = if let Ok(a) = target.parse::<IpAddr>() {
            RouteVia::NextHop(a)
        } else if target.eq_ignore_ascii_case("dhcp") {
            return Ok(Done::Note(
                "the default route from DHCP is the system's (not applied)".into(),
            ));
        } else if let Some(a) = l.word(i).and_then(|w| w.parse::<IpAddr>().ok()) {
            i += 1;
            RouteVia::InterfaceNextHop {
                interface: target.to_owned(),
                next_hop: a,
            }
        } else {
            RouteVia::Interface(target.to_owned())
        };
        if let RouteVia::NextHop(a) | RouteVia::InterfaceNextHop { next_hop: a, .. } = via
            && a.is_ipv6() != v6
        {
            return Err(format!("next hop {a} is not of the prefix's family"));
        }
        let mut distance = 1u8;
        let mut name = None;
        while let Some(w) = l.word(i) {
            match l.kw(i) {
                "name" => {
                    name = Some(l.need(i + 1, "route name")?.to_owned());
                    i += 2;
                }
                k if k.bytes().all(|b| b.is_ascii_digit()) => {
                    distance = number(w, "distance")?;
                    if distance == 0 {
                        return Err("distance is 1 to 255".into());
                    }
                    i += 1;
                }
                k => {
                    return Err(format!(
                        "{k:?} is not supported on a static route (distance and name are)"
                    ));
                }
            }
        }
        self.routes.push(Route {
            line: l.no,
            prefix,
            via,
            distance,
            name,
        });
        Ok(Done::Applied)
    }
}

/// The banner ends on this line.
fn contains_delim(s: &str, delim: char, caret: bool) -> bool {
    if caret {
        s.contains("^C")
    } else {
        s.contains(delim)
    }
}
