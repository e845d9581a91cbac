//! The in-place data path against the copying one: same bytes, same state, same errors.

use proptest::prelude::*;

use super::*;

/// Two outbound SAs in the same state, each with its own random source seeded alike, so that
/// their CBC IVs are the same sequence.
fn twin_outbound(cfg: &SaConfig, now: Instant) -> (OutboundSa, OutboundSa) {
    let make = || {
        let mut c = cfg.clone();
        c.provider = c
            .provider
            .with_random(Arc::new(ChaChaRandom::from_seed([0x5e; 32])));
        OutboundSa::new(&c, now).unwrap()
    };
    (make(), make())
}

/// `prefix` bytes of 0xee (standing for outer headers), `headroom` bytes for ESP, then the
/// payload, with spare capacity for the longest trailer.
fn framed(tx: &OutboundSa, prefix: usize, payload: &[u8]) -> (Vec<u8>, usize) {
    let start = prefix + tx.header_len();
    let mut buf = Vec::with_capacity(start + payload.len() + tx.max_trailer_len());
    buf.resize(prefix, 0xee);
    buf.resize(start, 0xcc);
    buf.extend_from_slice(payload);
    (buf, start)
}

/// One packet through both APIs of twin SAs: identical bytes and state; the in-place buffer
/// kept its allocation and the bytes in front of the packet.
fn check_identical(
    copy: &mut OutboundSa,
    inplace: &mut OutboundSa,
    now: Instant,
    nh: u8,
    msg: &[u8],
    prefix: usize,
) -> Vec<u8> {
    let mut wire = vec![0u8; copy.encapsulated_len(msg.len()) + 7];
    let want = copy.encapsulate(now, nh, msg, &mut wire).unwrap().to_vec();
    let (mut buf, start) = framed(inplace, prefix, msg);
    let (cap, ptr) = (buf.capacity(), buf.as_ptr());
    let off = inplace
        .encapsulate_in_place(now, nh, &mut buf, start)
        .unwrap();
    assert_eq!(off, prefix);
    assert_eq!(&buf[off..], &want[..], "{} {}", copy.suite(), msg.len());
    assert!(buf[..prefix].iter().all(|&b| b == 0xee));
    assert_eq!((buf.capacity(), buf.as_ptr()), (cap, ptr), "reallocated");
    assert_eq!(copy.sequence(), inplace.sequence());
    assert_eq!(copy.counters(), inplace.counters());
    want
}

#[test]
fn in_place_output_is_byte_identical_to_the_copying_api_for_every_suite() {
    let now = Instant::now();
    for provider in providers() {
        for suite in all_suites() {
            for esn in [false, true] {
                let mut cfg = config(suite, provider.clone());
                cfg.esn = esn;
                let (mut copy, mut inplace) = twin_outbound(&cfg, now);
                let mut rx_copy = InboundSa::new(&cfg, now).unwrap();
                let mut rx_inplace = InboundSa::new(&cfg, now).unwrap();
                for (i, len) in [0usize, 1, 13, 14, 15, 16, 64, 1400]
                    .into_iter()
                    .enumerate()
                {
                    let msg: Vec<u8> = (0..len).map(|i| (i * 29) as u8).collect();
                    let pkt = check_identical(&mut copy, &mut inplace, now, 47, &msg, i * 3);
                    // Both decapsulations agree too, the in-place one without a second buffer.
                    let mut out = vec![0u8; pkt.len()];
                    let d = rx_copy.decapsulate(now, &pkt, &mut out).unwrap();
                    let mut buf = pkt.clone();
                    let r = rx_inplace.decapsulate_in_place(now, &mut buf).unwrap();
                    assert_eq!(r.next_header, d.next_header);
                    assert_eq!(r.payload.start, copy.header_len());
                    assert_eq!(&buf[r.payload], d.payload);
                    assert_eq!(d.payload, &msg[..]);
                    assert_eq!(rx_copy.counters(), rx_inplace.counters());
                }
            }
        }
    }
}

