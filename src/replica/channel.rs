//! The reliable, acknowledged replication channel with one peer, both directions.

use super::{Entry, MAX_ITEMS, Replicated};
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// The batch sent and not yet acknowledged, kept in place between batches: `deadline` is
/// `Some` while one is in flight, and the buffers of the last one acknowledged, cleared, take
/// the next (no allocation, and no move of the batch in and out of the channel, per batch).
#[derive(Debug)]
struct Inflight<I> {
    seq: u64,
    items: Vec<Entry<I>>,
    /// The commit marks of the queued items in `items`, in order.
    marks: Vec<u64>,
    /// What its acknowledgement commits ([`Channel::committed`]).
    upto: u64,
    /// The epoch of the bulk sync it ends, if it carries an [`Entry::SyncEnd`].
    ends: Option<u32>,
    /// When it is sent again; `None`: no batch in flight.
    deadline: Option<Instant>,
    /// When it was last sent, or its resend last put off (the `now` of that call): a deadline
    /// passed already, for a batch to go again at once ([`Channel::restart_bulk`]).
    sent: Option<Instant>,
    timeout: Duration,
}

impl<I> Default for Inflight<I> {
    fn default() -> Self {
        Inflight {
            seq: 0,
            items: Vec::new(),
            marks: Vec::new(),
            upto: 0,
            ends: None,
            deadline: None,
            sent: None,
            timeout: Duration::ZERO,
        }
    }
}

/// Where an outgoing bulk sync stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BulkSync {
    /// None in progress.
    #[default]
    Idle,
    /// To start: the next batch opens with [`Entry::SyncBegin`] under a new epoch.
    Start,
    /// Walking the subsystem's table from this cursor.
    Walk(u64),
    /// Walked: the next batch carries [`Entry::SyncEnd`].
    Finish,
}

/// An incoming bulk sync: its epoch and the keys its sender named since it began.
#[derive(Debug)]
struct SyncIn<K> {
    epoch: u32,
    seen: HashSet<K>,
}

/// What a channel counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelStats {
    /// Batches sent for the first time.
    pub batches_sent: u64,
    /// Batches sent again at their deadline.
    pub retransmits: u64,
    /// Items refused by a full queue: each time, the queue was dropped for a bulk sync.
    pub overflows: u64,
    /// Bulk syncs started (on (re)join or overflow).
    pub bulk_syncs: u64,
    /// Batches received again (or older than the last one): acknowledged, not applied.
    pub duplicates: u64,
    /// Batches the peer acknowledged ([`Channel::acked`] of the one in flight).
    pub acknowledged: u64,
}

/// The reliable, ordered replication channel with one peer (module docs of [`crate::replica`]).
///
/// Outgoing: a bounded queue of items, one batch in flight at a time (sequence numbers from 1,
/// retransmitted at its deadline with the timeout doubled up to a maximum, freed by its
/// acknowledgement) and the outgoing bulk sync. Incoming: the last batch applied (a batch not
/// newer is a duplicate: acknowledged, not applied) and the bulk sync in progress with the keys
/// it named.
#[derive(Debug)]
pub struct Channel<I: Replicated> {
    next_seq: u64,
    /// Queued items with their commit marks (increasing).
    queue: VecDeque<(u64, I)>,
    /// The mark of the last item queued.
    marked: u64,
    /// Every item marked up to this is applied by the peer ([`Channel::committed`]).
    committed: u64,
    /// The highest mark dropped (overflow): committed by a completed sync.
    dropped: u64,
    /// The batch in flight, if any ([`Inflight::deadline`]).
    inflight: Inflight<I>,
    bulk: BulkSync,
    epoch: u32,
    /// The epoch of the last bulk sync whose end the peer acknowledged ([`Channel::synced`]).
    synced: u32,
    sync_in: Option<SyncIn<I::Key>>,
    last_in: Option<u64>,
    stats: ChannelStats,
}

impl<I: Replicated> Default for Channel<I> {
    fn default() -> Self {
        Channel {
            next_seq: 0,
            queue: VecDeque::new(),
            marked: 0,
            committed: 0,
            dropped: 0,
            inflight: Inflight::default(),
            bulk: BulkSync::Idle,
            epoch: 0,
            synced: 0,
            sync_in: None,
            last_in: None,
            stats: ChannelStats::default(),
        }
    }
}

