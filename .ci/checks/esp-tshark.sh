#!/usr/bin/env bash
# Decrypts the ESP capture written by esp/tests/tshark_pcap.rs (run `cargo test -p dmvpn-esp` first)
# with tshark, using the SA keys from its sidecar file, and fails unless every ESP frame has
# esp.icv_good == 1, none has esp.icv_bad == 1, the decrypted payload (esp.decrypted_data
# without padding, pad length and next header) equals the expected one, the NAT keepalive is
# recognised, and nothing is malformed or raises an expert warning.
# Usage: .ci/checks/esp-tshark.sh [TARGET_DIR]   (default: target)
set -euo pipefail

target="${1:-target}"
dir="$target/tmp/pcap"
pcap="$dir/esp-suites.pcap"
uat="$dir/esp-suites.uat"
expected="$dir/esp-suites.expected"

for f in "$pcap" "$uat" "$expected"; do
    if [[ ! -s "$f" ]]; then
        echo "esp-tshark: FAIL: $f is missing (run 'cargo test -p dmvpn-esp' with this target dir first)" >&2
        exit 1
    fi
done
command -v tshark >/dev/null || { echo "esp-tshark: FAIL: tshark is not installed" >&2; exit 1; }

opts=(-n -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
while IFS= read -r row; do
    [[ -n "$row" ]] && opts+=(-o "uat:esp_sa:$row")
done <"$uat"

fields="$(mktemp)"
trap 'rm -f "$fields"' EXIT
tshark -r "$pcap" "${opts[@]}" -T fields -E separator=/t -E occurrence=f \
    -e frame.number -e esp.icv_good -e esp.icv_bad -e esp.pad_len -e esp.decrypted_data \
    -e udpencap.nat_keepalive -e _ws.malformed -e _ws.expert.severity \
    2>/dev/null >"$fields"

bad_frames="$(tshark -r "$pcap" "${opts[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' \
    -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
if [[ -n "${bad_frames// /}" ]]; then
    echo "esp-tshark: FAIL: malformed, expert warning or bad ICV in frame(s) $bad_frames" >&2
    exit 1
fi

# Join the expected payloads with tshark's fields, frame by frame.
awk -F'\t' '
    NR == FNR { want[$1] = $2; n_expected++; next }
    {
        frames++
        num = $1; good = $2; bad = $3; pad = $4; data = $5; keepalive = $6
        if (!(num in want)) { printf "frame %s: not in the expected list\n", num; fail++; next }
        w = want[num]; seen[num] = 1
        if (w == "keepalive") {
            if (keepalive == "") { printf "frame %s: NAT keepalive not recognised\n", num; fail++ }
            else ok_keepalive++
            next
        }
        if (good != "1" && good != "True") { printf "frame %s: esp.icv_good is \"%s\", not 1\n", num, good; fail++; next }
        if (bad == "1" || bad == "True") { printf "frame %s: esp.icv_bad set\n", num; fail++; next }
        trailer = (pad + 2) * 2
        payload = tolower(substr(data, 1, length(data) - trailer))
        if (payload != tolower(w)) {
            printf "frame %s: decrypted payload differs\n  got  %s\n  want %s\n", num, payload, w; fail++; next
        }
        ok++
    }
    END {
        for (k in want) if (!(k in seen)) { printf "frame %s: missing from the capture\n", k; fail++ }
        printf "esp-tshark: %d frames, %d ESP frames decrypted with icv_good and the expected payload, %d NAT keepalive(s), %d failure(s)\n", frames, ok, ok_keepalive, fail
        exit (fail > 0 || ok == 0)
    }
' "$expected" "$fields"
