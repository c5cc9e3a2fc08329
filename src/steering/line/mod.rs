//! The line interface: the fast path that steers every packet of a session straight to its
//! processor by the VID its identifier carries.
//!
//! [`VidTable::steer`] reads the few header fields it needs in place (a GTPv1 or GTPv2-C
//! header's first eight octets, a PFCP header's first twelve, or an L2TPv2 header's tunnel id),
//! never allocates, and takes `&self`: a table is an immutable snapshot that many cores can read
//! at once. A table update from the switch processor builds a new snapshot and replaces the old
//! one as a whole ([`LineInterface::table`] hands out the current one as an `Arc`), so no packet
//! is ever steered by half an update.
//!
//! The protocol is told by the UDP port the packet was sent to ([`VidTable::steer_port`]: 2152
//! GTP-U, 2123 GTP-C, 8805 PFCP, 1701 L2TP) and, on the GTP ports and elsewhere, by the version
//! bits of the first octet ([`VidTable::steer`]: `0x3_` GTPv1, `0x4_`/`0x5_` GTPv2-C, `0x2_`
//! PFCP). Decisions, in order:
//!
//! | packet | verdict |
//! | --- | --- |
//! | GTPv1 (first octet `0x3_`), TEID 0, not a G-PDU (set-up requests, path management) | [`Verdict::Switch`] |
//! | GTPv1 Echo Request to port 2152 ([`VidTable::steer_port`]) whatever its TEID (TS 29.281 section 5.1 sends it with TEID 0; the switch answers it, as with TEID 0) | [`Verdict::Switch`] |
//! | GTPv1 G-PDU with TEID 0 | drop, [`DropReason::ZeroId`] |
//! | GTPv2-C with T = 0 (Echo) or TEID 0 (Create Session Request, TS 29.274 section 5.5.2) | [`Verdict::Switch`] |
//! | PFCP node message (S = 0: Heartbeat, Association Setup/Update/Release) or SEID 0 (Session Establishment Request) | [`Verdict::Switch`] |
//! | GTPv1 or GTPv2-C by the TEID's VIDs ([`VidLayout::teid32`]), PFCP by the SEID's ([`VidLayout::seid64`]): primary VID up | its processor |
//! | primary VID down, backup VID of the identifier up | the backup processor |
//! | primary VID down, no backup up | drop, [`DropReason::ProcessorDown`] |
//! | primary VID not in the table (spoofed or stale identifier) | drop, [`DropReason::UnknownVid`] |
//! | PFCP bundle to port 8805 (version 1, FO = 1 and octets after the first message, TS 29.244 section 7.2.2.1) | each message ([`pfcp::bundle`](super::pfcp::bundle), at most [`pfcp::MAX_BUNDLE`](super::pfcp::MAX_BUNDLE)) by these rules as a datagram of its own, in order |
//! | L2TPv2 (version 2, reserved bits clear), tunnel id 0, control (SCCRQ) | [`Verdict::Switch`] |
//! | L2TPv2, tunnel id 0, data | drop, [`DropReason::ZeroId`] |
//! | L2TPv2 otherwise | as GTP, with the 16-bit layout on the tunnel id |
//! | anything else, or too short | drop, [`DropReason::Malformed`] |
//!
//! Downlink (an IP packet to a UE from the SGi / N6 side, [`VidTable::steer_downlink`]): by
//! the VID fields of its destination address in the UE pool's slices ([`LineConfig::ue_pool`],
//! [`crate::steering::ue_pool`]), with the same table and the same failover as a TEID with
//! those VIDs: primary Up → its processor; primary Down and backup Up → the backup; an
//! address outside the pool → drop, [`DropReason::NotInPool`]. Both directions of a session
//! therefore reach one processor, and the same one after a failover.
//!
//! The [`LineInterface`] endpoint wraps a table: outside datagrams are steered and passed on over
//! the fabric ([`FabricMessage::Packet`]); datagrams processors and the switch processor send back
//! ([`FabricMessage::Transmit`], unsealed, accepted only from the switch processor's address and
//! from processors in its table) leave through it; table updates, only from the switch
//! processor's address (checked first) and sealed by it ([`LineConfig::switch_node`], fabric
//! version 5: the fabric's AES-128-CMAC, this line interface's incarnation as the receiver's, a
//! fresh packet number in the switch processor's replay window, see
//! [`crate::steering::fabric`]), are applied and acknowledged (sealed). Anything else is
//! refused ([`InputError::NotAuthorized`], [`InputError::Untrusted`]), counted in
//! [`LineStats::fabric_refused`], and changes nothing; an authentic switch processor message
//! refused only because it names another incarnation of this line interface (one sealed before
//! its restart, or by a switch processor that does not know this incarnation yet,
//! [`AuthError::StaleIncarnation`]) is answered with a sealed `TableAck` of the version held,
//! so the switch processor learns the incarnation and pushes the table again. Those answers go
//! to the switch processor only, bounded by [`LineConfig::stale_answers`] (beyond, suppressed
//! and counted in [`LineStats::stale_answers_suppressed`]): replays of captured messages draw
//! no more than that.
//!
//! It keeps no per-session state. **Its one timer is the hello**: while its table is version 0
//! (it is new, or restarted, and holds no table), it sends the switch processor a sealed
//! `TableAck { version: 0 }` at its first [`LineInterface::handle_timeout`] and every
//! [`LineConfig::hello_interval`] after, so a restarted line interface gets its table back at
//! once, not at the next table change ([`LineInterface::poll_timeout`] is the next hello then,
//! `None` once a table is applied). Its queue of datagrams to send is bounded by
//! [`LineConfig::queue_limit`] (when full, new datagrams are dropped and counted in
//! [`LineStats::queue_full`]), its queue of events by [`LineConfig::event_limit`] (when full, the
//! oldest event is dropped and counted in [`LineStats::events_dropped`]).
//!
//! Three answers leave from the line interface itself, each bounded by its token bucket
//! ([`RateLimit`], refilled from the `now` of each call, no timer), so a flood of forged packets
//! turns into at most `burst + per_second x seconds` answers; beyond, nothing is sent and the
//! suppression is counted. **None of them is sent while the table is version 0**: a line
//! interface that holds no table yet (started or restarted, its table not yet pushed) cannot
//! know that a VID is unknown to the gateway, and an Error Indication would make the peer
//! delete a context that exists (TS 29.281 section 7.3.1); the packet is dropped and counted
//! ([`DropReason::UnknownVid`]) as with a table, unanswered:
//!
//! * **Error Indication** (TS 29.281 section 7.3.1). A G-PDU with a non-zero TEID whose primary
//!   VID no processor holds ([`DropReason::UnknownVid`]) has no context anywhere in the gateway:
//!   besides the drop, an Error Indication goes back to the G-PDU's source IP address, UDP port
//!   2152, from the address the G-PDU was sent to, with the G-PDU's TEID (TEID Data I) and that
//!   address (GTP-U Peer Address); when the G-PDU's UDP source port is not 2152 (a peer behind a
//!   NAT), that port too, in a UDP Port extension header (TS 29.281 section 5.2.2.1 makes it
//!   optional; it is left out otherwise because osmo-ggsn's GTP-U discards any message with the
//!   E flag set).
//!   Bounded by [`LineConfig::error_indications`]. A G-PDU dropped because its processors are
//!   down ([`DropReason::ProcessorDown`]) is not answered: its context may come back with the
//!   processor, and an Error Indication would make the peer delete it. A G-PDU with TEID 0 is
//!   never answered (the specification forbids it). The steering itself ([`VidTable::steer`])
//!   is unchanged; this work happens only on the drop path.
//! * **Non-existent** (TS 29.060 sections 7.3.4, 7.3.6 and 7.7.1). An Update PDP Context Request
//!   or Delete PDP Context Request (to the GTP-C port, with a sequence number, well formed) whose
//!   TEID's primary VID no processor holds ([`DropReason::UnknownVid`]) names a context nobody
//!   in the gateway holds: besides the drop, it is answered as a GGSN answers a request for a
//!   context it does not have, with the matching response (Update / Delete PDP Context
//!   Response, the request's type + 1) carrying only Cause Non-existent (192), header TEID 0
//!   (the peer's control TEID is unknown without the context) and the request's sequence
//!   number, sent back to the request's source address and port from the address it was sent
//!   to. Bounded by [`LineConfig::non_existent`], counted in [`LineStats::non_existent`] and
//!   [`LineStats::non_existent_suppressed`]. Such a request whose Length field disagrees
//!   with the datagram gets instead the response with Cause Invalid message format (193, TS
//!   29.060 section 11.1.2), within the same bound. Other GTP-C messages with an unknown TEID are
//!   dropped unanswered: responses never get an answer, and the other requests a GGSN may be
//!   sent with a non-zero TEID (a secondary Create PDP Context, MBMS, PDU Notification
//!   procedures) are not served by the processors either. As for G-PDUs, a request dropped
//!   because its processors are down ([`DropReason::ProcessorDown`]) is not answered (the peer
//!   retransmits, and the backup may come up). The processors answer the same way for a known
//!   VID whose session they do not hold (see [`crate::steering::processor`]). Such a request
//!   carrying an extension header the endpoint must comprehend and does not support (TS 29.060
//!   section 6.1) is answered instead with a Supported Extension Headers Notification (TS
//!   29.060 section 7.2.4), bounded by [`LineConfig::extension_headers`].
//! * **Context Not Found** (TS 29.274 sections 5.5.2, 7.2.8, 7.2.10.1; TS 29.244 sections
//!   7.2.2.4.2, 7.5.5, 7.5.7). A GTPv2-C Modify Bearer or Delete Session Request (GTP-C port)
//!   or a PFCP Session Modification or Deletion Request whose TEID's (SEID's) primary VID no
//!   processor holds is answered as the processors answer one naming no session: Context Not
//!   Found (64) / Session context not found (65), header TEID (SEID) 0, the request's sequence
//!   number; with a Length that disagrees with the datagram, Invalid Length (67) / Invalid
//!   length (68). Same bound ([`LineConfig::non_existent`]) and counters; other GTPv2-C and
//!   PFCP messages naming such a VID are dropped unanswered.
//! * **Other GTP versions.** A datagram to the GTP-C port (2123) whose version field is neither
//!   1 nor 2 (GTPv0, say), or to the PFCP port (8805) whose version is not 1 (whatever its S
//!   flag and SEID), is passed to the switch processor, which answers it with Version Not
//!   Supported (see [`crate::steering::switch`]).

