//! RFC 2661 sections 3.2, 4.4.2-4.4.6 (result codes, control connection and call AVPs), 5
//! (the LAC's side of keepalive and teardown, reliable delivery details, data sequencing) and 6
//! (what a receiver does with a message lacking an AVP its section requires), driving `Lns` and
//! `Lac` as a hand-written peer would. Each test is named after its row in
//! `conformance/rfc2661.toml`.

mod common;

use common::l2tp::*;

use std::time::Duration;

use telcp::l2tp::wire::{ResultCode, ResultCodeValue};
use telcp::l2tp::{Close, Config, Event, Lac, Lns, SessionRef};

type PL = Peer<Lns>;
type PQ = Peer<Lac>;

/// The LNS's Session ID from the ICRP among `got`.
fn icrp_sid(got: &[Ctl]) -> Option<u16> {
    PL::find(got, mt::ICRP).and_then(|c| c.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16))
}

/// An LNS built from `f(common config)`.
fn lns_cfg(f: impl FnOnce(&mut Config)) -> PL {
    let mut c = common(7);
    f(&mut c);
    lns_with(c)
}

/// A LAC built from `f(common config)`.
fn lac_cfg(f: impl FnOnce(&mut Config)) -> PQ {
    let mut c = common(7);
    f(&mut c);
    lac_with(c)
}

/// Answers the LAC's SCCRQ with an SCCRP advertising Receive Window Size 1 (RFC 2661 4.4.3):
/// the SCCCN goes and nothing more until it is acknowledged (5.8); then acknowledges it and
/// returns what the LAC sent next.
fn window_one(q: &mut PQ) -> Vec<Ctl> {
    let mut avps = sccrp_avps(q.my_tid);
    avps.push(m(at::RECEIVE_WINDOW_SIZE, be16(1)));
    q.send(mt::SCCRP, 0, avps);
    let got = q.recv();
    assert!(PQ::find(&got, mt::SCCCN).is_some(), "{got:?}");
    assert!(
        PQ::find(&got, mt::ICRQ).is_none(),
        "window exceeded: {got:?}"
    );
    q.zlb();
    q.recv()
}

/// An SCCRQ from a second LAC tunnel (Assigned Tunnel ID `tid`), sent with header Tunnel ID 0.
fn second_sccrq(p: &mut PL, tid: u16) -> Vec<Ctl> {
    let b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(tid)));
    p.raw(&b);
    p.recv_raw().iter().filter_map(|b| parse_ctl(b)).collect()
}

// ---------------------------------------------------------------------------------------------
// 4.4.2 Result and Error Codes

/// l2tp-4.4.2-stopccn-insufficient-resources: an SCCRQ the LNS cannot take because its tunnel
/// table is full is refused with StopCCN Result Code 2 (general error), Error Code 4
/// (insufficient resources), addressed to the requester's Assigned Tunnel ID.
#[test]
fn l2tp_4_4_2_stopccn_insufficient_resources() {
    // RFC 2661 4.4.2: StopCCN Result Code 2 "General error--Error Code indicates the problem";
    // General Error Code 4 "Insufficient resources to handle this operation now".
    let mut p = lns_cfg(|c| c.max_tunnels = 1);
    p.tunnel();
    let got = second_sccrq(&mut p, 0x1112);
    let stop = PL::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.result(), Some((2, Some(4))), "{stop:?}");
    assert_eq!(stop.tid, 0x1112);
    assert!(PL::find(&got, mt::SCCRP).is_none());
    assert_eq!(p.ep.tunnel_count(), 1);
}

/// l2tp-4.4.2-cdn-temporary-resources: an ICRQ the LNS cannot take because the tunnel's session
/// table is full is refused with a CDN carrying Result Code 4 (lack of facilities, temporary),
/// addressed to the caller's Assigned Session ID.
#[test]
fn l2tp_4_4_2_cdn_temporary_resources() {
    // RFC 2661 4.4.2: CDN Result Code 4 "Call failed due to lack of appropriate facilities being
    // available (temporary condition)".
    let mut p = lns_cfg(|c| c.max_sessions_per_tunnel = 1);
    p.session();
    p.send(mt::ICRQ, 0, icrq_avps(0x2223, 2));
    let got = p.recv();
    assert!(icrp_sid(&got).is_none(), "{got:?}");
    let cdn = PL::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.result().map(|r| r.0), Some(4), "{cdn:?}");
    assert_eq!(cdn.sid, 0x2223);
    assert_eq!(p.ep.session_count(), 1);
}

/// l2tp-4.4.2-cdn-timeout: a session whose set-up does not complete in the allotted time is
/// cleared with a CDN carrying Result Code 10.
#[test]
fn l2tp_4_4_2_cdn_timeout() {
    // RFC 2661 4.4.2: CDN Result Code 10 "Call was not established within time allotted".
    let mut p = lns();
    p.tunnel();
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    let sid = icrp_sid(&got).expect("ICRP");
    p.zlb();
    p.events();
    let got = p.advance(Duration::from_secs(31));
    let cdn = PL::find(&got, mt::CDN).expect("CDN after the set-up time");
    assert_eq!(cdn.result().map(|r| r.0), Some(10), "{cdn:?}");
    assert_eq!(cdn.sid, MY_SID);
    assert_eq!(cdn.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16), Some(sid));
    assert_eq!(p.ep.session_count(), 0);
    assert_eq!(p.ep.tunnel_count(), 1, "only the call is cleared");
}

/// l2tp-5.8-answer-ahead-of-requests: a LAC's ICCN, the answer to the LNS's ICRP in a set-up
/// under way (RFC 2661 7.4.1: the LNS waits for it), is not held behind ICRQs of calls opened
/// later that wait for the send window (5.8: no more than the peer's Receive Window Size
/// unacknowledged; Appendix A); Ns stays the sending order (5.8). Four calls opened at once on a
/// tunnel whose LNS advertises Receive Window Size 1: the first call's ICRP answered, its ICCN
/// leaves before the third and fourth calls' ICRQs (the second's may have left with the ICRP's
/// acknowledgement), each message at the next Ns.
#[test]
fn l2tp_5_8_answer_ahead_of_requests() {
    let mut q = lac_cfg(|_| {});
    let (c1, _) = q.open();
    for _ in 0..3 {
        q.ep.open_session(q.now).unwrap();
    }
    let got = window_one(&mut q);
    let icrq_sid = |c: &Ctl| c.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16).unwrap();
    let s1 = icrq_sid(&PQ::find(&got, mt::ICRQ).expect("first ICRQ"));
    q.send(mt::ICRP, s1, vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))]);
    let mut sent = q.recv();
    for _ in 0..4 {
        q.zlb();
        sent.extend(q.recv());
    }
    let order: Vec<u16> = sent
        .iter()
        .filter_map(|c| c.mt())
        .filter(|t| *t == mt::ICRQ || *t == mt::ICCN)
        .collect();
    assert_eq!(
        order.iter().filter(|t| **t == mt::ICRQ).count(),
        3,
        "{sent:?}"
    );
    let iccn_at = order.iter().position(|t| *t == mt::ICCN).expect("ICCN");
    assert!(iccn_at <= 1, "ICCN behind queued ICRQs: {order:?}");
    let ns: Vec<u16> = sent.iter().filter(|c| !c.is_zlb()).map(|c| c.ns).collect();
    assert!(
        ns.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{ns:?}"
    );
    let ev = q.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::SessionUp { call: Some(c), .. } if *c == c1)),
        "{ev:?}"
    );
}

