//! Silent failover inside the virtual LNS (issue 15): a pool LNS holding N sessions with a LAC
//! crashes; its backup (chosen by load) takes the tunnel and the sessions over, the caller moves
//! the address, and the LAC sees nothing but a short delay: no tunnel re-established, no session
//! lost, PPP frames sent after the takeover arrive both ways, control messages still flow.
//!
//! Over simulator seeds at 10 % loss, 5 % duplication and 5 % reordering on every link, the LAC's
//! and the members' own (heartbeats and replication), in every phase: set-up, steady state,
//! takeover. Heartbeat loss makes false Downs happen too (a member taken over while alive yields
//! when it hears of it); a member cut off on purpose is the false Down tested on its own.
//! `TELCP_FAILOVER_SEEDS` (default 8), `TELCP_FAILOVER_FIRST` (default 0) and
//! `TELCP_FAILOVER_SESSIONS` (default 20; the sweep of issue 15 goes to 1,000) set the sweep;
//! `TELCP_DEBUG` prints a failing seed's events (`TELCP_DEBUG=entries`: and each replication
//! batch's records). `TELCP_GIVEUPS` prints (`--nocapture`) a `giveup` line for every member
//! giving its backup up as unresponsive (`Stats::backups_unresponsive`), with its cause as the
//! simulator saw it (`common::failover::GiveUp`: the backup crashed or cut off, or alive and
//! reachable, its batches merely lost); with `TELCP_DEBUG` too, the pair's datagrams then.
#![cfg(feature = "sim")]

mod common;

use common::failover::*;
use std::time::Duration;
use telcp::l2tp::session::SessionState;
use telcp::l2tp::{CallId, Event, Lac, Lns};

/// Rounds of frames sent (one per call each way per round, 100 ms apart) where the test
/// checks that at least one arrived on every call: all of them are lost on a call with
/// probability 0.1^rounds at 10 % loss. 8 rounds (10^-8 per call and check) failed in the
/// 100,000-seed sweep (seed 48622 of the false-Down test: all 8 frames to the LAC on call 4
/// lost); at 16, a sweep of 10^5 seeds with a few hundred checks each fails with probability
/// about 10^-9.
const FRAME_ROUNDS: usize = 16;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn lossy() -> telcp::sim::LinkConfig {
    common::l2tp::lossy_link()
}

/// The live members serving a session.
fn servers(w: &World) -> Vec<usize> {
    (0..w.members.len())
        .filter(|i| w.alive(*i) && !w.serving[*i].is_empty())
        .collect()
}

/// The one live member serving `n` sessions; no other live member serves any (one owner per
/// tunnel). A member declared Down while alive (a false Down) serves until the taker's
/// [`telcp::l2tp::replica::Record::TakenOver`] reaches it, though the LAC's packets already go
/// to the taker, which holds the address (`lns::takeover` docs); and a taker whose copy came
/// from a bulk sync still under way adopts the rest as the sync's records land (`late_record`).
/// Both are given up to 10 s (a few retransmissions over the lossy member links).
fn server(w: &mut World, n: usize) -> usize {
    w.run_until(Duration::from_secs(10), |w| {
        let s = servers(w);
        s.len() == 1 && w.serving[s[0]].len() == n
    });
    let servers = servers(w);
    let brief: Vec<Vec<String>> = w
        .events
        .iter()
        .map(|v| {
            v.iter()
                .filter(|e| !matches!(e, Event::SessionUp { .. }))
                .map(|e| format!("{e:?}").chars().take(90).collect())
                .collect()
        })
        .collect();
    if servers.len() != 1 {
        dump(w);
    }
    assert_eq!(
        servers.len(),
        1,
        "seed {}: servers {servers:?} {brief:?}",
        w.seed
    );
    assert_eq!(w.serving[servers[0]].len(), n, "seed {}", w.seed);
    servers[0]
}

/// Every call is served at member `i`, per the LAC's view: the LAC holds `n` sessions and
/// member `i` serves `n`.
fn all_served_at(w: &World, i: usize, n: usize) -> bool {
    w.serving[i].len() == n
}

/// The LAC got at least one frame on every call, and the members on every session member `i`
/// serves, counting only frames after `lac_before` (and since `member_frames` was cleared): at
/// `i`, or at the member that served the session when the frame arrived (a false Down under
/// heartbeat loss may move the tunnel while frames flow).
fn frames_arrived(
    w: &World,
    i: usize,
    calls: &[telcp::l2tp::CallId],
    lac_before: &std::collections::BTreeMap<telcp::l2tp::CallId, usize>,
) -> Result<(), String> {
    for c in calls {
        let now = w.lac_frames.get(c).copied().unwrap_or(0);
        if now <= lac_before.get(c).copied().unwrap_or(0) {
            return Err(format!(
                "no frame reached the LAC on {c:?} after the takeover"
            ));
        }
    }
    for s in &w.serving[i] {
        let got: usize = w
            .member_frames
            .iter()
            .map(|f| f.get(&(s.tunnel, s.session)).copied().unwrap_or(0))
            .sum();
        if got == 0 {
            return Err(format!("no frame reached member {i} on {s:?}"));
        }
    }
    Ok(())
}

/// With `TELCP_DEBUG` set, every event to stderr (a failing seed's story; a takeover's sessions
/// as (our, the LAC's) Session IDs).
fn dump(w: &World) {
    if std::env::var("TELCP_DEBUG").is_err() {
        return;
    }
    let short = |e: &Event| format!("{e:?}").chars().take(300).collect::<String>();
    for (i, ev) in w.events.iter().enumerate() {
        for e in ev {
            match e {
                Event::SessionUp { session, .. } => eprintln!("member {i}: up {session:?}"),
                Event::TakenOver {
                    failed: from,
                    addr,
                    tunnels,
                    sessions,
                    ..
                } => {
                    let s: Vec<(u16, u16)> = sessions
                        .iter()
                        .map(|h| (h.session.session, h.peer_session))
                        .collect();
                    eprintln!("member {i}: TakenOver from {from:?} {addr} {tunnels:?} {s:?}");
                }
                e => eprintln!("member {i}: {}", short(e)),
            }
        }
    }
    for e in &w.lac_events {
        eprintln!("lac: {}", short(e));
    }
}