use super::common::{self, Outbox, UnsupportedExtension};
use super::error::{AuthError, ConfigError, ConfigField, FabricKind, InputError};
use super::fabric::{FabricMessage, FabricSealer, LINE_INTERFACES, TableEntry};
use super::gtp::{self, Cause, GTP_C_PORT, GTP_U_PORT, Ie, Message, MessageType};
use super::ue_pool::UePool;
use super::vid::VidLayout;
use crate::health::{ClusterKey, NodeId};
use crate::io::Transmit;
use crate::io::{RateLimit, TokenBucket};
use crate::replica::ReplayWindow;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod table;

pub use table::{DropReason, Verdict, VidTable};

/// Configuration of a [`LineInterface`].
#[derive(Debug, Clone)]
pub struct LineConfig {
    /// The line interface's own fabric address (where the switch processor and processors send).
    pub fabric_addr: SocketAddr,
    /// The switch processor's fabric address (a usable destination:
    /// [`ConfigError::UnusableAddress`] naming [`ConfigField::SwitchAddr`] otherwise).
    pub switch_addr: SocketAddr,
    /// The line interface's node id: the sender of its sealed messages (`TableAck`, fabric
    /// version 5, [`crate::steering::fabric`]). Not one of the processor slots' ids nor the
    /// switch processor's (the switch processor refuses those from a line interface's address).
    pub id: NodeId,
    /// Incarnation: must grow at every restart, so that the packet numbers of its sealed
    /// messages, which start again from 1, are fresh to the switch processor (as
    /// [`ProcessorConfig::incarnation`](crate::steering::ProcessorConfig::incarnation)), and
    /// so that a table sealed for an earlier incarnation is refused (fabric version 5: the
    /// seal names the receiver's incarnation). [`LineConfig::new`] sets 1.
    pub incarnation: u32,
    /// The switch processor's node id, the one sender of the sealed messages a line interface
    /// takes (the `node` given to [`SwitchConfig::new`](crate::steering::SwitchConfig::new));
    /// [`LineConfig::new`] sets 1.
    pub switch_node: NodeId,
    /// The cluster key, at least 16 octets (RFC 2104 section 3;
    /// [`ConfigError::Health`] with [`KeyTooShort`](crate::health::ConfigError::KeyTooShort)
    /// otherwise): the fabric's AES-128-CMAC key is derived from it
    /// ([`fabric::MAC_INFO`](crate::steering::fabric::MAC_INFO)).
    pub key: ClusterKey,
    /// The 32-bit layout of TEIDs.
    pub layout: VidLayout,
    /// The 16-bit layout of L2TP tunnel and session ids, if L2TP is steered.
    pub l2tp_layout: Option<VidLayout>,
    /// The UE address pools, sliced by (VID, backup VID), that downlink packets are steered by
    /// ([`LineInterface::steer_downlink`]); the same as the processors' (built from their
    /// `ue_pool`, `ue_pool_v6` and `layout`). `None`: downlink packets are not steered.
    pub ue_pool: Option<UePool>,
    /// Bound of the queue of datagrams to send; beyond it datagrams are dropped and counted
    /// ([`LineStats::queue_full`]).
    pub queue_limit: usize,
    /// Bound of the queue of events ([`LineEvent`]); beyond it the oldest event is dropped and
    /// counted ([`LineStats::events_dropped`]). [`LineConfig::new`] sets 4096.
    pub event_limit: usize,
    /// Bound of the Error Indications sent for G-PDUs naming no known VID; beyond, they are
    /// suppressed and counted ([`LineStats::error_indications_suppressed`]).
    pub error_indications: RateLimit,
    /// Bound of the Non-existent responses sent for Update / Delete PDP Context Requests naming
    /// no known VID (and of the GTPv2-C and PFCP Context Not Found answers, see the
    /// [module documentation](self)); beyond, they are suppressed and counted
    /// ([`LineStats::non_existent_suppressed`]).
    pub non_existent: RateLimit,
    /// Bound of the Supported Extension Headers Notifications sent (TS 29.060 section 7.2.4)
    /// for requests naming no known VID that carry an unsupported comprehension-required
    /// extension header; beyond, suppressed and counted
    /// ([`LineStats::extension_headers_suppressed`]).
    pub extension_headers: RateLimit,
    /// How often a line interface whose table is version 0 says so to the switch processor (a
    /// sealed `TableAck { version: 0 }`, the first at its first
    /// [`LineInterface::handle_timeout`]), until it holds a table (module docs). Not zero
    /// ([`ConfigError::OutOfRange`] naming [`ConfigField::HelloInterval`] otherwise);
    /// [`LineConfig::new`] sets 1 s.
    pub hello_interval: Duration,
    /// Bound of the `TableAck`s sent in answer to authentic switch processor messages refused
    /// only for the receiver incarnation they name ([`AuthError::StaleIncarnation`], module
    /// docs); beyond, suppressed and counted ([`LineStats::stale_answers_suppressed`]). A
    /// restarted switch processor still learns this line interface's incarnation: its table
    /// pushes are repeated until acknowledged, and the hello repeats while no table is held.
    pub stale_answers: RateLimit,
}

