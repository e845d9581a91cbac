#!/usr/bin/env python3
"""Known-answer vectors for the ikev2 crate, computed independently of it.

How they were made: this script, with Python's `hashlib`/`hmac` (HMAC, prf, prf+), built-in
`pow` (MODP-2048, -3072 and -4096 with the RFC 3526 primes), and the `cryptography` package
(X25519, P-256, P-384 and P-521 ECDH, AES-CBC, AES-GCM). It implements RFC 7296 §2.13-§2.18 and §2.15 directly from the RFC text.
All inputs are fixed below. Run `python3 gen.py > vectors.json` in this directory to
regenerate `vectors.json` (the Rust tests in ../kat.rs read that file).
"""
import hashlib
import hmac
import json

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}

MODP2048_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)

# RFC 3526 §4 and §5: p = 2^3072 - 2^3008 - 1 + 2^64 * ([2^2942 pi] + 1690314) and
# p = 2^4096 - 2^4032 - 1 + 2^64 * ([2^3966 pi] + 240904).
MODP3072_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF", 16)
MODP4096_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7"
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8DBBBC2DB04DE8EF92E8EFC141FBECAA6"
    "287C59474E6BC05D99B2964FA090C3A2233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9"
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF", 16)


def prf(h, key, data):
    return hmac.new(key, data, HASHES[h]).digest()


def prf_plus(h, key, seed, length):
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = prf(h, key, t + seed + bytes([i]))
        out += t
        i += 1
    return out[:length]


def pattern(n, start):
    return bytes((start + 7 * i) % 256 for i in range(n))


def modp_in(p):
    def kx(xi, xr):
        gi = pow(2, int.from_bytes(xi, "big"), p)
        gr = pow(2, int.from_bytes(xr, "big"), p)
        s = pow(gr, int.from_bytes(xi, "big"), p)
        assert s == pow(gi, int.from_bytes(xr, "big"), p)
        b = lambda v: v.to_bytes((p.bit_length() + 7) // 8, "big")
        return b(gi), b(gr), b(s)
    return kx


modp = modp_in(MODP2048_P)


def x25519_kx(xi, xr):
    ki = x25519.X25519PrivateKey.from_private_bytes(xi)
    kr = x25519.X25519PrivateKey.from_private_bytes(xr)
    raw = lambda k: k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    s = ki.exchange(kr.public_key())
    return raw(ki), raw(kr), s


def ecp_in(curve):
    def kx(xi, xr):
        ki = ec.derive_private_key(int.from_bytes(xi, "big"), curve)
        kr = ec.derive_private_key(int.from_bytes(xr, "big"), curve)
        pub = lambda k: k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)[1:]
        s = ki.exchange(ec.ECDH(), kr.public_key())
        return pub(ki), pub(kr), s
    return kx


p256_kx = ecp_in(ec.SECP256R1())


def ike_keys(h, integ_len, encr_len, skeyseed, ni, nr, spi_i, spi_r):
    plen = len(prf(h, b"k", b""))
    total = 3 * plen + 2 * integ_len + 2 * encr_len
    km = prf_plus(h, skeyseed, ni + nr + spi_i + spi_r, total)
    out, at = {}, 0
    for name, n in [("sk_d", plen), ("sk_ai", integ_len), ("sk_ar", integ_len), ("sk_ei", encr_len),
                    ("sk_er", encr_len), ("sk_pi", plen), ("sk_pr", plen)]:
        out[name] = km[at:at + n].hex()
        at += n
    return out


HEX = lambda b: b.hex()
vectors = {"groups": [], "ike": [], "sk": [], "auth": []}

# Key exchange: fixed private values (the Rust tests feed them through the random source).
xi_modp, xr_modp = pattern(48, 1), pattern(48, 2)
xi_25519, xr_25519 = pattern(32, 3), pattern(32, 4)
xi_p256, xr_p256 = pattern(32, 5), pattern(32, 6)
for group, (xi, xr), f in [(14, (xi_modp, xr_modp), modp), (31, (xi_25519, xr_25519), x25519_kx),
                           (19, (xi_p256, xr_p256), p256_kx)]:
    gi, gr, s = f(xi, xr)
    vectors["groups"].append({"group": group, "private_i": HEX(xi), "private_r": HEX(xr),
                              "public_i": HEX(gi), "public_r": HEX(gr), "shared": HEX(s)})


