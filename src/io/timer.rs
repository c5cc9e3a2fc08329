//! One deadline structure per endpoint.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Instant;

struct HeapEntry<K> {
    deadline: Instant,
    seq: u64,
    key: K,
}

impl<K> PartialEq for HeapEntry<K> {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline && self.seq == other.seq
    }
}
impl<K> Eq for HeapEntry<K> {}
impl<K> PartialOrd for HeapEntry<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for HeapEntry<K> {
    // Reversed so that `BinaryHeap` (a max-heap) yields the earliest deadline first; among equal
    // deadlines the earlier insertion fires first, which keeps expiry order deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .deadline
            .cmp(&self.deadline)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Timers keyed by the endpoint's own ids (a tunnel id, a binding key, a session's VID, ...).
///
/// * [`TimerQueue::insert`] arms or re-arms the key's single timer; [`TimerQueue::cancel`] disarms it.
/// * [`TimerQueue::next_deadline`] is O(1): the earliest live deadline is always at the top.
/// * [`TimerQueue::pop_expired`] returns due timers one at a time, earliest first (insertion order
///   among equal deadlines), in O(log n) each: expiring k timers touches only those k, never the
///   live ones.
///
/// Cancelled and re-armed entries are removed lazily; the heap is rebuilt from the live set when
/// stale entries outnumber live ones, so memory stays proportional to the number of live timers.
pub struct TimerQueue<K> {
    heap: BinaryHeap<HeapEntry<K>>,
    live: HashMap<K, (Instant, u64)>,
    next_seq: u64,
}

impl<K: Clone + Eq + Hash> Default for TimerQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Clone + Eq + Hash> TimerQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            live: HashMap::new(),
            next_seq: 0,
        }
    }

    /// An empty queue with room for `n` timers.
    pub fn with_capacity(n: usize) -> Self {
        TimerQueue {
            heap: BinaryHeap::with_capacity(n),
            live: HashMap::with_capacity(n),
            next_seq: 0,
        }
    }

    /// Arms `key` to fire at `deadline`, replacing its previous deadline if it had one (returned).
    pub fn insert(&mut self, key: K, deadline: Instant) -> Option<Instant> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let old = self
            .live
            .insert(key.clone(), (deadline, seq))
            .map(|(d, _)| d);
        self.heap.push(HeapEntry { deadline, seq, key });
        if old.is_some() {
            self.settle();
        }
        old
    }

    /// Disarms `key`, returning the deadline it had.
    pub fn cancel(&mut self, key: &K) -> Option<Instant> {
        let old = self.live.remove(key).map(|(d, _)| d);
        if old.is_some() {
            self.settle();
        }
        old
    }

    /// The deadline armed for `key`.
    pub fn deadline(&self, key: &K) -> Option<Instant> {
        self.live.get(key).map(|&(d, _)| d)
    }

    /// Whether `key` has a timer armed.
    pub fn contains(&self, key: &K) -> bool {
        self.live.contains_key(key)
    }

    /// The earliest armed deadline, in O(1).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.deadline)
    }

    /// Removes and returns the earliest timer if it is due at `now` (deadline `<= now`).
    pub fn pop_expired(&mut self, now: Instant) -> Option<(K, Instant)> {
        let top = self.heap.peek()?;
        if top.deadline > now {
            return None;
        }
        let e = self.heap.pop()?;
        self.live.remove(&e.key);
        self.settle();
        Some((e.key, e.deadline))
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Disarms everything.
    pub fn clear(&mut self) {
        self.heap.clear();
        self.live.clear();
    }

    /// Restores the invariant that the heap's top is live, and bounds the stale entries.
    fn settle(&mut self) {
        if self.heap.len() > 2 * self.live.len() + 64 {
            let live = &self.live;
            let mut entries: Vec<HeapEntry<K>> = std::mem::take(&mut self.heap).into_vec();
            entries.retain(|e| live.get(&e.key).is_some_and(|&(_, s)| s == e.seq));
            self.heap = BinaryHeap::from(entries);
        }
        while let Some(top) = self.heap.peek() {
            match self.live.get(&top.key) {
                Some(&(_, seq)) if seq == top.seq => break,
                _ => {
                    self.heap.pop();
                }
            }
        }
    }
}

impl<K> std::fmt::Debug for TimerQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerQueue")
            .field("live", &self.live.len())
            .field("heap", &self.heap.len())
            .field("next", &self.heap.peek().map(|e| e.deadline))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u16),
        Cancel(u8),
        Advance(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u16>()).prop_map(|(k, d)| Op::Insert(k % 32, d % 500)),
            any::<u8>().prop_map(|k| Op::Cancel(k % 32)),
            any::<u16>().prop_map(|d| Op::Advance(d % 300)),
        ]
    }

    proptest! {
        /// The queue behaves like a naive map scanned for its minimum.
        #[test]
        fn matches_naive_model(ops in proptest::collection::vec(op(), 0..400)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut q = TimerQueue::new();
            // key -> (deadline, insertion seq)
            let mut model: BTreeMap<u8, (Instant, u64)> = BTreeMap::new();
            let mut seq = 0u64;
            for op in ops {
                match op {
                    Op::Insert(k, d) => {
                        let dl = now + Duration::from_millis(u64::from(d));
                        let old = q.insert(k, dl);
                        prop_assert_eq!(old, model.insert(k, (dl, seq)).map(|x| x.0));
                        seq += 1;
                    }
                    Op::Cancel(k) => {
                        prop_assert_eq!(q.cancel(&k), model.remove(&k).map(|x| x.0));
                    }
                    Op::Advance(d) => {
                        now += Duration::from_millis(u64::from(d));
                        let mut fired = Vec::new();
                        while let Some((k, dl)) = q.pop_expired(now) {
                            fired.push((dl, k));
                        }
                        let mut expect: Vec<(Instant, u64, u8)> = model
                            .iter()
                            .filter(|(_, (dl, _))| *dl <= now)
                            .map(|(k, (dl, s))| (*dl, *s, *k))
                            .collect();
                        expect.sort();
                        for (_, _, k) in &expect {
                            model.remove(k);
                        }
                        let expect: Vec<(Instant, u8)> =
                            expect.into_iter().map(|(d, _, k)| (d, k)).collect();
                        prop_assert_eq!(fired, expect);
                    }
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.next_deadline(), model.values().map(|x| x.0).min());
                prop_assert!(q.heap.len() <= 2 * q.live.len() + 65);
            }
        }
    }

    #[test]
    fn holds_a_million_and_expires_only_the_due() {
        let t0 = Instant::now();
        let mut q = TimerQueue::with_capacity(1_000_000);
        for i in 0..1_000_000u32 {
            q.insert(i, t0 + Duration::from_millis(u64::from(i % 1000) + 1));
        }
        assert_eq!(q.len(), 1_000_000);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(1)));
        let mut n = 0;
        while q.pop_expired(t0 + Duration::from_millis(10)).is_some() {
            n += 1;
        }
        assert_eq!(n, 10_000);
        assert_eq!(q.len(), 990_000);
        // Rescheduling everything keeps memory bounded by the live count.
        for i in 0..1_000_000u32 {
            q.insert(i, t0 + Duration::from_secs(5));
        }
        assert!(q.heap.len() <= 2 * q.len() + 65);
    }
}
