//! The processor: asks the switch processor for its VID, answers the set-up requests directed to
//! it with identifiers carrying that VID, serves the later packets of its sessions, and serves as
//! the backup of other processors' sessions from the state they replicate to it.
//!
//! # Call order
//!
//! ```text
//! let mut p = Processor::new(config, now)?;   // queues a VID request (and the first heartbeat)
//! loop {
//!     p.handle_datagram(now, from, to, data)?; // fabric messages and heartbeats on fabric_addr
//!     p.handle_timeout(now);                   // when now >= p.poll_timeout()
//!     while let Some(t) = p.poll_transmit() {} // to the switch processor / line interface
//!     while let Some(e) = p.poll_event() {}    // VidAssigned, SessionCreated, ...
//! }
//! ```
//! Time passed in never goes backwards; an early `handle_timeout` is a no-op.
//!
//! # Behaviour
//!
//! * Start (and restart, a new instance with a higher `incarnation`): a `VidRequest` to the switch
//!   processor, repeated every `retransmit` until a `VidAssign` for this incarnation arrives.
//!   Heartbeats with the session load go to the switch processor from the start.
//! * When the switch processor restarts (its heartbeats show a new incarnation), a `VidRequest`
//!   naming the VID held (the switch processor keeps it when no other processor holds it), then
//!   every session, own and replicated, is announced again (`Sync`) so the switch processor
//!   relearns which VIDs are named.
//! * A directed Create PDP Context Request: the session's TEID (control and user plane, also the
//!   charging id) is [`VidLayout::compose`]`(own VID, backup VID, local index)`; the End User
//!   Address is `ue_pool` + (VID << local bits | local index). The session state goes to the
//!   switch processor (a `Sync`), which relays it to the backup; the Create PDP Context Response
//!   leaves (through the line interface) only once the replication is acknowledged, so a session
//!   whose response was seen survives the primary's failure. After `max_retries` unacknowledged
//!   syncs the response leaves anyway and [`ProcessorEvent::SyncGaveUp`] reports it.
//!   A repeated request (same IMSI and NSAPI) is answered again from the session's state.
//! * The PDP type (TS 29.060 sections 7.3.2 and 7.7.27, TS 23.060 section 9.2.1): IPv4 (or no
//!   End User Address) gets the IPv4 address; with `ue_pool_v6`, IPv6 gets a /64 of it
//!   (interface identifier 1) and IPv4v6 both, when the SGSN set the Dual Address Bearer Flag
//!   (Common Flags), else IPv4 with cause New PDP type due to single address bearer only (130);
//!   without `ue_pool_v6`, IPv4v6 gets IPv4 with cause New PDP type due to network preference
//!   (129) and IPv6 is refused with Unknown PDP address or PDP type (220), as is any other type.
//! * A steered message (G-PDU, Update, Delete) whose extension header chain holds a type the
//!   endpoint must comprehend (two high bits `1x`) and does not support
//!   ([`gtp::supported_extension_headers`]) is not delivered nor served: it is answered with a
//!   Supported Extension Headers Notification (TS 29.281 section 5.2.1, TS 29.060 sections 6.1
//!   and 7.2.4) to its source address and port, at most `extension_headers` (a token bucket;
//!   beyond, counted in [`ProcessorStats::extension_headers_suppressed`]).
//! * Update / Delete PDP Context Requests and G-PDUs with one of its TEIDs: served from its own
//!   sessions (changes replicated the same way before answering), or, when the line interface
//!   steered them here because the primary is down, from the replicated copies (a Delete is then
//!   reported to the switch processor so it can free the VIDs).
//! * An Update/Delete for a TEID it does not hold: answered with cause Non-existent (TEID 0, the
//!   request's sequence number) and counted, at most `non_existent` answers (a token bucket;
//!   beyond, suppressed and counted in [`ProcessorStats::non_existent_suppressed`]), as the line
//!   interface answers those naming a VID no processor holds; a G-PDU for a (non-zero) TEID it does not hold: dropped, counted, and answered with
//!   a GTP-U Error Indication (TS 29.281 section 7.3.1) through the line interface that passed
//!   it on: to the G-PDU's source IP address, UDP port 2152, from the address the G-PDU was sent
//!   to, carrying the G-PDU's TEID (TEID Data I), that address (GTP-U Peer Address) and, when
//!   the G-PDU's UDP source port is not 2152, that port (UDP Port extension header), as the line
//!   interface does. At most `error_indications` (a token bucket); beyond, suppressed and
//!   counted.
//! * A peer's Error Indication (relayed by the switch processor to every processor, since only
//!   the peer's TEID names the session): every session, own or replicated, whose peer user-plane
//!   TEID and address are the Error Indication's TEID Data I and GTP-U Peer Address is deleted
//!   as if the peer had sent a Delete PDP Context Request (TS 29.060 section 7.3.7: the GGSN
//!   deletes the PDP context), replicated the same way, and reported with
//!   [`ProcessorEvent::SessionErrorIndication`]. Finding them scans the sessions held (there is
//!   no index by peer TEID); the switch processor's rate limit bounds how often.
//!
//! # Bounds
//!
//! * Own sessions: at most `max_sessions` (no more than the layout's local part holds); a set-up
//!   beyond is refused with cause No resources available.
//! * Replicated copies: at most `max_shadow`; beyond, a sync is not acknowledged (the primary
//!   gives up after its retries and reports the session unprotected). At most one copy per
//!   subscriber (IMSI and NSAPI, for sessions set up with an IMSI): a copy replicated for a
//!   newer set-up of a subscriber, or a session of its own set up for that subscriber,
//!   supersedes the copy held for it under another TEID, which is deleted (counted in
//!   [`ProcessorStats::shadow_superseded`]) and reported to the switch processor like a
//!   deletion served as the backup, so the switch processor forgets its TEID. This is the copy a
//!   set-up orphans when its primary fails before the peer saw the answer: the peer repeats the
//!   request, the switch processor directs it afresh, and the new session's primary or backup
//!   is this processor (always so when at most two processors remain eligible). Repeated
//!   set-ups of one subscriber thus hold at most one copy on each processor.
//! * Output queue: `queue_limit` datagrams; beyond, datagrams are dropped and counted.
//! * Events: at most `queue_limit` queued; beyond, the oldest is dropped.
//! * Responses remembered for repeated Update/Delete requests: `queue_limit`, oldest forgotten.
//! * Error Indications sent: `error_indications` (a token bucket: `burst` at once, `per_second`
//!   after); beyond, suppressed and counted in [`ProcessorStats::error_indications_suppressed`].
//! * Non-existent answers to Update/Delete requests for TEIDs it does not hold: `non_existent`
//!   (the same); beyond, suppressed and counted in [`ProcessorStats::non_existent_suppressed`].
//!
//! # Trust
//!
//! VID assignments, directed set-ups, syncs and their acknowledgements are taken only from the
//! switch processor's address; steered packets (`Packet`) from any fabric sender, except peers'
//! Error Indications, taken only as the switch processor relays them.
//!
//! # Limits
//!
//! * A primary cut off by a partition (not crashed) is declared down and its backup serves its
//!   sessions; when the partition heals the primary serves them again with the state it had: the
//!   backup's changes meanwhile are not merged back.
//! * A second Create PDP Context Request for the same IMSI and NSAPI with a new sequence number is
//!   recognised only if the switch processor directs it to the same processor.
//! * A copy orphaned by a failed primary is superseded only on the processors the newer set-up
//!   involves: when its primary and backup are both other processors, the old copy stays until
//!   a later set-up of that subscriber involves its holder, counted against `max_shadow`.
//!   A late retransmission of the superseded set-up's replication supersedes the newer copy in
//!   turn (the newer session keeps its primary, and is replicated again at its next change).

