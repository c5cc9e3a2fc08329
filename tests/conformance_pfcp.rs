//! TS 29.244 (PFCP) conformance of the gateway as a UP function on N4/Sxb, statement by
//! statement: each test carries the id of its row in `conformance/ts29244.toml`, drives the
//! gateway (line interface, switch processor, processors) with hand-built bytes as an SMF
//! would, and checks the answer on the wire with this file's own reading of section 7.2.2 (the
//! header) and section 8.1 (IE type and length), not with the crate's codec.

mod common;

use common::gtp::{GW, Gw, RECOVERY_TIME_STAMP, SGSN, pfcp_ie as ie, smf, upf};
use telcp::Transmit;

const CP_SEID: u64 = 0x0102_0304_0506_0708;

// ------------------------------------------------------------------ building requests

/// A PFCP message (section 7.2.2): first octet version 1 with `flags` (FO 0x04, MP 0x02, spare
/// 0x18) or'ed in, S set when `seid` is given, type, length, SEID, 24-bit sequence number, the
/// last header octet `last`, the IEs.
fn pfcp_raw(flags: u8, mtype: u8, seid: Option<u64>, seq: u32, last: u8, ies: &[u8]) -> Vec<u8> {
    let s = u8::from(seid.is_some());
    let mut b = vec![0x20 | s | flags, mtype];
    let len = ies.len() + 4 + if seid.is_some() { 8 } else { 0 };
    b.extend_from_slice(&(len as u16).to_be_bytes());
    if let Some(seid) = seid {
        b.extend_from_slice(&seid.to_be_bytes());
    }
    b.extend_from_slice(&seq.to_be_bytes()[1..]);
    b.push(last);
    b.extend_from_slice(ies);
    b
}

fn pfcp(mtype: u8, seid: Option<u64>, seq: u32, ies: &[u8]) -> Vec<u8> {
    pfcp_raw(0, mtype, seid, seq, 0, ies)
}

/// Node ID (section 8.2.38): type 0 (IPv4), the SMF's address.
fn node_id() -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&SGSN);
    ie(60, &v)
}

/// Recovery Time Stamp (section 8.2.65).
fn rts(t: u32) -> Vec<u8> {
    ie(96, &t.to_be_bytes())
}

fn heartbeat(seq: u32) -> Vec<u8> {
    pfcp(1, None, seq, &rts(1))
}

fn association_setup(seq: u32, node: &[u8]) -> Vec<u8> {
    let mut ies = node.to_vec();
    ies.extend(rts(1));
    pfcp(5, None, seq, &ies)
}

/// The IEs of a Session Establishment Request (table 7.5.2.1-1): Node ID, CP F-SEID (V4),
/// a Create PDR (PDR ID 1, Precedence, PDI: Source Interface Access and an F-TEID asking the
/// UP function to choose, FAR ID 1) and a Create FAR (FAR ID 1, Apply Action FORW).
fn establishment_ies() -> Vec<u8> {
    establishment_ies_for(CP_SEID)
}

/// [`establishment_ies`] with the CP F-SEID's SEID `cp_seid`.
fn establishment_ies_for(cp_seid: u64) -> Vec<u8> {
    let mut fseid = vec![0x02];
    fseid.extend_from_slice(&cp_seid.to_be_bytes());
    fseid.extend_from_slice(&SGSN);
    let mut pdi = ie(20, &[0]);
    pdi.extend(ie(21, &[0x05]));
    let mut pdr = ie(56, &[0, 1]);
    pdr.extend(ie(29, &[0, 0, 0, 255]));
    pdr.extend(ie(2, &pdi));
    pdr.extend(ie(108, &[0, 0, 0, 1]));
    let mut far = ie(108, &[0, 0, 0, 1]);
    far.extend(ie(44, &[0x02]));
    let mut ies = node_id();
    ies.extend(ie(57, &fseid));
    ies.extend(ie(1, &pdr));
    ies.extend(ie(3, &far));
    ies
}

fn establishment(seq: u32) -> Vec<u8> {
    pfcp(50, Some(0), seq, &establishment_ies())
}

// ------------------------------------------------------------------ reading answers

/// A PFCP message as this file reads section 7.2.2: first octet, type, SEID (S = 1), sequence
/// number, last header octet, top-level IEs (type, value).
#[derive(Debug, Clone, PartialEq)]
struct Pfcp {
    flags: u8,
    mtype: u8,
    seid: Option<u64>,
    seq: u32,
    last: u8,
    ies: Vec<(u16, Vec<u8>)>,
}

