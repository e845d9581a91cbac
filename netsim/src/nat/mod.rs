//! NAT boxes between inside hosts and the rest of the network: the one-to-one dynamic NAT
//! ([`NatConfig`], which GRE and ESP traverse) and the port-translating NAT ([`NaptConfig`], UDP
//! only, with the mapping, paired address pooling, filtering, refresh and hairpinning behaviours
//! of RFC 4787).
//!
//! A box translates on the way out when a datagram is sent ([`crate::Network::send`], before
//! recording) and on the way in when it arrives ([`crate::Network::pop_due`]); there are no
//! timers, so a box evaluates its mappings' idle timeouts on the network clock whenever it
//! handles a datagram.

mod napt;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use dmvpn_wire::{IpProtocol, be, checksum, udp};

use crate::Datagram;

pub use napt::{Filtering, NaptConfig};

/// A NAT box: hosts with `inside` addresses reach the network through it. Each inside host gets
/// the next free `public` address on its first outbound datagram (one-to-one dynamic NAT, which
/// GRE and ESP can traverse); inbound datagrams to a public address are translated back, and
/// inbound datagrams to a public address with no mapping are dropped (no static mappings).
/// Mappings never expire. For a box that shares one public address among its hosts by port
/// (and drops everything but UDP), see [`NaptConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// The pool of public (outside) addresses.
    pub public: Vec<IpAddr>,
    /// The hosts behind the box.
    pub inside: Vec<IpAddr>,
}

/// Identifies a NAT box (of either kind) in a [`crate::Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NatId(pub usize);

/// What one NAT box did, from [`crate::Network::nat_stats`]. Every drop counted here is also in
/// [`crate::NetStats::nat_dropped`], the total over all boxes and reasons. A one-to-one box
/// ([`NatConfig`]) only counts `mappings_created`, `translated_out`, `translated_in`,
/// `exhausted`, `no_mapping` and `addressed_inside`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatStats {
    /// Mappings created: a public address given to an inside host (one-to-one), or a public
    /// port given to an inside socket (NAPT), including the new mapping after an expiry or a
    /// rebinding.
    pub mappings_created: u64,
    /// Datagrams from inside hosts translated and sent on (source address, and port for NAPT).
    pub translated_out: u64,
    /// Datagrams to a public mapping translated and delivered to the inside host (destination
    /// address, and port for NAPT), hairpinned ones included.
    pub translated_in: u64,
    /// NAPT with hairpinning on: datagrams an inside host sent to one of the box's own public
    /// addresses, translated on the way out and sent back in (they arrive, and are translated
    /// to the inside host or dropped, like any inbound datagram: the target mapping's filtering
    /// applies).
    pub hairpinned: u64,
    /// NAPT: datagrams of any IP protocol but UDP (GRE 47, ESP 50, ...) from an inside host, or
    /// to one of the box's public addresses, dropped: the box translates only UDP.
    pub protocol_dropped: u64,
    /// NAPT: inbound UDP datagrams to a live mapping that its [`Filtering`] refused (the
    /// mapping's inside socket never sent to that remote address, or address and port).
    pub filtered: u64,
    /// Inbound datagrams to one of the box's public addresses with no live mapping: never
    /// mapped, expired, dropped by a rebinding, or to an address given up at a rebinding.
    pub no_mapping: u64,
    /// NAPT: mappings removed by their idle timeout (counted when the box next handles a
    /// datagram at or after the instant they expired).
    pub expired: u64,
    /// NAPT with hairpinning off: datagrams an inside host sent to one of the box's own public
    /// addresses (its pool's included), dropped (RFC 4787 §6: a box that does not hairpin).
    pub hairpin_dropped: u64,
    /// Datagrams from inside hosts dropped because no public address (one-to-one) or port
    /// (NAPT: the port range of the host's public address, less the ports retired by
    /// rebindings, is used up) was left.
    pub exhausted: u64,
    /// Datagrams addressed to an inside (private) address of the box, which is not reachable
    /// from outside it (nor from its other inside hosts: they talk through public mappings).
    pub addressed_inside: u64,
    /// NAPT: UDP datagrams too short for a UDP header, dropped in either direction (the box
    /// cannot read their ports).
    pub malformed: u64,
    /// NAPT: datagrams from inside hosts whose address family differs from the box's public
    /// address (the one the host is paired with, if the box has a pool), dropped (the box does
    /// not translate between families).
    pub wrong_family: u64,
    /// NAPT: rebindings ([`crate::Network::rebind`]).
    pub rebinds: u64,
}