use super::error::{ConfigError, InputError};
use super::fabric::{FabricMessage, SessionRecord};
use super::gtp::{self, Cause, EndUserAddress, Ie, IeType, Imsi, Message, MessageType};
use super::vid::{VidLayout, VirtualId};
use crate::health::{self, ClusterKey, HealthEvent, Load, Monitor, MonitorConfig, NodeId, Role};
use crate::io::{RateLimit, TokenBucket};
use crate::io::{TimerQueue, Transmit};
use ipnetwork::{Ipv4Network, Ipv6Network};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Configuration of a [`Processor`].
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// The processor's slot identity (also its health node id).
    pub id: u32,
    /// Incarnation: must grow at every restart.
    pub incarnation: u32,
    /// The processor's fabric address.
    pub fabric_addr: SocketAddr,
    /// The switch processor's fabric address.
    pub switch_addr: SocketAddr,
    /// The switch processor's health node id.
    pub switch_node: u32,
    /// The fabric address of the line interface that replies to directed set-ups leave through
    /// (replies to steered packets leave through the line interface that passed them on).
    pub line_addr: SocketAddr,
    /// The 32-bit TEID layout (the same in the whole gateway).
    pub layout: VidLayout,
    /// The 16-bit layout of L2TP ids, if L2TP ids are allocated.
    pub l2tp_layout: Option<VidLayout>,
    /// Most sessions of its own.
    pub max_sessions: usize,
    /// Most replicated sessions of other processors.
    pub max_shadow: usize,
    /// The End User Address pool; its host part must hold VID and local index bits.
    pub ue_pool: Ipv4Network,
    /// The IPv6 prefix pool, `None` for a gateway serving IPv4 only. Each session gets one /64
    /// of it (its index is VID and local index, as for `ue_pool`, so the pool is bounded by
    /// `max_sessions` and a backup derives the same prefix from the TEID); the End User Address
    /// carries that /64 with interface identifier 1. Its prefix length must leave at least VID
    /// and local index bits above the /64. With it, IPv6 and dual-stack IPv4v6 set-ups are
    /// served (TS 29.060 sections 7.3.2 and 7.7.27, TS 23.060 section 9.2.1); without it, an
    /// IPv4v6 set-up gets IPv4 only with cause New PDP type due to network preference (129) and
    /// an IPv6 one is refused with Unknown PDP address or PDP type (220).
    pub ue_pool_v6: Option<Ipv6Network>,
    /// The restart counter sent in Recovery IEs.
    pub recovery: u8,
    /// Retransmission interval of VID requests and syncs.
    pub retransmit: Duration,
    /// Syncs sent before giving up on one.
    pub max_retries: u32,
    /// Cluster key of the heartbeats.
    pub key: ClusterKey,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Bound of the output and event queues.
    pub queue_limit: usize,
    /// Bound of the Error Indications sent for G-PDUs naming no session it holds.
    pub error_indications: RateLimit,
    /// Bound of the Non-existent answers to Update / Delete PDP Context Requests naming no
    /// session it holds.
    pub non_existent: RateLimit,
    /// Bound of the Supported Extension Headers Notifications (TS 29.060 section 7.2.4) sent for
    /// steered messages carrying an unsupported comprehension-required extension header.
    pub extension_headers: RateLimit,
}

impl ProcessorConfig {
    /// A configuration with defaults for everything but the topology and the address pool:
    /// incarnation 1, switch processor's node id 1, no L2TP layout, 10 000 sessions and 40 000
    /// replicated ones, no IPv6 pool, recovery 0, 200 ms fabric retransmission up to 10 times,
    /// 1 s heartbeats, queues of 4096, at most 100 Error Indications, 100 Non-existent answers
    /// and 100 Supported Extension Headers Notifications per second (bursts of 20 each).
    pub fn new(
        id: u32,
        fabric_addr: SocketAddr,
        switch_addr: SocketAddr,
        line_addr: SocketAddr,
        layout: VidLayout,
        ue_pool: Ipv4Network,
        key: ClusterKey,
    ) -> ProcessorConfig {
        ProcessorConfig {
            id,
            incarnation: 1,
            fabric_addr,
            switch_addr,
            switch_node: 1,
            line_addr,
            layout,
            l2tp_layout: None,
            max_sessions: 10_000,
            max_shadow: 40_000,
            ue_pool,
            ue_pool_v6: None,
            recovery: 0,
            retransmit: Duration::from_millis(200),
            max_retries: 10,
            key,
            heartbeat_interval: Duration::from_secs(1),
            queue_limit: 4096,
            error_indications: RateLimit::default(),
            non_existent: RateLimit::default(),
            extension_headers: RateLimit::default(),
        }
    }
}

/// What a processor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessorEvent {
    /// The switch processor assigned this VID.
    VidAssigned {
        /// The VID.
        vid: VirtualId,
    },
    /// A session was created (its response is sent once replicated).
    SessionCreated {
        /// Its TEID.
        teid: u32,
        /// The subscriber.
        imsi: Imsi,
        /// The IPv4 End User Address of the session (also derived for an IPv6-only session, which
        /// is not given it).
        ue_addr: Ipv4Addr,
        /// The IPv6 End User Address given (IPv6 and IPv4v6 PDP types), `None` for IPv4.
        ue_addr_v6: Option<Ipv6Addr>,
        /// The backup's VID carried in the TEID.
        backup: Option<VirtualId>,
    },
    /// A session was updated.
    SessionUpdated {
        /// Its TEID.
        teid: u32,
        /// Whether this processor served it as the backup.
        as_backup: bool,
    },
    /// A session was deleted.
    SessionDeleted {
        /// Its TEID.
        teid: u32,
        /// Whether this processor served it as the backup.
        as_backup: bool,
    },
    /// A session's replication was never acknowledged: its response left anyway.
    SyncGaveUp {
        /// Its TEID.
        teid: u32,
    },
    /// A peer's Error Indication named this session's user plane (its TEID Data I and GTP-U Peer
    /// Address are the session's peer TEID and address): the session was deleted.
    SessionErrorIndication {
        /// The session's TEID (this gateway's).
        teid: u32,
        /// Whether this processor held it as the backup.
        as_backup: bool,
    },
    /// An L2TP packet steered here.
    L2tpPacket {
        /// Its tunnel id.
        tunnel: u16,
        /// Its session id.
        session: u16,
    },
}

