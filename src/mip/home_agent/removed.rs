//! Bindings removed by their serving member (revoked, deregistered), remembered while a late
//! replica of them could still arrive (module docs of `mip`, "A removal reaches every holder").
//!
//! Replication from two senders is not ordered: a first HA's record of a binding it relays (sent
//! before it applied the serving member's removal, retransmitted under loss, or named in its bulk
//! sync) can reach the serving member, or another member, after the removal. A member holding no
//! binding for the mobile node would take it as new (the serving member as "named the server of a
//! binding it did not serve") and the removed binding would be served again, everywhere. So the
//! member that removes a binding it serves, and every member that applies that removal, remembers
//! the binding's last identification, and the member that removed it, until its lifetime would
//! have ended: a replica of it, not newer (a registration since is newer), from another member
//! than its server, or claiming to serve it from another member than the one that removed it
//! (a takeover of it, decided before the removal reached the claimant), changes nothing.
//! Bounded: at most `max` entries (the binding table's bound); when full, the oldest entry is
//! dropped first and counted in `HaStats::removed_evicted`.

use super::takeover::MnKey;
use crate::health::NodeId;
use crate::mip::binding::{Binding, Hasher};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// When the lifetime of `b` ends: its latest care-of expiry (`None`: infinite, or no care-of
/// address); after it a replica of the binding means nothing.
pub(super) fn lifetime_end(b: &Binding) -> Option<Instant> {
    let mut end = None;
    for c in b.care_of.iter() {
        let e = c.expires()?;
        end = Some(end.map_or(e, |x: Instant| x.max(e)));
    }
    end
}

/// A removed binding: its last identification, when its lifetime would have ended (`None`:
/// infinite), and the member that removed it as its server (`by`: this HA, or the member whose
/// removal it applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    identification: u64,
    until: Option<Instant>,
    by: NodeId,
}

/// Removed bindings (module docs).
pub(super) struct Removed {
    last: HashMap<MnKey, Entry, Hasher>,
    /// Insertion order, for pruning and eviction (an entry superseded in `last` is skipped).
    order: VecDeque<(MnKey, Entry)>,
    max: usize,
}

impl std::fmt::Debug for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Removed")
            .field("entries", &self.last.len())
            .field("max", &self.max)
            .finish()
    }
}

impl Removed {
    pub(super) fn new(max: usize, hasher: &Hasher) -> Self {
        Removed {
            last: HashMap::with_hasher(hasher.clone()),
            order: VecDeque::new(),
            max,
        }
    }

    /// Remembers the removal at `now` of `b`, whose lifetime would have ended at `until`
    /// ([`lifetime_end`]; `None`: infinite), by the member `by` (this HA as its server, or the
    /// member whose removal it applied). Returns how many live entries were evicted to make room.
    pub(super) fn insert(
        &mut self,
        now: Instant,
        b: &Binding,
        until: Option<Instant>,
        by: NodeId,
    ) -> u64 {
        self.prune(now);
        if self.max == 0 {
            return 1;
        }
        let key: MnKey = (b.home_address, b.nai().map(Box::from));
        let e = Entry {
            identification: b.identification,
            until,
            by,
        };
        let mut evicted = 0;
        while self.last.len() >= self.max && !self.last.contains_key(&key) {
            match self.order.pop_front() {
                Some((old, x)) if self.last.get(&old) == Some(&x) => {
                    self.last.remove(&old);
                    evicted += 1;
                }
                Some(_) => {}
                None => break,
            }
        }
        self.last.insert(key.clone(), e);
        self.order.push_back((key, e));
        evicted
    }

    /// Whether a replica of the mobile node `key` with `identification` is of a binding removed
    /// here (not newer than its last identification) whose lifetime has not ended at `now`.
    #[cfg(test)]
    pub(super) fn covers(&self, key: &MnKey, identification: u64, now: Instant) -> bool {
        self.covering(key, identification, now).is_some()
    }

    /// As [`Removed::covers`]: `Some(by)`, the member that removed the binding as its server,
    /// when the removal covers the replica.
    pub(super) fn covering(
        &self,
        key: &MnKey,
        identification: u64,
        now: Instant,
    ) -> Option<NodeId> {
        self.last
            .get(key)
            .filter(|e| identification <= e.identification && e.until.is_none_or(|u| u > now))
            .map(|e| e.by)
    }

    /// Drops entries from the front whose lifetime ended or that were superseded.
    fn prune(&mut self, now: Instant) {
        while let Some((key, e)) = self.order.front() {
            let current = self.last.get(key) == Some(e);
            if current && e.until.is_none_or(|u| u > now) {
                break;
            }
            if current {
                self.last.remove(key);
            }
            self.order.pop_front();
        }
        // Superseded entries can pile up behind a live front: keep the queue bounded too.
        if self.order.len() > 2 * self.max.max(1) + 2 {
            let last = &self.last;
            self.order.retain(|(k, e)| last.get(k) == Some(e));
        }
    }

    /// Entries held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mip::binding::CareOf;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::time::Duration;

    fn binding(n: u8, identification: u64, expires: Option<Instant>) -> Binding {
        let mut b = Binding::new(
            Ipv4Addr::new(10, 0, 0, n),
            NodeId(1),
            NodeId(2),
            SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 434),
            identification,
        );
        b.care_of
            .set_single(CareOf::new(Ipv4Addr::new(203, 0, 113, n), expires));
        b
    }

    fn key(n: u8) -> MnKey {
        (Ipv4Addr::new(10, 0, 0, n), None)
    }

    #[test]
    fn a_removal_covers_replicas_not_newer_until_its_lifetime_ends() {
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs(600);
        let mut r = Removed::new(4, &Hasher::default());
        let b = binding(1, 100, Some(end));
        assert_eq!(lifetime_end(&b), Some(end));
        assert_eq!(r.insert(t0, &b, lifetime_end(&b), NodeId(2)), 0);
        assert!(r.covers(&key(1), 100, t0));
        assert!(r.covers(&key(1), 99, t0 + Duration::from_secs(599)));
        assert!(!r.covers(&key(1), 101, t0), "a registration since is newer");
        assert!(!r.covers(&key(1), 100, end), "the lifetime ended");
        assert!(!r.covers(&key(2), 1, t0));
        // Infinite lifetime: covered until evicted.
        let b = binding(2, 7, None);
        assert_eq!(lifetime_end(&b), None);
        r.insert(t0, &b, None, NodeId(2));
        assert!(r.covers(&key(2), 7, end + Duration::from_secs(3600)));
        // Ended entries at the front are pruned on the next insert.
        let later = Some(end + Duration::from_secs(1));
        r.insert(end, &binding(3, 5, later), later, NodeId(2));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_and_counts_it() {
        let t0 = Instant::now();
        let end = Some(t0 + Duration::from_secs(600));
        let mut r = Removed::new(2, &Hasher::default());
        assert_eq!(r.insert(t0, &binding(1, 10, end), end, NodeId(2)), 0);
        assert_eq!(r.insert(t0, &binding(2, 20, end), end, NodeId(2)), 0);
        assert_eq!(r.insert(t0, &binding(3, 30, end), end, NodeId(2)), 1);
        assert!(!r.covers(&key(1), 10, t0));
        assert!(r.covers(&key(3), 30, t0));
        assert_eq!(r.len(), 2);
        // The same mobile node again replaces its entry, evicting nothing.
        assert_eq!(r.insert(t0, &binding(3, 31, end), end, NodeId(2)), 0);
        assert_eq!(r.len(), 2);
    }
}