impl Pfcp {
    fn decode(b: &[u8]) -> Pfcp {
        assert_eq!(b[0] >> 5, 1, "version 1");
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        assert_eq!(len + 4, b.len(), "Length excludes the first four octets");
        let mut at = 4;
        let seid = (b[0] & 0x01 != 0).then(|| {
            at += 8;
            u64::from_be_bytes(b[4..12].try_into().unwrap())
        });
        let seq = u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]]);
        let last = b[at + 3];
        let mut rest = &b[at + 4..];
        let mut ies = Vec::new();
        while !rest.is_empty() {
            let t = u16::from_be_bytes([rest[0], rest[1]]);
            let l = u16::from_be_bytes([rest[2], rest[3]]) as usize;
            ies.push((t, rest[4..4 + l].to_vec()));
            rest = &rest[4 + l..];
        }
        Pfcp {
            flags: b[0],
            mtype: b[1],
            seid,
            seq,
            last,
            ies,
        }
    }

    fn ie(&self, t: u16) -> Option<&[u8]> {
        self.ies
            .iter()
            .find(|(ty, _)| *ty == t)
            .map(|(_, v)| v.as_slice())
    }

    /// The Cause value (section 8.2.1).
    fn cause(&self) -> Option<u8> {
        self.ie(19).map(|v| v[0])
    }

    /// The Offending IE (section 8.2.22): the type it names.
    fn offending(&self) -> Option<u16> {
        self.ie(40).map(|v| u16::from_be_bytes([v[0], v[1]]))
    }

    /// The UP F-SEID's SEID (section 8.2.37).
    fn up_seid(&self) -> Option<u64> {
        self.ie(57)
            .map(|v| u64::from_be_bytes(v[1..9].try_into().unwrap()))
    }
}

fn only(out: &[Transmit]) -> Pfcp {
    assert_eq!(out.len(), 1, "exactly one answer, got {out:?}");
    assert_eq!(out[0].dst, smf(), "answered to the request's source");
    Pfcp::decode(&out[0].payload)
}

fn n4(gw: &mut Gw, bytes: &[u8]) -> Vec<Transmit> {
    gw.send(smf(), upf(), bytes)
}

/// A gateway with the SMF associated (Node ID IPv4).
fn associated() -> Gw {
    let mut gw = Gw::new();
    let r = only(&n4(&mut gw, &association_setup(1, &node_id())));
    assert_eq!((r.mtype, r.cause()), (6, Some(1)));
    gw
}

/// An associated gateway with one session; returns it, the Session Establishment Response and
/// the UP SEID.
fn with_session() -> (Gw, Pfcp, u64) {
    let mut gw = associated();
    let r = only(&n4(&mut gw, &establishment(2)));
    assert_eq!((r.mtype, r.cause()), (51, Some(1)));
    let seid = r.up_seid().expect("UP F-SEID");
    (gw, r, seid)
}

// ------------------------------------------------------------------ 7.2.2: the header

/// pfcp-7.2.2-header-sent: TS 29.244 section 7.2.2.1: version "1"; S "0" in node messages and
/// "1" in session messages (section 7.2.2.4, the SEID present); MP "0" when no priority is
/// given; FO "0" when no message follows; spare bits and the spare octet after the sequence
/// number "0"; the Length excludes the first four octets.
#[test]
fn pfcp_7_2_2_header_sent() {
    let (mut gw, est, seid) = with_session();
    let hb = only(&n4(&mut gw, &heartbeat(3)));
    let del = only(&n4(&mut gw, &pfcp(54, Some(seid), 4, &[])));
    let assoc = only(&n4(&mut gw, &association_setup(5, &node_id())));
    for m in [&hb, &assoc] {
        assert_eq!(
            m.flags & 0x1f,
            0,
            "S, MP, FO and spare 0 in node message {}",
            m.mtype
        );
        assert_eq!(m.seid, None);
    }
    for m in [&est, &del] {
        assert_eq!(
            m.flags & 0x1f,
            0x01,
            "S = 1 only in session message {}",
            m.mtype
        );
        assert_eq!(m.seid, Some(CP_SEID), "the CP function's SEID");
    }
    for m in [&hb, &assoc, &est, &del] {
        assert_eq!(m.last, 0, "spare octet in {}", m.mtype);
    }
}

/// pfcp-7.2.2-sequence-copied: TS 29.244 section 7.2.2.2: the Sequence Number of a response
/// is "copied from the corresponding request"; the field is 24 bits wide, all copied.
#[test]
fn pfcp_7_2_2_sequence_copied() {
    let mut gw = Gw::new();
    assert_eq!(only(&n4(&mut gw, &heartbeat(0x00ab_cdef))).seq, 0x00ab_cdef);
    let r = only(&n4(&mut gw, &association_setup(0x00ff_fffe, &node_id())));
    assert_eq!((r.mtype, r.seq), (6, 0x00ff_fffe));
    let r = only(&n4(&mut gw, &establishment(0x0080_0001)));
    assert_eq!((r.mtype, r.seq), (51, 0x0080_0001));
}

/// pfcp-7.2.2-spare-and-priority: TS 29.244 section 7.2.2.1: spare bits are "set to 0 by the
/// sender and ignored by the receiver"; with MP = 1 the message priority is in the high four
/// bits of the last header octet (section 7.2.2.3), which the UP function may use or not: the
/// request is answered as any other.
#[test]
fn pfcp_7_2_2_spare_and_priority() {
    let mut gw = Gw::new();
    let r = only(&n4(&mut gw, &pfcp_raw(0x18, 1, None, 7, 0x0f, &rts(1))));
    assert_eq!((r.mtype, r.seq), (2, 7));
    let r = only(&n4(&mut gw, &pfcp_raw(0x02, 1, None, 8, 0x30, &rts(1))));
    assert_eq!((r.mtype, r.seq), (2, 8));
}

