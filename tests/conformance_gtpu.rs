//! TS 29.281 (GTPv1-U) conformance of the gateway, statement by statement: each test carries the
//! id of its row in `conformance/ts29281.toml`, drives the gateway (line interface, switch
//! processor, processors) with hand-built bytes as a peer's user plane would, and checks the
//! answer on the wire against the clause it cites.

mod common;

use common::gtp::*;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

const IMSI: &str = "001010123456789";
const SGSN_TEID: u32 = 0x5500_0001;

/// A gateway with one session; returns it and the gateway's data TEID.
fn with_session() -> (Gw, u32) {
    let mut gw = Gw::new();
    let r = gw.create(IMSI, 1, SGSN_TEID);
    (gw, r.u32_ie(16).expect("TEID Data I"))
}

/// A TEID whose VID no processor holds.
const NO_VID: u32 = 0xee00_0005;

fn echo(seq: u16) -> Vec<u8> {
    msg(1, 0, seq, &[])
}

// ------------------------------------------------------------------ 5.1 header

/// gtpu-5.1-header-version: GTP-U messages the gateway sends (Echo Response, Error Indication)
/// have version 1 and PT 1.
#[test]
fn gtpu_5_1_header_version() {
    // TS 29.281 5.1: version 1, protocol type 1 (GTP).
    let mut gw = Gw::new();
    let e = only(&gw.u(&echo(1)));
    let i = only(&gw.u(&g_pdu(NO_VID, &t_pdu())));
    for m in [e, i] {
        assert_eq!((m.version(), m.flags & 0x10), (1, 0x10));
    }
}

/// gtpu-5.1-s-flag-signalling: Echo Response and Error Indication are sent with the S flag set.
#[test]
fn gtpu_5_1_s_flag_signalling() {
    // TS 29.281 5.1: for Echo Request/Response, Error Indication and Supported Extension
    // Headers Notification the S flag is 1.
    let mut gw = Gw::new();
    let e = only(&gw.u(&echo(2)));
    let i = only(&gw.u(&g_pdu(NO_VID, &t_pdu())));
    assert_eq!((e.mtype, e.flags & 0x02), (2, 0x02));
    assert_eq!((i.mtype, i.flags & 0x02), (26, 0x02));
    let (mut gw, teid) = with_session();
    let n = only(&gw.u(&msg_ext(255, teid, 9, 0xc5, [0x01, 0xaa], &t_pdu())));
    assert_eq!((n.mtype, n.flags & 0x02, n.teid), (31, 0x02, 0));
}

/// gtpu-5.1-teid-zero-echo: the Echo Response's TEID is 0.
#[test]
fn gtpu_5_1_teid_zero_echo() {
    // TS 29.281 5.1: the TEID is all zeros in Echo Request/Response and Supported Extension
    // Headers Notification.
    let mut gw = Gw::new();
    assert_eq!(only(&gw.u(&echo(3))).teid, 0);
}

/// gtpu-5.1-length: the Length field counts the octets after the 8-octet mandatory header.
#[test]
fn gtpu_5_1_length() {
    // TS 29.281 5.1: the optional fields and extension headers are part of the payload length.
    let mut gw = Gw::new();
    let out = gw.send(sa(SGSN, 40_001), gw_u(), &g_pdu(NO_VID, &t_pdu()));
    let b = &out[0].payload;
    assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len() - 8);
    assert!(b[0] & 0x04 != 0, "with an extension header (UDP Port)");
}

/// gtpu-5.1-teid-names-tunnel: a G-PDU whose TEID is one the gateway allocated is taken as the
/// user data of that tunnel.
#[test]
fn gtpu_5_1_teid_names_tunnel() {
    // TS 29.281 5.1: the TEID identifies the tunnel endpoint in the receiving GTP-U entity.
    let (mut gw, teid) = with_session();
    let before = gw.user_packets();
    assert!(gw.u(&g_pdu(teid, &t_pdu())).is_empty());
    assert_eq!(gw.user_packets(), before + 1);
}

