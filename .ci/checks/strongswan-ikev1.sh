#!/usr/bin/env bash
# IKEv1 interop with strongSwan: charon "sun" (swanctl `version = 1`, Main Mode with a pre-shared
# key, `aggressive = no`, kernel-libipsec, `encap = yes`, tunnel mode, DPD) in one network
# namespace and the side under test ("moon") in another, joined by a veth pair. The side under
# test is
#   PEER=ours (default): our ipsec-peer --ike-version 1 (dmvpn_ikev1::Endpoint and esp through
#     a TUN device; --force-encap, like encap = yes; --dpd 2; SIGUSR1 rekeys phase 2, SIGTERM
#     deletes the ISAKMP SA), whose --keylog gives the tshark rows; they must equal the rows
#     computed from sun's own keys (the same keys derived on both sides);
#   PEER=charon: a second charon (the same configuration mirrored). This validates the harness
#     itself: the swanctl configuration, the proofs read from charon's log and the tshark
#     decryption of IKEv1 and ESP, with the keys read from sun's level-4 log
#     (.ci/strongswan/charon-ikev1-keylog.py: Debian's strongSwan has no save-keys plugin).
# For each proposal (phase 1 and phase 2 alike: aes128-sha256-modp2048, aes256-sha1-ecp256, the
# phase 2 group meaning PFS) and with moon as initiator and as responder: phase 1 (Main Mode)
# and phase 2 (Quick Mode) come up, pings pass through the tunnel both ways, DPD R-U-THERE is
# answered both ways, phase 2 is rekeyed by each side (and the rekeying side deletes the old SA:
# charon.delete_rekeyed = yes), sun deletes the IPsec SA (Informational DELETE for ESP), and
# moon deletes the ISAKMP SA at sun. The charon log lines that prove each step are printed. A
# capture on the veth, decrypted by tshark with the keys (`uat:ikev1_decryption_table`,
# `uat:esp_sa`), must have no malformed frame, no expert warning, every encrypted ISAKMP
# message decrypted (Main Mode 5/6 with their ID and HASH, Quick Mode, Informational with HASH),
# the DPD notifications and both deletes, and every ESP frame with a good ICV.
# Usage: [PEER=ours|charon] .ci/checks/strongswan-ikev1.sh [TARGET_DIR]   (default: target)
#        KEEP_INTEROP_LOGS=1 keeps the logs and captures.
set -euo pipefail

target="${1:-target}"
peer_kind="${PEER:-ours}"
here="$(cd "$(dirname "$0")/.." && pwd)"
charon=/usr/lib/ipsec/charon
fail() { echo "strongswan-ikev1: FAIL: $*" >&2; exit 1; }

[[ -x "$charon" ]] || fail "charon is missing ($charon): apt-get install strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins"
command -v swanctl >/dev/null || fail "swanctl is missing"
command -v tshark >/dev/null || fail "tshark is missing"
command -v dumpcap >/dev/null || fail "dumpcap is missing"
command -v ping >/dev/null || fail "ping is missing (iputils-ping)"
command -v python3 >/dev/null || fail "python3 is missing"
case "$peer_kind" in
    ours)
        peer_bin="$target/debug/ipsec-peer"
        if [[ ! -x "$peer_bin" ]]; then
            CARGO_TARGET_DIR="$target" cargo build -q -p dmvpn-examples --bin ipsec-peer
        fi
        [[ -x "$peer_bin" ]] || fail "$peer_bin was not built"
        peer_bin="$(cd "$(dirname "$peer_bin")" && pwd)/ipsec-peer"
        ;;
    charon) ;;
    *) fail "PEER=$peer_kind: expected ours or charon" ;;
esac

# Our own namespaces and addresses only.
ns_a="ikv1i-sun-$$"
ns_b="ikv1i-moon-$$"
veth_a="vik1s$$"
veth_b="vik1m$$"
a_addr=10.241.7.2
b_addr=10.241.7.1
a_net=10.241.2.0/24 a_host=10.241.2.1
b_net=10.241.3.0/24 b_host=10.241.3.1
psk="ikev1-$RANDOM-$RANDOM"
dpd=2s
work="$(mktemp -d)"
pids=()

cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    if [[ -n "${KEEP_INTEROP_LOGS:-}" ]]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s, fails after SECONDS.
wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= end)); then
            echo "--- sun's charon log (tail)"; tail -40 "$work/a/charon.log" 2>/dev/null || true
            echo "--- moon's log (tail)"; tail -40 "$work/b/charon.log" "$work/peer.log" 2>/dev/null || true
            fail "timed out after ${secs}s waiting for $what"
        fi
        sleep 0.2
    done
}

ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$veth_a" type veth peer name "$veth_b"
ip link set "$veth_a" netns "$ns_a"
ip link set "$veth_b" netns "$ns_b"
for ns in "$ns_a" "$ns_b"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" ip link set lo up
done
ip netns exec "$ns_a" ip addr add "$a_addr/24" dev "$veth_a"
ip netns exec "$ns_b" ip addr add "$b_addr/24" dev "$veth_b"
ip netns exec "$ns_a" ip link set "$veth_a" up
ip netns exec "$ns_b" ip link set "$veth_b" up
ip netns exec "$ns_a" ip addr add "$a_host/32" dev lo
# (ipsec-peer puts moon's inner address on its TUN device.)
[[ "$peer_kind" == charon ]] && ip netns exec "$ns_b" ip addr add "$b_host/32" dev lo

sw_a() { swanctl "$@" --uri "unix://$work/a/charon.vici"; }
sw_b() { swanctl "$@" --uri "unix://$work/b/charon.vici"; }
sas_a() { sw_a --list-sas 2>/dev/null; }
sas_b() { sw_b --list-sas 2>/dev/null; }
ike_up() { sas_a | grep -q ESTABLISHED; }
child_up() { sas_a | grep -q INSTALLED; }
one_child() { [[ "$(sas_a | grep -c INSTALLED)" == 1 ]]; }
no_sas() { ! sas_a | grep -q ESTABLISHED; }
child_gone() { ike_up && ! child_up; }
# The newest child SA's inbound SPI at sun (swanctl lists a connection's child SAs oldest first).
child_in_spi() { sas_a | awk '/INSTALLED/ {f=1} f && $1 == "in" {s=$2} END {sub(",", "", s); print s}'; }
spi_changed() { local now; now="$(child_in_spi)"; [[ -n "$now" && "$now" != "$1" ]]; }
cookie_i() { sas_a | awk '/ESTABLISHED, IKEv1/ {for (i = 1; i <= NF; i++) if ($i ~ /_i\*?$/) {sub(/_i\*?$/, "", $i); print $i; exit}}'; }
ping_b() { ip netns exec "$ns_b" ping -c 2 -i 0.3 -W 2 -I "$b_host" "$a_host"; }
ping_a() { ip netns exec "$ns_a" ping -c 2 -i 0.3 -W 2 -I "$a_host" "$b_host"; }
in_log() { grep -qE "$2" "$1"; }

# dpd_probe QUIET_NS SRC DST PINGER_NS WHAT LOG PATTERN: PINGER_NS pings SRC -> DST through the
# tunnel while QUIET_NS ignores echo requests, until LOG has one more line matching PATTERN.
dpd_probe() {
    local quiet=$1 src=$2 dst=$3 pinger=$4 what=$5 log=$6 pattern=$7
    local before
    before="$(grep -cE "$pattern" "$log" || true)"
    ip netns exec "$quiet" sysctl -qw net.ipv4.icmp_echo_ignore_all=1
    ip netns exec "$pinger" ping -q -i 0.2 -w 15 -I "$src" "$dst" >/dev/null 2>&1 &
    local ping_pid=$!
    pids+=("$ping_pid")
    wait_for 15 "$what" bash -c "(( \$(grep -cE '$pattern' '$log') > $before ))"
    kill "$ping_pid" 2>/dev/null || true
    wait "$ping_pid" 2>/dev/null || true
    ip netns exec "$quiet" sysctl -qw net.ipv4.icmp_echo_ignore_all=0
}

