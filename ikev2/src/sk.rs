//! Protecting and unprotecting the Encrypted payload SK (RFC 7296 §3.14) and the Encrypted
//! Fragment payload SKF (RFC 7383 §2.5).
//!
//! Two transform families: AES-CBC (RFC 3602) with an HMAC-SHA2 integrity checksum (RFC 4868)
//! over the whole message up to the checksum, and AES-GCM with a 16-byte ICV (RFC 5282), whose
//! nonce is the 4-byte salt (the end of SK_e) and the 8-byte explicit IV, and whose additional
//! data is everything from the IKE header to the end of the SK/SKF payload header (§5.1).
//!
//! On receipt the integrity is checked (in constant time) **before** anything is decrypted;
//! then the padding is checked (the Pad Length must fit the ciphertext).
//!
//! ```text
//! | generic header (next = first inner payload) | [SKF: Fragment Number | Total Fragments] |
//! | IV | encrypted: inner payloads | padding | pad length | ICV |
//! ```

use core::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use dmvpn_esp::crypto::{AeadKey, CbcKey, MacKey, SecureRandom};
use dmvpn_esp::{EncryptionAlgorithm, IntegrityAlgorithm};

use crate::Error;
use crate::crypto::IkeCryptoProvider;
use crate::keys::IkeSaKeys;
use crate::transform::IkeSuite;
use crate::wire::{
    GENERIC_HEADER_LEN, HEADER_LEN, Header, HeaderRepr, Message, Payload, PayloadType, Payloads,
    chain_len, emit_chain, parse_chain,
};

enum Cipher {
    Cbc(Box<dyn CbcKey>),
    Gcm {
        key: Box<dyn AeadKey>,
        salt: [u8; 4],
        counter: AtomicU64,
    },
}

/// The SK transform of one direction of an IKE SA: encryption key and integrity key.
pub struct SkCipher {
    encryption: EncryptionAlgorithm,
    integrity: IntegrityAlgorithm,
    cipher: Cipher,
    mac: Option<Box<dyn MacKey>>,
}

impl fmt::Debug for SkCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SkCipher({}-{}, keys: <redacted>)",
            self.encryption, self.integrity
        )
    }
}

/// The message being sealed is shorter than the layout computed for it.
fn too_small(needed: usize, got: usize) -> Error {
    Error::BufferTooSmall { needed, got }
}

/// A CBC suite without an integrity algorithm (an AEAD-less suite must have one).
const NO_INTEGRITY: Error = Error::InvalidProposal("CBC encryption without an integrity algorithm");

/// Where the encrypted part of an SK/SKF payload sits in a message.
struct Layout {
    /// Offset of the IV (after the generic header, and for SKF the fragment fields).
    iv_at: usize,
    /// Type of the first inner payload.
    inner_next: PayloadType,
    /// Fragment number and total for SKF.
    fragment: Option<(u16, u16)>,
}

/// A message whose SK or SKF payload was verified and decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unprotected {
    /// The IKE header as received.
    pub header: HeaderRepr,
    /// Cleartext payloads before the SK/SKF payload (usually none).
    pub cleartext: Vec<Payload>,
    /// The type of the first inner payload (0 in non-first fragments).
    pub inner_next: PayloadType,
    /// Fragment number and total fragments, for an SKF payload.
    pub fragment: Option<(u16, u16)>,
    /// The decrypted inner payloads (without padding), or a fragment of them.
    pub plaintext: Vec<u8>,
}

impl Unprotected {
    /// Decodes the inner payloads (of an SK payload; a fragment must be reassembled first).
    pub fn payloads(&self) -> Result<Vec<Payload>, Error> {
        if let Some((number, total)) = self.fragment.filter(|&(_, total)| total > 1) {
            return Err(Error::FragmentNotReassembled { number, total });
        }
        parse_chain(self.inner_next, &self.plaintext)
    }
}

