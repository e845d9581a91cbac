//! Unit tests of the resolution side's rules.

use super::super::testing::{
    HUB_NBMA, SPOKE_NBMA, SPOKE_PROTO, binding, events, hub, ip, reply, spoke, transmits,
};
use super::*;
use crate::cache::CacheEvent;
use crate::machine::Backoff;
use crate::wire::Cie;
use dmvpn_wire::{HeaderOptions, IpProtocol};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A UDP packet from `src` to `dst` (header only).
fn ip_packet(src: &str, dst: &str) -> Vec<u8> {
    let h = dmvpn_wire::ip::Repr::new(
        ip(src),
        ip(dst),
        IpProtocol::UDP,
        0,
        &HeaderOptions::default(),
        1,
    )
    .unwrap();
    let mut buf = vec![0; h.buffer_len()];
    h.emit(&mut buf).unwrap();
    buf
}

#[test]
fn resolve_sends_one_request_and_installs_an_incomplete_entry() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    assert_eq!(c.resolve(t0, ip("10.0.0.3")).unwrap(), Resolution::Pending);
    let sent = transmits(&mut c);
    assert_eq!(sent.len(), 1);
    let t = sent.first().unwrap();
    assert_eq!(t.dst, ip(HUB_NBMA));
    let req = Repr::parse_bytes(&t.payload).unwrap();
    assert_eq!(req.packet_type(), PacketType::RESOLUTION_REQUEST);
    assert_eq!(req.dst_proto_addr.ip(), Some(ip("10.0.0.3")));
    let e = c.cache().get(&Prefix::host(ip("10.0.0.3"))).unwrap();
    assert_eq!(e.kind, EntryType::Incomplete);
    // Asking again while it is pending sends nothing more.
    assert_eq!(c.resolve(t0, ip("10.0.0.3")).unwrap(), Resolution::Pending);
    assert!(transmits(&mut c).is_empty());
    assert_eq!(c.pending_resolutions(), 1);
    // The hub's own address is a static map: no request.
    assert_eq!(
        c.resolve(t0, ip("10.0.0.1")).unwrap(),
        Resolution::Cached(ip(HUB_NBMA))
    );
    assert!(transmits(&mut c).is_empty());
}

#[test]
fn reply_for_an_unknown_request_id_is_dropped_and_counted() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    let mut req = Repr::parse_bytes(&sent.payload).unwrap();
    let id = req.request_id().unwrap();
    if let Some(b) = req.message.body_mut() {
        b.request_id = id.wrapping_add(100);
    }
    let forged = reply(
        &req.to_bytes().unwrap(),
        vec![binding("172.16.2.75", "10.0.0.3", 600)],
    );
    let err = c.handle_packet(t0, ip(HUB_NBMA), &forged).unwrap_err();
    assert!(matches!(
        err,
        Error::UnmatchedReply {
            packet_type: PacketType::RESOLUTION_REPLY,
            request_id,
        } if request_id == id.wrapping_add(100)
    ));
    assert_eq!(c.stats().unmatched_replies, 1);
    // Nothing was learned: the resolution is still pending, the entry incomplete.
    assert_eq!(c.pending_resolutions(), 1);
    assert_eq!(
        c.cache().lookup(ip("10.0.0.3")).unwrap().kind,
        EntryType::Incomplete
    );
    // The real reply is still accepted.
    let good = reply(&sent.payload, vec![binding("172.16.2.75", "10.0.0.3", 600)]);
    c.handle_packet(t0, ip(HUB_NBMA), &good).unwrap();
    assert_eq!(
        c.resolve(t0, ip("10.0.0.3")).unwrap(),
        Resolution::Cached(ip("172.16.2.75"))
    );
}

