//! RFC 2661 section 7 (the control connection and call state machines: what a message that is
//! not acceptable, or arrives in a state that does not expect it, gets) and 5.4 / 3.1 (who
//! controls data sequencing, the data message's Nr), driving `Lns` and `Lac` as a hand-written
//! peer would. Each test is named after its row in `conformance/rfc2661.toml`.

mod common;

use common::l2tp::*;

use telcp::l2tp::{Event, Lac, Lns};

type PL = Peer<Lns>;
type PQ = Peer<Lac>;

/// A data message (T=0, L=0, version 2) to tunnel `tid`, session `sid`, with Ns/Nr when `seq`.
fn data(tid: u16, sid: u16, seq: Option<(u16, u16)>, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![if seq.is_some() { 0x08 } else { 0x00 }, 0x02];
    b.extend(tid.to_be_bytes());
    b.extend(sid.to_be_bytes());
    if let Some((ns, nr)) = seq {
        b.extend(ns.to_be_bytes());
        b.extend(nr.to_be_bytes());
    }
    b.extend(payload);
    b
}

/// Whether the endpoint reported its tunnel down.
fn down(ev: &[Event]) -> bool {
    tunnel_down_in(ev)
}

// ---------------------------------------------------------------------------------------------
// 7.2.1 control connection states

/// l2tp-7.2.1-established-sccrp: an SCCRP arriving on an established tunnel (a new message, not
/// a retransmission) clears the control connection with a StopCCN.
#[test]
fn l2tp_7_2_1_established_sccrp() {
    // RFC 2661 7.2.1: state "established", event "Receive SCCRQ, SCCRP, SCCCN", action "Send
    // StopCCN, Clean up", new state "idle".
    let mut p = lns();
    p.tunnel();
    p.events();
    p.send(mt::SCCRP, 0, sccrp_avps(MY_TID));
    let got = p.recv();
    let stop = PL::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.tid, MY_TID, "{stop:?}");
    assert!(stop.result().is_some(), "{stop:?}");
    assert!(down(&p.events()));
}

/// l2tp-7.2.1-established-scccn: a second SCCCN (a new message, not a retransmission) on an
/// established tunnel clears the control connection with a StopCCN.
#[test]
fn l2tp_7_2_1_established_scccn() {
    // RFC 2661 7.2.1: established, "Receive SCCRQ, SCCRP, SCCCN": "Send StopCCN, Clean up".
    let mut p = lns();
    p.tunnel();
    p.events();
    p.send(mt::SCCCN, 0, vec![]);
    let got = p.recv();
    assert!(PL::find(&got, mt::STOPCCN).is_some(), "{got:?}");
    assert!(down(&p.events()));
    // The LAC side: its established tunnel receiving an SCCCN.
    let mut q = lac();
    q.session();
    q.events();
    q.send(mt::SCCCN, 0, vec![]);
    let got = q.recv();
    let stop = PQ::find(&got, mt::STOPCCN).expect("StopCCN from the LAC");
    assert_eq!(stop.tid, q.my_tid);
    assert!(down(&q.events()));
}

/// l2tp-7.2.1-established-sccrq: an SCCRQ addressed to an established tunnel (its Tunnel ID in
/// the header, a new Ns) clears the control connection with a StopCCN.
#[test]
fn l2tp_7_2_1_established_sccrq() {
    // RFC 2661 7.2.1: established, "Receive SCCRQ, SCCRP, SCCCN": "Send StopCCN, Clean up".
    let mut p = lns();
    p.tunnel();
    p.events();
    p.send(mt::SCCRQ, 0, sccrq_avps(MY_TID));
    let got = p.recv();
    assert!(PL::find(&got, mt::STOPCCN).is_some(), "{got:?}");
    assert!(PL::find(&got, mt::SCCRP).is_none(), "{got:?}");
    assert!(down(&p.events()));
}

/// l2tp-7.2.1-wait-ctl-conn-sccrp: an LNS waiting for the SCCCN that receives an SCCRP instead
/// clears the control connection with a StopCCN; the tunnel never comes up.
#[test]
fn l2tp_7_2_1_wait_ctl_conn_sccrp() {
    // RFC 2661 7.2.1: state "wait-ctl-conn", event "Receive SCCRQ, SCCRP", action "Send StopCCN,
    // Clean up", new state "idle".
    let mut p = lns();
    let got = p.sccrq(sccrq_avps(MY_TID));
    assert!(PL::find(&got, mt::SCCRP).is_some());
    p.send(mt::SCCRP, 0, sccrp_avps(MY_TID));
    let got = p.recv();
    let stop = PL::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.tid, MY_TID);
    // The SCCCN that follows does not bring the tunnel up.
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    assert!(!tunnel_up_in(&p.events()));
}

