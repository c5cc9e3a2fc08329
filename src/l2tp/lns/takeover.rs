//! The backup side of the virtual LNS's replication: the records held for each
//! member, the takeover when health finds a member Down or restarted, and the rules that keep
//! one owner per tunnel.
//!
//! * **Held records**: per member, at most [`super::ReplicationConfig::max_tunnels`] tunnels and
//!   [`super::ReplicationConfig::max_sessions`] sessions; beyond, a new record is refused
//!   (counted in [`crate::l2tp::Stats::replicas_refused`]) and what it describes is lost if the
//!   member fails. The end of a bulk sync from a member removes what it held for that member and
//!   the sync did not name. Records of a later incarnation of the member are never applied
//!   over those of a former one: the restart they show is acted on first, what was held taken
//!   over then (restart, below).
//! * **Takeover**: when health declares a member Down, its backup adopts every tunnel and session
//!   it holds for it (`tunnel::snapshot`: same ids, the member's address), each tunnel's control
//!   channel resumed silently from the LAC (any LAC, xl2tpd included) or, when the LAC advertised
//!   the Failover Capability with the C bit and this LNS has [`crate::l2tp::Config::failover`]
//!   with it, recovered the RFC 4951 way (`tunnel::recovery`: recovery tunnel, Suggested Control
//!   Sequence, FSQ/FSR for every session; silent when the recovery cannot start), emits one [`Event::TakenOver`] per address of the
//!   member (the caller moves the address here and installs the sessions' handoffs in its data
//!   plane), replicates them to its own backup as its own, and tells the failed member
//!   ([`Record::TakenOver`], sent again each time the member is seen Up). Each takeover makes the
//!   tunnel's owner generation ([`TunnelRecord::epoch`]) one more than the one it took. A tunnel whose id is
//!   already in use here, or that the tables cannot take, is lost with its sessions (counted in
//!   [`crate::l2tp::Stats::sessions_lost_in_takeover`]); a copy of a tunnel we own already at an
//!   owner generation not older than the copy's is stale and skipped (not counted).
//! * **One owner per tunnel**: the takeover decision stands; a member back after a false Down (the
//!   same incarnation) yields every tunnel named in a [`Record::TakenOver`] of its incarnation
//!   and of a newer owner generation than its own (a notice resent late, after the tunnel was
//!   taken back, is stale):
//!   it drops it without a StopCCN and emits [`Event::Yielded`] (the LAC's packets already go to
//!   the backup, which holds the address).
//! * **Restart**: a restart is a crash. A member restarted by its supervisor (a higher
//!   incarnation, health's `Restarted`) before health found it Down lost its state, but the
//!   LACs still hold its tunnels and calls. So when a member restarts while we hold records of
//!   a former incarnation of it (not taken over yet), we take them over exactly as at a Down
//!   (the same path: claims, RFC 4951 recovery or silent resume, one [`Event::TakenOver`] per
//!   address so the caller moves it here, replication to our own backup, the notices), and
//!   only then forget the rest of that incarnation (a late Down due, a claim lost to us by the
//!   restarted member). The records are consumed by the takeover: a later failure of the new
//!   incarnation resurrects nothing (issue 15 item 3). The restart may show first in the
//!   member's replication batches (their envelope names its incarnation, `replica::envelope`),
//!   which can reach us before the heartbeat that tells health: a batch of a later incarnation
//!   than the one we knew of it (from health, its batches or the records we hold) is the
//!   restart, acted on then as at health's `Restarted`, before the batch is applied (its batch
//!   numbers start again at 1: taken for duplicates of the former incarnation's, they would be
//!   acknowledged and never applied; applied over what we held, they would replace the calls
//!   the LAC still holds). Once per incarnation, whichever comes first: health's `Restarted`
//!   after it changes nothing, and a batch of the former incarnation delayed past the restart
//!   is refused ([`crate::l2tp::InputError::NotAuthorized`], as a replay: it would bring back
//!   what was taken over). Records the new incarnation sent are its own, kept. What we took from the
//!   former incarnation, and the claims on it, stay (another taker's claim is settled as at a
//!   Down, two takers below); records from the new incarnation are not late records of the
//!   tunnels we took (`late_source`: its new tunnel may draw the id of one we took, RFC 2661
//!   3.1 ids being the member's own). The restarted member knows none of the former
//!   incarnation's tunnels: until the address moves here, the LAC's messages on them reach it
//!   and are dropped without an answer (no StopCCN, RFC 2661 6.4, which would end the LAC's
//!   tunnel; no ZLB or CDN), so the LAC retransmits its control messages (RFC 2661 5.8) until
//!   they reach us. Its caller may still hold the address (on one host, a process's own
//!   socket): each time we see the member Up in its new incarnation, once per incarnation, we
//!   tell it which of its former addresses we took ([`Record::AddressTaken`], naming the former
//!   incarnation, instead of the tunnels' [`Record::TakenOver`] notices, which only that
//!   incarnation would yield to), and it emits [`Event::AddressTaken`] so its caller gives the
//!   address up (a notice naming its own incarnation, or a later one, is not its). The notice
//!   is queued once per incarnation (`Taken::told`) on the replication channel, which sends it
//!   again until acknowledged (while the member is Up; a false Down only delays it, and a
//!   queue overflow keeps it, `Record` docs) and has it applied once: the member learns it
//!   once per incarnation. A notice still on its way when the member restarts again reaches
//!   the new incarnation (the channel's batch in flight, `replica` docs, delivery), so it is
//!   not queued again for that one (`Taken::told_mark`); and a takeover that takes nothing
//!   (the restarted incarnation held no tunnel) leaves the record of what we took from the
//!   former one, whose addresses a later incarnation is told again.
//! * **Mixed versions** (a rolling upgrade): [`Record::AddressTaken`] is newer than the other
//!   records, so it is an extension kind (`0x80`, `l2tp::replica` docs, extension kinds): a
//!   member of a later version skips an extension record it does not know and applies the
//!   rest of the batch ([`Record::Extension`], `Stats::replicas_unknown`), and a record added
//!   later that an older member can do without takes an extension kind too. Members of
//!   versions from before extension kinds (session 49 and earlier; kind 14 was this record
//!   then) fail to parse a batch carrying one and refuse the batch whole, unacknowledged: the
//!   taker sends it again for good, and nothing queued behind it reaches that member (when
//!   that member is the taker's backup, the taker's replication stalls). The record goes only
//!   to a member seen restarted after we took over its former incarnation, so upgrade every
//!   member from such a version before one still on it can restart while an upgraded member
//!   backs it up.
//! * **Yielded copy**: a member that yields a tunnel on a [`Record::TakenOver`] keeps it as a
//!   copy held for the taker (the taker's owner generation and incarnation, as if the taker
//!   had replicated it here; when the taker's own records of that generation are held already,
//!   they stay: they are newer), until the taker releases it with an empty sync of epoch 0 once
//!   the notice is acknowledged and the taker's own backup holds what it took (the takeover's
//!   records acknowledged, or a later backup's whole bulk sync; `replicate` docs). So a
//!   taker that fails before its backup holds its copy leaves the calls at the member it took
//!   them from, which takes them back when it finds the taker Down (crash during
//!   set-up seeds 49458, 59375, 59905: the taker's bulk sync to its backup was lost and the
//!   taker crashed; the member that had yielded held nothing, and the calls were lost with
//!   one failure). It also sends the taker a [`Record::Session`] of each session of the
//!   tunnel, which the taker adopts where its copy lacked it (`late_record`; crash during
//!   set-up seed 29034: a copy taken from a bulk sync still under way lacked a call the member
//!   had answered without a backup); a session the taker adopted already is left as the
//!   taker holds it, ended or not (RFC 4951 failover seed 77810: the records came after the
//!   LAC's CDN had ended one at the taker, and brought it back), and so is a record of a call
//!   the taker holds under another Session ID of its own (the same LAC Session ID, RFC 2661
//!   3.1): the LAC's ICRQ retransmitted to the taker after the takeover is the same call (RFC
//!   2661 5.8), answered there when its copy's Nr lagged (crash during set-up seed 37561: both
//!   kept, one call served twice). The copy claims generation 0
//!   (it came from no bulk sync), so a backup of the taker holding its complete sync wins the
//!   claims (two takers, below).
//! * **Two takers**: a member that changed backup and was declared Down before the former backup
//!   got its release (which waits for the new backup's whole bulk sync, `replicate` docs) can be
//!   taken over by both. Each taker tells every other member
//!   ([`Record::Claimed`]) which copy it took over from: the epoch of the member's last bulk sync
//!   to it. A member's bulk syncs are numbered in one increasing sequence over all its peers, so
//!   the newer backup's complete copy holds the higher epoch; a release is of epoch 0, so a copy
//!   synced again after one claims 0 until its sync ends, and the former backup's complete copy
//!   wins over it (nothing answered after the change is up at the LAC before the new backup's
//!   sync ended: `replicate` docs, output commit). The claim from the higher epoch wins (equal epochs:
//!   the lower node id): the loser yields what it took (no StopCCN, [`Event::Yielded`]); the
//!   winner emits [`Event::TakenOver`] again for each address, with no tunnels or sessions, so the
//!   caller moves the address back from the loser. A member that hears a winning claim before it
//!   sees the member Down does not take it over at all. A claim equal to one on record (its
//!   sender made it again; the replication channel itself delivers a notice once, `replica`
//!   docs, delivery) changes nothing: taking the address again then would move it from a
//!   member that took the tunnel from us since (crash during set-up seed 44628, when the
//!   channel queued the notices of a batch it abandoned for a bulk sync again). The loser sends the winner a [`Record::Session`] of each
//!   session of what it yields, which the winner adopts as late records where its copy lacks
//!   it (`late_record`; crash during set-up seed 75568: the loser had answered a call since its
//!   takeover, and the winner's copy lacked it). In RFC 4951 mode both may have recovered the
//!   tunnel at the LAC (a second recovery reaching it after the first completed is taken as
//!   the LNS starting over, 3.2.1), their channels then sharing the LAC's numbering; the loser,
//!   holding the address until the winner takes it back, may have taken and acknowledged
//!   messages of the LAC that the winner never gets (RFC 2661 5.8: an acknowledged message is
//!   not sent again). So when another taker's claim loses to ours, our channels of the tunnels
//!   we took from that member learn their Nr from the LAC again
//!   ([`crate::l2tp::channel::Channel::resync_nr_again`]): the LAC's retransmission of its
//!   oldest unacknowledged message moves our Nr to it (RFC 4951 failover seed 286961: the
//!   loser acknowledged the LAC's FSR, and the winner held the LAC's CDN out of order for
//!   good). What the loser took is lost to us all the same: a CDN, or an FSR answering 0,
//!   ended a call at the LAC that we still hold, and the LAC, having had it acknowledged, has
//!   nothing more to say of it. So we also query the LAC for every session of those tunnels
//!   (RFC 4951 3.3: FSQ for the sessions an endpoint is unsure of; the LAC, the authority on
//!   its calls, answers with its Session ID of each, 0 for one it no longer has, which we
//!   clear silently; `Core::unsure_sessions`). An FSQ of ours while the address is still
//!   with the loser may have its FSR taken there too: not covered.
//! * **Stray recoveries** (RFC 4951 mode): a taker that yields drops its recovery tunnel with
//!   the tunnel (`Core::forget_tunnel`), but a recovery SCCRQ it sent before may still be on the
//!   link and reach the LAC after the owner's recovery completed. The LAC answers it (its
//!   Tunnel Recovery AVP names the old tunnel, RFC 4951 3.2.1; nothing there lets the LAC refuse
//!   a second recovery of a tunnel) and holds the old tunnel for it, silently discarding what
//!   the owner sends on it ("Any control packet received on the recovered tunnel before control
//!   channel reset ... MUST be silently discarded"); its SCCRP comes to the address, the
//!   owner's now, for a tunnel the owner does not have. The owner answers such an SCCRP (one
//!   carrying the Suggested Control Sequence) with StopCCN Result 2, Error 1 ("No control
//!   connection exists yet for this LAC-LNS pair", RFC 2661 4.4.2; counted in
//!   [`crate::l2tp::Stats::stray_recoveries_stopped`]), and the LAC's recovery fails, the old
//!   tunnel going on as it was (failover seed 54628: the LAC's CDN never reached the owner).
//!   Only when the SCCRP came to an address we took over from a member whose other taker's
//!   claim lost to ours (`Backups::losers`), and every tunnel we took from it with that LAC
//!   is established with its own recovery completed: a member whose claim has not won yet may
//!   still lose, and the SCCRP be the winner's (seed 39787: the winner's SCCRP reached the
//!   loser before the address moved back); an SCCRP while our own recovery is under way is
//!   left to the LAC's ordering of the two recoveries (`tunnel::recovery` docs, overtaken
//!   recoveries).
//! * **Records from a member seen Down**: health may declare a member Down (its heartbeats
//!   lost) before its first records reach us (a bulk sync to us, its new backup): nothing was
//!   held, so nothing was taken over, and no second Down comes while it stays Down. Its
//!   authenticated records prove it alive when they arrive, so they count as a heartbeat for
//!   the takeover: if health still sees it Down a full Down interval
//!   ([`crate::health::HealthConfig::down_after`]) after its last batch, we take it over then
//!   (double failure seed 11427: the new backup's bulk sync landed just after it found
//!   the member Down, and the member then crashed). Likewise when health declares a member
//!   Down less than a Down interval after its last batch came: the takeover waits until that
//!   interval has passed, and is dropped if the member is Up by then (false Down seed 512979:
//!   a member back from a partition yielded its tunnel on the taker's notice, then found the
//!   taker Down, the taker's first heartbeat after the partition lost, and took the tunnel
//!   back from a live taker, moving the address twice).
//! * **Double failure**: a member whose backup fails chooses another and bulk-syncs it; when a
//!   member and its backup both fail before that, the member's sessions are lost.
//! * **Sessions the copy lacks**: a copy may lack sessions the LAC still has (a former
//!   backup's copy after a double failure, double failure seed 13971; a copy whose
//!   last records were lost with the member). The tunnel goes on here, so the LAC would keep
//!   such a call until its own PPP keepalives fail. A data message or an ICCN on a session we
//!   do not hold, on a tunnel we took over, is answered with a CDN (RFC 2661 6.11; Result Code 2 with Error
//!   Code 5, the Session ID invalid in this context, 4.4.2) whose header Session ID is 0 (we do
//!   not know the LAC's id, RFC 2661 3.1) and whose Assigned Session ID is the data message's
//!   Session ID, the id the LAC knows the call by, so the LAC clears the call. Only once the
//!   copy is settled: the member we took the tunnel from still Down a Down interval
//!   ([`crate::health::HealthConfig::down_after`]) after the takeover, or restarted (a member
//!   that comes back yields and sends its records of the tunnel, `late_record`, which a CDN
//!   would race). Once per Session ID and tunnel, at most
//!   [`crate::l2tp::Config::max_sessions_per_tunnel`] per tunnel; beyond, unanswered and
//!   counted in [`crate::l2tp::Stats::unknown_sessions_unanswered`]; each CDN is counted in
//!   [`crate::l2tp::Stats::unknown_sessions_cleared`].

use super::super::call::PackedCallDetails;
use super::super::replica::{CallRecord, Record, RecordKey, SessionRecord, TunnelRecord};
use super::super::tunnel::recovery::StraySccrp;
use super::super::tunnel::{IdMap, TunnelState};
use super::super::wire::{ControlMessage, ErrorCode, ResultCode, ResultCodeValue};
use super::super::{CallDetails, Event, SessionHandoff, SessionRef, UnsureSessions};
use super::Lns;
use crate::health::{NodeId, NodeState};
use crate::replica::PeerMap;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The records held for one member.
#[derive(Debug, Default)]
struct Held {
    /// The member's incarnation, as its replication envelopes say.
    incarnation: Option<u32>,
    /// The epoch of the member's last bulk sync to us ([`Record::Claimed`]).
    generation: u32,
    tunnels: BTreeMap<u16, (TunnelRecord, HeldSessions)>,
    sessions: usize,
    /// When the member's last fresh batch was applied: it proves the member alive as a
    /// heartbeat would (module docs, records from a member seen Down).
    last_batch: Option<Instant>,
}

/// The sessions held for one tunnel of a member, by our Session ID (the member's own ids,
/// drawn at random: [`IdMap`]'s hash, never one a peer chooses). A hash table, not a B-tree:
/// a replicated set-up inserts one session here, a B-tree insertion the largest share of
/// applying its record (replication cost per set-up); what shows the order (the
/// takeover's adoptions and handoffs, the copies read) reads them sorted by id
/// ([`HeldSessions::sorted`]), as the B-tree gave them.
#[derive(Debug, Default, Clone)]
struct HeldSessions(IdMap<SessionRecord>, IdMap<PackedCallDetails>);

impl HeldSessions {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn contains_key(&self, sid: &u16) -> bool {
        self.0.contains_key(sid)
    }

    /// Holds `s` as session `sid`: the record it replaces, if any. The details held for a
    /// session of another call under that id (another peer Session ID or Call Serial Number)
    /// go.
    #[inline(always)]
    fn insert(&mut self, sid: u16, s: SessionRecord) -> Option<SessionRecord> {
        let old = self.0.insert(sid, s);
        let same_call =
            |o: &SessionRecord| o.peer_session == s.peer_session && o.serial == s.serial;
        if !self.1.is_empty() && !old.as_ref().is_some_and(same_call) {
            self.1.remove(&sid);
        }
        old
    }

    fn remove(&mut self, sid: &u16) -> Option<SessionRecord> {
        if !self.1.is_empty() {
            self.1.remove(sid);
        }
        self.0.remove(sid)
    }

    fn retain(&mut self, keep: impl FnMut(&u16, &mut SessionRecord) -> bool) {
        self.0.retain(keep);
        let sessions = &self.0;
        self.1.retain(|sid, _| sessions.contains_key(sid));
    }

    /// The details of session `sid`'s call, when held.
    fn details(&self, sid: u16) -> Option<&PackedCallDetails> {
        self.1.get(&sid)
    }

    /// Session `sid`'s call has `details` (replacing any held), when the session is held.
    fn set_details(&mut self, sid: u16, details: PackedCallDetails) {
        if self.0.contains_key(&sid) && !details.is_empty() {
            self.1.insert(sid, details);
        }
    }

    /// The details of session `sid`'s call changed by `update` ([`CallDetails::merge`]), when
    /// the session is held.
    fn merge_details(&mut self, sid: u16, update: PackedCallDetails) {
        if !self.0.contains_key(&sid) || update.is_empty() {
            return;
        }
        match self.1.get_mut(&sid) {
            Some(d) => *d = d.merged(&update),
            None => {
                self.1.insert(sid, update);
            }
        }
    }

    /// [`HeldSessions::merge_details`] of an update read in place: `block` a details block
    /// checked by the codec whose last item has rank `last` (`Record::call_update_short`), no
    /// copy of it made but the merged one.
    fn merge_block(&mut self, sid: u16, block: &[u8], last: usize) {
        if !self.0.contains_key(&sid) || block.first().is_none_or(|n| *n == 0) {
            return;
        }
        match self.1.get_mut(&sid) {
            Some(d) => *d = crate::l2tp::replica::merge_block(d, block, last),
            None => {
                self.1
                    .insert(sid, PackedCallDetails::from_checked(block, last));
            }
        }
    }

    /// The sessions' records by Session ID.
    fn sorted(&self) -> Vec<SessionRecord> {
        let mut v: Vec<SessionRecord> = self.0.values().copied().collect();
        v.sort_unstable_by_key(|s| s.session);
        v
    }
}

impl FromIterator<(SessionRecord, Option<PackedCallDetails>)> for HeldSessions {
    fn from_iter<I: IntoIterator<Item = (SessionRecord, Option<PackedCallDetails>)>>(
        it: I,
    ) -> Self {
        let mut held = HeldSessions::default();
        for (s, d) in it {
            held.0.insert(s.session, s);
            if let Some(d) = d {
                held.1.insert(s.session, d);
            }
        }
        held
    }
}

impl Held {
    /// Whether `rec` changes this table alone ([`Held::apply`]): a tunnel's or a session's
    /// record, its removal, a tunnel's sequence numbers; the notices ([`Record::TakenOver`],
    /// [`Record::Claimed`]) are not. A tunnel's record also asks whether we own the tunnel
    /// (`taken_back`), so only the others are applied by [`Lns::apply_batch`] on its own.
    fn alone(rec: &Record) -> bool {
        matches!(
            rec,
            Record::Session(_)
                | Record::SessionSequence { .. }
                | Record::Call(_)
                | Record::CallUpdate { .. }
                | Record::SessionGone { .. }
                | Record::TunnelSequence { .. }
                | Record::TunnelGone { .. }
        )
    }

    /// Records from the member are of `incarnation`: what was held for another one is dropped.
    fn note_incarnation(&mut self, incarnation: u32) {
        if self.incarnation.is_some_and(|i| i != incarnation) {
            *self = Held::default();
        }
        self.incarnation = Some(incarnation);
    }

