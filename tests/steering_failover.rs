//! The steering claims about failures, on the deterministic simulator with loss
//! (`common::steering`): the backup serves when the primary fails (claim 6, with the seed sweep
//! `STEERING_SWEEP=a..b`), successive processor failures, a restarted switch processor, and
//! repeated set-ups of one subscriber.

mod common;

use common::gtp::g_pdu;
use common::steering::*;
use std::collections::HashMap;
use std::time::Duration;
use telcp::health::{NodeId as HealthId, NodeState};
use telcp::sim::{NodeId, Sim};
use telcp::steering::fabric::VidState;
use telcp::steering::gtp::Cause;
use telcp::steering::switch::SwitchEvent;
use telcp::steering::{LineInterface, Processor, SwitchProcessor, Verdict, VirtualId};

// ---------------------------------------------------------------- claim 6

#[test]
fn claim_6_backup_serves_when_the_primary_fails_and_no_session_is_lost() {
    failover(6, 0.05);
}

/// The seed range `STEERING_SWEEP=a..b`, when set.
fn sweep_range() -> Option<std::ops::Range<u64>> {
    let s = std::env::var("STEERING_SWEEP").ok()?;
    let (a, b) = s.split_once("..")?;
    Some(a.parse::<u64>().ok()?..b.parse::<u64>().ok()?)
}

/// `scenario` over the seeds `STEERING_SWEEP=a..b` when set (every one, failures collected and
/// listed: `common::for_each_seed`), else over `fixed`.
fn sweep_or(fixed: &[u64], scenario: fn(u64)) {
    match sweep_range() {
        Some(range) => common::for_each_seed(range, scenario),
        None => fixed.iter().for_each(|&seed| scenario(seed)),
    }
}

/// Seeds 20..28 (plus STEERING_SEED), or the range STEERING_SWEEP=a..b (plus STEERING_SEED):
/// every seed of it once, failures collected and listed.
#[test]
fn claim_6_over_many_seeds_with_heavier_loss() {
    common::for_each_seed(sweep_range().unwrap_or(20..28), |seed| failover(seed, 0.1));
}

/// Attempts per request in the failover runs over many seeds (10 % loss on every hop).
///
/// An attempt is answered only if it crosses five lossy hops (SGSN -> line -> switch or
/// processor -> line -> SGSN; the fabric sync in between is retried by the machines), so with
/// 10 % loss an attempt fails with q = 1 - 0.9^5 = 0.4095 and a request goes unanswered after n
/// attempts with q^n: 2.2e-5 for n = 12. A failover run sends about 90 requests (40 Create, 40
/// Update, the victim's Delete), so with n = 12 about 2e-3 of the seeds fail on loss alone:
/// STEERING_SEED=8008 and 13224 were such runs (seeds 8028..8036 and 13244..13252; the trace
/// showed every attempt that reached a processor answered, and all 12 attempts of one Create
/// lost on one hop or another). With n = 24, q^n = 4.9e-10: a sweep of 100 000 seeds (9e6
/// requests) expects 0.004 failures.
const N3_HEAVY_LOSS: u32 = 24;

fn failover(seed: u64, loss: f64) {
    let mut gw = Gateway::new(seed, loss, 1);
    gw.sgsn().n3 = N3_HEAVY_LOSS;
    // The whole retransmission span of a request, and a second for the last answer.
    let span = Duration::from_millis(300) * N3_HEAVY_LOSS + Duration::from_secs(1);
    gw.create_sessions(40);
    gw.settle();
    let layout = layout();
    let victim_vid = gw.proc(12).vid().unwrap();
    let sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
    let victims: Vec<usize> = (0..sessions.len())
        .filter(|&i| layout.primary(sessions[i].gw_teid_c) == Some(victim_vid))
        .collect();
    assert!(!victims.is_empty());
    // Every session of the victim is held by the backup its TEID names, before the failure.
    for &i in &victims {
        let b = layout.backup(sessions[i].gw_teid_c).unwrap();
        let holder = gw.proc_by_vid(b).unwrap();
        assert!(gw.proc(holder).has_session(sessions[i].gw_teid_c));
    }
    let version_before = gw.sp().table_version();
    let n = gw.procs[&12];
    gw.sim.crash(n);
    // Health finds it not operational; the line interface learns it from a table update.
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<LineInterface>(NodeId(1)).table().state(victim_vid) == Some(VidState::Down)
        });
    assert!(
        ok,
        "the line interface never marked the failed processor down"
    );
    for i in 0..sessions.len() {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
        gw.sgsn().g_pdu(i);
        gw.sim.run_for(Duration::from_millis(10));
    }
    gw.sim.run_until_cond(Duration::from_millis(50), span, |s| {
        s.node::<Sgsn>(NodeId(0))
            .sessions
            .iter()
            .all(|x| x.updates_ok >= 1)
    });
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    let served = sgsn.sessions.iter().filter(|s| s.updates_ok >= 1).count();
    assert_eq!(served, sessions.len(), "processor failure lost no session");
    assert!(gw.line(0).stats().to_backup >= victims.len() as u64);
    let by_backup: u64 = PROCS
        .iter()
        .filter(|id| **id != 12)
        .map(|id| gw.proc(*id).stats().served_backup)
        .sum();
    // With 10 % loss, a surviving processor can miss `misses_down` heartbeats in a row and be
    // marked down (and up again) meanwhile: one of its own sessions' updates then goes to its
    // backup too, which is the claim at work, not a loss. The 100 000-seed sweep met this
    // twice (seeds 19560 and 57988: three table versions instead of one, one extra update
    // served by a backup); without such a flap, the backups served exactly the victim's.
    if gw.sp().table_version() - version_before == 1 {
        assert_eq!(
            by_backup,
            victims.len() as u64,
            "the backups answered the victim's updates"
        );
    } else {
        assert!(
            by_backup >= victims.len() as u64,
            "the backups answered the victim's updates"
        );
    }
    // The victim's sessions can still be deleted, by the backups.
    for &i in &victims {
        let now = gw.sim.now();
        gw.sgsn().delete(now, i);
    }
    let v = victims.clone();
    gw.sim.run_until_cond(Duration::from_millis(50), span, |s| {
        let sg = s.node::<Sgsn>(NodeId(0));
        v.iter().all(|&i| sg.sessions[i].deleted.is_some())
    });
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for &i in &victims {
        assert_eq!(sgsn.sessions[i].deleted, Some(Cause::REQUEST_ACCEPTED));
    }
}

