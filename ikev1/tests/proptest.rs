//! Property tests: every payload `Repr` and whole messages round-trip (`parse(emit(x)) == x`);
//! the typed attribute readings round-trip; arbitrary bytes never panic any parser or view.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use dmvpn_ikev1::wire::{
    Attribute, AttributeValue, AuthAlgorithm, AuthMethod, Body, CertEncoding, CertPayload,
    CertRequestPayload, DeletePayload, Doi, EncapsulationMode, EncryptedBody, EncryptionAlgorithm,
    ExchangeType, Flags, FragmentPayload, GroupDescription, GroupType, HashAlgorithm, Header,
    HeaderRepr, IdPayload, IdType, IkeAttributes, IpsecAttributes, KnownVendorId, LifeType,
    Lifetime, Message, MessageView, NatDPayload, NatOaPayload, NatTNumbering, NotifyPayload,
    NotifyType, Payload, PayloadType, Payloads, Proposal, ProtocolId, RawPayload, SaPayload,
    Situation, Transform, parse_chain, parse_decrypted_chain, recognise_vendor_id,
    strip_non_esp_marker,
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
    (any::<u8>(), any::<u8>(), vec(attribute(), 0..4)).prop_map(
        |(number, transform_id, attributes)| Transform {
            number,
            transform_id,
            attributes,
        },
    )
}

fn proposal() -> impl Strategy<Value = Proposal> {
    (any::<u8>(), any::<u8>(), bytes(17), vec(transform(), 0..4)).prop_map(
        |(number, p, spi, transforms)| Proposal {
            number,
            protocol_id: ProtocolId(p),
            spi,
            transforms,
        },
    )
}

fn sa() -> impl Strategy<Value = SaPayload> {
    (any::<u32>(), any::<u32>(), vec(proposal(), 0..3)).prop_map(|(doi, sit, proposals)| {
        SaPayload {
            doi: Doi(doi),
            situation: Situation(sit & !0x06),
            proposals,
        }
    })
}

fn id() -> impl Strategy<Value = IdPayload> {
    (any::<u8>(), any::<u8>(), any::<u16>(), bytes(40)).prop_map(|(t, protocol_id, port, data)| {
        IdPayload {
            id_type: IdType(t),
            protocol_id,
            port,
            data,
        }
    })
}

fn notify() -> impl Strategy<Value = NotifyPayload> {
    (
        any::<u32>(),
        any::<u8>(),
        bytes(17),
        any::<u16>(),
        bytes(24),
    )
        .prop_map(|(doi, p, spi, t, data)| NotifyPayload {
            doi: Doi(doi),
            protocol_id: ProtocolId(p),
            spi,
            notify_type: NotifyType(t),
            data,
        })
}

fn delete() -> impl Strategy<Value = DeletePayload> {
    (any::<u32>(), any::<u8>(), 0u8..=16, 0usize..4)
        .prop_flat_map(|(doi, p, size, n)| {
            (
                Just((doi, p, size)),
                vec(vec(any::<u8>(), usize::from(size)), n),
            )
        })
        .prop_map(|((doi, p, spi_size), spis)| DeletePayload {
            doi: Doi(doi),
            protocol_id: ProtocolId(p),
            spi_size,
            spis,
        })
}

fn numbering() -> impl Strategy<Value = NatTNumbering> {
    prop_oneof![
        Just(NatTNumbering::Rfc3947),
        Just(NatTNumbering::Draft),
        Just(NatTNumbering::Legacy)
    ]
}

