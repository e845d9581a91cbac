//! Link layers: Ethernet (with 802.1Q/802.1ad tags), Linux cooked (SLL, SLL2), raw IP and BSD
//! loopback. Not protocols we implement, so nothing here is an error: unknown frames just stop.

use pcap_file::DataLink;
use serde_json::json;

use super::{Frame, be16, ip};

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Decodes the link layer and hands IPv4/IPv6 to [`ip::decode`].
pub(crate) fn decode(frame: &mut Frame, datalink: DataLink, data: &[u8]) {
    let (ethertype, rest) = match datalink {
        DataLink::ETHERNET => {
            let (Some(dst), Some(src)) = (data.get(0..6), data.get(6..12)) else {
                return;
            };
            let mut at = 12;
            let mut vlans = Vec::new();
            let mut ethertype = be16(data, at);
            while let Some(0x8100 | 0x88a8) = ethertype {
                vlans.extend(be16(data, at + 2).map(|tci| tci & 0x0fff));
                at += 4;
                ethertype = be16(data, at);
            }
            let Some(ethertype) = ethertype else { return };
            frame.push(
                "eth",
                json!({ "dst": mac(dst), "src": mac(src), "ethertype": ethertype, "vlans": vlans }),
            );
            (Some(ethertype), data.get(at + 2..))
        }
        DataLink::LINUX_SLL => (be16(data, 14), data.get(16..)),
        DataLink::LINUX_SLL2 => (be16(data, 0), data.get(20..)),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => (None, Some(data)),
        DataLink::NULL | DataLink::LOOP => (None, data.get(4..)),
        _ => return,
    };
    let Some(rest) = rest else { return };
    match ethertype {
        Some(0x0800 | 0x86dd) | None => ip::decode(frame, rest),
        Some(_) => {}
    }
}