// ---------------------------------------------------------------- successive failures

/// Processors fail and restart one after another while sessions come and go. A session is lost
/// only when both processors its TEID names have failed; every other one is still served, and
/// no two live processors ever hold the same VID.
fn successive_failures(seed: u64) {
    let mut gw = Gateway::new(seed, 0.05, 1);
    let layout = layout();
    let mut incarnation: HashMap<u32, u32> = PROCS.iter().map(|id| (*id, 1)).collect();
    // VIDs whose processor failed since the session was created.
    let mut dead_vids: Vec<VirtualId> = Vec::new();
    let mut rng = telcp::Rng::seed_from_u64(seed);
    let mut created = 0;
    for round in 0..3 {
        let n = gw.sim.node::<Sgsn>(gw.sgsn).sessions.len();
        for i in 0..10 {
            let now = gw.sim.now();
            let imsi = format!("0010{round}{:010}", n + i);
            gw.sgsn().create(now, &imsi, 5);
            gw.sim.run_for(Duration::from_millis(30));
        }
        created += 10;
        gw.sim.run_for(Duration::from_secs(3));
        let victim = PROCS[rng.below(PROCS.len() as u64) as usize];
        dead_vids.push(gw.proc(victim).vid().unwrap());
        let node = gw.procs[&victim];
        gw.sim.crash(node);
        gw.sim.run_for(Duration::from_secs(2));
        // Every session with a live holder answers an update.
        let sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
        let before: Vec<u32> = sessions.iter().map(|s| s.updates_ok).collect();
        for (i, s) in sessions.iter().enumerate() {
            if s.created == Some(Cause::REQUEST_ACCEPTED) && s.deleted.is_none() {
                let now = gw.sim.now();
                gw.sgsn().update(now, i);
                gw.sim.run_for(Duration::from_millis(5));
            }
        }
        gw.sim.run_for(Duration::from_secs(4));
        let after = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
        for (i, s) in after.iter().enumerate() {
            if s.created != Some(Cause::REQUEST_ACCEPTED) || s.deleted.is_some() {
                continue;
            }
            let p = layout.primary(s.gw_teid_c).unwrap();
            let b = layout.backup(s.gw_teid_c);
            let both_dead = dead_vids.contains(&p) && b.is_none_or(|b| dead_vids.contains(&b));
            if !both_dead {
                assert_eq!(
                    s.updates_ok,
                    before[i] + 1,
                    "seed {seed} round {round}: session {:08x} (dead {dead_vids:?}) not served",
                    s.gw_teid_c
                );
            }
        }
        // Restart the victim: it asks for a VID again and gets one no live processor holds.
        let inc = incarnation.get_mut(&victim).unwrap();
        *inc += 1;
        let now = gw.sim.now();
        gw.sim.restart(
            node,
            Box::new(Processor::new(processor_config(victim, *inc), now).unwrap()),
        );
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
                s.node::<Processor>(node).vid().is_some()
            });
        assert!(ok, "seed {seed}: restarted processor got no VID");
        gw.sim.run_for(Duration::from_secs(2));
        let mut vids: Vec<VirtualId> = PROCS.iter().filter_map(|id| gw.proc(*id).vid()).collect();
        vids.sort();
        vids.dedup();
        assert_eq!(
            vids.len(),
            PROCS.len(),
            "seed {seed}: two processors share a VID"
        );
        // Delete a few sessions.
        for i in 0..3 {
            let now = gw.sim.now();
            let idx = rng.below(created as u64) as usize;
            let s = &gw.sim.node::<Sgsn>(gw.sgsn).sessions[idx];
            if s.deleted.is_none() && s.created == Some(Cause::REQUEST_ACCEPTED) {
                let p = layout.primary(s.gw_teid_c).unwrap();
                let b = layout.backup(s.gw_teid_c);
                if !(dead_vids.contains(&p) && b.is_none_or(|b| dead_vids.contains(&b))) {
                    gw.sgsn().delete(now, idx);
                }
            }
            let _ = i;
        }
        gw.sim.run_for(Duration::from_secs(3));
    }
    assert!(gw.sim.node::<Sgsn>(gw.sgsn).created() >= 25, "seed {seed}");
}

