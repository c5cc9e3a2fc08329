//! Interoperability reports of real L2TPv2 implementations, replayed against telcp's LAC and LNS
//! (session 55). Each test names the public report it comes from (issue or page URL), states what
//! the peer sent there, and asserts what RFC 2661 says of it, or, where the RFC is silent, what
//! the tolerant implementations do. Bytes in, bytes out, through the hand-written peer of
//! `tests/common/l2tp.rs`.

mod common;

use common::l2tp::*;
use std::time::Duration;
use telcp::l2tp::{Config, Event, InputError, SessionRef};

fn tunnel_up(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::TunnelUp { .. }))
}
fn tunnel_down(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::TunnelDown { .. }))
}
fn session_down(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::SessionDown { .. }))
}
fn session_up(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::SessionUp { .. }))
}

/// The control messages among `v` that are not ZLBs.
fn non_zlb(v: &[Ctl]) -> Vec<&Ctl> {
    v.iter().filter(|c| !c.is_zlb()).collect()
}

/// Whether something in `v` acknowledges everything up to our Ns `ns` (a ZLB or a message whose
/// Nr is `ns`).
fn acked(v: &[Ctl], ns: u16) -> bool {
    v.iter().any(|c| c.nr == ns)
}

/// An AVP of vendor `vendor`.
fn vendor_avp(mandatory: bool, vendor: u16, ty: u16, value: &[u8]) -> A {
    A {
        m: mandatory,
        vendor,
        ..m(ty, value.to_vec())
    }
}

// --------------------------------------------------------------- Result Code without Error Code

/// l2tp-4.4.2-result-code-alone-received: a CDN or StopCCN whose Result Code has no Error Code
/// is taken.
///
/// <https://github.com/xelerance/xl2tpd/pull/175>, <https://github.com/xelerance/xl2tpd/issues/130>,
/// <https://github.com/hwdsl2/setup-ipsec-vpn/issues/660>: LNSs send a CDN and a StopCCN whose
/// Result Code AVP has Length 8 (a Result Code, no Error Code); xl2tpd refused them as "avp is
/// incorrect size. 8 < 10". RFC 2661 4.4.2: "The Result Code AVP ... Length is 8 if there is no
/// Error Code or Message". The LAC ends the call on such a CDN, reporting Result 3 and no Error
/// Code, and acknowledges it, its tunnel staying; on such a StopCCN it clears the tunnel (5.7).
/// The LNS ends the session on a LAC's CDN of that form.
#[test]
fn l2tp_4_4_2_result_code_alone_received() {
    let mut p = lac();
    let (_call, lac_sid, _) = p.session();
    p.recv();
    p.events();
    p.send(
        mt::CDN,
        lac_sid,
        vec![
            m(at::RESULT_CODE, be16(3)),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
        ],
    );
    let got = p.advance(Duration::from_millis(600));
    assert!(acked(&got, p.ns), "CDN not acknowledged: {got:?}");
    let ev = p.events();
    let result = ev.iter().find_map(|e| match e {
        Event::SessionDown { result, .. } => Some(result.clone()),
        _ => None,
    });
    let result = result
        .expect("the call ends")
        .expect("with the CDN's result");
    assert_eq!(result.result.0, 3);
    assert_eq!(result.error_code(), None);
    assert!(!tunnel_down(&ev), "{ev:?}");
    // The StopCCN of the same reports (PR 175's log: "message type 4 ... 8 < 10").
    p.send(
        mt::STOPCCN,
        0,
        vec![
            m(at::ASSIGNED_TUNNEL_ID, be16(p.my_tid)),
            m(at::RESULT_CODE, be16(1)),
        ],
    );
    let got = p.recv();
    assert!(acked(&got, p.ns), "StopCCN not acknowledged: {got:?}");
    assert!(tunnel_down(&p.events()));

    let mut p = lns();
    let sid = p.session();
    p.events();
    p.send(
        mt::CDN,
        sid,
        vec![
            m(at::RESULT_CODE, be16(1)),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
        ],
    );
    let got = p.advance(Duration::from_millis(600));
    assert!(acked(&got, p.ns), "CDN not acknowledged: {got:?}");
    let ev = p.events();
    assert!(session_down(&ev), "{ev:?}");
    assert!(!tunnel_down(&ev), "{ev:?}");
}

