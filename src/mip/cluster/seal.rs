//! The MN-HA key a replicated binding carries, sealed for the cluster link.
//!
//! A key from AAA ([`RecordKey`]) crosses the cluster link encrypted and authenticated with
//! XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha, RFC 8439's AEAD with a 24-octet nonce) under a
//! key derived from the cluster secret with HKDF-SHA256 (RFC 5869, no salt, info
//! [`KEY_WRAP_INFO`]). Why these:
//!
//! * The envelope's HMAC-MD5 ([`super::ClusterMac`]) authenticates the record but hides nothing:
//!   anyone on the cluster link would read every MN-HA key. The wrapping key is not the cluster
//!   secret itself but an HKDF output with a label of its own, so the MAC key and the encryption
//!   key differ and a weakness of one use does not carry to the other.
//! * XChaCha20-Poly1305 needs no AES hardware (constant time in software on every target) and
//!   its 192-bit nonce is safe to draw at random: the nonce is the sender's node id (4 octets),
//!   its incarnation (4 octets) and 16 octets from the Home Agent's caller-seeded generator (a
//!   stream of its own, so the protocol's random choices do not move). Two HAs given the same
//!   seed still never share a nonce; one HA repeats one only if it restarts with the same seed
//!   and the same incarnation, which the cluster's replay rules already forbid.
//! * The associated data binds the key to its record: home address, NAI (length octet and up to
//!   255 octets), SPI and seconds left, so a sealed key moved to another record, or given another
//!   SPI or lifetime, does not open. Poly1305's tag is checked in constant time.
//!
//! On the wire (after the record's tunnel, [`super::Record`]): a flag octet (0: no key; 2: a
//! sealed key; 1, the clear key of earlier versions, is refused), SPI (u32), seconds left (u32),
//! nonce (24 octets), key length (1-255), the ciphertext (as long as the key) and the tag (16).

use super::{ClusterError, Field, RecordKey, Secret};
use crate::io::Rng;
use crate::mip::wire::Reader;
use bytes::BufMut;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{Key, KeyInit, Tag, XChaCha20Poly1305, XNonce};
use std::net::Ipv4Addr;
use std::time::Duration;

/// HKDF-SHA256 info label of the key-wrapping key (RFC 5869 section 2.3).
pub const KEY_WRAP_INFO: &[u8] = b"telcp mip cluster v1: MN-HA key wrap";
/// XChaCha20-Poly1305 nonce length (octets).
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length (octets).
pub const TAG_LEN: usize = 16;

/// A key from AAA as a replicated record carries it: SPI and remaining lifetime in clear (both
/// bound as associated data), the key encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedKey {
    /// The security parameter index (RFC 5944 section 3.5.1).
    pub spi: u32,
    /// Time left on the key's lifetime (carried in whole seconds, saturating at `u32::MAX`).
    pub left: Duration,
    /// The nonce: sender node id, incarnation, 16 random octets.
    pub nonce: [u8; NONCE_LEN],
    /// The encrypted key, 1 to 255 octets (as long as the key).
    pub ciphertext: Box<[u8]>,
    /// The Poly1305 tag.
    pub tag: [u8; TAG_LEN],
}

/// The cluster's key-wrapping key, derived once from the cluster secret ([`KeyWrap::new`]).
#[derive(Clone)]
pub struct KeyWrap(XChaCha20Poly1305);

impl std::fmt::Debug for KeyWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyWrap(<redacted>)")
    }
}

/// The associated data of a sealed key: home address, NAI length and NAI (at most 255 octets,
/// as the record carries it), SPI and seconds left.
fn associated_data(home: Ipv4Addr, nai: Option<&[u8]>, spi: u32, secs: u32) -> Vec<u8> {
    let nai = nai.map(|n| n.get(..255).unwrap_or(n)).unwrap_or(&[]);
    let mut ad = Vec::with_capacity(4 + 1 + nai.len() + 8);
    ad.extend_from_slice(&home.octets());
    ad.push(nai.len() as u8);
    ad.extend_from_slice(nai);
    ad.extend_from_slice(&spi.to_be_bytes());
    ad.extend_from_slice(&secs.to_be_bytes());
    ad
}

fn wire_secs(left: Duration) -> u32 {
    left.as_secs().min(u64::from(u32::MAX)) as u32
}