#[test]
fn successive_processor_failures_lose_only_doubly_failed_sessions() {
    common::for_each_seed(common::seed_range_from(40, common::seeds(6)), |seed| {
        successive_failures(seed);
    });
}

/// The switch processor reports what its health monitor finds of the processors (TS 23.007
/// leaves the node-internal failure handling to the implementation; the caller's operations
/// layer needs it): a crashed processor is reported `ProcessorDown` once, its restart (a higher
/// incarnation) `ProcessorRestarted` with that incarnation and `ProcessorUp`; the live ones
/// are not reported down.
#[test]
fn processor_failure_and_restart_are_reported_by_the_switch_processor() {
    let mut gw = Gateway::new(3, 0.0, 1);
    gw.create_sessions(10);
    gw.settle();
    let sp = gw.sp;
    let switch_events = |gw: &mut Gateway| -> Vec<SwitchEvent> {
        gw.sim
            .events(sp)
            .into_iter()
            .filter_map(|e| match e {
                telcp::Event::Switch(e) => Some(e),
                _ => None,
            })
            .filter(|e| {
                matches!(
                    e,
                    SwitchEvent::ProcessorUp { .. }
                        | SwitchEvent::ProcessorDown { .. }
                        | SwitchEvent::ProcessorRestarted { .. }
                )
            })
            .collect()
    };
    let started = switch_events(&mut gw);
    for id in PROCS {
        assert!(
            started.contains(&SwitchEvent::ProcessorUp {
                processor: HealthId(id)
            }),
            "{started:?}"
        );
    }
    let node = gw.procs[&12];
    gw.sim.crash(node);
    gw.sim.run_for(Duration::from_secs(5));
    assert_eq!(
        switch_events(&mut gw),
        vec![SwitchEvent::ProcessorDown {
            processor: HealthId(12)
        }]
    );
    let now = gw.sim.now();
    gw.sim.restart(
        node,
        Box::new(Processor::new(processor_config(12, 2), now).unwrap()),
    );
    gw.sim.run_for(Duration::from_secs(5));
    let back = switch_events(&mut gw);
    assert!(
        back.contains(&SwitchEvent::ProcessorRestarted {
            processor: HealthId(12),
            incarnation: 2
        }),
        "{back:?}"
    );
    assert!(
        back.contains(&SwitchEvent::ProcessorUp {
            processor: HealthId(12)
        }),
        "{back:?}"
    );
    assert!(
        !back
            .iter()
            .any(|e| matches!(e, SwitchEvent::ProcessorDown { .. })),
        "{back:?}"
    );
}

/// The switch processor's `ProcessorUp` and `ProcessorDown` events since the last call.
fn up_down_events(gw: &mut Gateway) -> Vec<SwitchEvent> {
    gw.sim
        .events(gw.sp)
        .into_iter()
        .filter_map(|e| match e {
            telcp::Event::Switch(
                e @ (SwitchEvent::ProcessorUp { .. } | SwitchEvent::ProcessorDown { .. }),
            ) => Some(e),
            _ => None,
        })
        .collect()
}

/// The operator's command to the switch processor, now.
fn set_processor_up(gw: &mut Gateway, processor: u32, up: bool) -> bool {
    let now = gw.sim.now();
    gw.sim
        .node_mut::<SwitchProcessor>(gw.sp)
        .set_processor_up(now, HealthId(processor), up)
}

