//! The steering claims about where sessions go, on the deterministic simulator with loss
//! (`common::steering`): set-up through the switch processor to a processor chosen by load
//! (claims 1-3), session packets bypassing the switch (claim 4), versioned tables (claim 5), VID
//! assignment and reuse (claim 7), L2TP identifiers carrying the VID (claim 8), and the line
//! interface's fast path read directly.

mod common;

use common::steering::*;
use std::collections::HashMap;
use std::time::Duration;
use telcp::health::NodeId as HealthId;
use telcp::l2tp::wire::{ControlMessage, DataMessage, Message as L2tpMessage};
use telcp::steering::fabric::{FabricMessage, VidState};
use telcp::steering::gtp::{Cause, Message, MessageType};
use telcp::steering::line::{DropReason, Verdict};
use telcp::steering::processor::ProcessorEvent;
use telcp::steering::switch::SwitchEvent;
use telcp::steering::{Processor, RefusedSetup, SwitchProcessor, VirtualId};

// ---------------------------------------------------------------- claims 1-3

#[test]
fn claims_1_2_3_setup_goes_through_the_switch_to_a_processor_selected_by_load() {
    let mut gw = Gateway::new(1, 0.05, 1);
    let from_line_before = gw.sp().stats().from_line;
    // One set-up per heartbeat interval and a half, so the switch sees each new load.
    gw.create_sessions_every(40, Duration::from_millis(150));
    let layout = layout();
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert_eq!(sgsn.created(), 40, "every session is accepted");
    let sessions = sgsn.sessions.clone();
    // Claim 3: the replies came back through the line interface, from the gateway's address.
    assert!(sgsn.response_sources.iter().all(|a| *a == sa(GW_IP, 2123)));
    assert!(gw.line(0).stats().transmitted >= 40);

    // Claim 1: the line interface passed every set-up (and its retransmissions) to the switch.
    assert!(gw.line(0).stats().to_switch >= 40);
    assert!(gw.sp().stats().from_line - from_line_before >= 40);
    // Claim 2: the switch directed each to a processor, with a different backup.
    assert!(gw.sp().stats().setups_directed >= 40);
    let mut per_proc: HashMap<u32, usize> = HashMap::new();
    let mut ues = std::collections::HashSet::new();
    for s in &sessions {
        let p = layout
            .primary(s.gw_teid_c)
            .expect("the TEID carries a primary VID");
        let b = layout
            .backup(s.gw_teid_c)
            .expect("the TEID carries a backup VID");
        assert_ne!(p, b, "the backup is a different processor");
        // Claim 3: the processor that holds the session is the one whose VID the TEIDs carry.
        let holder = gw
            .proc_by_vid(p)
            .expect("the primary VID names a live processor");
        assert!(gw.proc(holder).has_session(s.gw_teid_c));
        assert_eq!(s.gw_teid_u, s.gw_teid_c);
        let backup = gw
            .proc_by_vid(b)
            .expect("the backup VID names a live processor");
        assert!(
            gw.proc(backup).has_session(s.gw_teid_c),
            "replicated to the backup"
        );
        *per_proc.entry(holder).or_default() += 1;
        assert!(ues.insert(s.ue.expect("an End User Address")));
    }
    // Retransmitted requests (lossy links) created no second session.
    let total: usize = PROCS.iter().map(|id| gw.proc(*id).session_count()).sum();
    assert_eq!(total, 40);
    // By load: least loaded first, so the 40 sessions spread evenly over the 4 processors.
    assert_eq!(per_proc.len(), 4, "{per_proc:?}");
    let (min, max) = (
        per_proc.values().min().unwrap(),
        per_proc.values().max().unwrap(),
    );
    assert!(max - min <= 2, "uneven spread {per_proc:?}");
    gw.settle();
    for id in PROCS {
        let load = gw.sp().monitor().load(telcp::health::NodeId(id)).unwrap();
        assert_eq!(load.used as usize, per_proc[&id], "health carries the load");
    }
}

#[test]
fn switch_answers_echo_and_refuses_when_no_processor() {
    let mut gw = Gateway::new(2, 0.0, 1);
    let now = gw.sim.now();
    gw.sgsn().echo(now);
    gw.sim.run_for(Duration::from_millis(100));
    assert_eq!(gw.sgsn().echo_recovery, Some(7));
    assert_eq!(gw.sp().stats().echoes, 1);
    for id in PROCS {
        let n = gw.procs[&id];
        gw.sim.crash(n);
    }
    gw.sim.run_for(Duration::from_secs(2));
    let now = gw.sim.now();
    gw.sgsn().create(now, "001019999999999", 1);
    gw.sim.run_for(Duration::from_millis(200));
    assert_eq!(
        gw.sgsn().sessions[0].created,
        Some(Cause::NO_RESOURCES_AVAILABLE)
    );
    // The event says which request was refused and with the Cause sent (TS 29.060 section
    // 7.7.1: No resources available, 199), from the SGSN's address.
    let refused = gw.refused_setups();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let (request, peer, _) = refused[0];
    assert_eq!(
        request,
        RefusedSetup::CreatePdpContext {
            cause: Cause::NO_RESOURCES_AVAILABLE
        }
    );
    assert_eq!(Cause::NO_RESOURCES_AVAILABLE.0, 199);
    assert_eq!(peer.ip(), std::net::IpAddr::from(SGSN_IP));
}

// ---------------------------------------------------------------- claim 4

#[test]
fn claim_4_session_packets_bypass_the_switch() {
    let mut gw = Gateway::new(3, 0.05, 1);
    gw.create_sessions(20);
    gw.settle();
    let sp_before = gw.sp().stats().from_line;
    let user_before: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().user_packets)
        .sum();
    for round in 0..5 {
        for i in 0..20 {
            gw.sgsn().g_pdu(i);
            if round == 0 {
                let now = gw.sim.now();
                gw.sgsn().update(now, i);
            }
        }
        gw.sim.run_for(Duration::from_millis(200));
    }
    gw.sim.run_for(Duration::from_secs(5));
    assert_eq!(
        gw.sp().stats().from_line,
        sp_before,
        "the switch processor saw none of the session's packets"
    );
    let user: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().user_packets)
        .sum();
    assert!(
        user - user_before >= 80,
        "G-PDUs reached the processors ({})",
        user - user_before
    );
    let layout = layout();
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for s in &sgsn.sessions {
        assert_eq!(s.updates_ok, 1, "update answered");
        // The request carried the VID in its header TEID; the reply carries it in its TEIDs.
        for t in &s.update_teids {
            assert_eq!(layout.primary(*t), layout.primary(s.gw_teid_c));
        }
    }
    assert!(gw.line(0).stats().to_primary >= 100);
    assert_eq!(gw.line(0).stats().to_backup, 0);
}

// ---------------------------------------------------------------- claim 5

#[test]
fn claim_5_versioned_tables_reach_every_line_interface() {
    let mut gw = Gateway::new(4, 0.1, 2);
    gw.settle();
    let v = gw.sp().table_version();
    assert!(v >= 2, "several versions were pushed ({v})");
    for i in 0..2 {
        let li = gw.line(i);
        assert_eq!(li.table().version(), v, "line {i} holds the latest table");
        assert_eq!(gw.sp().acked_version(li_fabric(i as u8 + 1)), Some(v));
        for e in gw.sp().table() {
            assert_eq!(li.table().state(e.vid), Some(e.state));
            assert_eq!(li.table().addr(e.vid), Some(e.addr));
        }
    }
    // A stale update (a delayed duplicate, sealed by the switch processor) is ignored and the
    // table stays whole: its packet number is one the line interface saw (or below its replay
    // window), so it is refused as a replay; were it fresh, its version is stale.
    let stale = FabricMessage::TableUpdate {
        version: 1,
        entries: vec![],
    };
    let lf = li_fabric(1);
    let before = gw.line(0).stats();
    gw.sim.inject(
        sp_fabric(),
        lf,
        sealer(1).seal(telcp::steering::fabric::LINE_INTERFACES, 1, &stale),
    );
    gw.sim.run_for(Duration::from_millis(50));
    assert_eq!(gw.line(0).table().version(), v);
    let after = gw.line(0).stats();
    assert!(
        after.updates_stale + after.fabric_refused > before.updates_stale + before.fabric_refused
    );
    // A processor going down is a new version at every line interface.
    let n = gw.procs[&11];
    gw.sim.crash(n);
    gw.sim.run_for(Duration::from_secs(2));
    let v2 = gw.sp().table_version();
    assert!(v2 > v);
    let vid = gw.sp().vid_of(HealthId(11)).unwrap();
    for i in 0..2 {
        assert_eq!(gw.line(i).table().version(), v2);
        assert_eq!(gw.line(i).table().state(vid), Some(VidState::Down));
    }
}

