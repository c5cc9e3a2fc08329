//! Replay protection and the failure detector.
//!
//! * [`ReplayGuard`]: per node, the current incarnation and the highest sequence accepted in it. A
//!   sequence not above the highest is a replay (or a reordered, stale heartbeat) and is refused; a
//!   higher incarnation is a restart and resets the sequence; a lower incarnation is refused.
//! * [`FailureDetector`]: each tracked node is [`NodeState::Up`], [`NodeState::Suspect`] or
//!   [`NodeState::Down`]. A node heard from is Up; after `misses_suspect` intervals without a
//!   heartbeat it becomes Suspect, after `misses_down` intervals Down. Each node has one timer in a
//!   [`TimerQueue`], so expiry never scans the table.

use super::NodeId;
use crate::TimerQueue;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

pub use crate::io::replay::{Freshness, ReplayError};

/// Replay state for one node: its incarnation and the highest sequence accepted in it. The crate's
/// one replay window ([`crate::io::replay::ReplayWindow`]) with no reordering allowed: a heartbeat
/// not newer than the last one accepted is stale.
pub type ReplayGuard = crate::io::replay::ReplayWindow<0>;

/// A node's liveness as seen by the failure detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// Heard from within the last `misses_suspect` intervals.
    Up,
    /// Silent for `misses_suspect` intervals, not yet `misses_down`.
    Suspect,
    /// Silent for `misses_down` intervals, or never heard from.
    Down,
}

/// A change of a node's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The node.
    pub node: NodeId,
    /// Its state before.
    pub from: NodeState,
    /// Its state now.
    pub to: NodeState,
}

/// Timing of the failure detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectorConfig {
    /// Expected time between two heartbeats of a node.
    pub interval: Duration,
    /// Missed intervals before a node is Suspect (at least 1).
    pub misses_suspect: u32,
    /// Missed intervals before a node is Down (more than `misses_suspect`).
    pub misses_down: u32,
}

impl DetectorConfig {
    /// Whether the thresholds are usable: a non-zero interval, `1 <= misses_suspect <
    /// misses_down`, and `interval * misses_down` representable.
    pub fn is_valid(&self) -> bool {
        !self.interval.is_zero()
            && self.misses_suspect >= 1
            && self.misses_down > self.misses_suspect
            && self.interval.checked_mul(self.misses_down).is_some()
    }

    fn after(&self, t: Instant, misses: u32) -> Option<Instant> {
        t.checked_add(self.interval.checked_mul(misses)?)
    }
}

#[derive(Clone, Copy, Debug)]
struct Liveness {
    state: NodeState,
    last_heard: Option<Instant>,
}

/// The failure detector: per-node state and one timer per node that is not Down.
///
/// Bounds: it holds the nodes its owner tracks (the [`super::Monitor`] bounds them by its
/// `max_peers`).
#[derive(Debug)]
pub struct FailureDetector {
    config: DetectorConfig,
    /// foldhash: ids come from the configuration and from authenticated heartbeats.
    nodes: HashMap<NodeId, Liveness, foldhash::fast::FixedState>,
    timers: TimerQueue<NodeId>,
    /// How many of `nodes` are Down ([`FailureDetector::any_down`]).
    down: usize,
}

