//! Known-answer tests of the keys and the encryption against vectors computed by an independent
//! implementation (`tests/vectors/gen.py`, Python's hashlib/hmac and the `cryptography`
//! package, written from RFC 2409's text; output in `tests/vectors/vectors.json`).
//!
//! Everything is recomputed with the crate from the fixed inputs: the Diffie-Hellman values
//! (through the provider's groups, fed the private values), SKEYID and its children, the
//! encryption key (with the Appendix B expansion), the IVs and their chaining in
//! [`IvTracker`], HASH_I / HASH_R, a Main Mode's messages 5 and 6, a Quick Mode with and
//! without PFS (HASH(1)–(3), three messages, KEYMAT of both SAs), an Informational DPD
//! message, and the transforms of the SA payloads mapped to the algorithms they name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{FixedRandom, unhex};
use dmvpn_esp::{EncryptionAlgorithm, Suite};
use dmvpn_ikev1::algorithm::{Hash, esp_suite, phase1_cipher, start_key_exchange};
use dmvpn_ikev1::cipher::IsakmpCipher;
use dmvpn_ikev1::iv::{IvTracker, phase1_iv, phase2_iv};
use dmvpn_ikev1::keys::{Phase1Inputs, Phase1Keys, split_hash};
use dmvpn_ikev1::wire::{
    EncryptedBody, GroupDescription, Payload, PayloadType, ProtocolId, SaPayload, parse_chain,
};
use dmvpn_ikev1::{Error, IkeCryptoProvider, Psk, Secret};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/vectors.json")).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    unhex(v.as_str().unwrap())
}

fn hash_of(name: &str) -> Hash {
    match name {
        "sha1" => Hash::Sha1,
        "sha256" => Hash::Sha256,
        "sha384" => Hash::Sha384,
        "sha512" => Hash::Sha512,
        other => panic!("{other}"),
    }
}

fn cipher_of(name: &str) -> EncryptionAlgorithm {
    name.parse().unwrap()
}

/// Both sides of a key exchange through the provider, fed the vector's private values:
/// (g^xi, g^xr, g^xy), checked against the vector.
fn exchange(g: &Value) -> (Vec<u8>, Vec<u8>, Secret) {
    let group = GroupDescription(u16::try_from(g["group"].as_u64().unwrap()).unwrap());
    let (pi, pr) = (hx(&g["private_i"]), hx(&g["private_r"]));
    let p = IkeCryptoProvider::rustcrypto(FixedRandom::new(&[&pi, &pr]));
    let ki = start_key_exchange(&p, group).unwrap();
    let kr = start_key_exchange(&p, group).unwrap();
    assert_eq!(ki.public_value(), hx(&g["public_i"]), "group {group}");
    assert_eq!(kr.public_value(), hx(&g["public_r"]), "group {group}");
    let s = ki.complete(kr.public_value()).unwrap();
    assert_eq!(s.as_bytes(), hx(&g["shared"]), "group {group}");
    assert_eq!(kr.complete(ki.public_value()).unwrap(), s);
    (ki.public_value().to_vec(), kr.public_value().to_vec(), s)
}

fn group_entry(table: &Value, group: u64) -> &Value {
    table
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"].as_u64() == Some(group))
        .unwrap()
}

/// Encrypts the vector's plaintext chain with `iv` and compares; decrypts the vector's
/// ciphertext and compares. Returns the decrypted payloads, chain and next IV.
fn check_message(
    cipher: &IsakmpCipher,
    iv: &[u8; 16],
    m: &Value,
    what: &str,
) -> (Vec<Payload>, Vec<u8>, [u8; 16]) {
    assert_eq!(iv[..], hx(&m["iv"])[..], "{what}: IV");
    let first = PayloadType(u8::try_from(m["first_payload"].as_u64().unwrap()).unwrap());
    let chain = hx(&m["chain"]);
    let payloads = parse_chain(first, &chain).unwrap();
    let sealed = cipher.encrypt_body(iv, &payloads).unwrap();
    assert_eq!(
        sealed.body.ciphertext,
        hx(&m["ciphertext"]),
        "{what}: ciphertext"
    );
    assert_eq!(sealed.next_iv[..], hx(&m["next_iv"])[..], "{what}: next IV");
    let body = EncryptedBody {
        first_payload: first,
        ciphertext: hx(&m["ciphertext"]),
    };
    let opened = cipher.decrypt_body(iv, &body).unwrap();
    assert_eq!(opened.payloads, payloads, "{what}");
    assert_eq!(opened.chain, chain, "{what}");
    assert_eq!(opened.next_iv, sealed.next_iv, "{what}");
    (opened.payloads, opened.chain, opened.next_iv)
}

