//! An independent black-box reading of the 3GPP procedures the steering roles speak (session
//! 56): TS 29.274 (GTPv2-C, the SGW side of S11), TS 29.244 (PFCP, the UP function side of N4),
//! TS 29.060 (GTPv1-C, the GGSN side of Gn/Gp) and TS 29.281 (GTP-U). Each test sends bytes built
//! here to the gateway (line interface, switch processor and two processors on a lossless fabric,
//! `tests/common/gtp.rs`) as a peer would, and reads what leaves it with this file's own reading
//! of the headers and IE layouts, asserting what the specification says (quoted, or closely
//! paraphrased where marked).

mod common;

use common::gtp::{GW, Gw, SGSN, gw_c, gw_u, layout, pfcp_ie as p_ie, sgsn_c, sgsn_u, smf, upf};
use telcp::Transmit;

/// IMSI 001011023456789 in TBCD (section 8.3: digits in nibbles, low nibble first).
const IMSI: [u8; 8] = [0x00, 0x01, 0x01, 0x32, 0x54, 0x76, 0x98, 0xf0];
const MME_TEID: u32 = 0x0a0b_0c0d;
const ENB_TEID: u32 = 0x1122_3344;
const CP_SEID: u64 = 0xfeed_0000_0000_0001;

// ==================================================================== GTPv2-C (TS 29.274)

/// A GTPv2 IE (section 8.2.1): type, two-octet length, spare nibble and instance, value.
fn v2_ie(t: u8, instance: u8, v: &[u8]) -> Vec<u8> {
    let mut b = vec![t];
    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
    b.push(instance);
    b.extend_from_slice(v);
    b
}

/// A GTPv2-C message (section 5.1): version 2 in the top three bits, T set when a TEID is given,
/// type, Length (everything after the first four octets), TEID, 24-bit sequence, spare octet.
fn v2_msg(t: u8, teid: Option<u32>, seq: u32, ies: &[u8]) -> Vec<u8> {
    let mut b = vec![if teid.is_some() { 0x48 } else { 0x40 }, t];
    let len = 4 + ies.len() + if teid.is_some() { 4 } else { 0 };
    b.extend_from_slice(&(len as u16).to_be_bytes());
    if let Some(teid) = teid {
        b.extend_from_slice(&teid.to_be_bytes());
    }
    b.extend_from_slice(&seq.to_be_bytes()[1..]);
    b.push(0);
    b.extend_from_slice(ies);
    b
}

/// An IPv4 F-TEID value (section 8.22): V4 flag, interface type, TEID, address.
fn fteid_v(interface: u8, teid: u32) -> Vec<u8> {
    let mut v = vec![0x80 | interface];
    v.extend_from_slice(&teid.to_be_bytes());
    v.extend_from_slice(&SGSN);
    v
}

/// Which IEs a Create Session Request built by [`csr_ies`] carries.
#[derive(Clone, Copy)]
struct Csr {
    sender_fteid: bool,
    bearer: bool,
    ebi: u8,
    imsi: [u8; 8],
}

const CSR: Csr = Csr {
    sender_fteid: true,
    bearer: true,
    ebi: 5,
    imsi: IMSI,
};

/// The IEs of a Create Session Request on S11 (table 7.2.1-1): IMSI, RAT Type (E-UTRAN 6),
/// Sender F-TEID for Control Plane (S11 MME GTP-C, interface type 10), APN, PAA (IPv4, 0.0.0.0),
/// Bearer Contexts to be created (EBI, S1-U eNodeB F-TEID, Bearer Level QoS).
fn csr_ies(c: Csr) -> Vec<u8> {
    let mut b = v2_ie(1, 0, &c.imsi);
    b.extend(v2_ie(82, 0, &[6]));
    if c.sender_fteid {
        b.extend(v2_ie(87, 0, &fteid_v(10, MME_TEID)));
    }
    b.extend(v2_ie(71, 0, b"\x08internet"));
    b.extend(v2_ie(79, 0, &[1, 0, 0, 0, 0]));
    if c.bearer {
        let mut inner = v2_ie(73, 0, &[c.ebi]);
        inner.extend(v2_ie(87, 0, &fteid_v(0, ENB_TEID)));
        inner.extend(v2_ie(
            80,
            0,
            &[
                0x00, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ));
        b.extend(v2_ie(93, 0, &inner));
    }
    b
}

fn csr(seq: u32, c: Csr) -> Vec<u8> {
    v2_msg(32, Some(0), seq, &csr_ies(c))
}

/// A GTPv2-C message as read here.
#[derive(Debug)]
struct V2 {
    first: u8,
    t: u8,
    teid: Option<u32>,
    seq: u32,
    ies: Vec<(u8, u8, Vec<u8>)>,
}

fn v2_ies(mut b: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let l = u16::from_be_bytes([b[1], b[2]]) as usize;
        assert!(b.len() >= 4 + l, "IE {} overruns its message", b[0]);
        out.push((b[0], b[3] & 0x0f, b[4..4 + l].to_vec()));
        b = &b[4 + l..];
    }
    assert!(b.is_empty(), "stray octets after the last IE");
    out
}

