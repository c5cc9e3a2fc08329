//! RFC 4951 (failover) and RFC 3145 (PPP Disconnect Cause Code) on the wire: known answers laid
//! out from the RFC figures by `tests/vectors/l2tp/make_rfc4951.py` (parse field by field, and our
//! builders emit the same octets), the length rules, and the required AVPs of FSQ and FSR.

use telcp::l2tp::wire::avp::{
    AvpValue as V, DisconnectCode, DisconnectDirection, FailoverCapability, FailoverSessionState,
    PppDisconnectCause, SuggestedControlSequence, TunnelRecovery,
};
use telcp::l2tp::wire::{
    Avp, AvpType, ControlMessage, Message, MessageType, ResultCode, ResultCodeValue, WireError,
};

fn vector(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/vectors/l2tp/rfc4951.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no vector {name}"));
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn control(b: &[u8]) -> ControlMessage<'_> {
    match Message::parse(b).unwrap() {
        Message::Control(c) => c,
        Message::Data(_) => panic!("data message"),
    }
}

fn emitted(m: ControlMessage<'_>) -> Vec<u8> {
    Message::Control(m).to_vec()
}

/// RFC 4951 5.2: "This AVP MUST not be hidden (the H-bit is set to 0). The AVP is mandatory
/// (the M-bit is set to 1)." The recovery SCCRQ carries Tunnel Recovery (for L2TPv2: Reserved
/// 16 | Reserved 16, Recover Tunnel ID 16 | Reserved 16, Recover Remote Tunnel ID 16) and,
/// 3.2.1, "The recovery tunnel MUST NOT include the Failover Capability AVP in its SCCRQ or SCCRP
/// messages."
#[test]
fn recovery_sccrq_field_by_field() {
    let b = vector("recovery_sccrq");
    let c = control(&b);
    assert_eq!(c.message_type(), Some(MessageType::SCCRQ));
    let tr = c
        .avps
        .iter()
        .find(|a| a.key() == (0, AvpType::TUNNEL_RECOVERY))
        .unwrap();
    assert!(tr.mandatory && !tr.hidden, "Tunnel Recovery: M=1, H=0");
    assert_eq!(
        c.tunnel_recovery(),
        Some(TunnelRecovery {
            tunnel_id: 0x1111,
            remote_tunnel_id: 0x2222
        })
    );
    assert_eq!(c.failover_capability(), None);
    assert_eq!(c.assigned_tunnel_id(), Some(0x0203));
    assert!(c.check_mandatory().is_ok());
    // Our builder, with the same AVPs, gives the same octets.
    let ours = ControlMessage::sccrq(0x0203, b"lns-b".as_slice(), 3).with(Avp::mandatory(
        V::TunnelRecovery(TunnelRecovery {
            tunnel_id: 0x1111,
            remote_tunnel_id: 0x2222,
        }),
    ));
    assert_eq!(emitted(ours), b);
}

/// RFC 4951 5.3: the Suggested Control Sequence (Reserved 16, Suggested Ns, Suggested Nr) in
/// the recovery SCCRP; "The AVP is not mandatory (the M-bit is set to 0)."
#[test]
fn recovery_sccrp_field_by_field() {
    let b = vector("recovery_sccrp");
    let c = control(&b);
    assert_eq!(c.message_type(), Some(MessageType::SCCRP));
    assert_eq!(
        c.suggested_control_sequence(),
        Some(SuggestedControlSequence { ns: 17, nr: 42 })
    );
    let scs = c
        .avps
        .iter()
        .find(|a| a.key() == (0, AvpType::SUGGESTED_CONTROL_SEQUENCE))
        .unwrap();
    assert!(!scs.mandatory, "Suggested Control Sequence: M=0");
    assert_eq!(c.failover_capability(), None);
    let mut ours = ControlMessage::sccrp(0x0203, 0x0304, b"lac".as_slice(), 3).with(Avp::optional(
        V::SuggestedControlSequence(SuggestedControlSequence { ns: 17, nr: 42 }),
    ));
    ours.header.nr = 1;
    assert_eq!(emitted(ours), b);
}

