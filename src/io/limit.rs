//! A token bucket bounding the answers an endpoint sends to unauthenticated or unknown traffic
//! (GTP-U Error Indications and Version Not Supported, L2TP refusals, Mobile IP refusals), so that
//! a flood of forged packets cannot be turned into an equal flood of answers towards a victim.
//!
//! Time only enters as an argument: the bucket refills from the `now` of each call, so it needs
//! no timer.

use std::time::{Duration, Instant};

/// A rate limit: at most `burst` answers at once, refilled at `per_second` answers per second.
///
/// `per_second == 0` or `burst == 0` disables the answers altogether (every one is suppressed
/// and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained answers per second.
    pub per_second: u32,
    /// Answers that may leave at once after a quiet period (the bucket's depth).
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` answers per second, bursts of `burst`.
    pub const fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit { per_second, burst }
    }

    /// No answers at all.
    pub const DISABLED: RateLimit = RateLimit {
        per_second: 0,
        burst: 0,
    };
}

impl Default for RateLimit {
    /// 100 answers per second, bursts of 20.
    fn default() -> Self {
        RateLimit::new(100, 20)
    }
}

const NANOS: u128 = 1_000_000_000;

/// The state of one [`RateLimit`]: tokens are counted in billionths so that refills at any rate
/// are exact with integer arithmetic.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    limit: RateLimit,
    /// Tokens held, in billionths of a token.
    nanotokens: u128,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> TokenBucket {
        TokenBucket {
            limit,
            nanotokens: u128::from(limit.burst) * NANOS,
            last: now,
        }
    }

    /// Takes one token if there is one: whether the answer may leave.
    pub fn take(&mut self, now: Instant) -> bool {
        let cap = u128::from(self.limit.burst) * NANOS;
        let elapsed = now
            .checked_duration_since(self.last)
            .unwrap_or(Duration::ZERO);
        // Only move `last` forward when time did, so a `now` that goes backwards (a caller bug)
        // refills nothing.
        if now > self.last {
            self.last = now;
        }
        let refill = elapsed
            .as_nanos()
            .saturating_mul(u128::from(self.limit.per_second));
        self.nanotokens = self.nanotokens.saturating_add(refill).min(cap);
        if self.nanotokens >= NANOS {
            self.nanotokens -= NANOS;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateLimit::new(10, 3), t0);
        assert_eq!((0..10).filter(|_| b.take(t0)).count(), 3);
        // 10 per second: one token every 100 ms.
        assert!(!b.take(t0 + Duration::from_millis(99)));
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(150)));
        // A long quiet period refills only up to the burst.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| b.take(later)).count(), 3);
    }

    #[test]
    fn disabled_never_answers() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateLimit::DISABLED, t0);
        assert!(!b.take(t0));
        assert!(!b.take(t0 + Duration::from_secs(10)));
    }
}