/// Which end of a datagram a box rewrites: the source on the way out, the destination on the
/// way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Src,
    Dst,
}

impl Side {
    /// Offset of this side's port in the UDP header.
    fn port_at(self) -> usize {
        match self {
            Side::Src => 0,
            Side::Dst => 2,
        }
    }
}

/// The 16-bit words of an address, with how many there are (2 for IPv4, 8 for IPv6).
fn addr_words(a: IpAddr) -> ([u16; 8], usize) {
    match a {
        IpAddr::V4(a) => {
            let [a0, a1, a2, a3] = a.octets();
            let (hi, lo) = (u16::from_be_bytes([a0, a1]), u16::from_be_bytes([a2, a3]));
            ([hi, lo, 0, 0, 0, 0, 0, 0], 2)
        }
        IpAddr::V6(a) => (a.segments(), 8),
    }
}

/// Translates one side of `d` to `addr` (and, for UDP when `port` is given, that side's port to
/// `port`), keeping a UDP checksum right as real boxes do (RFC 3022 §4.1): an RFC 1624
/// incremental update for each pseudo-header address word and for the port word that changed,
/// never a recomputation over the payload. A datagram sent without a checksum (zero, IPv4)
/// keeps none; a UDP datagram too short for its header is left as it is apart from the address;
/// other protocols (GRE, ESP) have no checksum over the addresses. Between address families
/// (a one-to-one box configured so) only the address is rewritten.
pub(crate) fn translate(d: &mut Datagram, side: Side, addr: IpAddr, port: Option<u16>) {
    let old = match side {
        Side::Src => d.src,
        Side::Dst => d.dst,
    };
    if d.protocol == IpProtocol::UDP.0 && d.payload.len() >= udp::HEADER_LEN {
        let port_at = side.port_at();
        let mut sum = be::u16(&d.payload, 6);
        let (old_words, n_old) = addr_words(old);
        let (new_words, n_new) = addr_words(addr);
        let fix = sum != 0 && n_old == n_new;
        if fix {
            for (o, n) in old_words.into_iter().zip(new_words).take(n_old) {
                sum = checksum::update(sum, o, n);
            }
        }
        if let Some(port) = port {
            let old_port = be::u16(&d.payload, port_at);
            be::put_u16(&mut d.payload, port_at, port);
            if fix {
                sum = checksum::update(sum, old_port, port);
            }
        }
        if fix {
            // Zero means "no checksum" in UDP: a computed zero is sent as its other form
            // (RFC 768).
            be::put_u16(&mut d.payload, 6, if sum == 0 { 0xffff } else { sum });
        }
    }
    match side {
        Side::Src => d.src = addr,
        Side::Dst => d.dst = addr,
    }
}

/// The ports of a UDP datagram (the bytes after the IP header), if it holds a header.
pub(crate) fn udp_ports(payload: &[u8]) -> Option<(u16, u16)> {
    Some((be::read_u16(payload, 0)?, be::read_u16(payload, 2)?))
}

/// A one-to-one dynamic NAT box.
#[derive(Debug)]
struct OneToOne {
    free: Vec<IpAddr>,
    out: HashMap<IpAddr, IpAddr>,
    back: HashMap<IpAddr, IpAddr>,
    stats: NatStats,
}

