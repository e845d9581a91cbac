//! Property tests: every payload `Repr` and whole messages round-trip; arbitrary bytes never
//! panic the parsers or SK unprotect.

mod common;

use std::net::IpAddr;

use dmvpn_ikev2::transform::{IkeSuite, TransformType};
use dmvpn_ikev2::wire::{
    Attribute, AttributeValue, AuthMethod, AuthPayload, CertEncoding, CertPayload, CfgType,
    ConfigAttribute, ConfigAttributeType, CpPayload, DeletePayload, ExchangeType, Flags, Header,
    HeaderRepr, IdType, Identity, KePayload, Message, NotifyPayload, NotifyType, Payload,
    PayloadType, Payloads, Proposal, ProtocolId, SaPayload, SkPayload, SkfPayload, TrafficSelector,
    Transform, TsPayload, TsType,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn attribute() -> impl Strategy<Value = Attribute> {
    (
        0u16..0x8000,
        prop_oneof![
            any::<u16>().prop_map(AttributeValue::Short),
            bytes(12).prop_map(AttributeValue::Long)
        ],
    )
        .prop_map(|(attr_type, value)| Attribute { attr_type, value })
}

fn transform() -> impl Strategy<Value = Transform> {
    (any::<u8>(), any::<u16>(), vec(attribute(), 0..3)).prop_map(|(t, id, attributes)| Transform {
        transform_type: TransformType(t),
        transform_id: id,
        attributes,
    })
}

fn proposal() -> impl Strategy<Value = Proposal> {
    (any::<u8>(), any::<u8>(), bytes(9), vec(transform(), 0..6)).prop_map(
        |(number, p, spi, transforms)| Proposal {
            number,
            protocol_id: ProtocolId(p),
            spi,
            transforms,
        },
    )
}

fn ip_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
        (any::<[u8; 16]>(), any::<[u8; 16]>())
            .prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
    ]
}

fn selector() -> impl Strategy<Value = TrafficSelector> {
    prop_oneof![
        (any::<u8>(), any::<u16>(), any::<u16>(), ip_pair()).prop_map(
            |(ip_protocol, sp, ep, (s, e))| {
                TrafficSelector::Range {
                    ip_protocol,
                    start_port: sp,
                    end_port: ep,
                    start: s,
                    end: e,
                }
            }
        ),
        (
            any::<u8>().prop_filter("not 7/8", |t| *t != 7 && *t != 8),
            any::<u8>(),
            bytes(20)
        )
            .prop_map(|(t, ip_protocol, data)| TrafficSelector::Unknown {
                ts_type: TsType(t),
                ip_protocol,
                data
            }),
    ]
}

fn identity() -> impl Strategy<Value = Identity> {
    (any::<u8>(), bytes(40)).prop_map(|(t, data)| Identity {
        id_type: IdType(t),
        data,
    })
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        vec(proposal(), 0..3).prop_map(|proposals| Payload::Sa(SaPayload { proposals })),
        (any::<u16>(), bytes(64)).prop_map(|(g, data)| Payload::Ke(KePayload {
            group: dmvpn_ikev2::transform::KeGroup(g),
            data
        })),
        identity().prop_map(Payload::IdI),
        identity().prop_map(Payload::IdR),
        (any::<u8>(), bytes(40)).prop_map(|(e, data)| Payload::Cert(CertPayload {
            encoding: CertEncoding(e),
            data
        })),
        (any::<u8>(), bytes(40)).prop_map(|(e, data)| Payload::CertReq(CertPayload {
            encoding: CertEncoding(e),
            data
        })),
        (any::<u8>(), bytes(64)).prop_map(|(m, data)| Payload::Auth(AuthPayload {
            method: AuthMethod(m),
            data
        })),
        bytes(64).prop_map(Payload::Nonce),
        (any::<u8>(), bytes(9), any::<u16>(), bytes(30)).prop_map(|(p, spi, t, data)| {
            Payload::Notify(NotifyPayload {
                protocol_id: ProtocolId(p),
                spi,
                notify_type: NotifyType(t),
                data,
            })
        }),
        (any::<u8>(), 1u8..9, 0usize..4).prop_flat_map(|(p, size, n)| {
            vec(vec(any::<u8>(), usize::from(size)), n).prop_map(move |spis| {
                Payload::Delete(DeletePayload {
                    protocol_id: ProtocolId(p),
                    spi_size: size,
                    spis,
                })
            })
        }),
        any::<u8>().prop_map(|p| Payload::Delete(DeletePayload {
            protocol_id: ProtocolId(p),
            spi_size: 0,
            spis: vec![]
        })),
        bytes(40).prop_map(Payload::VendorId),
        vec(selector(), 0..4).prop_map(|selectors| Payload::TsI(TsPayload { selectors })),
        vec(selector(), 0..4).prop_map(|selectors| Payload::TsR(TsPayload { selectors })),
        (any::<u8>(), vec((0u16..0x8000, bytes(20)), 0..4)).prop_map(|(t, attrs)| Payload::Cp(
            CpPayload {
                cfg_type: CfgType(t),
                attributes: attrs
                    .into_iter()
                    .map(|(a, value)| ConfigAttribute {
                        attr_type: ConfigAttributeType(a),
                        value
                    })
                    .collect()
            }
        )),
        bytes(40).prop_map(Payload::Eap),
        (
            any::<u8>().prop_filter("unknown", |t| PayloadType(*t).name().is_none()),
            bytes(30)
        )
            .prop_map(|(t, body)| Payload::Unknown {
                payload_type: PayloadType(t),
                critical: false,
                body
            }),
    ]
}

