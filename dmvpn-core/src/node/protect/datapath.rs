//! The protected send path: how a packet leaves for one peer ([`Egress`], the one SA database
//! lookup per packet, carried down the path), GRE into ESP in place ([`Node::seal`]) and the
//! transmit queue.
//!
//! A packet to a peer needs its outbound SA four times on its way: `next_nbma` asks whether
//! there is one (a peer without an SA is reached through the hub), `send_ip` holds the packet
//! to the MTU the SA leaves, `emit` leaves the SA's headroom and trailer room around the GRE
//! packet, and `seal` encrypts with it. [`Node::egress`] looks it up once, as an [`Egress`]
//! (the SA's SPI, its layout, the peer's NAT-T port), and each step takes it from there; the
//! seal goes straight to that SA by its SPI
//! ([`dmvpn_esp::SaDatabase::encapsulate_in_place_with`]). Nothing between the lookup and the
//! seal installs or removes an SA (no IKE or SA database event is handled in between), so the
//! SA is the one a fresh lookup would find. A packet that waited for its SA (the NHRP queue)
//! carries none and is looked up again when it goes.

use std::net::IpAddr;

use dmvpn_esp::wire::udp_encap::NAT_T_PORT;
use dmvpn_wire::Proto;

use super::{GRE, Group};
use crate::error::Error;
use crate::node::{Node, Transmit, bump};

/// A GRE packet on its way into ESP: `buf[start..]` is the GRE packet, behind an inner IP
/// header of `inner` bytes (tunnel mode: GRE-in-IP between the two NBMA addresses; 0 in
/// transport mode), with `start` bytes of headroom for the ESP header and IV.
#[derive(Debug)]
pub(crate) struct Sealable {
    pub(crate) buf: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) inner: usize,
    /// The SA it was laid out for, looked up for this packet ([`Node::egress`]), if one was
    /// up.
    pub(crate) sa: Option<SaPath>,
}

/// The ESP layout of the SA that carries traffic to a peer: header and IV length, the most
/// trailer bytes, and whether it is tunnel mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) head: usize,
    pub(crate) tail: usize,
    pub(crate) tunnel: bool,
}

impl Layout {
    /// The layout of the outbound SA `o`.
    fn of(o: &dmvpn_esp::OutboundSa) -> Layout {
        Layout {
            head: o.header_len(),
            tail: o.max_trailer_len(),
            tunnel: o.mode() == dmvpn_esp::Mode::Tunnel,
        }
    }
}

/// The outbound SA that carries the traffic to one peer, as found for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SaPath {
    /// Its SPI: the handle the seal uses.
    pub(crate) spi: u32,
    pub(crate) layout: Layout,
    /// ESP goes in UDP to this port of the peer (RFC 3948: IKE found a NAT between us), else
    /// as IP protocol 50.
    pub(crate) udp_encap: Option<u16>,
}

/// How a packet to one NBMA peer leaves its tunnel interface (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Egress {
    /// An unprotected interface: GRE in clear.
    Clear,
    /// A protected interface without an SA to the peer: an NHRP packet waits for one, data is
    /// dropped (never sent in clear).
    NoSa,
    /// A protected interface and the SA that carries the traffic to the peer.
    Sa(SaPath),
}

impl Egress {
    /// Whether a packet can go now: the interface is unprotected, or an SA is up.
    pub(crate) fn can_send(self) -> bool {
        !matches!(self, Egress::NoSa)
    }

    /// The SA, if there is one.
    pub(crate) fn sa(self) -> Option<SaPath> {
        match self {
            Egress::Sa(sa) => Some(sa),
            Egress::Clear | Egress::NoSa => None,
        }
    }

    /// The bytes IPsec adds around a GRE packet to `nbma`, at most: the ESP header and IV,
    /// the worst-case trailer (padding, pad length, next header, ICV) of the SA, the inner IP
    /// header in tunnel mode, and 8 for the UDP header of ESP in UDP (NAT-T). 0 in clear;
    /// `None` without an SA (the MTU is unknown until one is up: nothing is sent to the peer
    /// meanwhile).
    pub(crate) fn crypto_overhead(self, nbma: IpAddr) -> Option<usize> {
        let sa = match self {
            Egress::Clear => return Some(0),
            Egress::NoSa => return None,
            Egress::Sa(sa) => sa,
        };
        let l = sa.layout;
        let inner = match (l.tunnel, nbma) {
            (false, _) => 0,
            (true, IpAddr::V4(_)) => dmvpn_wire::ipv4::MIN_HEADER_LEN,
            (true, IpAddr::V6(_)) => dmvpn_wire::ipv6::HEADER_LEN,
        };
        let udp = match sa.udp_encap {
            Some(_) => dmvpn_wire::udp::HEADER_LEN,
            None => 0,
        };
        Some(l.head + l.tail + inner + udp)
    }
}

impl Group {
    /// The SA that carries the traffic to `peer` now, if one is up.
    fn sa_path(&self, peer: IpAddr) -> Option<SaPath> {
        let (spi, o) = self.sadb.outbound_for_with_spi(peer)?;
        Some(SaPath {
            spi,
            layout: Layout::of(o),
            udp_encap: self.peers.get(&peer).and_then(|p| p.udp_encap),
        })
    }
}

impl Node {
    /// How a packet to `nbma` leaves tunnel interface `t` now: in clear, through the SA that
    /// carries the traffic to the peer, or (protected, no SA) not yet. One SA database lookup.
    pub(in crate::node) fn egress(&self, t: usize, nbma: IpAddr) -> Egress {
        match self.group_of(t) {
            None => Egress::Clear,
            Some(g) => self
                .groups
                .get(g)
                .and_then(|grp| grp.sa_path(nbma))
                .map_or(Egress::NoSa, Egress::Sa),
        }
    }