/// l2tp-4.4.2-lac-setup-from-icrq: the time a LAC allots a call's set-up (CDN Result Code 10,
/// "Call was not established within time allotted by LAC", RFC 2661 4.4.2) runs from the call's
/// ICRQ being sent, not from the call being opened: an ICRQ waiting for the send window (RFC
/// 2661 5.8: no more than the peer's Receive Window Size unacknowledged; Appendix A) is a request
/// the LNS cannot have answered yet. Three calls opened at once on a tunnel whose LNS advertises
/// Receive Window Size 1 and acknowledges the first ICRQ after 20 s: the second call, answered
/// 25 s after its ICRQ left (45 s after it was opened, beyond the 31 s allotted), is set up; the
/// third, never answered, is cleared one set-up wait after its ICRQ left, not before; the first,
/// never answered, one set-up wait after it was sent.
#[test]
fn l2tp_4_4_2_lac_setup_from_icrq() {
    let mut q = lac_cfg(|c| c.session_setup_timeout = Duration::from_secs(30));
    // The set-up wait: 30 s, but never less than the channel's retransmission span (1 + 2 + 4
    // + 8 + 8 + 8 s with the default channel).
    let wait = Duration::from_secs(31);
    let t0 = q.now;
    let (c1, _) = q.open();
    let c2 = q.ep.open_session(q.now).unwrap();
    let c3 = q.ep.open_session(q.now).unwrap();
    let got = window_one(&mut q);
    let icrq_sid = |c: &Ctl| c.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16).unwrap();
    let icrqs: Vec<u16> = got
        .iter()
        .filter(|c| c.mt() == Some(mt::ICRQ))
        .map(icrq_sid)
        .collect();
    assert_eq!(icrqs.len(), 1, "one ICRQ in flight: {got:?}");
    let s1 = icrqs[0];
    // The first ICRQ unacknowledged for 20 s (retransmitted): the others wait.
    let got = q.advance(Duration::from_secs(20));
    assert!(
        got.iter()
            .filter(|c| c.mt() == Some(mt::ICRQ))
            .all(|c| icrq_sid(c) == s1),
        "{got:?}"
    );
    // Acknowledged: the second ICRQ leaves; acknowledged, the third.
    q.zlb();
    let got = q.recv();
    let s2 = icrq_sid(&PQ::find(&got, mt::ICRQ).expect("second ICRQ"));
    q.zlb();
    let got = q.recv();
    let s3 = icrq_sid(&PQ::find(&got, mt::ICRQ).expect("third ICRQ"));
    q.zlb();
    let sent = q.now;
    let cdn_of = |got: &[Ctl], sid: u16| {
        got.iter()
            .find(|c| {
                c.mt() == Some(mt::CDN)
                    && c.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16) == Some(sid)
            })
            .cloned()
    };
    // 45 s after the calls were opened: only the first call, sent at once, was cleared.
    let got = q.advance(t0 + Duration::from_secs(45) - q.now);
    let cdn1 = cdn_of(&got, s1).expect("CDN of the first call");
    assert_eq!(cdn1.result().map(|r| r.0), Some(10), "{cdn1:?}");
    assert!(
        cdn_of(&got, s2).is_none() && cdn_of(&got, s3).is_none(),
        "{got:?}"
    );
    q.zlb();
    // The second call answered 25 s after its ICRQ left: set up (ICCN, then up).
    q.send(mt::ICRP, s2, vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))]);
    let got = q.recv();
    assert!(PQ::find(&got, mt::ICCN).is_some(), "{got:?}");
    q.zlb();
    let ev = q.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::SessionUp { call: Some(c), .. } if *c == c2)),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::SessionDown { call: Some(c), .. } if *c == c1)),
        "{ev:?}"
    );
    // The third: cleared one set-up wait after its ICRQ left, not before.
    let got = q.advance(sent + wait - Duration::from_millis(100) - q.now);
    assert!(cdn_of(&got, s3).is_none(), "{got:?}");
    let got = q.advance(Duration::from_millis(200));
    let cdn3 = cdn_of(&got, s3).expect("CDN of the third call");
    assert_eq!(cdn3.result().map(|r| r.0), Some(10), "{cdn3:?}");
    let ev = q.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::SessionDown { call: Some(c), .. } if *c == c3)),
        "{ev:?}"
    );
}

/// l2tp-4.4.2-result-code-length: a Result Code AVP is 8 octets long without an Error Code, 10
/// with one and no message, more with a message; never 9.
#[test]
fn l2tp_4_4_2_result_code_length() {
    // RFC 2661 4.4.2: the Result Code AVP's Length is 8 (Result Code only), 10 (with Error Code)
    // or more than 10 (with an Error Message).
    let mut p = lns_cfg(|c| c.max_tunnels = 1);
    let sid = p.session();
    let mut all = second_sccrq(&mut p, 0x1112);
    let now = p.now;
    let r = SessionRef {
        tunnel: p.their_tid,
        session: sid,
    };
    p.ep.close_session(now, r, ResultCode::new(ResultCodeValue(3)))
        .unwrap();
    all.extend(p.recv());
    let rcs: Vec<&A> = all.iter().filter_map(|c| c.avp(at::RESULT_CODE)).collect();
    assert!(rcs.len() >= 2, "{all:?}");
    for a in rcs {
        let len = a.raw_flags & 0x03ff;
        assert!(len == 8 || len >= 10, "Result Code AVP length {len}: {a:?}");
        assert_eq!(usize::from(len), 6 + a.value.len());
    }
}

// ---------------------------------------------------------------------------------------------
// 4.4.3 Control Connection Management AVPs

/// Grows the LNS's congestion window with `n` acknowledged ICRQ/ICRP exchanges, then sends `k`
/// ICRQs without acknowledging anything; returns how many of its messages are outstanding.
fn outstanding_after_flood(p: &mut PL, n: u16, k: u16) -> usize {
    for i in 0..n {
        p.send(mt::ICRQ, 0, icrq_avps(0x0c00 + i, u32::from(i)));
        p.recv();
    }
    p.zlb();
    let (nr, tid) = (p.nr, p.their_tid);
    for i in 0..k {
        let b = control(
            tid,
            0,
            p.ns,
            nr,
            &with_type(mt::ICRQ, icrq_avps(0x0d00 + i, 100 + u32::from(i))),
        );
        p.ns += 1;
        p.raw(&b);
    }
    p.recv().iter().filter(|c| !c.is_zlb()).count()
}

