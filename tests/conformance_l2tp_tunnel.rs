//! RFC 2661 sections 3 and 5 (header, tunnel establishment, control channel), driving `Lns` and
//! `Lac` as a hand-written peer would. Each test is named after its row in
//! `conformance/rfc2661.toml`.

#[path = "conformance_support/l2tp.rs"]
mod support;

use support::*;

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
