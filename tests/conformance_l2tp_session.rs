//! RFC 2661 sections 4 (AVPs), 5.2-5.6 (sessions, data, teardown) and 6 (each message's AVPs),
//! driving `Lns` and `Lac` as a hand-written peer would. Each test is named after its row in
//! `conformance/rfc2661.toml`.

mod common;

use common::l2tp::*;

use telcp::l2tp::wire::avp::CallErrors;
use telcp::l2tp::wire::{ResultCode, ResultCodeValue};
use telcp::l2tp::{Close, Config, ConfigError, Event, Lac, LacConfig, Lns, SessionRef};

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Brings up an incoming call on the LNS whose ICCN carries Sequencing Required (RFC 2661
/// 4.4.6); returns the LNS's Session ID.
fn sequenced_session(p: &mut Peer<Lns>) -> u16 {
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    let sid = Peer::<Lns>::find(&got, mt::ICRP)
        .and_then(|c| c.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16))
        .unwrap();
    let mut avps = iccn_avps();
    avps.push(m(at::SEQUENCING_REQUIRED, vec![]));
    p.send(mt::ICCN, sid, avps);
    p.recv();
    sid
}

/// Hides `value` of attribute `attr` (RFC 2661 4.3), written from the RFC independently.
fn hide(attr: u16, secret: &[u8], rv: &[u8], value: &[u8]) -> Vec<u8> {
    let mut p = (value.len() as u16).to_be_bytes().to_vec();
    p.extend(value);
    let mut out = Vec::new();
    let mut b = md5(&[&attr.to_be_bytes(), secret, rv]);
    for chunk in p.chunks(16) {
        let c: Vec<u8> = chunk.iter().zip(b.iter()).map(|(x, k)| x ^ k).collect();
        b = md5(&[secret, &c]);
        out.extend(c);
    }
    out
}

fn lns_session() -> (Peer<Lns>, u16) {
    let mut p = lns();
    let sid = p.session();
    (p, sid)
}

fn sref(p: &Peer<Lns>, sid: u16) -> SessionRef {
    SessionRef {
        tunnel: p.their_tid,
        session: sid,
    }
}

fn data(tid: u16, sid: u16, flags: u16, extra: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut d = flags.to_be_bytes().to_vec();
    let total = 6 + extra.len() + payload.len() + if flags & 0x4000 != 0 { 2 } else { 0 };
    if flags & 0x4000 != 0 {
        d.extend((total as u16).to_be_bytes());
    }
    d.extend(tid.to_be_bytes());
    d.extend(sid.to_be_bytes());
    d.extend(extra);
    d.extend(payload);
    d
}

/// Every control message both endpoints send in a full exchange (tunnel, session, SLI, WEN,
/// outgoing call, CDN, StopCCN).
fn everything_sent() -> Vec<Ctl> {
    let (mut p, sid) = lns_session();
    let now = p.now;
    let r = sref(&p, sid);
    p.ep.send_sli(now, r, 1, 2).unwrap();
    p.recv();
    p.ep.place_call(now, p.their_tid, b"5551234").unwrap();
    p.recv();
    p.ep.close_session(now, r, ResultCode::new(ResultCodeValue(3)))
        .unwrap();
    p.recv();
    p.zlb();
    let tid = p.their_tid;
    p.ep.close_tunnel(now, tid, ResultCode::new(ResultCodeValue(1)))
        .unwrap();
    p.recv();
    let mut q = lac();
    let (call, _, _) = q.session();
    let now = q.now;
    q.ep.send_wen(now, call, CallErrors::default()).unwrap();
    q.recv();
    q.send(mt::OCRQ, 0, ocrq_avps(0x4444, b"123"));
    q.recv();
    q.ep.close_session(now, call, Close::default()).unwrap();
    q.recv();
    p.log.into_iter().chain(q.log).collect()
}

