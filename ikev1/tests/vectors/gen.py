#!/usr/bin/env python3
"""Known-answer vectors for the ikev1 crate's keys and encryption, computed independently of it.

How they were made: this script, written from the text of RFC 2409 (§5 and §5.4 phase 1 keys and
HASH_I/HASH_R, §5.5 Quick Mode HASH(1)-(3) and KEYMAT, §5.7 the Informational HASH, Appendix B
the encryption key expansion, the IVs and their chaining) with Python's `hashlib`/`hmac` (the
hashes and the HMAC PRF), built-in `pow` (MODP-2048 with the RFC 3526 prime) and the
`cryptography` package (P-256 ECDH, AES-CBC). It shares no code with the Rust crate. Every input
is fixed below; every payload is built here byte by byte from RFC 2408 §3 / RFC 2407 §4.6.

Run `/usr/bin/python3 gen.py > vectors.json` in this directory (Debian: `apt-get install
python3-cryptography`) to regenerate `vectors.json`; `../vectors.rs` reads it, recomputes
everything with the crate and compares.

What the vectors hold, per phase 1 case (MODP-2048 and ECP-256 shared secrets; SHA-1, SHA2-256,
-384, -512; AES-CBC-128/192/256, so that SHA-1 with AES-192/256 needs the Appendix B expansion):
SKEYID, SKEYID_d/_a/_e, the encryption key, the phase 1 IV, HASH_I and HASH_R; Main Mode
messages 5 and 6 encrypted (IV chaining within phase 1); a Quick Mode with or without PFS (its
first IV from the last phase 1 block and the message ID, HASH(1)-(3), the three messages
encrypted and chained, KEYMAT of both SAs for the negotiated ESP suite, also the first message
as strongSwan pads it: zero bytes only); and a DPD R-U-THERE Informational (its IV and HASH).

Padding as the crate emits it: 1 to 16 bytes, zero except the last, which holds the number of
padding bytes before it. strongSwan's: 1 to 16 zero bytes.
"""
import hashlib
import hmac
import json

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
# RFC 2409 Appendix A hash algorithm values.
HASH_ATTR = {"sha1": 2, "sha256": 4, "sha384": 5, "sha512": 6}
KEY_BYTES = {"aes128": 16, "aes192": 24, "aes256": 32}

# RFC 3526 §3: the 2048-bit MODP group (generator 2).
MODP2048_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)


def pattern(start, step, n):
    """n bytes start, start+step, ... (mod 256): readable fixed inputs."""
    return bytes((start + i * step) % 256 for i in range(n))


# ---------------------------------------------------------------------------------------------
# Diffie-Hellman: fixed private values (the lengths the crate's provider draws: a 384-bit MODP
# exponent, a 32-byte P-256 scalar), public values and shared secrets.


def modp_pair(priv_i, priv_r):
    xi, xr = int.from_bytes(priv_i, "big"), int.from_bytes(priv_r, "big")
    yi, yr = pow(2, xi, MODP2048_P), pow(2, xr, MODP2048_P)
    s1, s2 = pow(yr, xi, MODP2048_P), pow(yi, xr, MODP2048_P)
    assert s1 == s2
    b = lambda v: v.to_bytes(256, "big")  # padded to the modulus length
    return b(yi), b(yr), b(s1)


def ecp_pair(priv_i, priv_r):
    ki = ec.derive_private_key(int.from_bytes(priv_i, "big"), ec.SECP256R1())
    kr = ec.derive_private_key(int.from_bytes(priv_r, "big"), ec.SECP256R1())

    def xy(k):
        n = k.public_key().public_numbers()
        return n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")  # RFC 5903 §7: x | y

    s = ki.exchange(ec.ECDH(), kr.public_key())  # RFC 5903 §9: the x coordinate
    assert s == kr.exchange(ec.ECDH(), ki.public_key())
    return xy(ki), xy(kr), s


def dh(group, priv_i, priv_r):
    yi, yr, s = (modp_pair if group == 14 else ecp_pair)(priv_i, priv_r)
    return {"private_i": priv_i.hex(), "private_r": priv_r.hex(), "public_i": yi.hex(),
            "public_r": yr.hex(), "shared": s.hex()}