impl FailureDetector {
    /// A detector with no node. `config` should satisfy [`DetectorConfig::is_valid`]; if it does
    /// not, timers that cannot be computed are simply not armed.
    pub fn new(config: DetectorConfig) -> FailureDetector {
        FailureDetector {
            config,
            nodes: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x6865_616c_7468)),
            timers: TimerQueue::new(),
            down: 0,
        }
    }

    /// The timing in use.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Starts tracking `node` as Down (never heard from); no effect if already tracked.
    pub fn track(&mut self, node: NodeId) {
        if let Entry::Vacant(v) = self.nodes.entry(node) {
            v.insert(Liveness {
                state: NodeState::Down,
                last_heard: None,
            });
            self.down += 1;
        }
    }

    /// Stops tracking `node`; returns whether it was tracked.
    pub fn forget(&mut self, node: NodeId) -> bool {
        self.timers.disarm(&node);
        let gone = self.nodes.remove(&node);
        if gone.is_some_and(|l| l.state == NodeState::Down) {
            self.down -= 1;
        }
        gone.is_some()
    }

    /// Number of tracked nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is tracked.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The state of `node`, if tracked.
    pub fn state(&self, node: NodeId) -> Option<NodeState> {
        self.nodes.get(&node).map(|l| l.state)
    }

    /// Whether any tracked node is Down (in O(1): a count kept with the states), so that a
    /// caller asking whether one node is Down can skip the look-up when none is.
    pub fn any_down(&self) -> bool {
        self.down > 0
    }

    /// When `node` was last heard from.
    pub fn last_heard(&self, node: NodeId) -> Option<Instant> {
        self.nodes.get(&node).and_then(|l| l.last_heard)
    }

    /// Records a heartbeat from `node` at `now` (tracking it if needed): it is Up, and its
    /// suspect timer restarts. Returns the transition if it was not Up.
    pub fn heard(&mut self, now: Instant, node: NodeId) -> Option<Transition> {
        let (l, new) = match self.nodes.entry(node) {
            Entry::Occupied(o) => (o.into_mut(), false),
            Entry::Vacant(v) => {
                let l = v.insert(Liveness {
                    state: NodeState::Down,
                    last_heard: None,
                });
                (l, true)
            }
        };
        let from = l.state;
        if from == NodeState::Down && !new {
            self.down -= 1;
        }
        l.state = NodeState::Up;
        l.last_heard = Some(now);
        match self.config.after(now, self.config.misses_suspect) {
            Some(t) => {
                self.timers.arm(node, t);
            }
            None => {
                self.timers.disarm(&node);
            }
        }
        (from != NodeState::Up).then_some(Transition {
            node,
            from,
            to: NodeState::Up,
        })
    }

    /// The earliest instant at which [`FailureDetector::poll_expired`] has work, in O(1).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The next transition due at `now` (Up to Suspect, Suspect to Down), one at a time; `None`
    /// when nothing more is due.
    pub fn poll_expired(&mut self, now: Instant) -> Option<Transition> {
        while let Some((node, _)) = self.timers.pop_expired(now) {
            let Some(l) = self.nodes.get_mut(&node) else {
                continue;
            };
            let from = l.state;
            match from {
                NodeState::Up => {
                    l.state = NodeState::Suspect;
                    if let Some(t) = l
                        .last_heard
                        .and_then(|h| self.config.after(h, self.config.misses_down))
                    {
                        self.timers.arm(node, t);
                    }
                    return Some(Transition {
                        node,
                        from,
                        to: NodeState::Suspect,
                    });
                }
                NodeState::Suspect => {
                    l.state = NodeState::Down;
                    self.down += 1;
                    return Some(Transition {
                        node,
                        from,
                        to: NodeState::Down,
                    });
                }
                NodeState::Down => continue,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_guard() {
        let mut g = ReplayGuard::new(5, 10);
        assert_eq!(g.accept(5, 11), Ok(Freshness::Fresh));
        assert_eq!(
            g.accept(5, 11),
            Err(ReplayError::StaleSequence {
                incarnation: 5,
                sequence: 11,
                highest: 11
            })
        );
        assert!(g.accept(5, 3).is_err());
        assert_eq!(
            g.accept(4, 100),
            Err(ReplayError::StaleIncarnation {
                incarnation: 4,
                current: 5
            })
        );
        assert_eq!(g.accept(6, 1), Ok(Freshness::Restarted { previous: 5 }));
        assert_eq!((g.incarnation(), g.highest()), (6, 1));
        assert!(g.accept(5, 1000).is_err());
    }

    proptest::proptest! {
        /// `FailureDetector::any_down` (a count kept with the states) says whether any tracked
        /// node is Down, after any interleaving of tracking, forgetting, heartbeats (of tracked
        /// and untracked nodes) and expiries.
        #[test]
        fn any_down_is_whether_a_tracked_node_is_down(
            ops in proptest::collection::vec((0u8..4, 1u32..5, 0u64..4000), 1..80),
        ) {
            let cfg = DetectorConfig {
                interval: Duration::from_secs(1),
                misses_suspect: 2,
                misses_down: 4,
            };
            let mut d = FailureDetector::new(cfg);
            let t0 = Instant::now();
            let mut now = t0;
            for (op, n, ms) in ops {
                let node = NodeId(n);
                match op {
                    0 => d.track(node),
                    1 => {
                        d.forget(node);
                    }
                    2 => {
                        d.heard(now, node);
                    }
                    _ => {
                        now += Duration::from_millis(ms);
                        while d.poll_expired(now).is_some() {}
                    }
                }
                let down = d.nodes.values().any(|l| l.state == NodeState::Down);
                proptest::prop_assert_eq!(d.any_down(), down);
            }
        }
    }

    #[test]
    fn detector_walks_up_suspect_down() {
        let cfg = DetectorConfig {
            interval: Duration::from_secs(1),
            misses_suspect: 2,
            misses_down: 4,
        };
        assert!(cfg.is_valid());
        let mut d = FailureDetector::new(cfg);
        let t0 = Instant::now();
        d.track(NodeId(1));
        assert_eq!(d.state(NodeId(1)), Some(NodeState::Down));
        assert_eq!(d.next_deadline(), None);
        let up = d.heard(t0, NodeId(1));
        assert_eq!(up.map(|t| t.to), Some(NodeState::Up));
        assert_eq!(d.heard(t0 + Duration::from_millis(500), NodeId(1)), None);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(d.next_deadline(), Some(t1 + Duration::from_secs(2)));
        assert_eq!(d.poll_expired(t1 + Duration::from_millis(1999)), None);
        let s = d.poll_expired(t1 + Duration::from_secs(2));
        assert_eq!(
            s.map(|t| (t.from, t.to)),
            Some((NodeState::Up, NodeState::Suspect))
        );
        assert_eq!(d.poll_expired(t1 + Duration::from_secs(3)), None);
        let dn = d.poll_expired(t1 + Duration::from_secs(4));
        assert_eq!(dn.map(|t| t.to), Some(NodeState::Down));
        assert_eq!(d.next_deadline(), None);
        let back = d.heard(t1 + Duration::from_secs(9), NodeId(1));
        assert_eq!(
            back.map(|t| (t.from, t.to)),
            Some((NodeState::Down, NodeState::Up))
        );
        assert!(d.forget(NodeId(1)));
        assert_eq!(d.next_deadline(), None);
        assert!(d.is_empty());
    }

    #[test]
    fn config_validation() {
        let ok = DetectorConfig {
            interval: Duration::from_secs(1),
            misses_suspect: 1,
            misses_down: 2,
        };
        assert!(ok.is_valid());
        assert!(
            !DetectorConfig {
                misses_down: 1,
                ..ok
            }
            .is_valid()
        );
        assert!(
            !DetectorConfig {
                misses_suspect: 0,
                ..ok
            }
            .is_valid()
        );
        assert!(
            !DetectorConfig {
                interval: Duration::ZERO,
                ..ok
            }
            .is_valid()
        );
        assert!(
            !DetectorConfig {
                interval: Duration::MAX,
                ..ok
            }
            .is_valid()
        );
    }
}
