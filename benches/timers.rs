//! Timer queue cost: insert, cancel and expire at 1k, 100k and 1M live timers.

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

fn timers(c: &mut Criterion) {
    let t0 = Instant::now();
    let mut g = c.benchmark_group("timers");
    for &n in &[1_000u32, 100_000, 1_000_000] {
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
    targets = timers
}
criterion_main!(benches);
