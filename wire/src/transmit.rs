//! [`Transmit`]: the one shape in which every machine of the family hands out what it wants
//! sent on the underlay, and in which the caller hands received datagrams back.

use core::net::{IpAddr, SocketAddr};

use crate::ip::IpProtocol;

/// What a [`Transmit`]'s payload is, and so which header the caller (or the next layer) still
/// has to put in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// An IP payload of this protocol (GRE 47, ESP 50, …): send it on a raw socket of that
    /// protocol; the IP header is all that is missing.
    Ip(IpProtocol),
    /// A UDP payload (IKE on port 500, NAT-T on 4500): send it from `src_port` to `dst_port`;
    /// the UDP and IP headers are missing.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// A payload of GRE protocol type `0` (NHRP is 0x2001): the tunnel adds the GRE header (with
    /// its key) and makes it [`Proto::Ip`]`(GRE)`.
    InGre(u16),
}

impl Proto {
    /// GRE (IP protocol 47).
    pub const GRE: Proto = Proto::Ip(IpProtocol::GRE);
    /// ESP (IP protocol 50).
    pub const ESP: Proto = Proto::Ip(IpProtocol::ESP);

    /// The IP protocol of the datagram this ends up in: UDP for [`Proto::Udp`], GRE for
    /// [`Proto::InGre`].
    pub fn ip_protocol(self) -> IpProtocol {
        match self {
            Proto::Ip(p) => p,
            Proto::Udp { .. } => IpProtocol::UDP,
            Proto::InGre(_) => IpProtocol::GRE,
        }
    }
}

/// A datagram to send (or one received) on the underlay: from `src` to `dst`, of kind `proto`,
/// with the bytes after the headers `proto` says are missing.
///
/// NHRP's machines produce [`Proto::InGre`], IKE's [`Proto::Udp`], the DMVPN node
/// [`Proto::Ip`] (GRE or ESP) or, passing IKE's through unchanged, [`Proto::Udp`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transmit {
    /// Source address (the local underlay address it must leave from).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// What the payload is.
    pub proto: Proto,
    /// The bytes. Buffers can be given back to the machine that made them where it offers a
    /// `recycle`, to spare the next packet an allocation.
    pub payload: Vec<u8>,
}

impl Transmit {
    /// A UDP transmit from `local` to `remote`.
    pub fn udp(local: SocketAddr, remote: SocketAddr, payload: Vec<u8>) -> Transmit {
        Transmit {
            src: local.ip(),
            dst: remote.ip(),
            proto: Proto::Udp {
                src_port: local.port(),
                dst_port: remote.port(),
            },
            payload,
        }
    }

    /// The source as a socket address (port 0 where there are no ports).
    pub fn local(&self) -> SocketAddr {
        match self.proto {
            Proto::Udp { src_port, .. } => SocketAddr::new(self.src, src_port),
            _ => SocketAddr::new(self.src, 0),
        }
    }

    /// The destination as a socket address (port 0 where there are no ports).
    pub fn remote(&self) -> SocketAddr {
        match self.proto {
            Proto::Udp { dst_port, .. } => SocketAddr::new(self.dst, dst_port),
            _ => SocketAddr::new(self.dst, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_round_trips_its_socket_addresses() {
        let l: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let r: SocketAddr = "198.51.100.2:4500".parse().unwrap();
        let t = Transmit::udp(l, r, vec![1]);
        assert_eq!((t.local(), t.remote()), (l, r));
        assert_eq!(t.proto.ip_protocol(), IpProtocol::UDP);
        assert_eq!(Proto::InGre(0x2001).ip_protocol(), IpProtocol::GRE);
        let g = Transmit {
            proto: Proto::GRE,
            ..t
        };
        assert_eq!(g.remote().port(), 0);
        assert_eq!(Proto::ESP.ip_protocol(), IpProtocol::ESP);
    }
}
