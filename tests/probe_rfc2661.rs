//! An independent black-box reading of RFC 2661 against the LAC and LNS roles (session 42,
//! helper D). Each test drives an endpoint as a peer would, bytes in and bytes out, through the
//! hand-written peer of `tests/common/l2tp.rs`, and asserts what the RFC says (the sentence is
//! quoted, or closely paraphrased where marked), not what the code does.

mod common;

use common::l2tp::*;
use md5::{Digest, Md5};
use std::time::Duration;
use telcp::l2tp::{Config, Event};

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A control message with our current Ns and an explicit Nr (the peer's `send` uses its own).
fn ctl_nr<E: Endpoint>(p: &mut Peer<E>, sid: u16, nr: u16, mt: u16, avps: Vec<A>) -> Vec<u8> {
    let b = control(p.their_tid, sid, p.ns, nr, &with_type(mt, avps));
    p.ns = p.ns.wrapping_add(1);
    b
}

fn non_zlb(v: &[Ctl]) -> Vec<&Ctl> {
    v.iter().filter(|c| !c.is_zlb()).collect()
}

/// An AVP with a reserved bit of its first octet set.
fn with_reserved(mut a: A) -> A {
    a.raw_flags = 0x0800;
    a
}

fn lns_secret(challenge: bool) -> Peer<telcp::l2tp::Lns> {
    lns_with(Config {
        secret: Some(b"probe secret".to_vec()),
        challenge,
        ..common(42)
    })
}

fn tunnel_down(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::TunnelDown { .. }))
}
fn tunnel_up(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::TunnelUp { .. }))
}
fn session_up(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::SessionUp { .. }))
}

// ------------------------------------------------------------------------------- 3.1 header

/// RFC 2661 3.1: "Ver MUST be 2 ... Packets received with an unknown Ver field MUST be
/// discarded."
#[test]
fn p_3_1_unknown_version_discarded() {
    let mut p = lns();
    let mut b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
    b[1] = 0x03;
    p.raw(&b);
    assert!(p.recv().is_empty(), "no answer to version 3");
    assert!(!tunnel_up(&p.events()));
    // The same SCCRQ with version 2 is served: the version alone was the reason.
    let got = p.sccrq(sccrq_avps(MY_TID));
    assert!(Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_some());
}

/// RFC 2661 3.1: for control messages "The L bit MUST be set to 1", "The S bit MUST be set to
/// 1", "The O bit MUST be set to 0", "The P bit MUST be set to 0", reserved bits "MUST be set to
/// 0 on outgoing messages", Ver 2, and Length "the total length of the message in octets".
#[test]
fn p_3_1_sccrp_header() {
    let mut p = lns();
    let got = p.sccrq(sccrq_avps(MY_TID));
    let rp = Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).expect("SCCRP");
    assert_eq!(rp.flags, 0xc802, "T=1 L=1 S=1 O=0 P=0, reserved 0, Ver 2");
    assert_eq!(usize::from(rp.length), rp.raw.len());
    assert_eq!(
        rp.tid, MY_TID,
        "the header carries the recipient's Tunnel ID"
    );
    assert_eq!((rp.ns, rp.nr), (0, 1));
}

// ---------------------------------------------------------------------------- 4.1 AVP format

/// RFC 2661 4.1: "If the M bit is set on an unrecognized AVP within a message associated with
/// the overall tunnel, the entire tunnel (and all sessions within) MUST be terminated."
/// 4.4.2 Error Code 8: "Session or tunnel was shutdown due to receipt of an unknown AVP with the
/// M-bit set"; Result Code 2 (StopCCN): "General error--Error Code indicates the problem".
#[test]
fn p_4_1_unknown_mandatory_in_sccrq() {
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(250, vec![1, 2, 3]));
    let got = p.sccrq(avps);
    assert!(Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_none());
    let stop = Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.result(), Some((2, Some(8))));
    assert!(!tunnel_up(&p.events()));
}

/// RFC 2661 4.1 (as above), on an established tunnel: an unknown M=1 AVP in a HELLO (a message
/// of the overall tunnel) terminates the tunnel with StopCCN Result 2 Error 8.
#[test]
fn p_4_1_unknown_mandatory_in_hello() {
    let mut p = lns();
    p.tunnel();
    p.events();
    p.send(mt::HELLO, 0, vec![m(250, vec![0; 4])]);
    let got = p.recv();
    let stop = Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.result(), Some((2, Some(8))));
    assert!(tunnel_down(&p.events()));
}

/// RFC 2661 4.1: "If the M bit is set on an unrecognized AVP within a message associated with a
/// particular session, the session associated with this message MUST be terminated." The tunnel
/// stays: a later call on it is served.
#[test]
fn p_4_1_unknown_mandatory_in_icrq_ends_only_the_session() {
    let mut p = lns();
    p.tunnel();
    p.events();
    let mut avps = icrq_avps(MY_SID, 1);
    avps.push(m(250, vec![9]));
    p.send(mt::ICRQ, 0, avps);
    let got = p.recv();
    assert!(Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_none());
    let cdn = Peer::<telcp::l2tp::Lns>::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.result().map(|r| r.0), Some(2));
    assert_eq!(cdn.result().and_then(|r| r.1), Some(8));
    assert_eq!(cdn.sid, MY_SID, "the CDN names our session");
    assert!(Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN).is_none());
    p.zlb();
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID + 1, 2));
    let got = p.recv();
    assert!(Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_some());
    assert!(!tunnel_down(&p.events()));
}

/// RFC 2661 4.1: "If the M bit is not set, an unrecognized AVP MUST be ignored."
#[test]
fn p_4_1_unknown_optional_ignored() {
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.insert(1, o(250, vec![7; 3]));
    avps.push(A {
        vendor: 9999,
        ..o(1, vec![1])
    });
    let got = p.sccrq(avps);
    assert!(Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_some());
}

