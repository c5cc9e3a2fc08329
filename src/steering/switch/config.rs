//! The switch processor's configuration, events and counters.

use crate::health::{ClusterKey, HealthConfig, NodeId, Policy};
use crate::io::RateLimit;
use crate::steering::path::{PathConfig, PeerId};
use crate::steering::vid::{VidLayout, VirtualId};
use crate::steering::{gtp, gtpv2, pfcp};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Configuration of a [`SwitchProcessor`](super::SwitchProcessor).
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    /// The switch processor's health node id (not one of the processors').
    pub node: NodeId,
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
    /// The fabric addresses of the line interfaces (tables are pushed to each): usable
    /// destinations ([`ConfigError::UnusableAddress`](crate::steering::ConfigError::UnusableAddress)
    /// naming [`ConfigField::LineInterfaces`](crate::steering::ConfigField::LineInterfaces)
    /// otherwise).
    pub line_interfaces: Vec<SocketAddr>,
    /// The processor slots: (slot id, fabric address). A slot id is the processor's health
    /// [`NodeId`], the one name of a cluster member across the crate.
    pub processors: Vec<(NodeId, SocketAddr)>,
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
    /// How long a line interface may leave the tables pushed to it unacknowledged before
    /// placement stops waiting for it (not zero:
    /// [`ConfigError::OutOfRange`](crate::steering::ConfigError::OutOfRange) naming
    /// [`ConfigField::LineAckTimeout`](crate::steering::ConfigField::LineAckTimeout)
    /// otherwise). A new session is placed only on a processor whose VID is Up in a table
    /// version every line interface has acknowledged (see the
    /// [module documentation](super), Placement); line interfaces send no heartbeats, so one
    /// that acknowledges nothing newer for this long, while behind, is taken for dead and left
    /// out of that rule (counted in [`SwitchStats::line_interfaces_ignored`],
    /// [`SwitchEvent::LineInterfaceSilent`]) until its next acknowledgement of a newer version.
    /// At least a few `retransmit` intervals, so a live line interface behind a lossy fabric
    /// is waited for.
    pub line_ack_timeout: Duration,
    /// How long a VID of a restarted processor stays in the tables after the last session
    /// naming it is gone, so that peers' retransmissions of the last requests are still steered
    /// (to the backup that answered them). At least the peers' retransmission span (N3 x T3).
    pub withdraw_after: Duration,
    /// Cluster key of the heartbeats: at least 16 octets (RFC 2104 section
    /// 3; [`ConfigError::Health`](crate::steering::ConfigError::Health) with
    /// [`KeyTooShort`](crate::health::ConfigError::KeyTooShort) otherwise).
    pub key: ClusterKey,
    /// Heartbeats with the processors: interval, misses before a processor is Suspect and
    /// Down (its sessions then go to their backups), the load percentage at which a processor
    /// gets no new sessions, the health event bound.
    pub health: HealthConfig,
    /// Selection policy for primaries and backups when `placement` is [`Placement::Load`].
    pub policy: Policy,
    /// How new sessions are placed: by `policy` over the reported loads (the default),
    /// weighted least-connections, or least load trend.
    pub placement: Placement,
    /// Seed of the selection's random tie-breaks: `None` (the default) reads 32 bytes from the
    /// operating system at [`SwitchProcessor::new`](super::SwitchProcessor::new); `Some` replays a run exactly (tests,
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
    /// Bound of the Invalid message format answers (TS 29.060 section 11.1.2) to Create PDP
    /// Context Requests whose Length disagrees with the datagram: such requests are not
    /// authenticated, so a flood of them is answered at most this often; beyond, unanswered and
    /// counted ([`SwitchStats::length_errors_suppressed`]).
    pub length_errors: RateLimit,
    /// Path management with the peers: Echo / Heartbeat Requests, restart detection and the
    /// purge of a restarted peer's sessions (see [`crate::steering::path`]).
    pub path: PathConfig,
    /// Whether the CP functions may allocate F-TEIDs themselves (TS 29.244 Rel-15, section
    /// 5.5.1): the Association Setup Response then carries one User Plane IP Resource
    /// Information (section 8.2.82) per TEID range, one per (VID, backup VID) pair of the
    /// processors placement may use now (per VID when `layout` has no backup field): their VID
    /// Up in a table version every line interface but the silent ones has acknowledged (see
    /// `line_ack_timeout`), so a CP function is not invited to allocate an F-TEID whose set-up
    /// would be refused for want of a table. When those ranges change (a processor fails or
    /// comes back, the line interfaces acknowledge the table naming one Up) every associated CP
    /// function is sent an Association Update Request with the complete list (sections 6.2.7.2
    /// and 7.4.4.3; none when no range is left; see the [module documentation](super), TEID
    /// ranges); sessions already set up keep their F-TEIDs. A Session Establishment Request
    /// whose Create PDR carries such an F-TEID is directed to the processor of its VID with its
    /// backup VID. `layout` must then be one TEIDRI describes
    /// ([`crate::steering::pfcp::teidri::ranges`]: VID fields in the TEID's top 7 bits at
    /// most), else [`SwitchProcessor::new`](super::SwitchProcessor::new) refuses it with
    /// [`ConfigError::Teidri`](crate::steering::ConfigError::Teidri).
    pub teid_ranges: bool,
}

