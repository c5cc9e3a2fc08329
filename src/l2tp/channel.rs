//! The reliable control channel of one tunnel (RFC 2661 section 5.8 and Appendix A).
//!
//! * Ns/Nr are 16-bit and compared modulo 2^16 ([`seq_lt`]).
//! * Sending is limited by the peer's Receive Window Size and by a congestion window that starts
//!   at 1 (slow start: +1 per acknowledged message up to the slow-start threshold, then congestion
//!   avoidance: +1 per window of acknowledged messages); a retransmission timeout halves the
//!   threshold and resets the window to 1 (Appendix A).
//! * Received messages are delivered strictly in order; messages ahead of the next expected one
//!   but inside our receive window are queued (at most `max_out_of_order`, then dropped: the peer
//!   retransmits them). Duplicates are dropped and re-acknowledged.
//! * Acknowledgement: every message we send carries Nr; when a message must be acknowledged and
//!   nothing sent after processing it carried the Nr, [`Channel::flush_ack`] sends a ZLB. When
//!   the answer is known to follow shortly (an LNS's ICRP held for its backup), the ZLB is
//!   deferred ([`Channel::defer_ack`]) so the answer carries the acknowledgement (RFC 2661 5.8:
//!   the ZLB is for when there is no message to piggyback it on), for at most a quarter of the
//!   first retransmission timeout, well before the peer retransmits.
//! * Retransmission: the oldest unacknowledged message after `retransmit_initial`, doubling up
//!   to `retransmit_cap`; after `max_retries` retransmissions without progress the channel is dead
//!   and the tunnel must be torn down.
//! * Queue order (Ns is given when a message leaves the queue, so queue order is sending order):
//!   an answer in an exchange under way (SCCCN, ICRP, OCRP, ICCN, OCCN, CDN) waiting for the
//!   window goes ahead of the queued requests that open new calls (ICRQ, OCRQ), never ahead of
//!   other messages nor of its own call's request, so that set-ups under way finish before new
//!   ones start (the peer's wait for the answer runs meanwhile, RFC 2661 7.4.1).
//! * Bounds: at most `max_send_queue` messages wait for the window; [`Channel::send`] refuses
//!   more with [`ChannelFull`]. At most `max_send_queue` set-up messages that left the queue
//!   wait for [`Channel::take_setup_sent`] (the oldest dropped).

use super::wire::header::ControlHeader;
use super::wire::{ControlMessage, MessageType};
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Octets an encoding arena ([`Channel::send_in`], [`Channel::flush_ack_in`]) takes at a time
/// when the one it holds is full and still referenced by datagrams not yet freed.
pub const ARENA_BLOCK: usize = 2048;

/// `msg` written at the end of `arena` and cut off as a datagram of its own: the datagrams share
/// the arena's block (cloning one, as a sent message is cloned for its retransmission, counts a
/// reference and allocates nothing), and once every datagram cut from the block is freed the
/// arena writes from its start again. A new block of [`ARENA_BLOCK`] octets (or the message's
/// length if more) is taken only when the current one is full while datagrams still hold it.
fn encode_into(msg: &ControlMessage<'_>, arena: &mut BytesMut) -> Bytes {
    arena_room(arena, msg.encoded_len());
    msg.emit(arena);
    arena.split().freeze()
}

/// `a` comes before `b` modulo 2^16.
pub fn seq_lt(a: u16, b: u16) -> bool {
    (b.wrapping_sub(a) as i16) > 0
}

/// Room in `arena` for `len` more octets: a new block of [`ARENA_BLOCK`] octets (or `len` if
/// more) when the current one is full while datagrams still hold it.
fn arena_room(arena: &mut BytesMut, len: usize) {
    if arena.capacity() < len {
        arena.reserve(len.max(ARENA_BLOCK));
    }
}

/// Writes Nr `nr` (octets 10..12 of a control message) into `bytes`: in place when this is
/// the only copy (a message kept for retransmission whose last transmission has left), else
/// into a new copy, written into `arena` when given ([`encode_into`]'s way: a reserved message
/// cut from the arena whose Nr moved before its release, without an allocation of its own in
/// the usual case); nothing when it carries `nr` already.
fn set_nr(bytes: &mut Bytes, nr: u16, arena: Option<&mut BytesMut>) {
    let nr = nr.to_be_bytes();
    if bytes.get(10..12).is_none_or(|b| b == nr) {
        return;
    }
    let mut m = match std::mem::take(bytes).try_into_mut() {
        Ok(m) => m,
        Err(shared) => match arena {
            Some(arena) => {
                arena_room(arena, shared.len());
                arena.extend_from_slice(&shared);
                arena.split()
            }
            None => bytes::BytesMut::from(&shared[..]),
        },
    };
    if let Some(slot) = m.get_mut(10..12) {
        slot.copy_from_slice(&nr);
    }
    *bytes = m.freeze();
}

/// Parameters of a control channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Our Receive Window Size (how many out-of-order messages we accept ahead).
    pub receive_window: u16,
    /// First retransmission timeout.
    pub retransmit_initial: Duration,
    /// Retransmission timeout cap.
    pub retransmit_cap: Duration,
    /// Retransmissions of one message before the channel is declared dead.
    pub max_retries: u32,
    /// Out-of-order messages kept.
    pub max_out_of_order: usize,
    /// Messages waiting for the send window.
    pub max_send_queue: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            receive_window: 8,
            retransmit_initial: Duration::from_secs(1),
            retransmit_cap: Duration::from_secs(8),
            max_retries: 5,
            max_out_of_order: 16,
            max_send_queue: 64,
        }
    }
}

impl ChannelConfig {
    /// How long a message may stay unacknowledged before the channel gives up (RFC 2661 5.8: the
    /// first timeout, doubling up to the cap, over `max_retries` retransmissions): a peer with the
    /// same parameters may still be retransmitting a message this long after first sending it.
    ///
    /// Saturates at [`Duration::MAX`]; at most 65 sends are counted (64 retransmissions). In
    /// integer nanoseconds, and once the timeout reaches the cap the remaining sends are one
    /// multiplication: every LAC and LNS set-up reads it (its set-up timer), and the loop of
    /// `Duration` operations it replaced took about 300 instructions of each.
    pub fn give_up_after(&self) -> Duration {
        // No `Duration` exceeds 2^64 s, about 1.9e28 ns: sums of 65 of them, and doublings,
        // fit in a u128 (3.4e38).
        let cap = self.retransmit_cap.as_nanos();
        let mut rto = self.retransmit_initial.as_nanos();
        let sends = u128::from(self.max_retries.min(64)) + 1;
        let mut total = 0u128;
        let mut sent = 0u128;
        while sent < sends {
            if rto == cap {
                total += cap * (sends - sent);
                break;
            }
            total += rto;
            rto = (rto * 2).min(cap);
            sent += 1;
        }
        if total >= Duration::MAX.as_nanos() {
            return Duration::MAX;
        }
        let secs = u64::try_from(total / 1_000_000_000).unwrap_or(u64::MAX);
        let nanos = u32::try_from(total % 1_000_000_000).unwrap_or(0);
        Duration::new(secs, nanos)
    }
}

/// The send queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelFull;

/// The channel gave up: `max_retries` retransmissions went unacknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelDead;

/// The reliable control channel of one tunnel.
#[derive(Debug)]
pub struct Channel {
    /// Shared by an endpoint's channels (memory per tunnel).
    cfg: Arc<ChannelConfig>,
    /// Tunnel id to put in headers (the peer's id for the tunnel).
    pub peer_tunnel_id: u16,
    ns: u16,
    nr: u16,
    peer_window: u16,
    cwnd: u16,
    ssthresh: u16,
    ca_acked: u16,
    /// Messages numbered and not acknowledged, oldest first: sent, or reserved
    /// ([`Channel::reserve`]; kept here, not in a map of their own: no allocation and no
    /// look-up per reserved answer).
    unacked: Unacked,
    /// How many of `unacked` are reserved, not transmitted yet.
    reserved: u16,
    /// How many of those are released ([`Channel::mark_released`]) and wait for the window:
    /// while none is, [`Channel::pump_reserved`] has nothing to send and walks nothing (a burst
    /// of held ICRPs: one walk of the window per message taken would cost a set-up the whole
    /// burst's).
    released: u16,
    /// The Ns of a received message whose acknowledgement is held ([`Channel::hold_ack`]);
    /// more are in the backlog (one, the usual case, costs no backlog).
    ack_held: Option<u16>,
    /// Messages waiting for the window and messages received ahead of order: boxed, present
    /// only while either holds one (memory per tunnel).
    backlog: Option<Box<Backlog>>,
    retries: u32,
    deadline: Option<Instant>,
    /// What the owner's timer queue holds for this channel ([`Channel::sync_timer`]): armed
    /// lazily, never later than [`Channel::deadline`] when that is set, and left in place when
    /// the deadline moves later or goes (it then fires early, harmlessly, and is re-armed).
    armed: Option<Instant>,
    ack_pending: bool,
    /// A duplicate or a message ahead of order arrived since we last sent our Nr: the ZLB owed
    /// re-acknowledges (RFC 2661 5.8) even when the Nr is the one the peer has.
    reack: bool,
    /// The Nr carried by the last datagram we sent ([`Channel::flush_ack`]: a ZLB that would
    /// repeat it while an acknowledgement is held tells the peer nothing).
    nr_sent: u16,
    /// The ZLB owed is deferred until then ([`Channel::defer_ack`]).
    ack_by: Option<Instant>,
    /// Since when the peer has acknowledged nothing while a message waited for it
    /// ([`Channel::unacknowledged_for`]).
    unacked_since: Option<Instant>,
    /// Datagrams to send, oldest first ([`Outgoing`]: one, the usual case, without allocation).
    out: Outgoing,
    /// Resumed from a replica ([`Channel::resume_replica`]): our Ns is not known yet (sending
    /// waits; the probe is retransmitted on the channel's timer).
    resync_ns: bool,
    /// Resumed from a replica: no message of the peer taken in order yet (our Nr is the
    /// replica's; [`Channel::resume_replica`]).
    resync_nr: bool,
    /// Resumed from a replica: the Nr moved to a retransmission of the peer
    /// ([`Channel::resume_replica`]); taken by [`Channel::take_nr_moved`].
    nr_moved: bool,
    /// Resumed from a replica at some time ([`Channel::resume_replica`]): a peer's Nr past our
    /// next Ns names messages the failed endpoint sent that the replica lacked; our Ns moves to
    /// it.
    resumed: bool,
    held: bool,
    /// Resumed from a replica, while `resync_nr`: what tells a retransmission of the peer
    /// ([`Resync`], [`Channel::resume_replica`]). Boxed: present only on a resumed channel; the
    /// channel holds one pointer for it (memory per tunnel).
    first_seen: Option<Box<Resync>>,
}

/// What a resumed channel learns, while its Nr is the replica's, to tell a retransmission of the
/// peer from a first copy ([`Channel::resume_replica`]).
#[derive(Debug, Default)]
struct Resync {
    /// When each message kept out of order first arrived (a second arrival a retransmission
    /// timeout later is the peer's retransmission). At most [`ChannelConfig::max_out_of_order`].
    first_seen: BTreeMap<u16, Instant>,
    /// The first datagram from the peer since the resume: the Ns before which the peer had sent
    /// every message (a ZLB's Ns, one past a message's), and when it arrived.
    sent_before: Option<(u16, Instant)>,
}

/// A first-in first-out queue that holds one item in place and more in a `VecDeque`: a channel
/// has one datagram to send and one message in flight at a time as a rule (the ICRP of a
/// redirect decision until the LAC's CDN acknowledges it, the ZLB acknowledging that CDN), so
/// queuing, sending and acknowledging it allocate and free no buffer. It takes 8 bytes more than
/// the queue alone (heap per established tunnel: within 512 bytes). A queue buffer is
/// kept once allocated until [`Fifo::free`] (or the last item is taken from an emptied one
/// through [`Fifo::pop_front_freeing`]), so an idle tunnel keeps none.
#[derive(Debug)]
enum Fifo<T> {
    /// Exactly one.
    One(T),
    /// Any number, in a queue (none when empty; its buffer kept until freed).
    Many(VecDeque<T>),
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo::Many(VecDeque::new())
    }
}

impl<T> Fifo<T> {
    /// The items as two slices, oldest first (the queue's halves).
    fn as_slices(&self) -> (&[T], &[T]) {
        match self {
            Fifo::One(e) => (std::slice::from_ref(e), &[]),
            Fifo::Many(q) => q.as_slices(),
        }
    }

    /// The items, oldest first.
    fn iter(&self) -> impl Iterator<Item = &T> {
        let (a, b) = self.as_slices();
        a.iter().chain(b)
    }

    /// The items, oldest first, to change in place.
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let (a, b) = match self {
            Fifo::One(e) => (std::slice::from_mut(e), &mut [][..]),
            Fifo::Many(q) => q.as_mut_slices(),
        };
        a.iter_mut().chain(b)
    }

    /// The item at `i` (0: the oldest), to change in place.
    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        match self {
            Fifo::One(e) => (i == 0).then_some(e),
            Fifo::Many(q) => q.get_mut(i),
        }
    }

    fn len(&self) -> usize {
        match self {
            Fifo::One(_) => 1,
            Fifo::Many(q) => q.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn front(&self) -> Option<&T> {
        self.iter().next()
    }

    /// The oldest, taken out (a queue buffer is kept).
    fn pop_front(&mut self) -> Option<T> {
        match self {
            Fifo::Many(q) => q.pop_front(),
            Fifo::One(_) => match std::mem::take(self) {
                Fifo::One(e) => Some(e),
                Fifo::Many(_) => None,
            },
        }
    }

    /// The oldest, taken out; a queue emptied so is freed.
    fn pop_front_freeing(&mut self) -> Option<T> {
        let e = self.pop_front();
        if self.is_empty() {
            self.free();
        }
        e
    }

    /// Queues `e` after the others: held in place when none is waiting and no queue buffer is
    /// kept.
    fn push_back(&mut self, e: T) {
        match self {
            Fifo::Many(q) if q.is_empty() && q.capacity() == 0 => {
                // An empty queue without a buffer holds nothing to free: forgotten, not dropped
                // (its drop's walk over no items skipped).
                std::mem::forget(std::mem::replace(self, Fifo::One(e)));
            }
            Fifo::Many(q) => q.push_back(e),
            Fifo::One(_) => {
                let Fifo::One(first) = std::mem::take(self) else {
                    return;
                };
                let mut q = VecDeque::with_capacity(4);
                q.push_back(first);
                q.push_back(e);
                *self = Fifo::Many(q);
            }
        }
    }

    /// Keeps the items `keep` says, in order.
    fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self {
            Fifo::Many(q) => q.retain(keep),
            Fifo::One(e) => {
                if !keep(e) {
                    *self = Fifo::default();
                }
            }
        }
    }

    /// The queue buffer's capacity (0 when one item is held in place).
    fn capacity(&self) -> usize {
        match self {
            Fifo::One(_) => 0,
            Fifo::Many(q) => q.capacity(),
        }
    }

    /// Frees the queue buffer when empty.
    fn free(&mut self) {
        if self.is_empty() && self.capacity() > 0 {
            *self = Fifo::default();
        }
    }
}

/// A channel's datagrams to send, oldest first ([`Channel`]'s `out`): freed once emptied.
type Outgoing = Fifo<Bytes>;

/// A numbered message not acknowledged yet: its Ns, its datagram, where it stands.
type Entry = (u16, Bytes, Flight);

/// A channel's numbered messages not acknowledged yet, oldest first ([`Channel`]'s `unacked`);
/// the queue buffer is kept while the channel is busy, freed when it is idle
/// (`Channel::poll_transmit`).
type Unacked = Fifo<Entry>;

/// Where a numbered message stands ([`Channel`]'s `unacked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flight {
    /// Transmitted (retransmitted on the channel's timer).
    Sent,
    /// Reserved ([`Channel::reserve`]): not transmitted, held.
    Held,
    /// Reserved and released ([`Channel::release`]): not transmitted, waiting for the window.
    Released,
}

/// A message waiting for the send window ([`Backlog`]'s `queue`).
#[derive(Debug)]
struct Queued {
    msg: ControlMessage<'static>,
    /// Our Session ID when the message opens a call's set-up (sent with
    /// [`Channel::send_setup_in`]): noted in `setups_sent` when it first leaves.
    setup: Option<u16>,
}

impl Queued {
    fn plain(msg: ControlMessage<'static>) -> Self {
        Queued { msg, setup: None }
    }
}

/// Whether `msg` opens a new exchange: a call's request (ICRQ, OCRQ, RFC 2661 7.4, 7.5), which a
/// queued answer may pass ([`Backlog::enqueue`]).
fn opens(msg: &ControlMessage<'_>) -> bool {
    matches!(
        msg.message_type(),
        Some(MessageType::ICRQ | MessageType::OCRQ)
    )
}

/// Whether `msg` answers the peer's message in an exchange under way (SCCCN, ICRP, OCRP, ICCN,
/// OCCN, CDN: RFC 2661 7.2, 7.4, 7.5), queued ahead of the requests that open new calls
/// ([`Backlog::enqueue`]). StopCCN is not: it stays behind everything queued before it.
fn answers(msg: &ControlMessage<'_>) -> bool {
    matches!(
        msg.message_type(),
        Some(
            MessageType::SCCCN
                | MessageType::ICRP
                | MessageType::OCRP
                | MessageType::ICCN
                | MessageType::OCCN
                | MessageType::CDN
        )
    )
}

/// What waits in a channel ([`Channel`]'s `backlog`).
#[derive(Debug, Default)]
struct Backlog {
    /// Messages waiting for the send window, at most `max_send_queue`.
    queue: VecDeque<Queued>,
    /// The Session IDs of the set-up messages ([`Channel::send_setup_in`]) that left the queue
    /// since [`Channel::take_setup_sent`] last took them, oldest first: at most
    /// `max_send_queue` (`pop_front` drops the oldest beyond).
    setups_sent: VecDeque<u16>,
    /// Messages received ahead of the next expected one, at most `max_out_of_order`.
    ooo: BTreeMap<u16, ControlMessage<'static>>,
    /// A resumed channel's messages to send again at the Ns the failed endpoint gave them
    /// ([`Channel::pin`]), until the peer's next expected Ns is learnt.
    pins: BTreeMap<u16, ControlMessage<'static>>,
    /// The pins resolved when the peer's next expected Ns was learnt, each with whether the
    /// peer had already taken it ([`Channel::take_resolved`]).
    resolved: Vec<(u16, bool)>,
    /// The Ns of received messages whose acknowledgement is held ([`Channel::hold_ack`]).
    ack_held: Vec<u16>,
    /// How many messages at the front of `queue` were placed there by `place_pins` (pins and
    /// the HELLOs filling the gaps between them): the one at offset `i` goes at our next Ns
    /// plus `i`, the Ns the failed endpoint gave it.
    placed: u16,
    /// The Ns of the pins among the `placed` messages (not the HELLOs).
    placed_pins: Vec<u16>,
    /// The Ns of the pins, placed or not, that wait for [`Channel::release`] before they may
    /// leave ([`Channel::pin_held`]); each is one of `pins` or `placed_pins`.
    held_pins: Vec<u16>,
}

impl Backlog {
    fn is_empty(&self) -> bool {
        self.queue.is_empty()
            && self.ooo.is_empty()
            && self.pins.is_empty()
            && self.resolved.is_empty()
            && self.ack_held.is_empty()
            && self.setups_sent.is_empty()
    }

