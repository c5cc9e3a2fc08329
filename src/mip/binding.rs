//! The binding table of a Home Agent: temporary and permanent bindings, bounded, timer-driven.
//!
//! One [`Binding`] per mobile node, found by home address or NAI. A binding is
//! [`BindingState::Temporary`] while it only holds a pending request (the first HA forwarded it
//! and waits for the second HA's reply), and [`BindingState::Permanent`] once it holds at least one
//! granted care-of address. A permanent binding may also carry a pending re-registration.
//!
//! Timers live in one deadline heap: each binding has at most a pending timer and a lifetime timer
//! (armed at its earliest care-of expiry), so [`BindingTable::pop_expired`] touches only what is
//! due and never scans the table. Timers are re-armed lazily: a re-registration that pushes a
//! binding's expiry later, or an answered request, touches no heap entry; the old entry, when it
//! comes due, finds the binding's real deadline and is pushed again at it (or dropped). So the
//! steady state of mobile nodes re-registering before their lifetimes end costs no heap operation,
//! and [`BindingTable::next_deadline`] may be earlier than the next real expiry (a wake-up that
//! finds nothing due is a no-op).
//!
//! Bounds: at most `max_bindings` bindings and `max_pending` pending requests;
//! [`BindingTable::insert`] refuses beyond them ([`TableError`]) and never evicts a live binding.
//! The Home Agent answers a refusal with reply code 130 (insufficient resources).

mod tunnel;

pub use tunnel::{Encapsulation, Tunnel, TunnelParams, UdpInner};

use crate::health::NodeId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

/// Most simultaneous care-of addresses per mobile node (the configured limit is at most this).
pub const MAX_SIMULTANEOUS: usize = 4;

/// Whether a binding only holds a pending request, or a granted registration.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BindingState {
    /// Created by the first HA when it forwards a request; freed when its pending timer expires.
    Temporary,
    /// At least one granted care-of address.
    Permanent,
}

/// One granted care-of address.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CareOf {
    /// The care-of address.
    pub address: Ipv4Addr,
    /// When it expires (`None`: infinite lifetime).
    pub expires: Option<Instant>,
}

/// The granted care-of addresses of a binding: at most [`MAX_SIMULTANEOUS`], stored in an
/// exactly sized heap slice (a binding with one care-of address costs one small allocation, not
/// room for four).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CareOfs(Box<[CareOf]>);

impl CareOfs {
    fn edit(&mut self, f: impl FnOnce(&mut Vec<CareOf>)) {
        let mut v = std::mem::take(&mut self.0).into_vec();
        f(&mut v);
        v.truncate(MAX_SIMULTANEOUS);
        self.0 = v.into_boxed_slice();
    }
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0 = Box::default();
    }
    /// Keeps the entries for which `f` holds.
    pub fn retain(&mut self, f: impl FnMut(&CareOf) -> bool) {
        self.edit(|v| v.retain(f));
    }
    /// Appends an entry (ignored when full).
    pub fn push(&mut self, c: CareOf) {
        self.edit(|v| v.push(c));
    }
    /// Makes `c` the only entry (in place when there is exactly one: a re-registration allocates
    /// nothing).
    pub fn set_single(&mut self, c: CareOf) {
        match &mut *self.0 {
            [only] => *only = c,
            _ => self.0 = Box::new([c]),
        }
    }
    /// Replaces the entry for `c.address` in place, or appends `c` (ignored when full).
    pub fn upsert(&mut self, c: CareOf) {
        match self.iter_mut().find(|x| x.address == c.address) {
            Some(x) => *x = c,
            None => self.push(c),
        }
    }
    /// Whether an entry has this address.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        self.iter().any(|c| c.address == address)
    }
    /// Removes the entry at `i` (no-op out of range).
    pub fn remove(&mut self, i: usize) {
        self.edit(|v| {
            if i < v.len() {
                v.remove(i);
            }
        });
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Whether [`MAX_SIMULTANEOUS`] entries are held.
    pub fn is_full(&self) -> bool {
        self.0.len() >= MAX_SIMULTANEOUS
    }
    /// The entries.
    pub fn iter(&self) -> std::slice::Iter<'_, CareOf> {
        self.0.iter()
    }
    /// The entries, mutably.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, CareOf> {
        self.0.iter_mut()
    }
    /// The first entry.
    pub fn first(&self) -> Option<&CareOf> {
        self.0.first()
    }
}