fn body_of(p: &Payload) -> Vec<u8> {
    let mut b = vec![0; p.body_len()];
    p.emit_body(&mut b).unwrap();
    b
}

#[test]
fn the_groups_agree_with_python() {
    let v = vectors();
    for table in ["groups", "pfs_groups"] {
        for g in v[table].as_array().unwrap() {
            exchange(g);
        }
    }
}

#[test]
fn phase1_keys_hashes_and_main_mode_encryption() {
    let v = vectors();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let (g_xi, g_xr, g_xy) = exchange(group_entry(&v["groups"], c["group"].as_u64().unwrap()));
        let hash = hash_of(c["hash"].as_str().unwrap());
        let alg = cipher_of(c["cipher"].as_str().unwrap());
        // The initiator's SA payload names these algorithms.
        let sai_b = hx(&c["sai_b"]);
        let sa = SaPayload::parse(&sai_b).unwrap();
        let attrs = sa.proposals[0].transforms[0].ike_attributes().unwrap();
        assert_eq!(Hash::from_attribute(attrs.hash.unwrap()).unwrap(), hash);
        assert_eq!(
            phase1_cipher(attrs.encryption.unwrap(), attrs.key_length).unwrap(),
            alg
        );
        assert_eq!(
            u64::from(attrs.group.unwrap().0),
            c["group"].as_u64().unwrap()
        );

        let (ni, nr) = (hx(&c["ni"]), hx(&c["nr"]));
        let inputs = Phase1Inputs {
            ni_b: &ni,
            nr_b: &nr,
            g_xi: &g_xi,
            g_xr: &g_xr,
            g_xy: g_xy.as_bytes(),
            cky_i: u64::from_be_bytes(hx(&c["cky_i"]).try_into().unwrap()),
            cky_r: u64::from_be_bytes(hx(&c["cky_r"]).try_into().unwrap()),
        };
        let p = common::seeded_provider(1);
        let psk = Psk::new(&hx(&c["psk"]));
        let keys = Phase1Keys::derive_psk(&p, hash, alg, &psk, &inputs).unwrap();
        for (got, key) in [
            (keys.skeyid(), "skeyid"),
            (keys.skeyid_d(), "skeyid_d"),
            (keys.skeyid_a(), "skeyid_a"),
            (keys.skeyid_e(), "skeyid_e"),
            (keys.encryption_key(), "encryption_key"),
        ] {
            assert_eq!(got.as_bytes(), hx(&c[key]), "{name}: {key}");
        }
        assert_eq!(keys.initial_iv()[..], hx(&c["iv"])[..], "{name}: IV");
        assert_eq!(keys.initial_iv(), phase1_iv(hash, &g_xi, &g_xr));
        let (idii_b, idir_b) = (hx(&c["idii_b"]), hx(&c["idir_b"]));
        assert_eq!(
            keys.hash_i(&sai_b, &idii_b).unwrap(),
            hx(&c["hash_i"]),
            "{name}"
        );
        assert_eq!(
            keys.hash_r(&sai_b, &idir_b).unwrap(),
            hx(&c["hash_r"]),
            "{name}"
        );

        // Main Mode 5 (the initiator's ID and HASH_I) and 6, chained.
        let cipher = keys.cipher(&p).unwrap();
        let mut ivs = keys.iv_tracker();
        let (mm5, _, next) = check_message(&cipher, &ivs.iv(0), &c["mm5"], name);
        let Payload::Id(id) = &mm5[0] else { panic!() };
        let Payload::Hash(h) = &mm5[1] else { panic!() };
        assert_eq!(body_of(&Payload::Id(id.clone())), idii_b);
        keys.verify_hash_i(&sai_b, &idii_b, h).unwrap();
        ivs.advance(0, next);
        let (mm6, _, next) = check_message(&cipher, &ivs.iv(0), &c["mm6"], name);
        let Payload::Hash(h) = &mm6[1] else { panic!() };
        keys.verify_hash_r(&sai_b, &body_of(&mm6[0]), h).unwrap();
        assert_eq!(
            keys.verify_hash_r(&sai_b, &idii_b, h),
            Err(Error::HashMismatch("HASH_R"))
        );
        ivs.advance(0, next);
        quick_mode(&v, c, &keys, &cipher, &mut ivs, next);
        informational(c, &keys, &cipher, &ivs, next);
    }
}

