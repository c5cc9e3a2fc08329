//! Known answers from tshark: for every header field and IE the GTPv1 (TS 29.060, TS 29.281),
//! GTPv2-C (TS 29.274) and PFCP (TS 29.244) encoders emit, the value tshark's dissectors decode
//! equals the value put in. A second, independent reading of the wire layouts (bit positions,
//! byte order, nibble order, units, epochs), not just a check that tshark finds no error.
//! Skips, saying so, when tshark is absent.
#![cfg(feature = "pcap")]

mod common;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use telcp::pcap::PcapWriter;

/// One datagram, the UDP port it is sent to (and from), and the tshark fields to check with the
/// values they must show (several occurrences in one packet are joined by `,`).
struct Case {
    name: String,
    bytes: Vec<u8>,
    port: u16,
    checks: Vec<(&'static str, String)>,
}

fn case(
    name: impl Into<String>,
    bytes: Vec<u8>,
    port: u16,
    checks: &[(&'static str, &str)],
) -> Case {
    Case {
        name: name.into(),
        bytes,
        port,
        checks: checks.iter().map(|(f, v)| (*f, v.to_string())).collect(),
    }
}

/// Writes the cases as one capture, checks that tshark reports nothing malformed and no
/// error-level expert item, then compares every listed field of every packet.
fn check(tag: &str, cases: &[Case]) {
    let cap = common::Capture::written(tag, "values.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        for (i, c) in cases.iter().enumerate() {
            let src = SocketAddr::from(([192, 0, 2, 2], c.port));
            let dst = SocketAddr::from(([192, 0, 2, 1], c.port));
            w.write_udp(Duration::from_millis(i as u64), src, dst, &c.bytes)
                .unwrap();
        }
        drop(w.into_inner());
    });
    cap.assert_clean("frame");
    let mut fields: Vec<&str> = vec!["frame.number"];
    for c in cases {
        for (f, _) in &c.checks {
            if !fields.contains(f) {
                fields.push(f);
            }
        }
    }
    let text = cap.fields("frame", &fields);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), cases.len(), "{text}");
    let mut failures = Vec::new();
    for (c, line) in cases.iter().zip(&lines) {
        let cols: Vec<&str> = line.split('|').collect();
        for (f, want) in &c.checks {
            let got = cols[fields.iter().position(|x| x == f).unwrap()];
            if got != want {
                failures.push(format!("{}: {f} = {got:?}, want {want:?}", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn skip() -> bool {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return true;
    }
    false
}

// ------------------------------------------------------------------------------------ GTPv2-C

mod v2 {
    use super::*;
    use telcp::steering::gtpv2::{
        Ambr, Apn, BearerQos, Cause, CauseValue, Ecgi, Fteid, Ie, IeType, IeValue, InterfaceType,
        Message, MessageType, OffendingIe, Paa, PlmnId, RatType, Tai, Tbcd, Uli,
    };

    pub fn ie(v: IeValue<'static>) -> Ie<'static> {
        Ie::new(v)
    }

    pub fn bearer(ies: Vec<Ie<'static>>) -> Ie<'static> {
        ie(IeValue::Grouped {
            ie_type: IeType::BEARER_CONTEXT,
            ies,
        })
    }

    pub fn fteid(
        i: u8,
        t: InterfaceType,
        teid: u32,
        v4: Option<Ipv4Addr>,
        v6: Option<Ipv6Addr>,
    ) -> Ie<'static> {
        Ie::with_instance(
            i,
            IeValue::Fteid(Fteid {
                interface_type: t,
                teid,
                ipv4: v4,
                ipv6: v6,
            }),
        )
    }

    pub fn cases() -> Vec<Case> {
        let mme = Ipv4Addr::new(192, 0, 2, 30);
        let sgw = Ipv4Addr::new(192, 0, 2, 40);
        let pgw6: Ipv6Addr = "2001:db8::5".parse().unwrap();
        let enb = Ipv4Addr::new(198, 51, 100, 9);
        let mut out = Vec::new();

        // Echo Request: T = 0 (section 5.5.1), a 24-bit sequence number using all 24 bits.
        let echo = Message::echo_request(0xab_cdef, 0x7e);
        out.push(case(
            "echo request",
            echo.to_vec().unwrap(),
            2123,
            &[
                ("gtpv2.message_type", "1"),
                ("gtpv2.t", "0"),
                ("gtpv2.p", "0"),
                ("gtpv2.mp", "0"),
                ("gtpv2.seq", "0xabcdef"),
                ("gtpv2.msg_length", "9"),
                ("gtpv2.rec", "126"),
            ],
        ));

        // Create Session Request, MP = 1 with priority 9 (section 5.4).
        let tai = Tai {
            plmn: PlmnId::new("001", "01").unwrap(),
            tac: 0x1234,
        };
        let ecgi = Ecgi {
            plmn: PlmnId::new("001", "01").unwrap(),
            eci: 0x0abc_def1,
        };
        let qos = BearerQos {
            arp: 0x40 | (9 << 2) | 0x01,
            qci: 9,
            mbr_uplink: 0x01_0203_0405,
            mbr_downlink: 100_000,
            gbr_uplink: 0,
            gbr_downlink: MAX_40,
        };
        let mut csr = Message::new(
            MessageType::CREATE_SESSION_REQUEST,
            Some(0),
            0x00_0102,
            vec![
                ie(IeValue::Imsi(Tbcd::from_digits("262019876543210").unwrap())),
                ie(IeValue::Msisdn(Tbcd::from_digits("4915112345678").unwrap())),
                ie(IeValue::Uli(Uli::eutran(tai, ecgi))),
                ie(IeValue::ServingNetwork(PlmnId::new("310", "260").unwrap())),
                ie(IeValue::RatType(RatType::EUTRAN)),
                fteid(
                    0,
                    InterfaceType::S11_MME_GTP_C,
                    0x1111_2222,
                    Some(mme),
                    None,
                ),
                fteid(1, InterfaceType::S5S8_PGW_GTP_C, 0, None, Some(pgw6)),
                ie(IeValue::Apn(
                    Apn::from_name("internet.mnc001.mcc001.gprs").unwrap(),
                )),
                ie(IeValue::SelectionMode(0x01)),
                ie(IeValue::PdnType(3)),
                ie(IeValue::Paa(Paa::Ipv4(Ipv4Addr::UNSPECIFIED))),
                ie(IeValue::Ambr(Ambr {
                    uplink: 50_000,
                    downlink: 150_000,
                })),
                bearer(vec![ie(IeValue::Ebi(5)), ie(IeValue::BearerQos(qos))]),
                ie(IeValue::Recovery(3)),
            ],
        );
        csr.header.priority = Some(9);
        out.push(case(
            "create session request",
            csr.to_vec().unwrap(),
            2123,
            &[
                ("gtpv2.message_type", "32"),
                ("gtpv2.t", "1"),
                ("gtpv2.mp", "1,0x09"),
                ("gtpv2.teid", "0x00000000"),
                ("gtpv2.seq", "0x000102"),
                ("e212.imsi", "262019876543210"),
                ("e164.msisdn", "4915112345678"),
                ("gtpv2.uli_tai_flg", "1"),
                ("gtpv2.uli_ecgi_flg", "1"),
                ("gtpv2.uli_cgi_flg", "0"),
                ("e212.tai.mcc", "1"),
                ("e212.tai.mnc", "1"),
                ("gtpv2.tai_tac", "0x1234"),
                ("e212.ecgi.mcc", "1"),
                ("gtpv2.ecgi_eci", "180150001"),
                ("e212.mcc", "262,310"),
                ("e212.mnc", "1,260"),
                ("gtpv2.rat_type", "6"),
                ("gtpv2.f_teid_v4", "1,0"),
                ("gtpv2.f_teid_v6", "0,1"),
                ("gtpv2.f_teid_interface_type", "10,7"),
                ("gtpv2.f_teid_gre_key", "0x11112222,0x00000000"),
                ("gtpv2.f_teid_ipv4", "192.0.2.30"),
                ("gtpv2.f_teid_ipv6", "2001:db8::5"),
                ("gtpv2.instance", "0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0"),
                ("gtpv2.apn", "internet.mnc001.mcc001.gprs"),
                ("gtpv2.selec_mode", "1"),
                ("gtpv2.pdn_type", "3,1"),
                ("gtpv2.pdn_addr_and_prefix.ipv4", "0.0.0.0"),
                ("gtpv2.ambr_up", "50000"),
                ("gtpv2.ambr_down", "150000"),
                ("gtpv2.ebi", "5"),
                ("gtpv2.bearer_qos_pci", "1"),
                ("gtpv2.bearer_qos_pl", "9"),
                ("gtpv2.bearer_qos_pvi", "1"),
                ("gtpv2.bearer_qos_label_qci", "9"),
                ("gtpv2.bearer_qos_mbr_up", "4328719365"),
                ("gtpv2.bearer_qos_mbr_down", "100000"),
                ("gtpv2.bearer_qos_gbr_up", "0"),
                ("gtpv2.bearer_qos_gbr_down", "1099511627775"),
                ("gtpv2.rec", "3"),
            ],
        ));

        // Create Session Response (P = 1) with a Create Bearer Request piggybacked (section
        // 5.5.1); the PAA of PDN type IPv4v6 (section 8.14).
        let mut rsp = Message::new(
            MessageType::CREATE_SESSION_RESPONSE,
            Some(0x1111_2222),
            0x00_0102,
            vec![
                ie(IeValue::Cause(Cause::new(CauseValue::REQUEST_ACCEPTED))),
                fteid(
                    1,
                    InterfaceType::S11S4_SGW_GTP_C,
                    0x0509_0001,
                    Some(sgw),
                    None,
                ),
                ie(IeValue::Paa(Paa::Ipv4v6 {
                    prefix_len: 64,
                    ipv6: "2001:db8:1:2::".parse().unwrap(),
                    ipv4: Ipv4Addr::new(10, 45, 0, 7),
                })),
                bearer(vec![
                    ie(IeValue::Ebi(5)),
                    ie(IeValue::Cause(Cause::new(CauseValue::REQUEST_ACCEPTED))),
                    fteid(
                        0,
                        InterfaceType::S1U_SGW_GTP_U,
                        0x0509_0002,
                        Some(sgw),
                        None,
                    ),
                ]),
            ],
        );
        rsp.piggybacked = Some(Box::new(Message::new(
            MessageType::CREATE_BEARER_REQUEST,
            Some(0x1111_2222),
            0x80_0001,
            vec![
                ie(IeValue::Ebi(5)),
                bearer(vec![
                    ie(IeValue::Ebi(0)),
                    fteid(
                        0,
                        InterfaceType::S1U_SGW_GTP_U,
                        0x0509_0003,
                        Some(sgw),
                        None,
                    ),
                ]),
            ],
        )));
        let bytes = rsp.to_vec().unwrap();
        let pig = rsp.piggybacked.as_ref().unwrap().to_vec().unwrap().len();
        // Each Message Length counts the octets after its own first four (section 5.5.1): the
        // first message's stops where the piggybacked one starts.
        let lengths = format!("{},{}", bytes.len() - pig - 4, pig - 4);
        out.push(case(
            "create session response + create bearer request",
            bytes,
            2123,
            &[
                ("gtpv2.message_type", "33,95"),
                ("gtpv2.msg_length", &lengths),
                ("gtpv2.p", "1,0"),
                ("gtpv2.t", "1,1"),
                ("gtpv2.seq", "0x000102,0x800001"),
                ("gtpv2.cause", "16,16"),
                ("gtpv2.pdn_ipv6_len", "64"),
                ("gtpv2.pdn_addr_and_prefix.ipv6", "2001:db8:1:2::"),
                ("gtpv2.pdn_addr_and_prefix.ipv4", "10.45.0.7"),
                ("gtpv2.f_teid_interface_type", "11,1,1"),
                ("gtpv2.f_teid_gre_key", "0x05090001,0x05090002,0x05090003"),
                ("gtpv2.ebi", "5,5,0"),
            ],
        ));

        // A Cause naming an offending IE, PCE and CS set, BCE clear (section 8.4).
        let cause = Cause {
            value: CauseValue::MANDATORY_IE_MISSING,
            flags: 0x05,
            offending: Some(OffendingIe {
                ie_type: IeType::F_TEID,
                length: 0,
                instance: 1,
            }),
        };
        let dsr = Message::new(
            MessageType::DELETE_SESSION_RESPONSE,
            Some(0x1111_2222),
            7,
            vec![ie(IeValue::Cause(cause))],
        );
        out.push(case(
            "delete session response, offending IE",
            dsr.to_vec().unwrap(),
            2123,
            &[
                ("gtpv2.message_type", "37"),
                ("gtpv2.cause", "70"),
                ("gtpv2.cs", "1"),
                ("gtpv2.bce", "0"),
                ("gtpv2.pce", "1"),
                ("gtpv2.cause_off_ie_t", "87"),
            ],
        ));

        // Modify Bearer Request, PAA of PDN type IPv6 in another message.
        let mbr = Message::new(
            MessageType::MODIFY_BEARER_REQUEST,
            Some(0x0509_0001),
            9,
            vec![
                bearer(vec![
                    ie(IeValue::Ebi(6)),
                    fteid(
                        0,
                        InterfaceType::S1U_ENODEB_GTP_U,
                        0xdead_beef,
                        Some(enb),
                        Some("2001:db8:e::9".parse().unwrap()),
                    ),
                ]),
                ie(IeValue::Paa(Paa::Ipv6 {
                    prefix_len: 56,
                    addr: "2001:db8:ff00::".parse().unwrap(),
                })),
            ],
        );
        out.push(case(
            "modify bearer request",
            mbr.to_vec().unwrap(),
            2123,
            &[
                ("gtpv2.message_type", "34"),
                ("gtpv2.teid", "0x05090001"),
                ("gtpv2.ebi", "6"),
                ("gtpv2.f_teid_interface_type", "0"),
                ("gtpv2.f_teid_gre_key", "0xdeadbeef"),
                ("gtpv2.f_teid_v4", "1"),
                ("gtpv2.f_teid_v6", "1"),
                ("gtpv2.f_teid_ipv4", "198.51.100.9"),
                ("gtpv2.f_teid_ipv6", "2001:db8:e::9"),
                ("gtpv2.pdn_ipv6_len", "56"),
                ("gtpv2.pdn_addr_and_prefix.ipv6", "2001:db8:ff00::"),
            ],
        ));

        let vns = Message::version_not_supported_indication(0x12_3456);
        out.push(case(
            "version not supported indication",
            vns.to_vec().unwrap(),
            2123,
            &[
                ("gtpv2.message_type", "3"),
                ("gtpv2.t", "0"),
                ("gtpv2.seq", "0x123456"),
                ("gtpv2.msg_length", "4"),
            ],
        ));
        out
    }

    const MAX_40: u64 = telcp::steering::gtpv2::MAX_BIT_RATE;
}

#[test]
fn tshark_values_gtpv2() {
    if skip() {
        return;
    }
    check("values-gtpv2", &v2::cases());
}

// ------------------------------------------------------------------------------------ PFCP

mod n4 {
    use super::*;
    use telcp::steering::gtp::Apn;
    use telcp::steering::pfcp::teidri::UpIpResourceInformation;
    use telcp::steering::pfcp::{
        ApplyAction, Cause, FSeid, FTeid, Ie, IeType, Interface, Message, MessageType, NodeId,
        OuterHeaderCreation, PFCP_PORT, UeIpAddress,
    };

    fn g(ie_type: IeType, ies: Vec<Ie<'static>>) -> Ie<'static> {
        Ie::Grouped { ie_type, ies }
    }

    pub fn cases() -> Vec<Case> {
        let smf = Ipv4Addr::new(192, 0, 2, 20);
        let upf = Ipv4Addr::new(192, 0, 2, 10);
        let smf6: Ipv6Addr = "2001:db8::20".parse().unwrap();
        let upf6: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let mut out = Vec::new();

        // Heartbeat Request: S = 0, a 24-bit sequence number using all 24 bits; the Recovery
        // Time Stamp counts seconds from 1900-01-01 (section 8.2.65, RFC 5905 section 6).
        let hb = Message::heartbeat_request(0xfe_dcba, 3_880_000_000);
        out.push(case(
            "heartbeat request",
            hb.to_vec().unwrap(),
            PFCP_PORT,
            &[
                ("pfcp.version", "1"),
                ("pfcp.s", "0"),
                ("pfcp.mp_flag", "0"),
                ("pfcp.fo_flag", "0"),
                ("pfcp.msg_type", "1"),
                ("pfcp.length", "12"),
                ("pfcp.seqno", "16702650"),
                // 3 880 000 000 s after 1900-01-01 is 2022-12-14 09:46:40 UTC.
                (
                    "pfcp.recovery_time_stamp",
                    "Dec 14, 2022 09:46:40.000000000 UTC",
                ),
            ],
        ));

        // Association Setup Response: Node ID FQDN (section 8.2.38), UP Function Features FTUP,
        // User Plane IP Resource Information with TEIDRI (section 8.2.82), MP = 1.
        let mut asr = Message::new(
            MessageType::ASSOCIATION_SETUP_RESPONSE,
            0,
            0x00_0203,
            vec![
                Ie::NodeId(NodeId::Fqdn(Apn::from_name("upf1.example.org").unwrap())),
                Ie::Cause(Cause::REQUEST_ACCEPTED),
                Ie::RecoveryTimeStamp(3_880_000_001),
                Ie::Raw {
                    ie_type: IeType::UP_FUNCTION_FEATURES,
                    value: Cow::Borrowed(&[0x10, 0]),
                },
                Ie::UpIpResourceInformation(UpIpResourceInformation {
                    teidri: 6,
                    teid_range: 0b10_1010,
                    ipv4: Some(upf),
                    ipv6: None,
                    network_instance: Some(Cow::Owned(
                        Apn::from_name("internet").unwrap().0.into_owned(),
                    )),
                    source_interface: Some(Interface::ACCESS),
                }),
            ],
        );
        asr.header.priority = Some(7);
        out.push(case(
            "association setup response",
            asr.to_vec().unwrap(),
            PFCP_PORT,
            &[
                ("pfcp.msg_type", "6"),
                ("pfcp.mp_flag", "1"),
                ("pfcp.mp", "7"),
                ("pfcp.seqno", "515"),
                ("pfcp.node_id_type", "2"),
                ("pfcp.node_id_fqdn", "upf1.example.org"),
                ("pfcp.cause", "1"),
                ("pfcp.up_function_features.ftup", "1"),
                ("pfcp.up_function_features.bucp", "0"),
                ("pfcp.upiri_flags.v4", "1"),
                ("pfcp.upiri_flags.v6", "0"),
                ("pfcp.upiri_flags.assoni", "1"),
                ("pfcp.upiri_flags.assosi", "1"),
                ("pfcp.upiri.teidri", "6"),
                ("pfcp.upiri.teid_range", "0x0000002a"),
                ("pfcp.upiri.ipv4_addr", "192.0.2.10"),
                ("pfcp.network_instance", "internet"),
                ("pfcp.source_interface", "0"),
            ],
        ));

        // Session Establishment Request: S = 1 and SEID 0 (section 7.2.2.4.2), F-SEID with both
        // addresses, Create PDR / PDI / F-TEID CHOOSE, UE IP Address, Create FAR with a
        // two-octet Apply Action and Outer Header Creation of both GTP-U kinds.
        let pdi = g(
            IeType::PDI,
            vec![
                Ie::SourceInterface(Interface::CORE),
                Ie::FTeid(FTeid::Choose {
                    ipv4: true,
                    ipv6: true,
                    choose_id: Some(0x2a),
                }),
                Ie::UeIpAddress(UeIpAddress {
                    destination: true,
                    ipv4: Some(Ipv4Addr::new(10, 45, 0, 7)),
                    ..UeIpAddress::default()
                }),
            ],
        );
        let ohc = OuterHeaderCreation {
            description: OuterHeaderCreation::GTPU_UDP_IPV4 | OuterHeaderCreation::GTPU_UDP_IPV6,
            teid: Some(0x0a0b_0c0d),
            ipv4: Some(Ipv4Addr::new(198, 51, 100, 1)),
            ipv6: Some("2001:db8:51::1".parse().unwrap()),
            port: None,
            c_tag: None,
            s_tag: None,
        };
        // UDP/IPv4 (octet 5 bit 3): the address, then the port; C-TAG and S-TAG last.
        let udp = OuterHeaderCreation {
            description: OuterHeaderCreation::UDP_IPV4
                | OuterHeaderCreation::C_TAG
                | OuterHeaderCreation::S_TAG,
            teid: None,
            ipv4: Some(Ipv4Addr::new(203, 0, 113, 5)),
            ipv6: None,
            port: Some(0x1f90),
            c_tag: Some([0x01, 0x23, 0x45]),
            s_tag: Some([0x06, 0x78, 0x9a]),
        };
        let ser = Message::new(
            MessageType::SESSION_ESTABLISHMENT_REQUEST,
            0,
            0x00_0005,
            vec![
                Ie::NodeId(NodeId::Ipv4(smf)),
                Ie::FSeid(FSeid {
                    seid: 0x0102_0304_0506_0708,
                    ipv4: Some(smf),
                    ipv6: Some(smf6),
                }),
                g(
                    IeType::CREATE_PDR,
                    vec![
                        Ie::PdrId(0x1234),
                        Ie::Precedence(0x0001_0002),
                        pdi,
                        Ie::FarId(0x8000_0002),
                        Ie::QerId(0x0000_0003),
                        Ie::UrrId(0x8000_0004),
                    ],
                ),
                g(
                    IeType::CREATE_FAR,
                    vec![
                        Ie::FarId(9),
                        Ie::ApplyAction(ApplyAction::new(ApplyAction::FORW as u8)),
                        g(
                            IeType::FORWARDING_PARAMETERS,
                            vec![
                                Ie::DestinationInterface(Interface::SGI_LAN_N6_LAN),
                                Ie::OuterHeaderCreation(udp),
                            ],
                        ),
                    ],
                ),
                g(
                    IeType::CREATE_FAR,
                    vec![
                        Ie::FarId(0x8000_0002),
                        Ie::ApplyAction(ApplyAction {
                            flags: ApplyAction::FORW | ApplyAction::DUPL | 0x0400,
                            extended: true,
                        }),
                        g(
                            IeType::FORWARDING_PARAMETERS,
                            vec![
                                Ie::DestinationInterface(Interface::ACCESS),
                                Ie::OuterHeaderCreation(ohc),
                            ],
                        ),
                    ],
                ),
            ],
        );
        let bytes = ser.to_vec().unwrap();
        // Section 7.2.2.1: the Length counts the octets after the first four.
        let length = (bytes.len() - 4).to_string();
        out.push(case(
            "session establishment request",
            bytes,
            PFCP_PORT,
            &[
                ("pfcp.msg_type", "50"),
                ("pfcp.length", &length),
                ("pfcp.s", "1"),
                ("pfcp.seid", "0x0000000000000000,0x0102030405060708"),
                ("pfcp.seqno", "5"),
                ("pfcp.node_id_type", "0"),
                ("pfcp.node_id_ipv4", "192.0.2.20"),
                ("pfcp.f_seid_flags.v4", "1"),
                ("pfcp.f_seid_flags.v6", "1"),
                ("pfcp.f_seid.ipv4", "192.0.2.20"),
                ("pfcp.f_seid.ipv6", "2001:db8::20"),
                ("pfcp.pdr_id", "4660"),
                ("pfcp.precedence", "65538"),
                ("pfcp.source_interface", "1"),
                ("pfcp.f_teid_flags.ch", "1"),
                ("pfcp.f_teid_flags.ch_id", "1"),
                ("pfcp.f_teid_flags.v4", "1"),
                ("pfcp.f_teid_flags.v6", "1"),
                ("pfcp.f_teid.choose_id", "2a"),
                ("pfcp.ue_ip_address_flag.sd", "1"),
                ("pfcp.ue_ip_address_flag.v4", "1"),
                ("pfcp.ue_ip_address_flag.v6", "0"),
                ("pfcp.ue_ip_addr_ipv4", "10.45.0.7"),
                ("pfcp.far_id_flg", "1,0,1"),
                ("pfcp.far_id", "2,9,2"),
                ("pfcp.qer_id_flg", "0"),
                ("pfcp.qer_id", "3"),
                ("pfcp.urr_id_flg", "1"),
                ("pfcp.urr_id", "4"),
                ("pfcp.apply_action.drop", "0,0"),
                ("pfcp.apply_action.forw", "1,1"),
                ("pfcp.apply_action.buff", "0,0"),
                ("pfcp.apply_action.dupl", "0,1"),
                ("pfcp.apply_action.ddpn", "1"),
                ("pfcp.apply_action.edrt", "0"),
                ("pfcp.dst_interface", "2,0"),
                ("pfcp.outer_hdr_desc", "50176,768"),
                ("pfcp.outer_hdr_creation.port", "8080"),
                ("pfcp.outer_hdr_creation.teid", "0x0a0b0c0d"),
                ("pfcp.outer_hdr_creation.ipv4", "203.0.113.5,198.51.100.1"),
                ("pfcp.outer_hdr_creation.ipv6", "2001:db8:51::1"),
            ],
        ));

        // Session Establishment Response: the header SEID is the CP function's; Created PDR's
        // F-TEID with CH = 0 and both addresses; F-SEID IPv6 only.
        let sersp = Message::new(
            MessageType::SESSION_ESTABLISHMENT_RESPONSE,
            0x0102_0304_0506_0708,
            0x00_0005,
            vec![
                Ie::NodeId(NodeId::Ipv6(upf6)),
                Ie::Cause(Cause::REQUEST_ACCEPTED),
                Ie::FSeid(FSeid {
                    seid: 0xfedc_ba98_7654_3210,
                    ipv4: None,
                    ipv6: Some(upf6),
                }),
                g(
                    IeType::CREATED_PDR,
                    vec![
                        Ie::PdrId(0x1234),
                        Ie::FTeid(FTeid::Assigned {
                            teid: 0x0509_0001,
                            ipv4: Some(upf),
                            ipv6: Some(upf6),
                        }),
                    ],
                ),
            ],
        );
        out.push(case(
            "session establishment response",
            sersp.to_vec().unwrap(),
            PFCP_PORT,
            &[
                ("pfcp.msg_type", "51"),
                ("pfcp.seid", "0x0102030405060708,0xfedcba9876543210"),
                ("pfcp.node_id_type", "1"),
                ("pfcp.node_id_ipv6", "2001:db8::10"),
                ("pfcp.f_seid_flags.v4", "0"),
                ("pfcp.f_seid_flags.v6", "1"),
                ("pfcp.f_seid.ipv6", "2001:db8::10"),
                ("pfcp.f_teid_flags.ch", "0"),
                ("pfcp.f_teid_flags.v4", "1"),
                ("pfcp.f_teid_flags.v6", "1"),
                ("pfcp.f_teid.teid", "0x05090001"),
                ("pfcp.f_teid.ipv4_addr", "192.0.2.10"),
                ("pfcp.f_teid.ipv6_addr", "2001:db8::10"),
            ],
        ));

        // Session Modification Request: UE IP Address with every flag, the IPv6 prefix fields.
        let mut smr = Message::new(
            MessageType::SESSION_MODIFICATION_REQUEST,
            0xfedc_ba98_7654_3210,
            0x00_0006,
            vec![g(
                IeType::UPDATE_PDR,
                vec![
                    Ie::PdrId(1),
                    g(
                        IeType::PDI,
                        vec![Ie::UeIpAddress(UeIpAddress {
                            destination: false,
                            ipv4: None,
                            ipv6: Some("2001:db8:aa::".parse().unwrap()),
                            choose_ipv4: true,
                            choose_ipv6: false,
                            ipv6_prefix_delegation_bits: Some(8),
                            ipv6_prefix_length: Some(56),
                        })],
                    ),
                ],
            )],
        );
        smr.header.priority = Some(15);
        out.push(case(
            "session modification request",
            smr.to_vec().unwrap(),
            PFCP_PORT,
            &[
                ("pfcp.msg_type", "52"),
                ("pfcp.mp", "15"),
                ("pfcp.ue_ip_address_flag.sd", "0"),
                ("pfcp.ue_ip_address_flag.v4", "0"),
                ("pfcp.ue_ip_address_flag.v6", "1"),
                ("pfcp.ue_ip_address_flag.chv4", "1"),
                ("pfcp.ue_ip_address_flag.chv6", "0"),
                ("pfcp.ue_ip_address_flag.v6d", "1"),
                ("pfcp.ue_ip_address_flag.v6pl", "1"),
                ("pfcp.ue_ip_addr_ipv6", "2001:db8:aa::"),
                ("pfcp.ue_ip_addr_ipv6_prefix", "8"),
                ("pfcp.ue_ip_addr_ipv6_prefix_length", "56"),
            ],
        ));

        // Session Deletion Response with a rejection cause; an enterprise IE (section 8.1.1).
        let sdr = Message::new(
            MessageType::SESSION_DELETION_RESPONSE,
            0x0102_0304_0506_0708,
            0x00_0007,
            vec![
                Ie::Cause(Cause::SESSION_CONTEXT_NOT_FOUND),
                Ie::Enterprise {
                    ie_type: IeType(0x8123),
                    enterprise_id: 0x7e57,
                    value: Cow::Borrowed(&[0xca, 0xfe]),
                },
            ],
        );
        out.push(case(
            "session deletion response",
            sdr.to_vec().unwrap(),
            PFCP_PORT,
            &[
                ("pfcp.msg_type", "55"),
                ("pfcp.cause", "65"),
                ("pfcp.enterprise_ie", "33059"),
                ("pfcp.enterprise_id", "32343"),
                ("pfcp.enterprise_ie_data", "cafe"),
            ],
        ));
        out
    }
}

#[test]
fn tshark_values_pfcp() {
    if skip() {
        return;
    }
    check("values-pfcp", &n4::cases());
}

// ------------------------------------------------------------------------------------ GTPv1

mod v1 {
    use super::*;
    use telcp::steering::gtp::{
        Apn, Cause, CreatePdpContextRequest, EndUserAddress, ExtensionHeader, Ie, IeType, Imsi,
        Message, MessageType,
    };

    pub fn cases() -> Vec<Case> {
        let sgsn: IpAddr = Ipv4Addr::new(192, 0, 2, 2).into();
        let ggsn6: IpAddr = "2001:db8::1".parse::<Ipv6Addr>().unwrap().into();
        let mut out = Vec::new();

        // Create PDP Context Request from the builder: header TEID 0, IMSI in TBCD with filler,
        // APN in labels, End User Address asking for a dynamic IPv4 address.
        let mut req = CreatePdpContextRequest::new(
            Imsi::from_digits("262019876543210"),
            0x1000_2000,
            5,
            sgsn,
        );
        req.recovery = Some(9);
        req.apn = Apn::from_name("internet.mnc001.mcc262.gprs");
        req.end_user_address = Some(EndUserAddress::ipv4v6(None, None));
        req.sgsn_user = ggsn6;
        let mut m = req.message(0xbeef);
        if let telcp::steering::gtp::Body::Ies(ies) = &mut m.body {
            // MSISDN (section 7.7.33: TS 29.002 AddressString, international E.164), before
            // the QoS Profile (ascending types, section 7.7).
            let at = ies.len() - 1;
            ies.insert(
                at,
                Ie::Msisdn(Cow::Borrowed(&[0x91, 0x94, 0x51, 0x11, 0x32, 0x54, 0x76])),
            );
        }
        out.push(case(
            "create pdp context request",
            m.to_vec().unwrap(),
            2123,
            &[
                ("gtp.flags.version", "1"),
                ("gtp.flags.payload", "1"),
                ("gtp.flags.e", "0"),
                ("gtp.flags.s", "1"),
                ("gtp.flags.pn", "0"),
                ("gtp.message", "0x10"),
                ("gtp.teid", "0x00000000"),
                ("gtp.seq_number", "0xbeef"),
                ("e212.imsi", "262019876543210"),
                ("gtp.recovery", "9"),
                ("gtp.sel_mode", "0"),
                ("gtp.teid_data", "0x10002000"),
                ("gtp.teid_cp", "0x10002000"),
                ("gtp.nsapi", "5"),
                ("gtp.user_addr_pdp_org", "1"),
                ("gtp.user_addr_pdp_type", "0x8d"),
                ("gtp.apn", "internet.mnc001.mcc262.gprs"),
                ("gtp.gsn_ipv4", "192.0.2.2"),
                ("gtp.gsn_ipv6", "2001:db8::1"),
                ("gtp.qos_al_ret_priority", "2"),
                ("gtp.qos_delay", "1"),
                ("gtp.qos_reliability", "3"),
                ("gtp.qos_peak", "9"),
                ("gtp.qos_precedence", "2"),
                ("gtp.qos_mean", "31"),
                ("e164.msisdn", "491511234567"),
            ],
        ));

        // Create PDP Context Response: Cause, TEIDs, Charging ID, an IPv4v6 End User Address
        // (section 7.7.27: IPv4 first).
        let rsp = Message::new(
            MessageType::CREATE_PDP_CONTEXT_RESPONSE,
            0x1000_2000,
            0xbeef,
            vec![
                Ie::Cause(Cause::REQUEST_ACCEPTED),
                Ie::TeidDataI(0x0509_0001),
                Ie::TeidControl(0x0509_0002),
                Ie::ChargingId(0x0a0b_0c0d),
                Ie::EndUserAddress(EndUserAddress::ipv4v6(
                    Some(Ipv4Addr::new(10, 45, 0, 7)),
                    Some("2001:db8:45::7".parse().unwrap()),
                )),
                Ie::PrivateExtension {
                    extension_id: 0x7e57,
                    value: Cow::Borrowed(&[1, 2, 3]),
                },
            ],
        );
        out.push(case(
            "create pdp context response",
            rsp.to_vec().unwrap(),
            2123,
            &[
                ("gtp.message", "0x11"),
                ("gtp.length", "54,22"),
                ("gtp.cause", "128"),
                ("gtp.chrg_id", "0x0a0b0c0d"),
                ("gtp.user_ipv4", "10.45.0.7"),
                ("gtp.user_ipv6", "2001:db8:45::7"),
                ("gtp.ext_id", "32343"),
            ],
        ));

        // Update PDP Context Request with TEID Data II (section 7.7.15) and Delete with
        // Teardown Ind (section 7.7.16).
        let upd = Message::new(
            MessageType::UPDATE_PDP_CONTEXT_REQUEST,
            0x0509_0002,
            3,
            vec![
                Ie::TeidDataI(0x1111_0001),
                Ie::TeidDataII {
                    nsapi: 6,
                    teid: 0x2222_0002,
                },
                Ie::Nsapi(5),
            ],
        );
        out.push(case(
            "update pdp context request",
            upd.to_vec().unwrap(),
            2123,
            &[
                ("gtp.message", "0x12"),
                ("gtp.teid_data", "0x11110001"),
                ("gtp.teid_ii", "0x22220002"),
                ("gtp.nsapi", "6,5"),
            ],
        ));
        let del = Message::new(
            MessageType::DELETE_PDP_CONTEXT_REQUEST,
            0x0509_0002,
            4,
            vec![Ie::TeardownInd(0xff), Ie::Nsapi(5)],
        );
        out.push(case(
            "delete pdp context request",
            del.to_vec().unwrap(),
            2123,
            &[("gtp.message", "0x14"), ("gtp.tear_ind", "1")],
        ));

        // A G-PDU with every optional header field: S, PN, E and a two-header chain (TS 29.281
        // section 5.1 and 5.2).
        let mut g = Message::g_pdu(0x0509_0001, inner_ipv4());
        g.header.sequence = Some(0x1234);
        g.header.npdu = Some(0x56);
        g.header.extensions = Some(vec![
            ExtensionHeader::udp_port(40000),
            ExtensionHeader {
                ext_type: 0xc0,
                content: Cow::Borrowed(&[0x01, 0x02]),
            },
        ]);
        out.push(case(
            "g-pdu with extension headers",
            g.to_vec().unwrap(),
            2152,
            &[
                ("gtp.flags.e", "1"),
                ("gtp.flags.s", "1"),
                ("gtp.flags.pn", "1"),
                ("gtp.message", "0xff"),
                ("gtp.length", &(12 + 28).to_string()),
                ("gtp.teid", "0x05090001"),
                ("gtp.seq_number", "0x1234"),
                ("gtp.npdu_number", "0x56"),
                ("gtp.ext_hdr.length", "1,1"),
                ("gtp.ext_hdr.udp_port", "40000"),
                ("gtp.ext_hdr.pdcp_sn", "258"),
                ("gtp.ext_hdr.next", "0x40,0xc0,0x00"),
                ("ip.dst", "192.0.2.1,192.0.2.99"),
            ],
        ));

        // Error Indication (TS 29.281 section 7.3.1): TEID 0 in the header, TEID Data I and
        // GSN Address, the UDP Port extension header.
        let ei = Message::error_indication(0x0509_fffe, ggsn6, Some(2152));
        out.push(case(
            "error indication",
            ei.to_vec().unwrap(),
            2152,
            &[
                ("gtp.message", "0x1a"),
                ("gtp.teid", "0x00000000"),
                ("gtp.flags.s", "1"),
                ("gtp.flags.e", "1"),
                ("gtp.teid_data", "0x0509fffe"),
                ("gtp.gsn_ipv6", "2001:db8::1"),
                ("gtp.ext_hdr.udp_port", "2152"),
            ],
        ));

        // Echo Response (TS 29.281 section 7.2.2) and Supported Extension Headers Notification.
        out.push(case(
            "echo response",
            Message::new(MessageType::ECHO_RESPONSE, 0, 0xffff, vec![Ie::Recovery(0)])
                .to_vec()
                .unwrap(),
            2152,
            &[
                ("gtp.message", "0x02"),
                ("gtp.seq_number", "0xffff"),
                ("gtp.recovery", "0"),
                ("gtp.length", "6"),
            ],
        ));
        let _ = IeType::RECOVERY;
        out
    }

    /// An IPv4/UDP packet 192.0.2.1 -> 192.0.2.99 with a correct header checksum.
    fn inner_ipv4() -> Vec<u8> {
        crate::common::gtp::ipv4_udp([192, 0, 2, 1], [192, 0, 2, 99], &[])
    }
}

#[test]
fn tshark_values_gtpv1() {
    if skip() {
        return;
    }
    check("values-gtpv1", &v1::cases());
}

/// TS 29.060 section 7.7: a TV element has a fixed length per type and no length field, so a
/// receiver that disagrees on one length misreads every element after it. Each TV type the codec
/// knows ([`IeType::tv_len`]), at that length, then a Recovery: tshark must read the Recovery.
#[test]
fn tshark_values_gtpv1_tv_lengths() {
    use telcp::steering::gtp::{Ie, IeType, Message, MessageType};
    if skip() {
        return;
    }
    let mut cases = Vec::new();
    for t in (0u8..128).map(IeType) {
        let Some(len) = t.tv_len() else { continue };
        let mut value = vec![0u8; len];
        if t == IeType::IMSI {
            // Fifteen digits 0 and the filler (section 7.7.2).
            value[7] = 0xf0;
        }
        let m = Message::new(
            MessageType::CREATE_PDP_CONTEXT_REQUEST,
            0,
            u16::from(t.0),
            vec![
                Ie::Tv {
                    ie_type: t,
                    value: Cow::Owned(value),
                },
                Ie::Recovery(0x5a),
            ],
        );
        let want = if t == IeType::RECOVERY { "0,90" } else { "90" };
        let name = format!("TV type {} of {len} octets", t.0);
        cases.push(case(
            name,
            m.to_vec().unwrap(),
            2123,
            &[("gtp.recovery", want)],
        ));
    }
    assert_eq!(
        cases.len(),
        27,
        "the TV types of section 7.7 the codec knows"
    );
    check("values-gtpv1-tv", &cases);
}

// ------------------------------------------------------------------ the gateway's own answers

/// pfcp-8.2.65-recovery-time-stamp, read by tshark: the UP function's Heartbeat and Association
/// Setup Responses carry the time it started (TS 29.244 section 8.2.65: the RFC 5905 seconds
/// since 1900), the instant it was configured with (`common::gtp::RECOVERY_TIME_STAMP`,
/// 2025-06-01 00:00:00 UTC), not its GTP restart counter.
#[test]
fn tshark_values_gateway_recovery_time_stamp() {
    use common::gtp::{GW, Gw, SGSN, sa};
    use telcp::steering::pfcp::{Ie, Message, MessageType, NodeId, PFCP_PORT};
    if skip() {
        return;
    }
    let mut gw = Gw::new();
    let smf_rts = Ie::RecoveryTimeStamp(common::gtp::RECOVERY_TIME_STAMP - 3600);
    let requests = [
        Message::heartbeat_request(1, common::gtp::RECOVERY_TIME_STAMP - 3600),
        Message::new(
            MessageType::ASSOCIATION_SETUP_REQUEST,
            0,
            2,
            vec![Ie::NodeId(NodeId::Ipv4(SGSN.into())), smf_rts],
        ),
    ];
    let mut cases = Vec::new();
    for (req, name, t) in [
        (&requests[0], "heartbeat response", "2"),
        (&requests[1], "association setup response", "6"),
    ] {
        let out = gw.send(
            sa(SGSN, PFCP_PORT),
            sa(GW, PFCP_PORT),
            &req.to_vec().unwrap(),
        );
        assert_eq!(out.len(), 1, "{out:?}");
        cases.push(case(
            name,
            out[0].payload.to_vec(),
            PFCP_PORT,
            &[
                ("pfcp.msg_type", t),
                (
                    "pfcp.recovery_time_stamp",
                    "Jun  1, 2025 00:00:00.000000000 UTC",
                ),
            ],
        ));
    }
    check("values-gateway", &cases);
}
