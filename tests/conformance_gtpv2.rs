//! TS 29.274 (GTPv2-C) conformance of the gateway as an SGW on S11, statement by statement: each
//! test carries the id of its row in `conformance/ts29274.toml` (or `ts23007.toml`), drives the
//! gateway (line interface, switch processor, processors) with hand-built bytes as an MME
//! would, and checks the answer on the wire with this file's own reading of section 5 (the
//! header) and section 8 (IE type, length, instance), not with the crate's codec.

mod common;

use common::gtp::{GW, Gw, RECOVERY, SGSN, gw_c, imsi, sgsn_c};
use telcp::Transmit;

const IMSI: &str = "001010123456789";
const MME_TEID: u32 = 0x6600_0001;
const ENB_TEID: u32 = 0x7700_0001;

// ------------------------------------------------------------------ building requests

/// An IE (TS 29.274 section 8.2.1): type, two-octet length, spare bits and instance, value.
fn ie(t: u8, instance: u8, v: &[u8]) -> Vec<u8> {
    let mut b = vec![t];
    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
    b.push(instance & 0x0f);
    b.extend_from_slice(v);
    b
}

/// A GTPv2-C message (section 5.1): first octet version 2 with `flags` (P 0x10, T 0x08, MP
/// 0x04, spare 0x03) or'ed in (T set when `teid` is given), type, length, TEID, 24-bit sequence
/// number, the last header octet `last` (message priority and spare), the IEs.
fn v2_raw(flags: u8, mtype: u8, teid: Option<u32>, seq: u32, last: u8, ies: &[u8]) -> Vec<u8> {
    let t = if teid.is_some() { 0x08 } else { 0 };
    let mut b = vec![0x40 | t | flags, mtype];
    let len = ies.len() + if teid.is_some() { 8 } else { 4 };
    b.extend_from_slice(&(len as u16).to_be_bytes());
    if let Some(teid) = teid {
        b.extend_from_slice(&teid.to_be_bytes());
    }
    b.extend_from_slice(&seq.to_be_bytes()[1..]);
    b.push(last);
    b.extend_from_slice(ies);
    b
}

fn v2(mtype: u8, teid: Option<u32>, seq: u32, ies: &[u8]) -> Vec<u8> {
    v2_raw(0, mtype, teid, seq, 0, ies)
}

/// An F-TEID value (section 8.22): V4, interface type, TEID, the MME's IPv4 address.
fn fteid(interface: u8, teid: u32) -> Vec<u8> {
    let mut v = vec![0x80 | interface];
    v.extend_from_slice(&teid.to_be_bytes());
    v.extend_from_slice(&SGSN);
    v
}

/// The IEs of a Create Session Request (table 7.2.1-1) with the APN IE(s) `apns`: IMSI, RAT
/// Type E-UTRAN, Sender F-TEID for Control Plane (S11 MME GTP-C), the APNs, PAA (IPv4), Bearer
/// Context to be created (EBI 5, S1-U eNodeB F-TEID).
fn create_ies_apns(apns: &[&[u8]]) -> Vec<u8> {
    let mut b = ie(1, 0, &imsi(IMSI));
    b.extend(ie(82, 0, &[6]));
    b.extend(ie(87, 0, &fteid(10, MME_TEID)));
    for a in apns {
        b.extend(ie(71, 0, a));
    }
    b.extend(ie(79, 0, &[1, 0, 0, 0, 0]));
    b.extend(bearer_context(ENB_TEID));
    b
}

fn create_ies() -> Vec<u8> {
    create_ies_apns(&[b"\x08internet"])
}

/// A Bearer Context (instance 0): EBI 5 and the S1-U eNodeB F-TEID.
fn bearer_context(enb_teid: u32) -> Vec<u8> {
    let mut inner = ie(73, 0, &[5]);
    inner.extend(ie(87, 0, &fteid(0, enb_teid)));
    ie(93, 0, &inner)
}

fn create_request(seq: u32) -> Vec<u8> {
    v2(32, Some(0), seq, &create_ies())
}

