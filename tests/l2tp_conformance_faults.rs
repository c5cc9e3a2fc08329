//! Issue 12: RFC 2661 conformance faults 1, 2, 3 and 6, driven byte by byte as the peer would
//! (fault 8 is in `l2tp_seeds.rs`). The LAC at 192.0.2.10:1701 opens a tunnel to the LNS with the
//! SCCRQ of the issue (Assigned Tunnel ID 0x5001), gets SCCRP and answers SCCCN.

mod common;

use common::hex;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use telcp::l2tp::wire::avp::AvpValue;
use telcp::l2tp::wire::{
    Avp, AvpType, ControlMessage, ErrorCode, Message, MessageType, ResultCodeValue,
};
use telcp::l2tp::{Config, Event, InputError, Lac, LacConfig, Lns, LnsConfig};

/// The SCCRQ of issue 12 (Assigned Tunnel ID 0x5001, Host Name "lac").
const SCCRQ: &str = "c80200490000000000000000800800000000000180080000000201008009000000076c6163800a00000003000000038008000000095001800a000000040000000080080000000a0008";
/// An AVP of vendor 9, type 1, M=1, that telcp does not recognise.
const UNKNOWN_M_AVP: &str = "8008000900010001";

/// The one place the seed is set.
fn cfg(seed: u64) -> Config {
    Config {
        seed: telcp::io::seed(seed),
        ..Config::default()
    }
}

/// An LNS with the default configuration and seed 0, started at `now`.
fn lns_at(now: Instant) -> Lns {
    Lns::new(
        LnsConfig {
            common: cfg(0),
            ..LnsConfig::default()
        },
        now,
    )
    .unwrap()
}

fn lac_addr() -> SocketAddr {
    "192.0.2.10:1701".parse().unwrap()
}

fn lns_addr() -> SocketAddr {
    "192.0.2.1:1701".parse().unwrap()
}

fn control(b: &[u8]) -> ControlMessage<'static> {
    match Message::parse(b).unwrap().into_owned() {
        Message::Control(c) => c,
        Message::Data(_) => panic!("data message"),
    }
}

/// The SCCRQ of the issue with the unknown M=1 AVP appended and the header length fixed.
fn sccrq_with_unknown_avp() -> Vec<u8> {
    let mut b = hex(SCCRQ);
    b.extend(hex(UNKNOWN_M_AVP));
    let len = b.len() as u16;
    b[2..4].copy_from_slice(&len.to_be_bytes());
    b
}

fn unknown_avp() -> Avp<'static> {
    Avp::mandatory(AvpValue::Raw {
        vendor: 9,
        attr: AvpType(1),
        reserved: 0,
        data: Cow::Borrowed(&[0, 1]),
    })
}

fn error_of(m: &ControlMessage<'_>) -> (ResultCodeValue, Option<ErrorCode>) {
    let rc = m.result_code().expect("Result Code");
    (rc.result, rc.error_code())
}

/// The LAC side of an LNS, written by hand: tracks Ns/Nr as RFC 2661 5.8 asks.
struct Peer {
    lns: Lns,
    now: Instant,
    ns: u16,
    nr: u16,
    lns_tid: u16,
}

impl Peer {
    /// SCCRQ (the bytes), SCCRP, SCCCN: an established tunnel.
    fn established() -> Peer {
        let now = Instant::now();
        let lns = lns_at(now);
        let mut p = Peer {
            lns,
            now,
            ns: 0,
            nr: 0,
            lns_tid: 0,
        };
        p.raw(&hex(SCCRQ)).unwrap();
        p.ns = 1;
        let sccrp = p.out().into_iter().next().expect("SCCRP");
        assert_eq!(sccrp.message_type(), Some(MessageType::SCCRP));
        p.lns_tid = sccrp.assigned_tunnel_id().unwrap();
        p.send(ControlMessage::scccn(0)).unwrap();
        let _ = p.out();
        assert!(
            p.events()
                .iter()
                .any(|e| matches!(e, Event::TunnelUp { .. }))
        );
        p
    }

