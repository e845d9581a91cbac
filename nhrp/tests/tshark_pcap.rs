//! Builds each of the eight packet types with every extension, for IPv4 and IPv6 overlay
//! addresses over IPv4 and IPv6 NBMA, writes them in IPv4/IPv6 + GRE to
//! `<CARGO_TARGET_TMPDIR>/pcap/nhrp-all-types.pcap` (LINKTYPE_RAW), and — where `tshark` is
//! installed — checks that Wireshark decodes every frame with no malformed packet, no expert
//! warning, a good NHRP checksum, and the field values we put there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use dmvpn_nhrp::wire::{
    Address, Authentication, Cie, CieCode, ErrorCode, Extension, ExtensionBody, ExtensionType,
    Message, Node, Repr, VendorPrivate,
};
use dmvpn_wire::checksum::checksum as internet_checksum;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

const PASSWORD: &[u8] = b"DMVPN";

fn overlay(v6: bool, host: u8) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0xfd00,
            0x16,
            0x123,
            0,
            0,
            0,
            0,
            u16::from(host),
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(172, 16, 123, host))
    }
}

fn underlay(v6: bool, host: u8) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x123,
            0,
            0,
            0,
            0,
            u16::from(host),
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(192, 168, 123, host))
    }
}

fn node(ov6: bool, nb6: bool, host: u8) -> Node {
    Node::new(underlay(nb6, host), overlay(ov6, host))
}

fn cie_for(n: &Node, holding_time: u16) -> Cie {
    Cie {
        code: CieCode::SUCCESS,
        prefix_len: dmvpn_nhrp::wire::host_prefix_len(&n.proto_addr),
        mtu: 1400,
        holding_time,
        client_nbma_addr: n.nbma_addr.clone(),
        client_proto_addr: n.proto_addr.clone(),
        preference: 0,
        ..Cie::default()
    }
}

/// Fills every extension of a packet: records with a CIE each, NAT address, a vendor-private
/// and an unknown (not compulsory) extension, and the authentication extension.
fn with_every_extension(r: Repr, hub: &Node, spoke: &Node) -> Repr {
    let mut r = r;
    r.extensions.clear();
    let r = r
        .with_extension(Extension::new(ExtensionBody::ResponderAddress(vec![
            cie_for(hub, 7200),
        ])))
        .with_extension(Extension::new(ExtensionBody::ForwardTransitNhs(vec![
            cie_for(hub, 7200),
        ])))
        .with_extension(Extension::new(ExtensionBody::ReverseTransitNhs(vec![
            cie_for(hub, 7200),
        ])))
        .with_extension(Extension::new(ExtensionBody::NatAddress(vec![cie_for(
            spoke, 0,
        )])))
        .with_extension(Extension::new(ExtensionBody::VendorPrivate(
            VendorPrivate {
                vendor_id: [0x00, 0x00, 0x0c],
                data: b"dmvpn-rs".to_vec(),
            },
        )))
        .with_extension(Extension::new(ExtensionBody::Unknown {
            ext_type: ExtensionType(0x1001),
            data: vec![1, 2, 3, 4],
        }));
    if matches!(r.src_proto_addr, Address::Ipv6(_)) {
        // Wireshark reads the RFC 2332 §5.3.4 layout (with the source address) and calls
        // Cisco's shorter form malformed when the overlay is IPv6: use the RFC layout there.
        let auth = Authentication::rfc2332(1, &r.src_proto_addr, PASSWORD);
        r.with_authentication_extension(auth)
    } else {
        r.with_authentication(PASSWORD).unwrap()
    }
}

