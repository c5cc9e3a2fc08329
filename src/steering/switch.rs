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
//! * **Set-up.** A Create PDP Context Request (TEID 0) passed on by a line interface is directed
//!   to the processor chosen by load (`policy` over the eligible processors, see
//!   [`crate::health::Policy`]), with a backup chosen the same way among the others. A repeated
//!   request (same peer and sequence number within `recent_window`) goes to the same processor
//!   while it is up. If it went down meanwhile, the repeat is directed afresh (the peer never saw
//!   the first answer); the backup's copy of that first attempt is then orphaned until the new
//!   set-up of that subscriber reaches its holder as primary or as backup, which deletes it and
//!   reports the deletion here (see [`crate::steering::processor`], bounds).
//!   No eligible processor, or `max_sessions` reached: Create PDP Context Response with cause
//!   No resources available. Echo Requests are answered here (Recovery = `recovery` on GTP-C, 0 on
//!   GTP-U, TS 29.281 section 7.2.2), at most `echo_responses` (a token bucket). An L2TP
//!   set-up (tunnel id 0) is directed the same way.
//! * **Other GTP versions.** A datagram to the GTP-C port (2123) whose version field is not 1
//!   (GTPv0, GTPv2-C: the line interfaces pass these here) is answered with a GTPv1 Version Not
//!   Supported message (TS 29.060 sections 7.2.3 and 11.1.1: the header carries the highest
//!   version this node supports, 1; TEID and sequence number 0), sent to the datagram's source
//!   address and port, and refused with [`WireError::UnsupportedVersion`]. A GTPv2 peer falls
//!   back to GTPv1 on it (TS 29.274 section 7.10). A Version Not Supported of another version
//!   (message type 3 in every version) is never answered, so two nodes cannot answer each other
//!   forever. At most `version_not_supported` (a token bucket); beyond, suppressed and counted.
//! * **Extension headers.** A message (to the switch: TEID 0) whose extension header chain holds a
//!   type the endpoint must comprehend (two high bits `1x`) and does not support (see
//!   [`gtp::supported_extension_headers`]) is discarded and answered with a Supported Extension
//!   Headers Notification (TS 29.281 section 5.2.1, TS 29.060 sections 6.1 and 7.2.4) to its
//!   source address and port, at most `extension_headers` (a token bucket).
//! * **Error Indications** from peers (GTP-U, TEID 0, so steered here): the peer's TEID Data I
//!   and GTP-U Peer Address name a session only by the peer's side, which only the processors
//!   know, so the Error Indication is relayed (as the `Packet` the line interface sent) to every
//!   processor holding a VID, which deletes the sessions it names (see
//!   [`crate::steering::processor`]); [`SwitchEvent::ErrorIndication`] reports it. At most
//!   `error_indications` relayed (a token bucket); beyond, dropped and counted.
//! * **State sync.** A processor's `Sync` of a session is relayed to the backup the session's
//!   TEID names, whose `SyncAck` is relayed back; if that backup is not operational the switch
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
//! * Output and event queues: `queue_limit`; beyond, datagrams are dropped and counted, the oldest
//!   event is dropped.
//! * Version Not Supported answers: `version_not_supported`; relayed Error Indications:
//!   `error_indications`; Echo Responses: `echo_responses`; Supported Extension Headers
//!   Notifications: `extension_headers` (token buckets: `burst` at once, `per_second` after); beyond, not sent
//!   and counted in [`SwitchStats`].