/// l2tp-4.1-m-bits: the AVPs we send have the M bit RFC 2661 4.4 gives each: 1 for Message Type,
/// Result Code, Protocol Version, Framing and Bearer Capabilities, Host Name, Assigned Tunnel and
/// Session ID, Receive Window Size, Challenge and its Response, Call Serial Number, Tx Connect
/// Speed, Framing Type; 0 for Tie Breaker, Firmware Revision and Vendor Name.
/// l2tp-4.1-reserved-zero: the four reserved bits of every AVP we send are 0.
/// l2tp-4.4.1-message-type-first: every control message but a ZLB starts with the Message Type
/// AVP, M=1, not hidden.
/// l2tp-4.1-length: each AVP's Length covers its 6-octet header and value, and the AVPs fill the
/// message exactly.
#[test]
fn l2tp_4_1_m_bits() {
    // RFC 2661 4.1 (M bit, reserved bits "MUST be set to 0", Length), 4.4.1 ("The Message Type
    // AVP MUST be the first AVP in a message", M bit 1, H bit 0), 4.4.2-4.4.6 (per-AVP M bit).
    let want_m: &[(u16, bool)] = &[
        (at::MESSAGE_TYPE, true),
        (at::RESULT_CODE, true),
        (at::PROTOCOL_VERSION, true),
        (at::FRAMING_CAPABILITIES, true),
        (at::BEARER_CAPABILITIES, true),
        (at::TIE_BREAKER, false),
        (at::FIRMWARE_REVISION, false),
        (at::HOST_NAME, true),
        (at::VENDOR_NAME, false),
        (at::ASSIGNED_TUNNEL_ID, true),
        (at::RECEIVE_WINDOW_SIZE, true),
        (at::ASSIGNED_SESSION_ID, true),
        (at::CALL_SERIAL_NUMBER, true),
        (at::TX_CONNECT_SPEED, true),
        (at::FRAMING_TYPE, true),
        (at::CALL_ERRORS, true),
        (at::ACCM, true),
    ];
    let all = everything_sent();
    let kinds: std::collections::BTreeSet<u16> = all.iter().filter_map(Ctl::mt).collect();
    assert!(kinds.len() >= 12, "{kinds:?}");
    for c in all.iter().filter(|c| !c.is_zlb()) {
        let first = &c.avps[0];
        assert_eq!(
            (first.ty, first.m, first.h),
            (at::MESSAGE_TYPE, true, false),
            "{c:?}"
        );
        let total: usize = c
            .avps
            .iter()
            .map(|a| usize::from(a.raw_flags & 0x03ff))
            .sum();
        assert_eq!(12 + total, c.raw.len());
        for a in &c.avps {
            assert_eq!(a.raw_flags & 0x3c00, 0, "reserved bits: {a:?}");
            assert_eq!(usize::from(a.raw_flags & 0x03ff), 6 + a.value.len());
            if a.vendor == 0 {
                if let Some((_, mb)) = want_m.iter().find(|(t, _)| *t == a.ty) {
                    assert_eq!(a.m, *mb, "M bit of AVP {} in {:?}", a.ty, c.mt());
                }
            }
        }
    }
}

