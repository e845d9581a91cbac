//! Recording the simulated underlay to a pcap file (link type raw IP), so that Wireshark can
//! check what the machines put on the wire.

use std::path::Path;
use std::time::{Duration, Instant};

use dmvpn_wire::ip::{HeaderOptions, IpProtocol, Repr as IpRepr};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

use crate::Datagram;

/// Collects every datagram sent, as complete IPv4/IPv6 packets with valid header checksums,
/// timestamped on the virtual clock (relative to the recorder's start, from the Unix epoch).
#[derive(Debug, Clone)]
pub struct Recorder {
    start: Instant,
    frames: Vec<(Duration, Vec<u8>)>,
    ident: u16,
}

impl Recorder {
    /// A recorder whose time zero is `start` (usually the network's start).
    pub fn new(start: Instant) -> Recorder {
        Recorder {
            start,
            frames: Vec::new(),
            ident: 0,
        }
    }

    /// Records a datagram sent at `now`. A datagram too long for an IP packet, or with addresses
    /// of different families, is not recordable and is skipped.
    pub fn record(&mut self, now: Instant, d: &Datagram) {
        let opts = HeaderOptions::default();
        let Ok(ip) = IpRepr::new(
            d.src,
            d.dst,
            IpProtocol(d.protocol),
            d.payload.len(),
            &opts,
            self.ident,
        ) else {
            return;
        };
        self.ident = self.ident.wrapping_add(1);
        let mut frame = vec![0u8; ip.buffer_len()];
        if ip.emit(&mut frame).is_err() {
            return;
        }
        if let Some(dst) = frame.get_mut(ip.header_len()..) {
            dst.copy_from_slice(&d.payload);
        }
        self.frames
            .push((now.saturating_duration_since(self.start), frame));
    }

    /// The recorded IP packets with their times.
    pub fn frames(&self) -> &[(Duration, Vec<u8>)] {
        &self.frames
    }

    /// Writes the recording as a pcap file (LINKTYPE_RAW), creating parent directories.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(path)?;
        let header = PcapHeader {
            datalink: DataLink::RAW,
            ..PcapHeader::default()
        };
        let mut w = PcapWriter::with_header(file, header).map_err(std::io::Error::other)?;
        for (t, f) in &self.frames {
            let len = u32::try_from(f.len()).map_err(std::io::Error::other)?;
            w.write_packet(&PcapPacket::new(*t, len, f))
                .map_err(std::io::Error::other)?;
        }
        Ok(())
    }
}