/// <https://github.com/hwdsl2/docker-ipsec-vpn-server/issues/20>: Apple's client sends the Result
/// Code of its CDN and StopCCN in little-endian order (xl2tpd: "result code endianness fix for
/// buggy Apple client. network=768, le=3"). RFC 2661 6.12: a CDN ends the session whatever its
/// Result Code says; an unknown value (768) is no reason to keep it.
#[test]
fn apple_little_endian_result_code_still_ends_the_session() {
    let mut p = lns();
    let sid = p.session();
    p.events();
    p.send(
        mt::CDN,
        sid,
        vec![
            m(at::RESULT_CODE, vec![3, 0, 0, 0]),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
        ],
    );
    let got = p.advance(Duration::from_millis(600));
    assert!(acked(&got, p.ns), "{got:?}");
    assert!(session_down(&p.events()));
    p.send(
        mt::STOPCCN,
        0,
        vec![
            m(at::ASSIGNED_TUNNEL_ID, be16(MY_TID)),
            m(at::RESULT_CODE, vec![1, 0]),
        ],
    );
    let got = p.recv();
    assert!(acked(&got, p.ns), "{got:?}");
    assert!(tunnel_down(&p.events()));
}

// -------------------------------------------------------------------------- vendor AVPs

/// <https://github.com/xelerance/xl2tpd/issues/163>: a BNG sends the Broadband Forum's
/// Agent-Remote-Id (Vendor ID 3561, Attribute Type 2, M=0, Length 22) in its ICRQ; xl2tpd took it
/// for the IETF Protocol Version (type 2) and refused it ("22 != 8"). RFC 2661 4.1: the Vendor ID
/// qualifies the Attribute Type, and an unrecognised AVP with M=0 "MUST be ignored": the call is
/// answered with an ICRP. The same AVP in an SCCRQ does not stop the tunnel.
#[test]
fn xl2tpd_163_broadband_forum_vendor_avp_ignored() {
    let mut p = lns();
    let mut sccrq = sccrq_avps(MY_TID);
    sccrq.push(vendor_avp(false, 3561, 2, b"DEU.QSC.CP250572"));
    let got = p.sccrq(sccrq);
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_some(),
        "{got:?}"
    );
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    let mut icrq = icrq_avps(MY_SID, 1);
    icrq.push(vendor_avp(false, 3561, 1, b"eth 0/1/0/7:3.4"));
    icrq.push(vendor_avp(false, 3561, 2, b"DEU.QSC.CP250572"));
    p.send(mt::ICRQ, 0, icrq);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_some(),
        "{got:?}"
    );
}

/// <https://github.com/xelerance/xl2tpd/issues/153>, <https://github.com/openwrt/packages/issues/1334>:
/// LNSs send the PPP Disconnect Cause Code (AVP 46, RFC 3145, M=0) which xl2tpd did not know.
/// RFC 2661 4.1 has an unknown M=0 AVP ignored, and RFC 3145 3.1 gives its form: the LAC takes the
/// CDN carrying it (and reports the cause).
#[test]
fn xl2tpd_153_ppp_disconnect_cause_in_cdn_at_lac() {
    let mut p = lac();
    let (_call, lac_sid, _) = p.session();
    p.recv();
    p.events();
    // Code 3 (normal disconnect), protocol LCP (0xc021), direction 1 (global), no message.
    let cause = [0u8, 3, 0xc0, 0x21, 1];
    p.send(
        mt::CDN,
        lac_sid,
        vec![
            m(at::RESULT_CODE, vec![0, 3]),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
            o(46, cause.to_vec()),
        ],
    );
    let got = p.advance(Duration::from_millis(600));
    assert!(acked(&got, p.ns), "{got:?}");
    let ev = p.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::SessionDown { cause: Some(c), .. } if c.code.0 == 3)),
        "{ev:?}"
    );
}

// ------------------------------------------------------------------------- hidden AVPs