/// rfc4951-fc-bits: RFC 4951 5.1 lays the Failover Capability out as `Reserved (14) |D|C|` then
/// the Recovery Time in milliseconds (32 bits): the C bit is the last bit of the flags (0x0001),
/// D the one before (0x0002); "the M-bit MUST be set to 0". Both bits (flags 0x0003) with 5000
/// ms, and the C bit alone (0x0001) with 0 ms, read and write as the RFC lays them out.
#[test]
fn rfc4951_fc_bits() {
    assert_eq!(FailoverCapability::C_BIT, 0x0001);
    assert_eq!(FailoverCapability::D_BIT, 0x0002);
    for (name, want, host) in [
        (
            "fc_cd_sccrq",
            FailoverCapability {
                control: true,
                data: true,
                recovery_time_ms: 5000,
            },
            &b"lns-a"[..],
        ),
        (
            "fc_c_sccrp",
            FailoverCapability {
                control: true,
                data: false,
                recovery_time_ms: 0,
            },
            &b"lac"[..],
        ),
    ] {
        let b = vector(name);
        let c = control(&b);
        let fc = c
            .avps
            .iter()
            .find(|a| a.key() == (0, AvpType::FAILOVER_CAPABILITY))
            .unwrap();
        assert!(
            !fc.mandatory,
            "{name}: Failover Capability is sent with M=0"
        );
        assert_eq!(c.failover_capability(), Some(want), "{name}");
        let mut ours = if c.message_type() == Some(MessageType::SCCRQ) {
            ControlMessage::sccrq(0x0102, host, 3)
        } else {
            let mut m = ControlMessage::sccrp(0x0102, 0x0304, host, 3);
            m.header.nr = 1;
            m
        };
        ours.push(Avp::optional(V::FailoverCapability(want)));
        assert_eq!(emitted(ours), b, "{name}");
    }
}

/// RFC 4951: FSQ and FSR (message types 21, 22) carry one Failover Session State per session;
/// an FSR names a session the sender does not have with Session ID 0. RFC 4951 4.1 and 4.2:
/// "The M-bit on the Message Type AVP for this control message MUST be set to 0."
#[test]
fn fsq_fsr_field_by_field() {
    let b = vector("fsq");
    let c = control(&b);
    assert_eq!(c.message_type(), Some(MessageType::FSQ));
    assert_eq!(MessageType::FSQ.0, 21);
    assert_eq!((c.header.ns, c.header.nr, c.header.session_id), (17, 42, 0));
    assert!(!c.avps[0].mandatory, "FSQ: Message Type M=0");
    let q = vec![
        FailoverSessionState {
            session_id: 0x0a0a,
            remote_session_id: 0x0b0b,
        },
        FailoverSessionState {
            session_id: 0x0c0c,
            remote_session_id: 0x0d0d,
        },
    ];
    assert_eq!(c.failover_session_states().collect::<Vec<_>>(), q);
    let mut ours = ControlMessage::fsq(0x2222, &q);
    (ours.header.ns, ours.header.nr) = (17, 42);
    assert_eq!(emitted(ours), b);

    let b = vector("fsr");
    let c = control(&b);
    assert_eq!(c.message_type(), Some(MessageType::FSR));
    assert_eq!(MessageType::FSR.0, 22);
    assert!(!c.avps[0].mandatory, "FSR: Message Type M=0");
    let r = vec![
        FailoverSessionState {
            session_id: 0x0b0b,
            remote_session_id: 0x0a0a,
        },
        FailoverSessionState {
            session_id: 0,
            remote_session_id: 0x0c0c,
        },
    ];
    assert_eq!(c.failover_session_states().collect::<Vec<_>>(), r);
    let mut ours = ControlMessage::fsr(0x1111, &r);
    (ours.header.ns, ours.header.nr) = (42, 18);
    assert_eq!(emitted(ours), b);
    assert!(MessageType::FSQ.is_tunnel_message() && MessageType::FSR.is_tunnel_message());
}