/// TS 23.007 clause 23 (general partial failure handling) has a node whose hardware or software
/// failure affects part of its PDN connections recover them, where it can, with
/// "implementation-specific session redundancy procedures" before telling peers anything. Here the
/// redundancy is the session's backup processor, and the trigger need not wait for the heartbeats
/// (Down after `health.misses_down` intervals: 600 ms in this world, 5 s with the defaults): the
/// operator's (or the product's health probe's) `set_processor_up(.., false)` sets the processor
/// Down at once, so a G-PDU whose TEID carries its VID goes to the session's backup after one
/// table push. Its heartbeats, still arriving, do not bring it back; `set_processor_up(.., true)`
/// does, at once.
#[test]
fn a_processor_set_down_by_command_is_failed_over_at_once_and_set_up_again() {
    let mut gw = Gateway::new(4, 0.0, 1);
    gw.create_sessions(10);
    gw.settle();
    let l = layout();
    let vid12 = gw.proc(12).vid().unwrap();
    let idx = gw
        .sgsn()
        .sessions
        .iter()
        .position(|s| l.primary(s.gw_teid_u) == Some(vid12))
        .expect("a session on processor 12");
    let teid = gw.sgsn().sessions[idx].gw_teid_u;
    let backup = l.backup(teid).expect("the session has a backup");
    let steer = |gw: &Gateway| gw.line(0).table().steer(&g_pdu(teid, b"x"));
    let on_primary = Verdict::Processor {
        vid: vid12,
        backup: false,
    };
    let on_backup = Verdict::Processor {
        vid: backup,
        backup: true,
    };
    assert_eq!(steer(&gw), on_primary);
    up_down_events(&mut gw);

    assert!(set_processor_up(&mut gw, 12, false));
    // One table push to the line interface, far less than the heartbeats take.
    gw.sim.run_for(Duration::from_millis(20));
    assert_eq!(steer(&gw), on_backup);
    assert_eq!(gw.sp().processor_state(HealthId(12)), Some(NodeState::Down));
    assert_eq!(
        up_down_events(&mut gw),
        vec![SwitchEvent::ProcessorDown {
            processor: HealthId(12)
        }]
    );
    // The line interface itself passes the session's G-PDU to the backup.
    let before = gw.line(0).stats().to_backup;
    gw.sgsn().g_pdu(idx);
    gw.sim.run_for(Duration::from_millis(20));
    assert_eq!(gw.line(0).stats().to_backup, before + 1);

    // New sessions are placed on the others, as primary and as backup, even once it is the
    // least loaded.
    let before = gw.sgsn().sessions.len();
    for i in 100..140 {
        let now = gw.sim.now();
        gw.sgsn().create(now, &format!("00101{i:010}"), 5);
        gw.sim.run_for(Duration::from_millis(20));
    }
    gw.sim.run_for(Duration::from_millis(500));
    let placed = &gw.sgsn().sessions[before..];
    assert_eq!(placed.len(), 40);
    for s in placed {
        assert_eq!(s.created, Some(Cause::REQUEST_ACCEPTED));
        assert_ne!(l.primary(s.gw_teid_u), Some(vid12));
        assert_ne!(l.backup(s.gw_teid_u), Some(vid12));
    }

    // Heartbeats keep arriving: it stays Down, and is reported nothing else.
    gw.sim.run_for(Duration::from_secs(3));
    assert_eq!(steer(&gw), on_backup);
    assert_eq!(
        gw.sp().monitor().state(telcp::health::NodeId(12)),
        Some(NodeState::Up)
    );
    assert_eq!(up_down_events(&mut gw), vec![]);

    assert!(set_processor_up(&mut gw, 12, true));
    gw.sim.run_for(Duration::from_millis(20));
    assert_eq!(steer(&gw), on_primary);
    assert_eq!(gw.sp().processor_state(HealthId(12)), Some(NodeState::Up));
    assert_eq!(
        up_down_events(&mut gw),
        vec![SwitchEvent::ProcessorUp {
            processor: HealthId(12)
        }]
    );
    // A slot that is not configured is refused.
    assert!(!set_processor_up(&mut gw, 99, false));
}

/// A processor set Down by command that then really fails is reported Down once (its missed
/// heartbeats change nothing the gateway acts on); set Up again while its heartbeats are
/// silent, it stays Down (its sessions stay on their backups) and comes back, reported
/// `ProcessorUp`, only when its heartbeats resume (here, restarted).
#[test]
fn a_processor_set_up_again_comes_back_only_when_its_heartbeats_resume() {
    let mut gw = Gateway::new(5, 0.0, 1);
    gw.create_sessions(6);
    gw.settle();
    up_down_events(&mut gw);
    assert!(set_processor_up(&mut gw, 13, false));
    let node = gw.procs[&13];
    gw.sim.crash(node);
    gw.sim.run_for(Duration::from_secs(2));
    assert_eq!(
        gw.sp().monitor().state(telcp::health::NodeId(13)),
        Some(NodeState::Down)
    );
    assert_eq!(
        up_down_events(&mut gw),
        vec![SwitchEvent::ProcessorDown {
            processor: HealthId(13)
        }]
    );
    assert!(set_processor_up(&mut gw, 13, true));
    gw.sim.run_for(Duration::from_millis(500));
    assert_eq!(gw.sp().processor_state(HealthId(13)), Some(NodeState::Down));
    assert_eq!(up_down_events(&mut gw), vec![]);
    let now = gw.sim.now();
    gw.sim.restart(
        node,
        Box::new(Processor::new(processor_config(13, 2), now).unwrap()),
    );
    gw.sim.run_for(Duration::from_secs(2));
    assert_eq!(gw.sp().processor_state(HealthId(13)), Some(NodeState::Up));
    assert_eq!(
        up_down_events(&mut gw),
        vec![SwitchEvent::ProcessorUp {
            processor: HealthId(13)
        }]
    );
}