DH = {
    14: dh(14, pattern(0x11, 7, 48), pattern(0x12, 11, 48)),
    19: dh(19, pattern(0x21, 5, 32), pattern(0x22, 3, 32)),
}
# A second exchange per group: the Quick Mode's own, with PFS.
DH_PFS = {
    14: dh(14, pattern(0x31, 13, 48), pattern(0x32, 17, 48)),
    19: dh(19, pattern(0x41, 9, 32), pattern(0x42, 15, 32)),
}

# ---------------------------------------------------------------------------------------------
# RFC 2409 itself.


def prf(hname, key, *parts):
    return hmac.new(key, b"".join(parts), HASHES[hname]).digest()


def digest(hname, *parts):
    return HASHES[hname](b"".join(parts)).digest()


def expand(hname, key, first, seed, length):
    """K1 | K2 | ... truncated: K1 = prf(key, first | seed), K(n+1) = prf(key, Kn | seed)."""
    out, k = b"", first
    while len(out) < length:
        k = prf(hname, key, k, seed)
        out += k
    return out[:length]


def phase1_keys(hname, cipher, psk, ni, nr, g_xy, cky_i, cky_r):
    skeyid = prf(hname, psk, ni, nr)
    d = prf(hname, skeyid, g_xy, cky_i, cky_r, b"\x00")
    a = prf(hname, skeyid, d, g_xy, cky_i, cky_r, b"\x01")
    e = prf(hname, skeyid, a, g_xy, cky_i, cky_r, b"\x02")
    n = KEY_BYTES[cipher]
    # Appendix B: SKEYID_e itself when long enough, else K1 = prf(SKEYID_e, 0), K2 = prf(SKEYID_e, K1) ...
    key = e[:n] if len(e) >= n else expand(hname, e, b"\x00", b"", n)
    return skeyid, d, a, e, key


def cbc(key, iv, data):
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def pad_crate(chain):
    pad = 16 - len(chain) % 16
    return chain + bytes(pad - 1) + bytes([pad - 1])


def pad_strongswan(chain):
    return chain + bytes(16 - len(chain) % 16)


# ---------------------------------------------------------------------------------------------
# Payloads (RFC 2408 §3.2: Next Payload, RESERVED, Payload Length, body).

SA, KE, ID, HASH, NONCE, N, D = 1, 4, 5, 8, 10, 11, 12


def chain(*payloads):
    """(type, body) pairs as a chain: each header names the next payload's type."""
    out = b""
    for i, (_, body) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else 0
        out += bytes([nxt, 0]) + (4 + len(body)).to_bytes(2, "big") + body
    return out


def tv(t, v):
    return (0x8000 | t).to_bytes(2, "big") + v.to_bytes(2, "big")


def tlv(t, v):
    return t.to_bytes(2, "big") + len(v).to_bytes(2, "big") + v


def ike_sa_body(hname, cipher, group):
    attrs = (tv(1, 7) + tv(14, KEY_BYTES[cipher] * 8) + tv(2, HASH_ATTR[hname]) + tv(3, 1)
             + tv(4, group) + tv(11, 1) + tlv(12, (86400).to_bytes(4, "big")))
    transform = bytes([1, 1, 0, 0]) + attrs  # transform 1, KEY_IKE
    # Proposal payload: generic header, #1, PROTO_ISAKMP, SPI size 0, 1 transform; then the
    # Transform payload with its own generic header.
    t_payload = bytes([0, 0]) + (4 + len(transform)).to_bytes(2, "big") + transform
    p_body = bytes([1, 1, 0, 1]) + t_payload
    p_payload = bytes([0, 0]) + (4 + len(p_body)).to_bytes(2, "big") + p_body
    return (1).to_bytes(4, "big") + (1).to_bytes(4, "big") + p_payload  # DOI IPSEC, SIT_IDENTITY_ONLY


ESP_SUITES = {
    # name: (ESP transform ID, key bits, authentication algorithm or None, KEYMAT bytes)
    "aes256-sha256": (12, 256, 5, 32 + 32),
    "aes128-sha1": (12, 128, 2, 16 + 20),
    "aes192-sha512": (12, 192, 7, 24 + 64),
    "aes256gcm16": (20, 256, None, 32 + 4),
}


