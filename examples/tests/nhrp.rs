//! `dmvpn-decode` on NHRP: the captures' NHRP fields agree with Wireshark's decode (values
//! recorded from tshark 4.0 with `tshark -r FILE -T fields -e nhrp.hdr.op.type -e nhrp.reqid
//! -e nhrp.hdr.hopcnt -e nhrp.src.nbma.addr -e nhrp.src.prot.addr -e nhrp.dst.prot.addr`, and
//! compared live when tshark is installed), every packet re-emits byte for byte, and the packets
//! quoted by Error and Traffic Indications are decoded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use dmvpn_examples::decode::decode_file;
use dmvpn_nhrp::wire::{ErrorCode, Node, Repr};
use serde_json::Value;

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures")
}

/// The NHRP layers of a file, decoded with re-emission checks; no frame may have errors.
fn nhrp_layers(path: &Path) -> Vec<Value> {
    let frames = decode_file(path, true).unwrap();
    frames
        .iter()
        .map(|f| {
            assert!(f.errors.is_empty(), "frame {}: {:?}", f.number, f.errors);
            f.layer("nhrp").unwrap().clone()
        })
        .collect()
}

/// The six fields as tshark prints them (`-T fields`, request ID in hex).
fn as_tshark(l: &Value) -> [String; 6] {
    [
        l["packet_type"].to_string(),
        format!("0x{:08x}", l["request_id"].as_u64().unwrap()),
        l["hop_count"].to_string(),
        l["src_nbma_addr"].as_str().unwrap().to_string(),
        l["src_proto_addr"].as_str().unwrap().to_string(),
        l["dst_proto_addr"].as_str().unwrap().to_string(),
    ]
}

const RECORDED: &[(&str, &[[&str; 6]])] = &[
    (
        "dmvpn-nhrp-registration.pcap",
        &[
            [
                "3",
                "0x00000001",
                "255",
                "192.168.123.2",
                "172.16.123.2",
                "172.16.123.1",
            ],
            [
                "4",
                "0x00000001",
                "255",
                "192.168.123.2",
                "172.16.123.2",
                "172.16.123.1",
            ],
        ],
    ),
    (
        "dmvpn-phase-2-nhrp-spoke-to-spoke-resolution.pcap",
        &[
            [
                "1",
                "0x00000003",
                "255",
                "192.168.123.2",
                "172.16.123.2",
                "172.16.123.3",
            ],
            [
                "1",
                "0x00000003",
                "254",
                "192.168.123.2",
                "172.16.123.2",
                "172.16.123.3",
            ],
            [
                "2",
                "0x00000003",
                "255",
                "192.168.123.2",
                "172.16.123.2",
                "172.16.123.3",
            ],
        ],
    ),
];

