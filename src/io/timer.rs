//! One deadline structure per endpoint.

use super::table::{Bucket, OpenTable};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// A deadline as signed nanoseconds from the queue's origin (its first deadline), saturating at
/// about ±292 years, then the arming sequence number: the order in which timers fire. The
/// sequence number is unique among the armings the queue holds (live or stale), so an order key
/// names one arming of one timer.
type Order = (i64, u32);

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
/// The sequence number at which the armed timers are renumbered (see [`TimerQueue::renumber`]):
/// sequence numbers fit in 32 bits, so that a timer in the key index takes 16 bytes for a
/// 32-bit key.
const SEQ_LIMIT: u32 = u32::MAX;
/// Items whose key-table buckets are read together, ahead of their lookups, when the wheel
/// reaches them.
const PREFETCH: usize = 32;
/// Armings and disarmings by [`TimerQueue::arm`] and [`TimerQueue::disarm`] held before they are
/// applied together, their buckets read ahead as one group (as [`TimerQueue::insert_many`] does).
const PENDING: usize = PREFETCH;

/// An order key's offset as two 32-bit halves: aligned to 4 bytes, not 8, so that a bucket or
/// an item whose key is 2-byte aligned and 6 bytes long (an L2TP endpoint's [`Timer`] keys)
/// takes 20 bytes, not 24 (the LNS's budget of memory per tunnel); 16 bytes for a 32-bit key either way.
///
/// [`Timer`]: crate::l2tp::tunnel::Timer
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Off {
    low: u32,
    high: i32,
}

impl Off {
    fn new(off: i64) -> Off {
        Off {
            // The low and high halves of the offset's bits.
            low: off as u32,
            high: (off >> 32) as i32,
        }
    }

    fn get(self) -> i64 {
        (i64::from(self.high) << 32) | i64::from(self.low)
    }
}

/// An armed timer, as the key index holds it: its key, its arming's sequence number and its
/// deadline as an offset from the queue's origin, side by side in one bucket (16 bytes for a
/// 32-bit key; the sequence number is never zero, so an empty bucket costs no extra byte).
#[derive(Clone, Debug)]
struct Armed<K> {
    key: K,
    seq: NonZeroU32,
    /// The order key's offset (exact, or saturated: then the deadline is in the queue's
    /// `far` map).
    off: Off,
}

impl<K> Armed<K> {
    fn order(&self) -> Order {
        (self.off.get(), self.seq.get())
    }
}

/// The armed timers by key: an [`OpenTable`] (linear probing) whose buckets hold the timers
/// themselves, so finding a key reads the bucket its hash names and, rarely, the next ones in the
/// same or the following cache line: one random memory access per operation (a table of control
/// bytes beside the data, or of slot numbers into a second array, would make it two dependent
/// ones). At most three quarters of the buckets are used; removal shifts the following entries
/// of the probe run back (no tombstones), so a lookup stops at the first empty bucket. The bucket
/// count need not be a power of two (a hash is mapped onto the buckets by a multiply and shift),
/// so a table sized for `n` timers takes 1.5 `n` buckets, not up to 2.7 `n`.
///
/// The deadline stays in the bucket: with keys and sequence numbers alone in the buckets (8 bytes
/// for a 32-bit key) and the offsets in a parallel array, a re-arming reads and writes two random
/// cache lines instead of one, and measured slower at a million timers.
type Index<K> = OpenTable<Armed<K>, KeyHasher>;

impl<K: Eq + Hash> Bucket for Armed<K> {
    type Key = K;
    /// Three quarters (a table sized for `n` timers is two thirds full with them).
    const LOAD: (usize, usize) = (3, 4);

    fn key(&self) -> &K {
        &self.key
    }
}

/// The key index's hash: foldhash's quality variant, randomly seeded. A bucket is picked by the
/// hash's high bits ([`OpenTable::home`]); foldhash's fast variant leaves those bits of a small
/// key's hash poorly mixed for some of its random seeds, and with one in about twenty seeds 10k
/// consecutive keys fell into a few long probe runs (thousands of buckets per lookup; the test
/// `home_buckets_spread_under_every_seed`). The quality variant adds one multiply.
type KeyHasher = foldhash::quality::SeedableRandomState;

/// One arming of a key's timer in the wheel or the heap, ordered by its order key alone (unique):
/// its two parts side by side with the key, so that an item takes 16 bytes for a 32-bit key.
#[derive(Clone, Debug)]
struct Item<K> {
    off: Off,
    seq: u32,
    key: K,
}

impl<K> Item<K> {
    fn order(&self) -> Order {
        (self.off.get(), self.seq)
    }
}

impl<K> PartialEq for Item<K> {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
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
        self.order().cmp(&other.order())
    }
}

/// An arming (with its deadline and the sequence number taken when it was asked for) or a
/// disarming (`arm` is `None`) of `key` not yet applied to the key index and the wheel.
#[derive(Clone, Debug)]
struct Pending<K> {
    key: K,
    arm: Option<(Instant, NonZeroU32)>,
}