# start_charon DIR NS LOCAL REMOTE LOCAL_TS REMOTE_TS IKE ESP: one charon with its own /run,
# vici socket and logs in DIR; charon.log at level 2, charon-keys.log with ike and chd at 4,
# both written line by line (the script waits for lines in them).
start_charon() {
    local dir=$1 ns=$2 local_addr=$3 remote_addr=$4 lts=$5 rts=$6 ike=$7 esp=$8
    rm -rf "$dir"
    mkdir -p "$dir/run"
    sed -e "s|@DIR@|$dir|g" "$here/strongswan/strongswan.conf.in" >"$dir/strongswan.conf"
    cat >"$dir/extra.conf" <<EOF
delete_rekeyed = yes
filelog {
    log {
        flush_line = yes
    }
    keys {
        path = $dir/charon-keys.log
        time_format = %T
        flush_line = yes
        default = 1
        ike = 4
        chd = 4
    }
}
EOF
    sed -e "s|@LOCAL_ADDR@|$local_addr|g; s|@REMOTE_ADDR@|$remote_addr|g; s|@IKE@|$ike|; s|@ESP@|$esp|" \
        -e "s|@DPD@|$dpd|; s|@LOCAL_TS@|$lts|; s|@REMOTE_TS@|$rts|; s|@PSK@|$psk|" \
        "$here/strongswan/swanctl-ikev1.conf.in" >"$dir/swanctl.conf"
    ip netns exec "$ns" unshare -m --propagation private sh -c \
        "mount --bind '$dir/run' /run && STRONGSWAN_CONF='$dir/strongswan.conf' exec $charon" \
        >"$dir/charon.out" 2>&1 &
    pids+=("$!")
    last_pid=$!
    wait_for 20 "charon's vici socket in $dir" test -S "$dir/charon.vici"
    wait_for 10 "swanctl --load-all in $dir" swanctl --load-all --file "$dir/swanctl.conf" --uri "unix://$dir/charon.vici"
}

# The side under test: start, state, commands.
start_b() {
    local ike=$1 esp=$2 role=$3
    if [[ "$peer_kind" == charon ]]; then
        start_charon "$work/b" "$ns_b" "$b_addr" "$a_addr" "$b_net" "$a_net" "$ike" "$esp"
        b_pid=$last_pid
        return
    fi
    rm -f "$work/peer.log" "$work/keylog"
    echo "$psk" >"$work/psk"
    local init=()
    [[ "$role" == initiator ]] && init=(--initiate)
    ip netns exec "$ns_b" env RUST_LOG=info "$peer_bin" --ike-version 1 \
        --local "$b_addr" --remote "$a_addr" --local-id "$b_addr" --remote-id "$a_addr" \
        --psk-file "$work/psk" --ike "$ike" --esp "$esp" --tun ikv1p0 \
        --local-ts "$b_host/${b_net#*/}" --remote-ts "$a_net" --force-encap --dpd 2 \
        --keylog "$work/keylog" "${init[@]}" >"$work/peer.log" 2>&1 &
    b_pid=$!
    pids+=("$b_pid")
    wait_for 10 "ipsec-peer's TUN" grep -q "TUN up" "$work/peer.log"
}
b_initiate() {
    # ipsec-peer --initiate starts by itself.
    if [[ "$peer_kind" == charon ]]; then
        timeout 30 swanctl --initiate --uri "unix://$work/b/charon.vici" --child net >"$work/initiate.out" 2>&1 \
            || { cat "$work/initiate.out"; fail "moon's swanctl --initiate failed"; }
    fi
}
b_child_up() {
    if [[ "$peer_kind" == charon ]]; then sas_b | grep -q INSTALLED; else grep -q "child SA up" "$work/peer.log"; fi
}
b_no_child() {
    if [[ "$peer_kind" == charon ]]; then
        ! sas_b | grep -q INSTALLED
    else
        [[ "$(grep -c "child SA up" "$work/peer.log")" == "$(grep -c "child SA deleted" "$work/peer.log")" ]]
    fi
}
b_rekey() {
    if [[ "$peer_kind" == charon ]]; then
        timeout 20 swanctl --rekey --uri "unix://$work/b/charon.vici" --child net >/dev/null || fail "moon's swanctl --rekey failed"
    else
        kill -USR1 "$b_pid"
    fi
}
b_close() {
    if [[ "$peer_kind" == charon ]]; then
        timeout 20 swanctl --terminate --uri "unix://$work/b/charon.vici" --ike peer >/dev/null || fail "moon's swanctl --terminate --ike failed"
        return
    fi
    kill -TERM "$b_pid"
}
b_exited() {
    [[ "$peer_kind" == charon ]] && return
    wait_for 10 "ipsec-peer to exit" bash -c "! kill -0 $b_pid"
    wait "$b_pid" || fail "ipsec-peer exited with an error: $(tail -5 "$work/peer.log")"
    grep -q "bye" "$work/peer.log" || fail "ipsec-peer did not shut down cleanly"
}