/// An ICMP / ICMPv6 echo request from `src` to `dst` with correct checksums.
fn data_packet(src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let payload = b"ping";
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
            icmp.extend_from_slice(payload);
            let c = internet_checksum(&icmp);
            icmp[2..4].copy_from_slice(&c.to_be_bytes());
            let mut p = ipv4_header(s, d, 1, icmp.len());
            p.extend_from_slice(&icmp);
            p
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut icmp = vec![128, 0, 0, 0, 0x12, 0x34, 0, 1];
            icmp.extend_from_slice(payload);
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&u32::try_from(icmp.len()).unwrap().to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 58]);
            pseudo.extend_from_slice(&icmp);
            let c = internet_checksum(&pseudo);
            icmp[2..4].copy_from_slice(&c.to_be_bytes());
            let mut p = ipv6_header(s, d, 58, icmp.len());
            p.extend_from_slice(&icmp);
            p
        }
        _ => unreachable!(),
    }
}

fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload_len: usize) -> Vec<u8> {
    let total = u16::try_from(20 + payload_len).unwrap();
    let mut h = vec![0x45, 0xc0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0, 255, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = internet_checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

fn ipv6_header(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload_len: usize) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&u16::try_from(payload_len).unwrap().to_be_bytes());
    h.extend_from_slice(&[next, 255]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h
}

/// NHRP in GRE (protocol 0x2001) in IPv4 or IPv6, from `src` to `dst`.
fn frame(src: IpAddr, dst: IpAddr, nhrp: &[u8]) -> Vec<u8> {
    let mut gre = vec![0, 0, 0x20, 0x01];
    gre.extend_from_slice(nhrp);
    let mut f = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4_header(s, d, 47, gre.len()),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6_header(s, d, 47, gre.len()),
        _ => unreachable!(),
    };
    f.extend_from_slice(&gre);
    f
}

/// The packets of one overlay/underlay combination, with their NBMA source and destination.
fn packets(ov6: bool, nb6: bool) -> Vec<(IpAddr, IpAddr, Repr)> {
    let spoke = node(ov6, nb6, 2);
    let hub = node(ov6, nb6, 1);
    let other = node(ov6, nb6, 3);
    let (s, h) = (underlay(nb6, 2), underlay(nb6, 1));

    let reg_req = Repr::registration_request(0x0101, &spoke, &hub, 7200, 1400);
    let reg_rep = reg_req.reply(&hub, reg_req.cies().to_vec()).unwrap();
    let res_req = Repr::resolution_request(0x0202, &spoke, other.proto_addr.clone(), 7200, 1400);
    let res_rep = res_req.reply(&other, vec![cie_for(&other, 7200)]).unwrap();
    let purge_req = Repr::purge_request(
        0x0303,
        &hub,
        spoke.proto_addr.clone(),
        vec![cie_for(&other, 0)],
        false,
    );
    let purge_rep = purge_req.reply(&spoke, purge_req.cies().to_vec()).unwrap();

    let reg_req = with_every_extension(reg_req, &hub, &spoke);
    let offending = reg_req.to_bytes().unwrap();
    // RFC 2332 §5.2.7: an Error Indication carries no extensions (Wireshark flags them).
    let error = Repr::error_indication(&offending, ErrorCode::AUTHENTICATION_FAILURE, 52, &hub);
    let data = data_packet(overlay(ov6, 2), overlay(ov6, 3));
    let traffic =
        with_every_extension(Repr::traffic_indication(&data, &hub).unwrap(), &hub, &spoke);

    vec![
        (s, h, res_req.clone()),
        (s, h, with_every_extension(res_rep, &hub, &other)),
        (s, h, reg_req),
        (h, s, with_every_extension(reg_rep, &hub, &spoke)),
        (h, s, with_every_extension(purge_req, &hub, &spoke)),
        (s, h, with_every_extension(purge_rep, &hub, &spoke)),
        (h, s, error),
        (h, s, traffic),
    ]
    .into_iter()
    .map(|(a, b, r)| {
        let r = if matches!(r.message, Message::ResolutionRequest(_)) {
            with_every_extension(r, &hub, &spoke)
        } else {
            r
        };
        (a, b, r)
    })
    .collect()
}

fn all_packets() -> Vec<(IpAddr, IpAddr, Repr)> {
    let mut all = Vec::new();
    for ov6 in [false, true] {
        for nb6 in [false, true] {
            all.extend(packets(ov6, nb6));
        }
    }
    all
}