impl LineConfig {
    /// A configuration for the line interface of node `id` with the cluster key `key`:
    /// incarnation 1, switch processor's node id 1, no L2TP layout, no UE pool, queues of 4096
    /// datagrams and 4096 events, the default [`RateLimit`] (100 per second, bursts of 20)
    /// for Error Indications, for Non-existent responses and for Supported Extension Headers
    /// Notifications and for the answers to messages naming another incarnation, each, and a
    /// hello every second while it holds no table.
    pub fn new(
        fabric_addr: SocketAddr,
        switch_addr: SocketAddr,
        layout: VidLayout,
        id: NodeId,
        key: ClusterKey,
    ) -> LineConfig {
        LineConfig {
            fabric_addr,
            switch_addr,
            id,
            incarnation: 1,
            switch_node: NodeId(1),
            key,
            layout,
            l2tp_layout: None,
            ue_pool: None,
            queue_limit: 4096,
            event_limit: 4096,
            error_indications: RateLimit::default(),
            non_existent: RateLimit::default(),
            extension_headers: RateLimit::default(),
            hello_interval: Duration::from_secs(1),
            stale_answers: RateLimit::default(),
        }
    }
}

/// Counters of a line interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineStats {
    /// Outside datagrams passed to the switch processor.
    pub to_switch: u64,
    /// Outside datagrams steered to the primary processor.
    pub to_primary: u64,
    /// Outside datagrams steered to a backup processor.
    pub to_backup: u64,
    /// Outside datagrams dropped, by [`DropReason`] (in [`DropReason::ALL`] order).
    pub dropped: [u64; 6],
    /// Downlink packets steered to the primary processor (also counted in `to_primary`).
    pub downlink_primary: u64,
    /// Downlink packets steered to a backup processor (also counted in `to_backup`).
    pub downlink_backup: u64,
    /// Datagrams sent outside on behalf of processors and the switch processor.
    pub transmitted: u64,
    /// Table updates applied.
    pub updates_applied: u64,
    /// Table updates ignored because they were not newer than the table held.
    pub updates_stale: u64,
    /// Datagrams dropped because the output queue was full.
    pub queue_full: u64,
    /// Events dropped (the oldest) because the event queue was full
    /// ([`LineConfig::event_limit`]).
    pub events_dropped: u64,
    /// Fabric datagrams refused: unparsable, unexpected, from an untrusted address, or not
    /// authorized ([`InputError::NotAuthorized`]: unsealed where sealed is required, bad MAC,
    /// unknown sender, replayed).
    pub fabric_refused: u64,
    /// Error Indications sent for G-PDUs naming no known VID.
    pub error_indications: u64,
    /// Error Indications not sent because [`LineConfig::error_indications`] was exhausted.
    pub error_indications_suppressed: u64,
    /// Datagrams to the GTP-C port with a GTP version other than 1 and 2, and to the PFCP port
    /// with a PFCP version other than 1, passed to the switch processor (which answers Version
    /// Not Supported). Not counted in `to_switch`.
    pub other_version: u64,
    /// Non-existent responses sent for Update / Delete PDP Context Requests naming no known VID,
    /// and GTPv2-C / PFCP Context Not Found answers for requests naming no known VID.
    pub non_existent: u64,
    /// Non-existent responses not sent because [`LineConfig::non_existent`] was exhausted.
    pub non_existent_suppressed: u64,
    /// Supported Extension Headers Notifications sent for requests naming no known VID that
    /// carry an unsupported comprehension-required extension header.
    pub extension_headers_notifications: u64,
    /// Such notifications not sent because [`LineConfig::extension_headers`] was exhausted.
    pub extension_headers_suppressed: u64,
    /// `TableAck`s sent in answer to authentic switch processor messages naming another
    /// incarnation of this line interface ([`AuthError::StaleIncarnation`]).
    pub stale_answers: u64,
    /// Such answers not sent because [`LineConfig::stale_answers`] was exhausted.
    pub stale_answers_suppressed: u64,
    /// PFCP datagrams holding more than one message (flag FO, TS 29.244 section 7.2.2.1),
    /// whose messages were steered one by one (each also counted as a datagram above).
    pub pfcp_bundles: u64,
    /// PFCP bundles of more than [`pfcp::MAX_BUNDLE`](super::pfcp::MAX_BUNDLE) messages: the
    /// messages after the first `MAX_BUNDLE` were discarded unread.
    pub pfcp_bundle_excess: u64,
}