use super::error::{ConfigError, InputError};
use super::fabric::{FabricMessage, TableEntry, VidState};
use super::gtp::{self, Cause, Ie, Message, MessageType, WireError};
use super::vid::{VidLayout, VirtualId};
use crate::health::{
    self, ClusterKey, HealthEvent, Monitor, MonitorConfig, NodeId, NodeState, Policy, Role,
};
use crate::io::{RateLimit, TokenBucket};
use crate::io::{Rng, TimerQueue, Transmit};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Configuration of a [`SwitchProcessor`].
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    /// The switch processor's health node id.
    pub node: u32,
    /// Incarnation: must grow at every restart. Table versions start at `incarnation << 32`, so
    /// a restarted switch processor's tables replace its predecessor's.
    pub incarnation: u32,
    /// After a restart (`incarnation > 1`), how long to wait before pushing tables, so that the
    /// processors, which notice the restart from the heartbeats, have asked again for their VIDs
    /// and announced their sessions (the line interfaces keep steering with the old table
    /// meanwhile). At least a heartbeat interval plus a few fabric round trips.
    pub rejoin_grace: Duration,
    /// Its fabric address.
    pub fabric_addr: SocketAddr,
    /// The fabric addresses of the line interfaces (tables are pushed to each).
    pub line_interfaces: Vec<SocketAddr>,
    /// The processor slots: (slot id = health node id, fabric address).
    pub processors: Vec<(u32, SocketAddr)>,
    /// The 32-bit TEID layout.
    pub layout: VidLayout,
    /// The 16-bit L2TP layout, if L2TP is steered (VIDs must then fit it too).
    pub l2tp_layout: Option<VidLayout>,
    /// The restart counter sent in the Recovery IE of Echo Responses on GTP-C (TS 29.060
    /// section 7.7.12). Echo Responses on GTP-U (port 2152) carry 0 instead (TS 29.281 section
    /// 7.2.2: the GTP-U restart counter is sent as zero and ignored).
    pub recovery: u8,
    /// Most live sessions in the gateway.
    pub max_sessions: usize,
    /// Most recent set-ups remembered for retransmissions.
    pub max_recent: usize,
    /// How long a set-up is remembered.
    pub recent_window: Duration,
    /// Table push retransmission interval.
    pub retransmit: Duration,
    /// How long a VID of a restarted processor stays in the tables after the last session
    /// naming it is gone, so that peers' retransmissions of the last requests are still steered
    /// (to the backup that answered them). At least the peers' retransmission span (N3 x T3).
    pub withdraw_after: Duration,
    /// Cluster key of the heartbeats.
    pub key: ClusterKey,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Missed heartbeats before a processor is Suspect.
    pub misses_suspect: u32,
    /// Missed heartbeats before a processor is Down (its sessions go to their backups).
    pub misses_down: u32,
    /// Load percentage at which a processor gets no new sessions.
    pub overload_percent: u8,
    /// Selection policy for primaries and backups.
    pub policy: Policy,
    /// Seed of the selection's random tie-breaks: `None` (the default) reads 32 bytes from the
    /// operating system at [`SwitchProcessor::new`]; `Some` replays a run exactly (tests,
    /// simulations: [`crate::io::seed`]).
    pub seed: Option<[u8; 32]>,
    /// Bound of the output and event queues.
    pub queue_limit: usize,
    /// Bound of the Version Not Supported answers to GTP-C datagrams of other versions.
    pub version_not_supported: RateLimit,
    /// Bound of the peers' Error Indications relayed to the processors.
    pub error_indications: RateLimit,
    /// Bound of the Echo Responses sent (TS 29.060 section 7.2.2, TS 29.281 section 7.2.2):
    /// Echo Requests are unauthenticated, so a flood of them is answered at most this often;
    /// beyond, unanswered and counted ([`SwitchStats::echoes_suppressed`]).
    pub echo_responses: RateLimit,
    /// Bound of the Supported Extension Headers Notifications sent (TS 29.060 section 7.2.4)
    /// for messages carrying an unsupported comprehension-required extension header; beyond,
    /// the message is still discarded, unanswered, and counted
    /// ([`SwitchStats::extension_headers_suppressed`]).
    pub extension_headers: RateLimit,
}

impl SwitchConfig {
    /// A configuration with defaults for everything but the topology: incarnation 1, 1 s rejoin
    /// grace, no L2TP layout, recovery 0, 100 000 sessions, 10 000 remembered set-ups for 30 s,
    /// 200 ms table retransmission, VIDs withdrawn 30 s after their last session, 1 s heartbeats
    /// (Suspect after 3 missed, Down after 5), overloaded at 90 %, least-loaded selection, seed
    /// from the OS, queues of 4096, at most 100 Version Not Supported answers, 100 relayed Error
    /// Indications, 100 Echo Responses and 100 Supported Extension Headers Notifications per
    /// second (bursts of 20, each).
    pub fn new(
        node: u32,
        fabric_addr: SocketAddr,
        line_interfaces: Vec<SocketAddr>,
        processors: Vec<(u32, SocketAddr)>,
        layout: VidLayout,
        key: ClusterKey,
    ) -> SwitchConfig {
        SwitchConfig {
            node,
            incarnation: 1,
            rejoin_grace: Duration::from_secs(1),
            fabric_addr,
            line_interfaces,
            processors,
            layout,
            l2tp_layout: None,
            recovery: 0,
            max_sessions: 100_000,
            max_recent: 10_000,
            recent_window: Duration::from_secs(30),
            retransmit: Duration::from_millis(200),
            withdraw_after: Duration::from_secs(30),
            key,
            heartbeat_interval: Duration::from_secs(1),
            misses_suspect: 3,
            misses_down: 5,
            overload_percent: 90,
            policy: Policy::LeastLoaded,
            seed: None,
            queue_limit: 4096,
            version_not_supported: RateLimit::default(),
            error_indications: RateLimit::default(),
            echo_responses: RateLimit::default(),
            extension_headers: RateLimit::default(),
        }
    }
}

/// What the switch processor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchEvent {
    /// A VID was assigned to a processor incarnation.
    VidAssigned {
        /// The slot.
        processor: u32,
        /// The incarnation.
        incarnation: u32,
        /// The VID.
        vid: VirtualId,
        /// Whether it is the VID this slot held before.
        reused: bool,
    },
    /// A VID no session names any more was withdrawn from the tables.
    VidWithdrawn {
        /// The VID.
        vid: VirtualId,
    },
    /// A withdrawn VID was acknowledged by every line interface: it may be assigned again.
    VidFree {
        /// The VID.
        vid: VirtualId,
    },
    /// A new table version was pushed.
    TablePushed {
        /// Its version.
        version: u64,
    },
    /// A set-up request was directed.
    SetupDirected {
        /// The processor's VID.
        primary: VirtualId,
        /// The backup's VID.
        backup: Option<VirtualId>,
    },
    /// A set-up request was refused.
    SetupRefused,
    /// A peer's Error Indication was relayed to the processors.
    ErrorIndication {
        /// Its TEID Data I: the peer's TEID that named no context there.
        teid: u32,
        /// Its GTP-U Peer Address: the peer's user-plane address.
        peer: IpAddr,
    },
}

