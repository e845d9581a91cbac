//! SK/SKF unprotect with fixed keys (AES-CBC + HMAC-SHA2 and AES-GCM-16): never panics on
//! arbitrary messages; genuine protected messages (SK or fragmented SKF) are accepted and
//! decrypt to what was sent, and any flipped bit is rejected.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use dmvpn_esp::crypto::ChaChaRandom;
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::sk::SkCipher;
use dmvpn_ikev2::transform::IkeSuite;
use dmvpn_ikev2::wire::{ExchangeType, Flags, Message, Payload};
use libfuzzer_sys::fuzz_target;

const SUITES: [&str; 4] = [
    "aes128-sha256-modp2048",
    "aes256-sha512-ecp256",
    "aes128gcm16-prfsha256-x25519",
    "aes256gcm16-prfsha384-x25519",
];

#[derive(Arbitrary, Debug)]
enum Input {
    /// Arbitrary bytes as a received message.
    Raw(Vec<u8>),
    /// A genuine message with a nonce payload of these bytes, maybe fragmented, maybe flipped.
    Genuine {
        nonce: Vec<u8>,
        fragment: Option<u8>,
        flip: Option<(u16, u8)>,
    },
}

#[derive(Arbitrary, Debug)]
struct Case {
    suite: u8,
    input: Input,
}

fuzz_target!(|case: Case| {
    let provider = IkeCryptoProvider::rustcrypto(Arc::new(ChaChaRandom::from_seed([7; 32])));
    let suite = IkeSuite::parse(SUITES[usize::from(case.suite) % SUITES.len()]).unwrap();
    let e = vec![0x11; suite.encr_key_len()];
    let a = vec![0x22; suite.integ_key_len()];
    let cipher = SkCipher::new(&provider, &suite, &e, &a).unwrap();
    match case.input {
        Input::Raw(bytes) => {
            let _ = cipher.unprotect(&bytes);
        }
        Input::Genuine {
            nonce,
            fragment,
            flip,
        } => {
            let outer = Message {
                spi_i: 1,
                spi_r: 2,
                minor_version: 0,
                exchange_type: ExchangeType::INFORMATIONAL,
                flags: Flags::INITIATOR,
                message_id: 3,
                payloads: vec![],
            };
            let inner = vec![Payload::Nonce(nonce)];
            let messages = match fragment {
                Some(size) => cipher
                    .protect_fragments(provider.random(), &outer, &inner, usize::from(size).max(1))
                    .unwrap(),
                None => vec![cipher.protect(provider.random(), &outer, &inner).unwrap()],
            };
            let mut plain = Vec::new();
            let mut first = None;
            for mut m in messages {
                let flipped = match flip {
                    Some((at, bit)) if usize::from(at) < m.len() => {
                        m[usize::from(at)] ^= 1 << (bit % 8);
                        true
                    }
                    _ => false,
                };
                match cipher.unprotect(&m) {
                    Ok(u) => {
                        assert!(!flipped, "a flipped message was accepted");
                        first.get_or_insert(u.inner_next);
                        plain.extend_from_slice(&u.plaintext);
                    }
                    Err(_) => {
                        assert!(flipped, "a genuine message was rejected");
                        return;
                    }
                }
            }
            let got = dmvpn_ikev2::wire::parse_chain(first.unwrap(), &plain).unwrap();
            assert_eq!(got, inner);
        }
    }
});
