//! Open code points of the ISAKMP / IKEv1 wire format (IANA's "Internet Security Association
//! and Key Management Protocol (ISAKMP) Identifiers" and "Internet Key Exchange (IKE)
//! Attributes" registries; RFC 2407, RFC 2408, RFC 2409, RFC 3947, RFC 3706).
//!
//! Every registry is a newtype: an unknown value parses and re-emits unchanged.

use super::code_point;

code_point! {
    /// Exchange type (RFC 2408 §3.1 and §4, RFC 2409 §5–§9).
    ExchangeType(u8): compact {
        NONE = 0, "NONE";
        BASE = 1, "Base";
        IDENTITY_PROTECTION = 2, "Identity Protection (Main Mode)";
        AUTHENTICATION_ONLY = 3, "Authentication Only";
        AGGRESSIVE = 4, "Aggressive";
        INFORMATIONAL = 5, "Informational";
        /// The Mode-Config / XAUTH transaction exchange (draft-dukes-ike-mode-cfg), which
        /// Cisco Easy VPN uses; DMVPN does not.
        TRANSACTION = 6, "Transaction (Mode Config)";
        QUICK_MODE = 32, "Quick Mode";
        NEW_GROUP_MODE = 33, "New Group Mode";
    }
}

impl ExchangeType {
    /// Main Mode: RFC 2409's name for Identity Protection.
    pub const MAIN_MODE: ExchangeType = ExchangeType::IDENTITY_PROTECTION;
}

code_point! {
    /// Payload type, the "Next Payload" values (RFC 2408 §3.1, RFC 3947 §3.2 and §5.2, and the
    /// private-use numbers of the NAT-T drafts and IKE fragmentation).
    PayloadType(u8): compact {
        NONE = 0, "NONE";
        SA = 1, "SA";
        /// Proposal: only inside an SA payload.
        PROPOSAL = 2, "P";
        /// Transform: only inside a Proposal.
        TRANSFORM = 3, "T";
        KE = 4, "KE";
        ID = 5, "ID";
        CERT = 6, "CERT";
        CR = 7, "CR";
        HASH = 8, "HASH";
        SIG = 9, "SIG";
        NONCE = 10, "NONCE";
        NOTIFICATION = 11, "N";
        DELETE = 12, "D";
        VENDOR_ID = 13, "VID";
        /// Mode-Config attributes (draft-dukes-ike-mode-cfg); kept as an unknown payload here.
        ATTRIBUTES = 14, "ATTR";
        /// NAT-D as numbered before IANA's assignment: Mac OS X's racoon sent it, and so does
        /// Cisco IOS in tcpdump's PacketLife capture after negotiating NAT-T draft 07 (GDOI,
        /// RFC 6407, uses 15 for its SAK payload in another DOI).
        NAT_D_LEGACY = 15, "NAT-D (15)";
        /// NAT-OA as numbered before IANA's assignment (see [`PayloadType::NAT_D_LEGACY`]).
        NAT_OA_LEGACY = 16, "NAT-OA (16)";
        /// NAT Discovery (RFC 3947 §3.2).
        NAT_D = 20, "NAT-D";
        /// NAT Original Address (RFC 3947 §5.2).
        NAT_OA = 21, "NAT-OA";
        /// NAT-D of the NAT-T drafts (draft-ietf-ipsec-nat-t-ike-02/03), which peers that
        /// negotiate a draft vendor ID still send.
        NAT_D_DRAFT = 130, "NAT-D (draft)";
        /// NAT-OA of the NAT-T drafts.
        NAT_OA_DRAFT = 131, "NAT-OA (draft)";
        /// IKE fragment (the Cisco / racoon / Windows IKEv1 fragmentation extension announced
        /// by the FRAGMENTATION vendor ID).
        FRAGMENT = 132, "FRAG";
    }
}

code_point! {
    /// Domain of Interpretation (RFC 2408 §3.4, RFC 2407 §4.2).
    Doi(u32): compact {
        ISAKMP = 0, "ISAKMP";
        IPSEC = 1, "IPSEC";
        GDOI = 2, "GDOI";
    }
}

code_point! {
    /// Protocol identifier (RFC 2407 §4.4.1), in proposals, notifications, deletes.
    ProtocolId(u8): compact {
        RESERVED = 0, "RESERVED";
        ISAKMP = 1, "PROTO_ISAKMP";
        AH = 2, "PROTO_IPSEC_AH";
        ESP = 3, "PROTO_IPSEC_ESP";
        IPCOMP = 4, "PROTO_IPCOMP";
    }
}

