//! The virtual Home Agent cluster (issue 6), failover and convergence on the deterministic
//! simulator with loss (`common::mip`): end to end with loss, duplication and reordering, failover
//! to a backup (claim 11), authoritative bulk sync after a partition, divergent takeovers, a
//! partition with a crash, an empty restart; and the seed sweeps (`seed_sweep`, and
//! `wide_seed_sweep` over `MIP_SWEEP=FROM..TO`).
#![cfg(feature = "sim")]

mod common;

use common::mip::*;
use std::time::Duration;
use telcp::health::{NodeId, NodeState};
use telcp::mip::binding::{BindingState, BroadcastDelivery};
use telcp::mip::cluster::{Body, ClusterMessage};
use telcp::mip::wire::{Header, Message, ReplyCode, replay};
use telcp::mip::{ClientEvent, Event, ForwardMode, HomeAgent, MobileNodeClient};
use telcp::sim::{Fate, LinkConfig};

// ---------------------------------------------------------------- claim 11

#[test]
fn claim11_failover_moves_every_binding_to_a_backup_chosen_by_load_and_the_mn_reregisters() {
    failover(15, 2);
}

#[test]
fn claim11_failover_in_layer3_mode_of_another_member() {
    failover(16, 3);
}

fn failover(seed: u64, victim: u32) {
    let mode = if seed % 2 == 0 {
        ForwardMode::Layer3
    } else {
        ForwardMode::Layer2
    };
    let mut w = World::new(4, mode, seed, LinkConfig::lossy(0.05, 0.0, 0.02));
    let mut clients = Vec::new();
    for k in 1..=24 {
        let mut cfg = w.client_cfg(k, false, mn_addr(k));
        // Four lossy hops an attempt: the default retries ran out on a loss tail (seed 3968).
        cfg.max_retransmits = LOSSY_RETRANSMITS;
        let id = w.add_mn(cfg);
        registered_or_account(&mut w, k, id);
        clients.push((k, id));
    }
    w.run_for(Duration::from_secs(3));
    let serving = |w: &mut World, v: u32| -> Vec<u32> {
        (1..=24)
            .filter(|k| {
                w.ha(v)
                    .binding(home(*k), None)
                    .is_some_and(|b| b.second_ha == NodeId(v))
            })
            .collect()
    };
    let mut victim = victim;
    let mut served = serving(&mut w, victim);
    // The second HAs are chosen by load: under loss the chosen victim may serve none (seed
    // 92745); then the member serving the most fails instead.
    if served.is_empty() {
        (victim, served) = (2..=4)
            .map(|v| (v, serving(&mut w, v)))
            .max_by_key(|(v, s)| (s.len(), std::cmp::Reverse(*v)))
            .unwrap();
    }
    assert!(!served.is_empty(), "HA 1 served every binding itself");
    let total_before = (1..=24)
        .filter(|k| w.ha(1).binding(home(*k), None).is_some())
        .count();
    // The events from before the crash left out: under loss a member may have seen the victim
    // Down for a moment while the mobile nodes registered, and taken over what it then held
    // of the victim's (seed 7041: a `TakenOver` of 0 bindings, the victim Up again after).
    for i in 1..=4 {
        let _ = w.events(i);
    }
    w.sim.crash(w.ha[victim as usize - 1]);
    w.run_for(Duration::from_secs(10));
    // One owner, chosen among the backups; every table agrees; nothing is lost.
    let owner = w.ha(1).binding(home(served[0]), None).unwrap().second_ha;
    assert_ne!(owner, NodeId(victim));
    for i in (1..=4u32).filter(|i| *i != victim) {
        for k in &served {
            let b = w
                .ha(i)
                .binding(home(*k), None)
                .unwrap_or_else(|| panic!("HA {i} lost MN {k}"));
            assert_eq!(b.second_ha, owner, "HA {i} MN {k}");
        }
        let count = (1..=24)
            .filter(|k| w.ha(i).binding(home(*k), None).is_some())
            .count();
        assert_eq!(count, total_before, "HA {i} binding count");
    }
    // The owner said it took the victim's bindings over, and its tunnels (the data plane the
    // caller installs from its events: `World` checks after every step that the events give
    // exactly the tunnels each HA serves) reach every one of them. Its `TakenOver` counts the
    // bindings moved in its own table by its own takeover, which may lag the victim's by a
    // replication under loss (seed 4332: 4 of 5 there, the fifth moved by the member that had
    // decided first), or be none when two coordinators decided apart and the other's records
    // moved them first (seed 17408: HA 1 took HA 3's decision, then its own, for 0 bindings,
    // and ended serving the 6 bindings' tunnels, the events giving them: `World`'s check held),
    // so the count is bounded only.
    let moved: usize = w
        .events(owner.0)
        .iter()
        .filter_map(|e| match e {
            Event::TakenOver {
                failed,
                owner: o,
                bindings,
                ..
            } if *failed == NodeId(victim) && *o == owner => Some(*bindings),
            _ => None,
        })
        .max()
        .expect("takeover event");
    assert!(moved <= served.len(), "moved {moved} of {served:?}");
    let tunnels: Vec<_> = w.ha(owner.0).served_tunnels().collect();
    for k in &served {
        assert!(
            tunnels.iter().any(|t| t.home_address == home(*k)),
            "no tunnel at the owner for MN {k}"
        );
    }
    // The MNs' next re-registrations succeed at the new owner, without 131 or 133.
    for (k, id) in clients.into_iter().filter(|(k, _)| served.contains(k)) {
        match w.register(id) {
            ClientEvent::Registered { .. } => {}
            e => panic!("MN {k}: {e:?}"),
        }
        assert_eq!(
            w.ha(owner.0).binding(home(k), None).unwrap().second_ha,
            owner
        );
    }
    assert_eq!(w.ha(owner.0).stats().refusals, 0);
}

