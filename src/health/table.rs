//! The load table and its selection policies.
//!
//! Each entry is a node's last reported [`Load`] and whether the failure detector considers it
//! available (Up). [`LoadTable::select`] picks among the *eligible* entries: available, not
//! overloaded (`percent >= overload_percent`, or `used >= capacity`), and accepted by the caller's
//! filter. Entries are visited in ascending [`NodeId`] order, so with the same table, seed and
//! calls the choices are the same.
//!
//! * [`Policy::LeastLoaded`]: the lowest `percent`; ties are broken uniformly at random with the
//!   caller's [`Rng`].
//! * [`Policy::WeightedSpare`]: random, with probability proportional to spare capacity
//!   (`capacity - used`).
//! * [`Policy::RoundRobin`]: the eligible node with the smallest id above the previous pick,
//!   wrapping around (no randomness).
//! * [`Policy::MostSpare`]: the most spare capacity (`capacity - used`); ties: the lower
//!   percentage, then the lower key (no randomness). The contact LNS's pool rule
//!   (`l2tp::pool`), applied by [`most_spare`] to any candidates.
//!
//! The key is a [`NodeId`] for the table of a [`super::Monitor`]; a table fed without heartbeats
//! may be keyed by anything ordered (the contact LNS's pool keys it by address).
//!
//! Bound: the table holds at most `max_entries` nodes; [`LoadTable::set`] refuses a new node
//! beyond that and keeps the existing entries.

use super::{Load, NodeId, NodeState};
use crate::Rng;
use std::collections::BTreeMap;

/// How to choose among eligible nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// The lowest load percentage; ties broken at random (seeded).
    LeastLoaded,
    /// At random, weighted by spare capacity.
    WeightedSpare,
    /// Each eligible node in turn, by ascending id.
    RoundRobin,
    /// The most spare capacity; ties: the lower percentage, then the lower key.
    MostSpare,
}

/// The table is full: `node` was not added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("load table full ({max} entries): {node} not added")]
pub struct TableFull<K: std::fmt::Display = NodeId> {
    /// The refused node.
    pub node: K,
    /// The table's bound.
    pub max: usize,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    load: Load,
    state: NodeState,
}

/// Nodes' loads and liveness, with selection policies. See the module docs.
#[derive(Clone, Debug)]
pub struct LoadTable<K = NodeId> {
    entries: BTreeMap<K, Entry>,
    overload_percent: u8,
    max_entries: usize,
    cursor: Option<K>,
}

/// Among `candidates` (key and load), the one with the most spare capacity; ties: the lower
/// percentage, then the lower key ([`Policy::MostSpare`]).
pub fn most_spare<K: Ord + Copy>(candidates: impl Iterator<Item = (K, Load)>) -> Option<K> {
    candidates
        .max_by(|(ka, a), (kb, b)| {
            a.spare()
                .cmp(&b.spare())
                .then(b.percent.cmp(&a.percent))
                .then(kb.cmp(ka))
        })
        .map(|(k, _)| k)
}

impl<K: Ord + Copy + std::fmt::Display> LoadTable<K> {
    /// An empty table: a node is overloaded at `overload_percent` or above; at most
    /// `max_entries` nodes.
    pub fn new(overload_percent: u8, max_entries: usize) -> LoadTable<K> {
        LoadTable {
            entries: BTreeMap::new(),
            overload_percent,
            max_entries,
            cursor: None,
        }
    }

    /// Whether `load` counts as overloaded in this table.
    pub fn is_overloaded(&self, load: &Load) -> bool {
        load.percent >= self.overload_percent || load.used >= load.capacity
    }

    /// The overload threshold (percent).
    pub fn overload_percent(&self) -> u8 {
        self.overload_percent
    }

    /// Records `node`'s load. A new node starts Down. Refused when the table is full.
    pub fn set(&mut self, node: K, load: Load) -> Result<(), TableFull<K>> {
        if let Some(e) = self.entries.get_mut(&node) {
            e.load = load;
            return Ok(());
        }
        if self.entries.len() >= self.max_entries {
            return Err(TableFull {
                node,
                max: self.max_entries,
            });
        }
        self.entries.insert(
            node,
            Entry {
                load,
                state: NodeState::Down,
            },
        );
        Ok(())
    }

    /// Marks `node` available (Up) or not (Down); no effect on an unknown node.
    pub fn set_available(&mut self, node: K, available: bool) {
        let state = if available {
            NodeState::Up
        } else {
            NodeState::Down
        };
        self.set_state(node, state);
    }

