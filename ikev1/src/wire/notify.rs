//! The Notification (RFC 2408 §3.14, RFC 2407 §4.6.3, RFC 3706 §5) and Delete (RFC 2408
//! §3.15) payloads.
//!
//! ```text
//! Notification: | Domain of Interpretation (4) | Protocol-ID | SPI Size | Notify Type (2) |
//!               | SPI ... | Notification Data ... |
//! Delete:       | Domain of Interpretation (4) | Protocol-ID | SPI Size | # of SPIs (2) |
//!               | SPIs ... |
//! ```

use super::{
    Attribute, Doi, NotifyType, ProtocolId, Writer, be16, be32, len8, len16, sum_len, truncated,
    u8_at,
};
use crate::Error;

/// The SPI of a notification or delete about an ISAKMP SA: the two cookies (RFC 2408 §3.14,
/// RFC 3706 §5), 16 bytes.
pub fn isakmp_spi(cookie_i: u64, cookie_r: u64) -> Vec<u8> {
    let mut spi = cookie_i.to_be_bytes().to_vec();
    spi.extend_from_slice(&cookie_r.to_be_bytes());
    spi
}

/// A Notification payload body.
///
/// ```
/// use dmvpn_ikev1::wire::{NotifyPayload, NotifyType};
///
/// // RFC 3706 §5: an R-U-THERE about the ISAKMP SA, sequence number 7.
/// let dpd = NotifyPayload::r_u_there(0x1111, 0x2222, 7);
/// assert_eq!(dpd.notify_type, NotifyType::R_U_THERE);
/// assert_eq!(dpd.spi.len(), 16);
/// assert_eq!(dpd.dpd_sequence(), Some(7));
/// assert_eq!(NotifyPayload::parse(&dpd.to_body()?)?, dpd);
/// # Ok::<(), dmvpn_ikev1::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyPayload {
    /// The Domain of Interpretation.
    pub doi: Doi,
    /// The protocol the SPI belongs to.
    pub protocol_id: ProtocolId,
    /// The SPI (the cookies for PROTO_ISAKMP, 4 bytes for ESP and AH; may be empty).
    pub spi: Vec<u8>,
    /// The notify message type.
    pub notify_type: NotifyType,
    /// Type-specific data.
    pub data: Vec<u8>,
}

impl NotifyPayload {
    /// An IPsec DOI notification.
    pub fn new(protocol_id: ProtocolId, spi: &[u8], notify_type: NotifyType, data: &[u8]) -> Self {
        NotifyPayload {
            doi: Doi::IPSEC,
            protocol_id,
            spi: spi.to_vec(),
            notify_type,
            data: data.to_vec(),
        }
    }

    /// R-U-THERE (RFC 3706 §5): about the ISAKMP SA of these cookies, with a sequence number.
    pub fn r_u_there(cookie_i: u64, cookie_r: u64, sequence: u32) -> Self {
        Self::new(
            ProtocolId::ISAKMP,
            &isakmp_spi(cookie_i, cookie_r),
            NotifyType::R_U_THERE,
            &sequence.to_be_bytes(),
        )
    }

    /// R-U-THERE-ACK (RFC 3706 §5), echoing the sequence number.
    pub fn r_u_there_ack(cookie_i: u64, cookie_r: u64, sequence: u32) -> Self {
        Self::new(
            ProtocolId::ISAKMP,
            &isakmp_spi(cookie_i, cookie_r),
            NotifyType::R_U_THERE_ACK,
            &sequence.to_be_bytes(),
        )
    }

    /// INITIAL-CONTACT (RFC 2407 §4.6.3.3): about the ISAKMP SA of these cookies, no data.
    pub fn initial_contact(cookie_i: u64, cookie_r: u64) -> Self {
        Self::new(
            ProtocolId::ISAKMP,
            &isakmp_spi(cookie_i, cookie_r),
            NotifyType::INITIAL_CONTACT,
            &[],
        )
    }