fn modify_request(gw_teid: u32, seq: u32, enb_teid: u32) -> Vec<u8> {
    v2(34, Some(gw_teid), seq, &bearer_context(enb_teid))
}

fn delete_request(gw_teid: u32, seq: u32) -> Vec<u8> {
    v2(36, Some(gw_teid), seq, &ie(73, 0, &[5]))
}

fn echo_request(seq: u32) -> Vec<u8> {
    v2(1, None, seq, &ie(3, 0, &[1]))
}

// ------------------------------------------------------------------ reading answers

/// A GTPv2-C message as this file reads section 5.1: the first octet, type, TEID (when T = 1),
/// sequence number, the last header octet, and the top-level IEs (type, instance, value).
#[derive(Debug, Clone, PartialEq)]
struct V2 {
    flags: u8,
    mtype: u8,
    teid: Option<u32>,
    seq: u32,
    last: u8,
    ies: Vec<(u8, u8, Vec<u8>)>,
}

impl V2 {
    /// Decodes one datagram, checking the Length field covers it exactly (section 5.1: the
    /// length of the message in octets excluding the first four).
    fn decode(b: &[u8]) -> V2 {
        assert_eq!(b[0] >> 5, 2, "version 2");
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        assert_eq!(len + 4, b.len(), "Length excludes the first four octets");
        let t = b[0] & 0x08 != 0;
        let mut at = 4;
        let teid = t.then(|| {
            at += 4;
            u32::from_be_bytes(b[4..8].try_into().unwrap())
        });
        let seq = u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]]);
        let last = b[at + 3];
        at += 4;
        V2 {
            flags: b[0],
            mtype: b[1],
            teid,
            seq,
            last,
            ies: read_ies(&b[at..]),
        }
    }

    fn ie(&self, t: u8, instance: u8) -> Option<&[u8]> {
        self.ies
            .iter()
            .find(|(ty, i, _)| *ty == t && *i == instance)
            .map(|(_, _, v)| v.as_slice())
    }

    /// The Cause value (section 8.4, first octet).
    fn cause(&self) -> Option<u8> {
        self.ie(2, 0).map(|v| v[0])
    }

    /// The Offending IE of the Cause (section 8.4: type, length, spare and instance), as
    /// (type, instance).
    fn offending(&self) -> Option<(u8, u8)> {
        let v = self.ie(2, 0)?;
        (v.len() >= 6).then(|| (v[2], v[5] & 0x0f))
    }

    /// The TEID of the F-TEID of instance `i`.
    fn fteid_teid(&self, i: u8) -> Option<u32> {
        self.ie(87, i)
            .map(|v| u32::from_be_bytes(v[1..5].try_into().unwrap()))
    }
}

fn read_ies(mut b: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = u16::from_be_bytes([b[1], b[2]]) as usize;
        out.push((b[0], b[3] & 0x0f, b[4..4 + len].to_vec()));
        b = &b[4 + len..];
    }
    out
}

fn only(out: &[Transmit]) -> V2 {
    assert_eq!(out.len(), 1, "exactly one answer, got {out:?}");
    assert_eq!(out[0].dst, sgsn_c(), "answered to the request's source");
    V2::decode(&out[0].payload)
}

/// A gateway with one session; returns it, the Create Session Response and the gateway's S11
/// TEID.
fn with_session() -> (Gw, V2, u32) {
    let mut gw = Gw::new();
    let r = only(&gw.c(&create_request(1)));
    assert_eq!(r.mtype, 33);
    assert_eq!(r.cause(), Some(16), "Request accepted");
    let teid = r.fteid_teid(0).expect("Sender F-TEID for Control Plane");
    (gw, r, teid)
}

// ------------------------------------------------------------------ section 5: the header

