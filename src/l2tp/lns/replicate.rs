//! The primary side of the virtual LNS's replication: the backup chosen by load, the
//! records of every change that matters, and their transport over the generic acked,
//! authenticated replication ([`crate::replica`]).
//!
//! * **Backup**: among the health peers that are Up (the LNS's own monitor), the one with the
//!   most spare capacity ([`crate::l2tp::pool`] selection over the health load table); when none
//!   has room for calls (every one overloaded, or taking no new call: a member whose service
//!   address another holds reports 100 %, `Lns::set_accepting`), the one with the most spare
//!   capacity all the same among those known to replicate (a batch of its taken, or one of ours
//!   acknowledged by it; a contact LNS that only redirects reports itself full too, and holds no
//!   copies): a copy held by a full member beats none. It is kept while Up or Suspect (a lost
//!   heartbeat or two does not move it) and chosen anew when it is Down or restarted; the new one
//!   gets a bulk sync (every established tunnel and session, under a new epoch). Records go to the
//!   backup alone, so those of our table still queued for a member from an earlier turn as backup
//!   (it was found Down or given up before they left) missed what changed since: a sync to it
//!   replaces them ([`crate::replica::Channel::restart_bulk_replacing`]), else, applied after the
//!   sync, they would bring back a call cleared meanwhile (`l2tp_failover` seed 300094). The former
//!   one keeps its copy until the new one acknowledged the end of its sync ([`Channel::synced`]),
//!   then gets an empty sync of epoch 0, a release: its end sweeps what it held for us, so it does
//!   not take over a stale copy (a false Down of the backup moves it while it is alive). Until then
//!   a crash of this LNS leaves every call it had up at one member at least: the former backup
//!   holds those set up before the change, and nothing set up after it is answered before the new
//!   backup holds the whole table (output commit, below). Bulk-sync epochs form one increasing
//!   sequence over all peers, so a later backup's complete copy holds a higher epoch than any
//!   former one, and a copy still being synced after a release holds 0: the claims pick the copy to
//!   keep (`takeover` docs, two takers). A member we took over is released the same way from the
//!   copy it kept of what it yielded (`takeover` docs, yielded copy), once it acknowledged our
//!   notice and our backup holds what we took. The copy outlives the incarnation that made it:
//!   whether health finds this LNS Down or, restarted by its supervisor before that, `Restarted` (a
//!   higher incarnation, empty), the backup takes the copy over (`takeover` docs, restart), and the
//!   restarted LNS is told which address was taken
//!   ([`Event::AddressTaken`](crate::l2tp::Event::AddressTaken)).
//!
//!   **Unresponsive backup.** Health tells a member alive, not that it replicates: a contact
//!   LNS with room that only redirects, a member with replication off or another cluster key, or
//!   one whose replication is filtered is Up and may be chosen, and output commit (below) would
//!   hold every call's ICRP until the LAC gave the call up (its set-up wait: 31 s by default, RFC
//!   2661 5.8). So a backup that leaves a batch of ours unacknowledged for a health Down interval
//!   ([`crate::health::HealthConfig::down_after`], 4 s by default; never less than two
//!   retransmission timeouts at [`ReplicationConfig::retransmit_cap`]), as the timers see it, is
//!   given up: marked unresponsive (counted in [`crate::l2tp::Stats::backups_unresponsive`]) and
//!   another chosen as above, never a marked one. A backup that acknowledged a batch of ours since
//!   it (re)started replicates, and a batch it leaves unanswered is likelier lost: at 10 % loss
//!   each way a round trip fails about one time in five, and a Down interval holds five
//!   transmissions at the default pace, so about one batch in 4,000 outlasted it (`l2tp_failover`,
//!   seeds 300,000-305,000: 163 backups alive and reachable given up, calls answered unreplicated
//!   and copies moved for nothing). Such a backup is given up only once the batch also went
//!   unanswered through [`crate::l2tp::Config::max_retries`] retransmissions, the last within its
//!   timeout, as the control channel gives a peer up (RFC 2661 5.8; 7 s at the defaults, a path
//!   filtered since: still within the LAC's patience); nothing is sent again while it is Suspect,
//!   so a Suspect stretch does not count. A backup that never acknowledged one cannot be told from
//!   one that does not replicate, and is judged on the Down interval alone; so that the interval
//!   holds enough transmissions, the batch in flight to it is sent again at twice
//!   [`ReplicationConfig::retransmit`] at most, not backed off to the cap (eleven transmissions in
//!   4 s at the defaults: at 10 % loss each way one batch in 10^8 outlasts them; a member whose
//!   acknowledgements take longer than the last four transmissions, 1.2 s at the defaults, answers
//!   none of them and is given up once, then chosen again on its acknowledgement of the probe at
//!   the usual pace). What was held for it waits for the new one's whole bulk sync; with none left
//!   it is sent at once (counted in [`crate::l2tp::Stats::setups_not_replicated`]: no call hangs).
//!   The mark clears when the member shows that it replicates: a token of its acknowledging one of
//!   ours (the batch in flight to it stays in flight and is sent again while it is Up: that is the
//!   probe), or a batch of its taken, unless it had sent us batches already when given up (then
//!   what failed is our path to it, a one-way filter, and its batches would have it chosen and
//!   given up again and again); then it may be chosen again (at once when no backup is left); and
//!   when it restarts (a new incarnation is judged afresh). The first choice is by load alone, not
//!   among the members known to replicate first: a member knows only those that back up to it or
//!   acknowledged it, a preference would put copies where they were rather than where the room is
//!   (the backup takes the calls over), and a member that does not replicate costs one Down
//!   interval of held set-ups once per incarnation, as it stays marked. A set-up pays nothing for
//!   it: no peer is looked at per call; the timers compare the backup's batch in flight (its `seq`,
//!   and when a timer first saw it) with the bound ([`Lns::give_up_silent_backup`]).
//! * **Records**: tunnel up ([`Record::Tunnel`]), session answered (an incoming call at its
//!   ICRP, an outgoing one at its OCCN: the session and its tunnel's Ns/Nr, which the call
//!   set-up moved, in one record, [`Record::SessionSequence`]; again at ICCN only if the ICCN changed what
//!   the record carries, Sequencing Required), session down
//!   ([`Record::SessionGone`] and the tunnel's Ns/Nr), tunnel down ([`Record::TunnelGone`]).
//!   A call with details (RFC 2661 4.4.5: the ICRQ's Calling Number and the like) is answered
//!   with a [`Record::Call`] in place of its [`Record::SessionSequence`] (the ICRQ's details
//!   with it, so the backup holds them before the ICRP leaves), and its ICCN's details follow
//!   in a [`Record::CallUpdate`] (only what the ICCN said), which holds no answer back and
//!   lingers; a bulk sync sends each session with its merged details (`replica` docs, call
//!   details: never the proxy LCP nor the proxy authentication's challenge and response).
//!   Records that hold no answer back (a call we cleared, a tunnel's sequence numbers) linger
//!   up to [`ReplicationConfig::linger`] for more, and leave with the next set-up's record at
//!   the latest (whose ICRP is held, so it goes at once): a set-up and a tear-down in the same
//!   stretch share one batch and one acknowledgement. A call the LAC cleared holds its CDN's
//!   acknowledgement back (output commit, below), so its record goes at once: a crash before
//!   the backup holds it leaves the CDN unacknowledged at the LAC, which retransmits it to the
//!   backup (RFC 2661 5.8). A crash inside the linger loses only the news that a call or
//!   tunnel we ended went, which the LAC knows already.
//!   Set-ups batch: while a batch is in flight the records of further set-ups queue, and a
//!   tunnel's Ns/Nr update still queued is rewritten in place rather than queued again, so a
//!   batch carries one per tunnel (the sessions of a burst of set-ups on a tunnel cost 17 octets
//!   each, one envelope, one MAC and one acknowledgement per batch). HELLOs, ZLBs and data are not replicated: the backup
//!   resynchronises (`tunnel::snapshot` module docs).
//! * **Output commit** (set-up under loss on the members' links): the ICRP of an incoming call
//!   is numbered in the control channel (its Ns goes in the call's record:
//!   `tunnel::snapshot` docs) and held until the backup acknowledged the batch carrying the
//!   call's record
//!   ([`Channel::mark`], [`Channel::committed`]; RFC 2661 7.4.2 sets no time limit on the
//!   answer), or the backup is given up as unresponsive (above). So a call the LAC has up (it sends ICCN
//!   only after our ICRP) is held by the backup already, and a crash of this LNS at any moment
//!   loses no established call; the backup adopts an answered call waiting for its ICCN, and
//!   sends its ICRP again at the same Ns when the LAC had not taken it (`l2tp_failover` seed 602:
//!   ICRPs held when this LNS yielded its tunnel were never sent, and the LAC cleared the calls
//!   at its set-up timer), or holds it established when it had (`tunnel::snapshot` docs). ICRPs
//!   (and acknowledgements) held when the backup changes wait for the new backup's whole bulk
//!   sync, which carries their records; those held when no backup is left are sent at once,
//!   counted in [`crate::l2tp::Stats::setups_not_replicated`] (a crash would lose those calls).
//!   Without a backup nothing is held. The ICRP of a call adopted from a replicated record
//!   (at a takeover, or a late record: `takeover` docs), sent again at its own Ns
//!   (`tunnel::snapshot` docs), is held the same way until our own backup applied the call's
//!   record ([`Lns::commit_adopted`]; crash during set-up seed 11290); what is queued on the
//!   tunnel behind it waits with it (RFC 2661 5.8). Holding costs no CPU: the
//!   record is the one the set-up replicates anyway, the ICRP waits one round trip between
//!   members. The ICRQ's acknowledgement waits with it and rides on it (RFC 2661 5.8: a ZLB
//!   only when no message carries the acknowledgement; [`super::super::channel::Channel::defer_ack`]),
//!   at most a quarter of the control channel's first retransmission timeout, so the LAC gets
//!   one datagram per set-up, not a ZLB and then the ICRP. In a burst of set-ups on a tunnel
//!   the ZLB goes once half our Receive Window Size of the LAC's messages wait for their
//!   acknowledgement ([`super::super::channel::Channel::defer_ack_within_window`]): one ZLB per
//!   half window keeps the LAC's window open (bursts of 16: 11,092 instructions per replicated
//!   set-up with a ZLB per ICRQ on 38da218, 10,785 with one per half window on 3a7a60e).
//!   A CDN from the LAC is acknowledged only once the backup applied the session's end
//!   ([`super::super::channel::Channel::hold_ack`]: our Nr stays before it meanwhile).
//! * **Transport**: one [`Channel`] per peer (batches of at most [`crate::replica::MAX_ITEMS`]
//!   records, one in flight, retransmitted from [`ReplicationConfig::retransmit`] doubling up to
//!   [`ReplicationConfig::retransmit_cap`] while the peer is Up), in an envelope (version 3)
//!   sealed with AES-128-CMAC (RFC 4493) under a key derived from the membership's cluster key
//!   ([`crate::replica::CmacKey::derive`], label `telcp l2tp replication v2: AES-128-CMAC`), with
//!   a replay window per sender, on the L2TP port to the peer's heartbeat address. A datagram
//!   that fails the MAC or replays is refused ([`super::super::InputError::NotAuthorized`]) and changes nothing. The
//!   CMAC replaced the HMAC-MD5 of version 1 for its cost: four MACs per replicated set-up
//!   (batch and acknowledgement, each sealed and opened) were a third of what replication added
//!   to a set-up.
//! * **Acknowledgement tokens** (version 3): a batch is acknowledged not by a sealed envelope
//!   but by a token answering the datagram that carried it: 35 octets, the envelope's magic,
//!   version 3, kind 6, two reserved octets (sent 0, ignored), the acknowledging member's node
//!   id `B` (u32) and the batch's `seq` (u64), then `AES-128(Ka, T xor (0^96 | B))`, where `T`
//!   is the batch datagram's CMAC tag and `Ka` a second key derived from the cluster key
//!   (label `telcp l2tp replication v3: acknowledgement token`). The sender keeps the tags of
//!   the last four transmissions of the batch in flight to each peer (a retransmission is a new
//!   datagram, a new tag) and takes a token only when it equals, compared in constant time, the
//!   token of one of them by the member the token names; anything else is refused as not
//!   authorized and changes nothing. One AES block on each side instead of a sealed and an
//!   opened envelope (two CMACs of two blocks, a replay window): the acknowledgement of an
//!   isolated set-up cost 198 instructions less (callgrind, `l2tp_lns` bench).
//!   Why an observer of the batches and tokens, without the cluster key, cannot acknowledge a
//!   batch that its receiver did not get: `Ka` is independent of the CMAC key (HKDF labels),
//!   and AES under an unknown key is a pseudorandom permutation, so the token of an input not
//!   yet encrypted is unpredictable (a guess succeeds with probability 2^-128). The input binds
//!   the token to the batch: `T` covers the sealed header (the sender's node id, incarnation
//!   and a packet number never reused in an incarnation) and the body (`seq`), so distinct
//!   datagrams have distinct tags (but for a CMAC collision under the unknown key); and to the
//!   receiver through `B`. A token seen for `(T', C)` serves for `(T, B)` only when
//!   `T' xor T = C xor B` in the last four octets and equal elsewhere: for `C = B` that is the
//!   same datagram, which `B` did receive (its own genuine acknowledgement); for `C != B` it
//!   asks two CMAC tags to differ by a chosen value, probability 2^-128 per pair. In
//!   particular a batch replayed by an observer to another member `C` draws `C`'s token, which
//!   does not acknowledge it for `B`. A token replayed later answers a transmission of a batch
//!   already acknowledged, or one of a batch no longer in flight (forgotten when the next batch
//!   is sent: batch numbers only grow on a channel), and changes nothing; so tokens need no
//!   packet number or replay window of their own, and the batches keep theirs. The tags kept
//!   for a peer are forgotten when it restarts (a new incarnation, [`Lns::peer_restarted`]):
//!   a token of its former incarnation, delayed past the restart, does not acknowledge for the
//!   new one the batch kept in flight for it (a sealed acknowledgement of version 2 carried
//!   its sender's incarnation for this).
//! * **Bounds**: at most [`ReplicationConfig::max_queue`] records wait per peer; beyond, the
//!   queue is dropped, counted in [`crate::l2tp::Stats::replicas_overflowed`], and a bulk sync
//!   replaces it (takeover notices survive). Channels exist for monitor peers only (at most
//!   `max_pool`).

use super::super::replica::{
    CALL, CALL_UPDATE, CallRecord, Record, SESSION_SEQUENCE, SessionRecord,
};
use super::super::session::SessionState;
use super::super::tunnel::Core;
use super::super::wire::ControlMessage;
use super::super::{InputError, Unexpected};
use super::Lns;
use crate::Transmit;
use crate::health::{NodeId, NodeState};
use crate::io::Reader;
use crate::replica::{
    BulkSync, Channel, CmacKey, Entry, Envelope, HEADER_LEN, Header, KIND_REPLICATE, PeerMap,
    ReplayWindow, TAG_LEN, parse_batch_head, parse_entries_into,
};
use bytes::BytesMut;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The virtual LNS's replication envelope (distinct from heartbeats and L2TP on the same port);
/// version 3: sealed with AES-128-CMAC, batches acknowledged by tokens (module docs).
pub(super) const ENVELOPE: Envelope = Envelope::new(*b"\xfeL2", 3);

/// The HKDF label of the replication MAC key (module docs, transport).
pub(super) const MAC_INFO: &[u8] = b"telcp l2tp replication v2: AES-128-CMAC";

/// The HKDF label of the acknowledgement token key (module docs, transport).
pub(super) const TOKEN_INFO: &[u8] = b"telcp l2tp replication v3: acknowledgement token";

/// The kind octet (after the envelope's magic and version) of an acknowledgement token
/// (module docs, transport; not [`KIND_REPLICATE`], nor the generic [`crate::replica::KIND_ACK`]).
const KIND_TOKEN: u8 = 6;

/// Octets of an acknowledgement token datagram: magic (3), version, kind, 2 reserved, the
/// acknowledging member's node id (u32), the batch's `seq` (u64), the token (module docs).
const TOKEN_ACK_LEN: usize = 7 + 4 + 8 + TAG_LEN;

/// How many transmissions of the batch in flight to a peer have their tag kept ([`SentTags`]):
/// an acknowledgement of an older one is refused, and the next retransmission's is taken.
const SENT_TAGS: usize = 4;

/// The acknowledgement token of the batch datagram whose tag is `tag`, by its receiver
/// `receiver` (module docs, transport): AES-128 under the token key of the tag with the
/// receiver's node id XORed into its last four octets.
fn ack_token(key: &CmacKey, tag: &[u8; TAG_LEN], receiver: NodeId) -> [u8; TAG_LEN] {
    // The tag as one big-endian number, the id XORed into its low 32 bits (its last four
    // octets).
    let x = u128::from_be_bytes(*tag) ^ u128::from(receiver.0);
    key.encrypt(x.to_be_bytes())
}

/// The tags of the latest [`SENT_TAGS`] transmissions of the batch `seq` in flight to a peer,
/// against which its acknowledgement token is checked (module docs, transport).
#[derive(Debug, Default, Clone, Copy)]
struct SentTags {
    /// The batch (0: none; batches are numbered from 1).
    seq: u64,
    /// How many of `tags` hold a transmission's (at most [`SENT_TAGS`]).
    len: u8,
    /// Where the next one goes.
    next: u8,
    tags: [[u8; TAG_LEN]; SENT_TAGS],
}

impl SentTags {
    /// A transmission of batch `seq` under `tag`; those of an earlier batch are forgotten.
    fn note(&mut self, seq: u64, tag: [u8; TAG_LEN]) {
        if self.seq != seq {
            *self = SentTags {
                seq,
                ..SentTags::default()
            };
        }
        let at = usize::from(self.next) % SENT_TAGS;
        self.tags[at] = tag;
        self.next = ((at + 1) % SENT_TAGS) as u8;
        self.len = self.len.saturating_add(1).min(SENT_TAGS as u8);
    }

    /// Whether `token` acknowledges, by `receiver`, one of the transmissions of batch `seq`
    /// kept (each compared in constant time).
    fn acknowledged(
        &self,
        key: &CmacKey,
        seq: u64,
        receiver: NodeId,
        token: &[u8; TAG_LEN],
    ) -> bool {
        if self.seq != seq {
            return false;
        }
        let kept = self.tags.get(..usize::from(self.len)).unwrap_or_default();
        kept.iter().fold(false, |ok, tag| {
            ok | crate::io::ct_eq(&ack_token(key, tag, receiver), token)
        })
    }
}

/// The buffer the replication datagrams are sealed into ([`Wire::buf`]): several datagrams of
/// a set-up's records before the payloads cut from it must be dropped for its room to be used
/// again.
const SEAL_BUFFER: usize = 4096;

/// The room made before a datagram is sealed (a batch of a set-up's records and more; a larger
/// one grows the buffer as it is written).
const SEAL_ROOM: usize = 512;

/// The most octets of a set-up's record sealed on the stack ([`Wire::seal_setup`]): a
/// session's, or a call's with its details (a BRAS call's is 94); a longer one goes through
/// the batch encoder.
const SETUP_STACK: usize = 160;

/// Whether `data` is a replication message of the virtual LNS (its envelope's magic).
pub(super) fn is_replication(data: &[u8]) -> bool {
    ENVELOPE.is_mine(data)
}

