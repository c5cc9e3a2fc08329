//! The replication mechanism's own rules (module docs of [`crate::replica`]), on a toy item.

use super::*;
use crate::health::NodeId;
use crate::io::HmacMd5Key;
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// A toy subsystem item: a record `key = value` (kind 1), or a decision that survives
/// overflows (kind 2).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Toy {
    Set { key: u32, value: u32 },
    Decision(u32),
}

#[derive(Debug, PartialEq, Eq)]
enum ToyError {
    Frame(FrameError),
    Kind(u8),
    Short(&'static str),
}

impl From<FrameError> for ToyError {
    fn from(e: FrameError) -> Self {
        ToyError::Frame(e)
    }
}

impl From<crate::io::Short<&'static str>> for ToyError {
    fn from(s: crate::io::Short<&'static str>) -> Self {
        ToyError::Short(s.field)
    }
}

impl Replicated for Toy {
    type Key = u32;
    type Error = ToyError;
    fn encode<B: bytes::BufMut>(&self, out: &mut B) {
        match self {
            Toy::Set { key, value } => {
                out.put_u8(1);
                out.put_u32(*key);
                out.put_u32(*value);
            }
            Toy::Decision(d) => {
                out.put_u8(2);
                out.put_u32(*d);
            }
        }
    }
    fn parse(kind: u8, r: &mut Reader<'_>) -> Result<Self, ToyError> {
        Ok(match kind {
            1 => Toy::Set {
                key: r.u32("key")?,
                value: r.u32("value")?,
            },
            2 => Toy::Decision(r.u32("decision")?),
            k => return Err(ToyError::Kind(k)),
        })
    }
    fn survives_overflow(&self) -> bool {
        matches!(self, Toy::Decision(_))
    }
}

fn set(key: u32) -> Toy {
    Toy::Set {
        key,
        value: key * 10,
    }
}

const RTO: Duration = Duration::from_millis(200);

/// A table of records at the given positions, walked as a bulk sync walks it.
fn walk(table: &[u32]) -> impl FnMut(u64) -> Option<(u64, Option<Toy>)> + '_ {
    |c| {
        let &k = table.iter().find(|&&k| u64::from(k) >= c)?;
        Some((u64::from(k), Some(set(k))))
    }
}

fn none(_: u64) -> Option<(u64, Option<Toy>)> {
    None
}

/// "Reliable and ordered per peer": one batch in flight, at most MAX_ITEMS entries, the next
/// only after the acknowledgement, in queue order, numbered from 1.
#[test]
fn batches_go_one_at_a_time_in_order() {
    let t0 = Instant::now();
    let mut ch = Channel::<Toy>::new();
    for k in 0..40 {
        assert!(!ch.enqueue(set(k), 100));
    }
    assert_eq!(ch.backlog(), 40);
    let (seq, first) = ch.next_batch(t0, RTO, none).unwrap();
    assert_eq!(seq, 1);
    assert_eq!(first.len(), MAX_ITEMS);
    assert_eq!(ch.next_batch(t0, RTO, none), None, "one batch in flight");
    assert!(
        !ch.acked(2),
        "an acknowledgement of another batch frees nothing"
    );
    assert!(ch.acked(1));
    let (seq, second) = ch.next_batch(t0, RTO, none).unwrap();
    assert_eq!(seq, 2);
    let keys: Vec<Toy> = first
        .into_iter()
        .chain(second)
        .filter_map(|e| e.item().cloned())
        .collect();
    assert_eq!(keys, (0..40).map(set).collect::<Vec<_>>());
    assert!(ch.acked(2));
    assert_eq!((ch.backlog(), ch.next_batch(t0, RTO, none)), (0, None));
}

/// "Sent again at its deadline with the timeout doubled up to a maximum, only while the peer
/// is up."
#[test]
fn an_unacknowledged_batch_is_retransmitted_with_backoff() {
    let t0 = Instant::now();
    let max = RTO * 8;
    let mut ch = Channel::<Toy>::new();
    ch.enqueue(set(1), 10);
    let sent = ch.next_batch(t0, RTO, none).unwrap();
    assert_eq!(ch.deadline(), Some(t0 + RTO));
    assert_eq!(ch.due(t0 + RTO - Duration::from_millis(1), true, max), None);
    let mut at = t0 + RTO;
    for timeout in [2, 4, 8, 8] {
        assert_eq!(ch.due(at, true, max).as_ref(), Some(&sent));
        assert_eq!(ch.deadline(), Some(at + RTO * timeout));
        at += RTO * timeout;
    }
    // The peer is down: kept, not sent, looked at again after the longest timeout.
    assert_eq!(ch.due(at, false, max), None);
    assert_eq!(ch.deadline(), Some(at + max));
    assert_eq!(ch.stats().retransmits, 4);
    assert!(ch.acked(sent.0));
    assert_eq!((ch.deadline(), ch.due(at + max, true, max)), (None, None));
}