fn quick_mode(
    v: &Value,
    c: &Value,
    keys: &Phase1Keys,
    cipher: &IsakmpCipher,
    ivs: &mut IvTracker,
    last_phase1_block: [u8; 16],
) {
    let name = c["name"].as_str().unwrap();
    let q = &c["quick_mode"];
    let mid = u32::try_from(q["message_id"].as_u64().unwrap()).unwrap();
    let (ni, nr) = (hx(&q["ni"]), hx(&q["nr"]));
    assert_eq!(ivs.iv(mid)[..], hx(&q["iv"])[..], "{name}: QM IV");
    assert_eq!(ivs.iv(mid), phase2_iv(keys.hash(), &last_phase1_block, mid));

    // QM1: HASH(1) over everything after it.
    let (p1, chain1, next) = check_message(cipher, &ivs.iv(mid), &q["qm1"], name);
    let (h1, after1) = split_hash(PayloadType::HASH, &chain1).unwrap();
    assert_eq!(after1, hx(&q["qm1"]["after_hash"]), "{name}");
    assert_eq!(h1, hx(&q["qm1"]["hash"]), "{name}");
    assert_eq!(keys.quick_mode_hash1(mid, after1).unwrap(), h1, "{name}");
    keys.verify_hash1(mid, after1, h1).unwrap();
    assert!(keys.verify_hash1(mid ^ 1, after1, h1).is_err());
    // strongSwan's zero padding decrypts to the same payloads.
    let zero = cipher
        .decrypt(
            &ivs.iv(mid),
            PayloadType::HASH,
            &hx(&q["qm1"]["ciphertext_zero_padding"]),
        )
        .unwrap();
    assert_eq!((zero.payloads, zero.chain), (p1.clone(), chain1.clone()));
    // The SA names the suite (and the PFS group).
    let Payload::Sa(sa) = &p1[1] else { panic!() };
    let t = &sa.proposals[0].transforms[0];
    let attrs = t.ipsec_attributes().unwrap();
    let suite = esp_suite(
        dmvpn_ikev1::wire::EspTransformId(t.transform_id),
        attrs.key_length,
        attrs.auth_algorithm,
    )
    .unwrap();
    assert_eq!(suite, Suite::parse(q["suite"].as_str().unwrap()).unwrap());
    let pfs = q["pfs"].as_bool().unwrap();
    assert_eq!(attrs.group.is_some(), pfs);
    assert_eq!(sa.proposals[0].spi, hx(&q["spi_i"]));
    ivs.advance(mid, next);

    // QM2: HASH(2) with Ni_b.
    let (_, chain2, next) = check_message(cipher, &ivs.iv(mid), &q["qm2"], name);
    let (h2, after2) = split_hash(PayloadType::HASH, &chain2).unwrap();
    assert_eq!(after2, hx(&q["qm2"]["after_hash"]));
    assert_eq!(
        keys.quick_mode_hash2(mid, &ni, after2).unwrap(),
        h2,
        "{name}"
    );
    keys.verify_hash2(mid, &ni, after2, h2).unwrap();
    ivs.advance(mid, next);

    // QM3: HASH(3) alone.
    let (p3, _, _) = check_message(cipher, &ivs.iv(mid), &q["qm3"], name);
    let Payload::Hash(h3) = &p3[0] else { panic!() };
    assert_eq!(keys.quick_mode_hash3(mid, &ni, &nr).unwrap(), *h3, "{name}");
    keys.verify_hash3(mid, &ni, &nr, h3).unwrap();
    assert_eq!(
        keys.verify_hash3(mid, &nr, &ni, h3),
        Err(Error::HashMismatch("HASH(3)"))
    );
    ivs.forget(mid);

    // KEYMAT of both SAs, from the initiator's and the responder's side.
    let g_qm = pfs.then(|| exchange(group_entry(&v["pfs_groups"], c["group"].as_u64().unwrap())).2);
    let pfs_secret = g_qm.as_ref().map(Secret::as_bytes);
    let spi_i = u32::from_be_bytes(hx(&q["spi_i"]).try_into().unwrap());
    let spi_r = u32::from_be_bytes(hx(&q["spi_r"]).try_into().unwrap());
    let (km_r, km_i) = (hx(&q["keymat_spi_r"]), hx(&q["keymat_spi_i"]));
    assert_eq!(
        keys.keymat(
            ProtocolId::ESP,
            &spi_r.to_be_bytes(),
            pfs_secret,
            &ni,
            &nr,
            km_r.len()
        )
        .unwrap()
        .as_bytes(),
        km_r,
        "{name}"
    );
    let initiator = keys
        .esp_keys(&suite, spi_i, spi_r, pfs_secret, &ni, &nr)
        .unwrap();
    let responder = keys
        .esp_keys(&suite, spi_r, spi_i, pfs_secret, &ni, &nr)
        .unwrap();
    let split = |km: &[u8]| {
        let (e, i) = km.split_at(suite.encryption.keymat_len());
        (e.to_vec(), i.to_vec())
    };
    for (sa, km) in [
        (&initiator.outbound, &km_r),
        (&initiator.inbound, &km_i),
        (&responder.inbound, &km_r),
        (&responder.outbound, &km_i),
    ] {
        let (e, i) = split(km);
        assert_eq!(sa.keys.encryption(), e, "{name}");
        assert_eq!(sa.keys.integrity(), i, "{name}");
    }
    assert_eq!(initiator.outbound.spi, spi_r);
}

