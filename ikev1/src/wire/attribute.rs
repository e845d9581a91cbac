//! Data attributes (RFC 2408 §3.3) and their typed readings: the phase 1 SA attributes of
//! RFC 2409 Appendix A and the IPsec DOI SA attributes of RFC 2407 §4.5.
//!
//! ```text
//! |A|       Attribute Type        |    AF=0  Attribute Length     |
//! |F|                             |    AF=1  Attribute Value      |
//! |                   AF=0  Attribute Value (variable)            |
//! ```
//!
//! The attributes of a transform are kept as a list ([`Attribute`]), so that whatever a peer
//! sends re-emits unchanged; [`IkeAttributes`] and [`IpsecAttributes`] are typed readings of
//! such a list and build one back (in a canonical order and encoding, see their `to_attributes`).

use super::{
    AuthAlgorithm, AuthMethod, EncapsulationMode, EncryptionAlgorithm, GroupDescription, GroupType,
    HashAlgorithm, IkeAttributeType, IpsecAttributeType, LifeType, Writer, be16, len16, sum_len,
    truncated,
};
use crate::Error;

/// An attribute's value: TV (the AF bit set, a 16-bit value) or TLV.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    /// Type/Value format (AF = 1): a 16-bit value; RFC 2409 calls these "basic".
    Short(u16),
    /// Type/Length/Value format (AF = 0): a variable-length value.
    Long(Vec<u8>),
}

/// A data attribute (RFC 2408 §3.3): a 15-bit type and a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// The attribute type (15 bits; its meaning depends on where the attribute is: a phase 1
    /// transform ([`IkeAttributeType`]) or an IPsec DOI transform ([`IpsecAttributeType`])).
    pub attr_type: u16,
    /// The value.
    pub value: AttributeValue,
}

impl Attribute {
    /// A basic (TV) attribute.
    pub const fn basic(attr_type: u16, value: u16) -> Self {
        Attribute {
            attr_type,
            value: AttributeValue::Short(value),
        }
    }

    /// A variable (TLV) attribute.
    pub fn variable(attr_type: u16, value: &[u8]) -> Self {
        Attribute {
            attr_type,
            value: AttributeValue::Long(value.to_vec()),
        }
    }

    /// An integer in TLV form: 4 bytes when it fits 32 bits (what Cisco IOS sends for life
    /// durations), else 8.
    pub fn integer(attr_type: u16, value: u64) -> Self {
        let value = match u32::try_from(value) {
            Ok(v) => v.to_be_bytes().to_vec(),
            Err(_) => value.to_be_bytes().to_vec(),
        };
        Attribute {
            attr_type,
            value: AttributeValue::Long(value),
        }
    }

    /// The value of a basic attribute; a TLV one is [`Error::BadAttribute`] (RFC 2409
    /// Appendix A: basic attributes are never encoded as variable).
    pub fn as_basic(&self) -> Result<u16, Error> {
        match &self.value {
            AttributeValue::Short(v) => Ok(*v),
            AttributeValue::Long(_) => Err(Error::BadAttribute {
                attr_type: self.attr_type,
                reason: "a basic attribute in TLV form",
            }),
        }
    }