    fn raw(&mut self, b: &[u8]) -> Result<(), InputError> {
        self.lns
            .handle_datagram(self.now, lac_addr(), lns_addr(), b)
    }

    /// Sends `m` on the tunnel with the next Ns.
    fn send(&mut self, mut m: ControlMessage<'static>) -> Result<(), InputError> {
        m.header.tunnel_id = self.lns_tid;
        m.header.ns = self.ns;
        m.header.nr = self.nr;
        self.ns = self.ns.wrapping_add(1);
        self.raw(&Message::Control(m).to_vec())
    }

    /// What the LNS sent; every message but a ZLB advances our Nr.
    fn out(&mut self) -> Vec<ControlMessage<'static>> {
        let mut v = Vec::new();
        while let Some(t) = self.lns.poll_transmit() {
            assert_eq!(t.dst, lac_addr());
            let m = control(&t.payload);
            if !m.is_zlb() {
                self.nr = m.header.ns.wrapping_add(1);
            }
            v.push(m);
        }
        v
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.lns.poll_event()).collect()
    }

    /// ICRQ (Assigned Session ID `sid`) answered by ICRP: the LNS's Session ID.
    fn icrp(&mut self, sid: u16) -> u16 {
        self.send(ControlMessage::icrq(0, sid, u32::from(sid)))
            .unwrap();
        let out = self.out();
        let icrp = out
            .iter()
            .find(|m| m.message_type() == Some(MessageType::ICRP))
            .expect("ICRP");
        assert_eq!(icrp.header.session_id, sid);
        icrp.assigned_session_id().unwrap()
    }
}

/// The highest Nr the LNS sent: what it acknowledged (RFC 2661 5.8).
fn acked(out: &[ControlMessage<'_>]) -> Option<u16> {
    out.iter().map(|m| m.header.nr).max()
}

/// Issue 12 fault 1. RFC 2661 4.4.1 (Message Type AVP): "if the M-bit is set within the Message
/// Type AVP and the Message Type is unknown to the implementation, the tunnel MUST be cleared."
#[test]
fn fault_01_unknown_message_type_with_m_bit_clears_tunnel() {
    let mut p = Peer::established();
    // The bytes: type 20, M=1, Ns 2, Nr 1.
    let b = hex(&format!(
        "c8020014{:04x}0000000200018008000000000014",
        p.lns_tid
    ));
    p.raw(&b).unwrap();
    let out = p.out();
    let stop = out
        .iter()
        .find(|m| m.message_type() == Some(MessageType::STOPCCN))
        .expect("StopCCN clearing the tunnel");
    assert_eq!(stop.header.tunnel_id, 0x5001);
    assert_eq!(stop.assigned_tunnel_id(), Some(p.lns_tid));
    assert_eq!(
        error_of(stop),
        (
            ResultCodeValue::STOPCCN_GENERAL_ERROR,
            Some(ErrorCode::UNKNOWN_MANDATORY_AVP)
        )
    );
    // The StopCCN acknowledges the message (Nr 3).
    assert_eq!(stop.header.nr, 3);
    assert!(
        p.events()
            .iter()
            .any(|e| matches!(e, Event::TunnelDown { .. }))
    );
}

/// Issue 12 fault 1, M=0. RFC 2661 4.4.1: "If the M-bit is not set, then the implementation may
/// ignore an unknown message type"; 5.8: the message is still acknowledged. The tunnel stays.
#[test]
fn fault_01_unknown_message_type_without_m_bit_is_acknowledged_and_ignored() {
    let mut p = Peer::established();
    let b = hex(&format!(
        "c8020014{:04x}0000000200010008000000000014",
        p.lns_tid
    ));
    p.ns = 3;
    p.raw(&b).unwrap();
    let out = p.out();
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].is_zlb());
    assert_eq!(out[0].header.nr, 3);
    assert!(p.events().is_empty());
    // Tunnel kept: a call still gets ICRP.
    p.icrp(0x0abc);
}

