//! The one data-path core of both APIs (copying and in place): the checks before a packet is
//! protected or opened, in their order, and the sealing and opening of a packet whose bytes are
//! already where they belong.

use core::ops::Range;
use std::time::Instant;

use dmvpn_wire::{ip, ipv4, ipv6};

use super::{Event, InboundSa, Mode, NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, OutboundSa, Transform};
use crate::crypto::MacKey;
use crate::wire::esp::{HEADER_LEN, NEXT_HEADER_DUMMY, Packet, Trailer};
use crate::{EncryptionAlgorithm, Error};

impl OutboundSa {
    /// The checks before a packet is protected, in their order (expiry, the inner packet in
    /// tunnel mode, sequence number exhaustion), and where the packet's parts will go. Consumes
    /// no sequence number; shared by [`OutboundSa::encapsulate`] and
    /// [`OutboundSa::encapsulate_in_place`].
    // Inlined into both APIs: the plan then stays in registers instead of going through a
    // returned `Result` in memory (a store-forwarding stall per packet in the profile).
    #[inline(always)]
    pub(super) fn plan(
        &mut self,
        now: Instant,
        next_header: u8,
        plaintext: &[u8],
    ) -> Result<SealPlan, Error> {
        if self.core.evaluate(now) {
            return Err(Error::Expired);
        }
        if self.core.mode == Mode::Tunnel {
            check_inner_version(next_header, plaintext)?;
        }
        let limit = if self.core.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        if self.seq >= limit {
            if !self.exhausted {
                self.exhausted = true;
                self.core
                    .events
                    .push_back(Event::SequenceExhausted { spi: self.core.spi });
            }
            return Err(Error::SequenceExhausted);
        }
        let enc = self.core.suite.encryption;
        let payload_len = plaintext.len();
        let body_len = payload_len.max(self.tfc_pad_to);
        let trailer = Trailer::for_payload(body_len, enc.block_len(), next_header);
        let total = self.header_len() + body_len + trailer.buffer_len() + self.core.suite.icv_len();
        Ok(SealPlan {
            seq: self.seq + 1,
            payload_len,
            body_len,
            trailer,
            total,
        })
    }

    /// Protects `pkt`, exactly `plan.total` bytes whose payload is already in place after the
    /// header and IV (`pkt[header_len()..][..plan.payload_len]`): writes the header, the IV,
    /// the TFC padding and the trailer, encrypts in place, writes the ICV; then consumes the
    /// sequence number and counts the packet. The one sealing core of both APIs.
    // Inlined into both APIs: the plan then stays in registers instead of going through a
    // returned `Result` in memory (a store-forwarding stall per packet in the profile).
    #[inline(always)]
    pub(super) fn seal(
        &mut self,
        now: Instant,
        plan: &SealPlan,
        pkt: &mut [u8],
    ) -> Result<(), Error> {
        let enc = self.core.suite.encryption;
        let hdr_iv_len = self.header_len();
        let seq = plan.seq;
        let ct_len = plan.body_len + plan.trailer.buffer_len();
        let short = || Error::BufferTooSmall { needed: plan.total };
        if pkt.len() != plan.total {
            return Err(short());
        }
        let (auth, icv) = pkt
            .split_at_mut_checked(hdr_iv_len + ct_len)
            .ok_or_else(short)?;
        let (hdr_iv, ct) = auth.split_at_mut_checked(hdr_iv_len).ok_or_else(short)?;
        let (hdr, iv) = hdr_iv.split_at_mut_checked(HEADER_LEN).ok_or_else(short)?;
        {
            let mut p = Packet::new_unchecked(&mut *hdr);
            p.set_spi(self.core.spi);
            p.set_sequence(seq as u32);
        }
        let (body, tail) = ct.split_at_mut_checked(plan.body_len).ok_or_else(short)?;
        if plan.body_len > plan.payload_len {
            // TFC padding (tunnel mode only); without it no call into `memset` for nothing.
            body.get_mut(plan.payload_len..).ok_or_else(short)?.fill(0);
        }
        plan.trailer.emit(tail);

        let seq_hi = ((seq >> 32) as u32).to_be_bytes();
        match &self.core.transform {
            Transform::Aead { key, salt } => {
                // RFC 4106 §3.1: the 8-byte IV is the 64-bit sequence number, unique per key.
                let iv8 = seq.to_be_bytes();
                iv.copy_from_slice(&iv8);
                let nonce = gcm_nonce(salt, &iv8);
                let mut aad = [0u8; 12];
                let n = self.core.aad(seq, &mut aad);
                let tag: &mut [u8; 16] = icv
                    .try_into()
                    .map_err(|_| Error::Crypto("GCM ICV length"))?;
                key.seal(&nonce, aad.get(..n).unwrap_or_default(), ct, tag)?;
            }
            Transform::CbcHmac { cipher, mac } => {
                let mut ivb = [0u8; 16];
                self.random.fill(&mut ivb)?;
                iv.copy_from_slice(&ivb);
                cipher.encrypt(&ivb, ct)?;
                sign(
                    mac.as_ref(),
                    self.core.esn,
                    &[&*hdr, &*iv, &*ct],
                    &seq_hi,
                    icv,
                )?;
            }
            Transform::NullHmac { mac } => {
                sign(mac.as_ref(), self.core.esn, &[&*hdr, &*ct], &seq_hi, icv)?;
            }
        }

        self.seq = seq;
        let c = &mut self.core.counters;
        c.pkts_encaps += 1;
        if enc != EncryptionAlgorithm::Null {
            c.pkts_encrypt += 1;
        }
        c.pkts_digest += 1;
        c.bytes += plan.payload_len as u64;
        self.core.evaluate(now);
        Ok(())
    }
}