fn unknown_type() -> impl Strategy<Value = PayloadType> {
    any::<u8>()
        .prop_filter("not decoded", |t| {
            *t != 0 && !Payload::is_decoded_type(PayloadType(*t))
        })
        .prop_map(PayloadType)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        sa().prop_map(Payload::Sa),
        bytes(64).prop_map(Payload::Ke),
        id().prop_map(Payload::Id),
        (any::<u8>(), bytes(40)).prop_map(|(e, data)| Payload::Cert(CertPayload {
            encoding: CertEncoding(e),
            data
        })),
        (any::<u8>(), bytes(40)).prop_map(|(e, authority)| Payload::CertRequest(
            CertRequestPayload {
                cert_type: CertEncoding(e),
                authority
            }
        )),
        bytes(32).prop_map(Payload::Hash),
        bytes(32).prop_map(Payload::Signature),
        bytes(32).prop_map(Payload::Nonce),
        notify().prop_map(Payload::Notify),
        delete().prop_map(Payload::Delete),
        bytes(24).prop_map(Payload::VendorId),
        (numbering(), bytes(32))
            .prop_map(|(numbering, hash)| Payload::NatD(NatDPayload { numbering, hash })),
        (numbering(), any::<u8>(), bytes(17)).prop_map(|(numbering, t, address)| {
            Payload::NatOa(NatOaPayload {
                numbering,
                id_type: IdType(t),
                address,
            })
        }),
        (any::<u16>(), any::<u8>(), any::<u8>(), bytes(40)).prop_map(
            |(id, number, flags, data)| Payload::Fragment(FragmentPayload {
                id,
                number,
                flags,
                data
            })
        ),
        (unknown_type(), bytes(32))
            .prop_map(|(payload_type, body)| Payload::Unknown { payload_type, body }),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        vec(payload(), 0..6).prop_map(Body::Clear),
        (any::<u8>(), bytes(64)).prop_map(|(t, ciphertext)| Body::Encrypted(EncryptedBody {
            first_payload: PayloadType(t),
            ciphertext
        })),
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
        body(),
    )
        .prop_map(
            |(cookie_i, cookie_r, minor_version, x, flags, message_id, body)| {
                let flags = match body {
                    Body::Clear(_) => Flags(flags).without(Flags::ENCRYPTION),
                    Body::Encrypted(_) => Flags(flags) | Flags::ENCRYPTION,
                };
                Message {
                    cookie_i,
                    cookie_r,
                    minor_version,
                    exchange_type: ExchangeType(x),
                    flags,
                    message_id,
                    body,
                }
            },
        )
}

/// Attributes of types the typed reading keeps in `other`.
fn other_attributes(typed: &'static [u16]) -> impl Strategy<Value = Vec<Attribute>> {
    vec(
        attribute().prop_filter("not a typed attribute", move |a| {
            !typed.contains(&a.attr_type)
        }),
        0..3,
    )
}

fn lifetimes() -> impl Strategy<Value = Vec<Lifetime>> {
    vec(
        (any::<u16>(), any::<u64>()).prop_map(|(t, duration)| Lifetime {
            life_type: LifeType(t),
            duration,
        }),
        0..3,
    )
}

fn ike_attributes() -> impl Strategy<Value = IkeAttributes> {
    (
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
        ),
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
        ),
        lifetimes(),
        other_attributes(&[1, 2, 3, 4, 5, 11, 12, 13, 14]),
    )
        .prop_map(
            |((enc, key, hash, group, auth), (gt, prf), lifetimes, other)| IkeAttributes {
                encryption: enc.map(EncryptionAlgorithm),
                key_length: key,
                hash: hash.map(HashAlgorithm),
                group: group.map(GroupDescription),
                auth_method: auth.map(AuthMethod),
                group_type: gt.map(GroupType),
                prf,
                lifetimes,
                other,
            },
        )
}

fn ipsec_attributes() -> impl Strategy<Value = IpsecAttributes> {
    (
        proptest::option::of(any::<u16>()),
        lifetimes(),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
        other_attributes(&[1, 2, 3, 4, 5, 6, 7]),
    )
        .prop_map(
            |(mode, lifetimes, group, auth, key, rounds, other)| IpsecAttributes {
                encapsulation: mode.map(EncapsulationMode),
                lifetimes,
                group: group.map(GroupDescription),
                auth_algorithm: auth.map(AuthAlgorithm),
                key_length: key,
                key_rounds: rounds,
                other,
            },
        )
}

