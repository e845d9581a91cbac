#!/usr/bin/env bash
# Throughput of dmvpn-node against other user-space VPNs on this machine kind, by hand (not CI).
#
# Two network namespaces, left and right, joined by ONE veth pair (left 172.16.1.1, right
# 172.16.2.1: spoke A's and spoke B's addresses of examples/configs/). Every measurement is one
# iperf3 TCP stream (client in left, server in right, -t DURATION) over that veth:
#   veth        the bare veth, 172.16.1.1 -> 172.16.2.1 (the reference)
#   dmvpn       dmvpn-node spoke A -> spoke B over their direct (NHRP-resolved) IKEv2 SA, ESP
#               AES-128-GCM (transform-set esp-gcm 128, IKEv2 aes-gcm-128), configurations made
#               from examples/configs/*.cfg; iperf3 between the spokes' LAN addresses
#               192.168.1.1 -> 192.168.2.1 (on lo), routed by the spokes' kernels into Tunnel0.
#               The hub is a third namespace linked to each spoke by its own veth (NHRP
#               registration and resolution, IKE to the hub); the spoke-to-spoke data must cross
#               the measured veth: the script checks the direct dynamic peer and the NHRP
#               shortcut for the far LAN (dmvpnctl show dmvpn --json, show ip nhrp) before the run
#               and the byte counters of the hub's links during it.
#   strongswan  charon (kernel-libipsec, ESP in UDP: encap = yes), esp_proposals aes128gcm16,
#               tunnel mode between 10.230.0.1 and 10.230.0.2 (on lo), charon in each namespace.
#   boringtun   boringtun-cli (user-space WireGuard over TUN, default 4 threads) configured with
#               wg, 10.240.0.1 -> 10.240.0.2.
# In every case iperf3 runs in the VPN endpoints' own namespaces, between overlay addresses of
# those namespaces, and every tunnel's inner MTU is 1400 (dmvpn-node's ip mtu 1400, charon's
# ipsec0 default, the WireGuard interface set to 1400).
#
# Per case: Mbit/s (iperf3 -J, receiver side); CPU seconds per GB received for the whole machine
# (busy jiffies of /proc/stat over the iperf3 client's run) and for the VPN processes alone
# (utime + stime of /proc/PID/stat, summed: both spokes and the hub, both charons, both
# boringtuns); ratios to the bare veth (the VPN processes' s/GB against the veth's whole-machine
# s/GB). `uptime` load averages before and after each measurement: other work on the machine
# shows up in the whole-machine figures. A markdown table on stdout, the raw JSON in OUT.
# Exit status 1 if a tunnel does not come up (which one, with its log tails).
#
# Usage: benches/throughput.sh            (as root, from anywhere)
#   DURATION=10       iperf3 -t per run
#   ROUNDS=1          runs per case, interleaved (veth, dmvpn, strongswan, boringtun, veth, …);
#                     the table gives medians
#   ONLY=veth,dmvpn,strongswan,boringtun   the cases to run (veth always runs: the reference)
#   OUT=DIR           where the raw results go (default: a new /tmp/throughput.XXXXXX, kept)
#   CARGO_TARGET_DIR  the build (default: target)
#   PERF=1            also profile dmvpn-node (perf record -g on both spokes for PERF_SECONDS=5
#                     during an extra dmvpn run with a frame-pointer build, profile "profiling";
#                     perf report --no-children --stdio into OUT/perf-*.txt)
#   BENCH_TIMEOUT=900 seconds for everything after the installs and builds
#   RCVBUF=BYTES      an experiment, not the daemons' own setting: before each run, the receive
#                     buffer of every raw and UDP socket of the VPN processes is set to BYTES
#                     (SO_RCVBUFFORCE on a pidfd_getfd duplicate, benches/rcvbuf.py)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
DURATION=${DURATION:-10}
ONLY=${ONLY:-veth,dmvpn,strongswan,boringtun}
PERF=${PERF:-0}
PERF_SECONDS=${PERF_SECONDS:-5}
ROUNDS=${ROUNDS:-1}
RCVBUF=${RCVBUF:-}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}
target="${CARGO_TARGET_DIR:-$here/target}"
[[ "$(id -u)" == 0 ]] || { echo "throughput: run as root (namespaces, TUN, raw sockets)" >&2; exit 1; }
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || { echo "throughput: DURATION must be whole seconds" >&2; exit 1; }
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 ]] || { echo "throughput: ROUNDS must be a whole number" >&2; exit 1; }
if [[ -z "${OUT:-}" ]]; then OUT="$(mktemp -d /tmp/throughput.XXXXXX)"; fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
want() { [[ ",$ONLY," == *",$1,"* ]]; }

# --- 1. What is missing: packages, boringtun-cli, the binaries.
pkgs=()
command -v iperf3 >/dev/null || pkgs+=(iperf3)
command -v wg >/dev/null || pkgs+=(wireguard-tools)
command -v jq >/dev/null || pkgs+=(jq)
command -v ss >/dev/null || pkgs+=(iproute2)
command -v ping >/dev/null || pkgs+=(iputils-ping)
if [[ ! -x /usr/lib/ipsec/charon ]] || ! command -v swanctl >/dev/null; then
    pkgs+=(strongswan-charon strongswan-swanctl charon-systemd libcharon-extra-plugins
        libstrongswan-extra-plugins libstrongswan-standard-plugins)
