//! The gateway's GTP error paths, on the deterministic simulator (`common::steering`): Error
//! Indication for a G-PDU naming no context (TS 29.281 section 7.3.1), Version Not Supported
//! (TS 29.060 section 7.2.3), Non-existent answers to requests naming no context (TS 29.060
//! section 7.3), each rate-limited under a flood.

mod common;

use common::steering::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use telcp::sim::NodeId;
use telcp::steering::gtp::{Cause, Ie, Message, MessageType};
use telcp::steering::line::DropReason;
use telcp::steering::processor::ProcessorEvent;
use telcp::steering::switch::SwitchEvent;
use telcp::steering::{Processor, SwitchProcessor, VirtualId};

// ---------------------------------------------------------------- Error Indication, Version Not Supported

/// A GTPv0 Echo Request (GSM 09.60: a 20-octet header, version 0, PT 1, spare bits set,
/// SNDCP N-PDU number and spare octets 0xff, TID 0), made by hand: scapy has no GTPv0.
fn gtpv0_echo_request(seq: u16) -> Vec<u8> {
    let mut b = vec![0x1e, 0x01, 0x00, 0x00];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&[0x00, 0x00, 0xff, 0xff, 0xff, 0xff]);
    b.extend_from_slice(&[0; 8]);
    b
}

#[test]
fn a_g_pdu_naming_no_context_is_answered_with_an_error_indication() {
    let mut gw = Gateway::new(21, 0.05, 1);
    gw.create_sessions(3);
    gw.settle();
    // A TEID naming no processor, and one naming no session at processor 11.
    let (no_vid, no_session) = gw.unknown_teids();
    for _ in 0..4 {
        gw.sgsn().g_pdu_to(2152, no_vid);
        // From another port (a peer behind a NAT): the Error Indication names it.
        gw.sgsn().g_pdu_to(40001, no_session);
        gw.sgsn().g_pdu_to(2152, 0); // TEID 0: never answered
        for i in 0..3 {
            gw.sgsn().g_pdu(i); // live sessions: never answered
        }
        gw.sim.run_for(Duration::from_millis(50));
    }
    gw.sim.run_for(Duration::from_millis(500));

    let line = gw.line(0).stats();
    let p11 = gw.proc(11).stats();
    assert!(line.drops(DropReason::UnknownVid) >= 1);
    assert_eq!(
        line.error_indications,
        line.drops(DropReason::UnknownVid),
        "every G-PDU naming no VID is answered (within the burst)"
    );
    assert!(p11.unknown_teid >= 1);
    assert_eq!(p11.error_indications, p11.unknown_teid);
    assert_eq!(
        line.error_indications_suppressed + p11.error_indications_suppressed,
        0
    );

    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    let eis = sgsn.error_indications();
    for teid in [no_vid, no_session] {
        assert!(
            eis.iter().any(|(_, _, m)| m.teid_data_i() == Some(teid)),
            "an Error Indication names {teid:#x}: {eis:?}"
        );
    }
    let live: Vec<u32> = sgsn.sessions.iter().map(|s| s.gw_teid_u).collect();
    for (from, to, m) in &eis {
        // To the G-PDU's source address, GTP-U port; from the address it was sent to.
        assert_eq!(*from, sa(GW_IP, 2152));
        assert_eq!(*to, sa(SGSN_IP, 2152));
        assert_eq!(m.header.teid, 0);
        assert_eq!(m.header.sequence, Some(0));
        assert_eq!(m.gtp_u_peer_address(), Some(gw_ip()));
        let teid = m.teid_data_i().unwrap();
        // The G-PDU's source port, when it is not the GTP-U port.
        assert_eq!(m.header.udp_port(), (teid == no_session).then_some(40001));
        assert!(teid != 0 && !live.contains(&teid), "{teid:#x}");
    }
    // Nothing changed for the live sessions.
    gw.update_sessions(0..3, Duration::ZERO);
    gw.sim.run_for(Duration::from_secs(2));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(sgsn.sessions.iter().all(|s| s.updates_ok == 1));
}

