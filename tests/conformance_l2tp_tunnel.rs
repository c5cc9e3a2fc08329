//! RFC 2661 sections 3 and 5 (header, tunnel establishment, control channel), driving `Lns` and
//! `Lac` as a hand-written peer would. Each test is named after its row in
//! `conformance/rfc2661.toml`.

mod common;

use common::l2tp::*;

/// l2tp-3.1-control-flags: every control message we send has T=1, L=1, S=1, O=0, P=0 and Ver=2,
/// and its Length is the whole message.
#[test]
fn l2tp_3_1_control_flags() {
    // RFC 2661 3.1: "The Length (L) bit MUST be set to 1 for control messages"; "The Sequence (S)
    // bit MUST be set to 1 for control messages"; "The O bit MUST be set to 0 (zero) for control
    // messages"; "The P bit MUST be set to 0 for all control messages"; Ver "MUST be 2".
    let mut p = lns();
    p.session();
    let mut q = lac();
    q.session();
    let all: Vec<Ctl> = p.log.iter().chain(q.log.iter()).cloned().collect();
    assert!(all.len() >= 6, "{all:?}");
    for c in all {
        assert_eq!(c.flags & 0x8000, 0x8000, "T bit: {c:?}");
        assert_eq!(c.flags & 0x4000, 0x4000, "L bit: {c:?}");
        assert_eq!(c.flags & 0x0800, 0x0800, "S bit: {c:?}");
        assert_eq!(c.flags & 0x0200, 0, "O bit: {c:?}");
        assert_eq!(c.flags & 0x0100, 0, "P bit: {c:?}");
        assert_eq!(c.flags & 0x000f, 2, "version: {c:?}");
        assert_eq!(usize::from(c.length), c.raw.len(), "length: {c:?}");
    }
}

/// l2tp-5.8-zlb-ack: a control message that nothing else acknowledges is acknowledged by a ZLB
/// (a header with no AVPs) whose Nr is one past its Ns.
#[test]
fn l2tp_5_8_zlb_ack() {
    // RFC 2661 5.8: "a ZLB ... MUST be sent" when no message is queued to carry the
    // acknowledgment of a received control message.
    let mut p = lns();
    p.sccrq(sccrq_avps(MY_TID));
    p.send(mt::SCCCN, 0, vec![]);
    let got = p.recv();
    assert_eq!(got.len(), 1, "{got:?}");
    let z = &got[0];
    assert!(z.is_zlb(), "{z:?}");
    assert_eq!(z.tid, MY_TID);
    assert_eq!(z.nr, 2, "Nr acknowledges SCCRQ (0) and SCCCN (1)");
    assert_eq!(z.ns, 1, "a ZLB carries the next Ns without consuming it");
}

use std::time::Duration;
use telcp::l2tp::wire::{ResultCode, ResultCodeValue};

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn secret_cfg(challenge: bool) -> telcp::l2tp::Config {
    let mut c = common(7);
    c.secret = Some(b"s3cret".to_vec());
    c.challenge = challenge;
    c
}

/// l2tp-3.1-reserved-ignored: reserved header bits set by the peer are ignored.
#[test]
fn l2tp_3_1_reserved_ignored() {
    // RFC 2661 3.1: the x bits "MUST be ignored on incoming".
    let mut p = lns();
    let mut b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
    b[0] |= 0x30; // the two reserved bits after L
    b[1] |= 0xf0; // the four reserved bits before Ver
    p.raw(&b);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_some(),
        "{got:?}"
    );
}

/// l2tp-3.1-version-discarded: a message whose Ver is not 2 is discarded without an answer.
#[test]
fn l2tp_3_1_version_discarded() {
    // RFC 2661 3.1: "Packets received with an unknown Ver field MUST be discarded."
    for ver in [1u8, 3, 15] {
        let mut p = lns();
        let mut b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
        b[1] = (b[1] & 0xf0) | ver;
        p.raw(&b);
        assert!(p.recv_raw().is_empty(), "version {ver} answered");
        assert_eq!(p.ep.tunnel_count(), 0);
    }
}

