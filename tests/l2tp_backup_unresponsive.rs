//! Issue 15, replication to a backup chosen by load (`lns::replicate` docs, backup): health
//! tells a member alive, not that it replicates. A pool member whose chosen backup never
//! acknowledges its replication (a contact LNS with spare capacity that does not replicate, a
//! member whose replication is filtered) gives that backup up after a health Down interval,
//! so that its calls, whose ICRPs wait for the backup's acknowledgement (output commit), still
//! come up within the LAC's patience (RFC 2661 5.8), and replicates them to a member that does
//! replicate once there is one. A backup that acknowledged batches before replicates: it is
//! kept through a Down interval of lost batches, and given up only once a batch also went
//! unanswered through the retransmissions after which the control channel gives a peer up.
//!
//! A LAC and three members, every datagram delivered in process at virtual time: member 0
//! (node 1) serves the LAC; member 1 (node 2) has the most spare capacity (so load chooses it)
//! and, per test, does not replicate or has its replication datagrams dropped; member 2 (node
//! 3) replicates.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, HealthConfig, NodeId as HNode, NodeState, Role};
use telcp::l2tp::channel::ChannelConfig;
use telcp::l2tp::{
    CallRequest, Config, Event, Lac, LacConfig, Lns, LnsConfig, LnsMembership, ReplicationConfig,
};

const MEMBERS: usize = 3;
/// The member serving the LAC, the one load prefers as its backup, a replicating one.
const A: usize = 0;
const C: usize = 1;
const B: usize = 2;

fn node(i: usize) -> HNode {
    HNode(i as u32 + 1)
}

fn service(i: usize) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(10, 0, 1, i as u8 + 1).into(), 1701)
}

fn management(i: usize) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(10, 0, 2, i as u8 + 1).into(), 1701)
}

const LAC: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 9, 1)), 1701);

/// How member 1 takes part.
#[derive(Clone, Copy, PartialEq)]
enum Silent {
    /// A contact LNS reporting spare capacity, without replication (its heartbeats only).
    Contact,
    /// A member with replication on, to which member 0's replication datagrams are dropped
    /// while [`Net::filtered`] (a filtered path).
    Filtered,
}

/// Member `i` (incarnation `incarnation`) as `silent` says for member 1.
fn member(i: usize, silent: Silent, incarnation: u32, now: Instant) -> Lns {
    let peers = (0..MEMBERS)
        .filter(|j| *j != i)
        .map(|j| (node(j), management(j)))
        .collect();
    let contact = i == C && silent == Silent::Contact;
    let role = if contact {
        Role::CONTACT_LNS
    } else {
        Role::LNS
    };
    let mut m = LnsMembership::new(node(i), role, ClusterKey::new(b"pool cluster key"), peers);
    m.incarnation = incarnation;
    let mut common = Config {
        hello_interval: Duration::from_secs(3600),
        seed: telcp::io::seed(70 + i as u64),
        ..Default::default()
    };
    // Member 1 has the most spare capacity of the pool (load makes it member 0's and 2's
    // backup), member 2 the next (member 1's backup).
    match i {
        C => common.max_sessions *= 4,
        B => common.max_sessions *= 2,
        _ => {}
    }
    let cfg = LnsConfig {
        common,
        contact,
        membership: Some(m),
        replication: (!contact).then(ReplicationConfig::default),
        ..Default::default()
    };
    Lns::new(cfg, now).unwrap()
}

struct Net {
    now: Instant,
    lac: Lac,
    members: Vec<Lns>,
    /// Members delivered to and from, and whose timers run.
    alive: [bool; MEMBERS],
    /// Member 0's replication datagrams to member 1 are dropped.
    filtered: bool,
    /// Every other replication datagram of member 0 to member 2 is dropped (counting them
    /// here): each batch reaches it at its first retransmission.
    halved: Option<u64>,
    /// The LAC's events with their time.
    lac_events: Vec<(Instant, Event)>,
}

