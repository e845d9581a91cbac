//! Between the family's [`Transmit`] and the network's [`Datagram`]: the headers a machine leaves
//! to its caller (UDP, or GRE in front of NHRP) are added on the way out and checked and removed
//! on the way in.

use std::net::{IpAddr, SocketAddr};

use dmvpn_gre::wire::gre;
use dmvpn_wire::{IpProtocol, Proto, Transmit, udp};

use crate::Datagram;

/// A transmit that cannot be put on the wire, or a datagram whose UDP or GRE header is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdaptError {
    /// The UDP header could not be built (addresses of different families, payload too long)
    /// or a received one is malformed or fails its checksum.
    #[error("UDP: {0}")]
    Udp(dmvpn_wire::Error),
    /// The GRE header could not be built, or a received one is malformed or fails its checksum.
    #[error("GRE: {0}")]
    Gre(dmvpn_gre::Error),
}

/// Which headers [`Datagram::inbound`] removes, so that a machine is handed received datagrams
/// in the same terms as the transmits it produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Decap {
    /// UDP datagrams arrive as [`Proto::Udp`] payloads (checksum verified, header removed);
    /// everything else as [`Proto::Ip`], as it came. For IKE endpoints and for machines that
    /// parse GRE themselves (the DMVPN node).
    #[default]
    Udp,
    /// As [`Decap::Udp`], and GRE packets arrive as [`Proto::InGre`] of their protocol type
    /// (header validated and removed, key in [`Inbound::gre_key`]). For NHRP's machines.
    UdpAndGre,
}

/// A received datagram in a machine's terms: the headers its [`Proto`] says are missing are
/// gone, and `payload` borrows the rest from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inbound<'a> {
    /// Source address (as rewritten by any NAT box on the way).
    pub src: IpAddr,
    /// Destination address (the receiving host's).
    pub dst: IpAddr,
    /// What the payload is: [`Proto::Udp`] with the ports from the removed header,
    /// [`Proto::InGre`] with the protocol type from the removed GRE header, or [`Proto::Ip`].
    pub proto: Proto,
    /// The GRE key of a removed GRE header, if it carried one.
    pub gre_key: Option<u32>,
    /// The bytes after the removed headers.
    pub payload: &'a [u8],
}

impl Inbound<'_> {
    /// The sender as a socket address (port 0 unless UDP): the `remote` of a UDP machine.
    pub fn remote(&self) -> SocketAddr {
        match self.proto {
            Proto::Udp { src_port, .. } => SocketAddr::new(self.src, src_port),
            _ => SocketAddr::new(self.src, 0),
        }
    }

    /// The receiver as a socket address (port 0 unless UDP): the `local` of a UDP machine.
    pub fn local(&self) -> SocketAddr {
        match self.proto {
            Proto::Udp { dst_port, .. } => SocketAddr::new(self.dst, dst_port),
            _ => SocketAddr::new(self.dst, 0),
        }
    }

    /// An owned copy in [`Transmit`] shape (the GRE key, if any, is not kept).
    pub fn to_transmit(&self) -> Transmit {
        Transmit {
            src: self.src,
            dst: self.dst,
            proto: self.proto,
            payload: self.payload.to_vec(),
        }
    }
}