/// Counters of a switch processor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwitchStats {
    /// Datagrams line interfaces passed on (set-ups, path management, anything with TEID 0).
    pub from_line: u64,
    /// Set-up requests directed to a processor.
    pub setups_directed: u64,
    /// Set-up repeats directed to the processor chosen the first time.
    pub setups_repeated: u64,
    /// Set-up requests refused.
    pub setups_refused: u64,
    /// Echo Requests answered.
    pub echoes: u64,
    /// Echo Requests not answered because `echo_responses` was exhausted.
    pub echoes_suppressed: u64,
    /// Supported Extension Headers Notifications sent.
    pub extension_headers_notifications: u64,
    /// Messages with an unsupported comprehension-required extension header discarded without
    /// a notification because `extension_headers` was exhausted.
    pub extension_headers_suppressed: u64,
    /// Datagrams from line interfaces other than set-ups and echoes (ignored).
    pub ignored: u64,
    /// Syncs relayed to a backup.
    pub syncs_relayed: u64,
    /// Syncs acknowledged by the switch processor itself (no operational backup).
    pub syncs_acked: u64,
    /// Syncs refused because `max_sessions` was reached.
    pub syncs_refused: u64,
    /// VID requests left unanswered because every VID is taken.
    pub vids_exhausted: u64,
    /// Datagrams dropped because the output queue was full.
    pub queue_full: u64,
    /// Version Not Supported messages sent.
    pub version_not_supported: u64,
    /// Version Not Supported answers not sent because `version_not_supported` was exhausted.
    pub version_not_supported_suppressed: u64,
    /// Peers' Error Indications relayed to the processors.
    pub error_indications_relayed: u64,
    /// Peers' Error Indications dropped because `error_indications` was exhausted.
    pub error_indications_suppressed: u64,
}

#[derive(Debug, Clone)]
struct Slot {
    addr: SocketAddr,
    incarnation: Option<u32>,
    vid: Option<VirtualId>,
    /// The VID this slot held last (kept to give it back when safe).
    last_vid: Option<VirtualId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Slot(u32),
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
}

/// A switch processor endpoint (see the [module documentation](self)).
#[derive(Debug)]
pub struct SwitchProcessor {
    config: SwitchConfig,
    slots: HashMap<u32, Slot>,
    by_addr: HashMap<SocketAddr, u32>,
    vids: Vec<Option<VidInfo>>,
    sessions: HashSet<u32>,
    version: u64,
    /// Ordered, so pushes go out in the same order in every run.
    acked: BTreeMap<SocketAddr, u64>,
    recent: VecDeque<(Instant, SocketAddr, u16)>,
    recent_map: HashMap<(SocketAddr, u16), (VirtualId, Option<VirtualId>)>,
    monitor: Monitor,
    rng: Rng,
    timers: TimerQueue<Timer>,
    queue: VecDeque<Transmit>,
    events: VecDeque<SwitchEvent>,
    stats: SwitchStats,
    last_states: Vec<Option<VidState>>,
    /// No table is pushed before this instant (see `rejoin_grace`).
    push_from: Instant,
    version_not_supported: TokenBucket,
    error_indications: TokenBucket,
    echo_responses: TokenBucket,
    extension_headers: TokenBucket,
}