impl InboundSa {
    /// The checks before any cryptography, in their order (RFC 4303 §3.4): expiry, length, SPI,
    /// ESN inference and the replay check (the window is not moved), whole cipher blocks.
    /// Shared by [`InboundSa::decapsulate`] and [`InboundSa::decapsulate_in_place`].
    // Inlined into both APIs: the plan then stays in registers instead of going through a
    // returned `Result` in memory (a store-forwarding stall per packet in the profile).
    #[inline(always)]
    pub(super) fn admit(&mut self, now: Instant, packet: &[u8]) -> Result<OpenPlan, Error> {
        if self.core.evaluate(now) {
            return Err(Error::Expired);
        }
        let enc = self.core.suite.encryption;
        let hdr_iv_len = HEADER_LEN + enc.iv_len();
        let icv_len = self.core.suite.icv_len();
        let min = hdr_iv_len + 2 + icv_len;
        if packet.len() < min {
            return Err(Error::Truncated {
                needed: min,
                got: packet.len(),
            });
        }
        let view = Packet::new_checked(packet)?;
        if view.spi() != self.core.spi {
            return Err(Error::SpiMismatch {
                expected: self.core.spi,
                got: view.spi(),
            });
        }
        let low = view.sequence();
        let seq = if self.core.esn {
            self.window.infer_esn(low).ok_or(Error::Replay {
                sequence: u64::from(low),
            })?
        } else {
            u64::from(low)
        };
        self.window.check(seq)?;
        let ct = hdr_iv_len..packet.len() - icv_len;
        if enc.block_len() == 16 && ct.len() % 16 != 0 {
            return Err(Error::InvalidPadding);
        }
        Ok(OpenPlan { seq, ct, min })
    }

    /// Verifies and decrypts `ct` in place, given the header and IV before it and the ICV after
    /// it, of a packet [`InboundSa::admit`] let through with sequence number `seq`; only once
    /// the packet is authentic does the replay window move. Then the trailer and, in tunnel
    /// mode, the inner packet are checked. Returns the next header and the payload's length
    /// (the payload is the start of `ct`). The one opening core of both APIs.
    // Inlined into both APIs: the plan then stays in registers instead of going through a
    // returned `Result` in memory (a store-forwarding stall per packet in the profile).
    #[inline(always)]
    pub(super) fn open(
        &mut self,
        now: Instant,
        seq: u64,
        hdr_iv: &[u8],
        ct: &mut [u8],
        icv: &[u8],
    ) -> Result<(u8, usize), Error> {
        let enc = self.core.suite.encryption;
        let iv = hdr_iv.get(HEADER_LEN..).unwrap_or_default();
        let seq_hi = ((seq >> 32) as u32).to_be_bytes();
        let trunc = || Error::Truncated {
            needed: HEADER_LEN + enc.iv_len() + 2 + self.core.suite.icv_len(),
            got: hdr_iv.len() + ct.len() + icv.len(),
        };
        match &self.core.transform {
            Transform::Aead { key, salt } => {
                let iv8: [u8; 8] = iv.try_into().map_err(|_| trunc())?;
                let nonce = gcm_nonce(salt, &iv8);
                let mut aad = [0u8; 12];
                let n = self.core.aad(seq, &mut aad);
                let tag: &[u8; 16] = icv.try_into().map_err(|_| trunc())?;
                key.open(&nonce, aad.get(..n).unwrap_or_default(), ct, tag)?;
            }
            Transform::CbcHmac { cipher, mac } => {
                verify(mac.as_ref(), self.core.esn, &[hdr_iv, ct], &seq_hi, icv)?;
                let ivb: [u8; 16] = iv.try_into().map_err(|_| trunc())?;
                cipher.decrypt(&ivb, ct)?;
            }
            Transform::NullHmac { mac } => {
                verify(mac.as_ref(), self.core.esn, &[hdr_iv, ct], &seq_hi, icv)?;
            }
        }
        // Authentic: only now may the window move (RFC 4303 §3.4.3).
        self.window.update(seq);
        let c = &mut self.core.counters;
        c.pkts_verify += 1;
        if enc != EncryptionAlgorithm::Null {
            c.pkts_decrypt += 1;
        }

        let (trailer, payload) = Trailer::parse(ct)?;
        if trailer.next_header == NEXT_HEADER_DUMMY {
            return Err(Error::DummyPacket);
        }
        let len = match self.core.mode {
            Mode::Transport => payload.len(),
            Mode::Tunnel => {
                check_inner_version(trailer.next_header, payload)?;
                inner_ip_len(trailer.next_header, payload)?
            }
        };
        let c = &mut self.core.counters;
        c.pkts_decaps += 1;
        c.bytes += len as u64;
        self.core.evaluate(now);
        Ok((trailer.next_header, len))
    }