/// No view, accessor or parser panics on `data`; whatever parses re-emits and parses back.
fn check_bytes(data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(h) = Header::new_checked(data) {
        let _ = (
            h.cookie_i(),
            h.cookie_r(),
            h.exchange_type(),
            h.flags(),
            h.message_id(),
        );
        let r = HeaderRepr::parse(&h).unwrap();
        prop_assert_eq!(&r.to_bytes()[..], &data[..28]);
    }
    let _ = Header::new_unchecked(data).payload();
    if let Ok(v) = MessageView::new_checked(data)
        && let dmvpn_ikev1::wire::BodyView::Clear(ps) = v.body()
    {
        for raw in ps.flatten() {
            if let Ok(p) = Payload::parse(&raw) {
                let mut body = vec![0u8; p.body_len()];
                p.emit_body(&mut body).unwrap();
            }
        }
    }
    if let Ok(m) = Message::parse(data) {
        let again = Message::parse(&m.to_vec().unwrap()).unwrap();
        prop_assert_eq!(again, m);
    }
    let _ = strip_non_esp_marker(data);
    let _ = recognise_vendor_id(data);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_payload_round_trips(p in payload()) {
        let mut buf = vec![0u8; p.buffer_len()];
        p.emit(PayloadType::NONE, &mut buf).unwrap();
        let raw = Payloads::new(p.payload_type(), &buf).next().unwrap().unwrap();
        prop_assert_eq!(raw.next_payload, PayloadType::NONE);
        prop_assert_eq!(Payload::parse(&raw).unwrap(), p);
    }

    #[test]
    fn messages_round_trip(m in message()) {
        let bytes = m.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), m.buffer_len());
        prop_assert_eq!(Message::parse(&bytes).unwrap(), m.clone());
        let h = Header::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(HeaderRepr::parse(&h).unwrap(), m.header().unwrap());
    }

    #[test]
    fn payload_chains_round_trip(ps in vec(payload(), 0..8)) {
        let mut buf = vec![0u8; dmvpn_ikev1::wire::chain_len(&ps)];
        dmvpn_ikev1::wire::emit_chain(&ps, &mut buf).unwrap();
        let first = ps.first().map_or(PayloadType::NONE, Payload::payload_type);
        prop_assert_eq!(parse_chain(first, &buf).unwrap(), ps.clone());
        // With padding after it, as decrypted contents have.
        buf.extend_from_slice(&[0, 0, 0, 3]);
        let (again, pad) = parse_decrypted_chain(first, &buf).unwrap();
        prop_assert_eq!((again, pad), (ps, 4));
    }

    #[test]
    fn sa_payloads_round_trip(s in sa()) {
        let mut buf = vec![0u8; s.buffer_len()];
        s.emit(&mut buf).unwrap();
        prop_assert_eq!(SaPayload::parse(&buf).unwrap(), s);
    }

    #[test]
    fn typed_ike_attributes_round_trip(a in ike_attributes()) {
        let list = a.to_attributes();
        prop_assert_eq!(IkeAttributes::parse(&list).unwrap(), a.clone());
        // Through a transform on the wire too.
        let t = Transform::ike(1, &a);
        let mut buf = vec![0u8; t.buffer_len()];
        t.emit(true, &mut buf).unwrap();
        prop_assert_eq!(Transform::parse(&buf).unwrap().ike_attributes().unwrap(), a);
    }

    #[test]
    fn typed_ipsec_attributes_round_trip(a in ipsec_attributes()) {
        prop_assert_eq!(IpsecAttributes::parse(&a.to_attributes()).unwrap(), a);
    }

    #[test]
    fn known_vendor_ids_are_recognised_with_any_version(
        id in proptest::sample::select(KnownVendorId::all().collect::<Vec<_>>()),
        v in any::<[u8; 2]>(),
    ) {
        let mut b = id.to_bytes();
        if matches!(id, KnownVendorId::Dpd | KnownVendorId::CiscoUnity) {
            let n = b.len();
            b[n - 2..].copy_from_slice(&v);
        }
        let m = recognise_vendor_id(&b).unwrap();
        prop_assert_eq!(m.id, id);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(600)) {
        check_bytes(&data)?;
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(
        mut data in bytes(600),
        first in any::<u8>(),
        encrypted in any::<bool>(),
    ) {
        // Version 1.0, a Length that fits, so that the body is what gets exercised.
        if data.len() >= 28 {
            data[16] = first;
            data[17] = 0x10;
            data[19] = u8::from(encrypted);
            let len = u32::try_from(data.len()).unwrap();
            data[24..28].copy_from_slice(&len.to_be_bytes());
        }
        check_bytes(&data)?;
    }

    #[test]
    fn arbitrary_bodies_never_panic(t in any::<u8>(), data in bytes(300)) {
        let raw = RawPayload { payload_type: PayloadType(t), next_payload: PayloadType::NONE, body: &data };
        if let Ok(p) = Payload::parse(&raw) {
            let mut body = vec![0u8; p.body_len()];
if p.emit_body(&mut body).is_ok() {
                let again = RawPayload { body: &body, ..raw };
                prop_assert_eq!(Payload::parse(&again).unwrap(), p);
            } else {
                // Only an unknown payload of type 0 cannot be sent (it would end the chain).
                prop_assert_eq!(t, 0);
            }
        }
        let _ = parse_chain(PayloadType(t), &data);
        let _ = parse_decrypted_chain(PayloadType(t), &data);
        if let Ok(s) = SaPayload::parse(&data) {
            for p in &s.proposals {
                for tr in &p.transforms {
                    let _ = tr.ike_attributes();
                    let _ = tr.ipsec_attributes();
                }
            }
        }
        if let Ok(list) = Attribute::parse_list(&data) {
            let _ = IkeAttributes::parse(&list);
            let _ = IpsecAttributes::parse(&list);
            for a in &list {
                let _ = a.as_integer();
            }
        }
        if let Ok(id) = IdPayload::parse(&data) {
            let _ = id.value();
            let _ = id.to_string();
        }
        if let Ok(n) = NotifyPayload::parse(&data) {
            let _ = (n.dpd_sequence(), n.replay_status(), n.responder_lifetime_attributes());
        }
    }
}
