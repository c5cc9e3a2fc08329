//! GTPv2-C codec (3GPP TS 29.274): known answers built by scapy, refusals, the round-trip
//! properties, and tshark's dissector as a second opinion on what we emit.

mod common;

use std::borrow::Cow;
use std::net::Ipv4Addr;
use telcp::steering::gtpv2::{
    self, Ambr, Apn, BearerQos, Cause, CauseValue, EmitError, Field, Fteid, Ie, IeType, IeValue,
    InterfaceType, MAX_GROUP_DEPTH, MAX_IES, Message, MessageType, OffendingIe, Paa, PlmnId,
    RatType, Tbcd, Uli, WireError,
};

/// Parses a scapy vector, checks emit gives the same bytes back, and returns the message.
fn kat(name: &str) -> Message<'static> {
    let bytes = common::vector("steering/gtpv2", name);
    let msg = gtpv2::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(msg.to_vec().unwrap(), bytes, "{name}: emit(parse(b)) == b");
    msg.into_owned()
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn fteid(interface_type: u8, teid: u32, addr: &str) -> Fteid {
    Fteid {
        interface_type: InterfaceType(interface_type),
        teid,
        ipv4: Some(v4(addr)),
        ipv6: None,
    }
}

fn value<'m>(ies: &'m [Ie<'static>], t: IeType, instance: u8) -> &'m IeValue<'static> {
    &gtpv2::find(ies, t, instance)
        .unwrap_or_else(|| panic!("no {t} instance {instance}"))
        .value
}

fn accepted() -> IeValue<'static> {
    IeValue::Cause(Cause::new(CauseValue::REQUEST_ACCEPTED))
}

/// TS 29.274 section 5.5.1: Echo and Version Not Supported Indication have T = 0 (no TEID).
#[test]
fn scapy_echo_and_version_not_supported_indication() {
    let req = kat("echo_request");
    assert_eq!(req.header, Message::echo_request(0x1234, 5).header);
    assert_eq!(req.recovery(), Some(5));
    assert_eq!(req, Message::echo_request(0x1234, 5));
    let resp = kat("echo_response");
    assert_eq!(resp, Message::echo_response(0x1234, 9));
    let vnsi = kat("version_not_supported_indication");
    assert_eq!(vnsi, Message::version_not_supported_indication(0x1234));
    assert!(vnsi.ies.is_empty() && vnsi.header.teid.is_none());
}

#[test]
fn scapy_create_session_request() {
    let m = kat("create_session_request");
    assert_eq!(m.message_type(), MessageType::CREATE_SESSION_REQUEST);
    // Section 5.5.2: an initial message whose receiver has not given a TEID carries TEID 0.
    assert_eq!(
        (m.header.teid, m.header.sequence, m.header.priority),
        (Some(0), 0x2345, None)
    );
    assert_eq!(m.imsi().unwrap().digits().as_str(), "001010123456789");
    let IeValue::Msisdn(msisdn) = value(&m.ies, IeType::MSISDN, 0) else {
        panic!()
    };
    assert_eq!(msisdn.digits().as_str(), "46702123456");
    // MEI is not modelled: kept raw.
    let IeValue::Raw { value: mei, .. } = value(&m.ies, IeType::MEI, 0) else {
        panic!()
    };
    assert_eq!(Tbcd(mei.clone()).digits().as_str(), "3516920900000001");
    let IeValue::Uli(uli) = value(&m.ies, IeType::ULI, 0) else {
        panic!()
    };
    let tai = uli.tai().unwrap();
    assert_eq!(
        (tai.plmn.mcc().as_str(), tai.plmn.mnc().as_str(), tai.tac),
        ("001", "01", 0x0102)
    );
    assert_eq!(uli.ecgi().unwrap().eci, 0x0123_4567);
    assert_eq!(
        value(&m.ies, IeType::SERVING_NETWORK, 0),
        &IeValue::ServingNetwork(PlmnId::new("001", "01").unwrap())
    );
    assert_eq!(
        value(&m.ies, IeType::RAT_TYPE, 0),
        &IeValue::RatType(RatType::EUTRAN)
    );
    // Indication octet 1 bit 8 DAF, octet 2 bit 4 PS (section 8.12).
    assert_eq!(
        value(&m.ies, IeType::INDICATION, 0),
        &IeValue::Indication(Cow::Borrowed(&[0x80, 0x08]))
    );
    // Table 7.2.1-1: instance 0 the sender's S11 F-TEID, instance 1 the PGW S5/S8 address.
    assert_eq!(m.fteid(0), Some(fteid(10, 0x1111_1111, "10.0.0.1")));
    assert_eq!(m.fteid(1), Some(fteid(7, 0, "10.0.0.3")));
    assert_eq!(
        m.fteid(0).unwrap().interface_type,
        InterfaceType::S11_MME_GTP_C
    );
    let IeValue::Apn(apn) = value(&m.ies, IeType::APN, 0) else {
        panic!()
    };
    assert_eq!(apn.name().unwrap(), "internet");
    assert_eq!(
        value(&m.ies, IeType::SELECTION_MODE, 0),
        &IeValue::SelectionMode(0)
    );
    assert_eq!(value(&m.ies, IeType::PDN_TYPE, 0), &IeValue::PdnType(1));
    assert_eq!(
        value(&m.ies, IeType::PAA, 0),
        &IeValue::Paa(Paa::Ipv4(Ipv4Addr::UNSPECIFIED))
    );
    assert_eq!(
        value(&m.ies, IeType::AMBR, 0),
        &IeValue::Ambr(Ambr {
            uplink: 10000,
            downlink: 20000
        })
    );
    let bc: Vec<_> = m.bearer_contexts().collect();
    assert_eq!(bc.len(), 1);
    assert_eq!(value(bc[0], IeType::EBI, 0), &IeValue::Ebi(5));
    let IeValue::BearerQos(q) = value(bc[0], IeType::BEARER_QOS, 0) else {
        panic!()
    };
    assert_eq!((q.pci(), q.pl(), q.pvi(), q.qci), (true, 11, false, 9));
    assert_eq!((q.mbr_uplink, q.gbr_downlink), (0, 0));

    // Section 5.4: MP = 1 puts the message priority in the high nibble of the last octet.
    let p = kat("create_session_request_priority");
    assert_eq!((p.header.priority, p.header.sequence), (Some(3), 0x2346));
    assert_eq!(p.ies, m.ies);
}

