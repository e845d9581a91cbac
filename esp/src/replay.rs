//! The inbound anti-replay window (RFC 4303 §3.4.3) with ESN inference (RFC 4303 Appendix A).
//!
//! A bitmap of the last `size` sequence numbers below the highest authenticated one, kept as a
//! ring of 64-bit words so that advancing the window clears whole words instead of shifting
//! (the approach of RFC 6479). The ring has a power-of-two number of words (at least one more
//! than the window needs), so a sequence number finds its word with a mask, not a division.
//! [`ReplayWindow::check`] runs before the ICV is verified (cheap rejection),
//! [`ReplayWindow::update`] only after it verified, so forged packets never move the window.

use crate::Error;

/// Default window size in packets (bits).
pub const DEFAULT_WINDOW: u32 = 1024;

/// An anti-replay window over 64-bit sequence numbers.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    size: u32,
    top: u64,
    /// The ring of bitmap words: a power of two of them (0 when disabled).
    words: Box<[u64]>,
    /// `words.len() - 1` (0 when disabled): the word of `seq` is `(seq / 64) & mask`.
    mask: u64,
}

impl core::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("size", &self.size)
            .field("top", &self.top)
            .finish()
    }
}

impl ReplayWindow {
    /// A window of `size` packets, rounded up to a multiple of 64; 0 disables replay
    /// detection (the window then only tracks the highest sequence number, for ESN).
    pub fn new(size: u32) -> Self {
        let size = size.div_ceil(64).saturating_mul(64);
        // One word more than the window spans (the word of `top` is partly ahead of it),
        // rounded up to a power of two.
        let words = if size == 0 {
            0
        } else {
            (size as usize / 64 + 1).next_power_of_two()
        };
        Self {
            size,
            top: 0,
            words: vec![0; words].into_boxed_slice(),
            mask: (words as u64).saturating_sub(1),
        }
    }

    /// The window size in packets (0: disabled).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The highest authenticated sequence number so far (0 before the first packet).
    pub fn top(&self) -> u64 {
        self.top
    }

    /// Infers the high-order 32 bits of an extended sequence number from its low 32 bits and
    /// the window (RFC 4303 Appendix A2.1); `None` if the result would lie before 1 or beyond
    /// 2^64 - 1.
    pub fn infer_esn(&self, low: u32) -> Option<u64> {
        let w = self.size.max(1);
        let th = (self.top >> 32) as u32;
        let tl = self.top as u32;
        let bottom = tl.wrapping_sub(w - 1);
        let high = if tl >= w - 1 {
            // Case A: the window lies within one sub-space.
            if low >= bottom {
                Some(th)
            } else {
                th.checked_add(1)
            }
        } else {
            // Case B: the window spans two sub-spaces.
            if low >= bottom {
                th.checked_sub(1)
            } else {
                Some(th)
            }
        }?;
        Some((u64::from(high) << 32) | u64::from(low))
    }

    /// Whether `seq` may be accepted: not 0, not left of the window, not seen before
    /// ([`Error::Replay`] otherwise). Does not change the window.
    pub fn check(&self, seq: u64) -> Result<(), Error> {
        if seq == 0 {
            return Err(Error::Replay { sequence: seq });
        }
        if self.size == 0 || seq > self.top {
            return Ok(());
        }
        if self.top - seq >= u64::from(self.size) {
            return Err(Error::Replay { sequence: seq });
        }
        let (word, bit) = self.slot(seq);
        if self.words.get(word).is_some_and(|w| w & bit != 0) {
            return Err(Error::Replay { sequence: seq });
        }
        Ok(())
    }

    /// Records `seq` as received (call only after the ICV verified and [`ReplayWindow::check`]
    /// passed), advancing the window if it is the new highest.
    pub fn update(&mut self, seq: u64) {
        if self.size == 0 {
            self.top = self.top.max(seq);
            return;
        }
        if seq > self.top {
            let n = self.words.len() as u64;
            let old = self.top / 64;
            let new = seq / 64;
            // Clear the words entering the window (at most all of them).
            let advance = (new - old).min(n);
            for i in 1..=advance {
                let idx = ((old + i) & self.mask) as usize;
                if let Some(w) = self.words.get_mut(idx) {
                    *w = 0;
                }
            }
            self.top = seq;
        }
        let (word, bit) = self.slot(seq);
        if let Some(w) = self.words.get_mut(word) {
            *w |= bit;
        }
    }

