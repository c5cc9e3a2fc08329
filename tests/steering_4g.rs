//! The 4G story over the steering gateway (issue 17 item 3), on the deterministic simulator with
//! loss, duplication and reordering (`common::steering` with the MME of `common::mme`): Create
//! Session placed by the switch processor, bearer traffic as G-PDUs, Modify Bearer and Delete
//! Session steered by the TEID's VID, a processor failure served by the backup with no session
//! lost; the switch processor sees only set-ups and node messages; every answer carries the
//! cause TS 29.274 asks for. Seeds: 40..44, or the range `STEERING_SWEEP=a..b` (plus
//! `STEERING_SEED`).

mod common;

use common::steering::*;
use std::time::Duration;
use telcp::sim::{NodeId, Sim};
use telcp::steering::fabric::VidState;
use telcp::steering::gtpv2::{CauseValue, IeType, IeValue, Message, MessageType};
use telcp::steering::{LineInterface, RefusedSetup, VirtualId};

const MME_NODE: NodeId = NodeId(0);

fn gateway(seed: u64, loss: f64) -> Gateway {
    let mme = Mme::new(MME_IP.into(), sa(GW_IP, 2123));
    let mut gw = Gateway::with_peer(seed, loss, 1, ("mme", MME_IP), Box::new(mme));
    gw.mme().n3 = 24;
    gw.sim.set_trace_limit(1_000_000);
    gw
}

trait MmeWorld {
    fn mme(&mut self) -> &mut Mme;
    fn mme_ref(&self) -> &Mme;
    fn run_until_mme(&mut self, what: &str, done: impl Fn(&Mme) -> bool);
}

impl MmeWorld for Gateway {
    fn mme(&mut self) -> &mut Mme {
        self.sim.node_mut::<Mme>(MME_NODE)
    }
    fn mme_ref(&self) -> &Mme {
        self.sim.node::<Mme>(MME_NODE)
    }
    fn run_until_mme(&mut self, what: &str, done: impl Fn(&Mme) -> bool) {
        let ok = self.sim.run_until_cond(
            Duration::from_millis(50),
            Duration::from_secs(30),
            |s: &mut Sim| done(s.node::<Mme>(MME_NODE)),
        );
        assert!(ok, "{what}: not every request was answered");
    }
}

/// Sends a request for each of `n` sessions with `f`, 10 ms apart, then runs until `done`.
fn each(
    gw: &mut Gateway,
    n: usize,
    what: &str,
    f: impl Fn(&mut Mme, std::time::Instant, usize),
    done: impl Fn(&Mme) -> bool,
) {
    for i in 0..n {
        let now = gw.sim.now();
        f(gw.mme(), now, i);
        gw.sim.run_for(Duration::from_millis(10));
    }
    gw.run_until_mme(what, done);
}