/// The hierarchical timing wheel and the heap of the items it has reached.
struct Wheel<K> {
    /// `LEVELS x SLOTS` lists of items.
    slots: Vec<Vec<Item<K>>>,
    /// Per level, a bit per non-empty slot.
    occupied: [u64; LEVELS],
    /// The wheel's position in ticks: every item in the wheel has a later tick, every item in
    /// the heap this one or an earlier one.
    pos: u64,
    /// Items armed for a tick at or before `pos` after the wheel had reached it, earliest on top.
    ready: BinaryHeap<Reverse<Item<K>>>,
    /// The items of the slot the wheel last reached (its tick, at `pos`), sorted once when they
    /// came in, latest first: the next to fire is the last, taken in O(1) (a heap of one tick's
    /// items, about a hundred at a million timers over 10 s, cost a sift through its levels per
    /// expiry, with a mispredicted branch at most of them).
    run: Vec<Item<K>>,
}

/// The wheel tick of an order key (a negative offset is tick 0).
fn tick_of((off, _): Order) -> u64 {
    u64::try_from(off).unwrap_or(0) >> TICK_SHIFT
}

/// The order key's offset of a deadline: signed, saturating nanoseconds from `origin`.
fn offset_of(origin: Instant, deadline: Instant) -> i64 {
    let sat = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
    match deadline.checked_duration_since(origin) {
        Some(after) => sat(after.as_nanos()),
        None => -sat(origin.duration_since(deadline).as_nanos()),
    }
}

/// Whether an offset saturated (its deadline is not `origin` plus the offset).
fn saturated(off: i64) -> bool {
    off == i64::MAX || off == -i64::MAX
}

/// The deadline an offset stands for: exact unless the offset saturated.
fn deadline_of(origin: Instant, off: i64) -> Option<Instant> {
    if saturated(off) {
        return None;
    }
    let d = Duration::from_nanos(off.unsigned_abs());
    if off >= 0 {
        origin.checked_add(d)
    } else {
        origin.checked_sub(d)
    }
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
            run: Vec::new(),
        }
    }

    /// Puts an item where it belongs: the heap when the wheel has reached its tick, else the
    /// slot of the level where its tick first differs from the wheel's position.
    fn place(&mut self, item: Item<K>) {
        let tick = tick_of(item.order());
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

    /// Moves the wheel to its earliest occupied slot and takes that slot's items out (the slot
    /// number and its list, to spread below it and give back with [`Wheel::restore`]); `None`
    /// when the wheel is empty.
    fn take_next(&mut self) -> Option<(usize, Vec<Item<K>>)> {
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
            let list = self
                .slots
                .get_mut(slot)
                .map(std::mem::take)
                .unwrap_or_default();
            return Some((slot, list));
        }
        None
    }

    /// Gives a slot its emptied list back, so it keeps its capacity.
    fn restore(&mut self, slot: usize, list: Vec<Item<K>>) {
        if let Some(l) = self.slots.get_mut(slot) {
            if l.is_empty() {
                *l = list;
            }
        }
    }

    /// Empties the wheel and the heap, keeping their capacity and the position.
    fn clear(&mut self) {
        for l in &mut self.slots {
            l.clear();
        }
        self.occupied = [0; LEVELS];
        self.ready.clear();
        self.run.clear();
    }

    /// The earliest item reached: the earlier of the run's next and the heap's top.
    fn peek(&self) -> Option<&Item<K>> {
        match (self.run.last(), self.ready.peek()) {
            (Some(r), Some(Reverse(h))) => Some(if h < r { h } else { r }),
            (r, h) => r.or(h.map(|Reverse(h)| h)),
        }
    }

    /// Takes out the earliest item reached ([`Wheel::peek`]).
    fn pop(&mut self) -> Option<Item<K>> {
        let from_heap = match (self.run.last(), self.ready.peek()) {
            (Some(r), Some(Reverse(h))) => h < r,
            (None, _) => true,
            (Some(_), None) => false,
        };
        if from_heap {
            self.ready.pop().map(|Reverse(item)| item)
        } else {
            self.run.pop()
        }
    }

    /// Items held, live or stale.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.iter().map(Vec::len).sum::<usize>() + self.ready.len() + self.run.len()
    }
}