    /// A fresh batch of the member's `incarnation` is applied `now`: its incarnation noted
    /// ([`Held::note_incarnation`]) and the batch's time kept ([`Held::last_batch`]).
    #[inline(always)]
    fn fresh(&mut self, incarnation: u32, now: Instant) {
        self.note_incarnation(incarnation);
        self.last_batch = Some(now);
    }

    /// [`Held::apply`] of a [`Record::SessionSequence`] (or of a [`Record::Call`] with its
    /// tunnel's sequence numbers and `details`): session `s` held (room permitting) with its
    /// call's details, and its tunnel's `ns` and `nr` noted (with or without room for the
    /// session), at one look-up of the tunnel; whether the session was refused.
    #[inline(always)]
    fn session_sequence(
        &mut self,
        s: SessionRecord,
        ns: u16,
        nr: u16,
        cfg: &super::ReplicationConfig,
        details: Option<PackedCallDetails>,
    ) -> bool {
        let room = self.sessions < cfg.max_sessions;
        match self.tunnels.get_mut(&s.tunnel) {
            Some((t, sessions)) => {
                (t.ns, t.nr) = (ns, nr);
                if room || sessions.contains_key(&s.session) {
                    if sessions.insert(s.session, s).is_none() {
                        self.sessions += 1;
                    }
                    // Its call's details (a `Record::Call`'s), replacing any held.
                    if let Some(d) = details {
                        sessions.set_details(s.session, d);
                    }
                    false
                } else {
                    true
                }
            }
            None => true,
        }
    }

    /// [`Held::apply`] of a [`Record::Call`] with content `c`: as the session's record (with
    /// its tunnel's numbers), then its call's details, replacing any held (module docs, call
    /// details); whether the session was refused.
    #[inline(always)]
    fn call(&mut self, c: CallRecord, cfg: &super::ReplicationConfig) -> bool {
        let CallRecord {
            session: s,
            sequence,
            details,
        } = c;
        match sequence {
            Some((ns, nr)) => self.session_sequence(s, ns, nr, cfg, Some(details)),
            None => {
                let refused = self.apply(Record::Session(s), cfg);
                if let Some((_, sessions)) = self.tunnels.get_mut(&s.tunnel) {
                    sessions.set_details(s.session, details);
                }
                refused
            }
        }
    }

    /// Applies a record of the member to what is held for it (module docs, held records):
    /// whether it was refused (no room, or a session of a tunnel not held). The notices
    /// ([`Record::TakenOver`], [`Record::Claimed`]) change nothing here (the caller's).
    fn apply(&mut self, rec: Record, cfg: &super::ReplicationConfig) -> bool {
        match rec {
            Record::Tunnel(t) => {
                let room = self.tunnels.len() < cfg.max_tunnels;
                match self.tunnels.get_mut(&t.tunnel) {
                    Some(slot) => {
                        slot.0 = *t;
                        false
                    }
                    None if room => {
                        self.tunnels.insert(t.tunnel, (*t, HeldSessions::default()));
                        false
                    }
                    None => true,
                }
            }
            Record::Session(s) => {
                let room = self.sessions < cfg.max_sessions;
                match self.tunnels.get_mut(&s.tunnel) {
                    Some((_, sessions)) if room || sessions.contains_key(&s.session) => {
                        if sessions.insert(s.session, s).is_none() {
                            self.sessions += 1;
                        }
                        false
                    }
                    _ => true,
                }
            }
            // As the session's record, then its tunnel's sequence numbers' (which apply with
            // or without room for the session), with one look-up of the tunnel.
            Record::SessionSequence { session: s, ns, nr } => {
                self.session_sequence(s, ns, nr, cfg, None)
            }
            // As the session's record (with its tunnel's numbers), then its call's details,
            // replacing any held (module docs, call details).
            Record::Call(c) => self.call(*c, cfg),
            Record::CallUpdate {
                tunnel,
                session,
                details,
            } => {
                if let Some((_, sessions)) = self.tunnels.get_mut(&tunnel) {
                    sessions.merge_details(session, details);
                }
                false
            }
            Record::SessionGone { tunnel, session } => {
                let gone = self
                    .tunnels
                    .get_mut(&tunnel)
                    .and_then(|(_, s)| s.remove(&session));
                self.sessions -= usize::from(gone.is_some());
                false
            }
            Record::TunnelSequence { tunnel, ns, nr } => {
                if let Some((t, _)) = self.tunnels.get_mut(&tunnel) {
                    (t.ns, t.nr) = (ns, nr);
                }
                false
            }
            Record::TunnelGone { tunnel } => {
                if let Some((_, s)) = self.tunnels.remove(&tunnel) {
                    self.sessions = self.sessions.saturating_sub(s.len());
                }
                false
            }
            Record::TakenOver { .. }
            | Record::Claimed { .. }
            | Record::AddressTaken { .. }
            | Record::Extension { .. } => false,
        }
    }
}

/// What we took over from one member.
#[derive(Debug, Clone)]
struct Taken {
    /// The member's incarnation then (for the notices).
    incarnation: Option<u32>,
    /// The epoch of the bulk sync our copy came from (our claim, [`Record::Claimed`]).
    generation: u32,
    tunnels: Vec<u16>,
    /// The member's addresses those tunnels use (the takeover moved them here).
    addrs: Vec<IpAddr>,
    /// The sessions we adopted from the member, `(tunnel, session)`, sorted (at most the
    /// sessions held for it): a late record of one of them is stale, our own state newer, even
    /// when we ended the session since (`late_record`).
    adopted: Vec<(u16, u16)>,
    /// The member's later incarnation last told which addresses we took
    /// ([`Record::AddressTaken`]; module docs, restart): once per restart (the replication
    /// channel delivers it).
    told: Option<u32>,
    /// The commit mark of that notice on the channel to the member ([`Channel::mark`]): until
    /// the channel commits it, the notice is on its way, and a later incarnation gets it
    /// (`replica` docs, delivery: a receiver that restarts gets the batch in flight and what
    /// follows), so it is not queued again for that one.
    ///
    /// [`Channel::mark`]: crate::replica::Channel::mark
    told_mark: u64,
}

/// A tunnel we took over, whose copy may lack sessions the LAC still has (module docs,
/// sessions the copy lacks).
#[derive(Debug)]
struct Unsure {
    /// The member we took it from, and its incarnation then.
    from: NodeId,
    incarnation: Option<u32>,
    /// The tunnel's peer and the peer's Tunnel ID (a later tunnel with our id is another).
    peer: SocketAddr,
    peer_tunnel: u16,
    /// When we took it over.
    at: Instant,
    /// The Session IDs answered with a CDN, sorted.
    cleared: Vec<u16>,
}

/// The best claim another member made on a member (module docs, one owner per tunnel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Claim {
    incarnation: u32,
    generation: u32,
    by: NodeId,
}

impl Claim {
    /// Whether this claim beats `other`'s on the same incarnation: the newer copy, a tie to
    /// the lower node id.
    fn beats(&self, other: &Claim) -> bool {
        (self.generation, std::cmp::Reverse(self.by))
            > (other.generation, std::cmp::Reverse(other.by))
    }
}

/// The backup side: records held per member, tunnels taken per member.
#[derive(Debug, Default)]
pub(super) struct Backups {
    /// Per member (flat: a handful of members, looked up for every record applied).
    held: PeerMap<Held>,
    /// Tunnels taken over from a member.
    taken: BTreeMap<NodeId, Taken>,
    /// Per member, the best claim another member made on it (at most one per monitor peer).
    claims: BTreeMap<NodeId, Claim>,
    /// The owner generation of our tunnels that were taken over (absent: 0).
    pub(super) epochs: BTreeMap<u16, u32>,
    /// Members whose records came while health saw them Down, or that health found Down less
    /// than a Down interval after their last batch ([`Lns::member_down`]), and when they are
    /// taken over if still Down (module docs, records from a member seen Down; at most one per
    /// monitor peer).
    late_downs: BTreeMap<NodeId, Instant>,
    /// Tunnels we took over (at most our tunnels: pruned at each takeover of those gone).
    unsure: BTreeMap<u16, Unsure>,
    /// Members whose claim on a member lost to ours, with that member (module docs, two
    /// takers): each yields what it took and sends us its sessions of those tunnels, which
    /// are late records (`late_record`). At most one per monitor peer.
    losers: BTreeMap<NodeId, NodeId>,
    /// Per member, the highest incarnation whose restart we acted on ([`Lns::member_restarted`]),
    /// seen first by health or on the replication lane (module docs, restart; at most one per
    /// monitor peer).
    restarts: BTreeMap<NodeId, u32>,
}

impl Lns {
    /// A replication record from member `from` (delivered in order and authenticated by the
    /// replication channel).
    pub(super) fn apply_record(&mut self, now: Instant, from: NodeId, rec: Record) {
        let Some(cfg) = self.cfg.replication else {
            return;
        };
        if let Record::Tunnel(t) = &rec {
            self.taken_back(from, t);
        }
        if self.late_record(now, from, &rec) {
            // Its tunnel's sequence numbers apply as a record of their own would.
            let sequence = match &rec {
                Record::SessionSequence { session, ns, nr } => Some((session.tunnel, *ns, *nr)),
                Record::Call(c) => c.sequence.map(|(ns, nr)| (c.session.tunnel, ns, nr)),
                _ => None,
            };
            if let Some((tid, ns, nr)) = sequence {
                let held = self.backups.held.get_mut(&from);
                if let Some((t, _)) = held.and_then(|h| h.tunnels.get_mut(&tid)) {
                    (t.ns, t.nr) = (ns, nr);
                }
            }
            return;
        }
        let refused = match rec {
            Record::TakenOver {
                incarnation,
                tunnel,
                epoch,
            } => {
                self.yield_tunnel(from, incarnation, (tunnel, epoch), now);
                false
            }
            Record::Claimed {
                member,
                incarnation,
                generation,
            } => {
                self.claimed(now, from, NodeId(member), (incarnation, generation));
                false
            }
            Record::AddressTaken { incarnation, addr } => {
                self.address_taken(from, incarnation, addr);
                false
            }
            // A later version's record this one does not know (`replica` docs, extension
            // kinds): skipped, counted.
            Record::Extension { .. } => {
                let stats = &mut self.core.stats;
                stats.replicas_unknown = stats.replicas_unknown.saturating_add(1);
                false
            }
            // Upserts make the member's table; the rest change only one there is.
            rec @ (Record::Tunnel(_)
            | Record::Session(_)
            | Record::SessionSequence { .. }
            | Record::Call(_)) => self.backups.held.get_or_default(from).apply(rec, &cfg),
            rec => match self.backups.held.get_mut(&from) {
                Some(h) => h.apply(rec, &cfg),
                None => false,
            },
        };
        if refused {
            self.core.stats.replicas_refused = self.core.stats.replicas_refused.saturating_add(1);
        }
    }

    /// A fresh batch from `from` was applied: if health sees it Down and we hold tunnels of
    /// it, its takeover is due a Down interval from now (module docs, records from a member
    /// seen Down).
    pub(super) fn records_while_down(&mut self, now: Instant, from: NodeId) {
        let holds = self
            .backups
            .held
            .get(&from)
            .is_some_and(|h| !h.tunnels.is_empty());
        self.late_down_if(now, from, holds);
    }

    /// As [`Lns::records_while_down`], `holds` saying whether we hold tunnels of `from`.
    fn late_down_if(&mut self, now: Instant, from: NodeId, holds: bool) {
        // No look-up of the sender's state while no peer is Down (nearly always).
        let down =
            |m: &crate::health::Monitor| m.any_down() && m.state(from) == Some(NodeState::Down);
        if holds && self.monitor().is_some_and(down) {
            let due = now + self.cfg.health.down_after();
            self.backups.late_downs.insert(from, due);
        }
    }

    /// When the next takeover of a member whose records came while it was Down is due.
    pub(super) fn late_down_deadline(&self) -> Option<Instant> {
        self.backups.late_downs.values().copied().min()
    }

    /// Takes over the members whose records came while health saw them Down and that stayed
    /// Down (no heartbeat, no records) for a Down interval since (module docs).
    pub(super) fn late_down_timeouts(&mut self, now: Instant) {
        if self.late_downs_due(now).is_none() {
            return;
        }
        while let Some(node) = self.late_downs_due(now) {
            self.backups.late_downs.remove(&node);
            if self.monitor().and_then(|m| m.state(node)) == Some(NodeState::Down) {
                self.take_over(now, node);
            }
        }
        self.ensure_backup();
    }

    fn late_downs_due(&self, now: Instant) -> Option<NodeId> {
        self.backups
            .late_downs
            .iter()
            .find(|(_, due)| **due <= now)
            .map(|(n, _)| *n)
    }

    /// Records from `from` are of `incarnation`: what was held for another one is dropped
    /// (tests; a fresh batch notes its sender's incarnation with its time, `Held::fresh`).
    #[cfg(test)]
    pub(super) fn note_incarnation(&mut self, from: NodeId, incarnation: u32) {
        self.backups
            .held
            .get_or_default(from)
            .note_incarnation(incarnation);
    }

    /// Whether the entries of a batch from `from` are applied to its held table at one look-up
    /// ([`Lns::apply_batch`]): records that change that table alone, from a member that sends
    /// no late records ([`Lns::may_send_late`]).
    pub(super) fn batch_alone(
        &self,
        from: NodeId,
        items: &[crate::replica::Entry<Record>],
    ) -> bool {
        use crate::replica::Entry;
        !self.may_send_late(from)
            && items
                .iter()
                .all(|e| matches!(e, Entry::Item(rec) if Held::alone(rec)))
    }

    /// The entries of a fresh batch from `h.sender`, applied in order. When
    /// every entry is a record that changes the sender's held table alone ([`Held::alone`]) and
    /// the sender sends no late records ([`Lns::may_send_late`]), they are
    /// applied to that table at one look-up of it, with the sender's incarnation noted and
    /// what `records_while_down` needs read there: the set-ups' and tear-downs' batches. Else
    /// entry by entry ([`Lns::apply_entry`]). The same changes either way.
    /// `alone`: what [`Lns::batch_alone`] says of the entries.
    pub(super) fn apply_batch(
        &mut self,
        now: Instant,
        h: &crate::replica::Header,
        alone: bool,
        items: impl Iterator<Item = crate::replica::Entry<Record>>,
    ) {
        let from = h.sender;
        if !alone {
            // Whether the sender's bulk sync is in progress (its records' keys noted): the
            // channel is looked up per record only then.
            let mut syncing = self
                .repl
                .channels
                .get(&from)
                .is_some_and(|ch| ch.sync_in_epoch().is_some());
            self.backups
                .held
                .get_or_default(from)
                .fresh(h.incarnation, now);
            for e in items {
                self.apply_entry(now, h, e, &mut syncing);
            }
            self.records_while_down(now, from);
            return;
        }
        let recs = items.filter_map(|e| match e {
            crate::replica::Entry::Item(rec) => Some(rec),
            _ => None,
        });
        self.apply_alone(now, h, recs);
    }

    /// Whether records from `from` may be late ones (`late_record`): we took a tunnel over
    /// from it, or its claim lost to ours ([`Backups::losers`]).
    pub(super) fn may_send_late(&self, from: NodeId) -> bool {
        self.backups.taken.contains_key(&from) || self.backups.losers.contains_key(&from)
    }

    /// Whether a batch of `rec` alone from `from` is applied at one look-up of the sender's
    /// held table: [`Lns::batch_alone`] of that batch, without a slice of entries.
    pub(super) fn record_alone(&self, from: NodeId, rec: &Record) -> bool {
        Held::alone(rec) && !self.may_send_late(from)
    }

    /// The records of a fresh batch from `h.sender` that [`Lns::batch_alone`] (for a batch of
    /// one record, [`Lns::record_alone`]) found to change the sender's held table alone:
    /// applied there at one look-up of it ([`Lns::apply_batch`]). A set-up's batch (one
    /// record) comes here straight from its parse, with no slice of entries looked at.
    pub(super) fn apply_alone(
        &mut self,
        now: Instant,
        h: &crate::replica::Header,
        recs: impl Iterator<Item = Record>,
    ) {
        self.apply_setup_entries(now, h, recs.map(crate::l2tp::replica::SetupEntry::Plain));
    }

    /// A fresh batch from `h.sender` of one [`Record::SessionSequence`] (a set-up's: session
    /// `s`, its tunnel's `ns` and `nr`), or of one [`Record::Call`] with its tunnel's sequence
    /// numbers (a set-up's whose call has `details`), decoded at its parse without a
    /// [`Record`] built: applied as [`Lns::apply_batch`] applies that batch. When the sender
    /// sends no late records ([`Lns::record_alone`]) it goes to the sender's held table at one
    /// look-up of it ([`Lns::apply_alone`]'s changes for that record); else entry by entry.
    pub(super) fn apply_setup(
        &mut self,
        now: Instant,
        h: &crate::replica::Header,
        s: SessionRecord,
        (ns, nr): (u16, u16),
        details: Option<PackedCallDetails>,
    ) {
        let from = h.sender;
        if self.may_send_late(from) {
            let rec = match details {
                None => Record::SessionSequence { session: s, ns, nr },
                Some(details) => Record::Call(Box::new(CallRecord {
                    session: s,
                    sequence: Some((ns, nr)),
                    details,
                })),
            };
            self.apply_batch(now, h, false, std::iter::once(rec.into()));
            return;
        }
        let Some(cfg) = &self.cfg.replication else {
            return;
        };
        // The key is noted only while the sender's bulk sync is in progress.
        if let Some(ch) = self
            .repl
            .channels
            .get_mut(&from)
            .filter(|ch| ch.sync_in_epoch().is_some())
        {
            ch.mark_seen(&[(s.tunnel, Some(s.session))]);
        }
        let held = self.backups.held.get_or_default(from);
        held.fresh(h.incarnation, now);
        let refused = held.session_sequence(s, ns, nr, cfg, details);
        let holds = !held.tunnels.is_empty();
        let stats = &mut self.core.stats;
        stats.replicas_refused = stats.replicas_refused.saturating_add(u64::from(refused));
        self.late_down_if(now, from, holds);
    }

    /// A fresh batch from `h.sender` of [`Record::CallUpdate`]s read in place (`updates`, in
    /// order): applied as [`Lns::apply_batch`] applies that batch, their details merged into
    /// the calls' held ones straight from the datagram when the sender sends no late records
    /// ([`Lns::record_alone`]; else as [`Record`]s, entry by entry).
    pub(super) fn apply_call_updates(
        &mut self,
        now: Instant,
        h: &crate::replica::Header,
        updates: &[crate::l2tp::replica::CallUpdateShort<'_>],
    ) {
        let from = h.sender;
        if self.may_send_late(from) {
            let recs = updates.iter().map(|u| {
                Record::CallUpdate {
                    tunnel: u.tunnel,
                    session: u.session,
                    details: PackedCallDetails::from_checked(u.block, u.last),
                }
                .into()
            });
            self.apply_batch(now, h, false, recs);
            return;
        }
        if self.cfg.replication.is_none() {
            return;
        }
        // A call update has no key a bulk sync notes (`Record::key`).
        let held = self.backups.held.get_or_default(from);
        held.fresh(h.incarnation, now);
        for u in updates {
            if let Some((_, sessions)) = held.tunnels.get_mut(&u.tunnel) {
                sessions.merge_block(u.session, u.block, u.last);
            }
        }
        let holds = !held.tunnels.is_empty();
        self.late_down_if(now, from, holds);
    }

    /// A fresh batch from `h.sender` whose records change the sender's held table alone
    /// ([`Lns::apply_alone`]; the sender sending no late records, [`Lns::record_alone`]):
    /// `entries`, in order, applied at one look-up of that table. A batch of set-ups' and
    /// tear-downs' records read in place ([`crate::l2tp::replica::setup_entries`]) comes with
    /// no call's record boxed and its call updates merged straight from the datagram.
    pub(super) fn apply_setup_entries<'a>(
        &mut self,
        now: Instant,
        h: &crate::replica::Header,
        entries: impl IntoIterator<Item = crate::l2tp::replica::SetupEntry<'a>>,
    ) {
        use crate::l2tp::replica::SetupEntry;
        let from = h.sender;
        let Some(cfg) = &self.cfg.replication else {
            return;
        };
        // The keys are noted only while the sender's bulk sync is in progress.
        let mut sync = self
            .repl
            .channels
            .get_mut(&from)
            .filter(|ch| ch.sync_in_epoch().is_some());
        let held = self.backups.held.get_or_default(from);
        held.fresh(h.incarnation, now);
        let mut refused = 0u64;
        for e in entries {
            let key = match &e {
                SetupEntry::Call(c) => Some((c.session.tunnel, Some(c.session.session))),
                SetupEntry::Update(_) => None,
                SetupEntry::Plain(rec) => rec.key(),
            };
            if let (Some(ch), Some(k)) = (sync.as_deref_mut(), key) {
                ch.mark_seen(&[k]);
            }
            refused += u64::from(match e {
                SetupEntry::Call(c) => held.call(c, cfg),
                SetupEntry::Update(u) => {
                    if let Some((_, sessions)) = held.tunnels.get_mut(&u.tunnel) {
                        sessions.merge_block(u.session, u.block, u.last);
                    }
                    false
                }
                SetupEntry::Plain(rec) => held.apply(rec, cfg),
            });
        }
        let holds = !held.tunnels.is_empty();
        let stats = &mut self.core.stats;
        stats.replicas_refused = stats.replicas_refused.saturating_add(refused);
        self.late_down_if(now, from, holds);
    }

