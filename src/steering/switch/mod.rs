//! The switch processor: the VID manager, processor selection, table pushes and state sync.
//!
//! # Call order
//!
//! ```text
//! let mut sp = SwitchProcessor::new(config, now)?;
//! loop {
//!     sp.handle_datagram(now, from, to, data)?; // fabric messages and heartbeats on fabric_addr
//!     sp.handle_timeout(now);                   // when now >= sp.poll_timeout()
//!     while let Some(t) = sp.poll_transmit() {} // to line interfaces and processors
//!     while let Some(e) = sp.poll_event() {}    // VidAssigned, ProcessorDown, SetupDirected, ...
//! }
//! ```
//! Time passed in never goes backwards; an early `handle_timeout` is a no-op.
//!
//! # What it does
//!
//! * **VID manager.** A processor asks for its VID when it starts (a `VidRequest` with its slot
//!   id and incarnation). The answer is idempotent for one incarnation. A higher incarnation is a
//!   restart: the old VID's sessions are now served by their backups, so the old VID is kept (as
//!   *down* in the tables) while any session still names it, as primary or as backup. The
//!   restarted processor gets its old VID back only when no session names it; otherwise the
//!   lowest free VID. A VID that no session names and no processor owns is withdrawn from the
//!   tables (`withdraw_after` the last session naming it went away, so retransmitted requests of
//!   that session are still answered), and becomes free only once every line interface has acknowledged the table that no
//!   longer holds it: **a VID is reused only when no identifier in flight can name it**.
//! * **Restart.** A restarted switch processor (higher `incarnation`) knows nothing: processors
//!   notice it from its heartbeats, ask again for the VID they hold (kept unless another processor
//!   holds it) and announce every session again, own and replicated; VIDs only backups still
//!   name are relearned as down. Tables are pushed only after `rejoin_grace`, with versions above
//!   every version of the previous incarnation.
//! * **Tables.** Every change (a VID assigned, a processor up or down, a VID withdrawn) makes a
//!   new version of the VID table, pushed as a full snapshot to every line interface and
//!   repeated every `retransmit` until each acknowledges it. A VID is *up* while its processor's
//!   health ([`crate::health::Monitor`], heartbeats on the fabric address) is Up or Suspect, and
//!   *down* otherwise, so the line interfaces steer its sessions to their backups.
//! * **Processor Down by command.** [`SwitchProcessor::set_processor_up`] sets a processor Down
//!   at once (an operator, or the product's own health probe, that knows before the heartbeats
//!   run out): a new table with its VID down is pushed at once, whatever its heartbeats say,
//!   until it is set Up again ([`SwitchProcessor::processor_state`] is the state acted on).
//! * **Set-up.** A Create PDP Context Request (TEID 0; a Create Session Request and a PFCP
//!   Session Establishment Request the same way, see below) passed on by a line interface is directed
//!   to the processor chosen by load (`policy` over the eligible processors, see
//!   [`crate::health::Policy`]), with a backup chosen the same way among the others. A repeated
//!   request (same peer and sequence number within `recent_window`) goes to the same processor
//!   while it is up. If it went down meanwhile, the repeat is directed afresh (the peer never saw
//!   the first answer); the backup's copy of that first attempt is then orphaned until the new
//!   set-up of that subscriber reaches its holder as primary or as backup, which deletes it and
//!   reports the deletion here (see [`crate::steering::processor`], bounds). A new Create PDP
//!   Context Request (not a repeat) for an IMSI and NSAPI whose context a processor holds
//!   (an index learnt from the syncs, one entry per live session) goes to that processor, or
//!   to the backup when the primary is down, which replaces the context (TS 29.060 7.3.1); a
//!   new Create Session Request for an IMSI and EPS Bearer ID the same way (TS 29.274 7.2.1).
//!   No eligible processor (Placement, below), or `max_sessions` reached: Create PDP Context
//!   Response with cause No resources available. Echo Requests are answered here (Recovery =
//!   `recovery` on GTP-C, 0 on GTP-U, TS 29.281 section 7.2.2), at most `echo_responses` (a
//!   token bucket). An L2TP set-up (tunnel id 0) is directed the same way.
//! * **Other GTP versions.** A datagram to the GTP-C port (2123) whose version field is neither
//!   1 nor 2 (GTPv0, say: the line interfaces pass these here) is answered with a GTPv1 Version
//!   Not Supported message (TS 29.060 sections 7.2.3 and 11.1.1: the header carries the highest
//!   version this node supports, 1; TEID and sequence number 0), sent to the datagram's source
//!   address and port, and refused with [`WireError::UnsupportedVersion`](crate::steering::gtp::WireError::UnsupportedVersion). A Version Not
//!   Supported of another version (message type 3 in every version) is never answered, so two
//!   nodes cannot answer each other forever. At most `version_not_supported` (a token bucket);
//!   beyond, suppressed and counted.
//! * **GTPv2-C** (TS 29.274, S11). An Echo Request is answered with an Echo Response carrying
//!   `recovery` (section 7.1.2), within `echo_responses`. A Create Session Request (TEID 0) is
//!   placed like a Create PDP Context Request (repeats by peer and sequence number, a processor
//!   and a backup by load) or refused with No resources available (73, header TEID the sender
//!   F-TEID's). Other messages reaching the switch processor are ignored.
//! * **PFCP** (TS 29.244, N4/Sxb). A Heartbeat Request is answered (section 7.4.2.2, within
//!   `echo_responses`) with the Recovery Time Stamp (the time the switch processor started, in
//!   NTP seconds, section 8.2.65: the caller gives it,
//!   [`SwitchProcessor::set_recovery_time_stamp`], a sans-IO machine reads no clock; a newer one
//!   tells CP functions of a restart, TS 23.007 clause 19A). An
//!   Association Setup Request with Node ID and Recovery Time Stamp records the CP function's
//!   association (at most `max_recent` of them; beyond, No resources available) and is answered
//!   with Node ID, Cause, Recovery Time Stamp and UP Function Features (FTUP: the processors
//!   choose F-TEIDs);
//!   Association Update and Release are answered with Request accepted for an associated CP
//!   function (a Release forgets it) and No established PFCP Association (72) otherwise. A
//!   Session Establishment Request (SEID 0) is placed like a Create PDP Context Request when its
//!   Node ID has an association, else refused with cause 72; with no processor eligible, with
//!   No resources available (75). A Release does not delete the CP function's sessions (their
//!   processors keep them until the CP function deletes them).
//! * **TEID ranges** (`teid_ranges`: the CP functions allocate F-TEIDs, TS 29.244 section 5.5.1).
//!   The switch processor advertises one User Plane IP Resource Information (section 8.2.82) per
//!   (VID, backup VID) pair of the processors **placement may use now** (Placement, below: the
//!   VID Up in a table version every line interface but the silent ones has acknowledged; not
//!   their load), never of a processor that just got its VID or came back Up before the line
//!   interfaces hold the table naming it: a CP function allocating an F-TEID there would have
//!   its set-up refused (No resources available, counted in
//!   [`SwitchStats::setups_awaiting_tables`]). The Association Setup Response carries them;
//!   when they change (a processor fails, comes back, gets another VID, the line interfaces
//!   acknowledge the table naming it Up, one falls silent), every associated CP function is
//!   sent an Association Update Request (sections 6.2.7.2 and 7.4.4.3: Node ID and the complete
//!   list, which replaces the ranges received before), repeated every `path.t3` up to
//!   `path.n3` times until its Association Update Response; a newer change supersedes a request
//!   not yet answered. No request goes out when nothing advertised changed (an acknowledgement
//!   of a table that names no new processor Up, say), nor when no range is left (one processor
//!   usable at most, with a backup field in the layout): a request without User Plane IP
//!   Resource Information would leave the CP function's ranges as they were (and a request
//!   not yet answered is no longer repeated then, its ranges stale). A range no longer
//!   advertised concerns only the F-TEIDs allocated from now on: the sessions already set up
//!   with an F-TEID in it keep it (nothing here deletes or moves a session; after a failure
//!   their backups serve them).
//! * **Extension headers.** A message (to the switch: TEID 0) whose extension header chain holds a
//!   type the endpoint must comprehend (two high bits `1x`) and does not support (see
//!   [`gtp::supported_extension_headers`](crate::steering::gtp::supported_extension_headers)) is discarded and answered with a Supported Extension
//!   Headers Notification (TS 29.281 section 5.2.1, TS 29.060 sections 6.1 and 7.2.4) to its
//!   source address and port, at most `extension_headers` (a token bucket).
//! * **Error Indications** from peers (GTP-U, TEID 0, so steered here): the peer's TEID Data I
//!   and GTP-U Peer Address name a session only by the peer's side, which only the processors
//!   know, so the Error Indication is relayed (as the `Packet` the line interface sent) to every
//!   processor holding a VID, which deletes the sessions it names (see
//!   [`crate::steering::processor`]); [`SwitchEvent::ErrorIndication`] reports it. At most
//!   `error_indications` relayed (a token bucket); beyond, dropped and counted.
//! * **Placement.** `placement` ([`Placement`]) chooses the processor of a new session: by
//!   `policy` over the loads the processors report (the default), weighted least-connections
//!   (sessions per unit of configured weight) or least load trend (the processor whose reported
//!   load rose least over a window). The backup is chosen the same way among the others.
//!   **Only processors every line interface steers to are chosen**, as primary and as backup:
//!   one whose VID is Up in a table version that every line interface has acknowledged (the
//!   switch processor keeps, per VID, the first version of its current run of Up entries at
//!   the same address, and compares it with the least version acknowledged). A processor that
//!   just got its VID (or came back Up) otherwise allocates identifiers carrying a VID some line
//!   interface does not hold yet, the update lost or late: that line interface drops the
//!   peer's next packets as unknown and answers them with an Error Indication or Non-existent
//!   (see [`crate::steering::line`]), which deletes the session at the peer; a backup is
//!   reached by the same tables after a failover. When no processor qualifies (a gateway just
//!   started, its VIDs assigned, no table acknowledged yet), a set-up gets the refusal it gets
//!   with no processor at all (below: No resources available in each protocol), counted in
//!   [`SwitchStats::setups_awaiting_tables`]; the peer's retransmission or next attempt is
//!   placed once the acknowledgements are in (a table retransmission, `retransmit`, away).
//!   **A line interface that never acknowledges** (a dead line card) must not stop all
//!   placement, and line interfaces send no heartbeats: the only sign of one alive is its
//!   acknowledgements. One left behind (sent a version newer than it acknowledged) without
//!   acknowledging a newer version for `line_ack_timeout` is *silent*
//!   ([`SwitchEvent::LineInterfaceSilent`], [`SwitchStats::line_interfaces_ignored`],
//!   [`SwitchProcessor::line_silent`]) and left out of the rule: placement then waits
//!   `line_ack_timeout` at most after a table change. It still gets every table, and counts
//!   again from its next acknowledgement of a newer version. The rule for freeing a withdrawn
//!   VID still waits for every line interface, silent or not.
//! * **Path management** (TS 23.007, see [`crate::steering::path`]). The peers the gateway has
//!   sessions (learnt from the syncs, by their control-plane address) or a PFCP association
//!   with are sent Echo (GTPv1-C, GTPv2-C) or Heartbeat (PFCP) Requests every
//!   `path.echo_interval` (on a GTP path never more often than `path.min_echo_interval`, 60 s:
//!   TS 29.281 section 7.2.1), repeated every `path.t3` up to `path.n3` in all; unanswered, the path
//!   has failed ([`SwitchEvent::PathFailure`]; the sessions kept or, per `path.on_failure`,
//!   purged), and the next answer restores it ([`SwitchEvent::PathRestored`]). A newer
//!   Recovery or Recovery Time Stamp, in an answer to our request (matching sequence number) or
//!   in a set-up, Echo, Heartbeat or Association Setup Request, is a restart
//!   ([`SwitchEvent::PeerRestarted`] with the count): the peer's sessions are forgotten here and
//!   purged on every processor in `Purge` batches of `path.purge_batch` TEIDs, one batch per
//!   `handle_timeout`, each repeated until every operational processor acknowledges it. A
//!   purged TEID is remembered for `withdraw_after`: a sync of it still in flight is
//!   acknowledged, not relayed, so the session does not come back.
//!   Echo and Heartbeat Requests from hosts that are not tracked peers create no peer. The
//!   sessions' user-plane peers get GTP-U Echo Requests the same way (a failed path is reported;
//!   their Recovery is ignored, TS 29.281 section 7.2.2), and a Recovery a processor saw in a
//!   steered request (`PeerRecovery`) is compared as if the switch processor had received it.
//! * **Fabric seal.** Every message it sends but `Packet` and `Transmit` is sealed for its
//!   receiver in the receiver's incarnation as it knows it (fabric version 5, see
//!   [`crate::steering::fabric`]: a processor's from its VID requests, heartbeats and sealed
//!   messages; a line interface's from its `TableAck`s, 0 until the first), and every one it
//!   takes but those is taken only sealed: from the processor slot at the datagram's address
//!   under that slot's id, or from a line interface's address under an id that is no slot's
//!   nor its own, naming this switch processor's incarnation (but a `VidRequest` or
//!   `TableAck`, whatever they name), a fresh packet number in that sender's replay window.
//!   Anything else is refused ([`InputError::NotAuthorized`]), counted in
//!   [`SwitchStats::fabric_refused`], and changes nothing.
//! * **Line interface restarts.** A `TableAck` from a line interface under a higher
//!   incarnation than it knew (a line interface restarted, and says which table it holds,
//!   version 0, in its hello; or it refused a table sealed for an incarnation it no longer
//!   has, and says which it holds) sets that line interface's acknowledged version to the one
//!   it names (lower: within one incarnation the acknowledged version only rises), marks it
//!   behind, and pushes it the current table at once (not before `rejoin_grace`), sealed for
//!   the new incarnation. Placement waits for it again (Placement, below), and a withdrawn VID
//!   is freed only once it holds the table without it. A line interface whose incarnation is
//!   not known yet (none of its `TableAck`s admitted) is not sent a table before it has been
//!   behind for `retransmit`: its hello is awaited first (a table sealed for incarnation 0 is
//!   refused, and only draws the acknowledgement that names its incarnation).
//! * **State sync.** A processor's `Sync` of a session is relayed to the backup the session's
//!   TEID names (opened, and sealed again by the switch processor for the backup), whose
//!   `SyncAck` is relayed back the same way; if that backup is not operational the switch
//!   processor acknowledges itself. It keeps the set of live TEIDs (not their state) to know which
//!   VIDs are still named.
//!
//! # Bounds
//!
//! * Live sessions: `max_sessions` TEIDs; set-ups beyond are refused (above), and a sync that
//!   would exceed it is not acknowledged.
//! * Recent set-ups: `max_recent`; when full the oldest is forgotten (a retransmission arriving
//!   after that may be directed elsewhere).
//! * Processors: the configured slots; VIDs: the layout's `max_vid`. A VID request when every VID
//!   is taken gets no answer (the processor keeps asking) and is counted.
//! * Association Update Requests awaiting a response: one per associated CP function.
//! * Peers: `path.max_peers` (beyond, untracked and counted in `peers_full`); purge batches in
//!   flight: [`MAX_PURGES_IN_FLIGHT`](crate::steering::path::MAX_PURGES_IN_FLIGHT) (beyond, the
//!   next batch waits); a batch is repeated at most 10 times (then counted in
//!   `purges_unacked`).
//! * Output and event queues: `queue_limit`; beyond, datagrams are dropped and counted, the oldest
//!   event is dropped.
//! * Version Not Supported answers: `version_not_supported`; relayed Error Indications:
//!   `error_indications`; Echo Responses: `echo_responses`; Supported Extension Headers
//!   Notifications: `extension_headers`; Invalid message format answers: `length_errors` (token
//!   buckets: `burst` at once, `per_second` after); beyond, not sent and counted in
//!   [`SwitchStats`].