/// mip-4.2.3-broadcast-b-bit: the B bit survives replication and takeover. Every member's
/// replica of a binding keeps whether its mobile node asked for broadcasts, and after the
/// serving HA fails the new owner's tunnels (`served_tunnels`, `tunnel`) carry it, so its data
/// plane forwards the home network's broadcasts only to those mobile nodes (RFC 5944 4.2.3: the
/// HA MUST NOT forward broadcasts to mobile nodes that did not set B).
#[test]
fn the_b_bit_survives_replication_and_takeover() {
    for (seed, victim) in [(15, 2), (16, 3)] {
        let mode = if seed % 2 == 0 {
            ForwardMode::Layer3
        } else {
            ForwardMode::Layer2
        };
        let mut w = World::new(4, mode, seed, LinkConfig::lossy(0.05, 0.0, 0.02));
        // Odd mobile nodes ask for broadcasts; all are co-located (D set).
        let asked = |k: u32| k % 2 == 1;
        let want = |k: u32| asked(k).then_some(BroadcastDelivery::MobileNodeDecapsulates);
        let coa = |k: u32| match mn_addr(k) {
            std::net::SocketAddr::V4(a) => *a.ip(),
            _ => unreachable!(),
        };
        for k in 1..=16 {
            let mut cfg = w.client_cfg(k, false, mn_addr(k));
            cfg.broadcast = asked(k);
            let id = w.add_mn(cfg);
            registered(&w.register(id));
        }
        w.run_for(Duration::from_secs(3));
        for i in 1..=4u32 {
            for k in 1..=16 {
                let b = w.ha(i).binding(home(k), None).expect("replicated");
                let got = b.tunnel_params().and_then(|p| p.broadcast);
                assert_eq!(got, want(k), "seed {seed} HA {i} MN {k}");
            }
        }
        let served: Vec<u32> = (1..=16)
            .filter(|k| {
                w.ha(victim)
                    .binding(home(*k), None)
                    .is_some_and(|b| b.second_ha == NodeId(victim))
            })
            .collect();
        assert!(served.iter().any(|&k| asked(k)) && served.iter().any(|&k| !asked(k)));
        w.sim.crash(w.ha[victim as usize - 1]);
        w.run_for(Duration::from_secs(10));
        let owner = w.ha(1).binding(home(served[0]), None).unwrap().second_ha;
        assert_ne!(owner, NodeId(victim));
        let tunnels: Vec<_> = w.ha(owner.0).served_tunnels().collect();
        for &k in &served {
            let t = w.ha(owner.0).tunnel(home(k), coa(k)).expect("taken over");
            assert_eq!(t.broadcast, want(k), "seed {seed} MN {k}");
            assert!(tunnels.contains(&t), "seed {seed} MN {k}");
        }
    }
}

// ---------------------------------------------------------------- end to end, with loss

/// Lifetime asked and granted in the lossy scenario: infinite, so no binding expires before it is
/// checked however long the mobile nodes' backoffs make the scenario (up to 14,896 s each).
const LOSSY_LIFETIME: u16 = u16::MAX;

/// Retransmissions of each mobile node in the lossy scenario: 16 attempts. The timeout starts at
/// 0.5 s and doubles (RFC 5944 section 3.6.3) up to the client's one-hour cap, so the last one
/// ends 0.5 * (2^13 - 1) + 3 * 3600 = 14,895.5 s after the first request.
const LOSSY_RETRANSMITS: u32 = 15;

fn lossy_end_to_end(mode: ForwardMode, seed: u64) {
    lossy_end_to_end_in(World::with(
        3,
        seed,
        LinkConfig::lossy(0.1, 0.05, 0.05),
        |i| {
            let mut c = ha_config(i, 3, mode);
            c.max_lifetime = LOSSY_LIFETIME;
            c
        },
    ));
}

