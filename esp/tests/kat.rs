//! Known-answer tests for the primitives behind every backend: AES-GCM (test cases of the
//! GCM specification, McGrew & Viega), AES-CBC (RFC 3602 §4; AES-192 and AES-256 from NIST
//! SP 800-38A, Appendix F.2), HMAC-SHA-2 truncated as in
//! RFC 4868 (vectors of RFC 4231) and HMAC-SHA-1 (RFC 2202) truncated to 96 bits (RFC 2404);
//! and cross-backend ESP interoperability.

use std::sync::Arc;
use std::time::Instant;

use dmvpn_esp::crypto::{ChaChaRandom, CryptoProvider, all_providers};
use dmvpn_esp::{
    EncryptionAlgorithm, Error, InboundSa, IntegrityAlgorithm, OutboundSa, SaConfig, SaKeys, Suite,
};
use hex_literal::hex;

fn providers() -> Vec<CryptoProvider> {
    all_providers(Arc::new(ChaChaRandom::from_seed([1; 32])))
}

#[test]
fn providers_cover_features() {
    let names: Vec<_> = providers().iter().map(|p| p.name).collect();
    assert_eq!(names[0], "rustcrypto");
    assert_eq!(names.len(), if cfg!(feature = "ring") { 2 } else { 1 });
}

const GCM_P: [u8; 64] = hex!(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
);
const GCM_IV: [u8; 12] = hex!("cafebabefacedbaddecaf888");
const GCM_AAD: [u8; 20] = hex!("feedfacedeadbeeffeedfacedeadbeefabaddad2");

struct GcmCase {
    alg: EncryptionAlgorithm,
    key: &'static [u8],
    aad: &'static [u8],
    plen: usize,
    ct: &'static [u8],
    tag: [u8; 16],
}