    /// Counts a dropped inbound packet by the reason it was dropped for.
    pub(super) fn count_drop(&mut self, e: &Error) {
        let c = &mut self.core.counters;
        match e {
            Error::Replay { .. } => c.replay_failures += 1,
            Error::Integrity => c.integrity_failures += 1,
            Error::DummyPacket => c.dummy_dropped += 1,
            _ => c.recv_errors += 1,
        }
    }
}

/// Where the parts of an outbound packet go, decided before a byte is written
/// ([`OutboundSa::plan`]).
pub(super) struct SealPlan {
    /// The sequence number the packet will carry.
    pub(super) seq: u64,
    /// The caller's payload.
    pub(super) payload_len: usize,
    /// The payload with TFC padding.
    pub(super) body_len: usize,
    /// Padding, pad length and next header.
    pub(super) trailer: Trailer,
    /// The whole ESP packet, header to ICV.
    pub(super) total: usize,
}

/// What [`InboundSa::admit`] found in an inbound packet.
pub(super) struct OpenPlan {
    /// The (with ESN: inferred 64-bit) sequence number, not yet in the window.
    pub(super) seq: u64,
    /// Where the ciphertext lies in the packet (after header and IV, before the ICV).
    pub(super) ct: Range<usize>,
    /// The shortest packet the SA accepts.
    pub(super) min: usize,
}

impl OpenPlan {
    /// The error for a packet of `got` bytes that does not split as planned (never, once
    /// admitted).
    pub(super) fn truncated(&self, got: usize) -> Error {
        Error::Truncated {
            needed: self.min,
            got,
        }
    }
}

fn gcm_nonce(salt: &[u8; 4], iv: &[u8; 8]) -> [u8; 12] {
    let mut n = [0u8; 12];
    let (a, b) = n.split_at_mut(4);
    a.copy_from_slice(salt);
    b.copy_from_slice(iv);
    n
}

/// ICV over the parts, with the ESN high-order bits appended implicitly (RFC 4303 §2.2.1,
/// §3.3.2.2), truncated to `icv.len()`.
fn sign(
    mac: &dyn MacKey,
    esn: bool,
    parts: &[&[u8]],
    seq_hi: &[u8; 4],
    icv: &mut [u8],
) -> Result<(), Error> {
    match (esn, parts) {
        (true, &[a, b, c]) => mac.sign(&[a, b, c, seq_hi.as_slice()], icv),
        (true, &[a, b]) => mac.sign(&[a, b, seq_hi.as_slice()], icv),
        _ => mac.sign(parts, icv),
    }
}

fn verify(
    mac: &dyn MacKey,
    esn: bool,
    parts: &[&[u8]],
    seq_hi: &[u8; 4],
    icv: &[u8],
) -> Result<(), Error> {
    match (esn, parts) {
        (true, &[a, b]) => mac.verify(&[a, b, seq_hi.as_slice()], icv),
        _ => mac.verify(parts, icv),
    }
}

/// Tunnel mode carries IPv4 (4) or IPv6 (41) packets whose version nibble matches.
pub(super) fn check_inner_version(next_header: u8, packet: &[u8]) -> Result<(), Error> {
    match (next_header, ip::version(packet)) {
        (NEXT_HEADER_DUMMY, _) | (NEXT_HEADER_IPV4, Some(4)) | (NEXT_HEADER_IPV6, Some(6)) => {
            Ok(())
        }
        _ => Err(Error::UnexpectedNextHeader { next_header }),
    }
}

/// The inner packet's own length (IPv4 total length, IPv6 40 + payload length): everything
/// after it is TFC padding (RFC 4303 §2.7). The views read a length field beyond the buffer as
/// zero, which the bounds below reject as truncation.
pub(super) fn inner_ip_len(next_header: u8, packet: &[u8]) -> Result<usize, Error> {
    let (len, needed) = if next_header == NEXT_HEADER_IPV4 {
        let total = ipv4::Packet::new_unchecked(packet).total_len();
        (usize::from(total), ipv4::MIN_HEADER_LEN)
    } else {
        let payload = ipv6::Packet::new_unchecked(packet).payload_len();
        (ipv6::HEADER_LEN + usize::from(payload), ipv6::HEADER_LEN)
    };
    let got = packet.len();
    if (needed..=got).contains(&len) {
        Ok(len)
    } else {
        Err(Error::Truncated {
            needed: len.max(needed),
            got,
        })
    }
}
