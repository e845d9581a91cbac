//! The settings both roles share: addresses, authentication, `max-send`, receive checks,
//! back-off and queue bounds.

use core::fmt;
use std::net::IpAddr;
use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use zeroize::Zeroize;

use crate::wire::Secret;

/// What to do with a packet over the `max-send` quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OverQuota {
    /// Keep it (up to [`MaxSend::max_held`]) and send it when the window has room.
    #[default]
    Hold,
    /// Drop it.
    Drop,
}

/// `ip nhrp max-send PKTS every SECS`: at most `packets` NHRP packets per `interval` per
/// instance, counting every packet sent (requests, replies, forwarded, errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxSend {
    /// Packets per interval (IOS default 100).
    pub packets: u32,
    /// The interval (IOS default 10 s).
    pub interval: Duration,
    /// Hold or drop packets over the quota.
    pub over_quota: OverQuota,
    /// Most packets held at once (further ones are dropped and counted).
    pub max_held: usize,
}

impl MaxSend {
    /// `ip nhrp max-send PACKETS every INTERVAL`, holding up to 256 packets over the quota.
    pub fn new(packets: u32, interval: Duration) -> MaxSend {
        MaxSend {
            packets,
            interval,
            over_quota: OverQuota::Hold,
            max_held: 256,
        }
    }
}

/// The IOS default: 100 packets every 10 seconds.
impl Default for MaxSend {
    fn default() -> Self {
        MaxSend::new(100, Duration::from_secs(10))
    }
}

/// How strictly received packets are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReceiveMode {
    /// Accept what Cisco IOS sends: Traffic Indications (type 8, not in RFC 2332) and hop
    /// count 0 on packets processed locally.
    #[default]
    CiscoCompatible,
    /// RFC 2332 only: Traffic Indications and packets arriving with hop count 0 are dropped.
    StrictRfc,
}

/// Back-off of retransmissions: `initial`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backoff {
    /// First retransmission interval (default 1 s).
    pub initial: Duration,
    /// Largest interval (default 64 s).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(64),
        }
    }
}

impl Backoff {
    /// The interval after `interval`.
    pub fn next(&self, interval: Duration) -> Duration {
        interval.saturating_mul(2).min(self.max).max(self.initial)
    }
}

/// The key a machine draws its NHRP request IDs from: 32 bytes of the caller's randomness
/// (Sans-IO: no machine reads a global random source). Zeroized on drop, redacted in `Debug`.
///
/// A request ID is all that ties a reply to its request (RFC 2332 §5.2.2: the reply carries
/// the request's ID), so IDs that count up let an off-path attacker answer requests it never
/// saw: a forged Traffic Indication, then replies with IDs 1, 2, 3, … A machine therefore
/// draws each ID from ChaCha20 keyed with this key (the client and the server role on
/// separate streams), skipping zero and any ID of its own still outstanding. The same key
/// gives the same IDs, so simulations seeded from a number stay deterministic
/// ([`RequestIdKey::from_seed`]); a real node takes its key from the operating system.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RequestIdKey([u8; 32]);

/// The stream of the derivations of [`RequestIdKey::derive`] (high bit set), apart from the
/// streams IDs are drawn from (the role, a small number).
const DERIVE_STREAMS: u64 = 1 << 63;

impl RequestIdKey {
    /// A key from 32 random bytes.
    pub fn new(bytes: [u8; 32]) -> RequestIdKey {
        RequestIdKey(bytes)
    }

    /// A key expanded from a 64-bit seed: deterministic, for tests and simulators (anyone who
    /// knows the seed knows the IDs).
    pub fn from_seed(seed: u64) -> RequestIdKey {
        let mut bytes = [0; 32];
        ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
        RequestIdKey(bytes)
    }

    /// The key of machine `index` of several keyed from this one (one per tunnel interface,
    /// say): keys for different indexes are independent, and none gives this key's IDs.
    pub fn derive(&self, index: u64) -> RequestIdKey {
        let mut rng = ChaCha20Rng::from_seed(self.0);
        rng.set_stream(DERIVE_STREAMS | index);
        let mut bytes = [0; 32];
        rng.fill_bytes(&mut bytes);
        RequestIdKey(bytes)
    }

    /// The generator of the IDs of role `stream` (0: client, 1: server).
    pub(crate) fn ids(&self, stream: u64) -> ChaCha20Rng {
        let mut rng = ChaCha20Rng::from_seed(self.0);
        rng.set_stream(stream);
        rng
    }
}

impl fmt::Debug for RequestIdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestIdKey(<redacted>)")
    }
}