/// Issue 15 item 3 (one owner per tunnel; a member's restart resurrects nothing) and RFC 2661
/// 6.12 (a call the LAC cleared with its CDN is gone at the LNS), at the end of a scenario: the
/// sessions the live members serve are exactly the calls the LAC holds (matched by the LAC's
/// Session ID, each at one member, established in that member's table, nothing else in it), and
/// no live member holds a replica of a session its owner no longer has (a dead owner has none).
fn consistent(w: &World, calls: &[CallId]) -> Result<(), String> {
    let lac = w.sim.node::<Lac>(w.lac);
    let mut held: Vec<u16> = calls
        .iter()
        .filter_map(|c| lac.session_of(*c))
        .map(|s| s.session)
        .collect();
    if lac.call_count() != held.len() {
        return Err(format!(
            "the LAC has {} calls, {} of them up",
            lac.call_count(),
            held.len()
        ));
    }
    held.sort_unstable();
    let live: Vec<usize> = (0..w.members.len()).filter(|i| w.alive(*i)).collect();
    let mut served = Vec::new();
    for &i in &live {
        let m = w.sim.node::<Lns>(w.members[i]);
        for s in &w.serving[i] {
            match m.session_info(*s) {
                Some(info) if info.state == SessionState::Established => {
                    served.push(info.handoff.peer_session);
                }
                other => {
                    return Err(format!(
                        "member {i} reported {s:?} up, holds {:?}",
                        other.map(|o| o.state)
                    ));
                }
            }
        }
        if m.session_count() != w.serving[i].len() {
            return Err(format!(
                "member {i} holds {} sessions, reported {} up",
                m.session_count(),
                w.serving[i].len()
            ));
        }
    }
    served.sort_unstable();
    if served != held {
        return Err(format!(
            "{} served (the LAC's Session IDs {served:?}), {} held by the LAC ({held:?})",
            served.len(),
            held.len()
        ));
    }
    for &j in &live {
        for i in (0..w.members.len()).filter(|i| *i != j) {
            let at_j = w.sim.node::<Lns>(w.members[j]);
            for s in at_j.held_sessions_for(telcp::health::NodeId(i as u32 + 1)) {
                let owner_has =
                    w.alive(i) && w.sim.node::<Lns>(w.members[i]).session_info(s).is_some();
                if !owner_has {
                    return Err(format!(
                        "member {j} holds a replica of {s:?} that member {i} does not have"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// [`consistent`] within 30 s, plus 1 s per 10 calls (replication, a bulk sync of every call
/// over the lossy links after a late false Down, and the LAC's last CDNs in flight land); else
/// the seed's story and the panic.
fn settle(w: &mut World, calls: &[CallId]) {
    let calls = calls.to_vec();
    let c = calls.clone();
    let limit = Duration::from_secs(30 + calls.len() as u64 / 10);
    if !w.run_until(limit, move |w| consistent(w, &c).is_ok()) {
        dump(w);
        w.dump_trace(Duration::ZERO);
        panic!("seed {}: {}", w.seed, consistent(w, &calls).unwrap_err());
    }
    // Sans-IO contract (`Endpoint::poll_timeout`): after `handle_timeout(t)` no deadline at or
    // before `t` is left; the simulator steps over one (counted) where a driver would spin.
    assert_eq!(
        w.sim.stats().stalled_timeouts,
        0,
        "seed {}: a member left a deadline in the past after handle_timeout",
        w.seed
    );
}

/// Established tunnels at member `i` (tunnels in their hold period not counted).
fn established_tunnels(w: &mut World, i: usize) -> usize {
    let m = w.member(i);
    (0..=u16::MAX)
        .filter_map(|t| m.tunnel_info(t))
        .filter(|t| t.state == telcp::l2tp::tunnel::TunnelState::Established)
        .count()
}

/// SCCRQs the LAC sent (delivered or not) since `since`, from the simulator's trace: a tunnel
/// re-established by the LAC starts with one (RFC 2661 5.1; issue 15: "no tunnel is
/// re-established by the LAC"). In RFC 4951 mode the recovery tunnel is the LNS's (its SCCRQ
/// carries the Tunnel Recovery AVP, RFC 4951 3.2.1); the LAC answers it with an SCCRP. The trace
/// must be whole (not past the simulator's limit of a million records), or the count could miss
/// one.
fn lac_sccrqs_since(w: &World, since: Duration) -> usize {
    use telcp::l2tp::wire::{Message, MessageType};
    let trace = w.sim.trace();
    assert!(trace.len() < 1_000_000, "seed {}: trace cut short", w.seed);
    trace
        .iter()
        .filter(|r| r.at >= since && r.src_node == Some(w.lac))
        .filter(|r| {
            matches!(Message::parse(&r.payload), Ok(Message::Control(c))
                if c.message_type() == Some(MessageType::SCCRQ))
        })
        .count()
}

/// One seed: `n` calls with member 0 (or the member that took them after a false Down during the
/// set-up), which crashes at a seed-chosen moment; its backup, chosen by load, takes over.
fn failover(seed: u64, n: usize, rfc4951: bool) -> World {
    let mut w = World::with_failover(seed, 3, lossy(), rfc4951);
    let calls = w.open_calls(n);
    // Output commit (`lns::replicate` docs): a call the LAC has up is held by the backup already,
    // whatever the member links lost, so a crash right now loses nothing. (A false Down of the
    // backup during the set-up moves it: until the new one acknowledged its whole bulk sync,
    // the former one keeps its copy, and holds the calls.)
    let p0 = server(&mut w, n);
    // Its backup; none at this instant when heartbeat loss has both other members not Up
    // (`lns::replicate` docs, backup: only an Up member is chosen): then the member holding
    // its copy, which a crash now leaves the calls to (seed 14922).
    let b0 = match w.member(p0).backup() {
        Some(b) => b.0 as usize - 1,
        None => {
            let mut best = (usize::MAX, (0, 0));
            for i in (0..3).filter(|i| *i != p0) {
                let h = w.member(i).held_for(telcp::health::NodeId(p0 as u32 + 1));
                if best.0 == usize::MAX || h > best.1 {
                    best = (i, h);
                }
            }
            best.0
        }
    };
    let held = |w: &mut World| w.member(b0).held_for(telcp::health::NodeId(p0 as u32 + 1));
    let quiet_setup = (0..3).all(|i| w.takeovers(i).is_empty());
    if quiet_setup {
        let copies: Vec<(usize, usize)> = (0..3)
            .filter(|i| *i != p0)
            .map(|i| w.member(i).held_for(telcp::health::NodeId(p0 as u32 + 1)))
            .collect();
        assert!(
            held(&mut w) == (1, n) || copies.contains(&(1, n)),
            "seed {seed}: set-ups not yet replicated when the LAC had them up: {copies:?}"
        );
    } else {
        // A false Down moved the calls: the taker's bulk sync to its own backup is under way.
        // (In RFC 4951 mode the LAC may have opened a second tunnel for calls it set up while
        // the first was in recovery.)
        let synced = w.run_until(Duration::from_secs(20), move |w| {
            held(w) == (established_tunnels(w, p0), n)
        });
        assert!(synced, "seed {seed}: no bulk sync to the taker's backup");
    }
    // Some traffic, and HELLO-free time so the copies lag by whatever the channel did since.
    w.send_frames(&calls, 2);
    w.run(Duration::from_millis(seed % 3000));
    // The LNS serving the calls: member 0, or (a false Down under heartbeat loss during the
    // set-up) the member that took its tunnel. Its backup is a live member chosen by load.
    // (A false Down of its backup moves the backup: the new one's bulk sync may be under way.)
    let p = server(&mut w, n);
    let backup_of_p = move |w: &mut World| w.member(p).backup().expect("a backup").0 as usize - 1;
    let synced = w.run_until(Duration::from_secs(20), move |w| {
        let b = backup_of_p(w);
        w.member(b).held_for(telcp::health::NodeId(p as u32 + 1)) == (established_tunnels(w, p), n)
    });
    assert!(synced, "seed {seed}: the backup holds not every call");
    let p_tunnels = established_tunnels(&mut w, p);
    let b = backup_of_p(&mut w);
    assert_ne!(b, p, "seed {seed}");
    let tunnel_ups = w.lac_tunnel_ups();
    // (The backup may have taken the tunnel before, in a false Down during the set-up, and
    // given it back: the takeover is the one after the crash.)
    let before = w.takeovers(b).len();
    let crash_at = w.sim.elapsed();
    w.sim.crash(w.members[p]);
    let took = w.run_until(Duration::from_secs(20), move |w| {
        w.takeovers(b).len() > before
    });
    assert!(took, "seed {seed}: no takeover by member {b}");
    match w.takeovers(b)[before] {
        Event::TakenOver {
            addr,
            tunnels,
            sessions,
            ..
        } => {
            assert_eq!(*addr, service(0).ip(), "seed {seed}");
            assert_eq!(tunnels.len(), p_tunnels, "seed {seed}");
            assert_eq!(sessions.len(), n, "seed {seed}: handoffs");
            assert!(sessions.iter().all(|h| h.local == service(0)
                && h.peer == common::l2tp::addr("10.0.9.1")
                && h.peer_session != 0));
        }
        _ => unreachable!(),
    }
    // Every call is served at the backup, or (a false Down of the backup under heartbeat loss
    // right after its takeover, seed 95824) at the member that took the tunnel from it in turn.
    let from_b = telcp::health::NodeId(b as u32 + 1);
    let took_from_b = move |w: &World, i: usize| {
        w.takeovers(i)
            .iter()
            .any(|e| matches!(e, Event::TakenOver { failed, .. } if *failed == from_b))
    };
    let served = w.run_until(Duration::from_secs(10), move |w| {
        let s = servers(w);
        s.len() == 1 && all_served_at(w, s[0], n) && (s[0] == b || took_from_b(w, s[0]))
    });
    if !served {
        dump(&w);
        w.dump_trace(crash_at.saturating_sub(Duration::from_secs(5)));
    }
    assert!(
        served,
        "seed {seed}: not every call served at the backup (or its taker)"
    );
    let st = w.member(b).stats();
    assert!(
        st.tunnels_taken_over >= 1 && st.sessions_taken_over >= n as u64,
        "seed {seed}"
    );
    if st.sessions_lost_in_takeover != 0 {
        dump(&w);
        w.dump_trace(crash_at.saturating_sub(Duration::from_secs(5)));
    }
    assert_eq!(st.sessions_lost_in_takeover, 0, "seed {seed}");
    if rfc4951 {
        // The recovery tunnel, the Suggested Control Sequence and FSQ/FSR (RFC 4951 section 5),
        // by the backup or (a false Down under heartbeat loss took the tunnel from it before
        // its recovery ended) by the member that took it then.
        // The recovery resumes the old tunnel once its SCCCN is acknowledged (`tunnel::recovery`
        // docs): over lossy links that takes up to the channel's whole retransmission span (the
        // SCCCN or the LAC's ZLB lost again and again, seed 21494), plus a second recovery's if
        // a false Down moved the tunnel meanwhile.
        let live = |w: &mut World| -> Vec<telcp::l2tp::Stats> {
            let alive: Vec<usize> = (0..3).filter(|i| w.alive(*i)).collect();
            alive.into_iter().map(|i| w.member(i).stats()).collect()
        };
        let ok = w.run_until(give_up_after() * 2, move |w| {
            live(w).iter().any(|s| s.recoveries_succeeded >= 1)
        });
        if !ok {
            dump(&w);
            w.dump_trace(crash_at.saturating_sub(Duration::from_secs(5)));
        }
        assert!(ok, "seed {seed}: no RFC 4951 recovery: {:?}", live(&mut w));
        // With no false Down during the set-up, the backup holds exactly the calls the LAC has
        // up (output commit), so no FSR clears one. A recovery during the set-up (a false
        // Down) ends the LAC's calls not yet established (RFC 4951 3.3 Step I), and a member
        // still holding one learns so from the FSR, which clears it (3.3: the LAC answers 0
        // for it): the protocol at work, not a loss; the LAC's calls all stay served (checked
        // below).
        if quiet_setup {
            let cleared: u64 = live(&mut w).iter().map(|s| s.sessions_cleared_by_fsr).sum();
            assert_eq!(cleared, 0, "seed {seed}");
        }
    }
    let lac_before = w.lac_frames.clone();
    for f in &mut w.member_frames {
        f.clear();
    }
    w.send_frames(&calls, FRAME_ROUNDS);
    w.run(Duration::from_secs(2));
    // The server is the backup, or (a false Down under heartbeat loss) the member that took the
    // tunnel from it in turn.
    let at = server(&mut w, n);
    if let Err(e) = frames_arrived(&w, at, &calls, &lac_before) {
        dump(&w);
        panic!("seed {seed}: {e}");
    }
    // The control channel continues: the LAC hangs up one call, the backup sees the CDN.
    let now = w.sim.now();
    let victim = calls[0];
    let lac_ref = w.sim.node::<telcp::l2tp::Lac>(w.lac).session_of(victim);
    assert!(lac_ref.is_some());
    w.lac()
        .close_session(now, victim, telcp::l2tp::Close::default())
        .unwrap();
    let closed = w.run_until(Duration::from_secs(60), move |w| {
        (0..3).any(|i| w.alive(i) && w.serving[i].len() == n - 1)
    });
    if !closed {
        dump(&w);
        w.dump_trace(crash_at);
    }
    assert!(closed, "seed {seed}: the backup never saw the CDN");
    // Quiet time: HELLOs both ways (60 s), nothing torn down.
    w.run(Duration::from_secs(150));
    assert_eq!(
        w.lac_tunnel_ups(),
        tunnel_ups,
        "seed {seed}: tunnel re-established"
    );
    // (The count sees the LAC's SCCRQ that opened the tunnel: it is not blind.)
    assert!(lac_sccrqs_since(&w, Duration::ZERO) >= 1, "seed {seed}");
    assert_eq!(
        lac_sccrqs_since(&w, crash_at),
        0,
        "seed {seed}: the LAC sent an SCCRQ after the crash"
    );
    let downs: Vec<_> = w
        .lac_events
        .iter()
        .filter(|e| {
            matches!(e, Event::TunnelDown { .. })
                || matches!(e, Event::SessionDown { call: Some(c), .. }
                    if *c != victim && calls.contains(c))
        })
        .collect();
    if !downs.is_empty() {
        dump(&w);
        w.dump_trace(crash_at.saturating_sub(Duration::from_secs(5)));
    }
    assert!(downs.is_empty(), "seed {seed}: LAC lost {downs:?}");
    let at = server(&mut w, n - 1);
    assert_eq!(
        w.sim.node::<telcp::l2tp::Lac>(w.lac).call_count(),
        n - 1,
        "seed {seed}"
    );
    // The tunnels the failed member had, established (a recovery tunnel of a later false-Down
    // takeover may still be in its hold period, RFC 2661 5.7).
    assert_eq!(established_tunnels(&mut w, at), p_tunnels, "seed {seed}");
    // The server now replicates what it took to a backup of its own (a false Down of that one
    // under heartbeat loss leaves it none until health sees it Up again).
    let backed = w.run_until(Duration::from_secs(20), move |w| {
        w.member(at).backup().is_some()
    });
    assert!(backed, "seed {seed}: the server has no backup");
    settle(&mut w, &calls);
    w
}

/// Issue 15, silent failover: over seeds, every session continues at the backup.
#[test]
fn silent_failover_loses_no_session() {
    let n = env("TELCP_FAILOVER_SESSIONS", 20) as usize;
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        failover(seed, n, false);
    }
}

/// Seed 95824 (harness), silent failover: the backup takes the crashed member's 20 calls over
/// and is itself falsely declared Down (heartbeats lost) by the third member, which takes them
/// from it in turn; the backup yields (one owner). Failed with "not every call served at the
/// backup" when the check wanted the calls at the backup alone.
#[test]
fn silent_failover_seed_95824_taken_again_from_the_backup() {
    failover(95824, 20, false);
}

/// Seed 95824 in RFC 4951 mode: the same.
#[test]
fn rfc4951_failover_seed_95824_taken_again_from_the_backup() {
    failover(95824, 20, true);
}

/// Seed 77810 (`lns::takeover`, `late_record`): the backup took over, was then falsely found
/// Down, and a third member took the tunnel from it; the backup, yielding, sent the taker its
/// sessions of the tunnel, which arrived after the LAC's CDN had ended one of them at the taker.
/// A late record of a session the taker adopted must not bring it back (it did: the CDN seemed
/// never seen).
#[test]
fn rfc4951_failover_seed_77810_late_record_after_the_cdn() {
    failover(77810, 20, true);
}

/// Seed 52104 (`lns::takeover` docs): the backup takes the tunnel over and wins the claims
/// against the member that took it back from its yielded copy; that member's record of the
/// tunnel, still held at the backup, is then found in its takeover of that member: a copy of a
/// tunnel the backup owns at the same owner generation, skipped. Failed with 20 sessions
/// counted in `sessions_lost_in_takeover` (the tunnel's id in use: a collision).
#[test]
fn silent_failover_seed_52104_stale_copy_not_counted_lost() {
    failover(52104, 20, false);
}

/// Issue 15, RFC 4951 mode: with a LAC that advertised the Failover Capability (C bit), the
/// backup recovers each tunnel the RFC 4951 way (recovery tunnel, Suggested Control Sequence,
/// FSQ/FSR) instead of the silent resynchronisation; the same guarantees hold.
#[test]
fn rfc4951_failover_loses_no_session() {
    let n = env("TELCP_FAILOVER_SESSIONS", 20) as usize;
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        failover(seed, n, true);
    }
}

/// Seeds 3131 and 11290 in RFC 4951 mode (found by the session-42 sweep of seeds 0..30,000): a
/// false Down during the set-up moved the tunnel to another member, which started its recovery;
/// the yielder's record of a call it had established meanwhile came after, and the taker adopted
/// it, but its FSQ named only the sessions it held when the recovery started. The LAC had cleared
/// that call as not established at its recovery (RFC 4951 3.3: the failed endpoint queries the
/// sessions it is unsure of), so the call stayed at the member alone. Failed with the member
/// serving 21 sessions for the LAC's 20.
#[test]
fn rfc4951_failover_seeds_3131_11290_late_session_queried() {
    failover(3131, 20, true);
    failover(11290, 20, true);
}

/// Seeds 3927 and 88217 in RFC 4951 mode (the session-42 sweep): false Downs during the set-up
/// start recoveries there, at which the LAC ends its calls not yet established (RFC 4951 3.3
/// Step I); after the crash the taker still holds 2 (7) of them, and its FSQ learns from the
/// LAC's FSR that they are gone (3.3: Session ID 0), so it clears them. Every call the LAC holds
/// is served after the crash. Failed with the test counting those FSR clearances as losses.
#[test]
fn rfc4951_failover_seeds_3927_88217_fsr_clears_calls_the_lac_ended() {
    failover(3927, 20, true);
    failover(88217, 20, true);
}

/// Seed 602 (issue 15), silent failover: during the set-up a false Down moves the tunnel to
/// the backup while 11 answered calls' ICRPs are still held for the backup's acknowledgement
/// (output commit); the member yields and never sends them. The taker sends each again at the
/// Ns the failed member gave it (`tunnel::snapshot` docs; RFC 2661 5.8, 7.4.2), so every call
/// comes up. Failed with the taker adopting those calls as established without an ICRP: the
/// LAC cleared them at its set-up timer (CDN Result 10).
#[test]
fn silent_failover_seed_602_answered_calls_come_up() {
    failover(602, 20, false);
}

/// Seed 602 in RFC 4951 mode: the same, the ICRPs sent after the Suggested Control Sequence.
#[test]
fn rfc4951_failover_seed_602_answered_calls_come_up() {
    failover(602, 20, true);
}

/// Seed 1817 (issue 15 item 3, `lns::takeover` docs, one owner per tunnel): the serving member
/// moves its backup from one member to the other and is falsely declared Down before the first
/// has heard its release; both take it over. The claims they exchange (`Record::Claimed`) leave
/// one owner: the taker holding the newer bulk sync. Failed with both members serving the calls.
#[test]
fn silent_failover_seed_1817_one_taker() {
    failover(1817, 20, false);
}

/// Seed 1817 in RFC 4951 mode: the same race, the same one owner.
#[test]
fn rfc4951_failover_seed_1817_one_taker() {
    failover(1817, 20, true);
}

/// Seed 128213 in RFC 4951 mode (found by the session-19 sweep of seeds 120,000-129,999): a
/// false Down left two members each taking the crashed member's tunnel over, and both sent the
/// LAC a recovery SCCRQ. The LAC took the second as the peer starting over and held the first
/// silently, but went on retransmitting its SCCRP and acknowledged its SCCCN; the member that won
/// the ownership had that first recovery, so it resumed with the stale Suggested Control
/// Sequence (Nr 42 where the LAC, past its FSR to the other member, sends 43). Every message of
/// the LAC waited for 42 from then on: "the backup never saw the CDN". Now the overtaken
/// recovery is stopped (StopCCN Result 3) and its member recovers again with fresh numbers.
/// Since answers go ahead of queued call requests (RFC 2661 5.8, session 32), seed 128213 no
/// longer makes two members recover at once; seed 103659 (the first of session 32's sweep of
/// seeds 100,000-199,999 where the LAC and a member both count a superseded recovery) did, until
/// a burst's ICRQs were acknowledged one ZLB per half window (session 35) and moved its timing;
/// seed 120150 (the first a sweep from seed 100,000 found then; 137472 and 146813 followed)
/// did, until the answered calls' records carried their details (session 47: longer records
/// moved the timing); seed 114742 (the first a sweep from seed 100,000 found then; 119860 and
/// 141853 followed) did, until a Down soon after a fresh batch waited a Down interval from it
/// (session 55, false Down seed 512979); seed 119860 (the first of a search from seed 100,000
/// then; 163755 followed) does.
#[test]
fn rfc4951_failover_overtaken_recovery_retried() {
    let mut w = failover(119860, 20, true);
    let lac = w.lac().stats().recoveries_superseded;
    let alive: Vec<usize> = (0..3).filter(|i| w.alive(*i)).collect();
    let members: u64 = alive
        .into_iter()
        .map(|i| w.member(i).stats().recoveries_superseded)
        .sum();
    assert!(lac >= 1 && members >= 1, "lac {lac}, members {members}");
}

/// Seed 88509, silent failover (found by the session-20 sweep of seeds 80,000-89,999): member 1
/// took the crashed member 0's tunnel, was falsely seen Down, and member 2 took it from member 1
/// and served the LAC's CDN for call 1. Member 2's records of the tunnel (without that session)
/// reached member 1, its backup, just before its takeover notice; on the notice member 1 yielded
/// and wrote its own copy (with the session) over them as the copy held for member 2. Failed with
/// "member 1 holds a replica of session 51044 that member 2 does not have"; the yielded copy no
/// longer replaces the taker's own records of that generation.
#[test]
fn silent_failover_seed_88509_yielded_copy_sees_the_cdn() {
    failover(88509, 20, false);
}

/// Seed 150616, silent failover (session-20 sweep of seeds 150,000-159,999): as seed 88509, a
/// yielding member's copy written over the taker's newer records ("member 2 holds a replica of
/// session 14737 that member 1 does not have"); fixed by the same change.
#[test]
fn silent_failover_seed_150616_yielded_copy_sees_the_cdn() {
    failover(150616, 20, false);
}

/// Seed 300094, silent failover (session 51's sweep of seeds 300,000-320,000): member 1 took
/// the crashed member 0's tunnel, and its bulk sync to its backup, member 2, went unanswered
/// for a Down interval (four of five transmissions lost, the token of the fifth too), so member 2
/// was given up (`Stats::backups_unresponsive`) with none left; the LAC then hung up call 1, its
/// end replicated nowhere. Member 2 acknowledged the batch still in flight, was chosen again
/// and got a new bulk sync, then the session records queued for it before the give-up, which
/// brought the cleared call back. Failed with "member 2 holds a replica of session 55951 that
/// member 1 does not have"; a sync now replaces the records of our table still queued.
#[test]
fn silent_failover_seed_300094_given_up_backup_synced_without_stale_records() {
    failover(300094, 20, false);
}

/// Seed 3608 in RFC 4951 mode: a false Down during the set-up; the taker's FSQ names a call
/// whose ICRP the LAC has not had yet (it comes again after the recovery). The LAC has the
/// session (waiting for the reply), so its FSR keeps it (RFC 4951 answers 0 only for a session
/// the receiver does not have). Failed with the LAC answering 0, the LNS clearing the call and
/// the LAC then bringing it up on the ICRP: up at the LAC, at no LNS.
#[test]
fn rfc4951_failover_seed_3608_call_in_setup_kept() {
    failover(3608, 20, true);
}

/// Seed 14922 of the RFC 4951 failover with 20 calls (helper B's sweep, session 47): at the end
/// of the set-up the member serving the calls saw one member Down and the other Suspect under
/// heartbeat loss, so it had no backup at that instant (only an Up member is chosen), while
/// the member it had replicated to still held its whole copy. The harness took a backup for
/// granted ("a backup" panicked); the crash then is taken over by the holder of the copy.
#[test]
fn rfc4951_failover_seed_14922_no_backup_at_the_end_of_set_up() {
    failover(14922, 20, true);
}

/// Seed 21494 in RFC 4951 mode (harness): the recovery tunnel's SCCCN, or the LAC's ZLB for it,
/// is lost six times in a row; the SCCCN's retransmission at 34 s after the start is acknowledged
/// only at the next one, past the 30 s the test gave the recovery, though well within the
/// channel's retransmission span (RFC 2661 5.8; 71 s with 10 retries). Failed with "no RFC 4951
/// recovery" after 30 s; the recovery completes and every session continues.
#[test]
fn rfc4951_failover_seed_21494_scccn_acknowledged_late() {
    failover(21494, 20, true);
}

/// Seed 75739 in RFC 4951 mode (`Core::hold_wait` docs): the LAC's acknowledgements of the
/// recovery tunnel's SCCCN are lost; the LAC, recovered on the SCCCN, dropped the recovery
/// tunnel after the configured 31 s hold while the LNS (10 retries: 71 s) still retransmitted
/// the SCCCN, unanswered from then on; the LNS's recovery failed and it cleared the tunnel and
/// its 20 sessions, which the LAC still held. Failed with "no RFC 4951 recovery".
#[test]
fn rfc4951_failover_seed_75739_lac_holds_the_recovery_tunnel() {
    failover(75739, 20, true);
}

/// Issue 15 at its largest N (1,000 sessions on one tunnel), seed 0: a false Down during the
/// set-up moves the tunnel while 376 calls are up. Every answered call's record names its
/// ICRP's Ns; an ICRP before the copy's first unacknowledged Ns was acknowledged by the LAC, so
/// the taker holds that call established without pinning its ICRP (`tunnel::snapshot` docs).
/// Failed with every ICRP pinned: past the send queue (256) the taker dropped 120 calls the LAC
/// held up (counted as lost in takeover; up at the LAC, at no LNS).
#[test]
fn failover_1000_sessions_seed_0() {
    failover(0, 1000, false);
    failover(0, 1000, true);
}

/// Seed 506 at 1,000 calls (a sweep of 1,000 seeds at 1,000 calls, session 51), silent
/// failover: the backup's copy held the last call connected while its Nr lagged the failed
/// member's, and the LAC's ICCN, taken there but not yet acknowledged, reached the backup
/// again (RFC 2661 5.8) after the takeover; the backup cleared the call with CDN ("message
/// type 12 not expected", 7.4.2) and served 999 of 1,000. An ICCN of a restored call is
/// taken once (`tunnel::snapshot` docs).
#[test]
fn silent_failover_1000_sessions_seed_506_iccn_sent_again_taken_once() {
    failover(506, 1000, false);
}

/// The member serving the calls after they are set up, and its backup.
fn primary_and_backup(w: &mut World, n: usize) -> (usize, usize) {
    let p = server(w, n);
    let b = w.member(p).backup().expect("a backup").0 as usize - 1;
    assert_ne!(b, p);
    // The backup holds the tunnel and every session before anything fails.
    let ok = w.run_until(Duration::from_secs(10), move |w| {
        w.member(b).held_for(telcp::health::NodeId(p as u32 + 1)) == (1, n)
    });
    assert!(ok, "seed {}: the backup never held the calls", w.seed);
    (p, b)
}

/// `lns::replicate` docs (backup): a member that finds its backup Down while it is alive (its
/// heartbeats lost) moves to another backup, and the former one keeps its copy until the new one
/// acknowledged its whole bulk sync (then an empty sync of epoch 0 releases it). Here nothing
/// from the member reaches the new backup, so its sync never ends; the member then crashes: the
/// former backup takes every call over, none is lost. (Before, the former backup was released
/// at once and nobody held the calls.)
#[test]
fn backup_moved_then_crash_before_its_sync_loses_no_call() {
    let n = 10;
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        let mut w = World::new(seed, 3, telcp::sim::LinkConfig::default());
        let calls = w.open_calls(n);
        let (p, b) = primary_and_backup(&mut w, n);
        let c = 3 - p - b;
        let cut = telcp::sim::LinkConfig::lossy(1.0, 0.0, 0.0);
        let (mp, mb, mc) = (w.members[p], w.members[b], w.members[c]);
        w.sim.set_link(mb, mp, cut);
        w.sim.set_link(mp, mc, cut);
        let to_c = telcp::health::NodeId(c as u32 + 1);
        let moved = w.run_until(Duration::from_secs(30), move |w| {
            w.member(p).backup() == Some(to_c)
        });
        assert!(moved, "seed {seed}: the backup did not move");
        // Long enough for a release to land on the perfect link from the member.
        w.run(Duration::from_secs(2));
        let from_p = telcp::health::NodeId(p as u32 + 1);
        assert_eq!(w.member(b).held_for(from_p), (1, n), "seed {seed}");
        assert_eq!(w.member(c).held_for(from_p), (0, 0), "seed {seed}");
        let tunnel_ups = w.lac_tunnel_ups();
        let before = w.takeovers(b).len();
        let crash_at = w.sim.elapsed();
        w.sim.crash(mp);
        let took = w.run_until(Duration::from_secs(20), move |w| {
            w.takeovers(b).len() > before
        });
        assert!(took, "seed {seed}: the former backup took nothing over");
        match w.takeovers(b)[before] {
            Event::TakenOver { sessions, .. } => assert_eq!(sessions.len(), n, "seed {seed}"),
            _ => unreachable!(),
        }
        let lac_before = w.lac_frames.clone();
        for f in &mut w.member_frames {
            f.clear();
        }
        w.send_frames(&calls, 4);
        w.run(Duration::from_secs(2));
        let at = server(&mut w, n);
        assert_eq!(at, b, "seed {seed}");
        if let Err(e) = frames_arrived(&w, at, &calls, &lac_before) {
            panic!("seed {seed}: {e}");
        }
        w.run(Duration::from_secs(150));
        assert_eq!(w.lac_tunnel_ups(), tunnel_ups, "seed {seed}");
        assert_eq!(lac_sccrqs_since(&w, crash_at), 0, "seed {seed}: SCCRQ");
        assert_eq!(w.lac_downs(), 0, "seed {seed}: {:?}", w.lac_events);
        settle(&mut w, &calls);
    }
}

/// The one live member serving `n` calls and its backup, when the backup is live and holds them
/// all.
fn backed_up(w: &mut World, n: usize) -> Option<(usize, usize)> {
    let servers: Vec<usize> = (0..w.members.len())
        .filter(|i| w.alive(*i) && !w.serving[*i].is_empty())
        .collect();
    let [p] = servers[..] else {
        return None;
    };
    let c = w.member(p).backup()?.0 as usize - 1;
    if !w.alive(c) {
        return None;
    }
    let held = w.member(c).held_for(telcp::health::NodeId(p as u32 + 1));
    (held == (1, n)).then_some((p, c))
}

/// Issue 15 item 3 (`lns::takeover` docs, one owner per tunnel): a member cut off from everyone
/// is declared Down and its backup takes over; when it is back (same incarnation) it yields the
/// tunnel (no StopCCN) and the calls stay at the backup, the LAC seeing nothing.
#[test]
fn false_down_then_return_yields_to_the_backup() {
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        false_down_then_return(seed);
    }
}

/// One seed of [`false_down_then_return_yields_to_the_backup`].
fn false_down_then_return(seed: u64) {
    let n = 10;
    {
        let mut w = World::new(seed, 3, lossy());
        let calls = w.open_calls(n);
        let (p, b) = primary_and_backup(&mut w, n);
        let tunnel_ups = w.lac_tunnel_ups();
        // (Counted from now: a false Down during the set-up may have moved the tunnel before.)
        let took_before = w.takeovers(b).len();
        let yielded_before = w.member(p).stats().tunnels_yielded;
        let cut_at = w.sim.elapsed();
        w.isolate(p);
        let took = w.run_until(Duration::from_secs(20), move |w| {
            w.takeovers(b).len() > took_before
        });
        assert!(took, "seed {seed}: no takeover");
        w.run(Duration::from_secs(1));
        w.heal();
        let yielded = w.run_until(Duration::from_secs(20), move |w| {
            w.member(p).stats().tunnels_yielded == yielded_before + 1
        });
        assert!(yielded, "seed {seed}: the returning member did not yield");
        assert_eq!(w.member(p).tunnel_count(), 0, "seed {seed}");
        assert!(
            w.events[p]
                .iter()
                .any(|e| matches!(e, Event::Yielded { sessions, .. } if *sessions == n))
        );
        let lac_before = w.lac_frames.clone();
        for f in &mut w.member_frames {
            f.clear();
        }
        w.send_frames(&calls, FRAME_ROUNDS);
        w.run(Duration::from_secs(2));
        let at = server(&mut w, n);
        if let Err(e) = frames_arrived(&w, at, &calls, &lac_before) {
            dump(&w);
            w.dump_trace(cut_at.saturating_sub(Duration::from_secs(5)));
            panic!("seed {seed}: {e}");
        }
        w.run(Duration::from_secs(150));
        assert_eq!(w.lac_tunnel_ups(), tunnel_ups, "seed {seed}");
        assert_eq!(lac_sccrqs_since(&w, cut_at), 0, "seed {seed}: SCCRQ");
        assert_eq!(w.lac_downs(), 0, "seed {seed}: {:?}", w.lac_events);
        server(&mut w, n);
        settle(&mut w, &calls);
    }
}

/// Issue 15 item 3 (one owner per tunnel) under a partition of the members' own network only:
/// member `p` cannot reach the other members (heartbeats, replication, notices) but still
/// reaches the LAC. Its backup finds it Down and takes its tunnel over with the address, so the
/// LAC's packets go to the backup. `p` never hears the notice while cut: it still holds the
/// tunnel and, once idle for a HELLO interval, sends HELLOs on it from the same address (seen
/// in session 46: HELLOs at the Ns the backup also uses, taken by the LAC as duplicates or in
/// the backup's place), until its channel gives up and drops the tunnel without a StopCCN (RFC
/// 2661 5.8). Whether the cut is shorter than that (30 s: `p` holds the tunnel when the
/// partition heals and must yield then) or longer (past the retransmission span and a HELLO
/// interval), the LAC keeps its tunnel and calls, each served by one member at the end.
#[test]
fn member_cut_from_the_members_only_does_not_end_the_taken_tunnel() {
    let n = 5;
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        for cut in [
            Duration::from_secs(30),
            give_up_after() + Duration::from_secs(90),
        ] {
            let mut w = World::new(seed, 3, lossy());
            let calls = w.open_calls(n);
            let (p, b) = primary_and_backup(&mut w, n);
            let tunnel_ups = w.lac_tunnel_ups();
            let took_before = w.takeovers(b).len();
            let cut_at = w.sim.elapsed();
            let others: Vec<_> = (0..3).filter(|i| *i != p).map(|i| w.members[i]).collect();
            for o in others {
                w.sim.partition(w.members[p], o);
            }
            let took = w.run_until(Duration::from_secs(20), move |w| {
                w.takeovers(b).len() > took_before
            });
            assert!(took, "seed {seed}: no takeover");
            w.run(cut);
            w.heal();
            w.run(Duration::from_secs(30));
            let lac_before = w.lac_frames.clone();
            w.send_frames(&calls, FRAME_ROUNDS);
            w.run(Duration::from_secs(2));
            assert_eq!(w.lac_downs(), 0, "seed {seed} {cut:?}: {:?}", w.lac_events);
            assert_eq!(w.lac_tunnel_ups(), tunnel_ups, "seed {seed} {cut:?}");
            assert_eq!(lac_sccrqs_since(&w, cut_at), 0, "seed {seed} {cut:?}");
            for c in &calls {
                let after = w.lac_frames.get(c).copied().unwrap_or(0);
                assert!(
                    after > lac_before.get(c).copied().unwrap_or(0),
                    "seed {seed} {cut:?}: no frame on {c:?}"
                );
            }
            // One owner of each call at the end (`p` may hold the tunnel again: a false Down of
            // the backup under heartbeat loss after the heal moves it back, seed 338).
            settle(&mut w, &calls);
        }
    }
}

/// Seed 48622 of [`false_down_then_return_yields_to_the_backup`] (harness): every one of the 8
/// frames the taker sent the LAC on call 4 after the takeover was lost on the link (10 % loss,
/// 10^-8 per call); the call itself was served. Failed with "no frame reached the LAC on call 4"
/// when the check sent 8 rounds ([`FRAME_ROUNDS`]).
#[test]
fn false_down_seed_48622_frames_all_lost_at_8_rounds() {
    false_down_then_return(48622);
}

/// Seed 512979 of [`false_down_then_return_yields_to_the_backup`] (`lns::takeover` docs,
/// records from a member seen Down): the member cut off had found its backup Down only after
/// the partition healed (the backup's first heartbeat after it lost), 10 ms after it yielded
/// the tunnel on the backup's notice; it took the tunnel back from the live backup, which then
/// yielded to it, the address moving twice. The notice's batch proves the backup alive, so the
/// Down waits a Down interval from it, and the backup's heartbeats come before. Failed with the
/// returning member holding 1 tunnel after it yielded.
#[test]
fn false_down_seed_512979_taker_proven_alive_by_its_notice_kept() {
    false_down_then_return(512979);
}

/// Issue 15 item 3 ("a member's own restart (empty) does not resurrect stale tunnels";
/// `lns::takeover` docs, restart): a member that restarts empty (a higher incarnation) before it
/// is found Down is a crash, and its backup takes its calls over at the restart, once: the
/// records are consumed, so the later crash of the new incarnation (which holds no call) takes
/// nothing more over, and at the end every call is served by one member and nobody holds a
/// replica of a call its owner does not have ([`settle`]).
#[test]
fn restarted_member_is_not_resurrected() {
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        restarted_not_resurrected(seed);
    }
}

/// Seed 319329 (session 51's sweep of seeds 300,000-320,000, harness): after the restart's
/// takeover, member 2 found the taker (member 1) Down under heartbeat loss and took the tunnel
/// from it; its notice reached member 1 two seconds later (lost once, not sent again while
/// member 1 was Down to it), so both held the tunnel when the test counted the tunnels held
/// outside the restarted member, and one fewer once member 1 yielded (`lns::takeover` docs, one
/// owner per tunnel). Failed with "tunnels held by the others changed: 2 then 1"; the count is
/// taken once one member serves the calls.
#[test]
fn restarted_member_seed_319329_counted_with_one_owner() {
    restarted_not_resurrected(319329);
}

/// One seed of [`restarted_member_is_not_resurrected`].
fn restarted_not_resurrected(seed: u64) {
    let n = 5;
    let mut w = World::new(seed, 3, lossy());
    let calls = w.open_calls(n);
    let (p, b) = primary_and_backup(&mut w, n);
    w.sim.crash(w.members[p]);
    w.run(Duration::from_secs(1));
    w.restart(p, 2);
    let since_restart = w.events[p].len();
    let dropped = w.run_until(Duration::from_secs(10), move |w| {
        w.member(b).held_for(telcp::health::NodeId(p as u32 + 1)) == (0, 0)
    });
    assert!(
        dropped,
        "seed {seed}: the former incarnation's records still held"
    );
    // The restart took the calls over (or, under heartbeat loss, the Down before it did).
    served_after_restart(&mut w, p, since_restart, n, &format!("seed {seed}"));
    let failed = telcp::health::NodeId(p as u32 + 1);
    let others: Vec<usize> = (0..3).filter(|i| *i != p).collect();
    let from_p = move |w: &mut World| -> usize {
        (0..3)
            .map(|i| {
                w.takeovers(i)
                    .iter()
                    .filter(|e| matches!(e, Event::TakenOver { failed: from, tunnels, .. } if *from == failed && !tunnels.is_empty()))
                    .count()
            })
            .sum()
    };
    let held_by_others = {
        let others = others.clone();
        move |w: &mut World| -> usize {
            let live: Vec<usize> = others.iter().copied().filter(|i| w.alive(*i)).collect();
            live.into_iter().map(|i| w.member(i).tunnel_count()).sum()
        }
    };
    assert!(
        from_p(&mut w) >= 1,
        "seed {seed}: the restart took nothing over"
    );
    w.run(Duration::from_secs(5));
    // (A false Down of the taker under heartbeat loss leaves two members holding the tunnel
    // until the loser hears of the winner's takeover and yields, seed 319329: the counts are
    // taken with one owner.)
    server(&mut w, n);
    // The new incarnation serves nothing of its own, unless it took the calls over in turn
    // (the taker's backup, after a false Down of the taker under heartbeat loss, seed
    // 5292): then its crash rightly has them taken over again.
    let own = !w.serving[p].is_empty();
    let (took, tunnels) = (from_p(&mut w), held_by_others(&mut w));
    w.sim.crash(w.members[p]);
    w.run(Duration::from_secs(20));
    if !own {
        if from_p(&mut w) != took {
            dump(&w);
        }
        assert_eq!(
            from_p(&mut w),
            took,
            "seed {seed}: a takeover of the restarted member"
        );
        let held = held_by_others.clone();
        let same = w.run_until(Duration::from_secs(10), move |w| held(w) == tunnels);
        if !same {
            dump(&w);
            w.dump_trace(Duration::ZERO);
        }
        assert!(
            same,
            "seed {seed}: tunnels held by the others changed: {tunnels} then {}",
            held_by_others(&mut w)
        );
    }
    // Past the LAC's HELLO (60 s) and its retransmissions (71 s): the calls taken at the
    // restart stay up, each at one member.
    w.run(Duration::from_secs(200));
    assert_eq!(w.lac_downs(), 0, "seed {seed}: {:?}", w.lac_events);
    settle(&mut w, &calls);
}

/// Issue 15 ("a pool LNS holding N sessions crashes; every session continues at the backup"):
/// a member that crashes and is restarted by its supervisor (empty, a higher incarnation)
/// before health finds it Down (4 s by default) is a crash too (`lns::takeover` docs, restart):
/// its backup, seeing it `Restarted`, takes over what it held of the former incarnation as at a
/// Down, and the LAC keeps every call. Before session 47 the backup dropped its records at the
/// restart and took nothing over; the restarted member knew none of the LAC's tunnels, and the
/// LAC lost every call at its next HELLO. Restarted 1 s after the crash.
#[test]
fn crash_restarted_before_the_down_loses_no_call() {
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        crash_restarted(seed, false, Duration::from_secs(1));
    }
}