impl OneToOne {
    fn new(config: NatConfig) -> OneToOne {
        let mut free = config.public;
        free.reverse(); // hand out in the order given
        OneToOne {
            free,
            out: HashMap::new(),
            back: HashMap::new(),
            stats: NatStats::default(),
        }
    }

    fn outbound(&mut self, d: &mut Datagram) -> bool {
        let public = match self.out.get(&d.src) {
            Some(p) => *p,
            None => match self.free.pop() {
                Some(p) => {
                    self.out.insert(d.src, p);
                    self.back.insert(p, d.src);
                    self.stats.mappings_created += 1;
                    p
                }
                None => {
                    self.stats.exhausted += 1;
                    return false;
                }
            },
        };
        translate(d, Side::Src, public, None);
        self.stats.translated_out += 1;
        true
    }

    /// Whether `addr` is one of the box's public addresses (the free pool and those handed
    /// out: always the configured pool).
    #[cfg(test)]
    fn owns(&self, addr: IpAddr) -> bool {
        self.back.contains_key(&addr) || self.free.contains(&addr)
    }

    fn inbound(&mut self, d: &mut Datagram) -> bool {
        match self.back.get(&d.dst).copied() {
            Some(inside) => {
                translate(d, Side::Dst, inside, None);
                self.stats.translated_in += 1;
                true
            }
            None => {
                self.stats.no_mapping += 1;
                false
            }
        }
    }
}

/// One box of either kind (boxed: the two differ much in size).
#[derive(Debug)]
enum NatBox {
    OneToOne(Box<OneToOne>),
    Napt(Box<napt::Napt>),
}

impl NatBox {
    fn stats_mut(&mut self) -> &mut NatStats {
        match self {
            NatBox::OneToOne(n) => &mut n.stats,
            NatBox::Napt(n) => n.stats_mut(),
        }
    }

    /// Whether inbound datagrams to `addr` are the box's (what [`Nats::public_of`] indexes).
    #[cfg(test)]
    fn owns(&self, addr: IpAddr) -> bool {
        match self {
            NatBox::OneToOne(n) => n.owns(addr),
            NatBox::Napt(n) => n.owns(addr),
        }
    }
}

/// Every NAT box of a network, and which box each inside host sits behind.
#[derive(Debug, Default)]
pub(crate) struct Nats {
    boxes: Vec<NatBox>,
    /// Inside address to box (lookups only: nothing iterates it).
    nat_of: HashMap<IpAddr, usize>,
    /// Public address to the first box (in the order added) whose inbound datagrams those to
    /// it are: its pool, and for a NAPT box the addresses it had before rebindings. A box's
    /// set of such addresses only grows, so the index is kept by adding. Lookups only.
    public_of: HashMap<IpAddr, usize>,
    /// Work done translating datagrams: boxes, addresses and ports looked at (a diagnostic,
    /// [`crate::OpCounts::nat_entries_examined`]).
    pub(crate) work: u64,
}

impl Nats {
    fn push(&mut self, inside: &[IpAddr], public: &[IpAddr], b: NatBox) -> NatId {
        let id = self.boxes.len();
        for host in inside {
            self.nat_of.insert(*host, id);
        }
        for &a in public {
            self.claim(a, id);
        }
        self.boxes.push(b);
        NatId(id)
    }

    /// Box `id` takes inbound datagrams to `addr`, unless a box added before it does.
    fn claim(&mut self, addr: IpAddr, id: usize) {
        let owner = self.public_of.entry(addr).or_insert(id);
        *owner = (*owner).min(id);
    }

    /// Adds a one-to-one box.
    pub(crate) fn add_nat(&mut self, config: NatConfig) -> NatId {
        let (inside, public) = (config.inside.clone(), config.public.clone());
        self.push(
            &inside,
            &public,
            NatBox::OneToOne(Box::new(OneToOne::new(config))),
        )
    }

