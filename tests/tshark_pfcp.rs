//! tshark's PFCP dissector as a second opinion on every PFCP message type this crate's codec
//! builds (TS 29.244): no malformed packet or error-level expert item, and the field values as set.
#![cfg(feature = "pcap")]

mod common;

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use telcp::pcap::PcapWriter;
use telcp::steering::gtp::Apn;
use telcp::steering::pfcp::{
    ApplyAction, Cause, FSeid, FTeid, Ie, IeType, Interface, Message, MessageType, NodeId,
    OuterHeaderCreation, PFCP_PORT, UeIpAddress,
};

const SMF: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const UPF: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const UE: Ipv4Addr = Ipv4Addr::new(10, 45, 0, 7);

fn g(ie_type: IeType, ies: Vec<Ie<'static>>) -> Ie<'static> {
    Ie::Grouped { ie_type, ies }
}

fn smf_node() -> Ie<'static> {
    Ie::NodeId(NodeId::Ipv4(SMF))
}

fn upf_node() -> Ie<'static> {
    Ie::NodeId(NodeId::Fqdn(Apn::from_name("upf1.example.org").unwrap()))
}

fn f_seid(seid: u64, a: Ipv4Addr) -> Ie<'static> {
    Ie::FSeid(FSeid {
        seid,
        ipv4: Some(a),
        ipv6: None,
    })
}

fn establishment() -> Message<'static> {
    let pdi = g(
        IeType::PDI,
        vec![
            Ie::SourceInterface(Interface::ACCESS),
            Ie::FTeid(FTeid::Choose {
                ipv4: true,
                ipv6: false,
                choose_id: Some(7),
            }),
            Ie::UeIpAddress(UeIpAddress {
                ipv4: Some(UE),
                ..UeIpAddress::default()
            }),
        ],
    );
    let far = g(
        IeType::CREATE_FAR,
        vec![
            Ie::FarId(2),
            Ie::ApplyAction(ApplyAction::new(ApplyAction::FORW as u8)),
            g(
                IeType::FORWARDING_PARAMETERS,
                vec![
                    Ie::DestinationInterface(Interface::ACCESS),
                    Ie::OuterHeaderCreation(OuterHeaderCreation::gtpu_ipv4(
                        0x0a0b_0c0d,
                        Ipv4Addr::new(198, 51, 100, 1),
                    )),
                ],
            ),
        ],
    );
    Message::new(
        MessageType::SESSION_ESTABLISHMENT_REQUEST,
        0,
        5,
        vec![
            smf_node(),
            f_seid(0x1111, SMF),
            g(
                IeType::CREATE_PDR,
                vec![
                    Ie::PdrId(1),
                    Ie::Precedence(255),
                    pdi,
                    Ie::FarId(2),
                    Ie::QerId(3),
                ],
            ),
            far,
            g(IeType::CREATE_QER, vec![Ie::QerId(3)]),
            g(IeType::CREATE_URR, vec![Ie::UrrId(4)]),
        ],
    )
}

/// A message and the tshark fields to check (besides `pfcp.msg_type` and `pfcp.seqno`).
type Case = (Message<'static>, Vec<(&'static str, String)>);