#[test]
fn a_flood_of_unknown_teids_gets_a_bounded_number_of_error_indications() {
    let mut gw = Gateway::new(22, 0.0, 1);
    let line = gw.lines[0];
    let layout = layout();
    let src = sa(SGSN_IP, 2152);
    let gu = sa(GW_IP, 2152);
    let spoof = |i: u32| {
        let teid = layout
            .compose(VirtualId::new(200).unwrap(), None, i & 0xffff)
            .unwrap();
        Message::g_pdu(teid, vec![0u8; 8]).to_vec().unwrap()
    };
    // 10 000 at one instant: only the burst (20) is answered.
    for i in 0..10_000 {
        let _ = gw.sim.deliver_now(line, src, gu, &spoof(i));
    }
    let s = gw.line(0).stats();
    assert_eq!(s.drops(DropReason::UnknownVid), 10_000);
    assert_eq!(s.error_indications, 20);
    assert_eq!(s.error_indications_suppressed, 9_980);
    assert_eq!(s.queue_full, 0);
    // Then 10 per millisecond for a second: the sustained rate (100/s), nothing more.
    for ms in 0..1000u32 {
        gw.sim.run_for(Duration::from_millis(1));
        for i in 0..10 {
            let _ = gw.sim.deliver_now(line, src, gu, &spoof(ms * 10 + i));
        }
    }
    let s = gw.line(0).stats();
    let sustained = s.error_indications - 20;
    assert!(
        (95..=120).contains(&sustained),
        "{sustained} Error Indications in a second"
    );
    assert_eq!(s.error_indications + s.error_indications_suppressed, 20_000);
    gw.sim.run_for(Duration::from_millis(100));
    let got = gw.sim.node::<Sgsn>(gw.sgsn).error_indications().len() as u64;
    assert_eq!(got, s.error_indications, "what was counted is what left");

    // The same at a processor: its own VID, no session, 2000 at one instant.
    let vid = gw.proc(12).vid().unwrap();
    for i in 0..2000u32 {
        let teid = layout.compose(vid, None, 0x8000 + i).unwrap();
        let pkt = Message::g_pdu(teid, vec![0u8; 8]).to_vec().unwrap();
        let _ = gw.sim.deliver_now(line, src, gu, &pkt);
    }
    gw.sim.run_for(Duration::from_millis(100));
    let p = gw.proc(12).stats();
    assert_eq!(p.unknown_teid, 2000);
    assert_eq!(p.error_indications + p.error_indications_suppressed, 2000);
    assert!(p.error_indications <= 21, "{}", p.error_indications);
}

