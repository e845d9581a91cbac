//! Wire formats: views over buffers and owned representations (RFC 2332 §5).

mod address;
mod build;
mod cie;
mod codes;
mod extension;
mod packet;

pub use address::{Address, NbmaAddress, NbmaFormat};
pub use build::{afn_for, host_prefix_len, protocol_type_for, Node};
pub use cie::{Cie, CieHeader, CieIter};
pub use codes::{
    AddressFamily, AuthType, CieCode, ErrorCode, ExtensionType, Flags, PacketType, ProtocolType,
    TrafficCode,
};
pub use extension::{
    Authentication, Extension, ExtensionBody, ExtensionIter, ExtensionRef, Secret, VendorPrivate,
    COMPULSORY, TYPE_MASK,
};
pub use packet::{
    Body, ErrorIndication, FixedHeader, MandatoryHeader, Message, Packet, Repr, TrafficIndication,
    UnknownMessage, CISCO_HOP_COUNT, FIXED_HEADER_LEN, MANDATORY_HEADER_LEN, MIN_PACKET_LEN,
    VERSION,
};