/// pfcp-7.4.2-heartbeat-any-peer: TS 29.244 sections 6.2.2 and 7.4.2: a Heartbeat Request is
/// answered with a Heartbeat Response carrying the responder's Recovery Time Stamp, also to
/// a peer with no PFCP association (path management is below the association).
#[test]
fn pfcp_7_4_2_heartbeat_any_peer() {
    let mut gw = Gw::new();
    let r = only(&n4(&mut gw, &heartbeat(11)));
    assert_eq!((r.mtype, r.seq), (2, 11));
    assert_eq!(r.ie(96), Some(&RECOVERY_TIME_STAMP.to_be_bytes()[..]));
}

// ------------------------------------------------------------------ 6.4: reliable delivery

/// pfcp-6.4-duplicate-establishment: TS 29.244 section 6.4: a request retransmitted with the
/// same sequence number is a duplicate; the receiver sends the same response again and does
/// not process the request twice (one session, the same UP F-SEID).
#[test]
fn pfcp_6_4_duplicate_establishment() {
    let mut gw = associated();
    let first = only(&n4(&mut gw, &establishment(20)));
    let again = only(&n4(&mut gw, &establishment(20)));
    assert_eq!(first, again);
    let created: u64 = gw.procs.iter().map(|p| p.stats().created).sum();
    assert_eq!(created, 1);
}

/// pfcp-6.4-duplicate-deletion: TS 29.244 section 6.4: a Session Deletion Request repeated
/// after it was served is answered with the same Session Deletion Response (Request accepted),
/// not Session context not found.
#[test]
fn pfcp_6_4_duplicate_deletion() {
    let (mut gw, _, seid) = with_session();
    let first = only(&n4(&mut gw, &pfcp(54, Some(seid), 30, &[])));
    assert_eq!(first.cause(), Some(1));
    let again = only(&n4(&mut gw, &pfcp(54, Some(seid), 30, &[])));
    assert_eq!(first, again);
    let later = only(&n4(&mut gw, &pfcp(54, Some(seid), 31, &[])));
    assert_eq!((later.cause(), later.seid), (Some(65), Some(0)));
}

// ------------------------------------------------------------------ 7.6: error handling

/// pfcp-7.6.2-version-not-supported: TS 29.244 section 7.6.2 (and 7.4.4.7): "If a receiving
/// node receives a PFCP message of an unsupported version, that node shall return a PFCP
/// Version Not Supported Response message indicating in the Version field of the PFCP header
/// the latest PFCP version that that node supports. The received PFCP message shall then be
/// discarded." The response is the header only (type 11, version 1, no SEID); a Version Not
/// Supported Response of another version is not answered.
#[test]
fn pfcp_7_6_2_version_not_supported() {
    let mut gw = Gw::new();
    let mut req = heartbeat(0x0012_3456);
    req[0] = (req[0] & 0x1f) | 0x40; // version 2
    let r = only(&n4(&mut gw, &req));
    assert_eq!((r.mtype, r.seid, r.seq), (11, None, 0x0012_3456));
    assert!(r.ies.is_empty(), "header only");
    let mut vns = pfcp(11, None, 3, &[]);
    vns[0] = (vns[0] & 0x1f) | 0x40;
    assert!(n4(&mut gw, &vns).is_empty(), "no answer to an answer");
    // A "version 2" session message whose SEID field would name a held session in version 1.
    let (mut gw, _, seid) = with_session();
    let mut del = pfcp(54, Some(seid), 0x0012_3457, &[]);
    del[0] = (del[0] & 0x1f) | 0x40;
    let r = only(&n4(&mut gw, &del));
    assert_eq!((r.mtype, r.seid, r.seq), (11, None, 0x0012_3457));
    let r = only(&n4(&mut gw, &pfcp(52, Some(seid), 9, &[])));
    assert_eq!(r.cause(), Some(1), "the session is untouched");
}

