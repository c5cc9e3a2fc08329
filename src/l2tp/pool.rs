//! The contact LNS's view of the pool LNSs, and the virtual LNS.
//!
//! The pool has one source of liveness and load: the health load table
//! ([`crate::health::LoadTable`]). With heartbeats (`LnsConfig::membership`), it is the embedded
//! monitor's table, each peer named by the address LACs reach it at and are redirected to: its
//! service address when the membership names one apart (`LnsMembership::services`: its
//! heartbeats go to a cluster address of its own), else the address its heartbeats go to;
//! without them, or for members that send none, it is the [`LnsPool`]'s own table
//! of the same type, keyed by address and fed through [`LnsPool::update`]. [`PoolView`] reads
//! both. At most `max_pool` members each (the monitor's peer bound and the [`LnsPool`]'s); when
//! the [`LnsPool`] is full, [`LnsPool::update`] for a new address is refused (returns `false`,
//! counted by the caller); existing entries are never evicted.
//!
//! Selection (contact LNS, RFC 2661 section 4.4.2 gives the redirect, the policy is local): among
//! the members that are Up, below the overload threshold (`percent < overload_percent` and
//! `used < capacity`) and not excluded, the one with the most spare capacity (`capacity - used`);
//! ties: the lower load percentage, then the lower address ([`health::most_spare`]).
//!
//! [`VirtualLns`]: several LNSs share a virtual address. The contact LNS is, deterministically,
//! the member with the lowest member index among those the local health table says are Up (a node
//! always counts itself Up). Every member applies the same rule to the same heartbeats, so when the
//! contact fails and is declared Down, the next member takes over new calls to the virtual address.

use super::{ConfigError, ConfigField, L2TP_PORT};
use crate::Rng;
use crate::health::{self, Load, LoadTable, Monitor, NodeId};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// Liveness of a pool member: the health failure detector's states (Up, Suspect, Down).
pub use crate::health::NodeState as MemberState;

/// One pool LNS, as the view reports it.
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

impl PoolEntry {
    fn new(addr: IpAddr, state: MemberState, load: Load) -> PoolEntry {
        PoolEntry {
            addr,
            state,
            used: load.used,
            capacity: load.capacity,
            percent: load.percent,
        }
    }
}

/// The pool members fed without heartbeats: a health load table keyed by address.
#[derive(Debug, Clone)]
pub struct LnsPool {
    table: LoadTable<IpAddr>,
}

impl LnsPool {
    /// An empty pool of at most `max_entries` members; members at or above `overload_percent`
    /// are not selected.
    pub fn new(max_entries: usize, overload_percent: u8) -> Self {
        LnsPool {
            table: LoadTable::new(overload_percent, max_entries),
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
        let load = Load {
            used,
            capacity,
            percent,
        };
        if self.table.set(addr, load).is_err() {
            return false;
        }
        self.table.set_state(addr, state);
        true
    }

    /// Changes only the liveness of `addr`.
    pub fn set_state(&mut self, addr: IpAddr, state: MemberState) {
        self.table.set_state(addr, state);
    }

    /// Removes `addr`.
    pub fn remove(&mut self, addr: IpAddr) {
        self.table.remove(addr);
    }

    /// The members, by ascending address.
    pub fn entries(&self) -> impl Iterator<Item = PoolEntry> + '_ {
        self.table
            .entries()
            .map(|(addr, state, load)| PoolEntry::new(addr, state, load))
    }

    /// Can `e` take a session (Up, below the overload threshold, not full)?
    pub fn available(&self, e: &PoolEntry) -> bool {
        e.state == MemberState::Up
            && !self.table.is_overloaded(&Load {
                used: e.used,
                capacity: e.capacity,
                percent: e.percent,
            })
    }

    /// The available member with the most spare capacity, not in `exclude`.
    pub fn select(&self, exclude: &[IpAddr]) -> Option<IpAddr> {
        self.select_where(|a| !exclude.contains(&a))
    }

    /// The available member with the most spare capacity among those `allowed` accepts.
    pub fn select_where(&self, allowed: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        PoolView::new(self, None).select_where(allowed)
    }

