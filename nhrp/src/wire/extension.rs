//! Extensions (RFC 2332 §5.3) and the Cisco NAT Address extension.

use core::fmt;

use zeroize::Zeroize;

use super::address::Address;
use super::cie::{Cie, CieIter, check_len};
use super::codes::{AuthType, ExtensionType};
use crate::Error;
use dmvpn_wire::be;

/// The compulsory bit of an extension's type field.
pub const COMPULSORY: u16 = 0x8000;
/// The type bits of an extension's type field (the bit `0x4000` is unused, RFC 2332 §5.3).
pub const TYPE_MASK: u16 = 0x3fff;

/// An extension as it sits in the buffer: type, compulsory bit and value, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionRef<'a> {
    /// Whether the compulsory bit is set.
    pub compulsory: bool,
    /// The extension type.
    pub ext_type: ExtensionType,
    /// The value (the bytes after the 4-byte type/length header).
    pub data: &'a [u8],
    /// Offset of the extension header from the start of the NHRP packet.
    pub offset: usize,
}

impl<'a> ExtensionRef<'a> {
    /// Whether this crate knows the extension type (the End type included).
    pub fn is_known(&self) -> bool {
        self.ext_type.is_known()
    }

    /// The CIEs of a Responder Address, Forward/Reverse Transit NHS Record or Cisco NAT Address
    /// extension (for other types this iterates over whatever the value holds as CIEs).
    pub fn cies(&self) -> CieIter<'a> {
        CieIter::new(self.data, self.offset + 4)
    }
}

/// An iterator over the extensions of a packet, from `ar$extoff` to `ar$pktsz`.
///
/// It stops at the End extension (which it does not yield) or at the end of the packet, and
/// yields an error (then stops) if an extension overruns the packet, if the End extension has a
/// value, or if bytes follow the End extension.
#[derive(Debug, Clone)]
pub struct ExtensionIter<'a> {
    packet: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> ExtensionIter<'a> {
    /// Iterates over the extensions in `packet[start..]`; `packet` must end at `ar$pktsz`.
    /// With `start == 0` (no extensions) the iterator is empty.
    pub fn new(packet: &'a [u8], start: usize) -> Self {
        ExtensionIter {
            packet,
            pos: start,
            done: start == 0,
        }
    }

    fn fail(&mut self, e: Error) -> Option<Result<ExtensionRef<'a>, Error>> {
        self.done = true;
        Some(Err(e))
    }
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = Result<ExtensionRef<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let at = self.pos;
        let Some(rest) = self.packet.get(at..) else {
            self.done = true;
            return None;
        };
        if rest.is_empty() {
            // RFC 2332 wants an End extension; a chain that simply stops at ar$pktsz is accepted.
            self.done = true;
            return None;
        }
        let (Some(raw_type), Some(len)) = (be::read_u16(rest, 0), be::read_u16(rest, 2)) else {
            return self.fail(Error::ExtensionOverrun {
                at,
                needed: 4,
                available: rest.len(),
            });
        };
        let len = usize::from(len);
        let ext_type = ExtensionType(raw_type & TYPE_MASK);
        if ext_type == ExtensionType::END {
            if len != 0 {
                return self.fail(Error::InvalidExtension {
                    ext_type: 0,
                    at,
                    reason: "the End extension must have length 0",
                });
            }
            if rest.len() > 4 {
                return self.fail(Error::TrailingData {
                    at: at + 4,
                    len: rest.len() - 4,
                });
            }
            self.done = true;
            return None;
        }
        let Some(data) = rest.get(4..4 + len) else {
            return self.fail(Error::ExtensionOverrun {
                at,
                needed: 4 + len,
                available: rest.len(),
            });
        };
        self.pos = at + 4 + len;
        Some(Ok(ExtensionRef {
            compulsory: raw_type & COMPULSORY != 0,
            ext_type,
            data,
            offset: at,
        }))
    }
}

/// A secret byte string (an NHRP authentication password): zeroized on drop, never shown by
/// `Debug`, compared without early exit.
#[derive(Clone, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// The secret bytes. Keep the borrow short.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for Secret {
    fn from(b: &[u8]) -> Self {
        Secret(b.to_vec())
    }
}

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted, {} bytes>)", self.0.len())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        // Length is not secret (it is on the wire); the contents are compared in full.
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl Eq for Secret {}

/// The Authentication extension (RFC 2332 §5.3.4): 4 bytes, then data.
///
/// RFC 2332 lays the value out as Reserved (16 bits), SPI (16 bits), the sender's protocol
/// address, then the authentication data. Cisco's `ip nhrp authentication PASSWORD` sends the
/// 4 bytes as an authentication type of 1 (cleartext) and then only the password, 1 to 8 bytes,
/// unpadded (extension length 5 to 12): [`Authentication::cisco_cleartext`]. This type keeps the
/// first 4 bytes as [`Authentication::auth_type`] and everything after as secret data, so both
/// layouts round-trip; [`Authentication::rfc2332`] builds the RFC one.
///
/// Wireshark (preference `nhrp.auth_ext_has_addr`, on by default) reads the RFC layout: it shows
/// the first 4 password bytes of a Cisco IPv4-overlay extension as a "source address", and calls
/// a Cisco extension shorter than 4 + 16 bytes in an IPv6-overlay packet "Incomplete".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authentication {
    /// Authentication type.
    pub auth_type: AuthType,
    /// Authentication data: the password for [`AuthType::CLEARTEXT`].
    pub data: Secret,
}