// ---------------------------------------------------------------- switch processor restart

#[test]
fn a_restarted_switch_processor_relearns_vids_and_sessions() {
    let mut gw = Gateway::new(15, 0.05, 1);
    gw.create_sessions(30);
    gw.settle();
    // One processor fails first: its sessions are served by their backups.
    let victim = gw.proc(14).vid().unwrap();
    let n14 = gw.procs[&14];
    gw.sim.crash(n14);
    gw.settle();
    let vids: Vec<Option<VirtualId>> = PROCS.iter().map(|id| gw.proc(*id).vid()).collect();
    let old_version = gw.line(0).table().version();
    // The switch processor crashes, then comes back as a new incarnation knowing nothing.
    gw.sim.crash(gw.sp);
    gw.sim.run_for(Duration::from_millis(300));
    // Meanwhile the line interface keeps steering: session packets never needed the switch.
    gw.update_sessions(0..30, Duration::from_millis(5));
    // (A primary answers once its replication attempts give up: max_retries x retransmit.)
    gw.sim.run_for(Duration::from_secs(3));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(
        sgsn.sessions.iter().all(|s| s.updates_ok == 1),
        "sessions served while the switch processor was down"
    );
    let mut cfg = switch_config(&[li_fabric(1)]);
    cfg.incarnation = 2;
    let now = gw.sim.now();
    gw.sim
        .restart(gw.sp, Box::new(SwitchProcessor::new(cfg, now).unwrap()));
    gw.sim.run_for(Duration::from_secs(3));
    // The live processors kept their VIDs; the failed one's VID is relearned (down) from the
    // sessions its backups announced; the table replaced the old one.
    for (id, v) in PROCS.iter().zip(&vids) {
        if *id != 14 {
            assert_eq!(
                gw.sp().vid_of(HealthId(*id)),
                *v,
                "processor {id} kept its VID"
            );
        }
    }
    assert_eq!(gw.sp().session_count(), 30, "every session announced again");
    assert!(gw.sp().vid_refs(victim).is_some_and(|r| r > 0));
    let t = gw.line(0).table();
    assert!(t.version() > old_version);
    assert_eq!(t.state(victim), Some(VidState::Down));
    // Sessions are still served (the failed processor's by its backups), and new ones set up.
    gw.update_sessions(0..30, Duration::from_millis(5));
    gw.sim.run_for(Duration::from_secs(3));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(sgsn.sessions.iter().all(|s| s.updates_ok == 2));
    let now = gw.sim.now();
    let idx = gw.sgsn().create(now, "001015555555555", 5);
    gw.sim.run_for(Duration::from_secs(2));
    let s = gw.sim.node::<Sgsn>(gw.sgsn).sessions[idx].clone();
    assert_eq!(s.created, Some(Cause::REQUEST_ACCEPTED));
    assert_ne!(
        layout().primary(s.gw_teid_c),
        Some(victim),
        "no new session on a down VID"
    );
}

/// A switch processor restarts (incarnation 2) in a gateway of two line interfaces and four
/// processors, with loss, over several seeds. It knows no line interface's incarnation: the
/// tables it pushes name none, the line interfaces refuse them and acknowledge the tables they
/// hold, and it pushes again sealed for them; the processors learn its incarnation from its
/// heartbeats and VID assignments and announce every session again. Within a few seconds each
/// line interface holds a table of the new incarnation (versions from `2 << 32`), acknowledged,
/// every session is known again (the processors' Syncs were taken), the sessions are served,
/// and a new set-up is placed (placement needs the line interfaces' acknowledgements).
///
/// Seeds 3, 21 and 47, or the range `STEERING_SWEEP=a..b` (every seed of it once, failures
/// collected and listed: `sweep_or`).
#[test]
fn after_a_switch_processor_restart_lines_and_processors_resume_over_seeds() {
    sweep_or(&[3, 21, 47], switch_restart);
}