/// pfcp-7.6.3-invalid-length: TS 29.244 section 7.6.3: "If a PFCP entity receives a Request
/// message within an IP/UDP packet of a length that is inconsistent with the value specified
/// in the Length field of the PFCP header, then the receiving PFCP entity should log the error
/// and shall send the Response message with Cause IE value set to 'Invalid length'" (68); a
/// Response of inconsistent length is silently discarded.
#[test]
fn pfcp_7_6_3_invalid_length() {
    let mut gw = Gw::new();
    let mut req = association_setup(40, &node_id());
    req.truncate(req.len() - 2);
    let r = only(&n4(&mut gw, &req));
    assert_eq!((r.mtype, r.seq, r.cause()), (6, 40, Some(68)));
    let mut resp = pfcp(2, None, 41, &rts(1));
    resp.truncate(resp.len() - 1);
    assert!(n4(&mut gw, &resp).is_empty());
    // A Session Deletion Request steered to the session's processor by its SEID, its Length
    // claiming more than the datagram holds: not processed, answered with the CP's SEID.
    let r = only(&n4(&mut gw, &association_setup(42, &node_id())));
    assert_eq!(r.cause(), Some(1));
    let seid = only(&n4(&mut gw, &establishment(43))).up_seid().unwrap();
    let mut del = pfcp(54, Some(seid), 44, &ie(0x7f00, &[0; 4]));
    del.truncate(del.len() - 2);
    let r = only(&n4(&mut gw, &del));
    assert_eq!((r.mtype, r.seq, r.cause()), (55, 44, Some(68)));
    assert_eq!(r.seid, Some(CP_SEID));
    let r = only(&n4(&mut gw, &pfcp(52, Some(seid), 45, &[])));
    assert_eq!(r.cause(), Some(1), "the session was not deleted");
}

/// pfcp-7.6.4-unknown-message: TS 29.244 section 7.6.4: "If a PFCP entity receives a message
/// with an unknown Message Type value, it shall silently discard the message", node message or
/// session message steered to a session's processor; the session is untouched.
#[test]
fn pfcp_7_6_4_unknown_message() {
    let (mut gw, _, seid) = with_session();
    assert!(n4(&mut gw, &pfcp(40, None, 50, &[])).is_empty());
    assert!(n4(&mut gw, &pfcp(90, Some(seid), 51, &[])).is_empty());
    let r = only(&n4(&mut gw, &pfcp(52, Some(seid), 52, &[])));
    assert_eq!(
        (r.mtype, r.cause()),
        (53, Some(1)),
        "the session is still there"
    );
}

/// pfcp-7.6.9-unknown-ie: TS 29.244 section 7.6.9: an IE of unknown type is silently
/// discarded and the message processed as if it were absent, at the top level and inside a
/// grouped IE.
#[test]
fn pfcp_7_6_9_unknown_ie() {
    let mut gw = associated();
    let mut ies = ie(0x7f00, b"future");
    ies.extend(establishment_ies());
    let r = only(&n4(&mut gw, &pfcp(50, Some(0), 60, &ies)));
    assert_eq!((r.mtype, r.cause()), (51, Some(1)));
    let mut ies = node_id();
    ies.extend(ie(0x7f01, &[1, 2]));
    ies.extend(rts(1));
    let r = only(&n4(&mut gw, &pfcp(5, None, 61, &ies)));
    assert_eq!((r.mtype, r.cause()), (6, Some(1)));
}

/// pfcp-7.4.4.1-association-mandatory: TS 29.244 section 7.4.4.1 (table 7.4.4.1-1: Node ID
/// and Recovery Time Stamp mandatory) and 7.6.6: an Association Setup Request lacking one is
/// rejected with Mandatory IE missing (66) and the Offending IE naming it; no association is
/// made (a Session Establishment Request is then refused with cause 72).
#[test]
fn pfcp_7_4_4_1_association_mandatory() {
    let mut gw = Gw::new();
    let r = only(&n4(&mut gw, &pfcp(5, None, 70, &node_id())));
    assert_eq!((r.mtype, r.cause(), r.offending()), (6, Some(66), Some(96)));
    let r = only(&n4(&mut gw, &pfcp(5, None, 71, &rts(1))));
    assert_eq!((r.mtype, r.cause(), r.offending()), (6, Some(66), Some(60)));
    let r = only(&n4(&mut gw, &establishment(72)));
    assert_eq!(r.cause(), Some(72));
}

/// pfcp-8.2.38-node-id-types: TS 29.244 section 8.2.38: the Node ID is an IPv4 address (type
/// 0), an IPv6 address (type 1) or an FQDN (type 2); an association is set up for each, and a
/// Session Establishment Request naming the same Node ID is served under it.
#[test]
fn pfcp_8_2_38_node_id_types() {
    let mut gw = Gw::new();
    let mut v6 = vec![1];
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    let fqdn = b"\x02\x03smf\x07example";
    for (seq, node) in [(80, ie(60, &v6)), (81, ie(60, fqdn))] {
        let r = only(&n4(&mut gw, &association_setup(seq, &node)));
        assert_eq!((r.mtype, r.cause()), (6, Some(1)), "Node ID {node:?}");
    }
    let mut ies = ie(60, fqdn);
    ies.extend_from_slice(&establishment_ies()[node_id().len()..]);
    let r = only(&n4(&mut gw, &pfcp(50, Some(0), 82, &ies)));
    assert_eq!(
        (r.mtype, r.cause()),
        (51, Some(1)),
        "served under the FQDN association"
    );
}

