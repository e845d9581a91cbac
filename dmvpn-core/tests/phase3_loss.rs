//! DMVPN phase 3 under 30% loss on every link: a lost Traffic Indication, a lost Resolution
//! Request or a lost Resolution Reply is retried while traffic keeps hairpinning through the
//! hub, so every spoke pair ends with a shortcut both ways (as phase 2 ends with its mappings).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use common::*;
use dmvpn_core::EventKind;
use dmvpn_core::config::HubResolution;
use dmvpn_core::sim::example::Example;

/// `spokes` spokes in phase 3 with `loss` on every link (netsim seed `seed`), the hub
/// answering or forwarding Resolution Requests (`resolution`): spoke 2k-1 pings spoke 2k once a
/// second for `pings` seconds. Returns, for every direction without a shortcut to the peer's
/// LAN at the end, "spoke i -> spoke j" and what it logged.
fn phase3_pairs_without_shortcut(
    seed: u64,
    spokes: u32,
    loss: f64,
    pings: u16,
    resolution: HubResolution,
) -> Vec<String> {
    let mut ex = Example::new(spokes);
    ex.phase = 3;
    ex.hub_resolution = resolution;
    let name = match resolution {
        HubResolution::Forward => "phase3-loss-forward",
        HubResolution::Answer => "phase3-loss-answer",
    };
    let mut s = Scenario::new(name, seed, ex);
    s.sim
        .network_mut()
        .set_default_link(dmvpn_netsim::LinkProfile {
            delay: std::time::Duration::from_millis(10),
            jitter: std::time::Duration::from_millis(2),
            loss,
            ..dmvpn_netsim::LinkProfile::default()
        });
    let hub = s.hub();
    let limit = s.now() + secs(600);
    let all = s
        .sim
        .run_until_true(limit, |sim| {
            let srv = sim.host(hub).unwrap().node().nhrp_server(0).unwrap();
            srv.cache()
                .iter()
                .filter(|e| e.flags.contains(dmvpn_nhrp::EntryFlags::REGISTERED))
                .count()
                == spokes as usize
        })
        .unwrap();
    assert!(all, "seed {seed}: not every spoke registered");
    let pairs: Vec<(u32, u32)> = (0..spokes / 2).map(|k| (2 * k + 1, 2 * k + 2)).collect();
    for &(i, j) in &pairs {
        s.route(i, j);
        s.route(j, i);
    }
    for seq in 1..=pings {
        for &(i, j) in &pairs {
            s.ping(i, 25, j, 37, seq);
        }
        s.run(secs(1));
    }
    let mut missing = Vec::new();
    for &(i, j) in &pairs {
        for (x, y) in [(i, j), (j, i)] {
            let lan = ipnet::IpNet::V4(s.ex.spoke_lan(y));
            let id = s.spoke(x);
            let has = s.has(
                id,
                |k| matches!(k, EventKind::ShortcutAdded { prefix, .. } if *prefix == lan),
            );
            if !has {
                let log: Vec<String> = s
                    .get(id)
                    .events()
                    .iter()
                    .map(|(t, e)| format!("{:?} {e}", t.duration_since(s.sim.start())))
                    .collect();
                missing.push(format!(
                    "seed {seed}, hub {resolution:?}: spoke {x} -> spoke {y}: no shortcut\n{}\nstats {:?}\nclient {:?}",
                    log.join("\n"),
                    s.get(id).node().stats(),
                    s.get(id).node().nhrp_client(0).map(|c| c.stats()),
                ));
            }
        }
    }
    s.finish();
    missing
}

/// `dmvpn-sim --phase 3 --loss 0.3 --spokes 100 --pings 50` on network seeds 0 to 15 (this
/// harness draws its randomness in another order than the binary, so its seed N is not the
/// binary's), the hub resolving the way `resolution` says: a hundred spokes (fifty pairs
/// pinging both ways through the hub until their shortcuts are up) for 50 s at 30% loss.
/// Every one of the 1,600 directions must end with its shortcut within the pings. About 7 s
/// in a debug build.
fn every_seed_converges(resolution: HubResolution) {
    let mut missing = Vec::new();
    let mut per_seed = Vec::new();
    for seed in 0..16 {
        let m = phase3_pairs_without_shortcut(seed, 100, 0.3, 50, resolution);
        per_seed.push(format!("seed {seed}: {}/100", 100 - m.len()));
        missing.extend(m);
    }
    assert!(
        missing.is_empty(),
        "{resolution:?}: shortcuts per seed: {}\n\n{}",
        per_seed.join(", "),
        missing.join("\n\n")
    );
}

/// The hardening issue's item 9, the hub forwarding Resolution Requests to the spoke that
/// owns the prefix (IOS, and dmvpn-sim's phase 3 default). Before the fix, 25 directions in
/// 13 of the 16 seeds (all but 2, 4 and 9) had no shortcut after the 50 s: the hub sent one
/// Traffic Indication per flow per 10 s, all of them lost for some spokes, and a spoke whose
/// request, forwarded request or direct reply was lost (three hops, each losing 30%) let an
/// indication that came less than 1 s after its last request wait out a back-off of up to
/// 16 s.
#[test]
fn phase3_every_pair_converges_under_thirty_percent_loss_hub_forwarding() {
    every_seed_converges(HubResolution::Forward);
}

/// The same with the hub answering Resolution Requests from its own table. Before the fix,
/// 10 directions in seeds 0, 7, 10, 11, 12, 13 and 14: a spoke whose four or five
/// indications (one per 10 s) were all lost never heard of the shortcut, mostly the answering
/// spoke, whose echo replies reach the hub only when both the request and the reply survive.
#[test]
fn phase3_every_pair_converges_under_thirty_percent_loss_hub_answering() {
    every_seed_converges(HubResolution::Answer);
}