code_point! {
    /// Transform identifier of a PROTO_ISAKMP proposal (RFC 2407 §4.4.2).
    IsakmpTransformId(u8): compact {
        KEY_IKE = 1, "KEY_IKE";
    }
}

code_point! {
    /// Transform identifier of a PROTO_IPSEC_ESP proposal (RFC 2407 §4.4.4 and the IANA
    /// registry: RFC 3602 AES-CBC, RFC 3686 AES-CTR, RFC 4309 CCM, RFC 4106 GCM, RFC 4543).
    EspTransformId(u8): compact {
        DES_IV64 = 1, "ESP_DES_IV64";
        DES = 2, "ESP_DES";
        TRIPLE_DES = 3, "ESP_3DES";
        RC5 = 4, "ESP_RC5";
        IDEA = 5, "ESP_IDEA";
        CAST = 6, "ESP_CAST";
        BLOWFISH = 7, "ESP_BLOWFISH";
        TRIPLE_IDEA = 8, "ESP_3IDEA";
        DES_IV32 = 9, "ESP_DES_IV32";
        RC4 = 10, "ESP_RC4";
        NULL = 11, "ESP_NULL";
        AES_CBC = 12, "ESP_AES-CBC";
        AES_CTR = 13, "ESP_AES-CTR";
        AES_CCM_8 = 14, "ESP_AES-CCM_8";
        AES_CCM_12 = 15, "ESP_AES-CCM_12";
        AES_CCM_16 = 16, "ESP_AES-CCM_16";
        AES_GCM_8 = 18, "ESP_AES-GCM_8";
        AES_GCM_12 = 19, "ESP_AES-GCM_12";
        AES_GCM_16 = 20, "ESP_AES-GCM_16";
        NULL_AUTH_AES_GMAC = 21, "ESP_NULL_AUTH_AES-GMAC";
    }
}

code_point! {
    /// Transform identifier of a PROTO_IPSEC_AH proposal (RFC 2407 §4.4.3 and the IANA
    /// registry).
    AhTransformId(u8): compact {
        MD5 = 2, "AH_MD5";
        SHA = 3, "AH_SHA";
        DES = 4, "AH_DES";
        SHA2_256 = 5, "AH_SHA2-256";
        SHA2_384 = 6, "AH_SHA2-384";
        SHA2_512 = 7, "AH_SHA2-512";
        RIPEMD = 8, "AH_RIPEMD";
        AES_XCBC_MAC = 9, "AH_AES-XCBC-MAC";
        RSA = 10, "AH_RSA";
        AES_128_GMAC = 11, "AH_AES-128-GMAC";
        AES_192_GMAC = 12, "AH_AES-192-GMAC";
        AES_256_GMAC = 13, "AH_AES-256-GMAC";
    }
}

code_point! {
    /// Transform identifier of a PROTO_IPCOMP proposal (RFC 2407 §4.4.5).
    IpcompTransformId(u8): compact {
        OUI = 1, "IPCOMP_OUI";
        DEFLATE = 2, "IPCOMP_DEFLATE";
        LZS = 3, "IPCOMP_LZS";
        LZJH = 4, "IPCOMP_LZJH";
    }
}

code_point! {
    /// Phase 1 (IKE) SA attribute class (RFC 2409 Appendix A).
    IkeAttributeType(u16): compact {
        ENCRYPTION_ALGORITHM = 1, "Encryption Algorithm";
        HASH_ALGORITHM = 2, "Hash Algorithm";
        AUTHENTICATION_METHOD = 3, "Authentication Method";
        GROUP_DESCRIPTION = 4, "Group Description";
        GROUP_TYPE = 5, "Group Type";
        GROUP_PRIME = 6, "Group Prime/Irreducible Polynomial";
        GROUP_GENERATOR_ONE = 7, "Group Generator One";
        GROUP_GENERATOR_TWO = 8, "Group Generator Two";
        GROUP_CURVE_A = 9, "Group Curve A";
        GROUP_CURVE_B = 10, "Group Curve B";
        LIFE_TYPE = 11, "Life Type";
        LIFE_DURATION = 12, "Life Duration";
        PRF = 13, "PRF";
        KEY_LENGTH = 14, "Key Length";
        FIELD_SIZE = 15, "Field Size";
        GROUP_ORDER = 16, "Group Order";
    }
}