// ---------------------------------------------------------------- claim 7

#[test]
fn claim_7_processors_ask_for_their_vid_and_vids_are_reused_only_when_safe() {
    let mut gw = Gateway::new(7, 0.05, 1);
    // Every processor asked at start and got a distinct VID.
    let vids: Vec<VirtualId> = PROCS.iter().map(|id| gw.proc(*id).vid().unwrap()).collect();
    let mut uniq = vids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), PROCS.len());
    for (id, v) in PROCS.iter().zip(&vids) {
        assert_eq!(gw.sp().vid_of(HealthId(*id)), Some(*v));
    }
    gw.create_sessions(20);
    gw.settle();
    let layout = layout();
    let old = gw.proc(13).vid().unwrap();
    let named = gw
        .sim
        .node::<Sgsn>(gw.sgsn)
        .sessions
        .iter()
        .filter(|s| {
            layout.primary(s.gw_teid_c) == Some(old) || layout.backup(s.gw_teid_c) == Some(old)
        })
        .count();
    assert!(named > 0);
    // Restart processor 13: it asks again; sessions still name its old VID, so it gets another.
    let n = gw.procs[&13];
    gw.sim.crash(n);
    gw.sim.run_for(Duration::from_secs(1));
    let now = gw.sim.now();
    gw.sim.restart(
        n,
        Box::new(Processor::new(processor_config(13, 2), now).unwrap()),
    );
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<Processor>(n).vid().is_some()
        });
    assert!(ok, "the restarted processor got no VID");
    let new = gw.proc(13).vid().unwrap();
    assert_ne!(
        new, old,
        "the old VID is still named by live sessions: not reused"
    );
    assert!(!vids.contains(&new));
    gw.settle();
    assert_eq!(gw.line(0).table().state(old), Some(VidState::Down));
    // Delete every session; then nothing names the old VID: it is withdrawn, then free.
    let n_sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.len();
    for i in 0..n_sessions {
        let now = gw.sim.now();
        gw.sgsn().delete(now, i);
        gw.sim.run_for(Duration::from_millis(10));
    }
    gw.sim.run_for(Duration::from_secs(5));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for s in &sgsn.sessions {
        assert_eq!(
            s.deleted,
            Some(Cause::REQUEST_ACCEPTED),
            "{:08x} old {old:?} new {new:?} {:?}",
            s.gw_teid_c,
            gw.sp().table()
        );
    }
    assert_eq!(gw.sp().session_count(), 0);
    gw.sim.run_for(Duration::from_secs(4));
    assert_eq!(
        gw.line(0).table().state(old),
        None,
        "withdrawn from the tables"
    );
    assert_eq!(
        gw.sp().vid_refs(old),
        None,
        "free once every line interface has the table"
    );
    // Restart 13 again: its last VID is safe now, so it gets it back.
    let n = gw.procs[&13];
    let now = gw.sim.now();
    gw.sim.restart(
        n,
        Box::new(Processor::new(processor_config(13, 3), now).unwrap()),
    );
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<Processor>(n).vid().is_some()
        });
    assert!(ok);
    assert_eq!(
        gw.proc(13).vid(),
        Some(new),
        "a VID no session names is given back"
    );
}

// ---------------------------------------------------------------- claim 8

/// An L2TPv2 data message (L bit, a PPP LCP frame), built with `telcp::l2tp::wire`.
fn l2tp_data(tunnel: u16, session: u16) -> Vec<u8> {
    let ppp: &[u8] = &[0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x04];
    L2tpMessage::Data(DataMessage::new(tunnel, session, ppp)).to_vec()
}

/// An L2TPv2 control message: a HELLO in `tunnel` (an SCCRQ, to tunnel 0, when `tunnel` is 0).
fn l2tp_control(tunnel: u16, session: u16) -> Vec<u8> {
    let mut m = if tunnel == 0 {
        ControlMessage::sccrq(0x4242, b"lac".as_slice(), 3)
    } else {
        ControlMessage::hello(tunnel)
    };
    m.header.session_id = session;
    m.header.ns = 1;
    m.header.nr = 1;
    L2tpMessage::Control(m).to_vec()
}

#[test]
fn claim_8_l2tp_ids_carry_the_vid_and_are_steered_by_it() {
    let mut gw = Gateway::new(8, 0.0, 1);
    let l2 = l2tp_layout();
    let lac = sa([198, 51, 100, 1], 1701);
    let lns = sa(GW_IP, 1701);
    // Each processor's LNS allocates tunnel and session ids carrying its VID, backup next door.
    let mut ids = Vec::new();
    for (k, id) in PROCS.iter().enumerate() {
        let backup = gw.proc(PROCS[(k + 1) % PROCS.len()]).vid();
        let n = gw.procs[id];
        let (t, s) = gw
            .sim
            .node_mut::<Processor>(n)
            .allocate_l2tp_ids(backup)
            .unwrap();
        assert_eq!(l2.primary(u32::from(t)), gw.proc(*id).vid());
        assert_eq!(l2.primary(u32::from(s)), gw.proc(*id).vid());
        assert_eq!(l2.backup(u32::from(t)), backup);
        ids.push((*id, t, s));
    }
    for &(_, t, s) in &ids {
        gw.sim.inject(lac, lns, l2tp_data(t, s));
        gw.sim.inject(lac, lns, l2tp_control(t, s));
    }
    // An SCCRQ (tunnel id 0) is a set-up: it goes to the switch, which directs it.
    gw.sim.inject(lac, lns, l2tp_control(0, 0));
    gw.sim.run_for(Duration::from_millis(100));
    for &(id, _, _) in &ids {
        assert!(gw.proc(id).stats().l2tp_packets >= 2, "processor {id}");
    }
    let total: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().l2tp_packets)
        .sum();
    assert_eq!(total, 9);
    assert_eq!(gw.sp().stats().setups_directed, 1);
    // The first processor fails: its tunnel's packets go to the backup the tunnel id names.
    let (victim, t, s) = ids[0];
    let backup = PROCS[1];
    let before = gw.proc(backup).stats().l2tp_packets;
    let n = gw.procs[&victim];
    gw.sim.crash(n);
    gw.sim.run_for(Duration::from_secs(2));
    gw.sim.inject(lac, lns, l2tp_data(t, s));
    gw.sim.run_for(Duration::from_millis(100));
    assert_eq!(gw.proc(backup).stats().l2tp_packets, before + 1);
    assert!(gw.line(0).stats().to_backup >= 1);
}

// ---------------------------------------------------------------- the fast path directly

