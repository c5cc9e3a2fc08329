//! Timer queue cost: insert, cancel and expire at 10k, 100k and 1M live timers.
//!
//! Besides criterion's figures, `cost_curve` times each operation in plain loops (best of 5
//! rounds) at each size and prints the per-operation cost and its growth from 10k to 1M, also as
//! `table|` lines for `scripts/bench-table`.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use telcp::TimerQueue;

fn filled(n: u32, t0: Instant) -> TimerQueue<u32> {
    let mut q = TimerQueue::with_capacity(n as usize + 1);
    // Spread deadlines over 10 s, in a scrambled order.
    for i in 0..n {
        let j = i.wrapping_mul(2_654_435_761) % n;
        q.insert(
            i,
            t0 + Duration::from_micros(u64::from(j) * 10_000_000 / u64::from(n) + 1),
        );
    }
    q
}

/// This thread's CPU time (Linux `/proc/thread-self/schedstat`, nanoseconds on CPU), which a
/// shared machine's other processes do not inflate; `None` elsewhere.
fn cpu_now() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(
        s.split_whitespace().next()?.parse().ok()?,
    ))
}

/// The CPU time `f` takes on this thread (wall time where CPU time is not available).
fn cpu_time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let (c, w) = (cpu_now(), Instant::now());
    let r = f();
    let took = match (c, cpu_now()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => w.elapsed(),
    };
    (took, r)
}

const SIZES: [u32; 3] = [10_000, 100_000, 1_000_000];

/// Best CPU time of 5 rounds of `f` on a fresh queue of `n` timers ([`filled`]), per operation (`f`
/// returns how many operations it did).
fn per_op(n: u32, t0: Instant, mut f: impl FnMut(&mut TimerQueue<u32>, u32) -> u32) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let mut q = filled(n, t0);
        let (took, ops) = cpu_time(|| f(&mut q, n));
        let took = took / ops.max(1);
        best = best.min(took);
        black_box(q.len());
    }
    best
}

fn cost_curve(_c: &mut Criterion) {
    let t0 = Instant::now();
    let mut rows: Vec<(&str, Vec<Duration>)> = vec![
        ("insert + cancel", vec![]),
        ("reschedule", vec![]),
        ("expire, per timer", vec![]),
    ];
    for &n in &SIZES {
        rows[0].1.push(per_op(n, t0, |q, n| {
            for k in n..n + 10_000 {
                q.insert(k, t0 + Duration::from_millis(u64::from(k % 10_000)));
                q.cancel(&k);
            }
            10_000
        }));
        rows[1].1.push(per_op(n, t0, |q, n| {
            for i in 0..10_000u32 {
                let k = i.wrapping_mul(2_654_435_761) % n;
                q.insert(k, t0 + Duration::from_secs(20 + u64::from(k % 7)));
            }
            10_000
        }));
        rows[2].1.push(per_op(n, t0, |q, n| {
            // The (about) 1000 earliest timers out of n (the scrambled deadlines may repeat).
            let now = t0 + Duration::from_micros(10_000_000 * 1000 / u64::from(n));
            let mut c = 0;
            while c < 1000 && black_box(q.pop_expired(now)).is_some() {
                c += 1;
            }
            c
        }));
    }
    let ns = |d: &Duration| format!("{:.0} ns", d.as_nanos());
    for (name, d) in &rows {
        let growth = d[2].as_secs_f64() / d[0].as_secs_f64();
        let cells: Vec<String> = d.iter().map(ns).collect();
        println!(
            "timers {name} at 10k / 100k / 1M live timers: {}; 1M / 10k {growth:.2}x",
            cells.join(" / ")
        );
        println!(
            "table| `timers` | {name}, 10k / 100k / 1M live timers | {} (1M / 10k: {growth:.2}x) | \
             at most 2x from 10k to 1M |",
            cells.join(" / ")
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
criterion_main!(benches);
