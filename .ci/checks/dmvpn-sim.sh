#!/usr/bin/env bash
# Runs the dmvpn-sim demo (the README's first command) with --pcap and checks the capture with
# tshark, in phase 2 and phase 3, protected (the default: IPsec) and in clear (--no-ipsec):
# - no malformed frames or expert warnings;
# - protected: not one GRE frame in clear; with the run's --keylog every ESP frame decrypts with
#   a good ICV and shows GRE inside (NHRP and ICMP), every IKE SK payload decrypts with a
#   correct checksum; the ICMP echo between the LANs (192.168.1.25 <-> 192.168.2.37) travels
#   in ESP directly between spoke A (172.16.1.1) and spoke B (172.16.2.1) after the resolution,
#   both ways, and the first request went in ESP through the hub;
# - in clear: the same echoes inside GRE directly between the spokes;
# - protected with --ikev1 (the seeds' crypto isakmp): as protected, with every encrypted
#   ISAKMP message decrypting (the key log's phase 1 keys) to a HASH payload;
# - protected with --nat (each spoke behind its own port-translating NAT that passes UDP only):
#   the same as protected, with every ESP packet in UDP 4500 (not one IP protocol 47 or 50
#   frame), the direct echoes between the spokes' public addresses (198.18.0.1, 198.18.0.2).
# Then runs --spokes 1000 to confirm the scale claim (every spoke registered, 500 spoke-to-spoke
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
count() { tshark -r "$1" "${opts[@]}" -Y "$2" -T fields -e frame.number 2>/dev/null | wc -l; }

