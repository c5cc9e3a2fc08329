//! Session state (RFC 2661 section 7.4 and 7.5 state machines, incoming and outgoing calls) and
//! data-message sequencing.

use super::wire::DataMessage;
use std::borrow::Cow;
use std::num::NonZeroU16;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionState {
    /// LAC: ICRQ sent, waiting for ICRP.
    WaitReply,
    /// LNS: ICRP sent, waiting for ICCN.
    WaitConnect,
    /// LNS: OCRQ sent, waiting for OCRP.
    WaitOutgoingReply,
    /// LNS: OCRP received, waiting for OCCN.
    WaitOutgoingConnect,
    /// Established: data flows.
    Established,
    /// Contact LNS: ICRP with RedirectTarget sent; waiting for the LAC's CDN (or the short timer).
    ///
    /// No longer produced: the LNS keeps redirect records apart from its sessions
    /// ([`Sessions::hold`]; counted by `Lns::pending_redirects`). Kept so that code matching
    /// on the state still compiles.
    Redirected,
}

/// Whether the PPP frame `frame` is an LCP Echo-Request or Echo-Reply (RFC 1661 section 5.8:
/// LCP code 9 or 10; LCP's Protocol field is never compressed, section 6.5), with or without
/// the HDLC Address and Control fields (0xff 0x03, absent when compressed, RFC 1661 section
/// 6.6). RFC 2661 section 3.1: the P bit asks for "preferential treatment in its local queuing
/// and transmission"; "LCP echo requests used as a keepalive for the link, for instance, should
/// generally be sent with this bit set. Without it, a temporary interval of local congestion
/// could result in interference with keepalive messages and unnecessary loss of the link." A
/// reply answers such a keepalive, so it is marked too.
pub fn is_lcp_echo(frame: &[u8]) -> bool {
    let lcp = frame.strip_prefix(&[0xff, 0x03][..]).unwrap_or(frame);
    matches!(lcp, [0xc0, 0x21, 9 | 10, ..])
}

/// One session of a tunnel.
#[derive(Debug, Clone)]
pub struct Session {
    /// Our Session ID (the peer puts it in headers).
    pub local_id: u16,
    /// The peer's Session ID, once its Assigned Session ID AVP arrived (RFC 2661 4.4.4: the id
    /// is non-zero).
    pub peer_id: Option<NonZeroU16>,
    /// State.
    pub state: SessionState,
    /// Call Serial Number.
    pub serial: u32,
    /// Data messages carry Ns/Nr (Sequencing Required, or configured; at a LAC without either,
    /// as the LNS's last data message did: [`Session::sequencing_required`]).
    pub sequencing: bool,
    /// LAC: Sequencing Required was exchanged for this call (or configured), so Ns/Nr stay on
    /// every data message for the session's life. Without it the LNS controls sequencing (RFC
    /// 2661 5.4): the LAC sends Ns/Nr exactly when the LNS's last data message carried them.
    pub sequencing_required: bool,
    /// The peer said it can be redirected (LoadBalanceCapable in ICRQ or SCCRQ).
    pub load_balance_capable: bool,
    /// Next data Ns to send.
    pub data_ns: u16,
    /// Next data Ns expected.
    pub data_nr: u16,
    /// The LAC's call handle, if any.
    pub call: Option<super::CallId>,
    /// LNS with [`LnsConfig::admission`](super::LnsConfig::admission): the pending admission
    /// decision of this call while the caller has neither accepted nor refused it (no ICRP sent
    /// yet; see [`Event::IncomingCall`](super::Event::IncomingCall)).
    pub admission: Option<super::AdmissionId>,
    /// LNS: the call's details, the ICRQ's and then the ICCN's merged in, the fields of
    /// [`CallDetails::replicable`](super::CallDetails::replicable) (no proxy LCP, no proxy
    /// authentication challenge, ID or response: those served PPP's start and are dropped once
    /// [`Event::CallConnected`](super::Event::CallConnected) reported them); replicated with the
    /// session (`lns::replicate` docs, records) so that a backup that takes the call over can
    /// tell whose call it is; packed ([`PackedCallDetails`](super::call::PackedCallDetails)), so
    /// that a session costs a few octets more than the values. `None` when the LAC gave none.
    pub details: Option<super::call::PackedCallDetails>,
    /// LNS: the Ns of this incoming call's ICRP in the tunnel's control channel, from when it
    /// was numbered (replicated with the answered call, so a backup taking the tunnel
    /// over knows whether the LAC took it; `tunnel::snapshot` docs).
    pub icrp_ns: Option<u16>,
    /// LNS: an established call a takeover restored (`tunnel::snapshot` docs), whose ICCN the
    /// failed LNS may not have taken, or took without its acknowledgement reaching the LAC
    /// before the copy's Nr was sent: the LAC's ICCN may still arrive once, and is taken
    /// without a word. Any other ICCN for an established call is out of the call machine's
    /// order (RFC 2661 7.4.2, "Send CDN, Clean up").
    pub awaiting_iccn: bool,
    /// PPP frames sent (data messages built).
    pub frames_sent: u64,
    /// PPP frames received (data messages accepted).
    pub frames_received: u64,
    /// RFC 4951 3.2.3 data channel reset pending after a recovery ([`Session::arm_nr_reset`]).
    pub nr_reset: Option<NrReset>,
}

