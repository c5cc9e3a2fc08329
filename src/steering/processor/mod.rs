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
//! * A directed Create PDP Context Request (GTPv1): the session's TEID (control and user plane, also the
//!   charging id) is [`VidLayout::compose`](crate::steering::VidLayout::compose)`(own VID, backup VID, local index)`; the End User
//!   Address is `ue_pool` + (VID << local bits | local index). The session state goes to the
//!   switch processor (a `Sync`), which relays it to the backup; the Create PDP Context Response
//!   leaves (through the line interface) only once the replication is acknowledged, so a session
//!   whose response was seen survives the primary's failure. After `max_retries` unacknowledged
//!   syncs the response leaves anyway and [`ProcessorEvent::SyncGaveUp`] reports it.
//!   A repeated request (same IMSI and NSAPI, same SGSN address and sequence number) is
//!   answered again from the session's state; a new one for that IMSI and NSAPI (another
//!   sequence number or SGSN) is a new session (TS 29.060 section 7.3.1): the old context is
//!   torn down locally (deleted, its TEID and address freed, the deletion replicated so the
//!   backup and the switch processor forget it, [`ProcessorEvent::SessionDeleted`]) and a new
//!   one created for the new request's SGSN tunnel. The switch processor directs such a
//!   request to the processor holding the context (see [`crate::steering::switch`]); a
//!   backup directed it because the primary is down supersedes its copy (Bounds, below).
//!   The request must carry what TS 29.060 section 7.3.1 makes mandatory: TEID Data I, NSAPI,
//!   the SGSN Addresses for signalling and for user traffic (two GSN Address IEs, in that
//!   order) and the QoS Profile, else it is refused with Mandatory IE missing (202); a QoS
//!   Profile shorter than 4 octets (the allocation/retention priority and the three value
//!   octets of TS 24.008's QoS IE, section 7.7.34) gets Mandatory IE incorrect (201). TEID
//!   Control Plane is needed too (the response's header TEID). With a list of APNs served
//!   ([`ProcessorConfig::apns`]), a request for another APN, or without one, is refused with
//!   Missing or unknown APN (219, section 7.3.2); a GTPv2-C Create Session Request for another
//!   APN with Missing or unknown APN (78, TS 29.274 section 7.2.2).
//! * The PDP type (TS 29.060 sections 7.3.2 and 7.7.27, TS 23.060 section 9.2.1): IPv4 (or no
//!   End User Address) gets the IPv4 address; with `ue_pool_v6`, IPv6 gets a /64 of it
//!   (interface identifier 1) and IPv4v6 both, when the SGSN set the Dual Address Bearer Flag
//!   (Common Flags), else IPv4 with cause New PDP type due to single address bearer only (130);
//!   without `ue_pool_v6`, IPv4v6 gets IPv4 with cause New PDP type due to network preference
//!   (129) and IPv6 is refused with Unknown PDP address or PDP type (220), as is any other type.
//! * GTPv2-C (TS 29.274): a directed Create Session Request gets one
//!   TEID `compose(own VID, backup VID, local index)` for the S11/S4 control plane and the S1-U
//!   user plane and an IPv4 PDN address from the same slice of `ue_pool`; it is refused with
//!   Mandatory IE missing (70, the Cause naming the IE) without Sender F-TEID for Control Plane,
//!   RAT Type, APN or a Bearer Context with its EBI, with No resources available (73) when
//!   full. Modify Bearer and Delete Session Requests are served like Update and Delete PDP
//!   Context (replicated, by the backup after a failure), Context Not Found (64, header TEID 0)
//!   for a TEID held nowhere here. A retransmitted set-up (same IMSI and EPS Bearer ID, same
//!   MME address and sequence number) is answered again; a new one for that IMSI and EPS
//!   Bearer ID replaces the old PDN connection as a new Create PDP Context Request replaces a
//!   context (TS 29.274 section 7.2.1: the request, with TEID 0 in its header, is a request
//!   for a new session, the colliding context deleted locally first).
//! * PFCP (TS 29.244): a directed Session Establishment Request gets the TEID above as the
//!   F-TEID of every PDR asking CHOOSE (Created PDR) and the SEID
//!   [`seid_layout`](crate::steering::VidLayout::seid_layout)`.compose64(own VID, backup VID,
//!   local index)` as the UP F-SEID; Mandatory IE missing (66, with the Offending IE) without Node
//!   ID, CP F-SEID, Create PDR or Create FAR; No resources available (75) when full. Session
//!   Modification and Deletion Requests (steered by that SEID) are served like Update and Delete,
//!   Session context not found (65, header SEID 0) otherwise. Repeats of a set-up are recognised
//!   by the CP F-SEID. Every CHOOSE of a session gets the same F-TEID (CHOOSE ID is not told
//!   apart); the UE address is the CP function's (UE IP Address) or from the VID's slice.
//! * A steered message (G-PDU, Update, Delete) whose extension header chain holds a type the
//!   endpoint must comprehend (two high bits `1x`) and does not support
//!   ([`gtp::supported_extension_headers`](crate::steering::gtp::supported_extension_headers)) is not delivered nor served: it is answered with a
//!   Supported Extension Headers Notification (TS 29.281 section 5.2.1, TS 29.060 sections 6.1
//!   and 7.2.4) to its source address and port, at most `extension_headers` (a token bucket;
//!   beyond, counted in [`ProcessorStats::extension_headers_suppressed`]).
//! * Update / Delete PDP Context Requests and G-PDUs with one of its TEIDs: served from its own
//!   sessions (changes replicated the same way before answering), or, when the line interface
//!   steered them here because the primary is down, from the replicated copies (a Delete is then
//!   reported to the switch processor so it can free the VIDs). A G-PDU is checked against the
//!   sessions and counted ([`ProcessorStats::user_packets`], and `user_packets_backup` for a
//!   replicated copy), nothing more: the processor is its sessions' control plane and hands
//!   out no user payload (no event, no queue). Forwarding the T-PDU (decapsulated towards the
//!   SGi / N6 side) is the caller's data plane, which holds the datagram it passed in:
//!   [`Processor::handle_datagram`] returns `Ok` for a G-PDU of a session held here and
//!   [`InputError::UnknownTeid`] otherwise.
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
//! * A `Purge` from the switch processor (the sessions of a peer that restarted, TS 23.007
//!   sections 18 and 19A, or whose path failed, see [`crate::steering::path`]): every session
//!   it names that is held here, own or replicated, is deleted without replicating the deletion
//!   (every processor gets the same `Purge`), any sync of it still pending is dropped with the
//!   response it held, and the batch is acknowledged (`PurgeAck`), also when it named nothing
//!   held here (a repeat). Its TEIDs are remembered for `retransmit` x `max_retries` (at most
//!   `max_shadow` of them): a replication of one of them still in flight is acknowledged but
//!   not stored, so a purged session does not come back. Reported with [`ProcessorEvent::SessionsPurged`] and counted in
//!   [`ProcessorStats::sessions_purged`]. The work is bounded by the batch (the switch
//!   processor's `purge_batch`).
//!
//! * A Recovery in a steered Modify Bearer Request or Update PDP Context Request (the peer
//!   contacts the gateway for the first time, after a restart say: TS 29.274 section 7.2.7, TS
//!   29.060 section 7.3.3) is forwarded to the switch processor (`PeerRecovery`, under the
//!   session's control-plane peer address), which keeps the peers' restart values and purges a
//!   restarted peer's sessions (TS 23.007 section 18, [`crate::steering::path`]); repeated every
//!   `retransmit` until acknowledged, at most `max_retries` times.
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
//! * Restart values awaiting the switch processor's acknowledgement: `queue_limit` peers;
//!   beyond, not forwarded and counted in [`ProcessorStats::recoveries_full`].
//! * Events: at most `queue_limit` queued; beyond, the oldest is dropped.
//! * Responses remembered for repeated Update/Delete requests: `queue_limit`, oldest forgotten.
//! * Error Indications sent: `error_indications` (a token bucket: `burst` at once, `per_second`
//!   after); beyond, suppressed and counted in [`ProcessorStats::error_indications_suppressed`].
//! * Non-existent answers to Update/Delete requests for TEIDs it does not hold: `non_existent`
//!   (the same); beyond, suppressed and counted in [`ProcessorStats::non_existent_suppressed`].
//! * Invalid message format answers to Update/Delete requests whose Length disagrees with the
//!   datagram: `length_errors` (the same); beyond, unanswered and counted in
//!   [`ProcessorStats::length_errors_suppressed`].
//!
//! # Trust
//!
//! VID assignments, directed set-ups, syncs, purges and their acknowledgements are taken only
//! from the switch processor's address (checked first: a sealed message from another address
//! is refused as [`InputError::Untrusted`] and its packet number is not consumed) and sealed by
//! it (its `switch_node`, fabric version 5: the fabric's AES-128-CMAC, this processor and its
//! incarnation as the receiver, so nothing sealed for it before a restart is taken after, a
//! fresh packet number in the switch processor's replay window; see
//! [`crate::steering::fabric`]); anything else is refused ([`InputError::NotAuthorized`],
//! [`InputError::Untrusted`]), counted in [`ProcessorStats::fabric_refused`] when sealed or not
//! authorized, and changes nothing. What it seals for the switch processor names the switch
//! processor's incarnation it last heard of (its sealed messages, its heartbeats). Steered packets
//! (`Packet`, unsealed) are taken from any fabric sender, except peers' Error Indications, taken
//! only as the switch processor relays them.
//!
//! # Limits
//!
//! * A primary cut off by a partition (not crashed) is declared down and its backup serves its
//!   sessions; when the partition heals the primary serves them again with the state it had: the
//!   backup's changes meanwhile are not merged back.
//! * A new Create PDP Context Request for an IMSI and NSAPI whose context is held replaces it
//!   only on the processor the switch processor directs it to: the one holding the context
//!   (its index of subscribers, learnt from the syncs) while its primary or backup VID is up.
//!   A set-up without an IMSI is always answered from the context held for its NSAPI.
//! * A copy orphaned by a failed primary is superseded only on the processors the newer set-up
//!   involves: when its primary and backup are both other processors, the old copy stays until
//!   a later set-up of that subscriber involves its holder, counted against `max_shadow`.
//!   A late retransmission of the superseded set-up's replication supersedes the newer copy in
//!   turn (the newer session keeps its primary, and is replicated again at its next change).

