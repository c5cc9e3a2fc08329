//! One deadline structure per endpoint.

use std::cmp::{Ordering, Reverse};
use std::collections::hash_map::Entry;
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
/// wheel and the heap are rebuilt from the armed timers.
const STALE_SLACK: usize = 4096;

/// An armed timer, as the key index holds it: its deadline and its arming's sequence number.
#[derive(Clone, Copy, Debug)]
struct Armed {
    deadline: Instant,
    seq: u64,
}

/// One arming of a key's timer in the wheel or the heap, ordered by its order key alone (unique).
#[derive(Clone, Debug)]
struct Item<K> {
    order: Order,
    key: K,
}

impl<K> PartialEq for Item<K> {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl<K> Eq for Item<K> {}

impl<K> PartialOrd for Item<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Item<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order.cmp(&other.order)
    }
}

/// The hierarchical timing wheel and the heap of the items it has reached.
struct Wheel<K> {
    /// `LEVELS x SLOTS` lists of items.
    slots: Vec<Vec<Item<K>>>,
    /// Per level, a bit per non-empty slot.
    occupied: [u64; LEVELS],
    /// The wheel's position in ticks: every item in the wheel has a later tick.
    pos: u64,
    /// The items whose tick is at or before `pos`, earliest on top.
    ready: BinaryHeap<Reverse<Item<K>>>,
}

/// The wheel tick of an order key (a negative offset is tick 0).
fn tick_of((off, _): Order) -> u64 {
    u64::try_from(off).unwrap_or(0) >> TICK_SHIFT
}

/// The order key of a timer armed at `deadline` with `seq`: a signed, saturating nanosecond
/// offset from `origin`.
fn order_of(origin: Instant, deadline: Instant, seq: u64) -> Order {
    let sat = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
    let off = match deadline.checked_duration_since(origin) {
        Some(after) => sat(after.as_nanos()),
        None => -sat(origin.duration_since(deadline).as_nanos()),
    };
    (off, seq)
}

impl<K> Wheel<K> {
    fn new() -> Self {
        Wheel {
            slots: std::iter::repeat_with(Vec::new)
                .take(LEVELS * SLOTS)
                .collect(),
            occupied: [0; LEVELS],
            pos: 0,
            ready: BinaryHeap::new(),
        }
    }

    /// Puts an item where it belongs: the heap when the wheel has reached its tick, else the
    /// slot of the level where its tick first differs from the wheel's position.
    fn place(&mut self, item: Item<K>) {
        let tick = tick_of(item.order);
        if tick <= self.pos {
            self.ready.push(Reverse(item));
            return;
        }
        let level = ((63 - (tick ^ self.pos).leading_zeros()) / LEVEL_BITS) as usize;
        let index = ((tick >> (LEVEL_BITS * level as u32)) as usize) & (SLOTS - 1);
        if let Some(list) = self.slots.get_mut(level * SLOTS + index) {
            list.push(item);
            self.occupied[level] |= 1 << index;
        }
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
                .slots
                .get_mut(slot)
                .map(std::mem::take)
                .unwrap_or_default();
            for item in list.drain(..) {
                self.place(item);
            }
            // The slot keeps its list's capacity.
            if let Some(l) = self.slots.get_mut(slot) {
                *l = list;
            }
            return true;
        }
        false
    }

    /// Empties the wheel and the heap, keeping their capacity and the position.
    fn clear(&mut self) {
        for l in &mut self.slots {
            l.clear();
        }
        self.occupied = [0; LEVELS];
        self.ready.clear();
    }

    /// Items held, live or stale.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.iter().map(Vec::len).sum::<usize>() + self.ready.len()
    }
}