    /// The end of a bulk sync from `from`: what it did not name is no longer held.
    pub(super) fn sweep_held(&mut self, from: NodeId, seen: &HashSet<RecordKey>) {
        let Some(h) = self.backups.held.get_mut(&from) else {
            return;
        };
        h.tunnels.retain(|tid, _| seen.contains(&(*tid, None)));
        for (tid, (_, sessions)) in &mut h.tunnels {
            sessions.retain(|sid, _| seen.contains(&(*tid, Some(*sid))));
        }
        h.sessions = h.tunnels.values().map(|(_, s)| s.len()).sum();
    }

    /// A record from `from` about a tunnel we took over from it (sent before it learnt so):
    /// a session it established meanwhile is adopted (one more [`Event::TakenOver`]), one it
    /// ended is ended here. `true` when the record was such.
    fn late_record(&mut self, now: Instant, from: NodeId, rec: &Record) -> bool {
        let tid = match rec {
            Record::Session(s) | Record::SessionSequence { session: s, .. } => s.tunnel,
            Record::Call(c) => c.session.tunnel,
            Record::SessionGone { tunnel, .. } | Record::CallUpdate { tunnel, .. } => *tunnel,
            _ => return false,
        };
        // The session of the record, and its call's details (module docs, call details).
        let (session, details) = match rec {
            Record::Session(s) | Record::SessionSequence { session: s, .. } => (Some(s), None),
            Record::Call(c) => (Some(&c.session), Some(&c.details)),
            _ => (None, None),
        };
        // The member we took the tunnel from: `from`, or the one whose takeover by `from`
        // lost to ours.
        let Some(member) = self.late_source(from, tid) else {
            return false;
        };
        let Some(taken) = self.backups.taken.get(&member) else {
            return false;
        };
        if let Some(s) = session {
            // A session we adopted already: what we hold of it is newer (RFC 4951
            // failover seed 77810: the yielder's records of the tunnel came after the LAC's CDN
            // had ended one of them here, and brought it back).
            if taken.adopted.binary_search(&(tid, s.session)).is_ok() {
                return true;
            }
            // The call held here already under another Session ID of ours (module docs, late
            // records): the LAC names a call by its own Session ID (RFC 2661 3.1), one call
            // per id at a time, and its ICRQ retransmitted to us after the takeover is that
            // same call (RFC 2661 5.8), which we answered when our copy's Nr lagged it. Ours
            // stands (our ICRP went to the LAC; the member's was held for its backup), and the
            // record is stale (crash during set-up seed 37561: both kept, one call served twice).
            let answered_here = self
                .core
                .tunnels
                .get(&tid)
                .and_then(|t| t.sessions.find_by_peer(s.peer_session))
                .is_some_and(|o| o.local_id != s.session);
            if answered_here {
                return true;
            }
        }
        let Some(t) = self.core.export_tunnel(tid) else {
            return false;
        };
        match rec {
            _ if session.is_some_and(|s| self.core.adopt_session(now, s, true).is_ok()) => {
                let Some(s) = session else {
                    return true;
                };
                let details = details.filter(|d| !d.is_empty()).cloned();
                if let Some(adopted) = self.core.session_mut(tid, s.session) {
                    adopted.details = details.clone();
                }
                let pinned = self.core.held_pin(tid, s.session);
                if let Some(taken) = self.backups.taken.get_mut(&member)
                    && let Err(i) = taken.adopted.binary_search(&(tid, s.session))
                {
                    taken.adopted.insert(i, (tid, s.session));
                }
                self.core.stats.sessions_taken_over =
                    self.core.stats.sessions_taken_over.saturating_add(1);
                self.replicate_session(tid, s.session);
                // Its ICRP goes once our backup holds it (`replicate` docs, output commit).
                if let Some(ns) = pinned {
                    self.commit_adopted(now, tid, s.session, ns);
                }
                self.core.event(Event::TakenOver {
                    failed: member,
                    addr: t.local.ip(),
                    tunnels: Vec::new(),
                    sessions: vec![handoff(&t, s)],
                    details: vec![details.map(|d| Box::new(d.unpack()))],
                });
                // Recovered the RFC 4951 way: the LAC may have cleared the call as not
                // established at its recovery (RFC 4951 3.3), so it is queried like the others
                // (seed 3131 of `rfc4951_failover_loses_no_session`: kept here, gone at the LAC).
                self.core.unsure_session(now, tid, s.session);
            }
            Record::SessionGone { session, .. }
                if self.core.remove_session(now, tid, *session).is_some() =>
            {
                self.replicate_session_gone(tid, *session);
                let session = Some(SessionRef {
                    tunnel: tid,
                    session: *session,
                });
                self.core.session_down(session, None, None);
            }
            // What the ICCN changed of a call we adopted: merged here, and to our backup.
            Record::CallUpdate {
                session, details, ..
            } => {
                let sref = SessionRef {
                    tunnel: tid,
                    session: *session,
                };
                if let Some(update) = self.merge_call_details(sref, details.clone()) {
                    self.replicate_call_update(tid, *session, update);
                }
            }
            _ => {}
        }
        true
    }

    /// Whose records of our tunnel `tid` from `from` are late records (`late_record`): `from`'s
    /// when we took `tid` over from `from`; when `from` took over a member whose takeover by us
    /// won ([`Backups::losers`]) and `tid` is one we took from that member, that member's.
    fn late_source(&self, from: NodeId, tid: u16) -> Option<NodeId> {
        let took = |m: &NodeId| {
            self.backups
                .taken
                .get(m)
                .is_some_and(|t| t.tunnels.contains(&tid))
        };
        // Records of another incarnation of `from` than the one we took the tunnel from
        // (module docs, restart): the new incarnation's own tunnel, which may have drawn
        // the same id.
        let incarnation = self.backups.held.get(&from).and_then(|h| h.incarnation);
        let of_then = self.backups.taken.get(&from).is_some_and(|t| {
            incarnation.is_none() || t.incarnation.is_none_or(|i| Some(i) == incarnation)
        });
        if took(&from) && of_then {
            return Some(from);
        }
        self.backups.losers.get(&from).copied().filter(took)
    }

    /// `from` replicates tunnel `t` of a newer owner generation than ours (module docs): it took
    /// the tunnel back from us (a false Down of ours), so its records about the tunnel are its
    /// own, held for its failure, not late records of the one we took from it (`late_record`).
    fn taken_back(&mut self, from: NodeId, t: &TunnelRecord) {
        let ours = self.backups.epochs.get(&t.tunnel).copied().unwrap_or(0);
        if t.epoch <= ours {
            return;
        }
        if let Some(taken) = self.backups.taken.get_mut(&from) {
            taken.tunnels.retain(|tid| *tid != t.tunnel);
        }
        // An owner of the tunnel now, no longer a loser yielding to us.
        self.backups.losers.remove(&from);
    }

    /// Tunnels and sessions held for `member` (as its backup).
    pub fn held_for(&self, member: NodeId) -> (usize, usize) {
        self.backups
            .held
            .get(&member)
            .map_or((0, 0), |h| (h.tunnels.len(), h.sessions))
    }

    /// Everything held for `member` (as its backup): each tunnel's record with its sessions'
    /// records, and the session count.
    #[cfg(test)]
    pub(super) fn held_copy(
        &self,
        member: NodeId,
    ) -> (Vec<(TunnelRecord, Vec<SessionRecord>)>, usize) {
        let Some(h) = self.backups.held.get(&member) else {
            return (Vec::new(), 0);
        };
        let tunnels = h.tunnels.values();
        let copy = tunnels.map(|(t, s)| (t.clone(), s.sorted()));
        (copy.collect(), h.sessions)
    }

    /// The call details held for `member` (as its backup), by tunnel and session id.
    #[cfg(test)]
    pub(super) fn held_details(&self, member: NodeId) -> Vec<(u16, u16, PackedCallDetails)> {
        let Some(h) = self.backups.held.get(&member) else {
            return Vec::new();
        };
        let mut v: Vec<(u16, u16, PackedCallDetails)> = h
            .tunnels
            .iter()
            .flat_map(|(&t, (_, s))| s.1.iter().map(move |(&sid, d)| (t, sid, d.clone())))
            .collect();
        v.sort_unstable_by_key(|(t, s, _)| (*t, *s));
        v
    }

    /// The sessions held for `member` (as its backup), by tunnel and session id.
    pub fn held_sessions_for(&self, member: NodeId) -> Vec<SessionRef> {
        let Some(h) = self.backups.held.get(&member) else {
            return Vec::new();
        };
        h.tunnels
            .iter()
            .flat_map(|(&tunnel, (_, s))| {
                s.sorted().into_iter().map(move |s| SessionRef {
                    tunnel,
                    session: s.session,
                })
            })
            .collect()
    }

    /// Module docs, one owner per tunnel: `by` took over our `tunnel` of `incarnation`, making
    /// it owner generation `epoch`; a notice of a generation not newer than ours is stale.
    fn yield_tunnel(
        &mut self,
        by: NodeId,
        incarnation: u32,
        (tunnel, epoch): (u16, u32),
        _: Instant,
    ) {
        let ours = self.monitor().map(crate::health::Monitor::incarnation);
        let our_epoch = self.backups.epochs.get(&tunnel).copied().unwrap_or(0);
        if ours != Some(incarnation) || epoch <= our_epoch {
            return;
        }
        self.keep_yielded(tunnel, by, epoch);
        self.give_up(tunnel, by);
    }

    /// Module docs, restart: `by` took over the tunnels our former incarnation `incarnation`
    /// served at `addr`; we, restarted since, know none of them and give `addr` up
    /// ([`Event::AddressTaken`]). A notice naming our own incarnation is none of ours (the
    /// tunnels' own [`Record::TakenOver`] notices say what we yield then).
    fn address_taken(&mut self, by: NodeId, incarnation: u32, addr: IpAddr) {
        let ours = self.monitor().map(crate::health::Monitor::incarnation);
        if ours.is_some_and(|i| incarnation < i) {
            self.core.event(Event::AddressTaken { addr, owner: by });
        }
    }

    /// Module docs, yielded copy: our `tunnel`, which `by` took over making it owner generation
    /// `epoch`, is held for `by` as its backup would hold it (that generation, `by`'s
    /// incarnation), until `by` releases it (its own backup holds what it took).
    fn keep_yielded(&mut self, tunnel: u16, by: NodeId, epoch: u32) {
        let Some(cfg) = self.cfg.replication else {
            return;
        };
        let Some(mut t) = self.core.export_tunnel(tunnel) else {
            return;
        };
        t.epoch = epoch;
        let records = self.session_records(tunnel);
        // Late records to the taker: it adopts the sessions its copy lacked (a copy from a bulk
        // sync still under way when it found us Down; `late_record`).
        self.send_sessions(by, &records);
        let sessions: HeldSessions = records.into_iter().collect();
        let incarnation = self.incarnation_now(by);
        let h = self.backups.held.get_or_default(by);
        if incarnation.is_some() && h.incarnation != incarnation {
            *h = Held::default();
            h.incarnation = incarnation;
        }
        if h.tunnels
            .get(&tunnel)
            .is_some_and(|(held, _)| held.epoch >= epoch)
        {
            // The taker replicated the tunnel here already, as owner of that generation: its
            // copy is newer than ours (seed 88509: its records came just before its notice,
            // without a session the LAC had cleared there since; ours would bring it back).
            return;
        }
        let before = h.tunnels.get(&tunnel).map_or(0, |(_, s)| s.len());
        let others = h.sessions.saturating_sub(before);
        let room = others + sessions.len() <= cfg.max_sessions
            && (h.tunnels.contains_key(&tunnel) || h.tunnels.len() < cfg.max_tunnels);
        if !room {
            self.core.stats.replicas_refused = self.core.stats.replicas_refused.saturating_add(1);
            return;
        }
        h.sessions = others + sessions.len();
        h.tunnels.insert(tunnel, (t, sessions));
    }

    /// Sends `to` a [`Record::Session`] of each of `records`, in order (late records there),
    /// a [`Record::Call`] for one with its call's details.
    fn send_sessions(
        &mut self,
        to: NodeId,
        records: &[(SessionRecord, Option<PackedCallDetails>)],
    ) {
        for (s, d) in records {
            let rec = match d {
                Some(d) => Record::Call(Box::new(CallRecord {
                    session: *s,
                    sequence: None,
                    details: d.clone(),
                })),
                None => Record::Session(*s),
            };
            self.send_record(to, rec);
        }
    }

    /// The records of our sessions of `tunnel`, by Session ID, each with its call's details.
    fn session_records(&self, tunnel: u16) -> Vec<(SessionRecord, Option<PackedCallDetails>)> {
        let Some(t) = self.core.tunnels.get(&tunnel) else {
            return Vec::new();
        };
        let sids: Vec<u16> = t.sessions.keys().copied().collect();
        let mut records: Vec<(SessionRecord, Option<PackedCallDetails>)> = sids
            .into_iter()
            .filter_map(|sid| {
                let s = self.core.export_session(tunnel, sid)?;
                Some((s, self.core.call_details(tunnel, sid).cloned()))
            })
            .collect();
        records.sort_unstable_by_key(|(s, _)| s.session);
        records
    }

    /// Drops our `tunnel` without a StopCCN: `by` owns it (module docs, one owner per tunnel).
    fn give_up(&mut self, tunnel: u16, by: NodeId) {
        let local = self.core.tunnels.get(&tunnel).and_then(|t| t.local);
        if let Some(sessions) = self.core.forget_tunnel(tunnel) {
            self.backups.epochs.remove(&tunnel);
            self.core.stats.tunnels_yielded = self.core.stats.tunnels_yielded.saturating_add(1);
            self.replicate_tunnel_gone(tunnel);
            self.core.event(Event::Yielded {
                tunnel,
                owner: by,
                sessions,
                local,
            });
        }
    }

    /// `from` completed its bulk sync `epoch` to us (module docs, one owner per tunnel).
    pub(super) fn note_generation(&mut self, from: NodeId, epoch: u32) {
        if let Some(h) = self.backups.held.get_mut(&from) {
            h.generation = epoch;
        }
    }

    /// Our claim on `member` from the copy `held`, when it names an incarnation and holds a
    /// tunnel.
    fn own_claim(&self, held: &Held) -> Option<Claim> {
        if held.tunnels.is_empty() {
            return None;
        }
        Some(Claim {
            incarnation: held.incarnation?,
            generation: held.generation,
            by: self.monitor()?.node(),
        })
    }

    /// Tells every other member that we took `member` over ([`Record::Claimed`]).
    fn claim(&mut self, member: NodeId, c: Claim) {
        let peers: Vec<NodeId> = self
            .monitor()
            .map(|m| m.peers().map(|p| p.node).collect())
            .unwrap_or_default();
        for peer in peers.into_iter().filter(|p| *p != member) {
            self.send_record(
                peer,
                Record::Claimed {
                    member: member.0,
                    incarnation: c.incarnation,
                    generation: c.generation,
                },
            );
        }
    }

    /// `by` took `member` of `incarnation` over from its copy of bulk sync `generation` (`claim`:
    /// the incarnation and the generation; module docs, one owner per tunnel): the best claim on
    /// `member` is kept for our own takeover; if we took it over too, the loser yields what it
    /// took and the winner takes the addresses again, its channels of those tunnels learn their
    /// Nr from the LAC again, and (RFC 4951 mode) it queries the LAC for their sessions (FSQ,
    /// RFC 4951 3.3; module docs, two takers).
    fn claimed(&mut self, now: Instant, by: NodeId, member: NodeId, claim: (u32, u32)) {
        let (incarnation, generation) = claim;
        let Some(m) = self.monitor() else {
            return;
        };
        let me = m.node();
        if member == me || by == me || m.addr_of(member).is_none() {
            return;
        }
        let theirs = Claim {
            incarnation,
            generation,
            by,
        };
        // A claim noted already, made again by its sender (the replication channel delivers a
        // notice once, `replica` docs, delivery; until session 44 it queued the notices of a
        // batch it abandoned for a bulk sync again): answered then. Taking the addresses again
        // now would move them from a member that took the tunnel from us since (crash during
        // set-up seed 44628: the address came back here just before we yielded, and the LAC's
        // packets reached no owner).
        if self.backups.claims.get(&member) == Some(&theirs) {
            return;
        }
        let best = match self.backups.claims.get(&member) {
            Some(c) if c.incarnation > incarnation => *c,
            Some(c) if c.incarnation == incarnation && !theirs.beats(c) => *c,
            _ => theirs,
        };
        self.backups.claims.insert(member, best);
        let Some(taken) = self
            .backups
            .taken
            .get(&member)
            .filter(|t| t.incarnation == Some(incarnation))
            .cloned()
        else {
            return;
        };
        let ours = Claim {
            incarnation,
            generation: taken.generation,
            by: me,
        };
        if theirs.beats(&ours) {
            self.backups.taken.remove(&member);
            for tunnel in taken.tunnels {
                // The winner's copy may lack calls we answered since our takeover (module
                // docs, two takers): it adopts them as late records.
                let records = self.session_records(tunnel);
                self.send_sessions(by, &records);
                self.give_up(tunnel, by);
            }
            self.publish_load();
            return;
        }
        self.backups.losers.insert(by, member);
        // The loser, holding the address since its takeover, may have taken and acknowledged
        // messages of the LAC on our tunnels (module docs, two takers: RFC 4951 failover
        // seed 286961, the LAC's FSR): our channels learn their Nr from the LAC again, and
        // (RFC 4951 mode) we query the LAC for every session of those tunnels (RFC 4951 3.3,
        // FSQ: a CDN or an FSR the loser took may have ended one at the LAC).
        for tunnel in &taken.tunnels {
            if let Some(t) = self.core.tunnels.get_mut(tunnel) {
                t.channel.resync_nr_again();
            }
            self.core.unsure_sessions(now, *tunnel);
        }
        for addr in taken.addrs {
            self.core.event(Event::TakenOver {
                failed: member,
                addr,
                tunnels: Vec::new(),
                sessions: Vec::new(),
                details: Vec::new(),
            });
        }
    }

    /// `node` restarted, now of `incarnation` (module docs, restart): a restart is a crash, so
    /// what we hold of a former incarnation of it is taken over exactly as at a Down
    /// ([`Lns::take_over`]: claims, RFC 4951 recovery or silent resume, [`Event::TakenOver`]
    /// per address, replication to our backup, the notices); what is left of the former
    /// incarnation then goes. The records are consumed by the takeover, so a later failure of
    /// the new incarnation resurrects nothing. What we took from it (and the claims on it)
    /// stay: another taker's claim on the former incarnation is still to be settled (two
    /// takers), and the restarted member is told which address we took (once per
    /// incarnation: [`Lns::member_up`], now and when we see it Up). Called by health's
    /// `Restarted` and by a batch of the new incarnation ([`Lns::sender_incarnation`]),
    /// whichever comes first; the second call of an incarnation changes nothing.
    pub(super) fn member_restarted(&mut self, now: Instant, node: NodeId, incarnation: u32) {
        // Once per incarnation, whichever of health and the replication lane saw it first.
        let first = self
            .backups
            .restarts
            .get(&node)
            .is_none_or(|r| *r < incarnation);
        if first {
            self.backups.restarts.insert(node, incarnation);
        }
        match self.backups.held.get(&node).map(|h| h.incarnation) {
            // Records of a former incarnation: the calls the LAC still holds with it.
            Some(Some(former)) if former != incarnation => {
                self.take_over_of(now, node, Some(former));
            }
            // Records of the new incarnation already (its batches came before its heartbeat):
            // its own, kept.
            Some(Some(_)) | None => {}
            // Of no known incarnation: dropped.
            Some(None) => {
                self.backups.held.remove(&node);
            }
        }
        self.backups.late_downs.remove(&node);
        // A member that took another over and lost its claim to ours sends us no more of its
        // sessions: its state is gone.
        self.backups.losers.remove(&node);
        if first {
            self.peer_restarted(node);
            // Told which addresses we took from its former incarnation (once per
            // incarnation), though health may not have seen it Up in this one yet.
            self.member_up(node);
        }
    }