#[test]
fn steer_reads_the_vid_from_the_teid() {
    use telcp::steering::fabric::TableEntry;
    use telcp::steering::line::VidTable;
    let layout = layout();
    let v = |n| VirtualId::new(n).unwrap();
    let t = VidTable::with_entries(
        layout,
        Some(l2tp_layout()),
        3,
        &[
            TableEntry {
                vid: v(1),
                state: VidState::Up,
                addr: p_fabric(11),
            },
            TableEntry {
                vid: v(2),
                state: VidState::Down,
                addr: p_fabric(12),
            },
            TableEntry {
                vid: v(3),
                state: VidState::Up,
                addr: p_fabric(13),
            },
        ],
    );
    let gpdu = |teid| Message::g_pdu(teid, vec![0u8; 8]).to_vec().unwrap();
    let teid = |p, b| layout.compose(v(p), b, 5).unwrap();
    assert_eq!(
        t.steer(&gpdu(teid(1, None))),
        Verdict::Processor {
            vid: v(1),
            backup: false
        }
    );
    assert_eq!(
        t.steer(&gpdu(teid(2, Some(v(3))))),
        Verdict::Processor {
            vid: v(3),
            backup: true
        }
    );
    assert_eq!(
        t.steer(&gpdu(teid(2, Some(v(2))))),
        Verdict::Drop(DropReason::ProcessorDown)
    );
    assert_eq!(
        t.steer(&gpdu(teid(2, None))),
        Verdict::Drop(DropReason::ProcessorDown)
    );
    assert_eq!(
        t.steer(&gpdu(teid(9, None))),
        Verdict::Drop(DropReason::UnknownVid)
    );
    let create = Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, 0, 1, vec![]);
    assert_eq!(t.steer(&create.to_vec().unwrap()), Verdict::Switch);
    assert_eq!(t.steer(&[]), Verdict::Drop(DropReason::Malformed));
    assert_eq!(
        t.steer(&[0x32, 0xff, 0, 0]),
        Verdict::Drop(DropReason::Malformed)
    );
    let packets: Vec<Vec<u8>> = vec![gpdu(teid(1, None)), gpdu(teid(3, None)), vec![]];
    let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
    let mut out = [Verdict::Switch; 3];
    assert_eq!(t.steer_batch(&refs, &mut out), 3);
    assert_eq!(
        out[1],
        Verdict::Processor {
            vid: v(3),
            backup: false
        }
    );
    assert_eq!(out[2], Verdict::Drop(DropReason::Malformed));
    // L2TP: tunnel id 0x1205 carries primary 1, backup 2.
    let l2 = l2tp_data(0x1205, 0x1206);
    assert_eq!(
        t.steer(&l2),
        Verdict::Processor {
            vid: v(1),
            backup: false
        }
    );
    assert_eq!(t.steer(&l2tp_control(0, 0)), Verdict::Switch);
    assert_eq!(t.steer(&l2tp_data(0, 0)), Verdict::Drop(DropReason::ZeroId));
}

#[test]
fn processor_events_report_vid_assignment() {
    let mut gw = Gateway::new(10, 0.0, 1);
    let n = gw.procs[&11];
    let mut saw = false;
    while let Some(e) = gw.sim.poll_event_of::<Processor>(n) {
        if matches!(e, ProcessorEvent::VidAssigned { .. }) {
            saw = true;
        }
    }
    assert!(saw);
    let sp = gw.sp;
    let mut assigned = 0;
    while let Some(e) = gw.sim.poll_event_of::<SwitchProcessor>(sp) {
        if matches!(e, SwitchEvent::VidAssigned { reused: false, .. }) {
            assigned += 1;
        }
    }
    assert_eq!(assigned, 4);
}

// ---------------------------------------------------------------- placement policies (issue 17 item 7)

/// A switch processor alone with three fake processors (health monitors reporting the load the
/// test sets, VID requests, every `Directed` set-up counted and added to the processor's
/// reported sessions) and fake line interfaces (acknowledging each table update while `acking`
/// says so, keeping the datagrams the switch processor sends out through them), driven in 10 ms
/// steps.
struct Bench {
    sp: SwitchProcessor,
    now: std::time::Instant,
    procs: Vec<(u32, std::net::SocketAddr, telcp::health::Monitor)>,
    /// Sessions each processor was given, and its reported load (used, capacity).
    placed: HashMap<u32, u32>,
    used: HashMap<u32, u32>,
    capacity: u32,
    seq: u16,
    /// The line interfaces, and whether each acknowledges the table updates it is sent.
    lines: Vec<(std::net::SocketAddr, bool)>,
    /// The datagrams sent out through the line interfaces (`Transmit`), in order.
    out: Vec<Vec<u8>>,
    /// The sealers of the processors (by id) and of the line interfaces (node 100 + index),
    /// fabric version 5.
    sealers: HashMap<u32, telcp::steering::fabric::FabricSealer>,
    /// The outside destination of each of `out`.
    out_to: Vec<std::net::SocketAddr>,
    events: Vec<SwitchEvent>,
}

const BENCH_SLOTS: [u32; 3] = [11, 12, 13];

impl Bench {
    /// The bench with one line interface that acknowledges every table, each processor with
    /// its VID and Up.
    fn new(placement: telcp::steering::switch::Placement, capacity: u32) -> Bench {
        let mut b = Bench::start(placement, capacity, &[li_fabric(1)]);
        for id in BENCH_SLOTS {
            b.request_vid(id);
        }
        b.run(Duration::from_millis(500));
        assert!(
            BENCH_SLOTS
                .iter()
                .all(|&id| b.sp.vid_of(HealthId(id)).is_some())
        );
        b
    }

    /// The bench with line interfaces `lines` (acknowledging), no VID assigned yet.
    fn start(
        placement: telcp::steering::switch::Placement,
        capacity: u32,
        lines: &[std::net::SocketAddr],
    ) -> Bench {
        Bench::start_with(placement, capacity, lines, |_| {})
    }

    /// [`Bench::start`] with the switch processor's configuration changed by `tweak`.
    fn start_with(
        placement: telcp::steering::switch::Placement,
        capacity: u32,
        lines: &[std::net::SocketAddr],
        tweak: impl FnOnce(&mut telcp::steering::SwitchConfig),
    ) -> Bench {
        use telcp::health::{HealthConfig, Monitor, MonitorConfig, NodeId, Role};
        let now = std::time::Instant::now();
        let procs: Vec<(NodeId, std::net::SocketAddr)> = BENCH_SLOTS
            .iter()
            .map(|&id| (NodeId(id), p_fabric(id)))
            .collect();
        let health = HealthConfig::default()
            .with_interval(Duration::from_millis(100))
            .with_overload_percent(95);
        let mut c = telcp::steering::SwitchConfig::new(
            NodeId(1),
            sp_fabric(),
            lines.to_vec(),
            procs.clone(),
            layout(),
            key(),
        );
        c.health = health;
        c.seed = telcp::io::seed(3);
        c.placement = placement;
        tweak(&mut c);
        let sp = SwitchProcessor::new(c, now).unwrap();
        let procs = procs
            .into_iter()
            .map(|(id, a)| {
                let mut mc =
                    MonitorConfig::new(id, Role::PROCESSOR, key(), vec![(NodeId(1), sp_fabric())]);
                mc.health = health;
                mc.load = telcp::health::Load::new(0, capacity);
                (id.0, a, Monitor::new(mc, now).unwrap())
            })
            .collect();
        Bench {
            sp,
            now,
            procs,
            placed: HashMap::new(),
            used: HashMap::new(),
            capacity,
            seq: 0,
            lines: lines.iter().map(|&l| (l, true)).collect(),
            sealers: HashMap::new(),
            out: Vec::new(),
            out_to: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Processor `id` asks for its VID (incarnation 1).
    fn request_vid(&mut self, id: u32) {
        let req = FabricMessage::VidRequest {
            processor: HealthId(id),
            incarnation: 1,
            current: None,
        };
        let now = self.now;
        let req = self.seal(id, &req);
        self.sp
            .handle_datagram(now, p_fabric(id), sp_fabric(), &req)
            .unwrap();
        self.drain();
    }

    /// `msg` sealed by node `node` for the switch processor (node 1).
    fn seal(&mut self, node: u32, msg: &FabricMessage<'_>) -> Vec<u8> {
        self.sealers
            .entry(node)
            .or_insert_with(|| sealer(node))
            .seal(HealthId(1), 1, msg)
    }

    /// Whether line interface `line` acknowledges the table updates it is sent from now on.
    fn set_acking(&mut self, line: std::net::SocketAddr, acking: bool) {
        if let Some(l) = self.lines.iter_mut().find(|l| l.0 == line) {
            l.1 = acking;
        }
    }

    /// Sets the load processor `id` reports (sessions used of the capacity).
    fn set_used(&mut self, id: u32, used: u32) {
        self.used.insert(id, used);
        let cap = self.capacity;
        if let Some((_, _, m)) = self.procs.iter_mut().find(|p| p.0 == id) {
            m.set_load(telcp::health::Load::new(used, cap));
        }
    }

    /// Moves time on by `d` in 10 ms steps, exchanging heartbeats and counting placements.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(10);
            let now = self.now;
            for (_, a, m) in &mut self.procs {
                m.handle_timeout(now);
                while let Some(t) = m.poll_transmit() {
                    let _ = self.sp.handle_datagram(now, *a, sp_fabric(), &t.payload);
                }
            }
            self.sp.handle_timeout(now);
            self.drain();
        }
    }