fn lossy_end_to_end_in(mut w: World) -> World {
    let mut clients = Vec::new();
    for k in 1..=24 {
        let by_nai = k % 2 == 0;
        let mut cfg = w.client_cfg(k, by_nai, mn_addr(k));
        // Four lossy hops per attempt (10% loss each: about one attempt in three fails), so 9
        // attempts still failed about once in 15,000 registrations (seeds 357, 460, 933, 1088:
        // every attempt lost on some hop), 12 attempts once in 40,000 runs (seed 18758). 14
        // attempts: about once in 3 million registrations, once in 43,000 seeds at 72 registrations
        // a seed (seed 36349: MN 9's 14 attempts each lost a hop). 16 attempts (0.344^16): once in
        // 26 million registrations, 360,000 seeds.
        cfg.max_retransmits = LOSSY_RETRANSMITS;
        cfg.lifetime = LOSSY_LIFETIME;
        let id = w.add_mn(cfg);
        let now = w.sim.now();
        w.mn(id).register(now);
        clients.push((k, by_nai, id));
        w.run_for(Duration::from_millis(137));
    }
    // Until every mobile node has an outcome (its backoff ends within 14,896 s).
    let mut outcomes = std::collections::HashMap::new();
    for _ in 0..15_000 {
        w.run_for(Duration::from_secs(1));
        for (k, _, id) in &clients {
            if !outcomes.contains_key(k)
                && let Some(e) = w.sim.poll_event_of::<MobileNodeClient>(*id)
            {
                outcomes.insert(*k, e);
            }
        }
        if outcomes.len() == clients.len() {
            break;
        }
    }
    // The tables are compared under one view of the cluster. Four heartbeats lost in a row (about
    // once in 10,000 seconds per pair of HAs at 10% loss) make an HA see a live peer Down: it
    // re-points the peer's bindings to an owner that, still seeing the peer, waits (seed 3556,
    // layer 3). That lasts until it hears the peer again and points them back, and the records it
    // points back reach the other HAs: one view also means no replication in flight. Seed 86797
    // (layer 2): HA 3 saw HA 2 Down at 11.0 s, took its 11 bindings over and handed them back
    // (a Takeover, 11 Upserts naming HA 3, the same 11 naming HA 2 again). HA 1 got the first
    // 32-item batch (to the Upsert naming HA 3 for MN 11), not acknowledged in time (its
    // retransmission at 11.20 s lost), so at 11.29 s, with every HA Up, HA 1 still named HA 3
    // for MN 11 while HA 2 served it, 38 items behind. A false Down within a second of the check
    // and a loss on the hand-back: 1 run in the 200,000 of the 0..100,000 sweep.
    for _ in 0..60 {
        let all_up = (1..=3u32).all(|i| {
            (1..=3u32)
                .filter(|j| *j != i)
                .all(|j| w.ha(i).peer_state(NodeId(j)) == NodeState::Up)
        });
        let quiet = (1..=3u32).all(|i| {
            (1..=3u32)
                .filter(|j| *j != i)
                .all(|j| w.ha(i).replication_backlog(NodeId(j)) == 0)
        });
        if all_up && quiet {
            break;
        }
        w.run_for(Duration::from_secs(1));
    }
    let mut homes = Vec::new();
    for (k, by_nai, _) in &clients {
        let e = outcomes.remove(k);
        let h = match e {
            Some(ClientEvent::Registered { home_address, .. }) => home_address,
            other => panic!("MN {k}: {other:?}; {}", attempts_account(&w, mn_addr(*k))),
        };
        if !by_nai {
            assert_eq!(h, home(*k));
        }
        homes.push(h);
        let n = by_nai.then(|| nai(*k));
        let b1 = w.ha(1).binding(h, n.as_deref()).unwrap().clone();
        assert_eq!(b1.state(), BindingState::Permanent, "MN {k} at HA 1");
        let s = b1.second_ha.0;
        let b2 = w.ha(s).binding(h, n.as_deref()).unwrap().clone();
        assert_eq!(b2.second_ha, NodeId(s));
        assert_eq!(b2.identification, b1.identification);
    }
    // Every assigned address is distinct.
    let mut sorted = homes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), homes.len());
    // NAI mobile nodes re-register with 0.0.0.0 again: the binding is found by NAI, same address.
    for ((k, by_nai, id), h) in clients.iter().zip(&homes) {
        if *by_nai {
            let mut cfg = w.client_cfg(*k, true, mn_addr(*k + 100));
            cfg.max_retransmits = LOSSY_RETRANSMITS;
            cfg.lifetime = LOSSY_LIFETIME;
            let again = w.add_mn(cfg);
            assert_eq!(registered(&w.register(again)), *h, "MN {k}");
            let _ = id;
        }
    }
    w
}

/// Registers mobile node `k` (`id`); a failure names how its attempts were lost
/// ([`attempts_account`]).
fn registered_or_account(w: &mut World, k: u32, id: telcp::sim::NodeId) {
    match w.register(id) {
        ClientEvent::Registered { .. } => {}
        e => panic!("MN {k}: {e:?}; {}", attempts_account(w, mn_addr(k))),
    }
}

/// How the registration attempts of the mobile node at `mn` ended, to tell the loss tail from a
/// protocol fault when it gave up. RFC 5944 section 3.6.3: with no reply the mobile node sends a
/// new Registration Request (a new Identification, section 5.7) after a timeout that at least
/// doubles each time, until its retries end. An attempt is lost when any datagram on its path
/// (the request, its layer-2 forwarding to the second HA, the reply and the first HA's relay of
/// it; a reply answers the request whose low-order 32 bits of Identification it carries, section
/// 5.7.1) was dropped by the link. An attempt with nothing lost that still left the mobile node
/// without a reply had its reply come after the next request, or an HA dropped it: named here.
fn attempts_account(w: &World, mn: std::net::SocketAddr) -> String {
    let trace = w.sim.trace();
    let id_of = |r: &telcp::sim::TraceRecord| match Message::parse(&r.payload).ok()?.header {
        Header::Request(q) => Some(q.identification),
        Header::Reply(p) => Some(p.identification),
    };
    let mut sent: Vec<u64> = trace
        .iter()
        .filter(|r| r.from == mn && r.link_dst.is_none())
        .filter_map(|r| match Message::parse(&r.payload).ok()?.header {
            Header::Request(q) => Some(q.identification),
            Header::Reply(_) => None,
        })
        .collect();
    sent.sort_unstable();
    sent.dedup();
    let unlost: Vec<String> = sent
        .iter()
        .filter(|id| {
            !trace.iter().any(|r| {
                r.fate != Fate::Delivered
                    && id_of(r).is_some_and(|x| replay::reply_matches(**id, x))
            })
        })
        .map(|id| format!("{id:#x}"))
        .collect();
    if unlost.is_empty() {
        format!(
            "each of its {} attempts lost a datagram (loss tail)",
            sent.len()
        )
    } else {
        format!(
            "{} of its {} attempts lost nothing: {unlost:?} (a late reply or an HA's drop)",
            unlost.len(),
            sent.len()
        )
    }
}

#[test]
fn end_to_end_with_loss_duplication_and_reordering_layer2() {
    lossy_end_to_end(ForwardMode::Layer2, 21);
}