#[test]
fn a_peers_error_indication_deletes_the_session_it_names() {
    let mut gw = Gateway::new(23, 0.05, 1);
    gw.create_sessions(4);
    gw.settle();
    assert_eq!(gw.sp().session_count(), 4);
    let victim = gw.sim.node::<Sgsn>(gw.sgsn).sessions[1].clone();
    let holders: Vec<u32> = PROCS
        .iter()
        .copied()
        .filter(|id| gw.proc(*id).has_session(victim.gw_teid_u))
        .collect();
    assert_eq!(holders.len(), 2, "a primary and a backup copy");
    // The SGSN lost the context: every downlink G-PDU would get an Error Indication naming its
    // own TEID for the session. Three of them, over a lossy path.
    let ei = Message::error_indication(victim.own_teid, IpAddr::V4(Ipv4Addr::from(SGSN_IP)), None);
    for _ in 0..3 {
        gw.sgsn().send_raw(2152, 2152, ei.to_vec().unwrap());
        gw.sim.run_for(Duration::from_millis(100));
    }
    gw.settle();
    for id in PROCS {
        assert!(
            !gw.proc(id).has_session(victim.gw_teid_u),
            "processor {id} still holds the session"
        );
    }
    assert_eq!(gw.sp().session_count(), 3);
    assert!(gw.sp().stats().error_indications_relayed >= 1);
    let torn: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().sessions_torn_down)
        .sum();
    // At least the primary's copy went by the Error Indication; the backup's went by it too, or
    // by the primary's replicated deletion if that came first.
    assert!(torn >= 1, "{torn}");
    // Reported as events: the switch processor relayed it, the holders deleted the session.
    let mut relayed = false;
    while let Some(e) = gw.sim.poll_event_of::<SwitchProcessor>(gw.sp) {
        relayed |= e
            == SwitchEvent::ErrorIndication {
                teid: victim.own_teid,
                peer: IpAddr::V4(Ipv4Addr::from(SGSN_IP)),
            };
    }
    assert!(relayed);
    let mut reported = Vec::new();
    for id in holders.iter().copied() {
        let node = gw.procs[&id];
        while let Some(e) = gw.sim.poll_event_of::<Processor>(node) {
            if let ProcessorEvent::SessionErrorIndication { teid, as_backup } = e {
                assert_eq!(teid, victim.gw_teid_u);
                reported.push((id, as_backup));
            }
        }
    }
    assert!(
        reported.iter().any(|(_, b)| !b),
        "the primary reported it: {reported:?}"
    );
    // An Error Indication with a non-zero header TEID is steered straight to a processor, not
    // through the switch processor's rate limit: it is refused there, and session 0 survives.
    let s0 = gw.sim.node::<Sgsn>(gw.sgsn).sessions[0].clone();
    let mut direct =
        Message::error_indication(s0.own_teid, IpAddr::V4(Ipv4Addr::from(SGSN_IP)), None);
    direct.header.teid = s0.gw_teid_u;
    for _ in 0..3 {
        gw.sgsn().send_raw(2152, 2152, direct.to_vec().unwrap());
    }
    gw.sim.run_for(Duration::from_millis(300));
    assert!(
        PROCS
            .iter()
            .any(|id| gw.proc(*id).has_session(s0.gw_teid_u))
    );
    assert_eq!(gw.sp().session_count(), 3);
    // The other sessions are untouched; the victim's Update is refused as Non-existent.
    gw.update_sessions(0..4, Duration::ZERO);
    gw.sim.run_for(Duration::from_secs(3));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for (i, s) in sgsn.sessions.iter().enumerate() {
        assert_eq!(s.updates_ok, u32::from(i != 1), "session {i}");
    }
    assert!(sgsn.responses.iter().any(|m| {
        m.message_type() == MessageType::UPDATE_PDP_CONTEXT_RESPONSE
            && m.cause() == Some(Cause::NON_EXISTENT)
    }));
}

/// A GTP header of version 3 (no such version: TS 29.274 section 5.1 reserves the field's
/// other values), message type 1.
fn gtp_version_3_header() -> Vec<u8> {
    vec![0x60, 0x01, 0x00, 0x04, 0x00, 0x00, 0x01, 0x00]
}