mod config;
mod downlink;
mod n4;
mod packet;
mod recovery;
mod setup;
mod sync;
mod v2;

pub use config::{ProcessorConfig, ProcessorEvent, ProcessorStats};
pub(crate) use n4::cp_fteid;
use setup::Grant;
pub(crate) use sync::record_imsi;

use super::common::{self, Outbox, Route};
use super::error::{ConfigError, ConfigField, FabricKind, InputError};
use super::fabric::{FabricMessage, FabricSealer, SessionProtocol, SessionRecord};
use super::gtp::{Cause, Ie, Imsi, Message, MessageType};
use super::ue_pool::{Slices, UePool};
use super::vid::VirtualId;
use crate::health::{Embedded, HealthEvent, Load, MonitorConfig, Role};
use crate::io::TokenBucket;
use crate::io::{TimerQueue, Transmit};
use crate::replica::ReplayWindow;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Where the processor stands with the switch processor about its VID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Membership {
    /// No VID yet: asking (a `VidRequest` every `retransmit`).
    Asking,
    /// The VID the switch processor assigned.
    Assigned(VirtualId),
    /// The switch processor restarted: asking it to keep this VID, held meanwhile; every
    /// session is announced again once it answers.
    Rejoining(VirtualId),
}

impl Membership {
    fn vid(self) -> Option<VirtualId> {
        match self {
            Membership::Asking => None,
            Membership::Assigned(v) | Membership::Rejoining(v) => Some(v),
        }
    }