/// The whole story for one seed: `n` sessions, traffic, Modify Bearer, a processor failure,
/// Modify Bearer and traffic again, Delete Session.
fn story(seed: u64, loss: f64, n: usize) {
    let mut gw = gateway(seed, loss);
    let layout = layout();
    let now = gw.sim.now();
    gw.mme().echo(now);
    each(
        &mut gw,
        n,
        "Create Session",
        |m, now, i| {
            m.create(now, &format!("00101{:010}", i), 5);
        },
        move |m| m.sessions.iter().all(|s| s.created.is_some()),
    );
    gw.run_until_mme("Echo", |m| m.echo_recovery.is_some());
    // TS 29.274 section 7.1.2: the Echo Response carries the sender's Recovery (the switch's).
    assert_eq!(gw.mme_ref().echo_recovery, Some(7));
    let sessions = gw.mme_ref().sessions.clone();
    for s in &sessions {
        // TS 29.274 section 8.4: Request accepted (16).
        assert_eq!(s.created.unwrap().value, CauseValue::REQUEST_ACCEPTED);
        assert_eq!(s.created.unwrap().value.0, 16);
        // Control and user TEIDs carry a processor's VID and a different backup VID.
        let (p, b) = (
            layout.primary(s.gw_teid_c).unwrap(),
            layout.backup(s.gw_teid_c).unwrap(),
        );
        assert_ne!(p, b);
        assert_eq!(layout.primary(s.gw_teid_u), Some(p));
        let holder = gw.proc_by_vid(p).unwrap();
        assert!(gw.proc(holder).has_session(s.gw_teid_c));
        // The PDN address is in the slice of the UE pool of the processor's VID.
        let ue = u32::from(s.ue.unwrap());
        assert_eq!(
            (ue >> layout.local_bits()) & 0xff,
            u32::from(p.get()),
            "{:?}",
            s.ue
        );
    }
    // TS 29.274 section 5.5.2: each Create Session Response carries the MME's S11 TEID.
    for r in &gw.mme_ref().responses {
        if r.message_type() == MessageType::CREATE_SESSION_RESPONSE {
            let gw_teid = r.fteid(0).unwrap().teid;
            let s = sessions.iter().find(|s| s.gw_teid_c == gw_teid).unwrap();
            assert_eq!(r.header.teid, Some(s.mme_teid));
        }
    }
    gw.settle();
    // The backup holds every session before any failure.
    for s in &sessions {
        let b = gw.proc_by_vid(layout.backup(s.gw_teid_c).unwrap()).unwrap();
        assert!(gw.proc(b).has_session(s.gw_teid_c));
    }
    // Bearer traffic: every G-PDU steered to the processor holding the session.
    let before: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().user_packets)
        .sum();
    for i in 0..n {
        for _ in 0..3 {
            gw.mme().g_pdu(i);
        }
    }
    gw.sim.run_for(Duration::from_secs(1));
    let after: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().user_packets)
        .sum();
    assert!(after > before, "no G-PDU reached a processor");
    assert_eq!(
        gw.line(0)
            .stats()
            .drops(telcp::steering::line::DropReason::UnknownVid),
        0
    );
    each(
        &mut gw,
        n,
        "Modify Bearer",
        |m, now, i| m.modify(now, i),
        move |m| m.sessions.iter().all(|s| !s.modified.is_empty()),
    );
    gw.settle();
    // A processor fails: its sessions' backups serve Modify Bearer and traffic.
    let victim = 12;
    let victim_vid = gw.proc(victim).vid().unwrap();
    let on_victim = sessions
        .iter()
        .filter(|s| layout.primary(s.gw_teid_c) == Some(victim_vid))
        .count();
    let node = gw.procs[&victim];
    gw.sim.crash(node);
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<LineInterface>(NodeId(1)).table().state(victim_vid) == Some(VidState::Down)
        });
    assert!(ok, "the failed processor was never marked down");
    each(
        &mut gw,
        n,
        "Modify Bearer after the failure",
        |m, now, i| {
            m.modify(now, i);
            m.g_pdu(i);
        },
        move |m| m.sessions.iter().all(|s| s.modified.len() >= 2),
    );
    let mme = gw.mme_ref();
    // 0 sessions lost: every session answered Request accepted again.
    for s in &mme.sessions {
        assert!(s.modified_ok() >= 2, "a session was lost: {s:?}");
        assert!(
            s.modified
                .iter()
                .all(|c| *c == CauseValue::REQUEST_ACCEPTED),
            "{s:?}"
        );
    }
    if on_victim > 0 {
        assert!(gw.line(0).stats().to_backup >= on_victim as u64);
        let by_backup: u64 = PROCS
            .iter()
            .filter(|id| **id != victim)
            .map(|id| gw.proc(*id).stats().served_backup)
            .sum();
        assert!(by_backup >= on_victim as u64);
    }
    each(
        &mut gw,
        n,
        "Delete Session",
        |m, now, i| m.delete(now, i),
        move |m| m.sessions.iter().all(|s| s.deleted.is_some()),
    );
    for s in &gw.mme_ref().sessions {
        assert_eq!(s.deleted.unwrap().value, CauseValue::REQUEST_ACCEPTED);
    }
    gw.settle();
    for id in PROCS.iter().filter(|id| **id != victim) {
        assert_eq!(
            gw.proc(*id).session_count(),
            0,
            "processor {id} kept a deleted session"
        );
    }
    // The switch processor saw only set-ups and node messages: every datagram a line interface
    // passed to it is a GTPv2-C message with T = 0 (Echo) or TEID 0 (Create Session Request).
    let inputs = gw.switch_inputs();
    assert!(!inputs.is_empty());
    for d in &inputs {
        let m = telcp::steering::gtpv2::parse(d).unwrap();
        assert!(m.header.teid.is_none_or(|t| t == 0), "{m:?}");
        let t = m.message_type();
        assert!(t == MessageType::ECHO_REQUEST || t == MessageType::CREATE_SESSION_REQUEST);
    }
    assert!(gw.mme_ref().sent_steered > 0);
}