/// A data channel reset after an RFC 4951 recovery (3.2.3): "if an endpoint receives 'n' out
/// of order but in sequence packets, then it MUST set the Nr value based on the Ns value of the
/// incoming packets". Data messages behind the Ns expected are counted while each follows the
/// one before (Ns one more); the `need`-th of a run sets the Ns expected past it, and the reset
/// is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NrReset {
    /// 'n': late messages in sequence that reset the Ns expected (at least 1).
    pub need: u8,
    /// Late messages in sequence so far in the current run.
    pub run: u8,
    /// The Ns that continues the run.
    pub next: u16,
}

impl Session {
    /// A new session; `peer_id` 0 while the peer has not assigned its Session ID.
    pub fn new(local_id: u16, peer_id: u16, state: SessionState, serial: u32) -> Self {
        Session {
            local_id,
            peer_id: NonZeroU16::new(peer_id),
            state,
            serial,
            sequencing: false,
            sequencing_required: false,
            load_balance_capable: false,
            data_ns: 0,
            data_nr: 0,
            call: None,
            admission: None,
            details: None,
            icrp_ns: None,
            awaiting_iccn: false,
            frames_sent: 0,
            frames_received: 0,
            nr_reset: None,
        }
    }

    /// RFC 4951 3.2.3, an endpoint with the D bit after a recovery: the next `need` data
    /// messages (at least 1) in sequence with each other but behind the Ns expected reset it
    /// ([`NrReset`]). Nothing for a session without sequence numbers.
    pub fn arm_nr_reset(&mut self, need: u8) {
        if self.sequencing {
            self.nr_reset = Some(NrReset {
                need: need.max(1),
                run: 0,
                next: 0,
            });
        }
    }

    /// The Session ID for headers to the peer: its assigned id, or 0 while it has none (RFC 2661
    /// 3.1: a message for a session whose peer id is not yet known carries Session ID 0).
    pub fn peer_header_id(&self) -> u16 {
        self.peer_id.map_or(0, NonZeroU16::get)
    }

    /// Builds the data message for `frame` to the peer (sequenced when required), with the P
    /// bit set when `frame` is an LCP Echo-Request or Echo-Reply ([`is_lcp_echo`]).
    pub fn data_message<'a>(&mut self, peer_tunnel: u16, frame: &'a [u8]) -> DataMessage<'a> {
        self.frames_sent = self.frames_sent.saturating_add(1);
        let mut d = DataMessage::new(peer_tunnel, self.peer_header_id(), Cow::Borrowed(frame));
        d.header.priority = is_lcp_echo(frame);
        if self.sequencing {
            d.header.sequence = Some((self.data_ns, self.data_nr));
            self.data_ns = self.data_ns.wrapping_add(1);
        }
        d
    }

    /// Accepts a received data message's sequence number: `false` for a duplicate or late one
    /// (dropped, RFC 2661 5.8 allows it for data).
    pub fn accept_data(&mut self, seq: Option<(u16, u16)>) -> bool {
        let accepted = self.in_sequence(seq);
        if accepted {
            self.frames_received = self.frames_received.saturating_add(1);
        }
        accepted
    }

    fn in_sequence(&mut self, seq: Option<(u16, u16)>) -> bool {
        match seq {
            Some((ns, _)) if self.sequencing => {
                if super::channel::seq_lt(ns, self.data_nr) && !self.late_resets(ns) {
                    return false;
                }
                self.data_nr = ns.wrapping_add(1);
                true
            }
            _ => true,
        }
    }
}