/// RFC 2661 4.1: "Reserved bits MUST be set to 0. An AVP received with a reserved bit set to 1
/// MUST be treated as an unrecognized AVP." So a known AVP with M=1 and a reserved bit in an ICRQ
/// terminates the session (CDN), and with M=0 it is ignored (the call proceeds).
#[test]
fn p_4_1_reserved_bit_is_unrecognized() {
    let mut p = lns();
    p.tunnel();
    let mut avps = icrq_avps(MY_SID, 1);
    avps.push(with_reserved(m(at::BEARER_TYPE, be32(1))));
    p.send(mt::ICRQ, 0, avps);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_none(),
        "M=1 with a reserved bit: unrecognized mandatory, no ICRP: {got:?}"
    );
    assert!(Peer::<telcp::l2tp::Lns>::find(&got, mt::CDN).is_some());
    p.zlb();
    let mut avps = icrq_avps(MY_SID + 1, 2);
    avps.push(with_reserved(o(at::BEARER_TYPE, be32(1))));
    p.send(mt::ICRQ, 0, avps);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_some(),
        "M=0 with a reserved bit: ignored: {got:?}"
    );
}

/// RFC 2661 4.1: "The minimum Length of an AVP is 6." An SCCRQ whose AVP claims length 4, or
/// runs past the end of the message, is not a valid SCCRQ: no tunnel may come of it (silence, or
/// a StopCCN with Result 2, are both readings; an SCCRP is not).
#[test]
fn p_4_1_bad_avp_length() {
    for bad in [4u16, 200] {
        let mut p = lns();
        let mut b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
        // A last AVP: M=1, the given length, IETF type 7 (Host Name), 2 octets of value.
        b.extend((0x8000 | bad).to_be_bytes());
        b.extend([0, 0, 0, 7, b'x', b'y']);
        let len = b.len() as u16;
        b[2..4].copy_from_slice(&len.to_be_bytes());
        p.raw(&b);
        let got = p.recv();
        assert!(
            Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_none(),
            "AVP length {bad}: {got:?}"
        );
        if let Some(s) = Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN) {
            assert_eq!(s.result().map(|r| r.0), Some(2));
        }
        assert!(!tunnel_up(&p.events()));
    }
}

// ------------------------------------------------------------------------- 4.3 hidden AVPs

/// The hidden subformat of RFC 4.3: MD5(type | secret | RV) XOR (length | value | padding), then
/// MD5(secret | previous cipher block) for each further 16 octets.
fn hide(ty: u16, secret: &[u8], rv: &[u8], value: &[u8]) -> Vec<u8> {
    let mut plain = (value.len() as u16).to_be_bytes().to_vec();
    plain.extend(value);
    plain.resize(plain.len().div_ceil(16) * 16, 0);
    let mut out = Vec::new();
    let mut b = md5(&[&ty.to_be_bytes(), secret, rv]);
    for chunk in plain.chunks(16) {
        let c: Vec<u8> = chunk.iter().zip(b).map(|(p, k)| p ^ k).collect();
        b = md5(&[secret, &c]);
        out.extend(c);
    }
    out
}

/// RFC 2661 4.3: a hidden AVP (H=1) carries its value hidden with the tunnel secret and "the
/// Random Vector AVP ... MUST precede the first AVP having an H bit of 1". An ICRQ whose Assigned
/// Session ID is hidden this way is read as the clear one would be: the ICRP goes to that session.
#[test]
fn p_4_3_hidden_assigned_session_id_read() {
    let mut p = lns_secret(false);
    p.tunnel();
    let rv = b"0123456789abcdef".to_vec();
    let hidden = hide(at::ASSIGNED_SESSION_ID, b"probe secret", &rv, &be16(0x4242));
    let avps = vec![
        m(at::RANDOM_VECTOR, rv),
        A {
            h: true,
            ..m(at::ASSIGNED_SESSION_ID, hidden)
        },
        m(at::CALL_SERIAL_NUMBER, be32(5)),
    ];
    p.send(mt::ICRQ, 0, avps);
    let got = p.recv();
    let icrp = Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).expect("ICRP");
    assert_eq!(icrp.sid, 0x4242);
}

/// RFC 2661 4.3: "If the H bit is set in any AVP(s) in a given control message, a Random Vector
/// AVP must also be present in the message and MUST precede the first AVP having an H bit of 1."
/// A hidden AVP with no Random Vector before it cannot be read: the call must not be served as
/// if its (garbage) value were the Session ID.
#[test]
fn p_4_3_hidden_without_random_vector() {
    let mut p = lns_secret(false);
    p.tunnel();
    let hidden = hide(
        at::ASSIGNED_SESSION_ID,
        b"probe secret",
        b"rv",
        &be16(0x4242),
    );
    let avps = vec![
        A {
            h: true,
            ..m(at::ASSIGNED_SESSION_ID, hidden)
        },
        m(at::CALL_SERIAL_NUMBER, be32(5)),
        m(at::RANDOM_VECTOR, b"rv".to_vec()),
    ];
    p.send(mt::ICRQ, 0, avps);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_none(),
        "{got:?}"
    );
}

// ------------------------------------------------------------------ 4.4.3 / 6.1 mandatory AVPs

/// RFC 2661 6.1: "The following AVPs MUST be present in the SCCRQ: Message Type, Protocol
/// Version, Host Name, Framing Capabilities, Assigned Tunnel ID". An SCCRQ lacking one creates no
/// tunnel.
#[test]
fn p_6_1_sccrq_missing_mandatory() {
    for missing in [
        at::PROTOCOL_VERSION,
        at::HOST_NAME,
        at::FRAMING_CAPABILITIES,
        at::ASSIGNED_TUNNEL_ID,
    ] {
        let mut p = lns();
        let avps = sccrq_avps(MY_TID)
            .into_iter()
            .filter(|a| a.ty != missing)
            .collect();
        let got = p.sccrq(avps);
        assert!(
            Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_none(),
            "SCCRQ without AVP {missing} answered with SCCRP"
        );
        assert!(!tunnel_up(&p.events()));
    }
}