impl<I: Replicated> Channel<I> {
    /// An idle channel: nothing queued, no sync, epoch 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// As [`Channel::restart_bulk`], the sync's [`Entry::SyncBegin`] carrying `epoch` rather than
    /// the channel's next one: a sender that numbers its bulk syncs to all its peers in one
    /// sequence (so a receiver can tell whose copy is newer; `l2tp::lns::takeover` docs). It must
    /// differ from the epoch of the sync it replaces.
    pub fn restart_bulk_at(&mut self, epoch: u32) {
        self.epoch = epoch.wrapping_sub(1);
        self.restart_bulk();
    }

    /// As [`Channel::restart_bulk_at`], and the items queued (not yet in a batch) for which
    /// `replaced` holds are dropped, as an overflow drops items: the sync carries the table
    /// state they said, and their commit marks are committed by its end
    /// ([`Channel::committed`]). For a sender that queues its changes to a peer only while the
    /// peer backs it up (the virtual LNS, `l2tp::lns::replicate` docs): items left queued from
    /// an earlier turn missed the changes made since, and applied after the sync they would
    /// bring back state the sync left out. The others (decisions, records the sync does not
    /// carry) keep their place, after the sync, and no commit passes them before they are
    /// sent. Returns how many were dropped.
    pub fn restart_bulk_replacing(
        &mut self,
        epoch: u32,
        mut replaced: impl FnMut(&I) -> bool,
    ) -> usize {
        let (before, mut dropped) = (self.queue.len(), self.dropped);
        self.queue.retain(|(m, i)| {
            let drop = replaced(i);
            if drop {
                dropped = dropped.max(*m);
            }
            !drop
        });
        self.dropped = dropped;
        self.restart_bulk_at(epoch);
        before - self.queue.len()
    }

    /// (Re)starts a bulk sync under a new epoch (call it when the peer (re)joins). The batch in
    /// flight, if any, is kept (module docs, delivery): it is due at once (its deadline moved
    /// back to when it was last sent, so the next [`Channel::due`] sends it again, while the peer
    /// is up) and the sync's first batch follows its acknowledgement. Neither it nor any item
    /// of it is sent under another `seq`, so the peer, which applies a batch once, applies
    /// none of them twice; the sync that follows replaces whatever table state it carried.
    pub fn restart_bulk(&mut self) {
        self.restart(true);
    }

    /// [`Channel::restart_bulk`]; `hurry`: whether the batch in flight is made due at once (not
    /// on an overflow: the peer is slow, not back, and its acknowledgement is on the way).
    fn restart(&mut self, hurry: bool) {
        self.bulk = BulkSync::Start;
        self.stats.bulk_syncs += 1;
        let inf = &mut self.inflight;
        if hurry && inf.deadline.is_some() {
            inf.deadline = inf.sent;
        }
    }

    /// Queues `item`; `max` is the most items queued. A peer that far behind is resynchronised
    /// in bulk instead: the queue is dropped (the sync is authoritative: it also removes what
    /// dropped removals would have), except the items that [`Replicated::survives_overflow`]
    /// (all of them too when they alone fill the queue), and a bulk sync starts
    /// ([`Channel::restart_bulk`], the batch in flight kept: it waits for its acknowledgement,
    /// or its deadline, as before); `item` itself is kept only if it survives overflows.
    /// Returns whether the queue overflowed (counted in [`ChannelStats::overflows`]).
    #[inline]
    pub fn enqueue(&mut self, item: I, max: usize) -> bool {
        self.marked += 1;
        let mark = self.marked;
        if self.queue.len() < max {
            self.queue.push_back((mark, item));
            return false;
        }
        self.overflow(mark, item, max);
        true
    }

    /// [`Channel::enqueue`] of `item` then [`Channel::send_next`], when the channel is idle
    /// (nothing in flight or queued, no bulk sync to do) and `max` leaves room for an item:
    /// `item` goes straight into a batch of its own, in flight (deadline `now + rto`), with no
    /// push into the queue and pop out of it; the channel is left as those two calls leave it.
    /// Returns the batch's `seq`; else `Err(item)`, the channel untouched (queue it).
    #[inline]
    pub fn send_alone(
        &mut self,
        item: I,
        max: usize,
        now: Instant,
        rto: Duration,
    ) -> Result<u64, I> {
        let inf = &mut self.inflight;
        let idle = inf.deadline.is_none()
            && inf.items.is_empty()
            && self.queue.is_empty()
            && self.bulk == BulkSync::Idle;
        if !idle || max == 0 {
            return Err(item);
        }
        self.marked += 1;
        let mark = self.marked;
        inf.marks.push(mark);
        inf.items.push(Entry::Item(item));
        self.next_seq += 1;
        self.stats.batches_sent += 1;
        let upto = mark.max(self.dropped).max(self.committed);
        (inf.seq, inf.upto, inf.ends) = (self.next_seq, upto, None);
        (inf.deadline, inf.sent, inf.timeout) = (Some(now + rto), Some(now), rto);
        Ok(self.next_seq)
    }