def esp_sa_body(suite, spi, pfs_group):
    tid, bits, auth, _ = ESP_SUITES[suite]
    attrs = tv(1, 1) + tv(2, 3600) + tv(4, 2)  # seconds, 3600, transport
    if pfs_group:
        attrs += tv(3, pfs_group)
    if auth:
        attrs += tv(5, auth)
    attrs += tv(6, bits)
    transform = bytes([1, tid, 0, 0]) + attrs
    t_payload = bytes([0, 0]) + (4 + len(transform)).to_bytes(2, "big") + transform
    p_body = bytes([1, 3, 4, 1]) + spi + t_payload  # #1, PROTO_IPSEC_ESP, SPI size 4, 1 transform
    p_payload = bytes([0, 0]) + (4 + len(p_body)).to_bytes(2, "big") + p_body
    return (1).to_bytes(4, "big") + (1).to_bytes(4, "big") + p_payload


def id_body(id_type, proto, port, data):
    return bytes([id_type, proto]) + port.to_bytes(2, "big") + data


# ---------------------------------------------------------------------------------------------
# The cases.

CASES = [
    # name, group, hash, cipher, ESP suite, PFS, nonce lengths (phase 1 and Quick Mode)
    ("modp2048-sha1-aes128", 14, "sha1", "aes128", "aes128-sha1", False, 20),
    ("modp2048-sha1-aes256", 14, "sha1", "aes256", "aes256-sha256", True, 20),
    ("modp2048-sha256-aes192", 14, "sha256", "aes192", "aes192-sha512", False, 32),
    ("modp2048-sha512-aes256", 14, "sha512", "aes256", "aes256gcm16", True, 32),
    ("ecp256-sha256-aes128", 19, "sha256", "aes128", "aes256-sha256", True, 32),
    ("ecp256-sha256-aes256", 19, "sha256", "aes256", "aes256gcm16", False, 16),
    ("ecp256-sha1-aes192", 19, "sha1", "aes192", "aes128-sha1", True, 20),
    ("ecp256-sha384-aes256", 19, "sha384", "aes256", "aes256-sha256", False, 48),
]


def encrypted(key, iv, first, plain_chain):
    ct = cbc(key, iv, pad_crate(plain_chain))
    return {"first_payload": first, "iv": iv.hex(), "chain": plain_chain.hex(),
            "ciphertext": ct.hex(), "next_iv": ct[-16:].hex()}