/// RFC 2661 4.4.3 Assigned Tunnel ID: "The Assigned Tunnel ID is ... non-zero" (5.3/3.1: the
/// value 0 is special, "MUST NOT be used as an Assigned ... Tunnel ID"). An SCCRQ assigning
/// Tunnel ID 0 creates no tunnel.
#[test]
fn p_4_4_3_assigned_tunnel_id_zero() {
    let mut p = lns();
    let got = p.sccrq(sccrq_avps(0));
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_none(),
        "{got:?}"
    );
    assert!(!tunnel_up(&p.events()));
}

/// RFC 2661 4.4.4 Assigned Session ID: "The Assigned Session ID ... is non-zero" (same rule as
/// Tunnel ID). An ICRQ assigning Session ID 0 is not served.
#[test]
fn p_4_4_4_assigned_session_id_zero() {
    let mut p = lns();
    p.tunnel();
    p.send(mt::ICRQ, 0, icrq_avps(0, 1));
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_none(),
        "{got:?}"
    );
}

/// RFC 2661 4.4.1: the Message Type AVP with the M bit set naming a type unknown to the
/// implementation is a mandatory unknown: the tunnel is cleared (paraphrase of 4.4.1, with 4.1's
/// rule for an unrecognised mandatory item of the tunnel).
#[test]
fn p_4_4_1_unknown_message_type_mandatory() {
    let mut p = lns();
    p.tunnel();
    p.events();
    p.send(99, 0, vec![]);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN).is_some(),
        "{got:?}"
    );
}

// ------------------------------------------------------------------- 5.1.1 authentication

/// RFC 2661 4.4.3 Challenge Response: "a 16 octet value ... MD5 of the ID, the secret and the
/// Challenge" where the ID is the Message Type of the response's message (2 for the SCCRP).
#[test]
fn p_5_1_1_sccrp_challenge_response() {
    let mut p = lns_secret(false);
    let chal = b"a challenge of 16".to_vec();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(at::CHALLENGE, chal.clone()));
    let got = p.sccrq(avps);
    let rp = Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).expect("SCCRP");
    let r = rp.avp(at::CHALLENGE_RESPONSE).expect("Challenge Response");
    assert_eq!(r.value, md5(&[&[2], b"probe secret", &chal]));
}

/// RFC 2661 5.1.1: the LNS's Challenge in the SCCRP must be answered in the SCCCN, and a wrong
/// response means the peer is not authorized: StopCCN Result 4 "Requester is not authorized to
/// establish a control channel". The right response (MD5 of 3 | secret | challenge) establishes.
#[test]
fn p_5_1_1_scccn_response_checked() {
    for right in [false, true] {
        let mut p = lns_secret(true);
        let got = p.sccrq(sccrq_avps(MY_TID));
        let rp = Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).expect("SCCRP");
        let chal = rp.avp(at::CHALLENGE).expect("Challenge").value.clone();
        let resp = if right {
            md5(&[&[3], b"probe secret", &chal]).to_vec()
        } else {
            md5(&[&[2], b"probe secret", &chal]).to_vec()
        };
        p.send(mt::SCCCN, 0, vec![m(at::CHALLENGE_RESPONSE, resp)]);
        let got = p.recv();
        let ev = p.events();
        if right {
            assert!(tunnel_up(&ev), "{got:?}");
        } else {
            let s = Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN).expect("StopCCN");
            assert_eq!(s.result().map(|r| r.0), Some(4));
            assert!(!tunnel_up(&ev));
        }
    }
}

/// RFC 2661 5.1.1 at a LAC: the SCCRP's Challenge Response to the LAC's Challenge is checked;
/// a wrong one tears the tunnel down (StopCCN, Result 4), no SCCCN.
#[test]
fn p_5_1_1_lac_checks_sccrp_response() {
    let mut p = lac_with(Config {
        secret: Some(b"probe secret".to_vec()),
        challenge: true,
        ..common(42)
    });
    let (_, rq) = p.open();
    assert!(rq.has(at::CHALLENGE), "a LAC with challenge set sends one");
    let mut avps = sccrp_avps(p.my_tid);
    avps.push(m(at::CHALLENGE_RESPONSE, vec![0; 16]));
    p.send(mt::SCCRP, 0, avps);
    let got = p.recv();
    assert!(Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCCN).is_none());
    let s = Peer::<telcp::l2tp::Lac>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(s.result().map(|r| r.0), Some(4));
}

// -------------------------------------------------------------------- 5.8 reliable delivery

/// RFC 2661 5.8: a message received is acknowledged; with nothing to piggyback on, "an explicit
/// ... ZLB ACK" (Nr the next expected Ns). The ZLB does not consume an Ns.
#[test]
fn p_5_8_zlb_ack() {
    let mut p = lns();
    p.sccrq(sccrq_avps(MY_TID));
    p.send(mt::SCCCN, 0, vec![]);
    let got = p.advance(Duration::from_secs(2));
    let zlb = got.iter().find(|c| c.is_zlb()).expect("ZLB");
    assert_eq!((zlb.ns, zlb.nr), (1, 2));
    // A ZLB from us is not acknowledged (it is not a message of the sequence).
    p.zlb();
    assert!(p.advance(Duration::from_secs(2)).is_empty());
}

/// RFC 2661 5.8: "receipt of duplicate messages MUST be acknowledged by the reliable transport";
/// the duplicate is "ignored from processing".
#[test]
fn p_5_8_duplicate_acked_not_processed() {
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
    assert_eq!(non_zlb(&first).len(), 1, "one ICRP: {first:?}");
    p.zlb();
    p.raw(&b);
    let again = p.advance(Duration::from_millis(900));
    assert!(non_zlb(&again).is_empty(), "no second ICRP: {again:?}");
    let ack = again
        .iter()
        .find(|c| c.is_zlb())
        .expect("the duplicate is acknowledged");
    assert_eq!(ack.nr, p.ns);
}