/// l2tp-3.1-tunnel-id-recipient: the Tunnel ID and Session ID in a header are the recipient's,
/// from its Assigned Tunnel ID / Assigned Session ID; an SCCRQ carries Tunnel ID 0.
#[test]
fn l2tp_3_1_tunnel_id_recipient() {
    // RFC 2661 3.1: Tunnel ID and Session ID "have local significance only" and are the ones the
    // receiver assigned; 5.1 / 4.4.3: an SCCRQ goes out with Tunnel ID 0.
    let mut p = lns();
    let sid = p.session();
    assert!(sid != 0);
    for c in &p.log {
        assert_eq!(c.tid, MY_TID, "{c:?}");
        if c.mt() == Some(mt::ICRP) {
            assert_eq!(c.sid, MY_SID);
        }
    }
    let mut q = lac();
    let (_, lac_sid, got) = q.session();
    let rq = q.log.iter().find(|c| c.mt() == Some(mt::SCCRQ)).unwrap();
    assert_eq!((rq.tid, rq.sid), (0, 0));
    assert!(lac_sid != 0);
    for c in got {
        assert_eq!(c.tid, q.my_tid, "{c:?}");
        if c.mt() == Some(mt::ICCN) {
            assert_eq!(c.sid, MY_SID);
        }
    }
}

/// l2tp-5.1-sccrq-sccrp: an SCCRQ is answered by an SCCRP carrying Protocol Version 1.0, Host
/// Name, Framing Capabilities and a non-zero Assigned Tunnel ID.
/// l2tp-6.2-sccrp-avps: the SCCRP carries the AVPs RFC 2661 6.2 requires.
/// l2tp-4.4.3-protocol-version: the Protocol Version we send is 1.0.
/// l2tp-4.4.3-host-name: the Host Name we send is not empty.
/// l2tp-4.4.3-assigned-tunnel-id-nonzero: the Tunnel ID we assign is not 0.
#[test]
fn l2tp_5_1_sccrq_sccrp() {
    // RFC 2661 5.1 (SCCRQ answered by SCCRP), 6.2 (its mandatory AVPs), 4.4.3 (Protocol Version is
    // 1.0; Assigned Tunnel ID is non-zero).
    let mut p = lns();
    let got = p.sccrq(sccrq_avps(MY_TID));
    let rp = Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).expect("SCCRP");
    assert_eq!(rp.avp(at::PROTOCOL_VERSION).unwrap().value, vec![1, 0]);
    assert!(!rp.avp(at::HOST_NAME).unwrap().value.is_empty());
    assert_eq!(rp.avp(at::FRAMING_CAPABILITIES).unwrap().value.len(), 4);
    assert!(rp.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16).unwrap() != 0);
    assert_eq!((rp.ns, rp.nr), (0, 1));
}

/// l2tp-5.1-scccn-establishes: the SCCCN completes the tunnel (TunnelUp) and is acknowledged;
/// no session request is accepted before it.
#[test]
fn l2tp_5_1_scccn_establishes() {
    // RFC 2661 5.1: the three-message exchange SCCRQ, SCCRP, SCCCN establishes the control
    // connection; 7.2 (referenced by 5.1): session messages before it are not served.
    let mut p = lns();
    p.sccrq(sccrq_avps(MY_TID));
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_none(),
        "{got:?}"
    );
    assert!(!tunnel_up_in(&p.events()));
    let mut p = lns();
    p.tunnel();
    assert!(tunnel_up_in(&p.events()));
}

/// l2tp-5.1-lac-sends-scccn: a LAC answers an SCCRP with an SCCCN and only then asks for a session.
/// l2tp-6.1-sccrq-avps: the LAC's SCCRQ carries Protocol Version, Host Name, Framing
/// Capabilities and Assigned Tunnel ID.
#[test]
fn l2tp_5_1_lac_sends_scccn() {
    // RFC 2661 5.1 and 6.1; 5.2: "before an incoming call can be established, a tunnel must exist".
    let mut q = lac();
    let (_, rq) = q.open();
    for a in [
        at::PROTOCOL_VERSION,
        at::HOST_NAME,
        at::FRAMING_CAPABILITIES,
        at::ASSIGNED_TUNNEL_ID,
    ] {
        assert!(rq.has(a), "SCCRQ lacks AVP {a}: {rq:?}");
    }
    assert_eq!(rq.avp(at::PROTOCOL_VERSION).unwrap().value, vec![1, 0]);
    assert_eq!((rq.ns, rq.nr), (0, 0));
    q.send(mt::SCCRP, 0, sccrp_avps(q.my_tid));
    let got = q.recv();
    assert_eq!(got.first().and_then(Ctl::mt), Some(mt::SCCCN), "{got:?}");
}