impl V2 {
    fn read(b: &[u8]) -> V2 {
        assert_eq!(b[0] >> 5, 2, "a GTPv2 message");
        assert_eq!(
            u16::from_be_bytes([b[2], b[3]]) as usize + 4,
            b.len(),
            "Length counts the octets after the first four"
        );
        let t_flag = b[0] & 0x08 != 0;
        let at = if t_flag { 8 } else { 4 };
        V2 {
            first: b[0],
            t: b[1],
            teid: t_flag.then(|| u32::from_be_bytes(b[4..8].try_into().unwrap())),
            seq: u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]]),
            ies: v2_ies(&b[at + 4..]),
        }
    }
    fn ie(&self, t: u8, i: u8) -> Option<&[u8]> {
        self.ies
            .iter()
            .find(|(ty, inst, _)| *ty == t && *inst == i)
            .map(|(_, _, v)| v.as_slice())
    }
    fn cause(&self) -> u8 {
        self.ie(2, 0).expect("a Cause IE")[0]
    }
}

/// The one GTP-C datagram that left for the MME (the request's source).
fn one_v2(out: &[Transmit]) -> V2 {
    assert_eq!(out.len(), 1, "exactly one answer: {out:?}");
    assert_eq!(out[0].dst, sgsn_c(), "sent back to the request's source");
    assert_eq!(
        out[0].src,
        Some(gw_c()),
        "from the address the request reached"
    );
    V2::read(&out[0].payload)
}

/// A session set up; the Create Session Response and the SGW's S11 TEID.
fn v2_session(gw: &mut Gw, seq: u32, c: Csr) -> (V2, u32) {
    let r = one_v2(&gw.c(&csr(seq, c)));
    assert_eq!(
        (r.t, r.cause()),
        (33, 16),
        "Create Session Response, Request accepted"
    );
    let f = r.ie(87, 0).expect("Sender F-TEID for Control Plane");
    let teid = u32::from_be_bytes(f[1..5].try_into().unwrap());
    (r, teid)
}

/// TS 29.274 7.1.1 and 7.1.2: an Echo Request (Recovery mandatory) is answered by an Echo
/// Response carrying Recovery; 5.5.1: Echo messages are sent with T = 0 (no TEID field); 7.6:
/// "the sequence number in the response shall be copied from the request" (24 bits, so the
/// largest value too).
#[test]
fn p_gtpv2_echo_response_recovery_teidless_same_sequence() {
    let mut gw = Gw::new();
    for seq in [1, 0x00ff_ffff] {
        let r = one_v2(&gw.c(&v2_msg(1, None, seq, &v2_ie(3, 0, &[9]))));
        assert_eq!(r.t, 2, "Echo Response");
        assert_eq!(r.first & 0x08, 0, "T = 0");
        assert_eq!(r.teid, None);
        assert_eq!(r.seq, seq);
        assert_eq!(r.ie(3, 0).map(<[u8]>::len), Some(1), "Recovery, one octet");
    }
}

/// TS 29.274 7.7.4 (paraphrase): a message of a type the receiver does not know "shall be
/// silently discarded", whether it comes as a set-up (TEID 0) or on a session's TEID.
#[test]
fn p_gtpv2_unknown_message_type_discarded() {
    let mut gw = Gw::new();
    let (_, teid) = v2_session(&mut gw, 1, CSR);
    for t in [99u8, 240] {
        assert!(gw.c(&v2_msg(t, Some(0), 7, &[])).is_empty());
        assert!(gw.c(&v2_msg(t, Some(teid), 8, &[])).is_empty());
    }
    assert!(gw.has_session(teid), "the session is untouched");
}