/// [`crash_restarted_before_the_down_loses_no_call`] with a LAC that advertised RFC 4951's
/// Failover Capability with the C bit: the backup recovers the tunnel the RFC 4951 way (recovery
/// tunnel, Suggested Control Sequence, FSQ/FSR; RFC 4951 3.2, 3.3) at the restart.
#[test]
fn rfc4951_crash_restarted_before_the_down_loses_no_call() {
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        crash_restarted(seed, true, Duration::from_secs(1));
    }
}

/// [`crash_restarted_before_the_down_loses_no_call`] restarted 0.2 s after the crash (a
/// supervisor's quick restart: the restarted member's first heartbeat is the first news of
/// the crash) and 3.5 s after it (just before the Down; under heartbeat loss the Down may come
/// first, and the restart then finds the records taken over already).
#[test]
fn crash_restarted_after_200ms_or_3500ms_loses_no_call() {
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        for after in [Duration::from_millis(200), Duration::from_millis(3500)] {
            crash_restarted(seed, seed % 2 == 1, after);
        }
    }
}

/// One seed: 5 calls up with a member, which crashes and is restarted `after` later (RFC 4951
/// endpoints with `rfc4951`). The LAC loses no call, re-establishes no tunnel (RFC 2661 5.1: no
/// SCCRQ of its own), frames pass both ways past its HELLO (60 s) and retransmissions; the
/// restarted member, which knows none of the LAC's tunnels while the address is still routed
/// to it, tears none of them down (no StopCCN, RFC 2661 6.4; it sends the LAC nothing, and the
/// LAC's retransmissions, RFC 2661 5.8, reach the taker once the address moved); at the end
/// each call is served once ([`settle`]).
fn crash_restarted(seed: u64, rfc4951: bool, after: Duration) {
    let n = 5;
    let mut w = World::with_failover(seed, 3, lossy(), rfc4951);
    let calls = w.open_calls(n);
    let (p, _) = primary_and_backup(&mut w, n);
    let tunnel_ups = w.lac_tunnel_ups();
    let crash_at = w.sim.elapsed();
    w.sim.crash(w.members[p]);
    w.run(after);
    let restart_at = w.sim.elapsed();
    w.restart(p, 2);
    let since_restart = w.events[p].len();
    // Past the LAC's HELLO (60 s) and its retransmissions (71 s).
    w.run(Duration::from_secs(200));
    let lac_before = w.lac_frames.clone();
    for f in &mut w.member_frames {
        f.clear();
    }
    w.send_frames(&calls, FRAME_ROUNDS);
    w.run(Duration::from_secs(2));
    let what = format!("seed {seed} rfc4951 {rfc4951} after {after:?}");
    if w.lac_downs() != 0 {
        dump(&w);
        w.dump_trace(crash_at);
    }
    assert_eq!(w.lac_downs(), 0, "{what}: the LAC lost its calls");
    let at = served_after_restart(&mut w, p, since_restart, n, &what);
    if let Err(e) = frames_arrived(&w, at, &calls, &lac_before) {
        dump(&w);
        panic!("{what}: {e}");
    }
    assert_eq!(
        w.lac_tunnel_ups(),
        tunnel_ups,
        "{what}: tunnel re-established"
    );
    assert_eq!(lac_sccrqs_since(&w, crash_at), 0, "{what}: SCCRQ");
    // The restarted member sent the LAC nothing that tears its tunnel or a call down.
    use telcp::l2tp::wire::{Message, MessageType};
    let torn: Vec<_> = w
        .sim
        .trace()
        .iter()
        .filter(|r| r.at >= restart_at && r.src_node == Some(w.members[p]))
        .filter_map(|r| match Message::parse(&r.payload) {
            Ok(Message::Control(c)) => c.message_type(),
            _ => None,
        })
        .filter(|t| *t == MessageType::STOPCCN || *t == MessageType::CDN)
        .collect();
    assert!(
        torn.is_empty(),
        "{what}: the restarted member sent {torn:?}"
    );
    settle(&mut w, &calls);
}