/// pfcp-7.6.8-node-id-incorrect: TS 29.244 sections 7.6.6 to 7.6.8 and 8.2.38: a Node ID of
/// a type not defined (3 to 15 are spare) is semantically incorrect: the Association Setup
/// Request is rejected with Mandatory IE incorrect (69) and the Offending IE naming the Node
/// ID, not with Mandatory IE missing.
#[test]
fn pfcp_7_6_8_node_id_incorrect() {
    let mut gw = Gw::new();
    let r = only(&n4(
        &mut gw,
        &association_setup(90, &ie(60, &[5, 10, 0, 0, 1])),
    ));
    assert_eq!((r.mtype, r.cause(), r.offending()), (6, Some(69), Some(60)));
}

/// pfcp-7.4.4.5-association-release: TS 29.244 sections 6.2.6.3 and 7.4.4.5: an Association
/// Release Request of an associated CP function is answered with Node ID and Request accepted
/// and the association ends (its next Session Establishment Request is refused with No
/// established PFCP Association, 72); an Association Update or Release Request from a CP
/// function without association is refused with 72 (table 8.2.1-1).
#[test]
fn pfcp_7_4_4_5_association_release() {
    let mut gw = associated();
    let r = only(&n4(&mut gw, &pfcp(9, None, 100, &node_id())));
    assert_eq!((r.mtype, r.cause()), (10, Some(1)));
    assert!(r.ie(60).is_some(), "Node ID");
    let r = only(&n4(&mut gw, &establishment(101)));
    assert_eq!(r.cause(), Some(72));
    let r = only(&n4(&mut gw, &pfcp(7, None, 102, &node_id())));
    assert_eq!((r.mtype, r.cause()), (8, Some(72)));
    let r = only(&n4(&mut gw, &pfcp(9, None, 103, &node_id())));
    assert_eq!((r.mtype, r.cause()), (10, Some(72)));
}

/// ts23007-19a-own-recovery-time-stamp: TS 23.007 clause 19A and TS 29.244 sections 7.4.2.2
/// and 7.4.4.2: the UP function's one Recovery Time Stamp (the time it last started) is what
/// its Heartbeat Response and its Association Setup Response carry, the same value, so a CP
/// function comparing either with the one stored sees no restart.
#[test]
fn ts23007_19a_own_recovery_time_stamp() {
    let mut gw = Gw::new();
    let hb = only(&n4(&mut gw, &heartbeat(1)));
    let assoc = only(&n4(&mut gw, &association_setup(2, &node_id())));
    assert_eq!(assoc.cause(), Some(1));
    assert!(hb.ie(96).is_some());
    assert_eq!(hb.ie(96), assoc.ie(96));
    let again = only(&n4(&mut gw, &heartbeat(3)));
    assert_eq!(again.ie(96), hb.ie(96), "unchanged while the node runs");
}

/// pfcp-8.2.65-recovery-time-stamp: TS 29.244 section 8.2.65: the Recovery Time Stamp is the
/// time the PFCP entity started, encoded as the first four octets of the RFC 5905 section 6
/// timestamp (seconds since 1900-01-01 00:00 UTC). The UP function's, in its Heartbeat and
/// Association Setup Responses, is such a time: a second of this century (era 0, so its high
/// bit is set, RFC 5905 section 6), not a restart counter (which a CP function, and tshark,
/// would read as a second of 1900 or of February 2036).
#[test]
fn pfcp_8_2_65_recovery_time_stamp() {
    // 2020-01-01 00:00:00 UTC in NTP seconds: 50 years of 365 days and 12 leap days, plus the
    // 70 years from 1900 to 1970 (2 208 988 800 s, RFC 5905 figure 4).
    const Y2020: u32 = 2_208_988_800 + (50 * 365 + 12) * 86_400;
    let mut gw = Gw::new();
    let hb = only(&n4(&mut gw, &heartbeat(1)));
    let assoc = only(&n4(&mut gw, &association_setup(2, &node_id())));
    for (what, m) in [
        ("heartbeat response", &hb),
        ("association setup response", &assoc),
    ] {
        let v: [u8; 4] = m.ie(96).unwrap().try_into().unwrap();
        let rts = u32::from_be_bytes(v);
        assert!(
            rts >= Y2020,
            "{what}: Recovery Time Stamp {rts} is not a time since 2020"
        );
    }
    assert_eq!(hb.ie(96), assoc.ie(96));
}

/// pfcp-8.2.38-node-id-spare: TS 29.244 section 8.2.38: the Node ID Type is bits 4 to 1 of
/// octet 5, bits 8 to 5 are spare, and spare bits are ignored by the receiver (section
/// 8.1.1): an Association Setup Request whose Node ID has them set is accepted as type IPv4,
/// and the association is the same Node ID's.
#[test]
fn pfcp_8_2_38_node_id_spare() {
    let mut gw = Gw::new();
    let mut v = vec![0xf0];
    v.extend_from_slice(&SGSN);
    let r = only(&n4(&mut gw, &association_setup(110, &ie(60, &v))));
    assert_eq!((r.mtype, r.cause()), (6, Some(1)));
    let r = only(&n4(&mut gw, &establishment(111)));
    assert_eq!(
        r.cause(),
        Some(1),
        "served under the association of IPv4 Node ID"
    );
}

