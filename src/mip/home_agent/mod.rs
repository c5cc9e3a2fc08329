//! One Home Agent of a virtual-HA cluster, sans IO.

mod aaa;
mod admit;
mod apply;
mod batch;
#[cfg(test)]
mod compact_tests;
mod config;
mod dynamic;
mod effects;
mod event;
mod notices;
mod pool;
mod register;
mod removed;
mod replicate;
mod retired;
mod revoke;
mod routes;
mod security;
mod takeover;
#[cfg(test)]
mod testkit;
mod tunnel;
#[cfg(test)]
mod tunnel_tests;

use crate::replica::Peers;
use aaa::{Aaa, Sealer};
pub use aaa::{AaaConfig, AaaKey, DenyReason, KeyError, KeyRequestId};
pub use batch::Datagram;
pub use config::{
    ConfigError, ConfigField, DynamicHaPolicy, ForwardMode, HomeAgentConfig, Member, MobileNodeKey,
};
pub(crate) use config::{check_key, check_peer, check_spi};
pub use event::Event;
use notices::Notices;
use pool::HomePool;
use removed::Removed;
use replicate::Channel;
use retired::Retired;
use revoke::Revocations;
pub use revoke::Revoked;
use routes::Route;
use security::{MnSa, MnSas, SlotHint};
use takeover::Takeovers;
pub use tunnel::{ReverseTunnelling, TunnelConfig};

use super::MnId;
use super::cluster::{
    self, Body, ClusterError, ClusterMac, ClusterMessage, Item, Record, RecordState, ReplayWindow,
};
use super::wire::auth::{
    AUTHENTICATOR_LEN, AuthAlgorithm, FIRST_USABLE_SPI, PreparedKey, SecurityAssociation,
};
use super::wire::replay::{self, NtpTime};
use super::wire::{
    Builder, Extension, ExtensionType, Header, LIFETIME_INFINITE, Message, MessageType, PORT,
    Reply, ReplyCode, Request, Summary, WireError, append_auth_prepared,
};
use crate::health::{
    self, ClusterKey, Embedded, HealthConfig, HealthError, HealthEvent, Load, MonitorConfig,
    NodeId, NodeState, Policy, Role,
};
use crate::io::{Outbox, Overflow, RateLimit, TokenBucket};
use crate::mip::binding::{
    Binding, BindingState, BindingTable, Block, CareOf, CareOfs, Expiry, Hasher, Pending,
    PendingStage, TableError, TunnelChange,
};
use crate::replica::Entry;
use crate::{MacAddr, Rng, Transmit};
use arrayvec::ArrayVec;
use ipnetwork::{IpNetwork, Ipv4Network};
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

const REQUEST_TYPE: u8 = MessageType::REGISTRATION_REQUEST.0;
const REPLY_TYPE: u8 = MessageType::REGISTRATION_REPLY.0;
const REVOCATION_TYPE: u8 = MessageType::REGISTRATION_REVOCATION.0;
const REVOCATION_ACK_TYPE: u8 = MessageType::REGISTRATION_REVOCATION_ACK.0;