impl SkCipher {
    /// Builds one direction from its encryption key SK_e (with the salt for GCM) and
    /// integrity key SK_a (empty for GCM).
    pub fn new(
        provider: &IkeCryptoProvider,
        suite: &IkeSuite,
        sk_e: &[u8],
        sk_a: &[u8],
    ) -> Result<Self, Error> {
        let enc = suite.encryption;
        let length = |what, expected, got: usize| {
            (got == expected)
                .then_some(())
                .ok_or(Error::LengthMismatch {
                    what,
                    expected,
                    got,
                })
        };
        length("SK_e", enc.keymat_len(), sk_e.len())?;
        length("SK_a", suite.integrity.key_len(), sk_a.len())?;
        let cipher = if enc.is_aead() {
            let (key, salt) =
                sk_e.split_at_checked(enc.key_len())
                    .ok_or(Error::LengthMismatch {
                        what: "SK_e",
                        expected: enc.key_len(),
                        got: sk_e.len(),
                    })?;
            Cipher::Gcm {
                key: provider.esp.aead(enc)?.new_key(key)?,
                salt: salt.try_into().map_err(|_| Error::LengthMismatch {
                    what: "GCM salt",
                    expected: 4,
                    got: salt.len(),
                })?,
                counter: AtomicU64::new(0),
            }
        } else {
            Cipher::Cbc(provider.esp.cipher(enc)?.new_key(sk_e)?)
        };
        let mac = if suite.integrity == IntegrityAlgorithm::None {
            None
        } else {
            Some(provider.esp.hmac(suite.integrity)?.new_key(sk_a)?)
        };
        Ok(SkCipher {
            encryption: enc,
            integrity: suite.integrity,
            cipher,
            mac,
        })
    }

    /// Length of the explicit IV (16 for CBC, 8 for GCM).
    pub fn iv_len(&self) -> usize {
        self.encryption.iv_len()
    }

    /// Length of the integrity checksum (the truncated HMAC, or the 16-byte GCM tag).
    pub fn icv_len(&self) -> usize {
        self.encryption.aead_icv_len() + self.integrity.icv_len()
    }

    /// The encrypted part must be a multiple of this (16 for CBC, 1 for GCM).
    pub fn block_len(&self) -> usize {
        match self.cipher {
            Cipher::Cbc(_) => 16,
            Cipher::Gcm { .. } => 1,
        }
    }

    /// Bytes an SK payload adds around `plaintext_len` bytes of inner payloads (generic
    /// header, IV, padding, pad length, ICV).
    pub fn overhead(&self, plaintext_len: usize) -> usize {
        let b = self.block_len();
        let padded = (plaintext_len + 1).div_ceil(b) * b;
        GENERIC_HEADER_LEN + self.iv_len() + (padded - plaintext_len) + self.icv_len()
    }

    /// Builds a message: `outer`'s header fields and cleartext payloads, then an SK payload
    /// carrying `inner`. Returns the bytes to send.
    pub fn protect(
        &self,
        random: &dyn SecureRandom,
        outer: &Message,
        inner: &[Payload],
    ) -> Result<Vec<u8>, Error> {
        let first = inner
            .first()
            .map_or(PayloadType::NONE, Payload::payload_type);
        // The inner payloads are emitted straight into the message, where they are encrypted.
        self.seal(
            random,
            outer,
            PayloadType::SK,
            first,
            None,
            chain_len(inner),
            |plain| emit_chain(inner, plain),
        )
    }

    /// Builds the fragments of a message (RFC 7383): `inner`'s bytes cut into pieces of at
    /// most `max_fragment_plaintext` bytes, each in an SKF payload numbered from 1; only the
    /// first names the first inner payload.
    pub fn protect_fragments(
        &self,
        random: &dyn SecureRandom,
        outer: &Message,
        inner: &[Payload],
        max_fragment_plaintext: usize,
    ) -> Result<Vec<Vec<u8>>, Error> {
        if max_fragment_plaintext == 0 {
            return Err(Error::InvalidFragmentSize {
                size: max_fragment_plaintext,
            });
        }
        let mut plain = vec![0u8; chain_len(inner)];
        emit_chain(inner, &mut plain)?;
        let first = inner
            .first()
            .map_or(PayloadType::NONE, Payload::payload_type);
        let pieces: Vec<&[u8]> = plain.chunks(max_fragment_plaintext).collect();
        let total = u16::try_from(pieces.len()).map_err(|_| Error::TooLong {
            what: "fragment count",
            len: pieces.len(),
        })?;
        let mut out = Vec::with_capacity(pieces.len());
        for (i, piece) in pieces.iter().enumerate() {
            let n = u16::try_from(i + 1).unwrap_or(u16::MAX);
            let next = if i == 0 { first } else { PayloadType::NONE };
            out.push(self.seal(
                random,
                outer,
                PayloadType::SKF,
                next,
                Some((n, total)),
                piece.len(),
                |plain| {
                    plain.copy_from_slice(piece);
                    Ok(())
                },
            )?);
        }
        Ok(out)
    }

