//! Vendor ID payloads (RFC 2408 §3.16) this crate can name.
//!
//! A Vendor ID is opaque bytes ([`Payload::VendorId`](super::Payload::VendorId)); in IKEv1
//! several announce protocol extensions — NAT-T (RFC 3947 and its drafts), DPD (RFC 3706),
//! XAUTH, Cisco Unity, IKE fragmentation — so a peer's support is read from them. Most are the
//! MD5 hash of a text (given with each entry below); some carry version or capability bytes
//! after a fixed prefix, and are recognised by that prefix.
//!
//! Cisco IOS also sends, in Main Mode messages 3 and 4 and in Aggressive Mode, a 16-byte
//! vendor ID that is not the hash of any published text (its first four bytes stay the same
//! per device, the rest changes per session). It is left unrecognised, as Wireshark does.

use super::NatTNumbering;

/// A vendor ID this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum KnownVendorId {
    /// NAT-T, RFC 3947: MD5("RFC 3947").
    NatTRfc3947,
    /// NAT-T draft draft-ietf-ipsec-nat-t-ike-NN (0 to 8): MD5 of the draft's name.
    NatTDraft(u8),
    /// NAT-T draft 02 as hashed with a trailing newline, MD5("draft-ietf-ipsec-nat-t-ike-02\n"),
    /// which Cisco IOS sends alongside the others.
    NatTDraft02Newline,
    /// The unnumbered draft name, MD5("draft-ietf-ipsec-nat-t-ike").
    NatTDraftUnnumbered,
    /// Dead Peer Detection (RFC 3706 §4): 14 fixed bytes, then the major and minor version
    /// (1.0).
    Dpd,
    /// XAUTH: the first 8 bytes of MD5("draft-ietf-ipsra-isakmp-xauth-06.txt").
    Xauth,
    /// Cisco Unity: the first 14 bytes of MD5("CISCO-UNITY"), then the major and minor
    /// version (1.0).
    CiscoUnity,
    /// IKE fragmentation (Cisco's proprietary IKEv1 fragmentation, also spoken by Windows,
    /// racoon and strongSwan): MD5("FRAGMENTATION"), optionally followed by four capability
    /// bytes (0x80000000: fragmentation of phase 1 messages; Cisco sends 0xc0000000).
    Fragmentation,
    /// Microsoft Windows: MD5("MS NT5 ISAKMPOAKLEY"), then a 4-byte version.
    MsNt5IsakmpOakley,
    /// strongSwan: MD5("strongSwan").
    StrongSwan,
    /// KAME / racoon (ipsec-tools): MD5("KAME/racoon").
    KameRacoon,
}

/// How an entry matches.
struct Entry {
    id: KnownVendorId,
    /// The fixed leading bytes.
    prefix: &'static [u8],
    /// The lengths allowed after the prefix (version or capability bytes).
    suffixes: &'static [usize],
}

const fn exact(id: KnownVendorId, prefix: &'static [u8]) -> Entry {
    Entry {
        id,
        prefix,
        suffixes: &[0],
    }
}