/// One seed of [`after_a_switch_processor_restart_lines_and_processors_resume_over_seeds`].
fn switch_restart(seed: u64) {
    let mut gw = Gateway::new(seed, 0.05, 2);
    gw.create_sessions(12);
    gw.settle();
    gw.sim.crash(gw.sp);
    gw.sim.run_for(Duration::from_millis(300));
    let mut cfg = switch_config(&[li_fabric(1), li_fabric(2)]);
    cfg.incarnation = 2;
    let now = gw.sim.now();
    gw.sim
        .restart(gw.sp, Box::new(SwitchProcessor::new(cfg, now).unwrap()));
    let (sp, lines) = (gw.sp, gw.lines.clone());
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(50), Duration::from_secs(10), |s| {
            let sp = s.node::<SwitchProcessor>(sp);
            sp.session_count() == 12
                && lines.iter().enumerate().all(|(i, l)| {
                    let v = s.node::<LineInterface>(*l).table().version();
                    v >> 32 == 2
                        && v == sp.table_version()
                        && sp.acked_version(li_fabric(i as u8 + 1)) == Some(v)
                })
        });
    assert!(
        ok,
        "seed {seed}: sessions {}, tables {:?}, switch {}",
        gw.sp().session_count(),
        (0..2)
            .map(|i| gw.line(i).table().version())
            .collect::<Vec<_>>(),
        gw.sp().table_version()
    );
    gw.update_sessions(0..12, Duration::from_millis(5));
    gw.sim.run_for(Duration::from_secs(3));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(
        sgsn.sessions.iter().all(|s| s.updates_ok == 1),
        "seed {seed}: every session served after the restart"
    );
    let now = gw.sim.now();
    let idx = gw.sgsn().create(now, "001015555555555", 5);
    // Within the SGSN's retransmissions (this harness's N3 and T3: 12 tries, 300 ms apart); a
    // few seeds in 100,000 need more than 2 s of them under this loss.
    let sgsn = gw.sgsn;
    gw.sim
        .run_until_cond(Duration::from_millis(50), Duration::from_secs(5), |s| {
            s.node::<Sgsn>(sgsn).sessions[idx].created.is_some()
        });
    let s = gw.sim.node::<Sgsn>(gw.sgsn).sessions[idx].clone();
    assert_eq!(s.created, Some(Cause::REQUEST_ACCEPTED), "seed {seed}");
}

// ---------------------------------------------------------------- line interface restart

/// The line interface the SGSN talks to crashes and restarts (same node id, incarnation 2) in a
/// gateway of two line interfaces and four processors, on links with 5 % loss, duplication and
/// reordering; the switch processor keeps its table (or changes it only where loss made it see
/// a processor Down and Up again). The SGSN's Update PDP
/// Context Requests for all twelve sessions start at once, before the line interface has its
/// table back: it drops them without answering (a Non-existent answer, TS 29.060 section
/// 7.3.4, would end a context that exists, and so would an Error Indication, TS 29.281 section
/// 7.3.1), its hello brings the table back, and the SGSN's retransmissions (this harness's
/// `N3` and `T3`: 12 tries, 300 ms apart) are served: every session is updated, none answered
/// as non-existent.
///
/// Seeds 5, 17 and 33, or the range `STEERING_SWEEP=a..b` (every seed of it once, failures
/// collected and listed: `sweep_or`).
#[test]
fn a_restarted_line_interface_loses_no_session_over_seeds() {
    sweep_or(&[5, 17, 33], line_restart);
}

/// One seed of [`a_restarted_line_interface_loses_no_session_over_seeds`].
fn line_restart(seed: u64) {
    let mut gw = Gateway::new(seed, 0.05, 2);
    gw.create_sessions(12);
    gw.settle();
    assert!(
        gw.sim
            .node::<Sgsn>(gw.sgsn)
            .sessions
            .iter()
            .all(|s| s.created == Some(Cause::REQUEST_ACCEPTED)),
        "seed {seed}: every session created"
    );
    let version = gw.sp().table_version();
    let line = gw.lines[0];
    gw.sim.crash(line);
    gw.sim.run_for(Duration::from_millis(200));
    let mut cfg = line_config(1);
    cfg.incarnation = 2;
    let now = gw.sim.now();
    gw.sim
        .restart(line, Box::new(LineInterface::new(cfg, now).unwrap()));
    // At once: the requests reach a line interface that holds no table yet.
    gw.update_sessions(0..12, Duration::ZERO);
    gw.sim.run_for(Duration::from_secs(5));
    // The switch processor's current table: the one held before the crash, or a newer one
    // if loss made it see a processor Down and Up again meanwhile.
    let current = gw.sp().table_version();
    assert!(current >= version, "seed {seed}");
    let li = gw.sim.node::<LineInterface>(line);
    assert_eq!(
        li.table().version(),
        current,
        "seed {seed}: the table is back"
    );
    assert_eq!(li.poll_timeout(), None, "seed {seed}: no hello left");
    let stats = li.stats();
    assert_eq!(
        (stats.error_indications, stats.non_existent),
        (0, 0),
        "seed {seed}: nothing answered for the gateway's own sessions"
    );
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(
        sgsn.sessions.iter().all(|s| s.updates_ok == 1),
        "seed {seed}: every session updated: {:?}",
        sgsn.sessions
            .iter()
            .map(|s| s.updates_ok)
            .collect::<Vec<_>>()
    );
}