/// l2tp-4.4.3-receive-window-default: when the peer's SCCRQ has no Receive Window Size AVP, at
/// most 4 control messages are outstanding toward it; with a larger advertised window, more.
#[test]
fn l2tp_4_4_3_receive_window_default() {
    // RFC 2661 4.4.3 (Receive Window Size): absent the AVP, the peer is assumed to have a receive
    // window of 4.
    let mut p = lns();
    p.tunnel();
    assert_eq!(outstanding_after_flood(&mut p, 12, 8), 4);
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(at::RECEIVE_WINDOW_SIZE, be16(8)));
    p.sccrq(avps);
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    assert!(outstanding_after_flood(&mut p, 12, 8) > 4);
}

/// l2tp-4.4.3-tie-breaker-equal: when crossing SCCRQs carry equal Tie Breakers, both sides drop
/// their request: the LAC neither answers ours nor keeps its own tunnel.
#[test]
fn l2tp_4_4_3_tie_breaker_equal() {
    // RFC 2661 4.4.3 (Tie Breaker): with equal values both sides discard their tunnels.
    let mut q = lac();
    let (_, rq) = q.open();
    let old_tid = q.their_tid;
    let tb = rq.avp(at::TIE_BREAKER).expect("tie breaker").value.clone();
    let mut avps = sccrq_avps(q.my_tid);
    avps.push(o(at::TIE_BREAKER, tb));
    q.raw(&control(0, 0, 0, 0, &with_type(mt::SCCRQ, avps)));
    let got = q.recv();
    assert!(PQ::find(&got, mt::SCCRP).is_none(), "{got:?}");
    // Our answer to the LAC's first SCCRQ now finds no tunnel.
    let b = control(old_tid, 0, 0, 1, &with_type(mt::SCCRP, sccrp_avps(0x3334)));
    q.raw(&b);
    let got = q.recv();
    assert!(
        PQ::find(&got, mt::SCCCN).is_none(),
        "old tunnel kept: {got:?}"
    );
}

/// l2tp-4.4.3-tie-breaker-absent: a crossing SCCRQ without a Tie Breaker loses to ours: the LAC
/// does not answer it and keeps its own request.
#[test]
fn l2tp_4_4_3_tie_breaker_absent() {
    // RFC 2661 4.4.3 (Tie Breaker): when only one side sent a Tie Breaker, that side wins.
    let mut q = lac();
    q.open();
    q.raw(&control(
        0,
        0,
        0,
        0,
        &with_type(mt::SCCRQ, sccrq_avps(0x3999)),
    ));
    let got = q.recv();
    assert!(PQ::find(&got, mt::SCCRP).is_none(), "{got:?}");
    q.send(mt::SCCRP, 0, sccrp_avps(q.my_tid));
    let got = q.recv();
    assert!(
        PQ::find(&got, mt::SCCCN).is_some(),
        "own tunnel lost: {got:?}"
    );
}

/// l2tp-4.4.3-challenge-without-secret: an SCCRQ with a Challenge that the LNS cannot answer (no
/// shared secret) is refused with StopCCN Result Code 4, never answered by an SCCRP without a
/// Challenge Response.
#[test]
fn l2tp_4_4_3_challenge_without_secret() {
    // RFC 2661 4.4.3 (Challenge, Challenge Response) and 5.1.1: a challenged peer must answer
    // with the response; without a secret there is none, so the tunnel is not authorized
    // (4.4.2 StopCCN Result Code 4).
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(at::CHALLENGE, b"0123456789abcdef".to_vec()));
    let got = p.sccrq(avps);
    assert!(PL::find(&got, mt::SCCRP).is_none(), "{got:?}");
    let stop = PL::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.result().map(|r| r.0), Some(4));
    assert_eq!(stop.tid, MY_TID);
    assert_eq!(p.ep.tunnel_count(), 0);
}

/// l2tp-4.4.3-assigned-tunnel-id-zero: an SCCRQ whose Assigned Tunnel ID is 0 (not a valid
/// identifier) does not create a tunnel and gets no SCCRP.
#[test]
fn l2tp_4_4_3_assigned_tunnel_id_zero() {
    // RFC 2661 4.4.3 (Assigned Tunnel ID): the value is a non-zero 16-bit identifier; 3.1: 0 is
    // the Tunnel ID used before one is assigned.
    let mut p = lns();
    let got = p.sccrq(sccrq_avps(0));
    assert!(PL::find(&got, mt::SCCRP).is_none(), "{got:?}");
    assert_eq!(p.ep.tunnel_count(), 0);
}

/// l2tp-4.4.3-sccrp-tunnel-id-zero: a LAC given an SCCRP whose Assigned Tunnel ID is 0 does not
/// complete the tunnel (no SCCCN addressed to Tunnel ID 0, no TunnelUp): it refuses the SCCRP
/// with StopCCN Result Code 2 and clears the tunnel.
#[test]
fn l2tp_4_4_3_sccrp_tunnel_id_zero() {
    // RFC 2661 4.4.3 (Assigned Tunnel ID): the value is a non-zero 16-bit identifier. 4.4.2:
    // StopCCN Result Code 2 "General error--Error Code indicates the problem"; General Error
    // Code 3 "One of the field values was out of range" (6, vendor specific, would do too).
    let mut q = lac();
    q.open();
    q.send(mt::SCCRP, 0, sccrp_avps(0));
    let got = q.recv();
    assert!(PQ::find(&got, mt::SCCCN).is_none(), "{got:?}");
    let stop = PQ::find(&got, mt::STOPCCN).expect("StopCCN refusing the SCCRP");
    let (result, error) = stop.result().expect("Result Code");
    assert_eq!(result, 2, "{stop:?}");
    assert!(matches!(error, Some(3 | 6)), "{stop:?}");
    let ev = q.events();
    assert!(!tunnel_up_in(&ev), "{ev:?}");
    // The tunnel is cleared once the StopCCN is acknowledged and the hold period is over
    // (RFC 2661 5.7).
    q.zlb();
    q.advance(Duration::from_secs(120));
    assert_eq!(q.ep.tunnel_count(), 0);
}

