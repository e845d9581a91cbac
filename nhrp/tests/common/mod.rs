//! Helpers shared by the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod fixtures;
pub mod role;

use std::fs::File;
use std::path::PathBuf;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

/// `testdata/captures/` of the repository.
pub fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures")
}

/// The frames of a pcap or pcapng file (link layer Ethernet), as byte vectors.
pub fn read_frames(name: &str) -> Vec<Vec<u8>> {
    let path = captures_dir().join(name);
    let mut magic = [0u8; 4];
    {
        use std::io::Read;
        File::open(&path).unwrap().read_exact(&mut magic).unwrap();
    }
    let mut frames = Vec::new();
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut r = PcapNgReader::new(File::open(&path).unwrap()).unwrap();
        while let Some(block) = r.next_block() {
            match block.unwrap() {
                Block::EnhancedPacket(p) => frames.push(p.data.to_vec()),
                Block::SimplePacket(p) => frames.push(p.data.to_vec()),
                _ => {}
            }
        }
    } else {
        let mut r = PcapReader::new(File::open(&path).unwrap()).unwrap();
        while let Some(p) = r.next_packet() {
            frames.push(p.unwrap().data.to_vec());
        }
    }
    frames
}

/// The NHRP packet inside an Ethernet / IPv4 / GRE (0x2001) frame, up to the IPv4 total length.
pub fn nhrp_in_frame(frame: &[u8]) -> Option<&[u8]> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    if *ip.get(9)? != 47 {
        return None;
    }
    let gre = ip.get(ihl..total)?;
    if gre.get(2..4)? != [0x20, 0x01] || gre.first()? & 0xf0 != 0 {
        return None;
    }
    gre.get(4..)
}
