#!/usr/bin/env bash
# Runs the dmvpn-sim demo (the README's first command) with --pcap and checks the capture with
# tshark: no malformed frames or expert warnings, and the ICMP echo between the two LANs
# (192.168.1.25 <-> 192.168.2.37) present inside GRE directly between spoke A (172.16.1.1) and
# spoke B (172.16.2.1) after the resolution, in both directions, in phase 2 and phase 3. Then
# runs --spokes 1000 to confirm the scale claim (every spoke registered, 500 spoke-to-spoke
# tunnels, every echo answered).
# Usage: .ci/checks/dmvpn-sim.sh [TARGET_DIR]   (default: target)
set -euo pipefail

target="${1:-target}"
export CARGO_TARGET_DIR="$target"
command -v tshark >/dev/null || { echo "dmvpn-sim: FAIL: tshark is not installed" >&2; exit 1; }
cargo build --release -q -p dmvpn-examples --bin dmvpn-sim
sim="$target/release/dmvpn-sim"
dir="$target/tmp/pcap"
mkdir -p "$dir"

fail() { echo "dmvpn-sim: FAIL: $*" >&2; exit 1; }

for phase in 2 3; do
    pcap="$dir/dmvpn-sim-phase$phase.pcap"
    out="$("$sim" --phase "$phase" --pcap "$pcap")"
    summary="$(tail -n 1 <<<"$out")"
    echo "$summary"
    grep -q '2/2 spokes registered; 1/1 spoke-to-spoke tunnels built' <<<"$summary" || fail "phase $phase: $summary"
    grep -q '5/5 echo replies' <<<"$summary" || fail "phase $phase: not every echo answered"
    grep -q '2 mappings expired' <<<"$summary" || fail "phase $phase: the mappings did not expire"
    bad="$(tshark -r "$pcap" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null || true)"
    [[ -z "$bad" ]] || fail "malformed frames or expert warnings in $pcap:"$'\n'"$bad"
    direct='gre && icmp && ip.src == 172.16.1.1 && ip.dst == 172.16.2.1 && ip.src == 192.168.1.25 && ip.dst == 192.168.2.37 && icmp.type == 8'
    back='gre && icmp && ip.src == 172.16.2.1 && ip.dst == 172.16.1.1 && ip.src == 192.168.2.37 && ip.dst == 192.168.1.25 && icmp.type == 0'
    n_direct="$(tshark -r "$pcap" -Y "$direct" 2>/dev/null | wc -l)"
    n_back="$(tshark -r "$pcap" -Y "$back" 2>/dev/null | wc -l)"
    [[ "$n_direct" -ge 3 ]] || fail "phase $phase: only $n_direct echo requests directly from 172.16.1.1 to 172.16.2.1 in GRE"
    [[ "$n_back" -ge 3 ]] || fail "phase $phase: only $n_back echo replies directly from 172.16.2.1 to 172.16.1.1 in GRE"
    # The first request went through the hub, and NHRP resolved the spokes.
    n_hub="$(tshark -r "$pcap" -Y 'gre && icmp && ip.dst == 172.17.0.1 && ip.src == 192.168.1.25' 2>/dev/null | wc -l)"
    [[ "$n_hub" -ge 1 ]] || fail "phase $phase: no echo request via the hub before the resolution"
    n_res="$(tshark -r "$pcap" -Y 'nhrp.hdr.op.type == 2' 2>/dev/null | wc -l)"
    [[ "$n_res" -ge 2 ]] || fail "phase $phase: fewer than 2 NHRP Resolution Replies"
    frames="$(tshark -r "$pcap" -T fields -e frame.number 2>/dev/null | wc -l)"
    echo "clean: $pcap ($frames frames; $n_direct requests and $n_back replies direct between the spokes)"
done

out="$("$sim" --spokes 1000)"
summary="$(tail -n 1 <<<"$out")"
echo "$summary"
grep -q '1000/1000 spokes registered; 500/500 spoke-to-spoke tunnels built' <<<"$summary" || fail "scale: $summary"
grep -q '2500/2500 echo replies' <<<"$summary" || fail "scale: not every echo answered"
echo "dmvpn-sim: OK"