/// gtpv2-5.1-header-sent: TS 29.274 section 5.1: version "2"; P "0" unless a message is
/// piggybacked; T "0" only for Echo and Version Not Supported Indication (section 5.5.1), "1"
/// for every other message; MP "0" when no priority is given; spare bits sent as "0"; the
/// Length excludes the first four octets.
#[test]
fn gtpv2_5_1_header_sent() {
    let (mut gw, created, teid) = with_session();
    let echo = only(&gw.c(&echo_request(2)));
    let modified = only(&gw.c(&modify_request(teid, 3, ENB_TEID + 1)));
    let unknown = only(&gw.c(&modify_request(teid ^ 0x5a5a, 4, ENB_TEID)));
    let deleted = only(&gw.c(&delete_request(teid, 5)));
    for m in [&created, &echo, &modified, &unknown, &deleted] {
        assert_eq!(m.flags & 0x10, 0, "P = 0 in {}", m.mtype);
        assert_eq!(m.flags & 0x07, 0, "MP and spare bits 0 in {}", m.mtype);
        assert_eq!(
            m.last, 0,
            "spare octet after the sequence number in {}",
            m.mtype
        );
    }
    assert_eq!((echo.mtype, echo.teid), (2, None), "Echo Response: T = 0");
    for m in [&created, &modified, &unknown, &deleted] {
        assert!(m.teid.is_some(), "T = 1 in {}", m.mtype);
    }
}

/// gtpv2-5.1-spare-ignored: TS 29.274 section 5.1: spare bits are "set to zero by the sender
/// and ignored by the receiver"; section 5.4: with MP = 0 the last header octet is spare. A
/// Create Session Request with its spare bits set is served as any other.
#[test]
fn gtpv2_5_1_spare_ignored() {
    create_accepted_with_header(0x03, 0xa5);
}

/// A Create Session Request with `flags` or'ed into its first octet and `last` as its last
/// header octet is accepted, its sequence number copied.
fn create_accepted_with_header(flags: u8, last: u8) {
    let mut gw = Gw::new();
    let req = v2_raw(flags, 32, Some(0), 9, last, &create_ies());
    let r = only(&gw.c(&req));
    assert_eq!((r.mtype, r.cause(), r.seq), (33, Some(16), 9));
}

/// gtpv2-5.4-message-priority: TS 29.274 section 5.4: a sender may set MP = 1 and give the
/// message priority in the high four bits of the last header octet; the request is served
/// (priority only orders the receiver's work).
#[test]
fn gtpv2_5_4_message_priority() {
    create_accepted_with_header(0x04, 0x50);
}

/// gtpv2-7.6-sequence-copied: TS 29.274 section 7.6: "the Sequence Number in a Triggered
/// message shall be set to the Sequence Number of the message that triggered it"; the field is
/// 24 bits wide (section 5.1), all of them copied.
#[test]
fn gtpv2_7_6_sequence_copied() {
    let mut gw = Gw::new();
    let r = only(&gw.c(&v2(32, Some(0), 0x00ab_cdef, &create_ies())));
    assert_eq!(r.seq, 0x00ab_cdef);
    let teid = r.fteid_teid(0).unwrap();
    assert_eq!(only(&gw.c(&echo_request(0x00ff_fffe))).seq, 0x00ff_fffe);
    let m = only(&gw.c(&modify_request(teid, 0x0080_0001, ENB_TEID)));
    assert_eq!((m.mtype, m.seq), (35, 0x0080_0001));
}

/// gtpv2-7.1.1-echo-any-time: TS 29.274 section 7.1.1: "A GTP-C entity shall be prepared to
/// receive an Echo Request at any time and it shall reply with an Echo Response", from a peer
/// it has no session with too; the Echo Response carries the Recovery (section 7.1.2).
#[test]
fn gtpv2_7_1_1_echo_any_time() {
    let mut gw = Gw::new();
    let r = only(&gw.c(&echo_request(77)));
    assert_eq!((r.mtype, r.seq, r.teid), (2, 77, None));
    assert_eq!(r.ie(3, 0), Some(&[RECOVERY][..]), "Recovery");
}

// ------------------------------------------------------------------ 7.6: reliable delivery

/// gtpv2-7.6-retransmitted-create: TS 29.274 section 7.6: a retransmitted request has the same
/// sequence number; the receiver answers it with the same response and does not process it
/// twice: one session, the same TEIDs.
#[test]
fn gtpv2_7_6_retransmitted_create() {
    let mut gw = Gw::new();
    let first = gw.c(&create_request(21));
    let again = gw.c(&create_request(21));
    assert_eq!(
        only(&first),
        only(&again),
        "the same Create Session Response"
    );
    let sessions: u64 = gw.procs.iter().map(|p| p.stats().created).sum();
    assert_eq!(sessions, 1, "processed once");
}