/// Before its deadline a batch in flight is not sent again and nothing changes, whether the
/// peer is up or not (so a subsystem need not look the peer's state up before the deadline,
/// as the virtual LNS does not): only from the deadline does `up` choose between resending
/// and waiting.
#[test]
fn before_its_deadline_a_batch_is_not_due_whatever_the_peer() {
    let (t0, max) = (Instant::now(), RTO * 8);
    let mut ch = Channel::<Toy>::new();
    ch.enqueue(set(1), 10);
    ch.send_next(t0, RTO, none).unwrap();
    for up in [true, false, true] {
        for early in [t0, t0 + RTO - Duration::from_millis(1)] {
            assert_eq!(ch.resend_due(early, up, max), None);
            assert_eq!(ch.deadline(), Some(t0 + RTO));
            assert!(!ch.ready(early));
        }
    }
    assert_eq!(ch.stats().retransmits, 0);
    assert!(ch.ready(t0 + RTO));
    assert_eq!(ch.resend_due(t0 + RTO, false, max), None);
    assert_eq!(ch.deadline(), Some(t0 + RTO + max));
    assert_eq!(ch.resend_due(t0 + RTO + max, true, max), Some(1));
    assert_eq!(ch.stats().retransmits, 1);
}

/// "A batch not newer than the last applied is a duplicate: acknowledged, not applied."
#[test]
fn a_duplicate_or_older_batch_is_not_applied_again() {
    let mut ch = Channel::<Toy>::new();
    assert!(ch.receive(1));
    assert!(!ch.receive(1));
    assert!(ch.receive(2));
    assert!(!ch.receive(1));
    assert_eq!(ch.stats().duplicates, 2);
    // The peer restarted with its state lost: its numbering starts again.
    ch.reset_incoming();
    assert!(ch.receive(1));
}

/// "Past the bound the queue is dropped, except items that must survive, and a bulk sync
/// starts"; the batch in flight is kept (delivery: nothing is queued again) and the sync
/// follows its acknowledgement, the survivors after the sync.
#[test]
fn a_queue_overflow_falls_back_to_a_bulk_sync() {
    let t0 = Instant::now();
    let mut ch = Channel::<Toy>::new();
    ch.enqueue(Toy::Decision(9), 10);
    ch.enqueue(set(100), 10);
    let (seq, sent) = ch.next_batch(t0, RTO, none).unwrap();
    ch.enqueue(set(1), 3);
    ch.enqueue(Toy::Decision(1), 3);
    ch.enqueue(set(2), 3);
    assert_eq!(ch.bulk(), BulkSync::Idle);
    assert!(ch.enqueue(set(3), 3), "the fourth item overflows");
    assert_eq!(ch.bulk(), BulkSync::Start);
    assert_eq!(
        ch.in_flight(),
        Some((seq, &sent[..])),
        "the batch in flight is kept"
    );
    assert_eq!(
        ch.deadline(),
        Some(t0 + RTO),
        "an overflow does not hurry it"
    );
    let queued: Vec<&Toy> = ch.queued().collect();
    assert_eq!(queued, [&Toy::Decision(1)]);
    // A survivor overflowing a queue full of survivors: all go, it stays.
    let mut full = Channel::<Toy>::new();
    full.enqueue(Toy::Decision(1), 1);
    full.enqueue(Toy::Decision(2), 1);
    assert_eq!(full.queued().collect::<Vec<_>>(), [&Toy::Decision(2)]);
    // Nothing more until the batch in flight is acknowledged; then the sync under epoch 1 over
    // the table, then the survivor.
    let table = [2, 5];
    assert_eq!(ch.next_batch(t0, RTO, walk(&table)), None);
    assert!(ch.acked(seq));
    let (_, items) = ch.next_batch(t0, RTO, walk(&table)).unwrap();
    assert_eq!(
        items,
        [
            Entry::SyncBegin { epoch: 1 },
            Entry::Item(set(2)),
            Entry::Item(set(5)),
            Entry::SyncEnd { epoch: 1 },
            Entry::Item(Toy::Decision(1)),
        ]
    );
    assert_eq!(ch.stats().overflows, 1);
}

/// Commit marks (`Channel::mark`, `Channel::committed`, output commit): an item is committed
/// once the batch carrying it is acknowledged, not when it is sent or merely queued behind; an
/// item dropped by an overflow only once the bulk sync that replaces it is acknowledged to its
/// end (its last batch), and a survivor requeued keeps its place in that order.
#[test]
fn commit_marks_follow_acknowledgements_and_syncs() {
    let t0 = Instant::now();
    let mut ch = Channel::<Toy>::new();
    assert_eq!((ch.mark(), ch.committed()), (0, 0));
    ch.enqueue(set(1), 100);
    let m1 = ch.mark();
    ch.enqueue(set(2), 100);
    let m2 = ch.mark();
    assert!(m2 > m1);
    let (seq, _) = ch.next_batch(t0, RTO, none).unwrap();
    ch.enqueue(set(3), 100);
    let m3 = ch.mark();
    assert_eq!(ch.committed(), 0, "sent, not acknowledged");
    assert!(!ch.acked(seq + 1));
    assert_eq!(
        ch.committed(),
        0,
        "another batch's acknowledgement commits nothing"
    );
    assert!(ch.acked(seq));
    assert!(
        ch.committed() >= m2 && ch.committed() < m3,
        "the queued item is not committed"
    );
    let (seq, _) = ch.next_batch(t0, RTO, none).unwrap();
    assert!(ch.acked(seq));
    assert_eq!(ch.committed(), m3);

    // Overflow: the dropped items are committed by the end of the sync only.
    ch.enqueue(set(4), 2);
    ch.enqueue(Toy::Decision(7), 2);
    assert!(ch.enqueue(set(5), 2), "overflow");
    let m5 = ch.mark();
    let before = ch.committed();
    let table: Vec<u32> = (0..40).collect();
    let (seq, items) = ch.next_batch(t0, RTO, walk(&table)).unwrap();
    assert!(
        !items.contains(&Entry::SyncEnd { epoch: 1 }),
        "a sync of two batches"
    );
    assert!(ch.acked(seq));
    assert_eq!(ch.committed(), before, "the sync is not over");
    let (seq, items) = ch.next_batch(t0, RTO, walk(&table)).unwrap();
    assert!(items.contains(&Entry::SyncEnd { epoch: 1 }));
    assert!(
        items.contains(&Entry::Item(Toy::Decision(7))),
        "the survivor follows"
    );
    assert!(ch.acked(seq));
    assert_eq!(ch.committed(), m5);
}

