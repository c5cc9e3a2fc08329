//! The one anti-replay window of the crate, for messages numbered `(incarnation, sequence)`.
//!
//! Per sender: the incarnation last seen, the highest sequence accepted in it and a bitmap of the
//! `WIDTH` sequences just below it (the sliding window of RFC 4303 3.4.3, reset by a restart). A
//! higher incarnation is a restart and resets the window; a lower one is refused; a sequence above
//! the highest is fresh; one inside the window not yet seen is fresh (reordered); anything else is
//! a replay. Health heartbeats use a window of 0 (only increasing sequences,
//! [`crate::health::ReplayGuard`]); Home Agent cluster messages one of 64
//! ([`crate::mip::cluster::ReplayWindow`]).

/// Why a message was refused as old.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The sequence was seen already, or is below the window, in this incarnation.
    #[error(
        "stale or replayed sequence {sequence} (highest accepted {highest}) in incarnation {incarnation}"
    )]
    StaleSequence {
        /// The incarnation of the refused message.
        incarnation: u32,
        /// Its sequence.
        sequence: u64,
        /// The highest sequence accepted so far in that incarnation.
        highest: u64,
    },
    /// The incarnation is older than the one already seen.
    #[error("stale incarnation {incarnation} (current {current})")]
    StaleIncarnation {
        /// The incarnation of the refused message.
        incarnation: u32,
        /// The current incarnation of the sender.
        current: u32,
    },
}

/// What an accepted message says about its sender's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// A message not seen before in the current incarnation (or the first one from the sender).
    Fresh,
    /// A message of a newer incarnation: the sender restarted.
    Restarted {
        /// The incarnation known before.
        previous: u32,
    },
}

/// Replay state for one sender, accepting reordering of up to `WIDTH` sequences (at most 64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow<const WIDTH: u32> {
    incarnation: u32,
    highest: u64,
    /// Bit `i` set: sequence `highest - i` was accepted.
    bitmap: u64,
    seen: bool,
}

impl<const WIDTH: u32> ReplayWindow<WIDTH> {
    /// The state after accepting a first message `(incarnation, sequence)`.
    pub fn new(incarnation: u32, sequence: u64) -> Self {
        ReplayWindow {
            incarnation,
            highest: sequence,
            bitmap: 1,
            seen: true,
        }
    }

    /// The sender's current incarnation (0 before any message).
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The highest sequence accepted in the current incarnation.
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Whether `(incarnation, sequence)` would be accepted, without changing the state.
    pub fn check(&self, incarnation: u32, sequence: u64) -> Result<Freshness, ReplayError> {
        if !self.seen {
            return Ok(Freshness::Fresh);
        }
        if incarnation > self.incarnation {
            return Ok(Freshness::Restarted {
                previous: self.incarnation,
            });
        }
        if incarnation < self.incarnation {
            return Err(ReplayError::StaleIncarnation {
                incarnation,
                current: self.incarnation,
            });
        }
        let age = self.highest.checked_sub(sequence);
        match age {
            None => Ok(Freshness::Fresh),
            Some(age)
                if age > 0 && age < u64::from(WIDTH.min(64)) && self.bitmap & (1 << age) == 0 =>
            {
                Ok(Freshness::Fresh)
            }
            Some(_) => Err(ReplayError::StaleSequence {
                incarnation,
                sequence,
                highest: self.highest,
            }),
        }
    }

    /// Checks and, when accepted, records `(incarnation, sequence)`. A refusal leaves the state
    /// unchanged. Call it only once the message has authenticated.
    #[inline]
    pub fn accept(&mut self, incarnation: u32, sequence: u64) -> Result<Freshness, ReplayError> {
        // The usual case first: the next message in order of the incarnation seen (fresh, the
        // window slides up to it), as the general path below would find and record it.
        if self.seen && incarnation == self.incarnation && sequence > self.highest {
            let shift = sequence - self.highest;
            self.bitmap = self.bitmap.checked_shl(shift.min(64) as u32).unwrap_or(0) | 1;
            self.highest = sequence;
            return Ok(Freshness::Fresh);
        }
        self.accept_slow(incarnation, sequence)
    }

