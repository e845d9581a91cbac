//! `debug nhrp` and `debug crypto`: while on, one record in the style of IOS's `debug nhrp
//! packet` / `debug crypto ikev2 packet` for every NHRP packet the node sends or receives
//! (after decryption on a protected interface) and every IKE message it sends or receives,
//! for the caller's log ([`Node::poll_debug`]). Off by default. The queue is bounded (the
//! node's event limit): when the caller does not take the records, the newest are dropped and
//! counted, and the next record taken says how many.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use dmvpn_esp::wire::udp_encap::NAT_T_PORT;

use crate::node::Node;

/// What `debug` is on for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DebugFlags {
    /// `debug nhrp`: every NHRP packet sent and received.
    pub nhrp: bool,
    /// `debug crypto`: every IKE message sent and received.
    pub crypto: bool,
}

/// The records not yet taken.
#[derive(Debug, Default)]
pub(crate) struct DebugLog {
    pub(crate) flags: DebugFlags,
    lines: VecDeque<String>,
    dropped: u64,
}

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Send,
    Receive,
}

impl DebugLog {
    fn push(&mut self, limit: usize, line: String) {
        if self.lines.len() >= limit.max(1) {
            self.dropped = self.dropped.saturating_add(1);
        } else {
            self.lines.push_back(line);
        }
    }
}

/// An IP address from an NHRP address field, or its hex when it is none.
fn addr(bytes: &[u8]) -> String {
    match dmvpn_nhrp::wire::Address::from_bytes(bytes).ip() {
        Some(a) => a.to_string(),
        None if bytes.is_empty() => "-".into(),
        None => bytes.iter().fold(String::from("0x"), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }),
    }
}

/// One NHRP packet, `debug nhrp packet` style.
fn nhrp_record(dir: Dir, interface: &str, nbma: IpAddr, bytes: &[u8]) -> String {
    let (verb, way) = match dir {
        Dir::Send => ("Send", "to"),
        Dir::Receive => ("Receive", "from"),
    };
    match dmvpn_nhrp::wire::Packet::new_checked(bytes) {
        Ok(p) => format!(
            "NHRP: {verb} {} via {interface} vrf 0, packet size: {}\n \
             src: {}, dst: {}, reqid: {}, NBMA {way} {nbma}",
            p.packet_type().name().unwrap_or("unknown packet"),
            p.packet_size(),
            addr(p.src_proto_addr()),
            addr(p.dst_proto_addr()),
            p.request_id(),
        ),
        Err(e) => format!(
            "NHRP: {verb} malformed packet via {interface} vrf 0, {} bytes, NBMA {way} {nbma}: {e}",
            bytes.len()
        ),
    }
}

/// One IKE message, `debug crypto ikev2 packet` style. `datagram` is the UDP payload (on
/// port 4500 after the non-ESP marker, which is skipped here).
fn ike_record(dir: Dir, local: SocketAddr, remote: SocketAddr, datagram: &[u8]) -> String {
    let msg = if local.port() == NAT_T_PORT || remote.port() == NAT_T_PORT {
        match datagram {
            [0, 0, 0, 0, rest @ ..] => rest,
            // A NAT keepalive (RFC 3948 §2.3).
            [0xff] => return format!("IKEv2:NAT keepalive {} {remote}", way(dir)),
            other => other,
        }
    } else {
        datagram
    };
    let (verb, path) = match dir {
        Dir::Send => ("Sending", format!("To {remote}/From {local}")),
        Dir::Receive => ("Received", format!("From {remote}/To {local}")),
    };
    // IKEv1 (ISAKMP version 1.0, the version byte's high nibble): `debug crypto isakmp` style.
    if msg.get(17).is_some_and(|v| v >> 4 == 1) {
        return match dmvpn_ikev1::wire::Header::new_checked(msg)
            .and_then(|h| dmvpn_ikev1::wire::HeaderRepr::parse(&h))
        {
            Ok(h) => format!(
                "ISAKMP:{verb} Packet [{path}]\n\
                 Initiator cookie : {:016X} - Responder cookie : {:016X} Message id: {}\n\
                 ISAKMP {} Exchange{}",
                h.cookie_i,
                h.cookie_r,
                h.message_id,
                h.exchange_type.name().unwrap_or("unknown"),
                if h.flags.encryption() {
                    ", encrypted"
                } else {
                    ""
                },
            ),
            Err(e) => format!(
                "ISAKMP:{verb} Packet [{path}]: not ISAKMP ({} bytes: {e})",
                msg.len()
            ),
        };
    }
    match dmvpn_ikev2::wire::Header::new_checked(msg) {
        Ok(h) => format!(
            "IKEv2:{verb} Packet [{path}/VRF i0:f0]\n\
             Initiator SPI : {:016X} - Responder SPI : {:016X} Message id: {}\n\
             IKEv2 {} Exchange {}",
            h.spi_i(),
            h.spi_r(),
            h.message_id(),
            h.exchange_type().name().unwrap_or("unknown"),
            if h.flags().response() {
                "RESPONSE"
            } else {
                "REQUEST"
            },
        ),
        Err(e) => format!(
            "IKEv2:{verb} Packet [{path}/VRF i0:f0]: not IKE ({} bytes: {e})",
            msg.len()
        ),
    }
}

