//! The ESP frames of a real capture (Cisco routers, transport mode; `testdata/captures/`) parse, with the SPI and
//! sequence number Wireshark shows (`tshark -T fields -e esp.spi -e esp.sequence`).

use std::fs::File;

use dmvpn_esp::wire::{Packet, Repr};
use dmvpn_wire::{IpProtocol, ipv4};
use pcap_file::pcap::PcapReader;

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/captures/wireshark-capture-ipsec-esp-transport.pcap"
);

/// What tshark 4.0 prints for this file.
const TSHARK: [(u32, u32); 8] = [
    (0x36cb42df, 1),
    (0x2bb3a0dd, 1),
    (0x36cb42df, 2),
    (0x2bb3a0dd, 2),
    (0x36cb42df, 3),
    (0x2bb3a0dd, 3),
    (0x36cb42df, 4),
    (0x2bb3a0dd, 4),
];

#[test]
fn cisco_esp_transport_capture_parses_like_wireshark() {
    let mut reader = PcapReader::new(File::open(CAPTURE).expect(CAPTURE)).unwrap();
    let mut got = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.unwrap();
        let frame = &pkt.data[..];
        // Ethernet II, IPv4 (protocol 50).
        assert_eq!(&frame[12..14], &[0x08, 0x00]);
        let ip = ipv4::Packet::new_checked(&frame[14..]).unwrap();
        assert_eq!(ip.protocol(), IpProtocol::ESP);
        let esp_bytes = ip.payload();
        let p = Packet::new_checked(esp_bytes).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert!(p.payload().len() >= 16 + 12, "IV + ICV present");
        // Re-emitting the header reproduces the bytes.
        let mut hdr = [0u8; 8];
        r.emit(&mut Packet::new_unchecked(&mut hdr[..]));
        assert_eq!(&hdr, &esp_bytes[..8]);
        got.push((r.spi, r.sequence));
    }
    assert_eq!(got, TSHARK);
}