/// The member serving the `n` calls after member `p` restarted (its events from
/// `since_restart` on): one member serves them all, the taker or a member that took them from
/// it in turn (a false Down under heartbeat loss; the restarted member too, as the taker's
/// backup), never the restarted member without a takeover of its own.
fn served_after_restart(
    w: &mut World,
    p: usize,
    since_restart: usize,
    n: usize,
    what: &str,
) -> usize {
    let at = server(w, n);
    let took_since = w.events[p][since_restart..]
        .iter()
        .any(|e| matches!(e, Event::TakenOver { tunnels, .. } if !tunnels.is_empty()));
    assert!(
        at != p || took_since,
        "{what}: served by the restarted member"
    );
    at
}

/// Issue 15, double failure: a backup that fails is replaced (bulk sync to the next one by
/// load), so the member's later failure loses nothing; a member and its backup failing together
/// lose exactly the member's sessions (counted at the LAC), and nobody else takes them.
#[test]
fn double_failure_loses_only_sessions_of_both_failed() {
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        double_failure(seed);
    }
}

/// Seed 11427 of [`double_failure_loses_only_sessions_of_both_failed`] (`lns::takeover` docs,
/// records from a member seen Down): the backup crashes; the member's new backup loses four of
/// its heartbeats in a row and finds it Down just before the bulk sync lands (holding nothing
/// then, it took nothing over); the member then crashes, and no second Down comes. The records
/// count as a heartbeat: still Down a Down interval later, the member is taken over. Failed
/// with "no takeover by the new backup" (every call lost though its backup held it).
#[test]
fn double_failure_seed_11427_bulk_sync_after_the_down() {
    double_failure(11427);
}