/// l2tp-7.2.1-wait-ctl-reply-scccn: a LAC waiting for the SCCRP that receives an SCCCN instead
/// clears the control connection with a StopCCN; no ICRQ follows.
#[test]
fn l2tp_7_2_1_wait_ctl_reply_scccn() {
    // RFC 2661 7.2.1: state "wait-ctl-reply", event "Receive SCCCN", action "Send StopCCN, Clean
    // up", new state "idle".
    let mut q = lac();
    q.open();
    q.send(mt::SCCCN, 0, vec![]);
    let got = q.recv();
    assert!(PQ::find(&got, mt::STOPCCN).is_some(), "{got:?}");
    // An SCCRP afterwards does not establish the (cleared) tunnel.
    q.send(mt::SCCRP, 0, sccrp_avps(q.my_tid));
    let got = q.recv();
    assert!(PQ::find(&got, mt::SCCCN).is_none(), "{got:?}");
    assert!(!tunnel_up_in(&q.events()));
}

/// l2tp-7.2.1-sccrp-not-acceptable: a LAC that cannot accept an SCCRP (here: it lacks Host
/// Name, which 6.2 requires) answers it with a StopCCN to the Tunnel ID the SCCRP assigned.
#[test]
fn l2tp_7_2_1_sccrp_not_acceptable() {
    // RFC 2661 7.2.1: state "wait-ctl-reply", event "Receive SCCRP, not acceptable", action "Send
    // StopCCN, Clean up", new state "idle".
    let mut q = lac();
    let got = q.sccrp_without(at::HOST_NAME);
    let stop = PQ::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.tid, q.my_tid, "{stop:?}");
    assert!(PQ::find(&got, mt::SCCCN).is_none(), "{got:?}");
}

/// l2tp-7.2.1-sccrq-not-acceptable: an SCCRQ the LNS cannot accept (here: it lacks Host Name,
/// which 6.1 requires) is answered with a StopCCN to its Assigned Tunnel ID, not an SCCRP.
#[test]
fn l2tp_7_2_1_sccrq_not_acceptable() {
    // RFC 2661 7.2.1: state "idle", event "Receive SCCRQ, not acceptable", action "Send StopCCN,
    // Clean up", new state "idle".
    let mut p = lns();
    let avps: Vec<A> = sccrq_avps(MY_TID)
        .into_iter()
        .filter(|a| a.ty != at::HOST_NAME)
        .collect();
    let got = p.sccrq(avps);
    let stop = PL::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.tid, MY_TID, "{stop:?}");
    assert!(PL::find(&got, mt::SCCRP).is_none(), "{got:?}");
}

// ---------------------------------------------------------------------------------------------
// 7.4.1 / 7.4.2 incoming call states

/// l2tp-7.4.1-icrp-not-acceptable: a LAC that cannot accept an ICRP (here: it lacks Assigned
/// Session ID, which 6.7 requires) answers it with a CDN and sends no ICCN; the call fails.
#[test]
fn l2tp_7_4_1_icrp_not_acceptable() {
    // RFC 2661 7.4.1: state "wait-reply", event "Receive ICRP, Not acceptable", action "Send
    // CDN, Clean up", new state "idle".
    let mut q = lac();
    let (_, lac_sid, _) = q.until_icrq();
    q.send(mt::ICRP, lac_sid, vec![]);
    let got = q.recv();
    assert!(PQ::find(&got, mt::ICCN).is_none(), "{got:?}");
    let cdn = PQ::find(&got, mt::CDN).expect("CDN");
    assert_eq!(
        cdn.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16),
        Some(lac_sid),
        "{cdn:?}"
    );
    assert!(cdn.result().is_some(), "{cdn:?}");
}