fn informational(
    c: &Value,
    keys: &Phase1Keys,
    cipher: &IsakmpCipher,
    ivs: &IvTracker,
    last_phase1_block: [u8; 16],
) {
    let name = c["name"].as_str().unwrap();
    let m = &c["informational"];
    let mid = u32::try_from(m["message_id"].as_u64().unwrap()).unwrap();
    assert_eq!(ivs.iv(mid), phase2_iv(keys.hash(), &last_phase1_block, mid));
    let (payloads, chain, _) = check_message(cipher, &ivs.iv(mid), m, name);
    let (h, after) = split_hash(PayloadType::HASH, &chain).unwrap();
    assert_eq!(after, hx(&m["after_hash"]));
    assert_eq!(keys.informational_hash(mid, after).unwrap(), h, "{name}");
    let Payload::Notify(n) = &payloads[1] else {
        panic!()
    };
    assert_eq!(n.notify_type, dmvpn_ikev1::wire::NotifyType::R_U_THERE);
}

#[test]
fn the_vectors_cover_what_they_claim() {
    let v = vectors();
    let cases = v["cases"].as_array().unwrap();
    let has = |f: &dyn Fn(&Value) -> bool| cases.iter().any(f);
    for group in [14, 19] {
        for hash in ["sha1", "sha256"] {
            assert!(
                has(&|c| c["group"] == group && c["hash"] == hash),
                "{group} {hash}"
            );
        }
    }
    for cipher in ["aes128", "aes192", "aes256"] {
        assert!(has(&|c| c["cipher"] == cipher));
    }
    // The Appendix B expansion (SHA-1's 20 bytes for a 24- or 32-byte key).
    assert!(has(&|c| c["hash"] == "sha1" && c["cipher"] != "aes128"));
    assert!(has(&|c| c["quick_mode"]["pfs"] == true));
    assert!(has(&|c| c["quick_mode"]["pfs"] == false));
}
