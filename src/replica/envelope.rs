//! The authenticated envelope of cluster messages, one magic per subsystem.
//!
//! Every message: a 3-octet magic (the subsystem's), version (u8), kind (u8), 2 reserved octets
//! (sent 0, ignored), sender node id (u32), sender incarnation (u32), packet number (u64, never
//! reused by a sender within an incarnation), the body, then a [`TAG_LEN`]-octet MAC over
//! everything before it: HMAC-MD5 (RFC 2104) with the cluster key ([`crate::io::HmacMd5Key`];
//! [`Envelope::seal`], [`Envelope::open`]), or another MAC of the subsystem's choosing keyed from
//! the cluster key ([`EnvelopeMac`], [`Envelope::seal_into`], [`Envelope::open_with`]; the
//! virtual LNS uses AES-128-CMAC, [`CmacKey`]).
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

/// A MAC that seals envelopes: a [`TAG_LEN`]-octet tag of the signed octets. Verification compares
/// tags in constant time ([`crate::io::ct_eq`]).
pub trait EnvelopeMac {
    /// The tag of `data`.
    fn tag(&mut self, data: &[u8]) -> [u8; TAG_LEN];
}

impl EnvelopeMac for &HmacMd5Key {
    fn tag(&mut self, data: &[u8]) -> [u8; TAG_LEN] {
        HmacMd5Key::tag(self, data)
    }
}

/// An AES-128-CMAC key (RFC 4493; NIST SP 800-38B) for envelopes: a standard MAC that costs
/// a quarter of an HMAC-MD5 on a short message (a CMAC of 61 octets is 4 AES blocks, AES-NI where
/// the CPU has it; the HMAC-MD5 of the same is 3 MD5 compressions). Its `Debug` output hides the
/// key.
///
/// RFC 4493's algorithm over the `aes` crate's block cipher, with the subkeys K1 and K2 (section
/// 2.3) computed once per key, and a message's blocks chained in one call of the cipher's
/// backend (its AES instructions chosen once per tag, the rounds inlined into the chaining
/// loop; a partial last block read, padded, from a copy of the 16 octets ending the message,
/// with no copy of a variable length):
/// a tag costs the AES blocks and little else (the generic `cmac` crate's byte-wise buffering
/// was half the cost of a short message's tag). Checked against RFC 4493's examples and the
/// `cmac` crate.
#[derive(Clone)]
pub struct CmacKey {
    cipher: aes::Aes128Enc,
    /// Subkey K1 (RFC 4493 2.3), for a complete last block: its octets.
    k1: [u8; 16],
    /// Subkey K2, for a padded last block: its octets.
    k2: [u8; 16],
}

impl std::fmt::Debug for CmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CmacKey(..)")
    }
}

/// RFC 4493 2.3: doubling in GF(2^128) (the left shift, with the constant Rb = 0x87 when the
/// most significant bit was set).
fn dbl(x: u128) -> u128 {
    (x << 1) ^ if x >> 127 == 1 { 0x87 } else { 0 }
}

impl CmacKey {
    /// A key from 16 octets.
    pub fn new(key: &[u8; 16]) -> CmacKey {
        use aes::cipher::KeyInit;
        let cipher = aes::Aes128Enc::new(key.into());
        let mut cmac = CmacKey {
            cipher,
            k1: [0; 16],
            k2: [0; 16],
        };
        // RFC 4493 2.3: L = AES-128(K, 0^128); K1 = dbl(L); K2 = dbl(K1) (doubling on the
        // big-endian value, the subkeys kept as octets).
        let l = u128::from_be_bytes(cmac.encrypt([0; 16]));
        let k1 = dbl(l);
        cmac.k1 = k1.to_be_bytes();
        cmac.k2 = dbl(k1).to_be_bytes();
        cmac
    }

    /// AES-128 of one block under this key (a pseudorandom permutation of the block: the
    /// virtual LNS's acknowledgement tokens, `l2tp::lns::replicate` docs).
    pub(crate) fn encrypt(&self, x: [u8; 16]) -> [u8; 16] {
        use aes::cipher::BlockEncrypt;
        let mut b = x.into();
        self.cipher.encrypt_block(&mut b);
        b.into()
    }

