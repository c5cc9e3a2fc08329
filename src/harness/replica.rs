//! Harness for [`crate::replica`]: the replication frame codec and the envelope, over a
//! minimal item (kind 1, a length octet and that many octets).

use crate::io::{HmacMd5Key, Reader};
use crate::replica::{Entry, Envelope, Frame, FrameError, HEADER_LEN, Header, Replicated};
use bytes::BufMut;

/// A minimal item: kind 1, then a length octet and the octets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

/// Why a [`Blob`] did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
/// octets. The whole input also goes through [`Envelope::open`] under the harness's key, as it
/// is and sealed (so mutations reach past the MAC), and an opened body through the frame parser.
pub fn frame(data: &[u8]) {
    if let Some((&kind, body)) = data.split_first() {
        reemits(kind, body);
    }
    let key = HmacMd5Key::new(KEY);
    let mut signed = data.to_vec();
    key.seal(&mut signed);
    for m in [data, &signed] {
        if let Ok((h, body)) = ENVELOPE.open(&key, m) {
            reemits(h.kind, body);
        }
    }
}

fn reemits(kind: u8, body: &[u8]) {
    if let Ok(f) = Frame::<Blob>::parse_complete(kind, body, HEADER_LEN) {
        let mut out = Vec::new();
        f.encode(&mut out);
        assert_eq!(out, body, "emit(parse(b)) == b");
        assert_eq!(f.kind(), kind);
    }
}

/// Seeds of [`frame`], each given to `add` with its file name: a batch with items and sync
/// markers and an acknowledgement (kind octet and body), and the same batch in a sealed envelope.
pub fn seeds(mut add: impl FnMut(&'static str, Vec<u8>)) {
    let batch = Frame::Replicate {
        seq: 3,
        items: vec![
            Entry::SyncBegin { epoch: 2 },
            Entry::Item(Blob(b"binding".to_vec())),
            Entry::SyncEnd { epoch: 2 },
        ],
    };
    let ack = Frame::<Blob>::Ack { seq: 3 };
    let raw = |f: &Frame<Blob>| {
        let mut b = vec![f.kind()];
        f.encode(&mut b);
        b
    };
    let h = Header {
        kind: batch.kind(),
        sender: crate::health::NodeId(2),
        incarnation: 1,
        pn: 9,
    };
    let sealed = ENVELOPE.seal(&HmacMd5Key::new(KEY), &h, |out| batch.encode(out));
    add("batch.bin", raw(&batch));
    add("ack.bin", raw(&ack));
    add("sealed_batch.bin", sealed);
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
        super::seeds(|_, s| super::frame(&s));
    }
}
