//! Encrypting and decrypting message bodies (RFC 2408 §3.1's E flag, RFC 2409 §5 and
//! Appendix B): AES-CBC with 128-, 192- or 256-bit keys, from the `esp` provider.
//!
//! Everything after the ISAKMP header is encrypted: the payload chain, then padding up to a
//! whole number of blocks. There is no integrity check of its own (the HASH payload inside
//! authenticates a message) and no IV in the message (see [`crate::iv`]).
//!
//! **Padding.** RFC 2409 Appendix B asks for bytes of 0x00 up to the block size. strongSwan
//! sends 1 to 16 zero bytes (a whole block when the chain is already aligned), libreswan 0 to
//! 15, and neither reads the padding: both parse the decrypted chain by its payload lengths and
//! ignore what is left. KAME's racoon (ipsec-tools) puts the number of padding bytes before the
//! last one in the last byte (its default `exclusive_tail`) and strips that many plus one only
//! with `strict_check` (off by default). Cisco IOS interoperates with strongSwan and libreswan,
//! so it takes zero padding; what it sends itself could not be seen here (the encrypted
//! messages of the public IOS captures cannot be decrypted without their keys, which are not
//! published). So:
//!
//! - on receipt, the chain ends where its last payload's length says (Next Payload 0), and
//!   whatever follows is padding, whatever its length or content (as strongSwan and libreswan
//!   read it);
//! - when sending, 1 to 16 bytes are added (never none, so that the last byte is always
//!   padding), all zero except the last, which holds the number of padding bytes before it:
//!   a reader that ignores padding (strongSwan, libreswan) and one that strips the count in
//!   the last byte (racoon, strict or not) both find the chain, and a reader that takes the
//!   last byte as the count finds padding there, never a payload byte.
//!
//! ```
//! use std::sync::Arc;
//! use dmvpn_esp::crypto::ChaChaRandom;
//! use dmvpn_esp::EncryptionAlgorithm;
//! use dmvpn_ikev1::cipher::IsakmpCipher;
//! use dmvpn_ikev1::wire::Payload;
//! use dmvpn_ikev1::IkeCryptoProvider;
//!
//! let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([1; 32])));
//! let cipher = IsakmpCipher::new(&provider, EncryptionAlgorithm::AesCbc128, &[0x42; 16])?;
//! let iv = [7; 16];
//! let payloads = vec![Payload::Hash(vec![1; 20]), Payload::Nonce(vec![2; 16])];
//! let sealed = cipher.encrypt_body(&iv, &payloads)?;
//! assert_eq!(sealed.body.ciphertext.len(), 48); // 44 bytes of chain, 4 of padding
//! let opened = cipher.decrypt_body(&iv, &sealed.body)?;
//! assert_eq!(opened.payloads, payloads);
//! assert_eq!((opened.padding, opened.next_iv), (4, sealed.next_iv));
//! # Ok::<(), dmvpn_ikev1::Error>(())
//! ```

use core::fmt;

use dmvpn_esp::EncryptionAlgorithm;
use dmvpn_esp::crypto::CbcKey;
use dmvpn_ikev2::crypto::IkeCryptoProvider;

use crate::Error;
use crate::iv::{BLOCK_LEN, Iv};
use crate::wire::{
    Body, BodyView, EncryptedBody, Flags, HeaderRepr, Message, MessageView, Payload, PayloadType,
    chain_to_vec, parse_decrypted_chain,
};

/// The phase 1 cipher of one ISAKMP SA, keyed (both directions use the same key).
pub struct IsakmpCipher {
    algorithm: EncryptionAlgorithm,
    key: Box<dyn CbcKey>,
}

impl fmt::Debug for IsakmpCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IsakmpCipher({}, key: <redacted>)", self.algorithm)
    }
}

/// An encrypted body and the IV the next message of its exchange chains on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The body, to put after a header with the E flag set.
    pub body: EncryptedBody,
    /// The last ciphertext block: the next IV of this exchange
    /// ([`IvTracker::advance`](crate::iv::IvTracker::advance)).
    pub next_iv: Iv,
}

/// A decrypted body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The payloads.
    pub payloads: Vec<Payload>,
    /// The plaintext of the payload chain, padding excluded: what [`crate::keys::split_hash`]
    /// takes to find the bytes a phase 2 HASH covers.
    pub chain: Vec<u8>,
    /// How many bytes of padding followed the chain.
    pub padding: usize,
    /// The last ciphertext block: the next IV of this exchange, once the message counted
    /// (its HASH verified).
    pub next_iv: Iv,
}