# proof LOG LABEL PATTERN [AFTER]: the first line of LOG matching PATTERN (after the first line
# matching AFTER, if given), printed as evidence.
# charon writes its log as it goes: a line of what just happened may take a moment (longer on
# a loaded machine), so each proof waits up to 10 s for its line.
proof() {
    local line="" from="" tries=0
    while ((tries < 50)); do
        from=1
        if [[ -n "${4:-}" ]]; then
            from="$(grep -n -m1 -E "$4" "$1" | cut -d: -f1 || true)"
        fi
        if [[ -n "$from" ]]; then
            line="$(tail -n +"$from" "$1" | grep -m1 -E "$3" | sed -E 's/^[0-9:]+ [0-9]+//' || true)"
            [[ -n "$line" ]] && break
        fi
        tries=$((tries + 1))
        sleep 0.2
    done
    [[ -n "$line" ]] || fail "$2: no line matching /$3/${4:+ after /$4/} in $1"
    echo "      $2: $line"
}

cases=0
# run_case IKE ESP ROLE: sun proposes IKE (phase 1) and ESP (phase 2); the side under test is
# ROLE (initiator: it starts Main Mode; responder: sun does).
run_case() {
    local ike=$1 esp=$2 role=$3
    local tag="${ike}_${esp}_${role}"
    echo "--- sun $ike / $esp, $peer_kind as $role"
    start_charon "$work/a" "$ns_a" "$a_addr" "$b_addr" "$a_net" "$b_net" "$ike" "$esp"
    local a_pid=$last_pid
    local pcap="$work/$tag.pcapng"
    ip netns exec "$ns_b" dumpcap -q -i "$veth_b" -f udp -w "$pcap" >"$work/dumpcap.out" 2>&1 &
    local dump_pid=$!
    pids+=("$dump_pid")
    wait_for 10 "dumpcap to start" test -s "$pcap"
    start_b "$ike" "$esp" "$role"

    if [[ "$role" == initiator ]]; then
        b_initiate
    else
        timeout 30 swanctl --initiate --uri "unix://$work/a/charon.vici" --child net >"$work/initiate.out" 2>&1 \
            || { cat "$work/initiate.out"; fail "sun's swanctl --initiate failed"; }
    fi
    wait_for 30 "ISAKMP SA established at sun" ike_up
    wait_for 30 "IPsec SA installed at sun" child_up
    wait_for 10 "IPsec SA installed at moon" b_child_up
    local cky
    cky="$(cookie_i)"
    [[ "$cky" =~ ^[0-9a-f]{16}$ ]] || fail "no initiator cookie in swanctl --list-sas: '$cky'"
    wait_for 20 "ping moon -> sun through the tunnel" ping_b
    wait_for 20 "ping sun -> moon through the tunnel" ping_a
    # DPD both ways: a one-way flow (echo requests the other side ignores) leaves the sender
    # without inbound traffic, so after dpd_delay it sends R-U-THERE, which must be answered.
    local la="$work/a/charon.log"
    dpd_probe "$ns_b" "$a_host" "$b_host" "$ns_a" "sun's DPD R-U-THERE answered" "$la" \
        'parsed INFORMATIONAL_V1 request [0-9]+ \[ HASH N\(DPD_ACK\) \]'
    dpd_probe "$ns_a" "$b_host" "$a_host" "$ns_b" "$peer_kind's DPD R-U-THERE answered by sun" "$la" \
        'generating INFORMATIONAL_V1 request [0-9]+ \[ HASH N\(DPD_ACK\) \]'

    # Phase 2 rekey started by sun; sun then deletes the old SA (delete_rekeyed).
    local spi
    spi="$(child_in_spi)"
    [[ -n "$spi" ]] || fail "no child SPI in swanctl --list-sas"
    timeout 20 swanctl --rekey --uri "unix://$work/a/charon.vici" --child net >/dev/null || fail "sun's swanctl --rekey failed"
    wait_for 20 "phase 2 rekey by sun" spi_changed "$spi"
    wait_for 20 "the rekeyed SA deleted by sun" one_child
    wait_for 20 "ping after sun's rekey" ping_b
    # Phase 2 rekey started by the side under test.
    spi="$(child_in_spi)"
    b_rekey
    wait_for 20 "phase 2 rekey by $peer_kind" spi_changed "$spi"
    wait_for 20 "the rekeyed SA deleted by moon" one_child
    # The pair net{3} replaced is net{2}: a DELETE of its SPIs by either side (charon's
    # delete_rekeyed, or ours 3 s after the rekey) must reach sun's log before going on (a
    # REKEYED pair is not INSTALLED, so one_child alone may pass before it is gone).
    local old_spis
    old_spis="$(grep -m1 -oE 'CHILD_SA net\{2\} established with SPIs [0-9a-f]+_i [0-9a-f]+_o' "$la" \
        | sed -E 's/.*SPIs ([0-9a-f]+)_i ([0-9a-f]+)_o/\1|\2/')"
    [[ -n "$old_spis" ]] || fail "no SPIs of net{2} in $la"
    wait_for 15 "the pair replaced by $peer_kind's rekey deleted" in_log "$la" "DELETE for ESP CHILD_SA with SPI ($old_spis)"
    wait_for 20 "ping after $peer_kind's rekey" ping_a
    # Child delete by sun, then the side under test deletes the ISAKMP SA.
    timeout 20 swanctl --terminate --uri "unix://$work/a/charon.vici" --child net >/dev/null || fail "sun's swanctl --terminate --child failed"
    wait_for 20 "IPsec SA deleted at sun" child_gone
    wait_for 10 "IPsec SA deleted at moon" b_no_child
    b_close
    wait_for 10 "ISAKMP SA deleted at sun" no_sas
    b_exited

    sleep 0.3
    kill "$dump_pid" 2>/dev/null || true
    wait "$dump_pid" 2>/dev/null || true
    # The proofs, from sun's log (moon's mirror them).
    local ike_prop="selected proposal: IKE:" esp_prop="selected proposal: ESP:"
    proof "$la" "phase 1 proposal" "$ike_prop"
    proof "$la" "phase 1 (Main Mode)" 'IKE_SA peer\[[0-9]+\] established between'
    proof "$la" "phase 2 proposal" "$esp_prop"
    proof "$la" "phase 2 (Quick Mode)" 'CHILD_SA net\{1\} established with SPIs'
    proof "$la" "DPD by sun, answered" 'parsed INFORMATIONAL_V1 request [0-9]+ \[ HASH N\(DPD_ACK\) \]'
    proof "$la" "DPD by $peer_kind, answered by sun" 'generating INFORMATIONAL_V1 request [0-9]+ \[ HASH N\(DPD_ACK\) \]'
    proof "$la" "rekey by sun" 'CHILD_SA net\{2\} established with SPIs'
    proof "$la" "rekey by sun, old SA" 'sending DELETE for ESP CHILD_SA with SPI'
    proof "$la" "rekey by $peer_kind" 'CHILD_SA net\{3\} established with SPIs'
    # charon (delete_rekeyed = yes) deletes the old pair of our rekey itself, before ours
    # keeps it the 3 s the peer's packets in flight need: either side's DELETE is the proof.
    proof "$la" "rekey by $peer_kind, old SA" "(received|sending) DELETE for ESP CHILD_SA with SPI ($old_spis)"
    proof "$la" "child delete by sun" 'closing CHILD_SA net\{3\} with SPIs'
    proof "$la" "ISAKMP delete by $peer_kind" 'received DELETE for IKE_SA peer\[[0-9]+\]'
    kill "$a_pid" 2>/dev/null || true
    [[ "$peer_kind" == charon ]] && kill "$b_pid" 2>/dev/null
    wait "$a_pid" "$b_pid" 2>/dev/null || true

    python3 "$here/strongswan/charon-ikev1-keylog.py" "$work/a/charon-keys.log" "$cky" "$a_addr" "$b_addr" \
        >"$work/sun-keylog" || fail "$tag: no keys from sun's log"
    if [[ "$peer_kind" == charon ]]; then
        cp "$work/sun-keylog" "$work/keylog"
    elif ! diff <(sort "$work/sun-keylog") <(sort "$work/keylog") >"$work/keylog.diff"; then
        cat "$work/keylog.diff" >&2
        fail "$tag: ipsec-peer's --keylog differs from the keys in sun's log (< sun, > ours)"
    else
        echo "    ipsec-peer's --keylog: $(wc -l <"$work/keylog") rows, the same keys as sun's"
    fi
    check_capture "$pcap" "$tag"
    cases=$((cases + 1))
}