mod config;
mod n4;
mod path;
mod placement;
mod setup;
mod sync;
mod vids;

pub use config::{
    NTP_UNIX_OFFSET, Placement, RefusedSetup, SwitchConfig, SwitchEvent, SwitchStats,
};

use super::common::{self, Outbox};
use super::error::{ConfigError, ConfigField, FabricKind, InputError};
use super::fabric::{FabricMessage, FabricSealer, LINE_INTERFACES, VidState};
use super::path::PeerId;
use super::vid::VirtualId;
use crate::health::{Embedded, HealthEvent, Monitor, MonitorConfig, NodeId, NodeState, Role};
use crate::io::TokenBucket;
use crate::io::{Rng, TimerQueue, Transmit};
use crate::replica::ReplayWindow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Debug, Clone)]
struct Slot {
    addr: SocketAddr,
    incarnation: Option<u32>,
    vid: Option<VirtualId>,
    /// The VID this slot held last (kept to give it back when safe).
    last_vid: Option<VirtualId>,
    /// Set Down by the caller ([`SwitchProcessor::set_processor_up`]): Down whatever its
    /// heartbeats say, until set Up again.
    set_down: bool,
    /// The replay window of its sealed messages.
    window: ReplayWindow,
}

/// What the switch processor knows of a line interface: the tables it acknowledged.
#[derive(Debug, Clone, Copy, Default)]
struct Line {
    /// The highest table version it acknowledged (0: none).
    acked: u64,
    /// Since when it has been sent a version newer than `acked` without acknowledging a newer
    /// one (`None`: it holds the current version, or was never sent one).
    behind_since: Option<Instant>,
    /// Left out of the placement rule: behind for `line_ack_timeout`.
    silent: bool,
    /// The replay window of its sealed messages (known by its address: whatever node id it
    /// seals with, but a processor's or the switch processor's own).
    window: ReplayWindow,
    /// Its incarnation, the highest its admitted `TableAck`s came under (0: not heard from
    /// yet): the receiver incarnation its tables are sealed for.
    incarnation: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Slot(NodeId),
    /// Its processor restarted or left; its sessions are served by their backups. Holds the
    /// instant the last session naming it went away.
    Orphan(Option<Instant>),
    /// Withdrawn from the tables at this version; free once every line interface has it.
    Withdrawn(u64),
}

