//! Harness for [`crate::replica`]: the replication frame codec and the envelope, over a
//! minimal item (kind 1, a length octet and that many octets).

use crate::io::{HmacMd5Key, Reader};
use crate::replica::{Envelope, Frame, FrameError, HEADER_LEN, Replicated};
use bytes::BufMut;

/// A minimal item: kind 1, then a length octet and the octets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

/// Why a [`Blob`] did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobError {
    /// The framing's error.
    Frame(FrameError),
    /// Not kind 1.
    Kind(u8),
    /// Shorter than announced.
    Short,
}

impl From<FrameError> for BlobError {
    fn from(e: FrameError) -> Self {
        BlobError::Frame(e)
    }
}

impl Replicated for Blob {
    type Key = u32;
    type Error = BlobError;
    fn encode<B: BufMut>(&self, out: &mut B) {
        let b = self.0.get(..255).unwrap_or(&self.0);
        out.put_u8(1);
        out.put_u8(b.len() as u8);
        out.put_slice(b);
    }
    fn parse(kind: u8, r: &mut Reader<'_>) -> Result<Self, BlobError> {
        if kind != 1 {
            return Err(BlobError::Kind(kind));
        }
        let n = r.u8("length").map_err(|_| BlobError::Short)?;
        let b = r
            .bytes(usize::from(n), "octets")
            .map_err(|_| BlobError::Short)?;
        Ok(Blob(b.to_vec()))
    }
}

const ENVELOPE: Envelope = Envelope::new(*b"\xfeFZ", 1);
const KEY: &[u8] = b"fuzz cluster key";

/// The first octet is an envelope kind, the rest a frame body: what parses re-emits to the same
/// octets. The whole input, and the same octets sealed under the key, go through
/// [`Envelope::open`] too, and a body that opens through the frame parser.
pub fn frame(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    if let Ok(f) = Frame::<Blob>::parse_complete(kind, body, HEADER_LEN) {
        let mut out = Vec::new();
        f.encode(&mut out);
        assert_eq!(out, body, "emit(parse(b)) == b");
        assert_eq!(f.kind(), kind);
    }
    let key = HmacMd5Key::new(KEY);
    let _ = ENVELOPE.open(&key, data);
    let mut signed = data.to_vec();
    key.seal(&mut signed);
    if let Ok((h, body)) = ENVELOPE.open(&key, &signed) {
        let _ = Frame::<Blob>::parse_complete(h.kind, body, HEADER_LEN);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_harness_accepts_a_batch_and_odd_input() {
        // Kind 4, seq 1, two entries: a blob "ab" and SyncEnd 7.
        let mut d = vec![
            4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 2, b'a', b'b', 5, 0, 0, 0, 7,
        ];
        super::frame(&d);
        d.truncate(5);
        super::frame(&d);
        super::frame(&[]);
        super::frame(b"\xfeFZ\x01\x04");
    }
}