/// gtpu-5.1-optional-fields: a G-PDU with the S or PN flag set (sequence number, N-PDU number)
/// is delivered like one without; the fields whose flag is clear are not evaluated.
#[test]
fn gtpu_5_1_optional_fields() {
    // TS 29.281 5.1: the optional fields are present when any of E, S, PN is set; a field whose
    // flag is clear is ignored. Sequence numbers on G-PDUs are optional (no reordering asked).
    let (mut gw, teid) = with_session();
    let before = gw.user_packets();
    let p = t_pdu();
    let mut s = msg(255, teid, 4000, &p);
    s[10] = 0x55; // N-PDU number, PN clear
    let mut pn = s.clone();
    pn[0] = 0x31; // PN only: sequence number present but not evaluated
    let mut spare = g_pdu(teid, &p);
    spare[0] |= 0x08; // spare bit
    let mut next = msg(255, teid, 4001, &p);
    next[11] = 0xc5; // a Next Extension Header Type with E clear: not evaluated
    for b in [s, pn, spare, next] {
        assert!(gw.u(&b).is_empty());
    }
    assert_eq!(gw.user_packets(), before + 4);
}

// ------------------------------------------------------------------ 5.2 extension headers

/// gtpu-5.2.1-ext-skipped: a G-PDU with extension headers whose types need no comprehension
/// (high bits 00 or 01) is delivered, the headers skipped by their length.
#[test]
fn gtpu_5_2_1_ext_skipped() {
    // TS 29.281 5.2.1: the length octet counts 4-octet units (length, content, next type); types
    // 00xxxxxx/01xxxxxx may be skipped by a receiver that does not know them.
    let (mut gw, teid) = with_session();
    let before = gw.user_packets();
    for ext in [0x03u8, 0x45] {
        let b = msg_ext(255, teid, 0, ext, [0xde, 0xad], &t_pdu());
        assert!(gw.u(&b).is_empty(), "type {ext:#x}");
    }
    assert_eq!(gw.user_packets(), before + 2);
}

/// gtpu-5.2.1-ext-required-unknown: a G-PDU with an extension header the gateway does not
/// support and whose type requires comprehension (high bits 1x) is not delivered, and the
/// sender gets a Supported Extension Headers Notification (TS 29.281 7.3.2? 7.2.3) carrying the
/// Extension Header Type List (8.5) of the types the gateway supports.
#[test]
fn gtpu_5_2_1_ext_required_unknown() {
    // TS 29.281 5.2.1 (bits 7-8 of the type: 10/11 comprehension required by the endpoint),
    // 7.2.3 (Supported Extension Headers Notification, type 31, TEID 0), 8.5.
    let (mut gw, teid) = with_session();
    let before = gw.user_packets();
    let out = gw.u(&msg_ext(255, teid, 0, 0xc5, [0x01, 0xaa], &t_pdu()));
    assert_eq!(gw.user_packets(), before, "not delivered");
    let n = only(&out);
    assert_eq!((n.mtype, n.teid), (31, 0));
    assert!(
        !n.ie(141)
            .expect("Extension Header Type List")
            .contains(&0xc5)
    );
}

/// gtpu-5.2.2.1-udp-port: the Error Indication for a G-PDU that came from a UDP port other than
/// 2152 carries that port in a UDP Port extension header (type 0x40, one unit, two octets).
#[test]
fn gtpu_5_2_2_1_udp_port() {
    // TS 29.281 5.2.2.1: the UDP Port extension header may be sent in an Error Indication with
    // the UDP source port of the G-PDU that triggered it.
    let mut gw = Gw::new();
    let out = gw.send(sa(SGSN, 40_002), gw_u(), &g_pdu(NO_VID, &t_pdu()));
    let i = only(&out);
    assert_eq!(i.exts, [(0x40, 40_002u16.to_be_bytes().to_vec())]);
    let b = &out[0].payload;
    assert_eq!(
        &b[11..16],
        [0x40, 1, 0x9c, 0x42, 0],
        "next type, length 1, port, next 0"
    );
}

// ------------------------------------------------------------------ 6 / 7.1 messages

/// gtpu-6-unknown-type: a GTP-U message of a type not defined is discarded silently.
#[test]
fn gtpu_6_unknown_type() {
    // TS 29.281 6.1 (message types) with TS 29.060 11.1.3, which TS 29.281 applies: an unknown
    // message type is silently discarded.
    let (mut gw, teid) = with_session();
    assert!(gw.u(&msg(50, 0, 1, &[])).is_empty());
    assert!(gw.u(&msg(50, teid, 2, &[])).is_empty());
}