/// l2tp-7.4.1-established-icrp: an ICRP for a LAC session already established (a new message,
/// not a retransmission) clears the session with a CDN; the tunnel stays.
#[test]
fn l2tp_7_4_1_established_icrp() {
    // RFC 2661 7.4.1: state "established", event "Receive ICRQ, ICRP, ICCN", action "Send CDN,
    // Clean up", new state "idle".
    let mut q = lac();
    let (_, lac_sid, _) = q.session();
    q.recv();
    q.events();
    q.send(
        mt::ICRP,
        lac_sid,
        vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))],
    );
    let got = q.recv();
    let cdn = PQ::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID, "{cdn:?}");
    assert_eq!(
        cdn.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16),
        Some(lac_sid)
    );
    let ev = q.events();
    assert!(session_down_in(&ev), "{ev:?}");
    assert!(!down(&ev), "{ev:?}");
    assert!(PQ::find(&got, mt::STOPCCN).is_none());
}

/// l2tp-7.4.2-icrp-received: an ICRP arriving at an LNS (which sends ICRPs, never expects one)
/// for a session it has clears that session with a CDN; the tunnel stays.
#[test]
fn l2tp_7_4_2_icrp_received() {
    // RFC 2661 7.4.2: wait-connect and established, event "Receive ICRQ, ICRP" / "Receive ICRQ,
    // ICRP, ICCN", action "Send CDN, Clean up".
    let mut p = lns();
    let sid = p.session();
    p.events();
    p.send(
        mt::ICRP,
        sid,
        vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))],
    );
    let got = p.recv();
    let cdn = PL::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID, "{cdn:?}");
    let ev = p.events();
    assert!(session_down_in(&ev), "{ev:?}");
    assert!(!down(&ev), "{ev:?}");
}

/// l2tp-7.4.2-established-iccn: an ICCN for an LNS session already established (a new message,
/// not a retransmission) clears the session with a CDN to the LAC's session; the tunnel stays.
/// (A backup LNS takes the ICCN of a call it restored answered once: `l2tp_failover`'s
/// `crash_during_setup_*`.)
#[test]
fn l2tp_7_4_2_established_iccn() {
    // RFC 2661 7.4.2: state "established", event "Receive ICRQ, ICRP, ICCN", action "Send CDN,
    // Clean up", new state "idle".
    let mut p = lns();
    let sid = p.session();
    p.events();
    p.send(mt::ICCN, sid, iccn_avps());
    let got = p.recv();
    let cdn = PL::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID, "{cdn:?}");
    assert_eq!(cdn.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16), Some(sid));
    let ev = p.events();
    assert!(session_down_in(&ev), "{ev:?}");
    assert!(!down(&ev), "{ev:?}");
    assert_eq!(p.ep.session_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// 7.5.1 LNS outgoing call states

/// The LNS places an outgoing call on an established tunnel; returns its Session ID.
fn place(p: &mut PL) -> u16 {
    p.tunnel();
    p.events();
    let now = p.now;
    let r = p.ep.place_call(now, p.their_tid, b"5551234").unwrap();
    let got = p.recv();
    assert!(PL::find(&got, mt::OCRQ).is_some());
    r.session
}

/// l2tp-7.5.1-ocrp-not-acceptable: an OCRP the LNS cannot accept (here: it lacks Assigned
/// Session ID, which 6.10 requires) is answered with a CDN; the call does not come up.
#[test]
fn l2tp_7_5_1_ocrp_not_acceptable() {
    // RFC 2661 7.5.1: state "wait-reply", event "Receive OCRP, Not acceptable", action "Send CDN,
    // Clean up", new state "idle".
    let mut p = lns();
    let sid = place(&mut p);
    p.send(mt::OCRP, sid, vec![]);
    let got = p.recv();
    let cdn = PL::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16), Some(sid));
    p.send(mt::OCCN, sid, iccn_avps());
    p.recv();
    assert!(!session_up_in(&p.events()));
}

/// l2tp-7.5.1-wait-reply-occn: an OCCN arriving before the OCRP (the LNS still in wait-reply)
/// is answered with a CDN and clears the call; the tunnel stays.
#[test]
fn l2tp_7_5_1_wait_reply_occn() {
    // RFC 2661 7.5.1: state "wait-reply", event "Receive OCCN, OCRQ", action "Send CDN, Clean
    // up", new state "idle".
    let mut p = lns();
    let sid = place(&mut p);
    p.send(mt::OCCN, sid, iccn_avps());
    let got = p.recv();
    let cdn = PL::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16), Some(sid));
    let ev = p.events();
    assert!(!session_up_in(&ev), "{ev:?}");
    assert!(!down(&ev), "{ev:?}");
    assert_eq!(p.ep.session_count(), 0);
}