/// Conformance: gtpv2-7.1.2-echo-recovery, gtpv2-7.2.2-accepted, gtpv2-5.5.2-response-teid,
/// gtpv2-7.2.8-modify-accepted, gtpv2-7.2.10-delete-accepted.
#[test]
fn story_4g_without_loss() {
    story(1, 0.0, 12);
}

/// tshark dissects every GTPv2-C message of the story (the MME's and the gateway's) with no
/// error item nor malformed packet.
#[test]
fn tshark_reads_the_4g_story() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let mut gw = gateway(7, 0.0);
    let now = gw.sim.now();
    gw.mme().echo(now);
    let idx = gw.mme().create(now, "001010000000007", 5);
    gw.run_until_mme("Create Session", |m| m.sessions[idx].created.is_some());
    let now = gw.sim.now();
    gw.mme().modify(now, idx);
    gw.mme().g_pdu(idx);
    gw.run_until_mme("Modify Bearer", |m| !m.sessions[idx].modified.is_empty());
    let now = gw.sim.now();
    gw.mme().delete(now, idx);
    gw.run_until_mme("Delete Session", |m| m.sessions[idx].deleted.is_some());
    let cap = Capture::new(&gw, "4g", "story.pcap");
    cap.assert_clean("(gtpv2 || gtp)");
    let out = cap.fields(
        "gtpv2 && ip.src == 10.0.0.1",
        &["gtpv2.message_type", "gtpv2.cause"],
    );
    let lines: Vec<&str> = out.lines().collect();
    // Echo Response (2), then Create Session (33), Modify Bearer (35) and Delete Session (37)
    // Responses with Request accepted (16; the first also inside the Bearer Context).
    assert!(lines.contains(&"2|"), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("33|16")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("35|16")), "{out}");
    assert!(lines.contains(&"37|16"), "{out}");
}

#[test]
fn story_4g_with_loss_over_many_seeds() {
    let range = std::env::var("STEERING_SWEEP")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some(a.parse::<u64>().ok()?..b.parse::<u64>().ok()?)
        })
        .unwrap_or(40..44);
    let mut failed = Vec::new();
    for seed in range.clone() {
        if std::panic::catch_unwind(|| story(seed, 0.05, 16)).is_err() {
            eprintln!("4G story failed for seed {seed} (plus STEERING_SEED)");
            failed.push(seed);
        }
    }
    assert!(
        failed.is_empty(),
        "4G story failed for seeds {failed:?} of {range:?}"
    );
}

/// The Cause IE's offending IE type (TS 29.274 section 8.4).
fn offending(m: &Message<'_>) -> Option<IeType> {
    m.cause().and_then(|c| c.offending).map(|o| o.ie_type)
}