    /// Sets `node`'s liveness (only Up is selectable); no effect on an unknown node.
    pub fn set_state(&mut self, node: K, state: NodeState) {
        if let Some(e) = self.entries.get_mut(&node) {
            e.state = state;
        }
    }

    /// Counts one more unit of work given to `node` (`used + 1`, at most `capacity`), until its
    /// next report corrects it; no effect on an unknown node.
    pub fn note_assigned(&mut self, node: K) {
        if let Some(e) = self.entries.get_mut(&node) {
            e.load.used = e.load.used.saturating_add(1).min(e.load.capacity);
        }
    }

    /// [`most_spare`] among the eligible entries `allowed` accepts, then
    /// [`LoadTable::note_assigned`] of the one chosen, in one pass over the table (the contact
    /// LNS's redirect decision without heartbeat peers: no second search for the entry to
    /// count against: one pass per redirected call). The same choice and the same table after as the two
    /// calls.
    pub(crate) fn assign_most_spare(&mut self, allowed: impl Fn(K) -> bool) -> Option<K> {
        let overload = self.overload_percent;
        let mut best: Option<(K, &mut Entry)> = None;
        for (&k, e) in self.entries.iter_mut() {
            let eligible = e.state == NodeState::Up
                && !(e.load.percent >= overload || e.load.used >= e.load.capacity);
            if !eligible || !allowed(k) {
                continue;
            }
            // `Iterator::max_by` keeps the later of two equal: the candidate replaces the best
            // unless the best compares greater (the order `most_spare` gives).
            let keep = best.as_ref().is_some_and(|(bk, b)| {
                b.load
                    .spare()
                    .cmp(&e.load.spare())
                    .then(e.load.percent.cmp(&b.load.percent))
                    .then(k.cmp(bk))
                    == std::cmp::Ordering::Greater
            });
            if !keep {
                best = Some((k, e));
            }
        }
        let (k, e) = best?;
        e.load.used = e.load.used.saturating_add(1).min(e.load.capacity);
        Some(k)
    }

    /// Removes `node`; returns whether it was present.
    pub fn remove(&mut self, node: K) -> bool {
        self.entries.remove(&node).is_some()
    }

    /// The last load recorded for `node`.
    pub fn load(&self, node: K) -> Option<Load> {
        self.entries.get(&node).map(|e| e.load)
    }

    /// The liveness recorded for `node`.
    pub fn state(&self, node: K) -> Option<NodeState> {
        self.entries.get(&node).map(|e| e.state)
    }