    /// A replication envelope from `node` of `incarnation`, authenticated and admitted, the
    /// last one seen from it being of `before` (0: none). When we knew a lower incarnation of
    /// it (the lane's, health's or that of the records we hold), it restarted: its batches
    /// may come before the heartbeat that tells health (module docs, restart), so the restart
    /// is acted on now, as health's `Restarted` would ([`Lns::member_restarted`]): what we
    /// hold of its former incarnation is taken over, not replaced by the new one's records,
    /// and its batch numbers start again (else its first batches, numbered from 1, would be
    /// taken for duplicates: acknowledged, not applied).
    pub(super) fn sender_incarnation(
        &mut self,
        now: Instant,
        node: NodeId,
        incarnation: u32,
        before: u32,
    ) {
        let held = self.backups.held.get(&node).and_then(|h| h.incarnation);
        let health = self.monitor().and_then(|m| m.incarnation_of(node));
        let lane = (before != 0).then_some(before);
        let former = [held, health, lane].into_iter().flatten().max();
        if former.is_some_and(|f| f < incarnation) {
            self.member_restarted(now, node, incarnation);
        }
    }

    /// Whether a replication envelope from `node` of `incarnation` is of an incarnation
    /// older than one whose restart we acted on: a batch of the former incarnation delayed
    /// past the restart, which must not bring back what was taken over (nor count in the
    /// new incarnation's batch numbers).
    pub(super) fn stale_incarnation(&self, node: NodeId, incarnation: u32) -> bool {
        self.backups
            .restarts
            .get(&node)
            .is_some_and(|r| incarnation < *r)
    }

    /// The incarnation of `node` as last seen: health's, or a later one whose restart the
    /// replication lane showed first.
    fn incarnation_now(&self, node: NodeId) -> Option<u32> {
        let health = self.monitor().and_then(|m| m.incarnation_of(node));
        health.max(self.backups.restarts.get(&node).copied())
    }

    /// `node` is Up: tell it again which of its tunnels we took; a restarted `node` (of an
    /// incarnation other than the one we took them from), which knows none of them, which of
    /// its addresses we took (module docs, restart).
    pub(super) fn member_up(&mut self, node: NodeId) {
        self.backups.late_downs.remove(&node);
        let now_of = self.incarnation_now(node);
        let Some(taken) = self.backups.taken.get_mut(&node) else {
            return;
        };
        let Some(incarnation) = taken.incarnation else {
            return;
        };
        if now_of.is_some_and(|i| i != incarnation) {
            if taken.told == now_of {
                return;
            }
            // Told an earlier restarted incarnation, the notice not acknowledged yet: it is
            // still on its way and reaches this one (exactly once per incarnation).
            let on_its_way = taken.told.is_some()
                && self
                    .repl
                    .channels
                    .get(&node)
                    .is_some_and(|ch| ch.committed() < taken.told_mark);
            taken.told = now_of;
            if on_its_way {
                return;
            }
            for addr in taken.addrs.clone() {
                self.send_record(node, Record::AddressTaken { incarnation, addr });
            }
            let mark = self.repl.channels.get(&node).map_or(0, |ch| ch.mark());
            if let Some(taken) = self.backups.taken.get_mut(&node) {
                taken.told_mark = mark;
            }
            return;
        }
        let tunnels = taken.tunnels.clone();
        for tunnel in tunnels {
            if self.core.tunnels.contains_key(&tunnel) {
                let epoch = self.backups.epochs.get(&tunnel).copied().unwrap_or(0);
                self.send_record(
                    node,
                    Record::TakenOver {
                        incarnation,
                        tunnel,
                        epoch,
                    },
                );
            }
        }
    }

    /// Health declared `node` Down: what is held for it is taken over now, unless a fresh
    /// batch of its records came less than a Down interval
    /// ([`crate::health::HealthConfig::down_after`]) ago. That batch proves it alive as a
    /// heartbeat would, so the takeover is due a Down interval after it, if health still sees
    /// it Down then (module docs, records from a member seen Down).
    pub(super) fn member_down(&mut self, now: Instant, node: NodeId) {
        let down_after = self.cfg.health.down_after();
        let due = self
            .backups
            .held
            .get(&node)
            .and_then(|h| h.last_batch)
            .map(|at| at + down_after)
            .filter(|due| *due > now);
        match due {
            Some(due) => {
                self.backups.late_downs.insert(node, due);
            }
            None => self.take_over(now, node),
        }
    }

    /// `failed` is Down: adopt what is held for it (module docs).
    pub(super) fn take_over(&mut self, now: Instant, failed: NodeId) {
        // Its latest incarnation: health's, or a later one its batches showed first (module
        // docs, restart); the records of another are none of that one's.
        let current = self.incarnation_now(failed);
        self.take_over_of(now, failed, current);
    }

    /// Adopts what is held for `failed` when it is of `incarnation` (`None`: whichever it is):
    /// `failed` of that incarnation is Down, or restarted (module docs, restart).
    fn take_over_of(&mut self, now: Instant, failed: NodeId, incarnation: Option<u32>) {
        self.backups.late_downs.remove(&failed);
        let Some(held) = self.backups.held.remove(&failed) else {
            return;
        };
        let current = incarnation.or(held.incarnation);
        if held.incarnation.is_some() && held.incarnation != current {
            return;
        }
        // Another member took `failed` over from a newer copy (or as new, a lower id): ours is
        // not to be used (module docs, one owner per tunnel).
        let ours = self.own_claim(&held);
        if let (Some(ours), Some(theirs)) = (ours, self.backups.claims.get(&failed).copied()) {
            if theirs.incarnation == ours.incarnation && theirs.beats(&ours) {
                return;
            }
            if theirs.incarnation == ours.incarnation {
                // It yields to our claim, and sends us its sessions (two takers).
                self.backups.losers.insert(theirs.by, failed);
            }
        }
        let mut by_addr: BTreeMap<IpAddr, TakenAt> = BTreeMap::new();
        let mut taken = Vec::new();
        let mut adopted = Vec::new();
        let mut recover = Vec::new();
        // The adopted calls whose ICRP is pinned held: released once our backup holds them.
        let mut pinned = Vec::new();
        for (tid, (t, sessions)) in held.tunnels {
            // RFC 4951 mode for a LAC that advertised the C bit, when we can recover (C bit).
            let rfc4951 = t.peer_failover.is_some_and(|f| f.control)
                && self.cfg.common.failover.as_ref().is_some_and(|f| f.control);
            // A copy of a tunnel we own at an owner generation not older than the copy's (we
            // took it from `failed`, the record telling us it went lingered): stale, nothing
            // lost (silent failover seed 52104: 20 sessions counted lost).
            let ours = self.backups.epochs.get(&tid).copied().unwrap_or(0);
            let same = self
                .core
                .export_tunnel(tid)
                .is_some_and(|o| o.peer == t.peer && o.peer_tunnel == t.peer_tunnel);
            if same && t.epoch <= ours {
                continue;
            }
            if self.core.adopt_tunnel(now, &t, !rfc4951).is_err() {
                self.count_lost(sessions.len());
                continue;
            }
            self.core.stats.tunnels_taken_over =
                self.core.stats.tunnels_taken_over.saturating_add(1);
            self.backups.epochs.insert(tid, t.epoch.saturating_add(1));
            let entry = by_addr.entry(t.local.ip()).or_default();
            entry.0.push(tid);
            for s in &sessions.sorted() {
                match self.core.adopt_session(now, s, true) {
                    Ok(()) => {
                        // Its call's details, as the copy holds them (module docs, call
                        // details): kept by the session, and handed over with it.
                        let details = sessions.details(s.session).cloned();
                        entry.2.push(details.as_ref().map(|d| Box::new(d.unpack())));
                        if let Some(adopted) = self.core.session_mut(tid, s.session) {
                            adopted.details = details;
                        }
                        if let Some(ns) = self.core.held_pin(tid, s.session) {
                            pinned.push((tid, s.session, ns));
                        }
                        self.core.stats.sessions_taken_over =
                            self.core.stats.sessions_taken_over.saturating_add(1);
                        adopted.push((tid, s.session));
                        entry.1.push(handoff(&t, s));
                    }
                    Err(_) => self.count_lost(1),
                }
            }
            if rfc4951 {
                recover.push(t.clone());
            }
            taken.push(tid);
        }
        for t in recover {
            // The recovery SCCRQ goes from the failed member's address (the tunnel's local one).
            if self
                .core
                .start_recovery(now, t.tunnel, UnsureSessions::All)
                .is_err()
            {
                self.core.resume_silently(now, &t);
            }
        }
        for tid in &taken {
            let sids: Vec<u16> = self
                .core
                .tunnels
                .get(tid)
                .map(|t| t.sessions.keys().copied().collect())
                .unwrap_or_default();
            self.replicate_tunnel(*tid);
            for sid in sids {
                self.replicate_session(*tid, sid);
            }
        }
        // Their ICRPs go once our backup holds them (`replicate` docs, output commit).
        for (tid, sid, ns) in pinned {
            self.commit_adopted(now, tid, sid, ns);
        }
        let tunnels = &self.core.tunnels;
        self.backups.unsure.retain(|tid, u| {
            tunnels
                .get(tid)
                .is_some_and(|t| t.peer == u.peer && t.peer_header_id() == u.peer_tunnel)
        });
        for tid in &taken {
            if let Some(t) = self.core.tunnels.get(tid) {
                let u = Unsure {
                    from: failed,
                    incarnation: held.incarnation,
                    peer: t.peer,
                    peer_tunnel: t.peer_header_id(),
                    at: now,
                    cleared: Vec::new(),
                };
                self.backups.unsure.insert(*tid, u);
            }
        }
        // Nothing taken (a member holding no tunnel, restarted or Down): what we took from a
        // former incarnation of it stays on record, its addresses still to tell a restarted
        // incarnation (module docs, restart).
        let keep = taken.is_empty() && self.backups.taken.contains_key(&failed);
        if !keep {
            self.backups.taken.insert(
                failed,
                Taken {
                    incarnation: held.incarnation,
                    generation: held.generation,
                    tunnels: taken,
                    addrs: by_addr.keys().copied().collect(),
                    adopted: {
                        adopted.sort_unstable();
                        adopted
                    },
                    told: None,
                    told_mark: 0,
                },
            );
        }
        if let Some(c) = ours {
            self.claim(failed, c);
        }
        self.member_up(failed);
        self.release_yielded_later(failed);
        for (addr, (tunnels, sessions, details)) in by_addr {
            self.core.event(Event::TakenOver {
                failed,
                addr,
                tunnels,
                sessions,
                details,
            });
        }
        self.publish_load();
    }

    /// A data message or an ICCN on tunnel `tid`'s session `sid`, which we do not hold (module docs,
    /// sessions the copy lacks): a CDN when the tunnel is one we took over and its copy is
    /// settled, once per session.
    pub(super) fn unknown_session(&mut self, now: Instant, tid: u16, sid: u16) {
        let down_after = self.cfg.health.down_after();
        let most = self.cfg.common.max_sessions_per_tunnel;
        let Some(u) = self.backups.unsure.get(&tid) else {
            return;
        };
        let Some(t) = self.core.tunnels.get(&tid) else {
            self.backups.unsure.remove(&tid);
            return;
        };
        if t.peer != u.peer || t.peer_header_id() != u.peer_tunnel {
            self.backups.unsure.remove(&tid);
            return;
        }
        // An RFC 4951 recovery still under way: nothing is sent on the old tunnel before it
        // resumed (its FSQ follows then).
        if sid == 0 || t.state != TunnelState::Established || t.recovery.is_some() {
            return;
        }
        let monitor = self.health.as_ref().map(|h| h.monitor());
        let restarted = self
            .incarnation_now(u.from)
            .is_some_and(|i| u.incarnation.is_some_and(|then| then != i));
        let still_down = monitor.and_then(|m| m.state(u.from)) == Some(NodeState::Down)
            && now.saturating_duration_since(u.at) >= down_after;
        if !(restarted || still_down) {
            return;
        }
        let Some(u) = self.backups.unsure.get_mut(&tid) else {
            return;
        };
        let Err(i) = u.cleared.binary_search(&sid) else {
            return;
        };
        if u.cleared.len() >= most {
            let s = &mut self.core.stats.unknown_sessions_unanswered;
            *s = s.saturating_add(1);
            return;
        }
        let result = ResultCode::with_error(
            ResultCodeValue::CDN_GENERAL_ERROR,
            ErrorCode::INVALID_SESSION_ID,
            Cow::Borrowed(&b""[..]),
        );
        // Not queued (the channel's send queue full): the session's next data tries again.
        if self
            .core
            .send_ctrl(now, tid, ControlMessage::cdn(0, 0, sid, result))
        {
            u.cleared.insert(i, sid);
            let s = &mut self.core.stats.unknown_sessions_cleared;
            *s = s.saturating_add(1);
        }
    }

    /// A recovery SCCRP for no tunnel of ours ([`StraySccrp`]; module docs, stray recoveries):
    /// stopped (StopCCN, `Core::stop_stray_sccrp`) when it came to an
    /// address we took over from a member whose takeover by another member lost to ours
    /// ([`Backups::losers`]), and every tunnel we took from that member with that peer is
    /// established with its own recovery completed: the recovery it answers can only be the
    /// loser's, yielded to us. Otherwise it is left unanswered (a claim of ours still open may
    /// yet lose, and the SCCRP be the winner's).
    pub(super) fn stray_recovery_sccrp(&mut self, now: Instant, s: StraySccrp) {
        let tunnels = &self.core.tunnels;
        let recovered = |taken: &Taken| {
            let mut with_peer = taken
                .tunnels
                .iter()
                .filter_map(|tid| tunnels.get(tid))
                .filter(|t| t.peer.ip() == s.from.ip())
                .peekable();
            with_peer.peek().is_some()
                && with_peer.all(|t| t.state == TunnelState::Established && t.recovery.is_none())
        };
        let ours = self.backups.losers.values().any(|member| {
            self.backups
                .taken
                .get(member)
                .is_some_and(|t| t.addrs.contains(&s.to.ip()) && recovered(t))
        });
        if ours {
            self.core.stop_stray_sccrp(now, s);
        }
    }

    fn count_lost(&mut self, n: usize) {
        let s = &mut self.core.stats.sessions_lost_in_takeover;
        *s = s.saturating_add(n as u64);
    }
}

/// What a takeover took at one of the failed member's addresses: the tunnels, the sessions'
/// handoffs and their calls' details (in the order of the handoffs; [`Event::TakenOver`]).
type TakenAt = (Vec<u16>, Vec<SessionHandoff>, Vec<Option<Box<CallDetails>>>);