    /// The value as an unsigned integer: a TV value, or a big-endian TLV value of up to
    /// 8 significant bytes (leading zero bytes are allowed; an empty value is refused).
    pub fn as_integer(&self) -> Result<u64, Error> {
        match &self.value {
            AttributeValue::Short(v) => Ok(u64::from(*v)),
            AttributeValue::Long(b) => {
                if b.is_empty() {
                    return Err(Error::BadAttribute {
                        attr_type: self.attr_type,
                        reason: "an empty integer value",
                    });
                }
                let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
                let significant = b.get(first..).unwrap_or(&[]);
                if significant.len() > 8 {
                    return Err(Error::BadAttribute {
                        attr_type: self.attr_type,
                        reason: "an integer value longer than 64 bits",
                    });
                }
                Ok(significant
                    .iter()
                    .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
            }
        }
    }

    /// Parses one attribute from the start of `b`; returns it and its length on the wire.
    pub fn parse(b: &[u8]) -> Result<(Self, usize), Error> {
        let (Some(t), Some(v)) = (be16(b, 0), be16(b, 2)) else {
            return Err(truncated("data attribute", 4, b.len()));
        };
        let attr_type = t & 0x7fff;
        if t & 0x8000 != 0 {
            Ok((Attribute::basic(attr_type, v), 4))
        } else {
            let end = 4 + usize::from(v);
            let value = b
                .get(4..end)
                .ok_or(truncated("data attribute", end, b.len()))?;
            Ok((Attribute::variable(attr_type, value), end))
        }
    }

    /// Parses a list of attributes filling `b` exactly.
    pub fn parse_list(mut b: &[u8]) -> Result<Vec<Attribute>, Error> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let (a, len) = Attribute::parse(b)?;
            out.push(a);
            b = b.get(len..).unwrap_or(&[]);
        }
        Ok(out)
    }

    /// Length on the wire.
    pub fn buffer_len(&self) -> usize {
        match &self.value {
            AttributeValue::Short(_) => 4,
            AttributeValue::Long(v) => 4usize.saturating_add(v.len()),
        }
    }

    /// Length of a list on the wire.
    pub fn list_len(list: &[Attribute]) -> usize {
        sum_len(list.iter().map(Attribute::buffer_len))
    }

    /// Writes the attribute into the start of `buf`. A type above 15 bits is refused.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        if self.attr_type > 0x7fff {
            return Err(Error::BadAttribute {
                attr_type: self.attr_type,
                reason: "type does not fit 15 bits",
            });
        }
        let mut w = Writer::new(buf);
        match &self.value {
            AttributeValue::Short(v) => {
                w.u16(0x8000 | self.attr_type)?;
                w.u16(*v)
            }
            AttributeValue::Long(v) => {
                w.u16(self.attr_type)?;
                w.u16(len16("data attribute", v.len())?)?;
                w.put(v)
            }
        }
    }

    /// Writes a list of attributes into the start of `buf`.
    pub fn emit_list(list: &[Attribute], buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        for a in list {
            a.emit(w.sub(a.buffer_len())?)?;
        }
        Ok(())
    }
}

/// One lifetime: a Life Type and the Life Duration that follows it (RFC 2409 Appendix A,
/// RFC 2407 §4.5). A transform may carry one of each type (seconds and kilobytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lifetime {
    /// Seconds or kilobytes.
    pub life_type: LifeType,
    /// The duration in that unit.
    pub duration: u64,
}

impl Lifetime {
    /// A lifetime in seconds.
    pub const fn seconds(duration: u64) -> Self {
        Lifetime {
            life_type: LifeType::SECONDS,
            duration,
        }
    }

    /// A lifetime in kilobytes.
    pub const fn kilobytes(duration: u64) -> Self {
        Lifetime {
            life_type: LifeType::KILOBYTES,
            duration,
        }
    }
}

/// Sets a once-only field, refusing a repeat.
fn once<V>(slot: &mut Option<V>, v: V, attr_type: u16) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::BadAttribute {
            attr_type,
            reason: "repeated in one transform",
        });
    }
    *slot = Some(v);
    Ok(())
}

/// Collects Life Type / Life Duration pairs: a duration must follow a type (RFC 2409
/// Appendix A), and a type must be followed by its duration.
#[derive(Default)]
struct LifetimePairs {
    pending: Option<(LifeType, u16)>,
    out: Vec<Lifetime>,
}

impl LifetimePairs {
    fn life_type(&mut self, a: &Attribute) -> Result<(), Error> {
        self.unpaired()?;
        self.pending = Some((LifeType(a.as_basic()?), a.attr_type));
        Ok(())
    }

    fn duration(&mut self, a: &Attribute) -> Result<(), Error> {
        let Some((life_type, _)) = self.pending.take() else {
            return Err(Error::BadAttribute {
                attr_type: a.attr_type,
                reason: "a life duration not preceded by its life type",
            });
        };
        self.out.push(Lifetime {
            life_type,
            duration: a.as_integer()?,
        });
        Ok(())
    }

    fn unpaired(&self) -> Result<(), Error> {
        match self.pending {
            Some((_, attr_type)) => Err(Error::BadAttribute {
                attr_type,
                reason: "a life type without its life duration",
            }),
            None => Ok(()),
        }
    }

    fn finish(self) -> Result<Vec<Lifetime>, Error> {
        self.unpaired()?;
        Ok(self.out)
    }
}

fn push_lifetimes(out: &mut Vec<Attribute>, lifetimes: &[Lifetime], ty: u16, dur: u16) {
    for l in lifetimes {
        out.push(Attribute::basic(ty, l.life_type.0));
        out.push(Attribute::integer(dur, l.duration));
    }
}