    /// Builds one SK/SKF message around `plain_len` bytes of plaintext, which `fill` writes
    /// in place (into a slice of exactly that length) before it is encrypted.
    #[allow(clippy::too_many_arguments)]
    fn seal(
        &self,
        random: &dyn SecureRandom,
        outer: &Message,
        kind: PayloadType,
        inner_next: PayloadType,
        fragment: Option<(u16, u16)>,
        plain_len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), Error>,
    ) -> Result<Vec<u8>, Error> {
        let b = self.block_len();
        let padded = (plain_len + 1).div_ceil(b) * b;
        let pad = padded - plain_len - 1;
        let frag_len = if fragment.is_some() { 4 } else { 0 };
        let sk_len = GENERIC_HEADER_LEN + frag_len + self.iv_len() + padded + self.icv_len();
        let sk_len16 = u16::try_from(sk_len).map_err(|_| Error::TooLong {
            what: "SK payload",
            len: sk_len,
        })?;
        let outer_len = chain_len(&outer.payloads);
        let total = HEADER_LEN + outer_len + sk_len;
        let mut msg = vec![0u8; total];
        let header = HeaderRepr {
            spi_i: outer.spi_i,
            spi_r: outer.spi_r,
            next_payload: outer.payloads.first().map_or(kind, Payload::payload_type),
            minor_version: outer.minor_version,
            exchange_type: outer.exchange_type,
            flags: outer.flags,
            message_id: outer.message_id,
            length: u32::try_from(total).map_err(|_| Error::TooLong {
                what: "message",
                len: total,
            })?,
        };
        let (head, rest) = msg
            .split_at_mut_checked(HEADER_LEN)
            .ok_or(too_small(HEADER_LEN, total))?;
        header.emit(&mut Header::new_unchecked(head))?;
        // Cleartext payloads, the last of which points at the SK/SKF payload.
        let rest_len = rest.len();
        let (clear, sk) = rest
            .split_at_mut_checked(outer_len)
            .ok_or(too_small(outer_len, rest_len))?;
        emit_chain_linked(&outer.payloads, kind, clear)?;
        let [l0, l1] = sk_len16.to_be_bytes();
        let mut w = 0usize;
        let put = |buf: &mut [u8], at: &mut usize, bytes: &[u8]| -> Result<(), Error> {
            let end = *at + bytes.len();
            let got = buf.len();
            buf.get_mut(*at..end)
                .ok_or(too_small(end, got))?
                .copy_from_slice(bytes);
            *at = end;
            Ok(())
        };
        put(sk, &mut w, &[inner_next.0, 0, l0, l1])?;
        if let Some((n, t)) = fragment {
            put(sk, &mut w, &n.to_be_bytes())?;
            put(sk, &mut w, &t.to_be_bytes())?;
        }
        let iv_at = HEADER_LEN + outer_len + w;
        let ct_at = iv_at + self.iv_len();
        let icv_at = ct_at + padded;
        // Plaintext, zero padding, pad length.
        {
            let ct = msg.get_mut(ct_at..icv_at).ok_or(too_small(icv_at, total))?;
            let ct_len = ct.len();
            let (p, tail) = ct
                .split_at_mut_checked(plain_len)
                .ok_or(too_small(plain_len, ct_len))?;
            fill(p)?;
            if let Some(last) = tail.last_mut() {
                *last = u8::try_from(pad).map_err(|_| Error::InvalidPadding)?;
            }
        }
        match &self.cipher {
            Cipher::Cbc(key) => {
                let mut iv = [0u8; 16];
                random.fill(&mut iv)?;
                put(&mut msg, &mut { iv_at }, &iv)?;
                let ct = msg.get_mut(ct_at..icv_at).ok_or(too_small(icv_at, total))?;
                key.encrypt(&iv, ct)?;
                let mac = self.mac.as_ref().ok_or(NO_INTEGRITY)?;
                let (signed, icv) = msg
                    .split_at_mut_checked(icv_at)
                    .ok_or(too_small(icv_at, total))?;
                mac.sign(&[signed], icv)?;
            }
            Cipher::Gcm { key, salt, counter } => {
                let iv = counter.fetch_add(1, Ordering::Relaxed).to_be_bytes();
                put(&mut msg, &mut { iv_at }, &iv)?;
                let nonce = gcm_nonce(salt, &iv);
                let (aad_and_iv, rest) = msg
                    .split_at_mut_checked(ct_at)
                    .ok_or(too_small(ct_at, total))?;
                let aad = aad_and_iv.get(..iv_at).ok_or(too_small(iv_at, ct_at))?;
                let rest_len = rest.len();
                let (ct, tag) = rest
                    .split_at_mut_checked(padded)
                    .ok_or(too_small(padded, rest_len))?;
                let tag_len = tag.len();
                let tag: &mut [u8; 16] = tag.try_into().map_err(|_| Error::LengthMismatch {
                    what: "GCM tag",
                    expected: 16,
                    got: tag_len,
                })?;
                key.seal(&nonce, aad, ct, tag)?;
            }
        }
        Ok(msg)
    }

    /// Verifies and decrypts the SK or SKF payload of a received message. The integrity
    /// checksum is verified before decryption; [`Error::Integrity`] if it fails,
    /// [`Error::InvalidPadding`] if the decrypted padding is inconsistent.
    pub fn unprotect(&self, message: &[u8]) -> Result<Unprotected, Error> {
        let h = Header::new_checked(message)?;
        let header = HeaderRepr::parse(&h)?;
        let msg = h.message();
        let (layout, cleartext) = locate(&header, msg)?;
        let iv_end = layout.iv_at + self.iv_len();
        let icv_len = self.icv_len();
        let ct_len = msg
            .len()
            .checked_sub(iv_end + icv_len)
            .ok_or(Error::Truncated {
                what: "encrypted payload",
                needed: iv_end + icv_len,
                got: msg.len(),
            })?;
        if ct_len == 0 || ct_len % self.block_len() != 0 {
            return Err(Error::InvalidPadding);
        }
        let icv_at = iv_end + ct_len;
        let iv = msg
            .get(layout.iv_at..iv_end)
            .ok_or(Error::Malformed("SK IV"))?;
        let icv = msg.get(icv_at..).ok_or(Error::Malformed("SK ICV"))?;
        // Decrypted in place in the Vec that is returned (zeroized if anything fails; the
        // padding is zeroized before it is cut off).
        let mut buf = zeroize::Zeroizing::new(
            msg.get(iv_end..icv_at)
                .ok_or(Error::Malformed("SK"))?
                .to_vec(),
        );
        match &self.cipher {
            Cipher::Cbc(key) => {
                let mac = self.mac.as_ref().ok_or(NO_INTEGRITY)?;
                let signed = msg.get(..icv_at).ok_or(Error::Malformed("SK"))?;
                mac.verify(&[signed], icv).map_err(|_| Error::Integrity)?;
                let iv: [u8; 16] = iv.try_into().map_err(|_| Error::Malformed("SK IV"))?;
                key.decrypt(&iv, buf.as_mut_slice())
                    .map_err(|_| Error::InvalidPadding)?;
            }
            Cipher::Gcm { key, salt, .. } => {
                let iv: [u8; 8] = iv.try_into().map_err(|_| Error::Malformed("SK IV"))?;
                let nonce = gcm_nonce(salt, &iv);
                let aad = msg.get(..layout.iv_at).ok_or(Error::Malformed("SK"))?;
                let tag: &[u8; 16] = icv.try_into().map_err(|_| Error::Malformed("SK ICV"))?;
                key.open(&nonce, aad, buf.as_mut_slice(), tag)
                    .map_err(|_| Error::Integrity)?;
            }
        }
        let pad = usize::from(*buf.last().ok_or(Error::InvalidPadding)?);
        let end = buf
            .len()
            .checked_sub(pad + 1)
            .ok_or(Error::InvalidPadding)?;
        zeroize::Zeroize::zeroize(buf.get_mut(end..).ok_or(Error::InvalidPadding)?);
        let mut plaintext = core::mem::take(&mut *buf);
        plaintext.truncate(end);
        Ok(Unprotected {
            header,
            cleartext,
            inner_next: layout.inner_next,
            fragment: layout.fragment,
            plaintext,
        })
    }
}

