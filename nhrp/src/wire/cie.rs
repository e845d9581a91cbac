//! Client Information Entries (RFC 2332 §5.2.0.1).

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::address::{Address, NbmaAddress, tl_len};
use super::codes::CieCode;
use crate::Error;

/// The fixed 12 bytes at the start of every CIE.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub struct CieHeader {
    /// Code.
    pub code: u8,
    /// Prefix Length.
    pub prefix_len: u8,
    /// Unused, zero.
    pub unused: U16,
    /// Maximum Transmission Unit.
    pub mtu: U16,
    /// Holding Time, seconds.
    pub holding_time: U16,
    /// Client NBMA address type/length.
    pub nbma_tl: u8,
    /// Client NBMA subaddress type/length.
    pub nbma_sub_tl: u8,
    /// Client protocol address length.
    pub proto_len: u8,
    /// Preference.
    pub preference: u8,
}

/// A Client Information Entry: one binding of a client protocol address (prefix) to an NBMA
/// address, with its MTU and holding time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Cie {
    /// Result code (meaningful in replies; 0 in requests).
    pub code: CieCode,
    /// Prefix length of the client protocol address (32 or 128 for a host).
    pub prefix_len: u8,
    /// Maximum Transmission Unit towards the client (the Cisco captures carry 17916, the
    /// default IPv4 GRE tunnel MTU).
    pub mtu: u16,
    /// Holding time in seconds.
    pub holding_time: u16,
    /// The client's NBMA address (may be empty, e.g. in a Cisco Registration Request).
    pub client_nbma_addr: NbmaAddress,
    /// The client's NBMA subaddress (usually empty).
    pub client_nbma_subaddr: NbmaAddress,
    /// The client's protocol address (may be empty).
    pub client_proto_addr: Address,
    /// Preference (higher is preferred; Cisco sends 255 in registrations and 0 in resolutions).
    pub preference: u8,
}

impl Cie {
    /// Length of the fixed part of a CIE.
    pub const HEADER_LEN: usize = 12;

    /// Bytes the CIE takes on the wire.
    pub fn buffer_len(&self) -> usize {
        Self::HEADER_LEN
            + self.client_nbma_addr.addr.len()
            + self.client_nbma_subaddr.addr.len()
            + self.client_proto_addr.len()
    }

    /// Checks that every length fits its length field.
    pub(crate) fn check(&self) -> Result<(), Error> {
        check_len(
            "CIE client NBMA address",
            self.client_nbma_addr.addr.len(),
            NbmaAddress::MAX_LEN,
        )?;
        check_len(
            "CIE client NBMA subaddress",
            self.client_nbma_subaddr.addr.len(),
            NbmaAddress::MAX_LEN,
        )?;
        check_len(
            "CIE client protocol address",
            self.client_proto_addr.len(),
            255,
        )
    }

    /// Writes the CIE at the front of `out` (which [`Cie::check`] and the caller have sized to
    /// at least [`Cie::buffer_len`]); returns the bytes written.
    pub(crate) fn emit(&self, out: &mut [u8]) -> usize {
        let header = CieHeader {
            code: self.code.0,
            prefix_len: self.prefix_len,
            unused: U16::new(0),
            mtu: U16::new(self.mtu),
            holding_time: U16::new(self.holding_time),
            nbma_tl: self.client_nbma_addr.type_len(),
            nbma_sub_tl: self.client_nbma_subaddr.type_len(),
            proto_len: u8::try_from(self.client_proto_addr.len()).unwrap_or(0),
            preference: self.preference,
        };
        let mut pos = 0;
        if let Some(h) = out.get_mut(..Self::HEADER_LEN) {
            h.copy_from_slice(header.as_bytes());
            pos = Self::HEADER_LEN;
        }
        for a in [
            &self.client_nbma_addr.addr,
            &self.client_nbma_subaddr.addr,
            &self.client_proto_addr,
        ] {
            pos += a.write(out.get_mut(pos..).unwrap_or_default());
        }
        pos
    }

    /// Parses one CIE from the front of `data`; `at` is the offset of `data` in the packet,
    /// used in errors. Returns the CIE and its length.
    pub fn parse(data: &[u8], at: usize) -> Result<(Cie, usize), Error> {
        let Ok((h, rest)) = CieHeader::ref_from_prefix(data) else {
            return Err(Error::CieOverrun {
                at,
                needed: Self::HEADER_LEN,
                available: data.len(),
            });
        };
        let nbma_len = tl_len(h.nbma_tl);
        let sub_len = tl_len(h.nbma_sub_tl);
        let proto_len = usize::from(h.proto_len);
        let var_len = nbma_len + sub_len + proto_len;
        let (Some(nbma), Some(sub), Some(proto)) = (
            rest.get(..nbma_len),
            rest.get(nbma_len..nbma_len + sub_len),
            rest.get(nbma_len + sub_len..var_len),
        ) else {
            return Err(Error::CieOverrun {
                at,
                needed: Self::HEADER_LEN + var_len,
                available: data.len(),
            });
        };
        let cie = Cie {
            code: CieCode(h.code),
            prefix_len: h.prefix_len,
            mtu: h.mtu.get(),
            holding_time: h.holding_time.get(),
            client_nbma_addr: NbmaAddress::from_type_and_bytes(h.nbma_tl, nbma),
            client_nbma_subaddr: NbmaAddress::from_type_and_bytes(h.nbma_sub_tl, sub),
            client_proto_addr: Address::from_bytes(proto),
            preference: h.preference,
        };
        Ok((cie, Self::HEADER_LEN + var_len))
    }
}

pub(crate) fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), Error> {
    if len > max {
        Err(Error::FieldTooLong { field, len, max })
    } else {
        Ok(())
    }
}

/// An iterator over a list of CIEs that fills a byte range exactly (the tail of the mandatory
/// part, or the value of a Responder Address, Transit NHS Record or NAT Address extension).
///
/// Yields an error, then stops, if an entry overruns the range.
#[derive(Debug, Clone)]
pub struct CieIter<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> CieIter<'a> {
    /// Iterates over the CIEs in `data`, which starts at offset `base` of the packet.
    pub fn new(data: &'a [u8], base: usize) -> Self {
        CieIter { data, pos: 0, base }
    }
}

impl Iterator for CieIter<'_> {
    type Item = Result<Cie, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        match Cie::parse(rest, self.base + self.pos) {
            Ok((cie, len)) => {
                self.pos += len;
                Some(Ok(cie))
            }
            Err(e) => {
                self.pos = self.data.len();
                Some(Err(e))
            }
        }
    }
}