/// l2tp-7.5.1-wait-connect-ocrp: a second OCRP (a new message) while the LNS waits for the OCCN
/// is answered with a CDN to the LAC's session and clears the call.
#[test]
fn l2tp_7_5_1_wait_connect_ocrp() {
    // RFC 2661 7.5.1: state "wait-connect", event "Receive OCRQ, OCRP", action "Send CDN, Clean
    // up", new state "idle".
    let mut p = lns();
    let sid = place(&mut p);
    let ocrp = vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))];
    p.send(mt::OCRP, sid, ocrp.clone());
    p.recv();
    p.send(mt::OCRP, sid, ocrp);
    let got = p.recv();
    let cdn = PL::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID, "{cdn:?}");
    p.send(mt::OCCN, sid, iccn_avps());
    p.recv();
    assert!(!session_up_in(&p.events()));
}

/// l2tp-7.5.1-established-ocrp: an OCRP for an outgoing call already established (a new
/// message) clears the call with a CDN to the LAC's session; the tunnel stays.
#[test]
fn l2tp_7_5_1_established_ocrp() {
    // RFC 2661 7.5.1: state "established", event "Receive OCRQ, OCRP, OCCN", action "Send CDN,
    // Clean up", new state "idle".
    let mut p = lns();
    let sid = place(&mut p);
    let ocrp = vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))];
    p.send(mt::OCRP, sid, ocrp.clone());
    p.send(mt::OCCN, sid, iccn_avps());
    p.recv();
    assert!(session_up_in(&p.events()));
    p.send(mt::OCRP, sid, ocrp);
    let got = p.recv();
    let cdn = PL::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID, "{cdn:?}");
    let ev = p.events();
    assert!(session_down_in(&ev), "{ev:?}");
    assert!(!down(&ev), "{ev:?}");
}

// ---------------------------------------------------------------------------------------------
// 5.4 / 3.1 data sequencing

/// l2tp-5.4-lns-controls-sequencing: without Sequencing Required, a LAC follows the LNS: after
/// a data message with sequence numbers it sends them (Ns counting on), after one without it
/// stops, and when the LNS turns them on again its Ns picks up where it left off.
#[test]
fn l2tp_5_4_lns_controls_sequencing() {
    // RFC 2661 5.4: "If this AVP is not present, sequencing presence is under control of the
    // LNS"; "if the LAC receives a data message without sequence numbers present, it MUST stop
    // sending sequence numbers in future data messages. If the LAC receives a data message with
    // sequence numbers present, it MUST start sending sequence numbers in future outgoing data
    // messages"; the sequence number state "picks up where it left off".
    let mut q = lac();
    let (call, lac_sid, got) = q.session();
    assert!(
        !PQ::find(&got, mt::ICCN)
            .unwrap()
            .has(at::SEQUENCING_REQUIRED)
    );
    q.recv();
    let sent = |q: &mut PQ| {
        q.ep.send_ppp(call, b"\xff\x03\xc0\x21").unwrap();
        let raw = q.recv_raw();
        parse_data(raw.last().expect("data")).expect("data").seq
    };
    assert_eq!(sent(&mut q), None, "no sequencing before the LNS asks");
    let tid = q.their_tid;
    q.raw(&data(tid, lac_sid, Some((0, 0)), b"\xff\x03\xc0\x21"));
    assert_eq!(
        sent(&mut q).map(|s| s.0),
        Some(0),
        "LNS turned sequencing on"
    );
    assert_eq!(sent(&mut q).map(|s| s.0), Some(1));
    q.raw(&data(tid, lac_sid, None, b"\xff\x03\xc0\x21"));
    assert_eq!(sent(&mut q), None, "LNS turned sequencing off");
    q.raw(&data(tid, lac_sid, Some((1, 0)), b"\xff\x03\xc0\x21"));
    assert_eq!(
        sent(&mut q).map(|s| s.0),
        Some(2),
        "Ns picks up where it left off"
    );
    let frames = std::iter::from_fn(|| q.ep.poll_data()).count();
    assert_eq!(frames, 3, "every frame handed up");
}