impl Drop for RequestIdKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Settings both roles have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// `ip nhrp network-id`: identifies the NHRP instance (one machine per network-id; it is
    /// local and never sent).
    pub network_id: u32,
    /// The tunnel interface name used in `show` output.
    pub interface: String,
    /// This node's NBMA address (`tunnel source`).
    pub nbma_addr: IpAddr,
    /// This node's protocol address (the tunnel's `ip address`).
    pub protocol_addr: IpAddr,
    /// `ip nhrp authentication`: the cleartext password, 1 to 8 bytes (zeroized, redacted).
    pub authentication: Option<Secret>,
    /// Answer an authentication failure with an Error Indication "Authentication Failure"
    /// (otherwise the packet is only dropped and counted).
    pub authentication_failure_indication: bool,
    /// `ip nhrp max-send`.
    pub max_send: MaxSend,
    /// Cisco-compatible or strict RFC 2332 receive checks.
    pub receive_mode: ReceiveMode,
    /// MTU announced in CIEs (the tunnel's IP MTU).
    pub mtu: u16,
    /// The key request IDs are drawn from ([`RequestIdKey`]): give each node its own,
    /// from the caller's randomness. [`Common::new`] starts from the all-zero key, whose IDs
    /// anyone can compute: fine for tests, not for a cloud without IPsec.
    pub request_id_key: RequestIdKey,
    /// Most transmits queued (further ones are dropped and counted).
    pub max_transmits: usize,
    /// Most events queued. Reports that carry no state (NHS up/down, quota warnings, …) beyond
    /// it are dropped and counted; cache events are never dropped: they wait in the cache's
    /// queue, and while it is full too, expiry is deferred and new entries are refused (see
    /// [`crate::Cache`]).
    pub max_events: usize,
}

impl Common {
    /// Defaults for a node with these addresses.
    pub fn new(nbma_addr: IpAddr, protocol_addr: IpAddr) -> Common {
        Common {
            network_id: 1,
            interface: "Tunnel0".into(),
            nbma_addr,
            protocol_addr,
            authentication: None,
            authentication_failure_indication: false,
            max_send: MaxSend::default(),
            receive_mode: ReceiveMode::default(),
            mtu: 1400,
            request_id_key: RequestIdKey::default(),
            max_transmits: 1024,
            max_events: 1024,
        }
    }

    pub(crate) fn validate(&self, problems: &mut Vec<String>) {
        if let Some(p) = &self.authentication
            && (p.is_empty() || p.len() > 8)
        {
            problems.push(format!(
                "authentication: the password must be 1 to 8 bytes, got {}",
                p.len()
            ));
        }
        if self.max_send.packets == 0 {
            problems.push("max_send: packets must be at least 1".into());
        }
        if self.max_send.interval.is_zero() {
            problems.push("max_send: interval must not be zero".into());
        }
        if self.max_transmits == 0 {
            problems.push("max_transmits must be at least 1".into());
        }
        if self.max_events == 0 {
            problems.push("max_events must be at least 1".into());
        }
        if self.nbma_addr.is_unspecified() {
            problems.push("nbma_addr must not be unspecified".into());
        }
        if self.protocol_addr.is_unspecified() {
            problems.push("protocol_addr must not be unspecified".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_never_drops_below_the_start() {
        let b = Backoff::default();
        let s = Duration::from_secs;
        assert_eq!(b.next(s(1)), s(2));
        assert_eq!(b.next(s(32)), s(64));
        assert_eq!(b.next(s(64)), s(64));
        assert_eq!(b.next(Duration::ZERO), s(1));
        assert_eq!(b.next(Duration::MAX), s(64));
    }

    #[test]
    fn max_send_defaults_to_the_ios_quota() {
        let m = MaxSend::default();
        assert_eq!((m.packets, m.interval), (100, Duration::from_secs(10)));
        assert_eq!(m.over_quota, OverQuota::Hold);
        assert_eq!(MaxSend::new(5, Duration::from_secs(1)).max_held, m.max_held);
    }

    #[test]
    fn common_validation_reports_every_problem() {
        let mut c = Common::new(ip("0.0.0.0"), ip("10.0.0.2"));
        assert_eq!(c.max_send, MaxSend::default());
        c.authentication = Some(Secret::new(b"too-long-password".to_vec()));
        c.max_send.packets = 0;
        c.max_events = 0;
        let mut problems = Vec::new();
        c.validate(&mut problems);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("1 to 8 bytes, got 17")));
        assert!(problems.iter().any(|p| p.contains("nbma_addr")));
        let mut none = Vec::new();
        Common::new(ip("172.16.1.24"), ip("10.0.0.2")).validate(&mut none);
        assert!(none.is_empty(), "{none:?}");
    }
}
