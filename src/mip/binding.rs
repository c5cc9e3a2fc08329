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
//! binding's expiry later, an answered request, or a new pending request (deadlines only move on)
//! touches no heap entry; the old entry, when it comes due, finds the binding's real deadline and
//! is pushed again at it (or dropped). So the steady state of mobile nodes re-registering before
//! their lifetimes end costs no heap operation, and [`BindingTable::next_deadline`] may be earlier
//! than the next real expiry (a wake-up that finds nothing due is a no-op).
//!
//! Bounds: at most `max_bindings` bindings and `max_pending` pending requests;
//! [`BindingTable::insert`] refuses beyond them ([`TableError`]) and never evicts a live binding.
//! The Home Agent answers a refusal with reply code 130 (insufficient resources).

mod tunnel;

pub use tunnel::{BroadcastDelivery, Encapsulation, Tunnel, TunnelParams, UdpInner};

use crate::health::NodeId;
use arrayvec::ArrayVec;
use hashbrown::HashTable;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

/// One granted care-of address: 12 octets, aligned to 4 (its expiry kept as nanoseconds from a
/// process-wide epoch, in two 4-octet words), so that a binding with one care-of address fits
/// in one 64-octet slot of the table.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CareOf {
    /// The care-of address.
    pub address: Ipv4Addr,
    /// When it expires: a [`Tick`] in two words (high, low); 0: infinite lifetime.
    expires: [u32; 2],
}

impl CareOf {
    /// The care-of address `address`, expiring at `expires` (`None`: infinite lifetime, RFC
    /// 5944 section 3.8.2: a requested lifetime of 0xffff). Kept to the nanosecond (exactly the
    /// instant given, within about 292 years of the first deadline the process stored).
    pub fn new(address: Ipv4Addr, expires: Option<Instant>) -> CareOf {
        let t = expires.map_or(0, tick_of);
        CareOf {
            address,
            expires: [(t >> 32) as u32, t as u32],
        }
    }

    /// When it expires (`None`: infinite lifetime).
    pub fn expires(&self) -> Option<Instant> {
        match self.tick() {
            0 => None,
            t => instant_of(t),
        }
    }

    /// The expiry as a tick (0: infinite), ordered as the instants are.
    fn tick(&self) -> Tick {
        u64::from(self.expires[0]) << 32 | u64::from(self.expires[1])
    }

    /// Whether it is still granted at the tick `now` (infinite, or expiring after it).
    fn live_at(&self, now: Tick) -> bool {
        let t = self.tick();
        t == 0 || t > now
    }
}

impl std::fmt::Debug for CareOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CareOf")
            .field("address", &self.address)
            .field("expires", &self.expires())
            .finish()
    }
}

/// The granted care-of addresses of a binding: at most [`MAX_SIMULTANEOUS`]. One care-of
/// address (the common case) is held inline, in the binding itself; only simultaneous bindings
/// (RFC 5944 section 3.6.1.3, the S bit) hold theirs in one small heap block.
#[derive(Clone, Default)]
pub struct CareOfs(Held);

/// How [`CareOfs`] holds its entries: never `Many` with fewer than two.
#[derive(Clone, Default)]
enum Held {
    #[default]
    Empty,
    One(CareOf),
    Many(Box<ArrayVec<CareOf, MAX_SIMULTANEOUS>>),
}

impl PartialEq for CareOfs {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CareOfs {}

impl std::fmt::Debug for CareOfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CareOfs").field(&self.as_slice()).finish()
    }
}

impl CareOfs {
    /// The entries, as a slice.
    pub fn as_slice(&self) -> &[CareOf] {
        match &self.0 {
            Held::Empty => &[],
            Held::One(c) => std::slice::from_ref(c),
            Held::Many(v) => v.as_slice(),
        }
    }

    fn as_mut_slice(&mut self) -> &mut [CareOf] {
        match &mut self.0 {
            Held::Empty => &mut [],
            Held::One(c) => std::slice::from_mut(c),
            Held::Many(v) => v.as_mut_slice(),
        }
    }

    /// Holds exactly `v` (reusing the heap block of a simultaneous binding that stays one).
    fn set(&mut self, v: ArrayVec<CareOf, MAX_SIMULTANEOUS>) {
        match (v.as_slice(), &mut self.0) {
            ([], _) => self.0 = Held::Empty,
            ([c], _) => self.0 = Held::One(*c),
            (_, Held::Many(b)) => **b = v,
            _ => self.0 = Held::Many(Box::new(v)),
        }
    }

    fn edit(&mut self, f: impl FnOnce(&mut ArrayVec<CareOf, MAX_SIMULTANEOUS>)) {
        let mut v: ArrayVec<CareOf, MAX_SIMULTANEOUS> = self.iter().copied().collect();
        f(&mut v);
        self.set(v);
    }
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0 = Held::Empty;
    }
    /// Keeps the entries for which `f` holds.
    pub fn retain(&mut self, mut f: impl FnMut(&CareOf) -> bool) {
        self.edit(|v| v.retain(|c| f(c)));
    }
    /// Appends an entry (ignored when full).
    pub fn push(&mut self, c: CareOf) {
        self.edit(|v| {
            let _ = v.try_push(c);
        });
    }
    /// Makes `c` the only entry (in place: a re-registration allocates nothing).
    pub fn set_single(&mut self, c: CareOf) {
        self.0 = Held::One(c);
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
        self.as_slice().len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        matches!(self.0, Held::Empty)
    }
    /// Whether [`MAX_SIMULTANEOUS`] entries are held.
    pub fn is_full(&self) -> bool {
        self.len() >= MAX_SIMULTANEOUS
    }
    /// The entries.
    pub fn iter(&self) -> std::slice::Iter<'_, CareOf> {
        self.as_slice().iter()
    }
    /// The entries, mutably.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, CareOf> {
        self.as_mut_slice().iter_mut()
    }
    /// The first entry.
    pub fn first(&self) -> Option<&CareOf> {
        self.as_slice().first()
    }

    /// The earliest expiry of the entries as a tick (0: none, or all infinite). The binding
    /// table reads it twice per change of a binding ([`BindingTable::update`]): one care-of
    /// address (the common case) is read directly, not through a generic minimum over a slice.
    fn earliest(&self) -> Tick {
        match &self.0 {
            Held::Empty => 0,
            Held::One(c) => c.tick(),
            Held::Many(v) => v
                .iter()
                .map(CareOf::tick)
                .filter(|&t| t != 0)
                .min()
                .unwrap_or(0),
        }
    }
}

