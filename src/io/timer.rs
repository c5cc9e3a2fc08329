//! One deadline structure per endpoint.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// A deadline as signed nanoseconds from the queue's origin (its first deadline), saturating at
/// about ±292 years, then the arming sequence number: the order in which timers fire.
type Order = (i64, u64);

/// Timers keyed by the endpoint's own ids (a tunnel id, a binding key, a session's VID, ...).
///
/// * [`TimerQueue::insert`] arms or re-arms the key's single timer; [`TimerQueue::cancel`] disarms it.
/// * [`TimerQueue::next_deadline`] is O(1): the earliest live deadline is kept beside the queue.
/// * [`TimerQueue::pop_expired`] returns due timers one at a time, earliest first (insertion order
///   among equal deadlines), touching only those: expiring k timers never scans the live ones.
///
/// The armed timers are kept in deadline order in a B-tree and by key in a hash map; a cancelled
/// or re-armed timer leaves both at once, so memory is proportional to the number of armed
/// timers. Expiry takes the tree's first entry, whose path stays in cache from one expiry to the
/// next, so its cost grows little with the number of armed timers (where the binary heap this
/// replaced walked a cache-cold path of log2(n) entries per expiry).
///
/// Deadlines more than about 292 years apart from the first one armed compare as equal (then in
/// arming order).
pub struct TimerQueue<K> {
    order: BTreeMap<Order, K>,
    live: HashMap<K, (Instant, u64)>,
    /// The deadline `order`'s offsets count from: the first deadline armed since the queue was
    /// created or cleared.
    origin: Option<Instant>,
    /// The earliest armed deadline (`order`'s first entry), for [`TimerQueue::next_deadline`].
    first: Option<Instant>,
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
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` timers in its key index.
    pub fn with_capacity(n: usize) -> Self {
        TimerQueue {
            order: BTreeMap::new(),
            live: HashMap::with_capacity(n),
            origin: None,
            first: None,
            next_seq: 0,
        }
    }

    /// The order key of a timer armed at `deadline` with `seq`: a signed nanosecond offset from
    /// the origin (which the first deadline armed sets).
    fn order_of(&mut self, deadline: Instant, seq: u64) -> Order {
        let origin = *self.origin.get_or_insert(deadline);
        let sat = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
        let off = match deadline.checked_duration_since(origin) {
            Some(after) => sat(after.as_nanos()),
            None => -sat(origin.duration_since(deadline).as_nanos()),
        };
        (off, seq)
    }

    /// The deadline an order key stands for: exact unless the offset saturated (then read from
    /// the key index).
    fn deadline_of(&self, (off, _): Order, key: &K) -> Option<Instant> {
        let exact = off.checked_abs().filter(|a| *a < i64::MAX);
        match (self.origin, exact) {
            (Some(o), Some(a)) => {
                let d = std::time::Duration::from_nanos(a.unsigned_abs());
                if off >= 0 {
                    o.checked_add(d)
                } else {
                    o.checked_sub(d)
                }
            }
            _ => self.live.get(key).map(|&(d, _)| d),
        }
    }

    /// Arms `key` to fire at `deadline`, replacing its previous deadline if it had one (returned).
    pub fn insert(&mut self, key: K, deadline: Instant) -> Option<Instant> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let at = self.order_of(deadline, seq);
        let old = self.live.insert(key.clone(), (deadline, seq));
        if let Some((d, s)) = old {
            let o = self.order_of(d, s);
            self.order.remove(&o);
        }
        self.order.insert(at, key);
        self.refresh_first();
        old.map(|(d, _)| d)
    }

    /// Disarms `key`, returning the deadline it had.
    pub fn cancel(&mut self, key: &K) -> Option<Instant> {
        let (d, s) = self.live.remove(key)?;
        let o = self.order_of(d, s);
        self.order.remove(&o);
        self.refresh_first();
        Some(d)
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
        self.first
    }

    /// Removes and returns the earliest timer if it is due at `now` (deadline `<= now`).
    pub fn pop_expired(&mut self, now: Instant) -> Option<(K, Instant)> {
        if self.first? > now {
            return None;
        }
        let (_, key) = self.order.pop_first()?;
        let deadline = self.live.remove(&key).map(|(d, _)| d);
        self.refresh_first();
        Some((key, deadline?))
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
        self.order.clear();
        self.live.clear();
        self.origin = None;
        self.first = None;
    }

    /// Sets `first` from the tree's first entry.
    fn refresh_first(&mut self) {
        self.first = self
            .order
            .first_key_value()
            .and_then(|(&o, k)| self.deadline_of(o, k));
    }
}

impl<K> std::fmt::Debug for TimerQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerQueue")
            .field("live", &self.live.len())
            .field("next", &self.first)
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
                prop_assert_eq!(q.order.len(), q.live.len());
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
        assert_eq!(q.order.len(), q.len());
    }
}

#[cfg(test)]
mod far_deadlines {
    use super::*;
    use std::time::Duration;

    /// A deadline centuries away saturates its order key, yet its deadline reads back exactly
    /// and every armed timer still fires once.
    #[test]
    fn saturated_offsets_keep_exact_deadlines() {
        let t0 = Instant::now();
        let Some(far) = t0.checked_add(Duration::from_secs(400 * 365 * 86_400)) else {
            return;
        };
        let mut q = TimerQueue::new();
        q.insert(1u8, far);
        q.insert(2u8, t0);
        assert_eq!(q.next_deadline(), Some(t0));
        assert_eq!(q.pop_expired(t0), Some((2, t0)));
        assert_eq!(q.next_deadline(), Some(far));
        assert_eq!(q.pop_expired(t0), None);
        assert_eq!(q.pop_expired(far), Some((1, far)));
        assert!(q.is_empty());
    }
}
