//! The line interface: the fast path that steers every packet of a session straight to its
//! processor by the VID its identifier carries.
//!
//! [`VidTable::steer`] reads the few header fields it needs in place (a GTPv1 header's first eight
//! octets, or an L2TPv2 header's tunnel id), never allocates, and takes `&self`: a table is an
//! immutable snapshot that many cores can read at once. A table update from the switch processor
//! builds a new snapshot and replaces the old one as a whole ([`LineInterface::table`] hands out
//! the current one as an `Arc`), so no packet is ever steered by half an update.
//!
//! Decisions, in order:
//!
//! | packet | verdict |
//! | --- | --- |
//! | GTPv1 (first octet `0x3_`), TEID 0, not a G-PDU (set-up requests, path management) | [`Verdict::Switch`] |
//! | GTPv1 G-PDU with TEID 0 | drop, [`DropReason::ZeroId`] |
//! | GTPv1, primary VID of the TEID up | its processor |
//! | primary VID down, backup VID of the TEID up | the backup processor |
//! | primary VID down, no backup up | drop, [`DropReason::ProcessorDown`] |
//! | primary VID not in the table (spoofed or stale TEID) | drop, [`DropReason::UnknownVid`] |
//! | L2TPv2 (version 2, reserved bits clear), tunnel id 0, control (SCCRQ) | [`Verdict::Switch`] |
//! | L2TPv2, tunnel id 0, data | drop, [`DropReason::ZeroId`] |
//! | L2TPv2 otherwise | as GTP, with the 16-bit layout on the tunnel id |
//! | anything else, or too short | drop, [`DropReason::Malformed`] |
//!
//! The [`LineInterface`] endpoint wraps a table: outside datagrams are steered and passed on over
//! the fabric ([`FabricMessage::Packet`]); datagrams processors and the switch processor send back
//! ([`FabricMessage::Transmit`], accepted only from the switch processor and from processors in
//! its table) leave through it; table updates (only from the switch processor) are applied and
//! acknowledged.
//! It keeps no per-session state and has no timers. Its queue of datagrams to send is bounded by
//! [`LineConfig::queue_limit`] (when full, new datagrams are dropped and counted in
//! [`LineStats::queue_full`]), its queue of events by [`LineConfig::event_limit`] (when full, the
//! oldest event is dropped and counted in [`LineStats::events_dropped`]).
//!
//! Three answers leave from the line interface itself, each bounded by its token bucket
//! ([`RateLimit`], refilled from the `now` of each call, no timer), so a flood of forged packets
//! turns into at most `burst + per_second x seconds` answers; beyond, nothing is sent and the
//! suppression is counted:
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
//!   [`LineStats::non_existent_suppressed`]. Other GTP-C messages with an unknown TEID are
//!   dropped unanswered: responses never get an answer, and the other requests a GGSN may be
//!   sent with a non-zero TEID (a secondary Create PDP Context, MBMS, PDU Notification
//!   procedures) are not served by the processors either. As for G-PDUs, a request dropped
//!   because its processors are down ([`DropReason::ProcessorDown`]) is not answered (the peer
//!   retransmits, and the backup may come up). The processors answer the same way for a known
//!   VID whose session they do not hold (see [`crate::steering::processor`]). Such a request
//!   carrying an extension header the endpoint must comprehend and does not support (TS 29.060
//!   section 6.1) is answered instead with a Supported Extension Headers Notification (TS
//!   29.060 section 7.2.4), bounded by [`LineConfig::extension_headers`].
//! * **Other GTP versions.** A datagram to the GTP-C port (2123) whose version field is not 1
//!   (GTPv0, GTPv2-C) is passed to the switch processor, which answers it with Version Not
//!   Supported (see [`crate::steering::switch`]). This is checked before steering, since a
//!   GTPv2 header can look like an L2TP one.

use super::common::{self, Outbox, UnsupportedExtension};
use super::error::{ConfigError, ConfigField, FabricKind, InputError};
use super::fabric::{FabricMessage, TableEntry, VidState};
use super::gtp::{self, Cause, GTP_C_PORT, GTP_U_PORT, Ie, Message, MessageType};
use super::vid::{VidLayout, VirtualId};
use crate::io::Transmit;
use crate::io::{RateLimit, TokenBucket};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Neither GTPv1 nor L2TPv2, or too short to hold the identifier.
    Malformed,
    /// A user packet (G-PDU, L2TP data) with identifier 0.
    ZeroId,
    /// The identifier's primary VID is not assigned to any processor.
    UnknownVid,
    /// The primary processor is down and the identifier names no operational backup.
    ProcessorDown,
    /// An L2TP packet, but no 16-bit layout is configured.
    L2tpDisabled,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 5] = [
        DropReason::Malformed,
        DropReason::ZeroId,
        DropReason::UnknownVid,
        DropReason::ProcessorDown,
        DropReason::L2tpDisabled,
    ];

    fn index(self) -> usize {
        match self {
            DropReason::Malformed => 0,
            DropReason::ZeroId => 1,
            DropReason::UnknownVid => 2,
            DropReason::ProcessorDown => 3,
            DropReason::L2tpDisabled => 4,
        }
    }
}