/// Counters of a processor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessorStats {
    /// Sessions created.
    pub created: u64,
    /// Set-ups refused (no resources, missing IEs, unsupported PDP type).
    pub refused: u64,
    /// Signalling requests served for its own sessions.
    pub served_primary: u64,
    /// Signalling requests served from replicated state (as a backup).
    pub served_backup: u64,
    /// G-PDUs for its own sessions.
    pub user_packets: u64,
    /// G-PDUs served from replicated state.
    pub user_packets_backup: u64,
    /// Packets for TEIDs it does not hold (spoofed or stale), dropped or refused.
    pub unknown_teid: u64,
    /// Sessions whose replication was never acknowledged.
    pub unprotected: u64,
    /// Replicated sessions refused because `max_shadow` was reached.
    pub shadow_full: u64,
    /// Replicated sessions deleted because a newer set-up of the same subscriber (IMSI and
    /// NSAPI) superseded them.
    pub shadow_superseded: u64,
    /// L2TP packets received.
    pub l2tp_packets: u64,
    /// Datagrams dropped because the output queue was full.
    pub queue_full: u64,
    /// Error Indications sent for G-PDUs naming no session.
    pub error_indications: u64,
    /// Error Indications not sent because `error_indications` was exhausted.
    pub error_indications_suppressed: u64,
    /// Non-existent answers not sent because `non_existent` was exhausted (the requests are
    /// still counted in `unknown_teid`).
    pub non_existent_suppressed: u64,
    /// Peers' Error Indications received (relayed by the switch processor).
    pub error_indications_received: u64,
    /// Sessions deleted because a peer's Error Indication named them.
    pub sessions_torn_down: u64,
    /// Supported Extension Headers Notifications sent.
    pub extension_headers_notifications: u64,
    /// Messages with an unsupported comprehension-required extension header discarded without a
    /// notification because `extension_headers` was exhausted.
    pub extension_headers_suppressed: u64,
}

/// The PDP type a set-up is granted (TS 29.060 sections 7.3.2 and 7.7.27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    V4,
    V6,
    V4v6,
}

#[derive(Debug, Clone)]
struct Session {
    record: SessionRecord,
    /// The peer's control-plane transport address (where responses go).
    peer: SocketAddr,
    /// The gateway address the peer talks to.
    gateway: SocketAddr,
    /// The line interface replies leave through.
    line: SocketAddr,
    /// The QoS profile requested, echoed in responses.
    qos: Vec<u8>,
    /// The PDP type granted and the cause of the Create PDP Context Response.
    grant: (Grant, Cause),
}

#[derive(Debug, Clone)]
struct Pending {
    record: SessionRecord,
    delete: bool,
    /// Responses held until the sync is acknowledged: (line interface, fabric Transmit bytes).
    responses: Vec<(SocketAddr, Vec<u8>)>,
    tries: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Timer {
    VidRequest,
    Sync(u32),
}

/// A processor endpoint (see the [module documentation](self)).
#[derive(Debug)]
pub struct Processor {
    config: ProcessorConfig,
    vid: Option<VirtualId>,
    sessions: HashMap<u32, Session>,
    by_subscriber: HashMap<(Imsi, u8), u32>,
    shadow: HashMap<u32, Session>,
    /// The replicated copy held for each subscriber (IMSI, NSAPI), sessions set up with an IMSI
    /// only: a newer set-up of the same subscriber supersedes the copy.
    shadow_by_subscriber: HashMap<(Imsi, u8), u32>,
    free_local: VecDeque<u32>,
    next_local: u32,
    next_l2tp_local: u32,
    pending: HashMap<u32, Pending>,
    timers: TimerQueue<Timer>,
    monitor: Monitor,
    queue: VecDeque<Transmit>,
    events: VecDeque<ProcessorEvent>,
    stats: ProcessorStats,
    /// Asking the restarted switch processor to keep the VID held.
    rejoining: bool,
    /// Responses to recent Update/Delete requests, by (peer, sequence number), so a repeated
    /// request gets the same response (TS 29.060 section 7.6).
    answered: HashMap<(SocketAddr, u16), (SocketAddr, Vec<u8>)>,
    answered_order: VecDeque<(SocketAddr, u16)>,
    error_indications: TokenBucket,
    non_existent: TokenBucket,
    extension_headers: TokenBucket,
}

/// The subscriber key (IMSI, NSAPI) of a session set up with an IMSI; `None` without one (the
/// set-up's IMSI defaults to all `0xff`), so sessions without an IMSI never supersede each other.
fn subscriber_key(r: &SessionRecord) -> Option<(Imsi, u8)> {
    (r.imsi != Imsi([0xff; 8])).then_some((r.imsi, r.nsapi))
}

/// The refusal TS 29.060 11.1.5 and 11.1.7 ask for when a request a processor serves lacks a
/// mandatory element (Mandatory IE missing) or carries one it cannot use (Mandatory IE incorrect),
/// `None` when the request is complete. Mandatory per 7.3.1 (Create), 7.3.3 (Update, SGSN-initiated)
/// and 7.3.5 (Delete): TEID Data I, NSAPI, the SGSN addresses for signalling and for user traffic
/// and the QoS Profile (Create and Update), NSAPI (Delete). A QoS Profile too short for the
/// allocation/retention priority and the three value octets of the TS 24.008 QoS IE (7.7.34) is
/// incorrect.
fn mandatory_ie_error(req: &Message<'_>) -> Option<Cause> {
    let t = req.message_type();
    let has = |ty: IeType| req.ie(ty).is_some();
    let tunnel = has(IeType::TEID_DATA_I)
        && has(IeType::NSAPI)
        && req.gsn_addresses().count() >= 2
        && has(IeType::QOS_PROFILE);
    let complete = match t {
        MessageType::CREATE_PDP_CONTEXT_REQUEST | MessageType::UPDATE_PDP_CONTEXT_REQUEST => tunnel,
        MessageType::DELETE_PDP_CONTEXT_REQUEST => has(IeType::NSAPI),
        _ => true,
    };
    if !complete {
        return Some(Cause::MANDATORY_IE_MISSING);
    }
    match req.ie(IeType::QOS_PROFILE) {
        Some(Ie::QosProfile(q)) if q.len() < 4 => Some(Cause::MANDATORY_IE_INCORRECT),
        _ => None,
    }
}

fn fabric_transmit(src: SocketAddr, dst: SocketAddr, msg: &FabricMessage<'_>) -> Transmit {
    Transmit {
        dst,
        src: Some(src),
        link_dst: None,
        payload: msg.to_vec().into(),
    }
}

impl Processor {
    /// Checks the configuration and queues the first VID request.
    pub fn new(config: ProcessorConfig, now: Instant) -> Result<Processor, ConfigError> {
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
        if config.max_sessions == 0 {
            return Err(ConfigError::Zero("max_sessions"));
        }
        if config.max_sessions as u64 > u64::from(config.layout.max_local()) {
            return Err(ConfigError::Invalid {
                field: "max_sessions",
                why: "more than the layout's local part holds",
            });
        }
        if config.queue_limit == 0 {
            return Err(ConfigError::Zero("queue_limit"));
        }
        if config.retransmit.is_zero() {
            return Err(ConfigError::Zero("retransmit"));
        }
        let host_bits = 32 - u32::from(config.ue_pool.prefix());
        let need =
            u32::from(config.layout.primary_field().width) + u32::from(config.layout.local_bits());
        if host_bits < need {
            return Err(ConfigError::Invalid {
                field: "ue_pool",
                why: "too small for VID and local index bits",
            });
        }
        if let Some(v6) = config.ue_pool_v6 {
            if v6.prefix() > 64 || 64 - u32::from(v6.prefix()) < need {
                return Err(ConfigError::Invalid {
                    field: "ue_pool_v6",
                    why: "too small for VID and local index bits above one /64 per session",
                });
            }
        }
        let mut hc = MonitorConfig::new(
            NodeId(config.id),
            Role::PROCESSOR,
            config.key.clone(),
            vec![(NodeId(config.switch_node), config.switch_addr)],
        );
        hc.incarnation = config.incarnation;
        hc.interval = config.heartbeat_interval;
        hc.load = Load::new(0, u32::try_from(config.max_sessions).unwrap_or(u32::MAX));
        let monitor = Monitor::new(hc, now).map_err(|e| ConfigError::Health(e.to_string()))?;
        let error_indications = TokenBucket::new(config.error_indications, now);
        let non_existent = TokenBucket::new(config.non_existent, now);
        let extension_headers = TokenBucket::new(config.extension_headers, now);
        let mut p = Processor {
            config,
            vid: None,
            sessions: HashMap::new(),
            by_subscriber: HashMap::new(),
            shadow: HashMap::new(),
            shadow_by_subscriber: HashMap::new(),
            free_local: VecDeque::new(),
            next_local: 1,
            next_l2tp_local: 1,
            pending: HashMap::new(),
            timers: TimerQueue::new(),
            monitor,
            queue: VecDeque::new(),
            events: VecDeque::new(),
            stats: ProcessorStats::default(),
            answered: HashMap::new(),
            answered_order: VecDeque::new(),
            rejoining: false,
            error_indications,
            non_existent,
            extension_headers,
        };
        p.send_vid_request(now);
        Ok(p)
    }