fi
if [[ "$PERF" == 1 ]] && ! command -v perf >/dev/null; then pkgs+=(linux-perf); fi
if ((${#pkgs[@]})); then
    log "apt-get install ${pkgs[*]}"
    # No recommends: wireguard-tools recommends a kernel image, of no use here.
    timeout 900 env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    timeout 900 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
if ! command -v boringtun-cli >/dev/null; then
    log "cargo install boringtun-cli --locked"
    timeout 1800 cargo install boringtun-cli --locked
fi
log "building dmvpn-node and dmvpnctl (release, $target)"
CARGO_TARGET_DIR="$target" timeout 3600 cargo build --release -q -p dmvpn-examples --bin dmvpn-node --bin dmvpnctl
node_bin="$(realpath "$target/release/dmvpn-node")"
ctl_bin="$(realpath "$target/release/dmvpnctl")"
if [[ "$PERF" == 1 ]]; then
    # Same code and optimisation as release, plus frame pointers (perf record -g) and symbols.
    log "building dmvpn-node with frame pointers (profile profiling, $target/profiling)"
    CARGO_PROFILE_PROFILING_INHERITS=release CARGO_PROFILE_PROFILING_DEBUG=line-tables-only \
        CARGO_PROFILE_PROFILING_STRIP=none RUSTFLAGS="${RUSTFLAGS:-} -C force-frame-pointers=yes" \
        CARGO_TARGET_DIR="$target" timeout 3600 cargo build --profile profiling -q -p dmvpn-examples --bin dmvpn-node
    prof_bin="$(realpath "$target/profiling/dmvpn-node")"
fi
charon=/usr/lib/ipsec/charon
hz=$(getconf CLK_TCK)

# --- Namespaces, processes, cleanup.
P="tput$$"
nss=(left right hub)
declare -A pid=()
wgl="wgl$$" wgr="wgr$$"
cleanup() {
    local k
    [[ -n "${pid[watchdog]:-}" ]] && pkill -P "${pid[watchdog]}" 2>/dev/null || true
    for k in "${!pid[@]}"; do kill "${pid[$k]}" 2>/dev/null || true; done
    sleep 0.3
    for k in "${!pid[@]}"; do kill -9 "${pid[$k]}" 2>/dev/null || true; done
    for k in "${nss[@]}"; do ip netns del "$P-$k" 2>/dev/null || true; done
    rm -f "/var/run/wireguard/$wgl.sock" "/var/run/wireguard/$wgr.sock"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (BENCH_TIMEOUT=${BENCH_TIMEOUT}s?)"; exit 143' TERM
ns() { local n="$1"; shift; ip netns exec "$P-$n" "$@"; }
fail() { # case message [log files...]
    local what="$1" msg="$2" f
    shift 2
    echo "throughput: FAIL: $what: $msg" >&2
    for f in "$@"; do [[ -e "$f" ]] && { echo "--- $f (tail)" >&2; tail -n 30 "$f" >&2; }; done
    echo "raw results so far: $OUT" >&2
    exit 1
}
# wait_for SECONDS CASE DESCRIPTION COMMAND... (logs for the failure in $logs).
logs=()
wait_for() {
    local secs=$1 what="$2" desc="$3"
    local until=$((SECONDS + secs))
    shift 3
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < until)) || fail "$what" "timed out after ${secs}s waiting for $desc" "${logs[@]}"
        sleep 0.2
    done
}
stop() { # key...
    local k
    for k in "$@"; do
        [[ -n "${pid[$k]:-}" ]] || continue
        kill "${pid[$k]}" 2>/dev/null || true
    done
    for k in "$@"; do
        [[ -n "${pid[$k]:-}" ]] || continue
        local end=$((SECONDS + 5))
        while kill -0 "${pid[$k]}" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
        kill -9 "${pid[$k]}" 2>/dev/null || true
        wait "${pid[$k]}" 2>/dev/null || true
        unset "pid[$k]"
    done
}

# Watchdog: everything from here on is bounded.
(sleep "$BENCH_TIMEOUT" && kill -TERM $$) 2>/dev/null &
pid[watchdog]=$!
disown "${pid[watchdog]}"

# --- 2. The network: left <-> right (measured), hub <-> left and hub <-> right (control only).
for n in "${nss[@]}"; do
    ip netns del "$P-$n" 2>/dev/null || true
    ip netns add "$P-$n"
    ns "$n" ip link set lo up
    ns "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ns "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
ip link add vl netns "$P-left" type veth peer name vr netns "$P-right"
ns left ip addr add 172.16.1.1 peer 172.16.2.1/32 dev vl
ns right ip addr add 172.16.2.1 peer 172.16.1.1/32 dev vr
ns left ip link set vl up
ns right ip link set vr up
ns hub ip addr add 172.17.0.1/32 dev lo
for side in left:sa0:1:172.16.1.1 right:sb0:2:172.16.2.1; do
    IFS=: read -r n hif i addr <<<"$side"
    ip link add hub0 netns "$P-$n" type veth peer name "$hif" netns "$P-hub"
    ns "$n" ip addr add "10.255.$i.2/30" dev hub0
    ns hub ip addr add "10.255.$i.1/30" dev "$hif"
    ns "$n" ip link set hub0 up
    ns hub ip link set "$hif" up
    ns "$n" ip route add 172.17.0.1/32 via "10.255.$i.1" src "$addr"
    ns hub ip route add "$addr/32" via "10.255.$i.2"
done
ns left ping -c 1 -W 2 172.16.2.1 >/dev/null || fail setup "no ping over the veth"
ns left ping -c 1 -W 2 -I 172.16.1.1 172.17.0.1 >/dev/null || fail setup "no ping left -> hub"
ns right ping -c 1 -W 2 -I 172.16.2.1 172.17.0.1 >/dev/null || fail setup "no ping right -> hub"

# --- Measuring.
cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
proc_ticks() { # pids... -> utime + stime summed
    local p t=0 s
    for p in "$@"; do
        s="$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null)" || continue
        t=$((t + $(awk '{print $12 + $13}' <<<"$s")))
    done
    echo "$t"
}
proc_wait_ns() { # pids... -> nanoseconds their threads spent runnable but waiting for a CPU
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{s += $2} END {printf "%.0f\n", s}'
}
link_bytes() { ns "$1" ip -j -s link show dev "$2" | jq '.[0].stats64.rx.bytes + .[0].stats64.tx.bytes'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# Where packets were lost: both namespaces' SNMP counters, every link's drop counters, the drops
# of raw and UDP sockets (the last column of /proc/net/raw and /proc/net/udp).
snap() { # file
    local n
    for n in left right; do
        jq -n --arg ns "$n" --argjson nstat "$(ns "$n" nstat -asz --json)" --argjson links "$(ns "$n" ip -s -j link)" \
            --argjson raw "$(ns "$n" awk 'NR > 1 {s += $NF} END {print s + 0}' /proc/net/raw)" \
            --argjson udp "$(ns "$n" awk 'NR > 1 {s += $NF} END {print s + 0}' /proc/net/udp)" \
            '{ns: $ns, nstat: $nstat.kernel, links: $links, raw_drops: $raw, udp_drops: $udp}'
    done | jq -s . >"$1"
}
drops() { # before after -> the deltas
    jq -n --slurpfile a "$1" --slurpfile b "$2" '
      def sum(f): [.[] | f] | add;
      def links: [.[] | .ns as $n | .links[] | {key: "\($n):\(.ifname)", value: ((.stats64.rx.dropped // 0) + (.stats64.tx.dropped // 0))}] | from_entries;
      ($a[0]) as $x | ($b[0]) as $y
      | {tcp_retrans_segs: (($y | sum(.nstat.TcpRetransSegs // 0)) - ($x | sum(.nstat.TcpRetransSegs // 0))),
         udp_rcvbuf_errors: (($y | sum(.nstat.UdpRcvbufErrors // 0)) - ($x | sum(.nstat.UdpRcvbufErrors // 0))),
         udp_sndbuf_errors: (($y | sum(.nstat.UdpSndbufErrors // 0)) - ($x | sum(.nstat.UdpSndbufErrors // 0))),
         raw_socket_drops: (($y | sum(.raw_drops)) - ($x | sum(.raw_drops))),
         udp_socket_drops: (($y | sum(.udp_drops)) - ($x | sum(.udp_drops))),
         raw_socket_drops_left_right: [range(2) as $i | $y[$i].raw_drops - $x[$i].raw_drops],
         udp_socket_drops_left_right: [range(2) as $i | $y[$i].udp_drops - $x[$i].udp_drops],
         link_drops: (($x | links) as $l0 | ($y | links) | with_entries(.value -= ($l0[.key] // 0)) | with_entries(select(.value != 0)))}'
}
listening() { ns right ss -Hltn "src $1:5201" | grep -q LISTEN; }
# measure CASE ROUND SRC DST PIDS...: one iperf3 run from SRC (left) to DST (right);
# OUT/CASE.rROUND.json is iperf3's own JSON, OUT/CASE.rROUND.summary.json the figures.
measure() {
    local case=$1 round=$2 src=$3 dst=$4
    local name="$case.r$round"
    shift 4
    local pids=("$@") up_before up_after
    if [[ -n "$RCVBUF" && ${#pids[@]} -gt 0 ]]; then
        local p inodes
        inodes="$(for n in left right hub; do ns "$n" awk 'NR > 1 {print $10}' /proc/net/raw /proc/net/udp; done)"
        for p in "${pids[@]}"; do
            # shellcheck disable=SC2086
            python3 benches/rcvbuf.py "$p" "$RCVBUF" $inodes >>"$OUT/$name.rcvbuf.txt" ||
                fail "$case" "could not set RCVBUF=$RCVBUF on PID $p" "$OUT/$name.rcvbuf.txt"
        done
    fi
    up_before="$(uptime)"
    log "$name: iperf3 -t $DURATION $src -> $dst; $up_before"
    ns right timeout $((DURATION + 40)) iperf3 -s -1 -B "$dst" >"$OUT/$name.iperf3-server.log" 2>&1 &
    pid[iperf3s]=$!
    logs+=("$OUT/$name.iperf3-server.log")
    wait_for 10 "$name" "the iperf3 server" listening "$dst"
    local veth0 hubl0 hubr0 cpu0 proc0 wait0 veth1 hubl1 hubr1 cpu1 proc1 wait1 t0 t1
    veth0=$(link_bytes left vl) hubl0=$(link_bytes left hub0) hubr0=$(link_bytes right hub0)
    snap "$OUT/$name.counters-before.json"
    t0=$(date +%s.%N) cpu0=$(cpu_busy) proc0=$(proc_ticks "${pids[@]}") wait0=$(proc_wait_ns "${pids[@]}")
    if ! ns left timeout $((DURATION + 30)) iperf3 -c "$dst" -B "$src" -t "$DURATION" -J >"$OUT/$name.json" 2>"$OUT/$name.iperf3-client.err"; then
        fail "$name" "iperf3 failed: $(jq -r '.error // empty' "$OUT/$name.json" 2>/dev/null)" "$OUT/$name.iperf3-client.err" "${logs[@]}"
    fi
    cpu1=$(cpu_busy) proc1=$(proc_ticks "${pids[@]}") wait1=$(proc_wait_ns "${pids[@]}") t1=$(date +%s.%N)
    veth1=$(link_bytes left vl) hubl1=$(link_bytes left hub0) hubr1=$(link_bytes right hub0)
    snap "$OUT/$name.counters-after.json"
    wait "${pid[iperf3s]}" 2>/dev/null || true
    unset 'pid[iperf3s]'
    up_after="$(uptime)"
    jq -n --arg case "$case" --argjson round "$round" --argjson iperf "$(jq '{bps: .end.sum_received.bits_per_second, bytes: .end.sum_received.bytes, seconds: .end.sum_received.seconds, retransmits: .end.sum_sent.retransmits}' "$OUT/$name.json")" \
        --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
        --argjson cpu_jiffies $((cpu1 - cpu0)) --argjson proc_jiffies $((proc1 - proc0)) --argjson hz "$hz" \
        --argjson wait_ns $((wait1 - wait0)) \
        --argjson veth_bytes $((veth1 - veth0)) --argjson hub_link_bytes $((hubl1 - hubl0 + hubr1 - hubr0)) \
        --argjson drops "$(drops "$OUT/$name.counters-before.json" "$OUT/$name.counters-after.json")" \
        --arg pids "${pids[*]}" --arg load_before "$(loadavg)" --arg uptime_before "$up_before" --arg uptime_after "$up_after" \
        '{case: $case, round: $round, mbps: ($iperf.bps / 1e6), bytes_received: $iperf.bytes, retransmits: $iperf.retransmits,
          wall_seconds: $wall, machine_cpu_seconds: ($cpu_jiffies / $hz), vpn_cpu_seconds: ($proc_jiffies / $hz),
          machine_cpu_s_per_gb: (($cpu_jiffies / $hz) / ($iperf.bytes / 1e9)),
          vpn_cpu_s_per_gb: (($proc_jiffies / $hz) / ($iperf.bytes / 1e9)),
          vpn_runqueue_wait_seconds: ($wait_ns / 1e9),
          drops: $drops, vpn_pids: $pids, veth_bytes_both_ways: $veth_bytes, hub_links_bytes: $hub_link_bytes,
          uptime_before: $uptime_before, uptime_after: $uptime_after}' >"$OUT/$name.summary.json"
    log "$name: $(jq -r '"\(.mbps | floor) Mbit/s, machine \(.machine_cpu_s_per_gb * 100 | round / 100) s/GB, VPN processes \(.vpn_cpu_s_per_gb * 100 | round / 100) s/GB"' "$OUT/$name.summary.json"); $up_after"
}

# --- 3. The cases. Each is brought up, measured and taken down, ROUNDS times, interleaved
# (veth, dmvpn, strongswan, boringtun, veth, …), so that a change of the machine's load hits
# every case alike; the table gives the median over the rounds.

# 3a. The bare veth.
up_veth() { :; }
run_veth() { measure veth "$1" 172.16.1.1 172.16.2.1; }
down_veth() { :; }

# 3b. dmvpn-node, spoke to spoke.
dmvpn_cfg() { # example name -> bench config: AES-128-GCM only (IKEv2 and ESP)
    sed -e 's/^ encryption aes-gcm-256$/ encryption aes-gcm-128/' \
        -e 's/^crypto ipsec transform-set DMVPN-GCM esp-gcm 256$/crypto ipsec transform-set DMVPN-GCM esp-gcm 128/' \
        -e 's/^ set transform-set .*DMVPN-GCM.*$/ set transform-set DMVPN-GCM/' \
        -e '/^ proposal DMVPN-CBC$/d' \
        -e "1i ! benches/throughput.sh: examples/configs/$1.cfg with AES-128-GCM alone (IKEv2 and ESP)." \
        "examples/configs/$1.cfg" >"$OUT/dmvpn-$1.cfg"
    grep -q '^crypto ipsec transform-set DMVPN-GCM esp-gcm 128$' "$OUT/dmvpn-$1.cfg" &&
        grep -q '^ set transform-set DMVPN-GCM$' "$OUT/dmvpn-$1.cfg" &&
        grep -q '^ encryption aes-gcm-128$' "$OUT/dmvpn-$1.cfg" ||
        fail dmvpn "examples/configs/$1.cfg changed: the AES-128-GCM edit did not apply"
    "$node_bin" --config "$OUT/dmvpn-$1.cfg" --check >"$OUT/dmvpn-$1.check" 2>&1 ||
        fail dmvpn "dmvpn-node --check refuses $OUT/dmvpn-$1.cfg" "$OUT/dmvpn-$1.check"
}
q() { ns "$1" "$ctl_bin" --socket "$OUT/dmvpn-$1.sock" "${@:2}"; }
nhs_up() { q "$1" show dmvpn --json | jq -e '[.tunnels[].nhs[] | select(.up)] | length > 0'; }
registered() { q hub show dmvpn --json | jq -e --arg a "$1" '[.tunnels[].peers[] | select(.tunnel == $a and .state == "UP")] | length == 1'; }
direct() { # ns peer-tunnel-address peer-nbma: a direct dynamic peer, up
    q "$1" show dmvpn --json | jq -e --arg t "$2" --arg n "$3" '[.tunnels[].peers[] | select(.tunnel == $t and .nbma == $n and .state == "UP")] | length == 1'
}
shortcut() { # ns prefix next-hop nbma: the NHRP shortcut for the far LAN, with its NBMA address
    q "$1" show ip nhrp | awk -v p="$2 via $3," -v n="NBMA address: $4" \
        'index($0, p) == 1 {f = 1; next} f && /^[^ ]/ {f = 0} f && index($0, n) {ok = 1} END {exit !ok}'
}
kick() { ns "$1" ping -c 1 -W 1 -I "$2" "$3"; }
# kick_direct ns src dst peer-tunnel peer-nbma far-lan: a ping, then the direct peer and the shortcut.
kick_direct() { kick "$1" "$2" "$3" >/dev/null || true; direct "$1" "$4" "$5" && shortcut "$1" "$6" "$4" "$5"; }
dmvpn_up() { # binary tag
    local bin=$1 tag=$2 n
    for n in hub left right; do rm -f "$OUT/dmvpn-$n.sock"; done
    logs=("$OUT/$tag-hub.log" "$OUT/$tag-left.log" "$OUT/$tag-right.log")
    RUST_LOG=info ip netns exec "$P-hub" "$bin" --config "$OUT/dmvpn-hub.cfg" --socket "$OUT/dmvpn-hub.sock" >"$OUT/$tag-hub.log" 2>&1 &
    pid[hub]=$!
    wait_for 10 dmvpn "the hub's control socket" test -S "$OUT/dmvpn-hub.sock"
    RUST_LOG=info ip netns exec "$P-left" "$bin" --config "$OUT/dmvpn-spoke-a.cfg" --socket "$OUT/dmvpn-left.sock" >"$OUT/$tag-left.log" 2>&1 &
    pid[spa]=$!
    RUST_LOG=info ip netns exec "$P-right" "$bin" --config "$OUT/dmvpn-spoke-b.cfg" --socket "$OUT/dmvpn-right.sock" >"$OUT/$tag-right.log" 2>&1 &
    pid[spb]=$!
    wait_for 30 dmvpn "spoke A's NHS up" nhs_up left
    wait_for 30 dmvpn "spoke B's NHS up" nhs_up right
    wait_for 15 dmvpn "spoke A registered at the hub" registered 10.0.0.11
    wait_for 15 dmvpn "spoke B registered at the hub" registered 10.0.0.12
    # The LAN addresses the spokes route into Tunnel0 (ip route 192.168.0.0 255.255.0.0 10.0.0.1).
    ns left ip addr replace 192.168.1.1/32 dev lo
    ns right ip addr replace 192.168.2.1/32 dev lo
    # Traffic both ways through the hub: phase 3 redirects, resolutions, direct SAs, shortcuts.
    wait_for 30 dmvpn "a ping spoke A LAN -> spoke B LAN" kick left 192.168.1.1 192.168.2.1
    wait_for 30 dmvpn "spoke A's direct peer 10.0.0.12 at 172.16.2.1 and its shortcut 192.168.2.0/24" \
        kick_direct left 192.168.1.1 192.168.2.1 10.0.0.12 172.16.2.1 192.168.2.0/24
    wait_for 30 dmvpn "spoke B's direct peer 10.0.0.11 at 172.16.1.1 and its shortcut 192.168.1.0/24" \
        kick_direct right 192.168.2.1 192.168.1.1 10.0.0.11 172.16.1.1 192.168.1.0/24
    q left show dmvpn >"$OUT/$tag-left.show-dmvpn.txt"
    q left show ip nhrp >"$OUT/$tag-left.show-ip-nhrp.txt"
    q left show dmvpn --json >"$OUT/$tag-left.show-dmvpn.json"
}
# dmvpn_check TAG: after a run, the data went over the measured veth, not through the hub (the
# hub's links carried less than 1 % of what the veth did), and the direct peer is still up.
dmvpn_check() {
    local f="$OUT/$1.summary.json"
    jq -e '.hub_links_bytes * 100 < .veth_bytes_both_ways' "$f" >/dev/null ||
        fail dmvpn "the hub's links carried $(jq .hub_links_bytes "$f") bytes during the run (veth: $(jq .veth_bytes_both_ways "$f")): not spoke to spoke" "${logs[@]}"
    direct left 10.0.0.12 172.16.2.1 >/dev/null || fail dmvpn "the direct peer was gone after the run" "${logs[@]}"
    q left show crypto ipsec sa >"$OUT/$1-left.show-crypto-ipsec-sa.txt"
    q left show crypto ikev2 sa >"$OUT/$1-left.show-crypto-ikev2-sa.txt"
}
up_dmvpn() {
    dmvpn_up "$node_bin" "dmvpn.r$1"
    log "dmvpn: spoke A's peers: $(jq -c '[.tunnels[].peers[] | {tunnel, nbma, state, attributes, crypto}]' "$OUT/dmvpn.r$1-left.show-dmvpn.json")"
}
run_dmvpn() {
    measure dmvpn "$1" 192.168.1.1 192.168.2.1 "${pid[spa]}" "${pid[spb]}" "${pid[hub]}"
    dmvpn_check "dmvpn.r$1"
}
down_dmvpn() { stop spa spb hub; }

# 3c. strongSwan charon, kernel-libipsec, ESP in UDP, AES-128-GCM.
charon_start() { # dir side local remote local_ts remote_ts
    local dir=$1 side=$2
    rm -rf "$dir"
    mkdir -p "$dir/run"
    sed -e "s|@DIR@|$dir|g" benches/configs/strongswan.conf.in >"$dir/strongswan.conf"
    sed -e "s|@LOCAL@|$3|g; s|@REMOTE@|$4|g; s|@LOCAL_TS@|$5|; s|@REMOTE_TS@|$6|; s|@PSK@|$psk|" \
        benches/configs/swanctl.conf.in >"$dir/swanctl.conf"
    ns "$side" ip addr replace "$5/32" dev lo
    ip netns exec "$P-$side" unshare -m --propagation private sh -c \
        "mount --bind '$dir/run' /run && STRONGSWAN_CONF='$dir/strongswan.conf' exec $charon" >"$dir/charon.out" 2>&1 &
    pid[charon-$side]=$!
    logs+=("$dir/charon.log" "$dir/charon.out")
    wait_for 20 strongswan "charon's vici socket ($side)" test -S "$dir/charon.vici"
    wait_for 10 strongswan "swanctl --load-all ($side)" swanctl --load-all --uri "unix://$dir/charon.vici" --file "$dir/swanctl.conf"
}
up_strongswan() {
    local d="$OUT/strongswan.r$1"
    [[ -x "$charon" ]] || fail strongswan "$charon is missing"
    psk="bench-$RANDOM-$RANDOM-$RANDOM"
    logs=()
    charon_start "$d-right" right 172.16.2.1 172.16.1.1 10.230.0.2 10.230.0.1
    charon_start "$d-left" left 172.16.1.1 172.16.2.1 10.230.0.1 10.230.0.2
    timeout 30 swanctl --initiate --uri "unix://$d-left/charon.vici" --child net >"$d-initiate.out" 2>&1 ||
        fail strongswan "swanctl --initiate failed" "$d-initiate.out" "${logs[@]}"
    wait_for 20 strongswan "a ping 10.230.0.1 -> 10.230.0.2 through the tunnel" kick left 10.230.0.1 10.230.0.2
    swanctl --list-sas --uri "unix://$d-left/charon.vici" >"$d-left.list-sas.txt"
    grep -q 'AES_GCM_16-128' "$d-left.list-sas.txt" || fail strongswan "the CHILD SA is not AES_GCM_16-128" "$d-left.list-sas.txt"
    grep -q 'TUNNEL-in-UDP' "$d-left.list-sas.txt" || fail strongswan "the CHILD SA is not ESP in UDP (TUNNEL-in-UDP)" "$d-left.list-sas.txt"
    log "strongswan: $(grep -E 'INSTALLED|AES_GCM' "$d-left.list-sas.txt" | tr -s ' ' | tr '\n' ';')"
}
run_strongswan() { measure strongswan "$1" 10.230.0.1 10.230.0.2 "${pid[charon-left]}" "${pid[charon-right]}"; }
down_strongswan() {
    local s
    stop charon-left charon-right
    for s in left right; do
        while ns "$s" ip rule del table 220 2>/dev/null; do :; done
    done
}

# 3d. boringtun-cli (user-space WireGuard) configured with wg.
up_boringtun() {
    local d="$OUT/boringtun.r$1" s side ifn addr peer other
    logs=("$d-left.log" "$d-right.log")
    for s in left:"$wgl" right:"$wgr"; do
        IFS=: read -r side ifn <<<"$s"
        (umask 077 && wg genkey >"$OUT/wg-$side.key")
        wg pubkey <"$OUT/wg-$side.key" >"$OUT/wg-$side.pub"
        rm -f "/var/run/wireguard/$ifn.sock"
        ip netns exec "$P-$side" env WG_SUDO=1 boringtun-cli "$ifn" --foreground --disable-drop-privileges >"$d-$side.log" 2>&1 &
        pid[bt-$side]=$!
    done
    wait_for 10 boringtun "boringtun's UAPI socket (left)" test -S "/var/run/wireguard/$wgl.sock"
    wait_for 10 boringtun "boringtun's UAPI socket (right)" test -S "/var/run/wireguard/$wgr.sock"
    for s in left:"$wgl":10.240.0.1:172.16.2.1:right right:"$wgr":10.240.0.2:172.16.1.1:left; do
        IFS=: read -r side ifn addr peer other <<<"$s"
        ns "$side" wg set "$ifn" private-key "$OUT/wg-$side.key" listen-port 51820 \
            peer "$(cat "$OUT/wg-$other.pub")" endpoint "$peer:51820" allowed-ips "10.240.0.0/24" ||
            fail boringtun "wg set $ifn failed" "${logs[@]}"
        ns "$side" ip addr add "$addr/24" dev "$ifn"
        ns "$side" ip link set "$ifn" mtu 1400 up
    done
    wait_for 20 boringtun "a ping 10.240.0.1 -> 10.240.0.2 through WireGuard" kick left 10.240.0.1 10.240.0.2
    ns left wg show "$wgl" >"$d-left.wg-show.txt" 2>&1 || true
}
run_boringtun() { measure boringtun "$1" 10.240.0.1 10.240.0.2 "${pid[bt-left]}" "${pid[bt-right]}"; }
down_boringtun() { stop bt-left bt-right; }

if want dmvpn; then for c in hub spoke-a spoke-b; do dmvpn_cfg "$c"; done; fi
for ((round = 1; round <= ROUNDS; round++)); do
    for c in veth dmvpn strongswan boringtun; do
        [[ $c == veth ]] || want "$c" || continue
        "up_$c" "$round"
        "run_$c" "$round"
        "down_$c"
    done
done

# --- The profile: dmvpn-node with frame pointers, perf record -g on both spokes inside a run.
if [[ "$PERF" == 1 ]] && want dmvpn; then
    dmvpn_up "$prof_bin" dmvpn-perf.r1
    log "perf: profiling build, perf record -g on both spokes for ${PERF_SECONDS}s inside an iperf3 run"
    # Alongside the profile: system calls and context switches of each spoke (perf stat), and
    # the packets the measured veth carried meanwhile (each spoke handles every one of them).
    events=task-clock,raw_syscalls:sys_enter,context-switches
    for e in read write readv writev sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg epoll_wait epoll_pwait futex; do
        events+=",syscalls:sys_enter_$e"
    done
    (
        sleep 2
        for s in left:spa:vl right:spb:vr; do
            IFS=: read -r side k dev <<<"$s"
            timeout $((PERF_SECONDS + 20)) perf record -q -g -p "${pid[$k]}" -o "$OUT/perf-$side.data" -- sleep "$PERF_SECONDS" >"$OUT/perf-$side.log" 2>&1 &
            # perf stat's window is its command's: the veth's counters at its start and end.
            timeout $((PERF_SECONDS + 20)) perf stat -x, -e "$events" -p "${pid[$k]}" -o "$OUT/perf-stat-$side.csv" -- \
                sh -c "ip -n '$P-$side' -j -s link show dev $dev >'$OUT/perf-veth-$side.before.json'; sleep $PERF_SECONDS; ip -n '$P-$side' -j -s link show dev $dev >'$OUT/perf-veth-$side.after.json'" \
                >>"$OUT/perf-$side.log" 2>&1 &
        done
        wait
    ) &
    pid[perf]=$!
    saved=$DURATION
    DURATION=$((PERF_SECONDS + 4))
    measure dmvpn-perf 1 192.168.1.1 192.168.2.1 "${pid[spa]}" "${pid[spb]}" "${pid[hub]}"
    DURATION=$saved
    dmvpn_check dmvpn-perf.r1
    wait "${pid[perf]}" 2>/dev/null || true
    unset 'pid[perf]'
    down_dmvpn
    for s in left right; do
        timeout 300 perf report -i "$OUT/perf-$s.data" --no-children --stdio >"$OUT/perf-$s.txt" 2>/dev/null || true
        timeout 300 perf report -i "$OUT/perf-$s.data" --no-children --stdio -g none --percent-limit 0.5 >"$OUT/perf-$s.flat.txt" 2>/dev/null || true
        timeout 300 perf report -i "$OUT/perf-$s.data" --children --stdio -g none --percent-limit 2 >"$OUT/perf-$s.children.txt" 2>/dev/null || true
        timeout 300 python3 benches/perf-categories.py "$OUT/perf-$s.data" >"$OUT/perf-$s.categories.md" 2>&1 || true
    done
fi

# --- 4. The tables.
jq -s '.' "$OUT"/*.summary.json >"$OUT/results.json"
{
    echo
    echo "### Throughput, one TCP stream, $DURATION s per run, $ROUNDS round(s), medians${RCVBUF:+, RCVBUF=$RCVBUF on the raw and UDP sockets of the VPN processes} ($(date -u +%F), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
    echo "| case | Mbit/s | × veth | per round | TCP retransmits | machine CPU s/GB | × veth | VPN processes CPU s/GB | × veth machine | 1-min load before → after |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    jq -r '
      def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      def r(n): . * n | round / n;
      (map(select(.case == "veth")) | {mbps: (map(.mbps) | median), cpu: (map(.machine_cpu_s_per_gb) | median)}) as $v
      | ["veth", "dmvpn", "strongswan", "boringtun", "dmvpn-perf"][] as $c
      | map(select(.case == $c)) | sort_by(.round) | select(length > 0)
      | (map(.mbps) | median) as $mbps | (map(.machine_cpu_s_per_gb) | median) as $cpu | (map(.vpn_cpu_s_per_gb) | median) as $vpn
      | [ (if $c == "dmvpn-perf" then "dmvpn (profiling build, perf attached)" else $c end),
          ($mbps | round | tostring),
          ($mbps / $v.mbps | r(1000) | tostring),
          (map(.mbps | round | tostring) | join(", ")),
          (map(.retransmits) | median | round | tostring),
          ($cpu | r(100) | tostring),
          ($cpu / $v.cpu | r(10) | tostring),
          (if $c == "veth" then "–" else ($vpn | r(100) | tostring) end),
          (if $c == "veth" then "–" else ($vpn / $v.cpu | r(10) | tostring) end),
          (map((.uptime_before | capture("load average: (?<l>[0-9.]+)").l) + " → " + (.uptime_after | capture("load average: (?<l>[0-9.]+)").l)) | join(", "))
        ] | "| " + join(" | ") + " |"' "$OUT/results.json"
    echo
    jq -r '
      def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      (group_by(.case) | map({key: .[0].case, value: (map(.mbps) | median)}) | from_entries) as $m
      | if $m.dmvpn and $m.strongswan then "dmvpn / strongswan throughput: \($m.dmvpn / $m.strongswan * 100 | round / 100) (goal ≥ 1.5)" else empty end,
        if $m.dmvpn and $m.boringtun then "dmvpn / boringtun throughput: \($m.dmvpn / $m.boringtun * 100 | round / 100) (goal ≥ 1)" else empty end' "$OUT/results.json"
    echo
    echo "Losses during each run (both namespaces): TCP retransmitted segments (nstat); drops of raw sockets and UDP sockets (/proc/net/raw, /proc/net/udp), UDP receive/send buffer errors, link drops (TUN, veth):"
    echo
    echo "| run | TCP retrans. segs | raw socket drops (left / right) | UDP socket drops (left / right) | UDP rcvbuf / sndbuf errors | link drops | VPN CPU s | VPN threads' run-queue wait s |"
    echo "|---|---|---|---|---|---|---|---|"
    jq -r '{veth: 0, dmvpn: 1, strongswan: 2, boringtun: 3, "dmvpn-perf": 4} as $o | sort_by(.round, $o[.case]) | .[] | .drops as $d
      | "| \(.case) r\(.round) | \($d.tcp_retrans_segs) | \($d.raw_socket_drops_left_right | join(" / ")) | \($d.udp_socket_drops_left_right | join(" / ")) | \($d.udp_rcvbuf_errors) / \($d.udp_sndbuf_errors) | \($d.link_drops | to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "0" else . end) | \(.vpn_cpu_seconds) | \(.vpn_runqueue_wait_seconds * 100 | round / 100) |"' "$OUT/results.json"
    echo
    echo "Run-queue wait: the VPN processes' threads' time runnable but not running (/proc/PID/task/*/schedstat), a measure of the machine's contention as the VPN saw it."
    echo "Machine CPU: busy jiffies of /proc/stat (every process on the machine, other work included) over the iperf3 client's run, per GB received; VPN processes: utime + stime of the VPN daemons (dmvpn: both spokes and the hub; strongswan: both charons; boringtun: both boringtun-cli), per GB; \"× veth machine\" divides that by the bare veth's machine CPU s/GB."
    echo "raw JSON: $OUT/results.json (per run: $OUT/CASE.rN.json is iperf3 -J, CASE.rN.summary.json the figures, CASE.rN.counters-*.json the counters)"
    if [[ "$PERF" == 1 && -e "$OUT/perf-stat-right.csv" ]]; then
        echo
        echo "perf window (${PERF_SECONDS} s, profiling build, perf record attached): per packet on the measured veth (both ways; each spoke handles every one), each spoke's system calls and context switches (perf stat):"
        echo
        echo "| spoke | veth packets | CPU in the window (task-clock) | syscalls / packet | context switches / packet | syscalls / packet by kind |"
        echo "|---|---|---|---|---|---|"
        for s in left right; do
            pk=$(jq -n --slurpfile a "$OUT/perf-veth-$s.before.json" --slurpfile b "$OUT/perf-veth-$s.after.json" \
                '($b[0][0].stats64 | .rx.packets + .tx.packets) - ($a[0][0].stats64 | .rx.packets + .tx.packets)')
            awk -F, -v pk="$pk" -v s="$s" -v w="$PERF_SECONDS" '
                $3 == "task-clock" {tc = $1}
                $3 == "raw_syscalls:sys_enter" {sys = $1}
                $3 == "context-switches" {cs = $1}
                $3 ~ /^syscalls:sys_enter_/ && $1 > 0 {n = $3; sub("syscalls:sys_enter_", "", n); top = top sprintf("%s%s %.2f", (top == "" ? "" : ", "), n, $1 / pk)}
                END {printf "| %s | %d | %.2f s (%.0f %% of a core) | %.2f | %.2f | %s |\n", s, pk, tc / 1000, tc / 10 / w, sys / pk, cs / pk, top}' "$OUT/perf-stat-$s.csv"
        done
        for s in left right; do
            echo
            echo "Where spoke $([[ $s == left ]] && echo "A's (sender)" || echo "B's (receiver)") samples go (benches/perf-categories.py):"
            echo
            cat "$OUT/perf-$s.categories.md"
        done
        echo
        echo "perf: $OUT/perf-{left,right}.txt (sender spoke A, receiver spoke B; also .flat.txt, .children.txt); perf stat: $OUT/perf-stat-{left,right}.csv"
    fi
} | tee "$OUT/table.md"