code_point! {
    /// Phase 1 encryption algorithm (RFC 2409 Appendix A, RFC 3602, RFC 4312).
    EncryptionAlgorithm(u16): compact {
        DES_CBC = 1, "DES-CBC";
        IDEA_CBC = 2, "IDEA-CBC";
        BLOWFISH_CBC = 3, "Blowfish-CBC";
        RC5_CBC = 4, "RC5-R16-B64-CBC";
        TRIPLE_DES_CBC = 5, "3DES-CBC";
        CAST_CBC = 6, "CAST-CBC";
        AES_CBC = 7, "AES-CBC";
        CAMELLIA_CBC = 8, "CAMELLIA-CBC";
    }
}

code_point! {
    /// Phase 1 hash algorithm (RFC 2409 Appendix A, RFC 4868 for SHA-2).
    HashAlgorithm(u16): compact {
        MD5 = 1, "MD5";
        SHA1 = 2, "SHA";
        TIGER = 3, "Tiger";
        SHA2_256 = 4, "SHA2-256";
        SHA2_384 = 5, "SHA2-384";
        SHA2_512 = 6, "SHA2-512";
    }
}

code_point! {
    /// Phase 1 authentication method (RFC 2409 Appendix A, RFC 4754 for ECDSA, and the XAUTH
    /// and hybrid values of draft-beaulieu-ike-xauth and draft-ietf-ipsec-isakmp-hybrid-auth
    /// that Cisco sends for Easy VPN).
    AuthMethod(u16): compact {
        PRE_SHARED_KEY = 1, "Pre-shared key";
        DSS_SIGNATURES = 2, "DSS signatures";
        RSA_SIGNATURES = 3, "RSA signatures";
        RSA_ENCRYPTION = 4, "Encryption with RSA";
        RSA_REVISED_ENCRYPTION = 5, "Revised encryption with RSA";
        ECDSA_SHA256_P256 = 9, "ECDSA with SHA-256 on the P-256 curve";
        ECDSA_SHA384_P384 = 10, "ECDSA with SHA-384 on the P-384 curve";
        ECDSA_SHA512_P521 = 11, "ECDSA with SHA-512 on the P-521 curve";
        HYBRID_INIT_RSA = 64221, "HybridInitRSA";
        HYBRID_RESP_RSA = 64222, "HybridRespRSA";
        HYBRID_INIT_DSS = 64223, "HybridInitDSS";
        HYBRID_RESP_DSS = 64224, "HybridRespDSS";
        XAUTH_INIT_PRE_SHARED = 65001, "XAUTHInitPreShared";
        XAUTH_RESP_PRE_SHARED = 65002, "XAUTHRespPreShared";
        XAUTH_INIT_DSS = 65003, "XAUTHInitDSS";
        XAUTH_RESP_DSS = 65004, "XAUTHRespDSS";
        XAUTH_INIT_RSA = 65005, "XAUTHInitRSA";
        XAUTH_RESP_RSA = 65006, "XAUTHRespRSA";
        XAUTH_INIT_RSA_ENCRYPTION = 65007, "XAUTHInitRSAEncryption";
        XAUTH_RESP_RSA_ENCRYPTION = 65008, "XAUTHRespRSAEncryption";
        XAUTH_INIT_RSA_REVISED_ENCRYPTION = 65009, "XAUTHInitRSARevisedEncryption";
        XAUTH_RESP_RSA_REVISED_ENCRYPTION = 65010, "XAUTHRespRSARevisedEncryption";
    }
}

code_point! {
    /// Diffie-Hellman group (RFC 2409 §6 and Appendix A, RFC 3526, RFC 5903, RFC 5114,
    /// RFC 6932), shared by the phase 1 Group Description and the IPsec DOI's PFS group.
    GroupDescription(u16): compact {
        MODP_768 = 1, "768-bit MODP group";
        MODP_1024 = 2, "1024-bit MODP group";
        EC2N_155 = 3, "EC2N group on GP[2^155]";
        EC2N_185 = 4, "EC2N group on GP[2^185]";
        MODP_1536 = 5, "1536-bit MODP group";
        MODP_2048 = 14, "2048-bit MODP group";
        MODP_3072 = 15, "3072-bit MODP group";
        MODP_4096 = 16, "4096-bit MODP group";
        MODP_6144 = 17, "6144-bit MODP group";
        MODP_8192 = 18, "8192-bit MODP group";
        ECP_256 = 19, "256-bit random ECP group";
        ECP_384 = 20, "384-bit random ECP group";
        ECP_521 = 21, "521-bit random ECP group";
        MODP_1024_160 = 22, "1024-bit MODP group with 160-bit prime order subgroup";
        MODP_2048_224 = 23, "2048-bit MODP group with 224-bit prime order subgroup";
        MODP_2048_256 = 24, "2048-bit MODP group with 256-bit prime order subgroup";
        ECP_192 = 25, "192-bit random ECP group";
        ECP_224 = 26, "224-bit random ECP group";
        BRAINPOOL_P224R1 = 27, "brainpoolP224r1";
        BRAINPOOL_P256R1 = 28, "brainpoolP256r1";
        BRAINPOOL_P384R1 = 29, "brainpoolP384r1";
        BRAINPOOL_P512R1 = 30, "brainpoolP512r1";
    }
}

