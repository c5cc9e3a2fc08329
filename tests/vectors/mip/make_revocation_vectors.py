#!/usr/bin/env python3
"""Known-answer vectors for RFC 3543 Registration Revocation (type 7) and Registration Revocation
Acknowledgement (type 15), built by hand from the RFC's figures (scapy has no layer for them).

The FA-HA authenticator (extension 34, RFC 3543 section 3.3, as RFC 5944 section 3.5.1) is
HMAC-MD5 over the message up to and including the extension's type, length and SPI.
Prints `name hex` lines; `python3 make_revocation_vectors.py > revocation_vectors.txt`.
"""
import hashlib
import hmac
import socket
import struct


def ip(a):
    return socket.inet_aton(a)


def fa_ha(msg, spi, key):
    head = struct.pack("!BBI", 34, 4 + 16, spi)
    return msg + head + hmac.new(key, msg + head, hashlib.md5).digest()


FA_HA_KEY = b"fa-ha key 0123456789"
SPI = 0x00002002
A, I = 0x8000, 0x4000

out = []

# Revocation from the home agent: A and I set, home 10.1.2.3, home domain 192.0.2.1, foreign
# domain 198.51.100.7, identifier 0x5F5E1001, FA-HA authenticated.
rev = struct.pack("!BBH4s4s4sI", 7, 0, A | I, ip("10.1.2.3"), ip("192.0.2.1"),
                  ip("198.51.100.7"), 0x5F5E1001)
out.append(("revocation_ha_a_i_faha", fa_ha(rev, SPI, FA_HA_KEY)))

# Revocation from the foreign agent: A and I clear.
rev2 = struct.pack("!BBH4s4s4sI", 7, 0, 0, ip("10.1.2.4"), ip("192.0.2.1"),
                   ip("198.51.100.7"), 42)
out.append(("revocation_fa_faha", fa_ha(rev2, SPI, FA_HA_KEY)))

# Acknowledgement with the I bit (the mobile node was informed).
ack = struct.pack("!BBH4sI", 15, 0, 0x8000, ip("10.1.2.3"), 0x5F5E1001)
out.append(("revocation_ack_i_faha", fa_ha(ack, SPI, FA_HA_KEY)))

for name, b in out:
    print(name, b.hex())