impl Session {
    /// A data message `ns` behind the Ns expected, during a data channel reset ([`NrReset`]):
    /// whether it completes its run of late messages in sequence (the Ns expected then moves
    /// past it and the reset is over).
    fn late_resets(&mut self, ns: u16) -> bool {
        let Some(r) = self.nr_reset.as_mut() else {
            return false;
        };
        r.run = if r.run > 0 && ns == r.next {
            r.run.saturating_add(1)
        } else {
            1
        };
        r.next = ns.wrapping_add(1);
        if r.run < r.need {
            return false;
        }
        self.nr_reset = None;
        true
    }
}

/// Up to this many sessions a tunnel keeps them in a vector searched in place; beyond, in a
/// hash table ([`Sessions`]).
const FEW: usize = 8;

/// A tunnel's sessions by our Session ID (memory per established session).
/// A tunnel with few sessions (most LAC tunnels carry one or a handful) keeps them in a vector
/// grown one at a time: one session costs its own size, where a hash table's smallest
/// allocation holds four. Past eight sessions, a hash table keyed by our ids, beside an index of
/// our ids by the peer's Session ID ([`Sessions::find_by_peer`]: an ICRQ's duplicate check and
/// a CDN with Session ID 0 read one bucket, not every session of the tunnel). Iteration order
/// is unspecified, as a hash table's.
///
/// The index follows [`Session::peer_id`] as the peer assigns it once (RFC 2661 4.4.4: the
/// Assigned Session ID of ICRQ, ICRP, OCRQ or OCRP): a session put in without a peer id may
/// learn it later, in place; a peer id, once set, is not changed to another.
///
/// Beside the sessions, the tunnel's redirect records ([`Sessions::hold`]): the Session IDs a
/// contact LNS assigned in an ICRP carrying `RedirectTarget` and holds until the LAC's CDN or
/// the redirect hold (RFC 2661 7.4.2). They are not sessions (not counted by
/// [`Sessions::len`], not iterated), but their ids are taken: [`Sessions::id_taken`].
#[derive(Debug, Default)]
pub struct Sessions {
    repr: Repr,
    /// The redirect records, in no order (few per tunnel: at most the LNS's
    /// `max_pending_redirects` in all); boxed, so that a tunnel that never held one pays 8
    /// bytes for them (at most 512 B per established tunnel), and kept once
    /// made (no allocation per record on a tunnel that redirects).
    #[allow(clippy::box_collection)] // the box is the point: one word when empty
    held: Option<Box<Vec<Held>>>,
}

/// A redirect record ([`Sessions::hold`]): 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    /// Our Session ID, assigned in the ICRP.
    local_id: u16,
    /// The LAC's Session ID (its ICRQ's Assigned Session ID; 0 when it gave none).
    peer_id: u16,
    /// Which record this is, for its expiry (`Core::expire_redirects`).
    seq: u32,
}

#[derive(Debug)]
enum Repr {
    Few(Vec<Session>),
    /// The tables boxed: the tunnel's record holds a vector's size, not a table's (memory per
    /// tunnel).
    Many(Many),
}

/// A tunnel's sessions past [`FEW`]: its tables, boxed, and the peer hash kept beside the box
/// in the tunnel's record (16 bytes, within a vector's 24), so that a look-up by the peer's
/// Session ID reads the tables' header line and the index, no more (the redirect decision's cost).
#[derive(Debug)]
struct Many {
    tables: Box<Tables>,
    /// foldhash's quality variant (its fast variant mixes a small key's high bits, the tag
    /// hashbrown compares, poorly for some seeds: `io::timer`'s `KeyHasher`) under a random
    /// 64-bit seed ([`random_seed`]), so peers cannot aim their ids at one probe sequence; a
    /// tenth of SipHash's instructions for the ICRQ's duplicate check (memory per tunnel and session).
    hasher: foldhash::quality::FixedState,
}

/// The tables of a [`Many`]: the two a call's set-up reads (by our id: the Session ID drawn
/// is free; by the peer's: the ICRQ is no duplicate) share one 64-byte aligned cache line,
/// and the list of sessions without a peer id, read only when there is one, follows (at a
/// million sessions every line a redirect decision reads is a likely miss).
#[derive(Debug)]
#[repr(C, align(64))]
struct Tables {
    by_id: super::tunnel::IdMap<Session>,
    /// The sessions that had a peer id when put in, filed by that id with our id beside it
    /// (the peer chooses it: a keyed hash, never [`super::tunnel::IdHasher`]); each entry
    /// names a session of `by_id` whose peer id is the one it was filed under, so a look-up
    /// compares entries, reading no session but the one found.
    by_peer: hashbrown::HashTable<Filed>,
    /// Our ids of the sessions put in without a peer id (they may have learned it since):
    /// every session of `by_id` is filed in `by_peer` or listed here, so this list is empty
    /// exactly when `by_peer` holds as many entries as `by_id`.
    unassigned: Vec<u16>,
}