/// The attributes of a phase 1 (PROTO_ISAKMP, KEY_IKE) transform, typed (RFC 2409
/// Appendix A): what `crypto isakmp policy` configures on IOS.
///
/// ```
/// use dmvpn_ikev1::wire::{
///     AuthMethod, EncryptionAlgorithm, GroupDescription, HashAlgorithm, IkeAttributes, Lifetime,
/// };
///
/// // crypto isakmp policy 10 / encryption aes 256 / hash sha256 / authentication pre-share /
/// // group 14 / lifetime 86400
/// let policy = IkeAttributes {
///     encryption: Some(EncryptionAlgorithm::AES_CBC),
///     key_length: Some(256),
///     hash: Some(HashAlgorithm::SHA2_256),
///     group: Some(GroupDescription::MODP_2048),
///     auth_method: Some(AuthMethod::PRE_SHARED_KEY),
///     lifetimes: vec![Lifetime::seconds(86_400)],
///     ..IkeAttributes::default()
/// };
/// let attributes = policy.to_attributes();
/// assert_eq!(attributes.len(), 7);
/// assert_eq!(IkeAttributes::parse(&attributes)?, policy);
/// # Ok::<(), dmvpn_ikev1::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IkeAttributes {
    /// Encryption Algorithm (1).
    pub encryption: Option<EncryptionAlgorithm>,
    /// Key Length (14), in bits, for ciphers with a variable key (AES).
    pub key_length: Option<u16>,
    /// Hash Algorithm (2).
    pub hash: Option<HashAlgorithm>,
    /// Group Description (4).
    pub group: Option<GroupDescription>,
    /// Authentication Method (3).
    pub auth_method: Option<AuthMethod>,
    /// Group Type (5), for a group defined by its attributes rather than its description.
    pub group_type: Option<GroupType>,
    /// PRF (13) (no value is assigned; RFC 2409 uses the HMAC of the hash when it is absent).
    pub prf: Option<u16>,
    /// Life Type (11) / Life Duration (12) pairs.
    pub lifetimes: Vec<Lifetime>,
    /// Every other attribute (the group definition attributes 6–10, 15, 16, and unknown
    /// types), in order.
    pub other: Vec<Attribute>,
}

impl IkeAttributes {
    /// Reads a phase 1 transform's attributes. A basic attribute in TLV form, a repeated
    /// attribute or an unpaired life type or duration is [`Error::BadAttribute`].
    pub fn parse(attributes: &[Attribute]) -> Result<Self, Error> {
        let mut r = IkeAttributes::default();
        let mut lifetimes = LifetimePairs::default();
        for a in attributes {
            let t = a.attr_type;
            match IkeAttributeType(t) {
                IkeAttributeType::LIFE_DURATION => lifetimes.duration(a)?,
                other => {
                    lifetimes.unpaired()?;
                    match other {
                        IkeAttributeType::ENCRYPTION_ALGORITHM => {
                            once(&mut r.encryption, EncryptionAlgorithm(a.as_basic()?), t)?;
                        }
                        IkeAttributeType::HASH_ALGORITHM => {
                            once(&mut r.hash, HashAlgorithm(a.as_basic()?), t)?;
                        }
                        IkeAttributeType::AUTHENTICATION_METHOD => {
                            once(&mut r.auth_method, AuthMethod(a.as_basic()?), t)?;
                        }
                        IkeAttributeType::GROUP_DESCRIPTION => {
                            once(&mut r.group, GroupDescription(a.as_basic()?), t)?;
                        }
                        IkeAttributeType::GROUP_TYPE => {
                            once(&mut r.group_type, GroupType(a.as_basic()?), t)?;
                        }
                        IkeAttributeType::PRF => once(&mut r.prf, a.as_basic()?, t)?,
                        IkeAttributeType::KEY_LENGTH => once(&mut r.key_length, a.as_basic()?, t)?,
                        IkeAttributeType::LIFE_TYPE => lifetimes.life_type(a)?,
                        _ => r.other.push(a.clone()),
                    }
                }
            }
        }
        r.lifetimes = lifetimes.finish()?;
        Ok(r)
    }

