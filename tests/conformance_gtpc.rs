//! TS 29.060 (GTPv1-C) conformance of the gateway, statement by statement: each test carries the
//! id of its row in `conformance/ts29060.toml`, drives the gateway (line interface, switch
//! processor, processors) with hand-built bytes as an SGSN would, and checks the answer on the
//! wire against the clause it cites.

mod common;

use common::gtp::*;

use std::net::IpAddr;

const IMSI: &str = "001010123456789";
const SGSN_TEID: u32 = 0x5500_0001;

/// The IEs of a Create PDP Context Request for IMSI, and where in them the End User Address
/// (TS 29.060 7.7.27: type 128, length 2, IETF organisation, IPv4) starts.
fn create_ies_and_eua() -> (Vec<u8>, usize) {
    let ies = create_ies(IMSI, SGSN_TEID);
    let at = ies
        .windows(5)
        .position(|w| w == [128, 0, 2, 0xf1, 0x21])
        .unwrap();
    (ies, at)
}

/// A gateway with one session; returns it and the Create PDP Context Response.
fn with_session() -> (Gw, Gtp) {
    let mut gw = Gw::new();
    let r = gw.create(IMSI, 1, SGSN_TEID);
    (gw, r)
}

/// The gateway's control-plane TEID of a session (TEID Control Plane IE of the response).
fn gw_teid_c(r: &Gtp) -> u32 {
    r.u32_ie(17).expect("TEID Control Plane")
}

fn echo_request(seq: u16) -> Vec<u8> {
    msg(1, 0, seq, &[])
}

// ------------------------------------------------------------------ section 6: the header

/// gtpc-6-header-version: every message the gateway sends has version 1 and PT 1.
#[test]
fn gtpc_6_header_version() {
    // TS 29.060 section 6: version field 1 for GTPv1, PT 1 for GTP (not GTP').
    let (mut gw, r) = with_session();
    let e = only(&gw.c(&echo_request(9)));
    for m in [r, e] {
        assert_eq!(m.version(), 1);
        assert_eq!(m.flags & 0x10, 0x10, "PT = 1");
    }
}

/// gtpc-6-s-flag: GTP-C messages the gateway sends carry a sequence number (S = 1).
#[test]
fn gtpc_6_s_flag() {
    // TS 29.060 section 6: sequence numbers are mandatory for signalling messages, so the S flag
    // is set in every GTP-C header.
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    let e = only(&gw.c(&echo_request(9)));
    let u = only(&gw.c(&msg(18, t, 2, &update_ies(SGSN_TEID))));
    let d = only(&gw.c(&msg(20, t, 3, &delete_ies())));
    for m in [r, e, u, d] {
        assert_eq!(m.flags & 0x02, 0x02, "S flag of message type {}", m.mtype);
        assert!(m.seq.is_some());
    }
}

/// gtpc-6-length: the Length field counts the octets after the mandatory 8-octet header.
#[test]
fn gtpc_6_length() {
    // TS 29.060 section 6: Length = payload length, the optional fields included, the first 8
    // octets not. (Gtp::decode asserts it; checked here explicitly too.)
    let (mut gw, _) = with_session();
    let out = gw.c(&echo_request(4));
    assert_eq!(out.len(), 1);
    let b = &out[0].payload;
    assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len() - 8);
}

/// gtpc-6-spare-ignored: the receiver does not evaluate the spare bit of the first octet.
#[test]
fn gtpc_6_spare_ignored() {
    // TS 29.060 section 6: the spare bit is sent as 0 and not evaluated on receipt.
    let mut gw = Gw::new();
    let mut req = echo_request(21);
    req[0] |= 0x08;
    let e = only(&gw.c(&req));
    assert_eq!((e.mtype, e.seq), (2, Some(21)));
    assert_eq!(e.flags & 0x08, 0, "the gateway sends the spare bit as 0");
}

/// gtpc-6-unflagged-fields-ignored: an optional field whose flag is clear (the N-PDU number with
/// PN = 0) is present but not evaluated.
#[test]
fn gtpc_6_unflagged_fields_ignored() {
    // TS 29.060 section 6: when any of E, S, PN is set the three optional fields are present;
    // a field whose own flag is clear is not evaluated by the receiver.
    let mut gw = Gw::new();
    let mut req = echo_request(0x0102);
    req[10] = 0x99; // N-PDU number with PN clear
    let e = only(&gw.c(&req));
    assert_eq!((e.mtype, e.seq), (2, Some(0x0102)));
}

