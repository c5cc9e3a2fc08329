//! Unit tests of the binding table.

use super::*;
use proptest::prelude::*;
use std::time::Duration;

#[derive(Clone, Debug)]
enum Op {
    /// Register MN `k` with a lifetime (seconds) and maybe a pending request.
    Register(u8, u16, Option<u16>),
    /// Set or clear MN `k`'s pending request.
    Pending(u8, Option<u16>),
    Remove(u8),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..24, 1u16..200, proptest::option::of(1u16..50))
            .prop_map(|(k, l, p)| Op::Register(k, l, p)),
        (0u8..24, proptest::option::of(1u16..50)).prop_map(|(k, p)| Op::Pending(k, p)),
        (0u8..24).prop_map(Op::Remove),
        (0u16..120).prop_map(Op::Advance),
    ]
}

fn binding(k: u8, now: Instant, life: u16, pending: Option<u16>) -> Binding {
    let mut b = Binding::new(
        Ipv4Addr::new(10, 0, 0, k + 1),
        NodeId(1),
        NodeId(2),
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 434),
        0,
    );
    b.care_of = std::iter::once(CareOf::new(
        Ipv4Addr::new(198, 51, 100, k),
        Some(now + Duration::from_secs(u64::from(life))),
    ))
    .collect();
    b.set_pending(pending.map(|p| pending_at(now, p)));
    b
}

fn pending_at(now: Instant, secs: u16) -> Pending {
    Pending {
        fa: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 434),
        care_of: Ipv4Addr::new(198, 51, 100, 1),
        identification: 1,
        second_ha: NodeId(2),
        deadline: now + Duration::from_secs(u64::from(secs)),
        simultaneous: false,
        first_ha: NodeId(1),
        stage: PendingStage::Forwarded,
        tunnel: None,
        reply_src: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 434),
    }
}

fn earliest(b: &Binding) -> Option<Instant> {
    [b.pending().map(|p| p.deadline), b.expires()]
        .into_iter()
        .flatten()
        .min()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The lazily re-armed timers never miss a deadline, never fire early, and stay bounded.
    #[test]
    fn timers_fire_exactly_when_due(ops in proptest::collection::vec(op(), 1..200)) {
        let mut now = Instant::now();
        let mut t = BindingTable::with_seed(64, 64, 7);
        for op in ops {
            match op {
                Op::Register(k, life, p) => {
                    let b = binding(k, now, life, p);
                    match t.find(b.home_address, None) {
                        Some(s) => {
                            let _ = t.update(s, |x| *x = b);
                        }
                        None => {
                            let _ = t.insert(b);
                        }
                    }
                }
                Op::Pending(k, p) => {
                    if let Some(s) = t.find(Ipv4Addr::new(10, 0, 0, k + 1), None) {
                        let _ = t.update(s, |x| x.set_pending(p.map(|p| pending_at(now, p))));
                    }
                }
                Op::Remove(k) => {
                    if let Some(s) = t.find(Ipv4Addr::new(10, 0, 0, k + 1), None) {
                        t.remove(s);
                    }
                }
                Op::Advance(secs) => {
                    let before: Vec<Binding> = t.iter().map(|(_, b)| b.clone()).collect();
                    now += Duration::from_secs(u64::from(secs));
                    while let Some(x) = t.pop_expired(now) {
                        if let Expiry::TemporaryFreed(b) | Expiry::LifetimeEnded(b) = x {
                            // Removed only when everything it held was due.
                            prop_assert!(earliest(&b).is_none_or(|d| d <= now));
                            prop_assert!(b.expires().is_none_or(|d| d <= now));
                        }
                    }
                    for (_, b) in t.iter() {
                        // Nothing due is left behind.
                        prop_assert!(earliest(b).is_none_or(|d| d > now), "{b:?}");
                    }
                    for b in before {
                        // Nothing with a future lifetime was removed.
                        if b.care_of.iter().any(|c| c.expires().is_some_and(|e| e > now)) {
                            prop_assert!(t.find(b.home_address, None).is_some());
                        }
                    }
                }
            }
            // The next wake-up is never later than a real deadline.
            let real = t.iter().filter_map(|(_, b)| earliest(b)).min();
            if let Some(r) = real {
                prop_assert!(t.next_deadline().is_some_and(|d| d <= r));
            }
            prop_assert!(t.timer_entries() <= 2 * 2 * t.len().max(1) + 2 * 64 + 2);
        }
    }
}

#[test]
fn refreshing_a_lifetime_costs_no_heap_entry() {
    let now = Instant::now();
    let mut t = BindingTable::new(10, 10);
    let s = t.insert(binding(1, now, 100, None)).unwrap();
    assert_eq!(t.timer_entries(), 1);
    for i in 1..1000u64 {
        let later = now + Duration::from_millis(i);
        t.update(s, |b| {
            b.care_of = std::iter::once(CareOf::new(
                Ipv4Addr::new(198, 51, 100, 1),
                Some(later + Duration::from_secs(100)),
            ))
            .collect();
        })
        .unwrap();
    }
    assert_eq!(t.timer_entries(), 1);
    // At the first deadline the binding is not due: it is re-armed, not expired.
    assert!(t.pop_expired(now + Duration::from_secs(100)).is_none());
    assert_eq!(t.len(), 1);
    assert!(matches!(
        t.pop_expired(now + Duration::from_secs(101)),
        Some(Expiry::LifetimeEnded(_))
    ));
}