    fn drain(&mut self) {
        let now = self.now;
        while let Some(t) = self.sp.poll_transmit() {
            if let Some(i) = self.lines.iter().position(|l| l.0 == t.dst) {
                let (line, acking) = self.lines[i];
                match FabricMessage::inspect(&t.payload) {
                    Ok(FabricMessage::TableUpdate { version, .. }) if acking => {
                        let node = 100 + i as u32;
                        let ack = self.seal(node, &FabricMessage::TableAck { version });
                        self.sp
                            .handle_datagram(now, line, sp_fabric(), &ack)
                            .unwrap();
                    }
                    Ok(FabricMessage::Transmit { data, to, .. }) => {
                        self.out.push(data.into_owned());
                        self.out_to.push(to);
                    }
                    _ => {}
                }
                continue;
            }
            let Some(i) = self.procs.iter().position(|p| p.1 == t.dst) else {
                continue;
            };
            let id = self.procs[i].0;
            if let Ok(FabricMessage::Directed { .. }) = FabricMessage::inspect(&t.payload) {
                *self.placed.entry(id).or_default() += 1;
                let used = self.used.get(&id).copied().unwrap_or(0) + 1;
                self.set_used(id, used);
            } else {
                let a = self.procs[i].1;
                let _ = self.procs[i]
                    .2
                    .handle_datagram(now, sp_fabric(), a, &t.payload);
            }
        }
        while let Some(e) = self.sp.poll_event() {
            self.events.push(e);
        }
    }

    /// One Create PDP Context Request passed on by the (first) line interface.
    fn setup(&mut self) {
        self.seq += 1;
        let req = Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, 0, self.seq, vec![]);
        self.peer_sends(sa(SGSN_IP, 2123), sa(GW_IP, 2123), req.to_vec().unwrap());
    }

    /// A datagram from `from` to the gateway's `to`, passed on by the first line interface.
    fn peer_sends(&mut self, from: std::net::SocketAddr, to: std::net::SocketAddr, data: Vec<u8>) {
        let pkt = FabricMessage::Packet {
            from,
            to,
            data: data.into(),
        };
        let now = self.now;
        let line = self.lines[0].0;
        self.sp
            .handle_datagram(now, line, sp_fabric(), &pkt.to_vec())
            .unwrap();
        self.drain();
    }

    /// The (primary, backup) VIDs of every set-up directed, in order.
    fn directed(&self) -> Vec<(VirtualId, Option<VirtualId>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SwitchEvent::SetupDirected { primary, backup } => Some((*primary, *backup)),
                _ => None,
            })
            .collect()
    }

    fn placed(&self, id: u32) -> u32 {
        self.placed.get(&id).copied().unwrap_or(0)
    }
}

/// Weighted least-connections with weights 1:2:3: over 600 set-ups (one every 10 ms, so many
/// between two load reports) the processors get 100, 200 and 300 sessions. The policy is
/// deterministic (each set-up goes to the lowest sessions-per-weight, counting the set-ups
/// directed since the last report), so after any number of set-ups each count is within one
/// set-up per processor of its share: the tolerance is 2.
#[test]
fn weighted_least_connections_spreads_by_weight() {
    use telcp::steering::switch::Placement;
    let weights = vec![(HealthId(11), 1), (HealthId(12), 2), (HealthId(13), 3)];
    let mut b = Bench::new(Placement::WeightedLeastConnections { weights }, 10_000);
    for _ in 0..600 {
        b.setup();
        b.run(Duration::from_millis(10));
    }
    for (id, want) in [(11, 100i64), (12, 200), (13, 300)] {
        let got = i64::from(b.placed(id));
        assert!(
            (got - want).abs() <= 2,
            "processor {id}: {got}, want {want}"
        );
    }
    // A processor with weight 0 gets nothing; the others share by weight.
    let weights = vec![(HealthId(11), 0), (HealthId(12), 1), (HealthId(13), 1)];
    let mut b = Bench::new(Placement::WeightedLeastConnections { weights }, 10_000);
    for _ in 0..100 {
        b.setup();
        b.run(Duration::from_millis(10));
    }
    assert_eq!(b.placed(11), 0);
    assert!((i64::from(b.placed(12)) - 50).abs() <= 1);
    // Sessions a processor already holds count: 12 starts with 60, so the next 60 go to the
    // others before it gets any.
    let weights = vec![];
    let mut b = Bench::new(Placement::WeightedLeastConnections { weights }, 10_000);
    b.set_used(12, 60);
    b.run(Duration::from_millis(300));
    for _ in 0..100 {
        b.setup();
        b.run(Duration::from_millis(10));
    }
    let (p11, p12, p13) = (b.placed(11), b.placed(12), b.placed(13));
    assert!(p12 <= 15 && p11.abs_diff(p13) <= 1, "{p11} {p12} {p13}");
}

/// Least load trend: processor 12 reports the lowest load (5 % rising to 45 %, against 60 %) but
/// it climbs (1 % more at every heartbeat, from work the switch processor does not place); 11
/// and 13 are steady. Least-loaded placement keeps choosing 12; the trend placement avoids it
/// from its first rising report on (at most the first set-up, before that report, goes to it).
#[test]
fn least_load_trend_avoids_a_processor_whose_load_rises() {
    use telcp::steering::switch::Placement;
    let run = |placement| {
        let mut b = Bench::new(placement, 1000);
        b.set_used(11, 600);
        b.set_used(13, 600);
        b.set_used(12, 50);
        // Longer than the window: the jump from the initial 0 % is out of it.
        b.run(Duration::from_millis(1500));
        let mut late = 0;
        for step in 0..40u32 {
            // 12's own load grows by 1 % every 100 ms.
            let u = b.used[&12] + 10;
            b.set_used(12, u);
            b.setup();
            if step >= 10 && b.sp.load_trend(HealthId(12)) > 0 {
                late += 1;
            }
            b.run(Duration::from_millis(100));
        }
        (b.placed(11), b.placed(12), b.placed(13), late, b)
    };
    let (_, p12, _, _, _) = run(Placement::Load);
    assert_eq!(p12, 40, "least-loaded keeps choosing the least loaded");
    let (p11, p12, p13, late, b) = run(Placement::LeastLoadTrend {
        window: Duration::from_secs(1),
    });
    assert_eq!(late, 30, "12's trend is seen rising");
    assert!(b.sp.load_trend(HealthId(12)) > b.sp.load_trend(HealthId(11)));
    assert!(
        p12 <= 1,
        "the rising processor is avoided: {p11} {p12} {p13}"
    );
    assert_eq!(p11 + p12 + p13, 40);
    // The steady ones share (each rises 1 % per 10 set-ups, and is then avoided in turn).
    assert!(p11 >= 10 && p13 >= 10, "the steady ones share: {p11} {p13}");
}

// ---------------------------------------------------------------- placement waits for the tables