/// l2tp-4.4.3-protocol-version-unsupported: an SCCRQ asking for a Protocol Version other than
/// 1.0 is refused with StopCCN Result Code 5, not answered with an SCCRP; the Error Code gives
/// the highest version supported, 1.0, and no tunnel is kept.
#[test]
fn l2tp_4_4_3_protocol_version_unsupported() {
    // RFC 2661 4.4.3 (Protocol Version): this protocol is version 1 revision 0, the AVP's value a
    // Ver octet then a Rev octet; 4.4.2: StopCCN Result Code 5 "The protocol version of the
    // requester is not supported", the Error Code indicating the highest version supported.
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps[0] = m(at::PROTOCOL_VERSION, vec![2, 0]);
    let got = p.sccrq(avps);
    assert!(PL::find(&got, mt::SCCRP).is_none(), "{got:?}");
    let stop = PL::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.result(), Some((5, Some(0x0100))), "{stop:?}");
    assert_eq!(stop.tid, MY_TID);
    assert_eq!(p.ep.tunnel_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// 4.4.4 Call Management AVPs, 4.4.6 Call Status AVPs

/// l2tp-4.4.4-ocrq-within-capabilities: the Bearer Type and Framing Type of an OCRQ are ones
/// the LAC advertised in its Bearer and Framing Capabilities.
#[test]
fn l2tp_4_4_4_ocrq_within_capabilities() {
    // RFC 2661 4.4.3: Bearer / Framing Capabilities say which bearer and framing the sender can
    // provide for outgoing calls; 4.4.4: Bearer Type / Framing Type name those of the call.
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps[2] = m(at::FRAMING_CAPABILITIES, be32(2)); // asynchronous only
    avps.push(m(at::BEARER_CAPABILITIES, be32(2))); // analog only
    p.sccrq(avps);
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    let now = p.now;
    p.ep.place_call(now, p.their_tid, b"5551234").unwrap();
    let got = p.recv();
    let rq = PL::find(&got, mt::OCRQ).expect("OCRQ");
    let bt = rq.avp(at::BEARER_TYPE).and_then(A::u32).unwrap();
    let ft = rq.avp(at::FRAMING_TYPE).and_then(A::u32).unwrap();
    assert!(
        bt != 0 && bt & !2 == 0,
        "bearer type {bt} outside capabilities 2"
    );
    assert!(
        ft != 0 && ft & !2 == 0,
        "framing type {ft} outside capabilities 2"
    );
    // A LAC whose Bearer Capabilities name no bearer for outgoing calls is sent no OCRQ: no
    // Bearer Type would fall within them.
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(at::BEARER_CAPABILITIES, be32(0)));
    p.sccrq(avps);
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    let now = p.now;
    assert!(p.ep.place_call(now, p.their_tid, b"5551234").is_err());
    let got = p.recv();
    assert!(PL::find(&got, mt::OCRQ).is_none(), "{got:?}");
}

/// l2tp-4.4.4-iccn-within-capabilities: the Framing Type of the LAC's ICCN is one the LNS
/// advertised in its Framing Capabilities.
#[test]
fn l2tp_4_4_4_iccn_within_capabilities() {
    // RFC 2661 4.4.3 (Framing Capabilities) and 4.4.4 (Framing Type).
    let mut q = lac();
    let mut avps = sccrp_avps(q.my_tid);
    avps[2] = m(at::FRAMING_CAPABILITIES, be32(2)); // asynchronous only
    let (_, lac_sid, _) = q.until_icrq_with(avps);
    q.send(
        mt::ICRP,
        lac_sid,
        vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))],
    );
    let got = q.recv();
    let iccn = PQ::find(&got, mt::ICCN).expect("ICCN");
    let ft = iccn.avp(at::FRAMING_TYPE).and_then(A::u32).unwrap();
    assert!(
        ft != 0 && ft & !2 == 0,
        "framing type {ft} outside capabilities 2"
    );
    // The same holds for the OCCN of an outgoing call (4.4.4: Framing Type in OCCN), even when
    // the OCRQ names a framing outside what the LNS itself advertised.
    q.send(mt::OCRQ, 0, ocrq_avps(MY_SID + 1, b"5551234"));
    let got = q.recv();
    let occn = PQ::find(&got, mt::OCCN).expect("OCCN");
    let ft = occn.avp(at::FRAMING_TYPE).and_then(A::u32).unwrap();
    assert!(
        ft != 0 && ft & !2 == 0,
        "OCCN framing type {ft} outside capabilities 2"
    );
}

