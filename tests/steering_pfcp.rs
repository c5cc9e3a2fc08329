//! The PFCP codec (TS 29.244): scapy-built known answers, bounds and refusals, and the round-trip
//! properties (`parse(emit(m)) == m`, `emit(parse(b)) == b`, no panic on any input).
#![cfg(feature = "proptest")]

use proptest::prelude::*;
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};
use telcp::steering::pfcp::{
    ApplyAction, Cause, EmitError, FSeid, FTeid, Field, Ie, IeType, Interface, MAX_DEPTH, MAX_IES,
    Message, MessageType, NodeId, OuterHeaderCreation, UeIpAddress, WireError, parse,
};

fn vector(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/vectors/steering/pfcp/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&p).unwrap();
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

const NAMES: [&str; 17] = [
    "heartbeat_request",
    "heartbeat_response",
    "association_setup_request",
    "association_setup_response",
    "association_update_request",
    "association_update_response",
    "association_release_request",
    "association_release_response",
    "session_establishment_request",
    "session_establishment_response",
    "session_modification_request",
    "session_modification_response",
    "session_deletion_request",
    "session_deletion_response",
    "session_report_request",
    "session_report_response",
    "association_setup_response_teidri",
];

const UPF: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const SMF: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const RTS: u32 = 0xE4F0_1234;

fn grouped<'m>(ie: &'m Ie<'m>, t: IeType) -> &'m Ie<'m> {
    ie.ie(t)
        .unwrap_or_else(|| panic!("{t} missing in {:?}", ie.ie_type()))
}