const GCM_CASES: &[GcmCase] = &[
    // Test Case 3
    GcmCase {
        alg: EncryptionAlgorithm::AesGcm128,
        key: &hex!("feffe9928665731c6d6a8f9467308308"),
        aad: &[],
        plen: 64,
        ct: &hex!(
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
        ),
        tag: hex!("4d5c2af327cd64a62cf35abd2ba6fab4"),
    },
    // Test Case 4
    GcmCase {
        alg: EncryptionAlgorithm::AesGcm128,
        key: &hex!("feffe9928665731c6d6a8f9467308308"),
        aad: &GCM_AAD,
        plen: 60,
        ct: &hex!(
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
        ),
        tag: hex!("5bc94fbc3221a5db94fae95ae7121a47"),
    },
    // Test Case 15
    GcmCase {
        alg: EncryptionAlgorithm::AesGcm256,
        key: &hex!("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
        aad: &[],
        plen: 64,
        ct: &hex!(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
        ),
        tag: hex!("b094dac5d93471bdec1a502270e3cc6c"),
    },
    // Test Case 16
    GcmCase {
        alg: EncryptionAlgorithm::AesGcm256,
        key: &hex!("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
        aad: &GCM_AAD,
        plen: 60,
        ct: &hex!(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
        ),
        tag: hex!("76fc6ece0f4e1768cddf8853bb2d551b"),
    },
];

#[test]
fn aes_gcm_spec_vectors() {
    for p in providers() {
        for (i, c) in GCM_CASES.iter().enumerate() {
            let key = p.aead(c.alg).unwrap().new_key(c.key).unwrap();
            let mut buf = GCM_P[..c.plen].to_vec();
            let mut tag = [0u8; 16];
            key.seal(&GCM_IV, c.aad, &mut buf, &mut tag).unwrap();
            assert_eq!(buf, c.ct, "{} case {i}", p.name);
            assert_eq!(tag, c.tag, "{} case {i}", p.name);
            key.open(&GCM_IV, c.aad, &mut buf, &tag).unwrap();
            assert_eq!(buf, &GCM_P[..c.plen]);
            let mut bad = c.tag;
            bad[15] ^= 0x80;
            let mut buf = c.ct.to_vec();
            assert_eq!(
                key.open(&GCM_IV, c.aad, &mut buf, &bad),
                Err(Error::Integrity)
            );
        }
    }
}

/// (key, IV, plaintext, ciphertext)
type CbcCase = (&'static [u8], [u8; 16], &'static [u8], &'static [u8]);
/// (key, data, HMAC-SHA-256, HMAC-SHA-384, HMAC-SHA-512)
type HmacCase = (
    &'static [u8],
    &'static [u8],
    &'static [u8],
    &'static [u8],
    &'static [u8],
);

#[test]
fn aes_cbc_rfc3602_vectors() {
    let cases: &[CbcCase] = &[
        (
            &hex!("06a9214036b8a15b512e03d534120006"),
            hex!("3dafba429d9eb430b422da802c9fac41"),
            b"Single block msg",
            &hex!("e353779c1079aeb82708942dbe77181a"),
        ),
        (
            &hex!("c286696d887c9aa0611bbb3e2025a45a"),
            hex!("562e17996d093d28ddb3ba695a2e6f58"),
            &hex!("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
            &hex!("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"),
        ),
    ];
    for p in providers() {
        for (key, iv, pt, ct) in cases {
            let k = p
                .cipher(EncryptionAlgorithm::AesCbc128)
                .unwrap()
                .new_key(key)
                .unwrap();
            let mut buf = pt.to_vec();
            k.encrypt(iv, &mut buf).unwrap();
            assert_eq!(&buf, ct, "{}", p.name);
            k.decrypt(iv, &mut buf).unwrap();
            assert_eq!(&buf, pt);
            assert_eq!(k.encrypt(iv, &mut [0u8; 15]), Err(Error::InvalidPadding));
        }
    }
}

#[test]
fn aes_cbc_192_and_256_sp800_38a_vectors() {
    // NIST SP 800-38A F.2.3 (CBC-AES192.Encrypt) and F.2.5 (CBC-AES256.Encrypt).
    const IV: [u8; 16] = hex!("000102030405060708090a0b0c0d0e0f");
    const PT: [u8; 64] = hex!(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
    );
    let cases: [(EncryptionAlgorithm, &[u8], [u8; 64]); 2] = [
        (
            EncryptionAlgorithm::AesCbc192,
            &hex!("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"),
            hex!(
                "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
                "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd"
            ),
        ),
        (
            EncryptionAlgorithm::AesCbc256,
            &hex!("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
            hex!(
                "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
                "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"
            ),
        ),
    ];
    for p in providers() {
        for (alg, key, ct) in &cases {
            let k = p.cipher(*alg).unwrap().new_key(key).unwrap();
            let mut buf = PT;
            k.encrypt(&IV, &mut buf).unwrap();
            assert_eq!(&buf, ct, "{} {alg}", p.name);
            k.decrypt(&IV, &mut buf).unwrap();
            assert_eq!(buf, PT);
            assert!(p.cipher(*alg).unwrap().new_key(&key[1..]).is_err());
        }
    }
}

#[test]
fn hmac_sha2_rfc4231_vectors_truncated_per_rfc4868() {
    // (key, data, sha256, sha384, sha512) of RFC 4231 test cases 1 and 2.
    let cases: &[HmacCase] = &[
        (
            &[0x0b; 20],
            b"Hi There",
            &hex!("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            &hex!(
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"
            ),
            &hex!(
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
                "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
            ),
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            &hex!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            &hex!(
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"
            ),
            &hex!(
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
            ),
        ),
    ];
    for p in providers() {
        for (key, data, s256, s384, s512) in cases {
            for (alg, full) in [
                (IntegrityAlgorithm::HmacSha256_128, s256),
                (IntegrityAlgorithm::HmacSha384_192, s384),
                (IntegrityAlgorithm::HmacSha512_256, s512),
            ] {
                let k = p.hmac(alg).unwrap().new_key(key).unwrap();
                assert_eq!(k.output_len(), full.len());
                // Full output (what IKEv2 uses as PRF) …
                let mut out = vec![0u8; full.len()];
                k.sign(&[data], &mut out).unwrap();
                assert_eq!(&out, full, "{} {alg}", p.name);
                // … and the ESP ICV, truncated to half (RFC 4868 §2.1.1), fed in pieces.
                let n = alg.icv_len();
                assert_eq!(n, full.len() / 2);
                let mut icv = vec![0u8; n];
                let (a, b) = data.split_at(3);
                k.sign(&[a, b], &mut icv).unwrap();
                assert_eq!(&icv, &full[..n]);
                k.verify(&[data], &full[..n]).unwrap();
                let mut bad = full[..n].to_vec();
                bad[n - 1] ^= 1;
                assert_eq!(k.verify(&[data], &bad), Err(Error::Integrity));
            }
        }
    }
}

#[test]
fn hmac_sha1_rfc2202_vectors_truncated_to_96() {
    let cases: &[(&[u8], &[u8], [u8; 20])] = &[
        (
            &[0x0b; 20],
            b"Hi There",
            hex!("b617318655057264e28bc0b6fb378c8ef146be00"),
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            hex!("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        ),
    ];
    for p in providers() {
        for (key, data, full) in cases {
            let k = p
                .hmac(IntegrityAlgorithm::HmacSha1_96)
                .unwrap()
                .new_key(key)
                .unwrap();
            let mut icv = [0u8; 12];
            k.sign(&[data], &mut icv).unwrap();
            assert_eq!(icv, full[..12], "{}", p.name);
        }
    }
}

/// Every backend produces packets every other backend accepts (same keys, same random seed:
/// identical bytes).
#[test]
fn backends_interoperate_byte_for_byte() {
    let now = Instant::now();
    let provs = providers();
    for suite in [
        "aes128gcm16",
        "aes256gcm16",
        "aes128-sha256",
        "aes256-sha512",
        "null-sha384",
        "aes128-sha1",
    ] {
        let suite = Suite::parse(suite).unwrap();
        let keys = SaKeys::new(
            &vec![0x42; suite.encryption.keymat_len()],
            &vec![0x24; suite.integrity.key_len()],
        );
        let mut outputs = Vec::new();
        for p in &provs {
            let p = p
                .clone()
                .with_random(Arc::new(ChaChaRandom::from_seed([9; 32])));
            let cfg = SaConfig::new(0xdead_beef, suite, keys.clone(), p);
            let mut tx = OutboundSa::new(&cfg, now).unwrap();
            let mut wire = [0u8; 300];
            outputs.push(
                tx.encapsulate(now, 47, &[0x77; 100], &mut wire)
                    .unwrap()
                    .to_vec(),
            );
        }
        assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{suite}");
        for p in &provs {
            let cfg = SaConfig::new(0xdead_beef, suite, keys.clone(), p.clone());
            let mut rx = InboundSa::new(&cfg, now).unwrap();
            let mut out = [0u8; 300];
            assert_eq!(
                rx.decapsulate(now, &outputs[0], &mut out).unwrap().payload,
                &[0x77; 100]
            );
        }
    }
}
