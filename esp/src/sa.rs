//! Security associations: configuration, the outbound and inbound data path, counters, events.

use core::fmt;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::{AeadKey, CbcKey, CryptoProvider, MacKey, SecureRandom};
use crate::lifetime::{Lifetimes, Limit, reached};
use crate::replay::{DEFAULT_WINDOW, ReplayWindow};
use crate::{EncryptionAlgorithm, Error, Suite};

mod datapath;
mod inplace;

#[cfg(test)]
use datapath::inner_ip_len;
pub use inplace::InPlace;

/// IP protocol number of GRE: the next header in DMVPN's transport mode.
pub const NEXT_HEADER_GRE: u8 = 47;
/// IP protocol number of IPv4 (tunnel mode).
pub const NEXT_HEADER_IPV4: u8 = 4;
/// IP protocol number of IPv6 (tunnel mode).
pub const NEXT_HEADER_IPV6: u8 = 41;

/// ESP mode (RFC 4301 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Transport mode: the payload is an upper-layer packet (GRE in DMVPN, the default there:
    /// `mode transport` in the seeds' transform sets).
    #[default]
    Transport,
    /// Tunnel mode: the payload is a whole inner IPv4 or IPv6 packet (next header 4 or 41).
    Tunnel,
}

/// Key material for one SA, zeroized on drop and redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SaKeys {
    encryption: Vec<u8>,
    integrity: Vec<u8>,
}

impl SaKeys {
    /// Keys from their parts: the encryption key (for GCM with its 4-byte salt appended,
    /// RFC 4106 §8.1) and the integrity key (empty for GCM).
    pub fn new(encryption: &[u8], integrity: &[u8]) -> Self {
        Self {
            encryption: encryption.to_vec(),
            integrity: integrity.to_vec(),
        }
    }

    /// Takes the keys of `suite` from the start of KEYMAT in the order of RFC 7296 §2.17
    /// (encryption key, then integrity key); returns them and the unused rest.
    pub fn from_keymat<'a>(suite: &Suite, keymat: &'a [u8]) -> Result<(Self, &'a [u8]), Error> {
        let ne = suite.encryption.keymat_len();
        let ni = suite.integrity.key_len();
        let needed = ne + ni;
        let got = keymat.len();
        let (enc, rest) = keymat
            .split_at_checked(ne)
            .ok_or(Error::Truncated { needed, got })?;
        let (integ, rest) = rest
            .split_at_checked(ni)
            .ok_or(Error::Truncated { needed, got })?;
        Ok((Self::new(enc, integ), rest))
    }

    /// The encryption key (plus salt for GCM).
    pub fn encryption(&self) -> &[u8] {
        &self.encryption
    }

    /// The integrity key.
    pub fn integrity(&self) -> &[u8] {
        &self.integrity
    }
}

impl fmt::Debug for SaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SaKeys {{ encryption: <redacted {} bytes>, integrity: <redacted {} bytes> }}",
            self.encryption.len(),
            self.integrity.len()
        )
    }
}

/// Everything needed to create one (unidirectional) SA.
#[derive(Debug, Clone)]
pub struct SaConfig {
    /// The SPI (chosen by the receiver; never 0).
    pub spi: u32,
    /// Encryption and integrity algorithms.
    pub suite: Suite,
    /// Keys for `suite`.
    pub keys: SaKeys,
    /// Transport (DMVPN's default) or tunnel mode.
    pub mode: Mode,
    /// 64-bit extended sequence numbers (RFC 4303 §2.2.1).
    pub esn: bool,
    /// Anti-replay window size in packets for inbound SAs (0 disables the check; default 1024).
    pub replay_window: u32,
    /// Soft and hard lifetimes.
    pub lifetimes: Lifetimes,
    /// Traffic-flow-confidentiality padding (RFC 4303 §2.4, tunnel mode only): outbound
    /// payloads shorter than this are padded to it with zeros.
    pub tfc_pad_to: Option<u16>,
    /// The crypto provider (and random source).
    pub provider: CryptoProvider,
}

impl SaConfig {
    /// A transport-mode SA with no ESN, the default 1024-packet replay window, no lifetimes and
    /// no TFC padding.
    pub fn new(spi: u32, suite: Suite, keys: SaKeys, provider: CryptoProvider) -> Self {
        Self {
            spi,
            suite,
            keys,
            mode: Mode::Transport,
            esn: false,
            replay_window: DEFAULT_WINDOW,
            lifetimes: Lifetimes::UNLIMITED,
            tfc_pad_to: None,
            provider,
        }
    }
}