    /// RESPONDER-LIFETIME (RFC 2407 §4.6.3.1): the lifetime the responder imposes on the SA
    /// of `spi`, as SA attributes (an attribute type beyond 15 bits is refused).
    pub fn responder_lifetime(
        protocol_id: ProtocolId,
        spi: &[u8],
        attributes: &[Attribute],
    ) -> Result<Self, Error> {
        let mut data = vec![0u8; Attribute::list_len(attributes)];
        Attribute::emit_list(attributes, &mut data)?;
        Ok(Self::new(
            protocol_id,
            spi,
            NotifyType::RESPONDER_LIFETIME,
            &data,
        ))
    }

    /// The sequence number of an R-U-THERE or R-U-THERE-ACK (exactly 4 bytes of data).
    pub fn dpd_sequence(&self) -> Option<u32> {
        match self.notify_type {
            NotifyType::R_U_THERE | NotifyType::R_U_THERE_ACK => {
                <[u8; 4]>::try_from(self.data.as_slice())
                    .ok()
                    .map(u32::from_be_bytes)
            }
            _ => None,
        }
    }

    /// The SA attributes of a RESPONDER-LIFETIME notification.
    pub fn responder_lifetime_attributes(&self) -> Option<Result<Vec<Attribute>, Error>> {
        (self.notify_type == NotifyType::RESPONDER_LIFETIME)
            .then(|| Attribute::parse_list(&self.data))
    }

    /// Whether a REPLAY-STATUS notification (RFC 2407 §4.6.3.2) says replay detection is
    /// enabled (`Some(true)` for 1, `Some(false)` for 0).
    pub fn replay_status(&self) -> Option<bool> {
        if self.notify_type != NotifyType::REPLAY_STATUS {
            return None;
        }
        match <[u8; 4]>::try_from(self.data.as_slice()).map(u32::from_be_bytes) {
            Ok(0) => Some(false),
            Ok(1) => Some(true),
            _ => None,
        }
    }

    /// Parses the body.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(doi), Some(protocol), Some(spi_size), Some(notify_type)) =
            (be32(b, 0), u8_at(b, 4), u8_at(b, 5), be16(b, 6))
        else {
            return Err(truncated("Notification payload", 8, b.len()));
        };
        let spi_end = 8 + usize::from(spi_size);
        let spi = b
            .get(8..spi_end)
            .ok_or(truncated("Notification SPI", spi_end, b.len()))?;
        Ok(NotifyPayload {
            doi: Doi(doi),
            protocol_id: ProtocolId(protocol),
            spi: spi.to_vec(),
            notify_type: NotifyType(notify_type),
            data: b.get(spi_end..).unwrap_or(&[]).to_vec(),
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        sum_len([8, self.spi.len(), self.data.len()])
    }

    /// Writes the body.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u32(self.doi.0)?;
        w.u8(self.protocol_id.0)?;
        w.u8(len8("Notification SPI", self.spi.len())?)?;
        w.u16(self.notify_type.0)?;
        w.put(&self.spi)?;
        w.put(&self.data)
    }

    /// The body as a new vector.
    pub fn to_body(&self) -> Result<Vec<u8>, Error> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// A Delete payload body: the SAs of one protocol to delete, by SPI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeletePayload {
    /// The Domain of Interpretation.
    pub doi: Doi,
    /// The protocol of the SAs deleted.
    pub protocol_id: ProtocolId,
    /// The size of each SPI (16 for an ISAKMP SA, the cookies; 4 for ESP and AH).
    pub spi_size: u8,
    /// The SPIs, each `spi_size` bytes.
    pub spis: Vec<Vec<u8>>,
}

impl DeletePayload {
    /// Deletes the ISAKMP SA of these cookies.
    pub fn isakmp(cookie_i: u64, cookie_r: u64) -> Self {
        DeletePayload {
            doi: Doi::IPSEC,
            protocol_id: ProtocolId::ISAKMP,
            spi_size: 16,
            spis: vec![isakmp_spi(cookie_i, cookie_r)],
        }
    }

    /// Deletes ESP SAs by their (inbound, for the receiver outbound) SPIs.
    pub fn esp(spis: &[u32]) -> Self {
        DeletePayload {
            doi: Doi::IPSEC,
            protocol_id: ProtocolId::ESP,
            spi_size: 4,
            spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
        }
    }

