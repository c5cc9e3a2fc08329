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
    Binding {
        home_address: Ipv4Addr::new(10, 0, 0, k + 1),
        nai: None,
        first_ha: NodeId(1),
        second_ha: NodeId(2),
        fa: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 434),
        identification: 0,
        care_of: std::iter::once(CareOf {
            address: Ipv4Addr::new(198, 51, 100, k),
            expires: Some(now + Duration::from_secs(u64::from(life))),
        })
        .collect(),
        pending: pending.map(|p| Box::new(pending_at(now, p))),
        tunnel: None,
    }
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
    }
}

fn earliest(b: &Binding) -> Option<Instant> {
    [b.pending.as_ref().map(|p| p.deadline), b.expires()]
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
                        let _ = t.update(s, |x| x.pending = p.map(|p| Box::new(pending_at(now, p))));
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
                        if b.care_of.iter().any(|c| c.expires.is_some_and(|e| e > now)) {
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
            b.care_of = std::iter::once(CareOf {
                address: Ipv4Addr::new(198, 51, 100, 1),
                expires: Some(later + Duration::from_secs(100)),
            })
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