/// Every message we send carries the AVPs RFC 2661 section 6 requires for its type (SCCRQ,
/// SCCRP and StopCCN here too; their rows have their own tests):
/// l2tp-6.9-ocrq-avps: OCRQ: Assigned Session ID, Call Serial Number, Minimum and Maximum BPS,
/// Bearer Type, Framing Type, Called Number.
/// l2tp-6.10-ocrp-avps: OCRP: Assigned Session ID.
/// l2tp-6.11-occn-avps: OCCN: Tx Connect Speed, Framing Type.
/// l2tp-6.6-icrq-avps: ICRQ: Assigned Session ID, Call Serial Number.
/// l2tp-6.7-icrp-avps: ICRP: Assigned Session ID.
/// l2tp-6.8-iccn-avps: ICCN: Tx Connect Speed, Framing Type.
/// l2tp-6.12-cdn-avps: CDN: Result Code, Assigned Session ID.
/// l2tp-6.13-wen-avps: WEN: Call Errors.
/// l2tp-6.14-sli-avps: SLI: ACCM.
#[test]
fn l2tp_6_6_icrq_avps() {
    // RFC 2661 6.1-6.14: the AVPs each message "MUST" contain.
    let need: &[(u16, &[u16])] = &[
        (
            mt::SCCRQ,
            &[
                at::PROTOCOL_VERSION,
                at::HOST_NAME,
                at::FRAMING_CAPABILITIES,
                at::ASSIGNED_TUNNEL_ID,
            ],
        ),
        (
            mt::SCCRP,
            &[
                at::PROTOCOL_VERSION,
                at::HOST_NAME,
                at::FRAMING_CAPABILITIES,
                at::ASSIGNED_TUNNEL_ID,
            ],
        ),
        (mt::STOPCCN, &[at::ASSIGNED_TUNNEL_ID, at::RESULT_CODE]),
        (
            mt::OCRQ,
            &[
                at::ASSIGNED_SESSION_ID,
                at::CALL_SERIAL_NUMBER,
                at::MINIMUM_BPS,
                at::MAXIMUM_BPS,
                at::BEARER_TYPE,
                at::FRAMING_TYPE,
                at::CALLED_NUMBER,
            ],
        ),
        (mt::OCRP, &[at::ASSIGNED_SESSION_ID]),
        (mt::OCCN, &[at::TX_CONNECT_SPEED, at::FRAMING_TYPE]),
        (mt::ICRQ, &[at::ASSIGNED_SESSION_ID, at::CALL_SERIAL_NUMBER]),
        (mt::ICRP, &[at::ASSIGNED_SESSION_ID]),
        (mt::ICCN, &[at::TX_CONNECT_SPEED, at::FRAMING_TYPE]),
        (mt::CDN, &[at::RESULT_CODE, at::ASSIGNED_SESSION_ID]),
        (mt::WEN, &[at::CALL_ERRORS]),
        (mt::SLI, &[at::ACCM]),
    ];
    let all = everything_sent();
    for (t, avps) in need {
        let of_type: Vec<&Ctl> = all.iter().filter(|c| c.mt() == Some(*t)).collect();
        assert!(!of_type.is_empty(), "no message of type {t} sent");
        for c in of_type {
            for a in *avps {
                assert!(c.has(*a), "type {t} lacks AVP {a}: {c:?}");
            }
        }
    }
}

/// l2tp-4.1-unknown-optional-ignored: an unknown AVP with M=0 is ignored: the message is handled
/// as if it were absent.
#[test]
fn l2tp_4_1_unknown_optional_ignored() {
    // RFC 2661 4.1: an unrecognized AVP with the M bit clear "MUST be ignored".
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(o(250, b"whatever".to_vec()));
    avps.push(A {
        vendor: 9999,
        ..o(7, b"vendor".to_vec())
    });
    let got = p.sccrq(avps);
    assert!(Peer::<Lns>::find(&got, mt::SCCRP).is_some(), "{got:?}");
}

/// l2tp-4.1-unknown-mandatory-tunnel: an unknown AVP with M=1 in a tunnel message of an
/// established tunnel tears the tunnel down: StopCCN Result 2, Error 8.
/// l2tp-4.1-reserved-set-unknown: an AVP with a reserved bit set is treated as unrecognized (so,
/// with M=1, the same StopCCN).
/// l2tp-4.4.2-unknown-mandatory-error-8: that StopCCN carries Result Code 2, Error Code 8.
#[test]
fn l2tp_4_1_unknown_mandatory_tunnel() {
    // RFC 2661 4.1: an unrecognized AVP with M=1 "MUST" end the tunnel or session it refers to;
    // 4.4.2 Error Code 8 "Unknown mandatory AVP received"; 4.1: "an AVP with a reserved bit set
    // MUST be treated as an unrecognized AVP".
    for reserved in [false, true] {
        let mut p = lns();
        p.tunnel();
        let bad = if reserved {
            A {
                raw_flags: 0x0400,
                ..m(at::HOST_NAME, b"x".to_vec())
            }
        } else {
            m(300, b"x".to_vec())
        };
        p.send(mt::HELLO, 0, vec![bad]);
        let got = p.recv();
        let stop = Peer::<Lns>::find(&got, mt::STOPCCN).expect("StopCCN");
        assert_eq!(stop.result(), Some((2, Some(8))), "{stop:?}");
    }
}

