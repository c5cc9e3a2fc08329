#!/usr/bin/env python3
"""Builds the GTPv1 known-answer vectors of tests/steering_gtp.rs with scapy (scapy.contrib.gtp).

Run from this directory: python3 make_vectors.py   (scapy 2.5+). Writes one <name>.hex per
message: the GTP header and body (the UDP payload) as lowercase hex on one line.
"""
from scapy.all import IP, UDP, raw
from scapy.contrib.gtp import (
    GTPHeader, GTP_U_Header, GTPEchoRequest, GTPEchoResponse, GTPCreatePDPContextRequest,
    GTPCreatePDPContextResponse, GTPUpdatePDPContextRequest, GTPDeletePDPContextRequest,
    GTPDeletePDPContextResponse, GTPErrorIndication, GTP_PDCP_PDU_ExtensionHeader,
    GTP_UDPPort_ExtensionHeader,
    IE_IMSI, IE_Recovery, IE_SelectionMode, IE_TEIDI, IE_TEICP, IE_NSAPI, IE_EndUserAddress,
    IE_AccessPointName, IE_GSNAddress, IE_MSInternationalNumber, IE_QoS, IE_Cause,
    IE_ReorderingRequired, IE_ChargingId, IE_Teardown,
)
from scapy.contrib import gtp_v2

def out(name, pkt):
    with open(name + ".hex", "w") as f:
        f.write(raw(pkt).hex() + "\n")

out("echo_request", GTPHeader(S=1, seq=1, teid=0) / GTPEchoRequest())
out("echo_response", GTPHeader(S=1, seq=1, teid=0) / GTPEchoResponse(IE_list=[IE_Recovery(restart_counter=7)]))
out("create_pdp_request", GTPHeader(S=1, seq=0x1234, teid=0) / GTPCreatePDPContextRequest(IE_list=[
    IE_IMSI(imsi="001010123456789"),
    IE_Recovery(restart_counter=3),
    IE_SelectionMode(SelectionMode=0xfc),
    IE_TEIDI(TEIDI=0x11111111),
    IE_TEICP(TEICI=0x22222222),
    IE_NSAPI(NSAPI=5),
    IE_EndUserAddress(length=2, PDPTypeNumber=0x21),
    IE_AccessPointName(APN="internet"),
    IE_GSNAddress(length=4, ipv4_address="127.0.0.2"),
    IE_GSNAddress(length=4, ipv4_address="127.0.0.2"),
    IE_MSInternationalNumber(length=7, digits="46702000000"),
    IE_QoS(length=4, allocation_retention_prioiry=2, delay_class=4, reliability_class=3, peak_troughput=9),
]))
out("create_pdp_response", GTPHeader(S=1, seq=0x1234, teid=0x22222222) / GTPCreatePDPContextResponse(IE_list=[
    IE_Cause(CauseValue=128),
    IE_ReorderingRequired(),
    IE_Recovery(restart_counter=1),
    IE_TEIDI(TEIDI=0x05090001),
    IE_TEICP(TEICI=0x05090002),
    IE_ChargingId(Charging_id=0x05090002),
    IE_EndUserAddress(length=6, PDPTypeNumber=0x21, PDPAddress="10.45.0.7"),
    IE_GSNAddress(length=4, ipv4_address="127.0.0.1"),
    IE_GSNAddress(length=4, ipv4_address="127.0.0.1"),
]))
out("update_pdp_request", GTPHeader(S=1, seq=9, teid=0x05090002) / GTPUpdatePDPContextRequest(IE_list=[
    IE_Recovery(restart_counter=3),
    IE_TEIDI(TEIDI=0x11111112),
    IE_NSAPI(NSAPI=5),
    IE_GSNAddress(length=4, ipv4_address="127.0.0.2"),
    IE_GSNAddress(length=4, ipv4_address="127.0.0.2"),
]))
out("delete_pdp_request", GTPHeader(S=1, seq=10, teid=0x05090002) / GTPDeletePDPContextRequest(IE_list=[
    IE_Teardown(indicator=1),
    IE_NSAPI(NSAPI=5),
]))
out("delete_pdp_response", GTPHeader(S=1, seq=10, teid=0x22222222) / GTPDeletePDPContextResponse(IE_list=[
    IE_Cause(CauseValue=128),
]))
out("error_indication", GTP_U_Header(S=1, seq=0, teid=0, gtp_type=26) / GTPErrorIndication(IE_list=[
    IE_TEIDI(TEIDI=0x0509ffff),
    IE_GSNAddress(length=4, ipv4_address="127.0.0.1"),
]))
inner = IP(src="10.45.0.7", dst="192.0.2.1") / UDP(sport=1000, dport=53) / b"hello"
out("g_pdu", GTP_U_Header(teid=0x05090001) / inner)
out("g_pdu_ext", GTP_U_Header(teid=0x05090001, gtp_type=255, E=1, S=1, seq=77, next_ex=0xc0)
    / GTP_PDCP_PDU_ExtensionHeader(pdcp_pdu=0x0102, next_ex=0) / inner)

# An Error Indication as the gateway sends it: the UDP Port extension header carries the source
# port of the G-PDU that named no context.
out("error_indication_udp_port", GTP_U_Header(S=1, seq=0, teid=0, gtp_type=26, E=1, next_ex=0x40)
    / GTP_UDPPort_ExtensionHeader(udp_port=2152, next_ex=0) / GTPErrorIndication(IE_list=[
    IE_TEIDI(TEIDI=0x0509ffff),
    IE_GSNAddress(length=4, ipv4_address="127.0.0.1"),
]))
# Version Not Supported: a GTPv1 header only (S set, TEID 0, sequence number 0).
out("version_not_supported", GTPHeader(S=1, seq=0, teid=0, gtp_type=3))
# GTPv2-C messages a GTPv1-only GGSN answers with Version Not Supported (scapy.contrib.gtp_v2).
out("gtpv2_echo_request", gtp_v2.GTPHeader(P=0, T=0, seq=0x1234, gtp_type=1)
    / gtp_v2.GTPV2EchoRequest(IE_list=[gtp_v2.IE_RecoveryRestart(ietype=3, length=1, restart_counter=5)]))
out("gtpv2_create_session_request", gtp_v2.GTPHeader(P=0, T=1, teid=0, seq=0x2345, gtp_type=32)
    / gtp_v2.GTPV2CreateSessionRequest(IE_list=[gtp_v2.IE_IMSI(ietype=1, length=8, IMSI="001010123456789")]))
