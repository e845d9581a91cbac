//! The UDP header (RFC 768), with the checksum over the IPv4/IPv6 pseudo-header.
//!
//! IKE (UDP 500), NAT-T (UDP 4500, RFC 3948) and their keepalives ride in it.

use core::net::IpAddr;

use crate::ip::IpProtocol;
use crate::{Error, be, checksum};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A read/write view of a UDP datagram (header and payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validating it (accessors still never panic).
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that it holds the header and that the length field is at
    /// least the header and at most the buffer (a longer buffer is link-layer padding).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        let got = p.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got,
            });
        }
        let len = usize::from(p.len());
        if len < HEADER_LEN || len > got {
            return Err(Error::UdpLength(p.len()));
        }
        Ok(p)
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 0)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 2)
    }

    /// The length field (header and payload).
    pub fn len(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 4)
    }

    /// Whether the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// The checksum field (zero: none, allowed over IPv4 only).
    pub fn checksum(&self) -> u16 {
        be::u16(self.buffer.as_ref(), 6)
    }

    /// The checksum the datagram should carry between `src` and `dst` (computed with the field
    /// taken as zero; a result of zero is sent as `0xffff`, RFC 768).
    pub fn compute_checksum(&self, src: IpAddr, dst: IpAddr) -> u16 {
        let buf = self.buffer.as_ref();
        let end = usize::from(self.len()).min(buf.len());
        let data = buf.get(..end).unwrap_or(&[]);
        let sum = checksum::pseudo_header(src, dst, IpProtocol::UDP.0, end as u32);
        let sum = checksum::accumulate(sum, data.get(..6).unwrap_or(&[]));
        let c = checksum::finish(checksum::accumulate(sum, data.get(8..).unwrap_or(&[])));
        if c == 0 { 0xffff } else { c }
    }

    /// The payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.len());
        self.buffer.as_ref().get(HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload with the lifetime of the underlying buffer.
    pub fn into_payload(self) -> &'a [u8] {
        let end = usize::from(self.len());
        T::as_ref(self.buffer).get(HEADER_LEN..end).unwrap_or(&[])
    }
}

/// A UDP header in high-level form, plus the payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload length.
    pub payload_len: usize,
}

impl Repr {
    /// Parses a datagram between `src` and `dst`, verifying its checksum (over IPv4 a zero
    /// checksum means none was sent; over IPv6 it is refused, RFC 8200 §8.1).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<Repr, Error> {
        let received = packet.checksum();
        if received == 0 {
            if src.is_ipv6() || dst.is_ipv6() {
                return Err(Error::UdpZeroChecksumV6);
            }
        } else {
            let computed = packet.compute_checksum(src, dst);
            if computed != received {
                return Err(Error::UdpChecksum { received, computed });
            }
        }
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload_len: usize::from(packet.len()).saturating_sub(HEADER_LEN),
        })
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header, with its checksum between `src` and `dst`, in front of the payload
    /// already at `buf[HEADER_LEN..HEADER_LEN + payload_len]`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(), Error> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::FamilyMismatch(src, dst));
        }
        let len = u16::try_from(self.buffer_len()).map_err(|_| Error::TooLong(self.payload_len))?;
        let buf = packet.buffer.as_mut();
        let got = buf.len();
        let buf = buf
            .get_mut(..usize::from(len))
            .ok_or(Error::BufferTooSmall {
                needed: usize::from(len),
                got,
            })?;
        be::put_u16(buf, 0, self.src_port);
        be::put_u16(buf, 2, self.dst_port);
        be::put_u16(buf, 4, len);
        be::put_u16(buf, 6, 0);
        let c = Packet::new_unchecked(&*buf).compute_checksum(src, dst);
        be::put_u16(buf, 6, c);
        Ok(())
    }
}