    /// The attributes in the order Cisco IOS sends them: encryption, key length, hash, group,
    /// authentication, group type, PRF, then each life type with its duration (as a 4-byte
    /// TLV, 8 bytes beyond 32 bits), then the others.
    pub fn to_attributes(&self) -> Vec<Attribute> {
        let mut out = Vec::new();
        let basic = |out: &mut Vec<Attribute>, t: IkeAttributeType, v: Option<u16>| {
            if let Some(v) = v {
                out.push(Attribute::basic(t.0, v));
            }
        };
        basic(
            &mut out,
            IkeAttributeType::ENCRYPTION_ALGORITHM,
            self.encryption.map(|v| v.0),
        );
        basic(&mut out, IkeAttributeType::KEY_LENGTH, self.key_length);
        basic(
            &mut out,
            IkeAttributeType::HASH_ALGORITHM,
            self.hash.map(|v| v.0),
        );
        basic(
            &mut out,
            IkeAttributeType::GROUP_DESCRIPTION,
            self.group.map(|v| v.0),
        );
        basic(
            &mut out,
            IkeAttributeType::AUTHENTICATION_METHOD,
            self.auth_method.map(|v| v.0),
        );
        basic(
            &mut out,
            IkeAttributeType::GROUP_TYPE,
            self.group_type.map(|v| v.0),
        );
        basic(&mut out, IkeAttributeType::PRF, self.prf);
        push_lifetimes(
            &mut out,
            &self.lifetimes,
            IkeAttributeType::LIFE_TYPE.0,
            IkeAttributeType::LIFE_DURATION.0,
        );
        out.extend(self.other.iter().cloned());
        out
    }

    /// The lifetime in seconds, if one is given.
    pub fn lifetime_seconds(&self) -> Option<u64> {
        lifetime_of(&self.lifetimes, LifeType::SECONDS)
    }
}

fn lifetime_of(lifetimes: &[Lifetime], t: LifeType) -> Option<u64> {
    lifetimes
        .iter()
        .find(|l| l.life_type == t)
        .map(|l| l.duration)
}

/// The attributes of an IPsec DOI (ESP, AH, IPCOMP) transform, typed (RFC 2407 §4.5, with
/// the UDP encapsulation modes of RFC 3947 §5.1 and its drafts): what `crypto ipsec
/// transform-set`, `set security-association lifetime` and `set pfs` configure on IOS.
///
/// ```
/// use dmvpn_ikev1::wire::{AuthAlgorithm, EncapsulationMode, IpsecAttributes, Lifetime};
///
/// // crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac / mode transport
/// let ts = IpsecAttributes {
///     encapsulation: Some(EncapsulationMode::TRANSPORT),
///     lifetimes: vec![Lifetime::seconds(3600), Lifetime::kilobytes(4_608_000)],
///     auth_algorithm: Some(AuthAlgorithm::HMAC_SHA2_256),
///     key_length: Some(256),
///     ..IpsecAttributes::default()
/// };
/// assert_eq!(IpsecAttributes::parse(&ts.to_attributes())?, ts);
/// # Ok::<(), dmvpn_ikev1::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IpsecAttributes {
    /// Encapsulation Mode (4).
    pub encapsulation: Option<EncapsulationMode>,
    /// SA Life Type (1) / SA Life Duration (2) pairs.
    pub lifetimes: Vec<Lifetime>,
    /// Group Description (3): the PFS group of Quick Mode.
    pub group: Option<GroupDescription>,
    /// Authentication Algorithm (5).
    pub auth_algorithm: Option<AuthAlgorithm>,
    /// Key Length (6), in bits.
    pub key_length: Option<u16>,
    /// Key Rounds (7).
    pub key_rounds: Option<u16>,
    /// Every other attribute (compression, ESN, ECN, … and unknown types), in order.
    pub other: Vec<Attribute>,
}

impl IpsecAttributes {
    /// Reads an IPsec DOI transform's attributes, with the rules of
    /// [`IkeAttributes::parse`].
    pub fn parse(attributes: &[Attribute]) -> Result<Self, Error> {
        let mut r = IpsecAttributes::default();
        let mut lifetimes = LifetimePairs::default();
        for a in attributes {
            let t = a.attr_type;
            match IpsecAttributeType(t) {
                IpsecAttributeType::SA_LIFE_DURATION => lifetimes.duration(a)?,
                other => {
                    lifetimes.unpaired()?;
                    match other {
                        IpsecAttributeType::SA_LIFE_TYPE => lifetimes.life_type(a)?,
                        IpsecAttributeType::GROUP_DESCRIPTION => {
                            once(&mut r.group, GroupDescription(a.as_basic()?), t)?;
                        }
                        IpsecAttributeType::ENCAPSULATION_MODE => {
                            once(&mut r.encapsulation, EncapsulationMode(a.as_basic()?), t)?;
                        }
                        IpsecAttributeType::AUTHENTICATION_ALGORITHM => {
                            once(&mut r.auth_algorithm, AuthAlgorithm(a.as_basic()?), t)?;
                        }
                        IpsecAttributeType::KEY_LENGTH => {
                            once(&mut r.key_length, a.as_basic()?, t)?;
                        }
                        IpsecAttributeType::KEY_ROUNDS => {
                            once(&mut r.key_rounds, a.as_basic()?, t)?;
                        }
                        _ => r.other.push(a.clone()),
                    }
                }
            }
        }
        r.lifetimes = lifetimes.finish()?;
        Ok(r)
    }