/// The data-plane handoff of session `s` of tunnel `t` as restored (data Ns skipped ahead,
/// `tunnel::DATA_NS_SKIP`).
fn handoff(t: &TunnelRecord, s: &SessionRecord) -> SessionHandoff {
    SessionHandoff {
        session: SessionRef {
            tunnel: t.tunnel,
            session: s.session,
        },
        local: t.local,
        peer: t.peer,
        peer_tunnel: t.peer_tunnel,
        peer_session: s.peer_session,
        sequencing: s.sequencing,
        send_seq: s.sequencing,
        recv_seq: s.sequencing,
        lns_mode: true,
        length_bit: true,
        offset: false,
        ns: s.data_ns.wrapping_add(super::super::tunnel::DATA_NS_SKIP),
        nr: s.data_nr,
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::session::SessionState;
    use super::super::super::wire::{ControlMessage, Message, MessageType, ResultCodeValue};
    use super::*;
    use crate::l2tp::channel::seq_lt;
    use std::net::SocketAddr;
    use std::time::Duration;

    const TUNNEL: u16 = 0x1111;
    const PEER_TUNNEL: u16 = 0x2222;
    const SESSION: u16 = 0x0303;
    const PEER_SESSION: u16 = 0x0404;
    /// The replica's Ns (oldest unacknowledged) and Nr; the answered call's ICRP had Ns 13.
    const NS: u16 = 10;
    const NR: u16 = 20;
    const ICRP_NS: u16 = 13;

    fn lac() -> SocketAddr {
        "10.0.9.1:1701".parse().unwrap()
    }

    fn local() -> SocketAddr {
        "10.0.1.1:1701".parse().unwrap()
    }

    /// A member (node 1) that backs up node 2, holding node 2's tunnel with one answered call
    /// whose ICRP had Ns [`ICRP_NS`], takes it over: the member and the probe it sent.
    fn taken_over(now: Instant) -> (Lns, ControlMessage<'static>) {
        let mut lns = holder(now, 1);
        lns.take_over(now, NodeId(2));
        let sent = to_lac(&mut lns);
        assert_eq!(sent.len(), 1, "the probe only");
        (lns, sent.into_iter().next().unwrap())
    }

    /// Node 1 of a pool with nodes 2 and 3, holding node 2's (incarnation 1) tunnel and its
    /// answered call from node 2's bulk sync `generation`.
    fn holder(now: Instant, generation: u32) -> Lns {
        let mut lns = super::super::pool_member(
            now,
            vec![
                (NodeId(2), "10.0.2.2:1701".parse().unwrap()),
                (NodeId(3), "10.0.2.3:1701".parse().unwrap()),
            ],
        );
        let t = TunnelRecord {
            tunnel: TUNNEL,
            peer_tunnel: PEER_TUNNEL,
            peer: lac(),
            local: local(),
            ns: NS,
            nr: NR,
            peer_window: 8,
            peer_framing_capabilities: 3,
            peer_bearer_capabilities: None,
            peer_load_balance_capable: false,
            peer_failover: None,
            hello_interval_ms: 60_000,
            epoch: 0,
        };
        let s = SessionRecord {
            tunnel: TUNNEL,
            session: SESSION,
            peer_session: PEER_SESSION,
            serial: 1,
            sequencing: false,
            load_balance_capable: false,
            data_ns: 0,
            data_nr: 0,
            answered: true,
            icrp_ns: Some(ICRP_NS),
        };
        lns.note_incarnation(NodeId(2), 1);
        lns.apply_record(now, NodeId(2), Record::Tunnel(Box::new(t)));
        lns.apply_record(now, NodeId(2), Record::Session(s));
        lns.note_generation(NodeId(2), generation);
        lns
    }

    /// Module docs, held records and takeover: the sessions held for a member's tunnel are
    /// its last record of each (an update replaces, a removal takes out, each counted once
    /// against [`super::super::ReplicationConfig::max_sessions`]), and a takeover adopts them
    /// and hands them off in Session ID order, whatever order their records came in (the
    /// table is a hash table, `HeldSessions`).
    #[test]
    fn held_sessions_are_the_last_records_taken_over_in_id_order() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        // Ids in no order (the member draws them at random), one updated, one gone.
        let ids: Vec<u16> = (1..=40u16).map(|i| i.wrapping_mul(0x9e37) | 1).collect();
        // Records like the held call's (`holder`), of other ids.
        let base = lns.held_copy(NodeId(2)).0[0].1[0];
        let record = |sid: u16, serial: u32| SessionRecord {
            session: sid,
            peer_session: sid ^ 0x8000,
            serial,
            ..base
        };
        for &sid in &ids {
            lns.apply_record(now, NodeId(2), Record::Session(record(sid, 1)));
        }
        lns.apply_record(now, NodeId(2), Record::Session(record(ids[5], 2)));
        let gone = Record::SessionGone {
            tunnel: TUNNEL,
            session: ids[9],
        };
        lns.apply_record(now, NodeId(2), gone);
        let mut want: Vec<u16> = ids.iter().copied().filter(|s| *s != ids[9]).collect();
        want.push(SESSION);
        want.sort_unstable();
        let (copy, count) = lns.held_copy(NodeId(2));
        assert_eq!(count, want.len(), "each session counted once");
        let held: Vec<u16> = copy[0].1.iter().map(|s| s.session).collect();
        assert_eq!(held, want);
        let updated = copy[0].1.iter().find(|s| s.session == ids[5]);
        assert_eq!(
            updated.map(|s| s.serial),
            Some(2),
            "the last record of a session"
        );
        let listed: Vec<u16> = lns
            .held_sessions_for(NodeId(2))
            .iter()
            .map(|r| r.session)
            .collect();
        assert_eq!(listed, want);
        lns.take_over(now, NodeId(2));
        let handed: Vec<u16> = ownership(&mut lns)
            .into_iter()
            .flat_map(|e| match e {
                Event::TakenOver { sessions, .. } => sessions,
                _ => Vec::new(),
            })
            .map(|h| h.session.session)
            .collect();
        assert_eq!(handed, want, "adopted and handed off in id order");
    }

    /// What `lns` told its caller of takeovers and yields.
    fn ownership(lns: &mut Lns) -> Vec<Event> {
        std::iter::from_fn(|| lns.poll_event())
            .filter(|e| matches!(e, Event::TakenOver { .. } | Event::Yielded { .. }))
            .collect()
    }

    /// Node 3 took node 2 over from the copy of node 2's bulk sync `generation`.
    fn claim_of_node_3(lns: &mut Lns, now: Instant, generation: u32) {
        let c = Record::Claimed {
            member: 2,
            incarnation: 1,
            generation,
        };
        lns.apply_record(now, NodeId(3), c);
    }

    /// Module docs, one owner per tunnel (seed 1817): node 2 changed backup from us
    /// (bulk sync 1) to node 3 (bulk sync 3) and failed before its release reached us; both of
    /// us took it over. Node 3's copy is newer: we yield the tunnel (no StopCCN to the LAC).
    #[test]
    fn the_taker_with_the_older_copy_yields() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        lns.take_over(now, NodeId(2));
        assert!(matches!(
            ownership(&mut lns)[..],
            [Event::TakenOver { addr, .. }] if addr == local().ip()
        ));
        assert_eq!(lns.tunnels_at(local().ip()), 1);
        let _ = to_lac(&mut lns);
        claim_of_node_3(&mut lns, now, 3);
        // The yield names the address the tunnel used, which node 3 holds now: with no tunnel
        // of ours left there, the caller releases it.
        assert_eq!(
            ownership(&mut lns),
            [Event::Yielded {
                tunnel: TUNNEL,
                owner: NodeId(3),
                sessions: 1,
                local: Some(local()),
            }]
        );
        assert_eq!(lns.tunnels_at(local().ip()), 0);
        assert_eq!(lns.tunnel_count(), 0);
        assert!(to_lac(&mut lns).is_empty(), "no StopCCN");
    }

    /// The same, our copy the newer one (or as new, and ours the lower node id): we keep the
    /// tunnel and take the member's address again (the other taker moved it).
    #[test]
    fn the_taker_with_the_newer_copy_keeps_and_takes_the_address_again() {
        for (ours, theirs) in [(3, 1), (2, 2)] {
            let now = Instant::now();
            let mut lns = holder(now, ours);
            lns.take_over(now, NodeId(2));
            let _ = ownership(&mut lns);
            claim_of_node_3(&mut lns, now, theirs);
            assert_eq!(
                ownership(&mut lns),
                [Event::TakenOver {
                    failed: NodeId(2),
                    addr: local().ip(),
                    tunnels: Vec::new(),
                    sessions: Vec::new(),
                    details: Vec::new(),
                }],
                "generations {ours} / {theirs}"
            );
            assert_eq!(lns.tunnel_count(), 1);
        }
    }

    /// Module docs, two takers (crash during set-up seed 44628): a claim may arrive again (its
    /// sender made it again; until session 44 the replication channel also queued again the
    /// notices of a batch it abandoned for a bulk sync). A claim we answered already (we took
    /// the address again) changes nothing the second time: taking the address again then would move it from a member that took the
    /// tunnel from us since, just before we yield it, and leave the LAC's packets with no owner.
    #[test]
    fn a_claim_delivered_again_takes_the_address_no_second_time() {
        let now = Instant::now();
        let mut lns = holder(now, 3);
        lns.take_over(now, NodeId(2));
        let _ = ownership(&mut lns);
        claim_of_node_3(&mut lns, now, 1);
        assert!(
            matches!(&ownership(&mut lns)[..], [Event::TakenOver { tunnels, .. }] if tunnels.is_empty())
        );
        claim_of_node_3(&mut lns, now, 1);
        assert_eq!(ownership(&mut lns), [], "the same claim again");
        assert_eq!(lns.tunnel_count(), 1);
    }

    /// Our session records queued for `to` (in flight or waiting), by Session ID.
    fn session_records_for(lns: &Lns, to: NodeId) -> Vec<u16> {
        let Some(ch) = lns.repl.channels.get(&to) else {
            return Vec::new();
        };
        let in_flight = ch.in_flight().map(|(_, e)| e).unwrap_or_default();
        let sent = in_flight.iter().filter_map(|e| match e {
            crate::replica::Entry::Item(r) => Some(r),
            _ => None,
        });
        sent.chain(ch.queued())
            .filter_map(|r| match r {
                Record::Session(s) if s.tunnel == TUNNEL => Some(s.session),
                _ => None,
            })
            .collect()
    }

    /// The LAC's ICRQ for a new call (its Session ID `peer`), at the copy's Nr: answered.
    fn new_call(lns: &mut Lns, now: Instant, peer: u16) {
        let mut icrq = ControlMessage::icrq(TUNNEL, peer, u32::from(peer));
        icrq.header.ns = NR;
        icrq.header.nr = ICRP_NS + 1;
        let mut b = Vec::new();
        Message::Control(icrq).emit(&mut b);
        lns.handle_datagram(now, lac(), local(), &b).unwrap();
    }

    /// The record of a call answered (its ICRP at Ns `ICRP_NS + 1`) as session `sid` of the
    /// tunnel, the LAC's `peer`.
    fn answered(sid: u16, peer: u16) -> SessionRecord {
        SessionRecord {
            tunnel: TUNNEL,
            session: sid,
            peer_session: peer,
            serial: u32::from(peer),
            sequencing: false,
            load_balance_capable: false,
            data_ns: 0,
            data_nr: 0,
            answered: true,
            icrp_ns: Some(ICRP_NS + 1),
        }
    }

    /// Module docs, two takers (crash during set-up seed 75568), the loser's side: we took node
    /// 2 over and answered a call since; node 3's claim from a newer copy wins. We yield, and
    /// send node 3 a record of each of our sessions of the tunnel (its copy lacks the call we
    /// answered).
    #[test]
    fn the_taker_that_yields_to_a_claim_sends_the_winner_its_sessions() {
        const NEW_PEER: u16 = 0x0505;
        let now = Instant::now();
        let (mut lns, _probe) = taken_over(now);
        lac_ack(&mut lns, now, ICRP_NS + 1);
        new_call(&mut lns, now, NEW_PEER);
        assert_eq!(lns.session_count(), 2);
        let _ = to_lac(&mut lns);
        let before = session_records_for(&lns, NodeId(3));
        claim_of_node_3(&mut lns, now, 3);
        assert!(matches!(
            ownership(&mut lns)[..],
            [.., Event::Yielded { sessions: 2, .. }]
        ));
        let sent: Vec<u16> = session_records_for(&lns, NodeId(3))
            .into_iter()
            .filter(|s| !before.contains(s) || *s == SESSION)
            .collect();
        assert_eq!(sent.len(), 2, "{sent:?}: a record of each session");
        assert!(sent.contains(&SESSION));
    }

    /// The same, the winner's side: node 3's claim from an older copy lost to ours (heard
    /// before our takeover, or after it); node 3 yields and sends us its sessions of the
    /// tunnel. A call our copy lacks is adopted as a late record of node 2's (one more
    /// [`Event::TakenOver`]), whatever way the batch is applied; one we hold is left as it is.
    #[test]
    fn the_winner_of_a_claim_adopts_the_calls_the_loser_answered() {
        const ANSWERED: u16 = 0x0777;
        const NEW_PEER: u16 = 0x0505;
        for heard_first in [true, false] {
            let now = Instant::now();
            let mut lns = holder(now, 3);
            if heard_first {
                claim_of_node_3(&mut lns, now, 1);
            }
            lns.take_over(now, NodeId(2));
            if !heard_first {
                claim_of_node_3(&mut lns, now, 1);
            }
            let _ = ownership(&mut lns);
            let rec = answered(ANSWERED, NEW_PEER);
            assert!(
                !lns.record_alone(NodeId(3), &Record::Session(rec)),
                "node 3's records are looked at as late ones"
            );
            let ours = lns.held_copy(NodeId(2)).0;
            assert!(ours.is_empty(), "taken over: nothing held");
            lns.apply_record(now, NodeId(3), Record::Session(rec));
            let got = ownership(&mut lns);
            assert!(
                matches!(&got[..], [Event::TakenOver { failed: NodeId(2), sessions, .. }]
                    if sessions.len() == 1 && sessions[0].session.session == ANSWERED),
                "heard first {heard_first}: {got:?}"
            );
            assert_eq!(lns.session_count(), 2);
            assert_eq!(lns.held_for(NodeId(3)), (0, 0), "not held as node 3's own");
        }
    }

    /// Module docs, mixed versions (`replica` docs, extension kinds): a batch from node 2
    /// carrying a record of an extension kind this version does not know (a later version's)
    /// between known ones is acknowledged and applied but for that record, which is counted
    /// (`Stats::replicas_unknown`); with the former wire format (no length, the kind unknown)
    /// the whole batch was refused and node 2's channel stalled.
    #[test]
    fn a_batch_with_an_unknown_extension_record_is_applied_but_for_it() {
        use crate::replica::Entry;
        let now = Instant::now();
        let mut lns = holder(now, 1);
        assert_eq!(lns.held_for(NodeId(2)), (1, 1));
        let items = [
            Entry::Item(Record::Extension {
                kind: 0xC1,
                body: vec![1, 2, 3],
            }),
            Entry::Item(Record::SessionGone {
                tunnel: TUNNEL,
                session: SESSION,
            }),
        ];
        from_node_2(&mut lns, now, &batch_of_node_2(1, 1, 1, &items)).unwrap();
        assert_eq!(
            lns.held_for(NodeId(2)),
            (1, 0),
            "the session's removal applied"
        );
        assert_eq!(lns.stats().replicas_unknown, 1);
        assert_eq!(lns.stats().replicas_refused, 0);
        // Acknowledged: a token for batch 1 goes back to node 2.
        let back: Vec<_> = std::iter::from_fn(|| lns.poll_transmit())
            .filter(|t| t.dst == "10.0.2.2:1701".parse().unwrap())
            .filter(|t| !crate::health::is_heartbeat(&t.payload))
            .collect();
        assert!(!back.is_empty(), "the batch acknowledged");
    }

    /// Module docs, late records: node 2's ICCN details (`Record::CallUpdate`) of a call we
    /// took over from it, lingered into a batch of their own and sent before it learnt of our
    /// takeover, reach us after it: merged into the call we serve (RFC 2661 6.8: its Tx Connect
    /// Speed), not into a copy held for node 2, whether the batch holds that one update (read
    /// in place) or more; an update of a call we do not hold changes nothing.
    #[test]
    fn a_late_call_update_is_merged_into_the_call_taken_over() {
        use crate::l2tp::call::CallDetails;
        use crate::replica::Entry;
        let update = |speed: u32| {
            PackedCallDetails::new(&CallDetails {
                tx_connect_speed: Some(speed),
                ..CallDetails::default()
            })
        };
        for more in [false, true] {
            let now = Instant::now();
            let (mut lns, _probe) = taken_over(now);
            let _ = ownership(&mut lns);
            let speed = |lns: &Lns| {
                lns.core
                    .call_details(TUNNEL, SESSION)
                    .and_then(|d| d.unpack().tx_connect_speed)
            };
            assert_eq!(speed(&lns), None, "the ICRQ's details only");
            let mut items = vec![Entry::Item(Record::CallUpdate {
                tunnel: TUNNEL,
                session: SESSION,
                details: update(64_000),
            })];
            if more {
                items.push(Entry::Item(Record::CallUpdate {
                    tunnel: TUNNEL,
                    session: SESSION ^ 0x0f00,
                    details: update(9_600),
                }));
            }
            from_node_2(&mut lns, now, &batch_of_node_2(1, 1, 1, &items)).unwrap();
            assert_eq!(speed(&lns), Some(64_000), "{} update(s)", items.len());
            assert_eq!(lns.session_count(), 1);
            assert_eq!(lns.held_for(NodeId(2)), (0, 0), "nothing held for node 2");
        }
    }

    /// Module docs, late records (crash during set-up seed 37561): node 2 answered a call
    /// after its last copy to us and held the ICRP for its backup; we took the tunnel over,
    /// and the LAC's ICRQ retransmitted to us (RFC 2661 5.8: the same call) was answered here
    /// under our own Session ID. Node 2's late record of its answer is of that same call (the
    /// LAC's Session ID, RFC 2661 3.1): not adopted, or the one call is served twice.
    #[test]
    fn a_late_record_of_a_call_answered_here_again_is_not_adopted() {
        const THEIRS: u16 = 0x0606;
        const NEW_PEER: u16 = 0x0505;
        let now = Instant::now();
        let (mut lns, _probe) = taken_over(now);
        lac_ack(&mut lns, now, ICRP_NS + 1);
        let _ = ownership(&mut lns);
        new_call(&mut lns, now, NEW_PEER);
        assert_eq!(lns.session_count(), 2, "the call answered here");
        let rec = answered(THEIRS, NEW_PEER);
        lns.apply_record(now, NodeId(2), Record::Session(rec));
        assert_eq!(ownership(&mut lns), [], "nothing more taken over");
        assert_eq!(lns.session_count(), 2, "one session for the call");
        let theirs = SessionRef {
            tunnel: TUNNEL,
            session: THEIRS,
        };
        assert!(lns.session_info(theirs).is_none());
        // A call we do not hold is adopted as before.
        let other = SessionRecord {
            session: THEIRS,
            peer_session: NEW_PEER + 1,
            ..rec
        };
        lns.apply_record(now, NodeId(2), Record::Session(other));
        assert!(lns.session_info(theirs).is_some());
        assert_eq!(lns.session_count(), 3);
    }

    /// A claim from a newer copy heard before we see the member Down: we do not take it over
    /// at all; one from an older copy does not stop us.
    #[test]
    fn a_claim_heard_first_from_a_newer_copy_stops_our_takeover() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        claim_of_node_3(&mut lns, now, 3);
        lns.take_over(now, NodeId(2));
        assert!(ownership(&mut lns).is_empty());
        assert_eq!(lns.tunnel_count(), 0);
        assert!(to_lac(&mut lns).is_empty());

        let mut lns = holder(now, 3);
        claim_of_node_3(&mut lns, now, 1);
        lns.take_over(now, NodeId(2));
        assert!(matches!(ownership(&mut lns)[..], [Event::TakenOver { .. }]));
        assert_eq!(lns.tunnel_count(), 1);
    }

    /// Module docs, records from a member seen Down (double failure seed 11427):
    /// node 2's records land while our health sees it Down (never heard from, here) and it stays
    /// Down: a Down interval after its last batch we take it over, not before; the deadline is
    /// in `poll_timeout`.
    #[test]
    fn records_from_a_member_seen_down_are_taken_over_a_down_interval_later() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        let _ = ownership(&mut lns);
        lns.records_while_down(now, NodeId(2));
        let due = now + lns.cfg.health.down_after();
        taken_over_at(&mut lns, due);
    }

    /// Node 2, whose records `lns` holds, is taken over at `due` (in `poll_timeout`), not a
    /// millisecond before.
    fn taken_over_at(lns: &mut Lns, due: Instant) {
        assert!(lns.poll_timeout().is_some_and(|t| t <= due));
        lns.handle_timeout(due - Duration::from_millis(1));
        assert!(ownership(lns).is_empty(), "not before the Down interval");
        assert_eq!(lns.tunnel_count(), 0);
        lns.handle_timeout(due);
        let got = ownership(lns);
        assert!(
            matches!(&got[..], [Event::TakenOver { failed: NodeId(2), tunnels, .. }] if tunnels == &[TUNNEL]),
            "{got:?}"
        );
        assert_eq!(lns.tunnel_count(), 1);
    }

    /// A fresh batch from node 2 (its tunnel's sequence numbers as held) reaches `lns` at `at`.
    fn fresh_batch_of_node_2(lns: &mut Lns, at: Instant) {
        let seq = [crate::replica::Entry::Item(Record::TunnelSequence {
            tunnel: TUNNEL,
            ns: NS,
            nr: NR,
        })];
        from_node_2(lns, at, &batch_of_node_2(1, 1, 1, &seq)).unwrap();
    }

    /// Module docs, records from a member seen Down (false Down seed 512979): health's Down
    /// of a member whose fresh batch came less than a Down interval ago takes nothing over
    /// then (the batch proves it alive as a heartbeat would); the takeover is due a Down
    /// interval after the batch (in `poll_timeout`), and happens then if health still sees
    /// the member Down. Failed before the fix: taken over at the Down.
    #[test]
    fn a_down_soon_after_a_fresh_batch_waits_a_down_interval_from_the_batch() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        let _ = ownership(&mut lns);
        let at = now + Duration::from_secs(1);
        fresh_batch_of_node_2(&mut lns, at);
        lns.member_down(at + Duration::from_millis(10), NodeId(2));
        assert!(ownership(&mut lns).is_empty(), "taken over at the Down");
        let due = at + lns.cfg.health.down_after();
        taken_over_at(&mut lns, due);
    }

    /// The other side of [`a_down_soon_after_a_fresh_batch_waits_a_down_interval_from_the_batch`]:
    /// a Down a Down interval or more after the member's last batch is taken over at once.
    #[test]
    fn a_down_a_down_interval_after_the_last_batch_is_taken_over_at_once() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        let _ = ownership(&mut lns);
        fresh_batch_of_node_2(&mut lns, now);
        lns.member_down(now + lns.cfg.health.down_after(), NodeId(2));
        let got = ownership(&mut lns);
        assert!(
            matches!(&got[..], [Event::TakenOver { failed: NodeId(2), tunnels, .. }] if tunnels == &[TUNNEL]),
            "{got:?}"
        );
    }

    /// A data message from the LAC on our session `sid` of the tunnel.
    fn lac_data(lns: &mut Lns, now: Instant, sid: u16) -> Result<(), crate::l2tp::InputError> {
        let mut b = Vec::new();
        let d = super::super::super::wire::DataMessage::new(
            TUNNEL,
            sid,
            Cow::Borrowed(&b"\xc0\x21"[..]),
        );
        Message::Data(d).emit(&mut b);
        lns.handle_datagram(now, lac(), local(), &b)
    }

    /// Module docs, sessions the copy lacks (double failure seed 13971): data on a
    /// session the copy lacks gets no CDN while the member we took the tunnel from may still
    /// come back with its records (less than a Down interval after the takeover); then one
    /// CDN (header Session ID 0, Assigned Session ID the data's, Result 2 / Error 5), once per
    /// session; data on a session we hold gets none.
    #[test]
    fn data_on_a_session_the_copy_lacks_gets_one_cdn_once_settled() {
        const LACKED: u16 = 0x0999;
        let now = Instant::now();
        let (mut lns, _probe) = taken_over(now);
        // The LAC's answer to the probe: it expects Ns 11 (`icrp_the_lac_never_took...`).
        lac_ack(&mut lns, now, 11);
        // What the LAC gets, acknowledging each message (the resumed channel starts slowly,
        // RFC 2661 Appendix A): the CDNs among them.
        let cdns = |lns: &mut Lns| -> Vec<ControlMessage<'static>> {
            let mut got = Vec::new();
            for _ in 0..32 {
                let sent = to_lac(lns);
                let Some(last) = sent.iter().map(|m| m.header.ns).max() else {
                    break;
                };
                got.extend(
                    sent.into_iter()
                        .filter(|m| m.message_type() == Some(MessageType::CDN)),
                );
                lac_ack(lns, now, last.wrapping_add(1));
            }
            got
        };
        assert!(
            cdns(&mut lns).is_empty(),
            "the resumed channel's HELLOs and ICRP"
        );
        let settled = now + lns.cfg.health.down_after();
        let early = settled - Duration::from_millis(1);
        assert!(lac_data(&mut lns, early, LACKED).is_err());
        assert!(cdns(&mut lns).is_empty(), "not before the Down interval");
        assert_eq!(lns.stats().unknown_sessions_cleared, 0);

        assert!(lac_data(&mut lns, settled, LACKED).is_err());
        let got = cdns(&mut lns);
        assert_eq!(got.len(), 1, "{got:?}");
        let cdn = &got[0];
        assert_eq!(cdn.header.tunnel_id, PEER_TUNNEL);
        assert_eq!(cdn.header.session_id, 0);
        assert_eq!(cdn.assigned_session_id(), Some(LACKED));
        let rc = cdn.result_code().expect("Result Code");
        assert_eq!(rc.result, ResultCodeValue::CDN_GENERAL_ERROR);
        assert_eq!(
            rc.error.as_ref().map(|e| e.0),
            Some(ErrorCode::INVALID_SESSION_ID)
        );
        assert_eq!(lns.stats().unknown_sessions_cleared, 1);

        assert!(lac_data(&mut lns, settled, LACKED).is_err());
        assert!(cdns(&mut lns).is_empty(), "once per session");
        let _ = lac_data(&mut lns, settled, SESSION);
        assert!(cdns(&mut lns).is_empty(), "a session we hold");
        assert_eq!(lns.stats().unknown_sessions_cleared, 1);
        assert_eq!(lns.tunnel_count(), 1);
    }

    /// Module docs, sessions the copy lacks (seed 232769): an ICCN (RFC 2661 7.4.1)
    /// on a session the copy lacks, once the copy is settled, gets the same CDN as its data
    /// would (Result 2 / Error 5, header Session ID 0, Assigned Session ID the ICCN's), so the
    /// LAC clears a call no member serves at once rather than at its first data.
    #[test]
    fn an_iccn_on_a_session_the_copy_lacks_gets_a_cdn() {
        const LACKED: u16 = 0x0999;
        let now = Instant::now();
        let (mut lns, _probe) = taken_over(now);
        lac_ack(&mut lns, now, ICRP_NS);
        let _ = to_lac(&mut lns);
        let settled = now + lns.cfg.health.down_after();
        let mut iccn = ControlMessage::iccn(TUNNEL, LACKED, 64_000, 1);
        iccn.header.ns = NR;
        iccn.header.nr = ICRP_NS + 1;
        let mut b = Vec::new();
        Message::Control(iccn).emit(&mut b);
        lns.handle_datagram(settled, lac(), local(), &b).unwrap();
        let cdns: Vec<ControlMessage<'static>> = to_lac(&mut lns)
            .into_iter()
            .filter(|m| m.message_type() == Some(MessageType::CDN))
            .collect();
        assert_eq!(cdns.len(), 1, "{cdns:?}");
        assert_eq!(cdns[0].header.session_id, 0);
        assert_eq!(cdns[0].assigned_session_id(), Some(LACKED));
        let rc = cdns[0].result_code().expect("Result Code");
        assert_eq!(rc.result, ResultCodeValue::CDN_GENERAL_ERROR);
        assert_eq!(
            rc.error.as_ref().map(|e| e.0),
            Some(ErrorCode::INVALID_SESSION_ID)
        );
        assert_eq!(lns.stats().unknown_sessions_cleared, 1);
        assert_eq!(
            state(&lns),
            Some(SessionState::WaitConnect),
            "ours untouched"
        );
    }

    /// `tunnel::snapshot` docs (`l2tp_failover` seed 506 at 1,000 calls), RFC 2661 5.8 and
    /// 7.4.2: the copy holds a call connected (its record not answered: a bulk sync after the
    /// ICCN) while its Nr lags the failed LNS's, so the LAC's ICCN, taken there but not yet
    /// acknowledged, is retransmitted to us as a new message: taken once without a word (the
    /// call stays up, no CDN); a second ICCN for the call is out of the call machine's order
    /// ("Receive ICCN: Send CDN, Clean up", Result 2).
    #[test]
    fn a_connected_calls_iccn_sent_again_to_the_taker_is_taken_once() {
        const CONNECTED: u16 = 0x0707;
        const LAC_SESSION: u16 = 0x0808;
        let now = Instant::now();
        let mut lns = holder(now, 1);
        let connected = SessionRecord {
            session: CONNECTED,
            peer_session: LAC_SESSION,
            serial: 2,
            answered: false,
            icrp_ns: None,
            ..answered(CONNECTED, LAC_SESSION)
        };
        lns.apply_record(now, NodeId(2), Record::Session(connected));
        lns.take_over(now, NodeId(2));
        lac_ack(&mut lns, now, ICRP_NS);
        let _ = to_lac(&mut lns);
        let settled = now + lns.cfg.health.down_after();
        let sref = SessionRef {
            tunnel: TUNNEL,
            session: CONNECTED,
        };
        let iccn_at = |lns: &mut Lns, ns: u16| {
            let mut iccn = ControlMessage::iccn(TUNNEL, CONNECTED, 64_000, 1);
            iccn.header.ns = ns;
            iccn.header.nr = ICRP_NS + 1;
            let mut b = Vec::new();
            Message::Control(iccn).emit(&mut b);
            lns.handle_datagram(settled, lac(), local(), &b).unwrap();
            to_lac(lns)
                .into_iter()
                .filter(|m| m.message_type() == Some(MessageType::CDN))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lns.session_info(sref).map(|i| i.state),
            Some(SessionState::Established)
        );
        assert!(iccn_at(&mut lns, NR).is_empty(), "the ICCN sent again");
        assert_eq!(
            lns.session_info(sref).map(|i| i.state),
            Some(SessionState::Established),
            "the call stays up"
        );
        let cdns = iccn_at(&mut lns, NR + 1);
        assert_eq!(cdns.len(), 1, "a second ICCN: {cdns:?}");
        assert_eq!(cdns[0].assigned_session_id(), Some(CONNECTED));
        assert_eq!(
            cdns[0].result_code().map(|r| r.result),
            Some(ResultCodeValue::CDN_GENERAL_ERROR)
        );
        assert!(lns.session_info(sref).is_none(), "cleared");
    }

    /// The control messages `lns` sends the LAC.
    fn to_lac(lns: &mut Lns) -> Vec<ControlMessage<'static>> {
        let mut got = Vec::new();
        while let Some(t) = lns.poll_transmit() {
            if t.dst != lac() {
                continue;
            }
            if let Ok(Message::Control(c)) = Message::parse(&t.payload) {
                got.push(c.into_owned());
            }
        }
        got
    }

    /// What `lns` sends the LAC, the LAC acknowledging each message in turn (slow start, RFC
    /// 2661 Appendix A: one message, then more as the LAC acknowledges) until one at Ns `last`
    /// or later: the messages and their (Ns, type).
    #[allow(clippy::type_complexity)]
    fn sent_through(
        lns: &mut Lns,
        now: Instant,
        last: u16,
    ) -> (
        Vec<ControlMessage<'static>>,
        Vec<(u16, Option<MessageType>)>,
    ) {
        let mut sent = to_lac(lns);
        while let Some(m) = sent.last().filter(|m| m.header.ns < last) {
            let next = m.header.ns + 1;
            lac_ack(lns, now, next);
            sent.extend(to_lac(lns));
        }
        let got = sent
            .iter()
            .map(|m| (m.header.ns, m.message_type()))
            .collect();
        (sent, got)
    }

    /// The LAC's ZLB acknowledging up to `nr` (its next expected Ns).
    fn lac_ack(lns: &mut Lns, now: Instant, nr: u16) {
        let mut b = Vec::new();
        Message::Control(ControlMessage::zlb(TUNNEL, NR, nr)).emit(&mut b);
        lns.handle_datagram(now, lac(), local(), &b).unwrap();
    }

    fn state(lns: &Lns) -> Option<SessionState> {
        lns.session_info(SessionRef {
            tunnel: TUNNEL,
            session: SESSION,
        })
        .map(|i| i.state)
    }

    /// `tunnel::snapshot` docs (seed 602), RFC 2661 5.8 and 7.4.2: the LAC's next
    /// expected Ns (11) is before the answered call's ICRP (13): the ICRP goes again at 13, the
    /// Ns between (11, 12) filled by HELLOs, and the call waits for the ICCN; the ICCN
    /// connects it.
    #[test]
    fn icrp_the_lac_never_took_goes_again_at_its_ns_and_the_iccn_connects() {
        let now = Instant::now();
        let (mut lns, probe) = taken_over(now);
        assert_eq!(
            probe.header.ns,
            NS - 1,
            "the probe is a duplicate for the LAC"
        );
        lac_ack(&mut lns, now, 11);
        let (sent, got) = sent_through(&mut lns, now, ICRP_NS);
        assert_eq!(
            got,
            [
                (11, Some(MessageType::HELLO)),
                (12, Some(MessageType::HELLO)),
                (13, Some(MessageType::ICRP)),
            ]
        );
        let icrp = &sent[2];
        assert_eq!(icrp.header.session_id, PEER_SESSION);
        assert_eq!(icrp.assigned_session_id(), Some(SESSION));
        assert_eq!(state(&lns), Some(SessionState::WaitConnect));
        // The LAC's ICCN (RFC 2661 7.4.1: sent on the ICRP) connects the call.
        let mut iccn = ControlMessage::iccn(TUNNEL, SESSION, 64_000, 1);
        iccn.header.ns = NR;
        iccn.header.nr = 14;
        let mut b = Vec::new();
        Message::Control(iccn).emit(&mut b);
        lns.handle_datagram(now, lac(), local(), &b).unwrap();
        assert_eq!(state(&lns), Some(SessionState::Established));
        let up = std::iter::from_fn(|| lns.poll_event())
            .any(|e| matches!(e, Event::SessionUp { session, .. } if session.session == SESSION));
        assert!(up);
    }

    /// `Channel::pin` and `Channel::resume_replica` docs (the flaw left by seed
    /// 232769): the LAC's next expected Ns (11) is before the answered call's ICRP (13), so
    /// the ICRP is queued again at 13 behind HELLOs at 11 and 12. The LAC held the failed
    /// LNS's 12 and 13 out of order; our HELLO at 11 fills the gap and its Nr jumps to 14. The
    /// queued HELLO and ICRP are the failed LNS's messages the LAC took: neither goes out at
    /// the new Ns (a second ICRP for a call the LAC holds, RFC 2661 7.4.1), and the call is
    /// established (the LAC took its ICRP), not cleared at the set-up timeout.
    #[test]
    fn a_queued_icrp_the_lac_took_meanwhile_is_not_sent_at_the_new_ns() {
        let now = Instant::now();
        let (mut lns, _) = taken_over(now);
        lac_ack(&mut lns, now, 11);
        let first = to_lac(&mut lns);
        let got: Vec<(u16, Option<MessageType>)> = first
            .iter()
            .map(|m| (m.header.ns, m.message_type()))
            .collect();
        assert_eq!(got, [(11, Some(MessageType::HELLO))], "slow start: one");
        assert_eq!(state(&lns), Some(SessionState::WaitConnect));
        lac_ack(&mut lns, now, ICRP_NS + 1);
        assert_eq!(state(&lns), Some(SessionState::Established));
        let mut t = now;
        let end = now + lns.core.setup_wait() + Duration::from_secs(1);
        let mut sent = Vec::new();
        while t < end {
            sent.extend(to_lac(&mut lns));
            t = lns.poll_timeout().unwrap_or(end).min(end);
            lns.handle_timeout(t);
            // The LAC acknowledges whatever it gets, in order from 14.
            if let Some(last) = sent.last() {
                lac_ack(&mut lns, t, last.header.ns.wrapping_add(1));
            }
        }
        sent.extend(to_lac(&mut lns));
        assert!(
            sent.iter()
                .all(|m| m.message_type() != Some(MessageType::ICRP)
                    && m.message_type() != Some(MessageType::CDN)),
            "{sent:?}"
        );
        assert!(
            sent.iter().all(|m| !seq_lt(m.header.ns, ICRP_NS + 1)),
            "nothing at an Ns the LAC took: {sent:?}"
        );
        assert_eq!(state(&lns), Some(SessionState::Established));
    }

    /// `Channel::pin` docs (crash-during-setup seed 260445): a call answered by the
    /// member we took over from, whose ICRP it numbered (Ns 15) and never sent, is adopted
    /// after our channel learnt the LAC's next expected Ns (14). Its ICRP goes at its own Ns,
    /// 14 filled by a HELLO (RFC 2661 5.8: the LAC delivers in order), and the call waits for
    /// the ICCN (7.4.2); before, it waited for a resynchronisation that had already happened,
    /// and the LAC cleared the call at its set-up timer.
    #[test]
    fn an_icrp_adopted_after_the_resync_goes_at_its_ns() {
        let now = Instant::now();
        let (mut lns, _) = taken_over(now);
        lac_ack(&mut lns, now, ICRP_NS + 1);
        let _ = to_lac(&mut lns);
        assert_eq!(state(&lns), Some(SessionState::Established), "13 was taken");
        const LATE: u16 = 0x0505;
        let late = SessionRecord {
            tunnel: TUNNEL,
            session: LATE,
            peer_session: 0x0606,
            serial: 2,
            sequencing: false,
            load_balance_capable: false,
            data_ns: 0,
            data_nr: 0,
            answered: true,
            icrp_ns: Some(ICRP_NS + 2),
        };
        assert!(lns.core.adopt_session(now, &late, false).is_ok());
        let (sent, got) = sent_through(&mut lns, now, ICRP_NS + 2);
        assert_eq!(
            got,
            [
                (ICRP_NS + 1, Some(MessageType::HELLO)),
                (ICRP_NS + 2, Some(MessageType::ICRP)),
            ]
        );
        assert_eq!(sent[1].assigned_session_id(), Some(LATE));
        let late_state = lns
            .session_info(SessionRef {
                tunnel: TUNNEL,
                session: LATE,
            })
            .map(|i| i.state);
        assert_eq!(late_state, Some(SessionState::WaitConnect));
    }

    /// Sends what is due to node 3, our backup, which acknowledges every batch: the seq of
    /// each batch and its session records of the tunnel.
    fn backup_takes(lns: &mut Lns, now: Instant) -> Vec<(u64, Vec<u16>)> {
        let mut got = Vec::new();
        lns.flush_replication(now);
        while let Some((seq, items)) = lns
            .repl
            .channels
            .get(&NodeId(3))
            .and_then(|c| c.in_flight())
        {
            let sessions = items.iter().filter_map(|e| match e {
                crate::replica::Entry::Item(
                    Record::Session(s) | Record::SessionSequence { session: s, .. },
                ) if s.tunnel == TUNNEL => Some(s.session),
                _ => None,
            });
            got.push((seq, sessions.collect()));
            lns.backup_acks(now, NodeId(3), seq).unwrap();
            lns.flush_replication(now);
        }
        got
    }

    /// `replicate` docs, output commit (crash during set-up seed 11290): a call the member we
    /// took over answered after its last copy to us comes as a late record, and its ICRP is
    /// pinned at the Ns that member gave it. The LAC holds the call up once it has the ICRP
    /// (RFC 2661 7.4.1: it answers with the ICCN), so the ICRP is held until our own backup
    /// acknowledged the call's record, as the ICRP of a call we answer is; a crash of ours
    /// before that would lose a call the LAC has up. The HELLO filling the Ns before it goes
    /// at once (RFC 2661 5.8: the LAC delivers in order; a HELLO changes nothing there, 6.5).
    #[test]
    fn a_late_records_icrp_waits_until_our_backup_holds_the_call() {
        const LATE: u16 = 0x0505;
        let now = Instant::now();
        let (mut lns, _) = taken_over(now);
        lac_ack(&mut lns, now, ICRP_NS + 1);
        let _ = to_lac(&mut lns);
        let _ = ownership(&mut lns);
        // Node 3 is our backup, every batch to it acknowledged.
        lns.repl.backup = Some(NodeId(3));
        let _ = backup_takes(&mut lns, now);
        let late = SessionRecord {
            session: LATE,
            peer_session: 0x0606,
            serial: 2,
            icrp_ns: Some(ICRP_NS + 2),
            ..answered(LATE, 0x0606)
        };
        lns.apply_record(now, NodeId(2), Record::Session(late));
        assert_eq!(ownership(&mut lns).len(), 1, "adopted");
        lns.flush_replication(now);
        let sent = to_lac(&mut lns);
        let got: Vec<_> = sent
            .iter()
            .map(|m| (m.header.ns, m.message_type()))
            .collect();
        assert_eq!(got, [(ICRP_NS + 1, Some(MessageType::HELLO))], "ICRP held");
        // The LAC takes the HELLO; a while later, our backup has not acknowledged yet (the
        // batch sent again).
        lac_ack(&mut lns, now, ICRP_NS + 2);
        let later = now + Duration::from_millis(500);
        lns.flush_replication(later);
        let after: Vec<_> = to_lac(&mut lns)
            .iter()
            .map(|m| (m.header.ns, m.message_type()))
            .collect();
        assert_eq!(after, [], "nothing before our backup holds the call");
        let (seq, sessions) = {
            let ch = lns.repl.channels.get(&NodeId(3)).unwrap();
            let (seq, items) = ch.in_flight().expect("the call's record in flight");
            let sessions: Vec<u16> = items
                .iter()
                .filter_map(|e| match e {
                    crate::replica::Entry::Item(
                        Record::Session(s) | Record::SessionSequence { session: s, .. },
                    ) => Some(s.session),
                    _ => None,
                })
                .collect();
            (seq, sessions)
        };
        assert_eq!(sessions, [LATE]);
        lns.backup_acks(later, NodeId(3), seq).unwrap();
        let sent = to_lac(&mut lns);
        let got: Vec<_> = sent
            .iter()
            .map(|m| (m.header.ns, m.message_type()))
            .collect();
        assert_eq!(got, [(ICRP_NS + 2, Some(MessageType::ICRP))], "released");
        assert_eq!(sent[0].assigned_session_id(), Some(LATE));
    }

    /// The same for the calls adopted at the takeover itself (`replicate` docs, output commit):
    /// the answered call's ICRP, sent again at its Ns once the LAC told its next expected Ns
    /// (`tunnel::snapshot` docs), waits until our backup acknowledged the takeover's records;
    /// the HELLOs filling the Ns before it go at once.
    #[test]
    fn a_taken_over_calls_icrp_waits_until_our_backup_holds_the_call() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        lns.repl.backup = Some(NodeId(3));
        lns.take_over(now, NodeId(2));
        let probe = to_lac(&mut lns);
        assert_eq!(probe.len(), 1, "the probe only");
        lac_ack(&mut lns, now, 11);
        let mut got = Vec::new();
        for nr in 12..=ICRP_NS {
            got.extend(
                to_lac(&mut lns)
                    .iter()
                    .map(|m| (m.header.ns, m.message_type())),
            );
            lac_ack(&mut lns, now, nr);
        }
        assert_eq!(
            got,
            [
                (11, Some(MessageType::HELLO)),
                (12, Some(MessageType::HELLO))
            ],
            "the ICRP held"
        );
        let batches = backup_takes(&mut lns, now);
        assert!(
            batches.iter().any(|(_, s)| s.contains(&SESSION)),
            "{batches:?}"
        );
        let sent = to_lac(&mut lns);
        let got: Vec<_> = sent
            .iter()
            .map(|m| (m.header.ns, m.message_type()))
            .collect();
        assert_eq!(got, [(ICRP_NS, Some(MessageType::ICRP))], "released");
    }

    /// RFC 2661 7.4.2 wait-connect: an ICRP sent again and never answered by an ICCN clears the
    /// call at the set-up timeout (CDN Result 10, RFC 2661 4.4.2).
    #[test]
    fn icrp_sent_again_without_iccn_clears_the_call_at_the_setup_timeout() {
        let now = Instant::now();
        let (mut lns, _) = taken_over(now);
        lac_ack(&mut lns, now, ICRP_NS);
        let sent = to_lac(&mut lns);
        assert_eq!(sent.len(), 1, "no gap to fill: {sent:?}");
        assert_eq!(sent[0].header.ns, ICRP_NS);
        assert_eq!(sent[0].message_type(), Some(MessageType::ICRP));
        lac_ack(&mut lns, now, ICRP_NS + 1);
        let _ = to_lac(&mut lns);
        let mut t = now;
        let end = now + lns.core.setup_wait() + Duration::from_millis(1);
        let mut cdn = None;
        while t < end && cdn.is_none() {
            t = lns.poll_timeout().unwrap_or(end).min(end);
            lns.handle_timeout(t);
            cdn = to_lac(&mut lns)
                .into_iter()
                .find(|m| m.message_type() == Some(MessageType::CDN));
        }
        let cdn = cdn.expect("a CDN at the set-up timeout");
        assert!(t >= now + lns.core.setup_wait(), "not before the timeout");
        assert_eq!(
            cdn.result_code().map(|r| r.result),
            Some(ResultCodeValue::CDN_TIMEOUT)
        );
        assert_eq!(state(&lns), None);
    }

    /// `tunnel::snapshot` docs: the LAC's next expected Ns is past the ICRP's: it took the ICRP
    /// (RFC 2661 5.8, in order) and holds the call established after its ICCN (7.4.1), so the
    /// ICRP is not sent again (a second ICRP would clear an established call at the LAC) and the
    /// call stays established, data flowing from the takeover on.
    #[test]
    fn icrp_the_lac_took_is_not_sent_again() {
        let now = Instant::now();
        let (mut lns, _) = taken_over(now);
        assert_eq!(state(&lns), Some(SessionState::Established));
        lac_ack(&mut lns, now, ICRP_NS + 2);
        assert!(to_lac(&mut lns).is_empty());
        assert_eq!(state(&lns), Some(SessionState::Established));
        lns.send_ppp(
            SessionRef {
                tunnel: TUNNEL,
                session: SESSION,
            },
            b"\xc0\x21x",
        )
        .unwrap();
        // Nothing later clears it: no set-up timer.
        let t = now + lns.core.setup_wait() * 2;
        lns.handle_timeout(t);
        assert_eq!(state(&lns), Some(SessionState::Established));
    }

    /// [`holder`] in RFC 4951 mode: we and the LAC both advertised the C bit, so the takeover
    /// recovers the tunnel with a recovery tunnel.
    fn holder_4951(now: Instant, generation: u32) -> Lns {
        use crate::l2tp::FailoverConfig;
        use crate::l2tp::wire::avp::FailoverCapability;
        let m = crate::l2tp::LnsMembership::new(
            NodeId(1),
            crate::health::Role::LNS,
            crate::health::ClusterKey::new(b"pool cluster key"),
            vec![
                (NodeId(2), "10.0.2.2:1701".parse().unwrap()),
                (NodeId(3), "10.0.2.3:1701".parse().unwrap()),
            ],
        );
        let mut cfg = crate::l2tp::LnsConfig {
            contact: false,
            membership: Some(m),
            replication: Some(super::super::ReplicationConfig::default()),
            ..crate::l2tp::LnsConfig::default()
        };
        cfg.common.failover = Some(FailoverConfig::default());
        let mut lns = Lns::new(cfg, now).expect("a valid pool member");
        let mut copy = holder(now, generation).held_copy(NodeId(2)).0;
        let (mut t, sessions) = copy.remove(0);
        t.peer_failover = Some(FailoverCapability {
            control: true,
            data: false,
            recovery_time_ms: 10_000,
        });
        lns.note_incarnation(NodeId(2), 1);
        lns.apply_record(now, NodeId(2), Record::Tunnel(Box::new(t)));
        for s in sessions {
            lns.apply_record(now, NodeId(2), Record::Session(s));
        }
        lns.note_generation(NodeId(2), generation);
        lns
    }

    /// The LAC's datagram `m`, with Ns `ns` and Nr `nr`, to our address.
    fn from_lac(
        lns: &mut Lns,
        now: Instant,
        mut m: ControlMessage<'static>,
        (ns, nr): (u16, u16),
    ) -> Result<(), crate::l2tp::InputError> {
        m.header.ns = ns;
        m.header.nr = nr;
        lns.handle_datagram(now, lac(), local(), &Message::Control(m).to_vec())
    }

    /// An SCCRP of the LAC's recovery tunnel `lac_tunnel` to our tunnel `to_tunnel`, with the
    /// Suggested Control Sequence (RFC 4951 3.2.1).
    fn recovery_sccrp(to_tunnel: u16, lac_tunnel: u16) -> ControlMessage<'static> {
        use crate::l2tp::wire::avp::SuggestedControlSequence;
        use crate::l2tp::wire::{Avp, AvpValue};
        ControlMessage::sccrp(to_tunnel, lac_tunnel, b"lac".as_slice(), 3).with(Avp::optional(
            AvpValue::SuggestedControlSequence(SuggestedControlSequence { ns: NS, nr: NR }),
        ))
    }

    /// Our recovery of the tunnel taken over (RFC 4951 mode) runs to its end: the LAC's SCCRP
    /// on our recovery tunnel, our SCCCN, the LAC's acknowledgement. What we sent the LAC on
    /// the tunnel once it resumed.
    fn recovered(lns: &mut Lns, now: Instant) -> Vec<ControlMessage<'static>> {
        let sccrq = to_lac(lns)
            .into_iter()
            .find(|m| m.message_type() == Some(MessageType::SCCRQ))
            .expect("the recovery SCCRQ");
        assert!(sccrq.tunnel_recovery().is_some());
        let via = sccrq.assigned_tunnel_id().unwrap();
        from_lac(lns, now, recovery_sccrp(via, 500), (0, 1)).unwrap();
        let scccn = to_lac(lns);
        assert_eq!(scccn[0].message_type(), Some(MessageType::SCCCN));
        from_lac(lns, now, ControlMessage::zlb(via, 1, 2), (1, 2)).unwrap();
        let t = &lns.core.tunnels[&TUNNEL];
        assert_eq!(t.state, TunnelState::Established);
        assert!(t.recovery.is_none(), "recovered");
        to_lac(lns)
    }

    /// Module docs, stray recoveries (failover seed 54628): node 3 took node 2 over too and
    /// opened a recovery tunnel; its claim lost to ours and it yielded, but its recovery SCCRQ
    /// reached the LAC after our recovery completed, and the LAC's SCCRP to it comes to the
    /// address, ours now. The LAC holds the old tunnel for that recovery, discarding what we send
    /// on it (RFC 4951 3.2.1: "Any control packet received on the recovered tunnel before
    /// control channel reset (Section 3.2.2) MUST be silently discarded"), until its recovery
    /// tunnel fails: we stop it, StopCCN Result 2 with Error 1 (RFC 2661 4.4.2: "No control
    /// connection exists yet for this LAC-LNS pair") as the next message on it (Ns its SCCRP's
    /// Nr, acknowledging the SCCRP). Failed with the SCCRP ignored (nothing sent).
    #[test]
    fn a_yielded_takers_recovery_sccrp_is_stopped_by_the_owner() {
        let now = Instant::now();
        let mut lns = holder_4951(now, 3);
        lns.take_over(now, NodeId(2));
        let _ = recovered(&mut lns, now);
        claim_of_node_3(&mut lns, now, 1);
        let r = from_lac(&mut lns, now, recovery_sccrp(0x7777, 600), (0, 1));
        assert!(matches!(
            r,
            Err(crate::l2tp::InputError::UnknownTunnel(0x7777))
        ));
        let out = to_lac(&mut lns);
        assert_eq!(out.len(), 1, "{out:?}");
        let stop = &out[0];
        assert_eq!(stop.message_type(), Some(MessageType::STOPCCN));
        assert_eq!(stop.header.tunnel_id, 600, "on the LAC's recovery tunnel");
        assert_eq!((stop.header.ns, stop.header.nr), (1, 1));
        let rc = stop.result_code().unwrap();
        assert_eq!(rc.result, ResultCodeValue::STOPCCN_GENERAL_ERROR);
        assert_eq!(
            rc.error_code(),
            Some(super::super::super::wire::ErrorCode::NO_CONTROL_CONNECTION)
        );
        assert_eq!(lns.stats().stray_recoveries_stopped, 1);
        // Ours goes on: the tunnel is untouched.
        assert!(lns.core.tunnels[&TUNNEL].recovery.is_none());
        // An ordinary SCCRP (no Suggested Control Sequence) is no recovery's: unanswered.
        let plain = ControlMessage::sccrp(0x7778, 601, b"lac".as_slice(), 3);
        let _ = from_lac(&mut lns, now, plain, (0, 1));
        assert!(to_lac(&mut lns).is_empty());
    }

    /// Module docs, two takers (RFC 4951 failover seed 286961): node 3 took node 2 over too and
    /// both of us recovered the tunnel at the LAC (its recovery SCCRQ reached the LAC after
    /// ours completed; RFC 4951 3.2.1, the LAC takes it as the LNS starting over and suggests
    /// the same numbers). Node 3, holding the address until its claim lost to ours, took the
    /// LAC's next message (its FSR, Ns [`NR`]) and acknowledged it; the LAC never sends it
    /// again (RFC 2661 5.8). Its next one (a CDN, Ns `NR + 1`) comes to us, ahead of our Nr,
    /// and is retransmitted while unacknowledged: its retransmission is the LAC's oldest
    /// unacknowledged message, so our Nr moves to it and the CDN is taken (the session
    /// cleared). Its first copy alone moves nothing (a message before it may still be on the
    /// way). Failed with our Nr held at `NR` for good: the CDN acknowledged never, the
    /// session kept ("the backup never saw the CDN").
    #[test]
    fn after_a_losing_claim_our_nr_learns_what_the_loser_acknowledged() {
        use super::super::super::wire::ResultCode;
        let now = Instant::now();
        let mut lns = holder_4951(now, 3);
        lns.take_over(now, NodeId(2));
        let _ = recovered(&mut lns, now);
        assert_eq!(lns.core.tunnels[&TUNNEL].channel.seq().1, NR);
        claim_of_node_3(&mut lns, now, 1);
        let _ = ownership(&mut lns);
        assert!(lns.core.tunnels.contains_key(&TUNNEL), "our claim won");
        let before = state(&lns);
        assert!(before.is_some());
        let cdn = || {
            ControlMessage::cdn(
                TUNNEL,
                SESSION,
                PEER_SESSION,
                ResultCode::new(ResultCodeValue::CDN_ADMINISTRATIVE),
            )
        };
        from_lac(&mut lns, now, cdn(), (NR + 1, NS + 1)).unwrap();
        assert_eq!(state(&lns), before, "first copy: kept, not taken");
        assert_eq!(lns.core.tunnels[&TUNNEL].channel.seq().1, NR);
        // RFC 2661 5.8: retransmitted after its timeout (1 s at first).
        let later = now + Duration::from_secs(1);
        lns.handle_timeout(later);
        from_lac(&mut lns, later, cdn(), (NR + 1, NS + 1)).unwrap();
        assert_eq!(state(&lns), None, "the CDN taken: the session cleared");
        assert_eq!(lns.core.tunnels[&TUNNEL].channel.seq().1, NR + 2);
        let acks: Vec<u16> = to_lac(&mut lns).iter().map(|m| m.header.nr).collect();
        assert!(acks.contains(&(NR + 2)), "acknowledged: {acks:?}");
    }

    /// The same stray SCCRP while our ownership or our recovery is not settled is left
    /// unanswered (seed 39787: the winner's SCCRP reaching the loser before the address moved
    /// must not be stopped): no claim of ours has won yet (another may still beat it, and the
    /// SCCRP be the winner's), or our own recovery of the tunnel is still under way.
    #[test]
    fn a_stray_recovery_sccrp_is_left_alone_until_ownership_and_recovery_are_settled() {
        // Recovered, no other claim heard.
        let now = Instant::now();
        let mut lns = holder_4951(now, 3);
        lns.take_over(now, NodeId(2));
        let _ = recovered(&mut lns, now);
        let _ = from_lac(&mut lns, now, recovery_sccrp(0x7777, 600), (0, 1));
        assert!(to_lac(&mut lns).is_empty(), "no claim won yet");
        // Claim won, our recovery still under way.
        let mut lns = holder_4951(now, 3);
        lns.take_over(now, NodeId(2));
        let _ = to_lac(&mut lns);
        claim_of_node_3(&mut lns, now, 1);
        let _ = from_lac(&mut lns, now, recovery_sccrp(0x7777, 600), (0, 1));
        let out = to_lac(&mut lns);
        assert!(
            out.iter()
                .all(|m| m.message_type() != Some(MessageType::STOPCCN)),
            "our recovery not complete: {out:?}"
        );
        assert_eq!(lns.stats().stray_recoveries_stopped, 0);
    }

    /// Module docs, two takers: node 3 took node 2 over too and both of us recovered the tunnel
    /// at the LAC (RFC 4951 3.2.1: the LAC takes the later recovery as the LNS starting over,
    /// suggesting the same numbers to both). Node 3, holding the address until its claim lost
    /// to ours, took the LAC's next messages and acknowledged them: the FSR answering our
    /// recovery's FSQ (Ns [`NR`]) and then the LAC's CDN of our call (Ns `NR + 1`; the same
    /// holds for an FSR answering 0 for it). RFC 2661 5.8: an acknowledged message is never sent
    /// again, so no copy of the CDN comes to us; RFC 2661 6.12: the CDN tears the call down,
    /// so it must be gone at the LNS that owns the tunnel too. When another taker's
    /// claim loses to ours we are unsure of every session of the tunnels we took from that
    /// member (another endpoint behind our address spoke for them): we query them, FSQ (RFC
    /// 4951 3.3: the endpoint sends FSQ for the sessions it is unsure of; 4.1), and the LAC,
    /// the authority on its calls, answers FSR with Session ID 0 for the call it no longer
    /// has, which we clear silently (3.3: "silently (without sending a CDN) clear the session
    /// if the Session ID in the AVP was zero"). Failed with no FSQ sent after the claim: the
    /// LAC had nothing more to send, and the call stayed up at the owner for good.
    #[test]
    fn after_a_losing_claim_we_query_the_lac_for_the_sessions_the_loser_may_have_cleared() {
        use crate::l2tp::wire::avp::FailoverSessionState;
        let now = Instant::now();
        let mut lns = holder_4951(now, 3);
        lns.take_over(now, NodeId(2));
        let mut before = recovered(&mut lns, now);
        assert!(state(&lns).is_some(), "the answered call held");
        let fsq_at = |m: &ControlMessage<'static>| {
            (m.message_type() == Some(MessageType::FSQ)).then_some(m.header.ns)
        };
        // The LAC acknowledges what came first (RFC 2661 5.8; slow start, Appendix A): our
        // recovery's FSQ follows, and the LAC takes it.
        // (The held call's ICRP goes again at its Ns first, HELLOs filling the Ns before it:
        // `tunnel::snapshot` docs.)
        for _ in 0..8 {
            if before.iter().any(|m| fsq_at(m).is_some()) {
                break;
            }
            let last = before
                .iter()
                .filter(|m| !m.is_zlb())
                .map(|m| m.header.ns)
                .max();
            let next = last.expect("sent after the recovery").wrapping_add(1);
            from_lac(&mut lns, now, ControlMessage::zlb(TUNNEL, 0, 0), (NR, next)).unwrap();
            before.extend(to_lac(&mut lns));
        }
        let recovery_fsq: Vec<u16> = before.iter().filter_map(fsq_at).collect();
        assert_eq!(recovery_fsq.len(), 1, "the recovery's FSQ: {before:?}");
        // Node 3 took the LAC's NR (FSR) and NR + 1 (CDN): nothing of them reaches us.
        claim_of_node_3(&mut lns, now, 1);
        let _ = ownership(&mut lns);
        assert!(lns.core.tunnels.contains_key(&TUNNEL), "our claim won");
        // What we send from now on (slow start, RFC 2661 Appendix A: after what is in flight),
        // the LAC acknowledging each retransmission it already took with a ZLB (5.8; its next
        // Ns NR + 2).
        let mut sent = to_lac(&mut lns);
        let mut t = now;
        let mut acked = before
            .iter()
            .filter(|m| !m.is_zlb())
            .map(|m| m.header.ns.wrapping_add(1))
            .max()
            .unwrap_or(NS);
        for _ in 0..4 {
            if sent
                .iter()
                .any(|m| fsq_at(m).is_some_and(|ns| ns != recovery_fsq[0]))
            {
                break;
            }
            t += Duration::from_secs(1);
            lns.handle_timeout(t);
            from_lac(
                &mut lns,
                t,
                ControlMessage::zlb(TUNNEL, 0, 0),
                (NR + 2, acked),
            )
            .unwrap();
            let out = to_lac(&mut lns);
            if let Some(last) = out
                .iter()
                .filter(|m| !m.is_zlb())
                .map(|m| m.header.ns)
                .max()
            {
                acked = acked.max(last.wrapping_add(1));
            }
            sent.extend(out);
        }
        let fsq: Vec<&ControlMessage<'static>> = sent
            .iter()
            .filter(|m| fsq_at(m).is_some_and(|ns| ns != recovery_fsq[0]))
            .collect();
        assert_eq!(
            fsq.len(),
            1,
            "one FSQ about the tunnel's sessions: {sent:?}"
        );
        let fsq = fsq[0];
        assert_eq!(fsq.header.tunnel_id, PEER_TUNNEL);
        let asked: Vec<FailoverSessionState> = fsq.failover_session_states().collect();
        assert_eq!(
            asked,
            [FailoverSessionState {
                session_id: SESSION,
                remote_session_id: PEER_SESSION,
            }],
            "RFC 4951 5.4: our Session ID and the LAC's"
        );
        // The LAC's FSR (RFC 4951 3.3): it has no such call, Session ID 0; its Ns the one
        // after the CDN node 3 took, acknowledging our FSQ.
        let fsr = || {
            ControlMessage::fsr(
                TUNNEL,
                &[FailoverSessionState {
                    session_id: 0,
                    remote_session_id: SESSION,
                }],
            )
        };
        let ours = (NR + 2, fsq.header.ns.wrapping_add(1));
        // RFC 2661 5.8: unacknowledged (ahead of our Nr, held), retransmitted after its timeout;
        // the retransmission of the LAC's oldest unacknowledged message moves our Nr to it
        // (`Channel::resync_nr_again`).
        from_lac(&mut lns, t, fsr(), ours).unwrap();
        let later = t + Duration::from_secs(1);
        lns.handle_timeout(later);
        from_lac(&mut lns, later, fsr(), ours).unwrap();
        assert_eq!(state(&lns), None, "the call the LAC cleared is gone here");
        assert_eq!(lns.session_count(), 0);
        assert_eq!(lns.stats().sessions_cleared_by_fsr, 1);
        let gone = SessionRef {
            tunnel: TUNNEL,
            session: SESSION,
        };
        assert!(lns.send_ppp(gone, b"\xc0\x21x").is_err(), "no data for it");
        let after = to_lac(&mut lns);
        assert!(
            after
                .iter()
                .all(|m| m.message_type() != Some(MessageType::CDN)),
            "cleared silently: {after:?}"
        );
        assert!(
            after.iter().any(|m| m.header.nr == NR + 3),
            "the FSR acknowledged: {after:?}"
        );
    }

    /// Module docs, restart (issue 15: "a pool LNS holding N sessions crashes; every session
    /// continues at the backup"): a member seen restarted (health's `Restarted`: a higher
    /// incarnation, its state gone) before any Down is a crash. What we hold of its former
    /// incarnation is taken over as at a Down: the tunnel and its call adopted, one
    /// [`Event::TakenOver`] for its address with the handoff, the probe sent to the LAC (the
    /// control channel resumed). Consumed: nothing is held for the member any more, and a Down
    /// of the new incarnation takes nothing more over (issue 15 item 3: its restart
    /// resurrects nothing). Failed with the records dropped at the restart (before session 47:
    /// no takeover, the LAC's calls lost at its next HELLO).
    #[test]
    fn a_restart_is_taken_over_as_a_crash_once() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        lns.member_restarted(now, NodeId(2), 2);
        let events = ownership(&mut lns);
        assert!(
            matches!(
                &events[..],
                [Event::TakenOver { failed, addr, tunnels, sessions, .. }]
                    if *failed == NodeId(2) && *addr == local().ip() && tunnels[..] == [TUNNEL]
                        && sessions.len() == 1 && sessions[0].peer_session == PEER_SESSION
            ),
            "{events:?}"
        );
        assert_eq!(lns.held_for(NodeId(2)), (0, 0), "consumed");
        assert_eq!(state(&lns), Some(SessionState::Established));
        assert!(
            !to_lac(&mut lns).is_empty(),
            "the tunnel resumed at the LAC"
        );
        // The new incarnation (holding nothing) fails in turn: nothing more is taken over.
        lns.take_over(now, NodeId(2));
        assert!(ownership(&mut lns).is_empty());
        assert_eq!(lns.stats().tunnels_taken_over, 1);
        assert_eq!(lns.session_count(), 1);
    }

    /// Module docs, restart: records of the new incarnation, applied before its heartbeat
    /// told health of the restart, are its own: kept, nothing taken over.
    #[test]
    fn a_restart_keeps_the_new_incarnations_records() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        lns.note_incarnation(NodeId(2), 2);
        let mut t = lns_tunnel_record();
        t.tunnel = 0x5555;
        lns.apply_record(now, NodeId(2), Record::Tunnel(Box::new(t)));
        lns.member_restarted(now, NodeId(2), 2);
        assert!(ownership(&mut lns).is_empty());
        assert_eq!(lns.held_for(NodeId(2)), (1, 0));
    }

    /// A tunnel record like [`holder`]'s.
    fn lns_tunnel_record() -> TunnelRecord {
        holder(Instant::now(), 1).held_copy(NodeId(2)).0.remove(0).0
    }

    /// Module docs, restart: after the restart's takeover, the new incarnation's records are
    /// its own, not late records of the tunnels we took from the former one (`late_source`):
    /// its new tunnel may have drawn the id of one we took (ids are per member, RFC 2661 3.1),
    /// and a call on it is no call of ours. Failed with the record adopted into our tunnel
    /// (two sessions here, one of them another tunnel's).
    #[test]
    fn the_restarted_members_records_are_not_late_records() {
        let now = Instant::now();
        let mut lns = holder(now, 1);
        lns.member_restarted(now, NodeId(2), 2);
        let _ = ownership(&mut lns);
        assert_eq!(lns.session_count(), 1);
        lns.note_incarnation(NodeId(2), 2);
        let base = holder(now, 1).held_copy(NodeId(2)).0[0].1[0];
        let other = SessionRecord {
            session: 0x0505,
            peer_session: 0x0606,
            ..base
        };
        lns.apply_record(now, NodeId(2), Record::Session(other));
        assert_eq!(lns.session_count(), 1, "not adopted");
        assert!(ownership(&mut lns).is_empty());
    }

    /// Node 1 of the pool of [`holder`], of incarnation `incarnation`.
    fn member_of(now: Instant, incarnation: u32) -> Lns {
        let mut m = crate::l2tp::LnsMembership::new(
            NodeId(1),
            crate::health::Role::LNS,
            crate::health::ClusterKey::new(b"pool cluster key"),
            vec![
                (NodeId(2), "10.0.2.2:1701".parse().unwrap()),
                (NodeId(3), "10.0.2.3:1701".parse().unwrap()),
            ],
        );
        m.incarnation = incarnation;
        let cfg = crate::l2tp::LnsConfig {
            contact: false,
            membership: Some(m),
            replication: Some(super::super::ReplicationConfig::default()),
            ..crate::l2tp::LnsConfig::default()
        };
        Lns::new(cfg, now).expect("a valid pool member")
    }

    /// Module docs, restart: a member restarted (incarnation 2) learns from the taker's
    /// [`Record::AddressTaken`] naming its former incarnation that the taker holds the
    /// address its former tunnels used: [`Event::AddressTaken`], so that its caller frees the
    /// address for the taker. One naming our own incarnation is none of ours (a false Down:
    /// the tunnels' own notices make us yield). Failed with the notice ignored (no event: the
    /// restarted process kept the address and the taker never got the LAC's packets).
    #[test]
    fn a_restarted_member_gives_up_the_address_taken_from_its_former_incarnation() {
        let now = Instant::now();
        let addr = local().ip();
        let mut lns = member_of(now, 2);
        let taken = |incarnation| Record::AddressTaken { incarnation, addr };
        lns.apply_record(now, NodeId(3), taken(2));
        assert_eq!(lns.poll_event(), None, "our own incarnation's");
        lns.apply_record(now, NodeId(3), taken(1));
        assert_eq!(
            lns.poll_event(),
            Some(Event::AddressTaken {
                addr,
                owner: NodeId(3)
            })
        );
        // Of a later incarnation than ours: none of ours either.
        let mut older = member_of(now, 1);
        older.apply_record(now, NodeId(3), taken(2));
        assert_eq!(older.poll_event(), None);
    }

    /// Module docs, restart: until the address moves to the taker, the LAC's messages on its
    /// tunnels reach the restarted member, which knows none of them. It sends nothing back:
    /// no StopCCN (RFC 2661 6.4: it would end the LAC's tunnel and every call on it) and no
    /// ZLB or CDN; the LAC's control messages stay unacknowledged and are retransmitted (RFC
    /// 2661 5.8) until they reach the taker, and data is simply dropped. Failed with any
    /// datagram sent.
    #[test]
    fn a_restarted_member_sends_nothing_for_tunnels_it_does_not_know() {
        use super::super::super::wire::{DataHeader, DataMessage};
        let now = Instant::now();
        let mut lns = member_of(now, 2);
        while lns.poll_transmit().is_some() {}
        let hello = Message::Control(ControlMessage::hello(TUNNEL)).to_vec();
        let r = lns.handle_datagram(now, lac(), local(), &hello);
        assert!(
            matches!(r, Err(crate::l2tp::InputError::UnknownTunnel(TUNNEL))),
            "{r:?}"
        );
        let data = DataMessage {
            header: DataHeader {
                tunnel_id: TUNNEL,
                session_id: SESSION,
                ..DataHeader::default()
            },
            payload: std::borrow::Cow::Borrowed(&b"\xc0\x21x"[..]),
        };
        let r = lns.handle_datagram(now, lac(), local(), &Message::Data(data).to_vec());
        assert!(
            matches!(r, Err(crate::l2tp::InputError::UnknownTunnel(TUNNEL))),
            "{r:?}"
        );
        assert!(to_lac(&mut lns).is_empty());
    }

    /// Node 2's replication datagram from its management address: the batch `seq` of
    /// `items`, sealed as node 2 of `incarnation` under packet number `pn`.
    fn batch_of_node_2(
        incarnation: u32,
        pn: u64,
        seq: u64,
        items: &[crate::replica::Entry<Record>],
    ) -> Vec<u8> {
        let key = crate::health::ClusterKey::new(b"pool cluster key");
        let mut mac = crate::replica::CmacKey::derive(&key, super::super::replicate::MAC_INFO);
        let h = crate::replica::Header {
            kind: crate::replica::KIND_REPLICATE,
            sender: NodeId(2),
            incarnation,
            pn,
        };
        let mut out = Vec::new();
        let body = |b: &mut Vec<u8>| crate::replica::encode_batch(seq, items, b);
        super::super::replicate::ENVELOPE.seal_into(&mut mac, &h, body, &mut out);
        out
    }

    /// Node 2's datagram `bytes`, to node 1.
    fn from_node_2(
        lns: &mut Lns,
        now: Instant,
        bytes: &[u8],
    ) -> Result<(), crate::l2tp::InputError> {
        let from: SocketAddr = "10.0.2.2:1701".parse().unwrap();
        let to: SocketAddr = "10.0.2.1:1701".parse().unwrap();
        lns.handle_datagram(now, from, to, bytes)
    }

    /// Module docs, restart (session 48, doubt 1): a restarted member's batches may reach its
    /// backup before the heartbeat that tells health of the restart. The envelope names the
    /// sender's incarnation (`replica::envelope`), so the backup sees the restart in the batch
    /// itself and takes over what it holds of the former incarnation then, as health's
    /// `Restarted` would: every call of the former incarnation is taken over, and the new
    /// incarnation's records are held as its own (its batch numbers start again at 1). Health's
    /// `Restarted` later changes nothing (no second takeover, the channel's numbering not reset
    /// again: a retransmitted batch of the new incarnation is not applied twice), a batch of the
    /// former incarnation delayed past the restart is refused, and a Down of the new
    /// incarnation takes over its own tunnel only. Failed before the fix: the new incarnation's
    /// batch 1 was taken for a duplicate of the former's (acknowledged, not applied), its
    /// batch 2 made the backup drop the former incarnation's records (`Held`'s incarnation
    /// noted), and health's `Restarted` then took nothing
    /// over (the LAC's calls lost). Failed with the restart not acted on at the batch (no
    /// takeover after the new incarnation's batches).
    #[test]
    fn a_restarted_members_batch_before_its_heartbeat_takes_the_former_incarnation_over() {
        use crate::replica::Entry;
        let now = Instant::now();
        let (tunnel, sessions) = holder(now, 1).held_copy(NodeId(2)).0.remove(0);
        let mut lns = super::super::pool_member(
            now,
            vec![
                (NodeId(2), "10.0.2.2:1701".parse().unwrap()),
                (NodeId(3), "10.0.2.3:1701".parse().unwrap()),
            ],
        );
        // Incarnation 1 replicated its tunnel and its call in its batch 1.
        let former = [
            Entry::Item(Record::Tunnel(Box::new(tunnel.clone()))),
            Entry::Item(Record::Session(sessions[0])),
        ];
        from_node_2(&mut lns, now, &batch_of_node_2(1, 1, 1, &former)).unwrap();
        assert_eq!(lns.held_for(NodeId(2)), (1, 1));
        // Incarnation 2 (restarted, empty) bulk-syncs its new tunnel (batch 1) and a call on
        // it (batch 2); no heartbeat of it has come.
        let new_tunnel = TunnelRecord {
            tunnel: 0x5555,
            peer_tunnel: 0x6666,
            ..tunnel
        };
        let new_call = SessionRecord {
            tunnel: 0x5555,
            session: 0x0505,
            peer_session: 0x0606,
            ..sessions[0]
        };
        let sync = [
            Entry::SyncBegin { epoch: 1 },
            Entry::Item(Record::Tunnel(Box::new(new_tunnel.clone()))),
        ];
        let call = [
            Entry::Item(Record::Session(new_call)),
            Entry::SyncEnd { epoch: 1 },
        ];
        from_node_2(&mut lns, now, &batch_of_node_2(2, 1, 1, &sync)).unwrap();
        from_node_2(&mut lns, now, &batch_of_node_2(2, 2, 2, &call)).unwrap();
        let events = ownership(&mut lns);
        assert!(
            matches!(
                &events[..],
                [Event::TakenOver { failed, addr, tunnels, sessions, .. }]
                    if *failed == NodeId(2) && *addr == local().ip() && tunnels[..] == [TUNNEL]
                        && sessions.len() == 1 && sessions[0].peer_session == PEER_SESSION
            ),
            "the former incarnation's call taken over: {events:?}"
        );
        assert_eq!(state(&lns), Some(SessionState::Established));
        assert_eq!(lns.stats().tunnels_taken_over, 1);
        let (held, count) = lns.held_copy(NodeId(2));
        assert_eq!(count, 1, "the new incarnation's call held");
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].0.tunnel, held[0].1[..].len()), (0x5555, 1));
        // Health's `Restarted` comes later: nothing more.
        lns.member_restarted(now, NodeId(2), 2);
        assert!(ownership(&mut lns).is_empty());
        assert_eq!(lns.held_for(NodeId(2)), (1, 1), "kept, not taken");
        // The new incarnation ends its tunnel (batch 3); its batch 1, retransmitted under a new
        // packet number (its acknowledgement lost), is a duplicate: not applied again.
        let gone = [Entry::Item(Record::TunnelGone { tunnel: 0x5555 })];
        from_node_2(&mut lns, now, &batch_of_node_2(2, 3, 3, &gone)).unwrap();
        assert_eq!(lns.held_for(NodeId(2)), (0, 0));
        from_node_2(&mut lns, now, &batch_of_node_2(2, 4, 1, &sync)).unwrap();
        assert_eq!(lns.held_for(NodeId(2)), (0, 0), "a duplicate applied");
        // A batch of the former incarnation delayed past the restart: refused.
        let r = from_node_2(&mut lns, now, &batch_of_node_2(1, 2, 2, &former));
        assert_eq!(r, Err(crate::l2tp::InputError::NotAuthorized));
        assert_eq!(
            lns.held_for(NodeId(2)),
            (0, 0),
            "the former incarnation's back"
        );
        // The new incarnation fails: nothing of the former one is taken over again.
        lns.take_over(now, NodeId(2));
        assert!(ownership(&mut lns).is_empty());
        assert_eq!(lns.stats().tunnels_taken_over, 1);
        assert_eq!(lns.session_count(), 1);
    }

    /// Node 2 of a pool of nodes 1 and 2, of incarnation `incarnation`.
    fn node_2(now: Instant, incarnation: u32) -> Lns {
        let mut m = crate::l2tp::LnsMembership::new(
            NodeId(2),
            crate::health::Role::LNS,
            crate::health::ClusterKey::new(b"pool cluster key"),
            vec![(NodeId(1), "10.0.2.1:1701".parse().unwrap())],
        );
        m.incarnation = incarnation;
        let cfg = crate::l2tp::LnsConfig {
            contact: false,
            membership: Some(m),
            replication: Some(super::super::ReplicationConfig::default()),
            ..crate::l2tp::LnsConfig::default()
        };
        Lns::new(cfg, now).expect("a valid pool member")
    }

    /// Runs nodes 1 and 2 (`one`, `two`) from `*now` for `d`, in steps of 10 ms, each
    /// delivering to the other what it sends to the other's management address unless
    /// `lost(sent by node 1, at, datagram)` says the link lost it; their events are appended
    /// to `events` (node 1's, node 2's).
    fn run_pair(
        (one, two): (&mut Lns, &mut Lns),
        now: &mut Instant,
        d: Duration,
        lost: &impl Fn(bool, Instant, &[u8]) -> bool,
        events: &mut (Vec<Event>, Vec<Event>),
    ) {
        let (a1, a2): (SocketAddr, SocketAddr) = (
            "10.0.2.1:1701".parse().unwrap(),
            "10.0.2.2:1701".parse().unwrap(),
        );
        let end = *now + d;
        while *now < end {
            *now += Duration::from_millis(10);
            one.handle_timeout(*now);
            two.handle_timeout(*now);
            for _ in 0..16 {
                let mut quiet = true;
                while let Some(t) = one.poll_transmit() {
                    quiet = false;
                    if t.dst == a2 && !lost(true, *now, &t.payload) {
                        let _ = two.handle_datagram(*now, a1, a2, &t.payload);
                    }
                }
                while let Some(t) = two.poll_transmit() {
                    quiet = false;
                    if t.dst == a1 && !lost(false, *now, &t.payload) {
                        let _ = one.handle_datagram(*now, a2, a1, &t.payload);
                    }
                }
                if quiet {
                    break;
                }
            }
            events.0.extend(std::iter::from_fn(|| one.poll_event()));
            events.1.extend(std::iter::from_fn(|| two.poll_event()));
        }
    }

    /// Module docs, restart (session 48, doubt 2): the taker tells a restarted member once per
    /// incarnation which of its former addresses it took ([`Record::AddressTaken`]), and the
    /// replication channel delivers it reliably: here every replication batch from the taker
    /// to the restarted member is lost for 8 s, during which the taker finds the member Down
    /// (its datagrams cut from 1 s to 7 s: a false Down of the new incarnation) and Up again.
    /// The member emits [`Event::AddressTaken`] exactly once: the batch in flight is sent again
    /// once the member is Up (`replica` docs, reliable), and the taker does not queue the notice
    /// again at the Up (`Taken::told`). The former incarnation's call is taken over once.
    /// Failed with the notice queued again at each Up (three events).
    #[test]
    fn a_restarted_member_learns_once_that_its_address_was_taken_despite_loss_and_a_false_down() {
        let mut now = Instant::now();
        let peers = vec![(NodeId(2), "10.0.2.2:1701".parse().unwrap())];
        let mut one = super::super::pool_member(now, peers);
        let mut two = node_2(now, 1);
        let mut events = (Vec::new(), Vec::new());
        let none = |_: bool, _: Instant, _: &[u8]| false;
        let second = Duration::from_secs(1);
        run_pair(
            (&mut one, &mut two),
            &mut now,
            5 * second,
            &none,
            &mut events,
        );
        let state = |one: &Lns| one.monitor().and_then(|m| m.state(NodeId(2)));
        assert_eq!(state(&one), Some(NodeState::Up));
        // Node 1 holds node 2's tunnel with an answered call (as [`holder`]'s).
        let (tunnel, sessions) = holder(now, 1).held_copy(NodeId(2)).0.remove(0);
        one.apply_record(now, NodeId(2), Record::Tunnel(Box::new(tunnel)));
        one.apply_record(now, NodeId(2), Record::Session(sessions[0]));
        assert_eq!(one.held_for(NodeId(2)), (1, 1));
        // Node 2 crashes and comes back at once as incarnation 2.
        let mut two = node_2(now, 2);
        let start = now;
        let lost = |from_one: bool, at: Instant, d: &[u8]| {
            let t = at.saturating_duration_since(start);
            let batch = super::super::replicate::is_replication(d)
                && d.get(4) == Some(&crate::replica::KIND_REPLICATE);
            (from_one && batch && t < 8 * second) || (!from_one && t > second && t < 7 * second)
        };
        run_pair(
            (&mut one, &mut two),
            &mut now,
            6500 * Duration::from_millis(1),
            &lost,
            &mut events,
        );
        assert_eq!(state(&one), Some(NodeState::Down), "a false Down");
        run_pair(
            (&mut one, &mut two),
            &mut now,
            1500 * Duration::from_millis(1),
            &lost,
            &mut events,
        );
        assert_eq!(state(&one), Some(NodeState::Up));
        run_pair(
            (&mut one, &mut two),
            &mut now,
            30 * second,
            &lost,
            &mut events,
        );
        let taken: Vec<&Event> = events
            .0
            .iter()
            .filter(|e| matches!(e, Event::TakenOver { tunnels, .. } if tunnels[..] == [TUNNEL]))
            .collect();
        assert_eq!(taken.len(), 1, "{:?}", events.0);
        let told: Vec<&Event> = events
            .1
            .iter()
            .filter(|e| matches!(e, Event::AddressTaken { .. }))
            .collect();
        assert_eq!(
            told,
            [&Event::AddressTaken {
                addr: local().ip(),
                owner: NodeId(1)
            }],
            "{:?}",
            events.1
        );
    }

    /// Module docs, restart: health knows node 2 as incarnation 1 (its heartbeat), its batches
    /// show incarnation 2 (the restart, acted on), and health then declares it Down (the new
    /// incarnation's heartbeats lost): the Down is the new incarnation's, whose records we hold,
    /// so its tunnel is taken over (a false Down is settled by its yield, module docs, one owner
    /// per tunnel). Failed with the Down taken as the former incarnation's (health's number):
    /// the new incarnation's records dropped, nothing taken, its calls lost with it.
    #[test]
    fn a_down_after_a_restart_seen_in_the_batches_takes_over_the_new_incarnation() {
        use crate::replica::Entry;
        let mut now = Instant::now();
        let mut lns = super::super::pool_member(
            now,
            vec![
                (NodeId(2), "10.0.2.2:1701".parse().unwrap()),
                (NodeId(3), "10.0.2.3:1701".parse().unwrap()),
            ],
        );
        // Node 2's heartbeats of incarnation 1.
        let mut two = node_2(now, 1);
        let mut events = (Vec::new(), Vec::new());
        let none = |_: bool, _: Instant, _: &[u8]| false;
        run_pair(
            (&mut lns, &mut two),
            &mut now,
            Duration::from_secs(3),
            &none,
            &mut events,
        );
        let health = |lns: &Lns| lns.monitor().and_then(|m| m.incarnation_of(NodeId(2)));
        assert_eq!(health(&lns), Some(1));
        let (tunnel, sessions) = holder(now, 1).held_copy(NodeId(2)).0.remove(0);
        let batch = [
            Entry::Item(Record::Tunnel(Box::new(tunnel))),
            Entry::Item(Record::Session(sessions[0])),
        ];
        // Packet numbers past incarnation 1's (none of them sealed by node 2 here).
        from_node_2(&mut lns, now, &batch_of_node_2(2, 1, 1, &batch)).unwrap();
        assert_eq!(health(&lns), Some(1), "no heartbeat of incarnation 2");
        assert_eq!(lns.held_for(NodeId(2)), (1, 1));
        lns.take_over(now, NodeId(2));
        let events = ownership(&mut lns);
        assert!(
            matches!(
                &events[..],
                [Event::TakenOver { failed, tunnels, sessions, .. }]
                    if *failed == NodeId(2) && tunnels[..] == [TUNNEL] && sessions.len() == 1
            ),
            "{events:?}"
        );
        assert_eq!(lns.held_for(NodeId(2)), (0, 0));
    }

    /// Module docs, restart: a member restarted twice (incarnations 2 and 3) learns in each
    /// incarnation once which address we took from incarnation 1 ([`Record::AddressTaken`]).
    /// When the notice to incarnation 2 is still on its way at the second restart (every
    /// replication batch from us lost), the channel delivers the batch in flight to
    /// incarnation 3 (`replica` docs, delivery), and the notice is not queued again for it;
    /// when incarnation 2 got it, incarnation 3 is told again. Incarnation 2, holding no
    /// tunnel, is taken over empty at its restart: that takes nothing, and leaves the record
    /// of what we took from incarnation 1. Failed with the notice queued again while on its
    /// way (two events in incarnation 3), and with the empty takeover replacing that record
    /// (no event in incarnation 3 after incarnation 2 learnt).
    #[test]
    fn a_member_restarted_twice_learns_once_in_each_incarnation() {
        for lose in [true, false] {
            let mut now = Instant::now();
            let peers = vec![(NodeId(2), "10.0.2.2:1701".parse().unwrap())];
            let mut one = super::super::pool_member(now, peers);
            let mut two = node_2(now, 1);
            let mut events = (Vec::new(), Vec::new());
            let none = |_: bool, _: Instant, _: &[u8]| false;
            let second = Duration::from_secs(1);
            run_pair(
                (&mut one, &mut two),
                &mut now,
                5 * second,
                &none,
                &mut events,
            );
            let (tunnel, sessions) = holder(now, 1).held_copy(NodeId(2)).0.remove(0);
            one.apply_record(now, NodeId(2), Record::Tunnel(Box::new(tunnel)));
            one.apply_record(now, NodeId(2), Record::Session(sessions[0]));
            // Incarnation 2: our batches to it all lost with `lose`.
            let mut two = node_2(now, 2);
            let batches = |from_one: bool, _: Instant, d: &[u8]| {
                lose && from_one
                    && super::super::replicate::is_replication(d)
                    && d.get(4) == Some(&crate::replica::KIND_REPLICATE)
            };
            let mut second_events = (Vec::new(), Vec::new());
            run_pair(
                (&mut one, &mut two),
                &mut now,
                5 * second,
                &batches,
                &mut second_events,
            );
            let taken = |e: &Event| matches!(e, Event::TakenOver { tunnels, .. } if tunnels[..] == [TUNNEL]);
            assert_eq!(second_events.0.iter().filter(|e| taken(e)).count(), 1);
            let told = |events: &[Event]| -> Vec<Event> {
                events
                    .iter()
                    .filter(|e| matches!(e, Event::AddressTaken { .. }))
                    .cloned()
                    .collect()
            };
            let once = vec![Event::AddressTaken {
                addr: local().ip(),
                owner: NodeId(1),
            }];
            let expected = if lose { Vec::new() } else { once.clone() };
            assert_eq!(
                told(&second_events.1),
                expected,
                "lose {lose}: incarnation 2"
            );
            // Incarnation 3, nothing lost.
            let mut three = node_2(now, 3);
            let mut later = (Vec::new(), Vec::new());
            run_pair(
                (&mut one, &mut three),
                &mut now,
                20 * second,
                &none,
                &mut later,
            );
            assert_eq!(told(&later.1), once, "lose {lose}: incarnation 3");
            assert_eq!(later.0.iter().filter(|e| taken(e)).count(), 0);
        }
    }
}
