//! SA lifetimes (RFC 4301 §4.4.2.1): soft limits announce that a rekey is due, hard limits
//! end the SA. Each is by time, bytes and packets, whichever comes first.

use std::time::Duration;

/// One set of limits; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Lifetime {
    /// Time since the SA was created.
    pub time: Option<Duration>,
    /// Payload bytes protected (or accepted) by the SA.
    pub bytes: Option<u64>,
    /// Packets protected (or accepted) by the SA.
    pub packets: Option<u64>,
}

/// Soft and hard lifetimes of an SA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Lifetimes {
    /// Reaching any soft limit raises [`crate::Event::RekeyDue`] once.
    pub soft: Lifetime,
    /// Reaching any hard limit raises [`crate::Event::Expired`] once; the SA then refuses
    /// packets with [`crate::Error::Expired`].
    pub hard: Lifetime,
}

impl Lifetimes {
    /// No limits at all.
    pub const UNLIMITED: Lifetimes = Lifetimes {
        soft: Lifetime {
            time: None,
            bytes: None,
            packets: None,
        },
        hard: Lifetime {
            time: None,
            bytes: None,
            packets: None,
        },
    };

    /// Hard limits as given, soft limits at 90 % of each (Cisco IOS and strongSwan both rekey
    /// ahead of expiry).
    pub fn from_hard(hard: Lifetime) -> Self {
        let tenth = |v: u64| v - v / 10;
        Self {
            soft: Lifetime {
                time: hard.time.map(|t| t - t / 10),
                bytes: hard.bytes.map(tenth),
                packets: hard.packets.map(tenth),
            },
            hard,
        }
    }

    /// Cisco IOS's default IPsec SA lifetime: 3600 seconds and 4,608,000 kilobytes
    /// (`crypto ipsec security-association lifetime`), soft limits at 90 %.
    pub fn cisco_default() -> Self {
        Self::from_hard(Lifetime {
            time: Some(Duration::from_secs(3600)),
            bytes: Some(4_608_000 * 1024),
            packets: None,
        })
    }
}

/// Which limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The time limit.
    Time,
    /// The byte limit.
    Bytes,
    /// The packet limit.
    Packets,
}

/// Whether usage reached a limit, and which (time first, then bytes, then packets).
pub(crate) fn reached(l: &Lifetime, age: Duration, bytes: u64, packets: u64) -> Option<Limit> {
    if l.time.is_some_and(|t| age >= t) {
        Some(Limit::Time)
    } else if l.bytes.is_some_and(|b| bytes >= b) {
        Some(Limit::Bytes)
    } else if l.packets.is_some_and(|p| packets >= p) {
        Some(Limit::Packets)
    } else {
        None
    }
}

/// What is left of `l` after `age`, `bytes` and `packets` of use: each limit minus the usage,
/// zero once reached, `None` where `l` has no limit of that kind (`show crypto ipsec sa`'s
/// "remaining key lifetime").
pub(crate) fn remaining(l: &Lifetime, age: Duration, bytes: u64, packets: u64) -> Lifetime {
    Lifetime {
        time: l.time.map(|t| t.saturating_sub(age)),
        bytes: l.bytes.map(|b| b.saturating_sub(bytes)),
        packets: l.packets.map(|p| p.saturating_sub(packets)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_is_the_limit_less_the_usage_and_stops_at_zero() {
        let l = Lifetime {
            time: Some(Duration::from_secs(3600)),
            bytes: Some(4_608_000 * 1024),
            packets: None,
        };
        let left = remaining(&l, Duration::from_secs(17), 10 * 1024, 99);
        assert_eq!(left.time, Some(Duration::from_secs(3583)));
        assert_eq!(left.bytes, Some(4_607_990 * 1024));
        assert_eq!(left.packets, None, "no packet limit: none left to count");
        let past = remaining(&l, Duration::from_secs(4000), u64::MAX, 0);
        assert_eq!(past.time, Some(Duration::ZERO));
        assert_eq!(past.bytes, Some(0));
        assert_eq!(
            remaining(&Lifetime::default(), Duration::MAX, 1, 1),
            Lifetime::default()
        );
    }
}
