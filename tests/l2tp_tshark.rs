//! tshark as a second opinion: one pcap with every L2TP message type we emit (UDP 1701), every
//! packet must dissect as L2TP with the message type we meant, and tshark must report no malformed
//! packet and no error-level expert info. Skips when tshark is absent.
#![cfg(feature = "pcap")]

mod common;

use common::Capture;
use common::l2tp::{add_lac, add_lns, lns_config_of};

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;
use telcp::l2tp::wire::avp::{AvpValue as V, CallErrors};
use telcp::l2tp::wire::{
    Avp, ControlMessage, DEFAULT_ENTERPRISE, DataMessage, ErrorCode, Message, MessageType,
    ResultCode, ResultCodeValue,
};
use telcp::pcap::PcapWriter;

fn messages() -> Vec<(Option<MessageType>, Message<'static>)> {
    let rv = Avp::mandatory(V::RandomVector(Cow::Borrowed(b"0123456789abcdef")));
    let lbc = Avp::optional(V::LoadBalanceCapable {
        vendor: DEFAULT_ENTERPRISE,
    });
    let mut hidden_icrq = ControlMessage::icrq(7, 0, 1);
    hidden_icrq.avps.insert(1, rv.clone());
    hidden_icrq.avps[2] = hidden_icrq.avps[2].clone().hide();
    hidden_icrq.hide(b"secret").unwrap();
    let controls = vec![
        ControlMessage::sccrq(1, b"lac".as_slice(), 3)
            .with(Avp::mandatory(V::BearerCapabilities(3)))
            .with(Avp::mandatory(V::ReceiveWindowSize(8)))
            .with(Avp::mandatory(V::TieBreaker(0x0102030405060708)))
            .with(Avp::mandatory(V::Challenge(Cow::Borrowed(
                b"challenge-16byte",
            ))))
            .with(Avp::optional(V::FirmwareRevision(1)))
            .with(Avp::optional(V::VendorName(Cow::Borrowed(b"telcp"))))
            .with(lbc.clone()),
        ControlMessage::sccrp(1, 2, b"lns".as_slice(), 3)
            .with(Avp::mandatory(V::ChallengeResponse([7; 16]))),
        ControlMessage::scccn(2).with(Avp::mandatory(V::ChallengeResponse([9; 16]))),
        ControlMessage::stopccn(
            2,
            1,
            ResultCode::try_another_directed(
                ResultCodeValue::STOPCCN_GENERAL_ERROR,
                &["192.0.2.10".parse().unwrap()],
            ),
        ),
        ControlMessage::hello(2),
        ControlMessage::ocrq(2, 5, 1, 9600, 64000, 1, 1, b"5551234".as_slice()),
        ControlMessage::ocrp(2, 5, 6).with(Avp::optional(V::PhysicalChannelId(3))),
        ControlMessage::occn(2, 6, 64000, 1).with(Avp::optional(V::RxConnectSpeed(64000))),
        ControlMessage::icrq(2, 5, 1)
            .with(Avp::mandatory(V::BearerType(1)))
            .with(Avp::mandatory(V::CallingNumber(Cow::Borrowed(b"5550000"))))
            .with(Avp::mandatory(V::CalledNumber(Cow::Borrowed(b"5551111"))))
            .with(lbc),
        ControlMessage::icrp(2, 5, 6).with(Avp::optional(V::RedirectTarget {
            vendor: DEFAULT_ENTERPRISE,
            addr: "192.0.2.20".parse().unwrap(),
        })),
        ControlMessage::iccn(2, 6, 64000, 1)
            .with(Avp::optional(V::InitialReceivedLcpConfreq(Cow::Borrowed(
                &[1, 4, 5, 0xdc],
            ))))
            .with(Avp::mandatory(V::ProxyAuthenType(2)))
            .with(Avp::mandatory(V::ProxyAuthenName(Cow::Borrowed(b"user"))))
            .with(Avp::mandatory(V::ProxyAuthenId(1)))
            .with(Avp::mandatory(V::SequencingRequired)),
        ControlMessage::cdn(
            2,
            6,
            5,
            ResultCode::with_error(
                ResultCodeValue::CDN_GENERAL_ERROR,
                ErrorCode::TRY_ANOTHER,
                b"".as_slice(),
            ),
        )
        .with(Avp::optional(V::Q931CauseCode {
            cause: 16,
            message: 0x5a,
            advisory: Cow::Borrowed(b""),
        })),
        ControlMessage::wen(
            2,
            6,
            CallErrors {
                crc: 1,
                framing: 2,
                hardware_overruns: 3,
                buffer_overruns: 4,
                timeouts: 5,
                alignment: 6,
            },
        ),
        ControlMessage::sli(2, 6, 0xffff_ffff, 0),
        hidden_icrq,
    ];
    let mut out: Vec<_> = controls
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            c.header.ns = i as u16;
            c.header.nr = 1;
            (c.message_type(), Message::Control(c))
        })
        .collect();
    out.push((None, Message::Control(ControlMessage::zlb(2, 15, 3))));
    out.push((
        None,
        Message::Data(DataMessage::new(
            2,
            6,
            b"\xff\x03\xc0\x21\x01\x01\x00\x04".as_slice(),
        )),
    ));
    out
}