#[test]
fn scapy_create_session_response() {
    let m = kat("create_session_response");
    assert_eq!(m.message_type(), MessageType::CREATE_SESSION_RESPONSE);
    assert_eq!(
        (m.header.teid, m.header.sequence),
        (Some(0x1111_1111), 0x2345)
    );
    assert_eq!(m.cause_value(), Some(CauseValue::REQUEST_ACCEPTED));
    assert!(m.cause().unwrap().value.is_accepted());
    assert_eq!(m.fteid(1), Some(fteid(11, 0x0509_0001, "10.0.0.2")));
    assert_eq!(
        value(&m.ies, IeType::PAA, 0),
        &IeValue::Paa(Paa::Ipv4(v4("10.45.0.7")))
    );
    let bc = m.bearer_contexts().next().unwrap();
    assert_eq!(value(bc, IeType::EBI, 0), &IeValue::Ebi(5));
    assert_eq!(value(bc, IeType::CAUSE, 0), &accepted());
    assert_eq!(
        value(bc, IeType::F_TEID, 0),
        &IeValue::Fteid(fteid(1, 0x0509_0002, "10.0.0.2"))
    );
    let IeValue::Raw {
        value: charging, ..
    } = value(bc, IeType::CHARGING_ID, 0)
    else {
        panic!()
    };
    assert_eq!(charging.as_ref(), &[0, 0, 5, 9]);

    let refused = kat("create_session_response_refused");
    assert_eq!(
        refused.cause_value(),
        Some(CauseValue::ALL_DYNAMIC_ADDRESSES_ARE_OCCUPIED)
    );
    assert!(!refused.cause_value().unwrap().is_accepted());

    // Section 5.5.1: with P = 1 a second message follows in the same datagram.
    let pb = kat("create_session_response_piggybacked");
    let first = Message {
        piggybacked: None,
        ..pb.clone()
    };
    assert_eq!(first, m);
    assert_eq!(
        pb.piggybacked.as_deref(),
        Some(&kat("create_bearer_request"))
    );
}