impl Net {
    /// The members in `alive`, member 1 as `silent` says; time runs until every live member
    /// sees the other live ones Up and member 0 has chosen a backup. Members 1 and 2 form
    /// first (each the other's backup), then member 0 joins.
    fn new(silent: Silent, alive: [bool; MEMBERS]) -> Net {
        let now = Instant::now();
        let mut lc = LacConfig::new(service(A));
        lc.common.hello_interval = Duration::from_secs(3600);
        lc.common.seed = telcp::io::seed(69);
        let mut net = Net {
            now,
            lac: Lac::new(lc, now).unwrap(),
            members: (0..MEMBERS).map(|i| member(i, silent, 1, now)).collect(),
            alive: [false, alive[C], alive[B]],
            filtered: silent == Silent::Filtered,
            halved: None,
            lac_events: Vec::new(),
        };
        if alive[C] && alive[B] {
            let replicates = silent == Silent::Filtered;
            let paired = net.run_until(Duration::from_secs(30), |n| {
                (!replicates || n.members[C].backup() == Some(node(B)))
                    && n.members[B].backup() == Some(node(C))
            });
            assert!(paired, "members 1 and 2 did not form");
        }
        net.alive = alive;
        let formed = net.run_until(Duration::from_secs(30), |n| {
            n.a().backup().is_some()
                && (0..MEMBERS).all(|i| {
                    (0..MEMBERS).all(|j| {
                        i == j
                            || !n.alive[i]
                            || !n.alive[j]
                            || n.members[i].monitor().and_then(|m| m.state(node(j)))
                                == Some(NodeState::Up)
                    })
                })
        });
        assert!(formed, "the pool did not form");
        net
    }

    fn a(&self) -> &Lns {
        &self.members[A]
    }

    /// The members member 0 holds unresponsive.
    fn marked(&self) -> Vec<HNode> {
        self.a().unresponsive_members().collect()
    }

    /// Virtual time to the next timer of any live endpoint, which fires; then every datagram.
    fn tick(&mut self) {
        let next = (0..MEMBERS)
            .filter(|i| self.alive[*i])
            .filter_map(|i| self.members[i].poll_timeout())
            .chain(self.lac.poll_timeout())
            .min()
            .unwrap_or(self.now + Duration::from_millis(100));
        self.now = next.max(self.now);
        for i in 0..MEMBERS {
            if self.alive[i] {
                self.members[i].handle_timeout(self.now);
            }
        }
        self.lac.handle_timeout(self.now);
        self.pump();
    }

    /// Runs until `cond` holds or `limit` passed; whether it held.
    fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Net) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if cond(self) {
                return true;
            }
            self.tick();
        }
        cond(self)
    }

    /// Delivers every datagram until none moves (time stands still).
    fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            while let Some(t) = self.lac.poll_transmit() {
                moved = true;
                if t.dst == service(A) && self.alive[A] {
                    let _ = self.members[A].handle_datagram(now, LAC, service(A), &t.payload);
                }
            }
            for i in 0..MEMBERS {
                while self.alive[i]
                    && let Some(t) = self.members[i].poll_transmit()
                {
                    moved = true;
                    if t.dst == LAC {
                        let src = t.src.unwrap_or(service(i));
                        let _ = self.lac.handle_datagram(now, src, LAC, &t.payload);
                        continue;
                    }
                    let Some(j) = (0..MEMBERS).find(|j| management(*j) == t.dst) else {
                        continue;
                    };
                    let replication = !telcp::health::is_heartbeat(&t.payload);
                    if !self.alive[j] || (i == A && j == C && replication && self.filtered) {
                        continue;
                    }
                    if let Some(k) = self
                        .halved
                        .as_mut()
                        .filter(|_| i == A && j == B && replication)
                    {
                        *k += 1;
                        if *k % 2 == 1 {
                            continue;
                        }
                    }
                    let _ = self.members[j].handle_datagram(now, management(i), t.dst, &t.payload);
                }
            }
            for m in &mut self.members {
                while m.poll_event().is_some() {}
            }
            while let Some(e) = self.lac.poll_event() {
                self.lac_events.push((now, e));
            }
            if !moved {
                break;
            }
        }
    }

    /// The LAC places a call; time runs until the LAC has it up (it got the ICRP and sent its
    /// ICCN, RFC 2661 6.7: `SessionUp`) or fails it, at most `limit`: how long that took,
    /// `None` when not up.
    fn call(&mut self, limit: Duration) -> Option<Duration> {
        let start = self.now;
        let id = self.lac.open_call(start, CallRequest::default()).unwrap();
        self.pump();
        let up = |n: &Net| {
            n.lac_events.iter().find_map(|(at, e)| match e {
                Event::SessionUp { call: Some(c), .. } if *c == id => Some(*at),
                _ => None,
            })
        };
        self.run_until(limit, |n| up(n).is_some());
        up(self).map(|at| at - start)
    }
}

