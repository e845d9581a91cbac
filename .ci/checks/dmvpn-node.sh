#!/usr/bin/env bash
# Runs dmvpn-node as a real DMVPN in network namespaces: the seed 003 network (hub 172.17.0.1 /
# 10.0.0.1, spoke A 172.16.1.1 / 10.0.0.11 / LAN 192.168.1.0/24 with host .25, spoke B
# 172.16.2.1 / 10.0.0.12 / LAN 192.168.2.0/24 with host .37) on an "internet" bridge, every
# router a dmvpn-node with a configuration from examples/configs/, protected with IKEv2 + ESP.
# Checks: both spokes registered (dmvpnctl show dmvpn --json); the LAN hosts ping across; the
# capture on the bridge holds IKE and ESP only (no cleartext GRE), ESP directly between the
# spokes after the resolution; SIGTERM on a spoke purges it from the hub; the hub killed with
# SIGKILL and restarted: the spokes register again and the ping works again. Before that, three
# broken configurations (an unknown line, a DES transform, an NHS without an address) must be
# refused with their line and exit status 2. Then the NAT
# variant: spoke B behind a NAT namespace (nftables masquerade, 172.18.0.2 outside): B
# registers with its post-NAT address, and IKE and ESP go in UDP 4500, spoke to spoke too.
# Then the IPv6 variant: the same network with IPv6 NBMA addresses on the bridge and
# examples/configs/ipv6/ (the IPv4 overlay and LANs as before): the same checks, and nothing
# but IPv6 (IKE, ESP, ICMPv6) on the bridge; before it, `tunnel source` by interface name picks
# the interface's address of the tunnel's family (a global IPv6 one for an IPv6 tunnel).
# Last the IKEv1 variant: the plain network with examples/configs/ikev1/ (crypto isakmp, a
# profile without set ikev2-profile): registration, pings, ESP spoke to spoke, `show crypto
# isakmp sa` on the hub with both spokes QM_IDLE, ISAKMP and ESP only on the bridge, and the
# capture decrypted by tshark with the nodes' --keylog (no malformed frame, every ICV good).
# Bounded in time; cleans up its namespaces and processes (by PID and name) on every exit.
# Usage: .ci/checks/dmvpn-node.sh [TARGET_DIR]   (default: target)
set -euo pipefail

target="${1:-target}"
export CARGO_TARGET_DIR="$target"
command -v tshark >/dev/null || { echo "dmvpn-node: FAIL: tshark is not installed" >&2; exit 1; }
cargo build --release -q -p dmvpn-examples --bin dmvpn-node --bin dmvpnctl
bin="$(realpath "$target/release/dmvpn-node")"
ctl="$(realpath "$target/release/dmvpnctl")"
cfg="$(realpath examples/configs)"
dir="$(mktemp -d /tmp/dmvpn-node-check.XXXXXX)"
P=${DMVPN_CHECK_PREFIX:-dmvpnck}  # namespace names: $P-hub, …
nss=(inet hub spa spb lana lanb natb)
declare -A pid=()

