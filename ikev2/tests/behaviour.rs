//! Behaviour tests: the critical bit, SKF fragments, SK error paths, proposals, redaction.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use dmvpn_ikev2::auth::Psk;
use dmvpn_ikev2::keys::IkeSaKeys;
use dmvpn_ikev2::sk::{SkCipher, SkCrypto};
use dmvpn_ikev2::transform::{EncrId, IkeSuite, IntegId, KeGroup, PrfId, TransformType};
use dmvpn_ikev2::wire::{
    ExchangeType, Flags, HeaderRepr, Identity, Message, NotifyPayload, NotifyType, Payload,
    PayloadType, Proposal, ProtocolId,
};
use dmvpn_ikev2::{Error, Secret};

fn outer(message_id: u32) -> Message {
    Message {
        spi_i: 0xa1,
        spi_r: 0xb2,
        minor_version: 0,
        exchange_type: ExchangeType::IKE_AUTH,
        flags: Flags::INITIATOR,
        message_id,
        payloads: vec![],
    }
}

#[test]
fn unknown_critical_payload_is_reported_and_non_critical_kept() {
    let unknown = |critical| Payload::Unknown {
        payload_type: PayloadType(200),
        critical,
        body: vec![1, 2, 3],
    };
    let mut m = outer(0);
    m.payloads = vec![
        Payload::Nonce(vec![9; 16]),
        unknown(false),
        Payload::VendorId(b"x".to_vec()),
    ];
    let bytes = m.to_vec().unwrap();
    assert_eq!(
        Message::parse(&bytes).unwrap(),
        m,
        "non-critical unknown payloads are kept"
    );
    m.payloads[1] = unknown(true);
    let bytes = m.to_vec().unwrap();
    assert_eq!(bytes[28 + 20 + 1], 0x80, "critical bit on the wire");
    assert_eq!(
        Message::parse(&bytes),
        Err(Error::UnsupportedCriticalPayload(PayloadType(200)))
    );
    // The critical bit of a known payload type is ignored (RFC 7296 §2.5).
    let mut m = outer(0);
    m.payloads = vec![Payload::Nonce(vec![9; 16])];
    let mut bytes = m.to_vec().unwrap();
    bytes[29] |= 0x80;
    assert_eq!(Message::parse(&bytes).unwrap(), m);
}

#[test]
fn malformed_chains_are_errors() {
    let mut m = outer(0);
    m.payloads = vec![Payload::Nonce(vec![9; 16])];
    let good = m.to_vec().unwrap();
    // Payload length shorter than its header, and beyond the message.
    for (at, v) in [(31usize, 0u8), (31, 3), (30, 1), (31, 200)] {
        let mut b = good.clone();
        b[at] = v;
        assert!(Message::parse(&b).is_err(), "byte {at} = {v}");
    }
    // Trailing bytes after the last payload (Length covers them).
    let mut b = good.clone();
    b.extend_from_slice(&[0; 4]);
    b[27] += 4;
    assert_eq!(Message::parse(&b), Err(Error::TrailingData { len: 4 }));
    // Bytes beyond the Length field are ignored (UDP padding).
    let mut b = good.clone();
    b.extend_from_slice(&[0xee; 3]);
    assert_eq!(Message::parse(&b).unwrap(), m);
    // Major version 1 (IKEv1) is refused with INVALID_MAJOR_VERSION's information.
    let mut b = good.clone();
    b[17] = 0x10;
    assert_eq!(
        Message::parse(&b),
        Err(Error::UnsupportedVersion { major: 1, minor: 0 })
    );
    // Payloads after an SK payload.
    let mut m = outer(0);
    m.payloads = vec![Payload::Sk(dmvpn_ikev2::wire::SkPayload {
        inner_next: PayloadType::IDI,
        data: vec![0; 8],
    })];
    let mut b = m.to_vec().unwrap();
    b.extend_from_slice(&[0, 0, 0, 4]);
    b[27] += 4;
    assert_eq!(Message::parse(&b), Err(Error::TrailingData { len: 4 }));
    assert!(HeaderRepr::parse(&dmvpn_ikev2::wire::Header::new_unchecked(&b[..20])).is_err());
}

fn suite_pair(
    name: &str,
) -> (
    IkeSuite,
    SkCrypto,
    SkCrypto,
    dmvpn_ikev2::crypto::IkeCryptoProvider,
) {
    let p = common::seeded_provider(7);
    let suite = IkeSuite::parse(name).unwrap();
    let ki = p.start_key_exchange(suite.group).unwrap();
    let kr = p.start_key_exchange(suite.group).unwrap();
    let g = ki.complete(kr.public_value()).unwrap();
    let keys = IkeSaKeys::derive(&p, &suite, g.as_bytes(), &[1; 32], &[2; 32], 0xa1, 0xb2).unwrap();
    let i = SkCrypto::new(&p, &suite, &keys, true).unwrap();
    let r = SkCrypto::new(&p, &suite, &keys, false).unwrap();
    (suite, i, r, p)
}