/// gtpv2-7.6-retransmitted-delete: TS 29.274 section 7.6: a Delete Session Request repeated
/// (same sequence number) after it was served gets the same Delete Session Response, Request
/// accepted, not Context Not Found (the MME lost the first answer).
#[test]
fn gtpv2_7_6_retransmitted_delete() {
    let (mut gw, _, teid) = with_session();
    let first = only(&gw.c(&delete_request(teid, 30)));
    assert_eq!(first.cause(), Some(16));
    assert!(!gw.has_session(teid));
    let again = only(&gw.c(&delete_request(teid, 30)));
    assert_eq!(again, first);
    // A new request (another sequence number) finds no context.
    let later = only(&gw.c(&delete_request(teid, 31)));
    assert_eq!((later.cause(), later.teid), (Some(64), Some(0)));
}

// ------------------------------------------------------------------ 7.7: error handling

/// gtpv2-7.7.3-invalid-length: TS 29.274 section 7.7.3: "If a GTP entity receives a Request
/// message within an IP/UDP packet of a length that is inconsistent with the value specified
/// in the Length field of the GTP header, then the receiving GTP entity should log the error
/// and shall send the Response message with Cause IE value set to 'Invalid Length'" (67).
/// Here a Create Session Request (to the switch processor) and a Modify Bearer Request (to the
/// session's processor) whose Length claims more octets than the datagram holds.
#[test]
fn gtpv2_7_7_3_invalid_length() {
    let (mut gw, _, teid) = with_session();
    let mut req = create_request(40);
    req.truncate(req.len() - 3);
    let r = only(&gw.c(&req));
    assert_eq!((r.mtype, r.seq, r.cause()), (33, 40, Some(67)));
    let mut req = modify_request(teid, 41, ENB_TEID);
    req.truncate(req.len() - 2);
    let r = only(&gw.c(&req));
    assert_eq!((r.mtype, r.seq, r.cause()), (35, 41, Some(67)));
    assert_eq!(r.teid, Some(MME_TEID), "the session's MME TEID");
    assert!(gw.has_session(teid), "nothing processed");
}

/// gtpv2-7.7.3-short-or-response: TS 29.274 section 7.7.3: a message too short to hold the
/// GTPv2 header is silently discarded, and so is a Response message whose length is
/// inconsistent with its Length field.
#[test]
fn gtpv2_7_7_3_short_or_response() {
    let mut gw = Gw::new();
    assert!(gw.c(&[0x48, 32, 0, 8, 0, 0]).is_empty(), "too short");
    let mut resp = v2(2, None, 5, &ie(3, 0, &[1]));
    resp.truncate(resp.len() - 1);
    assert!(gw.c(&resp).is_empty(), "a response: discarded");
}

/// gtpv2-7.7.4-unknown-message: TS 29.274 section 7.7.4: "If a GTP entity receives a message
/// with an unknown Message Type value, it shall silently discard the message", whether it
/// reaches the switch processor (TEID 0) or a session's processor (its TEID); the session is
/// untouched.
#[test]
fn gtpv2_7_7_4_unknown_message() {
    let (mut gw, _, teid) = with_session();
    assert!(gw.c(&v2(231, Some(0), 50, &[])).is_empty());
    assert!(gw.c(&v2(231, Some(teid), 51, &[])).is_empty());
    assert!(gw.has_session(teid));
    let m = only(&gw.c(&modify_request(teid, 52, ENB_TEID)));
    assert_eq!(m.cause(), Some(16));
}

