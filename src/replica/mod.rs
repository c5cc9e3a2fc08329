//! Acked, authenticated state replication to backups: one mechanism for every subsystem that
//! keeps state on other cluster members (the Mobile IP Home Agent cluster, [`crate::mip`]; the
//! virtual LNS).
//!
//! # Guarantees
//! * **Reliable and ordered per peer**: a [`Channel`] per peer numbers its batches from 1 and
//!   keeps one in flight until the peer acknowledges it ([`Frame::Ack`]), sending it again at
//!   its deadline with the timeout doubled up to a maximum (only while the peer is up). The
//!   receiver applies a batch only if it is newer than the last one it applied
//!   ([`Channel::receive`]); a duplicate is acknowledged again, not applied. With one batch in
//!   flight, batches apply in the order they were made.
//! * **Delivery: each item at most once, in the order queued**: an item is put in one batch
//!   only and sent under that batch's `seq` alone (retransmissions included); the receiver
//!   applies a batch once, so it applies each item once at most. Nothing is queued again: a
//!   bulk sync (re)started while a batch is in flight (a (re)join, [`Channel::restart_bulk`],
//!   or an overflow) keeps that batch, due at once on a (re)join, and sends its own first
//!   batch only after that one's acknowledgement. So what a receiver applies from a sender is
//!   what the sender made, in the order made: each item queued, exactly once while the peer
//!   keeps acknowledging, except those an overflow dropped before they were in a batch (the
//!   bulk sync that follows carries the table state they changed); and each bulk sync's
//!   [`Entry::SyncBegin`], records and [`Entry::SyncEnd`], with no queued item between its
//!   begin and its end (a sync restarted midway is left unended: the next one begins after
//!   what was sent of it). This holds per incarnation of either end: a sender that restarts
//!   loses what it had not sent and numbers its batches from 1 again (the receiver's
//!   [`Channel::reset_incoming`]); a receiver that restarts gets the batch in flight and what
//!   follows (it lost what it had applied). An item arrives twice only if the subsystem queues
//!   it twice (the virtual LNS sends `Record::TakenOver` again each time the member is seen Up;
//!   its receiver's rule makes a repeat change nothing).
//! * **Bounded, with bulk sync as the fallback**: the queue holds at most a configured number
//!   of items; past that ([`Channel::enqueue`]) the peer is too far behind: the queue is dropped
//!   (except items that must survive, [`Replicated::survives_overflow`]) and a bulk sync starts.
//!   A bulk sync also starts when a peer (re)joins ([`Channel::restart_bulk`]).
//! * **Bulk sync with epochs**: [`Entry::SyncBegin`] under a new epoch, every record the sender
//!   is authoritative for (the subsystem's table walked from a cursor, a batch at a time), then
//!   [`Entry::SyncEnd`]. The receiver notes what the sync named ([`Channel::mark_seen`]); at the
//!   end of the same epoch ([`Channel::end_sync`]) it removes the replicas of that sender it did
//!   not see ([`sweep`]), so removals lost with a dropped queue leave no stale replica. An end of
//!   another epoch sweeps nothing.
//! * **Removals only from the authority**: the sweep and every replicated removal are applied by
//!   the subsystem's merge rule, which removes only what the sender is authoritative for.
//! * **Authenticated**: messages travel in an [`Envelope`] (the subsystem's magic, sender node
//!   id, incarnation, packet number) sealed with a standard MAC keyed from the cluster key
//!   (HMAC-MD5 under it for the Home Agent cluster; AES-128-CMAC under a key derived from it,
//!   [`CmacKey`], for the virtual LNS); the receiver verifies the MAC in constant time and
//!   refuses replays per sender ([`ReplayWindow`]).
//!
//! # Generic parameters
//! A subsystem supplies its item type, implementing [`Replicated`]: how an item is encoded (its
//! own kind octet first, never [`SYNC_BEGIN`] or [`SYNC_END`]) and parsed (with
//! [`crate::io::Reader`], its own typed error, into which [`FrameError`] converts), which items
//! survive a queue overflow, and the key ([`Replicated::Key`]) its replicas are known by in the
//! seen set of an incoming sync. Its merge rules (what a replica, a removal and the end of a sync
//! do to its table) stay in the subsystem.
//!
//! # Plugging in
//! The subsystem keeps a [`Channel`] per peer ([`Peers`] holds them and pumps them all) and its
//! own table:
//! * on a local change it [`Channel::enqueue`]s an item to each backup, then sends
//!   [`Channel::next_batch`] (passing a walk of its table for bulk syncs) in an envelope of kind
//!   [`KIND_REPLICATE`];
//! * on a timer it sends what [`Channel::due`] returns; [`Channel::deadline`] is its deadline;
//! * on a batch ([`Frame::Replicate`]) it acknowledges it ([`Frame::Ack`]) and, if
//!   [`Channel::receive`] says it is new, applies each entry: items by its merge rule, noting
//!   what a sync named with [`Channel::mark_seen`]; [`Entry::SyncBegin`] with
//!   [`Channel::begin_sync`]; [`Entry::SyncEnd`] with [`Channel::end_sync`] then its sweep;
//! * on an acknowledgement it calls [`Channel::acked`] and sends the next batch;
//! * when a peer (re)joins, [`Channel::restart_bulk`]; when it restarted with its state lost,
//!   [`Channel::reset_incoming`].
//!
//! To bound the replicas it keeps per peer, it keeps a [`Quota`] per peer (what happens when
//! full is documented there and counted).
//!
//! # Example
//! Two channels exchange a batch and its acknowledgement:
//! ```
//! use std::time::{Duration, Instant};
//! use telcp::io::Reader;
//! use telcp::replica::{Channel, Entry, Frame, FrameError, KIND_ACK, KIND_REPLICATE, Replicated};
//!
//! /// A counter value (kind octet 1, then a u32).
//! #[derive(Clone, Debug, PartialEq)]
//! struct Counter(u32);
//!
//! /// Why a counter did not parse.
//! #[derive(Debug)]
//! enum CounterError {
//!     Frame(FrameError),
//!     Kind(u8),
//!     Short,
//! }
//!
//! impl From<FrameError> for CounterError {
//!     fn from(e: FrameError) -> Self {
//!         CounterError::Frame(e)
//!     }
//! }
//!
//! impl Replicated for Counter {
//!     type Key = u32;
//!     type Error = CounterError;
//!     fn encode<B: bytes::BufMut>(&self, out: &mut B) {
//!         out.put_u8(1);
//!         out.put_u32(self.0);
//!     }
//!     fn parse(kind: u8, r: &mut Reader<'_>) -> Result<Self, CounterError> {
//!         if kind != 1 {
//!             return Err(CounterError::Kind(kind));
//!         }
//!         r.u32("counter").map(Counter).map_err(|_| CounterError::Short)
//!     }
//! }
//!
//! let now = Instant::now();
//! let rto = Duration::from_millis(200);
//! let (mut a, mut b) = (Channel::<Counter>::new(), Channel::<Counter>::new());
//! a.enqueue(Counter(7), 100);
//! // A sends its batch (no bulk sync under way: the table walk is not consulted).
//! let (seq, items) = a.next_batch(now, rto, |_| None).unwrap();
//! let mut wire = Vec::new();
//! Frame::Replicate { seq, items }.encode(&mut wire);
//! // B receives it, applies it once, and acknowledges it.
//! let Frame::Replicate { seq, items } =
//!     Frame::<Counter>::parse_complete(KIND_REPLICATE, &wire, 0).unwrap() else { panic!() };
//! assert!(b.receive(seq));
//! assert_eq!(items, [Entry::Item(Counter(7))]);
//! assert!(!b.receive(seq), "a duplicate is not applied again");
//! let mut ack = Vec::new();
//! Frame::<Counter>::Ack { seq }.encode(&mut ack);
//! // A's batch is acknowledged: nothing is left to send or retransmit.
//! let Frame::Ack { seq } = Frame::<Counter>::parse_complete(KIND_ACK, &ack, 0).unwrap() else { panic!() };
//! assert!(a.acked(seq));
//! assert_eq!(a.backlog(), 0);
//! assert_eq!(a.due(now + rto, true, rto * 8), None);
//! ```

