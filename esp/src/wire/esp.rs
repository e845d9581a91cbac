//! The ESP header (SPI, sequence number) and trailer (padding, pad length, next header),
//! RFC 4303 §2.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Security Parameters Index (SPI)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Sequence Number                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     IV (if any) | Payload Data | Padding | Pad Len | Next Hdr  |  (encrypted from Payload on)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Integrity Check Value (ICV, variable)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{be_u32, put_be_u32};
use crate::Error;

/// Length of the ESP header (SPI + sequence number).
pub const HEADER_LEN: usize = 8;

/// A read/write view of an ESP packet: header, then everything after it (IV, ciphertext, ICV)
/// as [`Packet::payload`]. Where the IV and ICV begin depends on the SA, not on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors then return 0 / empty on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer, checking that it holds at least the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds at least the header.
    pub fn check_len(&self) -> Result<(), Error> {
        let got = self.buffer.as_ref().len();
        if got < HEADER_LEN {
            Err(Error::Truncated {
                needed: HEADER_LEN,
                got,
            })
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Security Parameters Index.
    pub fn spi(&self) -> u32 {
        be_u32(self.buffer.as_ref(), 0)
    }

    /// The (low 32 bits of the) sequence number.
    pub fn sequence(&self) -> u32 {
        be_u32(self.buffer.as_ref(), 4)
    }

    /// Everything after the header: IV, encrypted payload and trailer, ICV.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the SPI.
    pub fn set_spi(&mut self, spi: u32) {
        put_be_u32(self.buffer.as_mut(), 0, spi);
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, sequence: u32) {
        put_be_u32(self.buffer.as_mut(), 4, sequence);
    }

    /// Everything after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(HEADER_LEN..)
            .unwrap_or_default()
    }
}

/// The ESP header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Security Parameters Index; never 0 on the wire (RFC 4303 §2.1).
    pub spi: u32,
    /// Low 32 bits of the sequence number (RFC 4303 §2.2).
    pub sequence: u32,
}

impl Repr {
    /// Parses the header; SPI 0 is [`Error::ReservedSpi`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Self, Error> {
        packet.check_len()?;
        let spi = packet.spi();
        if spi == 0 {
            return Err(Error::ReservedSpi);
        }
        Ok(Self {
            spi,
            sequence: packet.sequence(),
        })
    }

    /// Bytes [`Repr::emit`] writes: the 8-byte header.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first 8 bytes of `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_spi(self.spi);
        packet.set_sequence(self.sequence);
    }
}

/// Next header value of a dummy packet (RFC 4303 §2.6, IANA "No Next Header").
pub const NEXT_HEADER_DUMMY: u8 = 59;

/// The ESP trailer: padding length and next header, at the end of the decrypted payload.
///
/// The padding itself is 1, 2, 3, … (RFC 4303 §2.4), written by [`Trailer::emit`] and checked
/// by [`Trailer::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trailer {
    /// Number of padding bytes before the pad length byte.
    pub pad_len: u8,
    /// The protocol of the payload (47 GRE, 4 IPv4, 41 IPv6, 59 dummy…).
    pub next_header: u8,
}

impl Trailer {
    /// Reads the trailer at the end of `plaintext` and verifies the padding; returns it with the
    /// payload that precedes it.
    pub fn parse(plaintext: &[u8]) -> Result<(Self, &[u8]), Error> {
        let got = plaintext.len();
        let Some((&next_header, rest)) = plaintext.split_last() else {
            return Err(Error::Truncated { needed: 2, got });
        };
        let Some((&pad_len, rest)) = rest.split_last() else {
            return Err(Error::Truncated { needed: 2, got });
        };
        let body_len = rest
            .len()
            .checked_sub(usize::from(pad_len))
            .ok_or(Error::InvalidPadding)?;
        let (payload, padding) = rest
            .split_at_checked(body_len)
            .ok_or(Error::InvalidPadding)?;
        // Padding bytes are 1, 2, 3, … (RFC 4303 §2.4): checked without early exit.
        let mut bad = 0u8;
        for (i, &b) in padding.iter().enumerate() {
            bad |= b ^ ((i as u8).wrapping_add(1));
        }
        if bad != 0 {
            return Err(Error::InvalidPadding);
        }
        Ok((
            Self {
                pad_len,
                next_header,
            },
            payload,
        ))
    }

    /// Bytes [`Trailer::emit`] writes: padding, pad length, next header.
    pub const fn buffer_len(&self) -> usize {
        self.pad_len as usize + 2
    }