    /// The VID assigned, once the switch processor answered.
    pub fn vid(&self) -> Option<VirtualId> {
        self.vid
    }

    /// Number of its own sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of replicated sessions it holds for other processors.
    pub fn shadow_count(&self) -> usize {
        self.shadow.len()
    }

    /// Whether it holds a session (own or replicated) with this TEID.
    pub fn has_session(&self, teid: u32) -> bool {
        self.sessions.contains_key(&teid) || self.shadow.contains_key(&teid)
    }

    /// The TEIDs of its own sessions.
    pub fn session_teids(&self) -> impl Iterator<Item = u32> + '_ {
        self.sessions.keys().copied()
    }

    /// The counters.
    pub fn stats(&self) -> &ProcessorStats {
        &self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// Allocates an L2TP tunnel id and session id carrying this processor's VID (and `backup`'s,
    /// if the 16-bit layout has a backup field), for an LNS running on this processor. `None`
    /// before the VID is assigned, without a 16-bit layout, or when the local part is exhausted.
    pub fn allocate_l2tp_ids(&mut self, backup: Option<VirtualId>) -> Option<(u16, u16)> {
        let layout = self.config.l2tp_layout?;
        let vid = self.vid?;
        let backup = backup.filter(|_| layout.backup_field().is_some());
        let t = self.next_l2tp_local;
        let s = t.checked_add(1)?;
        let tunnel = layout.compose(vid, backup, t).ok()?;
        let session = layout.compose(vid, backup, s).ok()?;
        self.next_l2tp_local = s.checked_add(1)?;
        Some((u16::try_from(tunnel).ok()?, u16::try_from(session).ok()?))
    }

    fn push(&mut self, t: Transmit) {
        if self.queue.len() >= self.config.queue_limit {
            self.stats.queue_full += 1;
            return;
        }
        self.queue.push_back(t);
    }

    fn event(&mut self, e: ProcessorEvent) {
        if self.events.len() >= self.config.queue_limit {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn send_switch(&mut self, msg: &FabricMessage<'_>) {
        let t = fabric_transmit(self.config.fabric_addr, self.config.switch_addr, msg);
        self.push(t);
    }

    fn send_vid_request(&mut self, now: Instant) {
        let msg = FabricMessage::VidRequest {
            processor: self.config.id,
            incarnation: self.config.incarnation,
            current: if self.rejoining { self.vid } else { None },
        };
        self.send_switch(&msg);
        self.timers
            .insert(Timer::VidRequest, now + self.config.retransmit);
    }

    fn update_load(&mut self) {
        let used = u32::try_from(self.sessions.len()).unwrap_or(u32::MAX);
        let cap = u32::try_from(self.config.max_sessions).unwrap_or(u32::MAX);
        self.monitor.set_load(Load::new(used, cap));
    }

    fn drain_monitor(&mut self, now: Instant) {
        while let Some(mut t) = self.monitor.poll_transmit() {
            t.src = Some(self.config.fabric_addr);
            self.push(t);
        }
        while let Some(e) = self.monitor.poll_event() {
            if let HealthEvent::Restarted { node, .. } = e {
                if node.0 == self.config.switch_node && self.vid.is_some() {
                    // The switch processor lost what it knew: ask to keep the VID, then tell it
                    // about every session again.
                    self.rejoining = true;
                    self.send_vid_request(now);
                }
            }
        }
    }

    /// Re-announces every session (own and replicated) to a restarted switch processor, in TEID
    /// order, each retried until acknowledged.
    fn reannounce(&mut self, now: Instant) {
        let mut own: Vec<SessionRecord> = self.sessions.values().map(|s| s.record).collect();
        own.extend(self.shadow.values().map(|s| s.record));
        own.sort_by_key(|r| r.teid);
        for record in own {
            self.replicate(now, record, false, None);
        }
    }

    /// Feeds one datagram received on the fabric address: a heartbeat or a fabric message.
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
            self.drain_monitor(now);
            return r;
        }
        let msg = FabricMessage::parse(data)?;
        let from_switch = from == self.config.switch_addr;
        match msg {
            FabricMessage::Packet {
                from: peer,
                to: gateway,
                data,
            } => self.handle_packet(now, from, peer, gateway, &data),
            _ if !from_switch => Err(InputError::Unexpected(
                "only Packet is taken from a sender other than the switch processor",
            )),
            FabricMessage::VidAssign {
                processor,
                incarnation,
                vid,
            } if processor == self.config.id && incarnation == self.config.incarnation => {
                if self.vid.is_none() || self.rejoining {
                    let again = self.rejoining;
                    self.rejoining = false;
                    if self.vid != Some(vid) {
                        self.event(ProcessorEvent::VidAssigned { vid });
                    }
                    self.vid = Some(vid);
                    self.timers.cancel(&Timer::VidRequest);
                    if again {
                        self.reannounce(now);
                    }
                }
                Ok(())
            }
            FabricMessage::VidAssign { .. } => Err(InputError::Unexpected("VidAssign for another")),
            FabricMessage::Directed {
                backup,
                from: peer,
                to: gateway,
                data,
            } => {
                let line = self.config.line_addr;
                self.handle_setup(now, backup, peer, gateway, line, &data)
            }
            FabricMessage::Sync { delete, record } => self.handle_sync(now, delete, record),
            FabricMessage::SyncAck { teid, version } => {
                self.handle_sync_ack(teid, version);
                Ok(())
            }
            _ => Err(InputError::Unexpected("processor")),
        }
    }

    /// Sends `msg` to `peer` through `line`; whether it could be encoded and queued.
    fn reply(
        &mut self,
        line: SocketAddr,
        gateway: SocketAddr,
        peer: SocketAddr,
        msg: &Message<'_>,
    ) -> bool {
        let Some(bytes) = self.reply_bytes(gateway, peer, msg) else {
            return false;
        };
        let t = Transmit {
            dst: line,
            src: Some(self.config.fabric_addr),
            link_dst: None,
            payload: bytes.into(),
        };
        self.push(t);
        true
    }

    fn reply_bytes(
        &self,
        gateway: SocketAddr,
        peer: SocketAddr,
        msg: &Message<'_>,
    ) -> Option<Vec<u8>> {
        let data = msg.to_vec().ok()?;
        Some(
            FabricMessage::Transmit {
                from: gateway,
                to: peer,
                data: Cow::Owned(data),
            }
            .to_vec(),
        )
    }

    fn refuse(
        &mut self,
        line: SocketAddr,
        gateway: SocketAddr,
        peer: SocketAddr,
        req: &Message<'_>,
        teid: u32,
        cause: Cause,
    ) {
        let t = MessageType(req.message_type().0.wrapping_add(1));
        let m = Message::new(
            t,
            teid,
            req.header.sequence.unwrap_or(0),
            vec![Ie::Cause(cause)],
        );
        self.reply(line, gateway, peer, &m);
    }

    /// Refuses a set-up request with `cause`, counted in [`ProcessorStats::refused`].
    fn refuse_setup(
        &mut self,
        line: SocketAddr,
        gateway: SocketAddr,
        peer: SocketAddr,
        req: &Message<'_>,
        teid: u32,
        cause: Cause,
    ) {
        self.stats.refused += 1;
        self.refuse(line, gateway, peer, req, teid, cause);
    }

    fn allocate_local(&mut self) -> Option<u32> {
        if self.sessions.len() >= self.config.max_sessions {
            return None;
        }
        if self.next_local <= self.config.layout.max_local() {
            let l = self.next_local;
            self.next_local += 1;
            return Some(l);
        }
        self.free_local.pop_front()
    }

    fn ue_addr(&self, vid: VirtualId, local: u32) -> Ipv4Addr {
        let base = u32::from(self.config.ue_pool.network());
        let off = (u32::from(vid.get()) << self.config.layout.local_bits()) | local;
        Ipv4Addr::from(base.wrapping_add(off))
    }

    /// The /64 of `ue_pool_v6` at index (VID, local index), interface identifier 1.
    fn ue_addr_v6(&self, vid: VirtualId, local: u32) -> Option<Ipv6Addr> {
        let pool = self.config.ue_pool_v6?;
        let base = u128::from(pool.network());
        let off = (u32::from(vid.get()) << self.config.layout.local_bits()) | local;
        Some(Ipv6Addr::from(
            base.wrapping_add(u128::from(off) << 64).wrapping_add(1),
        ))
    }

    /// The PDP type granted to a set-up and the response's cause, or the refusal's cause (TS
    /// 29.060 section 7.3.2): IPv4 always; IPv6 with an IPv6 pool; IPv4v6 with an IPv6 pool
    /// when the SGSN set the Dual Address Bearer Flag (Common Flags, section 7.7.48), IPv4 with
    /// cause 130 when it did not, IPv4 with cause 129 without an IPv6 pool.
    fn grant(&self, req: &Message<'_>) -> Result<(Grant, Cause), Cause> {
        let Some(eua) = req.end_user_address() else {
            return Ok((Grant::V4, Cause::REQUEST_ACCEPTED));
        };
        let v6 = self.config.ue_pool_v6.is_some();
        let daf = matches!(
            req.ie(IeType::COMMON_FLAGS),
            Some(Ie::Tlv { value, .. }) if value.first().is_some_and(|f| f & 0x80 != 0)
        );
        if eua.organization & 0x0f != 1 {
            return Err(Cause::UNKNOWN_PDP_ADDRESS_OR_TYPE);
        }
        match eua.pdp_type {
            EndUserAddress::IPV4 => Ok((Grant::V4, Cause::REQUEST_ACCEPTED)),
            EndUserAddress::IPV6 if v6 => Ok((Grant::V6, Cause::REQUEST_ACCEPTED)),
            EndUserAddress::IPV4V6 if v6 && daf => Ok((Grant::V4v6, Cause::REQUEST_ACCEPTED)),
            EndUserAddress::IPV4V6 if v6 => {
                Ok((Grant::V4, Cause::NEW_PDP_TYPE_SINGLE_ADDRESS_BEARER))
            }
            EndUserAddress::IPV4V6 => Ok((Grant::V4, Cause::NEW_PDP_TYPE_NETWORK_PREFERENCE)),
            _ => Err(Cause::UNKNOWN_PDP_ADDRESS_OR_TYPE),
        }
    }

    fn create_response(&self, s: &Session, seq: u16) -> Message<'static> {
        let gw = s.gateway.ip();
        let v4 = s.record.ue_addr;
        let vid = self.config.layout.primary(s.record.teid);
        let v6 = vid.and_then(|v| self.ue_addr_v6(v, self.config.layout.local(s.record.teid)));
        let eua = match s.grant.0 {
            Grant::V4 => EndUserAddress::ipv4(Some(v4)),
            Grant::V6 => EndUserAddress::ipv6(v6),
            Grant::V4v6 => EndUserAddress::ipv4v6(Some(v4), v6),
        };
        let mut ies = vec![
            Ie::Cause(s.grant.1),
            Ie::Tv {
                ie_type: IeType::REORDERING_REQUIRED,
                value: Cow::Borrowed(&[0xfe]),
            },
            Ie::Recovery(self.config.recovery),
            Ie::TeidDataI(s.record.teid),
            Ie::TeidControl(s.record.teid),
            Ie::ChargingId(s.record.teid),
            Ie::EndUserAddress(eua),
            Ie::GsnAddress(gw),
            Ie::GsnAddress(gw),
        ];
        if !s.qos.is_empty() {
            ies.push(Ie::QosProfile(Cow::Owned(s.qos.clone())));
        }
        Message::new(
            MessageType::CREATE_PDP_CONTEXT_RESPONSE,
            s.record.peer_teid_c,
            seq,
            ies,
        )
    }

