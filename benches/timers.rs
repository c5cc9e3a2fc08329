//! Timer queue cost: insert, cancel and expire at 10k, 100k and 1M live timers, the keys spread
//! over the whole key table (at 1M their buckets are not in cache: nothing else touches them),
//! and the same insertions and cancellations given 32 keys at a time to the batch entry points.
//!
//! Besides criterion's figures, `cost_curve` times each operation in plain loops (best of 9
//! rounds, the thread's CPU time) at each size and prints the per-operation cost and its growth from 10k to
//! 1M, also as `table|` lines for `scripts/bench-table`, beside the same figures for the B-tree
//! queue the timing wheel replaced (a copy kept in this bench) from the same run. Two rows are
//! floors, not targets: a look-up of an armed key's deadline (one bucket read), alone and with
//! each key taken from the answer before; the single-key `insert` and `cancel` must make that
//! read before they answer, and their rise from 10k to 1M is printed beside the look-ups'.

#[path = "common/cpu.rs"]
mod cpu;

use cpu::cpu_now;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};
use std::hint::black_box;
use std::time::{Duration, Instant};
use telcp::TimerQueue;

/// The queue `TimerQueue` was before the timing wheel (a B-tree in deadline order beside a hash
/// map by key), kept here to print both cost curves from the same run.
#[allow(dead_code)]
mod btree {

    use std::collections::{BTreeMap, HashMap};
    use std::hash::Hash;
    use std::time::Instant;

    /// A deadline as signed nanoseconds from the queue's origin (its first deadline), saturating at
    /// about ±292 years, then the arming sequence number: the order in which timers fire.
    type Order = (i64, u64);

    /// Timers keyed by the endpoint's own ids (a tunnel id, a binding key, a session's VID, ...).
    ///
    /// * [`BTreeTimers::insert`] arms or re-arms the key's single timer; [`BTreeTimers::cancel`] disarms it.
    /// * [`BTreeTimers::next_deadline`] is O(1): the earliest live deadline is kept beside the queue.
    /// * [`BTreeTimers::pop_expired`] returns due timers one at a time, earliest first (insertion order
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
    pub struct BTreeTimers<K> {
        order: BTreeMap<Order, K>,
        live: HashMap<K, (Instant, u64)>,
        /// The deadline `order`'s offsets count from: the first deadline armed since the queue was
        /// created or cleared.
        origin: Option<Instant>,
        /// The earliest armed deadline (`order`'s first entry), for [`BTreeTimers::next_deadline`].
        first: Option<Instant>,
        next_seq: u64,
    }

    impl<K: Clone + Eq + Hash> Default for BTreeTimers<K> {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<K: Clone + Eq + Hash> BTreeTimers<K> {
        /// An empty queue.
        pub fn new() -> Self {
            Self::with_capacity(0)
        }