impl SwitchProcessor {
    /// Checks the configuration and starts the heartbeats.
    pub fn new(config: SwitchConfig, now: Instant) -> Result<SwitchProcessor, ConfigError> {
        if config.layout.id_bits() != 32 {
            return Err(ConfigError::LayoutWidth {
                field: "layout",
                bits: 32,
            });
        }
        if config.l2tp_layout.is_some_and(|l| l.id_bits() != 16) {
            return Err(ConfigError::LayoutWidth {
                field: "l2tp_layout",
                bits: 16,
            });
        }
        if config.processors.is_empty() {
            return Err(ConfigError::Zero("processors"));
        }
        if config.line_interfaces.is_empty() {
            return Err(ConfigError::Zero("line_interfaces"));
        }
        for (field, zero) in [
            ("max_sessions", config.max_sessions == 0),
            ("max_recent", config.max_recent == 0),
            ("queue_limit", config.queue_limit == 0),
            ("retransmit", config.retransmit.is_zero()),
        ] {
            if zero {
                return Err(ConfigError::Zero(field));
            }
        }
        let mut slots = HashMap::new();
        let mut by_addr = HashMap::new();
        for &(id, addr) in &config.processors {
            if id == config.node || slots.contains_key(&id) || by_addr.contains_key(&addr) {
                return Err(ConfigError::Invalid {
                    field: "processors",
                    why: "duplicate slot id or address, or the switch's own id",
                });
            }
            slots.insert(
                id,
                Slot {
                    addr,
                    incarnation: None,
                    vid: None,
                    last_vid: None,
                },
            );
            by_addr.insert(addr, id);
        }
        let mut hc = MonitorConfig::new(
            NodeId(config.node),
            Role::SWITCH_PROCESSOR,
            config.key.clone(),
            config
                .processors
                .iter()
                .map(|&(id, a)| (NodeId(id), a))
                .collect(),
        );
        hc.interval = config.heartbeat_interval;
        hc.incarnation = config.incarnation;
        hc.misses_suspect = config.misses_suspect;
        hc.misses_down = config.misses_down;
        hc.overload_percent = config.overload_percent;
        hc.max_peers = config.processors.len().max(1);
        let monitor = Monitor::new(hc, now).map_err(|e| ConfigError::Health(e.to_string()))?;
        let n = usize::from(max_vid(&config)) + 1;
        let push_from = if config.incarnation > 1 {
            now + config.rejoin_grace
        } else {
            now
        };
        let version = u64::from(config.incarnation) << 32;
        Ok(SwitchProcessor {
            version_not_supported: TokenBucket::new(config.version_not_supported, now),
            error_indications: TokenBucket::new(config.error_indications, now),
            echo_responses: TokenBucket::new(config.echo_responses, now),
            extension_headers: TokenBucket::new(config.extension_headers, now),
            rng: Rng::from_config(config.seed)?,
            acked: config.line_interfaces.iter().map(|&a| (a, 0)).collect(),
            config,
            slots,
            by_addr,
            vids: vec![None; n],
            sessions: HashSet::new(),
            recent: VecDeque::new(),
            recent_map: HashMap::new(),
            monitor,
            timers: TimerQueue::new(),
            queue: VecDeque::new(),
            events: VecDeque::new(),
            stats: SwitchStats::default(),
            last_states: vec![None; n],
            push_from,
            version,
        })
    }

    /// The counters.
    pub fn stats(&self) -> &SwitchStats {
        &self.stats
    }

    /// The current table version.
    pub fn table_version(&self) -> u64 {
        self.version
    }

    /// The version each line interface acknowledged.
    pub fn acked_version(&self, line: SocketAddr) -> Option<u64> {
        self.acked.get(&line).copied()
    }