/// l2tp-4.4.6-lac-sequencing-required: a LAC that needs sequenced data says so with Sequencing
/// Required in its ICCN and then sends every data message with Ns/Nr (S=1).
#[test]
fn l2tp_4_4_6_lac_sequencing_required() {
    // RFC 2661 4.4.6 (Sequencing Required): with the AVP, sequence numbers are present on all
    // data messages of the session for its whole life.
    let mut q = lac_cfg(|c| c.sequencing_required = true);
    let (call, _, got) = q.session();
    let iccn = PQ::find(&got, mt::ICCN).expect("ICCN");
    assert!(iccn.has(at::SEQUENCING_REQUIRED), "{iccn:?}");
    for i in 0..3u16 {
        q.ep.send_ppp(call, b"\xff\x03\xc0\x21").unwrap();
        let raw = q.recv_raw();
        let d = raw.iter().find_map(|b| parse_data(b)).expect("data");
        assert_eq!(d.seq.map(|s| s.0), Some(i), "{d:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3.1 / 3.2 / 5.4 data messages and message types

/// l2tp-3.1-data-flags: data messages go out with T=0, the reserved bits 0, version 2, the O
/// and P bits clear, and (when L is set) a Length equal to the whole message.
#[test]
fn l2tp_3_1_data_flags() {
    // RFC 2661 3.1: T is 0 for data; reserved bits "MUST be set to 0 on outgoing"; Ver 2.
    let mut p = lns();
    let sid = p.session();
    let r = SessionRef {
        tunnel: p.their_tid,
        session: sid,
    };
    p.ep.send_ppp(r, b"\xff\x03\xc0\x21\x01").unwrap();
    let mut q = lac();
    let (call, _, _) = q.session();
    q.ep.send_ppp(call, b"\xff\x03\xc0\x21\x01").unwrap();
    let raw: Vec<Vec<u8>> = p.recv_raw().into_iter().chain(q.recv_raw()).collect();
    assert_eq!(raw.len(), 2);
    for b in raw {
        let f = u16::from_be_bytes([b[0], b[1]]);
        assert_eq!(f & 0x8000, 0, "T bit");
        assert_eq!(f & 0x34f0, 0, "reserved bits: {f:#06x}");
        assert_eq!(f & 0x0300, 0, "O/P bits: {f:#06x}");
        assert_eq!(f & 0x000f, 2, "version");
        if f & 0x4000 != 0 {
            assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len());
        }
        let d = parse_data(&b).unwrap();
        assert_eq!(d.payload, b"\xff\x03\xc0\x21\x01");
    }
}

/// l2tp-3.2-message-types: every control message sent carries one of the Message Type values
/// section 3.2 defines (never the reserved 0, 5 or 13, never an undefined value).
#[test]
fn l2tp_3_2_message_types() {
    // RFC 2661 3.2: the control message types and their values.
    let mut p = lns();
    let sid = p.session();
    let now = p.now;
    let r = SessionRef {
        tunnel: p.their_tid,
        session: sid,
    };
    p.ep.send_sli(now, r, 0, 0).unwrap();
    p.ep.place_call(now, p.their_tid, b"1").unwrap();
    p.ep.close_session(now, r, ResultCode::new(ResultCodeValue(3)))
        .unwrap();
    p.recv();
    p.advance(Duration::from_secs(70));
    let mut q = lac();
    q.session();
    let all: Vec<Ctl> = p.log.into_iter().chain(q.log).collect();
    let mut seen = Vec::new();
    for c in all.iter().filter(|c| !c.is_zlb()) {
        let t = c.mt().expect("Message Type first");
        assert!(
            matches!(t, 1..=4 | 6..=12 | 14..=16),
            "type {t} not defined"
        );
        seen.push(t);
    }
    for t in [
        mt::SCCRQ,
        mt::SCCRP,
        mt::SCCCN,
        mt::ICRQ,
        mt::ICRP,
        mt::ICCN,
    ] {
        assert!(seen.contains(&t), "{t} never sent");
    }
}

/// l2tp-5.4-sequencing-off-by-default: without Sequencing Required, data messages go out
/// without Ns/Nr (S=0), and data messages from the peer without them are accepted.
#[test]
fn l2tp_5_4_sequencing_off_by_default() {
    // RFC 2661 5.4 / 3.1: sequence numbers on the data channel are optional unless the Sequencing
    // Required AVP was exchanged.
    let mut p = lns();
    let sid = p.session();
    let r = SessionRef {
        tunnel: p.their_tid,
        session: sid,
    };
    p.ep.send_ppp(r, b"\xff\x03").unwrap();
    let raw = p.recv_raw();
    let d = parse_data(&raw[0]).unwrap();
    assert_eq!(d.flags & 0x0800, 0, "S bit set: {d:?}");
    assert!(d.seq.is_none());
    let mut b = vec![0x00, 0x02];
    b.extend(p.their_tid.to_be_bytes());
    b.extend(sid.to_be_bytes());
    b.extend(b"\xff\x03\x00\x21");
    p.raw(&b);
    assert_eq!(
        &p.ep.poll_data().expect("frame").frame[..],
        b"\xff\x03\x00\x21"
    );
}

// ---------------------------------------------------------------------------------------------
// 5.5 - 5.7 on the LAC side

/// l2tp-5.5-lac-hello: a LAC, too, sends a HELLO (Session ID 0, Message Type alone) after the
/// configured time without a message from the LNS.
#[test]
fn l2tp_5_5_lac_hello() {
    // RFC 2661 5.5: either peer keeps the tunnel alive with HELLO after a period of inactivity.
    let mut q = lac();
    q.session();
    let got = q.advance(Duration::from_secs(61));
    let h = PQ::find(&got, mt::HELLO).expect("HELLO");
    assert_eq!(h.avps.len(), 1);
    assert_eq!((h.tid, h.sid), (q.my_tid, 0));
}

/// l2tp-5.6-lac-cdn-sent: a LAC ending a call sends a CDN with Result Code and its Assigned
/// Session ID, addressed to the LNS's session; the tunnel stays.
#[test]
fn l2tp_5_6_lac_cdn_sent() {
    // RFC 2661 5.6 (either side may tear down a session with CDN) and 6.12.
    let mut q = lac();
    let (call, lac_sid, _) = q.session();
    q.events();
    let now = q.now;
    q.ep.close_session(now, call, Close::default()).unwrap();
    // The call's end is reported with the Result Code the CDN carried (RFC 2661 4.4.2: Result
    // Code 3, "Session disconnected for administrative reasons").
    let down = q
        .events()
        .into_iter()
        .find_map(|e| match e {
            Event::SessionDown {
                call: c, result, ..
            } if c == Some(call) => Some(result),
            _ => None,
        })
        .expect("SessionDown for the call");
    assert_eq!(down.map(|r| r.result.0), Some(3));
    let got = q.recv();
    let cdn = PQ::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID);
    assert_eq!(
        cdn.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16),
        Some(lac_sid)
    );
    assert!(cdn.result().is_some());
    assert_eq!(q.ep.tunnel_count(), 1);
}

/// l2tp-5.6-lac-cdn-received: a CDN from the LNS ends the LAC's call (reported with its Result
/// Code) and is acknowledged; the tunnel stays.
#[test]
fn l2tp_5_6_lac_cdn_received() {
    // RFC 2661 5.6: the session is torn down; 5.8: the CDN is acknowledged.
    let mut q = lac();
    let (call, lac_sid, _) = q.session();
    q.recv();
    q.events();
    q.send(
        mt::CDN,
        lac_sid,
        vec![
            m(at::RESULT_CODE, be16(3)),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
        ],
    );
    let got = q.recv();
    assert!(
        got.iter().any(|c| c.nr == q.ns),
        "not acknowledged: {got:?}"
    );
    assert!(q.events().iter().any(|e| matches!(
        e,
        Event::SessionDown { call: Some(c), result: Some(r), .. }
            if *c == call && r.result == ResultCodeValue(3)
    )));
    assert_eq!(q.ep.session_of(call), None);
    assert_eq!(q.ep.tunnel_count(), 1);
}

/// l2tp-5.7-sessions-cleared: a StopCCN clears every session of the tunnel implicitly: each is
/// reported down and no CDN is sent for any of them.
#[test]
fn l2tp_5_7_sessions_cleared() {
    // RFC 2661 5.7 / 6.4: all sessions are cleared without explicit call control messages.
    let mut p = lns();
    p.session();
    p.send(mt::ICRQ, 0, icrq_avps(0x2223, 2));
    let got = p.recv();
    let sid2 = icrp_sid(&got).unwrap();
    p.send(mt::ICCN, sid2, iccn_avps());
    p.recv();
    assert_eq!(p.ep.session_count(), 2);
    p.events();
    p.send(
        mt::STOPCCN,
        0,
        vec![
            m(at::ASSIGNED_TUNNEL_ID, be16(MY_TID)),
            m(at::RESULT_CODE, be16(1)),
        ],
    );
    let got = p.recv();
    assert!(PL::find(&got, mt::CDN).is_none(), "{got:?}");
    let downs = p
        .events()
        .iter()
        .filter(|e| matches!(e, Event::SessionDown { .. }))
        .count();
    assert_eq!(downs, 2);
    assert_eq!(p.ep.session_count(), 0);
}