/// A processor whose VID a line interface does not yet hold gets no session: the identifiers it
/// allocates would reach that line interface and be dropped as unknown (answered with an Error
/// Indication or Non-existent). Processor 11 gets its VID while both line interfaces
/// acknowledge; then line interface 2 stops acknowledging and 12 and 13 get theirs: every
/// set-up goes to 11, with no backup (none other qualifies), whatever the placement. Once line
/// interface 2 acknowledges the table naming them, 12 and 13 take sessions, and backups.
#[test]
fn sessions_go_only_to_processors_whose_vid_every_line_interface_holds() {
    use telcp::steering::switch::Placement;
    for placement in [
        Placement::Load,
        Placement::WeightedLeastConnections { weights: vec![] },
        Placement::LeastLoadTrend {
            window: Duration::from_secs(1),
        },
    ] {
        let (l1, l2) = (li_fabric(1), li_fabric(2));
        let mut b = Bench::start(placement.clone(), 1000, &[l1, l2]);
        b.request_vid(11);
        b.run(Duration::from_millis(500));
        assert_eq!(b.sp.acked_version(l2), Some(b.sp.table_version()));
        b.set_acking(l2, false);
        b.request_vid(12);
        b.request_vid(13);
        b.run(Duration::from_millis(300));
        let v11 = b.sp.vid_of(HealthId(11)).unwrap();
        assert!(b.sp.vid_of(HealthId(12)).is_some() && b.sp.vid_of(HealthId(13)).is_some());
        assert_eq!(b.sp.acked_version(l1), Some(b.sp.table_version()));
        assert!(b.sp.acked_version(l2) < Some(b.sp.table_version()));
        for _ in 0..30 {
            b.setup();
            b.run(Duration::from_millis(20));
        }
        assert_eq!(
            (b.placed(11), b.placed(12), b.placed(13)),
            (30, 0, 0),
            "{placement:?}"
        );
        assert!(
            b.directed().iter().all(|d| *d == (v11, None)),
            "{placement:?}: {:?}",
            b.directed()
        );
        assert_eq!(b.sp.stats().setups_refused, 0);
        // Line interface 2 acknowledges the current table at the next retransmission (200 ms).
        b.set_acking(l2, true);
        b.run(Duration::from_millis(300));
        assert_eq!(b.sp.acked_version(l2), Some(b.sp.table_version()));
        b.events.clear();
        for _ in 0..30 {
            b.setup();
            b.run(Duration::from_millis(20));
        }
        assert!(
            b.placed(12) > 0 && b.placed(13) > 0,
            "{placement:?}: {} {} {}",
            b.placed(11),
            b.placed(12),
            b.placed(13)
        );
        assert!(
            b.directed()
                .iter()
                .all(|(p, bk)| bk.is_some() && bk != &Some(*p)),
            "{placement:?}: a backup for each, another processor"
        );
        assert_eq!(b.sp.stats().line_interfaces_ignored, 0);
    }
}