/// Why a datagram was refused. State is unchanged, except that a refusal (a Registration Reply
/// with the code) may have been queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Not a well-formed registration message (no reply possible).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A request refused with this code (the reply is queued).
    #[error("request refused: {0}")]
    Refused(ReplyCode),
    /// A reply with no matching temporary binding: dropped and counted, never relayed.
    #[error("reply matches no temporary binding")]
    UnmatchedReply,
    /// A reply matching a temporary binding but without a valid MN-HA authenticator: dropped
    /// and counted, never relayed; the temporary binding stays.
    #[error("reply failed authentication")]
    UnauthenticatedReply,
    /// A refused cluster message.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A refused heartbeat.
    #[error(transparent)]
    Health(#[from] HealthError),
    /// A cluster message from a node that is not a member.
    #[error("cluster message from non-member {0}")]
    NotMember(u32),
    /// RFC 3543: a Registration Revocation or Acknowledgement without a valid FA-HA
    /// authenticator from a foreign agent this HA has an association with (or with the A bit
    /// from a foreign agent): dropped and counted.
    #[error("revocation message failed FA-HA authentication")]
    UnauthenticatedRevocation,
    /// RFC 3543: an Acknowledgement for no outstanding revocation, or a Revocation older than
    /// the last one from its foreign agent: dropped and counted.
    #[error("revocation message matches nothing outstanding")]
    UnmatchedRevocation,
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HaStats {
    /// Requests received from foreign agents or mobile nodes.
    pub requests: u64,
    /// Requests forwarded to a second HA.
    pub forwarded: u64,
    /// Requests served here (as second HA or alone).
    pub served: u64,
    /// Deregistered mobile nodes' last identifications dropped before they went stale, to make
    /// room (the table holds at most `max_bindings`; RFC 5944 section 5.7, `retired.rs`): a
    /// replay of such a node's last request within the tolerance is no longer recognised.
    pub retired_evicted: u64,
    /// Replies relayed to foreign agents.
    pub relayed: u64,
    /// Replies with no temporary binding, dropped.
    pub unmatched_replies: u64,
    /// Replies matching a temporary binding that failed authentication, dropped.
    pub unauthenticated_replies: u64,
    /// Acceptances applied after a 133 from the same second HA for the same request had been
    /// relayed (the 133 answered a network copy of the forwarded request).
    pub superseded_refusals: u64,
    /// Refusals sent, by any code.
    pub refusals: u64,
    /// Refusals of unauthenticated or malformed requests not sent: beyond
    /// [`HomeAgentConfig::refusals`].
    pub refusals_suppressed: u64,
    /// Cluster messages refused (MAC, replay, malformed, non-member, a sealed key that does not
    /// open).
    pub cluster_refused: u64,
    /// Replication batches refused whole because a record's sealed MN-HA key did not open
    /// ([`ClusterError::KeyRefused`]; also counted in `cluster_refused`).
    pub cluster_keys_refused: u64,
    /// Replicated items applied.
    pub replicas_applied: u64,
    /// Replicated bindings not stored because the table was full.
    pub replicas_refused: u64,
    /// Bindings another member's claim re-pointed here away from a live server that wins the
    /// claim (an asymmetric partition, `replicate::displaces`) whose former server was not
    /// noted because `max_bindings` notes were held already: should the claimant's next bulk
    /// sync no longer name such a binding, it is removed here rather than given back to that
    /// server.
    pub displaced_not_noted: u64,
    /// Replicas of a binding removed by its serving member that came from another member (a
    /// first HA's record sent before it applied the removal): not newer than the removal, they
    /// changed nothing (the serving member answers the sender with the removal). `removed.rs`.
    pub replicas_stale: u64,
    /// Removed bindings' last identifications dropped before their lifetime ended, to make room
    /// (at most `max_bindings` are remembered): a late replica of such a binding is no longer
    /// recognised as stale.
    pub removed_evicted: u64,
    /// Transmits dropped because the queue was full.
    pub dropped_transmits: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
    /// RFC 4433 requests for dynamic home agent assignment taken by this HA as first HA.
    pub dynamic_ha_requests: u64,
    /// Of those, the ones redirected to another member (143 with a Redirected HA extension).
    pub dynamic_ha_redirects: u64,
    /// RFC 3543 Registration Revocations sent (first transmissions).
    pub revocations_sent: u64,
    /// Their retransmissions.
    pub revocation_retransmits: u64,
    /// Revocations acknowledged.
    pub revocations_acked: u64,
    /// Revocations given up after every retransmission.
    pub revocations_abandoned: u64,
    /// Revocations not negotiated or not sent because a bound was reached
    /// ([`HomeAgentConfig::max_revocations`], or `max_bindings` negotiated bindings).
    pub revocations_saturated: u64,
    /// Bindings this HA took over (RFC 3543 section 4.1) but could not serve (their tunnel's
    /// encapsulation or reverse tunnelling is not offered here, [`TunnelConfig`]): revoked rather
    /// than served or dropped silently.
    pub takeover_revoked: u64,
    /// Takeover revocations that waited out [`HomeAgentConfig::takeover_revocation_grace`]
    /// (each then revoked, or cancelled).
    pub takeover_graced: u64,
    /// Of those, cancelled: the member they were taken over from was seen Up again within the
    /// grace (a false Down), or the binding was served again (re-registered, handed back).
    pub takeover_grace_cancelled: u64,
    /// Takeover revocations done at once because `max_bindings` already waited.
    pub takeover_grace_full: u64,
    /// Registration Revocations taken from foreign agents.
    pub revocations_from_fa: u64,
    /// Registration Revocations from a foreign agent that reached a member not serving the
    /// binding, forwarded by it over the cluster link to the serving member (RFC 3543 section
    /// 4.2 through the virtual address).
    pub revocations_forwarded: u64,
    /// Revocation messages refused (authentication, replay, nothing outstanding).
    pub revocation_refused: u64,
    /// Keys asked of the caller ([`Event::KeyRequest`]; a copy of a parked request asks nothing).
    pub key_requests: u64,
    /// Requests for an unknown key refused with 130: beyond [`AaaConfig::max_pending`], or the
    /// provided key not held (beyond [`AaaConfig::max_keys`]).
    pub key_requests_refused: u64,
    /// Parked requests refused with 130 after [`AaaConfig::timeout`].
    pub key_requests_expired: u64,
    /// Keys provided ([`HomeAgent::provide_key`]).
    pub keys_provided: u64,
    /// Keys denied ([`HomeAgent::deny`]).
    pub keys_denied: u64,
}

/// One Home Agent of a cluster sharing a virtual HA address. See the [module docs](super) for the
/// roles.
///
/// Call order: after [`HomeAgent::handle_datagram`], [`HomeAgent::handle_timeout`] or a command,
/// drain [`HomeAgent::poll_transmit`], then [`HomeAgent::poll_event`], then read
/// [`HomeAgent::poll_timeout`]. Time passed in never goes backwards; an early `handle_timeout` is
/// a no-op. Demultiplexing on port 434: health heartbeats, cluster messages ([`cluster`]) and
/// registration messages.
///
/// Bounds: bindings (`max_bindings`, 130), pending requests (`max_pending`, 130), simultaneous
/// bindings (`max_simultaneous`, 135), queued transmits and events, replication queues (bulk sync
/// beyond, which keeps the queued takeover decisions if they fit), layer-2 notices
/// (`max_pending`), takeover state (per member at most one applied, one deferred and one returned
/// decision, each remembering at most `max_bindings` mobile nodes) and incoming bulk-sync marks
/// (per peer at most one per table slot). Requests from unknown mobile nodes or with a bad
/// authenticator are refused (131) before any state is created, so a flood of spoofed requests
/// cannot fill a table; the refusals of such requests are rate-limited
/// ([`HomeAgentConfig::refusals`], the rest counted in [`HaStats::refusals_suppressed`]).
/// Replicated bindings are held to the same bounds as local ones (`max_simultaneous`,
/// `max_lifetime`, `pending_timeout`).
///
/// Only what the MN-HA authenticator covers decides a binding (RFC 5944 section 3.5.1): an NAI
/// after it is ignored; exactly one authorization-enabling extension is accepted (131 otherwise,
/// section 3.8.2.1); and the home address, the NAI and the binding a request would change must
/// all belong to the mobile node whose key verified it (131 otherwise).
#[derive(Debug)]
pub struct HomeAgent {
    node: NodeId,
    incarnation: u32,
    vip: Ipv4Addr,
    mode: ForwardMode,
    notices_on: bool,
    dynamic_ha: DynamicHaPolicy,
    key: ClusterMac,
    members: BTreeMap<NodeId, Member>,
    /// This member's own address, from `members` (which never changes): looked up once, not
    /// per request.
    own_ip: Option<Ipv4Addr>,
    /// The other members' MACs and ids, in `members`' order: whose frame a layer-2 frame is.
    peer_macs: Vec<(MacAddr, NodeId)>,
    /// This member has backups (its entry in `members` names some): bindings it serves or
    /// relays are replicated.
    has_backups: bool,
    monitor: Embedded,
    /// The binding table's [`BindingTable::owners_changes`] when this HA's load was last set in
    /// `monitor` ([`HomeAgent::update_load`]).
    load_for: Option<u64>,
    table: BindingTable,
    sas: MnSas,
    fa_sas: HashMap<Ipv4Addr, MnSa, Hasher>,
    pool: HomePool,
    max_lifetime: u16,
    max_simultaneous: usize,
    pending_timeout: Duration,
    tolerance: Duration,
    wall_clock: Duration,
    start: Instant,
    rng: Rng,
    pn: u64,
    windows: HashMap<NodeId, ReplayWindow>,
    channels: Peers<Item>,
    /// Peers seen Down since they were last Up: their return is a rejoin (a bulk sync). At most
    /// one per member.
    seen_down: BTreeSet<NodeId>,
    takeover: Takeovers,
    rto: Duration,
    max_queue: usize,
    notices: Notices,
    route: Route,
    revocations: Revocations,
    /// Last identifications of deregistered mobile nodes (`retired.rs`).
    retired: Retired,
    /// Bindings removed by their server, against late replicas (`removed.rs`).
    removed: Removed,
    tunnels: TunnelConfig,
    /// Keys from AAA ([`HomeAgentConfig::aaa`]).
    aaa: Option<Aaa>,
    /// Seals and opens the AAA keys replicated records carry.
    sealer: Sealer,
    /// A parked request is handled again (it was counted when it came).
    replaying: bool,
    /// Where replies to the request being processed leave from: the address it was sent to
    /// (RFC 5944 section 3.8.3.1).
    reply_src: SocketAddr,
    transmits: Outbox<Transmit>,
    events: Outbox<Event>,
    /// The bucket of [`HomeAgentConfig::refusals`].
    refusal_bucket: TokenBucket,
    stats: HaStats,
    /// [`HomeAgent::handle_batch`]'s state (`batch.rs`).
    batch: batch::Batch,
    /// The heap blocks of bindings whose answered pending requests were all they held, for the
    /// next forwarded ones ([`HomeAgent::hold_pending`]): at most [`SPARE_PENDING`].
    spare_pending: ArrayVec<Block, SPARE_PENDING>,
    /// The buffer the payloads of relayed and forwarded datagrams and of replies are copied into
    /// and cut from ([`HomeAgent::payload_of`]): no allocation per datagram.
    out_buf: ::bytes::BytesMut,
    /// The buffers of replies already copied out, for the next replies
    /// ([`reply_buffer`]): at most [`SPARE_REPLIES`].
    spare_replies: ArrayVec<Vec<u8>, SPARE_REPLIES>,
    /// The time of the input being handled (or of the last one): what is left of a lifetime
    /// is reported from it ([`HomeAgent::report_tunnels`]).
    at: Instant,
    /// The binding table's tunnel changes being reported (its buffer kept between reports).
    tunnel_changes: Vec<TunnelChange>,
    /// The tunnels a takeover step made this HA serve, for its [`Event::TakenOver`]
    /// ([`HomeAgent::apply_effects`]).
    taken: Vec<(crate::mip::binding::Tunnel, Option<Instant>)>,
}

/// The buffer [`HomeAgent::payload_of`] cuts payloads from: some sixty registration messages
/// before the payloads cut from it must all be dropped for its octets to be used again (else a
/// new one is allocated, and the old one freed with its last payload).
const OUT_BUFFER: usize = 4096;

/// How many reply buffers a Home Agent keeps for the next replies: a group's replies, signed
/// together after it (`batch.rs`).
const SPARE_REPLIES: usize = 2 * crate::io::md5x::GROUP;

/// How many answered pending requests' allocations a Home Agent keeps for the next forwarded
/// ones: a batch's worth ([`crate::io::md5x::GROUP`]).
const SPARE_PENDING: usize = crate::io::md5x::GROUP;

/// An empty buffer of at least `cap` octets for a reply: one of the `spare` ones kept
/// ([`HomeAgent::reply_payload`]) when there is one.
fn reply_buffer(spare: &mut ArrayVec<Vec<u8>, SPARE_REPLIES>, cap: usize) -> Vec<u8> {
    match spare.pop() {
        Some(mut b) => {
            b.reserve(cap);
            b
        }
        None => Vec::with_capacity(cap),
    }
}

/// The IPv4 transport address (Mobile IPv4 runs over IPv4 only; an IPv6 one maps to 0.0.0.0).
fn sock4(a: SocketAddr) -> SocketAddrV4 {
    match a {
        SocketAddr::V4(v) => v,
        SocketAddr::V6(v) => SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, v.port()),
    }
}