#[test]
fn skf_fragments_round_trip_and_reassemble() {
    for name in ["aes128-sha256-modp2048", "aes256gcm16-prfsha256-x25519"] {
        let (_, i, r, p) = suite_pair(name);
        let inner = vec![
            Payload::IdI(Identity::fqdn("spoke.example")),
            Payload::Cert(dmvpn_ikev2::wire::CertPayload {
                encoding: dmvpn_ikev2::wire::CertEncoding::X509_SIGNATURE,
                data: vec![0x30; 700],
            }),
        ];
        let frags = i
            .outbound
            .protect_fragments(p.random(), &outer(1), &inner, 300)
            .unwrap();
        assert_eq!(frags.len(), 3);
        let mut plain = Vec::new();
        let mut first = PayloadType::NONE;
        for (n, f) in frags.iter().enumerate() {
            let m = Message::parse(f).unwrap();
            assert!(
                matches!(m.payloads.as_slice(), [Payload::Skf(s)] if usize::from(s.fragment_number) == n + 1 && s.total_fragments == 3)
            );
            let u = r.inbound.unprotect(f).unwrap();
            assert_eq!(u.fragment, Some((u16::try_from(n + 1).unwrap(), 3)));
            if n == 0 {
                first = u.inner_next;
            } else {
                assert_eq!(u.inner_next, PayloadType::NONE);
            }
            assert!(u.payloads().is_err(), "fragments need reassembly");
            plain.extend_from_slice(&u.plaintext);
        }
        assert_eq!(
            dmvpn_ikev2::wire::parse_chain(first, &plain).unwrap(),
            inner,
            "{name}"
        );
        // The wrong direction's keys fail integrity.
        assert_eq!(i.inbound.unprotect(&frags[0]), Err(Error::Integrity));
    }
}

#[test]
fn sk_error_paths() {
    for name in ["aes256-sha384-ecp256", "aes128gcm16-prfsha256-modp2048"] {
        let (suite, i, r, p) = suite_pair(name);
        let inner = vec![Payload::Notify(NotifyPayload::new(
            NotifyType::INITIAL_CONTACT,
            &[],
        ))];
        let mut cleartext_outer = outer(5);
        cleartext_outer.payloads = vec![Payload::VendorId(b"dmvpn-rs".to_vec())];
        let wire = i
            .outbound
            .protect(p.random(), &cleartext_outer, &inner)
            .unwrap();
        let u = r.inbound.unprotect(&wire).unwrap();
        assert_eq!(u.cleartext, cleartext_outer.payloads);
        assert_eq!(u.payloads().unwrap(), inner);
        let parsed = Message::parse(&wire).unwrap();
        assert_eq!(parsed.payloads.len(), 2);
        // Truncations and a message without SK.
        assert!(r.inbound.unprotect(&wire[..wire.len() - 1]).is_err());
        assert!(r.inbound.unprotect(&wire[..40]).is_err());
        let plain = cleartext_outer.to_vec().unwrap();
        assert_eq!(r.inbound.unprotect(&plain), Err(Error::NoEncryptedPayload));
        // Responses to our own keys fail integrity.
        assert_eq!(i.inbound.unprotect(&wire), Err(Error::Integrity));
        // Key lengths are checked.
        assert!(SkCipher::new(&p, &suite, &[0; 3], &[]).is_err());
        // The empty message (liveness check) round-trips.
        let empty = i.outbound.protect(p.random(), &outer(6), &[]).unwrap();
        let u = r.inbound.unprotect(&empty).unwrap();
        assert!(u.payloads().unwrap().is_empty());
        assert_eq!(u.inner_next, PayloadType::NONE);
        assert_eq!(
            empty.len(),
            28 + i.outbound.overhead(0),
            "{name}: overhead() is what protect adds"
        );
    }
}