def masked(b, top):
    """A P-521 private value: 66 bytes of which the first keeps only its lowest bit (< 2^521)."""
    return bytes([b[0] & top]) + b[1:]


# MODP-3072 and -4096 (RFC 3526 groups 15, 16; 384- and 512-bit secret exponents), ECP-384 and
# ECP-521 (RFC 5903 groups 20, 21).
for group, (xi, xr), f in [
    (15, (pattern(48, 12), pattern(48, 13)), modp_in(MODP3072_P)),
    (16, (pattern(64, 14), pattern(64, 15)), modp_in(MODP4096_P)),
    (20, (pattern(48, 16), pattern(48, 17)), ecp_in(ec.SECP384R1())),
    (21, (masked(pattern(66, 18), 1), masked(pattern(66, 19), 1)), ecp_in(ec.SECP521R1())),
]:
    gi, gr, s = f(xi, xr)
    vectors["groups"].append({"group": group, "private_i": HEX(xi), "private_r": HEX(xr),
                              "public_i": HEX(gi), "public_r": HEX(gr), "shared": HEX(s)})

# IKE SA keys, rekey and child SA KEYMAT for several suites.
suites = [
    # strongSwan proposal, PRF hash, SK_a length, SK_e length, group, ESP suite and its KEYMAT per direction
    ("aes128-sha256-modp2048", "sha256", 32, 16, 14, "aes128-sha256", 16 + 32),
    ("aes256gcm16-prfsha256-x25519", "sha256", 0, 36, 31, "aes256gcm16", 36),
    ("aes256-sha384-ecp256", "sha384", 48, 32, 19, "aes256-sha512", 32 + 64),
    ("aes128gcm16-prfsha512-x25519", "sha512", 0, 20, 31, "aes128gcm16", 20),
]
shared = {g["group"]: bytes.fromhex(g["shared"]) for g in vectors["groups"]}
ni, nr = pattern(32, 10), pattern(48, 11)
spi_i, spi_r = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")
ni2, nr2 = pattern(32, 20), pattern(32, 21)
spi_i2, spi_r2 = bytes.fromhex("2122232425262728"), bytes.fromhex("3132333435363738")
for name, h, ia, ea, group, esp, esp_len in suites:
    gir = shared[group]
    skeyseed = prf(h, ni + nr, gir)
    keys = ike_keys(h, ia, ea, skeyseed, ni, nr, spi_i, spi_r)
    sk_d = bytes.fromhex(keys["sk_d"])
    # Rekey (RFC 7296 §2.18) with the same suite: old PRF, old SK_d, new g^ir, new nonces/SPIs.
    gir2 = shared[31]
    skeyseed2 = prf(h, sk_d, gir2 + ni2 + nr2)
    keys2 = ike_keys(h, ia, ea, skeyseed2, ni2, nr2, spi_i2, spi_r2)
    # Child SA KEYMAT (§2.17), without and with PFS (g^ir of group 14).
    keymat = prf_plus(h, sk_d, ni2 + nr2, 2 * esp_len)
    keymat_pfs = prf_plus(h, sk_d, shared[14] + ni2 + nr2, 2 * esp_len)
    vectors["ike"].append({
        "proposal": name, "ni": HEX(ni), "nr": HEX(nr), "spi_i": HEX(spi_i), "spi_r": HEX(spi_r),
        "shared": HEX(gir), "skeyseed": HEX(skeyseed), "keys": keys,
        "rekey": {"shared": HEX(gir2), "ni": HEX(ni2), "nr": HEX(nr2), "spi_i": HEX(spi_i2),
                  "spi_r": HEX(spi_r2), "skeyseed": HEX(skeyseed2), "keys": keys2},
        "child": {"esp": esp, "ni": HEX(ni2), "nr": HEX(nr2), "keymat": HEX(keymat),
                  "pfs_shared": HEX(shared[14]), "keymat_pfs": HEX(keymat_pfs)},
    })