/// l2tp-4.1-unknown-mandatory-sccrq: an SCCRQ with an unknown M=1 AVP is refused with StopCCN
/// Result 2, Error 8.
#[test]
fn l2tp_4_1_unknown_mandatory_sccrq() {
    // RFC 2661 4.1 and 4.4.2 (Error Code 8).
    let mut p = lns();
    let mut avps = sccrq_avps(MY_TID);
    avps.push(m(300, b"x".to_vec()));
    let got = p.sccrq(avps);
    assert!(Peer::<Lns>::find(&got, mt::SCCRP).is_none(), "{got:?}");
    let stop = Peer::<Lns>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.result(), Some((2, Some(8))));
    assert_eq!(stop.tid, MY_TID);
}

/// l2tp-4.1-unknown-mandatory-icrq: an ICRQ with an unknown M=1 AVP is refused with a CDN
/// (Result 2, Error 8) to the requesting session; the tunnel stays.
#[test]
fn l2tp_4_1_unknown_mandatory_icrq() {
    // RFC 2661 4.1: in a session message, the session is ended, not the tunnel.
    let mut p = lns();
    p.tunnel();
    let mut avps = icrq_avps(MY_SID, 1);
    avps.push(m(300, b"x".to_vec()));
    p.send(mt::ICRQ, 0, avps);
    let got = p.recv();
    assert!(Peer::<Lns>::find(&got, mt::ICRP).is_none(), "{got:?}");
    let cdn = Peer::<Lns>::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID);
    assert_eq!(cdn.result(), Some((2, Some(8))));
    assert!(Peer::<Lns>::find(&got, mt::STOPCCN).is_none());
}

/// l2tp-4.1-unknown-mandatory-iccn: an ICCN with an unknown M=1 AVP ends the session with a CDN
/// (Result 2, Error 8); the tunnel stays.
#[test]
fn l2tp_4_1_unknown_mandatory_iccn() {
    // RFC 2661 4.1.
    let mut p = lns();
    p.tunnel();
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    let sid = Peer::<Lns>::find(&got, mt::ICRP)
        .and_then(|c| c.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16))
        .unwrap();
    let mut avps = iccn_avps();
    avps.push(m(300, b"x".to_vec()));
    p.send(mt::ICCN, sid, avps);
    let got = p.recv();
    let cdn = Peer::<Lns>::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID);
    assert_eq!(cdn.result(), Some((2, Some(8))));
    assert_eq!(p.ep.tunnel_count(), 1);
}

/// l2tp-4.4.1-unknown-type-mandatory: a message of unknown type whose Message Type AVP has M=1
/// clears the tunnel (StopCCN).
#[test]
fn l2tp_4_4_1_unknown_type_mandatory() {
    // RFC 2661 4.4.1: an unknown message type with the M bit set "MUST" cause the tunnel to be
    // cleared.
    let mut p = lns();
    p.tunnel();
    p.send(99, 0, vec![]);
    let got = p.recv();
    assert!(Peer::<Lns>::find(&got, mt::STOPCCN).is_some(), "{got:?}");
}

/// l2tp-4.4.1-unknown-type-optional: a message of unknown type with M=0 on its Message Type AVP
/// is acknowledged and ignored; the tunnel stays.
#[test]
fn l2tp_4_4_1_unknown_type_optional() {
    // RFC 2661 4.4.1: with the M bit clear the message "MAY" be ignored.
    let mut p = lns();
    p.tunnel();
    let b = control(p.their_tid, 0, p.ns, p.nr, &[o(at::MESSAGE_TYPE, be16(99))]);
    p.ns += 1;
    p.raw(&b);
    let got = p.recv();
    assert!(Peer::<Lns>::find(&got, mt::STOPCCN).is_none(), "{got:?}");
    assert!(got.iter().any(|c| c.nr == p.ns), "acknowledged: {got:?}");
    assert_eq!(p.ep.tunnel_count(), 1);
}

