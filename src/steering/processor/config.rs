//! The processor's configuration, events and counters.

use crate::health::{ClusterKey, HealthConfig, NodeId};
use crate::io::RateLimit;
use crate::steering::gtp::Imsi;
use crate::steering::vid::{VidLayout, VirtualId};
use ipnetwork::{Ipv4Network, Ipv6Network};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Configuration of a [`Processor`](super::Processor).
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// The processor's slot identity (also its health node id).
    pub id: NodeId,
    /// Incarnation: must grow at every restart (fabric version 5: what the switch processor
    /// sealed for an earlier incarnation is refused, [`crate::steering::fabric`]).
    pub incarnation: u32,
    /// The processor's fabric address.
    pub fabric_addr: SocketAddr,
    /// The switch processor's fabric address.
    pub switch_addr: SocketAddr,
    /// The switch processor's health node id: the `node` given to
    /// [`SwitchConfig::new`](crate::steering::SwitchConfig::new). Default 1 ([`Self::new`]);
    /// with another id than the switch processor's, the processor refuses each of its
    /// heartbeats ([`InputError::Health`](crate::steering::InputError::Health) with
    /// [`UnknownNode`](crate::health::HealthError::UnknownNode)).
    pub switch_node: NodeId,
    /// The fabric address of the line interface that replies to directed set-ups leave through
    /// (replies to steered packets leave through the line interface that passed them on). A
    /// usable destination ([`ConfigError::UnusableAddress`](crate::steering::ConfigError::UnusableAddress)
    /// naming [`ConfigField::LineAddr`](crate::steering::ConfigField::LineAddr) otherwise).
    pub line_addr: SocketAddr,
    /// The 32-bit TEID layout (the same in the whole gateway).
    pub layout: VidLayout,
    /// The 16-bit layout of L2TP ids, if L2TP ids are allocated.
    pub l2tp_layout: Option<VidLayout>,
    /// Most sessions of its own.
    pub max_sessions: usize,
    /// Most replicated sessions of other processors.
    pub max_shadow: usize,
    /// The End User Address pool; its host part must hold the VID fields and a local part of
    /// [`UePool::min_local_bits`](crate::steering::ue_pool::UePool::min_local_bits) (4 bits,
    /// unless the layout's is narrower): 32 - prefix >= the layout's primary VID bits + backup
    /// VID bits + 4 (the default [`VidLayout`](crate::steering::VidLayout), 8 + 8: a /12 or
    /// shorter), else [`ConfigError::PoolTooSmall`](crate::steering::ConfigError::PoolTooSmall)
    /// naming the longest prefix that fits. The host bits left after the VID fields (at most
    /// the layout's local bits) number the addresses of each (VID, backup VID) slice: a /8
    /// leaves 8 of them, 255 sessions per slice with the default layout (index 0 unused; see
    /// [`UePool::MIN_LOCAL_BITS`](crate::steering::ue_pool::UePool::MIN_LOCAL_BITS) for sizing).
    ///
    /// ```
    /// use std::time::Instant;
    /// use telcp::health::{ClusterKey, NodeId};
    /// use telcp::steering::processor::ProcessorConfig;
    /// use telcp::steering::{ConfigError, ConfigField, Processor, VidLayout};
    /// let config = |pool: &str| {
    ///     let a = "127.0.0.1:5000".parse().unwrap();
    ///     let key = ClusterKey::new(b"fabric cluster key");
    ///     ProcessorConfig::new(NodeId(11), a, a, a, VidLayout::default(), pool.parse().unwrap(), key)
    /// };
    /// assert!(Processor::new(config("10.0.0.0/8"), Instant::now()).is_ok());
    /// assert_eq!(
    ///     Processor::new(config("10.0.0.0/15"), Instant::now()).err(),
    ///     Some(ConfigError::PoolTooSmall { field: ConfigField::UePool, prefix: 15, longest: 12 })
    /// );
    /// ```
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
    /// The Access Point Names the gateway serves, every one from `ue_pool` (and `ue_pool_v6`),
    /// the one pool of the gateway: dotted APN Network Identifiers (TS 23.003 section 9.1.1,
    /// `"internet"`), or whole APNs with their Operator Identifier. A request's APN (TS 29.060
    /// section 7.7.30) is served when, case aside (TS 23.003 section 9.1), it is one of them or
    /// its Network Identifier (the APN without a trailing Operator Identifier
    /// `mnc<MNC>.mcc<MCC>.gprs`, section 9.1.2) is. A Create PDP Context Request for an APN
    /// not served, or without an APN, is refused with Missing or unknown APN (219, TS 29.060
    /// section 7.3.2); a GTPv2-C Create Session Request for an APN not served, with Missing or
    /// unknown APN (78, TS 29.274 section 7.2.2 and table 8.4-1; the APN is mandatory there,
    /// its absence is Mandatory IE missing). Empty (the default): every APN is served, and a
    /// GTPv1 request without one.
    pub apns: Vec<String>,
    /// The restart counter sent in Recovery IEs.
    pub recovery: u8,
    /// Retransmission interval of VID requests and syncs.
    pub retransmit: Duration,
    /// Syncs sent before giving up on one.
    pub max_retries: u32,
    /// Cluster key of the heartbeats: at least 16 octets (RFC 2104 section
    /// 3; [`ConfigError::Health`](crate::steering::ConfigError::Health) with
    /// [`KeyTooShort`](crate::health::ConfigError::KeyTooShort) otherwise).
    pub key: ClusterKey,
    /// Heartbeats with the switch processor (its interval; the switch processor judges this
    /// processor's liveness and load with its own tuning).
    pub health: HealthConfig,
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
    /// Bound of the Invalid message format answers (TS 29.060 section 11.1.2) to Update /
    /// Delete PDP Context Requests whose Length disagrees with the datagram: such requests are
    /// not authenticated, so a flood of them is answered at most this often; beyond, unanswered
    /// and counted ([`ProcessorStats::length_errors_suppressed`]).
    pub length_errors: RateLimit,
}