#[derive(Debug, Clone, Copy)]
struct VidInfo {
    owner: Owner,
    addr: SocketAddr,
    refs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Timer {
    Push,
    Recent,
    Collect,
    /// A peer's next Echo (Heartbeat) Request or its repeat.
    Echo(PeerId),
    /// The next purge batch.
    PurgeStep,
    /// A purge batch's repeat.
    PurgeRetry(u32),
    /// A PFCP Association Update Request's repeat.
    AssociationUpdate(PeerId),
    /// A line interface behind since `line_ack_timeout` ago is silent.
    LineAck,
}

/// A switch processor endpoint (see the [module documentation](self)).
#[derive(Debug)]
pub struct SwitchProcessor {
    config: SwitchConfig,
    /// [`SwitchProcessor::set_recovery_time_stamp`]'s, when given.
    recovery_time_stamp: Option<u32>,
    slots: HashMap<NodeId, Slot>,
    by_addr: HashMap<SocketAddr, NodeId>,
    vids: Vec<Option<VidInfo>>,
    sessions: HashSet<u32>,
    version: u64,
    /// The line interfaces, ordered, so pushes go out in the same order in every run.
    lines: BTreeMap<SocketAddr, Line>,
    recent: VecDeque<(Instant, SocketAddr, u32)>,
    recent_map: HashMap<(SocketAddr, u32), (VirtualId, Option<VirtualId>)>,
    /// The CP functions with a PFCP association (TS 29.244 section 6.2.6), by Node ID (its
    /// type octet and value), at most `max_recent`.
    associations: HashSet<(u8, Vec<u8>)>,
    /// The peers' paths (see [`crate::steering::path`]).
    paths: path::Paths,
    /// TEIDs purged lately (`withdraw_after`, at most `max_sessions`): a sync of one still in
    /// flight does not bring it back.
    purged: common::Tombstones,
    /// The (VID, backup VID) pairs whose TEID ranges the CP functions were last told of
    /// (`teid_ranges`).
    teidri_advertised: Vec<(VirtualId, Option<VirtualId>)>,
    /// Association Update Requests awaiting their response, by CP function (at most one per
    /// associated peer, so at most `path.max_peers`).
    updates: HashMap<PeerId, n4::PendingUpdate>,
    /// The processors' load reports, for the trend placement.
    trends: placement::Trends,
    monitor: Embedded,
    rng: Rng,
    timers: TimerQueue<Timer>,
    out: Outbox<SwitchEvent>,
    stats: SwitchStats,
    last_states: Vec<Option<VidState>>,
    /// Per VID, while it is Up in the tables: the first table version naming it Up (at the
    /// address it names), so it is Up in every version from that one on.
    up_since: Vec<Option<(u64, SocketAddr)>>,
    /// No table is pushed before this instant (see `rejoin_grace`).
    push_from: Instant,
    version_not_supported: TokenBucket,
    error_indications: TokenBucket,
    echo_responses: TokenBucket,
    extension_headers: TokenBucket,
    length_errors: TokenBucket,
    /// Seals its messages and opens the processors' and line interfaces'.
    sealer: FabricSealer,
}

impl SwitchProcessor {
    /// Checks the configuration and starts the heartbeats.
    pub fn new(config: SwitchConfig, now: Instant) -> Result<SwitchProcessor, ConfigError> {
        check_config(&config)?;
        let (slots, by_addr) = slots(&config)?;
        let monitor = Embedded::new(monitor_config(&config), Some(config.fabric_addr), now)?;
        let n = usize::from(max_vid(&config)) + 1;
        let push_from = if config.incarnation > 1 {
            now + config.rejoin_grace
        } else {
            now
        };
        let version = u64::from(config.incarnation) << 32;
        Ok(SwitchProcessor {
            sealer: FabricSealer::new(&config.key, config.node, config.incarnation),
            version_not_supported: TokenBucket::new(config.version_not_supported, now),
            error_indications: TokenBucket::new(config.error_indications, now),
            echo_responses: TokenBucket::new(config.echo_responses, now),
            extension_headers: TokenBucket::new(config.extension_headers, now),
            length_errors: TokenBucket::new(config.length_errors, now),
            rng: Rng::from_config(config.seed)?,
            lines: config
                .line_interfaces
                .iter()
                .map(|&a| (a, Line::default()))
                .collect(),
            out: Outbox::new(config.queue_limit, config.queue_limit),
            config,
            slots,
            by_addr,
            vids: vec![None; n],
            sessions: HashSet::new(),
            recent: VecDeque::new(),
            recent_map: HashMap::new(),
            associations: HashSet::new(),
            paths: path::Paths::default(),
            purged: common::Tombstones::default(),
            teidri_advertised: Vec::new(),
            updates: HashMap::new(),
            trends: placement::Trends::default(),
            monitor,
            timers: TimerQueue::new(),
            stats: SwitchStats::default(),
            last_states: vec![None; n],
            up_since: vec![None; n],
            push_from,
            version,
            recovery_time_stamp: None,
        })
    }