/// Per-SA counters, in the spirit of `show crypto ipsec sa`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets encapsulated (`#pkts encaps`).
    pub pkts_encaps: u64,
    /// Packets encrypted (`#pkts encrypt`; not counted with NULL encryption).
    pub pkts_encrypt: u64,
    /// Packets given an ICV (`#pkts digest`).
    pub pkts_digest: u64,
    /// Packets decapsulated (`#pkts decaps`).
    pub pkts_decaps: u64,
    /// Packets decrypted (`#pkts decrypt`; not counted with NULL encryption).
    pub pkts_decrypt: u64,
    /// Packets whose ICV verified (`#pkts verify`).
    pub pkts_verify: u64,
    /// Payload bytes encapsulated or decapsulated.
    pub bytes: u64,
    /// Packets rejected as replayed or too old (`#pkts replay failed`).
    pub replay_failures: u64,
    /// Packets whose ICV failed (`#pkts verify failed`).
    pub integrity_failures: u64,
    /// Authenticated dummy packets (next header 59) dropped.
    pub dummy_dropped: u64,
    /// Outbound packets not sent (`#send errors`): buffer too small, exhausted, expired, …
    pub send_errors: u64,
    /// Inbound packets dropped for other reasons (`#recv errors`): truncated, bad padding, …
    pub recv_errors: u64,
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "    #pkts encaps: {}, #pkts encrypt: {}, #pkts digest: {}",
            self.pkts_encaps, self.pkts_encrypt, self.pkts_digest
        )?;
        writeln!(
            f,
            "    #pkts decaps: {}, #pkts decrypt: {}, #pkts verify: {}",
            self.pkts_decaps, self.pkts_decrypt, self.pkts_verify
        )?;
        writeln!(
            f,
            "    #pkts replay failed: {}, #pkts verify failed: {}, #pkts dummy dropped: {}",
            self.replay_failures, self.integrity_failures, self.dummy_dropped
        )?;
        write!(
            f,
            "    #send errors {}, #recv errors {}",
            self.send_errors, self.recv_errors
        )
    }
}

/// Something that happened to an SA, polled with `poll_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A soft lifetime was reached: negotiate a replacement SA (raised once).
    RekeyDue {
        /// The SA's SPI.
        spi: u32,
        /// Which limit.
        limit: Limit,
    },
    /// A hard lifetime was reached: the SA is dead (raised once).
    Expired {
        /// The SA's SPI.
        spi: u32,
        /// Which limit.
        limit: Limit,
    },
    /// The outbound sequence counter is exhausted (RFC 4303 §3.3.3): the SA can send no more
    /// and must be replaced (raised once).
    SequenceExhausted {
        /// The SA's SPI.
        spi: u32,
    },
}

/// The result of [`InboundSa::decapsulate`]: the inner packet, borrowed from the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Decapsulated<'a> {
    /// The next header (47 GRE, 4 IPv4, 41 IPv6, …).
    pub next_header: u8,
    /// The full (with ESN: 64-bit) sequence number of the packet.
    pub sequence: u64,
    /// The payload (in tunnel mode, with TFC padding removed).
    pub payload: &'a [u8],
}

enum Transform {
    Aead {
        key: Box<dyn AeadKey>,
        salt: Zeroizing<[u8; 4]>,
    },
    CbcHmac {
        cipher: Box<dyn CbcKey>,
        mac: Box<dyn MacKey>,
    },
    NullHmac {
        mac: Box<dyn MacKey>,
    },
}

