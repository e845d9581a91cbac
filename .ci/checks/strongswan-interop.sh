#!/usr/bin/env bash
# Interop with strongSwan: charon (kernel-libipsec, encap = yes) in one network namespace,
# our ipsec-peer in another, joined by a veth pair. For each IKE/ESP proposal pair and with our
# side as initiator and as responder: IKE and CHILD SAs come up, pings pass through the tunnel
# both ways, a child rekey from each side and a child delete from charon succeed, and our
# SIGTERM deletes the IKE SA at charon. The cases: two single proposals; charon proposing the
# list aes128-sha256-modp3072,aes128-sha256-modp2048 against a list of ours that starts with
# ECP-384 (so MODP-3072 is chosen, after an INVALID_KE_PAYLOAD when we initiate); and
# ipsec-peer --mode transport with the two underlay addresses as traffic selectors, so that the
# pings go between the peers' own addresses while IKE and ESP must stay on the underlay
# (charon's kernel-libipsec only does tunnel mode, "IPsec SA: unsupported mode", so charon runs
# that host-to-host selector pair in tunnel mode and the child SA is tunnel mode). A capture on the veth, decrypted by tshark with
# ipsec-peer's --keylog, must have no malformed frames, every IKE integrity checksum correct and
# every ESP ICV good.
# Usage: .ci/checks/strongswan-interop.sh [TARGET_DIR]   (default: target)
set -euo pipefail

target="${1:-target}"
here="$(cd "$(dirname "$0")/.." && pwd)"
charon=/usr/lib/ipsec/charon
fail() { echo "strongswan-interop: FAIL: $*" >&2; exit 1; }

[[ -x "$charon" ]] || fail "charon is missing ($charon): apt-get install strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins"
command -v swanctl >/dev/null || fail "swanctl is missing"
command -v tshark >/dev/null || fail "tshark is missing"
command -v dumpcap >/dev/null || fail "dumpcap is missing"
command -v ping >/dev/null || fail "ping is missing (iputils-ping)"

peer_bin="$target/debug/ipsec-peer"
if [[ ! -x "$peer_bin" ]]; then
    CARGO_TARGET_DIR="$target" cargo build -q -p dmvpn-examples --bin ipsec-peer
fi
[[ -x "$peer_bin" ]] || fail "$peer_bin was not built"
peer_bin="$(cd "$(dirname "$peer_bin")" && pwd)/ipsec-peer"

# Our own namespaces and addresses only.
ns_ss="ikv2i-ss-$$"
ns_us="ikv2i-us-$$"
veth_ss="vikss$$"
veth_us="vikus$$"
charon_addr=10.231.7.2
peer_addr=10.231.7.1
charon_ts=10.232.0.1
peer_ts=10.233.0.1
charon_id=sun.interop.example
peer_id=moon.interop.example
psk="interop-$RANDOM-$RANDOM"
work="$(mktemp -d)"
pids=()

cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns_ss" 2>/dev/null || true
    ip netns del "$ns_us" 2>/dev/null || true
    if [[ -n "${KEEP_INTEROP_LOGS:-}" ]]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s, fails after SECONDS.
wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= end)); then
            echo "--- charon log (tail)"; tail -40 "$work/charon.log" 2>/dev/null || true
            echo "--- ipsec-peer log (tail)"; tail -40 "$work/peer.log" 2>/dev/null || true
            fail "timed out after ${secs}s waiting for $what"
        fi
        sleep 0.2
    done
}

ip netns add "$ns_ss"
ip netns add "$ns_us"
ip link add "$veth_ss" type veth peer name "$veth_us"
ip link set "$veth_ss" netns "$ns_ss"
ip link set "$veth_us" netns "$ns_us"
for ns in "$ns_ss" "$ns_us"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" ip link set lo up
done
ip netns exec "$ns_ss" ip addr add "$charon_addr/24" dev "$veth_ss"
ip netns exec "$ns_us" ip addr add "$peer_addr/24" dev "$veth_us"
ip netns exec "$ns_ss" ip link set "$veth_ss" up
ip netns exec "$ns_us" ip link set "$veth_us" up
ip netns exec "$ns_ss" ip addr add "$charon_ts/32" dev lo
echo "$psk" >"$work/psk"
mkdir -p "$work/run"

vici="unix://$work/charon.vici"
sw() { swanctl "$@" --uri "$vici"; }
list_sas() { sw --list-sas 2>/dev/null; }
ike_up() { list_sas | grep -q ESTABLISHED; }
child_up() { list_sas | grep -q INSTALLED; }
no_sas() { ! list_sas | grep -q ESTABLISHED; }
child_in_spi() { list_sas | awk '/INSTALLED/ {f=1} f && $1 == "in" {sub(",", "", $2); print $2; exit}'; }
peer_alive() { kill -0 "$peer_pid" 2>/dev/null; }
ping_us() { ip netns exec "$ns_us" ping -c 2 -i 0.3 -W 2 -I "$ts_us" "$ts_ss"; }
ping_ss() { ip netns exec "$ns_ss" ping -c 2 -i 0.3 -W 2 -I "$ts_ss" "$ts_us"; }
spi_changed() { local now; now="$(child_in_spi)"; [[ -n "$now" && "$now" != "$1" ]]; }
child_gone() { ike_up && ! child_up; }

