//! Steering under spoofed and excess input, on the deterministic simulator (`common::steering`):
//! spoofed VIDs and TEIDs dropped with counted reasons, set-ups beyond capacity refused, floods
//! bounded, bad set-ups refused with the protocol's causes.

mod common;

use common::steering::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use telcp::sim::NodeId;
use telcp::steering::VirtualId;
use telcp::steering::fabric::FabricMessage;
use telcp::steering::gtp::{Cause, EndUserAddress, Ie, Imsi, Message, MessageType};
use telcp::steering::line::DropReason;

// ---------------------------------------------------------------- spoofing

#[test]
fn spoofed_vids_and_teids_are_dropped_with_counted_reasons() {
    let mut gw = Gateway::new(9, 0.0, 1);
    gw.create_sessions(4);
    gw.settle();
    let layout = layout();
    let attacker = sa([203, 0, 113, 66], 2152);
    let gu = sa(GW_IP, 2152);
    let gc = sa(GW_IP, 2123);
    let from_line = gw.sp().stats().from_line;
    // Unknown VID (200 is not assigned): dropped at the line interface.
    let spoof = layout
        .compose(VirtualId::new(200).unwrap(), None, 1)
        .unwrap();
    for _ in 0..10 {
        gw.sim.inject(
            attacker,
            gu,
            Message::g_pdu(spoof, vec![1u8; 20]).to_vec().unwrap(),
        );
    }
    // Known VID, unknown local part: reaches the processor, which drops (G-PDU) or refuses it.
    let vid = gw.proc(11).vid().unwrap();
    let unknown = layout.compose(vid, None, 0x7777).unwrap();
    for _ in 0..5 {
        gw.sim.inject(
            attacker,
            gu,
            Message::g_pdu(unknown, vec![1u8; 20]).to_vec().unwrap(),
        );
    }
    let upd = Message::new(MessageType::UPDATE_PDP_CONTEXT_REQUEST, unknown, 99, vec![]);
    gw.sim
        .inject(sa([203, 0, 113, 66], 2123), gc, upd.to_vec().unwrap());
    // Garbage and a zero-TEID G-PDU.
    gw.sim.inject(attacker, gu, vec![0xde, 0xad]);
    gw.sim.inject(
        attacker,
        gu,
        Message::g_pdu(0, vec![1u8; 4]).to_vec().unwrap(),
    );
    gw.sim.run_for(Duration::from_millis(200));
    let s = gw.line(0).stats();
    assert_eq!(s.drops(DropReason::UnknownVid), 10);
    assert_eq!(s.drops(DropReason::Malformed), 1);
    assert_eq!(s.drops(DropReason::ZeroId), 1);
    assert_eq!(gw.proc(11).stats().unknown_teid, 6);
    // No state changed: every session is still there and served.
    gw.update_sessions(0..4, Duration::ZERO);
    gw.sim.run_for(Duration::from_secs(1));
    assert!(
        gw.sim
            .node::<Sgsn>(gw.sgsn)
            .sessions
            .iter()
            .all(|s| s.updates_ok == 1)
    );
    assert_eq!(
        gw.sp().stats().from_line,
        from_line,
        "none reached the switch"
    );
    // Fabric messages from outside the fabric's trusted senders are refused: no reflection
    // through the line interface, no forged VID at a processor.
    let forged = FabricMessage::Transmit {
        from: sa(GW_IP, 2123),
        to: sa([198, 51, 100, 7], 2123),
        data: std::borrow::Cow::Borrowed(b"reflect me"),
    };
    let sent_before = gw.line(0).stats().transmitted;
    gw.sim.inject(attacker, li_fabric(1), forged.to_vec());
    let forged_vid = FabricMessage::VidAssign {
        processor: telcp::health::NodeId(11),
        incarnation: 1,
        vid: VirtualId::new(99).unwrap(),
    };
    gw.sim.inject(attacker, p_fabric(11), forged_vid.to_vec());
    gw.sim.run_for(Duration::from_millis(50));
    assert_eq!(gw.line(0).stats().transmitted, sent_before);
    assert!(gw.line(0).stats().fabric_refused >= 1);
    assert_eq!(gw.proc(11).vid(), Some(vid));
}

// ---------------------------------------------------------------- bounds