/// gtpc-6-teid-zero-path: Echo Response and Version Not Supported carry TEID 0.
#[test]
fn gtpc_6_teid_zero_path() {
    // TS 29.060 section 6: the TEID is 0 in path management messages (Echo Request/Response,
    // Version Not Supported, Supported Extension Headers Notification).
    let mut gw = Gw::new();
    let e = only(&gw.c(&echo_request(5)));
    assert_eq!(e.teid, 0);
    // A GTPv0 Echo Request (GTPv2-C is served, TS 29.274: tests/steering_4g.rs).
    let v0_echo = [
        0x1e, 1, 0, 0, 0, 5, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let v = only(&gw.c(&v0_echo));
    assert_eq!((v.mtype, v.teid), (3, 0));
}

/// gtpc-6.1-ext-unknown-optional: an unknown extension header whose type does not require
/// comprehension is skipped and the message handled.
#[test]
fn gtpc_6_1_ext_unknown_optional() {
    // TS 29.060 section 6.1: extension header types with the two high bits 00 or 01 need not be
    // understood: the receiver skips them (by their length) and handles the message.
    let mut gw = Gw::new();
    let e = only(&gw.c(&msg_ext(1, 0, 33, 0x21, [0xaa, 0xbb], &[])));
    assert_eq!((e.mtype, e.seq), (2, Some(33)));
}

/// gtpc-6.1-ext-unknown-required: a GTP-C message with an extension header the gateway does not
/// support and whose type requires comprehension is not handled, and the sender gets a
/// Supported Extension Headers Notification (TS 29.060 7.2.4) listing the types the gateway
/// supports.
#[test]
fn gtpc_6_1_ext_unknown_required() {
    // TS 29.060 section 6.1: types with the high bits 10 or 11 must be understood by the
    // endpoint; 7.2.4: the node that cannot answers with a Supported Extension Headers
    // Notification (type 31, TEID 0) carrying the Extension Header Type List (141).
    let mut gw = Gw::new();
    let out = gw.c(&msg_ext(1, 0, 34, 0xc5, [0xaa, 0xbb], &[]));
    let n = only(&out);
    assert_eq!(
        (n.mtype, n.teid),
        (31, 0),
        "Supported Extension Headers Notification"
    );
    let list = n.ie(141).expect("Extension Header Type List");
    assert!(!list.contains(&0xc5));
}

// ------------------------------------------------------------------ 7.1 and 11.1.2-11.1.4

/// gtpc-11.1.3-unknown-type: a message of a type GTPv1 does not define is discarded silently.
#[test]
fn gtpc_11_1_3_unknown_type() {
    // TS 29.060 11.1.3: a message type not defined for the version is silently discarded.
    let (mut gw, r) = with_session();
    assert!(gw.c(&msg(9, 0, 40, &[])).is_empty());
    assert!(gw.c(&msg(9, gw_teid_c(&r), 41, &[])).is_empty());
    // and the gateway goes on serving
    assert_eq!(only(&gw.c(&echo_request(42))).mtype, 2);
}

/// gtpc-11.1.4-unexpected-response: a response no request of the gateway is waiting for is
/// discarded silently.
#[test]
fn gtpc_11_1_4_unexpected_response() {
    // TS 29.060 11.1.4: e.g. a response with no outstanding request: silently discarded.
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    assert!(
        gw.c(&msg(2, 0, 50, &tv(14, &[3]))).is_empty(),
        "Echo Response"
    );
    assert!(
        gw.c(&msg(17, 0, 51, &tv(1, &[128]))).is_empty(),
        "Create Response"
    );
    assert!(
        gw.c(&msg(19, t, 52, &tv(1, &[128]))).is_empty(),
        "Update Response"
    );
    assert!(
        gw.c(&msg(21, t, 53, &tv(1, &[128]))).is_empty(),
        "Delete Response"
    );
    assert!(gw.has_session(t), "the session is untouched");
}

/// gtpc-11.1-responses-not-answered: Version Not Supported, Supported Extension Headers
/// Notification and Error Indication count as responses: they are never answered.
#[test]
fn gtpc_11_1_responses_not_answered() {
    // TS 29.060 11.1 (introduction): these messages are responses for error handling, so a
    // malformed or unexpected one is discarded, not answered.
    let mut gw = Gw::new();
    assert!(
        gw.c(&msg(3, 0, 0, &[])).is_empty(),
        "GTPv1 Version Not Supported"
    );
    assert!(
        gw.c(&[0x40, 3, 0, 4, 0, 0, 1, 0]).is_empty(),
        "GTPv2 Version Not Supported"
    );
    let mut list = vec![141, 1, 0xc0];
    list.truncate(3);
    assert!(
        gw.c(&msg(31, 0, 0, &list)).is_empty(),
        "Supported Extension Headers Notification"
    );
}

/// gtpc-11.1.2-too-short: a datagram too short for the GTPv1 header is discarded silently.
#[test]
fn gtpc_11_1_2_too_short() {
    // TS 29.060 11.1.2: shorter than the header of the version it claims: silently discarded.
    let mut gw = Gw::new();
    for b in [
        &[0x32u8][..],
        &[0x32, 1, 0, 4, 0, 0][..],
        &[0x32, 1, 0, 4, 0, 0, 0, 0][..],
    ] {
        assert!(gw.c(b).is_empty(), "{b:02x?}");
    }
}

// ------------------------------------------------------------------ 7.2 path management

/// gtpc-7.2.1-echo-answered: an Echo Request is answered with an Echo Response at any time.
#[test]
fn gtpc_7_2_1_echo_answered() {
    // TS 29.060 7.2.1: a GSN is prepared to receive an Echo Request at any time and answers it
    // with an Echo Response (7.2.2).
    let (mut gw, _) = with_session();
    for seq in [1u16, 2, 0xffff] {
        let e = only(&gw.c(&echo_request(seq)));
        assert_eq!(e.mtype, 2);
    }
}

/// gtpc-7.2.2-recovery: the Echo Response carries the Recovery IE with the gateway's restart
/// counter (GTP-C).
#[test]
fn gtpc_7_2_2_recovery() {
    // TS 29.060 7.2.2: Recovery is mandatory in the Echo Response and holds the sender's restart
    // counter (7.7.11); on GTP-C that is the local counter, here configured as RECOVERY.
    let mut gw = Gw::new();
    let e = only(&gw.c(&echo_request(3)));
    assert_eq!(e.types(), [14]);
    assert_eq!(e.ie(14), Some(&[RECOVERY][..]));
}

/// gtpc-7.2.2-private-extension-ignored: a Private Extension in the Echo Request does not
/// prevent the answer.
#[test]
fn gtpc_7_2_2_private_extension_ignored() {
    // TS 29.060 7.2.1: the Echo Request may carry a Private Extension (optional); the answer
    // does not depend on it.
    let mut gw = Gw::new();
    let e = only(&gw.c(&msg(1, 0, 6, &tlv(255, &[0x00, 0x0a, 1, 2, 3]))));
    assert_eq!((e.mtype, e.seq), (2, Some(6)));
}

/// gtpc-7.2.3-version-not-supported: a GTP-C message of another version (GTPv0, or a version
/// the gateway does not know; GTPv2-C is served, see tests/steering_4g.rs) gets a Version Not
/// Supported whose header carries version 1, and is discarded.
#[test]
fn gtpc_7_2_3_version_not_supported() {
    // TS 29.060 7.2.3 and 11.1.1: "a GTP Version Not Supported message indicating in the
    // Version field of the GTP header the latest GTP version that that node supports"; the
    // received message is not processed further. A GTPv0 message gets the GTPv1 message.
    let mut gw = Gw::new();
    let v0_create = [
        0x1e, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let out = gw.c(&v0_create);
    let v = only(&out);
    assert_eq!((v.version(), v.mtype), (1, 3));
    assert_eq!(out[0].dst, sgsn_c(), "back to the sender");
    // A message of a version after both (3): the latest this port serves is GTPv2-C (TS 29.274
    // 7.7.2), so the answer is the GTPv2 Version Not Supported Indication (7.1.3): version 2,
    // type 3, no TEID, Length 4 (sequence number 0 and the spare octet).
    let v3_echo = [0x60, 1, 0, 4, 0, 0, 7, 0];
    let out = gw.c(&v3_echo);
    assert_eq!(out.len(), 1, "one answer");
    assert_eq!(&out[0].payload[..], &[0x40, 3, 0, 4, 0, 0, 0, 0]);
    assert_eq!(out[0].dst, sgsn_c(), "back to the sender");
    assert_eq!(
        gw.sp.session_count(),
        0,
        "the GTPv0 Create was not processed"
    );
}

/// gtpc-7.2.3-header-only: Version Not Supported carries only the GTP header.
#[test]
fn gtpc_7_2_3_header_only() {
    // TS 29.060 7.2.3: the message contains only the GTP header.
    let mut gw = Gw::new();
    let v0_echo = [
        0x1e, 1, 0, 0, 0, 5, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let v = only(&gw.c(&v0_echo));
    assert!(v.ies.is_empty());
    assert!(v.body.is_empty());
}

// ------------------------------------------------------------------ 7.3.1 / 7.3.2 Create PDP Context

/// gtpc-7.3.2-accepted: a well-formed Create PDP Context Request is accepted: a Create PDP
/// Context Response with Cause Request accepted (128).
#[test]
fn gtpc_7_3_2_accepted() {
    // TS 29.060 7.3.1 / 7.3.2 (and 7.7.1 for the value).
    let mut gw = Gw::new();
    let out = gw.c(&create_request(77, &create_ies(IMSI, SGSN_TEID)));
    let r = only(&out);
    assert_eq!((r.mtype, r.cause()), (17, Some(128)));
    assert!(gw.has_session(gw_teid_c(&r)), "a PDP context exists");
}

/// gtpc-7.3.2-header-teid: the response's header TEID is the TEID Control Plane the SGSN sent
/// in the request.
#[test]
fn gtpc_7_3_2_header_teid() {
    // TS 29.060 section 6 and 7.3.2: a response is sent to the peer's control-plane TEID.
    let (_, r) = with_session();
    assert_eq!(r.teid, SGSN_TEID);
}

/// gtpc-7.3.2-teids: an accepted response carries the gateway's TEID Data I and TEID Control
/// Plane, non-zero.
#[test]
fn gtpc_7_3_2_teids() {
    // TS 29.060 7.3.2: both are conditional on acceptance; the GGSN chooses them and the SGSN
    // puts them in the headers it sends (7.7.13, 7.7.14).
    let (mut gw, r) = with_session();
    let (u, c) = (r.u32_ie(16).unwrap(), r.u32_ie(17).unwrap());
    assert_ne!(u, 0);
    assert_ne!(c, 0);
    // and they name the context: a G-PDU to the data TEID is taken as user data
    let before = gw.user_packets();
    assert!(gw.u(&g_pdu(u, &t_pdu())).is_empty());
    assert_eq!(gw.user_packets(), before + 1);
}

/// gtpc-7.3.2-gsn-addresses: an accepted response carries the GGSN Address for Control Plane and
/// the GGSN Address for user traffic, the gateway's own address.
#[test]
fn gtpc_7_3_2_gsn_addresses() {
    // TS 29.060 7.3.2: two GSN Address IEs (7.7.32), control plane first.
    let (_, r) = with_session();
    let gw_ip = IpAddr::from(GW);
    assert_eq!(r.gsn_addresses(), [gw_ip, gw_ip]);
}

/// gtpc-7.3.2-reordering-required: an accepted response carries Reordering Required.
#[test]
fn gtpc_7_3_2_reordering_required() {
    // TS 29.060 7.3.2: mandatory when accepted (7.7.6: one octet, spare bits 1).
    let (_, r) = with_session();
    let v = r.ie(8).expect("Reordering Required");
    assert_eq!(v[0] & 0xfe, 0xfe, "spare bits set");
}

/// gtpc-7.3.2-charging-id: an accepted response carries a Charging ID.
#[test]
fn gtpc_7_3_2_charging_id() {
    // TS 29.060 7.3.2: conditional on acceptance (7.7.26, TV, 4 octets).
    let (_, r) = with_session();
    assert!(r.u32_ie(127).is_some());
}

/// gtpc-7.3.2-end-user-address: a dynamic address request is answered with the allocated IPv4
/// address in the End User Address.
#[test]
fn gtpc_7_3_2_end_user_address() {
    // TS 29.060 7.3.2 and 7.7.27: the EUA of the response holds the PDP address the GGSN
    // allocated: spare bits 1111, organisation IETF (1), type IPv4 (0x21), four octets.
    let (_, r) = with_session();
    let e = r.ie(128).expect("End User Address");
    assert_eq!((e[0], e[1], e.len()), (0xf1, 0x21, 6));
    assert_ne!(&e[2..], [0, 0, 0, 0]);
}

/// gtpc-7.3.2-qos: an accepted response carries the negotiated QoS Profile, no better than the
/// one requested.
#[test]
fn gtpc_7_3_2_qos() {
    // TS 29.060 7.3.2: QoS Profile conditional on acceptance (7.7.34); the gateway negotiates
    // nothing up, so it returns what was asked.
    let (_, r) = with_session();
    assert_eq!(r.ie(135), Some(&QOS[..]));
}

/// gtpc-7.3.2-reject-only-cause: a rejected Create PDP Context Response carries the Cause and
/// nothing the acceptance would (no TEIDs, addresses, EUA).
#[test]
fn gtpc_7_3_2_reject_only_cause() {
    // TS 29.060 7.3.2: when the cause is not an acceptance, only Cause (and optionally Recovery,
    // PCO, Private Extension) are included.
    let mut gw = Gw::new();
    let mut ies = create_ies(IMSI, SGSN_TEID);
    let at = ies.iter().position(|b| *b == 20).unwrap(); // drop NSAPI (TV 20, 1 octet)
    ies.drain(at..at + 2);
    let r = only(&gw.c(&create_request(3, &ies)));
    assert_eq!(r.mtype, 17);
    for t in r.types() {
        assert!([1, 14, 132, 255].contains(&t), "element {t} in a rejection");
    }
}

/// gtpc-7.3.2-no-resources: with every processor full, the request is refused with No
/// resources available (199).
#[test]
fn gtpc_7_3_2_no_resources() {
    // TS 29.060 7.3.2 (cause list) and 7.7.1.
    let mut gw = Gw::with_capacity(1);
    gw.create("001010000000001", 1, 0x100);
    gw.advance(std::time::Duration::from_millis(500)); // the load reaches the switch processor
    gw.create("001010000000002", 2, 0x200);
    gw.advance(std::time::Duration::from_millis(500));
    let r = only(&gw.c(&create_request(3, &create_ies("001010000000003", 0x300))));
    assert_eq!((r.mtype, r.cause()), (17, Some(199)));
}

/// gtpc-7.3.2-unknown-apn: a Create PDP Context Request for an APN the gateway does not serve
/// (or without an APN, once the gateway names the APNs it serves) is refused with Missing or
/// unknown APN (219) and creates nothing; an APN served is accepted, in any case and with or
/// without its Operator Identifier.
#[test]
fn gtpc_7_3_2_unknown_apn() {
    // TS 29.060 7.3.2: "Missing or unknown APN" is one of the rejection causes the GGSN gives
    // in the Create PDP Context Response (Cause 219, 7.7.1), with only the Cause then (7.3.2:
    // "Only the Cause information element ... shall be included in the response if the Cause
    // contains another value than 'Request accepted'"); 7.7.30: the APN, TS 23.003 9.1: an APN
    // is a Network Identifier and an Operator Identifier (mnc<MNC>.mcc<MCC>.gprs), compared
    // case-insensitively.
    let mut gw = Gw::configured(|c| c.apns = vec!["internet".into(), "ims".into()]);
    let with_apn_of = |ies: &[u8], apn: &[u8]| {
        let at = ies.windows(3).position(|w| w == [131, 0, 9]).unwrap();
        let mut v = ies[..at].to_vec();
        if !apn.is_empty() {
            v.extend(tlv(131, apn));
        }
        v.extend(&ies[at + 12..]);
        v
    };
    let with_apn = |apn: &[u8]| with_apn_of(&create_ies(IMSI, SGSN_TEID), apn);
    let refused: [(&str, &[u8]); 3] = [
        ("unknown", b"\x03web"),
        ("served name as a prefix only", b"\x08internet\x03org"),
        ("no APN", b""),
    ];
    for (i, (name, apn)) in refused.iter().enumerate() {
        let r = only(&gw.c(&create_request(20 + i as u16, &with_apn(apn))));
        assert_eq!(
            (r.mtype, r.cause(), r.teid),
            (17, Some(219), SGSN_TEID),
            "{name}"
        );
        assert_eq!(r.types(), [1], "{name}: the Cause only");
    }
    assert_eq!(gw.procs.iter().map(|p| p.session_count()).sum::<usize>(), 0);
    let served: [&[u8]; 3] = [
        b"\x08internet",
        b"\x08INTERNET",
        b"\x03ims\x06mnc001\x06mcc001\x04gprs",
    ];
    for (i, apn) in served.iter().enumerate() {
        let ies = with_apn_of(&create_ies(&format!("00101012345670{i}"), SGSN_TEID), apn);
        let r = only(&gw.c(&create_request(30 + i as u16, &ies)));
        assert_eq!((r.mtype, r.cause()), (17, Some(128)), "{apn:?}");
    }
    // The default (no list): every APN is served.
    let mut gw = Gw::new();
    let r = only(&gw.c(&create_request(40, &with_apn(b"\x03web"))));
    assert_eq!((r.mtype, r.cause()), (17, Some(128)));
}

/// gtpc-7.3.2-unknown-pdp-type: a PDP type the gateway does not serve (PPP, organisation ETSI)
/// is refused with Unknown PDP address or PDP type (220).
#[test]
fn gtpc_7_3_2_unknown_pdp_type() {
    // TS 29.060 7.3.2 and 7.7.27 (organisation 0 = ETSI, type 1 = PPP).
    let mut gw = Gw::new();
    let (ies, at) = create_ies_and_eua();
    let mut ppp = ies.clone();
    ppp[at + 3..at + 5].copy_from_slice(&[0xf0, 0x01]);
    let r = only(&gw.c(&create_request(4, &ppp)));
    assert_eq!((r.mtype, r.cause()), (17, Some(220)));
}

/// gtpc-7.3.2-ipv4v6-network-preference: a request for IPv4v6 to a gateway serving IPv4 only is
/// accepted with New PDP type due to network preference (129) and an IPv4 address.
#[test]
fn gtpc_7_3_2_ipv4v6_network_preference() {
    // TS 29.060 7.3.2 and 7.7.27 (type 0x8D = IPv4v6); 7.7.1 cause 129.
    let mut gw = Gw::new();
    let (ies, at) = create_ies_and_eua();
    let mut v4v6 = ies.clone();
    v4v6[at + 4] = 0x8d;
    let r = only(&gw.c(&create_request(5, &v4v6)));
    assert_eq!((r.mtype, r.cause()), (17, Some(129)));
    let e = r.ie(128).expect("End User Address");
    assert_eq!((e[1], e.len()), (0x21, 6), "an IPv4 address");
}

/// gtpc-7.3.1-existing-context-replaced: a new Create PDP Context Request (new sequence number)
/// for an IMSI and NSAPI that already have a context replaces it: the new request is answered
/// for the new SGSN tunnel (header TEID = its TEID Control Plane).
#[test]
fn gtpc_7_3_1_existing_context_replaced() {
    // TS 29.060 7.3.1: "If the GGSN receives a Create PDP Context Request message for an
    // already active PDP context, this Create PDP Context Request message shall be considered
    // as related to a new session. The existing PDP context shall be torn down locally, and
    // the associated resources deleted before the new session is created." (Active: same
    // IMSI and NSAPI.) A retransmission (same SGSN, same sequence number, 7.6) is not a new
    // request: it gets the same response.
    let (mut gw, first) = with_session();
    let old = gw_teid_c(&first);
    let out = gw.c(&create_request(2, &create_ies(IMSI, 0x6600_0001)));
    let r = only(&out);
    assert_eq!((r.mtype, r.cause()), (17, Some(128)));
    assert_eq!(
        r.teid, 0x6600_0001,
        "answered on the new request's control TEID"
    );
    let new = gw_teid_c(&r);
    assert_ne!(new, old, "a new context");
    assert!(!gw.has_session(old), "the old context is torn down");
    assert!(gw.has_session(new));
    let held: usize = gw.procs.iter().map(|p| p.session_count()).sum();
    let copies: usize = gw.procs.iter().map(|p| p.shadow_count()).sum();
    assert_eq!((held, copies), (1, 1), "one context, one replicated copy");
    // The old context's TEID names nothing any more (7.3.4: Non-existent).
    let u = only(&gw.c(&msg(18, old, 3, &update_ies(SGSN_TEID))));
    assert_eq!((u.mtype, u.cause()), (19, Some(192)));
    // The new one is served.
    let u = only(&gw.c(&msg(18, new, 4, &update_ies(0x6600_0001))));
    assert_eq!((u.mtype, u.cause(), u.teid), (19, Some(128), 0x6600_0001));
    // The new request repeated (same SGSN, same sequence number): answered from the new
    // context, which stays.
    let again = only(&gw.c(&create_request(2, &create_ies(IMSI, 0x6600_0001))));
    assert_eq!((again.cause(), gw_teid_c(&again)), (Some(128), new));
    assert!(gw.has_session(new));
    assert_eq!(gw.procs.iter().map(|p| p.session_count()).sum::<usize>(), 1);
    // Wherever the gateway would place a new set-up (by load: the processor holding the
    // context is the busier one once the loads are reported), each new request replaces the
    // context held: one context for the subscriber at any time.
    let mut held = new;
    for seq in 5..12u16 {
        gw.advance(std::time::Duration::from_secs(1));
        let sgsn_teid = 0x6600_0000 + u32::from(seq);
        let r = only(&gw.c(&create_request(seq, &create_ies(IMSI, sgsn_teid))));
        assert_eq!((r.cause(), r.teid), (Some(128), sgsn_teid), "seq {seq}");
        assert!(
            !gw.has_session(held),
            "seq {seq}: the old context is torn down"
        );
        held = gw_teid_c(&r);
        let n: usize = gw.procs.iter().map(|p| p.session_count()).sum();
        assert_eq!(n, 1, "seq {seq}");
    }
}

/// gtpc-11.1.5-create-mandatory-missing: a Create PDP Context Request without one of its
/// mandatory elements (TEID Data I, NSAPI, SGSN Address for signalling, SGSN Address for user
/// traffic, QoS Profile) is refused with Mandatory IE missing (202) and creates nothing.
#[test]
fn gtpc_11_1_5_create_mandatory_missing() {
    // TS 29.060 11.1.5 with the presence column of 7.3.1 (table 5).
    let full = create_ies(IMSI, SGSN_TEID);
    // (name, offset, length) of each mandatory element in create_ies
    let parts: [(&str, &[u8]); 5] = [
        ("TEID Data I", &tv(16, &SGSN_TEID.to_be_bytes())),
        ("NSAPI", &tv(20, &[5])),
        ("QoS Profile", &tlv(135, &QOS)),
        ("SGSN Address for user traffic", &tlv(133, &SGSN)),
        (
            "both SGSN Addresses",
            &[tlv(133, &SGSN), tlv(133, &SGSN)].concat(),
        ),
    ];
    for (i, (name, part)) in parts.iter().enumerate() {
        let mut gw = Gw::new();
        let at = full
            .windows(part.len())
            .rposition(|w| w == &part[..])
            .unwrap();
        let mut ies = full.clone();
        ies.drain(at..at + part.len());
        let r = only(&gw.c(&create_request(10 + i as u16, &ies)));
        assert_eq!((r.mtype, r.cause()), (17, Some(202)), "without {name}");
        assert_eq!(gw.procs.iter().map(|p| p.session_count()).sum::<usize>(), 0);
    }
}

/// gtpc-11.1.7-create-mandatory-incorrect: a Create PDP Context Request whose QoS Profile is
/// too short to hold the allocation/retention priority and the TS 24.008 QoS octets is refused
/// with Mandatory IE incorrect (201).
#[test]
fn gtpc_11_1_7_create_mandatory_incorrect() {
    // TS 29.060 11.1.7; QoS Profile 7.7.34: one octet of allocation/retention priority, then at
    // least the three value octets of the TS 24.008 Quality of Service IE.
    let mut gw = Gw::new();
    let ies = create_ies(IMSI, SGSN_TEID);
    let qos = tlv(135, &QOS);
    let at = ies.windows(qos.len()).position(|w| *w == qos[..]).unwrap();
    let mut bad = ies[..at].to_vec();
    bad.extend(tlv(135, &[0x02]));
    let r = only(&gw.c(&create_request(6, &bad)));
    assert_eq!((r.mtype, r.cause()), (17, Some(201)));
    assert_eq!(gw.procs.iter().map(|p| p.session_count()).sum::<usize>(), 0);
}

/// gtpc-11.1.9-unknown-tlv-skipped: an element of unknown TLV type is skipped by its length and
/// the request served.
#[test]
fn gtpc_11_1_9_unknown_tlv_skipped() {
    // TS 29.060 11.1.9: unknown IEs are ignored; a TLV one is skipped using its Length.
    let mut gw = Gw::new();
    let mut ies = create_ies(IMSI, SGSN_TEID);
    ies.extend(tlv(238, &[1, 2, 3, 4, 5]));
    let r = only(&gw.c(&create_request(7, &ies)));
    assert_eq!((r.mtype, r.cause()), (17, Some(128)));
}

/// gtpc-11.1.11-unexpected-ie-ignored: an element GTP defines but this message should not carry
/// (a Cause in a request, a TLLI) is ignored and the request served.
#[test]
fn gtpc_11_1_11_unexpected_ie_ignored() {
    // TS 29.060 11.1.11: a defined IE that is not expected in the message is ignored.
    let mut gw = Gw::new();
    let ies = create_ies(IMSI, SGSN_TEID);
    let mut with = tv(1, &[128]);
    with.extend(&ies[..9]); // IMSI
    with.extend(tv(4, &[1, 2, 3, 4])); // TLLI
    with.extend(&ies[9..]);
    let r = only(&gw.c(&create_request(8, &with)));
    assert_eq!((r.mtype, r.cause()), (17, Some(128)));
}

/// gtpc-11.1.12-repeated-ie-first: of a repeated element that may appear once, the first is
/// used and the others ignored.
#[test]
fn gtpc_11_1_12_repeated_ie_first() {
    // TS 29.060 11.1.12: only the first instance of a non-repeatable IE is handled.
    let mut gw = Gw::new();
    let ies = create_ies(IMSI, SGSN_TEID);
    let at = ies
        .windows(5)
        .position(|w| *w == tv(17, &SGSN_TEID.to_be_bytes())[..])
        .unwrap();
    let mut rep = ies.clone();
    rep.splice(at + 5..at + 5, tv(17, &0x7777_7777u32.to_be_bytes()));
    let r = only(&gw.c(&create_request(9, &rep)));
    assert_eq!(
        (r.cause(), r.teid),
        (Some(128), SGSN_TEID),
        "the first TEID Control Plane"
    );
}

/// gtpc-11.1.13-incorrect-optional-ignored: an incorrect optional element (a malformed PCO) is
/// treated as absent and the request served.
#[test]
fn gtpc_11_1_13_incorrect_optional_ignored() {
    // TS 29.060 11.1.13 (and 11.1.8): incorrect optional IEs are treated as not present.
    let mut gw = Gw::new();
    let ies = create_ies(IMSI, SGSN_TEID);
    let at = ies.iter().position(|b| *b == 133).unwrap();
    let mut bad = ies.clone();
    bad.splice(at..at, tlv(132, &[0x7f, 0xff, 0xff])); // PCO: bad configuration protocol
    let r = only(&gw.c(&create_request(11, &bad)));
    assert_eq!((r.mtype, r.cause()), (17, Some(128)));
}

/// gtpc-11.1.2-length-inconsistent: a request whose Length field disagrees with the datagram is
/// answered with Invalid message format (193).
#[test]
fn gtpc_11_1_2_length_inconsistent() {
    // TS 29.060 11.1.2: "If a GTP entity receives a Request message within an IP/UDP packet of
    // a length that is inconsistent with the value specified in the Length field of the GTP
    // header, then the receiving GTP entity should log the error and shall send the Response
    // message with Cause IE value set to 'Invalid message format'." A Response of such a
    // length is silently discarded (same clause).
    let mut gw = Gw::new();
    let mut req = create_request(12, &create_ies(IMSI, SGSN_TEID));
    req.extend([0, 0, 0]); // three octets the Length field does not count
    let r = only(&gw.c(&req));
    assert_eq!((r.mtype, r.cause(), r.seq), (17, Some(193), Some(12)));
    assert_eq!(r.types(), [1], "the Cause only");
    // Length larger than the datagram: the same.
    let mut req = create_request(13, &create_ies(IMSI, SGSN_TEID));
    req.truncate(req.len() - 2);
    let r = only(&gw.c(&req));
    assert_eq!((r.mtype, r.cause(), r.seq), (17, Some(193), Some(13)));
    assert_eq!(gw.procs.iter().map(|p| p.session_count()).sum::<usize>(), 0);
    // An Update and a Delete for a held context: their responses, on the SGSN's control TEID.
    let (mut gw, c) = with_session();
    let t = gw_teid_c(&c);
    for (mtype, ies) in [(18u8, update_ies(SGSN_TEID)), (20, delete_ies())] {
        let mut req = msg(mtype, t, 40, &ies);
        req.push(0);
        let r = only(&gw.c(&req));
        assert_eq!(
            (r.mtype, r.cause(), r.teid),
            (mtype + 1, Some(193), SGSN_TEID)
        );
    }
    assert!(gw.has_session(t), "a refused Delete deletes nothing");
    // For a TEID no processor holds (answered by the line interface): TEID 0, the context
    // being unknown; 11.1.2 comes before the Non-existent answer (11.1: decreasing priority).
    let mut req = msg(18, 0xee00_0001, 41, &update_ies(SGSN_TEID));
    req.push(0);
    let r = only(&gw.c(&req));
    assert_eq!((r.mtype, r.cause(), r.teid), (19, Some(193), 0));
    // A Response of an inconsistent length is not answered.
    let mut resp = msg(17, 0, 14, &tv(1, &[128]));
    resp.push(0);
    assert!(gw.c(&resp).is_empty());
}

// ------------------------------------------------------------------ 7.3.3 - 7.3.7

/// gtpc-7.3.4-update-accepted: an Update PDP Context Request for a context the gateway holds is
/// accepted: Cause 128, the gateway's TEIDs and addresses, on the SGSN's control TEID.
#[test]
fn gtpc_7_3_4_update_accepted() {
    // TS 29.060 7.3.3 / 7.3.4: the response carries Cause, TEID Data I, TEID Control Plane,
    // Charging ID, GGSN addresses and the QoS Profile when accepted.
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    let u = only(&gw.c(&msg(18, t, 2, &update_ies(SGSN_TEID))));
    assert_eq!((u.mtype, u.cause(), u.teid), (19, Some(128), SGSN_TEID));
    assert_eq!(u.u32_ie(17), Some(t));
    assert_eq!(u.u32_ie(16), r.u32_ie(16));
    assert_eq!(u.gsn_addresses().len(), 2);
    assert_eq!(u.ie(135), Some(&QOS[..]));
}

/// gtpc-7.3.3-update-new-sgsn-tunnel: after an Update naming new SGSN TEIDs, the gateway sends
/// to them (the next response's header TEID is the new TEID Control Plane).
#[test]
fn gtpc_7_3_3_update_new_sgsn_tunnel() {
    // TS 29.060 7.3.3: the SGSN's TEIDs and addresses in the request replace the context's.
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    let u = only(&gw.c(&msg(18, t, 2, &update_ies(0x6600_0002))));
    assert_eq!(
        u.teid, 0x6600_0002,
        "the response goes to the new control TEID"
    );
    let d = only(&gw.c(&msg(20, t, 3, &delete_ies())));
    assert_eq!((d.cause(), d.teid), (Some(128), 0x6600_0002));
}

/// gtpc-7.3.4-non-existent: an Update for a context the gateway does not hold is answered with
/// Cause Non-existent (192), header TEID 0, the request's sequence number; for a TEID whose VID
/// no processor holds and for one a processor holds but whose session it does not.
#[test]
fn gtpc_7_3_4_non_existent() {
    // TS 29.060 7.3.4 and 7.7.1: Non-existent; the TEID is 0 since the peer's control TEID is
    // unknown without the context (section 6).
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    let unknown_vid = 0xee00_0001;
    let unknown_local = (t & 0xffff_0000) | 0xfff0;
    for (seq, teid) in [(30u16, unknown_vid), (31, unknown_local)] {
        let u = only(&gw.c(&msg(18, teid, seq, &update_ies(SGSN_TEID))));
        assert_eq!(
            (u.mtype, u.cause(), u.teid, u.seq),
            (19, Some(192), 0, Some(seq)),
            "{teid:#x}"
        );
        assert_eq!(u.types(), [1], "only the Cause");
    }
}

/// gtpc-11.1.5-update-mandatory-missing: an Update PDP Context Request without a mandatory
/// element (NSAPI, TEID Data I, SGSN addresses, QoS Profile) is refused with Mandatory IE
/// missing (202) and the context left as it was.
#[test]
fn gtpc_11_1_5_update_mandatory_missing() {
    // TS 29.060 11.1.5 with the presence column of 7.3.3 (table 7).
    let full = update_ies(0x6600_0003);
    let parts: [(&str, Vec<u8>); 3] = [
        ("NSAPI", tv(20, &[5])),
        ("TEID Data I", tv(16, &0x6600_0003u32.to_be_bytes())),
        ("QoS Profile", tlv(135, &QOS)),
    ];
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    for (i, (name, part)) in parts.iter().enumerate() {
        let at = full
            .windows(part.len())
            .position(|w| w == &part[..])
            .unwrap();
        let mut ies = full.clone();
        ies.drain(at..at + part.len());
        let u = only(&gw.c(&msg(18, t, 40 + i as u16, &ies)));
        assert_eq!((u.mtype, u.cause()), (19, Some(202)), "without {name}");
    }
    // the context still answers on the SGSN's first control TEID
    let d = only(&gw.c(&msg(20, t, 50, &delete_ies())));
    assert_eq!((d.cause(), d.teid), (Some(128), SGSN_TEID));
}

/// gtpc-7.3.6-delete-accepted: a Delete PDP Context Request for a held context is accepted and
/// the context is gone afterwards.
#[test]
fn gtpc_7_3_6_delete_accepted() {
    // TS 29.060 7.3.5 / 7.3.6: the GGSN deletes the context and answers Request accepted.
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    let d = only(&gw.c(&msg(20, t, 2, &delete_ies())));
    assert_eq!((d.mtype, d.cause(), d.teid), (21, Some(128), SGSN_TEID));
    assert!(!gw.has_session(t));
    let u = only(&gw.c(&msg(18, t, 3, &update_ies(SGSN_TEID))));
    assert_eq!(u.cause(), Some(192), "no context any more");
}

/// gtpc-7.3.6-non-existent: a Delete for a context the gateway does not hold is answered with
/// Non-existent (192), header TEID 0.
#[test]
fn gtpc_7_3_6_non_existent() {
    // TS 29.060 7.3.6 and 7.7.1.
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    for (seq, teid) in [(60u16, 0xee00_0002u32), (61, (t & 0xffff_0000) | 0xfff1)] {
        let d = only(&gw.c(&msg(20, teid, seq, &delete_ies())));
        assert_eq!(
            (d.mtype, d.cause(), d.teid, d.seq),
            (21, Some(192), 0, Some(seq))
        );
    }
}

/// gtpc-11.1.5-delete-mandatory-missing: a Delete PDP Context Request without its NSAPI is
/// refused with Mandatory IE missing (202) and the context kept.
#[test]
fn gtpc_11_1_5_delete_mandatory_missing() {
    // TS 29.060 11.1.5; NSAPI is mandatory in 7.3.5 (table 9).
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    let d = only(&gw.c(&msg(20, t, 2, &tv(19, &[1]))));
    assert_eq!((d.mtype, d.cause()), (21, Some(202)));
    assert!(gw.has_session(t));
}

/// gtpc-7.3.7-error-indication-deletes: an Error Indication from the SGSN naming the user-plane
/// tunnel of a context makes the gateway delete that context.
#[test]
fn gtpc_7_3_7_error_indication_deletes() {
    // TS 29.060 7.3.7: the GGSN receiving an Error Indication deletes the PDP context (TS
    // 29.281 7.3.1 gives the message: TEID Data I and GTP-U Peer Address name the tunnel).
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    let mut ies = tv(16, &SGSN_TEID.to_be_bytes());
    ies.extend(tlv(133, &SGSN));
    assert!(
        gw.u(&msg(26, 0, 0, &ies)).is_empty(),
        "an Error Indication is not answered"
    );
    assert!(!gw.has_session(t));
}

// ------------------------------------------------------------------ 7.6 reliable delivery

/// gtpc-7.6-response-sequence: every response carries the sequence number of its request.
#[test]
fn gtpc_7_6_response_sequence() {
    // TS 29.060 7.6 (and section 6): a response is matched to its request by the sequence
    // number, copied from the request.
    let mut gw = Gw::new();
    let c = gw.create(IMSI, 0x1234, SGSN_TEID);
    assert_eq!(c.seq, Some(0x1234));
    let t = gw_teid_c(&c);
    assert_eq!(only(&gw.c(&echo_request(0xfffe))).seq, Some(0xfffe));
    assert_eq!(
        only(&gw.c(&msg(18, t, 0x0042, &update_ies(SGSN_TEID)))).seq,
        Some(0x0042)
    );
    assert_eq!(
        only(&gw.c(&msg(20, t, 0x8000, &delete_ies()))).seq,
        Some(0x8000)
    );
}

/// gtpc-7.6-duplicate-create: a retransmitted Create PDP Context Request (same sequence number)
/// is answered with the same response, and no second context is made.
#[test]
fn gtpc_7_6_duplicate_create() {
    // TS 29.060 7.6: a duplicate request is not processed again; its response is sent again.
    let mut gw = Gw::new();
    let req = create_request(5, &create_ies(IMSI, SGSN_TEID));
    let a = only(&gw.c(&req));
    let b = only(&gw.c(&req));
    assert_eq!(a, b);
    assert_eq!(gw.procs.iter().map(|p| p.session_count()).sum::<usize>(), 1);
}

/// gtpc-7.6-duplicate-delete: a retransmitted Delete PDP Context Request (its response lost) is
/// answered with the same acceptance, not with Non-existent.
#[test]
fn gtpc_7_6_duplicate_delete() {
    // TS 29.060 7.6: the answer to a duplicate is the answer already given.
    let (mut gw, r) = with_session();
    let req = msg(20, gw_teid_c(&r), 9, &delete_ies());
    let a = only(&gw.c(&req));
    let b = only(&gw.c(&req));
    assert_eq!(a.cause(), Some(128));
    assert_eq!(a, b);
}

// ------------------------------------------------------------------ 7.7 information elements

/// gtpc-7.7-ascending-order: the elements of every message the gateway sends are in ascending
/// type order.
#[test]
fn gtpc_7_7_ascending_order() {
    // TS 29.060 7.7: IEs are sorted with their Type fields in ascending order.
    let (mut gw, r) = with_session();
    let t = gw_teid_c(&r);
    let e = only(&gw.c(&echo_request(2)));
    let u = only(&gw.c(&msg(18, t, 3, &update_ies(SGSN_TEID))));
    let d = only(&gw.c(&msg(20, t, 4, &delete_ies())));
    let n = only(&gw.c(&msg(20, t, 5, &delete_ies())));
    for m in [r, e, u, d, n] {
        let ty = m.types();
        assert!(
            ty.windows(2).all(|w| w[0] <= w[1]),
            "type {}: {ty:?}",
            m.mtype
        );
    }
}

/// gtpc-7.7-tv-tlv-format: TV elements (type below 128) are sent with their fixed length and no
/// length field; TLV elements with a two-octet length that counts the value.
#[test]
fn gtpc_7_7_tv_tlv_format() {
    // TS 29.060 7.7 (figures 7.7-1/2; fixed lengths from the IE clauses: Cause 1, Reordering
    // Required 1, Recovery 1, TEID Data I 4, TEID Control Plane 4, Charging ID 4). The
    // support decoder walks the message by those lengths and must land on its end; checked
    // here on the exact bytes of the first elements too.
    let (mut gw, _) = with_session();
    let out = gw.c(&create_request(1, &create_ies(IMSI, SGSN_TEID)));
    let b = &out[0].payload;
    assert_eq!(&b[12..18], [1, 128, 8, b[15], 14, RECOVERY]);
    assert_eq!(b[18], 16);
    assert_eq!(b[23], 17);
    assert_eq!(b[28], 127);
    assert_eq!(&b[33..36], [128, 0, 6], "EUA: type, two-octet length 6");
}

/// gtpc-7.7.32-gsn-address-length: the GSN Address elements the gateway sends are 4 octets for
/// IPv4 (16 for IPv6).
#[test]
fn gtpc_7_7_32_gsn_address_length() {
    // TS 29.060 7.7.32: the length is 4 (IPv4) or 16 (IPv6).
    let (_, r) = with_session();
    for (t, v) in &r.ies {
        if *t == 133 {
            assert_eq!(v.len(), 4);
        }
    }
}

// ------------------------------------------------------------------ 10.1 path protocol

/// gtpc-10.1-response-addresses: a response goes to the source address and port of its
/// request, from the address and port the request was sent to.
#[test]
fn gtpc_10_1_response_addresses() {
    // TS 29.060 10.1.1.2 / 10.1.2.2: UDP destination port = the request's source port, UDP
    // source port = the request's destination port; IP addresses likewise.
    let mut gw = Gw::new();
    let peer = sa(SGSN, 40_000);
    let out = gw.send(peer, gw_c(), &echo_request(8));
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].dst, out[0].src), (peer, Some(gw_c())));
    let out = gw.send(
        peer,
        gw_c(),
        &create_request(9, &create_ies(IMSI, SGSN_TEID)),
    );
    assert_eq!((out[0].dst, out[0].src), (peer, Some(gw_c())));
}
