//! Negotiation helpers of the state machines: proposal selection (RFC 7296 §2.7, §3.3.6),
//! traffic selector narrowing (§2.9) and NAT detection hashes (§2.23).

use core::cmp::{max, min};
use core::net::{IpAddr, SocketAddr};

use sha1::{Digest, Sha1};

use crate::transform::{EsnId, IntegId, KeGroup, TransformType};
use crate::wire::{Proposal, TrafficSelector, Transform};

/// The transform types a proposal of `protocol` is compared on.
const TYPES: [TransformType; 5] = [
    TransformType::ENCR,
    TransformType::PRF,
    TransformType::INTEG,
    TransformType::KE,
    TransformType::ESN,
];

/// INTEG NONE, KE NONE and ESN "no ESN": what an absent transform type means.
static INTEG_NONE: Transform = Transform {
    transform_type: TransformType::INTEG,
    transform_id: IntegId::NONE.0,
    attributes: Vec::new(),
};
static KE_NONE: Transform = Transform {
    transform_type: TransformType::KE,
    transform_id: KeGroup::NONE.0,
    attributes: Vec::new(),
};
static ESN_NO: Transform = Transform {
    transform_type: TransformType::ESN,
    transform_id: EsnId::NO.0,
    attributes: Vec::new(),
};

/// The transforms of one type in a proposal; absent INTEG and KE mean "NONE", absent ESN means
/// "no ESN" (RFC 7296 §3.3.3). Borrowed, nothing copied.
fn of_type(p: &Proposal, ty: TransformType) -> impl Iterator<Item = &Transform> + Clone {
    let given = p.transforms.iter().filter(move |t| t.transform_type == ty);
    let implicit = if given.clone().next().is_some() {
        None
    } else {
        match ty {
            TransformType::INTEG => Some(&INTEG_NONE),
            TransformType::KE => Some(&KE_NONE),
            TransformType::ESN if p.protocol_id != crate::wire::ProtocolId::IKE => Some(&ESN_NO),
            _ => None,
        }
    };
    given.chain(implicit)
}

/// Whether a transform is an explicit "none" that need not be sent.
fn is_none(t: &Transform) -> bool {
    (t.transform_type == TransformType::INTEG && t.transform_id == IntegId::NONE.0)
        || (t.transform_type == TransformType::KE && t.transform_id == KeGroup::NONE.0)
}

/// Removes KE transforms (the ESP proposals of IKE_AUTH carry no key exchange, §1.2).
pub(crate) fn without_ke(p: &Proposal) -> Proposal {
    let mut p = p.clone();
    p.transforms
        .retain(|t| t.transform_type != TransformType::KE);
    p
}

/// The responder's choice (§2.7): the first of the peer's proposals (in its order of preference)
/// that one of ours accepts, reduced to one transform per type (the peer's most preferred one that
/// we also offer). The result keeps the peer's proposal number; its SPI is the peer's (the caller
/// replaces it with its own).
pub(crate) fn select(ours: &[Proposal], theirs: &[Proposal]) -> Option<Proposal> {
    for p in theirs {
        for q in ours.iter().filter(|q| q.protocol_id == p.protocol_id) {
            if let Some(chosen) = intersect(q, p) {
                return Some(chosen);
            }
        }
    }
    None
}

fn intersect(ours: &Proposal, theirs: &Proposal) -> Option<Proposal> {
    let mut transforms = Vec::new();
    for ty in TYPES {
        let mine = of_type(ours, ty);
        let mut peer = of_type(theirs, ty);
        if mine.clone().next().is_none() && peer.clone().next().is_none() {
            continue;
        }
        let pick = peer.find(|t| mine.clone().any(|m| m == *t))?;
        let sent = theirs.of_type(ty).next().is_some();
        if sent || !is_none(pick) {
            transforms.push(pick.clone());
        }
    }
    Some(Proposal {
        number: theirs.number,
        protocol_id: theirs.protocol_id,
        spi: theirs.spi.clone(),
        transforms,
    })
}

/// Whether the responder's `chosen` proposal is one we offered (§2.7): same protocol, a proposal
/// of ours with every chosen transform, one transform per type.
pub(crate) fn accepted(offered: &[Proposal], chosen: &Proposal) -> bool {
    for ty in TYPES {
        if chosen.of_type(ty).count() > 1 {
            return false;
        }
    }
    offered.iter().any(|o| {
        o.protocol_id == chosen.protocol_id
            && TYPES.iter().all(|&ty| {
                let mut m = of_type(o, ty);
                match of_type(chosen, ty).next() {
                    Some(t) => m.any(|x| x == t),
                    None => m.all(is_none),
                }
            })
    })
}

/// The key exchange group of a (chosen) proposal, if it has one other than NONE.
pub(crate) fn ke_group(p: &Proposal) -> Option<KeGroup> {
    p.of_type(TransformType::KE)
        .map(|t| KeGroup(t.transform_id))
        .find(|g| *g != KeGroup::NONE)
}

