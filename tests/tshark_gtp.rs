//! tshark's GTP dissector as a second opinion on every GTPv1 message this crate emits.
#![cfg(feature = "pcap")]

mod common;

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use telcp::pcap::PcapWriter;
use telcp::steering::gtp::{
    Apn, Cause, EndUserAddress, ExtensionHeader, Ie, IeType, Imsi, Message, MessageType,
};

/// An IPv4/UDP packet with a correct header checksum (the UDP checksum is 0, allowed in IPv4).
fn inner_ipv4(payload: &[u8]) -> Vec<u8> {
    common::gtp::ipv4_udp([10, 45, 0, 7], [192, 0, 2, 1], payload)
}

fn gsn(a: [u8; 4]) -> Ie<'static> {
    Ie::GsnAddress(Ipv4Addr::from(a).into())
}

fn qos() -> Ie<'static> {
    // Allocation/retention priority 2, then a release 97/98 QoS profile (TS 24.008 10.5.6.5).
    Ie::QosProfile(Cow::Borrowed(&[0x02, 0x0b, 0x92, 0x1f]))
}

/// A message, whether it goes to the GTP-U port, and the tshark fields to check (besides
/// `gtp.message` and `gtp.teid`).
type Case = (Message<'static>, bool, Vec<(&'static str, String)>);