#[test]
fn scapy_modify_bearer_and_delete_session() {
    let m = kat("modify_bearer_request");
    assert_eq!(
        (m.message_type(), m.header.teid),
        (MessageType::MODIFY_BEARER_REQUEST, Some(0x0509_0001))
    );
    let bc = m.bearer_contexts().next().unwrap();
    assert_eq!(
        value(bc, IeType::F_TEID, 0),
        &IeValue::Fteid(fteid(0, 0x2222_2222, "10.0.1.1"))
    );
    let r = kat("modify_bearer_response");
    assert_eq!(
        (r.message_type(), r.cause_value()),
        (
            MessageType::MODIFY_BEARER_RESPONSE,
            Some(CauseValue::REQUEST_ACCEPTED)
        )
    );
    assert_eq!(
        value(r.bearer_contexts().next().unwrap(), IeType::CAUSE, 0),
        &accepted()
    );

    let d = kat("delete_session_request");
    assert_eq!(
        (d.message_type(), d.header.sequence),
        (MessageType::DELETE_SESSION_REQUEST, 0x11)
    );
    assert_eq!(value(&d.ies, IeType::EBI, 0), &IeValue::Ebi(5));
    assert_eq!(
        value(&d.ies, IeType::INDICATION, 0),
        &IeValue::Indication(Cow::Borrowed(&[0x08, 0]))
    );
    let dr = kat("delete_session_response");
    assert_eq!(
        dr,
        Message::new(
            MessageType::DELETE_SESSION_RESPONSE,
            Some(0x1111_1111),
            0x11,
            vec![Ie::new(accepted())]
        )
    );
}

#[test]
fn scapy_create_update_delete_bearer() {
    let c = kat("create_bearer_request");
    assert_eq!(
        (c.message_type(), c.header.sequence),
        (MessageType::CREATE_BEARER_REQUEST, 0x12)
    );
    assert_eq!(value(&c.ies, IeType::EBI, 0), &IeValue::Ebi(5));
    let bc = c.bearer_contexts().next().unwrap();
    assert_eq!(value(bc, IeType::EBI, 0), &IeValue::Ebi(0));
    let IeValue::BearerQos(q) = value(bc, IeType::BEARER_QOS, 0) else {
        panic!()
    };
    assert_eq!(
        (
            q.qci,
            q.pl(),
            q.mbr_uplink,
            q.mbr_downlink,
            q.gbr_uplink,
            q.gbr_downlink
        ),
        (1, 2, 128, 128, 64, 64)
    );
    assert_eq!(
        value(bc, IeType::F_TEID, 0),
        &IeValue::Fteid(fteid(1, 0x0509_0003, "10.0.0.2"))
    );
    let cr = kat("create_bearer_response");
    assert_eq!(cr.message_type(), MessageType::CREATE_BEARER_RESPONSE);
    let bc = cr.bearer_contexts().next().unwrap();
    assert_eq!(value(bc, IeType::EBI, 0), &IeValue::Ebi(6));

    let u = kat("update_bearer_request");
    assert_eq!(u.message_type(), MessageType::UPDATE_BEARER_REQUEST);
    assert_eq!(
        value(&u.ies, IeType::AMBR, 0),
        &IeValue::Ambr(Ambr {
            uplink: 30000,
            downlink: 40000
        })
    );
    let IeValue::BearerQos(q) = value(u.bearer_contexts().next().unwrap(), IeType::BEARER_QOS, 0)
    else {
        panic!()
    };
    assert_eq!((q.mbr_uplink, q.gbr_uplink), (256, 128));
    let ur = kat("update_bearer_response");
    assert_eq!(
        (ur.message_type(), ur.cause_value()),
        (
            MessageType::UPDATE_BEARER_RESPONSE,
            Some(CauseValue::REQUEST_ACCEPTED)
        )
    );

    // Table 7.2.9.2-1: the EPS Bearer IDs to delete are EBI instance 1.
    let d = kat("delete_bearer_request");
    assert_eq!(d.message_type(), MessageType::DELETE_BEARER_REQUEST);
    assert_eq!(value(&d.ies, IeType::EBI, 1), &IeValue::Ebi(6));
    assert!(d.ie(IeType::EBI, 0).is_none());
    let dr = kat("delete_bearer_response");
    assert_eq!(
        (dr.message_type(), dr.cause_value()),
        (
            MessageType::DELETE_BEARER_RESPONSE,
            Some(CauseValue::REQUEST_ACCEPTED)
        )
    );
}

/// An IE's bytes: type, length, spare/instance (section 8.2.1).
fn ie(t: u8, instance: u8, v: &[u8]) -> Vec<u8> {
    let mut b = vec![t];
    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
    b.push(instance);
    b.extend_from_slice(v);
    b
}