    /// [`ReplayWindow::accept`] of a message not in order (or the first, or of another
    /// incarnation).
    #[inline(never)]
    fn accept_slow(&mut self, incarnation: u32, sequence: u64) -> Result<Freshness, ReplayError> {
        let f = self.check(incarnation, sequence)?;
        if !self.seen || incarnation > self.incarnation {
            *self = ReplayWindow::new(incarnation, sequence);
        } else if sequence > self.highest {
            let shift = sequence - self.highest;
            self.bitmap = self.bitmap.checked_shl(shift.min(64) as u32).unwrap_or(0) | 1;
            self.highest = sequence;
        } else {
            self.bitmap |= 1 << (self.highest - sequence);
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::{Freshness, ReplayError, ReplayWindow};

    #[test]
    fn window_of_64_accepts_reordering_once_and_refuses_below_it() {
        // RFC 4303 3.4.3: a number inside the window not yet received passes; a duplicate or one
        // to the left of the window is refused.
        let mut w = ReplayWindow::<64>::default();
        assert_eq!(w.accept(1, 100), Ok(Freshness::Fresh));
        assert_eq!(w.accept(1, 98), Ok(Freshness::Fresh));
        assert!(w.accept(1, 98).is_err());
        assert!(w.accept(1, 100).is_err());
        assert_eq!(w.accept(1, 163), Ok(Freshness::Fresh));
        assert!(w.accept(1, 99).is_err(), "age 64 is outside");
        assert_eq!(w.accept(1, 165), Ok(Freshness::Fresh));
        assert_eq!(w.accept(1, 102), Ok(Freshness::Fresh), "age 63 is inside");
        assert!(w.accept(1, 102).is_err());
        assert_eq!(w.accept(1, 1000), Ok(Freshness::Fresh));
        assert!(w.check(1, 998).is_ok());
        assert_eq!(w.accept(2, 0), Ok(Freshness::Restarted { previous: 1 }));
        assert_eq!(
            w.check(1, 5000),
            Err(ReplayError::StaleIncarnation {
                incarnation: 1,
                current: 2
            })
        );
    }

    /// The general path alone (what `accept` was before its in-order fast path).
    fn accept_reference<const W: u32>(
        w: &mut ReplayWindow<W>,
        incarnation: u32,
        sequence: u64,
    ) -> Result<Freshness, ReplayError> {
        w.accept_slow(incarnation, sequence)
    }

    proptest::proptest! {
        /// `accept` (with its in-order fast path) answers and records as the general path,
        /// over any messages: in order, reordered, replayed, far ahead, restarts.
        #[test]
        fn the_in_order_fast_path_accepts_as_the_general_path(
            msgs in proptest::collection::vec((0u32..3, 0u64..200, proptest::bool::ANY), 1..200),
        ) {
            let (mut fast, mut slow) = (ReplayWindow::<64>::default(), ReplayWindow::<64>::default());
            let (mut fast0, mut slow0) = (ReplayWindow::<0>::default(), ReplayWindow::<0>::default());
            let mut last = 0u64;
            for (inc, step, ahead) in msgs {
                // Mostly in order (the fast path), else anywhere near.
                let seq = if ahead { last + step % 3 + 1 } else { step };
                last = last.max(seq);
                proptest::prop_assert_eq!(fast.accept(inc, seq), accept_reference(&mut slow, inc, seq));
                proptest::prop_assert_eq!(fast, slow);
                proptest::prop_assert_eq!(fast0.accept(inc, seq), accept_reference(&mut slow0, inc, seq));
                proptest::prop_assert_eq!(fast0, slow0);
            }
        }
    }

    #[test]
    fn window_of_0_accepts_only_increasing_sequences() {
        let mut w = ReplayWindow::<0>::new(3, 10);
        assert!(w.accept(3, 9).is_err());
        assert!(w.accept(3, 10).is_err());
        assert_eq!(w.accept(3, 12), Ok(Freshness::Fresh));
        assert_eq!(
            w.check(3, 11),
            Err(ReplayError::StaleSequence {
                incarnation: 3,
                sequence: 11,
                highest: 12
            })
        );
    }
}