/// Where a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// To the switch processor (a set-up request or path management).
    Switch,
    /// To the processor holding `vid`; `backup` is true when it is the session's backup, because
    /// the primary is down.
    Processor {
        /// The VID steered to.
        vid: VirtualId,
        /// Whether this is the backup.
        backup: bool,
    },
    /// Dropped.
    Drop(DropReason),
}

const UNASSIGNED: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// An immutable, versioned snapshot of the VID associations: the line interface's steering table.
#[derive(Debug, Clone)]
pub struct VidTable {
    version: u64,
    layout: VidLayout,
    l2tp: Option<VidLayout>,
    states: Box<[u8]>,
    addrs: Box<[Option<SocketAddr>]>,
}

impl VidTable {
    /// An empty table (version 0): every packet but set-up requests is dropped as unknown.
    pub fn new(layout: VidLayout, l2tp: Option<VidLayout>) -> VidTable {
        let n = usize::from(layout.max_vid().max(l2tp.map_or(0, |l| l.max_vid()))) + 1;
        VidTable {
            version: 0,
            layout,
            l2tp,
            states: vec![UNASSIGNED; n].into_boxed_slice(),
            addrs: vec![None; n].into_boxed_slice(),
        }
    }

    /// A table holding `entries` at `version` (entries whose VID does not fit are ignored).
    pub fn with_entries(
        layout: VidLayout,
        l2tp: Option<VidLayout>,
        version: u64,
        entries: &[TableEntry],
    ) -> VidTable {
        let mut t = VidTable::new(layout, l2tp);
        t.version = version;
        for e in entries {
            let i = usize::from(e.vid.get());
            if let (Some(s), Some(a)) = (t.states.get_mut(i), t.addrs.get_mut(i)) {
                *s = match e.state {
                    VidState::Up => UP,
                    VidState::Down => DOWN,
                };
                *a = Some(e.addr);
            }
        }
        t
    }

    /// The version of this snapshot.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The fabric address of the processor holding `vid`.
    pub fn addr(&self, vid: VirtualId) -> Option<SocketAddr> {
        self.addrs.get(usize::from(vid.get())).copied().flatten()
    }

    /// The 32-bit TEID layout the table steers by.
    pub fn layout(&self) -> VidLayout {
        self.layout
    }