impl LineStats {
    /// Outside datagrams dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).copied().unwrap_or(0)
    }
}

/// What a line interface reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineEvent {
    /// A table update was applied.
    TableApplied {
        /// Its version, as the switch processor pushed it
        /// ([`SwitchEvent::TablePushed`](crate::steering::switch::SwitchEvent::TablePushed)):
        /// the switch processor's incarnation in the high 32 bits, its count of pushes in the
        /// low 32. Applied versions rise but may skip: each push is a full snapshot, so
        /// a version made while an older one was on its way supersedes it, and a line
        /// interface applies only a version above the one it holds.
        version: u64,
    },
}

/// A line interface endpoint (see the [module documentation](self)).
///
/// Call order: after [`LineInterface::handle_datagram`] and [`LineInterface::handle_timeout`],
/// drain [`LineInterface::poll_transmit`] and [`LineInterface::poll_event`]. Its one timer is the
/// hello while it holds no table ([`LineInterface::poll_timeout`]: the next hello then, `None`
/// once a table is applied).
///
/// Addresses: [`LineConfig`] names only the fabric address. The outside addresses, those the
/// peers send to (GTP-C port 2123, GTP-U 2152, PFCP 8805, L2TP 1701), are not configured: the
/// caller binds them, passes the one each datagram arrived on as `to`, and sends every
/// [`Transmit`] from the address its `src` names. What leaves for outside (a
/// processor's Create PDP Context Response, an Error Indication) names the outside address the
/// peer used, so a driver that sent it from the fabric socket would answer an SGSN from an
/// address it never sent to.
#[derive(Debug)]
pub struct LineInterface {
    config: LineConfig,
    table: Arc<VidTable>,
    stats: LineStats,
    out: Outbox<LineEvent>,
    error_indications: TokenBucket,
    non_existent: TokenBucket,
    extension_headers: TokenBucket,
    stale_answers: TokenBucket,
    /// Seals its `TableAck`s and opens the switch processor's messages.
    sealer: FabricSealer,
    /// The replay window of the switch processor's sealed messages (its incarnation, the
    /// highest admitted, is the one named in what this line interface seals).
    switch_window: ReplayWindow,
    /// When the next hello is due while the table is version 0.
    next_hello: Instant,
}