#[test]
fn a_reply_installs_a_dynamic_mapping_with_its_holding_time() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    events(&mut c);
    let ok = reply(&sent.payload, vec![binding("172.16.2.75", "10.0.0.3", 600)]);
    c.handle_packet(t0 + secs(1), ip(HUB_NBMA), &ok).unwrap();
    let e = c.cache().get(&Prefix::host(ip("10.0.0.3"))).unwrap();
    assert_eq!(e.kind, EntryType::Dynamic);
    assert_eq!(e.nbma, Some(ip("172.16.2.75")));
    assert_eq!(e.expires, Some(t0 + secs(601)));
    assert_eq!(c.pending_resolutions(), 0);
    // The machine's own event first, then the cache's (drained at the end of the call).
    let evs = events(&mut c);
    assert_eq!(
        evs.first(),
        Some(&Event::Resolved {
            target: ip("10.0.0.3"),
            prefix: Prefix::host(ip("10.0.0.3")),
            nbma: ip("172.16.2.75"),
        })
    );
    assert!(matches!(evs.get(1), Some(Event::Cache(CacheEvent::Updated(u))) if *u == e));
    assert_eq!(evs.len(), 2);
    // The same reply again matches nothing.
    assert!(c.handle_packet(t0 + secs(1), ip(HUB_NBMA), &ok).is_err());
    assert_eq!(c.stats().unmatched_replies, 1);
}

#[test]
fn a_negative_reply_installs_a_negative_entry() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |c| c.negative_holding_time = secs(7));
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    let no = Cie {
        code: CieCode::NO_BINDING_EXISTS,
        ..Cie::default()
    };
    c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, vec![no]))
        .unwrap();
    assert_eq!(c.resolve(t0, ip("10.0.0.3")).unwrap(), Resolution::Negative);
    let e = c.cache().get(&Prefix::host(ip("10.0.0.3"))).unwrap();
    assert_eq!(e.expires, Some(t0 + secs(7)));
    assert!(events(&mut c).contains(&Event::ResolutionNegative {
        target: ip("10.0.0.3")
    }));
    assert!(transmits(&mut c).is_empty());
}

#[test]
fn unanswered_resolution_backs_off_then_gives_up() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |c| {
        c.resolution_attempts = 3;
        c.resolution_backoff = Backoff {
            initial: secs(1),
            max: secs(2),
        };
    });
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    assert_eq!(transmits(&mut c).len(), 1);
    events(&mut c);
    // Retransmissions at +1 (interval now 2) and +3; the give-up at +5.
    for (at, sends) in [(1, 1), (3, 1), (5, 0)] {
        assert_eq!(c.poll_timeout(), Some(t0 + secs(at)));
        c.handle_timeout(t0 + secs(at));
        assert_eq!(transmits(&mut c).len(), sends, "at +{at} s");
    }
    assert_eq!(c.pending_resolutions(), 0);
    assert!(c.cache().get(&Prefix::host(ip("10.0.0.3"))).is_none());
    let evs = events(&mut c);
    assert_eq!(
        evs.first(),
        Some(&Event::ResolutionFailed {
            target: ip("10.0.0.3")
        })
    );
    assert!(matches!(
        evs.get(1),
        Some(Event::Cache(CacheEvent::Removed(e, RemoveReason::Removed)))
            if e.kind == EntryType::Incomplete
    ));
}

#[test]
fn an_error_indication_quoting_the_request_ends_the_resolution() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    events(&mut c);
    let ei = Repr::error_indication(
        &sent.payload,
        crate::wire::ErrorCode::HOP_COUNT_EXCEEDED,
        0,
        &hub(),
    );
    c.handle_packet(t0, ip(HUB_NBMA), &ei.to_bytes().unwrap())
        .unwrap();
    assert_eq!(c.pending_resolutions(), 0);
    assert!(events(&mut c).contains(&Event::ResolutionFailed {
        target: ip("10.0.0.3")
    }));
}