impl Transform {
    fn new(cfg: &SaConfig) -> Result<Self, Error> {
        let suite = Suite::new(cfg.suite.encryption, cfg.suite.integrity)?;
        let ek = cfg.keys.encryption();
        let ik = cfg.keys.integrity();
        let expect = |what, expected: usize, got: &[u8]| {
            if got.len() == expected {
                Ok(())
            } else {
                Err(Error::KeyLength {
                    what,
                    expected,
                    got: got.len(),
                })
            }
        };
        expect("encryption", suite.encryption.keymat_len(), ek)?;
        expect("integrity", suite.integrity.key_len(), ik)?;
        let p = &cfg.provider;
        let mac = || -> Result<Box<dyn MacKey>, Error> { p.hmac(suite.integrity)?.new_key(ik) };
        Ok(match suite.encryption {
            EncryptionAlgorithm::AesGcm128 | EncryptionAlgorithm::AesGcm256 => {
                let (k, s) =
                    ek.split_at_checked(suite.encryption.key_len())
                        .ok_or(Error::KeyLength {
                            what: "encryption",
                            expected: suite.encryption.keymat_len(),
                            got: ek.len(),
                        })?;
                let salt = <[u8; 4]>::try_from(s).map_err(|_| Error::KeyLength {
                    what: "encryption",
                    expected: suite.encryption.keymat_len(),
                    got: ek.len(),
                })?;
                Transform::Aead {
                    key: p.aead(suite.encryption)?.new_key(k)?,
                    salt: Zeroizing::new(salt),
                }
            }
            EncryptionAlgorithm::AesCbc128
            | EncryptionAlgorithm::AesCbc192
            | EncryptionAlgorithm::AesCbc256 => Transform::CbcHmac {
                cipher: p.cipher(suite.encryption)?.new_key(ek)?,
                mac: mac()?,
            },
            EncryptionAlgorithm::Null => Transform::NullHmac { mac: mac()? },
        })
    }
}

/// State common to both directions.
struct Core {
    spi: u32,
    suite: Suite,
    mode: Mode,
    esn: bool,
    transform: Transform,
    lifetimes: Lifetimes,
    created: Instant,
    /// Fast path: no lifetime event can be due before these (recomputed after each event).
    next_time: Option<Instant>,
    next_bytes: u64,
    next_packets: u64,
    soft_fired: bool,
    expired: bool,
    events: VecDeque<Event>,
    counters: Counters,
}

impl Core {
    fn new(cfg: &SaConfig, now: Instant) -> Result<Self, Error> {
        if cfg.spi == 0 {
            return Err(Error::ReservedSpi);
        }
        Ok(Self {
            spi: cfg.spi,
            suite: cfg.suite,
            mode: cfg.mode,
            esn: cfg.esn,
            transform: Transform::new(cfg)?,
            lifetimes: cfg.lifetimes,
            created: now,
            next_time: None,
            next_bytes: 0,
            next_packets: 0,
            soft_fired: false,
            expired: false,
            // At most one of each event kind is ever queued: no allocation after creation.
            events: VecDeque::with_capacity(4),
            counters: Counters::default(),
        })
    }

    fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    fn packets(&self) -> u64 {
        self.counters.pkts_encaps + self.counters.pkts_decaps
    }

    /// Re-evaluates the lifetimes, raising events; true if the SA is (now) expired. Called
    /// twice per packet (before and after it), so the fast path is inlined and the rest cold.
    #[inline]
    fn evaluate(&mut self, now: Instant) -> bool {
        if self.expired {
            return true;
        }
        // Fast path (every packet): nothing can be due yet.
        if self.next_time.is_none_or(|t| now < t)
            && self.counters.bytes < self.next_bytes
            && self.packets() < self.next_packets
        {
            return false;
        }
        self.evaluate_slow(now)
    }

    #[cold]
    #[inline(never)]
    fn evaluate_slow(&mut self, now: Instant) -> bool {
        let age = self.age(now);
        let (bytes, packets) = (self.counters.bytes, self.packets());
        if !self.soft_fired
            && let Some(limit) = reached(&self.lifetimes.soft, age, bytes, packets)
        {
            self.soft_fired = true;
            self.events.push_back(Event::RekeyDue {
                spi: self.spi,
                limit,
            });
        }
        if let Some(limit) = reached(&self.lifetimes.hard, age, bytes, packets) {
            self.expired = true;
            self.soft_fired = true;
            self.events.push_back(Event::Expired {
                spi: self.spi,
                limit,
            });
        }
        // The thresholds still pending: hard ones, and soft ones until the soft event fired.
        let pending = [
            Some(&self.lifetimes.hard),
            (!self.soft_fired).then_some(&self.lifetimes.soft),
        ];
        let pending = pending.into_iter().flatten();
        self.next_time = pending
            .clone()
            .filter_map(|l| l.time)
            .min()
            .and_then(|d| self.created.checked_add(d));
        self.next_bytes = pending
            .clone()
            .filter_map(|l| l.bytes)
            .min()
            .unwrap_or(u64::MAX);
        self.next_packets = pending.filter_map(|l| l.packets).min().unwrap_or(u64::MAX);
        self.expired
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.expired {
            return None;
        }
        let soft = if self.soft_fired {
            None
        } else {
            self.lifetimes.soft.time
        };
        let next = match (soft, self.lifetimes.hard.time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }?;
        self.created.checked_add(next)
    }