impl FromIterator<CareOf> for CareOfs {
    fn from_iter<I: IntoIterator<Item = CareOf>>(it: I) -> Self {
        let mut c = CareOfs::default();
        c.set(it.into_iter().take(MAX_SIMULTANEOUS).collect());
        c
    }
}

/// What the first HA has relayed so far for a forwarded request.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
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
    /// Where the relayed reply leaves from: the address and UDP port the request was sent to
    /// (RFC 5944 section 3.8.3.1: the reply's IP source and UDP source port are copied from the
    /// request's destination); the virtual address and port 434 for a pending request
    /// replicated from another HA (its record does not carry them).
    pub reply_src: SocketAddrV4,
}

/// What a Home Agent knows about one mobile node: 56 octets (one care-of address inline), so
/// that a binding and its timer marks fill one 64-octet slot of the table, one cache line.
///
/// What few bindings have (an NAI, a request in flight, tunnel parameters other than plain
/// IP-in-IP from the virtual address) is kept in one heap block, read and changed through the
/// methods ([`Binding::nai`], [`Binding::pending`], [`Binding::tunnel_params`] and their
/// setters); the block exists only while one of them is set.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Binding {
    /// The home address (0.0.0.0 while a temporary binding waits for an assigned one).
    pub home_address: Ipv4Addr,
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
    /// The NAI, the pending request and the tunnel parameters (`None`: none of them).
    extra: Option<Box<Extra>>,
}

/// A binding's heap block, empty, handed over by [`Binding::take_pending_block`] for
/// [`Binding::set_pending_in`] to reuse.
#[derive(Debug)]
pub struct Block(Box<Extra>);

/// What few bindings have, boxed together in [`Binding`] (never all `None`, except in a
/// [`Block`]).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
struct Extra {
    nai: Option<Box<[u8]>>,
    pending: Option<Pending>,
    tunnel: Option<TunnelParams>,
}

impl Binding {
    /// A binding with no care-of address (temporary until one is granted), no NAI, no request
    /// in flight and no tunnel parameters.
    pub fn new(
        home_address: Ipv4Addr,
        first_ha: NodeId,
        second_ha: NodeId,
        fa: SocketAddrV4,
        identification: u64,
    ) -> Binding {
        Binding {
            home_address,
            first_ha,
            second_ha,
            fa,
            identification,
            care_of: CareOfs::default(),
            extra: None,
        }
    }

    /// Temporary or permanent.
    pub fn state(&self) -> BindingState {
        if self.care_of.is_empty() {
            BindingState::Temporary
        } else {
            BindingState::Permanent
        }
    }

    /// The earliest care-of expiry (`None`: no care-of address, or all infinite).
    pub fn expires(&self) -> Option<Instant> {
        match self.care_of.earliest() {
            0 => None,
            t => instant_of(t),
        }
    }

    /// The NAI, when the mobile node sent one (RFC 2794).
    pub fn nai(&self) -> Option<&[u8]> {
        self.extra.as_deref().and_then(|e| e.nai.as_deref())
    }

    /// Sets (or with `None` clears) the NAI.
    pub fn set_nai(&mut self, nai: Option<Box<[u8]>>) {
        self.edit_extra(|e| e.nai = nai);
    }

    /// The request in flight, if any.
    pub fn pending(&self) -> Option<&Pending> {
        self.extra.as_deref().and_then(|e| e.pending.as_ref())
    }

    /// The request in flight, if any, to change in place.
    pub fn pending_mut(&mut self) -> Option<&mut Pending> {
        self.extra.as_deref_mut().and_then(|e| e.pending.as_mut())
    }

    /// Sets (or with `None` clears) the request in flight.
    pub fn set_pending(&mut self, pending: Option<Pending>) {
        self.edit_extra(|e| e.pending = pending);
    }

    /// Clears the request in flight, returning it.
    pub fn take_pending(&mut self) -> Option<Pending> {
        self.extra.as_ref()?.pending.as_ref()?;
        let mut p = None;
        self.edit_extra(|e| p = e.pending.take());
        p
    }

    /// [`Binding::take_pending`], also handing over the binding's heap block when the request
    /// was all it held (for [`Binding::set_pending_in`] to reuse: a Home Agent forwarding and
    /// relaying requests then allocates nothing per request).
    pub fn take_pending_block(&mut self) -> (Option<Pending>, Option<Block>) {
        match self.extra.take() {
            Some(mut e) if e.nai.is_none() && e.tunnel.is_none() => {
                let p = e.pending.take();
                (p, Some(Block(e)))
            }
            e => {
                self.extra = e;
                (self.take_pending(), None)
            }
        }
    }

    /// [`Binding::set_pending`] with `Some(pending)`, in `block` when the binding has no heap
    /// block yet; returns `block` when it was not needed.
    pub fn set_pending_in(&mut self, pending: Pending, block: Option<Block>) -> Option<Block> {
        match (&mut self.extra, block) {
            (Some(e), block) => {
                e.pending = Some(pending);
                block
            }
            (None, Some(Block(mut e))) => {
                e.pending = Some(pending);
                self.extra = Some(e);
                None
            }
            (None, None) => {
                self.set_pending(Some(pending));
                None
            }
        }
    }

    /// The tunnel's parameters (`None`: plain IP-in-IP without reverse tunnelling from the
    /// virtual address).
    pub fn tunnel_params(&self) -> Option<&TunnelParams> {
        self.extra.as_deref().and_then(|e| e.tunnel.as_ref())
    }

    /// Sets (or with `None` clears) the tunnel's parameters.
    pub fn set_tunnel_params(&mut self, tunnel: Option<TunnelParams>) {
        self.edit_extra(|e| e.tunnel = tunnel);
    }

    /// Changes the boxed part with `f`: the block is made when `f` sets something and none
    /// exists, and freed when `f` leaves nothing in it.
    fn edit_extra(&mut self, f: impl FnOnce(&mut Extra)) {
        match &mut self.extra {
            Some(e) => {
                f(e);
                if e.nai.is_none() && e.pending.is_none() && e.tunnel.is_none() {
                    self.extra = None;
                }
            }
            None => {
                let mut e = Extra::default();
                f(&mut e);
                if e.nai.is_some() || e.pending.is_some() || e.tunnel.is_some() {
                    self.extra = Some(Box::new(e));
                }
            }
        }
    }