const TABLE: &[Entry] = &[
    exact(
        KnownVendorId::NatTRfc3947,
        &[
            0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95,
            0x45, 0x2f,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(0),
        &[
            0x44, 0x85, 0x15, 0x2d, 0x18, 0xb6, 0xbb, 0xcd, 0x0b, 0xe8, 0xa8, 0x46, 0x95, 0x79,
            0xdd, 0xcc,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(1),
        &[
            0x16, 0xf6, 0xca, 0x16, 0xe4, 0xa4, 0x06, 0x6d, 0x83, 0x82, 0x1a, 0x0f, 0x0a, 0xea,
            0xa8, 0x62,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(2),
        &[
            0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8, 0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6,
            0xa4, 0x48,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft02Newline,
        &[
            0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42,
            0x7b, 0x1f,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(3),
        &[
            0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f, 0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52,
            0x9d, 0x56,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(4),
        &[
            0x99, 0x09, 0xb6, 0x4e, 0xed, 0x93, 0x7c, 0x65, 0x73, 0xde, 0x52, 0xac, 0xe9, 0x52,
            0xfa, 0x6b,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(5),
        &[
            0x80, 0xd0, 0xbb, 0x3d, 0xef, 0x54, 0x56, 0x5e, 0xe8, 0x46, 0x45, 0xd4, 0xc8, 0x5c,
            0xe3, 0xee,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(6),
        &[
            0x4d, 0x1e, 0x0e, 0x13, 0x6d, 0xea, 0xfa, 0x34, 0xc4, 0xf3, 0xea, 0x9f, 0x02, 0xec,
            0x72, 0x85,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(7),
        &[
            0x43, 0x9b, 0x59, 0xf8, 0xba, 0x67, 0x6c, 0x4c, 0x77, 0x37, 0xae, 0x22, 0xea, 0xb8,
            0xf5, 0x82,
        ],
    ),
    exact(
        KnownVendorId::NatTDraft(8),
        &[
            0x8f, 0x8d, 0x83, 0x82, 0x6d, 0x24, 0x6b, 0x6f, 0xc7, 0xa8, 0xa6, 0xa4, 0x28, 0xc1,
            0x1d, 0xe8,
        ],
    ),
    exact(
        KnownVendorId::NatTDraftUnnumbered,
        &[
            0x4d, 0xf3, 0x79, 0x28, 0xe9, 0xfc, 0x4f, 0xd1, 0xb3, 0x26, 0x21, 0x70, 0xd5, 0x15,
            0xc6, 0x62,
        ],
    ),
    Entry {
        id: KnownVendorId::Dpd,
        prefix: &DPD_PREFIX,
        suffixes: &[2],
    },
    exact(KnownVendorId::Xauth, &XAUTH),
    Entry {
        id: KnownVendorId::CiscoUnity,
        prefix: &UNITY_PREFIX,
        suffixes: &[2],
    },
    Entry {
        id: KnownVendorId::Fragmentation,
        prefix: &[
            0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6,
            0xc2, 0xd3,
        ],
        suffixes: &[0, 4],
    },
    Entry {
        id: KnownVendorId::MsNt5IsakmpOakley,
        prefix: &[
            0x1e, 0x2b, 0x51, 0x69, 0x05, 0x99, 0x1c, 0x7d, 0x7c, 0x96, 0xfc, 0xbf, 0xb5, 0x87,
            0xe4, 0x61,
        ],
        suffixes: &[4],
    },
    exact(
        KnownVendorId::StrongSwan,
        &[
            0x88, 0x2f, 0xe5, 0x6d, 0x6f, 0xd2, 0x0d, 0xbc, 0x22, 0x51, 0x61, 0x3b, 0x2e, 0xbe,
            0x5b, 0xeb,
        ],
    ),
    exact(
        KnownVendorId::KameRacoon,
        &[
            0x70, 0x03, 0xcb, 0xc1, 0x09, 0x7d, 0xbe, 0x9c, 0x26, 0x00, 0xba, 0x69, 0x83, 0xbc,
            0x8b, 0x35,
        ],
    ),
];

/// RFC 3706 §4's vendor ID without its version bytes.
const DPD_PREFIX: [u8; 14] = [
    0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57,
];

/// MD5("CISCO-UNITY") truncated to 14 bytes.
const UNITY_PREFIX: [u8; 14] = [
    0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc,
];

/// MD5("draft-ietf-ipsra-isakmp-xauth-06.txt") truncated to 8 bytes.
const XAUTH: [u8; 8] = [0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12];

/// A recognised vendor ID and the bytes after its fixed prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VendorIdMatch<'a> {
    /// Which vendor ID.
    pub id: KnownVendorId,
    /// The version or capability bytes after the prefix (empty for exact matches).
    pub suffix: &'a [u8],
}

impl VendorIdMatch<'_> {
    /// The major and minor version of a DPD or Cisco Unity vendor ID.
    pub fn version(&self) -> Option<(u8, u8)> {
        match (self.id, self.suffix) {
            (KnownVendorId::Dpd | KnownVendorId::CiscoUnity, &[major, minor]) => {
                Some((major, minor))
            }
            _ => None,
        }
    }

    /// The capability bits of a FRAGMENTATION vendor ID (`Some(0)` when it has none, as
    /// Windows sends it).
    pub fn fragmentation_capabilities(&self) -> Option<u32> {
        match (self.id, self.suffix) {
            (KnownVendorId::Fragmentation, &[]) => Some(0),
            (KnownVendorId::Fragmentation, &[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
            _ => None,
        }
    }
}

/// Names a vendor ID: by exact match, or by its prefix where it carries version or
/// capability bytes. `None` for an unknown one.
///
/// ```
/// use dmvpn_ikev1::wire::{KnownVendorId, recognise_vendor_id};
///
/// let dpd = KnownVendorId::Dpd.to_bytes();
/// let m = recognise_vendor_id(&dpd).unwrap();
/// assert_eq!((m.id, m.version()), (KnownVendorId::Dpd, Some((1, 0))));
/// assert_eq!(recognise_vendor_id(&dpd[..15]), None);
/// ```
pub fn recognise_vendor_id(vid: &[u8]) -> Option<VendorIdMatch<'_>> {
    TABLE.iter().find_map(|e| {
        let suffix = vid.strip_prefix(e.prefix)?;
        e.suffixes
            .contains(&suffix.len())
            .then_some(VendorIdMatch { id: e.id, suffix })
    })
}

impl KnownVendorId {
    /// The bytes to send: the exact ID, or the prefix with version 1.0 (DPD, Cisco Unity),
    /// capabilities 0x80000000 (FRAGMENTATION: phase 1 fragmentation) or version 0
    /// (MS NT5 ISAKMPOAKLEY). Every `to_bytes` is recognised as its own ID.
    pub fn to_bytes(self) -> Vec<u8> {
        let Some(e) = TABLE.iter().find(|e| e.id == self) else {
            return Vec::new();
        };
        let mut v = e.prefix.to_vec();
        match self {
            KnownVendorId::Dpd | KnownVendorId::CiscoUnity => v.extend_from_slice(&[1, 0]),
            KnownVendorId::Fragmentation => v.extend_from_slice(&0x8000_0000u32.to_be_bytes()),
            KnownVendorId::MsNt5IsakmpOakley => v.extend_from_slice(&[0; 4]),
            _ => {}
        }
        v
    }

    /// The NAT-D / NAT-OA numbering a peer uses after this NAT-T vendor ID was negotiated:
    /// RFC 3947's for RFC 3947; 130/131 for drafts 02 and 03; 15/16 for drafts 04–08 (seen
    /// from Cisco IOS after negotiating draft 07; no capture here shows 04–06 or 08). `None`
    /// for the other IDs and for drafts 00/01, which predate NAT-D.
    pub fn nat_t_numbering(self) -> Option<NatTNumbering> {
        match self {
            KnownVendorId::NatTRfc3947 => Some(NatTNumbering::Rfc3947),
            KnownVendorId::NatTDraft(2 | 3) | KnownVendorId::NatTDraft02Newline => {
                Some(NatTNumbering::Draft)
            }
            KnownVendorId::NatTDraft(4..=8) => Some(NatTNumbering::Legacy),
            _ => None,
        }
    }

    /// Whether this is a NAT-T vendor ID (the RFC or a draft).
    pub const fn is_nat_t(self) -> bool {
        matches!(
            self,
            KnownVendorId::NatTRfc3947
                | KnownVendorId::NatTDraft(_)
                | KnownVendorId::NatTDraft02Newline
                | KnownVendorId::NatTDraftUnnumbered
        )
    }

    /// Every ID of the table.
    pub fn all() -> impl Iterator<Item = KnownVendorId> {
        TABLE.iter().map(|e| e.id)
    }
}

impl core::fmt::Display for KnownVendorId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KnownVendorId::NatTRfc3947 => f.write_str("RFC 3947 NAT-T"),
            KnownVendorId::NatTDraft(n) => write!(f, "draft-ietf-ipsec-nat-t-ike-{n:02}"),
            KnownVendorId::NatTDraft02Newline => f.write_str("draft-ietf-ipsec-nat-t-ike-02\\n"),
            KnownVendorId::NatTDraftUnnumbered => f.write_str("draft-ietf-ipsec-nat-t-ike"),
            KnownVendorId::Dpd => f.write_str("RFC 3706 DPD"),
            KnownVendorId::Xauth => f.write_str("XAUTH"),
            KnownVendorId::CiscoUnity => f.write_str("CISCO-UNITY"),
            KnownVendorId::Fragmentation => f.write_str("FRAGMENTATION"),
            KnownVendorId::MsNt5IsakmpOakley => f.write_str("MS NT5 ISAKMPOAKLEY"),
            KnownVendorId::StrongSwan => f.write_str("strongSwan"),
            KnownVendorId::KameRacoon => f.write_str("KAME/racoon"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex16(s: [u8; 32]) -> Vec<u8> {
        (0..16)
            .map(|i| {
                u8::from_str_radix(core::str::from_utf8(&s[2 * i..2 * i + 2]).unwrap(), 16).unwrap()
            })
            .collect()
    }

    #[test]
    fn every_id_recognises_its_own_bytes_and_nothing_else() {
        for id in KnownVendorId::all() {
            let b = id.to_bytes();
            assert_eq!(recognise_vendor_id(&b).map(|m| m.id), Some(id), "{id}");
            let mut longer = b.clone();
            longer.push(0);
            assert_eq!(recognise_vendor_id(&longer), None, "{id} + 1 byte");
        }
        assert_eq!(recognise_vendor_id(&[]), None);
        // Each entry is distinct: no prefix of one table entry shadows another's bytes.
        let ids: Vec<_> = KnownVendorId::all().collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
    }

    #[test]
    fn versions_and_capabilities() {
        let unity = recognise_vendor_id(&[
            0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc,
            0x01, 0x00,
        ])
        .unwrap();
        assert_eq!(unity.id, KnownVendorId::CiscoUnity);
        assert_eq!(unity.version(), Some((1, 0)));
        let mut frag = hex16(*b"4048b7d56ebce88525e7de7f00d6c2d3");
        assert_eq!(
            recognise_vendor_id(&frag)
                .unwrap()
                .fragmentation_capabilities(),
            Some(0)
        );
        frag.extend_from_slice(&[0xc0, 0, 0, 0]);
        let m = recognise_vendor_id(&frag).unwrap();
        assert_eq!(m.fragmentation_capabilities(), Some(0xc000_0000));
        assert_eq!(m.version(), None);
        assert_eq!(
            KnownVendorId::NatTDraft(7).nat_t_numbering(),
            Some(NatTNumbering::Legacy)
        );
        assert_eq!(KnownVendorId::Xauth.nat_t_numbering(), None);
        assert_eq!(
            KnownVendorId::NatTDraft(7).to_string(),
            "draft-ietf-ipsec-nat-t-ike-07"
        );
    }
}
