//! Open code points of the IKEv2 wire format (IANA "Internet Key Exchange Version 2 (IKEv2)
//! Parameters").

use super::code_point;

code_point! {
    /// Exchange type (RFC 7296 §3.1).
    ExchangeType(u8): compact {
        IKE_SA_INIT = 34, "IKE_SA_INIT";
        IKE_AUTH = 35, "IKE_AUTH";
        CREATE_CHILD_SA = 36, "CREATE_CHILD_SA";
        INFORMATIONAL = 37, "INFORMATIONAL";
        IKE_SESSION_RESUME = 38, "IKE_SESSION_RESUME";
        GSA_AUTH = 39, "GSA_AUTH";
        GSA_REGISTRATION = 40, "GSA_REGISTRATION";
        GSA_REKEY = 41, "GSA_REKEY";
        IKE_INTERMEDIATE = 43, "IKE_INTERMEDIATE";
        IKE_FOLLOWUP_KE = 44, "IKE_FOLLOWUP_KE";
    }
}

code_point! {
    /// Payload type, the "Next Payload" values (RFC 7296 §3.2, RFC 7383 §2.5).
    PayloadType(u8): compact {
        NONE = 0, "No Next Payload";
        SA = 33, "SA";
        KE = 34, "KE";
        IDI = 35, "IDi";
        IDR = 36, "IDr";
        CERT = 37, "CERT";
        CERTREQ = 38, "CERTREQ";
        AUTH = 39, "AUTH";
        NONCE = 40, "Nonce";
        NOTIFY = 41, "N";
        DELETE = 42, "D";
        VENDOR_ID = 43, "V";
        TSI = 44, "TSi";
        TSR = 45, "TSr";
        SK = 46, "SK";
        CP = 47, "CP";
        EAP = 48, "EAP";
        GSPM = 49, "GSPM";
        SKF = 53, "SKF";
    }
}

code_point! {
    /// Security protocol identifier (RFC 7296 §3.3.1), in proposals, notifications and deletes.
    ProtocolId(u8): compact {
        NONE = 0, "NONE";
        IKE = 1, "IKE";
        AH = 2, "AH";
        ESP = 3, "ESP";
    }
}

code_point! {
    /// Identification type (RFC 7296 §3.5).
    IdType(u8): compact {
        IPV4_ADDR = 1, "ID_IPV4_ADDR";
        FQDN = 2, "ID_FQDN";
        RFC822_ADDR = 3, "ID_RFC822_ADDR";
        IPV6_ADDR = 5, "ID_IPV6_ADDR";
        DER_ASN1_DN = 9, "ID_DER_ASN1_DN";
        DER_ASN1_GN = 10, "ID_DER_ASN1_GN";
        KEY_ID = 11, "ID_KEY_ID";
        FC_NAME = 12, "ID_FC_NAME";
        NULL = 13, "ID_NULL";
    }
}

code_point! {
    /// Certificate encoding (RFC 7296 §3.6), in CERT and CERTREQ payloads.
    CertEncoding(u8): compact {
        PKCS7_X509 = 1, "PKCS #7 wrapped X.509 certificate";
        PGP = 2, "PGP Certificate";
        DNS_SIGNED_KEY = 3, "DNS Signed Key";
        X509_SIGNATURE = 4, "X.509 Certificate - Signature";
        KERBEROS = 6, "Kerberos Token";
        CRL = 7, "Certificate Revocation List (CRL)";
        ARL = 8, "Authority Revocation List (ARL)";
        SPKI = 9, "SPKI Certificate";
        X509_ATTRIBUTE = 10, "X.509 Certificate - Attribute";
        RAW_RSA = 11, "Raw RSA Key";
        HASH_URL_X509 = 12, "Hash and URL of X.509 certificate";
        HASH_URL_BUNDLE = 13, "Hash and URL of X.509 bundle";
        OCSP = 14, "OCSP Content";
        RAW_PUBLIC_KEY = 15, "Raw Public Key";
    }
}