/// l2tp-5.4-required-stays: with Sequencing Required in its ICCN, a LAC keeps sequence numbers
/// on every data message even after the LNS sends one without them.
#[test]
fn l2tp_5_4_required_stays() {
    // RFC 2661 5.4: "If this AVP is present during session setup, sequence numbers MUST be
    // present at all times."
    let mut c = common(7);
    c.sequencing_required = true;
    let mut q = lac_with(c);
    let (call, lac_sid, _) = q.session();
    q.recv();
    let tid = q.their_tid;
    q.raw(&data(tid, lac_sid, None, b"\xff\x03\xc0\x21"));
    q.ep.send_ppp(call, b"\xff\x03\xc0\x21").unwrap();
    let raw = q.recv_raw();
    let d = parse_data(raw.last().expect("data")).unwrap();
    assert_eq!(d.seq.map(|s| s.0), Some(0), "{d:?}");
}

/// l2tp-3.1-data-nr-ignored: the Nr of a received data message is reserved and ignored: frames
/// whose Nr is arbitrary are taken as long as their Ns is in order.
#[test]
fn l2tp_3_1_data_nr_ignored() {
    // RFC 2661 3.1: "Nr ... In data messages, Nr is reserved and, if present (as indicated by the
    // S-bit), MUST be ignored upon receipt."
    let mut c = common(7);
    c.sequencing_required = true;
    let mut p = lns_with(c);
    let sid = p.session();
    let tid = p.their_tid;
    for (ns, nr) in [(0u16, 0xffffu16), (1, 0x1234), (2, 0), (3, 0x8000)] {
        p.raw(&data(
            tid,
            sid,
            Some((ns, nr)),
            &[0xff, 0x03, 0x00, 0x21, ns as u8],
        ));
    }
    let got: Vec<u8> = std::iter::from_fn(|| p.ep.poll_data())
        .map(|d| d.frame[4])
        .collect();
    assert_eq!(got, vec![0, 1, 2, 3]);
}

/// l2tp-5.4-data-sequence-wrap: on a sequenced session the data Ns wraps from 65535 to 0 and the
/// frames after the wrap are taken as in order, not as late ones.
#[test]
fn l2tp_5_4_data_sequence_wrap() {
    // RFC 2661 5.4 / 5.8: Ns is a 16-bit counter; sequence numbers are compared modulo 2^16, so
    // 0 follows 65535.
    let mut c = common(7);
    c.sequencing_required = true;
    let mut p = lns_with(c);
    let sid = p.session();
    let tid = p.their_tid;
    let mut taken = 0u32;
    for i in 0..65_540u32 {
        let ns = i as u16;
        p.raw(&data(tid, sid, Some((ns, 0)), &[0xff, 0x03, 0x00, 0x21]));
        taken += std::iter::from_fn(|| p.ep.poll_data()).count() as u32;
    }
    assert_eq!(taken, 65_540, "every frame across the wrap handed up");
    // And a late one after the wrap (Ns 65535 again) is still recognised as late.
    p.raw(&data(
        tid,
        sid,
        Some((65_535, 0)),
        &[0xff, 0x03, 0x00, 0x21],
    ));
    assert!(p.ep.poll_data().is_none());
}

/// l2tp-5.8-ns-wrap-sent: the endpoint's own control Ns wraps from 65535 to 0: the message after
/// 65535 goes out with Ns 0, and the peer's Nr acknowledging it across the wrap stops its
/// retransmission.
#[test]
fn l2tp_5_8_ns_wrap_sent() {
    // RFC 2661 5.8: Ns and Nr are 16-bit, "incremented ... modulo 2**16"; a message is
    // acknowledged by an Nr past its Ns, and an acknowledged message is not retransmitted.
    let mut p = lns();
    p.tunnel();
    let mut last = None;
    for i in 0..65_540u32 {
        let peer_sid = 0x1000 + (i % 0x1000) as u16;
        p.send(mt::ICRQ, 0, icrq_avps(peer_sid, i));
        let got = p.recv();
        let icrp = PL::find(&got, mt::ICRP).expect("ICRP");
        let sid = icrp.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16).unwrap();
        if let Some(prev) = last {
            assert_eq!(icrp.ns, u16::wrapping_add(prev, 1), "Ns grows by one");
        }
        last = Some(icrp.ns);
        p.send(
            mt::CDN,
            sid,
            vec![
                m(at::RESULT_CODE, be16(3)),
                m(at::ASSIGNED_SESSION_ID, be16(peer_sid)),
            ],
        );
        p.recv();
    }
    assert!(last.unwrap() < 10, "wrapped: {last:?}");
    // Everything was acknowledged by the CDNs' Nr: nothing is retransmitted.
    let got = p.advance(std::time::Duration::from_secs(20));
    assert!(got.iter().all(Ctl::is_zlb), "{got:?}");
    assert_eq!(p.ep.tunnel_count(), 1);
}