/// A message's bytes with TEID: flags, type, length, TEID, sequence, spare.
fn msg(flags: u8, t: u8, ies: &[u8]) -> Vec<u8> {
    let mut b = vec![flags, t];
    b.extend_from_slice(&((ies.len() + 8) as u16).to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 7, 0]);
    b.extend_from_slice(ies);
    b
}

#[test]
fn refusals_name_the_field_and_offset() {
    // Section 5.1: the version is 2; a GTPv1 header is refused so that the node can answer with
    // a Version Not Supported Indication (section 7.1.3).
    assert_eq!(
        gtpv2::parse(&[0x32, 1, 0, 4, 0, 0, 0, 0]),
        Err(WireError::UnsupportedVersion {
            offset: 0,
            version: 1
        })
    );
    assert_eq!(
        gtpv2::parse(&[0x48, 32]),
        Err(WireError::Truncated {
            offset: 2,
            field: Field::Length
        })
    );
    // Message length larger than what follows.
    let mut b = msg(0x48, 32, &ie(3, 0, &[1]));
    b[3] += 1;
    assert!(matches!(
        gtpv2::parse(&b),
        Err(WireError::BadLength {
            offset: 2,
            field: Field::Length,
            ..
        })
    ));
    // IE length beyond the message (section 8.2.1).
    let mut b = msg(0x48, 32, &ie(3, 0, &[1]));
    b[14] = 9;
    assert_eq!(
        gtpv2::parse(&b),
        Err(WireError::BadLength {
            offset: 13,
            field: Field::IeLength,
            length: 9,
            available: 1
        })
    );
    // A datagram longer than the message, P = 0.
    let mut b = msg(0x48, 32, &[]);
    b.push(0);
    assert!(matches!(
        gtpv2::parse(&b),
        Err(WireError::BadLength {
            offset: 2,
            field: Field::Length,
            ..
        })
    ));
    // P = 1 with nothing piggybacked.
    assert_eq!(
        gtpv2::parse(&msg(0x58, 33, &[])),
        Err(WireError::Truncated {
            offset: 12,
            field: Field::PiggybackedMessage
        })
    );
    // Section 5.5.1: the piggybacked message's P flag is 0.
    let mut b = msg(0x58, 33, &[]);
    b.extend(msg(0x58, 95, &[]));
    assert_eq!(
        gtpv2::parse(&b),
        Err(WireError::Invalid {
            offset: 12,
            field: Field::Flags
        })
    );
    // Short header: T = 1 needs the TEID.
    assert_eq!(
        gtpv2::parse(&[0x48, 32, 0, 2, 0, 0]),
        Err(WireError::Truncated {
            offset: 4,
            field: Field::Teid
        })
    );
}

#[test]
fn grouping_and_ie_count_are_bounded() {
    let mut inner = ie(73, 0, &[5]);
    for _ in 0..MAX_GROUP_DEPTH {
        inner = ie(93, 0, &inner);
    }
    assert!(gtpv2::parse(&msg(0x48, 32, &inner)).is_ok());
    let deeper = ie(93, 0, &inner);
    assert!(matches!(
        gtpv2::parse(&msg(0x48, 32, &deeper)),
        Err(WireError::TooDeep { .. })
    ));
    let many: Vec<u8> = (0..=MAX_IES).flat_map(|_| ie(3, 0, &[1])).collect();
    assert_eq!(
        gtpv2::parse(&msg(0x48, 32, &many)),
        Err(WireError::TooManyIes {
            offset: 12 + 5 * MAX_IES
        })
    );
    let enough: Vec<u8> = (0..MAX_IES).flat_map(|_| ie(3, 0, &[1])).collect();
    assert_eq!(
        gtpv2::parse(&msg(0x48, 32, &enough)).unwrap().ies.len(),
        MAX_IES
    );
}