/// GTPv0 and unknown versions on the GTP-C port get a Version Not Supported naming the latest
/// version the gateway supports (TS 29.060 section 11.1.1, TS 29.274 section 7.7.2): a GTPv0
/// message the GTPv1 one; a version 3 message the GTPv2 Version Not Supported Indication, as
/// GTPv1 and GTPv2-C are both served (see tests/steering_4g.rs).
#[test]
fn gtp_c_of_other_versions_is_answered_with_version_not_supported() {
    let mut gw = Gateway::new(24, 0.05, 1);
    let directed = gw.sp().stats().setups_directed;
    let sgsn = |gw: &Gateway| {
        let s = gw.sim.node::<Sgsn>(gw.sgsn);
        let v1: Vec<_> = s
            .version_not_supported()
            .into_iter()
            .map(|(from, to, m)| (from, to, m.to_vec().unwrap()))
            .collect();
        (v1, s.unparsed.clone())
    };
    let kinds = [
        ("GTPv0 Echo Request", gtpv0_echo_request(9), 1),
        ("a version 3 header", gtp_version_3_header(), 2),
    ];
    for (what, bytes, version) in &kinds {
        let (v1, v2) = sgsn(&gw);
        for _ in 0..3 {
            gw.sgsn().send_raw(2123, 2123, bytes.clone());
            gw.sim.run_for(Duration::from_millis(100));
        }
        gw.sim.run_for(Duration::from_millis(300));
        let (v1_now, v2_now) = sgsn(&gw);
        let (new, want) = match version {
            1 => (
                &v1_now[v1.len()..],
                Message::version_not_supported().to_vec().unwrap(),
            ),
            _ => (&v2_now[v2.len()..], vec![0x40, 3, 0, 4, 0, 0, 0, 0]),
        };
        assert!(!new.is_empty(), "{what} is answered");
        assert_eq!(
            (v1_now.len() - v1.len()) + (v2_now.len() - v2.len()),
            new.len(),
            "{what}: one kind of answer"
        );
        for (from, to, m) in new {
            assert_eq!(*from, sa(GW_IP, 2123));
            assert_eq!(*to, sa(SGSN_IP, 2123), "back to the sender's port");
            assert_eq!(*m, want, "{what}: version {version}, header only");
        }
    }
    let sp = gw.sp().stats();
    let line = gw.line(0).stats();
    assert!(line.other_version >= 3);
    assert!(sp.version_not_supported >= 3, "one kind at least once each");
    assert_eq!(
        sp.version_not_supported_suppressed, 0,
        "all within the burst"
    );
    assert_eq!(sp.setups_directed, directed, "nothing was set up");
    assert!(
        PROCS
            .iter()
            .all(|id| gw.proc(*id).stats().l2tp_packets == 0)
    );

    // A peer's own Version Not Supported (type 3, here of GTPv0 and GTPv2) is never answered:
    // no ping-pong.
    let answered = gw.sp().stats().version_not_supported;
    for _ in 0..3 {
        gw.sgsn().send_raw(
            2123,
            2123,
            vec![0x40, 0x03, 0x00, 0x04, 0x00, 0x00, 0x07, 0x00],
        );
        let mut v0 = gtpv0_echo_request(3);
        v0[1] = 0x03;
        gw.sgsn().send_raw(2123, 2123, v0);
    }
    gw.sim.run_for(Duration::from_millis(300));
    assert_eq!(gw.sp().stats().version_not_supported, answered);
    // A GTPv2 datagram to the GTP-U port is no GTP-C (GTP-U is version 1 only, TS 29.281
    // section 5.1): dropped there, not answered, never at the switch processor.
    let from_line = gw.sp().stats().from_line;
    gw.sgsn().send_raw(2152, 2152, vector("gtpv2_echo_request"));
    gw.sim.run_for(Duration::from_millis(300));
    assert_eq!(gw.sp().stats().version_not_supported, answered);
    assert_eq!(gw.sp().stats().from_line, from_line);
}

#[test]
fn a_flood_of_other_versions_gets_a_bounded_number_of_version_not_supported() {
    let mut gw = Gateway::new(25, 0.0, 1);
    let line = gw.lines[0];
    let src = sa(SGSN_IP, 2123);
    let gc = sa(GW_IP, 2123);
    let echo = gtpv0_echo_request(1);
    for _ in 0..2000 {
        let _ = gw.sim.deliver_now(line, src, gc, &echo);
    }
    gw.sim.run_for(Duration::from_millis(100));
    let sp = gw.sp().stats();
    assert_eq!(gw.line(0).stats().other_version, 2000);
    assert_eq!(sp.version_not_supported, 20, "the burst");
    assert_eq!(sp.version_not_supported_suppressed, 1980);
    let got = gw.sim.node::<Sgsn>(gw.sgsn).version_not_supported().len();
    assert_eq!(got, 20);
}

// ---------------------------------------------------------------- requests naming no context

/// A session slot at the SGSN whose gateway TEIDs are `teid`: its Update and Delete requests
/// name that TEID.
fn forged_slot(gw: &mut Gateway, teid: u32) -> usize {
    let sgsn = gw.sgsn();
    sgsn.sessions.push(SgsnSession {
        nsapi: 5,
        own_teid: 0x7700_0000 + teid % 0x100,
        gw_teid_c: teid,
        gw_teid_u: teid,
        ..Default::default()
    });
    sgsn.sessions.len() - 1
}

/// The responses the SGSN took of `t` with sequence number `seq`.
fn responses_to(sgsn: &Sgsn, t: MessageType, seq: u16) -> Vec<&Message<'static>> {
    sgsn.responses
        .iter()
        .filter(|m| m.message_type() == t && m.header.sequence == Some(seq))
        .collect()
}