fn v4(a: SocketAddr) -> Ipv4Addr {
    match a {
        SocketAddr::V4(v) => *v.ip(),
        SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

impl HomeAgent {
    /// A Home Agent; it advertises the virtual network at once ([`Event::AdvertiseRoute`]).
    /// Refused: a member list without this node, zero bounds, and security associations with a
    /// reserved SPI (0-255, RFC 5944 section 1.6).
    pub fn new(cfg: HomeAgentConfig, now: Instant) -> Result<HomeAgent, ConfigError> {
        let members = cfg.validate()?;
        let monitor = Embedded::new(monitor_config(&cfg, &members), None, now)?;
        // The tables' hash seed comes from its own stream, so the protocol's random choices do
        // not depend on it.
        let rng = Rng::from_config(cfg.seed)?;
        let hash_seed = rng.other_stream(0x6d69_705f_6861_7368).next_u64();
        let hasher = Hasher::with_seed(hash_seed);
        let sealer = Sealer::new(&cfg.cluster_key, cfg.node, cfg.incarnation, &rng);
        let (sas, fa_sas) = security::security_associations(&cfg, &hasher);
        let channels = Peers::new(members.keys().copied().filter(|n| *n != cfg.node));
        let own_ip = members.get(&cfg.node).map(|m| v4(m.addr));
        let has_backups = members
            .get(&cfg.node)
            .is_some_and(|m| !m.backups.is_empty());
        let peer_macs = members
            .values()
            .filter(|m| m.node != cfg.node)
            .map(|m| (m.mac, m.node))
            .collect();
        let mut ha = HomeAgent {
            node: cfg.node,
            incarnation: cfg.incarnation,
            vip: cfg.virtual_address,
            mode: cfg.mode,
            notices_on: cfg.layer2_notices,
            dynamic_ha: cfg.dynamic_ha,
            key: ClusterMac::new(&cfg.cluster_key),
            members,
            own_ip,
            peer_macs,
            has_backups,
            monitor,
            load_for: None,
            table: BindingTable::with_seed(cfg.max_bindings, cfg.max_pending, hash_seed),
            sas,
            fa_sas,
            pool: HomePool::new(cfg.pool, hasher.clone()),
            max_lifetime: cfg.max_lifetime,
            max_simultaneous: cfg.max_simultaneous,
            pending_timeout: cfg.pending_timeout,
            tolerance: cfg.replay_tolerance,
            wall_clock: cfg.wall_clock,
            start: now,
            rng,
            pn: 0,
            windows: HashMap::new(),
            channels,
            seen_down: BTreeSet::new(),
            takeover: Takeovers::new(
                cfg.health
                    .interval
                    .saturating_mul(cfg.health.misses_down.saturating_add(1))
                    .saturating_mul(2),
            ),
            rto: cfg.replication_rto,
            max_queue: cfg.max_replication_queue,
            revocations: Revocations::new(&cfg, &hasher),
            retired: Retired::new(cfg.max_bindings, &hasher),
            removed: Removed::new(cfg.max_bindings, &hasher),
            tunnels: cfg.tunnels,
            aaa: cfg.aaa.map(|c| Aaa::new(c, &hasher)),
            sealer,
            replaying: false,
            notices: Notices::new(hasher, cfg.max_pending, cfg.pending_timeout),
            route: Route::new(cfg.virtual_network),
            reply_src: SocketAddr::V4(SocketAddrV4::new(cfg.virtual_address, PORT)),
            transmits: Outbox::new(cfg.max_transmits, Overflow::DropNewest),
            events: Outbox::new(cfg.max_events, Overflow::DropOldest),
            refusal_bucket: TokenBucket::new(cfg.refusals, now),
            stats: HaStats::default(),
            batch: batch::Batch::default(),
            spare_pending: ArrayVec::new(),
            out_buf: ::bytes::BytesMut::new(),
            spare_replies: ArrayVec::new(),
            at: now,
            tunnel_changes: Vec::new(),
            taken: Vec::new(),
        };
        let server = crate::mip::binding::Server::new(ha.node, ha.vip, ha.tunnels);
        ha.table.report_tunnels_of(server);
        ha.push_event(ha.route.announcement());
        Ok(ha)
    }

    // ----- queries -----

    /// This HA's node id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Counters.
    pub fn stats(&self) -> HaStats {
        HaStats {
            dropped_transmits: self.transmits.dropped(),
            events_dropped: self.events.dropped(),
            ..self.stats
        }
    }

    /// The binding table.
    pub fn bindings(&self) -> &BindingTable {
        &self.table
    }

    /// The binding of a mobile node, by home address or NAI.
    pub fn binding(&self, home_address: Ipv4Addr, nai: Option<&[u8]>) -> Option<&Binding> {
        self.table
            .find(home_address, nai)
            .and_then(|s| self.table.get(s))
    }

    /// Bindings this HA serves (it is their second HA), permanent ones only.
    pub fn served(&self) -> usize {
        self.table
            .iter()
            .filter(|(_, b)| b.second_ha == self.node && b.state() == BindingState::Permanent)
            .count()
    }

    /// A peer's health as this HA sees it (this HA itself is always Up).
    pub fn peer_state(&self, node: NodeId) -> NodeState {
        effects::state_of(&self.monitor, self.node, node)
    }

    /// A peer's last reported load (this HA's own for its own id).
    pub fn peer_load(&self, node: NodeId) -> Option<Load> {
        self.monitor.load(node)
    }

    /// Whether this HA currently advertises the virtual network.
    pub fn is_advertising(&self) -> bool {
        self.route.is_advertising()
    }

    /// Replication items not yet acknowledged by `peer` (queued or in flight).
    pub fn replication_backlog(&self, peer: NodeId) -> usize {
        self.channels.get(&peer).map_or(0, Channel::backlog)
    }

    // ----- queues -----

    /// Queues `e`, after the tunnel changes of the binding table not yet reported (in the order
    /// they happened).
    fn push_event(&mut self, e: Event) {
        self.report_tunnels(tunnel::Report::Moved);
        self.events.push(e);
    }

    fn push_transmit(&mut self, t: Transmit) {
        self.transmits.push(t);
    }

    /// `data` copied into the kept output buffer and cut off as a datagram's payload: the
    /// buffer's own octets again once every payload cut from it is dropped, else a new buffer
    /// (not one allocation per datagram).
    fn payload_of(&mut self, data: &[u8]) -> ::bytes::Bytes {
        if self.out_buf.capacity() == 0 {
            self.out_buf = ::bytes::BytesMut::with_capacity(OUT_BUFFER);
        }
        self.out_buf.reserve(data.len());
        self.out_buf.extend_from_slice(data);
        self.out_buf.split().freeze()
    }

    /// A reply's octets as a datagram's payload ([`HomeAgent::payload_of`]); the emptied
    /// buffer is kept for the next reply ([`reply_buffer`]).
    fn reply_payload(&mut self, mut bytes: Vec<u8>) -> ::bytes::Bytes {
        let p = self.payload_of(&bytes);
        bytes.clear();
        let _ = self.spare_replies.try_push(bytes);
        p
    }

    /// Keeps the heap block of an answered pending request for the next forwarded one (up to
    /// [`SPARE_PENDING`]; beyond, it is freed).
    fn spare(&mut self, p: Option<Block>) {
        if let Some(p) = p {
            let _ = self.spare_pending.try_push(p);
        }
    }

    /// Holds `pending` in the binding at `slot`, or in a new temporary binding (the first HA's
    /// or a replica of one) when the mobile node has none.
    fn hold_pending(
        &mut self,
        slot: Option<u32>,
        home_address: Ipv4Addr,
        nai: Option<Box<[u8]>>,
        pending: Pending,
    ) -> Result<u32, TableError> {
        let block = self.spare_pending.pop();
        let (res, unused) = match slot {
            Some(s) => match self.table.update(s, |b| b.set_pending_in(pending, block)) {
                Ok(Some(unused)) => (Ok(s), unused),
                Ok(None) => (Ok(s), None),
                Err(e) => (Err(e), None),
            },
            None => {
                let mut b = Binding::new(
                    home_address,
                    pending.first_ha,
                    pending.second_ha,
                    pending.fa,
                    0,
                );
                b.set_nai(nai);
                let unused = b.set_pending_in(pending, block);
                (self.insert_binding(b), unused)
            }
        };
        self.spare(unused);
        res
    }

    fn vip_sock(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.vip, PORT))
    }

    /// `now` on the wall clock (the batch's own, converted once, when `now` is its time).
    fn ntp_now(&self, now: Instant) -> NtpTime {
        match self.batch.clock {
            Some((t, ntp)) if t.at() == now => ntp,
            _ => self.ntp_at(now),
        }
    }

    /// `now` on the wall clock, converted.
    fn ntp_at(&self, now: Instant) -> NtpTime {
        NtpTime::from_unix(self.wall_clock + now.saturating_duration_since(self.start))
    }

    /// `CareOf::new(address, after.map(|d| now + d))`: through the batch's `now` converted once
    /// ([`TickAt`]), when `now` is its time.
    fn care_of_after(&self, now: Instant, address: Ipv4Addr, after: Option<Duration>) -> CareOf {
        match (after, self.batch.clock) {
            (Some(d), Some((t, _))) if t.at() == now => t.care_of(address, d),
            (after, _) => CareOf::new(address, after.map(|d| now + d)),
        }
    }

    /// Identifications at or below this are outside the timestamp tolerance at `now` (the
    /// check refuses a difference greater than the tolerance, so the boundary itself is inside).
    fn stale_identification(&self, now: Instant) -> u64 {
        let t = u64::try_from(replay::ntp_units(self.tolerance)).unwrap_or(u64::MAX);
        self.ntp_now(now).0.saturating_sub(t.saturating_add(1))
    }

    fn send_cluster(&mut self, to: NodeId, body: Body<'_>) {
        let Some(addr) = self.members.get(&to).map(|m| m.addr) else {
            return;
        };
        self.pn += 1;
        let msg = ClusterMessage {
            sender: self.node,
            incarnation: self.incarnation,
            pn: self.pn,
            body,
        };
        let bytes = msg.to_vec_with(&self.key);
        self.push_transmit(Transmit::to(addr, bytes));
    }

    // ----- input -----

    /// Feeds one datagram received on port 434 (`to` is the address it was sent to: the virtual
    /// address or this HA's own).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        self.handle_frame(now, None, from, to, data)
    }

    /// Feeds one frame received on port 434 with its link-layer source, when the caller knows it.
    /// In layer-2 mode a Registration Request whose source MAC is another member's was forwarded
    /// by that member: this HA serves it as the second HA and relays the reply through it, with
    /// no [`Body::Notice`] needed; a Registration Reply from a member's MAC names the HA that
    /// served the request. The source MAC is trusted like the shared link it comes from: it only
    /// chooses the member a reply goes back through and the second HA the first HA records; the
    /// request and the reply themselves are still authenticated (MN-HA), the request checked for
    /// replay.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        link_src: Option<MacAddr>,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        self.at = now;
        self.handle_frame_parsed(now, link_src, from, to, data, None)
    }

    /// [`HomeAgent::handle_frame`], with `parsed` the [`Summary`] of `data` when the caller
    /// already parsed it (`batch.rs`): a registration message is then not parsed again.
    fn handle_frame_parsed(
        &mut self,
        now: Instant,
        link_src: Option<MacAddr>,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
        parsed: Option<&Summary<'_>>,
    ) -> Result<(), InputError> {
        if let Some(r) = self.monitor.handle_datagram(now, from, data) {
            self.drain_health(now);
            return r.map_err(InputError::Health);
        }
        if cluster::is_cluster_message(data) {
            let r = self.handle_cluster(now, data);
            if r.is_err() {
                self.stats.cluster_refused += 1;
            }
            return r;
        }
        // At layer 2, a frame from another member's MAC was sent by that member.
        let member = match (self.mode, link_src) {
            (ForwardMode::Layer2, Some(mac)) => self
                .peer_macs
                .iter()
                .find(|(m, _)| *m == mac)
                .map(|(_, n)| *n),
            _ => None,
        };
        match data.first() {
            Some(&REQUEST_TYPE) => self.request_parsed(now, from, to, data, member, parsed),
            Some(&REPLY_TYPE) => self.reply_parsed(now, data, member, false, parsed),
            Some(&REVOCATION_TYPE) => self.handle_revocation_at(now, from, data, false),
            Some(&REVOCATION_ACK_TYPE) => self.handle_revocation_ack(from, data),
            // Not a registration message: the header parser says why.
            _ => Err(InputError::Wire(Header::parse(data).err().unwrap_or(
                WireError::UnsupportedMessage {
                    offset: 0,
                    value: data.first().copied().unwrap_or(0),
                },
            ))),
        }
    }

    fn handle_cluster(&mut self, now: Instant, data: &[u8]) -> Result<(), InputError> {
        let msg = ClusterMessage::parse_with(data, &self.key)?;
        let sender = msg.sender;
        if sender == self.node || !self.members.contains_key(&sender) {
            return Err(InputError::NotMember(sender.0));
        }
        let w = self.windows.entry(sender).or_default();
        if !w.check(msg.incarnation, msg.pn) {
            return Err(ClusterError::Replayed {
                node: sender.0,
                pn: msg.pn,
            }
            .into());
        }
        // Every sealed key of a batch opens before anything is accepted or applied.
        let keys = match &msg.body {
            Body::Replicate { items, .. } => {
                let keys = self.open_keys(items)?;
                self.windows
                    .entry(sender)
                    .or_default()
                    .accept(msg.incarnation, msg.pn);
                keys
            }
            _ => {
                w.accept(msg.incarnation, msg.pn);
                Vec::new()
            }
        };
        match msg.body {
            // A foreign agent's Registration Revocation that reached another member
            // (`revoke.rs`): the serving member acts on it.
            Body::Forward { fa, request } if request.first() == Some(&REVOCATION_TYPE) => {
                self.handle_revocation_at(now, fa, request, true)
            }
            Body::Forward { fa, request } => {
                let to = self.vip_sock();
                self.handle_request(now, fa, to, request, Some(sender))
            }
            Body::Relay { reply } => self.handle_reply(now, reply, Some(sender), true),
            Body::Notice {
                home_address,
                nai,
                identification,
            } => {
                let Some(mn) = MnId::of(home_address, nai) else {
                    return Ok(());
                };
                self.notices
                    .insert(now, mn, identification, sender)
                    .map_err(|_| InputError::Refused(ReplyCode::HA_INSUFFICIENT_RESOURCES))
            }
            Body::Replicate { seq, items } => {
                if self.channels.channel(sender).receive(seq) {
                    for (item, key) in items.into_iter().zip(keys) {
                        if let (Entry::Item(Item::Upsert(r)), Some(k)) = (&item, &key) {
                            self.hold_replicated_key(now, r, k);
                        }
                        self.apply(now, sender, item);
                    }
                }
                self.send_cluster(sender, Body::Ack { seq });
                // What the batch made this HA replicate (a yield, a handover) goes out now.
                self.pump(now);
                Ok(())
            }
            Body::Ack { seq } => {
                if let Some(ch) = self.channels.get_mut(&sender) {
                    ch.acked(seq);
                }
                self.pump(now);
                Ok(())
            }
        }
    }

    fn update_load(&mut self) {
        // Nothing this HA serves changed since the load was last set (its capacity never
        // changes, and only this sets its own load in the monitor): the same load.
        let changes = self.table.owners_changes();
        if self.load_for == Some(changes) {
            return;
        }
        self.load_for = Some(changes);
        let cap = self.table.max_bindings().min(u32::MAX as usize) as u32;
        // The load other HAs select by is what this HA serves, not the replicas it keeps for them
        // (with full-mesh backups every HA holds every binding).
        let served = self.table.owned_by(self.node);
        let load = Load::new(served.min(u32::MAX as usize) as u32, cap);
        // Most registrations refresh a binding and change nothing here.
        if self.monitor.load(self.node) != Some(load) {
            self.monitor.set_load(load);
        }
    }

    fn drain_health(&mut self, now: Instant) {
        while let Some(t) = self.monitor.poll_transmit() {
            self.push_transmit(t);
        }
        while let Some(e) = self.monitor.poll_event() {
            match e {
                HealthEvent::Up { node } => {
                    self.push_event(Event::PeerUp { node });
                    self.cancel_graced(node);
                    self.forget_takeover(node);
                    // A backup (re)joins (first heard, or back from Down): send it everything
                    // in bulk. Back from Suspect it missed nothing (nothing was sent to it): the
                    // batch in flight and the queue go on (a restarted sync would hold them back
                    // behind a table walk at each Suspect under loss).
                    let rejoined = self.seen_down.remove(&node)
                        || self.channels.get_mut(&node).is_none_or(|c| c.epoch() == 0);
                    if rejoined && self.backups().contains(&node) {
                        self.restart_bulk(node);
                    }
                    self.pump(now);
                }
                HealthEvent::Restarted { node, .. } => {
                    self.windows.remove(&node);
                    // Its state is gone: a takeover of it stands.
                    self.takeover.restarted(node);
                    self.revoke_graced_now(now, node);
                    let is_backup = self.backups().contains(&node);
                    if let Some(ch) = self.channels.get_mut(&node) {
                        ch.reset_incoming();
                        if is_backup {
                            ch.restart_bulk();
                        }
                    }
                }
                HealthEvent::Down { node } => {
                    if self.members.contains_key(&node) {
                        self.seen_down.insert(node);
                    }
                    self.push_event(Event::PeerDown { node });
                    self.on_down(now, node);
                }
                HealthEvent::Suspect { .. } => {}
            }
        }
    }

    /// Lets due timers fire: heartbeats and failure detection, temporary and permanent binding
    /// expiry, replication retransmissions, layer-2 notices, key requests.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.at = now;
        self.update_load();
        self.monitor.handle_timeout(now);
        self.drain_health(now);
        // What changed before the expiries is not theirs to report.
        self.report_tunnels(tunnel::Report::Moved);
        while let Some(x) = self.table.pop_expired(now) {
            match x {
                Expiry::TemporaryFreed(b) => {
                    if let Some(mn) = MnId::of(b.home_address, b.nai()) {
                        self.push_event(Event::TemporaryExpired { mn });
                    }
                }
                Expiry::LifetimeEnded(b) => {
                    self.pool.release(&b.home_address);
                    if b.second_ha == self.node {
                        self.replicate_remove(b.home_address, b.nai().map(Box::from));
                    }
                }
                Expiry::CareOfExpired { .. } | Expiry::PendingCleared(_) => {}
            }
            // The tunnels served to the care-of addresses that expired (RFC 5944 section
            // 3.8.3.1), as the table reports them: a replica's expiry reports none.
            self.report_tunnels(tunnel::Report::Expired);
        }
        self.notices.expire(now);
        self.revocation_timeouts(now);
        self.grace_timeouts(now);
        self.key_request_timeouts(now);
        self.retransmit(now);
        self.pump(now);
        self.update_load();
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        // The tunnel changes not yet reported come first: out of line, so the common call (none)
        // makes no call.
        if self.table.has_tunnel_changes() {
            return self.poll_event_reported();
        }
        self.events.pop()
    }

    /// [`HomeAgent::poll_event`] when the binding table has tunnel changes to report.
    #[cold]
    #[inline(never)]
    fn poll_event_reported(&mut self) -> Option<Event> {
        self.report_tunnels(tunnel::Report::Moved);
        self.events.pop()
    }

    /// The earliest deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let repl = self.channels.deadline();
        let own = [
            self.table.next_deadline(),
            self.notices.next_deadline(),
            self.revocations.next_deadline(),
            self.aaa.as_ref().and_then(Aaa::next_deadline),
            repl,
        ]
        .into_iter()
        .flatten()
        .min();
        self.monitor.earliest(own)
    }
}

/// The health monitor's configuration (the one place the Home Agent embeds [`Monitor`]): the
/// peers are the other members, the load is the bindings this HA serves out of `max_bindings`.
fn monitor_config(cfg: &HomeAgentConfig, members: &BTreeMap<NodeId, Member>) -> MonitorConfig {
    let peers: Vec<(NodeId, SocketAddr)> = members
        .values()
        .filter(|m| m.node != cfg.node)
        .map(|m| (m.node, m.addr))
        .collect();
    let mut mc = MonitorConfig::new(
        cfg.node,
        Role::HOME_AGENT,
        ClusterKey::new(&cfg.cluster_key),
        peers,
    );
    mc.incarnation = cfg.incarnation;
    mc.health = cfg.health;
    mc.max_peers = members.len();
    mc.addresses = vec![IpAddr::V4(cfg.virtual_address)];
    mc.load = Load::new(0, cfg.max_bindings.min(u32::MAX as usize) as u32);
    mc
}
