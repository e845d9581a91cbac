#!/usr/bin/env bash
# Compares dmvpn-decode's JSON with Wireshark's decode of the same captures, field by field.
# Usage: decode-vs-tshark.sh [TARGET_DIR]. Every capture in testdata/captures is decoded by both;
# for each (layer, JSON field, tshark field) in FIELDS, the per-frame lists of values must agree.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v tshark >/dev/null || { echo "tshark is required"; exit 1; }
cargo build -q -p dmvpn-examples --bin dmvpn-decode
bin=${CARGO_TARGET_DIR:-${1:-target}}/debug/dmvpn-decode

# layer json_field tshark_field  (one per line; a layer "a|b" takes the field from either
# layer: tshark's isakmp fields cover IKEv1 and IKEv2, our decoder has a layer for each)
FIELDS='
gre key gre.key
gre protocol_type gre.proto
gre sequence gre.sequence_number
ikev1|ikev2 exchange_type isakmp.exchangetype
ikev1|ikev2 message_id isakmp.messageid
nhrp packet_type nhrp.hdr.op.type
nhrp request_id nhrp.reqid
nhrp hop_count nhrp.hdr.hopcnt
nhrp src_nbma_addr nhrp.src.nbma.addr
nhrp src_proto_addr nhrp.src.prot.addr
nhrp dst_proto_addr nhrp.dst.prot.addr
esp spi esp.spi
esp sequence esp.sequence
'
fail=0
for cap in testdata/captures/*.pcap testdata/captures/*.pcapng; do
  "$bin" "$cap" > /tmp/decode-vs-tshark.json
  while read -r layer field tfield; do
    [ -n "$layer" ] || continue
    tshark -r "$cap" -T fields -E occurrence=a -E aggregator=, -e "$tfield" 2>/dev/null > /tmp/decode-vs-tshark.tsv
    python3 - "$cap" "$layer" "$field" "$tfield" <<'PY' || fail=1
import json, sys
cap, layer, field, tfield = sys.argv[1:]
def norm(v):
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    try:
        return int(str(v), 0)
    except ValueError:
        return str(v)
ours = []
for line in open("/tmp/decode-vs-tshark.json"):
    f = json.loads(line)
    vals = [norm(l.get(field)) for l in f["layers"] if l.get("proto") in layer.split("|")]
    ours.append([v for v in vals if v is not None])
theirs = []
for line in open("/tmp/decode-vs-tshark.tsv"):
    line = line.rstrip("\n")
    theirs.append([norm(x) for x in line.split(",")] if line else [])
if len(ours) != len(theirs):
    print(f"{cap}: frame count differs: ours {len(ours)}, tshark {len(theirs)}"); sys.exit(1)
bad = [(i + 1, o, t) for i, (o, t) in enumerate(zip(ours, theirs)) if o != t]
for n, o, t in bad:
    print(f"{cap} frame {n}: {layer}.{field} = {o}, tshark {tfield} = {t}")
compared = sum(len(t) for t in theirs)
if not bad and compared:
    print(f"agree: {cap.split('/')[-1]} {tfield} ({compared} values)")
sys.exit(1 if bad else 0)
PY
  done <<< "$FIELDS"
done
exit $fail
