//! The Identification payload (RFC 2408 §3.8) in the IPsec DOI's form (RFC 2407 §4.6.2).
//!
//! ```text
//! | ID Type | Protocol ID | Port (2) | Identification Data ... |
//! ```
//!
//! One layout serves both phases: in phase 1 (Main Mode, Aggressive Mode) it names the peer
//! and the protocol and port are zero or UDP/500 (RFC 2407 §4.6.2); in Quick Mode the two ID
//! payloads are the traffic selectors, and DMVPN's are GRE (protocol 47) between the two tunnel
//! endpoints' host addresses.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Hex, IdType, Writer, be16, truncated, u8_at};
use crate::Error;

/// The IP protocol number of GRE, which DMVPN's Quick Mode IDs select.
pub const IP_PROTOCOL_GRE: u8 = 47;

/// An ID payload body: the ID type, the protocol and port it applies to, and the data.
///
/// The data is kept as bytes whatever the type, so anything re-emits unchanged;
/// [`IdPayload::value`] reads it by its type and the constructors build the common ones.
///
/// ```
/// use core::net::Ipv4Addr;
/// use dmvpn_ikev1::wire::{IdPayload, IdValue};
///
/// // A DMVPN Quick Mode ID: GRE from this tunnel source.
/// let id = IdPayload::gre_host(Ipv4Addr::new(172, 16, 1, 1).into());
/// assert_eq!((id.protocol_id, id.port), (47, 0));
/// assert_eq!(id.value()?, IdValue::Ipv4(Ipv4Addr::new(172, 16, 1, 1)));
/// assert_eq!(id.to_string(), "172.16.1.1 proto 47");
/// # Ok::<(), dmvpn_ikev1::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdPayload {
    /// The ID type.
    pub id_type: IdType,
    /// The IP protocol the ID applies to (0 for any).
    pub protocol_id: u8,
    /// The port the ID applies to (0 for any).
    pub port: u16,
    /// The identification data.
    pub data: Vec<u8>,
}