    fn handle_setup(
        &mut self,
        now: Instant,
        backup: Option<VirtualId>,
        peer: SocketAddr,
        gateway: SocketAddr,
        line: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let vid = self.vid.ok_or(InputError::NotReady)?;
        if data.first().is_some_and(|b| b & 0xf0 != 0x30) {
            // An L2TP set-up (tunnel id 0): an LNS on this processor would take it from here.
            return self.handle_l2tp(data);
        }
        let req = gtp::parse(data)?;
        if req.message_type() != MessageType::CREATE_PDP_CONTEXT_REQUEST {
            return Err(InputError::Unsupported(
                "only Create PDP Context is directed",
            ));
        }
        let seq = req.header.sequence.unwrap_or(0);
        let (Some(peer_teid_u), Some(peer_teid_c), Some(nsapi), None) = (
            req.teid_data_i(),
            req.teid_control(),
            req.nsapi(),
            mandatory_ie_error(&req),
        ) else {
            let teid = req.teid_control().unwrap_or(0);
            let cause = mandatory_ie_error(&req).unwrap_or(Cause::MANDATORY_IE_MISSING);
            self.refuse_setup(line, gateway, peer, &req, teid, cause);
            return Ok(());
        };
        let mut gsn = req.gsn_addresses();
        let Some(peer_c) = gsn.next() else {
            self.refuse_setup(
                line,
                gateway,
                peer,
                &req,
                peer_teid_c,
                Cause::MANDATORY_IE_MISSING,
            );
            return Ok(());
        };
        let peer_u = gsn.next().unwrap_or(peer_c);
        let grant = match self.grant(&req) {
            Ok(g) => g,
            Err(cause) => {
                self.refuse_setup(line, gateway, peer, &req, peer_teid_c, cause);
                return Ok(());
            }
        };
        let imsi = req.imsi().unwrap_or(Imsi([0xff; 8]));
        if let Some(&teid) = self.by_subscriber.get(&(imsi, nsapi)) {
            // A repeated request: answer again once the state is replicated.
            if !self.pending.contains_key(&teid) {
                if let Some(s) = self.sessions.get(&teid) {
                    let m = self.create_response(s, seq);
                    let (l, g, p) = (s.line, s.gateway, s.peer);
                    self.reply(l, g, p, &m);
                }
            }
            return Ok(());
        }
        let Some(local) = self.allocate_local() else {
            self.refuse_setup(
                line,
                gateway,
                peer,
                &req,
                peer_teid_c,
                Cause::NO_RESOURCES_AVAILABLE,
            );
            return Ok(());
        };
        let layout = self.config.layout;
        let backup = backup.filter(|b| *b != vid && layout.backup_field().is_some());
        let Ok(teid) = layout.compose(vid, backup, local) else {
            self.refuse_setup(
                line,
                gateway,
                peer,
                &req,
                peer_teid_c,
                Cause::SYSTEM_FAILURE,
            );
            return Ok(());
        };
        let qos = match req.ie(IeType::QOS_PROFILE) {
            Some(Ie::QosProfile(q)) => q.to_vec(),
            _ => Vec::new(),
        };
        let record = SessionRecord {
            teid,
            version: 1,
            peer_teid_c,
            peer_teid_u,
            peer_c,
            peer_u,
            imsi,
            nsapi,
            ue_addr: self.ue_addr(vid, local),
        };
        let session = Session {
            record,
            peer,
            gateway,
            line,
            qos,
            grant,
        };
        let response = self.create_response(&session, seq);
        let bytes = self.reply_bytes(gateway, peer, &response);
        self.sessions.insert(teid, session);
        self.by_subscriber.insert((imsi, nsapi), teid);
        // A copy of an earlier set-up of this subscriber held here as a backup is superseded.
        self.supersede_shadow(now, &record);
        self.stats.created += 1;
        self.update_load();
        self.event(ProcessorEvent::SessionCreated {
            teid,
            imsi,
            ue_addr: record.ue_addr,
            ue_addr_v6: match grant.0 {
                Grant::V4 => None,
                Grant::V6 | Grant::V4v6 => self.ue_addr_v6(vid, local),
            },
            backup,
        });
        self.replicate(now, record, false, bytes.map(|b| (line, b)));
        Ok(())
    }

