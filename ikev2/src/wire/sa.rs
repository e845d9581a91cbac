//! The Security Association payload (RFC 7296 §3.3): proposals, transforms and transform
//! attributes.
//!
//! ```text
//! Proposal:   | Last Substruc | RESERVED | Proposal Length (2) |
//!             | Proposal Num  | Protocol ID | SPI Size | Num Transforms |
//!             | SPI (variable) ... | Transforms ... |
//! Transform:  | Last Substruc | RESERVED | Transform Length (2) |
//!             | Transform Type | RESERVED | Transform ID (2) | Attributes ... |
//! Attribute:  |A| Attribute Type (15) | Attribute Length or Value (2) | [Value] |
//! ```
//!
//! The Last Substruc fields (0 = last, 2 = more proposals, 3 = more transforms) are computed
//! on emit; on receipt the lengths delimit the substructures.

use super::{ProtocolId, Writer, be16, len16, truncated, u8_at};
use crate::Error;
use crate::transform::{EncrId, EsnId, IntegId, KeGroup, PrfId, TransformType};

/// The SA payload body: one or more proposals.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SaPayload {
    /// The proposals, in order of preference.
    pub proposals: Vec<Proposal>,
}

impl SaPayload {
    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let mut rest = b;
        let mut proposals = Vec::new();
        while !rest.is_empty() {
            let len = be16(rest, 2).ok_or(truncated("proposal", 8, rest.len()))?;
            let len = usize::from(len);
            if len < 8 {
                return Err(Error::BadLength {
                    what: "proposal",
                    length: len,
                });
            }
            let p = rest
                .get(..len)
                .ok_or(truncated("proposal", len, rest.len()))?;
            proposals.push(Proposal::parse(p)?);
            rest = rest.get(len..).unwrap_or(&[]);
        }
        Ok(SaPayload { proposals })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        self.proposals
            .iter()
            .fold(0usize, |n, p| n.saturating_add(p.buffer_len()))
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        let count = self.proposals.len();
        for (i, p) in self.proposals.iter().enumerate() {
            let last = i + 1 == count;
            p.emit(last, w.sub(p.buffer_len())?)?;
        }
        Ok(())
    }
}

/// One proposal: a numbered set of transforms for one protocol, with the SPI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// The proposal number (1 for the first, then consecutive; the responder echoes it).
    pub number: u8,
    /// IKE, AH or ESP.
    pub protocol_id: ProtocolId,
    /// The SPI: empty in an initial IKE_SA_INIT, 8 bytes when rekeying IKE, 4 bytes for ESP.
    pub spi: Vec<u8>,
    /// The transforms (all types mixed; the order within one type is the preference).
    pub transforms: Vec<Transform>,
}

impl Proposal {
    /// Parses one proposal substructure (exactly its Proposal Length bytes).
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(number), Some(protocol), Some(spi_size), Some(count)) =
            (u8_at(b, 4), u8_at(b, 5), u8_at(b, 6), u8_at(b, 7))
        else {
            return Err(truncated("proposal", 8, b.len()));
        };
        let spi_end = 8 + usize::from(spi_size);
        let spi = b
            .get(8..spi_end)
            .ok_or(truncated("proposal SPI", spi_end, b.len()))?;
        let mut rest = b.get(spi_end..).unwrap_or(&[]);
        let mut transforms = Vec::with_capacity(usize::from(count));
        while !rest.is_empty() {
            let len = usize::from(be16(rest, 2).ok_or(truncated("transform", 8, rest.len()))?);
            if len < 8 {
                return Err(Error::BadLength {
                    what: "transform",
                    length: len,
                });
            }
            let t = rest
                .get(..len)
                .ok_or(truncated("transform", len, rest.len()))?;
            transforms.push(Transform::parse(t)?);
            rest = rest.get(len..).unwrap_or(&[]);
        }
        if transforms.len() != usize::from(count) {
            return Err(Error::Malformed(
                "proposal: Num Transforms does not match its transforms",
            ));
        }
        Ok(Proposal {
            number,
            protocol_id: ProtocolId(protocol),
            spi: spi.to_vec(),
            transforms,
        })
    }

    /// Length of the substructure.
    pub fn buffer_len(&self) -> usize {
        self.transforms
            .iter()
            .fold(8usize.saturating_add(self.spi.len()), |n, t| {
                n.saturating_add(t.buffer_len())
            })
    }

    /// Writes the substructure; `last` selects the Last Substruc value (0, or 2 for more).
    pub fn emit(&self, last: bool, buf: &mut [u8]) -> Result<(), Error> {
        let len = len16("proposal", self.buffer_len())?;
        let spi_size = u8::try_from(self.spi.len()).map_err(|_| Error::TooLong {
            what: "proposal SPI",
            len: self.spi.len(),
        })?;
        let count = u8::try_from(self.transforms.len()).map_err(|_| Error::TooLong {
            what: "proposal transforms",
            len: self.transforms.len(),
        })?;
        let mut w = Writer::new(buf);
        w.put(&[if last { 0 } else { 2 }, 0])?;
        w.u16(len)?;
        w.put(&[self.number, self.protocol_id.0, spi_size, count])?;
        w.put(&self.spi)?;
        for (i, t) in self.transforms.iter().enumerate() {
            t.emit(i + 1 == self.transforms.len(), w.sub(t.buffer_len())?)?;
        }
        Ok(())
    }

    /// The transforms of one type, in order.
    pub fn of_type(&self, ty: TransformType) -> impl Iterator<Item = &Transform> + '_ {
        self.transforms
            .iter()
            .filter(move |t| t.transform_type == ty)
    }
}