/// l2tp-5.7-lac-stopccn-received: a LAC receiving a StopCCN acknowledges it with a ZLB, sends
/// no CDN, and reports the tunnel and its call down.
#[test]
fn l2tp_5_7_lac_stopccn_received() {
    // RFC 2661 5.7: the recipient acknowledges the StopCCN; its sessions are cleared implicitly.
    let mut q = lac();
    let (call, _, _) = q.session();
    q.recv();
    q.events();
    let ns = q.ns;
    q.send(
        mt::STOPCCN,
        0,
        vec![
            m(at::ASSIGNED_TUNNEL_ID, be16(q.my_tid)),
            m(at::RESULT_CODE, be16(1)),
        ],
    );
    let got = q.recv();
    assert!(got.iter().all(Ctl::is_zlb), "only the ack: {got:?}");
    assert!(got.iter().any(|c| c.nr == ns.wrapping_add(1)), "{got:?}");
    let ev = q.events();
    assert!(tunnel_down_in(&ev));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::SessionDown { call: Some(c), .. } if *c == call
    )));
}

/// l2tp-5.7-stopccn-sender-release: the sender of a StopCCN keeps the tunnel while the StopCCN
/// is unacknowledged and releases it once acknowledged and the hold period is over.
#[test]
fn l2tp_5_7_stopccn_sender_release() {
    // RFC 2661 5.7: the StopCCN is delivered reliably (5.8); the tunnel's state is then released.
    let mut p = lns();
    p.tunnel();
    let (now, tid) = (p.now, p.their_tid);
    p.ep.close_tunnel(now, tid, ResultCode::new(ResultCodeValue(6)))
        .unwrap();
    let got = p.recv();
    assert_eq!(
        PL::find(&got, mt::STOPCCN).and_then(|c| c.result()),
        Some((6, None))
    );
    assert_eq!(p.ep.tunnel_count(), 1, "held until acknowledged");
    p.zlb();
    p.advance(Duration::from_secs(40));
    assert_eq!(p.ep.tunnel_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// 5.8 Reliable Delivery of Control Messages

/// l2tp-5.8-piggyback: when the endpoint has a message to send, the acknowledgement rides on it
/// (Nr) and no separate ZLB is sent.
#[test]
fn l2tp_5_8_piggyback() {
    // RFC 2661 5.8: the Nr of any control message acknowledges; a ZLB is needed only when there
    // is no message to carry it.
    let mut p = lns();
    let got = p.sccrq(sccrq_avps(MY_TID));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].mt(), Some(mt::SCCRP));
    assert_eq!(got[0].nr, 1);
}

/// l2tp-5.8-retransmit-same-ns: a retransmitted message keeps its Ns and its content.
#[test]
fn l2tp_5_8_retransmit_same_ns() {
    // RFC 2661 5.8: the unacknowledged message is sent again, as the same sequence number.
    let mut p = lns();
    let first = PL::find(&p.sccrq(sccrq_avps(MY_TID)), mt::SCCRP).unwrap();
    let again = p.advance(Duration::from_millis(1100));
    let re = PL::find(&again, mt::SCCRP).expect("retransmission");
    assert_eq!(re.ns, first.ns);
    assert_eq!(re.avps, first.avps);
}

/// l2tp-5.8-lac-retransmit: the LAC retransmits an unanswered SCCRQ (same Ns 0), clears the
/// tunnel when its retransmissions run out, and in the end fails the call.
#[test]
fn l2tp_5_8_lac_retransmit() {
    // RFC 2661 5.8: reliable delivery with retransmission applies to both ends; after the
    // retries the tunnel is cleared.
    let mut q = lac();
    let (call, rq) = q.open();
    q.events();
    let got = q.advance(Duration::from_secs(1) + Duration::from_millis(100));
    let re = PQ::find(&got, mt::SCCRQ).expect("retransmitted SCCRQ");
    assert_eq!((re.ns, rq.ns), (0, 0));
    let first = q.their_tid;
    q.advance(Duration::from_secs(60));
    assert!(
        q.events()
            .iter()
            .any(|e| matches!(e, Event::TunnelDown { tunnel, .. } if *tunnel == first)),
        "first tunnel not cleared"
    );
    // The call may be tried again on fresh tunnels (bounded), then fails.
    q.advance(Duration::from_secs(900));
    assert_eq!(q.ep.tunnel_count(), 0);
    assert!(q.events().iter().any(|e| matches!(
        e,
        Event::SessionDown { call: Some(c), .. } if *c == call
    )));
}

/// l2tp-5.8-sccrq-duplicate: a retransmitted SCCRQ (same Ns from the same peer and Assigned
/// Tunnel ID) is acknowledged again but makes no second tunnel.
#[test]
fn l2tp_5_8_sccrq_duplicate() {
    // RFC 2661 5.8: a duplicate is acknowledged and not processed again.
    let mut p = lns();
    let b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
    p.raw(&b);
    p.recv();
    p.raw(&b);
    let again = p.recv();
    assert!(again.iter().all(|c| c.nr == 1), "{again:?}");
    assert!(!again.is_empty(), "re-acknowledged");
    assert_eq!(p.ep.tunnel_count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Section 6: a message without an AVP its section requires is not acted on

/// l2tp-6.1-sccrq-incomplete: an SCCRQ without Host Name creates no tunnel and gets no SCCRP.
#[test]
fn l2tp_6_1_sccrq_incomplete() {
    // RFC 2661 6.1: Host Name must be present in an SCCRQ.
    let mut p = lns();
    let avps: Vec<A> = sccrq_avps(MY_TID)
        .into_iter()
        .filter(|a| a.ty != at::HOST_NAME)
        .collect();
    let got = p.sccrq(avps);
    assert!(PL::find(&got, mt::SCCRP).is_none(), "{got:?}");
    assert_eq!(p.ep.tunnel_count(), 0);
}

/// l2tp-6.2-sccrp-incomplete: an SCCRP without Host Name does not complete the LAC's tunnel.
#[test]
fn l2tp_6_2_sccrp_incomplete() {
    // RFC 2661 6.2: Host Name must be present in an SCCRP.
    let mut q = lac();
    let got = q.sccrp_without(at::HOST_NAME);
    assert!(PQ::find(&got, mt::SCCCN).is_none(), "{got:?}");
    assert!(!tunnel_up_in(&q.events()));
}

/// l2tp-6.6-icrq-incomplete: an ICRQ without Call Serial Number creates no session.
#[test]
fn l2tp_6_6_icrq_incomplete() {
    // RFC 2661 6.6: Assigned Session ID and Call Serial Number must be present in an ICRQ.
    let mut p = lns();
    p.tunnel();
    p.send(mt::ICRQ, 0, vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))]);
    let got = p.recv();
    assert!(icrp_sid(&got).is_none(), "{got:?}");
    assert_eq!(p.ep.session_count(), 0);
}