code_point! {
    /// Phase 1 group type (RFC 2409 Appendix A).
    GroupType(u16): compact {
        MODP = 1, "MODP";
        ECP = 2, "ECP";
        EC2N = 3, "EC2N";
    }
}

code_point! {
    /// Life type of a lifetime pair, the same values in phase 1 (RFC 2409 Appendix A) and in
    /// the IPsec DOI (RFC 2407 §4.5).
    LifeType(u16): compact {
        SECONDS = 1, "seconds";
        KILOBYTES = 2, "kilobytes";
    }
}

code_point! {
    /// IPsec DOI SA attribute class (RFC 2407 §4.5 and the IANA registry).
    IpsecAttributeType(u16): compact {
        SA_LIFE_TYPE = 1, "SA Life Type";
        SA_LIFE_DURATION = 2, "SA Life Duration";
        GROUP_DESCRIPTION = 3, "Group Description";
        ENCAPSULATION_MODE = 4, "Encapsulation Mode";
        AUTHENTICATION_ALGORITHM = 5, "Authentication Algorithm";
        KEY_LENGTH = 6, "Key Length";
        KEY_ROUNDS = 7, "Key Rounds";
        COMPRESS_DICTIONARY_SIZE = 8, "Compress Dictionary Size";
        COMPRESS_PRIVATE_ALGORITHM = 9, "Compress Private Algorithm";
        ECN_TUNNEL = 10, "ECN Tunnel";
        EXTENDED_SEQUENCE_NUMBER = 11, "Extended (64-bit) Sequence Number";
        AUTHENTICATION_KEY_LENGTH = 12, "Authentication Key Length";
        SIGNATURE_ENCODING = 13, "Signature Encoding";
        ADDRESS_PRESERVATION = 14, "Address Preservation";
        SA_DIRECTION = 15, "SA Direction";
    }
}

code_point! {
    /// IPsec DOI encapsulation mode (RFC 2407 §4.5, RFC 3947 §5.1, and the values of the
    /// NAT-T drafts, which Cisco IOS and others still send when a draft was negotiated).
    EncapsulationMode(u16): compact {
        TUNNEL = 1, "Tunnel";
        TRANSPORT = 2, "Transport";
        UDP_TUNNEL = 3, "UDP-Encapsulated-Tunnel";
        UDP_TRANSPORT = 4, "UDP-Encapsulated-Transport";
        UDP_TUNNEL_DRAFT = 61443, "UDP-Encapsulated-Tunnel (draft)";
        UDP_TRANSPORT_DRAFT = 61444, "UDP-Encapsulated-Transport (draft)";
    }
}

impl EncapsulationMode {
    /// Whether the mode is a tunnel mode (plain, RFC 3947, or draft UDP encapsulation).
    pub const fn is_tunnel(self) -> bool {
        matches!(self.0, 1 | 3 | 61443)
    }

    /// Whether the mode is a transport mode (plain, RFC 3947, or draft UDP encapsulation).
    pub const fn is_transport(self) -> bool {
        matches!(self.0, 2 | 4 | 61444)
    }

    /// Whether ESP is carried in UDP (RFC 3948) in this mode.
    pub const fn is_udp_encapsulated(self) -> bool {
        matches!(self.0, 3 | 4 | 61443 | 61444)
    }
}