/// A first HA's pending timer (RFC 5944 section 3.8.3: a forwarded request waits a bounded
/// time for the second HA's reply), set again for each forwarded request of a mobile node and
/// cleared by each reply, keeps one heap entry; the request left pending is still cleared at its
/// own deadline, not before.
#[test]
fn forwarding_again_costs_no_heap_entry() {
    let now = Instant::now();
    let mut t = BindingTable::new(10, 10);
    let s = t.insert(binding(1, now, 1000, None)).unwrap();
    assert_eq!(t.timer_entries(), 1);
    for i in 1..1000u64 {
        let at = now + Duration::from_millis(i);
        t.update(s, |b| b.set_pending(Some(pending_at(at, 3))))
            .unwrap();
        t.update(s, |b| b.set_pending(None)).unwrap();
    }
    let last = now + Duration::from_millis(1000);
    t.update(s, |b| b.set_pending(Some(pending_at(last, 3))))
        .unwrap();
    // The lifetime's entry and the first pending request's.
    assert_eq!(t.timer_entries(), 2);
    assert_eq!(t.pending_len(), 1);
    let due = last + Duration::from_secs(3);
    // The first entry surfaces early: the pending request is not due, it stays.
    assert!(t.pop_expired(now + Duration::from_millis(3500)).is_none());
    assert!(t.pop_expired(due - Duration::from_nanos(1)).is_none());
    assert_eq!(t.pending_len(), 1);
    assert_eq!(t.pop_expired(due), Some(Expiry::PendingCleared(s)));
    assert!(t.get(s).is_some_and(|b| b.pending().is_none()));
    assert_eq!(t.pending_len(), 0);
    assert!(t.pop_expired(due).is_none());
}

#[derive(Clone, Debug)]
enum CoaOp {
    Push(u8, Option<u16>),
    Upsert(u8, Option<u16>),
    SetSingle(u8),
    Retain(u8),
    Remove(usize),
    Clear,
}

fn coa_op() -> impl Strategy<Value = CoaOp> {
    let exp = proptest::option::of(0u16..100);
    prop_oneof![
        (0u8..6, exp.clone()).prop_map(|(a, e)| CoaOp::Push(a, e)),
        (0u8..6, exp).prop_map(|(a, e)| CoaOp::Upsert(a, e)),
        (0u8..6).prop_map(CoaOp::SetSingle),
        (0u8..6).prop_map(CoaOp::Retain),
        (0usize..6).prop_map(CoaOp::Remove),
        Just(CoaOp::Clear),
    ]
}