/// A known type whose value does not have its section's layout is kept raw, byte for byte, for
/// the receiver to refuse as an incorrect IE (section 7.7.8 would apply to a mandatory one).
#[test]
fn misshapen_known_ies_are_kept_raw() {
    let ies = [
        ie(87, 0, &[0x8a, 0, 0, 0, 1]), // F-TEID: V4 set, no address
        ie(79, 0, &[1, 10, 0, 0]),      // PAA: IPv4, three octets
        ie(79, 0, &[5, 0]),             // PAA: Ethernet, not modelled
        ie(2, 0, &[16, 0, 1]),          // Cause: three octets
        ie(80, 0, &[0; 21]),            // Bearer QoS: one octet short
        ie(3, 0, &[1, 2]),              // Recovery: two octets
        ie(83, 0, &[0, 0xf1]),          // Serving Network: two octets
    ]
    .concat();
    let b = msg(0x48, 32, &ies);
    let m = gtpv2::parse(&b).unwrap();
    assert_eq!(m.ies.len(), 7);
    assert!(
        m.ies
            .iter()
            .all(|ie| matches!(ie.value, IeValue::Raw { .. }))
    );
    assert_eq!(m.to_vec().unwrap(), b);
    // The offending-IE form of the Cause (section 8.4) is typed.
    let b = msg(0x48, 33, &ie(2, 0, &[69, 0x02, 87, 0, 0, 1]));
    let c = gtpv2::parse(&b).unwrap().cause().unwrap();
    assert_eq!(c.value, CauseValue::MANDATORY_IE_INCORRECT);
    assert!(c.bce() && !c.pce() && !c.cs());
    assert_eq!(
        c.offending,
        Some(OffendingIe {
            ie_type: IeType::F_TEID,
            length: 0,
            instance: 1
        })
    );
}

#[test]
fn emit_refuses_what_does_not_fit_the_wire() {
    let mut m = Message::echo_request(1 << 24, 1);
    assert_eq!(
        m.to_vec(),
        Err(EmitError::OutOfRange {
            field: Field::SequenceNumber
        })
    );
    m.header.sequence = 1;
    m.header.priority = Some(16);
    assert_eq!(
        m.to_vec(),
        Err(EmitError::OutOfRange {
            field: Field::MessagePriority
        })
    );
    m.header.priority = None;
    m.ies[0].instance = 16;
    assert_eq!(
        m.to_vec(),
        Err(EmitError::OutOfRange {
            field: Field::IeInstance
        })
    );
    let qos = BearerQos {
        arp: 0,
        qci: 9,
        mbr_uplink: 1 << 40,
        mbr_downlink: 0,
        gbr_uplink: 0,
        gbr_downlink: 0,
    };
    let m = Message::new(
        MessageType::CREATE_BEARER_REQUEST,
        Some(1),
        1,
        vec![Ie::new(IeValue::BearerQos(qos))],
    );
    assert_eq!(
        m.to_vec(),
        Err(EmitError::OutOfRange {
            field: Field::BitRate
        })
    );
    let f = Fteid {
        interface_type: InterfaceType(64),
        ..fteid(0, 1, "10.0.0.1")
    };
    let m = Message::new(
        MessageType::CREATE_BEARER_REQUEST,
        Some(1),
        1,
        vec![Ie::new(IeValue::Fteid(f))],
    );
    assert_eq!(
        m.to_vec(),
        Err(EmitError::OutOfRange {
            field: Field::InterfaceType
        })
    );
    let mut deep = Ie::new(IeValue::Ebi(5));
    for _ in 0..=MAX_GROUP_DEPTH {
        deep = Ie::new(IeValue::Grouped {
            ie_type: IeType::BEARER_CONTEXT,
            ies: vec![deep],
        });
    }
    let m = Message::new(MessageType::CREATE_BEARER_REQUEST, Some(1), 1, vec![deep]);
    assert_eq!(m.to_vec(), Err(EmitError::TooDeep));
    let big = Ie::new(IeValue::Raw {
        ie_type: IeType(200),
        value: Cow::Owned(vec![0; 65536]),
    });
    assert_eq!(
        big.check(),
        Err(EmitError::BadLength {
            field: Field::IeValue,
            length: 65536
        })
    );
    let mut pb = Message::echo_request(1, 1);
    pb.piggybacked = Some(Box::new(Message {
        piggybacked: Some(Box::new(Message::echo_request(2, 1))),
        ..Message::echo_request(3, 1)
    }));
    assert_eq!(pb.to_vec(), Err(EmitError::NestedPiggyback));
}

#[test]
fn value_helpers_follow_the_encodings() {
    // TS 24.008 10.5.1.13: 001/01 is 00 f1 10; 310/410 is 13 00 14.
    assert_eq!(PlmnId::new("001", "01").unwrap().0, [0x00, 0xf1, 0x10]);
    let p = PlmnId::new("310", "410").unwrap();
    assert_eq!(p.0, [0x13, 0x00, 0x14]);
    assert_eq!((p.mcc().as_str(), p.mnc().as_str()), ("310", "410"));
    assert!(PlmnId::new("31", "41").is_none());
    // TS 29.274 8.3: odd digit count padded with 0xF.
    assert_eq!(
        Tbcd::from_digits("12345").unwrap().0.as_ref(),
        &[0x21, 0x43, 0xf5]
    );
    let u = Uli {
        flags: 0x01,
        parts: Cow::Borrowed(&[0; 7]),
    };
    assert!(u.tai().is_none() && u.ecgi().is_none());
    assert_eq!(
        Apn::from_name("internet").unwrap().name().unwrap(),
        "internet"
    );
}