code_point! {
    /// IPsec DOI authentication algorithm (RFC 2407 §4.5 and the IANA registry).
    AuthAlgorithm(u16): compact {
        HMAC_MD5 = 1, "HMAC-MD5";
        HMAC_SHA1 = 2, "HMAC-SHA";
        DES_MAC = 3, "DES-MAC";
        KPDK = 4, "KPDK";
        HMAC_SHA2_256 = 5, "HMAC-SHA2-256";
        HMAC_SHA2_384 = 6, "HMAC-SHA2-384";
        HMAC_SHA2_512 = 7, "HMAC-SHA2-512";
        HMAC_RIPEMD = 8, "HMAC-RIPEMD";
        AES_XCBC_MAC = 9, "AES-XCBC-MAC";
        SIG_RSA = 10, "SIG-RSA";
        AES_128_GMAC = 11, "AES-128-GMAC";
        AES_192_GMAC = 12, "AES-192-GMAC";
        AES_256_GMAC = 13, "AES-256-GMAC";
    }
}

code_point! {
    /// Identification type (RFC 2407 §4.6.2.1, RFC 3554 for ID_LIST).
    IdType(u8): compact {
        IPV4_ADDR = 1, "ID_IPV4_ADDR";
        FQDN = 2, "ID_FQDN";
        USER_FQDN = 3, "ID_USER_FQDN";
        IPV4_ADDR_SUBNET = 4, "ID_IPV4_ADDR_SUBNET";
        IPV6_ADDR = 5, "ID_IPV6_ADDR";
        IPV6_ADDR_SUBNET = 6, "ID_IPV6_ADDR_SUBNET";
        IPV4_ADDR_RANGE = 7, "ID_IPV4_ADDR_RANGE";
        IPV6_ADDR_RANGE = 8, "ID_IPV6_ADDR_RANGE";
        DER_ASN1_DN = 9, "ID_DER_ASN1_DN";
        DER_ASN1_GN = 10, "ID_DER_ASN1_GN";
        KEY_ID = 11, "ID_KEY_ID";
        LIST = 12, "ID_LIST";
    }
}

code_point! {
    /// Certificate encoding (RFC 2408 §3.9), in CERT and CR payloads.
    CertEncoding(u8): compact {
        NONE = 0, "NONE";
        PKCS7_X509 = 1, "PKCS #7 wrapped X.509 certificate";
        PGP = 2, "PGP Certificate";
        DNS_SIGNED_KEY = 3, "DNS Signed Key";
        X509_SIGNATURE = 4, "X.509 Certificate - Signature";
        X509_KEY_EXCHANGE = 5, "X.509 Certificate - Key Exchange";
        KERBEROS = 6, "Kerberos Tokens";
        CRL = 7, "Certificate Revocation List (CRL)";
        ARL = 8, "Authority Revocation List (ARL)";
        SPKI = 9, "SPKI Certificate";
        X509_ATTRIBUTE = 10, "X.509 Certificate - Attribute";
    }
}

code_point! {
    /// Notify message type (RFC 2408 §3.14.1 errors 1–30 and status 16384, RFC 2407 §4.6.3
    /// IPsec DOI status, RFC 3706 §5 DPD).
    NotifyType(u16): compact {
        INVALID_PAYLOAD_TYPE = 1, "INVALID-PAYLOAD-TYPE";
        DOI_NOT_SUPPORTED = 2, "DOI-NOT-SUPPORTED";
        SITUATION_NOT_SUPPORTED = 3, "SITUATION-NOT-SUPPORTED";
        INVALID_COOKIE = 4, "INVALID-COOKIE";
        INVALID_MAJOR_VERSION = 5, "INVALID-MAJOR-VERSION";
        INVALID_MINOR_VERSION = 6, "INVALID-MINOR-VERSION";
        INVALID_EXCHANGE_TYPE = 7, "INVALID-EXCHANGE-TYPE";
        INVALID_FLAGS = 8, "INVALID-FLAGS";
        INVALID_MESSAGE_ID = 9, "INVALID-MESSAGE-ID";
        INVALID_PROTOCOL_ID = 10, "INVALID-PROTOCOL-ID";
        INVALID_SPI = 11, "INVALID-SPI";
        INVALID_TRANSFORM_ID = 12, "INVALID-TRANSFORM-ID";
        ATTRIBUTES_NOT_SUPPORTED = 13, "ATTRIBUTES-NOT-SUPPORTED";
        NO_PROPOSAL_CHOSEN = 14, "NO-PROPOSAL-CHOSEN";
        BAD_PROPOSAL_SYNTAX = 15, "BAD-PROPOSAL-SYNTAX";
        PAYLOAD_MALFORMED = 16, "PAYLOAD-MALFORMED";
        INVALID_KEY_INFORMATION = 17, "INVALID-KEY-INFORMATION";
        INVALID_ID_INFORMATION = 18, "INVALID-ID-INFORMATION";
        INVALID_CERT_ENCODING = 19, "INVALID-CERT-ENCODING";
        INVALID_CERTIFICATE = 20, "INVALID-CERTIFICATE";
        CERT_TYPE_UNSUPPORTED = 21, "CERT-TYPE-UNSUPPORTED";
        INVALID_CERT_AUTHORITY = 22, "INVALID-CERT-AUTHORITY";
        INVALID_HASH_INFORMATION = 23, "INVALID-HASH-INFORMATION";
        AUTHENTICATION_FAILED = 24, "AUTHENTICATION-FAILED";
        INVALID_SIGNATURE = 25, "INVALID-SIGNATURE";
        ADDRESS_NOTIFICATION = 26, "ADDRESS-NOTIFICATION";
        NOTIFY_SA_LIFETIME = 27, "NOTIFY-SA-LIFETIME";
        CERTIFICATE_UNAVAILABLE = 28, "CERTIFICATE-UNAVAILABLE";
        UNSUPPORTED_EXCHANGE_TYPE = 29, "UNSUPPORTED-EXCHANGE-TYPE";
        UNEQUAL_PAYLOAD_LENGTHS = 30, "UNEQUAL-PAYLOAD-LENGTHS";
        CONNECTED = 16384, "CONNECTED";
        RESPONDER_LIFETIME = 24576, "RESPONDER-LIFETIME";
        REPLAY_STATUS = 24577, "REPLAY-STATUS";
        INITIAL_CONTACT = 24578, "INITIAL-CONTACT";
        R_U_THERE = 36136, "R-U-THERE";
        R_U_THERE_ACK = 36137, "R-U-THERE-ACK";
    }
}