/// Issue 12 fault 2. RFC 2661 4.1 (M bit): "If the M bit is set on an unrecognized AVP within a
/// message associated with the overall tunnel, the entire tunnel (and all sessions within) MUST
/// be terminated." An SCCRQ is answered with StopCCN Result 2 / Error 8 (4.4.2: "Session or
/// tunnel was shutdown due to receipt of an unknown AVP with the M-bit set"); no tunnel is kept.
#[test]
fn fault_02_sccrq_with_unknown_mandatory_vendor_avp_is_refused() {
    let now = Instant::now();
    let mut lns = lns_at(now);
    let r = lns.handle_datagram(now, lac_addr(), lns_addr(), &sccrq_with_unknown_avp());
    assert_eq!(
        r,
        Err(InputError::UnknownMandatoryAvp {
            vendor: 9,
            avp: AvpType(1)
        })
    );
    let out: Vec<_> = std::iter::from_fn(|| lns.poll_transmit())
        .map(|t| control(&t.payload))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].message_type(), Some(MessageType::STOPCCN));
    assert_eq!(out[0].header.tunnel_id, 0x5001);
    assert_eq!(out[0].header.nr, 1);
    assert_eq!(
        error_of(&out[0]),
        (
            ResultCodeValue::STOPCCN_GENERAL_ERROR,
            Some(ErrorCode::UNKNOWN_MANDATORY_AVP)
        )
    );
    assert_eq!(lns.tunnel_count(), 0);
}

/// Issue 12 fault 2, session level. RFC 2661 4.1: "If the M bit is set on an unrecognized AVP
/// within a message associated with a particular session, the session associated with this
/// message MUST be terminated": CDN Result 2 (4.4.2: "Call disconnected for the reasons indicated
/// in error code") / Error 8; the tunnel stays.
#[test]
fn fault_02_icrq_and_iccn_with_unknown_mandatory_avp_get_cdn_tunnel_kept() {
    let mut p = Peer::established();
    p.send(ControlMessage::icrq(0, 0x0abc, 1).with(unknown_avp()))
        .unwrap();
    let out = p.out();
    let cdn = out
        .iter()
        .find(|m| m.message_type() == Some(MessageType::CDN))
        .expect("CDN refusing the ICRQ");
    assert_eq!(cdn.header.session_id, 0x0abc);
    assert_eq!(
        error_of(cdn),
        (
            ResultCodeValue::CDN_GENERAL_ERROR,
            Some(ErrorCode::UNKNOWN_MANDATORY_AVP)
        )
    );
    assert!(
        !out.iter()
            .any(|m| m.message_type() == Some(MessageType::STOPCCN))
    );
    // The ICCN of an accepted call carrying the AVP: that session is cleared, the tunnel stays.
    let lns_sid = p.icrp(0x0abd);
    p.send(ControlMessage::iccn(0, lns_sid, 64000, 1).with(unknown_avp()))
        .unwrap();
    let out = p.out();
    let cdn = out
        .iter()
        .find(|m| m.message_type() == Some(MessageType::CDN))
        .expect("CDN clearing the session");
    assert_eq!(cdn.header.session_id, 0x0abd);
    assert_eq!(cdn.assigned_session_id(), Some(lns_sid));
    assert_eq!(
        error_of(cdn),
        (
            ResultCodeValue::CDN_GENERAL_ERROR,
            Some(ErrorCode::UNKNOWN_MANDATORY_AVP)
        )
    );
    assert!(
        !p.events()
            .iter()
            .any(|e| matches!(e, Event::SessionUp { .. } | Event::TunnelDown { .. }))
    );
    assert_eq!(p.lns.session_count(), 0);
    assert_eq!(p.lns.tunnel_count(), 1);
    p.icrp(0x0abe);
}

/// A LAC with the seed, its SCCRQ sent: (LAC, its Assigned Tunnel ID, now).
fn lac() -> (Lac, u16, Instant) {
    let now = Instant::now();
    let mut c = LacConfig::new(lns_addr());
    c.common = cfg(0);
    let mut lac = Lac::new(c, now).unwrap();
    lac.open_session(now).unwrap();
    let sccrq = control(&lac.poll_transmit().expect("SCCRQ").payload);
    assert_eq!(sccrq.message_type(), Some(MessageType::SCCRQ));
    (lac, sccrq.assigned_tunnel_id().unwrap(), now)
}

