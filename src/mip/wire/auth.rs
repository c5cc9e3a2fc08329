//! Registration authenticators and security associations.
//!
//! The authenticator of an authentication extension protects the UDP payload from the type octet
//! through every earlier extension and this extension's type, length and SPI (RFC 5944 section
//! 3.5.1). The default algorithm is HMAC-MD5 (RFC 2104, as RFC 3344 and 5944 require). RFC 2002's
//! prefix+suffix keyed MD5 (`MD5(key || data || key)`) is available only when a table opts in
//! ([`SaTable::allow_keyed_md5`]), for old peers.

use super::{ExtensionType, Message};
use crate::io::HmacMd5Key;
use md5::{Digest, Md5};
use std::collections::HashMap;

/// Length of the authenticators this module computes.
pub const AUTHENTICATOR_LEN: usize = 16;

/// SPIs 0..=255 are reserved (RFC 5944 section 1.6).
pub const FIRST_USABLE_SPI: u32 = 256;

/// An authentication algorithm.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum AuthAlgorithm {
    /// HMAC-MD5 (RFC 2104), the default of RFC 3344/5944.
    #[default]
    HmacMd5,
    /// RFC 2002 prefix+suffix keyed MD5, `MD5(key || data || key)`. Weak; opt-in only.
    KeyedMd5PrefixSuffix,
}

/// An authentication failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The required authentication extension is absent (index of where it was looked for).
    #[error("no authentication extension at index {index}")]
    Missing {
        /// Index looked at.
        index: usize,
    },
    /// No security association has this SPI.
    #[error("no security association for SPI {spi}")]
    UnknownSpi {
        /// The SPI in the message.
        spi: u32,
    },
    /// The association uses an algorithm this table has not enabled.
    #[error("algorithm of SPI {spi} not enabled")]
    AlgorithmDisabled {
        /// The SPI.
        spi: u32,
    },
    /// The authenticator does not match.
    #[error("authenticator mismatch for SPI {spi}")]
    Mismatch {
        /// The SPI.
        spi: u32,
    },
    /// The raw bytes given are shorter than the message.
    #[error("raw message truncated: {got} bytes, {needed} needed")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
}

/// A mobility security association: SPI, algorithm and key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecurityAssociation {
    /// Security Parameter Index (256 and up).
    pub spi: u32,
    /// Authentication algorithm.
    pub algorithm: AuthAlgorithm,
    /// The shared key.
    pub key: Vec<u8>,
}

impl std::fmt::Debug for SecurityAssociation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityAssociation")
            .field("spi", &self.spi)
            .field("algorithm", &self.algorithm)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SecurityAssociation {
    /// An association: `spi` from [`FIRST_USABLE_SPI`] (256) up, 0-255 being reserved (RFC 5944
    /// section 1.6), and a key of at least 16 octets (RFC 5944 section 5.1). Not checked here
    /// but by the roles given it, all three alike:
    /// [`HomeAgent::new`](crate::mip::HomeAgent::new),
    /// [`ForeignAgent::new`](crate::mip::ForeignAgent::new) and
    /// [`MobileNodeClient::new`](crate::mip::MobileNodeClient::new) each refuse a lower SPI
    /// ([`ConfigError::OutOfRange`](crate::mip::ConfigError::OutOfRange) naming
    /// [`ConfigField::Spi`](crate::mip::ConfigField::Spi)) and a shorter key
    /// ([`ConfigError::KeyTooShort`](crate::mip::ConfigError::KeyTooShort)); [`SaTable::insert`]
    /// refuses a lower SPI ([`SaError::ReservedSpi`]).
    pub fn new(spi: u32, algorithm: AuthAlgorithm, key: Vec<u8>) -> Self {
        SecurityAssociation {
            spi,
            algorithm,
            key,
        }
    }

    /// This association's key, prepared for repeated use.
    pub fn prepare(&self) -> PreparedKey {
        PreparedKey::new(self.algorithm, &self.key)
    }

    /// The authenticator of `covered` under this association.
    pub fn compute(&self, covered: &[u8]) -> [u8; AUTHENTICATOR_LEN] {
        compute(self.algorithm, &self.key, covered)
    }
}