#[test]
fn claim3_layer2_without_notices_the_second_ha_learns_the_first_ha_from_the_source_mac() {
    let w = World::with(3, 23, LinkConfig::lossy(0.1, 0.05, 0.05), |i| {
        let mut c = ha_config(i, 3, ForwardMode::Layer2);
        c.layer2_notices = false;
        c.max_lifetime = LOSSY_LIFETIME;
        c
    });
    let mut w = lossy_end_to_end_in(w);
    // Requests were forwarded at layer 2 and relayed back through HA 1, with no notice at all.
    let trace = w.sim.trace();
    let notices = trace
        .iter()
        .filter(|r| {
            ClusterMessage::parse(&r.payload, KEY)
                .is_ok_and(|m| matches!(m.body, Body::Notice { .. }))
        })
        .count();
    assert_eq!(notices, 0);
    let forwarded_frames = trace
        .iter()
        .filter(|r| {
            r.src_node == Some(w.ha[0])
                && r.to == vip()
                && r.link_dst.is_some()
                && r.payload.first() == Some(&1)
        })
        .count();
    assert!(forwarded_frames >= 3, "{forwarded_frames} forwarded frames");
    let served_elsewhere = w.ha(2).stats().served + w.ha(3).stats().served;
    assert!(served_elsewhere >= 3, "{served_elsewhere}");
    assert!(w.ha(1).stats().relayed >= 3);
}

#[test]
fn end_to_end_with_loss_duplication_and_reordering_layer3() {
    lossy_end_to_end(ForwardMode::Layer3, 22);
}

#[test]
fn claim10_temporary_bindings_are_replicated_too() {
    let mut w = World::new(3, ForwardMode::Layer3, 23, LinkConfig::default());
    // HA 1 cannot reach HA 2: a request it forwards there stays temporary.
    w.sim.partition(w.ha[0], w.ha[1]);
    for k in 1..=20 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        let now = w.sim.now();
        w.mn(id).register(now);
        w.run_for(Duration::from_millis(20));
        let pending = w
            .ha(1)
            .binding(home(k), None)
            .and_then(|b| b.pending().cloned())
            .filter(|p| p.second_ha == NodeId(2));
        if let Some(p) = pending {
            w.sim.crash(id);
            let r = w.ha(3).binding(home(k), None).unwrap().clone();
            let rp = r.pending().cloned().expect("replicated temporary binding");
            assert_eq!(r.state(), BindingState::Temporary);
            assert_eq!(
                (rp.fa, rp.second_ha, rp.identification),
                (p.fa, p.second_ha, p.identification)
            );
            // Both copies are freed by their pending timers.
            w.run_for(Duration::from_millis(2100));
            assert!(w.ha(1).binding(home(k), None).is_none());
            assert!(w.ha(3).binding(home(k), None).is_none());
            return;
        }
        // Quickly, while HA 1 still sees HA 2 Up: least-loaded selection reaches HA 2 (it serves
        // nothing) once HA 1 and HA 3 serve one binding each.
        w.run_for(Duration::from_millis(100));
    }
    panic!("no request forwarded to HA 2");
}

/// `MIP_SWEEP=FROM..TO cargo test --release --test mip_failover wide_seed_sweep -- --ignored`:
/// the lossy end-to-end scenario in both modes over a range of seeds (default 100..300), every
/// failure listed.
#[test]
#[ignore = "wide seed sweep, run by hand"]
fn wide_seed_sweep() {
    let range = std::env::var("MIP_SWEEP").unwrap_or_else(|_| "100..300".into());
    let (a, b) = range.split_once("..").expect("FROM..TO");
    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    let mut fails = Vec::new();
    for seed in a..b {
        for mode in [ForwardMode::Layer2, ForwardMode::Layer3] {
            if let Err(e) = std::panic::catch_unwind(|| lossy_end_to_end(mode, seed)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                fails.push((seed, mode, msg));
            }
        }
    }
    for f in &fails {
        eprintln!("failed: {f:?}");
    }
    assert!(
        fails.is_empty(),
        "{} of {} runs failed",
        fails.len(),
        2 * (b - a)
    );
}

/// Seed 68792 of the wide sweep (layer 2): the first HA's forwarded frame reached the second HA
/// twice; the copy was refused with 133 (RFC 5944 section 3.8.3: the Identification is checked
/// for replay, section 5.7) and that refusal reached the first HA before the acceptance. The
/// first HA relays the reply it gets for its pending request (RFC 5944 section 3.8.3), but the
/// acceptance of the same request by the same second HA still decides the binding.
#[test]
fn wide_sweep_seed_68792_layer2_duplicate_refused_before_accepted() {
    lossy_end_to_end(ForwardMode::Layer2, 68792);
}

/// Seed 69426 of the wide sweep (layer 2): as seed 68792; the dropped acceptance left the mobile
/// node (by NAI) with two home addresses.
#[test]
fn wide_sweep_seed_69426_layer2_duplicate_refused_before_accepted() {
    lossy_end_to_end(ForwardMode::Layer2, 69426);
}

/// Seed 72023 of the wide sweep (layer 2): mobile node 17's request reached the second HA twice
/// (the network copied it) on each of its four attempts. Three times the acceptance was lost and
/// the copy's 133 (RFC 5944 sections 3.8.3, 5.7) came back: the mobile node resynchronised and
/// asked again (section 3.6.2.3). The fourth time the 133 overtook the acceptance of the same
/// Identification; with its resynchronisations used up the mobile node ended Denied(133) at once
/// and discarded the acceptance that followed 1 ms later. Now a final 133 ends the registration
/// only at the request's retransmission deadline: an acceptance of the same Identification before
/// then still registers.
#[test]
fn wide_sweep_seed_72023_layer2_last_resync_133_overtakes_acceptance() {
    lossy_end_to_end(ForwardMode::Layer2, 72023);
}