    /// AAD for GCM (RFC 4106 §5): SPI and the 32-bit sequence number, or SPI and the 64-bit ESN.
    fn aad(&self, seq: u64, buf: &mut [u8; 12]) -> usize {
        buf[..4].copy_from_slice(&self.spi.to_be_bytes());
        if self.esn {
            buf[4..].copy_from_slice(&seq.to_be_bytes());
            12
        } else {
            buf[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
            8
        }
    }
}

macro_rules! common_methods {
    () => {
        /// The SA's SPI.
        pub fn spi(&self) -> u32 {
            self.core.spi
        }

        /// The SA's algorithms.
        pub fn suite(&self) -> Suite {
            self.core.suite
        }

        /// The SA's mode.
        pub fn mode(&self) -> Mode {
            self.core.mode
        }

        /// Whether the SA uses extended (64-bit) sequence numbers.
        pub fn esn(&self) -> bool {
            self.core.esn
        }

        /// The counters.
        pub fn counters(&self) -> &Counters {
            &self.core.counters
        }

        /// Whether a hard lifetime was reached (the SA refuses packets).
        pub fn is_expired(&self) -> bool {
            self.core.expired
        }

        /// The SA's soft and hard lifetimes.
        pub fn lifetimes(&self) -> &Lifetimes {
            &self.core.lifetimes
        }

        /// What is left of the SA's hard lifetime at `now`: the time, payload bytes and
        /// packets before it expires (`show crypto ipsec sa`'s "remaining key lifetime
        /// (k/sec)"), each zero once reached and `None` where the SA has no such limit.
        pub fn remaining_lifetime(&self, now: Instant) -> crate::Lifetime {
            crate::lifetime::remaining(
                &self.core.lifetimes.hard,
                self.core.age(now),
                self.core.counters.bytes,
                self.core.packets(),
            )
        }

        /// The next event (rekey due, expired, sequence exhausted), if any.
        pub fn poll_event(&mut self) -> Option<Event> {
            self.core.events.pop_front()
        }

        /// When to call `handle_timeout` next (the next time-based lifetime), if ever.
        pub fn poll_timeout(&self) -> Option<Instant> {
            self.core.poll_timeout()
        }

        /// Checks time-based lifetimes; a spurious call is a no-op.
        pub fn handle_timeout(&mut self, now: Instant) {
            self.core.evaluate(now);
        }
    };
}

/// An outbound SA: protects packets with [`OutboundSa::encapsulate`].
pub struct OutboundSa {
    core: Core,
    /// The last sequence number sent (0: none yet).
    seq: u64,
    exhausted: bool,
    tfc_pad_to: usize,
    random: Arc<dyn SecureRandom>,
}

impl fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &format_args!("{:#010x}", self.core.spi))
            .field("suite", &self.core.suite)
            .field("mode", &self.core.mode)
            .field("esn", &self.core.esn)
            .field("seq", &self.seq)
            .field("expired", &self.core.expired)
            .field("counters", &self.core.counters)
            .finish_non_exhaustive()
    }
}

impl OutboundSa {
    /// Creates the SA at time `now` (the start of its lifetime).
    pub fn new(cfg: &SaConfig, now: Instant) -> Result<Self, Error> {
        if cfg.tfc_pad_to.is_some() && cfg.mode != Mode::Tunnel {
            return Err(Error::InvalidConfig(
                "TFC padding needs tunnel mode: in transport mode GRE has no length field to strip it",
            ));
        }
        Ok(Self {
            core: Core::new(cfg, now)?,
            seq: 0,
            exhausted: false,
            tfc_pad_to: cfg.tfc_pad_to.map_or(0, usize::from),
            random: cfg.provider.random.clone(),
        })
    }

    common_methods!();

    /// The last sequence number sent (0 before the first packet).
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// Bytes [`OutboundSa::encapsulate`] writes for a payload of `payload_len` bytes:
    /// header, IV, payload, TFC padding, padding, trailer and ICV.
    pub fn encapsulated_len(&self, payload_len: usize) -> usize {
        self.header_len() + payload_len + self.trailer_len(payload_len)
    }