impl Authentication {
    /// Cisco's cleartext form. Errors unless the password is 1 to 8 bytes.
    pub fn cisco_cleartext(password: &[u8]) -> Result<Self, Error> {
        if password.is_empty() || password.len() > 8 {
            return Err(Error::PasswordLength {
                len: password.len(),
            });
        }
        Ok(Authentication {
            auth_type: AuthType::CLEARTEXT,
            data: Secret::from(password),
        })
    }

    /// The RFC 2332 §5.3.4 layout: Reserved 0, `spi`, the sender's protocol address, `data`.
    pub fn rfc2332(spi: u16, src_proto_addr: &Address, data: &[u8]) -> Self {
        let mut bytes = vec![0u8; src_proto_addr.len()];
        src_proto_addr.write(&mut bytes);
        bytes.extend_from_slice(data);
        Authentication {
            auth_type: AuthType(u32::from(spi)),
            data: Secret::new(bytes),
        }
    }

    /// Whether this is a cleartext authentication carrying exactly `password`.
    pub fn verify_cleartext(&self, password: &[u8]) -> bool {
        self.auth_type == AuthType::CLEARTEXT && self.data == Secret::from(password)
    }
}

/// The Vendor-Private extension (RFC 2332 §5.3.5): a 3-byte IEEE vendor ID (OUI), then data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VendorPrivate {
    /// IEEE 802 vendor ID (OUI).
    pub vendor_id: [u8; 3],
    /// Vendor data.
    pub data: Vec<u8>,
}

/// What an extension carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionBody {
    /// Responder Address (3): the CIE of the responding node (empty in requests).
    ResponderAddress(Vec<Cie>),
    /// Forward Transit NHS Record (4): one CIE per NHS the request went through.
    ForwardTransitNhs(Vec<Cie>),
    /// Reverse Transit NHS Record (5): one CIE per NHS the reply went through.
    ReverseTransitNhs(Vec<Cie>),
    /// Authentication (7).
    Authentication(Authentication),
    /// Vendor-Private (8).
    VendorPrivate(VendorPrivate),
    /// Cisco NAT Address (9): CIEs with the NBMA address as seen after NAT.
    NatAddress(Vec<Cie>),
    /// Any other type, kept as bytes so that it can be forwarded. `ext_type` must not be one of
    /// the types above (nor End), or it parses back as that type.
    Unknown {
        /// Extension type.
        ext_type: ExtensionType,
        /// Value.
        data: Vec<u8>,
    },
}

/// One extension: the compulsory bit and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The compulsory bit: a node that does not know a compulsory extension must answer with an
    /// Error Indication (Unrecognized Extension) instead of processing the packet.
    pub compulsory: bool,
    /// The content.
    pub body: ExtensionBody,
}

impl Extension {
    /// An extension with the compulsory bit Cisco uses for it: set for Responder Address,
    /// Transit NHS Records and Authentication, clear for NAT Address, Vendor-Private and
    /// unknown types.
    pub fn new(body: ExtensionBody) -> Self {
        let compulsory = matches!(
            body,
            ExtensionBody::ResponderAddress(_)
                | ExtensionBody::ForwardTransitNhs(_)
                | ExtensionBody::ReverseTransitNhs(_)
                | ExtensionBody::Authentication(_)
        );
        Extension { compulsory, body }
    }

    /// The extension type.
    pub fn ext_type(&self) -> ExtensionType {
        match &self.body {
            ExtensionBody::ResponderAddress(_) => ExtensionType::RESPONDER_ADDRESS,
            ExtensionBody::ForwardTransitNhs(_) => ExtensionType::FORWARD_TRANSIT_NHS,
            ExtensionBody::ReverseTransitNhs(_) => ExtensionType::REVERSE_TRANSIT_NHS,
            ExtensionBody::Authentication(_) => ExtensionType::AUTHENTICATION,
            ExtensionBody::VendorPrivate(_) => ExtensionType::VENDOR_PRIVATE,
            ExtensionBody::NatAddress(_) => ExtensionType::NAT_ADDRESS,
            ExtensionBody::Unknown { ext_type, .. } => *ext_type,
        }
    }

    /// The CIEs of a CIE-carrying extension.
    pub fn cies(&self) -> Option<&[Cie]> {
        match &self.body {
            ExtensionBody::ResponderAddress(c)
            | ExtensionBody::ForwardTransitNhs(c)
            | ExtensionBody::ReverseTransitNhs(c)
            | ExtensionBody::NatAddress(c) => Some(c),
            _ => None,
        }
    }