/// TS 29.274 7.7.2 (paraphrase): a GTP-C message of a version the node does not support is
/// answered with a Version Not Supported Indication whose header carries the highest version
/// it supports (2); 5.5.1: the Indication has no TEID (T = 0).
#[test]
fn p_gtpv2_higher_version_gets_version_not_supported() {
    let mut gw = Gw::new();
    let mut m = v2_msg(32, Some(0), 5, &csr_ies(CSR));
    m[0] = (m[0] & 0x1f) | (3 << 5);
    let r = one_v2(&gw.c(&m));
    assert_eq!(r.t, 3, "Version Not Supported Indication");
    assert_eq!(r.first >> 5, 2);
    assert_eq!(r.teid, None);
}

/// TS 29.274 7.2.2 (table 7.2.2-1) and 5.5.2: the Create Session Response carries Cause Request
/// accepted (16), the Sender F-TEID for Control Plane (instance 0; S11/S4 SGW GTP-C, interface
/// type 11, a non-zero TEID with an address), the PAA (PDN type IPv4 and an address), and the
/// Bearer Contexts created (instance 0) with the EBI of the request, Cause and the S1-U SGW
/// F-TEID (interface type 1); its header TEID is the one the MME gave in its Sender F-TEID, its
/// sequence number the request's.
#[test]
fn p_gtpv2_create_session_response_contents() {
    let mut gw = Gw::new();
    let (r, teid) = v2_session(&mut gw, 0x12_3456, CSR);
    assert_eq!(r.teid, Some(MME_TEID));
    assert_eq!(r.seq, 0x12_3456);
    let f = r.ie(87, 0).unwrap();
    assert_eq!(f[0] & 0x3f, 11, "S11/S4 SGW GTP-C");
    assert!(f[0] & 0x80 != 0 && f.len() >= 9, "with an IPv4 address");
    assert_ne!(teid, 0);
    let paa = r.ie(79, 0).expect("PAA");
    assert_eq!(
        (paa[0] & 0x07, paa.len()),
        (1, 5),
        "PDN type IPv4, an address"
    );
    assert_ne!(&paa[1..], &[0, 0, 0, 0]);
    let bc = v2_ies(r.ie(93, 0).expect("Bearer Contexts created"));
    let get = |t: u8| {
        bc.iter()
            .find(|(ty, i, _)| *ty == t && *i == 0)
            .map(|x| x.2.clone())
    };
    assert_eq!(get(73), Some(vec![5]), "the EBI of the request");
    assert_eq!(get(2).map(|c| c[0]), Some(16));
    let s1u = get(87).expect("S1-U SGW F-TEID");
    assert_eq!(s1u[0] & 0x3f, 1, "S1-U SGW GTP-U");
    assert!(gw.has_session(teid));
}

/// TS 29.274 7.7.6 / 8.4 (paraphrase): a request lacking a mandatory IE is rejected with Cause
/// "Mandatory IE missing" (70) whose Offending IE names the type and instance of the missing
/// IE (its length field 0); no session results.
#[test]
fn p_gtpv2_create_without_mandatory_ie_70_with_offending_ie() {
    for (c, missing) in [
        (
            Csr {
                sender_fteid: false,
                ..CSR
            },
            87u8,
        ),
        (
            Csr {
                bearer: false,
                ..CSR
            },
            93,
        ),
    ] {
        let mut gw = Gw::new();
        let r = one_v2(&gw.c(&csr(3, c)));
        assert_eq!((r.t, r.seq), (33, 3));
        let cause = r.ie(2, 0).unwrap();
        assert_eq!(cause[0], 70, "Mandatory IE missing");
        assert_eq!(cause.len(), 6, "with the Offending IE");
        assert_eq!(
            (
                cause[2],
                u16::from_be_bytes([cause[3], cause[4]]),
                cause[5] & 0x0f
            ),
            (missing, 0, 0)
        );
        assert!(r.ie(87, 0).is_none(), "no F-TEID on a rejection");
        if missing == 87 {
            // 5.5.2: without the MME's F-TEID the response's TEID is 0.
            assert_eq!(r.teid, Some(0));
        }
        assert_eq!(gw.procs.iter().map(|p| p.session_count()).sum::<usize>(), 0);
    }
}