// ------------------------------------------------------------------ 7.2 path management

/// gtpu-7.2.1-echo-answered: an Echo Request on the GTP-U port is answered with an Echo Response
/// carrying the request's sequence number.
#[test]
fn gtpu_7_2_1_echo_answered() {
    // TS 29.281 7.2.1 / 7.2.2: a GTP-U entity answers an Echo Request at any time; the
    // response's sequence number is the request's (5.1).
    let (mut gw, _) = with_session();
    let e = only(&gw.u(&echo(0x4242)));
    assert_eq!((e.mtype, e.seq), (2, Some(0x4242)));
}

/// gtpu-7.2.2-recovery-zero: the Recovery IE of a GTP-U Echo Response holds 0.
#[test]
fn gtpu_7_2_2_recovery_zero() {
    // TS 29.281 7.2.2 and 8.2: the restart counter is not used on GTP-U; the sender sets it 0
    // (the gateway's GTP-C restart counter is RECOVERY, non-zero).
    let mut gw = Gw::new();
    let e = only(&gw.u(&echo(5)));
    assert_eq!(e.ie(14), Some(&[0u8][..]));
}

/// gtpu-7.2.1-private-extension: an Echo Request carrying a Private Extension is answered.
#[test]
fn gtpu_7_2_1_private_extension() {
    // TS 29.281 7.2.1 (Private Extension optional) and 8.6.
    let mut gw = Gw::new();
    let e = only(&gw.u(&msg(1, 0, 6, &tlv(255, &[0, 9, 0xab]))));
    assert_eq!((e.mtype, e.seq), (2, Some(6)));
}

/// gtpu-4.4-echo-ports: the Echo Response goes back to the request's source address and port
/// from the address and port the request was sent to.
#[test]
fn gtpu_4_4_echo_ports() {
    // TS 29.281 4.4.2.2: UDP destination port of the Echo Response = the request's source port;
    // source port = the request's destination port (2152).
    let mut gw = Gw::new();
    let peer = sa(SGSN, 50_000);
    let out = gw.send(peer, gw_u(), &echo(7));
    assert_eq!((out[0].dst, out[0].src), (peer, Some(gw_u())));
}

// ------------------------------------------------------------------ 7.3.1 Error Indication

/// gtpu-7.3.1-error-indication-sent: a G-PDU for a TEID with no context is discarded and an
/// Error Indication goes back to its sender; for a TEID whose VID no processor holds (answered
/// by the line interface) and one a processor holds without such a session (the processor).
#[test]
fn gtpu_7_3_1_error_indication_sent() {
    // TS 29.281 7.3.1: the receiver of a G-PDU with no tunnel context discards it and returns
    // an Error Indication to the originating node.
    let (mut gw, teid) = with_session();
    let before = gw.user_packets();
    for bad in [NO_VID, (teid & 0xffff_0000) | 0xfff3] {
        let i = only(&gw.u(&g_pdu(bad, &t_pdu())));
        assert_eq!(i.mtype, 26, "{bad:#x}");
    }
    assert_eq!(gw.user_packets(), before);
}

/// gtpu-7.3.1-teid-data-i: the Error Indication's TEID Data I is the TEID of the G-PDU that
/// triggered it.
#[test]
fn gtpu_7_3_1_teid_data_i() {
    // TS 29.281 7.3.1 and 8.3 (TV, type 16, four octets).
    let (mut gw, teid) = with_session();
    for bad in [NO_VID, (teid & 0xffff_0000) | 0xfff4] {
        let i = only(&gw.u(&g_pdu(bad, &t_pdu())));
        assert_eq!(i.u32_ie(16), Some(bad));
    }
}

/// gtpu-7.3.1-peer-address: the Error Indication's GTP-U Peer Address is the destination
/// address of the G-PDU that triggered it: IPv4 in 4 octets, IPv6 in 16.
#[test]
fn gtpu_7_3_1_peer_address() {
    // TS 29.281 7.3.1 and 8.4 (type 133, length 4 or 16).
    let mut gw = Gw::new();
    let i = only(&gw.u(&g_pdu(NO_VID, &t_pdu())));
    assert_eq!(i.gsn_addresses(), [IpAddr::from(GW)]);
    let v6_gw = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        2152,
    );
    let v6_peer = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
        2152,
    );
    let out = gw.send(v6_peer, v6_gw, &g_pdu(NO_VID, &t_pdu()));
    let i = only(&out);
    assert_eq!(i.gsn_addresses(), [v6_gw.ip()]);
    assert_eq!(i.ie(133).map(<[u8]>::len), Some(16));
    assert_eq!(out[0].dst, v6_peer);
}

