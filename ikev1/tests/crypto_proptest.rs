//! Property tests of the keys and the encryption: every supported cipher round-trips any
//! payload chain (whole messages too, chained through an [`IvTracker`]); decryption,
//! message opening and HASH splitting never panic on arbitrary bytes; the key derivation
//! never panics on odd input lengths, and either side derives the same SA keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use dmvpn_esp::{EncryptionAlgorithm, Suite};
use dmvpn_ikev1::algorithm::Hash;
use dmvpn_ikev1::cipher::IsakmpCipher;
use dmvpn_ikev1::iv::IvTracker;
use dmvpn_ikev1::keys::{Phase1Inputs, Phase1Keys, split_hash};
use dmvpn_ikev1::wire::{
    Body, DeletePayload, Doi, EncryptedBody, ExchangeType, Flags, IdPayload, IdType, Message,
    NotifyPayload, NotifyType, Payload, PayloadType, ProtocolId, chain_to_vec,
};
use dmvpn_ikev1::{Error, Psk};
use proptest::collection::vec;
use proptest::prelude::*;

const CIPHERS: [EncryptionAlgorithm; 3] = [
    EncryptionAlgorithm::AesCbc128,
    EncryptionAlgorithm::AesCbc192,
    EncryptionAlgorithm::AesCbc256,
];

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        bytes(64).prop_map(Payload::Hash),
        bytes(64).prop_map(Payload::Nonce),
        bytes(300).prop_map(Payload::Ke),
        bytes(20).prop_map(Payload::VendorId),
        (any::<u8>(), any::<u8>(), any::<u16>(), bytes(20)).prop_map(|(t, p, port, data)| {
            Payload::Id(IdPayload {
                id_type: IdType(t),
                protocol_id: p,
                port,
                data,
            })
        }),
        (any::<u8>(), bytes(16), any::<u16>(), bytes(8)).prop_map(|(p, spi, t, data)| {
            Payload::Notify(NotifyPayload {
                doi: Doi::IPSEC,
                protocol_id: ProtocolId(p),
                spi,
                notify_type: NotifyType(t),
                data,
            })
        }),
        vec(vec(any::<u8>(), 4), 0..3).prop_map(|spis| Payload::Delete(DeletePayload {
            doi: Doi::IPSEC,
            protocol_id: ProtocolId::ESP,
            spi_size: 4,
            spis,
        })),
        (200u8..=255, bytes(30)).prop_map(|(t, body)| Payload::Unknown {
            payload_type: PayloadType(t),
            body
        }),
    ]
}

fn cipher() -> impl Strategy<Value = IsakmpCipher> {
    (0usize..3, vec(any::<u8>(), 32)).prop_map(|(i, key)| {
        let alg = CIPHERS[i];
        IsakmpCipher::new(&common::seeded_provider(1), alg, &key[..alg.key_len()]).unwrap()
    })
}

