//! One deadline structure per endpoint.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// A deadline as signed nanoseconds from the queue's origin (its first deadline), saturating at
/// about ±292 years, then the arming sequence number: the order in which timers fire. The
/// sequence number is unique, so an order key names one arming of one timer.
type Order = (i64, u64);

/// Bits of a deadline offset below one wheel tick: a tick is 2^20 ns, about 1 ms.
const TICK_SHIFT: u32 = 20;
/// Bits of a tick each wheel level spans: 64 slots, one bit each in a `u64`.
const LEVEL_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << LEVEL_BITS;
/// Levels: 8 x 6 bits of ticks above the 20 bits of a tick cover every non-negative `i64` offset.
const LEVELS: usize = 8;
/// Stale items (of cancelled or re-armed timers) tolerated beyond the live count before the
/// wheel and the heap are swept.
const STALE_SLACK: usize = 4096;

/// An armed timer in the slab.
#[derive(Clone, Debug)]
struct Entry<K> {
    key: K,
    deadline: Instant,
    order: Order,
}

/// Timers keyed by the endpoint's own ids (a tunnel id, a binding key, a session's VID, ...).
///
/// * [`TimerQueue::insert`] arms or re-arms the key's single timer; [`TimerQueue::cancel`] disarms it.
/// * [`TimerQueue::next_deadline`] is O(1): the earliest live deadline is kept beside the queue.
/// * [`TimerQueue::pop_expired`] returns due timers one at a time, earliest first (insertion order
///   among equal deadlines), touching only those: expiring k timers never scans the live ones.
///
/// The armed timers live in a slab indexed by a hash map from their keys, and are ordered by a
/// hierarchical timing wheel (8 levels of 64 slots, ticks of 2^20 ns, about 1 ms): a timer's
/// `(order, slab index)` item sits, in no particular order, in the slot of the level where its
/// tick first differs from the wheel's position. The items whose tick the wheel has reached are
/// in a binary heap, in exact deadline order (then arming order). When the heap empties the wheel
/// moves to its earliest occupied slot and spreads that slot's items over the lower levels or into
/// the heap, reading the slot's list in sequence, so each item moves at most once per level. An
/// expiry is a pop from a heap of about one tick's timers, whatever the number armed;
/// [`TimerQueue::next_deadline`] is the heap's top.
///
/// Cancelling or re-arming a timer takes it out of the slab and the index at once and leaves its
/// item behind as stale (recognised by its order key no longer being its slab entry's), dropped
/// when it reaches the heap's top; when stale items outnumber the live ones (plus 4096) the wheel
/// and the heap are swept, so memory stays proportional to the number of armed timers.
///
/// Deadlines more than about 292 years apart from the first one armed compare as equal (then in
/// arming order).
pub struct TimerQueue<K> {
    index: HashMap<K, u32>,
    slab: Vec<Option<Entry<K>>>,
    free: Vec<u32>,
    /// `LEVELS x SLOTS` lists of items.
    wheel: Vec<Vec<(Order, u32)>>,
    /// Per level, a bit per non-empty slot.
    occupied: [u64; LEVELS],
    /// The wheel's position in ticks: every item in the wheel has a later tick.
    pos: u64,
    /// The items whose tick is at or before `pos`, earliest on top.
    ready: BinaryHeap<Reverse<(Order, u32)>>,
    /// Items in the wheel and the heap whose timer was cancelled or re-armed.
    stale: usize,
    /// The deadline the order keys' offsets count from: the first deadline armed since the queue
    /// was created or cleared.
    origin: Option<Instant>,
    /// The earliest armed deadline (the heap's top), for [`TimerQueue::next_deadline`].
    first: Option<Instant>,
    next_seq: u64,
}

impl<K: Clone + Eq + Hash> Default for TimerQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// The wheel tick of an order key (a negative offset is tick 0).
fn tick_of((off, _): Order) -> u64 {
    u64::try_from(off).unwrap_or(0) >> TICK_SHIFT
}

