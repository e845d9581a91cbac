//! Known-answer tests: RFC test values for HMAC and the groups, and vectors computed by an
//! independent implementation (`tests/vectors/gen.py`, output in `tests/vectors/vectors.json`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{FixedRandom, provider_with, seeded_provider, unhex};
use dmvpn_ikev2::Secret;
use dmvpn_ikev2::auth::{Psk, PskTable, SignedOctets, psk_auth, verify_psk_auth};
use dmvpn_ikev2::keys::{ChildSaKeys, IkeSaKeys, child_keymat, rekey_skeyseed, skeyseed};
use dmvpn_ikev2::sk::SkCipher;
use dmvpn_ikev2::transform::{IkeSuite, KeGroup, PrfId};
use dmvpn_ikev2::wire::{AuthMethod, AuthPayload, ExchangeType, Flags, Identity, Message, Payload};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/vectors.json")).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    unhex(v.as_str().unwrap())
}

fn u64hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap(), 16).unwrap()
}

#[test]
fn rfc4231_hmac_sha2_through_the_prf() {
    let p = seeded_provider(1);
    let key = [0x0b; 20];
    for (prf, want) in [
        (
            PrfId::HMAC_SHA2_256,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            PrfId::HMAC_SHA2_384,
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
        ),
        (
            PrfId::HMAC_SHA2_512,
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
    ] {
        let out = p
            .prf(prf, &key)
            .unwrap()
            .compute(&[b"Hi ", b"There"])
            .unwrap();
        assert_eq!(out.as_bytes(), unhex(want), "{prf}");
    }
    // RFC 4231 test case 2 (a key shorter than the block).
    let out = p
        .prf(PrfId::HMAC_SHA2_256, b"Jefe")
        .unwrap()
        .compute(&[b"what do ya want for nothing?"])
        .unwrap();
    assert_eq!(
        out.as_bytes(),
        unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
}

#[test]
fn rfc7748_x25519_through_the_group() {
    // RFC 7748 §6.1: Alice's and Bob's keys.
    let a = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let b = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let p = provider_with(FixedRandom::new(&[&a, &b]));
    let ka = p.start_key_exchange(KeGroup::CURVE25519).unwrap();
    let kb = p.start_key_exchange(KeGroup::CURVE25519).unwrap();
    assert_eq!(
        ka.public_value(),
        unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    assert_eq!(
        kb.public_value(),
        unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    );
    let k = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(ka.complete(kb.public_value()).unwrap().as_bytes(), k);
    assert_eq!(kb.complete(ka.public_value()).unwrap().as_bytes(), k);
    // RFC 8031 §2 / RFC 7748 §6.1: an all-zero result (low-order point) is rejected.
    let err = ka.complete(&[0u8; 32]).unwrap_err();
    assert!(
        matches!(err, dmvpn_ikev2::Error::InvalidKeyExchange { .. }),
        "{err}"
    );
    let mut one = [0u8; 32];
    one[0] = 1;
    assert!(ka.complete(&one).is_err());
    assert!(ka.complete(&[9u8; 31]).is_err());
}

#[test]
fn rfc5903_ecp256_through_the_group() {
    // RFC 5903 §8.1.
    let i = unhex("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433");
    let r = unhex("C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53");
    let p = provider_with(FixedRandom::new(&[&i, &r]));
    let ki = p.start_key_exchange(KeGroup::ECP_256).unwrap();
    let kr = p.start_key_exchange(KeGroup::ECP_256).unwrap();
    assert_eq!(
        ki.public_value(),
        unhex(
            "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C37725811805271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3"
        )
    );
    assert_eq!(
        kr.public_value(),
        unhex(
            "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF6356FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB"
        )
    );
    let girx = unhex("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE");
    assert_eq!(ki.complete(kr.public_value()).unwrap().as_bytes(), girx);
    assert_eq!(kr.complete(ki.public_value()).unwrap().as_bytes(), girx);
    // A point off the curve (y + 1) and the wrong length are rejected.
    let mut bad = kr.public_value().to_vec();
    bad[63] ^= 1;
    assert!(matches!(
        ki.complete(&bad),
        Err(dmvpn_ikev2::Error::InvalidKeyExchange { .. })
    ));
    assert!(ki.complete(&[0u8; 64]).is_err());
    assert!(ki.complete(&bad[..63]).is_err());
}

#[test]
fn modp2048_range_checks() {
    // RFC 3526 group 14: y must satisfy 1 < y < p-1.
    let p = seeded_provider(2);
    let k = p.start_key_exchange(KeGroup::MODP_2048).unwrap();
    assert_eq!(k.public_value().len(), 256);
    let mut y = vec![0u8; 256];
    assert!(k.complete(&y).is_err(), "0");
    y[255] = 1;
    assert!(k.complete(&y).is_err(), "1");
    y[255] = 2;
    assert!(k.complete(&y).is_ok(), "2 is in range");
    let prime = unhex(concat!(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
        "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
        "15728E5A8AACAA68FFFFFFFFFFFFFFFF"
    ));
    let mut pm1 = prime.clone();
    pm1[255] -= 1;
    assert!(k.complete(&prime).is_err(), "p");
    assert!(k.complete(&pm1).is_err(), "p-1");
    let mut pm2 = prime.clone();
    pm2[255] -= 2;
    assert!(k.complete(&pm2).is_ok(), "p-2 is in range");
    assert!(k.complete(&[0xff; 256]).is_err(), "above p");
    assert!(k.complete(&[2; 255]).is_err(), "short");
}

#[test]
fn groups_match_independent_implementation() {
    let v = vectors();
    for g in v["groups"].as_array().unwrap() {
        let group = KeGroup(u16::try_from(g["group"].as_u64().unwrap()).unwrap());
        let (xi, xr) = (hx(&g["private_i"]), hx(&g["private_r"]));
        let p = provider_with(FixedRandom::new(&[&xi, &xr]));
        let ki = p.start_key_exchange(group).unwrap();
        let kr = p.start_key_exchange(group).unwrap();
        assert_eq!(ki.group(), group);
        assert_eq!(ki.public_value(), hx(&g["public_i"]), "{group} public_i");
        assert_eq!(kr.public_value(), hx(&g["public_r"]), "{group} public_r");
        let s = hx(&g["shared"]);
        assert_eq!(
            ki.complete(kr.public_value()).unwrap().as_bytes(),
            s,
            "{group}"
        );
        assert_eq!(
            kr.complete(ki.public_value()).unwrap().as_bytes(),
            s,
            "{group}"
        );
    }
}

#[test]
fn prf_plus_matches_independent_implementation() {
    let v = &vectors()["prf_plus"];
    let p = seeded_provider(3);
    let out = p
        .prf(PrfId::HMAC_SHA2_256, &hx(&v["key"]))
        .unwrap()
        .plus(&[&hx(&v["seed"])], 100)
        .unwrap();
    assert_eq!(out.as_bytes(), hx(&v["out"]));
    // 255 blocks at most (RFC 7296 §2.13).
    let prf = p.prf(PrfId::HMAC_SHA2_256, b"k").unwrap();
    assert_eq!(prf.plus(&[b"s"], 255 * 32).unwrap().len(), 255 * 32);
    assert!(prf.plus(&[b"s"], 255 * 32 + 1).is_err());
}

fn check_keys(suite_name: &str, got: &IkeSaKeys, want: &Value) {
    for (name, k) in [
        ("sk_d", &got.sk_d),
        ("sk_ai", &got.sk_ai),
        ("sk_ar", &got.sk_ar),
        ("sk_ei", &got.sk_ei),
        ("sk_er", &got.sk_er),
        ("sk_pi", &got.sk_pi),
        ("sk_pr", &got.sk_pr),
    ] {
        assert_eq!(k.as_bytes(), hx(&want[name]), "{suite_name} {name}");
    }
}

#[test]
fn ike_sa_keys_rekey_and_child_keymat_match_independent_implementation() {
    let p = seeded_provider(4);
    for v in vectors()["ike"].as_array().unwrap() {
        let name = v["proposal"].as_str().unwrap();
        let suite = IkeSuite::parse(name).unwrap();
        let (ni, nr) = (hx(&v["ni"]), hx(&v["nr"]));
        let gir = hx(&v["shared"]);
        let seed = skeyseed(&p, suite.prf, &ni, &nr, &gir).unwrap();
        assert_eq!(seed.as_bytes(), hx(&v["skeyseed"]), "{name} SKEYSEED");
        let keys = IkeSaKeys::derive(
            &p,
            &suite,
            &gir,
            &ni,
            &nr,
            u64hex(&v["spi_i"]),
            u64hex(&v["spi_r"]),
        )
        .unwrap();
        check_keys(name, &keys, &v["keys"]);

        // IKE SA rekey (§2.18).
        let r = &v["rekey"];
        let (ni2, nr2, gir2) = (hx(&r["ni"]), hx(&r["nr"]), hx(&r["shared"]));
        let seed2 = rekey_skeyseed(&p, suite.prf, &keys.sk_d, &gir2, &ni2, &nr2).unwrap();
        assert_eq!(
            seed2.as_bytes(),
            hx(&r["skeyseed"]),
            "{name} rekey SKEYSEED"
        );
        let keys2 = keys
            .derive_rekey(
                &p,
                suite.prf,
                &suite,
                &gir2,
                &ni2,
                &nr2,
                u64hex(&r["spi_i"]),
                u64hex(&r["spi_r"]),
            )
            .unwrap();
        check_keys(name, &keys2, &r["keys"]);

        // Child SA KEYMAT (§2.17), without and with PFS, split the way esp takes it.
        let c = &v["child"];
        let esp_suite = dmvpn_esp::Suite::parse(c["esp"].as_str().unwrap()).unwrap();
        let (cni, cnr) = (hx(&c["ni"]), hx(&c["nr"]));
        for (pfs, field) in [(None, "keymat"), (Some(hx(&c["pfs_shared"])), "keymat_pfs")] {
            let want = hx(&c[field]);
            let km = child_keymat(
                &p,
                suite.prf,
                &keys.sk_d,
                pfs.as_deref(),
                &cni,
                &cnr,
                want.len(),
            )
            .unwrap();
            assert_eq!(km.as_bytes(), want, "{name} {field}");
            let child = ChildSaKeys::derive(
                &p,
                suite.prf,
                &keys.sk_d,
                &esp_suite,
                pfs.as_deref(),
                &cni,
                &cnr,
            )
            .unwrap();
            let half = want.len() / 2;
            let ne = esp_suite.encryption.keymat_len();
            let i2r = &child.initiator_to_responder;
            let r2i = &child.responder_to_initiator;
            assert_eq!(i2r.encryption(), &want[..ne]);
            assert_eq!(i2r.integrity(), &want[ne..half]);
            assert_eq!(r2i.encryption(), &want[half..half + ne]);
            assert_eq!(r2i.integrity(), &want[half + ne..]);
        }
    }
}

#[test]
fn sk_payloads_match_independent_implementation_and_unprotect() {
    let v = vectors();
    let inner = vec![
        Payload::IdI(Identity::ipv4([192, 168, 12, 1].into())),
        Payload::Nonce(vec![0xab; 16]),
    ];
    for s in v["sk"].as_array().unwrap() {
        let name = s["proposal"].as_str().unwrap();
        let suite = IkeSuite::parse(name).unwrap();
        let iv = hx(&s["iv"]);
        let p = provider_with(FixedRandom::new(&[&iv]));
        let cipher = SkCipher::new(&p, &suite, &hx(&s["sk_e"]), &hx(&s["sk_a"])).unwrap();
        let want = hx(&s["message"]);
        let outer = Message {
            spi_i: 0x0102_0304_0506_0708,
            spi_r: 0x1112_1314_1516_1718,
            minor_version: 0,
            exchange_type: ExchangeType::IKE_AUTH,
            flags: if suite.encryption.is_aead() {
                Flags::RESPONSE
            } else {
                Flags::INITIATOR
            },
            message_id: 1,
            payloads: vec![],
        };
        let got = cipher.protect(p.random(), &outer, &inner).unwrap();
        assert_eq!(got, want, "{name}: protected bytes");
        let un = cipher.unprotect(&want).unwrap();
        assert_eq!(un.payloads().unwrap(), inner, "{name}");
        assert_eq!(un.header.message_id, 1);
        // Any flipped bit fails the integrity check (before decryption).
        for bit in [0usize, 8 * 20, 8 * (want.len() - 20), 8 * want.len() - 1] {
            let mut bad = want.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let err = cipher.unprotect(&bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    dmvpn_ikev2::Error::Integrity | dmvpn_ikev2::Error::UnsupportedVersion { .. }
                ),
                "{name} bit {bit}: {err:?}"
            );
        }
    }
}

#[test]
fn psk_auth_matches_independent_implementation() {
    let v = &vectors()["auth"][0];
    let p = seeded_provider(5);
    let id = Identity::fqdn(v["id_fqdn"].as_str().unwrap());
    let octets = SignedOctets::new(
        &p,
        PrfId::HMAC_SHA2_256,
        &Secret::new(hx(&v["sk_pi"])),
        &hx(&v["real_message"]),
        &hx(&v["nonce_r"]),
        &id,
    )
    .unwrap();
    assert_eq!(octets.as_bytes(), hx(&v["signed_octets"]));
    let psk = Psk::from(v["psk"].as_str().unwrap());
    let auth = psk_auth(&p, PrfId::HMAC_SHA2_256, &psk, &octets).unwrap();
    assert_eq!(auth.as_bytes(), hx(&v["auth"]));

    // Verification looks the key up by identity and compares in constant time.
    let mut table = PskTable::new();
    table.insert(id.clone(), psk.clone());
    table.insert(Identity::fqdn("other"), Psk::from("other-key"));
    let good = AuthPayload {
        method: AuthMethod::SHARED_KEY_MIC,
        data: auth.as_bytes().to_vec(),
    };
    verify_psk_auth(&p, PrfId::HMAC_SHA2_256, &table, &id, &octets, &good).unwrap();
    let mut bad = good.clone();
    bad.data[0] ^= 1;
    assert_eq!(
        verify_psk_auth(&p, PrfId::HMAC_SHA2_256, &table, &id, &octets, &bad),
        Err(dmvpn_ikev2::Error::AuthenticationFailed)
    );
    let short = AuthPayload {
        method: AuthMethod::SHARED_KEY_MIC,
        data: auth.as_bytes()[..16].to_vec(),
    };
    assert!(verify_psk_auth(&p, PrfId::HMAC_SHA2_256, &table, &id, &octets, &short).is_err());
    let wrong_method = AuthPayload {
        method: AuthMethod::RSA_SIGNATURE,
        ..good.clone()
    };
    assert!(
        verify_psk_auth(
            &p,
            PrfId::HMAC_SHA2_256,
            &table,
            &id,
            &octets,
            &wrong_method
        )
        .is_err()
    );
    // The other identity's key does not verify this AUTH; an unknown identity has no key.
    assert!(
        verify_psk_auth(
            &p,
            PrfId::HMAC_SHA2_256,
            &table,
            &Identity::fqdn("other"),
            &octets,
            &good
        )
        .is_err()
    );
    assert!(matches!(
        verify_psk_auth(
            &p,
            PrfId::HMAC_SHA2_256,
            &table,
            &Identity::fqdn("nobody"),
            &octets,
            &good
        ),
        Err(dmvpn_ikev2::Error::NoPsk(_))
    ));
    table.set_wildcard(psk);
    verify_psk_auth(
        &p,
        PrfId::HMAC_SHA2_256,
        &table,
        &Identity::fqdn("nobody"),
        &octets,
        &good,
    )
    .unwrap();
}
/// (group, private_i, private_r, public_i, public_r, shared), computed with Python's pow()
/// over the primes as derived from their RFC 2409 / RFC 3526 formulas (pi by Machin's formula).
const LEGACY: &[(u16, &str, &str, &str, &str, &str)] = &[
    (
        1,
        "6fd9cfbd3c1ecd9e25b1ef4d515dfc384ff23e5c440336bc2d08004ea36f91f6",
        "02fd709e3770b5c49e203161b7bcf3ebd6b5b67de773ecc4ee3ed0c2ea5d22fa",
        "498caf7b2b4bca7ab495c0229afdabfdbd3643d7c98419a18d4b686cd73b2ba652d88226758a45e92a16f4b8a79f9161e489dc9f34b644cb85b38ffb091cdcf0e56eac176e668880d66c72bea2382332cd6c64c5d61bb366783d11be78660e19",
        "edb03bda5b7d5054edb1c1532696e3a80c14a7cc4418e996dddd0076b789dca816fba753c6617d799ed94d92acf98c11dab39b2643f53e5effd688db6bb2acfcf63205818c4d52f2b55e5afe301f7b071dff0d5ee77dd664dd0dfc1bd1d29793",
        "568841f13a7c89ab686278e5c2b53f16a7b6083b5bb141668f3d547c0379420e1f3b3c89fc6a3c602ae4b3bd175258a8ba9dc6a01710e3edb32c374df5ddaa923829d08c6915f00fdd355feb2fd5e2b2eee5c0982c94badd52adfcc6a1fdf4c1",
    ),
    (
        2,
        "2745635658dc5155714b19f0e01741d76c32b880c7223b2456350c5ca5ecd503",
        "a8c0a58fe7282ba759be8062aa72ab89a05a74e0ffb80b831c783bbf0f1d9094",
        "6226714c7ff9630ce620ab3e0259016c86720e994f8e9933979076b4b028d4dd48b20798670207ccab7920ece1639aa2b46b77830533024d765c639a63614943cfdc75ccab3fb463d51091db46f6e139fe5e5843c94fd8e0fbca8f5c2ff504add1a936f4aabd53f21fe91eee857ca1672e6e5576e2518a4771afdea1923bc22b",
        "5aa872de1113fff469a21ca1189c62cb0842d0f5f2c30d16452984688e46e89cc77647838fa29ef089b14c0777adec1267e6cfbdc9e7f0eaf1ee1eea37b86f9c2ac88f80a03b5d767eabb8298ac48e673dc3d0b2b3ad69450990c172954a298822cd1e39b299da93fe42fab0c3cdc2068cb7b4e450322305378e3a5b99354d8d",
        "adc4815b59de29a247af105603e11e9f9f6ab3ec2ed98ba97d7fe8da0a34c77716c70c73fd94fb24d4775c2c09482fdb318e6abba062746d059e695600c15ed5f3ed0538f80434c9999be2e5ad1b14e3784c10afe61cc4a51a2481039c1df7e96e6129001d15cc51f44743b40150b410105d64941675c5b6cf932348db796942",
    ),
    (
        5,
        "4f1b1efe80d8097a3e429676dc315686d6b44797073082e144acd4ad37006771",
        "1bc125bec5b65bff5b44f20e03c7de168b6876b82d6f6b3958b8cb47d6e2018c",
        "5b80c4cd7f6bc6853ef7ace73d3a8a484db68e89d4ce5b68e3c69656193727fffed808f644dc78e4471a903ccc2f971fa3cfd430ef3720bc40fce3e67e6f710d0959b8562a22f82709cf07c6de7a4d5ea5e684c0ece99f94fa02029076802a1a5442239abb6b5333a0a54d067ac90fc6c8e14ac34fab2f8224096fb2a8bc1a1657dcbf1d2bc8acddd29f6f0cc42d6a8ad530b376be900924d64890ea687e1a1afa4b615b0a2394c8a20d12e26c53aa813dca102c74008760480903361a027b79",
        "68ddd9501f7d2f253110df386f4508f9e5a5e4f0271549c2004df56b9a85cf5bc2f61a3f127cf4a5af104de894b479556621f5a10297af8d9aa4f31680f1652365aac6f3d80a9b0c0851449991531c7f7c75a5334497f7f39302d65f10dc61984f8aac29f6061be6cd5acce7db10f28f75abb99c203fe81889f6ab6dca50b31af7ee6483b2134e894b6988b41d9b21bdd68d630d68ff75c61985711a0786db346d6c2107fc581f79c9389abd2a465e37fadad263b1c79e2a2410dadc2f4be31c",
        "0ba03e4f88df6e5f7bc1918f4da1c831f98efb2b55bdd6e1a7912c4cf79a82d873686cd92d76f900b9d3a6327e80d90ce953db6f86d131d4d88927d2f1e68b0d8f35a72b923d45a781a4ae7d100e97f14d41e1e650e4c1afddde6567c0ff9c552e70c6b76824859e25838162286351c957ba37a536c50973e6b45553511de917b6c3b2ffed1e6449deedc4bd038916ffe9b43d91bd18e3300cd109a20166de94fb4e230780d0b1e061afef26f4230bd86b65ba2f43c7fc173dc63afce1f266d3",
    ),
];

#[test]
fn legacy_modp_groups_only_on_request_and_match_python() {
    let plain = seeded_provider(3);
    for (g, xi, xr, yi, yr, shared) in LEGACY {
        let group = KeGroup(*g);
        assert!(!plain.supports(group), "group {g} without the request");
        let (xi, xr) = (unhex(xi), unhex(xr));
        let p = provider_with(FixedRandom::new(&[&xi, &xr])).with_legacy_groups();
        let ki = p.start_key_exchange(group).unwrap();
        let kr = p.start_key_exchange(group).unwrap();
        assert_eq!(ki.public_value(), unhex(yi), "group {g} public_i");
        assert_eq!(kr.public_value(), unhex(yr), "group {g} public_r");
        let s = unhex(shared);
        assert_eq!(ki.complete(kr.public_value()).unwrap().as_bytes(), s);
        assert_eq!(kr.complete(ki.public_value()).unwrap().as_bytes(), s);
        let mut one = vec![0u8; s.len()];
        *one.last_mut().unwrap() = 1;
        assert!(ki.complete(&one).is_err(), "y = 1 refused");
        assert!(ki.complete(&s[1..]).is_err(), "short refused");
    }
}