    /// The tunnel to `care_of` (one of the binding's care-of addresses), `virtual_address` the
    /// cluster's virtual home agent address (the local end when the binding keeps no
    /// parameters).
    pub fn tunnel(&self, virtual_address: Ipv4Addr, care_of: Ipv4Addr) -> Tunnel {
        self.tunnel_params()
            .copied()
            .unwrap_or(TunnelParams::plain(virtual_address))
            .tunnel(self.home_address, care_of)
    }
}

/// What [`BindingTable::refresh`] writes into a binding, and the keys it must already have.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refresh {
    /// The binding's home address (unchanged).
    pub(crate) home: Ipv4Addr,
    /// The binding's second HA (unchanged).
    pub(crate) second_ha: NodeId,
    /// The binding's one care-of address, with its new expiry.
    pub(crate) care_of: CareOf,
    /// The HA that received the request.
    pub(crate) first_ha: NodeId,
    /// Where replies go.
    pub(crate) fa: SocketAddrV4,
    /// The request's identification.
    pub(crate) identification: u64,
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

/// What [`BindingTable::update`] compares before and after a change (nothing allocated: the NAI
/// by its hash and address), the served tunnels' check included ([`Server::changed`]).
struct Keys {
    home: Ipv4Addr,
    second_ha: NodeId,
    nai: Option<(u64, usize, usize)>,
    pending: Option<Instant>,
    /// The earliest care-of expiry as a tick (0: none).
    expires: Tick,
    /// The care-of address of a binding with exactly one and no tunnel parameters (the common
    /// binding: one tunnel, plain IP-in-IP from the virtual address, to it); `None`: any other.
    plain_one: Option<Ipv4Addr>,
}

impl Keys {
    /// Inlined: [`BindingTable::update`] takes them twice per change, and as a call (a
    /// 70-octet value written through memory) they cost it about 58 instructions each. The
    /// heap block and the care-of addresses are each read once.
    #[inline(always)]
    fn of(b: &Binding, h: &Hasher) -> Keys {
        let (nai, pending, plain) = match b.extra.as_deref() {
            None => (None, None, true),
            Some(e) => (
                e.nai
                    .as_deref()
                    .map(|n| (h.hash_one(n), n.as_ptr() as usize, n.len())),
                e.pending.as_ref().map(|p| p.deadline),
                e.tunnel.is_none(),
            ),
        };
        let (expires, plain_one) = match &b.care_of.0 {
            Held::Empty => (0, None),
            Held::One(c) => (c.tick(), Some(c.address).filter(|_| plain)),
            Held::Many(_) => (b.care_of.earliest(), None),
        };
        Keys {
            home: b.home_address,
            second_ha: b.second_ha,
            nai,
            pending,
            expires,
            plain_one,
        }
    }
}

/// The two timers of a binding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
enum Kind {
    Pending = 0,
    Lifetime = 1,
}

impl Kind {
    fn of(bit: u32) -> Kind {
        if bit & 1 == 0 {
            Kind::Pending
        } else {
            Kind::Lifetime
        }
    }
}

/// A deadline as a tick: nanoseconds from the process's first deadline ([`EPOCH`]), signed,
/// mapped to `u64` in the same order (beyond about 292 years from it, saturated), never 0 (0
/// stands for "none" where a tick is optional, as in [`CareOf`]).
type Tick = u64;

/// The instant ticks count from: the first one made into a tick. One for the process, so that
/// a [`CareOf`] holds its expiry in 8 octets and still converts back on its own; any base gives
/// the same instants back and the same order, so which one it is changes no result.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// `i` as a tick.
fn tick_of(i: Instant) -> Tick {
    let base = *EPOCH.get_or_init(|| i);
    let off = if i >= base {
        i64::try_from(i.duration_since(base).as_nanos()).unwrap_or(i64::MAX)
    } else {
        i64::try_from(base.duration_since(i).as_nanos()).map_or(i64::MIN, |n| -n)
    };
    ((off as u64) ^ (1 << 63)).max(1)
}

/// An instant converted once, for the [`CareOf`] expiries some duration after it
/// ([`TickAt::care_of`]): the Home Agent converts a batch's `now` once, not at each binding it
/// writes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TickAt {
    at: Instant,
    /// `at`'s signed nanoseconds from [`EPOCH`] (saturated as in [`tick_of`]).
    off: i64,
}

impl TickAt {
    /// `at`, converted.
    pub(crate) fn new(at: Instant) -> TickAt {
        let off = (tick_of(at) ^ (1 << 63)) as i64;
        TickAt { at, off }
    }

    /// The instant converted.
    pub(crate) fn at(&self) -> Instant {
        self.at
    }

    /// `CareOf::new(address, Some(at + after))`, the same value (nanoseconds add exactly), with
    /// no conversion of the instant; converted as that does where a sum would saturate.
    /// Inlined (a call cost some 50 instructions), the rare saturating case out of line.
    #[inline]
    pub(crate) fn care_of(&self, address: Ipv4Addr, after: Duration) -> CareOf {
        // In 64 bits (not `as_nanos`'s 128).
        let sum = after
            .as_secs()
            .checked_mul(1_000_000_000)
            .and_then(|n| n.checked_add(u64::from(after.subsec_nanos())))
            .and_then(|n| i64::try_from(n).ok())
            .filter(|_| self.off > i64::MIN + 1 && self.off < i64::MAX)
            .and_then(|d| self.off.checked_add(d))
            .filter(|&s| s < i64::MAX);
        match sum {
            Some(s) => {
                let t = ((s as u64) ^ (1 << 63)).max(1);
                CareOf {
                    address,
                    expires: [(t >> 32) as u32, t as u32],
                }
            }
            None => self.care_of_converted(address, after),
        }
    }

    /// [`TickAt::care_of`] by [`CareOf::new`] itself.
    #[cold]
    #[inline(never)]
    fn care_of_converted(&self, address: Ipv4Addr, after: Duration) -> CareOf {
        CareOf::new(address, Some(self.at + after))
    }
}

/// The instant of tick `t`. [`tick_of`] made every tick there is, so the epoch is set; `None`
/// only were it not (the crate never reads the clock to make one up).
fn instant_of(t: Tick) -> Option<Instant> {
    let base = *EPOCH.get()?;
    let off = (t ^ (1 << 63)) as i64;
    let d = Duration::from_nanos(off.unsigned_abs());
    let i = if off >= 0 {
        base.checked_add(d)
    } else {
        base.checked_sub(d)
    };
    Some(i.unwrap_or(base))
}