fn messages() -> Vec<Case> {
    let accepted = || Ie::Cause(Cause::REQUEST_ACCEPTED);
    let mut update = Message::new(
        MessageType::ASSOCIATION_UPDATE_REQUEST,
        0,
        3,
        vec![Ie::NodeId(NodeId::Ipv6(
            "2001:db8::20".parse::<Ipv6Addr>().unwrap(),
        ))],
    );
    update.header.priority = Some(5);
    vec![
        (
            // Section 8.2.65: seconds since 1900-01-01 UTC; 0xe4f01234 is 2021-09-18 07:22:28 UTC.
            Message::heartbeat_request(1, 0xe4f0_1234),
            vec![(
                "pfcp.recovery_time_stamp",
                "Sep 18, 2021 07:22:28.000000000 UTC".into(),
            )],
        ),
        (Message::heartbeat_response(1, 0xe4f0_1235), vec![]),
        (
            Message::new(
                MessageType::ASSOCIATION_SETUP_REQUEST,
                0,
                2,
                vec![smf_node(), Ie::RecoveryTimeStamp(0xe4f0_1234)],
            ),
            vec![("pfcp.node_id_ipv4", SMF.to_string())],
        ),
        (
            Message::new(
                MessageType::ASSOCIATION_SETUP_RESPONSE,
                0,
                2,
                vec![
                    upf_node(),
                    accepted(),
                    Ie::RecoveryTimeStamp(0xe4f0_1235),
                    Ie::Enterprise {
                        ie_type: IeType(0x8001),
                        enterprise_id: 32473,
                        value: Cow::Borrowed(&[1, 2]),
                    },
                ],
            ),
            vec![
                ("pfcp.node_id_fqdn", "upf1.example.org".into()),
                ("pfcp.cause", "1".into()),
                ("pfcp.enterprise_id", "32473".into()),
            ],
        ),
        (
            update,
            vec![
                ("pfcp.node_id_ipv6", "2001:db8::20".into()),
                ("pfcp.mp", "5".into()),
            ],
        ),
        (
            Message::new(
                MessageType::ASSOCIATION_UPDATE_RESPONSE,
                0,
                3,
                vec![upf_node(), accepted()],
            ),
            vec![("pfcp.cause", "1".into())],
        ),
        (
            Message::new(
                MessageType::ASSOCIATION_RELEASE_REQUEST,
                0,
                4,
                vec![smf_node()],
            ),
            vec![],
        ),
        (
            Message::new(
                MessageType::ASSOCIATION_RELEASE_RESPONSE,
                0,
                4,
                vec![upf_node(), accepted()],
            ),
            vec![],
        ),
        (Message::version_not_supported_response(9), vec![]),
        (
            establishment(),
            vec![
                // The header SEID (0, section 7.2.2.4.2), then the F-SEID's.
                ("pfcp.seid", "0x0000000000000000,0x0000000000001111".into()),
                ("pfcp.f_seid.ipv4", SMF.to_string()),
                ("pfcp.f_teid_flags.ch", "1".into()),
                ("pfcp.f_teid.choose_id", "07".into()),
                ("pfcp.pdr_id", "1".into()),
                ("pfcp.precedence", "255".into()),
                ("pfcp.source_interface", "0".into()),
                ("pfcp.ue_ip_addr_ipv4", UE.to_string()),
                ("pfcp.far_id", "2,2".into()),
                ("pfcp.qer_id", "3,3".into()),
                ("pfcp.urr_id", "4".into()),
                ("pfcp.apply_action.forw", "1".into()),
                ("pfcp.dst_interface", "0".into()),
                ("pfcp.outer_hdr_creation.teid", "0x0a0b0c0d".into()),
                ("pfcp.outer_hdr_creation.ipv4", "198.51.100.1".into()),
            ],
        ),
        (
            Message::new(
                MessageType::SESSION_ESTABLISHMENT_RESPONSE,
                0x1111,
                5,
                vec![
                    Ie::NodeId(NodeId::Ipv4(UPF)),
                    accepted(),
                    f_seid(0x0102_0304_0506_0708, UPF),
                    g(
                        IeType::CREATED_PDR,
                        vec![
                            Ie::PdrId(1),
                            Ie::FTeid(FTeid::Assigned {
                                teid: 0x0509_0001,
                                ipv4: Some(UPF),
                                ipv6: None,
                            }),
                        ],
                    ),
                ],
            ),
            vec![
                ("pfcp.seid", "0x0000000000001111,0x0102030405060708".into()),
                ("pfcp.f_teid.teid", "0x05090001".into()),
                ("pfcp.f_teid.ipv4_addr", UPF.to_string()),
            ],
        ),
        (
            Message::new(
                MessageType::SESSION_MODIFICATION_REQUEST,
                0x0102_0304_0506_0708,
                6,
                vec![
                    g(
                        IeType::UPDATE_FAR,
                        vec![
                            Ie::FarId(2),
                            Ie::ApplyAction(ApplyAction::new(
                                (ApplyAction::BUFF | ApplyAction::NOCP) as u8,
                            )),
                        ],
                    ),
                    g(IeType::REMOVE_PDR, vec![Ie::PdrId(2)]),
                ],
            ),
            vec![
                ("pfcp.seid", "0x0102030405060708".into()),
                ("pfcp.apply_action.buff", "1".into()),
                ("pfcp.apply_action.nocp", "1".into()),
                ("pfcp.pdr_id", "2".into()),
            ],
        ),
        (
            Message::new(
                MessageType::SESSION_MODIFICATION_RESPONSE,
                0x1111,
                6,
                vec![accepted()],
            ),
            vec![],
        ),
        (
            Message::new(
                MessageType::SESSION_DELETION_REQUEST,
                0x0102_0304_0506_0708,
                7,
                vec![],
            ),
            vec![],
        ),
        (
            Message::new(
                MessageType::SESSION_DELETION_RESPONSE,
                0x1111,
                7,
                vec![Ie::Cause(Cause::SESSION_CONTEXT_NOT_FOUND)],
            ),
            vec![("pfcp.cause", "65".into())],
        ),
        (
            Message::new(
                MessageType::SESSION_REPORT_REQUEST,
                0x1111,
                8,
                vec![
                    Ie::Raw {
                        ie_type: IeType(39),
                        value: Cow::Borrowed(&[0x01]),
                    },
                    g(IeType::DOWNLINK_DATA_REPORT, vec![Ie::PdrId(2)]),
                ],
            ),
            vec![("pfcp.pdr_id", "2".into())],
        ),
        (
            Message::new(
                MessageType::SESSION_REPORT_RESPONSE,
                0x0102_0304_0506_0708,
                8,
                vec![accepted()],
            ),
            vec![],
        ),
        // The error answers of TS 29.244 sections 7.6.2 and 7.6.3 (tests/conformance_pfcp.rs).
        (Message::version_not_supported_response(0x12_3456), vec![]),
        (
            Message::length_error_response(&[0x20, 5, 0, 12, 0, 0, 9, 0], upf_node()).unwrap(),
            vec![("pfcp.cause", "68".into())],
        ),
        (
            Message::length_error_response(
                &[0x21, 54, 0, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 10, 0],
                upf_node(),
            )
            .unwrap(),
            vec![("pfcp.cause", "68".into())],
        ),
    ]
}