/// Every message type the brief names, built with this crate, as tshark should read them.
fn ours() -> Vec<(Message<'static>, Vec<(&'static str, String)>)> {
    let sgw = "10.0.0.2";
    let bc = |ies: Vec<Ie<'static>>| {
        Ie::new(IeValue::Grouped {
            ie_type: IeType::BEARER_CONTEXT,
            ies,
        })
    };
    let qos = BearerQos {
        arp: 0x48,
        qci: 9,
        mbr_uplink: 0,
        mbr_downlink: 0,
        gbr_uplink: 0,
        gbr_downlink: 0,
    };
    let plmn = PlmnId::new("001", "01").unwrap();
    let csr = Message::new(
        MessageType::CREATE_SESSION_REQUEST,
        Some(0),
        0x2345,
        vec![
            Ie::new(IeValue::Imsi(Tbcd::from_digits("001010123456789").unwrap())),
            Ie::new(IeValue::Msisdn(Tbcd::from_digits("46702123456").unwrap())),
            Ie::new(IeValue::Uli(Uli::eutran(
                gtpv2::Tai { plmn, tac: 0x0102 },
                gtpv2::Ecgi {
                    plmn,
                    eci: 0x0123_4567,
                },
            ))),
            Ie::new(IeValue::ServingNetwork(plmn)),
            Ie::new(IeValue::RatType(RatType::EUTRAN)),
            Ie::new(IeValue::Indication(Cow::Borrowed(&[0x80, 0x08]))),
            Ie::new(IeValue::Fteid(fteid(10, 0x1111_1111, "10.0.0.1"))),
            Ie::with_instance(1, IeValue::Fteid(fteid(7, 0, "10.0.0.3"))),
            Ie::new(IeValue::Apn(Apn::from_name("internet").unwrap())),
            Ie::new(IeValue::SelectionMode(0)),
            Ie::new(IeValue::PdnType(1)),
            Ie::new(IeValue::Paa(Paa::Ipv4(Ipv4Addr::UNSPECIFIED))),
            Ie::new(IeValue::Ambr(Ambr {
                uplink: 10000,
                downlink: 20000,
            })),
            bc(vec![
                Ie::new(IeValue::Ebi(5)),
                Ie::new(IeValue::BearerQos(qos)),
            ]),
        ],
    );
    let mut csr_mp = csr.clone();
    csr_mp.header.priority = Some(3);
    let cs_resp = Message::new(
        MessageType::CREATE_SESSION_RESPONSE,
        Some(0x1111_1111),
        0x2345,
        vec![
            Ie::new(accepted()),
            Ie::with_instance(1, IeValue::Fteid(fteid(11, 0x0509_0001, sgw))),
            Ie::new(IeValue::Paa(Paa::Ipv4(v4("10.45.0.7")))),
            bc(vec![
                Ie::new(IeValue::Ebi(5)),
                Ie::new(accepted()),
                Ie::new(IeValue::Fteid(fteid(1, 0x0509_0002, sgw))),
            ]),
        ],
    );
    let cbr = Message::new(
        MessageType::CREATE_BEARER_REQUEST,
        Some(0x1111_1111),
        0x12,
        vec![
            Ie::new(IeValue::Ebi(5)),
            bc(vec![
                Ie::new(IeValue::Ebi(0)),
                Ie::new(IeValue::BearerQos(BearerQos {
                    qci: 1,
                    mbr_uplink: 128,
                    gbr_uplink: 64,
                    ..qos
                })),
                Ie::new(IeValue::Fteid(fteid(1, 0x0509_0003, sgw))),
            ]),
        ],
    );
    let mut piggy = cs_resp.clone();
    piggy.piggybacked = Some(Box::new(cbr.clone()));
    let answer = |t, teid, seq, ebi: u8| {
        Message::new(
            t,
            Some(teid),
            seq,
            vec![
                Ie::new(accepted()),
                bc(vec![Ie::new(IeValue::Ebi(ebi)), Ie::new(accepted())]),
            ],
        )
    };
    let refused = Message::new(
        MessageType::CREATE_SESSION_RESPONSE,
        Some(0x1111_1111),
        0x2347,
        vec![Ie::new(IeValue::Cause(Cause {
            value: CauseValue::MANDATORY_IE_INCORRECT,
            flags: 0,
            offending: Some(OffendingIe {
                ie_type: IeType::F_TEID,
                length: 0,
                instance: 0,
            }),
        }))],
    );
    let s = |v: &str| v.to_string();
    vec![
        (
            Message::echo_request(0x1234, 5),
            vec![("gtpv2.rec", s("5"))],
        ),
        (
            Message::echo_response(0x1234, 9),
            vec![("gtpv2.rec", s("9"))],
        ),
        (Message::version_not_supported_indication(0x1234), vec![]),
        (
            csr,
            vec![
                ("e212.imsi", s("001010123456789")),
                ("gtpv2.f_teid_gre_key", s("0x11111111,0x00000000")),
                ("gtpv2.apn", s("internet")),
                ("gtpv2.rat_type", s("6")),
                ("gtpv2.ebi", s("5")),
                ("gtpv2.tai_tac", s("0x0102")),
            ],
        ),
        (csr_mp, vec![("gtpv2.mp", s("1,0x03"))]),
        (
            cs_resp,
            vec![
                ("gtpv2.cause", s("16,16")),
                ("gtpv2.f_teid_gre_key", s("0x05090001,0x05090002")),
                ("gtpv2.pdn_addr_and_prefix.ipv4", s("10.45.0.7")),
            ],
        ),
        (
            refused,
            vec![("gtpv2.cause", s("69")), ("gtpv2.cause_off_ie_t", s("87"))],
        ),
        (
            Message::new(
                MessageType::MODIFY_BEARER_REQUEST,
                Some(0x0509_0001),
                0x10,
                vec![bc(vec![
                    Ie::new(IeValue::Ebi(5)),
                    Ie::new(IeValue::Fteid(fteid(0, 0x2222_2222, "10.0.1.1"))),
                ])],
            ),
            vec![("gtpv2.f_teid_gre_key", s("0x22222222"))],
        ),
        (
            answer(MessageType::MODIFY_BEARER_RESPONSE, 0x1111_1111, 0x10, 5),
            vec![("gtpv2.cause", s("16,16"))],
        ),
        (
            Message::new(
                MessageType::DELETE_SESSION_REQUEST,
                Some(0x0509_0001),
                0x11,
                vec![Ie::new(IeValue::Ebi(5))],
            ),
            vec![("gtpv2.ebi", s("5"))],
        ),
        (
            Message::new(
                MessageType::DELETE_SESSION_RESPONSE,
                Some(0x1111_1111),
                0x11,
                vec![Ie::new(accepted())],
            ),
            vec![("gtpv2.cause", s("16"))],
        ),
        (
            cbr,
            vec![
                ("gtpv2.bearer_qos_label_qci", s("1")),
                ("gtpv2.f_teid_gre_key", s("0x05090003")),
            ],
        ),
        (
            answer(MessageType::CREATE_BEARER_RESPONSE, 0x0509_0001, 0x12, 6),
            vec![("gtpv2.ebi", s("6"))],
        ),
        (
            Message::new(
                MessageType::UPDATE_BEARER_REQUEST,
                Some(0x1111_1111),
                0x13,
                vec![
                    bc(vec![
                        Ie::new(IeValue::Ebi(6)),
                        Ie::new(IeValue::BearerQos(qos)),
                    ]),
                    Ie::new(IeValue::Ambr(Ambr {
                        uplink: 30000,
                        downlink: 40000,
                    })),
                ],
            ),
            vec![("gtpv2.ambr_up", s("30000"))],
        ),
        (
            answer(MessageType::UPDATE_BEARER_RESPONSE, 0x0509_0001, 0x13, 6),
            vec![("gtpv2.cause", s("16,16"))],
        ),
        (
            Message::new(
                MessageType::DELETE_BEARER_REQUEST,
                Some(0x1111_1111),
                0x14,
                vec![Ie::with_instance(1, IeValue::Ebi(6))],
            ),
            vec![("gtpv2.ebi", s("6"))],
        ),
        (
            answer(MessageType::DELETE_BEARER_RESPONSE, 0x0509_0001, 0x14, 6),
            vec![("gtpv2.cause", s("16,16"))],
        ),
        (
            piggy,
            vec![("gtpv2.p", s("1,0")), ("gtpv2.message_type", s("33,95"))],
        ),
    ]
}