/// Timers keyed by the endpoint's own ids (a tunnel id, a binding key, a session's VID, ...).
///
/// * [`TimerQueue::insert`] arms or re-arms the key's single timer; [`TimerQueue::cancel`] disarms it.
/// * [`TimerQueue::next_deadline`] is O(1): the earliest live deadline is kept beside the queue.
/// * [`TimerQueue::pop_expired`] returns due timers one at a time, earliest first (insertion order
///   among equal deadlines), touching only those: expiring k timers never scans the live ones.
///
/// The armed timers are an open-addressed table of their keys, arming sequence numbers (32 bits)
/// and deadlines (as nanosecond offsets from the first deadline armed): linear probing, the timer
/// inline in its bucket, 16 bytes for a 32-bit key, 1.5 buckets per timer the queue was sized
/// for, so that finding a key is one random memory access (the bucket itself) in a table small
/// enough to stay in a large last-level cache at a million timers. They are ordered by a hierarchical timing wheel (8 levels of 64
/// slots, ticks of 2^20 ns, about 1 ms): an item (the arming's order key and the key) sits, in no
/// particular order, in the slot of the level where its tick first differs from the wheel's
/// position. The items whose tick the wheel has reached are in exact deadline order (then arming
/// order): those of the slot it last reached in a run sorted once, those armed into a reached
/// tick in a binary heap (they become the run, sorted once, when the run is spent). When both
/// are empty the wheel moves to its earliest occupied slot and spreads that slot's items over the
/// lower levels or into the run, reading the slot's list in sequence, so each item moves at most
/// once per level. An expiry takes the earlier of the run's next and the heap's top, whatever
/// the number armed; [`TimerQueue::next_deadline`] is that item's deadline.
///
/// Cancelling or re-arming a timer updates its bucket at once and leaves its old item behind as
/// stale (recognised by its sequence number no longer being its key's), so no operation unlinks
/// a neighbour. Items entering the heap from the wheel are checked against the table together,
/// in one pass (their lookups independent, their cache misses overlapped), and stale ones are
/// dropped there; a count of the heap's items made stale since spares the check of the heap's
/// top when it is zero, so an expiry reads only its own bucket, which that pass has just brought
/// into cache. [`TimerQueue::insert_many`] and [`TimerQueue::cancel_many`] read the buckets of a
/// group of keys ahead in the same way, and so do [`TimerQueue::arm`] and
/// [`TimerQueue::disarm`], which hold up to 32 operations and apply them together. When stale items outnumber the live ones (plus 4096) the
/// wheel and the heap are rebuilt from the table in one sequential pass, so memory stays
/// proportional to the number of armed timers.
///
/// Sequence numbers are 32 bits: once in about four billion armings the armed timers are
/// renumbered in their firing order (and the stale items dropped), in one pass.
///
/// Deadlines more than about 292 years apart from the first one armed compare as equal (then in
/// arming order); their exact values are kept beside the table.
pub struct TimerQueue<K> {
    index: Index<K>,
    wheel: Wheel<K>,
    /// The exact deadlines of the armed timers whose offset saturated (more than about 292 years
    /// from the origin): at most one entry per armed timer.
    far: HashMap<K, Instant, foldhash::fast::RandomState>,
    /// Items in the wheel and the heap whose timer was cancelled or re-armed.
    stale: usize,
    /// Of those, the items in the heap made stale after they entered it (an upper bound: zero
    /// means every item in the heap is live).
    ready_stale: usize,
    /// How many of the buckets read ahead of lookups were used (kept only so that those reads
    /// happen).
    touched: usize,
    /// The deadline the order keys' offsets count from: the first deadline armed since the queue
    /// was created or cleared.
    origin: Option<Instant>,
    /// The heap's top once found live: its sequence number and deadline (the earliest armed
    /// deadline, for [`TimerQueue::next_deadline`]).
    first: Option<(u32, Instant)>,
    /// The next arming's sequence number (from 1).
    next_seq: u32,
    /// The sequence number at which the armed timers are renumbered ([`SEQ_LIMIT`]; lower in
    /// tests, so that they renumber often).
    seq_limit: u32,
    /// Armings and disarmings by [`TimerQueue::arm`] and [`TimerQueue::disarm`] not yet applied,
    /// in the order asked (at most [`PENDING`]). None of them moves the earliest timer: each
    /// arming is at or after `first`'s deadline and no pending operation is of the heap's top's
    /// key, so `first` stays exact while they wait.
    pending: Vec<Pending<K>>,
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
            index: Index::with_capacity(n, KeyHasher::random()),
            wheel: Wheel::new(),
            far: HashMap::default(),
            stale: 0,
            ready_stale: 0,
            touched: 0,
            origin: None,
            first: None,
            next_seq: 1,
            seq_limit: SEQ_LIMIT,
            pending: Vec::new(),
        }
    }

    /// The exact deadline of the armed timer `key` at offset `off`.
    fn deadline_at(&self, off: i64, key: &K) -> Option<Instant> {
        match self.origin.and_then(|o| deadline_of(o, off)) {
            Some(d) => Some(d),
            None => self.far.get(key).copied(),
        }
    }

    /// Arms `key` to fire at `deadline`, replacing its previous deadline if it had one (returned).
    pub fn insert(&mut self, key: K, deadline: Instant) -> Option<Instant> {
        self.flush();
        let seq = self.take_seq();
        self.apply_insert(key, deadline, seq)
    }

    /// The next arming's sequence number, the armed timers renumbered first when the numbers
    /// reach the limit (with no operation pending: their numbers were taken before).
    fn take_seq(&mut self) -> NonZeroU32 {
        if self.next_seq >= self.seq_limit {
            self.flush();
            self.renumber();
        }
        let seq = NonZeroU32::new(self.next_seq).unwrap_or(NonZeroU32::MIN);
        self.next_seq = self.next_seq.saturating_add(1);
        seq
    }

    /// Arms `key` at `deadline` with the sequence number `seq` (see [`TimerQueue::insert`]).
    fn apply_insert(&mut self, key: K, deadline: Instant, seq: NonZeroU32) -> Option<Instant> {
        let origin = *self.origin.get_or_insert(deadline);
        let off = offset_of(origin, deadline);
        let old = self.index.insert(Armed {
            key: key.clone(),
            seq,
            off: Off::new(off),
        });
        let old_deadline = old
            .as_ref()
            .and_then(|o| self.deadline_at(o.off.get(), &o.key));
        if saturated(off) {
            self.far.insert(key.clone(), deadline);
        } else if old.as_ref().is_some_and(|o| saturated(o.off.get())) {
            self.far.remove(&key);
        }
        // Re-armed: the old item goes stale.
        let top_moved = match &old {
            Some(o) => self.went_stale(o.order()),
            None => false,
        };
        let first = self.first.map(|(_, d)| d);
        self.wheel.place(Item {
            off: Off::new(off),
            seq: seq.get(),
            key,
        });
        // Nothing else changed when the new item is later than a known live top.
        if top_moved || first.is_none_or(|f| deadline < f) || self.over_stale() {
            self.settle();
        }
        old_deadline
    }

    /// Counts the item of the arming `order` (cancelled, re-armed) as stale, and whether it was
    /// the known live top.
    fn went_stale(&mut self, order: Order) -> bool {
        self.stale += 1;
        if tick_of(order) <= self.wheel.pos {
            self.ready_stale += 1;
        }
        match self.first {
            Some((top, _)) if top == order.1 => {
                self.first = None;
                true
            }
            _ => false,
        }
    }

    /// Whether the stale items call for a rebuild.
    fn over_stale(&self) -> bool {
        self.stale > 0 && (self.index.len() == 0 || self.stale > self.index.len() + STALE_SLACK)
    }

    /// Restores the invariants after a change: the heap's top is live, the heap holds an item
    /// whenever a timer is armed (the wheel advanced to its earliest slot), stale items are
    /// bounded, and `first` is the top's sequence number and deadline.
    fn settle(&mut self) {
        if self.over_stale() {
            self.rebuild();
        }
        self.first = loop {
            if self.index.len() == 0 {
                break None;
            }
            if self.wheel.run.is_empty() && self.wheel.ready.len() > 1 {
                self.run_ready();
            }
            if let Some(top) = self.wheel.peek() {
                let (off, seq) = top.order();
                if self.ready_stale == 0 {
                    if let Some(d) = self.origin.and_then(|o| deadline_of(o, off)) {
                        break Some((seq, d));
                    }
                }
                match self.index.get(&top.key) {
                    Some(a) if a.seq.get() == seq => {
                        if let Some(d) = self.deadline_at(off, &top.key) {
                            break Some((seq, d));
                        }
                    }
                    _ => {}
                }
                self.wheel.pop();
                self.stale = self.stale.saturating_sub(1);
                self.ready_stale = self.ready_stale.saturating_sub(1);
                continue;
            }
            if !self.advance() {
                break None;
            }
        };
    }

    /// Moves the wheel to its earliest occupied slot and spreads that slot's items below it;
    /// `false` when the wheel is empty. The items it reaches go into the heap if still armed
    /// (stale ones are dropped): checked against the key table in chunks, each chunk's buckets
    /// first read in a pass of independent loads (the processor overlaps their cache misses,
    /// where one lookup after another would wait for each), then looked up from cache.
    fn advance(&mut self) -> bool {
        let Some((slot, mut list)) = self.wheel.take_next() else {
            return false;
        };
        let pos = self.wheel.pos;
        let mut items = list.drain(..);
        while !items.as_slice().is_empty() {
            // (One item alone is looked up at once: nothing to overlap.)
            if items.as_slice().len() > 1 {
                let due = items.as_slice().iter().take(PREFETCH);
                self.touch_all(
                    due.filter(|item| tick_of(item.order()) <= pos)
                        .map(|item| &item.key),
                );
            }
            for item in items.by_ref().take(PREFETCH) {
                if tick_of(item.order()) > pos {
                    self.wheel.place(item);
                } else if self
                    .index
                    .get(&item.key)
                    .is_some_and(|a| a.seq.get() == item.seq)
                {
                    self.wheel.run.push(item);
                } else {
                    self.stale = self.stale.saturating_sub(1);
                }
            }
        }
        drop(items);
        // Latest first: the next to fire is taken from the end.
        self.wheel.run.sort_unstable_by(|a, b| b.cmp(a));
        self.wheel.restore(slot, list);
        true
    }

    /// Makes the heap's items (armed into ticks the wheel had reached) the run, once the run is
    /// spent: sorted once, their buckets read ahead in groups, so that expiring them neither
    /// sifts a heap nor waits for each bucket in turn (each item moves from the heap to the run
    /// at most once).
    fn run_ready(&mut self) {
        let items = std::mem::take(&mut self.wheel.ready).into_vec();
        for group in items.chunks(PREFETCH) {
            self.touch_all(group.iter().map(|Reverse(item)| &item.key));
        }
        let mut run: Vec<Item<K>> = items.into_iter().map(|Reverse(item)| item).collect();
        run.sort_unstable_by(|a, b| b.cmp(a));
        // The spent run's list becomes the heap's, so that neither allocates again.
        let spent = std::mem::replace(&mut self.wheel.run, run);
        self.wheel.ready = BinaryHeap::from(
            spent
                .into_iter()
                .map(Reverse)
                .collect::<Vec<Reverse<Item<K>>>>(),
        );
    }

    /// Drops every stale item: the wheel and the heap rebuilt from the armed timers, read from
    /// the table in sequence.
    fn rebuild(&mut self) {
        self.wheel.clear();
        for a in self.index.iter() {
            self.wheel.place(Item {
                off: a.off,
                seq: a.seq.get(),
                key: a.key.clone(),
            });
        }
        self.stale = 0;
        self.ready_stale = 0;
    }

    /// Gives the armed timers the sequence numbers 1, 2, ... in their firing order (deadline,
    /// then arming order), so that the order among them is kept, and rebuilds the wheel and the
    /// heap from them (dropping every stale item, whose sequence numbers could otherwise be
    /// given again). Done when the sequence numbers reach [`SEQ_LIMIT`], that is once in about
    /// four billion armings: sequence numbers stay below 2^32 whatever the queue's lifetime.
    fn renumber(&mut self) {
        let mut order: Vec<Order> = self.index.iter().map(Armed::order).collect();
        order.sort_unstable();
        for a in self.index.iter_mut() {
            let rank = order.binary_search(&a.order()).unwrap_or(0);
            let seq = u32::try_from(rank + 1).unwrap_or(u32::MAX);
            a.seq = NonZeroU32::new(seq).unwrap_or(NonZeroU32::MIN);
        }
        let armed = u32::try_from(order.len()).unwrap_or(u32::MAX);
        self.next_seq = armed.saturating_add(1);
        self.first = None;
        self.rebuild();
        self.settle();
    }

    /// Disarms `key`, returning the deadline it had.
    pub fn cancel(&mut self, key: &K) -> Option<Instant> {
        self.flush();
        self.apply_cancel(key)
    }

    /// Disarms `key` (see [`TimerQueue::cancel`]).
    fn apply_cancel(&mut self, key: &K) -> Option<Instant> {
        let a = self.index.remove(key)?;
        let deadline = self.deadline_at(a.off.get(), &a.key);
        if saturated(a.off.get()) {
            self.far.remove(key);
        }
        if self.went_stale(a.order()) || self.over_stale() {
            self.settle();
        }
        deadline
    }

    /// Reads ahead the buckets of up to [`PREFETCH`] keys (the first ones given), before they are
    /// looked up one after another: their home buckets computed first, then read in a pass of
    /// independent loads and nothing else, so that the processor overlaps all their cache misses
    /// (a pass that hashed and read each key in turn held only a few misses at a time: its loads
    /// waiting to retire filled the reorder buffer with the hashing after them).
    fn touch_all<'a>(&mut self, keys: impl Iterator<Item = &'a K>)
    where
        K: 'a,
    {
        let mut homes = [0usize; PREFETCH];
        let mut n = 0;
        for (home, key) in homes.iter_mut().zip(keys) {
            *home = self.index.home(key);
            n += 1;
        }
        let mut seen = 0usize;
        for &home in homes.get(..n).unwrap_or_default() {
            seen += usize::from(self.index.touch_at(home));
        }
        // Kept, so that the loads above are not optimised away.
        self.touched = self.touched.wrapping_add(seen);
    }

    /// Arms or re-arms each key's timer, in turn: the same as [`TimerQueue::insert`] of each
    /// `(key, deadline)` in order (a key given twice ends with its last deadline, armed last), but
    /// the buckets of each group of keys are read ahead together, so that at a million timers
    /// their cache misses overlap instead of each insertion waiting for its own. Returns how many
    /// insertions replaced an armed timer.
    pub fn insert_many(&mut self, timers: &[(K, Instant)]) -> usize {
        self.flush();
        let mut rearmed = 0;
        for group in timers.chunks(PREFETCH) {
            self.touch_all(group.iter().map(|(key, _)| key));
            for (key, deadline) in group {
                rearmed += usize::from(self.insert(key.clone(), *deadline).is_some());
            }
        }
        rearmed
    }

    /// Disarms each key's timer, in turn: the same as [`TimerQueue::cancel`] of each key in
    /// order, with the buckets of each group of keys read ahead together (see
    /// [`TimerQueue::insert_many`]). Returns how many timers were armed and are now disarmed.
    pub fn cancel_many(&mut self, keys: &[K]) -> usize {
        self.flush();
        let mut cancelled = 0;
        for group in keys.chunks(PREFETCH) {
            self.touch_all(group.iter());
            for key in group {
                cancelled += usize::from(self.cancel(key).is_some());
            }
        }
        cancelled
    }

    /// Arms or re-arms `key`'s timer to fire at `deadline`: [`TimerQueue::insert`] without its
    /// answer, so that it may be applied later, with up to 31 other armings and disarmings whose
    /// key-index buckets are read ahead together (their cache misses overlapped at a million
    /// timers, as in [`TimerQueue::insert_many`]).
    ///
    /// Every answer of the queue is as if the arming had been applied at once: [`deadline`],
    /// [`contains`], [`len`], [`next_deadline`] and [`pop_expired`] see it, and among equal
    /// deadlines the timer fires in the order of this call (its sequence number is taken now).
    /// An arming that would become the earliest timer, or re-arms it, is applied at once.
    ///
    /// [`deadline`]: TimerQueue::deadline
    /// [`contains`]: TimerQueue::contains
    /// [`len`]: TimerQueue::len
    /// [`next_deadline`]: TimerQueue::next_deadline
    /// [`pop_expired`]: TimerQueue::pop_expired
    pub fn arm(&mut self, key: K, deadline: Instant) {
        // Deferred only when it cannot move the earliest timer: at or after its deadline (then
        // after it in firing order: a later sequence number), and not the earliest timer's key.
        let deferred = self.first.is_some_and(|(_, f)| f <= deadline)
            && !self.is_top(&key)
            && self.next_seq < self.seq_limit;
        if !deferred {
            self.insert(key, deadline);
            return;
        }
        let seq = self.take_seq();
        self.pending.push(Pending {
            key,
            arm: Some((deadline, seq)),
        });
        if self.pending.len() >= PENDING {
            self.flush();
        }
    }

    /// Disarms `key`'s timer, if armed: [`TimerQueue::cancel`] without its answer, so that it
    /// may be applied later, grouped as [`TimerQueue::arm`] does, with the same exact answers
    /// meanwhile. Disarming the earliest timer is applied at once.
    pub fn disarm(&mut self, key: &K) {
        if self.first.is_none() || self.is_top(key) {
            self.cancel(key);
            return;
        }
        self.pending.push(Pending {
            key: key.clone(),
            arm: None,
        });
        if self.pending.len() >= PENDING {
            self.flush();
        }
    }

    /// Whether `key` is the heap's top's (the earliest timer's, when `first` is known).
    fn is_top(&self, key: &K) -> bool {
        self.wheel.peek().is_some_and(|top| top.key == *key)
    }

    /// Applies the pending armings and disarmings in the order asked, their buckets read ahead
    /// together first.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        self.touch_all(pending.iter().map(|p| &p.key));
        for p in pending.drain(..) {
            match p.arm {
                Some((deadline, seq)) => {
                    self.apply_insert(p.key, deadline, seq);
                }
                None => {
                    self.apply_cancel(&p.key);
                }
            }
        }
        // Kept, with its capacity.
        self.pending = pending;
    }

    /// The last pending operation on `key`.
    fn pending_of(&self, key: &K) -> Option<&Pending<K>> {
        self.pending.iter().rev().find(|p| p.key == *key)
    }

    /// The deadline armed for `key`.
    pub fn deadline(&self, key: &K) -> Option<Instant> {
        if let Some(p) = self.pending_of(key) {
            return p.arm.map(|(d, _)| d);
        }
        self.index
            .get(key)
            .and_then(|a| self.deadline_at(a.off.get(), key))
    }

    /// Whether `key` has a timer armed.
    pub fn contains(&self, key: &K) -> bool {
        match self.pending_of(key) {
            Some(p) => p.arm.is_some(),
            None => self.index.find(key).is_some(),
        }
    }

    /// The earliest armed deadline, in O(1).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.first.map(|(_, d)| d)
    }

    /// Removes and returns the earliest timer if it is due at `now` (deadline `<= now`).
    pub fn pop_expired(&mut self, now: Instant) -> Option<(K, Instant)> {
        self.first.filter(|&(_, d)| d <= now)?;
        // The pending operations left `first` as it was.
        self.flush();
        let (_, deadline) = self.first.filter(|&(_, d)| d <= now)?;
        // `first` is the heap's top, live.
        let popped = self.wheel.pop().map(|item| item.key);
        let popped = popped.filter(|key| match self.index.remove(key) {
            Some(a) => {
                if saturated(a.off.get()) {
                    self.far.remove(key);
                }
                true
            }
            None => false,
        });
        self.first = None;
        self.settle();
        popped.map(|key| (key, deadline))
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        let mut n = self.index.len();
        for (i, p) in self.pending.iter().enumerate() {
            // The last pending operation on each key decides whether it is armed.
            let later = self.pending.get(i + 1..).unwrap_or_default();
            if later.iter().any(|q| q.key == p.key) {
                continue;
            }
            match (self.index.find(&p.key).is_some(), p.arm.is_some()) {
                (false, true) => n += 1,
                (true, false) => n = n.saturating_sub(1),
                _ => {}
            }
        }
        n
    }

    /// Whether no timer is armed (in O(1): the earliest timer is known whenever one is armed).
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Disarms everything.
    pub fn clear(&mut self) {
        self.pending.clear();
        self.index.clear();
        self.wheel.clear();
        self.far.clear();
        self.wheel.pos = 0;
        self.stale = 0;
        self.ready_stale = 0;
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
            .field("pending", &self.pending.len())
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
        Insert(u16, u16),
        Cancel(u16),
        /// Armings by [`TimerQueue::insert_many`] (keys may repeat within the batch).
        InsertMany(Vec<(u16, u16)>),
        /// Cancellations by [`TimerQueue::cancel_many`].
        CancelMany(Vec<u16>),
        /// Armings by [`TimerQueue::arm`] (applied later, in groups).
        Arm(u16, u16),
        /// Disarmings by [`TimerQueue::disarm`].
        Disarm(u16),
        Advance(u16),
        Clear,
    }

    /// Operations on `keys` keys (few: every key re-armed and cancelled often; many: the key
    /// table grows, and its probe runs collide and shift back on removal).
    fn op(keys: u16) -> impl Strategy<Value = Op> {
        prop_oneof![
            20 => (any::<u16>(), any::<u16>()).prop_map(move |(k, d)| Op::Insert(k % keys, d % 500)),
            // Far deadlines (up to 65 s, in the wheel's higher levels).
            20 => (any::<u16>(), any::<u16>()).prop_map(move |(k, d)| Op::Insert(k % keys, d)),
            20 => any::<u16>().prop_map(move |k| Op::Cancel(k % keys)),
            // Write-behind armings and disarmings, interleaved with everything else.
            20 => (any::<u16>(), any::<u16>()).prop_map(move |(k, d)| Op::Arm(k % keys, d % 500)),
            20 => (any::<u16>(), any::<u16>()).prop_map(move |(k, d)| Op::Arm(k % keys, d)),
            20 => any::<u16>().prop_map(move |k| Op::Disarm(k % keys)),
            // Batches longer than a read-ahead group (32), so that groups follow one another.
            5 => proptest::collection::vec((any::<u16>(), any::<u16>()), 0..80).prop_map(
                move |v| Op::InsertMany(v.into_iter().map(|(k, d)| (k % keys, d)).collect())
            ),
            5 => proptest::collection::vec(any::<u16>(), 0..80)
                .prop_map(move |v| Op::CancelMany(v.into_iter().map(|k| k % keys).collect())),
            20 => any::<u16>().prop_map(|d| Op::Advance(d % 300)),
            20 => any::<u16>().prop_map(Op::Advance),
            1 => Just(Op::Clear),
        ]
    }

    /// Runs `ops` on a queue and on a reference model (a `BTreeMap` of the armed timers scanned
    /// for its minimum), asserting the same results at every step.
    fn check_against_model(ops: Vec<Op>, seq_limit: u32) -> Result<(), TestCaseError> {
        let t0 = Instant::now();
        let mut now = t0;
        let mut q = TimerQueue::new();
        q.seq_limit = seq_limit;
        // key -> (deadline, insertion seq)
        let mut model: BTreeMap<u16, (Instant, u64)> = BTreeMap::new();
        let mut seq = 0u64;
        for op in ops {
            let mut touched = Vec::new();
            match op {
                Op::Insert(k, d) => {
                    let dl = now + Duration::from_millis(u64::from(d));
                    let old = q.insert(k, dl);
                    prop_assert_eq!(old, model.insert(k, (dl, seq)).map(|x| x.0));
                    seq += 1;
                    touched.push(k);
                }
                Op::Cancel(k) => {
                    prop_assert_eq!(q.cancel(&k), model.remove(&k).map(|x| x.0));
                    touched.push(k);
                }
                Op::Arm(k, d) => {
                    let dl = now + Duration::from_millis(u64::from(d));
                    q.arm(k, dl);
                    model.insert(k, (dl, seq));
                    seq += 1;
                    touched.push(k);
                }
                Op::Disarm(k) => {
                    q.disarm(&k);
                    model.remove(&k);
                    touched.push(k);
                }
                Op::InsertMany(batch) => {
                    let timers: Vec<(u16, Instant)> = batch
                        .iter()
                        .map(|&(k, d)| (k, now + Duration::from_millis(u64::from(d))))
                        .collect();
                    let mut rearmed = 0;
                    for &(k, dl) in &timers {
                        rearmed += usize::from(model.insert(k, (dl, seq)).is_some());
                        seq += 1;
                        touched.push(k);
                    }
                    prop_assert_eq!(q.insert_many(&timers), rearmed);
                }
                Op::CancelMany(keys) => {
                    let cancelled = keys.iter().filter(|k| model.remove(k).is_some()).count();
                    prop_assert_eq!(q.cancel_many(&keys), cancelled);
                    touched.extend(keys);
                }
                Op::Advance(d) => {
                    now += Duration::from_millis(u64::from(d));
                    let mut fired = Vec::new();
                    while let Some((k, dl)) = q.pop_expired(now) {
                        fired.push((dl, k));
                    }
                    let mut expect: Vec<(Instant, u64, u16)> = model
                        .iter()
                        .filter(|(_, (dl, _))| *dl <= now)
                        .map(|(k, (dl, s))| (*dl, *s, *k))
                        .collect();
                    expect.sort();
                    for (_, _, k) in &expect {
                        model.remove(k);
                    }
                    let expect: Vec<(Instant, u16)> =
                        expect.into_iter().map(|(d, _, k)| (d, k)).collect();
                    prop_assert_eq!(fired, expect);
                }
                Op::Clear => {
                    q.clear();
                    model.clear();
                }
            }
            for k in touched {
                prop_assert_eq!(q.deadline(&k), model.get(&k).map(|x| x.0));
                prop_assert_eq!(q.contains(&k), model.contains_key(&k));
            }
            prop_assert_eq!(q.len(), model.len());
            prop_assert_eq!(q.is_empty(), model.is_empty());
            prop_assert_eq!(q.next_deadline(), model.values().map(|x| x.0).min());
            // The pending disarmings (at most PENDING) have not yet made their items stale.
            prop_assert!(q.pending.len() < PENDING);
            prop_assert!(q.items() <= 2 * (q.len() + q.pending.len()) + STALE_SLACK + 1);
        }
        // Every armed timer is still found by its key.
        for (k, (dl, _)) in &model {
            prop_assert_eq!(q.deadline(k), Some(*dl));
        }
        Ok(())
    }

    proptest! {
        /// The queue behaves like a reference model: the same deadlines returned by `insert`,
        /// `cancel` and `deadline`, the same timers expired in deadline order (arming order among
        /// equal deadlines), the same earliest deadline; and it holds at most twice the live
        /// items plus the sweep's slack. 32 keys: each re-armed, cancelled and expired often.
        #[test]
        fn matches_naive_model(ops in proptest::collection::vec(op(32), 0..400)) {
            check_against_model(ops, SEQ_LIMIT)?;
        }

        /// The same with the armed timers renumbered every 40 to 100 armings (where the queue
        /// renumbers once in 2^32): the firing order, among equal deadlines too, is kept.
        #[test]
        fn matches_naive_model_renumbered(
            ops in proptest::collection::vec(op(32), 0..400),
            limit in 40u32..100,
        ) {
            check_against_model(ops, limit)?;
        }

        /// The same with 2000 keys: the key table grows through several sizes and removals
        /// shift probe runs back.
        #[test]
        fn matches_naive_model_many_keys(ops in proptest::collection::vec(op(2000), 0..3000)) {
            check_against_model(ops, SEQ_LIMIT)?;
        }

        /// The same, renumbered every 1000 to 2000 armings.
        #[test]
        fn matches_naive_model_many_keys_renumbered(
            ops in proptest::collection::vec(op(2000), 0..3000),
            limit in 1000u32..2000,
        ) {
            check_against_model(ops, limit)?;
        }
    }

    /// The buckets probed, on average, to insert `n` consecutive keys into an index sized for them
    /// with hasher `h`.
    fn mean_insert_probes(n: u32, h: KeyHasher) -> f64 {
        let mut index = Index::with_capacity(n as usize, h);
        let mut probes = 0usize;
        for key in 0..n {
            let mut i = index.home(&key);
            while index.buckets().get(i).is_some_and(Option::is_some) {
                probes += 1;
                i = index.next(i);
            }
            probes += 1;
            let armed = Armed {
                key,
                seq: NonZeroU32::MIN,
                off: Off::new(0),
            };
            assert!(index.insert(armed).is_none());
        }
        probes as f64 / f64::from(n)
    }

    /// Consecutive keys (tunnel ids, VIDs, the benches' keys) spread over the key table under
    /// every seed: inserting 10k of them into a table two thirds full probes about two buckets
    /// each, as for random homes (linear probing: (1 + 1 / (1 - 2/3)) / 2 = 2), under each of
    /// 200 seeds. With foldhash's fast variant, 11 of these seeds put them in a few long runs
    /// (up to 2500 buckets per insertion).
    #[test]
    fn home_buckets_spread_under_every_seed() {
        for seed in 0..200u64 {
            let shared: &'static foldhash::SharedSeed =
                Box::leak(Box::new(foldhash::SharedSeed::from_u64(seed)));
            let h = KeyHasher::with_seed(seed, shared);
            let probes = mean_insert_probes(10_000, h);
            assert!(
                probes < 3.0,
                "seed {seed}: {probes:.1} buckets per insertion"
            );
        }
    }

    /// A timer with a 32-bit key takes 16 bytes in the key table, an empty bucket too (the
    /// layout the table's cache footprint at a million timers rests on).
    #[test]
    fn a_bucket_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Option<Armed<u32>>>(), 16);
        assert_eq!(std::mem::size_of::<Item<u32>>(), 16);
    }

    /// A timer keyed by an L2TP endpoint's [`Timer`](crate::l2tp::tunnel::Timer) (6 bytes,
    /// 2-byte aligned) takes 20 bytes in the key table and in the wheel, not 24 (the offset's
    /// halves are 4-byte aligned: the LNS's memory per tunnel).
    #[test]
    fn a_timer_keyed_bucket_is_20_bytes() {
        use crate::l2tp::tunnel::Timer;
        assert_eq!(std::mem::size_of::<Timer>(), 6);
        assert_eq!(std::mem::size_of::<Option<Armed<Timer>>>(), 20);
        assert_eq!(std::mem::size_of::<Item<Timer>>(), 20);
    }

    proptest! {
        /// An offset split in halves reads back as the offset, the saturated ones included.
        #[test]
        fn offset_halves_read_back(off in any::<i64>()) {
            prop_assert_eq!(Off::new(off).get(), off);
            prop_assert_eq!(Off::new(i64::MAX).get(), i64::MAX);
            prop_assert_eq!(Off::new(-i64::MAX).get(), -i64::MAX);
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
mod one_tick {
    use super::*;
    use std::time::Duration;

    /// Timers of the same millisecond fire in deadline order, then arming order among equal deadlines
    /// (the queue's contract), whether the wheel reached them in a slot (sorted once) or they
    /// were armed into a tick after it had been reached (the heap): 3000 timers at 0 to 999 µs
    /// (each deadline three times, armed in a scrambled order), then 500 more into the reached
    /// tick, by `insert` and by `arm`.
    #[test]
    fn fire_in_deadline_then_arming_order() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        // The origin, and a tick far ahead of the others so the wheel starts at tick 0.
        q.insert(u32::MAX, t0);
        let mut armed = Vec::new();
        for i in 0..3000u32 {
            let at = t0
                + Duration::from_micros(u64::from(i.wrapping_mul(2_654_435_761) % 1000))
                + Duration::from_millis(5);
            q.insert(i, at);
            armed.push((at, armed.len(), i));
        }
        assert_eq!(q.pop_expired(t0), Some((u32::MAX, t0)));
        // The wheel reaches the tick of the first of them: more armed into it.
        assert!(q.pop_expired(t0 + Duration::from_millis(4)).is_none());
        let first = q.next_deadline();
        assert!(first.is_some());
        for i in 3000..3500u32 {
            let at = t0 + Duration::from_micros(u64::from(i % 1000)) + Duration::from_millis(5);
            if i % 2 == 0 {
                q.insert(i, at);
            } else {
                q.arm(i, at);
            }
            armed.push((at, armed.len(), i));
        }
        armed.sort();
        let mut fired = Vec::new();
        while let Some((k, at)) = q.pop_expired(t0 + Duration::from_secs(1)) {
            fired.push((at, k));
        }
        let expect: Vec<(Instant, u32)> = armed.into_iter().map(|(at, _, k)| (at, k)).collect();
        assert_eq!(fired, expect);
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