/// An entry of [`Tables::by_peer`]: 4 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Filed {
    /// The peer's Session ID the session was filed under (non-zero).
    peer: u16,
    /// Our Session ID.
    id: u16,
}

/// A random seed for a [`Many`]'s peer hash: drawn from std's randomly keyed SipHash (keys from
/// the operating system once per thread, as `std::hash::RandomState` had them before), so the
/// endpoint's own RNG, whose draws the ids and the simulator's seeded runs follow, is not
/// consumed.
fn random_seed() -> u64 {
    std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0x7365_7373_696f_6e73_u64)
}

impl Many {
    /// No sessions; the peer hash keyed by `seed`.
    fn new(seed: u64) -> Self {
        Many {
            tables: Box::new(Tables {
                by_id: super::tunnel::IdMap::default(),
                by_peer: hashbrown::HashTable::new(),
                unassigned: Vec::new(),
            }),
            hasher: foldhash::quality::FixedState::with_seed(seed),
        }
    }

    fn hash(&self, peer: u16) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, peer)
    }

    /// Files session `id` (already in `by_id`) in the peer index.
    fn index(&mut self, id: u16, peer: u16) {
        if peer == 0 {
            self.tables.unassigned.push(id);
            return;
        }
        let hasher = &self.hasher;
        let rehash = |f: &Filed| std::hash::BuildHasher::hash_one(hasher, f.peer);
        let h = std::hash::BuildHasher::hash_one(hasher, peer);
        self.tables
            .by_peer
            .insert_unique(h, Filed { peer, id }, rehash);
    }

    /// Takes session `id`, whose peer id is `peer` now, out of the peer index.
    fn unindex(&mut self, id: u16, peer: u16) {
        let t = &mut *self.tables;
        if let Some(i) = t.unassigned.iter().position(|&u| u == id) {
            t.unassigned.swap_remove(i);
            return;
        }
        let h = std::hash::BuildHasher::hash_one(&self.hasher, peer);
        match t.by_peer.find_entry(h, |f| f.id == id) {
            Ok(e) => {
                e.remove();
            }
            // Filed under another peer id (changed in place, against the type's contract): the
            // entry is found by a pass over the index, so none is left behind.
            Err(_) => t.by_peer.retain(|f| f.id != id),
        }
    }

    fn insert(&mut self, id: u16, s: Session) -> Option<Session> {
        let peer = s.peer_header_id();
        let old = self.tables.by_id.insert(id, s);
        if let Some(o) = &old {
            self.unindex(id, o.peer_header_id());
        }
        self.index(id, peer);
        old
    }

    fn remove(&mut self, id: &u16) -> Option<Session> {
        let s = self.tables.by_id.remove(id)?;
        self.unindex(*id, s.peer_header_id());
        Some(s)
    }

    fn find_by_peer(&self, peer: u16) -> Option<&Session> {
        let t = &*self.tables;
        let read = |i: &u16| {
            #[cfg(test)]
            tests::READ.with(|r| r.set(r.get() + 1));
            t.by_id.get(i)
        };
        // An entry filed under `peer` names a session with that peer id (type docs): only such
        // an entry's session is read, and checked, so that one whose id was changed in place
        // against the contract is not returned for the old one.
        let filed = t.by_peer.find(self.hash(peer), |f| {
            f.peer == peer && read(&f.id).is_some_and(|s| s.peer_header_id() == peer)
        });
        if let Some(f) = filed {
            return t.by_id.get(&f.id);
        }
        debug_assert_eq!(t.by_id.len(), t.by_peer.len() + t.unassigned.len());
        // Every session filed (the usual case): the list is empty and not read.
        if t.by_peer.len() == t.by_id.len() {
            return None;
        }
        t.unassigned
            .iter()
            .filter_map(read)
            .find(|s| s.peer_header_id() == peer)
    }
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Few(Vec::new())
    }
}

