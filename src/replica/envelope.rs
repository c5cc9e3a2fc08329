//! The authenticated envelope of cluster messages, one magic per subsystem.
//!
//! Every message: a 3-octet magic (the subsystem's), version (u8), kind (u8), 2 reserved octets
//! (sent 0, ignored), sender node id (u32), sender incarnation (u32), packet number (u64, never
//! reused by a sender within an incarnation), the body, then an HMAC-MD5 (RFC 2104) over
//! everything before it with the cluster key ([`crate::io::HmacMd5Key`], [`TAG_LEN`] octets).
//! All integers big-endian; [`HEADER_LEN`] octets of header. A receiver opens it
//! ([`Envelope::open`]: magic, MAC in constant time, version), then checks the sender is a
//! member and admits `(incarnation, pn)` in that sender's [`ReplayWindow`] before acting on the
//! body.

use crate::health::NodeId;
use crate::io::HmacMd5Key;
use crate::io::auth::EnvelopeError;
use bytes::BufMut;

pub use crate::io::auth::TAG_LEN;

/// Header length.
pub const HEADER_LEN: usize = 23;

/// A subsystem's envelope: its magic and format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// First octets of every message (distinct per subsystem, so several share a port).
    pub magic: [u8; 3],
    /// Format version.
    pub version: u8,
}

/// The header of an envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Message kind (the subsystem's; [`super::KIND_REPLICATE`] and [`super::KIND_ACK`] are the
    /// replication frames).
    pub kind: u8,
    /// Sender.
    pub sender: NodeId,
    /// Sender's incarnation (grows on every restart).
    pub incarnation: u32,
    /// Sender's packet number.
    pub pn: u64,
}

/// Why an envelope did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Not this subsystem's magic.
    #[error("not this subsystem's cluster message")]
    Foreign,
    /// Shorter than a header and the MAC.
    #[error("cluster message truncated: {needed} more octets needed")]
    Truncated {
        /// Octets missing.
        needed: usize,
    },
    /// The MAC does not verify with the cluster key.
    #[error("bad cluster MAC")]
    BadMac,
    /// An unknown format version (authenticated).
    #[error("unknown cluster message version {version}")]
    Version {
        /// The version.
        version: u8,
    },
}

impl Envelope {
    /// An envelope with this magic and version.
    pub const fn new(magic: [u8; 3], version: u8) -> Self {
        Envelope { magic, version }
    }

    /// Whether `data` starts with the magic (so the subsystem's messages can share a port).
    pub fn is_mine(&self, data: &[u8]) -> bool {
        data.get(..3) == Some(&self.magic[..])
    }

    /// The message: header, the body `body` appends, and the MAC under `key`.
    pub fn seal(&self, key: &HmacMd5Key, h: &Header, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.put_slice(&self.magic);
        out.put_u8(self.version);
        out.put_u8(h.kind);
        out.put_u16(0);
        out.put_u32(h.sender.0);
        out.put_u32(h.incarnation);
        out.put_u64(h.pn);
        body(&mut out);
        key.seal(&mut out);
        out
    }

    /// Checks the magic, the MAC (constant time) and the version of `data`; returns the header
    /// and the body (which starts at byte [`HEADER_LEN`]). Replay is the caller's check.
    ///
    /// # Errors
    /// [`OpenError::Foreign`], [`OpenError::Truncated`], [`OpenError::BadMac`],
    /// [`OpenError::Version`], in that order.
    pub fn open<'a>(
        &self,
        key: &HmacMd5Key,
        data: &'a [u8],
    ) -> Result<(Header, &'a [u8]), OpenError> {
        if !self.is_mine(data) {
            return Err(OpenError::Foreign);
        }
        let signed = key.open(data, HEADER_LEN).map_err(|e| match e {
            EnvelopeError::Truncated { needed } => OpenError::Truncated { needed },
            _ => OpenError::BadMac,
        })?;
        let (head, body) = signed.split_at(HEADER_LEN);
        let u32_at =
            |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        if head[3] != self.version {
            return Err(OpenError::Version { version: head[3] });
        }
        let pn = (u64::from(u32_at(15)) << 32) | u64::from(u32_at(19));
        let h = Header {
            kind: head[4],
            sender: NodeId(u32_at(7)),
            incarnation: u32_at(11),
            pn,
        };
        Ok((h, body))
    }
}

/// Anti-replay for one sender: the highest packet number seen and a 64-packet window below it;
/// a higher incarnation resets it, a lower one is refused ([`crate::io::ReplayWindow`] of 64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow(crate::io::ReplayWindow<64>);

impl ReplayWindow {
    /// Whether `(incarnation, pn)` would be accepted (fresh).
    pub fn check(&self, incarnation: u32, pn: u64) -> bool {
        self.0.check(incarnation, pn).is_ok()
    }

    /// Records `(incarnation, pn)` as seen (call after [`ReplayWindow::check`] and the MAC).
    pub fn accept(&mut self, incarnation: u32, pn: u64) {
        let _ = self.0.accept(incarnation, pn);
    }

    /// Checks and records the header's `(incarnation, pn)`: whether it was fresh.
    pub fn admit(&mut self, h: &Header) -> bool {
        self.0.accept(h.incarnation, h.pn).is_ok()
    }

    /// The sender's incarnation last seen.
    pub fn incarnation(&self) -> u32 {
        self.0.incarnation()
    }
}
