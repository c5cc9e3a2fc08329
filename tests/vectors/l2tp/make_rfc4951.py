#!/usr/bin/env python3
"""Known-answer vectors for the RFC 4951 failover AVPs and messages and the RFC 3145 PPP
Disconnect Cause Code AVP, laid out octet by octet from the RFC figures with `struct` (an
encoding independent of telcp's). Writes rfc4951.txt: one `name hex` line per message.

    python3 tests/vectors/l2tp/make_rfc4951.py > tests/vectors/l2tp/rfc4951.txt
"""
import struct


def avp(attr, value, m=True):
    # RFC 2661 4.1: M bit, H bit, 4 reserved bits, 10-bit length; Vendor ID 0 (IETF).
    return struct.pack('!HHH', (0x8000 if m else 0) | (6 + len(value)), 0, attr) + value


def control(tid, sid, ns, nr, avps):
    # RFC 2661 3.1: T=1 L=1 S=1, version 2.
    body = b''.join(avps)
    return struct.pack('!HHHHHH', 0xc802, 12 + len(body), tid, sid, ns, nr) + body


def mt(n, m=True):
    return avp(0, struct.pack('!H', n), m=m)


# 76 Failover Capability (RFC 4951 5.1): 14 reserved bits, D (0x0002), C (0x0001, the last bit);
# Recovery Time in ms. M=0.
def failover_capability(c, d, ms):
    return avp(76, struct.pack('!HI', (1 if c else 0) | (2 if d else 0), ms), m=False)


# 77 Tunnel Recovery (RFC 4951 5.2, the L2TPv2 figure; M=1): reserved 16, then two 32-bit
# words, each a reserved 16 and a 16-bit id: Recover Tunnel ID, Recover Remote Tunnel ID.
# 10 octets of value (the L2TPv3 form's size: its ids are 32 bits).
def tunnel_recovery(tid, remote):
    return avp(77, struct.pack('!HHHHH', 0, 0, tid, 0, remote))


# 78 Suggested Control Sequence (RFC 4951 5.3): reserved 16, Suggested Ns, Suggested Nr. M=0.
def suggested(ns, nr):
    return avp(78, struct.pack('!HHH', 0, ns, nr), m=False)


# 79 Failover Session State (RFC 4951 5.4, the L2TPv2 figure; M=1): reserved 16, then two
# 32-bit words, each a reserved 16 and a 16-bit id: Session ID, Remote Session ID. 10 octets.
def fss(sid, remote):
    return avp(79, struct.pack('!HHHHH', 0, 0, sid, 0, remote))


# 46 PPP Disconnect Cause Code (RFC 3145): code 16, protocol 16, direction 8, message.
def ppp_cause(code, proto, direction, msg):
    return avp(46, struct.pack('!HHB', code, proto, direction) + msg, m=False)


VECTORS = [
    # Recovery SCCRQ from the recovering endpoint: new tunnel 0x0203, recovering its old tunnel
    # 0x1111 whose id at the peer is 0x2222 (no Failover Capability: RFC 4951 3.2.1).
    ('recovery_sccrq', control(0, 0, 0, 0, [
        mt(1), avp(2, b'\x01\x00'), avp(7, b'lns-b'), avp(3, struct.pack('!I', 3)),
        avp(9, struct.pack('!H', 0x0203)), tunnel_recovery(0x1111, 0x2222)])),
    # SCCRP answering it: Suggested Ns 17, Suggested Nr 42 (no Failover Capability).
    ('recovery_sccrp', control(0x0203, 0, 0, 1, [
        mt(2), avp(2, b'\x01\x00'), avp(3, struct.pack('!I', 3)), avp(7, b'lac'),
        avp(9, struct.pack('!H', 0x0304)), suggested(17, 42)])),
    # An ordinary SCCRQ of a failover-capable endpoint: C and D set, Recovery Time 5000 ms.
    ('fc_cd_sccrq', control(0, 0, 0, 0, [
        mt(1), avp(2, b'\x01\x00'), avp(7, b'lns-a'), avp(3, struct.pack('!I', 3)),
        avp(9, struct.pack('!H', 0x0102)), failover_capability(True, True, 5000)])),
    # An SCCRP of an endpoint with the C bit only, Recovery Time 0.
    ('fc_c_sccrp', control(0x0102, 0, 0, 1, [
        mt(2), avp(2, b'\x01\x00'), avp(3, struct.pack('!I', 3)), avp(7, b'lac'),
        avp(9, struct.pack('!H', 0x0304)), failover_capability(True, False, 0)])),
    # FSQ on the old tunnel about two sessions (Message Type M=0: RFC 4951 4.1).
    ('fsq', control(0x2222, 0, 17, 42, [mt(21, m=False), fss(0x0a0a, 0x0b0b),
                                       fss(0x0c0c, 0x0d0d)])),
    # FSR: the first session known (its id 0x0b0b), the second unknown (0); Message Type M=0.
    ('fsr', control(0x1111, 0, 42, 18, [mt(22, m=False), fss(0x0b0b, 0x0a0a),
                                       fss(0, 0x0c0c)])),
    # CDN with a PPP Disconnect Cause Code: LCP (0xc021) code 3, at peer, "bye".
    ('cdn_ppp_cause', control(7, 9, 3, 4, [
        mt(14), avp(1, struct.pack('!H', 3)), avp(14, struct.pack('!H', 5)),
        ppp_cause(3, 0xc021, 1, b'bye')])),
]

if __name__ == '__main__':
    for name, b in VECTORS:
        print(name, b.hex())
