//! UDP encapsulation of ESP for NAT traversal (RFC 3948).
//!
//! On UDP port 4500 three things arrive (RFC 3948 §2): a NAT keepalive (a single 0xFF byte,
//! §2.3), an IKE message behind a 4-byte all-zero non-ESP marker (§2.2), or an ESP packet,
//! whose SPI is never zero. [`UdpPayload::classify`] tells them apart.

use super::esp::{HEADER_LEN, Packet, Repr};
use crate::Error;

/// The IKE/ESP NAT-traversal port (RFC 3948 §1).
pub const NAT_T_PORT: u16 = 4500;
/// The non-ESP marker that precedes IKE messages on port 4500 (RFC 3948 §2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// A NAT keepalive payload (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: [u8; 1] = [0xff];

/// What a UDP payload on port 4500 holds, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpPayload<'a> {
    /// A NAT keepalive: ignore it (it only refreshes NAT mappings).
    NatKeepalive,
    /// An IKE message (the bytes after the non-ESP marker).
    Ike(&'a [u8]),
    /// An ESP packet (checked to hold at least the header).
    Esp(Packet<&'a [u8]>),
}

impl<'a> UdpPayload<'a> {
    /// Classifies a UDP payload received on port 4500 (RFC 3948 §2.2, §2.3).
    pub fn classify(payload: &'a [u8]) -> Result<Self, Error> {
        match payload {
            [0xff] => Ok(Self::NatKeepalive),
            [0, 0, 0, 0, ike @ ..] => Ok(Self::Ike(ike)),
            _ if payload.len() < HEADER_LEN => Err(Error::MalformedUdpEncap),
            _ => Ok(Self::Esp(Packet::new_checked(payload)?)),
        }
    }
}

/// The first bytes of a UDP payload on port 4500, in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UdpEncapRepr {
    /// A NAT keepalive (1 byte).
    NatKeepalive,
    /// The non-ESP marker (4 bytes); an IKE message follows.
    NonEspMarker,
    /// An ESP header (8 bytes); the rest of the ESP packet follows.
    Esp(Repr),
}

impl UdpEncapRepr {
    /// Parses the start of a port-4500 UDP payload.
    pub fn parse(payload: &[u8]) -> Result<Self, Error> {
        match UdpPayload::classify(payload)? {
            UdpPayload::NatKeepalive => Ok(Self::NatKeepalive),
            UdpPayload::Ike(_) => Ok(Self::NonEspMarker),
            UdpPayload::Esp(p) => Ok(Self::Esp(Repr::parse(&p)?)),
        }
    }

    /// Bytes [`UdpEncapRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        match self {
            Self::NatKeepalive => 1,
            Self::NonEspMarker => 4,
            Self::Esp(r) => r.buffer_len(),
        }
    }

    /// Writes the keepalive byte, the marker or the ESP header into the start of `buf`; returns
    /// [`Error::BufferTooSmall`] if `buf` is shorter than [`UdpEncapRepr::buffer_len`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let needed = self.buffer_len();
        let dst = buf
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        match self {
            Self::NatKeepalive => dst.copy_from_slice(&NAT_KEEPALIVE),
            Self::NonEspMarker => dst.copy_from_slice(&NON_ESP_MARKER),
            Self::Esp(r) => r.emit(&mut Packet::new_unchecked(dst)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classify_examples() {
        assert_eq!(
            UdpPayload::classify(&[0xff]).unwrap(),
            UdpPayload::NatKeepalive
        );
        assert_eq!(
            UdpPayload::classify(&[0, 0, 0, 0, 1, 2]).unwrap(),
            UdpPayload::Ike(&[1, 2])
        );
        let esp = [0, 0, 1, 0, 0, 0, 0, 5, 0xaa];
        match UdpPayload::classify(&esp).unwrap() {
            UdpPayload::Esp(p) => assert_eq!((p.spi(), p.sequence()), (256, 5)),
            other => panic!("{other:?}"),
        }
        assert_eq!(UdpPayload::classify(&[]), Err(Error::MalformedUdpEncap));
        assert_eq!(UdpPayload::classify(&[0xfe]), Err(Error::MalformedUdpEncap));
        assert_eq!(
            UdpPayload::classify(&[1, 2, 3, 4, 5]),
            Err(Error::MalformedUdpEncap)
        );
    }

    fn arb_repr() -> impl Strategy<Value = UdpEncapRepr> {
        prop_oneof![
            Just(UdpEncapRepr::NatKeepalive),
            Just(UdpEncapRepr::NonEspMarker),
            (1u32.., any::<u32>())
                .prop_map(|(spi, sequence)| UdpEncapRepr::Esp(Repr { spi, sequence })),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip(r in arb_repr()) {
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf).unwrap();
            prop_assert_eq!(UdpEncapRepr::parse(&buf).unwrap(), r);
            prop_assert!(r.emit(&mut buf[..r.buffer_len() - 1]).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = UdpEncapRepr::parse(&bytes);
            let _ = UdpPayload::classify(&bytes);
        }
    }
}
