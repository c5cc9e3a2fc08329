//! GTPv1 codec: known answers from scapy, refusals, and the round-trip properties.

mod common;

use common::steering::vector;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use telcp::steering::gtp::{
    self, Apn, Body, Cause, EndUserAddress, ExtensionHeader, GtpView, Ie, IeType, Message,
    MessageType, WireError,
};

/// Parses a vector, checks emit gives the same bytes back, and returns the message.
fn kat(name: &str) -> Message<'static> {
    let bytes = vector(name);
    let msg = gtp::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(msg.to_vec().unwrap(), bytes, "{name}: emit(parse(b)) == b");
    msg.into_owned()
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap())
}

#[test]
fn scapy_echo() {
    let req = kat("echo_request");
    assert_eq!(req.message_type(), MessageType::ECHO_REQUEST);
    assert_eq!((req.header.teid, req.header.sequence), (0, Some(1)));
    assert!(req.ies().is_empty());
    let resp = kat("echo_response");
    assert_eq!(resp.message_type(), MessageType::ECHO_RESPONSE);
    assert_eq!(resp.recovery(), Some(7));
}

#[test]
fn scapy_create_pdp_context_request() {
    let m = kat("create_pdp_request");
    assert_eq!(m.message_type(), MessageType::CREATE_PDP_CONTEXT_REQUEST);
    assert_eq!((m.header.teid, m.header.sequence), (0, Some(0x1234)));
    assert_eq!(m.imsi().unwrap().digits().as_str(), "001010123456789");
    assert_eq!(m.recovery(), Some(3));
    assert_eq!(m.ie(IeType::SELECTION_MODE), Some(&Ie::SelectionMode(0xfc)));
    assert_eq!(m.teid_data_i(), Some(0x1111_1111));
    assert_eq!(m.teid_control(), Some(0x2222_2222));
    assert_eq!(m.nsapi(), Some(5));
    let eua = m.end_user_address().unwrap();
    assert_eq!(
        (eua.organization, eua.pdp_type, eua.address.len()),
        (0xf1, 0x21, 0)
    );
    assert_eq!(m.apn().unwrap().name().as_deref(), Some("internet"));
    let gsn: Vec<IpAddr> = m.gsn_addresses().collect();
    assert_eq!(gsn, [v4("127.0.0.2"), v4("127.0.0.2")]);
    assert!(matches!(m.ie(IeType::MSISDN), Some(Ie::Msisdn(v)) if v.len() == 7));
    assert!(matches!(m.ie(IeType::QOS_PROFILE), Some(Ie::QosProfile(v)) if v.len() == 4));
}

#[test]
fn scapy_create_pdp_context_response() {
    let m = kat("create_pdp_response");
    assert_eq!(m.message_type(), MessageType::CREATE_PDP_CONTEXT_RESPONSE);
    assert_eq!(m.header.teid, 0x2222_2222);
    assert_eq!(m.cause(), Some(Cause::REQUEST_ACCEPTED));
    assert!(m.cause().unwrap().is_accepted());
    assert!(matches!(
        m.ie(IeType::REORDERING_REQUIRED),
        Some(Ie::Tv { value, .. }) if value.as_ref() == [0xfe]
    ));
    assert_eq!(m.teid_data_i(), Some(0x0509_0001));
    assert_eq!(m.teid_control(), Some(0x0509_0002));
    assert_eq!(
        m.ie(IeType::CHARGING_ID),
        Some(&Ie::ChargingId(0x0509_0002))
    );
    assert_eq!(
        m.end_user_address().unwrap().ipv4_addr(),
        Some(Ipv4Addr::new(10, 45, 0, 7))
    );
    assert_eq!(m.gsn_addresses().count(), 2);
}

#[test]
fn scapy_update_and_delete() {
    let u = kat("update_pdp_request");
    assert_eq!(u.message_type(), MessageType::UPDATE_PDP_CONTEXT_REQUEST);
    assert_eq!(u.header.teid, 0x0509_0002);
    assert_eq!((u.teid_data_i(), u.nsapi()), (Some(0x1111_1112), Some(5)));
    let d = kat("delete_pdp_request");
    assert_eq!(d.message_type(), MessageType::DELETE_PDP_CONTEXT_REQUEST);
    assert_eq!(d.ies(), [Ie::TeardownInd(1), Ie::Nsapi(5)]);
    let r = kat("delete_pdp_response");
    assert_eq!(r.cause(), Some(Cause::REQUEST_ACCEPTED));
}