#[test]
fn every_scapy_vector_parses_to_its_type_and_emits_back_byte_for_byte() {
    // TS 29.244 table 7.3-1: the message types, in the order NAMES lists them.
    let types = [1u8, 2, 5, 6, 7, 8, 9, 10, 50, 51, 52, 53, 54, 55, 56, 57, 6];
    for (name, t) in NAMES.iter().zip(types) {
        let b = vector(name);
        let m = parse(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.message_type(), MessageType(t), "{name}");
        // Section 7.2.2.1: S = 1 exactly for session messages (types 50 and up).
        assert_eq!(m.header.seid.is_some(), t >= 50, "{name}");
        assert_eq!(m.to_vec().unwrap(), b, "{name}");
        assert_eq!(m.encoded_len(), b.len(), "{name}");
        assert_eq!(m.clone().into_owned(), m, "{name}");
        // No IE this crate types was left raw: scapy writes every one in its canonical form.
        fn no_raw_typed(ies: &[Ie<'_>], name: &str) {
            for ie in ies {
                if let Ie::Raw { ie_type, .. } = ie {
                    let typed = [
                        19, 20, 21, 29, 42, 44, 56, 57, 60, 81, 84, 93, 96, 108, 109, 116,
                    ];
                    assert!(!typed.contains(&ie_type.0), "{name}: {ie_type} left raw");
                }
                no_raw_typed(ie.ies(), name);
            }
        }
        no_raw_typed(&m.ies, name);
    }
}

#[test]
fn node_messages_carry_the_values_scapy_set() {
    let hb = vector("heartbeat_request");
    let m = parse(&hb).unwrap();
    // Section 7.4.2.1: a Heartbeat Request carries the Recovery Time Stamp.
    assert_eq!(m.recovery_time_stamp(), Some(RTS));
    assert_eq!(m.header.sequence, 1);
    assert_eq!(
        parse(&vector("heartbeat_response"))
            .unwrap()
            .recovery_time_stamp(),
        Some(RTS + 1)
    );

    let b = vector("association_setup_request");
    let m = parse(&b).unwrap();
    assert_eq!(m.node_id(), Some(&NodeId::Ipv4(SMF)));
    assert_eq!(m.header.sequence, 2);

    let b = vector("association_setup_response");
    let m = parse(&b).unwrap();
    // Section 8.2.38: Node ID type 2 is an FQDN in the label encoding of TS 23.003.
    match m.node_id() {
        Some(NodeId::Fqdn(f)) => assert_eq!(f.name().as_deref(), Some("upf1.example.org")),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.cause(), Some(Cause::REQUEST_ACCEPTED));
    assert!(Cause::REQUEST_ACCEPTED.is_accepted());
    // Section 8.1.1: bit 15 of the type set, the value starts with the Enterprise ID.
    assert_eq!(
        m.ie(IeType(0x8001)),
        Some(&Ie::Enterprise {
            ie_type: IeType(0x8001),
            enterprise_id: 18681,
            value: Cow::Borrowed(&[1, 2][..]),
        })
    );

    let b = vector("association_update_request");
    let m = parse(&b).unwrap();
    // Section 7.2.2.1: MP = 1, the priority in the high four bits of the last header octet.
    assert_eq!(m.header.priority, Some(5));
    assert_eq!(
        m.node_id(),
        Some(&NodeId::Ipv6("2001:db8::20".parse::<Ipv6Addr>().unwrap()))
    );
    for n in [
        "association_update_response",
        "association_release_response",
    ] {
        let b = vector(n);
        let m = parse(&b).unwrap();
        assert_eq!(m.node_id(), Some(&NodeId::Ipv4(UPF)), "{n}");
        assert_eq!(m.cause(), Some(Cause::REQUEST_ACCEPTED), "{n}");
    }
    let b = vector("association_release_request");
    assert_eq!(parse(&b).unwrap().node_id(), Some(&NodeId::Ipv4(SMF)));
}

/// Conformance: pfcp-8.2.82-upiri. scapy's User Plane IP Resource Information: TEIDRI and TEID
/// Range (right-aligned), the addresses, the Network Instance and the Source Interface.
#[test]
fn user_plane_ip_resource_information_carries_the_values_scapy_set() {
    let b = vector("association_setup_response_teidri");
    let m = parse(&b).unwrap();
    let infos: Vec<_> = m
        .ies
        .iter()
        .filter_map(|ie| match ie {
            Ie::UpIpResourceInformation(u) => Some(u.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(infos.len(), 2);
    let a = &infos[0];
    assert_eq!((a.teidri, a.teid_range), (6, 0b101_010));
    assert_eq!((a.ipv4, a.ipv6), (Some(UPF), None));
    assert_eq!((&a.network_instance, a.source_interface), (&None, None));
    // The TEIDs whose top six bits are 101010: VID 5, backup VID 2 of a 3+3-bit layout.
    assert!(a.contains(0xa800_0001) && a.contains(0xabff_ffff));
    assert!(!a.contains(0xac00_0000) && !a.contains(0xa7ff_ffff));
    let v = &infos[1];
    assert_eq!((v.teidri, v.teid_range), (3, 5));
    assert_eq!(v.ipv6, Some("2001:db8::10".parse().unwrap()));
    assert_eq!(v.ipv4, None);
    // Section 8.2.4: the Network Instance is an APN-like label string.
    assert_eq!(v.network_instance.as_deref(), Some(&b"\x08internet"[..]));
    assert_eq!(v.source_interface, Some(Interface::CORE));
}

#[test]
fn session_establishment_request_carries_choose_pdrs_fars_qer_urr() {
    let b = vector("session_establishment_request");
    let m = parse(&b).unwrap();
    // Section 7.2.2.4.2: SEID 0 in a Session Establishment Request.
    assert_eq!(m.header.seid, Some(0));
    assert_eq!(m.header.sequence, 5);
    assert_eq!(
        m.f_seid(),
        Some(FSeid {
            seid: 0x1111,
            ipv4: Some(SMF),
            ipv6: None
        })
    );
    let pdrs: Vec<_> = m.ies_of(IeType::CREATE_PDR).collect();
    assert_eq!(pdrs.len(), 2);
    let up = pdrs[0];
    assert_eq!(grouped(up, IeType::PDR_ID), &Ie::PdrId(1));
    assert_eq!(grouped(up, IeType::PRECEDENCE), &Ie::Precedence(255));
    assert_eq!(grouped(up, IeType::FAR_ID), &Ie::FarId(1));
    assert_eq!(grouped(up, IeType::QER_ID), &Ie::QerId(1));
    let pdi = grouped(up, IeType::PDI);
    assert_eq!(
        grouped(pdi, IeType::SOURCE_INTERFACE),
        &Ie::SourceInterface(Interface::ACCESS)
    );
    // Section 8.2.3: CH = 1 asks the UP function to allocate the F-TEID (an IPv4 one, V4 = 1);
    // CHID = 1 with Choose ID 7.
    assert_eq!(
        grouped(pdi, IeType::F_TEID),
        &Ie::FTeid(FTeid::Choose {
            ipv4: true,
            ipv6: false,
            choose_id: Some(7)
        })
    );
    // Network Instance is not typed: kept raw (its label encoding).
    assert_eq!(
        grouped(pdi, IeType::NETWORK_INSTANCE),
        &Ie::Raw {
            ie_type: IeType::NETWORK_INSTANCE,
            value: Cow::Borrowed(&b"\x08internet"[..])
        }
    );
    assert_eq!(
        grouped(pdi, IeType::UE_IP_ADDRESS),
        &Ie::UeIpAddress(UeIpAddress {
            ipv4: Some(Ipv4Addr::new(10, 45, 0, 7)),
            ..UeIpAddress::default()
        })
    );
    // The downlink PDR: Core, the UE address as destination (S/D = 1, section 8.2.62).
    let dpdi = grouped(pdrs[1], IeType::PDI);
    assert_eq!(
        grouped(dpdi, IeType::SOURCE_INTERFACE),
        &Ie::SourceInterface(Interface::CORE)
    );
    assert!(matches!(
        grouped(dpdi, IeType::UE_IP_ADDRESS),
        Ie::UeIpAddress(UeIpAddress {
            destination: true,
            ..
        })
    ));
    let fars: Vec<_> = m.ies_of(IeType::CREATE_FAR).collect();
    assert_eq!(fars.len(), 2);
    assert_eq!(
        grouped(fars[0], IeType::APPLY_ACTION),
        &Ie::ApplyAction(ApplyAction::new(ApplyAction::FORW as u8))
    );
    let fwd = grouped(fars[1], IeType::FORWARDING_PARAMETERS);
    assert_eq!(
        grouped(fwd, IeType::DESTINATION_INTERFACE),
        &Ie::DestinationInterface(Interface::ACCESS)
    );
    // Section 8.2.56: GTP-U/UDP/IPv4 announces a TEID and an IPv4 address.
    assert_eq!(
        grouped(fwd, IeType::OUTER_HEADER_CREATION),
        &Ie::OuterHeaderCreation(OuterHeaderCreation::gtpu_ipv4(
            0x0A0B_0C0D,
            Ipv4Addr::new(198, 51, 100, 1)
        ))
    );
    let qer = m.ie(IeType::CREATE_QER).unwrap();
    assert_eq!(grouped(qer, IeType::QER_ID), &Ie::QerId(1));
    let urr = m.ie(IeType::CREATE_URR).unwrap();
    assert_eq!(grouped(urr, IeType::URR_ID), &Ie::UrrId(1));
}

#[test]
fn session_answers_and_updates_carry_the_values_scapy_set() {
    let b = vector("session_establishment_response");
    let m = parse(&b).unwrap();
    assert_eq!(m.header.seid, Some(0x1111));
    assert_eq!(m.f_seid().map(|f| f.seid), Some(0x0102_0304_0506_0708));
    let created = m.ie(IeType::CREATED_PDR).unwrap();
    assert_eq!(
        grouped(created, IeType::F_TEID),
        &Ie::FTeid(FTeid::Assigned {
            teid: 0x0509_0001,
            ipv4: Some(UPF),
            ipv6: None
        })
    );
    let b = vector("session_modification_request");
    let m = parse(&b).unwrap();
    assert_eq!(m.header.seid, Some(0x0102_0304_0506_0708));
    let upd = m.ie(IeType::UPDATE_FAR).unwrap();
    let Ie::ApplyAction(a) = grouped(upd, IeType::APPLY_ACTION) else {
        panic!()
    };
    assert!(a.has(ApplyAction::BUFF) && a.has(ApplyAction::NOCP) && !a.has(ApplyAction::FORW));
    let rm = m.ie(IeType::REMOVE_PDR).unwrap();
    assert_eq!(grouped(rm, IeType::PDR_ID), &Ie::PdrId(2));
    let b = vector("session_deletion_request");
    assert!(parse(&b).unwrap().ies.is_empty());
    let b = vector("session_deletion_response");
    assert_eq!(
        parse(&b).unwrap().cause(),
        Some(Cause::SESSION_CONTEXT_NOT_FOUND)
    );
    let b = vector("session_report_request");
    let m = parse(&b).unwrap();
    let ddr = m.ie(IeType::DOWNLINK_DATA_REPORT).unwrap();
    assert_eq!(grouped(ddr, IeType::PDR_ID), &Ie::PdrId(2));
    for n in ["session_modification_response", "session_report_response"] {
        assert_eq!(
            parse(&vector(n)).unwrap().cause(),
            Some(Cause::REQUEST_ACCEPTED)
        );
    }
}

#[test]
fn header_refusals_name_the_field_and_offset() {
    // Section 7.2.2.1: version 2 is not ours (a Version Not Supported Response answers it).
    assert_eq!(
        parse(&[0x41, 1, 0, 4, 0, 0, 1, 0]),
        Err(WireError::UnsupportedVersion { version: 2 })
    );
    assert_eq!(
        parse(&[0x20, 1, 0]),
        Err(WireError::Truncated {
            offset: 2,
            field: Field::Length
        })
    );
    // The length counts the octets after the first four.
    assert_eq!(
        parse(&[0x20, 1, 0, 5, 0, 0, 1, 0]),
        Err(WireError::BadLength {
            offset: 2,
            field: Field::Length,
            length: 5,
            available: 4
        })
    );
    // S = 1 but the SEID does not fit the length.
    assert_eq!(
        parse(&[0x21, 50, 0, 4, 0, 0, 1, 0]),
        Err(WireError::Truncated {
            offset: 4,
            field: Field::Seid
        })
    );
    // An IE whose length runs past the message (section 8.1.1).
    assert_eq!(
        parse(&[0x20, 1, 0, 9, 0, 0, 1, 0, 0, 96, 0, 4, 0xe4]),
        Err(WireError::BadLength {
            offset: 10,
            field: Field::IeLength,
            length: 4,
            available: 1
        })
    );
    // A vendor-specific IE too short for its Enterprise ID.
    assert_eq!(
        parse(&[0x20, 1, 0, 9, 0, 0, 1, 0, 0x80, 1, 0, 1, 0xaa]),
        Err(WireError::Truncated {
            offset: 12,
            field: Field::EnterpriseId
        })
    );
}

#[test]
fn header_spare_bits_are_ignored_and_sent_as_zero() {
    // Section 7.2.2.1: spare bits are sent as 0 and ignored on receipt.
    let b = [0x38, 1, 0, 12, 0, 0, 9, 0x0f, 0, 96, 0, 4, 0, 0, 0, 1];
    let m = parse(&b).unwrap();
    assert_eq!(m.header.priority, None);
    assert_eq!(m.header.sequence, 9);
    let out = m.to_vec().unwrap();
    assert_eq!(out[0], 0x20);
    assert_eq!(out[7], 0);
    assert_eq!(out[1..7], b[1..7]);
}

#[test]
fn a_typed_value_not_in_its_form_is_kept_raw_byte_for_byte() {
    // F-SEID (section 8.2.37) with a spare flag bit set, and a Cause of two octets: neither is
    // the form the typed variant emits, so both stay raw and survive re-emission.
    let b = [
        0x20, 2, 0, 35, 0, 0, 3, 0, 0, 57, 0, 13, 0x82, 0, 0, 0, 0, 0, 0, 0, 7, 10, 0, 0, 1, 0, 19,
        0, 2, 1, 1, 0, 96, 0, 4, 0, 0, 0, 2,
    ];
    let m = parse(&b).unwrap();
    assert!(matches!(
        m.ies[0],
        Ie::Raw {
            ie_type: IeType::F_SEID,
            ..
        }
    ));
    assert!(matches!(
        m.ies[1],
        Ie::Raw {
            ie_type: IeType::CAUSE,
            ..
        }
    ));
    assert_eq!(m.f_seid(), None);
    assert_eq!(m.recovery_time_stamp(), Some(2));
    assert_eq!(m.to_vec().unwrap(), b);
    // Section 8.2.3: CHID may only be set with CH; section 8.2.38: Node ID types 0 to 2 only.
    let b = [
        0x20, 5, 0, 16, 0, 0, 4, 0, 0, 21, 0, 2, 0x09, 7, 0, 60, 0, 2, 3, 0,
    ];
    let m = parse(&b).unwrap();
    assert!(matches!(
        m.ies[0],
        Ie::Raw {
            ie_type: IeType::F_TEID,
            ..
        }
    ));
    assert!(matches!(
        m.ies[1],
        Ie::Raw {
            ie_type: IeType::NODE_ID,
            ..
        }
    ));
    assert_eq!(m.node_id(), None);
    assert_eq!(m.to_vec().unwrap(), b);
}

/// `n` PDIs nested inside each other, with a PDR ID at the bottom.
fn nested(n: usize) -> Ie<'static> {
    (0..n).fold(Ie::PdrId(1), |inner, _| Ie::Grouped {
        ie_type: IeType::PDI,
        ies: vec![inner],
    })
}

#[test]
fn nesting_and_ie_count_are_bounded() {
    // MAX_DEPTH levels of IEs parse; one more is refused on parse and on emit.
    let ok = Message::new(
        MessageType::SESSION_ESTABLISHMENT_REQUEST,
        0,
        1,
        vec![nested(MAX_DEPTH - 1)],
    );
    let b = ok.to_vec().unwrap();
    assert_eq!(parse(&b).unwrap(), ok);
    let deep = Message::new(
        MessageType::SESSION_ESTABLISHMENT_REQUEST,
        0,
        1,
        vec![nested(MAX_DEPTH)],
    );
    assert_eq!(deep.to_vec(), Err(EmitError::TooDeep));
    // The same bytes built by hand: wrap the valid message's IE in one more PDI.
    let inner = &b[16..];
    let mut raw = b[..16].to_vec();
    raw.extend_from_slice(&[0, 2, 0, inner.len() as u8]);
    raw.extend_from_slice(inner);
    let len = (raw.len() - 4) as u16;
    raw[2..4].copy_from_slice(&len.to_be_bytes());
    assert!(matches!(parse(&raw), Err(WireError::TooDeep { .. })));

    let many = Message::new(
        MessageType::HEARTBEAT_REQUEST,
        0,
        1,
        vec![Ie::PdrId(1); MAX_IES],
    );
    let b = many.to_vec().unwrap();
    assert_eq!(parse(&b).unwrap().ies.len(), MAX_IES);
    let too_many = Message::new(
        MessageType::HEARTBEAT_REQUEST,
        0,
        1,
        vec![Ie::PdrId(1); MAX_IES + 1],
    );
    assert_eq!(too_many.to_vec(), Err(EmitError::TooManyIes));
    let mut raw = b.clone();
    raw.extend_from_slice(&[0, 56, 0, 2, 0, 1]);
    let len = (raw.len() - 4) as u16;
    raw[2..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(parse(&raw), Err(WireError::TooManyIes { offset: b.len() }));
}

#[test]
fn emit_refuses_what_would_not_parse_back() {
    let mut m = Message::heartbeat_request(0x0100_0000, 1);
    // Section 7.2.2.1: the sequence number has 24 bits.
    assert_eq!(
        m.to_vec(),
        Err(EmitError::Invalid {
            field: Field::SequenceNumber
        })
    );
    m.header.sequence = 1;
    m.header.priority = Some(16);
    assert_eq!(
        m.to_vec(),
        Err(EmitError::Invalid {
            field: Field::MessagePriority
        })
    );
    let bad = [
        // GTP-U/UDP/IPv4 without its TEID.
        Ie::OuterHeaderCreation(OuterHeaderCreation {
            teid: None,
            ..OuterHeaderCreation::gtpu_ipv4(1, Ipv4Addr::LOCALHOST)
        }),
        Ie::Grouped {
            ie_type: IeType::CAUSE,
            ies: vec![],
        },
        Ie::Raw {
            ie_type: IeType(0x8001),
            value: Cow::Borrowed(&[]),
        },
        Ie::Enterprise {
            ie_type: IeType(1),
            enterprise_id: 1,
            value: Cow::Borrowed(&[]),
        },
        Ie::SourceInterface(Interface(16)),
        Ie::ApplyAction(ApplyAction {
            flags: 0x100,
            extended: false,
        }),
        Ie::NodeId(NodeId::Fqdn(telcp::steering::gtp::Apn(Cow::Borrowed(&[])))),
    ];
    for ie in bad {
        let m = Message::new(MessageType::HEARTBEAT_REQUEST, 0, 1, vec![ie.clone()]);
        assert_eq!(
            m.to_vec(),
            Err(EmitError::Invalid {
                field: Field::IeValue
            }),
            "{ie:?}"
        );
    }
    let big = Ie::Raw {
        ie_type: IeType(200),
        value: Cow::Owned(vec![0; 65536]),
    };
    assert!(matches!(big.check(), Err(EmitError::BadLength { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_of_emit_is_identity(m in telcp::strategies::pfcp::message()) {
        let b = m.to_vec().unwrap();
        prop_assert_eq!(b.len(), m.encoded_len());
        let back = parse(&b).unwrap();
        prop_assert_eq!(&back, &m);
        // emit(parse(b)) == b for well-formed b.
        prop_assert_eq!(back.to_vec().unwrap(), b);
    }

    #[test]
    fn parse_never_panics_and_what_parses_round_trips(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        telcp::harness::steering::pfcp_message(&data);
    }

    #[test]
    fn mutated_vectors_never_panic(i in 0usize..NAMES.len(), pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut b = vector(NAMES[i]);
        let p = pos.index(b.len());
        b[p] = byte;
        telcp::harness::steering::pfcp_message(&b);
        let c = cut.index(b.len());
        telcp::harness::steering::pfcp_message(&b[..c]);
    }
}

#[test]
fn follow_on_messages_share_a_datagram() {
    // Section 7.2.2.1: FO = 1, another PFCP message follows in the same UDP datagram.
    let mut first = Message::heartbeat_request(1, 10);
    first.header.follow_on = true;
    let second = Message::heartbeat_request(2, 10);
    let mut d = first.to_vec().unwrap();
    d.extend_from_slice(&second.to_vec().unwrap());
    let (m1, rest) = Message::parse_first(&d).unwrap();
    assert_eq!(m1, first);
    let (m2, rest) = Message::parse_first(rest).unwrap();
    assert_eq!((m2, rest), (second.clone(), &[][..]));
    // Without FO, trailing octets are refused; `parse` wants exactly one message.
    assert!(matches!(parse(&d), Err(WireError::BadLength { .. })));
    let mut d2 = second.to_vec().unwrap();
    d2.extend_from_slice(&second.to_vec().unwrap());
    assert!(matches!(
        Message::parse_first(&d2),
        Err(WireError::BadLength { .. })
    ));
}

/// TS 29.244 sections 6.2.7.2 and 7.4.4.3: the Association Update Request the switch processor
/// sends when its TEID ranges change (Node ID, then one User Plane IP Resource Information per
/// range, section 8.2.82) is byte for byte the scapy-built one with the same fields.
#[test]
fn up_association_update_with_teid_ranges_is_the_scapy_vector() {
    use telcp::steering::pfcp::teidri::UpIpResourceInformation;
    let b = vector("association_update_request_teidri");
    let range = |teid_range| {
        Ie::UpIpResourceInformation(UpIpResourceInformation {
            teidri: 6,
            teid_range,
            ipv4: Some(UPF),
            ipv6: None,
            network_instance: None,
            source_interface: None,
        })
    };
    let ies = vec![
        Ie::NodeId(NodeId::Ipv4(UPF)),
        range(0b001010),
        range(0b010001),
    ];
    let m = Message::new(MessageType::ASSOCIATION_UPDATE_REQUEST, 0, 9, ies);
    assert_eq!(m.to_vec().unwrap(), b);
    let p = parse(&b).unwrap();
    assert_eq!(p.message_type(), MessageType::ASSOCIATION_UPDATE_REQUEST);
    assert_eq!(p, m);
}