    /// The key a subsystem derives from the cluster key for its envelopes: HKDF-Expand (RFC 5869
    /// section 2.3) with HMAC-MD5, the cluster secret as the pseudorandom key and `info` as the
    /// label, 16 octets (one block: `T(1) = HMAC-MD5(secret, info | 0x01)`). The extract step
    /// is skipped (RFC 5869 section 3.3): the cluster secret is the key material the cluster
    /// already trusts for its HMAC-MD5 heartbeats, and only the HMAC key is kept of it. A label
    /// per use keeps the CMAC key apart from the HMAC-MD5 one.
    pub fn derive(cluster: &HmacMd5Key, info: &[u8]) -> CmacKey {
        let mut t = Vec::with_capacity(info.len() + 1);
        t.extend_from_slice(info);
        t.push(1);
        CmacKey::new(&cluster.tag(&t))
    }

    /// RFC 4493 2.4, Generate_MAC: the tag of `data`, its blocks chained in one pass of the
    /// `aes` crate's block cipher backend ([`CbcMac`]).
    #[inline]
    fn mac(&self, data: &[u8]) -> [u8; TAG_LEN] {
        use aes::cipher::BlockEncrypt;
        let mut tag = [0; TAG_LEN];
        self.cipher.encrypt_with_backend(CbcMac {
            data,
            k1: &self.k1,
            k2: &self.k2,
            tag: &mut tag,
        });
        tag
    }
}

/// RFC 4493 2.4 steps 2 to 7 over one message, run inside the `aes` crate's backend
/// (`BlockEncrypt::encrypt_with_backend`): the CPU's AES instructions are chosen once per tag,
/// not once per block, and the block cipher's rounds are inlined into the chaining loop.
struct CbcMac<'a> {
    /// The message.
    data: &'a [u8],
    /// Subkeys K1 and K2 ([`CmacKey`]).
    k1: &'a [u8; 16],
    k2: &'a [u8; 16],
    /// Where the tag goes.
    tag: &'a mut [u8; TAG_LEN],
}

impl aes::cipher::BlockSizeUser for CbcMac<'_> {
    type BlockSize = aes::cipher::consts::U16;
}

impl aes::cipher::BlockClosure for CbcMac<'_> {
    #[inline(always)]
    fn call<B: aes::cipher::BlockBackend<BlockSize = Self::BlockSize>>(self, backend: &mut B) {
        let data = self.data;
        let n = data.len();
        // Steps 2-4: the last block is complete (XOR K1) or padded with 10* (XOR K2); an empty
        // message is one padded block.
        let (head, m_last, k) = match data.get(n.wrapping_sub(16)..).map(<[u8; 16]>::try_from) {
            Some(Ok(tail)) => {
                // The last block's octets (1 to 16) are the end of the 16 ending the message:
                // those 16 then the padding 10*, read from where the last block starts (one
                // load, no copy of a variable length).
                let head_len = (n - 1) & !15;
                // 16 less the last block's length (masked: the compiler sees it below 16).
                let start = (head_len + 16 - n) & 15;
                let mut buf = [0u8; 32];
                buf[..16].copy_from_slice(&tail);
                buf[16] = 0x80;
                let w = buf.get(start..start + 16).map(<[u8; 16]>::try_from);
                let k = if start == 0 { self.k1 } else { self.k2 };
                let head = data.get(..head_len).unwrap_or_default();
                (head, w.and_then(Result::ok).unwrap_or_default(), k)
            }
            _ => {
                let mut w = [0u8; 16];
                w.iter_mut().zip(data).for_each(|(w, b)| *w = *b);
                w[n % 16] = 0x80;
                (&[][..], w, self.k2)
            }
        };
        // Steps 5-7: CBC-MAC over the blocks before the last, then the last; the chaining
        // value stays a block (XORed octet by octet: the compiler's vector XOR).
        let mut x = aes::Block::default();
        let xor = |x: &mut aes::Block, b: &[u8; 16]| {
            for (x, b) in x.iter_mut().zip(b) {
                *x ^= b;
            }
        };
        for b in head.chunks_exact(16) {
            xor(&mut x, b.try_into().unwrap_or(&[0; 16]));
            backend.proc_block_inplace(&mut x);
        }
        // The last block and its subkey XORed as vectors (octet by octet, the compiler took a
        // block held in two registers apart octet by octet).
        let v = |b: [u8; 16]| wide::u8x16::new(b);
        x = (v(x.into()) ^ v(m_last) ^ v(*k)).to_array().into();
        backend.proc_block_inplace(&mut x);
        *self.tag = x.into();
    }
}

