//! Runs the `dmvpn-sim` demo binary with the options a new user tries and checks that what it
//! narrates and sums up is what happened: direct spoke-to-spoke packets only once they are on
//! the wire, how spoke B learned spoke A, the hub's resolution mode, honest loss and large-run
//! output. Each run is a fraction of a second of wall time (virtual clock).
#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmvpn-sim"))
        .args(args)
        .output()
        .expect("dmvpn-sim runs")
}

/// Stdout of a run that must succeed.
fn run(args: &[&str]) -> String {
    let out = sim(args);
    assert!(
        out.status.success(),
        "dmvpn-sim {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn summary(out: &str) -> &str {
    out.lines()
        .rev()
        .find(|l| l.starts_with("dmvpn-sim: "))
        .expect("a summary line")
}

/// The sequence numbers the narration says went directly from A to B (requests) and B to A
/// (replies).
fn direct_notes(out: &str, what: &str) -> Vec<u16> {
    out.lines()
        .filter_map(|l| {
            let rest = l.split(&format!("] {what} seq ")).nth(1)?;
            let (seq, tail) = rest.split_once(' ')?;
            tail.starts_with("went directly")
                .then(|| seq.parse().ok())?
        })
        .collect()
}

/// Every "went directly" note is backed by a traced GRE packet carrying that echo from the
/// sending spoke's NBMA address to the other's (`a_seen`/`b_seen`: as the peers see them).
fn assert_direct_notes_backed(out: &str, a_seen: &str, b_seen: &str) {
    for seq in direct_notes(out, "echo request") {
        let wire = format!("172.16.1.1 -> {b_seen:<15} ICMP echo request");
        assert!(
            out.lines().any(
                |l| (l.contains("spoke-A  GRE") || l.contains("spoke-A  ESP"))
                    && l.contains(&wire)
                    && l.contains(&format!(" seq {seq}  (spoke to spoke, direct)"))
            ),
            "request seq {seq} narrated as direct without such a packet:\n{out}"
        );
    }
    for seq in direct_notes(out, "echo reply") {
        let wire = format!("172.16.2.1 -> {a_seen:<15} ICMP echo reply");
        assert!(
            out.lines().any(
                |l| (l.contains("spoke-B  GRE") || l.contains("spoke-B  ESP"))
                    && l.contains(&wire)
                    && l.contains(&format!(" seq {seq}  (spoke to spoke, direct)"))
            ),
            "reply seq {seq} narrated as direct without such a packet:\n{out}"
        );
    }
}

#[test]
fn default_run_narrates_the_hub_answering_and_the_direct_path() {
    let out = run(&[]);
    assert!(out.contains("hub: answers Resolution Requests from its own registration table"));
    assert!(out.contains(
        "steps 4-6: the hub answered spoke A's Resolution Request from its own table: spoke A maps \
         10.0.0.12/32 via 10.0.0.12 to NBMA 172.16.2.1"
    ));
    assert!(out.contains(
        "steps 7-10: the hub answered spoke B's Resolution Request from its own table: spoke B maps \
         10.0.0.11/32 via 10.0.0.11 to NBMA 172.16.1.1"
    ));
    assert_eq!(direct_notes(&out, "echo request"), vec![2]);
    assert_eq!(direct_notes(&out, "echo reply"), vec![2]);
    assert_direct_notes_backed(&out, "172.16.1.1", "172.16.2.1");
    assert!(!out.contains("further packets go directly"));
    assert!(!out.contains("max-send"), "no max-send raise for 2 spokes");
    let s = summary(&out);
    assert!(
        s.contains("2/2 spokes registered; 1/1 spoke-to-spoke tunnels built"),
        "{s}"
    );
    assert!(s.contains("5/5 echo replies"), "{s}");
}

#[test]
fn loss_narrates_direct_packets_only_when_they_were_sent() {
    for seed in ["7", "1", "2", "3"] {
        let out = run(&["--loss", "0.3", "--seed", seed, "--duration", "10"]);
        assert_direct_notes_backed(&out, "172.16.1.1", "172.16.2.1");
        assert!(!out.contains("further packets go directly"));
        assert!(!out.contains("resolves spoke A the same way"));
    }
    let out = run(&["--loss", "0.99"]);
    assert!(direct_notes(&out, "echo request").is_empty(), "{out}");
    assert!(out.contains("none went directly: spoke A never got a mapping for spoke B"));
    assert!(summary(&out).contains("0/1 spoke-to-spoke tunnels built"));
}

#[test]
fn forward_says_spoke_b_learned_a_from_the_forwarded_request() {
    // Protected, B's direct answer waits for the new A-B SA, and by then A has learned B from
    // B's own forwarded request: the narration says so.
    let out = run(&["--forward"]);
    assert!(out.contains(
        "spoke B learned spoke A from spoke A's Resolution Request, which the hub forwarded to it"
    ));
    assert!(out.contains(
        "spoke A learned spoke B from spoke B's Resolution Request, which the hub forwarded to it"
    ));
    let out = run(&["--forward", "--no-ipsec"]);
    assert!(out.contains("hub: forwards Resolution Requests to the spoke that owns the address"));
    assert!(out.contains(
        "spoke B learned spoke A from spoke A's Resolution Request, which the hub forwarded to it, \
         and answered spoke A directly: spoke B maps 10.0.0.11/32"
    ));
    assert!(out.contains(
        "steps 4-6: spoke B answered spoke A's Resolution Request directly (the hub had forwarded \
         the request to it): spoke A maps 10.0.0.12/32"
    ));
    assert!(!out.contains("the hub answered"));
    assert!(!out.contains("steps 7-10"), "B did not resolve A itself");
    assert_direct_notes_backed(&out, "172.16.1.1", "172.16.2.1");
    assert!(sim(&["--forward", "--hub-answers"]).status.code() != Some(0));
}

#[test]
fn phase_3_forwards_to_the_owner_by_default_and_hub_answers_on_request() {
    let out = run(&["--phase", "3"]);
    assert!(out.contains("hub: forwards Resolution Requests"));
    assert!(out.contains("the hub sent spoke A a Traffic Indication (ip nhrp redirect)"));
    assert!(out.contains(
        "spoke B answered spoke A's Resolution Request directly (the hub had forwarded the request \
         to it): spoke A maps 192.168.2.0/24 via 10.0.0.12 to NBMA 172.16.2.1"
    ));
    assert!(!out.contains("the hub answered"));
    assert_direct_notes_backed(&out, "172.16.1.1", "172.16.2.1");
    assert!(summary(&out).contains("5/5 echo replies"));

    let out = run(&["--phase", "3", "--hub-answers"]);
    assert!(out.contains("hub: answers Resolution Requests from its own registration table"));
    assert!(out.contains(
        "the hub answered spoke A's Resolution Request from its own table: spoke A maps \
         192.168.2.0/24 via 10.0.0.12 to NBMA 172.16.2.1"
    ));
    assert!(summary(&out).contains("5/5 echo replies"));
}

#[test]
fn nat_counts_only_dynamic_spoke_to_spoke_mappings() {
    let out = run(&["--nat"]);
    assert!(out.contains("spoke A maps 10.0.0.12/32 via 10.0.0.12 to NBMA 198.18.0.2"));
    assert_direct_notes_backed(&out, "198.18.0.1", "198.18.0.2");
    assert!(
        summary(&out)
            .contains("1/1 spoke-to-spoke tunnels built (1 mapped both ways; 2 dynamic mappings")
    );
    // Under heavy loss: a tunnel is counted exactly when spoke A installed a mapping for spoke B
    // (the hub's static entry, whose NBMA peer is up from the start, never counts).
    for seed in 1..=8 {
        let seed = seed.to_string();
        let out = run(&[
            "--nat",
            "--loss",
            "0.5",
            "--seed",
            &seed,
            "--duration",
            "10",
        ]);
        let mapped = out.lines().any(|l| {
            l.contains("spoke-A: %DMVPN-5-NHRP_CACHE: Tunnel0 mapping 10.0.0.12/32 via 10.0.0.12 NBMA 198.18.0.2 came UP")
        });
        let built = summary(&out).contains("1/1 spoke-to-spoke tunnels built");
        assert_eq!(mapped, built, "seed {seed}:\n{out}");
        assert_direct_notes_backed(&out, "198.18.0.1", "198.18.0.2");
    }
}

#[test]
fn total_loss_is_accepted_and_reported() {
    let out = run(&["--loss", "1", "--nat", "--duration", "10"]);
    assert!(out.contains("100% loss"));
    assert!(out.contains("0/2 spokes registered"));
    assert!(out.contains("no Registration Request can reach the hub with 100% loss"));
    assert!(out.contains("nothing got through"));
    assert!(direct_notes(&out, "echo request").is_empty());
    let s = summary(&out);
    assert!(s.contains("0/1 spoke-to-spoke tunnels built"), "{s}");
    assert!(s.contains("0/5 echo replies"), "{s}");
    // 100 as a percentage is the same; beyond it is refused.
    assert!(run(&["--loss", "100", "--duration", "1"]).contains("100% loss"));
    for bad in ["101", "-0.1", "NaN"] {
        let out = sim(&["--loss", bad]);
        assert!(!out.status.success(), "--loss {bad} accepted");
    }
}

#[test]
fn large_runs_say_what_is_narrated_and_the_max_send_raise() {
    let out = run(&["--spokes", "20"]);
    assert!(out.contains("20 spokes: more than 10, so nothing is narrated step by step"));
    assert!(out.contains(
        "hub: ip nhrp max-send 400 every 10 (raised from the IOS default of 100 every 10"
    ));
    assert!(out.contains("In each of the 10 pairs, host .25 on spoke 2k-1's LAN pings host .37"));
    assert!(!out.contains("The PC 192.168.1.25 on spoke A's LAN pings"));
    assert!(out.contains("50/50 echo replies received"));
    let s = summary(&out);
    assert!(
        s.contains("20/20 spokes registered; 10/10 spoke-to-spoke tunnels built"),
        "{s}"
    );

    let out = run(&["--spokes", "5", "--duration", "10"]);
    assert!(out.contains(
        "then spoke A pinging spoke B step by step; the other pair is counted only in the summary"
    ));
    assert!(out.contains("spoke E has no partner: it only registers"));
}