# count PCAP FILTER: how many frames match.
count() { tshark -r "$1" "${opts[@]}" -Y "$2" -T fields -e frame.number 2>/dev/null | wc -l; }

check_capture() {
    local pcap=$1 tag=$2
    opts=(-n -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
    while IFS= read -r row; do
        [[ -n "$row" ]] && opts+=(-o "$row")
    done <"$work/keylog"
    local badf='_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1'
    local bad
    bad="$(tshark -r "$pcap" "${opts[@]}" -Y "$badf" -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
    [[ -z "${bad// /}" ]] || {
        tshark -r "$pcap" "${opts[@]}" -V -Y "$badf" 2>/dev/null | grep -E 'Expert Info|Malformed|ICV' | sort | uniq -c >&2
        fail "$tag: malformed, expert warning or bad ICV in frame(s) $bad"
    }
    local enc dec mm56 qm info dpd dpd_ack del_esp del_isakmp esp esp_good icmp
    enc="$(count "$pcap" 'isakmp.flag_e == 1')"
    dec="$(count "$pcap" 'isakmp.flag_e == 1 && isakmp.hash')"
    mm56="$(count "$pcap" 'isakmp.exchangetype == 2 && isakmp.flag_e == 1 && isakmp.id.type && isakmp.hash')"
    qm="$(count "$pcap" 'isakmp.exchangetype == 32 && isakmp.hash')"
    info="$(count "$pcap" 'isakmp.exchangetype == 5 && isakmp.hash')"
    dpd="$(count "$pcap" 'isakmp.notify.msgtype == 36136')"
    dpd_ack="$(count "$pcap" 'isakmp.notify.msgtype == 36137')"
    del_esp="$(count "$pcap" 'isakmp.delete.protoid == 3')"
    del_isakmp="$(count "$pcap" 'isakmp.delete.protoid == 1')"
    esp="$(count "$pcap" 'esp')"
    esp_good="$(count "$pcap" 'esp.icv_good == 1')"
    icmp="$(count "$pcap" 'esp && icmp')"
    echo "    capture: $enc encrypted ISAKMP messages, $dec decrypted (Main Mode 5/6: $mm56, Quick Mode: $qm, Informational: $info; DPD $dpd/$dpd_ack, DELETE ESP $del_esp, ISAKMP $del_isakmp); $esp ESP frames, $esp_good with good ICV, $icmp decrypted ICMP"
    ((enc == dec)) || fail "$tag: $((enc - dec)) encrypted ISAKMP message(s) did not decrypt to a HASH payload"
    ((mm56 >= 2)) || fail "$tag: Main Mode messages 5/6 not decrypted ($mm56)"
    ((qm >= 9)) || fail "$tag: only $qm decrypted Quick Mode messages (3 exchanges of 3)"
    ((dpd >= 2 && dpd_ack >= 2)) || fail "$tag: DPD: $dpd R-U-THERE, $dpd_ack R-U-THERE-ACK"
    ((del_esp >= 3 && del_isakmp >= 1)) || fail "$tag: deletes: $del_esp ESP, $del_isakmp ISAKMP"
    ((esp >= 16 && esp_good == esp && icmp == esp)) || fail "$tag: ESP: $esp frames, $esp_good good ICVs, $icmp ICMP"
}

started=$SECONDS
for pair in "aes128-sha256-modp2048 aes128-sha256-modp2048" "aes256-sha1-ecp256 aes256-sha1-ecp256"; do
    read -r ike esp <<<"$pair"
    for role in initiator responder; do
        run_case "$ike" "$esp" "$role"
    done
done
echo "strongswan-ikev1: OK ($peer_kind): $cases cases (aes128-sha256-modp2048, aes256-sha1-ecp256; each x initiator/responder) in $((SECONDS - started)) s: Main Mode + Quick Mode, pings both ways, DPD both ways, phase 2 rekeys from both sides, child delete, ISAKMP delete, captures decrypted by tshark"
