//! The in-place data path, for a zero-copy caller: the payload is encrypted and decrypted where
//! it lies in the caller's buffer, with the ESP header and IV written into headroom in front of
//! it and the trailer and ICV appended behind it.
//!
//! Same rules as the copying API ([`OutboundSa::encapsulate`], [`InboundSa::decapsulate`]), and
//! the same code: both run the one core in `datapath.rs`, so sequence numbers, counters,
//! lifetimes, events, the replay window and the error counts behave identically, and the bytes
//! on the wire are the same.

use core::ops::Range;
use std::time::Instant;

use super::{InboundSa, OutboundSa};
use crate::Error;
use crate::wire::esp::{HEADER_LEN, Trailer};

/// The result of [`InboundSa::decapsulate_in_place`]: where the decrypted payload lies in the
/// caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InPlace {
    /// The next header (47 GRE, 4 IPv4, 41 IPv6, …).
    pub next_header: u8,
    /// The plaintext payload's range in the buffer passed to
    /// [`InboundSa::decapsulate_in_place`] (in tunnel mode without TFC padding). It starts right
    /// after the ESP header and IV, at the SA's [`OutboundSa::header_len`] (8 + IV length).
    pub payload: Range<usize>,
}

impl OutboundSa {
    /// Bytes of ESP header and IV in front of the payload: 8, plus the IV (8 for AES-GCM, 16
    /// for AES-CBC, 0 for NULL encryption). [`OutboundSa::encapsulate_in_place`] needs at least
    /// this much headroom before the payload.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.core.suite.encryption.iv_len()
    }

    /// Bytes written after a payload of `payload_len` bytes: TFC padding (tunnel mode with
    /// [`SaConfig::tfc_pad_to`](super::SaConfig::tfc_pad_to)), padding, pad length, next header
    /// and ICV. `header_len() + payload_len + trailer_len(payload_len)` is
    /// [`OutboundSa::encapsulated_len`].
    pub fn trailer_len(&self, payload_len: usize) -> usize {
        let enc = self.core.suite.encryption;
        let body = payload_len.max(self.tfc_pad_to);
        let t = Trailer::for_payload(body, enc.block_len(), 0);
        (body - payload_len) + t.buffer_len() + self.core.suite.icv_len()
    }

    /// The largest [`OutboundSa::trailer_len`] of any payload length, TFC padding included:
    /// spare capacity of this many bytes after the payload guarantees that
    /// [`OutboundSa::encapsulate_in_place`] does not reallocate. For example 21 for AES-GCM
    /// (3 bytes of padding, pad length, next header, 16-byte ICV) and 33 for AES-CBC with
    /// HMAC-SHA-256-128 (15 + 2 + 16).
    pub fn max_trailer_len(&self) -> usize {
        let enc = self.core.suite.encryption;
        let block = enc.block_len();
        // A payload shorter than the TFC target is padded to it (the longest tail: an empty
        // payload); a longer one gets at most a block less one of padding.
        let tfc = self.tfc_pad_to;
        let tfc_tail = tfc + usize::from(Trailer::for_payload(tfc, block, 0).pad_len);
        tfc_tail.max(block - 1) + 2 + self.core.suite.icv_len()
    }

    /// Protects the payload `buf[start..]` (protocol `next_header`, as for
    /// [`OutboundSa::encapsulate`]) in place and returns the offset where the ESP packet begins:
    /// the packet is `buf[offset..]`, with `offset = start - header_len()`.
    ///
    /// The ESP header and IV are written into `buf[start - header_len()..start]` (the caller's
    /// headroom; what lay there is overwritten), the TFC padding, trailer and ICV are appended
    /// to `buf`, and the payload is encrypted where it lies. Nothing before the packet is
    /// touched, so the caller can keep room for the outer headers (IP, UDP for NAT-T) there.
    /// No allocation when `buf` has [`OutboundSa::max_trailer_len`] (or
    /// [`OutboundSa::trailer_len`] of the payload) bytes of spare capacity; the payload is never
    /// copied.
    ///
    /// Same checks, sequence numbers, counters, lifetimes and events as
    /// [`OutboundSa::encapsulate`], which produces the same bytes. Errors: those of
    /// `encapsulate`, plus [`Error::Headroom`] if `start < header_len()` and
    /// [`Error::Truncated`] if `start > buf.len()`; every error is counted in
    /// [`Counters::send_errors`](super::Counters::send_errors) and consumes no sequence
    /// number. After an error `buf` has its original length; its contents are unchanged
    /// unless the crypto backend itself failed.
    pub fn encapsulate_in_place(
        &mut self,
        now: Instant,
        next_header: u8,
        buf: &mut Vec<u8>,
        start: usize,
    ) -> Result<usize, Error> {
        let r = self.encapsulate_in_place_inner(now, next_header, buf, start);
        if r.is_err() {
            self.core.counters.send_errors += 1;
        }
        r
    }

    fn encapsulate_in_place_inner(
        &mut self,
        now: Instant,
        next_header: u8,
        buf: &mut Vec<u8>,
        start: usize,
    ) -> Result<usize, Error> {
        let got = buf.len();
        let payload = buf
            .get(start..)
            .ok_or(Error::Truncated { needed: start, got })?;
        let plan = self.plan(now, next_header, payload)?;
        let header = self.header_len();
        let begin = start.checked_sub(header).ok_or(Error::Headroom {
            needed: header,
            got: start,
        })?;
        // begin + total = start + payload + trailer ≥ got: this only grows the buffer.
        let end = begin + plan.total;
        buf.resize(end, 0);
        let sealed = match buf.get_mut(begin..end) {
            Some(pkt) => self.seal(now, &plan, pkt),
            None => Err(Error::BufferTooSmall { needed: end }),
        };
        match sealed {
            Ok(()) => Ok(begin),
            Err(e) => {
                buf.truncate(got);
                Err(e)
            }
        }
    }
}

impl InboundSa {
    /// Verifies and decrypts the ESP packet `buf` (header to ICV, nothing else: pass the slice
    /// after the outer IP and UDP headers) in place; the plaintext payload is then
    /// `buf[result.payload]`, which starts after the ESP header and IV.
    ///
    /// Same order of checks as [`InboundSa::decapsulate`] (SPI, ESN inference and replay check,
    /// ICV verification in constant time, only then the replay window update, decryption and
    /// the trailer check), the same counters and events, and the same errors. Never allocates
    /// and never copies the payload. After an error the ESP header and IV are unchanged, but
    /// the ciphertext may have been overwritten (an AEAD backend may leave garbage behind a tag
    /// that did not verify, and a packet rejected after decryption — bad padding, a dummy
    /// packet — is left decrypted).
    pub fn decapsulate_in_place(&mut self, now: Instant, buf: &mut [u8]) -> Result<InPlace, Error> {
        match self.decapsulate_in_place_inner(now, buf) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.count_drop(&e);
                Err(e)
            }
        }
    }

    fn decapsulate_in_place_inner(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Result<InPlace, Error> {
        let plan = self.admit(now, buf)?;
        let trunc = plan.truncated(buf.len());
        let (auth, icv) = buf.split_at_mut_checked(plan.ct.end).ok_or(trunc.clone())?;
        let (hdr_iv, ct) = auth.split_at_mut_checked(plan.ct.start).ok_or(trunc)?;
        let (next_header, len) = self.open(now, plan.seq, hdr_iv, ct, icv)?;
        Ok(InPlace {
            next_header,
            payload: plan.ct.start..plan.ct.start + len,
        })
    }
}