#[test]
fn in_place_tunnel_mode_with_tfc_padding_is_byte_identical() {
    let now = Instant::now();
    for provider in providers() {
        for suite in ["aes256-sha384", "aes128gcm16", "null-sha256"] {
            let mut cfg = config(Suite::parse(suite).unwrap(), provider.clone());
            cfg.mode = Mode::Tunnel;
            cfg.tfc_pad_to = Some(200);
            let (mut copy, mut inplace) = twin_outbound(&cfg, now);
            let mut rx = InboundSa::new(&cfg, now).unwrap();
            for (nh, inner) in [
                (NEXT_HEADER_IPV4, ipv4_packet(30)),
                (NEXT_HEADER_IPV6, ipv6_packet(17)),
                (NEXT_HEADER_IPV4, ipv4_packet(400)),
            ] {
                let mut pkt = check_identical(&mut copy, &mut inplace, now, nh, &inner, 20);
                assert!(pkt.len() > 200);
                let r = rx.decapsulate_in_place(now, &mut pkt).unwrap();
                // TFC padding cut at the inner packet's own length.
                assert_eq!((r.next_header, &pkt[r.payload]), (nh, &inner[..]));
            }
        }
    }
}

#[test]
fn in_place_round_trip_then_replay_is_refused() {
    let now = Instant::now();
    for provider in providers() {
        for suite in all_suites() {
            let cfg = config(suite, provider.clone());
            let (mut tx, mut rx) = pair(&cfg, now);
            for len in [0usize, 5, 100, 1400] {
                let msg: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let (mut buf, start) = framed(&tx, 28, &msg);
                let off = tx
                    .encapsulate_in_place(now, NEXT_HEADER_GRE, &mut buf, start)
                    .unwrap();
                assert_eq!(buf.len() - off, tx.encapsulated_len(len));
                let saved = buf[off..].to_vec();
                let r = rx.decapsulate_in_place(now, &mut buf[off..]).unwrap();
                assert_eq!(r.next_header, NEXT_HEADER_GRE);
                assert_eq!(&buf[off..][r.payload], &msg[..], "{suite} {len}");
                let mut again = saved.clone();
                assert_eq!(
                    rx.decapsulate_in_place(now, &mut again).unwrap_err(),
                    Error::Replay {
                        sequence: d_seq(&saved)
                    }
                );
            }
            let c = *rx.counters();
            assert_eq!((c.pkts_decaps, c.pkts_verify, c.replay_failures), (4, 4, 4));
            assert_eq!(tx.counters().pkts_encaps, 4);
        }
    }
}

#[test]
fn in_place_tampering_is_detected_and_does_not_move_the_window() {
    let now = Instant::now();
    for provider in providers() {
        for suite in all_suites() {
            for esn in [false, true] {
                let mut cfg = config(suite, provider.clone());
                cfg.esn = esn;
                let (mut tx, mut rx) = pair(&cfg, now);
                let (mut buf, start) = framed(&tx, 0, &[0x55; 40]);
                let off = tx.encapsulate_in_place(now, 47, &mut buf, start).unwrap();
                let pkt = buf[off..].to_vec();
                for pos in [5usize, 6, 9, 20, pkt.len() - 20, pkt.len() - 1] {
                    let mut bad = pkt.clone();
                    bad[pos] ^= 0x01;
                    let e = rx.decapsulate_in_place(now, &mut bad).unwrap_err();
                    assert!(
                        matches!(e, Error::Integrity | Error::InvalidPadding),
                        "{suite} pos {pos}: {e:?}"
                    );
                }
                // The genuine packet is still accepted: forgeries never advanced the window.
                let mut good = pkt.clone();
                let r = rx.decapsulate_in_place(now, &mut good).unwrap();
                assert_eq!(&good[r.payload], &[0x55; 40]);
                assert_eq!(rx.counters().integrity_failures, 6);
                assert_eq!(rx.replay_window().top(), 1);
                // Truncations, a wrong SPI: errors, never a panic.
                for cut in 0..pkt.len() {
                    let mut short = pkt[..cut].to_vec();
                    assert!(rx.decapsulate_in_place(now, &mut short).is_err());
                }
                let mut other = pkt.clone();
                other[3] ^= 1;
                assert!(matches!(
                    rx.decapsulate_in_place(now, &mut other),
                    Err(Error::SpiMismatch { .. })
                ));
            }
        }
    }
}