/// l2tp-5.1.1-sccrp-response: an LNS with a secret answers a Challenge with a Challenge Response
/// MD5(2, secret, challenge) in its SCCRP.
#[test]
fn l2tp_5_1_1_sccrp_response() {
    // RFC 2661 4.4.3 / 5.1.1: the response is MD5 over the Message Type of the message carrying
    // it (one octet), the shared secret and the challenge.
    let mut p = lns_with(secret_cfg(false));
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(at::CHALLENGE, b"0123456789abcdef".to_vec()));
    let got = p.sccrq(avps);
    let rp = Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).expect("SCCRP");
    let want = md5(&[&[2], b"s3cret", b"0123456789abcdef"]);
    assert_eq!(rp.avp(at::CHALLENGE_RESPONSE).unwrap().value, want.to_vec());
}

/// l2tp-5.1.1-scccn-checked: an LNS that challenged takes the SCCCN only with the right response,
/// and otherwise stops the tunnel with Result Code 4 (not authorized).
/// l2tp-4.4.2-stopccn-not-authorized: the failed challenge gets StopCCN Result Code 4.
#[test]
fn l2tp_5_1_1_scccn_checked() {
    // RFC 2661 5.1.1: the challenger checks the response; 4.4.2: StopCCN Result Code 4.
    for good in [true, false] {
        let mut p = lns_with(secret_cfg(true));
        let got = p.sccrq(sccrq_avps(MY_TID));
        let rp = Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).expect("SCCRP");
        let ch = rp.avp(at::CHALLENGE).expect("challenge").value.clone();
        let resp = if good {
            md5(&[&[3], b"s3cret", &ch])
        } else {
            md5(&[&[3], b"wrong", &ch])
        };
        p.send(mt::SCCCN, 0, vec![m(at::CHALLENGE_RESPONSE, resp.to_vec())]);
        let got = p.recv();
        let stop = Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN);
        if good {
            assert!(stop.is_none(), "{got:?}");
            assert!(tunnel_up_in(&p.events()));
        } else {
            let stop = stop.expect("StopCCN");
            assert_eq!(stop.result().map(|r| r.0), Some(4));
            assert_eq!(stop.tid, MY_TID);
        }
    }
}

/// l2tp-5.1.1-lac-checks-sccrp: a LAC that challenged stops the tunnel with Result Code 4 when
/// the SCCRP's response is wrong or missing.
/// l2tp-5.7-stopccn-header-tid: that StopCCN's header carries the peer's Tunnel ID (from the
/// SCCRP's Assigned Tunnel ID), as every control message after the SCCRP must.
#[test]
fn l2tp_5_1_1_lac_checks_sccrp() {
    // RFC 2661 5.1.1; 3.1: the header Tunnel ID is the recipient's.
    let mut q = lac_with(secret_cfg(true));
    let (_, rq) = q.open();
    assert!(rq.has(at::CHALLENGE));
    let mut avps = sccrp_avps(q.my_tid);
    avps.push(m(at::CHALLENGE_RESPONSE, [0u8; 16].to_vec()));
    q.send(mt::SCCRP, 0, avps);
    let got = q.recv();
    let stop = Peer::<telcp::l2tp::Lac>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.result().map(|r| r.0), Some(4));
    assert_eq!(stop.tid, q.my_tid, "StopCCN header Tunnel ID");
}