impl IsakmpCipher {
    /// A cipher keyed with `key` ([`Phase1Keys::encryption_key`](crate::keys::Phase1Keys)),
    /// of the provider's implementation of `algorithm` (AES-CBC 128, 192 or 256).
    pub fn new(
        provider: &IkeCryptoProvider,
        algorithm: EncryptionAlgorithm,
        key: &[u8],
    ) -> Result<Self, Error> {
        if crate::algorithm::phase1_cipher_attributes(algorithm).is_none() {
            return Err(Error::UnsupportedAlgorithm(format!(
                "{algorithm} as the phase 1 cipher"
            )));
        }
        Ok(IsakmpCipher {
            algorithm,
            key: provider.esp.cipher(algorithm)?.new_key(key)?,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> EncryptionAlgorithm {
        self.algorithm
    }

    /// Length of the encrypted body of a chain of `chain_len` bytes: the next whole block
    /// with at least one byte of padding.
    pub fn encrypted_len(&self, chain_len: usize) -> usize {
        (chain_len / BLOCK_LEN)
            .saturating_add(1)
            .saturating_mul(BLOCK_LEN)
    }

    /// Encrypts a payload chain with `iv`.
    pub fn encrypt_body(&self, iv: &Iv, payloads: &[Payload]) -> Result<Sealed, Error> {
        let first = payloads
            .first()
            .map_or(PayloadType::NONE, Payload::payload_type);
        self.encrypt_chain(iv, first, &chain_to_vec(payloads)?)
    }

    /// Encrypts the bytes of a payload chain whose first payload has type `first`, adding
    /// the padding described in the [module](self) docs.
    pub fn encrypt_chain(
        &self,
        iv: &Iv,
        first: PayloadType,
        chain: &[u8],
    ) -> Result<Sealed, Error> {
        // 1..=16 bytes of padding, so the count before the last byte fits it.
        let pad = BLOCK_LEN - chain.len() % BLOCK_LEN;
        let len = chain.len().checked_add(pad).ok_or(Error::TooLong {
            what: "encrypted body",
            len: chain.len(),
        })?;
        let mut buf = Vec::with_capacity(len);
        buf.extend_from_slice(chain);
        buf.resize(len.saturating_sub(1), 0);
        buf.push(u8::try_from(pad.saturating_sub(1)).unwrap_or(0));
        self.key.encrypt(iv, &mut buf)?;
        let next_iv = last_block(&buf)?;
        Ok(Sealed {
            body: EncryptedBody {
                first_payload: first,
                ciphertext: buf,
            },
            next_iv,
        })
    }

    /// Decrypts a body with `iv` and reads its payload chain; the ciphertext must be a
    /// non-empty multiple of the block ([`Error::CiphertextLength`]). A wrong key or IV
    /// decrypts to garbage, which fails to parse or, rarely, parses: only the HASH inside
    /// tells.
    pub fn decrypt_body(&self, iv: &Iv, body: &EncryptedBody) -> Result<Opened, Error> {
        self.decrypt(iv, body.first_payload, &body.ciphertext)
    }

    /// Decrypts `ciphertext`, whose first payload has type `first` (the header's Next
    /// Payload), with `iv`.
    pub fn decrypt(&self, iv: &Iv, first: PayloadType, ciphertext: &[u8]) -> Result<Opened, Error> {
        let len = ciphertext.len();
        if len == 0 || !len.is_multiple_of(BLOCK_LEN) {
            return Err(Error::CiphertextLength {
                len,
                block: BLOCK_LEN,
            });
        }
        let next_iv = last_block(ciphertext)?;
        let mut plain = ciphertext.to_vec();
        self.key.decrypt(iv, &mut plain)?;
        let (payloads, padding) = parse_decrypted_chain(first, &plain)?;
        plain.truncate(len.saturating_sub(padding));
        Ok(Opened {
            payloads,
            chain: plain,
            padding,
            next_iv,
        })
    }

    /// Builds an encrypted message: `message`'s header fields with the E flag set, its
    /// cleartext payloads ([`Body::Clear`]) encrypted with `iv`. Returns the bytes to send and
    /// the next IV of the exchange.
    pub fn seal_message(&self, iv: &Iv, message: &Message) -> Result<(Vec<u8>, Iv), Error> {
        let Body::Clear(payloads) = &message.body else {
            return Err(Error::Malformed(
                "sealing a message that is already encrypted",
            ));
        };
        let sealed = self.encrypt_body(iv, payloads)?;
        let out = Message {
            flags: message.flags | Flags::ENCRYPTION,
            body: Body::Encrypted(sealed.body),
            ..message.clone()
        };
        Ok((out.to_vec()?, sealed.next_iv))
    }

    /// Reads a received message whose E flag is set and decrypts its body with `iv` (the
    /// IV of its exchange, [`IvTracker::iv`](crate::iv::IvTracker::iv) of its message ID).
    pub fn open_message(&self, iv: &Iv, bytes: &[u8]) -> Result<(HeaderRepr, Opened), Error> {
        let view = MessageView::new_checked(bytes)?;
        let header = HeaderRepr::parse(view.header())?;
        match view.body() {
            BodyView::Encrypted {
                first_payload,
                ciphertext,
            } => Ok((header, self.decrypt(iv, first_payload, ciphertext)?)),
            BodyView::Clear(_) => Err(Error::Malformed("message without the E flag")),
        }
    }
}

/// The last block of a non-empty whole number of blocks.
fn last_block(buf: &[u8]) -> Result<Iv, Error> {
    let start = buf
        .len()
        .checked_sub(BLOCK_LEN)
        .ok_or(Error::CiphertextLength {
            len: buf.len(),
            block: BLOCK_LEN,
        })?;
    let mut iv = [0u8; BLOCK_LEN];
    iv.copy_from_slice(buf.get(start..).unwrap_or(&[0; BLOCK_LEN]));
    Ok(iv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ExchangeType;
    use std::sync::Arc;

    fn cipher(alg: EncryptionAlgorithm) -> IsakmpCipher {
        let p = IkeCryptoProvider::rustcrypto(Arc::new(
            dmvpn_esp::crypto::ChaChaRandom::from_seed([9; 32]),
        ));
        IsakmpCipher::new(&p, alg, &vec![0x5a; alg.key_len()]).unwrap()
    }

    #[test]
    fn padding_is_one_to_a_block_with_its_count_last() {
        let c = cipher(EncryptionAlgorithm::AesCbc192);
        for len in 4..=40usize {
            let chain = chain_to_vec(&[Payload::Hash(vec![0xab; len - 4])]).unwrap();
            let sealed = c
                .encrypt_chain(&[1; 16], PayloadType::HASH, &chain)
                .unwrap();
            let n = sealed.body.ciphertext.len();
            assert!(
                n > len && n - len <= 16 && n.is_multiple_of(16),
                "{len} -> {n}"
            );
            let mut plain = sealed.body.ciphertext.clone();
            c.key.decrypt(&[1; 16], &mut plain).unwrap();
            let pad = n - len;
            assert!(plain[len..n - 1].iter().all(|&b| b == 0));
            assert_eq!(usize::from(plain[n - 1]), pad - 1);
            let opened = c.decrypt_body(&[1; 16], &sealed.body).unwrap();
            assert_eq!((opened.chain, opened.padding), (chain, pad));
            assert_eq!(opened.next_iv[..], sealed.body.ciphertext[n - 16..]);
        }
    }

    #[test]
    fn zero_padding_and_no_padding_are_accepted() {
        let c = cipher(EncryptionAlgorithm::AesCbc128);
        // strongSwan: a whole block of zeros after an aligned chain; libreswan: none.
        let chain = chain_to_vec(&[Payload::Nonce(vec![3; 12])]).unwrap();
        for pad in [0usize, 16] {
            let mut buf = chain.clone();
            buf.resize(chain.len() + pad, 0);
            c.key.encrypt(&[2; 16], &mut buf).unwrap();
            let opened = c.decrypt(&[2; 16], PayloadType::NONCE, &buf).unwrap();
            assert_eq!(opened.payloads, [Payload::Nonce(vec![3; 12])]);
            assert_eq!(opened.padding, pad);
        }
    }

    #[test]
    fn lengths_and_modes_are_checked() {
        let c = cipher(EncryptionAlgorithm::AesCbc256);
        for len in [0usize, 1, 15, 17] {
            assert_eq!(
                c.decrypt(&[0; 16], PayloadType::HASH, &vec![0; len]),
                Err(Error::CiphertextLength { len, block: 16 })
            );
        }
        let p = IkeCryptoProvider::rustcrypto(Arc::new(
            dmvpn_esp::crypto::ChaChaRandom::from_seed([9; 32]),
        ));
        assert!(IsakmpCipher::new(&p, EncryptionAlgorithm::AesGcm256, &[0; 32]).is_err());
        assert!(IsakmpCipher::new(&p, EncryptionAlgorithm::AesCbc256, &[0; 16]).is_err());
        assert!(format!("{c:?}").contains("redacted"));
    }

    #[test]
    fn messages_seal_and_open() {
        let c = cipher(EncryptionAlgorithm::AesCbc128);
        let msg = Message {
            cookie_i: 1,
            cookie_r: 2,
            minor_version: 0,
            exchange_type: ExchangeType::QUICK_MODE,
            flags: Flags::NONE,
            message_id: 0x0a0b_0c0d,
            body: Body::Clear(vec![
                Payload::Hash(vec![4; 32]),
                Payload::Nonce(vec![5; 20]),
            ]),
        };
        let (bytes, next) = c.seal_message(&[3; 16], &msg).unwrap();
        let parsed = Message::parse(&bytes).unwrap();
        assert!(parsed.flags.encryption());
        let (hdr, opened) = c.open_message(&[3; 16], &bytes).unwrap();
        assert_eq!(hdr.message_id, 0x0a0b_0c0d);
        assert_eq!(Some(&opened.payloads[..]), msg.payloads());
        assert_eq!(opened.next_iv, next);
        assert!(c.seal_message(&[3; 16], &parsed).is_err());
        assert!(c.open_message(&[3; 16], &msg.to_vec().unwrap()).is_err());
        // The wrong IV garbles the first block: here the HASH payload's header.
        assert!(c.open_message(&[4; 16], &bytes).is_err());
    }
}