    /// Every entry (key, liveness, load), by ascending key.
    pub fn entries(&self) -> impl Iterator<Item = (K, NodeState, Load)> + '_ {
        self.entries.iter().map(|(&k, e)| (k, e.state, e.load))
    }

    /// The eligible entries (Up, not overloaded), by ascending key.
    pub fn eligible(&self) -> impl Iterator<Item = (K, Load)> + '_ {
        self.entries
            .iter()
            .filter(|(_, e)| e.state == NodeState::Up && !self.is_overloaded(&e.load))
            .map(|(&k, e)| (k, e.load))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `node` is available and not overloaded (before any caller filter).
    pub fn is_eligible(&self, node: K) -> bool {
        self.entries
            .get(&node)
            .is_some_and(|e| e.state == NodeState::Up && !self.is_overloaded(&e.load))
    }

    /// Chooses an eligible node accepted by `filter` under `policy`, or `None` if there is none.
    /// Deterministic given the table, `rng`'s state and the sequence of calls.
    pub fn select(
        &mut self,
        policy: Policy,
        rng: &mut Rng,
        mut filter: impl FnMut(K) -> bool,
    ) -> Option<K> {
        let overload = self.overload_percent;
        let eligible = self.entries.iter().filter_map(move |(&id, e)| {
            (e.state == NodeState::Up && e.load.percent < overload && e.load.used < e.load.capacity)
                .then_some((id, e.load))
        });
        let chosen = match policy {
            Policy::MostSpare => most_spare(eligible.filter(|(id, _)| filter(*id))),
            Policy::LeastLoaded => {
                // Single pass, reservoir sampling among the nodes at the lowest percentage.
                let mut best: Option<(K, u8)> = None;
                let mut ties = 0u64;
                for (id, load) in eligible {
                    if !filter(id) {
                        continue;
                    }
                    match best {
                        Some((_, p)) if load.percent > p => {}
                        Some((_, p)) if load.percent == p => {
                            ties += 1;
                            if rng.below(ties) == 0 {
                                best = Some((id, p));
                            }
                        }
                        _ => {
                            best = Some((id, load.percent));
                            ties = 1;
                        }
                    }
                }
                best.map(|(id, _)| id)
            }
            Policy::WeightedSpare => {
                // Single pass weighted reservoir: keep each node with probability weight / total.
                let mut pick = None;
                let mut total = 0u64;
                for (id, load) in eligible {
                    if !filter(id) {
                        continue;
                    }
                    let w = u64::from(load.spare());
                    if w == 0 {
                        continue;
                    }
                    total += w;
                    if rng.below(total) < w {
                        pick = Some(id);
                    }
                }
                pick
            }
            Policy::RoundRobin => {
                let cursor = self.cursor;
                let mut first = None;
                let mut next = None;
                for (id, _) in eligible {
                    if !filter(id) {
                        continue;
                    }
                    if first.is_none() {
                        first = Some(id);
                    }
                    if cursor.is_none_or(|c| id > c) {
                        next = Some(id);
                        break;
                    }
                }
                next.or(first)
            }
        };
        if policy == Policy::RoundRobin && chosen.is_some() {
            self.cursor = chosen;
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> LoadTable {
        let mut t = LoadTable::new(90, 16);
        for (id, used) in [(1, 50), (2, 10), (3, 10), (4, 95), (5, 0)] {
            t.set(NodeId(id), Load::new(used, 100)).unwrap();
            t.set_available(NodeId(id), true);
        }
        t.set_available(NodeId(5), false);
        t
    }

    #[test]
    fn least_loaded_breaks_ties_with_rng() {
        let mut t = table();
        let mut rng = Rng::seed_from_u64(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let p = t.select(Policy::LeastLoaded, &mut rng, |_| true).unwrap();
            assert!(p == NodeId(2) || p == NodeId(3));
            seen.insert(p);
        }
        assert_eq!(seen.len(), 2);
        assert_eq!(
            t.select(Policy::LeastLoaded, &mut rng, |n| n != NodeId(2)
                && n != NodeId(3)),
            Some(NodeId(1))
        );
    }

    #[test]
    fn round_robin_cycles_eligible() {
        let mut t = table();
        let mut rng = Rng::seed_from_u64(1);
        let picks: Vec<_> = (0..6)
            .map(|_| t.select(Policy::RoundRobin, &mut rng, |_| true).unwrap().0)
            .collect();
        assert_eq!(picks, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn weighted_spare_follows_spare() {
        let mut t = LoadTable::new(100, 4);
        t.set(
            NodeId(1),
            Load {
                used: 0,
                capacity: 900,
                percent: 0,
            },
        )
        .unwrap();
        t.set(
            NodeId(2),
            Load {
                used: 0,
                capacity: 100,
                percent: 0,
            },
        )
        .unwrap();
        t.set_available(NodeId(1), true);
        t.set_available(NodeId(2), true);
        let mut rng = Rng::seed_from_u64(7);
        let ones = (0..1000)
            .filter(|_| t.select(Policy::WeightedSpare, &mut rng, |_| true) == Some(NodeId(1)))
            .count();
        assert!((850..950).contains(&ones), "{ones}");
    }

    /// Module docs: `MostSpare` takes the most spare capacity; ties go to the lower percentage,
    /// then the lower key; only eligible entries count; a table may be keyed by address.
    #[test]
    fn most_spare_ties_by_percent_then_key() {
        let mut t: LoadTable<std::net::IpAddr> = LoadTable::new(90, 8);
        let ip = |n: u8| std::net::IpAddr::from([10, 0, 0, n]);
        for (n, used, percent) in [(3, 10, 20), (2, 10, 20), (1, 10, 40), (4, 0, 95)] {
            t.set(
                ip(n),
                Load {
                    used,
                    capacity: 100,
                    percent,
                },
            )
            .unwrap();
            t.set_state(ip(n), NodeState::Up);
        }
        let mut rng = Rng::seed_from_u64(1);
        assert_eq!(t.select(Policy::MostSpare, &mut rng, |_| true), Some(ip(2)));
        t.set_state(ip(2), NodeState::Suspect);
        assert_eq!(t.select(Policy::MostSpare, &mut rng, |_| true), Some(ip(3)));
        t.note_assigned(ip(3));
        assert_eq!(t.select(Policy::MostSpare, &mut rng, |_| true), Some(ip(1)));
    }

    #[test]
    fn bounded() {
        let mut t = LoadTable::new(90, 1);
        t.set(NodeId(1), Load::default()).unwrap();
        assert_eq!(
            t.set(NodeId(2), Load::default()),
            Err(TableFull {
                node: NodeId(2),
                max: 1
            })
        );
        assert_eq!(t.len(), 1);
    }
}