/// A gateway just started: every processor Up with its VID, but the line interface has not
/// acknowledged a table yet. No processor qualifies, so each set-up gets the protocol's own
/// refusal, as with no processor at all: TS 29.060 sections 7.3.2 and 7.7.1, Create PDP Context
/// Response with Cause No resources available (199); TS 29.274 sections 7.2.2 and 8.4, Create
/// Session Response with No resources available (73), header TEID the MME's S11 F-TEID (section
/// 5.5.2); TS 29.244 sections 7.5.3 and 8.2.1, Session Establishment Response with No resources
/// available (75), header SEID the CP F-SEID's (section 7.2.2.4.2). Each repeats the request's
/// sequence number and is counted in `setups_awaiting_tables`. Once the line interface
/// acknowledges, the next set-up is directed.
#[test]
fn set_ups_before_the_tables_are_acknowledged_are_refused_with_no_resources_available() {
    use telcp::steering::{gtpv2, pfcp};
    let line = li_fabric(1);
    let mut b = Bench::start(telcp::steering::switch::Placement::Load, 1000, &[line]);
    b.set_acking(line, false);
    for id in BENCH_SLOTS {
        b.request_vid(id);
    }
    b.run(Duration::from_millis(500));
    for id in BENCH_SLOTS {
        assert!(b.sp.vid_of(HealthId(id)).is_some());
        assert!(b.sp.monitor().is_eligible(HealthId(id)), "{id} is Up");
    }
    assert_eq!(b.sp.acked_version(line), Some(0));

    // GTPv1-C.
    b.setup();
    let r = telcp::steering::gtp::parse(b.out.last().unwrap()).unwrap();
    assert_eq!(r.message_type(), MessageType::CREATE_PDP_CONTEXT_RESPONSE);
    assert_eq!(r.header.sequence, Some(b.seq));
    assert_eq!(r.cause(), Some(Cause::NO_RESOURCES_AVAILABLE));
    assert_eq!(Cause::NO_RESOURCES_AVAILABLE.0, 199);

    // GTPv2-C.
    let mme = Mme::new(MME_IP.into(), sa(GW_IP, 2123));
    let mme_teid = 0x6600_0001;
    let csr = gtpv2::Message::new(
        gtpv2::MessageType::CREATE_SESSION_REQUEST,
        Some(0),
        0x1234,
        mme.create_ies("001010000000001", 5, mme_teid, 0x7700_0001),
    );
    b.peer_sends(sa(MME_IP, 2123), sa(GW_IP, 2123), csr.to_vec().unwrap());
    let r = gtpv2::parse(b.out.last().unwrap()).unwrap();
    assert_eq!(
        r.message_type(),
        gtpv2::MessageType::CREATE_SESSION_RESPONSE
    );
    assert_eq!(r.header.teid, Some(mme_teid));
    assert_eq!(r.header.sequence, 0x1234);
    let cause = r.cause().unwrap().value;
    assert_eq!(cause, gtpv2::CauseValue::NO_RESOURCES_AVAILABLE);
    assert_eq!(cause.0, 73);

    // PFCP: an association (the switch processor's own answer), then a Session Establishment.
    let smf = Smf::new(SMF_IP.into(), sa(GW_IP, 8805));
    let setup = pfcp::Message::new(
        pfcp::MessageType::ASSOCIATION_SETUP_REQUEST,
        0,
        1,
        vec![
            pfcp::Ie::NodeId(pfcp::NodeId::Ipv4(SMF_IP.into())),
            pfcp::Ie::RecoveryTimeStamp(SMF_RECOVERY),
        ],
    );
    b.peer_sends(sa(SMF_IP, 8805), sa(GW_IP, 8805), setup.to_vec().unwrap());
    let r = pfcp::parse(b.out.last().unwrap()).unwrap();
    assert_eq!(r.cause(), Some(pfcp::Cause::REQUEST_ACCEPTED));
    let cp_seid = 0x5e1d;
    let ser = pfcp::Message::new(
        pfcp::MessageType::SESSION_ESTABLISHMENT_REQUEST,
        0,
        2,
        smf.establishment_ies(cp_seid, 0x8801),
    );
    b.peer_sends(sa(SMF_IP, 8805), sa(GW_IP, 8805), ser.to_vec().unwrap());
    let r = pfcp::parse(b.out.last().unwrap()).unwrap();
    assert_eq!(
        r.message_type(),
        pfcp::MessageType::SESSION_ESTABLISHMENT_RESPONSE
    );
    assert_eq!(r.header.seid, Some(cp_seid));
    assert_eq!(r.header.sequence, 2);
    assert_eq!(r.cause(), Some(pfcp::Cause::NO_RESOURCES_AVAILABLE));
    assert_eq!(pfcp::Cause::NO_RESOURCES_AVAILABLE.0, 75);

    let stats = b.sp.stats();
    assert_eq!((stats.setups_refused, stats.setups_awaiting_tables), (3, 3));
    assert_eq!(stats.setups_directed, 0);
    assert!(b.directed().is_empty());
    let refused: Vec<RefusedSetup> = b
        .events
        .iter()
        .filter_map(|e| match e {
            SwitchEvent::SetupRefused { request, .. } => Some(*request),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        vec![
            RefusedSetup::CreatePdpContext {
                cause: Cause::NO_RESOURCES_AVAILABLE
            },
            RefusedSetup::CreateSession {
                cause: gtpv2::CauseValue::NO_RESOURCES_AVAILABLE
            },
            RefusedSetup::SessionEstablishment {
                cause: pfcp::Cause::NO_RESOURCES_AVAILABLE
            },
        ]
    );

    // The line interface acknowledges the current table at the next retransmission.
    b.set_acking(line, true);
    b.run(Duration::from_millis(300));
    assert_eq!(b.sp.acked_version(line), Some(b.sp.table_version()));
    b.setup();
    assert_eq!(b.sp.stats().setups_directed, 1);
    assert_eq!(b.sp.stats().setups_awaiting_tables, 3);
}

/// Line interfaces send no heartbeats: one that never acknowledges (a dead line card) must not
/// stop all placement. It is waited for `line_ack_timeout` (1 s here) from the first table it
/// was sent and left unacknowledged; then it is silent (event, counter) and placement goes on
/// without it. Once it acknowledges a newer table it counts again.
#[test]
fn a_line_interface_that_never_acknowledges_stops_placement_only_for_line_ack_timeout() {
    let (l1, l2) = (li_fabric(1), li_fabric(2));
    let placement = telcp::steering::switch::Placement::Load;
    let mut b = Bench::start_with(placement, 1000, &[l1, l2], |c| {
        c.line_ack_timeout = Duration::from_secs(1);
    });
    b.set_acking(l2, false);
    let t0 = b.now;
    for id in BENCH_SLOTS {
        b.request_vid(id);
    }
    // 900 ms after the first table was pushed: still waited for.
    b.run(Duration::from_millis(900));
    b.setup();
    assert_eq!(b.sp.stats().setups_awaiting_tables, 1);
    assert_eq!(b.sp.line_silent(l2), Some(false));
    // At 1 s it is silent, and placement goes on.
    b.run(Duration::from_millis(110));
    assert!(b.now - t0 >= Duration::from_secs(1));
    assert_eq!(b.sp.line_silent(l2), Some(true));
    assert_eq!(b.sp.line_silent(l1), Some(false));
    assert_eq!(b.sp.stats().line_interfaces_ignored, 1);
    assert!(
        b.events
            .contains(&SwitchEvent::LineInterfaceSilent { line: l2, acked: 0 })
    );
    b.setup();
    assert_eq!(b.sp.stats().setups_directed, 1);
    assert_eq!(b.directed().len(), 1);
    // It comes back: it acknowledges the table at the next retransmission and counts again.
    b.set_acking(l2, true);
    b.run(Duration::from_millis(300));
    assert_eq!(b.sp.acked_version(l2), Some(b.sp.table_version()));
    assert_eq!(b.sp.line_silent(l2), Some(false));
    b.run(Duration::from_secs(2));
    assert_eq!(b.sp.stats().line_interfaces_ignored, 1);
}

/// With CP-allocated F-TEIDs (`teid_ranges`, TS 29.244 section 5.5.1), the SMF chooses the
/// processor by the TEID it allocates in an advertised range; a Session Establishment Request
/// whose F-TEID names a processor whose VID a line interface does not hold yet is refused like
/// one naming a processor that is down: No resources available (75, TS 29.244 section 8.2.1),
/// counted in `setups_awaiting_tables`. One naming a processor every line interface steers to
/// is directed; once the table is acknowledged, so is the first.
#[test]
fn a_cp_allocated_f_teid_of_a_processor_not_yet_in_every_table_is_refused() {
    use telcp::steering::pfcp;
    let teid_layout = telcp::steering::VidLayout::teid32(3, 3).unwrap();
    let (l1, l2) = (li_fabric(1), li_fabric(2));
    let placement = telcp::steering::switch::Placement::Load;
    let mut b = Bench::start_with(placement, 1000, &[l1, l2], |c| {
        c.layout = teid_layout;
        c.l2tp_layout = None;
        c.teid_ranges = true;
    });
    b.request_vid(11);
    b.request_vid(12);
    b.run(Duration::from_millis(500));
    b.set_acking(l2, false);
    b.request_vid(13);
    b.run(Duration::from_millis(300));
    let vid = |id| b.sp.vid_of(HealthId(id)).unwrap();
    let (v11, v12, v13) = (vid(11), vid(12), vid(13));
    let smf = Smf::new(SMF_IP.into(), sa(GW_IP, 8805));
    let association = pfcp::Message::new(
        pfcp::MessageType::ASSOCIATION_SETUP_REQUEST,
        0,
        1,
        vec![
            pfcp::Ie::NodeId(pfcp::NodeId::Ipv4(SMF_IP.into())),
            pfcp::Ie::RecoveryTimeStamp(SMF_RECOVERY),
        ],
    );
    b.peer_sends(
        sa(SMF_IP, 8805),
        sa(GW_IP, 8805),
        association.to_vec().unwrap(),
    );
    let mut seq = 1;
    let mut establish = |b: &mut Bench, primary, backup| {
        seq += 1;
        let teid = teid_layout.compose(primary, Some(backup), 7).unwrap();
        let m = smf.establishment_assigned(seq, teid, GW_IP.into());
        let directed = b.sp.stats().setups_directed;
        b.peer_sends(sa(SMF_IP, 8805), sa(GW_IP, 8805), m.to_vec().unwrap());
        if b.sp.stats().setups_directed > directed {
            None
        } else {
            pfcp::parse(b.out.last().unwrap()).unwrap().cause()
        }
    };
    assert_eq!(
        establish(&mut b, v13, v11),
        Some(pfcp::Cause::NO_RESOURCES_AVAILABLE)
    );
    assert_eq!(b.sp.stats().setups_awaiting_tables, 1);
    assert_eq!(establish(&mut b, v11, v12), None, "directed");
    assert_eq!(b.directed().last(), Some(&(v11, Some(v12))));
    b.set_acking(l2, true);
    b.run(Duration::from_millis(300));
    assert_eq!(establish(&mut b, v13, v11), None, "directed");
    assert_eq!(b.directed().last(), Some(&(v13, Some(v11))));
    assert_eq!(b.placed(13), 1);
    assert_eq!(b.sp.stats().setups_awaiting_tables, 1);
}

/// A new Create PDP Context Request of a subscriber whose context a processor holds replaces it
/// there (TS 29.060 section 7.3.1): at the primary when it is Up, else at the backup. "Up" is Up
/// in the tables the line interfaces acknowledged: processor 11 (primary) failed and came back,
/// and line interface 2 has not acknowledged the table naming it Up again, so line interface 2
/// steers the subscriber's packets to the backup, 12, which holds the context too: the
/// replacement goes to 12. Once acknowledged, it goes to 11.
#[test]
fn a_replacing_set_up_goes_where_every_line_interface_steers_the_context() {
    use telcp::steering::fabric::{SessionProtocol, SessionRecord};
    use telcp::steering::gtp::{Ie, Imsi};
    let (l1, l2) = (li_fabric(1), li_fabric(2));
    let mut b = Bench::start(telcp::steering::switch::Placement::Load, 1000, &[l1, l2]);
    for id in BENCH_SLOTS {
        b.request_vid(id);
    }
    b.run(Duration::from_millis(500));
    let vid = |id| b.sp.vid_of(HealthId(id)).unwrap();
    let (v11, v12) = (vid(11), vid(12));
    let imsi = Imsi::from_digits("001010000000042").unwrap();
    let record = SessionRecord {
        teid: layout().compose(v11, Some(v12), 1).unwrap(),
        version: 1,
        peer_teid_c: 1,
        peer_teid_u: 1,
        peer_c: std::net::IpAddr::from(SGSN_IP),
        peer_u: std::net::IpAddr::from(SGSN_IP),
        imsi,
        nsapi: 5,
        ue_addr: std::net::Ipv4Addr::new(10, 0, 0, 42),
        protocol: SessionProtocol::Gtpv1,
        peer_seid: 0,
    };
    let sync = FabricMessage::Sync {
        delete: false,
        record,
    };
    let now = b.now;
    let sync = b.seal(11, &sync);
    b.sp.handle_datagram(now, p_fabric(11), sp_fabric(), &sync)
        .unwrap();
    b.drain();
    assert_eq!(b.sp.session_count(), 1);
    // 11 fails and comes back; line interface 2 acknowledges nothing meanwhile.
    b.set_acking(l2, false);
    assert!(b.sp.set_processor_up(now, HealthId(11), false));
    b.run(Duration::from_millis(100));
    let now = b.now;
    assert!(b.sp.set_processor_up(now, HealthId(11), true));
    b.run(Duration::from_millis(300));
    assert!(b.sp.monitor().is_eligible(HealthId(11)));
    let replace = |b: &mut Bench| {
        b.seq += 1;
        let req = Message::new(
            MessageType::CREATE_PDP_CONTEXT_REQUEST,
            0,
            b.seq,
            vec![Ie::Imsi(imsi), Ie::Nsapi(5)],
        );
        let replacing = b.sp.stats().setups_replacing;
        b.peer_sends(sa(SGSN_IP, 2123), sa(GW_IP, 2123), req.to_vec().unwrap());
        assert_eq!(b.sp.stats().setups_replacing, replacing + 1);
        b.directed().last().unwrap().0
    };
    assert_eq!(replace(&mut b), v12, "to the backup, where line 2 steers");
    b.set_acking(l2, true);
    b.run(Duration::from_millis(300));
    assert_eq!(
        replace(&mut b),
        v11,
        "to the primary once every line steers there"
    );
}

// ---------------------------------------------------------------- TEID ranges follow the tables

/// A second SMF, for the TEID range tests.
const SMF2_IP: [u8; 4] = [192, 0, 2, 31];

/// The bench of the TEID range tests: a 3+3-bit TEID layout TEIDRI describes (TS 29.244 section
/// 8.2.82: TEIDRI 6, the VID then the backup VID), `teid_ranges` on, line interfaces 1 and 2
/// (acknowledging), processors 11 and 12 with their VIDs and Up in every table.
fn teid_range_bench(tweak: impl FnOnce(&mut telcp::steering::SwitchConfig)) -> Bench {
    let (l1, l2) = (li_fabric(1), li_fabric(2));
    let mut b = Bench::start_with(
        telcp::steering::switch::Placement::Load,
        1000,
        &[l1, l2],
        |c| {
            c.layout = telcp::steering::VidLayout::teid32(3, 3).unwrap();
            c.l2tp_layout = None;
            c.teid_ranges = true;
            tweak(c);
        },
    );
    b.request_vid(11);
    b.request_vid(12);
    b.run(Duration::from_millis(500));
    assert_eq!(b.sp.acked_version(l2), Some(b.sp.table_version()));
    b
}

/// The SMF at `ip` sends a PFCP Association Setup Request (TS 29.244 section 7.4.4.1: Node ID,
/// Recovery Time Stamp); returns the switch processor's response, decoded.
fn associate_smf(b: &mut Bench, ip: [u8; 4], seq: u32) -> telcp::steering::pfcp::Message<'static> {
    use telcp::steering::pfcp;
    let req = pfcp::Message::new(
        pfcp::MessageType::ASSOCIATION_SETUP_REQUEST,
        0,
        seq,
        vec![
            pfcp::Ie::NodeId(pfcp::NodeId::Ipv4(ip.into())),
            pfcp::Ie::RecoveryTimeStamp(SMF_RECOVERY),
        ],
    );
    let n = b.out.len();
    b.peer_sends(sa(ip, 8805), sa(GW_IP, 8805), req.to_vec().unwrap());
    assert_eq!(b.out.len(), n + 1, "one answer");
    assert_eq!(b.out_to[n], sa(ip, 8805));
    let r = pfcp::parse(&b.out[n]).unwrap().into_owned();
    assert_eq!(
        r.message_type(),
        pfcp::MessageType::ASSOCIATION_SETUP_RESPONSE
    );
    assert_eq!(r.header.sequence, seq);
    assert_eq!(r.cause(), Some(pfcp::Cause::REQUEST_ACCEPTED));
    r
}