fn drain(lac: &mut Lac) -> Vec<ControlMessage<'static>> {
    std::iter::from_fn(|| lac.poll_transmit())
        .map(|t| control(&t.payload))
        .collect()
}

/// Issue 12 fault 3. RFC 2661 4.4.3 (Assigned Tunnel ID): "The L2TP peer MUST place this value in
/// the Tunnel ID header field of all control and data messages that it subsequently transmits
/// over the associated tunnel"; 3.1: the Tunnel ID is the recipient's. The StopCCN refusing an
/// SCCRP (unknown M=1 AVP, RFC 2661 4.1) and its retransmissions go to tunnel 0x6001.
#[test]
fn fault_03_lac_refusing_sccrp_addresses_stopccn_to_assigned_tunnel() {
    let (mut lac, lac_tid, now) = lac();
    let mut sccrp =
        ControlMessage::sccrp(lac_tid, 0x6001, b"lns".as_slice(), 3).with(unknown_avp());
    sccrp.header.nr = 1;
    lac.handle_datagram(
        now,
        lns_addr(),
        lac_addr(),
        &Message::Control(sccrp).to_vec(),
    )
    .unwrap();
    let mut stops = drain(&mut lac);
    assert_eq!(stops.len(), 1, "{stops:?}");
    // Retransmissions until acknowledged (RFC 2661 5.8).
    for s in [1, 3, 7] {
        lac.handle_timeout(now + Duration::from_secs(s));
        stops.extend(drain(&mut lac));
    }
    assert!(stops.len() >= 4, "{stops:?}");
    for s in &stops {
        assert_eq!(s.message_type(), Some(MessageType::STOPCCN));
        assert_eq!(s.header.tunnel_id, 0x6001, "{s:?}");
        assert_eq!(s.assigned_tunnel_id(), Some(lac_tid));
        assert_eq!(
            error_of(s),
            (
                ResultCodeValue::STOPCCN_GENERAL_ERROR,
                Some(ErrorCode::UNKNOWN_MANDATORY_AVP)
            )
        );
    }
}

/// Issue 12 fault 3, session level. RFC 2661 4.4.4 (Assigned Session ID): the peer's value goes in
/// the Session ID header field of every later message of the session. The CDN refusing an ICRP
/// (unknown M=1 AVP) goes to the session the ICRP assigned; the LAC's call ends.
#[test]
fn fault_03_lac_refusing_icrp_addresses_cdn_to_assigned_session() {
    let (mut lac, lac_tid, now) = lac();
    let mut sccrp = ControlMessage::sccrp(lac_tid, 0x6001, b"lns".as_slice(), 3);
    sccrp.header.nr = 1;
    lac.handle_datagram(
        now,
        lns_addr(),
        lac_addr(),
        &Message::Control(sccrp).to_vec(),
    )
    .unwrap();
    let mut out = drain(&mut lac);
    // Slow start: the ICRQ may wait for the SCCCN's acknowledgement.
    if !out
        .iter()
        .any(|m| m.message_type() == Some(MessageType::ICRQ))
    {
        let mut zlb = ControlMessage::zlb(lac_tid, 1, 2);
        zlb.header.nr = 2;
        lac.handle_datagram(now, lns_addr(), lac_addr(), &Message::Control(zlb).to_vec())
            .unwrap();
        out.extend(drain(&mut lac));
    }
    let icrq = out
        .iter()
        .find(|m| m.message_type() == Some(MessageType::ICRQ))
        .expect("ICRQ");
    let lac_sid = icrq.assigned_session_id().unwrap();
    let mut icrp = ControlMessage::icrp(lac_tid, lac_sid, 0x7001).with(unknown_avp());
    icrp.header.ns = 1;
    icrp.header.nr = icrq.header.ns.wrapping_add(1);
    lac.handle_datagram(
        now,
        lns_addr(),
        lac_addr(),
        &Message::Control(icrp).to_vec(),
    )
    .unwrap();
    let out = drain(&mut lac);
    let cdn = out
        .iter()
        .find(|m| m.message_type() == Some(MessageType::CDN))
        .expect("CDN");
    assert_eq!(cdn.header.tunnel_id, 0x6001);
    assert_eq!(cdn.header.session_id, 0x7001);
    assert_eq!(
        error_of(cdn),
        (
            ResultCodeValue::CDN_GENERAL_ERROR,
            Some(ErrorCode::UNKNOWN_MANDATORY_AVP)
        )
    );
    let ev: Vec<Event> = std::iter::from_fn(|| lac.poll_event()).collect();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::SessionDown { call: Some(_), .. })),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::SessionUp { .. })));
    assert_eq!(lac.call_count(), 0);
}