impl Datagram {
    /// The datagram that carries `t`: a [`Proto::Udp`] payload behind a UDP header with its
    /// checksum for `t.src` and `t.dst`, a [`Proto::InGre`] payload behind a GRE header of that
    /// protocol type (with `gre_key`, if given, and no checksum or sequence number), a
    /// [`Proto::Ip`] payload as it is. `gre_key` is ignored for the other two.
    pub fn from_transmit(t: Transmit, gre_key: Option<u32>) -> Result<Datagram, AdaptError> {
        let payload = match t.proto {
            Proto::Ip(_) => t.payload,
            Proto::Udp { src_port, dst_port } => {
                udp::datagram(t.src, t.dst, src_port, dst_port, &t.payload)
                    .map_err(AdaptError::Udp)?
            }
            Proto::InGre(protocol) => {
                let repr = gre::Repr {
                    key: gre_key,
                    ..gre::Repr::new(gre::Protocol(protocol), t.payload.len())
                };
                let head = repr.header_len();
                let mut buf = vec![0u8; repr.buffer_len()];
                if let Some(body) = buf.get_mut(head..) {
                    body.copy_from_slice(&t.payload);
                }
                gre::encapsulate(&repr, &mut buf, head).map_err(AdaptError::Gre)?;
                buf
            }
        };
        Ok(Datagram {
            src: t.src,
            dst: t.dst,
            protocol: t.proto.ip_protocol().0,
            payload,
        })
    }

    /// This datagram in a receiving machine's terms (see [`Decap`]): a UDP header is verified
    /// (length, and checksum unless zero over IPv4) and removed; with [`Decap::UdpAndGre`] a GRE
    /// header is validated (version, reserved bits, checksum when present) and removed too.
    pub fn inbound(&self, decap: Decap) -> Result<Inbound<'_>, AdaptError> {
        let (proto, gre_key, payload) = match IpProtocol(self.protocol) {
            IpProtocol::UDP => {
                let packet =
                    udp::Packet::new_checked(&self.payload[..]).map_err(AdaptError::Udp)?;
                let repr =
                    udp::Repr::parse(&packet, self.src, self.dst).map_err(AdaptError::Udp)?;
                let proto = Proto::Udp {
                    src_port: repr.src_port,
                    dst_port: repr.dst_port,
                };
                (proto, None, packet.into_payload())
            }
            IpProtocol::GRE if decap == Decap::UdpAndGre => {
                let (repr, payload) = gre::decapsulate(&self.payload).map_err(AdaptError::Gre)?;
                (Proto::InGre(repr.protocol.0), repr.key, payload)
            }
            p => (Proto::Ip(p), None, &self.payload[..]),
        };
        Ok(Inbound {
            src: self.src,
            dst: self.dst,
            proto,
            gre_key,
            payload,
        })
    }
}

impl TryFrom<Transmit> for Datagram {
    type Error = AdaptError;