/// The Association Update Requests (TS 29.244 section 7.4.4.3) sent so far: destination and
/// message, decoded.
fn association_updates(
    b: &Bench,
) -> Vec<(
    std::net::SocketAddr,
    telcp::steering::pfcp::Message<'static>,
)> {
    use telcp::steering::pfcp;
    b.out
        .iter()
        .zip(&b.out_to)
        .filter_map(|(d, to)| {
            let m = pfcp::parse(d).ok()?;
            (m.message_type() == pfcp::MessageType::ASSOCIATION_UPDATE_REQUEST)
                .then(|| (*to, m.into_owned()))
        })
        .collect()
}

/// The (VID, backup VID) of every User Plane IP Resource Information (TS 29.244 section 8.2.82)
/// of `m`: each TEIDRI 6 (3 VID bits, 3 backup VID bits) at the gateway's IPv4 address, no
/// IPv6 address, Network Instance or Source Interface; none twice.
fn advertised_pairs(
    m: &telcp::steering::pfcp::Message<'_>,
) -> std::collections::BTreeSet<(VirtualId, VirtualId)> {
    use telcp::steering::pfcp::Ie;
    let layout = telcp::steering::VidLayout::teid32(3, 3).unwrap();
    let mut pairs = std::collections::BTreeSet::new();
    for ie in &m.ies {
        let Ie::UpIpResourceInformation(r) = ie else {
            continue;
        };
        assert_eq!(r.teidri, 6, "{r:?}");
        assert_eq!(r.ipv4, Some(GW_IP.into()), "{r:?}");
        assert_eq!(
            (r.ipv6, &r.network_instance, r.source_interface),
            (None, &None, None)
        );
        let teid = u32::from(r.teid_range) << 26;
        let pair = (layout.primary(teid).unwrap(), layout.backup(teid).unwrap());
        assert!(pairs.insert(pair), "{pair:?} twice");
    }
    pairs
}

/// Every ordered pair of distinct VIDs of `vids`.
fn ordered_pairs(vids: &[VirtualId]) -> std::collections::BTreeSet<(VirtualId, VirtualId)> {
    vids.iter()
        .flat_map(|&p| vids.iter().filter(move |&&b| b != p).map(move |&b| (p, b)))
        .collect()
}