/// The sessions of a [`Sessions`], in unspecified order.
#[derive(Debug)]
pub enum Iter<'a> {
    /// From a vector.
    Few(std::slice::Iter<'a, Session>),
    /// From a hash table.
    Many(std::collections::hash_map::Values<'a, u16, Session>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Session;
    fn next(&mut self) -> Option<&'a Session> {
        match self {
            Iter::Few(i) => i.next(),
            Iter::Many(i) => i.next(),
        }
    }
}

impl Sessions {
    /// How many.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Few(v) => v.len(),
            Repr::Many(m) => m.tables.by_id.len(),
        }
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Session `id`.
    pub fn get(&self, id: &u16) -> Option<&Session> {
        match &self.repr {
            Repr::Few(v) => v.iter().find(|s| s.local_id == *id),
            Repr::Many(m) => m.tables.by_id.get(id),
        }
    }

    /// Session `id`, to change.
    pub fn get_mut(&mut self, id: &u16) -> Option<&mut Session> {
        match &mut self.repr {
            Repr::Few(v) => v.iter_mut().find(|s| s.local_id == *id),
            Repr::Many(m) => m.tables.by_id.get_mut(id),
        }
    }

    /// A session whose peer's Session ID is `peer` (non-zero), if any: with many sessions, one
    /// look-up in the peer index (type docs), not a pass over the sessions.
    pub fn find_by_peer(&self, peer: u16) -> Option<&Session> {
        if peer == 0 {
            return None;
        }
        match &self.repr {
            Repr::Few(v) => v.iter().find(|s| s.peer_header_id() == peer),
            Repr::Many(m) => m.find_by_peer(peer),
        }
    }

    /// Whether session `id` is here.
    pub fn contains_key(&self, id: &u16) -> bool {
        self.get(id).is_some()
    }

    /// Puts `s` under `id` (its [`Session::local_id`]); returns the session it replaced.
    pub fn insert(&mut self, id: u16, s: Session) -> Option<Session> {
        debug_assert_eq!(id, s.local_id);
        match &mut self.repr {
            Repr::Many(m) => return m.insert(id, s),
            Repr::Few(v) => {
                if let Some(old) = v.iter_mut().find(|o| o.local_id == id) {
                    return Some(std::mem::replace(old, s));
                }
            }
        }
        match &mut self.repr {
            Repr::Few(v) if v.len() < FEW => {
                // Grown one at a time: a vector's first growth would hold four.
                v.reserve_exact(1);
                v.push(s);
            }
            Repr::Few(v) => {
                let mut m = Many::new(random_seed());
                for s in v.drain(..).chain(std::iter::once(s)) {
                    m.insert(s.local_id, s);
                }
                self.repr = Repr::Many(m);
            }
            Repr::Many(m) => return m.insert(id, s),
        }
        None
    }

    /// Removes session `id`.
    pub fn remove(&mut self, id: &u16) -> Option<Session> {
        match &mut self.repr {
            Repr::Few(v) => {
                let i = v.iter().position(|s| s.local_id == *id)?;
                Some(v.swap_remove(i))
            }
            Repr::Many(m) => m.remove(id),
        }
    }

    /// The sessions, in unspecified order.
    pub fn values(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Few(v) => Iter::Few(v.iter()),
            Repr::Many(m) => Iter::Many(m.tables.by_id.values()),
        }
    }

    /// Our Session IDs, in unspecified order.
    pub fn keys(&self) -> impl Iterator<Item = &u16> {
        self.values().map(|s| &s.local_id)
    }

    /// Takes every session out, with its id.
    pub fn drain(&mut self) -> std::vec::IntoIter<(u16, Session)> {
        let v: Vec<(u16, Session)> = match std::mem::take(&mut self.repr) {
            Repr::Few(v) => v.into_iter().map(|s| (s.local_id, s)).collect(),
            Repr::Many(m) => m.tables.by_id.into_iter().collect(),
        };
        v.into_iter()
    }

    /// Whether `id` is ours on this tunnel, by a session or a redirect record: the Session ID
    /// allocator hands out neither.
    pub fn id_taken(&self, id: u16) -> bool {
        self.held().iter().any(|h| h.local_id == id) || self.contains_key(&id)
    }

    /// Holds a redirect record: our Session ID `id` (not taken: [`Sessions::id_taken`]), told
    /// the LAC in the ICRP that redirected its session `peer` (0: none given); `seq` names the
    /// record for its expiry.
    pub fn hold(&mut self, id: u16, peer: u16, seq: u32) {
        debug_assert!(!self.id_taken(id));
        self.held.get_or_insert_default().push(Held {
            local_id: id,
            peer_id: peer,
            seq,
        });
    }

    /// Redirect records held.
    pub fn held_len(&self) -> usize {
        self.held().len()
    }

    /// Whether a redirect record holds our Session ID `id` under `seq`.
    pub fn holds(&self, id: u16, seq: u32) -> bool {
        self.held().iter().any(|h| h.local_id == id && h.seq == seq)
    }

    /// Whether a redirect record holds our Session ID `id`.
    pub fn holds_any(&self, id: u16) -> bool {
        self.held().iter().any(|h| h.local_id == id)
    }

    /// Whether a redirect record was made for the LAC's session `peer` (non-zero: 0 names none,
    /// as [`Sessions::find_by_peer`]).
    pub fn holds_peer(&self, peer: u16) -> bool {
        peer != 0 && self.held().iter().any(|h| h.peer_id == peer)
    }

    /// Frees the redirect record of our Session ID `id`, or (`id` 0) the one made for the
    /// LAC's session `peer` (non-zero); `false` when there is none.
    pub fn release(&mut self, id: u16, peer: u16) -> bool {
        self.take_held(id, peer).is_some()
    }

    /// [`Sessions::release`], returning the freed record's Session ID and number (the `seq` it
    /// was held under).
    pub(crate) fn take_held(&mut self, id: u16, peer: u16) -> Option<(u16, u32)> {
        let i = if id != 0 {
            self.held().iter().position(|h| h.local_id == id)
        } else if peer != 0 {
            self.held().iter().position(|h| h.peer_id == peer)
        } else {
            None
        };
        let h = self.held.as_mut()?.swap_remove(i?);
        Some((h.local_id, h.seq))
    }

    /// The redirect records.
    fn held(&self) -> &[Held] {
        self.held.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Frees every redirect record (the tunnel went); how many there were.
    pub fn release_all(&mut self) -> usize {
        self.held.take().map_or(0, |h| h.len())
    }

    /// Frees the memory not in use.
    pub fn shrink_to_fit(&mut self) {
        match self.held.as_mut() {
            Some(h) if h.is_empty() => self.held = None,
            Some(h) => h.shrink_to_fit(),
            None => {}
        }
        match &mut self.repr {
            Repr::Few(v) => v.shrink_to_fit(),
            Repr::Many(m) => {
                let (t, hasher) = (&mut *m.tables, &m.hasher);
                t.by_peer
                    .shrink_to_fit(|f| std::hash::BuildHasher::hash_one(hasher, f.peer));
                t.unassigned.shrink_to_fit();
                t.by_id.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FEW, Session, SessionState, Sessions};
    use proptest::prelude::*;
    use std::collections::HashMap;

    std::thread_local! {
        /// Sessions read by [`Sessions::find_by_peer`] on this thread.
        pub(super) static READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// The session a pass over every session finds for `peer` (what
    /// [`Sessions::find_by_peer`] replaced): its our id, the lowest when several match.
    fn scan(t: &Sessions, peer: u16) -> Option<u16> {
        t.values()
            .filter(|s| peer != 0 && s.peer_header_id() == peer)
            .map(|s| s.local_id)
            .min()
    }

    proptest! {
        /// [`Sessions::find_by_peer`] finds a session with the peer id asked whenever a pass
        /// over the sessions does, and only such a session, through growth past `FEW`,
        /// replacements, removals and peer ids learned in place (0: none yet).
        #[test]
        fn find_by_peer_equals_a_scan(
            ops in proptest::collection::vec((0u8..4, 1u16..40, 0u16..12), 0..300),
        ) {
            let mut t = Sessions::default();
            for (op, id, peer) in ops {
                match op {
                    0 | 1 => {
                        t.insert(id, Session::new(id, peer, SessionState::Established, 0));
                    }
                    2 => {
                        t.remove(&id);
                    }
                    _ => {
                        // The peer assigns its id once (type docs).
                        if let Some(s) = t.get_mut(&id).filter(|s| s.peer_id.is_none()) {
                            s.peer_id = std::num::NonZeroU16::new(peer);
                        }
                    }
                }
                prop_assert_eq!(t.len(), t.values().count());
                for p in 0u16..12 {
                    let found = t.find_by_peer(p);
                    prop_assert_eq!(found.is_some(), scan(&t, p).is_some());
                    if let Some(s) = found {
                        prop_assert_eq!(s.peer_header_id(), p);
                        prop_assert_eq!(t.get(&s.local_id).map(|x| x.local_id), Some(s.local_id));
                    }
                }
            }
            t.shrink_to_fit();
            for p in 0u16..12 {
                prop_assert_eq!(t.find_by_peer(p).is_some(), scan(&t, p).is_some());
            }
        }
    }

    /// With many sessions, finding one by the peer's id reads a few of them (the peer index),
    /// not all: an ICRQ's duplicate check costs the same at 10 or 1000 sessions per tunnel
    /// (the redirect decision's cost curve).
    #[test]
    fn find_by_peer_reads_few_sessions() {
        let mut t = Sessions::default();
        for id in 1..=1000u16 {
            t.insert(
                id,
                Session::new(id, 5000 + id, SessionState::Established, 0),
            );
        }
        // Learned in place, after insertion.
        t.insert(2000, Session::new(2000, 0, SessionState::WaitReply, 0));
        t.get_mut(&2000).unwrap().peer_id = std::num::NonZeroU16::new(7);
        READ.with(|r| r.set(0));
        for id in 1..=1000u16 {
            assert_eq!(t.find_by_peer(5000 + id).map(|s| s.local_id), Some(id));
        }
        assert_eq!(t.find_by_peer(7).map(|s| s.local_id), Some(2000));
        assert!(t.find_by_peer(4000).is_none());
        let read = READ.with(std::cell::Cell::get);
        assert!(read <= 3 * 1002, "{read} sessions read for 1002 look-ups");
        t.remove(&2000);
        assert!(t.find_by_peer(7).is_none());
        assert_eq!(t.find_by_peer(5001).map(|s| s.local_id), Some(1));
    }

    /// An ICRQ's duplicate check (RFC 2661 7.4.2: an ICRQ names the LAC's call by its Assigned
    /// Session ID, 4.4.4) with many sessions reads no session when the LAC's id is new (the
    /// usual case, and every redirect decision's): the peer index's entries carry the peer id
    /// they were filed under, so a candidate is compared in the index (the redirect decision's cost); a
    /// session with that id is read once, to be returned. One that learned its id in place
    /// is still found (the list of sessions without one).
    #[test]
    fn find_by_peer_reads_no_session_for_a_new_peer_id() {
        let mut t = Sessions::default();
        for id in 1..=1000u16 {
            t.insert(
                id,
                Session::new(id, 5000 + id, SessionState::Established, 0),
            );
        }
        READ.with(|r| r.set(0));
        // Every id no session has: thousands of probes, whose hash tags collide with filed
        // entries' now and then.
        for peer in (1..5000u16).chain(6001..=u16::MAX) {
            assert!(t.find_by_peer(peer).is_none());
        }
        assert_eq!(
            READ.with(std::cell::Cell::get),
            0,
            "sessions read for new ids"
        );
        for id in 1..=1000u16 {
            assert_eq!(t.find_by_peer(5000 + id).map(|s| s.local_id), Some(id));
        }
        assert_eq!(
            READ.with(std::cell::Cell::get),
            1000,
            "one read per session found"
        );
        t.insert(2000, Session::new(2000, 0, SessionState::WaitReply, 0));
        t.get_mut(&2000).unwrap().peer_id = std::num::NonZeroU16::new(7);
        assert_eq!(t.find_by_peer(7).map(|s| s.local_id), Some(2000));
    }

    /// The tables a call's set-up reads by our id and by the peer's share one aligned cache
    /// line (the redirect decision's cost), and the peer hash stays in the tunnel's record beside the box,
    /// within a vector's size (memory per tunnel).
    #[test]
    fn the_two_indexes_share_one_cache_line() {
        assert_eq!(std::mem::align_of::<super::Tables>(), 64);
        assert!(
            std::mem::offset_of!(super::Tables, by_id)
                + std::mem::size_of::<crate::l2tp::tunnel::IdMap<Session>>()
                <= 64
        );
        assert!(
            std::mem::offset_of!(super::Tables, by_peer)
                + std::mem::size_of::<hashbrown::HashTable<super::Filed>>()
                <= 64
        );
        assert_eq!(
            std::mem::size_of::<super::Repr>(),
            std::mem::size_of::<Vec<Session>>()
        );
    }

    proptest! {
        /// [`Sessions`] (a vector up to `FEW`, then a hash table) answers as a hash table of
        /// the same sessions would, through growth past `FEW` and removals.
        #[test]
        fn sessions_table_equals_a_hash_map(
            ops in proptest::collection::vec((0u8..3, 1u16..24, any::<u32>()), 0..200),
        ) {
            let mut ours = Sessions::default();
            let mut model: HashMap<u16, u32> = HashMap::new();
            for (op, id, serial) in ops {
                match op {
                    0 => {
                        let s = Session::new(id, 1, SessionState::Established, serial);
                        let old = ours.insert(id, s).map(|s| s.serial);
                        prop_assert_eq!(old, model.insert(id, serial));
                    }
                    1 => {
                        let gone = ours.remove(&id).map(|s| s.serial);
                        prop_assert_eq!(gone, model.remove(&id));
                    }
                    _ => {
                        if let Some(s) = ours.get_mut(&id) {
                            s.serial = serial;
                        }
                        if let Some(v) = model.get_mut(&id) {
                            *v = serial;
                        }
                    }
                }
                prop_assert_eq!(ours.len(), model.len());
                prop_assert_eq!(ours.is_empty(), model.is_empty());
                for id in 1u16..24 {
                    prop_assert_eq!(ours.get(&id).map(|s| s.serial), model.get(&id).copied());
                    prop_assert_eq!(ours.contains_key(&id), model.contains_key(&id));
                }
                let mut keys: Vec<u16> = ours.keys().copied().collect();
                keys.sort_unstable();
                let mut want: Vec<u16> = model.keys().copied().collect();
                want.sort_unstable();
                prop_assert_eq!(keys, want);
            }
            let mut drained: Vec<(u16, u32)> =
                ours.drain().map(|(id, s)| (id, s.serial)).collect();
            drained.sort_unstable();
            let mut want: Vec<(u16, u32)> = model.into_iter().collect();
            want.sort_unstable();
            prop_assert_eq!(drained, want);
            prop_assert!(ours.is_empty());
        }
    }

    /// Redirect records cost a tunnel that holds none one word (at most 512 B
    /// per established tunnel); once made, their list stays through release and hold (no
    /// allocation per record), and goes when empty at `shrink_to_fit` or with `release_all`.
    #[test]
    fn redirect_records_cost_one_word_until_held() {
        assert_eq!(
            std::mem::size_of::<Sessions>(),
            std::mem::size_of::<super::Repr>() + std::mem::size_of::<usize>()
        );
        let mut t = Sessions::default();
        assert!(t.held.is_none() && !t.id_taken(7) && t.held_len() == 0);
        t.hold(7, 70, 1);
        t.hold(8, 0, 2);
        assert!(t.id_taken(7) && t.holds(7, 1) && !t.holds(7, 2) && t.holds_peer(70));
        assert!(!t.holds_peer(0), "peer 0 names no record");
        assert!(t.release(0, 70) && !t.id_taken(7) && t.held_len() == 1);
        assert!(!t.release(0, 0), "neither id names nothing");
        assert!(t.release(8, 0) && t.held_len() == 0);
        assert!(t.held.is_some(), "kept for the next record");
        t.shrink_to_fit();
        assert!(t.held.is_none());
        t.hold(9, 90, 3);
        assert_eq!(t.release_all(), 1);
        assert!(t.held.is_none() && !t.id_taken(9));
    }

    /// Each table's peer hash has a seed of its own, drawn at random (the peer chooses the ids
    /// it hashes: a fixed seed would let it aim them at one probe sequence).
    #[test]
    fn peer_hash_seeds_are_random() {
        let seeds: std::collections::HashSet<u64> = (0..64).map(|_| super::random_seed()).collect();
        assert_eq!(seeds.len(), 64);
        let a = super::Many::new(super::random_seed());
        let b = super::Many::new(super::random_seed());
        let differ = (1..=64u16).filter(|&p| a.hash(p) != b.hash(p)).count();
        assert!(differ >= 60, "{differ} of 64 peer ids hash apart");
    }

    /// One session costs its own size (memory per tunnel and session), not a hash table's four slots.
    #[test]
    fn one_session_holds_one_slot() {
        let mut t = Sessions::default();
        t.insert(5, Session::new(5, 1, SessionState::Established, 0));
        match &t.repr {
            super::Repr::Few(v) => assert_eq!(v.capacity(), 1),
            super::Repr::Many(_) => panic!("one session in a hash table"),
        }
        for id in 6..6 + FEW as u16 {
            t.insert(id, Session::new(id, 1, SessionState::Established, 0));
        }
        assert!(matches!(t.repr, super::Repr::Many(_)));
        assert_eq!(t.len(), FEW + 1);
    }
}