/// A line interface restarts (same node id, incarnation 2) while the switch processor's table
/// stays as it was. It holds no table: a G-PDU of a live session is dropped, and draws no Error
/// Indication (TS 29.281 section 7.3.1: the peer would delete the context, which exists). Its
/// hello brings back the switch processor's current table within a few hello intervals (1 s),
/// and the session's G-PDUs reach its processor again.
#[test]
fn a_restarted_line_interface_gets_its_table_back_and_answers_nothing_before() {
    use common::gtp::Gw;
    use telcp::steering::line::DropReason;
    let mut gw = Gw::new();
    let r = gw.create("001010000000042", 1, 0x5555);
    let teid = r.u32_ie(16).expect("TEID Data I");
    let before = gw.user_packets();
    let ue = std::net::Ipv4Addr::new(10, 0, 0, 9);
    let packet = g_pdu(teid, &common::sgsn::inner_ipv4(ue, b"ping"));
    assert!(gw.u(&packet).is_empty());
    assert_eq!(gw.user_packets(), before + 1);
    let version = gw.sp.table_version();
    gw.restart_line(2);
    let out = gw.u(&packet);
    assert!(out.is_empty(), "no Error Indication: {out:?}");
    assert_eq!(gw.line.stats().drops(DropReason::UnknownVid), 1);
    assert_eq!(gw.line.stats().error_indications, 0);
    assert_eq!(gw.user_packets(), before + 1);
    gw.advance(Duration::from_secs(3));
    assert_eq!(gw.sp.table_version(), version, "the table did not change");
    assert_eq!(gw.line.table().version(), version, "the table is back");
    assert_eq!(gw.sp.acked_version(gw.line_fabric()), Some(version));
    assert_eq!(gw.line.poll_timeout(), None, "no hello left");
    assert!(gw.u(&packet).is_empty());
    assert_eq!(
        gw.user_packets(),
        before + 2,
        "steered to its processor again"
    );
    assert_eq!(gw.line.stats().fabric_refused, 0);
}

// ---------------------------------------------------------------- repeated set-ups

#[test]
fn repeated_setups_of_a_subscriber_leave_no_orphaned_backup_copy() {
    let mut gw = Gateway::new(29, 0.05, 1);
    let layout = layout();
    let (sgsn_node, line) = (gw.sgsn, gw.lines[0]);
    // Three processors: when one fails, the other two are the only candidates, so the backup
    // of a failed primary's session takes part in the set-up that replaces it.
    let v14 = gw.proc(14).vid().unwrap();
    gw.sim.crash(gw.procs[&14]);
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<LineInterface>(line).table().state(v14) == Some(VidState::Down)
        });
    assert!(ok);
    let mut incarnation: HashMap<u32, u32> = PROCS.iter().map(|id| (*id, 1)).collect();
    let live = [11, 12, 13];
    let mut after = Vec::new();
    for cycle in 0..3 {
        // The request reaches the gateway; every answer to the SGSN is lost.
        gw.sim.partition(sgsn_node, line);
        let now = gw.sim.now();
        let idx = gw.sgsn().create(now, "001019999999999", 5);
        let seq = gw.sgsn().seq;
        let bytes = gw.sgsn().outstanding[&seq].bytes.clone();
        // The primary created the session and replicated it to the backup. (The SGSN's
        // retransmissions are cut off with its answers: copies are injected, every 300 ms.)
        let replicated = |s: &Sim| -> bool {
            live.iter().any(|id| {
                let p = s.node::<Processor>(gw.procs[id]);
                p.session_teids().any(|t| {
                    live.iter().any(|b| {
                        let q = s.node::<Processor>(gw.procs[b]);
                        b != id && q.vid() == layout.backup(t) && q.has_session(t)
                    })
                })
            })
        };
        let mut ok = false;
        for _ in 0..N3 {
            gw.sim
                .inject(sa(SGSN_IP, 2123), sa(GW_IP, 2123), bytes.clone());
            ok = gw
                .sim
                .run_until_cond(Duration::from_millis(5), Duration::from_millis(300), |s| {
                    replicated(s)
                });
            if ok {
                break;
            }
        }
        assert!(ok, "cycle {cycle}: the first attempt was not replicated");
        let primary = *live
            .iter()
            .find(|id| gw.proc(**id).session_count() == 1)
            .unwrap();
        // The primary fails before the SGSN saw the answer; the SGSN repeats the request.
        crash_until_down(&mut gw, primary);
        gw.sim.heal(sgsn_node, line);
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(10), |s| {
                s.node::<Sgsn>(sgsn_node).sessions[idx].created.is_some()
            });
        assert!(ok, "cycle {cycle}: the repeat was not answered");
        assert_eq!(
            gw.sim.node::<Sgsn>(sgsn_node).sessions[idx].created,
            Some(Cause::REQUEST_ACCEPTED)
        );
        // The SGSN is done with the session it got (once duplicates of its request in flight
        // have drained: one arriving after the Delete would be a new set-up); the failed
        // processor comes back.
        gw.sim.run_for(Duration::from_secs(1));
        let now = gw.sim.now();
        gw.sgsn().delete(now, idx);
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(10), |s| {
                s.node::<Sgsn>(sgsn_node).sessions[idx].deleted.is_some()
            });
        assert!(ok, "cycle {cycle}: the Delete was not answered");
        let inc = incarnation.get_mut(&primary).unwrap();
        *inc += 1;
        let n = gw.procs[&primary];
        let now = gw.sim.now();
        gw.sim.restart(
            n,
            Box::new(Processor::new(processor_config(primary, *inc), now).unwrap()),
        );
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
                s.node::<Processor>(n).vid().is_some_and(|v| {
                    s.node::<LineInterface>(line).table().state(v) == Some(VidState::Up)
                })
            });
        assert!(ok, "cycle {cycle}: the restarted processor did not come up");
        gw.settle();
        let own: usize = live.iter().map(|id| gw.proc(*id).session_count()).sum();
        let shadow: usize = live.iter().map(|id| gw.proc(*id).shadow_count()).sum();
        after.push((own, shadow, gw.sp().session_count()));
    }
    // After every cycle the subscriber has no session (the SGSN deleted the one it got), and no
    // processor keeps a copy of the first attempt: the set-up that replaced it superseded it.
    assert_eq!(
        after,
        vec![(0, 0, 0); 3],
        "(own, shadow, switch) after each cycle"
    );
    let superseded: u64 = live
        .iter()
        .map(|id| gw.proc(*id).stats().shadow_superseded)
        .sum();
    assert!(superseded >= 1, "{superseded}");
}