/// <https://github.com/rtbrick/bngblaster/issues/107>: a Juniper MX LAC hides its Proxy Authen
/// Response (AVP 33) with random padding after the value; the LNS refused it. RFC 2661 4.3: the
/// hidden subformat is the original length, the value and padding, the original length saying
/// where the value ends. An ICCN whose proxy AVPs are hidden and padded brings the session up.
#[test]
fn bngblaster_107_hidden_padded_proxy_authen_response() {
    let secret = b"interop secret";
    let mut p = lns_with(Config {
        secret: Some(secret.to_vec()),
        ..common(55)
    });
    p.tunnel();
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
    let got = p.recv();
    let sid = Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP)
        .and_then(|c| c.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16))
        .expect("ICRP");
    let rv = b"0123456789abcdef0123".to_vec();
    let hidden = |ty: u16, value: &[u8], pad: usize| A {
        h: true,
        ..m(ty, hide_padded(ty, secret, &rv, value, pad))
    };
    let mut iccn = iccn_avps();
    iccn.push(m(at::RANDOM_VECTOR, rv.clone()));
    iccn.push(o(29, be16(3))); // Proxy Authen Type: PAP
    iccn.push(hidden(30, b"user@realm", 7)); // Proxy Authen Name
    iccn.push(o(32, be16(1))); // Proxy Authen ID
    iccn.push(hidden(33, b"password", 23)); // Proxy Authen Response
    p.send(mt::ICCN, sid, iccn);
    let got = p.recv();
    assert!(acked(&got, p.ns), "{got:?}");
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::CDN).is_none(),
        "{got:?}"
    );
    assert!(session_up(&p.events()));
}

/// The hidden subformat of RFC 2661 4.3 (length, value, `pad` octets of padding), encrypted with
/// MD5(type | secret | RV) then MD5(secret | previous cipher block) per 16 octets.
fn hide_padded(ty: u16, secret: &[u8], rv: &[u8], value: &[u8], pad: usize) -> Vec<u8> {
    use md5::{Digest, Md5};
    let md5 = |parts: &[&[u8]]| -> [u8; 16] {
        let mut h = Md5::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    };
    let mut plain = (value.len() as u16).to_be_bytes().to_vec();
    plain.extend(value);
    plain.extend((0..pad).map(|i| (i * 37 + 11) as u8));
    let mut out = Vec::new();
    let mut b = md5(&[&ty.to_be_bytes(), secret, rv]);
    for chunk in plain.chunks(16) {
        let c: Vec<u8> = chunk.iter().zip(b).map(|(p, k)| p ^ k).collect();
        b = md5(&[secret, &c]);
        out.extend(c);
    }
    out
}

// ------------------------------------------------------------------ malformed AVP values

/// l2tp-4.1-malformed-optional-ignored: an AVP with M=0 whose value breaks its type's length rule
/// is ignored like an unrecognised one.
///
/// <https://download.firebrick.co.uk/fbsoftware/6010/V2.01.001/FB6202/V2.01.001-6010-FB6202-Balcombe-html/l2tp_avp.html>:
/// FireBrick's SCCRQ carries its Firmware Revision as a software version string, not the 2-octet
/// value of RFC 2661 4.4.3 (the AVP has M=0). RFC 2661 4.1: "If the M bit is not set, an
/// unrecognized AVP MUST be ignored. The control message must then continue to be processed as
/// if the AVP had not been present." The RFC does not name an AVP of a known type with a value
/// of the wrong length; xl2tpd (avp.c `handle_avps`) ignores an AVP it cannot handle unless its
/// M bit is set, and FireBrick ignores the AVP. The tunnel comes up (before, the SCCRQ was
/// dropped unacknowledged and no tunnel ever came up); an ICRQ with a Physical Channel ID of 2
/// octets (M=0; RFC 2661 4.4.5 gives 4) is answered with an ICRP.
#[test]
fn l2tp_4_1_malformed_optional_ignored() {
    let mut p = lns();
    let mut sccrq = sccrq_avps(MY_TID);
    sccrq.push(o(at::FIRMWARE_REVISION, b"V2.01.001".to_vec()));
    sccrq.push(o(at::VENDOR_NAME, b"FireBrick Ltd".to_vec()));
    let got = p.sccrq(sccrq);
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_some(),
        "{got:?}"
    );
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    assert!(tunnel_up(&p.events()));
    let mut icrq = icrq_avps(MY_SID, 1);
    icrq.push(o(at::PHYSICAL_CHANNEL_ID, be16(7)));
    p.send(mt::ICRQ, 0, icrq);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_some(),
        "{got:?}"
    );
}