fn messages() -> Vec<Case> {
    let sgsn = [127, 0, 0, 2];
    let ggsn = [127, 0, 0, 1];
    let mut with_ext = Message::g_pdu(0x0509_0001, inner_ipv4(b"hello"));
    with_ext.header.sequence = Some(77);
    with_ext.header.extensions = Some(vec![ExtensionHeader {
        ext_type: 0xc0,
        content: Cow::Borrowed(&[0x01, 0x02]),
    }]);
    let mut end_marker = Message::new(MessageType::END_MARKER, 0x0509_0001, 0, vec![]);
    end_marker.header.sequence = None;
    vec![
        (
            Message::new(MessageType::ECHO_REQUEST, 0, 1, vec![]),
            false,
            vec![("gtp.seq_number", "0x0001".into())],
        ),
        (
            Message::new(MessageType::ECHO_RESPONSE, 0, 1, vec![Ie::Recovery(5)]),
            false,
            vec![("gtp.recovery", "5".into())],
        ),
        (
            Message::new(
                MessageType::CREATE_PDP_CONTEXT_REQUEST,
                0,
                0x1234,
                vec![
                    Ie::Imsi(Imsi::from_digits("001010123456789").unwrap()),
                    Ie::Recovery(3),
                    Ie::SelectionMode(0xfc),
                    Ie::TeidDataI(0x1111_1111),
                    Ie::TeidControl(0x2222_2222),
                    Ie::Nsapi(5),
                    Ie::EndUserAddress(EndUserAddress::ipv4(None)),
                    Ie::Apn(Apn::from_name("internet").unwrap()),
                    gsn(sgsn),
                    gsn(sgsn),
                    Ie::Msisdn(Cow::Borrowed(&[0x91, 0x64, 0x07, 0x02, 0x00, 0x00, 0xf0])),
                    qos(),
                ],
            ),
            false,
            vec![
                ("gtp.teid_data", "0x11111111".into()),
                ("gtp.teid_cp", "0x22222222".into()),
                ("gtp.apn", "internet".into()),
                ("gtp.nsapi", "5".into()),
                ("gtp.gsn_ipv4", "127.0.0.2,127.0.0.2".into()),
                ("e212.imsi", "001010123456789".into()),
                ("gtp.seq_number", "0x1234".into()),
            ],
        ),
        (
            Message::new(
                MessageType::CREATE_PDP_CONTEXT_RESPONSE,
                0x2222_2222,
                0x1234,
                vec![
                    Ie::Cause(Cause::REQUEST_ACCEPTED),
                    Ie::Tv {
                        ie_type: IeType::REORDERING_REQUIRED,
                        value: Cow::Borrowed(&[0xfe]),
                    },
                    Ie::Recovery(1),
                    Ie::TeidDataI(0x0509_0001),
                    Ie::TeidControl(0x0509_0002),
                    Ie::ChargingId(0x0509_0002),
                    Ie::EndUserAddress(EndUserAddress::ipv4(Some(Ipv4Addr::new(10, 45, 0, 7)))),
                    gsn(ggsn),
                    gsn(ggsn),
                    qos(),
                ],
            ),
            false,
            vec![
                ("gtp.cause", "128".into()),
                ("gtp.teid_data", "0x05090001".into()),
                ("gtp.teid_cp", "0x05090002".into()),
                ("gtp.chrg_id", "0x05090002".into()),
                ("gtp.user_ipv4", "10.45.0.7".into()),
            ],
        ),
        (
            Message::new(
                MessageType::UPDATE_PDP_CONTEXT_REQUEST,
                0x0509_0002,
                9,
                vec![
                    Ie::Recovery(3),
                    Ie::TeidDataI(0x1111_1112),
                    Ie::Nsapi(5),
                    gsn(sgsn),
                    gsn(sgsn),
                    qos(),
                ],
            ),
            false,
            vec![("gtp.teid_data", "0x11111112".into())],
        ),
        (
            Message::new(
                MessageType::UPDATE_PDP_CONTEXT_RESPONSE,
                0x2222_2222,
                9,
                vec![
                    Ie::Cause(Cause::REQUEST_ACCEPTED),
                    Ie::TeidDataI(0x0509_0001),
                    Ie::ChargingId(0x0509_0002),
                    gsn(ggsn),
                    gsn(ggsn),
                    qos(),
                ],
            ),
            false,
            vec![("gtp.cause", "128".into())],
        ),
        (
            Message::new(
                MessageType::DELETE_PDP_CONTEXT_REQUEST,
                0x0509_0002,
                10,
                vec![Ie::TeardownInd(0xff), Ie::Nsapi(5)],
            ),
            false,
            vec![("gtp.nsapi", "5".into())],
        ),
        (
            Message::new(
                MessageType::DELETE_PDP_CONTEXT_RESPONSE,
                0x2222_2222,
                10,
                vec![Ie::Cause(Cause::CONTEXT_NOT_FOUND)],
            ),
            false,
            vec![("gtp.cause", "210".into())],
        ),
        (
            Message::new(MessageType::VERSION_NOT_SUPPORTED, 0, 11, vec![]),
            false,
            vec![],
        ),
        (
            Message::new(
                MessageType::SUPPORTED_EXTENSION_HEADERS_NOTIFICATION,
                0,
                12,
                vec![Ie::ExtensionHeaderTypeList(Cow::Borrowed(&[0x40, 0xc0]))],
            ),
            false,
            vec![("gtp.ext_hdr_type", "64,192".into())],
        ),
        (
            Message::g_pdu(0x0509_0001, inner_ipv4(b"hi")),
            true,
            vec![("ip.dst", "127.0.0.1,192.0.2.1".into())],
        ),
        (
            with_ext,
            true,
            vec![
                ("gtp.ext_hdr.pdcp_sn", "258".into()),
                ("gtp.seq_number", "0x004d".into()),
            ],
        ),
        (
            Message::new(
                MessageType::ERROR_INDICATION,
                0,
                0,
                vec![Ie::TeidDataI(0x0509_ffff), gsn(ggsn)],
            ),
            true,
            vec![("gtp.teid_data", "0x0509ffff".into())],
        ),
        (end_marker, true, vec![]),
        // What the gateway answers a G-PDU naming no context with, and a GTP-C message of
        // another version with.
        (
            Message::error_indication(0x0509_fffe, Ipv4Addr::from(ggsn).into(), Some(40000)),
            true,
            vec![
                ("gtp.teid_data", "0x0509fffe".into()),
                ("gtp.ext_hdr.udp_port", "40000".into()),
                ("gtp.gsn_ipv4", "127.0.0.1".into()),
                ("gtp.seq_number", "0x0000".into()),
            ],
        ),
        (Message::version_not_supported(), false, vec![]),
        // What the gateway answers an Update / Delete PDP Context Request naming no context
        // with: the matching response, Cause Non-existent, TEID 0, the request's sequence number.
        (
            Message::new(
                MessageType::UPDATE_PDP_CONTEXT_RESPONSE,
                0,
                0x0203,
                vec![Ie::Cause(Cause::NON_EXISTENT)],
            ),
            false,
            vec![
                ("gtp.cause", "192".into()),
                ("gtp.seq_number", "0x0203".into()),
            ],
        ),
        (
            Message::new(
                MessageType::DELETE_PDP_CONTEXT_RESPONSE,
                0,
                0x0204,
                vec![Ie::Cause(Cause::NON_EXISTENT)],
            ),
            false,
            vec![
                ("gtp.cause", "192".into()),
                ("gtp.seq_number", "0x0204".into()),
            ],
        ),
    ]
}

#[test]
fn tshark_reads_what_we_emit() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let msgs = messages();
    let cap = common::Capture::written("gtp-tshark", "gtp.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        for (i, (m, user, _)) in msgs.iter().enumerate() {
            let port = if *user { 2152 } else { 2123 };
            let src: SocketAddr = format!("127.0.0.2:{port}").parse().unwrap();
            let dst: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
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

    let mut fields: Vec<&str> = vec!["gtp.message", "gtp.teid"];
    for (_, _, checks) in &msgs {
        for (f, _) in checks {
            if !fields.contains(f) {
                fields.push(f);
            }
        }
    }
    let text = cap.fields("frame", &fields);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), msgs.len(), "{text}");
    for ((m, _, checks), line) in msgs.iter().zip(&lines) {
        let cols: Vec<&str> = line.split('|').collect();
        let col = |name: &str| cols[fields.iter().position(|f| *f == name).unwrap()];
        assert_eq!(
            col("gtp.message"),
            format!("0x{:02x}", m.message_type().0),
            "{line}"
        );
        assert_eq!(
            col("gtp.teid"),
            format!("0x{:08x}", m.header.teid),
            "{line}"
        );
        for (f, want) in checks {
            assert_eq!(col(f), want, "{f} in {line}\n{text}");
        }
    }
}