/// A heap entry, 12 octets: a tick's high and low words, then the slot and the timer's kind
/// (`slot << 1 | kind`), ordered by tick, then slot.
type TimerEntry = (u32, u32, u32);

/// Deadlines of the slots' two timers, re-armed lazily (see the module docs), in 20 octets per
/// binding: a 12-octet heap entry here and two 4-octet marks in the binding's [`Slot`] (next to
/// the binding: re-arming a registered binding's timer reads no other table).
///
/// `slots[slot].armed[kind]` marks the one heap entry that stands for that timer (a fingerprint of its
/// tick, never 0; 0: none); other heap entries for it are stale and skipped when they surface.
/// The standing entry is never later than the binding's real deadline, so no expiry is missed;
/// a stale entry whose fingerprint happens to match is handled as the standing one, which only
/// checks the binding's real deadline early (and re-arms it). The heap is rebuilt from `armed`
/// when stale entries outnumber live ones, so it stays within about twice the armed timers.
#[derive(Debug, Default)]
struct SlotTimers {
    heap: BinaryHeap<Reverse<TimerEntry>>,
    live: usize,
    /// The latest deadline ever pushed for each timer kind: every heap entry of that kind is at
    /// or before it.
    high: Highs,
}

/// [`SlotTimers`]'s latest deadlines, each in the form its timer's deadline is read in (so that
/// a deadline that pushes nothing is compared, not converted).
#[derive(Debug, Default)]
struct Highs {
    pending: Option<Instant>,
    lifetime: Option<Tick>,
}

/// A timer's deadline as the table reads it: a pending request's as an [`Instant`], a
/// lifetime's as a [`Tick`] (as [`CareOf`] keeps it).
trait Due: Copy + Ord {
    const KIND: Kind;
    fn tick(self) -> Tick;
    fn high(h: &mut Highs) -> &mut Option<Self>;
}

impl Due for Instant {
    const KIND: Kind = Kind::Pending;
    fn tick(self) -> Tick {
        tick_of(self)
    }
    fn high(h: &mut Highs) -> &mut Option<Instant> {
        &mut h.pending
    }
}

impl Due for Tick {
    const KIND: Kind = Kind::Lifetime;
    fn tick(self) -> Tick {
        self
    }
    fn high(h: &mut Highs) -> &mut Option<Tick> {
        &mut h.lifetime
    }
}

/// One slot of the table: a binding (or none) and the marks of its two timers
/// ([`SlotTimers`]), side by side in one 64-octet cache line (the slot is aligned to it).
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct Slot {
    binding: Option<Binding>,
    /// The standing heap entry of each timer kind (a fingerprint of its tick; 0: none).
    armed: [u32; 2],
}

/// The mark of a standing entry at tick `t` (never 0).
fn fingerprint(t: Tick) -> u32 {
    ((t as u32) ^ ((t >> 32) as u32)) | 1
}

impl SlotTimers {
    /// The timer's real deadline became `deadline` (it was `was`): an entry is pushed only when
    /// none stands at or before it. Inlined, the common cases (no deadline; one no earlier than
    /// the old, with an entry standing) decided without a call: a refresh of a lifetime, or a
    /// pending request answered, on a registration's hot path.
    #[inline(always)]
    fn want<D: Due>(&mut self, slots: &mut [Slot], slot: u32, deadline: Option<D>, was: Option<D>) {
        let Some(d) = deadline else { return };
        if was.is_some_and(|w| w <= d)
            && slots
                .get(slot as usize)
                .is_some_and(|s| s.armed[D::KIND as usize] != 0)
        {
            return;
        }
        self.want_at(slots, slot, d, was);
    }

    /// [`SlotTimers::want`] with a deadline `d`, beyond its common cases.
    #[inline(never)]
    fn want_at<D: Due>(&mut self, slots: &mut [Slot], slot: u32, d: D, was: Option<D>) {
        let kind = D::KIND;
        let Some(a) = slots
            .get_mut(slot as usize)
            .map(|s| &mut s.armed[kind as usize])
        else {
            return;
        };
        // The standing entry is no later than the old deadline, which is no later than this
        // one; nor than the latest deadline ever pushed for its kind, when this one is at or
        // after it (a first HA's pending timer, set again for each forwarded request of a mobile
        // node, keeps its first entry: deadlines only move on).
        let high = D::high(&mut self.high);
        if *a != 0 && (was.is_some_and(|w| w <= d) || high.is_some_and(|h| h <= d)) {
            return;
        }
        if high.is_none_or(|h| h < d) {
            *high = Some(d);
        }
        let t = d.tick();
        if *a == 0 {
            self.live += 1;
        }
        *a = fingerprint(t);
        self.heap.push(Reverse((
            (t >> 32) as u32,
            t as u32,
            slot << 1 | kind as u32,
        )));
        if self.heap.len() > 2 * self.live + 64 {
            self.rebuild(slots);
        }
    }

    /// Drops the stale entries: O(heap), which is at most about twice the armed timers (not
    /// O(slots): a table of mostly infinite lifetimes has far more slots than timers).
    fn rebuild(&mut self, slots: &[Slot]) {
        let mut v = std::mem::take(&mut self.heap).into_vec();
        v.retain(|Reverse((hi, lo, sk))| {
            let t = u64::from(*hi) << 32 | u64::from(*lo);
            slots
                .get((sk >> 1) as usize)
                .is_some_and(|s| s.armed[(sk & 1) as usize] == fingerprint(t))
        });
        self.heap = BinaryHeap::from(v);
    }

    fn next_deadline(&self) -> Option<Instant> {
        let Reverse((hi, lo, _)) = self.heap.peek()?;
        instant_of(u64::from(*hi) << 32 | u64::from(*lo))
    }