/// The LAC side of l2tp-4.1-malformed-optional-ignored: an LNS's SCCRP with a Firmware Revision
/// string (M=0) is taken.
#[test]
fn firebrick_firmware_revision_string_in_sccrp() {
    let mut p = lac();
    let mut sccrp = sccrp_avps(0x3333);
    sccrp.push(o(at::FIRMWARE_REVISION, b"V2.01.001".to_vec()));
    let (_call, _sid, got) = p.until_icrq_with(sccrp);
    assert!(Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCCN).is_some());
}

/// l2tp-4.4.2-malformed-mandatory-length-wrong: an AVP with M=1 whose value breaks its type's
/// length rule ends the session (CDN) or the tunnel (StopCCN) with Result 2, Error 2; the message
/// is acknowledged.
///
/// <https://github.com/evokelektrique/tunnel-forge/issues/7>: a LAC sends the Call Serial Number
/// of its ICRQ in 2 octets, not the 4 of RFC 2661 4.4.5 (the AVP has M=1); the server refused the
/// ICRQ. RFC 2661 4.1: "If the M bit is set on an unrecognized AVP within a message associated
/// with a particular session, the session associated with this message MUST be terminated. If
/// the M bit is set on an unrecognized AVP within a message associated with the overall tunnel,
/// the entire tunnel (and all sessions within) MUST be terminated." 4.4.2 gives the Error Code
/// for it, 2, "Length is wrong"; 7.4.2 answers an ICRQ that is not acceptable with a CDN, and 5.8
/// acknowledges every control message. The ICRQ is acknowledged and refused with a CDN (Result 2,
/// Error 2) to the LAC's session; the tunnel stays and serves a well-formed call. Before, the
/// ICRQ was dropped unacknowledged, retransmitted until the LAC gave the whole tunnel up.
///
/// The same AVP in an SCCRQ refuses the tunnel (StopCCN Result 2, Error 2 to its Assigned Tunnel
/// ID, no SCCRP, `InputError::MalformedMandatoryAvp`), and in a HELLO on an established tunnel
/// clears it (StopCCN Result 2, Error 2).
#[test]
fn l2tp_4_4_2_malformed_mandatory_length_wrong() {
    let mut p = lns();
    p.tunnel();
    p.events();
    p.send(
        mt::ICRQ,
        0,
        vec![
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
            m(at::CALL_SERIAL_NUMBER, be16(7)),
        ],
    );
    let got = p.recv();
    assert!(acked(&got, p.ns), "ICRQ not acknowledged: {got:?}");
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_none(),
        "{got:?}"
    );
    let cdn = Peer::<telcp::l2tp::Lns>::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.sid, MY_SID);
    assert_eq!(cdn.result(), Some((2, Some(2))));
    assert!(!tunnel_down(&p.events()));
    // The tunnel still serves a well-formed call.
    p.send(mt::ICRQ, 0, icrq_avps(MY_SID + 1, 8));
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_some(),
        "{got:?}"
    );
    // A HELLO (a tunnel message) carrying a Receive Window Size of 4 octets with M=1.
    p.send(mt::HELLO, 0, vec![m(at::RECEIVE_WINDOW_SIZE, be32(8))]);
    let got = p.recv();
    let stop = Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.result(), Some((2, Some(2))));
    assert!(tunnel_down(&p.events()));

    // An SCCRQ whose Framing Capabilities has 2 octets (RFC 2661 4.4.3 gives 4).
    let mut p = lns();
    let mut sccrq = sccrq_avps(MY_TID);
    sccrq.retain(|a| a.ty != at::FRAMING_CAPABILITIES);
    sccrq.push(m(at::FRAMING_CAPABILITIES, be16(3)));
    let b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq));
    let r = p.ep.handle_datagram(p.now, p.me, p.them, &b);
    assert_eq!(
        r,
        Err(InputError::MalformedMandatoryAvp {
            avp: telcp::l2tp::wire::AvpType::FRAMING_CAPABILITIES
        })
    );
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).is_none(),
        "{got:?}"
    );
    let stop = Peer::<telcp::l2tp::Lns>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.tid, MY_TID);
    assert_eq!(stop.result(), Some((2, Some(2))));
    assert!(!tunnel_up(&p.events()));
}