code_point! {
    /// Authentication method (RFC 7296 §3.8, RFC 7427).
    AuthMethod(u8): compact {
        RSA_SIGNATURE = 1, "RSA Digital Signature";
        SHARED_KEY_MIC = 2, "Shared Key Message Integrity Code";
        DSS_SIGNATURE = 3, "DSS Digital Signature";
        ECDSA_SHA256_P256 = 9, "ECDSA with SHA-256 on the P-256 curve";
        ECDSA_SHA384_P384 = 10, "ECDSA with SHA-384 on the P-384 curve";
        ECDSA_SHA512_P521 = 11, "ECDSA with SHA-512 on the P-521 curve";
        GENERIC_SECURE_PASSWORD = 12, "Generic Secure Password Authentication Method";
        NULL = 13, "NULL Authentication";
        DIGITAL_SIGNATURE = 14, "Digital Signature";
    }
}

code_point! {
    /// Notify message type (RFC 7296 §3.10.1 and later RFCs): errors below 16384, status
    /// types from 16384.
    NotifyType(u16): compact {
        UNSUPPORTED_CRITICAL_PAYLOAD = 1, "UNSUPPORTED_CRITICAL_PAYLOAD";
        INVALID_IKE_SPI = 4, "INVALID_IKE_SPI";
        INVALID_MAJOR_VERSION = 5, "INVALID_MAJOR_VERSION";
        INVALID_SYNTAX = 7, "INVALID_SYNTAX";
        INVALID_MESSAGE_ID = 9, "INVALID_MESSAGE_ID";
        INVALID_SPI = 11, "INVALID_SPI";
        NO_PROPOSAL_CHOSEN = 14, "NO_PROPOSAL_CHOSEN";
        INVALID_KE_PAYLOAD = 17, "INVALID_KE_PAYLOAD";
        AUTHENTICATION_FAILED = 24, "AUTHENTICATION_FAILED";
        SINGLE_PAIR_REQUIRED = 34, "SINGLE_PAIR_REQUIRED";
        NO_ADDITIONAL_SAS = 35, "NO_ADDITIONAL_SAS";
        INTERNAL_ADDRESS_FAILURE = 36, "INTERNAL_ADDRESS_FAILURE";
        FAILED_CP_REQUIRED = 37, "FAILED_CP_REQUIRED";
        TS_UNACCEPTABLE = 38, "TS_UNACCEPTABLE";
        INVALID_SELECTORS = 39, "INVALID_SELECTORS";
        UNACCEPTABLE_ADDRESSES = 40, "UNACCEPTABLE_ADDRESSES";
        UNEXPECTED_NAT_DETECTED = 41, "UNEXPECTED_NAT_DETECTED";
        USE_ASSIGNED_HOA = 42, "USE_ASSIGNED_HoA";
        TEMPORARY_FAILURE = 43, "TEMPORARY_FAILURE";
        CHILD_SA_NOT_FOUND = 44, "CHILD_SA_NOT_FOUND";
        INVALID_GROUP_ID = 45, "INVALID_GROUP_ID";
        AUTHORIZATION_FAILED = 46, "AUTHORIZATION_FAILED";
        STATE_NOT_FOUND = 47, "STATE_NOT_FOUND";
        INITIAL_CONTACT = 16384, "INITIAL_CONTACT";
        SET_WINDOW_SIZE = 16385, "SET_WINDOW_SIZE";
        ADDITIONAL_TS_POSSIBLE = 16386, "ADDITIONAL_TS_POSSIBLE";
        IPCOMP_SUPPORTED = 16387, "IPCOMP_SUPPORTED";
        NAT_DETECTION_SOURCE_IP = 16388, "NAT_DETECTION_SOURCE_IP";
        NAT_DETECTION_DESTINATION_IP = 16389, "NAT_DETECTION_DESTINATION_IP";
        COOKIE = 16390, "COOKIE";
        USE_TRANSPORT_MODE = 16391, "USE_TRANSPORT_MODE";
        HTTP_CERT_LOOKUP_SUPPORTED = 16392, "HTTP_CERT_LOOKUP_SUPPORTED";
        REKEY_SA = 16393, "REKEY_SA";
        ESP_TFC_PADDING_NOT_SUPPORTED = 16394, "ESP_TFC_PADDING_NOT_SUPPORTED";
        NON_FIRST_FRAGMENTS_ALSO = 16395, "NON_FIRST_FRAGMENTS_ALSO";
        MOBIKE_SUPPORTED = 16396, "MOBIKE_SUPPORTED";
        ADDITIONAL_IP4_ADDRESS = 16397, "ADDITIONAL_IP4_ADDRESS";
        ADDITIONAL_IP6_ADDRESS = 16398, "ADDITIONAL_IP6_ADDRESS";
        NO_ADDITIONAL_ADDRESSES = 16399, "NO_ADDITIONAL_ADDRESSES";
        UPDATE_SA_ADDRESSES = 16400, "UPDATE_SA_ADDRESSES";
        COOKIE2 = 16401, "COOKIE2";
        NO_NATS_ALLOWED = 16402, "NO_NATS_ALLOWED";
        AUTH_LIFETIME = 16403, "AUTH_LIFETIME";
        MULTIPLE_AUTH_SUPPORTED = 16404, "MULTIPLE_AUTH_SUPPORTED";
        ANOTHER_AUTH_FOLLOWS = 16405, "ANOTHER_AUTH_FOLLOWS";
        REDIRECT_SUPPORTED = 16406, "REDIRECT_SUPPORTED";
        REDIRECT = 16407, "REDIRECT";
        REDIRECTED_FROM = 16408, "REDIRECTED_FROM";
        TICKET_LT_OPAQUE = 16409, "TICKET_LT_OPAQUE";
        TICKET_REQUEST = 16410, "TICKET_REQUEST";
        TICKET_ACK = 16411, "TICKET_ACK";
        TICKET_NACK = 16412, "TICKET_NACK";
        TICKET_OPAQUE = 16413, "TICKET_OPAQUE";
        LINK_ID = 16414, "LINK_ID";
        USE_WESP_MODE = 16415, "USE_WESP_MODE";
        ROHC_SUPPORTED = 16416, "ROHC_SUPPORTED";
        EAP_ONLY_AUTHENTICATION = 16417, "EAP_ONLY_AUTHENTICATION";
        CHILDLESS_IKEV2_SUPPORTED = 16418, "CHILDLESS_IKEV2_SUPPORTED";
        QUICK_CRASH_DETECTION = 16419, "QUICK_CRASH_DETECTION";
        IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420, "IKEV2_MESSAGE_ID_SYNC_SUPPORTED";
        IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED = 16421, "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED";
        IKEV2_MESSAGE_ID_SYNC = 16422, "IKEV2_MESSAGE_ID_SYNC";
        IPSEC_REPLAY_COUNTER_SYNC = 16423, "IPSEC_REPLAY_COUNTER_SYNC";
        SECURE_PASSWORD_METHODS = 16424, "SECURE_PASSWORD_METHODS";
        PSK_PERSIST = 16425, "PSK_PERSIST";
        PSK_CONFIRM = 16426, "PSK_CONFIRM";
        ERX_SUPPORTED = 16427, "ERX_SUPPORTED";
        IFOM_CAPABILITY = 16428, "IFOM_CAPABILITY";
        SENDER_REQUEST_ID = 16429, "SENDER_REQUEST_ID";
        IKEV2_FRAGMENTATION_SUPPORTED = 16430, "IKEV2_FRAGMENTATION_SUPPORTED";
        SIGNATURE_HASH_ALGORITHMS = 16431, "SIGNATURE_HASH_ALGORITHMS";
        CLONE_IKE_SA_SUPPORTED = 16432, "CLONE_IKE_SA_SUPPORTED";
        CLONE_IKE_SA = 16433, "CLONE_IKE_SA";
        PUZZLE = 16434, "PUZZLE";
        USE_PPK = 16435, "USE_PPK";
        PPK_IDENTITY = 16436, "PPK_IDENTITY";
        NO_PPK_AUTH = 16437, "NO_PPK_AUTH";
        INTERMEDIATE_EXCHANGE_SUPPORTED = 16438, "INTERMEDIATE_EXCHANGE_SUPPORTED";
        IP4_ALLOWED = 16439, "IP4_ALLOWED";
        IP6_ALLOWED = 16440, "IP6_ALLOWED";
        ADDITIONAL_KEY_EXCHANGE = 16441, "ADDITIONAL_KEY_EXCHANGE";
        USE_AGGFRAG = 16442, "USE_AGGFRAG";
    }
}