#[test]
fn scapy_user_plane() {
    let g = kat("g_pdu");
    assert_eq!(g.message_type(), MessageType::G_PDU);
    assert_eq!(g.header.teid, 0x0509_0001);
    let pdu = g.t_pdu().unwrap();
    assert_eq!(pdu.len(), 33);
    assert_eq!(pdu.first(), Some(&0x45));
    assert!(pdu.ends_with(b"hello"));

    let e = kat("g_pdu_ext");
    assert_eq!(e.header.sequence, Some(77));
    assert_eq!(e.header.npdu, None);
    let exts = e.header.extensions.as_deref().unwrap();
    assert_eq!(exts.len(), 1);
    assert_eq!(exts[0].ext_type, 0xc0);
    assert_eq!(exts[0].content.as_ref(), [0x01, 0x02]);
    assert!(exts[0].comprehension_required());
    // The extension chain is skipped: the T-PDU is the same packet.
    assert_eq!(e.t_pdu(), g.t_pdu());

    let ei = kat("error_indication");
    assert_eq!(ei.message_type(), MessageType::ERROR_INDICATION);
    assert_eq!(ei.teid_data_i(), Some(0x0509_ffff));
    assert_eq!(ei.gsn_addresses().next(), Some(v4("127.0.0.1")));
}

#[test]
fn view_reads_the_mandatory_header() {
    let bytes = vector("g_pdu_ext");
    let v = GtpView::new_checked(&bytes[..]).unwrap();
    assert_eq!(v.message_type(), MessageType::G_PDU);
    assert_eq!(v.teid(), 0x0509_0001);
    assert_eq!(v.sequence(), Some(77));
    assert_eq!(usize::from(v.length()), bytes.len() - 8);
    assert!(GtpView::new_checked(&bytes[..7]).is_err());
}