/// The LAC side of l2tp-4.4.2-malformed-mandatory-length-wrong: an ICRP whose Assigned Session
/// ID has 4 octets (M=1; RFC 2661 4.4.4 gives 2) is answered with a CDN (Result 2, Error 2) and
/// no ICCN (7.4.1: an ICRP that is not acceptable); an SCCRP whose Framing Capabilities has 2
/// octets with a StopCCN (Result 2, Error 2) to the Tunnel ID it assigned, and no SCCCN (7.2.1).
#[test]
fn lac_refuses_malformed_mandatory_avps() {
    let mut p = lac();
    let (_call, lac_sid, _) = p.until_icrq();
    p.send(
        mt::ICRP,
        lac_sid,
        vec![m(at::ASSIGNED_SESSION_ID, be32(u32::from(MY_SID)))],
    );
    let got = p.recv();
    assert!(acked(&got, p.ns), "{got:?}");
    assert!(
        Peer::<telcp::l2tp::Lac>::find(&got, mt::ICCN).is_none(),
        "{got:?}"
    );
    let cdn = Peer::<telcp::l2tp::Lac>::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.result(), Some((2, Some(2))));
    assert!(!tunnel_down(&p.events()));

    let mut p = lac();
    p.open();
    let mut sccrp = sccrp_avps(p.my_tid);
    sccrp.retain(|a| a.ty != at::FRAMING_CAPABILITIES);
    sccrp.push(m(at::FRAMING_CAPABILITIES, be16(3)));
    p.send(mt::SCCRP, 0, sccrp);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCCN).is_none(),
        "{got:?}"
    );
    let stop = Peer::<telcp::l2tp::Lac>::find(&got, mt::STOPCCN).expect("StopCCN");
    assert_eq!(stop.tid, p.my_tid);
    assert_eq!(stop.result(), Some((2, Some(2))));
}

/// RFC 2661 4.3 and 4.4.2: a hidden AVP is read once unhidden; a hidden Call Serial Number whose
/// original value has 2 octets (M=1) is refused as the clear one is, with a CDN (Result 2, Error
/// 2), and the ICRQ is acknowledged. A CDN whose Result Code has 3 octets (4.4.2: 2, or at least
/// 4) still ends its session (StopCCN and CDN clear what they name whatever they carry) and is
/// acknowledged.
#[test]
fn hidden_malformed_mandatory_and_malformed_cdn() {
    let secret = b"interop secret";
    let mut p = lns_with(Config {
        secret: Some(secret.to_vec()),
        ..common(56)
    });
    p.tunnel();
    let rv = b"fedcba9876543210".to_vec();
    p.send(
        mt::ICRQ,
        0,
        vec![
            m(at::RANDOM_VECTOR, rv.clone()),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
            A {
                h: true,
                ..m(
                    at::CALL_SERIAL_NUMBER,
                    hide_padded(at::CALL_SERIAL_NUMBER, secret, &rv, &be16(7), 0),
                )
            },
        ],
    );
    let got = p.recv();
    assert!(acked(&got, p.ns), "{got:?}");
    let cdn = Peer::<telcp::l2tp::Lns>::find(&got, mt::CDN).expect("CDN");
    assert_eq!(cdn.result(), Some((2, Some(2))));

    let mut p = lns();
    let sid = p.session();
    p.events();
    p.send(
        mt::CDN,
        sid,
        vec![
            m(at::RESULT_CODE, vec![0, 3, 0]),
            m(at::ASSIGNED_SESSION_ID, be16(MY_SID)),
        ],
    );
    let got = p.advance(Duration::from_millis(600));
    assert!(acked(&got, p.ns), "{got:?}");
    let ev = p.events();
    assert!(session_down(&ev), "{ev:?}");
    assert!(!tunnel_down(&ev), "{ev:?}");
}

// ------------------------------------------------------------------ Windows and Check Point