/// TS 29.274 7.7.3: a request whose IP/UDP payload is longer than its header's Length says is
/// "inconsistent with the value specified in the Length field" and is answered with Cause
/// Invalid Length (67); the response carries the request's sequence number.
#[test]
fn p_gtpv2_trailing_octets_invalid_length() {
    let mut gw = Gw::new();
    let mut m = csr(11, CSR);
    m.extend_from_slice(&[0, 0, 0, 0]);
    let r = one_v2(&gw.c(&m));
    assert_eq!((r.t, r.seq, r.cause()), (33, 11, 67));
}

/// TS 29.274 7.6: a retransmitted request (same sequence number from the same peer) is answered
/// with the same response, and does not set up a second session.
#[test]
fn p_gtpv2_retransmitted_create_same_response_one_session() {
    let mut gw = Gw::new();
    let first = gw.c(&csr(21, CSR));
    let again = gw.c(&csr(21, CSR));
    assert_eq!(first.len(), 1);
    assert_eq!(again.len(), 1);
    assert_eq!(first[0].payload, again[0].payload, "the same response");
    assert_eq!(gw.procs.iter().map(|p| p.session_count()).sum::<usize>(), 1);
}

/// gtpv2-7.2.1-colliding-create: TS 29.274 7.2.1 (close paraphrase): a new Create Session
/// Request that collides with an
/// existing PDN connection context (identified by the IMSI and the EPS Bearer ID) "shall be
/// treated as a request for a new session"; before creating it the SGW deletes the existing
/// context locally when the request came with TEID 0 in its header. So a new request (a new
/// sequence number: not a retransmission, 7.6) for the same IMSI and EBI gets a new session,
/// and the old one is gone: its TEID then names no context (Context Not Found, 64).
#[test]
fn gtpv2_7_2_1_colliding_create() {
    for placement in 0..4 {
        let mut gw = Gw::new();
        // Other subscribers first, so the collision meets the gateway in various load states
        // (and placements).
        for i in 0..placement {
            let mut imsi = IMSI;
            imsi[7] = 0xf1 + i as u8;
            v2_session(&mut gw, 100 + i, Csr { imsi, ..CSR });
        }
        let (_, old) = v2_session(&mut gw, 1, CSR);
        let (_, new) = v2_session(&mut gw, 2, CSR);
        assert_ne!(old, new, "a new session, not the old one answered again");
        assert!(gw.has_session(new));
        assert!(!gw.has_session(old), "the colliding context was deleted");
        let held: usize = gw.procs.iter().map(|p| p.session_count()).sum();
        assert_eq!(
            held,
            placement as usize + 1,
            "one session per subscriber and bearer"
        );
        let r = one_v2(&gw.c(&v2_msg(36, Some(old), 3, &v2_ie(73, 0, &[5]))));
        assert_eq!((r.t, r.cause(), r.teid), (37, 64, Some(0)));
    }
}

/// A TEID with `teid`'s VIDs (so the line interface steers it to the same live processor) and
/// another local part: one no session holds.
fn stale_teid(teid: u32) -> u32 {
    let l = layout();
    l.compose(
        l.primary(teid).unwrap(),
        l.backup(teid),
        l.local(teid) ^ 0x55,
    )
    .unwrap()
}

/// TS 29.274 5.5.2 (close paraphrase): a request whose header TEID is not known is answered
/// with Cause "Context Not Found" (64), and the TEID in the response header set to 0 -- here
/// for Delete Session and Modify Bearer, both for a TEID carrying a live processor's VID with no
/// session behind it and for one carrying no VID the gateway uses.
#[test]
fn p_gtpv2_unknown_teid_context_not_found_teid_zero() {
    let mut gw = Gw::new();
    let (_, teid) = v2_session(&mut gw, 1, CSR);
    let stale = stale_teid(teid);
    let foreign = 0xfe00_0077; // VID 254: no processor holds it
    for (t, teid) in [(36u8, stale), (34, stale), (36, foreign), (34, foreign)] {
        let body = if t == 36 { v2_ie(73, 0, &[5]) } else { vec![] };
        let r = one_v2(&gw.c(&v2_msg(t, Some(teid), 40 + u32::from(t), &body)));
        assert_eq!(r.t, t + 1);
        assert_eq!(r.cause(), 64, "Context Not Found");
        assert_eq!(r.teid, Some(0));
        assert_eq!(r.seq, 40 + u32::from(t));
    }
}