/// RFC 2661 5.8: how long the LAC's control channel retransmits before it gives up (the
/// first timeout doubling up to the cap over its retransmissions: 31 s by default), the
/// longest a LAC waits for the ICRP answering its ICRQ (`Config::session_setup_timeout` is
/// never shorter).
fn lac_budget() -> Duration {
    let c = Config::default();
    ChannelConfig {
        retransmit_initial: c.retransmit_initial,
        retransmit_cap: c.retransmit_cap,
        max_retries: c.max_retries,
        ..Default::default()
    }
    .give_up_after()
}

/// The documented bound (`lns::replicate` docs, backup; `Stats::backups_unresponsive`): a
/// health Down interval, at least two retransmission timeouts at the replication's cap.
fn bound() -> Duration {
    HealthConfig::default()
        .down_after()
        .max(ReplicationConfig::default().retransmit_cap * 2)
}

/// The bound for a backup that acknowledged a batch of ours since it started (`lns::replicate`
/// docs, backup): the batch sent again `Config::max_retries` times at the replication's pace
/// (from `ReplicationConfig::retransmit`, doubling up to its cap), the last one's timeout run
/// out, as the control channel gives a peer up (RFC 2661 5.8); never less than [`bound`].
fn replicating_bound() -> Duration {
    let r = ReplicationConfig::default();
    let (mut t, mut rto) = (Duration::ZERO, r.retransmit);
    for _ in 0..=Config::default().max_retries {
        t += rto;
        rto = (rto * 2).min(r.retransmit_cap);
    }
    t.max(bound())
}

/// Member 0 with member 1 as its backup, which replicates: the call placed first is up and
/// held by member 1, whose acknowledgements showed that it replicates; member 2 is down.
fn replicating_backup() -> Net {
    let mut net = Net::new(Silent::Filtered, [true, true, false]);
    net.filtered = false;
    net.call(lac_budget()).expect("the first call came up");
    let held = net.run_until(Duration::from_secs(10), |n| {
        n.members[C].held_for(node(A)) == (1, 1)
    });
    assert!(held, "member 1 holds the first call");
    assert_eq!(net.a().backup(), Some(node(C)));
    net
}

/// The timers see the batch in flight within a first retransmission timeout of its sending,
/// and the bound's end within a retransmission cap (module docs, backup).
fn slack() -> Duration {
    let r = ReplicationConfig::default();
    r.retransmit + r.retransmit_cap
}

/// Issue 15 (no call hangs) and RFC 2661 5.8 (the ICRP answers the ICRQ while the LAC still
/// waits for it): member 0's backup by load is a contact LNS that does not replicate and no
/// other member is up. The call's ICRP, held for that backup's acknowledgement, leaves once it
/// is given up, a Down interval after the call's record left, well within the LAC's
/// retransmission budget; the call is counted unreplicated. Once a replicating member is Up,
/// it is chosen (never the contact again) and holds the call, and the next call is answered
/// once it holds that one too, at no such wait.
#[test]
fn a_backup_that_never_acknowledges_is_given_up_and_the_call_comes_up() {
    let mut net = Net::new(Silent::Contact, [true, true, false]);
    assert_eq!(net.a().backup(), Some(node(C)));

    let took = net.call(lac_budget()).expect("the call came up");
    assert!(took < lac_budget(), "ICRP after {took:?}: the LAC gave up");
    assert!(
        took >= bound() && took <= bound() + slack(),
        "ICRP after {took:?}, the backup given up a Down interval ({:?}) after its record left",
        bound()
    );
    let s = net.a().stats();
    assert_eq!(s.backups_unresponsive, 1);
    assert_eq!(s.setups_not_replicated, 1, "answered with no backup left");
    assert_eq!(net.a().backup(), None, "the contact is not chosen again");

    // A replicating member comes up: it is chosen, and holds the call.
    net.alive[B] = true;
    let synced = net.run_until(Duration::from_secs(30), |n| {
        assert_ne!(n.a().backup(), Some(node(C)), "never the unresponsive one");
        n.a().backup() == Some(node(B)) && n.members[B].held_for(node(A)) == (1, 1)
    });
    assert!(synced, "member 2 holds member 0's call");

    let took = net.call(lac_budget()).expect("the second call came up");
    assert!(took < bound(), "ICRP after {took:?}");
    assert_eq!(net.members[B].held_for(node(A)), (1, 2));
    let s = net.a().stats();
    assert_eq!(
        s.setups_not_replicated, 1,
        "the second call was replicated first"
    );
    assert_eq!(s.backups_unresponsive, 1);
    assert_eq!(net.a().backup(), Some(node(B)));
}