/// pfcp-8.2.25-ftup: TS 29.244 sections 7.4.4.2 and 8.2.25: the Association Setup Response of a
/// UP function that allocates F-TEIDs (CHOOSE) carries UP Function Features with FTUP, which
/// is octet 5 bit 5 (octet 5 bit 1 is BUCP, downlink data buffering in the CP function, which
/// this UP function does not claim). Checked with this file's reading and with Wireshark's.
#[test]
fn pfcp_8_2_25_ftup() {
    let mut gw = Gw::new();
    let out = n4(&mut gw, &association_setup(120, &node_id()));
    let r = only(&out);
    let features = r.ie(43).expect("UP Function Features");
    assert_eq!(features[0] & 0x10, 0x10, "FTUP: octet 5 bit 5");
    assert_eq!(features[0] & 0x01, 0, "not BUCP");
    #[cfg(feature = "pcap")]
    if common::have_tshark() {
        let cap = captured("pfcp-ftup", &out);
        cap.assert_clean("frame");
        let fields = [
            "pfcp.up_function_features.ftup",
            "pfcp.up_function_features.bucp",
        ];
        let text = cap.fields("pfcp", &fields);
        let ftup = text.trim().split('|').next().unwrap_or_default().to_owned();
        let bucp = text.trim().split('|').nth(1).unwrap_or_default().to_owned();
        assert!(ftup == "1" || ftup == "True", "tshark FTUP: {text}");
        assert!(bucp == "0" || bucp == "False", "tshark BUCP: {text}");
    }
}

/// Wireshark's PFCP dissector as a second opinion on the answers as the gateway sent them
/// (sections 7.4.2.2, 7.4.4.2, 7.5.3, 7.5.7 and the IE layouts of section 8.2): no malformed
/// packet, the Node ID, Causes, the UP F-SEID (V4 and the gateway's address), the Created PDR's
/// PDR ID and F-TEID (V4, not CHOOSE, the TEID and address this file reads).
#[cfg(feature = "pcap")]
#[test]
fn tshark_reads_the_pfcp_answers() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let mut gw = Gw::new();
    let mut answers = n4(&mut gw, &association_setup(1, &node_id()));
    let est = n4(&mut gw, &establishment(2));
    let r = only(&est);
    let seid = r.up_seid().unwrap();
    let created = r.ie(8).expect("Created PDR");
    let mut ies = Vec::new();
    let mut rest = created;
    while !rest.is_empty() {
        let t = u16::from_be_bytes([rest[0], rest[1]]);
        let l = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        ies.push((t, &rest[4..4 + l]));
        rest = &rest[4 + l..];
    }
    let fteid = ies.iter().find(|(t, _)| *t == 21).expect("F-TEID").1;
    let teid = u32::from_be_bytes(fteid[1..5].try_into().unwrap());
    answers.extend(est);
    answers.extend(n4(&mut gw, &heartbeat(3)));
    answers.extend(n4(&mut gw, &pfcp(54, Some(seid), 4, &[])));
    assert_eq!(answers.len(), 4);
    let cap = captured("pfcp-answers", &answers);
    cap.assert_clean("frame");
    let fields = [
        "pfcp.msg_type",
        "pfcp.node_id_ipv4",
        "pfcp.cause",
        "pfcp.f_seid_flags.v4",
        "pfcp.f_seid.ipv4",
        "pfcp.pdr_id",
        "pfcp.f_teid_flags.v4",
        "pfcp.f_teid_flags.ch",
        "pfcp.f_teid.teid",
        "pfcp.f_teid.ipv4_addr",
    ];
    let out = cap.fields("pfcp", &fields);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 4, "{out}");
    let gw_ip = std::net::Ipv4Addr::from(GW).to_string();
    let yes = |s: &str| s == "1" || s == "True";
    let no = |s: &str| s == "0" || s == "False";
    let a = &lines[0];
    assert_eq!((a[0], a[1], a[2]), ("6", gw_ip.as_str(), "1"), "{out}");
    let e = &lines[1];
    assert_eq!((e[0], e[1], e[2]), ("51", gw_ip.as_str(), "1"), "{out}");
    assert!(yes(e[3]) && e[4] == gw_ip && e[5] == "1", "{out}");
    assert!(yes(e[6]) && no(e[7]), "{out}");
    let got = u32::from_str_radix(e[8].trim_start_matches("0x"), 16)
        .or_else(|_| e[8].parse())
        .unwrap();
    assert_eq!((got, e[9]), (teid, gw_ip.as_str()), "{out}");
    assert_eq!(lines[2][0], "2", "{out}");
    assert_eq!((lines[3][0], lines[3][2]), ("55", "1"), "{out}");
}