proptest! {
    /// The care-of addresses held inline (one) or in a block (simultaneous bindings, RFC 5944
    /// section 3.6.1.3: at most `MAX_SIMULTANEOUS`) behave as a bounded list: the same entries
    /// in the same order as a plain vector after any edits, and equal exactly when the entries are.
    #[test]
    fn care_ofs_are_a_bounded_list(ops in proptest::collection::vec(coa_op(), 0..40)) {
        let now = Instant::now();
        let c = |a: u8, e: Option<u16>| CareOf::new(Ipv4Addr::new(198, 51, 100, a), e.map(|e| now + Duration::from_secs(u64::from(e))));
        let mut x = CareOfs::default();
        let mut model: Vec<CareOf> = Vec::new();
        for op in ops {
            match op {
                CoaOp::Push(a, e) => {
                    x.push(c(a, e));
                    if model.len() < MAX_SIMULTANEOUS {
                        model.push(c(a, e));
                    }
                }
                CoaOp::Upsert(a, e) => {
                    x.upsert(c(a, e));
                    let full = model.len() >= MAX_SIMULTANEOUS;
                    match model.iter_mut().find(|m| m.address == c(a, e).address) {
                        Some(m) => *m = c(a, e),
                        None if !full => model.push(c(a, e)),
                        None => {}
                    }
                }
                CoaOp::SetSingle(a) => {
                    x.set_single(c(a, None));
                    model = vec![c(a, None)];
                }
                CoaOp::Retain(a) => {
                    let keep = |m: &CareOf| m.address.octets()[3] != a;
                    x.retain(keep);
                    model.retain(keep);
                }
                CoaOp::Remove(i) => {
                    x.remove(i);
                    if i < model.len() {
                        model.remove(i);
                    }
                }
                CoaOp::Clear => {
                    x.clear();
                    model.clear();
                }
            }
            prop_assert_eq!(x.as_slice(), &model[..]);
            prop_assert_eq!(x.len(), model.len());
            prop_assert_eq!(x.is_empty(), model.is_empty());
            prop_assert_eq!(x.first(), model.first());
            // The earliest expiry (read directly for one entry): the minimum over the list.
            let earliest = model.iter().filter_map(|m| m.expires()).min();
            prop_assert_eq!(Some(x.earliest()).filter(|&t| t != 0).and_then(instant_of), earliest);
            let rebuilt: CareOfs = model.iter().copied().collect();
            prop_assert_eq!(&x, &rebuilt);
        }
    }

    /// The indexes (slot numbers, keys read from the slots) find every binding by its current
    /// home address and NAI, and nothing by a key it no longer has, through inserts, removals and
    /// updates that change either key.
    #[test]
    fn indexes_follow_home_address_and_nai(
        ops in proptest::collection::vec((0u8..3, 0u8..16, 0u8..16, any::<bool>()), 1..120),
    ) {
        let now = Instant::now();
        let mut t = BindingTable::with_seed(64, 64, 3);
        let nai = |n: u8| format!("mn{n}@example.net").into_bytes().into_boxed_slice();
        for (op, k, v, with_nai) in ops {
            let home = Ipv4Addr::new(10, 1, 0, k);
            match op {
                0 if t.find(home, None).is_none() => {
                    let mut b = binding(k, now, 100, None);
                    b.home_address = home;
                    b.set_nai(with_nai.then(|| nai(k)));
                    if t.find(Ipv4Addr::UNSPECIFIED, b.nai()).is_none() {
                        let _ = t.insert(b);
                    }
                }
                1 => {
                    if let Some(s) = t.find(home, None) {
                        t.remove(s);
                    }
                }
                _ => {
                    // Another home address and NAI, when no other binding holds them.
                    let new_home = Ipv4Addr::new(10, 1, 0, v);
                    let new_nai = with_nai.then(|| nai(v + 100));
                    if let Some(s) = t.find(home, None)
                        && t.find(new_home, None).is_none_or(|o| o == s)
                        && t.find(Ipv4Addr::UNSPECIFIED, new_nai.as_deref()).is_none_or(|o| o == s)
                    {
                        t.update(s, |b| {
                            b.home_address = new_home;
                            b.set_nai(new_nai);
                        })
                        .unwrap();
                    }
                }
            }
            for (s, b) in t.iter() {
                prop_assert_eq!(t.find(b.home_address, None), Some(s));
                if let Some(n) = b.nai() {
                    prop_assert_eq!(t.find(Ipv4Addr::UNSPECIFIED, Some(n)), Some(s));
                }
            }
            for i in 0..16u8 {
                let h = Ipv4Addr::new(10, 1, 0, i);
                let held = t.iter().any(|(_, b)| b.home_address == h);
                prop_assert_eq!(t.find(h, None).is_some(), held);
                for n in [nai(i), nai(i + 100)] {
                    let held = t.iter().any(|(_, b)| b.nai() == Some(&n[..]));
                    prop_assert_eq!(t.find(Ipv4Addr::UNSPECIFIED, Some(&n)).is_some(), held);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A slot hint never changes what a lookup finds: through inserts (two bindings may hold
    /// the same home address: the one indexed later is found by it), removals and updates of
    /// home addresses and NAIs, `find_hinted` with any hint (none, every slot, out of range)
    /// returns exactly `find`'s slot, and the count of bindings the home index no longer names
    /// is the real one.
    #[test]
    fn a_hint_never_changes_what_is_found(
        ops in proptest::collection::vec((0u8..3, 0u8..8, 0u8..8, any::<bool>()), 1..80),
    ) {
        let now = Instant::now();
        let mut t = BindingTable::with_seed(32, 32, 5);
        let home = |k: u8| if k == 7 { Ipv4Addr::UNSPECIFIED } else { Ipv4Addr::new(10, 2, 0, k) };
        let nai = |n: u8| format!("mn{n}@example.net").into_bytes().into_boxed_slice();
        for (op, k, v, with_nai) in ops {
            let slots = t.slots.len() as u32;
            let occupied = |t: &BindingTable, s: u32| t.get(s).is_some();
            match op {
                0 => {
                    let mut b = binding(k, now, 100, None);
                    b.home_address = home(k);
                    b.set_nai((with_nai || k == 7).then(|| nai(v)));
                    let _ = t.insert(b);
                }
                1 if slots > 0 && occupied(&t, u32::from(v) % slots) => {
                    t.remove(u32::from(v) % slots);
                }
                _ if slots > 0 && occupied(&t, u32::from(v) % slots) => {
                    let s = u32::from(v) % slots;
                    t.update(s, |b| {
                        b.home_address = home(k);
                        b.set_nai((with_nai || k == 7).then(|| nai(k)));
                    })
                    .unwrap();
                }
                _ => {}
            }
            // Bindings with a home address that the home index does not name.
            let shadowed = t
                .iter()
                .filter(|(s, b)| {
                    !b.home_address.is_unspecified() && t.find(b.home_address, None) != Some(*s)
                })
                .count();
            prop_assert_eq!(t.shadowed, shadowed);
            let slots = t.slots.len() as u32;
            for k in 0..8u8 {
                for n in [None, Some(nai(k)), Some(nai(k + 1))] {
                    let n = n.as_deref();
                    let found = t.find(home(k), n);
                    for hint in (0..slots + 2).map(Some).chain([None, Some(u32::MAX)]) {
                        prop_assert_eq!(t.find_hinted(hint, home(k), n), found, "hint {:?}", hint);
                    }
                }
            }
        }
    }
}

/// A stale hint is never trusted: a binding whose home address another binding took (indexed
/// after it) is not what a lookup by that address finds, hinted or not, nor once the other is
/// removed (the address then finds nothing: the earlier binding is no longer indexed by it);
/// a freed slot reused for another mobile node is not found by the old address either.
#[test]
fn a_stale_hint_is_never_trusted() {
    let now = Instant::now();
    let mut t = BindingTable::new(8, 8);
    let h = Ipv4Addr::new(10, 0, 0, 1);
    let a = t.insert(binding(0, now, 60, None)).unwrap();
    assert_eq!(t.find_hinted(Some(a), h, None), Some(a));
    let b = t.insert(binding(0, now, 60, None)).unwrap();
    assert_eq!(t.find(h, None), Some(b));
    assert_eq!(t.find_hinted(Some(a), h, None), Some(b));
    assert_eq!(t.find_hinted(Some(b), h, None), Some(b));
    t.remove(b);
    assert_eq!(t.find(h, None), None);
    assert_eq!(t.find_hinted(Some(a), h, None), None);
    t.remove(a);
    assert_eq!(t.shadowed, 0);
    // Slot `a` again, for another mobile node.
    let c = t.insert(binding(5, now, 60, None)).unwrap();
    assert_eq!(c, a);
    assert_eq!(t.find_hinted(Some(c), h, None), None);
    assert_eq!(
        t.find_hinted(Some(c), Ipv4Addr::new(10, 0, 0, 6), None),
        Some(c)
    );
}

/// A binding with one care-of address keeps it in the record itself (no heap block), and a
/// slot (the record and its timer marks) is one 64-octet cache line, aligned: a registration
/// reads one line of the table (record 56, marks 8; index 8 to 16, heap entry 12).
#[test]
fn a_binding_record_is_compact() {
    assert!(std::mem::size_of::<CareOf>() <= 12);
    assert!(std::mem::size_of::<CareOfs>() <= 16);
    assert!(std::mem::size_of::<Option<Binding>>() <= 56);
    // A slot (binding and timer marks) is one cache line.
    assert_eq!(std::mem::size_of::<Slot>(), 64);
    assert_eq!(std::mem::align_of::<Slot>(), 64);
    let one: CareOfs = std::iter::once(CareOf::new(Ipv4Addr::new(198, 51, 100, 1), None)).collect();
    assert!(matches!(one.0, Held::One(_)));
}

/// The read-ahead of a batch (`HomeAgent::handle_batch`) reads the binding `find` finds, and
/// its timer marks, which live in its slot (set by arming its timers, cleared by none of the
/// reads); for an unknown mobile node it reads nothing.
#[test]
fn read_ahead_reads_the_slot_find_finds() {
    let now = Instant::now();
    let mut t = BindingTable::new(4, 4);
    let mut b = binding(3, now, 60, Some(5));
    b.identification = 0x0123_4567_89ab_cdef;
    let s = t.insert(b).unwrap();
    let marks = t.slots[s as usize].armed;
    assert!(
        marks.iter().all(|m| *m != 0),
        "both timers armed in the slot: {marks:?}"
    );
    let coa = u32::from(Ipv4Addr::new(198, 51, 100, 3));
    let want = 0x0123_4567_89ab_cdef ^ u64::from(marks[0]) ^ u64::from(marks[1]) ^ u64::from(coa);
    assert_eq!(t.read_ahead(None, Ipv4Addr::new(10, 0, 0, 4), None), want);
    assert_eq!(
        t.read_ahead(Some(s), Ipv4Addr::new(10, 0, 0, 4), None),
        want
    );
    assert_eq!(t.read_ahead(None, Ipv4Addr::new(10, 0, 0, 9), None), 0);
    assert_eq!(t.read_ahead(Some(s), Ipv4Addr::new(10, 0, 0, 9), None), 0);
    assert_eq!(t.slots[s as usize].armed, marks);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// [`BindingTable::update`] compares a binding's keys before and after the change (a fast
    /// path when nothing it indexes changed): whatever a change touches (the NAI replaced or
    /// rewritten in place, the serving HA, the pending request, the care-of lifetimes, or
    /// nothing indexed), the table answers as one built afresh from the same bindings does:
    /// every binding found by its keys and nothing by a key it no longer has, the same counts
    /// per serving HA and of pending requests, and no deadline missed.
    #[test]
    fn an_update_leaves_the_table_as_one_built_afresh(
        ops in proptest::collection::vec((0u8..8, 0u8..6, 0u8..4), 1..80),
    ) {
        let now = Instant::now();
        let mut t = BindingTable::with_seed(64, 64, 5);
        let nai = |k: u8| format!("mn{k}@example.net").into_bytes().into_boxed_slice();
        for k in 0..8u8 {
            let mut b = binding(k, now, 100 + u16::from(k), None);
            b.set_nai(Some(nai(k)));
            t.insert(b).unwrap();
        }
        for (k, what, v) in ops {
            let s = t.iter().map(|(s, _)| s).nth(usize::from(k)).unwrap();
            t.update(s, |b| match what {
                // The NAI rewritten in place (same allocation, same length).
                0 => {
                    if let Some(n) = b.nai() {
                        let mut n = n.to_vec();
                        n[0] = b'a' + v;
                        b.set_nai(Some(n.into()));
                    }
                }
                1 => b.set_nai((v > 0).then(|| nai(100 + 4 * k + v))),
                2 => b.second_ha = NodeId(u32::from(v)),
                3 => b.set_pending((v > 0).then(|| pending_at(now, u16::from(v)))),
                4 => {
                    b.care_of.set_single(CareOf::new(Ipv4Addr::new(198, 51, 100, k), Some(now + Duration::from_secs(u64::from(v) * 7 + 1))))
                }
                _ => b.identification += u64::from(v),
            })
            .unwrap();
            let mut fresh = BindingTable::with_seed(64, 64, 5);
            for (_, b) in t.iter() {
                fresh.insert(b.clone()).unwrap();
            }
            prop_assert_eq!(t.len(), fresh.len());
            prop_assert_eq!(t.pending_len(), fresh.pending_len());
            // Timers are re-armed lazily (never later than the real deadline): no deadline missed.
            let due = t.iter().filter_map(|(_, b)| earliest(b)).min();
            prop_assert!(due.is_none_or(|d| t.next_deadline().is_some_and(|n| n <= d)));
            for n in 0..4 {
                prop_assert_eq!(t.owned_by(NodeId(n)), fresh.owned_by(NodeId(n)));
            }
            for (s, b) in t.iter() {
                prop_assert_eq!(t.find(b.home_address, None), Some(s));
                if let Some(n) = b.nai() {
                    prop_assert_eq!(t.find(Ipv4Addr::UNSPECIFIED, Some(n)), Some(s));
                }
            }
            // No binding is found by a NAI it no longer has (nor any in-place rewrite of one).
            for k in 0..8u8 {
                for c in 0..=b'z' - b'a' {
                    let mut n = nai(k).to_vec();
                    n[0] = b'a' + c;
                    let held = t.iter().any(|(_, b)| b.nai() == Some(&n[..]));
                    prop_assert_eq!(t.find(Ipv4Addr::UNSPECIFIED, Some(&n)).is_some(), held);
                }
            }
        }
    }
}

proptest! {
    /// A care-of address keeps its expiry exactly (to the nanosecond, before and after the
    /// epoch), in 12 octets, and the table's ticks order expiries as the instants are ordered
    /// (so the earliest expiry and "expired at `now`" are those of the instants).
    #[test]
    fn a_care_of_keeps_its_expiry_exactly(
        a in proptest::option::of((any::<bool>(), 0u64..1 << 50)),
        b in proptest::option::of((any::<bool>(), 0u64..1 << 50)),
    ) {
        let base = Instant::now();
        let at = |(later, ns): (bool, u64)| {
            let d = Duration::from_nanos(ns);
            if later { base + d } else { base.checked_sub(d).unwrap_or(base) }
        };
        let (ea, eb) = (a.map(at), b.map(at));
        let (ca, cb) = (CareOf::new(Ipv4Addr::new(198, 51, 100, 1), ea), CareOf::new(Ipv4Addr::new(198, 51, 100, 2), eb));
        prop_assert_eq!(ca.expires(), ea);
        prop_assert_eq!(cb.expires(), eb);
        if let (Some(x), Some(y)) = (ea, eb) {
            prop_assert_eq!(ca.tick().cmp(&cb.tick()), x.cmp(&y));
            prop_assert_eq!(ca.live_at(tick_of(y)), x > y);
        }
        let both: CareOfs = [ca, cb].into_iter().collect();
        let earliest = [ea, eb].into_iter().flatten().min();
        let mut bd = binding(1, base, 10, None);
        bd.care_of = both;
        prop_assert_eq!(bd.expires(), earliest);
    }

    /// An expiry made from an instant converted once ([`TickAt::care_of`], a Home Agent batch's
    /// `now`) is the one [`CareOf::new`] makes from the sum: the same tick, before and after the
    /// epoch, for lifetimes up to the protocol's 65535 s and far beyond.
    #[test]
    fn an_expiry_after_a_converted_instant_is_the_sums(
        at in (any::<bool>(), 0u64..1 << 50),
        after in prop_oneof![0u64..65_536_000_000_000, any::<u64>()],
        secs in any::<u16>(),
    ) {
        let base = Instant::now();
        let (later, ns) = at;
        let d = Duration::from_nanos(ns);
        let now = if later { base + d } else { base.checked_sub(d).unwrap_or(base) };
        let t = TickAt::new(now);
        prop_assert_eq!(t.at(), now);
        let a = Ipv4Addr::new(198, 51, 100, 1);
        for after in [Duration::from_nanos(after), Duration::from_secs(u64::from(secs))] {
            if let Some(sum) = now.checked_add(after) {
                prop_assert!(t.care_of(a, after) == CareOf::new(a, Some(sum)));
            }
        }
    }

    /// The NAI, the pending request and the tunnel parameters read back as set, in any order of
    /// setting and clearing, and a binding with none of them holds no heap block (equal to a
    /// new one); a block handed over by `take_pending_block` serves the next pending request.
    #[test]
    fn the_boxed_parts_read_back_as_set(ops in proptest::collection::vec((0u8..4, any::<bool>()), 0..24)) {
        let now = Instant::now();
        let mut b = Binding::new(Ipv4Addr::new(10, 0, 0, 1), NodeId(1), NodeId(2), SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 434), 7);
        let tp = TunnelParams::plain(Ipv4Addr::new(10, 0, 0, 9));
        let (mut nai, mut pending, mut tunnel): (Option<Box<[u8]>>, Option<Pending>, Option<TunnelParams>) = (None, None, None);
        let mut spare = None;
        for (what, set) in ops {
            match what {
                0 => { nai = set.then(|| Box::from(&b"mn@example.net"[..])); b.set_nai(nai.clone()); }
                1 => { pending = set.then(|| pending_at(now, 3)); b.set_pending(pending.clone()); }
                2 => { tunnel = set.then_some(tp); b.set_tunnel_params(tunnel); }
                _ if set => {
                    let p = pending_at(now, 5);
                    spare = b.set_pending_in(p.clone(), spare.take());
                    pending = Some(p);
                }
                _ => {
                    let (p, block) = b.take_pending_block();
                    prop_assert_eq!(&p, &pending.take());
                    // A block is handed over exactly when the request was all it held.
                    prop_assert_eq!(block.is_some(), p.is_some() && nai.is_none() && tunnel.is_none());
                    if block.is_some() { spare = block; }
                }
            }
            prop_assert_eq!(b.nai(), nai.as_deref());
            prop_assert_eq!(b.pending(), pending.as_ref());
            prop_assert_eq!(b.tunnel_params(), tunnel.as_ref());
            prop_assert_eq!(b.extra.is_none(), nai.is_none() && pending.is_none() && tunnel.is_none());
        }
    }
}

/// The replicated tunnel record: parameters without broadcasts (RFC 5944 section 4.2.3, no B
/// bit) encode as they did before the broadcast flags existed (kind, flags 0, local address), so
/// older members decode them; with B, flag 0x10, and 0x20 for D; D without B is refused.
#[test]
fn the_tunnel_record_keeps_the_b_bit_and_its_old_encoding_without_it() {
    let local = Ipv4Addr::new(10, 0, 0, 9);
    let plain = TunnelParams::plain(local);
    assert_eq!(plain.to_record(), [1, 0, 10, 0, 0, 9]);
    for (broadcast, flags) in [
        (None, 0),
        (Some(BroadcastDelivery::ForeignAgentDelivers), 0x10),
        (Some(BroadcastDelivery::MobileNodeDecapsulates), 0x30),
    ] {
        let p = TunnelParams { broadcast, ..plain };
        assert_eq!(p.to_record(), [1, flags, 10, 0, 0, 9]);
        assert_eq!(TunnelParams::from_record(&p.to_record()), Some(p));
    }
    assert_eq!(TunnelParams::from_record(&[1, 0x20, 10, 0, 0, 9]), None);
}

/// One change of a binding for the tunnel-report property: MN `k` held with server `server`
/// (1: the reporting home agent), the care-of addresses of mask `coas` each granted `life`
/// seconds, and tunnel parameters `params` (0 none, 1 GRE, 2 minimal: not offered); or removed;
/// or time advanced.
#[derive(Clone, Debug)]
enum TunnelOp {
    Put {
        k: u8,
        server: u32,
        coas: u8,
        life: u16,
        params: u8,
    },
    Remove(u8),
    Advance(u16),
}

fn tunnel_op() -> impl Strategy<Value = TunnelOp> {
    prop_oneof![
        (0u8..6, 1u32..3, 0u8..8, 1u16..100, 0u8..3).prop_map(|(k, server, coas, life, params)| {
            TunnelOp::Put {
                k,
                server,
                coas,
                life,
                params,
            }
        }),
        (0u8..6).prop_map(TunnelOp::Remove),
        (0u16..60).prop_map(TunnelOp::Advance),
    ]
}

proptest! {
    /// RFC 5944 section 3.8.3 (the home agent tunnels to each care-of address of the bindings it
    /// serves): replaying the table's tunnel reports after any sequence of inserts, updates,
    /// removals and expiries gives exactly the tunnels of the bindings it serves and offers,
    /// each added while absent and removed while present (exactly once).
    #[test]
    fn the_tunnel_reports_replay_to_exactly_the_tunnels_served(
        ops in proptest::collection::vec(tunnel_op(), 1..60)
    ) {
        let vip = Ipv4Addr::new(10, 0, 0, 1);
        let mut t = BindingTable::new(16, 16);
        t.report_tunnels_of(Server::new(NodeId(1), vip, crate::mip::TunnelConfig::default()));
        let t0 = Instant::now();
        let mut now = t0;
        let mut held: HashMap<(Ipv4Addr, Ipv4Addr), Tunnel> = HashMap::new();
        let mut changes = Vec::new();
        for op in ops {
            match op {
                TunnelOp::Put { k, server, coas, life, params } => {
                    let home = Ipv4Addr::new(10, 0, 0, k + 1);
                    let care_of: CareOfs = (0..3u8)
                        .filter(|i| coas & (1 << i) != 0)
                        .map(|i| CareOf::new(
                            Ipv4Addr::new(198, 51, 100, i),
                            Some(now + Duration::from_secs(u64::from(life))),
                        ))
                        .collect();
                    let encapsulation = match params {
                        0 => None,
                        1 => Some(Encapsulation::Gre { okey: None, ikey: None }),
                        _ => Some(Encapsulation::Minimal),
                    };
                    let p = encapsulation.map(|encapsulation| TunnelParams {
                        encapsulation,
                        ..TunnelParams::plain(vip)
                    });
                    let set = |b: &mut Binding| {
                        b.second_ha = NodeId(server);
                        b.care_of = care_of.clone();
                        b.set_tunnel_params(p);
                    };
                    match t.find(home, None) {
                        Some(s) => { let _ = t.update(s, set); }
                        None => {
                            let mut b = Binding::new(
                                home,
                                NodeId(1),
                                NodeId(server),
                                SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 434),
                                0,
                            );
                            set(&mut b);
                            let _ = t.insert(b);
                        }
                    }
                }
                TunnelOp::Remove(k) => {
                    if let Some(s) = t.find(Ipv4Addr::new(10, 0, 0, k + 1), None) {
                        t.remove(s);
                    }
                }
                TunnelOp::Advance(d) => {
                    now += Duration::from_secs(u64::from(d));
                    while t.pop_expired(now).is_some() {}
                }
            }
            t.take_tunnel_changes(&mut changes);
            for c in changes.drain(..) {
                match c {
                    TunnelChange::Added { tunnel, .. } => {
                        let key = (tunnel.home_address, tunnel.care_of);
                        prop_assert!(held.insert(key, tunnel).is_none(), "added twice: {tunnel:?}");
                    }
                    TunnelChange::Removed(tunnel) => {
                        let key = (tunnel.home_address, tunnel.care_of);
                        prop_assert_eq!(held.remove(&key), Some(tunnel), "removed, not held");
                    }
                }
            }
            let served: HashMap<(Ipv4Addr, Ipv4Addr), Tunnel> = t
                .iter()
                .filter(|(_, b)| b.second_ha == NodeId(1))
                .filter(|(_, b)| !matches!(
                    b.tunnel_params().map(|p| p.encapsulation),
                    Some(Encapsulation::Minimal)
                ))
                .flat_map(|(_, b)| b.care_of.iter().map(move |c| {
                    ((b.home_address, c.address), b.tunnel(vip, c.address))
                }))
                .collect();
            prop_assert_eq!(&held, &served);
        }
    }
}

/// A table nobody serves from reports nothing; a refresh of a served binding (the same care-of
/// address, a later expiry) reports nothing, and a change of its tunnel at the same care-of
/// address reports the old one removed before the new one added.
#[test]
fn a_refresh_reports_nothing_and_a_changed_tunnel_removes_then_adds() {
    let vip = Ipv4Addr::new(10, 0, 0, 1);
    let now = Instant::now();
    let mut b = binding(1, now, 60, None);
    b.second_ha = NodeId(1);
    let mut alone = BindingTable::new(4, 4);
    let mut changes = Vec::new();
    let s = alone.insert(b.clone()).unwrap();
    let _ = alone.update(s, |b| b.care_of.clear());
    alone.take_tunnel_changes(&mut changes);
    assert!(changes.is_empty());
    let mut t = BindingTable::new(4, 4);
    t.report_tunnels_of(Server::new(
        NodeId(1),
        vip,
        crate::mip::TunnelConfig::default(),
    ));
    let s = t.insert(b.clone()).unwrap();
    t.take_tunnel_changes(&mut changes);
    let old = b.tunnel(vip, b.care_of.first().unwrap().address);
    assert_eq!(changes.len(), 1);
    let coa = b.care_of.first().unwrap().address;
    let _ = t.update(s, |b| {
        b.care_of
            .set_single(CareOf::new(coa, Some(now + Duration::from_secs(120))))
    });
    t.take_tunnel_changes(&mut changes);
    assert!(changes.is_empty(), "a refresh: {changes:?}");
    let gre = TunnelParams {
        encapsulation: Encapsulation::Gre {
            okey: Some(7),
            ikey: None,
        },
        ..TunnelParams::plain(vip)
    };
    let _ = t.update(s, |b| b.set_tunnel_params(Some(gre)));
    t.take_tunnel_changes(&mut changes);
    let new = t.get(s).unwrap().tunnel(vip, coa);
    assert_ne!(old, new);
    assert_eq!(
        changes,
        [
            TunnelChange::Removed(old),
            TunnelChange::Added {
                tunnel: new,
                expires: Some(now + Duration::from_secs(120))
            }
        ]
    );
}

/// A served table (node 1 serves plain IP-in-IP from `vip`) holding one binding of home
/// address 10.0.0.2 at care-of 198.51.100.1, served by node 1, expiring after `life` seconds.
fn served_table(now: Instant, life: u16) -> (BindingTable, u32, Binding) {
    let vip = Ipv4Addr::new(10, 0, 0, 1);
    let mut t = BindingTable::new(4, 4);
    t.report_tunnels_of(Server::new(
        NodeId(1),
        vip,
        crate::mip::TunnelConfig::default(),
    ));
    let mut b = binding(1, now, life, None);
    b.second_ha = NodeId(1);
    b.care_of = std::iter::once(CareOf::new(
        Ipv4Addr::new(198, 51, 100, 1),
        Some(now + Duration::from_secs(u64::from(life))),
    ))
    .collect();
    let s = t.insert(b.clone()).unwrap();
    let mut changes = Vec::new();
    t.take_tunnel_changes(&mut changes);
    assert_eq!(changes.len(), 1, "the insert installs its tunnel");
    (t, s, b)
}

/// RFC 5944 section 3.8.3: a home agent tunnels to every care-of address of the bindings it
/// serves; a re-registration at the same care-of address (a refresh, section 3.6.1.2 renews
/// the binding's lifetime) keeps the same tunnel. `BindingTable::refresh` writes the binding
/// exactly as `update` would (first HA, foreign agent, identification, the care-of address's
/// new expiry), reports no tunnel change and leaves the table's bookkeeping as it was: no
/// report buffer grown, no heap block made, no timer entry pushed for a later expiry. A
/// shorter lifetime is armed (the binding expires at its new deadline, section 3.8.3.1).
#[test]
fn a_refresh_writes_what_an_update_would_and_reports_nothing() {
    let now = Instant::now();
    let (mut t, s, _) = served_table(now, 100);
    let (mut u, su, _) = served_table(now, 100);
    let entries = t.timer_entries();
    let later = CareOf::new(
        Ipv4Addr::new(198, 51, 100, 1),
        Some(now + Duration::from_secs(300)),
    );
    let fa = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 434);
    let r = Refresh {
        home: Ipv4Addr::new(10, 0, 0, 2),
        second_ha: NodeId(1),
        care_of: later,
        first_ha: NodeId(3),
        fa,
        identification: 77,
    };
    assert!(t.refresh(s, &r));
    u.update(su, |b| {
        b.first_ha = NodeId(3);
        b.fa = fa;
        b.identification = 77;
        b.care_of.set_single(later);
    })
    .unwrap();
    assert_eq!(t.get(s), u.get(su));
    let b = t.get(s).unwrap();
    assert_eq!(b.expires(), Some(now + Duration::from_secs(300)));
    assert!(b.extra.is_none() && matches!(b.care_of.0, Held::One(_)));
    assert!(!t.has_tunnel_changes());
    let mut changes = Vec::new();
    t.take_tunnel_changes(&mut changes);
    assert!(changes.is_empty() && changes.capacity() == 0, "{changes:?}");
    assert_eq!(t.timer_entries(), entries, "a later expiry pushes no entry");
    assert_eq!(t.find(r.home, None), Some(s));
    assert_eq!(t.owned_by(NodeId(1)), 1);
    assert_eq!(t.pending_len(), 0);
    // Not due at the old deadline; due at the new one.
    assert!(t.pop_expired(now + Duration::from_secs(100)).is_none());
    assert!(matches!(
        t.pop_expired(now + Duration::from_secs(300)),
        Some(Expiry::LifetimeEnded(_))
    ));
    // A shorter lifetime: the binding expires at it.
    let (mut t, s, _) = served_table(now, 100);
    let sooner = Refresh {
        care_of: CareOf::new(
            Ipv4Addr::new(198, 51, 100, 1),
            Some(now + Duration::from_secs(10)),
        ),
        ..r
    };
    assert!(t.refresh(s, &sooner));
    assert!(matches!(
        t.pop_expired(now + Duration::from_secs(10)),
        Some(Expiry::LifetimeEnded(_))
    ));
}

/// `BindingTable::refresh` changes nothing unless the change is a refresh (the caller then
/// makes it with `update`, which reports the tunnels it changes, RFC 5944 section 3.8.3):
/// another care-of address (a move), home address or server, or a binding that keeps more than
/// a refresh writes (an NAI, a pending request, tunnel parameters, several care-of addresses).
#[test]
fn a_refresh_refuses_what_is_not_one() {
    let now = Instant::now();
    let coa = CareOf::new(
        Ipv4Addr::new(198, 51, 100, 1),
        Some(now + Duration::from_secs(300)),
    );
    let r = Refresh {
        home: Ipv4Addr::new(10, 0, 0, 2),
        second_ha: NodeId(1),
        care_of: coa,
        first_ha: NodeId(3),
        fa: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 434),
        identification: 77,
    };
    let moved = CareOf::new(
        Ipv4Addr::new(198, 51, 100, 2),
        Some(now + Duration::from_secs(300)),
    );
    let asks = [
        Refresh {
            care_of: moved,
            ..r
        },
        Refresh {
            home: Ipv4Addr::new(10, 0, 0, 3),
            ..r
        },
        Refresh {
            second_ha: NodeId(2),
            ..r
        },
    ];
    for ask in asks {
        let (mut t, s, b) = served_table(now, 100);
        assert!(!t.refresh(s, &ask), "{ask:?}");
        assert_eq!(t.get(s), Some(&b));
    }
    let keeps: [fn(&mut Binding); 4] = [
        |b| b.set_nai(Some(b"mn@example.org".to_vec().into())),
        |b| b.set_pending(Some(pending_at(Instant::now(), 5))),
        |b| {
            b.set_tunnel_params(Some(TunnelParams {
                encapsulation: Encapsulation::Minimal,
                ..TunnelParams::plain(Ipv4Addr::new(10, 0, 0, 1))
            }))
        },
        |b| {
            b.care_of.push(CareOf::new(
                Ipv4Addr::new(198, 51, 100, 7),
                Some(Instant::now() + Duration::from_secs(50)),
            ))
        },
    ];
    for keep in keeps {
        let (mut t, s, _) = served_table(now, 100);
        t.update(s, keep).unwrap();
        let b = t.get(s).cloned();
        assert!(!t.refresh(s, &r), "{b:?}");
        assert_eq!(t.get(s).cloned(), b);
    }
    let (mut t, _, _) = served_table(now, 100);
    assert!(!t.refresh(3, &r), "an empty slot");
}