    /// Protects a GRE packet for `nbma` of group `g` in place and queues the ESP transmit;
    /// without an SA, an NHRP packet waits for one (and starts IKE if none is under way),
    /// anything else is dropped and counted: never sent in clear.
    pub(in crate::node) fn seal(
        &mut self,
        g: usize,
        nbma: IpAddr,
        p: Sealable,
        nhrp: bool,
    ) -> Result<(), Error> {
        let now = self.last_now;
        let Some(grp) = self.groups.get_mut(g) else {
            self.recycle(p.buf);
            return Err(Error::NoMapping(nbma));
        };
        let src = grp.source;
        let Some(sa) = p.sa.or_else(|| grp.sa_path(nbma)) else {
            if !nhrp {
                bump(&mut grp.stats.no_sa_dropped);
                self.recycle(p.buf);
                return Err(Error::NoSa(nbma));
            }
            let limit = grp.queue_limit;
            let peer = grp.peers.entry(nbma).or_default();
            if peer.queue.len() >= limit {
                bump(&mut grp.stats.queue_dropped);
                self.recycle(p.buf);
                return Err(Error::QueueFull(limit));
            }
            // Laid out again (and looked up again) when its SA is up.
            peer.queue.push_back(Sealable { sa: None, ..p });
            bump(&mut grp.stats.queued);
            let start = peer.ike.is_none() && peer.negotiating.is_none() && peer.retry_at.is_none();
            if start {
                self.initiate(now, g, nbma);
            }
            return Ok(());
        };
        let layout = sa.layout;
        let p = self.relayout(p, sa, src, nbma)?;
        // The plaintext for the tap, kept only once the ESP transmit is queued (see poll_tap).
        let tapped = self
            .tap
            .is_some()
            .then(|| p.buf.get(p.start + p.inner..).unwrap_or_default().to_vec());
        let next_header = match (layout.tunnel, nbma) {
            (false, _) => GRE,
            (true, IpAddr::V4(_)) => dmvpn_esp::NEXT_HEADER_IPV4,
            (true, IpAddr::V6(_)) => dmvpn_esp::NEXT_HEADER_IPV6,
        };
        let Sealable { mut buf, start, .. } = p;
        let Some(grp) = self.groups.get_mut(g) else {
            self.recycle(buf);
            return Err(Error::NoMapping(nbma));
        };
        let r = grp.sadb.encapsulate_in_place_with(
            now,
            sa.spi,
            src,
            nbma,
            next_header,
            &mut buf,
            start,
        );
        self.drain_sadb(now, g);
        match r {
            Ok(off) => {
                if off > 0 {
                    // Never with the headroom `emit` left; a queued packet was laid out again.
                    buf.drain(..off);
                }
                if let Some(grp) = self.groups.get_mut(g) {
                    bump(&mut grp.stats.esp_out);
                }
                // ESP in UDP through a NAT (RFC 3948 §2.1), else IP protocol 50.
                let proto = match sa.udp_encap {
                    Some(dst_port) => Proto::Udp {
                        src_port: NAT_T_PORT,
                        dst_port,
                    },
                    None => Proto::ESP,
                };
                let r = self.push_transmit(Transmit {
                    src,
                    dst: nbma,
                    proto,
                    payload: buf,
                });
                if r.is_ok()
                    && let (Some(tap), Some(gre)) = (self.tap.as_mut(), tapped)
                {
                    tap.push_back(gre);
                }
                r
            }
            Err(e) => {
                if let Some(grp) = self.groups.get_mut(g) {
                    bump(&mut grp.stats.encrypt_errors);
                }
                self.recycle(buf);
                Err(Error::Esp(e))
            }
        }
    }

    /// A packet laid out for another SA (or none: it waited in the queue) moved into the
    /// layout of `sa`: the right headroom, and the inner IP header in tunnel mode only.
    fn relayout(
        &mut self,
        p: Sealable,
        sa: SaPath,
        src: IpAddr,
        nbma: IpAddr,
    ) -> Result<Sealable, Error> {
        let layout = sa.layout;
        let want_inner = layout.tunnel;
        if p.start == layout.head && (p.inner > 0) == want_inner {
            return Ok(Sealable { sa: Some(sa), ..p });
        }
        let gre = p.buf.get(p.start + p.inner..).unwrap_or_default();
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.resize(layout.head, 0);
        let mut inner = 0;
        if want_inner {
            let opts = dmvpn_wire::ip::HeaderOptions::default();
            let ip = dmvpn_wire::ip::Repr::new(
                src,
                nbma,
                dmvpn_wire::IpProtocol::GRE,
                gre.len(),
                &opts,
                0,
            )
            .map_err(Error::MalformedOverlay)?;
            inner = ip.header_len();
            buf.resize(layout.head + inner, 0);
            if let Some(h) = buf.get_mut(layout.head..) {
                let _ = ip.emit(h);
            }
        }
        buf.reserve(gre.len() + layout.tail);
        buf.extend_from_slice(gre);
        self.recycle(p.buf);
        Ok(Sealable {
            buf,
            start: layout.head,
            inner,
            sa: Some(sa),
        })
    }

    /// Queues a transmit (counted and dropped when the queue is full).
    pub(in crate::node) fn push_transmit(&mut self, t: Transmit) -> Result<(), Error> {
        if self.transmits.len() >= self.limits.max_transmits {
            bump(&mut self.stats.transmits_dropped);
            self.recycle(t.payload);
            return Err(Error::QueueFull(self.limits.max_transmits));
        }
        self.transmits.push_back(t);
        Ok(())
    }
}