    /// Records that one more session was sent to `addr` (until its next update corrects it).
    pub fn note_redirect(&mut self, addr: IpAddr) {
        self.table.note_assigned(addr);
    }

    /// [`LnsPool::select_where`], then [`LnsPool::note_redirect`] of the member chosen, in one
    /// pass over the table (`LoadTable::assign_most_spare`).
    pub(crate) fn select_noting(&mut self, allowed: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        self.table.assign_most_spare(allowed)
    }

    /// Picks at random among available members (used by tests of spreading).
    pub fn select_random(&self, rng: &mut Rng, exclude: &[IpAddr]) -> Option<IpAddr> {
        let v: Vec<IpAddr> = self
            .table
            .eligible()
            .map(|(a, _)| a)
            .filter(|a| !exclude.contains(a))
            .collect();
        if v.is_empty() {
            return None;
        }
        v.get(rng.below(v.len() as u64) as usize).copied()
    }
}

/// The contact LNS's pool as one table: the embedded monitor's peers (by the address LACs
/// reach them at: module docs) and the [`LnsPool`]'s members, read in place.
#[derive(Debug, Clone, Copy)]
pub struct PoolView<'a> {
    members: &'a LnsPool,
    health: Option<&'a Monitor>,
    /// The peers' service addresses apart from their heartbeat addresses
    /// (`LnsMembership::services`).
    services: Option<&'a BTreeMap<NodeId, IpAddr>>,
}

impl<'a> PoolView<'a> {
    /// The view over `members` and, when heartbeats run, `health`'s load table (each peer at
    /// the address its heartbeats go to; [`crate::l2tp::Lns::pool_view`] also knows the
    /// service addresses of its membership).
    pub fn new(members: &'a LnsPool, health: Option<&'a Monitor>) -> PoolView<'a> {
        PoolView {
            members,
            health,
            services: None,
        }
    }

    /// The same, each peer of `services` at its service address there.
    pub(crate) fn with_services(mut self, services: &'a BTreeMap<NodeId, IpAddr>) -> Self {
        self.services = Some(services);
        self
    }

    /// Where LACs reach peer `node` of `m`: its service address, else its heartbeat address.
    fn addr_of(
        services: Option<&BTreeMap<NodeId, IpAddr>>,
        m: &Monitor,
        node: NodeId,
    ) -> Option<IpAddr> {
        match services.and_then(|s| s.get(&node)) {
            Some(a) => Some(*a),
            None => m.addr_of(node).map(|a| a.ip()),
        }
    }

    /// The monitor's peers (not this node) with their address.
    fn peers(&self) -> impl Iterator<Item = (IpAddr, NodeId, MemberState, Load)> + 'a {
        let services = self.services;
        self.health.into_iter().flat_map(move |m| {
            m.table().entries().filter_map(move |(node, state, load)| {
                let addr = Self::addr_of(services, m, node)?;
                Some((addr, node, state, load))
            })
        })
    }

    /// The health peer with the most spare capacity among those `allowed` accepts, overloaded
    /// ones included (whatever their load, each with a load reported): a virtual LNS member's
    /// backup when no member has room for calls (`lns::replicate` docs, backup).
    pub(crate) fn most_spare_of_all(&self, allowed: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        health::most_spare(self.peers().filter(|p| allowed(p.0)).map(|p| (p.0, p.3)))
    }

    /// The health node id of the peer LACs reach at `addr` (module docs), if any.
    pub fn node_at(&self, addr: IpAddr) -> Option<NodeId> {
        self.peers().find(|p| p.0 == addr).map(|p| p.1)
    }

    /// The liveness of the member at `addr` (the monitor's when it knows the address).
    pub fn state(&self, addr: IpAddr) -> Option<MemberState> {
        self.peers()
            .find(|p| p.0 == addr)
            .map(|p| p.2)
            .or_else(|| self.members.table.state(addr))
    }

    /// Every member: the monitor's peers, then the [`LnsPool`]'s.
    pub fn entries(&self) -> impl Iterator<Item = PoolEntry> + 'a {
        self.peers()
            .map(|(addr, _, state, load)| PoolEntry::new(addr, state, load))
            .chain(self.members.entries())
    }

    /// The available member with the most spare capacity among those `allowed` accepts (see
    /// the module docs).
    pub fn select_where(&self, allowed: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        let services = self.services;
        let from_health = self.health.into_iter().flat_map(move |m| {
            m.table()
                .eligible()
                .filter_map(move |(node, load)| Some((Self::addr_of(services, m, node)?, load)))
        });
        let candidates = from_health.chain(self.members.table.eligible());
        health::most_spare(candidates.filter(|(a, _)| allowed(*a)))
    }
}

