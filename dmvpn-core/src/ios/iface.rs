//! Interface names (`Fa0/0` is `FastEthernet0/0`) and the blocks of non-tunnel interfaces:
//! their addresses (a tunnel's source, or a network behind the node) and `mtu`; every other
//! line of theirs is a note.

use ipnet::{Ipv4Net, Ipv6Net};

use super::lex::Line;
use super::parser::{At, Done, SYSTEM, number, v6_prefix, with_mask};

/// Interface types, for expanding IOS abbreviations; the first that an abbreviation begins
/// wins.
const TYPES: &[&str] = &[
    "ethernet",
    "fastethernet",
    "gigabitethernet",
    "tunnel",
    "tengigabitethernet",
    "loopback",
    "serial",
    "dialer",
    "vlan",
    "virtual-template",
    "port-channel",
    "cellular",
    "null",
    "bvi",
    "multilink",
    "atm",
];

/// An interface name in one spelling for comparisons: lower case, its type spelled out
/// (`Fa0/0`, `fastethernet0/0` and `FastEthernet0/0` are one interface).
pub(crate) fn canon(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '-'))
        .unwrap_or(lower.len());
    let (ty, rest) = lower.split_at(split);
    if ty.is_empty() || rest.is_empty() {
        return lower;
    }
    match TYPES.iter().find(|t| t.starts_with(ty)) {
        Some(t) => format!("{t}{rest}"),
        None => lower,
    }
}