#[cfg(feature = "pcap")]
#[test]
fn tshark_reads_what_we_emit() {
    use std::net::SocketAddr;
    use std::time::Duration;
    use telcp::pcap::PcapWriter;
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let msgs = ours();
    let cap = common::Capture::written("gtpv2-tshark", "gtpv2.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        let src: SocketAddr = "127.0.0.2:2123".parse().unwrap();
        let dst: SocketAddr = "127.0.0.1:2123".parse().unwrap();
        for (i, (m, _)) in msgs.iter().enumerate() {
            let b = m.to_vec().unwrap();
            assert_eq!(gtpv2::parse(&b).as_ref(), Ok(m));
            w.write_udp(Duration::from_millis(i as u64), src, dst, &b)
                .unwrap();
        }
        drop(w.into_inner());
    });
    cap.assert_clean("frame");
    let mut fields = vec!["gtpv2.message_type", "gtpv2.seq"];
    for (_, checks) in &msgs {
        for (f, _) in checks {
            if !fields.contains(f) {
                fields.push(f);
            }
        }
    }
    let text = cap.fields("frame", &fields);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), msgs.len(), "{text}");
    for ((m, checks), line) in msgs.iter().zip(&lines) {
        let cols: Vec<&str> = line.split('|').collect();
        let col = |name: &str| cols[fields.iter().position(|f| *f == name).unwrap()];
        if m.piggybacked.is_none() {
            assert_eq!(
                col("gtpv2.message_type"),
                m.message_type().0.to_string(),
                "{line}"
            );
            assert_eq!(
                col("gtpv2.seq"),
                format!("0x{:06x}", m.header.sequence),
                "{line}"
            );
        }
        for (f, want) in checks {
            assert_eq!(col(f), want, "{f} in {line}\n{text}");
        }
    }
}