/// The same with a replicating member Up all along, load preferring the contact: once the
/// contact is given up, the held ICRP waits for the new backup's bulk sync, which carries the
/// call (`lns::replicate` docs, output commit), so the call is up within the LAC's budget and
/// replicated before its ICRP left.
#[test]
fn a_call_held_for_a_silent_backup_waits_for_the_next_ones_sync() {
    let mut net = Net::new(Silent::Contact, [true, true, true]);
    assert_eq!(net.a().backup(), Some(node(C)));

    let took = net.call(lac_budget()).expect("the call came up");
    assert!(took < lac_budget(), "ICRP after {took:?}: the LAC gave up");
    assert!(
        took >= bound() && took <= bound() + slack(),
        "ICRP after {took:?}"
    );
    let s = net.a().stats();
    assert_eq!(s.backups_unresponsive, 1);
    assert_eq!(s.setups_not_replicated, 0, "held until member 2 held it");
    assert_eq!(net.a().backup(), Some(node(B)));
    assert_eq!(net.members[B].held_for(node(A)), (1, 1));
}

/// The mark clears when the member acknowledges one of our batches (`lns::replicate` docs,
/// backup): member 1 replicates but member 0's replication datagrams to it are dropped, so it
/// is given up for member 2. Once they pass, it acknowledges the batch still in flight to it
/// (it sends member 0 no batch of its own: its backup is member 2); when member 2 then fails,
/// it is member 0's backup again and holds its call.
#[test]
fn a_given_up_backup_that_acknowledges_is_chosen_again() {
    let mut net = Net::new(Silent::Filtered, [true, true, true]);
    assert_eq!(net.a().backup(), Some(node(C)));
    assert_eq!(net.members[C].backup(), Some(node(B)));
    net.call(lac_budget()).expect("the call came up");
    assert_eq!(net.a().stats().backups_unresponsive, 1);
    assert_eq!(net.marked(), [node(C)]);
    assert_eq!(net.a().backup(), Some(node(B)));
    // Still unresponsive while the path stays filtered.
    net.run_until(Duration::from_secs(10), |_| false);
    assert_eq!(net.marked(), [node(C)]);

    net.filtered = false;
    let cleared = net.run_until(Duration::from_secs(10), |n| n.marked().is_empty());
    assert!(cleared, "member 1 acknowledged");
    assert_eq!(net.members[C].backup(), Some(node(B)));
    // Member 2 fails: member 0's health finds it Down, and chooses member 1 again.
    net.alive[B] = false;
    let chosen = net.run_until(Duration::from_secs(30), |n| {
        n.a().backup() == Some(node(C)) && n.members[C].held_for(node(A)) == (1, 1)
    });
    assert!(chosen, "member 1 is the backup again and holds the call");
    assert_eq!(net.a().stats().backups_unresponsive, 1);
}

