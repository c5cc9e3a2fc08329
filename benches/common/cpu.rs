//! Per-thread CPU time for the benches (included with `#[path]`; each bench uses what it needs).
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// This thread's CPU time (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`), which a shared machine's
/// other processes do not inflate; `None` where there is none. Not `/proc/thread-self/schedstat`:
/// the kernel updates a running thread's figure there only at scheduler ticks (every 4 ms on the
/// machine the figures come from), so a 20 ms measurement read from it is off by up to 20% and
/// comes out in multiples of 4 ms; the clock brings the running thread's figure up to date when
/// it is read.
pub fn cpu_now() -> Option<Duration> {
    #[cfg(unix)]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        let secs = u64::try_from(t.tv_sec).ok()?;
        let nanos = u32::try_from(t.tv_nsec).ok()?;
        Some(Duration::new(secs, nanos))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The CPU time `f` takes on this thread (wall time where CPU time is not available).
pub fn cpu_time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let (c, w) = (cpu_now(), Instant::now());
    let r = f();
    let took = match (c, cpu_now()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => w.elapsed(),
    };
    (took, r)
}
