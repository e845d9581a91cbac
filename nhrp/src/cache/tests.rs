//! Tests of the cache.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn longest_prefix_expiry_and_events() {
    let t0 = Instant::now();
    let mut c = Cache::new(3, 16);
    let mut net = Entry::new(
        t0,
        Prefix::new(ip("192.168.2.77"), 24),
        ip("10.0.0.3"),
        Some(ip("172.16.2.75")),
        EntryType::Dynamic,
    );
    net.expires = Some(t0 + Duration::from_secs(300));
    c.insert(t0, net).unwrap();
    let mut host = Entry::new(
        t0,
        Prefix::host(ip("192.168.2.3")),
        ip("10.0.0.4"),
        Some(ip("172.16.2.76")),
        EntryType::Static,
    );
    host.flags = EntryFlags::AUTHORITATIVE;
    c.insert(t0, host).unwrap();
    assert_eq!(
        c.lookup(ip("192.168.2.3")).unwrap().next_hop,
        ip("10.0.0.4")
    );
    assert_eq!(
        c.lookup(ip("192.168.2.4")).unwrap().next_hop,
        ip("10.0.0.3")
    );
    assert!(c.lookup(ip("192.168.3.4")).is_none());
    assert!(c.lookup(ip("::1")).is_none());
    assert_eq!(c.get(&Prefix::new(ip("192.168.2.0"), 24)).unwrap().mtu, 0);
    c.mark_used(t0 + Duration::from_secs(5), ip("192.168.2.9"));
    let shown = c.show(t0 + Duration::from_secs(65), "Tunnel0").to_string();
    assert!(
        shown.contains(
            "192.168.2.0/24 via 10.0.0.3, Tunnel0 created 00:01:05, expire 00:03:55\n  Type: dynamic, Flags: used\n  NBMA address: 172.16.2.75"
        ),
        "{shown}"
    );
    assert!(shown.contains("never expire\n  Type: static, Flags: authoritative"));
    assert_eq!(c.next_expiry(), Some(t0 + Duration::from_secs(300)));
    assert!(c.expire(t0 + Duration::from_secs(299)).is_empty());
    assert_eq!(c.expire(t0 + Duration::from_secs(300)).len(), 1);
    assert_eq!(c.next_expiry(), None);
    assert!(matches!(c.poll_event(), Some(CacheEvent::Added(_))));
    assert!(matches!(c.poll_event(), Some(CacheEvent::Added(_))));
    assert!(matches!(
        c.poll_event(),
        Some(CacheEvent::Removed(_, RemoveReason::Expired))
    ));
    assert_eq!(c.lookup(ip("192.168.2.4")), None);
    // Bounded.
    for i in 0..2 {
        c.insert(
            t0,
            Entry::new(
                t0,
                Prefix::host(IpAddr::V4(Ipv4Addr::new(10, 9, 9, i))),
                ip("10.0.0.9"),
                None,
                EntryType::Incomplete,
            ),
        )
        .unwrap();
    }
    assert_eq!(c.len(), 3);
    let err = c.insert(
        t0,
        Entry::new(
            t0,
            Prefix::host(ip("10.9.9.9")),
            ip("10.0.0.9"),
            None,
            EntryType::Incomplete,
        ),
    );
    assert!(matches!(err, Err(Error::Full { limit: 3, .. })));
}

#[test]
fn iteration_and_show_follow_prefix_order_whatever_the_insertion_order() {
    let t0 = Instant::now();
    let prefixes: Vec<Prefix> = (0..200u8)
        .map(|i| Prefix::host(IpAddr::V4(Ipv4Addr::new(10, 1, i, 7))))
        .chain([
            Prefix::new(ip("10.1.0.0"), 16),
            Prefix::new(ip("2001:db8::"), 32),
            Prefix::host(ip("2001:db8::1")),
        ])
        .collect();
    let build = |order: &[Prefix]| {
        let mut c = Cache::new(1000, 1000);
        for &p in order {
            let e = Entry::new(t0, p, p.addr(), Some(ip("172.16.0.1")), EntryType::Dynamic);
            c.insert(t0, e).unwrap();
        }
        // Remove and re-add one, so the two caches also differ in history.
        let first = order.first().copied().unwrap();
        let e = c.remove(&first, RemoveReason::Removed).unwrap();
        c.insert(t0, e).unwrap();
        c
    };
    let forward = build(&prefixes);
    let mut reversed_order = prefixes.clone();
    reversed_order.reverse();
    let reversed = build(&reversed_order);
    let listed = |c: &Cache| c.iter().map(|e| e.prefix).collect::<Vec<_>>();
    let mut sorted = prefixes.clone();
    sorted.sort();
    assert_eq!(listed(&forward), sorted);
    assert_eq!(listed(&reversed), sorted);
    assert_eq!(
        forward.show(t0, "Tunnel0").to_string(),
        reversed.show(t0, "Tunnel0").to_string()
    );
    // IPv4 first, and a network before the hosts inside it that sort after its address.
    assert_eq!(sorted.first(), Some(&Prefix::new(ip("10.1.0.0"), 16)));
    assert_eq!(sorted.last(), Some(&Prefix::host(ip("2001:db8::1"))));
    // The order index follows removals.
    let mut c = forward.clone();
    for p in prefixes.iter().take(100) {
        c.remove(p, RemoveReason::Purged);
    }
    assert_eq!(c.len(), 103);
    assert_eq!(c.iter().count(), 103);
    assert!(c.iter().all(|e| c.get(&e.prefix).is_some()));
}