    /// Sets the UP function's Recovery Time Stamp (TS 29.244 section 8.2.65), sent in its PFCP
    /// Heartbeat Requests and Responses and Association Setup Responses: the time this switch
    /// processor started, in seconds since 1900-01-01 00:00 UTC (the first four octets of the
    /// RFC 5905 section 6 timestamp: a Unix time plus [`NTP_UNIX_OFFSET`]). The crate reads no
    /// clock, so the caller gives it, e.g. from `SystemTime::now().duration_since(UNIX_EPOCH)`
    /// when it starts the processor; a restarted switch processor must be given a later one,
    /// which CP functions take for a restart (TS 23.007 clause 19A). Until it is set,
    /// [`SwitchProcessor::recovery_time_stamp`] is a fixed instant plus the restart counter.
    pub fn set_recovery_time_stamp(&mut self, ntp_seconds: u32) {
        self.recovery_time_stamp = Some(ntp_seconds);
    }

    /// The Recovery Time Stamp the switch processor's PFCP node messages carry (TS 29.244
    /// section 8.2.65), in NTP seconds: the one set
    /// ([`SwitchProcessor::set_recovery_time_stamp`]), else 3 908 988 800
    /// (2023-11-14 22:13:20 UTC) plus [`SwitchConfig::recovery`], a time that changes when the
    /// restart counter does, so that a restart is still seen as one (TS 23.007 clause 19A).
    pub fn recovery_time_stamp(&self) -> u32 {
        self.recovery_time_stamp
            .unwrap_or(config::DEFAULT_RECOVERY_TIME_STAMP + u32::from(self.config.recovery))
    }

