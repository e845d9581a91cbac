#!/usr/bin/env python3
"""Builds raw seed inputs for every fuzz target from packet captures.

Usage (from the repository root):

    python3 fuzz/seeds/make_seeds.py OUT_DIR [PCAP_OR_DIR ...]

Reads testdata/captures/ (the real Cisco captures) and every pcap/pcapng given (files or folders
searched recursively, e.g. the scenario pcaps the tests write under <target>/nhrp-scenarios/ and
<target>/tmp/pcap/), and writes OUT_DIR/<target>/<sha1> files: the bytes each target takes. The
`arbitrary`-structured targets get inputs encoded the way `arbitrary` 1.x decodes them (see
`Enc`), carrying the captured packets in the variants that take bytes, plus a few scripted
exchanges. Minimise the result into fuzz/seeds/<target>/ with `cargo fuzz cmin` (fuzz/README.md).

Standard library only.
"""

import hashlib
import os
import struct
import sys

# ---------------------------------------------------------------------------------------------
# pcap / pcapng reading


def read_pcap(path):
    """Yields (linktype, frame bytes) for every packet of a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from read_pcapng(data)
        return
    else:
        raise ValueError(f"{path}: not a pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off : off + 16])
        off += 16
        yield linktype, data[off : off + incl]
        off += incl


def read_pcapng(data):
    off = 0
    endian = "<"
    links = []
    while off + 12 <= len(data):
        btype = struct.unpack(endian + "I", data[off : off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8 : off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(endian + "I", data[off + 4 : off + 8])[0]
        if blen < 12:
            break
        body = data[off + 8 : off + blen - 4]
        if btype == 1:  # Interface Description Block
            links.append(struct.unpack(endian + "H", body[:2])[0])
        elif btype == 6:  # Enhanced Packet Block
            ifid, _, _, caplen, _ = struct.unpack(endian + "IIIII", body[:20])
            yield (links[ifid] if ifid < len(links) else 1), body[20 : 20 + caplen]
        elif btype == 3:  # Simple Packet Block
            (origlen,) = struct.unpack(endian + "I", body[:4])
            yield (links[0] if links else 1), body[4 : 4 + origlen]
        off += blen


def network_layer(linktype, frame):
    """The IP packet of a frame, or None."""
    if linktype == 1:  # Ethernet
        off, etype = 14, struct.unpack(">H", frame[12:14])[0]
        while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
            etype = struct.unpack(">H", frame[off + 2 : off + 4])[0]
            off += 4
        return frame[off:] if etype in (0x0800, 0x86DD) else None
    if linktype in (101, 12, 14, 228, 229):  # raw IP
        return frame
    if linktype == 113:  # Linux cooked
        return frame[16:] if struct.unpack(">H", frame[14:16])[0] in (0x0800, 0x86DD) else None
    if linktype == 0:  # BSD loopback
        return frame[4:]
    return None


# ---------------------------------------------------------------------------------------------
# Dissection


def ip_split(pkt):
    """(src, dst, protocol, header length, packet trimmed to its length) of an IP packet."""
    if len(pkt) >= 20 and pkt[0] >> 4 == 4:
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack(">H", pkt[2:4])[0]
        pkt = pkt[: max(total, ihl)]
        return pkt[12:16], pkt[16:20], pkt[9], ihl, pkt
    if len(pkt) >= 40 and pkt[0] >> 4 == 6:
        plen = struct.unpack(">H", pkt[4:6])[0]
        pkt = pkt[: 40 + plen]
        nh, off = pkt[6], 40
        while nh in (0, 43, 60) and len(pkt) >= off + 8:  # hop-by-hop, routing, destination
            nh, off = pkt[off], off + (pkt[off + 1] + 1) * 8
        return pkt[8:24], pkt[24:40], nh, off, pkt
    return None


def gre_split(gre):
    """(flags, protocol type, key or None, header length) of a GRE packet."""
    if len(gre) < 4:
        return None
    flags, proto = struct.unpack(">HH", gre[:4])
    off, key = 4, None
    if flags & 0x8000:
        off += 4
    if flags & 0x2000:
        key = struct.unpack(">I", gre[off : off + 4])[0] if len(gre) >= off + 4 else None
        off += 4
    if flags & 0x1000:
        off += 4
    return flags, proto, key, off


class Packets:
    """Everything of interest found in one capture file."""

    def __init__(self, name):
        self.name = name
        self.ip_gre = []  # IP packets carrying GRE
        self.gre = []  # (src, dst, GRE packet)
        self.nhrp = []  # (src, dst, NHRP packet)
        self.esp = []  # (src, dst, ESP packet)
        self.udp4500 = []  # UDP port 4500 payloads
        self.ike = []  # (src, dst, port 4500?, IKE message)

    def dissect(self, pkt, depth=0):
        s = ip_split(pkt)
        if s is None or depth > 2:
            return
        src, dst, proto, hl, pkt = s
        body = pkt[hl:]
        if proto == 47:
            self.ip_gre.append(pkt)
            self.gre.append((src, dst, body))
            g = gre_split(body)
            if g is None:
                return
            _, ptype, _, ghl = g
            inner = body[ghl:]
            if ptype == 0x2001:
                self.nhrp.append((src, dst, inner))
            elif ptype in (0x0800, 0x86DD):
                self.dissect(inner, depth + 1)
        elif proto == 50:
            self.esp.append((src, dst, body))
        elif proto == 17 and len(body) >= 8:
            sport, dport = struct.unpack(">HH", body[:4])
            payload = body[8:]
            if 4500 in (sport, dport):
                self.udp4500.append(payload)
                if payload[:4] == b"\0\0\0\0":
                    self.ike.append((src, dst, True, payload[4:]))
                elif payload != b"\xff" and len(payload) >= 8:
                    self.esp.append((src, dst, payload))
            elif 500 in (sport, dport):
                self.ike.append((src, dst, False, payload))


def load(path):
    p = Packets(os.path.basename(path))
    for linktype, frame in read_pcap(path):
        ip = network_layer(linktype, frame)
        if ip is not None:
            p.dissect(ip)
    return p


# ---------------------------------------------------------------------------------------------
# The `arbitrary` 1.x encoding (what `Arbitrary::arbitrary_take_rest` decodes)


class Enc:
    """Integers little-endian in their full width; bool = u8 & 1; Option = bool then value;
    an enum = a u32 whose (v * variants) >> 32 is the variant index, then its fields; a Vec =
    for each element a continue byte (1) and the element, then a stop byte (0)."""

    def __init__(self):
        self.b = bytearray()

    def u8(self, v):
        self.b += struct.pack("<B", v & 0xFF)
        return self

    def u16(self, v):
        self.b += struct.pack("<H", v & 0xFFFF)
        return self

    def u32(self, v):
        self.b += struct.pack("<I", v & 0xFFFFFFFF)
        return self

    def bool(self, v):
        return self.u8(1 if v else 0)

    def option(self, v, f):
        self.bool(v is not None)
        if v is not None:
            f(v)
        return self

    def variant(self, i, n):
        v = (i * (1 << 32) + n - 1) // n
        assert (v * n) >> 32 == i and v < 1 << 32
        return self.u32(v)

    def vec(self, items, f):
        for it in items:
            self.u8(1)
            f(it)
        self.u8(0)
        return self

    def bytes(self, bs):
        return self.vec(bs, self.u8)

    def data(self):
        return bytes(self.b)


def inet_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(a, b, c, d):
    return bytes([a, b, c, d])


def rewrite_nhrp(nhrp, mapping):
    """The NHRP packet with IPv4 addresses replaced (4-byte patterns) and its checksum fixed."""
    out = bytearray(nhrp)
    for old, new in mapping.items():
        out = bytearray(bytes(out).replace(old, new))
    if len(out) >= 20:
        size = min(struct.unpack(">H", out[10:12])[0], len(out))
        out[12:14] = b"\0\0"
        out[12:14] = struct.pack(">H", inet_checksum(bytes(out[:size])))
    return bytes(out)


def rewrite_ipv4(pkt, src, dst):
    out = bytearray(pkt)
    if len(out) < 20 or out[0] >> 4 != 4:
        return bytes(out)
    ihl = (out[0] & 15) * 4
    out[12:16], out[16:20] = src, dst
    out[10:12] = b"\0\0"
    out[10:12] = struct.pack(">H", inet_checksum(bytes(out[:ihl])))
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Per-target seeds

# The Cisco captures' addresses (spoke 1, hub, spoke 2 of the resolution capture).
CISCO_NBMA = [ipv4(192, 168, 123, n) for n in (1, 2, 3)]
CISCO_TUNNEL = [ipv4(172, 16, 123, n) for n in (1, 2, 3)]


def chunks(seq, n):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def seeds_gre_parse(caps):
    for c in caps:
        for p in c.ip_gre:
            yield p
        for _, _, g in c.gre:
            yield g


def seeds_nhrp_parse(caps):
    for c in caps:
        for _, _, n in c.nhrp:
            yield n


def seeds_esp_parse(caps):
    for c in caps:
        for _, _, e in c.esp:
            yield e
        for u in c.udp4500:
            yield u


def seeds_ikev2_parse(caps):
    for c in caps:
        for _, _, _, m in c.ike:
            yield m


def seeds_ikev1_parse(caps):
    # Every ISAKMP (major version 1) message, and each cleartext one's payload chain without
    # its header, led by its first payload's type (the target's header-less chain input).
    for c in caps:
        for _, _, _, m in c.ike:
            if len(m) < 28 or m[17] >> 4 != 1:
                continue
            yield m
            if not m[19] & 1:
                yield m[16:17] + m[28:]


def seeds_gre_tunnel_rx(caps):
    # Input { key: Option<u32>, checksum, sequence, p2p, max_peers: u8,
    #         packets: Vec<(u8 who, bool with_ip, Vec<u8>)> }
    local = ipv4(10, 0, 0, 1)
    for c in caps:
        if not c.gre:
            continue
        first = gre_split(c.gre[0][2])
        if first is None:
            continue
        flags, _, key, _ = first
        srcs = sorted({s for s, _, _ in c.gre})
        for group in chunks(list(zip(c.gre, c.ip_gre)), 12):
            for p2p, with_ip in ((False, False), (True, False), (False, True)):
                pkts = []
                for (src, _, g), ipp in group:
                    who = 0 if p2p else srcs.index(src) % 16
                    if with_ip:
                        remote = ipv4(10, 0, 0, 2 + who)
                        pkts.append((who, True, rewrite_ipv4(ipp, remote, local)))
                    else:
                        pkts.append((who, False, g))
                e = Enc()
                e.option(key, e.u32).bool(flags & 0x8000).bool(flags & 0x1000)
                e.bool(p2p).u8(7)

                def pkt(t):
                    e.u8(t[0]).bool(t[1]).bytes(t[2])

                e.vec(pkts, pkt)
                yield e.data()


ESP_OPS = ["Raw", "Genuine", "Replay", "Wait"]


def seeds_esp_decapsulate(caps):
    # Input { suite: u8, esn, tunnel, window: u8, ops: Vec<Op> }
    raws = [e for c in caps for _, _, e in c.esp]
    for suite in range(6):
        for group in chunks(raws, 6):
            e = Enc().u8(suite).bool(False).bool(suite % 2).u8(0)
            e.vec(group, lambda b: (e.variant(0, 4), e.bytes(b)))
            yield e.data()
        # A scripted run: genuine packets, a skip, a flip, replays, a long wait.
        e = Enc().u8(suite).bool(suite % 3 == 0).bool(suite % 2).u8(1)
        script = [
            ("Genuine", 0, b"hello", False, None),
            ("Genuine", 3, bytes(range(40)), False, None),
            ("Genuine", 0, b"x" * 100, True, None),
            ("Genuine", 1, b"flip", False, (9, 0x40)),
            ("Replay", 0),
            ("Replay", 1),
            ("Wait", 3300),
            ("Genuine", 0, b"late", False, None),
            ("Wait", 400),
            ("Genuine", 0, b"dead", False, None),
        ]

        def op(o):
            e.variant(ESP_OPS.index(o[0]), 4)
            if o[0] == "Genuine":
                e.u8(o[1]).bytes(o[2]).bool(o[3])
                e.option(o[4], lambda f: (e.u16(f[0]), e.u8(f[1])))
            elif o[0] == "Replay":
                e.u8(o[1])
            else:
                e.u16(o[1])

        e.vec(script, op)
        yield e.data()


def seeds_ikev2_sk_unprotect(caps):
    # Case { suite: u8, input: Input::Raw(Vec<u8>) | Genuine { nonce, fragment, flip } }
    msgs = [m for c in caps for _, _, _, m in c.ike]
    for suite in range(4):
        for m in msgs:
            if len(m) > 28 and m[16] in (46, 53):  # first payload SK or SKF
                yield Enc().u8(suite).variant(0, 2).bytes(m).data()
        for frag in (None, 16, 200):
            for flip in (None, (40, 3)):
                e = Enc().u8(suite).variant(1, 2).bytes(bytes(range(32)))
                e.option(frag, e.u8)
                e.option(flip, lambda f: (e.u16(f[0]), e.u8(f[1])))
                yield e.data()


def seeds_ikev1_decrypt(caps):
    # Case { input: Input::Body { iv: [u8; 16], first: u8, ciphertext }
    #                | Message(Vec<u8>) | Genuine { message_id: u32, nonce, notify: Option<Vec<u8>>,
    #                                              flip: Option<(u16, u8)> },
    #        suite: u8 }
    # The encrypted ISAKMP messages of the captures (their keys are not published: they decrypt
    # to garbage here, which is the point), whole and as bare bodies; and scripted genuine
    # messages under every suite.
    msgs = [m for c in caps for _, _, _, m in c.ike if len(m) > 28 and m[17] >> 4 == 1 and m[19] & 1]
    for i, m in enumerate(msgs):
        suite = i % 6
        yield Enc().variant(1, 3).bytes(m).u8(suite).data()
        e = Enc().variant(0, 3)
        for b in m[-16:]:  # iv: [u8; 16], raw (here the message's last block)
            e.u8(b)
        yield e.u8(m[16]).bytes(m[28:]).u8(suite).data()
    for suite in range(6):
        for nonce_len, notify, flip in ((16, None, None), (20, b"\0\0\0\x2a", None),
                                        (32, None, (45, 3)), (20, None, (30, 0)), (24, b"", (18, 0))):
            e = Enc().variant(2, 3).u32(0x1234_5678 + suite).bytes(bytes(range(nonce_len)))
            e.option(notify, e.bytes)
            e.option(flip, lambda f: (e.u16(f[0]), e.u8(f[1])))
            yield e.u8(suite).data()


IKE_OPS_RESP = ["Raw", "Deliver", "Drop", "Advance", "Command"]
IKE_OPS_INIT = ["Raw", "Forged", "Deliver", "Drop", "Advance", "Command"]


def ike_script(names, script):
    e = Enc()

    def op(o):
        kind = o[0]
        e.variant(names.index(kind), len(names))
        if kind == "Raw":
            e.bool(o[1]).bytes(o[2])
        elif kind == "Forged":
            e.bytes(o[1])
        elif kind == "Deliver":
            e.option(o[1], lambda f: (e.u16(f[0]), e.u8(f[1])))
            e.bool(o[2])
        elif kind == "Advance":
            e.u16(o[1])
        elif kind == "Command":
            e.u8(o[1])

    e.vec(script, op)
    return e.data()


def seeds_ikev2_responder(caps):
    msgs = [(nat_t, m) for c in caps for _, _, nat_t, m in c.ike]
    # Captured messages as raw datagrams, in capture order (with the 4-byte marker on 4500).
    for group in chunks(msgs, 4):
        yield ike_script(
            IKE_OPS_RESP,
            [("Raw", nat_t, (b"\0" * 4 + m) if nat_t else m) for nat_t, m in group],
        )
    # Genuine exchanges: the handshake, then each command, with retransmissions and drops.
    d = ("Deliver", None, False)
    for cmd in range(5):
        yield ike_script(IKE_OPS_RESP, [d, d, d, d, ("Command", cmd), d, d, d, d, ("Advance", 200), d, d])
    yield ike_script(IKE_OPS_RESP, [d, ("Deliver", None, True), ("Drop",), ("Advance", 300), d, d, d])
    yield ike_script(IKE_OPS_RESP, [d, ("Deliver", (30, 1), False), d, ("Advance", 60000), d, d])


def seeds_ikev2_initiator(caps):
    msgs = [(nat_t, m) for c in caps for _, _, nat_t, m in c.ike]
    for group in chunks(msgs, 4):
        yield ike_script(
            IKE_OPS_INIT,
            [("Raw", nat_t, (b"\0" * 4 + m) if nat_t else m) for nat_t, m in group],
        )
    # Captured message bodies after the initiator's own header.
    for _, m in msgs[:8]:
        yield ike_script(IKE_OPS_INIT, [("Forged", m[28:])])
    d = ("Deliver", None, False)
    for cmd in range(6):
        yield ike_script(IKE_OPS_INIT, [d, d, d, d, ("Command", cmd), d, d, d, ("Advance", 200), d, d])
    yield ike_script(IKE_OPS_INIT, [d, ("Deliver", None, True), ("Drop",), ("Advance", 300), d, d, d])
    yield ike_script(IKE_OPS_INIT, [d, ("Deliver", (40, 0x80), False), d, ("Advance", 60000), d, d])


NHRP_OPS = [
    "Raw",
    "Deliver",
    "Mutate",
    "Advance",
    "Timeout",
    "Register",
    "Resolve",
    "MarkUsed",
    "Purge",
    "Shutdown",
    "NoteForwarded",
    "ServerPurge",
]

# nhrp_machines: client NBMA 172.16.0.2 / tunnel 10.0.0.2, server 172.16.0.1 / 10.0.0.1.
NHRP_MACHINES_MAP = {
    CISCO_NBMA[0]: ipv4(172, 16, 0, 1),
    CISCO_NBMA[1]: ipv4(172, 16, 0, 2),
    CISCO_NBMA[2]: ipv4(172, 16, 0, 3),
    CISCO_TUNNEL[0]: ipv4(10, 0, 0, 1),
    CISCO_TUNNEL[1]: ipv4(10, 0, 0, 2),
    CISCO_TUNNEL[2]: ipv4(10, 0, 0, 3),
}


def nhrp_raws(caps, mapping, server_nbmas):
    """(to_server, from, packet) for every NHRP packet: as captured and translated."""
    out = []
    for c in caps:
        for src, dst, n in c.nhrp:
            to_server = dst in server_nbmas
            out.append((to_server, src[3], n))
            if mapping:
                t = rewrite_nhrp(n, mapping)
                if t != n:
                    out.append((to_server, mapping.get(src, src)[3], t))
    return out


def nhrp_machine_ops(e, names, o):
    kind = o[0]
    e.variant(names.index(kind), len(names))
    if kind == "Raw":
        e.bool(o[1]).u8(o[2]).bytes(o[3])
    elif kind in ("Deliver", "Resolve", "MarkUsed", "Purge", "ServerPurge"):
        e.u8(o[1])
    elif kind == "Mutate":
        e.u16(o[1]).u8(o[2])
    elif kind == "Advance":
        e.u16(o[1])
    elif kind == "NoteForwarded":
        e.u8(o[1]).u8(o[2])
    elif kind not in ("Timeout", "Register", "Shutdown"):
        raise ValueError(kind)


def nhrp_scripts():
    """Scripted exchanges: registration, resolution, refresh, purge, shutdown."""
    return [
        [("Register",), ("Deliver", 4), ("Timeout",), ("Deliver", 4)],
        [("Register",), ("Deliver", 2), ("Resolve", 3), ("Deliver", 4), ("Deliver", 4), ("Advance", 4000), ("Timeout",), ("Deliver", 8)],
        [("Register",), ("Deliver", 2), ("NoteForwarded", 1, 2), ("Deliver", 4), ("MarkUsed", 3), ("Timeout",), ("Deliver", 4)],
        [("Register",), ("Deliver", 2), ("Purge", 2), ("Deliver", 4), ("ServerPurge", 2), ("Deliver", 4), ("Shutdown",), ("Deliver", 4)],
        [("Register",), ("Mutate", 30, 1), ("Timeout",), ("Deliver", 2), ("Timeout",), ("Timeout",), ("Deliver", 2)],
    ]


def seeds_nhrp_machines(caps):
    # Input { auth, forward, hold, ops: Vec<Op> }
    raws = nhrp_raws(caps, NHRP_MACHINES_MAP, {ipv4(172, 17, 0, 1), CISCO_NBMA[0], ipv4(172, 16, 0, 1)})
    for auth in (False, True):
        for group in chunks(raws, 4):
            e = Enc().bool(auth).bool(False).bool(False)
            e.vec([("Raw", ts, fr, n) for ts, fr, n in group], lambda o: nhrp_machine_ops(e, NHRP_OPS, o))
            yield e.data()
        for forward in (False, True):
            for script in nhrp_scripts():
                e = Enc().bool(auth).bool(forward).bool(forward)
                e.vec(script, lambda o: nhrp_machine_ops(e, NHRP_OPS, o))
                yield e.data()


NHRP_AUTH_OPS = [
    "Raw",
    "Deliver",
    "Mutate",
    "Tamper",
    "Advance",
    "Timeout",
    "Register",
    "Resolve",
    "Purge",
    "ServerPurge",
]
TAMPER = ["Password", "AuthType", "Remove", "Rfc2332", "Duplicate", "Resize"]


def seeds_nhrp_machines_auth(caps):
    # Input { client_password: u8, indication: bool, forward: bool, ops: Vec<Op> }; the machines
    # have the Cisco captures' addresses, so the captured packets reach them as they were sent.
    raws = nhrp_raws(caps, None, {CISCO_NBMA[0], ipv4(172, 17, 0, 1)})

    def op(e, o):
        kind = o[0]
        e.variant(NHRP_AUTH_OPS.index(kind), len(NHRP_AUTH_OPS))
        if kind == "Raw":
            e.bool(o[1]).u8(o[2]).bytes(o[3])
        elif kind in ("Deliver", "Resolve", "Purge", "ServerPurge"):
            e.u8(o[1])
        elif kind == "Mutate":
            e.u16(o[1]).u8(o[2])
        elif kind == "Tamper":
            t = o[1]
            e.variant(TAMPER.index(t[0]), len(TAMPER))
            if t[0] in ("Password", "Rfc2332"):
                e.bytes(t[1])
            elif t[0] == "AuthType":
                e.u32(t[1])
            elif t[0] == "Resize":
                e.u8(t[1])
        elif kind == "Advance":
            e.u16(o[1])

    for pw in (0, 1, 2):
        for ind in (False, True):
            for group in chunks(raws, 3):
                e = Enc().u8(pw).bool(ind).bool(False)
                e.vec([("Raw", ts, fr, n) for ts, fr, n in group], lambda o: op(e, o))
                yield e.data()
    scripts = [
        [("Register",), ("Deliver", 4), ("Timeout",), ("Deliver", 4)],
        [("Register",), ("Tamper", ("Password", b"DMVPM")), ("Timeout",), ("Deliver", 4)],
        [("Register",), ("Tamper", ("AuthType", 2)), ("Timeout",), ("Tamper", ("Remove",)), ("Timeout",), ("Deliver", 4)],
        [("Register",), ("Tamper", ("Rfc2332", b"DMVPN")), ("Timeout",), ("Tamper", ("Duplicate",)), ("Deliver", 4)],
        [("Register",), ("Deliver", 2), ("Resolve", 3), ("Tamper", ("Resize", 3)), ("Deliver", 4), ("Resolve", 3), ("Deliver", 8)],
        [("Register",), ("Deliver", 2), ("Purge", 1), ("Tamper", ("Password", b"")), ("ServerPurge", 2), ("Tamper", ("Password", b"DMVPNDMVPN")), ("Deliver", 4)],
        [("Register",), ("Mutate", 60, 1), ("Advance", 4000), ("Timeout",), ("Deliver", 4)],
    ]
    for pw in (0, 1):
        for ind in (False, True):
            for script in scripts:
                e = Enc().u8(pw).bool(ind).bool(ind)
                e.vec(script, lambda o: op(e, o))
                yield e.data()


DMVPN_NODE_OPS = ["Underlay", "Overlay", "Ping", "Deliver", "Mutate", "Advance", "Timeout", "Route", "Clear"]


def seeds_dmvpn_node(caps):
    # Vec<Op>; peers = [hub 172.17.0.1, spoke 1 172.16.1.1, spoke 2 172.16.2.1, 192.0.2.9].
    hub, s1, s2 = ipv4(172, 17, 0, 1), ipv4(172, 16, 1, 1), ipv4(172, 16, 2, 1)
    peers = [hub, s1, s2]

    def op(e, o):
        kind = o[0]
        e.variant(DMVPN_NODE_OPS.index(kind), len(DMVPN_NODE_OPS))
        if kind == "Underlay":
            e.bool(o[1]).u8(o[2]).bytes(o[3])
        elif kind == "Overlay":
            e.bool(o[1]).bytes(o[2])
        elif kind in ("Ping", "Clear"):
            e.u8(o[1]).u8(o[2]) if kind == "Ping" else e.bool(o[1]).u8(o[2])
        elif kind == "Deliver":
            e.u8(o[1])
        elif kind == "Mutate":
            e.u16(o[1]).u8(o[2])
        elif kind == "Advance":
            e.u16(o[1])
        elif kind == "Route":
            e.bool(o[1]).u8(o[2]).u8(o[3])

    for c in caps:
        ups = []
        for src, dst, g in c.gre:
            if dst == hub:
                ups.append(("Underlay", True, peers.index(src) if src in peers else 3, g))
            elif dst == s1:
                ups.append(("Underlay", False, peers.index(src) if src in peers else 3, g))
            elif src in CISCO_NBMA or dst in CISCO_NBMA or not c.nhrp:
                ups.append(("Underlay", dst in CISCO_NBMA[:1], 3, g))
        for group in chunks(ups, 6):
            e = Enc()
            e.vec(group, lambda o: op(e, o))
            yield e.data()
        # Inner IP packets of the captures as overlay packets.
        inner = []
        for _, _, g in c.gre:
            gs = gre_split(g)
            if gs and gs[1] in (0x0800, 0x86DD):
                inner.append(("Overlay", False, g[gs[3] :]))
        for group in chunks(inner, 4):
            e = Enc()
            e.vec(group, lambda o: op(e, o))
            yield e.data()
    scripts = [
        [("Deliver", 16), ("Ping", 1, 37), ("Deliver", 16), ("Deliver", 16), ("Ping", 1, 37), ("Deliver", 16), ("Timeout",), ("Deliver", 16)],
        [("Deliver", 16), ("Ping", 2, 5), ("Deliver", 16), ("Advance", 5000), ("Deliver", 16), ("Clear", False, 12), ("Ping", 2, 5), ("Deliver", 16)],
        [("Deliver", 16), ("Route", False, 3, 1), ("Ping", 3, 1), ("Mutate", 30, 4), ("Deliver", 16), ("Timeout",), ("Timeout",), ("Deliver", 16)],
        [("Deliver", 16), ("Ping", 1, 37), ("Deliver", 4), ("Clear", True, 11), ("Deliver", 16), ("Advance", 60000), ("Deliver", 16)],
    ]
    for script in scripts:
        e = Enc()
        e.vec(script, lambda o: op(e, o))
        yield e.data()


DMVPN_PROTECTED_OPS = [
    "Udp",
    "Esp",
    "Gre",
    "Overlay",
    "Ping",
    "Deliver",
    "Mutate",
    "NatT",
    "Advance",
    "Timeout",
    "Route",
    "Clear",
    "Shutdown",
]


def icmp_echo_request(src, dst, ident, seq, size):
    """An IPv4 ICMP echo request from src to dst with `size` payload bytes."""
    body = bytes(i & 0xFF for i in range(size))
    icmp = bytearray(struct.pack(">BBHHH", 8, 0, 0, ident, seq) + body)
    icmp[2:4] = struct.pack(">H", inet_checksum(bytes(icmp)))
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, 1, 0, src, dst))
    ip[10:12] = struct.pack(">H", inet_checksum(bytes(ip)))
    return bytes(ip + icmp)


def seeds_dmvpn_node_protected(caps):
    # Vec<Op>; see fuzz_targets/dmvpn_node_protected.rs. Peers as for dmvpn_node: [hub
    # 172.17.0.1, spoke 1 172.16.1.1, spoke 2 172.16.2.1, 192.0.2.9]; UDP source ports [500,
    # 4500, 1024, 61000].
    hub, s1, s2 = ipv4(172, 17, 0, 1), ipv4(172, 16, 1, 1), ipv4(172, 16, 2, 1)
    peers = [hub, s1, s2]

    def op(e, o):
        kind = o[0]
        e.variant(DMVPN_PROTECTED_OPS.index(kind), len(DMVPN_PROTECTED_OPS))
        if kind == "Udp":
            e.bool(o[1]).bool(o[2]).u8(o[3]).u8(o[4]).bytes(o[5])
        elif kind in ("Esp", "Gre"):
            e.bool(o[1]).u8(o[2]).bytes(o[3])
        elif kind == "Overlay":
            e.bool(o[1]).bytes(o[2])
        elif kind == "Ping":
            e.u8(o[1]).u8(o[2])
        elif kind == "Deliver":
            e.u8(o[1])
        elif kind == "Mutate":
            e.u16(o[1]).u8(o[2])
        elif kind in ("NatT", "Shutdown"):
            e.bool(o[1])
        elif kind == "Advance":
            e.u16(o[1])
        elif kind == "Route":
            e.bool(o[1]).u8(o[2]).u8(o[3])
        elif kind == "Clear":
            e.bool(o[1]).u8(o[2])
        elif kind != "Timeout":
            raise ValueError(kind)

    def encode(script):
        e = Enc()
        e.vec(script, lambda o: op(e, o))
        return e.data()

    def who(a):
        return peers.index(a) if a in peers else 3

    # Captured datagrams to the node they were sent to (the protected scenarios' pcaps have the
    # example's addresses; the Cisco captures go to the hub), as the ops that take their bytes.
    for c in caps:
        ups = []
        for src, dst, nat_t, m in c.ike:
            body = (b"\0" * 4 + m) if nat_t else m
            ups.append(("Udp", dst != s1, nat_t, who(src), 1 if nat_t else 0, body))
        for src, dst, e in c.esp:
            ups.append(("Esp", dst != s1, who(src), e))
        for src, dst, g in c.gre:
            ups.append(("Gre", dst != s1, who(src), g))
        # Up to 6 datagrams of at most 1,500 bytes together a seed (each byte costs two).
        group, size = [], 0
        for u in ups:
            if group and (len(group) == 6 or size + len(u[-1]) > 1500):
                yield encode(group)
                group, size = [], 0
            group.append(u)
            size += len(u[-1])
        if group:
            yield encode(group)

    # Scripted: deliver until IKE (SA_INIT, AUTH with the first child SA) and the registration
    # (queued for the SA, then in ESP) are done, then traffic and trouble.
    up = [("Deliver", 16)] * 4
    # Timers (IKE retransmissions and retries, registrations) and what they send, until up again.
    again = [("Timeout",), ("Deliver", 16), ("Deliver", 16)] * 8
    lan1_host = ipv4(192, 168, 1, 25)
    from_hub = icmp_echo_request(ipv4(10, 0, 0, 1), lan1_host, 7, 1, 32)
    stray_esp = lambda b: [("Esp", b, 1, bytes([0, 0, 0x10, 0, 0, 0, 0, 1]) + bytes(range(48)))]
    scripts = [
        up + [("Ping", 1, 37), ("Deliver", 16), ("Deliver", 16), ("Overlay", True, from_hub), ("Deliver", 16), ("Timeout",), ("Deliver", 16)],
        up + [("Ping", 2, 5), ("Deliver", 16), ("Advance", 5000), ("Deliver", 16), ("Timeout",), ("Deliver", 16), ("Mutate", 30, 4), ("Deliver", 16)] + again + [("Ping", 2, 5), ("Deliver", 16)],
        up + [("Ping", 1, 9), ("Mutate", 20, 0x80), ("Deliver", 16), ("Overlay", True, from_hub), ("Mutate", 40, 1), ("Deliver", 16), ("Timeout",), ("Deliver", 16)],
        up + [("Clear", False, 1), ("Deliver", 16), ("Deliver", 16), ("Advance", 1000), ("Deliver", 16), ("Timeout",), ("Deliver", 16), ("Deliver", 16), ("Ping", 1, 37), ("Deliver", 16)],
        up + [("Clear", True, 11), ("Deliver", 16), ("Deliver", 16), ("Timeout",), ("Deliver", 16), ("Advance", 2000), ("Deliver", 16)],
        up + [("Shutdown", False), ("Deliver", 16), ("Deliver", 16), ("Advance", 100), ("Deliver", 16), ("Timeout",), ("Deliver", 16)],
        up + [("Shutdown", True), ("Deliver", 16), ("Deliver", 16), ("Advance", 3000), ("Timeout",), ("Deliver", 16), ("Deliver", 16)],
        # IKE with a changed byte, retransmissions, then done.
        [("Mutate", 40, 1), ("Deliver", 16), ("Timeout",), ("Deliver", 16), ("Mutate", 300, 2), ("Timeout",), ("Deliver", 16), ("Advance", 200), ("Deliver", 16), ("Advance", 1000), ("Advance", 1000), ("Advance", 1000)] + again,
        [("Deliver", 1), ("Deliver", 1), ("Mutate", 100, 0x10), ("Timeout",), ("Deliver", 16), ("Timeout",), ("Deliver", 16), ("Deliver", 16), ("Deliver", 16)],
        # IKE and ESP over UDP 4500.
        [("NatT", False), ("NatT", True), ("NatT", False), ("Deliver", 16), ("Deliver", 16), ("Deliver", 16), ("Ping", 1, 37), ("NatT", False), ("Deliver", 16), ("Overlay", True, from_hub), ("NatT", True), ("Deliver", 16)],
        up + [("Ping", 1, 37), ("NatT", False), ("Overlay", True, from_hub), ("NatT", True), ("Deliver", 16), ("Timeout",), ("Deliver", 16)],
        # Strangers while up: ESP with an unknown SPI, cleartext GRE, IKE from other ports.
        up + stray_esp(True) + stray_esp(False) + [("Udp", True, False, 3, 2, b"\0" * 28), ("Udp", True, True, 1, 1, b"\xff"), ("Udp", False, True, 0, 1, b"\0" * 12), ("Deliver", 16), ("Timeout",), ("Deliver", 16)],
        # Lifetimes: registrations refreshed every ~100 s while the child SAs (3600 s) rekey.
        up + [("Advance", 1600), ("Deliver", 16), ("Deliver", 16), ("Timeout",), ("Deliver", 16)] * 40,
        # A long silence: registrations and the SAs expire; then back again.
        up + [("Advance", 60000), ("Timeout",), ("Deliver", 16), ("Deliver", 16), ("Advance", 60000)] + again + [("Ping", 1, 37), ("Deliver", 16)],
        # Routes, redirect, a shortcut attempt to spoke 2 (not there).
        up + [("Route", False, 3, 1), ("Ping", 3, 1), ("Deliver", 16), ("Ping", 2, 37), ("Deliver", 16), ("Deliver", 16), ("Timeout",), ("Deliver", 16), ("Advance", 400), ("Deliver", 16)],
    ]
    for script in scripts:
        yield encode(script)


SADB_OPS = [
    "InsertInbound",
    "InsertOutbound",
    "RemoveInbound",
    "RemoveOutbound",
    "RemovePeer",
    "Send",
    "Receive",
    "Raw",
    "Advance",
    "Timeout",
    "Events",
]


def seeds_esp_sadb(caps):
    # Vec<Op>; see fuzz_targets/esp_sadb.rs. Sa { spi, local, peer, suite, soft, hard, packets, gre }
    def op(e, o):
        kind = o[0]
        e.variant(SADB_OPS.index(kind), len(SADB_OPS))
        if kind in ("InsertInbound", "InsertOutbound"):
            spi, local, peer, suite, soft, hard, packets, gre = o[1:]
            e.u8(spi).u8(local).u8(peer).u8(suite).u16(soft).u16(hard)
            e.option(packets, e.u8)
            e.bool(gre)
        elif kind in ("RemoveInbound", "RemoveOutbound", "RemovePeer"):
            e.u8(o[1])
        elif kind == "Send":
            e.u8(o[1]).u8(o[2]).u8(o[3]).u16(o[4])
        elif kind == "Receive":
            e.u8(o[1]).u8(o[2]).u8(o[3])
            e.option(o[4], lambda f: (e.u16(f[0]), e.u8(f[1])))
        elif kind == "Raw":
            e.u8(o[1]).u8(o[2]).bytes(o[3])
        elif kind == "Advance":
            e.u16(o[1])
        elif kind == "Events":
            e.u8(o[1])

    raws = [b for c in caps for _, _, b in c.esp]
    for group in chunks(raws, 4):
        e = Enc()
        script = [("InsertInbound", 1, 0, 1, 0, 90, 100, None, False)]
        script += [("Raw", 1, 0, b) for b in group]
        e.vec(script, lambda o: op(e, o))
        yield e.data()
    scripts = [
        # A pair of SAs each way, traffic both ways, lifetimes running out.
        [
            ("InsertOutbound", 1, 0, 1, 0, 9, 10, None, True),
            ("InsertInbound", 1, 1, 0, 0, 9, 10, None, True),
            ("Send", 0, 1, 47, 64),
            ("Receive", 0, 0, 1, None),
            ("Receive", 0, 0, 1, None),
            ("Send", 0, 1, 47, 100),
            ("Receive", 1, 0, 1, (20, 1)),
            ("Timeout",),
            ("Events", 8),
            ("Timeout",),
            ("Events", 8),
        ],
        # Rekey: a second outbound SA to the same peer takes over, the first is removed.
        [
            ("InsertOutbound", 1, 0, 1, 1, 5, 6, 3, True),
            ("Send", 0, 1, 47, 10),
            ("Send", 0, 1, 47, 10),
            ("InsertOutbound", 2, 0, 1, 1, 50, 60, None, True),
            ("Send", 0, 1, 47, 10),
            ("RemoveOutbound", 1),
            ("Send", 0, 1, 47, 10),
            ("Advance", 3000),
            ("Events", 4),
            ("RemovePeer", 1),
            ("Events", 4),
        ],
        # Same deadlines on several SAs; events discarded with their SA.
        [
            ("InsertInbound", 3, 0, 1, 2, 4, 4, None, False),
            ("InsertInbound", 2, 0, 2, 3, 4, 4, None, False),
            ("InsertOutbound", 3, 0, 1, 4, 4, 4, None, False),
            ("InsertOutbound", 2, 0, 2, 5, 4, 8, None, False),
            ("Advance", 300),
            ("RemoveInbound", 2),
            ("Events", 16),
            ("InsertInbound", 3, 0, 1, 2, 0, 0, 1, False),
            ("Timeout",),
            ("Events", 16),
        ],
    ]
    for script in scripts:
        e = Enc()
        e.vec(script, lambda o: op(e, o))
        yield e.data()


TARGETS = {
    "gre_parse": seeds_gre_parse,
    "gre_tunnel_rx": seeds_gre_tunnel_rx,
    "esp_parse": seeds_esp_parse,
    "esp_decapsulate": seeds_esp_decapsulate,
    "esp_sadb": seeds_esp_sadb,
    "nhrp_parse": seeds_nhrp_parse,
    "nhrp_machines": seeds_nhrp_machines,
    "nhrp_machines_auth": seeds_nhrp_machines_auth,
    "ikev2_parse": seeds_ikev2_parse,
    "ikev1_parse": seeds_ikev1_parse,
    "ikev1_decrypt": seeds_ikev1_decrypt,
    "ikev2_sk_unprotect": seeds_ikev2_sk_unprotect,
    "ikev2_responder": seeds_ikev2_responder,
    "ikev2_initiator": seeds_ikev2_initiator,
    "dmvpn_node": seeds_dmvpn_node,
    "dmvpn_node_protected": seeds_dmvpn_node_protected,
}


def pcaps(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in sorted(os.walk(p)):
                for f in sorted(files):
                    if f.endswith((".pcap", ".pcapng")):
                        yield os.path.join(root, f)
        else:
            yield p


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    captures = os.path.join(here, "..", "..", "testdata", "captures")
    caps = [load(p) for p in pcaps([captures] + argv[2:])]
    for target, make in TARGETS.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        n = 0
        for s in make(caps):
            if not s:
                continue
            with open(os.path.join(d, hashlib.sha1(s).hexdigest()), "wb") as f:
                f.write(s)
            n += 1
        print(f"{target}: {n} inputs from {len(caps)} captures")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
