//! The replication frames: a numbered batch of [`Entry`]s and its acknowledgement, with the
//! bulk-sync markers, around items whose own encoding the subsystem supplies ([`Replicated`]).
//!
//! A batch is `seq` (u64), an item count (u8, at most [`MAX_ITEMS`]) and the entries, each
//! starting with its kind octet: [`SYNC_BEGIN`] or [`SYNC_END`] followed by the epoch (u32), or
//! an item of the subsystem (any other kind octet, then what [`Replicated::encode`] writes). An
//! acknowledgement is the `seq` (u64) it acknowledges. All integers are big-endian. Parsing reads
//! with [`crate::io::Reader`], so offsets in errors count from the start of the datagram.

use super::Replicated;
use crate::io::Reader;
use bytes::BufMut;

/// Most entries in one batch.
pub const MAX_ITEMS: usize = 32;
/// Kind octet of [`Entry::SyncBegin`]; a subsystem's items never use it.
pub const SYNC_BEGIN: u8 = 4;
/// Kind octet of [`Entry::SyncEnd`]; a subsystem's items never use it.
pub const SYNC_END: u8 = 5;
/// Envelope kind ([`super::Header::kind`]) of [`Frame::Replicate`].
pub const KIND_REPLICATE: u8 = 4;
/// Envelope kind ([`super::Header::kind`]) of [`Frame::Ack`].
pub const KIND_ACK: u8 = 5;

/// Why a replication frame did not parse (the subsystem's item errors are its own; this
/// converts into them, [`Replicated::Error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The input ended inside `field`, which starts at byte `offset`.
    #[error("replication frame truncated in {field} at byte {offset} ({needed} more octets)")]
    Truncated {
        /// Byte offset of the field.
        offset: usize,
        /// The field.
        field: Field,
        /// Octets missing.
        needed: usize,
    },
    /// A batch announcing more than [`MAX_ITEMS`] entries.
    #[error("replication batch of {count} items (at most {MAX_ITEMS})")]
    TooManyItems {
        /// The announced count.
        count: usize,
    },
    /// An envelope kind that is neither [`KIND_REPLICATE`] nor [`KIND_ACK`].
    #[error("envelope kind {kind} is not a replication frame")]
    Kind {
        /// The kind.
        kind: u8,
    },
    /// Octets left after a complete frame, from byte `offset`.
    #[error("octets after the replication frame at byte {offset}")]
    Trailing {
        /// Byte offset of the first octet left.
        offset: usize,
    },
}

crate::io::reader::wire_fields! {
    /// A field of a replication frame, named in its [`FrameError::Truncated`].
    pub enum Field for FrameError { needed } {
        BatchSequence => "replication sequence number",
        ItemCount => "item count",
        ItemKind => "item kind",
        Epoch => "epoch",
    }
}

/// One entry of a batch: a subsystem item or a bulk-sync marker.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Entry<I> {
    /// A change of the subsystem's state.
    Item(I),
    /// A bulk sync from the sender starts: every record the sender is authoritative for follows
    /// before the matching [`Entry::SyncEnd`].
    SyncBegin {
        /// Identifies this sync among the sender's syncs to the receiver (one more per sync,
        /// wrapping).
        epoch: u32,
    },
    /// The bulk sync `epoch` is complete: the receiver removes the sender's replicas it did not
    /// see since the matching [`Entry::SyncBegin`].
    SyncEnd {
        /// The epoch of the matching [`Entry::SyncBegin`].
        epoch: u32,
    },
}

impl<I> From<I> for Entry<I> {
    fn from(i: I) -> Self {
        Entry::Item(i)
    }
}

impl<I> Entry<I> {
    /// The item, if the entry is one.
    pub fn item(&self) -> Option<&I> {
        match self {
            Entry::Item(i) => Some(i),
            _ => None,
        }
    }
}

impl<I: Replicated> Entry<I> {
    /// Appends the entry (kind octet first).
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        match self {
            Entry::Item(i) => i.encode(out),
            Entry::SyncBegin { epoch } => {
                out.put_u8(SYNC_BEGIN);
                out.put_u32(*epoch);
            }
            Entry::SyncEnd { epoch } => {
                out.put_u8(SYNC_END);
                out.put_u32(*epoch);
            }
        }
    }

    /// Reads one entry.
    ///
    /// # Errors
    /// [`FrameError::Truncated`] (converted) for a short kind or epoch; the item's own errors.
    // Inlined into each batch's loop (and a receiver's one-entry batch): the entry is built in
    // place, not returned through memory and moved again.
    #[inline(always)]
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, I::Error> {
        let kind = match r.array::<1>() {
            Some([kind]) => *kind,
            None => r.u8(Field::ItemKind).map_err(FrameError::from)?,
        };
        Ok(match kind {
            SYNC_BEGIN => Entry::SyncBegin {
                epoch: r.u32(Field::Epoch).map_err(FrameError::from)?,
            },
            SYNC_END => Entry::SyncEnd {
                epoch: r.u32(Field::Epoch).map_err(FrameError::from)?,
            },
            k => Entry::Item(I::parse(k, r)?),
        })
    }
}

/// A replication frame, carried in an envelope of kind [`KIND_REPLICATE`] or [`KIND_ACK`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame<I> {
    /// A numbered batch of entries (at most [`MAX_ITEMS`]; more are not sent).
    Replicate {
        /// Sequence number (per receiver), acknowledged by [`Frame::Ack`].
        seq: u64,
        /// The entries, in order.
        items: Vec<Entry<I>>,
    },
    /// Acknowledges the batch `seq`.
    Ack {
        /// The acknowledged sequence number.
        seq: u64,
    },
}