/// Seconds from 1900-01-01 00:00 UTC (the NTP epoch, RFC 5905 section 6) to 1970-01-01 00:00
/// UTC (the Unix epoch): 70 years, 17 of them leap years.
pub const NTP_UNIX_OFFSET: u32 = 2_208_988_800;

/// The base of the Recovery Time Stamp of a switch processor that was given none
/// ([`super::SwitchProcessor::recovery_time_stamp`]): 1 700 000 000 s after the Unix epoch
/// (2023-11-14 22:13:20 UTC), in NTP seconds.
pub(super) const DEFAULT_RECOVERY_TIME_STAMP: u32 = NTP_UNIX_OFFSET + 1_700_000_000;

impl SwitchConfig {
    /// A configuration with defaults for everything but the topology: incarnation 1, 1 s rejoin
    /// grace, no L2TP layout, recovery 0, 100 000 sessions, 10 000 remembered set-ups for 30 s,
    /// 200 ms table retransmission, line interfaces waited for 2 s, VIDs withdrawn 30 s after
    /// their last session, 1 s heartbeats
    /// (Suspect after 3 missed, Down after 5), overloaded at 90 %, least-loaded selection, seed
    /// from the OS, queues of 4096, at most 100 Version Not Supported answers, 100 relayed Error
    /// Indications, 100 Echo Responses, 100 Supported Extension Headers Notifications and 100
    /// Invalid message format answers per second (bursts of 20, each), [`PathConfig::default`] path management, no TEID ranges.
    pub fn new(
        node: NodeId,
        fabric_addr: SocketAddr,
        line_interfaces: Vec<SocketAddr>,
        processors: Vec<(NodeId, SocketAddr)>,
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
            line_ack_timeout: Duration::from_secs(2),
            withdraw_after: Duration::from_secs(30),
            key,
            health: HealthConfig::default().with_misses(3, 5),
            policy: Policy::LeastLoaded,
            placement: Placement::Load,
            seed: None,
            queue_limit: 4096,
            version_not_supported: RateLimit::default(),
            error_indications: RateLimit::default(),
            echo_responses: RateLimit::default(),
            extension_headers: RateLimit::default(),
            length_errors: RateLimit::default(),
            path: PathConfig::default(),
            teid_ranges: false,
        }
    }
}

/// How the switch processor chooses the processor of a new session; the backup is chosen the
/// same way among the others. Only eligible processors are chosen in every case: holding a VID,
/// Up, below the overload percentage ([`HealthConfig`]), and with that VID Up in a table
/// version every line interface has acknowledged (silent ones aside:
/// [`SwitchConfig::line_ack_timeout`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Placement {
    /// `policy` ([`Policy`], least-loaded by default) over the loads the processors report in
    /// their heartbeats. The default.
    #[default]
    Load,
    /// Weighted least-connections: the processor with the fewest sessions per unit of weight.
    /// Its sessions are the count it last reported (its own sessions) plus the set-ups directed
    /// to it since. `weights` are (slot id, weight); a slot not listed weighs 1, a weight of 0
    /// gets no new sessions. Ties go to the lower slot id. Over many set-ups, each processor's
    /// share tends to its weight over the total weight.
    WeightedLeastConnections {
        /// (slot id, weight).
        weights: Vec<(NodeId, u32)>,
    },
    /// Least load trend: the processor whose reported load percentage rose least over the
    /// last `window` (the slope between the oldest and the newest heartbeat report in the
    /// window, in percent per second), so a processor whose load is climbing (from work the
    /// switch processor does not see) is avoided before it is loaded. Ties go to the lower
    /// load, then to the lower slot id. A processor with fewer than two reports in the window
    /// has a slope of 0.
    LeastLoadTrend {
        /// The window the slope is taken over.
        window: Duration,
    },
}

