//! The `dmvpn-decode` engine: reads pcap and pcapng files and decodes every frame into JSON
//! layers, using the project's own parsers.
//!
//! Each protocol module (`ip`, `gre`, …) parses its header with the protocol crate, pushes one
//! JSON layer onto the [`Frame`], optionally re-emits the header from its `Repr` and compares the
//! bytes (`--check-roundtrip`), and hands its payload to the next dispatcher. Errors in protocols
//! we implement are recorded on the frame; frames or payloads we do not understand are simply
//! left undecoded.

use std::fmt::Display;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use serde_json::{Map, Value, json};

mod esp;
mod gre;
mod ikev1;
mod ikev2;
mod ip;
mod link;
mod nhrp;
mod udp;

/// One decoded frame: its layers (outermost first) and any errors.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// 1-based frame number in the file.
    pub number: usize,
    /// One JSON object per protocol layer, each with a `proto` key.
    pub layers: Vec<Value>,
    /// Parse errors in protocols we implement, and re-emission mismatches.
    pub errors: Vec<String>,
    check_roundtrip: bool,
}

impl Frame {
    /// An empty frame.
    pub fn new(number: usize, check_roundtrip: bool) -> Frame {
        Frame {
            number,
            check_roundtrip,
            ..Frame::default()
        }
    }

    /// Adds a layer; `fields` must be a JSON object, to which `"proto": proto` is prepended.
    pub(crate) fn push(&mut self, proto: &str, fields: Value) {
        let mut layer = Map::new();
        layer.insert("proto".into(), Value::from(proto));
        if let Value::Object(m) = fields {
            layer.extend(m);
        }
        self.layers.push(Value::Object(layer));
    }

    /// Records a parse error (or other failure) in `proto`.
    pub(crate) fn error(&mut self, proto: &str, err: impl Display) {
        self.errors.push(format!("{proto}: {err}"));
    }

    /// Whether re-emission checks are on.
    pub(crate) fn check_roundtrip(&self) -> bool {
        self.check_roundtrip
    }

    /// When checks are on, compares re-emitted bytes with the original and records a mismatch.
    pub(crate) fn compare(&mut self, proto: &str, original: &[u8], reemitted: &[u8]) {
        if self.check_roundtrip && original != reemitted {
            let at = original.iter().zip(reemitted).position(|(a, b)| a != b);
            self.errors.push(format!(
                "{proto}: re-emitted bytes differ (original {} bytes, re-emitted {} bytes, first difference at {})",
                original.len(),
                reemitted.len(),
                at.map_or_else(|| "the end".to_string(), |i| format!("offset {i}"))
            ));
        }
    }

    /// The frame as one JSON object: `{"frame": N, "layers": [...]}` plus `"errors"` if any.
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "frame": self.number, "layers": self.layers });
        if !self.errors.is_empty()
            && let Value::Object(m) = &mut v
        {
            m.insert("errors".into(), json!(self.errors));
        }
        v
    }

    /// The first layer with this `proto`, if any.
    pub fn layer(&self, proto: &str) -> Option<&Value> {
        self.layers
            .iter()
            .find(|l| l.get("proto").and_then(Value::as_str) == Some(proto))
    }

    /// All layers with this `proto`.
    pub fn layers_of<'a>(&'a self, proto: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.layers
            .iter()
            .filter(move |l| l.get("proto").and_then(Value::as_str) == Some(proto))
    }
}

/// Decodes one frame of a capture with the given link type.
pub fn decode_frame(
    number: usize,
    datalink: DataLink,
    data: &[u8],
    check_roundtrip: bool,
) -> Frame {
    let mut frame = Frame::new(number, check_roundtrip);
    link::decode(&mut frame, datalink, data);
    frame
}

/// Errors reading a capture file (as opposed to errors in the packets inside it).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not a pcap/pcapng file, or is corrupt.
    #[error("capture format: {0}")]
    Format(#[from] pcap_file::PcapError),
    /// The file's magic number is neither pcap nor pcapng.
    #[error("not a pcap or pcapng file (magic {0:02x?})")]
    Magic([u8; 4]),
}