/// `Channel::restart_bulk_replacing`: the queued items it names are dropped for the sync (none
/// follows it), the others keep their place after it; the dropped items' marks are committed by
/// the sync's end, and no commit passes an item still queued (a decision queued before them,
/// not yet sent when the batch ending the sync is acknowledged).
#[test]
fn a_sync_replacing_queued_items_drops_them_and_keeps_the_rest() {
    let t0 = Instant::now();
    let mut ch = Channel::<Toy>::new();
    ch.enqueue(Toy::Decision(7), 100);
    let m1 = ch.mark();
    ch.enqueue(set(100), 100);
    ch.enqueue(set(101), 100);
    let m3 = ch.mark();
    let dropped = ch.restart_bulk_replacing(4, |i| matches!(i, Toy::Set { .. }));
    assert_eq!(dropped, 2);
    assert_eq!(ch.queued().collect::<Vec<_>>(), [&Toy::Decision(7)]);
    // A table that fills the sync's batch to its end.
    let table: Vec<u32> = (0..MAX_ITEMS as u32 - 2).collect();
    let (seq, items) = ch.next_batch(t0, RTO, walk(&table)).unwrap();
    assert_eq!(items.len(), MAX_ITEMS);
    assert_eq!(items.first(), Some(&Entry::SyncBegin { epoch: 4 }));
    assert_eq!(items.last(), Some(&Entry::SyncEnd { epoch: 4 }));
    assert!(ch.acked(seq));
    assert!(
        ch.committed() < m1,
        "the decision, still queued, is not committed"
    );
    let (seq, items) = ch.next_batch(t0, RTO, walk(&table)).unwrap();
    assert_eq!(
        items,
        [Entry::Item(Toy::Decision(7))],
        "no dropped item follows the sync"
    );
    assert!(ch.acked(seq));
    assert_eq!(ch.committed(), m3);
}

/// A bulk sync walks the whole table from its cursor, a batch of at most MAX_ITEMS at a time,
/// positions with nothing to say skipped, and only then the queue.
#[test]
fn a_bulk_sync_walks_the_table_across_batches() {
    let t0 = Instant::now();
    let mut ch = Channel::<Toy>::new();
    ch.restart_bulk();
    ch.enqueue(set(1000), 10);
    let table: Vec<u32> = (0..100).map(|k| k * 3).collect();
    let mut seen = Vec::new();
    let mut ends = 0;
    while let Some((seq, items)) = ch.next_batch(t0, RTO, |c| {
        let (at, item) = walk(&table)(c)?;
        Some((at, item.filter(|_| at % 2 == 0)))
    }) {
        assert!(items.len() <= MAX_ITEMS);
        for e in items {
            match e {
                Entry::Item(Toy::Set { key, .. }) => seen.push(key),
                Entry::SyncEnd { epoch } => {
                    assert_eq!(epoch, 1);
                    ends += 1;
                }
                _ => {}
            }
        }
        assert!(ch.acked(seq));
    }
    let mut want: Vec<u32> = table.iter().copied().filter(|k| k % 2 == 0).collect();
    want.push(1000);
    assert_eq!((seen, ends), (want, 1));
}

/// `Channel::synced`: false from the start of a bulk sync until the peer acknowledged the batch
/// carrying its end (a sync over several batches, one lost on the way); a sync restarted before
/// that is not synced by the acknowledgement of an end of the former epoch.
#[test]
fn synced_only_once_the_end_of_the_sync_is_acknowledged() {
    let t0 = Instant::now();
    let mut ch = Channel::<Toy>::new();
    assert!(ch.synced(), "nothing to sync");
    ch.restart_bulk();
    assert!(!ch.synced());
    let table: Vec<u32> = (0..40).collect();
    let (seq, items) = ch.next_batch(t0, RTO, walk(&table)).unwrap();
    assert!(!items.iter().any(|e| matches!(e, Entry::SyncEnd { .. })));
    assert!(ch.acked(seq));
    assert!(!ch.synced(), "half the table acknowledged");
    let (seq, items) = ch.next_batch(t0, RTO, walk(&table)).unwrap();
    assert!(items.contains(&Entry::SyncEnd { epoch: 1 }));
    assert!(!ch.synced(), "the end is in flight");
    assert!(!ch.acked(seq + 1), "another batch's acknowledgement");
    assert!(!ch.synced());
    // Restarted while the end of epoch 1 is in flight: its batch is kept, and its
    // acknowledgement does not sync the new one.
    ch.restart_bulk();
    assert!(ch.acked(seq), "the batch kept");
    assert!(!ch.synced());
    let (seq, items) = ch.next_batch(t0, RTO, none).unwrap();
    assert_eq!(
        items,
        [Entry::SyncBegin { epoch: 2 }, Entry::SyncEnd { epoch: 2 }]
    );
    assert!(ch.acked(seq));
    assert!(ch.synced());
    // Items queued later do not unsync it.
    ch.enqueue(set(1), 10);
    assert!(ch.synced());
}