#[test]
fn in_place_refuses_too_small_headroom_and_a_start_past_the_end() {
    let now = Instant::now();
    for provider in providers() {
        for suite in all_suites() {
            let (mut tx, mut rx) = pair(&config(suite, provider.clone()), now);
            let header = tx.header_len();
            assert_eq!(header, 8 + suite.encryption.iv_len());
            let mut buf = vec![0xab; header - 1 + 10];
            let before = buf.clone();
            assert_eq!(
                tx.encapsulate_in_place(now, 47, &mut buf, header - 1),
                Err(Error::Headroom {
                    needed: header,
                    got: header - 1
                })
            );
            assert_eq!(buf, before, "a refused packet leaves the buffer alone");
            let mut buf = vec![0u8; 30];
            assert_eq!(
                tx.encapsulate_in_place(now, 47, &mut buf, 31),
                Err(Error::Truncated {
                    needed: 31,
                    got: 30
                })
            );
            assert_eq!(buf.len(), 30);
            assert_eq!(tx.sequence(), 0, "no sequence number consumed");
            assert_eq!(tx.counters().send_errors, 2);
            assert_eq!(tx.counters().pkts_encaps, 0);
            // Exactly enough headroom: the packet starts at 0; an empty payload works too.
            for len in [10usize, 0] {
                let mut buf = vec![0x11; header + len];
                assert_eq!(tx.encapsulate_in_place(now, 47, &mut buf, header), Ok(0));
                let r = rx.decapsulate_in_place(now, &mut buf).unwrap();
                assert_eq!(&buf[r.payload], &vec![0x11; len][..]);
            }
        }
    }
}

#[test]
fn in_place_errors_and_events_match_the_copying_api() {
    let now = Instant::now();
    let suite = Suite::parse("aes128-sha256").unwrap();
    let mut cfg = config(suite, providers()[0].clone());
    cfg.lifetimes = Lifetimes::from_hard(Lifetime {
        packets: Some(3),
        ..Default::default()
    });
    let (mut copy, mut inplace) = twin_outbound(&cfg, now);
    let mut wire = [0u8; 200];
    for i in 0..5 {
        let a = copy.encapsulate(now, 47, b"x", &mut wire).map(<[u8]>::len);
        let (mut buf, start) = framed(&inplace, 0, b"x");
        let b = inplace
            .encapsulate_in_place(now, 47, &mut buf, start)
            .map(|off| buf.len() - off);
        assert_eq!(a, b, "packet {i}");
        assert_eq!(copy.poll_event(), inplace.poll_event());
        assert_eq!(copy.counters(), inplace.counters());
    }
    assert!(inplace.is_expired());

    // Sequence exhaustion.
    let (mut copy, mut inplace) = twin_outbound(&config(suite, providers()[0].clone()), now);
    copy.set_sequence_for_test(u64::from(u32::MAX));
    inplace.set_sequence_for_test(u64::from(u32::MAX));
    let (mut buf, start) = framed(&inplace, 0, b"x");
    assert_eq!(
        inplace.encapsulate_in_place(now, 47, &mut buf, start),
        Err(Error::SequenceExhausted)
    );
    assert_eq!(
        copy.encapsulate(now, 47, b"x", &mut wire).map(<[u8]>::len),
        Err(Error::SequenceExhausted)
    );
    assert_eq!(copy.poll_event(), inplace.poll_event());
    assert_eq!(copy.counters(), inplace.counters());

    // Tunnel mode refuses a payload that is not the IP version its next header says.
    let mut cfg = config(suite, providers()[0].clone());
    cfg.mode = Mode::Tunnel;
    let (mut tx, mut rx) = pair(&cfg, now);
    let inner = ipv4_packet(20);
    let (mut buf, start) = framed(&tx, 0, &inner);
    assert_eq!(
        tx.encapsulate_in_place(now, NEXT_HEADER_IPV6, &mut buf, start),
        Err(Error::UnexpectedNextHeader { next_header: 41 })
    );
    // A dummy packet is authenticated, counted and dropped.
    let (mut buf, start) = framed(&tx, 0, &[0; 16]);
    let off = tx
        .encapsulate_in_place(now, crate::wire::esp::NEXT_HEADER_DUMMY, &mut buf, start)
        .unwrap();
    assert_eq!(
        rx.decapsulate_in_place(now, &mut buf[off..]),
        Err(Error::DummyPacket)
    );
    assert_eq!(rx.counters().dummy_dropped, 1);
}