/// Seed 13971 of [`double_failure_loses_only_sessions_of_both_failed`] (`lns::takeover` docs,
/// sessions the copy lacks): the third member had been the member's backup before a false
/// Down during the set-up and kept its copy, which lacks 3 of the 10 calls; the member and its
/// new backup crash together. The third member takes the tunnel and 7 calls over; the tunnel
/// goes on, so the LAC would hold the other 3 for good. Their frames now get a CDN (Session
/// ID 0, Assigned Session ID the call's). Failed with "sessions lost: 0 vs 3".
#[test]
fn double_failure_seed_13971_cdn_for_calls_the_copy_lacks() {
    double_failure(13971);
}

/// One seed of [`double_failure_loses_only_sessions_of_both_failed`].
/// Seed 196706 of [`double_failure_loses_only_sessions_of_both_failed`] and of
/// [`false_down_then_return_yields_to_the_backup`] (harness): in the set-up, before any crash, a
/// false Down moved the tunnel while calls 6-10 were waiting for their ICRP; the LAC cleared them
/// at its set-up timer (CDN Result 10, RFC 2661 7.4.1) and [`World::open_calls`] opened five new
/// calls. Those five CDNs of calls that were never up were counted as lost sessions.
#[test]
fn double_failure_seed_196706_redials_in_set_up_are_no_loss() {
    double_failure(196706);
}