/// A whole datagram: `payload` behind a header from `src_port` to `dst_port`, checksummed for the
/// addresses `src` and `dst`.
pub fn datagram(
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Result<Vec<u8>, Error> {
    let repr = Repr {
        src_port,
        dst_port,
        payload_len: payload.len(),
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    be::put(&mut buf, HEADER_LEN, payload);
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]), src, dst)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    #[test]
    fn known_datagram() {
        // A NAT-T keepalive (RFC 3948 §2.3) from 10.0.0.1:4500 to 10.0.0.2:4500.
        let src = IpAddr::from(Ipv4Addr::new(10, 0, 0, 1));
        let dst = IpAddr::from(Ipv4Addr::new(10, 0, 0, 2));
        let d = datagram(src, dst, 4500, 4500, &[0xff]).unwrap();
        // pseudo: 0a00 0001 0a00 0002 0011 0009; header: 1194 1194 0009 0000; data ff00.
        let sum: u32 =
            0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x0011 + 0x0009 + 0x1194 * 2 + 0x0009 + 0xff00;
        let folded = (sum & 0xffff) + (sum >> 16);
        assert_eq!(
            d,
            [0x11, 0x94, 0x11, 0x94, 0, 9, 0, 0, 0xff]
                .iter()
                .enumerate()
                .map(|(i, &b)| match i {
                    6 => (!(folded as u16)).to_be_bytes()[0],
                    7 => (!(folded as u16)).to_be_bytes()[1],
                    _ => b,
                })
                .collect::<Vec<_>>()
        );
        let p = Packet::new_checked(&d[..]).unwrap();
        let r = Repr::parse(&p, src, dst).unwrap();
        assert_eq!((r.src_port, r.dst_port, r.payload_len), (4500, 4500, 1));
        assert_eq!(p.payload(), &[0xff]);
    }

    #[test]
    fn errors() {
        let v4 = IpAddr::from(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::from(Ipv6Addr::LOCALHOST);
        assert_eq!(
            Packet::new_checked(&[0u8; 7][..]).unwrap_err(),
            Error::Truncated { needed: 8, got: 7 }
        );
        assert_eq!(
            Packet::new_checked(&[0, 1, 0, 2, 0, 20, 0, 0][..]).unwrap_err(),
            Error::UdpLength(20)
        );
        let mut d = datagram(v4, v4, 1, 2, b"abc").unwrap();
        d[8] ^= 1;
        assert!(matches!(
            Repr::parse(&Packet::new_checked(&d[..]).unwrap(), v4, v4),
            Err(Error::UdpChecksum { .. })
        ));
        d[6] = 0;
        d[7] = 0;
        assert!(Repr::parse(&Packet::new_checked(&d[..]).unwrap(), v4, v4).is_ok());
        assert_eq!(
            Repr::parse(&Packet::new_checked(&d[..]).unwrap(), v6, v6),
            Err(Error::UdpZeroChecksumV6)
        );
        assert_eq!(
            datagram(v4, v6, 1, 2, b""),
            Err(Error::FamilyMismatch(v4, v6))
        );
        assert_eq!(
            datagram(v4, v4, 1, 2, &vec![0; 70_000]),
            Err(Error::TooLong(70_000))
        );
    }

    proptest! {
        #[test]
        fn roundtrip(src_port: u16, dst_port: u16, v6: bool,
                     payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (src, dst): (IpAddr, IpAddr) = if v6 {
                (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(), Ipv6Addr::LOCALHOST.into())
            } else {
                (Ipv4Addr::new(192, 0, 2, 1).into(), Ipv4Addr::new(198, 51, 100, 7).into())
            };
            let d = datagram(src, dst, src_port, dst_port, &payload).unwrap();
            let p = Packet::new_checked(&d[..]).unwrap();
            let r = Repr::parse(&p, src, dst).unwrap();
            prop_assert_eq!(r, Repr { src_port, dst_port, payload_len: payload.len() });
            prop_assert_eq!(p.into_payload(), &payload[..]);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let v4 = IpAddr::from(Ipv4Addr::LOCALHOST);
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = Repr::parse(&p, v4, v4);
            }
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (p.payload(), p.compute_checksum(v4, v4), p.is_empty());
        }
    }
}
