//! The overlay MTU: what fits into a tunnel towards one peer, what happens to a packet that
//! does not, the ICMP errors that say so and their rate limit, and `ip tcp adjust-mss` on the
//! way in.
//!
//! Rules (RFC 791, RFC 1191, RFC 4443 §3.2, RFC 1812 §4.3.2.7 and §5.2.6; seed 002's `ip mtu
//! 1400` "ensures longer packets are fragmented before they are encrypted"):
//!
//! - The effective MTU towards a peer is `ip mtu`, or less when the underlay cannot carry that
//!   much: the underlay MTU minus the outer IP header (20, or 40 over IPv6), the GRE header
//!   as the interface emits it (4, +4 with `tunnel key`, +4 with a checksum or sequence
//!   number) and, on a protected interface, what the peer's current outbound SA adds
//!   (`protect::Egress::crypto_overhead`). It never goes below the overlay family's minimum (68 for
//!   IPv4, RFC 791; 1280 for IPv6, RFC 8200 §5: what does not fit then is left to the
//!   underlay to fragment, a tunnel may not refuse 1280). On a protected interface without an
//!   SA to the peer it is unknown and not enforced: nothing goes to that peer anyway.
//! - Every IPv4/IPv6 packet the node sends into a tunnel (from the TUN, forwarded by a hub from
//!   one spoke to another, multicast copies) is held to it. IPv4 without Don't Fragment is
//!   fragmented (RFC 791, [`dmvpn_wire::fragment`]) and each fragment goes through the GRE (and
//!   ESP) path on its own: the receiver's host reassembles, not the far router. IPv4 with DF
//!   and all IPv6 (routers never fragment it) are dropped and counted
//!   ([`NodeStats::too_big`](crate::NodeStats::too_big)), and answered with ICMP
//!   "fragmentation needed and DF set" (type 3 code 4 with the next-hop MTU, RFC 1191 §4) or
//!   ICMPv6 "packet too big" (type 2 with the MTU, RFC 4443 §3.2), built by
//!   [`dmvpn_wire::icmp::error`] (which never answers an ICMP error, a later fragment or a
//!   non-unicast source).
//! - The error comes from the overlay address of the interface it leaves by (RFC 1812
//!   §4.3.2.4), and goes where the packet came from: to the overlay (a [`Deliver`]) for a
//!   packet from the caller's LAN side, back into the tunnel to the peer that sent it for a
//!   packet the hub was forwarding.
//! - ICMP errors are rate-limited by one token bucket per node
//!   ([`Limits::icmp_error_interval`](crate::Limits::icmp_error_interval)); suppressed ones
//!   are counted.
//! - `ip tcp adjust-mss` lowers the MSS of TCP SYNs going into the tunnel (here, on the copy
//!   `emit` makes anyway) and coming out of it (`Node::deliver_clamped`, in the delivery's
//!   buffer). A forwarded packet is clamped by the interface it leaves by.
//!
//! [`Deliver`]: super::Deliver

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dmvpn_gre::Protocol;
use dmvpn_wire::fragment::{self, Fragmenter};
use dmvpn_wire::icmp::{self, ErrorKind};
use dmvpn_wire::{ipv4, ipv6};

use super::protect::Egress;
use super::{Node, bump};
use crate::error::Error;

/// The smallest MTU an IPv6 link may have (RFC 8200 §5).
const IPV6_MIN_MTU: usize = 1280;

/// Where a packet the node sends into a tunnel came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// The caller's side (the TUN): the node is its first router. No TTL decrement.
    Lan,
    /// Out of tunnel `t` from NBMA peer `from`: a hub forwarding it (TTL decremented).
    Tunnel {
        /// The tunnel it came out of.
        t: usize,
        /// The peer that sent it.
        from: IpAddr,
    },
}