/// l2tp-6.7-icrp-incomplete: an ICRP without Assigned Session ID does not move the LAC's call
/// on (no ICCN).
#[test]
fn l2tp_6_7_icrp_incomplete() {
    // RFC 2661 6.7: Assigned Session ID must be present in an ICRP.
    let mut q = lac();
    let (_, lac_sid, _) = q.until_icrq();
    q.send(mt::ICRP, lac_sid, vec![]);
    let got = q.recv();
    assert!(PQ::find(&got, mt::ICCN).is_none(), "{got:?}");
}

/// l2tp-6.9-ocrq-incomplete: an OCRQ without Called Number is not answered with an OCRP and
/// makes no session.
#[test]
fn l2tp_6_9_ocrq_incomplete() {
    // RFC 2661 6.9: the OCRQ's required AVPs include Called Number.
    let mut q = lac();
    q.session();
    q.events();
    q.send(
        mt::OCRQ,
        0,
        ocrq_avps(0x4444, b"")
            .into_iter()
            .filter(|a| a.ty != at::CALLED_NUMBER)
            .collect(),
    );
    let got = q.recv();
    assert!(PQ::find(&got, mt::OCRP).is_none(), "{got:?}");
    assert!(!session_up_in(&q.events()));
}

/// l2tp-6.10-ocrp-incomplete: an OCRP without Assigned Session ID does not move the LNS's
/// outgoing call on: a following OCCN does not bring it up.
#[test]
fn l2tp_6_10_ocrp_incomplete() {
    // RFC 2661 6.10: Assigned Session ID must be present in an OCRP.
    let mut p = lns();
    p.tunnel();
    p.events();
    let now = p.now;
    let r = p.ep.place_call(now, p.their_tid, b"5551234").unwrap();
    p.recv();
    p.send(mt::OCRP, r.session, vec![]);
    p.send(mt::OCCN, r.session, iccn_avps());
    p.recv();
    assert!(!session_up_in(&p.events()));
}

/// l2tp-6.13-wen-incomplete: a WEN without Call Errors reports nothing.
#[test]
fn l2tp_6_13_wen_incomplete() {
    // RFC 2661 6.13: Call Errors must be present in a WEN.
    let mut p = lns();
    let sid = p.session();
    p.events();
    p.send(mt::WEN, sid, vec![]);
    p.recv();
    assert!(!p.events().iter().any(|e| matches!(e, Event::Wen { .. })));
}

/// l2tp-6.14-sli-incomplete: an SLI without ACCM reports nothing.
#[test]
fn l2tp_6_14_sli_incomplete() {
    // RFC 2661 6.14: ACCM must be present in an SLI.
    let mut q = lac();
    let (_, lac_sid, _) = q.session();
    q.events();
    q.send(mt::SLI, lac_sid, vec![]);
    q.recv();
    assert!(!q.events().iter().any(|e| matches!(e, Event::Sli { .. })));
}

// ---------------------------------------------------------------------------------------------
// 6.13 / 6.14 direction

/// l2tp-6.13-wen-direction: WEN is a LAC-to-LNS message: a WEN arriving at a LAC is
/// acknowledged and not reported as the LNS's WAN errors.
#[test]
fn l2tp_6_13_wen_direction() {
    // RFC 2661 6.13: the WEN is sent by the LAC to the LNS.
    let mut q = lac();
    let (_, lac_sid, _) = q.session();
    q.recv();
    q.events();
    let mut ce = vec![0, 0];
    ce.extend([0u8; 24]);
    let ns = q.ns;
    q.send(mt::WEN, lac_sid, vec![m(at::CALL_ERRORS, ce)]);
    let got = q.recv();
    assert!(got.iter().any(|c| c.nr == ns.wrapping_add(1)), "{got:?}");
    assert!(!q.events().iter().any(|e| matches!(e, Event::Wen { .. })));
}

/// l2tp-6.14-sli-direction: SLI is an LNS-to-LAC message: an SLI arriving at an LNS is
/// acknowledged and not reported as ACCM to apply.
#[test]
fn l2tp_6_14_sli_direction() {
    // RFC 2661 6.14 and 4.4.6 (ACCM): the LNS sends the ACCM to the LAC.
    let mut p = lns();
    let sid = p.session();
    p.events();
    let mut accm = vec![0, 0];
    accm.extend([0u8; 8]);
    let ns = p.ns;
    p.send(mt::SLI, sid, vec![m(at::ACCM, accm)]);
    let got = p.recv();
    assert!(got.iter().any(|c| c.nr == ns.wrapping_add(1)), "{got:?}");
    assert!(!p.events().iter().any(|e| matches!(e, Event::Sli { .. })));
}

// ---------------------------------------------------------------------------------------------
// More of the LAC's side

/// l2tp-4.4.3-tie-breaker-sent: every SCCRQ the LAC sends carries an 8-octet Tie Breaker with
/// M=0, a fresh value per request.
#[test]
fn l2tp_4_4_3_tie_breaker_sent() {
    // RFC 2661 4.4.3 (Tie Breaker): an 8-octet value, the AVP not mandatory; a sender that wants a
    // single tunnel per peer pair includes it.
    let mut seen = std::collections::BTreeSet::new();
    let seeds = common::seed_range_from(7, common::seeds(2));
    for seed in seeds.clone() {
        let mut q = lac_with(common(seed));
        let (_, rq) = q.open();
        let tb = rq.avp(at::TIE_BREAKER).expect("Tie Breaker");
        assert!(!tb.m, "seed {seed}: {tb:?}");
        assert_eq!(tb.value.len(), 8, "seed {seed}");
        assert!(seen.insert(tb.value.clone()), "seed {seed}: {tb:?} again");
    }
    assert_eq!(seen.len() as u64, seeds.end - seeds.start);
}

/// l2tp-5.8-lac-window: the LAC keeps no more messages outstanding than the LNS's Receive Window
/// Size: with a window of 1 its ICRQ waits until the SCCCN is acknowledged.
#[test]
fn l2tp_5_8_lac_window() {
    // RFC 2661 4.4.3 / 5.8: the sender never has more unacknowledged messages than the peer's
    // Receive Window Size.
    let mut q = lac();
    q.open();
    let got = window_one(&mut q);
    assert!(PQ::find(&got, mt::ICRQ).is_some(), "{got:?}");
}

/// l2tp-5.3-lac-data-forwarded: the LAC sends the caller's PPP frames in data messages addressed
/// with the LNS's Tunnel and Session IDs, and hands up the frames the LNS sends on the session.
#[test]
fn l2tp_5_3_lac_data_forwarded() {
    // RFC 2661 5.3 and 3.1: PPP frames travel in data messages whose header carries the
    // recipient's Tunnel ID and Session ID.
    let mut q = lac();
    let (call, lac_sid, _) = q.session();
    q.recv();
    q.ep.send_ppp(call, b"\xff\x03\xc0\x21").unwrap();
    let raw = q.recv_raw();
    let d = raw.iter().find_map(|b| parse_data(b)).expect("data");
    assert_eq!((d.tid, d.sid), (q.my_tid, MY_SID));
    assert_eq!(d.payload, b"\xff\x03\xc0\x21");
    let mut b = vec![0x00, 0x02];
    b.extend(q.their_tid.to_be_bytes());
    b.extend(lac_sid.to_be_bytes());
    b.extend(b"\xff\x03\x80\x21");
    q.raw(&b);
    let got = q.ep.poll_data().expect("frame");
    assert_eq!(got.call, Some(call));
    assert_eq!(&got.frame[..], b"\xff\x03\x80\x21");
}