/// With `teid_ranges`, the switch processor advertises (TS 29.244 section 8.2.82) only the TEID
/// ranges of processors every line interface steers to: an SMF allocating an F-TEID in an
/// advertised range (section 5.5.1) gets its set-up placed, not refused. Processor 13 gets its
/// VID while line interface 2 acknowledges nothing: an SMF associating then gets the ranges of
/// 11 and 12 only (the Association Setup Response, section 7.4.4.2), and no Association Update
/// Request goes out while the advertised ranges stay the same (line interface 1's
/// acknowledgements, table retransmissions). Once line interface 2 acknowledges the table naming
/// 13 Up, each associated SMF is sent one Association Update Request (section 7.4.4.3: the UP
/// function's Node ID, and User Plane IP Resource Information, which replace the ones received
/// before: the complete list, every ordered pair of the three VIDs); a Session Establishment
/// Request whose F-TEID is in a range of 13 is then directed to 13.
#[test]
fn teid_ranges_are_advertised_once_every_line_interface_steers_to_their_processor() {
    use telcp::steering::pfcp;
    let l2 = li_fabric(2);
    let mut b = teid_range_bench(|_| {});
    let vid = |b: &Bench, id| b.sp.vid_of(HealthId(id)).unwrap();
    let (v11, v12) = (vid(&b, 11), vid(&b, 12));
    // The first SMF associates while 11 and 12 are in every table.
    let r = associate_smf(&mut b, SMF_IP, 1);
    assert_eq!(advertised_pairs(&r), ordered_pairs(&[v11, v12]));

    b.set_acking(l2, false);
    b.request_vid(13);
    b.run(Duration::from_millis(300));
    let v13 = vid(&b, 13);
    assert!(b.sp.monitor().is_eligible(HealthId(13)), "13 is Up");
    assert!(b.sp.acked_version(l2) < Some(b.sp.table_version()));
    assert_eq!(b.sp.acked_version(li_fabric(1)), Some(b.sp.table_version()));
    // The second SMF associates: not 13's ranges either.
    let r = associate_smf(&mut b, SMF2_IP, 1);
    assert_eq!(advertised_pairs(&r), ordered_pairs(&[v11, v12]));
    // An F-TEID in an advertised range is placed, at the processor of its VID.
    let smf = Smf::new(SMF_IP.into(), sa(GW_IP, 8805));
    let teid_layout = telcp::steering::VidLayout::teid32(3, 3).unwrap();
    let establish = |b: &mut Bench, seq: u32, primary, backup| {
        let teid = teid_layout.compose(primary, Some(backup), seq).unwrap();
        let m = smf.establishment_assigned(seq, teid, GW_IP.into());
        let n = b.out.len();
        b.peer_sends(sa(SMF_IP, 8805), sa(GW_IP, 8805), m.to_vec().unwrap());
        assert_eq!(b.out.len(), n, "no refusal");
        assert_eq!(b.directed().last(), Some(&(primary, Some(backup))));
    };
    establish(&mut b, 2, v12, v11);
    b.run(Duration::from_millis(300));
    assert!(
        association_updates(&b).is_empty(),
        "nothing advertised changed"
    );
    assert_eq!(b.sp.stats().association_updates, 0);

    // Line interface 2 acknowledges the current table at the next retransmission.
    b.set_acking(l2, true);
    b.run(Duration::from_millis(300));
    assert_eq!(b.sp.acked_version(l2), Some(b.sp.table_version()));
    let updates = association_updates(&b);
    assert_eq!(
        updates.iter().map(|u| u.0).collect::<Vec<_>>(),
        vec![sa(SMF_IP, 8805), sa(SMF2_IP, 8805)],
        "one to each associated SMF"
    );
    for (to, u) in &updates {
        assert_eq!(u.header.seid, None, "{to}: a node message");
        assert_eq!(u.node_id(), Some(&pfcp::NodeId::Ipv4(GW_IP.into())), "{to}");
        assert_eq!(
            advertised_pairs(u),
            ordered_pairs(&[v11, v12, v13]),
            "{to}: the complete list"
        );
        // The SMF answers (section 7.4.4.4): Node ID, Cause Request accepted.
        let ip = match to.ip() {
            std::net::IpAddr::V4(a) => a,
            std::net::IpAddr::V6(_) => unreachable!(),
        };
        let r = pfcp::Message::new(
            pfcp::MessageType::ASSOCIATION_UPDATE_RESPONSE,
            0,
            u.header.sequence,
            vec![
                pfcp::Ie::NodeId(pfcp::NodeId::Ipv4(ip)),
                pfcp::Ie::Cause(pfcp::Cause::REQUEST_ACCEPTED),
            ],
        );
        b.peer_sends(*to, sa(GW_IP, 8805), r.to_vec().unwrap());
    }
    assert_eq!(b.sp.stats().association_updates_accepted, 2);
    establish(&mut b, 3, v13, v11);
    assert_eq!(b.placed(13), 1);
    // Nothing changes after: no other update, no repeat.
    b.run(Duration::from_secs(4));
    assert_eq!(association_updates(&b).len(), 2);
    assert_eq!(b.sp.stats().association_updates, 2);
}

/// A line interface that never acknowledges is silent after `line_ack_timeout` (1 s here) and
/// placement stops waiting for it: the TEID ranges of the processor it held back are then
/// advertised too, in an Association Update Request (TS 29.244 section 7.4.4.3).
#[test]
fn teid_ranges_held_back_by_a_silent_line_interface_are_advertised_when_it_is_silent() {
    let l2 = li_fabric(2);
    let mut b = teid_range_bench(|c| c.line_ack_timeout = Duration::from_secs(1));
    let vid = |b: &Bench, id| b.sp.vid_of(HealthId(id)).unwrap();
    b.set_acking(l2, false);
    b.request_vid(13);
    let (v11, v12, v13) = (vid(&b, 11), vid(&b, 12), vid(&b, 13));
    let t0 = b.now;
    b.run(Duration::from_millis(100));
    let r = associate_smf(&mut b, SMF_IP, 1);
    assert_eq!(advertised_pairs(&r), ordered_pairs(&[v11, v12]));
    b.run(Duration::from_millis(800));
    assert_eq!(b.sp.line_silent(l2), Some(false));
    assert!(association_updates(&b).is_empty());
    b.run(Duration::from_millis(200));
    assert!(b.now - t0 <= Duration::from_millis(1100));
    assert_eq!(b.sp.line_silent(l2), Some(true));
    let updates = association_updates(&b);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].0, sa(SMF_IP, 8805));
    assert_eq!(
        advertised_pairs(&updates[0].1),
        ordered_pairs(&[v11, v12, v13])
    );
}

/// A User Plane IP Resource Information names a VID and a backup VID of two processors: with
/// one processor left (12 set Down), no range is left to advertise. No Association Update
/// Request goes out then: one without User Plane IP Resource Information would leave the SMF's
/// ranges as they were (TS 29.244 section 7.4.4.3: when present, they replace the ones received
/// before), so there is nothing to say. Once 12 is Up again in every table, the ranges go out
/// again, both pairs.
#[test]
fn no_association_update_goes_out_when_no_teid_range_is_left() {
    let mut b = teid_range_bench(|_| {});
    let vid = |b: &Bench, id| b.sp.vid_of(HealthId(id)).unwrap();
    let (v11, v12) = (vid(&b, 11), vid(&b, 12));
    let r = associate_smf(&mut b, SMF_IP, 1);
    assert_eq!(advertised_pairs(&r), ordered_pairs(&[v11, v12]));
    let now = b.now;
    assert!(b.sp.set_processor_up(now, HealthId(12), false));
    b.run(Duration::from_millis(500));
    assert_eq!(
        b.sp.table().iter().find(|e| e.vid == v12).map(|e| e.state),
        Some(VidState::Down)
    );
    assert!(association_updates(&b).is_empty());
    let now = b.now;
    assert!(b.sp.set_processor_up(now, HealthId(12), true));
    b.run(Duration::from_millis(500));
    let updates = association_updates(&b);
    assert_eq!(updates.len(), 1);
    assert_eq!(advertised_pairs(&updates[0].1), ordered_pairs(&[v11, v12]));
}

/// An Association Update Request not yet answered is repeated every `path.t3` (TS 29.244
/// section 6.4), with the ranges it was sent with. When no range is left meanwhile (11 and 12
/// set Down, 13 the only processor left), it is no longer repeated: its ranges are stale, and a
/// request carrying none would leave the SMF's ranges as they were (section 7.4.4.3). Every
/// request that goes out carries at least one range.
#[test]
fn an_unanswered_association_update_is_not_repeated_once_no_teid_range_is_left() {
    let l2 = li_fabric(2);
    let mut b = teid_range_bench(|_| {});
    let vid = |b: &Bench, id| b.sp.vid_of(HealthId(id)).unwrap();
    let (v11, v12) = (vid(&b, 11), vid(&b, 12));
    associate_smf(&mut b, SMF_IP, 1);
    // 13 comes in: the SMF is sent an update, and does not answer it.
    b.request_vid(13);
    b.run(Duration::from_millis(300));
    let v13 = vid(&b, 13);
    assert_eq!(b.sp.acked_version(l2), Some(b.sp.table_version()));
    let updates = association_updates(&b);
    assert_eq!(updates.len(), 1);
    assert_eq!(
        advertised_pairs(&updates[0].1),
        ordered_pairs(&[v11, v12, v13])
    );
    // 11 and 12 set Down before `path.t3` (3 s): the update superseded by one for 11 and 13,
    // then nothing left.
    let now = b.now;
    assert!(b.sp.set_processor_up(now, HealthId(12), false));
    b.run(Duration::from_millis(300));
    let updates = association_updates(&b);
    assert_eq!(updates.len(), 2);
    assert_ne!(updates[1].1.header.sequence, updates[0].1.header.sequence);
    assert_eq!(advertised_pairs(&updates[1].1), ordered_pairs(&[v11, v13]));
    let now = b.now;
    assert!(b.sp.set_processor_up(now, HealthId(11), false));
    b.run(Duration::from_secs(7));
    let updates = association_updates(&b);
    for (_, u) in &updates {
        assert!(!advertised_pairs(u).is_empty(), "a request without a range");
    }
    assert_eq!(updates.len(), 2, "not repeated");
    assert_eq!(b.sp.stats().association_updates_unanswered, 0);
}