/// Appends a batch: `seq`, the count and the first [`MAX_ITEMS`] of `items`.
pub fn encode_batch<I: Replicated, B: BufMut>(seq: u64, items: &[Entry<I>], out: &mut B) {
    out.put_u64(seq);
    let items = items.get(..MAX_ITEMS).unwrap_or(items);
    out.put_u8(items.len() as u8);
    for i in items {
        i.encode(out);
    }
}

/// Reads a batch: its `seq` and entries.
///
/// # Errors
/// [`FrameError::Truncated`], [`FrameError::TooManyItems`] (converted), or an item's error.
pub fn parse_batch<I: Replicated>(r: &mut Reader<'_>) -> Result<(u64, Vec<Entry<I>>), I::Error> {
    let mut items = Vec::new();
    parse_batch_into(r, &mut items).map(|seq| (seq, items))
}

/// As [`parse_batch`], the entries into `items` (cleared first; a buffer kept between batches
/// costs no allocation); returns the `seq`. On an error `items` holds the entries before it.
///
/// # Errors
/// As [`parse_batch`].
pub fn parse_batch_into<I: Replicated>(
    r: &mut Reader<'_>,
    items: &mut Vec<Entry<I>>,
) -> Result<u64, I::Error> {
    items.clear();
    let (seq, count) = parse_batch_head::<I>(r)?;
    parse_entries_into(r, count, items)?;
    Ok(seq)
}

/// The `count` entries of a batch after its head ([`parse_batch_head`]), appended to `items`;
/// on an error `items` holds the entries before it.
///
/// # Errors
/// As [`parse_batch`].
pub fn parse_entries_into<I: Replicated>(
    r: &mut Reader<'_>,
    count: usize,
    items: &mut Vec<Entry<I>>,
) -> Result<(), I::Error> {
    items.reserve(count);
    for _ in 0..count {
        items.push(Entry::<I>::parse(r)?);
    }
    Ok(())
}

/// The head of a batch ([`parse_batch`]): its `seq` and the count of entries that follow, each
/// then read with [`Entry::parse`] (a receiver takes a batch of one entry, the usual one, into
/// no buffer).
///
/// # Errors
/// [`FrameError::Truncated`], [`FrameError::TooManyItems`] (converted).
#[inline]
pub fn parse_batch_head<I: Replicated>(r: &mut Reader<'_>) -> Result<(u64, usize), I::Error> {
    // The sequence number and the count read at once when both are there; else field by field,
    // whose errors name the one cut short.
    let (seq, count) = match r.array::<9>() {
        Some(&[s0, s1, s2, s3, s4, s5, s6, s7, count]) => {
            (u64::from_be_bytes([s0, s1, s2, s3, s4, s5, s6, s7]), count)
        }
        None => (
            r.u64(Field::BatchSequence).map_err(FrameError::from)?,
            r.u8(Field::ItemCount).map_err(FrameError::from)?,
        ),
    };
    let count = usize::from(count);
    if count > MAX_ITEMS {
        return Err(FrameError::TooManyItems { count }.into());
    }
    Ok((seq, count))
}

/// Reads an acknowledgement's `seq`.
///
/// # Errors
/// [`FrameError::Truncated`] (converted).
pub fn parse_ack<I: Replicated>(r: &mut Reader<'_>) -> Result<u64, I::Error> {
    match r.array::<8>() {
        Some(seq) => Ok(u64::from_be_bytes(*seq)),
        None => Ok(r.u64(Field::BatchSequence).map_err(FrameError::from)?),
    }
}

impl<I: Replicated> Frame<I> {
    /// The envelope kind that carries it.
    pub fn kind(&self) -> u8 {
        match self {
            Frame::Replicate { .. } => KIND_REPLICATE,
            Frame::Ack { .. } => KIND_ACK,
        }
    }

    /// Appends the frame's body (the envelope kind is [`Frame::kind`]).
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        match self {
            Frame::Replicate { seq, items } => encode_batch(*seq, items, out),
            Frame::Ack { seq } => out.put_u64(*seq),
        }
    }

    /// Reads a frame of envelope kind `kind` from `r`; octets after it are the caller's.
    ///
    /// # Errors
    /// [`FrameError::Kind`] for another kind; those of [`parse_batch`] and [`parse_ack`].
    pub fn parse(kind: u8, r: &mut Reader<'_>) -> Result<Self, I::Error> {
        match kind {
            KIND_REPLICATE => parse_batch(r).map(|(seq, items)| Frame::Replicate { seq, items }),
            KIND_ACK => parse_ack::<I>(r).map(|seq| Frame::Ack { seq }),
            kind => Err(FrameError::Kind { kind }.into()),
        }
    }

    /// Reads a whole envelope body of kind `kind` (`base`: the body's offset in the datagram).
    ///
    /// # Errors
    /// Those of [`Frame::parse`], and [`FrameError::Trailing`] when octets are left.
    pub fn parse_complete(kind: u8, body: &[u8], base: usize) -> Result<Self, I::Error> {
        let mut r = Reader::at(body, base);
        let f = Frame::<I>::parse(kind, &mut r)?;
        if !r.is_empty() {
            let offset = r.offset();
            return Err(FrameError::Trailing { offset }.into());
        }
        Ok(f)
    }
}
