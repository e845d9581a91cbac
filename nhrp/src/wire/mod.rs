//! Wire formats: views over buffers and owned representations (RFC 2332 §5).

mod address;
mod build;
mod cie;
mod codes;
mod extension;
mod packet;
mod repr;

pub use address::{Address, NbmaAddress, NbmaFormat};
pub use build::{Node, afn_for, host_prefix_len, protocol_type_for};
pub use cie::{Cie, CieHeader, CieIter};
pub use codes::{
    AddressFamily, AuthType, CieCode, ErrorCode, ExtensionType, Flags, PacketType, ProtocolType,
    TrafficCode,
};
pub use extension::{
    Authentication, COMPULSORY, Extension, ExtensionBody, ExtensionIter, ExtensionRef, Secret,
    TYPE_MASK, VendorPrivate,
};
pub use packet::{
    CISCO_HOP_COUNT, FIXED_HEADER_LEN, FixedHeader, MANDATORY_HEADER_LEN, MIN_PACKET_LEN,
    MandatoryHeader, Packet, VERSION,
};
pub use repr::{Body, ErrorIndication, Message, Repr, TrafficIndication, UnknownMessage};
