//! The operator's commands on a running node: routes from the caller's routing protocol,
//! `clear ip nhrp`, `clear crypto session`, and the orderly shutdown.

use super::*;

impl Node {
    /// Adds (or replaces) a route from the caller's routing protocol: `prefix` via the overlay
    /// next hop `via`, on the tunnel interface whose subnet holds `via`. On a hub interface the
    /// route also tells NHRP where networks behind spokes are (phase 3 resolutions).
    pub fn add_route(&mut self, prefix: IpNet, via: IpAddr) -> Result<(), Error> {
        let tunnel = self
            .ifaces
            .iter()
            .position(|f| f.cfg.address.contains(&via))
            .ok_or(Error::NoTunnelFor(via))?;
        let prefix = prefix.trunc();
        let hop = NextHop { via, tunnel };
        if let Some(old) = self.routes.insert(prefix, RouteSource::Routed, hop)
            && old.tunnel != tunnel
            && let Some(s) = self
                .ifaces
                .get_mut(old.tunnel)
                .and_then(|f| f.server.as_mut())
        {
            s.remove_route(prefix_of(prefix));
        }
        if let Some(s) = self.ifaces.get_mut(tunnel).and_then(|f| f.server.as_mut()) {
            s.add_route(Route {
                prefix: prefix_of(prefix),
                next_hop: via,
            });
        }
        Ok(())
    }

    /// Removes the caller's route for exactly `prefix`; returns whether there was one.
    pub fn remove_route(&mut self, prefix: IpNet) -> bool {
        let prefix = prefix.trunc();
        match self.routes.remove(prefix, RouteSource::Routed) {
            Some(hop) => {
                if let Some(s) = self
                    .ifaces
                    .get_mut(hop.tunnel)
                    .and_then(|f| f.server.as_mut())
                {
                    s.remove_route(prefix_of(prefix));
                }
                true
            }
            None => false,
        }
    }

    /// `clear ip nhrp ADDRESS`: removes the mapping (or registration) covering `addr` on every
    /// interface and purges it at the peer (RFC 2332 §5.2.5). Returns whether one was removed.
    pub fn clear_nhrp(&mut self, now: Instant, addr: IpAddr) -> bool {
        let now = self.clock(now);
        let mut any = false;
        for i in 0..self.ifaces.len() {
            if let Some(f) = self.ifaces.get_mut(i) {
                if let Some(c) = f.client.as_mut() {
                    any |= c.purge(now, addr);
                }
                if let Some(s) = f.server.as_mut() {
                    any |= s.purge(now, addr);
                }
            }
            self.drain_iface(now, i);
        }
        any
    }

    /// `clear crypto session [peer ADDR]`: closes the IKE SA (and with it the ESP SAs) with
    /// `peer`, or with every peer (IKE Deletes go out). A peer this node keeps an SA up for
    /// (a hub, a resolved spoke) is negotiated again at once, as IOS does with the next
    /// packet; a peer that keeps the SA up (a spoke registered here) loses its registrations
    /// and comes back by itself. Returns how many IKE SAs were closed.
    pub fn clear_crypto_session(&mut self, now: Instant, peer: Option<IpAddr>) -> usize {
        let now = self.clock(now);
        self.crypto_clear(now, peer)
    }

    /// Graceful shutdown: every spoke interface purges its registrations from its NHSs and
    /// stops registering; then every IKE SA is deleted (the purges went out first, in ESP).
    pub fn shutdown(&mut self, now: Instant) {
        let now = self.clock(now);
        for i in 0..self.ifaces.len() {
            if let Some(c) = self.ifaces.get_mut(i).and_then(|f| f.client.as_mut()) {
                c.shutdown(now);
            }
            self.drain_iface(now, i);
        }
        self.crypto_close_all(now);
    }
}