    /// The counters.
    pub fn stats(&self) -> SwitchStats {
        SwitchStats {
            queue_full: self.out.queue_full(),
            events_dropped: self.out.events_dropped(),
            ..self.stats
        }
    }

    /// The current table version.
    pub fn table_version(&self) -> u64 {
        self.version
    }

    /// The version each line interface acknowledged.
    pub fn acked_version(&self, line: SocketAddr) -> Option<u64> {
        self.lines.get(&line).map(|l| l.acked)
    }

    /// Whether line interface `line` is silent: it left the tables pushed to it unacknowledged
    /// for `line_ack_timeout`, so placement does not wait for it
    /// ([`SwitchConfig::line_ack_timeout`]). `None` for an address that is not a configured
    /// line interface.
    pub fn line_silent(&self, line: SocketAddr) -> Option<bool> {
        self.lines.get(&line).map(|l| l.silent)
    }

    /// The VID of a processor slot.
    pub fn vid_of(&self, processor: NodeId) -> Option<VirtualId> {
        self.slots.get(&processor).and_then(|s| s.vid)
    }

    /// How many live sessions name `vid` (as primary or backup); `None` when it is free.
    pub fn vid_refs(&self, vid: VirtualId) -> Option<u32> {
        self.info(vid).map(|i| i.refs)
    }