/// The source and destination addresses of an IPv4 or IPv6 packet's header (RFC 791 section
/// 3.1, RFC 8200 section 3).
pub(crate) fn ip_addresses(packet: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match packet.first()? >> 4 {
        4 => {
            let s: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
            Some((Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into()))
        }
        6 => {
            let s: [u8; 16] = packet.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
            Some((Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into()))
        }
        _ => None,
    }
}

/// The TEID of a GTPv1 G-PDU with a non-zero TEID, `None` for anything else.
fn g_pdu_teid(data: &[u8]) -> Option<u32> {
    match data.get(..8)? {
        &[b0, 0xff, _, _, t0, t1, t2, t3] if b0 & 0xf0 == 0x30 => {
            Some(u32::from_be_bytes([t0, t1, t2, t3])).filter(|t| *t != 0)
        }
        _ => None,
    }
}

impl LineInterface {
    /// Checks the configuration: a 32-bit TEID layout, a 16-bit L2TP layout, non-zero queues
    /// and hello interval. The first hello is due at `now` (module docs).
    pub fn new(config: LineConfig, now: Instant) -> Result<LineInterface, ConfigError> {
        common::check_layouts(&config.layout, config.l2tp_layout.as_ref())?;
        common::non_zero(ConfigField::QueueLimit, config.queue_limit == 0)?;
        common::non_zero(ConfigField::EventLimit, config.event_limit == 0)?;
        common::non_zero(ConfigField::HelloInterval, config.hello_interval.is_zero())?;
        common::usable(ConfigField::SwitchAddr, config.switch_addr)?;
        config.key.check_len().map_err(ConfigError::Health)?;
        if let Some(pool) = &config.ue_pool {
            pool.check_layout(&config.layout)?;
        }
        Ok(LineInterface {
            sealer: FabricSealer::new(&config.key, config.id, config.incarnation),
            switch_window: ReplayWindow::default(),
            next_hello: now,
            out: Outbox::new(config.queue_limit, config.event_limit),
            error_indications: TokenBucket::new(config.error_indications, now),
            non_existent: TokenBucket::new(config.non_existent, now),
            extension_headers: TokenBucket::new(config.extension_headers, now),
            stale_answers: TokenBucket::new(config.stale_answers, now),
            table: Arc::new(
                VidTable::new(config.layout, config.l2tp_layout).with_ue_pool(config.ue_pool),
            ),
            config,
            stats: LineStats::default(),
        })
    }

    /// Steers one packet with the current table (see [`VidTable::steer`]).
    #[inline]
    pub fn steer(&self, packet: &[u8]) -> Verdict {
        self.table.steer(packet)
    }

    /// Steers a batch with the current table (see [`VidTable::steer_batch`]).
    #[inline]
    pub fn steer_batch(&self, packets: &[&[u8]], out: &mut [Verdict]) -> usize {
        self.table.steer_batch(packets, out)
    }

    /// Steers one downlink IP packet with the current table (see [`VidTable::steer_downlink`]).
    #[inline]
    pub fn steer_downlink(&self, packet: &[u8]) -> Verdict {
        self.table.steer_downlink(packet)
    }

    /// Steers a batch of downlink IP packets (see [`VidTable::steer_downlink_batch`]).
    #[inline]
    pub fn steer_downlink_batch(&self, packets: &[&[u8]], out: &mut [Verdict]) -> usize {
        self.table.steer_downlink_batch(packets, out)
    }

    /// Feeds one downlink IP packet (to a UE, from the SGi / N6 side): steered by its
    /// destination address ([`VidTable::steer_downlink`]) and passed on to the processor over
    /// the fabric as a [`FabricMessage::Packet`] whose `from` and `to` are the packet's source
    /// and destination addresses with port 0 (no UDP datagram is ever sent to port 0, so a
    /// processor tells a downlink packet by it), `data` the whole IP packet. Errors:
    /// [`InputError::Dropped`] with the verdict's reason (counted in [`LineStats::dropped`]),
    /// [`InputError::QueueFull`].
    /// `now` is unused: steering needs no clock.
    pub fn handle_downlink(&mut self, now: Instant, packet: &[u8]) -> Result<(), InputError> {
        let _ = now;
        let verdict = self.table.steer_downlink(packet);
        let (vid, backup) = match verdict {
            Verdict::Processor { vid, backup } => (vid, backup),
            Verdict::Drop(reason) => {
                if let Some(c) = self.stats.dropped.get_mut(reason.index()) {
                    *c += 1;
                }
                return Err(InputError::Dropped(reason));
            }
            Verdict::Switch => return Err(InputError::Dropped(DropReason::Malformed)),
        };
        let Some(dst) = self.table.addr(vid) else {
            return Err(InputError::Dropped(DropReason::UnknownVid));
        };
        let Some((src_ip, dst_ip)) = ip_addresses(packet) else {
            return Err(InputError::Dropped(DropReason::Malformed));
        };
        if backup {
            self.stats.to_backup += 1;
            self.stats.downlink_backup += 1;
        } else {
            self.stats.to_primary += 1;
            self.stats.downlink_primary += 1;
        }
        let msg = FabricMessage::Packet {
            from: SocketAddr::new(src_ip, 0),
            to: SocketAddr::new(dst_ip, 0),
            data: Cow::Borrowed(packet),
        };
        self.push(common::fabric_transmit(self.config.fabric_addr, dst, &msg))
    }

