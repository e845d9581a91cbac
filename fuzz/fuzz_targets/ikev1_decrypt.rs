//! IKEv1 decryption with fixed keys (AES-CBC-128/192/256 under SHA-1 and SHA-2 phase 1 keys):
//! arbitrary ciphertext and arbitrary messages never panic the cipher, the IV tracker or the
//! HASH split and check; a genuine Quick Mode style message (HASH(1) | Nonce [| N]) opens to
//! what was sent, and one with a bit flipped that still opens and passes its HASH(1) carries
//! exactly what was sent (CBC has no integrity of its own: a flip in the padding goes
//! unnoticed, one in the payloads must not).
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use dmvpn_esp::EncryptionAlgorithm;
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_ikev1::algorithm::Hash;
use dmvpn_ikev1::iv::IvTracker;
use dmvpn_ikev1::keys::{Phase1Inputs, Phase1Keys, split_hash};
use dmvpn_ikev1::wire::{
    Body, Doi, ExchangeType, Flags, Message, MessageView, NotifyPayload, NotifyType, Payload,
    PayloadType, ProtocolId, chain_to_vec,
};
use dmvpn_ikev1::{IkeCryptoProvider, Psk};
use libfuzzer_sys::fuzz_target;

const SUITES: [(Hash, EncryptionAlgorithm); 6] = [
    (Hash::Sha1, EncryptionAlgorithm::AesCbc128),
    (Hash::Sha1, EncryptionAlgorithm::AesCbc256),
    (Hash::Sha256, EncryptionAlgorithm::AesCbc128),
    (Hash::Sha256, EncryptionAlgorithm::AesCbc192),
    (Hash::Sha384, EncryptionAlgorithm::AesCbc256),
    (Hash::Sha512, EncryptionAlgorithm::AesCbc256),
];

#[derive(Arbitrary, Debug)]
enum Input {
    /// Arbitrary ciphertext under an arbitrary IV, led by an arbitrary payload type.
    Body {
        iv: [u8; 16],
        first: u8,
        ciphertext: Vec<u8>,
    },
    /// An arbitrary received message, opened with its exchange's IV.
    Message(Vec<u8>),
    /// A genuine protected message, maybe with a bit flipped.
    Genuine {
        message_id: u32,
        nonce: Vec<u8>,
        notify: Option<Vec<u8>>,
        flip: Option<(u16, u8)>,
    },
}

#[derive(Arbitrary, Debug)]
struct Case {
    input: Input,
    suite: u8,
}

/// The SA's keys and its IV chains after phase 1 (MM6's last block).
fn sa(suite: u8) -> (Phase1Keys, IvTracker, IkeCryptoProvider) {
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([7; 32])));
    let (hash, cipher) = SUITES[usize::from(suite) % SUITES.len()];
    let inputs = Phase1Inputs {
        ni_b: &[0x11; 20],
        nr_b: &[0x22; 20],
        g_xi: &[0x33; 64],
        g_xr: &[0x44; 64],
        g_xy: &[0x55; 32],
        cky_i: 0x0102_0304_0506_0708,
        cky_r: 0x1112_1314_1516_1718,
    };
    let keys =
        Phase1Keys::derive_psk(&provider, hash, cipher, &Psk::from("fuzz"), &inputs).unwrap();
    let mut ivs = keys.iv_tracker();
    ivs.advance(0, [0x66; 16]);
    (keys, ivs, provider)
}

/// At most 1,000 bytes (a payload's length field holds 65,535).
fn cap(mut v: Vec<u8>) -> Vec<u8> {
    v.truncate(1000);
    v
}

/// Everything a receiver does with a decrypted chain: split off the HASH, check HASH(1).
fn check_hash(keys: &Phase1Keys, message_id: u32, first: PayloadType, chain: &[u8]) -> bool {
    match split_hash(first, chain) {
        Ok((hash, after)) => keys.verify_hash1(message_id, after, hash).is_ok(),
        Err(_) => false,
    }
}

fuzz_target!(|case: Case| {
    let (keys, mut ivs, provider) = sa(case.suite);
    let cipher = keys.cipher(&provider).unwrap();
    match case.input {
        Input::Body {
            iv,
            first,
            ciphertext,
        } => {
            if let Ok(o) = cipher.decrypt(&iv, PayloadType(first), &ciphertext) {
                assert_eq!(o.chain.len() + o.padding, ciphertext.len());
                assert_eq!(o.next_iv[..], ciphertext[ciphertext.len() - 16..]);
                let _ = check_hash(&keys, 1, PayloadType(first), &o.chain);
            }
        }
        Input::Message(bytes) => {
            let Ok(view) = MessageView::new_checked(&bytes[..]) else {
                return;
            };
            let mid = view.header().message_id();
            let iv = ivs.iv(mid);
            if let Ok((hdr, o)) = cipher.open_message(&iv, &bytes) {
                assert_eq!(hdr.message_id, mid);
                if check_hash(&keys, mid, hdr.next_payload, &o.chain) {
                    ivs.advance(mid, o.next_iv);
                    assert_eq!(ivs.iv(mid), o.next_iv);
                }
            }
            // A lookup never changes the chains.
            let before = ivs.clone();
            let _ = ivs.iv(mid ^ 1);
            assert_eq!(ivs, before);
        }
        Input::Genuine {
            message_id,
            nonce,
            notify,
            flip,
        } => {
            let mut payloads = vec![Payload::Hash(vec![]), Payload::Nonce(cap(nonce))];
            if let Some(data) = notify.map(cap) {
                payloads.push(Payload::Notify(NotifyPayload {
                    doi: Doi::IPSEC,
                    protocol_id: ProtocolId::ISAKMP,
                    spi: vec![0xab; 16],
                    notify_type: NotifyType::R_U_THERE,
                    data,
                }));
            }
            let after = chain_to_vec(&payloads[1..]).unwrap();
            payloads[0] = Payload::Hash(keys.quick_mode_hash1(message_id, &after).unwrap());
            let msg = Message {
                cookie_i: 0x0102_0304_0506_0708,
                cookie_r: 0x1112_1314_1516_1718,
                minor_version: 0,
                exchange_type: ExchangeType::QUICK_MODE,
                flags: Flags::NONE,
                message_id,
                body: Body::Clear(payloads.clone()),
            };
            let (mut bytes, _) = cipher.seal_message(&ivs.iv(message_id), &msg).unwrap();
            let flipped = match flip {
                Some((at, bit)) if usize::from(at) < bytes.len() => {
                    bytes[usize::from(at)] ^= 1 << (bit % 8);
                    true
                }
                _ => false,
            };
            let Ok(view) = MessageView::new_checked(&bytes[..]) else {
                assert!(flipped, "a genuine message does not parse");
                return;
            };
            let mid = view.header().message_id();
            match cipher.open_message(&ivs.iv(mid), &bytes) {
                Ok((hdr, o)) => {
                    let verified = check_hash(&keys, mid, hdr.next_payload, &o.chain);
                    if verified {
                        assert_eq!(mid, message_id, "a changed message ID verified");
                        assert_eq!(o.payloads, payloads, "changed payloads verified");
                    }
                    assert!(flipped || verified, "a genuine message does not verify");
                }
                Err(_) => assert!(flipped, "a genuine message does not open"),
            }
        }
    }
});