/// gtpu-4.4-error-indication-port: the Error Indication goes to the G-PDU's source IP address
/// on UDP port 2152, from the address the G-PDU was sent to.
#[test]
fn gtpu_4_4_error_indication_port() {
    // TS 29.281 4.4.2.3: the Error Indication's UDP destination port is 2152 (the source port
    // of the G-PDU, if other, travels in the UDP Port extension header, 5.2.2.1).
    let mut gw = Gw::new();
    let out = gw.send(sa(SGSN, 40_003), gw_u(), &g_pdu(NO_VID, &t_pdu()));
    assert_eq!((out[0].dst, out[0].src), (sgsn_u(), Some(gw_u())));
}

/// gtpu-7.3.1-ie-order: the Error Indication's elements are TEID Data I then GTP-U Peer Address
/// (ascending type order), nothing else.
#[test]
fn gtpu_7_3_1_ie_order() {
    // TS 29.281 7.3.1 (table 7.3.1-1) and 8.1 (IEs in ascending type order).
    let mut gw = Gw::new();
    let i = only(&gw.u(&g_pdu(NO_VID, &t_pdu())));
    assert_eq!(i.types(), [16, 133]);
}

/// gtpu-7.3.1-not-answered: an Error Indication the gateway receives is never answered with
/// another Error Indication, even when it names nothing the gateway holds.
#[test]
fn gtpu_7_3_1_not_answered() {
    // TS 29.281 7.3.1 with TS 29.060 11.1: an Error Indication counts as a response; it is not
    // answered.
    let mut gw = Gw::new();
    let mut ies = tv(16, &0x1234_5678u32.to_be_bytes());
    ies.extend(tlv(133, &SGSN));
    assert!(gw.u(&msg(26, 0, 0, &ies)).is_empty());
    assert!(gw.u(&msg(26, NO_VID, 0, &ies)).is_empty());
}

/// gtpu-7.3.1-error-indication-received: an Error Indication naming a context's user-plane
/// tunnel (TEID Data I and GTP-U Peer Address of the peer) removes that context; one naming
/// another tunnel removes nothing.
#[test]
fn gtpu_7_3_1_error_indication_received() {
    // TS 29.281 7.3.1 (the receiving node deletes the bearer/context; TS 29.060 7.3.7 for the
    // GGSN).
    let (mut gw, teid) = with_session();
    let mut other = tv(16, &0x0bad_0001u32.to_be_bytes());
    other.extend(tlv(133, &SGSN));
    assert!(gw.u(&msg(26, 0, 0, &other)).is_empty());
    assert!(gw.has_session(teid), "another tunnel: kept");
    let mut ies = tv(16, &SGSN_TEID.to_be_bytes());
    ies.extend(tlv(133, &SGSN));
    assert!(gw.u(&msg(26, 0, 0, &ies)).is_empty());
    assert!(!gw.has_session(teid));
}

/// gtpu-8.1-tv-tlv: the Error Indication's elements are encoded TV (TEID Data I: type 16, four
/// octets, no length) and TLV (GTP-U Peer Address: type 133, two-octet length).
#[test]
fn gtpu_8_1_tv_tlv() {
    // TS 29.281 8.1 (types below 128 are TV, others TLV), 8.3, 8.4.
    let mut gw = Gw::new();
    let out = gw.u(&g_pdu(NO_VID, &t_pdu()));
    let b = &out[0].payload;
    assert_eq!(
        b[0] & 0x07,
        0x02,
        "S only: 4 optional octets, no extension header"
    );
    let mut want = vec![16];
    want.extend(NO_VID.to_be_bytes());
    want.extend([133, 0, 4]);
    want.extend(GW);
    assert_eq!(&b[12..], &want[..]);
}

// ------------------------------------------------------------------ 4.4 / 6 the GTP-U port

