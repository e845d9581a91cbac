#!/usr/bin/env bash
# Checks the IPv6 DMVPN captures written by dmvpn-core/tests/ipv6.rs and dual_stack.rs (run
# `cargo test -p dmvpn-core --test ipv6 --test dual_stack` with this target dir first; CI's
# `cargo test --workspace` does): an IPv6 overlay over an
# IPv4 underlay and over an IPv6 underlay, phase 2 (seed 003's spoke-to-spoke flow) and phase 3,
# protected and in clear. With tshark:
# - no malformed frame, no expert warning or error, no bad ICV;
# - protected: every ESP frame decrypts with the nodes' key log (`<pcap>.keys`, esp_sa rows of
#   the underlay's family and the IKE SAs' rows) with a good ICV and GRE inside, not one GRE
#   frame in clear; the NHRP inside carries IPv6 protocol addresses (ar$pro.type 0x86dd) with
#   NBMA addresses of the underlay's family (ar$afn); every IKE SK payload decrypts with a correct
#   checksum and the child SAs' selectors are GRE (47) host to host of the underlay's family;
# - the ICMPv6 echoes between the LANs (2001:db8:1::19 <-> 2001:db8:2::25) go directly between
#   spoke A and spoke B after the resolution, both ways, and the first request went via the hub;
# - in clear: the same inside GRE;
# - `mode tunnel` over IPv6: GRE-in-IPv6 inside every ESP frame;
# - dual stack (one interface, an IPv4 and an IPv6 overlay): NHRP of both families, both
#   families' echoes directly between the spokes, protected in one and the same ESP SA.
#
# NHRP authentication: the nodes send Cisco's layout (`ip nhrp authentication`: type 1, then the
# password). Wireshark's default (`nhrp.auth_ext_has_addr: TRUE`) reads RFC 2332 §5.3.4's layout
# instead, with a source address of the packet's address length first, and calls every Cisco
# extension of an IPv6-overlay packet (4 + 8 bytes < 4 + 16) "Incomplete"; this check reads them
# as Cisco sends them (`nhrp.auth_ext_has_addr:FALSE`), and then requires the password as the
# extension's data.
# Usage: .ci/checks/dmvpn-ipv6-tshark.sh [TARGET_DIR]   (default: target)
set -euo pipefail

target="${1:-target}"
dir="$target/tmp/pcap"
command -v tshark >/dev/null || { echo "dmvpn-ipv6-tshark: FAIL: tshark is not installed" >&2; exit 1; }

fail() { echo "dmvpn-ipv6-tshark: FAIL: $*" >&2; exit 1; }
count() { tshark -r "$1" "${opts[@]}" -Y "$2" -T fields -e frame.number 2>/dev/null | wc -l; }

# Spoke A, spoke B and the hub per underlay (dmvpn_core::sim::example's addressing).
declare -A A_NBMA=([ipv4]=172.16.1.1 [ipv6]=2001:db8:ffff:1::1)
declare -A B_NBMA=([ipv4]=172.16.2.1 [ipv6]=2001:db8:ffff:2::1)
declare -A HUB_NBMA=([ipv4]=172.17.0.1 [ipv6]=2001:db8:ffff::1)
declare -A OUTER=([ipv4]=ip [ipv6]=ipv6)
declare -A AFN=([ipv4]=1 [ipv6]=2)
declare -A ESP_FAMILY=([ipv4]=IPv4 [ipv6]=IPv6)
declare -A TS_TYPE=([ipv4]=7 [ipv6]=8)
PC=2001:db8:1::19
SERVER=2001:db8:2::25
PASSWORD_HEX=646f6e7474656c6c  # "donttell"