/// l2tp-5.1.1-scccn-response: a LAC answers the LNS's Challenge with MD5(3, secret, challenge)
/// in its SCCCN.
/// l2tp-6.3-scccn-avps: the SCCCN carries Message Type and, when challenged, Challenge Response.
#[test]
fn l2tp_5_1_1_scccn_response() {
    // RFC 2661 5.1.1, 6.3.
    let mut q = lac_with(secret_cfg(false));
    q.open();
    let mut avps = sccrp_avps(q.my_tid);
    avps.push(m(at::CHALLENGE, b"challenge-value".to_vec()));
    q.send(mt::SCCRP, 0, avps);
    let got = q.recv();
    let cn = Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCCN).expect("SCCCN");
    let want = md5(&[&[3], b"s3cret", b"challenge-value"]);
    assert_eq!(cn.avp(at::CHALLENGE_RESPONSE).unwrap().value, want.to_vec());
}

/// l2tp-4.4.3-tie-breaker: when SCCRQs cross, the one with the lower Tie Breaker wins: the LAC
/// drops its own request and answers ours when ours is lower, ignores ours when it is higher.
#[test]
fn l2tp_4_4_3_tie_breaker() {
    // RFC 2661 4.4.3 (Tie Breaker): the lower value wins; the loser discards its own request.
    for ours_lower in [true, false] {
        let mut q = lac();
        let (_, rq) = q.open();
        let theirs = rq.avp(at::TIE_BREAKER).expect("tie breaker").value.clone();
        let tb = u64::from_be_bytes(theirs.try_into().unwrap());
        let mine = if ours_lower { tb - 1 } else { tb + 1 };
        if tb == 0 || tb == u64::MAX {
            continue;
        }
        let mut avps = sccrq_avps(q.my_tid);
        avps.push(o(at::TIE_BREAKER, mine.to_be_bytes().to_vec()));
        let b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, avps));
        q.raw(&b);
        let got = q.recv();
        let rp = Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCRP);
        assert_eq!(rp.is_some(), ours_lower, "{got:?}");
    }
}

/// l2tp-5.5-hello-sent: after the configured time without a message from the peer, a HELLO is
/// sent; it carries only the Message Type AVP.
/// l2tp-6.5-hello-avps: a HELLO carries the Message Type AVP alone, Session ID 0.
#[test]
fn l2tp_5_5_hello_sent() {
    // RFC 2661 5.5 (keepalive after a period of inactivity), 6.5.
    let mut p = lns();
    p.tunnel();
    let got = p.advance(Duration::from_secs(61));
    let h = Peer::<telcp::l2tp::Lns>::find(&got, mt::HELLO).expect("HELLO");
    assert_eq!(h.avps.len(), 1);
    assert_eq!((h.tid, h.sid), (MY_TID, 0));
}

/// l2tp-5.5-hello-acked: a received HELLO is acknowledged (its Ns counted in the next Nr).
#[test]
fn l2tp_5_5_hello_acked() {
    // RFC 2661 5.5 / 5.8: the HELLO is a control message, reliably delivered and acknowledged.
    let mut p = lns();
    p.tunnel();
    let ns = p.ns;
    p.send(mt::HELLO, 0, vec![]);
    let got = p.recv();
    assert!(got.iter().any(|c| c.nr == ns.wrapping_add(1)), "{got:?}");
}

/// l2tp-5.5-hello-quiet-when-active: no HELLO is sent while messages keep arriving from the peer
/// (data messages included).
#[test]
fn l2tp_5_5_hello_quiet_when_active() {
    // RFC 2661 5.5: a HELLO is sent "after a period of time has passed since the last data
    // message or control message was received".
    let mut p = lns();
    let sid = p.session();
    let mut sent = Vec::new();
    for _ in 0..8 {
        sent.extend(p.advance(Duration::from_secs(20)));
        let mut d = vec![0x00, 0x02];
        d.extend(p.their_tid.to_be_bytes());
        d.extend(sid.to_be_bytes());
        d.extend([0xff, 0x03, 0xc0, 0x21]);
        p.raw(&d);
    }
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&sent, mt::HELLO).is_none(),
        "{sent:?}"
    );
}