/// l2tp-4.3-hidden-sent: with hiding on, hidden AVPs have H=1, a Random Vector AVP precedes the
/// first of them, and they unhide with the secret to the right value; Message Type and Random
/// Vector are never hidden.
#[test]
fn l2tp_4_3_hidden_sent() {
    // RFC 2661 4.3: "The Random Vector AVP MUST precede the first AVP with the H bit set"; 4.4.1 /
    // 4.4.3: Message Type and Random Vector are not hidden.
    let mut cfg = common(7);
    cfg.secret = Some(b"hide-me".to_vec());
    cfg.hide_avps = true;
    let mut q = lac_with(cfg);
    let (_, _, got) = q.until_icrq();
    let icrq = Peer::<Lac>::find(&got, mt::ICRQ).expect("ICRQ");
    let h = icrq.avps.iter().position(|a| a.h).expect("a hidden AVP");
    let rv = icrq.avps[..h]
        .iter()
        .rev()
        .find(|a| a.ty == at::RANDOM_VECTOR)
        .expect("Random Vector before it");
    assert!(!rv.h && !icrq.avps[0].h);
    let hidden = &icrq.avps[h];
    assert_eq!(hidden.ty, at::ASSIGNED_SESSION_ID);
    // Unhide by the RFC: the first chunk's key is MD5(type, secret, RV).
    let k = md5(&[&hidden.ty.to_be_bytes(), b"hide-me", &rv.value]);
    let plain: Vec<u8> = hidden
        .value
        .iter()
        .zip(k.iter())
        .map(|(c, k)| c ^ k)
        .collect();
    assert_eq!(&plain[..2], &[0, 2], "original length");
    assert!(u16::from_be_bytes([plain[2], plain[3]]) != 0);
}

/// l2tp-4.3-hidden-received: a hidden AVP from the peer is unhidden with the shared secret and
/// the Random Vector before it (here a hidden Assigned Session ID in an ICRQ).
#[test]
fn l2tp_4_3_hidden_received() {
    // RFC 2661 4.3.
    let mut cfg = common(7);
    cfg.secret = Some(b"hide-me".to_vec());
    let mut p = lns_with(cfg);
    p.tunnel();
    let rv = b"random-vector-16".to_vec();
    let v = hide(at::ASSIGNED_SESSION_ID, b"hide-me", &rv, &be16(0x7777));
    p.send(
        mt::ICRQ,
        0,
        vec![
            m(at::RANDOM_VECTOR, rv),
            A {
                h: true,
                ..m(at::ASSIGNED_SESSION_ID, v)
            },
            m(at::CALL_SERIAL_NUMBER, be32(1)),
        ],
    );
    let got = p.recv();
    let icrp = Peer::<Lns>::find(&got, mt::ICRP).expect("ICRP");
    assert_eq!(icrp.sid, 0x7777);
}

/// l2tp-4.3-secret-required: hiding or challenging needs a shared secret: a configuration
/// asking for either without one is refused.
#[test]
fn l2tp_4_3_secret_required() {
    // RFC 2661 4.3: the H bit "MUST only be set if a shared secret exists"; 5.1.1 likewise.
    for (hide_avps, challenge) in [(true, false), (false, true)] {
        let cfg = Config {
            hide_avps,
            challenge,
            secret: None,
            ..common(7)
        };
        let mut lc = LacConfig::new(lns_addr());
        lc.common = cfg;
        assert_eq!(
            Lac::new(lc, std::time::Instant::now()).err(),
            Some(ConfigError::NoSecret)
        );
    }
}

/// l2tp-5.2.1-icrq-icrp-iccn: an LNS answers an ICRQ with an ICRP carrying its Assigned Session
/// ID (header Session ID = the LAC's), and the ICCN establishes the session.
#[test]
fn l2tp_5_2_1_icrq_icrp_iccn() {
    // RFC 2661 5.2.1: ICRQ, ICRP, ICCN.
    let mut p = lns();
    p.tunnel();
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    let icrp = Peer::<Lns>::find(&got, mt::ICRP).expect("ICRP");
    assert_eq!(icrp.sid, MY_SID);
    let sid = icrp.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16).unwrap();
    assert!(sid != 0);
    assert!(!session_up_in(&p.events()));
    p.send(mt::ICCN, sid, iccn_avps());
    p.recv();
    assert!(
        p.events()
            .iter()
            .any(|e| matches!(e, Event::SessionUp { session, .. } if session.session == sid))
    );
}