    /// Every assigned VID with its state and processor address, in VID order (what
    /// [`VidTable::with_entries`] was given, less the entries that did not fit).
    pub fn entries(&self) -> impl Iterator<Item = TableEntry> + '_ {
        self.addrs.iter().enumerate().filter_map(|(i, a)| {
            let vid = VirtualId::new(u16::try_from(i).ok()?)?;
            Some(TableEntry {
                vid,
                state: self.state(vid)?,
                addr: (*a)?,
            })
        })
    }

    /// Whether some VID is held by the processor at `addr` (a fabric sender this line trusts).
    pub fn holds_addr(&self, addr: SocketAddr) -> bool {
        self.addrs.contains(&Some(addr))
    }

    /// The state of `vid`, `None` when unassigned.
    pub fn state(&self, vid: VirtualId) -> Option<VidState> {
        match self.states.get(usize::from(vid.get())) {
            Some(&UP) => Some(VidState::Up),
            Some(&DOWN) => Some(VidState::Down),
            _ => None,
        }
    }

    #[inline(always)]
    fn state_raw(&self, vid: u16) -> u8 {
        self.states
            .get(usize::from(vid))
            .copied()
            .unwrap_or(UNASSIGNED)
    }

    #[inline(always)]
    fn by_id(&self, id: u32, layout: &VidLayout) -> Verdict {
        let p = layout.primary_raw(id);
        match self.state_raw(p) {
            UP => match VirtualId::new(p) {
                Some(vid) => Verdict::Processor { vid, backup: false },
                None => Verdict::Drop(DropReason::UnknownVid),
            },
            DOWN => {
                let b = layout.backup_raw(id);
                match (self.state_raw(b), VirtualId::new(b)) {
                    (UP, Some(vid)) => Verdict::Processor { vid, backup: true },
                    _ => Verdict::Drop(DropReason::ProcessorDown),
                }
            }
            _ => Verdict::Drop(DropReason::UnknownVid),
        }
    }

    /// Steers one packet (a UDP payload). Reads at most the first twelve octets; never
    /// allocates; never panics.
    #[inline]
    pub fn steer(&self, packet: &[u8]) -> Verdict {
        let Some(&b0) = packet.first() else {
            return Verdict::Drop(DropReason::Malformed);
        };
        if b0 & 0xf0 == 0x30 {
            // GTPv1, PT = 1.
            let Some(h) = packet.get(..8) else {
                return Verdict::Drop(DropReason::Malformed);
            };
            let Ok(h) = <&[u8; 8]>::try_from(h) else {
                return Verdict::Drop(DropReason::Malformed);
            };
            let teid = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            if teid == 0 {
                return if h[1] == 0xff {
                    Verdict::Drop(DropReason::ZeroId)
                } else {
                    Verdict::Switch
                };
            }
            return self.by_id(teid, &self.layout);
        }
        // L2TPv2: version 2 in the second octet, reserved bits of the first clear.
        let Some(&b1) = packet.get(1) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        if b1 & 0x0f != 2 || b0 & 0x34 != 0 {
            return Verdict::Drop(DropReason::Malformed);
        }
        let Some(layout) = &self.l2tp else {
            return Verdict::Drop(DropReason::L2tpDisabled);
        };
        let at = if b0 & 0x40 != 0 { 4 } else { 2 };
        let Some(&[t0, t1]) = packet.get(at..at + 2) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let tunnel = u16::from_be_bytes([t0, t1]);
        if tunnel == 0 {
            return if b0 & 0x80 != 0 {
                Verdict::Switch
            } else {
                Verdict::Drop(DropReason::ZeroId)
            };
        }
        self.by_id(u32::from(tunnel), layout)
    }

    /// Steers a batch: `out[i]` is the verdict for `packets[i]`, for the first
    /// `min(packets.len(), out.len())` packets (the count is returned).
    #[inline]
    pub fn steer_batch(&self, packets: &[&[u8]], out: &mut [Verdict]) -> usize {
        let mut n = 0;
        for (p, o) in packets.iter().zip(out.iter_mut()) {
            *o = self.steer(p);
            n += 1;
        }
        n
    }
}

/// Configuration of a [`LineInterface`].
#[derive(Debug, Clone)]
pub struct LineConfig {
    /// The line interface's own fabric address (where the switch processor and processors send).
    pub fabric_addr: SocketAddr,
    /// The switch processor's fabric address.
    pub switch_addr: SocketAddr,
    /// The 32-bit layout of TEIDs.
    pub layout: VidLayout,
    /// The 16-bit layout of L2TP tunnel and session ids, if L2TP is steered.
    pub l2tp_layout: Option<VidLayout>,
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
    /// no known VID; beyond, they are suppressed and counted
    /// ([`LineStats::non_existent_suppressed`]).
    pub non_existent: RateLimit,
    /// Bound of the Supported Extension Headers Notifications sent (TS 29.060 section 7.2.4)
    /// for requests naming no known VID that carry an unsupported comprehension-required
    /// extension header; beyond, suppressed and counted
    /// ([`LineStats::extension_headers_suppressed`]).
    pub extension_headers: RateLimit,
}