/// The mark clears when the member sends us a batch of its own, if it had sent none when
/// given up (`lns::replicate` docs, backup): member 0's replication to member 1 stays dropped,
/// so member 1 (whose backup is member 2: it never sent member 0 a batch) is given up for
/// member 2 and never acknowledges. When member 2 fails, member 1 chooses member 0 as its
/// backup and its bulk sync reaches member 0, which takes member 1 as its backup again (at
/// once: it had none left) and gives it up again a Down interval later. Member 1's batches
/// then no longer clear the mark (their acknowledgements are dropped, so they keep coming):
/// what fails is member 0's path to it, and member 0 stays without a backup.
#[test]
fn a_given_up_backup_that_sends_a_batch_is_chosen_again_once() {
    let mut net = Net::new(Silent::Filtered, [true, true, true]);
    assert_eq!(net.members[C].backup(), Some(node(B)));
    net.call(lac_budget()).expect("the call came up");
    assert_eq!(net.marked(), [node(C)]);
    assert_eq!(net.a().backup(), Some(node(B)));

    net.alive[B] = false;
    let chosen = net.run_until(Duration::from_secs(30), |n| n.a().backup() == Some(node(C)));
    assert!(chosen, "member 1 is member 0's backup again");
    assert_eq!(net.members[C].backup(), Some(node(A)));
    let given_up = net.run_until(bound() + slack(), |n| {
        n.a().stats().backups_unresponsive == 2
    });
    assert!(
        given_up,
        "given up again: member 0's batches still do not reach it"
    );
    assert_eq!(net.a().backup(), None);
    net.run_until(Duration::from_secs(20), |n| {
        assert_eq!(n.a().backup(), None, "not chosen again on its batches");
        false
    });
    assert_eq!(net.marked(), [node(C)]);
    assert_eq!(net.a().stats().backups_unresponsive, 2);
}

/// The mark clears at the member's restart (`lns::replicate` docs, backup): a new incarnation
/// is judged afresh. The contact that did not replicate restarts (as a contact again); when
/// member 2 fails, member 0 chooses it again (the only member Up), and gives it up again a
/// Down interval later.
#[test]
fn a_given_up_backup_restarted_is_judged_afresh() {
    let mut net = Net::new(Silent::Contact, [true, true, true]);
    net.call(lac_budget()).expect("the call came up");
    assert_eq!(net.marked(), [node(C)]);
    assert_eq!(net.a().backup(), Some(node(B)));

    net.members[C] = member(C, Silent::Contact, 2, net.now);
    let cleared = net.run_until(Duration::from_secs(10), |n| n.marked().is_empty());
    assert!(cleared, "the restart cleared the mark");
    net.alive[B] = false;
    let chosen = net.run_until(Duration::from_secs(30), |n| n.a().backup() == Some(node(C)));
    assert!(chosen, "member 1 is member 0's backup again");
    let given_up = net.run_until(bound() + slack(), |n| {
        n.a().stats().backups_unresponsive == 2
    });
    assert!(given_up, "given up again: it still does not replicate");
    assert_eq!(net.a().backup(), None);
}