/// <https://github.com/xelerance/xl2tpd/issues/219> (the xl2tpd log of a Windows client's SCCRQ)
/// and <http://www.viphot.com/wangluojishu/luyoujishu/QuidwayRxilieluyouqidiaoshimingling_9.html>
/// (a Huawei router's): Windows sends Framing Capabilities sync only, Bearer Capabilities 0,
/// Firmware Revision 0x0a00 (or 0x0500), Vendor Name "Microsoft", Assigned Tunnel ID 1, Receive
/// Window Size 8 and no Tie Breaker. Every one is a valid value (RFC 2661 4.4.3): the tunnel
/// comes up, and the LNS keeps up to 8 messages outstanding.
#[test]
fn windows_sccrq_accepted() {
    let mut p = lns();
    p.my_tid = 1;
    let got = p.sccrq(vec![
        m(at::PROTOCOL_VERSION, vec![1, 0]),
        m(at::FRAMING_CAPABILITIES, be32(1)),
        m(at::BEARER_CAPABILITIES, be32(0)),
        o(at::FIRMWARE_REVISION, be16(0x0a00)),
        m(at::HOST_NAME, b"RWB-LAPTOP-DELL".to_vec()),
        o(at::VENDOR_NAME, b"Microsoft".to_vec()),
        m(at::ASSIGNED_TUNNEL_ID, be16(1)),
        m(at::RECEIVE_WINDOW_SIZE, be16(8)),
    ]);
    let rp = Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).expect("SCCRP");
    assert_eq!(rp.tid, 1);
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    assert!(tunnel_up(&p.events()));
}

// --------------------------------------------------------------------- acknowledgements

/// <https://github.com/xelerance/xl2tpd/issues/87>: Windows XP acknowledges the LNS's CDN with a
/// ZLB whose Session ID is 0; xl2tpd kept the call. RFC 2661 5.8: the ZLB is an acknowledgement of
/// the control connection (its Nr counts); its Session ID does not matter. The LNS stops
/// retransmitting the CDN.
#[test]
fn xl2tpd_87_zlb_with_session_zero_acknowledges_cdn() {
    let mut p = lns();
    let sid = p.session();
    p.events();
    let tunnel = p.their_tid;
    p.ep.close_session(
        p.now,
        SessionRef {
            tunnel,
            session: sid,
        },
        telcp::l2tp::Close::default(),
    )
    .unwrap();
    let got = p.recv();
    assert!(Peer::<telcp::l2tp::Lns>::find(&got, mt::CDN).is_some());
    p.zlb();
    let later = p.advance(Duration::from_secs(20));
    assert!(non_zlb(&later).is_empty(), "CDN retransmitted: {later:?}");
    assert!(!tunnel_down(&p.events()));
}

/// <https://github.com/xelerance/xl2tpd/issues/34>: a D-Link DFL-1660 LNS retransmits its SCCRP
/// after the LAC's SCCCN (the SCCCN's acknowledgement of it was lost); xl2tpd refused it
/// ("attempting to negotiate SCCRP with state != SCCRQ"). RFC 2661 5.8: a duplicate is
/// acknowledged again and not processed; the LAC's tunnel goes on.
#[test]
fn xl2tpd_34_retransmitted_sccrp_after_scccn() {
    let mut p = lac();
    p.open();
    p.send(mt::SCCRP, 0, sccrp_avps(p.my_tid));
    let got = p.recv();
    assert!(Peer::<telcp::l2tp::Lac>::find(&got, mt::SCCCN).is_some());
    // The same SCCRP again (Ns 0).
    p.ns = 0;
    p.send(mt::SCCRP, 0, sccrp_avps(p.my_tid));
    let got = p.advance(Duration::from_millis(1100));
    assert!(
        Peer::<telcp::l2tp::Lac>::find(&got, mt::STOPCCN).is_none(),
        "{got:?}"
    );
    assert!(
        got.iter().any(|c| c.nr == 1),
        "not re-acknowledged: {got:?}"
    );
    assert!(!tunnel_down(&p.events()));
}

/// <https://github.com/xelerance/xl2tpd/issues/136>: a WatchGuard resends a control message the
/// client had taken ("Received out of order control packet on tunnel 1 (got 1, expected 2)") and
/// xl2tpd dropped it unacknowledged, so it came again and again. RFC 2661 5.8: the duplicate is
/// acknowledged (a ZLB with Nr past it), and not processed twice.
#[test]
fn xl2tpd_136_duplicate_acknowledged_at_lac() {
    let mut p = lac();
    p.session();
    p.recv();
    p.events();
    // A HELLO, then the same HELLO again.
    let ns = p.ns;
    p.send(mt::HELLO, 0, vec![]);
    p.recv();
    p.ns = ns;
    p.send(mt::HELLO, 0, vec![]);
    let got = p.recv();
    assert!(
        got.iter().any(|c| c.is_zlb() && c.nr == ns.wrapping_add(1)),
        "duplicate not re-acknowledged: {got:?}"
    );
    assert!(!tunnel_down(&p.events()));
}