    /// The next armed timer due at `now`, disarmed.
    fn pop(&mut self, slots: &mut [Slot], n: Tick) -> Option<(u32, Kind)> {
        loop {
            let &Reverse((hi, lo, sk)) = self.heap.peek()?;
            let t = u64::from(hi) << 32 | u64::from(lo);
            if t > n {
                return None;
            }
            self.heap.pop();
            let (slot, kind) = (sk >> 1, Kind::of(sk));
            let Some(a) = slots
                .get_mut(slot as usize)
                .map(|s| &mut s.armed[kind as usize])
            else {
                continue;
            };
            if *a == fingerprint(t) {
                *a = 0;
                self.live -= 1;
                return Some((slot, kind));
            }
        }
    }

    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// Whose tunnels a [`BindingTable`] reports: those of the bindings a home agent (`node`) serves
/// and can serve (RFC 5944 section 3.8.3: the home agent tunnels to every care-of address of the
/// bindings it serves), one per care-of address, with the cluster's virtual address as the local
/// end of a binding that keeps no tunnel parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Server {
    node: NodeId,
    vip: Ipv4Addr,
    offered: crate::mip::TunnelConfig,
    /// Plain IP-in-IP from `vip` is offered (a binding without parameters).
    plain: bool,
}

/// A served tunnel that came or went with a change of the [`BindingTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TunnelChange {
    /// The home agent serves this tunnel now; its care-of address expires at `expires`
    /// (`None`: infinite lifetime).
    Added {
        /// The tunnel.
        tunnel: Tunnel,
        /// Its care-of address's expiry.
        expires: Option<Instant>,
    },
    /// The home agent no longer serves this tunnel.
    Removed(Tunnel),
}

/// A served binding's tunnels before a change (nothing allocated; the care-of addresses in a
/// fixed array, `n` of them).
#[derive(Clone, Copy, Debug)]
struct Served {
    home: Ipv4Addr,
    params: Option<TunnelParams>,
    n: usize,
    care_of: [Ipv4Addr; MAX_SIMULTANEOUS],
}

impl Server {
    /// The tunnels of the bindings `node` serves, `offered` the tunnels it offers.
    pub(crate) fn new(node: NodeId, vip: Ipv4Addr, offered: crate::mip::TunnelConfig) -> Server {
        let plain = offered.serves(&TunnelParams::plain(vip));
        Server {
            node,
            vip,
            offered,
            plain,
        }
    }

    /// Whether `b` is served here: `node` is its server and its tunnel is offered (a binding
    /// taken over with a tunnel not offered here awaits revocation, RFC 3543 section 4.1).
    #[inline(always)]
    pub(crate) fn serves(&self, b: &Binding) -> bool {
        b.second_ha == self.node
            && b.tunnel_params()
                .map_or(self.plain, |p| self.offered.serves(p))
    }

    /// `b`'s tunnels, in full: `None` when it is not served.
    fn tunnels_of(&self, b: &Binding) -> Option<Served> {
        if !self.serves(b) {
            return None;
        }
        let held = b.care_of.as_slice();
        let mut care_of = [Ipv4Addr::UNSPECIFIED; MAX_SIMULTANEOUS];
        for (a, c) in care_of.iter_mut().zip(held) {
            *a = c.address;
        }
        Some(Served {
            home: b.home_address,
            params: b.tunnel_params().copied(),
            n: held.len(),
            care_of,
        })
    }

    /// Before a change of `b` (`old` its [`Keys`]): a full copy of its tunnels in `scratch`
    /// when `old` does not tell them (a binding served here with several care-of addresses or
    /// tunnel parameters). Inlined, as [`Server::changed`]: [`BindingTable::update`] takes both
    /// at each change, on a registration's hot path.
    #[inline(always)]
    fn before(&self, old: &Keys, b: &Binding, scratch: &mut Option<Served>) {
        if old.second_ha == self.node && old.plain_one.is_none() {
            self.copy_tunnels(b, scratch);
        }
    }

    /// [`Server::before`] beyond the common case.
    #[cold]
    #[inline(never)]
    fn copy_tunnels(&self, b: &Binding, scratch: &mut Option<Served>) {
        *scratch = self.tunnels_of(b);
    }

    /// Records in `out` what a change of a binding did to the tunnels served (`old` its
    /// [`Keys`] before, `new` after, `scratch` the full copy [`Server::before`] made, `b` the
    /// binding after). Two common changes are told by the keys alone and record nothing,
    /// allocate nothing: a change of a binding served elsewhere before and after (a first HA's
    /// replica), and a refresh of a binding served here at the same care-of address with the
    /// same tunnel (plain IP-in-IP, one care-of address, the same home address and server).
    #[inline(always)]
    fn changed(
        &self,
        old: &Keys,
        new: &Keys,
        scratch: &mut Option<Served>,
        b: &Binding,
        out: &mut Vec<TunnelChange>,
    ) {
        let (was_here, is_here) = (old.second_ha == self.node, new.second_ha == self.node);
        if !was_here && !is_here {
            return;
        }
        if was_here
            && is_here
            && old.plain_one.is_some()
            && old.plain_one == new.plain_one
            && old.home == new.home
        {
            return;
        }
        self.changed_from(old.second_ha, old.home, old.plain_one, scratch, b, out);
    }

    /// [`Server::changed`] beyond the common cases: what was served before (`second_ha`, `home`
    /// and `plain_one` from the keys before the change; else the full copy), compared in full.
    #[cold]
    #[inline(never)]
    fn changed_from(
        &self,
        second_ha: NodeId,
        home: Ipv4Addr,
        plain_one: Option<Ipv4Addr>,
        scratch: &mut Option<Served>,
        b: &Binding,
        out: &mut Vec<TunnelChange>,
    ) {
        let was = if second_ha != self.node {
            None
        } else if let Some(a) = plain_one {
            self.plain.then_some(Served {
                home,
                params: None,
                n: 1,
                care_of: [
                    a,
                    Ipv4Addr::UNSPECIFIED,
                    Ipv4Addr::UNSPECIFIED,
                    Ipv4Addr::UNSPECIFIED,
                ],
            })
        } else {
            scratch.take()
        };
        self.changed_in_full(was, b, out);
    }

    /// [`Server::changed`] beyond the common case: the tunnels compared in full.
    #[cold]
    #[inline(never)]
    fn changed_in_full(&self, was: Option<Served>, b: &Binding, out: &mut Vec<TunnelChange>) {
        let now = self.serves(b);
        if let Some(w) = &was
            && now
            && w.home == b.home_address
            && w.params.as_ref() == b.tunnel_params()
        {
            let held = b.care_of.as_slice();
            if held.len() == w.n && held.iter().zip(&w.care_of).all(|(c, a)| c.address == *a) {
                return;
            }
        }
        self.diff(was, now.then_some(b), out);
    }