/// A backup that acknowledges every batch, late, is kept (`lns::replicate` docs, backup: the
/// bound runs while one batch goes unacknowledged): member 0's only peer, member 2, gets each
/// batch at its first retransmission while the LAC places a call every 100 ms for three
/// bounds, so that a batch of member 0 is in flight to it all that while. None is given up,
/// every call comes up replicated, its ICRP within the LAC's budget.
#[test]
fn a_backup_acknowledging_each_batch_late_is_kept() {
    let mut net = Net::new(Silent::Contact, [true, false, true]);
    assert_eq!(net.a().backup(), Some(node(B)));
    net.halved = Some(0);
    let start = net.now;
    let mut opened = std::collections::BTreeMap::new();
    while net.now < start + bound() * 3 {
        let id = net.lac.open_call(net.now, CallRequest::default()).unwrap();
        opened.insert(id, net.now);
        net.pump();
        let next = net.now + Duration::from_millis(100);
        net.run_until(Duration::from_secs(1), |n| n.now >= next);
    }
    let ups = |n: &Net| {
        n.lac_events
            .iter()
            .filter_map(|(at, e)| match e {
                Event::SessionUp { call: Some(c), .. } => Some((*c, *at)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let all = net.run_until(lac_budget(), |n| ups(n).len() == opened.len());
    assert!(all, "every call came up");
    for (c, at) in ups(&net) {
        let took = at - opened[&c];
        assert!(
            took < bound(),
            "{c:?}: ICRP after {took:?}, no give-up to wait for"
        );
    }
    let s = net.a().stats();
    assert_eq!(s.backups_unresponsive, 0);
    assert_eq!(s.setups_not_replicated, 0);
    assert_eq!(net.a().backup(), Some(node(B)));
    assert_eq!(net.members[B].held_for(node(A)), (1, opened.len()));
}

/// `lns::replicate` docs (backup; records go to the backup alone): a backup given up and
/// chosen again gets a bulk sync of what the member holds then, and no record left queued for
/// it from its first turn after that sync (`l2tp_failover` seed 300094). Member 1 replicates
/// and holds member 0's first call; then member 0's replication to it is dropped while two
/// calls are placed together: the second's record waits queued behind the first's batch. Member
/// 1 is given up (none left: both ICRPs leave), the LAC hangs the second call up (RFC 2661
/// 6.12; with no backup its end is replicated nowhere), and the path clears: member 1
/// acknowledges the batch still in flight, is chosen again, and holds the two calls member 0
/// has, not the one hung up. Before, the queued record followed the sync and brought it back.
#[test]
fn a_backup_chosen_again_gets_no_record_queued_in_its_first_turn() {
    let mut net = replicating_backup();
    net.filtered = true;
    let now = net.now;
    let second = net.lac.open_call(now, CallRequest::default()).unwrap();
    let third = net.lac.open_call(now, CallRequest::default()).unwrap();
    net.pump();
    let ups = |n: &Net| {
        n.lac_events
            .iter()
            .filter(|(_, e)| matches!(e, Event::SessionUp { call: Some(c), .. } if *c == second || *c == third))
            .count()
    };
    let up = net.run_until(lac_budget(), |n| ups(n) == 2);
    assert!(up, "both calls came up once member 1 was given up");
    assert_eq!(net.marked(), [node(C)]);
    assert_eq!(net.a().backup(), None);
    assert_eq!(net.a().stats().setups_not_replicated, 2);

    let now = net.now;
    net.lac
        .close_session(now, third, telcp::l2tp::Close::default())
        .unwrap();
    let gone = net.run_until(Duration::from_secs(10), |n| n.a().session_count() == 2);
    assert!(gone, "member 0 cleared the call the LAC hung up");

    net.filtered = false;
    let chosen = net.run_until(Duration::from_secs(30), |n| {
        n.a().backup() == Some(node(C)) && n.members[C].held_for(node(A)).1 >= 2
    });
    assert!(chosen, "member 1 is the backup again and holds the calls");
    // Everything member 0 sends it is acknowledged and applied by now.
    net.run_until(Duration::from_secs(10), |_| false);
    assert_eq!(net.a().session_count(), 2);
    assert_eq!(
        net.members[C].held_for(node(A)),
        (1, 2),
        "member 1 holds what member 0 holds"
    );
}

/// `lns::replicate` docs (backup): a backup that acknowledged batches of ours replicates, so a
/// batch of ours it leaves unanswered for a Down interval is lost, not refused (`l2tp_failover`
/// sweep of seeds 300,000-305,000: 163 backups alive and reachable given up, their batches
/// lost five times in a row at 10 % loss each way). Member 0's replication to member 1 is
/// dropped for longer than a Down interval while a call's record is in flight: member 1 is
/// kept, the batch sent again reaches it once the path clears, and the call comes up
/// replicated (its ICRP held until then: output commit).
#[test]
fn a_backup_that_replicates_is_kept_through_a_down_interval_of_lost_batches() {
    let mut net = replicating_backup();
    net.filtered = true;
    let start = net.now;
    let id = net.lac.open_call(start, CallRequest::default()).unwrap();
    net.pump();
    // Dropped until a Down interval passed, and before the batch's fifth retransmission (from
    // `ReplicationConfig::retransmit` doubling up to its cap: 5 s at the defaults), which passes.
    let r = ReplicationConfig::default();
    let fifth: Duration = (0..5)
        .map(|k| (r.retransmit * (1 << k)).min(r.retransmit_cap))
        .sum();
    while net.now < start + bound() {
        net.tick();
    }
    assert!(
        net.now < start + fifth,
        "the fifth retransmission is to pass"
    );
    assert_eq!(net.a().stats().backups_unresponsive, 0, "not given up");
    assert_eq!(net.a().backup(), Some(node(C)));

    net.filtered = false;
    let up = net.run_until(lac_budget(), |n| {
        n.lac_events
            .iter()
            .any(|(_, e)| matches!(e, Event::SessionUp { call: Some(c), .. } if *c == id))
    });
    assert!(up, "the call came up");
    let took = net.now - start;
    assert!(
        took > bound(),
        "ICRP after {took:?}: held until acknowledged"
    );
    let s = net.a().stats();
    assert_eq!(s.backups_unresponsive, 0);
    assert_eq!(
        s.setups_not_replicated, 0,
        "replicated before its ICRP left"
    );
    assert!(net.marked().is_empty());
    assert_eq!(net.a().backup(), Some(node(C)));
    assert_eq!(net.members[C].held_for(node(A)), (1, 2));
}

/// `lns::replicate` docs (backup): a backup that replicated and whose path is then filtered
/// is given up all the same, once the batch went unanswered through the retransmissions after
/// which the control channel gives a peer up (RFC 2661 5.8: `Config::max_retries`, 7 s at the
/// defaults), still well within the LAC's patience; with no other member the call is
/// answered unreplicated.
#[test]
fn a_backup_that_replicated_is_given_up_once_its_path_stays_filtered() {
    let mut net = replicating_backup();
    net.filtered = true;
    let took = net.call(lac_budget()).expect("the call came up");
    assert!(took < lac_budget(), "ICRP after {took:?}: the LAC gave up");
    assert!(
        took >= replicating_bound() && took <= replicating_bound() + slack(),
        "ICRP after {took:?}, the backup given up after the channel's retransmissions ({:?})",
        replicating_bound()
    );
    let s = net.a().stats();
    assert_eq!(s.backups_unresponsive, 1);
    assert_eq!(s.setups_not_replicated, 1, "answered with no backup left");
    assert_eq!(net.marked(), [node(C)]);
    assert_eq!(net.a().backup(), None);
}

/// `lns::replicate` docs (backup): a backup that has acknowledged nothing of ours yet is
/// judged on the Down interval alone, and the batch in flight to it is sent again at twice the
/// first retransmission timeout at most, so that loss alone does not outlast the interval
/// (`l2tp_failover` sweep of seeds 300,000-320,000: 215 such backups, alive and reachable,
/// given up at the pool's start or at a new backup's first sync, their batches sent five times
/// in the interval at the usual pace and lost each time). Member 0's first batches to member
/// 1, its new backup, are dropped for most of a Down interval: member 1 gets one before the
/// interval ends, is kept, and holds the next call before its ICRP leaves.
#[test]
fn a_backup_not_yet_acknowledging_is_kept_through_lost_first_batches() {
    let mut net = Net::new(Silent::Filtered, [true, true, false]);
    // Net::new returns once member 0 chose member 1: its bulk sync's first batch left then.
    let chosen = net.now;
    assert_eq!(net.a().backup(), Some(node(C)));
    while net.now < chosen + bound() - Duration::from_millis(500) {
        net.tick();
    }
    assert!(
        net.now < chosen + bound(),
        "cleared within the Down interval"
    );
    net.filtered = false;
    net.run_until(Duration::from_secs(10), |_| false);
    assert_eq!(net.a().stats().backups_unresponsive, 0, "not given up");
    assert_eq!(net.a().backup(), Some(node(C)));

    let took = net.call(lac_budget()).expect("the call came up");
    assert!(took < bound(), "ICRP after {took:?}: no give-up waited for");
    let s = net.a().stats();
    assert_eq!(s.backups_unresponsive, 0);
    assert_eq!(s.setups_not_replicated, 0);
    assert_eq!(net.members[C].held_for(node(A)), (1, 1));
}