impl ProcessorConfig {
    /// A configuration with defaults for everything but the topology and the address pool:
    /// this processor's health node `id` and `fabric_addr`, the switch processor's fabric
    /// address `switch_addr` and the line interface's `line_addr` (a swap of the two is found
    /// at run time only: the line interface refuses the processor's VID request,
    /// [`InputError::Unexpected`](crate::steering::InputError::Unexpected)). Incarnation 1,
    /// switch processor's node id 1 ([`Self::switch_node`]: set it to another switch id), no
    /// L2TP layout, 10 000 sessions and 40 000
    /// replicated ones, no IPv6 pool, every APN served, recovery 0, 200 ms fabric retransmission up to 10 times,
    /// 1 s heartbeats, queues of 4096, at most 100 Error Indications, 100 Non-existent answers,
    /// 100 Supported Extension Headers Notifications and 100 Invalid message format answers per
    /// second (bursts of 20 each).
    pub fn new(
        id: NodeId,
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
            switch_node: NodeId(1),
            line_addr,
            layout,
            l2tp_layout: None,
            max_sessions: 10_000,
            max_shadow: 40_000,
            ue_pool,
            ue_pool_v6: None,
            apns: Vec::new(),
            recovery: 0,
            retransmit: Duration::from_millis(200),
            max_retries: 10,
            key,
            health: HealthConfig::default(),
            queue_limit: 4096,
            error_indications: RateLimit::default(),
            non_existent: RateLimit::default(),
            extension_headers: RateLimit::default(),
            length_errors: RateLimit::default(),
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
        /// The subscriber's IMSI, `None` for a set-up without one (TS 29.060 section 7.3.1: the
        /// IMSI is conditional, left out for an emergency attach without an authenticated IMSI).
        imsi: Option<Imsi>,
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
    /// The switch processor asked for the sessions of a restarted (or, per its configuration,
    /// unreachable) peer to be deleted (TS 23.007 sections 18 and 19A): `count` sessions held
    /// here, own or replicated, were deleted, without replication (every processor gets the
    /// same request).
    SessionsPurged {
        /// How many were held here and deleted.
        count: usize,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Events dropped (the oldest) because the event queue (`queue_limit`) was full.
    pub events_dropped: u64,
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
    /// Sessions (own or replicated) deleted at the switch processor's request because their
    /// peer restarted or its path failed (`Purge`).
    pub sessions_purged: u64,
    /// Set-ups refused because the UE address slice of (own VID, backup VID) was full (GTPv1
    /// cause 211, GTPv2-C 84, PFCP 79 or 75; also counted in `refused`).
    pub addresses_exhausted: u64,
    /// Downlink IP packets encapsulated for its own sessions.
    pub downlink_packets: u64,
    /// Downlink IP packets encapsulated for replicated sessions (as the backup).
    pub downlink_packets_backup: u64,
    /// Downlink IP packets to no session held here (or one whose peer TEID is not yet known),
    /// dropped.
    pub downlink_unknown: u64,
    /// Supported Extension Headers Notifications sent.
    pub extension_headers_notifications: u64,
    /// Messages with an unsupported comprehension-required extension header discarded without a
    /// notification because `extension_headers` was exhausted.
    pub extension_headers_suppressed: u64,
    /// Restart values (Recovery) of steered messages forwarded to the switch processor
    /// (`PeerRecovery`, TS 23.007 section 18).
    pub recoveries_forwarded: u64,
    /// Restart values not forwarded because `queue_limit` peers awaited an acknowledgement.
    pub recoveries_full: u64,
    /// Forwarded restart values never acknowledged after `max_retries`.
    pub recoveries_unacked: u64,
    /// Replications of a session purged here lately, acknowledged but not stored.
    pub syncs_purged: u64,
    /// Update and Delete PDP Context Requests whose Length disagreed with the datagram,
    /// answered with Invalid message format (TS 29.060 section 11.1.2).
    pub length_errors: u64,
    /// Such requests left unanswered because `length_errors` was exhausted.
    pub length_errors_suppressed: u64,
    /// Contexts torn down because a new Create PDP Context Request or Create Session Request
    /// (not a retransmission) of their subscriber (IMSI and NSAPI / EPS Bearer ID) replaced
    /// them (TS 29.060 section 7.3.1, TS 29.274 section 7.2.1).
    pub contexts_replaced: u64,
    /// Fabric datagrams refused before their kind was acted on: unparsable, sealed but not from
    /// the switch processor's address
    /// ([`InputError::Untrusted`](crate::steering::InputError::Untrusted)), or not authorized
    /// ([`InputError::NotAuthorized`](crate::steering::InputError::NotAuthorized): unsealed
    /// where sealed is required, bad MAC, unknown sender, another receiver or another
    /// incarnation of it, replayed).
    pub fabric_refused: u64,
}