    /// Protects `plaintext` (an upper-layer packet with protocol `next_header`: 47 for GRE in
    /// transport mode; an IPv4 (4) or IPv6 (41) packet in tunnel mode; 59 for a dummy packet)
    /// into `out`, returning the ESP packet (header to ICV) as a prefix of `out`.
    ///
    /// Never allocates. The sequence number is consumed only on success; it never wraps
    /// ([`Error::SequenceExhausted`]).
    pub fn encapsulate<'o>(
        &mut self,
        now: Instant,
        next_header: u8,
        plaintext: &[u8],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], Error> {
        match self.encapsulate_inner(now, next_header, plaintext, out) {
            Ok(len) => out.get(..len).ok_or(Error::BufferTooSmall { needed: len }),
            Err(e) => {
                self.core.counters.send_errors += 1;
                Err(e)
            }
        }
    }

    fn encapsulate_inner(
        &mut self,
        now: Instant,
        next_header: u8,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let plan = self.plan(now, next_header, plaintext)?;
        let pkt = out
            .get_mut(..plan.total)
            .ok_or(Error::BufferTooSmall { needed: plan.total })?;
        let at = self.header_len();
        pkt.get_mut(at..at + plaintext.len())
            .ok_or(Error::BufferTooSmall { needed: plan.total })?
            .copy_from_slice(plaintext);
        self.seal(now, &plan, pkt)?;
        Ok(plan.total)
    }

    #[cfg(test)]
    pub(crate) fn set_sequence_for_test(&mut self, seq: u64) {
        self.seq = seq;
    }
}

/// An inbound SA: verifies and decrypts packets with [`InboundSa::decapsulate`].
pub struct InboundSa {
    core: Core,
    window: ReplayWindow,
}

impl fmt::Debug for InboundSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundSa")
            .field("spi", &format_args!("{:#010x}", self.core.spi))
            .field("suite", &self.core.suite)
            .field("mode", &self.core.mode)
            .field("esn", &self.core.esn)
            .field("window", &self.window)
            .field("expired", &self.core.expired)
            .field("counters", &self.core.counters)
            .finish_non_exhaustive()
    }
}

impl InboundSa {
    /// Creates the SA at time `now` (the start of its lifetime).
    pub fn new(cfg: &SaConfig, now: Instant) -> Result<Self, Error> {
        if cfg.esn && cfg.replay_window == 0 {
            return Err(Error::InvalidConfig(
                "ESN needs an anti-replay window to infer the high-order bits",
            ));
        }
        Ok(Self {
            core: Core::new(cfg, now)?,
            window: ReplayWindow::new(cfg.replay_window),
        })
    }

    common_methods!();

    /// The anti-replay window.
    pub fn replay_window(&self) -> &ReplayWindow {
        &self.window
    }

    /// The anti-replay window, mutable (for example to resume an SA after a handover).
    pub fn replay_window_mut(&mut self) -> &mut ReplayWindow {
        &mut self.window
    }

    /// Verifies and decrypts the ESP packet `packet` (header to ICV) into `out`, which needs
    /// as many bytes as the ciphertext.
    ///
    /// Order (RFC 4303 §3.4): SPI, ESN inference and replay check, ICV verification (constant
    /// time), only then the replay window update, decryption and the trailer check. Dummy
    /// packets are counted and returned as [`Error::DummyPacket`]. Never allocates.
    pub fn decapsulate<'o>(
        &mut self,
        now: Instant,
        packet: &[u8],
        out: &'o mut [u8],
    ) -> Result<Decapsulated<'o>, Error> {
        match self.decapsulate_inner(now, packet, out) {
            Ok((next_header, sequence, start, len)) => {
                let payload = out.get(start..start + len).unwrap_or_default();
                Ok(Decapsulated {
                    next_header,
                    sequence,
                    payload,
                })
            }
            Err(e) => {
                self.count_drop(&e);
                Err(e)
            }
        }
    }

    fn decapsulate_inner(
        &mut self,
        now: Instant,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<(u8, u64, usize, usize), Error> {
        let plan = self.admit(now, packet)?;
        let trunc = plan.truncated(packet.len());
        let (auth, icv) = packet.split_at_checked(plan.ct.end).ok_or(trunc.clone())?;
        let (hdr_iv, ct) = auth.split_at_checked(plan.ct.start).ok_or(trunc)?;
        let dst = out
            .get_mut(..ct.len())
            .ok_or(Error::BufferTooSmall { needed: ct.len() })?;
        dst.copy_from_slice(ct);
        let (next_header, len) = self.open(now, plan.seq, hdr_iv, dst, icv)?;
        Ok((next_header, plan.seq, 0, len))
    }
}

#[cfg(test)]
mod tests;