#[test]
fn a_traffic_indication_resolves_and_ends_in_a_shortcut() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    let data = ip_packet(SPOKE_PROTO, "192.168.3.9");
    let ti = Repr::traffic_indication(&data, &hub()).unwrap();
    c.handle_packet(t0, ip(HUB_NBMA), &ti.to_bytes().unwrap())
        .unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    let req = Repr::parse_bytes(&sent.payload).unwrap();
    assert_eq!(req.dst_proto_addr.ip(), Some(ip("192.168.3.9")));
    events(&mut c);
    // The owner answers for its network 192.168.3.0/24.
    let net = Cie {
        prefix_len: 24,
        ..binding("172.16.3.1", "10.0.0.3", 600)
    };
    c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, vec![net]))
        .unwrap();
    let shortcut = Event::Shortcut {
        prefix: Prefix::new(ip("192.168.3.0"), 24),
        next_hop: ip("10.0.0.3"),
        nbma: ip("172.16.3.1"),
    };
    assert!(events(&mut c).contains(&shortcut));
    // The incomplete host entry gave way to the /24.
    assert!(c.cache().get(&Prefix::host(ip("192.168.3.9"))).is_none());
    // A second indication for the network is a shortcut at once, with no request.
    let again = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "192.168.3.77"), &hub())
        .unwrap()
        .to_bytes()
        .unwrap();
    c.handle_packet(t0, ip(HUB_NBMA), &again).unwrap();
    assert!(transmits(&mut c).is_empty());
    assert_eq!(events(&mut c), vec![shortcut]);
}

const ATTACKER: &str = "198.51.100.66";

/// The spoke's own Resolution Request for `target` with request ID `id`, as a forger
/// would write it to build a reply.
fn guessed_request(id: u32, target: &str) -> Repr {
    let me = crate::wire::Node::new(ip(SPOKE_NBMA), ip(SPOKE_PROTO));
    Repr::resolution_request(id, &me, ip(target), 600, 1400)
}

#[test]
fn replies_guessing_request_ids_after_a_forged_traffic_indication_plant_no_shortcut() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |c| {
        c.common.request_id_key = crate::machine::RequestIdKey::from_seed(7);
    });
    // The attacker spoofs the hub: a Traffic Indication for 200.1.2.3 ...
    let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "200.1.2.3"), &hub()).unwrap();
    c.handle_packet(t0, ip(HUB_NBMA), &ti.to_bytes().unwrap())
        .unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    events(&mut c);
    // ... then replies with request IDs 1..=200, each mapping 128.0.0.0/1 to itself.
    let wide = Cie {
        prefix_len: 1,
        ..binding(ATTACKER, "10.0.0.66", 7200)
    };
    for id in 1..=200 {
        let forged = guessed_request(id, "200.1.2.3")
            .reply(&hub(), vec![wide.clone()])
            .unwrap();
        assert!(
            c.handle_packet(t0, ip(HUB_NBMA), &forged.to_bytes().unwrap())
                .is_err()
        );
    }
    assert_eq!(
        c.stats().unmatched_replies,
        200,
        "no guess hit the request ID"
    );
    assert!(
        !events(&mut c)
            .iter()
            .any(|e| matches!(e, Event::Shortcut { .. })),
        "no shortcut"
    );
    assert_eq!(
        c.cache().lookup(ip("200.1.2.3")).unwrap().kind,
        EntryType::Incomplete
    );
    // The genuine reply still lands.
    let net = Cie {
        prefix_len: 24,
        ..binding("172.16.3.1", "10.0.0.3", 600)
    };
    c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, vec![net]))
        .unwrap();
    assert!(events(&mut c).contains(&Event::Shortcut {
        prefix: Prefix::new(ip("200.1.2.0"), 24),
        next_hop: ip("10.0.0.3"),
        nbma: ip("172.16.3.1"),
    }));
}