/// Seed 36349 of the wide sweep (layer 2): mobile node 9 gave up after 14 attempts, each one lost
/// on one of its four 10%-loss hops (the mobile node to the first HA, the layer-2 forwarding to
/// HA 3, HA 3's reply, the first HA's relay; two after a takeover made the first HA the owner and
/// answered it directly, still lost). No HA dropped a request: the loss tail of the scenario,
/// which its retransmission budget must cover (RFC 5944 section 3.6.3).
#[test]
fn wide_sweep_seed_36349_layer2_fourteen_attempts_each_lost_a_hop() {
    lossy_end_to_end(ForwardMode::Layer2, 36349);
}

#[test]
#[ignore = "seed sweep, run by hand"]
fn seed_sweep() {
    for seed in 100..112 {
        eprintln!("seed {seed}");
        lossy_end_to_end(ForwardMode::Layer2, seed);
        lossy_end_to_end(ForwardMode::Layer3, seed + 1000);
        failover(seed, 2 + (seed % 3) as u32);
        authoritative_bulk_sync(seed);
        divergent_takeover(seed);
        split_and_crash(seed);
        restart_empty(seed);
    }
}

// ---------------------------------------------------------------- authoritative bulk sync

/// A backup that misses removals (partitioned from the primary until the primary's replication
/// queue overflowed and the backup was Down, then Up again) ends the primary's bulk sync holding
/// exactly the primary's bindings: no replica of the mobile nodes deregistered (or expired)
/// meanwhile, every other one with its identification.
#[test]
fn claim10_bulk_sync_after_a_partition_removes_replicas_of_deregistered_bindings() {
    authoritative_bulk_sync(31);
}

/// Seed 103 (found in session 41 by `seed_sweep`; 1 of seeds 0..300 of this scenario) ended
/// with HA 2 holding none of HA 1's 27 bindings while HA 1 saw HA 2 Up with nothing left to
/// send, so a failure of HA 1 then would have lost them at HA 2. HA 1's queue towards HA 2
/// overflowed too (bulk sync); HA 3, cut off from HA 1 only, saw HA 1 Down and took over all 39
/// bindings it held (the stale ones among them); HA 2, which saw HA 1 Up all along, took HA 3's
/// records (the same registrations) as naming their server; at the heal HA 3 gave them back, its
/// handovers overflowed its queue towards HA 2, and its bulk sync, no longer naming them, swept
/// them all at HA 2; nothing made HA 1 send them again. Now HA 2 notes the live server that
/// such a claim displaced, the server winning it by the two-servers rule, and HA 3's bulk sync
/// no longer naming the binding unchanged makes it name that server again
/// (`replicate::displaces`, session 42).
#[test]
fn bulk_sync_seed_103_a_takeover_by_a_partitioned_backup_empties_the_other_backup() {
    authoritative_bulk_sync(103);
}

/// Seed 689 (session 43; 1038 and 37 more of seeds 0..20,000 the same): HA 3, cut off from
/// HA 1, saw it Down and took over all 40 bindings it held, the twelve HA 1 had removed
/// meanwhile (deregistered) among them; at the heal HA 1 took HA 3's claims of those
/// registrations as new bindings, so its bulk sync named them as held by HA 3, which kept
/// serving them (and HA 2 replicas of them) though their mobile nodes had been told they were
/// gone (RFC 5944 section 3.8.3). Now the server that removed a registration refuses a claim
/// of it (not newer) and answers the claimant with the removal (`replicate::stale_replica`).
#[test]
fn bulk_sync_seed_689_a_takeover_of_a_removed_registration_is_refused_by_its_server() {
    authoritative_bulk_sync(689);
    authoritative_bulk_sync(1038);
}

/// Seed 4415 (session 43; 17091, 17909, 19416 the same): as seed 103, HA 2 took HA 3's claims
/// of HA 1's bindings, noting HA 1 as the live server they displaced; HA 1 then removed four of
/// them (deregistered), its removals lost with its overflowed queue towards HA 2 and its bulk
/// sync to HA 2 no longer naming them; HA 3's bulk sync, no longer naming them either, made
/// them name HA 1 again at HA 2, which held them as stale replicas of nothing. Now the displaced
/// server's removal, or its bulk sync not naming the binding, drops the note
/// (`Takeovers::server_removed`, `Takeovers::server_synced`).
#[test]
fn bulk_sync_seed_4415_the_displaced_server_removed_the_binding_meanwhile() {
    authoritative_bulk_sync(4415);
}

/// Seeds 957 and 6778 (session 43; 3238, 4937, 9096 and six more of 0..20,000): the last
/// registrations' replicas reached HA 3 after the scenario's first check (loss hit a batch or
/// its acknowledgement several times in a row: the retransmission timeout doubles); seed 16943:
/// HA 2 saw HA 1 Down for a moment during the partition and its takeover's bulk sync removed
/// HA 3's stale replicas before the heal. Neither departs from the cluster's rule; the
/// scenario now waits for the replicas, and accepts the stale ones gone by a takeover.
#[test]
fn bulk_sync_seeds_957_6778_16943_late_replication_and_a_false_down_of_the_server() {
    for seed in [957, 6778, 16943] {
        authoritative_bulk_sync(seed);
    }
}

/// `TELCP_SEEDS=N [TELCP_FIRST=k] cargo test --release --all-features --test mip_failover
/// authoritative_bulk_sync_sweep -- --ignored`: the authoritative bulk sync scenario over `N`
/// seeds (default 300) from `k` (default 0), every failed seed named.
#[test]
#[ignore = "seed sweep, run by hand"]
fn authoritative_bulk_sync_sweep() {
    use common::{for_each_seed, seed_range, seeds};
    for_each_seed(seed_range(seeds(300)), authoritative_bulk_sync);
}