fn way(dir: Dir) -> &'static str {
    match dir {
        Dir::Send => "to",
        Dir::Receive => "from",
    }
}

impl Node {
    /// Turns `debug nhrp` / `debug crypto` on or off (see [`Node::poll_debug`]). Records not
    /// yet taken stay.
    pub fn set_debug(&mut self, flags: DebugFlags) {
        self.debug.flags = flags;
    }

    /// What `debug` is on for.
    pub fn debug_flags(&self) -> DebugFlags {
        self.debug.flags
    }

    /// The oldest debug record not yet taken: an NHRP packet or an IKE message, in IOS's
    /// `debug` style (several lines, joined by `\n`). Before it, when records were dropped
    /// because none were taken, one saying how many.
    pub fn poll_debug(&mut self) -> Option<String> {
        if self.debug.dropped > 0 {
            let n = std::mem::take(&mut self.debug.dropped);
            return Some(format!(
                "%DEBUG: {n} debug records dropped (not taken in time)"
            ));
        }
        self.debug.lines.pop_front()
    }

    /// Records an NHRP packet of interface `t` to or from NBMA address `nbma`.
    pub(crate) fn debug_nhrp(&mut self, dir: Dir, t: usize, nbma: IpAddr, bytes: &[u8]) {
        if !self.debug.flags.nhrp {
            return;
        }
        let name = self.ifaces.get(t).map_or("?", |f| f.cfg.name.as_str());
        let line = nhrp_record(dir, name, nbma, bytes);
        self.debug.push(self.limits.max_events, line);
    }

    /// Records an IKE datagram between `local` and `remote`.
    pub(crate) fn debug_ike(
        &mut self,
        dir: Dir,
        local: SocketAddr,
        remote: SocketAddr,
        datagram: &[u8],
    ) {
        if !self.debug.flags.crypto {
            return;
        }
        let line = ike_record(dir, local, remote, datagram);
        self.debug.push(self.limits.max_events, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_say_what_and_which_way() {
        let a: SocketAddr = "172.16.1.1:500".parse().unwrap_or_else(|_| unreachable!());
        let b: SocketAddr = "172.17.0.1:500".parse().unwrap_or_else(|_| unreachable!());
        let mut hdr = [0u8; 28];
        hdr[..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        hdr[16] = 33; // SA
        hdr[17] = 0x20;
        hdr[18] = 34; // IKE_SA_INIT
        hdr[19] = 0x08; // Initiator
        hdr[24..28].copy_from_slice(&28u32.to_be_bytes());
        let r = ike_record(Dir::Send, a, b, &hdr);
        assert!(r.starts_with("IKEv2:Sending Packet [To 172.17.0.1:500/From 172.16.1.1:500"));
        assert!(r.contains("Initiator SPI : 1122334455667788 - Responder SPI : 0000000000000000"));
        assert!(r.ends_with("IKEv2 IKE_SA_INIT Exchange REQUEST"), "{r}");
        // IKEv1: Main Mode message 1 (version 1.0, exchange 2).
        hdr[16] = 1; // SA
        hdr[17] = 0x10;
        hdr[18] = 2;
        hdr[19] = 0;
        let r = ike_record(Dir::Receive, a, b, &hdr);
        assert!(
            r.starts_with("ISAKMP:Received Packet [From 172.17.0.1:500/To 172.16.1.1:500]"),
            "{r}"
        );
        assert!(
            r.contains("Initiator cookie : 1122334455667788 - Responder cookie : 0000000000000000"),
            "{r}"
        );
        assert!(
            r.ends_with("ISAKMP Identity Protection (Main Mode) Exchange"),
            "{r}"
        );
        // Garbage says so, without panicking.
        let r = ike_record(Dir::Receive, a, b, &[1, 2, 3]);
        assert!(r.contains("not IKE (3 bytes"), "{r}");
        let r = nhrp_record(Dir::Receive, "Tunnel0", a.ip(), &[0xff; 7]);
        assert!(
            r.starts_with("NHRP: Receive malformed packet via Tunnel0"),
            "{r}"
        );
    }

    #[test]
    fn a_full_queue_drops_the_newest_and_says_how_many() {
        let mut log = DebugLog::default();
        for i in 0..5 {
            log.push(3, format!("{i}"));
        }
        assert_eq!(log.lines.len(), 3);
        assert_eq!(log.dropped, 2);
    }
}