impl NotifyType {
    /// Whether this is an error type (below 16384, RFC 7296 §3.10.1); unknown error types
    /// mean the request failed (§3.10.1).
    pub const fn is_error(self) -> bool {
        self.0 < 16384
    }
}

code_point! {
    /// Traffic selector type (RFC 7296 §3.13.1).
    TsType(u8): compact {
        IPV4_ADDR_RANGE = 7, "TS_IPV4_ADDR_RANGE";
        IPV6_ADDR_RANGE = 8, "TS_IPV6_ADDR_RANGE";
        FC_ADDR_RANGE = 9, "TS_FC_ADDR_RANGE";
    }
}

code_point! {
    /// Configuration payload type (RFC 7296 §3.15).
    CfgType(u8): compact {
        REQUEST = 1, "CFG_REQUEST";
        REPLY = 2, "CFG_REPLY";
        SET = 3, "CFG_SET";
        ACK = 4, "CFG_ACK";
    }
}

code_point! {
    /// Configuration attribute type (RFC 7296 §3.15.1), 15 bits.
    ConfigAttributeType(u16): compact {
        INTERNAL_IP4_ADDRESS = 1, "INTERNAL_IP4_ADDRESS";
        INTERNAL_IP4_NETMASK = 2, "INTERNAL_IP4_NETMASK";
        INTERNAL_IP4_DNS = 3, "INTERNAL_IP4_DNS";
        INTERNAL_IP4_NBNS = 4, "INTERNAL_IP4_NBNS";
        INTERNAL_IP4_DHCP = 6, "INTERNAL_IP4_DHCP";
        APPLICATION_VERSION = 7, "APPLICATION_VERSION";
        INTERNAL_IP6_ADDRESS = 8, "INTERNAL_IP6_ADDRESS";
        INTERNAL_IP6_DNS = 10, "INTERNAL_IP6_DNS";
        INTERNAL_IP6_DHCP = 12, "INTERNAL_IP6_DHCP";
        INTERNAL_IP4_SUBNET = 13, "INTERNAL_IP4_SUBNET";
        SUPPORTED_ATTRIBUTES = 14, "SUPPORTED_ATTRIBUTES";
        INTERNAL_IP6_SUBNET = 15, "INTERNAL_IP6_SUBNET";
    }
}