def case(n, name, group, hname, cipher, suite, pfs, nonce_len):
    g = DH[group]
    g_xi, g_xr, g_xy = (bytes.fromhex(g[k]) for k in ("public_i", "public_r", "shared"))
    psk = b"cisco-dmvpn-%d" % n
    ni, nr = pattern(0x50 + n, 3, nonce_len), pattern(0x60 + n, 5, nonce_len)
    cky_i = pattern(0xa0 + n, 1, 8)
    cky_r = pattern(0xb0 + n, 7, 8)
    skeyid, d, a, e, key = phase1_keys(hname, cipher, psk, ni, nr, g_xy, cky_i, cky_r)
    iv1 = digest(hname, g_xi, g_xr)[:16]
    sai_b = ike_sa_body(hname, cipher, group)
    idii_b = id_body(1, 17, 500, bytes([192, 0, 2, 10 + n]))  # ID_IPV4_ADDR, UDP, 500
    idir_b = id_body(1, 17, 500, bytes([198, 51, 100, 1]))
    hash_i = prf(hname, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, idii_b)
    hash_r = prf(hname, skeyid, g_xr, g_xi, cky_r, cky_i, sai_b, idir_b)

    # Main Mode 5 and 6: ID then HASH, encrypted; 6 chains on 5's last block.
    mm5 = encrypted(key, iv1, ID, chain((ID, idii_b), (HASH, hash_i)))
    mm6 = encrypted(key, bytes.fromhex(mm5["next_iv"]), ID, chain((ID, idir_b), (HASH, hash_r)))
    last_p1 = bytes.fromhex(mm6["next_iv"])

    # Quick Mode: HASH(1) | SA | Ni [| KE] | IDci | IDcr, HASH(2) | SA | Nr [| KE] | IDci | IDcr,
    # HASH(3). DMVPN's IDs: the two tunnel endpoints, protocol GRE.
    mid = int.from_bytes(pattern(0x70 + n, 29, 4), "big")
    mid_b = mid.to_bytes(4, "big")
    qni, qnr = pattern(0x80 + n, 9, nonce_len), pattern(0x90 + n, 13, nonce_len)
    spi_i, spi_r = pattern(0xc0 + n, 1, 4), pattern(0xd0 + n, 1, 4)
    pfs_group = group if pfs else None
    idci = id_body(1, 47, 0, bytes([192, 0, 2, 10 + n]))
    idcr = id_body(1, 47, 0, bytes([198, 51, 100, 1]))
    sa_i, sa_r = esp_sa_body(suite, spi_i, pfs_group), esp_sa_body(suite, spi_r, pfs_group)
    p = DH_PFS[group]
    ke_i = [(KE, bytes.fromhex(p["public_i"]))] if pfs else []
    ke_r = [(KE, bytes.fromhex(p["public_r"]))] if pfs else []
    after1 = chain((SA, sa_i), (NONCE, qni), *ke_i, (ID, idci), (ID, idcr))
    after2 = chain((SA, sa_r), (NONCE, qnr), *ke_r, (ID, idci), (ID, idcr))
    h1 = prf(hname, a, mid_b, after1)
    h2 = prf(hname, a, mid_b, qni, after2)
    h3 = prf(hname, a, b"\x00", mid_b, qni, qnr)
    qiv = digest(hname, last_p1, mid_b)[:16]
    qm1 = encrypted(key, qiv, HASH, bytes([SA, 0]) + (4 + len(h1)).to_bytes(2, "big") + h1 + after1)
    qm1["after_hash"] = after1.hex()
    qm1["hash"] = h1.hex()
    qm1["ciphertext_zero_padding"] = cbc(key, qiv, pad_strongswan(bytes.fromhex(qm1["chain"]))).hex()
    qm2 = encrypted(key, bytes.fromhex(qm1["next_iv"]), HASH,
                    bytes([SA, 0]) + (4 + len(h2)).to_bytes(2, "big") + h2 + after2)
    qm2["after_hash"] = after2.hex()
    qm2["hash"] = h2.hex()
    qm3 = encrypted(key, bytes.fromhex(qm2["next_iv"]), HASH, chain((HASH, h3)))
    qm3["hash"] = h3.hex()
    g_qm = bytes.fromhex(p["shared"]) if pfs else b""
    km_len = ESP_SUITES[suite][3]
    # KEYMAT = K1 | K2 | ..., K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b).
    keymat = lambda spi: expand(hname, d, b"", g_qm + bytes([3]) + spi + qni + qnr, km_len)

    # A DPD R-U-THERE (RFC 3706 §5) in an Informational exchange: HASH(1) | N.
    imid = int.from_bytes(pattern(0xe0 + n, 31, 4), "big")
    imid_b = imid.to_bytes(4, "big")
    notify = ((1).to_bytes(4, "big") + bytes([1, 16]) + (36136).to_bytes(2, "big") + cky_i + cky_r
              + (0x1000 + n).to_bytes(4, "big"))
    after_i = chain((N, notify))
    hi = prf(hname, a, imid_b, after_i)
    iiv = digest(hname, last_p1, imid_b)[:16]
    info = encrypted(key, iiv, HASH, bytes([N, 0]) + (4 + len(hi)).to_bytes(2, "big") + hi + after_i)
    info.update({"message_id": imid, "after_hash": after_i.hex(), "hash": hi.hex()})

    return {
        "name": name, "group": group, "hash": hname, "cipher": cipher,
        "psk": psk.hex(), "ni": ni.hex(), "nr": nr.hex(), "cky_i": cky_i.hex(), "cky_r": cky_r.hex(),
        "sai_b": sai_b.hex(), "idii_b": idii_b.hex(), "idir_b": idir_b.hex(),
        "skeyid": skeyid.hex(), "skeyid_d": d.hex(), "skeyid_a": a.hex(), "skeyid_e": e.hex(),
        "encryption_key": key.hex(), "iv": iv1.hex(), "hash_i": hash_i.hex(), "hash_r": hash_r.hex(),
        "mm5": mm5, "mm6": mm6,
        "quick_mode": {
            "message_id": mid, "ni": qni.hex(), "nr": qnr.hex(), "spi_i": spi_i.hex(),
            "spi_r": spi_r.hex(), "suite": suite, "pfs": pfs, "iv": qiv.hex(),
            "qm1": qm1, "qm2": qm2, "qm3": qm3,
            # The initiator-to-responder SA has the responder's SPI, and the other way round.
            "keymat_spi_r": keymat(spi_r).hex(), "keymat_spi_i": keymat(spi_i).hex(),
        },
        "informational": info,
    }


def main():
    out = {
        "groups": [dict(group=k, **v) for k, v in DH.items()],
        "pfs_groups": [dict(group=k, **v) for k, v in DH_PFS.items()],
        "cases": [case(n, *c) for n, c in enumerate(CASES)],
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
