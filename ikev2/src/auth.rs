//! Authentication (RFC 7296 §2.15): the signed octets, and the AUTH payload for pre-shared keys
//! with per-peer keys looked up by identity.
//!
//! ```text
//! InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI,  MACedIDForI = prf(SK_pi, RestOfInitIDPayload)
//! ResponderSignedOctets = RealMessage2 | NonceIData | MACedIDForR,  MACedIDForR = prf(SK_pr, RestOfRespIDPayload)
//! AUTH (shared key)     = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
//! ```
//!
//! [`SignedOctets`] is what a signature method signs too, so certificates can be added later
//! without touching this construction.

use core::fmt;
use core::net::IpAddr;

use crate::crypto::{IkeCryptoProvider, Prf};
use crate::transform::PrfId;
use crate::wire::{AuthMethod, AuthPayload, Identity};
use crate::{Error, Secret};

/// The pad string of §2.15.
pub const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// The octets one side authenticates (§2.15): its own first message as sent, the peer's nonce
/// (the Nonce payload's data) and the MAC of its own ID payload body.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedOctets(Vec<u8>);

impl SignedOctets {
    /// Builds `real_message | peer_nonce | prf(sk_p, RestOfIDPayload)`, with `sk_p` SK_pi for
    /// the initiator and SK_pr for the responder, and `own_id` the sender's identity.
    pub fn new(
        provider: &IkeCryptoProvider,
        prf: PrfId,
        sk_p: &Secret,
        real_message: &[u8],
        peer_nonce: &[u8],
        own_id: &Identity,
    ) -> Result<Self, Error> {
        let maced = provider
            .prf(prf, sk_p.as_bytes())?
            .compute(&[&own_id.to_body()])?;
        let mut v = Vec::with_capacity(real_message.len() + peer_nonce.len() + maced.len());
        v.extend_from_slice(real_message);
        v.extend_from_slice(peer_nonce);
        v.extend_from_slice(maced.as_bytes());
        Ok(SignedOctets(v))
    }

    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SignedOctets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedOctets({} bytes)", self.0.len())
    }
}

/// A pre-shared key: zeroized on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Psk(Secret);

impl Psk {
    /// A key from bytes.
    pub fn new(key: &[u8]) -> Self {
        Psk(Secret::from_slice(key))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<&str> for Psk {
    /// A key from its text, as configured (`pre-shared-key cisco123`).
    fn from(s: &str) -> Self {
        Psk::new(s.as_bytes())
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Psk(<redacted {} bytes>)", self.0.len())
    }
}

/// Where pre-shared keys come from: a lookup by the peer's identity (IDi or IDr as received).
pub trait PskLookup {
    /// The key for this identity, if any.
    fn psk(&self, id: &Identity) -> Option<&Psk>;
}

/// A table of pre-shared keys by identity, with an optional wildcard key for any identity
/// (like a Cisco keyring's `address 0.0.0.0 0.0.0.0`).
#[derive(Debug, Clone, Default)]
pub struct PskTable {
    entries: Vec<(Identity, Psk)>,
    /// Keys for address identities inside a prefix (address, prefix length), longest first.
    prefixes: Vec<(IpAddr, u8, Psk)>,
    wildcard: Option<Psk>,
}

impl PskTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key of an identity.
    pub fn insert(&mut self, id: Identity, psk: Psk) {
        match self.entries.iter_mut().find(|(i, _)| *i == id) {
            Some(e) => e.1 = psk,
            None => self.entries.push((id, psk)),
        }
    }

    /// Sets the key used for identities without their own.
    pub fn set_wildcard(&mut self, psk: Psk) {
        self.wildcard = Some(psk);
    }

    /// Adds (or replaces) the key of the address identities (ID_IPV4_ADDR, ID_IPV6_ADDR)
    /// inside `addr/len` (a Cisco keyring's `address 10.1.0.0 255.255.0.0`). An identity's own
    /// key wins over a prefix, a longer prefix over a shorter one, any prefix over the
    /// wildcard. A length of 0 is the wildcard.
    pub fn insert_prefix(&mut self, addr: IpAddr, len: u8, psk: Psk) {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = len.min(max);
        if len == 0 {
            self.wildcard = Some(psk);
            return;
        }
        let net = mask(addr, len);
        match self
            .prefixes
            .iter_mut()
            .find(|(a, l, _)| *a == net && *l == len)
        {
            Some(e) => e.2 = psk,
            None => {
                self.prefixes.push((net, len, psk));
                self.prefixes
                    .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            }
        }
    }
}

/// `addr` with the bits after the first `len` cleared.
fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

impl PskLookup for PskTable {
    fn psk(&self, id: &Identity) -> Option<&Psk> {
        self.entries
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, k)| k)
            .or_else(|| {
                let ip = id.as_ip()?;
                self.prefixes
                    .iter()
                    .find(|(net, len, _)| net.is_ipv4() == ip.is_ipv4() && mask(ip, *len) == *net)
                    .map(|(_, _, k)| k)
            })
            .or(self.wildcard.as_ref())
    }
}

/// The key of a shared-key AUTH payload (§2.15): prf(psk, "Key Pad for IKEv2"), as a keyed
/// PRF. Set up once per pre-shared key and PRF and used for both AUTH payloads of a handshake
/// (ours and the peer's, when both come from the same key): the key pad and the HMAC key
/// schedule are then computed once instead of twice. Redacted in `Debug`.
pub struct PskAuthKey(Prf);