/// RFC 2661 5.8: a message whose Ns is far beyond the next expected one (outside any window) is
/// not processed ahead of the missing ones ("queued for in-order delivery ... or ... discarded").
#[test]
fn p_5_8_far_future_ns_not_processed() {
    let mut p = lns();
    p.tunnel();
    let b = control(
        p.their_tid,
        0,
        p.ns.wrapping_add(1000),
        p.nr,
        &with_type(mt::ICRQ, icrq_avps(MY_SID, 1)),
    );
    p.raw(&b);
    let got = p.advance(Duration::from_secs(1));
    assert!(non_zlb(&got).is_empty(), "{got:?}");
}

/// RFC 2661 5.8: "Each subsequent retransmission of a message MUST employ an exponential backoff
/// interval", "This cap MUST be no less than 8 seconds per retransmission", and "If no peer
/// response is detected after several retransmissions, (a recommended default is 5 ...) the
/// tunnel and all sessions within MUST be cleared." The retransmission "contains the same Ns".
#[test]
fn p_5_8_retransmission_backoff_and_give_up() {
    let mut p = lac();
    let t0 = p.now;
    let (_, rq) = p.open();
    let tid = rq.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16);
    let mut sends = vec![Duration::ZERO];
    let mut down = None;
    while let Some(t) = p.ep.deadline() {
        if t - t0 > Duration::from_secs(120) {
            break;
        }
        p.now = t;
        p.ep.timeout(t);
        for c in p.recv() {
            if c.mt() == Some(mt::SCCRQ) && c.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16) == tid {
                assert_eq!(c.ns, 0, "same Ns");
                sends.push(t - t0);
            }
        }
        for e in p.events() {
            if let Event::TunnelDown { tunnel, .. } = e {
                if Some(tunnel) == tid && down.is_none() {
                    down = Some(t - t0);
                }
            }
        }
    }
    let gaps: Vec<Duration> = sends.windows(2).map(|w| w[1] - w[0]).collect();
    for w in gaps.windows(2) {
        assert!(
            w[1] >= (w[0] * 2).min(Duration::from_secs(8)),
            "exponential backoff, cap not below 8 s: {gaps:?}"
        );
    }
    assert_eq!(
        sends.len(),
        1 + 5,
        "5 retransmissions (the default): {sends:?}"
    );
    let down = down.expect("the tunnel is cleared");
    assert!(
        down > *sends.last().unwrap(),
        "cleared after the last: {down:?} {sends:?}"
    );
}

/// RFC 2661 5.8: "The retransmitted message contains the same Ns value, but the Nr value MUST be
/// updated with the sequence number of the next expected message." Our SCCRP does not
/// acknowledge the LAC's SCCRQ (Nr 0): the SCCRQ comes again with Ns 0 and Nr 1.
#[test]
fn p_5_8_retransmission_updates_nr() {
    let mut p = lac();
    p.open();
    let b = ctl_nr(&mut p, 0, 0, mt::SCCRP, sccrp_avps(0x3333));
    p.raw(&b);
    let got = p.advance(Duration::from_secs(3));
    let re = got
        .iter()
        .find(|c| c.mt() == Some(mt::SCCRQ))
        .expect("the unacknowledged SCCRQ is retransmitted");
    assert_eq!((re.ns, re.nr), (0, 1));
}

/// RFC 2661 4.4.3 Receive Window Size: "If absent, the peer must assume a window size of 4 for
/// its transmit window." With no Receive Window Size AVP in our SCCRQ, the LNS never has more
/// than 4 messages unacknowledged.
#[test]
fn p_5_8_default_window_4() {
    let mut p = lns();
    p.tunnel();
    // Warm up (Appendix A's slow start opens the congestion window one message per ACK): calls
    // answered and acknowledged one at a time.
    for i in 0..8u16 {
        p.send(mt::ICRQ, 0, icrq_avps(0x100 + i, u32::from(i)));
        p.recv();
        p.zlb();
    }
    let nr = p.nr;
    for i in 0..6u16 {
        let b = ctl_nr(
            &mut p,
            0,
            nr,
            mt::ICRQ,
            icrq_avps(MY_SID + i, 100 + u32::from(i)),
        );
        p.raw(&b);
    }
    let got = p.advance(Duration::from_millis(500));
    let mut sent: Vec<u16> = non_zlb(&got).iter().map(|c| c.ns).collect();
    sent.sort();
    sent.dedup();
    assert!(
        sent.iter().all(|ns| ns.wrapping_sub(nr) < 4),
        "at most 4 beyond the last acknowledged: {sent:?} (Nr {nr})"
    );
    assert_eq!(sent.len(), 4, "and the window is used: {sent:?}");
    // Acknowledging them opens the window for the other two.
    p.zlb();
    let more = p.advance(Duration::from_millis(500));
    assert_eq!(non_zlb(&more).len(), 2, "{more:?}");
}

/// RFC 2661 4.4.3/5.8: with Receive Window Size 1 from the peer, one message at a time.
#[test]
fn p_5_8_window_1() {
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(at::RECEIVE_WINDOW_SIZE, be16(1)));
    p.sccrq(avps);
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    let nr = p.nr;
    for i in 0..3u16 {
        let b = ctl_nr(&mut p, 0, nr, mt::ICRQ, icrq_avps(MY_SID + i, u32::from(i)));
        p.raw(&b);
    }
    let got = p.advance(Duration::from_millis(500));
    let mut sent: Vec<u16> = non_zlb(&got).iter().map(|c| c.ns).collect();
    sent.dedup();
    assert_eq!(sent.len(), 1, "{sent:?}");
}

// ------------------------------------------------------------------------ 5.5 HELLO, 5.7 StopCCN