cases=0
# run_case IKE ESP ROLE [OUR_IKE OUR_ESP OUR_MODE]: charon proposes IKE/ESP, ipsec-peer
# OUR_IKE/OUR_ESP (default: the same) in OUR_MODE (tunnel; transport means host-to-host
# selectors, the two underlay addresses).
run_case() {
    local ike=$1 esp=$2 role=$3
    local our_ike=${4:-$1} our_esp=${5:-$2} our_mode=${6:-tunnel}
    local tag="${ike}_${esp}_${our_ike}_${our_mode}_${role}"
    tag="${tag//,/+}"
    echo "--- charon $ike / $esp, ipsec-peer $our_ike / $our_esp --mode $our_mode as $role"
    rm -f "$work/charon.log" "$work/peer.log" "$work/keylog" "$work/charon.vici"
    if [[ "$our_mode" == transport ]]; then
        ts_ss=$charon_addr ts_us=$peer_addr
        printf 'plugins {\n kernel-libipsec {\n  allow_peer_ts = yes\n }\n kernel-netlink {\n  fwmark = !0x42\n }\n socket-default {\n  fwmark = 0x42\n }\n}\n' >"$work/extra.conf"
    else
        ts_ss=$charon_ts ts_us=$peer_ts
        : >"$work/extra.conf"
    fi
    sed -e "s|@DIR@|$work|g" "$here/strongswan/strongswan.conf.in" >"$work/strongswan.conf"
    sed -e "s|@CHARON_ADDR@|$charon_addr|; s|@PEER_ADDR@|$peer_addr|; s|@IKE@|$ike|; s|@ESP@|$esp|" \
        -e "s|@CHARON_ID@|$charon_id|g; s|@PEER_ID@|$peer_id|g; s|@CHARON_TS@|$ts_ss/32|" \
        -e "s|@PEER_TS@|$ts_us/32|; s|@PSK@|$psk|" \
        "$here/strongswan/swanctl.conf.in" >"$work/swanctl.conf"

    ip netns exec "$ns_ss" unshare -m --propagation private sh -c \
        "mount --bind '$work/run' /run && STRONGSWAN_CONF='$work/strongswan.conf' exec $charon" \
        >"$work/charon.out" 2>&1 &
    local charon_pid=$!
    pids+=("$charon_pid")
    wait_for 20 "charon's vici socket" test -S "$work/charon.vici"
    wait_for 10 "swanctl --load-all" sw --load-all --file "$work/swanctl.conf"

    local pcap="$work/$tag.pcapng"
    ip netns exec "$ns_us" dumpcap -q -i "$veth_us" -f udp -w "$pcap" >"$work/dumpcap.out" 2>&1 &
    local dump_pid=$!
    pids+=("$dump_pid")
    wait_for 10 "dumpcap to start" test -s "$pcap"

    local init=()
    [[ "$role" == initiator ]] && init=(--initiate)
    ip netns exec "$ns_us" env RUST_LOG=info "$peer_bin" \
        --local "$peer_addr" --remote "$charon_addr" --local-id "$peer_id" --remote-id "$charon_id" \
        --psk-file "$work/psk" --ike "$our_ike" --esp "$our_esp" --tun ikv2p0 \
        --local-ts "$ts_us/32" --remote-ts "$ts_ss/32" --mode "$our_mode" \
        --keylog "$work/keylog" "${init[@]}" >"$work/peer.log" 2>&1 &
    peer_pid=$!
    pids+=("$peer_pid")
    wait_for 10 "ipsec-peer's TUN" grep -q "TUN up" "$work/peer.log"
    if [[ "$role" == responder ]]; then
        timeout 30 swanctl --initiate --uri "$vici" --child net >"$work/initiate.out" 2>&1 \
            || { cat "$work/initiate.out"; fail "swanctl --initiate failed"; }
    fi
    wait_for 30 "IKE SA established at charon" ike_up
    wait_for 30 "CHILD SA installed at charon" child_up
    wait_for 10 "child SA up at ipsec-peer" grep -q "child SA up" "$work/peer.log"
    wait_for 20 "ping ipsec-peer -> charon through the tunnel" ping_us
    wait_for 20 "ping charon -> ipsec-peer through the tunnel" ping_ss

    # Child rekey started by charon (our responder side of CREATE_CHILD_SA/REKEY_SA).
    local spi
    spi="$(child_in_spi)"
    [[ -n "$spi" ]] || fail "no child SPI in swanctl --list-sas"
    timeout 20 swanctl --rekey --uri "$vici" --child net >/dev/null || fail "swanctl --rekey failed"
    wait_for 20 "child rekey by charon" spi_changed "$spi"
    wait_for 20 "ping after charon's rekey" ping_us
    # Child rekey started by us (SIGUSR1).
    spi="$(child_in_spi)"
    kill -USR1 "$peer_pid"
    wait_for 20 "child rekey by ipsec-peer" spi_changed "$spi"
    wait_for 20 "ping after our rekey" ping_ss
    # Child delete by charon, then our SIGTERM deletes the IKE SA.
    timeout 20 swanctl --terminate --uri "$vici" --child net >/dev/null || fail "swanctl --terminate --child failed"
    wait_for 20 "child SA deleted" child_gone
    wait_for 10 "ipsec-peer to log the delete" grep -q "child SA deleted" "$work/peer.log"
    kill -TERM "$peer_pid"
    wait_for 10 "IKE SA deleted at charon" no_sas
    wait_for 10 "ipsec-peer to exit" bash -c "! kill -0 $peer_pid"
    wait "$peer_pid" || fail "ipsec-peer exited with an error: $(tail -5 "$work/peer.log")"
    grep -q "bye" "$work/peer.log" || fail "ipsec-peer did not shut down cleanly"

    sleep 0.5
    kill "$dump_pid" 2>/dev/null || true
    wait "$dump_pid" 2>/dev/null || true
    kill "$charon_pid" 2>/dev/null || true
    wait "$charon_pid" 2>/dev/null || true
    check_capture "$pcap" "$tag"
    cases=$((cases + 1))
}