    /// [`Channel::enqueue`] of `item` (marked `mark`) on a full queue: out of line, so that
    /// queueing an item is a push and little more.
    #[cold]
    #[inline(never)]
    fn overflow(&mut self, mark: u64, item: I, max: usize) {
        self.stats.overflows += 1;
        let mut dropped = self.dropped;
        self.queue.retain(|(m, i)| {
            let keep = i.survives_overflow();
            if !keep {
                dropped = dropped.max(*m);
            }
            keep
        });
        if self.queue.len() >= max {
            dropped = dropped.max(self.queue.back().map_or(0, |(m, _)| *m));
            self.queue.clear();
        }
        self.dropped = dropped;
        self.restart(false);
        if item.survives_overflow() {
            self.queue.push_back((mark, item));
        } else {
            self.dropped = mark;
        }
    }

    /// The commit mark of the last item queued (0 before any): once [`Channel::committed`]
    /// reaches it, the peer has applied that item and every one queued before it (or a bulk
    /// sync that covers them). A subsystem holds output that must not be seen before the
    /// peer holds the state behind it (output commit) until then.
    pub fn mark(&self) -> u64 {
        self.marked
    }

    /// Every item whose mark ([`Channel::mark`]) is at most this is applied by the peer: its
    /// batch was acknowledged, or it was dropped (overflow) and the bulk sync that replaced it
    /// was acknowledged to its end.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// The item queued last (not yet in a batch), to update in place: a subsystem coalesces a
    /// change into it instead of queueing another item (same wire format, fewer items).
    pub fn last_queued_mut(&mut self) -> Option<&mut I> {
        self.queue.back_mut().map(|(_, i)| i)
    }

    /// Items not yet acknowledged (queued or in flight), a bulk sync to do counting one.
    pub fn backlog(&self) -> usize {
        self.queue.len()
            + self.in_flight().map_or(0, |(_, items)| items.len())
            + usize::from(self.bulk != BulkSync::Idle)
    }

    /// The next batch when nothing is in flight: up to [`MAX_ITEMS`] entries, the bulk sync
    /// first ([`Entry::SyncBegin`] with the next epoch, then the table walked from a cursor,
    /// then [`Entry::SyncEnd`]), then the queue. It is held in flight, deadline `now + rto`,
    /// until acknowledged ([`Channel::acked`]). Returns its `(seq, entries)`; `None` when a
    /// batch is in flight or there is nothing to send.
    ///
    /// `walk(cursor)` is the subsystem's table: the first position at or after `cursor` that
    /// holds a record, with what the sync says of it to this peer (`None`: nothing); `None`
    /// when the table holds nothing from `cursor` on.
    pub fn next_batch(
        &mut self,
        now: Instant,
        rto: Duration,
        walk: impl FnMut(u64) -> Option<(u64, Option<I>)>,
    ) -> Option<(u64, Vec<Entry<I>>)> {
        let seq = self.send_next(now, rto, walk)?;
        self.in_flight().map(|(_, items)| (seq, items.to_vec()))
    }

