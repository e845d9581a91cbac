//! Open code points: every one is a newtype over its wire integer, so unknown values pass through.

use dmvpn_wire::code_point;

code_point! {
    /// `ar$op.type`: the NHRP packet type (RFC 2332 §5.2.0.1; type 8 is Cisco's).
    PacketType(u8): spaced {
        /// Resolution Request (RFC 2332 §5.2.1).
        RESOLUTION_REQUEST = 1, "Resolution Request";
        /// Resolution Reply (RFC 2332 §5.2.2).
        RESOLUTION_REPLY = 2, "Resolution Reply";
        /// Registration Request (RFC 2332 §5.2.3).
        REGISTRATION_REQUEST = 3, "Registration Request";
        /// Registration Reply (RFC 2332 §5.2.4).
        REGISTRATION_REPLY = 4, "Registration Reply";
        /// Purge Request (RFC 2332 §5.2.5).
        PURGE_REQUEST = 5, "Purge Request";
        /// Purge Reply (RFC 2332 §5.2.6).
        PURGE_REPLY = 6, "Purge Reply";
        /// Error Indication (RFC 2332 §5.2.7).
        ERROR_INDICATION = 7, "Error Indication";
        /// Traffic Indication: Cisco's DMVPN phase 3 redirect (not in RFC 2332).
        TRAFFIC_INDICATION = 8, "Traffic Indication";
    }
}

code_point! {
    /// `ar$afn`: the address family of the NBMA (underlay) addresses (IANA Address Family Numbers).
    AddressFamily(u16): spaced {
        /// IPv4 underlay.
        IPV4 = 1, "IPv4";
        /// IPv6 underlay.
        IPV6 = 2, "IPv6";
    }
}

code_point! {
    /// `ar$pro.type`: the protocol of the protocol (overlay) addresses, an EtherType for IP.
    ProtocolType(u16): spaced {
        /// IPv4 overlay.
        IPV4 = 0x0800, "IPv4";
        /// IPv6 overlay.
        IPV6 = 0x86dd, "IPv6";
    }
}

code_point! {
    /// The Code of a Client Information Entry (RFC 2332 §5.2.2, §5.2.4).
    CieCode(u8): spaced {
        /// Success.
        SUCCESS = 0, "Success";
        /// Administratively Prohibited.
        ADMINISTRATIVELY_PROHIBITED = 4, "Administratively Prohibited";
        /// Insufficient Resources.
        INSUFFICIENT_RESOURCES = 5, "Insufficient Resources";
        /// No Internetworking Layer Address to NBMA Address Binding Exists (Resolution Reply).
        NO_BINDING_EXISTS = 12, "No Binding Exists";
        /// Binding Exists But Is Not Unique (Resolution Reply).
        BINDING_NOT_UNIQUE = 13, "Binding Not Unique";
        /// Unique Internetworking Layer Address Already Registered (Registration Reply).
        ALREADY_REGISTERED = 14, "Unique Address Already Registered";
    }
}

code_point! {
    /// The Error Code of an Error Indication (RFC 2332 §5.2.7).
    ErrorCode(u16): spaced {
        /// Unrecognized Extension: a compulsory extension this node does not know.
        UNRECOGNIZED_EXTENSION = 1, "Unrecognized Extension";
        /// NHRP Loop Detected.
        LOOP_DETECTED = 3, "Loop Detected";
        /// Protocol Address Unreachable.
        PROTOCOL_ADDRESS_UNREACHABLE = 6, "Protocol Address Unreachable";
        /// Protocol Error.
        PROTOCOL_ERROR = 7, "Protocol Error";
        /// NHRP SDU Size Exceeded.
        SDU_SIZE_EXCEEDED = 8, "SDU Size Exceeded";
        /// Invalid Extension.
        INVALID_EXTENSION = 9, "Invalid Extension";
        /// Invalid NHRP Resolution Reply Received.
        INVALID_RESOLUTION_REPLY = 10, "Invalid Resolution Reply";
        /// Authentication Failure.
        AUTHENTICATION_FAILURE = 11, "Authentication Failure";
        /// Hop Count Exceeded.
        HOP_COUNT_EXCEEDED = 15, "Hop Count Exceeded";
    }
}

code_point! {
    /// The code of a (Cisco) Traffic Indication.
    TrafficCode(u16): spaced {
        /// Redirect: a shorter path to the destination exists (DMVPN phase 3).
        REDIRECT = 0, "Redirect";
    }
}

code_point! {
    /// An extension type (RFC 2332 §5.3), without the compulsory bit.
    ExtensionType(u16): spaced {
        /// End of Extensions (RFC 2332 §5.3.0).
        END = 0, "End";
        /// Responder Address (RFC 2332 §5.3.1).
        RESPONDER_ADDRESS = 3, "Responder Address";
        /// Forward Transit NHS Record (RFC 2332 §5.3.2).
        FORWARD_TRANSIT_NHS = 4, "Forward Transit NHS Record";
        /// Reverse Transit NHS Record (RFC 2332 §5.3.3).
        REVERSE_TRANSIT_NHS = 5, "Reverse Transit NHS Record";
        /// Authentication (RFC 2332 §5.3.4).
        AUTHENTICATION = 7, "Authentication";
        /// Vendor-Private (RFC 2332 §5.3.5).
        VENDOR_PRIVATE = 8, "Vendor-Private";
        /// Cisco NAT Address (not in RFC 2332).
        NAT_ADDRESS = 9, "Cisco NAT Address";
    }
}

code_point! {
    /// The Authentication Type of an Authentication extension (RFC 2332 §5.3.4).
    AuthType(u32): spaced {
        /// Cleartext password: the form Cisco's `ip nhrp authentication` sends.
        CLEARTEXT = 1, "Cleartext Password";
    }
}

/// The Flags field of the mandatory part; which bits mean what depends on the packet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// No flag set.
    pub const NONE: Flags = Flags(0);
    /// Resolution: Q, the requester is a router (RFC 2332 §5.2.1).
    pub const Q: Flags = Flags(0x8000);
    /// Resolution: A, the reply is authoritative.
    pub const A: Flags = Flags(0x4000);
    /// Resolution: D, the association is stable (destination on the NBMA network).
    pub const D: Flags = Flags(0x2000);
    /// Resolution: U, uniqueness.
    pub const RESOLUTION_U: Flags = Flags(0x1000);
    /// Resolution: S, the source binding is stable.
    pub const S: Flags = Flags(0x0800);
    /// Registration: U, the registration is unique (RFC 2332 §5.2.3).
    pub const REGISTRATION_U: Flags = Flags(0x8000);
    /// Purge: N, no reply expected (RFC 2332 §5.2.5).
    pub const N: Flags = Flags(0x8000);
    /// Cisco: the sender is NAT-capable (Registration and Resolution packets).
    pub const CISCO_NAT: Flags = Flags(0x0002);

    /// Whether every bit of `other` is set in `self`.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}