        /// An empty queue with room for `n` timers in its key index.
        pub fn with_capacity(n: usize) -> Self {
            BTreeTimers {
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

    impl<K> std::fmt::Debug for BTreeTimers<K> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("BTreeTimers")
                .field("live", &self.live.len())
                .field("next", &self.first)
                .finish()
        }
    }
}

/// What the cost curve drives: the timing wheel ([`TimerQueue`]) and the B-tree it replaced.
trait Timers {
    fn make(n: usize) -> Self;
    fn arm(&mut self, k: u32, at: Instant);
    fn disarm(&mut self, k: u32);
    /// Arms each of `timers` in turn: one by one unless the queue has a batch entry point.
    fn arm_many(&mut self, timers: &[(u32, Instant)]) {
        for &(k, at) in timers {
            self.arm(k, at);
        }
    }
    /// Disarms each of `keys` in turn: one by one unless the queue has a batch entry point.
    fn disarm_many(&mut self, keys: &[u32]) {
        for &k in keys {
            self.disarm(k);
        }
    }
    /// Arms `k` without asking for an answer: [`TimerQueue::arm`] (write-behind), the same as
    /// [`Timers::arm`] unless the queue has it.
    fn arm_behind(&mut self, k: u32, at: Instant) {
        self.arm(k, at);
    }
    /// Disarms `k` without asking for an answer: [`TimerQueue::disarm`], else [`Timers::disarm`].
    fn disarm_behind(&mut self, k: u32) {
        self.disarm(k);
    }
    /// Applies whatever [`Timers::arm_behind`] and [`Timers::disarm_behind`] left pending (inside
    /// the timed loop, so that no work is left out of a row).
    fn apply_pending(&mut self) {}
    fn expire(&mut self, now: Instant) -> bool;
    fn count(&self) -> usize;
    /// The deadline armed for `k`: one look-up, nothing written.
    fn lookup(&self, k: u32) -> Option<Instant>;
}

impl Timers for TimerQueue<u32> {
    fn make(n: usize) -> Self {
        TimerQueue::with_capacity(n)
    }
    fn arm(&mut self, k: u32, at: Instant) {
        self.insert(k, at);
    }
    fn disarm(&mut self, k: u32) {
        self.cancel(&k);
    }
    fn arm_many(&mut self, timers: &[(u32, Instant)]) {
        self.insert_many(timers);
    }
    fn disarm_many(&mut self, keys: &[u32]) {
        self.cancel_many(keys);
    }
    fn arm_behind(&mut self, k: u32, at: Instant) {
        TimerQueue::arm(self, k, at);
    }
    fn disarm_behind(&mut self, k: u32) {
        TimerQueue::disarm(self, &k);
    }
    fn apply_pending(&mut self) {
        // A cancellation applies the pending operations first (this key is never armed).
        black_box(self.cancel(&u32::MAX));
    }
    fn expire(&mut self, now: Instant) -> bool {
        black_box(self.pop_expired(now)).is_some()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn lookup(&self, k: u32) -> Option<Instant> {
        self.deadline(&k)
    }
}

impl Timers for btree::BTreeTimers<u32> {
    fn make(n: usize) -> Self {
        btree::BTreeTimers::with_capacity(n)
    }
    fn arm(&mut self, k: u32, at: Instant) {
        self.insert(k, at);
    }
    fn disarm(&mut self, k: u32) {
        self.cancel(&k);
    }
    fn expire(&mut self, now: Instant) -> bool {
        black_box(self.pop_expired(now)).is_some()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn lookup(&self, k: u32) -> Option<Instant> {
        self.deadline(&k)
    }
}

fn filled(n: u32, t0: Instant) -> TimerQueue<u32> {
    filled_as(n, t0)
}

/// `n` timers with deadlines spread over 10 s, in a scrambled order.
fn filled_as<Q: Timers>(n: u32, t0: Instant) -> Q {
    let mut q = Q::make(n as usize + 1);
    for i in 0..n {
        let j = i.wrapping_mul(2_654_435_761) % n;
        q.arm(
            i,
            t0 + Duration::from_micros(u64::from(j) * 10_000_000 / u64::from(n) + 1),
        );
    }
    q
}

const SIZES: [u32; 3] = [10_000, 100_000, 1_000_000];

/// Keys per call of the batch entry points in the batched rows.
const BATCH: usize = 32;

/// Best time of 9 rounds of `f` on a fresh queue of `n` timers ([`filled_as`]), per operation
/// (`f` returns how many operations it did), in the thread's CPU time (wall time where there is
/// none), which other processes on a shared machine do not inflate.
fn per_op<Q: Timers>(n: u32, t0: Instant, mut f: impl FnMut(&mut Q, u32) -> u32) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..9 {
        let mut q = filled_as::<Q>(n, t0);
        let (cpu, wall) = (cpu_now(), Instant::now());
        let ops = f(&mut q, n);
        let took = match (cpu, cpu_now()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => wall.elapsed(),
        };
        best = best.min(took / ops.max(1));
        black_box(q.count());
    }
    best
}

/// The cost rows of a queue type at each size.
fn curve<Q: Timers>(t0: Instant) -> Vec<(&'static str, Vec<Duration>)> {
    let mut rows: Vec<(&str, Vec<Duration>)> = vec![
        ("insert + cancel", vec![]),
        ("reschedule", vec![]),
        ("expire, per timer", vec![]),
        (
            "insert + cancel, batches of 32 keys (insert_many, cancel_many)",
            vec![],
        ),
        ("reschedule, batches of 32 keys (insert_many)", vec![]),
        ("arm + disarm (write-behind, one at a time)", vec![]),
        ("reschedule by arm (write-behind, one at a time)", vec![]),
        (LOOKUP, vec![]),
        (LOOKUP_CHAINED, vec![]),
    ];
    for &n in &SIZES {
        rows[0].1.push(per_op::<Q>(n, t0, |q, n| {
            for k in n..n + 10_000 {
                q.arm(k, t0 + Duration::from_millis(u64::from(k % 10_000)));
                q.disarm(k);
            }
            10_000
        }));
        rows[1].1.push(per_op::<Q>(n, t0, |q, n| {
            for i in 0..10_000u32 {
                let k = i.wrapping_mul(2_654_435_761) % n;
                q.arm(k, t0 + Duration::from_secs(20 + u64::from(k % 7)));
            }
            10_000
        }));
        rows[2].1.push(per_op::<Q>(n, t0, |q, n| {
            // The (about) 1000 earliest timers out of n (the scrambled deadlines may repeat).
            let now = t0 + Duration::from_micros(10_000_000 * 1000 / u64::from(n));
            let mut c = 0;
            while c < 1000 && q.expire(now) {
                c += 1;
            }
            c
        }));
        // The same keys and deadlines as the two first rows, given 32 at a time to the batch
        // entry points (the B-tree takes them one by one).
        rows[3].1.push(per_op::<Q>(n, t0, |q, n| {
            let mut batch = Vec::with_capacity(BATCH);
            let mut keys = Vec::with_capacity(BATCH);
            for first in (n..n + 10_000).step_by(BATCH) {
                batch.clear();
                keys.clear();
                for k in first..(first + BATCH as u32).min(n + 10_000) {
                    batch.push((k, t0 + Duration::from_millis(u64::from(k % 10_000))));
                    keys.push(k);
                }
                q.arm_many(&batch);
                q.disarm_many(&keys);
            }
            10_000
        }));
        rows[4].1.push(per_op::<Q>(n, t0, |q, n| {
            let mut batch = Vec::with_capacity(BATCH);
            for first in (0..10_000u32).step_by(BATCH) {
                batch.clear();
                for i in first..(first + BATCH as u32).min(10_000) {
                    let k = i.wrapping_mul(2_654_435_761) % n;
                    batch.push((k, t0 + Duration::from_secs(20 + u64::from(k % 7))));
                }
                q.arm_many(&batch);
            }
            10_000
        }));
        // The keys and deadlines of the two first rows, one call each, by the write-behind
        // entry points (the B-tree has none: the same calls as the two first rows).
        rows[5].1.push(per_op::<Q>(n, t0, |q, n| {
            for k in n..n + 10_000 {
                q.arm_behind(k, t0 + Duration::from_millis(u64::from(k % 10_000)));
                q.disarm_behind(k);
            }
            q.apply_pending();
            10_000
        }));
        rows[6].1.push(per_op::<Q>(n, t0, |q, n| {
            for i in 0..10_000u32 {
                let k = i.wrapping_mul(2_654_435_761) % n;
                q.arm_behind(k, t0 + Duration::from_secs(20 + u64::from(k % 7)));
            }
            q.apply_pending();
            10_000
        }));
        // The keys of the `reschedule` rows, looked up: what an operation that answers with the
        // previous deadline cannot do without.
        rows[7].1.push(per_op::<Q>(n, t0, |q, n| {
            for i in 0..10_000u32 {
                let k = i.wrapping_mul(2_654_435_761) % n;
                black_box(q.lookup(k));
            }
            10_000
        }));
        // The same look-ups, each key depending on the answer before it: one miss at a time.
        rows[8].1.push(per_op::<Q>(n, t0, |q, n| {
            let mut carry = 0u32;
            for i in 0..10_000u32 {
                let k = (i.wrapping_mul(2_654_435_761) ^ carry) % n;
                let d = q.lookup(k);
                carry = d.map_or(0, |d| d.saturating_duration_since(t0).subsec_nanos() & 1);
            }
            black_box(carry);
            10_000
        }));
    }
    rows
}

/// The look-up row again, each key taken from the answer before it, so that no two look-ups'
/// misses overlap: a miss's whole latency per look-up.
const LOOKUP_CHAINED: &str =
    "deadline look-up, each key from the answer before (one miss at a time)";

/// The look-up row's name: [`TimerQueue::deadline`] of an armed key, one bucket read of the key
/// index and nothing written, the floor under `insert` and `cancel`, which answer with the
/// deadline they replace and so must read that bucket before they return (at 1M timers it is out
/// of cache). [`cost_curve`] prints what each row adds from 10k to 1M beside what the look-up
/// adds: consecutive look-ups overlap their misses; the chained look-up ([`LOOKUP_CHAINED`])
/// pays each miss whole.
const LOOKUP: &str = "deadline look-up (one bucket read, nothing written: the floor of `insert` and `cancel`, which answer)";

/// How the memory of a queue of a million timers is mapped, as this process's
/// `/proc/self/smaps_rollup` shows it with that queue alive: "4 KB pages" when none of it is on
/// transparent huge pages, else the share that is ("huge pages: 51 of 56 MB"); `None` where the
/// file cannot be read. At a million timers the key index (about 24 MB) is past the reach of the
/// TLB on 4 KB pages, so each operation's bucket read costs a page walk besides its cache miss;
/// with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576` glibc's
/// malloc asks for huge pages, and the rows say whether they were granted.
fn pages(t0: Instant) -> Option<String> {
    let field = |text: &str, name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let q = filled(1_000_000, t0);
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").ok();
    black_box(q.len());
    let text = text?;
    let (rss, huge) = (field(&text, "Rss:")?, field(&text, "AnonHugePages:")?);
    Some(if huge == 0 {
        "4 KB pages".to_string()
    } else {
        format!("huge pages: {} of {} MB", huge / 1024, rss / 1024)
    })
}

fn cost_curve(_c: &mut Criterion) {
    let t0 = Instant::now();
    let wheel = curve::<TimerQueue<u32>>(t0);
    let tree = curve::<btree::BTreeTimers<u32>>(t0);
    let mapped = pages(t0).map_or(String::new(), |p| format!("; {p}"));
    let ns = |d: &Duration| format!("{:.0} ns", d.as_nanos());
    for ((name, d), (_, old)) in wheel.iter().zip(&tree) {
        let growth = d[2].as_secs_f64() / d[0].as_secs_f64();
        let old_growth = old[2].as_secs_f64() / old[0].as_secs_f64();
        let cells: Vec<String> = d.iter().map(ns).collect();
        let old_cells: Vec<String> = old.iter().map(ns).collect();
        println!(
            "timers {name} at 10k / 100k / 1M live timers{mapped}: {}; 1M / 10k {growth:.2}x \
             (the B-tree it replaced, same run: {}; {old_growth:.2}x)",
            cells.join(" / "),
            old_cells.join(" / ")
        );
        println!(
            "table| `timers` | {name}, 10k / 100k / 1M live timers (CPU time, best of 9{mapped}) | {} \
             (1M / 10k: {growth:.2}x; the B-tree before: {}, {old_growth:.2}x) | {} |",
            cells.join(" / "),
            old_cells.join(" / "),
            if [LOOKUP, LOOKUP_CHAINED].contains(name) {
                "none: the floor of the single-key rows"
            } else {
                "at most 2x from 10k to 1M"
            }
        );
    }
    // What the single-key rows, which answer with the previous deadline and so wait for their
    // bucket, add at 1M over 10k, beside what the look-up alone adds (the same run).
    let rise = |d: &[Duration]| d[2].as_nanos() as i128 - d[0].as_nanos() as i128;
    let row = |name: &str| wheel.iter().find(|(n, _)| *n == name).map(|(_, d)| d);
    if let (Some(floor), Some(chained)) = (row(LOOKUP), row(LOOKUP_CHAINED)) {
        let added: Vec<String> = wheel
            .iter()
            .filter(|(name, _)| ["insert + cancel", "reschedule"].contains(name))
            .map(|(name, d)| format!("{name} +{} ns", rise(d)))
            .collect();
        println!(
            "timers at 1M over 10k live timers, single-key rows: {}; the look-up alone +{} ns, \
             one at a time +{} ns",
            added.join(", "),
            rise(floor),
            rise(chained)
        );
        println!(
            "table| `timers` | single-key rows at 1M over 10k live timers, beside the look-up \
             their answer needs (same run{mapped}) | {}; the look-up alone +{} ns, one at a time +{} ns | the look-up's \
             rise is the floor |",
            added.join(", "),
            rise(floor),
            rise(chained)
        );
    }
}

fn timers(c: &mut Criterion) {
    let t0 = Instant::now();
    let mut g = c.benchmark_group("timers");
    for &n in &SIZES {
        g.throughput(Throughput::Elements(1));
        let base = filled(n, t0);
        drop(base);
        g.bench_with_input(BenchmarkId::new("insert", n), &n, |b, &n| {
            let mut q = filled(n, t0);
            let mut k = n;
            b.iter(|| {
                // Insert a new key, then cancel it, so the live size stays n.
                q.insert(k, t0 + Duration::from_millis(u64::from(k % 10_000)));
                q.cancel(&k);
                k = k.wrapping_add(1).max(n);
            })
        });
        g.bench_with_input(BenchmarkId::new("reschedule", n), &n, |b, &n| {
            let mut q = filled(n, t0);
            let mut k = 0u32;
            b.iter(|| {
                q.insert(k, t0 + Duration::from_secs(20 + u64::from(k % 7)));
                k = (k + 1) % n;
            })
        });
        g.bench_with_input(BenchmarkId::new("expire_1000", n), &n, |b, &n| {
            b.iter_batched_ref(
                || filled(n, t0),
                |q| {
                    // Expire the 1000 earliest timers out of n (cost per batch of 1000).
                    let now = t0 + Duration::from_micros(10_000_000 * 1000 / u64::from(n));
                    let mut c = 0;
                    while let Some(x) = q.pop_expired(now) {
                        black_box(x);
                        c += 1;
                        if c == 1000 {
                            break;
                        }
                    }
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_with_input(BenchmarkId::new("next_deadline", n), &n, |b, &n| {
            let q = filled(n, t0);
            b.iter(|| black_box(q.next_deadline()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    targets = cost_curve, timers
}

/// The single insertions and cancellations of the `insert + cancel` row, for
/// `valgrind --tool=callgrind --cache-sim=yes --toggle-collect=*count_insert_cancel*`.
#[inline(never)]
fn count_insert_cancel(q: &mut TimerQueue<u32>, n: u32, t0: Instant) {
    for k in n..n + 10_000 {
        q.insert(k, t0 + Duration::from_millis(u64::from(k % 10_000)));
        q.cancel(&k);
    }
}

/// The single re-armings of the `reschedule` row (see [`count_insert_cancel`]).
#[inline(never)]
fn count_reschedule(q: &mut TimerQueue<u32>, n: u32, t0: Instant) {
    for i in 0..10_000u32 {
        let k = i.wrapping_mul(2_654_435_761) % n;
        q.insert(k, t0 + Duration::from_secs(20 + u64::from(k % 7)));
    }
}

/// The expiries of the `expire, per timer` row: the (about) 1000 earliest timers out of `n`
/// (see [`count_insert_cancel`]); how many expired.
#[inline(never)]
fn count_expire(q: &mut TimerQueue<u32>, n: u32, t0: Instant) -> u32 {
    let now = t0 + Duration::from_micros(10_000_000 * 1000 / u64::from(n));
    let mut c = 0;
    while c < 1000 && black_box(q.pop_expired(now)).is_some() {
        c += 1;
    }
    c
}

/// The `insert + cancel` row's keys and deadlines by [`TimerQueue::arm`] and
/// [`TimerQueue::disarm`] (see [`count_insert_cancel`]), every pending operation applied.
#[inline(never)]
fn count_arm_disarm(q: &mut TimerQueue<u32>, n: u32, t0: Instant) {
    for k in n..n + 10_000 {
        q.arm(k, t0 + Duration::from_millis(u64::from(k % 10_000)));
        q.disarm(&k);
    }
    black_box(q.cancel(&u32::MAX));
}

/// The `reschedule` row's re-armings by [`TimerQueue::arm`] (see [`count_insert_cancel`]).
#[inline(never)]
fn count_rearm(q: &mut TimerQueue<u32>, n: u32, t0: Instant) {
    for i in 0..10_000u32 {
        let k = i.wrapping_mul(2_654_435_761) % n;
        q.arm(k, t0 + Duration::from_secs(20 + u64::from(k % 7)));
    }
    black_box(q.cancel(&u32::MAX));
}

fn main() {
    // Count mode (`TIMERS_COUNT=N`, for callgrind or cachegrind, whose instruction and simulated
    // cache miss counts do not move with the machine's load): a queue of N timers, then the 10k
    // operations of the `insert + cancel` row, then, each on a fresh queue, those of the
    // `reschedule` row, the expiries of the `expire, per timer` row, and the two first rows' keys
    // and deadlines by `arm` and `disarm`; nothing else runs.
    if let Some(n) = std::env::var("TIMERS_COUNT")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&n| n > 0)
    {
        let t0 = Instant::now();
        let mut q = filled(n, t0);
        count_insert_cancel(&mut q, n, t0);
        let mut q2 = filled(n, t0);
        count_reschedule(&mut q2, n, t0);
        drop(q2);
        let mut q3 = filled(n, t0);
        let expired = count_expire(&mut q3, n, t0);
        let mut q4 = filled(n, t0);
        count_arm_disarm(&mut q4, n, t0);
        drop(q4);
        let mut q5 = filled(n, t0);
        count_rearm(&mut q5, n, t0);
        println!(
            "timers count mode: {n} live timers, 10k insert + cancel, 10k reschedule, \
             {expired} expired, 10k arm + disarm, 10k re-armed ({} {} {})",
            q.len(),
            q3.len(),
            q5.len()
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