checked=0
for under in ipv4 ipv6; do
    for phase in 2 3; do
        for mode in ipsec clear; do
            name="dmvpn-ipv6-over-$under-phase$phase"
            [[ $mode == ipsec ]] && name+="-ipsec"
            pcap="$dir/$name.pcap"
            tag="IPv6 over $under, phase $phase, $mode"
            [[ -s "$pcap" ]] || fail "$pcap is missing (run 'cargo test -p dmvpn-core --test ipv6' with this target dir first)"
            opts=(-n -o nhrp.auth_ext_has_addr:FALSE)
            o="${OUTER[$under]}"
            if [[ $mode == ipsec ]]; then
                keys="$pcap.keys"
                [[ -s "$keys" ]] || fail "$keys is missing"
                opts+=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
                while IFS= read -r row; do
                    [[ -n "$row" ]] && opts+=(-o "$row")
                done <"$keys"
                n_rows="$(grep -c "^uat:esp_sa:\"${ESP_FAMILY[$under]}\"," "$keys" || true)"
                n_other="$(grep '^uat:esp_sa:' "$keys" | grep -vc "^uat:esp_sa:\"${ESP_FAMILY[$under]}\"," || true)"
                ((n_rows >= 4 && n_other == 0)) || fail "$tag: $n_rows esp_sa rows of ${ESP_FAMILY[$under]}, $n_other of the other family"
            fi
            bad="$(tshark -r "$pcap" "${opts[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' \
                -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
            [[ -z "${bad// /}" ]] || {
                tshark -r "$pcap" "${opts[@]}" -V -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' \
                    2>/dev/null | grep -E 'Expert Info|Malformed|ICV' | sort | uniq -c >&2
                fail "$tag: malformed frames, expert warnings or bad ICVs in $pcap: frames $bad"
            }
            frames="$(count "$pcap" frame)"
            n_fam="$(count "$pcap" "$o")"
            ((frames > 0 && n_fam == frames)) || fail "$tag: $n_fam of $frames frames over $under"
            carrier=gre
            summary=""
            if [[ $mode == ipsec ]]; then
                carrier=esp
                n_clear="$(count "$pcap" 'gre && !esp')"
                ((n_clear == 0)) || fail "$tag: $n_clear cleartext GRE frames on a protected network"
                n_other="$(count "$pcap" '!esp && !isakmp')"
                ((n_other == 0)) || fail "$tag: $n_other frames neither ESP nor IKE"
                n_esp="$(count "$pcap" esp)"
                n_good="$(count "$pcap" 'esp.icv_good == 1')"
                n_inner="$(count "$pcap" 'esp && gre')"
                ((n_esp > 0 && n_good == n_esp)) || fail "$tag: $n_good of $n_esp ESP frames with a good ICV"
                ((n_inner == n_esp)) || fail "$tag: only $n_inner of $n_esp ESP frames decrypted to GRE"
                verdicts="$(tshark -r "$pcap" "${opts[@]}" -V 2>/dev/null | grep 'Integrity Checksum Data:' || true)"
                correct="$(grep -c '\[correct\]' <<<"$verdicts" || true)"
                incorrect="$(grep -vc '\[correct\]' <<<"$verdicts" || true)"
                [[ -z "$verdicts" ]] && incorrect=0
                ((correct >= 8 && incorrect == 0)) || fail "$tag: IKE decryption: $correct correct, $incorrect incorrect"
                n_ts="$(count "$pcap" "isakmp.ts.type == ${TS_TYPE[$under]} && isakmp.ts.protoid == 47")"
                n_ts_other="$(count "$pcap" "isakmp.ts.type && isakmp.ts.type != ${TS_TYPE[$under]}")"
                ((n_ts >= 4 && n_ts_other == 0)) || fail "$tag: $n_ts IKE messages with GRE selectors of type ${TS_TYPE[$under]}, $n_ts_other with another type"
                summary="$n_esp ESP frames with a good ICV and GRE inside, $correct IKE SK payloads correct, $n_ts with TS type ${TS_TYPE[$under]}, no cleartext GRE; "
            fi
            n_nhrp="$(count "$pcap" nhrp)"
            n_nhrp6="$(count "$pcap" "nhrp.hdr.pro.type == 0x86dd && nhrp.hdr.afn == ${AFN[$under]}")"
            ((n_nhrp >= 8 && n_nhrp6 == n_nhrp)) || fail "$tag: $n_nhrp6 of $n_nhrp NHRP packets with IPv6 protocol and ${under} NBMA addresses"
            n_auth="$(count "$pcap" "nhrp.auth_ext.data == $PASSWORD_HEX")"
            ((n_auth == n_nhrp)) || fail "$tag: $n_auth of $n_nhrp NHRP packets carry the password in Cisco's layout"
            n_res="$(count "$pcap" 'nhrp.hdr.op.type == 2')"
            ((n_res >= 2)) || fail "$tag: fewer than 2 NHRP Resolution Replies"
            if ((phase == 3)); then
                n_ti="$(count "$pcap" "nhrp.hdr.op.type == 8 && $o.src == ${HUB_NBMA[$under]}")"
                ((n_ti >= 2)) || fail "$tag: fewer than 2 Traffic Indications from the hub"
            fi
            a="${A_NBMA[$under]}" b="${B_NBMA[$under]}" h="${HUB_NBMA[$under]}"
            direct="$carrier && icmpv6.type == 128 && $o.src == $a && $o.dst == $b && ipv6.src == $PC && ipv6.dst == $SERVER"
            back="$carrier && icmpv6.type == 129 && $o.src == $b && $o.dst == $a && ipv6.src == $SERVER && ipv6.dst == $PC"
            n_direct="$(count "$pcap" "$direct")"
            n_back="$(count "$pcap" "$back")"
            ((n_direct >= 3)) || fail "$tag: only $n_direct echo requests directly from $a to $b in $carrier"
            ((n_back >= 3)) || fail "$tag: only $n_back echo replies directly from $b to $a in $carrier"
            n_hub="$(count "$pcap" "$carrier && icmpv6.type == 128 && $o.src == $a && $o.dst == $h && ipv6.src == $PC")"
            ((n_hub >= 1)) || fail "$tag: no echo request via the hub before the resolution"
            echo "clean: $pcap ($frames frames; ${summary}$n_nhrp NHRP with IPv6 protocol addresses; $n_direct requests and $n_back replies in $carrier directly between the spokes)"
            checked=$((checked + 1))
        done
    done
done

# `mode tunnel` over IPv6 (ipv6.rs tunnel_mode_over_ipv6): every ESP frame decrypts to an inner
# IPv6 header (next header 47) between the same NBMA addresses, then GRE.
pcap="$dir/dmvpn-ipv6-over-ipv6-tunnel-mode-ipsec.pcap"
[[ -s "$pcap" && -s "$pcap.keys" ]] || fail "$pcap or its .keys is missing"
opts=(-n -o nhrp.auth_ext_has_addr:FALSE -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
while IFS= read -r row; do
    [[ -n "$row" ]] && opts+=(-o "$row")
done <"$pcap.keys"
bad="$(tshark -r "$pcap" "${opts[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' \
    -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
[[ -z "${bad// /}" ]] || fail "tunnel mode: malformed frames, expert warnings or bad ICVs in $pcap: frames $bad"
n_esp="$(count "$pcap" esp)"
n_inner="$(count "$pcap" 'esp.icv_good == 1 && ipv6.nxt == 47 && gre')"
n_clear="$(count "$pcap" 'gre && !esp')"
((n_esp > 0 && n_inner == n_esp && n_clear == 0)) || fail "tunnel mode: $n_inner of $n_esp ESP frames with GRE-in-IPv6 inside, $n_clear in clear"
n_icmp="$(count "$pcap" 'esp && icmpv6.type == 128')"
((n_icmp >= 5)) || fail "tunnel mode: only $n_icmp echo requests"
echo "clean: $pcap ($n_esp ESP frames, each GRE-in-IPv6 inside with a good ICV; $n_icmp echo requests)"
checked=$((checked + 1))

# Dual stack (dmvpn-core/tests/dual_stack.rs): one tunnel interface with an IPv4 and an IPv6
# overlay over the IPv4 underlay. Both families' NHRP and echoes travel in the one GRE tunnel
# and, protected, in the same ESP SAs.
for mode in ipsec clear; do
    name="dmvpn-dual-stack-phase2"
    [[ $mode == ipsec ]] && name+="-ipsec"
    pcap="$dir/$name.pcap"
    tag="dual stack, $mode"
    [[ -s "$pcap" ]] || fail "$pcap is missing (run 'cargo test -p dmvpn-core --test dual_stack' with this target dir first)"
    opts=(-n -o nhrp.auth_ext_has_addr:FALSE)
    carrier=gre
    if [[ $mode == ipsec ]]; then
        carrier=esp
        [[ -s "$pcap.keys" ]] || fail "$pcap.keys is missing"
        opts+=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
        while IFS= read -r row; do
            [[ -n "$row" ]] && opts+=(-o "$row")
        done <"$pcap.keys"
    fi
    bad="$(tshark -r "$pcap" "${opts[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' \
        -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
    [[ -z "${bad// /}" ]] || fail "$tag: malformed frames, expert warnings or bad ICVs in $pcap: frames $bad"
    if [[ $mode == ipsec ]]; then
        n_clear="$(count "$pcap" 'gre && !esp')"
        ((n_clear == 0)) || fail "$tag: $n_clear cleartext GRE frames on a protected network"
        n_esp="$(count "$pcap" esp)"
        n_good="$(count "$pcap" 'esp.icv_good == 1 && gre')"
        ((n_esp > 0 && n_good == n_esp)) || fail "$tag: $n_good of $n_esp ESP frames with a good ICV and GRE inside"
    fi
    n4="$(count "$pcap" "$carrier && nhrp.hdr.pro.type == 0x0800")"
    n6="$(count "$pcap" "$carrier && nhrp.hdr.pro.type == 0x86dd")"
    ((n4 >= 6 && n6 >= 6)) || fail "$tag: $n4 IPv4 and $n6 IPv6 NHRP packets"
    a=172.16.1.1 b=172.16.2.1
    d4="$carrier && icmp.type == 8 && ip.src == $a && ip.dst == $b && ip.src == 192.168.1.25"
    d6="$carrier && icmpv6.type == 128 && ip.src == $a && ip.dst == $b && ipv6.src == $PC"
    n_d4="$(count "$pcap" "$d4")" n_d6="$(count "$pcap" "$d6")"
    ((n_d4 >= 2 && n_d6 >= 2)) || fail "$tag: $n_d4 IPv4 and $n_d6 IPv6 echo requests directly from $a to $b"
    sas=""
    if [[ $mode == ipsec ]]; then
        spis() { tshark -r "$pcap" "${opts[@]}" -Y "$1" -T fields -e esp.spi 2>/dev/null | sort -u | tr '\n' ' '; }
        s4="$(spis "$d4")" s6="$(spis "$d6")"
        [[ -n "$s4" && "$s4" == "$s6" ]] || fail "$tag: IPv4 echoes in SAs $s4, IPv6 in $s6: not the same SA"
        sas=", both in ESP SA ${s4% }"
    fi
    echo "clean: $pcap ($n4 IPv4 and $n6 IPv6 NHRP packets; $n_d4 IPv4 and $n_d6 IPv6 echo requests directly between the spokes$sas)"
    checked=$((checked + 1))
done
echo "dmvpn-ipv6-tshark: OK ($checked captures)"
