#!/usr/bin/env python3
"""Known answers for RFC 4433 (dynamic home agent assignment) Registration Replies
(tests/mip_dynamic_ha.rs).

The fixed part of each reply is built by scapy.layers.mobileip (MobileIP / MobileIPRRP); the
Redirected HA extension is packed from RFC 4433 section 3.3's figure with struct (scapy has no
layer for it): type 139, length 5, sub-type 2 (Redirected HA), the home agent's address. The
MN-HA authenticator is Python's HMAC-MD5 over the reply up to and including the authentication
extension's type, length and SPI (RFC 5944 section 3.5.1).

The replies answer the home-address mobile node of tests/common/mip.rs (home 10.0.5.7, SPI
0x1007, key below) asking the virtual HA 10.0.0.1 for a home agent (Home Agent field
255.255.255.255), identification the NTP time 1,700,000,002 s after the Unix epoch: denied 143
(lifetime 0, the Home Agent field the address the request reached) with the Redirected HA
192.0.2.2; or accepted by the HA at 192.0.2.1, whose reply names it in the Home Agent field
(RFC 4433 section 3.2). Prints `name hex` lines;
`python3 make_dynamic_ha_vectors.py > dynamic_ha_vectors.txt`.
"""
import hashlib
import hmac
import socket
import struct
import sys

try:
    from scapy.layers.mobileip import MobileIP, MobileIPRRP
except ImportError:
    sys.exit("scapy is required")

MN_SPI = 0x1007
MN_KEY = b"mn-ha key of 10.0.5.7"
HOME = "10.0.5.7"
VIP = "10.0.0.1"
ID = (1_700_000_002 + 2_208_988_800) << 32


def mn_ha(msg):
    head = struct.pack("!BBI", 32, 4 + 16, MN_SPI)
    return msg + head + hmac.new(MN_KEY, msg + head, hashlib.md5).digest()


def reply(code, lifetime, ha, exts=b""):
    fixed = bytes(MobileIP(type=3) / MobileIPRRP(code=code, lifetime=lifetime, homeaddr=HOME,
                                                  haaddr=ha, id=ID))
    return mn_ha(fixed + exts)


def redirected_ha(addr):
    return struct.pack("!BBB4s", 139, 5, 2, socket.inet_aton(addr))


out = [
    ("redirect_143_reply", reply(143, 0, VIP, redirected_ha("192.0.2.2"))),
    ("assigned_ha_reply", reply(0, 600, "192.0.2.1")),
]
for name, b in out:
    print(name, b.hex())