    /// The next message to send, counting down the placed pins it may be one of; a set-up
    /// message is noted in `setups_sent`, which keeps the `cap` newest (the oldest dropped).
    fn pop_front(&mut self, cap: usize) -> Option<ControlMessage<'static>> {
        let Queued { msg, setup } = self.queue.pop_front()?;
        if let Some(sid) = setup {
            if self.setups_sent.len() >= cap.max(1) {
                self.setups_sent.pop_front();
            }
            self.setups_sent.push_back(sid);
        }
        if self.placed > 0 {
            self.placed -= 1;
            if self.placed == 0 {
                self.placed_pins.clear();
            }
        }
        Some(msg)
    }

    /// Queues `q` (RFC 2661 5.8: Ns is given when a message leaves the queue, so the order
    /// here is the sending order). An answer in an exchange under way ([`answers`]: SCCCN, ICRP,
    /// OCRP, ICCN, OCCN, CDN) goes ahead of the queued requests that open new calls (ICRQ,
    /// OCRQ, [`opens`]) at the queue's tail, so that set-ups already under way finish before
    /// new ones start (the peer's wait for the answer runs meanwhile, RFC 2661 7.4.1, 7.5.1);
    /// it never passes any other message, a request of its own call (the same Assigned
    /// Session ID: a CDN stays behind its call's ICRQ), nor the placed run (RFC 4951 pins
    /// keep their Ns). Answers cannot starve the requests: each answers a peer's message of an
    /// exchange in flight.
    fn enqueue(&mut self, q: Queued) {
        let sid = q.msg.assigned_session_id();
        let mut at = self.queue.len();
        if answers(&q.msg) {
            let floor = usize::from(self.placed).min(at);
            while at > floor {
                let before = &self.queue[at - 1].msg;
                if !opens(before) || (sid.is_some() && before.assigned_session_id() == sid) {
                    break;
                }
                at -= 1;
            }
        }
        self.queue.insert(at, q);
    }

    /// Our next Ns jumped from `from` by `passed` (the peer took the failed endpoint's messages
    /// there): the placed messages at those Ns are dropped, not sent at the new Ns (a pin sent
    /// there would be a second ICRP for a call the peer has, RFC 2661 7.4.1), and each pin among
    /// them is resolved as taken.
    fn drop_passed(&mut self, from: u16, passed: u16) {
        let n = passed.min(self.placed);
        for i in 0..n {
            let ns = from.wrapping_add(i);
            if let Some(at) = self.placed_pins.iter().position(|&p| p == ns) {
                self.placed_pins.swap_remove(at);
                self.resolved.push((ns, true));
            }
            self.queue.pop_front();
        }
        self.placed -= n;
        if self.placed == 0 {
            self.placed_pins.clear();
        }
        self.keep_held_pins();
    }

    /// Forgets the holds of pins no longer waiting (resolved as taken, or dropped).
    fn keep_held_pins(&mut self) {
        if self.held_pins.is_empty() {
            return;
        }
        let (pins, placed) = (&self.pins, &self.placed_pins);
        self.held_pins
            .retain(|ns| pins.contains_key(ns) || placed.contains(ns));
    }

    /// Whether the next message to leave is a placed pin held ([`Channel::pin_held`]), our
    /// next Ns being `next` (the placed run's front goes at it).
    fn front_held(&self, next: u16) -> bool {
        self.placed > 0 && self.held_pins.contains(&next)
    }

    /// The numbering changes (`Channel::restart_sequence`): the placed run, at Ns from `next`
    /// on under the old numbering, is undone. Its pins wait again to be placed against the new
    /// one; the HELLOs that filled its gaps go.
    fn unplace(&mut self, next: u16) {
        for i in 0..self.placed {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            let ns = next.wrapping_add(i);
            if self.placed_pins.contains(&ns) {
                self.pins.insert(ns, q.msg);
            }
        }
        self.placed = 0;
        self.placed_pins.clear();
    }
}

impl Channel {
    /// A new channel; `peer_tunnel_id` may be 0 until the peer assigns one (SCCRQ).
    pub fn new(cfg: ChannelConfig, peer_tunnel_id: u16) -> Self {
        Channel::with_config(Arc::new(cfg), peer_tunnel_id)
    }

    /// As [`Channel::new`], with parameters shared by several channels.
    pub fn with_config(cfg: Arc<ChannelConfig>, peer_tunnel_id: u16) -> Self {
        Channel {
            cfg,
            peer_tunnel_id,
            ns: 0,
            nr: 0,
            peer_window: 4,
            cwnd: 1,
            ssthresh: 4,
            ca_acked: 0,
            unacked: Unacked::default(),
            reserved: 0,
            released: 0,
            ack_held: None,
            backlog: None,
            retries: 0,
            deadline: None,
            armed: None,
            ack_pending: false,
            reack: false,
            nr_sent: 0,
            ack_by: None,
            unacked_since: None,
            out: Outgoing::default(),
            resync_ns: false,
            resumed: false,
            resync_nr: false,
            nr_moved: false,
            held: false,
            first_seen: None,
        }
    }

    /// Sets the peer's Receive Window Size (from SCCRQ/SCCRP; 4 when absent, RFC 2661 4.4.3).
    pub fn set_peer_window(&mut self, w: u16) {
        self.peer_window = w.max(1);
        self.ssthresh = self.peer_window;
    }

    /// Queues a message for reliable delivery.
    pub fn send(&mut self, now: Instant, msg: ControlMessage<'static>) -> Result<(), ChannelFull> {
        self.send_with(now, msg, None, None).map(drop)
    }

    /// As [`Channel::send`], a message sent at once written into `arena` (shared by an
    /// endpoint's channels; the same octets as [`Channel::send`]'s, without an allocation of its
    /// own in the usual case: `encode_into`).
    pub fn send_in(
        &mut self,
        now: Instant,
        msg: ControlMessage<'static>,
        arena: &mut BytesMut,
    ) -> Result<(), ChannelFull> {
        self.send_with(now, msg, Some(arena), None).map(drop)
    }

    /// As [`Channel::send_in`] for a message `write` writes itself (at most `max_len` octets, under
    /// the header it is given: the peer's Tunnel ID, `session_id`, our next Ns and our Nr), with
    /// no message value built, when it leaves at once; when it must wait (the window, messages
    /// queued before it), `build()` is queued instead, the same message as a value. `write` must
    /// write what `build()` would encode under that header (the LNS's redirect ICRP:
    /// [`ControlMessage::emit_icrp`]).
    pub fn send_written_in(
        &mut self,
        now: Instant,
        session_id: u16,
        max_len: usize,
        write: impl FnOnce(&mut BytesMut, ControlHeader),
        build: impl FnOnce() -> ControlMessage<'static>,
        arena: &mut BytesMut,
    ) -> Result<(), ChannelFull> {
        let queued = self.backlog.as_ref().map_or(0, |b| b.queue.len());
        if queued > 0 || !self.may_send() {
            return self.send_with(now, build(), Some(arena), None).map(drop);
        }
        let ns = self.ns;
        self.ns = self.ns.wrapping_add(1);
        let header = ControlHeader {
            tunnel_id: self.peer_tunnel_id,
            session_id,
            ns,
            nr: self.ack_nr(),
        };
        arena_room(arena, max_len);
        write(arena, header);
        let bytes = arena.split().freeze();
        self.transmit_bytes(now, ns, bytes);
        Ok(())
    }

    /// As [`Channel::send_in`] for a message that opens a call's set-up (ICRQ, ICRP, OCRQ: the
    /// sender then waits for the peer's answer, RFC 2661 7.4, 7.5) of our session `sid`: `true`
    /// when it left at once. One that waits for the window (RFC 2661 5.8: the window, messages
    /// queued before it) is noted when it first leaves: [`Channel::take_setup_sent`] gives `sid`
    /// then, so that the set-up wait runs from its transmission, not from its queuing.
    ///
    /// # Errors
    /// [`ChannelFull`] when `max_send_queue` messages wait already; nothing is queued.
    pub fn send_setup_in(
        &mut self,
        now: Instant,
        msg: ControlMessage<'static>,
        sid: u16,
        arena: &mut BytesMut,
    ) -> Result<bool, ChannelFull> {
        self.send_with(now, msg, Some(arena), Some(sid))
    }

    /// Whether set-up messages that left the queue wait for [`Channel::take_setup_sent`].
    #[inline]
    pub fn has_setup_sent(&self) -> bool {
        self.backlog
            .as_ref()
            .is_some_and(|b| !b.setups_sent.is_empty())
    }

    /// The Session ID of the next set-up message ([`Channel::send_setup_in`]) that left the
    /// queue after waiting, oldest first; `None` when no more did. The owner takes them after
    /// each call that may send (the endpoints do at every flush): they are kept until taken,
    /// at most `max_send_queue` of them (when more leave untaken, the oldest is dropped).
    pub fn take_setup_sent(&mut self) -> Option<u16> {
        let b = self.backlog.as_mut()?;
        let sid = b.setups_sent.pop_front()?;
        if b.setups_sent.is_empty() {
            self.trim_backlog();
        }
        Some(sid)
    }

    fn send_with(
        &mut self,
        now: Instant,
        msg: ControlMessage<'static>,
        arena: Option<&mut BytesMut>,
        setup: Option<u16>,
    ) -> Result<bool, ChannelFull> {
        let queued = self.backlog.as_ref().map_or(0, |b| b.queue.len());
        if queued >= self.cfg.max_send_queue {
            return Err(ChannelFull);
        }
        if queued == 0 && self.may_send() {
            // What `pump` would do with it at once, without the queue.
            self.transmit_new(now, msg, arena);
            return Ok(true);
        }
        self.backlog
            .get_or_insert_with(Default::default)
            .enqueue(Queued { msg, setup });
        // Should the pump send it now after all, it is noted as sent after waiting.
        self.pump(now);
        Ok(false)
    }

