//! The virtual Home Agent cluster (issue 6), cluster claims on the deterministic simulator
//! (`common::mip`): health and load heartbeats (claim 8), route advertisement (claim 9),
//! replication and bulk sync to the backups (claim 10), and tshark on a cluster run.
#![cfg(feature = "sim")]

mod common;

use common::mip::*;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use telcp::health::{NodeId, NodeState};
use telcp::mip::binding::BindingState;
use telcp::mip::cluster::{Body, ClusterMessage};
use telcp::mip::wire::replay::NtpTime;
use telcp::mip::{Event, ForwardMode, HomeAgent};
use telcp::sim::LinkConfig;

// ---------------------------------------------------------------- claim 8

#[test]
fn claim8_health_and_load_heartbeats_drive_the_up_view() {
    let mut w = World::new(
        4,
        ForwardMode::Layer2,
        11,
        LinkConfig::lossy(0.1, 0.02, 0.05),
    );
    for i in 1..=4 {
        for j in 1..=4 {
            assert_eq!(w.ha(i).peer_state(NodeId(j)), NodeState::Up, "{i} sees {j}");
        }
    }
    for k in 1..=12 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    w.run_for(Duration::from_secs(3));
    // Each HA's view of the others' load is what they report: the bindings they serve (not the
    // replicas they hold for the others), and their capacity.
    for i in 2..=4 {
        let own = w.ha(i).bindings().owned_by(NodeId(i)) as u32;
        let seen = w.ha(1).peer_load(NodeId(i)).unwrap();
        assert_eq!(seen.capacity, 100_000);
        assert!(
            seen.used <= own + 2 && seen.used + 2 >= own,
            "{seen:?} vs {own}"
        );
    }
    w.sim.crash(w.ha[3]);
    w.run_for(Duration::from_secs(8));
    for i in 1..=3 {
        assert_eq!(w.ha(i).peer_state(NodeId(4)), NodeState::Down);
    }
    assert!(w.events(1).contains(&Event::PeerDown { node: NodeId(4) }));
}

// ---------------------------------------------------------------- claim 9

#[test]
fn claim9_route_advertisement_and_withdrawal_and_peers_known_to_announce() {
    let mut w = World::new(3, ForwardMode::Layer2, 12, LinkConfig::default());
    let prefix: ipnetwork::IpNetwork = "10.0.0.0/16".parse().unwrap();
    for i in 1..=3 {
        assert!(w.events(i).contains(&Event::AdvertiseRoute { prefix }));
        assert_eq!(w.ha(i).announcers(), vec![NodeId(1), NodeId(2), NodeId(3)]);
    }
    w.ha(2).withdraw();
    assert!(w.events(2).contains(&Event::WithdrawRoute { prefix }));
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.ha(1).announcers(), vec![NodeId(1), NodeId(3)]);
    w.ha(2).advertise();
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.ha(3).announcers(), vec![NodeId(1), NodeId(2), NodeId(3)]);
    w.sim.crash(w.ha[2]);
    w.run_for(Duration::from_secs(6));
    assert_eq!(w.ha(1).announcers(), vec![NodeId(1), NodeId(2)]);
}

// ---------------------------------------------------------------- claim 10

#[test]
fn claim10_every_binding_is_replicated_to_the_backups_reliably_with_its_identification() {
    let mut w = World::new(
        3,
        ForwardMode::Layer2,
        13,
        LinkConfig::lossy(0.1, 0.05, 0.05),
    );
    for k in 1..=20 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    w.run_for(Duration::from_secs(5));
    for k in 1..=20 {
        let serving = w.ha(1).binding(home(k), None).unwrap().clone();
        let s = serving.second_ha.0;
        let truth = w.ha(s).binding(home(k), None).unwrap().clone();
        for i in 1..=3 {
            let b = w
                .ha(i)
                .binding(home(k), None)
                .unwrap_or_else(|| panic!("HA {i} lacks {k}"));
            assert_eq!(b.state(), BindingState::Permanent);
            assert_eq!(b.second_ha, NodeId(s));
            assert_eq!(b.identification, truth.identification, "HA {i} MN {k}");
        }
    }
    for i in 1..=3 {
        for j in 1..=3 {
            assert_eq!(w.ha(i).replication_backlog(NodeId(j)), 0);
        }
    }
}

#[test]
fn claim10_a_backup_that_rejoins_gets_a_bulk_sync() {
    let mut w = World::new(
        3,
        ForwardMode::Layer2,
        14,
        LinkConfig::lossy(0.05, 0.0, 0.0),
    );
    w.sim.crash(w.ha[2]);
    w.run_for(Duration::from_secs(6));
    for k in 1..=15 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    let mut cfg = ha_config(3, 3, ForwardMode::Layer2);
    cfg.incarnation = 2;
    let now = w.sim.now();
    cfg.wall_clock = WALL + now.duration_since(w.start);
    w.sim
        .restart(w.ha[2], Box::new(HomeAgent::new(cfg, now).unwrap()));
    w.run_for(Duration::from_secs(8));
    for k in 1..=15 {
        assert!(
            w.ha(3).binding(home(k), None).is_some(),
            "MN {k} missing after bulk sync"
        );
    }
}