    /// As [`Channel::next_batch`], the batch left in place: its `seq`, its entries read with
    /// [`Channel::in_flight`] (no copy of them).
    pub fn send_next(
        &mut self,
        now: Instant,
        rto: Duration,
        mut walk: impl FnMut(u64) -> Option<(u64, Option<I>)>,
    ) -> Option<u64> {
        if self.inflight.deadline.is_some() {
            return None;
        }
        // Filled in place (left empty by the last acknowledgement).
        let Inflight { items, marks, .. } = &mut self.inflight;
        let mut ends = None;
        while items.len() < MAX_ITEMS {
            match self.bulk {
                BulkSync::Idle => break,
                BulkSync::Start => {
                    self.epoch = self.epoch.wrapping_add(1);
                    items.push(Entry::SyncBegin { epoch: self.epoch });
                    self.bulk = BulkSync::Walk(0);
                }
                BulkSync::Walk(c) => match walk(c) {
                    Some((at, item)) => {
                        items.extend(item.map(Entry::Item));
                        self.bulk = at.checked_add(1).map_or(BulkSync::Finish, BulkSync::Walk);
                    }
                    None => self.bulk = BulkSync::Finish,
                },
                BulkSync::Finish => {
                    items.push(Entry::SyncEnd { epoch: self.epoch });
                    ends = Some(self.epoch);
                    self.bulk = BulkSync::Idle;
                }
            }
        }
        while items.len() < MAX_ITEMS {
            match self.queue.pop_front() {
                Some((m, i)) => {
                    marks.push(m);
                    items.push(Entry::Item(i));
                }
                None => break,
            }
        }
        if items.is_empty() {
            return None;
        }
        // Marks are queued in increasing order: all before the last one taken were in batches
        // acknowledged, dropped (a sync covers them once it ends), or are in this one. An item
        // still queued (one that outlived a drop of items marked after it) is none of those:
        // the commit stops short of it.
        let unsent = self.queue.front().map_or(u64::MAX, |(m, _)| m - 1);
        let upto = match self.bulk {
            BulkSync::Idle => marks
                .last()
                .copied()
                .unwrap_or(0)
                .max(self.dropped)
                .min(unsent)
                .max(self.committed),
            _ => self.committed,
        };
        self.next_seq += 1;
        let seq = self.next_seq;
        self.stats.batches_sent += 1;
        let inf = &mut self.inflight;
        (inf.seq, inf.upto, inf.ends) = (seq, upto, ends);
        (inf.deadline, inf.sent, inf.timeout) = (Some(now + rto), Some(now), rto);
        Some(seq)
    }

    /// The batch in flight once its deadline passed: to send again, the timeout doubled up to
    /// `max_rto`, when the peer is `up`; else kept (deadline `now + max_rto`) for when it is (a
    /// bulk sync covers it then). `None` before the deadline or with nothing in flight.
    pub fn due(
        &mut self,
        now: Instant,
        up: bool,
        max_rto: Duration,
    ) -> Option<(u64, Vec<Entry<I>>)> {
        let seq = self.resend_due(now, up, max_rto)?;
        self.in_flight().map(|(_, items)| (seq, items.to_vec()))
    }

    /// As [`Channel::due`], the batch left in place: its `seq`, its entries read with
    /// [`Channel::in_flight`].
    pub fn resend_due(&mut self, now: Instant, up: bool, max_rto: Duration) -> Option<u64> {
        let inf = &mut self.inflight;
        if inf.deadline.is_none_or(|d| d > now) {
            return None;
        }
        inf.sent = Some(now);
        if !up {
            inf.deadline = Some(now + max_rto);
            return None;
        }
        inf.timeout = inf.timeout.saturating_mul(2).min(max_rto);
        inf.deadline = Some(now + inf.timeout);
        self.stats.retransmits += 1;
        Some(inf.seq)
    }

    /// Whether [`Channel::next_batch`] or [`Channel::due`] has something at `now`: nothing in
    /// flight and items queued or a bulk sync to do, or the batch in flight due. A subsystem
    /// skips idle channels with it (no walk, no lookup).
    pub fn ready(&self, now: Instant) -> bool {
        match self.inflight.deadline {
            Some(d) => d <= now,
            None => !self.queue.is_empty() || self.bulk != BulkSync::Idle,
        }
    }