impl NotifyType {
    /// Whether this is an error type (1–16383, RFC 2408 §3.14.1); the others are status.
    pub const fn is_error(self) -> bool {
        self.0 >= 1 && self.0 < 16384
    }
}

/// The ISAKMP header flags (RFC 2408 §3.1). Bits other than these three are reserved; they
/// parse and re-emit unchanged.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// No flag set.
    pub const NONE: Flags = Flags(0);
    /// E (Encryption): the payloads after the header are encrypted (RFC 2408 §3.1).
    pub const ENCRYPTION: Flags = Flags(0x01);
    /// C (Commit): key exchange synchronisation (RFC 2408 §3.1, RFC 2409 §5.5 CONNECTED).
    pub const COMMIT: Flags = Flags(0x02);
    /// A (Authentication Only): the message is authenticated, not encrypted (RFC 2408 §3.1).
    pub const AUTHENTICATION_ONLY: Flags = Flags(0x04);

    /// Whether the E bit is set.
    pub const fn encryption(self) -> bool {
        self.0 & Self::ENCRYPTION.0 != 0
    }

    /// Whether the C bit is set.
    pub const fn commit(self) -> bool {
        self.0 & Self::COMMIT.0 != 0
    }

    /// Whether the A bit is set.
    pub const fn authentication_only(self) -> bool {
        self.0 & Self::AUTHENTICATION_ONLY.0 != 0
    }

    /// The union of two flag sets.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// These flags with the bits of `other` cleared.
    pub const fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
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
        if self.encryption() {
            names.push("Encryption");
        }
        if self.commit() {
            names.push("Commit");
        }
        if self.authentication_only() {
            names.push("Authentication Only");
        }
        write!(f, "{:#04x}", self.0)?;
        if !names.is_empty() {
            write!(f, " ({})", names.join(", "))?;
        }
        Ok(())
    }
}

/// The IPsec DOI situation bitmap (RFC 2407 §4.2).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Situation(pub u32);

impl Situation {
    /// SIT_IDENTITY_ONLY: the SA is identified by the ID payloads; what every implementation
    /// sends.
    pub const IDENTITY_ONLY: Situation = Situation(0x01);
    /// SIT_SECRECY: labelled secrecy fields follow (not supported here).
    pub const SECRECY: Situation = Situation(0x02);
    /// SIT_INTEGRITY: labelled integrity fields follow (not supported here).
    pub const INTEGRITY: Situation = Situation(0x04);

    /// Whether labelled-domain fields follow the bitmap (SIT_SECRECY or SIT_INTEGRITY).
    pub const fn has_labels(self) -> bool {
        self.0 & (Self::SECRECY.0 | Self::INTEGRITY.0) != 0
    }
}

impl core::fmt::Debug for Situation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Situation({:#x})", self.0)
    }
}