// ---------------------------------------------------------------- a context replaced

/// TS 29.060 7.3.1: "If the GGSN receives a Create PDP Context Request message for an already
/// active PDP context, this Create PDP Context Request message shall be considered as related
/// to a new session. The existing PDP context shall be torn down locally, and the associated
/// resources deleted before the new session is created." Here the context's primary has
/// failed and its backup serves it: the new request (same IMSI and NSAPI, a new sequence
/// number) is served, the copy the backup held is torn down, and the gateway holds one
/// context for the subscriber (the switch processor one live session), on a new TEID.
#[test]
fn a_new_setup_replaces_the_context_its_backup_serves() {
    let mut gw = Gateway::new(31, 0.0, 1);
    let layout = layout();
    let now = gw.sim.now();
    let first = gw.sgsn().create(now, "001018888888888", 5);
    gw.settle();
    let old = gw.sim.node::<Sgsn>(gw.sgsn).sessions[first].gw_teid_c;
    assert_ne!(old, 0, "the first set-up was answered");
    let holder = |gw: &Gateway, v: Option<VirtualId>| {
        *PROCS.iter().find(|id| gw.proc(**id).vid() == v).unwrap()
    };
    let (primary, backup) = (
        holder(&gw, layout.primary(old)),
        holder(&gw, layout.backup(old)),
    );
    assert!(gw.proc(backup).has_session(old), "replicated");
    crash_until_down(&mut gw, primary);
    gw.settle();
    assert_eq!(gw.sp().session_count(), 1);
    let now = gw.sim.now();
    let second = gw.sgsn().create(now, "001018888888888", 5);
    gw.settle();
    let s = gw.sim.node::<Sgsn>(gw.sgsn).sessions[second].clone();
    assert_eq!(s.created, Some(Cause::REQUEST_ACCEPTED));
    assert_ne!(s.gw_teid_c, old, "a new context");
    let live = PROCS.iter().filter(|id| **id != primary);
    assert!(
        live.clone().all(|id| !gw.proc(*id).has_session(old)),
        "the copy the backup served is torn down"
    );
    assert!(live.clone().any(|id| gw.proc(*id).has_session(s.gw_teid_c)));
    assert_eq!(gw.sp().session_count(), 1, "one live session");
    // The gateway's design: the switch processor directed the new set-up to the processor
    // serving the context (its index of subscribers), whatever the loads.
    assert_eq!(layout.primary(s.gw_teid_c), gw.proc(backup).vid());
}

/// Crashes processor `id` and runs until the first line interface steers its VID as down.
fn crash_until_down(gw: &mut Gateway, id: u32) {
    let (vid, line) = (gw.proc(id).vid().unwrap(), gw.lines[0]);
    gw.sim.crash(gw.procs[&id]);
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<LineInterface>(line).table().state(vid) == Some(VidState::Down)
        });
    assert!(ok, "processor {id} seen down");
}
