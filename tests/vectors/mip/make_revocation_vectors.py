#!/usr/bin/env python3
"""Known-answer vectors for RFC 3543 Registration Revocation (type 7) and Registration Revocation
Acknowledgement (type 15). scapy 2.x has no layer for them: the script declares two scapy packet
classes from the RFC's figures (sections 3.3 and 3.4) with scapy's field types, and scapy builds
the messages; the FA-HA (or, for a co-located mobile node, MN-HA) authentication extension is
appended.

The FA-HA authenticator (extension 34, RFC 3543 section 3.3, as RFC 5944 section 3.5.1) is
HMAC-MD5 over the message up to and including the extension's type, length and SPI.
Prints `name hex` lines; `python3 make_revocation_vectors.py > revocation_vectors.txt`.
"""
import hashlib
import hmac
import struct
import sys

try:
    from scapy.fields import ByteField, IntField, IPField, ShortField
    from scapy.packet import Packet
except ImportError:
    sys.exit("scapy is required")


class Revocation(Packet):
    """RFC 3543 section 3.3."""
    name = "Registration Revocation"
    fields_desc = [ByteField("type", 7), ByteField("reserved", 0), ShortField("flags", 0),
                   IPField("homeaddr", "0.0.0.0"), IPField("hda", "0.0.0.0"),
                   IPField("fda", "0.0.0.0"), IntField("revid", 0)]


class RevocationAck(Packet):
    """RFC 3543 section 3.4."""
    name = "Registration Revocation Acknowledgement"
    fields_desc = [ByteField("type", 15), ByteField("reserved", 0), ShortField("flags", 0),
                   IPField("homeaddr", "0.0.0.0"), IntField("revid", 0)]


def fa_ha(msg, spi, key):
    head = struct.pack("!BBI", 34, 4 + 16, spi)
    return msg + head + hmac.new(key, msg + head, hashlib.md5).digest()


FA_HA_KEY = b"fa-ha key 0123456789"
SPI = 0x00002002
A, I = 0x8000, 0x4000

out = []

# Revocation from the home agent: A and I set, home 10.1.2.3, home domain 192.0.2.1, foreign
# domain 198.51.100.7, identifier 0x5F5E1001, FA-HA authenticated.
rev = bytes(Revocation(flags=A | I, homeaddr="10.1.2.3", hda="192.0.2.1", fda="198.51.100.7",
                       revid=0x5F5E1001))
out.append(("revocation_ha_a_i_faha", fa_ha(rev, SPI, FA_HA_KEY)))

# Revocation from the foreign agent: A and I clear.
rev2 = bytes(Revocation(flags=0, homeaddr="10.1.2.4", hda="192.0.2.1", fda="198.51.100.7",
                        revid=42))
out.append(("revocation_fa_faha", fa_ha(rev2, SPI, FA_HA_KEY)))

# Acknowledgement with the I bit (the mobile node was informed).
ack = bytes(RevocationAck(flags=0x8000, homeaddr="10.1.2.3", revid=0x5F5E1001))
out.append(("revocation_ack_i_faha", fa_ha(ack, SPI, FA_HA_KEY)))

for name, b in out:
    print(name, b.hex())