impl<K: Clone + Eq + Hash> TimerQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` timers in its key index.
    pub fn with_capacity(n: usize) -> Self {
        TimerQueue {
            index: HashMap::with_capacity(n),
            slab: Vec::with_capacity(n),
            free: Vec::new(),
            wheel: vec![Vec::new(); LEVELS * SLOTS],
            occupied: [0; LEVELS],
            pos: 0,
            ready: BinaryHeap::new(),
            stale: 0,
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

    /// Arms `key` to fire at `deadline`, replacing its previous deadline if it had one (returned).
    pub fn insert(&mut self, key: K, deadline: Instant) -> Option<Instant> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let order = self.order_of(deadline, seq);
        let entry = Entry {
            key: key.clone(),
            deadline,
            order,
        };
        let (i, old) = match self.index.get(&key).copied() {
            // Re-armed in place: the old item goes stale.
            Some(i) => {
                let old = self.slab.get_mut(i as usize).and_then(|s| s.replace(entry));
                self.stale += 1;
                (i, old.map(|e| e.deadline))
            }
            None => {
                let i = match self.free.pop() {
                    Some(i) => {
                        if let Some(s) = self.slab.get_mut(i as usize) {
                            *s = Some(entry);
                        }
                        i
                    }
                    None => {
                        self.slab.push(Some(entry));
                        u32::try_from(self.slab.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                self.index.insert(key, i);
                (i, None)
            }
        };
        self.place((order, i));
        self.settle();
        old
    }

    /// Puts an item where it belongs: the heap when the wheel has reached its tick, else the
    /// slot of the level where its tick first differs from the wheel's position.
    fn place(&mut self, item: (Order, u32)) {
        let tick = tick_of(item.0);
        if tick <= self.pos {
            self.ready.push(Reverse(item));
            return;
        }
        let level = ((63 - (tick ^ self.pos).leading_zeros()) / LEVEL_BITS) as usize;
        let index = ((tick >> (LEVEL_BITS * level as u32)) as usize) & (SLOTS - 1);
        if let Some(list) = self.wheel.get_mut(level * SLOTS + index) {
            list.push(item);
            self.occupied[level] |= 1 << index;
        }
    }

    /// Whether an item is its timer's current arming.
    fn is_live(&self, (order, i): (Order, u32)) -> bool {
        matches!(self.slab.get(i as usize), Some(Some(e)) if e.order == order)
    }

    /// Restores the invariants after a change: the heap's top is live, the heap holds an item
    /// whenever a timer is armed (the wheel advanced to its earliest slot), stale items are
    /// bounded, and `first` is the top's deadline.
    fn settle(&mut self) {
        loop {
            while let Some(&Reverse(item)) = self.ready.peek() {
                if self.is_live(item) {
                    break;
                }
                self.ready.pop();
                self.stale = self.stale.saturating_sub(1);
            }
            if !self.ready.is_empty() || self.index.is_empty() || !self.advance() {
                break;
            }
        }
        // Nothing armed: whatever is left is stale.
        if self.stale > 0 && (self.index.is_empty() || self.stale > self.index.len() + STALE_SLACK)
        {
            self.sweep();
        }
        self.first = match self.ready.peek() {
            Some(&Reverse((_, i))) => self
                .slab
                .get(i as usize)
                .and_then(|e| e.as_ref().map(|e| e.deadline)),
            None => None,
        };
    }

    /// Drops every stale item from the wheel and the heap.
    fn sweep(&mut self) {
        let mut wheel = std::mem::take(&mut self.wheel);
        for (slot, list) in wheel.iter_mut().enumerate() {
            if list.is_empty() {
                continue;
            }
            list.retain(|&item| self.is_live(item));
            if list.is_empty() {
                self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
            }
        }
        self.wheel = wheel;
        let mut ready = std::mem::take(&mut self.ready).into_vec();
        ready.retain(|&Reverse(item)| self.is_live(item));
        self.ready = BinaryHeap::from(ready);
        self.stale = 0;
    }

    /// Moves the wheel to its earliest occupied slot and spreads that slot's items below it;
    /// `false` when the wheel is empty.
    fn advance(&mut self) -> bool {
        for level in 0..LEVELS {
            let shift = LEVEL_BITS * level as u32;
            // Every item at this level is in a slot after the position's own.
            let here = ((self.pos >> shift) as usize) & (SLOTS - 1);
            let later = self.occupied[level] & (u64::MAX << here);
            if later == 0 {
                continue;
            }
            let index = u64::from(later.trailing_zeros());
            // The slot's first tick: the position's higher digits, this slot, zeros below.
            let above = shift + LEVEL_BITS;
            let high = (self.pos >> above) << above;
            self.pos = self.pos.max(high | (index << shift));
            let slot = level * SLOTS + index as usize;
            self.occupied[level] &= !(1 << index);
            let mut list = self
                .wheel
                .get_mut(slot)
                .map(std::mem::take)
                .unwrap_or_default();
            for &item in &list {
                self.place(item);
            }
            // The slot keeps its list's capacity.
            list.clear();
            if let Some(l) = self.wheel.get_mut(slot) {
                *l = list;
            }
            return true;
        }
        false
    }

    /// Disarms `key`, returning the deadline it had.
    pub fn cancel(&mut self, key: &K) -> Option<Instant> {
        let i = self.index.remove(key)?;
        let e = self.slab.get_mut(i as usize)?.take()?;
        self.free.push(i);
        self.stale += 1;
        self.settle();
        Some(e.deadline)
    }

    /// The deadline armed for `key`.
    pub fn deadline(&self, key: &K) -> Option<Instant> {
        let i = *self.index.get(key)?;
        self.slab.get(i as usize)?.as_ref().map(|e| e.deadline)
    }

    /// Whether `key` has a timer armed.
    pub fn contains(&self, key: &K) -> bool {
        self.index.contains_key(key)
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
        let Reverse((_, i)) = self.ready.pop()?;
        let e = self.slab.get_mut(i as usize)?.take()?;
        self.free.push(i);
        self.index.remove(&e.key);
        self.settle();
        Some((e.key, e.deadline))
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Disarms everything.
    pub fn clear(&mut self) {
        self.index.clear();
        self.slab.clear();
        self.free.clear();
        for l in &mut self.wheel {
            l.clear();
        }
        self.occupied = [0; LEVELS];
        self.pos = 0;
        self.ready.clear();
        self.stale = 0;
        self.origin = None;
        self.first = None;
    }

    /// Items held in the wheel and the heap, live or stale (for the tests' memory bound).
    #[cfg(test)]
    fn items(&self) -> usize {
        self.wheel.iter().map(Vec::len).sum::<usize>() + self.ready.len()
    }
}

impl<K> std::fmt::Debug for TimerQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerQueue")
            .field("live", &self.index.len())
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
            // Far deadlines (up to 65 s, in the wheel's higher levels).
            (any::<u8>(), any::<u16>()).prop_map(|(k, d)| Op::Insert(k % 32, d)),
            any::<u8>().prop_map(|k| Op::Cancel(k % 32)),
            any::<u16>().prop_map(|d| Op::Advance(d % 300)),
            any::<u16>().prop_map(Op::Advance),
        ]
    }

    proptest! {
        /// The queue behaves like a reference model (a `BTreeMap` of the armed timers scanned for
        /// its minimum): the same deadlines returned by `insert` and `cancel`, the same timers
        /// expired in deadline order (arming order among equal deadlines), the same earliest
        /// deadline; and it holds at most twice the live items plus the sweep's slack.
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
                prop_assert!(q.items() <= 2 * q.len() + STALE_SLACK + 1);
                prop_assert_eq!(q.slab.iter().flatten().count(), q.len());
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
        assert!(q.items() <= 2 * q.len() + STALE_SLACK + 1);
        assert_eq!(q.len(), 1_000_000);
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