/// Seed 196706 of [`false_down_then_return_yields_to_the_backup`]: see
/// [`double_failure_seed_196706_redials_in_set_up_are_no_loss`].
#[test]
fn false_down_seed_196706_redials_in_set_up_are_no_loss() {
    false_down_then_return(196706);
}

fn double_failure(seed: u64) {
    let n = 10;
    {
        // Sequential: the backup first, then the member.
        let mut w = World::new(seed, 3, lossy());
        let calls = w.open_calls(n);
        let (_, b) = primary_and_backup(&mut w, n);
        w.sim.crash(w.members[b]);
        // The serving member (the primary, or the last one left if a false Down under heartbeat
        // loss moved the tunnel to it) has the other live member as its backup, which holds
        // every call.
        let resynced = w.run_until(Duration::from_secs(20), move |w| backed_up(w, n).is_some());
        assert!(resynced, "seed {seed}: no bulk sync to the new backup");
        let (p, c) = backed_up(&mut w, n).unwrap();
        assert_ne!(c, b);
        let before = w.takeovers(c).len();
        let crash_at = w.sim.elapsed();
        w.sim.crash(w.members[p]);
        let took = w.run_until(Duration::from_secs(20), move |w| {
            w.takeovers(c).len() > before
        });
        if !took {
            dump(&w);
            w.dump_trace(crash_at.saturating_sub(Duration::from_secs(20)));
        }
        assert!(took, "seed {seed}: no takeover by the new backup");
        w.run(Duration::from_secs(30));
        server(&mut w, n);
        assert_eq!(w.lac_downs(), 0, "seed {seed}");
        settle(&mut w, &calls);

        // Together: the member and its backup.
        let mut w = World::new(seed, 3, lossy());
        let calls = w.open_calls(n);
        let (p, b) = primary_and_backup(&mut w, n);
        let c = 3 - p - b;
        let before = w.takeovers(c).len();
        // The third member holds nothing for the member, unless it was its backup before a
        // false Down during the set-up and the new backup's bulk sync is not yet acknowledged
        // to its end (`lns::replicate` docs, backup): then it keeps its copy, and takes over
        // what that copy holds.
        // What it holds once nothing more comes from the failed members, just before its
        // takeover: a release of that copy the member sent before its crash (the new backup's
        // bulk sync acknowledged, `lns::replicate` docs) may still be on the wire at the crash,
        // and drops it when it lands (seed 55917: read at the crash, 10 sessions "kept" that
        // the release swept a moment later; the member and its backup failed together, so
        // their calls are lost, as issue 15 asks).
        let member = telcp::health::NodeId(p as u32 + 1);
        let mut kept = w.member(c).held_for(member).1;
        w.sim.crash(w.members[p]);
        w.sim.crash(w.members[b]);
        let step = Duration::from_millis(10);
        for _ in 0..2000 {
            if w.takeovers(c).len() > before {
                break;
            }
            kept = w.member(c).held_for(member).1;
            w.run(step);
        }
        // The subscribers' PPP keeps talking: once the third member's copy is settled (the
        // member still Down a Down interval, 4 s, after the takeover), a frame on a call its
        // copy lacks gets a CDN (`lns::takeover` docs, sessions the copy lacks). With no copy,
        // the LAC notices at its next HELLO (60 s) and its retransmissions (71 s).
        w.run(Duration::from_secs(15));
        w.send_frames(&calls, FRAME_ROUNDS);
        w.run(Duration::from_secs(185));
        let taken = w.takeovers(c)[before..]
            .iter()
            .map(|e| match e {
                Event::TakenOver { sessions, .. } => sessions.len(),
                _ => 0,
            })
            .sum::<usize>();
        assert_eq!(
            taken, kept,
            "seed {seed}: sessions taken by the third member"
        );
        let lost = w
            .lac_events
            .iter()
            .filter(|e| {
                matches!(e, Event::SessionDown { call: Some(c), .. } if !w.redialed.contains(c))
            })
            .count();
        assert_eq!(lost, n - kept, "seed {seed}: sessions lost");
        let cleared = w.member(c).stats().unknown_sessions_cleared;
        let lacking = if kept > 0 { n - kept } else { 0 };
        assert_eq!(
            cleared, lacking as u64,
            "seed {seed}: calls the third member's copy lacked, cleared by its CDNs"
        );
        assert_eq!(
            w.sim.node::<telcp::l2tp::Lac>(w.lac).call_count(),
            kept,
            "seed {seed}"
        );
        settle(&mut w, &calls);
    }
}

/// Output commit (`lns::replicate` docs): the primary crashes in the middle of a burst of
/// set-ups (a seed-chosen number up at the LAC, the others in set-up, records and
/// acknowledgements lost on the member links). Every call the LAC had up at the crash continues
/// at the backup (frames arrive both ways, the tunnel is not re-established); a call still in
/// set-up comes up or fails at the LAC (its `SessionDown`), never half up: a call the LAC holds
/// is served by exactly one member at the end.
#[test]
fn crash_during_setup_loses_no_established_call() {
    let first = env("TELCP_FAILOVER_FIRST", 0);
    for seed in first..first + env("TELCP_FAILOVER_SEEDS", 8) {
        crash_during_setup(seed);
    }
}