    /// Whether a `VidAssign` is awaited.
    fn asking(self) -> bool {
        !matches!(self, Membership::Assigned(_))
    }
}

/// Who a set-up is for, so a repeated set-up finds the session it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Subscriber {
    /// GTPv1 and GTPv2-C: the IMSI (absent for a set-up without one) and the NSAPI / EPS Bearer
    /// ID.
    Bearer(Option<Imsi>, u8),
    /// PFCP: the CP function's address and its F-SEID (TS 29.244 section 8.2.37).
    CpSession(IpAddr, u64),
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
    /// PFCP: the PDR IDs whose F-TEID this processor chose (CHOOSE), for the Created PDR IEs
    /// of the Session Establishment Response.
    chosen: Vec<u16>,
    /// GTPv1 and GTPv2-C: where its Create PDP Context Request or Create Session Request came
    /// from and its sequence number, to tell a retransmission of it from a new set-up of the
    /// subscriber (TS 29.060 section 7.3.1, TS 29.274 section 7.2.1); `None` for PFCP
    /// sessions and replicated copies.
    setup: Option<(SocketAddr, u32)>,
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
    /// A `PeerRecovery`'s repeat.
    Recovery(SessionProtocol, IpAddr),
}

/// A processor endpoint (see the [module documentation](self)).
#[derive(Debug)]
pub struct Processor {
    config: ProcessorConfig,
    membership: Membership,
    sessions: HashMap<u32, Session>,
    by_subscriber: HashMap<Subscriber, u32>,
    shadow: HashMap<u32, Session>,
    /// The replicated copy held for each subscriber (IMSI, NSAPI), sessions set up with an IMSI
    /// only: a newer set-up of the same subscriber supersedes the copy.
    shadow_by_subscriber: HashMap<Subscriber, u32>,
    /// The UE pool sliced by (VID, backup VID), and this processor's allocation of local
    /// indexes (TEID, SEID and UE address share them) in its slices.
    pool: UePool,
    slices: Slices,
    next_l2tp_local: u32,
    pending: HashMap<u32, Pending>,
    /// Restart values forwarded to the switch processor, awaiting its acknowledgement, by
    /// (protocol, peer), at most `queue_limit`.
    recoveries: HashMap<(SessionProtocol, IpAddr), recovery::Forward>,
    /// TEIDs purged lately: a replication of one still in flight is not stored.
    purged: common::Tombstones,
    timers: TimerQueue<Timer>,
    monitor: Embedded,
    out: Outbox<ProcessorEvent>,
    stats: ProcessorStats,
    /// Responses to recent Update/Delete requests, by (peer, sequence number), so a repeated
    /// request gets the same response (TS 29.060 section 7.6).
    answered: HashMap<(SocketAddr, u32), (SocketAddr, Vec<u8>)>,
    answered_order: VecDeque<(SocketAddr, u32)>,
    error_indications: TokenBucket,
    non_existent: TokenBucket,
    extension_headers: TokenBucket,
    length_errors: TokenBucket,
    /// Seals its messages to the switch processor and opens the switch processor's.
    sealer: FabricSealer,
    /// The replay window of the switch processor's sealed messages.
    switch_window: ReplayWindow,
}