    /// [`Datagram::from_transmit`] without a GRE key.
    fn try_from(t: Transmit) -> Result<Datagram, AdaptError> {
        Datagram::from_transmit(t, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn t(src: &str, dst: &str, proto: Proto, payload: &[u8]) -> Transmit {
        Transmit {
            src: ip(src),
            dst: ip(dst),
            proto,
            payload: payload.to_vec(),
        }
    }

    const IKE: Proto = Proto::Udp {
        src_port: 500,
        dst_port: 4500,
    };

    #[test]
    fn udp_gets_a_header_whose_checksum_verifies() {
        for (a, b) in [
            ("192.0.2.1", "198.51.100.2"),
            ("2001:db8::1", "2001:db8::2"),
        ] {
            let d = Datagram::from_transmit(t(a, b, IKE, b"ike message"), Some(7)).unwrap();
            assert_eq!(d.protocol, 17);
            assert_eq!((d.src, d.dst), (ip(a), ip(b)));
            assert_eq!(d.payload.len(), 8 + 11);
            assert_eq!(&d.payload[..6], &[0x01, 0xf4, 0x11, 0x94, 0, 19]);
            assert_ne!(d.payload[6..8], [0, 0], "a checksum is sent");
            // The whole datagram plus pseudo-header sums to zero: the checksum is right.
            let sum = dmvpn_wire::checksum::pseudo_header(ip(a), ip(b), 17, 19);
            let sum = dmvpn_wire::checksum::accumulate(sum, &d.payload);
            assert_eq!(dmvpn_wire::checksum::finish(sum), 0);
            let rx = d.inbound(Decap::Udp).unwrap();
            assert_eq!(
                (rx.proto, rx.payload, rx.gre_key),
                (IKE, &b"ike message"[..], None)
            );
            assert_eq!(rx.local(), SocketAddr::new(ip(b), 4500));
            assert_eq!(rx.remote(), SocketAddr::new(ip(a), 500));
        }
    }

    #[test]
    fn udp_with_a_bad_checksum_or_length_is_refused() {
        let mut d =
            Datagram::from_transmit(t("192.0.2.1", "192.0.2.2", IKE, b"abc"), None).unwrap();
        d.payload[9] ^= 0x40;
        assert!(matches!(
            d.inbound(Decap::UdpAndGre),
            Err(AdaptError::Udp(dmvpn_wire::Error::UdpChecksum { .. }))
        ));
        // Addressed to someone else: the pseudo-header no longer matches.
        d.payload[9] ^= 0x40;
        d.dst = ip("192.0.2.3");
        assert!(d.inbound(Decap::Udp).is_err());
        d.payload.truncate(7);
        assert!(matches!(
            d.inbound(Decap::Udp),
            Err(AdaptError::Udp(dmvpn_wire::Error::Truncated { .. }))
        ));
        assert_eq!(
            Datagram::from_transmit(t("192.0.2.1", "2001:db8::1", IKE, b""), None),
            Err(AdaptError::Udp(dmvpn_wire::Error::FamilyMismatch(
                ip("192.0.2.1"),
                ip("2001:db8::1")
            )))
        );
    }

    #[test]
    fn in_gre_gets_a_gre_header_of_its_protocol_type() {
        let nhrp = Proto::InGre(0x2001);
        let d = Datagram::try_from(t("172.16.1.1", "172.17.0.1", nhrp, b"nhrp")).unwrap();
        assert_eq!(d.protocol, 47);
        assert_eq!(d.payload, [0, 0, 0x20, 0x01, b'n', b'h', b'r', b'p']);
        let keyed =
            Datagram::from_transmit(t("172.16.1.1", "172.17.0.1", nhrp, b"nhrp"), Some(100))
                .unwrap();
        assert_eq!(
            keyed.payload,
            [0x20, 0, 0x20, 0x01, 0, 0, 0, 100, b'n', b'h', b'r', b'p']
        );
        for (d, key) in [(&d, None), (&keyed, Some(100))] {
            let rx = d.inbound(Decap::UdpAndGre).unwrap();
            assert_eq!(
                (rx.proto, rx.gre_key, rx.payload),
                (nhrp, key, &b"nhrp"[..])
            );
            // Without GRE decapsulation the machine sees the GRE packet itself.
            let raw = d.inbound(Decap::Udp).unwrap();
            assert_eq!((raw.proto, raw.payload), (Proto::GRE, &d.payload[..]));
        }
        // Version 1 (PPTP) is not GRE as RFC 2784 has it.
        let mut bad = d.clone();
        bad.payload[1] = 1;
        assert!(matches!(
            bad.inbound(Decap::UdpAndGre),
            Err(AdaptError::Gre(_))
        ));
        assert!(bad.inbound(Decap::Udp).is_ok());
    }

    #[test]
    fn ip_payloads_pass_unchanged_and_every_kind_round_trips() {
        for proto in [
            Proto::ESP,
            Proto::GRE,
            IKE,
            Proto::InGre(0x0800),
            Proto::Ip(IpProtocol(253)),
        ] {
            let sent = t("10.0.0.1", "10.0.0.2", proto, b"\x45 payload bytes");
            let d = Datagram::try_from(sent.clone()).unwrap();
            assert_eq!(d.protocol, proto.ip_protocol().0);
            if let Proto::Ip(_) = proto {
                assert_eq!(d.payload, sent.payload);
            }
            let decap = match proto {
                Proto::InGre(_) => Decap::UdpAndGre,
                _ => Decap::Udp,
            };
            let back = d.inbound(decap).unwrap().to_transmit();
            assert_eq!(back, sent, "{proto:?}");
        }
    }
}