impl FromIterator<CareOf> for CareOfs {
    fn from_iter<I: IntoIterator<Item = CareOf>>(it: I) -> Self {
        CareOfs(it.into_iter().take(MAX_SIMULTANEOUS).collect())
    }
}

/// What the first HA has relayed so far for a forwarded request.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum PendingStage {
    /// No reply yet.
    #[default]
    Forwarded,
    /// A 133 (identification mismatch) from this HA was relayed. The network may have copied
    /// the forwarded request: the second HA accepts the first copy and refuses the next as a
    /// replay (RFC 5944 sections 3.8.3 and 5.7), and the two replies may arrive in either
    /// order. The same HA's acceptance of the same identification, arriving later, still applies.
    MismatchRelayed {
        /// The HA whose 133 was relayed.
        by: NodeId,
    },
}

/// A request forwarded to the second HA and not yet answered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Pending {
    /// Where the reply must go (the foreign agent, or a co-located mobile node).
    pub fa: SocketAddrV4,
    /// The care-of address requested.
    pub care_of: Ipv4Addr,
    /// The request's identification (the reply must match its low 32 bits).
    pub identification: u64,
    /// The HA that serves the request.
    pub second_ha: NodeId,
    /// When the temporary binding expires.
    pub deadline: Instant,
    /// The request's S bit.
    pub simultaneous: bool,
    /// The HA that received the request.
    pub first_ha: NodeId,
    /// What the first HA relayed for it so far.
    pub stage: PendingStage,
    /// The tunnel the request asks for, as the first HA decided it under the cluster's
    /// configuration (`None`: plain IP-in-IP from the virtual address).
    pub tunnel: Option<TunnelParams>,
}

/// What a Home Agent knows about one mobile node.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Binding {
    /// The home address (0.0.0.0 while a temporary binding waits for an assigned one).
    pub home_address: Ipv4Addr,
    /// The NAI, when the mobile node sent one.
    pub nai: Option<Box<[u8]>>,
    /// The HA that received the last accepted request.
    pub first_ha: NodeId,
    /// The HA that serves the binding (authenticates, grants, tunnels).
    pub second_ha: NodeId,
    /// Where replies go.
    pub fa: SocketAddrV4,
    /// The last accepted identification (replay protection survives failover with it).
    pub identification: u64,
    /// Granted care-of addresses (empty for a temporary binding).
    pub care_of: CareOfs,
    /// A request in flight, if any (boxed: most bindings have none).
    pub pending: Option<Box<Pending>>,
    /// The tunnel's parameters (`None`: plain IP-in-IP without reverse tunnelling from the
    /// virtual address; boxed, as most bindings keep nothing).
    pub tunnel: Option<Box<TunnelParams>>,
}

impl Binding {
    /// Temporary or permanent.
    pub fn state(&self) -> BindingState {
        if self.care_of.is_empty() {
            BindingState::Temporary
        } else {
            BindingState::Permanent
        }
    }

    /// The earliest care-of expiry.
    pub fn expires(&self) -> Option<Instant> {
        self.care_of.iter().filter_map(|c| c.expires).min()
    }

    /// The tunnel to `care_of` (one of the binding's care-of addresses), `virtual_address` the
    /// cluster's virtual home agent address (the local end when the binding keeps no
    /// parameters).
    pub fn tunnel(&self, virtual_address: Ipv4Addr, care_of: Ipv4Addr) -> Tunnel {
        self.tunnel
            .as_deref()
            .copied()
            .unwrap_or(TunnelParams::plain(virtual_address))
            .tunnel(self.home_address, care_of)
    }
}

/// A bounded part of the [`BindingTable`], named when it is full ([`TableError::Full`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Table {
    /// The bindings (`max_bindings`).
    Bindings,
    /// The temporary bindings awaiting a second HA's reply (`max_pending`).
    Pending,
}

/// Why the table refused a binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The table's bound is reached (the same name as [`crate::l2tp::InputError::Full`]).
    #[error("{0:?} table full")]
    Full(Table),
}

/// What [`BindingTable::update`] compares before and after a change.
struct Keys {
    home: Ipv4Addr,
    second_ha: NodeId,
    nai: Option<Box<[u8]>>,
    pending: Option<Instant>,
    expires: Option<Instant>,
}