#[test]
fn tshark_dissects_every_message_type() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let msgs = messages();
    let cap = Capture::written("l2tp", "messages.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        let a: SocketAddr = "192.0.2.1:1701".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:1701".parse().unwrap();
        for (i, (_, m)) in msgs.iter().enumerate() {
            let bytes = m.to_vec();
            // Every message parses back, as a sanity check before asking tshark.
            assert!(Message::parse(&bytes).is_ok());
            w.write_udp(Duration::from_millis(i as u64), a, b, &bytes)
                .unwrap();
        }
    });
    let text = cap.run(&[
        "-T",
        "fields",
        "-e",
        "frame.protocols",
        "-e",
        "l2tp.avp.message_type",
        "-e",
        "_ws.malformed",
        "-e",
        "_ws.expert.severity",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), msgs.len(), "{text}");
    for (line, (mt, _)) in lines.iter().zip(&msgs) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols[0].contains("l2tp"), "not L2TP: {line}");
        let want = mt.map(|t| t.0.to_string()).unwrap_or_default();
        assert_eq!(cols.get(1).copied().unwrap_or(""), want, "{line}");
        assert_eq!(cols.get(2).copied().unwrap_or(""), "", "malformed: {line}");
    }
    cap.assert_no_expert_errors();
}

/// The machines' own traffic as a second opinion: a lossy simulated run (tunnel set-up with
/// challenge and hidden AVPs, a redirected call, data, HELLO, teardown) written as pcap; every
/// packet dissects as L2TP and tshark reports no malformed packet or expert error.
#[cfg(feature = "sim")]
#[test]
fn tshark_dissects_a_simulated_redirect_run() {
    use std::time::Instant;
    use telcp::l2tp::pool::MemberState;
    use telcp::l2tp::{Config, Lac, LacConfig, Lns};
    use telcp::sim::{LinkConfig, Sim};
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let a = |s: &str| -> SocketAddr { format!("{s}:1701").parse().unwrap() };
    let common = |seed| Config {
        seed: telcp::io::seed(seed),
        secret: Some(b"pcap".to_vec()),
        challenge: true,
        hide_avps: true,
        ..Default::default()
    };
    let now = Instant::now();
    let mut sim = Sim::new(4, now);
    sim.set_default_link(LinkConfig::lossy(0.1, 0.05, 0.05));
    let mut lc = LacConfig::new(a("10.0.0.1"));
    lc.common = common(1);
    let lac = add_lac(&mut sim, "lac", "10.0.9.1", lc);
    let contact = add_lns(&mut sim, "contact", "10.0.0.1", lns_config_of(common(2)));
    add_lns(&mut sim, "pool", "10.0.1.1", lns_config_of(common(3)));
    sim.node_mut::<Lns>(contact).pool.update(
        "10.0.1.1".parse().unwrap(),
        MemberState::Up,
        0,
        100,
        0,
    );
    sim.node_mut::<Lns>(contact).set_load(95);
    let call = sim.node_mut::<Lac>(lac).open_session(now).unwrap();
    sim.run_for(Duration::from_secs(20));
    for _ in 0..5 {
        sim.node_mut::<Lac>(lac)
            .send_ppp(call, b"\xff\x03\xc0\x21\x09\x01\x00\x08\x00\x00\x00\x00")
            .unwrap();
    }
    sim.run_for(Duration::from_secs(130));
    let t = sim.now();
    sim.node_mut::<Lac>(lac)
        .close_session(t, call, telcp::l2tp::Close::default())
        .unwrap();
    sim.run_for(Duration::from_secs(10));
    let cap = Capture::new(&sim, "l2tp-sim", "redirect.pcap");
    let text = cap.run(&[
        "-T",
        "fields",
        "-e",
        "frame.protocols",
        "-e",
        "l2tp.avp.message_type",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 20, "{text}");
    assert!(lines.iter().all(|l| l.contains("l2tp")), "{text}");
    // SCCRQ, SCCRP, SCCCN, ICRQ, ICRP, ICCN, HELLO and CDN all appear.
    for mt in ["1", "2", "3", "10", "11", "12", "6", "14"] {
        assert!(
            lines.iter().any(|l| l.split('\t').nth(1) == Some(mt)),
            "no message type {mt}:\n{text}"
        );
    }
    cap.assert_no_expert_errors();
}

/// RFC 4951 and RFC 3145 through tshark: every AVP we emit is the type tshark names (76 Failover
/// Capability, 77 Tunnel Recovery, 78 Suggested Control Sequence, 79 Failover Session State, 46
/// PPP Disconnect Cause Code), with the length (RFC 4951 5.1 to 5.4: 12 for 76 and 78, 16 for the
/// L2TPv2 forms of 77 and 79) and M bit it reads; FSQ
/// and FSR dissect as message types 21 and 22; tshark decodes every field of the RFC 3145 AVP to
/// the values we meant (it does not decode the RFC 4951 values: `tests/l2tp_wire_failover.rs`
/// checks those against a second encoding).
#[test]
fn tshark_dissects_rfc4951_and_rfc3145() {
    use telcp::l2tp::wire::avp::{
        DisconnectCode, DisconnectDirection, FailoverCapability, FailoverSessionState,
        PppDisconnectCause, SuggestedControlSequence, TunnelRecovery,
    };
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let fss = FailoverSessionState {
        session_id: 5,
        remote_session_id: 6,
    };
    let msgs = [
        ControlMessage::sccrq(1, b"lns".as_slice(), 3)
            .with(Avp::optional(V::FailoverCapability(FailoverCapability {
                control: true,
                data: false,
                recovery_time_ms: 3000,
            })))
            .with(Avp::mandatory(V::TunnelRecovery(TunnelRecovery {
                tunnel_id: 10,
                remote_tunnel_id: 20,
            }))),
        ControlMessage::new(MessageType::SCCRP, 1, 0).with(Avp::optional(
            V::SuggestedControlSequence(SuggestedControlSequence { ns: 4, nr: 9 }),
        )),
        ControlMessage::fsq(20, &[fss]),
        ControlMessage::fsr(10, &[fss, fss]),
        ControlMessage::cdn(
            2,
            6,
            5,
            ResultCode::new(ResultCodeValue::CDN_ADMINISTRATIVE),
        )
        .with(Avp::optional(V::PppDisconnectCauseCode(
            PppDisconnectCause {
                code: DisconnectCode::NORMAL,
                protocol: 0xc021,
                direction: DisconnectDirection::AT_LOCAL,
                message: Cow::Borrowed(b"peer hung up"),
            },
        ))),
    ];
    let cap = Capture::written("l2tp-4951", "failover.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        let a: SocketAddr = "192.0.2.1:1701".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:1701".parse().unwrap();
        for (i, m) in msgs.iter().enumerate() {
            let bytes = Message::Control(m.clone()).to_vec();
            w.write_udp(Duration::from_millis(i as u64), a, b, &bytes)
                .unwrap();
        }
    });
    let text = cap.fields(
        "l2tp",
        &[
            "l2tp.avp.message_type",
            "l2tp.avp.type",
            "l2tp.avp.length",
            "l2tp.avp.mandatory",
            "l2tp.avp.disconnect_code",
            "l2tp.avp.control_protocol_number",
            "l2tp.avp.cause_code_direction",
            "l2tp.avp.cause_code_message",
        ],
    );
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), msgs.len(), "{text}");
    // SCCRQ: ... Failover Capability (76, 12 octets, M=0), Tunnel Recovery (77, 16, M=1).
    assert_eq!(lines[0][0], "1");
    assert!(lines[0][1].ends_with(",76,77"), "{text}");
    assert!(lines[0][2].ends_with(",12,16"), "{text}");
    assert!(lines[0][3].ends_with(",0,1"), "{text}");
    // Suggested Control Sequence M=0 (RFC 4951 5.3); FSQ and FSR: Message Type M=0 (4.1, 4.2),
    // Failover Session State M=1 (5.4).
    assert_eq!(lines[1][..4], ["2", "0,78", "8,12", "1,0"], "{text}");
    assert_eq!(lines[2][..4], ["21", "0,79", "8,16", "0,1"], "{text}");
    assert_eq!(
        lines[3][..4],
        ["22", "0,79,79", "8,16,16", "0,1,1"],
        "{text}"
    );
    assert_eq!(lines[4][0], "14");
    assert!(lines[4][1].ends_with(",46"), "{text}");
    assert!(lines[4][2].ends_with(",23"), "{text}");
    assert_eq!(lines[4][4..], ["3", "49185", "2", "peer hung up"], "{text}");
    cap.assert_clean("l2tp");
}