/// l2tp-5.5-hello-unanswered: an unacknowledged HELLO is retransmitted and, when retransmissions
/// run out, the tunnel is torn down.
#[test]
fn l2tp_5_5_hello_unanswered() {
    // RFC 2661 5.5: the HELLO's reliable delivery detects a dead peer; 5.8: "the tunnel is
    // cleared" when retransmissions are exhausted.
    let mut p = lns();
    p.tunnel();
    p.events();
    let got = p.advance(Duration::from_secs(200));
    let hellos = got.iter().filter(|c| c.mt() == Some(mt::HELLO)).count();
    assert!(hellos >= 2, "retransmitted: {got:?}");
    assert!(tunnel_down_in(&p.events()));
    assert_eq!(p.ep.tunnel_count(), 0);
}

/// l2tp-5.7-stopccn-sent: closing a tunnel sends a StopCCN with Assigned Tunnel ID and Result
/// Code, and the tunnel's sessions end without a CDN each.
/// l2tp-6.4-stopccn-avps: the StopCCN carries Assigned Tunnel ID and Result Code.
#[test]
fn l2tp_5_7_stopccn_sent() {
    // RFC 2661 5.7: sessions of the tunnel are cleared implicitly; 6.4: mandatory AVPs.
    let mut p = lns();
    p.session();
    p.events();
    let tid = p.their_tid;
    let now = p.now;
    p.ep.close_tunnel(now, tid, ResultCode::new(ResultCodeValue(1)))
        .unwrap();
    let got = p.recv();
    assert_eq!(got.len(), 1, "{got:?}");
    let s = &got[0];
    assert_eq!(s.mt(), Some(mt::STOPCCN));
    assert_eq!(s.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16), Some(tid));
    assert_eq!(s.result(), Some((1, None)));
    assert!(session_down_in(&p.events()));
}

/// l2tp-5.7-stopccn-held: after a StopCCN is received it is acknowledged, and the tunnel is held
/// for a full retransmission cycle so that a retransmitted StopCCN is acknowledged again.
#[test]
fn l2tp_5_7_stopccn_held() {
    // RFC 2661 5.7: the recipient of a StopCCN "MUST send a ZLB ACK" and keep the tunnel's state
    // for a period so retransmissions can be acknowledged.
    let mut p = lns();
    p.session();
    let (ns, nr) = (p.ns, p.nr);
    let stop = with_type(
        mt::STOPCCN,
        vec![
            m(at::ASSIGNED_TUNNEL_ID, be16(MY_TID)),
            m(at::RESULT_CODE, be16(1)),
        ],
    );
    let b = control(p.their_tid, 0, ns, nr, &stop);
    p.raw(&b);
    let got = p.recv();
    assert!(got.iter().all(Ctl::is_zlb), "no CDN, only the ack: {got:?}");
    assert!(got.iter().any(|c| c.nr == ns.wrapping_add(1)), "{got:?}");
    p.advance(Duration::from_secs(20));
    p.raw(&b);
    let again = p.recv();
    assert!(
        again
            .iter()
            .any(|c| c.is_zlb() && c.nr == ns.wrapping_add(1)),
        "{again:?}"
    );
    p.advance(Duration::from_secs(60));
    assert_eq!(
        p.ep.tunnel_count(),
        0,
        "state released after the hold period"
    );
}

/// l2tp-5.7-stopccn-retransmitted: the sender of a StopCCN retransmits it until acknowledged.
#[test]
fn l2tp_5_7_stopccn_retransmitted() {
    // RFC 2661 5.7 / 5.8: the StopCCN is delivered reliably.
    let mut p = lns();
    p.tunnel();
    let now = p.now;
    let tid = p.their_tid;
    p.ep.close_tunnel(now, tid, ResultCode::new(ResultCodeValue(1)))
        .unwrap();
    p.recv();
    let got = p.advance(Duration::from_secs(3));
    assert!(got.iter().any(|c| c.mt() == Some(mt::STOPCCN)), "{got:?}");
}

/// l2tp-5.8-ns-sequence: Ns starts at 0 and grows by one per message (not per ZLB); Nr is the
/// next Ns expected from the peer.
#[test]
fn l2tp_5_8_ns_sequence() {
    // RFC 2661 5.8: "Ns ... starting at 0 ... incremented by one for each message sent"; a ZLB
    // does not increment it; Nr is the sequence number expected next.
    let mut p = lns();
    p.session();
    let msgs: Vec<&Ctl> = p.log.iter().filter(|c| !c.is_zlb()).collect();
    for (i, c) in msgs.iter().enumerate() {
        assert_eq!(usize::from(c.ns), i, "{c:?}");
    }
    for z in p.log.iter().filter(|c| c.is_zlb()) {
        assert!(usize::from(z.ns) <= msgs.len());
    }
    let last = p.log.last().unwrap();
    assert_eq!(last.nr, p.ns, "Nr acknowledges all we sent");
}