#[test]
fn rebinding_moves_the_post_nat_address_of_complete_entries_only() {
    let t0 = Instant::now();
    let mut c = Cache::new(10, 16);
    // A NATed spoke (claims 172.16.1.1, seen at 198.51.100.1), one seen at its claimed
    // address, another peer, and an incomplete entry.
    let mut natted = Entry::new(
        t0,
        Prefix::host(ip("10.0.0.11")),
        ip("10.0.0.11"),
        Some(ip("172.16.1.1")),
        EntryType::Dynamic,
    );
    natted.nat_nbma = Some(ip("198.51.100.1"));
    c.insert(t0, natted).unwrap();
    let plain = Entry::new(
        t0,
        Prefix::new(ip("192.168.1.0"), 24),
        ip("10.0.0.11"),
        Some(ip("198.51.100.1")),
        EntryType::Dynamic,
    );
    c.insert(t0, plain).unwrap();
    let other = Entry::new(
        t0,
        Prefix::host(ip("10.0.0.12")),
        ip("10.0.0.12"),
        Some(ip("203.0.113.2")),
        EntryType::Dynamic,
    );
    c.insert(t0, other).unwrap();
    let incomplete = Entry::new(
        t0,
        Prefix::host(ip("10.0.0.13")),
        ip("10.0.0.13"),
        None,
        EntryType::Incomplete,
    );
    c.insert(t0, incomplete).unwrap();
    while c.poll_event().is_some() {}
    assert_eq!(c.rebind_nbma(ip("198.51.100.1"), ip("198.51.100.77")), 2);
    let n = c.get(&Prefix::host(ip("10.0.0.11"))).unwrap();
    assert_eq!(n.nbma, Some(ip("172.16.1.1")));
    assert_eq!(n.effective_nbma(), Some(ip("198.51.100.77")));
    let p = c.get(&Prefix::new(ip("192.168.1.0"), 24)).unwrap();
    assert_eq!(p.effective_nbma(), Some(ip("198.51.100.77")));
    assert!(p.flags.contains(EntryFlags::NAT));
    let o = c.get(&Prefix::host(ip("10.0.0.12"))).unwrap();
    assert_eq!(o.effective_nbma(), Some(ip("203.0.113.2")));
    assert!(
        c.poll_event().is_none(),
        "a rebinding raises no cache event"
    );
    // Moving back to the claimed address leaves no post-NAT address.
    assert_eq!(c.rebind_nbma(ip("198.51.100.77"), ip("172.16.1.1")), 2);
    let n = c.get(&Prefix::host(ip("10.0.0.11"))).unwrap();
    assert_eq!((n.nbma, n.nat_nbma), (Some(ip("172.16.1.1")), None));
}

#[test]
fn prefixes_mask_and_contain() {
    let p = Prefix::new(ip("10.1.2.3"), 8);
    assert_eq!(p.to_string(), "10.0.0.0/8");
    assert!(p.contains(ip("10.200.0.1")));
    assert!(!p.contains(ip("11.0.0.1")));
    assert_eq!(Prefix::new(ip("10.1.2.3"), 99).len(), 32);
    assert_eq!(Prefix::new(ip("2001:db8::1"), 0).to_string(), "::/0");
    assert!(Prefix::host(ip("2001:db8::1")).is_host());
}

fn dynamic(t0: Instant, i: u32, hold: u64) -> Entry {
    let mut e = Entry::new(
        t0,
        Prefix::host(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))),
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
        Some(IpAddr::V4(Ipv4Addr::from(0xac10_0000 + i))),
        EntryType::Dynamic,
    );
    e.expires = Some(t0 + Duration::from_secs(hold));
    e
}

