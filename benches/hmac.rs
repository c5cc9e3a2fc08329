//! HMAC-MD5 one tag at a time (the `hmac`/`md-5` crates, [`HmacMd5Key::tag`]) against the
//! multi-lane [`telcp::io::md5x::hmac_md5_many`] in groups of the build's widest,
//! [`telcp::io::md5x::GROUP`] lanes (eight; sixteen where the build enables AVX2), on the message
//! sizes telcp authenticates: a
//! Mobile IP Registration Request up to its MN-HA authenticator (48 octets, one block) and a
//! cluster envelope (200 octets, four blocks).
//!
//! Besides criterion's figures, an interleaved timing pass prints ns per tag for both and the
//! ratio from the same run, as a `table|` line for `scripts/bench-table`.

#[path = "common/cpu.rs"]
mod cpu;

use cpu::cpu_now;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use telcp::io::HmacMd5Key;
use telcp::io::md5x::{GROUP, hmac_md5_lanes4, hmac_md5_many};

/// Tags per timed pass.
const TAGS: usize = 40_000;

fn keys() -> [HmacMd5Key; GROUP] {
    std::array::from_fn(|i| HmacMd5Key::new(&[i as u8 + 1; 16]))
}

fn scalar(keys: &[HmacMd5Key; GROUP], msgs: &[Vec<u8>; GROUP]) -> u64 {
    let mut acc = 0u64;
    for i in 0..TAGS / GROUP {
        for (k, m) in keys.iter().zip(msgs) {
            acc += u64::from(black_box(k).tag(black_box(m))[i & 15]);
        }
    }
    acc
}

/// The same tags [`GROUP`] lanes at a time ([`hmac_md5_many`] over one group).
fn lanes(keys: &[HmacMd5Key; GROUP], msgs: &[Vec<u8>; GROUP]) -> u64 {
    let k: [&HmacMd5Key; GROUP] = std::array::from_fn(|l| &keys[l]);
    let m: [&[u8]; GROUP] = std::array::from_fn(|l| &msgs[l][..]);
    let mut acc = 0u64;
    for i in 0..TAGS / GROUP {
        let mut tags = [[0; 16]; GROUP];
        hmac_md5_many(black_box(&k), black_box(&m), &mut tags);
        for t in tags {
            acc += u64::from(t[i & 15]);
        }
    }
    acc
}

/// The same tags four lanes at a time ([`hmac_md5_lanes4`]).
fn lanes4(keys: &[HmacMd5Key; GROUP], msgs: &[Vec<u8>; GROUP]) -> u64 {
    let mut acc = 0u64;
    for i in 0..TAGS / GROUP {
        for h in (0..GROUP).step_by(4) {
            let k: [&HmacMd5Key; 4] = std::array::from_fn(|l| &keys[h + l]);
            let m: [&[u8]; 4] = std::array::from_fn(|l| &msgs[h + l][..]);
            for t in hmac_md5_lanes4(black_box(k), black_box(m)) {
                acc += u64::from(t[i & 15]);
            }
        }
    }
    acc
}

/// Best CPU nanoseconds (wall time where CPU time is not available) per tag of `a` and `b` over
/// interleaved rounds (a, b, a, b, ...).
fn interleaved(a: &dyn Fn() -> u64, b: &dyn Fn() -> u64) -> (f64, f64) {
    let mut best = [Duration::MAX; 2];
    for _ in 0..15 {
        for (f, best) in [a, b].iter().zip(best.iter_mut()) {
            let (c, t) = (cpu_now(), Instant::now());
            black_box(f());
            let took = match (c, cpu_now()) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => t.elapsed(),
            };
            *best = (*best).min(took);
        }
    }
    best.map(|d| d.as_nanos() as f64 / TAGS as f64).into()
}

fn hmac(c: &mut Criterion) {
    let keys = keys();
    let mut rows = Vec::new();
    for len in [48usize, 200] {
        let msgs: [Vec<u8>; GROUP] = std::array::from_fn(|l| vec![l as u8; len]);
        let (one, many) = interleaved(&|| scalar(&keys, &msgs), &|| lanes(&keys, &msgs));
        let (four, many2) = interleaved(&|| lanes4(&keys, &msgs), &|| lanes(&keys, &msgs));
        println!(
            "hmac-md5 {len} octets (CPU time): one at a time {one:.1} ns/tag, {GROUP} lanes {many:.1} ns/tag, \
             ratio {:.2}x; 4 lanes {four:.1} ns/tag against {GROUP} lanes {many2:.1} ns/tag \
             (same rounds), ratio {:.2}x",
            one / many,
            four / many2
        );
        rows.push(format!(
            "{len} B: {one:.0} -> {many:.0} ns/tag ({:.2}x)",
            one / many
        ));
        let mut g = c.benchmark_group(format!("hmac_md5_{len}"));
        g.bench_function(format!("one_at_a_time_x{GROUP}"), |b| {
            b.iter(|| {
                for (k, m) in keys.iter().zip(&msgs) {
                    black_box(k.tag(black_box(m)));
                }
            })
        });
        g.bench_function(format!("lanes_x{GROUP}"), |b| {
            let k: [&HmacMd5Key; GROUP] = std::array::from_fn(|l| &keys[l]);
            let m: [&[u8]; GROUP] = std::array::from_fn(|l| &msgs[l][..]);
            b.iter(|| {
                let mut tags = [[0; 16]; GROUP];
                hmac_md5_many(black_box(&k), black_box(&m), &mut tags);
                black_box(tags)
            })
        });
        g.finish();
    }
    println!(
        "table| `hmac` | HMAC-MD5, {GROUP} lanes ({}) vs one at a time (same run) | {} | faster \
         than one at a time |",
        telcp::io::md5x::ISA,
        rows.join("; ")
    );
}

criterion_group!(benches, hmac);
criterion_main!(benches);