/// Whether any of our proposals allows key exchange group `g`.
pub(crate) fn offers_group(ours: &[Proposal], g: KeGroup) -> bool {
    ours.iter()
        .any(|p| p.of_type(TransformType::KE).any(|t| t.transform_id == g.0))
}

/// Whether the chosen proposal negotiated extended sequence numbers.
pub(crate) fn esn(p: &Proposal) -> bool {
    p.of_type(TransformType::ESN)
        .any(|t| t.transform_id == EsnId::YES.0)
}

fn addr_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn addr_from(v6: bool, k: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(k.into())
    } else {
        IpAddr::V4(u32::try_from(k).unwrap_or(u32::MAX).into())
    }
}

/// The intersection of two selectors (§2.9), if not empty: the common address range, port
/// range, and protocol (0 matches any).
pub fn ts_intersect(a: &TrafficSelector, b: &TrafficSelector) -> Option<TrafficSelector> {
    let (
        TrafficSelector::Range {
            ip_protocol: pa,
            start_port: sa,
            end_port: ea,
            start: a0,
            end: a1,
        },
        TrafficSelector::Range {
            ip_protocol: pb,
            start_port: sb,
            end_port: eb,
            start: b0,
            end: b1,
        },
    ) = (a, b)
    else {
        return None;
    };
    if a0.is_ipv6() != b0.is_ipv6() || a1.is_ipv6() != a0.is_ipv6() || b1.is_ipv6() != b0.is_ipv6()
    {
        return None;
    }
    let ip_protocol = match (*pa, *pb) {
        (0, p) | (p, 0) => p,
        (x, y) if x == y => x,
        _ => return None,
    };
    let (sp, ep) = (max(*sa, *sb), min(*ea, *eb));
    let (lo, hi) = (
        max(addr_key(*a0), addr_key(*b0)),
        min(addr_key(*a1), addr_key(*b1)),
    );
    if sp > ep || lo > hi {
        return None;
    }
    let v6 = a0.is_ipv6();
    Some(TrafficSelector::Range {
        ip_protocol,
        start_port: sp,
        end_port: ep,
        start: addr_from(v6, lo),
        end: addr_from(v6, hi),
    })
}

/// Narrows the peer's proposed selectors to our policy (§2.9): every non-empty intersection of a
/// proposed selector with an allowed one, without duplicates. Empty means TS_UNACCEPTABLE.
pub fn narrow(proposed: &[TrafficSelector], allowed: &[TrafficSelector]) -> Vec<TrafficSelector> {
    let mut out = Vec::new();
    for p in proposed {
        for a in allowed {
            if let Some(ts) = ts_intersect(p, a)
                && !out.contains(&ts)
            {
                out.push(ts);
            }
        }
    }
    out
}