# prf+ long output (several blocks, truncated mid-block).
vectors["prf_plus"] = {"hash": "sha256", "key": HEX(pattern(20, 40)), "seed": HEX(pattern(70, 41)),
                       "length": 100, "out": HEX(prf_plus("sha256", pattern(20, 40), pattern(70, 41), 100))}

# SK payloads: a fixed message, inner payload bytes, keys and IV -> the exact bytes on the wire.
# The inner payload chain, as the Rust test builds it: IDi(ipv4 192.168.12.1) then Nonce(16 x 0xab).
idi = bytes([40, 0, 0, 12, 1, 0, 0, 0, 192, 168, 12, 1])
nonce = bytes([0, 0, 0, 20]) + bytes([0xAB] * 16)
inner = idi + nonce


def header(spi_i, spi_r, first, exch, flags, mid, length):
    return spi_i + spi_r + bytes([first, 0x20, exch, flags]) + mid.to_bytes(4, "big") + length.to_bytes(4, "big")


# AES-128-CBC + HMAC-SHA-256-128: keys are the aes128-sha256-modp2048 SK_ei / SK_ai.
k = vectors["ike"][0]["keys"]
sk_e, sk_a = bytes.fromhex(k["sk_ei"]), bytes.fromhex(k["sk_ai"])
iv = pattern(16, 50)
pad = (16 - (len(inner) + 1) % 16) % 16
plain = inner + bytes(pad) + bytes([pad])
enc = Cipher(algorithms.AES(sk_e), modes.CBC(iv)).encryptor()
ct = enc.update(plain) + enc.finalize()
sk_len = 4 + 16 + len(ct) + 16
hdr = header(spi_i, spi_r, 46, 35, 0x08, 1, 28 + sk_len)
msg = hdr + bytes([35, 0]) + sk_len.to_bytes(2, "big") + iv + ct
msg += hmac.new(sk_a, msg, hashlib.sha256).digest()[:16]
vectors["sk"].append({"proposal": "aes128-sha256-modp2048", "sk_e": HEX(sk_e), "sk_a": HEX(sk_a),
                      "iv": HEX(iv), "message": HEX(msg)})

# AES-256-GCM-16: keys are the aes256gcm16-prfsha256-x25519 SK_er (key | salt); IV = 0 (first message).
k = vectors["ike"][1]["keys"]
sk_e = bytes.fromhex(k["sk_er"])
key, salt = sk_e[:32], sk_e[32:]
iv = bytes(8)
plain = inner + bytes([0])
sk_len = 4 + 8 + len(plain) + 16
hdr = header(spi_i, spi_r, 46, 35, 0x20, 1, 28 + sk_len)
aad = hdr + bytes([35, 0]) + sk_len.to_bytes(2, "big")
msg = aad + iv + AESGCM(key).encrypt(salt + iv, plain, aad)
vectors["sk"].append({"proposal": "aes256gcm16-prfsha256-x25519", "sk_e": HEX(sk_e), "sk_a": "",
                      "iv": HEX(iv), "message": HEX(msg)})

# AUTH with a pre-shared key (§2.15), initiator side: RealMessage1 | NonceRData | prf(SK_pi, IDi body).
k = vectors["ike"][0]["keys"]
real1 = pattern(300, 60)
idi_body = bytes([2, 0, 0, 0]) + b"spoke1.dmvpn.example"
maced = prf("sha256", bytes.fromhex(k["sk_pi"]), idi_body)
octets = real1 + nr + maced
psk = b"cisco123"
auth = prf("sha256", prf("sha256", psk, b"Key Pad for IKEv2"), octets)
vectors["auth"].append({"prf": "sha256", "sk_pi": k["sk_pi"], "real_message": HEX(real1), "nonce_r": HEX(nr),
                        "id_fqdn": "spoke1.dmvpn.example", "psk": psk.decode(), "signed_octets": HEX(octets),
                        "auth": HEX(auth)})

print(json.dumps(vectors, indent=1))