    /// The current table snapshot, to share with other cores.
    pub fn table(&self) -> Arc<VidTable> {
        Arc::clone(&self.table)
    }

    /// Replaces the table with `entries` at `version` if it is newer than the one held; returns
    /// whether it was applied. (The fabric's table updates arrive through here.)
    pub fn apply_update(&mut self, version: u64, entries: &[TableEntry]) -> bool {
        if version <= self.table.version() {
            self.stats.updates_stale += 1;
            return false;
        }
        self.table = Arc::new(
            VidTable::with_entries(
                self.config.layout,
                self.config.l2tp_layout,
                version,
                entries,
            )
            .with_ue_pool(self.config.ue_pool),
        );
        self.stats.updates_applied += 1;
        self.out.event(LineEvent::TableApplied { version });
        true
    }

    /// The counters.
    pub fn stats(&self) -> LineStats {
        LineStats {
            queue_full: self.out.queue_full(),
            events_dropped: self.out.events_dropped(),
            ..self.stats
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LineConfig {
        &self.config
    }

    fn push(&mut self, t: Transmit) -> Result<(), InputError> {
        if self.out.push(t) {
            Ok(())
        } else {
            Err(InputError::QueueFull)
        }
    }

    /// Feeds one datagram: an outside packet (any `to` but the fabric address) is steered and
    /// passed on; a fabric datagram (to the fabric address) is a table update or a datagram to
    /// send outside. An input whose `to` has port 0 is not a UDP datagram (no datagram is sent
    /// to port 0) but an IP packet read on the SGi / N6 side (from a tun device, say): it is
    /// steered as a downlink packet ([`LineInterface::handle_downlink`]).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        if to == self.config.fabric_addr {
            return self.handle_fabric(now, from, data);
        }
        if to.port() == 0 {
            return self.handle_downlink(now, data);
        }
        // A PFCP bundle (version 1, FO = 1: TS 29.244 sections 7.2.2.1 and 6.5): each message
        // is steered by its own SEID, as if it had come in a datagram of its own.
        if to.port() == super::pfcp::PFCP_PORT && data.first().is_some_and(|f| f & 0xe4 == 0x24) {
            return self.handle_pfcp_bundle(now, from, to, data);
        }
        self.handle_outside(now, from, to, data)
    }

    /// The messages of a PFCP datagram with FO = 1 ([`super::pfcp::bundle`]), each handled as
    /// an outside datagram of its own, in order; at most [`super::pfcp::MAX_BUNDLE`], the rest
    /// discarded unread and counted in [`LineStats::pfcp_bundle_excess`]. The first error of
    /// its messages, if any, is the bundle's.
    fn handle_pfcp_bundle(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let mut parts = super::pfcp::bundle(data);
        let mut result = Ok(());
        let mut count = 0;
        for part in parts.by_ref().take(super::pfcp::MAX_BUNDLE) {
            count += 1;
            let r = self.handle_outside(now, from, to, part);
            result = result.and(r);
        }
        if count > 1 {
            self.stats.pfcp_bundles += 1;
        }
        if parts.next().is_some() {
            self.stats.pfcp_bundle_excess += 1;
            result = result.and(Err(InputError::PfcpBundleTooLong {
                max: super::pfcp::MAX_BUNDLE,
            }));
        }
        result
    }

    /// One outside datagram (or one message of a PFCP bundle): steered and passed on.
    fn handle_outside(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        // A PFCP message of a version other than 1 (its SEID's layout unknown) goes to the
        // switch processor too, which answers Version Not Supported (TS 29.244 section 7.6.2).
        let other_pfcp =
            to.port() == super::pfcp::PFCP_PORT && data.first().is_some_and(|f| f >> 5 != 1);
        let other_gtp =
            to.port() == GTP_C_PORT && gtp::version(data).is_some_and(|v| v != 1 && v != 2);
        let verdict = if other_gtp || other_pfcp {
            self.stats.other_version += 1;
            None
        } else {
            Some(self.table.steer_port(to.port(), data))
        };
        let (dst, verdict) = match verdict {
            None => (self.config.switch_addr, Verdict::Switch),
            Some(Verdict::Switch) => {
                self.stats.to_switch += 1;
                (self.config.switch_addr, Verdict::Switch)
            }
            Some(v @ Verdict::Processor { vid, backup }) => {
                let Some(addr) = self.table.addr(vid) else {
                    return Err(InputError::Dropped(DropReason::UnknownVid));
                };
                if backup {
                    self.stats.to_backup += 1;
                } else {
                    self.stats.to_primary += 1;
                }
                (addr, v)
            }
            Some(Verdict::Drop(reason)) => {
                if let Some(c) = self.stats.dropped.get_mut(reason.index()) {
                    *c += 1;
                }
                if self.table.version() == 0 {
                    // No table yet: whether the VID is unknown to the gateway is not known
                    // here, so no answer (module docs).
                    return Err(InputError::Dropped(reason));
                }
                let gtpv1 = common::wire(to.port(), data) == common::Wire::Gtpv1;
                if reason == DropReason::UnknownVid && gtpv1 {
                    if let Some(teid) = g_pdu_teid(data) {
                        self.error_indication(now, from, to, teid);
                    } else if to.port() == GTP_C_PORT {
                        self.non_existent(now, from, to, data);
                    }
                } else if reason == DropReason::UnknownVid {
                    self.context_not_found(now, from, to, data);
                }
                return Err(InputError::Dropped(reason));
            }
        };
        let _ = verdict;
        let msg = FabricMessage::Packet {
            from,
            to,
            data: Cow::Borrowed(data),
        };
        self.push(common::fabric_transmit(self.config.fabric_addr, dst, &msg))
    }

