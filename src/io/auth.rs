//! The one HMAC-MD5 key type (RFC 2104) and the authenticated envelope built on it.
//!
//! An envelope is the signed octets (a header and a body, in the codec's own format) followed by a
//! [`TAG_LEN`]-octet HMAC-MD5 trailer over all of them. Health heartbeats
//! ([`crate::health::Heartbeat`]) and virtual Home Agent cluster messages
//! ([`crate::mip::cluster::ClusterMessage`]) are envelopes; Mobile IP authenticators (RFC 5944
//! 3.5.1) use the same key type. After [`HmacMd5Key::open`] the receiver checks the header's
//! `(incarnation, sequence)` against its [`crate::io::ReplayWindow`] for the sender.
use super::md5x::{Pads, hmac_md5_one, state_after};
use md5::Md5;
use std::fmt;

/// Octets of an HMAC-MD5 tag.
pub const TAG_LEN: usize = 16;

/// The fewest octets a configured HMAC-MD5 key may have: 16 (128 bits). RFC 2104 section 3
/// strongly discourages keys shorter than the hash's output (16 octets for MD5); RFC 5944
/// section 5.1 makes HMAC-MD5 with 128-bit keys the Mobile IP default; and a cluster key is
/// also the key material of the cluster's AES-128 keys (RFC 4493, derived by
/// [`crate::replica::CmacKey::derive`]), which a shorter secret could not fill with 128 bits of
/// entropy. Configurations refuse shorter keys (`health::ConfigError::KeyTooShort`,
/// `mip::ConfigError::KeyTooShort`); [`HmacMd5Key::new`] itself takes any length, as RFC 2104
/// does.
pub const MIN_KEY_LEN: usize = 16;

/// An HMAC-MD5 key, prepared once: the keyed inner and outer states are computed in `new`, so each
/// tag costs only the message's own MD5 blocks (one at a time, or several keys' tags at once
/// through [`crate::io::md5x`]). Only those two MD5 states are kept (32 octets): neither the key
/// nor a hash object. They are derived from the key, so its `Debug` output hides them too.
#[derive(Clone)]
pub struct HmacMd5Key {
    /// MD5 states after the `ipad` and the `opad` block (RFC 2104 section 2).
    pads: Pads,
}

impl fmt::Debug for HmacMd5Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacMd5Key(..)")
    }
}

/// Why an envelope did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Shorter than the smallest header plus the tag.
    #[error("envelope truncated: {needed} more octets needed")]
    Truncated {
        /// Octets missing.
        needed: usize,
    },
    /// The trailer is not the HMAC-MD5 of the signed octets under the key.
    #[error("envelope tag at byte {offset} does not authenticate")]
    BadMac {
        /// Byte offset of the tag.
        offset: usize,
    },
}

impl HmacMd5Key {
    /// A key from any octets (HMAC accepts every key length, RFC 2104 section 3).
    pub fn new(key: &[u8]) -> HmacMd5Key {
        // RFC 2104 section 2: a key longer than the 64-octet block is replaced by its MD5.
        let mut block = [0u8; 64];
        if key.len() > block.len() {
            block[..16].copy_from_slice(&<Md5 as md5::Digest>::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |x: u8| state_after(&block.map(|b| b ^ x));
        HmacMd5Key {
            pads: (pad(0x36), pad(0x5c)),
        }
    }

    /// The MD5 states after the keyed `ipad` and `opad` blocks (the lanes' starting points).
    pub(crate) fn pad_states(&self) -> Pads {
        self.pads
    }

    /// The HMAC-MD5 of `data`.
    pub fn tag(&self, data: &[u8]) -> [u8; TAG_LEN] {
        hmac_md5_one(self.pads, data)
    }

    /// Whether `tag` is the HMAC-MD5 of `data`, compared in constant time ([`crate::io::ct_eq`]).
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        crate::io::ct_eq(&self.tag(data), tag)
    }

    /// Appends the tag of the envelope's signed octets `out` to `out`.
    pub fn seal(&self, out: &mut Vec<u8>) {
        let tag = self.tag(out);
        out.extend_from_slice(&tag);
    }

    /// Splits an envelope of at least `min_signed` signed octets into them and checks its trailer;
    /// returns the signed octets.
    pub fn open<'a>(
        &self,
        envelope: &'a [u8],
        min_signed: usize,
    ) -> Result<&'a [u8], EnvelopeError> {
        let split = envelope
            .len()
            .checked_sub(TAG_LEN)
            .filter(|n| *n >= min_signed)
            .ok_or(EnvelopeError::Truncated {
                needed: (min_signed + TAG_LEN).saturating_sub(envelope.len()),
            })?;
        let (signed, tag) = envelope.split_at(split);
        if self.verify(signed, tag) {
            Ok(signed)
        } else {
            Err(EnvelopeError::BadMac { offset: split })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EnvelopeError, HmacMd5Key};

    #[test]
    fn rfc2202_test_case_2() {
        // RFC 2202 section 2, test case 2: key "Jefe", data "what do ya want for nothing?".
        let k = HmacMd5Key::new(b"Jefe");
        let want = [
            0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d,
            0xb7, 0x38,
        ];
        assert_eq!(k.tag(b"what do ya want for nothing?"), want);
        assert!(k.verify(b"what do ya want for nothing?", &want));
        assert!(!k.verify(b"what do ya want for nothing!", &want));
    }

    #[test]
    fn only_the_two_pad_states_are_kept_and_debug_shows_neither() {
        // 32 octets: the MD5 states after the ipad and opad blocks (RFC 2104 section 2), no key
        // copy or hash object (the Home Agent holds one per mobile node).
        assert_eq!(std::mem::size_of::<HmacMd5Key>(), 32);
        let k = HmacMd5Key::new(b"Jefe");
        let (i, o) = k.pad_states();
        let shown = format!("{k:?} {k:#?}");
        for w in i.iter().chain(&o) {
            assert!(!shown.contains(&w.to_string()), "{shown}");
            assert!(!shown.contains(&format!("{w:x}")), "{shown}");
        }
    }

    proptest::proptest! {
        /// The compact key's tag is the `hmac`/`md-5` crates' HMAC-MD5 (RFC 2104) for random keys
        /// (shorter and longer than the 64-octet block) and messages (0 to 4 blocks and more).
        #[test]
        fn tag_equals_the_hmac_crate(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..150),
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<md5::Md5>::new_from_slice(&key).unwrap();
            mac.update(&data);
            let want: [u8; 16] = mac.finalize().into_bytes().into();
            let k = HmacMd5Key::new(&key);
            proptest::prop_assert_eq!(k.tag(&data), want);
            proptest::prop_assert!(k.verify(&data, &want));
            let mut bad = want;
            bad[data.len() % 16] ^= 1;
            proptest::prop_assert!(!k.verify(&data, &bad));
        }
    }

    #[test]
    fn envelope_opens_only_under_its_key() {
        let k = HmacMd5Key::new(b"k");
        let mut e = b"header+body".to_vec();
        k.seal(&mut e);
        assert_eq!(k.open(&e, 6), Ok(&b"header+body"[..]));
        assert_eq!(
            HmacMd5Key::new(b"other").open(&e, 6),
            Err(EnvelopeError::BadMac { offset: 11 })
        );
        assert_eq!(k.open(&e, 12), Err(EnvelopeError::Truncated { needed: 1 }));
        let last = e.len() - 1;
        e[last] ^= 1;
        assert!(k.open(&e, 6).is_err());
    }
}
