#!/usr/bin/env python3
"""Known answers for the tunnel extensions of a home agent's Registration Reply (tests/mip_tunnel.rs).

The fixed part of each reply is built by scapy.layers.mobileip (MobileIP / MobileIPRRP); the
extensions are packed from the RFCs' figures with struct (scapy has no layer for them): the UDP
Tunnel Reply (RFC 3519 section 3.2: type 44, length 6, sub-type, reply code, F flag and reserved
bits, keepalive interval), the GRE Key extension (RFC 6245 section 3: type 48, sub-type 0, a 16-bit
length of 4, the key) and the 3GPP2 GRE Key CVSE (RFC 3115 CVSE type 38 with the 3GPP2 Vendor/Org ID 5535 and
CVSE type 0x0401 of X.S0011-003, the key). The MN-HA authenticator is Python's HMAC-MD5 over the reply up to and including the
authentication extension's type, length and SPI (RFC 5944 section 3.5.1).

The replies answer the requests tests/mip_tunnel.rs sends the single home agent of
tests/common/mip.rs (home 10.0.5.7, virtual HA 10.0.0.1, SPI 0x1007, key below), identification
the NTP time 1,700,000,001 s after the Unix epoch. Prints `name hex` lines;
`python3 make_tunnel_vectors.py > tunnel_vectors.txt`.
"""
import hashlib
import hmac
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
ID = (1_700_000_001 + 2_208_988_800) << 32


def mn_ha(msg):
    head = struct.pack("!BBI", 32, 4 + 16, MN_SPI)
    return msg + head + hmac.new(MN_KEY, msg + head, hashlib.md5).digest()


def accepted(exts):
    fixed = bytes(MobileIP(type=3) / MobileIPRRP(code=0, lifetime=600, homeaddr=HOME,
                                                  haaddr=VIP, id=ID))
    return mn_ha(fixed + exts)


def udp_tunnel_reply(code, f, keepalive):
    return struct.pack("!BBBBHH", 44, 6, 0, code, 0x8000 if f else 0, keepalive)


def gre_key(key):
    # RFC 6245 section 3, Figure 1: type 48, sub-type 0, 16-bit length 4, Key Identifier.
    return struct.pack("!BBHI", 48, 0, 4, key)


def gre_key_cvse(key):
    # 3GPP2 X.S0011-003 GRE Key CVSE: RFC 3115 CVSE (type 38, reserved, 2-octet length), 3GPP2
    # Vendor/Org ID 5535, CVSE type 0x0401, the 4-octet key.
    return struct.pack("!BBHIHI", 38, 0, 10, 5535, 0x0401, key)


out = [
    # From behind a NAT: will tunnel (code 0), keepalive 60 s.
    ("udp_tunnel_reply_nat", accepted(udp_tunnel_reply(0, False, 60))),
    # No NAT, no F flag: declined (code 64).
    ("udp_tunnel_reply_declined", accepted(udp_tunnel_reply(64, False, 0))),
    # F flag: will tunnel, F set in the reply.
    ("udp_tunnel_reply_forced", accepted(udp_tunnel_reply(0, True, 60))),
    # GRE Key extension in the request: the home agent's key, the home address 10.0.5.7.
    ("gre_key_reply", accepted(gre_key(0x0A000507))),
    # 3GPP2 GRE Key CVSE in the request: echoed with the request's key.
    ("gre_key_cvse_reply", accepted(gre_key_cvse(0x5EED0002))),
]
for name, b in out:
    print(name, b.hex())
