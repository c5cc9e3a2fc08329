#!/usr/bin/env python3
"""Known answers for the HA cluster's sealed MN-HA key (src/mip/cluster/seal.rs), computed with an
independent implementation: HKDF-SHA256 (RFC 5869) written out with the standard library's hmac,
and PyCryptodome's XChaCha20-Poly1305 (ChaCha20_Poly1305 with a 24-octet nonce).

Writes key_wrap_vectors.txt: one vector per line, space-separated hex fields:
name cluster_secret nonce key home_address nai spi secs ciphertext tag
(pip install pycryptodome)
"""
import hashlib
import hmac
from pathlib import Path

from Crypto.Cipher import ChaCha20_Poly1305

INFO = b"telcp mip cluster v1: MN-HA key wrap"


def hkdf_sha256(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()  # no salt: HashLen zeros
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


def seal(secret, nonce, key, home, nai, spi, secs):
    ad = bytes(home) + bytes([len(nai)]) + nai + spi.to_bytes(4, "big") + secs.to_bytes(4, "big")
    c = ChaCha20_Poly1305.new(key=hkdf_sha256(secret, INFO), nonce=nonce)
    c.update(ad)
    return c.encrypt_and_digest(key)


VECTORS = [
    # name, cluster secret, nonce (node 2, incarnation 1, 16 octets), key, home, NAI, SPI, secs
    ("nai_16", b"cluster secret", bytes([0, 0, 0, 2, 0, 0, 0, 1]) + bytes(range(0x10, 0x20)),
     bytes(range(0x40, 0x50)), [10, 0, 0, 5], b"mn@example.com", 0x1234, 3600),
    ("no_nai_1", b"k", bytes([0, 0, 0, 7, 0, 0, 0, 9]) + bytes(16), b"\xaa", [192, 0, 2, 200],
     b"", 256, 0),
    ("home_0_key_64", b"another cluster secret", bytes(range(24)), bytes(range(64)), [0, 0, 0, 0],
     b"alice@home.example.net", 0xFFFFFFFF, 0xFFFFFFFF),
]

lines = []
for name, secret, nonce, key, home, nai, spi, secs in VECTORS:
    ct, tag = seal(secret, nonce, key, home, nai, spi, secs)
    fields = [secret, nonce, key, bytes(home), nai, spi.to_bytes(4, "big"),
              secs.to_bytes(4, "big"), ct, tag]
    lines.append(" ".join([name] + [f.hex() if f else "-" for f in fields]))
Path(__file__).with_name("key_wrap_vectors.txt").write_text("\n".join(lines) + "\n")