#[test]
fn an_update_or_delete_naming_no_context_is_answered_non_existent() {
    let mut gw = Gateway::new(27, 0.05, 1);
    gw.create_sessions(3);
    gw.settle();
    // A TEID naming no processor, and one naming no session at processor 11.
    let (no_vid, no_session) = gw.unknown_teids();
    let mut asked = Vec::new();
    for teid in [no_vid, no_session] {
        let idx = forged_slot(&mut gw, teid);
        let now = gw.sim.now();
        gw.sgsn().update(now, idx);
        let upd = gw.sgsn().seq;
        gw.sim.run_for(Duration::from_millis(20));
        let now = gw.sim.now();
        gw.sgsn().delete(now, idx);
        let del = gw.sgsn().seq;
        asked.push((teid, idx, upd, del));
        gw.sim.run_for(Duration::from_millis(20));
    }
    // The SGSN retransmits until answered, over the lossy path.
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(50), Duration::from_secs(10), |s| {
            s.node::<Sgsn>(NodeId(0)).outstanding.is_empty()
        });
    assert!(ok, "every request was answered");

    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for &(teid, idx, upd, del) in &asked {
        let s = &sgsn.sessions[idx];
        assert_eq!(s.updates_ok, 0, "{teid:#x}");
        assert_eq!(s.deleted, Some(Cause::NON_EXISTENT), "{teid:#x}");
        for (t, seq) in [
            (MessageType::UPDATE_PDP_CONTEXT_RESPONSE, upd),
            (MessageType::DELETE_PDP_CONTEXT_RESPONSE, del),
        ] {
            let r = responses_to(sgsn, t, seq);
            assert_eq!(
                r.len(),
                1,
                "{teid:#x}: one {t:?} with sequence number {seq}"
            );
            let m = r[0];
            // The context is unknown, so the peer's control TEID is too: TEID 0.
            assert_eq!(m.header.teid, 0, "{teid:#x}");
            assert_eq!(m.cause(), Some(Cause::NON_EXISTENT));
            assert_eq!(m.ies().len(), 1, "Cause only: {m:?}");
        }
    }
    assert!(sgsn.response_sources.iter().all(|a| *a == sa(GW_IP, 2123)));
    assert!(sgsn.error_indications().is_empty());

    let line = gw.line(0).stats();
    // The requests naming VID 200 were answered by the line interface, every copy that
    // arrived, within the burst; the others by processor 11.
    assert!(line.drops(DropReason::UnknownVid) >= 2);
    assert_eq!(line.non_existent, line.drops(DropReason::UnknownVid));
    assert_eq!(line.non_existent_suppressed, 0);
    assert!(gw.proc(11).stats().unknown_teid >= 2);
    assert_eq!(gw.sp().session_count(), 3, "nothing changed in the gateway");
    // The live sessions are untouched.
    gw.update_sessions(0..3, Duration::ZERO);
    gw.sim.run_for(Duration::from_secs(2));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(sgsn.sessions[..3].iter().all(|s| s.updates_ok == 1));
}