    /// Sends (or re-sends) the sync of `record`, holding `response` until it is acknowledged.
    fn replicate(
        &mut self,
        now: Instant,
        record: SessionRecord,
        delete: bool,
        response: Option<(SocketAddr, Vec<u8>)>,
    ) {
        let p = self.pending.entry(record.teid).or_insert(Pending {
            record,
            delete,
            responses: Vec::new(),
            tries: 0,
        });
        p.record = record;
        p.delete = delete;
        p.tries = 1;
        p.responses.extend(response);
        self.send_switch(&FabricMessage::Sync { delete, record });
        self.timers
            .insert(Timer::Sync(record.teid), now + self.config.retransmit);
    }

    fn release(&mut self, teid: u32) {
        self.timers.cancel(&Timer::Sync(teid));
        if let Some(p) = self.pending.remove(&teid) {
            for (line, bytes) in p.responses {
                let t = Transmit {
                    dst: line,
                    src: Some(self.config.fabric_addr),
                    link_dst: None,
                    payload: bytes.into(),
                };
                self.push(t);
            }
        }
    }

    fn handle_sync_ack(&mut self, teid: u32, version: u32) {
        if self
            .pending
            .get(&teid)
            .is_some_and(|p| p.record.version <= version)
        {
            self.release(teid);
        }
    }