    /// Answers a G-PDU for `teid`, which names no context, with an Error Indication, if the
    /// rate limit allows.
    fn error_indication(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, teid: u32) {
        if !self.error_indications.take(now) {
            self.stats.error_indications_suppressed += 1;
            return;
        }
        let port = (from.port() != GTP_U_PORT).then_some(from.port());
        let m = Message::error_indication(teid, to.ip(), port);
        if self.answer(SocketAddr::new(from.ip(), GTP_U_PORT), to, &m) {
            self.stats.error_indications += 1;
        }
    }

    /// Answers an Update / Delete PDP Context Request naming no known VID with the matching
    /// response carrying Cause Non-existent, if the rate limit allows; anything else is left
    /// unanswered.
    fn non_existent(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Ok(req) = gtp::parse(data) else {
            // TS 29.060 section 11.1.2 comes first: a request whose Length disagrees with the
            // datagram gets Invalid message format (same rate limit).
            if let Some(r) = Message::length_error_response(data) {
                if self.non_existent.take(now) {
                    self.answer(from, to, &r);
                } else {
                    self.stats.non_existent_suppressed += 1;
                }
            }
            return;
        };
        let response = match req.message_type() {
            MessageType::UPDATE_PDP_CONTEXT_REQUEST => MessageType::UPDATE_PDP_CONTEXT_RESPONSE,
            MessageType::DELETE_PDP_CONTEXT_REQUEST => MessageType::DELETE_PDP_CONTEXT_RESPONSE,
            _ => return,
        };
        let Some(seq) = req.header.sequence else {
            return;
        };
        // TS 29.060 section 6.1: discarded and answered with a Supported Extension Headers
        // Notification, not with a response.
        match common::unsupported_extension(
            &req.header,
            to.port(),
            seq,
            &mut self.extension_headers,
            now,
        ) {
            Some(UnsupportedExtension::Notify { notification, .. }) => {
                if self.answer(from, to, &notification) {
                    self.stats.extension_headers_notifications += 1;
                }
                return;
            }
            Some(UnsupportedExtension::Suppressed { .. }) => {
                self.stats.extension_headers_suppressed += 1;
                return;
            }
            None => {}
        }
        if !self.non_existent.take(now) {
            self.stats.non_existent_suppressed += 1;
            return;
        }
        let m = Message::new(response, 0, seq, vec![Ie::Cause(Cause::NON_EXISTENT)]);
        if self.answer(from, to, &m) {
            self.stats.non_existent += 1;
        }
    }

    /// Answers a GTPv2-C Modify Bearer or Delete Session Request (to the GTP-C port) or a PFCP
    /// Session Modification or Deletion Request whose TEID's (SEID's) primary VID no processor
    /// holds, as the processors answer one naming no session: Context Not Found (64, TS 29.274
    /// sections 7.2.8 and 7.2.10.1) or Session context not found (65, TS 29.244 sections 7.5.5
    /// and 7.5.7), header TEID (SEID) 0, the request's sequence number; one whose Length
    /// disagrees with the datagram gets Invalid Length (67) / Invalid length (68) instead (TS
    /// 29.274 section 7.7.3, TS 29.244 section 7.6.3). Other messages are dropped unanswered.
    /// Bounded by [`LineConfig::non_existent`].
    fn context_not_found(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        use super::{gtpv2, pfcp};
        let payload = match common::wire(to.port(), data) {
            common::Wire::Gtpv2 if to.port() == GTP_C_PORT => match gtpv2::parse(data) {
                Ok(req) => {
                    let t = req.message_type();
                    let served = t == gtpv2::MessageType::MODIFY_BEARER_REQUEST
                        || t == gtpv2::MessageType::DELETE_SESSION_REQUEST;
                    let cause = gtpv2::Cause::new(gtpv2::CauseValue::CONTEXT_NOT_FOUND);
                    let ies = vec![gtpv2::Ie::new(gtpv2::IeValue::Cause(cause))];
                    let seq = req.header.sequence;
                    // Built only for the two requests served (type 255 has no type + 1).
                    served
                        .then(|| {
                            let t = gtpv2::MessageType(t.0.wrapping_add(1));
                            gtpv2::Message::new(t, Some(0), seq, ies).to_vec().ok()
                        })
                        .flatten()
                }
                Err(_) => gtpv2::Message::length_error_response(data).and_then(|r| r.to_vec().ok()),
            },
            common::Wire::Pfcp => match pfcp::parse(data) {
                Ok(req) => {
                    let t = req.message_type();
                    let served = t == pfcp::MessageType::SESSION_MODIFICATION_REQUEST
                        || t == pfcp::MessageType::SESSION_DELETION_REQUEST;
                    let ies = vec![pfcp::Ie::Cause(pfcp::Cause::SESSION_CONTEXT_NOT_FOUND)];
                    let seq = req.header.sequence;
                    // Built only for the two requests served (type 255 has no type + 1).
                    served
                        .then(|| {
                            let t = pfcp::MessageType(t.0.wrapping_add(1));
                            pfcp::Message::new(t, 0, seq, ies).to_vec().ok()
                        })
                        .flatten()
                }
                Err(_) => {
                    let node = pfcp::Ie::NodeId(match to.ip() {
                        IpAddr::V4(a) => pfcp::NodeId::Ipv4(a),
                        IpAddr::V6(a) => pfcp::NodeId::Ipv6(a),
                    });
                    pfcp::Message::length_error_response(data, node).and_then(|r| r.to_vec().ok())
                }
            },
            _ => None,
        };
        let Some(payload) = payload else {
            return;
        };
        if !self.non_existent.take(now) {
            self.stats.non_existent_suppressed += 1;
            return;
        }
        if self.push(common::transmit(to, from, payload)).is_ok() {
            self.stats.non_existent += 1;
        }
    }