    /// The VID of a processor slot.
    pub fn vid_of(&self, processor: u32) -> Option<VirtualId> {
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

    /// The health monitor (processor states and loads).
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The table entries as pushed now.
    pub fn table(&self) -> Vec<TableEntry> {
        self.vids
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let v = v.as_ref()?;
                let vid = VirtualId::new(u16::try_from(i).ok()?)?;
                let state = self.vid_state(v)?;
                Some(TableEntry {
                    vid,
                    state,
                    addr: v.addr,
                })
            })
            .collect()
    }

    fn vid_state(&self, v: &VidInfo) -> Option<VidState> {
        match v.owner {
            Owner::Slot(id) => Some(match self.monitor.state(NodeId(id)) {
                Some(NodeState::Up) | Some(NodeState::Suspect) => VidState::Up,
                _ => VidState::Down,
            }),
            Owner::Orphan(_) => Some(VidState::Down),
            Owner::Withdrawn(_) => None,
        }
    }

    fn push(&mut self, t: Transmit) {
        if self.queue.len() >= self.config.queue_limit {
            self.stats.queue_full += 1;
            return;
        }
        self.queue.push_back(t);
    }

    fn send(&mut self, dst: SocketAddr, msg: &FabricMessage<'_>) {
        let t = Transmit {
            dst,
            src: Some(self.config.fabric_addr),
            link_dst: None,
            payload: msg.to_vec().into(),
        };
        self.push(t);
    }

    fn event(&mut self, e: SwitchEvent) {
        if self.events.len() >= self.config.queue_limit {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn info(&self, vid: VirtualId) -> Option<&VidInfo> {
        self.vids
            .get(usize::from(vid.get()))
            .and_then(|v| v.as_ref())
    }

    fn info_mut(&mut self, vid: VirtualId) -> Option<&mut VidInfo> {
        self.vids
            .get_mut(usize::from(vid.get()))
            .and_then(|v| v.as_mut())
    }

    /// Pushes a new table version if the entries changed.
    fn refresh(&mut self, now: Instant) {
        let mut changed = false;
        for i in 0..self.vids.len() {
            let s = self
                .vids
                .get(i)
                .copied()
                .flatten()
                .and_then(|v| self.vid_state(&v));
            if let Some(slot) = self.last_states.get_mut(i) {
                if *slot != s {
                    *slot = s;
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
        self.version += 1;
        self.event(SwitchEvent::TablePushed {
            version: self.version,
        });
        self.push_table(now);
    }

    fn push_table(&mut self, now: Instant) {
        if now < self.push_from {
            self.timers.insert(Timer::Push, self.push_from);
            return;
        }
        let msg = FabricMessage::TableUpdate {
            version: self.version,
            entries: self.table(),
        };
        let lines: Vec<SocketAddr> = self
            .acked
            .iter()
            .filter(|(_, v)| **v < self.version)
            .map(|(a, _)| *a)
            .collect();
        for l in lines {
            self.send(l, &msg);
        }
        if self.acked.values().any(|v| *v < self.version) {
            self.timers
                .insert(Timer::Push, now + self.config.retransmit);
        } else {
            self.timers.cancel(&Timer::Push);
        }
    }

    /// Withdraws orphan VIDs no session names; frees withdrawn VIDs every line has acknowledged.
    fn collect(&mut self, now: Instant) {
        let mut withdrawn = false;
        let min_acked = self.acked.values().copied().min().unwrap_or(self.version);
        for i in 0..self.vids.len() {
            let Some(Some(v)) = self.vids.get(i).copied() else {
                continue;
            };
            let vid = VirtualId::new(u16::try_from(i).unwrap_or(0));
            match v.owner {
                Owner::Orphan(None) if v.refs == 0 => {
                    if let Some(Some(v)) = self.vids.get_mut(i) {
                        v.owner = Owner::Orphan(Some(now));
                    }
                    self.timers
                        .insert(Timer::Collect, now + self.config.withdraw_after);
                }
                Owner::Orphan(Some(_)) if v.refs > 0 => {
                    if let Some(Some(v)) = self.vids.get_mut(i) {
                        v.owner = Owner::Orphan(None);
                    }
                }
                Owner::Orphan(Some(idle)) if idle + self.config.withdraw_after <= now => {
                    if let Some(Some(v)) = self.vids.get_mut(i) {
                        // The next table version no longer holds it.
                        v.owner = Owner::Withdrawn(self.version + 1);
                    }
                    withdrawn = true;
                    if let Some(vid) = vid {
                        self.event(SwitchEvent::VidWithdrawn { vid });
                    }
                }
                Owner::Orphan(Some(idle)) => {
                    let at = idle + self.config.withdraw_after;
                    if self.timers.deadline(&Timer::Collect).is_none_or(|d| d > at) {
                        self.timers.insert(Timer::Collect, at);
                    }
                }
                Owner::Withdrawn(at) if min_acked >= at => {
                    if let Some(slot) = self.vids.get_mut(i) {
                        *slot = None;
                    }
                    if let Some(vid) = vid {
                        self.event(SwitchEvent::VidFree { vid });
                    }
                }
                _ => {}
            }
        }
        if withdrawn {
            self.refresh(now);
        }
    }

    fn orphan(&mut self, slot_id: u32) {
        let Some(slot) = self.slots.get_mut(&slot_id) else {
            return;
        };
        if let Some(vid) = slot.vid.take() {
            slot.last_vid = Some(vid);
            if let Some(v) = self.info_mut(vid) {
                v.owner = Owner::Orphan(None);
            }
        }
    }

    fn assign(&mut self, now: Instant, slot_id: u32, incarnation: u32, current: Option<VirtualId>) {
        let Some(slot) = self.slots.get(&slot_id) else {
            return;
        };
        let addr = slot.addr;
        match slot.incarnation {
            Some(known) if known == incarnation => {
                if let Some(vid) = slot.vid {
                    // A repeated request: the same answer.
                    self.send(
                        addr,
                        &FabricMessage::VidAssign {
                            processor: slot_id,
                            incarnation,
                            vid,
                        },
                    );
                    return;
                }
            }
            Some(known) if known > incarnation => return,
            Some(_) => self.orphan(slot_id),
            None => {}
        }
        // A processor that kept its state across this switch processor's restart keeps its VID,
        // unless another processor holds it. Otherwise give the old VID back when no session
        // names it, else the lowest free one.
        let hinted = current.filter(|v| {
            usize::from(v.get()) < self.vids.len()
                && self.info(*v).is_none_or(|i| {
                    matches!(i.owner, Owner::Orphan(_)) || i.owner == Owner::Slot(slot_id)
                })
        });
        let last = self.slots.get(&slot_id).and_then(|s| s.last_vid);
        let reusable = hinted.or(last.filter(|v| {
            self.info(*v)
                .is_none_or(|i| i.refs == 0 && matches!(i.owner, Owner::Orphan(_)))
        }));
        let vid = reusable.or_else(|| {
            (1..self.vids.len()).find_map(|i| {
                if self.vids.get(i).is_some_and(|v| v.is_none()) {
                    VirtualId::new(u16::try_from(i).ok()?)
                } else {
                    None
                }
            })
        });
        let Some(vid) = vid else {
            self.stats.vids_exhausted += 1;
            return;
        };
        if let Some(v) = self.vids.get_mut(usize::from(vid.get())) {
            let refs = v.map_or(0, |i| i.refs);
            *v = Some(VidInfo {
                owner: Owner::Slot(slot_id),
                addr,
                refs,
            });
        }
        if let Some(slot) = self.slots.get_mut(&slot_id) {
            slot.incarnation = Some(incarnation);
            slot.vid = Some(vid);
            slot.last_vid = Some(vid);
        }
        self.event(SwitchEvent::VidAssigned {
            processor: slot_id,
            incarnation,
            vid,
            reused: reusable.is_some(),
        });
        self.send(
            addr,
            &FabricMessage::VidAssign {
                processor: slot_id,
                incarnation,
                vid,
            },
        );
        self.refresh(now);
    }

    fn handle_health(&mut self, now: Instant) {
        while let Some(mut t) = self.monitor.poll_transmit() {
            t.src = Some(self.config.fabric_addr);
            self.push(t);
        }
        let mut any = false;
        while let Some(e) = self.monitor.poll_event() {
            any = true;
            if let HealthEvent::Restarted {
                node, incarnation, ..
            } = e
            {
                // Whatever state the old incarnation held is gone, unless the new incarnation
                // already asked for (and got) its VID.
                let stale = self
                    .slots
                    .get(&node.0)
                    .is_some_and(|s| s.incarnation.is_some_and(|k| k < incarnation));
                if stale {
                    self.orphan(node.0);
                }
            }
        }
        if any {
            self.refresh(now);
            self.collect(now);
        }
    }

    /// Feeds one datagram received on the fabric address.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        _to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        if health::is_heartbeat(data) {
            let r = self
                .monitor
                .handle_heartbeat(now, from, data)
                .map_err(|e| InputError::Health(e.to_string()));
            self.handle_health(now);
            return r;
        }
        let msg = FabricMessage::parse(data)?;
        match msg {
            FabricMessage::VidRequest {
                processor,
                incarnation,
                current,
            } => {
                if self.by_addr.get(&from) != Some(&processor) {
                    return Err(InputError::Unexpected("VidRequest from an unknown slot"));
                }
                self.assign(now, processor, incarnation, current);
                Ok(())
            }
            FabricMessage::TableAck { version } => {
                let Some(v) = self.acked.get_mut(&from) else {
                    return Err(InputError::Unexpected("TableAck from an unknown line"));
                };
                *v = (*v).max(version.min(self.version));
                if self.acked.values().all(|v| *v >= self.version) {
                    self.timers.cancel(&Timer::Push);
                }
                self.collect(now);
                Ok(())
            }
            FabricMessage::Packet {
                from: peer,
                to: gateway,
                data,
            } => {
                if !self.acked.contains_key(&from) {
                    return Err(InputError::Unexpected("Packet from an unknown line"));
                }
                self.stats.from_line += 1;
                self.handle_setup(now, from, peer, gateway, &data)
            }
            FabricMessage::Sync { delete, record } => self.handle_sync(now, from, delete, record),
            FabricMessage::SyncAck { teid, version } => {
                if !self.by_addr.contains_key(&from) {
                    return Err(InputError::Unexpected("SyncAck from an unknown slot"));
                }
                let primary = self.config.layout.primary(teid);
                let addr = primary.and_then(|p| self.info(p)).map(|i| i.addr);
                match addr {
                    Some(a) => {
                        self.send(a, &FabricMessage::SyncAck { teid, version });
                        Ok(())
                    }
                    None => Err(InputError::UnknownTeid(teid)),
                }
            }
            _ => Err(InputError::Unexpected("switch processor")),
        }
    }

    fn select(&mut self, exclude: Option<u32>) -> Option<u32> {
        let slots = &self.slots;
        let me = self.config.node;
        self.monitor
            .select(self.config.policy, &mut self.rng, |n| {
                n.0 != me
                    && Some(n.0) != exclude
                    && slots.get(&n.0).is_some_and(|s| s.vid.is_some())
            })
            .map(|n| n.0)
    }

    fn expire_recent(&mut self, now: Instant) {
        while let Some(&(at, peer, seq)) = self.recent.front() {
            if at + self.config.recent_window > now && self.recent.len() <= self.config.max_recent {
                break;
            }
            self.recent.pop_front();
            self.recent_map.remove(&(peer, seq));
        }
        match self.recent.front() {
            Some(&(at, _, _)) => {
                self.timers
                    .insert(Timer::Recent, at + self.config.recent_window);
            }
            None => {
                self.timers.cancel(&Timer::Recent);
            }
        }
    }

    fn transmit_out(
        &mut self,
        line: SocketAddr,
        gateway: SocketAddr,
        peer: SocketAddr,
        m: &Message<'_>,
    ) {
        if let Ok(data) = m.to_vec() {
            let msg = FabricMessage::Transmit {
                from: gateway,
                to: peer,
                data: Cow::Owned(data),
            };
            self.send(line, &msg);
        }
    }

    fn handle_setup(
        &mut self,
        now: Instant,
        line: SocketAddr,
        peer: SocketAddr,
        gateway: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        if gateway.port() == gtp::GTP_C_PORT && gtp::version(data).is_some_and(|v| v != 1) {
            return self.version_not_supported(now, line, peer, gateway, data);
        }
        let is_gtp = data.first().is_some_and(|b| b & 0xf0 == 0x30);
        let mut seq = 0;
        if is_gtp {
            let m = gtp::parse(data)?;
            seq = m.header.sequence.unwrap_or(0);
            let supported = gtp::supported_extension_headers(gateway.port());
            if let Some(ext) = m.header.unsupported_extension(supported) {
                // TS 29.281 section 5.2.1, TS 29.060 section 6.1: discarded, and the sender
                // told which extension headers are supported.
                self.stats.ignored += 1;
                if self.extension_headers.take(now) {
                    self.stats.extension_headers_notifications += 1;
                    let n = Message::supported_extension_headers_notification(seq, supported);
                    self.transmit_out(line, gateway, peer, &n);
                } else {
                    self.stats.extension_headers_suppressed += 1;
                }
                return Err(InputError::UnsupportedExtension(ext));
            }
            match m.message_type() {
                MessageType::ECHO_REQUEST => {
                    if !self.echo_responses.take(now) {
                        self.stats.echoes_suppressed += 1;
                        return Ok(());
                    }
                    self.stats.echoes += 1;
                    // The restart counter is GTP-C's: on GTP-U it is sent as 0 (TS 29.281
                    // section 7.2.2, TS 29.060 section 7.7.12).
                    let recovery = if gateway.port() == gtp::GTP_U_PORT {
                        0
                    } else {
                        self.config.recovery
                    };
                    let r = Message::new(
                        MessageType::ECHO_RESPONSE,
                        0,
                        seq,
                        vec![Ie::Recovery(recovery)],
                    );
                    self.transmit_out(line, gateway, peer, &r);
                    return Ok(());
                }
                MessageType::CREATE_PDP_CONTEXT_REQUEST => {}
                MessageType::ERROR_INDICATION => {
                    return self.relay_error_indication(now, peer, gateway, &m, data);
                }
                _ => {
                    self.stats.ignored += 1;
                    return Err(InputError::Unsupported("TEID-0 message at the switch"));
                }
            }
            if let Some(&(p, b)) = self.recent_map.get(&(peer, seq)) {
                // The same processor, while it is operational; otherwise the repeat is a new
                // set-up (the peer never got the answer, so the first attempt is void).
                let live = self
                    .info(p)
                    .filter(|i| self.vid_state(i) == Some(VidState::Up))
                    .map(|i| i.addr);
                if let Some(addr) = live {
                    self.stats.setups_repeated += 1;
                    self.direct(addr, b, peer, gateway, data);
                    return Ok(());
                }
            }
            if self.sessions.len() >= self.config.max_sessions {
                return self.refuse(line, peer, gateway, &m);
            }
        }
        let Some(primary) = self.select(None) else {
            if is_gtp {
                let m = gtp::parse(data)?;
                return self.refuse(line, peer, gateway, &m);
            }
            self.stats.setups_refused += 1;
            return Ok(());
        };
        let backup_slot = self.select(Some(primary));
        let (Some(pvid), Some(paddr)) = (
            self.slots.get(&primary).and_then(|s| s.vid),
            self.slots.get(&primary).map(|s| s.addr),
        ) else {
            return Ok(());
        };
        let bvid = backup_slot
            .and_then(|b| self.slots.get(&b))
            .and_then(|s| s.vid);
        if is_gtp {
            self.recent.push_back((now, peer, seq));
            self.recent_map.insert((peer, seq), (pvid, bvid));
            self.expire_recent(now);
        }
        self.stats.setups_directed += 1;
        self.event(SwitchEvent::SetupDirected {
            primary: pvid,
            backup: bvid,
        });
        self.direct(paddr, bvid, peer, gateway, data);
        Ok(())
    }

    /// Answers a GTP-C datagram of another version with a GTPv1 Version Not Supported.
    fn version_not_supported(
        &mut self,
        now: Instant,
        line: SocketAddr,
        peer: SocketAddr,
        gateway: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let version = gtp::version(data).unwrap_or(0);
        let refused = Err(InputError::Gtp(WireError::UnsupportedVersion { version }));
        // Type 3 is Version Not Supported in GTPv0, v1 and v2: never answered.
        if data
            .get(1)
            .is_none_or(|t| *t == MessageType::VERSION_NOT_SUPPORTED.0)
        {
            self.stats.ignored += 1;
            return refused;
        }
        if !self.version_not_supported.take(now) {
            self.stats.version_not_supported_suppressed += 1;
            return refused;
        }
        self.stats.version_not_supported += 1;
        self.transmit_out(line, gateway, peer, &Message::version_not_supported());
        refused
    }

    /// Relays a peer's Error Indication to every processor holding a VID.
    fn relay_error_indication(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        gateway: SocketAddr,
        m: &Message<'_>,
        data: &[u8],
    ) -> Result<(), InputError> {
        let (Some(teid), Some(addr)) = (m.teid_data_i(), m.gtp_u_peer_address()) else {
            self.stats.ignored += 1;
            return Err(InputError::Unsupported(
                "Error Indication without TEID Data I or GTP-U Peer Address",
            ));
        };
        if !self.error_indications.take(now) {
            self.stats.error_indications_suppressed += 1;
            return Ok(());
        }
        self.stats.error_indications_relayed += 1;
        self.event(SwitchEvent::ErrorIndication { teid, peer: addr });
        let mut to: Vec<SocketAddr> = self
            .slots
            .values()
            .filter(|s| s.vid.is_some())
            .map(|s| s.addr)
            .collect();
        to.sort();
        let msg = FabricMessage::Packet {
            from: peer,
            to: gateway,
            data: Cow::Borrowed(data),
        };
        for a in to {
            self.send(a, &msg);
        }
        Ok(())
    }

    fn direct(
        &mut self,
        addr: SocketAddr,
        backup: Option<VirtualId>,
        peer: SocketAddr,
        gateway: SocketAddr,
        data: &[u8],
    ) {
        let msg = FabricMessage::Directed {
            backup,
            from: peer,
            to: gateway,
            data: Cow::Borrowed(data),
        };
        self.send(addr, &msg);
    }

    fn refuse(
        &mut self,
        line: SocketAddr,
        peer: SocketAddr,
        gateway: SocketAddr,
        req: &Message<'_>,
    ) -> Result<(), InputError> {
        self.stats.setups_refused += 1;
        self.event(SwitchEvent::SetupRefused);
        let r = Message::new(
            MessageType::CREATE_PDP_CONTEXT_RESPONSE,
            req.teid_control().unwrap_or(0),
            req.header.sequence.unwrap_or(0),
            vec![Ie::Cause(Cause::NO_RESOURCES_AVAILABLE)],
        );
        self.transmit_out(line, gateway, peer, &r);
        Ok(())
    }

    fn add_ref(&mut self, vid: Option<VirtualId>, add: bool) {
        if let Some(v) = vid.and_then(|v| self.info_mut(v)) {
            v.refs = if add {
                v.refs.saturating_add(1)
            } else {
                v.refs.saturating_sub(1)
            };
        }
    }

    fn handle_sync(
        &mut self,
        now: Instant,
        from: SocketAddr,
        delete: bool,
        record: super::fabric::SessionRecord,
    ) -> Result<(), InputError> {
        let Some(&slot_id) = self.by_addr.get(&from) else {
            return Err(InputError::Unexpected("Sync from an unknown slot"));
        };
        let sender = self.slots.get(&slot_id).and_then(|s| s.vid);
        let layout = self.config.layout;
        let (primary, backup) = (layout.primary(record.teid), layout.backup(record.teid));
        if sender.is_none() || (sender != primary && sender != backup) {
            return Err(InputError::Unexpected(
                "Sync from a processor the TEID does not name",
            ));
        }
        if delete {
            if self.sessions.remove(&record.teid) {
                self.add_ref(primary, false);
                self.add_ref(backup, false);
            }
        } else if !self.sessions.contains(&record.teid) {
            if self.sessions.len() >= self.config.max_sessions {
                self.stats.syncs_refused += 1;
                return Ok(());
            }
            self.sessions.insert(record.teid);
            // After a restart of this switch processor, a backup's announcement may name a VID
            // no processor holds any more: keep it, as down, while sessions name it.
            let mut learned = false;
            for v in [primary, backup].into_iter().flatten() {
                if let Some(slot @ None) = self.vids.get_mut(usize::from(v.get())) {
                    *slot = Some(VidInfo {
                        owner: Owner::Orphan(None),
                        addr: from,
                        refs: 0,
                    });
                    learned = true;
                }
            }
            self.add_ref(primary, true);
            self.add_ref(backup, true);
            if learned {
                self.refresh(now);
            }
        }
        let relay_to = if sender == primary {
            backup
                .and_then(|b| self.info(b))
                .filter(|i| {
                    matches!(i.owner, Owner::Slot(id)
                        if matches!(self.monitor.state(NodeId(id)), Some(NodeState::Up | NodeState::Suspect)))
                })
                .map(|i| i.addr)
        } else {
            None
        };
        match relay_to {
            Some(addr) => {
                self.stats.syncs_relayed += 1;
                self.send(addr, &FabricMessage::Sync { delete, record });
            }
            None => {
                self.stats.syncs_acked += 1;
                self.send(
                    from,
                    &FabricMessage::SyncAck {
                        teid: record.teid,
                        version: record.version,
                    },
                );
            }
        }
        if delete {
            self.collect(now);
        }
        Ok(())
    }

    /// Runs heartbeats and failure detection, repeats unacknowledged table pushes, forgets old
    /// set-ups.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.monitor.handle_timeout(now);
        self.handle_health(now);
        while let Some((t, _)) = self.timers.pop_expired(now) {
            match t {
                Timer::Push => self.push_table(now),
                Timer::Recent => self.expire_recent(now),
                Timer::Collect => self.collect(now),
            }
        }
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.queue.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SwitchEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timers.next_deadline(), self.monitor.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn max_vid(c: &SwitchConfig) -> u16 {
    match c.l2tp_layout {
        Some(l) => c.layout.max_vid().min(l.max_vid()),
        None => c.layout.max_vid(),
    }
}