/// gtpv2-7.7.9-unknown-ie: TS 29.274 section 7.7.9: an IE of unknown type is silently
/// discarded and the message processed (forward compatibility, section 7.7.1). Here a Create
/// Session Request with an IE of an unassigned type, at the top level and in its Bearer Context.
#[test]
fn gtpv2_7_7_9_unknown_ie() {
    let mut gw = Gw::new();
    let mut ies = ie(240, 0, b"future");
    ies.extend(create_ies());
    let mut inner = ie(73, 0, &[5]);
    inner.extend(ie(241, 3, &[1, 2, 3]));
    inner.extend(ie(87, 0, &fteid(0, ENB_TEID)));
    ies.extend(ie(93, 1, &inner)); // a second Bearer Context, instance 1: not expected here
    let r = only(&gw.c(&v2(32, Some(0), 60, &ies)));
    assert_eq!((r.mtype, r.cause()), (33, Some(16)));
}

/// gtpv2-7.7.10-repeated-ie: TS 29.274 section 7.7.10: "If an information element is repeated
/// in a GTP signalling message in which repetition of the information element is not
/// specified, only the contents of the information element appearing first shall be handled
/// and all subsequent repetitions of the information element shall be ignored." Two APNs: the
/// first decides.
#[test]
fn gtpv2_7_7_10_repeated_ie() {
    let mut gw = Gw::configured(|c| c.apns = vec!["internet".into()]);
    let served_first = create_ies_apns(&[b"\x08internet", b"\x05other"]);
    let r = only(&gw.c(&v2(32, Some(0), 70, &served_first)));
    assert_eq!(r.cause(), Some(16), "the first APN is served");
    let unknown_first = create_ies_apns(&[b"\x05other", b"\x08internet"]);
    let r = only(&gw.c(&v2(32, Some(0), 71, &unknown_first)));
    assert_eq!(
        r.cause(),
        Some(78),
        "the first APN is not: Missing or unknown APN"
    );
}

/// gtpv2-7.7.1-mandatory-ie-incorrect: TS 29.274 section 7.7.1 (and 7.7.7): a Request whose
/// mandatory IE has erroneous content (here a Sender F-TEID for Control Plane three octets
/// long, shorter than its fixed part, section 8.22) is rejected with Cause "Mandatory IE
/// incorrect" (69) and the Offending IE naming it (type 87, instance 0), not with "Mandatory
/// IE missing".
#[test]
fn gtpv2_7_7_1_mandatory_ie_incorrect() {
    let mut gw = Gw::new();
    let mut ies = ie(1, 0, &imsi(IMSI));
    ies.extend(ie(82, 0, &[6]));
    ies.extend(ie(87, 0, &[0x8a, 1, 2]));
    ies.extend(ie(71, 0, b"\x08internet"));
    ies.extend(bearer_context(ENB_TEID));
    let r = only(&gw.c(&v2(32, Some(0), 80, &ies)));
    assert_eq!((r.mtype, r.cause()), (33, Some(69)));
    assert_eq!(r.offending(), Some((87, 0)));
    assert_eq!(
        r.teid,
        Some(0),
        "the MME's TEID is unknown: 0 (section 5.5.2)"
    );
}

/// gtpv2-7.7.0-piggybacked: TS 29.274 sections 5.5.1 and 7.7.0: with P = 1 another message
/// follows in the datagram; "the triggered response message carrying the piggybacked message
/// shall be processed first ... Subsequently, the piggybacked initial message shall be
/// processed independently". A Create Bearer Response (which this SGW never asked for, so
/// unexpected and discarded) piggybacking a Modify Bearer Request: the Modify Bearer Request is
/// served.
#[test]
fn gtpv2_7_7_0_piggybacked() {
    let (mut gw, _, teid) = with_session();
    let mut cbr = ie(2, 0, &[16, 0]);
    cbr.extend(bearer_context(ENB_TEID));
    let mut dgram = v2_raw(0x10, 96, Some(teid), 90, 0, &cbr);
    dgram.extend(modify_request(teid, 91, ENB_TEID + 7));
    let r = only(&gw.c(&dgram));
    assert_eq!((r.mtype, r.seq, r.cause()), (35, 91, Some(16)));
    assert_eq!(r.teid, Some(MME_TEID));
}