/// The identification data read by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdValue<'a> {
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_IPV4_ADDR_SUBNET: address and netmask.
    Ipv4Subnet(Ipv4Addr, Ipv4Addr),
    /// ID_IPV6_ADDR_SUBNET: address and netmask.
    Ipv6Subnet(Ipv6Addr, Ipv6Addr),
    /// ID_IPV4_ADDR_RANGE: first and last address.
    Ipv4Range(Ipv4Addr, Ipv4Addr),
    /// ID_IPV6_ADDR_RANGE: first and last address.
    Ipv6Range(Ipv6Addr, Ipv6Addr),
    /// ID_FQDN (`hub1.example.net`).
    Fqdn(&'a str),
    /// ID_USER_FQDN (`spoke@example.net`).
    UserFqdn(&'a str),
    /// ID_DER_ASN1_DN: a DER-encoded distinguished name, as bytes.
    DerAsn1Dn(&'a [u8]),
    /// ID_DER_ASN1_GN: a DER-encoded general name, as bytes.
    DerAsn1Gn(&'a [u8]),
    /// ID_KEY_ID: opaque bytes (IOS `crypto isakmp identity` does not send it, but `crypto
    /// isakmp key … hostname` peers and other vendors may).
    KeyId(&'a [u8]),
}

fn v4(b: &[u8]) -> Result<Ipv4Addr, Error> {
    <[u8; 4]>::try_from(b)
        .map(Ipv4Addr::from)
        .map_err(|_| Error::BadIdentification("an IPv4 address must be 4 bytes"))
}

fn v6(b: &[u8]) -> Result<Ipv6Addr, Error> {
    <[u8; 16]>::try_from(b)
        .map(Ipv6Addr::from)
        .map_err(|_| Error::BadIdentification("an IPv6 address must be 16 bytes"))
}

fn pair<A>(b: &[u8], half: usize, f: fn(&[u8]) -> Result<A, Error>) -> Result<(A, A), Error> {
    if b.len() != 2 * half {
        return Err(Error::BadIdentification(
            "a subnet or range must be two addresses",
        ));
    }
    let (x, y) = b.split_at(half);
    Ok((f(x)?, f(y)?))
}

fn text(b: &[u8]) -> Result<&str, Error> {
    core::str::from_utf8(b).map_err(|_| Error::BadIdentification("a name must be UTF-8"))
}

impl IdPayload {
    fn new(id_type: IdType, data: Vec<u8>) -> Self {
        IdPayload {
            id_type,
            protocol_id: 0,
            port: 0,
            data,
        }
    }

    /// An ID_IPV4_ADDR or ID_IPV6_ADDR identity, protocol and port zero (phase 1, `crypto
    /// isakmp identity address`).
    pub fn ip(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Self::new(IdType::IPV4_ADDR, a.octets().to_vec()),
            IpAddr::V6(a) => Self::new(IdType::IPV6_ADDR, a.octets().to_vec()),
        }
    }

    /// A host address selecting GRE (protocol 47, any port): DMVPN's Quick Mode IDs.
    pub fn gre_host(addr: IpAddr) -> Self {
        Self::ip(addr).with_protocol(IP_PROTOCOL_GRE, 0)
    }

    /// An ID_IPV4_ADDR_SUBNET or ID_IPV6_ADDR_SUBNET (address and prefix length; a prefix
    /// beyond the family's length is clamped to it).
    pub fn subnet(addr: IpAddr, prefix: u8) -> Self {
        match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(u32::from(prefix)))
                    .unwrap_or(0);
                let mut data = a.octets().to_vec();
                data.extend_from_slice(&mask.to_be_bytes());
                Self::new(IdType::IPV4_ADDR_SUBNET, data)
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(prefix)))
                    .unwrap_or(0);
                let mut data = a.octets().to_vec();
                data.extend_from_slice(&mask.to_be_bytes());
                Self::new(IdType::IPV6_ADDR_SUBNET, data)
            }
        }
    }

    /// An ID_IPV4_ADDR_RANGE or ID_IPV6_ADDR_RANGE; `None` if the families differ.
    pub fn range(first: IpAddr, last: IpAddr) -> Option<Self> {
        match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => Some(Self::new(
                IdType::IPV4_ADDR_RANGE,
                [a.octets(), b.octets()].concat(),
            )),
            (IpAddr::V6(a), IpAddr::V6(b)) => Some(Self::new(
                IdType::IPV6_ADDR_RANGE,
                [a.octets(), b.octets()].concat(),
            )),
            _ => None,
        }
    }

    /// An ID_FQDN identity (`crypto isakmp identity hostname`).
    pub fn fqdn(name: &str) -> Self {
        Self::new(IdType::FQDN, name.as_bytes().to_vec())
    }

    /// An ID_USER_FQDN identity.
    pub fn user_fqdn(name: &str) -> Self {
        Self::new(IdType::USER_FQDN, name.as_bytes().to_vec())
    }

    /// An ID_KEY_ID identity.
    pub fn key_id(id: &[u8]) -> Self {
        Self::new(IdType::KEY_ID, id.to_vec())
    }

    /// An ID_DER_ASN1_DN identity (the DER bytes of a distinguished name).
    pub fn der_asn1_dn(der: &[u8]) -> Self {
        Self::new(IdType::DER_ASN1_DN, der.to_vec())
    }

    /// The same identity for protocol `protocol_id` and `port`.
    pub fn with_protocol(self, protocol_id: u8, port: u16) -> Self {
        IdPayload {
            protocol_id,
            port,
            ..self
        }
    }

    /// The data read by its type: an address of the wrong length, a name that is not UTF-8
    /// or a type without a reading here (ID_LIST, unknown types) is
    /// [`Error::BadIdentification`].
    pub fn value(&self) -> Result<IdValue<'_>, Error> {
        let d = self.data.as_slice();
        Ok(match self.id_type {
            IdType::IPV4_ADDR => IdValue::Ipv4(v4(d)?),
            IdType::IPV6_ADDR => IdValue::Ipv6(v6(d)?),
            IdType::IPV4_ADDR_SUBNET => {
                let (a, m) = pair(d, 4, v4)?;
                IdValue::Ipv4Subnet(a, m)
            }
            IdType::IPV6_ADDR_SUBNET => {
                let (a, m) = pair(d, 16, v6)?;
                IdValue::Ipv6Subnet(a, m)
            }
            IdType::IPV4_ADDR_RANGE => {
                let (a, b) = pair(d, 4, v4)?;
                IdValue::Ipv4Range(a, b)
            }
            IdType::IPV6_ADDR_RANGE => {
                let (a, b) = pair(d, 16, v6)?;
                IdValue::Ipv6Range(a, b)
            }
            IdType::FQDN => IdValue::Fqdn(text(d)?),
            IdType::USER_FQDN => IdValue::UserFqdn(text(d)?),
            IdType::DER_ASN1_DN => IdValue::DerAsn1Dn(d),
            IdType::DER_ASN1_GN => IdValue::DerAsn1Gn(d),
            IdType::KEY_ID => IdValue::KeyId(d),
            _ => return Err(Error::BadIdentification("no reading for this ID type")),
        })
    }

    /// The address of an ID_IPV4_ADDR / ID_IPV6_ADDR identity with the right length.
    pub fn as_ip(&self) -> Option<IpAddr> {
        match self.value() {
            Ok(IdValue::Ipv4(a)) => Some(a.into()),
            Ok(IdValue::Ipv6(a)) => Some(a.into()),
            _ => None,
        }
    }

    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(id_type), Some(protocol_id), Some(port)) = (u8_at(b, 0), u8_at(b, 1), be16(b, 2))
        else {
            return Err(truncated("ID payload", 4, b.len()));
        };
        Ok(IdPayload {
            id_type: IdType(id_type),
            protocol_id,
            port,
            data: b.get(4..).unwrap_or(&[]).to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        4usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u8(self.id_type.0)?;
        w.u8(self.protocol_id)?;
        w.u16(self.port)?;
        w.put(&self.data)
    }

    /// The body as bytes: what RFC 2409 §5 calls IDii_b / IDir_b, the input of HASH_I and
    /// HASH_R (and, in Quick Mode, of HASH(1) and HASH(2) with the rest of the message).
    pub fn to_body(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        // The buffer is exactly buffer_len() bytes: emit cannot fail.
        let _ = self.emit(&mut v);
        v
    }
}