    /// The deadline of the batch in flight, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.inflight.deadline
    }

    /// The peer acknowledged batch `seq`: whether it was the one in flight (now freed).
    pub fn acked(&mut self, seq: u64) -> bool {
        let inf = &mut self.inflight;
        let hit = inf.deadline.is_some() && inf.seq == seq;
        if hit {
            self.stats.acknowledged += 1;
            inf.deadline = None;
            self.committed = self.committed.max(inf.upto);
            if let Some(e) = inf.ends {
                self.synced = e;
            }
            // The buffers stay, empty, for the next batch.
            inf.items.clear();
            inf.marks.clear();
        }
        hit
    }

    /// A batch `seq` from the peer: whether it is new, to apply (it is acknowledged either
    /// way). One not newer than the last applied is a duplicate (a retransmission whose
    /// acknowledgement was lost, or a reordered copy).
    pub fn receive(&mut self, seq: u64) -> bool {
        let fresh = self.last_in.is_none_or(|l| seq > l);
        if fresh {
            self.last_in = Some(seq);
        } else {
            self.stats.duplicates += 1;
        }
        fresh
    }

    /// Whether a batch from the peer was ever taken (since its last restart,
    /// [`Channel::reset_incoming`]): the peer replicates.
    pub fn received_any(&self) -> bool {
        self.last_in.is_some()
    }

    /// The peer restarted with its state lost: its batch numbers start again and a bulk sync it
    /// had begun will not end.
    pub fn reset_incoming(&mut self) {
        self.last_in = None;
        self.sync_in = None;
    }

    /// The peer begins bulk sync `epoch` ([`Entry::SyncBegin`]): it replaces one left unfinished.
    pub fn begin_sync(&mut self, epoch: u32) {
        self.sync_in = Some(SyncIn {
            epoch,
            seen: HashSet::new(),
        });
    }

    /// The peer's bulk sync in progress (if any) named these records.
    pub fn mark_seen(&mut self, keys: &[I::Key]) {
        if let Some(s) = self.sync_in.as_mut() {
            s.seen.extend(keys.iter().cloned());
        }
    }

    /// The peer's bulk sync `epoch` ends ([`Entry::SyncEnd`]): the keys it named, to sweep the
    /// others with [`sweep`]; `None` (and the sync in progress kept) for another epoch or with
    /// none in progress.
    pub fn end_sync(&mut self, epoch: u32) -> Option<HashSet<I::Key>> {
        if self.sync_in.as_ref().is_none_or(|s| s.epoch != epoch) {
            return None;
        }
        self.sync_in.take().map(|s| s.seen)
    }

    /// The epoch of the peer's bulk sync in progress, if any.
    pub fn sync_in_epoch(&self) -> Option<u32> {
        self.sync_in.as_ref().map(|s| s.epoch)
    }

    /// The epoch of the last bulk sync started towards the peer (0 before any).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Whether the peer acknowledged the end of the last bulk sync started towards it (so it
    /// applied the whole sync): `false` from [`Channel::restart_bulk`] until the batch carrying
    /// its [`Entry::SyncEnd`] is acknowledged; `true` on a channel that never synced.
    pub fn synced(&self) -> bool {
        self.bulk == BulkSync::Idle && self.synced == self.epoch
    }

    /// Where the outgoing bulk sync stands.
    pub fn bulk(&self) -> BulkSync {
        self.bulk
    }

    /// The items queued, in order.
    pub fn queued(&self) -> impl Iterator<Item = &I> {
        self.queue.iter().map(|(_, i)| i)
    }

    /// The batch in flight: its `seq` and entries.
    pub fn in_flight(&self) -> Option<(u64, &[Entry<I>])> {
        let inf = &self.inflight;
        inf.deadline.map(|_| (inf.seq, inf.items.as_slice()))
    }

    /// What the channel counted.
    pub fn stats(&self) -> ChannelStats {
        self.stats
    }
}

/// The end-of-sync sweep: of `held` (the receiver's replicas the sender is authoritative for,
/// by the subsystem's rule), those the sync did not name (`seen`, from [`Channel::end_sync`]).
pub fn sweep<K: Eq + std::hash::Hash>(
    held: impl IntoIterator<Item = K>,
    seen: &HashSet<K>,
) -> Vec<K> {
    held.into_iter().filter(|k| !seen.contains(k)).collect()
}

/// A bound on the replicas kept for one peer (the subsystem's configured maximum), with what
/// it refused: the subsystem asks [`Quota::try_hold`] before storing a new replica from that
/// peer and calls [`Quota::release`] when one goes. When full, the new replica is not stored
/// (the batch is still acknowledged: the peer's state is not lost, only not backed up here)
/// and [`Quota::refused`] counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    max: usize,
    held: usize,
    refused: u64,
}

impl Quota {
    /// At most `max` replicas.
    pub fn new(max: usize) -> Self {
        Quota {
            max,
            held: 0,
            refused: 0,
        }
    }

    /// Takes one place: `false` (and counted) when all `max` are held.
    pub fn try_hold(&mut self) -> bool {
        if self.held >= self.max {
            self.refused += 1;
            return false;
        }
        self.held += 1;
        true
    }

    /// Gives one place back.
    pub fn release(&mut self) {
        self.held = self.held.saturating_sub(1);
    }

    /// Places held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// The configured maximum.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Replicas refused because the quota was full.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}
