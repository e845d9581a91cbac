//! Test helpers shared by the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use dmvpn_ikev1::wire::strip_non_esp_marker;

/// One ISAKMP message of a capture.
#[derive(Debug, Clone)]
pub struct IkeDatagram {
    /// Frame number (from 1, as Wireshark counts).
    pub frame: usize,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// The ISAKMP message (after the non-ESP marker on port 4500).
    pub message: Vec<u8>,
}

/// The ISAKMP messages of a classic pcap of Ethernet + IPv4 + UDP frames: UDP 500 payloads,
/// and UDP 4500 payloads that start with the non-ESP marker (ESP in UDP and NAT keepalives are
/// skipped, as are frames that are not IPv4 UDP).
pub fn ike_datagrams(pcap: &[u8]) -> Vec<IkeDatagram> {
    let mut reader = pcap_file::pcap::PcapReader::new(pcap).unwrap();
    let mut out = Vec::new();
    let mut frame = 0;
    while let Some(pkt) = reader.next_packet() {
        frame += 1;
        let data = pkt.unwrap().data;
        if data[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &data[14..];
        if ip[9] != 17 {
            continue;
        }
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let udp = &ip[ihl..total];
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        let payload = &udp[8..ulen];
        let message = match (sport, dport) {
            (500, _) | (_, 500) => payload,
            (4500, _) | (_, 4500) => match strip_non_esp_marker(payload) {
                Some(m) => m,
                None => continue,
            },
            _ => continue,
        };
        out.push(IkeDatagram {
            frame,
            sport,
            dport,
            message: message.to_vec(),
        });
    }
    out
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A random source that hands out fixed bytes in order (then zeros): private values from
/// test vectors.
#[derive(Debug)]
pub struct FixedRandom(std::sync::Mutex<std::collections::VecDeque<u8>>);

impl FixedRandom {
    pub fn new(chunks: &[&[u8]]) -> std::sync::Arc<Self> {
        std::sync::Arc::new(FixedRandom(std::sync::Mutex::new(
            chunks.iter().flat_map(|c| c.iter().copied()).collect(),
        )))
    }
}

impl dmvpn_esp::crypto::SecureRandom for FixedRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), dmvpn_esp::Error> {
        let mut q = self.0.lock().unwrap();
        for b in dest {
            *b = q.pop_front().unwrap_or(0);
        }
        Ok(())
    }
}

/// The RustCrypto provider with a seeded random source.
pub fn seeded_provider(seed: u8) -> dmvpn_ikev1::IkeCryptoProvider {
    dmvpn_ikev1::IkeCryptoProvider::rustcrypto(std::sync::Arc::new(
        dmvpn_esp::crypto::ChaChaRandom::from_seed([seed; 32]),
    ))
}