/// l2tp-5.8-duplicate: a duplicate (already received Ns) is acknowledged again but not processed
/// a second time.
#[test]
fn l2tp_5_8_duplicate() {
    // RFC 2661 5.8: duplicates are acknowledged and discarded.
    let mut p = lns();
    p.tunnel();
    let b = control(
        p.their_tid,
        0,
        p.ns,
        p.nr,
        &with_type(mt::ICRQ, icrq_avps(MY_SID, 1)),
    );
    p.ns += 1;
    p.raw(&b);
    let first = p.recv();
    assert_eq!(first.iter().filter(|c| c.mt() == Some(mt::ICRP)).count(), 1);
    p.raw(&b);
    let again = p.recv();
    assert!(again.iter().all(|c| c.mt() != Some(mt::ICRP)), "{again:?}");
    assert!(
        again.iter().any(|c| c.nr == p.ns),
        "re-acknowledged: {again:?}"
    );
    assert_eq!(p.ep.session_count(), 1);
}

/// l2tp-5.8-out-of-order: a message ahead of the next expected Ns (inside the window) is kept and
/// processed once the gap is filled, in order.
#[test]
fn l2tp_5_8_out_of_order() {
    // RFC 2661 5.8: messages are processed in Ns order; out-of-order ones may be queued.
    let mut p = lns();
    p.tunnel();
    let (ns, nr, tid) = (p.ns, p.nr, p.their_tid);
    let a = control(tid, 0, ns, nr, &with_type(mt::ICRQ, icrq_avps(0x0a01, 1)));
    let b = control(
        tid,
        0,
        ns + 1,
        nr,
        &with_type(mt::ICRQ, icrq_avps(0x0a02, 2)),
    );
    p.raw(&b);
    let early = p.recv();
    assert!(early.iter().all(|c| c.mt() != Some(mt::ICRP)), "{early:?}");
    p.raw(&a);
    let got = p.recv();
    let icrps: Vec<u16> = got
        .iter()
        .filter(|c| c.mt() == Some(mt::ICRP))
        .map(|c| c.sid)
        .collect();
    assert_eq!(icrps, vec![0x0a01, 0x0a02]);
}

/// l2tp-5.8-retransmit: an unacknowledged message is retransmitted with a doubling timeout
/// (1, 2, 4, 8 s, capped at 8 s or more), then the tunnel is cleared.
/// l2tp-5.8-retransmit-cap: the interval stops doubling at a cap of at least 8 s.
/// l2tp-5.8-max-retries: when the retransmissions run out the tunnel is cleared.
#[test]
fn l2tp_5_8_retransmit() {
    // RFC 2661 5.8: exponential backoff, the cap "SHOULD be no less than 8 seconds"; after the
    // retries the tunnel is torn down.
    let mut p = lns();
    p.sccrq(sccrq_avps(MY_TID));
    let t0 = p.now;
    let mut at_s = Vec::new();
    for _ in 0..80 {
        let got = p.advance(Duration::from_millis(500));
        if got.iter().any(|c| c.mt() == Some(mt::SCCRP)) {
            at_s.push((p.now - t0).as_secs_f64());
        }
    }
    let gaps: Vec<u64> = std::iter::once(0.0)
        .chain(at_s.iter().copied())
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| (w[1] - w[0]).round() as u64)
        .collect();
    assert!(gaps.len() >= 4, "{at_s:?}");
    assert_eq!(&gaps[..4], &[1, 2, 4, 8]);
    assert!(gaps[4..].iter().all(|g| *g >= 8), "{gaps:?}");
    assert_eq!(p.ep.tunnel_count(), 0, "cleared after the retries");
}