/// Decodes every frame of a pcap or pcapng file (told apart by their magic numbers).
pub fn decode_file(path: &Path, check_roundtrip: bool) -> Result<Vec<Frame>, FileError> {
    let mut file = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)?;
    let file = BufReader::new(File::open(path)?);
    let mut frames = Vec::new();
    match magic {
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            let mut reader = PcapNgReader::new(file)?;
            // Link types of the current section's interfaces, by interface id.
            let mut links: Vec<DataLink> = Vec::new();
            while let Some(block) = reader.next_block() {
                let (link, data) = match block? {
                    Block::SectionHeader(_) => {
                        links.clear();
                        continue;
                    }
                    Block::InterfaceDescription(i) => {
                        links.push(i.linktype);
                        continue;
                    }
                    Block::EnhancedPacket(p) => {
                        let id = usize::try_from(p.interface_id).unwrap_or(usize::MAX);
                        (links.get(id).copied(), p.data)
                    }
                    Block::SimplePacket(p) => (links.first().copied(), p.data),
                    _ => continue,
                };
                // A packet naming no known interface cannot be decoded; keep its frame number.
                let number = frames.len() + 1;
                frames.push(match link {
                    Some(link) => decode_frame(number, link, &data, check_roundtrip),
                    None => Frame::new(number, check_roundtrip),
                });
            }
        }
        [0xa1, 0xb2, 0xc3, 0xd4]
        | [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d]
        | [0x4d, 0x3c, 0xb2, 0xa1] => {
            let mut reader = PcapReader::new(file)?;
            let link = reader.header().datalink;
            while let Some(packet) = reader.next_packet() {
                let packet = packet?;
                frames.push(decode_frame(
                    frames.len() + 1,
                    link,
                    &packet.data,
                    check_roundtrip,
                ));
            }
        }
        other => return Err(FileError::Magic(other)),
    }
    Ok(frames)
}

/// Dispatches an IP payload by protocol number.
fn dispatch_ip(frame: &mut Frame, protocol: u8, payload: &[u8]) {
    match protocol {
        47 => gre::decode(frame, payload),
        50 => esp::decode(frame, payload),
        17 => udp::decode(frame, payload),
        _ => {}
    }
}

/// Dispatches a GRE payload by protocol type.
fn dispatch_gre(frame: &mut Frame, protocol: u16, payload: &[u8]) {
    match protocol {
        0x0800 | 0x86dd => ip::decode(frame, payload),
        0x2001 => nhrp::decode(frame, payload),
        _ => {}
    }
}

/// Dispatches a UDP payload by port.
fn dispatch_udp(frame: &mut Frame, src_port: u16, dst_port: u16, payload: &[u8]) {
    if src_port == esp::NAT_T_PORT || dst_port == esp::NAT_T_PORT {
        esp::decode_udp_encap(frame, payload);
        // IKE behind the non-ESP marker (RFC 3948 §2.2).
        if let Some(ike) = payload.strip_prefix(&[0u8; 4][..]) {
            dispatch_ike(frame, ike);
        }
    } else if src_port == 500 || dst_port == 500 {
        dispatch_ike(frame, payload);
    }
}

/// Dispatches an IKE message by its major version (the high nibble of byte 17): 1 is ISAKMP /
/// IKEv1, anything else goes to IKEv2 (which reports a version it does not speak).
fn dispatch_ike(frame: &mut Frame, message: &[u8]) {
    match message.get(17).map(|v| v >> 4) {
        Some(1) => ikev1::decode(frame, message),
        _ => ikev2::decode(frame, message),
    }
}

/// The big-endian 16-bit field at `at`, if the bytes are there.
pub(crate) fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        data.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

/// Hex text of a byte string (for layers that show raw fields, e.g. SPIs and opaque data).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
