//! The seeded random source of every endpoint.

use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};

/// A deterministic random number generator (ChaCha12) seeded by the caller.
///
/// Endpoints take a 32-byte seed in their configuration and draw every random value (tunnel ids,
/// challenges, random vectors, selection among equals) from it, so a run is reproducible from its
/// seed. Production callers seed from the operating system; tests seed with a constant.
#[derive(Clone, Debug)]
pub struct Rng(ChaCha12Rng);

impl Rng {
    /// A generator from a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Rng {
        Rng(ChaCha12Rng::from_seed(seed))
    }

    /// A generator from a 64-bit seed (expanded deterministically), for tests and simulations.
    pub fn seed_from_u64(seed: u64) -> Rng {
        Rng(ChaCha12Rng::seed_from_u64(seed))
    }

    /// A derived generator for a sub-component: deterministic given this generator's state.
    pub fn fork(&mut self) -> Rng {
        let mut seed = [0u8; 32];
        self.0.fill_bytes(&mut seed);
        Rng::from_seed(seed)
    }

    /// A uniformly random `u32`.
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// A uniformly random `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Fills `dest` with random bytes.
    pub fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }

    /// A uniformly random value in `0..n` (unbiased); `0` when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-and-reject method.
        let threshold = n.wrapping_neg() % n;
        loop {
            let x = self.0.next_u64();
            let m = u128::from(x) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A uniformly random value in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }

    /// `true` with probability `p` (clamped to `0.0..=1.0`).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits as a float in [0, 1).
        let x = (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    /// A random non-zero `u16` (L2TP tunnel and session ids, GTP sequence seeds).
    pub fn nonzero_u16(&mut self) -> u16 {
        loop {
            let v = (self.0.next_u32() >> 16) as u16;
            if v != 0 {
                return v;
            }
        }
    }
}

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::seed_from_u64(7);
        let mut b = Rng::seed_from_u64(7);
        let mut c = Rng::seed_from_u64(8);
        let xa: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::seed_from_u64(1);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = r.below(7) as usize;
            seen[v] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        assert_eq!(r.below(0), 0);
        assert_eq!(r.range_inclusive(5, 5), 5);
        assert!((10..=12).contains(&r.range_inclusive(10, 12)));
    }

    #[test]
    fn chance_extremes() {
        let mut r = Rng::seed_from_u64(3);
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
        let hits = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2200..2800).contains(&hits), "{hits}");
        assert_ne!(r.nonzero_u16(), 0);
    }
}
