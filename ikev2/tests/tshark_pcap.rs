//! Writes complete IKE exchanges protected by our SK code to
//! `$CARGO_TARGET_TMPDIR/pcap/ikev2-sk.pcap`, with our keys as tshark `ikev2_decryption_table`
//! rows in `ikev2-sk.uat` and the expected decrypted inner payload types per frame in
//! `ikev2-sk.expected`. `.ci/checks/ikev2-tshark.sh` then decrypts the capture with tshark and
//! checks the integrity and the contents. This test checks the same messages with our own
//! parser and unprotect.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use dmvpn_ikev2::auth::{Psk, SignedOctets, psk_auth_payload};
use dmvpn_ikev2::crypto::IkeCryptoProvider;
use dmvpn_ikev2::keys::IkeSaKeys;
use dmvpn_ikev2::sk::SkCrypto;
use dmvpn_ikev2::transform::IkeSuite;
use dmvpn_ikev2::wire::{
    DeletePayload, ExchangeType, Flags, Identity, KePayload, Message, NotifyPayload, NotifyType,
    Payload, PayloadType, Proposal, ProtocolId, SaPayload, TrafficSelector, TsPayload,
};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

const HUB: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SPOKE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet + IPv4 + UDP frame; on port 4500 the IKE message gets the non-ESP marker.
fn frame(src: Ipv4Addr, dst: Ipv4Addr, port: u16, ike: &[u8]) -> Vec<u8> {
    let mut udp_payload = Vec::new();
    if port == 4500 {
        udp_payload.extend_from_slice(&[0, 0, 0, 0]);
    }
    udp_payload.extend_from_slice(ike);
    let udp_len = 8 + udp_payload.len();
    let ip_len = 20 + udp_len;
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    // UDP checksum over the pseudo-header.
    let mut udp = Vec::new();
    udp.extend_from_slice(&port.to_be_bytes());
    udp.extend_from_slice(&port.to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&udp_payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&(udp_len as u16).to_be_bytes());
    pseudo.extend_from_slice(&udp);
    let c = match checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&udp);
    f
}

struct Capture {
    frames: Vec<Vec<u8>>,
    uat: String,
    expected: String,
}

impl Capture {
    fn push(&mut self, src: Ipv4Addr, dst: Ipv4Addr, port: u16, ike: &[u8], inner: &[Payload]) {
        self.frames.push(frame(src, dst, port, ike));
        let types: Vec<String> = inner
            .iter()
            .map(|p| p.payload_type().0.to_string())
            .collect();
        if !inner.is_empty()
            || Message::parse(ike)
                .unwrap()
                .payloads
                .iter()
                .any(|p| matches!(p, Payload::Sk(_)))
        {
            writeln!(self.expected, "{}\t{}", self.frames.len(), types.join(",")).unwrap();
        }
    }
}

fn wireshark_encr(suite: &IkeSuite) -> &'static str {
    use dmvpn_esp::EncryptionAlgorithm as E;
    match suite.encryption {
        E::AesCbc128 => "AES-CBC-128 [RFC3602]",
        E::AesCbc192 => "AES-CBC-192 [RFC3602]",
        E::AesCbc256 => "AES-CBC-256 [RFC3602]",
        E::AesGcm128 => "AES-GCM-128 with 16 octet ICV [RFC5282]",
        E::AesGcm256 => "AES-GCM-256 with 16 octet ICV [RFC5282]",
        E::Null => unreachable!(),
    }
}