/// A set-up request the switch processor refused ([`SwitchEvent::SetupRefused`]), and the cause
/// its answer carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefusedSetup {
    /// A GTPv1-C Create PDP Context Request (TS 29.060 section 7.3.1), answered with a Create
    /// PDP Context Response whose Cause (section 7.7.1) is `cause`: No resources available
    /// (199).
    CreatePdpContext {
        /// The Cause sent.
        cause: gtp::Cause,
    },
    /// A GTPv2-C Create Session Request (TS 29.274 section 7.2.1), answered with a Create
    /// Session Response whose Cause (section 8.4) is `cause`: No resources available (73).
    CreateSession {
        /// The Cause value sent.
        cause: gtpv2::CauseValue,
    },
    /// A PFCP Session Establishment Request (TS 29.244 section 7.5.2), answered with a
    /// Session Establishment Response whose Cause (section 8.2.1) is `cause`: No established
    /// PFCP Association (72) or No resources available (75).
    SessionEstablishment {
        /// The Cause sent.
        cause: pfcp::Cause,
    },
}

/// What the switch processor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchEvent {
    /// A VID was assigned to a processor incarnation.
    VidAssigned {
        /// The slot.
        processor: NodeId,
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
        /// Its version: [`SwitchConfig::incarnation`] in the high 32 bits, a count of this
        /// incarnation's pushes in the low 32 (the first push of incarnation 1 is `1 << 32 | 1`).
        version: u64,
    },
    /// A set-up request was directed.
    SetupDirected {
        /// The processor's VID.
        primary: VirtualId,
        /// The backup's VID.
        backup: Option<VirtualId>,
    },
    /// A set-up request was refused: the switch processor answered it itself, with the cause
    /// `request` names (no processor eligible, the session table full, or, for PFCP, no
    /// association with the CP function).
    SetupRefused {
        /// The request and the cause of the answer sent.
        request: RefusedSetup,
        /// The peer that sent it (the SGSN, MME/SGW-C or SMF) and where the answer went.
        peer: SocketAddr,
        /// The request's sequence number, which the answer repeats (GTPv1-C: 16 bits, 0 when
        /// the header carries none; GTPv2-C and PFCP: 24 bits).
        sequence: u32,
    },
    /// A peer's Error Indication was relayed to the processors.
    ErrorIndication {
        /// Its TEID Data I: the peer's TEID that named no context there.
        teid: u32,
        /// Its GTP-U Peer Address: the peer's user-plane address.
        peer: IpAddr,
    },
    /// A peer restarted (TS 23.007 sections 18 and 19A: a newer Recovery or Recovery Time
    /// Stamp): the sessions the gateway held with it are being purged on every processor.
    PeerRestarted {
        /// The peer.
        peer: PeerId,
        /// Its new restart value.
        recovery: u32,
        /// How many sessions are purged.
        sessions: usize,
    },
    /// A peer answered none of N3 Echo (Heartbeat) Requests (TS 23.007 section 20).
    PathFailure {
        /// The peer.
        peer: PeerId,
        /// The sessions the gateway holds with it.
        sessions: usize,
        /// Whether they are purged ([`PathFailureAction`](crate::steering::path::PathFailureAction)).
        purged: bool,
    },
    /// A peer whose path had failed answered an Echo (Heartbeat) Request.
    PathRestored {
        /// The peer.
        peer: PeerId,
    },
    /// A processor's heartbeats are heard (for the first time, or again after
    /// [`ProcessorDown`](Self::ProcessorDown)): it may be given new sessions.
    ProcessorUp {
        /// The processor's slot id (its health node id).
        processor: NodeId,
    },
    /// A processor missed its heartbeats (`health.misses_down` intervals): its sessions are
    /// steered to their backups and it is given no new ones.
    ProcessorDown {
        /// The processor's slot id (its health node id).
        processor: NodeId,
    },
    /// A line interface left the tables pushed to it unacknowledged for `line_ack_timeout`:
    /// placement no longer waits for it (see [`SwitchConfig::line_ack_timeout`]) until it
    /// acknowledges a newer version.
    LineInterfaceSilent {
        /// Its fabric address.
        line: SocketAddr,
        /// The last table version it acknowledged (0: none).
        acked: u64,
    },
    /// A processor came back with a higher incarnation: the state its old incarnation held is
    /// gone (its VID is withdrawn unless the new incarnation already holds it).
    ProcessorRestarted {
        /// The processor's slot id (its health node id).
        processor: NodeId,
        /// The new incarnation.
        incarnation: u32,
    },
}

