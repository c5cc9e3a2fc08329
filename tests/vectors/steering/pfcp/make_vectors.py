#!/usr/bin/env python3
"""Builds the PFCP known-answer vectors with scapy.contrib.pfcp (TS 29.244).

Run from this directory: `python3 make_vectors.py`. Writes one NAME.hex per message (the PFCP
message as hex text, no IP/UDP). tests/steering_pfcp.rs parses each and asserts the field values
set here; keep the two in step.
"""
from scapy.contrib.pfcp import *  # noqa: F401,F403

UPF = "192.0.2.10"
SMF = "192.0.2.20"
RTS = 0xE4F01234


def node(hdr_seq, msg, ies, seid=None, mp=None):
    kw = dict(version=1, S=0, seq=hdr_seq)
    if seid is not None:
        kw.update(S=1, seid=seid)
    if mp is not None:
        kw.update(MP=1, priority=mp)
    return bytes(PFCP(**kw) / msg(IE_list=ies))


def create_pdr_uplink():
    return IE_CreatePDR(IE_list=[
        IE_PDR_Id(id=1),
        IE_Precedence(precedence=255),
        IE_PDI(IE_list=[
            IE_SourceInterface(interface=0),
            IE_FTEID(V4=1, CH=1, CHID=1, choose_id=7),
            IE_NetworkInstance(instance="internet"),
            IE_UE_IP_Address(V4=1, ipv4="10.45.0.7"),
        ]),
        IE_FAR_Id(id=1),
        IE_QER_Id(id=1),
    ])


def create_pdr_downlink():
    return IE_CreatePDR(IE_list=[
        IE_PDR_Id(id=2),
        IE_Precedence(precedence=200),
        IE_PDI(IE_list=[
            IE_SourceInterface(interface=1),
            IE_UE_IP_Address(V4=1, SD=1, ipv4="10.45.0.7"),
        ]),
        IE_FAR_Id(id=2),
    ])