/// Conformance: gtpv2-8.4-mandatory-missing, gtpv2-7.2.8-context-not-found.
///
/// TS 29.274 section 8.4 and table 7.2.1-1: a Create Session Request without the mandatory
/// Sender F-TEID for Control Plane is refused with Mandatory IE missing (70), naming the F-TEID
/// (87); Modify Bearer and Delete Session naming a TEID no session holds get Context Not Found
/// (64) with header TEID 0 (section 5.5.2); an Echo Request gets the Echo Response.
#[test]
fn refusals_carry_the_ts_29274_causes() {
    let mut gw = gateway(3, 0.0);
    let now = gw.sim.now();
    let mut ies = gw
        .mme_ref()
        .create_ies("001010000000099", 5, 0x1234, 0x5678);
    ies.retain(|ie| ie.ie_type() != IeType::F_TEID);
    let missing = gw
        .mme()
        .raw(now, MessageType::CREATE_SESSION_REQUEST, Some(0), ies);
    let vid = gw.proc(11).vid().unwrap();
    let unknown = layout().compose(vid, None, 0x7777).unwrap();
    let m1 = gw.mme().raw(
        now,
        MessageType::MODIFY_BEARER_REQUEST,
        Some(unknown),
        vec![],
    );
    let ebi = telcp::steering::gtpv2::Ie::new(IeValue::Ebi(5));
    let m2 = gw.mme().raw(
        now,
        MessageType::DELETE_SESSION_REQUEST,
        Some(unknown),
        vec![ebi],
    );
    gw.sim.run_for(Duration::from_secs(2));
    let mme = gw.mme_ref();
    let answer = |t: MessageType| {
        mme.responses
            .iter()
            .find(|r| r.message_type() == t)
            .unwrap_or_else(|| panic!("no {t:?}"))
    };
    let csr = answer(MessageType::CREATE_SESSION_RESPONSE);
    assert_eq!(csr.cause_value(), Some(CauseValue::MANDATORY_IE_MISSING));
    assert_eq!(csr.cause_value().unwrap().0, 70);
    assert_eq!(offending(csr), Some(IeType::F_TEID));
    for t in [
        MessageType::MODIFY_BEARER_RESPONSE,
        MessageType::DELETE_SESSION_RESPONSE,
    ] {
        let r = answer(t);
        assert_eq!(r.cause_value(), Some(CauseValue::CONTEXT_NOT_FOUND));
        assert_eq!(r.cause_value().unwrap().0, 64);
        assert_eq!(r.header.teid, Some(0));
    }
    assert_eq!(mme.sessions[missing].created.unwrap().value.0, 70);
    assert_eq!(
        mme.sessions[m1].modified,
        vec![CauseValue::CONTEXT_NOT_FOUND]
    );
    assert_eq!(
        mme.sessions[m2].deleted.unwrap().value,
        CauseValue::CONTEXT_NOT_FOUND
    );
    // None of these three reached the switch processor but the Create Session Request.
    assert_eq!(gw.sp().stats().from_line, 1);
}

/// Conformance: gtpv2-7.2.2-no-resources.
///
/// TS 29.274 section 7.2.2 and 8.4: with every processor full, a Create Session Request is
/// refused with No resources available (73), header TEID the MME's.
#[test]
fn a_full_gateway_answers_no_resources_available() {
    let mut gw = gateway(4, 0.0);
    for id in PROCS {
        let n = gw.procs[&id];
        gw.sim.crash(n);
    }
    gw.sim.run_for(Duration::from_secs(3));
    let now = gw.sim.now();
    let idx = gw.mme().create(now, "001010000000123", 5);
    gw.run_until_mme("Create Session", |m| m.sessions[idx].created.is_some());
    let mme = gw.mme_ref();
    assert_eq!(
        mme.sessions[idx].created.unwrap().value,
        CauseValue::NO_RESOURCES_AVAILABLE
    );
    assert_eq!(mme.sessions[idx].created.unwrap().value.0, 73);
    let r = mme
        .responses
        .iter()
        .find(|r| r.message_type() == MessageType::CREATE_SESSION_RESPONSE)
        .unwrap();
    assert_eq!(r.header.teid, Some(mme.sessions[idx].mme_teid));
    let sequence = r.header.sequence;
    let _ = VirtualId::new(1);
    // The switch processor's event names the request, the Cause value it sent, the MME and the
    // sequence number the answer repeated.
    assert_eq!(
        gw.refused_setups(),
        vec![(
            RefusedSetup::CreateSession {
                cause: CauseValue::NO_RESOURCES_AVAILABLE
            },
            sa(MME_IP, 2123),
            sequence
        )]
    );
}