/// l2tp-5.8-window: no more control messages are outstanding than the peer's Receive Window
/// Size.
#[test]
fn l2tp_5_8_window() {
    // RFC 2661 4.4.3 / 5.8: the sender "MUST NOT" have more unacknowledged messages than the
    // peer's Receive Window Size.
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(at::RECEIVE_WINDOW_SIZE, be16(1)));
    p.sccrq(avps);
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    let nr_frozen = p.nr;
    let tid = p.their_tid;
    for i in 0..4u16 {
        let b = control(
            tid,
            0,
            p.ns,
            nr_frozen,
            &with_type(mt::ICRQ, icrq_avps(0x0b00 + i, 1)),
        );
        p.ns += 1;
        p.raw(&b);
    }
    let got = p.recv();
    let outstanding = got.iter().filter(|c| !c.is_zlb()).count();
    assert_eq!(outstanding, 1, "{got:?}");
}

/// l2tp-5.8-zlb-received: a ZLB from the peer acknowledges (retransmission stops) and is itself
/// not acknowledged.
#[test]
fn l2tp_5_8_zlb_received() {
    // RFC 2661 5.8: a ZLB carries only an acknowledgement; it is not sequenced or acknowledged.
    let mut p = lns();
    p.sccrq(sccrq_avps(MY_TID));
    p.zlb();
    assert!(p.recv_raw().is_empty(), "a ZLB is not answered");
    let got = p.advance(Duration::from_secs(20));
    assert!(got.iter().all(|c| c.mt() != Some(mt::SCCRP)), "{got:?}");
}

/// l2tp-5.8-sequence-wrap: Ns and Nr are 16-bit and wrap from 65535 to 0.
#[test]
fn l2tp_5_8_sequence_wrap() {
    // RFC 2661 5.8: sequence numbers are compared modulo 2^16.
    let mut p = lns();
    p.tunnel();
    for _ in 0..65_540u32 {
        p.send(mt::HELLO, 0, vec![]);
        p.recv();
    }
    assert_eq!(p.ns, 65_540u32.wrapping_add(2) as u16);
    let ns = p.ns;
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    let icrp = Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).expect("ICRP after the wrap");
    assert_eq!(icrp.nr, ns.wrapping_add(1));
}

/// l2tp-5.8-every-message-acked: every control message received is acknowledged, even one the
/// endpoint refuses (here an ICCN without Tx Connect Speed and Framing Type).
#[test]
fn l2tp_5_8_every_message_acked() {
    // RFC 2661 5.8: every control message is acknowledged (piggybacked or by a ZLB); an
    // unacknowledged one is retransmitted until the tunnel dies.
    let mut p = lns();
    p.tunnel();
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    let sid = Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP)
        .and_then(|c| c.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16))
        .unwrap();
    let ns = p.ns;
    p.send(mt::ICCN, sid, vec![]);
    let got = p.recv();
    assert!(
        got.iter().any(|c| c.nr == ns.wrapping_add(1)),
        "ICCN not acknowledged: {got:?}"
    );
}

/// l2tp-appa-slow-start: after a retransmission timeout only the oldest outstanding message is
/// sent again (the congestion window falls back to 1).
#[test]
fn l2tp_appa_slow_start() {
    // RFC 2661 5.8 refers to Appendix A: on a retransmission timeout the window is set to 1.
    let mut p = lns();
    p.tunnel();
    // Grow the window: a few acknowledged exchanges.
    for i in 0..4u16 {
        p.send(mt::ICRQ, 0, icrq_avps(0x0c00 + i, 1));
        p.recv();
    }
    let nr_frozen = p.nr;
    let tid = p.their_tid;
    for i in 0..3u16 {
        let b = control(
            tid,
            0,
            p.ns,
            nr_frozen,
            &with_type(mt::ICRQ, icrq_avps(0x0d00 + i, 1)),
        );
        p.ns += 1;
        p.raw(&b);
    }
    let first = p.recv();
    assert!(
        first.iter().filter(|c| !c.is_zlb()).count() >= 2,
        "window grew: {first:?}"
    );
    let re = p.advance(Duration::from_millis(1500));
    let re: Vec<&Ctl> = re.iter().filter(|c| !c.is_zlb()).collect();
    assert_eq!(re.len(), 1, "{re:?}");
}
