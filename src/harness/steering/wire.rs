//! Well-formed messages the steering harnesses feed: what a line interface passes to the switch
//! processor, and GTPv2-C and PFCP set-ups and session requests for a processor.

use super::{GW, ONE, PEER};
use crate::steering::VidLayout;
use crate::steering::fabric::FabricMessage;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// What a line interface passes on, picked by `b`: a Create PDP Context Request, an Echo
/// Request, a peer's Error Indication, a GTPv2-C Echo Request or Create Session Request, a PFCP
/// Heartbeat Request, Association Setup Request or Session Establishment Request (of one of two
/// CP functions, so some come without an association).
pub(super) fn switch_gtp_packet(b: u8) -> Option<Vec<u8>> {
    use crate::steering::gtp::{Message, MessageType};
    let (port, data) = match b % 8 {
        0 | 1 => (
            2123,
            Message::new(
                MessageType(if b % 8 == 0 { 16 } else { 1 }),
                0,
                u16::from(b),
                vec![],
            )
            .to_vec()
            .ok(),
        ),
        2 => (
            2123,
            Message::error_indication(u32::from(b), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), None)
                .to_vec()
                .ok(),
        ),
        3 => (
            2123,
            Some(vec![0x40, 0x01, 0x00, 0x04, 0x00, 0x00, b, 0x00]),
        ),
        4 => (2123, Some(create_session_request(b))),
        n => (8805, Some(pfcp_node_message(n, b))),
    };
    data.map(|g| {
        FabricMessage::Packet {
            from: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), port),
            to: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), port),
            data: Cow::Owned(g),
        }
        .to_vec()
    })
}

/// A path management answer or request from peer 192.0.2.1 as a line interface passes it on:
/// an Echo Response (GTPv1-C, GTPv2-C) or Heartbeat Response (PFCP) with a sequence number among
/// the first four the switch processor uses and a restart value from `b`, a GTP-U Echo Response,
/// or a Create PDP Context Request carrying a Recovery; or a processor's `PeerRecovery` for it.
pub(super) fn switch_path_packet(a: u8, b: u8) -> Option<Vec<u8>> {
    use crate::steering::gtp::{Ie, Message, MessageType};
    use crate::steering::{gtpv2, pfcp};
    let (seq, value) = (b % 4, b >> 2);
    if a % 6 == 5 {
        // A restart value a processor saw in a steered message.
        use crate::steering::fabric::SessionProtocol;
        let protocol = match b % 3 {
            0 => SessionProtocol::Gtpv1,
            1 => SessionProtocol::Gtpv2,
            _ => SessionProtocol::Pfcp,
        };
        return Some(
            FabricMessage::PeerRecovery {
                protocol,
                peer: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                recovery: u32::from(value),
            }
            .to_vec(),
        );
    }
    let (port, data) = match a % 6 {
        4 => (
            2152,
            Message::new(
                MessageType::ECHO_RESPONSE,
                0,
                u16::from(seq),
                vec![Ie::Recovery(value)],
            )
            .to_vec()
            .ok(),
        ),
        0 => (
            2123,
            Message::new(
                MessageType::ECHO_RESPONSE,
                0,
                u16::from(seq),
                vec![Ie::Recovery(value)],
            )
            .to_vec()
            .ok(),
        ),
        1 => (
            2123,
            gtpv2::Message::echo_response(u32::from(seq), value)
                .to_vec()
                .ok(),
        ),
        2 => (
            8805,
            pfcp::Message::heartbeat_response(u32::from(seq), u32::from(value))
                .to_vec()
                .ok(),
        ),
        _ => (
            2123,
            Message::new(
                MessageType::CREATE_PDP_CONTEXT_REQUEST,
                0,
                u16::from(b),
                vec![Ie::Recovery(value)],
            )
            .to_vec()
            .ok(),
        ),
    };
    data.map(|g| {
        FabricMessage::Packet {
            from: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), port),
            to: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), port),
            data: Cow::Owned(g),
        }
        .to_vec()
    })
}

/// A Create Session Request (TEID 0) of subscriber `b % 4` with the IEs TS 29.274 table
/// 7.2.1-1 makes mandatory.
fn create_session_request(b: u8) -> Vec<u8> {
    use crate::steering::gtpv2::{
        Apn, Fteid, Ie, IeType, IeValue, InterfaceType, Message, MessageType, RatType, Tbcd,
    };
    let fteid = |t, teid| Fteid {
        interface_type: t,
        teid,
        ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ipv6: None,
    };
    let imsi = format!("00101000000000{}", b % 4);
    let ies = vec![
        Ie::new(IeValue::Imsi(
            Tbcd::from_digits(&imsi).unwrap_or(Tbcd(Cow::Borrowed(&[0x10]))),
        )),
        Ie::new(IeValue::RatType(RatType::EUTRAN)),
        Ie::new(IeValue::Fteid(fteid(
            InterfaceType::S11_MME_GTP_C,
            u32::from(b) + 1,
        ))),
        Ie::new(IeValue::Apn(Apn(Cow::Borrowed(b"\x08internet")))),
        Ie::new(IeValue::Grouped {
            ie_type: IeType::BEARER_CONTEXT,
            ies: vec![
                Ie::new(IeValue::Ebi(5 + b % 2)),
                Ie::new(IeValue::Fteid(fteid(InterfaceType::S1U_ENODEB_GTP_U, 7))),
            ],
        }),
    ];
    let m = Message::new(
        MessageType::CREATE_SESSION_REQUEST,
        Some(0),
        u32::from(b),
        ies,
    );
    m.to_vec().unwrap_or_default()
}