/// l2tp-5.6-cdn-unknown-session: a CDN for a session that no longer exists is acknowledged and
/// changes nothing else.
#[test]
fn l2tp_5_6_cdn_unknown_session() {
    // RFC 2661 5.8: every control message is acknowledged; 5.6: the CDN only concerns the session
    // it names.
    let mut p = lns();
    p.session();
    p.events();
    let ns = p.ns;
    p.send(
        mt::CDN,
        0x7777,
        vec![
            m(at::RESULT_CODE, be16(3)),
            m(at::ASSIGNED_SESSION_ID, be16(0x7778)),
        ],
    );
    let got = p.recv();
    assert!(got.iter().any(|c| c.nr == ns.wrapping_add(1)), "{got:?}");
    assert!(got.iter().all(Ctl::is_zlb), "{got:?}");
    assert_eq!(p.ep.session_count(), 1);
    assert!(p.events().is_empty());
}

/// l2tp-rfc1122.3.2.1.3-unspecified-destination: 0.0.0.0 and `::` are never destinations (RFC
/// 1122 section 3.2.1.3 (a), RFC 4291 section 2.5.2) and port 0 is reserved (RFC 6335 section
/// 6): every address an L2TP endpoint is configured to send to is refused when unusable, with
/// the one error name `UnusableAddress`: a LAC's contact LNS and alternates, a tunnel plan's
/// server endpoint (built or from RFC 2868 attributes), a virtual LNS's virtual address and
/// members.
#[test]
fn l2tp_rfc1122_3_2_1_3_unspecified_destination() {
    use std::net::{IpAddr, SocketAddr};
    use telcp::l2tp::lac::{PlanEndpoint, PlanError, TaggedAttribute, TunnelAttribute, TunnelPlan};
    use telcp::l2tp::pool::VirtualLns;
    use telcp::l2tp::{ConfigError, ConfigField, LacConfig, LnsConfig};
    let now = std::time::Instant::now();
    let good: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    for bad in ["10.0.0.1:0", "0.0.0.0:1701", "[::]:1701"] {
        let addr: SocketAddr = bad.parse().unwrap();
        let unusable = |field| Some(ConfigError::UnusableAddress { field, addr });
        let mut c = LacConfig {
            common: common(1),
            ..LacConfig::new(addr)
        };
        assert_eq!(
            Lac::new(c.clone(), now).err(),
            unusable(ConfigField::ContactLns)
        );
        c.contact_lns = good;
        c.alternates = vec![good, addr];
        assert_eq!(Lac::new(c, now).err(), unusable(ConfigField::Alternates));
        assert_eq!(
            TunnelPlan::new(vec![PlanEndpoint::new(good), PlanEndpoint::new(addr)]).err(),
            Some(PlanError::UnusableAddress { tag: 0, addr })
        );
        if addr.port() != 0 {
            // RFC 2868: the server endpoint is an address in text, the port is L2TP's.
            let attr = |tag, value| TaggedAttribute { tag, value };
            let text = addr.ip().to_string().into_bytes();
            let attrs = [
                attr(1, TunnelAttribute::ServerEndpoint(b"10.0.0.1".to_vec())),
                attr(2, TunnelAttribute::ServerEndpoint(text)),
            ];
            assert_eq!(
                TunnelPlan::from_tagged(&attrs).err(),
                Some(PlanError::UnusableAddress { tag: 2, addr })
            );
            let ip = addr.ip();
            let lns = |v: VirtualLns| {
                let cfg = LnsConfig {
                    virtual_lns: Some(v),
                    ..lns_config_of(common(2))
                };
                Lns::new(cfg, now).err()
            };
            let members: Vec<IpAddr> = vec!["10.0.5.1".parse().unwrap(), good.ip()];
            let v = VirtualLns {
                virtual_addr: ip,
                members: members.clone(),
                me: 0,
            };
            assert_eq!(lns(v), unusable(ConfigField::VirtualAddress));
            let v = VirtualLns {
                virtual_addr: "10.0.5.5".parse().unwrap(),
                members: vec![members[0], ip],
                me: 0,
            };
            assert_eq!(lns(v), unusable(ConfigField::VirtualLnsMembers));
        }
    }
    let c = LacConfig {
        common: common(1),
        ..LacConfig::new(good)
    };
    assert!(Lac::new(c, now).is_ok());
    assert!(TunnelPlan::new(vec![PlanEndpoint::new(good)]).is_ok());
}

/// The StopCCN (Result Code 2, Error Code 9) answering `q`'s SCCRQ with the directed address
/// list `list` (the Error Message, RFC 2661 4.4.2's field as the standard redirect uses it);
/// returns the events that followed.
fn refused_directed(q: &mut PQ, list: &[u8]) -> Vec<Event> {
    let (_call, _) = q.open();
    let mut rc = be16(2);
    rc.extend(be16(9));
    rc.extend_from_slice(list);
    q.send(
        mt::STOPCCN,
        0,
        vec![
            m(at::ASSIGNED_TUNNEL_ID, be16(q.my_tid)),
            m(at::RESULT_CODE, rc),
        ],
    );
    q.recv();
    q.events()
}

/// l2tp-rfc1122.3.2.1.3-redirect-unspecified: a redirect naming the unspecified address (or a
/// broadcast or multicast one) is no destination: the LAC passes over it to the next address of
/// the list, and with none left the call fails instead of sending an SCCRQ to 0.0.0.0.
#[test]
fn l2tp_rfc1122_3_2_1_3_redirect_unspecified() {
    // RFC 1122 3.2.1.3 (a): { 0, 0 } "MUST NOT be sent, except as a source address"; RFC 4291
    // 2.5.2: the unspecified address "must not be used as the destination address".
    let mut q = lac();
    let ev = refused_directed(&mut q, b"0.0.0.0, 255.255.255.255, 224.0.0.9, 192.0.2.7");
    let to: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Redirected { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        to,
        ["192.0.2.7".parse::<std::net::IpAddr>().unwrap()],
        "{ev:?}"
    );
    let mut q = lac();
    let ev = refused_directed(&mut q, b"0.0.0.0, [::]");
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Redirected { .. })),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::SessionDown {
                session: None,
                call: Some(_),
                ..
            }
        )),
        "{ev:?}"
    );
}