/// Counters of a switch processor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SwitchStats {
    /// Datagrams line interfaces passed on (set-ups, path management, anything with TEID 0).
    pub from_line: u64,
    /// Set-up requests directed to a processor.
    pub setups_directed: u64,
    /// Set-up repeats directed to the processor chosen the first time.
    pub setups_repeated: u64,
    /// New Create PDP Context Requests and Create Session Requests of a subscriber (IMSI and
    /// NSAPI / EPS Bearer ID) whose context a processor holds, directed to that processor to
    /// replace it (TS 29.060 section 7.3.1, TS 29.274 section 7.2.1).
    pub setups_replacing: u64,
    /// Set-up requests refused.
    pub setups_refused: u64,
    /// Set-up requests refused (also counted in `setups_refused`) that a processor would have
    /// taken but for its VID not yet being Up in a table version every line interface has
    /// acknowledged (a gateway just started, a processor just up): the same answer as with no
    /// processor eligible.
    pub setups_awaiting_tables: u64,
    /// Times a line interface was left out of the placement rule after acknowledging nothing
    /// newer for `line_ack_timeout` ([`SwitchEvent::LineInterfaceSilent`]).
    pub line_interfaces_ignored: u64,
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
    /// Events dropped (the oldest) because the event queue (`queue_limit`) was full.
    pub events_dropped: u64,
    /// Version Not Supported messages sent.
    pub version_not_supported: u64,
    /// Version Not Supported answers not sent because `version_not_supported` was exhausted.
    pub version_not_supported_suppressed: u64,
    /// Create PDP Context Requests whose Length disagreed with the datagram, answered with
    /// Invalid message format (TS 29.060 section 11.1.2; also counted in `setups_refused`).
    pub length_errors: u64,
    /// Such requests left unanswered because `length_errors` was exhausted (also counted in
    /// `setups_refused`).
    pub length_errors_suppressed: u64,
    /// Peers' Error Indications relayed to the processors.
    pub error_indications_relayed: u64,
    /// Peers' Error Indications dropped because `error_indications` was exhausted.
    pub error_indications_suppressed: u64,
    /// PFCP associations set up or renewed (TS 29.244 section 6.2.6).
    pub associations: u64,
    /// Association Setup Requests refused because `max_recent` associations were held.
    pub associations_full: u64,
    /// Session Establishment Requests refused because their CP function had no association.
    pub no_association: u64,
    /// Echo (Heartbeat) Requests sent to peers, repeats included.
    pub path_echoes: u64,
    /// Peer restarts detected.
    pub peer_restarts: u64,
    /// Restart values older than the one stored (a late message of an old incarnation), ignored.
    pub stale_recovery: u64,
    /// Path failures.
    pub path_failures: u64,
    /// Sessions purged (restarted peers, failed paths if so configured).
    pub sessions_purged: u64,
    /// Peers not tracked because `path.max_peers` were.
    pub peers_full: u64,
    /// Purge batches some operational processor never acknowledged.
    pub purges_unacked: u64,
    /// Restart values of tracked peers the processors forwarded from messages steered to them
    /// (`PeerRecovery`), compared as the switch processor's own.
    pub peer_recoveries: u64,
    /// Syncs of sessions purged lately, acknowledged but not relayed.
    pub syncs_purged: u64,
    /// PFCP Association Update Requests sent with new TEID ranges (repeats not counted).
    pub association_updates: u64,
    /// Association Update Responses with Request accepted.
    pub association_updates_accepted: u64,
    /// Association Update Responses with another cause.
    pub association_updates_refused: u64,
    /// Association Update Requests unanswered after `path.n3` tries.
    pub association_updates_unanswered: u64,
    /// Fabric datagrams refused before their kind was acted on: unparsable, or not authorized
    /// ([`InputError::NotAuthorized`](crate::steering::InputError::NotAuthorized): unsealed
    /// where sealed is required, bad MAC, unknown sender, another receiver, replayed).
    pub fabric_refused: u64,
}