for mode in ipsec clear nat ikev1; do
    for phase in 2 3; do
        tag="phase $phase, $mode"
        pcap="$dir/dmvpn-sim-phase$phase-$mode.pcap"
        keys="$dir/dmvpn-sim-phase$phase-$mode.keys"
        args=(--phase "$phase" --pcap "$pcap")
        a=172.16.1.1 b=172.16.2.1
        case $mode in
            ipsec) args+=(--keylog "$keys") ;;
            clear) args+=(--no-ipsec) ;;
            nat) args+=(--nat --keylog "$keys"); a=198.18.0.1 b=198.18.0.2 ;;
            ikev1) args+=(--ikev1 --keylog "$keys") ;;
        esac
        out="$("$sim" "${args[@]}")"
        summary="$(tail -n 1 <<<"$out")"
        echo "$summary"
        grep -q '2/2 spokes registered; 1/1 spoke-to-spoke tunnels built' <<<"$summary" || fail "$tag: $summary"
        grep -q '5/5 echo replies' <<<"$summary" || fail "$tag: not every echo answered"
        # Phase 3 with forwarding: each spoke holds the other's shortcut and its /32.
        grep -qE "([0-9]+) dynamic mappings.* \1 mappings expired" <<<"$summary" \
            || fail "$tag: the mappings did not all expire: $summary"
        opts=(-n)
        if [[ $mode != clear ]]; then
            opts+=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
            while IFS= read -r row; do
                [[ -n "$row" ]] && opts+=(-o "$row")
            done <"$keys"
        fi
        bad="$(tshark -r "$pcap" "${opts[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' \
            -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
        [[ -z "${bad// /}" ]] || {
            tshark -r "$pcap" "${opts[@]}" -V -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' \
                2>/dev/null | grep -E 'Expert Info|Malformed|ICV' | sort | uniq -c >&2
            fail "$tag: malformed frames, expert warnings or bad ICVs in $pcap: frames $bad"
        }
        carrier=gre
        if [[ $mode != clear ]]; then
            carrier=esp
            n_clear="$(count "$pcap" 'ip.proto == 47')"
            ((n_clear == 0)) || fail "$tag: $n_clear cleartext GRE frames on a protected network"
            if [[ $mode == nat ]]; then
                n_raw="$(count "$pcap" 'ip.proto == 50')"
                ((n_raw == 0)) || fail "$tag: $n_raw ESP frames outside UDP through the NATs"
                n_udp="$(count "$pcap" 'esp && udp.port == 4500')"
                ((n_udp == $(count "$pcap" esp))) || fail "$tag: ESP frames outside UDP 4500"
            fi
            n_esp="$(count "$pcap" esp)"
            n_good="$(count "$pcap" 'esp.icv_good == 1')"
            n_inner="$(count "$pcap" 'esp && gre')"
            ((n_esp > 0 && n_good == n_esp)) || fail "$tag: $n_good of $n_esp ESP frames with a good ICV"
            ((n_inner == n_esp)) || fail "$tag: only $n_inner of $n_esp ESP frames decrypted to GRE"
            n_nhrp="$(count "$pcap" 'esp && nhrp')"
            ((n_nhrp >= 4)) || fail "$tag: only $n_nhrp NHRP packets decrypted from ESP"
            if [[ $mode == ikev1 ]]; then
                # IKEv1 has no integrity checksum tshark checks: every encrypted ISAKMP message
                # must decrypt (with the key log's phase 1 keys) to a HASH payload first.
                n_enc="$(count "$pcap" 'isakmp.flags & 1')"
                correct="$(count "$pcap" '(isakmp.flags & 1) && isakmp.hash')"
                ((n_enc >= 4 && correct == n_enc)) || fail "$tag: IKEv1 decryption: $correct of $n_enc encrypted ISAKMP messages decrypted"
                n_qm="$(count "$pcap" 'isakmp.exchangetype == 32')"
                echo "  $tag: $n_esp ESP frames, all with a good ICV and GRE inside ($n_nhrp NHRP); $correct of $n_enc encrypted ISAKMP messages decrypted ($n_qm Quick Mode); no cleartext GRE"
            else
                verdicts="$(tshark -r "$pcap" "${opts[@]}" -V 2>/dev/null | grep 'Integrity Checksum Data:' || true)"
                correct="$(grep -c '\[correct\]' <<<"$verdicts" || true)"
                incorrect="$(grep -vc '\[correct\]' <<<"$verdicts" || true)"
                [[ -z "$verdicts" ]] && incorrect=0
                ((correct >= 4 && incorrect == 0)) || fail "$tag: IKE decryption: $correct correct, $incorrect incorrect"
                echo "  $tag: $n_esp ESP frames, all with a good ICV and GRE inside ($n_nhrp NHRP); $correct IKE SK payloads with correct checksums; no cleartext GRE"
            fi
        fi
        direct="$carrier && icmp && ip.src == $a && ip.dst == $b && ip.src == 192.168.1.25 && ip.dst == 192.168.2.37 && icmp.type == 8"
        back="$carrier && icmp && ip.src == $b && ip.dst == $a && ip.src == 192.168.2.37 && ip.dst == 192.168.1.25 && icmp.type == 0"
        n_direct="$(count "$pcap" "$direct")"
        n_back="$(count "$pcap" "$back")"
        ((n_direct >= 3)) || fail "$tag: only $n_direct echo requests directly from $a to $b in $carrier"
        ((n_back >= 3)) || fail "$tag: only $n_back echo replies directly from $b to $a in $carrier"
        # The first request went through the hub, and NHRP resolved the spokes.
        n_hub="$(count "$pcap" "$carrier && icmp && ip.dst == 172.17.0.1 && ip.src == 192.168.1.25")"
        ((n_hub >= 1)) || fail "$tag: no echo request via the hub before the resolution"
        n_res="$(count "$pcap" 'nhrp.hdr.op.type == 2')"
        ((n_res >= 2)) || fail "$tag: fewer than 2 NHRP Resolution Replies"
        frames="$(count "$pcap" frame)"
        echo "clean: $pcap ($frames frames; $n_direct requests and $n_back replies in $carrier directly between the spokes)"
    done
done

out="$("$sim" --spokes 1000)"
summary="$(tail -n 1 <<<"$out")"
echo "$summary"
grep -q '1000/1000 spokes registered; 500/500 spoke-to-spoke tunnels built' <<<"$summary" || fail "scale: $summary"
grep -q '2500/2500 echo replies' <<<"$summary" || fail "scale: not every echo answered"
echo "dmvpn-sim: OK"