impl EnvelopeMac for CmacKey {
    #[inline]
    fn tag(&mut self, data: &[u8]) -> [u8; TAG_LEN] {
        self.mac(data)
    }
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
        self.seal_into(&mut &*key, h, body, &mut out);
        out
    }

    /// The message into `out` (cleared first: a buffer kept between messages costs no
    /// allocation): header, the body `body` appends, and the tag of `mac`.
    pub fn seal_into<M: EnvelopeMac>(
        &self,
        mac: &mut M,
        h: &Header,
        body: impl FnOnce(&mut Vec<u8>),
        out: &mut Vec<u8>,
    ) {
        out.clear();
        self.seal_append(mac, h, body, out);
    }

    /// The message appended to `out` (what `out` holds already is kept, and not signed): header,
    /// the body `body` appends, and the tag of `mac` over the message's own octets. With a
    /// `bytes::BytesMut`, the message can then be split off as the datagram's payload, the
    /// buffer's room kept for the next one (no allocation or copy per message).
    #[inline(always)]
    pub fn seal_append<M: EnvelopeMac, B: BufMut + AsRef<[u8]>>(
        &self,
        mac: &mut M,
        h: &Header,
        body: impl FnOnce(&mut B),
        out: &mut B,
    ) {
        let start = out.as_ref().len();
        out.put_slice(&self.header_octets(h));
        body(out);
        let tag = mac.tag(out.as_ref().get(start..).unwrap_or_default());
        out.put_slice(&tag);
    }

    /// Seals the message `msg` in place, whose body is already at `msg[HEADER_LEN..msg.len() -
    /// TAG_LEN]`: writes the header of `h` before it and the tag of `mac` over header and body
    /// after it, the octets [`Envelope::seal_append`] appends for that body. For a body of a
    /// fixed size (an acknowledgement) built on the stack and copied once to its buffer.
    /// Nothing when `msg` is shorter than [`HEADER_LEN`] and [`TAG_LEN`].
    #[inline]
    pub fn seal_in_place<M: EnvelopeMac>(&self, mac: &mut M, h: &Header, msg: &mut [u8]) {
        let Some(split) = msg.len().checked_sub(TAG_LEN).filter(|n| *n >= HEADER_LEN) else {
            return;
        };
        let (signed, tag) = msg.split_at_mut(split);
        if let Some(head) = signed.first_chunk_mut::<HEADER_LEN>() {
            *head = self.header_octets(h);
        }
        tag.copy_from_slice(&mac.tag(signed));
    }

    /// The [`HEADER_LEN`] octets of `h`'s header (module docs), written whole.
    #[inline(always)]
    fn header_octets(&self, h: &Header) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..3].copy_from_slice(&self.magic);
        b[3] = self.version;
        b[4] = h.kind;
        // Octets 5 and 6 reserved, sent 0.
        b[7..11].copy_from_slice(&h.sender.0.to_be_bytes());
        b[11..15].copy_from_slice(&h.incarnation.to_be_bytes());
        b[15..23].copy_from_slice(&h.pn.to_be_bytes());
        b
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
        self.header(signed)
    }

    /// As [`Envelope::open`], the tag checked with `mac` (in constant time).
    ///
    /// # Errors
    /// As [`Envelope::open`].
    pub fn open_with<'a, M: EnvelopeMac>(
        &self,
        mac: &mut M,
        data: &'a [u8],
    ) -> Result<(Header, &'a [u8]), OpenError> {
        if !self.is_mine(data) {
            return Err(OpenError::Foreign);
        }
        let split = data
            .len()
            .checked_sub(TAG_LEN)
            .filter(|n| *n >= HEADER_LEN)
            .ok_or(OpenError::Truncated {
                needed: (HEADER_LEN + TAG_LEN).saturating_sub(data.len()),
            })?;
        let (signed, tag) = data.split_at(split);
        if !crate::io::ct_eq(&mac.tag(signed), tag) {
            return Err(OpenError::BadMac);
        }
        self.header(signed)
    }

    /// The header and body of authenticated `signed` octets (at least [`HEADER_LEN`]).
    fn header<'a>(&self, signed: &'a [u8]) -> Result<(Header, &'a [u8]), OpenError> {
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

#[cfg(test)]
mod tests {
    use super::{CmacKey, Envelope, EnvelopeMac, Header, OpenError};
    use crate::health::NodeId;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 4493 section 4, examples 1 to 4 (AES-128 key 2b7e1516..., messages of 0, 16, 40 and
    /// 64 octets), each computed twice with one key (the state is reset after each tag).
    #[test]
    fn cmac_matches_rfc4493_examples() {
        let key: [u8; 16] = hex("2b7e1516 28aed2a6 abf71588 09cf4f3c")
            .try_into()
            .unwrap();
        let m = hex(
            "6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51
             30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710",
        );
        let mut k = CmacKey::new(&key);
        for (len, tag) in [
            (0, "bb1d6929 e9593728 7fa37d12 9b756746"),
            (16, "070a16b4 6b4d4144 f79bdd9d d04a287c"),
            (40, "dfa66747 de9ae630 30ca3261 1497c827"),
            (64, "51f0bebf 7e3b9d92 fc497417 79363cfe"),
        ] {
            for _ in 0..2 {
                assert_eq!(k.tag(&m[..len]).to_vec(), hex(tag), "{len} octets");
            }
        }
        assert_eq!(format!("{k:?}"), "CmacKey(..)");
    }

    proptest::proptest! {
        /// RFC 4493 2.4: the tag equals the `cmac` crate's AES-128-CMAC of the same octets
        /// (every length from empty to past four blocks, so complete and padded last blocks).
        #[test]
        fn cmac_equals_the_cmac_crate(
            key in proptest::array::uniform16(proptest::prelude::any::<u8>()),
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
        ) {
            use cmac::Mac;
            let mut ours = CmacKey::new(&key);
            let mut theirs =
                <cmac::Cmac<aes::Aes128> as cmac::digest::KeyInit>::new((&key).into());
            theirs.update(&data);
            let want: [u8; 16] = theirs.finalize().into_bytes().into();
            proptest::prop_assert_eq!(ours.tag(&data), want);
        }
    }

    /// RFC 4493 2.4 at every message length from empty to six blocks, against the `cmac` crate:
    /// each way the tag reads the last block (shorter than a block: copied and padded; a
    /// complete one: XOR K1; a partial one: read from the 16 octets ending the message, padded,
    /// XOR K2) with each count of blocks before it, under one key used again and again.
    #[test]
    fn cmac_equals_the_cmac_crate_at_every_length() {
        use cmac::Mac;
        let key = [0x5a; 16];
        let data: Vec<u8> = (0..96u32).map(|i| (i * 167 + 13) as u8).collect();
        let mut ours = CmacKey::new(&key);
        for len in 0..=data.len() {
            let mut theirs = <cmac::Cmac<aes::Aes128> as cmac::digest::KeyInit>::new((&key).into());
            theirs.update(&data[..len]);
            let want: [u8; 16] = theirs.finalize().into_bytes().into();
            assert_eq!(ours.tag(&data[..len]), want, "{len} octets");
        }
    }

    /// `seal_append` keeps what the buffer holds, and its message (header, body, tag over the
    /// message's own octets) is the one `seal_into` makes, into a `Vec` or a `BytesMut`.
    #[test]
    fn seal_append_appends_the_same_message() {
        let env = Envelope::new(*b"\xfeT1", 2);
        let mut k = CmacKey::new(&[3; 16]);
        let h = Header {
            kind: 5,
            sender: NodeId(2),
            incarnation: 4,
            pn: 6,
        };
        let mut alone = Vec::new();
        env.seal_into(&mut k, &h, |out| out.extend_from_slice(b"seq"), &mut alone);
        let mut v = b"before".to_vec();
        env.seal_append(
            &mut k,
            &h,
            |out: &mut Vec<u8>| out.extend_from_slice(b"seq"),
            &mut v,
        );
        assert_eq!((&v[..6], &v[6..]), (&b"before"[..], &alone[..]));
        let mut b = bytes::BytesMut::from(&b"before"[..]);
        env.seal_append(
            &mut k,
            &h,
            |out: &mut bytes::BytesMut| out.extend_from_slice(b"seq"),
            &mut b,
        );
        assert_eq!(&b[..], &v[..]);
        assert_eq!(env.open_with(&mut k, &b.split_off(6)), Ok((h, &b"seq"[..])));
    }

    proptest::proptest! {
        /// Module docs: a sealed message is magic, version, kind, 2 reserved octets (0), sender,
        /// incarnation and packet number big-endian, the body, then the tag of all before it;
        /// `seal_in_place` writes the same octets around a body already in place.
        #[test]
        fn sealed_message_is_the_documented_layout(
            kind in 0u8..8, sender in 0u32.., incarnation in 0u32.., pn in 0u64..,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        ) {
            use bytes::BufMut;
            let env = Envelope::new(*b"\xfeT1", 2);
            let mut k = CmacKey::new(&[5; 16]);
            let h = Header { kind, sender: NodeId(sender), incarnation, pn };
            let mut sealed = Vec::new();
            env.seal_into(&mut k, &h, |out| out.extend_from_slice(&body), &mut sealed);
            let mut want = Vec::new();
            want.put_slice(b"\xfeT1");
            want.put_u8(2);
            want.put_u8(kind);
            want.put_u16(0);
            want.put_u32(sender);
            want.put_u32(incarnation);
            want.put_u64(pn);
            want.put_slice(&body);
            let tag = k.tag(&want);
            want.put_slice(&tag);
            proptest::prop_assert_eq!(&sealed, &want);
            // Sealed in place around the body: the same octets.
            let mut msg = vec![0xaa; super::HEADER_LEN + body.len() + super::TAG_LEN];
            msg[super::HEADER_LEN..super::HEADER_LEN + body.len()].copy_from_slice(&body);
            env.seal_in_place(&mut k, &h, &mut msg);
            proptest::prop_assert_eq!(msg, want);
        }
    }

    /// An envelope sealed with a CMAC key opens with the same key only, and not once altered.
    #[test]
    fn cmac_envelope_opens_only_under_its_key() {
        let env = Envelope::new(*b"\xfeT1", 2);
        let cluster = crate::io::HmacMd5Key::new(b"cluster");
        let mut k = CmacKey::derive(&cluster, b"label");
        let h = Header {
            kind: 4,
            sender: NodeId(3),
            incarnation: 9,
            pn: 77,
        };
        let mut sealed = Vec::new();
        env.seal_into(
            &mut k,
            &h,
            |out| out.extend_from_slice(b"body"),
            &mut sealed,
        );
        assert_eq!(env.open_with(&mut k, &sealed), Ok((h, &b"body"[..])));
        let mut other = CmacKey::derive(&cluster, b"another label");
        assert_eq!(env.open_with(&mut other, &sealed), Err(OpenError::BadMac));
        let mut other = CmacKey::derive(&crate::io::HmacMd5Key::new(b"other"), b"label");
        assert_eq!(env.open_with(&mut other, &sealed), Err(OpenError::BadMac));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            assert!(env.open_with(&mut k, &bad).is_err(), "octet {i} altered");
        }
        assert_eq!(
            env.open_with(&mut k, &sealed[..30]),
            Err(OpenError::Truncated { needed: 9 })
        );
    }
}