#[test]
fn refusals_are_typed() {
    // GTPv2 header.
    assert_eq!(
        gtp::parse(&[0x48, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(WireError::UnsupportedVersion { version: 2 })
    );
    assert_eq!(
        gtp::parse(&[0x22, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(WireError::GtpPrime)
    );
    assert_eq!(
        gtp::parse(&[0x32, 1, 0, 4, 0, 0, 0]),
        Err(WireError::Truncated {
            offset: 4,
            field: gtp::Field::Teid
        })
    );
    assert_eq!(
        gtp::parse(&[0x32, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(WireError::BadLength {
            offset: 2,
            field: gtp::Field::Length,
            declared: 5,
            actual: 4
        })
    );
    // An unknown TV IE (type 6, the GTPv0 QoS profile) cannot be delimited.
    assert_eq!(
        gtp::parse(&[0x32, 1, 0, 6, 0, 0, 0, 0, 0, 1, 0, 0, 6, 0]),
        Err(WireError::UnknownTvIe {
            offset: 12,
            ie_type: 6
        })
    );
    // A TLV longer than the message.
    assert_eq!(
        gtp::parse(&[0x32, 1, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0, 131, 0, 9, 0]),
        Err(WireError::BadLength {
            offset: 13,
            field: gtp::Field::IeLength,
            declared: 9,
            actual: 1
        })
    );
    // A zero-length extension header.
    assert_eq!(
        gtp::parse(&[0x34, 255, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x40, 0, 0, 0, 0]),
        Err(WireError::Invalid {
            offset: 12,
            field: gtp::Field::ExtensionHeaderLength
        })
    );
    // A GSN address of 5 octets.
    let e = gtp::parse(&[
        0x32, 2, 0, 12, 0, 0, 0, 0, 0, 1, 0, 0, 133, 0, 5, 1, 2, 3, 4, 5,
    ]);
    assert!(matches!(
        e,
        Err(WireError::Invalid {
            field: gtp::Field::GsnAddressLength,
            ..
        })
    ));
    assert_eq!(e.unwrap_err().offset(), 13);
}

#[test]
fn unknown_tlv_and_unknown_message_types_survive() {
    let m = Message::new(
        MessageType::CREATE_PDP_CONTEXT_REQUEST,
        0,
        1,
        vec![Ie::Tlv {
            ie_type: IeType(200),
            value: Cow::Borrowed(&[1, 2, 3]),
        }],
    );
    let b = m.to_vec().unwrap();
    assert_eq!(gtp::parse(&b).unwrap(), m);
    let raw = Message {
        header: m.header.clone(),
        body: Body::Raw(Cow::Borrowed(&[9, 9, 9])),
    };
    let mut raw = raw;
    raw.header.message_type = MessageType(77);
    let b = raw.to_vec().unwrap();
    assert_eq!(gtp::parse(&b).unwrap(), raw);
}

#[test]
fn emit_refuses_what_cannot_be_encoded() {
    let mut m = Message::g_pdu(1, vec![0u8; 4]);
    m.header.extensions = Some(vec![ExtensionHeader {
        ext_type: 0x40,
        content: Cow::Owned(vec![0; 3]),
    }]);
    assert!(m.to_vec().is_err());
    let m = Message::new(
        MessageType::ECHO_REQUEST,
        0,
        1,
        vec![Ie::Tv {
            ie_type: IeType::RAI,
            value: Cow::Owned(vec![0; 5]),
        }],
    );
    assert!(m.to_vec().is_err());
    let m = Message::g_pdu(1, vec![0u8; 70_000]);
    assert!(m.to_vec().is_err());
}

#[test]
fn builders_read_back() {
    let m = Message::new(
        MessageType::CREATE_PDP_CONTEXT_RESPONSE,
        7,
        3,
        vec![
            Ie::Cause(Cause::REQUEST_ACCEPTED),
            Ie::TeidDataI(0x0102_0001),
            Ie::EndUserAddress(EndUserAddress::ipv4(Some(Ipv4Addr::new(10, 0, 0, 1)))),
            Ie::Apn(Apn::from_name("internet").unwrap()),
        ],
    );
    let b = m.to_vec().unwrap();
    assert_eq!(b.len(), m.encoded_len());
    let back = gtp::parse(&b).unwrap();
    assert_eq!(back, m);
    assert_eq!(
        back.end_user_address().unwrap().ipv4_addr(),
        Some(Ipv4Addr::new(10, 0, 0, 1))
    );
}

#[test]
fn scapy_error_indication_and_version_not_supported() {
    // What the gateway sends for a G-PDU naming no context, byte for byte as scapy builds it.
    let ei = kat("error_indication_udp_port");
    assert_eq!(ei.message_type(), MessageType::ERROR_INDICATION);
    assert_eq!(ei.header.teid, 0);
    assert_eq!(ei.header.sequence, Some(0));
    assert_eq!(ei.header.udp_port(), Some(2152));
    assert_eq!(ei.teid_data_i(), Some(0x0509_ffff));
    assert_eq!(ei.gtp_u_peer_address(), Some(v4("127.0.0.1")));
    let ours = Message::error_indication(0x0509_ffff, v4("127.0.0.1"), Some(2152));
    assert_eq!(ours.to_vec().unwrap(), vector("error_indication_udp_port"));
    assert_eq!(ours, ei);
    // Without the UDP Port extension header: the older vector.
    let plain = Message::error_indication(0x0509_ffff, v4("127.0.0.1"), None);
    assert_eq!(plain.to_vec().unwrap(), vector("error_indication"));
    assert_eq!(plain.header.udp_port(), None);

    let vns = kat("version_not_supported");
    assert_eq!(vns, Message::version_not_supported());
    assert_eq!(
        Message::version_not_supported().to_vec().unwrap(),
        vector("version_not_supported")
    );
    assert!(vns.ies().is_empty());
}

#[test]
fn gtpv2_messages_are_refused_as_another_version() {
    for name in ["gtpv2_echo_request", "gtpv2_create_session_request"] {
        let b = vector(name);
        assert_eq!(gtp::version(&b), Some(2), "{name}");
        assert_eq!(
            gtp::parse(&b),
            Err(WireError::UnsupportedVersion { version: 2 }),
            "{name}"
        );
        assert!(GtpView::new_checked(&b[..]).is_err(), "{name}");
    }
    assert_eq!(gtp::version(&[]), None);
    assert_eq!(gtp::version(&[0x1e]), Some(0), "GTPv0");
}

#[cfg(feature = "proptest")]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use telcp::strategies::gtp as strat;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_emit_parse(m in strat::message()) {
            let b = m.to_vec().unwrap();
            prop_assert_eq!(b.len(), m.encoded_len());
            let back = gtp::parse(&b).unwrap();
            prop_assert_eq!(&back, &m);
            // emit(parse(b)) == b
            prop_assert_eq!(back.to_vec().unwrap(), b);
        }

        #[test]
        fn error_indication_round_trips(
            teid in any::<u32>(), addr in any::<IpAddr>(), port in proptest::option::of(any::<u16>()),
        ) {
            let m = Message::error_indication(teid, addr, port);
            let b = m.to_vec().unwrap();
            prop_assert_eq!(b.len(), m.encoded_len());
            let back = gtp::parse(&b).unwrap();
            prop_assert_eq!(&back, &m);
            prop_assert_eq!(&back.to_vec().unwrap(), &b);
            prop_assert_eq!(back.teid_data_i(), Some(teid));
            prop_assert_eq!(back.gtp_u_peer_address(), Some(addr));
            prop_assert_eq!(back.header.udp_port(), port);
            prop_assert_eq!(back.header.teid, 0);
        }

        #[test]
        fn foreign_versions_are_refused_typed(b in proptest::collection::vec(any::<u8>(), 1..64)) {
            let v = gtp::version(&b).unwrap();
            if v != 1 {
                prop_assert_eq!(gtp::parse(&b), Err(WireError::UnsupportedVersion { version: v }));
            }
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = gtp::parse(&b);
            telcp::harness::steering::gtp_message(&b);
        }

        #[test]
        fn harness_holds_on_mutated_messages(
            m in strat::message(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        ) {
            let mut b = m.to_vec().unwrap();
            for (at, x) in flips {
                if !b.is_empty() {
                    let i = at % b.len();
                    b[i] ^= x;
                }
            }
            telcp::harness::steering::gtp_message(&b);
        }
    }
}

#[test]
fn sgsnemu_captured_requests() {
    let echo = kat("sgsnemu_echo_request");
    assert_eq!(echo.message_type(), MessageType::ECHO_REQUEST);
    assert_eq!(echo.header.sequence, Some(0x0400));
    let m = kat("sgsnemu_create_pdp_request");
    assert_eq!(m.message_type(), MessageType::CREATE_PDP_CONTEXT_REQUEST);
    assert_eq!(m.header.teid, 0);
    assert_eq!(m.imsi().unwrap().digits().as_str(), "240010123456789");
    assert_eq!(m.recovery(), Some(1));
    assert_eq!(m.ie(IeType::SELECTION_MODE), Some(&Ie::SelectionMode(0x01)));
    assert_eq!(
        (m.teid_data_i(), m.teid_control(), m.nsapi()),
        (Some(1), Some(1), Some(0))
    );
    assert!(matches!(
        m.ie(IeType::CHARGING_CHARACTERISTICS),
        Some(Ie::Tv { value, .. }) if value.as_ref() == [0x08, 0x00]
    ));
    let eua = m.end_user_address().unwrap();
    assert_eq!(
        (eua.organization, eua.pdp_type, eua.address.len()),
        (0xf1, 0x21, 0)
    );
    assert_eq!(m.apn().unwrap().name().as_deref(), Some("internet"));
    assert!(matches!(m.ie(IeType::PCO), Some(Ie::Pco(v)) if v.len() == 21));
    let gsn: Vec<IpAddr> = m.gsn_addresses().collect();
    assert_eq!(gsn, [v4("127.0.0.2"), v4("127.0.0.2")]);
    assert!(
        matches!(m.ie(IeType::QOS_PROFILE), Some(Ie::QosProfile(v)) if v.as_ref() == [0, 0x0b, 0x92, 0x1f])
    );
}