VECTORS = {
    "heartbeat_request": node(1, PFCPHeartbeatRequest, [IE_RecoveryTimeStamp(timestamp=RTS)]),
    "heartbeat_response": node(1, PFCPHeartbeatResponse, [IE_RecoveryTimeStamp(timestamp=RTS + 1)]),
    "association_setup_request": node(2, PFCPAssociationSetupRequest, [
        IE_NodeId(id_type=0, ipv4=SMF),
        IE_RecoveryTimeStamp(timestamp=RTS),
    ]),
    "association_setup_response": node(2, PFCPAssociationSetupResponse, [
        IE_NodeId(id_type=2, id="upf1.example.org"),
        IE_Cause(cause=1),
        IE_RecoveryTimeStamp(timestamp=RTS + 1),
        IE_EnterpriseSpecific(ietype=0x8001, enterprise_id=18681, data=b"\x01\x02"),
    ]),
    # TEID ranges for CP-allocated F-TEIDs (TS 29.244 section 8.2.82): TEIDRI 6 / range 0b101010
    # (VID 5, backup VID 2 of a 3+3-bit layout) at an IPv4 address; TEIDRI 3 / range 5 at an IPv6
    # address for Network Instance "internet" and Source Interface Core.
    "association_setup_response_teidri": node(2, PFCPAssociationSetupResponse, [
        IE_NodeId(id_type=0, ipv4=UPF),
        IE_Cause(cause=1),
        IE_RecoveryTimeStamp(timestamp=RTS + 1),
        IE_UserPlaneIPResourceInformation(V4=1, TEIDRI=6, teid_range=0b101010, ipv4=UPF),
        IE_UserPlaneIPResourceInformation(V6=1, TEIDRI=3, teid_range=5, ipv6="2001:db8::10",
                                          ASSONI=1, network_instance="internet",
                                          ASSOSI=1, interface=1),
    ]),
    "association_update_request": node(3, PFCPAssociationUpdateRequest, [
        IE_NodeId(id_type=1, ipv6="2001:db8::20"),
    ], mp=5),
    # The UP function's update of its TEID ranges after the processor set changed (TS 29.244
    # sections 6.2.7.2 and 7.4.4.3): Node ID and the complete list of ranges, here (VID 1,
    # backup VID 2) and (VID 2, backup VID 1) of a 3+3-bit layout.
    "association_update_request_teidri": node(9, PFCPAssociationUpdateRequest, [
        IE_NodeId(id_type=0, ipv4=UPF),
        IE_UserPlaneIPResourceInformation(V4=1, TEIDRI=6, teid_range=0b001010, ipv4=UPF),
        IE_UserPlaneIPResourceInformation(V4=1, TEIDRI=6, teid_range=0b010001, ipv4=UPF),
    ]),
    "association_update_response": node(3, PFCPAssociationUpdateResponse, [
        IE_NodeId(id_type=0, ipv4=UPF),
        IE_Cause(cause=1),
    ]),
    "association_release_request": node(4, PFCPAssociationReleaseRequest, [
        IE_NodeId(id_type=0, ipv4=SMF),
    ]),
    "association_release_response": node(4, PFCPAssociationReleaseResponse, [
        IE_NodeId(id_type=0, ipv4=UPF),
        IE_Cause(cause=1),
    ]),
    "session_establishment_request": node(5, PFCPSessionEstablishmentRequest, [
        IE_NodeId(id_type=0, ipv4=SMF),
        IE_FSEID(v4=1, seid=0x1111, ipv4=SMF),
        create_pdr_uplink(),
        create_pdr_downlink(),
        IE_CreateFAR(IE_list=[IE_FAR_Id(id=1), IE_ApplyAction(FORW=1), IE_ForwardingParameters(
            IE_list=[IE_DestinationInterface(interface=1)])]),
        IE_CreateFAR(IE_list=[IE_FAR_Id(id=2), IE_ApplyAction(FORW=1), IE_ForwardingParameters(
            IE_list=[IE_DestinationInterface(interface=0),
                     IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=0x0A0B0C0D, ipv4="198.51.100.1")])]),
        IE_CreateQER(IE_list=[IE_QER_Id(id=1), IE_GateStatus()]),
        IE_CreateURR(IE_list=[IE_URR_Id(id=1), IE_MeasurementMethod(VOLUM=1)]),
    ], seid=0),
    "session_establishment_response": node(5, PFCPSessionEstablishmentResponse, [
        IE_NodeId(id_type=0, ipv4=UPF),
        IE_Cause(cause=1),
        IE_FSEID(v4=1, seid=0x0102030405060708, ipv4=UPF),
        IE_CreatedPDR(IE_list=[IE_PDR_Id(id=1), IE_FTEID(V4=1, TEID=0x05090001, ipv4=UPF)]),
    ], seid=0x1111),
    "session_modification_request": node(6, PFCPSessionModificationRequest, [
        IE_UpdateFAR(IE_list=[IE_FAR_Id(id=2), IE_ApplyAction(BUFF=1, NOCP=1)]),
        IE_RemovePDR(IE_list=[IE_PDR_Id(id=2)]),
    ], seid=0x0102030405060708),
    "session_modification_response": node(6, PFCPSessionModificationResponse, [
        IE_Cause(cause=1),
    ], seid=0x1111),
    "session_deletion_request": node(7, PFCPSessionDeletionRequest, [], seid=0x0102030405060708),
    "session_deletion_response": node(7, PFCPSessionDeletionResponse, [
        IE_Cause(cause=65),
    ], seid=0x1111),
    "session_report_request": node(8, PFCPSessionReportRequest, [
        IE_ReportType(DLDR=1),
        IE_DownlinkDataReport(IE_list=[IE_PDR_Id(id=2)]),
    ], seid=0x1111),
    "session_report_response": node(8, PFCPSessionReportResponse, [
        IE_Cause(cause=1),
    ], seid=0x0102030405060708),
}

if __name__ == "__main__":
    for name, b in VECTORS.items():
        with open(name + ".hex", "w") as f:
            f.write(b.hex() + "\n")
        print(name, len(b))