#[test]
fn expiring_more_entries_than_the_event_queue_holds_loses_no_removal() {
    let t0 = Instant::now();
    let mut c = Cache::new(10_000, 16);
    for i in 0..5000 {
        c.insert(t0, dynamic(t0, i, 300)).unwrap();
        while c.poll_event().is_some() {}
    }
    let due = t0 + Duration::from_secs(300);
    let mut removed = 0;
    let mut rounds = 0;
    // Expiry defers what the queue has no room for: the next expiry stays due, so the
    // owner calls again after draining.
    while c.next_expiry().is_some_and(|t| t <= due) {
        let expired = c.expire(due).len();
        assert!(expired <= 16, "at most the queue's room per call");
        while let Some(e) = c.poll_event() {
            assert!(matches!(e, CacheEvent::Removed(_, RemoveReason::Expired)));
            removed += 1;
        }
        rounds += 1;
        assert!(rounds <= 5000, "expiry makes progress");
    }
    assert_eq!(removed, 5000);
    assert_eq!(rounds, 5000 / 16 + 1);
    assert!(c.is_empty());
    assert_eq!(c.events_dropped(), 0);
}

#[test]
fn a_cache_whose_events_are_not_polled_refuses_new_changes_but_never_drops_an_event() {
    let t0 = Instant::now();
    let mut c = Cache::new(100, 4);
    for i in 0..4 {
        c.insert(t0, dynamic(t0, i, 300)).unwrap();
    }
    // A fifth change would need a fifth queued event: refused, the entry not installed.
    assert!(matches!(
        c.insert(t0, dynamic(t0, 4, 300)),
        Err(Error::Full { .. })
    ));
    assert!(c.get(&dynamic(t0, 4, 300).prefix).is_none());
    // A refresh that changes nothing queues nothing and is taken.
    c.insert(t0, dynamic(t0, 0, 300)).unwrap();
    // Removals always go through (their events are bounded by the table), and expiry
    // waits for room.
    assert!(
        c.remove(&dynamic(t0, 1, 300).prefix, RemoveReason::Purged)
            .is_some()
    );
    assert!(c.expire(t0 + Duration::from_secs(300)).is_empty());
    assert_eq!(c.len(), 3);
    let events: Vec<CacheEvent> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(events.len(), 5);
    assert!(matches!(
        events.last(),
        Some(CacheEvent::Removed(e, RemoveReason::Purged)) if e.prefix == dynamic(t0, 1, 300).prefix
    ));
    assert_eq!(c.events_dropped(), 0);
    // Drained, the cache takes changes again.
    c.insert(t0, dynamic(t0, 4, 300)).unwrap();
    assert_eq!(c.expire(t0 + Duration::from_secs(300)).len(), 3);
}

#[test]
fn the_next_expiry_stays_exact_through_refreshes_and_shortenings_without_growing_the_timers() {
    let t0 = Instant::now();
    let mut c = Cache::new(1000, 10_000);
    for i in 0..100 {
        c.insert(t0, dynamic(t0, i, 300)).unwrap();
    }
    assert_eq!(c.next_expiry(), Some(t0 + Duration::from_secs(300)));
    // Round-robin refreshes, each to a later expiry: the next expiry follows exactly, and the
    // timer queue holds one item per entry.
    for round in 1..=3u64 {
        for i in 0..100 {
            let mut e = dynamic(t0, i, 300 + round * 100);
            e.expires = Some(
                t0 + Duration::from_secs(300 + round * 100) + Duration::from_nanos(u64::from(i)),
            );
            c.insert(t0, e).unwrap();
            let want = if i == 99 {
                t0 + Duration::from_secs(300 + round * 100)
            } else {
                t0 + Duration::from_secs(300 + (round - 1) * 100)
                    + Duration::from_nanos(if round == 1 { 0 } else { u64::from(i) + 1 })
            };
            assert_eq!(c.next_expiry(), Some(want), "round {round}, entry {i}");
        }
        assert!(c.timers.len() <= 100 + 1, "{}", c.timers.len());
    }
    // A shortened holding time is found at once.
    c.insert(t0, dynamic(t0, 42, 10)).unwrap();
    assert_eq!(c.next_expiry(), Some(t0 + Duration::from_secs(10)));
    let gone = c.expire(t0 + Duration::from_secs(10));
    assert_eq!(gone.len(), 1);
    assert_eq!(
        gone.first().map(|e| e.prefix),
        Some(dynamic(t0, 42, 10).prefix)
    );
    // Same-instant expiries leave in prefix order, whatever their slots.
    let mut d = Cache::new(1000, 10_000);
    for i in (0..50).rev() {
        d.insert(t0, dynamic(t0, i, 60)).unwrap();
    }
    let order: Vec<Prefix> = d
        .expire(t0 + Duration::from_secs(60))
        .iter()
        .map(|e| e.prefix)
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order.len(), 50);
    assert!(d.is_empty());
    assert_eq!(d.next_expiry(), None);
}