/// Membership of a virtual LNS: the members in a fixed order (index = rank), and which one we are.
/// [`crate::l2tp::Lns::new`] checks it: the addresses are LACs' and members' destinations, so
/// none may be unspecified (0.0.0.0 or `::`, RFC 1122 section 3.2.1.3, RFC 4291 section
/// 2.5.2: [`ConfigError::UnusableAddress`], the address shown at [`L2TP_PORT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualLns {
    /// The shared virtual address (LACs send their SCCRQs to it;
    /// [`ConfigField::VirtualAddress`]).
    pub virtual_addr: IpAddr,
    /// Each member's own (real) address, in rank order; identical on every member
    /// ([`ConfigField::VirtualLnsMembers`]).
    pub members: Vec<IpAddr>,
    /// Our index in `members` ([`ConfigField::VirtualLnsMe`]).
    pub me: usize,
}

impl VirtualLns {
    /// [`ConfigError::OutOfRange`] naming [`ConfigField::VirtualLnsMe`] when `me` is not an
    /// index of `members`; [`ConfigError::UnusableAddress`] when an address is unspecified
    /// ([`crate::io::usable_peer`], at [`L2TP_PORT`]).
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.me >= self.members.len() {
            return Err(ConfigError::OutOfRange(ConfigField::VirtualLnsMe));
        }
        let addrs = std::iter::once((ConfigField::VirtualAddress, self.virtual_addr)).chain(
            self.members
                .iter()
                .map(|a| (ConfigField::VirtualLnsMembers, *a)),
        );
        for (field, ip) in addrs {
            let addr = SocketAddr::new(ip, L2TP_PORT);
            if !crate::io::usable_peer(addr) {
                return Err(ConfigError::UnusableAddress { field, addr });
            }
        }
        Ok(())
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{ClusterKey, Monitor, MonitorConfig, Role};
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    fn sock(n: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 1, n], 1701))
    }

    fn ip(n: u8) -> IpAddr {
        sock(n).ip()
    }

    fn monitor(me: u8, peers: &[u8], now: Instant) -> Monitor {
        let peers = peers.iter().map(|&p| (NodeId(p.into()), sock(p))).collect();
        let c = MonitorConfig::new(
            NodeId(me.into()),
            Role::LNS,
            ClusterKey::new(b"test cluster key"),
            peers,
        );
        Monitor::new(c, now).unwrap()
    }

    /// Peer `from` reports `used` of 100 sessions to `to` at `now`.
    fn heartbeat(from: &mut Monitor, to: &mut Monitor, used: u32, now: Instant) {
        from.set_load(Load::new(used, 100));
        from.handle_timeout(now);
        let src = sock(from.node().0 as u8);
        while let Some(t) = from.poll_transmit() {
            if t.dst == sock(to.node().0 as u8) {
                to.handle_datagram(now, src, t.dst, &t.payload).unwrap();
            }
        }
    }

    /// The view selects from the monitor's load table itself: nothing is copied into the
    /// [`LnsPool`], and a peer the detector turns Suspect is no longer selected (module docs:
    /// only Up members), while a redirect counted against a peer shows in the same table.
    #[test]
    fn the_view_reads_the_monitor_table_in_place() {
        let t0 = Instant::now();
        let mut contact = monitor(1, &[2, 3], t0);
        let (mut a, mut b) = (monitor(2, &[1], t0), monitor(3, &[1], t0));
        heartbeat(&mut a, &mut contact, 10, t0);
        heartbeat(&mut b, &mut contact, 30, t0);
        let members = LnsPool::new(8, 90);
        let view = PoolView::new(&members, Some(&contact));
        assert_eq!(view.select_where(|_| true), Some(ip(2)));
        assert_eq!(members.entries().count(), 0);
        assert_eq!(view.entries().count(), 2);
        assert_eq!(view.node_at(ip(3)), Some(NodeId(3)));
        // A redirect to 10.0.1.2 counts against it in the monitor's table.
        contact.note_assigned(NodeId(2));
        assert_eq!(contact.load(NodeId(2)).map(|l| l.used), Some(11));
        // Only b keeps sending: after 2 silent intervals a is Suspect and not selected.
        let t2 = t0 + Duration::from_secs(2);
        heartbeat(&mut b, &mut contact, 30, t2);
        contact.handle_timeout(t2);
        let view = PoolView::new(&members, Some(&contact));
        assert_eq!(view.state(ip(2)), Some(MemberState::Suspect));
        assert_eq!(view.select_where(|_| true), Some(ip(3)));
        assert_eq!(view.select_where(|a| a != ip(3)), None);
    }

    /// Module docs: the most spare capacity wins; ties go to the lower load percentage, then to
    /// the lower address. Overloaded, full and non-Up members are never chosen.
    #[test]
    fn most_spare_then_lower_percent_then_lower_address() {
        let mut p = LnsPool::new(8, 90);
        assert!(p.update(ip(9), MemberState::Up, 10, 100, 20));
        assert!(p.update(ip(8), MemberState::Up, 10, 100, 20));
        assert!(p.update(ip(7), MemberState::Up, 10, 100, 30));
        assert!(p.update(ip(6), MemberState::Down, 0, 1000, 0));
        assert!(p.update(ip(5), MemberState::Up, 0, 1000, 95));
        assert!(p.update(ip(4), MemberState::Up, 50, 50, 0));
        assert_eq!(p.select(&[]), Some(ip(8)));
        assert_eq!(p.select(&[ip(8)]), Some(ip(9)));
        assert_eq!(p.select(&[ip(8), ip(9)]), Some(ip(7)));
        // One redirect to 10.0.1.8 leaves it less spare than 10.0.1.9.
        p.note_redirect(ip(8));
        assert_eq!(p.select(&[]), Some(ip(9)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// `select_noting` chooses what `select_where` chooses and counts it as `note_redirect`
        /// does, decision after decision, on any pool: members Up or not, loaded or full, some
        /// excluded.
        #[test]
        fn select_noting_is_select_then_note(
            members in proptest::collection::vec(
                (1u8..12, 0u8..3, 0u32..6, 0u32..6, 0u8..101),
                0..8,
            ),
            overload in 0u8..101,
            excluded in proptest::collection::vec(1u8..12, 0..4),
            decisions in 1usize..6,
        ) {
            let mut plain = LnsPool::new(8, overload);
            for (n, state, used, capacity, percent) in members {
                let state = [MemberState::Up, MemberState::Suspect, MemberState::Down][usize::from(state)];
                plain.update(ip(n), state, used, capacity, percent);
            }
            let mut fast = plain.clone();
            let excluded: Vec<IpAddr> = excluded.into_iter().map(ip).collect();
            let allowed = |a: IpAddr| !excluded.contains(&a);
            for _ in 0..decisions {
                let chosen = plain.select_where(allowed);
                if let Some(t) = chosen {
                    plain.note_redirect(t);
                }
                proptest::prop_assert_eq!(fast.select_noting(allowed), chosen);
                proptest::prop_assert_eq!(
                    fast.entries().collect::<Vec<_>>(),
                    plain.entries().collect::<Vec<_>>()
                );
            }
        }
    }

    /// Members fed without heartbeats and heartbeat peers are one pool; the table stays bounded.
    #[test]
    fn update_fed_members_join_the_heartbeat_peers() {
        let t0 = Instant::now();
        let mut contact = monitor(1, &[2], t0);
        let mut a = monitor(2, &[1], t0);
        heartbeat(&mut a, &mut contact, 50, t0);
        let mut members = LnsPool::new(1, 90);
        assert!(members.update(ip(7), MemberState::Up, 10, 100, 10));
        assert!(!members.update(ip(8), MemberState::Up, 0, 100, 0));
        let view = PoolView::new(&members, Some(&contact));
        assert_eq!(view.select_where(|_| true), Some(ip(7)));
        assert_eq!(view.select_where(|a| a != ip(7)), Some(ip(2)));
    }
}