#[test]
fn a_flood_of_requests_naming_no_context_gets_a_bounded_number_of_answers() {
    let mut gw = Gateway::new(28, 0.0, 1);
    let line = gw.lines[0];
    let layout = layout();
    let src = sa(SGSN_IP, 2123);
    let gc = sa(GW_IP, 2123);
    let forged = |i: u32| {
        let teid = layout
            .compose(VirtualId::new(200).unwrap(), None, i & 0xffff)
            .unwrap();
        let t = if i % 2 == 0 {
            MessageType::UPDATE_PDP_CONTEXT_REQUEST
        } else {
            MessageType::DELETE_PDP_CONTEXT_REQUEST
        };
        Message::new(t, teid, i as u16, vec![Ie::Nsapi(5)])
            .to_vec()
            .unwrap()
    };
    // 10 000 at one instant: only the burst (20) is answered.
    for i in 0..10_000 {
        let _ = gw.sim.deliver_now(line, src, gc, &forged(i));
    }
    let s = gw.line(0).stats();
    assert_eq!(s.drops(DropReason::UnknownVid), 10_000);
    assert_eq!(s.non_existent, 20);
    assert_eq!(s.non_existent_suppressed, 9_980);
    assert_eq!(s.queue_full, 0);
    assert_eq!(s.error_indications + s.error_indications_suppressed, 0);
    // Then 10 per millisecond for a second: the sustained rate (100/s), nothing more.
    for ms in 0..1000u32 {
        gw.sim.run_for(Duration::from_millis(1));
        for i in 0..10 {
            let _ = gw.sim.deliver_now(line, src, gc, &forged(ms * 10 + i));
        }
    }
    let s = gw.line(0).stats();
    let sustained = s.non_existent - 20;
    assert!(
        (95..=120).contains(&sustained),
        "{sustained} Non-existent answers in a second"
    );
    assert_eq!(s.non_existent + s.non_existent_suppressed, 20_000);
    gw.sim.run_for(Duration::from_millis(100));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert_eq!(
        sgsn.response_sources.len() as u64,
        s.non_existent,
        "what was counted is what left"
    );

    // Responses naming no context, requests without a sequence number and other requests are
    // dropped unanswered (and take no token).
    let answered = s.non_existent + s.non_existent_suppressed;
    gw.sim.run_for(Duration::from_secs(1));
    let teid = layout
        .compose(VirtualId::new(200).unwrap(), None, 9)
        .unwrap();
    let resp = Message::new(
        MessageType::UPDATE_PDP_CONTEXT_RESPONSE,
        teid,
        1,
        vec![Ie::Cause(Cause::NON_EXISTENT)],
    );
    let mut no_seq = Message::new(MessageType::DELETE_PDP_CONTEXT_REQUEST, teid, 0, vec![]);
    no_seq.header.sequence = None;
    let create = Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, teid, 2, vec![]);
    for m in [resp, no_seq, create] {
        let _ = gw.sim.deliver_now(line, src, gc, &m.to_vec().unwrap());
    }
    // An Update to the GTP-U port is no GTP-C request there.
    let _ = gw
        .sim
        .deliver_now(line, sa(SGSN_IP, 2152), sa(GW_IP, 2152), &forged(0));
    let s = gw.line(0).stats();
    assert_eq!(s.drops(DropReason::UnknownVid), 20_004);
    assert_eq!(s.non_existent + s.non_existent_suppressed, answered);
    assert_eq!(s.error_indications + s.error_indications_suppressed, 0);

    // The same at a processor: its own VID, no session, 2000 at one instant.
    gw.sim.run_for(Duration::from_millis(100));
    let before = gw.sim.node::<Sgsn>(gw.sgsn).response_sources.len();
    let vid = gw.proc(12).vid().unwrap();
    for m in updates_naming_no_session(vid, 2000) {
        let _ = gw.sim.deliver_now(line, src, gc, &m.to_vec().unwrap());
    }
    gw.sim.run_for(Duration::from_millis(100));
    let p = gw.proc(12).stats();
    assert_eq!(p.unknown_teid, 2000);
    let got = gw.sim.node::<Sgsn>(gw.sgsn).response_sources.len() - before;
    assert!(got <= 21, "{got} Non-existent answers from the processor");
    assert_eq!(got as u64 + p.non_existent_suppressed, 2000);
}

