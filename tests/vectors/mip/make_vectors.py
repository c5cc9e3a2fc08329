#!/usr/bin/env python3
"""Known-answer vectors for telcp's Mobile IPv4 codec, built outside the crate.

Authenticators come from Python's hmac/hashlib over exactly the bytes RFC 5944 section 3.5.1
protects; the scapy vectors use scapy.layers.mobileip for the fixed parts, extensions appended as
bytes. Prints `name hex` lines; `python3 make_vectors.py > vectors.txt`.
"""
import hashlib
import hmac
import socket
import struct
import sys


def ip(a):
    return socket.inet_aton(a)


def hmac_md5(key, data):
    return hmac.new(key, data, hashlib.md5).digest()


def keyed_md5(key, data):
    return hashlib.md5(key + data + key).digest()


def auth_ext(msg, ext_type, spi, key, alg=hmac_md5):
    head = struct.pack("!BBI", ext_type, 4 + 16, spi)
    return msg + head + alg(key, msg + head)


MN_HA_KEY = b"mn-ha shared secret"
FA_HA_KEY = b"fa-ha key 0123456789"
MN_FA_KEY = b"mn-fa"

out = []

# RRQ: flags S|T, lifetime 1800, home 0.0.0.0 (assign via NAI), HA 192.0.2.1, CoA 198.51.100.7,
# identification = NTP timestamp.
rrq = struct.pack("!BBH4s4s4sQ", 1, 0x82, 1800, ip("0.0.0.0"), ip("192.0.2.1"),
                  ip("198.51.100.7"), 0xE7A1B2C3_12345678)
nai = b"alice@home.example.net"
rrq += struct.pack("!BB", 131, len(nai)) + nai
rrq += struct.pack("!BBHI", 137, 6, 0x8000, 0x5F5E1000)  # revocation support, I bit
rrq = auth_ext(rrq, 32, 0x00001001, MN_HA_KEY)
rrq = auth_ext(rrq, 34, 0x00002002, FA_HA_KEY)
out.append(("rrq_nai_rev_mnha_faha", rrq))

# Same request with RFC 2002 prefix+suffix keyed MD5 MN-HA and an MN-FA extension.
rrq2 = struct.pack("!BBH4s4s4sQ", 1, 0x00, 600, ip("10.1.2.3"), ip("192.0.2.1"),
                   ip("198.51.100.7"), 0x0102030405060708)
rrq2 = auth_ext(rrq2, 32, 0x00001001, MN_HA_KEY, keyed_md5)
rrq2 = auth_ext(rrq2, 33, 0x00003003, MN_FA_KEY)
out.append(("rrq_keyed_md5_mnfa", rrq2))

# RRP accepted with NAI and MN-HA.
rrp = struct.pack("!BBH4s4sQ", 3, 0, 1800, ip("10.1.2.99"), ip("192.0.2.1"),
                  0xE7A1B2C3_12345678)
rrp += struct.pack("!BB", 131, len(nai)) + nai
rrp = auth_ext(rrp, 32, 0x00001001, MN_HA_KEY)
out.append(("rrp_nai_mnha", rrp))

try:
    from scapy.layers.mobileip import MobileIP, MobileIPRRQ, MobileIPRRP
except ImportError:  # pragma: no cover
    sys.exit("scapy is required")

srrq = bytes(MobileIP(type=1) / MobileIPRRQ(flags=0x80, lifetime=300, homeaddr="10.9.8.7",
                                           haaddr="203.0.113.10", coaddr="198.51.100.20",
                                           id=0xDEADBEEF00000001))
srrq += struct.pack("!BBB4s", 139, 5, 1, ip("203.0.113.11"))  # dynamic HA: requested
srrq += struct.pack("!BBBBBBH", 144, 6, 0, 0, 0x80, 4, 0)  # UDP tunnel request, F, IP-in-IP
srrq += struct.pack("!BBHIH", 38, 0, 6 + 4, 5535, 0x0401) + b"\x00\x00\x00\x2a"  # CVSE 3GPP2 GRE key
srrq += struct.pack("!BBHIH", 134, 8 + 2, 0, 5535, 16) + b"\x00\x01"  # NVSE 3GPP2
srrq = auth_ext(srrq, 32, 0x00001001, MN_HA_KEY)
out.append(("scapy_rrq", srrq))

srrp = bytes(MobileIP(type=3) / MobileIPRRP(code=133, lifetime=0, homeaddr="10.9.8.7",
                                           haaddr="203.0.113.10", id=0xE7A1B2C400000001))
srrp += struct.pack("!BBBBHH", 44, 6, 0, 0, 0x8000, 110)  # UDP tunnel reply, keepalive 110 s
gen = struct.pack("!BBHI", 36, 1, 4 + 16, 0x00000300)  # MN-AAA (opaque authenticator)
srrp += gen + bytes(range(16))
srrp = auth_ext(srrp, 32, 0x00001001, MN_HA_KEY)
out.append(("scapy_rrp", srrp))

for name, b in out:
    print(name, b.hex())