    fn handle_sync(
        &mut self,
        now: Instant,
        delete: bool,
        record: SessionRecord,
    ) -> Result<(), InputError> {
        let vid = self.vid.ok_or(InputError::NotReady)?;
        if self.config.layout.backup(record.teid) != Some(vid) {
            return Err(InputError::Unexpected(
                "Sync for a session this is not the backup of",
            ));
        }
        if delete {
            self.drop_shadow(record.teid);
        } else {
            match self.shadow.get_mut(&record.teid) {
                Some(s) => {
                    if s.record.version < record.version {
                        s.record = record;
                    }
                }
                None => {
                    // A newer set-up of a subscriber whose older copy is held here: that copy
                    // is superseded (its primary is gone or the peer set the context up again).
                    self.supersede_shadow(now, &record);
                    if self.shadow.len() >= self.config.max_shadow {
                        self.stats.shadow_full += 1;
                        return Ok(());
                    }
                    let port = |ip: IpAddr, p: u16| SocketAddr::new(ip, p);
                    self.shadow.insert(
                        record.teid,
                        Session {
                            record,
                            peer: port(record.peer_c, gtp::GTP_C_PORT),
                            gateway: SocketAddr::new(self.config.line_addr.ip(), gtp::GTP_C_PORT),
                            line: self.config.line_addr,
                            qos: Vec::new(),
                            grant: (Grant::V4, Cause::REQUEST_ACCEPTED),
                        },
                    );
                    if let Some(key) = subscriber_key(&record) {
                        self.shadow_by_subscriber.insert(key, record.teid);
                    }
                }
            }
        }
        let version = self
            .shadow
            .get(&record.teid)
            .map_or(record.version, |s| s.record.version);
        self.send_switch(&FabricMessage::SyncAck {
            teid: record.teid,
            version,
        });
        Ok(())
    }

    fn handle_packet(
        &mut self,
        now: Instant,
        line: SocketAddr,
        peer: SocketAddr,
        gateway: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        if data.first().is_some_and(|b| b & 0xf0 != 0x30) {
            return self.handle_l2tp(data);
        }
        let req = gtp::parse(data)?;
        let teid = req.header.teid;
        let t = req.message_type();
        let supported = gtp::supported_extension_headers(gateway.port());
        if let Some(ext) = req.header.unsupported_extension(supported) {
            // TS 29.281 section 5.2.1, TS 29.060 section 6.1: not delivered nor served, and
            // the sender told which extension headers are supported.
            if self.extension_headers.take(now) {
                let seq = req.header.sequence.unwrap_or(0);
                let n = Message::supported_extension_headers_notification(seq, supported);
                if self.reply(line, gateway, peer, &n) {
                    self.stats.extension_headers_notifications += 1;
                }
            } else {
                self.stats.extension_headers_suppressed += 1;
            }
            return Err(InputError::UnsupportedExtension(ext));
        }
        if t == MessageType::G_PDU {
            if self.sessions.contains_key(&teid) {
                self.stats.user_packets += 1;
            } else if self.shadow.contains_key(&teid) {
                self.stats.user_packets_backup += 1;
            } else {
                self.stats.unknown_teid += 1;
                if teid != 0 {
                    self.send_error_indication(now, line, peer, gateway, teid);
                }
                return Err(InputError::UnknownTeid(teid));
            }
            return Ok(());
        }
        if t == MessageType::ERROR_INDICATION {
            // Only as the switch processor relays them (rate-limited there): an Error
            // Indication steered here directly (a non-zero header TEID) is refused, so a flood
            // of them cannot make every processor scan its sessions unbounded.
            if line != self.config.switch_addr {
                return Err(InputError::Unexpected(
                    "Error Indication not relayed by the switch processor",
                ));
            }
            return self.handle_error_indication(now, &req);
        }
        if t != MessageType::UPDATE_PDP_CONTEXT_REQUEST
            && t != MessageType::DELETE_PDP_CONTEXT_REQUEST
        {
            return Err(InputError::Unsupported("message type at a processor"));
        }
        let seq = req.header.sequence.unwrap_or(0);
        if let Some((l, bytes)) = self.answered.get(&(peer, seq)) {
            // A repeated request: the same response (unless it still awaits replication).
            if !self.pending.contains_key(&teid) {
                let t = Transmit {
                    dst: *l,
                    src: Some(self.config.fabric_addr),
                    link_dst: None,
                    payload: bytes.clone().into(),
                };
                self.push(t);
            }
            return Ok(());
        }
        if let (Some(cause), Some(s)) = (
            mandatory_ie_error(&req),
            self.sessions.get(&teid).or_else(|| self.shadow.get(&teid)),
        ) {
            let peer_teid_c = s.record.peer_teid_c;
            self.refuse(line, gateway, peer, &req, peer_teid_c, cause);
            return Ok(());
        }
        let as_backup = !self.sessions.contains_key(&teid);
        let Some(session) = self
            .sessions
            .get_mut(&teid)
            .or_else(|| self.shadow.get_mut(&teid))
        else {
            self.stats.unknown_teid += 1;
            if self.non_existent.take(now) {
                self.refuse(line, gateway, peer, &req, 0, Cause::NON_EXISTENT);
            } else {
                self.stats.non_existent_suppressed += 1;
            }
            return Err(InputError::UnknownTeid(teid));
        };
        // Replies go where this request came from.
        session.peer = peer;
        session.gateway = gateway;
        session.line = line;
        if t == MessageType::UPDATE_PDP_CONTEXT_REQUEST {
            let r = &mut session.record;
            if let Some(u) = req.teid_data_i() {
                r.peer_teid_u = u;
            }
            if let Some(c) = req.teid_control() {
                r.peer_teid_c = c;
            }
            let mut gsn = req.gsn_addresses();
            if let Some(c) = gsn.next() {
                r.peer_c = c;
                r.peer_u = gsn.next().unwrap_or(c);
            }
            r.version = r.version.wrapping_add(1);
            if let Some(Ie::QosProfile(q)) = req.ie(IeType::QOS_PROFILE) {
                session.qos = q.to_vec();
            }
            let record = session.record;
            let gw = gateway.ip();
            let mut ies = vec![
                Ie::Cause(Cause::REQUEST_ACCEPTED),
                Ie::Recovery(self.config.recovery),
                Ie::TeidDataI(teid),
                Ie::TeidControl(teid),
                Ie::ChargingId(teid),
                Ie::GsnAddress(gw),
                Ie::GsnAddress(gw),
            ];
            if !session.qos.is_empty() {
                ies.push(Ie::QosProfile(Cow::Owned(session.qos.clone())));
            }
            let resp = Message::new(
                MessageType::UPDATE_PDP_CONTEXT_RESPONSE,
                record.peer_teid_c,
                seq,
                ies,
            );
            self.event(ProcessorEvent::SessionUpdated { teid, as_backup });
            let bytes = self.reply_bytes(gateway, peer, &resp);
            self.remember(peer, seq, line, bytes.clone());
            if as_backup {
                self.stats.served_backup += 1;
                self.reply(line, gateway, peer, &resp);
            } else {
                self.stats.served_primary += 1;
                self.replicate(now, record, false, bytes.map(|b| (line, b)));
            }
        } else {
            let record = session.record;
            let resp = Message::new(
                MessageType::DELETE_PDP_CONTEXT_RESPONSE,
                record.peer_teid_c,
                seq,
                vec![Ie::Cause(Cause::REQUEST_ACCEPTED)],
            );
            self.event(ProcessorEvent::SessionDeleted { teid, as_backup });
            let bytes = self.reply_bytes(gateway, peer, &resp);
            self.remember(peer, seq, line, bytes.clone());
            if as_backup {
                self.stats.served_backup += 1;
                self.reply(line, gateway, peer, &resp);
                self.remove_session(now, record, true, None);
            } else {
                self.stats.served_primary += 1;
                self.remove_session(now, record, false, bytes.map(|b| (line, b)));
            }
        }
        Ok(())
    }