/// TS 29.060 section 11.1.2: a request whose Length disagrees with the datagram is answered with
/// Cause Invalid message format (193). Such requests are not authenticated, so the answers are
/// bounded as every other unauthenticated answer is (a token bucket: the default burst of 20 at
/// one instant), at the switch processor (Create PDP Context Requests) and at a processor
/// (Update / Delete naming its VID); what is not answered is counted.
#[test]
fn a_flood_of_length_inconsistent_requests_gets_a_bounded_number_of_answers() {
    let mut gw = Gateway::new(29, 0.0, 1);
    let line = gw.lines[0];
    let src = sa(SGSN_IP, 2123);
    let gc = sa(GW_IP, 2123);
    let padded = |m: Message| {
        let mut b = m.to_vec().unwrap();
        b.push(0); // one octet the Length field does not count
        b
    };
    let before = gw.sim.node::<Sgsn>(gw.sgsn).response_sources.len();
    for i in 0..2000u32 {
        let create = Message::new(
            MessageType::CREATE_PDP_CONTEXT_REQUEST,
            0,
            i as u16,
            vec![Ie::Nsapi(5)],
        );
        let _ = gw.sim.deliver_now(line, src, gc, &padded(create));
    }
    gw.sim.run_for(Duration::from_millis(100));
    let sp = gw.sp().stats();
    assert_eq!(sp.length_errors, 20, "the burst");
    assert_eq!(sp.length_errors_suppressed, 1980);
    assert_eq!(sp.setups_refused, 2000);
    let got = gw.sim.node::<Sgsn>(gw.sgsn).response_sources.len() - before;
    assert_eq!(got, 20, "what was counted is what left");
    // A second later the bucket has refilled: answered again.
    gw.sim.run_for(Duration::from_secs(1));
    let create = Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, 0, 1, vec![]);
    let _ = gw.sim.deliver_now(line, src, gc, &padded(create));
    gw.sim.run_for(Duration::from_millis(100));
    assert_eq!(gw.sp().stats().length_errors, 21);

    // At a processor: Updates naming its own VID.
    let before = gw.sim.node::<Sgsn>(gw.sgsn).response_sources.len();
    let vid = gw.proc(12).vid().unwrap();
    for m in updates_naming_no_session(vid, 2000) {
        let _ = gw.sim.deliver_now(line, src, gc, &padded(m));
    }
    gw.sim.run_for(Duration::from_millis(100));
    let p = gw.proc(12).stats();
    assert_eq!(p.length_errors, 20, "the burst");
    assert_eq!(p.length_errors_suppressed, 1980);
    let got = gw.sim.node::<Sgsn>(gw.sgsn).response_sources.len() - before;
    assert_eq!(got, 20, "what was counted is what left");
}

/// `n` Update PDP Context Requests naming TEIDs of `vid` that no session holds (local ids from
/// 0x8000), sequence numbers 0, 1, ...
fn updates_naming_no_session(vid: VirtualId, n: u32) -> impl Iterator<Item = Message<'static>> {
    let layout = layout();
    (0..n).map(move |i| {
        let teid = layout.compose(vid, None, 0x8000 + i).unwrap();
        Message::new(
            MessageType::UPDATE_PDP_CONTEXT_REQUEST,
            teid,
            i as u16,
            vec![],
        )
    })
}

/// Every fabric address a steering role sends to is a usable destination: port 0 is reserved
/// (RFC 6335 section 6) and the unspecified address is never a destination (RFC 1122 section
/// 3.2.1.3 (a), RFC 4291 section 2.5.2). A switch processor's line interfaces, a processor's
/// line interface and a line interface's switch processor at either are refused with
/// `ConfigError::UnusableAddress` naming the field (the health peers, by the monitor).
#[test]
fn a_steering_role_refuses_an_unusable_peer_address() {
    use std::net::SocketAddr;
    use std::time::Instant;
    use telcp::steering::LineInterface;
    use telcp::steering::{ConfigError, ConfigField};
    let now = Instant::now();
    for bad in ["10.0.0.1:0", "0.0.0.0:2152", "[::]:2152"] {
        let addr: SocketAddr = bad.parse().unwrap();
        let unusable = |field| Some(ConfigError::UnusableAddress { field, addr });
        let good = switch_config(&["10.1.0.1:7000".parse().unwrap()]);
        let mut c = good.clone();
        c.line_interfaces.push(addr);
        assert_eq!(
            SwitchProcessor::new(c, now).err(),
            unusable(ConfigField::LineInterfaces)
        );
        let mut c = processor_config(11, 1);
        c.line_addr = addr;
        assert_eq!(
            Processor::new(c, now).err(),
            unusable(ConfigField::LineAddr)
        );
        let mut c = line_config(1);
        c.switch_addr = addr;
        assert_eq!(
            LineInterface::new(c, now).err(),
            unusable(ConfigField::SwitchAddr)
        );
    }
    assert!(SwitchProcessor::new(switch_config(&["10.1.0.1:7000".parse().unwrap()]), now).is_ok());
    assert!(Processor::new(processor_config(11, 1), now).is_ok());
    assert!(LineInterface::new(line_config(1), now).is_ok());
}