/// Conformance: gtpv2-7.2.2-unknown-apn.
///
/// TS 29.274 section 7.2.2: the Create Session Response's Cause tells the MME why a request was
/// rejected; table 8.4-1 gives Missing or unknown APN (78) for a request whose APN the gateway
/// does not serve (as 219 in GTPv1, TS 29.060 section 7.3.2). The response then carries the
/// Cause (section 7.2.2: the other IEs are for an accepted request) and the MME's S11 TEID in
/// its header (section 5.5.2). TS 23.003 section 9.1: an APN is compared case aside, with or
/// without its Operator Identifier.
#[test]
fn an_apn_not_served_is_refused_with_missing_or_unknown_apn() {
    let mme = Mme::new(MME_IP.into(), sa(GW_IP, 2123));
    let shape = Shape {
        apns: vec!["ims".into()],
        ..Shape::default()
    };
    let mut gw = Gateway::with_shape(6, 0.0, 1, ("mme", MME_IP), Box::new(mme), shape);
    let now = gw.sim.now();
    let with_apn = |mut ies: Vec<telcp::steering::gtpv2::Ie<'static>>, apn: &str| {
        for ie in &mut ies {
            if ie.ie_type() == IeType::APN {
                let apn = telcp::steering::gtpv2::Apn::from_name(apn).unwrap();
                *ie = telcp::steering::gtpv2::Ie::new(IeValue::Apn(apn));
            }
        }
        ies
    };
    // create_ies asks for "internet".
    let internet = gw
        .mme_ref()
        .create_ies("001010000000071", 5, 0x7101, 0x7102);
    let refused = gw
        .mme()
        .raw(now, MessageType::CREATE_SESSION_REQUEST, Some(0), internet);
    let ims = with_apn(
        gw.mme_ref()
            .create_ies("001010000000072", 5, 0x7201, 0x7202),
        "IMS.mnc001.mcc001.gprs",
    );
    let served = gw
        .mme()
        .raw(now, MessageType::CREATE_SESSION_REQUEST, Some(0), ims);
    gw.sim.run_for(Duration::from_secs(2));
    let mme = gw.mme_ref();
    let refusal = mme.sessions[refused].created.expect("answered");
    assert_eq!(refusal.value, CauseValue::MISSING_OR_UNKNOWN_APN);
    assert_eq!(refusal.value.0, 78);
    let r = mme
        .responses
        .iter()
        .find(|r| r.cause_value() == Some(CauseValue::MISSING_OR_UNKNOWN_APN))
        .expect("the refusal");
    assert_eq!(r.message_type(), MessageType::CREATE_SESSION_RESPONSE);
    assert_eq!(r.header.teid, Some(0x7101));
    assert!(r.fteid(0).is_none(), "no gateway F-TEID in a refusal");
    assert_eq!(
        mme.sessions[served].created.map(|c| c.value),
        Some(CauseValue::REQUEST_ACCEPTED)
    );
    let held: usize = PROCS.iter().map(|&id| gw.proc(id).session_count()).sum();
    assert_eq!(held, 1, "only the served APN's session");
}
