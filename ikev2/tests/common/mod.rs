//! Test helpers shared by the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use dmvpn_esp::crypto::SecureRandom;
use dmvpn_ikev2::crypto::IkeCryptoProvider;

/// A random source that hands out queued bytes (for known-answer tests), then zeros.
#[derive(Debug, Default)]
pub struct FixedRandom(Mutex<VecDeque<u8>>);

impl FixedRandom {
    pub fn new(chunks: &[&[u8]]) -> Arc<Self> {
        Arc::new(FixedRandom(Mutex::new(
            chunks.iter().flat_map(|c| c.iter().copied()).collect(),
        )))
    }
}

impl SecureRandom for FixedRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), dmvpn_esp::Error> {
        let mut q = self.0.lock().unwrap();
        for b in dest {
            *b = q.pop_front().unwrap_or(0);
        }
        Ok(())
    }
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn provider_with(random: Arc<dyn SecureRandom>) -> IkeCryptoProvider {
    IkeCryptoProvider::rustcrypto(random)
}

pub fn seeded_provider(seed: u8) -> IkeCryptoProvider {
    IkeCryptoProvider::rustcrypto(Arc::new(dmvpn_esp::crypto::ChaChaRandom::from_seed(
        [seed; 32],
    )))
}

/// The UDP payloads of a classic pcap file with Ethernet + IPv4 + UDP frames.
pub fn udp_payloads(pcap: &[u8]) -> Vec<(u16, u16, Vec<u8>)> {
    let mut reader = pcap_file::pcap::PcapReader::new(pcap).unwrap();
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let data = pkt.unwrap().data;
        assert_eq!(&data[12..14], &[0x08, 0x00], "IPv4 over Ethernet");
        let ip = &data[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        assert_eq!(ip[9], 17, "UDP");
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let udp = &ip[ihl..total];
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        out.push((sport, dport, udp[8..ulen].to_vec()));
    }
    out
}
