#!/usr/bin/env python3
"""tshark decryption rows from an IKEv1 charon's level-4 log (.ci/checks/strongswan-ikev1.sh).

Debian's strongSwan 5.9.8 has no save-keys plugin, and kernel-libipsec logs no ESP keys, so the
keys come from what charon logs with `ike = 4` and `chd = 4` (keymat_v1.c):
- "encryption key Ka => N bytes" (the phase 1 cipher key, RFC 2409 Appendix B), which with the
  initiator's cookie (given on the command line, from `swanctl --list-sas`) makes an
  `uat:ikev1_decryption_table:<cookie_i hex>,<Ka hex>` row (both fields unquoted hex);
- "SKEYID_d => N bytes" and every "initiator SA seed" / "responder SA seed", the input of
  RFC 2409 §5.5's KEYMAT = K1 | K2 | ..., K1 = prf(SKEYID_d, seed), Kn = prf(SKEYID_d, Kn-1 | seed),
  seed = [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b; the prf is HMAC with the hash whose output
  is SKEYID_d's length;
- "selected proposal: ESP:..." (cfg, level 1) for the ESP algorithms, and "CHILD_SA ...
  established with SPIs X_i Y_o" for which SPI is inbound at this charon.
Each ESP SA becomes a `uat:esp_sa:` row in the 8-field format of dmvpn_esp::keylog.

Usage: charon-ikev1-keylog.py LOG COOKIE_I LOCAL_ADDR REMOTE_ADDR   (rows on stdout, one a line)
"""
import hashlib
import hmac
import re
import sys

ENCR = {  # strongSwan's name -> (Wireshark's name, key bytes)
    "AES_CBC_128": ("AES-CBC [RFC3602]", 16),
    "AES_CBC_192": ("AES-CBC [RFC3602]", 24),
    "AES_CBC_256": ("AES-CBC [RFC3602]", 32),
}
INTEG = {
    "HMAC_SHA1_96": ("HMAC-SHA-1-96 [RFC2404]", 20),
    "HMAC_SHA2_256_128": ("HMAC-SHA-256-128 [RFC4868]", 32),
    "HMAC_SHA2_384_192": ("HMAC-SHA-384-192 [RFC4868]", 48),
    "HMAC_SHA2_512_256": ("HMAC-SHA-512-256 [RFC4868]", 64),
}
PRF_BY_LEN = {16: hashlib.md5, 20: hashlib.sha1, 32: hashlib.sha256, 48: hashlib.sha384, 64: hashlib.sha512}
ESP_PROTOCOL = 3


def dumps(lines):
    """Yields (thread, label, bytes) for every `%B` dump: "LABEL => N bytes @ 0x..." and
    its hex lines ("   0: 52 28 EA ...  ascii") from the same thread."""
    head = re.compile(r"^\S+ (\d+)\[\w+\] (.+?) => (\d+) bytes @ 0x[0-9a-f]+$")
    row = re.compile(r"^\S+ (\d+)\[\w+\] +\d+: ((?:[0-9A-F]{2} ){1,16})")
    open_dumps = {}  # thread -> [label, length, bytearray]
    for line in lines:
        m = head.match(line)
        if m:
            thread, label, n = m.group(1), m.group(2), int(m.group(3))
            open_dumps[thread] = [label, n, bytearray()]
            if n == 0:
                yield thread, label, b""
                del open_dumps[thread]
            continue
        m = row.match(line)
        if m and m.group(1) in open_dumps:
            d = open_dumps[m.group(1)]
            d[2] += bytes.fromhex(m.group(2).replace(" ", ""))
            if len(d[2]) >= d[1]:
                yield m.group(1), d[0], bytes(d[2][: d[1]])
                del open_dumps[m.group(1)]


def keymat(prf, skeyid_d, seed, n):
    out, k = b"", b""
    while len(out) < n:
        k = hmac.new(skeyid_d, k + seed, prf).digest()
        out += k
    return out[:n]


def main():
    log, cookie_i, local, remote = sys.argv[1:5]
    lines = open(log, encoding="utf-8", errors="replace").read().splitlines()
    ka = skeyid_d = None
    seeds = []  # (skeyid_d, seed)
    for _thread, label, data in dumps(lines):
        if label == "encryption key Ka":
            ka = data
        elif label == "SKEYID_d":
            skeyid_d = data
        elif label in ("initiator SA seed", "responder SA seed"):
            seeds.append((skeyid_d, data))
    if ka is None:
        sys.exit("no 'encryption key Ka' in %s (is charon logging ike at level 4?)" % log)
    print("uat:ikev1_decryption_table:%s,%s" % (cookie_i.lower(), ka.hex()))

    proposals = re.findall(r"selected proposal: ESP:([A-Z0-9_]+)/([A-Z0-9_]+)", "\n".join(lines))
    pairs = re.findall(r"CHILD_SA \S+ established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o", "\n".join(lines))
    inbound = {int(i, 16) for i, _o in pairs}
    known = inbound | {int(o, 16) for _i, o in pairs}
    if not proposals:
        sys.exit("no 'selected proposal: ESP:' in %s" % log)
    encr, integ = proposals[-1]
    if encr not in ENCR or integ not in INTEG:
        sys.exit("ESP %s/%s: no Wireshark name known here" % (encr, integ))
    (ename, elen), (iname, ilen) = ENCR[encr], INTEG[integ]
    for skd, seed in seeds:
        if skd is None:
            sys.exit("an SA seed before SKEYID_d")
        # The SPI follows the protocol byte: after g(qm)^xy with PFS, at the start without.
        spi = None
        for off in range(0, len(seed) - 4):
            if seed[off] == ESP_PROTOCOL:
                cand = int.from_bytes(seed[off + 1 : off + 5], "big")
                if cand in known:
                    spi = cand
                    break
        if spi is None:
            sys.exit("an SA seed whose SPI is no established SA's")
        km = keymat(PRF_BY_LEN[len(skd)], skd, seed, elen + ilen)
        src, dst = (remote, local) if spi in inbound else (local, remote)
        print(
            'uat:esp_sa:"IPv4","%s","%s","0x%08x","%s","0x%s","%s","0x%s"'
            % (src, dst, spi, ename, km[:elen].hex(), iname, km[elen:].hex())
        )


if __name__ == "__main__":
    main()