/// rfc3145-3.1-disconnect-cause: the PPP Disconnect Cause Code AVP (46) in a CDN reads and
/// writes as RFC 3145 3.1 lays it out: Disconnect Code, Control Protocol Number, Direction, then
/// the message.
#[test]
fn rfc3145_3_1_disconnect_cause() {
    let b = vector("cdn_ppp_cause");
    let c = control(&b);
    let want = PppDisconnectCause {
        code: DisconnectCode::NORMAL,
        protocol: 0xc021,
        direction: DisconnectDirection::AT_PEER,
        message: b"bye".as_slice().into(),
    };
    assert_eq!(c.ppp_disconnect_cause(), Some(&want));
    let ours = ControlMessage::cdn(
        7,
        9,
        5,
        ResultCode::new(ResultCodeValue::CDN_ADMINISTRATIVE),
    )
    .with(Avp::optional(V::PppDisconnectCauseCode(want)));
    let mut ours = ours;
    (ours.header.ns, ours.header.nr) = (3, 4);
    assert_eq!(emitted(ours), b);
}

/// The length rules: Failover Capability and Suggested Control Sequence are exactly 6 octets of
/// value, Tunnel Recovery and Failover Session State exactly 10 (RFC 4951 5.2, 5.4: the L2TPv2
/// figures), RFC 3145's at least 5.
#[test]
fn failover_and_disconnect_cause_length_rules() {
    for (attr, good) in [(76u16, 6usize), (77, 10), (78, 6), (79, 10), (46, 5)] {
        for len in [0usize, 4, 5, 6, 7, 8, 10, 12] {
            let value = vec![0u8; len];
            let r = V::parse(0, AvpType(attr), &value, 20, 32473);
            let ok = if attr == 46 { len >= good } else { len == good };
            assert_eq!(r.is_ok(), ok, "attr {attr} len {len}: {r:?}");
            if !ok {
                assert!(
                    matches!(r, Err(WireError::BadAvpLength { avp, .. }) if avp == AvpType(attr))
                );
            }
        }
    }
    // Reserved bits are ignored on receipt, sent as 0.
    let v = V::parse(0, AvpType(76), &[0xff, 0xfc, 0, 0, 0, 1], 0, 32473).unwrap();
    // (0xfffc: every reserved bit set, D and C clear.)
    assert_eq!(
        v,
        V::FailoverCapability(FailoverCapability {
            control: false,
            data: false,
            recovery_time_ms: 1
        })
    );
}