impl Processor {
    /// Checks the configuration and queues the first VID request.
    pub fn new(config: ProcessorConfig, now: Instant) -> Result<Processor, ConfigError> {
        check_config(&config)?;
        let pool = UePool::new(&config.layout, config.ue_pool, config.ue_pool_v6)?;
        let monitor = Embedded::new(monitor_config(&config), Some(config.fabric_addr), now)?;
        let mut p = Processor {
            sealer: FabricSealer::new(&config.key, config.id, config.incarnation),
            switch_window: ReplayWindow::default(),
            error_indications: TokenBucket::new(config.error_indications, now),
            non_existent: TokenBucket::new(config.non_existent, now),
            extension_headers: TokenBucket::new(config.extension_headers, now),
            length_errors: TokenBucket::new(config.length_errors, now),
            out: Outbox::new(config.queue_limit, config.queue_limit),
            config,
            membership: Membership::Asking,
            sessions: HashMap::new(),
            by_subscriber: HashMap::new(),
            shadow: HashMap::new(),
            shadow_by_subscriber: HashMap::new(),
            pool,
            slices: Slices::default(),
            next_l2tp_local: 1,
            pending: HashMap::new(),
            recoveries: HashMap::new(),
            purged: common::Tombstones::default(),
            timers: TimerQueue::new(),
            monitor,
            stats: ProcessorStats::default(),
            answered: HashMap::new(),
            answered_order: VecDeque::new(),
        };
        p.send_vid_request(now);
        Ok(p)
    }