#[test]
fn a_reply_is_taken_only_from_the_nhs_asked_or_from_the_nbma_address_it_maps() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    // Even with the right request ID: from a third address, mapping the genuine spoke or
    // the third address's neighbour.
    let genuine = reply(&sent.payload, vec![binding("172.16.2.75", "10.0.0.3", 600)]);
    let elsewhere = reply(&sent.payload, vec![binding("203.0.113.7", "10.0.0.3", 600)]);
    for bytes in [&genuine, &elsewhere] {
        assert!(c.handle_packet(t0, ip(ATTACKER), bytes).is_err());
    }
    assert_eq!(c.stats().replies_refused, 2);
    assert_eq!(
        c.pending_resolutions(),
        1,
        "still waiting for the real answer"
    );
    assert_eq!(
        c.cache().lookup(ip("10.0.0.3")).unwrap().kind,
        EntryType::Incomplete
    );
    // The owner answering directly (phase 2, the hub forwarded the request) from the NBMA
    // address it maps is taken.
    c.handle_packet(t0, ip("172.16.2.75"), &genuine).unwrap();
    assert_eq!(
        c.resolve(t0, ip("10.0.0.3")).unwrap(),
        Resolution::Cached(ip("172.16.2.75"))
    );
}

#[test]
fn a_reply_broader_than_the_responder_may_claim_is_refused_and_counted() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |c| {
        c.local_prefixes.push(Prefix::new(ip("192.168.1.0"), 24))
    });
    let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "200.1.2.3"), &hub()).unwrap();
    c.handle_packet(t0, ip(HUB_NBMA), &ti.to_bytes().unwrap())
        .unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    events(&mut c);
    let owner = |len: u8| {
        vec![Cie {
            prefix_len: len,
            ..binding("172.16.3.1", "10.0.0.3", 600)
        }]
    };
    // A /1 for one host, even from the NHS asked with the right ID.
    assert!(
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, owner(1)))
            .is_err()
    );
    assert_eq!(c.stats().replies_refused, 1);
    assert_eq!(c.pending_resolutions(), 1);
    assert!(
        !events(&mut c)
            .iter()
            .any(|e| matches!(e, Event::Shortcut { .. }))
    );
    // The network behind the owner is what it may claim.
    c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, owner(24)))
        .unwrap();
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, Event::Shortcut { prefix, .. }
        if *prefix == Prefix::new(ip("200.1.2.0"), 24)))
    );
    // A prefix covering this node's own addresses is nobody else's to claim: 10.0.0.0/8
    // for 10.0.0.3 holds this spoke's tunnel address.
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    assert!(
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, owner(8)))
            .is_err()
    );
    assert_eq!(c.stats().replies_refused, 2);
    // 192.168.0.0/16 for 192.168.3.9 holds its LAN.
    c.resolve(t0, ip("192.168.3.9")).unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    assert!(
        c.handle_packet(t0, ip(HUB_NBMA), &reply(&sent.payload, owner(16)))
            .is_err()
    );
    assert_eq!(c.stats().replies_refused, 3);
}

#[test]
fn a_traffic_indication_for_a_pending_resolution_sends_the_request_again_at_once() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "192.168.3.9"), &hub())
        .unwrap()
        .to_bytes()
        .unwrap();
    c.handle_packet(t0, ip(HUB_NBMA), &ti).unwrap();
    let first = transmits(&mut c);
    assert_eq!(first.len(), 1);
    // Retransmissions at +1 and +3 s are lost; the back-off now waits until +7 s.
    for at in [1, 3] {
        c.handle_timeout(t0 + secs(at));
        assert_eq!(transmits(&mut c).len(), 1);
    }
    assert_eq!(c.poll_timeout(), Some(t0 + secs(7)));
    // The hub redirects again at +4 s: the traffic still hairpins, so the request goes
    // again now and the back-off starts over.
    c.handle_packet(t0 + secs(4), ip(HUB_NBMA), &ti).unwrap();
    let again = transmits(&mut c);
    assert_eq!(again.len(), 1, "sent again at once");
    let req = Repr::parse_bytes(&again.first().unwrap().payload).unwrap();
    assert_eq!(req.dst_proto_addr.ip(), Some(ip("192.168.3.9")));
    assert_eq!(c.poll_timeout(), Some(t0 + secs(5)));
    assert_eq!(c.pending_resolutions(), 1, "the same resolution");
    // An indication right after a send adds nothing.
    c.handle_packet(t0 + secs(4), ip(HUB_NBMA), &ti).unwrap();
    assert!(transmits(&mut c).is_empty());
    // The answer to the retried request ends in the shortcut.
    let net = Cie {
        prefix_len: 24,
        ..binding("172.16.3.1", "10.0.0.3", 600)
    };
    events(&mut c);
    c.handle_packet(
        t0 + secs(4),
        ip(HUB_NBMA),
        &reply(&again.first().unwrap().payload, vec![net]),
    )
    .unwrap();
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, Event::Shortcut { .. }))
    );
}