#[test]
fn tshark_reads_every_pfcp_message_we_emit() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let msgs = messages();
    let cap = common::Capture::written("pfcp-tshark", "pfcp.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        for (i, (m, _)) in msgs.iter().enumerate() {
            let src = SocketAddr::from((SMF, PFCP_PORT));
            let dst = SocketAddr::from((UPF, PFCP_PORT));
            w.write_udp(
                Duration::from_millis(i as u64),
                src,
                dst,
                &m.to_vec().unwrap(),
            )
            .unwrap();
        }
        drop(w.into_inner());
    });

    // No error-level expert info and nothing malformed, in any frame.
    cap.assert_clean("frame");

    let mut fields: Vec<&str> = vec!["pfcp.msg_type", "pfcp.seqno"];
    for (_, checks) in &msgs {
        for (f, _) in checks {
            if !fields.contains(f) {
                fields.push(f);
            }
        }
    }
    let text = cap.fields("pfcp", &fields);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), msgs.len(), "{text}");
    for ((m, checks), line) in msgs.iter().zip(&lines) {
        let cols: Vec<&str> = line.split('|').collect();
        let col = |name: &str| cols[fields.iter().position(|f| *f == name).unwrap()];
        assert_eq!(
            col("pfcp.msg_type"),
            m.message_type().0.to_string(),
            "{line}"
        );
        assert_eq!(col("pfcp.seqno"), m.header.sequence.to_string(), "{line}");
        for (f, want) in checks {
            assert_eq!(col(f), want, "{f} in {line}\n{text}");
        }
    }
}
