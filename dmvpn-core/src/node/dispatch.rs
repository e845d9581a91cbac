//! Which interface a GRE packet belongs to: by tunnel source and key, and between the two
//! overlays of a dual-stack interface (same source, same key) by the family of what it
//! carries.

use std::net::IpAddr;

use super::{Node, Transmit};

/// Whether a GRE payload of protocol type `protocol` belongs to an IPv6 overlay: IPv6
/// (0x86dd) or IPv4 (0x0800) itself, or an NHRP packet (0x2001) by its `ar$pro.type`; `None`
/// for anything else.
fn overlay_is_v6(protocol: dmvpn_gre::Protocol, payload: &[u8]) -> Option<bool> {
    const IPV4: u16 = 0x0800;
    const IPV6: u16 = 0x86dd;
    let ptype = match protocol {
        dmvpn_gre::Protocol::NHRP => u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]),
        p => p.0,
    };
    match ptype {
        IPV4 => Some(false),
        IPV6 => Some(true),
        _ => None,
    }
}

impl Node {
    /// The tunnel interface a GRE packet between `local` (one of this node's tunnel sources) and
    /// a peer belongs to: the interface with that source whose `tunnel key` the packet carries
    /// and whose overlay is of the packet's family (the two overlays of a dual-stack interface
    /// share source and key), or else the first with that source and key, or else the first
    /// interface with that source (whose GRE then refuses the key mismatch).
    pub(super) fn interface_for(&self, local: IpAddr, gre_packet: &[u8]) -> Option<usize> {
        let gre = dmvpn_gre::wire::gre::Packet::new_checked(gre_packet).ok();
        let key = gre.as_ref().map(|p| p.key());
        let v6 = gre
            .as_ref()
            .and_then(|p| overlay_is_v6(p.protocol(), p.payload()));
        let (mut first, mut keyed) = (None, None);
        for (i, f) in self.ifaces.iter().enumerate() {
            if f.cfg.source != local {
                continue;
            }
            first.get_or_insert(i);
            if key == Some(f.cfg.key) {
                if v6.is_none_or(|v6| f.cfg.address.addr().is_ipv6() == v6) {
                    return Some(i);
                }
                keyed.get_or_insert(i);
            }
        }
        keyed.or(first)
    }

    /// The tunnel interface a transmit of this node's went out of (by its source and GRE key),
    /// for traces and per-interface accounting by the caller.
    pub fn tunnel_of(&self, t: &Transmit) -> Option<usize> {
        if t.proto == dmvpn_wire::Proto::GRE {
            return self.interface_for(t.src, &t.payload);
        }
        // ESP and IKE: the first interface of the crypto group of that source.
        self.groups
            .iter()
            .find(|g| g.source == t.src)
            .and_then(|g| g.ifaces.first().copied())
    }
}

#[cfg(test)]
mod tests {
    use dmvpn_gre::Protocol;

    use super::overlay_is_v6;

    #[test]
    fn the_family_of_a_gre_payload() {
        assert_eq!(overlay_is_v6(Protocol::IPV4, &[0x45]), Some(false));
        assert_eq!(overlay_is_v6(Protocol::IPV6, &[0x60]), Some(true));
        // NHRP: ar$afn (the NBMA family) first, then ar$pro.type, which decides.
        assert_eq!(
            overlay_is_v6(Protocol::NHRP, &[0, 1, 0x86, 0xdd]),
            Some(true)
        );
        assert_eq!(
            overlay_is_v6(Protocol::NHRP, &[0, 2, 0x08, 0x00]),
            Some(false)
        );
        assert_eq!(overlay_is_v6(Protocol::NHRP, &[0, 1, 0x12, 0x34]), None);
        assert_eq!(
            overlay_is_v6(Protocol::NHRP, &[0, 1, 0x86]),
            None,
            "truncated"
        );
        assert_eq!(overlay_is_v6(Protocol(0x6558), &[]), None);
    }
}