impl Keys {
    fn of(b: &Binding) -> Keys {
        Keys {
            home: b.home_address,
            second_ha: b.second_ha,
            nai: b.nai.clone(),
            pending: b.pending.as_ref().map(|p| p.deadline),
            expires: b.expires(),
        }
    }
}

/// The two timers of a binding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
enum Kind {
    Pending = 0,
    Lifetime = 1,
}

/// Deadlines of the slots' two timers, re-armed lazily (see the module docs).
///
/// `armed[slot][kind]` is the deadline of the one heap entry that stands for that timer (or
/// `None`); other heap entries for it are stale and skipped when they surface. The heap is rebuilt
/// from `armed` when stale entries outnumber live ones, so it stays within twice the number of
/// armed timers.
#[derive(Debug, Default)]
struct SlotTimers {
    heap: BinaryHeap<Reverse<(Instant, u32, Kind)>>,
    armed: Vec<[Option<Instant>; 2]>,
    live: usize,
}

impl SlotTimers {
    /// The timer should fire no later than `deadline`: pushes an entry only when it is earlier
    /// than the one armed.
    fn want(&mut self, slot: u32, kind: Kind, deadline: Option<Instant>) {
        let Some(d) = deadline else { return };
        let i = slot as usize;
        if self.armed.len() <= i {
            self.armed.resize(i + 1, [None; 2]);
        }
        let Some(a) = self.armed.get_mut(i).map(|a| &mut a[kind as usize]) else {
            return;
        };
        match *a {
            Some(cur) if cur <= d => {}
            cur => {
                if cur.is_none() {
                    self.live += 1;
                }
                *a = Some(d);
                self.heap.push(Reverse((d, slot, kind)));
                if self.heap.len() > 2 * self.live + 64 {
                    self.rebuild();
                }
            }
        }
    }

    /// Drops the stale entries: O(heap), which is at most twice the armed timers (not O(slots):
    /// a table of mostly infinite lifetimes has far more slots than timers).
    fn rebuild(&mut self) {
        let mut v = std::mem::take(&mut self.heap).into_vec();
        let armed = &self.armed;
        v.retain(|Reverse((d, slot, kind))| {
            armed
                .get(*slot as usize)
                .is_some_and(|a| a[*kind as usize] == Some(*d))
        });
        self.heap = BinaryHeap::from(v);
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((d, _, _))| *d)
    }

    /// The next armed timer due at `now`, disarmed.
    fn pop(&mut self, now: Instant) -> Option<(u32, Kind)> {
        loop {
            let &Reverse((d, slot, kind)) = self.heap.peek()?;
            if d > now {
                return None;
            }
            self.heap.pop();
            let Some(a) = self
                .armed
                .get_mut(slot as usize)
                .map(|a| &mut a[kind as usize])
            else {
                continue;
            };
            if *a == Some(d) {
                *a = None;
                self.live -= 1;
                return Some((slot, kind));
            }
        }
    }

    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// The hasher of the table's indexes: foldhash, seeded by the caller (the Home Agent's RNG), so
/// lookups cost a few nanoseconds instead of SipHash's tens. The keys it hashes are those of
/// authenticated mobile nodes, assigned addresses and cluster replicas.
pub type Hasher = foldhash::fast::FixedState;

/// What [`BindingTable::pop_expired`] reports.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Expiry {
    /// A temporary binding's pending timer expired: it was freed (returned).
    TemporaryFreed(Binding),
    /// A pending re-registration of a permanent binding expired; the binding stays.
    PendingCleared(u32),
    /// Every care-of address of a binding expired: it was removed (returned).
    LifetimeEnded(Binding),
    /// Some care-of addresses of the binding in `slot` expired (`expired`, removed from it); the
    /// binding stays with the others.
    CareOfExpired {
        /// The binding's slot.
        slot: u32,
        /// The care-of addresses that expired.
        expired: Vec<Ipv4Addr>,
    },
}

/// Bindings found by home address or NAI, with their timers. See the module docs.
#[derive(Debug)]
pub struct BindingTable {
    slots: Vec<Option<Binding>>,
    free: Vec<u32>,
    by_home: HashMap<Ipv4Addr, u32, Hasher>,
    by_nai: HashMap<Box<[u8]>, u32, Hasher>,
    timers: SlotTimers,
    max_bindings: usize,
    max_pending: usize,
    pending: usize,
    len: usize,
    /// Bindings per second HA (the HA that serves them), kept with every change so an HA's load
    /// (the bindings it serves, not the replicas it holds) is read in O(1).
    owners: HashMap<NodeId, usize, Hasher>,
}

