//! The last accepted Identification of mobile nodes that deregistered, kept while a replay of
//! their last request could still pass the timestamp check (RFC 5944 section 5.7).
//!
//! A binding holds the last Identification accepted from its mobile node; a request whose
//! Identification is not newer is refused 133. A deregistration removes the binding, and with it
//! that memory: without this table a copy of the mobile node's last registration, replayed within
//! the timestamp tolerance, would be accepted and bind the mobile node again. Each entry lives
//! until its Identification falls outside the tolerance (then the timestamp check alone refuses
//! any replay of it). Bounded: at most `max` entries (the binding table's bound); when full, the
//! oldest entry is dropped first and counted in `HaStats::retired_evicted`.

use super::super::MnId;
use crate::mip::binding::Hasher;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

/// Last accepted Identifications of removed bindings (module docs).
pub(super) struct Retired {
    last: HashMap<MnId, u64, Hasher>,
    /// Insertion order, for pruning and eviction (an entry superseded in `last` is skipped).
    order: VecDeque<(MnId, u64)>,
    max: usize,
}

impl std::fmt::Debug for Retired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retired")
            .field("entries", &self.last.len())
            .field("max", &self.max)
            .finish()
    }
}

impl Retired {
    pub(super) fn new(max: usize, hasher: &Hasher) -> Self {
        Retired {
            last: HashMap::with_hasher(hasher.clone()),
            order: VecDeque::new(),
            max,
        }
    }

    /// Remembers `identification` for the mobile node of `home` and `nai` (under each of its
    /// identifiers). `stale`: identifications at or below it are outside the tolerance. Returns
    /// how many live entries were evicted to make room.
    pub(super) fn insert(
        &mut self,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
        identification: u64,
        stale: u64,
    ) -> u64 {
        self.prune(stale);
        let mut evicted = 0;
        let ids = [
            MnId::of(home, None),
            nai.filter(|n| !n.is_empty()).map(|n| MnId::Nai(n.into())),
        ];
        for id in ids.into_iter().flatten() {
            if self.max == 0 {
                return evicted + 1;
            }
            while self.last.len() >= self.max && !self.last.contains_key(&id) {
                match self.order.pop_front() {
                    Some((old, i)) if self.last.get(&old) == Some(&i) => {
                        self.last.remove(&old);
                        evicted += 1;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            self.last.insert(id.clone(), identification);
            self.order.push_back((id, identification));
        }
        evicted
    }

    /// The last identification accepted from the mobile node of `home` / `nai`, if it
    /// deregistered recently and its identification is newer than `stale`.
    pub(super) fn get(&self, home: Ipv4Addr, nai: Option<&[u8]>, stale: u64) -> Option<u64> {
        let by_home = MnId::of(home, None).and_then(|id| self.last.get(&id));
        let by_nai = nai
            .filter(|n| !n.is_empty())
            .and_then(|n| self.last.get(&MnId::Nai(n.into())));
        by_home.max(by_nai).copied().filter(|i| *i > stale)
    }

    /// Drops entries from the front whose identification is stale or superseded.
    fn prune(&mut self, stale: u64) {
        while let Some((id, i)) = self.order.front() {
            let current = self.last.get(id) == Some(i);
            if current && *i > stale {
                break;
            }
            if current {
                self.last.remove(id);
            }
            self.order.pop_front();
        }
        // Superseded entries can pile up behind a live front: keep the queue bounded too.
        if self.order.len() > 2 * self.max.max(1) + 2 {
            let last = &self.last;
            self.order.retain(|(id, i)| last.get(id) == Some(i));
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

    fn h(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, n)
    }

    #[test]
    fn an_entry_answers_until_its_identification_is_stale() {
        let mut r = Retired::new(4, &Hasher::default());
        assert_eq!(r.insert(h(1), Some(b"mn@x"), 100, 0), 0);
        assert_eq!(r.get(h(1), None, 50), Some(100));
        assert_eq!(r.get(Ipv4Addr::UNSPECIFIED, Some(b"mn@x"), 50), Some(100));
        assert_eq!(r.get(h(1), None, 100), None);
        r.insert(h(2), None, 300, 150);
        assert_eq!(r.len(), 1, "the stale entries of mobile node 1 are pruned");
    }

    #[test]
    fn a_full_table_evicts_the_oldest_and_counts_it() {
        let mut r = Retired::new(2, &Hasher::default());
        assert_eq!(r.insert(h(1), None, 10, 0), 0);
        assert_eq!(r.insert(h(2), None, 20, 0), 0);
        assert_eq!(r.insert(h(3), None, 30, 0), 1);
        assert_eq!(r.get(h(1), None, 0), None);
        assert_eq!(r.get(h(3), None, 0), Some(30));
        assert_eq!(r.len(), 2);
    }
}