/// l2tp-5.1.1-response-missing: a challenger that gets no Challenge Response at all (an LNS's
/// SCCCN, a LAC's SCCRP without the AVP) does not establish the tunnel: StopCCN Result Code 4.
#[test]
fn l2tp_5_1_1_response_missing() {
    // RFC 2661 5.1.1: a peer that sent a Challenge and gets no matching response "MUST NOT" let
    // the tunnel come up; 4.4.2: StopCCN Result Code 4 (requester not authorized).
    let mut c = common(7);
    c.secret = Some(b"s3cret".to_vec());
    c.challenge = true;
    let mut p = lns_with(c.clone());
    let got = p.sccrq(sccrq_avps(MY_TID));
    assert!(PL::find(&got, mt::SCCRP).unwrap().has(at::CHALLENGE));
    p.send(mt::SCCCN, 0, vec![]);
    let got = p.recv();
    let stop = PL::find(&got, mt::STOPCCN).expect("StopCCN from the LNS");
    assert_eq!(stop.result().map(|r| r.0), Some(4));
    assert!(!tunnel_up_in(&p.events()));
    let mut q = lac_with(c);
    let (_, rq) = q.open();
    assert!(rq.has(at::CHALLENGE));
    q.send(mt::SCCRP, 0, sccrp_avps(q.my_tid));
    let got = q.recv();
    let stop = PQ::find(&got, mt::STOPCCN).expect("StopCCN from the LAC");
    assert_eq!(stop.result().map(|r| r.0), Some(4));
    assert!(PQ::find(&got, mt::SCCCN).is_none());
    assert!(!tunnel_up_in(&q.events()));
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Hides `value` (with `pad` octets of padding after it) of attribute `attr` by RFC 2661 4.3:
/// the first 16 octets XORed with MD5(type, secret, RV), each next 16 with MD5(secret, the
/// previous ciphertext chunk).
fn hide_padded(attr: u16, secret: &[u8], rv: &[u8], value: &[u8], pad: &[u8]) -> Vec<u8> {
    let mut p = (value.len() as u16).to_be_bytes().to_vec();
    p.extend(value);
    p.extend(pad);
    let mut out = Vec::new();
    let mut b = md5(&[&attr.to_be_bytes(), secret, rv]);
    for chunk in p.chunks(16) {
        let c: Vec<u8> = chunk.iter().zip(b.iter()).map(|(x, k)| x ^ k).collect();
        b = md5(&[secret, &c]);
        out.extend(c);
    }
    out
}

/// l2tp-4.3-hidden-padded-chained: a hidden AVP longer than one MD5 block (its value followed by
/// padding) is recovered through the chained key stream, the padding dropped by the original
/// length, with the Random Vector most closely preceding it when the message has two.
#[test]
fn l2tp_4_3_hidden_padded_chained() {
    // RFC 2661 4.3: the hidden subformat is the original length, the value and optional padding;
    // values longer than 16 octets chain MD5(secret + previous ciphertext); "If more than one
    // Random Vector AVP is present in a message, a hidden AVP uses the Random Vector AVP most
    // closely preceding it".
    let mut c = common(7);
    c.secret = Some(b"hide-me".to_vec());
    let mut p = lns_with(c);
    p.tunnel();
    let rv1 = b"first-vector-0001".to_vec();
    let rv2 = b"second-vector-02".to_vec();
    let v = hide_padded(
        at::ASSIGNED_SESSION_ID,
        b"hide-me",
        &rv2,
        &be16(0x7654),
        &[0xa5; 27],
    );
    assert!(v.len() > 16);
    p.send(
        mt::ICRQ,
        0,
        vec![
            m(at::RANDOM_VECTOR, rv1),
            m(at::CALL_SERIAL_NUMBER, be32(1)),
            m(at::RANDOM_VECTOR, rv2),
            A {
                h: true,
                ..m(at::ASSIGNED_SESSION_ID, v)
            },
        ],
    );
    let got = p.recv();
    let icrp = PL::find(&got, mt::ICRP).expect("ICRP");
    assert_eq!(icrp.sid, 0x7654, "{icrp:?}");
}