    /// Processes a received control message (its tunnel already checked). Returns the messages
    /// now deliverable in order (ZLBs are never delivered).
    pub fn receive(
        &mut self,
        now: Instant,
        msg: ControlMessage<'static>,
    ) -> Vec<ControlMessage<'static>> {
        let mut delivered = Vec::new();
        self.receive_into(now, msg, &mut delivered);
        delivered
    }

    /// As [`Channel::receive`], appending the messages now deliverable to `delivered` (a buffer
    /// the caller reuses).
    pub fn receive_into(
        &mut self,
        now: Instant,
        msg: ControlMessage<'static>,
        delivered: &mut Vec<ControlMessage<'static>>,
    ) {
        self.receive_with(now, msg, delivered, None);
    }

    /// As [`Channel::receive_into`], a released reserved message that the acknowledgement lets
    /// leave and whose Nr moved rewritten into `arena` ([`Channel::release_marked_in`]'s way:
    /// the same octets, without allocations of its own; a burst of held ICRPs let
    /// through by the LAC's acknowledgements).
    pub fn receive_in(
        &mut self,
        now: Instant,
        msg: ControlMessage<'static>,
        delivered: &mut Vec<ControlMessage<'static>>,
        arena: &mut BytesMut,
    ) {
        self.receive_with(now, msg, delivered, Some(arena));
    }

    fn receive_with(
        &mut self,
        now: Instant,
        msg: ControlMessage<'static>,
        delivered: &mut Vec<ControlMessage<'static>>,
        arena: Option<&mut BytesMut>,
    ) {
        self.resync(now, &msg);
        self.ack(now, msg.header.nr);
        if msg.is_zlb() {
            if self.resync_nr {
                // A ZLB's Ns is the peer's next: it had sent every message before it.
                self.note_sent_before(now, msg.header.ns);
            }
            self.pump_in(now, arena);
            return;
        }
        let ns = msg.header.ns;
        if self.resync_nr {
            self.resync_nr_from(now, ns);
            self.note_sent_before(now, ns.wrapping_add(1));
        }
        if ns == self.nr {
            self.nr = self.nr.wrapping_add(1);
            delivered.push(msg);
            while let Some(next) = self.backlog.as_mut().and_then(|b| b.ooo.remove(&self.nr)) {
                self.nr = self.nr.wrapping_add(1);
                delivered.push(next);
            }
            self.ack_pending = true;
        } else if seq_lt(ns, self.nr) {
            // Duplicate: re-acknowledge.
            self.ack_pending = true;
            self.reack = true;
        } else if (ns.wrapping_sub(self.nr) < self.cfg.receive_window || self.resync_nr)
            && self
                .backlog
                .as_ref()
                .is_none_or(|b| b.ooo.len() < self.cfg.max_out_of_order || b.ooo.contains_key(&ns))
        {
            // A resumed channel's replica Nr may lag the peer's by more than our window (the
            // messages the failed LNS took after its last copy; `resume_replica` docs).
            if self.resync_nr {
                self.first_seen
                    .get_or_insert_with(Default::default)
                    .first_seen
                    .entry(ns)
                    .or_insert(now);
            }
            self.backlog
                .get_or_insert_with(Default::default)
                .ooo
                .insert(ns, msg);
            self.ack_pending = true;
            self.reack = true;
        }
        self.trim_backlog();
        self.pump_in(now, arena);
    }

    fn ack(&mut self, now: Instant, nr: u16) {
        let mut progressed = false;
        while let Some((ns, _, flight)) = self.unacked.front() {
            if seq_lt(*ns, nr) {
                if *flight != Flight::Sent {
                    self.reserved = self.reserved.saturating_sub(1);
                }
                if *flight == Flight::Released {
                    self.released = self.released.saturating_sub(1);
                }
                self.unacked.pop_front();
                progressed = true;
                if self.cwnd < self.ssthresh {
                    self.cwnd += 1;
                } else {
                    self.ca_acked += 1;
                    if self.ca_acked >= self.cwnd {
                        self.ca_acked = 0;
                        self.cwnd = self.cwnd.saturating_add(1);
                    }
                }
                self.cwnd = self.cwnd.min(self.peer_window);
            } else {
                break;
            }
        }
        // On a resumed channel the peer may have taken messages the failed endpoint numbered
        // after its last copy (an ICRP it sent unreplicated when its backup changed), held out
        // of order until our first ones filled the gap: its Nr then passes our next Ns, and a
        // message we numbered before it would be a duplicate to the peer (RFC 2661 5.8) and
        // dropped unprocessed. Our next Ns moves to the peer's (seed 232769 of the failover tests'
        // crash-during-setup sweep: the taker's CDN for such a call went out at an Ns the LAC
        // had taken, and the call stayed up at the LAC with no LNS serving it).
        // The pins still queued at the Ns passed are the failed endpoint's messages the peer
        // took: they are dropped, not sent at the new Ns.
        if self.resumed && !self.resync_ns && seq_lt(self.ns, nr) {
            let from = self.ns;
            self.ns = nr;
            if let Some(b) = self.backlog.as_mut() {
                b.drop_passed(from, nr.wrapping_sub(from));
            }
        }
        if progressed {
            if self.unacked.is_empty() && self.unacked.capacity() > 4 {
                self.unacked = Unacked::default();
            }
            self.retries = 0;
            let d = if self.unacked.is_empty() {
                None
            } else {
                Some(now + self.rto())
            };
            self.unacked_since = (!self.unacked.is_empty()).then_some(now);
            self.set_deadline(d);
        }
    }

    fn encode(&self, ns: u16, mut msg: ControlMessage<'static>) -> Vec<u8> {
        msg.header.tunnel_id = self.peer_tunnel_id;
        msg.header.ns = ns;
        msg.header.nr = self.ack_nr();
        let mut v = Vec::with_capacity(msg.encoded_len());
        msg.emit(&mut v);
        v
    }

    /// [`Channel::encode`], into `arena` when one is given (`encode_into`).
    // Inlined into each sender (a message sent at once and one reserved): the one path every
    // message takes.
    #[inline(always)]
    fn encode_bytes(
        &self,
        ns: u16,
        mut msg: ControlMessage<'static>,
        arena: Option<&mut BytesMut>,
    ) -> Bytes {
        let Some(arena) = arena else {
            return Bytes::from(self.encode(ns, msg));
        };
        msg.header.tunnel_id = self.peer_tunnel_id;
        msg.header.ns = ns;
        msg.header.nr = self.ack_nr();
        encode_into(&msg, arena)
    }

    /// Whether a new message may go now: not held, our Ns known, and fewer in flight than the
    /// window (the congestion window within the peer's Receive Window Size, at least 1).
    fn may_send(&self) -> bool {
        let window = usize::from(self.cwnd.min(self.peer_window).max(1));
        !self.resync_ns && !self.held && self.unacked.len() < window
    }

    /// Numbers, encodes and sends `msg` (it carries our Nr: no ZLB is owed any more).
    fn transmit_new(
        &mut self,
        now: Instant,
        msg: ControlMessage<'static>,
        arena: Option<&mut BytesMut>,
    ) {
        let ns = self.ns;
        self.ns = self.ns.wrapping_add(1);
        let bytes = self.encode_bytes(ns, msg, arena);
        self.transmit_bytes(now, ns, bytes);
    }

    /// Sends `bytes`, the message just numbered `ns` (it carries our Nr).
    fn transmit_bytes(&mut self, now: Instant, ns: u16, bytes: Bytes) {
        if self.unacked.is_empty() {
            self.unacked_since = Some(now);
        }
        self.out.push_back(bytes.clone());
        self.unacked.push_back((ns, bytes, Flight::Sent));
        self.acked_by_sending(self.ack_nr());
        self.set_ack_by(None);
        if self.deadline.is_none() {
            self.set_deadline(Some(now + self.rto()));
        }
    }

    fn pump(&mut self, now: Instant) {
        self.pump_in(now, None);
    }

    /// As [`Channel::pump`], a released message whose Nr moved copied into `arena` when shared
    /// ([`set_nr`]).
    fn pump_in(&mut self, now: Instant, arena: Option<&mut BytesMut>) {
        // Nothing released and nothing waiting (the usual case: every message left at once, or
        // the reserved ones still held): nothing to send, nothing to trim (two
        // calls per redirect decision; a message taken while answers are held).
        if self.released == 0 && self.backlog.is_none() {
            return;
        }
        self.pump_reserved(now, arena);
        while self.may_send() {
            // A held pin goes at its own Ns (RFC 2661 5.8): what is queued behind it waits.
            if self.backlog.as_ref().is_some_and(|b| b.front_held(self.ns)) {
                break;
            }
            let cap = self.cfg.max_send_queue;
            let Some(msg) = self.backlog.as_mut().and_then(|b| b.pop_front(cap)) else {
                break;
            };
            self.transmit_new(now, msg, None);
        }
        self.trim_backlog();
    }

    /// Transmits the released reserved messages ([`Channel::reserve`]) that are within the
    /// window (counted from the oldest unacknowledged message, as for any message).
    fn pump_reserved(&mut self, now: Instant, mut arena: Option<&mut BytesMut>) {
        if self.released == 0 || self.held {
            return;
        }
        let window = usize::from(self.cwnd.min(self.peer_window).max(1));
        let nr = self.ack_nr();
        let mut sent = false;
        for (_, bytes, flight) in self.unacked.iter_mut().take(window) {
            if *flight != Flight::Released {
                continue;
            }
            *flight = Flight::Sent;
            self.reserved = self.reserved.saturating_sub(1);
            self.released = self.released.saturating_sub(1);
            set_nr(bytes, nr, arena.as_deref_mut());
            self.out.push_back(bytes.clone());
            sent = true;
        }
        if sent {
            self.reserved_sent(now, nr);
        }
    }

    /// Reserved messages carrying Nr `nr` have just been sent: the retransmission timer runs
    /// and no ZLB is owed any more.
    fn reserved_sent(&mut self, now: Instant, nr: u16) {
        if self.unacked_since.is_none() {
            self.unacked_since = Some(now);
        }
        self.acked_by_sending(nr);
        self.set_ack_by(None);
        if self.deadline.is_none() {
            self.set_deadline(Some(now + self.rto()));
        }
    }

    /// Numbers `msg` now (our next Ns, returned) and keeps it unsent until
    /// [`Channel::release`] (output commit: the answer's Ns is known before the answer may
    /// leave, `lns::replicate` docs). Later messages take later Ns and may leave before it (the
    /// peer keeps them out of order until it arrives, RFC 2661 5.8). `None` (nothing changes)
    /// while the channel cannot number (resuming from a replica, or held for an RFC 4951
    /// recovery) or when the send queue is full.
    pub fn reserve(&mut self, msg: ControlMessage<'static>) -> Option<u16> {
        self.reserve_with(msg, None)
    }

    /// As [`Channel::reserve`], the message written into `arena` (`encode_into`: the same
    /// octets, without an allocation of its own in the usual case).
    pub fn reserve_in(
        &mut self,
        msg: ControlMessage<'static>,
        arena: &mut BytesMut,
    ) -> Option<u16> {
        self.reserve_with(msg, Some(arena))
    }

    fn reserve_with(
        &mut self,
        msg: ControlMessage<'static>,
        arena: Option<&mut BytesMut>,
    ) -> Option<u16> {
        if !self.can_reserve() {
            return None;
        }
        let ns = self.ns;
        self.ns = self.ns.wrapping_add(1);
        let bytes = self.encode_bytes(ns, msg, arena);
        self.unacked.push_back((ns, bytes, Flight::Held));
        self.reserved = self.reserved.saturating_add(1);
        Some(ns)
    }

    /// The Nr we send: our next expected Ns, or the Ns of the oldest received message whose
    /// acknowledgement is held ([`Channel::hold_ack`]).
    fn ack_nr(&self) -> u16 {
        let held = self.backlog.as_ref().map(|b| b.ack_held.as_slice());
        let nr = self.nr;
        held.unwrap_or_default()
            .iter()
            .copied()
            .chain(self.ack_held)
            .max_by_key(|ns| nr.wrapping_sub(*ns))
            .unwrap_or(nr)
    }

    /// Holds the acknowledgement of the received message `ns` (already delivered): until
    /// [`Channel::release_ack`], every Nr we send stays at or before it, so the peer keeps it
    /// unacknowledged and retransmits it (RFC 2661 5.8) to whoever holds the tunnel then (output
    /// commit of a message whose effect must reach a backup first, `lns::replicate` docs).
    /// Nothing for a message not delivered, or beyond `max_out_of_order` holds at once.
    pub fn hold_ack(&mut self, ns: u16) {
        if !seq_lt(ns, self.nr) || self.is_ack_held(ns) {
            return;
        }
        if self.ack_held.is_none() {
            self.ack_held = Some(ns);
            return;
        }
        let b = self.backlog.get_or_insert_with(Default::default);
        if b.ack_held.len() + 1 < self.cfg.max_out_of_order {
            b.ack_held.push(ns);
        }
    }

    /// Whether the acknowledgement of `ns` is held ([`Channel::hold_ack`]).
    fn is_ack_held(&self, ns: u16) -> bool {
        self.ack_held == Some(ns)
            || self
                .backlog
                .as_ref()
                .is_some_and(|b| b.ack_held.contains(&ns))
    }

    /// Whether any acknowledgement is held ([`Channel::hold_ack`]).
    fn any_ack_held(&self) -> bool {
        self.ack_held.is_some()
            || self
                .backlog
                .as_ref()
                .is_some_and(|b| !b.ack_held.is_empty())
    }

    /// Ends the hold of [`Channel::hold_ack`] on `ns`: the acknowledgement now owed goes with the
    /// next message sent, or a ZLB at [`Channel::flush_ack`].
    pub fn release_ack(&mut self, ns: u16) {
        let before = self.ack_nr();
        if self.ack_held == Some(ns) {
            self.ack_held = None;
        } else if let Some(b) = self.backlog.as_mut() {
            b.ack_held.retain(|n| *n != ns);
            self.trim_backlog();
        }
        if self.ack_nr() != before {
            self.ack_pending = true;
        }
    }

    /// Whether [`Channel::reserve`] would number a message now.
    pub fn can_reserve(&self) -> bool {
        !self.resync_ns
            && !self.held
            && usize::from(self.reserved) < self.cfg.max_send_queue
            // Placed pins wait in the queue for the Ns the failed endpoint gave them
            // (`Channel::pin`): a message numbered now would take the first one's.
            && self.backlog.as_ref().is_none_or(|b| b.placed == 0)
    }

    /// Lets the message reserved at `ns` ([`Channel::reserve`]), or the pin held at `ns`
    /// ([`Channel::pin_held`]), leave, now if the window allows.
    pub fn release(&mut self, now: Instant, ns: u16) {
        self.release_with(now, ns, None);
    }

    /// As [`Channel::release`], a message whose Nr moved since it was reserved rewritten into
    /// `arena` ([`Channel::release_marked_in`]'s way: the same octets).
    pub fn release_in(&mut self, now: Instant, ns: u16, arena: &mut BytesMut) {
        self.release_with(now, ns, Some(arena));
    }

    fn release_with(&mut self, now: Instant, ns: u16, arena: Option<&mut BytesMut>) {
        // The usual case (the ICRP held for its backup's acknowledgement): it is the
        // only reserved message, within the window, and nothing waits in the backlog. It is
        // sent at once, as `pump` would send it (nothing else `pump` sends can have become
        // sendable: the window and the queue are as they were).
        if self.reserved == 1 && !self.held && self.backlog.is_none() {
            let window = usize::from(self.cwnd.min(self.peer_window).max(1));
            let nr = self.ack_nr();
            let held = self
                .unacked
                .iter_mut()
                .take(window)
                .find(|m| m.0 == ns && m.2 == Flight::Held);
            if let Some((_, bytes, flight)) = held {
                *flight = Flight::Sent;
                set_nr(bytes, nr, arena);
                self.out.push_back(bytes.clone());
                self.reserved = 0;
                self.reserved_sent(now, nr);
                return;
            }
        }
        self.release_queued(now, ns, arena);
    }

    /// [`Channel::release_in`] of `ns`, then [`Channel::end_defer`], [`Channel::flush_ack_in`]
    /// and [`Channel::poll_transmit`] until none is left, in the usual case of a held answer
    /// released (`lns::replicate` docs, output commit): `ns` is the only reserved message and
    /// within the window, nothing waits in the backlog and nothing is queued to send. The
    /// message is handed back to be sent, not queued on the channel and polled; it carries
    /// our Nr, so no ZLB is owed after it (RFC 2661 5.8). `None`, nothing changed, in any
    /// other case (the general release then does it).
    pub fn release_alone(&mut self, now: Instant, ns: u16, arena: &mut BytesMut) -> Option<Bytes> {
        if self.reserved != 1 || self.held || self.backlog.is_some() || !self.out.is_empty() {
            return None;
        }
        let window = usize::from(self.cwnd.min(self.peer_window).max(1));
        let nr = self.ack_nr();
        let (_, bytes, flight) = self
            .unacked
            .iter_mut()
            .take(window)
            .find(|m| m.0 == ns && m.2 == Flight::Held)?;
        *flight = Flight::Sent;
        set_nr(bytes, nr, Some(arena));
        let b = bytes.clone();
        self.reserved = 0;
        // No ZLB owed after it, no deferral left (`reserved_sent`).
        self.reserved_sent(now, nr);
        Some(b)
    }

    /// As [`Channel::release`] of `ns`, the send left to [`Channel::release_marked`]: a run of
    /// reserved messages (a burst of held ICRPs, `lns::replicate` docs) is released with one
    /// walk of the window, not one per message. The same messages leave in the same order, with
    /// the same Nr, as when each is released at once: the messages released leave in Ns order
    /// either way (the run is released in the order reserved), and nothing else changes between
    /// them. With messages waiting in the backlog (which a release may let through between two
    /// of the run), it is [`Channel::release`].
    pub fn mark_released(&mut self, now: Instant, ns: u16) {
        if self.backlog.is_some() {
            self.release(now, ns);
            return;
        }
        // The unacknowledged messages hold consecutive Ns as a rule: looked up at its place
        // from the oldest's, else searched (the same one: an Ns is there once at most).
        let at = self
            .unacked
            .front()
            .map(|m| usize::from(ns.wrapping_sub(m.0)));
        let placed = at
            .and_then(|i| self.unacked.get_mut(i))
            .filter(|m| m.0 == ns && m.2 == Flight::Held);
        let held = match placed {
            Some(m) => Some(m),
            None => self
                .unacked
                .iter_mut()
                .find(|m| m.0 == ns && m.2 == Flight::Held),
        };
        if let Some(m) = held {
            m.2 = Flight::Released;
            self.released = self.released.saturating_add(1);
        }
    }

    /// Sends what [`Channel::mark_released`] let go, as the window allows.
    pub fn release_marked(&mut self, now: Instant) {
        self.pump(now);
    }

    /// As [`Channel::release_marked`], a message whose Nr moved since it was reserved (a
    /// message of the peer received meanwhile: a burst of ICRQs) rewritten into `arena` rather
    /// than into an allocation of its own (the same octets).
    pub fn release_marked_in(&mut self, now: Instant, arena: &mut BytesMut) {
        self.pump_in(now, Some(arena));
    }

    /// [`Channel::release`]'s general path: the message is marked released and [`Channel::pump`]
    /// sends what the window allows.
    fn release_queued(&mut self, now: Instant, ns: u16, arena: Option<&mut BytesMut>) {
        // A pin held at `ns` ([`Channel::pin_held`]; none is while a message is reserved there).
        if let Some(b) = self.backlog.as_mut() {
            b.held_pins.retain(|p| *p != ns);
        }
        let held = self
            .unacked
            .iter_mut()
            .find(|m| m.0 == ns && m.2 == Flight::Held);
        if let Some(m) = held {
            m.2 = Flight::Released;
            self.released = self.released.saturating_add(1);
        }
        self.pump_in(now, arena);
    }

    /// On a channel resumed from a replica ([`Channel::resume_replica`]) or about to be
    /// resynchronised by an RFC 4951 recovery ([`Channel::set_seq`]): `msg` is what the failed
    /// endpoint numbered `ns` (an ICRP it answered before its failure). Once the
    /// peer's next expected Ns is learnt: if `ns` is before it, the peer took that message
    /// (RFC 2661 5.8: in order); otherwise `msg` is sent again at `ns`, every Ns between the
    /// peer's next expected one and it that no pin names filled by a HELLO. Either way
    /// [`Channel::take_resolved`] reports it. At most `max_send_queue` pins.
    ///
    /// On a channel whose next Ns is known already (resumed and resynchronised, or neither
    /// resuming nor held: a call adopted after the takeover, whose answer the failed endpoint
    /// numbered and never sent), the pin is placed at once against our next Ns and sent as the
    /// window allows (crash-during-setup seed 260445: six such pins waited for a
    /// resynchronisation that had happened already, and the LAC cleared the calls at its
    /// set-up timer). A pin before our next Ns is then resolved as taken.
    pub fn pin(&mut self, now: Instant, ns: u16, msg: ControlMessage<'static>) -> bool {
        self.pin_with(now, ns, msg, false)
    }

    /// As [`Channel::pin`], the message held until [`Channel::release`] of `ns` (output commit:
    /// the answer of a call adopted from a replica goes once the endpoint's own backup holds
    /// the call, `lns::replicate` docs). Placed, it keeps its Ns, and what is queued behind it
    /// waits with it (RFC 2661 5.8: the peer delivers in order; nothing is reserved while a
    /// placed run waits, [`Channel::can_reserve`]); resolved as taken, its hold goes with it
    /// and the release changes nothing.
    pub fn pin_held(&mut self, now: Instant, ns: u16, msg: ControlMessage<'static>) -> bool {
        self.pin_with(now, ns, msg, true)
    }

    /// Whether the pin at `ns` waits for its release ([`Channel::pin_held`]).
    pub fn holds_pin(&self, ns: u16) -> bool {
        self.backlog
            .as_ref()
            .is_some_and(|b| b.held_pins.contains(&ns))
    }

    fn pin_with(
        &mut self,
        now: Instant,
        ns: u16,
        msg: ControlMessage<'static>,
        held: bool,
    ) -> bool {
        let b = self.backlog.get_or_insert_with(Default::default);
        if b.pins.len() >= self.cfg.max_send_queue {
            self.trim_backlog();
            return false;
        }
        b.pins.insert(ns, msg);
        if held && !b.held_pins.contains(&ns) {
            b.held_pins.push(ns);
        }
        if !self.resync_ns && !self.held {
            self.place_pins();
            self.pump(now);
        }
        true
    }

    /// The pins ([`Channel::pin`]) resolved since the last call, each with whether the peer
    /// had already taken it (`false`: sent again).
    pub fn take_resolved(&mut self) -> Vec<(u16, bool)> {
        let resolved = self
            .backlog
            .as_mut()
            .map(|b| std::mem::take(&mut b.resolved))
            .unwrap_or_default();
        self.trim_backlog();
        resolved
    }

    /// Whether resolved pins wait for [`Channel::take_resolved`].
    pub fn has_resolved(&self) -> bool {
        self.backlog
            .as_ref()
            .is_some_and(|b| !b.resolved.is_empty())
    }

    /// Our next Ns is now known to be the peer's next expected one (`self.ns`): the pins before
    /// it were taken, those from it on go first, at their own Ns, the gaps between filled by
    /// HELLOs ([`Channel::pin`]). A pin more than `max_send_queue` ahead is dropped (it cannot
    /// be the failed endpoint's: it had no more in flight).
    ///
    /// Run again while earlier placed messages still wait (a second call adopted behind a
    /// closed window), the new pins join that run at their own Ns: a pin takes the place of the
    /// HELLO filling its Ns, or the run grows up to it; the messages queued behind the run stay
    /// behind it. (A pin whose filling HELLO has already left is before our next Ns and
    /// resolved as taken: the peer took a message at its Ns.)
    fn place_pins(&mut self) {
        let Some(b) = self.backlog.as_mut() else {
            return;
        };
        if b.pins.is_empty() {
            return;
        }
        let next = self.ns;
        let limit = u16::try_from(self.cfg.max_send_queue).unwrap_or(u16::MAX);
        let mut ahead = BTreeMap::new();
        for (ns, msg) in std::mem::take(&mut b.pins) {
            if seq_lt(ns, next) {
                b.resolved.push((ns, true));
            } else if ns.wrapping_sub(next) < limit {
                ahead.insert(ns.wrapping_sub(next), msg);
            }
        }
        if ahead.is_empty() {
            b.keep_held_pins();
            return;
        }
        // The placed run is the queue's front, offset `i` at Ns `next + i`; what was queued
        // behind it goes back behind it.
        let mut behind = b.queue.split_off(usize::from(b.placed).min(b.queue.len()));
        for (off, msg) in ahead {
            let ns = next.wrapping_add(off);
            if off < b.placed {
                if let Some(slot) = b.queue.get_mut(usize::from(off)) {
                    *slot = Queued::plain(msg);
                }
                if b.placed_pins.contains(&ns) {
                    continue;
                }
            } else {
                while b.placed < off {
                    b.queue
                        .push_back(Queued::plain(ControlMessage::hello(self.peer_tunnel_id)));
                    b.placed += 1;
                }
                b.queue.push_back(Queued::plain(msg));
                b.placed += 1;
            }
            b.placed_pins.push(ns);
            b.resolved.push((ns, false));
        }
        b.queue.append(&mut behind);
        b.keep_held_pins();
    }

    /// Frees the backlog once nothing waits in it.
    fn trim_backlog(&mut self) {
        if self.backlog.as_ref().is_some_and(|b| b.is_empty()) {
            self.backlog = None;
        }
    }

    /// Sends a ZLB if a received message is still unacknowledged (nothing carried the Nr). Call it
    /// once the received messages have been processed, so that answers piggyback the ack.
    ///
    /// No ZLB goes when it would only repeat the Nr last sent while an acknowledgement is held
    /// ([`Channel::hold_ack`]): the message just taken is the held one, and the peer has the
    /// acknowledgement of everything before it (a duplicate or a message ahead of order is
    /// re-acknowledged all the same, RFC 2661 5.8).
    pub fn flush_ack(&mut self) {
        self.flush_ack_with(None);
    }

    /// As [`Channel::flush_ack`], the ZLB written into `arena` ([`Channel::send_in`]).
    pub fn flush_ack_in(&mut self, arena: &mut BytesMut) {
        self.flush_ack_with(Some(arena));
    }

    fn flush_ack_with(&mut self, arena: Option<&mut BytesMut>) {
        if self.ack_pending && self.ack_by.is_none() {
            self.ack_pending = false;
            let nr = self.ack_nr();
            if self.any_ack_held() && !self.reack && nr == self.nr_sent {
                return;
            }
            self.reack = false;
            self.nr_sent = nr;
            let zlb = ControlMessage::zlb(self.peer_tunnel_id, self.ns, nr);
            let b = match arena {
                Some(arena) => encode_into(&zlb, arena),
                None => {
                    let mut v = Vec::with_capacity(12);
                    zlb.emit(&mut v);
                    Bytes::from(v)
                }
            };
            self.out.push_back(b);
        }
    }

    /// A message carrying Nr `nr` is sent: no ZLB is owed any more.
    fn acked_by_sending(&mut self, nr: u16) {
        self.ack_pending = false;
        self.reack = false;
        self.nr_sent = nr;
    }

    /// Defers the ZLB owed for the messages received (module docs): [`Channel::flush_ack`]
    /// sends none until the next message sent carries the acknowledgement, or until
    /// [`Channel::handle_timeout`] at a quarter of the first retransmission timeout from `now`,
    /// or [`Channel::end_defer`]. Nothing when no acknowledgement is owed.
    pub fn defer_ack(&mut self, now: Instant) {
        if self.ack_pending && self.ack_by.is_none() {
            self.set_ack_by(Some(now + self.cfg.retransmit_initial / 4));
        }
    }

    /// The peer's messages taken in order whose acknowledgement nothing we sent has carried yet
    /// (our Nr less the Nr we last sent, modulo 2^16 as Ns and Nr are, RFC 2661 5.8).
    pub fn unacknowledged_received(&self) -> u16 {
        self.ack_nr().wrapping_sub(self.nr_sent)
    }

    /// Defers the ZLB owed as [`Channel::defer_ack`] does while the peer's messages taken and
    /// not yet acknowledged ([`Channel::unacknowledged_received`]) are fewer than half our
    /// Receive Window Size (at least one); once they reach it, ends the deferral and writes the
    /// ZLB owed into `arena` now ([`Channel::flush_ack_in`]). So a run of answers held back
    /// (an LNS's ICRPs waiting for its backup) costs one ZLB per half window, not one per
    /// message, and a peer whose congestion window is at least half our RWS (RFC 2661 5.8,
    /// Appendix A) never stalls on it; in slow start, with a smaller congestion window, the
    /// peer waits for the held answer, which carries the acknowledgement, or for the deferral's
    /// end. Returns whether the ZLB owed went now.
    pub fn defer_ack_within_window(&mut self, now: Instant, arena: &mut BytesMut) -> bool {
        let half = (self.cfg.receive_window / 2).max(1);
        if self.unacknowledged_received() < half {
            self.defer_ack(now);
            false
        } else {
            self.end_defer();
            self.flush_ack_in(arena);
            true
        }
    }

    /// Ends a deferral ([`Channel::defer_ack`]): [`Channel::flush_ack`] sends the ZLB if one is
    /// still owed.
    pub fn end_defer(&mut self) {
        self.set_ack_by(None);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let b = self.out.pop_front_freeing();
        if b.is_none() {
            // An idle tunnel keeps no buffers (`out` holds none once empty).
            self.trim_backlog();
            self.unacked.free();
        }
        b
    }

    /// When [`Channel::handle_timeout`] must be called.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.deadline, self.ack_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends the ZLB deferred ([`Channel::defer_ack`]) once its time came; retransmits the
    /// oldest unacknowledged message if its timer expired.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ChannelDead> {
        if self.ack_by.is_some_and(|t| t <= now) {
            self.set_ack_by(None);
            self.flush_ack();
        }
        let Some(d) = self.deadline else {
            return Ok(());
        };
        if now < d {
            return Ok(());
        }
        let first_sent = self.unacked.iter().position(|m| m.2 == Flight::Sent);
        if first_sent.is_none() && !self.resync_ns {
            self.set_deadline(None);
            return Ok(());
        }
        if self.retries >= self.cfg.max_retries {
            self.set_deadline(None);
            return Err(ChannelDead);
        }
        self.retries += 1;
        self.ssthresh = (self.cwnd / 2).max(1);
        self.cwnd = 1;
        self.ca_acked = 0;
        self.set_deadline(Some(now + self.rto()));
        if self.resync_ns {
            self.probe();
            return Ok(());
        }
        let nr = self.ack_nr();
        if let Some((_, bytes, _)) = first_sent.and_then(|i| self.unacked.iter_mut().nth(i)) {
            set_nr(bytes, nr, None);
            self.out.push_back(bytes.clone());
            self.nr_sent = nr;
        }
        Ok(())
    }

    /// The retransmission timeout after `retries` timeouts without progress (RFC 2661 5.8,
    /// Appendix A): `retransmit_initial`, doubled on each timeout up to `retransmit_cap`; reset
    /// by progress. Derived from the retry count rather than stored (memory per tunnel).
    fn rto(&self) -> Duration {
        let (mut rto, cap) = (self.cfg.retransmit_initial, self.cfg.retransmit_cap);
        for _ in 0..self.retries {
            if rto == cap {
                break;
            }
            rto = rto.checked_mul(2).unwrap_or(cap).min(cap);
        }
        rto
    }

    /// The deadline to arm for this channel in its owner's timer queue, when the queue must
    /// change; `None` when what it holds already serves. The queue is touched only when the
    /// channel's deadline comes before what is armed (or nothing is): a deadline that moves later
    /// or goes (an acknowledgement) leaves the earlier one armed, and its firing is a no-op
    /// ([`Channel::handle_timeout`] does nothing before a deadline) after which the owner re-arms
    /// (no queue operation per message acknowledged). The owner must arm what this
    /// returns, and call [`Channel::timer_fired`] when the queue fires (removes) it.
    pub fn sync_timer(&mut self) -> Option<Instant> {
        let want = self.deadline()?;
        if self.armed.is_some_and(|a| a <= want) {
            return None;
        }
        self.armed = Some(want);
        Some(want)
    }

    /// The owner's timer (which may serve other deadlines too) is to fire at `at` or before:
    /// `true` when the owner must arm it at `at` (it was armed later, or not at all), noted as
    /// armed ([`Channel::sync_timer`]).
    pub fn arm_at(&mut self, at: Instant) -> bool {
        if self.armed.is_some_and(|a| a <= at) {
            return false;
        }
        self.armed = Some(at);
        true
    }

    /// The owner's timer queue fired (removed) this channel's timer ([`Channel::sync_timer`]).
    pub fn timer_fired(&mut self) {
        self.armed = None;
    }

    /// What the owner's timer queue holds for this channel ([`Channel::sync_timer`]): never
    /// after [`Channel::deadline`] when that is set.
    pub fn armed(&self) -> Option<Instant> {
        self.armed
    }

    /// Sets the retransmission deadline ([`Channel::sync_timer`] arms it).
    fn set_deadline(&mut self, d: Option<Instant>) {
        self.deadline = d;
    }

    /// Sets the deferred acknowledgement's deadline ([`Channel::sync_timer`] arms it).
    fn set_ack_by(&mut self, d: Option<Instant>) {
        self.ack_by = d;
    }

    /// Are all sent messages acknowledged and none waiting?
    pub fn is_idle(&self) -> bool {
        self.unacked.is_empty() && self.backlog.as_ref().is_none_or(|b| b.queue.is_empty())
    }

    /// Messages sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.unacked.len()
    }

    /// Whether the oldest message in flight went a whole retransmission timeout without an
    /// acknowledgement (it was sent again; RFC 2661 5.8): the peer is not answering right now,
    /// as opposed to a message just sent.
    pub fn retransmitting(&self) -> bool {
        !self.unacked.is_empty() && self.retries > 0
    }

    /// How long the peer has acknowledged nothing while a message of ours waited for it (zero
    /// when none waits): since the oldest message in flight was sent, or since the last
    /// acknowledgement that moved the window, whichever is later. A message retransmitted once
    /// after a loss is not a silent peer; one unacknowledged for this long may be.
    pub fn unacknowledged_for(&self, now: Instant) -> Duration {
        self.unacked_since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// The congestion window.
    pub fn cwnd(&self) -> u16 {
        self.cwnd
    }

    /// Next Ns to send and next Nr expected.
    pub fn seq(&self) -> (u16, u16) {
        (self.ns, self.nr)
    }

    /// Our next Ns is `ns` and the peer's next expected `nr`: what was in flight, received out
    /// of order, reserved or held for acknowledgement under the old numbering is dropped
    /// ([`Channel::set_seq`], [`Channel::resume_replica`]).
    fn restart_sequence(&mut self, ns: u16, nr: u16) {
        let old_ns = self.ns;
        self.ns = ns;
        self.nr = nr;
        self.unacked = Unacked::default();
        self.reserved = 0;
        self.released = 0;
        self.ack_held = None;
        self.unacked_since = None;
        // What the peer last had from us is not known under the new numbering.
        self.reack = true;
        if let Some(b) = self.backlog.as_mut() {
            b.ooo.clear();
            b.ack_held.clear();
            b.unplace(old_ns);
        }
    }

    /// Resumes the channel at the sequence numbers `ns` (of the next message sent) and `nr` (of
    /// the next message expected), as RFC 4951 recovery does with the Suggested Control Sequence:
    /// messages sent and not acknowledged and messages received out of order are discarded (the
    /// peer's side of the channel restarts from these numbers too), the retransmission and
    /// congestion state starts afresh. Messages queued and not yet sent stay queued; they go out
    /// (numbered from `ns`) once the channel is not held ([`Channel::set_held`]).
    pub fn set_seq(&mut self, now: Instant, ns: u16, nr: u16) {
        self.restart_sequence(ns, nr);
        self.place_pins();
        self.trim_backlog();
        self.retries = 0;
        self.set_deadline(None);
        self.cwnd = 1;
        self.ca_acked = 0;
        self.ack_pending = false;
        self.set_ack_by(None);
        self.pump(now);
    }

    /// Drops the messages sent before Ns `ns` that are still unacknowledged (RFC 4951: the
    /// recovering peer resumes expecting `ns`, it never takes them) and restarts the
    /// retransmission state for the rest.
    pub fn discard_before(&mut self, now: Instant, ns: u16) {
        self.unacked.retain(|(n, _, _)| !seq_lt(*n, ns));
        let reserved = self.unacked.iter().filter(|m| m.2 != Flight::Sent).count();
        self.reserved = u16::try_from(reserved).unwrap_or(u16::MAX);
        let released = self.unacked.iter().filter(|m| m.2 == Flight::Released);
        self.released = u16::try_from(released.count()).unwrap_or(u16::MAX);
        self.unacked_since = (!self.unacked.is_empty()).then_some(now);
        self.retries = 0;
        self.set_deadline((!self.unacked.is_empty()).then(|| now + self.rto()));
        self.pump(now);
    }

    /// Forgets the messages of a session that was cleared without them (RFC 4951 3.3 Step I:
    /// "silently cleared"; a cleared call sends nothing more) that wait in the queue, not yet
    /// numbered: those carrying our Session ID `sid` as their Assigned Session ID (ICRQ, ICRP,
    /// OCRQ, OCRP, CDN) or sent for its set-up, and those addressed to the peer's Session ID
    /// `peer_sid`. Messages already numbered (sent, reserved) keep their Ns. A message in the
    /// placed run (RFC 4951 pins, whose Ns are fixed) becomes a HELLO at the same place, so
    /// the messages behind it keep their Ns. Returns how many were forgotten.
    pub fn forget_session(&mut self, sid: u16, peer_sid: Option<u16>) -> usize {
        let Some(b) = self.backlog.as_mut() else {
            return 0;
        };
        let of = |q: &Queued| {
            q.setup == Some(sid)
                || q.msg.assigned_session_id() == Some(sid)
                || (peer_sid.is_some() && Some(q.msg.header.session_id) == peer_sid)
        };
        let placed = usize::from(b.placed);
        let mut forgotten = 0;
        for q in b.queue.iter_mut().take(placed) {
            if of(q) {
                *q = Queued::plain(ControlMessage::hello(q.msg.header.tunnel_id));
                forgotten += 1;
            }
        }
        let mut i = placed;
        while i < b.queue.len() {
            if of(&b.queue[i]) {
                b.queue.remove(i);
                forgotten += 1;
            } else {
                i += 1;
            }
        }
        self.trim_backlog();
        forgotten
    }

    /// Holds (`true`) or releases (`false`) the channel: while held, messages given to
    /// [`Channel::send`] are queued but none is sent (RFC 4951: the recovering endpoint sends
    /// nothing on the old tunnel until it has the Suggested Control Sequence). Releasing sends
    /// what the window allows.
    pub fn set_held(&mut self, now: Instant, held: bool) {
        self.held = held;
        self.pump(now);
    }

    /// The sequence state a backup needs to resume this channel
    /// ([`crate::l2tp::replica`]): the Ns of the oldest message the peer has not acknowledged (the
    /// next Ns when none is waiting), the next Nr, and the peer's Receive Window Size. The first
    /// is never ahead of what the peer expects next, whatever is sent later.
    pub fn replica_state(&self) -> (u16, u16, u16) {
        let ns = self.unacked.front().map_or(self.ns, |(ns, _, _)| *ns);
        (ns, self.nr, self.peer_window)
    }

    /// Resumes, on a backup taking a tunnel over, a channel from [`Channel::replica_state`] of
    /// the failed LNS, possibly lagging its real counters:
    ///
    /// * our next Ns is learnt from the peer: a HELLO whose Ns is just before `ns` (a duplicate
    ///   for the peer, which RFC 2661 5.8 has it acknowledge without processing it) is sent and
    ///   retransmitted on the channel's timer (`max_retries` then the channel is dead); the Nr of
    ///   the first message from the peer (its ZLB acknowledging the probe, or any other) is our
    ///   next Ns. Nothing else is sent until then. Later, a peer's Nr past our next Ns (messages
    ///   of the failed LNS the peer held out of order until ours filled the gap) moves our next
    ///   Ns to it, so no message of ours goes at an Ns the peer already took. A message of ours
    ///   numbered before that, in the gap, is still taken by the peer as a duplicate (it got the
    ///   failed LNS's message at that Ns): such a message is lost.
    /// * our next Nr stays the replica's `nr` until the peer shows it is past it: our Nr never
    ///   acknowledges a message of the peer we did not take, so the peer retransmits every one
    ///   it still has unacknowledged (RFC 2661 5.8) and each is delivered here, in order. The
    ///   messages from `nr` on that the failed LNS took after its copy (a HELLO, or another
    ///   whose effect was not replicated: a message whose effect the LNS replicated carries the
    ///   Nr past it, `lns::replicate` docs) and acknowledged, the peer never sends again; it
    ///   retransmits its oldest unacknowledged message instead, after a retransmission timeout
    ///   (RFC 2661 Appendix A: after a timeout the sender's window is one message). So a message
    ///   ahead of our Nr that arrives again at least half of [`ChannelConfig::retransmit_initial`]
    ///   after its first copy (a retransmission, not a copy the network duplicated), or that
    ///   arrives that long after the peer's first datagram since the resume showed it sent
    ///   already (a ZLB's Ns is past it, or a message's Ns is at or past it: a copy of it sent
    ///   then that arrives now is a retransmission), is the peer's oldest unacknowledged one:
    ///   our Nr moves to it (what was before it is dropped, the failed LNS took it) and it is
    ///   delivered with those after it (the second form only when no message before it is
    ///   held: a peer that retransmits every unacknowledged message may have lost an earlier
    ///   one). The second form matters when the peer's retransmissions are spread over two
    ///   takers in turn (a false Down moving the tunnel again), each getting a single copy.
    ///   Taking the first message to arrive instead would acknowledge a message lost or
    ///   overtaken on the way (a CDN overtaken by the next one was acknowledged and
    ///   never retransmitted, leaving at the backup a session the LAC had cleared); holding the
    ///   Nr with no end would make a peer that sees its messages unacknowledged give the tunnel
    ///   up.
    ///
    /// * when the Nr moves so, the peer's message has gone through part of its retransmissions
    ///   already (the failed LNS's silence until the takeover, and the copy this rule waits
    ///   for), so its acknowledgement should not rest on one ZLB per remaining retransmission:
    ///   [`Channel::take_nr_moved`] tells the caller, which sends a message of its own (the
    ///   tunnel's HELLO when nothing is in flight), retransmitted on our own timer, carrying the
    ///   Nr (RFC 2661 5.8: an acknowledgement rides on any message). Issue 15, crash-during-setup
    ///   seed 27073: a LAC's ICCN retransmitted through the takeover was taken on its second
    ///   copy and every ZLB for it was lost; the LAC's retransmissions ran out and it cleared
    ///   the tunnel with its 30 calls.
    ///
    /// A message of the failed LNS that the peer never received is lost (the peer then gets the
    /// backup's next message in its place).
    pub fn resume_replica(&mut self, now: Instant, ns: u16, nr: u16, peer_window: u16) {
        self.set_peer_window(peer_window);
        self.restart_sequence(ns, nr);
        self.trim_backlog();
        self.first_seen = None;
        self.resync_ns = true;
        self.resync_nr = true;
        self.resumed = true;
        self.set_ack_by(None);
        self.retries = 0;
        self.set_deadline(Some(now + self.rto()));
        self.probe();
    }

    /// Learns our next Nr again from the peer, as a channel resumed from a replica does
    /// ([`Channel::resume_replica`], second point), our Ns kept: another endpoint behind our
    /// address, sharing this channel's numbering with the peer, may have taken and acknowledged
    /// messages of the peer we never got (two members of a virtual LNS that both took a tunnel
    /// over and both recovered it, RFC 4951 3.2; `lns::takeover` docs, two takers). RFC 2661
    /// 5.8: the peer never sends again a message acknowledged, and retransmits its oldest
    /// unacknowledged one; such a retransmission ahead of our Nr moves our Nr to it. A message
    /// taken in order first confirms the Nr. A peer's Nr past our next Ns (messages the other
    /// endpoint numbered) moves our next Ns to it, as on a resumed channel. Nothing is sent.
    pub fn resync_nr_again(&mut self) {
        if self.resync_nr {
            return;
        }
        self.resync_nr = true;
        self.resumed = true;
        self.first_seen = None;
    }

    /// Whether the channel still waits for the peer to tell its sequence numbers.
    pub fn is_resyncing(&self) -> bool {
        self.resync_ns || self.resync_nr
    }

    /// The probe of a resumed channel: a HELLO the peer sees as a duplicate.
    fn probe(&mut self) {
        let mut hello = ControlMessage::hello(self.peer_tunnel_id);
        hello.header.ns = self.ns.wrapping_sub(1);
        hello.header.nr = self.nr;
        let mut v = Vec::with_capacity(hello.encoded_len());
        hello.emit(&mut v);
        self.out.push_back(Bytes::from(v));
        self.nr_sent = self.nr;
    }

    /// Our next Ns on a resumed channel, from the peer's first message (see
    /// [`Channel::resume_replica`]).
    fn resync(&mut self, _now: Instant, msg: &ControlMessage<'static>) {
        if self.resync_ns {
            self.resync_ns = false;
            self.ns = msg.header.nr;
            self.retries = 0;
            self.set_deadline(None);
            self.place_pins();
        }
    }

    /// Our next Nr on a resumed channel (see [`Channel::resume_replica`]), at the peer's message
    /// `ns` (not a ZLB): taken in order, the Nr is confirmed; a retransmission of a message kept
    /// out of order moves the Nr to it.
    fn resync_nr_from(&mut self, now: Instant, ns: u16) {
        if ns == self.nr {
            self.resync_nr = false;
            self.first_seen = None;
            return;
        }
        let long_ago =
            |t: Instant| now.saturating_duration_since(t) >= self.cfg.retransmit_initial / 2;
        let r = self.first_seen.as_deref();
        // The second form below only for the lowest message held: one the peer sent before it
        // is outstanding (a peer retransmitting every unacknowledged message may have lost it).
        let lowest = || {
            self.backlog
                .as_ref()
                .is_none_or(|b| !b.ooo.keys().any(|k| seq_lt(*k, ns) && !seq_lt(*k, self.nr)))
        };
        // Seen before, or known sent by the peer before then (seed 110109: each of the two
        // takers in turn got one copy of the LAC's retransmitted ICCN; the second taker knew
        // from the LAC's ZLB, 20 s before, that it had been sent).
        let again = r
            .and_then(|r| r.first_seen.get(&ns))
            .is_some_and(|t| long_ago(*t))
            || r.and_then(|r| r.sent_before)
                .is_some_and(|(before, t)| seq_lt(ns, before) && long_ago(t) && lowest());
        if !again || seq_lt(ns, self.nr) {
            return;
        }
        // The peer's oldest unacknowledged message: what was before it, the failed LNS took.
        if let Some(b) = self.backlog.as_mut() {
            b.ooo.retain(|n, _| !seq_lt(*n, ns));
            b.ooo.remove(&ns);
        }
        self.trim_backlog();
        self.nr = ns;
        self.resync_nr = false;
        self.nr_moved = true;
        self.first_seen = None;
    }

    /// Notes, on a resumed channel still learning its Nr, the first datagram from the peer: it
    /// had sent every message before Ns `before` by `now` ([`Channel::resume_replica`]).
    fn note_sent_before(&mut self, now: Instant, before: u16) {
        if !self.resync_nr {
            return;
        }
        let r = self.first_seen.get_or_insert_with(Default::default);
        r.sent_before.get_or_insert((before, now));
    }

    /// Whether the Nr of this resumed channel moved to a retransmission of the peer since last
    /// asked ([`Channel::resume_replica`]): the caller acknowledges with a message of its own.
    pub fn take_nr_moved(&mut self) -> bool {
        std::mem::take(&mut self.nr_moved)
    }

    /// Sets the tunnel id to use once the peer assigned one; rewrites queued copies too.
    pub fn set_peer_tunnel_id(&mut self, id: u16) {
        self.peer_tunnel_id = id;
        for (_, b, _) in self.unacked.iter_mut() {
            let mut copy = b.to_vec();
            if let Some(slot) = copy.get_mut(4..6) {
                slot.copy_from_slice(&id.to_be_bytes());
            }
            *b = Bytes::from(copy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_wraps() {
        assert!(seq_lt(65535, 0));
        assert!(seq_lt(1, 2));
        assert!(!seq_lt(2, 1));
        assert!(!seq_lt(5, 5));
    }

    /// An arena whose datagrams were all freed writes from the start of its block again: a
    /// thousand messages, each sent, acknowledged by a ZLB written in the same arena and freed,
    /// take no second block.
    #[test]
    fn an_arena_is_reused_once_its_datagrams_are_freed() {
        let (t, mut a, mut b) = pair();
        let mut arena = BytesMut::new();
        let mut first = None;
        for i in 0..1000u16 {
            a.send_in(t, ControlMessage::hello(0), &mut arena).unwrap();
            let d = a.poll_transmit().unwrap();
            let start = *first.get_or_insert(d.as_ptr() as usize);
            let at = d.as_ptr() as usize;
            assert!(
                (start..start + ARENA_BLOCK).contains(&at),
                "message {i} in a new block"
            );
            let m = parse(&d);
            assert_eq!((m.header.ns, m.header.nr), (i, 0));
            drop(d);
            b.receive(t, m);
            b.flush_ack_in(&mut arena);
            let z = b.poll_transmit().unwrap();
            let at = z.as_ptr() as usize;
            assert!(
                (start..start + ARENA_BLOCK).contains(&at),
                "ZLB {i} in a new block"
            );
            a.receive(t, parse(&z));
            assert_eq!(a.in_flight(), 0);
        }
    }

    fn parse(b: &Bytes) -> ControlMessage<'static> {
        match crate::l2tp::wire::Message::parse(b).unwrap().into_owned() {
            crate::l2tp::wire::Message::Control(c) => c,
            _ => panic!(),
        }
    }

    /// Two channels with default parameters, each naming the other's tunnel (1 and 2).
    fn pair() -> (Instant, Channel, Channel) {
        let a = Channel::new(ChannelConfig::default(), 1);
        (Instant::now(), a, Channel::new(ChannelConfig::default(), 2))
    }

    #[test]
    fn in_order_ooo_duplicate_and_zlb() {
        let (t, mut a, mut b) = pair();
        a.set_peer_window(8);
        for i in 0..3 {
            a.send(t, ControlMessage::hello(0)).unwrap();
            let _ = i;
        }
        // Slow start: only one in flight at first.
        let m0 = a.poll_transmit().unwrap();
        assert!(a.poll_transmit().is_none());
        let d = b.receive(t, parse(&m0));
        assert_eq!(d.len(), 1);
        b.flush_ack();
        let zlb = b.poll_transmit().unwrap();
        assert!(parse(&zlb).is_zlb());
        a.receive(t, parse(&zlb));
        // cwnd 2 now.
        let m1 = a.poll_transmit().unwrap();
        let m2 = a.poll_transmit().unwrap();
        // Deliver out of order and duplicate.
        assert!(b.receive(t, parse(&m2)).is_empty());
        b.flush_ack();
        let _ = b.poll_transmit();
        assert_eq!(b.receive(t, parse(&m1)).len(), 2);
        b.flush_ack();
        let _ = b.poll_transmit();
        assert!(b.receive(t, parse(&m1)).is_empty());
        b.flush_ack();
        let re_ack = parse(&b.poll_transmit().unwrap());
        assert!(re_ack.is_zlb());
        assert_eq!(re_ack.header.nr, 3);
    }

    /// Slow start to the threshold, then one more per window; a timeout halves the threshold and
    /// restarts from 1.
    #[test]
    fn slow_start_congestion_avoidance_and_timeout() {
        let (t, mut a, mut b) = pair();
        a.set_peer_window(16);
        a.ssthresh = 4;
        let mut windows = Vec::new();
        for _ in 0..200 {
            let _ = a.send(t, ControlMessage::hello(0));
        }
        for _ in 0..8 {
            // One round: send what the window allows, the peer acks all at once.
            let mut sent = Vec::new();
            while let Some(m) = a.poll_transmit() {
                sent.push(parse(&m));
            }
            windows.push(sent.len());
            for m in sent {
                let _ = b.receive(t, m);
            }
            b.flush_ack();
            while let Some(z) = b.poll_transmit() {
                let _ = a.receive(t, parse(&z));
            }
        }
        // 1, 2, 4 (slow start doubles), then +1 per round (congestion avoidance).
        assert_eq!(windows[..5], [1, 2, 4, 5, 6]);
        // Loss: everything in flight times out.
        let before = a.cwnd();
        while a.poll_transmit().is_some() {}
        let d = a.deadline().unwrap();
        a.handle_timeout(d).unwrap();
        assert_eq!(a.cwnd(), 1);
        assert_eq!(a.ssthresh, (before / 2).max(1));
    }

    /// `retransmitting`: a message just sent is in flight but not yet a silent peer; after a
    /// retransmission timeout without acknowledgement it is; an acknowledgement ends it.
    #[test]
    fn retransmitting_only_after_a_timeout() {
        let (t, mut a, mut b) = pair();
        assert!(!a.retransmitting());
        a.send(t, ControlMessage::hello(0)).unwrap();
        let first = a.poll_transmit().unwrap();
        assert_eq!(a.in_flight(), 1);
        assert!(!a.retransmitting(), "just sent");
        let d = a.deadline().unwrap();
        a.handle_timeout(d).unwrap();
        assert!(a.retransmitting());
        let _ = b.receive(d, parse(&first));
        b.flush_ack();
        while let Some(z) = b.poll_transmit() {
            let _ = a.receive(d, parse(&z));
        }
        assert!(!a.retransmitting(), "acknowledged");
    }

    /// RFC 4951 resumption: after `set_seq` the next message carries the suggested Ns and Nr,
    /// nothing old is retransmitted, and a held channel sends nothing until released.
    #[test]
    fn set_seq_and_hold() {
        let (t, mut a, _) = pair();
        a.send(t, ControlMessage::hello(0)).unwrap();
        let _ = a.poll_transmit();
        a.set_held(t, true);
        a.set_seq(t, 17, 42);
        assert_eq!(a.seq(), (17, 42));
        assert_eq!(a.in_flight(), 0);
        assert!(a.deadline().is_none());
        a.send(t, ControlMessage::hello(0)).unwrap();
        assert!(a.poll_transmit().is_none(), "held");
        a.set_held(t, false);
        let m = parse(&a.poll_transmit().unwrap());
        assert_eq!((m.header.ns, m.header.nr), (17, 42));
        assert_eq!(a.seq(), (18, 42));
    }

    /// RFC 2661 5.8 (module docs): a deferred acknowledgement is not sent as a ZLB while the
    /// answer is awaited; the answer carries it (Nr); without an answer the ZLB goes at a quarter
    /// of the first retransmission timeout, before the peer retransmits.
    #[test]
    fn deferred_ack_rides_on_the_answer_or_goes_in_time() {
        let (t, mut a, mut b) = pair();
        // Answered: the ZLB is never sent, the answer acknowledges.
        a.send(t, ControlMessage::hello(0)).unwrap();
        assert_eq!(b.receive(t, parse(&a.poll_transmit().unwrap())).len(), 1);
        b.defer_ack(t);
        b.flush_ack();
        assert!(
            b.poll_transmit().is_none(),
            "no ZLB while the answer is awaited"
        );
        b.send(t, ControlMessage::hello(0)).unwrap();
        let answer = parse(&b.poll_transmit().unwrap());
        assert!(!answer.is_zlb());
        assert_eq!(answer.header.nr, 1, "the answer acknowledges");
        assert!(b.poll_transmit().is_none());
        // Not answered: the ZLB goes at the deferral's end, within the peer's timeout.
        a.receive(t, answer);
        a.flush_ack();
        let _ = a.poll_transmit();
        a.send(t, ControlMessage::hello(0)).unwrap();
        assert_eq!(b.receive(t, parse(&a.poll_transmit().unwrap())).len(), 1);
        b.defer_ack(t);
        b.flush_ack();
        assert!(b.poll_transmit().is_none());
        let due = b.deadline().unwrap();
        assert_eq!(due, t + ChannelConfig::default().retransmit_initial / 4);
        assert!(due < a.deadline().unwrap(), "before the peer retransmits");
        b.handle_timeout(due).unwrap();
        let zlb = parse(&b.poll_transmit().unwrap());
        assert!(zlb.is_zlb());
        assert_eq!(zlb.header.nr, 2);
        // Ended early: the ZLB goes at once.
        a.send(t, ControlMessage::hello(0)).unwrap();
        let _ = a.receive(t, zlb);
        a.send(t, ControlMessage::hello(0)).unwrap();
        while let Some(m) = a.poll_transmit() {
            let _ = b.receive(t, parse(&m));
        }
        b.defer_ack(t);
        b.flush_ack();
        assert!(b.poll_transmit().is_none());
        b.end_defer();
        b.flush_ack();
        assert!(parse(&b.poll_transmit().unwrap()).is_zlb());
    }

    /// RFC 2661 5.8 (module docs): a run of messages whose answers are deferred
    /// (`Channel::defer_ack_within_window`, an LNS's ICRPs held for its backup) is acknowledged
    /// by a ZLB each time half our Receive Window Size of them wait (4 of 8), carrying the Nr of
    /// all taken, and by none in between; the peer, its congestion window open, never has more
    /// than half our window unacknowledged.
    #[test]
    fn a_deferred_run_is_acknowledged_once_per_half_window() {
        let (t, mut a, mut b) = pair();
        a.set_peer_window(ChannelConfig::default().receive_window);
        // Slow start over (RFC 2661 Appendix A): messages acknowledged one by one.
        for _ in 0..16 {
            a.send(t, ControlMessage::hello(0)).unwrap();
            while let Some(m) = a.poll_transmit() {
                let _ = b.receive(t, parse(&m));
            }
            b.flush_ack();
            while let Some(z) = b.poll_transmit() {
                let _ = a.receive(t, parse(&z));
            }
        }
        assert!(a.cwnd() >= 4, "cwnd {}", a.cwnd());
        let half = usize::from(ChannelConfig::default().receive_window / 2);
        let mut arena = BytesMut::new();
        let (mut zlbs, mut most_unacked) = (Vec::new(), 0);
        for i in 1..=12 {
            a.send(t, ControlMessage::hello(0)).unwrap();
            let m = parse(&a.poll_transmit().expect("the window is open"));
            assert_eq!(b.receive(t, m).len(), 1);
            most_unacked = most_unacked.max(a.in_flight());
            let went = b.defer_ack_within_window(t, &mut arena);
            assert_eq!(went, i % half == 0, "message {i}");
            b.flush_ack();
            while let Some(z) = b.poll_transmit() {
                let z = parse(&z);
                assert!(z.is_zlb());
                zlbs.push((i, z.header.nr));
                a.receive(t, z);
            }
        }
        // After the 4th, 8th and 12th message of the run, each acknowledging all taken.
        assert_eq!(zlbs, [(4, 20), (8, 24), (12, 28)]);
        assert_eq!(most_unacked, half);
        assert_eq!(b.unacknowledged_received(), 0);
    }

    /// `ChannelConfig::give_up_after` as the sum it stands for (RFC 2661 5.8: the first
    /// timeout, doubled after each retransmission up to the cap, over the first send and
    /// `max_retries` retransmissions), in `Duration` arithmetic, saturating.
    fn give_up_after_by_sum(c: &ChannelConfig) -> Duration {
        let mut rto = c.retransmit_initial;
        let mut total = Duration::ZERO;
        for _ in 0..=c.max_retries.min(64) {
            total = total.saturating_add(rto);
            rto = rto
                .checked_mul(2)
                .unwrap_or(c.retransmit_cap)
                .min(c.retransmit_cap);
        }
        total
    }

    proptest::proptest! {
        /// `give_up_after` (integer nanoseconds, the capped sends multiplied) equals the sum of
        /// the timeouts, for any timeouts (from nanoseconds to `Duration::MAX`, an initial
        /// timeout above the cap included) and any retry count.
        #[test]
        fn give_up_after_is_the_sum_of_the_timeouts(
            initial in proptest::prop_oneof![0u64..5_000_000_000, 0u64..u64::MAX, proptest::strategy::Just(u64::MAX)],
            initial_ns in 0u32..1_000_000_000,
            cap in proptest::prop_oneof![0u64..70, 0u64..u64::MAX, proptest::strategy::Just(u64::MAX)],
            cap_ns in 0u32..1_000_000_000,
            max_retries in proptest::prop_oneof![0u32..12, 0u32..200, proptest::strategy::Just(u32::MAX)],
        ) {
            let c = ChannelConfig {
                retransmit_initial: Duration::new(initial, initial_ns),
                retransmit_cap: Duration::new(cap, cap_ns),
                max_retries,
                ..ChannelConfig::default()
            };
            proptest::prop_assert_eq!(c.give_up_after(), give_up_after_by_sum(&c));
        }
    }

    #[test]
    fn retransmit_backoff_then_dead() {
        let t = Instant::now();
        let cfg = ChannelConfig::default();
        let mut a = Channel::new(cfg.clone(), 1);
        a.send(t, ControlMessage::hello(0)).unwrap();
        let _ = a.poll_transmit();
        let mut now = t;
        let mut gaps = Vec::new();
        loop {
            let d = a.deadline().unwrap();
            gaps.push(d - now);
            now = d;
            if a.handle_timeout(now).is_err() {
                break;
            }
            assert!(a.poll_transmit().is_some());
        }
        assert_eq!(gaps.len() as u32, cfg.max_retries + 1);
        assert_eq!(gaps.iter().sum::<Duration>(), cfg.give_up_after());
        assert_eq!(gaps[0], Duration::from_secs(1));
        assert_eq!(gaps[1], Duration::from_secs(2));
        assert_eq!(*gaps.last().unwrap(), Duration::from_secs(8));
    }

    /// A message alone in flight is held in place (no queue buffer), retransmitted unchanged
    /// but for the Nr at its timeout, and gone once the peer's Nr acknowledges it, with no
    /// timer left (RFC 2661 5.8).
    #[test]
    fn one_message_in_flight_is_held_in_place_until_acknowledged() {
        let (t, mut a, mut b) = pair();
        a.send(t, ControlMessage::hello(0)).unwrap();
        assert!(matches!(a.unacked, Fifo::One(_)));
        let first = parse(&a.poll_transmit().unwrap());
        assert!(a.poll_transmit().is_none());
        assert!(matches!(a.unacked, Fifo::One(_)), "kept until acknowledged");
        let d = a.deadline().unwrap();
        a.handle_timeout(d).unwrap();
        let again = parse(&a.poll_transmit().unwrap());
        assert_eq!(again, first);
        b.receive(t, again);
        b.flush_ack();
        let zlb = parse(&b.poll_transmit().unwrap());
        assert!(zlb.is_zlb() && zlb.header.nr == first.header.ns.wrapping_add(1));
        a.receive(d, zlb);
        assert_eq!(a.in_flight(), 0);
        assert!(a.deadline().is_none());
        assert!(a.poll_transmit().is_none());
        assert!(matches!(&a.unacked, Fifo::Many(q) if q.capacity() == 0));
    }

    proptest::proptest! {
        /// [`Outgoing`] (one datagram held in place, more in a queue) is a first-in first-out
        /// queue: the same datagrams in the same order as a `VecDeque` given the same pushes and
        /// pops, and it holds no vector once emptied (an idle tunnel keeps no buffers).
        #[test]
        fn outgoing_is_first_in_first_out(ops in proptest::collection::vec(proptest::option::of(0u8..=255), 0..64)) {
            let (mut out, mut model) = (Outgoing::default(), VecDeque::new());
            for op in ops {
                match op {
                    Some(x) => {
                        out.push_back(Bytes::from(vec![x]));
                        model.push_back(Bytes::from(vec![x]));
                    }
                    None => proptest::prop_assert_eq!(out.pop_front_freeing(), model.pop_front()),
                }
                if model.is_empty() {
                    proptest::prop_assert!(matches!(&out, Fifo::Many(v) if v.capacity() == 0));
                }
            }
            while let Some(b) = model.pop_front() {
                proptest::prop_assert_eq!(out.pop_front_freeing(), Some(b));
            }
            proptest::prop_assert_eq!(out.pop_front_freeing(), None);
        }

        /// [`Unacked`] (one message held in place, more in a queue) keeps the messages a
        /// `VecDeque` keeps given the same operations (numbering, acknowledgement of the oldest,
        /// a discard, a change in place): the same ones in the same order, so the oldest is the
        /// one retransmitted and the first acknowledged (RFC 2661 5.8); one message alone holds
        /// no queue buffer.
        #[test]
        fn unacked_keeps_what_a_queue_keeps(
            ops in proptest::collection::vec((0u8..5, proptest::prelude::any::<u16>()), 0..64),
        ) {
            let (mut un, mut model) = (Unacked::default(), VecDeque::new());
            for (op, x) in ops {
                let e = (x, Bytes::from(x.to_be_bytes().to_vec()), Flight::Sent);
                match op {
                    0 | 1 => {
                        un.push_back(e.clone());
                        model.push_back(e);
                    }
                    2 => proptest::prop_assert_eq!(un.pop_front(), model.pop_front()),
                    3 => {
                        un.retain(|m| m.0 % 3 != x % 3);
                        model.retain(|m| m.0 % 3 != x % 3);
                    }
                    _ => {
                        let i = usize::from(x) % (model.len() + 1);
                        if let Some(m) = un.iter_mut().nth(i) {
                            m.2 = Flight::Held;
                        }
                        if let Some(m) = model.get_mut(i) {
                            m.2 = Flight::Held;
                        }
                    }
                }
                proptest::prop_assert_eq!(un.len(), model.len());
                proptest::prop_assert_eq!(un.is_empty(), model.is_empty());
                proptest::prop_assert_eq!(un.front(), model.front());
                proptest::prop_assert!(un.iter().eq(model.iter()));
                if model.len() == 1 && matches!(un, Fifo::One(_)) {
                    proptest::prop_assert_eq!(un.capacity(), 0);
                }
            }
        }

        /// Releasing a reserved message directly ([`Channel::release`] when it is the only one
        /// reserved, within the window, nothing in the backlog) changes nothing against the
        /// general path ([`Channel::release_queued`]: marked released, sent by `pump`): any
        /// interleaving of sends, reservations, releases, deliveries from the peer (which move
        /// the Nr a released message carries), acknowledgement holds and retransmissions gives
        /// the same datagrams in the same order, the same retransmission deadline and replica
        /// state; and every datagram is in order at the peer (RFC 2661 5.8: a reserved message
        /// keeps the Ns it was given, carries the Nr current when it leaves). Each side's count
        /// of released messages waiting for the window is the number there are (the walk of
        /// the window that sends them is skipped while it is 0).
        #[test]
        fn a_direct_release_sends_what_the_general_path_sends(
            ops in proptest::collection::vec((0u8..8, 0u8..4), 1..80),
        ) {
            let (now0, mut a, mut b) = pair();
            let (_, mut a2, mut b2) = pair();
            let mut now = now0;
            let mut reserved: Vec<u16> = Vec::new();
            let mut delivered = Vec::new();
            for (op, k) in ops {
                match op {
                    0 => {
                        proptest::prop_assert_eq!(
                            a.send(now, ControlMessage::hello(0)).is_ok(),
                            a2.send(now, ControlMessage::hello(0)).is_ok()
                        );
                    }
                    1 | 2 => {
                        let ns = a.reserve(ControlMessage::hello(0));
                        proptest::prop_assert_eq!(ns, a2.reserve(ControlMessage::hello(0)));
                        reserved.extend(ns);
                    }
                    3 if !reserved.is_empty() => {
                        let ns = reserved.remove(usize::from(k) % reserved.len());
                        a.release(now, ns);
                        a2.release_queued(now, ns, None);
                    }
                    4 => {
                        // The datagrams out, to each side's peer, which answers.
                        loop {
                            let (d, d2) = (a.poll_transmit(), a2.poll_transmit());
                            proptest::prop_assert_eq!(&d, &d2);
                            let (Some(d), Some(d2)) = (d, d2) else { break };
                            delivered.extend(b.receive(now, parse(&d)));
                            b2.receive(now, parse(&d2));
                        }
                        b.flush_ack();
                        b2.flush_ack();
                        if k == 0 {
                            b.send(now, ControlMessage::hello(0)).unwrap();
                            b2.send(now, ControlMessage::hello(0)).unwrap();
                        }
                        while let (Some(d), Some(d2)) = (b.poll_transmit(), b2.poll_transmit()) {
                            a.receive(now, parse(&d));
                            a2.receive(now, parse(&d2));
                        }
                    }
                    5 => {
                        let held = a.nr.wrapping_sub(1);
                        if k % 2 == 0 {
                            a.hold_ack(held);
                            a2.hold_ack(held);
                        } else {
                            a.release_ack(held);
                            a2.release_ack(held);
                        }
                    }
                    6 => {
                        if let Some(d) = a.deadline() {
                            now = now.max(d);
                            proptest::prop_assert_eq!(
                                a.handle_timeout(now).is_ok(),
                                a2.handle_timeout(now).is_ok()
                            );
                        }
                    }
                    _ => {
                        a.flush_ack();
                        a2.flush_ack();
                    }
                }
                proptest::prop_assert_eq!(a.deadline(), a2.deadline());
                proptest::prop_assert_eq!(a.replica_state(), a2.replica_state());
                proptest::prop_assert_eq!(a.reserved, a2.reserved);
                proptest::prop_assert_eq!(a.out.len(), a2.out.len());
                for c in [&a, &a2] {
                    let released = c.unacked.iter().filter(|m| m.2 == Flight::Released);
                    proptest::prop_assert_eq!(usize::from(c.released), released.count());
                }
            }
            // The peer took every message in order of Ns, each once.
            for (i, m) in delivered.iter().enumerate() {
                proptest::prop_assert_eq!(m.header.ns, i as u16);
            }
        }

        /// The arena ([`Channel::send_in`], [`Channel::flush_ack_in`], one arena shared by two
        /// channels as by an endpoint's tunnels; ICRPs written directly by
        /// [`Channel::send_written_in`]) changes no octet: any interleaving of sends
        /// (messages of any length, some longer than [`ARENA_BLOCK`]), transmissions, deliveries,
        /// acknowledgements and retransmissions gives the same datagrams, in the same order, as
        /// [`Channel::send`] and [`Channel::flush_ack`]; each datagram parses back to the message
        /// sent, with the next Ns (RFC 2661 5.8) and the Nr of what the peer delivered.
        #[test]
        fn the_arena_writes_the_same_datagrams(
            ops in proptest::collection::vec((0u8..5, 0u16..3000, proptest::prelude::any::<[u8; 4]>()), 1..60),
        ) {
            let (now0, mut a, mut b) = pair();
            let (_, mut a2, mut b2) = pair();
            let mut arena = BytesMut::new();
            let mut now = now0;
            let (mut wire, mut wire2) = (Vec::new(), Vec::new());
            let mut sent: Vec<ControlMessage<'static>> = Vec::new();
            let mut next_new = 0u16;
            for (op, len, addr) in ops {
                match op {
                    0 | 1 => {
                        let sid = u16::from_be_bytes([addr[0], addr[1]]);
                        let mut m = ControlMessage::icrp(0, sid, len).with(crate::l2tp::wire::Avp::optional(
                            crate::l2tp::wire::avp::AvpValue::RedirectTarget {
                                vendor: crate::l2tp::wire::DEFAULT_ENTERPRISE,
                                addr: std::net::Ipv4Addr::from(addr).into(),
                            },
                        ));
                        if op == 1 {
                            // Three AVPs of 1 to 999 octets (an AVP's length is 10 bits; a Host
                            // Name is not empty).
                            for k in 0..3 {
                                let octets = vec![addr[2] ^ k; 1 + usize::from(len % 999)];
                                m.push(crate::l2tp::wire::Avp::optional(
                                    crate::l2tp::wire::avp::AvpValue::HostName(octets.into()),
                                ));
                            }
                        }
                        let r = a.send(now, m.clone());
                        let r2 = if op == 0 {
                            // Written directly (the redirect ICRP), or built when it must wait.
                            let target = Some((crate::l2tp::wire::DEFAULT_ENTERPRISE, std::net::Ipv4Addr::from(addr).into()));
                            let write = |out: &mut BytesMut, h| ControlMessage::emit_icrp(out, h, len, target);
                            a2.send_written_in(now, sid, 50, write, || m.clone(), &mut arena)
                        } else {
                            a2.send_in(now, m.clone(), &mut arena)
                        };
                        proptest::prop_assert_eq!(r, r2);
                        if r.is_ok() {
                            sent.push(m);
                        }
                    }
                    2 => {
                        let (d, d2) = (a.poll_transmit(), a2.poll_transmit());
                        proptest::prop_assert_eq!(&d, &d2);
                        if let Some(d) = d {
                            let got = parse(&d);
                            if got.header.ns == next_new {
                                let want = &sent[usize::from(next_new)];
                                proptest::prop_assert_eq!(&got.avps, &want.avps);
                                proptest::prop_assert_eq!(got.header.tunnel_id, 1);
                                next_new += 1;
                            }
                            proptest::prop_assert!(seq_lt(got.header.ns, next_new));
                            proptest::prop_assert_eq!(got.header.nr, 0);
                            wire.push(got);
                            wire2.push(parse(&d2.unwrap()));
                        }
                    }
                    3 => {
                        for m in wire.drain(..) {
                            b.receive(now, m);
                        }
                        for m in wire2.drain(..) {
                            b2.receive(now, m);
                        }
                        b.flush_ack();
                        b2.flush_ack_in(&mut arena);
                        loop {
                            let (z, z2) = (b.poll_transmit(), b2.poll_transmit());
                            proptest::prop_assert_eq!(&z, &z2);
                            let Some(z) = z else { break };
                            let zlb = parse(&z);
                            proptest::prop_assert!(zlb.is_zlb());
                            proptest::prop_assert_eq!(zlb.header.tunnel_id, 2);
                            a.receive(now, zlb);
                            a2.receive(now, parse(&z2.unwrap()));
                        }
                    }
                    _ => {
                        if let Some(d) = a.deadline() {
                            now = now.max(d);
                            proptest::prop_assert_eq!(a.handle_timeout(now), a2.handle_timeout(now));
                        }
                    }
                }
            }
        }

        /// Whatever the interleaving of sends, polls, acknowledgements and timeouts, a channel
        /// transmits its messages in the order sent with Ns 0, 1, 2, ... (RFC 2661 5.8: each new
        /// message takes the next Ns; a datagram with an earlier Ns is a retransmission), the
        /// peer delivers every one exactly once and in order, and nothing is left in flight once
        /// the peer has acknowledged everything.
        #[test]
        fn messages_go_out_in_order_each_once(
            window in 1u16..8,
            ops in proptest::collection::vec(0u8..4, 1..80),
        ) {
            let cfg = ChannelConfig { max_retries: 1_000, ..ChannelConfig::default() };
            let (mut a, mut b) = (Channel::new(cfg.clone(), 1), Channel::new(cfg, 2));
            a.set_peer_window(window);
            let mut now = Instant::now();
            let (mut sent, mut next_new, mut delivered) = (0u16, 0u16, 0u16);
            let mut wire: Vec<ControlMessage<'static>> = Vec::new();
            let take = |m: ControlMessage<'static>, next_new: &mut u16| {
                if m.header.ns == *next_new {
                    *next_new += 1;
                    Ok(m)
                } else if seq_lt(m.header.ns, *next_new) {
                    Ok(m)
                } else {
                    Err(m.header.ns)
                }
            };
            let exchange = |a: &mut Channel, b: &mut Channel, wire: &mut Vec<ControlMessage<'static>>, now: Instant| {
                let mut got = 0u16;
                for m in wire.drain(..) {
                    got += b.receive(now, m).len() as u16;
                }
                b.flush_ack();
                while let Some(z) = b.poll_transmit() {
                    a.receive(now, parse(&z));
                }
                got
            };
            for op in ops {
                match op {
                    0 => {
                        a.send(now, ControlMessage::hello(0)).unwrap();
                        sent += 1;
                    }
                    1 => {
                        if let Some(d) = a.poll_transmit() {
                            let m = take(parse(&d), &mut next_new);
                            proptest::prop_assert!(m.is_ok(), "Ns {:?} ahead of {}", m.as_ref().err(), next_new);
                            wire.extend(m.ok());
                        }
                    }
                    2 => delivered += exchange(&mut a, &mut b, &mut wire, now),
                    _ => {
                        if let Some(d) = a.deadline() {
                            now = now.max(d);
                            a.handle_timeout(now).unwrap();
                        }
                    }
                }
            }
            for _ in 0..=sent {
                while let Some(d) = a.poll_transmit() {
                    let m = take(parse(&d), &mut next_new);
                    proptest::prop_assert!(m.is_ok());
                    wire.extend(m.ok());
                }
                delivered += exchange(&mut a, &mut b, &mut wire, now);
            }
            proptest::prop_assert_eq!(next_new, sent);
            proptest::prop_assert_eq!(delivered, sent);
            proptest::prop_assert_eq!(a.in_flight(), 0);
            proptest::prop_assert!(a.poll_transmit().is_none());
        }
    }

    proptest::proptest! {
        /// The retransmission timeout, now derived from the retry count, is the one RFC 2661 5.8
        /// and Appendix A describe (and the stored, doubled value gave): `retransmit_initial`,
        /// doubled on each timeout without progress up to `retransmit_cap`, back to
        /// `retransmit_initial` on progress; for any parameters and any sequence of sends,
        /// timeouts and acknowledgements.
        #[test]
        fn retransmission_timeout_doubles_to_the_cap_and_resets(
            initial_ms in 1u64..5_000,
            cap_ms in 1u64..20_000,
            ops in proptest::collection::vec(0u8..3, 1..60),
        ) {
            let cfg = ChannelConfig {
                retransmit_initial: Duration::from_millis(initial_ms),
                retransmit_cap: Duration::from_millis(cap_ms),
                max_retries: 1_000,
                ..ChannelConfig::default()
            };
            let (initial, cap) = (cfg.retransmit_initial, cfg.retransmit_cap);
            let mut a = Channel::new(cfg, 1);
            a.set_peer_window(64);
            let mut now = Instant::now();
            // The model: the timeout as RFC 2661 Appendix A keeps it.
            let mut rto = initial;
            for op in ops {
                match op {
                    0 => {
                        let idle = a.in_flight() == 0;
                        a.send(now, ControlMessage::hello(0)).unwrap();
                        if idle {
                            proptest::prop_assert_eq!(a.deadline(), Some(now + rto));
                        }
                    }
                    1 => {
                        if let Some(d) = a.deadline() {
                            now = d;
                            a.handle_timeout(now).unwrap();
                            rto = rto.checked_mul(2).unwrap_or(cap).min(cap);
                            proptest::prop_assert_eq!(a.deadline(), Some(now + rto));
                        }
                    }
                    _ => {
                        // The peer acknowledges everything sent; what waited for the window
                        // goes, timed from `retransmit_initial` again.
                        let zlb = ControlMessage::zlb(0, 0, a.seq().0);
                        a.receive(now, zlb);
                        rto = initial;
                        let want = (a.in_flight() > 0).then(|| now + rto);
                        proptest::prop_assert_eq!(a.deadline(), want);
                    }
                }
                while a.poll_transmit().is_some() {}
            }
        }
    }

    /// The backlog (messages waiting for the window, messages received ahead of order) is held
    /// only while a message waits in it (memory per tunnel), and what waited goes out, in order.
    #[test]
    fn backlog_held_only_while_messages_wait() {
        let (t, mut a, mut b) = pair();
        assert!(a.backlog.is_none());
        // Slow start: the second and third wait for the window.
        for _ in 0..3 {
            a.send(t, ControlMessage::hello(0)).unwrap();
        }
        assert_eq!(a.backlog.as_ref().map(|b| b.queue.len()), Some(2));
        let m0 = a.poll_transmit().unwrap();
        assert_eq!(b.receive(t, parse(&m0)).len(), 1);
        b.flush_ack();
        let zlb = b.poll_transmit().unwrap();
        a.receive(t, parse(&zlb));
        let (m1, m2) = (a.poll_transmit().unwrap(), a.poll_transmit().unwrap());
        assert!(a.poll_transmit().is_none());
        assert!(a.backlog.is_none(), "the queue emptied");
        // Received ahead of order: held, then delivered in order and released.
        assert!(b.receive(t, parse(&m2)).is_empty());
        assert_eq!(b.backlog.as_ref().map(|b| b.ooo.len()), Some(1));
        let got = b.receive(t, parse(&m1));
        assert_eq!(
            got.iter().map(|m| m.header.ns).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(
            b.backlog.is_none(),
            "the out-of-order messages were delivered"
        );
    }

    /// Delivers everything `from` has to send to `to`; returns the non-ZLB messages `to` took.
    /// A pair whose `a` sends within `window` (the peer's): `warm` HELLOs exchanged and
    /// acknowledged both ways, then `before` more sent and polled (returned, in order).
    fn warmed(window: u16, warm: usize, before: usize) -> (Instant, Channel, Channel, Vec<Bytes>) {
        let (t, mut a, mut b) = pair();
        a.set_peer_window(window);
        b.set_peer_window(8);
        for _ in 0..warm {
            a.send(t, ControlMessage::hello(0)).unwrap();
            relay(t, &mut a, &mut b);
            relay(t, &mut b, &mut a);
        }
        for _ in 0..before {
            a.send(t, ControlMessage::hello(0)).unwrap();
        }
        let mut out = Vec::new();
        while let Some(d) = a.poll_transmit() {
            out.push(d);
        }
        (t, a, b, out)
    }

    fn relay(t: Instant, from: &mut Channel, to: &mut Channel) -> Vec<ControlMessage<'static>> {
        let mut got = Vec::new();
        while let Some(b) = from.poll_transmit() {
            got.extend(to.receive(t, parse(&b)));
        }
        to.flush_ack();
        got
    }

    /// `Backlog::enqueue` (RFC 2661 5.8, 7.4.1): behind a closed window, a CDN passes the queued
    /// ICRQs of other calls but never its own call's ICRQ (the peer would get a CDN for a call
    /// it does not know), nor a message that opens no call; Ns is the sending order.
    #[test]
    fn an_answer_passes_other_calls_requests_only() {
        use crate::l2tp::wire::{ResultCode, ResultCodeValue};
        let (t, mut a, mut b) = pair();
        a.set_peer_window(1);
        let cdn = |sid| {
            ControlMessage::cdn(
                2,
                0,
                sid,
                ResultCode::new(ResultCodeValue::CDN_ADMINISTRATIVE),
            )
        };
        a.send(t, ControlMessage::hello(2)).unwrap();
        let mut arena = BytesMut::new();
        for sid in [5, 6] {
            let sent = a.send_setup_in(t, ControlMessage::icrq(2, sid, 1), sid, &mut arena);
            assert_eq!(sent, Ok(false));
        }
        a.send(t, cdn(5)).unwrap();
        a.send(t, ControlMessage::hello(2)).unwrap();
        a.send(t, cdn(6)).unwrap();
        let mut seen = Vec::new();
        for _ in 0..8 {
            for m in relay(t, &mut a, &mut b) {
                seen.push((m.message_type().unwrap().0, m.assigned_session_id()));
            }
            relay(t, &mut b, &mut a);
        }
        let (icrq, cdn_, hello) = (10, 14, 6);
        assert_eq!(
            seen,
            [
                (hello, None),
                (icrq, Some(5)),
                (cdn_, Some(5)),
                (icrq, Some(6)),
                (hello, None),
                (cdn_, Some(6)),
            ]
        );
        assert_eq!(a.take_setup_sent(), Some(5));
        assert_eq!(a.take_setup_sent(), Some(6));
        assert_eq!(a.take_setup_sent(), None);
    }

    /// `Channel::take_setup_sent` docs: set-up messages that left the queue and were never taken
    /// are kept up to `max_send_queue`, the oldest dropped.
    #[test]
    fn untaken_setups_are_bounded() {
        let cfg = ChannelConfig {
            max_send_queue: 4,
            ..ChannelConfig::default()
        };
        let t = Instant::now();
        let (mut a, mut b) = (
            Channel::new(cfg, 1),
            Channel::new(ChannelConfig::default(), 2),
        );
        a.set_peer_window(1);
        let mut arena = BytesMut::new();
        a.send(t, ControlMessage::hello(2)).unwrap();
        for round in 0..3u16 {
            for i in 0..3u16 {
                let sid = 10 * round + i + 1;
                let _ = a.send_setup_in(t, ControlMessage::icrq(2, sid, 1), sid, &mut arena);
            }
            for _ in 0..4 {
                relay(t, &mut a, &mut b);
                relay(t, &mut b, &mut a);
            }
        }
        let kept: Vec<u16> = std::iter::from_fn(|| a.take_setup_sent()).collect();
        assert_eq!(kept, [12, 13, 22, 23], "the newest 4 of 7");
    }

    /// `resume_replica` docs: a backup resumes from a copy that lags the failed LNS's counters on
    /// both sides (a HELLO each way after the copy) and from one where the failed LNS's last
    /// message never reached the peer; in each case its next message is taken in order by the
    /// peer, and the peer's next message by it.
    #[test]
    fn resumed_channel_resynchronises_from_the_peer() {
        for lost_last in [false, true] {
            let (t, mut lac, mut lns) = pair();
            for _ in 0..3 {
                lac.send(t, ControlMessage::hello(0)).unwrap();
                relay(t, &mut lac, &mut lns);
                relay(t, &mut lns, &mut lac);
            }
            let (ns, nr, w) = lns.replica_state();
            // After the copy: a HELLO each way, acknowledged.
            lac.send(t, ControlMessage::hello(0)).unwrap();
            assert_eq!(relay(t, &mut lac, &mut lns).len(), 1);
            relay(t, &mut lns, &mut lac);
            lns.send(t, ControlMessage::hello(0)).unwrap();
            if lost_last {
                // The failed LNS's last message is lost with it.
                while lns.poll_transmit().is_some() {}
            } else {
                assert_eq!(relay(t, &mut lns, &mut lac).len(), 1);
                relay(t, &mut lac, &mut lns);
            }
            let mut backup = Channel::new(ChannelConfig::default(), 1);
            backup.resume_replica(t, ns, nr, w);
            assert!(backup.is_resyncing());
            // Nothing but the probe leaves before the peer answered.
            backup.send(t, ControlMessage::hello(0)).unwrap();
            let probe = parse(&backup.poll_transmit().unwrap());
            assert!(backup.poll_transmit().is_none());
            // The peer takes the probe as a duplicate: acknowledged, not delivered.
            assert!(lac.receive(t, probe).is_empty());
            lac.flush_ack();
            // The backup's HELLO now leaves with the Ns the peer expects, and is delivered.
            assert_eq!(relay(t, &mut lac, &mut backup).len(), 0);
            assert_eq!(relay(t, &mut backup, &mut lac).len(), 1);
            // The peer's next message: its predecessor (taken by the failed LNS after the
            // copy) was acknowledged, so the backup's Nr (the copy's) does not take it at once;
            // the peer retransmits it after its timeout (the backup's acknowledgement is
            // behind what the peer knows acknowledged), and that second copy is delivered.
            lac.send(t, ControlMessage::hello(0)).unwrap();
            relay(t, &mut backup, &mut lac);
            assert_eq!(relay(t, &mut lac, &mut backup).len(), 0);
            assert!(
                !backup.take_nr_moved(),
                "the first copy does not move the Nr"
            );
            relay(t, &mut backup, &mut lac);
            let t2 = lac.deadline().unwrap();
            lac.handle_timeout(t2).unwrap();
            assert_eq!(relay(t2, &mut lac, &mut backup).len(), 1);
            assert!(!backup.is_resyncing());
            // The Nr moved to the retransmission: the caller is told once (it acknowledges
            // with a message of its own).
            assert!(backup.take_nr_moved());
            assert!(!backup.take_nr_moved());
            // Acknowledged: the peer's channel is idle again.
            relay(t2, &mut backup, &mut lac);
            assert!(lac.is_idle());
        }
    }

    /// A LAC channel and a backup resuming the LNS's channel from its copy taken after one
    /// HELLO from the LAC (windows of 8), the backup's probe answered: the LAC, the backup, and
    /// the replica's Nr (the Ns of the LAC's next message).
    fn resumed_after_one_hello() -> (Instant, Channel, Channel, u16) {
        let (t, mut lac, mut lns) = pair();
        lac.set_peer_window(8);
        lns.set_peer_window(8);
        lac.send(t, ControlMessage::hello(0)).unwrap();
        assert_eq!(relay(t, &mut lac, &mut lns).len(), 1);
        relay(t, &mut lns, &mut lac);
        let (ns, nr, w) = lns.replica_state();
        let mut backup = Channel::new(ChannelConfig::default(), 1);
        backup.resume_replica(t, ns, nr, w);
        let probe = parse(&backup.poll_transmit().unwrap());
        assert!(lac.receive(t, probe).is_empty());
        lac.flush_ack();
        relay(t, &mut lac, &mut backup);
        (t, lac, backup, nr)
    }

    /// `resume_replica` docs (RFC 2661 5.8: a message is retransmitted until acknowledged):
    /// the peer's first message after the copy is lost on the way to the backup and its next
    /// one arrives first (seeds 309 and 357 of `l2tp_failover`: a CDN lost this way
    /// was acknowledged by the next CDN's Nr and never retransmitted). The backup's Nr does not
    /// pass the lost message: the peer retransmits it, and both are delivered, in order.
    #[test]
    fn resumed_channel_never_acknowledges_a_message_it_did_not_take() {
        let (t, mut lac, mut backup, nr) = resumed_after_one_hello();
        lac.send(t, ControlMessage::hello(0)).unwrap();
        lac.send(t, ControlMessage::hello(0)).unwrap();
        let first = lac.poll_transmit().unwrap();
        let second = lac.poll_transmit().unwrap();
        assert_eq!(parse(&first).header.ns, nr);
        drop(first); // lost
        assert!(backup.receive(t, parse(&second)).is_empty());
        backup.flush_ack();
        // The backup's acknowledgement leaves the lost message unacknowledged at the peer.
        relay(t, &mut backup, &mut lac);
        assert_eq!(lac.in_flight(), 2);
        let t2 = lac.deadline().unwrap();
        lac.handle_timeout(t2).unwrap();
        let resent = parse(&lac.poll_transmit().unwrap());
        assert_eq!(resent.header.ns, nr, "the peer retransmits its oldest");
        assert_eq!(backup.receive(t2, resent).len(), 2, "both, in order");
        backup.flush_ack();
        relay(t2, &mut backup, &mut lac);
        assert!(lac.is_idle());
        assert!(!backup.is_resyncing());
    }

    /// `resume_replica` docs: the peer's first messages after the copy reach the backup
    /// reordered (RFC 2661 gives the transport no ordering; a CDN overtaken by a later
    /// one was dropped as a duplicate, leaving the session it cleared at the backup). Each is
    /// delivered exactly once whatever the order; a copy of one arriving again (the network
    /// duplicated it), and one from before the replica's Nr (taken by the failed LNS), are not.
    #[test]
    fn resumed_channel_takes_reordered_messages_once() {
        let (t, mut lac, mut backup, nr) = resumed_after_one_hello();
        // Two messages from the peer (its window after one acknowledged), the second first.
        let mut sent = Vec::new();
        for _ in 0..2 {
            lac.send(t, ControlMessage::hello(0)).unwrap();
        }
        while let Some(b) = lac.poll_transmit() {
            sent.push(parse(&b));
        }
        assert_eq!(sent.len(), 2);
        let old = sent[0].clone();
        let mut got = 0;
        for m in sent.iter().rev() {
            got += backup.receive(t, m.clone()).len();
        }
        assert_eq!(got, 2, "every message after the copy delivered");
        assert!(
            !backup.take_nr_moved(),
            "taken in order at the replica's Nr: our ZLB suffices"
        );
        assert!(backup.receive(t, old).is_empty(), "a duplicate is not");
        let mut before = sent[0].clone();
        before.header.ns = nr.wrapping_sub(1);
        assert!(
            backup.receive(t, before).is_empty(),
            "one the failed LNS took is not"
        );
    }

    /// `resume_replica` docs (`l2tp_failover` seed 110109): the peer's oldest
    /// unacknowledged message arrives once, a retransmission timeout after the peer's ZLB
    /// showed it sent (its Ns past it), while the replica's Nr lags (messages the failed LNS
    /// took and acknowledged after its copy). Our Nr moves to it and it is delivered; arriving
    /// sooner (possibly an original overtaken by ones still on the way), not shown sent, or
    /// with an earlier message of the peer held, it is kept and nothing is acknowledged past
    /// the replica's Nr.
    #[test]
    fn resumed_channel_takes_a_retransmission_it_sees_once() {
        let t = Instant::now();
        let cfg = ChannelConfig::default();
        let resumed = |zlb_ns: u16| {
            let mut c = Channel::new(cfg.clone(), 1);
            c.resume_replica(t, 26, 32, 8);
            while c.poll_transmit().is_some() {}
            assert!(c.receive(t, ControlMessage::zlb(1, zlb_ns, 31)).is_empty());
            c
        };
        let iccn = |ns: u16| {
            let mut m = ControlMessage::hello(1);
            m.header.ns = ns;
            m.header.nr = 31;
            m
        };
        let later = t + cfg.retransmit_initial;
        // Long after the ZLB (Ns 62) showed it sent: the peer's retransmission, taken.
        let mut c = resumed(62);
        let got = c.receive(later, iccn(58));
        assert_eq!(got.iter().map(|m| m.header.ns).collect::<Vec<_>>(), [58]);
        assert!(c.take_nr_moved());
        assert!(!c.is_resyncing());
        assert_eq!(c.replica_state().1, 59);
        // Soon after: perhaps a first copy overtaking others; held, the Nr stays.
        let mut c = resumed(62);
        assert!(
            c.receive(t + cfg.retransmit_initial / 4, iccn(58))
                .is_empty()
        );
        assert_eq!(c.replica_state().1, 32);
        // Not shown sent by the ZLB (its Ns is not past 58): held.
        let mut c = resumed(58);
        assert!(c.receive(later, iccn(58)).is_empty());
        assert_eq!(c.replica_state().1, 32);
        // An earlier message of the peer is held: 58 may have overtaken its lost retransmission.
        let mut c = resumed(62);
        assert!(c.receive(t, iccn(40)).is_empty());
        assert!(c.receive(later, iccn(58)).is_empty());
        assert_eq!(c.replica_state().1, 32);
        assert!(!c.take_nr_moved());
    }

    /// `resync_nr_again` docs (RFC 4951 failover seed 286961): a channel in step with the peer
    /// (Nr 43) whose next message from the peer (Ns 43) another endpoint behind our address
    /// took and acknowledged. The peer's next one (Ns 44) arrives ahead of our Nr: its first
    /// copy is kept, nothing acknowledged past 43; its retransmission a timeout later (RFC 2661
    /// 5.8: the peer's oldest unacknowledged message, 43 acknowledged) moves our Nr to it and
    /// it is delivered. A channel not told (no `resync_nr_again`) keeps its Nr at 43 for good.
    /// Once in step again, a message ahead is only held, as usual.
    #[test]
    fn nr_learnt_again_moves_past_what_another_endpoint_acknowledged() {
        let t = Instant::now();
        let cfg = ChannelConfig::default();
        let msg = |ns: u16| {
            let mut m = ControlMessage::hello(1);
            m.header.ns = ns;
            m.header.nr = 22;
            m
        };
        let later = t + cfg.retransmit_initial;
        for told in [true, false] {
            let mut c = Channel::new(cfg.clone(), 1);
            c.set_seq(t, 22, 43);
            if told {
                c.resync_nr_again();
            }
            assert!(c.receive(t, msg(44)).is_empty(), "first copy: kept");
            assert_eq!(c.seq().1, 43);
            let got = c.receive(later, msg(44));
            if told {
                assert_eq!(got.iter().map(|m| m.header.ns).collect::<Vec<_>>(), [44]);
                assert_eq!(c.seq().1, 45);
                assert!(c.take_nr_moved(), "acknowledged by a message of ours");
                assert!(!c.is_resyncing());
                // In step again: the next message ahead is only held.
                let even_later = later + cfg.retransmit_initial * 2;
                assert!(c.receive(even_later, msg(47)).is_empty());
                let much_later = even_later + cfg.retransmit_initial;
                assert!(c.receive(much_later, msg(47)).is_empty());
                assert_eq!(c.seq().1, 45);
            } else {
                assert!(got.is_empty(), "not told: held for good");
                assert_eq!(c.seq().1, 43);
            }
        }
    }

    /// `resume_replica` docs (seed 232769): the failed LNS's messages the peer held
    /// out of order, past a gap the replica knew, are taken once the backup's first message
    /// fills the gap; the peer's Nr then passes the backup's next Ns, which moves to it, so the
    /// backup's next message is taken (RFC 2661 5.8), not dropped as a duplicate.
    #[test]
    fn resumed_ns_moves_past_what_the_failed_lns_sent() {
        let (t, mut lac, mut lns) = pair();
        lns.set_peer_window(8);
        lns.send(t, ControlMessage::hello(0)).unwrap();
        assert_eq!(relay(t, &mut lns, &mut lac).len(), 1);
        relay(t, &mut lac, &mut lns);
        // The copy: the failed LNS's next Ns is 1.
        let (ns, nr, w) = lns.replica_state();
        assert_eq!(ns, 1);
        for _ in 0..2 {
            lns.send(t, ControlMessage::hello(0)).unwrap();
        }
        // Ns 1 is lost; 2 is held out of order by the peer.
        let sent: Vec<Bytes> = std::iter::from_fn(|| lns.poll_transmit()).collect();
        assert_eq!(sent.len(), 2);
        assert!(lac.receive(t, parse(&sent[1])).is_empty());
        while lac.poll_transmit().is_some() {}
        let mut backup = Channel::new(ChannelConfig::default(), 1);
        backup.resume_replica(t, ns, nr, w);
        // The probe's ZLB tells Ns 1; the backup's HELLO there fills the gap.
        relay(t, &mut backup, &mut lac);
        relay(t, &mut lac, &mut backup);
        backup.send(t, ControlMessage::hello(0)).unwrap();
        let first = parse(&backup.poll_transmit().unwrap());
        assert_eq!(first.header.ns, 1);
        assert_eq!(lac.receive(t, first).len(), 2, "the gap filled, 2 follows");
        lac.flush_ack();
        // The peer's ZLB acknowledges Ns 2, which the backup never sent.
        relay(t, &mut lac, &mut backup);
        backup.send(t, ControlMessage::hello(0)).unwrap();
        let next = parse(&backup.poll_transmit().unwrap());
        assert_eq!(
            next.header.ns, 3,
            "the backup's next Ns is the peer's next expected"
        );
        assert_eq!(lac.receive(t, next).len(), 1, "taken, not a duplicate");
    }

    /// `Channel::pin` and `can_reserve`: pins placed in the queue wait for the window with the
    /// Ns the failed endpoint gave them; no message is numbered ahead of them (it would take
    /// the first one's Ns, and the pin would go one later: the peer would take one ICRP where
    /// it expects another, RFC 2661 5.8).
    #[test]
    fn nothing_is_reserved_ahead_of_a_placed_pin() {
        let (t, mut lac, mut lns) = pair();
        lns.set_peer_window(8);
        lns.send(t, ControlMessage::hello(0)).unwrap();
        relay(t, &mut lns, &mut lac);
        relay(t, &mut lac, &mut lns);
        let (ns, nr, w) = lns.replica_state();
        let mut backup = Channel::new(ChannelConfig::default(), 1);
        backup.resume_replica(t, ns, nr, w);
        assert!(backup.pin(t, ns.wrapping_add(1), ControlMessage::hello(0)));
        // The probe's ZLB tells our next Ns; slow start sends the HELLO filling `ns` only.
        relay(t, &mut backup, &mut lac);
        relay(t, &mut lac, &mut backup);
        let first = parse(&backup.poll_transmit().unwrap());
        assert_eq!(first.header.ns, ns);
        assert!(
            backup.poll_transmit().is_none(),
            "the window is one message"
        );
        assert!(
            !backup.can_reserve(),
            "the pin at {} waits",
            ns.wrapping_add(1)
        );
        assert_eq!(backup.reserve(ControlMessage::hello(0)), None);
        lac.receive(t, first);
        lac.flush_ack();
        relay(t, &mut lac, &mut backup);
        let pin = parse(&backup.poll_transmit().unwrap());
        assert_eq!(pin.header.ns, ns.wrapping_add(1), "the pin at its own Ns");
        assert!(backup.can_reserve());
        assert_eq!(
            backup.reserve(ControlMessage::hello(0)),
            Some(ns.wrapping_add(2))
        );
    }

    /// `Channel::pin_held` (output commit of a call adopted from a replica, `lns::replicate`
    /// docs): the pin keeps its Ns and does not leave before its release, the HELLO filling
    /// the Ns before it goes at once, a message queued after it waits behind it (RFC 2661 5.8:
    /// the peer delivers in order); released, it goes at its Ns, then what waited. A pin held
    /// before our next Ns is resolved as taken and holds nothing.
    #[test]
    fn a_held_pin_keeps_its_ns_and_leaves_only_when_released() {
        let (t, mut lac, mut lns) = pair();
        lns.set_peer_window(8);
        for _ in 0..3 {
            lns.send(t, ControlMessage::hello(0)).unwrap();
            relay(t, &mut lns, &mut lac);
            relay(t, &mut lac, &mut lns);
        }
        let n = lns.seq().0;
        let icrp = ControlMessage::icrp(0, 101, 1);
        assert!(lns.pin_held(t, n.wrapping_add(1), icrp));
        assert!(lns.holds_pin(n.wrapping_add(1)));
        lns.send(t, ControlMessage::icrq(0, 7, 1)).unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            while let Some(b) = lns.poll_transmit() {
                let m = parse(&b);
                got.push((m.header.ns, m.message_type()));
                lac.receive(t, m);
            }
            lac.flush_ack();
            relay(t, &mut lac, &mut lns);
        }
        assert_eq!(got, [(n, Some(MessageType::HELLO))], "the pin held");
        lns.release(t, n.wrapping_add(1));
        assert!(!lns.holds_pin(n.wrapping_add(1)));
        let mut got = Vec::new();
        while let Some(b) = lns.poll_transmit() {
            let m = parse(&b);
            got.push((m.header.ns, m.message_type()));
        }
        assert_eq!(
            got,
            [
                (n.wrapping_add(1), Some(MessageType::ICRP)),
                (n.wrapping_add(2), Some(MessageType::ICRQ)),
            ]
        );
        // Before our next Ns: the peer took a message at its Ns; nothing is held.
        assert!(lns.pin_held(t, n, ControlMessage::icrp(0, 102, 2)));
        assert!(!lns.holds_pin(n));
        assert_eq!(lns.take_resolved(), [(n.wrapping_add(1), false), (n, true)]);
    }

    /// `Channel::pin` on a live channel, twice behind a closed window (two calls adopted from a
    /// failed endpoint's late records one at a time): each pin goes at the Ns the
    /// failed endpoint gave it, a HELLO at every Ns between that no pin names, and a message
    /// queued before them after them all. Pinned at our next Ns, a pin takes the place of the
    /// HELLO filling it. Each message is taken by the peer in order (RFC 2661 5.8).
    #[test]
    fn pins_placed_one_by_one_behind_a_closed_window_keep_their_ns() {
        let (t, mut lac, mut lns) = pair();
        lns.set_peer_window(8);
        // One HELLO in flight: slow start's window (one message) is closed.
        lns.send(t, ControlMessage::hello(0)).unwrap();
        let hello = parse(&lns.poll_transmit().unwrap());
        let n = lns.seq().0;
        lns.send(t, ControlMessage::icrq(0, 77, 1)).unwrap();
        let icrp = |sid: u16| ControlMessage::icrp(0, 100 + sid, sid);
        assert!(lns.pin(t, n.wrapping_add(1), icrp(1)));
        assert!(lns.pin(t, n.wrapping_add(3), icrp(3)));
        assert!(lns.pin(t, n, icrp(0)));
        assert!(lns.poll_transmit().is_none(), "the window is closed");
        assert_eq!(
            lns.take_resolved(),
            [
                (n.wrapping_add(1), false),
                (n.wrapping_add(3), false),
                (n, false)
            ]
        );
        let mut taken = lac.receive(t, hello);
        lac.flush_ack();
        for _ in 0..6 {
            taken.extend(relay(t, &mut lns, &mut lac));
            relay(t, &mut lac, &mut lns);
        }
        let got: Vec<(u16, Option<crate::l2tp::MessageType>, Option<u16>)> = taken
            .iter()
            .skip(1)
            .map(|m| (m.header.ns, m.message_type(), m.assigned_session_id()))
            .collect();
        let at = |i: u16| n.wrapping_add(i);
        assert_eq!(
            got,
            [
                (at(0), Some(crate::l2tp::MessageType::ICRP), Some(0)),
                (at(1), Some(crate::l2tp::MessageType::ICRP), Some(1)),
                (at(2), Some(crate::l2tp::MessageType::HELLO), None),
                (at(3), Some(crate::l2tp::MessageType::ICRP), Some(3)),
                (at(4), Some(crate::l2tp::MessageType::ICRQ), Some(77)),
            ]
        );
    }

    /// `Channel::forget_session` docs (RFC 4951 section 3.3 Step I clears a call; RFC 2661
    /// section 5.8: "The sequence number ... is incremented by one for each message sent", and the
    /// peer takes messages in order only): a forgotten call's message in the placed run, whose Ns
    /// is fixed, becomes a HELLO at that Ns, so the pins behind it keep their own Ns and the peer
    /// takes a message at each Ns, in order, without a gap; the call's messages never leave,
    /// neither the pinned one nor those queued behind the run (its CDN, one addressed to the
    /// peer's Session ID).
    #[test]
    fn a_forgotten_calls_placed_message_becomes_a_hello_at_its_ns() {
        use crate::l2tp::MessageType;
        use crate::l2tp::wire::{ResultCode, ResultCodeValue};
        let (t, mut peer, mut ours) = pair();
        ours.set_peer_window(8);
        // One HELLO in flight: slow start's window (one message) is closed.
        ours.send(t, ControlMessage::hello(0)).unwrap();
        let hello = parse(&ours.poll_transmit().unwrap());
        let n = ours.seq().0;
        let icrp = |sid: u16| ControlMessage::icrp(0, 100 + sid, sid);
        for i in 0..3 {
            assert!(ours.pin(t, n.wrapping_add(i), icrp(i)));
        }
        // Behind the placed run: the forgotten call's CDN, a message to its peer Session ID
        // (101), and another call's ICRQ.
        let cdn = ControlMessage::cdn(
            0,
            101,
            1,
            ResultCode::new(ResultCodeValue::CDN_ADMINISTRATIVE),
        );
        ours.send(t, cdn).unwrap();
        ours.send(t, ControlMessage::iccn(0, 101, 64_000, 1))
            .unwrap();
        ours.send(t, ControlMessage::icrq(0, 77, 1)).unwrap();
        assert!(ours.poll_transmit().is_none(), "the window is closed");
        assert_eq!(ours.forget_session(1, Some(101)), 3);
        let mut taken = peer.receive(t, hello);
        peer.flush_ack();
        for _ in 0..8 {
            taken.extend(relay(t, &mut ours, &mut peer));
            relay(t, &mut peer, &mut ours);
        }
        let got: Vec<(u16, Option<MessageType>, Option<u16>)> = taken
            .iter()
            .skip(1)
            .map(|m| (m.header.ns, m.message_type(), m.assigned_session_id()))
            .collect();
        let at = |i: u16| n.wrapping_add(i);
        assert_eq!(
            got,
            [
                (at(0), Some(MessageType::ICRP), Some(0)),
                (at(1), Some(MessageType::HELLO), None),
                (at(2), Some(MessageType::ICRP), Some(2)),
                (at(3), Some(MessageType::ICRQ), Some(77)),
            ],
            "one message at each Ns, in order; nothing of session 1"
        );
        assert!(taken.iter().all(|m| m.header.session_id != 101));
    }

    /// `Channel::set_seq` docs: a pin placed under the old numbering waits again and is placed
    /// against the new one (RFC 4951 5.3's Suggested Control Sequence); the HELLOs that filled
    /// its gap under the old numbering are not sent.
    #[test]
    fn a_placed_pin_is_placed_again_under_a_new_numbering() {
        let (t, mut lac, mut lns) = pair();
        lns.set_peer_window(8);
        lns.send(t, ControlMessage::hello(0)).unwrap();
        let hello = parse(&lns.poll_transmit().unwrap());
        let n = lns.seq().0;
        assert!(lns.pin(t, n.wrapping_add(2), ControlMessage::icrp(0, 102, 2)));
        assert!(lns.poll_transmit().is_none(), "the window is closed");
        // The LAC took the HELLO; its next expected Ns is `n`, but the new numbering says
        // `n + 1` (as if the failed endpoint's message at `n` had reached it).
        lac.receive(t, hello);
        let nr = lns.seq().1;
        lns.set_seq(t, n.wrapping_add(1), nr);
        let sent: Vec<ControlMessage<'static>> = std::iter::from_fn(|| lns.poll_transmit())
            .map(|b| parse(&b))
            .collect();
        let got: Vec<(u16, Option<u16>)> = sent
            .iter()
            .map(|m| (m.header.ns, m.assigned_session_id()))
            .collect();
        assert_eq!(got, [(n.wrapping_add(1), None)], "slow start: one message");
        lns.receive(t, ControlMessage::zlb(2, nr, n.wrapping_add(2)));
        let pin = parse(&lns.poll_transmit().unwrap());
        assert_eq!(
            (pin.header.ns, pin.assigned_session_id()),
            (n.wrapping_add(2), Some(2)),
            "the pin at its own Ns"
        );
        assert!(lns.poll_transmit().is_none());
    }

    /// `resume_replica` docs: a peer that never answers the probe kills the channel after
    /// `max_retries` retransmissions of it.
    #[test]
    fn unanswered_probe_kills_the_resumed_channel() {
        let t = Instant::now();
        let mut c = Channel::new(ChannelConfig::default(), 1);
        c.resume_replica(t, 10, 20, 4);
        let mut probes = 0;
        let mut now;
        while c.poll_transmit().is_some() {
            probes += 1;
        }
        loop {
            now = c.deadline().unwrap();
            if c.handle_timeout(now).is_err() {
                break;
            }
            while c.poll_transmit().is_some() {
                probes += 1;
            }
        }
        assert_eq!(probes, 1 + ChannelConfig::default().max_retries);
        assert_eq!(now - t, ChannelConfig::default().give_up_after());
    }

    /// `reserve` docs (output commit): a reserved message has its Ns at once, nothing
    /// leaves until it is released; a message sent meanwhile takes the next Ns and leaves (the
    /// peer keeps it out of order, RFC 2661 5.8); once released both are delivered in order.
    #[test]
    fn reserved_message_keeps_its_ns_and_leaves_when_released() {
        let (t, mut a, mut b) = pair();
        a.set_peer_window(8);
        b.set_peer_window(8);
        // Past slow start, so that a message sent later may leave before the reserved one.
        for _ in 0..3 {
            a.send(t, ControlMessage::hello(0)).unwrap();
            relay(t, &mut a, &mut b);
            relay(t, &mut b, &mut a);
        }
        assert!(a.cwnd() > 1);
        let ns = a.reserve(ControlMessage::hello(0)).unwrap();
        assert_eq!(ns, 3);
        assert!(a.poll_transmit().is_none(), "held");
        assert_eq!(
            a.replica_state().0,
            3,
            "a replica resumes at the reserved Ns"
        );
        a.send(t, ControlMessage::hello(0)).unwrap();
        assert!(relay(t, &mut a, &mut b).is_empty(), "Ns 4 waits for Ns 3");
        // A timeout retransmits what was sent, never the reserved one.
        let d = a.deadline().unwrap();
        a.handle_timeout(d).unwrap();
        let again = parse(&a.poll_transmit().unwrap());
        assert_eq!(again.header.ns, 4);
        a.release(d, ns);
        let got = relay(d, &mut a, &mut b);
        assert_eq!(
            got.iter().map(|m| m.header.ns).collect::<Vec<_>>(),
            [3, 4],
            "both, in order"
        );
        relay(d, &mut b, &mut a);
        assert!(a.is_idle());
    }

    proptest::proptest! {
        /// `mark_released` docs: a run of reserved messages marked released then sent at once
        /// ([`Channel::release_marked`]) leaves as releasing each at once ([`Channel::release`])
        /// does: the same datagrams in the same order (their Ns and Nr), the same timer, the
        /// same state; with the window open or closed (slow start, a small peer window), with
        /// messages sent before, between and after the reservations (some waiting in the
        /// backlog), a received message owing an acknowledgement, and a release order that
        /// skips some of the reserved messages.
        #[test]
        fn a_run_marked_released_leaves_as_each_released(
            window in 1u16..8,
            warm in 0usize..4,
            before in 0usize..3,
            reserve in 1usize..10,
            between in proptest::collection::vec(0usize..3, 10),
            skip in proptest::collection::vec(proptest::bool::weighted(0.2), 10),
            owe_ack in proptest::bool::ANY,
        ) {
            // 0: each released; 1: marked, then sent; 2: marked, then sent with the arena.
            let run = |mode: u8| {
                let (t, mut a, mut b, mut out) = warmed(window, warm, before);
                let mut arena = BytesMut::new();
                let mut reserved = Vec::new();
                for n in between.iter().take(reserve) {
                    reserved.extend(a.reserve_in(ControlMessage::hello(0), &mut arena));
                    for _ in 0..*n {
                        let _ = a.send(t, ControlMessage::hello(0));
                    }
                }
                if owe_ack {
                    b.send(t, ControlMessage::hello(0)).unwrap();
                    relay(t, &mut b, &mut a);
                }
                let d = t + Duration::from_millis(5);
                let go = reserved.iter().zip(&skip).filter(|(_, s)| !**s).map(|(ns, _)| *ns);
                if mode == 0 {
                    for ns in go {
                        a.release(d, ns);
                    }
                } else {
                    for ns in go {
                        a.mark_released(d, ns);
                    }
                    match mode {
                        1 => a.release_marked(d),
                        _ => a.release_marked_in(d, &mut arena),
                    }
                }
                a.end_defer();
                a.flush_ack();
                while let Some(d) = a.poll_transmit() {
                    out.push(d);
                }
                (out, a.deadline().map(|x| x - t), a.replica_state(), a.in_flight(), a.reserved)
            };
            let each = run(0);
            proptest::prop_assert_eq!(run(1), each.clone());
            proptest::prop_assert_eq!(run(2), each);
        }
    }

    proptest::proptest! {
        /// `release_alone` docs: a reserved message released alone leaves as `release_in`,
        /// `end_defer`, `flush_ack_in` and polling every datagram do (RFC 2661 5.8: it carries
        /// the acknowledgement owed, no ZLB after it): the same datagrams in the same order
        /// (their Ns and Nr), the same deadline and timer to arm, the same state; and where it
        /// hands nothing back (another message reserved, the window closed, messages waiting
        /// in the backlog or to be sent), the general release that follows does it all. Over
        /// windows open and closed, messages sent before and after the reservation, other
        /// reservations, a message of the peer owing an acknowledgement (deferred or not) and
        /// moving our Nr after the reservation.
        #[test]
        fn a_reserved_message_released_alone_leaves_as_released_in_general(
            window in 1u16..8,
            warm in 0usize..4,
            before in 0usize..3,
            others in 0usize..3,
            after in 0usize..3,
            polled in proptest::bool::ANY,
            owe_ack in proptest::bool::ANY,
            deferred in proptest::bool::ANY,
        ) {
            // `alone`: released by `release_alone` (falling back to the general release).
            let run = |alone: bool| {
                let (t, mut a, mut b, mut out) = warmed(window, warm, before);
                let mut arena = BytesMut::new();
                let ns = a.reserve_in(ControlMessage::hello(0), &mut arena).unwrap();
                for _ in 0..others {
                    a.reserve_in(ControlMessage::hello(0), &mut arena);
                }
                for _ in 0..after {
                    let _ = a.send(t, ControlMessage::hello(0));
                }
                if polled {
                    while let Some(d) = a.poll_transmit() {
                        out.push(d);
                    }
                }
                if owe_ack {
                    // The peer's message taken (our Nr moves past the reserved message's);
                    // its acknowledgement deferred for the answer (`defer_ack`), or a ZLB
                    // queued for it.
                    b.send(t, ControlMessage::hello(0)).unwrap();
                    while let Some(m) = b.poll_transmit() {
                        a.receive(t, parse(&m));
                    }
                    match deferred {
                        true => a.defer_ack(t),
                        false => a.flush_ack(),
                    }
                }
                let d = t + Duration::from_millis(5);
                let sent = if alone {
                    a.release_alone(d, ns, &mut arena)
                } else {
                    None
                };
                let went = sent.is_some();
                match sent {
                    Some(b) => out.push(b),
                    None => {
                        a.release_in(d, ns, &mut arena);
                        a.end_defer();
                        a.flush_ack_in(&mut arena);
                        while let Some(b) = a.poll_transmit() {
                            out.push(b);
                        }
                    }
                }
                let timer = a.sync_timer().map(|x| x - t);
                let seen: Vec<_> = out.iter().map(|m| (m.to_vec(), parse(m).header.ns)).collect();
                let state = (
                    a.deadline().map(|x| x - t),
                    a.replica_state(),
                    a.in_flight(),
                    a.reserved,
                    a.unacknowledged_received(),
                );
                (went, (seen, timer, state))
            };
            let (_, general) = run(false);
            let (went, alone) = run(true);
            proptest::prop_assert_eq!(alone, general);
            // The usual case is taken: nothing else reserved, sent or queued (no ZLB), within
            // the window.
            if others == 0 && after == 0 && before + warm == 0 && (!owe_ack || deferred) {
                proptest::prop_assert!(went);
            }
        }
    }

    /// `release_marked_in` docs: reserved messages cut from the arena whose Nr moved before
    /// their release (a message of the peer received meanwhile) are rewritten into the arena,
    /// not into allocations of their own: the datagrams sent lie in the arena's block, with the
    /// new Nr.
    #[test]
    fn released_messages_whose_nr_moved_are_rewritten_into_the_arena() {
        let (t, mut a, mut b) = pair();
        a.set_peer_window(8);
        let mut arena = BytesMut::with_capacity(ARENA_BLOCK);
        let base = arena.as_ptr() as usize;
        let ns: Vec<u16> = (0..3)
            .map(|_| a.reserve_in(ControlMessage::hello(0), &mut arena).unwrap())
            .collect();
        b.send(t, ControlMessage::hello(0)).unwrap();
        relay(t, &mut b, &mut a);
        let nr = a.replica_state().1;
        assert_eq!(nr, 1, "the peer's message moved our Nr");
        for ns in &ns {
            a.mark_released(t, *ns);
        }
        a.release_marked_in(t, &mut arena);
        // Slow start: one in flight at first.
        assert!(sent_from_arena(&mut a, base, &ns, nr) >= 1, "released");
    }

    /// Polls `a`'s datagrams: each message (ZLBs skipped) carries the next Ns of `ns` and Nr
    /// `nr`, and lies in the arena block at `base`; returns how many there were.
    fn sent_from_arena(a: &mut Channel, base: usize, ns: &[u16], nr: u16) -> usize {
        let mut sent = 0;
        while let Some(d) = a.poll_transmit() {
            let m = parse(&d);
            if m.is_zlb() {
                continue;
            }
            assert_eq!((m.header.ns, m.header.nr), (ns[sent], nr));
            let at = d.as_ptr() as usize;
            assert!(
                (base..base + ARENA_BLOCK).contains(&at),
                "message {sent} in the arena"
            );
            sent += 1;
        }
        sent
    }

    /// `receive_in` docs (a burst of held ICRPs): reserved messages released while
    /// the window was closed leave when the peer's acknowledgement opens it, carrying the Nr
    /// current when they leave (RFC 2661 5.8: Nr is the next Ns expected; the peer's message
    /// moved it), rewritten into the arena rather than into allocations of their own.
    #[test]
    fn released_messages_let_through_by_an_acknowledgement_are_rewritten_into_the_arena() {
        let (t, mut a, mut b) = pair();
        a.set_peer_window(8);
        let mut arena = BytesMut::with_capacity(ARENA_BLOCK);
        let base = arena.as_ptr() as usize;
        // Slow start: one message in flight closes the window.
        a.send(t, ControlMessage::hello(0)).unwrap();
        let first = a.poll_transmit().unwrap();
        let ns: Vec<u16> = (0..2)
            .map(|_| a.reserve_in(ControlMessage::hello(0), &mut arena).unwrap())
            .collect();
        for ns in &ns {
            a.mark_released(t, *ns);
        }
        a.release_marked_in(t, &mut arena);
        assert!(a.poll_transmit().is_none(), "the window is closed");
        // The peer takes the first message and answers: its Nr acknowledges it, its Ns moves
        // our Nr.
        b.receive(t, parse(&first));
        b.send(t, ControlMessage::hello(0)).unwrap();
        let answer = b.poll_transmit().unwrap();
        let mut delivered = Vec::new();
        a.receive_in(t, parse(&answer), &mut delivered, &mut arena);
        assert_eq!(delivered.len(), 1);
        let nr = a.replica_state().1;
        assert_eq!(nr, 1, "the peer's message moved our Nr");
        let sent = sent_from_arena(&mut a, base, &ns, nr);
        assert!(sent >= 1, "let through by the acknowledgement");
    }

    /// `release_in` docs: a reserved message released alone whose Nr moved since it was
    /// reserved leaves with the current Nr (RFC 2661 5.8), rewritten into the arena.
    #[test]
    fn a_message_released_alone_whose_nr_moved_is_rewritten_into_the_arena() {
        let (t, mut a, mut b) = pair();
        let mut arena = BytesMut::with_capacity(ARENA_BLOCK);
        let base = arena.as_ptr() as usize;
        let ns = a.reserve_in(ControlMessage::hello(0), &mut arena).unwrap();
        b.send(t, ControlMessage::hello(0)).unwrap();
        relay(t, &mut b, &mut a);
        let nr = a.replica_state().1;
        assert_eq!(nr, 1, "the peer's message moved our Nr");
        a.release_in(t, ns, &mut arena);
        assert_eq!(sent_from_arena(&mut a, base, &[ns], nr), 1, "released");
    }

    /// `hold_ack` docs (output commit of a CDN): while a received message's
    /// acknowledgement is held, no Nr we send passes it, so the peer retransmits it (RFC 2661
    /// 5.8) and a backup resuming from a copy taken before it (the LNS failed before its backup
    /// held the message's effect) receives and delivers it; once released, the peer's channel is
    /// acknowledged.
    #[test]
    fn held_acknowledgement_keeps_the_message_retransmitted() {
        let (t, mut lac, mut lns) = pair();
        lac.set_peer_window(8);
        lns.set_peer_window(8);
        let (ns0, nr0, w) = lns.replica_state();
        lac.send(t, ControlMessage::hello(0)).unwrap();
        let got = lns.receive(t, parse(&lac.poll_transmit().unwrap()));
        assert_eq!(got.len(), 1);
        let ns = got[0].header.ns;
        lns.hold_ack(ns);
        // The ZLB owed leaves the message unacknowledged.
        lns.flush_ack();
        relay(t, &mut lns, &mut lac);
        assert_eq!(lac.in_flight(), 1);
        // A message we send meanwhile does not acknowledge it either.
        lns.send(t, ControlMessage::hello(0)).unwrap();
        assert_eq!(relay(t, &mut lns, &mut lac).len(), 1);
        relay(t, &mut lac, &mut lns);
        assert_eq!(lac.in_flight(), 1);
        // The LNS fails now: the LAC retransmits to the backup, which delivers it.
        let d = lac.deadline().unwrap();
        lac.handle_timeout(d).unwrap();
        let resent = lac.poll_transmit().unwrap();
        let mut backup = Channel::new(ChannelConfig::default(), 1);
        backup.resume_replica(d, ns0, nr0, w);
        assert_eq!(backup.receive(d, parse(&resent)).len(), 1, "delivered");
        // Or it does not fail: released, the acknowledgement goes.
        assert!(lns.receive(d, parse(&resent)).is_empty(), "a duplicate");
        lns.flush_ack();
        relay(d, &mut lns, &mut lac);
        assert_eq!(lac.in_flight(), 1);
        lns.release_ack(ns);
        lns.flush_ack();
        relay(d, &mut lns, &mut lac);
        assert!(lac.is_idle());
    }

    /// RFC 2661 5.8: a ZLB is the acknowledgement when no message carries it. With the
    /// acknowledgement of the message just taken held (`hold_ack` docs) and everything before
    /// it acknowledged already, a ZLB would repeat the Nr the peer has: none goes (the
    /// LAC's CDN under output commit cost one). A message before it still unacknowledged gets
    /// its ZLB, and a duplicate of the held one is re-acknowledged (the peer's copy of our
    /// acknowledgement may be lost).
    #[test]
    fn held_acknowledgement_sends_no_zlb_that_acknowledges_nothing() {
        let (t, mut lac, mut lns) = pair();
        lac.set_peer_window(8);
        lns.set_peer_window(8);
        // A first message, acknowledged by a ZLB.
        lac.send(t, ControlMessage::hello(0)).unwrap();
        assert_eq!(relay(t, &mut lac, &mut lns).len(), 1);
        relay(t, &mut lns, &mut lac);
        assert!(lac.is_idle());
        // The next one's acknowledgement is held: nothing leaves.
        lac.send(t, ControlMessage::hello(0)).unwrap();
        let second = lac.poll_transmit().unwrap();
        let got = lns.receive(t, parse(&second));
        lns.hold_ack(got[0].header.ns);
        lns.flush_ack();
        assert!(lns.poll_transmit().is_none(), "a ZLB repeating the Nr");
        // Its duplicate is re-acknowledged, at the held Nr.
        assert!(lns.receive(t, parse(&second)).is_empty());
        lns.flush_ack();
        let zlb = parse(&lns.poll_transmit().expect("the duplicate's ZLB"));
        assert!(zlb.is_zlb());
        assert_eq!(zlb.header.nr, got[0].header.ns);
        // Two messages taken at once, the second held: the first is acknowledged.
        let (t2, mut lac, mut lns) = pair();
        lac.set_peer_window(8);
        lns.set_peer_window(8);
        for _ in 0..3 {
            lac.send(t2, ControlMessage::hello(0)).unwrap();
            relay(t2, &mut lac, &mut lns);
            relay(t2, &mut lns, &mut lac);
        }
        lac.send(t2, ControlMessage::hello(0)).unwrap();
        lac.send(t2, ControlMessage::hello(0)).unwrap();
        let mut got = Vec::new();
        while let Some(b) = lac.poll_transmit() {
            got.extend(lns.receive(t2, parse(&b)));
        }
        assert_eq!(got.len(), 2);
        lns.hold_ack(got[1].header.ns);
        lns.flush_ack();
        relay(t2, &mut lns, &mut lac);
        assert_eq!(
            lac.in_flight(),
            1,
            "the first acknowledged, the held one not"
        );
    }

    /// `hold_ack` docs: several held at once (the first kept in the channel, the others in its
    /// backlog), released in any order: our Nr stays at the oldest still held, and reaches the
    /// peer's next once none is (RFC 2661 5.8: Nr acknowledges every message before it).
    #[test]
    fn several_held_acknowledgements_release_in_any_order() {
        for order in [[0usize, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let (t, mut lac, mut lns) = pair();
            lac.set_peer_window(8);
            lns.set_peer_window(8);
            for _ in 0..3 {
                lac.send(t, ControlMessage::hello(0)).unwrap();
                relay(t, &mut lac, &mut lns);
                relay(t, &mut lns, &mut lac);
            }
            let mut ns = Vec::new();
            for _ in 0..3 {
                lac.send(t, ControlMessage::hello(0)).unwrap();
                let b = lac.poll_transmit().unwrap();
                let got = lns.receive(t, parse(&b));
                lns.hold_ack(got[0].header.ns);
                ns.push(got[0].header.ns);
            }
            let next = ns[2].wrapping_add(1);
            for (k, i) in order.iter().enumerate() {
                lns.release_ack(ns[*i]);
                let oldest = order[k + 1..].iter().map(|j| ns[*j]).min();
                lns.send(t, ControlMessage::hello(0)).unwrap();
                let m = parse(&lns.poll_transmit().unwrap());
                assert_eq!(
                    m.header.nr,
                    oldest.unwrap_or(next),
                    "order {order:?}, step {k}"
                );
                assert_eq!(lac.receive(t, m).len(), 1);
                lac.flush_ack();
                relay(t, &mut lac, &mut lns);
            }
            assert!(lac.is_idle() && lns.is_idle());
        }
    }
}