/// TS 29.274 7.2.8 / 7.2.10: Modify Bearer and Delete Session Requests of a session are
/// answered with Request accepted, header TEID the MME's; after the deletion the TEID names no
/// context.
#[test]
fn p_gtpv2_modify_then_delete() {
    let mut gw = Gw::new();
    let (_, teid) = v2_session(&mut gw, 1, CSR);
    let mut inner = v2_ie(73, 0, &[5]);
    inner.extend(v2_ie(87, 0, &fteid_v(0, ENB_TEID + 1)));
    let r = one_v2(&gw.c(&v2_msg(34, Some(teid), 2, &v2_ie(93, 0, &inner))));
    assert_eq!((r.t, r.cause(), r.teid, r.seq), (35, 16, Some(MME_TEID), 2));
    let r = one_v2(&gw.c(&v2_msg(36, Some(teid), 3, &v2_ie(73, 0, &[5]))));
    assert_eq!((r.t, r.cause(), r.teid, r.seq), (37, 16, Some(MME_TEID), 3));
    assert!(!gw.has_session(teid));
}

// ==================================================================== PFCP (TS 29.244)

/// A PFCP message (section 7.2.2): version 1, S = 1 with the SEID when given, type, Length,
/// SEID, 24-bit sequence number, spare octet.
fn p_msg(t: u8, seid: Option<u64>, seq: u32, ies: &[u8]) -> Vec<u8> {
    let mut b = vec![0x20 | u8::from(seid.is_some()), t];
    let len = 4 + ies.len() + if seid.is_some() { 8 } else { 0 };
    b.extend_from_slice(&(len as u16).to_be_bytes());
    if let Some(s) = seid {
        b.extend_from_slice(&s.to_be_bytes());
    }
    b.extend_from_slice(&seq.to_be_bytes()[1..]);
    b.push(0);
    b.extend_from_slice(ies);
    b
}

fn p_node_id() -> Vec<u8> {
    p_ie(60, &[0, SGSN[0], SGSN[1], SGSN[2], SGSN[3]])
}
fn p_rts() -> Vec<u8> {
    p_ie(96, &0xe000_0001u32.to_be_bytes())
}

/// Which IEs a Session Establishment Request built by [`est_ies`] carries.
fn est_ies(node: bool, fseid: bool) -> Vec<u8> {
    let mut b = Vec::new();
    if node {
        b.extend(p_node_id());
    }
    if fseid {
        let mut v = vec![0x02];
        v.extend_from_slice(&CP_SEID.to_be_bytes());
        v.extend_from_slice(&SGSN);
        b.extend(p_ie(57, &v));
    }
    // Create PDR: PDR ID 1, Precedence 100, PDI (Source Interface Access, F-TEID CH = 1),
    // FAR ID 1. Create FAR: FAR ID 1, Apply Action FORW.
    let mut pdi = p_ie(20, &[0]);
    pdi.extend(p_ie(21, &[0x05]));
    let mut pdr = p_ie(56, &[0, 1]);
    pdr.extend(p_ie(29, &100u32.to_be_bytes()));
    pdr.extend(p_ie(2, &pdi));
    pdr.extend(p_ie(108, &1u32.to_be_bytes()));
    b.extend(p_ie(1, &pdr));
    let mut far = p_ie(108, &1u32.to_be_bytes());
    far.extend(p_ie(44, &[0x02]));
    b.extend(p_ie(3, &far));
    b
}

#[derive(Debug)]
struct Pf {
    first: u8,
    t: u8,
    seid: Option<u64>,
    seq: u32,
    ies: Vec<(u16, Vec<u8>)>,
}