    /// Records in `out` the tunnels of `was` that `now` (a served binding, or `None`) does
    /// not have, then those of `now` that `was` did not: removals first, each tunnel once.
    #[cold]
    #[inline(never)]
    fn diff(&self, was: Option<Served>, now: Option<&Binding>, out: &mut Vec<TunnelChange>) {
        let now = now.filter(|b| self.serves(b));
        let before: ArrayVec<Tunnel, MAX_SIMULTANEOUS> = was
            .map(|w| {
                let p = w.params.unwrap_or(TunnelParams::plain(self.vip));
                w.care_of[..w.n]
                    .iter()
                    .map(|a| p.tunnel(w.home, *a))
                    .collect()
            })
            .unwrap_or_default();
        let after: ArrayVec<(Tunnel, Option<Instant>), MAX_SIMULTANEOUS> = now
            .map(|b| {
                b.care_of
                    .iter()
                    .map(|c| (b.tunnel(self.vip, c.address), c.expires()))
                    .collect()
            })
            .unwrap_or_default();
        for t in &before {
            if !after.iter().any(|(a, _)| a == t) {
                out.push(TunnelChange::Removed(*t));
            }
        }
        for (t, expires) in &after {
            if !before.contains(t) {
                out.push(TunnelChange::Added {
                    tunnel: *t,
                    expires: *expires,
                });
            }
        }
    }
}

/// The hasher of the table's indexes: foldhash, seeded by the caller (the Home Agent's RNG), so
/// lookups cost a few nanoseconds instead of SipHash's tens. The keys it hashes are those of
/// authenticated mobile nodes, assigned addresses and cluster replicas.
pub type Hasher = foldhash::fast::FixedState;

/// What [`BindingTable::pop_expired`] reports.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
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
///
/// Memory: a binding is held in its slot, 64 octets aligned to a cache line (a 56-octet
/// [`Binding`] with one care-of address inline, and its two 4-octet timer marks); the indexes
/// hold only slot numbers (4 octets per entry, the keys read from the slots), and the timers a
/// 12-octet heap entry per armed timer.
#[derive(Debug)]
pub struct BindingTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots by their binding's home address (hashed with `hasher`).
    by_home: HashTable<u32>,
    /// Slots by their binding's NAI.
    by_nai: HashTable<u32>,
    hasher: Hasher,
    timers: SlotTimers,
    max_bindings: usize,
    max_pending: usize,
    pending: usize,
    len: usize,
    /// Bindings per second HA (the HA that serves them), kept with every change so an HA's load
    /// (the bindings it serves, not the replicas it holds) is read in O(1).
    owners: HashMap<NodeId, usize, Hasher>,
    /// Changes of `owners` so far ([`BindingTable::owners_changes`]).
    owners_changes: u64,
    /// Bindings whose home address the home index does not name them under: another binding
    /// indexed later took it ([`BindingTable::index`]). While there are any, a slot hint is not
    /// trusted ([`BindingTable::find_hinted`]).
    shadowed: usize,
    /// Whose tunnels the table reports ([`BindingTable::report_tunnels_of`]): `None`, none.
    server: Option<Server>,
    /// The served tunnels that came or went with the changes since they were last taken
    /// ([`BindingTable::take_tunnel_changes`]).
    changes: Vec<TunnelChange>,
    /// A binding's served tunnels before a change, beyond the common case ([`Server::before`]).
    scratch: Option<Served>,
    /// Lookups by key so far ([`BindingTable::find`]): the Home Agent's tests count them.
    #[cfg(test)]
    finds: std::cell::Cell<u64>,
}

/// The most slots a table holds (a slot number and a timer's kind share a 32-bit word).
const MAX_SLOTS: usize = 1 << 31;

/// The home address of the binding in `slot` of `slots`.
fn home_of(slots: &[Slot], slot: u32) -> Option<Ipv4Addr> {
    slots
        .get(slot as usize)
        .and_then(|s| s.binding.as_ref())
        .map(|b| b.home_address)
}