    /// The VID assigned, once the switch processor answered.
    pub fn vid(&self) -> Option<VirtualId> {
        self.membership.vid()
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
    pub fn stats(&self) -> ProcessorStats {
        ProcessorStats {
            queue_full: self.out.queue_full(),
            events_dropped: self.out.events_dropped(),
            ..self.stats
        }
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
        let vid = self.vid()?;
        let backup = backup.filter(|_| layout.backup_field().is_some());
        let t = self.next_l2tp_local;
        let s = t.checked_add(1)?;
        let tunnel = layout.compose(vid, backup, t).ok()?;
        let session = layout.compose(vid, backup, s).ok()?;
        self.next_l2tp_local = s.checked_add(1)?;
        Some((u16::try_from(tunnel).ok()?, u16::try_from(session).ok()?))
    }

    fn push(&mut self, t: Transmit) {
        self.out.push(t);
    }

    /// Queues the fabric datagram of `bytes` to `line`.
    fn push_to(&mut self, line: SocketAddr, bytes: Vec<u8>) {
        self.push(common::transmit(self.config.fabric_addr, line, bytes));
    }

    fn event(&mut self, e: ProcessorEvent) {
        self.out.event(e);
    }

    /// The switch processor's incarnation as far as this processor knows: the highest of its
    /// admitted sealed messages and of its heartbeats (0 before either).
    fn switch_incarnation(&self) -> u32 {
        let heard = self
            .monitor
            .monitor()
            .incarnation_of(self.config.switch_node);
        self.switch_window.incarnation().max(heard.unwrap_or(0))
    }

    /// Queues `msg` to the switch processor, sealed for its incarnation (fabric version 5).
    fn send_switch(&mut self, msg: &FabricMessage<'_>) {
        let incarnation = self.switch_incarnation();
        let sealed = self.sealer.seal(self.config.switch_node, incarnation, msg);
        let t = common::transmit(self.config.fabric_addr, self.config.switch_addr, sealed);
        self.push(t);
    }

    fn send_vid_request(&mut self, now: Instant) {
        let msg = FabricMessage::VidRequest {
            processor: self.config.id,
            incarnation: self.config.incarnation,
            current: match self.membership {
                Membership::Rejoining(v) => Some(v),
                _ => None,
            },
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
        while let Some(t) = self.monitor.poll_transmit() {
            self.push(t);
        }
        while let Some(e) = self.monitor.poll_event() {
            if let HealthEvent::Restarted { node, .. } = e {
                if let (true, Some(vid)) = (node == self.config.switch_node, self.vid()) {
                    // The switch processor lost what it knew: ask to keep the VID, then tell it
                    // about every session again.
                    self.membership = Membership::Rejoining(vid);
                    self.send_vid_request(now);
                }
            }
        }
    }

    /// Feeds one datagram received on the fabric address: a heartbeat or a fabric message.
    /// `to` (the local address it arrived at) is unused: a processor has one fabric address.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let _ = to;
        if let Some(r) = self.monitor.handle_datagram(now, from, data) {
            self.drain_monitor(now);
            return Ok(r?);
        }
        let from_switch = from == self.config.switch_addr;
        let msg = common::from_switch(
            &mut self.sealer,
            (
                self.config.id,
                self.config.incarnation,
                self.config.switch_node,
            ),
            &mut self.switch_window,
            &mut self.stats.fabric_refused,
            from_switch,
            data,
        )?;
        match msg {
            FabricMessage::Packet {
                from: peer,
                to: gateway,
                data,
            } => self.handle_packet(now, from, peer, gateway, &data),
            m if !from_switch => Err(InputError::Untrusted(FabricKind::of(&m))),
            FabricMessage::VidAssign {
                processor,
                incarnation,
                vid,
            } if processor == self.config.id && incarnation == self.config.incarnation => {
                self.handle_vid_assign(now, vid);
                Ok(())
            }
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
            FabricMessage::Purge { id, teids } => {
                self.purge(now, &teids);
                self.send_switch(&FabricMessage::PurgeAck { id });
                Ok(())
            }
            FabricMessage::PeerRecoveryAck {
                protocol,
                peer,
                recovery,
            } => {
                self.handle_recovery_ack(protocol, peer, recovery);
                Ok(())
            }
            m => Err(InputError::Unexpected(FabricKind::of(&m))),
        }
    }

    /// The switch processor's answer to a VID request of this incarnation.
    fn handle_vid_assign(&mut self, now: Instant, vid: VirtualId) {
        if !self.membership.asking() {
            return;
        }
        let again = matches!(self.membership, Membership::Rejoining(_));
        if self.vid() != Some(vid) {
            self.event(ProcessorEvent::VidAssigned { vid });
        }
        self.membership = Membership::Assigned(vid);
        self.timers.disarm(&Timer::VidRequest);
        if again {
            self.reannounce(now);
        }
    }

    /// Sends `msg` along `route`; whether it could be encoded and queued.
    fn reply(&mut self, route: Route, msg: &Message<'_>) -> bool {
        let Some(bytes) = self.reply_bytes(route.gateway, route.peer, msg) else {
            return false;
        };
        self.push_to(route.line, bytes);
        true
    }

    /// The fabric `Transmit` of `msg` from `gateway` to `peer`.
    fn reply_bytes(
        &self,
        gateway: SocketAddr,
        peer: SocketAddr,
        msg: &Message<'_>,
    ) -> Option<Vec<u8>> {
        Some(transmit_bytes(gateway, peer, msg.to_vec().ok()?))
    }

    /// The session `teid` names, served here or held as a backup (`true`), if it is a
    /// `protocol` session; replies to it then go back the way `route` came. `None`: no such
    /// session, counted in `unknown_teid`.
    fn session_routed(
        &mut self,
        teid: u32,
        protocol: SessionProtocol,
        route: Route,
    ) -> Option<(&mut Session, bool)> {
        let as_backup = !self.sessions.contains_key(&teid);
        let found = self
            .sessions
            .get_mut(&teid)
            .or_else(|| self.shadow.get_mut(&teid))
            .filter(|s| s.record.protocol == protocol);
        let Some(session) = found else {
            self.stats.unknown_teid += 1;
            return None;
        };
        session.peer = route.peer;
        session.gateway = route.gateway;
        session.line = route.line;
        Some((session, as_backup))
    }

    /// Whether an answer to a request naming no session may leave now (the rate limit of such
    /// answers); a suppressed one is counted.
    fn may_answer_unknown(&mut self, now: Instant) -> bool {
        let ok = self.non_existent.take(now);
        if !ok {
            self.stats.non_existent_suppressed += 1;
        }
        ok
    }

    /// Answers `req` with its response type (the request's + 1) carrying only `cause`, header
    /// TEID `teid` (TS 29.060 section 7.3).
    fn refuse(&mut self, route: Route, req: &Message<'_>, teid: u32, cause: Cause) {
        let t = MessageType(req.message_type().0.wrapping_add(1));
        let m = Message::new(
            t,
            teid,
            req.header.sequence.unwrap_or(0),
            vec![Ie::Cause(cause)],
        );
        self.reply(route, &m);
    }

    /// Refuses a set-up request with `cause`, counted in [`ProcessorStats::refused`].
    fn refuse_setup(&mut self, route: Route, req: &Message<'_>, teid: u32, cause: Cause) {
        self.stats.refused += 1;
        self.refuse(route, req, teid, cause);
    }

    /// Retransmits VID requests and syncs that are due, and runs the heartbeats.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.monitor.handle_timeout(now);
        self.drain_monitor(now);
        while let Some((timer, _)) = self.timers.pop_expired(now) {
            match timer {
                Timer::VidRequest => {
                    if self.membership.asking() {
                        self.send_vid_request(now);
                    }
                }
                Timer::Sync(teid) => self.retry_sync(now, teid),
                Timer::Recovery(protocol, peer) => self.retry_recovery(now, protocol, peer),
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
    pub fn poll_event(&mut self) -> Option<ProcessorEvent> {
        self.out.poll_event()
    }

    /// The earliest deadline (retransmissions, heartbeats).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.monitor.earliest(self.timers.next_deadline())
    }
}

/// The fabric `Transmit` of the datagram `data` from `gateway` to `peer`.
fn transmit_bytes(gateway: SocketAddr, peer: SocketAddr, data: Vec<u8>) -> Vec<u8> {
    FabricMessage::Transmit {
        from: gateway,
        to: peer,
        data: Cow::Owned(data),
    }
    .to_vec()
}

/// The layouts and the bounds (the address pools are checked by [`UePool::new`]: TS 29.060
/// section 7.7.27, one End User Address, or one /64, per session).
fn check_config(config: &ProcessorConfig) -> Result<(), ConfigError> {
    common::check_layouts(&config.layout, config.l2tp_layout.as_ref())?;
    common::non_zero(ConfigField::MaxSessions, config.max_sessions == 0)?;
    if config.max_sessions as u64 > u64::from(config.layout.max_local()) {
        return Err(ConfigError::ExceedsLayout(ConfigField::MaxSessions));
    }
    common::non_zero(ConfigField::QueueLimit, config.queue_limit == 0)?;
    common::non_zero(ConfigField::Retransmit, config.retransmit.is_zero())?;
    common::usable(ConfigField::LineAddr, config.line_addr)?;
    // The pools must hold the VID fields and a local part (UePool::new, called next).
    Ok(())
}

/// The health monitor's configuration: the switch processor is its one peer; the load is the
/// sessions held against `max_sessions`.
fn monitor_config(config: &ProcessorConfig) -> MonitorConfig {
    let mut hc = MonitorConfig::new(
        config.id,
        Role::PROCESSOR,
        config.key.clone(),
        vec![(config.switch_node, config.switch_addr)],
    );
    hc.incarnation = config.incarnation;
    hc.health = config.health;
    hc.load = Load::new(0, u32::try_from(config.max_sessions).unwrap_or(u32::MAX));
    hc
}