fn gcm_nonce(salt: &[u8; 4], iv: &[u8; 8]) -> [u8; 12] {
    let mut n = [0u8; 12];
    let (a, b) = n.split_at_mut(4);
    a.copy_from_slice(salt);
    b.copy_from_slice(iv);
    n
}

/// Emits `payloads` linked to each other, the last one pointing at `last_next`.
fn emit_chain_linked(
    payloads: &[Payload],
    last_next: PayloadType,
    buf: &mut [u8],
) -> Result<(), Error> {
    let mut at = 0usize;
    for (i, p) in payloads.iter().enumerate() {
        let next = payloads.get(i + 1).map_or(last_next, Payload::payload_type);
        let got = buf.len();
        let dst = buf
            .get_mut(at..)
            .ok_or(Error::BufferTooSmall { needed: at, got })?;
        p.emit(next, dst)?;
        at = at.saturating_add(p.buffer_len());
    }
    Ok(())
}

/// Finds the SK/SKF payload (the last in the chain) and decodes the cleartext ones before it.
fn locate(header: &HeaderRepr, msg: &[u8]) -> Result<(Layout, Vec<Payload>), Error> {
    let body = msg.get(HEADER_LEN..).unwrap_or(&[]);
    let mut at = HEADER_LEN;
    let mut cleartext = Vec::new();
    for raw in Payloads::new(header.next_payload, body) {
        let raw = raw?;
        match raw.payload_type {
            PayloadType::SK => {
                return Ok((
                    Layout {
                        iv_at: at + GENERIC_HEADER_LEN,
                        inner_next: raw.next_payload,
                        fragment: None,
                    },
                    cleartext,
                ));
            }
            PayloadType::SKF => {
                let Payload::Skf(f) = Payload::parse(&raw)? else {
                    return Err(Error::Malformed("SKF payload"));
                };
                if f.fragment_number == 0 || f.fragment_number > f.total_fragments {
                    return Err(Error::Malformed("SKF fragment number"));
                }
                return Ok((
                    Layout {
                        iv_at: at + GENERIC_HEADER_LEN + 4,
                        inner_next: raw.next_payload,
                        fragment: Some((f.fragment_number, f.total_fragments)),
                    },
                    cleartext,
                ));
            }
            _ => {
                cleartext.push(Payload::parse(&raw)?);
                at += GENERIC_HEADER_LEN + raw.body.len();
            }
        }
    }
    Err(Error::NoEncryptedPayload)
}

/// Both directions of an IKE SA's SK protection, chosen by role.
#[derive(Debug)]
pub struct SkCrypto {
    /// Protects what we send (SK_ei/SK_ai for the original initiator, SK_er/SK_ar for the
    /// responder).
    pub outbound: SkCipher,
    /// Verifies and decrypts what we receive.
    pub inbound: SkCipher,
}

impl SkCrypto {
    /// Builds both directions from an IKE SA's keys; `initiator` is our role in the IKE SA
    /// (the original initiator, §2.14).
    pub fn new(
        provider: &IkeCryptoProvider,
        suite: &IkeSuite,
        keys: &IkeSaKeys,
        initiator: bool,
    ) -> Result<Self, Error> {
        let i = SkCipher::new(
            provider,
            suite,
            keys.sk_ei.as_bytes(),
            keys.sk_ai.as_bytes(),
        )?;
        let r = SkCipher::new(
            provider,
            suite,
            keys.sk_er.as_bytes(),
            keys.sk_ar.as_bytes(),
        )?;
        Ok(if initiator {
            SkCrypto {
                outbound: i,
                inbound: r,
            }
        } else {
            SkCrypto {
                outbound: r,
                inbound: i,
            }
        })
    }
}