/// The NAI of the binding in `slot` of `slots`.
fn nai_of(slots: &[Slot], slot: u32) -> Option<&[u8]> {
    slots
        .get(slot as usize)
        .and_then(|s| s.binding.as_ref())
        .and_then(|b| b.nai())
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
            by_home: HashTable::new(),
            by_nai: HashTable::new(),
            hasher: h.clone(),
            timers: SlotTimers::default(),
            max_bindings,
            max_pending,
            pending: 0,
            len: 0,
            owners: HashMap::with_hasher(h),
            owners_changes: 0,
            shadowed: 0,
            server: None,
            changes: Vec::new(),
            scratch: None,
            #[cfg(test)]
            finds: std::cell::Cell::new(0),
        }
    }

    /// Lookups by key so far ([`BindingTable::find`]).
    #[cfg(test)]
    pub(crate) fn finds(&self) -> u64 {
        self.finds.get()
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

    /// How many times a count of [`BindingTable::owned_by`] has changed so far: while it stays
    /// the same, so does every HA's count (the Home Agent then knows its load is unchanged).
    pub(crate) fn owners_changes(&self) -> u64 {
        self.owners_changes
    }

    fn own(&mut self, node: NodeId) {
        self.owners_changes = self.owners_changes.wrapping_add(1);
        *self.owners.entry(node).or_insert(0) += 1;
    }

    fn disown(&mut self, node: NodeId) {
        self.owners_changes = self.owners_changes.wrapping_add(1);
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
        #[cfg(test)]
        self.finds.set(self.finds.get() + 1);
        self.find_uncounted(home_address, nai)
    }

    /// [`BindingTable::find`], with `hint` a slot the caller kept from an earlier lookup of
    /// `home_address` (the Home Agent keeps one beside each mobile node's security association):
    /// the hint is returned without probing the home index when it is exactly what `find` would
    /// return, else `find`'s answer. The table stays authoritative: a hint is trusted only when
    /// its slot holds a binding with this (specified) home address and every binding with a home
    /// address is the one the home index names under it (no binding shadowed by another with the
    /// same address), so the index names this slot; a stale or wrong hint costs the lookup.
    pub(crate) fn find_hinted(
        &self,
        hint: Option<u32>,
        home_address: Ipv4Addr,
        nai: Option<&[u8]>,
    ) -> Option<u32> {
        #[cfg(test)]
        self.finds.set(self.finds.get() + 1);
        match hint {
            Some(s) if self.hint_holds(s, home_address) => Some(s),
            _ => self.find_uncounted(home_address, nai),
        }
    }

    /// Whether `find(home_address, _)` is `slot` (see [`BindingTable::find_hinted`]).
    fn hint_holds(&self, slot: u32, home_address: Ipv4Addr) -> bool {
        self.shadowed == 0
            && !home_address.is_unspecified()
            && home_of(&self.slots, slot) == Some(home_address)
    }

    fn find_uncounted(&self, home_address: Ipv4Addr, nai: Option<&[u8]>) -> Option<u32> {
        let slots = &self.slots;
        if !home_address.is_unspecified()
            && let Some(s) = self.by_home.find(self.hasher.hash_one(home_address), |&s| {
                home_of(slots, s) == Some(home_address)
            })
        {
            return Some(*s);
        }
        let n = nai?;
        self.by_nai
            .find(self.hasher.hash_one(n), |&s| nai_of(slots, s) == Some(n))
            .copied()
    }

    /// Reads the binding for this home address (or NAI) and its timer marks, as
    /// [`BindingTable::find`] and the handling of a registration will: a read-ahead, so that a
    /// batch's lookups, issued one after another, wait for memory together rather than one by one.
    /// Returns a value made of what was read (for the caller to keep the reads from being left
    /// out, [`std::hint::black_box`]); changes nothing.
    /// `hint`: as for [`BindingTable::find_hinted`].
    pub(crate) fn read_ahead(
        &self,
        hint: Option<u32>,
        home_address: Ipv4Addr,
        nai: Option<&[u8]>,
    ) -> u64 {
        let Some(s) = self.find_hinted(hint, home_address, nai) else {
            return 0;
        };
        let Some(slot) = self.slots.get(s as usize) else {
            return 0;
        };
        // Fields from both ends of the slot (the marks are its last octets): its cache line.
        let marks = u64::from(slot.armed[0]) ^ u64::from(slot.armed[1]);
        slot.binding.as_ref().map_or(marks, |b| {
            let coa = b.care_of.first().map_or(0, |c| u32::from(c.address));
            marks ^ b.identification ^ u64::from(coa)
        })
    }

    /// The binding in `slot`.
    pub fn get(&self, slot: u32) -> Option<&Binding> {
        self.slots
            .get(slot as usize)
            .and_then(|s| s.binding.as_ref())
    }

    /// Every binding with its slot.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Binding)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.binding.as_ref().map(|b| (i as u32, b)))
    }

    /// The first occupied slot at or after `from` (a cursor for walking the table in steps).
    pub fn next_slot(&self, from: u32) -> Option<u32> {
        let start = from as usize;
        self.slots
            .get(start..)?
            .iter()
            .position(|s| s.binding.is_some())
            .map(|i| (start + i) as u32)
    }

    /// The earliest timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// From now on the table reports the tunnels of the bindings `server` serves as they come
    /// and go ([`BindingTable::tunnel_changes`]): every insert, update and removal (an expiry
    /// included) compares the binding's served tunnels before and after, so no path that changes
    /// a binding can change what is served without its report.
    pub(crate) fn report_tunnels_of(&mut self, server: Server) {
        self.server = Some(server);
    }

    /// Whether the binding `b` is served by the table's server ([`Server::serves`]).
    pub(crate) fn serves(&self, b: &Binding) -> bool {
        self.server.as_ref().is_some_and(|s| s.serves(b))
    }

    /// The served tunnels that came or went since the last call, in order, moved into `into`
    /// (emptied first; the table keeps `into`'s old buffer, so neither allocates again).
    pub(crate) fn take_tunnel_changes(&mut self, into: &mut Vec<TunnelChange>) {
        into.clear();
        std::mem::swap(into, &mut self.changes);
    }

    /// Whether a served tunnel came or went since the changes were last taken.
    #[inline]
    pub(crate) fn has_tunnel_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Adds a binding. Refused beyond the bounds; nothing changes then.
    pub fn insert(&mut self, b: Binding) -> Result<u32, TableError> {
        if self.len >= self.max_bindings {
            return Err(TableError::Full(Table::Bindings));
        }
        if b.pending().is_some() && self.pending >= self.max_pending {
            return Err(TableError::Full(Table::Pending));
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None if self.slots.len() < MAX_SLOTS => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
            None => return Err(TableError::Full(Table::Bindings)),
        };
        self.len += 1;
        self.own(b.second_ha);
        if b.pending().is_some() {
            self.pending += 1;
        }
        if let Some(s) = &self.server
            && s.serves(&b)
        {
            s.diff(None, Some(&b), &mut self.changes);
        }
        self.arm(slot, &b);
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.binding = Some(b);
        }
        self.index(slot);
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
        let Some(cur) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.binding.as_mut())
        else {
            return Ok(None);
        };
        let old = Keys::of(cur, &self.hasher);
        // Only a change that adds a pending request can be refused: keep a copy to undo it then.
        let backup = (pending_full && cur.pending().is_none()).then(|| cur.clone());
        if let Some(s) = &self.server {
            s.before(&old, cur, &mut self.scratch);
        }
        let r = f(cur);
        if let Some(backup) = backup
            && cur.pending().is_some()
        {
            *cur = backup;
            self.scratch = None;
            return Err(TableError::Full(Table::Pending));
        }
        let new = Keys::of(cur, &self.hasher);
        if let Some(s) = &self.server {
            s.changed(&old, &new, &mut self.scratch, cur, &mut self.changes);
        }
        // Each key compared once (no comparison of the whole first: a refresh changes the
        // expiry, so it would be made twice).
        if old.home != new.home || old.nai != new.nai {
            self.unindex_keys(slot, old.home, old.nai.map(|(h, _, _)| h));
            self.index(slot);
        }
        if old.second_ha != new.second_ha {
            self.disown(old.second_ha);
            self.own(new.second_ha);
        }
        if old.pending != new.pending {
            match (old.pending.is_some(), new.pending.is_some()) {
                (false, true) => self.pending += 1,
                (true, false) => self.pending -= 1,
                _ => {}
            }
            self.timers
                .want(&mut self.slots, slot, new.pending, old.pending);
        }
        if old.expires != new.expires {
            let some = |t: Tick| Some(t).filter(|&t| t != 0);
            self.timers
                .want(&mut self.slots, slot, some(new.expires), some(old.expires));
        }
        Ok(Some(r))
    }

    /// Re-registers the binding in `slot` in place when that changes nothing but its first HA,
    /// its foreign agent, its identification and the expiry of its one care-of address: the
    /// binding has exactly the home address `r.home`, the second HA `r.second_ha` and the one
    /// care-of address `r.care_of.address`, and no NAI, pending request or tunnel parameters
    /// (none kept, none to keep). Its indexes, its server, its pending count and the tunnels
    /// it is served with (RFC 5944 section 3.8.3: a tunnel per care-of address of a served
    /// binding, the same before and after) stay; only the lifetime timer moves. Returns whether
    /// it did; when not, nothing changed (the caller makes the change with
    /// [`BindingTable::update`]). The common registration, a mobile node re-registering
    /// before its lifetime ends, through this: it needs no before-and-after comparison.
    pub(crate) fn refresh(&mut self, slot: u32, r: &Refresh) -> bool {
        let Some(b) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.binding.as_mut())
        else {
            return false;
        };
        let Held::One(c) = &mut b.care_of.0 else {
            return false;
        };
        if c.address != r.care_of.address
            || b.home_address != r.home
            || b.second_ha != r.second_ha
            || b.extra.is_some()
        {
            return false;
        }
        let (old, new) = (c.tick(), r.care_of.tick());
        *c = r.care_of;
        b.first_ha = r.first_ha;
        b.fa = r.fa;
        b.identification = r.identification;
        if old != new {
            let some = |t: Tick| Some(t).filter(|&t| t != 0);
            self.timers
                .want(&mut self.slots, slot, some(new), some(old));
        }
        true
    }

    /// Removes the binding in `slot`, cancelling its timers.
    pub fn remove(&mut self, slot: u32) -> Option<Binding> {
        let b = self.slots.get_mut(slot as usize)?.binding.take()?;
        if let Some(s) = &self.server
            && let Some(was) = s.tunnels_of(&b)
        {
            s.diff(Some(was), None, &mut self.changes);
        }
        self.unindex(slot, &b);
        self.disown(b.second_ha);
        if b.pending().is_some() {
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
        let n = tick_of(now);
        loop {
            let (slot, kind) = self.timers.pop(&mut self.slots, n)?;
            let Some(b) = self.get(slot) else { continue };
            // A lazily re-armed timer: the binding's real deadline, if later, is armed again.
            let real = match kind {
                Kind::Pending => b.pending().map(|p| p.deadline),
                Kind::Lifetime => Some(b.care_of.earliest())
                    .filter(|&t| t != 0)
                    .and_then(instant_of),
            };
            match real {
                None => continue,
                Some(d) if d > now => {
                    // Disarmed: armed again at the real deadline.
                    match kind {
                        Kind::Pending => self.timers.want(&mut self.slots, slot, Some(d), None),
                        Kind::Lifetime => {
                            self.timers
                                .want(&mut self.slots, slot, Some(tick_of(d)), None)
                        }
                    }
                    continue;
                }
                Some(_) => {}
            }
            match kind {
                Kind::Pending => {
                    if b.care_of.is_empty() {
                        return self.remove(slot).map(Expiry::TemporaryFreed);
                    }
                    let _ = self.update(slot, |b| b.set_pending(None));
                    return Some(Expiry::PendingCleared(slot));
                }
                Kind::Lifetime => {
                    let remaining = b.care_of.iter().filter(|c| c.live_at(n)).count();
                    if remaining == 0 && b.pending().is_none() {
                        return self.remove(slot).map(Expiry::LifetimeEnded);
                    }
                    let expired = b
                        .care_of
                        .iter()
                        .filter(|c| !c.live_at(n))
                        .map(|c| c.address)
                        .collect();
                    let _ = self.update(slot, |b| b.care_of.retain(|c| c.live_at(n)));
                    return Some(Expiry::CareOfExpired { slot, expired });
                }
            }
        }
    }

    /// Indexes the binding stored in `slot` by its home address and NAI (an entry for the same
    /// key now names this slot).
    fn index(&mut self, slot: u32) {
        let slots = &self.slots;
        let h = &self.hasher;
        let Some(b) = slots.get(slot as usize).and_then(|s| s.binding.as_ref()) else {
            return;
        };
        let home = b.home_address;
        if !home.is_unspecified() {
            let entry = self.by_home.entry(
                h.hash_one(home),
                |&s| home_of(slots, s) == Some(home),
                |&s| home_of(slots, s).map_or(0, |a| h.hash_one(a)),
            );
            match entry {
                hashbrown::hash_table::Entry::Occupied(mut e) => {
                    // The binding named so far keeps its home address, no longer indexed.
                    if std::mem::replace(e.get_mut(), slot) != slot {
                        self.shadowed += 1;
                    }
                }
                hashbrown::hash_table::Entry::Vacant(e) => {
                    e.insert(slot);
                }
            }
        }
        if let Some(n) = b.nai() {
            let entry = self.by_nai.entry(
                h.hash_one(n),
                |&s| nai_of(slots, s) == Some(n),
                |&s| nai_of(slots, s).map_or(0, |n| h.hash_one(n)),
            );
            match entry {
                hashbrown::hash_table::Entry::Occupied(mut e) => *e.get_mut() = slot,
                hashbrown::hash_table::Entry::Vacant(e) => {
                    e.insert(slot);
                }
            }
        }
    }

    fn unindex(&mut self, slot: u32, b: &Binding) {
        let nai = b.nai().map(|n| self.hasher.hash_one(n));
        self.unindex_keys(slot, b.home_address, nai);
    }

    /// Drops the index entries naming `slot` under home address `home` and the NAI hashed `nai`.
    fn unindex_keys(&mut self, slot: u32, home: Ipv4Addr, nai: Option<u64>) {
        if !home.is_unspecified() {
            match self
                .by_home
                .find_entry(self.hasher.hash_one(home), |&s| s == slot)
            {
                Ok(e) => {
                    e.remove();
                }
                // Not named under its home address: it was shadowed, and no longer is.
                Err(_) => self.shadowed = self.shadowed.saturating_sub(1),
            }
        }
        if let Some(h) = nai
            && let Ok(e) = self.by_nai.find_entry(h, |&s| s == slot)
        {
            e.remove();
        }
    }

    fn arm(&mut self, slot: u32, b: &Binding) {
        let pending = b.pending().map(|p| p.deadline);
        let expires = Some(b.care_of.earliest()).filter(|&t| t != 0);
        let slots = &mut self.slots;
        self.timers.want(slots, slot, pending, None);
        self.timers.want(slots, slot, expires, None);
    }
}

#[cfg(test)]
mod tests;