/// Timers keyed by the endpoint's own ids (a tunnel id, a binding key, a session's VID, ...).
///
/// * [`TimerQueue::insert`] arms or re-arms the key's single timer; [`TimerQueue::cancel`] disarms it.
/// * [`TimerQueue::next_deadline`] is O(1): the earliest live deadline is kept beside the queue.
/// * [`TimerQueue::pop_expired`] returns due timers one at a time, earliest first (insertion order
///   among equal deadlines), touching only those: expiring k timers never scans the live ones.
///
/// The armed timers are a hash map from their keys to their deadline and arming sequence number,
/// and are ordered by a hierarchical timing wheel (8 levels of 64 slots, ticks of 2^20 ns, about
/// 1 ms): an item (the arming's order key and the key) sits, in no particular order, in the slot
/// of the level where its tick first differs from the wheel's position. The items whose tick the
/// wheel has reached are in a binary heap, in exact deadline order (then arming order). When the
/// heap empties the wheel moves to its earliest occupied slot and spreads that slot's items over
/// the lower levels or into the heap, reading the slot's list in sequence, so each item moves at
/// most once per level. An expiry is a pop from a heap of about one tick's timers, whatever the
/// number armed; [`TimerQueue::next_deadline`] is the heap's top.
///
/// Every operation on a key touches its one entry in the map (one hash, one bucket: a timer's
/// state is that entry, there is no second table to reach). Cancelling or re-arming a timer
/// updates its entry at once and leaves its old item behind as stale (recognised by its sequence
/// number no longer being its entry's), dropped when it reaches the heap's top; when stale items
/// outnumber the live ones (plus 4096) the wheel and the heap are rebuilt from the map in one
/// sequential pass, so memory stays proportional to the number of armed timers.
///
/// Deadlines more than about 292 years apart from the first one armed compare as equal (then in
/// arming order).
pub struct TimerQueue<K> {
    index: HashMap<K, Armed>,
    wheel: Wheel<K>,
    /// Items in the wheel and the heap whose timer was cancelled or re-armed.
    stale: usize,
    /// The deadline the order keys' offsets count from: the first deadline armed since the queue
    /// was created or cleared.
    origin: Option<Instant>,
    /// The heap's top once found live: its sequence number and deadline (the earliest armed
    /// deadline, for [`TimerQueue::next_deadline`]).
    first: Option<(u64, Instant)>,
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
            index: HashMap::with_capacity(n),
            wheel: Wheel::new(),
            stale: 0,
            origin: None,
            first: None,
            next_seq: 0,
        }
    }

    /// Arms `key` to fire at `deadline`, replacing its previous deadline if it had one (returned).
    pub fn insert(&mut self, key: K, deadline: Instant) -> Option<Instant> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let origin = *self.origin.get_or_insert(deadline);
        let order = order_of(origin, deadline, seq);
        let armed = Armed { deadline, seq };
        let old = match self.index.entry(key.clone()) {
            // Re-armed: the old item goes stale.
            Entry::Occupied(mut e) => {
                let old = std::mem::replace(e.get_mut(), armed);
                self.stale += 1;
                Some(old)
            }
            Entry::Vacant(e) => {
                e.insert(armed);
                None
            }
        };
        let top_moved = self.top_moved(old.map(|o| o.seq));
        let first = self.first.map(|(_, d)| d);
        self.wheel.place(Item { order, key });
        // Nothing else changed when the new item is later than a known live top.
        if top_moved || first.is_none_or(|f| deadline < f) || self.over_stale() {
            self.settle();
        }
        old.map(|o| o.deadline)
    }

    /// Whether the arming `seq` that just went stale or away was the known live top.
    fn top_moved(&mut self, seq: Option<u64>) -> bool {
        match (seq, self.first) {
            (Some(s), Some((top, _))) if s == top => {
                self.first = None;
                true
            }
            _ => false,
        }
    }

    /// Whether the stale items call for a rebuild.
    fn over_stale(&self) -> bool {
        self.stale > 0 && (self.index.is_empty() || self.stale > self.index.len() + STALE_SLACK)
    }

    /// Restores the invariants after a change: the heap's top is live, the heap holds an item
    /// whenever a timer is armed (the wheel advanced to its earliest slot), stale items are
    /// bounded, and `first` is the top's sequence number and deadline.
    fn settle(&mut self) {
        if self.over_stale() {
            self.rebuild();
        }
        self.first = loop {
            if self.index.is_empty() {
                break None;
            }
            if let Some(Reverse(top)) = self.wheel.ready.peek() {
                match self.index.get(&top.key) {
                    Some(a) if a.seq == top.order.1 => break Some((a.seq, a.deadline)),
                    _ => {
                        self.wheel.ready.pop();
                        self.stale = self.stale.saturating_sub(1);
                        continue;
                    }
                }
            }
            if !self.wheel.advance() {
                break None;
            }
        };
    }

    /// Drops every stale item: the wheel and the heap rebuilt from the armed timers, read from
    /// the map in sequence.
    fn rebuild(&mut self) {
        self.wheel.clear();
        if let Some(origin) = self.origin {
            for (key, a) in &self.index {
                let order = order_of(origin, a.deadline, a.seq);
                self.wheel.place(Item {
                    order,
                    key: key.clone(),
                });
            }
        }
        self.stale = 0;
    }

    /// Disarms `key`, returning the deadline it had.
    pub fn cancel(&mut self, key: &K) -> Option<Instant> {
        let a = self.index.remove(key)?;
        self.stale += 1;
        if self.top_moved(Some(a.seq)) || self.over_stale() {
            self.settle();
        }
        Some(a.deadline)
    }

    /// The deadline armed for `key`.
    pub fn deadline(&self, key: &K) -> Option<Instant> {
        self.index.get(key).map(|a| a.deadline)
    }

    /// Whether `key` has a timer armed.
    pub fn contains(&self, key: &K) -> bool {
        self.index.contains_key(key)
    }

    /// The earliest armed deadline, in O(1).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.first.map(|(_, d)| d)
    }

    /// Removes and returns the earliest timer if it is due at `now` (deadline `<= now`).
    pub fn pop_expired(&mut self, now: Instant) -> Option<(K, Instant)> {
        let (_, deadline) = self.first.filter(|&(_, d)| d <= now)?;
        // `first` is the heap's top, live.
        let popped = self.wheel.ready.pop().map(|Reverse(item)| item.key);
        let popped = popped.filter(|key| self.index.remove(key).is_some());
        self.first = None;
        self.settle();
        popped.map(|key| (key, deadline))
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
        self.wheel.clear();
        self.wheel.pos = 0;
        self.stale = 0;
        self.origin = None;
        self.first = None;
    }

    /// Items held in the wheel and the heap, live or stale (for the tests' memory bound).
    #[cfg(test)]
    fn items(&self) -> usize {
        self.wheel.len()
    }
}

impl<K> std::fmt::Debug for TimerQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerQueue")
            .field("live", &self.index.len())
            .field("next", &self.first.map(|(_, d)| d))
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