#[test]
fn cbc_padding_is_checked_after_integrity() {
    // A correctly authenticated message whose pad length exceeds the plaintext is refused.
    let p = common::seeded_provider(8);
    let suite = IkeSuite::parse("aes128-sha256-modp2048").unwrap();
    let (ek, ak) = ([7u8; 16], [8u8; 32]);
    let cipher = SkCipher::new(&p, &suite, &ek, &ak).unwrap();
    let mut plain = [0u8; 16];
    plain[15] = 16; // pad length 16 in a 16-byte block: impossible
    let iv = [3u8; 16];
    let key = p
        .esp
        .cipher(dmvpn_esp::EncryptionAlgorithm::AesCbc128)
        .unwrap()
        .new_key(&ek)
        .unwrap();
    key.encrypt(&iv, &mut plain).unwrap();
    let sk_len = 4 + 16 + 16 + 16;
    let mut m = HeaderRepr {
        spi_i: 1,
        spi_r: 2,
        next_payload: PayloadType::SK,
        minor_version: 0,
        exchange_type: ExchangeType::INFORMATIONAL,
        flags: Flags::INITIATOR,
        message_id: 9,
        length: 28 + sk_len,
    }
    .to_bytes()
    .to_vec();
    m.extend_from_slice(&[0, 0, 0, u8::try_from(sk_len).unwrap()]);
    m.extend_from_slice(&iv);
    m.extend_from_slice(&plain);
    let mac = p
        .esp
        .hmac(dmvpn_esp::IntegrityAlgorithm::HmacSha256_128)
        .unwrap()
        .new_key(&ak)
        .unwrap();
    let mut icv = [0u8; 16];
    mac.sign(&[&m], &mut icv).unwrap();
    m.extend_from_slice(&icv);
    assert_eq!(cipher.unprotect(&m), Err(Error::InvalidPadding));
}

#[test]
fn strongswan_proposals() {
    let p = Proposal::from_strongswan("aes256gcm16-prfsha256-x25519", ProtocolId::IKE).unwrap();
    let ids: Vec<(TransformType, u16, Option<u16>)> = p
        .transforms
        .iter()
        .map(|t| (t.transform_type, t.transform_id, t.key_length()))
        .collect();
    assert_eq!(
        ids,
        [
            (TransformType::ENCR, EncrId::AES_GCM_16.0, Some(256)),
            (TransformType::PRF, PrfId::HMAC_SHA2_256.0, None),
            (TransformType::KE, KeGroup::CURVE25519.0, None),
        ]
    );
    assert_eq!(p.to_strongswan(), "aes256gcm16-prfsha256-x25519");
    let p = Proposal::from_strongswan("aes128-sha256-modp2048", ProtocolId::ESP).unwrap();
    assert_eq!(
        p.of_type(TransformType::INTEG).next().unwrap().transform_id,
        IntegId::HMAC_SHA2_256_128.0
    );
    assert_eq!(
        p.of_type(TransformType::ESN).next().unwrap().transform_id,
        0
    );
    assert!(p.of_type(TransformType::PRF).next().is_none());
    assert_eq!(p.to_strongswan(), "aes128-sha256-modp2048");
    assert_eq!(
        dmvpn_esp::Suite::parse(&p.to_strongswan())
            .unwrap()
            .to_string(),
        "aes128-sha256"
    );
    let p = Proposal::from_strongswan("aes128gcm16-x25519", ProtocolId::ESP).unwrap();
    assert_eq!(p.to_string(), "aes128gcm16-x25519");
    // Explicit PRF differing from the implied one is printed.
    let p = Proposal::from_strongswan("aes128-sha256-prfsha512-ecp256", ProtocolId::IKE).unwrap();
    assert_eq!(p.to_strongswan(), "aes128-sha256-prfsha512-ecp256");

    for (bad, what) in [
        ("aes256gcm16-x25519", "AEAD IKE without PRF"),
        ("aes128-modp2048", "no integrity"),
        ("aes128gcm16-sha256-prfsha256-x25519", "AEAD with integrity"),
        ("aes128-sha256", "IKE without key exchange"),
        ("aes128-bogus-x25519", "unknown keyword"),
        ("aes128-sha256-prfsha256", "no KE for IKE"),
    ] {
        assert!(
            Proposal::from_strongswan(bad, ProtocolId::IKE).is_err(),
            "{what}"
        );
    }
    assert!(Proposal::from_strongswan("aes128-sha256-prfsha256", ProtocolId::ESP).is_err());
    for legacy in [
        "3des-sha1-modp1024",
        "des-sha1-modp1024",
        "aes128-md5-modp1024",
        "aes128gcm16-prfmd5-x25519",
    ] {
        match Proposal::from_strongswan(legacy, ProtocolId::IKE) {
            Err(Error::RejectedAlgorithm { reason, .. }) => assert!(!reason.is_empty()),
            other => panic!("{legacy}: {other:?}"),
        }
    }
    // The negotiated suite.
    let s = IkeSuite::parse("aes256gcm16-prfsha384-ecp256").unwrap();
    assert_eq!(
        (s.encr_key_len(), s.integ_key_len(), s.prf_key_len()),
        (36, 0, 48)
    );
    assert_eq!(IkeSuite::from_proposal(&s.to_proposal()).unwrap(), s);
    assert_eq!(s.to_string(), "aes256gcm16-prfsha384-ecp256");
    assert!(IkeSuite::parse("null-sha256-x25519").is_err());
    assert!(
        IkeSuite::parse("aes128-sha256-prfaesxcbc-x25519").is_err(),
        "XCBC PRF not implemented"
    );
    assert_eq!(KeGroup(31).to_string(), "Curve25519(31)");
    assert_eq!(KeGroup(9999).to_string(), "9999");
}

