//! The contact LNS's table of pool LNSs, and the virtual LNS.
//!
//! [`LnsPool`] holds at most `max_entries` pool LNSs with their liveness and load, as reported by
//! heartbeats (`telcp::health`, or any other source through [`LnsPool::update`]). Selection picks,
//! among the members that are Up and below the overload threshold and not excluded, the one with
//! the most spare capacity (`capacity - used`; ties: lower load percentage, then lower address).
//! When the table is full, [`LnsPool::update`] for a new address is refused (returns `false`);
//! existing entries are never evicted.
//!
//! [`VirtualLns`]: several LNSs share a virtual address. The contact LNS is, deterministically,
//! the member with the lowest member index among those the local health table says are Up (a node
//! always counts itself Up). Every member applies the same rule to the same heartbeats, so when the
//! contact fails and is declared Down, the next member takes over new calls to the virtual address.

use crate::Rng;
use std::net::IpAddr;

/// Liveness of a pool member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Heartbeats arrive.
    Up,
    /// Some heartbeats missed.
    Suspect,
    /// Declared failed.
    Down,
}

/// One pool LNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEntry {
    /// The address LACs are redirected to.
    pub addr: IpAddr,
    /// Liveness.
    pub state: MemberState,
    /// Sessions in use.
    pub used: u32,
    /// Session capacity.
    pub capacity: u32,
    /// Load percentage reported.
    pub percent: u8,
}

/// The contact LNS's table of pool LNSs.
#[derive(Debug, Clone)]
pub struct LnsPool {
    entries: Vec<PoolEntry>,
    max_entries: usize,
    overload_percent: u8,
}

impl LnsPool {
    /// An empty pool of at most `max_entries` members; members at or above `overload_percent`
    /// are not selected.
    pub fn new(max_entries: usize, overload_percent: u8) -> Self {
        LnsPool {
            entries: Vec::new(),
            max_entries,
            overload_percent,
        }
    }

    /// Records liveness and load of `addr`. `false` when the table is full and `addr` is new.
    pub fn update(
        &mut self,
        addr: IpAddr,
        state: MemberState,
        used: u32,
        capacity: u32,
        percent: u8,
    ) -> bool {
        if let Some(e) = self.entries.iter_mut().find(|e| e.addr == addr) {
            e.state = state;
            e.used = used;
            e.capacity = capacity;
            e.percent = percent;
            return true;
        }
        if self.entries.len() >= self.max_entries {
            return false;
        }
        self.entries.push(PoolEntry {
            addr,
            state,
            used,
            capacity,
            percent,
        });
        true
    }

    /// Changes only the liveness of `addr`.
    pub fn set_state(&mut self, addr: IpAddr, state: MemberState) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.addr == addr) {
            e.state = state;
        }
    }

    /// Removes `addr`.
    pub fn remove(&mut self, addr: IpAddr) {
        self.entries.retain(|e| e.addr != addr);
    }

    /// The members.
    pub fn entries(&self) -> &[PoolEntry] {
        &self.entries
    }

    /// Can `e` take a session?
    pub fn available(&self, e: &PoolEntry) -> bool {
        e.state == MemberState::Up && e.percent < self.overload_percent && e.used < e.capacity
    }

    /// The available member with the most spare capacity, not in `exclude`.
    pub fn select(&self, exclude: &[IpAddr]) -> Option<IpAddr> {
        self.select_where(|a| !exclude.contains(&a))
    }

    /// The available member with the most spare capacity among those `allowed` accepts.
    pub fn select_where(&self, allowed: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        self.entries
            .iter()
            .filter(|e| self.available(e) && allowed(e.addr))
            .max_by(|a, b| {
                (a.capacity - a.used)
                    .cmp(&(b.capacity - b.used))
                    .then(b.percent.cmp(&a.percent))
                    .then(b.addr.cmp(&a.addr))
            })
            .map(|e| e.addr)
    }

    /// Records that one more session was sent to `addr` (until its next heartbeat corrects it).
    pub fn note_redirect(&mut self, addr: IpAddr) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.addr == addr) {
            e.used = e.used.saturating_add(1).min(e.capacity);
        }
    }

    /// Picks at random among available members (used by tests of spreading).
    pub fn select_random(&self, rng: &mut Rng, exclude: &[IpAddr]) -> Option<IpAddr> {
        let v: Vec<&PoolEntry> = self
            .entries
            .iter()
            .filter(|e| self.available(e) && !exclude.contains(&e.addr))
            .collect();
        if v.is_empty() {
            return None;
        }
        v.get(rng.below(v.len() as u64) as usize).map(|e| e.addr)
    }
}

/// Membership of a virtual LNS: the members in a fixed order (index = rank), and which one we are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualLns {
    /// The shared virtual address.
    pub virtual_addr: IpAddr,
    /// Each member's own (real) address, in rank order; identical on every member.
    pub members: Vec<IpAddr>,
    /// Our index in `members`.
    pub me: usize,
}

impl VirtualLns {
    /// The contact LNS: the lowest-ranked member that `is_up` says is Up (we count as Up).
    pub fn contact(&self, is_up: impl Fn(IpAddr) -> bool) -> Option<usize> {
        (0..self.members.len())
            .find(|&i| i == self.me || self.members.get(i).is_some_and(|a| is_up(*a)))
    }

    /// Are we the contact LNS?
    pub fn is_contact(&self, is_up: impl Fn(IpAddr) -> bool) -> bool {
        self.contact(is_up) == Some(self.me)
    }
}