fn hash() -> impl Strategy<Value = Hash> {
    prop::sample::select(Hash::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_cipher_round_trips_any_chain(
        c in cipher(),
        iv in any::<[u8; 16]>(),
        payloads in vec(payload(), 0..6),
    ) {
        let sealed = c.encrypt_body(&iv, &payloads).unwrap();
        let n = sealed.body.ciphertext.len();
        let chain = chain_to_vec(&payloads).unwrap();
        prop_assert!(n.is_multiple_of(16) && n > chain.len() && n <= chain.len() + 16);
        prop_assert_eq!(&sealed.next_iv[..], &sealed.body.ciphertext[n - 16..]);
        let opened = c.decrypt_body(&iv, &sealed.body).unwrap();
        prop_assert_eq!(&opened.payloads, &payloads);
        prop_assert_eq!(&opened.chain, &chain);
        prop_assert_eq!(opened.padding, n - chain.len());
        prop_assert_eq!(opened.next_iv, sealed.next_iv);
    }

    #[test]
    fn messages_chain_through_the_tracker(
        c in cipher(),
        h in hash(),
        first_iv in any::<[u8; 16]>(),
        exchanges in vec((1u32..4, vec(payload(), 1..4)), 1..12),
    ) {
        // Two trackers (sender and receiver) stay in step over interleaved exchanges.
        let (mut tx, mut rx) = (IvTracker::new(h, first_iv), IvTracker::new(h, first_iv));
        for (mid, mut payloads) in exchanges {
            payloads.insert(0, Payload::Hash(vec![0; h.output_len()]));
            let msg = Message {
                cookie_i: 1,
                cookie_r: 2,
                minor_version: 0,
                exchange_type: ExchangeType::QUICK_MODE,
                flags: Flags::NONE,
                message_id: mid,
                body: Body::Clear(payloads.clone()),
            };
            let (bytes, next) = c.seal_message(&tx.iv(mid), &msg).unwrap();
            tx.advance(mid, next);
            let (hdr, opened) = c.open_message(&rx.iv(mid), &bytes).unwrap();
            prop_assert_eq!(hdr.message_id, mid);
            prop_assert_eq!(&opened.payloads, &payloads);
            let (hash, after) = split_hash(hdr.next_payload, &opened.chain).unwrap();
            prop_assert_eq!(hash.len(), h.output_len());
            prop_assert_eq!(after, chain_to_vec(&payloads[1..]).unwrap());
            rx.advance(mid, opened.next_iv);
            prop_assert_eq!(&tx, &rx);
        }
    }

    #[test]
    fn decryption_never_panics(
        c in cipher(),
        iv in any::<[u8; 16]>(),
        first in any::<u8>(),
        ciphertext in bytes(200),
    ) {
        let body = EncryptedBody { first_payload: PayloadType(first), ciphertext };
        match c.decrypt_body(&iv, &body) {
            Ok(o) => {
                prop_assert!(o.chain.len() + o.padding == body.ciphertext.len());
                let _ = split_hash(PayloadType(first), &o.chain);
            }
            Err(Error::CiphertextLength { len, block: 16 }) => {
                prop_assert!(len == 0 || !len.is_multiple_of(16));
            }
            Err(_) => {}
        }
        let _ = c.open_message(&iv, &body.ciphertext);
        let _ = split_hash(PayloadType(first), &body.ciphertext);
    }

    #[test]
    fn key_derivation_never_panics_and_both_sides_agree(
        h in hash(),
        alg in 0usize..3,
        psk in bytes(80),
        ni in bytes(70),
        nr in bytes(70),
        g_xy in bytes(300),
        cookies in any::<(u64, u64)>(),
        spis in any::<(u32, u32)>(),
        qn in (bytes(40), bytes(40)),
        pfs in prop::option::of(bytes(64)),
        suite in prop::sample::select(vec![
            "aes128-sha1", "aes192-sha256", "aes256-sha512", "aes128gcm16", "aes256gcm16",
            "null-sha384",
        ]),
    ) {
        let p = common::seeded_provider(2);
        let inputs = Phase1Inputs {
            ni_b: &ni, nr_b: &nr, g_xi: &ni, g_xr: &nr, g_xy: &g_xy,
            cky_i: cookies.0, cky_r: cookies.1,
        };
        let keys = Phase1Keys::derive_psk(&p, h, CIPHERS[alg], &Psk::new(&psk), &inputs).unwrap();
        prop_assert_eq!(keys.encryption_key().len(), CIPHERS[alg].key_len());
        prop_assert_eq!(keys.skeyid_e().len(), h.output_len());
        let suite = Suite::parse(suite).unwrap();
        let i = keys.esp_keys(&suite, spis.0, spis.1, pfs.as_deref(), &qn.0, &qn.1).unwrap();
        let r = keys.esp_keys(&suite, spis.1, spis.0, pfs.as_deref(), &qn.0, &qn.1).unwrap();
        prop_assert_eq!(&i.inbound, &r.outbound);
        prop_assert_eq!(&i.outbound, &r.inbound);
        prop_assert_eq!(i.inbound.keys.encryption().len(), suite.encryption.keymat_len());
        prop_assert_eq!(i.inbound.keys.integrity().len(), suite.integrity.key_len());
        let h1 = keys.quick_mode_hash1(spis.0, &g_xy).unwrap();
        prop_assert!(keys.verify_hash1(spis.0, &g_xy, &h1).is_ok());
        prop_assert!(keys.verify_hash1(spis.0.wrapping_add(1), &g_xy, &h1).is_err());
    }
}