impl Pf {
    fn read(b: &[u8]) -> Pf {
        assert_eq!(b[0] >> 5, 1, "PFCP version 1");
        assert_eq!(u16::from_be_bytes([b[2], b[3]]) as usize + 4, b.len());
        let s = b[0] & 1 != 0;
        let at = if s { 12 } else { 4 };
        let mut rest = &b[at + 4..];
        let mut ies = Vec::new();
        while !rest.is_empty() {
            let l = u16::from_be_bytes([rest[2], rest[3]]) as usize;
            ies.push((
                u16::from_be_bytes([rest[0], rest[1]]),
                rest[4..4 + l].to_vec(),
            ));
            rest = &rest[4 + l..];
        }
        Pf {
            first: b[0],
            t: b[1],
            seid: s.then(|| u64::from_be_bytes(b[4..12].try_into().unwrap())),
            seq: u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]]),
            ies,
        }
    }
    fn ie(&self, t: u16) -> Option<&[u8]> {
        self.ies
            .iter()
            .find(|(ty, _)| *ty == t)
            .map(|(_, v)| v.as_slice())
    }
    fn cause(&self) -> u8 {
        self.ie(19).expect("a Cause IE")[0]
    }
}

fn one_pf(out: &[Transmit]) -> Pf {
    assert_eq!(out.len(), 1, "exactly one answer: {out:?}");
    assert_eq!(out[0].dst, smf(), "sent back to the request's source");
    Pf::read(&out[0].payload)
}

fn n4(gw: &mut Gw, b: &[u8]) -> Vec<Transmit> {
    gw.send(smf(), upf(), b)
}

fn associated() -> Gw {
    let mut gw = Gw::new();
    let mut ies = p_node_id();
    ies.extend(p_rts());
    let r = one_pf(&n4(&mut gw, &p_msg(5, None, 1, &ies)));
    assert_eq!((r.t, r.cause()), (6, 1));
    gw
}

/// TS 29.244 7.4.2.1 / 7.4.2.2 and 7.2.2.1: a Heartbeat Request is answered with a Heartbeat
/// Response carrying the Recovery Time Stamp (mandatory, four octets), a node message (S = 0,
/// no SEID) with the request's sequence number -- also from a CP function with no association
/// (heartbeats are path management, section 6.2.2).
#[test]
fn p_pfcp_heartbeat_response() {
    let mut gw = Gw::new();
    let r = one_pf(&n4(&mut gw, &p_msg(1, None, 0xab_cdef, &p_rts())));
    assert_eq!(r.t, 2);
    assert_eq!(r.first & 0x01, 0, "S = 0");
    assert_eq!(r.seid, None);
    assert_eq!(r.seq, 0xab_cdef);
    assert_eq!(r.ie(96).map(<[u8]>::len), Some(4), "Recovery Time Stamp");
}

/// TS 29.244 7.4.4.2 (table 7.4.4.2-1): an Association Setup Response carries the UP
/// function's Node ID, Cause Request accepted (1), its Recovery Time Stamp and (a condition the
/// UP function meets) UP Function Features; S = 0, sequence number copied.
#[test]
fn p_pfcp_association_setup_response() {
    let mut gw = Gw::new();
    let mut ies = p_node_id();
    ies.extend(p_rts());
    let r = one_pf(&n4(&mut gw, &p_msg(5, None, 77, &ies)));
    assert_eq!((r.t, r.seq, r.seid, r.cause()), (6, 77, None, 1));
    assert!(r.ie(60).is_some(), "Node ID");
    assert_eq!(r.ie(96).map(<[u8]>::len), Some(4), "Recovery Time Stamp");
    assert!(
        r.ie(43).is_some_and(|v| v.len() >= 2),
        "UP Function Features"
    );
}

/// TS 29.244 7.5.3 and 7.2.2.4.2: the Session Establishment Response is a session message
/// (S = 1) whose header SEID is the SEID of the CP F-SEID of the request; it carries Node ID,
/// Cause Request accepted and the UP F-SEID.
#[test]
fn p_pfcp_establishment_response() {
    let mut gw = associated();
    let r = one_pf(&n4(&mut gw, &p_msg(50, Some(0), 9, &est_ies(true, true))));
    assert_eq!((r.t, r.seq, r.seid, r.cause()), (51, 9, Some(CP_SEID), 1));
    assert_eq!(r.first & 0x01, 1);
    assert!(r.ie(60).is_some());
    assert!(r.ie(57).is_some_and(|v| v.len() >= 9), "UP F-SEID");
}