/// A key made ready for repeated use: for HMAC-MD5 only the keyed inner and outer MD5 states,
/// computed once (32 octets, so each authenticator costs only the message's own MD5 blocks); for
/// keyed MD5 the key itself. Its `Debug` hides the key and the states derived from it.
#[derive(Clone)]
pub struct PreparedKey(Prepared);

/// What a [`PreparedKey`] holds, by algorithm.
#[derive(Clone)]
enum Prepared {
    HmacMd5(HmacMd5Key),
    /// The key (shared by clones: the Home Agent copies associations out of its table).
    KeyedMd5PrefixSuffix(std::sync::Arc<[u8]>),
}

impl std::fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedKey")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl PreparedKey {
    /// Prepares `key` for `algorithm`.
    pub fn new(algorithm: AuthAlgorithm, key: &[u8]) -> Self {
        PreparedKey(match algorithm {
            AuthAlgorithm::HmacMd5 => Prepared::HmacMd5(HmacMd5Key::new(key)),
            AuthAlgorithm::KeyedMd5PrefixSuffix => Prepared::KeyedMd5PrefixSuffix(key.into()),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> AuthAlgorithm {
        match self.0 {
            Prepared::HmacMd5(_) => AuthAlgorithm::HmacMd5,
            Prepared::KeyedMd5PrefixSuffix(_) => AuthAlgorithm::KeyedMd5PrefixSuffix,
        }
    }

    /// The HMAC-MD5 key, when that is the algorithm (for multi-lane computation,
    /// [`crate::io::md5x`]).
    pub(crate) fn hmac_md5(&self) -> Option<&HmacMd5Key> {
        match &self.0 {
            Prepared::HmacMd5(h) => Some(h),
            Prepared::KeyedMd5PrefixSuffix(_) => None,
        }
    }

    /// The authenticator of `covered`; equal to [`compute`] with the same algorithm and key.
    pub fn compute(&self, covered: &[u8]) -> [u8; AUTHENTICATOR_LEN] {
        match &self.0 {
            Prepared::HmacMd5(h) => h.tag(covered),
            Prepared::KeyedMd5PrefixSuffix(k) => {
                compute(AuthAlgorithm::KeyedMd5PrefixSuffix, k, covered)
            }
        }
    }

    /// Verifies `authenticator` over `covered` in constant time.
    pub fn verify(&self, covered: &[u8], authenticator: &[u8]) -> bool {
        // `ct_eq` over the 16 bytes costs a few nanoseconds where `verify_slice`'s byte-wise
        // `subtle` comparison costs tens.
        ct_eq(&self.compute(covered), authenticator)
    }
}

/// Computes an authenticator over `covered`.
pub fn compute(algorithm: AuthAlgorithm, key: &[u8], covered: &[u8]) -> [u8; AUTHENTICATOR_LEN] {
    match algorithm {
        AuthAlgorithm::HmacMd5 => HmacMd5Key::new(key).tag(covered),
        AuthAlgorithm::KeyedMd5PrefixSuffix => {
            let mut h = Md5::new();
            h.update(key);
            h.update(covered);
            h.update(key);
            h.finalize().into()
        }
    }
}

pub use crate::io::ct_eq;

/// Verifies `authenticator` over `covered` in constant time.
pub fn verify(algorithm: AuthAlgorithm, key: &[u8], covered: &[u8], authenticator: &[u8]) -> bool {
    // Both algorithms: the crate's one constant-time compare (`compute` never fails: HMAC takes
    // keys of any length).
    ct_eq(&compute(algorithm, key, covered), authenticator)
}

/// Security associations looked up by SPI. Bounded by what the caller inserts (configuration).
#[derive(Clone, Debug, Default)]
pub struct SaTable {
    by_spi: HashMap<u32, SecurityAssociation>,
    keyed_md5: bool,
}

/// Why an association was refused by [`SaTable::insert`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaError {
    /// SPIs below 256 are reserved.
    #[error("SPI {0} is reserved")]
    ReservedSpi(u32),
    /// An empty key.
    #[error("empty key for SPI {0}")]
    EmptyKey(u32),
}

impl SaTable {
    /// An empty table (HMAC-MD5 only).
    pub fn new() -> Self {
        Self::default()
    }

    /// Opts in to RFC 2002 prefix+suffix keyed MD5 associations.
    pub fn allow_keyed_md5(&mut self, allow: bool) {
        self.keyed_md5 = allow;
    }

    /// Adds or replaces an association.
    pub fn insert(&mut self, sa: SecurityAssociation) -> Result<(), SaError> {
        if sa.spi < FIRST_USABLE_SPI {
            return Err(SaError::ReservedSpi(sa.spi));
        }
        if sa.key.is_empty() {
            return Err(SaError::EmptyKey(sa.spi));
        }
        self.by_spi.insert(sa.spi, sa);
        Ok(())
    }

    /// The association with this SPI.
    pub fn get(&self, spi: u32) -> Option<&SecurityAssociation> {
        self.by_spi.get(&spi)
    }

    /// Number of associations.
    pub fn len(&self) -> usize {
        self.by_spi.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_spi.is_empty()
    }

    /// Verifies the first extension of type `ext_type` of `msg` (parsed from `raw`): looks its SPI
    /// up, checks the algorithm is enabled, compares in constant time. Returns the association.
    pub fn verify(
        &self,
        msg: &Message<'_>,
        raw: &[u8],
        ext_type: ExtensionType,
    ) -> Result<&SecurityAssociation, AuthError> {
        let index = msg
            .position(ext_type)
            .ok_or(AuthError::Missing { index: usize::MAX })?;
        let (spi, _) = msg
            .extensions
            .get(index)
            .and_then(|e| e.spi_and_authenticator())
            .ok_or(AuthError::Missing { index })?;
        let sa = self.get(spi).ok_or(AuthError::UnknownSpi { spi })?;
        if sa.algorithm == AuthAlgorithm::KeyedMd5PrefixSuffix && !self.keyed_md5 {
            return Err(AuthError::AlgorithmDisabled { spi });
        }
        msg.verify(raw, index, sa)?;
        Ok(sa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_prepared_key_holds_no_copy_of_an_hmac_key() {
        // HMAC-MD5: the two 16-octet pad states; keyed MD5: a shared pointer to the key.
        assert!(std::mem::size_of::<PreparedKey>() <= 40);
        let k = PreparedKey::new(AuthAlgorithm::HmacMd5, b"secret key octets");
        let shown = format!("{k:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("HmacMd5"), "{shown}");
    }

    proptest! {
        /// A prepared key's authenticator is the one computed from the key each time, for both
        /// algorithms; HMAC-MD5's is the `hmac` crate's (RFC 2104), keyed MD5's is
        /// `MD5(key || data || key)` (RFC 2002).
        #[test]
        fn prepared_equals_computed(
            key in proptest::collection::vec(any::<u8>(), 1..100),
            data in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<Md5>::new_from_slice(&key).unwrap();
            mac.update(&data);
            let want: [u8; 16] = mac.finalize().into_bytes().into();
            let h = PreparedKey::new(AuthAlgorithm::HmacMd5, &key);
            prop_assert_eq!(h.algorithm(), AuthAlgorithm::HmacMd5);
            prop_assert_eq!(h.compute(&data), want);
            prop_assert_eq!(compute(AuthAlgorithm::HmacMd5, &key, &data), want);
            prop_assert!(h.verify(&data, &want));
            let keyed: [u8; 16] = Md5::digest([&key[..], &data, &key].concat()).into();
            let p = PreparedKey::new(AuthAlgorithm::KeyedMd5PrefixSuffix, &key);
            prop_assert_eq!(p.algorithm(), AuthAlgorithm::KeyedMd5PrefixSuffix);
            prop_assert!(p.hmac_md5().is_none());
            prop_assert_eq!(p.compute(&data), keyed);
            prop_assert!(p.verify(&data, &keyed));
            prop_assert!(!p.verify(&data, &want) || keyed == want);
        }
    }
}