    /// Parses the body; the SPIs must fill it exactly.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let (Some(doi), Some(protocol), Some(spi_size), Some(n)) =
            (be32(b, 0), u8_at(b, 4), u8_at(b, 5), be16(b, 6))
        else {
            return Err(truncated("Delete payload", 8, b.len()));
        };
        let size = usize::from(spi_size);
        let rest = b.get(8..).unwrap_or(&[]);
        if rest.len() != size * usize::from(n) {
            return Err(Error::Malformed("Delete payload: # of SPIs and SPI size"));
        }
        let spis = if size == 0 {
            // RFC 2408 §3.15 has no zero-size SPI; n zero-length SPIs keep the count.
            vec![Vec::new(); usize::from(n)]
        } else {
            rest.chunks_exact(size).map(<[u8]>::to_vec).collect()
        };
        Ok(DeletePayload {
            doi: Doi(doi),
            protocol_id: ProtocolId(protocol),
            spi_size,
            spis,
        })
    }

    /// Length of the body.
    pub fn buffer_len(&self) -> usize {
        8usize.saturating_add(sum_len(self.spis.iter().map(Vec::len)))
    }

    /// Writes the body; every SPI must be `spi_size` bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        if self
            .spis
            .iter()
            .any(|s| s.len() != usize::from(self.spi_size))
        {
            return Err(Error::Malformed("Delete payload: # of SPIs and SPI size"));
        }
        let mut w = Writer::new(buf);
        w.u32(self.doi.0)?;
        w.put(&[self.protocol_id.0, self.spi_size])?;
        w.u16(len16("Delete # of SPIs", self.spis.len())?)?;
        for s in &self.spis {
            w.put(s)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpd_and_status_readings() {
        let ack = NotifyPayload::r_u_there_ack(1, 2, 0xdead_beef);
        let b = ack.to_body().unwrap();
        assert_eq!(&b[..8], &[0, 0, 0, 1, 1, 16, 0x8d, 0x29]);
        assert_eq!(
            NotifyPayload::parse(&b).unwrap().dpd_sequence(),
            Some(0xdead_beef)
        );
        let mut short = ack.clone();
        short.data.pop();
        assert_eq!(short.dpd_sequence(), None);
        assert_eq!(NotifyPayload::initial_contact(1, 2).dpd_sequence(), None);
        let replay = NotifyPayload::new(
            ProtocolId::ESP,
            &[0; 4],
            NotifyType::REPLAY_STATUS,
            &[0, 0, 0, 1],
        );
        assert_eq!(replay.replay_status(), Some(true));
        let life = NotifyPayload::responder_lifetime(
            ProtocolId::ESP,
            &[1, 2, 3, 4],
            &[Attribute::basic(1, 1), Attribute::integer(2, 3600)],
        )
        .unwrap();
        assert_eq!(
            life.responder_lifetime_attributes().unwrap().unwrap(),
            [Attribute::basic(1, 1), Attribute::integer(2, 3600)]
        );
        assert!(NotifyPayload::parse(&[0, 0, 0, 1, 3, 4, 0, 14, 1]).is_err());
    }

    #[test]
    fn delete_counts_must_match() {
        let d = DeletePayload::esp(&[0x1150_fd74, 0x87c9_b200]);
        let mut b = vec![0u8; d.buffer_len()];
        d.emit(&mut b).unwrap();
        assert_eq!(DeletePayload::parse(&b).unwrap(), d);
        assert!(DeletePayload::parse(&b[..b.len() - 1]).is_err());
        let mut bad = d.clone();
        bad.spis[0].push(0);
        assert!(bad.emit(&mut vec![0u8; bad.buffer_len()]).is_err());
        let zero = DeletePayload {
            spi_size: 0,
            spis: vec![vec![], vec![]],
            ..d
        };
        let mut b = vec![0u8; zero.buffer_len()];
        zero.emit(&mut b).unwrap();
        assert_eq!(DeletePayload::parse(&b).unwrap(), zero);
    }
}