/// The receiving side of a bulk sync, message by message: a sync restarted midway sweeps with the
/// latest epoch only, an end for an older epoch and a duplicated batch change nothing, and the
/// sweep removes only the sender's replicas (not another HA's, not what the receiver serves).
#[test]
fn claim10_bulk_sync_epochs_restarts_and_duplicates_at_the_receiver() {
    use telcp::mip::cluster::{Entry, Item, Record, RecordState};
    let start = Instant::now();
    let mut ha = HomeAgent::new(ha_config(2, 3, ForwardMode::Layer2), start).unwrap();
    let mut pn = 0;
    let mut batch = |ha: &mut HomeAgent, sender: u32, seq: u64, items: Vec<Entry<Item>>| {
        pn += 1;
        let m = ClusterMessage {
            sender: NodeId(sender),
            incarnation: 1,
            pn,
            body: Body::Replicate { seq, items },
        }
        .to_vec(KEY);
        ha.handle_datagram(start, ha_addr(sender), ha_addr(2), &m)
            .unwrap();
    };
    let rec = |k: u32, first: u32, second: u32, state: BindingState| {
        let care_of = Ipv4Addr::new(203, 0, 113, k as u8);
        let state = match state {
            BindingState::Temporary => RecordState::Temporary {
                care_of,
                pending_left: Duration::from_millis(600),
            },
            BindingState::Permanent => RecordState::Permanent {
                care_of: vec![(care_of, Some(Duration::from_secs(600)))],
            },
        };
        Entry::Item(Item::Upsert(Record {
            home_address: home(k),
            nai: None,
            first_ha: NodeId(first),
            second_ha: NodeId(second),
            fa: mn_addr(k),
            identification: u64::from(k),
            state,
            tunnel: None,
            key: None,
            revocation: None,
        }))
    };
    let perm = BindingState::Permanent;
    let has = |ha: &HomeAgent, k: u32| ha.binding(home(k), None).is_some();
    // HA 1 replicates 1..=4 (4 temporary, forwarded to HA 3); HA 3 replicates 5; HA 2 serves 6
    // itself (registered at its own address).
    let q = request(
        6,
        Ipv4Addr::new(192, 0, 2, 2),
        NtpTime::from_unix(WALL).0,
        None,
    );
    ha.handle_datagram(start, mn_addr(6), ha_addr(2), &q)
        .unwrap();
    assert_eq!(ha.binding(home(6), None).unwrap().second_ha, NodeId(2));
    batch(
        &mut ha,
        1,
        1,
        vec![
            rec(1, 1, 1, perm),
            rec(2, 1, 1, perm),
            rec(3, 1, 1, perm),
            rec(4, 1, 3, BindingState::Temporary),
            rec(6, 1, 2, perm),
        ],
    );
    batch(&mut ha, 3, 1, vec![rec(5, 3, 3, perm)]);
    assert!((1..=6).all(|k| has(&ha, k)));
    // Sync 1 from HA 1, restarted midway as sync 2 (a duplicate of a batch on the way).
    batch(
        &mut ha,
        1,
        2,
        vec![Entry::SyncBegin { epoch: 1 }, rec(1, 1, 1, perm)],
    );
    batch(
        &mut ha,
        1,
        3,
        vec![Entry::SyncBegin { epoch: 2 }, rec(2, 1, 1, perm)],
    );
    batch(
        &mut ha,
        1,
        3,
        vec![Entry::SyncBegin { epoch: 2 }, rec(2, 1, 1, perm)],
    );
    // An end of the abandoned sync changes nothing.
    batch(&mut ha, 1, 4, vec![Entry::SyncEnd { epoch: 1 }]);
    assert!((1..=6).all(|k| has(&ha, k)));
    // The end of sync 2: HA 1 named only MN 2, so its other replicas (1, 3 and the temporary 4)
    // go; HA 3's (5) and the one HA 2 serves (6) stay.
    batch(
        &mut ha,
        1,
        5,
        vec![rec(3, 1, 1, perm), Entry::SyncEnd { epoch: 2 }],
    );
    let left: Vec<u32> = (1..=6).filter(|k| has(&ha, *k)).collect();
    assert_eq!(left, vec![2, 3, 5, 6]);
    // A retransmitted copy of that last batch (already acknowledged) changes nothing either.
    batch(&mut ha, 1, 5, vec![Entry::SyncEnd { epoch: 2 }]);
    batch(&mut ha, 1, 4, vec![Entry::SyncBegin { epoch: 9 }]);
    batch(&mut ha, 1, 6, vec![Entry::SyncEnd { epoch: 9 }]);
    let left: Vec<u32> = (1..=6).filter(|k| has(&ha, *k)).collect();
    assert_eq!(left, vec![2, 3, 5, 6]);
}

// ---------------------------------------------------------------- tshark on a cluster run

#[test]
fn tshark_dissects_the_registrations_of_a_cluster_run_without_errors() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let mut w = World::new(3, ForwardMode::Layer2, 26, LinkConfig::default());
    for k in 1..=9 {
        let cfg = w.client_cfg(k, k % 3 == 0, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    let cap = common::Capture::new(&w, "mip-ha", "cluster.pcap");
    let filter = "mip.type == 1 || mip.type == 3";
    let text = cap.run(&["-n", "-q", "-z", &format!("expert,{filter}")]);
    assert!(!text.contains("Errors"), "{text}");
    let text = cap.run(&[
        "-n", "-Y", filter, "-T", "fields", "-e", "mip.type", "-e", "mip.code",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    // Each registration: request (MN -> HA 1), maybe forwarded, reply, maybe relayed.
    assert!(
        lines.iter().filter(|l| l.starts_with('1')).count() >= 9,
        "{text}"
    );
    assert!(
        lines.iter().filter(|l| **l == "3\t0").count() >= 9,
        "{text}"
    );
    assert!(lines.iter().all(|l| *l == "1\t" || *l == "3\t0"), "{text}");
}