/// ts23007-18-own-recovery: TS 23.007 clause 18 and TS 29.274 section 8.5: the node's one
/// restart counter is what its Echo Response and its Create Session Response carry in the
/// Recovery IE, the same value (a peer compares any of them with the one stored).
#[test]
fn ts23007_18_own_recovery() {
    let (mut gw, created, _) = with_session();
    let echo = only(&gw.c(&echo_request(3)));
    assert_eq!(created.ie(3, 0), Some(&[RECOVERY][..]));
    assert_eq!(echo.ie(3, 0), created.ie(3, 0));
    let _ = GW;
}

/// gtpv2-7.7.2-version: TS 29.274 section 7.7.2: "If a receiving node receives a message of
/// an unsupported version, that node shall return a GTP Version Not Supported Indication
/// message indicating in the Version field of the GTP header the latest GTP version that that
/// node supports. The received GTP-PDU shall then be discarded." A "GTPv3" request to the
/// GTP-C port gets a header-only Version Not Supported (type 3), never a session.
#[test]
fn gtpv2_7_7_2_version() {
    let mut gw = Gw::new();
    let mut req = create_request(5);
    req[0] = (req[0] & 0x1f) | 0x60;
    let out = gw.send(sgsn_c(), gw_c(), &req);
    assert_eq!(out.len(), 1, "one answer");
    // TS 29.274 7.7.2: "a GTP Version Not Supported Indication message indicating in the
    // Version field of the GTP header the latest GTP version that that node supports": 2 on
    // the GTPv2-C port. 7.1.3: the header only; no TEID (T = 0, section 5.5.1), Length 4 (the
    // sequence number, 0, and the spare octet).
    assert_eq!(&out[0].payload[..], &[0x40, 3, 0, 4, 0, 0, 0, 0]);
    assert_eq!(out[0].dst, sgsn_c(), "back to the sender");
    let sessions: u64 = gw.procs.iter().map(|p| p.stats().created).sum();
    assert_eq!(sessions, 0);
}

/// Wireshark's GTPv2 dissector as a second opinion on the error answers of this file (sections
/// 7.7.1 and 7.7.3, as the gateway sent them): no malformed packet nor error-level expert
/// item, and the Cause (and Offending IE) it reads.
#[cfg(feature = "pcap")]
#[test]
fn tshark_reads_the_gtpv2_error_answers() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let (mut gw, _, teid) = with_session();
    let mut answers = Vec::new();
    let mut req = create_request(40);
    req.truncate(req.len() - 3);
    answers.extend(gw.c(&req));
    let mut req = modify_request(teid, 41, ENB_TEID);
    req.truncate(req.len() - 2);
    answers.extend(gw.c(&req));
    let mut ies = ie(82, 0, &[6]);
    ies.extend(ie(87, 0, &[0x8a, 1, 2]));
    ies.extend(ie(71, 0, b"\x08internet"));
    ies.extend(bearer_context(ENB_TEID));
    answers.extend(gw.c(&v2(32, Some(0), 42, &ies)));
    assert_eq!(answers.len(), 3);
    let cap = captured("gtpv2-errors", &answers);
    cap.assert_clean("frame");
    let out = cap.fields(
        "gtpv2",
        &[
            "gtpv2.message_type",
            "gtpv2.seq",
            "gtpv2.cause",
            "gtpv2.cause_off_ie_t",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    let want = ["33|0x000028|67|", "35|0x000029|67|", "33|0x00002a|69|87"];
    assert_eq!(lines, want, "{out}");
}

/// Wireshark's GTPv2 dissector as a second opinion on the accepted answers as the gateway sent
/// them (sections 7.1.2, 7.2.2, 7.2.8, 7.2.10.1 and the IE layouts of section 8): no malformed
/// packet, the Causes, the F-TEIDs' interface types (11: S11/S4 SGW GTP-C, 1: S1-U SGW GTP-U),
/// TEIDs and IPv4 addresses, the PDN address and the EPS Bearer ID as this file reads them.
#[cfg(feature = "pcap")]
#[test]
fn tshark_reads_the_gtpv2_answers() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let mut gw = Gw::new();
    let mut answers = gw.c(&create_request(1));
    let created = only(&answers);
    let teid = created.fteid_teid(0).unwrap();
    let ue = created.ie(79, 0).unwrap()[1..5].to_vec();
    answers.extend(gw.c(&modify_request(teid, 2, ENB_TEID + 1)));
    answers.extend(gw.c(&echo_request(3)));
    answers.extend(gw.c(&delete_request(teid, 4)));
    assert_eq!(answers.len(), 4);
    let cap = captured("gtpv2-answers", &answers);
    cap.assert_clean("frame");
    let fields = [
        "gtpv2.message_type",
        "gtpv2.cause",
        "gtpv2.f_teid_interface_type",
        "gtpv2.f_teid_gre_key",
        "gtpv2.f_teid_ipv4",
        "gtpv2.pdn_addr_and_prefix.ipv4",
        "gtpv2.ebi",
        "gtpv2.rec",
    ];
    let out = cap.fields("gtpv2", &fields);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 4, "{out}");
    let gw_ip = std::net::Ipv4Addr::from(GW).to_string();
    let ue = std::net::Ipv4Addr::new(ue[0], ue[1], ue[2], ue[3]).to_string();
    let teid_of = |s: &str| {
        s.split(',')
            .map(|t| u32::from_str_radix(t.trim_start_matches("0x"), 16).unwrap())
            .collect::<Vec<_>>()
    };
    let cs = &lines[0];
    assert_eq!((cs[0], cs[1], cs[2]), ("33", "16,16", "11,1"), "{out}");
    assert_eq!(teid_of(cs[3]), [teid, teid], "{out}");
    assert_eq!(cs[4], format!("{gw_ip},{gw_ip}"), "{out}");
    assert_eq!((cs[5], cs[6]), (ue.as_str(), "5"), "{out}");
    let mb = &lines[1];
    assert_eq!(
        (mb[0], mb[1], mb[2], mb[6]),
        ("35", "16,16", "1", "5"),
        "{out}"
    );
    let echo = &lines[2];
    assert_eq!(
        (echo[0], echo[7]),
        ("2", RECOVERY.to_string().as_str()),
        "{out}"
    );
    assert_eq!((lines[3][0], lines[3][1]), ("37", "16"), "{out}");
}