#[test]
fn a_shortcut_resolution_keeps_retrying_while_redirects_are_recent() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |c| {
        c.resolution_attempts = 3;
        c.resolution_backoff = Backoff {
            initial: secs(1),
            max: secs(2),
        };
        c.shortcut_retry_window = secs(20);
    });
    let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "192.168.3.9"), &hub())
        .unwrap()
        .to_bytes()
        .unwrap();
    c.handle_packet(t0, ip(HUB_NBMA), &ti).unwrap();
    events(&mut c);
    // Every request is lost; no further indication gets through. Three attempts (0, +1,
    // +3), then at +5, instead of giving up, it starts over, and so on until the last
    // indication is 20 s old.
    let mut sent = transmits(&mut c).len();
    let mut failed_at = None;
    let mut now = t0;
    while let Some(t) = c.poll_timeout() {
        now = t;
        c.handle_timeout(now);
        sent += transmits(&mut c).len();
        if events(&mut c)
            .iter()
            .any(|e| matches!(e, Event::ResolutionFailed { .. }))
        {
            failed_at = Some(now);
            break;
        }
        assert!(now < t0 + secs(60));
    }
    let failed_at = failed_at.unwrap();
    assert!(
        failed_at >= t0 + secs(20),
        "given up at {:?}",
        failed_at - t0
    );
    assert!(
        failed_at <= t0 + secs(25),
        "given up at {:?}",
        failed_at - t0
    );
    assert!(sent >= 12, "{sent} requests");
    // A data-path resolution (no indication) still gives up after its three attempts.
    c.resolve(now, ip("10.0.0.3")).unwrap();
    let start = now;
    transmits(&mut c);
    loop {
        let t = c.poll_timeout().unwrap();
        c.handle_timeout(t);
        transmits(&mut c);
        if events(&mut c)
            .iter()
            .any(|e| matches!(e, Event::ResolutionFailed { .. }))
        {
            assert_eq!(t - start, secs(5));
            break;
        }
    }
}

/// Runs `c`'s timers until `end` (from `t0`); returns when it sent requests, as offsets
/// from `t0`, and when a resolution failed, if one did.
fn request_times(c: &mut Client, t0: Instant, end: Duration) -> (Vec<Duration>, Option<Duration>) {
    let mut sent = Vec::new();
    while let Some(t) = c.poll_timeout().filter(|&t| t <= t0 + end) {
        c.handle_timeout(t);
        sent.extend(transmits(c).iter().map(|_| t - t0));
        if events(c)
            .iter()
            .any(|e| matches!(e, Event::ResolutionFailed { .. }))
        {
            return (sent, Some(t - t0));
        }
    }
    (sent, None)
}

#[test]
fn a_traffic_indication_just_after_a_request_brings_the_next_one_forward() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "192.168.3.9"), &hub())
        .unwrap()
        .to_bytes()
        .unwrap();
    c.handle_packet(t0, ip(HUB_NBMA), &ti).unwrap();
    assert_eq!(transmits(&mut c).len(), 1);
    // Requests at +1 and +3 s are lost too; the back-off waits until +7 s.
    let (sent, _) = request_times(&mut c, t0, secs(3));
    assert_eq!(sent, vec![secs(1), secs(3)]);
    assert_eq!(c.poll_timeout(), Some(t0 + secs(7)));
    // The hub redirects again 500 ms after the +3 s request: nothing goes at once (a request
    // went less than the initial back-off ago), but the back-off starts over from that
    // request, so the next goes at +4 s rather than +7 s, and then 2 s later.
    let at = t0 + Duration::from_millis(3500);
    c.handle_packet(at, ip(HUB_NBMA), &ti).unwrap();
    assert!(transmits(&mut c).is_empty());
    assert_eq!(c.poll_timeout(), Some(t0 + secs(4)));
    let (sent, _) = request_times(&mut c, t0, secs(6));
    assert_eq!(sent, vec![secs(4), secs(6)]);
    assert_eq!(c.pending_resolutions(), 1, "the same resolution");
}