/// Seed 160 of [`crash_during_setup_loses_no_established_call`]: calls whose ICRPs were lost
/// with the crashed member run out their set-up timer at the LAC just as its HELLO to the backup
/// is lost twice. A call's set-up timeout ends the call (CDN Result 10, RFC 2661 7.4.1), not the
/// tunnel: the LNS acknowledged everything until the HELLO (RFC 2661 5.8 leaves a retransmitted
/// message `max_retries` chances). Fails with the LAC giving the tunnel up after one
/// retransmission (the tunnel's established calls lost with it).
#[test]
fn crash_during_setup_seed_160_lac_keeps_the_tunnel() {
    crash_during_setup(160);
}

/// Seed 57: the tunnel moves back and forth under false Downs (issue 15 item 3); the member that
/// took it back from us replicates it under a newer owner generation, and its session records
/// are held here, so the next takeover takes every session. Failed (with the resumed channel's
/// acknowledgement rule of this branch, which moves the simulator's draws) with the takeover
/// adopting the tunnel without its sessions.
#[test]
fn crash_during_setup_seed_57_takeover_after_take_back() {
    crash_during_setup(57);
}

/// Seeds 309 and 357: the seeds issue 15's last session found failing (a CDN lost around a
/// silent failover, the taker's Nr acknowledging past it; `Channel::resume_replica` docs).
#[test]
fn crash_during_setup_seeds_309_357() {
    crash_during_setup(309);
    crash_during_setup(357);
}

/// Seed 27073 (`Channel::resume_replica` docs): the LAC's ICCN, lost on its way to the member
/// before the crash and retransmitted through the takeover, is taken by the backup on its second
/// copy (its replica Nr lagged: the member took an ICCN after its last copy); each of the
/// backup's ZLBs acknowledging it is lost, and the LAC's retransmissions run out: it clears the
/// tunnel and its 30 calls. The backup now acknowledges with a HELLO it retransmits itself.
/// Failed with "call 1, up at the crash, got no frame after it" (the LAC's TunnelDown).
#[test]
fn crash_during_setup_seed_27073_ack_survives_lost_zlbs() {
    crash_during_setup(27073);
}

/// Seed 12741 (harness): the member that took the tunnel is falsely declared Down by the third
/// (three heartbeats lost) just as the test counts the members serving each call; the taker's
/// `Record::TakenOver` is lost once, and for that moment both serve the calls. The one owner
/// comes back with the notice's retransmission (`lns::takeover` docs; [`server`] allows it 10 s).
/// Failed with "60 served, 30 held" when the count was taken at once.
#[test]
fn crash_during_setup_seed_12741_false_down_while_counting() {
    crash_during_setup(12741);
}

/// Seeds 49458, 59375 and 59905 (`lns::takeover` docs, yielded copy): the member serving the
/// calls is falsely declared Down during the set-up; its backup takes the tunnel over, and the
/// member yields on the notice; the taker's copy to its own backup (a bulk sync) is lost on the
/// link, and the test then crashes the taker. The yielding member keeps what it yielded as a
/// copy held for the taker until the taker's backup holds it, so it takes the calls back.
/// Failed with "call 1, up at the crash, got no frame after it" (every call held at no live
/// member, the LAC's tunnel down).
#[test]
fn crash_during_setup_seeds_49458_59375_59905_yielded_copy_kept() {
    crash_during_setup(49458);
    crash_during_setup(59375);
    crash_during_setup(59905);
}

/// Seed 29034 (`lns::takeover` docs, yielded copy): the backup takes the crashed member's calls
/// over, is falsely declared Down by the third member and yields to it, then takes the tunnel
/// back (a false Down of the third member) from a copy whose bulk sync from the third member
/// was still under way; the copy lacks a call the third member answered without a backup. The yielding member sends the
/// taker its sessions of the tunnel, and the taker adopts the one it lacked. Failed (with the
/// yielded copy alone) with "call 13 held by the LAC is served by no member".
#[test]
fn crash_during_setup_seed_29034_taker_adopts_the_yielded_sessions() {
    crash_during_setup(29034);
}

/// Seed 11290 (`lns::replicate` docs, output commit; with the replication channel's delivery
/// timing of replica44): a taker adopted calls 6-14 from the late records of the member that
/// yielded the tunnel to it, and their ICRPs reached the LAC (which then holds each call up,
/// RFC 2661 7.4.1) while the calls' records still lingered for the taker's backup; the taker
/// crashed before the batch left, and its backup took over with a copy lacking them. An
/// adopted call's ICRP now waits for the backup's acknowledgement of its record. Failed with
/// "call CallId(6), up at the crash, got no frame after it".
#[test]
fn crash_during_setup_seed_11290_adopted_icrps_wait_for_the_backup() {
    crash_during_setup(11290);
}

/// Seed 96060 (`Core::silent_after`, RFC 2661 5.8): after the takeover the LAC's ICCN is
/// retransmitted and every ZLB of the backup for it is lost; at a set-up timeout of another
/// call 23 s later the LAC took the LNS for silent (half the 30 s set-up timeout) and gave up
/// the tunnel with its calls, though its channel's retransmission span is 71 s. Failed with
/// "call 1, up at the crash, got no frame after it" (the LAC's TunnelDown).
#[test]
fn crash_during_setup_seed_96060_lac_waits_out_its_retransmissions() {
    crash_during_setup(96060);
}

/// Seed 110109 (`Channel::resume_replica`, issue 15): the backup takes the crashed member's
/// tunnel over, and a false Down moves it again to the third member, each from a copy whose Nr
/// lags the LAC's (ICCNs the crashed member took after its copy). The LAC retransmits only its
/// oldest unacknowledged ICCN (RFC 2661 Appendix A), and at 10% loss each taker got a single
/// copy of it; the second taker had learnt from the LAC's ZLB 20 s before that it had been sent.
/// Failed with "call 1, up at the crash, got no frame after it" (the LAC's retransmissions ran
/// out and it gave the tunnel up with its 30 calls).
#[test]
fn crash_during_setup_seed_110109_retransmission_seen_once_by_each_taker() {
    crash_during_setup(110109);
}

/// Seed 232769 (`Channel::resume_replica`, `lns::takeover` docs, sessions the copy lacks): the
/// member's backup changed just before it crashed, so it released three ICRPs (calls 19-21)
/// without a copy; the LAC held them out of order behind a lost one. The taker's first messages
/// filled the gap, the LAC's Nr jumped past the taker's Ns, and the taker's CDNs for those calls
/// went at Ns the LAC had taken (dropped as duplicates). Failed with "call 19 held by the LAC is
/// served by no member". Now the taker's Ns follows the LAC's Nr, and the calls' ICCNs, on
/// sessions the copy lacks, are answered with a CDN.
#[test]
fn crash_during_setup_seed_232769_calls_the_copy_lacks_cleared() {
    crash_during_setup(232769);
}

/// Seed 260445 (`Channel::pin`, `lns::takeover` docs, late records): member 0, falsely
/// declared Down during the set-up, answered six more calls after member 1 had taken its tunnel
/// over and learnt the LAC's next expected Ns; their records reached member 1, which adopted the
/// calls with ICRPs numbered by member 0 and never sent (held for its backup's ack when it
/// yielded). Member 1 kept those ICRPs waiting for a resynchronisation that had happened
/// already; the LAC cleared the six calls at its set-up timer. Failed with "24 calls up".
#[test]
fn crash_during_setup_seed_260445_late_answers_sent() {
    crash_during_setup(260445);
}

/// Seed 293479 (`Channel::can_reserve`, `Channel::pin`; found in the 290,000-299,999 sweep):
/// failed with "28 calls up" before the crash, and passes once nothing is reserved while placed
/// pins wait in the send queue (a reserved ICRP took the first pin's Ns). The seed's trace was
/// not read: the mechanism is inferred from the fix, not seen.
#[test]
fn crash_during_setup_seed_293479_no_reserve_ahead_of_a_pin() {
    crash_during_setup(293479);
}