/// Every message type of the brief is among the scapy vectors and among what tshark reads.
#[test]
fn every_named_message_type_has_known_answers() {
    let names = [
        "echo_request",
        "echo_response",
        "version_not_supported_indication",
        "create_session_request",
        "create_session_response",
        "modify_bearer_request",
        "modify_bearer_response",
        "delete_session_request",
        "delete_session_response",
        "create_bearer_request",
        "create_bearer_response",
        "update_bearer_request",
        "update_bearer_response",
        "delete_bearer_request",
        "delete_bearer_response",
    ];
    let mut from_scapy: Vec<u8> = names.iter().map(|n| kat(n).message_type().0).collect();
    from_scapy.sort();
    let mut built: Vec<u8> = ours().iter().map(|(m, _)| m.message_type().0).collect();
    built.sort();
    built.dedup();
    let want = vec![1, 2, 3, 32, 33, 34, 35, 36, 37, 95, 96, 97, 98, 99, 100];
    assert_eq!(from_scapy, want);
    assert_eq!(built, want);
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use telcp::strategies::gtpv2 as strat;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// parse(emit(m)) == m and emit(parse(b)) == b for b = emit(m).
        #[test]
        fn parse_emit_parse(m in strat::message()) {
            let b = m.to_vec().unwrap();
            prop_assert_eq!(b.len(), m.encoded_len());
            let back = gtpv2::parse(&b).unwrap();
            prop_assert_eq!(&back, &m);
            prop_assert_eq!(back.to_vec().unwrap(), b);
        }

        /// Parsing never panics on arbitrary bytes, and what parses re-emits canonically.
        #[test]
        fn arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            telcp::harness::gtpv2::gtpv2_message(&b);
        }

        /// Nor on a well-formed message with a few octets changed or cut.
        #[test]
        fn mutated_messages(m in strat::message(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
            let mut b = m.to_vec().unwrap();
            for (at, v) in edits {
                let n = b.len();
                b[at % n] = v;
            }
            telcp::harness::gtpv2::gtpv2_message(&b);
            b.truncate(cut % (b.len() + 1));
            telcp::harness::gtpv2::gtpv2_message(&b);
        }

        /// Headers: T, MP and the 24-bit sequence number round-trip.
        #[test]
        fn headers(h in strat::header()) {
            let m = Message { header: h, ies: vec![], piggybacked: None };
            let b = m.to_vec().unwrap();
            prop_assert_eq!(b[0] & 0x08 != 0, h.teid.is_some());
            prop_assert_eq!(b[0] & 0x04 != 0, h.priority.is_some());
            prop_assert_eq!(gtpv2::parse(&b).unwrap().header, h);
        }
    }
}