/// pfcp-7.5.5-unknown-vid: TS 29.244 sections 7.5.5, 7.5.7 and 7.2.2.4.2: a Session
/// Modification or Deletion Request for a session the UP function does not have is answered
/// with Session context not found (65), header SEID 0, the request's sequence number; here its
/// SEID names a VID no processor holds, so the line interface answers (no processor could).
#[test]
fn pfcp_7_5_5_unknown_vid() {
    let mut gw = associated();
    let seid = 0xee00_0000_0000_0001;
    let r = only(&n4(&mut gw, &pfcp(52, Some(seid), 0x0012_3401, &[])));
    assert_eq!(
        (r.mtype, r.seid, r.seq, r.cause()),
        (53, Some(0), 0x0012_3401, Some(65))
    );
    let r = only(&n4(&mut gw, &pfcp(54, Some(seid), 0x0012_3402, &[])));
    assert_eq!(
        (r.mtype, r.seid, r.seq, r.cause()),
        (55, Some(0), 0x0012_3402, Some(65))
    );
    let mut short = pfcp(54, Some(seid), 0x0012_3403, &rts(1));
    short.truncate(short.len() - 1);
    let r = only(&n4(&mut gw, &short));
    assert_eq!(
        (r.mtype, r.cause()),
        (55, Some(68)),
        "Invalid length first (7.6.3)"
    );
    assert!(
        n4(&mut gw, &pfcp(90, Some(seid), 5, &[])).is_empty(),
        "other types: dropped"
    );
}

// ------------------------------------------------------------------ 7.2.2.1: bundles (FO)

/// An associated gateway with two sessions (CP SEIDs `CP_SEID` and `CP_SEID + 1`) and their UP
/// SEIDs.
fn with_two_sessions() -> (Gw, u64, u64) {
    let (mut gw, _, a) = with_session();
    let r = only(&n4(
        &mut gw,
        &pfcp(50, Some(0), 3, &establishment_ies_for(CP_SEID + 1)),
    ));
    assert_eq!((r.mtype, r.cause()), (51, Some(1)));
    let b = r.up_seid().expect("UP F-SEID");
    assert_ne!(a, b);
    (gw, a, b)
}

/// The answers, each a datagram of its own back to the SMF, sorted by sequence number (the
/// messages of a bundle may be served by different processors).
fn by_seq(out: &[Transmit]) -> Vec<Pfcp> {
    assert!(
        out.iter().all(|t| t.dst == smf()),
        "answered to the source: {out:?}"
    );
    let mut r: Vec<Pfcp> = out.iter().map(|t| Pfcp::decode(&t.payload)).collect();
    r.sort_by_key(|m| m.seq);
    r
}

/// pfcp-7.2.2.1-follow-on: TS 29.244 section 7.2.2.1: with the FO (Follow On) flag set to "1"
/// another PFCP message follows in the same UDP/IP datagram (section 6.5, PFCP message
/// bundling, Release 16). A bundle of a Session Modification Request and a Session Deletion
/// Request, built octet by octet from figure 7.2.2.1-1 (octet 1: version 1 in bits 8-6, FO
/// bit 3, MP bit 2, S bit 1; octet 2 the type; octets 3-4 the Length, the octets after the
/// first four; octets 5-12 the SEID; 13-15 the sequence number; 16 spare), for two sessions:
/// each message is served as if it had come alone (steered by its own SEID), each answered in
/// a datagram of its own with FO = 0, carrying its own sequence number and its CP SEID.
#[test]
fn pfcp_7_2_2_1_follow_on() {
    let (mut gw, a, b) = with_two_sessions();
    let mut bundle = vec![0x25, 52, 0x00, 0x0c]; // v1, FO = 1, S = 1; Modification; Length 12
    bundle.extend(a.to_be_bytes());
    bundle.extend([0x00, 0x01, 0x61, 0x00]); // sequence 0x000161, spare
    bundle.extend([0x21, 54, 0x00, 0x0c]); // v1, FO = 0, S = 1; Deletion; Length 12
    bundle.extend(b.to_be_bytes());
    bundle.extend([0x00, 0x01, 0x62, 0x00]);
    assert_eq!(bundle.len(), 32);
    let r = by_seq(&n4(&mut gw, &bundle));
    let got: Vec<_> = r
        .iter()
        .map(|m| (m.flags, m.mtype, m.seid, m.seq, m.cause()))
        .collect();
    assert_eq!(
        got,
        [
            (0x21, 53, Some(CP_SEID), 0x161, Some(1)),
            (0x21, 55, Some(CP_SEID + 1), 0x162, Some(1)),
        ]
    );
    let r = only(&n4(&mut gw, &pfcp(52, Some(a), 0x163, &[])));
    assert_eq!(r.cause(), Some(1), "the first session is held");
    let r = only(&n4(&mut gw, &pfcp(52, Some(b), 0x164, &[])));
    assert_eq!(r.cause(), Some(65), "the second was deleted");
    // FO = 1 and nothing after it: the message is whole (its Length matches the datagram) and
    // is served; no follower is there to answer.
    let r = only(&n4(&mut gw, &pfcp_raw(0x04, 52, Some(a), 0x165, 0, &[])));
    assert_eq!((r.mtype, r.seq, r.cause()), (53, 0x165, Some(1)));
    let r = only(&n4(&mut gw, &pfcp_raw(0x04, 1, None, 0x166, 0, &rts(1))));
    assert_eq!(
        (r.mtype, r.seq),
        (2, 0x166),
        "a node message with FO = 1 alone"
    );
}