#[test]
fn nhrp_fields_match_recorded_wireshark_values() {
    for (file, rows) in RECORDED {
        let layers = nhrp_layers(&captures().join(file));
        let got: Vec<[String; 6]> = layers.iter().map(as_tshark).collect();
        let want: Vec<[String; 6]> = rows.iter().map(|r| r.map(String::from)).collect();
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn nhrp_fields_match_live_tshark() {
    for (file, _) in RECORDED {
        let path = captures().join(file);
        let out = match Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(["-T", "fields", "-E", "separator=|"])
            .args([
                "-e",
                "nhrp.hdr.op.type",
                "-e",
                "nhrp.reqid",
                "-e",
                "nhrp.hdr.hopcnt",
            ])
            .args([
                "-e",
                "nhrp.src.nbma.addr",
                "-e",
                "nhrp.src.prot.addr",
                "-e",
                "nhrp.dst.prot.addr",
            ])
            .output()
        {
            Ok(o) => o,
            Err(_) => {
                eprintln!("tshark not installed; the recorded values are checked instead");
                return;
            }
        };
        assert!(out.status.success());
        let tshark: Vec<Vec<String>> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('|').map(String::from).collect())
            .collect();
        let ours: Vec<Vec<String>> = nhrp_layers(&path)
            .iter()
            .map(|l| as_tshark(l).to_vec())
            .collect();
        assert_eq!(ours, tshark, "{file}");
    }
}

#[test]
fn nhrp_layer_has_every_field_cie_and_extension() {
    let layers = nhrp_layers(&captures().join("dmvpn-nhrp-registration.pcap"));
    let req = &layers[0];
    assert_eq!(req["flags"], 0x8002);
    assert_eq!(req["extension_offset"], 52);
    assert_eq!(req["packet_size"], 105);
    let cie = &req["cies"][0];
    for (k, v) in [
        ("code", 0),
        ("prefix_len", 32),
        ("mtu", 17916),
        ("holding_time", 7200),
        ("preference", 255),
    ] {
        assert_eq!(cie[k], v, "{k}");
    }
    assert_eq!(cie["client_nbma_addr"], "");
    assert_eq!(cie["client_proto_addr"], "");
    let ext: Vec<(u64, bool)> = req["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_u64().unwrap(),
                e["compulsory"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ext,
        [(3, true), (4, true), (5, true), (7, true), (9, false)]
    );
    let nat = &req["extensions"][4]["cies"][0];
    assert_eq!(nat["client_nbma_addr"], "192.168.123.1");
    assert_eq!(nat["client_proto_addr"], "172.16.123.1");
    let auth = &req["extensions"][3];
    assert_eq!(
        (
            auth["auth_type"].as_u64(),
            auth["auth_data_length"].as_u64()
        ),
        (Some(1), Some(5))
    );
    assert!(
        !req.to_string().contains("DMVPN"),
        "the password is not printed"
    );
    // The reply's Responder Address extension carries the hub's CIE.
    let resp = &layers[1]["extensions"][0]["cies"][0];
    assert_eq!(resp["client_nbma_addr"], "192.168.123.1");
}

/// An IPv4 header (correct checksum) + GRE (0x2001) around an NHRP packet.
fn gre_frame(src: [u8; 4], dst: [u8; 4], nhrp: &[u8]) -> Vec<u8> {
    let total = u16::try_from(24 + nhrp.len()).unwrap();
    let mut f = vec![0x45, 0xc0];
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 255, 47, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let c = dmvpn_wire::checksum::checksum(&f);
    f[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x20, 0x01]);
    f.extend_from_slice(nhrp);
    f
}

#[test]
fn quoted_packets_of_indications_are_decoded() {
    let spoke = Node::new(
        Ipv4Addr::new(192, 168, 123, 2),
        Ipv4Addr::new(172, 16, 123, 2),
    );
    let hub = Node::new(
        Ipv4Addr::new(192, 168, 123, 1),
        Ipv4Addr::new(172, 16, 123, 1),
    );
    let request = Repr::registration_request(7, &spoke, &hub, 7200, 1400)
        .with_authentication(b"secret")
        .unwrap()
        .to_bytes()
        .unwrap();
    let error = Repr::error_indication(&request, ErrorCode::AUTHENTICATION_FAILURE, 64, &hub);
    // An ICMP echo 172.16.123.2 -> 172.16.123.3 (checksums correct).
    let mut data = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 172, 16, 123, 2, 172, 16, 123, 3,
    ];
    let c = dmvpn_wire::checksum::checksum(&data);
    data[10..12].copy_from_slice(&c.to_be_bytes());
    let mut icmp = vec![8, 0, 0, 0, 0, 1, 0, 1];
    let c = dmvpn_wire::checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    data.extend_from_slice(&icmp);
    let traffic = Repr::traffic_indication(&data, &hub)
        .unwrap()
        .with_authentication(b"secret")
        .unwrap();

    use pcap_file::DataLink;
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pcap");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("decode-nhrp-indications.pcap");
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(std::fs::File::create(&path).unwrap(), header).unwrap();
    for r in [&error, &traffic] {
        let f = gre_frame(
            [192, 168, 123, 1],
            [192, 168, 123, 2],
            &r.to_bytes().unwrap(),
        );
        w.write_packet(&PcapPacket::new(
            Default::default(),
            u32::try_from(f.len()).unwrap(),
            &f,
        ))
        .unwrap();
    }
    drop(w);

    let layers = nhrp_layers(&path);
    let e = &layers[0];
    assert_eq!(
        (
            e["packet_type"].as_u64(),
            e["error_code"].as_u64(),
            e["error_offset"].as_u64()
        ),
        (Some(7), Some(11), Some(64))
    );
    assert_eq!(e["request_id"], Value::Null);
    let quoted = &e["quoted"]["layer"];
    assert_eq!(quoted["packet_type"], 3);
    assert_eq!(quoted["request_id"], 7);
    assert_eq!(quoted["extensions"].as_array().unwrap().len(), 5);
    let t = &layers[1];
    assert_eq!(
        (t["packet_type"].as_u64(), t["traffic_code"].as_u64()),
        (Some(8), Some(0))
    );
    assert_eq!(t["dst_proto_addr"], "172.16.123.2");
    let inner = &t["quoted"]["layers"][0];
    assert_eq!(
        (
            inner["proto"].as_str(),
            inner["src"].as_str(),
            inner["dst"].as_str()
        ),
        (Some("ipv4"), Some("172.16.123.2"), Some("172.16.123.3"))
    );
}