/// gtpu-6-gtp-c-on-u-port: GTP-C requests (Create, Update, Delete PDP Context) sent to the GTP-U
/// port are not GTP-U messages: they are discarded unanswered, create no session and delete
/// none.
#[test]
fn gtpu_6_gtp_c_on_u_port() {
    // TS 29.281 4.4.2 (the GTP-U port 2152 carries GTP-U) and 6.1 (table 6.1-1: the GTP-U
    // message types are Echo Request/Response, Error Indication, Supported Extension Headers
    // Notification, Tunnel Status, End Marker and G-PDU); any other type there is an unknown
    // message, silently discarded (TS 29.060 11.1.3 as TS 29.281 applies it).
    let mut gw = Gw::new();
    let out = gw.u(&create_request(
        7,
        &create_ies("001010123456780", 0x6600_0001),
    ));
    assert!(
        out.is_empty(),
        "a Create PDP Context Request on 2152: {out:?}"
    );
    let (mut gw, teid) = with_session();
    let r = gw.create("001010123456781", 2, 0x7700_0001);
    let (data, control) = (r.u32_ie(16).unwrap(), r.u32_ie(17).unwrap());
    assert!(
        gw.u(&msg(18, control, 9, &update_ies(0x7700_0002)))
            .is_empty()
    );
    assert!(gw.u(&msg(20, control, 10, &delete_ies())).is_empty());
    assert!(
        gw.has_session(data),
        "a Delete PDP Context Request on 2152 deletes nothing"
    );
    assert!(gw.has_session(teid));
    // The same requests on the GTP-C port are served.
    let d = only(&gw.c(&msg(20, control, 11, &delete_ies())));
    assert_eq!((d.mtype, d.cause()), (21, Some(128)));
    assert!(!gw.has_session(data));
}

/// gtpu-7.3.1-teid-zero-no-error-indication: a G-PDU with TEID 0 is discarded without an Error
/// Indication.
#[test]
fn gtpu_7_3_1_teid_zero_no_error_indication() {
    // TS 29.281 7.3.1: a G-PDU for which no context exists is discarded; only if its TEID is
    // not all zeros does the receiver also return an Error Indication.
    let (mut gw, _) = with_session();
    let before = gw.user_packets();
    assert!(gw.u(&g_pdu(0, &t_pdu())).is_empty());
    assert_eq!(gw.user_packets(), before);
}

/// gtpu-5.2.1-ext-required-any-message: an Echo Request carrying an extension header the
/// gateway must comprehend and does not support is not answered with an Echo Response but with
/// a Supported Extension Headers Notification (S flag, TEID 0, the request's sequence number).
#[test]
fn gtpu_5_2_1_ext_required_any_message() {
    // TS 29.281 5.2.1: a receiver that meets an unsupported extension header type whose high
    // bits say comprehension is required (1x) discards the message and sends a Supported
    // Extension Headers Notification; 5.1: that notification has the S flag set and TEID 0.
    let mut gw = Gw::new();
    let out = gw.u(&msg_ext(1, 0, 0x0203, 0xc5, [0x01, 0xaa], &[]));
    let n = only(&out);
    assert_eq!((n.mtype, n.teid, n.flags & 0x02), (31, 0, 0x02));
    assert_eq!(n.seq, Some(0x0203));
}

/// gtpu-5.1-echo-nonzero-teid-answered: an Echo Request on the GTP-U port with a non-zero TEID
/// (one naming a live session's processor, one naming no processor) is answered as one with
/// TEID 0: an Echo Response with TEID 0, the request's sequence number and Recovery 0.
#[test]
fn gtpu_5_1_echo_nonzero_teid_answered() {
    // TS 29.281 5.1: Echo Request/Response are sent with TEID 0 (path management, not a
    // tunnel's); the text says nothing of a receiver's handling of another TEID. 7.2.1: a
    // GTP-U entity answers an Echo Request. Like open5gs (which answers by message type before
    // any TEID lookup), the gateway answers it wherever its TEID points.
    let (mut gw, teid) = with_session();
    for (t, seq) in [(teid, 0x0101), (NO_VID, 0x0202)] {
        let e = only(&gw.u(&msg(1, t, seq, &[])));
        assert_eq!((e.mtype, e.teid, e.seq), (2, 0, Some(seq)), "TEID {t:#x}");
    }
}