/// RFC 2661 5.5/6.5: a keepalive HELLO is sent after a period of inactivity (60 s recommended);
/// it carries only the Message Type.
#[test]
fn p_5_5_hello_after_idle() {
    let mut p = lns();
    p.tunnel();
    let got = p.advance(Duration::from_secs(61));
    let h = Peer::<telcp::l2tp::Lns>::find(&got, mt::HELLO).expect("HELLO");
    assert_eq!(h.avps.len(), 1);
    assert!(h.avps[0].m);
    assert_eq!(h.sid, 0);
}

/// RFC 2661 5.7: "the recipient of a StopCCN MUST send a ZLB ACK to acknowledge receipt of the
/// message and maintain enough control connection state to properly accept StopCCN
/// retransmissions over at least a full retransmission cycle (in case the ZLB ACK is lost)."
#[test]
fn p_5_7_stopccn_acked_and_retransmission_acked() {
    let mut p = lns();
    p.tunnel();
    p.events();
    let stop = control(
        p.their_tid,
        0,
        p.ns,
        p.nr,
        &with_type(
            mt::STOPCCN,
            vec![
                m(at::ASSIGNED_TUNNEL_ID, be16(MY_TID)),
                m(at::RESULT_CODE, be16(1)),
            ],
        ),
    );
    p.raw(&stop);
    let got = p.advance(Duration::from_secs(1));
    let zlb = got.iter().find(|c| c.is_zlb()).expect("ZLB ACK");
    assert_eq!(zlb.nr, p.ns.wrapping_add(1));
    assert!(tunnel_down(&p.events()));
    p.advance(Duration::from_secs(15));
    p.raw(&stop);
    let again = p.advance(Duration::from_secs(1));
    let zlb = again
        .iter()
        .find(|c| c.is_zlb())
        .expect("the retransmitted StopCCN is acknowledged");
    assert_eq!(zlb.nr, p.ns.wrapping_add(1));
    assert!(non_zlb(&again).is_empty(), "{again:?}");
}

// --------------------------------------------------------------------------- 7 state machines

/// RFC 2661 7.2 (tunnel FSM, LNS idle): an SCCCN received with no tunnel being set up is not a
/// tunnel; it must not establish one.
#[test]
fn p_7_2_scccn_in_idle() {
    let mut p = lns();
    p.their_tid = 77;
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    assert!(!tunnel_up(&p.events()));
}

/// RFC 2661 7.4 (LNS incoming call FSM): an ICCN for a session the LNS never offered (no ICRQ)
/// does not bring a session up.
#[test]
fn p_7_4_iccn_without_icrq() {
    let mut p = lns();
    p.tunnel();
    p.send(mt::ICCN, 0x5151, iccn_avps());
    p.recv();
    assert!(!session_up(&p.events()));
}

/// RFC 2661 7.2: an SCCRQ received on an established tunnel (its Tunnel ID in the header) is a
/// message in the wrong state: no second SCCRP.
#[test]
fn p_7_2_sccrq_on_established_tunnel() {
    let mut p = lns();
    p.tunnel();
    p.send(mt::SCCRQ, 0, sccrq_avps(MY_TID));
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_none(),
        "{got:?}"
    );
}

// ------------------------------------------------------------------ 6.x message contents, more

type LnsPeer = Peer<telcp::l2tp::Lns>;

/// RFC 2661 6.2: "The following AVPs MUST be present in the SCCRP: Message Type, Protocol
/// Version, Framing Capabilities, Host Name, Assigned Tunnel ID"; 4.4.3 Protocol Version: Ver 1,
/// Rev 0.
#[test]
fn p_6_2_sccrp_avps() {
    let mut p = lns();
    let got = p.sccrq(sccrq_avps(MY_TID));
    let rp = LnsPeer::find(&got, mt::SCCRP).expect("SCCRP");
    for ty in [
        at::PROTOCOL_VERSION,
        at::FRAMING_CAPABILITIES,
        at::HOST_NAME,
        at::ASSIGNED_TUNNEL_ID,
    ] {
        assert!(rp.has(ty), "SCCRP without AVP {ty}");
    }
    assert_eq!(rp.avp(at::PROTOCOL_VERSION).unwrap().value, vec![1, 0]);
    assert_ne!(rp.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16), Some(0));
}

/// RFC 2661 4.4.2 StopCCN Result Code 5: "Protocol version not supported; Error Code indicates
/// highest version supported". An SCCRQ offering a protocol version other than 1.0 is refused so.
#[test]
fn p_4_4_2_unsupported_protocol_version() {
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps[0] = m(at::PROTOCOL_VERSION, vec![2, 0]);
    let got = p.sccrq(avps);
    assert!(LnsPeer::find(&got, mt::SCCRP).is_none(), "{got:?}");
    let s = LnsPeer::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(
        s.result(),
        Some((5, Some(0x0100))),
        "highest supported: 1.0"
    );
}

/// RFC 2661 6.4: "The following AVPs MUST be present in the StopCCN: Message Type, Assigned
/// Tunnel ID, Result Code"; 3.1: the header's Tunnel ID is the recipient's (our Assigned Tunnel
/// ID from the SCCRQ). Checked on the StopCCN refusing an SCCRQ with an unknown mandatory AVP.
#[test]
fn p_6_4_stopccn_avps() {
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(250, vec![0]));
    let got = p.sccrq(avps);
    let s = LnsPeer::find(&got, mt::STOPCCN).expect("StopCCN");
    assert!(s.has(at::ASSIGNED_TUNNEL_ID), "{s:?}");
    assert!(s.has(at::RESULT_CODE));
    assert_eq!(s.tid, MY_TID);
}

/// RFC 2661 6.13: "The following AVPs MUST be present in the CDN: Message Type, Result Code,
/// Assigned Session ID".
#[test]
fn p_6_13_cdn_avps() {
    let mut p = lns();
    p.tunnel();
    let mut avps = icrq_avps(MY_SID, 1);
    avps.push(m(250, vec![9]));
    p.send(mt::ICRQ, 0, avps);
    let got = p.recv();
    let cdn = LnsPeer::find(&got, mt::CDN).expect("CDN");
    assert!(cdn.has(at::RESULT_CODE));
    assert!(cdn.has(at::ASSIGNED_SESSION_ID), "{cdn:?}");
}