/// RFC 2661 6.5: a HELLO carries the Message Type AVP only; Cisco's, xl2tpd's and Windows'
/// HELLOs are exactly that (<https://github.com/xelerance/xl2tpd/issues/80>). Each side
/// acknowledges it.
#[test]
fn bare_hello_acknowledged_both_sides() {
    let mut p = lns();
    p.tunnel();
    p.send(mt::HELLO, 0, vec![]);
    let got = p.recv();
    assert!(acked(&got, p.ns), "{got:?}");
    let mut q = lac();
    q.session();
    q.recv();
    q.send(mt::HELLO, 0, vec![]);
    let got = q.recv();
    assert!(acked(&got, q.ns), "{got:?}");
}

/// <https://github.com/hwdsl2/setup-ipsec-vpn/issues/438>, <https://github.com/xelerance/xl2tpd/issues/154>
/// ("Peer requested tunnel 61024 twice, ignoring second one"): a LAC whose SCCRP got lost
/// retransmits its SCCRQ. RFC 2661 5.8: the retransmission keeps Ns 0; the LNS answers it once,
/// its SCCRP retransmitted on its own timer, and makes no second tunnel.
#[test]
fn sccrq_retransmitted_after_sccrp() {
    let mut p = lns();
    let first = p.sccrq(sccrq_avps(MY_TID));
    assert!(Peer::<telcp::l2tp::Lns>::find(&first, mt::SCCRP).is_some());
    let tid = p.their_tid;
    let b = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
    p.raw(&b);
    let got = p.recv();
    assert!(
        non_zlb(&got).iter().all(|c| c.mt() != Some(mt::SCCRP)
            || c.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16) == Some(tid)),
        "a second tunnel: {got:?}"
    );
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    let ev = p.events();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::TunnelUp { .. }))
            .count(),
        1,
        "{ev:?}"
    );
}

// ------------------------------------------------------------------ empty string values

/// <https://github.com/xebd/accel-ppp/pull/175> (accel-ppp reads Calling and Called Number for
/// RADIUS) and <https://github.com/accel-ppp/accel-ppp/pull/269>: LACs send Calling Number,
/// Called Number and Sub-Address with values of any length, including none (a LAC with no
/// caller id sends the AVP empty). RFC 2661 4.4.5 sets no minimum for them: an ICRQ with all three
/// empty is answered with an ICRP.
#[test]
fn empty_calling_called_number_and_sub_address() {
    let mut p = lns();
    p.tunnel();
    let mut icrq = icrq_avps(MY_SID, 1);
    icrq.push(o(at::CALLING_NUMBER, vec![]));
    icrq.push(o(at::CALLED_NUMBER, vec![]));
    icrq.push(o(at::SUB_ADDRESS, vec![]));
    p.send(mt::ICRQ, 0, icrq);
    let got = p.recv();
    assert!(
        Peer::<telcp::l2tp::Lns>::find(&got, mt::ICRP).is_some(),
        "{got:?}"
    );
}

// ------------------------------------------------------------------------- Set-Link-Info

/// <https://github.com/katalix/go-l2tp/issues/6>: a Cisco Meraki LNS sends a Set-Link-Info
/// (message type 16) with an ACCM AVP after the call is up; kl2tpd had "no specification for v2
/// message avpMsgTypeSli" and dropped the connection. RFC 2661 6.14: the LNS sends SLI to give the
/// LAC the ACCM the PPP peers agreed; the LAC acknowledges it, reports the ACCM and keeps the
/// call and the tunnel.
#[test]
fn go_l2tp_6_set_link_info_at_lac() {
    let mut p = lac();
    let (_call, lac_sid, _) = p.session();
    p.recv();
    p.events();
    // ACCM: 2 reserved octets, Send ACCM, Receive ACCM (RFC 2661 4.4.6).
    let mut accm = vec![0, 0];
    accm.extend(be32(0xffff_ffff));
    accm.extend(be32(0));
    p.send(mt::SLI, lac_sid, vec![m(at::ACCM, accm)]);
    let got = p.advance(Duration::from_millis(600));
    assert!(acked(&got, p.ns), "{got:?}");
    assert!(
        Peer::<telcp::l2tp::Lac>::find(&got, mt::CDN).is_none(),
        "{got:?}"
    );
    let ev = p.events();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Sli {
                send_accm: 0xffff_ffff,
                receive_accm: 0,
                ..
            }
        )),
        "{ev:?}"
    );
    assert!(!session_down(&ev) && !tunnel_down(&ev), "{ev:?}");
}

