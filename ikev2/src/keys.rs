//! Key derivation (RFC 7296 §2.13–§2.18): SKEYSEED, the seven IKE SA keys, IKE SA rekeying and
//! child SA KEYMAT in the shape `esp` takes ([`dmvpn_esp::SaKeys`]).

use dmvpn_esp::Suite;

use crate::crypto::IkeCryptoProvider;
use crate::transform::{IkeSuite, PrfId};
use crate::{Error, Secret};

/// The keys of an IKE SA (§2.14), each zeroized on drop and redacted in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeSaKeys {
    /// Derives child SA keys and the next IKE SA's SKEYSEED.
    pub sk_d: Secret,
    /// Integrity key, initiator to responder (empty for AEAD).
    pub sk_ai: Secret,
    /// Integrity key, responder to initiator (empty for AEAD).
    pub sk_ar: Secret,
    /// Encryption key, initiator to responder (with the 4-byte salt for AES-GCM).
    pub sk_ei: Secret,
    /// Encryption key, responder to initiator (with the 4-byte salt for AES-GCM).
    pub sk_er: Secret,
    /// Key for the initiator's AUTH payload (§2.15).
    pub sk_pi: Secret,
    /// Key for the responder's AUTH payload (§2.15).
    pub sk_pr: Secret,
}

/// SKEYSEED = prf(Ni | Nr, g^ir) (§2.14; for the HMAC PRFs the nonces are the key whatever
/// their length).
pub fn skeyseed(
    provider: &IkeCryptoProvider,
    prf: PrfId,
    ni: &[u8],
    nr: &[u8],
    shared_secret: &[u8],
) -> Result<Secret, Error> {
    let mut key = Secret::zeroed(ni.len().saturating_add(nr.len()));
    let (a, b) = key.as_mut_bytes().split_at_mut(ni.len());
    a.copy_from_slice(ni);
    b.copy_from_slice(nr);
    provider.prf(prf, key.as_bytes())?.compute(&[shared_secret])
}

/// SKEYSEED of a rekeyed IKE SA (§2.18): prf(SK_d (old), g^ir (new) | Ni | Nr), with the old IKE
/// SA's PRF ("the rekeying exchange belongs to the old IKE SA").
pub fn rekey_skeyseed(
    provider: &IkeCryptoProvider,
    old_prf: PrfId,
    old_sk_d: &Secret,
    shared_secret: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> Result<Secret, Error> {
    provider
        .prf(old_prf, old_sk_d.as_bytes())?
        .compute(&[shared_secret, ni, nr])
}

impl IkeSaKeys {
    /// Total length of the seven keys for a suite.
    pub fn keymat_len(suite: &IkeSuite) -> usize {
        3 * suite.prf_key_len() + 2 * suite.integ_key_len() + 2 * suite.encr_key_len()
    }

    /// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi |
    /// SPIr) with the suite's PRF (§2.14).
    pub fn from_skeyseed(
        provider: &IkeCryptoProvider,
        suite: &IkeSuite,
        skeyseed: &Secret,
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<Self, Error> {
        let prf = provider.prf(suite.prf, skeyseed.as_bytes())?;
        let len = Self::keymat_len(suite);
        let keymat = prf.plus(&[ni, nr, &spi_i.to_be_bytes(), &spi_r.to_be_bytes()], len)?;
        let mut rest = keymat.as_bytes();
        let mut take = |n: usize| -> Result<Secret, Error> {
            let (a, b) = rest.split_at_checked(n).ok_or(Error::LengthMismatch {
                what: "KEYMAT remainder",
                expected: n,
                got: rest.len(),
            })?;
            rest = b;
            Ok(Secret::from_slice(a))
        };
        let (p, i, e) = (
            suite.prf_key_len(),
            suite.integ_key_len(),
            suite.encr_key_len(),
        );
        Ok(IkeSaKeys {
            sk_d: take(p)?,
            sk_ai: take(i)?,
            sk_ar: take(i)?,
            sk_ei: take(e)?,
            sk_er: take(e)?,
            sk_pi: take(p)?,
            sk_pr: take(p)?,
        })
    }

    /// The keys of a new IKE SA from IKE_SA_INIT: SKEYSEED from the nonces and the shared
    /// secret, then prf+.
    pub fn derive(
        provider: &IkeCryptoProvider,
        suite: &IkeSuite,
        shared_secret: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<Self, Error> {
        let seed = skeyseed(provider, suite.prf, ni, nr, shared_secret)?;
        Self::from_skeyseed(provider, suite, &seed, ni, nr, spi_i, spi_r)
    }

    /// The keys of an IKE SA rekeyed with CREATE_CHILD_SA (§2.18): SKEYSEED from this (old)
    /// SA's SK_d and PRF, then prf+ with the new suite, nonces and SPIs.
    #[allow(clippy::too_many_arguments)]
    pub fn derive_rekey(
        &self,
        provider: &IkeCryptoProvider,
        old_prf: PrfId,
        new_suite: &IkeSuite,
        shared_secret: &[u8],
        ni: &[u8],
        nr: &[u8],
        new_spi_i: u64,
        new_spi_r: u64,
    ) -> Result<Self, Error> {
        let seed = rekey_skeyseed(provider, old_prf, &self.sk_d, shared_secret, ni, nr)?;
        Self::from_skeyseed(provider, new_suite, &seed, ni, nr, new_spi_i, new_spi_r)
    }
}

/// The keys of a child SA pair (§2.17), ready for [`dmvpn_esp::SaConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSaKeys {
    /// The SA carrying traffic from the initiator to the responder (its keys come first).
    pub initiator_to_responder: dmvpn_esp::SaKeys,
    /// The SA carrying traffic from the responder to the initiator.
    pub responder_to_initiator: dmvpn_esp::SaKeys,
}

/// KEYMAT = prf+(SK_d, Ni | Nr), or with PFS prf+(SK_d, g^ir (new) | Ni | Nr) (§2.17), `len`
/// bytes.
pub fn child_keymat(
    provider: &IkeCryptoProvider,
    prf: PrfId,
    sk_d: &Secret,
    pfs_shared_secret: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Result<Secret, Error> {
    let prf = provider.prf(prf, sk_d.as_bytes())?;
    match pfs_shared_secret {
        Some(g) => prf.plus(&[g, ni, nr], len),
        None => prf.plus(&[ni, nr], len),
    }
}

impl ChildSaKeys {
    /// Derives the keys of a child SA pair for an ESP suite: KEYMAT (§2.17) split into the
    /// initiator-to-responder encryption and integrity keys, then the responder-to-initiator
    /// ones (AES-GCM keys include their 4-byte salt, RFC 4106 §8.1).
    pub fn derive(
        provider: &IkeCryptoProvider,
        prf: PrfId,
        sk_d: &Secret,
        suite: &Suite,
        pfs_shared_secret: Option<&[u8]>,
        ni: &[u8],
        nr: &[u8],
    ) -> Result<Self, Error> {
        let one = suite.encryption.keymat_len() + suite.integrity.key_len();
        let keymat = child_keymat(provider, prf, sk_d, pfs_shared_secret, ni, nr, 2 * one)?;
        let (i2r, rest) = dmvpn_esp::SaKeys::from_keymat(suite, keymat.as_bytes())?;
        let (r2i, _) = dmvpn_esp::SaKeys::from_keymat(suite, rest)?;
        Ok(ChildSaKeys {
            initiator_to_responder: i2r,
            responder_to_initiator: r2i,
        })
    }
}