/// `TELCP_SEEDS=N [TELCP_FIRST=k] cargo test --release --all-features --test mip_failover
/// crash_scenarios_sweep -- --ignored --nocapture`: the box-failure scenarios over `N` seeds
/// (default 300) from `k` (default 0), every failed seed named: a serving HA crashes under loss
/// ([`failover`], the victim HA 2, 3 or 4 by seed), a crash during a partition
/// ([`split_and_crash`]), two coordinators choosing different owners ([`divergent_takeover`])
/// and a failed HA restarting empty under loss ([`restart_empty`]).
#[test]
#[ignore = "seed sweep, run by hand"]
fn crash_scenarios_sweep() {
    use common::{for_each_seed, seed_range, seeds};
    for_each_seed(seed_range(seeds(300)), |seed| {
        failover(seed, 2 + (seed % 3) as u32);
        split_and_crash(seed);
        divergent_takeover(seed);
        restart_empty(seed);
    });
}

/// Open (session 56, `crash_scenarios_sweep` over seeds 0..100,000: 3 of 100,000): after a
/// takeover under loss and the victim's restart with an empty table, every table agrees on the
/// server of every binding, none is lost, and the data plane matches the events (`World`'s
/// tunnel invariant held), but the victim's bindings are not all with one owner: seed 20675
/// (victim HA 2) split them between HA 3 and HA 1, seed 39624 (victim HA 3) between HA 1 and HA
/// 2, and in seed 26966 one of HA 2's (MN 15) is served by the restarted HA 2 itself (how is
/// not traced yet). `restart_empty` asserts the one owner a takeover chooses; these seeds break
/// it.
#[test]
#[ignore = "open: takeover under loss leaves the victim's bindings with more than one owner"]
fn restart_empty_seeds_20675_26966_39624_more_than_one_owner() {
    for seed in [20675, 26966, 39624] {
        restart_empty(seed);
    }
}

/// The first seeds `crash_scenarios_sweep` failed (session 56, seeds 0..12,000), each the
/// scenario's assumption, none the cluster's rule: a registration's default retries ran out on a
/// loss tail (2733, 3968); a member's `TakenOver` from a false Down before the crash was taken
/// for the crash's (7041), or the owner's table lagged the victim's by a replication (4332,
/// 9972: the count is bounded now, the owner's tunnels checked); HA 2 served no binding (7147,
/// 9749: the victim is the member serving more). From the 100,000-seed sweep after those fixes:
/// the owner's own takeover moved none, the other coordinator's records having moved them
/// first (17408, 24254, 32548, 73743: the count may be 0), and the seed's victim served none
/// (92745: the member serving the most fails instead).
#[test]
fn crash_scenarios_seeds_the_first_sweeps_failed() {
    for seed in [
        2733, 3968, 4332, 7041, 7147, 9749, 9972, 17408, 24254, 32548, 73743, 92745,
    ] {
        failover(seed, 2 + (seed % 3) as u32);
        split_and_crash(seed);
        divergent_takeover(seed);
        restart_empty(seed);
    }
}

fn authoritative_bulk_sync(seed: u64) {
    let mut w = World::with(3, seed, LinkConfig::lossy(0.05, 0.02, 0.02), |i| {
        let mut c = ha_config(i, 3, ForwardMode::Layer2);
        c.max_replication_queue = 4;
        c
    });
    // Every mobile node registers with HA 1 by its own address: HA 1 serves them all, and the
    // bulk sync of 40 bindings spans several batches.
    let mut clients = Vec::new();
    for k in 1..=40 {
        let mut cfg = w.client_cfg(k, false, mn_addr(k));
        cfg.home_agent = ha_addr(1);
        cfg.max_retransmits = 8;
        if k == 40 {
            cfg.lifetime = 8;
        }
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        clients.push(id);
    }
    // Replication is reliable, not timely: at 5% loss each way a batch whose copies or
    // acknowledgements are lost several times in a row waits out the doubling retransmission
    // timeout (200, 400, 800 ms, 1.6 s) past 2 s (seeds 957, 3238, 4937, 6778, 9096: in 6778 a
    // batch sent at 5.8 s, retransmitted at 6.0, 6.4 and 7.2 s, held the last registration's
    // record back past the check at 8 s). The check waits for HA 3 to hold every binding
    // (bounded: 2 s, then up to 6 s more, within MN 40's 8 s lifetime).
    w.run_for(Duration::from_secs(2));
    for _ in 0..60 {
        if (1..=40).all(|k| w.ha(3).binding(home(k), None).is_some()) {
            break;
        }
        w.run_for(Duration::from_millis(100));
    }
    for k in 1..=40 {
        let b = w.ha(3).binding(home(k), None).expect("replicated");
        assert_eq!(b.second_ha, NodeId(1));
    }
    // HA 3 is cut off from HA 1 (not from HA 2): twelve deregistrations and one expiry at HA 1
    // overflow its queue towards HA 3, and HA 3 goes Down for HA 1.
    w.sim.partition(w.ha[0], w.ha[2]);
    for k in 1..=12 {
        assert_eq!(
            w.run_request(clients[k - 1], true),
            ClientEvent::Deregistered
        );
    }
    w.run_for(Duration::from_secs(8));
    assert_eq!(w.ha(1).peer_state(NodeId(3)), NodeState::Down);
    assert!(w.ha(1).binding(home(40), None).is_none(), "MN 40 expired");
    // HA 3 still holds the stale replicas (nothing reached it), unless HA 2 saw HA 1 Down
    // meanwhile (two heartbeats lost in a row, seed 16943): then HA 2 took HA 1's bindings over,
    // HA 3 re-pointed its stale replicas to HA 2 by that decision, and HA 2's bulk sync, not
    // naming them, swept them at HA 3, as it should.
    let false_down = w.events(2).contains(&Event::PeerDown { node: NodeId(1) });
    assert!(false_down || w.ha(3).binding(home(1), None).is_some());
    w.sim.heal(w.ha[0], w.ha[2]);
    // The bulk sync runs once HA 1 hears HA 3 again. The check waits for HA 1 to see HA 3 Up with
    // nothing left to send (bounded: 8 s, then up to 12 s more): at 5% loss two heartbeats lost in
    // a row make HA 3 Suspect for an interval at any moment (seed 101 was Suspect at exactly 8 s).
    w.run_for(Duration::from_secs(8));
    for _ in 0..120 {
        if w.ha(1).peer_state(NodeId(3)) == NodeState::Up
            && w.ha(1).replication_backlog(NodeId(3)) == 0
        {
            break;
        }
        w.run_for(Duration::from_millis(100));
    }
    assert_eq!(w.ha(1).peer_state(NodeId(3)), NodeState::Up);
    assert_eq!(w.ha(1).replication_backlog(NodeId(3)), 0);
    for i in [3, 2] {
        for k in (1..=12).chain([40]) {
            assert!(
                w.ha(i).binding(home(k), None).is_none(),
                "HA {i} keeps a stale replica of MN {k}"
            );
        }
        for k in 13..=39 {
            let truth = w.ha(1).binding(home(k), None).unwrap().clone();
            let b = w
                .ha(i)
                .binding(home(k), None)
                .unwrap_or_else(|| panic!("HA {i} lost MN {k}"))
                .clone();
            assert_eq!(b.second_ha, NodeId(1));
            assert_eq!(b.identification, truth.identification);
        }
        assert_eq!(w.ha(i).bindings().len(), 27, "HA {i} binding count");
    }
}