cleanup() {
    for k in "${!pid[@]}"; do kill -9 "${pid[$k]}" 2>/dev/null || true; done
    for n in "${nss[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; done
    if [[ "${keep:-}" != 1 ]]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
fail() {
    echo "dmvpn-node: FAIL: $*" >&2
    for f in "$dir"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done
    exit 1
}
ns() { local n="$1"; shift; ip netns exec "$P-$n" "$@"; }

setup() { # variant: plain | nat
    local variant="$1"
    for n in "${nss[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; ip netns add "$P-$n"; ns "$n" ip link set lo up; done
    ns inet ip link add br0 type bridge
    ns inet ip link set br0 up
    routers=(hub:172.17.0.1 spa:172.16.1.1)
    if [[ $variant == nat ]]; then routers+=(natb:172.18.0.2); else routers+=(spb:172.16.2.1); fi
    for r in "${routers[@]}"; do
        name="${r%%:*}" addr="${r#*:}"
        ip link add "u-$name" netns "$P-inet" type veth peer name eth0 netns "$P-$name"
        ns inet ip link set "u-$name" master br0 up
        ns "$name" ip addr add "$addr/12" dev eth0
        ns "$name" ip link set eth0 up
        ns "$name" sysctl -qw net.ipv4.ip_forward=1
    done
    if [[ $variant == nat ]]; then
        # Spoke B behind a home router: 172.16.2.1/24 inside, masqueraded to 172.18.0.2.
        ip link add in0 netns "$P-natb" type veth peer name eth0 netns "$P-spb"
        ns natb ip addr add 172.16.2.254/24 dev in0
        ns natb ip link set in0 up
        ns spb ip addr add 172.16.2.1/24 dev eth0
        ns spb ip link set eth0 up
        ns spb ip route add default via 172.16.2.254
        ns spb sysctl -qw net.ipv4.ip_forward=1
        ns natb nft 'add table ip nat'
        ns natb nft 'add chain ip nat post { type nat hook postrouting priority srcnat; }'
        ns natb nft 'add rule ip nat post oifname "eth0" masquerade'
    fi
    for l in a:1:25 b:2:37; do
        s="sp${l%%:*}" rest="${l#*:}" i="${rest%%:*}" h="${rest#*:}"
        ip link add lan0 netns "$P-$s" type veth peer name eth0 netns "$P-lan${l%%:*}"
        ns "$s" ip addr add "192.168.$i.1/24" dev lan0
        ns "$s" ip link set lan0 up
        ns "lan${l%%:*}" ip addr add "192.168.$i.$h/24" dev eth0
        ns "lan${l%%:*}" ip link set eth0 up
        ns "lan${l%%:*}" ip route add default via "192.168.$i.1"
    done
}

start() { # name config; started directly (not through a shell function): $! is the node's PID.
    # The configurations are copies (in $cfgdir) of examples/configs/, which the checks edit.
    # With keylog=1, each node appends its SAs' keys to $dir/NAME.keys (--keylog).
    local extra=()
    if [[ "${keylog:-}" == 1 ]]; then extra=(--keylog "$dir/$1.keys"); fi
    RUST_LOG=info ip netns exec "$P-$1" "$bin" --config "$cfgdir/$2.cfg" --socket "$dir/$1.sock" "${extra[@]}" >>"$dir/$1.log" 2>&1 &
    pid[$1]=$!
}
stop_all() {
    for k in "${!pid[@]}"; do kill -9 "${pid[$k]}" 2>/dev/null || true; wait "${pid[$k]}" 2>/dev/null || true; done
    pid=()
}
capture() { ip netns exec "$P-inet" dumpcap -q -i br0 -w "$dir/$1.pcapng" >"$dir/dumpcap.log" 2>&1 & pid[dumpcap]=$!; sleep 0.5; }
end_capture() { kill -INT "${pid[dumpcap]}"; wait "${pid[dumpcap]}" 2>/dev/null || true; unset 'pid[dumpcap]'; }
q() { ns "$1" "$ctl" --socket "$dir/$1.sock" "${@:2}"; }
nhs_up() { q "$1" show dmvpn --json 2>/dev/null | jq -e '[.tunnels[].nhs[] | select(.up)] | length > 0' >/dev/null 2>&1; }
wait_for() { # seconds description command...
    local until=$((SECONDS + $1)) what="$2"; shift 2
    until "$@"; do ((SECONDS < until)) || fail "timed out: $what"; sleep 0.5; done
}
registered() { q hub show dmvpn --json 2>/dev/null | jq -e --arg a "$1" '[.tunnels[].peers[] | select(.tunnel == $a and .state == "UP")] | length == 1' >/dev/null 2>&1; }
both_registered() { registered 10.0.0.11 && registered 10.0.0.12; }
count() { tshark -r "$dir/$1.pcapng" -n -Y "$2" -T fields -e frame.number 2>/dev/null | wc -l; }
direct_sa() { q spa show crypto session | grep -q "$1"; }
bring_up() { # [label]: named in the messages, "registered (LABEL): …"
    local l="${1:+ ($1)}"
    start hub hub
    sleep 0.5
    start spa spoke-a
    start spb spoke-b
    wait_for 30 "spoke A's NHS up$l" nhs_up spa
    wait_for 30 "spoke B's NHS up$l" nhs_up spb
    wait_for 10 "both spokes registered at the hub$l" both_registered
    echo "registered$l: $(q hub show dmvpn --json | jq -c '[.tunnels[].peers[] | {tunnel, nbma, state, attributes}]')"
}
ping_across() { # log [label]
    local l="${2:+ ($2)}"
    ns lana ping -c 6 -i 0.5 -W 2 192.168.2.37 >"$dir/$1-ab.log" || fail "LAN A could not ping LAN B$l: $(cat "$dir/$1-ab.log")"
    ns lanb ping -c 3 -i 0.3 -W 2 192.168.1.25 >"$dir/$1-ba.log" || fail "LAN B could not ping LAN A$l"
    echo "ping A->B$l: $(grep -o '[0-9]* received' "$dir/$1-ab.log"), B->A: $(grep -o '[0-9]* received' "$dir/$1-ba.log")"
}

# --- Refused configurations: exit status 2 and the line at fault.
refused() { # description sed-expression expected-message-regex
    local f="$dir/bad.cfg" out code=0
    sed "$2" "$cfg/spoke-a.cfg" >"$f"
    out="$("$bin" --config "$f" --check 2>&1)" || code=$?
    ((code == 2)) || fail "$1: exit status $code, not 2: $out"
    grep -qE "$3" <<<"$out" || fail "$1: the message does not say '$3': $out"
    echo "refused ($1): $(grep -E "$3" <<<"$out" | head -1 | sed 's/^ *//')"
}
n_tunnel=$(grep -n '^interface Tunnel0' "$cfg/spoke-a.cfg" | cut -d: -f1)
refused "an unknown line" "/^interface Tunnel0/a\\ ip nhrp frobnicate 7" "line $((n_tunnel + 1)): .*ip nhrp frobnicate"
n_ts=$(grep -n '^crypto ipsec transform-set DMVPN-CBC' "$cfg/spoke-a.cfg" | cut -d: -f1)
refused "a DES transform" "s/^crypto ipsec transform-set DMVPN-CBC .*/crypto ipsec transform-set DMVPN-CBC esp-des esp-sha-hmac/" "line $n_ts: .*DES"
n_nhs=$(grep -n '^ ip nhrp nhs' "$cfg/spoke-a.cfg" | cut -d: -f1)
refused "an NHS without an address" "s/^ ip nhrp nhs .*/ ip nhrp nhs/" "line $n_nhs: "
"$bin" --config "$cfg/spoke-a.cfg" --check >/dev/null || fail "spoke-a.cfg itself is refused"

configs() { # directory [sed expression [subdirectory]]: copies of examples/configs/[SUB/] for one variant
    cfgdir="$1"; mkdir -p "$cfgdir"
    for c in hub spoke-a spoke-b; do sed "${2:-}" "$cfg/${3:+$3/}$c.cfg" >"$cfgdir/$c.cfg"; done
}
session_up() { # node peer: an UP-ACTIVE crypto session with the peer
    q "$1" show crypto session --json | jq -e --arg p "$2" '[.groups[].peers[] | select(.peer == $p and .state == "UP-ACTIVE")] | length == 1' >/dev/null 2>&1
}
kernel_route() { # node prefix dev
    ns "$1" ip route show "$2" | grep -q "dev $3"
}
logged() { grep -q -- "$2" "$dir/$1.log"; }

# --- The plain network.
configs "$dir/plain"
setup plain
capture plain
bring_up
ping_across plain
wait_for 10 "a direct spoke-to-spoke SA" direct_sa 172.16.2.1
q spa show dmvpn
q spa show crypto session

# The operator's commands. `show ip nhrp brief`: the static map to the hub.
q spa show ip nhrp brief | tee "$dir/brief.txt"
grep -qE '^10\.0\.0\.1/32 +10\.0\.0\.1 +172\.17\.0\.1 +static +Tu0' "$dir/brief.txt" || fail "show ip nhrp brief lacks the static map to the hub"
# --json on every show.
for c in "show dmvpn detail" "show ip nhrp" "show ip nhrp brief" "show ip nhrp nhs" "show ip nhrp traffic" \
         "show crypto ikev2 sa" "show crypto isakmp sa" "show crypto ipsec sa" "show crypto session" "show uptime"; do
    # shellcheck disable=SC2086
    q spa $c --json | jq -e '.hostname == "spoke-a"' >/dev/null || fail "$c --json is not JSON naming spoke-a"
done
q spa show ip nhrp traffic --json | jq -e '.tunnels[0].sent.registration_request > 0' >/dev/null || fail "no registration requests in show ip nhrp traffic --json"
echo "show … --json: 10 commands give JSON"
# Phase 3: the shortcut to spoke B's LAN is in the kernel's table too.
wait_for 5 "the shortcut route 192.168.2.0/24 in spoke A's kernel" kernel_route spa 192.168.2.0/24 Tunnel0
echo "kernel: $(ns spa ip route show 192.168.2.0/24)"
# debug, clear ip nhrp and clear crypto session: the shortcut and the SA are made again.
q spa debug all >/dev/null
q spa clear crypto session peer 172.16.2.1 | grep -q "cleared 1" || fail "clear crypto session peer 172.16.2.1"
wait_for 10 "the session with spoke B up again after clear crypto session" session_up spa 172.16.2.1
q spa clear ip nhrp | grep -q cleared || fail "clear ip nhrp"
ns lana ping -c 6 -i 0.5 -W 2 192.168.2.37 >"$dir/ping-clear.log" || fail "no ping after the clears"
wait_for 10 "the session with spoke B up again after the new resolution" session_up spa 172.16.2.1
wait_for 5 "debug nhrp records in the log" logged spa "dmvpn::debug: NHRP: Send Resolution Request via Tunnel0"
wait_for 5 "debug crypto records in the log" logged spa "dmvpn::debug: IKEv2:Sending Packet \[To 172.16.2.1:500"
q spa undebug all >/dev/null
q spa show debugging | grep -q "NHRP protocol debugging is off" || fail "undebug all"
echo "after clear ip nhrp + clear crypto session: $(grep -o '[0-9]* received' "$dir/ping-clear.log"), session with B up again; debug records logged"
# SIGHUP: a new route is applied at once; a holdtime change is named as needing a restart.
sed -i 's/^ip route 192.168.0.0 255.255.0.0 10.0.0.1$/&\nip route 10.99.0.0 255.255.0.0 10.0.0.1/' "$cfgdir/spoke-a.cfg"
kill -HUP "${pid[spa]}"
wait_for 5 "the reloaded route 10.99.0.0/16 in spoke A's kernel" kernel_route spa 10.99.0.0/16 Tunnel0
sed -i 's/^ ip nhrp holdtime 300$/ ip nhrp holdtime 600/' "$cfgdir/spoke-a.cfg"
kill -HUP "${pid[spa]}"
wait_for 5 "the reload naming the holdtime change" logged spa "need a restart.*interface Tunnel0: nhrp.holdtime"
session_up spa 172.17.0.1 || fail "the SA with the hub did not survive the reloads"
echo "SIGHUP: route 10.99.0.0/16 added, holdtime change named for a restart, tunnels kept"

# SIGTERM on spoke B: it purges itself from the hub (registration gone at once).
kill -TERM "${pid[spb]}"
wait "${pid[spb]}" || fail "spoke B did not exit 0 on SIGTERM"
unset 'pid[spb]'
gone() { ! registered 10.0.0.12; }
wait_for 5 "spoke B purged from the hub" gone
echo "spoke B exited on SIGTERM and is gone from the hub"

# The hub crashes and comes back: the spokes register again.
kill -9 "${pid[hub]}"; wait "${pid[hub]}" 2>/dev/null || true; unset 'pid[hub]'
start hub hub
start spb spoke-b
wait_for 150 "spoke A registered again after the hub restart" registered 10.0.0.11
wait_for 30 "spoke B registered again" registered 10.0.0.12
ns lana ping -c 4 -i 0.5 -W 2 192.168.2.37 >"$dir/ping3.log" || fail "no ping after the hub restart"
echo "after the hub restart: $(grep -o '[0-9]* received' "$dir/ping3.log")"
sleep 1
end_capture
stop_all
n_gre=$(count plain 'ip.proto == 47')
n_esp=$(count plain 'esp')
n_ike=$(count plain 'isakmp')
n_direct=$(count plain 'esp && ip.src == 172.16.1.1 && ip.dst == 172.16.2.1')
((n_gre == 0)) || fail "$n_gre cleartext GRE frames on the bridge"
((n_esp > 0 && n_ike > 0)) || fail "no ESP ($n_esp) or no IKE ($n_ike) on the bridge"
((n_direct > 0)) || fail "no ESP directly from spoke A to spoke B"
bad=$(count plain '_ws.malformed || _ws.expert.severity >= error')
((bad == 0)) || fail "$bad malformed frames"
echo "capture: $n_ike IKE, $n_esp ESP ($n_direct directly spoke A -> spoke B), 0 GRE in clear"

# --- Spoke B behind NAT, with a holdtime of 60 s so that the spoke-to-spoke mapping and its
# SAs expire within the check.
configs "$dir/nat" 's/^ ip nhrp holdtime 300$/ ip nhrp holdtime 60/'
setup nat
capture nat
bring_up
q hub show dmvpn --json | jq -e '[.tunnels[].peers[] | select(.tunnel == "10.0.0.12" and .nbma == "172.18.0.2")] | length == 1' >/dev/null \
    || fail "the hub does not see spoke B at its post-NAT address 172.18.0.2"
ping_across nat
wait_for 10 "a direct spoke-to-spoke SA through the NAT" direct_sa 172.18.0.2
q spa show crypto session
# No traffic: after the holdtime the mapping expires and takes the SAs and the shortcut route.
t0=$SECONDS
sa_gone() { ! session_up spa 172.18.0.2 && ! direct_sa 172.18.0.2; }
wait_for 100 "the spoke-to-spoke SAs gone after the holdtime" sa_gone
no_shortcut() { ! kernel_route spa 192.168.2.0/24 Tunnel0; }
wait_for 5 "the shortcut route gone from spoke A's kernel" no_shortcut
session_up spa 172.17.0.1 || fail "the SA with the hub went too"
echo "idle: the spoke-to-spoke SAs and the shortcut route went after $((SECONDS - t0)) s; the hub's SA stays"
sleep 1
end_capture
stop_all
n_raw=$(count nat '(ip.proto == 47 || ip.proto == 50) && ip.addr == 172.18.0.2')
n_udp=$(count nat 'esp && udp.port == 4500 && ip.addr == 172.18.0.2')
n_direct=$(count nat 'esp && udp.port == 4500 && ip.src == 172.16.1.1 && ip.dst == 172.18.0.2')
((n_raw == 0)) || fail "$n_raw GRE or raw ESP frames to or from the NATed spoke"
((n_direct > 0)) || fail "no ESP in UDP directly from spoke A to spoke B's NAT"
echo "NAT capture: $n_udp ESP-in-UDP frames of spoke B ($n_direct directly from spoke A), no GRE or raw ESP"

# --- An IPv6 underlay: the same routers, LANs and IPv4 overlay with IPv6 NBMA addresses on the
# bridge (2001:db8::/32: hub 2001:db8:17::1, spoke A 2001:db8:16:1::1, spoke B
# 2001:db8:16:2::1; no IPv4 there) and examples/configs/ipv6/ (tunnel mode gre multipoint
# ipv6). First `tunnel source` by interface name on a dual-stack interface (a veth pair of
# its own in the bridge's namespace, off the bridge): the IPv4 tunnel takes its IPv4 address,
# the IPv6 tunnel its global IPv6 address, and an interface with only a link-local IPv6
# address is refused.
v6_source_check() {
    local f="$dir/v6-src.cfg" out code c want
    ns inet ip link add wan0 type veth peer name wan1
    ns inet ip addr add 192.0.2.1/24 dev wan0
    ns inet ip addr add 2001:db8:99::1/64 dev wan0 nodad
    ns inet ip link set wan0 up
    ns inet ip link set wan1 up
    for c in spoke-a ipv6/spoke-a; do
        sed 's/^ tunnel source Ethernet0$/ tunnel source wan0/' "$cfg/$c.cfg" >"$f"
        out="$(ns inet "$bin" --config "$f" --check 2>&1)" || fail "$c.cfg with tunnel source wan0 refused: $out"
        want=192.0.2.1; [[ $c == ipv6/* ]] && want=2001:db8:99::1
        grep -q "source $want " <<<"$out" || fail "$c.cfg with tunnel source wan0: not source $want: $(grep '^interface' <<<"$out")"
        echo "tunnel source wan0 ($c.cfg): $(grep -o "source [^ ]*" <<<"$out")"
    done
    ns inet ip addr del 2001:db8:99::1/64 dev wan0
    code=0
    out="$(ns inet "$bin" --config "$f" --check 2>&1)" || code=$?
    ((code == 2)) || fail "an IPv6 tunnel source with only a link-local address: exit status $code, not 2: $out"
    grep -q "link-local" <<<"$out" || fail "an IPv6 tunnel source with only a link-local address: the message does not say so: $out"
    echo "refused (only a link-local IPv6 address): $(grep -o 'the system has only the link-local.*' <<<"$out" | head -1)"
    ns inet ip link del wan0
}
v6_setup() {
    for n in "${nss[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; ip netns add "$P-$n"; ns "$n" ip link set lo up; done
    # No multicast snooping: the bridge's own IGMP join (224.0.0.106) would be the one IPv4
    # frame on the bridge.
    ns inet ip link add br0 type bridge mcast_snooping 0
    ns inet ip link set br0 up
    for r in hub=2001:db8:17::1 spa=2001:db8:16:1::1 spb=2001:db8:16:2::1; do
        name="${r%%=*}" addr="${r#*=}"
        ip link add "u-$name" netns "$P-inet" type veth peer name eth0 netns "$P-$name"
        # No duplicate address detection anywhere (the link-local addresses either): nothing
        # waits for it.
        ns inet sysctl -qw "net.ipv6.conf.u-$name.accept_dad=0"
        ns "$name" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
        ns inet ip link set "u-$name" master br0 up
        ns "$name" ip addr add "$addr/32" dev eth0 nodad
        ns "$name" ip link set eth0 up
        ns "$name" sysctl -qw net.ipv4.ip_forward=1
    done
    for l in a:1:25 b:2:37; do
        s="sp${l%%:*}" rest="${l#*:}" i="${rest%%:*}" h="${rest#*:}"
        ip link add lan0 netns "$P-$s" type veth peer name eth0 netns "$P-lan${l%%:*}"
        ns "$s" ip addr add "192.168.$i.1/24" dev lan0
        ns "$s" ip link set lan0 up
        ns "lan${l%%:*}" ip addr add "192.168.$i.$h/24" dev eth0
        ns "lan${l%%:*}" ip link set eth0 up
        ns "lan${l%%:*}" ip route add default via "192.168.$i.1"
    done
}
v6_nbma() { # tunnel nbma: the hub has the spoke at that IPv6 NBMA address
    q hub show dmvpn --json | jq -e --arg t "$1" --arg n "$2" '[.tunnels[].peers[] | select(.tunnel == $t and .nbma == $n and .state == "UP")] | length == 1' >/dev/null
}
# A holdtime of 60 s, as in the NAT run, so that the spoke-to-spoke SAs expire within the check.
cfgdir="$dir/v6"; mkdir -p "$cfgdir"
for c in hub spoke-a spoke-b; do sed 's/^ ip nhrp holdtime 300$/ ip nhrp holdtime 60/' "$cfg/ipv6/$c.cfg" >"$cfgdir/$c.cfg"; done
v6_setup
v6_source_check
capture v6
start hub hub
sleep 0.5
start spa spoke-a
start spb spoke-b
wait_for 30 "spoke A's NHS up (IPv6 underlay)" nhs_up spa
wait_for 30 "spoke B's NHS up (IPv6 underlay)" nhs_up spb
wait_for 10 "both spokes registered at the hub (IPv6 underlay)" both_registered
echo "registered (IPv6 underlay): $(q hub show dmvpn --json | jq -c '[.tunnels[].peers[] | {tunnel, nbma, state}]')"
v6_nbma 10.0.0.11 2001:db8:16:1::1 || fail "the hub does not have spoke A at 2001:db8:16:1::1"
v6_nbma 10.0.0.12 2001:db8:16:2::1 || fail "the hub does not have spoke B at 2001:db8:16:2::1"
ping_across v6
wait_for 10 "a direct spoke-to-spoke SA over IPv6" direct_sa 2001:db8:16:2::1
q spa show dmvpn
q spa show crypto session
t0=$SECONDS
v6_sa_gone() { ! session_up spa 2001:db8:16:2::1 && ! direct_sa 2001:db8:16:2::1; }
wait_for 100 "the spoke-to-spoke SAs gone after the holdtime (IPv6 underlay)" v6_sa_gone
session_up spa 2001:db8:17::1 || fail "the SA with the hub went too (IPv6 underlay)"
echo "idle (IPv6 underlay): the spoke-to-spoke SAs went after $((SECONDS - t0)) s; the hub's SA stays"
kill -TERM "${pid[spb]}"
wait "${pid[spb]}" || fail "spoke B did not exit 0 on SIGTERM (IPv6 underlay)"
unset 'pid[spb]'
wait_for 5 "spoke B purged from the hub (IPv6 underlay)" gone
echo "spoke B exited on SIGTERM and is gone from the hub (IPv6 underlay)"
kill -9 "${pid[hub]}"; wait "${pid[hub]}" 2>/dev/null || true; unset 'pid[hub]'
start hub hub
start spb spoke-b
wait_for 150 "spoke A registered again after the hub restart (IPv6 underlay)" registered 10.0.0.11
wait_for 30 "spoke B registered again (IPv6 underlay)" registered 10.0.0.12
ns lana ping -c 4 -i 0.5 -W 2 192.168.2.37 >"$dir/v6-ping3.log" || fail "no ping after the hub restart (IPv6 underlay)"
echo "after the hub restart (IPv6 underlay): $(grep -o '[0-9]* received' "$dir/v6-ping3.log")"
sleep 1
end_capture
stop_all
n_v4=$(count v6 'ip || arp')
n_gre=$(count v6 'gre || ipv6.nxt == 47')
n_other=$(count v6 'ipv6 && !(esp || isakmp || icmpv6)')
n_esp=$(count v6 'esp && ipv6')
n_ike=$(count v6 'isakmp && ipv6')
n_direct=$(count v6 'esp && ipv6.src == 2001:db8:16:1::1 && ipv6.dst == 2001:db8:16:2::1')
((n_v4 == 0)) || fail "$n_v4 IPv4 or ARP frames on the IPv6 underlay"
((n_gre == 0)) || fail "$n_gre cleartext GRE frames on the bridge (IPv6 underlay)"
((n_other == 0)) || fail "$n_other IPv6 frames other than IKE, ESP and ICMPv6 on the bridge"
((n_esp > 0 && n_ike > 0)) || fail "no ESP ($n_esp) or no IKE ($n_ike) over IPv6 on the bridge"
((n_direct > 0)) || fail "no ESP directly from spoke A to spoke B over IPv6"
bad=$(count v6 '_ws.malformed || _ws.expert.severity >= error')
((bad == 0)) || fail "$bad malformed frames (IPv6 underlay)"
echo "IPv6 capture: $n_ike IKE, $n_esp ESP ($n_direct directly spoke A -> spoke B), no IPv4, 0 GRE in clear"

# --- IKEv1: the same network protected with IKEv1 (Main Mode and Quick Mode, pre-shared key)
# from examples/configs/ikev1/, in clear configurations as in the plain run. Registration, pings
# both ways, ESP directly between the spokes, `show crypto isakmp sa` on the hub with both
# spokes in QM_IDLE; on the bridge ISAKMP (UDP 500) and ESP, no cleartext GRE; the capture
# decrypted by tshark with the nodes' --keylog (uat:ikev1_decryption_table, uat:esp_sa): no
# malformed frame, every encrypted ISAKMP message decrypted, every ESP ICV good.
isakmp_qm_idle() { # node peer: an ACTIVE QM_IDLE ISAKMP SA with the peer
    q "$1" show crypto isakmp sa --json | jq -e --arg p "$2" \
        '[.sas[] | select((.src == $p or .dst == $p) and .state == "QM_IDLE" and .status == "ACTIVE")] | length >= 1' >/dev/null 2>&1
}
ikev1_run() {
    local c t0=$SECONDS row n_gre n_esp n_isakmp n_500 n_direct bad enc dec qm esp_good icv_bad inner
    local opts=(-n -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
    for c in hub spoke-a spoke-b; do
        "$bin" --config "$cfg/ikev1/$c.cfg" --check >/dev/null 2>&1 || fail "ikev1/$c.cfg is refused: $("$bin" --config "$cfg/ikev1/$c.cfg" --check 2>&1 | tail -3)"
    done
    keylog=0
    if "$bin" --help | grep -q -- --keylog; then keylog=1; rm -f "$dir"/*.keys; fi
    configs "$dir/ikev1" "" ikev1
    setup plain
    capture ikev1
    bring_up IKEv1
    q hub show ip nhrp --json | jq -e '[.tunnels[].entries[] | select(.type == "dynamic" and (.prefix == "10.0.0.11/32" or .prefix == "10.0.0.12/32"))] | length == 2' >/dev/null \
        || fail "show ip nhrp --json on the hub lacks the dynamic entries of both spokes (IKEv1)"
    ping_across ikev1 IKEv1
    wait_for 10 "a direct spoke-to-spoke SA (IKEv1)" direct_sa 172.16.2.1
    q spa show crypto session
    wait_for 5 "QM_IDLE ISAKMP SAs of both spokes at the hub" isakmp_qm_idle hub 172.16.1.1
    isakmp_qm_idle hub 172.16.2.1 || fail "no QM_IDLE ISAKMP SA with spoke B at the hub"
    isakmp_qm_idle spa 172.16.2.1 || fail "no QM_IDLE ISAKMP SA between spoke A and spoke B"
    q hub show crypto isakmp sa | tee "$dir/isakmp.txt"
    grep -qE '^172\.17\.0\.1 +172\.16\.1\.1 +QM_IDLE +[0-9]+ ACTIVE$' "$dir/isakmp.txt" || fail "show crypto isakmp sa on the hub has no QM_IDLE row of spoke A"
    grep -qE '^172\.17\.0\.1 +172\.16\.2\.1 +QM_IDLE +[0-9]+ ACTIVE$' "$dir/isakmp.txt" || fail "show crypto isakmp sa on the hub has no QM_IDLE row of spoke B"
    echo "isakmp (IKEv1): the hub has QM_IDLE with 172.16.1.1 and 172.16.2.1, spoke A with 172.16.2.1"
    sleep 1
    end_capture
    stop_all
    n_gre=$(count ikev1 'ip.proto == 47')
    n_esp=$(count ikev1 'esp')
    n_isakmp=$(count ikev1 'isakmp')
    n_500=$(count ikev1 'isakmp && udp.port == 500')
    n_direct=$(count ikev1 'esp && ip.src == 172.16.1.1 && ip.dst == 172.16.2.1')
    ((n_gre == 0)) || fail "$n_gre cleartext GRE frames on the bridge (IKEv1)"
    ((n_esp > 0 && n_isakmp > 0 && n_500 > 0)) || fail "no ESP ($n_esp) or no ISAKMP on UDP 500 ($n_500 of $n_isakmp) on the bridge (IKEv1)"
    ((n_direct > 0)) || fail "no ESP directly from spoke A to spoke B (IKEv1)"
    bad=$(count ikev1 '_ws.malformed || _ws.expert.severity >= error')
    ((bad == 0)) || fail "$bad malformed frames (IKEv1)"
    echo "capture (IKEv1): $n_isakmp ISAKMP, $n_esp ESP ($n_direct directly spoke A -> spoke B), 0 GRE in clear"
    if ((keylog != 1)); then
        echo "capture (IKEv1): not decrypted (dmvpn-node has no --keylog)"
        return
    fi
    # Both ends log each SA: every row once.
    while IFS= read -r row; do
        [[ -n "$row" ]] && opts+=(-o "$row")
    done < <(sort -u "$dir"/hub.keys "$dir"/spa.keys "$dir"/spb.keys)
    dcount() { tshark -r "$dir/ikev1.pcapng" "${opts[@]}" -Y "$1" -T fields -e frame.number 2>/dev/null | wc -l; }
    bad=$(dcount '_ws.malformed || _ws.expert.severity >= error')
    enc=$(dcount 'isakmp.flag_e == 1')
    dec=$(dcount 'isakmp.flag_e == 1 && isakmp.hash')
    qm=$(dcount 'isakmp.exchangetype == 32 && isakmp.hash')
    esp_good=$(dcount 'esp.icv_good == 1')
    icv_bad=$(dcount 'esp.icv_bad == 1')
    inner=$(dcount 'esp && gre && (nhrp || icmp)')
    ((bad == 0)) || fail "$bad malformed frames in the decrypted capture (IKEv1)"
    ((enc > 0 && enc == dec)) || fail "$((enc - dec)) of $enc encrypted ISAKMP messages did not decrypt to a HASH payload (IKEv1)"
    ((qm >= 6)) || fail "only $qm decrypted Quick Mode messages (IKEv1)"
    ((icv_bad == 0 && esp_good == n_esp)) || fail "ESP: $n_esp frames, $esp_good good ICVs, $icv_bad bad (IKEv1)"
    ((inner > 0)) || fail "no GRE with NHRP or ICMP inside the decrypted ESP (IKEv1)"
    echo "capture (IKEv1) decrypted with $(sort -u "$dir"/*.keys | wc -l) --keylog rows: $dec/$enc ISAKMP messages ($qm Quick Mode), $esp_good/$n_esp ESP ICVs good, $inner GRE (NHRP, ICMP) inside, 0 malformed"
    echo "IKEv1 run: $((SECONDS - t0)) s"
}
ikev1_run
echo "dmvpn-node: OK"