    /// The number of live sessions known (by their TEIDs).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The health monitor (processor states and loads, as the heartbeats say; the state the
    /// switch processor acts on is [`SwitchProcessor::processor_state`]).
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The state the switch processor acts on for processor slot `processor`:
    /// [`NodeState::Down`] while the caller has set it Down
    /// ([`SwitchProcessor::set_processor_up`]), else what its heartbeats say (the monitor's
    /// [`NodeState`]: Up, Suspect, or Down after `health.misses_down` missed intervals or
    /// before it was first heard). `None` for an id that is not a configured slot. A VID is Up
    /// in the tables while its processor's state is Up or Suspect.
    pub fn processor_state(&self, processor: NodeId) -> Option<NodeState> {
        let slot = self.slots.get(&processor)?;
        if slot.set_down {
            return Some(NodeState::Down);
        }
        Some(self.monitor.state(processor).unwrap_or(NodeState::Down))
    }

    /// Whether processor slot `processor` is Up or Suspect ([`SwitchProcessor::processor_state`]).
    fn is_operational(&self, processor: NodeId) -> bool {
        matches!(
            self.processor_state(processor),
            Some(NodeState::Up | NodeState::Suspect)
        )
    }

    /// Sets processor slot `processor` Down (`up == false`) or lets it be Up again (`up ==
    /// true`), at once, without waiting for its heartbeats: the command for an operator, or for
    /// the product's own health probe, that knows a processor has failed (or must be taken out
    /// of service) before `health.misses_down` heartbeat intervals have passed. The same words
    /// as the L2TP pool's [`Lns::set_member_up`](crate::l2tp::Lns::set_member_up) and
    /// [`NodeState`] (the L2TP pool's `MemberState`, the Home Agent's peers).
    ///
    /// Set Down, the processor is Down ([`SwitchProcessor::processor_state`]) whatever its
    /// heartbeats say, exactly as if they had stopped: [`SwitchEvent::ProcessorDown`] is
    /// reported, its VID is Down in a new table version pushed to every line interface at once
    /// (they steer the packets of its sessions to each session's backup, TS 23.007 clause 23
    /// leaves the recovery of a failed component's sessions to implementation-specific session
    /// redundancy), it is given no new sessions nor backups, syncs naming it as backup are
    /// acknowledged by the switch processor, and purges do not wait for it. Its heartbeats are
    /// still taken (its load and incarnation stay known; a restart is still reported).
    ///
    /// Set Up again, its state is what its heartbeats say: if they are heard (Up or Suspect),
    /// [`SwitchEvent::ProcessorUp`] is reported and its VID is Up in a new table version at
    /// once; if they are not, it stays Down until they resume (then `ProcessorUp`, as after any
    /// failure). Setting Down a processor already set Down, or Up one that is not, changes
    /// nothing. Returns `false` (and does nothing) when `processor` is not a configured slot.
    pub fn set_processor_up(&mut self, now: Instant, processor: NodeId, up: bool) -> bool {
        let Some(slot) = self.slots.get(&processor) else {
            return false;
        };
        if slot.set_down != up {
            return true;
        }
        let before = self.is_operational(processor);
        if let Some(slot) = self.slots.get_mut(&processor) {
            slot.set_down = !up;
        }
        match (before, self.is_operational(processor)) {
            (true, false) => self.event(SwitchEvent::ProcessorDown { processor }),
            (false, true) => self.event(SwitchEvent::ProcessorUp { processor }),
            _ => {}
        }
        self.refresh(now);
        true
    }