#[test]
fn a_redirected_resolution_backs_off_to_at_most_shortcut_backoff_max() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |_| {});
    assert_eq!(c.config().shortcut_backoff_max, secs(4));
    let ti = Repr::traffic_indication(&ip_packet(SPOKE_PROTO, "192.168.3.9"), &hub())
        .unwrap()
        .to_bytes()
        .unwrap();
    c.handle_packet(t0, ip(HUB_NBMA), &ti).unwrap();
    assert_eq!(transmits(&mut c).len(), 1);
    // Every request lost, no further indication: 1, 2, then 4 s apart (not 8, 16), and after
    // the fifth attempt it starts over (the indication is less than 60 s old).
    let (sent, failed) = request_times(&mut c, t0, secs(30));
    let expect: Vec<Duration> = [1, 3, 7, 11, 15, 16, 18, 22, 26, 30]
        .into_iter()
        .map(secs)
        .collect();
    assert_eq!(sent, expect);
    assert_eq!(failed, None);
    // A data-path resolution keeps the full back-off and gives up after five attempts.
    let mut c = spoke(t0, |_| {});
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    assert_eq!(transmits(&mut c).len(), 1);
    let (sent, failed) = request_times(&mut c, t0, secs(60));
    let expect: Vec<Duration> = [1, 3, 7, 15].into_iter().map(secs).collect();
    assert_eq!(sent, expect);
    assert_eq!(failed, Some(secs(31)));
}

#[test]
fn a_used_mapping_is_refreshed_in_its_last_window_only() {
    let t0 = Instant::now();
    let mut c = spoke(t0, |c| c.refresh_window = secs(60));
    c.resolve(t0, ip("10.0.0.3")).unwrap();
    let sent = transmits(&mut c).pop().unwrap();
    let ok = reply(&sent.payload, vec![binding("172.16.2.75", "10.0.0.3", 300)]);
    c.handle_packet(t0, ip(HUB_NBMA), &ok).unwrap();
    assert_eq!(
        c.mark_used(t0 + secs(200), ip("10.0.0.3")),
        Some(ip("172.16.2.75"))
    );
    assert!(transmits(&mut c).is_empty(), "100 s left: no refresh yet");
    assert_eq!(
        c.mark_used(t0 + secs(240), ip("10.0.0.3")),
        Some(ip("172.16.2.75"))
    );
    let refresh = transmits(&mut c);
    assert_eq!(refresh.len(), 1, "60 s left: refreshed");
    // A refresh keeps the mapping usable (no incomplete entry in its place).
    assert_eq!(
        c.cache().lookup(ip("10.0.0.3")).unwrap().kind,
        EntryType::Dynamic
    );
    let e = c.cache().lookup(ip("10.0.0.3")).unwrap();
    assert!(e.flags.contains(EntryFlags::USED));
    assert_eq!(e.last_used, Some(t0 + secs(240)));
    // The refreshed entry keeps its use.
    let ok = reply(
        &refresh.first().unwrap().payload,
        vec![binding("172.16.2.75", "10.0.0.3", 300)],
    );
    c.handle_packet(t0 + secs(241), ip(HUB_NBMA), &ok).unwrap();
    let e = c.cache().lookup(ip("10.0.0.3")).unwrap();
    assert_eq!(e.expires, Some(t0 + secs(541)));
    assert!(e.flags.contains(EntryFlags::USED));
    assert_eq!(e.last_used, Some(t0 + secs(240)));
}