    /// Deletes a session and replicates the deletion (holding `response` until it is
    /// acknowledged). A replicated copy served as the backup: the deletion is reported to the
    /// switch processor, which frees the VIDs when safe.
    fn remove_session(
        &mut self,
        now: Instant,
        record: SessionRecord,
        as_backup: bool,
        response: Option<(SocketAddr, Vec<u8>)>,
    ) {
        let teid = record.teid;
        if as_backup {
            self.drop_shadow(teid);
            self.replicate(now, record, true, None);
        } else {
            self.sessions.remove(&teid);
            self.by_subscriber.remove(&(record.imsi, record.nsapi));
            self.free_local.push_back(self.config.layout.local(teid));
            self.update_load();
            self.replicate(now, record, true, response);
        }
    }

    /// Forgets the replicated copy `teid` (no report).
    fn drop_shadow(&mut self, teid: u32) {
        if let Some(s) = self.shadow.remove(&teid) {
            if let Some(key) = subscriber_key(&s.record) {
                if self.shadow_by_subscriber.get(&key) == Some(&teid) {
                    self.shadow_by_subscriber.remove(&key);
                }
            }
        }
    }

    /// A set-up of `record`'s subscriber under a new TEID (a copy replicated here, or a session
    /// of its own) supersedes the replicated copy held for the same subscriber under another
    /// TEID: the copy is deleted, and the deletion reported to the switch processor as a backup
    /// reports one it served, so that the switch processor forgets the TEID (and frees the VIDs
    /// it named when safe).
    fn supersede_shadow(&mut self, now: Instant, record: &SessionRecord) {
        let Some(key) = subscriber_key(record) else {
            return;
        };
        let Some(&old) = self.shadow_by_subscriber.get(&key) else {
            return;
        };
        if old == record.teid {
            return;
        }
        let Some(stale) = self.shadow.get(&old).map(|s| s.record) else {
            self.shadow_by_subscriber.remove(&key);
            return;
        };
        self.stats.shadow_superseded += 1;
        self.remove_session(now, stale, true, None);
    }

    /// Answers a G-PDU for `teid`, which names no session held here, with an Error Indication
    /// through `line`, if the rate limit allows.
    fn send_error_indication(
        &mut self,
        now: Instant,
        line: SocketAddr,
        peer: SocketAddr,
        gateway: SocketAddr,
        teid: u32,
    ) {
        if !self.error_indications.take(now) {
            self.stats.error_indications_suppressed += 1;
            return;
        }
        let port = (peer.port() != gtp::GTP_U_PORT).then_some(peer.port());
        let m = Message::error_indication(teid, gateway.ip(), port);
        let to = SocketAddr::new(peer.ip(), gtp::GTP_U_PORT);
        if self.reply(line, gateway, to, &m) {
            self.stats.error_indications += 1;
        }
    }

    /// A peer's Error Indication: deletes every session whose peer user-plane endpoint it names.
    fn handle_error_indication(&mut self, now: Instant, m: &Message<'_>) -> Result<(), InputError> {
        let (Some(teid), Some(addr)) = (m.teid_data_i(), m.gtp_u_peer_address()) else {
            return Err(InputError::Unsupported(
                "Error Indication without TEID Data I or GTP-U Peer Address",
            ));
        };
        self.stats.error_indications_received += 1;
        let named = |s: &Session| s.record.peer_teid_u == teid && s.record.peer_u == addr;
        let mut hit: Vec<(SessionRecord, bool)> = self
            .sessions
            .values()
            .filter(|s| named(s))
            .map(|s| (s.record, false))
            .chain(
                self.shadow
                    .values()
                    .filter(|s| named(s))
                    .map(|s| (s.record, true)),
            )
            .collect();
        // Same order in every run (the maps' order is not).
        hit.sort_by_key(|(r, b)| (r.teid, *b));
        for (record, as_backup) in hit {
            self.stats.sessions_torn_down += 1;
            self.event(ProcessorEvent::SessionErrorIndication {
                teid: record.teid,
                as_backup,
            });
            self.remove_session(now, record, as_backup, None);
        }
        Ok(())
    }

    fn remember(&mut self, peer: SocketAddr, seq: u16, line: SocketAddr, bytes: Option<Vec<u8>>) {
        let Some(bytes) = bytes else {
            return;
        };
        if self.answered_order.len() >= self.config.queue_limit {
            if let Some(old) = self.answered_order.pop_front() {
                self.answered.remove(&old);
            }
        }
        if self.answered.insert((peer, seq), (line, bytes)).is_none() {
            self.answered_order.push_back((peer, seq));
        }
    }

    fn handle_l2tp(&mut self, data: &[u8]) -> Result<(), InputError> {
        let b0 = data.first().copied().unwrap_or(0);
        let at = if b0 & 0x40 != 0 { 4 } else { 2 };
        let (Some(&[t0, t1]), Some(&[s0, s1])) = (data.get(at..at + 2), data.get(at + 2..at + 4))
        else {
            return Err(InputError::Unsupported("short L2TP header"));
        };
        self.stats.l2tp_packets += 1;
        self.event(ProcessorEvent::L2tpPacket {
            tunnel: u16::from_be_bytes([t0, t1]),
            session: u16::from_be_bytes([s0, s1]),
        });
        Ok(())
    }

    /// Retransmits VID requests and syncs that are due, and runs the heartbeats.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.monitor.handle_timeout(now);
        self.drain_monitor(now);
        while let Some((timer, _)) = self.timers.pop_expired(now) {
            match timer {
                Timer::VidRequest => {
                    if self.vid.is_none() || self.rejoining {
                        self.send_vid_request(now);
                    }
                }
                Timer::Sync(teid) => {
                    let Some(p) = self.pending.get_mut(&teid) else {
                        continue;
                    };
                    if p.tries >= self.config.max_retries {
                        self.stats.unprotected += 1;
                        self.event(ProcessorEvent::SyncGaveUp { teid });
                        self.release(teid);
                        continue;
                    }
                    p.tries += 1;
                    let msg = FabricMessage::Sync {
                        delete: p.delete,
                        record: p.record,
                    };
                    self.send_switch(&msg);
                    self.timers
                        .insert(Timer::Sync(teid), now + self.config.retransmit);
                }
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
    pub fn poll_event(&mut self) -> Option<ProcessorEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline (retransmissions, heartbeats).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timers.next_deadline(), self.monitor.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