fn write_pcap() -> (PathBuf, Vec<Repr>) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pcap");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nhrp-all-types.pcap");
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(File::create(&path).unwrap(), header).unwrap();
    let mut reprs = Vec::new();
    for (i, (src, dst, repr)) in all_packets().into_iter().enumerate() {
        let nhrp = repr.to_bytes().unwrap();
        assert_eq!(Repr::parse_bytes(&nhrp).unwrap(), repr);
        let f = frame(src, dst, &nhrp);
        let ts = Duration::from_millis(1_700_000_000_000 + u64::try_from(i).unwrap());
        w.write_packet(&PcapPacket::new(ts, u32::try_from(f.len()).unwrap(), &f))
            .unwrap();
        reprs.push(repr);
    }
    (path, reprs)
}

fn tshark(args: &[&str]) -> Option<String> {
    let out = Command::new("tshark").args(args).output().ok()?;
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn every_type_every_extension_every_family_decodes_cleanly_in_wireshark() {
    let (path, reprs) = write_pcap();
    assert_eq!(reprs.len(), 32);
    // Every packet type, both overlay and both underlay families are there.
    for t in 1..=8u8 {
        assert_eq!(reprs.iter().filter(|r| r.packet_type().0 == t).count(), 4);
    }
    let every_ext = [3u16, 4, 5, 7, 8, 9, 0x1001];
    for r in reprs.iter().filter(|r| r.packet_type().0 != 7) {
        let mut types: Vec<u16> = r.extensions.iter().map(|e| e.ext_type().0).collect();
        types.sort_unstable();
        assert_eq!(types, every_ext, "{:?}", r.packet_type());
    }

    let p = path.to_str().unwrap();
    let Some(bad) = tshark(&[
        "-r",
        p,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= warning",
    ]) else {
        eprintln!("tshark not installed: wrote {p}, CI checks it");
        return;
    };
    assert_eq!(bad.trim(), "", "tshark flags frames in {p}");
    let fields = tshark(&[
        "-r",
        p,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "nhrp.hdr.chksum.status",
        "-e",
        "nhrp.hdr.op.type",
        "-e",
        "nhrp.reqid",
        "-e",
        "nhrp.src.nbma.addr",
        "-e",
        "nhrp.src.nbma.addr_bytes",
        "-e",
        "nhrp.ext.type",
    ])
    .unwrap();
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(lines.len(), reprs.len());
    for (line, repr) in lines.iter().zip(&reprs) {
        let cols: Vec<&str> = line.split('|').collect();
        // The Error Indication's quoted packet is decoded (and checksummed) as well.
        assert!(
            cols[0].split(',').all(|s| s == "1"),
            "checksum status {line}"
        );
        assert_eq!(
            cols[1].split(',').next().unwrap(),
            repr.packet_type().0.to_string(),
            "{line}"
        );
        if let Some(id) = repr.request_id() {
            assert_eq!(
                u32::from_str_radix(cols[2].trim_start_matches("0x"), 16).unwrap(),
                id,
                "{line}"
            );
        }
        // Wireshark 4.0 shows IPv4 NBMA addresses as addresses, IPv6 ones as bytes.
        match &repr.src_nbma_addr.addr {
            Address::Ipv4(a) => {
                assert_eq!(cols[3].split(',').next(), Some(&*a.to_string()), "{line}")
            }
            Address::Ipv6(a) => {
                let hex: String = a.octets().iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(
                    cols[4].split(',').next().map(|s| s.replace(':', "")),
                    Some(hex),
                    "{line}"
                );
            }
            other => panic!("{other:?}"),
        }
        if repr.packet_type().0 != 7 {
            let seen: Vec<u16> = cols[5]
                .split(',')
                .map(|t| u16::from_str_radix(t.trim_start_matches("0x"), 16).unwrap())
                .collect();
            let mut want: Vec<u16> = repr.extensions.iter().map(|e| e.ext_type().0).collect();
            want.push(0);
            assert_eq!(seen, want, "{line}");
        }
    }
}