/// Replication of a virtual LNS member's tunnels and sessions to a backup (needs
/// [`super::LnsConfig::membership`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicationConfig {
    /// Most tunnels held for one member (more: refused, counted in
    /// [`crate::l2tp::Stats::replicas_refused`], lost if that member fails).
    pub max_tunnels: usize,
    /// Most sessions held for one member (same).
    pub max_sessions: usize,
    /// Most records waiting per peer (module docs).
    pub max_queue: usize,
    /// First retransmission timeout of a batch.
    pub retransmit: Duration,
    /// Retransmission timeout cap.
    pub retransmit_cap: Duration,
    /// How long records that hold no answer back (a call cleared, a tunnel's sequence numbers)
    /// wait for more before their batch leaves (module docs, records); a set-up's record, whose
    /// ICRP is held, sends them at once. `Duration::ZERO`: no wait.
    pub linger: Duration,
    /// Keep each call's details (RFC 2661 4.4.5: Calling and Called Number, Bearer and Framing
    /// Types, Connect Speeds, ...; [`crate::l2tp::CallDetails::replicable`]) with its session
    /// and replicate them, so that a member that takes the call over hands them to its caller
    /// ([`crate::l2tp::Event::TakenOver`]'s `details`; `crate::l2tp::replica` docs, call
    /// details). On by default. Off, a call's record is a plain session record, the set-up
    /// costs less CPU and fewer octets (README, Benchmarks: about 1.31x instead of about 1.45x
    /// the instructions of a set-up without a backup, for a BRAS's calls) and a takeover hands
    /// over no details. An LNS without replication keeps details only with
    /// [`super::LnsConfig::admission`] (for [`crate::l2tp::Event::CallConnected`]).
    pub call_details: bool,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            max_tunnels: 1024,
            max_sessions: 65_536,
            max_queue: 65_536,
            retransmit: Duration::from_millis(200),
            retransmit_cap: Duration::from_secs(2),
            linger: Duration::from_millis(20),
            call_details: true,
        }
    }
}

/// The replication state: the chosen backup, a channel and a replay window per peer.
#[derive(Debug, Default)]
pub(super) struct Replicator {
    wire: Wire,
    pub(super) backup: Option<NodeId>,
    /// A channel per peer (flat: a handful of members, looked up on every datagram).
    pub(super) channels: PeerMap<Channel<Record>>,
    windows: PeerMap<ReplayWindow>,
    /// ICRPs held until the backup applied their session's record (module docs, output
    /// commit), in the order they were made; at most one per session.
    held: VecDeque<HeldReply>,
    /// Some of `held` may be for a former backup (the backup changed since the last release).
    held_mixed: bool,
    /// Acknowledgements held until the backup applied the record of what the message did
    /// (module docs, output commit), in the order made.
    held_acks: VecDeque<HeldAck>,
    /// The entries of the batch being applied (kept: no allocation per batch).
    inbox: Vec<Entry<Record>>,
    /// The numbered ICRPs released, for their calls' set-up wait to run from there (module
    /// docs, output commit).
    pub(super) released: Released,
    /// When the records waiting for the backup, none holding an answer back, leave at the
    /// latest ([`ReplicationConfig::linger`]).
    linger_until: Option<Instant>,
    /// The epoch of our last bulk sync to any peer: one increasing sequence over all peers, so
    /// a backup chosen later holds a copy of a higher epoch than a former one (module docs,
    /// backup; `takeover` docs, one owner per tunnel). A release (an empty sync to a former
    /// backup) is of epoch 0 and not in the sequence.
    generation: u32,
    /// Former backups whose copy is kept until the backup's bulk sync is acknowledged to its
    /// end, then released (module docs, backup); each at most once.
    releasing: Vec<NodeId>,
    /// Members we took over whose yielded copy (`takeover` docs) is released once they have
    /// our takeover notice and our backup holds what we took; at most one per monitor peer.
    yielders: Vec<Yielder>,
    /// Members given up as backup because they acknowledged nothing of ours for
    /// [`Lns::unresponsive_after`] while a batch was in flight to them (module docs, backup),
    /// each with whether it had sent us a batch then (its batches then tell nothing of our
    /// path to it: only an acknowledgement clears its mark): never chosen while marked. At
    /// most one per monitor peer (pruned of members health no longer knows when one is
    /// marked).
    unresponsive: Vec<(NodeId, bool)>,
    /// The batch in flight to the backup as a timer first saw it ([`Lns::give_up_silent_backup`]);
    /// `None` with nothing in flight to it.
    watch: Option<Watch>,
    /// For each member seen restarted, how many batches of ours it had acknowledged then
    /// ([`crate::replica::ChannelStats::acknowledged`]): one that acknowledged more since
    /// replicates (module docs, backup). At most one per monitor peer.
    acked_at_restart: Vec<(NodeId, u64)>,
}

/// The batch in flight to the backup as a timer first saw it (module docs, backup).
#[derive(Debug, Clone, Copy)]
struct Watch {
    /// The backup.
    node: NodeId,
    /// The batch's `seq`.
    seq: u64,
    /// When a timer first saw it in flight.
    since: Instant,
    /// The channel's retransmissions then ([`crate::replica::ChannelStats::retransmits`]).
    retransmits: u64,
}

/// A member we took over, holding its yielded copy of what we took (`takeover` docs) until
/// released: after `notice` is committed on our channel to it, and our backup holds what we
/// took (`backup`'s `mark` committed, or a later backup's whole bulk sync).
#[derive(Debug, Clone, Copy)]
struct Yielder {
    node: NodeId,
    notice: u64,
    backup: Option<(NodeId, u64)>,
}

/// The entries of a batch received, parsed whole before any is applied
/// ([`Lns::replica_input`]).
///
/// A set-up's record alone ([`Record::SessionSequence`], the usual batch) is not one: it is
/// applied straight from its parse ([`Record::session_sequence_short`]).
enum Batch {
    /// One entry: no buffer.
    One(Entry<Record>),
    /// Any other count, in the buffer kept for them ([`Replicator::inbox`]).
    Many(Vec<Entry<Record>>),
}

/// An ICRP held until `peer` committed `mark` ([`Channel::committed`]).
#[derive(Debug)]
struct HeldReply {
    peer: NodeId,
    mark: u64,
    tunnel: u16,
    session: u16,
    reply: Reply,
}

/// The acknowledgement of the message `ns` of `tunnel`, held until `peer` committed `mark`.
#[derive(Debug)]
struct HeldAck {
    peer: NodeId,
    mark: u64,
    tunnel: u16,
    ns: u16,
}

/// The held ICRPs numbered in their control channel and released ([`release_held`],
/// [`release_runs`]), in the order released: the set-up timer of such a call was armed when its
/// ICRQ was taken, and its set-up wait runs from the release instead (module docs, output
/// commit; RFC 2661 7.4.2: the LAC answers an ICRP it has received, so the wait for its ICCN
/// starts when the ICRP leaves, as a LAC's wait starts when its ICRQ leaves,
/// [`Core::send_setup`]). Rather than arming the timer again at each release (a timer table
/// update per replicated set-up), the timer that fires at the acceptance's deadline is moved to
/// the release's ([`Released::extends`]). An entry whose wait from the release is over is
/// dropped; at most `max` entries (beyond, the oldest is dropped: its call's wait runs from the
/// acceptance, as before).
#[derive(Debug, Default)]
pub(super) struct Released {
    /// `(when, tunnel, session)`, oldest first.
    list: VecDeque<(Instant, u16, u16)>,
    /// The set-up wait ([`Core::setup_wait`]).
    wait: Duration,
    /// Most entries kept (the most sessions).
    max: usize,
}

impl Released {
    /// Entries of calls waiting `wait` for their ICCN, at most `max`.
    pub(super) fn new(wait: Duration, max: usize) -> Released {
        Released {
            list: VecDeque::new(),
            wait,
            max,
        }
    }

    /// The ICRP of session `sid` of `tid` was released at `now`. Those whose wait is over are
    /// dropped every 64 noted (a look at the oldest, not one per release), the oldest when
    /// `max` are kept.
    #[inline(always)]
    fn note(&mut self, now: Instant, tid: u16, sid: u16) {
        if self.list.len() % 64 == 63 {
            while let Some((at, ..)) = self.list.front() {
                if *at + self.wait > now {
                    break;
                }
                self.list.pop_front();
            }
        }
        if self.list.len() >= self.max {
            self.list.pop_front();
        }
        if self.max > 0 {
            self.list.push_back((now, tid, sid));
        }
    }

    /// When the set-up wait of session `sid` of `tid`, whose set-up timer fired at `now`, ends
    /// if its ICRP was released after it was taken and that wait is not over; `None` otherwise
    /// (the call's set-up timed out).
    ///
    /// The list is in release order, so the releases whose wait is over at `now` (released at
    /// or before `now - wait`) are skipped by a binary search, and the call's release is looked
    /// for from the oldest of the others: a call whose timer fires `wait` after its ICRQ was
    /// taken was released shortly after that, so its entry is among the first read (a scan
    /// from the newest end would read every later release on each set-up timeout).
    pub(super) fn extends(&self, now: Instant, tid: u16, sid: u16) -> Option<Instant> {
        let live = self.list.partition_point(|(at, ..)| *at + self.wait <= now);
        let (at, ..) = self
            .list
            .range(live..)
            .find(|(_, t, s)| (*t, *s) == (tid, sid))?;
        Some(*at + self.wait)
    }
}

/// A held ICRP: numbered in its tunnel's control channel ([`Core::reserve_ctrl`]), or not.
#[derive(Debug)]
enum Reply {
    /// Numbered, this Ns: released when committed
    /// ([`super::super::channel::Channel::release`]: a reserved message, or a pin held,
    /// [`Lns::commit_adopted`]).
    Reserved(u16),
    /// Not numbered (the channel could not): sent when committed (boxed: the rare case, so a
    /// held reply, queued and taken out once per replicated set-up, stays small).
    Message(Box<ControlMessage<'static>>),
}

/// What seals and queues the replication datagrams.
#[derive(Debug, Default)]
struct Wire {
    /// The envelopes' MAC key (from the membership's cluster key; `None` without one).
    mac: Option<CmacKey>,
    /// The acknowledgement token key (from the cluster key, [`TOKEN_INFO`]; with `mac`).
    token: Option<CmacKey>,
    /// Per peer, the tags of the batch in flight to it as sent ([`SentTags`]).
    sent: PeerMap<SentTags>,
    /// The datagrams sealed, each split off as its payload ([`seal`]): one allocation shared by
    /// the payloads cut from it, whose room is used again once they are dropped (no allocation
    /// or copy per datagram).
    buf: bytes::BytesMut,
    /// Our packet number (never reused within an incarnation).
    pn: u64,
    out: VecDeque<Transmit>,
}

/// Seals `body` (the batch `seq`, [`KIND_REPLICATE`]) for `to` (module docs, transport) and
/// queues it, its tag kept for `to`'s acknowledgement; nothing without a MAC key or an address
/// for `to`.
fn seal(
    w: &mut Wire,
    m: &crate::health::Monitor,
    to: NodeId,
    seq: u64,
    body: impl FnOnce(&mut BytesMut),
) {
    let Some(dst) = m.addr_of(to) else {
        return;
    };
    let note = Some((to, seq));
    w.seal(dst, KIND_REPLICATE, m.node(), m.incarnation(), note, body);
}

impl Wire {
    /// Seals `body` (a frame of envelope kind `kind`) from `sender` of `incarnation` under our
    /// next packet number, and queues it for `dst`; nothing without a MAC key. `note`: the
    /// peer and `seq` of the batch it is, whose tag is kept for the peer's acknowledgement
    /// ([`SentTags`]).
    fn seal(
        &mut self,
        dst: SocketAddr,
        kind: u8,
        sender: NodeId,
        incarnation: u32,
        note: Option<(NodeId, u64)>,
        body: impl FnOnce(&mut BytesMut),
    ) {
        // Room for a datagram of records (a longer one grows the buffer as it is written).
        self.emit(
            dst,
            (kind, sender, incarnation),
            SEAL_ROOM,
            note,
            |mac, h, buf| {
                ENVELOPE.seal_append(mac, h, body, buf);
            },
        );
    }

    /// Queues for `dst` the acknowledgement by `acker` of the batch `seq` received under
    /// `tag` (module docs, transport): its token ([`ack_token`]), built on the stack and copied
    /// once into the buffer; nothing without a token key. No packet number: the token answers
    /// that one datagram.
    fn send_ack(&mut self, dst: SocketAddr, seq: u64, acker: NodeId, tag: &[u8; TAG_LEN]) {
        let Some(key) = self.token.as_ref() else {
            return;
        };
        let mut msg = [0u8; TOKEN_ACK_LEN];
        msg[..3].copy_from_slice(&ENVELOPE.magic);
        msg[3] = ENVELOPE.version;
        msg[4] = KIND_TOKEN;
        // Octets 5 and 6 reserved, sent 0.
        msg[7..11].copy_from_slice(&acker.0.to_be_bytes());
        msg[11..19].copy_from_slice(&seq.to_be_bytes());
        msg[19..].copy_from_slice(&ack_token(key, tag, acker));
        if self.buf.capacity() == 0 {
            self.buf = BytesMut::with_capacity(SEAL_BUFFER);
        }
        self.buf.extend_from_slice(&msg);
        let payload = self.buf.split().freeze();
        self.out.push_back(Transmit {
            dst,
            src: None,
            link_dst: None,
            payload,
        });
    }

    /// Seals the batch `seq` of the one set-up's record `rec` (a call's with its details too
    /// when it fits in [`SETUP_STACK`] octets, [`Record::setup_octets_in`]; [`KIND_REPLICATE`],
    /// the set-up lane: [`Lns::send_setup_record`]) from `sender` of `incarnation` under our next packet
    /// number, and queues it for `dst`; nothing without a MAC key. The octets [`Wire::seal`]
    /// makes of [`crate::replica::encode_batch`] of it, built on the stack (the record written
    /// in its place, [`Record::setup_octets`]; [`Envelope::seal_in_place`]) and copied once
    /// into the buffer. `false`, nothing done, for a record not a set-up's.
    #[inline(always)]
    fn seal_setup(
        &mut self,
        (to, dst): (NodeId, SocketAddr),
        seq: u64,
        rec: &Record,
        sender: NodeId,
        incarnation: u32,
    ) -> bool {
        // Header, the batch's seq and count, the record, the tag.
        const BODY: usize = HEADER_LEN + 9;
        const MAX: usize = BODY + SETUP_STACK + crate::replica::TAG_LEN;
        let mut msg = [0u8; MAX];
        let Some(n) = msg
            .get_mut(BODY..BODY + SETUP_STACK)
            .and_then(|b| rec.setup_octets_in(b))
        else {
            return false;
        };
        let len = BODY + n + crate::replica::TAG_LEN;
        self.emit(
            dst,
            (KIND_REPLICATE, sender, incarnation),
            len,
            Some((to, seq)),
            |mac, h, buf| {
                msg[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&seq.to_be_bytes());
                msg[HEADER_LEN + 8] = 1;
                let msg = &mut msg[..len];
                ENVELOPE.seal_in_place(mac, h, msg);
                buf.extend_from_slice(msg);
            },
        );
        true
    }