    /// Whether this is an extension this crate does not know with the compulsory bit set.
    pub fn is_unrecognized_compulsory(&self) -> bool {
        self.compulsory && matches!(self.body, ExtensionBody::Unknown { .. })
    }

    /// Length of the value (without the 4-byte header).
    pub fn value_len(&self) -> usize {
        match &self.body {
            ExtensionBody::Authentication(a) => 4 + a.data.len(),
            ExtensionBody::VendorPrivate(v) => 3 + v.data.len(),
            ExtensionBody::Unknown { data, .. } => data.len(),
            _ => self
                .cies()
                .map_or(0, |c| c.iter().map(Cie::buffer_len).sum()),
        }
    }

    /// Bytes the extension takes on the wire, header included.
    pub fn buffer_len(&self) -> usize {
        4 + self.value_len()
    }

    /// Parses the value of an extension found by [`ExtensionIter`].
    pub fn parse(ext: &ExtensionRef<'_>) -> Result<Extension, Error> {
        let cies = || ext.cies().collect::<Result<Vec<_>, _>>();
        let body = match ext.ext_type {
            ExtensionType::RESPONDER_ADDRESS => ExtensionBody::ResponderAddress(cies()?),
            ExtensionType::FORWARD_TRANSIT_NHS => ExtensionBody::ForwardTransitNhs(cies()?),
            ExtensionType::REVERSE_TRANSIT_NHS => ExtensionBody::ReverseTransitNhs(cies()?),
            ExtensionType::NAT_ADDRESS => ExtensionBody::NatAddress(cies()?),
            ExtensionType::AUTHENTICATION => {
                let (Some(auth_type), Some(data)) = (be::read_u32(ext.data, 0), ext.data.get(4..))
                else {
                    return Err(Error::InvalidExtension {
                        ext_type: ext.ext_type.0,
                        at: ext.offset,
                        reason: "authentication extension shorter than its 4-byte type",
                    });
                };
                ExtensionBody::Authentication(Authentication {
                    auth_type: AuthType(auth_type),
                    data: Secret::from(data),
                })
            }
            ExtensionType::VENDOR_PRIVATE => {
                let (Some(&[a, b, c]), Some(data)) = (ext.data.get(..3), ext.data.get(3..)) else {
                    return Err(Error::InvalidExtension {
                        ext_type: ext.ext_type.0,
                        at: ext.offset,
                        reason: "vendor-private extension shorter than its 3-byte vendor ID",
                    });
                };
                ExtensionBody::VendorPrivate(VendorPrivate {
                    vendor_id: [a, b, c],
                    data: data.to_vec(),
                })
            }
            ext_type => ExtensionBody::Unknown {
                ext_type,
                data: ext.data.to_vec(),
            },
        };
        Ok(Extension {
            compulsory: ext.compulsory,
            body,
        })
    }

    /// Checks that every length fits its field.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if let Some(cies) = self.cies() {
            for c in cies {
                c.check()?;
            }
        }
        if self.ext_type().0 & !TYPE_MASK != 0 {
            return Err(Error::FieldTooLong {
                field: "extension type",
                len: usize::from(self.ext_type().0),
                max: usize::from(TYPE_MASK),
            });
        }
        check_len("extension value", self.value_len(), usize::from(u16::MAX))
    }

    /// Writes the extension at the front of `out` (sized by the caller); returns bytes written.
    pub(crate) fn emit(&self, out: &mut [u8]) -> usize {
        let mut raw_type = self.ext_type().0 & TYPE_MASK;
        if self.compulsory {
            raw_type |= COMPULSORY;
        }
        let len = u16::try_from(self.value_len()).unwrap_or(u16::MAX);
        be::put_u16(out, 0, raw_type);
        be::put_u16(out, 2, len);
        let mut pos = 4;
        match &self.body {
            ExtensionBody::Authentication(a) => {
                pos += put(out, pos, &a.auth_type.0.to_be_bytes());
                pos += put(out, pos, a.data.expose());
            }
            ExtensionBody::VendorPrivate(v) => {
                pos += put(out, pos, &v.vendor_id);
                pos += put(out, pos, &v.data);
            }
            ExtensionBody::Unknown { data, .. } => {
                pos += put(out, pos, data);
            }
            _ => {
                for c in self.cies().unwrap_or_default() {
                    pos += c.emit(out.get_mut(pos..).unwrap_or_default());
                }
            }
        }
        pos
    }
}

/// Copies `src` to `out[at..]` if it fits; returns `src.len()` if it did, 0 otherwise.
pub(crate) fn put(out: &mut [u8], at: usize, src: &[u8]) -> usize {
    match out.get_mut(at..at + src.len()) {
        Some(dst) => {
            dst.copy_from_slice(src);
            src.len()
        }
        None => 0,
    }
}
