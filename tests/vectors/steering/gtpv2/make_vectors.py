#!/usr/bin/env python3
"""Builds the GTPv2-C known-answer vectors with scapy (scapy.contrib.gtp_v2), not with telcp.

Run in this directory: python3 make_vectors.py. Writes <name>.hex, one datagram (the UDP payload)
per file as lowercase hex. tests/steering_gtpv2.rs checks the values set here.
"""
from scapy.contrib import gtp_v2 as g


def out(name, pkt):
    with open(name + ".hex", "w") as f:
        f.write(bytes(pkt).hex() + "\n")


def hdr(t, teid=None, seq=0, **kw):
    kw.setdefault("P", 0)  # scapy's default is P=1
    if teid is None:
        return g.GTPHeader(T=0, seq=seq, gtp_type=t, **kw)
    return g.GTPHeader(T=1, teid=teid, seq=seq, gtp_type=t, **kw)


def fteid(inst, itype, teid, ipv4):
    return g.IE_FTEID(instance=inst, ipv4_present=1, InterfaceType=itype, GRE_Key=teid, ipv4=ipv4)


def cause(v):
    return g.IE_Cause(Cause=v)


def ebi(v, inst=0):
    return g.IE_EPSBearerID(instance=inst, EBI=v)


def qos(qci, pl, mbr=0, gbr=0):
    return g.IE_Bearer_QoS(PCI=1, PriorityLevel=pl, PVI=0, QCI=qci,
                           MaxBitRateForUplink=mbr, MaxBitRateForDownlink=mbr,
                           GuaranteedBitRateForUplink=gbr, GuaranteedBitRateForDownlink=gbr)


def bc(ies, inst=0):
    return g.IE_BearerContext(instance=inst, IE_list=ies)


out("echo_request", hdr(1, seq=0x1234) / g.GTPV2EchoRequest(IE_list=[g.IE_RecoveryRestart(restart_counter=5)]))
out("echo_response", hdr(2, seq=0x1234) / g.GTPV2EchoResponse(IE_list=[g.IE_RecoveryRestart(restart_counter=9)]))
out("version_not_supported_indication", hdr(3, seq=0x1234))

csr_ies = [
    g.IE_IMSI(IMSI="001010123456789"),
    g.IE_MSISDN(digits="46702123456"),
    g.IE_MEI(MEI="3516920900000001"),
    g.IE_ULI(TAI_Present=1, ECGI_Present=1,
             TAI=g.ULI_TAI(MCC="001", MNC="01", TAC=0x0102),
             ECGI=g.ULI_ECGI(MCC="001", MNC="01", ECI=0x1234567)),
    g.IE_ServingNetwork(MCC="001", MNC="01"),
    g.IE_RAT(RAT_type=6),
    g.IE_Indication(length=2, DAF=1, PS=1),
    fteid(0, 10, 0x11111111, "10.0.0.1"),
    fteid(1, 7, 0, "10.0.0.3"),
    g.IE_APN(APN="internet"),
    g.IE_SelectionMode(SelectionMode=0),
    g.IE_PDN_type(PDN_type=1),
    g.IE_PAA(PDN_type=1, ipv4="0.0.0.0"),
    g.IE_AMBR(AMBR_Uplink=10000, AMBR_Downlink=20000),
    bc([ebi(5), qos(9, 11)]),
]
out("create_session_request", hdr(32, 0, 0x2345) / g.GTPV2CreateSessionRequest(IE_list=csr_ies))
out("create_session_request_priority",
    hdr(32, 0, 0x2346, MP=1, msg_priority=3) / g.GTPV2CreateSessionRequest(IE_list=csr_ies))

csresp = hdr(33, 0x11111111, 0x2345) / g.GTPV2CreateSessionResponse(IE_list=[
    cause(16),
    fteid(1, 11, 0x05090001, "10.0.0.2"),
    g.IE_PAA(PDN_type=1, ipv4="10.45.0.7"),
    g.IE_AMBR(AMBR_Uplink=10000, AMBR_Downlink=20000),
    bc([ebi(5), cause(16), fteid(0, 1, 0x05090002, "10.0.0.2"), g.IE_ChargingID(ChargingID=0x0509)]),
])
out("create_session_response", csresp)
out("create_session_response_refused", hdr(33, 0x11111111, 0x2347)
    / g.GTPV2CreateSessionResponse(IE_list=[cause(84)]))

out("modify_bearer_request", hdr(34, 0x05090001, 0x10) / g.GTPV2ModifyBearerRequest(IE_list=[
    bc([ebi(5), fteid(0, 0, 0x22222222, "10.0.1.1")]),
]))
out("modify_bearer_response", hdr(35, 0x11111111, 0x10) / g.GTPV2ModifyBearerResponse(IE_list=[
    cause(16), bc([ebi(5), cause(16)]),
]))
out("delete_session_request", hdr(36, 0x05090001, 0x11) / g.GTPV2DeleteSessionRequest(IE_list=[
    ebi(5), g.IE_Indication(length=2, OI=1),
]))
out("delete_session_response", hdr(37, 0x11111111, 0x11) / g.GTPV2DeleteSessionResponse(IE_list=[
    cause(16),
]))

cbr = hdr(95, 0x11111111, 0x12) / g.GTPV2CreateBearerRequest(IE_list=[
    ebi(5), bc([ebi(0), qos(1, 2, 128, 64), fteid(0, 1, 0x05090003, "10.0.0.2")]),
])
out("create_bearer_request", cbr)
out("create_bearer_response", hdr(96, 0x05090001, 0x12) / g.GTPV2CreateBearerResponse(IE_list=[
    cause(16), bc([ebi(6), cause(16), fteid(0, 0, 0x22222223, "10.0.1.1")]),
]))
out("update_bearer_request", hdr(97, 0x11111111, 0x13) / g.GTPV2UpdateBearerRequest(IE_list=[
    bc([ebi(6), qos(1, 2, 256, 128)]), g.IE_AMBR(AMBR_Uplink=30000, AMBR_Downlink=40000),
]))
out("update_bearer_response", hdr(98, 0x05090001, 0x13) / g.GTPV2UpdateBearerResponse(IE_list=[
    cause(16), bc([ebi(6), cause(16)]),
]))
out("delete_bearer_request", hdr(99, 0x11111111, 0x14) / g.GTPV2DeleteBearerRequest(IE_list=[
    ebi(6, inst=1),
]))
out("delete_bearer_response", hdr(100, 0x05090001, 0x14) / g.GTPV2DeleteBearerResponse(IE_list=[
    cause(16), bc([ebi(6), cause(16)]),
]))

# TS 29.274 section 5.5.1: a Create Bearer Request piggybacked on the Create Session Response.
first = hdr(33, 0x11111111, 0x2345, P=1) / csresp.payload
out("create_session_response_piggybacked", bytes(first) + bytes(cbr))