/// pfcp-7.2.2.1-bundle-each-alone: TS 29.244 section 7.2.2.1 (FO) and section 7.6: each message
/// of a bundle is judged alone. A Heartbeat Request (to the switch processor), a Modification
/// Request of a held session (Request accepted), one naming no session (Session context not
/// found, 65, header SEID 0: sections 7.5.5 and 7.2.2.4.2), one of an unknown type (silently
/// discarded, 7.6.4) and a last Deletion Request whose Length claims more octets than are left
/// (Invalid length, 68, 7.6.3; the session is not deleted); and at most `MAX_BUNDLE` messages
/// of one datagram are taken, the rest discarded unread.
#[test]
fn pfcp_7_2_2_1_bundle_each_alone() {
    let (mut gw, _, seid) = with_session();
    let fo = 0x04;
    let mut bundle = pfcp_raw(fo, 1, None, 0x200, 0, &rts(1));
    bundle.extend(pfcp_raw(fo, 52, Some(seid), 0x201, 0, &[]));
    bundle.extend(pfcp_raw(fo, 52, Some(0xee00_0000_0000_0001), 0x202, 0, &[]));
    bundle.extend(pfcp_raw(fo, 90, Some(seid), 0x203, 0, &[]));
    let mut short = pfcp_raw(0, 54, Some(seid), 0x204, 0, &ie(0x7f00, &[0; 4]));
    short.truncate(short.len() - 2);
    bundle.extend(short);
    let r = by_seq(&n4(&mut gw, &bundle));
    let got: Vec<_> = r
        .iter()
        .map(|m| (m.mtype, m.seid, m.seq, m.cause()))
        .collect();
    assert_eq!(
        got,
        [
            (2, None, 0x200, None),
            (53, Some(CP_SEID), 0x201, Some(1)),
            (53, Some(0), 0x202, Some(65)),
            (55, Some(CP_SEID), 0x204, Some(68)),
        ]
    );
    assert_eq!(r[0].ie(96).map(<[u8]>::len), Some(4), "Recovery Time Stamp");
    let r = only(&n4(&mut gw, &pfcp(52, Some(seid), 0x205, &[])));
    assert_eq!(r.cause(), Some(1), "the session was not deleted");
    // MAX_BUNDLE + 1 Modification Requests in one datagram: the first MAX_BUNDLE are served.
    let n = telcp::steering::pfcp::MAX_BUNDLE;
    let mut bundle = Vec::new();
    for i in 0..=n {
        let fo = if i < n { 0x04 } else { 0 };
        bundle.extend(pfcp_raw(fo, 52, Some(seid), 0x300 + i as u32, 0, &[]));
    }
    let r = by_seq(&n4(&mut gw, &bundle));
    let seqs: Vec<u32> = r.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (0x300..0x300 + n as u32).collect::<Vec<_>>());
    assert!(r.iter().all(|m| m.mtype == 53 && m.cause() == Some(1)));
}

/// A capture of the gateway's answers `answers` (sent from its PFCP address), for tshark.
#[cfg(feature = "pcap")]
fn captured(tag: &str, answers: &[Transmit]) -> common::Capture {
    use std::time::Duration;
    use telcp::pcap::PcapWriter;
    common::Capture::written(tag, "pfcp.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        for (i, t) in answers.iter().enumerate() {
            let at = Duration::from_millis(i as u64);
            w.write_udp(at, upf(), t.dst, &t.payload).unwrap();
        }
        drop(w.into_inner());
    })
}

/// ts23007-19a-own-recovery-time-stamp, a restart: TS 23.007 clause 19A has a CP function take
/// a newer Recovery Time Stamp of its UP peer for a restart. The switch processor sends the
/// time it was given (`SwitchProcessor::set_recovery_time_stamp`); one never given it sends a
/// fixed instant plus its restart counter, so a restart with a new counter (TS 23.007 clause
/// 18) still announces a newer time stamp, a time of this century (TS 29.244 section 8.2.65).
#[test]
fn ts23007_19a_a_restart_counter_moves_the_recovery_time_stamp() {
    use telcp::steering::SwitchProcessor;
    const Y2020: u32 = 2_208_988_800 + (50 * 365 + 12) * 86_400;
    let now = std::time::Instant::now();
    let stamp = |recovery: u8| {
        let mut c = common::gtp::switch_config(3);
        c.recovery = recovery;
        SwitchProcessor::new(c, now).unwrap().recovery_time_stamp()
    };
    let (before, after) = (stamp(7), stamp(8));
    assert!(before >= Y2020, "{before}");
    assert!(
        after > before,
        "restart counter 7 -> 8: {before} -> {after}"
    );
    let gw = Gw::new();
    assert_eq!(gw.sp.recovery_time_stamp(), RECOVERY_TIME_STAMP);
}