/// rfc4951-tr-fss-layout: RFC 4951 5.2 and 5.4 lay the L2TPv2 forms of the Tunnel Recovery
/// (77) and Failover Session State (79) AVPs out in four 32-bit words:
///
/// ```text
/// |M|H| rsvd  |      Length       |                0              |
/// |         Attribute Type 77     |           Reserved            |
/// |         Reserved              |     Recover Tunnel ID         |
/// |         Reserved              |   Recover Remote Tunnel ID    |
/// ```
///
/// (79 alike, with Session ID and Remote Session ID): Length 16, 10 octets of value, each
/// 16-bit id in the low half of a 32-bit word whose high half is reserved (the L2TPv3 form's
/// 32-bit ids). The octets below are that figure's; our parser reads them field by field, our
/// builder emits them, reserved fields set on receipt are ignored, and the 6-octet form (a
/// reserved word followed by the two ids) is refused as a bad length.
#[test]
fn rfc4951_tr_fss_layout() {
    // Tunnel Recovery, M=1 H=0, Length 16: Recover Tunnel ID 0x1234, Recover Remote 0x5678.
    let tr: [u8; 16] = [
        0x80, 0x10, 0x00, 0x00, 0x00, 0x4d, 0x00,
        0x00, // flags/length, vendor 0, type 77, rsvd
        0x00, 0x00, 0x12, 0x34, // reserved, Recover Tunnel ID
        0x00, 0x00, 0x56, 0x78, // reserved, Recover Remote Tunnel ID
    ];
    // Failover Session State, M=1 H=0, Length 16: Session ID 0x0a0b, Remote Session ID 0x0c0d.
    let fss: [u8; 16] = [
        0x80, 0x10, 0x00, 0x00, 0x00, 0x4f, 0x00, 0x00, //
        0x00, 0x00, 0x0a, 0x0b, //
        0x00, 0x00, 0x0c, 0x0d,
    ];
    let want_tr = TunnelRecovery {
        tunnel_id: 0x1234,
        remote_tunnel_id: 0x5678,
    };
    let want_fss = FailoverSessionState {
        session_id: 0x0a0b,
        remote_session_id: 0x0c0d,
    };
    assert_eq!(
        V::parse(0, AvpType::TUNNEL_RECOVERY, &tr[6..], 0, 32473),
        Ok(V::TunnelRecovery(want_tr))
    );
    assert_eq!(
        V::parse(0, AvpType::FAILOVER_SESSION_STATE, &fss[6..], 0, 32473),
        Ok(V::FailoverSessionState(want_fss))
    );
    for (v, octets) in [
        (V::TunnelRecovery(want_tr), &tr),
        (V::FailoverSessionState(want_fss), &fss),
    ] {
        assert_eq!(v.value_len(), 10);
        let mut out = Vec::new();
        Avp::mandatory(v).emit(&mut out);
        assert_eq!(out, octets.to_vec());
    }
    // In a whole message: an FSQ naming the session, as a peer following the figure sends it.
    let mut fsq = vec![0xc8, 0x02, 0, 0, 0x00, 0x07, 0, 0, 0, 0, 0, 0];
    fsq.extend_from_slice(&[0x00, 0x08, 0, 0, 0, 0, 0x00, 21]);
    fsq.extend_from_slice(&fss);
    let len = fsq.len() as u16;
    fsq[2..4].copy_from_slice(&len.to_be_bytes());
    let c = control(&fsq);
    assert_eq!(c.failover_session_states().collect::<Vec<_>>(), [want_fss]);
    assert_eq!(emitted(ControlMessage::fsq(7, &[want_fss])), fsq);
    // Reserved halves set by the sender are ignored (sent as 0 by us, above).
    let mut noisy = tr;
    for i in [6, 7, 8, 9, 12, 13] {
        noisy[i] = 0xff;
    }
    assert_eq!(
        V::parse(0, AvpType::TUNNEL_RECOVERY, &noisy[6..], 0, 32473),
        Ok(V::TunnelRecovery(want_tr))
    );
    // The 6-octet reading (reserved 16, id, id) is not the RFC's: a bad length.
    for attr in [AvpType::TUNNEL_RECOVERY, AvpType::FAILOVER_SESSION_STATE] {
        let r = V::parse(0, attr, &[0, 0, 0x12, 0x34, 0x56, 0x78], 0, 32473);
        assert!(
            matches!(r, Err(WireError::BadAvpLength { avp, .. }) if avp == attr),
            "{attr:?}: {r:?}"
        );
    }
}

/// rfc4951-msg-fsq-fsr: FSQ (21) and FSR (22) require a Failover Session State; with the length
/// rules of `failover_and_disconnect_cause_length_rules` and the layouts of `fsq_fsr_field_by_field`.
#[test]
fn rfc4951_msg_fsq_fsr() {
    for mt in [MessageType::FSQ, MessageType::FSR] {
        assert_eq!(
            mt.mandatory_avps(),
            &[AvpType::MESSAGE_TYPE, AvpType::FAILOVER_SESSION_STATE]
        );
        let bare = ControlMessage::new(mt, 1, 0);
        assert!(matches!(
            bare.check_mandatory(),
            Err(WireError::MissingAvp { avp, .. }) if avp == AvpType::FAILOVER_SESSION_STATE
        ));
    }
}