/// A token bucket on the virtual clock: `burst` tokens, one more per interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenBucket {
    tokens: u32,
    /// When the tokens were last counted up (`None` before the first use).
    since: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(burst: u32) -> TokenBucket {
        TokenBucket {
            tokens: burst,
            since: None,
        }
    }

    /// Takes a token at `now` if there is one.
    fn take(&mut self, now: Instant, interval: Duration, burst: u32) -> bool {
        let since = *self.since.get_or_insert(now);
        if interval.is_zero() {
            self.tokens = burst;
        } else {
            let elapsed = now.saturating_duration_since(since);
            let earned = elapsed.as_nanos() / interval.as_nanos();
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(burst);
            // Keep the fraction of an interval already elapsed, unless the bucket is full.
            self.since = Some(if self.tokens >= burst {
                now
            } else {
                interval
                    .checked_mul(earned)
                    .and_then(|d| since.checked_add(d))
                    .unwrap_or(now)
            });
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// Whether forwarding would find the TTL (hop limit) of `packet` run out.
fn ttl_runs_out(packet: &[u8]) -> bool {
    let at = match dmvpn_wire::ip::version(packet) {
        Some(4) => 8,
        Some(6) => 7,
        _ => return true,
    };
    packet.get(at).is_none_or(|ttl| *ttl <= 1)
}

impl Node {
    /// The encapsulation overhead towards `nbma` on tunnel `t` (outer IP, GRE, and on a
    /// protected interface ESP: see the [module docs](self)), and what is left of the underlay
    /// MTU for the inner packet, capped at `ip mtu`. `None` for an unknown tunnel, or a
    /// protected one without an SA to `nbma`.
    fn mtu_and_overhead(&self, t: usize, nbma: IpAddr, egress: Egress) -> Option<(usize, usize)> {
        let f = self.ifaces.get(t)?;
        let outer = if f.cfg.source.is_ipv6() {
            ipv6::HEADER_LEN
        } else {
            ipv4::MIN_HEADER_LEN
        };
        let crypto = egress.crypto_overhead(nbma)?;
        let overhead = outer + f.gre.gre_overhead() + crypto;
        let room = usize::from(f.cfg.underlay_mtu).saturating_sub(overhead);
        Some((room.min(usize::from(f.cfg.mtu)), overhead))
    }

    /// The effective MTU for a packet of family `v6` towards `nbma` on tunnel `t` (with the
    /// family's floor, see the [module docs](self)).
    fn effective_mtu(&self, t: usize, nbma: IpAddr, egress: Egress, v6: bool) -> Option<usize> {
        let (mtu, _) = self.mtu_and_overhead(t, nbma, egress)?;
        let floor = if v6 { IPV6_MIN_MTU } else { fragment::MIN_MTU };
        Some(mtu.max(floor))
    }

    /// The effective MTU of tunnel interface `tunnel` towards NBMA peer `nbma`, for packets of
    /// the interface's overlay family: `ip mtu`, or less when [`TunnelConfig::underlay_mtu`]
    /// cannot carry that much after the outer IP, GRE and (protected) ESP headers; never below
    /// 68 (IPv4) or 1280 (IPv6). `None` for an unknown interface, or a protected one without an
    /// IPsec SA to the peer (the overhead depends on the SA's algorithms).
    ///
    /// [`TunnelConfig::underlay_mtu`]: crate::config::TunnelConfig::underlay_mtu
    pub fn tunnel_mtu(&self, tunnel: usize, nbma: IpAddr) -> Option<u16> {
        let v6 = self.ifaces.get(tunnel)?.cfg.address.addr().is_ipv6();
        let mtu = self.effective_mtu(tunnel, nbma, self.egress(tunnel, nbma), v6)?;
        Some(u16::try_from(mtu).unwrap_or(u16::MAX))
    }

    /// The bytes the encapsulation adds to a packet for `nbma` on tunnel interface `tunnel`
    /// (outer IP header, GRE, ESP), if known (see [`Node::tunnel_mtu`]).
    pub fn tunnel_overhead(&self, tunnel: usize, nbma: IpAddr) -> Option<u16> {
        let (_, overhead) = self.mtu_and_overhead(tunnel, nbma, self.egress(tunnel, nbma))?;
        Some(u16::try_from(overhead).unwrap_or(u16::MAX))
    }

    /// Sends the IP packet `packet` (GRE protocol type `protocol`) into tunnel `t` to `nbma`,
    /// held to the effective MTU: as it is when it fits, in fragments (IPv4 without DF), or
    /// not at all, answered with an ICMP error ([`Error::PacketTooBig`]). A forwarded packet
    /// (`origin` a tunnel) has its TTL decremented. `egress` is how packets leave for `nbma`
    /// ([`Node::egress`], looked up by the caller).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_ip(
        &mut self,
        now: Instant,
        t: usize,
        nbma: IpAddr,
        egress: Egress,
        protocol: Protocol,
        packet: &[u8],
        origin: Origin,
    ) -> Result<(), Error> {
        let decrement = matches!(origin, Origin::Tunnel { .. });
        let v6 = dmvpn_wire::ip::version(packet) == Some(6);
        let Some(mtu) = self.effective_mtu(t, nbma, egress, v6) else {
            // No SA yet on a protected interface: `seal` drops it (never in clear).
            return self.emit(t, nbma, egress, protocol, packet, decrement);
        };
        // A packet whose TTL runs out is dropped for that first (`emit` counts it).
        if packet.len() <= mtu || (decrement && ttl_runs_out(packet)) {
            return self.emit(t, nbma, egress, protocol, packet, decrement);
        }
        if !v6 {
            match Fragmenter::new(packet, mtu) {
                Ok(f) => return self.send_fragments(t, nbma, f, decrement),
                Err(dmvpn_wire::Error::DontFragment) => {}
                // A fragment claiming to lie beyond the largest datagram: malformed.
                Err(e) => {
                    match origin {
                        Origin::Lan => bump(&mut self.stats.overlay_malformed),
                        Origin::Tunnel { .. } => bump(&mut self.stats.tunnelled_malformed),
                    }
                    return Err(Error::MalformedOverlay(e));
                }
            }
        }
        bump(&mut self.stats.too_big);
        let mtu = u16::try_from(mtu).unwrap_or(u16::MAX);
        self.too_big(now, t, packet, mtu, origin);
        let dst = dmvpn_wire::ip::destination(packet).unwrap_or(nbma);
        Err(Error::PacketTooBig { dst, mtu })
    }

    /// Each fragment of `f` through the GRE (and ESP) path, built in one reused buffer.
    fn send_fragments(
        &mut self,
        t: usize,
        nbma: IpAddr,
        mut f: Fragmenter<'_>,
        decrement: bool,
    ) -> Result<(), Error> {
        let mut buf = self.buffer();
        let mut result = Ok(());
        while f.next_into(&mut buf) {
            bump(&mut self.stats.fragments);
            // Looked up per fragment: sealing one may retire an SA (its hard byte limit).
            let egress = self.egress(t, nbma);
            if let Err(e) = self.emit(t, nbma, egress, Protocol::IPV4, &buf, decrement) {
                result = Err(e);
                break;
            }
        }
        self.recycle(buf);
        result
    }

    /// The ICMP error about `original`, too big for tunnel `t` whose effective MTU is `mtu`,
    /// rate permitting: delivered to the overlay (`origin` the LAN side), or sent back into
    /// the tunnel it came out of to the peer that sent it.
    fn too_big(&mut self, now: Instant, t: usize, original: &[u8], mtu: u16, origin: Origin) {
        if icmp::must_not_answer(original) {
            return;
        }
        let via = match origin {
            Origin::Lan => t,
            Origin::Tunnel { t: from_t, .. } => from_t,
        };
        let Some(from) = self.icmp_source(via, original) else {
            return;
        };
        let (interval, burst) = (
            self.limits.icmp_error_interval,
            self.limits.icmp_error_burst,
        );
        if !self.icmp_bucket.take(now, interval, burst) {
            bump(&mut self.stats.icmp_rate_limited);
            return;
        }
        let mut buf = self.buffer();
        let kind = ErrorKind::PacketTooBig { mtu: mtu.into() };
        if !icmp::error_into(kind, from, original, &mut buf) {
            self.recycle(buf);
            return;
        }
        let sent = match origin {
            Origin::Lan => self.deliver_buffer(t, buf),
            Origin::Tunnel {
                t: back,
                from: peer,
            } => {
                let protocol = if from.is_ipv6() {
                    Protocol::IPV6
                } else {
                    Protocol::IPV4
                };
                // Not forwarded: the node is its source (no TTL decrement). An error is never
                // answered with another, so this ends here whatever its size.
                let egress = self.egress(back, peer);
                let r = self.send_ip(now, back, peer, egress, protocol, &buf, Origin::Lan);
                self.recycle(buf);
                r
            }
        };
        if sent.is_ok() {
            bump(&mut self.stats.icmp_sent);
        }
    }

    /// The source of an ICMP error about `original` leaving by tunnel `t`: that interface's
    /// overlay address, or, if it is of the other family, the first interface's of the
    /// packet's family.
    fn icmp_source(&self, t: usize, original: &[u8]) -> Option<IpAddr> {
        let v6 = dmvpn_wire::ip::version(original) == Some(6);
        let own = |i: &super::Iface| Some(i.own()).filter(|a| a.is_ipv6() == v6);
        self.ifaces
            .get(t)
            .and_then(own)
            .or_else(|| self.ifaces.iter().find_map(own))
    }

    /// `ip tcp adjust-mss` of tunnel `t`, if on.
    pub(super) fn adjust_mss(&self, t: usize) -> Option<u16> {
        self.ifaces.get(t).and_then(|f| f.cfg.adjust_mss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_gives_a_burst_then_one_per_interval() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = TokenBucket::new(2);
        let i = ms(500);
        assert!(b.take(t0, i, 2));
        assert!(b.take(t0, i, 2));
        assert!(!b.take(t0 + ms(499), i, 2));
        assert!(b.take(t0 + ms(500), i, 2));
        assert!(!b.take(t0 + ms(900), i, 2));
        // The 400 ms since the last token count toward the next.
        assert!(b.take(t0 + ms(1000), i, 2));
        // A long pause refills to the burst, not beyond.
        for _ in 0..2 {
            assert!(b.take(t0 + ms(60_000), i, 2));
        }
        assert!(!b.take(t0 + ms(60_000), i, 2));
        // A clock that goes back earns nothing.
        assert!(!b.take(t0, i, 2));
        let mut none = TokenBucket::new(0);
        assert!(!none.take(t0, i, 0));
        assert!(!none.take(t0 + ms(10_000), i, 0));
    }

    #[test]
    fn ttl_check() {
        assert!(ttl_runs_out(&[0x45, 0, 0, 20, 0, 0, 0, 0, 1]));
        assert!(!ttl_runs_out(&[0x45, 0, 0, 20, 0, 0, 0, 0, 2]));
        assert!(ttl_runs_out(&[0x60, 0, 0, 0, 0, 0, 58, 0]));
        assert!(!ttl_runs_out(&[0x60, 0, 0, 0, 0, 0, 58, 64]));
        assert!(ttl_runs_out(&[]));
    }
}
