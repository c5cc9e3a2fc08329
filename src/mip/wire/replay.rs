//! Replay protection for registrations (RFC 5944 section 5.7) and NTP time helpers.
//!
//! The crate never reads a clock: the caller passes wall-clock time in, as a [`Duration`] since
//! the Unix epoch, and [`NtpTime::from_unix`] turns it into the 64-bit NTP format the
//! identification field carries.
//!
//! * Timestamps: the request's identification is the mobile node's NTP time. The home agent accepts
//!   it when it is within a tolerance of its own time (default [`DEFAULT_TOLERANCE`], 7 s) and
//!   newer than the last identification it accepted from that mobile node. Accepted: the reply
//!   copies the whole identification. Refused (133): the reply carries the HA's time in the high
//!   32 bits and the request's low 32 bits ([`mismatch_identification`]).
//! * Nonces: the high 32 bits are the HA's nonce (the one it last sent), the low 32 bits the
//!   mobile node's. The reply carries the HA's next nonce in the high 32 bits and the request's low
//!   32 bits ([`nonce_reply_identification`]).
//! * Matching: a reply belongs to a request when their low 32 bits are equal
//!   ([`reply_matches`]); an accepted timestamp reply also repeats the high bits.

use std::time::Duration;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// The default timestamp tolerance.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(7);

/// A 64-bit NTP timestamp: seconds since 1900 in the high 32 bits, the binary fraction in the low.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// From seconds and fraction.
    pub const fn from_parts(seconds: u32, fraction: u32) -> NtpTime {
        NtpTime(((seconds as u64) << 32) | fraction as u64)
    }

    /// From wall-clock time given as the duration since the Unix epoch (era 0 wraps in 2036, as
    /// the 32-bit seconds field does).
    pub fn from_unix(since_epoch: Duration) -> NtpTime {
        let secs = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET_SECS);
        let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | (frac & 0xffff_ffff))
    }

    /// Back to the duration since the Unix epoch, or `None` before 1970 (era 0).
    pub fn to_unix(self) -> Option<Duration> {
        let secs = self.seconds() as u64;
        let secs = secs.checked_sub(NTP_UNIX_OFFSET_SECS)?;
        let nanos = ((u64::from(self.fraction()) * 1_000_000_000) >> 32) as u32;
        Some(Duration::new(secs, nanos))
    }

    /// The seconds field.
    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The fraction field.
    pub const fn fraction(self) -> u32 {
        self.0 as u32
    }
}

/// A duration in NTP fixed-point units (2^-32 s), saturating.
pub(crate) fn ntp_units(d: Duration) -> u128 {
    (u128::from(d.as_secs()) << 32) + ((u128::from(d.subsec_nanos()) << 32) / 1_000_000_000)
}

/// The replay-protection style of a security association.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum ReplayMethod {
    /// NTP timestamps (mandatory to implement).
    #[default]
    Timestamp,
    /// Nonces.
    Nonce,
}

/// Why an identification was refused (the HA answers 133).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The timestamp is too far from the HA's time.
    #[error("timestamp {got:#x} outside the tolerance around {now:#x}")]
    OutsideTolerance {
        /// The request's identification.
        got: u64,
        /// The HA's time.
        now: u64,
    },
    /// The timestamp is not newer than the last accepted one.
    #[error("identification {got:#x} not newer than {last:#x}")]
    NotNewer {
        /// The request's identification.
        got: u64,
        /// The last accepted identification.
        last: u64,
    },
    /// The high 32 bits are not the nonce the HA last sent.
    #[error("nonce {got:#x} is not the expected {expected:#x}")]
    NonceMismatch {
        /// The request's high 32 bits.
        got: u32,
        /// The HA's nonce.
        expected: u32,
    },
}

/// Checks a timestamp identification against the HA's time `now`, the `tolerance` and the last
/// identification accepted from the same mobile node.
pub fn check_timestamp(
    identification: u64,
    now: NtpTime,
    last_accepted: Option<u64>,
    tolerance: Duration,
) -> Result<(), ReplayError> {
    let diff = (i128::from(identification) - i128::from(now.0)).unsigned_abs();
    if diff > ntp_units(tolerance) {
        return Err(ReplayError::OutsideTolerance {
            got: identification,
            now: now.0,
        });
    }
    if let Some(last) = last_accepted
        && identification <= last
    {
        return Err(ReplayError::NotNewer {
            got: identification,
            last,
        });
    }
    Ok(())
}

/// Checks a nonce identification: its high 32 bits must be `expected_ha_nonce`.
pub fn check_nonce(identification: u64, expected_ha_nonce: u32) -> Result<(), ReplayError> {
    let got = (identification >> 32) as u32;
    if got == expected_ha_nonce {
        Ok(())
    } else {
        Err(ReplayError::NonceMismatch {
            got,
            expected: expected_ha_nonce,
        })
    }
}

/// The identification of a 133 reply under timestamps: the HA's seconds in the high 32 bits, the
/// request's low 32 bits.
pub const fn mismatch_identification(request_identification: u64, now: NtpTime) -> u64 {
    ((now.seconds() as u64) << 32) | (request_identification & 0xffff_ffff)
}

/// The identification of a reply under nonces: the HA's next nonce in the high 32 bits, the
/// request's low 32 bits.
pub const fn nonce_reply_identification(request_identification: u64, next_ha_nonce: u32) -> u64 {
    ((next_ha_nonce as u64) << 32) | (request_identification & 0xffff_ffff)
}

/// Whether a reply identification answers a request identification (equal low 32 bits).
pub const fn reply_matches(request_identification: u64, reply_identification: u64) -> bool {
    request_identification & 0xffff_ffff == reply_identification & 0xffff_ffff
}
