//! CBC initialization vectors (RFC 2409 Appendix B).
//!
//! IKEv1 carries no IV in its messages: both sides compute it.
//!
//! - **Phase 1** (Main Mode): the first encrypted message (MM5) uses hash(g^xi | g^xr)
//!   truncated to the cipher's block ([`phase1_iv`]); every later phase 1 message uses the
//!   last ciphertext block of the message before it.
//! - **Phase 2** (Quick Mode, and Informational exchanges after phase 1): the first message
//!   of an exchange uses hash(last phase 1 CBC output block | M-ID) truncated
//!   ([`phase2_iv`]); the later messages of the same exchange chain on that exchange's last
//!   ciphertext block. Each message ID is its own chain, so exchanges in progress side by
//!   side do not disturb each other.
//!
//! [`IvTracker`] keeps those chains for one ISAKMP SA: the phase 1 chain and the latest phase
//! 2 exchanges by message ID. Looking an IV up never changes it; the chain moves on only when
//! the caller says a message counted ([`IvTracker::advance`]): at once for a message it sent,
//! and for a received one only once its HASH verified, so that a forged or garbled message
//! (which decrypts to garbage, CBC having no integrity of its own) cannot derail the
//! exchange, and a stranger's message IDs cannot push real exchanges out of the table.
//! strongSwan keeps the same two steps (`update_iv` when a message is decrypted,
//! `confirm_iv` once it was processed).
//!
//! ```
//! use dmvpn_ikev1::algorithm::Hash;
//! use dmvpn_ikev1::iv::{IvTracker, phase1_iv, phase2_iv};
//!
//! let (g_xi, g_xr) = ([1u8; 256], [2u8; 256]);
//! let mut ivs = IvTracker::new(Hash::Sha256, phase1_iv(Hash::Sha256, &g_xi, &g_xr));
//! assert_eq!(ivs.iv(0), phase1_iv(Hash::Sha256, &g_xi, &g_xr));
//! // MM5 went out; its last ciphertext block is MM6's IV.
//! ivs.advance(0, [5; 16]);
//! // MM6 came in and its HASH_R verified: phase 1 ends on its last block.
//! ivs.advance(0, [6; 16]);
//! // A Quick Mode with message ID 0x1234 starts from there.
//! assert_eq!(ivs.iv(0x1234), phase2_iv(Hash::Sha256, &[6; 16], 0x1234));
//! ivs.advance(0x1234, [7; 16]); // QM1 sent
//! assert_eq!(ivs.iv(0x1234), [7; 16]); // QM2 decrypts with QM1's last block
//! assert_eq!(ivs.iv(0x9999), phase2_iv(Hash::Sha256, &[6; 16], 0x9999)); // another exchange
//! ```

use std::collections::VecDeque;

use crate::algorithm::Hash;

/// The cipher block length: 16 bytes for every supported phase 1 cipher (AES).
pub const BLOCK_LEN: usize = 16;

/// A CBC IV (the length of one block). IVs are not secret: after the first one they are
/// ciphertext blocks seen on the wire, and the first ones come from public values.
pub type Iv = [u8; BLOCK_LEN];

/// The first `BLOCK_LEN` bytes of a hash (every supported hash is at least 20 bytes).
fn truncate(h: &[u8]) -> Iv {
    let mut iv = [0u8; BLOCK_LEN];
    for (d, s) in iv.iter_mut().zip(h) {
        *d = *s;
    }
    iv
}

/// The IV of the first encrypted phase 1 message: hash(g^xi | g^xr) with the negotiated
/// hash, truncated to the block (Appendix B). `g_xi` and `g_xr` are the KE payloads' public
/// values, the initiator's first.
pub fn phase1_iv(hash: Hash, g_xi: &[u8], g_xr: &[u8]) -> Iv {
    truncate(&hash.digest(&[g_xi, g_xr]))
}

/// The IV of the first message of a phase 2 (or Informational) exchange: hash(last phase 1
/// CBC output block | M-ID), the message ID in network byte order, truncated (Appendix B).
pub fn phase2_iv(hash: Hash, last_phase1_block: &Iv, message_id: u32) -> Iv {
    truncate(&hash.digest(&[last_phase1_block, &message_id.to_be_bytes()]))
}

/// The IV chains of one ISAKMP SA: phase 1's, and the latest phase 2 exchanges' by message ID
/// (a bounded table, least recently advanced first out). See the [module](self) docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvTracker {
    hash: Hash,
    phase1: Iv,
    /// Most recently advanced first.
    exchanges: VecDeque<(u32, Iv)>,
    max_exchanges: usize,
}

impl IvTracker {
    /// How many phase 2 exchanges are tracked by default. strongSwan keeps 3
    /// (`charon.max_ikev1_exchanges`); a hub answering many Quick Modes of one peer at once
    /// needs a few more.
    pub const DEFAULT_MAX_EXCHANGES: usize = 8;