    fn push(&mut self, t: Transmit) {
        self.out.push(t);
    }

    /// The incarnation of processor slot `id` as far as this switch processor knows: the
    /// highest of its VID requests, its heartbeats and its admitted sealed messages (0 before
    /// any).
    fn processor_incarnation(&self, id: NodeId) -> u32 {
        let Some(slot) = self.slots.get(&id) else {
            return 0;
        };
        let heard = self.monitor.incarnation_of(id).unwrap_or(0);
        slot.incarnation
            .unwrap_or(0)
            .max(heard)
            .max(slot.window.incarnation())
    }

    /// Queues `msg` to `dst`, a processor or a line interface, sealed for it in the incarnation
    /// known for it (fabric version 5; a `Packet` or `Transmit` unsealed).
    fn send(&mut self, dst: SocketAddr, msg: &FabricMessage<'_>) {
        let (receiver, incarnation) = match self.by_addr.get(&dst) {
            Some(&id) => (id, self.processor_incarnation(id)),
            None => (
                LINE_INTERFACES,
                self.lines.get(&dst).map_or(0, |l| l.incarnation),
            ),
        };
        let sealed = self.sealer.seal(receiver, incarnation, msg);
        self.push(common::transmit(self.config.fabric_addr, dst, sealed));
    }

    fn event(&mut self, e: SwitchEvent) {
        self.out.event(e);
    }

    fn handle_health(&mut self, now: Instant) {
        while let Some(t) = self.monitor.poll_transmit() {
            self.push(t);
        }
        let mut any = false;
        while let Some(e) = self.monitor.poll_event() {
            any = true;
            // A processor set Down by the caller stays Down whatever its heartbeats say: its
            // Up and Down transitions are not reported (nothing changes for the gateway).
            let processor = |n: NodeId| self.slots.contains_key(&n).then_some(n);
            let set_down = |n: NodeId| self.slots.get(&n).is_some_and(|s| s.set_down);
            let report = match e {
                HealthEvent::Up { node } | HealthEvent::Down { node } if set_down(node) => None,
                HealthEvent::Up { node } => {
                    processor(node).map(|processor| SwitchEvent::ProcessorUp { processor })
                }
                HealthEvent::Down { node } => {
                    processor(node).map(|processor| SwitchEvent::ProcessorDown { processor })
                }
                HealthEvent::Restarted {
                    node, incarnation, ..
                } => processor(node).map(|processor| SwitchEvent::ProcessorRestarted {
                    processor,
                    incarnation,
                }),
                HealthEvent::Suspect { .. } => None,
            };
            if let Some(r) = report {
                self.event(r);
            }
            if let HealthEvent::Restarted {
                node, incarnation, ..
            } = e
            {
                // Whatever state the old incarnation held is gone, unless the new incarnation
                // already asked for (and got) its VID.
                let stale = self
                    .slots
                    .get(&node)
                    .is_some_and(|s| s.incarnation.is_some_and(|k| k < incarnation));
                if stale {
                    self.orphan(node);
                }
            }
        }
        if any {
            self.refresh(now);
            self.collect(now);
        }
    }

    /// Feeds one datagram received on the fabric address. `to` (the local address it arrived
    /// at) is unused: the switch processor has one fabric address.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let _ = to;
        if let Some(r) = self.monitor.handle_datagram(now, from, data) {
            if r.is_ok() {
                self.record_load(now, from);
            }
            self.handle_health(now);
            return Ok(r?);
        }
        let (msg, incarnation) = match self.admit(from, data) {
            Ok(m) => m,
            Err(e) => {
                self.stats.fabric_refused += 1;
                return Err(e);
            }
        };
        match msg {
            FabricMessage::VidRequest {
                processor,
                incarnation,
                current,
            } => {
                if self.by_addr.get(&from) != Some(&processor) {
                    return Err(InputError::Untrusted(FabricKind::VidRequest));
                }
                self.assign(now, processor, incarnation, current);
                Ok(())
            }
            FabricMessage::TableAck { version } => {
                self.handle_table_ack(now, from, version, incarnation)
            }
            FabricMessage::Packet {
                from: peer,
                to: gateway,
                data,
            } => {
                if !self.lines.contains_key(&from) {
                    return Err(InputError::Untrusted(FabricKind::Packet));
                }
                self.stats.from_line += 1;
                let route = common::Route {
                    line: from,
                    gateway,
                    peer,
                };
                self.handle_setup(now, route, &data)
            }
            FabricMessage::Sync { delete, record } => self.handle_sync(now, from, delete, record),
            FabricMessage::SyncAck { teid, version } => self.relay_sync_ack(from, teid, version),
            FabricMessage::PurgeAck { id } => self.handle_purge_ack(now, from, id),
            FabricMessage::PeerRecovery {
                protocol,
                peer,
                recovery,
            } => self.handle_peer_recovery(now, from, protocol, peer, recovery),
            m => Err(InputError::Unexpected(FabricKind::of(&m))),
        }
    }