    /// Queues one answer of the gateway's own to `dst`, sent from `src` (the address the request
    /// reached): whether it was queued (it is not when it cannot be encoded or the outbox is full).
    fn answer(&mut self, dst: SocketAddr, src: SocketAddr, m: &Message<'_>) -> bool {
        let Ok(payload) = m.to_vec() else {
            return false;
        };
        self.push(common::transmit(src, dst, payload)).is_ok()
    }

    /// A fabric datagram: opened and admitted (module docs of [`crate::steering::fabric`]: a
    /// `TableUpdate` from the switch processor's address, sealed by it for this incarnation, its
    /// packet number fresh), then taken by kind and sender address. An authentic one refused
    /// only for the receiver incarnation it names is answered with a `TableAck`, as
    /// [`LineConfig::stale_answers`] allows.
    fn handle_fabric(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let msg = common::from_switch(
            &mut self.sealer,
            (
                LINE_INTERFACES,
                self.config.incarnation,
                self.config.switch_node,
            ),
            &mut self.switch_window,
            &mut self.stats.fabric_refused,
            from == self.config.switch_addr,
            data,
        );
        let msg = match msg {
            Err(e @ InputError::NotAuthorized(AuthError::StaleIncarnation { .. })) => {
                // From the switch processor's address (checked first), under its key and node
                // id: it does not know this incarnation (it restarted), or a replay of what it
                // sealed for an earlier one. Either way, say which table this one holds (as
                // the rate limit allows: replays draw no more than it).
                if self.stale_answers.take(now) {
                    self.stats.stale_answers += 1;
                    let _ = self.send_ack();
                } else {
                    self.stats.stale_answers_suppressed += 1;
                }
                return Err(e);
            }
            m => m?,
        };
        match msg {
            FabricMessage::TableUpdate { version, entries } if from == self.config.switch_addr => {
                self.apply_update(version, &entries);
                self.send_ack()
            }
            FabricMessage::Transmit {
                from: src,
                to,
                data,
            } if from == self.config.switch_addr || self.table.holds_addr(from) => {
                self.stats.transmitted += 1;
                self.push(common::transmit(src, to, data.into_owned()))
            }
            m @ (FabricMessage::TableUpdate { .. } | FabricMessage::Transmit { .. }) => {
                self.stats.fabric_refused += 1;
                Err(InputError::Untrusted(FabricKind::of(&m)))
            }
            m => {
                self.stats.fabric_refused += 1;
                Err(InputError::Unexpected(FabricKind::of(&m)))
            }
        }
    }

    /// Queues a `TableAck` of the version held to the switch processor, sealed for the
    /// incarnation of it last admitted.
    fn send_ack(&mut self) -> Result<(), InputError> {
        let ack = FabricMessage::TableAck {
            version: self.table.version(),
        };
        let (src, dst) = (self.config.fabric_addr, self.config.switch_addr);
        let incarnation = self.switch_window.incarnation();
        let sealed = self.sealer.seal(self.config.switch_node, incarnation, &ack);
        self.push(common::transmit(src, dst, sealed))
    }

    /// The hello: while the table is version 0, a `TableAck { version: 0 }` to the switch
    /// processor when due (the first at the first call), then every
    /// [`LineConfig::hello_interval`]; nothing once a table is applied.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.table.version() != 0 || now < self.next_hello {
            return;
        }
        self.next_hello = now + self.config.hello_interval;
        let _ = self.send_ack();
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.poll_transmit()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<LineEvent> {
        self.out.poll_event()
    }

    /// The next hello while the table is version 0; `None` once a table is applied (the hello
    /// is the line interface's one timer).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.table.version() == 0).then_some(self.next_hello)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(event_limit: usize) -> LineConfig {
        let fabric = SocketAddr::from(([172, 16, 0, 1], 4000));
        let switch = SocketAddr::from(([172, 16, 0, 100], 4000));
        let key = ClusterKey::new(b"line interface unit test key");
        let mut c = LineConfig::new(fabric, switch, VidLayout::default(), NodeId(21), key);
        c.event_limit = event_limit;
        c
    }

    /// The event queue is bounded by `event_limit` (every queue is bounded by configuration,
    /// and what happens when it is full is counted): the oldest event goes, and is counted.
    #[test]
    fn a_full_event_queue_drops_the_oldest_event_and_counts_it() {
        let now = Instant::now();
        let mut li = LineInterface::new(config(2), now).unwrap();
        for version in 1..=3 {
            assert!(li.apply_update(version, &[]));
        }
        assert_eq!(li.stats().events_dropped, 1);
        assert_eq!(
            li.poll_event(),
            Some(LineEvent::TableApplied { version: 2 })
        );
        assert_eq!(
            li.poll_event(),
            Some(LineEvent::TableApplied { version: 3 })
        );
        assert_eq!(li.poll_event(), None);
    }

    #[test]
    fn a_zero_event_limit_is_refused() {
        let r = LineInterface::new(config(0), Instant::now());
        assert_eq!(
            r.err(),
            Some(ConfigError::OutOfRange(ConfigField::EventLimit))
        );
    }
}