/// A payload that may only end a chain.
fn last_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (any::<u8>(), bytes(80)).prop_map(|(n, data)| Payload::Sk(SkPayload {
            inner_next: PayloadType(n),
            data
        })),
        (any::<u8>(), any::<u16>(), any::<u16>(), bytes(80)).prop_map(|(n, f, t, data)| {
            Payload::Skf(SkfPayload {
                inner_next: PayloadType(n),
                fragment_number: f,
                total_fragments: t,
                data,
            })
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        any::<u64>(),
        any::<u64>(),
        0u8..16,
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        vec(payload(), 0..6),
        proptest::option::of(last_payload()),
    )
        .prop_map(
            |(spi_i, spi_r, minor_version, e, f, message_id, mut payloads, last)| {
                payloads.extend(last);
                Message {
                    spi_i,
                    spi_r,
                    minor_version,
                    exchange_type: ExchangeType(e),
                    flags: Flags(f),
                    message_id,
                    payloads,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_payload_round_trips(p in prop_oneof![payload(), last_payload()]) {
        let mut buf = vec![0u8; p.buffer_len()];
        p.emit(PayloadType::NONE, &mut buf).unwrap();
        let mut it = Payloads::new(p.payload_type(), &buf);
        let raw = it.next().unwrap().unwrap();
        prop_assert!(it.next().is_none());
        prop_assert_eq!(Payload::parse(&raw).unwrap(), p.clone());
        // Body alone, too.
        let mut body = vec![0u8; p.body_len()];
        p.emit_body(&mut body).unwrap();
        prop_assert_eq!(body.as_slice(), raw.body);
        // A buffer one byte short is an error, not a panic.
        let mut short = vec![0u8; p.buffer_len() - 1];
        prop_assert!(p.emit(PayloadType::NONE, &mut short).is_err());
    }

    #[test]
    fn messages_round_trip(m in message()) {
        let bytes = m.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), m.buffer_len());
        prop_assert_eq!(Message::parse(&bytes).unwrap(), m.clone());
        let h = Header::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(HeaderRepr::parse(&h).unwrap(), m.header().unwrap());
        prop_assert!(m.emit(&mut vec![0u8; bytes.len() - 1]).is_err());
    }

    #[test]
    fn header_repr_round_trips(spi_i: u64, spi_r: u64, np: u8, minor in 0u8..16, e: u8, f: u8, mid: u32, len in 28u32..200) {
        let r = HeaderRepr { spi_i, spi_r, next_payload: PayloadType(np), minor_version: minor,
            exchange_type: ExchangeType(e), flags: Flags(f), message_id: mid, length: len };
        let mut buf = vec![0u8; len as usize];
        r.emit(&mut Header::new_unchecked(&mut buf[..])).unwrap();
        prop_assert_eq!(HeaderRepr::parse(&Header::new_checked(&buf[..]).unwrap()).unwrap(), r);
        prop_assert!(r.emit(&mut Header::new_unchecked(&mut [0u8; 27][..])).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(400)) {
        let _ = Message::parse(&data);
        for t in 0u8..=60 {
            for raw in Payloads::new(PayloadType(t), &data).flatten() {
                let _ = Payload::parse(&raw);
            }
        }
        if let Ok(h) = Header::new_checked(&data[..]) {
            let _ = (h.spi_i(), h.spi_r(), h.payload(), h.message());
        }
    }

    #[test]
    fn arbitrary_ike_bodies_never_panic(
        first in any::<u8>(),
        e: u8, f: u8, mid: u32,
        body in bytes(300),
    ) {
        // A valid header in front of arbitrary payload bytes reaches the payload parsers.
        let mut m = HeaderRepr { spi_i: 1, spi_r: 2, next_payload: PayloadType(first), minor_version: 0,
            exchange_type: ExchangeType(e), flags: Flags(f), message_id: mid,
            length: (28 + body.len()) as u32 }.to_bytes().to_vec();
        m.extend_from_slice(&body);
        if let Ok(msg) = Message::parse(&m) {
            // Whatever parses re-emits to something that parses back to the same.
            let again = msg.to_vec().unwrap();
            prop_assert_eq!(Message::parse(&again).unwrap(), msg);
        }
    }

    #[test]
    fn sk_unprotect_survives_arbitrary_bodies(body in bytes(200), first in any::<u8>(), gcm: bool) {
        let p = common::seeded_provider(9);
        let suite = IkeSuite::parse(if gcm { "aes128gcm16-prfsha256-x25519" } else { "aes128-sha256-modp2048" }).unwrap();
        let cipher = dmvpn_ikev2::sk::SkCipher::new(&p, &suite, &vec![1; suite.encr_key_len()], &vec![2; suite.integ_key_len()]).unwrap();
        let mut m = HeaderRepr { spi_i: 1, spi_r: 2, next_payload: PayloadType::SK, minor_version: 0,
            exchange_type: ExchangeType::IKE_AUTH, flags: Flags::INITIATOR, message_id: 1,
            length: (28 + 4 + body.len()) as u32 }.to_bytes().to_vec();
        m.extend_from_slice(&[first, 0]);
        m.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        m.extend_from_slice(&body);
        prop_assert!(cipher.unprotect(&m).is_err());
    }

    #[test]
    fn proposals_print_and_parse_back(
        encr in prop::sample::select(vec!["aes128", "aes256", "aes192", "aes128ctr"]),
        aead in prop::sample::select(vec!["aes128gcm16", "aes256gcm16", "aes256gcm8", "chacha20poly1305", "aes128ccm12"]),
        integ in prop::sample::subsequence(vec!["sha256", "sha384", "sha512", "sha1", "aesxcbc"], 1..3),
        prf in prop::sample::subsequence(vec!["prfsha256", "prfsha384", "prfsha512"], 1..3),
        ke in prop::sample::subsequence(vec!["x25519", "ecp256", "modp2048", "ecp384", "modp3072"], 1..3),
        use_aead: bool, esn: bool,
    ) {
        let ike = if use_aead {
            format!("{aead}-{}-{}", prf.join("-"), ke.join("-"))
        } else {
            format!("{encr}-{}-{}", integ.join("-"), ke.join("-"))
        };
        let p = Proposal::from_strongswan(&ike, ProtocolId::IKE).unwrap();
        prop_assert_eq!(Proposal::from_strongswan(&p.to_strongswan(), ProtocolId::IKE).unwrap(), p.clone());
        if !use_aead {
            prop_assert_eq!(p.to_strongswan(), ike);
        }
        let e = if use_aead { format!("{aead}-{}", ke.join("-")) } else { format!("{encr}-{}", integ.join("-")) };
        let e = if esn { format!("{e}-esn") } else { e };
        let p = Proposal::from_strongswan(&e, ProtocolId::ESP).unwrap();
        prop_assert_eq!(p.to_strongswan(), e);
    }
}