    /// The header `(kind, sender, incarnation)` under our next packet number; `write` seals the
    /// message with it at the end of the buffer (`room` octets made first), which is cut off as
    /// the payload of a datagram queued for `dst`. Nothing without a MAC key. The buffer's own
    /// octets are used again once the payloads cut from it are all dropped, else a fresh buffer.
    /// `note`: as in [`Wire::seal`].
    #[inline(always)]
    fn emit(
        &mut self,
        dst: SocketAddr,
        (kind, sender, incarnation): (u8, NodeId, u32),
        room: usize,
        note: Option<(NodeId, u64)>,
        write: impl FnOnce(&mut CmacKey, &Header, &mut BytesMut),
    ) {
        let Some(mac) = self.mac.as_mut() else {
            return;
        };
        self.pn += 1;
        let h = Header {
            kind,
            sender,
            incarnation,
            pn: self.pn,
        };
        if self.buf.capacity() == 0 {
            self.buf = BytesMut::with_capacity(SEAL_BUFFER);
        }
        self.buf.reserve(room);
        write(mac, &h, &mut self.buf);
        if let (Some((peer, seq)), Some(tag)) = (note, self.buf.last_chunk::<TAG_LEN>()) {
            self.sent.get_or_default(peer).note(seq, *tag);
        }
        let payload = self.buf.split().freeze();
        self.out.push_back(Transmit {
            dst,
            src: None,
            link_dst: None,
            payload,
        });
    }
}

/// The record of session `sid` of `tid` come up: it and its tunnel's sequence numbers in one
/// record ([`Record::SessionSequence`]), either alone when the other is not to be had.
fn session_sequence(
    tid: u16,
    session: Option<SessionRecord>,
    sequence: Option<(u16, u16)>,
) -> Option<Record> {
    Some(match (session, sequence) {
        (Some(session), Some((ns, nr))) => Record::SessionSequence { session, ns, nr },
        (Some(session), None) => Record::Session(session),
        (None, Some((ns, nr))) => Record::TunnelSequence {
            tunnel: tid,
            ns,
            nr,
        },
        (None, None) => return None,
    })
}

/// The record `rec` of a session (alone or with its tunnel's sequence numbers) with its call's
/// details when it has any (module docs, records): a [`Record::Call`] in its place; any other
/// record as it is.
fn with_call(core: &Core, rec: Record) -> Record {
    let (session, sequence) = match &rec {
        Record::Session(s) => (*s, None),
        Record::SessionSequence { session, ns, nr } => (*session, Some((*ns, *nr))),
        _ => return rec,
    };
    match core.call_details(session.tunnel, session.session) {
        Some(d) => Record::Call(Box::new(CallRecord {
            session,
            sequence,
            details: d.clone(),
        })),
        None => rec,
    }
}

/// Releases the items of `held` in order, from the front, up to the first one to `keep`
/// (which stays, with all after it); with `all`, every one not kept (those kept stay, in their
/// order). No queue is built aside: the kept ones go back into `held`.
fn release_in_order<T>(
    held: &mut VecDeque<T>,
    all: bool,
    mut keep: impl FnMut(&T) -> bool,
    mut release: impl FnMut(T),
) {
    // Each item present on entry is looked at once at most (those kept with `all` go to the
    // back, behind the ones still to look at).
    for _ in 0..held.len() {
        let Some(h) = held.pop_front() else {
            break;
        };
        if keep(&h) {
            if all {
                held.push_back(h);
                continue;
            }
            held.push_front(h);
            break;
        }
        release(h);
    }
}

/// Sends the held ICRP `h` ([`Lns::release_replies`]). A numbered ICRP goes even for a call
/// gone meanwhile: the LAC delivers in order, so its Ns must be filled (an ICRP for a call it
/// cleared changes nothing there, RFC 2661 7.4.1 idle); only an unnumbered one looks its call
/// up. The acknowledgement deferred for the ICRP: carried by it, else sent now.
fn release_held(core: &mut Core, released: &mut Released, now: Instant, h: HeldReply) {
    match h.reply {
        Reply::Reserved(ns) => {
            core.release_ctrl_acked(now, h.tunnel, ns);
            released.note(now, h.tunnel, h.session);
        }
        Reply::Message(icrp) => {
            let waiting = core
                .session_mut(h.tunnel, h.session)
                .is_some_and(|s| s.state == SessionState::WaitConnect);
            if waiting {
                core.send_setup(now, h.tunnel, h.session, *icrp);
            }
            core.ack_now(now, h.tunnel);
        }
    }
}

/// Releases the held ICRPs at the front of `held` up to the first one `waiting`, in order, as
/// [`release_held`] of each would: a run of numbered ones of one tunnel (a burst of set-ups
/// whose records shared a batch) is marked released one by one on one look-up of the tunnel's
/// channel ([`Channel::mark_released`]) and sent with one walk of the tunnel's window and one
/// flush ([`Core::release_marked_acked`]);
/// a run of one as [`release_held`] does (sent straight out in the usual case,
/// [`Core::release_ctrl_alone`]), and an unnumbered ICRP by [`release_held`].
fn release_runs(
    core: &mut Core,
    held: &mut VecDeque<HeldReply>,
    released: &mut Released,
    now: Instant,
    waiting: impl Fn(&HeldReply) -> bool,
) {
    // The next numbered ICRP of tunnel `tid`'s run, if the one at the front is such.
    let next = |held: &VecDeque<HeldReply>, tid: u16| {
        held.front().and_then(|n| match n.reply {
            Reply::Reserved(ns) if n.tunnel == tid && !waiting(n) => Some(ns),
            _ => None,
        })
    };
    while let Some(h) = held.front() {
        if waiting(h) {
            break;
        }
        let Some(h) = held.pop_front() else {
            break;
        };
        let Reply::Reserved(ns) = h.reply else {
            release_held(core, released, now, h);
            continue;
        };
        released.note(now, h.tunnel, h.session);
        let tid = h.tunnel;
        if next(held, tid).is_none() {
            // Alone (an isolated set-up's): sent straight out in the usual case.
            core.release_ctrl_alone(now, tid, ns);
            continue;
        }
        // A run: marked on one look-up of the tunnel's channel.
        if let Some(ch) = core.channel_mut(tid) {
            ch.mark_released(now, ns);
            while let Some(ns) = next(held, tid) {
                if let Some(n) = held.pop_front() {
                    released.note(now, n.tunnel, n.session);
                }
                ch.mark_released(now, ns);
            }
        }
        core.release_marked_acked(now, tid);
    }
}

/// Whether what `mark` covers is not yet applied by the peer of `ch` (module docs, output
/// commit): not committed, or the peer's bulk sync not acknowledged to its end.
fn uncommitted(ch: &Channel<Record>, mark: u64) -> bool {
    ch.committed() < mark || !ch.synced()
}

/// Whether the held reply `h` still waits: held for `backup`, whose channel has not committed
/// its record yet.
fn waits(channels: &PeerMap<Channel<Record>>, backup: Option<NodeId>, h: &HeldReply) -> bool {
    Some(h.peer) == backup
        && channels
            .get(&h.peer)
            .is_some_and(|c| uncommitted(c, h.mark))
}

/// The bulk-sync position of a tunnel (`None`) or session record.
fn position(tid: u16, sid: Option<u16>) -> u64 {
    (u64::from(tid) << 17) | sid.map_or(0, |s| u64::from(s) + 1)
}

/// The first established record at or after `cursor` (tunnels by id, each followed by its
/// sessions by id): the walk of a bulk sync.
fn walk(core: &Core, epochs: &BTreeMap<u16, u32>, cursor: u64) -> Option<(u64, Option<Record>)> {
    let first = u16::try_from(cursor >> 17).ok()?;
    let tid = core.tunnels.keys().copied().filter(|t| *t >= first).min()?;
    let sub = if tid == first { cursor & 0x1_ffff } else { 0 };
    if sub == 0 {
        let rec = core.export_tunnel(tid).map(|mut t| {
            t.epoch = epochs.get(&tid).copied().unwrap_or(0);
            Record::Tunnel(Box::new(t))
        });
        return Some((position(tid, None), rec));
    }
    let sid = core.tunnels.get(&tid).and_then(|t| {
        t.sessions
            .keys()
            .copied()
            .filter(|s| u64::from(*s) + 1 >= sub)
            .min()
    });
    match sid {
        Some(sid) => Some((
            position(tid, Some(sid)),
            core.export_session(tid, sid)
                .map(|s| with_call(core, Record::Session(s))),
        )),
        None => walk(core, epochs, position(tid.checked_add(1)?, None)),
    }
}

/// Whether `peer` acknowledged a batch of ours on `ch` since it last (re)started
/// (`acked_at_restart`: [`Replicator::acked_at_restart`]): it replicates (module docs, backup).
fn acknowledges(acked_at_restart: &[(NodeId, u64)], peer: NodeId, ch: &Channel<Record>) -> bool {
    let before = acked_at_restart
        .iter()
        .find_map(|(n, a)| (*n == peer).then_some(*a))
        .unwrap_or(0);
    ch.stats().acknowledged > before
}

/// Queues `rec` on `ch` (coalesced, [`coalesce`]) within `max_queue` records, counted in
/// `stats`; past that the queue is dropped for a bulk sync of the channel's next epoch, which
/// `generation` (the sequence of epochs over all peers) is kept above.
fn queue_record(
    ch: &mut Channel<Record>,
    rec: Record,
    max_queue: usize,
    generation: &mut u32,
    stats: &mut crate::l2tp::Stats,
) {
    let Some(rec) = coalesce(ch, rec) else {
        return;
    };
    if ch.enqueue(rec, max_queue) {
        // The sync that replaces the queue is of the channel's next epoch: the sequence of
        // epochs (`generation`) stays above every one used.
        *generation = (*generation).max(ch.epoch().wrapping_add(1));
        stats.replicas_overflowed = stats.replicas_overflowed.saturating_add(1);
    }
    stats.replicas_sent = stats.replicas_sent.saturating_add(1);
}

/// Coalesces `rec` into the last record queued on `ch` (module docs): a tunnel's sequence
/// numbers overwrite its update still queued (`None`: nothing more to queue); a session record
/// (up or gone) takes the place of its tunnel's update queued last, which is returned to be
/// queued after it; a session with its tunnel's sequence numbers replaces that update (its
/// numbers are the newer). Queued last, a session with its tunnel's numbers takes newer numbers
/// of that tunnel in place, and before another such record of the tunnel it is left a plain
/// session record (the new one carries the newer numbers). Else `rec`, to queue. What the
/// backup holds after applying the records queued is the same as without the merging, and so
/// after any prefix of them a state the sender passed through.
fn coalesce(ch: &mut Channel<Record>, rec: Record) -> Option<Record> {
    // A call's record with its tunnel's numbers merges as a session's with them does.
    let rec_tunnel = |rec: &Record| match rec {
        Record::SessionSequence { session, .. } => Some(session.tunnel),
        Record::Call(c) if c.sequence.is_some() => Some(c.session.tunnel),
        _ => None,
    };
    let queued = match ch.last_queued_mut() {
        Some(Record::TunnelSequence { tunnel, .. }) => *tunnel,
        Some(Record::Call(c)) if c.sequence.is_some() => match rec {
            Record::TunnelSequence { tunnel, ns, nr } if tunnel == c.session.tunnel => {
                c.sequence = Some((ns, nr));
                return None;
            }
            rec if rec_tunnel(&rec) == Some(c.session.tunnel) => {
                c.sequence = None;
                return Some(rec);
            }
            rec => return Some(rec),
        },
        Some(last @ Record::SessionSequence { .. }) => {
            let Record::SessionSequence {
                session: s,
                ns: last_ns,
                nr: last_nr,
            } = last
            else {
                return Some(rec);
            };
            match rec {
                Record::TunnelSequence { tunnel, ns, nr } if tunnel == s.tunnel => {
                    (*last_ns, *last_nr) = (ns, nr);
                    return None;
                }
                rec if rec_tunnel(&rec) == Some(s.tunnel) => {
                    *last = Record::Session(*s);
                    return Some(rec);
                }
                rec => return Some(rec),
            }
        }
        _ => return Some(rec),
    };
    let Some(last) = ch.last_queued_mut() else {
        return Some(rec);
    };
    match rec {
        rec if rec_tunnel(&rec) == Some(queued) => {
            *last = rec;
            None
        }
        Record::TunnelSequence { tunnel, .. } if tunnel == queued => {
            *last = rec;
            None
        }
        Record::Session(SessionRecord { tunnel, .. }) | Record::SessionGone { tunnel, .. }
            if tunnel == queued =>
        {
            Some(std::mem::replace(last, rec))
        }
        rec => Some(rec),
    }
}

impl Replicator {
    /// Replication state for a member keyed by `cluster` (module docs, transport).
    pub(super) fn new(cluster: Option<&crate::io::HmacMd5Key>) -> Replicator {
        Replicator {
            wire: Wire {
                mac: cluster.map(|k| CmacKey::derive(k, MAC_INFO)),
                token: cluster.map(|k| CmacKey::derive(k, TOKEN_INFO)),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// The next replication datagram to send.
    pub(super) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.wire.out.pop_front()
    }
}

impl Lns {
    /// The backup currently chosen (module docs of `lns::replicate`).
    pub fn backup(&self) -> Option<NodeId> {
        self.repl.backup
    }

    /// The members given up as backup because they left a batch of ours unacknowledged for a
    /// health Down interval, not chosen again until they acknowledge one or send one of theirs,
    /// or restart (counted in [`crate::l2tp::Stats::backups_unresponsive`]; module docs of
    /// `lns::replicate`, backup); in the order given up, at most one per heartbeat peer.
    pub fn unresponsive_members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.repl.unresponsive.iter().map(|(n, _)| *n)
    }

    /// Queues `rec` for `to` (module docs: bounded, else a bulk sync).
    pub(super) fn send_record(&mut self, to: NodeId, rec: Record) {
        self.send_records(to, [Some(rec)]);
    }

    /// The commit mark ([`Channel::mark`]) of what is queued for `to` when not all of it is
    /// applied by `to` yet (module docs, output commit); `None` when it is, or without a
    /// channel to `to`.
    fn pending_mark(&self, to: NodeId) -> Option<u64> {
        let ch = self.repl.channels.get(&to)?;
        uncommitted(ch, ch.mark()).then(|| ch.mark())
    }

    /// Queues the records of `recs` for `to` in order, as [`Lns::send_record`] each, with one
    /// look-up of `to`'s address and channel for them all; then what [`Lns::pending_mark`]
    /// gives for `to`, from the same look-up.
    fn send_records<const N: usize>(
        &mut self,
        to: NodeId,
        recs: [Option<Record>; N],
    ) -> Option<u64> {
        let Some(max_queue) = self.cfg.replication.as_ref().map(|c| c.max_queue) else {
            return self.pending_mark(to);
        };
        if self.monitor().and_then(|m| m.addr_of(to)).is_none() {
            return self.pending_mark(to);
        }
        let ch = self.repl.channels.get_or_default(to);
        for rec in recs.into_iter().flatten() {
            let generation = &mut self.repl.generation;
            queue_record(ch, rec, max_queue, generation, &mut self.core.stats);
        }
        uncommitted(ch, ch.mark()).then(|| ch.mark())
    }

    /// The set-up lane (module docs, records): a set-up's record `rec` for `to`, with nothing
    /// queued for `to` and nothing else to queue before the input's flush
    /// ([`Lns::flush_replication`]), is sealed at once in a batch of its own when `to`'s
    /// channel is idle ([`Channel::send_alone`]): the datagram, and the channel and wire after
    /// it, that [`Lns::send_records`] then the flush give (no other channel's batch is due in
    /// that flush), without the queue and the flush's walk of the channels; a set-up's record
    /// (the usual one) is written with its batch on the stack ([`Wire::seal_setup`]), not
    /// through the buffer's writes of [`crate::replica::encode_batch`]. Else as
    /// [`Lns::send_records`]. Returns what it returns.
    fn send_setup_record(&mut self, now: Instant, to: NodeId, rec: Record) -> Option<u64> {
        let Some(cfg) = &self.cfg.replication else {
            return self.send_records(to, [Some(rec)]);
        };
        let Some(m) = self.health.as_ref().map(crate::health::Embedded::monitor) else {
            return self.send_records(to, [Some(rec)]);
        };
        let Some(dst) = m.addr_of(to) else {
            return self.send_records(to, [Some(rec)]);
        };
        let Replicator {
            channels,
            wire,
            backup,
            linger_until,
            generation,
            ..
        } = &mut self.repl;
        // Another channel's batch due in the flush: the lane would seal this one first.
        if channels.values().any(|c| c.ready(now)) {
            return self.send_records(to, [Some(rec)]);
        }
        let ch = channels.get_or_default(to);
        let stats = &mut self.core.stats;
        match ch.send_alone(rec, cfg.max_queue, now, cfg.retransmit) {
            Ok(seq) => {
                stats.replicas_sent = stats.replicas_sent.saturating_add(1);
                if *backup == Some(to) {
                    *linger_until = None;
                }
                let (node, inc) = (m.node(), m.incarnation());
                match ch.in_flight() {
                    // The usual batch: its one set-up's record written in place on the stack.
                    Some((_, [Entry::Item(rec)]))
                        if wire.seal_setup((to, dst), seq, rec, node, inc) => {}
                    Some((_, items)) => {
                        let body =
                            |out: &mut BytesMut| crate::replica::encode_batch(seq, items, out);
                        wire.seal(dst, KIND_REPLICATE, node, inc, Some((to, seq)), body);
                    }
                    None => {}
                }
            }
            // Queued as `send_records` would, on the same look-up.
            Err(rec) => queue_record(ch, rec, cfg.max_queue, generation, stats),
        }
        uncommitted(ch, ch.mark()).then(|| ch.mark())
    }

    /// Queues a record for the backup.
    fn replicate(&mut self, rec: Record) {
        if let Some(b) = self.repl.backup {
            self.send_record(b, rec);
        }
    }

    /// Tunnel `tid` as it stands (when established).
    pub(super) fn replicate_tunnel(&mut self, tid: u16) {
        if let Some(mut t) = self.core.export_tunnel(tid) {
            t.epoch = self.backups.epochs.get(&tid).copied().unwrap_or(0);
            self.replicate(Record::Tunnel(Box::new(t)));
        }
    }

    /// The control channel sequence numbers of tunnel `tid` (when established).
    fn sequence(&self, tid: u16) -> Option<Record> {
        self.core
            .export_sequence(tid)
            .map(|(ns, nr)| Record::TunnelSequence {
                tunnel: tid,
                ns,
                nr,
            })
    }

    /// Session `sid` of `tid` came up: it and its tunnel's sequence numbers, in one record
    /// ([`Record::SessionSequence`]; either alone when the other is not to be had).
    pub(super) fn replicate_session(&mut self, tid: u16, sid: u16) {
        let Some(b) = self.repl.backup else {
            return;
        };
        let session = self.core.export_session(tid, sid);
        let sequence = self.core.export_sequence(tid);
        if let Some(rec) = session_sequence(tid, session, sequence) {
            let rec = with_call(&self.core, rec);
            self.send_record(b, rec);
        }
    }

    /// The details of the call of session `sid` of `tid` changed by `update` (its ICCN's): a
    /// [`Record::CallUpdate`] for the backup, which lingers (module docs, records: it holds no
    /// answer back).
    pub(super) fn replicate_call_update(
        &mut self,
        tid: u16,
        sid: u16,
        update: super::super::call::PackedCallDetails,
    ) {
        self.replicate(Record::CallUpdate {
            tunnel: tid,
            session: sid,
            details: update,
        });
    }

    /// Session `sid` of `tid` answered with `icrp` (its ICRQ taken, RFC 2661 7.4.2): with a
    /// backup, the ICRP is numbered in the control channel first (its Ns travels with the
    /// session's record, `tunnel::snapshot` docs), the session replicated in wait-connect, and
    /// the ICRP held until the backup applied the record (module docs, output commit); sent at
    /// once without a backup.
    pub(super) fn reply_committed(
        &mut self,
        now: Instant,
        tid: u16,
        sid: u16,
        icrp: ControlMessage<'static>,
    ) {
        let Some(b) = self.repl.backup else {
            self.replicate_session(tid, sid);
            // The set-up timer is armed as the ICRP leaves (`Core::send_setup`).
            self.core.send_setup(now, tid, sid, icrp);
            return;
        };
        // Held for the backup, the call's set-up wait runs from now, moved to the ICRP's
        // release when it is released (`Released`).
        self.core.arm_setup(now, tid, sid);
        // Numbered now when the channel can (else held unnumbered: the record then carries no
        // Ns, and a backup adopts the call as the LAC may hold it, established).
        // Its Ns noted on the session and the session's record made at the same look-up.
        let (reply, session, sequence) = self.core.reserve_answered(tid, sid, icrp);
        let reply = match reply {
            Ok(ns) => Reply::Reserved(ns),
            Err(icrp) => Reply::Message(Box::new(icrp)),
        };
        // Queued, and what is queued for the backup looked at, with one look-up of its
        // channel.
        // The last thing this input hands up (nothing more to queue before the flush that
        // ends it): the record's own batch sealed now when the channel is idle (set-up lane).
        // With the call's details (the ICRQ's) when it has any (module docs, records).
        let record = session_sequence(tid, session, sequence).map(|r| with_call(&self.core, r));
        let pending = match record {
            Some(rec) if self.core.ups.is_empty() => self.send_setup_record(now, b, rec),
            Some(rec) => self.send_records(b, [Some(rec)]),
            None => self.pending_mark(b),
        };
        match pending.map(|mark| (b, mark)) {
            Some((peer, mark)) => {
                // The ICRQ's acknowledgement rides on the ICRP (module docs, output commit);
                // in a burst on the tunnel, a ZLB once half our window of the LAC's messages
                // waits, so that the LAC's window stays open.
                self.core.defer_ack_within_window(now, tid);
                self.repl.held.push_back(HeldReply {
                    peer,
                    mark,
                    tunnel: tid,
                    session: sid,
                    reply,
                });
            }
            None => self.send_reply(now, tid, sid, reply),
        }
    }

    /// Session `sid` of `tid`, adopted from a replicated record (a takeover, or a late record:
    /// `takeover` docs) with its ICRP pinned held at Ns `ns` ([`Core::adopt_session`],
    /// [`Core::held_pin`]), its record just queued for the backup: the ICRP is held until the
    /// backup applied that record, as an answered call's is (module docs, output commit):
    /// the LAC holds the call up once it has the ICRP (it answers with the ICCN, RFC 2661
    /// 7.4.1), so a crash of ours before the backup holds the call would lose a call the LAC
    /// has up (crash during set-up seed 11290: a taker's late records of nine calls waited
    /// behind the linger while their ICRPs left). Released at once without a backup, or
    /// with everything committed.
    pub(super) fn commit_adopted(&mut self, now: Instant, tid: u16, sid: u16, ns: u16) {
        let pending = self
            .repl
            .backup
            .and_then(|b| self.pending_mark(b).map(|mark| (b, mark)));
        match pending {
            Some((peer, mark)) => self.repl.held.push_back(HeldReply {
                peer,
                mark,
                tunnel: tid,
                session: sid,
                reply: Reply::Reserved(ns),
            }),
            None => self.send_reply(now, tid, sid, Reply::Reserved(ns)),
        }
    }

    /// The message `ns` of tunnel `tid` (a CDN) decided what the records just queued for the
    /// backup say: its acknowledgement waits until the backup applied them (module docs, output
    /// commit); nothing without a backup or with everything committed.
    pub(super) fn ack_committed(&mut self, tid: u16, ns: u16) {
        let Some(peer) = self.repl.backup else {
            return;
        };
        let Some(mark) = self
            .repl
            .channels
            .get(&peer)
            .and_then(|ch| uncommitted(ch, ch.mark()).then(|| ch.mark()))
        else {
            return;
        };
        self.core.hold_ack(tid, ns);
        self.repl.held_acks.push_back(HeldAck {
            peer,
            mark,
            tunnel: tid,
            ns,
        });
    }

    /// Releases the held acknowledgements whose records the backup applied, and those held for
    /// a member that is no longer the backup.
    fn release_acks(&mut self, now: Instant) {
        let backup = self.repl.backup;
        while let Some(h) = self.repl.held_acks.front() {
            let waiting = Some(h.peer) == backup
                && self
                    .repl
                    .channels
                    .get(&h.peer)
                    .is_some_and(|c| uncommitted(c, h.mark));
            if waiting {
                break;
            }
            let Some(h) = self.repl.held_acks.pop_front() else {
                break;
            };
            self.core.release_ack(now, h.tunnel, h.ns);
        }
    }

    /// Sends a held ICRP: releases its Ns, or sends the message.
    fn send_reply(&mut self, now: Instant, tid: u16, sid: u16, reply: Reply) {
        match reply {
            Reply::Reserved(ns) => self.core.release_ctrl(now, tid, ns),
            Reply::Message(icrp) => self.core.send_setup(now, tid, sid, *icrp),
        }
    }

    /// Whether [`Lns::release_replies`] has nothing to release: no acknowledgement held, and
    /// no ICRP, or the first one waits for the backup (which holds back all after it) and none
    /// is held for a former backup. Looked at inline, ahead of the call (a set-up's batch
    /// leaving with its ICRP held; each message of a burst taken while its batch is in flight).
    #[inline]
    fn nothing_to_release(&self) -> bool {
        let r = &self.repl;
        r.held_acks.is_empty()
            && r.held
                .front()
                .is_none_or(|h| !r.held_mixed && waits(&r.channels, r.backup, h))
    }

    /// Sends the held ICRPs whose records the backup applied, and those held for a member that
    /// is no longer the backup (counted in [`crate::l2tp::Stats::setups_not_replicated`]); an
    /// ICRP whose session went meanwhile is dropped.
    #[inline(never)]
    fn release_replies(&mut self, now: Instant) {
        self.release_acks(now);
        // Held in the order made, for the backup while it stays: none goes before the first.
        if self.nothing_to_release() {
            return;
        }
        let backup = self.repl.backup;
        let mixed = std::mem::replace(&mut self.repl.held_mixed, false);
        // The releasable ones from the front (all that can go when the backup stayed); with a
        // former backup's among them, every one is looked at.
        let (repl, core) = (&mut self.repl, &mut self.core);
        let keep = |h: &HeldReply| waits(&repl.channels, backup, h);
        release_in_order(&mut repl.held, mixed, keep, |h| {
            if Some(h.peer) != backup {
                let n = &mut core.stats.setups_not_replicated;
                *n = n.saturating_add(1);
            }
            release_held(core, &mut repl.released, now, h);
        });
    }

    /// The backup `peer` just acknowledged a batch: the held acknowledgements, then the held
    /// ICRPs at the front of the queue that were waiting for it and are now applied by it, are
    /// released, in order, as [`Lns::release_replies`] would release them; what waits behind
    /// the first one not released (another batch, a former backup's) is left to it.
    fn release_committed(&mut self, now: Instant, peer: NodeId) {
        // Nearly always none held (checked here, no call).
        if !self.repl.held_acks.is_empty() {
            self.release_acks(now);
        }
        let Some((committed, synced)) = self
            .repl
            .channels
            .get(&peer)
            .map(|ch| (ch.committed(), ch.synced()))
        else {
            return;
        };
        let waiting = |h: &HeldReply| h.peer != peer || h.mark > committed || !synced;
        let repl = &mut self.repl;
        release_runs(
            &mut self.core,
            &mut repl.held,
            &mut repl.released,
            now,
            waiting,
        );
    }

    /// Session `sid` of `tid` went down.
    pub(super) fn replicate_session_gone(&mut self, tid: u16, sid: u16) {
        let Some(b) = self.repl.backup else {
            return;
        };
        let gone = Record::SessionGone {
            tunnel: tid,
            session: sid,
        };
        self.send_records(b, [Some(gone), self.sequence(tid)]);
    }

    /// Tunnel `tid` went down.
    pub(super) fn replicate_tunnel_gone(&mut self, tid: u16) {
        self.backups.epochs.remove(&tid);
        self.replicate(Record::TunnelGone { tunnel: tid });
    }

    /// A bulk sync to `node`: our table under the next epoch if it is the backup, else empty
    /// under epoch 0 (a release: what `node` held for us is swept, and its copy claims nothing,
    /// `takeover` docs). The records still queued for `node` that the sync replaces are
    /// dropped (module docs, backup): those of a tunnel we hold, and a removal of what we hold
    /// again; notices and the records of tunnels we no longer hold (late records to a taker,
    /// `takeover` docs) stay, sent after the sync.
    fn restart_bulk(&mut self, node: NodeId) {
        if self.monitor().and_then(|m| m.addr_of(node)).is_none() {
            return;
        }
        let g = if self.repl.backup == Some(node) {
            self.repl.generation = self.repl.generation.wrapping_add(1);
            self.repl.generation
        } else {
            0
        };
        // Records of our table queued from an earlier turn of `node` as backup missed what
        // changed since; the sync carries what they said.
        let tunnels = &self.core.tunnels;
        let ours = |t: &u16| tunnels.contains_key(t);
        let replaced = |r: &Record| match r {
            Record::Tunnel(t) => ours(&t.tunnel),
            Record::TunnelSequence { tunnel, .. } | Record::CallUpdate { tunnel, .. } => {
                ours(tunnel)
            }
            Record::Session(s) | Record::SessionSequence { session: s, .. } => ours(&s.tunnel),
            Record::Call(c) => ours(&c.session.tunnel),
            // A removal is replaced when the sync names what it removed (a later one of that
            // id); else it is kept, removing nothing the sync carries (a call ended on a tunnel
            // another member took from us, a late record for it: `takeover` docs).
            Record::SessionGone { tunnel, session } => tunnels
                .get(tunnel)
                .is_some_and(|t| t.sessions.contains_key(session)),
            Record::TunnelGone { tunnel } => ours(tunnel),
            _ => false,
        };
        let ch = self.repl.channels.get_or_default(node);
        ch.restart_bulk_replacing(g, replaced);
        self.core.stats.replica_syncs = self.core.stats.replica_syncs.saturating_add(1);
    }

    /// Releases the former backups once the backup's bulk sync is acknowledged to its end
    /// (module docs, backup): until then a crash leaves the calls at a former backup, whose
    /// older copy wins no claim against a complete newer one.
    fn release_former_backups(&mut self) {
        // None to release (nearly every acknowledgement): no look-up of the backup's channel.
        if self.repl.releasing.is_empty() {
            return;
        }
        let synced = self
            .repl
            .backup
            .and_then(|b| self.repl.channels.get(&b))
            .is_some_and(Channel::synced);
        if !synced {
            return;
        }
        for node in std::mem::take(&mut self.repl.releasing) {
            self.restart_bulk(node);
        }
    }

    /// Notes that `failed`, taken over just now, may hold a yielded copy of what we took
    /// (`takeover` docs): released once it has our notice and our backup holds our copy.
    pub(super) fn release_yielded_later(&mut self, failed: NodeId) {
        let mark = |n: NodeId| self.repl.channels.get(&n).map_or(0, Channel::mark);
        let y = Yielder {
            node: failed,
            notice: mark(failed),
            backup: self.repl.backup.map(|b| (b, mark(b))),
        };
        self.repl.yielders.retain(|y| y.node != failed);
        self.repl.yielders.push(y);
        self.release_yielders();
    }

    /// Releases the yielded copies due (module docs, backup; `takeover` docs, yielded copy).
    fn release_yielders(&mut self) {
        if self.repl.yielders.is_empty() {
            return;
        }
        let backup = self.repl.backup;
        // (No channel to a member: nothing was sent to it, so it holds no copy.)
        let committed = |n: NodeId, m: u64| {
            self.repl
                .channels
                .get(&n)
                .is_none_or(|ch| ch.committed() >= m)
        };
        let backed = backup
            .and_then(|b| self.repl.channels.get(&b).map(|ch| (b, ch)))
            .filter(|(_, ch)| ch.synced());
        let mut due = Vec::new();
        self.repl.yielders.retain(|y| {
            // Our backup now: its bulk sync replaces the copy.
            if Some(y.node) == backup {
                return false;
            }
            let holds = match (backed, y.backup) {
                (Some((b, _)), Some((was, m))) if b == was => committed(b, m),
                (Some(_), _) => true,
                (None, _) => false,
            };
            if holds && committed(y.node, y.notice) {
                due.push(y.node);
                return false;
            }
            true
        });
        for node in due {
            self.restart_bulk(node);
        }
    }

    /// Keeps a live backup chosen by load and in sync (module docs).
    pub(super) fn ensure_backup(&mut self) {
        if self.cfg.replication.is_none() {
            return;
        }
        let Some(m) = self.monitor() else {
            return;
        };
        // A member given up as unresponsive is never chosen while marked (module docs, backup).
        let unresponsive = |n: NodeId| self.repl.unresponsive.iter().any(|(u, _)| *u == n);
        let up = |n: NodeId| m.state(n) == Some(NodeState::Up) && !unresponsive(n);
        let alive = |n: NodeId| {
            matches!(m.state(n), Some(NodeState::Up | NodeState::Suspect)) && !unresponsive(n)
        };
        let keep = self.repl.backup.filter(|b| alive(*b));
        let chosen = keep.or_else(|| {
            let view = self.pool_view();
            let channels = &self.repl.channels;
            // A full member only if it replicates (it has sent us batches, or acknowledged
            // ours): a contact LNS that only redirects reports itself full too.
            let replicates = |a| {
                view.node_at(a).is_some_and(|n| {
                    up(n)
                        && channels
                            .get(&n)
                            .is_some_and(|c| c.received_any() || c.committed() > 0)
                })
            };
            view.select_where(|a| view.node_at(a).is_some_and(up))
                .or_else(|| view.most_spare_of_all(replicates))
                .and_then(|a| view.node_at(a))
        });
        if chosen == self.repl.backup {
            return;
        }
        let old = std::mem::replace(&mut self.repl.backup, chosen);
        self.repl.held_mixed = true;
        // The linger was the former backup's (module docs, records).
        self.repl.linger_until = None;
        if let Some(c) = chosen {
            self.repl.releasing.retain(|n| *n != c);
            self.restart_bulk(c);
            // What waited for the former backup waits for this one's whole sync (output
            // commit): the sync carries it.
            if let Some(mark) = self.repl.channels.get(&c).map(Channel::mark) {
                let held = self
                    .repl
                    .held
                    .iter_mut()
                    .map(|h| (&mut h.peer, &mut h.mark));
                let acks = self.repl.held_acks.iter_mut();
                for (peer, m) in held.chain(acks.map(|h| (&mut h.peer, &mut h.mark))) {
                    if *peer != c {
                        (*peer, *m) = (c, mark);
                    }
                }
            }
        }
        if let Some(o) = old.filter(|o| !self.repl.releasing.contains(o)) {
            self.repl.releasing.push(o);
        }
    }

    /// How long a backup may leave a batch of ours unacknowledged before it is given up
    /// (module docs, backup): the health Down interval ([`crate::health::HealthConfig::down_after`],
    /// 4 s by default), never less than two retransmission timeouts at
    /// [`ReplicationConfig::retransmit_cap`] (4 s by default).
    pub(super) fn unresponsive_after(&self) -> Duration {
        let cap = self
            .cfg
            .replication
            .as_ref()
            .map_or(Duration::ZERO, |c| c.retransmit_cap);
        self.cfg.health.down_after().max(cap.saturating_mul(2))
    }

    /// Gives the backup up when a batch of ours has been in flight to it, unacknowledged, for
    /// [`Lns::unresponsive_after`] as the timers saw it, and, when the backup acknowledged a
    /// batch of ours since it (re)started, through [`crate::l2tp::Config::max_retries`]
    /// retransmissions, the last one's timeout run out (module docs, backup): it is marked
    /// unresponsive (counted in [`crate::l2tp::Stats::backups_unresponsive`]) and another is
    /// chosen ([`Lns::ensure_backup`]), what was held for it waiting for the new one's sync, or
    /// released at once with none left. Called from the timers only, never on a set-up: the
    /// batch in flight always has a retransmission deadline, so a timer sees it within
    /// [`ReplicationConfig::retransmit`] of its first transmission (before it is sent again),
    /// and again at least every [`ReplicationConfig::retransmit_cap`] (and heartbeat interval)
    /// after.
    pub(super) fn give_up_silent_backup(&mut self, now: Instant) {
        let in_flight = self.repl.backup.and_then(|b| {
            let ch = self.repl.channels.get(&b)?;
            let (seq, _) = ch.in_flight()?;
            Some((b, seq, ch))
        });
        let Some((b, seq, ch)) = in_flight else {
            self.repl.watch = None;
            return;
        };
        let stats = ch.stats();
        match self.repl.watch {
            Some(w) if (w.node, w.seq) == (b, seq) => {
                if now.saturating_duration_since(w.since) < self.unresponsive_after() {
                    return;
                }
                // It replicates: a batch it leaves unanswered is likelier lost, as a heartbeat
                // is. It is given up as the control channel gives a peer up (RFC 2661 5.8): the
                // batch sent again `max_retries` times, the last unanswered within its timeout
                // (a path filtered since; not while it is Suspect: nothing is sent again then).
                if acknowledges(&self.repl.acked_at_restart, b, ch) {
                    let tries = stats.retransmits.saturating_sub(w.retransmits);
                    let due = ch.deadline().is_some_and(|d| d <= now);
                    if tries < u64::from(self.cfg.common.max_retries) || !due {
                        return;
                    }
                }
            }
            _ => {
                self.repl.watch = Some(Watch {
                    node: b,
                    seq,
                    since: now,
                    retransmits: stats.retransmits,
                });
                return;
            }
        }
        self.repl.watch = None;
        let monitor = self.health.as_ref().map(crate::health::Embedded::monitor);
        // Bounded by the monitor's peers: those it no longer knows go.
        let sent_us = self
            .repl
            .channels
            .get(&b)
            .is_some_and(Channel::received_any);
        let marks = &mut self.repl.unresponsive;
        marks.retain(|(n, _)| *n != b && monitor.is_some_and(|m| m.addr_of(*n).is_some()));
        marks.push((b, sent_us));
        let n = &mut self.core.stats.backups_unresponsive;
        *n = n.saturating_add(1);
        self.ensure_backup();
    }

    /// `node` showed that it replicates: `acked`, it acknowledged a batch of ours; else a
    /// batch of its was taken. It is no longer unresponsive (module docs, backup), unless it
    /// had sent us batches already when given up and this is another one (what failed was our
    /// path to it), and may be chosen again, at once when no backup is left. Nearly always none
    /// is marked (checked inline, no call).
    #[inline(always)]
    fn replicates(&mut self, node: NodeId, acked: bool) {
        if !self.repl.unresponsive.is_empty() {
            self.clear_unresponsive(node, acked);
        }
    }

    /// [`Lns::replicates`] with a member marked.
    #[inline(never)]
    fn clear_unresponsive(&mut self, node: NodeId, acked: bool) {
        let before = self.repl.unresponsive.len();
        self.repl
            .unresponsive
            .retain(|(n, sent_us)| *n != node || (*sent_us && !acked));
        if self.repl.unresponsive.len() != before && self.repl.backup.is_none() {
            self.ensure_backup();
        }
    }

    /// `node` restarted: its batch numbers start again; if it is our backup, what it held is
    /// gone. A mark of unresponsive goes (module docs, backup): the new incarnation is judged
    /// afresh.
    pub(super) fn peer_restarted(&mut self, node: NodeId) {
        self.repl.unresponsive.retain(|(n, _)| *n != node);
        if self.repl.watch.is_some_and(|w| w.node == node) {
            self.repl.watch = None;
        }
        // What it acknowledged so far was the former incarnation's (module docs, backup).
        let acked = self
            .repl
            .channels
            .get(&node)
            .map_or(0, |ch| ch.stats().acknowledged);
        let monitor = self.health.as_ref().map(crate::health::Embedded::monitor);
        let marks = &mut self.repl.acked_at_restart;
        marks.retain(|(n, _)| *n != node && monitor.is_some_and(|m| m.addr_of(*n).is_some()));
        marks.push((node, acked));
        self.repl.yielders.retain(|y| y.node != node);
        // Its tokens answered transmissions to the incarnation that is gone: one delayed past
        // the restart acknowledges nothing for the new one (module docs, acknowledgement
        // tokens).
        if let Some(sent) = self.repl.wire.sent.get_mut(&node) {
            *sent = SentTags::default();
        }
        if let Some(ch) = self.repl.channels.get_mut(&node) {
            ch.reset_incoming();
        }
        if self.repl.backup == Some(node) {
            self.restart_bulk(node);
        }
    }

    /// Sends every batch ready (new ones, and those due again at `now`), and releases what the
    /// backup's acknowledgements committed.
    #[inline(always)]
    pub(super) fn flush_replication(&mut self, now: Instant) {
        // No batch to send: only what is held may go (while a batch of a burst's set-ups is in
        // flight, each message taken looks at the first held ICRP alone); nothing held either:
        // nothing to do (most inputs; no channel without replication). Checked inline ahead of
        // the calls that do the work.
        if !self.repl.channels.values().any(|ch| ch.ready(now)) {
            if !self.nothing_to_release() {
                self.release_replies(now);
            }
            return;
        }
        self.flush_ready(now);
    }

    /// [`Lns::flush_replication`] with something held or a batch ready.
    #[inline(never)]
    fn flush_ready(&mut self, now: Instant) {
        let Some(cfg) = &self.cfg.replication else {
            return;
        };
        let monitor = self.health.as_ref().map(crate::health::Embedded::monitor);
        let (core, epochs) = (&self.core, &self.backups.epochs);
        let Replicator {
            channels,
            wire,
            backup,
            held,
            held_acks,
            linger_until,
            acked_at_restart,
            ..
        } = &mut self.repl;
        // Records to the backup that hold no ICRP back linger (module docs, records).
        let urgent = held.back().is_some_and(|h| Some(h.peer) == *backup)
            || held_acks.back().is_some_and(|h| Some(h.peer) == *backup);
        for (peer, ch) in channels.iter_mut().filter(|(_, ch)| ch.ready(now)) {
            let Some(m) = monitor else {
                break;
            };
            let lingers = *backup == Some(peer)
                && !urgent
                && ch.in_flight().is_none()
                && ch.bulk() == BulkSync::Idle;
            if lingers {
                let until = *linger_until.get_or_insert(now + cfg.linger);
                if now < until {
                    continue;
                }
            }
            if *backup == Some(peer) {
                *linger_until = None;
            }
            let is_backup = *backup == Some(peer);
            // The peer's state matters to a batch due again only (no look-up otherwise).
            let due = ch.deadline().is_some_and(|d| d <= now);
            let resent = due
                .then(|| {
                    let up = m.state(peer) == Some(NodeState::Up);
                    // A backup not known to replicate is probed at twice the first timeout at
                    // most, so that the Down interval that judges it holds enough transmissions
                    // for loss alone not to outlast it (module docs, backup).
                    let cap = match is_backup && !acknowledges(acked_at_restart, peer, ch) {
                        true => cfg.retransmit_cap.min(cfg.retransmit * 2),
                        false => cfg.retransmit_cap,
                    };
                    ch.resend_due(now, up, cap)
                })
                .flatten();
            let seq = resent.or_else(|| {
                ch.send_next(now, cfg.retransmit, |c| match is_backup {
                    true => walk(core, epochs, c),
                    false => None,
                })
            });
            if let (Some(seq), Some((_, items))) = (seq, ch.in_flight()) {
                let body = |out: &mut BytesMut| crate::replica::encode_batch(seq, items, out);
                seal(wire, m, peer, seq, body);
            }
        }
        // (A batch sent commits nothing: what is held waits as it did.)
        if !self.nothing_to_release() {
            self.release_replies(now);
        }
    }

    /// The earliest retransmission deadline.
    pub(super) fn replication_deadline(&self) -> Option<Instant> {
        let r = &self.repl;
        // The linger's end is a deadline while the backup's channel holds records and nothing
        // in flight (what `flush_ready` sends when it ends); one left from a former backup, or
        // with nothing left to send, is none (else a deadline in the past for good: a driver
        // would call `handle_timeout` again and again).
        let linger = r.linger_until.filter(|_| {
            r.backup
                .and_then(|b| r.channels.get(&b))
                .is_some_and(|ch| ch.in_flight().is_none() && ch.backlog() > 0)
        });
        r.channels
            .values()
            .filter_map(Channel::deadline)
            .chain(linger)
            .min()
    }

    /// A batch read by one of [`Lns::replica_input`]'s fast paths, authenticated and fresh in
    /// the window: acknowledged (to `dst`, the token answering `data`'s tag), applied with
    /// `apply` when its `seq` is new on the sender's channel (a duplicate is acknowledged
    /// again, not applied), then what that released flushed.
    fn apply_fast(
        &mut self,
        now: Instant,
        dst: SocketAddr,
        seq: u64,
        h: &crate::replica::Header,
        data: &[u8],
        apply: impl FnOnce(&mut Lns),
    ) {
        let monitor = self.health.as_ref().map(crate::health::Embedded::monitor);
        if let (Some(m), Some(tag)) = (monitor, data.last_chunk::<TAG_LEN>()) {
            self.repl.wire.send_ack(dst, seq, m.node(), tag);
        }
        if self.repl.channels.get_or_default(h.sender).receive(seq) {
            apply(self);
        }
        self.flush_replication(now);
    }

    /// A replication datagram (module docs): authenticated, fresh, from a monitor peer.
    #[inline(never)]
    pub(super) fn replica_input(
        &mut self,
        now: Instant,
        _from: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let mac = match &mut self.repl.wire.mac {
            Some(mac) if self.cfg.replication.is_some() => mac,
            _ => return Err(InputError::Unexpected(Unexpected::Replication)),
        };
        // An acknowledgement token (module docs, transport): no envelope.
        if data.get(3..5) == Some(&[ENVELOPE.version, KIND_TOKEN]) {
            return self.token_input(now, data);
        }
        let (h, body) = ENVELOPE
            .open_with(mac, data)
            .map_err(|_| InputError::NotAuthorized)?;
        let Some(dst) = self.monitor().and_then(|m| m.addr_of(h.sender)) else {
            return Err(InputError::NotAuthorized);
        };
        // A former incarnation of a member seen restarted is gone (`takeover` docs, restart).
        if self.stale_incarnation(h.sender, h.incarnation) {
            return Err(InputError::NotAuthorized);
        }
        let window = self.repl.windows.get_or_default(h.sender);
        let before = window.incarnation();
        if !window.admit(&h) {
            return Err(InputError::NotAuthorized);
        }
        // Another incarnation than the last seen here: perhaps its restart, before its
        // heartbeat told health (`takeover` docs, restart).
        if h.incarnation != before {
            self.sender_incarnation(now, h.sender, h.incarnation, before);
        }
        // Its batch, authenticated and fresh: it replicates (module docs, backup).
        self.replicates(h.sender, false);
        let mut r = Reader::at(body, HEADER_LEN);
        match h.kind {
            KIND_REPLICATE => {
                // Parsed whole before anything is applied (a malformed batch changes nothing):
                // a batch of one entry (a set-up's record) into a local, others into the
                // buffer kept for them.
                let (seq, count) =
                    parse_batch_head::<Record>(&mut r).map_err(InputError::Replica)?;
                // A set-up's record with its tunnel's sequence numbers (module docs, records),
                // with its call's details or without.
                let setup = match r.rest().split_first() {
                    Some((&SESSION_SEQUENCE, b)) if count == 1 => Record::session_sequence_short(b)
                        .map(|(session, ns, nr, _)| (session, (ns, nr), None)),
                    Some((&CALL, b)) if count == 1 => match Record::call_short(b) {
                        Some((
                            CallRecord {
                                session,
                                sequence: Some(sequence),
                                details,
                            },
                            _,
                        )) => Some((session, sequence, Some(details))),
                        _ => None,
                    },
                    _ => None,
                };
                // Calls' details from their ICCNs (module docs, records), lingered into a batch
                // of their own: every entry checked first, then merged straight from the
                // datagram.
                let one = match r.rest().split_first() {
                    Some((&CALL_UPDATE, b)) if count == 1 => Record::call_update_short(b),
                    _ => None,
                };
                let mut many = super::super::replica::CallUpdates::new();
                let updates = match one.as_ref() {
                    Some(u) => Some(std::slice::from_ref(u)),
                    None if count > 1 && setup.is_none() => {
                        super::super::replica::call_updates(r.rest(), count, &mut many)
                            .then_some(&many[..])
                    }
                    None => None,
                };
                if let Some(updates) = updates {
                    self.apply_fast(now, dst, seq, &h, data, |lns| {
                        lns.apply_call_updates(now, &h, updates)
                    });
                    return Ok(());
                }
                // The usual batch: acknowledged, then applied to the sender's held table
                // straight from its parse.
                if let Some((session, sequence, details)) = setup {
                    self.apply_fast(now, dst, seq, &h, data, |lns| {
                        lns.apply_setup(now, &h, session, sequence, details)
                    });
                    return Ok(());
                }
                // A batch of set-ups' and tear-downs' records (calls' among them), from a
                // sender that sends no late records: read in place, no call's record boxed,
                // and applied as `apply_alone` would apply it.
                let mut entries = super::super::replica::SetupEntries::new();
                if count > 0
                    && !self.may_send_late(h.sender)
                    && super::super::replica::setup_entries(r.rest(), count, &mut entries)
                {
                    self.apply_fast(now, dst, seq, &h, data, |lns| {
                        lns.apply_setup_entries(now, &h, entries.drain(..))
                    });
                    return Ok(());
                }
                let batch = match count {
                    1 => Batch::One(Entry::parse(&mut r).map_err(InputError::Replica)?),
                    _ => {
                        let mut items = std::mem::take(&mut self.repl.inbox);
                        parse_entries_into(&mut r, count, &mut items)
                            .map_err(InputError::Replica)?;
                        Batch::Many(items)
                    }
                };
                let monitor = self.health.as_ref().map(crate::health::Embedded::monitor);
                // To the sender's address, looked up above; the datagram's tag (authenticated
                // above) is what the token answers.
                if let (Some(m), Some(tag)) = (monitor, data.last_chunk::<TAG_LEN>()) {
                    self.repl.wire.send_ack(dst, seq, m.node(), tag);
                }
                let fresh = self.repl.channels.get_or_default(h.sender).receive(seq);
                match batch {
                    Batch::One(Entry::Item(rec)) if fresh && self.record_alone(h.sender, &rec) => {
                        self.apply_alone(now, &h, std::iter::once(rec));
                    }
                    Batch::One(e) if fresh => {
                        let alone = self.batch_alone(h.sender, std::slice::from_ref(&e));
                        self.apply_batch(now, &h, alone, std::iter::once(e));
                    }
                    Batch::One(_) => {}
                    Batch::Many(mut items) => {
                        if fresh && !items.is_empty() {
                            let alone = self.batch_alone(h.sender, &items);
                            self.apply_batch(now, &h, alone, items.drain(..));
                        }
                        items.clear();
                        self.repl.inbox = items;
                    }
                }
            }
            kind => {
                return Err(InputError::Replica(
                    crate::replica::FrameError::Kind { kind }.into(),
                ));
            }
        }
        self.flush_replication(now);
        Ok(())
    }

    /// An acknowledgement token (module docs, transport): taken when it answers, by the member
    /// it names, one of the transmissions kept of the batch in flight to that member
    /// ([`SentTags`], kept for the monitor peers a batch went to); else refused ([`InputError::NotAuthorized`]), nothing changed.
    fn token_input(&mut self, now: Instant, data: &[u8]) -> Result<(), InputError> {
        let Some(msg) = data
            .first_chunk::<TOKEN_ACK_LEN>()
            .filter(|_| data.len() == TOKEN_ACK_LEN)
        else {
            return Err(InputError::NotAuthorized);
        };
        let (head, token) = msg.split_at(TOKEN_ACK_LEN - TAG_LEN);
        let acker = NodeId(u32::from_be_bytes([head[7], head[8], head[9], head[10]]));
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&head[11..19]);
        let seq = u64::from_be_bytes(seq);
        // Kept for the members a batch was sent to only (monitor peers with an address).
        let w = &self.repl.wire;
        let taken = match (w.token.as_ref(), w.sent.get(&acker), token.first_chunk()) {
            (Some(key), Some(sent), Some(token)) => sent.acknowledged(key, seq, acker, token),
            _ => false,
        };
        if !taken {
            return Err(InputError::NotAuthorized);
        }
        self.replicates(acker, true);
        let acked = self
            .repl
            .channels
            .get_mut(&acker)
            .is_some_and(|ch| ch.acked(seq));
        // What the backup's acknowledgement committed is released here, so that the flush
        // below has nothing left to do in the usual case.
        if acked && self.repl.backup == Some(acker) {
            self.release_committed(now, acker);
        }
        // Nearly always none to release (checked here, no call).
        if self.repl.backup == Some(acker) && !self.repl.releasing.is_empty() {
            self.release_former_backups();
        }
        if !self.repl.yielders.is_empty() {
            self.release_yielders();
        }
        self.flush_replication(now);
        Ok(())
    }