    /// The attributes in the order Cisco IOS sends them: encapsulation mode, each life type
    /// with its duration (as a 4-byte TLV, 8 bytes beyond 32 bits), group, authentication
    /// algorithm, key length, key rounds, then the others.
    pub fn to_attributes(&self) -> Vec<Attribute> {
        let mut out = Vec::new();
        let basic = |out: &mut Vec<Attribute>, t: IpsecAttributeType, v: Option<u16>| {
            if let Some(v) = v {
                out.push(Attribute::basic(t.0, v));
            }
        };
        basic(
            &mut out,
            IpsecAttributeType::ENCAPSULATION_MODE,
            self.encapsulation.map(|v| v.0),
        );
        push_lifetimes(
            &mut out,
            &self.lifetimes,
            IpsecAttributeType::SA_LIFE_TYPE.0,
            IpsecAttributeType::SA_LIFE_DURATION.0,
        );
        basic(
            &mut out,
            IpsecAttributeType::GROUP_DESCRIPTION,
            self.group.map(|v| v.0),
        );
        basic(
            &mut out,
            IpsecAttributeType::AUTHENTICATION_ALGORITHM,
            self.auth_algorithm.map(|v| v.0),
        );
        basic(&mut out, IpsecAttributeType::KEY_LENGTH, self.key_length);
        basic(&mut out, IpsecAttributeType::KEY_ROUNDS, self.key_rounds);
        out.extend(self.other.iter().cloned());
        out
    }

    /// The lifetime in seconds, if one is given.
    pub fn lifetime_seconds(&self) -> Option<u64> {
        lifetime_of(&self.lifetimes, LifeType::SECONDS)
    }

    /// The lifetime in kilobytes, if one is given.
    pub fn lifetime_kilobytes(&self) -> Option<u64> {
        lifetime_of(&self.lifetimes, LifeType::KILOBYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_form() {
        assert_eq!(Attribute::basic(12, 600).as_integer(), Ok(600));
        assert_eq!(
            Attribute::variable(12, &[0, 1, 0x51, 0x80]).as_integer(),
            Ok(86_400)
        );
        assert_eq!(
            Attribute::variable(12, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]).as_integer(),
            Ok(1)
        );
        assert!(Attribute::variable(12, &[]).as_integer().is_err());
        assert!(Attribute::variable(12, &[1; 9]).as_integer().is_err());
        assert_eq!(Attribute::integer(12, 86_400).buffer_len(), 8);
        assert_eq!(Attribute::integer(12, 1 << 40).buffer_len(), 12);
        assert_eq!(Attribute::integer(12, 1 << 40).as_integer(), Ok(1 << 40));
    }

    #[test]
    fn lifetimes_must_pair() {
        let ty = Attribute::basic(11, 1);
        let dur = Attribute::integer(12, 3600);
        let enc = Attribute::basic(1, 7);
        assert_eq!(
            IkeAttributes::parse(&[ty.clone(), dur.clone()])
                .unwrap()
                .lifetime_seconds(),
            Some(3600)
        );
        assert!(IkeAttributes::parse(std::slice::from_ref(&dur)).is_err());
        assert!(IkeAttributes::parse(std::slice::from_ref(&ty)).is_err());
        assert!(IkeAttributes::parse(&[ty.clone(), enc.clone(), dur]).is_err());
        assert!(IkeAttributes::parse(&[enc.clone(), enc]).is_err());
        assert!(IkeAttributes::parse(&[Attribute::variable(1, &[0, 7])]).is_err());
    }

    #[test]
    fn unknown_attributes_are_kept_in_order() {
        let list = [
            Attribute::basic(1, 7),
            Attribute::variable(6, &[1, 2, 3]),
            Attribute::basic(0x7000, 9),
        ];
        let r = IkeAttributes::parse(&list).unwrap();
        assert_eq!(r.other, list[1..]);
        assert_eq!(r.to_attributes(), list);
    }

    #[test]
    fn attribute_type_beyond_15_bits_is_refused() {
        let mut b = [0u8; 4];
        assert!(Attribute::basic(0x8001, 1).emit(&mut b).is_err());
    }
}
