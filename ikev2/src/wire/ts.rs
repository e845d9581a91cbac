//! The Traffic Selector payloads TSi and TSr (RFC 7296 §3.13).
//!
//! ```text
//! | Number of TSs | RESERVED (3) | Traffic Selectors ... |
//! Selector: | TS Type | IP Protocol ID | Selector Length (2) |
//!           | Start Port (2) | End Port (2) | Starting Address | Ending Address |
//! ```

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{TsType, Writer, be16, len16, truncated, u8_at};
use crate::Error;

/// A TSi or TSr payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TsPayload {
    /// The selectors (their union is what the peer proposes or accepts).
    pub selectors: Vec<TrafficSelector>,
}

/// One traffic selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrafficSelector {
    /// TS_IPV4_ADDR_RANGE or TS_IPV6_ADDR_RANGE: an address range, protocol and port range.
    Range {
        /// IP protocol number (0 = any; 47 = GRE for DMVPN).
        ip_protocol: u8,
        /// First port (0 for any).
        start_port: u16,
        /// Last port (65535 for any).
        end_port: u16,
        /// First address (its family selects the TS type).
        start: IpAddr,
        /// Last address (same family as `start`).
        end: IpAddr,
    },
    /// Another selector type, kept as bytes after the selector header.
    Unknown {
        /// The TS type.
        ts_type: TsType,
        /// The IP protocol byte.
        ip_protocol: u8,
        /// The rest of the selector.
        data: Vec<u8>,
    },
}

impl TrafficSelector {
    /// Every address and port of one family for one protocol (0 = any).
    pub fn any(ipv6: bool, ip_protocol: u8) -> Self {
        let (start, end) = if ipv6 {
            (
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::from(u128::MAX)),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V4(Ipv4Addr::BROADCAST),
            )
        };
        TrafficSelector::Range {
            ip_protocol,
            start_port: 0,
            end_port: u16::MAX,
            start,
            end,
        }
    }

    /// One host address, one protocol, all ports (DMVPN: GRE between two NBMA addresses).
    pub fn host(addr: IpAddr, ip_protocol: u8) -> Self {
        TrafficSelector::Range {
            ip_protocol,
            start_port: 0,
            end_port: u16::MAX,
            start: addr,
            end: addr,
        }
    }

    /// The TS type.
    pub fn ts_type(&self) -> TsType {
        match self {
            TrafficSelector::Range {
                start: IpAddr::V4(_),
                ..
            } => TsType::IPV4_ADDR_RANGE,
            TrafficSelector::Range { .. } => TsType::IPV6_ADDR_RANGE,
            TrafficSelector::Unknown { ts_type, .. } => *ts_type,
        }
    }

    /// Parses one selector from the start of `b`; returns it and its length.
    pub fn parse(b: &[u8]) -> Result<(Self, usize), Error> {
        let (Some(ty), Some(proto), Some(len)) = (u8_at(b, 0), u8_at(b, 1), be16(b, 2)) else {
            return Err(truncated("traffic selector", 4, b.len()));
        };
        let len = usize::from(len);
        if len < 4 {
            return Err(Error::BadLength {
                what: "traffic selector",
                length: len,
            });
        }
        let s = b
            .get(..len)
            .ok_or(truncated("traffic selector", len, b.len()))?;
        let ts = match TsType(ty) {
            TsType::IPV4_ADDR_RANGE | TsType::IPV6_ADDR_RANGE => {
                let alen = if TsType(ty) == TsType::IPV4_ADDR_RANGE {
                    4
                } else {
                    16
                };
                if len != 8 + 2 * alen {
                    return Err(Error::BadLength {
                        what: "traffic selector",
                        length: len,
                    });
                }
                let (Some(start_port), Some(end_port)) = (be16(s, 4), be16(s, 6)) else {
                    return Err(truncated("traffic selector", 8, s.len()));
                };
                let a = s.get(8..8 + alen).unwrap_or(&[]);
                let z = s.get(8 + alen..).unwrap_or(&[]);
                let (start, end) = if alen == 4 {
                    let a: [u8; 4] = a.try_into().map_err(|_| truncated("TS address", 4, 0))?;
                    let z: [u8; 4] = z.try_into().map_err(|_| truncated("TS address", 4, 0))?;
                    (IpAddr::from(a), IpAddr::from(z))
                } else {
                    let a: [u8; 16] = a.try_into().map_err(|_| truncated("TS address", 16, 0))?;
                    let z: [u8; 16] = z.try_into().map_err(|_| truncated("TS address", 16, 0))?;
                    (IpAddr::from(a), IpAddr::from(z))
                };
                TrafficSelector::Range {
                    ip_protocol: proto,
                    start_port,
                    end_port,
                    start,
                    end,
                }
            }
            other => TrafficSelector::Unknown {
                ts_type: other,
                ip_protocol: proto,
                data: s.get(4..).unwrap_or(&[]).to_vec(),
            },
        };
        Ok((ts, len))
    }

    /// Length on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            TrafficSelector::Range {
                start: IpAddr::V4(_),
                ..
            } => 16,
            TrafficSelector::Range { .. } => 40,
            TrafficSelector::Unknown { data, .. } => 4usize.saturating_add(data.len()),
        }
    }

    /// Writes the selector; a range's two addresses must be of one family.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let len = len16("traffic selector", self.buffer_len())?;
        let mut w = Writer::new(buf);
        match self {
            TrafficSelector::Range {
                ip_protocol,
                start_port,
                end_port,
                start,
                end,
            } => {
                w.put(&[self.ts_type().0, *ip_protocol])?;
                w.u16(len)?;
                w.u16(*start_port)?;
                w.u16(*end_port)?;
                match (start, end) {
                    (IpAddr::V4(a), IpAddr::V4(z)) => {
                        w.put(&a.octets())?;
                        w.put(&z.octets())
                    }
                    (IpAddr::V6(a), IpAddr::V6(z)) => {
                        w.put(&a.octets())?;
                        w.put(&z.octets())
                    }
                    _ => Err(Error::Malformed("traffic selector: mixed address families")),
                }
            }
            TrafficSelector::Unknown {
                ts_type,
                ip_protocol,
                data,
            } => {
                w.put(&[ts_type.0, *ip_protocol])?;
                w.u16(len)?;
                w.put(data)
            }
        }
    }
}

impl TsPayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let n = u8_at(b, 0).ok_or(truncated("TS payload", 4, b.len()))?;
        let mut rest = b.get(4..).ok_or(truncated("TS payload", 4, b.len()))?;
        let mut selectors = Vec::with_capacity(usize::from(n));
        while !rest.is_empty() {
            let (ts, len) = TrafficSelector::parse(rest)?;
            selectors.push(ts);
            rest = rest.get(len..).unwrap_or(&[]);
        }
        if selectors.len() != usize::from(n) {
            return Err(Error::Malformed("TS payload: Number of TSs"));
        }
        Ok(TsPayload { selectors })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        self.selectors
            .iter()
            .fold(4usize, |n, s| n.saturating_add(s.buffer_len()))
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let n = u8::try_from(self.selectors.len()).map_err(|_| Error::TooLong {
            what: "TS payload selectors",
            len: self.selectors.len(),
        })?;
        let mut w = Writer::new(buf);
        w.put(&[n, 0, 0, 0])?;
        for s in &self.selectors {
            s.emit(w.sub(s.buffer_len())?)?;
        }
        Ok(())
    }
}