/// Issue 12 fault 6. An ICCN without (Tx) Connect Speed and Framing Type (RFC 2661 6.8 lists them;
/// deployed LACs omit them) is acknowledged (RFC 2661 5.8) and taken: the session comes up.
#[test]
fn fault_06_iccn_without_connect_speed_and_framing_type_is_taken() {
    let mut p = Peer::established();
    let lns_sid = p.icrp(0x0abc);
    let ns = p.ns;
    p.send(ControlMessage::new(MessageType::ICCN, 0, lns_sid))
        .unwrap();
    let out = p.out();
    assert_eq!(acked(&out), Some(ns.wrapping_add(1)), "{out:?}");
    assert!(
        p.events()
            .iter()
            .any(|e| matches!(e, Event::SessionUp { .. }))
    );
    assert_eq!(p.lns.session_count(), 1);
}

/// Issue 12 fault 6, the rest of RFC 2661 section 6: a message missing an AVP its section requires
/// is acknowledged and refused in protocol terms, never left unanswered. SCCRQ without Assigned
/// Tunnel ID (6.1): StopCCN Result 2 / Error 6 to tunnel 0 (RFC 2661 5.3: the peer's id is not
/// known), no tunnel. ICRQ without Call Serial Number (6.6): CDN Result 2 / Error 6, tunnel kept.
#[test]
fn fault_06_missing_required_avp_is_refused_in_protocol_terms() {
    let now = Instant::now();
    let mut lns = lns_at(now);
    let sccrq = ControlMessage::new(MessageType::SCCRQ, 0, 0)
        .with(Avp::mandatory(AvpValue::ProtocolVersion {
            version: 1,
            revision: 0,
        }))
        .with(Avp::mandatory(AvpValue::HostName(Cow::Borrowed(b"lac"))))
        .with(Avp::mandatory(AvpValue::FramingCapabilities(3)));
    let r = lns.handle_datagram(
        now,
        lac_addr(),
        lns_addr(),
        &Message::Control(sccrq).to_vec(),
    );
    assert_eq!(
        r,
        Err(InputError::MissingAvp {
            message: MessageType::SCCRQ,
            avp: AvpType::ASSIGNED_TUNNEL_ID
        })
    );
    let stop = control(&lns.poll_transmit().expect("StopCCN").payload);
    assert_eq!(stop.message_type(), Some(MessageType::STOPCCN));
    assert_eq!(stop.header.tunnel_id, 0);
    assert_eq!(
        error_of(&stop),
        (
            ResultCodeValue::STOPCCN_GENERAL_ERROR,
            Some(ErrorCode::VENDOR_ERROR)
        )
    );
    assert_eq!(lns.tunnel_count(), 0);

    let mut p = Peer::established();
    let ns = p.ns;
    let icrq = ControlMessage::new(MessageType::ICRQ, 0, 0)
        .with(Avp::mandatory(AvpValue::AssignedSessionId(0x0abc)));
    p.send(icrq).unwrap();
    let out = p.out();
    assert_eq!(acked(&out), Some(ns.wrapping_add(1)));
    let cdn = out
        .iter()
        .find(|m| m.message_type() == Some(MessageType::CDN))
        .expect("CDN");
    assert_eq!(cdn.header.session_id, 0x0abc);
    assert_eq!(
        error_of(cdn),
        (
            ResultCodeValue::CDN_GENERAL_ERROR,
            Some(ErrorCode::VENDOR_ERROR)
        )
    );
    assert_eq!(p.lns.tunnel_count(), 1);
    p.icrp(0x0abd);
}
