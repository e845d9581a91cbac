//! The Security Association payload (RFC 2408 §3.4, RFC 2407 §4.6.1) with its Proposal
//! (§3.5) and Transform (§3.6) payloads.
//!
//! ```text
//! SA body:     | Domain of Interpretation (4) | Situation (4) | Proposals ... |
//! Proposal:    | Next Payload | RESERVED | Payload Length (2) |
//!              | Proposal # | Protocol-Id | SPI Size | # of Transforms | SPI | Transforms ... |
//! Transform:   | Next Payload | RESERVED | Payload Length (2) |
//!              | Transform # | Transform-Id | RESERVED2 (2) | SA Attributes ... |
//! ```
//!
//! Proposals and transforms are payloads of their own (types 2 and 3) nested in the SA
//! payload; their Next Payload fields (2 or 3 while more follow, 0 for the last) are computed
//! on emit, and on receipt the lengths delimit them. Proposals sharing a number form one
//! logical proposal (an AND of protocols, RFC 2408 §4.2); they are kept in order as sent.

use super::{
    AhTransformId, Attribute, Doi, EspTransformId, GENERIC_HEADER_LEN, IkeAttributes,
    IpsecAttributes, IsakmpTransformId, PayloadType, ProtocolId, Situation, Writer, be16, be32,
    len8, len16, sum_len, truncated, u8_at,
};
use crate::Error;

/// The SA payload body: DOI, situation and the proposals.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SaPayload {
    /// The Domain of Interpretation (IPSEC for everything DMVPN negotiates).
    pub doi: Doi,
    /// The situation (SIT_IDENTITY_ONLY in practice).
    pub situation: Situation,
    /// The proposals, in order of preference.
    pub proposals: Vec<Proposal>,
}

impl SaPayload {
    /// An IPsec DOI, SIT_IDENTITY_ONLY SA payload with these proposals.
    pub fn ipsec(proposals: Vec<Proposal>) -> Self {
        SaPayload {
            doi: Doi::IPSEC,
            situation: Situation::IDENTITY_ONLY,
            proposals,
        }
    }

    /// Parses the body. A situation with labelled-domain fields (RFC 2407 §4.6.1) is
    /// [`Error::UnsupportedSituation`].
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(doi), Some(situation)) = (be32(b, 0), be32(b, 4)) else {
            return Err(truncated("SA payload", 8, b.len()));
        };
        let situation = Situation(situation);
        if situation.has_labels() {
            return Err(Error::UnsupportedSituation(situation.0));
        }
        let mut rest = b.get(8..).unwrap_or(&[]);
        let mut proposals = Vec::new();
        while !rest.is_empty() {
            let p = nested(rest, "proposal", 8)?;
            proposals.push(Proposal::parse(p)?);
            rest = rest.get(p.len()..).unwrap_or(&[]);
        }
        Ok(SaPayload {
            doi: Doi(doi),
            situation,
            proposals,
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        8usize.saturating_add(sum_len(self.proposals.iter().map(Proposal::buffer_len)))
    }

    /// Writes the body into `buf` (exactly [`SaPayload::buffer_len`] bytes).
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u32(self.doi.0)?;
        w.u32(self.situation.0)?;
        for (i, p) in self.proposals.iter().enumerate() {
            let last = i + 1 == self.proposals.len();
            p.emit(last, w.sub(p.buffer_len())?)?;
        }
        Ok(())
    }
}

/// The next nested payload of `rest`: its Payload Length bytes, checked to hold at least
/// `min` bytes.
fn nested<'a>(rest: &'a [u8], what: &'static str, min: usize) -> Result<&'a [u8], Error> {
    let len = usize::from(be16(rest, 2).ok_or(truncated(what, min, rest.len()))?);
    if len < min {
        return Err(Error::BadLength { what, length: len });
    }
    rest.get(..len).ok_or(truncated(what, len, rest.len()))
}

/// Writes a nested payload's generic header: Next Payload `more` unless `last`.
fn nested_header(
    w: &mut Writer<'_>,
    last: bool,
    more: PayloadType,
    what: &'static str,
    len: usize,
) -> Result<(), Error> {
    w.u8(if last { PayloadType::NONE.0 } else { more.0 })?;
    w.u8(0)?;
    w.u16(len16(what, len)?)
}

/// One proposal payload: a numbered offer of transforms for one protocol, with the SPI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// The proposal number (proposals with the same number are combined, RFC 2408 §4.2).
    pub number: u8,
    /// PROTO_ISAKMP in phase 1; PROTO_IPSEC_ESP (or AH, IPCOMP) in Quick Mode.
    pub protocol_id: ProtocolId,
    /// The SPI: empty (or the cookies) in phase 1, 4 bytes for ESP and AH, 2 (the CPI) for
    /// IPCOMP.
    pub spi: Vec<u8>,
    /// The transforms, in order of preference (the responder returns the one it chose).
    pub transforms: Vec<Transform>,
}