impl LineConfig {
    /// A configuration with no L2TP layout, queues of 4096 datagrams and 4096 events and the
    /// default
    /// [`RateLimit`] (100 per second, bursts of 20) for Error Indications, for Non-existent
    /// responses and for Supported Extension Headers Notifications, each.
    pub fn new(fabric_addr: SocketAddr, switch_addr: SocketAddr, layout: VidLayout) -> LineConfig {
        LineConfig {
            fabric_addr,
            switch_addr,
            layout,
            l2tp_layout: None,
            queue_limit: 4096,
            event_limit: 4096,
            error_indications: RateLimit::default(),
            non_existent: RateLimit::default(),
            extension_headers: RateLimit::default(),
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
    pub dropped: [u64; 5],
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
    /// Fabric datagrams refused (unparsable or unexpected).
    pub fabric_refused: u64,
    /// Error Indications sent for G-PDUs naming no known VID.
    pub error_indications: u64,
    /// Error Indications not sent because [`LineConfig::error_indications`] was exhausted.
    pub error_indications_suppressed: u64,
    /// Datagrams to the GTP-C port with a GTP version other than 1, passed to the switch
    /// processor (which answers Version Not Supported). Not counted in `to_switch`.
    pub other_version: u64,
    /// Non-existent responses sent for Update / Delete PDP Context Requests naming no known VID.
    pub non_existent: u64,
    /// Non-existent responses not sent because [`LineConfig::non_existent`] was exhausted.
    pub non_existent_suppressed: u64,
    /// Supported Extension Headers Notifications sent for requests naming no known VID that
    /// carry an unsupported comprehension-required extension header.
    pub extension_headers_notifications: u64,
    /// Such notifications not sent because [`LineConfig::extension_headers`] was exhausted.
    pub extension_headers_suppressed: u64,
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
        /// Its version.
        version: u64,
    },
}

/// A line interface endpoint (see the [module documentation](self)).
///
/// Call order: after [`LineInterface::handle_datagram`], drain [`LineInterface::poll_transmit`]
/// and [`LineInterface::poll_event`]. It has no timers ([`LineInterface::poll_timeout`] is always
/// `None`).
#[derive(Debug)]
pub struct LineInterface {
    config: LineConfig,
    table: Arc<VidTable>,
    stats: LineStats,
    out: Outbox<LineEvent>,
    error_indications: TokenBucket,
    non_existent: TokenBucket,
    extension_headers: TokenBucket,
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
    /// Checks the configuration: a 32-bit TEID layout, a 16-bit L2TP layout, non-zero queues.
    pub fn new(config: LineConfig, now: Instant) -> Result<LineInterface, ConfigError> {
        common::check_layouts(&config.layout, config.l2tp_layout.as_ref())?;
        common::non_zero(ConfigField::QueueLimit, config.queue_limit == 0)?;
        common::non_zero(ConfigField::EventLimit, config.event_limit == 0)?;
        Ok(LineInterface {
            out: Outbox::new(config.queue_limit, config.event_limit),
            error_indications: TokenBucket::new(config.error_indications, now),
            non_existent: TokenBucket::new(config.non_existent, now),
            extension_headers: TokenBucket::new(config.extension_headers, now),
            table: Arc::new(VidTable::new(config.layout, config.l2tp_layout)),
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

    /// The current table snapshot, to share with other cores.
    pub fn table(&self) -> Arc<VidTable> {
        Arc::clone(&self.table)
    }

    /// Replaces the table with `entries` at `version` if it is newer than the one held; returns
    /// whether it was applied. (The fabric's table updates arrive through here.)
    pub fn apply_update(&mut self, version: u64, entries: &[TableEntry]) -> bool {
        if version <= self.table.version {
            self.stats.updates_stale += 1;
            return false;
        }
        self.table = Arc::new(VidTable::with_entries(
            self.config.layout,
            self.config.l2tp_layout,
            version,
            entries,
        ));
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
    /// send outside.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        if to == self.config.fabric_addr {
            return self.handle_fabric(from, data);
        }
        let verdict = if to.port() == GTP_C_PORT && gtp::version(data).is_some_and(|v| v != 1) {
            self.stats.other_version += 1;
            None
        } else {
            Some(self.table.steer(data))
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
                if reason == DropReason::UnknownVid {
                    if let Some(teid) = g_pdu_teid(data) {
                        self.error_indication(now, from, to, teid);
                    } else if to.port() == GTP_C_PORT {
                        self.non_existent(now, from, to, data);
                    }
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

    /// Queues one answer of the gateway's own to `dst`, sent from `src` (the address the request
    /// reached): whether it was queued (it is not when it cannot be encoded or the outbox is full).
    fn answer(&mut self, dst: SocketAddr, src: SocketAddr, m: &Message<'_>) -> bool {
        let Ok(payload) = m.to_vec() else {
            return false;
        };
        self.push(common::transmit(src, dst, payload)).is_ok()
    }

    fn handle_fabric(&mut self, from: SocketAddr, data: &[u8]) -> Result<(), InputError> {
        let msg = match FabricMessage::parse(data) {
            Ok(m) => m,
            Err(e) => {
                self.stats.fabric_refused += 1;
                return Err(e.into());
            }
        };
        match msg {
            FabricMessage::TableUpdate { version, entries } if from == self.config.switch_addr => {
                self.apply_update(version, &entries);
                let ack = FabricMessage::TableAck {
                    version: self.table.version,
                };
                let (src, dst) = (self.config.fabric_addr, self.config.switch_addr);
                self.push(common::fabric_transmit(src, dst, &ack))
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

    /// No timers: a no-op.
    pub fn handle_timeout(&mut self, _now: Instant) {}

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

    /// Always `None`: the line interface has no timers.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(event_limit: usize) -> LineConfig {
        let fabric = SocketAddr::from(([172, 16, 0, 1], 4000));
        let switch = SocketAddr::from(([172, 16, 0, 100], 4000));
        let mut c = LineConfig::new(fabric, switch, VidLayout::default());
        c.event_limit = event_limit;
        c
    }

    /// The event queue is bounded by `event_limit` (issue 13: every queue bounded by
    /// configuration, what happens when full counted): the oldest event goes, and is counted.
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