/// pfcp-7.6.6-establishment-node-id-missing: TS 29.244 table 7.5.2.1-1 (Node ID and CP F-SEID "M") and 7.6.x (paraphrase): a request
/// lacking a mandatory IE is rejected with Cause "Mandatory IE missing" (66) and an Offending IE
/// naming the missing type (8.2.22); the response still carries the UP function's Node ID
/// (mandatory, table 7.5.3.1-1). A missing Node ID is such a fault like any other, from an
/// associated CP function: not "No established PFCP Association" (72), which needs a Node ID
/// to be judged.
#[test]
fn pfcp_7_6_6_establishment_node_id_missing() {
    for (node, fseid, offending) in [(false, true, 60u16), (true, false, 57)] {
        let mut gw = associated();
        let r = one_pf(&n4(&mut gw, &p_msg(50, Some(0), 12, &est_ies(node, fseid))));
        assert_eq!((r.t, r.seq), (51, 12));
        assert_eq!(
            r.cause(),
            66,
            "Mandatory IE missing (lacking IE {offending})"
        );
        assert_eq!(
            r.ie(40).map(|v| u16::from_be_bytes([v[0], v[1]])),
            Some(offending)
        );
        assert!(r.ie(60).is_some(), "the UP function's Node ID");
        assert!(r.ie(57).is_none(), "no UP F-SEID on a rejection");
    }
}

/// TS 29.244 7.2.2.4.2 (close paraphrase): when the SEID of a request names no session, the
/// response has Cause "Session context not found" (65) and SEID 0 -- for Modification and
/// Deletion, a SEID carrying a live processor's VID and one carrying none.
#[test]
fn p_pfcp_unknown_seid_65_seid_zero() {
    let mut gw = associated();
    let r = one_pf(&n4(&mut gw, &p_msg(50, Some(0), 2, &est_ies(true, true))));
    let up = u64::from_be_bytes(r.ie(57).unwrap()[1..9].try_into().unwrap());
    let stale = up ^ 0x55;
    let foreign = 0xfe00_0000_0000_0077;
    for (t, seid) in [(52u8, stale), (54, stale), (52, foreign), (54, foreign)] {
        let r = one_pf(&n4(&mut gw, &p_msg(t, Some(seid), 30 + u32::from(t), &[])));
        assert_eq!(
            (r.t, r.cause(), r.seid, r.seq),
            (t + 1, 65, Some(0), 30 + u32::from(t))
        );
    }
    // The real session is still there.
    let r = one_pf(&n4(&mut gw, &p_msg(54, Some(up), 99, &[])));
    assert_eq!((r.t, r.cause(), r.seid), (55, 1, Some(CP_SEID)));
}

/// TS 29.244 7.6.2 (paraphrase): a message of a PFCP version the receiver does not support is
/// answered with a Version Not Supported Response (type 11) giving the version it supports.
#[test]
fn p_pfcp_version_not_supported() {
    let mut gw = Gw::new();
    let mut m = p_msg(1, None, 4, &p_rts());
    m[0] = (m[0] & 0x1f) | (2 << 5);
    let r = one_pf(&n4(&mut gw, &m));
    assert_eq!((r.t, r.first >> 5), (11, 1));
}

// ==================================================================== GTPv1 (TS 29.060, 29.281)

/// A GTPv1 message read here (section 6 of TS 29.060): flags, type, TEID, sequence number (S),
/// the information elements' octets.
#[derive(Debug)]
struct V1 {
    first: u8,
    t: u8,
    teid: u32,
    seq: Option<u16>,
    body: Vec<u8>,
}

impl V1 {
    fn read(b: &[u8]) -> V1 {
        assert_eq!(u16::from_be_bytes([b[2], b[3]]) as usize + 8, b.len());
        let opt = b[0] & 0x07 != 0;
        V1 {
            first: b[0],
            t: b[1],
            teid: u32::from_be_bytes(b[4..8].try_into().unwrap()),
            seq: (b[0] & 0x02 != 0).then(|| u16::from_be_bytes([b[8], b[9]])),
            body: b[if opt { 12 } else { 8 }..].to_vec(),
        }
    }
}

