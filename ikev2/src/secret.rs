//! Secret bytes: zeroized on drop, never shown by `Debug`.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Secret key material (SKEYSEED, SK_*, KEYMAT, shared secrets, pre-shared keys): zeroized on
/// drop and redacted in `Debug` (only the length is shown).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Takes ownership of secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// Copies secret bytes.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Secret(bytes.to_vec())
    }

    /// `len` zero bytes, to be filled in.
    pub fn zeroed(len: usize) -> Self {
        Secret(vec![0; len])
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, mutably.
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with `other` in constant time (for equal lengths).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(self.0.as_slice(), other))
    }
}

impl From<Zeroizing<Vec<u8>>> for Secret {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        Secret(v.to_vec())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted {} bytes>)", self.0.len())
    }
}