impl KeyWrap {
    /// The wrapping key of `cluster_secret` (the HA's `cluster_key`): HKDF-SHA256 with no salt
    /// and info [`KEY_WRAP_INFO`], 32 octets.
    pub fn new(cluster_secret: &[u8]) -> KeyWrap {
        let mut okm = [0u8; 32];
        // 32 octets are far below HKDF-SHA256's limit (255 * 32): expand cannot fail.
        let _ =
            hkdf::Hkdf::<sha2::Sha256>::new(None, cluster_secret).expand(KEY_WRAP_INFO, &mut okm);
        KeyWrap(XChaCha20Poly1305::new(Key::from_slice(&okm)))
    }

    /// The nonce a sender uses: its node id and incarnation, then 16 octets from `rng`.
    pub fn nonce(node: u32, incarnation: u32, rng: &mut Rng) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        n[..4].copy_from_slice(&node.to_be_bytes());
        n[4..8].copy_from_slice(&incarnation.to_be_bytes());
        rng.fill_bytes(&mut n[8..]);
        n
    }

    /// Seals `key` for the record of `home` / `nai`. `None` for a key the record cannot carry
    /// (empty or over 255 octets).
    pub fn seal(
        &self,
        nonce: [u8; NONCE_LEN],
        home: Ipv4Addr,
        nai: Option<&[u8]>,
        key: &RecordKey,
    ) -> Option<SealedKey> {
        if !(1..=255).contains(&key.key.0.len()) {
            return None;
        }
        let secs = wire_secs(key.left);
        let ad = associated_data(home, nai, key.spi, secs);
        let mut buf = key.key.0.to_vec();
        let tag = self
            .0
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &ad, &mut buf)
            .ok()?;
        Some(SealedKey {
            spi: key.spi,
            left: Duration::from_secs(u64::from(secs)),
            nonce,
            ciphertext: buf.into(),
            tag: tag.into(),
        })
    }

    /// Opens a sealed key of the record of `home` / `nai`; [`ClusterError::KeyRefused`] when the
    /// tag does not verify (another key, another record, a changed octet).
    pub fn open(
        &self,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
        sealed: &SealedKey,
    ) -> Result<RecordKey, ClusterError> {
        let secs = wire_secs(sealed.left);
        let ad = associated_data(home, nai, sealed.spi, secs);
        let mut buf = sealed.ciphertext.to_vec();
        self.0
            .decrypt_in_place_detached(
                XNonce::from_slice(&sealed.nonce),
                &ad,
                &mut buf,
                Tag::from_slice(&sealed.tag),
            )
            .map_err(|_| ClusterError::KeyRefused)?;
        Ok(RecordKey {
            spi: sealed.spi,
            key: Secret(buf.into()),
            left: Duration::from_secs(u64::from(secs)),
        })
    }
}

/// The record's key field: flag 0 (none) or 2 (sealed), then the sealed key.
pub(super) fn put_key<B: BufMut>(out: &mut B, key: Option<&SealedKey>) {
    let Some(k) = key.filter(|k| (1..=255).contains(&k.ciphertext.len())) else {
        out.put_u8(0);
        return;
    };
    out.put_u8(2);
    out.put_u32(k.spi);
    out.put_u32(wire_secs(k.left));
    out.put_slice(&k.nonce);
    out.put_u8(k.ciphertext.len() as u8);
    out.put_slice(&k.ciphertext);
    out.put_slice(&k.tag);
}

pub(super) fn get_key(r: &mut Reader<'_>) -> Result<Option<SealedKey>, ClusterError> {
    match r.u8(Field::RecordKeyFlag)? {
        0 => Ok(None),
        2 => {
            let spi = r.u32(Field::Spi)?;
            let left = Duration::from_secs(u64::from(r.u32(Field::Lifetime)?));
            let mut nonce = [0u8; NONCE_LEN];
            nonce.copy_from_slice(r.bytes(NONCE_LEN, Field::KeyNonce)?);
            let n = usize::from(r.u8(Field::KeyLength)?);
            if n == 0 {
                return Err(ClusterError::Unknown);
            }
            let ciphertext = r.bytes(n, Field::KeyCiphertext)?.into();
            let mut tag = [0u8; TAG_LEN];
            tag.copy_from_slice(r.bytes(TAG_LEN, Field::KeyTag)?);
            Ok(Some(SealedKey {
                spi,
                left,
                nonce,
                ciphertext,
                tag,
            }))
        }
        // 1 was a key in clear (before the key was sealed): refused, as any unknown flag.
        _ => Err(ClusterError::Unknown),
    }
}