/// One seed of [`crash_during_setup_loses_no_established_call`].
fn crash_during_setup(seed: u64) {
    let n = 30;
    {
        let mut w = World::new(seed, 3, lossy());
        assert!(w.run_until(Duration::from_secs(30), World::formed));
        let now = w.sim.now();
        let calls: Vec<CallId> = (0..n).map(|_| w.lac().open_session(now).unwrap()).collect();
        let k = 1 + seed as usize % (n - 1);
        let ok = w.run_until(Duration::from_secs(120), move |w| w.lac_session_ups() >= k);
        assert!(ok, "seed {seed}: {} calls up", w.lac_session_ups());
        let up: Vec<CallId> = calls
            .iter()
            .copied()
            .filter(|c| w.sim.node::<Lac>(w.lac).session_of(*c).is_some())
            .collect();
        let tunnel_ups = w.lac_tunnel_ups();
        // The member serving the tunnel (member 0, or the one a false Down moved it to).
        let p = (0..3)
            .find(|i| w.member(*i).tunnel_count() > 0 && !w.serving[*i].is_empty())
            .unwrap_or(0);
        let crash_at = w.sim.elapsed();
        w.sim.crash(w.members[p]);
        // Takeover; the LAC's set-up timers (30 s from when its ICRQ left, queued behind the
        // window) run out.
        w.run(Duration::from_secs(120));
        let lac_before = w.lac_frames.clone();
        for f in &mut w.member_frames {
            f.clear();
        }
        w.send_frames(&up, FRAME_ROUNDS);
        w.run(Duration::from_secs(2));
        for c in &up {
            let after = w.lac_frames.get(c).copied().unwrap_or(0);
            if after <= lac_before.get(c).copied().unwrap_or(0) {
                dump(&w);
                w.dump_trace(crash_at.saturating_sub(Duration::from_secs(5)));
                panic!("seed {seed}: call {c:?}, up at the crash, got no frame after it");
            }
            assert!(
                w.sim.node::<Lac>(w.lac).session_of(*c).is_some(),
                "seed {seed}: call {c:?} lost"
            );
        }
        assert_eq!(w.lac_tunnel_ups(), tunnel_ups, "seed {seed}");
        assert_eq!(lac_sccrqs_since(&w, crash_at), 0, "seed {seed}: SCCRQ");
        assert!(
            !w.lac_events
                .iter()
                .any(|e| matches!(e, Event::TunnelDown { .. })),
            "seed {seed}"
        );
        // Every call the LAC still holds is up (frames from the LNS arrive on it); the others
        // failed at the LAC, and the LNS side holds none of them: a call whose ICRP never
        // reached the LAC is cleared by the LAC's CDN (RFC 2661 6.12) wherever the tunnel is,
        // a false Down moving the tunnel while that CDN is in flight included (issue 15 item 3).
        let lac = w.sim.node::<Lac>(w.lac);
        let held: Vec<CallId> = calls
            .iter()
            .copied()
            .filter(|c| lac.session_of(*c).is_some())
            .collect();
        assert_eq!(lac.call_count(), held.len(), "seed {seed}: a call half up");
        let failed = n - held.len();
        let lac_before = w.lac_frames.clone();
        w.send_frames(&held, FRAME_ROUNDS);
        w.run(Duration::from_secs(2));
        for c in &held {
            let after = w.lac_frames.get(c).copied().unwrap_or(0);
            if after <= lac_before.get(c).copied().unwrap_or(0) {
                dump(&w);
            }
            assert!(
                after > lac_before.get(c).copied().unwrap_or(0),
                "seed {seed}: call {c:?} held by the LAC is served by no member"
            );
        }
        // Each call at one member: a member falsely declared Down (heartbeat loss) serves until
        // the taker's `Record::TakenOver` reaches it (the LAC's packets go to the taker, which
        // holds the address; `lns::takeover` docs), up to 10 s as in [`server`] (seed 12741: a
        // false Down of the backup at the end of the frames, its notice lost once).
        let served_by_all = |w: &World| -> usize {
            (0..3)
                .filter(|i| w.alive(*i))
                .map(|i| w.serving[i].len())
                .sum()
        };
        let want = held.len();
        w.run_until(Duration::from_secs(10), move |w| served_by_all(w) == want);
        let served = served_by_all(&w);
        if served != held.len() {
            dump(&w);
            w.dump_trace(crash_at.saturating_sub(Duration::from_secs(5)));
        }
        assert_eq!(
            served,
            held.len(),
            "seed {seed}: {served} served, {} held ({failed} failed at the LAC): {:?}",
            held.len(),
            consistent(&w, &calls)
        );
        settle(&mut w, &calls);
    }
}

/// Seeds 17809, 23910 and 41780 of the session-42 sweep (RFC 4951 mode; `Core::forget_tunnel`):
/// false Downs during the set-up and the crash have two members take the tunnel over and each
/// start its recovery; one yields to the other, whose recovery completes at the LAC. The
/// yielder's recovery tunnel went on retransmitting its SCCRQ (RFC 2661 5.8) for the tunnel it
/// no longer had, and the LAC, taking it as the LNS failing again (the Tunnel Recovery AVP names
/// the old tunnel, RFC 4951 3.2.1), answered it and held the old tunnel for that recovery,
/// discarding what the owner sent on it (3.2.1: "before control channel reset ... MUST be
/// silently discarded"); its SCCRP went to the owner, which holds the address, and no SCCCN ever
/// came; the tunnel went down at both ends (in 23910 the yielder, taking the tunnel back later,
/// first reset the old channel with the stale SCCRP of that recovery tunnel). Failed with the
/// LAC's `TunnelDown` (no result code). Now the yielder drops its recovery tunnel with the
/// tunnel.
#[test]
fn rfc4951_failover_seeds_17809_23910_41780_yielded_recovery_dropped() {
    for seed in [17809, 23910, 41780] {
        failover(seed, 20, true);
    }
}

/// Seed 54628 of the session-42 sweep (RFC 4951 mode; `lns::takeover` docs, stray
/// recoveries): two members take the tunnel over after the crash; the one whose claim loses
/// yields, but its recovery SCCRQ, sent before it yielded and delayed on the link, reaches the
/// LAC just after the winner's recovery completed. The LAC answers it (RFC 4951 3.2.1: its Tunnel
/// Recovery AVP names the old tunnel, and nothing in RFC 4951 lets the LAC refuse a second
/// recovery) and holds the old tunnel for it, discarding what the owner sends on it ("Any
/// control packet received on the recovered tunnel before control channel reset ... MUST be
/// silently discarded"); its SCCRP goes to the owner, which holds the address. Failed with "the
/// backup never saw the CDN" (the owner ignored the SCCRP: no such tunnel). Now the owner, its
/// own recovery complete and its claim having won, answers that SCCRP with StopCCN (RFC 2661
/// 4.4.2, Error 1: no such control connection): the LAC's recovery tunnel fails and the old
/// tunnel goes on, the owner's messages taken again.
///
/// Since session 47 the answered calls' records carry their details, which moved the timing:
/// seed 54628 no longer has a yielded recovery SCCRQ reach the LAC, and a sweep of seeds
/// 0 to 169,999 (`failover(seed, 20, true)`) found no seed that does. Ignored until a sweep
/// finds one; the owner's StopCCN stays covered by the unit test
/// `lns::takeover::tests::a_yielded_takers_recovery_sccrp_is_stopped_by_the_owner`.
#[test]
#[ignore = "session 47: seed 54628 no longer reaches a stray recovery SCCRP (call details moved the timing); no seed in 0..170,000 does; covered by the takeover unit test"]
fn rfc4951_failover_seed_54628_yielded_recovery_sccrp_stopped_by_the_owner() {
    let mut w = failover(54628, 20, true);
    let alive: Vec<usize> = (0..3).filter(|i| w.alive(*i)).collect();
    let stopped: u64 = alive
        .into_iter()
        .map(|i| w.member(i).stats().stray_recoveries_stopped)
        .sum();
    assert!(stopped >= 1, "no stray recovery SCCRP stopped");
    assert!(w.lac().stats().recoveries_failed >= 1);
}

/// Seed 39787 (session 43's sweep, RFC 4951 mode): the SCCRP of the winning taker's recovery
/// reaches the claims' loser before the address moves back. The loser does not stop it (no claim
/// of its own has won: `lns::takeover` docs, stray recoveries), so the winner's recovery
/// completes. Failed with session 43's first reading (any member stopping an SCCRP for a tunnel
/// it does not know): "no RFC 4951 recovery".
#[test]
fn rfc4951_failover_seed_39787_winners_sccrp_not_stopped_by_the_loser() {
    failover(39787, 20, true);
}

/// Seed 286961 (session 44's RFC 4951 sweep of seeds 0..300,000; `lns::takeover` docs, two
/// takers): members 2 and 0 both take the crashed member 1 over and both recover the tunnel at
/// the LAC: member 0's recovery SCCRQ reaches it just after member 2's recovery completed, and
/// the LAC takes it as the LNS starting over (RFC 4951 3.2.1), suggesting the same numbers (its
/// Ns 43, Nr 22) to both. Member 2's FSQ (Ns 22) is taken by the LAC after its second reset; its
/// FSR (Ns 43) goes to the address, at member 0 since its takeover, whose channel, reset to the
/// same numbers, takes and acknowledges it (ZLB Nr 44; member 0 heard member 2's winning claim
/// only 200 ms later, the claim's datagram lost once). Member 0 yields; the owner's Nr stays
/// 43, and the LAC never sends 43 again (RFC 2661 5.8: acknowledged), so every later message
/// of it (the CDN, Ns 44) is held out of order at the owner for good. Failed with "the backup
/// never saw the CDN". Now the winner, when another taker's claim loses to its own, learns its
/// Nr from the LAC again (`Channel::resync_nr_again`): the LAC's retransmission of its oldest
/// unacknowledged message (the CDN) moves the Nr to it.
#[test]
fn rfc4951_failover_seed_286961_fsr_acknowledged_by_the_claims_loser() {
    failover(286961, 20, true);
}

/// Seed 37561 of [`crash_during_setup_loses_no_established_call`] (`lns::takeover` docs, late
/// records; found in session 42's 100,000-seed sweep): member 1, serving after a takeover, took
/// three ICRQs after its last copy to member 2 and held their ICRPs for its backup; member 2
/// took it over on a false Down, and the LAC's first of those ICRQs, retransmitted to it (its
/// copy's Nr lagged), was answered there as a new call (RFC 2661 5.8: the same call). Member
/// 1's late record of its own answer came next and was adopted too: one call served twice.
/// Failed with "31 served, 30 held".
#[test]
fn crash_during_setup_seed_37561_late_record_of_a_call_answered_again() {
    crash_during_setup(37561);
}

/// Seed 44628 (`lns::takeover` docs, two takers): both other members took the crashed
/// member's tunnel over; member 1's claim won and it took the address back. When member 0 later
/// took the tunnel from member 1 (a false Down), member 1 got member 0's old claim a second
/// time (the replication channel then queued the notices of a batch it abandoned for a bulk
/// sync again; since session 44 it keeps the batch, `replica` docs, delivery), took the address
/// again, then yielded the tunnel: the LAC's packets went to a member without it, and the LAC
/// gave the tunnel up. Failed with "call 1, up at the crash, got no frame after it".
#[test]
fn crash_during_setup_seed_44628_claim_delivered_again() {
    crash_during_setup(44628);
}

/// Seed 75568 (`lns::takeover` docs, two takers): member 0 took the crashed member over from
/// its yielded copy and answered call 30; member 1 took it over from a newer copy, which lacked
/// the call, and won the claims. Member 0 yielded without telling member 1 of its calls. Now
/// the loser sends the winner its sessions, which the winner adopts as late records. Failed
/// with "call 30 held by the LAC is served by no member".
#[test]
fn crash_during_setup_seed_75568_claim_loser_sends_its_sessions() {
    crash_during_setup(75568);
}

/// Seed 55917 of [`double_failure_loses_only_sessions_of_both_failed`] (harness): the third
/// member held a yielded copy of the member's calls when the test read it, at the crash; the
/// member's release of that copy (its new backup held all, `lns::replicate` docs) was on the
/// wire then and swept it a moment later, so the third member rightly took nothing (the member
/// and its backup failed together: their calls are lost, issue 15). The copy is now read just
/// before the third member's takeover. Failed with "sessions taken by the third member: 0 vs 10".
#[test]
fn double_failure_seed_55917_release_in_flight_at_the_crash() {
    double_failure(55917);
}