    /// Opens and admits a fabric datagram from `from` ([`crate::steering::fabric`] module docs):
    /// a sealed one must come from the processor slot at `from` under that slot's id, or from a
    /// line interface's address under an id that is neither a slot's nor this switch
    /// processor's, name this switch processor's incarnation (but a handshake kind), its packet
    /// number fresh in that sender's window. Returns the message and the sender's incarnation
    /// (0 for an unsealed message).
    fn admit<'a>(
        &mut self,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Result<(FabricMessage<'a>, u32), InputError> {
        let opened = self.sealer.open(data)?;
        let me = self.config.node;
        let incarnation = opened.seal.map_or(0, |(h, ..)| h.incarnation);
        let slot = self.by_addr.get(&from).copied();
        let slots = &mut self.slots;
        let lines = &mut self.lines;
        // The handshake kinds are taken whatever incarnation of this switch processor they
        // name: their sender may not know it yet (fabric module docs). Every other kind must
        // name this incarnation.
        let exempt = opened.message.is_handshake_kind();
        let mine = (me, (!exempt).then_some(self.config.incarnation));
        FabricSealer::admit(mine, &opened, |sender| match slot {
            Some(id) if id == sender => slots.get_mut(&id).map(|s| &mut s.window),
            Some(_) => None,
            None if sender == me || slots.contains_key(&sender) => None,
            None => lines.get_mut(&from).map(|l| &mut l.window),
        })?;
        Ok((opened.message, incarnation))
    }

    /// Runs heartbeats and failure detection, repeats unacknowledged table pushes, forgets old
    /// set-ups, sends the peers' Echo (Heartbeat) Requests and the next purge batch.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.monitor.handle_timeout(now);
        self.handle_health(now);
        while let Some((t, _)) = self.timers.pop_expired(now) {
            match t {
                Timer::Push => self.push_table(now),
                Timer::Recent => self.expire_recent(now),
                Timer::Collect => self.collect(now),
                Timer::Echo(peer) => self.echo_due(now, peer),
                Timer::PurgeStep => self.purge_step(now),
                Timer::PurgeRetry(id) => self.purge_retry(now, id),
                Timer::AssociationUpdate(peer) => self.association_update_due(now, peer),
                Timer::LineAck => self.line_ack_due(now),
            }
        }
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.poll_transmit()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SwitchEvent> {
        self.out.poll_event()
    }

    /// The earliest deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.monitor.earliest(self.timers.next_deadline())
    }
}

/// The layouts, and the bounds that must not be zero.
fn check_config(config: &SwitchConfig) -> Result<(), ConfigError> {
    common::check_layouts(&config.layout, config.l2tp_layout.as_ref())?;
    if config.teid_ranges {
        crate::steering::pfcp::teidri::ranges(&config.layout)?;
    }
    for (field, zero) in [
        (ConfigField::Processors, config.processors.is_empty()),
        (
            ConfigField::LineInterfaces,
            config.line_interfaces.is_empty(),
        ),
        (ConfigField::MaxSessions, config.max_sessions == 0),
        (ConfigField::MaxRecent, config.max_recent == 0),
        (ConfigField::QueueLimit, config.queue_limit == 0),
        (ConfigField::Retransmit, config.retransmit.is_zero()),
        (
            ConfigField::LineAckTimeout,
            config.line_ack_timeout.is_zero(),
        ),
    ] {
        common::non_zero(field, zero)?;
    }
    for &addr in &config.line_interfaces {
        common::usable(ConfigField::LineInterfaces, addr)?;
    }
    Ok(())
}

/// The processor slots, by id and by address: no two share either, none has the switch
/// processor's own id.
#[allow(clippy::type_complexity)]
fn slots(
    config: &SwitchConfig,
) -> Result<(HashMap<NodeId, Slot>, HashMap<SocketAddr, NodeId>), ConfigError> {
    let mut slots = HashMap::new();
    let mut by_addr = HashMap::new();
    for &(id, addr) in &config.processors {
        if id == config.node || slots.contains_key(&id) || by_addr.contains_key(&addr) {
            return Err(ConfigError::DuplicateProcessor);
        }
        slots.insert(
            id,
            Slot {
                addr,
                incarnation: None,
                vid: None,
                last_vid: None,
                set_down: false,
                window: ReplayWindow::default(),
            },
        );
        by_addr.insert(addr, id);
    }
    Ok((slots, by_addr))
}

/// The health monitor's configuration: the processors are its peers.
fn monitor_config(config: &SwitchConfig) -> MonitorConfig {
    let mut hc = MonitorConfig::new(
        config.node,
        Role::SWITCH_PROCESSOR,
        config.key.clone(),
        config.processors.clone(),
    );
    hc.health = config.health;
    hc.incarnation = config.incarnation;
    hc.max_peers = config.processors.len().max(1);
    hc
}

fn max_vid(c: &SwitchConfig) -> u16 {
    match c.l2tp_layout {
        Some(l) => c.layout.max_vid().min(l.max_vid()),
        None => c.layout.max_vid(),
    }
}