/// gtpv2-7.2.8-unknown-vid: TS 29.274 sections 7.2.8, 7.2.10.1 and 5.5.2: a Modify Bearer or
/// Delete Session Request for a context the receiver does not have is answered with Context
/// Not Found (64), header TEID 0, the request's sequence number; here its TEID names a VID no
/// processor holds, so the line interface answers (no processor could).
#[test]
fn gtpv2_7_2_8_unknown_vid() {
    let mut gw = Gw::new();
    let teid = 0xee00_0001;
    let r = only(&gw.c(&modify_request(teid, 0x0012_3401, ENB_TEID)));
    assert_eq!(
        (r.mtype, r.teid, r.seq, r.cause()),
        (35, Some(0), 0x0012_3401, Some(64))
    );
    let r = only(&gw.c(&delete_request(teid, 0x0012_3402)));
    assert_eq!(
        (r.mtype, r.teid, r.seq, r.cause()),
        (37, Some(0), 0x0012_3402, Some(64))
    );
    let mut short = delete_request(teid, 0x0012_3403);
    short.truncate(short.len() - 1);
    let r = only(&gw.c(&short));
    assert_eq!(
        (r.mtype, r.cause()),
        (37, Some(67)),
        "Invalid Length first (7.7.3)"
    );
    assert!(
        gw.c(&v2(231, Some(teid), 5, &[])).is_empty(),
        "other types: dropped"
    );
}

/// A capture of the gateway's answers `answers` (sent from its GTP-C address), for tshark.
#[cfg(feature = "pcap")]
fn captured(tag: &str, answers: &[Transmit]) -> common::Capture {
    use std::time::Duration;
    use telcp::pcap::PcapWriter;
    common::Capture::written(tag, "gtpv2.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        for (i, t) in answers.iter().enumerate() {
            let at = Duration::from_millis(i as u64);
            w.write_udp(at, gw_c(), t.dst, &t.payload).unwrap();
        }
        drop(w.into_inner());
    })
}