/// The header flags (RFC 7296 §3.1): Initiator (bit 3), Version (bit 4), Response (bit 5).
/// The other bits are reserved; they are kept so a header re-emits unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// I: set in messages sent by the original initiator of the IKE SA.
    pub const INITIATOR: Flags = Flags(0x08);
    /// V: the sender can speak a higher major version (never set by IKEv2 implementations).
    pub const VERSION: Flags = Flags(0x10);
    /// R: this message is a response.
    pub const RESPONSE: Flags = Flags(0x20);

    /// Whether the Initiator bit is set.
    pub const fn initiator(self) -> bool {
        self.0 & Self::INITIATOR.0 != 0
    }

    /// Whether the Response bit is set.
    pub const fn response(self) -> bool {
        self.0 & Self::RESPONSE.0 != 0
    }

    /// Whether the Version bit is set.
    pub const fn version(self) -> bool {
        self.0 & Self::VERSION.0 != 0
    }

    /// The union of two flag sets.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

impl core::fmt::Debug for Flags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl core::fmt::Display for Flags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut names = Vec::new();
        if self.initiator() {
            names.push("Initiator");
        }
        if self.version() {
            names.push("Version");
        }
        if self.response() {
            names.push("Response");
        }
        write!(f, "{:#04x}", self.0)?;
        if !names.is_empty() {
            write!(f, " ({})", names.join(", "))?;
        }
        Ok(())
    }
}