/// "At the end of the same epoch it removes the replicas of that sender it did not see; an
/// end of another epoch sweeps nothing."
#[test]
fn the_end_of_a_sync_sweeps_only_what_its_epoch_did_not_name() {
    let mut ch = Channel::<Toy>::new();
    assert_eq!(ch.end_sync(1), None, "no sync in progress");
    ch.mark_seen(&[1]);
    ch.begin_sync(7);
    ch.mark_seen(&[1, 3]);
    assert_eq!(ch.end_sync(8), None);
    assert_eq!(ch.sync_in_epoch(), Some(7), "kept for its own end");
    let seen = ch.end_sync(7).unwrap();
    assert_eq!(seen, HashSet::from([1, 3]));
    assert_eq!(sweep([1, 2, 3, 4], &seen), [2, 4]);
    assert_eq!(ch.end_sync(7), None, "ended once");
}

/// "A bulk sync under a new epoch": each sync (re)started towards a peer has the next epoch,
/// its begin and end the same; a sync begun by the peer replaces one left unfinished.
#[test]
fn every_bulk_sync_has_its_own_epoch() {
    let t0 = Instant::now();
    let mut ch = Channel::<Toy>::new();
    for epoch in 1..=3 {
        ch.restart_bulk();
        let (seq, items) = ch.next_batch(t0, RTO, none).unwrap();
        assert_eq!(
            items,
            [Entry::SyncBegin { epoch }, Entry::SyncEnd { epoch }]
        );
        assert_eq!(ch.epoch(), epoch);
        ch.acked(seq);
    }
    let mut rx = Channel::<Toy>::new();
    rx.begin_sync(1);
    rx.mark_seen(&[5]);
    rx.begin_sync(2);
    rx.mark_seen(&[6]);
    assert_eq!(rx.end_sync(1), None);
    assert_eq!(rx.end_sync(2), Some(HashSet::from([6])));
}

/// "What happens when full is documented and counted."
#[test]
fn a_full_quota_refuses_and_counts() {
    let mut q = Quota::new(2);
    assert!(q.try_hold() && q.try_hold());
    assert!(!q.try_hold());
    assert_eq!((q.held(), q.refused()), (2, 1));
    q.release();
    assert!(q.try_hold());
    assert_eq!((q.held(), q.max(), q.refused()), (2, 2, 1));
}

const ENV: Envelope = Envelope::new(*b"\xfeT1", 1);

/// The envelope opens only under its magic, its key and its version; the header comes back.
#[test]
fn an_envelope_opens_only_with_its_magic_key_and_version() {
    let key = HmacMd5Key::new(b"cluster key");
    let h = Header {
        kind: KIND_ACK,
        sender: NodeId(3),
        incarnation: 9,
        pn: 0x0102_0304_0506_0708,
    };
    let m = ENV.seal(&key, &h, |out| out.extend_from_slice(b"body"));
    assert_eq!(m.len(), HEADER_LEN + 4 + TAG_LEN);
    assert_eq!(ENV.open(&key, &m), Ok((h, &b"body"[..])));
    assert_eq!(
        ENV.open(&HmacMd5Key::new(b"other"), &m),
        Err(OpenError::BadMac)
    );
    let other = Envelope::new(*b"\xfeU1", 1);
    assert_eq!(other.open(&key, &m), Err(OpenError::Foreign));
    let v2 = Envelope::new(ENV.magic, 2);
    let m2 = v2.seal(&key, &h, |_| {});
    assert_eq!(ENV.open(&key, &m2), Err(OpenError::Version { version: 2 }));
    assert_eq!(
        ENV.open(&key, &m[..HEADER_LEN]),
        Err(OpenError::Truncated { needed: TAG_LEN })
    );
    let mut w = ReplayWindow::default();
    assert!(w.admit(&h));
    assert!(!w.admit(&h), "a replay is refused");
    assert!(
        w.admit(&Header {
            incarnation: 10,
            pn: 1,
            ..h
        }),
        "a restart resets it"
    );
    assert_eq!(w.incarnation(), 10);
}

fn toy() -> impl Strategy<Value = Toy> {
    prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(key, value)| Toy::Set { key, value }),
        any::<u32>().prop_map(Toy::Decision),
    ]
}

fn entry() -> impl Strategy<Value = Entry<Toy>> {
    prop_oneof![
        toy().prop_map(Entry::Item),
        any::<u32>().prop_map(|epoch| Entry::SyncBegin { epoch }),
        any::<u32>().prop_map(|epoch| Entry::SyncEnd { epoch }),
    ]
}