/// RFC 2661 6.13 (CDN): "The peer MUST clean up any resources, and does not send back any
/// indication of success or failure for such cleanup."
#[test]
fn p_6_13_cdn_received_cleans_up_silently() {
    let mut p = lns();
    let sid = p.session();
    assert!(session_up(&p.events()));
    p.send(
        mt::CDN,
        sid,
        vec![
            m(at::RESULT_CODE, be16(3)),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
        ],
    );
    let got = p.advance(Duration::from_secs(2));
    assert!(non_zlb(&got).is_empty(), "only an acknowledgement: {got:?}");
    assert!(
        p.events()
            .iter()
            .any(|e| matches!(e, Event::SessionDown { .. }))
    );
}

/// RFC 2661 6.4 (StopCCN): "all active sessions are implicitly cleared (without sending any
/// explicit call control messages)".
#[test]
fn p_6_4_stopccn_clears_sessions_without_cdn() {
    let mut p = lns();
    p.session();
    p.events();
    p.send(
        mt::STOPCCN,
        0,
        vec![
            m(at::ASSIGNED_TUNNEL_ID, be16(MY_TID)),
            m(at::RESULT_CODE, be16(1)),
        ],
    );
    let got = p.advance(Duration::from_secs(2));
    assert!(
        non_zlb(&got).is_empty(),
        "no CDN, no answer but the ACK: {got:?}"
    );
    let ev = p.events();
    assert!(ev.iter().any(|e| matches!(e, Event::SessionDown { .. })));
    assert!(tunnel_down(&ev));
}

/// RFC 2661 4.4.1: "The Message Type AVP MUST be the first AVP in a message, immediately
/// following the control message header". An SCCRQ whose first AVP is another one is not an SCCRQ
/// to serve.
#[test]
fn p_4_4_1_message_type_not_first() {
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.insert(1, m(at::MESSAGE_TYPE, be16(mt::SCCRQ)));
    let b = control(0, 0, 0, 0, &avps);
    p.raw(&b);
    let got = p.recv();
    assert!(LnsPeer::find(&got, mt::SCCRP).is_none(), "{got:?}");
    assert!(!tunnel_up(&p.events()));
}

/// RFC 2661 4.1 (unrecognised M=1 AVP) applies to vendor AVPs too: a vendor-specific AVP the LNS
/// does not know, with M set, in an SCCRQ: StopCCN Result 2 Error 8.
#[test]
fn p_4_1_unknown_mandatory_vendor_avp() {
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(A {
        vendor: 9999,
        ..m(1, vec![1, 2])
    });
    let got = p.sccrq(avps);
    assert!(LnsPeer::find(&got, mt::SCCRP).is_none(), "{got:?}");
    let s = LnsPeer::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(s.result(), Some((2, Some(8))));
}

/// l2tp-4.3-hidden-unreadable. RFC 2661 4.3: "The H bit MUST only be set if a shared secret
/// exists between the LAC and LNS." An LNS with no secret cannot read a hidden AVP: a hidden
/// Assigned Session ID does not make a call served under a made-up Session ID (before the fix:
/// ICRP to Session ID 0).
#[test]
fn p_4_3_hidden_without_secret() {
    let mut p = lns();
    p.tunnel();
    let rv = b"0123456789abcdef".to_vec();
    let hidden = hide(at::ASSIGNED_SESSION_ID, b"probe secret", &rv, &be16(0x4242));
    p.send(
        mt::ICRQ,
        0,
        vec![
            m(at::RANDOM_VECTOR, rv),
            A {
                h: true,
                ..m(at::ASSIGNED_SESSION_ID, hidden)
            },
            m(at::CALL_SERIAL_NUMBER, be32(5)),
        ],
    );
    let got = p.recv();
    assert!(LnsPeer::find(&got, mt::ICRP).is_none(), "{got:?}");
}

/// RFC 2661 5.1.1: an LNS that sent a Challenge requires the Challenge Response in the SCCCN:
/// an SCCCN without one does not establish the tunnel (StopCCN Result 4).
#[test]
fn p_5_1_1_scccn_without_response() {
    let mut p = lns_secret(true);
    p.sccrq(sccrq_avps(MY_TID));
    p.send(mt::SCCCN, 0, vec![]);
    let got = p.recv();
    let s = LnsPeer::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(s.result().map(|r| r.0), Some(4));
    assert!(!tunnel_up(&p.events()));
}

/// RFC 2661 5.1.1 at the LAC: it sent a Challenge, so an SCCRP without a Challenge Response is
/// not authenticated: no SCCCN, StopCCN Result 4.
#[test]
fn p_5_1_1_lac_sccrp_without_response() {
    let mut p = lac_with(Config {
        secret: Some(b"probe secret".to_vec()),
        challenge: true,
        ..common(42)
    });
    p.open();
    p.send(mt::SCCRP, 0, sccrp_avps(0x3333));
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCCN).is_none(),
        "{got:?}"
    );
    let s = Peer::<telcp::l2tp::Lac>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(s.result().map(|r| r.0), Some(4));
}

/// RFC 2661 5.1.1 / 4.4.3: the LAC answers the LNS's Challenge in its SCCCN with MD5 of 3 (the
/// SCCCN's Message Type) | secret | challenge.
#[test]
fn p_5_1_1_lac_answers_challenge() {
    let mut p = lac_with(Config {
        secret: Some(b"probe secret".to_vec()),
        ..common(42)
    });
    p.open();
    let chal = b"lns challenge 16".to_vec();
    let mut avps = sccrp_avps(0x3333);
    avps.push(m(at::CHALLENGE, chal.clone()));
    p.send(mt::SCCRP, 0, avps);
    let got = p.recv();
    let cn = Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCCN).expect("SCCCN");
    assert_eq!(
        cn.avp(at::CHALLENGE_RESPONSE)
            .expect("Challenge Response")
            .value,
        md5(&[&[3], b"probe secret", &chal])
    );
}