impl BindingTable {
    /// An empty table with its bounds (and a fixed hash seed: see [`BindingTable::with_seed`]).
    pub fn new(max_bindings: usize, max_pending: usize) -> Self {
        Self::with_seed(max_bindings, max_pending, 0x7e1c_9a11)
    }

    /// An empty table with its bounds, its indexes hashed with `seed`.
    pub fn with_seed(max_bindings: usize, max_pending: usize, seed: u64) -> Self {
        let h = Hasher::with_seed(seed);
        BindingTable {
            slots: Vec::new(),
            free: Vec::new(),
            by_home: HashMap::with_hasher(h.clone()),
            by_nai: HashMap::with_hasher(h.clone()),
            timers: SlotTimers::default(),
            max_bindings,
            max_pending,
            pending: 0,
            len: 0,
            owners: HashMap::with_hasher(h),
        }
    }

    /// Heap entries of the timer structure (armed timers, plus stale ones up to as many again):
    /// for memory measurements.
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }

    /// Number of bindings whose second HA is `node` (temporary and permanent): the bindings that
    /// HA serves, as opposed to replicas it holds for others.
    pub fn owned_by(&self, node: NodeId) -> usize {
        self.owners.get(&node).copied().unwrap_or(0)
    }

    fn own(&mut self, node: NodeId) {
        *self.owners.entry(node).or_insert(0) += 1;
    }

    fn disown(&mut self, node: NodeId) {
        if let Some(n) = self.owners.get_mut(&node) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.owners.remove(&node);
            }
        }
    }

    /// Number of bindings.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of bindings with a pending request.
    pub fn pending_len(&self) -> usize {
        self.pending
    }

    /// The bound on bindings.
    pub fn max_bindings(&self) -> usize {
        self.max_bindings
    }

    /// Whether a new pending request would exceed `max_pending`.
    pub fn pending_full(&self) -> bool {
        self.pending >= self.max_pending
    }

    /// Whether a new binding would exceed `max_bindings`.
    pub fn is_full(&self) -> bool {
        self.len >= self.max_bindings
    }

    /// The slot of the binding for this home address (if specified) or NAI.
    pub fn find(&self, home_address: Ipv4Addr, nai: Option<&[u8]>) -> Option<u32> {
        if !home_address.is_unspecified()
            && let Some(s) = self.by_home.get(&home_address)
        {
            return Some(*s);
        }
        nai.and_then(|n| self.by_nai.get(n).copied())
    }

    /// The binding in `slot`.
    pub fn get(&self, slot: u32) -> Option<&Binding> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// Every binding with its slot.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Binding)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.as_ref().map(|b| (i as u32, b)))
    }

    /// The first occupied slot at or after `from` (a cursor for walking the table in steps).
    pub fn next_slot(&self, from: u32) -> Option<u32> {
        let start = from as usize;
        self.slots
            .get(start..)?
            .iter()
            .position(Option::is_some)
            .map(|i| (start + i) as u32)
    }

    /// The earliest timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Adds a binding. Refused beyond the bounds; nothing changes then.
    pub fn insert(&mut self, b: Binding) -> Result<u32, TableError> {
        if self.len >= self.max_bindings {
            return Err(TableError::Full(Table::Bindings));
        }
        if b.pending.is_some() && self.pending >= self.max_pending {
            return Err(TableError::Full(Table::Pending));
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.len += 1;
        self.own(b.second_ha);
        self.index(slot, &b);
        if b.pending.is_some() {
            self.pending += 1;
        }
        self.arm(slot, &b);
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = Some(b);
        }
        Ok(slot)
    }

    /// Changes the binding in `slot` with `f`, then re-indexes it and re-arms its timers. Refused
    /// (nothing changes) when `f` adds a pending request beyond `max_pending`.
    pub fn update<R>(
        &mut self,
        slot: u32,
        f: impl FnOnce(&mut Binding) -> R,
    ) -> Result<Option<R>, TableError> {
        let pending_full = self.pending >= self.max_pending;
        let Some(cur) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return Ok(None);
        };
        let old = Keys::of(cur);
        // Only a change that adds a pending request can be refused: keep a copy to undo it then.
        let backup = (pending_full && cur.pending.is_none()).then(|| cur.clone());
        let r = f(cur);
        if let Some(backup) = backup
            && cur.pending.is_some()
        {
            *cur = backup;
            return Err(TableError::Full(Table::Pending));
        }
        let new = Keys::of(cur);
        if old.home != new.home || old.nai != new.nai {
            if let Some(b) = self.get(slot).cloned() {
                self.unindex_keys(slot, old.home, old.nai.as_deref());
                self.index(slot, &b);
            }
        }
        if old.second_ha != new.second_ha {
            self.disown(old.second_ha);
            self.own(new.second_ha);
        }
        match (old.pending.is_some(), new.pending.is_some()) {
            (false, true) => self.pending += 1,
            (true, false) => self.pending -= 1,
            _ => {}
        }
        if old.pending != new.pending {
            self.timers.want(slot, Kind::Pending, new.pending);
        }
        if old.expires != new.expires {
            self.timers.want(slot, Kind::Lifetime, new.expires);
        }
        Ok(Some(r))
    }

    /// Removes the binding in `slot`, cancelling its timers.
    pub fn remove(&mut self, slot: u32) -> Option<Binding> {
        let b = self.slots.get_mut(slot as usize)?.take()?;
        self.unindex(slot, &b);
        self.disown(b.second_ha);
        if b.pending.is_some() {
            self.pending -= 1;
        }
        // Its timers are left to surface and find the slot empty (or reused: they then check the
        // new binding's real deadlines).
        self.free.push(slot);
        self.len -= 1;
        Some(b)
    }

    /// The next expiry due at `now`, applied to the table. Call until `None`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Expiry> {
        loop {
            let (slot, kind) = self.timers.pop(now)?;
            let Some(b) = self.get(slot) else { continue };
            // A lazily re-armed timer: the binding's real deadline, if later, is armed again.
            let real = match kind {
                Kind::Pending => b.pending.as_ref().map(|p| p.deadline),
                Kind::Lifetime => b.expires(),
            };
            match real {
                None => continue,
                Some(d) if d > now => {
                    self.timers.want(slot, kind, Some(d));
                    continue;
                }
                Some(_) => {}
            }
            match kind {
                Kind::Pending => {
                    if b.care_of.is_empty() {
                        return self.remove(slot).map(Expiry::TemporaryFreed);
                    }
                    let _ = self.update(slot, |b| b.pending = None);
                    return Some(Expiry::PendingCleared(slot));
                }
                Kind::Lifetime => {
                    let remaining = b
                        .care_of
                        .iter()
                        .filter(|c| c.expires.is_none_or(|e| e > now))
                        .count();
                    if remaining == 0 && b.pending.is_none() {
                        return self.remove(slot).map(Expiry::LifetimeEnded);
                    }
                    let expired = b
                        .care_of
                        .iter()
                        .filter(|c| c.expires.is_some_and(|e| e <= now))
                        .map(|c| c.address)
                        .collect();
                    let _ = self.update(slot, |b| {
                        b.care_of.retain(|c| c.expires.is_none_or(|e| e > now))
                    });
                    return Some(Expiry::CareOfExpired { slot, expired });
                }
            }
        }
    }

    fn index(&mut self, slot: u32, b: &Binding) {
        if !b.home_address.is_unspecified() {
            self.by_home.insert(b.home_address, slot);
        }
        if let Some(n) = &b.nai {
            self.by_nai.insert(n.clone(), slot);
        }
    }

    fn unindex(&mut self, slot: u32, b: &Binding) {
        self.unindex_keys(slot, b.home_address, b.nai.as_deref());
    }

    fn unindex_keys(&mut self, slot: u32, home: Ipv4Addr, nai: Option<&[u8]>) {
        if !home.is_unspecified() && self.by_home.get(&home) == Some(&slot) {
            self.by_home.remove(&home);
        }
        if let Some(n) = nai
            && self.by_nai.get(n) == Some(&slot)
        {
            self.by_nai.remove(n);
        }
    }

    fn arm(&mut self, slot: u32, b: &Binding) {
        self.timers
            .want(slot, Kind::Pending, b.pending.as_ref().map(|p| p.deadline));
        self.timers.want(slot, Kind::Lifetime, b.expires());
    }
}

#[cfg(test)]
mod tests;