fn frame() -> impl Strategy<Value = Frame<Toy>> {
    prop_oneof![
        (any::<u64>(), vec(entry(), 0..=MAX_ITEMS))
            .prop_map(|(seq, items)| Frame::Replicate { seq, items }),
        any::<u64>().prop_map(|seq| Frame::Ack { seq }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frames_round_trip(f in frame(), base in 0usize..64) {
        let mut b = Vec::new();
        f.encode(&mut b);
        let parsed = Frame::<Toy>::parse_complete(f.kind(), &b, base).unwrap();
        prop_assert_eq!(&parsed, &f);
        let mut again = Vec::new();
        parsed.encode(&mut again);
        prop_assert_eq!(again, b.clone());
        // Any shorter body is refused with a typed error, never a panic.
        for n in 0..b.len() {
            prop_assert!(Frame::<Toy>::parse_complete(f.kind(), &b[..n], base).is_err());
        }
    }

    #[test]
    fn sealed_frames_round_trip(f in frame(), sender in any::<u32>(), incarnation in any::<u32>(), pn in any::<u64>()) {
        let key = HmacMd5Key::new(b"k");
        let h = Header { kind: f.kind(), sender: NodeId(sender), incarnation, pn };
        let m = ENV.seal(&key, &h, |out| f.encode(out));
        let (got, body) = ENV.open(&key, &m).unwrap();
        prop_assert_eq!(got, h);
        prop_assert_eq!(Frame::<Toy>::parse_complete(got.kind, body, HEADER_LEN).unwrap(), f);
    }

    #[test]
    fn arbitrary_bodies_never_panic_and_reemit_exactly(kind in 3u8..7, data in vec(any::<u8>(), 0..200)) {
        if let Ok(f) = Frame::<Toy>::parse_complete(kind, &data, 0) {
            let mut b = Vec::new();
            f.encode(&mut b);
            prop_assert_eq!(b, data);
        }
    }
}

/// A batch read field by field with the reader's own reads (the reference of
/// [`parse_batch_into`], which reads the fixed fields at once).
fn batch_by_fields(r: &mut Reader<'_>, items: &mut Vec<Entry<Toy>>) -> Result<u64, ToyError> {
    items.clear();
    let seq = r.u64(Field::BatchSequence).map_err(FrameError::from)?;
    let count = usize::from(r.u8(Field::ItemCount).map_err(FrameError::from)?);
    if count > MAX_ITEMS {
        return Err(FrameError::TooManyItems { count }.into());
    }
    for _ in 0..count {
        let kind = r.u8(Field::ItemKind).map_err(FrameError::from)?;
        let epoch = |r: &mut Reader<'_>| r.u32(Field::Epoch).map_err(FrameError::from);
        items.push(match kind {
            SYNC_BEGIN => Entry::SyncBegin { epoch: epoch(r)? },
            SYNC_END => Entry::SyncEnd { epoch: epoch(r)? },
            k => Entry::Item(Toy::parse(k, r)?),
        });
    }
    Ok(seq)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Module docs of `frame` (the batch: `seq` (u64), the count (u8), the entries; an
    /// acknowledgement: the `seq`): [`parse_batch_into`] and [`parse_ack`], which read the fixed
    /// fields at once, return what the field-by-field reads return (values, typed errors with
    /// their offsets, the entries before an error) and leave the reader where those do, for
    /// every cut of an encoded frame and for arbitrary octets.
    #[test]
    fn batch_reads_equal_field_by_field(
        f in frame(),
        noise in vec(any::<u8>(), 0..48),
        count in 0u8..40,
        base in 0usize..64,
    ) {
        let mut b = Vec::new();
        f.encode(&mut b);
        // Arbitrary octets, with a count that is often within the bound.
        let mut noisy = noise.clone();
        if let Some(c) = noisy.get_mut(8) {
            *c = count;
        }
        for input in (0..=b.len()).map(|n| &b[..n]).chain([&noise[..], &noisy[..]]) {
            let (mut fast, mut fields) = (Reader::at(input, base), Reader::at(input, base));
            let (mut got, mut want) = (vec![Entry::SyncEnd { epoch: 1 }], Vec::new());
            let a = parse_batch_into::<Toy>(&mut fast, &mut got);
            let z = batch_by_fields(&mut fields, &mut want);
            prop_assert_eq!((a, got, fast.offset()), (z, want, fields.offset()));
            let (mut fast, mut fields) = (Reader::at(input, base), Reader::at(input, base));
            let a = parse_ack::<Toy>(&mut fast);
            let z = fields.u64(Field::BatchSequence).map_err(|e| ToyError::Frame(e.into()));
            prop_assert_eq!((a, fast.offset()), (z, fields.offset()));
        }
    }

    /// Module docs of `frame` (the batch: `seq`, the count, then the entries): a batch read as
    /// its head ([`parse_batch_head`]) then its entries one by one ([`Entry::parse`], a
    /// receiver's one-entry batch, `l2tp::lns::replicate`) or at once
    /// ([`parse_entries_into`]) gives what [`parse_batch_into`] gives (`seq`, entries, typed
    /// errors) and leaves the reader where it does, for every cut of an encoded batch and for
    /// arbitrary octets.
    #[test]
    fn a_batch_read_by_head_then_entries_equals_parse_batch(
        f in frame(),
        noise in vec(any::<u8>(), 0..48),
        base in 0usize..64,
    ) {
        let mut b = Vec::new();
        f.encode(&mut b);
        for input in (0..=b.len()).map(|n| &b[..n]).chain([&noise[..]]) {
            let mut whole = Reader::at(input, base);
            let mut want = Vec::new();
            let z = parse_batch_into::<Toy>(&mut whole, &mut want);
            // Head, then one entry at a time.
            let mut one = Reader::at(input, base);
            let mut got = Vec::new();
            let a = parse_batch_head::<Toy>(&mut one).and_then(|(seq, count)| {
                for _ in 0..count {
                    got.push(Entry::<Toy>::parse(&mut one)?);
                }
                Ok(seq)
            });
            prop_assert_eq!((&a, &got, one.offset()), (&z, &want, whole.offset()));
            // Head, then the entries at once.
            let mut all = Reader::at(input, base);
            let mut got = Vec::new();
            let a = parse_batch_head::<Toy>(&mut all)
                .and_then(|(seq, count)| parse_entries_into(&mut all, count, &mut got).map(|()| seq));
            prop_assert_eq!((a, got, all.offset()), (z, want, whole.offset()));
        }
    }
}

/// Errors name what went wrong: the framing's own fields, the item's errors, the bound.
#[test]
fn frame_errors_are_typed() {
    let parse = |kind, b: &[u8]| Frame::<Toy>::parse_complete(kind, b, 23);
    assert_eq!(
        parse(KIND_ACK, &[0; 7]),
        Err(ToyError::Frame(FrameError::Truncated {
            offset: 23,
            field: Field::BatchSequence,
            needed: 1
        }))
    );
    assert_eq!(
        parse(KIND_ACK, &[0; 9]),
        Err(ToyError::Frame(FrameError::Trailing { offset: 31 }))
    );
    assert_eq!(
        parse(9, &[]),
        Err(ToyError::Frame(FrameError::Kind { kind: 9 }))
    );
    let mut b = vec![0; 8];
    b.push(33);
    assert_eq!(
        parse(KIND_REPLICATE, &b),
        Err(ToyError::Frame(FrameError::TooManyItems { count: 33 }))
    );
    b[8] = 1;
    let short = |offset, field, needed| {
        Err(ToyError::Frame(FrameError::Truncated {
            offset,
            field,
            needed,
        }))
    };
    assert_eq!(parse(KIND_REPLICATE, &b), short(32, Field::ItemKind, 1));
    b.extend([SYNC_END, 0, 0]);
    assert_eq!(parse(KIND_REPLICATE, &b), short(33, Field::Epoch, 2));
    b.truncate(9);
    b.extend([1, 0, 0, 0, 1]);
    assert_eq!(parse(KIND_REPLICATE, &b), Err(ToyError::Short("value")));
    b.truncate(9);
    b.push(7);
    assert_eq!(parse(KIND_REPLICATE, &b), Err(ToyError::Kind(7)));
}

/// [`Peers`] pumps every peer that is up with nothing in flight, in node id order, walks the
/// table per peer, retransmits only to peers that are up, and reports the earliest deadline.
#[test]
fn peers_pump_and_retransmit_per_peer() {
    let t0 = Instant::now();
    let mut peers = Peers::<Toy>::new([NodeId(3), NodeId(2)]);
    peers.channel(NodeId(2)).restart_bulk();
    assert!(!peers.enqueue(NodeId(3), set(1), 10));
    assert!(
        !peers.enqueue(NodeId(9), set(1), 10),
        "no channel, nothing queued"
    );
    let up = |p: NodeId| p != NodeId(4);
    let out = peers.pump(t0, RTO, up, |peer, c| {
        (c == 0).then_some((0, Some(Toy::Decision(peer.0))))
    });
    let want: Vec<Outgoing<Toy>> = vec![
        (
            NodeId(2),
            1,
            vec![
                Entry::SyncBegin { epoch: 1 },
                Entry::Item(Toy::Decision(2)),
                Entry::SyncEnd { epoch: 1 },
            ],
        ),
        (NodeId(3), 1, vec![Entry::Item(set(1))]),
    ];
    assert_eq!(out, want);
    assert!(peers.pump(t0, RTO, up, |_, _| None).is_empty(), "in flight");
    assert_eq!(peers.deadline(), Some(t0 + RTO));
    assert!(peers.get_mut(&NodeId(2)).unwrap().acked(1));
    let again = peers.due(t0 + RTO, RTO * 8, |p| p != NodeId(3));
    assert!(again.is_empty(), "peer 3 is down: kept");
    assert_eq!(peers.deadline(), Some(t0 + RTO + RTO * 8));
    let again = peers.due(t0 + RTO * 9, RTO * 8, up);
    assert_eq!(again, vec![(NodeId(3), 1, vec![Entry::Item(set(1))])]);
    assert_eq!(peers[&NodeId(3)].stats().retransmits, 1);
    assert_eq!(
        peers.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        [NodeId(2), NodeId(3)]
    );
}

proptest! {
    /// [`PeerMap`] is a map by node id in node id order: under any sequence of inserts,
    /// updates, lookups and removals it holds what a `BTreeMap` holds, iterated the same way.
    #[test]
    fn peer_map_equals_a_btree_map(
        ops in vec((0u8..4, 0u32..12, any::<u16>()), 0..200),
    ) {
        let mut flat = PeerMap::<u16>::new();
        let mut model = std::collections::BTreeMap::<NodeId, u16>::new();
        for (op, node, v) in ops {
            let node = NodeId(node);
            match op {
                0 => {
                    let got = flat.get_or_insert_with(node, || v);
                    prop_assert_eq!(*got, *model.entry(node).or_insert(v));
                }
                1 => {
                    *flat.get_or_default(node) = v;
                    model.insert(node, v);
                }
                2 => {
                    if let (Some(a), Some(b)) = (flat.get_mut(&node), model.get_mut(&node)) {
                        *a = a.wrapping_add(v);
                        *b = b.wrapping_add(v);
                    }
                    prop_assert_eq!(flat.get(&node), model.get(&node));
                }
                _ => prop_assert_eq!(flat.remove(&node), model.remove(&node)),
            }
            prop_assert_eq!(flat.len(), model.len());
            prop_assert_eq!(flat.is_empty(), model.is_empty());
            let pairs: Vec<(NodeId, u16)> = flat.iter().map(|(n, v)| (n, *v)).collect();
            let want: Vec<(NodeId, u16)> = model.iter().map(|(n, v)| (*n, *v)).collect();
            prop_assert_eq!(pairs, want);
            prop_assert!(flat.values().copied().eq(model.values().copied()));
        }
    }
}

proptest! {
    /// `Channel::send_alone` is `enqueue` then `send_next` on an idle channel (module docs,
    /// reliable and ordered: the item marked, numbered and in flight alone, with the commit
    /// mark and what its acknowledgement commits that those give), and changes nothing
    /// otherwise: over items queued, batches sent, acknowledged and due again, overflows and
    /// bulk syncs. The channels compared whole (their `Debug` rendering).
    #[test]
    fn sending_alone_is_queueing_then_sending(
        steps in vec((0u8..6, 0u32..4), 0..24),
        max in 0usize..4,
    ) {
        let now = Instant::now();
        let rto = Duration::from_millis(200);
        let [mut got, mut want] = [(); 2].map(|_| {
            let mut ch = Channel::<Toy>::new();
            for &(what, k) in &steps {
                match what {
                    0 | 1 => {
                        ch.enqueue(set(k), 3);
                    }
                    2 => {
                        let _ = ch.send_next(now, rto, walk(&[1, 2]));
                    }
                    3 => {
                        if let Some((seq, _)) = ch.in_flight() {
                            ch.acked(seq);
                        }
                    }
                    4 => {
                        let _ = ch.resend_due(now + rto, k > 0, rto * 4);
                    }
                    _ => ch.restart_bulk(),
                }
            }
            ch
        });
        let before = format!("{want:?}");
        match got.send_alone(set(9), max, now, rto) {
            Ok(seq) => {
                want.enqueue(set(9), max);
                prop_assert_eq!(want.send_next(now, rto, none), Some(seq));
                prop_assert_eq!(got.in_flight().map(|(_, i)| i.len()), Some(1), "alone");
                prop_assert_eq!(format!("{got:?}"), format!("{want:?}"));
            }
            Err(item) => {
                let idle = want.in_flight().is_none()
                    && want.queued().next().is_none()
                    && want.bulk() == BulkSync::Idle;
                prop_assert!(!idle || max == 0, "an idle channel with room refused");
                prop_assert_eq!(item, set(9));
                prop_assert_eq!(format!("{got:?}"), before, "changed by a refusal");
            }
        }
    }
}

/// A receiver's log of what it applied from one sender: items outside bulk syncs by their
/// key (records by key, decisions as `Decision`), sync markers as they come.
#[derive(Debug, Default)]
struct Applied {
    rx: Channel<Toy>,
    log: Vec<Entry<Toy>>,
}

impl Applied {
    /// A batch arrives: acknowledged (its `seq` returned), applied if new.
    fn take(&mut self, seq: u64, items: &[Entry<Toy>]) -> u64 {
        if self.rx.receive(seq) {
            self.log.extend(items.iter().cloned());
        }
        seq
    }

    /// The queued items applied (records of the toy table, keys from 1000, left out).
    fn items(&self) -> Vec<Toy> {
        let queued = |t: &&Toy| !matches!(t, Toy::Set { key, .. } if *key >= 1000);
        self.log
            .iter()
            .filter_map(Entry::item)
            .filter(queued)
            .cloned()
            .collect()
    }
}

/// Module docs, delivery (session 43's repeated `Claimed`): a bulk sync restarted when the
/// peer rejoins, while a batch is in flight that the peer applied but whose acknowledgement
/// was lost, applies none of that batch's items again. The batch goes again at once under its
/// own `seq` (a duplicate there, acknowledged, not applied), the sync only after it; before,
/// the survivors were queued again after the sync and applied a second time.
#[test]
fn a_bulk_sync_restarted_over_a_batch_in_flight_applies_no_item_twice() {
    let t0 = Instant::now();
    let mut tx = Channel::<Toy>::new();
    let mut peer = Applied::default();
    tx.enqueue(Toy::Decision(1), 10);
    tx.enqueue(set(2), 10);
    let (seq, items) = tx.next_batch(t0, RTO, none).unwrap();
    let _lost_ack = peer.take(seq, &items);
    // Something else in between: a record queued behind it.
    tx.enqueue(set(3), 10);
    let t1 = t0 + Duration::from_millis(50);
    tx.restart_bulk();
    assert!(tx.ready(t1), "due at once, not at its deadline");
    let table = [1000, 1001];
    let mut sent = Vec::new();
    while let Some((seq, items)) = tx
        .due(t1, true, RTO * 8)
        .or_else(|| tx.next_batch(t1, RTO, walk(&table)))
    {
        sent.push(seq);
        assert!(tx.acked(peer.take(seq, &items)));
    }
    assert_eq!(peer.items(), [Toy::Decision(1), set(2), set(3)]);
    assert_eq!(
        peer.log[2..],
        [
            Entry::SyncBegin { epoch: 1 },
            Entry::Item(set(1000)),
            Entry::Item(set(1001)),
            Entry::SyncEnd { epoch: 1 },
            Entry::Item(set(3)),
        ]
    );
    assert_eq!(sent[0], seq, "the batch kept, sent again first");
    assert!(tx.synced());
    assert_eq!(tx.committed(), tx.mark());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Module docs, delivery: over a network that loses, duplicates and reorders batches and
    /// acknowledgements, with items queued (some overflowing the queue), bulk syncs restarted
    /// and the peer seen down and up at any point, the receiver applies the queued items at most
    /// once each, in the order queued; once the network delivers again, every item that went
    /// into a batch or is still queued is applied (exactly once), every item is committed, and
    /// the last sync is applied whole after everything before it.
    #[test]
    fn every_item_is_applied_at_most_once_in_order(
        ops in vec((0u8..9, any::<u8>()), 0..160),
    ) {
        let mut now = Instant::now();
        let (max, max_rto) = (4, RTO * 4);
        let table = [1000, 1001, 1002];
        let mut tx = Channel::<Toy>::new();
        let mut peer = Applied::default();
        let (mut to_peer, mut acks) = (Vec::<(u64, Vec<Entry<Toy>>)>::new(), Vec::<u64>::new());
        let (mut next, mut batched) = (0u32, Vec::<Toy>::new());
        let note = |items: &[Entry<Toy>], batched: &mut Vec<Toy>| {
            for t in items.iter().filter_map(Entry::item) {
                if !batched.contains(t) && !matches!(t, Toy::Set { key, .. } if *key >= 1000) {
                    batched.push(t.clone());
                }
            }
        };
        for (op, x) in ops {
            let pick = |n: usize| usize::from(x) % n.max(1);
            match op {
                0 | 1 => {
                    next += 1;
                    let item = match x % 3 {
                        0 => Toy::Decision(next),
                        _ => Toy::Set { key: next, value: 0 },
                    };
                    tx.enqueue(item, max);
                }
                2 => tx.restart_bulk(),
                3 => {
                    if let Some(b) = tx.next_batch(now, RTO, walk(&table)) {
                        note(&b.1, &mut batched);
                        to_peer.push(b);
                    }
                }
                4 => {
                    now += RTO;
                    if let Some(b) = tx.due(now, x % 4 != 0, max_rto) {
                        to_peer.push(b);
                    }
                }
                5 if !to_peer.is_empty() => {
                    // Delivered; a copy may stay in the network (a duplicate).
                    let i = pick(to_peer.len());
                    let (seq, items) = match x & 0x80 {
                        0 => to_peer.remove(i),
                        _ => to_peer[i].clone(),
                    };
                    acks.push(peer.take(seq, &items));
                }
                6 if !acks.is_empty() => {
                    let seq = acks.remove(pick(acks.len()));
                    tx.acked(seq);
                }
                7 if !to_peer.is_empty() => {
                    to_peer.remove(pick(to_peer.len()));
                }
                _ if !acks.is_empty() => {
                    acks.remove(pick(acks.len()));
                }
                _ => {}
            }
            let got = peer.items();
            let key = |t: &Toy| match t {
                Toy::Set { key, .. } | Toy::Decision(key) => *key,
            };
            prop_assert!(got.windows(2).all(|w| key(&w[0]) < key(&w[1])), "{got:?}");
        }
        // The network delivers again: what is in it, then every batch until none is left. The
        // items queued now are applied too (survivors of overflows among them; one is dropped
        // only by a queue full of survivors).
        let queued: Vec<Toy> = tx.queued().cloned().collect();
        for (seq, items) in std::mem::take(&mut to_peer) {
            acks.push(peer.take(seq, &items));
        }
        for seq in acks {
            tx.acked(seq);
        }
        for _ in 0..100 {
            now += max_rto;
            let Some((seq, items)) = tx.due(now, true, max_rto).or_else(|| tx.next_batch(now, RTO, walk(&table))) else {
                break;
            };
            note(&items, &mut batched);
            prop_assert!(tx.acked(peer.take(seq, &items)));
        }
        prop_assert_eq!(tx.backlog(), 0);
        prop_assert_eq!(tx.committed(), tx.mark());
        prop_assert!(tx.synced());
        let got = peer.items();
        for t in batched.iter().chain(&queued) {
            prop_assert_eq!(got.iter().filter(|g| *g == t).count(), 1, "{:?} in {:?}", t, got);
        }
        if tx.epoch() > 0 {
            let epoch = tx.epoch();
            let begin = peer.log.iter().rposition(|e| *e == Entry::SyncBegin { epoch });
            let end = peer.log.iter().rposition(|e| *e == Entry::SyncEnd { epoch });
            prop_assert!(begin < end && begin.is_some(), "{:?}", peer.log);
            let whole = &peer.log[begin.unwrap_or(0) + 1..end.unwrap_or(0)];
            let want = table.map(|k| Entry::Item(set(k)));
            prop_assert_eq!(whole, &want[..]);
        }
    }
}
