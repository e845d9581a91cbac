//! Protocol (overlay) and NBMA (underlay) addresses.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address as NHRP carries it: a length-prefixed byte string.
///
/// The length decides the variant: 0 bytes is [`Address::Empty`] (RFC 2332 allows zero-length
/// addresses, e.g. the client addresses of the CIE in a Cisco Registration Request), 4 bytes is
/// IPv4, 16 bytes is IPv6, anything else is kept as [`Address::Other`]. `Other` is meant for
/// lengths other than 0, 4 and 16; an `Other` of such a length is emitted unchanged but parses
/// back as `Empty`, `Ipv4` or `Ipv6`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Address {
    /// A zero-length address.
    #[default]
    Empty,
    /// A 4-byte address, read as IPv4.
    Ipv4(Ipv4Addr),
    /// A 16-byte address, read as IPv6.
    Ipv6(Ipv6Addr),
    /// An address of any other length, kept as bytes.
    Other(Vec<u8>),
}

impl Address {
    /// Reads an address from exactly its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Address {
        if bytes.is_empty() {
            Address::Empty
        } else if let Ok(a) = <[u8; 4]>::try_from(bytes) {
            Address::Ipv4(Ipv4Addr::from(a))
        } else if let Ok(a) = <[u8; 16]>::try_from(bytes) {
            Address::Ipv6(Ipv6Addr::from(a))
        } else {
            Address::Other(bytes.to_vec())
        }
    }

    /// The number of bytes of the address on the wire.
    pub fn len(&self) -> usize {
        match self {
            Address::Empty => 0,
            Address::Ipv4(_) => 4,
            Address::Ipv6(_) => 16,
            Address::Other(b) => b.len(),
        }
    }

    /// Whether the address is zero-length.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The IP address, if this is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Address::Ipv4(a) => Some(IpAddr::V4(*a)),
            Address::Ipv6(a) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }

    /// Writes the address into the front of `out`, returning how many bytes it wrote (all of
    /// the address if `out` is long enough, otherwise as many as fit).
    pub(crate) fn write(&self, out: &mut [u8]) -> usize {
        let v4;
        let v6;
        let bytes: &[u8] = match self {
            Address::Empty => &[],
            Address::Ipv4(a) => {
                v4 = a.octets();
                &v4
            }
            Address::Ipv6(a) => {
                v6 = a.octets();
                &v6
            }
            Address::Other(b) => b,
        };
        let n = bytes.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        n
    }
}

impl From<Ipv4Addr> for Address {
    fn from(a: Ipv4Addr) -> Self {
        Address::Ipv4(a)
    }
}

impl From<Ipv6Addr> for Address {
    fn from(a: Ipv6Addr) -> Self {
        Address::Ipv6(a)
    }
}

impl From<IpAddr> for Address {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => Address::Ipv4(a),
            IpAddr::V6(a) => Address::Ipv6(a),
        }
    }
}

/// IP addresses as text; `Empty` as the empty string; `Other` as hex bytes joined by `:`.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Empty => Ok(()),
            Address::Ipv4(a) => a.fmt(f),
            Address::Ipv6(a) => a.fmt(f),
            Address::Other(b) => {
                for (i, byte) in b.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// The format bit of an NBMA address type/length octet (RFC 2332 §5.2.0.1, `ar$shtl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NbmaFormat {
    /// NSAP format (bit clear): what Cisco sends for IP NBMA addresses.
    #[default]
    Nsap,
    /// Native E.164 format (bit `0x40` set).
    E164,
}

/// An NBMA (underlay) address or subaddress with its format bit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NbmaAddress {
    /// The format bit of the type/length octet.
    pub format: NbmaFormat,
    /// The address (at most 63 bytes: the length has 6 bits).
    pub addr: Address,
}

impl NbmaAddress {
    /// The largest NBMA address or subaddress length the type/length octet can express.
    pub const MAX_LEN: usize = 0x3f;

    /// A zero-length NBMA address in NSAP format.
    pub const EMPTY: NbmaAddress = NbmaAddress {
        format: NbmaFormat::Nsap,
        addr: Address::Empty,
    };

    /// The type/length octet for this address (reserved bit clear). Lengths above 63 are
    /// truncated to 6 bits: check [`NbmaAddress::MAX_LEN`] first.
    pub fn type_len(&self) -> u8 {
        let len = u8::try_from(self.addr.len() & Self::MAX_LEN).unwrap_or(0);
        match self.format {
            NbmaFormat::Nsap => len,
            NbmaFormat::E164 => 0x40 | len,
        }
    }

    /// Builds the address from a type/length octet and exactly the address bytes.
    pub fn from_type_and_bytes(type_len: u8, bytes: &[u8]) -> NbmaAddress {
        NbmaAddress {
            format: if type_len & 0x40 != 0 {
                NbmaFormat::E164
            } else {
                NbmaFormat::Nsap
            },
            addr: Address::from_bytes(bytes),
        }
    }
}

macro_rules! nbma_from {
    ($($t:ty),*) => {$(
        impl From<$t> for NbmaAddress {
            fn from(a: $t) -> Self {
                NbmaAddress {
                    format: NbmaFormat::Nsap,
                    addr: a.into(),
                }
            }
        }
    )*};
}
nbma_from!(Address, Ipv4Addr, Ipv6Addr, IpAddr);

impl fmt::Display for NbmaAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}

/// The length in bytes an NBMA type/length octet declares.
pub(crate) fn tl_len(type_len: u8) -> usize {
    usize::from(type_len & 0x3f)
}