    /// Adds a NAPT box.
    pub(crate) fn add_napt(&mut self, config: NaptConfig) -> NatId {
        let inside = config.inside.clone();
        let b = napt::Napt::new(config);
        let public = b.addrs().to_vec();
        self.push(&inside, &public, NatBox::Napt(Box::new(b)))
    }

    /// Source NAT for a datagram being sent at `now`: `false` if a box dropped it (counted in
    /// the box's stats).
    pub(crate) fn outbound(&mut self, now: Instant, d: &mut Datagram) -> bool {
        self.work += 1;
        let Some(&n) = self.nat_of.get(&d.src) else {
            return true;
        };
        match self.boxes.get_mut(n) {
            Some(NatBox::OneToOne(b)) => b.outbound(d),
            Some(NatBox::Napt(b)) => b.outbound(now, d, &mut self.work),
            None => false,
        }
    }

    /// Destination NAT for a datagram arriving at `now`: `false` if a box dropped it (counted
    /// in the box's stats). A datagram to a box's public address is the box's to translate
    /// (the first box, in the order added, that claims the address); one to an inside address
    /// is dropped.
    pub(crate) fn inbound(&mut self, now: Instant, d: &mut Datagram) -> bool {
        self.work += 1;
        if let Some(&n) = self.public_of.get(&d.dst) {
            return match self.boxes.get_mut(n) {
                Some(NatBox::OneToOne(b)) => b.inbound(d),
                Some(NatBox::Napt(b)) => b.inbound(now, d, &mut self.work),
                None => false,
            };
        }
        self.work += 1;
        if let Some(&n) = self.nat_of.get(&d.dst) {
            // Private addresses behind a NAT box are not reachable from outside it.
            if let Some(b) = self.boxes.get_mut(n) {
                b.stats_mut().addressed_inside += 1;
            }
            return false;
        }
        true
    }

    /// The public address a one-to-one box gave an inside host, if it has one yet.
    pub(crate) fn nat_mapping(&self, inside: IpAddr) -> Option<IpAddr> {
        match self.boxes.get(*self.nat_of.get(&inside)?)? {
            NatBox::OneToOne(b) => b.out.get(&inside).copied(),
            NatBox::Napt(_) => None,
        }
    }

    /// The live public endpoint a NAPT box gave an inside socket at `now`, if any.
    pub(crate) fn napt_mapping(&self, now: Instant, inside: SocketAddr) -> Option<SocketAddr> {
        match self.boxes.get(*self.nat_of.get(&inside.ip())?)? {
            NatBox::OneToOne(_) => None,
            NatBox::Napt(b) => b.mapping(now, inside),
        }
    }

    /// A box's counters.
    pub(crate) fn stats(&self, id: NatId) -> Option<NatStats> {
        match self.boxes.get(id.0)? {
            NatBox::OneToOne(b) => Some(b.stats),
            NatBox::Napt(b) => Some(b.stats()),
        }
    }