    /// Moves the window so that `top` is the highest received sequence number, nothing marked
    /// (for SAs handed over from another implementation, and for tests near 2^32).
    pub fn reset_to(&mut self, top: u64) {
        self.words.iter_mut().for_each(|w| *w = 0);
        self.top = top;
    }

    fn slot(&self, seq: u64) -> (usize, u64) {
        (((seq / 64) & self.mask) as usize, 1u64 << (seq % 64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn accept(w: &mut ReplayWindow, seq: u64) -> Result<(), Error> {
        w.check(seq)?;
        w.update(seq);
        Ok(())
    }

    #[test]
    fn duplicate_is_rejected() {
        let mut w = ReplayWindow::new(64);
        accept(&mut w, 1).unwrap();
        assert_eq!(accept(&mut w, 1), Err(Error::Replay { sequence: 1 }));
        accept(&mut w, 2).unwrap();
        assert_eq!(accept(&mut w, 2), Err(Error::Replay { sequence: 2 }));
        assert_eq!(accept(&mut w, 0), Err(Error::Replay { sequence: 0 }));
    }

    #[test]
    fn too_old_is_rejected_and_window_edge_is_exact() {
        let mut w = ReplayWindow::new(64);
        accept(&mut w, 100).unwrap();
        // 100 - 63 = 37 is the oldest in a 64-wide window, 36 is too old.
        assert_eq!(accept(&mut w, 36), Err(Error::Replay { sequence: 36 }));
        accept(&mut w, 37).unwrap();
        assert_eq!(accept(&mut w, 37), Err(Error::Replay { sequence: 37 }));
        // A big jump forgets everything older.
        accept(&mut w, 10_000).unwrap();
        assert!(accept(&mut w, 100).is_err());
        accept(&mut w, 10_000 - 63).unwrap();
    }

    #[test]
    fn reordered_within_window_is_accepted_once() {
        let mut w = ReplayWindow::new(DEFAULT_WINDOW);
        assert_eq!(w.size(), 1024);
        for s in [5u64, 3, 4, 1, 2, 1000, 7, 6, 1024, 1030] {
            accept(&mut w, s).unwrap();
        }
        for s in [5u64, 3, 4, 2, 1000, 7, 6, 1024, 1030] {
            assert!(accept(&mut w, s).is_err(), "{s}");
        }
        // 1030 - 1023 = 7: 1 and 6 are now left of the window or seen.
        assert!(accept(&mut w, 6).is_err());
        accept(&mut w, 8).unwrap();
        assert!(accept(&mut w, 1).is_err());
    }

    #[test]
    fn esn_inference_across_low_wrap() {
        let mut w = ReplayWindow::new(64);
        let near = (1u64 << 32) - 10;
        w.reset_to(near);
        // Low values just below top stay in the same sub-space, small ones move to the next.
        assert_eq!(w.infer_esn(0xffff_fff0), Some(0xffff_fff0));
        assert_eq!(w.infer_esn(3), Some((1 << 32) | 3));
        accept(&mut w, (1 << 32) | 3).unwrap();
        // Case B now: a late packet from the previous sub-space is inferred back into it.
        assert_eq!(w.infer_esn(0xffff_fff8), Some(0xffff_fff8));
        accept(&mut w, 0xffff_fff8).unwrap();
        assert!(accept(&mut w, 0xffff_fff8).is_err());
        assert_eq!(w.infer_esn(4), Some((1 << 32) | 4));
        // Before any packet, values in the would-be previous sub-space do not exist.
        let fresh = ReplayWindow::new(64);
        assert_eq!(fresh.infer_esn(1), Some(1));
        assert_eq!(fresh.infer_esn(u32::MAX), None);
    }

    #[test]
    fn disabled_window_accepts_duplicates() {
        let mut w = ReplayWindow::new(0);
        accept(&mut w, 5).unwrap();
        accept(&mut w, 5).unwrap();
        assert_eq!(w.top(), 5);
    }

    proptest! {
        /// The window agrees with a naive model (a set of everything seen, and the top).
        #[test]
        fn matches_naive_model(seqs in proptest::collection::vec(1u64..3000, 1..300), size in prop_oneof![Just(64u32), Just(128), Just(1024)]) {
            let mut w = ReplayWindow::new(size);
            let mut seen = std::collections::BTreeSet::new();
            let mut top = 0u64;
            for s in seqs {
                let model_ok = !seen.contains(&s) && (s > top || top - s < u64::from(size));
                let got = accept(&mut w, s).is_ok();
                prop_assert_eq!(got, model_ok, "seq {} top {}", s, top);
                if model_ok { seen.insert(s); top = top.max(s); }
            }
        }
    }
}