// --------------------------------------------------------------------------- data header

/// <https://github.com/the-tcpdump-group/tcpdump/issues/122>: a capture of data messages with
/// the O bit and an odd Offset Size (tcpdump skipped one octet too few). RFC 2661 3.1: "The
/// Offset Size field, if present, specifies the number of bytes past the L2TP header at which
/// the payload data is expected to start"; nothing makes it even. The LNS hands up the PPP
/// frame after 3 octets of padding, and after a Length field (L=1) with the offset too.
#[test]
fn odd_offset_size_data_message() {
    let mut p = lns();
    let sid = p.session();
    let tid = p.their_tid;
    let frame = [0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 1, 2, 3, 4];
    // T=0 L=0 S=0 O=1, version 2; Offset Size 3, three octets of padding.
    let mut b = vec![0x02, 0x02];
    b.extend(be16(tid));
    b.extend(be16(sid));
    b.extend(be16(3));
    b.extend([0xaa, 0xbb, 0xcc]);
    b.extend(frame);
    assert!(p.raw(&b));
    let d = p.ep.poll_data().expect("the frame");
    assert_eq!(&d.frame[..], &frame[..]);
    // L=1 and O=1: Length, Tunnel ID, Session ID, Offset Size 1, one octet of padding.
    let mut b = vec![0x42, 0x02];
    let len = (2 + 2 + 2 + 2 + 2 + 1 + frame.len()) as u16;
    b.extend(be16(len));
    b.extend(be16(tid));
    b.extend(be16(sid));
    b.extend(be16(1));
    b.push(0xdd);
    b.extend(frame);
    assert!(p.raw(&b));
    let d = p.ep.poll_data().expect("the frame");
    assert_eq!(&d.frame[..], &frame[..]);
}

// ------------------------------------------------------------------------ peer restarts

/// <https://github.com/xelerance/xl2tpd/issues/40> ("client does not reconnect after server
/// restart") and <https://github.com/xelerance/xl2tpd/issues/154>: a peer that restarts opens a
/// new tunnel from the same address, and may assign the same Tunnel ID again (Windows assigns 1
/// every time, <https://github.com/xelerance/xl2tpd/issues/219>). RFC 2661 does not say how to
/// tell its new SCCRQ (Ns 0) from a late copy of the old one: telcp takes it as a retransmission
/// while the old tunnel lives (acknowledged, no second tunnel, as xl2tpd's "Peer requested
/// tunnel ... twice, ignoring second one"). Once the old tunnel is cleared, its HELLO unanswered
/// through every retransmission (5.5, 5.8), nothing of it remains: the restarted peer's SCCRQ
/// with the same Assigned Tunnel ID gets an SCCRP and a tunnel.
#[test]
fn restarted_peer_with_the_same_tunnel_id_gets_a_tunnel_once_the_old_is_cleared() {
    let mut p = lns();
    p.tunnel();
    p.events();
    let old = p.their_tid;
    // The LAC restarts: a fresh SCCRQ, Ns 0, the same Assigned Tunnel ID.
    let sccrq = control(0, 0, 0, 0, &with_type(mt::SCCRQ, sccrq_avps(MY_TID)));
    p.raw(&sccrq);
    let got = p.advance(Duration::from_secs(1));
    assert!(non_zlb(&got).is_empty(), "{got:?}");
    // The old tunnel's HELLO goes unanswered (the restarted LAC does not know the tunnel).
    p.advance(Duration::from_secs(300));
    assert!(tunnel_down(&p.events()));
    p.raw(&sccrq);
    let got = p.recv();
    let rp = Peer::<telcp::l2tp::Lns>::find(&got, mt::SCCRP).expect("SCCRP");
    assert_eq!(rp.tid, MY_TID);
    let new = rp.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16).unwrap();
    p.their_tid = new;
    p.ns = 1;
    p.nr = 1;
    p.send(mt::SCCCN, 0, vec![]);
    p.recv();
    assert!(tunnel_up(&p.events()), "old {old}, new {new}");
}