/// RFC 2661 5.1.1: a Challenge the LNS cannot answer (no secret configured) cannot authenticate
/// the tunnel: no SCCRP without a Challenge Response; the LNS refuses (StopCCN Result 4 or 2).
#[test]
fn p_5_1_1_challenge_without_secret() {
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(at::CHALLENGE, b"a challenge".to_vec()));
    let got = p.sccrq(avps);
    if let Some(rp) = LnsPeer::find(&got, mt::SCCRP) {
        assert!(
            rp.has(at::CHALLENGE_RESPONSE),
            "SCCRP without response: {rp:?}"
        );
    }
    assert!(!tunnel_up(&p.events()));
}

/// RFC 2661 5.8: messages received out of order are "queued for in-order delivery when the
/// missing messages are received, or ... discarded"; either way each is processed exactly once
/// and in order, and the acknowledgement covers both once the gap is filled.
#[test]
fn p_5_8_out_of_order_delivered_once_in_order() {
    let mut p = lns();
    p.tunnel();
    let a = control(
        p.their_tid,
        0,
        p.ns,
        p.nr,
        &with_type(mt::ICRQ, icrq_avps(MY_SID, 1)),
    );
    let b = control(
        p.their_tid,
        0,
        p.ns + 1,
        p.nr,
        &with_type(mt::ICRQ, icrq_avps(MY_SID + 1, 2)),
    );
    p.raw(&b);
    p.raw(&a);
    p.ns += 2;
    let mut got = p.recv();
    // If the LNS discarded the early one, our retransmission of it is served now.
    if non_zlb(&got).len() < 2 {
        p.ns -= 1;
        let b = control(
            p.their_tid,
            0,
            p.ns,
            p.nr,
            &with_type(mt::ICRQ, icrq_avps(MY_SID + 1, 2)),
        );
        p.ns += 1;
        p.raw(&b);
        got.extend(p.recv());
    }
    let icrps: Vec<u16> = got
        .iter()
        .filter(|c| c.mt() == Some(mt::ICRP))
        .map(|c| c.sid)
        .collect();
    assert_eq!(icrps, vec![MY_SID, MY_SID + 1], "each once, in Ns order");
    let acked = p.advance(Duration::from_millis(900));
    let last_nr = got.iter().chain(&acked).map(|c| c.nr).max().unwrap();
    assert_eq!(last_nr, p.ns);
}

// ------------------------------------------------------------------- 5.8 sequence space, 8.1

/// RFC 2661 5.8: sequence numbers are compared modulo 2^16 (a value up to 32767 ahead of the
/// next expected one is new, the others already received), and "receipt of duplicate messages
/// MUST be acknowledged" while the duplicate is "ignored from processing". Ns 100 behind, and
/// 40000 ahead (so behind modulo 2^16), are duplicates: acknowledged, not processed.
#[test]
fn p_5_8_old_ns_is_a_duplicate() {
    for back in [100u16, (65536u32 - 40000) as u16] {
        let mut p = lns();
        p.tunnel();
        let b = control(
            p.their_tid,
            0,
            p.ns.wrapping_sub(back),
            p.nr,
            &with_type(mt::ICRQ, icrq_avps(MY_SID, 1)),
        );
        p.raw(&b);
        let got = p.advance(Duration::from_millis(900));
        assert!(
            non_zlb(&got).is_empty(),
            "not processed ({back} behind): {got:?}"
        );
        let ack = got.iter().find(|c| c.is_zlb()).expect("acknowledged");
        assert_eq!(
            ack.nr, p.ns,
            "the acknowledgement names the next expected Ns"
        );
    }
}

/// l2tp-8.1-reply-port. RFC 2661 8.1: "The recipient may pick a free port on its own system
/// (other than 1701), and
/// sends its reply to the initiator's UDP port, setting its own source port to the free port it
/// found. Once the source and destination ports are established, they MUST remain static for the
/// life of the tunnel." A LAC whose SCCRP comes from another port of the LNS sends what follows
/// there (before the fix: on to port 1701, which such an LNS does not read).
#[test]
fn p_8_1_lac_follows_lns_port() {
    let mut p = lac();
    p.open();
    p.me = "10.0.0.1:4242".parse().unwrap();
    let b = control(
        p.their_tid,
        0,
        p.ns,
        p.nr,
        &with_type(mt::SCCRP, sccrp_avps(0x3333)),
    );
    p.ns += 1;
    p.raw(&b);
    let mut dsts = Vec::new();
    while let Some(t) = p.ep.poll_transmit() {
        dsts.push((t.dst, parse_ctl(&t.payload).and_then(|c| c.mt())));
    }
    assert!(
        dsts.iter().any(|(_, m)| *m == Some(mt::SCCCN)),
        "the SCCRP from the new port is taken: {dsts:?}"
    );
    assert!(
        dsts.iter().all(|(d, _)| *d == p.me),
        "everything after goes to the LNS's chosen port: {dsts:?}"
    );
    // The data plane is told that port too (its UDP destination port).
    p.zlb();
    let up = p.events().into_iter().find_map(|e| match e {
        Event::TunnelUp { peer, .. } => Some(peer),
        _ => None,
    });
    assert_eq!(up, Some(p.me));
}

/// RFC 2661 8.1 (as above), LNS side: the reply goes to the initiator's UDP port, whatever it is.
#[test]
fn p_8_1_lns_replies_to_lac_port() {
    let mut p = lns();
    p.me = "10.0.9.1:50123".parse().unwrap();
    let b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
    p.raw(&b);
    let t = p.ep.poll_transmit().expect("SCCRP");
    assert_eq!(t.dst, p.me);
}