// ---------------------------------------------------------------- divergent takeovers

/// HA 3 crashes while HA 1 and HA 2 cannot hear each other (Suspect): each believes it is the
/// lowest live backup, coordinates, and picks a different owner (HA 4, small, is the most
/// loaded). After the partition heals, every binding HA 3 served is served by one owner that
/// every table names, and each of those mobile nodes re-registers without 131 or 133.
#[test]
fn claim11_two_coordinators_choosing_different_owners_converge_on_one() {
    divergent_takeover(32);
}

fn divergent_takeover(seed: u64) {
    let mut w = World::with(4, seed, LinkConfig::default(), |i| {
        let mut c = ha_config(i, 4, ForwardMode::Layer2);
        c.health.misses_suspect = 1;
        if i == 4 {
            c.max_bindings = 50;
        }
        c
    });
    let mut clients = Vec::new();
    for k in 1..=16 {
        let mut cfg = w.client_cfg(k, false, mn_addr(k));
        if k == 16 {
            // HA 4 serves at least one binding, so it is the most loaded of all.
            cfg.home_agent = ha_addr(4);
        }
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        clients.push((k, id));
        w.run_for(Duration::from_millis(300));
    }
    w.run_for(Duration::from_secs(2));
    let served: Vec<u32> = (1..=16)
        .filter(|k| w.ha(1).binding(home(*k), None).unwrap().second_ha == NodeId(3))
        .collect();
    assert!(!served.is_empty(), "HA 3 serves nothing");
    let total: usize = w.ha(1).bindings().len();
    for i in 1..=4 {
        let _ = w.events(i);
    }
    // HA 3 crashes; two seconds later HA 1 and HA 2 lose each other, until both find HA 3 Down.
    w.sim.crash(w.ha[2]);
    w.run_for(Duration::from_secs(2));
    w.sim.partition(w.ha[0], w.ha[1]);
    for _ in 0..100 {
        if w.ha(1).peer_state(NodeId(3)) == NodeState::Down
            && w.ha(2).peer_state(NodeId(3)) == NodeState::Down
        {
            break;
        }
        w.run_for(Duration::from_millis(100));
    }
    assert_eq!(w.ha(1).peer_state(NodeId(3)), NodeState::Down);
    assert_eq!(w.ha(2).peer_state(NodeId(3)), NodeState::Down);
    assert_eq!(w.ha(1).peer_state(NodeId(2)), NodeState::Suspect);
    assert_eq!(w.ha(2).peer_state(NodeId(1)), NodeState::Suspect);
    let first_owner = |events: Vec<Event>| {
        events.into_iter().find_map(|e| match e {
            Event::TakenOver {
                failed: NodeId(3),
                owner,
                ..
            } => Some(owner),
            _ => None,
        })
    };
    let o1 = first_owner(w.events(1)).expect("HA 1 coordinated");
    let o2 = first_owner(w.events(2)).expect("HA 2 coordinated");
    assert_ne!(o1, o2, "the two coordinators chose the same owner");
    w.sim.heal(w.ha[0], w.ha[1]);
    w.run_for(Duration::from_secs(10));
    // One owner, named by every live table, for every binding HA 3 served; nothing lost.
    let owner = w.ha(1).binding(home(served[0]), None).unwrap().second_ha;
    assert!([1, 2, 4].contains(&owner.0), "owner {owner:?}");
    for i in [1, 2, 4] {
        for k in &served {
            let b = w
                .ha(i)
                .binding(home(*k), None)
                .unwrap_or_else(|| panic!("HA {i} lost MN {k}"));
            assert_eq!(b.second_ha, owner, "HA {i} MN {k}");
        }
        assert_eq!(w.ha(i).bindings().len(), total, "HA {i} binding count");
    }
    // Each of them re-registers at once, without 131 or 133.
    for (k, id) in clients.into_iter().filter(|(k, _)| served.contains(k)) {
        match w.register(id) {
            ClientEvent::Registered { .. } => {}
            e => panic!("MN {k}: {e:?}"),
        }
        for r in w.replies_to(mn_addr(k)) {
            assert!(
                r.code != ReplyCode::MN_AUTH_FAILED && r.code != ReplyCode::IDENTIFICATION_MISMATCH,
                "MN {k} got {:?}",
                r.code
            );
        }
        for i in [1, 2, 4] {
            assert_eq!(w.ha(i).binding(home(k), None).unwrap().second_ha, owner);
        }
    }
}

