//! Builds ESP packets with fixed keys for every suite tshark 4.0 can decrypt, writes them to
//! `<CARGO_TARGET_TMPDIR>/pcap/esp-suites.pcap` (LINKTYPE_RAW, outer IPv4 with a correct header
//! checksum) with two sidecar files for `.ci/checks/esp-tshark.sh`:
//! - `esp-suites.uat`: one `uat:esp_sa` row per SA;
//! - `esp-suites.expected`: per frame, its number and the expected decrypted payload (hex).
//!
//! The test itself checks that every frame decapsulates back to its payload with our SAs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmvpn_esp::crypto::{ChaChaRandom, rustcrypto};
use dmvpn_esp::wire::{NAT_KEEPALIVE, NAT_T_PORT, UdpPayload};
use dmvpn_esp::{
    InboundSa, Mode, NEXT_HEADER_GRE, NEXT_HEADER_IPV4, OutboundSa, SaConfig, SaKeys, Suite,
};
use dmvpn_wire::{IpProtocol, be, ipv4, udp};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// An IPv4 packet as a host sends it: DF set, TTL 64, identification `id`, header checksum.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let repr = ipv4::Repr {
        ttl: 64,
        identification: id,
        dont_fragment: true,
        ..ipv4::Repr::new(src, dst, IpProtocol(protocol), payload.len())
    };
    let mut p = vec![0u8; repr.buffer_len()];
    p[repr.header_len()..].copy_from_slice(payload);
    repr.emit(&mut ipv4::Packet::new_unchecked(&mut p[..]))
        .unwrap();
    p
}

/// A UDP datagram with a zero checksum: "no checksum", allowed over IPv4 and what RFC 3948
/// §3.1.1 suggests for UDP-encapsulated ESP.
fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = udp::datagram(SRC.into(), DST.into(), sport, dport, payload).unwrap();
    be::put_u16(&mut u, 6, 0);
    u
}

/// A GRE packet (RFC 2784, no options) carrying an IPv4 packet of experimental protocol 253.
fn gre_payload(i: usize, len: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|k| (k * 7 + i) as u8).collect();
    let inner = ipv4(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        253,
        i as u16,
        &data,
    );
    let mut g = vec![0, 0, 0x08, 0x00];
    g.extend_from_slice(&inner);
    g
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

struct Case {
    suite: &'static str,
    mode: Mode,
    udp_encap: bool,
}

#[test]
fn write_tshark_suites_pcap() {
    let cases = [
        Case {
            suite: "aes128-sha256",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes128-sha384",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes128-sha512",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes256-sha256",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes256-sha384",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes256-sha512",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes128-sha1",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes128gcm16",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes256gcm16",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "null-sha256",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "null-sha384",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "null-sha512",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "null-sha1",
            mode: Mode::Transport,
            udp_encap: false,
        },
        Case {
            suite: "aes256gcm16",
            mode: Mode::Tunnel,
            udp_encap: false,
        },
        Case {
            suite: "aes128-sha256",
            mode: Mode::Transport,
            udp_encap: true,
        },
        Case {
            suite: "aes256gcm16",
            mode: Mode::Transport,
            udp_encap: true,
        },
    ];
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pcap");
    fs::create_dir_all(&dir).unwrap();
    let mut writer = PcapWriter::with_header(
        Vec::new(),
        PcapHeader {
            datalink: DataLink::RAW,
            ..Default::default()
        },
    )
    .unwrap();
    let mut uat = String::new();
    let mut expected = String::new();
    let mut frame_no = 0usize;
    let now = Instant::now();
    let mut ts = Duration::from_secs(1_700_000_000);
    let mut emit = |w: &mut PcapWriter<Vec<u8>>, frame: &[u8]| {
        ts += Duration::from_millis(10);
        w.write_packet(&PcapPacket::new(ts, frame.len() as u32, frame))
            .unwrap();
    };

    for (n, case) in cases.iter().enumerate() {
        let suite = Suite::parse(case.suite).unwrap();
        let spi = 0x1000_0000 + n as u32 + 1;
        let ek: Vec<u8> = (0..suite.encryption.keymat_len())
            .map(|k| (k as u8).wrapping_mul(17) ^ n as u8)
            .collect();
        let ik: Vec<u8> = (0..suite.integrity.key_len())
            .map(|k| (k as u8).wrapping_mul(29) ^ 0x5a)
            .collect();
        let provider = rustcrypto::provider(Arc::new(ChaChaRandom::from_seed([n as u8; 32])));
        let mut cfg = SaConfig::new(spi, suite, SaKeys::new(&ek, &ik), provider);
        cfg.mode = case.mode;
        let mut tx = OutboundSa::new(&cfg, now).unwrap();
        let mut rx = InboundSa::new(&cfg, now).unwrap();
        writeln!(
            uat,
            "\"IPv4\",\"{SRC}\",\"{DST}\",\"0x{spi:08x}\",\"{}\",\"0x{}\",\"{}\",\"{}\"",
            suite.encryption.wireshark_name(),
            hex(&ek),
            suite.integrity.wireshark_name(),
            if ik.is_empty() {
                String::new()
            } else {
                format!("0x{}", hex(&ik))
            },
        )
        .unwrap();
        for (i, len) in [16usize, 1, 200].into_iter().enumerate() {
            let (nh, payload) = match case.mode {
                Mode::Transport => (NEXT_HEADER_GRE, gre_payload(i, len)),
                Mode::Tunnel => (
                    NEXT_HEADER_IPV4,
                    ipv4(
                        Ipv4Addr::new(10, 1, 0, 1),
                        Ipv4Addr::new(10, 1, 0, 2),
                        253,
                        i as u16,
                        &vec![0xa5; len],
                    ),
                ),
            };
            let mut wire = vec![0u8; 2048];
            let esp_pkt = tx
                .encapsulate(now, nh, &payload, &mut wire)
                .unwrap()
                .to_vec();
            let mut out = vec![0u8; 2048];
            let d = rx.decapsulate(now, &esp_pkt, &mut out).unwrap();
            assert_eq!((d.next_header, d.payload), (nh, &payload[..]));
            let frame = if case.udp_encap {
                assert!(matches!(
                    UdpPayload::classify(&esp_pkt).unwrap(),
                    UdpPayload::Esp(_)
                ));
                ipv4(
                    SRC,
                    DST,
                    17,
                    (n * 10 + i) as u16,
                    &udp(NAT_T_PORT, NAT_T_PORT, &esp_pkt),
                )
            } else {
                ipv4(SRC, DST, 50, (n * 10 + i) as u16, &esp_pkt)
            };
            emit(&mut writer, &frame);
            frame_no += 1;
            writeln!(expected, "{frame_no}\t{}", hex(&payload)).unwrap();
        }
        if case.udp_encap && n == cases.len() - 1 {
            // A NAT keepalive (RFC 3948 §2.3) on the same port.
            emit(
                &mut writer,
                &ipv4(
                    SRC,
                    DST,
                    17,
                    999,
                    &udp(NAT_T_PORT, NAT_T_PORT, &NAT_KEEPALIVE),
                ),
            );
            frame_no += 1;
            writeln!(expected, "{frame_no}\tkeepalive").unwrap();
        }
    }
    let pcap = writer.into_writer();
    fs::write(dir.join("esp-suites.pcap"), &pcap).unwrap();
    fs::write(dir.join("esp-suites.uat"), &uat).unwrap();
    fs::write(dir.join("esp-suites.expected"), &expected).unwrap();
    assert_eq!(uat.lines().count(), cases.len());
    assert_eq!(expected.lines().count(), cases.len() * 3 + 1);
}