check_capture() {
    local pcap=$1 tag=$2
    local opts=(-n -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
    while IFS= read -r row; do
        [[ -n "$row" ]] && opts+=(-o "$row")
    done <"$work/keylog"
    local bad
    bad="$(tshark -r "$pcap" "${opts[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' \
        -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
    [[ -z "${bad// /}" ]] || {
        tshark -r "$pcap" "${opts[@]}" -V -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' 2>/dev/null \
            | grep -E 'Expert Info|Malformed|ICV' | sort | uniq -c >&2
        fail "$tag: malformed, expert warning or bad ICV in frame(s) $bad"
    }
    local ike_frames esp_good icmp correct incorrect
    ike_frames="$(tshark -r "$pcap" "${opts[@]}" -Y isakmp -T fields -e frame.number 2>/dev/null | wc -l)"
    esp_good="$(tshark -r "$pcap" "${opts[@]}" -Y 'esp.icv_good == 1' -T fields -e frame.number 2>/dev/null | wc -l)"
    icmp="$(tshark -r "$pcap" "${opts[@]}" -Y 'esp && icmp' -T fields -e frame.number 2>/dev/null | wc -l)"
    local verdicts
    verdicts="$(tshark -r "$pcap" "${opts[@]}" -V 2>/dev/null | grep 'Integrity Checksum Data:' || true)"
    correct="$(grep -c '\[correct\]' <<<"$verdicts" || true)"
    incorrect="$(grep -vc '\[correct\]' <<<"$verdicts" || true)"
    [[ -z "$verdicts" ]] && incorrect=0
    echo "    capture: $ike_frames IKE frames, $correct SK payloads decrypted with correct checksums, $incorrect not; $esp_good ESP frames with good ICV, $icmp decrypted ICMP"
    ((ike_frames >= 8)) || fail "$tag: only $ike_frames IKE frames captured"
    ((correct >= 6 && incorrect == 0)) || fail "$tag: IKE decryption: $correct correct, $incorrect incorrect"
    ((esp_good >= 8 && icmp >= 8)) || fail "$tag: ESP decryption: $esp_good good ICVs, $icmp ICMP"
}

started=$SECONDS
for pair in "aes128-sha256-modp2048 aes128-sha256-modp2048" "aes256gcm16-prfsha256-x25519 aes256gcm16-x25519"; do
    read -r ike esp <<<"$pair"
    for role in initiator responder; do
        run_case "$ike" "$esp" "$role"
    done
done
# Proposal lists both ways: charon's strongSwan list, ours starting with a group charon lacks.
for role in initiator responder; do
    run_case aes128-sha256-modp3072,aes128-sha256-modp2048 aes128-sha256-modp3072 "$role" \
        aes256-sha384-ecp384,aes128-sha256-modp3072,aes128-sha256-modp2048 \
        aes128gcm16-ecp384,aes128-sha256-modp3072
done
grep -q "aes128-sha256-modp3072" "$work/peer.log" || fail "MODP-3072 was not the negotiated IKE suite"
# ipsec-peer --mode transport: the selectors are the underlay addresses themselves.
for role in initiator responder; do
    run_case aes128-sha256-modp2048 aes128gcm16 "$role" aes128-sha256-modp2048 aes128gcm16 transport
done
echo "strongswan-interop: OK: $cases cases (2 proposal pairs, proposal lists, host-to-host --mode transport; each x initiator/responder) in $((SECONDS - started)) s: IKE + CHILD SA, pings both ways, child rekeys from both sides, child delete, IKE delete, captures decrypted by tshark"