#[test]
fn setups_beyond_capacity_are_refused_with_no_resources() {
    let mut gw = Gateway::new(12, 0.0, 1);
    // 4 processors x 100 sessions; a processor at 95 % takes no new session.
    let n = 450;
    for i in 0..n {
        let now = gw.sim.now();
        gw.sgsn().create(now, &format!("00102{:010}", i), 5);
        if i % 10 == 9 {
            gw.sim.run_for(Duration::from_millis(150));
        }
    }
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(100), Duration::from_secs(20), |s| {
            s.node::<Sgsn>(NodeId(0))
                .sessions
                .iter()
                .all(|x| x.created.is_some())
        });
    assert!(ok);
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    let accepted = sgsn.created();
    let refused = sgsn
        .sessions
        .iter()
        .filter(|s| s.created == Some(Cause::NO_RESOURCES_AVAILABLE))
        .count();
    assert_eq!(
        accepted + refused,
        n,
        "every set-up accepted or refused with No resources"
    );
    assert!((360..=400).contains(&accepted), "accepted {accepted}");
    for id in PROCS {
        assert!(gw.proc(id).session_count() <= 100);
    }
    assert!(gw.sp().session_count() <= 400);
    // The accepted sessions are all intact and served.
    let idx: Vec<usize> = (0..n)
        .filter(|&i| {
            gw.sim.node::<Sgsn>(gw.sgsn).sessions[i].created == Some(Cause::REQUEST_ACCEPTED)
        })
        .take(20)
        .collect();
    gw.update_sessions(idx.iter().copied(), Duration::ZERO);
    gw.sim.run_for(Duration::from_secs(1));
    for &i in &idx {
        assert_eq!(gw.sim.node::<Sgsn>(gw.sgsn).sessions[i].updates_ok, 1);
    }
}

#[test]
fn a_flood_of_spoofed_packets_is_dropped_and_counted() {
    let mut gw = Gateway::new(13, 0.0, 1);
    let line = gw.lines[0];
    let layout = layout();
    let attacker = sa([203, 0, 113, 9], 2152);
    let gu = sa(GW_IP, 2152);
    let mut rng = telcp::Rng::seed_from_u64(3);
    let assigned: Vec<u16> = PROCS
        .iter()
        .map(|id| gw.proc(*id).vid().unwrap().get())
        .collect();
    let mut unknown = 0u64;
    for _ in 0..100_000 {
        let teid = rng.next_u32() | 1;
        let p = layout.primary_raw(teid);
        if !assigned.contains(&p) {
            unknown += 1;
            let pkt = Message::g_pdu(teid, vec![0u8; 8]).to_vec().unwrap();
            let _ = gw.sim.deliver_now(line, attacker, gu, &pkt);
        }
    }
    let s = gw.line(0).stats();
    assert_eq!(s.drops(DropReason::UnknownVid), unknown);
    assert_eq!(s.to_primary + s.to_backup + s.to_switch, 0);
    assert_eq!(s.queue_full, 0, "nothing was queued for a dropped packet");
}

#[test]
fn processors_refuse_bad_setups_with_the_protocols_causes() {
    let mut gw = Gateway::new(14, 0.0, 1);
    let sgsn_ip = IpAddr::V4(Ipv4Addr::from(SGSN_IP));
    let now = gw.sim.now();
    // No TEID Control Plane: Mandatory IE missing.
    let a = gw.sgsn().raw_create(
        now,
        vec![
            Ie::Imsi(Imsi::from_digits("001019000000001").unwrap()),
            Ie::TeidDataI(7),
            Ie::Nsapi(5),
            Ie::GsnAddress(sgsn_ip),
            Ie::GsnAddress(sgsn_ip),
        ],
    );
    // An IPv6 End User Address: Unknown PDP address or PDP type.
    let b = gw.sgsn().raw_create(
        now,
        vec![
            Ie::Imsi(Imsi::from_digits("001019000000002").unwrap()),
            Ie::TeidDataI(8),
            Ie::TeidControl(8),
            Ie::Nsapi(5),
            Ie::EndUserAddress(EndUserAddress {
                organization: 0xf1,
                pdp_type: EndUserAddress::IPV6,
                address: Default::default(),
            }),
            Ie::GsnAddress(sgsn_ip),
            Ie::GsnAddress(sgsn_ip),
            // complete otherwise, so the PDP type is what is refused (TS 29.060 11.1.5 first)
            Ie::QosProfile(std::borrow::Cow::Borrowed(&[0, 0x0b, 0x92, 0x1f])),
        ],
    );
    gw.sim.run_for(Duration::from_millis(300));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert_eq!(sgsn.sessions[a].created, Some(Cause::MANDATORY_IE_MISSING));
    assert_eq!(
        sgsn.sessions[b].created,
        Some(Cause::UNKNOWN_PDP_ADDRESS_OR_TYPE)
    );
    let refused: u64 = PROCS.iter().map(|id| gw.proc(*id).stats().refused).sum();
    assert_eq!(refused, 2);
    let sessions: usize = PROCS.iter().map(|id| gw.proc(*id).session_count()).sum();
    assert_eq!(sessions, 0, "a refused set-up leaves no state");
}