/// The selectors with their address ranges replaced by one host address, protocols and ports
/// kept (RFC 7296 §2.23.1: transport mode through a NAT substitutes the addresses the IKE SA
/// runs between for the ones in the payloads, which name the peer's private address or our
/// public one). Selectors of the other family, or of an unknown type, are dropped.
pub fn ts_with_host(selectors: &[TrafficSelector], host: IpAddr) -> Vec<TrafficSelector> {
    let mut out = Vec::new();
    for ts in selectors {
        if let TrafficSelector::Range {
            ip_protocol,
            start_port,
            end_port,
            start,
            ..
        } = ts
            && start.is_ipv6() == host.is_ipv6()
        {
            let t = TrafficSelector::Range {
                ip_protocol: *ip_protocol,
                start_port: *start_port,
                end_port: *end_port,
                start: host,
                end: host,
            };
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// The selectors with their address ranges widened to the whole family, protocols and ports
/// kept: narrowing the peer's original selectors by these keeps the peer's addresses and our
/// protocol and port choice (§2.23.1: the responder answers with the original selectors).
pub fn ts_any_address(selectors: &[TrafficSelector]) -> Vec<TrafficSelector> {
    selectors
        .iter()
        .filter_map(|ts| match ts {
            TrafficSelector::Range {
                ip_protocol,
                start_port,
                end_port,
                start,
                ..
            } => {
                let TrafficSelector::Range {
                    start: lo, end: hi, ..
                } = TrafficSelector::any(start.is_ipv6(), *ip_protocol)
                else {
                    return None;
                };
                Some(TrafficSelector::Range {
                    ip_protocol: *ip_protocol,
                    start_port: *start_port,
                    end_port: *end_port,
                    start: lo,
                    end: hi,
                })
            }
            TrafficSelector::Unknown { .. } => None,
        })
        .collect()
}

/// Whether every selector of `got` lies within one of `proposed` (the initiator's check of the
/// responder's narrowed selectors).
pub fn ts_subset(got: &[TrafficSelector], proposed: &[TrafficSelector]) -> bool {
    !got.is_empty()
        && got.iter().all(|g| {
            proposed
                .iter()
                .any(|p| ts_intersect(g, p).as_ref() == Some(g))
        })
}

/// A selector covering an address prefix (`addr/len`), all protocols and ports.
pub fn ts_prefix(addr: IpAddr, len: u8) -> TrafficSelector {
    let (bits, v6) = match addr {
        IpAddr::V4(_) => (32u32, false),
        IpAddr::V6(_) => (128u32, true),
    };
    let len = u32::from(len).min(bits);
    let host_bits = bits - len;
    let k = addr_key(addr);
    let mask: u128 = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    TrafficSelector::Range {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start: addr_from(v6, k & !mask),
        end: addr_from(v6, k | mask),
    }
}

/// The NAT detection hash (§2.23): SHA-1(SPIi | SPIr | IP | Port).
pub fn nat_detection_hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> Vec<u8> {
    let mut h = Sha1::new();
    h.update(spi_i.to_be_bytes());
    h.update(spi_r.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(a) => h.update(a.octets()),
        IpAddr::V6(a) => h.update(a.octets()),
    }
    h.update(addr.port().to_be_bytes());
    h.finalize().to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::wire::ProtocolId;

    fn p(s: &str, proto: ProtocolId) -> Proposal {
        Proposal::from_strongswan(s, proto).unwrap()
    }

    #[test]
    fn selects_peer_preference_within_ours() {
        let ours = [p("aes128-sha256-modp2048", ProtocolId::IKE)];
        let theirs = [
            p("aes256gcm16-prfsha256-x25519", ProtocolId::IKE),
            p("aes256-aes128-sha256-x25519-modp2048", ProtocolId::IKE),
        ];
        let c = select(&ours, &theirs).unwrap();
        assert_eq!(c.to_strongswan(), "aes128-sha256-modp2048");
        assert!(accepted(&ours, &c));
        assert!(!accepted(
            &[p("aes256-sha256-modp2048", ProtocolId::IKE)],
            &c
        ));
        assert!(select(&[p("aes256-sha384-ecp256", ProtocolId::IKE)], &theirs).is_none());
    }

    #[test]
    fn esp_without_ke_matches_after_stripping() {
        let ours = [without_ke(&p("aes256gcm16-x25519", ProtocolId::ESP))];
        let theirs = [p("aes256gcm16", ProtocolId::ESP)];
        let c = select(&ours, &theirs).unwrap();
        assert_eq!(ke_group(&c), None);
        assert!(!esn(&c));
        assert!(select(&[p("aes256gcm16-x25519", ProtocolId::ESP)], &theirs).is_none());
    }

    #[test]
    fn narrowing() {
        let a = ts_prefix("10.0.0.0".parse().unwrap(), 8);
        let b = ts_prefix("10.1.2.3".parse().unwrap(), 24);
        let n = narrow(std::slice::from_ref(&a), std::slice::from_ref(&b));
        assert_eq!(n, vec![b.clone()]);
        assert!(ts_subset(&n, std::slice::from_ref(&a)));
        assert!(!ts_subset(
            std::slice::from_ref(&a),
            std::slice::from_ref(&b)
        ));
        let c = ts_prefix("192.168.0.0".parse().unwrap(), 16);
        assert!(narrow(&[a], &[c]).is_empty());
        let gre = TrafficSelector::host("10.1.2.3".parse().unwrap(), 47);
        assert_eq!(ts_intersect(&b, &gre), Some(gre.clone()));
        let udp = TrafficSelector::host("10.1.2.3".parse().unwrap(), 17);
        assert_eq!(ts_intersect(&udp, &gre), None);
    }

    #[test]
    fn nat_hash_depends_on_every_input() {
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let h = nat_detection_hash(1, 2, a);
        assert_eq!(h.len(), 20);
        assert_ne!(h, nat_detection_hash(1, 3, a));
        assert_ne!(
            h,
            nat_detection_hash(1, 2, "192.0.2.1:4500".parse().unwrap())
        );
    }

    #[test]
    fn nat_substitution_keeps_protocols_and_ports_and_drops_the_other_family() {
        let v4 = |a: &str| a.parse::<IpAddr>().unwrap();
        let gre = TrafficSelector::host(v4("10.1.1.1"), 47);
        let udp = TrafficSelector::Range {
            ip_protocol: 17,
            start_port: 500,
            end_port: 4500,
            start: v4("10.0.0.0"),
            end: v4("10.255.255.255"),
        };
        let v6 = TrafficSelector::host("2001:db8::1".parse().unwrap(), 47);
        let got = ts_with_host(&[gre.clone(), gre, udp, v6], v4("198.51.100.7"));
        assert_eq!(
            got,
            vec![
                TrafficSelector::host(v4("198.51.100.7"), 47),
                TrafficSelector::Range {
                    ip_protocol: 17,
                    start_port: 500,
                    end_port: 4500,
                    start: v4("198.51.100.7"),
                    end: v4("198.51.100.7"),
                },
            ]
        );
        // Widened back: the peer's originals narrowed by it keep their addresses and our
        // protocol choice (any protocol proposed, GRE chosen).
        let wide = ts_any_address(&[TrafficSelector::host(v4("198.51.100.7"), 47)]);
        let orig = TrafficSelector::host(v4("10.1.1.1"), 0);
        assert_eq!(
            narrow(&[orig], &wide),
            vec![TrafficSelector::host(v4("10.1.1.1"), 47)]
        );
    }
}