/// A PFCP node message (`n`: 5 Heartbeat Request, 6 Association Setup Request, else a Session
/// Establishment Request with CHOOSE) from CP function `b % 2`.
fn pfcp_node_message(n: u8, b: u8) -> Vec<u8> {
    use crate::steering::pfcp::{
        FSeid, FTeid, Ie, IeType, Interface, Message, MessageType, NodeId,
    };
    let cp = Ipv4Addr::new(192, 0, 2, 1 + b % 2);
    let m = match n {
        5 => Message::heartbeat_request(u32::from(b), 1),
        6 => Message::new(
            MessageType::ASSOCIATION_SETUP_REQUEST,
            0,
            u32::from(b),
            vec![Ie::NodeId(NodeId::Ipv4(cp)), Ie::RecoveryTimeStamp(1)],
        ),
        _ => {
            let pdi = Ie::Grouped {
                ie_type: IeType::PDI,
                ies: vec![
                    Ie::SourceInterface(Interface::ACCESS),
                    Ie::FTeid(FTeid::Choose {
                        ipv4: true,
                        ipv6: false,
                        choose_id: Some(b),
                    }),
                ],
            };
            let ies = vec![
                Ie::NodeId(NodeId::Ipv4(cp)),
                Ie::FSeid(FSeid {
                    seid: u64::from(b % 4) + 1,
                    ipv4: Some(cp),
                    ipv6: None,
                }),
                Ie::Grouped {
                    ie_type: IeType::CREATE_PDR,
                    ies: vec![Ie::PdrId(1), pdi],
                },
                Ie::Grouped {
                    ie_type: IeType::CREATE_FAR,
                    ies: vec![Ie::FarId(1)],
                },
            ];
            Message::new(
                MessageType::SESSION_ESTABLISHMENT_REQUEST,
                0,
                u32::from(b),
                ies,
            )
        }
    };
    m.to_vec().unwrap_or_default()
}

/// The gateway address of port kind `k`: GTP-C (0), PFCP (1), GTP-U (2).
pub(super) fn gw_port(k: u8) -> SocketAddr {
    SocketAddr::new(GW.ip(), [2123, 8805, 2152][usize::from(k % 3)])
}

/// A well-formed message for the processor `p`, picked by `b`, as (peer, gateway, bytes): for a
/// set-up, a Create Session Request or a PFCP Session Establishment Request; else a Modify
/// Bearer or Delete Session Request, or a PFCP Session Modification or Deletion Request, naming
/// the lowest TEID (or its SEID) of `p`'s sessions (or a made-up one).
pub(super) fn well_formed(
    p: &crate::steering::processor::Processor,
    setup: bool,
    b: u8,
) -> (SocketAddr, SocketAddr, Vec<u8>) {
    use crate::steering::{gtpv2, pfcp};
    let pfcp_end = |a: SocketAddr| SocketAddr::new(a.ip(), 8805);
    if setup {
        return if b % 2 == 0 {
            (PEER, GW, create_session_request(b))
        } else {
            (pfcp_end(PEER), pfcp_end(GW), pfcp_node_message(7, b))
        };
    }
    let layout = VidLayout::default();
    let teid = p
        .session_teids()
        .min()
        .unwrap_or_else(|| layout.compose(p.vid().unwrap_or(ONE), None, 1).unwrap_or(1));
    let seids = layout.seid_layout();
    let seid = layout
        .primary(teid)
        .and_then(|v| {
            seids
                .compose64(v, layout.backup(teid), u64::from(layout.local(teid)))
                .ok()
        })
        .unwrap_or(1);
    let seq = u32::from(b);
    match b % 4 {
        0 | 1 => {
            let t = if b % 4 == 0 {
                gtpv2::MessageType::MODIFY_BEARER_REQUEST
            } else {
                gtpv2::MessageType::DELETE_SESSION_REQUEST
            };
            // Some carry a Recovery (TS 29.274 section 7.2.7), forwarded to the switch processor.
            let ies = if b & 0x40 != 0 {
                vec![gtpv2::Ie::new(gtpv2::IeValue::Recovery(b >> 4))]
            } else {
                vec![]
            };
            let m = gtpv2::Message::new(t, Some(teid), seq, ies);
            (PEER, GW, m.to_vec().unwrap_or_default())
        }
        n => {
            let t = if n == 2 {
                pfcp::MessageType::SESSION_MODIFICATION_REQUEST
            } else {
                pfcp::MessageType::SESSION_DELETION_REQUEST
            };
            let m = pfcp::Message::new(t, seid, seq, vec![]);
            (pfcp_end(PEER), pfcp_end(GW), m.to_vec().unwrap_or_default())
        }
    }
}