/// A canonical name ([`canon`]) is a tunnel interface (`tunnel` and a number).
pub(crate) fn is_tunnel(canon: &str) -> bool {
    canon
        .strip_prefix("tunnel")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The display name of a tunnel interface from its canonical name: `Tunnel0`.
pub(crate) fn tunnel_name(canon: &str) -> String {
    format!("Tunnel{}", canon.strip_prefix("tunnel").unwrap_or(canon))
}

/// After `ip`: interface commands (an unindented one continues an interface block).
const IFACE_IP: &[&str] = &[
    "address",
    "mtu",
    "tcp",
    "nhrp",
    "verify",
    "unnumbered",
    "ospf",
    "eigrp",
    "rip",
    "pim",
    "igmp",
    "multicast",
    "mroute-cache",
    "hello-interval",
    "hold-time",
    "bandwidth-percent",
    "summary-address",
    "authentication",
    "split-horizon",
    "next-hop-self",
    "redirects",
    "unreachables",
    "proxy-arp",
    "flow",
    "virtual-reassembly",
    "route-cache",
    "access-group",
    "policy",
    "helper-address",
    "directed-broadcast",
];

/// After `ipv6`: interface commands.
const IFACE_IPV6: &[&str] = &[
    "address",
    "enable",
    "mtu",
    "nhrp",
    "tcp",
    "ospf",
    "eigrp",
    "rip",
    "pim",
    "nd",
    "mld",
    "redirects",
    "unreachables",
    "traffic-filter",
    "summary-address",
    "split-horizon",
    "next-hop-self",
    "hello-interval",
    "hold-time",
    "verify",
];

/// Other interface commands.
const IFACE: &[&str] = &[
    "description",
    "tunnel",
    "shutdown",
    "bandwidth",
    "delay",
    "load-interval",
    "keepalive",
    "cdp",
    "mtu",
    "duplex",
    "speed",
    "if-state",
    "service-policy",
    "zone-member",
    "encapsulation",
    "pppoe",
    "pppoe-client",
    "dialer",
    "negotiation",
    "media-type",
];

/// `l` is an interface command (so an unindented one stays in the interface block, as
/// IOS's parser keeps it there).
pub(crate) fn is_interface_line(l: &Line) -> bool {
    let ip = |i: usize| match l.kw(i) {
        "ip" => {
            let k = l.kw(i + 1);
            IFACE_IP.contains(&k)
                || (k == "vrf" && l.kw(i + 2) == "forwarding")
                || (k == "nat" && l.len() == i + 3)
        }
        "ipv6" => IFACE_IPV6.contains(&l.kw(i + 1)),
        _ => false,
    };
    match l.kw(0) {
        "ip" | "ipv6" => ip(0),
        "no" => ip(1) || IFACE.contains(&l.kw(1)),
        "vrf" => l.kw(1) == "forwarding",
        "crypto" => l.kw(1) == "map" && l.len() == 3,
        k => IFACE.contains(&k),
    }
}

/// A non-tunnel interface block as read.
pub(crate) struct PhysDraft {
    /// [`canon`] of it.
    pub canon: String,
    /// The `interface` line.
    pub header: usize,
    /// `ip address` (primary first, then `secondary` ones).
    pub v4: Vec<(Ipv4Net, usize)>,
    /// `ipv6 address P/L` (global addresses).
    pub v6: Vec<(Ipv6Net, usize)>,
    /// `ip address dhcp` / `negotiated`, `ipv6 address dhcp` / `autoconfig`: the address comes
    /// from the system.
    pub dynamic: Vec<usize>,
    /// `mtu N`.
    pub mtu: At<u16>,
}

impl PhysDraft {
    pub fn new(canon: String, header: usize) -> PhysDraft {
        PhysDraft {
            canon,
            header,
            v4: Vec::new(),
            v6: Vec::new(),
            dynamic: Vec::new(),
            mtu: None,
        }
    }

    /// One line of the block: addresses and `mtu` are kept for later, a crypto map is
    /// refused, the rest are notes.
    pub fn line(&mut self, l: &Line) -> Result<Done, String> {
        match (l.kw(0), l.kw(1)) {
            ("ip", "address") => match (l.len(), l.kw(2), l.kw(4)) {
                (4, ..) | (5, _, "secondary") => {
                    let net = with_mask(l.need(2, "address")?, l.need(3, "mask")?)?;
                    if l.len() == 4
                        && let Some((_, first)) = self.v4.first()
                    {
                        return Err(format!(
                            "a second primary address (the first is on line {first})"
                        ));
                    }
                    self.v4.push((net, l.no));
                    Ok(Done::Applied)
                }
                (_, "dhcp" | "negotiated", _) => {
                    self.dynamic.push(l.no);
                    Ok(Done::Applied)
                }
                _ => Err("expected ip address ADDRESS MASK [secondary], dhcp or negotiated".into()),
            },
            ("ipv6", "address") => match (l.len(), l.kw(2), l.kw(3)) {
                (3, "dhcp" | "autoconfig", _) => {
                    self.dynamic.push(l.no);
                    Ok(Done::Applied)
                }
                (3, ..) => {
                    self.v6.push((v6_prefix(l.need(2, "prefix")?)?, l.no));
                    Ok(Done::Applied)
                }
                (4, _, "link-local") => Ok(Done::Note("a link-local address".into())),
                _ => Ok(Done::Note(SYSTEM.into())),
            },
            ("mtu", _) if l.len() == 2 => {
                let m = number(l.need(1, "MTU")?, "MTU")?;
                if self.mtu.replace((m, l.no)).is_some() {
                    return Err("mtu given twice".into());
                }
                Ok(Done::Applied)
            }
            ("crypto", "map") => Err(
                "crypto maps are not supported: protect the tunnel with tunnel protection ipsec profile NAME"
                    .into(),
            ),
            ("crypto", _) => Err("not supported on an interface".into()),
            _ => Ok(Done::Note(SYSTEM.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_name_one_interface() {
        for (a, b) in [
            ("Fa0/0", "FastEthernet0/0"),
            ("e0", "Ethernet0"),
            ("Gi0/0.100", "GigabitEthernet0/0.100"),
            ("Tu0", "Tunnel0"),
            ("lo0", "Loopback0"),
        ] {
            assert_eq!(canon(a), canon(b), "{a} {b}");
        }
        assert_ne!(canon("Fa0/0"), canon("Gi0/0"));
        // System names stay as they are.
        assert_eq!(canon("enp0s3"), "enp0s3");
        assert!(is_tunnel(&canon("Tunnel100")));
        assert!(is_tunnel(&canon("tu1")));
        assert!(!is_tunnel(&canon("Tunnel")));
        assert!(!is_tunnel(&canon("Tunnel0.1")));
        assert_eq!(tunnel_name(&canon("tunnel7")), "Tunnel7");
    }
}
