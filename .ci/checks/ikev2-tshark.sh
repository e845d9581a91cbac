#!/usr/bin/env bash
# Decrypts the IKEv2 capture written by ikev2/tests/tshark_pcap.rs (run `cargo test -p dmvpn-ikev2`
# first) with tshark, using our derived SK_e/SK_a keys as `ikev2_decryption_table` rows, and fails
# unless every SK message decrypts with a correct integrity checksum ("[correct]", never
# "[incorrect"), its decrypted inner payload types are the ones we put in, and nothing is
# malformed or raises an expert warning.
# Usage: .ci/checks/ikev2-tshark.sh [TARGET_DIR]   (default: target)
set -euo pipefail

target="${1:-target}"
dir="$target/tmp/pcap"
pcap="$dir/ikev2-sk.pcap"
uat="$dir/ikev2-sk.uat"
expected="$dir/ikev2-sk.expected"

for f in "$pcap" "$uat" "$expected"; do
    if [[ ! -s "$f" ]]; then
        echo "ikev2-tshark: FAIL: $f is missing (run 'cargo test -p dmvpn-ikev2' with this target dir first)" >&2
        exit 1
    fi
done
command -v tshark >/dev/null || { echo "ikev2-tshark: FAIL: tshark is not installed" >&2; exit 1; }

opts=(-n)
while IFS= read -r row; do
    [[ -n "$row" ]] && opts+=(-o "uat:ikev2_decryption_table:$row")
done <"$uat"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

bad_frames="$(tshark -r "$pcap" "${opts[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning' \
    -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
if [[ -n "${bad_frames// /}" ]]; then
    echo "ikev2-tshark: FAIL: malformed or expert warning in frame(s) $bad_frames" >&2
    exit 1
fi

# Integrity verdicts, one per SK message, from the detailed decode.
tshark -r "$pcap" "${opts[@]}" -V 2>/dev/null | awk '
    /^Frame [0-9]+:/ { frame = $2; sub(":", "", frame) }
    /Integrity Checksum Data:/ {
        if ($0 ~ /\[correct\]/) print frame "\tcorrect"
        else print frame "\tbad"
    }' >"$tmp/icd"

tshark -r "$pcap" "${opts[@]}" -T fields -E separator=/t -E occurrence=a -E aggregator=, \
    -e frame.number -e isakmp.typepayload 2>/dev/null >"$tmp/types"

awk -F'\t' '
    FILENAME == ARGV[1] { want[$1] = $2; n_expected++; next }
    FILENAME == ARGV[2] { icd[$1] = $2; next }
    {
        frames++
        num = $1
        if (!(num in want)) next
        seen[num] = 1
        if (icd[num] != "correct") {
            printf "frame %s: integrity checksum not verified as correct (%s)\n", num, (num in icd) ? icd[num] : "not decrypted"; fail++; next
        }
        # Inner payload types: drop the SK payload itself and the SA substructures (2, 3).
        n = split($2, t, ","); got = ""
        for (i = 2; i <= n; i++) if (t[i] != "2" && t[i] != "3") got = got (got == "" ? "" : ",") t[i]
        if (t[1] != "46") { printf "frame %s: first payload is %s, not SK (46)\n", num, t[1]; fail++; next }
        if (got != want[num]) { printf "frame %s: decrypted payload types %s, expected %s\n", num, got, want[num]; fail++; next }
        ok++
    }
    END {
        for (k in want) if (!(k in seen)) { printf "frame %s: missing from the capture\n", k; fail++ }
        printf "ikev2-tshark: %d frames, %d SK messages decrypted by tshark with correct integrity and the expected payloads, %d failure(s)\n", frames, ok, fail
        exit (fail > 0 || ok == 0 || ok != n_expected)
    }
' "$expected" "$tmp/icd" "$tmp/types"
