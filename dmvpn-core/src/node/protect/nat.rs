//! Following a peer behind a NAT whose mapping changed (RFC 3948, RFC 7296 §2.23): its NAT box
//! rebound it to another public port, or another public address, as a reboot or a new lease
//! does. The side not behind the NAT learns it from authenticated traffic only (ESP in UDP that
//! passed its integrity check, or an authenticated IKE message), never from keepalives or
//! anything else anyone could send.
//!
//! - Another port: ESP and IKE go to the new port.
//! - Another address: everything that names the peer by its NBMA address moves with it: the
//!   crypto peer (its mappings' references, the IKE SA, the retry), the ESP SAs' policies, the
//!   NHRP mappings of the client and the server of each interface of the group (which keep
//!   their claimed address and take the new one as the post-NAT address), the interface's
//!   mapping and peer tables. The registrations and SAs stay; nothing is renegotiated. A move
//!   onto an address another peer already has is refused (the caller drops the packet, or
//!   closes the IKE SA that moved there).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::super::{Node, bump};

impl Node {
    /// The peer at `old` (ESP in UDP) now sends from `to`: moves it there (see the module
    /// docs). Returns whether the peer is now at `to` (also when it already was).
    pub(super) fn follow_nat(&mut self, g: usize, old: IpAddr, to: SocketAddr) -> bool {
        let new = to.ip();
        let Some(grp) = self.groups.get_mut(g) else {
            return false;
        };
        if old == new {
            let Some(p) = grp.peers.get_mut(&new) else {
                return false;
            };
            if p.udp_encap.is_some_and(|port| port != to.port()) {
                p.udp_encap = Some(to.port());
                bump(&mut grp.stats.nat_moves);
            }
            return p.udp_encap.is_some();
        }
        if !grp.peers.contains_key(&old) {
            // Moved already (ESP came first, then IKE told the same), or never known.
            return grp.peers.get(&new).is_some_and(|p| p.udp_encap.is_some());
        }
        if grp.peers.contains_key(&new) || grp.peers.get(&old).is_none_or(|p| p.udp_encap.is_none())
        {
            return false;
        }
        let retry = grp.peers.get(&old).and_then(|p| p.retry_at);
        grp.set_retry(old, None);
        let Some(mut p) = grp.peers.remove(&old) else {
            return false;
        };
        p.udp_encap = Some(to.port());
        grp.peers.insert(new, p);
        grp.set_retry(new, retry);
        grp.sadb.move_peer(old, new);
        for c in grp.children.values_mut() {
            if c.peer == old {
                c.peer = new;
            }
        }
        bump(&mut grp.stats.nat_moves);
        let ifaces = grp.ifaces.clone();
        for i in ifaces {
            self.rebind_nbma(i, old, new);
        }
        true
    }

    /// Interface `t`'s tables name the peer at `old` by `new` from now on.
    fn rebind_nbma(&mut self, t: usize, old: IpAddr, new: IpAddr) {
        let Some(f) = self.ifaces.get_mut(t) else {
            return;
        };
        if let Some(c) = f.client.as_mut() {
            c.rebind_nbma(old, new);
        }
        if let Some(s) = f.server.as_mut() {
            s.rebind_nbma(old, new);
        }
        f.rebind_nbma(old, new);
    }

    /// Authenticated ESP in UDP of one of `ike`'s child SAs came from `to`: IKE follows too.
    pub(super) fn ike_follows(
        &mut self,
        now: Instant,
        g: usize,
        ike: dmvpn_ikev2::IkeSaId,
        to: SocketAddr,
    ) {
        if let Some(grp) = self.groups.get_mut(g) {
            grp.ep.peer_moved(ike, to);
        }
        self.drain_ike(now, g);
    }
}