    /// Writes padding, pad length and next header to the first [`Trailer::buffer_len`] bytes of
    /// `buf` (nothing if `buf` is shorter).
    pub fn emit(&self, buf: &mut [u8]) {
        let Some(dst) = buf.get_mut(..self.buffer_len()) else {
            return;
        };
        let (pad, tail) = dst.split_at_mut(usize::from(self.pad_len));
        for (i, b) in pad.iter_mut().enumerate() {
            *b = (i as u8).wrapping_add(1);
        }
        if let [pl, nh] = tail {
            *pl = self.pad_len;
            *nh = self.next_header;
        }
    }

    /// The trailer for `payload_len` bytes of payload aligned to `block_len` (4 to 256 bytes):
    /// the smallest padding that makes payload + padding + 2 a multiple of it.
    pub const fn for_payload(payload_len: usize, block_len: usize, next_header: u8) -> Self {
        let rem = if block_len.is_power_of_two() {
            payload_len.wrapping_add(2) & (block_len - 1)
        } else {
            match payload_len.wrapping_add(2).checked_rem(block_len) {
                Some(rem) => rem,
                None => 0,
            }
        };
        let pad = if rem == 0 { 0 } else { block_len - rem };
        Self {
            pad_len: pad as u8,
            next_header,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_fields() {
        let bytes = [0x36, 0xcb, 0x42, 0xdf, 0, 0, 0, 1, 0xaa];
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.spi(), 0x36cb_42df);
        assert_eq!(p.sequence(), 1);
        assert_eq!(p.payload(), &[0xaa]);
        assert_eq!(
            Repr::parse(&p).unwrap(),
            Repr {
                spi: 0x36cb_42df,
                sequence: 1
            }
        );
        assert_eq!(
            Packet::new_checked(&bytes[..7]).unwrap_err(),
            Error::Truncated { needed: 8, got: 7 }
        );
        let zero = [0u8; 8];
        assert_eq!(
            Repr::parse(&Packet::new_checked(&zero[..]).unwrap()),
            Err(Error::ReservedSpi)
        );
    }

    #[test]
    fn trailer_padding_checked() {
        let good = [9, 9, 1, 2, 3, 3, 47];
        let (t, payload) = Trailer::parse(&good).unwrap();
        assert_eq!(
            t,
            Trailer {
                pad_len: 3,
                next_header: 47
            }
        );
        assert_eq!(payload, &[9, 9]);
        assert_eq!(
            Trailer::parse(&[9, 9, 1, 2, 4, 3, 47]),
            Err(Error::InvalidPadding)
        );
        assert_eq!(Trailer::parse(&[1, 2, 3, 47]), Err(Error::InvalidPadding));
        assert_eq!(
            Trailer::parse(&[47]),
            Err(Error::Truncated { needed: 2, got: 1 })
        );
        assert_eq!(Trailer::parse(&[0, 59]).unwrap().0.next_header, 59);
        assert_eq!(Trailer::for_payload(14, 16, 47).pad_len, 0);
        assert_eq!(Trailer::for_payload(15, 16, 47).pad_len, 15);
        assert_eq!(Trailer::for_payload(1, 4, 47).pad_len, 1);
    }

    proptest! {
        #[test]
        fn header_roundtrip(spi in 1u32.., sequence in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..32)) {
            let r = Repr { spi, sequence };
            let mut buf = vec![0u8; r.buffer_len() + tail.len()];
            buf[8..].copy_from_slice(&tail);
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p).unwrap(), r);
            prop_assert_eq!(p.payload(), &tail[..]);
        }

        #[test]
        fn trailer_roundtrip(payload in proptest::collection::vec(any::<u8>(), 0..64), block in prop_oneof![Just(4usize), Just(16usize)], nh in any::<u8>()) {
            let t = Trailer::for_payload(payload.len(), block, nh);
            let mut buf = payload.clone();
            buf.resize(payload.len() + t.buffer_len(), 0);
            t.emit(&mut buf[payload.len()..]);
            prop_assert_eq!(buf.len() % block, 0);
            let (t2, p2) = Trailer::parse(&buf).unwrap();
            prop_assert_eq!(t2, t);
            prop_assert_eq!(p2, &payload[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = Repr::parse(&p);
                let _ = p.payload();
            }
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (p.spi(), p.sequence(), p.payload());
            let _ = Trailer::parse(&bytes);
        }
    }
}