/// RFC 2661 6.4: the StopCCN's Assigned Tunnel ID is the sender's own Tunnel ID (4.4.3: the ID
/// "being assigned to this tunnel by the sender"), its header the recipient's.
#[test]
fn p_6_4_stopccn_assigned_tunnel_id_is_the_senders() {
    let mut p = lns();
    p.tunnel();
    let lns_tid = p.their_tid;
    p.send(mt::HELLO, 0, vec![m(250, vec![0; 4])]);
    let got = p.recv();
    let stop = LnsPeer::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(
        stop.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16),
        Some(lns_tid)
    );
    assert_eq!(stop.tid, MY_TID);
}

/// RFC 2661 3.1: for control messages "The L bit MUST be set to 1" and "The S bit MUST be set to
/// 1". A "control message" without them (so with no Ns/Nr fields at all) is not one the reliable
/// channel can take: no tunnel comes of it, and no Ns/Nr is invented from its AVP octets.
#[test]
fn p_3_1_control_without_s_or_l_bit() {
    for flags in [0xc002u16, 0x8802] {
        let mut p = lns();
        let body: Vec<u8> = with_type(mt::SCCRQ, sccrq_avps(MY_TID))
            .iter()
            .flat_map(A::bytes)
            .collect();
        let mut b = flags.to_be_bytes().to_vec();
        if flags & 0x4000 != 0 {
            b.extend(((8 + body.len()) as u16).to_be_bytes());
            b.extend([0, 0, 0, 0]);
        } else {
            b.extend([0, 0, 0, 0, 0, 0, 0, 0]);
        }
        b.extend(body);
        p.raw(&b);
        let got = p.recv();
        assert!(
            LnsPeer::find(&got, mt::SCCRP).is_none(),
            "{flags:#06x}: {got:?}"
        );
        assert!(!tunnel_up(&p.events()));
    }
}

/// RFC 2661 3.1 (data message): with L=1 the Length is "the total length of the message in
/// octets"; a data message claiming more than the datagram holds is not a whole message: no
/// PPP frame is taken from it.
#[test]
fn p_3_1_data_length_beyond_datagram() {
    let mut p = lns();
    let sid = p.session();
    let frame = [0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4];
    let mut b = vec![0x40, 0x02];
    b.extend(((8 + frame.len() + 20) as u16).to_be_bytes());
    b.extend(p.their_tid.to_be_bytes());
    b.extend(sid.to_be_bytes());
    b.extend(frame);
    p.raw(&b);
    assert!(
        p.ep.data().is_none(),
        "a truncated data message yields no frame"
    );
    // The same message with the right Length is taken.
    let n = (8 + frame.len()) as u16;
    b[2..4].copy_from_slice(&n.to_be_bytes());
    p.raw(&b);
    assert!(p.ep.data().is_some());
}

/// RFC 2661 7.2.1 (LNS, wait-ctl-conn): the tunnel is established by the SCCCN; a call request
/// in its place (an ICRQ with the SCCCN's Ns) is out of the machine's order and is not served.
#[test]
fn p_7_2_icrq_before_scccn() {
    let mut p = lns();
    p.sccrq(sccrq_avps(MY_TID));
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    assert!(LnsPeer::find(&got, mt::ICRP).is_none(), "{got:?}");
    assert!(!session_up(&p.events()));
}

/// RFC 2661 6.2 at the LAC: an SCCRP lacking its Assigned Tunnel ID cannot establish the tunnel
/// (no SCCCN, no ICRQ).
#[test]
fn p_6_2_lac_sccrp_without_tunnel_id() {
    let mut p = lac();
    let got = p.sccrp_without(at::ASSIGNED_TUNNEL_ID);
    assert!(
        Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCCN).is_none(),
        "{got:?}"
    );
    assert!(Peer::<telcp::l2tp::Lac>::find(&got, mt::ICRQ).is_none());
}

/// RFC 2661 4.4.4 at the LAC: an ICRP assigning Session ID 0 is not a usable answer: the call is
/// not connected (no ICCN).
#[test]
fn p_4_4_4_lac_icrp_session_id_zero() {
    let mut p = lac();
    let (_, lac_sid, _) = p.until_icrq();
    p.send(mt::ICRP, lac_sid, vec![m(at::ASSIGNED_SESSION_ID, be16(0))]);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lac>::find(&got, mt::ICCN).is_none(),
        "{got:?}"
    );
}

/// RFC 2661 5.8: a retransmitted SCCRQ (same Ns, same peer and Assigned Tunnel ID) is a
/// duplicate: acknowledged, never a second tunnel (every SCCRP names the same Tunnel ID).
#[test]
fn p_5_8_sccrq_retransmission_one_tunnel() {
    let mut p = lns();
    let b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
    p.raw(&b);
    let mut got = p.recv();
    p.now += Duration::from_secs(1);
    p.raw(&b);
    got.extend(p.advance(Duration::from_secs(3)));
    let ids: std::collections::BTreeSet<Option<u16>> = got
        .iter()
        .filter(|c| c.mt() == Some(mt::SCCRP))
        .map(|c| c.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16))
        .collect();
    assert_eq!(ids.len(), 1, "one tunnel: {ids:?}");
}

/// RFC 2661 3.1 (data message, O bit): the Offset Size field "specifies the number of octets
/// past the L2TP header at which the payload data is expected to start". An Offset Size running
/// past the end of the datagram leaves no payload: no frame is taken.
#[test]
fn p_3_1_data_offset_beyond_datagram() {
    let mut p = lns();
    let sid = p.session();
    let mut b = vec![0x02, 0x02];
    b.extend(p.their_tid.to_be_bytes());
    b.extend(sid.to_be_bytes());
    b.extend(200u16.to_be_bytes());
    b.extend([0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]);
    p.raw(&b);
    assert!(p.ep.data().is_none());
    // Offset Size 2 and two octets of padding: taken.
    let mut b = vec![0x02, 0x02];
    b.extend(p.their_tid.to_be_bytes());
    b.extend(sid.to_be_bytes());
    b.extend(2u16.to_be_bytes());
    b.extend([0, 0, 0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]);
    p.raw(&b);
    assert!(p.ep.data().is_some());
}