    /// The chains of an SA whose phase 1 IV is `phase1_iv` ([`phase1_iv`]), with the hash
    /// that derives the phase 2 IVs.
    pub fn new(hash: Hash, phase1_iv: Iv) -> Self {
        IvTracker {
            hash,
            phase1: phase1_iv,
            exchanges: VecDeque::new(),
            max_exchanges: Self::DEFAULT_MAX_EXCHANGES,
        }
    }

    /// Tracks at most `max` phase 2 exchanges (at least one).
    pub fn with_max_exchanges(mut self, max: usize) -> Self {
        self.max_exchanges = max.max(1);
        self.evict();
        self
    }

    /// The hash that derives phase 2 IVs.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The IV of the next message of exchange `message_id` (0 is phase 1): the last block of
    /// the exchange's latest counted message, or, for a phase 2 exchange not seen yet, its
    /// first IV ([`phase2_iv`] from the phase 1 chain as it stands). Changes nothing.
    pub fn iv(&self, message_id: u32) -> Iv {
        if message_id == 0 {
            return self.phase1;
        }
        match self.exchanges.iter().find(|(m, _)| *m == message_id) {
            Some((_, iv)) => *iv,
            None => phase2_iv(self.hash, &self.phase1, message_id),
        }
    }

    /// A message of exchange `message_id` counted (it was sent, or it was received and its
    /// HASH verified): the next message of that exchange chains on `last_block`, the
    /// message's last ciphertext block ([`Sealed::next_iv`](crate::cipher::Sealed) /
    /// [`Opened::next_iv`](crate::cipher::Opened)).
    pub fn advance(&mut self, message_id: u32, last_block: Iv) {
        if message_id == 0 {
            self.phase1 = last_block;
            return;
        }
        self.exchanges.retain(|(m, _)| *m != message_id);
        self.exchanges.push_front((message_id, last_block));
        self.evict();
    }

    /// Forgets exchange `message_id` (it completed or was abandoned); a later message with
    /// that ID would start a new chain. Phase 1's chain is never forgotten.
    pub fn forget(&mut self, message_id: u32) {
        self.exchanges.retain(|(m, _)| *m != message_id);
    }

    /// Whether exchange `message_id` has a chain (0, phase 1, always has).
    pub fn is_tracked(&self, message_id: u32) -> bool {
        message_id == 0 || self.exchanges.iter().any(|(m, _)| *m == message_id)
    }

    /// How many phase 2 exchanges are tracked.
    pub fn tracked_exchanges(&self) -> usize {
        self.exchanges.len()
    }

    fn evict(&mut self) {
        self.exchanges.truncate(self.max_exchanges);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_change_nothing_and_advances_chain() {
        let mut t = IvTracker::new(Hash::Sha1, [0xaa; 16]);
        let before = t.clone();
        for mid in [0, 1, 0xdead_beef] {
            let _ = t.iv(mid);
        }
        assert_eq!(t, before);
        assert!(!t.is_tracked(7) && t.is_tracked(0));
        let first = t.iv(7);
        assert_eq!(first, phase2_iv(Hash::Sha1, &[0xaa; 16], 7));
        t.advance(7, [1; 16]);
        assert_eq!(t.iv(7), [1; 16]);
        // Another exchange still starts from phase 1's chain.
        assert_eq!(t.iv(8), phase2_iv(Hash::Sha1, &[0xaa; 16], 8));
        t.forget(7);
        assert_eq!(t.iv(7), first);
        assert_eq!(t.hash(), Hash::Sha1);
    }

    #[test]
    fn the_table_is_bounded_least_recent_first_out() {
        let mut t = IvTracker::new(Hash::Sha256, [0; 16]).with_max_exchanges(2);
        t.advance(1, [1; 16]);
        t.advance(2, [2; 16]);
        t.advance(1, [11; 16]); // 1 is now the most recent
        t.advance(3, [3; 16]); // pushes out 2
        assert_eq!(t.tracked_exchanges(), 2);
        assert!(t.is_tracked(1) && t.is_tracked(3) && !t.is_tracked(2));
        assert_eq!(t.iv(1), [11; 16]);
        let t = t.with_max_exchanges(0);
        assert_eq!(t.tracked_exchanges(), 1);
        assert!(t.is_tracked(3));
    }

    #[test]
    fn ivs_are_truncated_hashes() {
        for h in Hash::ALL {
            let full = h.digest(&[&[1, 2], &[3]]);
            assert_eq!(phase1_iv(h, &[1, 2], &[3])[..], full[..16]);
            let full = h.digest(&[&[9; 16], &0x0102_0304u32.to_be_bytes()]);
            assert_eq!(phase2_iv(h, &[9; 16], 0x0102_0304)[..], full[..16]);
        }
    }
}