/// A harder split: HA 1 and HA 2 are cut off from each other long enough to find each other
/// Down (each takes over the other's bindings for the HAs it still reaches) while HA 3 crashes.
/// After the partition heals, every table names the same live server for every binding, and
/// every mobile node re-registers without 131 or 133.
#[test]
fn claim11_a_partition_and_a_crash_together_converge_on_one_server_per_binding() {
    split_and_crash(33);
}

fn split_and_crash(seed: u64) {
    let mut w = World::new(4, ForwardMode::Layer2, seed, LinkConfig::default());
    let mut clients = Vec::new();
    for k in 1..=16 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        clients.push((k, id));
        w.run_for(Duration::from_millis(300));
    }
    w.run_for(Duration::from_secs(2));
    let total = w.ha(1).bindings().len();
    w.sim.partition(w.ha[0], w.ha[1]);
    w.sim.crash(w.ha[2]);
    w.run_for(Duration::from_secs(8));
    assert_eq!(w.ha(1).peer_state(NodeId(2)), NodeState::Down);
    assert_eq!(w.ha(2).peer_state(NodeId(1)), NodeState::Down);
    w.sim.heal(w.ha[0], w.ha[1]);
    w.run_for(Duration::from_secs(10));
    for k in 1..=16 {
        let owner = w.ha(1).binding(home(k), None).unwrap().second_ha;
        assert_ne!(owner, NodeId(3), "MN {k}");
        for i in [1, 2, 4] {
            let b = w
                .ha(i)
                .binding(home(k), None)
                .unwrap_or_else(|| panic!("HA {i} lost MN {k}"));
            assert_eq!(b.second_ha, owner, "HA {i} MN {k}");
        }
    }
    for i in [1, 2, 4] {
        assert_eq!(w.ha(i).bindings().len(), total, "HA {i} binding count");
    }
    for (k, id) in clients {
        match w.register(id) {
            ClientEvent::Registered { .. } => {}
            e => panic!("MN {k}: {e:?}"),
        }
        for r in w.replies_to(mn_addr(k)) {
            assert!(
                r.code != ReplyCode::MN_AUTH_FAILED && r.code != ReplyCode::IDENTIFICATION_MISMATCH,
                "MN {k} got {:?}",
                r.code
            );
        }
    }
}

/// An HA whose bindings were taken over restarts with an empty table: its (empty) bulk sync does
/// not make anyone drop the bindings now served by the owner, and it gets them all back as
/// replicas.
#[test]
fn claim11_a_failed_ha_that_restarts_empty_takes_nothing_away_from_the_owner() {
    restart_empty(34);
}

fn restart_empty(seed: u64) {
    let mut w = World::new(
        3,
        ForwardMode::Layer2,
        seed,
        LinkConfig::lossy(0.05, 0.02, 0.02),
    );
    let mut clients = Vec::new();
    for k in 1..=15 {
        let mut cfg = w.client_cfg(k, false, mn_addr(k));
        // Four lossy hops an attempt: the default retries ran out on a loss tail (seed 2733).
        cfg.max_retransmits = LOSSY_RETRANSMITS;
        let id = w.add_mn(cfg);
        registered_or_account(&mut w, k, id);
        clients.push((k, id));
        w.run_for(Duration::from_millis(300));
    }
    w.run_for(Duration::from_secs(2));
    // The victim: HA 2, or HA 3 when it serves more (the second HAs are chosen by load, and
    // under loss HA 2 may have served none: seeds 7147, 9749).
    let serving = |w: &mut World, v: u32| -> Vec<u32> {
        (1..=15)
            .filter(|k| w.ha(1).binding(home(*k), None).unwrap().second_ha == NodeId(v))
            .collect()
    };
    let (victim, served) = [2, 3]
        .into_iter()
        .map(|v| (v, serving(&mut w, v)))
        .max_by_key(|(v, s)| (s.len(), std::cmp::Reverse(*v)))
        .unwrap();
    assert!(!served.is_empty(), "HA 1 served every binding itself");
    w.sim.crash(w.ha[victim as usize - 1]);
    w.run_for(Duration::from_secs(8));
    let owner = w.ha(1).binding(home(served[0]), None).unwrap().second_ha;
    assert_ne!(owner, NodeId(victim));
    let mut cfg = ha_config(victim, 3, ForwardMode::Layer2);
    cfg.incarnation = 2;
    let now = w.sim.now();
    cfg.wall_clock = WALL + now.duration_since(w.start);
    w.sim.restart(
        w.ha[victim as usize - 1],
        Box::new(HomeAgent::new(cfg, now).unwrap()),
    );
    w.run_for(Duration::from_secs(10));
    for i in 1..=3 {
        for k in 1..=15 {
            let b = w
                .ha(i)
                .binding(home(k), None)
                .unwrap_or_else(|| panic!("HA {i} lacks MN {k}"));
            if served.contains(&k) {
                assert_eq!(b.second_ha, owner, "HA {i} MN {k}");
            }
        }
    }
    for (k, id) in clients.into_iter().filter(|(k, _)| served.contains(k)) {
        match w.register(id) {
            ClientEvent::Registered { .. } => {}
            e => panic!("MN {k}: {e:?}"),
        }
    }
}