#[test]
fn max_trailer_len_bounds_every_payload_and_is_reached() {
    let now = Instant::now();
    let provider = providers()[0].clone();
    for suite in all_suites() {
        for tfc in [None, Some(1), Some(64), Some(300)] {
            let mut cfg = config(suite, provider.clone());
            if tfc.is_some() {
                cfg.mode = Mode::Tunnel;
                cfg.tfc_pad_to = tfc;
            }
            let tx = OutboundSa::new(&cfg, now).unwrap();
            let max = tx.max_trailer_len();
            let mut reached = false;
            for len in 0..700 {
                let t = tx.trailer_len(len);
                assert_eq!(tx.encapsulated_len(len), tx.header_len() + len + t);
                assert!(t <= max, "{suite} tfc={tfc:?} len={len}: {t} > {max}");
                reached |= t == max;
            }
            assert!(reached, "{suite} tfc={tfc:?}: {max} never reached");
        }
    }
    let tx = OutboundSa::new(
        &config(Suite::parse("aes128gcm16").unwrap(), provider.clone()),
        now,
    )
    .unwrap();
    assert_eq!((tx.header_len(), tx.max_trailer_len()), (16, 21));
    let tx = OutboundSa::new(
        &config(Suite::parse("aes128-sha256").unwrap(), provider),
        now,
    )
    .unwrap();
    assert_eq!((tx.header_len(), tx.max_trailer_len()), (24, 33));
}

proptest! {
    #[test]
    fn in_place_matches_copying_and_round_trips(
        suite in 0usize..17,
        esn: bool,
        msg in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in 0usize..40,
        nh in any::<u8>(),
        packets in 1usize..4,
    ) {
        let suites = all_suites();
        let suite = suites[suite % suites.len()];
        let now = Instant::now();
        let mut cfg = config(suite, providers()[0].clone());
        cfg.esn = esn;
        let (mut copy, mut inplace) = twin_outbound(&cfg, now);
        let mut rx = InboundSa::new(&cfg, now).unwrap();
        // Dummy packets are dropped on receipt: test them elsewhere.
        let nh = if nh == crate::wire::esp::NEXT_HEADER_DUMMY { 47 } else { nh };
        for _ in 0..packets {
            let mut wire = vec![0u8; copy.encapsulated_len(msg.len())];
            let want = copy.encapsulate(now, nh, &msg, &mut wire).unwrap().to_vec();
            let (mut buf, start) = framed(&inplace, prefix, &msg);
            let off = inplace.encapsulate_in_place(now, nh, &mut buf, start).unwrap();
            prop_assert_eq!(off, prefix);
            prop_assert_eq!(&buf[off..], &want[..]);
            let r = rx.decapsulate_in_place(now, &mut buf[off..]).unwrap();
            prop_assert_eq!(r.next_header, nh);
            prop_assert_eq!(&buf[off..][r.payload], &msg[..]);
        }
    }

    #[test]
    fn in_place_decapsulate_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..120),
        suite in 0usize..17,
    ) {
        let suites = all_suites();
        let cfg = config(suites[suite % suites.len()], providers()[0].clone());
        let mut rx = InboundSa::new(&cfg, Instant::now()).unwrap();
        let mut bytes = bytes;
        if let Some(spi) = bytes.get_mut(..4) {
            spi.copy_from_slice(&cfg.spi.to_be_bytes());
        }
        prop_assert!(rx.decapsulate_in_place(Instant::now(), &mut bytes).is_err());
    }
}