impl PskAuthKey {
    /// prf(`psk`, "Key Pad for IKEv2") with the PRF `prf`, keyed.
    pub fn new(provider: &IkeCryptoProvider, prf: PrfId, psk: &Psk) -> Result<Self, Error> {
        let padded = provider.prf(prf, psk.as_bytes())?.compute(&[KEY_PAD])?;
        Ok(PskAuthKey(provider.prf(prf, padded.as_bytes())?))
    }

    /// The AUTH data for `octets`: prf(prf(psk, "Key Pad for IKEv2"), signed octets).
    pub fn auth(&self, octets: &SignedOctets) -> Result<Secret, Error> {
        self.0.compute(&[octets.as_bytes()])
    }

    /// The AUTH payload (method 2, shared key MIC) for our signed octets.
    pub fn payload(&self, octets: &SignedOctets) -> Result<AuthPayload, Error> {
        Ok(AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: self.auth(octets)?.as_bytes().to_vec(),
        })
    }

    /// Verifies a peer's AUTH payload over its signed octets: the method, then the value,
    /// compared in constant time; [`Error::AuthenticationFailed`] on either mismatch.
    pub fn verify(&self, peer_octets: &SignedOctets, auth: &AuthPayload) -> Result<(), Error> {
        if auth.method != AuthMethod::SHARED_KEY_MIC {
            return Err(Error::AuthenticationFailed);
        }
        let expected = self.auth(peer_octets)?;
        if expected.len() == auth.data.len() && expected.ct_eq(&auth.data) {
            Ok(())
        } else {
            Err(Error::AuthenticationFailed)
        }
    }
}

impl fmt::Debug for PskAuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PskAuthKey({}, key: <redacted>)", self.0.alg())
    }
}

/// The shared-key AUTH data: prf(prf(psk, "Key Pad for IKEv2"), signed octets) (§2.15).
pub fn psk_auth(
    provider: &IkeCryptoProvider,
    prf: PrfId,
    psk: &Psk,
    octets: &SignedOctets,
) -> Result<Secret, Error> {
    PskAuthKey::new(provider, prf, psk)?.auth(octets)
}

/// The AUTH payload (method 2, shared key MIC) for our signed octets.
pub fn psk_auth_payload(
    provider: &IkeCryptoProvider,
    prf: PrfId,
    psk: &Psk,
    octets: &SignedOctets,
) -> Result<AuthPayload, Error> {
    PskAuthKey::new(provider, prf, psk)?.payload(octets)
}

/// Verifies a peer's shared-key AUTH payload: looks the key up by the peer's identity and
/// compares the expected value in constant time. [`Error::NoPsk`] if there is no key for the
/// identity, [`Error::AuthenticationFailed`] on a wrong method or value.
pub fn verify_psk_auth(
    provider: &IkeCryptoProvider,
    prf: PrfId,
    keys: &dyn PskLookup,
    peer_id: &Identity,
    peer_octets: &SignedOctets,
    auth: &AuthPayload,
) -> Result<(), Error> {
    let psk = keys
        .psk(peer_id)
        .ok_or_else(|| Error::NoPsk(peer_id.to_string()))?;
    if auth.method != AuthMethod::SHARED_KEY_MIC {
        return Err(Error::AuthenticationFailed);
    }
    PskAuthKey::new(provider, prf, psk)?.verify(peer_octets, auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_by_identity_then_longest_prefix_then_wildcard() {
        let mut t = PskTable::new();
        t.set_wildcard(Psk::from("any"));
        t.insert_prefix("10.1.0.0".parse().unwrap(), 16, Psk::from("ten-one"));
        t.insert_prefix("10.1.2.99".parse().unwrap(), 24, Psk::from("ten-one-two"));
        t.insert(Identity::ip("10.1.2.3".parse().unwrap()), Psk::from("own"));
        let key = |a: &str| {
            t.psk(&Identity::ip(a.parse().unwrap()))
                .unwrap()
                .as_bytes()
                .to_vec()
        };
        assert_eq!(key("10.1.2.3"), b"own");
        assert_eq!(key("10.1.2.4"), b"ten-one-two");
        assert_eq!(key("10.1.9.9"), b"ten-one");
        assert_eq!(key("192.0.2.1"), b"any");
        assert_eq!(key("2001:db8::1"), b"any");
        assert_eq!(
            t.psk(&Identity::fqdn("spoke.example")).unwrap().as_bytes(),
            b"any"
        );
        // A length of 0 is the wildcard; a prefix without a wildcard leaves others keyless.
        let mut u = PskTable::new();
        u.insert_prefix("172.16.0.0".parse().unwrap(), 12, Psk::from("k"));
        assert!(
            u.psk(&Identity::ip("172.31.255.1".parse().unwrap()))
                .is_some()
        );
        assert!(
            u.psk(&Identity::ip("172.32.0.1".parse().unwrap()))
                .is_none()
        );
        u.insert_prefix("0.0.0.0".parse().unwrap(), 0, Psk::from("w"));
        assert!(
            u.psk(&Identity::ip("172.32.0.1".parse().unwrap()))
                .is_some()
        );
    }
}
