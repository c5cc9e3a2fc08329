//! The seeded random source of every endpoint.

use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};

/// The operating system could not supply the 32 bytes of an endpoint's seed (the configuration
/// asked for an OS seed with `seed: None`). Every endpoint's `new` returns it inside its own
/// configuration error; the endpoint is not built, nothing panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system supplied no entropy for the seed")]
pub struct EntropyError;

/// The seed of a configuration, for tests and simulations: `Some` of the 32 bytes that
/// [`Rng::seed_from_u64`]`(n)` expands `n` to, so an endpoint configured with `seed(n)` draws
/// exactly the stream that `Rng::seed_from_u64(n)` gives.
///
/// A run is then replayable from `n`. Production configurations leave the seed `None` (drawn from
/// the operating system at `new`): tunnel challenges and hidden-AVP Random Vectors must not be
/// predictable (RFC 2661 4.3 and 5.1.1, citing RFC 1750), and neither should ids two endpoints
/// pick independently.
pub fn seed(n: u64) -> Option<[u8; 32]> {
    Some(Rng::seed_bytes(n))
}

/// A deterministic random number generator (ChaCha12) seeded by the caller.
///
/// Endpoints take an optional 32-byte seed in their configuration and draw every random value
/// (tunnel ids, challenges, random vectors, selection among equals) from it: `None` (the default)
/// reads 32 bytes from the operating system once, when the endpoint is built ([`Rng::from_config`]);
/// `Some(seed)` makes the run reproducible from its seed (tests and simulations, see [`seed`]).
#[derive(Clone, Debug)]
pub struct Rng(ChaCha12Rng);

impl Rng {
    /// The generator of an endpoint from its configuration's seed: `Some(seed)` gives
    /// [`Rng::from_seed`]`(seed)`; `None` reads 32 bytes from the operating system (`getrandom`),
    /// once, and fails with [`EntropyError`] if it has none. RFC 2661 4.3 and 5.1.1 (with RFC
    /// 1750) ask for unpredictable challenges and Random Vectors, which a constant default seed
    /// would not give.
    pub fn from_config(seed: Option<[u8; 32]>) -> Result<Rng, EntropyError> {
        let seed = match seed {
            Some(seed) => seed,
            None => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|_| EntropyError)?;
                seed
            }
        };
        Ok(Rng::from_seed(seed))
    }

    /// The 32 bytes that [`Rng::seed_from_u64`]`(n)` expands `n` to: `Rng::from_seed(seed_bytes(n))`
    /// and `Rng::seed_from_u64(n)` give the same stream.
    pub fn seed_bytes(n: u64) -> [u8; 32] {
        ChaCha12Rng::seed_from_u64(n).get_seed()
    }

    /// A generator with this one's seed and position on another ChaCha stream (`stream`): for a
    /// value that must not consume or depend on the protocol's draws (a hash seed).
    pub(crate) fn other_stream(&self, stream: u64) -> Rng {
        let mut r = self.0.clone();
        r.set_stream(stream);
        Rng(r)
    }

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
    fn seed_n_replays_seed_from_u64_n() {
        // The regression seeds of the suite were written as `seed: n` with the stream of
        // `seed_from_u64(n)`; `seed(n)` must keep them valid.
        for n in [0u64, 1, 7, 0x5052_4f43, u64::MAX] {
            let mut a = Rng::seed_from_u64(n);
            let mut b = Rng::from_config(seed(n)).unwrap();
            let xa: Vec<u64> = (0..64).map(|_| a.next_u64()).collect();
            let xb: Vec<u64> = (0..64).map(|_| b.next_u64()).collect();
            assert_eq!(xa, xb, "seed {n}");
        }
        assert_ne!(Rng::seed_bytes(0), Rng::seed_bytes(1));
    }

    #[test]
    fn no_seed_reads_the_os() {
        // Two generators seeded from the OS: 2^-256 chance of equal seeds.
        let mut a = Rng::from_config(None).unwrap();
        let mut b = Rng::from_config(None).unwrap();
        assert_ne!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn other_stream_leaves_the_main_stream_alone() {
        let mut a = Rng::from_config(seed(9)).unwrap();
        let mut h = a.other_stream(1);
        let mut b = Rng::seed_from_u64(9);
        assert_ne!(h.next_u64(), b.clone().next_u64());
        assert_eq!(a.next_u64(), b.next_u64());
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