/// One transform: type, ID and attributes (such as the key length).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transform {
    /// ENCR, PRF, INTEG, KE or ESN.
    pub transform_type: TransformType,
    /// The transform ID within its type (see [`EncrId`], [`PrfId`], [`IntegId`], [`KeGroup`],
    /// [`EsnId`]).
    pub transform_id: u16,
    /// The attributes (in IKEv2 only Key Length, RFC 7296 §3.3.5).
    pub attributes: Vec<Attribute>,
}

impl Transform {
    /// An ENCR transform with an optional key length in bits.
    pub fn encr(id: EncrId, key_bits: Option<u16>) -> Self {
        Transform {
            transform_type: TransformType::ENCR,
            transform_id: id.0,
            attributes: key_bits
                .map(|k| vec![Attribute::key_length(k)])
                .unwrap_or_default(),
        }
    }

    /// A PRF transform.
    pub fn prf(id: PrfId) -> Self {
        Self::plain(TransformType::PRF, id.0)
    }

    /// An INTEG transform.
    pub fn integ(id: IntegId) -> Self {
        Self::plain(TransformType::INTEG, id.0)
    }

    /// A KE (Diffie-Hellman group) transform.
    pub fn ke(id: KeGroup) -> Self {
        Self::plain(TransformType::KE, id.0)
    }

    /// An ESN transform.
    pub fn esn(id: EsnId) -> Self {
        Self::plain(TransformType::ESN, id.0)
    }

    fn plain(transform_type: TransformType, transform_id: u16) -> Self {
        Transform {
            transform_type,
            transform_id,
            attributes: Vec::new(),
        }
    }

    /// The Key Length attribute, if present.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a.value {
            AttributeValue::Short(v) if a.attr_type == Attribute::KEY_LENGTH => Some(v),
            _ => None,
        })
    }

    /// Parses one transform substructure (exactly its Transform Length bytes).
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(ty), Some(id)) = (u8_at(b, 4), be16(b, 6)) else {
            return Err(truncated("transform", 8, b.len()));
        };
        let mut rest = b.get(8..).unwrap_or(&[]);
        let mut attributes = Vec::new();
        while !rest.is_empty() {
            let (a, len) = Attribute::parse(rest)?;
            attributes.push(a);
            rest = rest.get(len..).unwrap_or(&[]);
        }
        Ok(Transform {
            transform_type: TransformType(ty),
            transform_id: id,
            attributes,
        })
    }

    /// Length of the substructure.
    pub fn buffer_len(&self) -> usize {
        self.attributes
            .iter()
            .fold(8usize, |n, a| n.saturating_add(a.buffer_len()))
    }

    /// Writes the substructure; `last` selects the Last Substruc value (0, or 3 for more).
    pub fn emit(&self, last: bool, buf: &mut [u8]) -> Result<(), Error> {
        let len = len16("transform", self.buffer_len())?;
        let mut w = Writer::new(buf);
        w.put(&[if last { 0 } else { 3 }, 0])?;
        w.u16(len)?;
        w.put(&[self.transform_type.0, 0])?;
        w.u16(self.transform_id)?;
        for a in &self.attributes {
            a.emit(w.sub(a.buffer_len())?)?;
        }
        Ok(())
    }
}

/// A transform attribute's value: TV (the AF bit set, a 16-bit value) or TLV.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    /// Type/Value format (AF = 1): a 16-bit value.
    Short(u16),
    /// Type/Length/Value format (AF = 0).
    Long(Vec<u8>),
}

/// A transform attribute (RFC 7296 §3.3.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// The attribute type (15 bits).
    pub attr_type: u16,
    /// The value.
    pub value: AttributeValue,
}

impl Attribute {
    /// The Key Length attribute type (14), in bits, TV format.
    pub const KEY_LENGTH: u16 = 14;

    /// A Key Length attribute.
    pub fn key_length(bits: u16) -> Self {
        Attribute {
            attr_type: Self::KEY_LENGTH,
            value: AttributeValue::Short(bits),
        }
    }

    /// Parses one attribute from the start of `b`; returns it and its length.
    pub fn parse(b: &[u8]) -> Result<(Self, usize), Error> {
        let (Some(t), Some(v)) = (be16(b, 0), be16(b, 2)) else {
            return Err(truncated("transform attribute", 4, b.len()));
        };
        let attr_type = t & 0x7fff;
        if t & 0x8000 != 0 {
            Ok((
                Attribute {
                    attr_type,
                    value: AttributeValue::Short(v),
                },
                4,
            ))
        } else {
            let end = 4 + usize::from(v);
            let value = b
                .get(4..end)
                .ok_or(truncated("transform attribute", end, b.len()))?;
            Ok((
                Attribute {
                    attr_type,
                    value: AttributeValue::Long(value.to_vec()),
                },
                end,
            ))
        }
    }

    /// Length on the wire.
    pub fn buffer_len(&self) -> usize {
        match &self.value {
            AttributeValue::Short(_) => 4,
            AttributeValue::Long(v) => 4usize.saturating_add(v.len()),
        }
    }

    /// Writes the attribute.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        match &self.value {
            AttributeValue::Short(v) => {
                w.u16(0x8000 | (self.attr_type & 0x7fff))?;
                w.u16(*v)
            }
            AttributeValue::Long(v) => {
                w.u16(self.attr_type & 0x7fff)?;
                w.u16(len16("transform attribute", v.len())?)?;
                w.put(v)
            }
        }
    }
}