/// l2tp-5.2.1-lac-iccn: a LAC sends ICRQ only on an established tunnel, and answers the ICRP with
/// an ICCN to the LNS's Assigned Session ID.
/// l2tp-4.4.4-call-serial: each ICRQ carries a Call Serial Number, different per call.
#[test]
fn l2tp_5_2_1_lac_iccn() {
    // RFC 2661 5.2 / 5.2.1; 4.4.4 (Call Serial Number identifies the call).
    let mut q = lac();
    let (_, _, got) = q.session();
    let pos = |t| got.iter().position(|c| c.mt() == Some(t)).unwrap();
    assert!(pos(mt::SCCCN) < pos(mt::ICRQ));
    let iccn = Peer::<Lac>::find(&got, mt::ICCN).expect("ICCN");
    assert_eq!(iccn.sid, MY_SID);
    let s1 = Peer::<Lac>::find(&got, mt::ICRQ)
        .and_then(|c| c.avp(at::CALL_SERIAL_NUMBER).and_then(A::u32))
        .unwrap();
    let now = q.now;
    q.ep.open_session(now).unwrap();
    let more = q.recv();
    let s2 = Peer::<Lac>::find(&more, mt::ICRQ)
        .and_then(|c| c.avp(at::CALL_SERIAL_NUMBER).and_then(A::u32))
        .expect("second ICRQ");
    assert_ne!(s1, s2);
}

/// l2tp-5.2.2-lns-ocrq: an LNS places an outgoing call with OCRQ; the OCRP moves it on and the
/// OCCN establishes it.
#[test]
fn l2tp_5_2_2_lns_ocrq() {
    // RFC 2661 5.2.2: OCRQ, OCRP, OCCN.
    let mut p = lns();
    p.tunnel();
    let now = p.now;
    let r = p.ep.place_call(now, p.their_tid, b"5551234").unwrap();
    let got = p.recv();
    let ocrq = Peer::<Lns>::find(&got, mt::OCRQ).expect("OCRQ");
    assert_eq!(ocrq.sid, 0);
    assert_eq!(
        ocrq.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16),
        Some(r.session)
    );
    p.send(
        mt::OCRP,
        r.session,
        vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))],
    );
    p.recv();
    assert!(!session_up_in(&p.events()));
    p.send(mt::OCCN, r.session, iccn_avps());
    p.recv();
    assert!(session_up_in(&p.events()));
}

/// l2tp-5.2.2-lac-ocrp: a LAC answers an OCRQ with an OCRP (its Assigned Session ID) and an OCCN.
#[test]
fn l2tp_5_2_2_lac_ocrp() {
    // RFC 2661 5.2.2.
    let mut q = lac();
    q.session();
    q.send(mt::OCRQ, 0, ocrq_avps(0x4444, b"123"));
    let mut got = q.recv();
    q.zlb();
    got.extend(q.recv());
    let ocrp = Peer::<Lac>::find(&got, mt::OCRP).expect("OCRP");
    assert_eq!(ocrp.sid, 0x4444);
    assert!(ocrp.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16).unwrap() != 0);
    let occn = Peer::<Lac>::find(&got, mt::OCCN).expect("OCCN");
    assert_eq!(occn.sid, 0x4444);
}