#[test]
fn unsupported_groups_are_errors() {
    let p = common::seeded_provider(1);
    assert_eq!(
        p.start_key_exchange(KeGroup::MODP_1024).err().unwrap(),
        Error::UnsupportedGroup(KeGroup::MODP_1024)
    );
    for g in [KeGroup::MODP_2048, KeGroup::ECP_256, KeGroup::CURVE25519] {
        let k = p.start_key_exchange(g).unwrap();
        assert_eq!(k.public_value().len(), p.group(g).unwrap().public_len());
        // Two exchanges never share a private value.
        let k2 = p.start_key_exchange(g).unwrap();
        assert_ne!(k.public_value(), k2.public_value());
    }
}

#[test]
fn secrets_are_redacted_in_debug() {
    let (suite, i, _, p) = suite_pair("aes128-sha256-modp2048");
    let keys = IkeSaKeys::derive(&p, &suite, &[0x5e; 256], &[0x11; 32], &[0x22; 32], 1, 2).unwrap();
    let secret_hex: String = keys.sk_d.as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let secret_dec = format!("{:?}", &keys.sk_d.as_bytes()[..4]);
    let psk = Psk::from("super-secret-psk");
    let prf = p.prf(PrfId::HMAC_SHA2_256, keys.sk_d.as_bytes()).unwrap();
    let gir = p
        .start_key_exchange(KeGroup::CURVE25519)
        .unwrap()
        .complete(&[9; 32])
        .unwrap();
    for text in [
        format!("{keys:?}"),
        format!("{:?}", Secret::from_slice(keys.sk_d.as_bytes())),
        format!("{psk:?}"),
        format!("{i:?}"),
        format!("{prf:?}"),
        format!("{gir:?}"),
        format!(
            "{:?}",
            dmvpn_ikev2::keys::ChildSaKeys::derive(
                &p,
                PrfId::HMAC_SHA2_256,
                &keys.sk_d,
                &dmvpn_esp::Suite::parse("aes128-sha256").unwrap(),
                None,
                &[1; 16],
                &[2; 16]
            )
            .unwrap()
        ),
    ] {
        assert!(text.contains("redacted"), "{text}");
        assert!(
            !text.contains(&secret_hex) && !text.contains(&secret_dec),
            "{text}"
        );
        assert!(!text.contains("super-secret"), "{text}");
        assert!(!text.contains("94, 94"), "{text}");
    }
}

/// A copy of an IKE_SA_INIT request on port 4500 is answered from the cached response after the
/// non-ESP marker (RFC 3948 §2.2), as the first answer was; the cached response went out bare.
/// Found by the fuzz target `dmvpn_node_protected` (a spoke's request carried twice to the
/// hub's port 4500).
#[test]
fn a_copied_init_request_on_port_4500_is_answered_after_the_non_esp_marker() {
    use dmvpn_ikev2::auth::PskTable;
    use dmvpn_ikev2::{Config, Endpoint};
    use std::net::SocketAddr;
    use std::time::Instant;

    let config = |seed, me: &str, peer: &str| {
        let mut psks = PskTable::new();
        psks.insert(Identity::fqdn(peer), Psk::from("secret"));
        Config::new(common::seeded_provider(seed), Identity::fqdn(me), psks)
    };
    let now = Instant::now();
    let hub_addr: SocketAddr = "192.0.2.10:4500".parse().unwrap();
    let spoke_addr: SocketAddr = "192.0.2.20:4500".parse().unwrap();
    let mut spoke = Endpoint::new(config(2, "spoke", "hub")).unwrap();
    spoke
        .initiate(
            now,
            "192.0.2.20:500".parse().unwrap(),
            "192.0.2.10:500".parse().unwrap(),
            None,
            None,
        )
        .unwrap();
    let mut request = vec![0; 4];
    request.extend_from_slice(&spoke.poll_transmit().unwrap().payload);
    let mut hub = Endpoint::new(config(1, "hub", "spoke")).unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let _ = hub.handle_datagram(now, hub_addr, spoke_addr, &request);
        answers.push(hub.poll_transmit().expect("an answer"));
        assert!(hub.poll_transmit().is_none());
    }
    assert_eq!(answers[0], answers[1], "the cached response, as first sent");
    for t in &answers {
        assert_eq!((t.local(), t.remote()), (hub_addr, spoke_addr));
        assert_eq!(t.payload[..4], [0; 4], "the non-ESP marker");
        let m = Message::parse(&t.payload[4..]).unwrap();
        assert_eq!(m.exchange_type, ExchangeType::IKE_SA_INIT);
        assert!(m.flags.response());
    }
}