impl fmt::Display for IdValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdValue::Ipv4(a) => write!(f, "{a}"),
            IdValue::Ipv6(a) => write!(f, "{a}"),
            IdValue::Ipv4Subnet(a, m) => write!(f, "{a}/{m}"),
            IdValue::Ipv6Subnet(a, m) => write!(f, "{a}/{m}"),
            IdValue::Ipv4Range(a, b) => write!(f, "{a}-{b}"),
            IdValue::Ipv6Range(a, b) => write!(f, "{a}-{b}"),
            IdValue::Fqdn(s) | IdValue::UserFqdn(s) => f.write_str(s),
            IdValue::DerAsn1Dn(b) | IdValue::DerAsn1Gn(b) | IdValue::KeyId(b) => {
                write!(f, "{}", Hex(b))
            }
        }
    }
}

impl fmt::Display for IdPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value() {
            Ok(v) => write!(f, "{v}")?,
            Err(_) => write!(f, "{}:{}", self.id_type, Hex(&self.data))?,
        }
        if self.protocol_id != 0 {
            write!(f, " proto {}", self.protocol_id)?;
        }
        if self.port != 0 {
            write!(f, " port {}", self.port)?;
        }
        Ok(())
    }
}

impl fmt::Debug for IdPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdPayload({}, {self})", self.id_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back() {
        let a4: IpAddr = Ipv4Addr::new(10, 0, 0, 0).into();
        let b4: IpAddr = Ipv4Addr::new(10, 0, 0, 255).into();
        let a6: IpAddr = "2001:db8::".parse().unwrap();
        let b6: IpAddr = "2001:db8::ff".parse().unwrap();
        assert_eq!(
            IdPayload::subnet(a4, 24).value().unwrap(),
            IdValue::Ipv4Subnet(Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(255, 255, 255, 0))
        );
        assert_eq!(
            IdPayload::subnet(a4, 0).value().unwrap(),
            IdValue::Ipv4Subnet(Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(
            IdPayload::subnet(a6, 64).to_string(),
            "2001:db8::/ffff:ffff:ffff:ffff::"
        );
        assert_eq!(
            IdPayload::range(a4, b4).unwrap().to_string(),
            "10.0.0.0-10.0.0.255"
        );
        assert_eq!(
            IdPayload::range(a6, b6).unwrap().value().unwrap(),
            IdValue::Ipv6Range(
                "2001:db8::".parse().unwrap(),
                "2001:db8::ff".parse().unwrap()
            )
        );
        assert!(IdPayload::range(a4, b6).is_none());
        assert_eq!(IdPayload::ip(a6).as_ip(), Some(a6));
        assert_eq!(
            IdPayload::fqdn("hub").value().unwrap(),
            IdValue::Fqdn("hub")
        );
        assert_eq!(
            IdPayload::user_fqdn("a@b").value().unwrap(),
            IdValue::UserFqdn("a@b")
        );
        assert_eq!(
            IdPayload::key_id(&[1, 2]).value().unwrap(),
            IdValue::KeyId(&[1, 2])
        );
        assert_eq!(
            IdPayload::der_asn1_dn(&[0x30, 0]).value().unwrap(),
            IdValue::DerAsn1Dn(&[0x30, 0])
        );
    }

    #[test]
    fn bad_data_is_an_error_not_a_panic() {
        let mut id = IdPayload::ip(Ipv4Addr::LOCALHOST.into());
        id.data.pop();
        assert!(id.value().is_err());
        assert_eq!(id.as_ip(), None);
        assert_eq!(id.to_string(), "ID_IPV4_ADDR(1):7f0000");
        id.id_type = IdType::FQDN;
        id.data = vec![0xff];
        assert!(id.value().is_err());
        id.id_type = IdType::IPV6_ADDR_SUBNET;
        assert!(id.value().is_err());
        assert!(IdPayload::parse(&[1, 2, 3]).is_err());
    }
}