    /// Rebinds a NAPT box; `false` (nothing done) if `id` is not one.
    pub(crate) fn rebind(&mut self, id: NatId, new_public: Option<IpAddr>) -> bool {
        match self.boxes.get_mut(id.0) {
            Some(NatBox::Napt(b)) => {
                b.rebind(new_public);
                // The new primary address is the box's now; the old one stays claimed.
                if let Some(p) = new_public {
                    self.claim(p, id.0);
                }
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn valid(d: &Datagram) -> bool {
        let p = udp::Packet::new_checked(&d.payload[..]).unwrap();
        udp::Repr::parse(&p, d.src, d.dst).is_ok()
    }

    /// Address and port rewrites on either side keep the checksum equal to a recomputation,
    /// across many payloads, ports and addresses (including ones that make the sum wrap).
    #[test]
    fn translate_matches_recomputation() {
        let v4 = [
            "10.0.0.1",
            "192.168.255.254",
            "0.0.0.0",
            "255.255.255.255",
            "203.0.113.7",
        ];
        let v6 = ["fd00::2", "2001:db8::ffff:1", "::", "ffff::ffff"];
        for family in [&v4[..], &v6[..]] {
            for (i, a) in family.iter().enumerate() {
                for (j, b) in family.iter().enumerate() {
                    for port in [0u16, 1, 4500, 0xfffe, 0xffff] {
                        let payload: Vec<u8> = (0..(i * 7 + j) as u8).collect();
                        let bytes =
                            udp::datagram(ip(a), ip(b), 1000 + i as u16, 500, &payload).unwrap();
                        let mut d = Datagram {
                            src: ip(a),
                            dst: ip(b),
                            protocol: 17,
                            payload: bytes,
                        };
                        let side = if port % 2 == 0 { Side::Src } else { Side::Dst };
                        let to = ip(family[(i + j + 1) % family.len()]);
                        translate(&mut d, side, to, Some(port));
                        assert!(valid(&d), "{a} -> {b}, {side:?} to {to}:{port}");
                        let (s, t) = udp_ports(&d.payload).unwrap();
                        assert_eq!(if side == Side::Src { s } else { t }, port);
                        translate(&mut d, side, to, None);
                        assert!(valid(&d));
                    }
                }
            }
        }
    }

    /// The public-address index names the box a scan of every box in the order added would
    /// find (the first that owns the address), through overlapping pools and rebindings.
    #[test]
    fn the_public_address_index_agrees_with_a_scan_of_every_box() {
        let a = |i: u8| IpAddr::from([203, 0, 113, i]);
        let mut nats = Nats::default();
        nats.add_nat(NatConfig {
            public: vec![a(1), a(2)],
            inside: vec![ip("10.0.0.1")],
        });
        let napt = nats.add_napt(NaptConfig {
            pool: vec![a(2), a(4)],
            ..NaptConfig::new(a(3), vec![ip("10.0.0.2")])
        });
        nats.add_nat(NatConfig {
            public: vec![a(3), a(5)],
            inside: vec![ip("10.0.0.3")],
        });
        let later = nats.add_napt(NaptConfig::new(a(6), vec![ip("10.0.0.4")]));
        let check = |nats: &Nats| {
            for i in 0..=10 {
                let scan = nats.boxes.iter().position(|b| b.owns(a(i)));
                assert_eq!(nats.public_of.get(&a(i)).copied(), scan, "{}", a(i));
            }
        };
        check(&nats);
        // The primary moves to new addresses, to one a later box holds, back to an old one,
        // and to a pool address (no change).
        for p in [a(7), a(6), a(3), a(4), a(8)] {
            assert!(nats.rebind(napt, Some(p)));
            check(&nats);
        }
        assert!(nats.rebind(later, Some(a(1))));
        check(&nats);
        assert!(nats.rebind(later, None));
        check(&nats);
    }

    #[test]
    fn translate_keeps_zero_and_short_and_other_protocols() {
        let mut d = Datagram {
            src: ip("10.0.0.1"),
            dst: ip("10.0.0.2"),
            protocol: 17,
            payload: udp::datagram(ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, b"x").unwrap(),
        };
        d.payload[6..8].copy_from_slice(&[0, 0]);
        translate(&mut d, Side::Src, ip("203.0.113.1"), Some(7));
        assert_eq!(
            (&d.payload[0..2], &d.payload[6..8]),
            (&[0, 7][..], &[0, 0][..])
        );
        let mut short = Datagram {
            payload: vec![1, 2, 3],
            ..d.clone()
        };
        translate(&mut short, Side::Dst, ip("10.9.9.9"), Some(9));
        assert_eq!((short.dst, short.payload), (ip("10.9.9.9"), vec![1, 2, 3]));
        let mut gre = Datagram {
            protocol: 47,
            payload: vec![0; 8],
            ..d
        };
        translate(&mut gre, Side::Src, ip("10.1.1.1"), Some(9));
        assert_eq!((gre.src, gre.payload), (ip("10.1.1.1"), vec![0; 8]));
    }
}