impl Proposal {
    /// Parses one proposal payload (exactly its Payload Length bytes, generic header
    /// included). The number of transforms must match the # of Transforms field.
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
            let t = nested(rest, "transform", 8)?;
            transforms.push(Transform::parse(t)?);
            rest = rest.get(t.len()..).unwrap_or(&[]);
        }
        if transforms.len() != usize::from(count) {
            return Err(Error::Malformed(
                "proposal: # of Transforms does not match its transforms",
            ));
        }
        Ok(Proposal {
            number,
            protocol_id: ProtocolId(protocol),
            spi: spi.to_vec(),
            transforms,
        })
    }

    /// Length of the proposal payload (generic header included).
    pub fn buffer_len(&self) -> usize {
        (GENERIC_HEADER_LEN + 4)
            .saturating_add(self.spi.len())
            .saturating_add(sum_len(self.transforms.iter().map(Transform::buffer_len)))
    }

    /// Writes the proposal payload; `last` selects its Next Payload (0, or 2 for more).
    pub fn emit(&self, last: bool, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        nested_header(
            &mut w,
            last,
            PayloadType::PROPOSAL,
            "proposal",
            self.buffer_len(),
        )?;
        w.u8(self.number)?;
        w.u8(self.protocol_id.0)?;
        w.u8(len8("proposal SPI", self.spi.len())?)?;
        w.u8(len8("proposal transforms", self.transforms.len())?)?;
        w.put(&self.spi)?;
        for (i, t) in self.transforms.iter().enumerate() {
            t.emit(i + 1 == self.transforms.len(), w.sub(t.buffer_len())?)?;
        }
        Ok(())
    }
}

/// One transform payload: number, transform ID and SA attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transform {
    /// The transform number (the responder echoes the one it chose).
    pub number: u8,
    /// The transform ID, read by the proposal's protocol: [`IsakmpTransformId`],
    /// [`EspTransformId`], [`AhTransformId`] or
    /// [`IpcompTransformId`](super::IpcompTransformId).
    pub transform_id: u8,
    /// The SA attributes (read them with [`Transform::ike_attributes`] or
    /// [`Transform::ipsec_attributes`]).
    pub attributes: Vec<Attribute>,
}

impl Transform {
    /// A phase 1 transform (KEY_IKE) with these attributes.
    pub fn ike(number: u8, attributes: &IkeAttributes) -> Self {
        Transform {
            number,
            transform_id: IsakmpTransformId::KEY_IKE.0,
            attributes: attributes.to_attributes(),
        }
    }

    /// An ESP transform with these attributes.
    pub fn esp(number: u8, id: EspTransformId, attributes: &IpsecAttributes) -> Self {
        Transform {
            number,
            transform_id: id.0,
            attributes: attributes.to_attributes(),
        }
    }

    /// An AH transform with these attributes.
    pub fn ah(number: u8, id: AhTransformId, attributes: &IpsecAttributes) -> Self {
        Transform {
            number,
            transform_id: id.0,
            attributes: attributes.to_attributes(),
        }
    }

    /// The attributes read as a phase 1 transform's (RFC 2409 Appendix A).
    pub fn ike_attributes(&self) -> Result<IkeAttributes, Error> {
        IkeAttributes::parse(&self.attributes)
    }

    /// The attributes read as an IPsec DOI transform's (RFC 2407 §4.5).
    pub fn ipsec_attributes(&self) -> Result<IpsecAttributes, Error> {
        IpsecAttributes::parse(&self.attributes)
    }

    /// Parses one transform payload (exactly its Payload Length bytes, generic header
    /// included).
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(number), Some(id)) = (u8_at(b, 4), u8_at(b, 5)) else {
            return Err(truncated("transform", 8, b.len()));
        };
        let attrs = b.get(8..).ok_or(truncated("transform", 8, b.len()))?;
        Ok(Transform {
            number,
            transform_id: id,
            attributes: Attribute::parse_list(attrs)?,
        })
    }

    /// Length of the transform payload (generic header included).
    pub fn buffer_len(&self) -> usize {
        (GENERIC_HEADER_LEN + 4).saturating_add(Attribute::list_len(&self.attributes))
    }

    /// Writes the transform payload; `last` selects its Next Payload (0, or 3 for more).
    pub fn emit(&self, last: bool, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        nested_header(
            &mut w,
            last,
            PayloadType::TRANSFORM,
            "transform",
            self.buffer_len(),
        )?;
        w.put(&[self.number, self.transform_id, 0, 0])?;
        let len = Attribute::list_len(&self.attributes);
        Attribute::emit_list(&self.attributes, w.sub(len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_situations_are_refused() {
        let b = [0, 0, 0, 1, 0, 0, 0, 3];
        assert_eq!(SaPayload::parse(&b), Err(Error::UnsupportedSituation(3)));
    }

    #[test]
    fn transform_count_must_match() {
        let p = Proposal {
            number: 1,
            protocol_id: ProtocolId::ESP,
            spi: vec![1, 2, 3, 4],
            transforms: vec![Transform {
                number: 1,
                transform_id: 12,
                attributes: vec![],
            }],
        };
        let mut b = vec![0u8; p.buffer_len()];
        p.emit(true, &mut b).unwrap();
        assert_eq!(Proposal::parse(&b).unwrap(), p);
        b[7] = 2;
        assert!(matches!(Proposal::parse(&b), Err(Error::Malformed(_))));
        b[7] = 1;
        b[14] = 0; // the transform's length: 0
        b[15] = 0;
        assert!(matches!(
            Proposal::parse(&b),
            Err(Error::BadLength {
                what: "transform",
                length: 0
            })
        ));
    }
}
