//! Seed sweeps of the scenario tests: how many seeds, from which, and a loop that runs every seed
//! to its end and names the ones that failed. Included by `common` and, by path, by the test
//! crates that do not include `common` (`health`, `demo`).
#![allow(dead_code)]

/// How many seeds a scenario test runs: `TELCP_SEEDS` when set, else `default`.
pub fn seeds(default: u64) -> u64 {
    std::env::var("TELCP_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seeds of a scenario sweep: `TELCP_FIRST` (default 0) and the `count` seeds from there, so a
/// sweep can resume past a seed or replay one (`TELCP_FIRST=s TELCP_SEEDS=1` for the files that
/// read `TELCP_SEEDS`).
pub fn seed_range(count: u64) -> std::ops::Range<u64> {
    seed_range_from(0, count)
}

/// As [`seed_range`] for a loop whose fixed seeds started at `first`: `TELCP_FIRST` when set, else
/// `first`, and the `count` seeds from there.
pub fn seed_range_from(first: u64, count: u64) -> std::ops::Range<u64> {
    let first = std::env::var("TELCP_FIRST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(first);
    first..first + count
}

/// Runs `scenario` once for every seed of `seeds`, each to its end even when an earlier one
/// failed (its panic message and its seed are printed as it happens), then fails naming every
/// failed seed. A
/// line every 1,000 seeds shows a long sweep's progress (`--nocapture`).
pub fn for_each_seed(seeds: std::ops::Range<u64>, mut scenario: impl FnMut(u64)) {
    let mut failed = Vec::new();
    for seed in seeds.clone() {
        let run = std::panic::AssertUnwindSafe(|| scenario(seed));
        if std::panic::catch_unwind(run).is_err() {
            eprintln!("seed {seed} failed");
            failed.push(seed);
        }
        if seed % 1000 == 999 {
            eprintln!("seeds up to {seed}: {} failed", failed.len());
        }
    }
    assert!(
        failed.is_empty(),
        "{} failed seeds of {seeds:?}, the first: {:?}",
        failed.len(),
        &failed[..failed.len().min(20)]
    );
}