fn wireshark_integ(suite: &IkeSuite) -> &'static str {
    use dmvpn_esp::IntegrityAlgorithm as I;
    match suite.integrity {
        I::None => "NONE [RFC4306]",
        I::HmacSha256_128 => "HMAC_SHA2_256_128 [RFC4868]",
        I::HmacSha384_192 => "HMAC_SHA2_384_192 [RFC4868]",
        I::HmacSha512_256 => "HMAC_SHA2_512_256 [RFC4868]",
        I::HmacSha1_96 => "HMAC_SHA1_96 [RFC2404]",
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One full exchange sequence for a suite: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA,
/// INFORMATIONAL (empty, then a Delete). Returns the number of SK messages written.
fn exchange(
    cap: &mut Capture,
    p: &IkeCryptoProvider,
    proposal: &str,
    spi_i: u64,
    spi_r: u64,
    port: u16,
) -> usize {
    let suite = IkeSuite::parse(proposal).unwrap();
    let ki = p.start_key_exchange(suite.group).unwrap();
    let kr = p.start_key_exchange(suite.group).unwrap();
    let (ni, nr) = (p.random_bytes(32).unwrap(), p.random_bytes(32).unwrap());
    let nat = |t| Payload::Notify(NotifyPayload::new(t, &[0x5a; 20]));
    let init = |spi_r, flags, ke: &[u8], nonce: &[u8]| Message {
        spi_i,
        spi_r,
        minor_version: 0,
        exchange_type: ExchangeType::IKE_SA_INIT,
        flags,
        message_id: 0,
        payloads: vec![
            Payload::Sa(SaPayload {
                proposals: vec![suite.to_proposal()],
            }),
            Payload::Ke(KePayload {
                group: suite.group,
                data: ke.to_vec(),
            }),
            Payload::Nonce(nonce.to_vec()),
            nat(NotifyType::NAT_DETECTION_SOURCE_IP),
            nat(NotifyType::NAT_DETECTION_DESTINATION_IP),
        ],
    };
    let m1 = init(0, Flags::INITIATOR, ki.public_value(), &ni)
        .to_vec()
        .unwrap();
    let m2 = init(spi_r, Flags::RESPONSE, kr.public_value(), &nr)
        .to_vec()
        .unwrap();
    cap.push(SPOKE, HUB, 500, &m1, &[]);
    cap.push(HUB, SPOKE, 500, &m2, &[]);

    let gir = ki.complete(kr.public_value()).unwrap();
    let keys = IkeSaKeys::derive(p, &suite, gir.as_bytes(), &ni, &nr, spi_i, spi_r).unwrap();
    let sk_i = SkCrypto::new(p, &suite, &keys, true).unwrap();
    let sk_r = SkCrypto::new(p, &suite, &keys, false).unwrap();
    writeln!(
        cap.uat,
        "{:016x},{:016x},{},{},\"{}\",{},{},\"{}\"",
        spi_i,
        spi_r,
        hex(keys.sk_ei.as_bytes()),
        hex(keys.sk_er.as_bytes()),
        wireshark_encr(&suite),
        hex(keys.sk_ai.as_bytes()),
        hex(keys.sk_ar.as_bytes()),
        wireshark_integ(&suite),
    )
    .unwrap();

    let psk = Psk::from("dmvpn-cloud-1");
    let id_i = Identity::ipv4(SPOKE);
    let id_r = Identity::fqdn("hub1.dmvpn.example");
    let oi = SignedOctets::new(p, suite.prf, &keys.sk_pi, &m1, &nr, &id_i).unwrap();
    let or = SignedOctets::new(p, suite.prf, &keys.sk_pr, &m2, &ni, &id_r).unwrap();
    let esp = Proposal {
        spi: vec![0xc0, 0x01, 0x00, 0x01],
        ..Proposal::from_strongswan("aes256gcm16", ProtocolId::ESP).unwrap()
    };
    let ts = |a: Ipv4Addr| TsPayload {
        selectors: vec![TrafficSelector::host(a.into(), 47)],
    };
    let outer = |exchange_type, flags, message_id| Message {
        spi_i,
        spi_r,
        minor_version: 0,
        exchange_type,
        flags,
        message_id,
        payloads: vec![],
    };
    let mut msgs: Vec<(bool, Message, Vec<Payload>)> = Vec::new();
    msgs.push((
        true,
        outer(ExchangeType::IKE_AUTH, Flags::INITIATOR, 1),
        vec![
            Payload::IdI(id_i.clone()),
            Payload::Notify(NotifyPayload::new(NotifyType::INITIAL_CONTACT, &[])),
            Payload::IdR(id_r.clone()),
            Payload::Auth(psk_auth_payload(p, suite.prf, &psk, &oi).unwrap()),
            Payload::Notify(NotifyPayload::new(NotifyType::USE_TRANSPORT_MODE, &[])),
            Payload::Sa(SaPayload {
                proposals: vec![esp.clone()],
            }),
            Payload::TsI(ts(SPOKE)),
            Payload::TsR(ts(HUB)),
        ],
    ));
    msgs.push((
        false,
        outer(ExchangeType::IKE_AUTH, Flags::RESPONSE, 1),
        vec![
            Payload::IdR(id_r),
            Payload::Auth(psk_auth_payload(p, suite.prf, &psk, &or).unwrap()),
            Payload::Notify(NotifyPayload::new(NotifyType::USE_TRANSPORT_MODE, &[])),
            Payload::Sa(SaPayload {
                proposals: vec![esp.clone()],
            }),
            Payload::TsI(ts(SPOKE)),
            Payload::TsR(ts(HUB)),
        ],
    ));
    let kc = p.start_key_exchange(suite.group).unwrap();
    msgs.push((
        true,
        outer(ExchangeType::CREATE_CHILD_SA, Flags::INITIATOR, 2),
        vec![
            Payload::Notify(NotifyPayload {
                protocol_id: ProtocolId::ESP,
                spi: vec![0xc0, 0x01, 0x00, 0x01],
                notify_type: NotifyType::REKEY_SA,
                data: vec![],
            }),
            Payload::Sa(SaPayload {
                proposals: vec![Proposal {
                    spi: vec![0xc0, 0x01, 0x00, 0x02],
                    ..esp
                }],
            }),
            Payload::Nonce(p.random_bytes(32).unwrap()),
            Payload::Ke(KePayload {
                group: suite.group,
                data: kc.public_value().to_vec(),
            }),
            Payload::TsI(ts(SPOKE)),
            Payload::TsR(ts(HUB)),
        ],
    ));
    // A liveness check (empty INFORMATIONAL) from the responder, answered by the initiator.
    msgs.push((
        false,
        outer(ExchangeType::INFORMATIONAL, Flags(0), 0),
        vec![],
    ));
    msgs.push((
        true,
        outer(
            ExchangeType::INFORMATIONAL,
            Flags::INITIATOR | Flags::RESPONSE,
            0,
        ),
        vec![],
    ));
    msgs.push((
        true,
        outer(ExchangeType::INFORMATIONAL, Flags::INITIATOR, 3),
        vec![Payload::Delete(DeletePayload {
            protocol_id: ProtocolId::ESP,
            spi_size: 4,
            spis: vec![vec![0xc0, 0x01, 0x00, 0x01]],
        })],
    ));
    for (from_initiator, outer, inner) in &msgs {
        let (tx, rx, src, dst) = if *from_initiator {
            (&sk_i.outbound, &sk_r.inbound, SPOKE, HUB)
        } else {
            (&sk_r.outbound, &sk_i.inbound, HUB, SPOKE)
        };
        let wire = tx.protect(p.random(), outer, inner).unwrap();
        // Our own receiver agrees before tshark is asked.
        let got = rx.unprotect(&wire).unwrap();
        assert_eq!(&got.payloads().unwrap(), inner);
        let parsed = Message::parse(&wire).unwrap();
        assert!(
            matches!(parsed.payloads.as_slice(), [Payload::Sk(s)] if s.inner_next == inner.first().map_or(PayloadType::NONE, Payload::payload_type))
        );
        assert_eq!(parsed.to_vec().unwrap(), wire);
        cap.push(src, dst, port, &wire, inner);
    }
    msgs.len()
}

#[test]
fn sk_messages_for_tshark() {
    let p = common::seeded_provider(42);
    let mut cap = Capture {
        frames: Vec::new(),
        uat: String::new(),
        expected: String::new(),
    };
    let mut n = 0;
    n += exchange(
        &mut cap,
        &p,
        "aes128-sha256-modp2048",
        0x1000_0000_0000_0001,
        0x2000_0000_0000_0001,
        500,
    );
    n += exchange(
        &mut cap,
        &p,
        "aes256-sha512-ecp256",
        0x1000_0000_0000_0002,
        0x2000_0000_0000_0002,
        500,
    );
    n += exchange(
        &mut cap,
        &p,
        "aes256-sha384-x25519",
        0x1000_0000_0000_0003,
        0x2000_0000_0000_0003,
        4500,
    );
    n += exchange(
        &mut cap,
        &p,
        "aes256gcm16-prfsha256-x25519",
        0x1000_0000_0000_0004,
        0x2000_0000_0000_0004,
        4500,
    );
    n += exchange(
        &mut cap,
        &p,
        "aes128gcm16-prfsha512-ecp256",
        0x1000_0000_0000_0005,
        0x2000_0000_0000_0005,
        500,
    );
    assert_eq!(cap.expected.lines().count(), n);

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pcap");
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("ikev2-sk.pcap")).unwrap();
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, f) in cap.frames.iter().enumerate() {
        let ts = std::time::Duration::from_millis(1_700_000_000_000 + 10 * i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
    std::fs::write(dir.join("ikev2-sk.uat"), &cap.uat).unwrap();
    std::fs::write(dir.join("ikev2-sk.expected"), &cap.expected).unwrap();
}