mod channel;
mod envelope;
mod frame;
mod peers;
#[cfg(test)]
mod tests;

pub use channel::{BulkSync, Channel, ChannelStats, Quota, sweep};
pub use envelope::{
    CmacKey, Envelope, EnvelopeMac, HEADER_LEN, Header, OpenError, ReplayWindow, TAG_LEN,
};
pub use frame::{
    Entry, Field, Frame, FrameError, KIND_ACK, KIND_REPLICATE, MAX_ITEMS, SYNC_BEGIN, SYNC_END,
    encode_batch, parse_ack, parse_batch, parse_batch_head, parse_batch_into, parse_entries_into,
};
pub use peers::{Outgoing, PeerMap, Peers};

use crate::io::Reader;
use bytes::BufMut;
use std::fmt::Debug;
use std::hash::Hash;

/// What a subsystem supplies to replicate its state: its item type.
pub trait Replicated: Clone + Debug + Sized {
    /// What the subsystem knows a replica by, in the seen set of an incoming bulk sync (the
    /// Home Agent: its binding table slot).
    type Key: Clone + Debug + Eq + Hash;
    /// The subsystem's typed parse error; the framing's own errors convert into it.
    type Error: From<FrameError>;

    /// Appends the item: its kind octet (never [`SYNC_BEGIN`] or [`SYNC_END`]), then its fields.
    fn encode<B: BufMut>(&self, out: &mut B);

    /// Reads the rest of an item of kind octet `kind` (already read) from `r`.
    ///
    /// # Errors
    /// The subsystem's: an unknown kind, a truncated or invalid field.
    fn parse(kind: u8, r: &mut Reader<'_>) -> Result<Self, Self::Error>;

    /// Whether the item must survive a queue overflow ([`Channel::enqueue`]): not table state,
    /// which the bulk sync replaces, but a decision the sync does not carry (the Home Agent's
    /// takeover decisions). Default: `false`.
    fn survives_overflow(&self) -> bool {
        false
    }
}