    /// One entry of a fresh batch from `h.sender` (whose incarnation is noted already).
    /// `syncing`: whether the sender's bulk sync is in progress on its channel
    /// ([`Channel::sync_in_epoch`]), kept up to date here; a record's key is noted
    /// ([`Channel::mark_seen`], which notes nothing outside a sync) only then.
    pub(super) fn apply_entry(
        &mut self,
        now: Instant,
        h: &Header,
        e: Entry<Record>,
        syncing: &mut bool,
    ) {
        let from = h.sender;
        match e {
            Entry::SyncBegin { epoch } => {
                if let Some(ch) = self.repl.channels.get_mut(&from) {
                    ch.begin_sync(epoch);
                    *syncing = true;
                }
            }
            Entry::SyncEnd { epoch } => {
                let ch = self.repl.channels.get_mut(&from);
                let seen = ch.and_then(|ch| {
                    let seen = ch.end_sync(epoch);
                    *syncing = ch.sync_in_epoch().is_some();
                    seen
                });
                if let Some(seen) = seen {
                    self.sweep_held(from, &seen);
                    self.note_generation(from, epoch);
                }
            }
            Entry::Item(rec) => {
                if *syncing
                    && let (Some(k), Some(ch)) = (rec.key(), self.repl.channels.get_mut(&from))
                {
                    ch.mark_seen(&[k]);
                }
                self.apply_record(now, from, rec);
            }
        }
    }
}

/// Test support for the other parts of `lns`.
#[cfg(test)]
impl Lns {
    /// Member `from`'s acknowledgement of our batch `seq` (its token over the tag of our last
    /// transmission of the batch to it, as its replication sends one), taken as any datagram.
    pub(super) fn backup_acks(
        &mut self,
        now: Instant,
        from: NodeId,
        seq: u64,
    ) -> Result<(), InputError> {
        let src = self
            .monitor()
            .and_then(|m| m.addr_of(from))
            .expect("a peer");
        let sent = self.repl.wire.sent.get(&from).expect("a batch sent to it");
        assert_eq!(sent.seq, seq, "the batch in flight");
        let last = (usize::from(sent.next) + SENT_TAGS - 1) % SENT_TAGS;
        let tag = sent.tags[last];
        let mut w = Wire {
            token: self.repl.wire.token.clone(),
            ..Default::default()
        };
        w.send_ack(src, seq, from, &tag);
        let t = w.out.pop_front().expect("a token");
        let local = "10.0.2.1:1701".parse().expect("an address");
        self.handle_datagram(now, src, local, &t.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l2tp::Lac;
    use crate::replica::parse_batch_into;
    use bytes::BufMut;

    /// Module docs, transport: replication messages are taken only by a member with
    /// replication configured. One without it (`LnsConfig::replication` unset) refuses a message
    /// sealed under its own cluster key as unexpected, before any look-up of the sender (which
    /// would refuse it as not authorized), and sends nothing back.
    #[test]
    fn without_replication_a_sealed_message_is_unexpected() {
        let now = Instant::now();
        let (_, mut lns) = lac_and_lns(now, 3, None);
        let cluster = crate::io::HmacMd5Key::new(b"cluster");
        lns.repl = Replicator::new(Some(&cluster));
        assert!(lns.cfg.replication.is_none());
        let mut w = Wire {
            mac: Some(CmacKey::derive(&cluster, MAC_INFO)),
            token: Some(CmacKey::derive(&cluster, TOKEN_INFO)),
            ..Default::default()
        };
        let from: SocketAddr = "192.0.2.2:1701".parse().unwrap();
        w.send_ack(from, 1, NodeId(2), &[3; TAG_LEN]);
        w.seal(from, KIND_REPLICATE, NodeId(2), 1, None, |out| {
            crate::replica::encode_batch::<Record, _>(1, &[Entry::Item(session(1, 2))], out);
        });
        while let Some(t) = w.out.pop_front() {
            let r = lns.replica_input(now, from, &t.payload);
            assert!(
                matches!(r, Err(InputError::Unexpected(Unexpected::Replication))),
                "{r:?}"
            );
        }
        assert!(lns.poll_transmit().is_none());
    }

    /// Replication datagrams are cut from one buffer ([`Wire::buf`]): sealed back to back they
    /// lie side by side in it (no allocation or copy per datagram), and once they are dropped
    /// the next one is sealed over their octets; each opens under the key, with its own packet
    /// number.
    #[test]
    fn datagrams_are_cut_from_one_buffer() {
        let key = CmacKey::new(&[7; 16]);
        let token = CmacKey::new(&[8; 16]);
        let mut w = Wire {
            mac: Some(key.clone()),
            token: Some(token.clone()),
            ..Default::default()
        };
        let dst: SocketAddr = "192.0.2.2:1701".parse().unwrap();
        let records = [session(1, 2), seq(1, 3, 4)];
        let batch = |out: &mut BytesMut| {
            let items: Vec<Entry<Record>> = records.iter().cloned().map(Entry::Item).collect();
            crate::replica::encode_batch(9, &items, out);
        };
        w.seal(dst, KIND_REPLICATE, NodeId(1), 3, None, batch);
        w.send_ack(dst, 9, NodeId(1), &[5; TAG_LEN]);
        let (a, b) = (w.out.pop_front().unwrap(), w.out.pop_front().unwrap());
        assert_eq!((a.dst, b.dst), (dst, dst));
        let (pa, pb) = (a.payload.as_ptr() as usize, b.payload.as_ptr() as usize);
        assert_eq!(
            pb,
            pa + a.payload.len(),
            "the second follows the first in one buffer"
        );
        let mut k = key;
        let (h, body) = ENVELOPE.open_with(&mut k, &a.payload).unwrap();
        assert_eq!(
            (h.kind, h.sender, h.incarnation, h.pn),
            (KIND_REPLICATE, NodeId(1), 3, 1)
        );
        let mut r = Reader::at(body, HEADER_LEN);
        let mut items = Vec::new();
        assert_eq!(parse_batch_into(&mut r, &mut items).unwrap(), 9);
        assert_eq!(items, records.map(Entry::Item));
        assert_eq!(b.payload.len(), TOKEN_ACK_LEN);
        assert_eq!(&b.payload[11..19], &9u64.to_be_bytes()[..]);
        drop((a, b));
        // Each dropped before the next: all in the one buffer, which is used again from its
        // start once its room is spent.
        let mut wrapped = false;
        for n in 10..200u64 {
            match n % 2 {
                0 => w.seal(dst, KIND_REPLICATE, NodeId(1), 3, None, |out| {
                    out.put_u64(n)
                }),
                _ => w.send_ack(dst, n, NodeId(1), &[5; TAG_LEN]),
            }
            let c = w.out.pop_front().unwrap();
            let at = c.payload.as_ptr() as usize;
            assert!(
                (pa..pa + SEAL_BUFFER).contains(&at),
                "datagram {n} in the buffer"
            );
            wrapped |= at == pa;
            match n % 2 {
                // Sealed ones under their own packet numbers (a token takes none).
                0 => assert_eq!(
                    ENVELOPE.open_with(&mut k, &c.payload).unwrap().0.pn,
                    n / 2 - 3
                ),
                _ => assert_eq!(&c.payload[11..19], &n.to_be_bytes()[..]),
            }
        }
        assert!(wrapped, "the buffer's octets used again");
    }

    /// Module docs, transport: an acknowledgement token is the magic, version 3, kind 6, two
    /// reserved octets (0), the acknowledging member's node id and the batch's `seq`
    /// big-endian, then AES-128 under the token key of the batch datagram's tag with that node
    /// id XORed into its last four octets; no packet number is spent on it.
    #[test]
    fn an_acknowledgement_token_is_the_documented_layout() {
        use aes::cipher::{BlockEncrypt, KeyInit};
        let token_key = [0x42; 16];
        let mut w = Wire {
            mac: Some(CmacKey::new(&[1; 16])),
            token: Some(CmacKey::new(&token_key)),
            ..Default::default()
        };
        let dst: SocketAddr = "192.0.2.7:1701".parse().unwrap();
        let tag: [u8; 16] = std::array::from_fn(|i| i as u8 * 17);
        for (seq, acker) in [(1u64, 1u32), (0x0102_0304_0506_0708, 0xdead_beef)] {
            w.send_ack(dst, seq, NodeId(acker), &tag);
            let t = w.out.pop_front().unwrap();
            let mut want = b"\xfeL2\x03\x06\0\0".to_vec();
            want.extend_from_slice(&acker.to_be_bytes());
            want.extend_from_slice(&seq.to_be_bytes());
            let mut block = tag;
            for (b, r) in block[12..].iter_mut().zip(acker.to_be_bytes()) {
                *b ^= r;
            }
            let mut block = aes::Block::from(block);
            aes::Aes128::new(&token_key.into()).encrypt_block(&mut block);
            want.extend_from_slice(&block);
            assert_eq!((t.dst, &t.payload[..]), (dst, &want[..]));
        }
        assert_eq!(w.pn, 0);
    }

    /// Any record a set-up replicates (a session answered or established, with or without its
    /// tunnel's sequence numbers, or those alone), and others.
    fn any_record() -> impl proptest::strategy::Strategy<Value = Record> {
        use proptest::prelude::*;
        let session = (
            any::<[u16; 5]>(),
            any::<u32>(),
            any::<[bool; 3]>(),
            any::<Option<u16>>(),
        )
            .prop_map(
                |([t, s, p, dn, dr], serial, [q, l, a], icrp_ns)| SessionRecord {
                    tunnel: t,
                    session: s,
                    peer_session: p,
                    serial,
                    sequencing: q,
                    load_balance_capable: l,
                    data_ns: dn,
                    data_nr: dr,
                    answered: a,
                    icrp_ns,
                },
            );
        prop_oneof![
            session.clone().prop_map(Record::Session),
            (session, any::<(u16, u16)>())
                .prop_map(|(session, (ns, nr))| Record::SessionSequence { session, ns, nr }),
            any::<(u16, u16, u16)>().prop_map(|(t, ns, nr)| seq(t, ns, nr)),
            held_record(),
        ]
    }

    proptest::proptest! {
        /// The set-up lane's batch of one record sealed on the stack ([`Wire::seal_setup`]) is
        /// the datagram [`Wire::seal`] makes of [`crate::replica::encode_batch`] of it (the
        /// same header, packet number, batch and tag), for any set-up's record; for any other
        /// record nothing is sealed and no packet number taken.
        #[test]
        fn a_set_up_batch_sealed_on_the_stack_is_the_encoded_batch(
            rec in any_record(),
            seq in proptest::prelude::any::<u64>(),
            (sender, inc) in proptest::prelude::any::<(u32, u32)>(),
        ) {
            let wire = || Wire {
                mac: Some(CmacKey::new(&[9; 16])),
                ..Default::default()
            };
            let (mut a, mut b) = (wire(), wire());
            let dst: SocketAddr = "192.0.2.7:1701".parse().unwrap();
            let setup = matches!(
                rec,
                Record::Session(_) | Record::SessionSequence { .. } | Record::TunnelSequence { .. }
            );
            proptest::prop_assert_eq!(b.seal_setup((NodeId(9), dst), seq, &rec, NodeId(sender), inc), setup);
            if setup {
                let items = [Entry::Item(rec)];
                let body = |out: &mut BytesMut| crate::replica::encode_batch(seq, &items, out);
                a.seal(dst, KIND_REPLICATE, NodeId(sender), inc, None, body);
            }
            let sent = |w: &mut Wire| w.out.drain(..).map(|t| (t.dst, t.payload)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(sent(&mut a), sent(&mut b));
            proptest::prop_assert_eq!(a.pn, b.pn);
        }
    }

    /// The LAC's and the LNS's addresses of [`through_calls`] and [`twins`].
    fn lac_lns_addrs() -> (SocketAddr, SocketAddr) {
        (
            "10.0.9.1:1701".parse().unwrap(),
            "10.0.1.1:1701".parse().unwrap(),
        )
    }

    /// A LAC and an LNS (no backup) of seed `seed`, the tunnels' secret `secret` (AVPs hidden
    /// with it), their HELLOs an hour apart.
    fn lac_and_lns(now: Instant, seed: u64, secret: Option<&[u8]>) -> (Lac, Lns) {
        use crate::l2tp::{Config, LacConfig, LnsConfig};
        let common = Config {
            hello_interval: Duration::from_secs(3600),
            seed: crate::io::seed(seed),
            secret: secret.map(<[u8]>::to_vec),
            hide_avps: secret.is_some(),
            ..Default::default()
        };
        let cfg = LnsConfig {
            common: common.clone(),
            contact: false,
            ..Default::default()
        };
        let lns = Lns::new(cfg, now).unwrap();
        let mut lc = LacConfig::new(lac_lns_addrs().1);
        lc.common = common;
        (Lac::new(lc, now).unwrap(), lns)
    }

    /// Moves datagrams between `lac` and `lns` until none is left, `check` looking at the LNS
    /// after every datagram it takes; `twin` takes the LAC's datagrams too (its own dropped).
    fn pump_calls(
        now: Instant,
        lac: &mut Lac,
        lns: &mut Lns,
        mut twin: Option<&mut Lns>,
        check: &mut dyn FnMut(&mut Lns),
    ) {
        let (lac_addr, lns_addr) = lac_lns_addrs();
        loop {
            let mut moved = false;
            while let Some(t) = lac.poll_transmit() {
                let _ = lns.handle_datagram(now, lac_addr, lns_addr, &t.payload);
                check(lns);
                if let Some(b) = twin.as_deref_mut() {
                    let _ = b.handle_datagram(now, lac_addr, lns_addr, &t.payload);
                    while b.poll_transmit().is_some() {}
                    while b.poll_event().is_some() {}
                }
                moved = true;
            }
            while let Some(t) = lns.poll_transmit() {
                let _ = lac.handle_datagram(now, lns_addr, lac_addr, &t.payload);
                moved = true;
            }
            while lns.poll_event().is_some() {}
            while lac.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
    }

    /// A LAC sets up a tunnel and three calls with an LNS (no backup), then clears them: `check`
    /// looks at the LNS after every datagram it takes (seeded by `seed`).
    fn through_calls(seed: u64, check: &mut dyn FnMut(&mut Lns)) {
        use crate::l2tp::Close;
        let now = Instant::now();
        let (mut lac, mut lns) = lac_and_lns(now, seed, None);
        let pump = |lac: &mut Lac, lns: &mut Lns, check: &mut dyn FnMut(&mut Lns)| {
            pump_calls(now, lac, lns, None, check);
        };
        let mut calls = Vec::new();
        for _ in 0..3 {
            calls.push(lac.open_session(now).unwrap());
            pump(&mut lac, &mut lns, check);
        }
        for c in calls {
            lac.close_session(now, c, Close::default()).unwrap();
            pump(&mut lac, &mut lns, check);
        }
    }

    /// A sequence update (module docs, records) carries the Ns and Nr the tunnel's whole record
    /// would ([`Core::export_sequence`] against [`Core::export_tunnel`]), and none while the
    /// tunnel is not established: checked after every datagram of a tunnel's set-up, calls set
    /// up and cleared on it (each side's Ns and Nr moving), and its tear-down.
    #[test]
    fn sequence_updates_carry_the_tunnels_record_numbers() {
        let (mut seen_none, mut seen_some) = (0, 0);
        let mut check = |lns: &mut Lns| {
            for tid in lns.core.tunnels.keys().copied().chain([0, 1, u16::MAX]) {
                let whole = lns.core.export_tunnel(tid).map(|t| (t.ns, t.nr));
                assert_eq!(lns.core.export_sequence(tid), whole, "tunnel {tid}");
                match whole {
                    Some(_) => seen_some += 1,
                    None if lns.core.tunnels.contains_key(&tid) => seen_none += 1,
                    None => {}
                }
            }
        };
        through_calls(5, &mut check);
        assert!(
            seen_none > 0,
            "the tunnel was seen before it was established"
        );
        assert!(
            seen_some > 6,
            "the tunnel was seen established through the calls"
        );
    }

    /// The records of an answered call made with one look-up (`Core::export_answered`, used by
    /// `reply_committed`) are those of `Core::export_session` and `Core::export_sequence`, the
    /// ICRP's Ns noted on the session first when it was numbered (module docs, output commit):
    /// checked for every tunnel and session (and ids that are none) after every datagram of a
    /// tunnel's set-up, calls set up and cleared on it, and its tear-down.
    #[test]
    fn an_answered_calls_records_are_the_exported_ones() {
        let mut checked = 0;
        let mut check = |lns: &mut Lns| {
            let tids: Vec<u16> = lns
                .core
                .tunnels
                .keys()
                .copied()
                .chain([0, 1, 999])
                .collect();
            for tid in tids {
                let sids: Vec<u16> = lns
                    .core
                    .tunnels
                    .get(&tid)
                    .map_or(Vec::new(), |t| t.sessions.keys().copied().collect());
                for sid in sids.iter().copied().chain([0, 1, 999]) {
                    let want = (
                        lns.core.export_session(tid, sid),
                        lns.core.export_sequence(tid),
                    );
                    assert_eq!(
                        lns.core.export_answered(tid, sid, None),
                        want,
                        "{tid}/{sid}"
                    );
                    let Some(was) = lns.core.session_mut(tid, sid).map(|s| s.icrp_ns) else {
                        let got = lns.core.export_answered(tid, sid, Some(7));
                        assert_eq!(got, want, "{tid}/{sid}, no such session");
                        continue;
                    };
                    let got = lns.core.export_answered(tid, sid, Some(7));
                    let noted = lns.core.session_mut(tid, sid).map(|s| s.icrp_ns);
                    assert_eq!(noted, Some(Some(7)), "the Ns noted on {tid}/{sid}");
                    let want = (
                        lns.core.export_session(tid, sid),
                        lns.core.export_sequence(tid),
                    );
                    assert_eq!(got, want, "{tid}/{sid} with its Ns");
                    if let Some(s) = lns.core.session_mut(tid, sid) {
                        s.icrp_ns = was;
                    }
                    checked += usize::from(sids.contains(&sid) && want.0.is_some());
                }
            }
        };
        through_calls(6, &mut check);
        assert!(
            checked > 3,
            "sessions with a record were checked ({checked})"
        );
    }

    /// Two LNSs of one seed (`secret`: the tunnels' secret, their AVPs hidden) taking the
    /// same datagrams of a LAC that set up a tunnel and a call with the first: the same state.
    fn twins(secret: Option<&[u8]>) -> (Lns, Lns, Instant) {
        let now = Instant::now();
        let (mut lac, mut a) = lac_and_lns(now, 8, secret);
        let mut b = lac_and_lns(now, 8, secret).1;
        lac.open_session(now).unwrap();
        pump_calls(now, &mut lac, &mut a, Some(&mut b), &mut |_| {});
        assert_eq!(a.core.session_count, 1, "the call is up");
        (a, b, now)
    }

    /// An answered call's ICRP numbered and its records made at one look-up
    /// (`Core::reserve_answered`, used by `reply_committed`) are what `Core::reserve_ctrl`
    /// then `Core::export_answered` with its Ns give (module docs, output commit: the ICRP's Ns
    /// travels with the session's record), and the ICRP released is the same datagram: with
    /// and without a tunnel secret (whose hidden AVPs take the general way, RFC 2661 4.3), for
    /// the call and for ids that are none.
    #[test]
    fn a_reserved_answer_and_its_records_are_those_of_the_two_calls() {
        for secret in [None, Some(&b"ssh"[..])] {
            let (mut a, mut b, now) = twins(secret);
            let tid = *a.core.tunnels.keys().next().unwrap();
            let sid = *a.core.tunnels[&tid].sessions.keys().next().unwrap();
            // The call made answered again, as `reply_committed` finds it.
            for lns in [&mut a, &mut b] {
                lns.core.session_mut(tid, sid).unwrap().state = SessionState::WaitConnect;
            }
            for (t, s) in [(tid, sid), (tid, 999), (999, sid)] {
                let icrp = ControlMessage::icrp(0, 77, s);
                let (got, gs, gq) = a.core.reserve_answered(t, s, icrp.clone());
                let want = b.core.reserve_ctrl(t, icrp);
                let ns = want.as_ref().ok().copied();
                let (ws, wq) = b.core.export_answered(t, s, ns);
                assert_eq!(
                    (&got, gs, gq),
                    (&want, ws, wq),
                    "{t}/{s}, secret {secret:?}"
                );
                if t == tid && s == sid {
                    assert!(gs.is_some_and(|r| r.icrp_ns == ns && ns.is_some()));
                }
                if let Ok(ns) = got {
                    a.core.release_ctrl(now, t, ns);
                    b.core.release_ctrl(now, t, ns);
                }
                let sent = |l: &mut Lns| {
                    std::iter::from_fn(|| l.poll_transmit())
                        .map(|t| t.payload)
                        .collect::<Vec<_>>()
                };
                assert_eq!(sent(&mut a), sent(&mut b), "{t}/{s}, secret {secret:?}");
            }
        }
    }

    /// Module docs, output commit: a run of numbered ICRPs of one tunnel released on the
    /// backup's acknowledgement (`release_runs`: marked on one look-up of the channel, sent
    /// with one walk and one flush) sends the same datagrams, in the same order (RFC 2661 5.8:
    /// Ns order, each with the Nr of its release), and notes the same releases for the calls'
    /// set-up wait (`Released`), as `release_held` of each in turn; an unnumbered ICRP between
    /// two runs ends the first. Checked with and without a tunnel secret.
    #[test]
    fn a_run_of_held_icrps_releases_as_each_alone() {
        for secret in [None, Some(&b"ssh"[..])] {
            let (mut a, mut b, now) = twins(secret);
            let tid = *a.core.tunnels.keys().next().unwrap();
            // Five answers numbered, one not (the third), in the order made.
            let mut held = VecDeque::new();
            for sid in 1..=6u16 {
                let icrp = ControlMessage::icrp(0, 70 + sid, sid);
                let reply = if sid == 3 {
                    Reply::Message(Box::new(icrp.clone()))
                } else {
                    let ns = a.core.reserve_ctrl(tid, icrp.clone()).unwrap();
                    assert_eq!(b.core.reserve_ctrl(tid, icrp), Ok(ns));
                    Reply::Reserved(ns)
                };
                held.push_back((sid, reply));
            }
            let held_reply = |(sid, reply): &(u16, Reply)| HeldReply {
                peer: NodeId(2),
                mark: 1,
                tunnel: tid,
                session: *sid,
                reply: match reply {
                    Reply::Reserved(ns) => Reply::Reserved(*ns),
                    Reply::Message(m) => Reply::Message(m.clone()),
                },
            };
            let mut runs: VecDeque<HeldReply> = held.iter().map(held_reply).collect();
            let (core, released) = (&mut a.core, &mut a.repl.released);
            release_runs(core, &mut runs, released, now, |_| false);
            assert!(runs.is_empty(), "all released");
            for h in held.iter().map(held_reply) {
                release_held(&mut b.core, &mut b.repl.released, now, h);
            }
            let sent = |l: &mut Lns| {
                std::iter::from_fn(|| l.poll_transmit())
                    .map(|t| t.payload)
                    .collect::<Vec<_>>()
            };
            let got = sent(&mut a);
            assert!(
                got.len() >= 3,
                "the answers the window lets go ({})",
                got.len()
            );
            assert_eq!(got, sent(&mut b), "secret {secret:?}");
            assert_eq!(a.repl.released.list, b.repl.released.list);
            assert_eq!(a.repl.released.list.len(), 5, "the numbered ones noted");
        }
    }

    /// Module docs, output commit: an ICRP held unnumbered (its channel could not number it,
    /// `Reply::Message`) is sent when released, as it would have been at once (RFC 2661 7.4.2:
    /// the ICRQ's answer, carrying the acknowledgement deferred for it) while its call still
    /// waits for it.
    #[test]
    fn an_unnumbered_held_icrp_is_sent_on_its_release() {
        let (mut a, mut b, now) = twins(None);
        let tid = *a.core.tunnels.keys().next().unwrap();
        let sid = *a.core.tunnels[&tid].sessions.keys().next().unwrap();
        for lns in [&mut a, &mut b] {
            lns.core.session_mut(tid, sid).unwrap().state = SessionState::WaitConnect;
        }
        let icrp = ControlMessage::icrp(0, 77, sid);
        let held = HeldReply {
            peer: NodeId(2),
            mark: 1,
            tunnel: tid,
            session: sid,
            reply: Reply::Message(Box::new(icrp.clone())),
        };
        release_held(&mut a.core, &mut a.repl.released, now, held);
        b.core.send_setup(now, tid, sid, icrp);
        b.core.ack_now(now, tid);
        let sent = |l: &mut Lns| {
            std::iter::from_fn(|| l.poll_transmit())
                .map(|t| t.payload)
                .collect::<Vec<_>>()
        };
        let got = sent(&mut a);
        assert_eq!(got.len(), 1, "the ICRP");
        assert_eq!(got, sent(&mut b));
    }

    /// The former release of held ICRPs (the reference of `release_in_order`): the releasable
    /// ones from the front into `released`, the kept ones set aside and put back in front.
    fn release_reference(
        held: &mut VecDeque<(u8, bool)>,
        all: bool,
        released: &mut Vec<(u8, bool)>,
    ) {
        let mut kept = VecDeque::new();
        while let Some(h) = held.pop_front() {
            if h.1 {
                kept.push_back(h);
                if all {
                    continue;
                }
                break;
            }
            released.push(h);
        }
        if !kept.is_empty() {
            kept.append(held);
            *held = kept;
        }
    }

    proptest::proptest! {
        /// Held ICRPs are released in the order made, none before the first still waiting
        /// (module docs, output commit), every one not waiting when some were held for a former
        /// backup: `release_in_order` releases the same ones in the same order and leaves the
        /// same queue as the former code that set the waiting ones aside.
        #[test]
        fn held_replies_release_as_before(
            held in proptest::collection::vec((proptest::prelude::any::<u8>(), proptest::prelude::any::<bool>()), 0..12),
            all in proptest::prelude::any::<bool>(),
        ) {
            let mut want_q: VecDeque<(u8, bool)> = held.iter().copied().collect();
            let mut want = Vec::new();
            release_reference(&mut want_q, all, &mut want);
            let mut got_q: VecDeque<(u8, bool)> = held.iter().copied().collect();
            let mut got = Vec::new();
            release_in_order(&mut got_q, all, |h| h.1, |h| got.push(h));
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(got_q, want_q);
        }
    }

    /// Module docs, output commit: an ICRP held for the backup waits while the backup has not
    /// applied its record, through any input taken meanwhile (no batch to send: the cheap
    /// look at the first held ICRP); once no backup is left (as `ensure_backup` leaves it when
    /// the backup is Down and no other is Up) it is sent at the next input, counted in
    /// [`crate::l2tp::Stats::setups_not_replicated`].
    #[test]
    fn a_held_icrp_goes_once_no_backup_is_left() {
        let now = Instant::now();
        let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
        let mut lns = super::super::pool_member(now, vec![(NodeId(2), peer)]);
        lns.repl.backup = Some(NodeId(2));
        lns.send_record(NodeId(2), session(1, 2));
        lns.flush_replication(now);
        let mark = lns.repl.channels.get(&NodeId(2)).map(Channel::mark);
        assert_eq!(mark, Some(1), "the record is in flight");
        lns.repl.held.push_back(HeldReply {
            peer: NodeId(2),
            mark: 1,
            tunnel: 1,
            session: 2,
            reply: Reply::Message(Box::new(ControlMessage::icrp(0, 7, 2))),
        });
        let not_replicated = |l: &Lns| l.core.stats.setups_not_replicated;
        for _ in 0..3 {
            lns.flush_replication(now);
        }
        assert_eq!(lns.repl.held.len(), 1, "held until the backup applied it");
        assert_eq!(not_replicated(&lns), 0);
        // The backup is lost (`ensure_backup`, none chosen).
        lns.repl.backup = None;
        lns.repl.held_mixed = true;
        lns.flush_replication(now);
        assert!(lns.repl.held.is_empty(), "sent once no backup is left");
        assert_eq!(not_replicated(&lns), 1);
    }

    /// Module docs, records: a record that holds no answer back lingers for the backup, and
    /// the linger's end is a deadline ([`Lns::poll_timeout`]). When that backup is lost before
    /// the linger ends (`ensure_backup`: none left, a member cut from the others), the record
    /// goes to the former backup's channel like any other and the linger is no deadline any
    /// more: after `handle_timeout(t)` no deadline at or before `t` is left, else a driver
    /// calls `handle_timeout` again at once, forever (the lns role of a member back from a cut
    /// spun on it, no datagram read for seconds, in session 46's starved roles runs).
    #[test]
    fn a_linger_for_a_lost_backup_leaves_no_deadline_in_the_past() {
        let now = Instant::now();
        let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
        let mut lns = super::super::pool_member(now, vec![(NodeId(2), peer)]);
        lns.repl.backup = Some(NodeId(2));
        lns.send_record(NodeId(2), seq(1, 5, 6));
        lns.flush_replication(now);
        let linger = ReplicationConfig::default().linger;
        assert!(
            lns.poll_timeout().is_some_and(|d| d <= now + linger),
            "the record lingers, its end a deadline"
        );
        // Node 2 was never heard (not Up): no backup is chosen again.
        lns.ensure_backup();
        assert_eq!(lns.backup(), None);
        let t = now + Duration::from_secs(1);
        lns.handle_timeout(t);
        let next = lns.poll_timeout();
        assert!(
            next.is_none_or(|d| d > t),
            "a deadline left in the past: {:?}",
            next.map(|d| d - now)
        );
    }

    /// Module docs, acknowledgement tokens: a token of the peer's former incarnation, delayed
    /// past its restart, acknowledges nothing (the new incarnation never got the batch, and a
    /// held ICRP released on it would leave before any backup holds the call, module docs,
    /// output commit). Without the restart, the same token acknowledges the batch.
    #[test]
    fn a_token_from_before_the_peers_restart_acknowledges_nothing() {
        let now = Instant::now();
        let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
        let local: SocketAddr = "10.0.2.1:1701".parse().unwrap();
        let key = crate::health::ClusterKey::new(b"pool cluster key");
        for restarted in [false, true] {
            let mut lns = super::super::pool_member(now, vec![(NodeId(2), peer)]);
            lns.send_record(NodeId(2), session(1, 2));
            lns.flush_replication(now);
            let sent = lns.poll_transmit().expect("the batch");
            let tag = *sent.payload.last_chunk::<TAG_LEN>().unwrap();
            let in_flight = |l: &Lns| {
                let c = l.repl.channels.get(&NodeId(2)).unwrap();
                c.in_flight().map(|(seq, _)| seq)
            };
            assert_eq!(in_flight(&lns), Some(1));
            let mut w = Wire {
                token: Some(CmacKey::derive(&key, TOKEN_INFO)),
                ..Default::default()
            };
            w.send_ack(peer, 1, NodeId(2), &tag);
            let token = w.out.pop_front().unwrap().payload;
            if restarted {
                lns.peer_restarted(NodeId(2));
                assert!(lns.handle_datagram(now, peer, local, &token).is_err());
                assert_eq!(in_flight(&lns), Some(1), "still in flight");
            } else {
                assert!(lns.handle_datagram(now, peer, local, &token).is_ok());
                assert_eq!(in_flight(&lns), None, "acknowledged");
            }
        }
    }

    /// An acknowledgement token (module docs, transport) commits the batch in flight when it
    /// answers the datagram that carried it, by the member it names; refused, changing nothing:
    /// the token another member computed for that datagram under this member's name (the
    /// batch replayed to it by an observer), one of another datagram, under another key, for
    /// another batch, cut short or altered in any octet but the reserved ones, and an
    /// authenticated envelope of the generic acknowledgement kind. Taken again, it changes
    /// nothing.
    #[test]
    fn an_acknowledgement_commits_its_batch_only() {
        let now = Instant::now();
        let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
        let local: SocketAddr = "10.0.2.1:1701".parse().unwrap();
        let key = crate::health::ClusterKey::new(b"pool cluster key");
        let mut lns = super::super::pool_member(now, vec![(NodeId(2), peer)]);
        lns.send_record(NodeId(2), session(1, 2));
        lns.flush_replication(now);
        let sent = lns.poll_transmit().expect("the batch");
        assert_eq!((sent.dst, sent.payload[4]), (peer, KIND_REPLICATE));
        let tag = *sent.payload.last_chunk::<TAG_LEN>().unwrap();
        let ch = |l: &Lns| {
            let c = l.repl.channels.get(&NodeId(2)).unwrap();
            (c.mark(), c.committed(), c.in_flight().map(|(seq, _)| seq))
        };
        assert_eq!(ch(&lns), (1, 0, Some(1)));
        // The peer's messages under the pool's keys (or `other`'s).
        let wire = |cluster: &crate::health::ClusterKey| Wire {
            mac: Some(CmacKey::derive(cluster, MAC_INFO)),
            token: Some(CmacKey::derive(cluster, TOKEN_INFO)),
            ..Default::default()
        };
        let other = crate::health::ClusterKey::new(b"another cluster key");
        let token = |cluster, seq, by: u32, tag: &[u8; TAG_LEN]| {
            let mut w = wire(cluster);
            w.send_ack(peer, seq, NodeId(by), tag);
            w.out.pop_front().unwrap().payload.to_vec()
        };
        let refused = |lns: &mut Lns, msg: &[u8]| {
            let r = lns.handle_datagram(now, peer, local, msg);
            (r.is_err(), ch(lns))
        };
        let unchanged = (true, (1, 0, Some(1)));
        // Member 3's token for the datagram, relabelled as member 2's.
        let mut relabelled = token(&key, 1, 3, &tag);
        relabelled[7..11].copy_from_slice(&2u32.to_be_bytes());
        assert_eq!(refused(&mut lns, &relabelled), unchanged);
        let mut other_tag = tag;
        other_tag[0] ^= 1;
        assert_eq!(refused(&mut lns, &token(&key, 1, 2, &other_tag)), unchanged);
        assert_eq!(refused(&mut lns, &token(&other, 1, 2, &tag)), unchanged);
        assert_eq!(refused(&mut lns, &token(&key, 2, 2, &tag)), unchanged);
        let good = token(&key, 1, 2, &tag);
        assert_eq!(refused(&mut lns, &good[..TOKEN_ACK_LEN - 1]), unchanged);
        for i in (0..TOKEN_ACK_LEN).filter(|i| ![5, 6].contains(i)) {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            let (_, after) = refused(&mut lns, &bad);
            assert_eq!(after, unchanged.1, "octet {i} altered");
        }
        // The generic acknowledgement, sealed in an envelope: not this subsystem's.
        let mut w = wire(&key);
        w.seal(peer, crate::replica::KIND_ACK, NodeId(2), 1, None, |out| {
            out.put_u64(1);
        });
        let sealed = w.out.pop_front().unwrap().payload;
        assert!(matches!(
            lns.handle_datagram(now, peer, local, &sealed),
            Err(InputError::Replica(_))
        ));
        assert_eq!(ch(&lns), unchanged.1);
        assert_eq!(lns.handle_datagram(now, peer, local, &good), Ok(()));
        assert_eq!(ch(&lns), (1, 1, None), "the batch committed");
        assert_eq!(lns.handle_datagram(now, peer, local, &good), Ok(()));
        assert_eq!(ch(&lns), (1, 1, None), "taken again: nothing more");
    }

    proptest::proptest! {
        /// Module docs, transport: octets in a token's place (the magic, version 3 and kind 6,
        /// then anything of any length; at the token's length, member 2's name and the batch's
        /// `seq` with a token drawn at random) are refused and change nothing: no token of the
        /// batch in flight but its receiver's is taken (a guess succeeds with probability
        /// 2^-128).
        #[test]
        fn arbitrary_tokens_are_refused(
            rest in proptest::prop_oneof![
                proptest::collection::vec(proptest::prelude::any::<u8>(), TOKEN_ACK_LEN - 5),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
            ],
        ) {
            let now = Instant::now();
            let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
            let mut lns = super::super::pool_member(now, vec![(NodeId(2), peer)]);
            lns.send_record(NodeId(2), session(1, 2));
            lns.flush_replication(now);
            proptest::prop_assert!(lns.poll_transmit().is_some());
            let mut msg = b"\xfeL2\x03\x06".to_vec();
            msg.extend_from_slice(&rest);
            if msg.len() == TOKEN_ACK_LEN {
                msg[7..11].copy_from_slice(&2u32.to_be_bytes());
                msg[11..19].copy_from_slice(&1u64.to_be_bytes());
            }
            let r = lns.handle_datagram(now, peer, "10.0.2.1:1701".parse().unwrap(), &msg);
            proptest::prop_assert!(matches!(r, Err(InputError::NotAuthorized)), "{:?}", r);
            let c = lns.repl.channels.get(&NodeId(2)).unwrap();
            proptest::prop_assert_eq!((c.committed(), c.in_flight().map(|(s, _)| s)), (0, Some(1)));
            proptest::prop_assert!(lns.poll_transmit().is_none());
        }
    }

    /// Module docs, transport: the tags of the latest [`SENT_TAGS`] transmissions of the batch
    /// in flight are kept, an acknowledgement of any of them is taken, one of an older
    /// transmission or of an earlier batch is not.
    #[test]
    fn the_latest_transmissions_of_the_batch_in_flight_are_acknowledged() {
        let key = CmacKey::new(&[6; 16]);
        let mut sent = SentTags::default();
        let tag = |n: u8| [n; TAG_LEN];
        let ok = |sent: &SentTags, seq, n| {
            sent.acknowledged(&key, seq, NodeId(4), &ack_token(&key, &tag(n), NodeId(4)))
        };
        assert!(!ok(&sent, 0, 0), "nothing sent");
        for n in 1..=6 {
            sent.note(7, tag(n));
        }
        let taken: Vec<u8> = (0..=7).filter(|n| ok(&sent, 7, *n)).collect();
        assert_eq!(taken, [3, 4, 5, 6]);
        assert!(!ok(&sent, 8, 6), "another batch");
        assert!(!sent.acknowledged(&key, 7, NodeId(5), &ack_token(&key, &tag(6), NodeId(4))));
        sent.note(8, tag(9));
        assert!(ok(&sent, 8, 9));
        assert!(!ok(&sent, 7, 6), "the earlier batch's forgotten");
        assert!(!ok(&sent, 8, 6), "the earlier batch's forgotten");
    }

    /// A member whose backup (member 2) committed the first `committed` of its records and
    /// holds more queued, with `held` ICRPs (for member 2 or 3, each at a mark) held for
    /// calls of no tunnel (released, they change nothing else): `release_committed`'s test.
    /// Each held ICRP numbered (`Reply::Reserved`, at Ns 7 + its index) or not, as `numbered`.
    fn holding(now: Instant, committed: u64, held: &[(u32, u64)], numbered: bool) -> Lns {
        let peers = vec![
            (NodeId(2), "10.0.2.2:1701".parse().unwrap()),
            (NodeId(3), "10.0.2.3:1701".parse().unwrap()),
        ];
        let mut lns = super::super::pool_member(now, peers);
        lns.repl.backup = Some(NodeId(2));
        let ch = lns.repl.channels.get_or_default(NodeId(2));
        for _ in 0..committed {
            ch.enqueue(session(1, 2), 16);
            let seq = ch.send_next(now, Duration::from_secs(1), |_| None).unwrap();
            assert!(ch.acked(seq));
        }
        for _ in 0..3 {
            ch.enqueue(session(1, 2), 16);
        }
        assert!(ch.synced() && ch.committed() == committed);
        for (i, &(peer, mark)) in held.iter().enumerate() {
            lns.repl.held.push_back(HeldReply {
                peer: NodeId(peer),
                mark,
                tunnel: 40_000,
                session: u16::try_from(i).unwrap(),
                reply: match numbered {
                    true => Reply::Reserved(7 + u16::try_from(i).unwrap()),
                    false => Reply::Message(Box::new(ControlMessage::hello(0))),
                },
            });
        }
        lns
    }

    proptest::proptest! {
        /// On the backup's acknowledgement, `release_committed` releases the held ICRPs at the
        /// front that the backup applied, as `release_replies` would: followed by
        /// `release_replies`, the same ones stay held in the same order as with
        /// `release_replies` alone, and with no former backup's among them (none for member
        /// 3) `release_replies` finds nothing more to release. The numbered ones released are
        /// noted for their calls' set-up wait (`Released`) as there, in the same order.
        #[test]
        fn held_replies_release_on_the_acknowledgement_as_in_the_flush(
            committed in 0u64..4,
            held in proptest::collection::vec((2u32..4, 0u64..7), 0..8),
            mixed in proptest::prelude::any::<bool>(),
            numbered in proptest::prelude::any::<bool>(),
        ) {
            let now = Instant::now();
            let left = |l: &Lns| -> Vec<(u32, u64, u16)> {
                l.repl.held.iter().map(|h| (h.peer.0, h.mark, h.session)).collect()
            };
            let mut want = holding(now, committed, &held, numbered);
            want.repl.held_mixed = mixed;
            want.release_replies(now);
            let mut got = holding(now, committed, &held, numbered);
            got.repl.held_mixed = mixed;
            got.release_committed(now, NodeId(2));
            if !mixed && held.iter().all(|h| h.0 == 2) {
                proptest::prop_assert_eq!(left(&got), left(&want), "all released at once");
            }
            got.release_replies(now);
            proptest::prop_assert_eq!(left(&got), left(&want));
            proptest::prop_assert_eq!(&got.repl.released.list, &want.repl.released.list);
        }
    }

    proptest::proptest! {
        /// What `send_records` gives for the backup is what the former look-up after it gave
        /// (`pending_mark`: the mark of what is queued while not all of it is committed):
        /// over records queued, coalesced, sent in batches and acknowledged, bulk syncs begun
        /// and done, with and without an address for the peer.
        #[test]
        fn queueing_gives_the_pending_mark_of_a_look_up_after_it(
            steps in proptest::collection::vec((0u8..5, 1u16..3, 1u16..4), 1..24),
        ) {
            let now = Instant::now();
            let peers = vec![(NodeId(2), "10.0.2.2:1701".parse().unwrap())];
            let mut lns = super::super::pool_member(now, peers);
            for (what, tunnel, n) in steps {
                let to = NodeId(if n == 3 { 3 } else { 2 });
                match what {
                    0 => {
                        let got = lns.send_records(to, [Some(session(tunnel, n))]);
                        proptest::prop_assert_eq!(got, lns.pending_mark(to));
                    }
                    1 => {
                        let got = lns.send_records(to, [Some(seq(tunnel, n, n)), None]);
                        proptest::prop_assert_eq!(got, lns.pending_mark(to));
                    }
                    2 => {
                        let ch = lns.repl.channels.get_or_default(NodeId(2));
                        let _ = ch.send_next(now, Duration::from_secs(1), |_| None);
                    }
                    3 => {
                        let ch = lns.repl.channels.get_or_default(NodeId(2));
                        if let Some((seq, _)) = ch.in_flight() {
                            ch.acked(seq);
                        }
                    }
                    // A bulk sync begun: nothing is applied until it is acknowledged to its end.
                    _ => lns.repl.channels.get_or_default(NodeId(2)).restart_bulk_at(u32::from(n)),
                }
            }
        }
    }

    proptest::proptest! {
        /// Module docs, records (set-up lane): a set-up's record given to
        /// `send_setup_record` then the input's flush leaves the datagrams (the same octets to
        /// the same member), the channel, the counters and the linger as `send_records` then
        /// the flush, and gives the same pending mark: over records queued, batches sent and
        /// acknowledged, and bulk syncs begun, for the backup and for another member.
        #[test]
        fn the_set_up_lane_sends_what_queueing_then_the_flush_sends(
            steps in proptest::collection::vec((0u8..5, 1u16..3, 1u16..4), 0..16),
            to_backup in proptest::prelude::any::<bool>(),
        ) {
            let now = Instant::now();
            let peers = vec![
                (NodeId(2), "10.0.2.2:1701".parse().unwrap()),
                (NodeId(3), "10.0.2.3:1701".parse().unwrap()),
            ];
            let [mut got, mut want] = [(); 2].map(|_| {
                let mut lns = super::super::pool_member(now, peers.clone());
                lns.repl.backup = Some(NodeId(2));
                for &(what, tunnel, n) in &steps {
                    let ch = lns.repl.channels.get_or_default(NodeId(2));
                    match what {
                        0 => {
                            lns.send_records(NodeId(2), [Some(session(tunnel, n))]);
                        }
                        1 => lns.flush_replication(now),
                        2 => {
                            if let Some((seq, _)) = ch.in_flight() {
                                ch.acked(seq);
                            }
                        }
                        3 => {
                            let _ = ch.send_next(now, Duration::from_secs(1), |_| None);
                        }
                        _ => ch.restart_bulk_at(u32::from(n)),
                    }
                }
                while lns.poll_transmit().is_some() {}
                lns
            });
            let to = NodeId(if to_backup { 2 } else { 3 });
            let Record::Session(mut answered) = session(4, 5) else {
                unreachable!("a session record")
            };
            (answered.answered, answered.icrp_ns) = (true, Some(6));
            let rec = Record::SessionSequence { session: answered, ns: 7, nr: 8 };
            let pending = got.send_setup_record(now, to, rec.clone());
            proptest::prop_assert_eq!(pending, want.send_records(to, [Some(rec)]));
            // The ICRP held for it, as `reply_committed` holds it (its record leaves at once).
            let sent = |l: &mut Lns| {
                if let Some(mark) = pending {
                    let reply = Reply::Reserved(6);
                    let (peer, tunnel, session) = (to, 4, 5);
                    l.repl.held.push_back(HeldReply { peer, mark, tunnel, session, reply });
                }
                l.flush_replication(now);
                std::iter::from_fn(|| l.poll_transmit())
                    .map(|t| (t.dst, t.payload))
                    .collect::<Vec<_>>()
            };
            proptest::prop_assert_eq!(sent(&mut got), sent(&mut want));
            let state = |l: &Lns| {
                let r = &l.repl;
                let chans = format!("{:?}", r.channels);
                (chans, l.core.stats.replicas_sent, r.linger_until, r.generation, r.wire.pn)
            };
            proptest::prop_assert_eq!(state(&got), state(&want));
        }
    }

    /// One entry of a generated batch (`sync_records_are_swept_as_the_sync_says`).
    #[derive(Debug, Clone)]
    enum Op {
        Begin(u32),
        End(u32),
        Tunnel(u16),
        Session(u16, u16),
        Gone(u16, u16),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (1u32..3).prop_map(Op::Begin),
            (1u32..3).prop_map(Op::End),
            (1u16..4).prop_map(Op::Tunnel),
            (1u16..4, 1u16..4).prop_map(|(t, s)| Op::Session(t, s)),
            (1u16..4, 1u16..4).prop_map(|(t, s)| Op::Gone(t, s)),
        ]
    }

    fn tunnel_record(tunnel: u16) -> Record {
        let peer: SocketAddr = "192.0.2.9:1701".parse().unwrap();
        Record::Tunnel(Box::new(crate::l2tp::replica::TunnelRecord {
            tunnel,
            peer_tunnel: tunnel,
            peer,
            local: "10.0.2.1:1701".parse().unwrap(),
            ns: 0,
            nr: 0,
            peer_window: 4,
            peer_framing_capabilities: 3,
            peer_bearer_capabilities: None,
            peer_load_balance_capable: false,
            peer_failover: None,
            hello_interval_ms: 60_000,
            epoch: 0,
        }))
    }

    proptest::proptest! {
        /// What a backup holds for a member after any batches of records and bulk-sync markers
        /// (module docs of `crate::replica`): every record applies; a sync's end (of the epoch
        /// its begin named, the last begin replacing an unfinished one) removes every tunnel
        /// and session its records did not name since that begin, and an end of another
        /// epoch, or without a begin, removes nothing. Checked against that rule after each
        /// batch (the channel's record keys are noted only while a sync is in progress).
        #[test]
        fn sync_records_are_swept_as_the_sync_says(
            batches in proptest::collection::vec(proptest::collection::vec(op(), 1..6), 1..8)
        ) {
            use std::collections::{BTreeSet, HashSet};
            let now = Instant::now();
            let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
            let key = crate::health::ClusterKey::new(b"pool cluster key");
            let mut lns = super::super::pool_member(now, vec![(NodeId(2), peer)]);
            let mut w = Wire {
                mac: Some(CmacKey::derive(&key, MAC_INFO)),
                ..Default::default()
            };
            // The rule: tunnels and sessions held, and the sync in progress with what it named.
            let mut tunnels: BTreeMap<u16, BTreeSet<u16>> = BTreeMap::new();
            let mut sync: Option<(u32, HashSet<crate::l2tp::replica::RecordKey>)> = None;
            for (i, batch) in batches.iter().enumerate() {
                let mut items = Vec::new();
                for op in batch {
                    match *op {
                        Op::Begin(e) => {
                            sync = Some((e, HashSet::new()));
                            items.push(Entry::SyncBegin { epoch: e });
                        }
                        Op::End(e) => {
                            if let Some((_, seen)) = sync.take_if(|(se, _)| *se == e) {
                                tunnels.retain(|t, _| seen.contains(&(*t, None)));
                                for (t, ss) in &mut tunnels {
                                    ss.retain(|s| seen.contains(&(*t, Some(*s))));
                                }
                            }
                            items.push(Entry::SyncEnd { epoch: e });
                        }
                        Op::Tunnel(t) => {
                            if let Some((_, seen)) = &mut sync {
                                seen.insert((t, None));
                            }
                            tunnels.entry(t).or_default();
                            items.push(Entry::Item(tunnel_record(t)));
                        }
                        Op::Session(t, s) => {
                            if let Some((_, seen)) = &mut sync {
                                seen.insert((t, Some(s)));
                            }
                            if let Some(ss) = tunnels.get_mut(&t) {
                                ss.insert(s);
                            }
                            items.push(Entry::Item(session(t, s)));
                        }
                        Op::Gone(t, s) => {
                            if let Some(ss) = tunnels.get_mut(&t) {
                                ss.remove(&s);
                            }
                            items.push(Entry::Item(Record::SessionGone { tunnel: t, session: s }));
                        }
                    }
                }
                let seq = i as u64 + 1;
                w.seal(peer, KIND_REPLICATE, NodeId(2), 1, None, |out| {
                    crate::replica::encode_batch(seq, &items, out)
                });
                let t = w.out.pop_front().unwrap();
                let r = lns.handle_datagram(now, peer, "10.0.2.1:1701".parse().unwrap(), &t.payload);
                proptest::prop_assert_eq!(r, Ok(()));
                let held: Vec<(u16, u16)> =
                    lns.held_sessions_for(NodeId(2)).iter().map(|r| (r.tunnel, r.session)).collect();
                let want: Vec<(u16, u16)> = tunnels
                    .iter()
                    .flat_map(|(t, ss)| ss.iter().map(move |s| (*t, *s)))
                    .collect();
                proptest::prop_assert_eq!(held, want);
                proptest::prop_assert_eq!(lns.held_for(NodeId(2)).0, tunnels.len());
            }
        }
    }

    /// One change of a generated history (`a_merged_session_record_applies_as_its_two_records`).
    #[derive(Debug, Clone)]
    enum Change {
        /// A tunnel up.
        Tunnel(u16),
        /// A call answered on a tunnel: its session, and the tunnel's Ns/Nr.
        Up(u16, u16, u16, u16),
        /// A call gone: its removal, and the tunnel's Ns/Nr.
        Gone(u16, u16, u16, u16),
        /// The tunnel's Ns/Nr alone.
        Sequence(u16, u16, u16),
        /// A call with details answered on a tunnel ([`Record::Call`]): its session and
        /// details (a Physical Channel ID), and the tunnel's Ns/Nr.
        Call(u16, u16, u16, u16, u32),
        /// What is queued leaves in a batch and is applied.
        Send,
    }

    fn change() -> impl proptest::strategy::Strategy<Value = Change> {
        use proptest::prelude::*;
        prop_oneof![
            (1u16..4).prop_map(Change::Tunnel),
            (1u16..4, 1u16..5, any::<u16>(), any::<u16>())
                .prop_map(|(t, s, ns, nr)| Change::Up(t, s, ns, nr)),
            (1u16..4, 1u16..5, any::<u16>(), any::<u16>())
                .prop_map(|(t, s, ns, nr)| Change::Gone(t, s, ns, nr)),
            (1u16..4, any::<u16>(), any::<u16>())
                .prop_map(|(t, ns, nr)| Change::Sequence(t, ns, nr)),
            (1u16..4, 1u16..5, any::<u16>(), any::<u16>(), any::<u32>())
                .prop_map(|(t, s, ns, nr, id)| Change::Call(t, s, ns, nr, id)),
            Just(Change::Send),
        ]
    }

    proptest::proptest! {
        /// A call answered is replicated as one record, its session with its tunnel's Ns/Nr
        /// ([`Record::SessionSequence`], or [`Record::Call`] with its details; module docs,
        /// records), coalesced with the records
        /// queued before it (`coalesce`): after any history of tunnels, calls set up and
        /// cleared and sequence updates, sent in batches at any points, the backup holds
        /// exactly what it holds when each set-up queues the session record and the sequence
        /// update one by one (every tunnel record with its Ns/Nr, every session record, the
        /// session count), and refuses as many (a session quota of 3, and sessions of tunnels
        /// it does not hold, are refused either way; the sequence numbers apply all the same).
        #[test]
        fn a_merged_session_record_applies_as_its_two_records(
            changes in proptest::collection::vec(change(), 1..40),
        ) {
            let now = Instant::now();
            let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
            let key = crate::health::ClusterKey::new(b"pool cluster key");
            let backup = || {
                let mut lns = super::super::pool_member(now, vec![(NodeId(2), peer)]);
                let cfg = lns.cfg.replication.as_mut().unwrap();
                cfg.max_sessions = 3;
                lns
            };
            // [one by one, merged]
            let mut backups = [backup(), backup()];
            let mut channels = [Channel::<Record>::new(), Channel::<Record>::new()];
            let mut w = Wire {
                mac: Some(CmacKey::derive(&key, MAC_INFO)),
                ..Default::default()
            };
            for c in changes.iter().chain([&Change::Send]) {
                for (i, ch) in channels.iter_mut().enumerate() {
                    let merged = i == 1;
                    let recs = match *c {
                        Change::Tunnel(t) => vec![tunnel_record(t)],
                        Change::Up(t, s, ns, nr) if merged => {
                            let Record::Session(session) = session(t, s) else { unreachable!() };
                            vec![Record::SessionSequence { session, ns, nr }]
                        }
                        Change::Up(t, s, ns, nr) => vec![session(t, s), seq(t, ns, nr)],
                        Change::Gone(t, s, ns, nr) => {
                            vec![Record::SessionGone { tunnel: t, session: s }, seq(t, ns, nr)]
                        }
                        Change::Sequence(t, ns, nr) => vec![seq(t, ns, nr)],
                        Change::Call(t, s, ns, nr, id) => {
                            let Record::Session(session) = session(t, s) else { unreachable!() };
                            let details = super::super::super::call::PackedCallDetails::new(
                                &super::super::super::CallDetails {
                                    physical_channel_id: Some(id),
                                    ..Default::default()
                                },
                            );
                            let call = |sequence| {
                                Record::Call(Box::new(CallRecord {
                                    session,
                                    sequence,
                                    details: details.clone(),
                                }))
                            };
                            match merged {
                                true => vec![call(Some((ns, nr)))],
                                false => vec![call(None), seq(t, ns, nr)],
                            }
                        }
                        Change::Send => {
                            // Every batch it takes (at most `MAX_ITEMS` records each).
                            while let Some(n) = ch.send_next(now, Duration::from_secs(1), |_| None) {
                                let Some((_, items)) = ch.in_flight() else { break };
                                let body = |out: &mut BytesMut| crate::replica::encode_batch(n, items, out);
                                w.seal(peer, KIND_REPLICATE, NodeId(2), 1, None, body);
                                let t = w.out.pop_front().unwrap();
                                let local = "10.0.2.1:1701".parse().unwrap();
                                let r = backups[i].handle_datagram(now, peer, local, &t.payload);
                                proptest::prop_assert_eq!(r, Ok(()));
                                proptest::prop_assert!(ch.acked(n));
                            }
                            Vec::new()
                        }
                    };
                    for rec in recs {
                        push(ch, rec);
                    }
                }
                if matches!(c, Change::Send) {
                    let [a, b] = &backups;
                    proptest::prop_assert_eq!(a.held_copy(NodeId(2)), b.held_copy(NodeId(2)));
                    proptest::prop_assert_eq!(
                        a.held_details(NodeId(2)),
                        b.held_details(NodeId(2))
                    );
                    proptest::prop_assert_eq!(
                        a.core.stats.replicas_refused,
                        b.core.stats.replicas_refused
                    );
                }
            }
        }
    }

    /// A record of a generated batch (`a_batch_applies_as_its_records_one_by_one`): tunnels
    /// 1 to 3, sessions 1 to 4, the session records' data Ns telling one upsert from another.
    fn held_record() -> impl proptest::strategy::Strategy<Value = Record> {
        use proptest::prelude::*;
        let with_ns = |t: u16, s: u16, x: u16| {
            let Record::Session(mut r) = session(t, s) else {
                unreachable!()
            };
            r.data_ns = x;
            r
        };
        prop_oneof![
            (1u16..4).prop_map(tunnel_record),
            (1u16..4, 1u16..5, any::<u16>())
                .prop_map(move |(t, s, x)| Record::Session(with_ns(t, s, x))),
            (1u16..4, 1u16..5, any::<u16>(), any::<(u16, u16)>()).prop_map(
                move |(t, s, x, (ns, nr))| {
                    Record::SessionSequence {
                        session: with_ns(t, s, x),
                        ns,
                        nr,
                    }
                }
            ),
            (1u16..4, 1u16..5)
                .prop_map(|(tunnel, session)| Record::SessionGone { tunnel, session }),
            (1u16..4, any::<(u16, u16)>()).prop_map(|(t, (ns, nr))| seq(t, ns, nr)),
            (1u16..4).prop_map(|tunnel| Record::TunnelGone { tunnel }),
        ]
    }

    /// A set-up's batch (`a_set_up_batch_applies_as_its_record`): one
    /// `Record::SessionSequence` of tunnels 1 to 3, sessions 1 to 4, answered or not, with or
    /// without its ICRP's Ns.
    fn set_up_batch() -> impl proptest::strategy::Strategy<Value = Vec<Record>> {
        use proptest::prelude::*;
        (
            (1u16..4, 1u16..5, any::<u16>()),
            any::<(u16, u16)>(),
            any::<Option<u16>>(),
        )
            .prop_map(|((t, s, x), (ns, nr), icrp_ns)| {
                let Record::Session(mut session) = session(t, s) else {
                    unreachable!()
                };
                (session.data_ns, session.answered, session.icrp_ns) =
                    (x, icrp_ns.is_some(), icrp_ns);
                vec![Record::SessionSequence { session, ns, nr }]
            })
    }

    proptest::proptest! {
        /// A batch whose records change the sender's held table alone is applied at one look-up
        /// of that table (`Lns::apply_batch`; a batch with a tunnel's record goes entry by
        /// entry): after any history of batches of tunnels up and gone, sessions set up and
        /// cleared and sequence updates, under quotas of 2 tunnels and 3 sessions, the sender
        /// restarting between some, the backup holds what a backup that notes the incarnation
        /// and applies each record on its own (`Lns::apply_record`) holds, and refuses as many.
        #[test]
        fn a_batch_applies_as_its_records_one_by_one(
            batches in proptest::collection::vec(
                (proptest::prelude::any::<bool>(), proptest::collection::vec(held_record(), 1..8)),
                1..16,
            ),
        ) {
            batches_apply_as_their_records(batches)?;
        }

        /// A set-up's batch, its session's record and its tunnel's sequence numbers alone
        /// (`Record::SessionSequence`, module docs, records), is taken at its parse with no
        /// `Record` built (`Batch::Setup`, `Lns::apply_setup`): mostly such batches, among
        /// others that bring tunnels up and down, the backup holds and refuses what one that
        /// applies each record on its own holds and refuses.
        #[test]
        fn a_set_up_batch_applies_as_its_record(
            batches in proptest::collection::vec(
                (
                    proptest::prelude::any::<bool>(),
                    proptest::prop_oneof![
                        4 => set_up_batch(),
                        1 => proptest::collection::vec(held_record(), 1..4),
                    ],
                ),
                1..24,
            ),
        ) {
            batches_apply_as_their_records(batches)?;
        }
    }

    /// `crate::replica::Channel::receive`: "A batch `seq` from the peer: whether it is new, to
    /// apply (it is acknowledged either way). One not newer than the last applied is a
    /// duplicate (a retransmission whose acknowledgement was lost, or a reordered copy)." A
    /// set-up's batch (its `Record::SessionSequence` alone, taken at its parse) that comes
    /// again, a new datagram, after the batch that ended its call: acknowledged by a token, and
    /// the call it brings up stays gone (applied again, the backup would take over a call the
    /// member cleared).
    #[test]
    fn a_set_up_batch_received_again_is_acknowledged_not_applied() {
        let now = Instant::now();
        let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
        let local: SocketAddr = "10.0.2.1:1701".parse().unwrap();
        let key = crate::health::ClusterKey::new(b"pool cluster key");
        let mut backup = super::super::pool_member(now, vec![(NodeId(2), peer)]);
        let mut w = Wire {
            mac: Some(CmacKey::derive(&key, MAC_INFO)),
            ..Default::default()
        };
        let Record::Session(up) = session(1, 5) else {
            unreachable!()
        };
        let setup = Record::SessionSequence {
            session: up,
            ns: 3,
            nr: 2,
        };
        let gone = Record::SessionGone {
            tunnel: 1,
            session: 5,
        };
        // Sent by member 2: the tunnel, the call set up, the call gone, then the set-up's
        // batch again (a retransmission reordered behind the next batch).
        let mut send = |backup: &mut Lns, seq: u64, rec: &Record| {
            let items = [Entry::Item(rec.clone())];
            w.seal(peer, KIND_REPLICATE, NodeId(2), 1, None, |out| {
                crate::replica::encode_batch(seq, &items, out)
            });
            let t = w.out.pop_front().unwrap();
            let r = backup.handle_datagram(now, peer, local, &t.payload);
            let acks: Vec<_> = std::iter::from_fn(|| backup.poll_transmit()).collect();
            (r, acks)
        };
        let (r, _) = send(&mut backup, 1, &tunnel_record(1));
        assert_eq!(r, Ok(()));
        let (r, _) = send(&mut backup, 2, &setup);
        assert_eq!(r, Ok(()));
        let call = crate::l2tp::SessionRef {
            tunnel: 1,
            session: 5,
        };
        assert_eq!(backup.held_sessions_for(NodeId(2)), vec![call]);
        let (r, _) = send(&mut backup, 3, &gone);
        assert_eq!(r, Ok(()));
        assert_eq!(backup.held_sessions_for(NodeId(2)), vec![]);
        let (r, acks) = send(&mut backup, 2, &setup);
        assert_eq!(r, Ok(()));
        // Acknowledged (its token to the sender), not applied.
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].dst, peer);
        assert_eq!(acks[0].payload.len(), TOKEN_ACK_LEN);
        assert_eq!(
            acks[0].payload.get(3..5),
            Some(&[ENVELOPE.version, KIND_TOKEN][..])
        );
        assert_eq!(backup.held_sessions_for(NodeId(2)), vec![]);
    }

    /// `a_batch_applies_as_its_records_one_by_one`: each batch (its sender restarted first
    /// when its flag says so) sealed, taken by a backup as a datagram, and its records applied
    /// one by one by another backup: both hold and refuse the same after each.
    fn batches_apply_as_their_records(
        batches: Vec<(bool, Vec<Record>)>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let now = Instant::now();
        let peer: SocketAddr = "10.0.2.2:1701".parse().unwrap();
        let local: SocketAddr = "10.0.2.1:1701".parse().unwrap();
        let key = crate::health::ClusterKey::new(b"pool cluster key");
        let backup = || {
            let mut lns = super::super::pool_member(now, vec![(NodeId(2), peer)]);
            let cfg = lns.cfg.replication.as_mut().unwrap();
            (cfg.max_tunnels, cfg.max_sessions) = (2, 3);
            lns
        };
        let (mut batched, mut one_by_one) = (backup(), backup());
        let mut w = Wire {
            mac: Some(CmacKey::derive(&key, MAC_INFO)),
            ..Default::default()
        };
        let mut incarnation = 1;
        for (i, (restart, recs)) in batches.into_iter().enumerate() {
            incarnation += u32::from(restart);
            let items: Vec<Entry<Record>> = recs.iter().cloned().map(Entry::Item).collect();
            let n = i as u64 + 1;
            w.seal(peer, KIND_REPLICATE, NodeId(2), incarnation, None, |out| {
                crate::replica::encode_batch(n, &items, out)
            });
            let t = w.out.pop_front().unwrap();
            let r = batched.handle_datagram(now, peer, local, &t.payload);
            proptest::prop_assert_eq!(r, Ok(()));
            one_by_one.note_incarnation(NodeId(2), incarnation);
            for rec in recs {
                one_by_one.apply_record(now, NodeId(2), rec);
            }
            proptest::prop_assert_eq!(
                batched.held_copy(NodeId(2)),
                one_by_one.held_copy(NodeId(2))
            );
            proptest::prop_assert_eq!(
                batched.core.stats.replicas_refused,
                one_by_one.core.stats.replicas_refused
            );
            proptest::prop_assert_eq!(
                batched.held_details(NodeId(2)),
                one_by_one.held_details(NodeId(2))
            );
        }
        Ok(())
    }

    /// A call's record (`Record::Call`, with its tunnel's sequence numbers or without) or a
    /// call update (`Record::CallUpdate`) of tunnels 1 to 3, sessions 1 to 4, with any
    /// replicable details (`replica` docs, call details).
    fn call_record() -> impl proptest::strategy::Strategy<Value = Record> {
        use proptest::prelude::*;
        let details = crate::strategies::l2tp::replicable_call_details;
        prop_oneof![
            (1u16..4, 1u16..5, any::<Option<(u16, u16)>>(), details()).prop_map(
                |(t, s, sequence, d)| {
                    let Record::Session(session) = session(t, s) else {
                        unreachable!()
                    };
                    Record::Call(Box::new(CallRecord {
                        session,
                        sequence,
                        details: super::super::super::call::PackedCallDetails::new(&d),
                    }))
                }
            ),
            (1u16..4, 1u16..5, details()).prop_map(|(tunnel, session, d)| {
                Record::CallUpdate {
                    tunnel,
                    session,
                    details: super::super::super::call::PackedCallDetails::new(&d),
                }
            }),
        ]
    }

    proptest::proptest! {
        /// Batches of set-ups' and tear-downs' records with calls' records and call updates
        /// among them (a burst's records queued behind a batch in flight, read in place with
        /// no call's record boxed: `replica::setup_entries`, `Lns::apply_setup_entries`), and
        /// others with tunnels' records (entry by entry), the sender restarting between some:
        /// the backup holds the sessions and call details, and refuses as many records, as one
        /// that applies each record on its own (`Lns::apply_record`).
        #[test]
        fn a_batch_with_calls_applies_as_its_records_one_by_one(
            batches in proptest::collection::vec(
                (
                    proptest::prelude::any::<bool>(),
                    proptest::collection::vec(
                        proptest::prop_oneof![2 => held_record(), 1 => call_record()],
                        1..10,
                    ),
                ),
                1..16,
            ),
        ) {
            batches_apply_as_their_records(batches)?;
        }
    }

    fn session(tunnel: u16, session: u16) -> Record {
        Record::Session(SessionRecord {
            tunnel,
            session,
            peer_session: session,
            serial: u32::from(session),
            sequencing: false,
            load_balance_capable: false,
            data_ns: 0,
            data_nr: 0,
            answered: false,
            icrp_ns: None,
        })
    }

    fn seq(tunnel: u16, ns: u16, nr: u16) -> Record {
        Record::TunnelSequence { tunnel, ns, nr }
    }

    fn push(ch: &mut Channel<Record>, rec: Record) {
        if let Some(rec) = coalesce(ch, rec) {
            ch.enqueue(rec, 1000);
        }
    }

    /// Module docs (records): the set-ups queued while a batch is in flight carry one sequence
    /// update per tunnel, the latest, after the tunnel's session records; other tunnels' updates
    /// and records of other kinds are not merged.
    #[test]
    fn sequence_updates_coalesce_per_tunnel() {
        let mut ch = Channel::<Record>::new();
        for (i, s) in [1u16, 2, 3].into_iter().enumerate() {
            let i = u16::try_from(i).unwrap();
            push(&mut ch, session(7, s));
            push(&mut ch, seq(7, 10 + 2 * i, 20 + 2 * i));
        }
        push(
            &mut ch,
            Record::SessionGone {
                tunnel: 7,
                session: 1,
            },
        );
        push(&mut ch, seq(7, 16, 26));
        push(&mut ch, session(8, 1));
        push(&mut ch, seq(8, 1, 2));
        push(&mut ch, seq(7, 17, 27));
        let queued: Vec<Record> = ch.queued().cloned().collect();
        assert_eq!(
            queued,
            [
                session(7, 1),
                session(7, 2),
                session(7, 3),
                Record::SessionGone {
                    tunnel: 7,
                    session: 1
                },
                seq(7, 16, 26),
                session(8, 1),
                seq(8, 1, 2),
                seq(7, 17, 27),
            ]
        );
        // A removal of the tunnel is never merged into its update.
        push(&mut ch, Record::TunnelGone { tunnel: 7 });
        assert_eq!(ch.queued().count(), 9);
    }

    proptest::proptest! {
        /// A held ICRP (module docs, output commit) is numbered with
        /// [`crate::l2tp::channel::Channel::reserve_in`], written into the endpoint's arena: any
        /// interleaving of reservations (ICRPs of up to three long AVPs), releases in any order,
        /// sends, the peer's messages (our Nr moving between a reservation and its release),
        /// transmissions, acknowledgements and retransmissions gives the datagrams of
        /// [`crate::l2tp::channel::Channel::reserve`], in the same order; each parses back to
        /// the message reserved at the Ns it was given, with an Nr from the one it was reserved
        /// under to the peer's next Ns, never acknowledging what the peer did not send (RFC 2661
        /// 5.8).
        #[test]
        fn a_reserved_icrp_written_into_the_arena_is_the_same_datagram(
            ops in proptest::collection::vec((0u8..7, 0u16..2000, proptest::prelude::any::<u8>()), 1..60),
        ) {
            use crate::l2tp::channel::{Channel as Ctrl, ChannelConfig};
            use crate::l2tp::wire::{Avp, Message, avp::AvpValue};
            let parse = |b: &bytes::Bytes| match Message::parse(b).unwrap().into_owned() {
                Message::Control(c) => c,
                _ => panic!("not a control message"),
            };
            let now0 = Instant::now();
            let mut now = now0;
            let (mut a, mut a2) = (Ctrl::new(ChannelConfig::default(), 1), Ctrl::new(ChannelConfig::default(), 1));
            let mut b = Ctrl::new(ChannelConfig::default(), 2);
            let mut arena = BytesMut::new();
            // Reserved and not yet released; every message numbered, by Ns, with our Nr then.
            let mut reserved: Vec<u16> = Vec::new();
            let mut numbered: BTreeMap<u16, (u16, ControlMessage<'static>)> = BTreeMap::new();
            let mut from_b = 0u16;
            let mut in_flight = Vec::new();
            for (op, len, x) in ops {
                match op {
                    0 | 1 => {
                        let mut m = ControlMessage::icrp(0, len, len.wrapping_add(1));
                        if op == 1 {
                            for k in 0..3u8 {
                                let octets = vec![x ^ k; 1 + usize::from(len % 999)];
                                m.push(Avp::optional(AvpValue::HostName(octets.into())));
                            }
                        }
                        let (r, r2) = (a.reserve(m.clone()), a2.reserve_in(m.clone(), &mut arena));
                        proptest::prop_assert_eq!(r, r2);
                        if let Some(ns) = r {
                            reserved.push(ns);
                            numbered.insert(ns, (from_b, m));
                        }
                    }
                    2 if !reserved.is_empty() => {
                        let ns = reserved.remove(usize::from(x) % reserved.len());
                        a.release(now, ns);
                        a2.release(now, ns);
                    }
                    2 => {
                        let m = ControlMessage::hello(0);
                        proptest::prop_assert_eq!(a.send(now, m.clone()), a2.send_in(now, m, &mut arena));
                    }
                    3 => {
                        // The peer sends: our Nr moves.
                        let _ = b.send(now, ControlMessage::hello(0));
                        while let Some(d) = b.poll_transmit() {
                            let m = parse(&d);
                            if !m.is_zlb() && m.header.ns == from_b {
                                from_b = from_b.wrapping_add(1);
                            }
                            a.receive(now, m.clone());
                            a2.receive(now, m);
                        }
                    }
                    4 => loop {
                        let (d, d2) = (a.poll_transmit(), a2.poll_transmit());
                        proptest::prop_assert_eq!(&d, &d2);
                        let Some(d) = d else { break };
                        let got = parse(&d);
                        proptest::prop_assert_eq!(got.header.tunnel_id, 1);
                        if let Some((at, want)) = numbered.get(&got.header.ns) {
                            proptest::prop_assert_eq!(&got.avps, &want.avps);
                            // Our Nr when it left: not before the one it was reserved under,
                            // and never past what the peer sent.
                            proptest::prop_assert!((*at..=from_b).contains(&got.header.nr));
                        }
                        in_flight.push(got);
                    },
                    5 => {
                        for m in in_flight.drain(..) {
                            b.receive(now, m);
                        }
                        b.flush_ack();
                        // A ZLB, or the peer's messages its window held until now.
                        while let Some(z) = b.poll_transmit() {
                            let m = parse(&z);
                            if !m.is_zlb() && m.header.ns == from_b {
                                from_b = from_b.wrapping_add(1);
                            }
                            a.receive(now, m.clone());
                            a2.receive(now, m);
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
            proptest::prop_assert!(now >= now0);
        }
    }
}