/// l2tp-5.3-data-forwarded: PPP frames travel in data messages (T=0, version 2) addressed with
/// the peer's Tunnel and Session IDs, and a received frame is handed up unchanged.
#[test]
fn l2tp_5_3_data_forwarded() {
    // RFC 2661 5.3 and 3.1.
    let (mut p, sid) = lns_session();
    let now = p.now;
    let _ = now;
    p.ep.send_ppp(sref(&p, sid), b"\xff\x03\xc0\x21\x01")
        .unwrap();
    let raw = p.recv_raw();
    let d = parse_data(&raw[0]).expect("data message");
    assert_eq!(d.flags & 0x8000, 0);
    assert_eq!(d.flags & 0x000f, 2);
    assert_eq!(d.flags & 0x34f0, 0, "reserved bits");
    assert_eq!((d.tid, d.sid), (MY_TID, MY_SID));
    assert_eq!(d.payload, b"\xff\x03\xc0\x21\x01");
    p.raw(&data(p.their_tid, sid, 0x0002, &[], b"\xff\x03\x80\x21"));
    assert_eq!(&p.ep.poll_data().unwrap().frame[..], b"\xff\x03\x80\x21");
}

/// l2tp-3.1-data-length-offset: a data message with the L bit (Length) or the O bit (Offset Size
/// and padding) is accepted; the padding is skipped.
#[test]
fn l2tp_3_1_data_length_offset() {
    // RFC 2661 3.1: Length present when L=1; "Offset Size ... specifies the number of bytes past
    // the L2TP header at which the payload data is expected to start".
    let (mut p, sid) = lns_session();
    let tid = p.their_tid;
    p.raw(&data(tid, sid, 0x4002, &[], b"\xff\x03\x00\x21"));
    assert_eq!(&p.ep.poll_data().unwrap().frame[..], b"\xff\x03\x00\x21");
    p.raw(&data(
        tid,
        sid,
        0x0202,
        &[0, 3, 9, 9, 9],
        b"\xff\x03\x00\x57",
    ));
    assert_eq!(&p.ep.poll_data().unwrap().frame[..], b"\xff\x03\x00\x57");
}

/// l2tp-3.1-priority-lcp-echo: a data message carrying an LCP Echo-Request or Echo-Reply goes
/// out with the P bit set; other data messages with it clear.
#[test]
fn l2tp_3_1_priority_lcp_echo() {
    // RFC 2661 3.1: "LCP echo requests used as a keepalive for the link, for instance, should
    // generally be sent with this bit set." P is bit 0x0100 of the first word (3.1).
    let (mut p, sid) = lns_session();
    let s = sref(&p, sid);
    let frames: [(&[u8], bool); 6] = [
        (b"\xff\x03\xc0\x21\x09\x01\x00\x08\x00\x00\x00\x00", true),
        (b"\xc0\x21\x09\x02\x00\x08\x00\x00\x00\x00", true),
        (b"\xff\x03\xc0\x21\x0a\x01\x00\x08\x00\x00\x00\x00", true),
        (b"\xff\x03\xc0\x21\x01\x01\x00\x04", false),
        (b"\xff\x03\xc0\x23\x09\x01\x00\x04", false),
        (b"\xff\x03\x00\x21\x45\x00", false),
    ];
    for (frame, priority) in frames {
        p.ep.send_ppp(s, frame).unwrap();
        let raw = p.recv_raw();
        assert_eq!(raw.len(), 1);
        let flags = u16::from_be_bytes([raw[0][0], raw[0][1]]);
        assert_eq!(flags & 0x8000, 0, "a data message");
        assert_eq!(flags & 0x0100 != 0, priority, "{frame:02x?}");
        assert!(raw[0].ends_with(frame), "the frame as given");
    }
}

/// l2tp-5.4-sequencing-required: after an ICCN with Sequencing Required, every data message the
/// LNS sends on the session carries Ns/Nr (S=1), Ns counting from 0.
/// l2tp-4.4.6-sequencing-required: the same rule from the AVP's definition.
#[test]
fn l2tp_5_4_sequencing_required() {
    // RFC 2661 4.4.6 / 5.4: with Sequencing Required, sequence numbers "MUST" be present on all
    // data messages.
    let mut p = lns();
    p.tunnel();
    let sid = sequenced_session(&mut p);
    for i in 0..3u16 {
        p.ep.send_ppp(sref(&p, sid), b"\xff\x03").unwrap();
        let raw = p.recv_raw();
        let d = parse_data(&raw[0]).unwrap();
        assert_eq!(d.seq.map(|s| s.0), Some(i), "{d:?}");
    }
}