/// A GTPv1 message with S = 1.
fn v1_msg(t: u8, teid: u32, seq: u16, ies: &[u8]) -> Vec<u8> {
    let mut b = vec![0x32, t];
    b.extend_from_slice(&((ies.len() + 4) as u16).to_be_bytes());
    b.extend_from_slice(&teid.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(ies);
    b
}

/// TS 29.060 7.2.1 / 7.2.2: an Echo Request on the GTP-C port is answered with an Echo Response
/// carrying Recovery (type 14, the restart counter); TS 29.060 section 6: TEID 0 in path
/// management messages, the sequence number copied (7.6).
#[test]
fn p_gtpv1_echo_response() {
    let mut gw = Gw::new();
    let out = gw.c(&v1_msg(1, 0, 0xbeef, &[]));
    assert_eq!(out.len(), 1);
    let r = V1::read(&out[0].payload);
    assert_eq!((r.t, r.teid, r.seq), (2, 0, Some(0xbeef)));
    assert_eq!(r.first >> 5, 1);
    assert_eq!(r.body.first(), Some(&14), "Recovery");
    assert_eq!(r.body.len(), 2);
}

/// TS 29.060 7.2.3 (paraphrase): a GTP message of a version the node does not support (GTPv0
/// here) is answered by a Version Not Supported message (type 3), GTPv1 header only.
#[test]
fn p_gtpv1_version_not_supported() {
    let mut gw = Gw::new();
    // GTPv0 header (20 octets): version 0, PT 1, type 1 Echo Request, length 0, sequence 7.
    let mut m = vec![0x1e, 1, 0, 0, 0, 7, 0, 0, 0xff, 0xff, 0xff, 0xff];
    m.extend_from_slice(&[0; 8]);
    let out = gw.c(&m);
    assert_eq!(out.len(), 1);
    let r = V1::read(&out[0].payload);
    assert_eq!((r.first >> 5, r.t), (1, 3));
    assert!(r.body.is_empty(), "the header only");
}

/// TS 29.060 7.3.6 (paraphrase): a Delete PDP Context Request naming no PDP context is answered
/// with Cause "Non-existent" (192), header TEID 0 (the sender's TEID is not known).
#[test]
fn p_gtpv1_delete_unknown_non_existent() {
    let mut gw = Gw::new();
    let ies = [19, 1, 20, 5]; // Teardown Ind, NSAPI 5
    let out = gw.c(&v1_msg(20, 0x0300_1234, 6, &ies));
    assert_eq!(out.len(), 1);
    let r = V1::read(&out[0].payload);
    assert_eq!((r.t, r.teid, r.seq), (21, 0, Some(6)));
    assert_eq!(&r.body[..2], &[1, 192], "Cause Non-existent");
}

/// TS 29.281 7.2.1 / 7.2.2 and 5.1: an Echo Request on the GTP-U port is answered with an Echo
/// Response (TEID 0, S = 1, the sequence number copied) carrying Recovery with value 0.
#[test]
fn p_gtpu_echo_response() {
    let mut gw = Gw::new();
    let out = gw.u(&v1_msg(1, 0, 0x0102, &[]));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, sgsn_u());
    assert_eq!(out[0].src, Some(gw_u()));
    let r = V1::read(&out[0].payload);
    assert_eq!((r.t, r.teid, r.seq), (2, 0, Some(0x0102)));
    assert_eq!(r.body, vec![14, 0], "Recovery 0");
}

/// TS 29.281 7.3.1 (paraphrase): a G-PDU for which no context exists is answered with an Error
/// Indication to the sender's GTP-U port, header TEID 0 (5.1: S = 1), carrying the TEID Data I
/// (type 16: the TEID of the G-PDU) and the GTP-U Peer Address (type 133: the address the G-PDU
/// was sent to) -- for a TEID carrying a live processor's VID and one carrying none.
#[test]
fn p_gtpu_error_indication_for_unknown_teid() {
    let mut gw = Gw::new();
    let (_, teid) = v2_session(&mut gw, 1, CSR);
    let stale = stale_teid(teid);
    for bad in [stale, 0xfe00_0077] {
        let out = gw.u(&common::gtp::g_pdu(bad, &common::gtp::t_pdu()));
        assert_eq!(out.len(), 1, "one Error Indication for TEID {bad:#x}");
        assert_eq!(out[0].dst, sgsn_u());
        let r = V1::read(&out[0].payload);
        assert_eq!((r.t, r.teid), (26, 0));
        assert!(r.first & 0x02 != 0, "S = 1");
        let mut want = vec![16];
        want.extend_from_slice(&bad.to_be_bytes());
        want.extend_from_slice(&[133, 0, 4]);
        want.extend_from_slice(&GW);
        assert_eq!(r.body, want, "TEID Data I, then GTP-U Peer Address");
    }
}
