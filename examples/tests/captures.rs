//! `dmvpn-decode` over the real captures in `testdata/captures/`: every frame decodes and
//! re-emits byte for byte, and the fields agree with Wireshark's decode (recorded from tshark 4.0
//! with `tshark -r FILE -T fields -e gre.key`; CI also compares live, see
//! `.ci/checks/decode-vs-tshark.sh`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dmvpn_examples::decode::{Frame, decode_file};
use serde_json::Value;

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures")
}

fn decode(name: &str) -> Vec<Frame> {
    decode_file(&captures().join(name), true).unwrap()
}

fn gre_keys(frames: &[Frame]) -> Vec<Option<u64>> {
    frames
        .iter()
        .filter_map(|f| f.layer("gre"))
        .map(|g| g["key"].as_u64())
        .collect()
}

#[test]
fn every_capture_roundtrips() {
    let mut seen = 0;
    for entry in std::fs::read_dir(captures()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let frames = decode_file(&path, true).unwrap();
        assert!(!frames.is_empty(), "{name}: no frames");
        for f in &frames {
            assert!(
                f.errors.is_empty(),
                "{name} frame {}: {:?}",
                f.number,
                f.errors
            );
            // tcpdump's isakmp4500.pcap has ARP between its IKE and ESP frames.
            let arp = f.layer("eth").and_then(|e| e["ethertype"].as_u64()) == Some(0x0806);
            assert!(
                arp || f.layer("ipv4").is_some() || f.layer("ipv6").is_some(),
                "{name} frame {}: no IP",
                f.number
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 11, "expected the eleven fixture captures");
}

#[test]
fn gre_fields_match_wireshark() {
    // (file, frames, gre.key per GRE frame as tshark prints it; None = field absent)
    let cases: &[(&str, usize, &[Option<u64>])] = &[
        ("gre-tunnel-with-key.pcapng", 2, &[Some(1), Some(1)]),
        ("gre-tunnel-without-key.pcapng", 2, &[None, None]),
        ("dmvpn-gre-encapsulated-icmp.pcap", 10, &[None; 10]),
        ("dmvpn-nhrp-registration.pcap", 2, &[None; 2]),
        (
            "dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap",
            3,
            &[None; 3],
        ),
    ];
    for (file, n, keys) in cases {
        let frames = decode(file);
        assert_eq!(frames.len(), *n, "{file}");
        assert_eq!(gre_keys(&frames), keys.to_vec(), "{file}");
    }
    // GRE-encapsulated ICMP: outer 192.168.123.x, inner 1.1.1.1 <-> 2.2.2.2 (tshark ip.src).
    let f = &decode("dmvpn-gre-encapsulated-icmp.pcap")[0];
    let ips: Vec<&str> = f
        .layers_of("ipv4")
        .map(|l| l["src"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["192.168.123.1", "1.1.1.1"]);
    assert_eq!(
        f.layer("gre").unwrap()["protocol_type"],
        Value::from(0x0800)
    );
    let nhrp = &decode("dmvpn-nhrp-registration.pcap")[0];
    assert_eq!(
        nhrp.layer("gre").unwrap()["protocol_type"],
        Value::from(0x2001)
    );
}

#[test]
fn ikev1_fields_match_wireshark() {
    // (file, isakmp.exchangetype and isakmp.messageid per ISAKMP frame, as tshark prints them)
    let cases: &[(&str, &[(u64, u64)])] = &[
        (
            "wireshark-capture-ipsec-ikev1-isakmp-aggressive-mode.pcap",
            &[
                (4, 0),
                (4, 0),
                (4, 0),
                (32, 0xe22a_74c1),
                (32, 0xe22a_74c1),
                (32, 0xe22a_74c1),
            ],
        ),
        (
            "tcpdump-isakmp4500.pcap",
            &[
                (2, 0),
                (2, 0),
                (2, 0),
                (2, 0),
                (2, 0),
                (2, 0),
                (32, 0x8b7e_8947),
                (32, 0x8b7e_8947),
                (32, 0x8b7e_8947),
                (32, 0x8b7e_8947),
                (32, 0x8b7e_8947),
                (32, 0x8b7e_8947),
                (32, 0x8b7e_8947),
                (32, 0x8b7e_8947),
                (5, 0x02bd_c64f),
            ],
        ),
    ];
    for (file, expected) in cases {
        let frames = decode(file);
        let got: Vec<(u64, u64)> = frames
            .iter()
            .filter_map(|f| f.layer("ikev1"))
            .map(|l| {
                (
                    l["exchange_type"].as_u64().unwrap(),
                    l["message_id"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, *expected, "{file}");
        assert!(frames.iter().all(|f| f.layer("ikev2").is_none()), "{file}");
    }
    // Payload contents of the first aggressive mode message: the ID and the known vendor IDs.
    let first = &decode("wireshark-capture-ipsec-ikev1-isakmp-aggressive-mode.pcap")[0];
    let payloads = first.layer("ikev1").unwrap()["payloads"]
        .as_array()
        .unwrap();
    let id = payloads.iter().find(|p| p["name"] == "ID").unwrap();
    assert_eq!(id["id"], "192.168.12.2 proto 17");
    let known: Vec<&str> = payloads
        .iter()
        .filter_map(|p| p["known"].as_str())
        .collect();
    assert_eq!(
        known,
        [
            "RFC 3947 NAT-T",
            "draft-ietf-ipsec-nat-t-ike-07",
            "draft-ietf-ipsec-nat-t-ike-03",
            "draft-ietf-ipsec-nat-t-ike-02\\n",
            "RFC 3706 DPD",
            "XAUTH"
        ]
    );
}

/// Writes a pcap (LINKTYPE_RAW) of the given frames into the test's temp dir.
fn write_pcap(name: &str, frames: &[Vec<u8>]) -> PathBuf {
    use pcap_file::DataLink;
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("decode-input");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(std::fs::File::create(&path).unwrap(), header).unwrap();
    for f in frames {
        w.write_packet(&PcapPacket::new(Default::default(), f.len() as u32, f))
            .unwrap();
    }
    path
}

/// A GRE-in-IPv4 frame with a GRE checksum, built with the `gre` crate.
fn checksummed_frame() -> Vec<u8> {
    let mut t = dmvpn_gre::Tunnel::new(dmvpn_gre::Config {
        checksum: true,
        ..dmvpn_gre::Config::multipoint([10, 0, 0, 1].into())
    })
    .unwrap();
    let head = t.overhead();
    let mut buf = vec![0u8; head + 4];
    buf[head..].copy_from_slice(b"data");
    t.encapsulate_ip(
        [10, 0, 0, 2].into(),
        dmvpn_gre::Protocol(0x88b5),
        &mut buf,
        head,
        4,
    )
    .unwrap()
    .to_vec()
}

#[test]
fn binary_exit_status() {
    let bin = env!("CARGO_BIN_EXE_dmvpn-decode");
    let good = checksummed_frame();
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1; // breaks the GRE checksum
    let not_ip = vec![0x00, 0x01, 0x02];
    // Deliberately malformed input: not named .pcap, so the CI sweep (which requires every
    // test-written pcap to be clean in tshark) leaves it alone.
    let path = write_pcap("mixed.malformed-input", &[good, bad, not_ip]);

    let out = Command::new(bin)
        .arg("--check-roundtrip")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad GRE checksum must fail the check"
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["layers"][1]["proto"], "gre");
    assert_eq!(lines[0]["layers"][1]["checksum_present"], true);
    assert!(lines[0].get("errors").is_none());
    assert!(
        lines[1]["errors"][0]
            .as_str()
            .unwrap()
            .contains("GRE checksum mismatch")
    );
    // Not understood, not an error: printed with no layers.
    assert_eq!(lines[2]["layers"], Value::Array(vec![]));
    assert!(lines[2].get("errors").is_none());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("frame 2"), "{stderr}");

    // Without --check-roundtrip the same file decodes with exit 0 (errors still reported).
    let out = Command::new(bin).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));

    // Unreadable input and bad usage: exit 2.
    let out = Command::new(bin).arg("/nonexistent.pcap").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

mod robustness {
    use dmvpn_examples::decode::decode_frame;
    use pcap_file::DataLink;
    use proptest::prelude::*;

    proptest! {
        /// The decoder never panics, whatever the bytes and link type.
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), link in 0usize..6) {
            let link = [DataLink::ETHERNET, DataLink::RAW, DataLink::LINUX_SLL, DataLink::LINUX_SLL2, DataLink::NULL, DataLink::IPV6][link];
            let f = decode_frame(1, link, &data, true);
            let _ = f.to_json();
        }

        /// The same for a plausible IPv4 + GRE prefix followed by arbitrary bytes, which gets
        /// deeper into the protocol decoders.
        #[test]
        fn decode_gre_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200), proto in any::<u16>()) {
            let gre_len = 4 + tail.len();
            let total = (20 + gre_len) as u16;
            let mut p = vec![0x45, 0];
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 0, 64, 47, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
            let c = dmvpn_wire::checksum::checksum(&p);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            p.extend_from_slice(&[0, 0]);
            p.extend_from_slice(&proto.to_be_bytes());
            p.extend_from_slice(&tail);
            let _ = decode_frame(1, DataLink::RAW, &p, true).to_json();
        }
    }
}