/// l2tp-5.4-late-data-dropped: on a sequenced session a data message older than one already
/// received is discarded.
#[test]
fn l2tp_5_4_late_data_dropped() {
    // RFC 2661 5.4: out-of-order data "MAY" be discarded (telcp discards late ones).
    let mut p = lns();
    p.tunnel();
    let sid = sequenced_session(&mut p);
    let tid = p.their_tid;
    for ns in [0u16, 2, 1, 3] {
        let mut seq = ns.to_be_bytes().to_vec();
        seq.extend([0, 0]);
        p.raw(&data(tid, sid, 0x0802, &seq, &[ns as u8]));
    }
    let frames: Vec<u8> = std::iter::from_fn(|| p.ep.poll_data())
        .map(|d| d.frame[0])
        .collect();
    assert_eq!(frames, vec![0, 2, 3]);
}

/// l2tp-5.6-cdn-sent: ending a session sends a CDN with Result Code and Assigned Session ID in
/// the header of the peer's session; the tunnel stays.
#[test]
fn l2tp_5_6_cdn_sent() {
    // RFC 2661 5.6 and 6.12.
    let (mut p, sid) = lns_session();
    let now = p.now;
    let r = sref(&p, sid);
    p.ep.close_session(now, r, ResultCode::new(ResultCodeValue(3)))
        .unwrap();
    let got = p.recv();
    let cdn = Peer::<Lns>::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID);
    assert_eq!(cdn.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16), Some(sid));
    assert_eq!(cdn.result().map(|r| r.0), Some(3));
    assert_eq!(p.ep.tunnel_count(), 1);
}

/// l2tp-5.6-cdn-received: a CDN from the peer ends the session (reported with its Result Code)
/// and is acknowledged; the tunnel stays.
#[test]
fn l2tp_5_6_cdn_received() {
    // RFC 2661 5.6: the session is torn down; the CDN is acknowledged like any control message.
    let (mut p, sid) = lns_session();
    p.events();
    p.send(
        mt::CDN,
        sid,
        vec![
            m(at::RESULT_CODE, be16(3)),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
        ],
    );
    let got = p.recv();
    assert!(got.iter().any(|c| c.nr == p.ns), "{got:?}");
    assert!(p.events().iter().any(|e| matches!(
        e,
        Event::SessionDown { result: Some(r), .. } if r.result == ResultCodeValue(3)
    )));
    assert_eq!(p.ep.session_count(), 0);
    assert_eq!(p.ep.tunnel_count(), 1);
}

/// l2tp-6.13-wen-received: a WEN from the LAC is taken (its Call Errors reported).
#[test]
fn l2tp_6_13_wen_received() {
    // RFC 2661 6.13: the LAC reports WAN errors to the LNS.
    let (mut p, sid) = lns_session();
    p.events();
    let mut ce = vec![0, 0];
    for v in [1u32, 2, 3, 4, 5, 6] {
        ce.extend(v.to_be_bytes());
    }
    p.send(mt::WEN, sid, vec![m(at::CALL_ERRORS, ce)]);
    p.recv();
    let ev = p.events();
    assert!(
        ev.iter().any(
            |e| matches!(e, Event::Wen { errors, .. } if errors.crc == 1 && errors.alignment == 6)
        ),
        "{ev:?}"
    );
}

/// l2tp-6.14-sli-received: an SLI from the LNS is taken by the LAC (its ACCM reported).
#[test]
fn l2tp_6_14_sli_received() {
    // RFC 2661 6.14: the LNS sets the LAC's ACCM.
    let mut q = lac();
    let (_, lac_sid, _) = q.session();
    q.events();
    let mut accm = vec![0, 0];
    accm.extend(0x0000_000au32.to_be_bytes());
    accm.extend(0xffff_ffffu32.to_be_bytes());
    q.send(mt::SLI, lac_sid, vec![m(at::ACCM, accm)]);
    q.recv();
    let ev = q.events();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Sli {
                send_accm: 0x0a,
                receive_accm: 0xffff_ffff,
                ..
            }
        )),
        "{ev:?}"
    );
}
