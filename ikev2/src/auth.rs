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

use crate::crypto::IkeCryptoProvider;
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
}

impl PskLookup for PskTable {
    fn psk(&self, id: &Identity) -> Option<&Psk> {
        self.entries
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, k)| k)
            .or(self.wildcard.as_ref())
    }
}

/// The shared-key AUTH data: prf(prf(psk, "Key Pad for IKEv2"), signed octets) (§2.15).
pub fn psk_auth(
    provider: &IkeCryptoProvider,
    prf: PrfId,
    psk: &Psk,
    octets: &SignedOctets,
) -> Result<Secret, Error> {
    let padded = provider.prf(prf, psk.as_bytes())?.compute(&[KEY_PAD])?;
    provider
        .prf(prf, padded.as_bytes())?
        .compute(&[octets.as_bytes()])
}

/// The AUTH payload (method 2, shared key MIC) for our signed octets.
pub fn psk_auth_payload(
    provider: &IkeCryptoProvider,
    prf: PrfId,
    psk: &Psk,
    octets: &SignedOctets,
) -> Result<AuthPayload, Error> {
    Ok(AuthPayload {
        method: AuthMethod::SHARED_KEY_MIC,
        data: psk_auth(provider, prf, psk, octets)?.as_bytes().to_vec(),
    })
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
    let expected = psk_auth(provider, prf, psk, peer_octets)?;
    if expected.len() == auth.data.len() && expected.ct_eq(&auth.data) {
        Ok(())
    } else {
        Err(Error::AuthenticationFailed)
    }
}
