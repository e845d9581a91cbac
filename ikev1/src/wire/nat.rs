//! NAT-Traversal payloads: NAT Discovery (RFC 3947 §3.2) and NAT Original Address (§5.2), in
//! the RFC's numbering and in the older ones peers still use.
//!
//! ```text
//! NAT-D:  | HASH of the address and port ... |
//! NAT-OA: | ID Type | RESERVED | RESERVED (2) | IPv4 (4) or IPv6 (16) address |
//! ```

use core::net::IpAddr;

use super::{IdType, PayloadType, Writer, truncated, u8_at};
use crate::Error;

/// Which payload numbers carry NAT-D and NAT-OA: a peer uses the numbering of the NAT-T
/// version it negotiated (by vendor ID, see [`KnownVendorId`](super::KnownVendorId)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NatTNumbering {
    /// RFC 3947: NAT-D 20, NAT-OA 21.
    Rfc3947,
    /// The drafts (draft-ietf-ipsec-nat-t-ike-02/03 and the peers that follow them): NAT-D
    /// 130, NAT-OA 131, in the private-use range.
    Draft,
    /// 15 and 16, as numbered before IANA's assignment (see [`PayloadType::NAT_D_LEGACY`]).
    Legacy,
}

impl NatTNumbering {
    /// The NAT-D payload type of this numbering.
    pub const fn nat_d(self) -> PayloadType {
        match self {
            NatTNumbering::Rfc3947 => PayloadType::NAT_D,
            NatTNumbering::Draft => PayloadType::NAT_D_DRAFT,
            NatTNumbering::Legacy => PayloadType::NAT_D_LEGACY,
        }
    }

    /// The NAT-OA payload type of this numbering.
    pub const fn nat_oa(self) -> PayloadType {
        match self {
            NatTNumbering::Rfc3947 => PayloadType::NAT_OA,
            NatTNumbering::Draft => PayloadType::NAT_OA_DRAFT,
            NatTNumbering::Legacy => PayloadType::NAT_OA_LEGACY,
        }
    }

    /// The numbering of a NAT-D payload type, if it is one.
    pub const fn of_nat_d(t: PayloadType) -> Option<Self> {
        match t {
            PayloadType::NAT_D => Some(NatTNumbering::Rfc3947),
            PayloadType::NAT_D_DRAFT => Some(NatTNumbering::Draft),
            PayloadType::NAT_D_LEGACY => Some(NatTNumbering::Legacy),
            _ => None,
        }
    }

    /// The numbering of a NAT-OA payload type, if it is one.
    pub const fn of_nat_oa(t: PayloadType) -> Option<Self> {
        match t {
            PayloadType::NAT_OA => Some(NatTNumbering::Rfc3947),
            PayloadType::NAT_OA_DRAFT => Some(NatTNumbering::Draft),
            PayloadType::NAT_OA_LEGACY => Some(NatTNumbering::Legacy),
            _ => None,
        }
    }
}

/// A NAT-D payload: the hash of an address and port (RFC 3947 §3.2: HASH(CKY-I | CKY-R | IP |
/// Port) with the negotiated hash). A Main Mode message carries two or more: the peer's
/// address first, then each of the sender's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NatDPayload {
    /// The payload number it travels under.
    pub numbering: NatTNumbering,
    /// The hash.
    pub hash: Vec<u8>,
}

/// A NAT-OA payload: the original address of the sender (or of the receiver), for
/// transport-mode checksum fix-ups (RFC 3947 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NatOaPayload {
    /// The payload number it travels under.
    pub numbering: NatTNumbering,
    /// ID_IPV4_ADDR or ID_IPV6_ADDR.
    pub id_type: IdType,
    /// The address bytes (4 or 16, by `id_type`; kept as received).
    pub address: Vec<u8>,
}

impl NatOaPayload {
    /// A NAT-OA of this address in the RFC 3947 numbering.
    pub fn new(addr: IpAddr) -> Self {
        let (id_type, address) = match addr {
            IpAddr::V4(a) => (IdType::IPV4_ADDR, a.octets().to_vec()),
            IpAddr::V6(a) => (IdType::IPV6_ADDR, a.octets().to_vec()),
        };
        NatOaPayload {
            numbering: NatTNumbering::Rfc3947,
            id_type,
            address,
        }
    }

    /// The address, if the type and length agree.
    pub fn as_ip(&self) -> Option<IpAddr> {
        match self.id_type {
            IdType::IPV4_ADDR => <[u8; 4]>::try_from(self.address.as_slice())
                .ok()
                .map(IpAddr::from),
            IdType::IPV6_ADDR => <[u8; 16]>::try_from(self.address.as_slice())
                .ok()
                .map(IpAddr::from),
            _ => None,
        }
    }

    /// Parses the body of a NAT-OA payload numbered `numbering`.
    pub fn parse(numbering: NatTNumbering, b: &[u8]) -> Result<Self, Error> {
        let id_type = u8_at(b, 0).ok_or(truncated("NAT-OA payload", 4, b.len()))?;
        let address = b.get(4..).ok_or(truncated("NAT-OA payload", 4, b.len()))?;
        Ok(NatOaPayload {
            numbering,
            id_type: IdType(id_type),
            address: address.to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        4usize.saturating_add(self.address.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.put(&[self.id_type.0, 0, 0, 0])?;
        w.put(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numberings_map_both_ways() {
        for n in [
            NatTNumbering::Rfc3947,
            NatTNumbering::Draft,
            NatTNumbering::Legacy,
        ] {
            assert_eq!(NatTNumbering::of_nat_d(n.nat_d()), Some(n));
            assert_eq!(NatTNumbering::of_nat_oa(n.nat_oa()), Some(n));
            assert_eq!(NatTNumbering::of_nat_d(n.nat_oa()), None);
        }
    }

    #[test]
    fn nat_oa_reads_its_address() {
        let oa = NatOaPayload::new("192.0.2.1".parse().unwrap());
        let mut b = vec![0u8; oa.buffer_len()];
        oa.emit(&mut b).unwrap();
        assert_eq!(b, [1, 0, 0, 0, 192, 0, 2, 1]);
        let back = NatOaPayload::parse(NatTNumbering::Rfc3947, &b).unwrap();
        assert_eq!(back.as_ip(), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            NatOaPayload::parse(NatTNumbering::Draft, &b[..6])
                .unwrap()
                .as_ip(),
            None
        );
        assert!(NatOaPayload::parse(NatTNumbering::Draft, &b[..3]).is_err());
    }
}
