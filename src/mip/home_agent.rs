//! One Home Agent of a virtual-HA cluster, sans IO.

use super::MnId;
use super::binding::{
    Binding, BindingState, BindingTable, CareOf, Expiry, Hasher, Pending, PendingStage, TableError,
};
use super::cluster::{
    self, Body, ClusterError, ClusterMac, ClusterMessage, Item, Record, ReplayWindow,
};
use super::wire::auth::{
    AUTHENTICATOR_LEN, AuthAlgorithm, FIRST_USABLE_SPI, PreparedKey, SecurityAssociation,
};
use super::wire::replay::{self, NtpTime};
use super::wire::{
    Builder, Extension, ExtensionType, Header, LIFETIME_INFINITE, MessageType, PORT, Reply,
    ReplyCode, Request, Summary, WireError, append_auth_prepared,
};
use crate::health::{
    self, ClusterKey, HealthError, HealthEvent, Load, Monitor, MonitorConfig, NodeId, NodeState,
    Policy, Role,
};
use crate::io::{RateLimit, TokenBucket};
use crate::{MacAddr, Rng, Transmit};
use ipnetwork::{IpNetwork, Ipv4Network};
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REQUEST_TYPE: u8 = MessageType::REGISTRATION_REQUEST.0;
const REPLY_TYPE: u8 = MessageType::REGISTRATION_REPLY.0;

/// A mobile node's SPI and prepared key.
#[derive(Debug)]
struct MnSa {
    spi: u32,
    key: PreparedKey,
    /// Which mobile node this is: configured identities (home address, NAI) with the same
    /// security association are one mobile node.
    principal: u32,
}

/// How the first HA hands a request to the second HA.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ForwardMode {
    /// The request is re-sent unchanged on the shared link: IP destination still the virtual
    /// address, `link_dst` the second HA's MAC. The second HA learns which member forwarded it
    /// from the frame's link-layer source ([`HomeAgent::handle_frame`]) or, for callers that do
    /// not see link-layer sources, from a [`Body::Notice`] the first HA sends first
    /// ([`HomeAgentConfig::layer2_notices`]).
    Layer2,
    /// The request travels inside an authenticated cluster message to the second HA's own
    /// address (clusters without a shared link).
    Layer3,
}

/// A member of the cluster (every HA gets the same list, itself included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its node id (health).
    pub node: NodeId,
    /// Its own address (port 434): cluster messages and heartbeats go there.
    pub addr: SocketAddr,
    /// Its MAC on the shared link.
    pub mac: MacAddr,
    /// The members that hold replicas of its bindings and take them over when it is Down.
    pub backups: Vec<NodeId>,
}

/// A mobile node's key, known to every HA of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MobileNodeKey {
    /// Home address or NAI.
    pub id: MnId,
    /// The MN-HA security association.
    pub sa: SecurityAssociation,
}

/// Configuration of a [`HomeAgent`].
#[derive(Clone, Debug)]
pub struct HomeAgentConfig {
    /// This HA's node id (must be in `members`).
    pub node: NodeId,
    /// Grows on every restart (health and cluster anti-replay).
    pub incarnation: u32,
    /// The virtual HA address shared by the cluster.
    pub virtual_address: Ipv4Addr,
    /// The virtual (home) network this cluster serves, advertised as a route.
    pub virtual_network: Ipv4Network,
    /// Every member, this HA included.
    pub members: Vec<Member>,
    /// Layer-2 or layer-3 forwarding.
    pub mode: ForwardMode,
    /// Layer 2: the first HA announces each forwarded request to the second HA in an
    /// authenticated [`Body::Notice`]. Needed when the callers feed frames through
    /// [`HomeAgent::handle_datagram`], without their link-layer source. When every member's
    /// caller passes link-layer sources to [`HomeAgent::handle_frame`], set it to `false`: the
    /// source MAC names the forwarding member, and each registration saves a cluster message and
    /// two HMACs. Default `true`.
    pub layer2_notices: bool,
    /// Cluster key (cluster messages and heartbeats).
    pub cluster_key: Vec<u8>,
    /// Mobile nodes' keys.
    pub mobile_nodes: Vec<MobileNodeKey>,
    /// Foreign agents with an FA-HA security association: a request coming from one of these
    /// addresses must carry exactly one FA-HA authentication extension, valid (RFC 5944 section
    /// 3.8.2.1; 132 otherwise).
    pub foreign_agents: Vec<(Ipv4Addr, SecurityAssociation)>,
    /// Addresses this HA assigns to mobile nodes that ask (NAI, home address 0.0.0.0).
    pub pool: Option<Ipv4Network>,
    /// Longest lifetime granted, seconds.
    pub max_lifetime: u16,
    /// Most bindings (130 beyond).
    pub max_bindings: usize,
    /// Most pending (temporary) requests (130 beyond).
    pub max_pending: usize,
    /// Most simultaneous care-of addresses per mobile node, 1..=4 (135 beyond; with 1, an S bit
    /// gets code 1).
    pub max_simultaneous: usize,
    /// Lifetime of a temporary binding.
    pub pending_timeout: Duration,
    /// Timestamp tolerance.
    pub replay_tolerance: Duration,
    /// Wall-clock time (since the Unix epoch) at the `now` given to [`HomeAgent::new`].
    pub wall_clock: Duration,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Missed heartbeats before Suspect.
    pub misses_suspect: u32,
    /// Missed heartbeats before Down.
    pub misses_down: u32,
    /// Load percentage at which an HA is not selected.
    pub overload_percent: u8,
    /// First retransmission timeout of replication batches (doubled up to 8x).
    pub replication_rto: Duration,
    /// Most replication items queued per peer before falling back to a bulk sync.
    pub max_replication_queue: usize,
    /// Most queued transmits (newest dropped and counted beyond).
    pub max_transmits: usize,
    /// Most queued events (oldest dropped and counted beyond).
    pub max_events: usize,
    /// Bounds the answers to requests nobody proved: refusals of requests that are malformed
    /// (134), name another home agent (136), fail the mobile node's authentication (131) or the
    /// foreign agent's (132). Their destination is only the datagram's source address, so a
    /// flood of forged requests would otherwise become an equal flood of replies towards a
    /// victim (RFC 5944 section 3.8.2.1 says the home agent SHOULD send them, not must; section
    /// 5 on denial of service). Beyond the bucket they are suppressed and counted in
    /// [`HaStats::refusals_suppressed`]. Answers to authenticated requests are never limited.
    /// Default [`RateLimit::default`] (100 per second, bursts of 20).
    pub refusals: RateLimit,
    /// Seed of the RNG (selection among equal HAs, the tables' hash seed): `None` (the default)
    /// reads 32 bytes from the operating system at [`HomeAgent::new`]; `Some` replays a run
    /// exactly (tests, simulations: [`crate::io::seed`]).
    pub seed: Option<[u8; 32]>,
}

impl HomeAgentConfig {
    /// A configuration with defaults: layer 2, lifetime up to 1800 s, 100 000 bindings, 10 000
    /// pending, 1 simultaneous binding, 3 s pending timer, 7 s tolerance, 1 s heartbeats (Suspect
    /// after 2, Down after 4), overloaded at 90 %, 200 ms replication timeout, 4096 queued
    /// transmits and events, refusals of unproven requests at 100 per second (bursts of 20).
    pub fn new(
        node: NodeId,
        virtual_address: Ipv4Addr,
        virtual_network: Ipv4Network,
        members: Vec<Member>,
        cluster_key: &[u8],
    ) -> Self {
        HomeAgentConfig {
            node,
            incarnation: 1,
            virtual_address,
            virtual_network,
            members,
            mode: ForwardMode::Layer2,
            layer2_notices: true,
            cluster_key: cluster_key.to_vec(),
            mobile_nodes: Vec::new(),
            foreign_agents: Vec::new(),
            pool: None,
            max_lifetime: 1800,
            max_bindings: 100_000,
            max_pending: 10_000,
            max_simultaneous: 1,
            pending_timeout: Duration::from_secs(3),
            replay_tolerance: replay::DEFAULT_TOLERANCE,
            wall_clock: Duration::from_secs(1_700_000_000),
            heartbeat_interval: Duration::from_secs(1),
            misses_suspect: 2,
            misses_down: 4,
            overload_percent: 90,
            replication_rto: Duration::from_millis(200),
            max_replication_queue: 100_000,
            max_transmits: 4096,
            max_events: 4096,
            refusals: RateLimit::default(),
            seed: None,
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `node` is not among `members`, or a member appears twice.
    #[error("bad member list: {0}")]
    Members(&'static str),
    /// A bound is zero or out of range.
    #[error("bad bound: {0}")]
    Bound(&'static str),
    /// The health monitor refused its part.
    #[error(transparent)]
    Health(#[from] health::ConfigError),
    /// `seed: None` and the operating system gave no entropy.
    #[error(transparent)]
    Entropy(#[from] crate::io::EntropyError),
}

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
}

/// Facts for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// This HA can serve the virtual network: announce it to the routing daemon.
    AdvertiseRoute {
        /// The virtual network.
        prefix: IpNetwork,
    },
    /// This HA cannot serve the virtual network any more: withdraw the route.
    WithdrawRoute {
        /// The virtual network.
        prefix: IpNetwork,
    },
    /// A temporary binding was created and the request forwarded to the second HA.
    TemporaryBinding {
        /// The mobile node.
        mn: MnId,
        /// The second HA.
        second_ha: NodeId,
    },
    /// A temporary binding's pending timer expired: it is freed.
    TemporaryExpired {
        /// The mobile node.
        mn: MnId,
    },
    /// The first HA made a binding permanent from the second HA's reply.
    BindingPermanent {
        /// The mobile node (by home address).
        home_address: Ipv4Addr,
        /// Granted lifetime.
        lifetime: u16,
        /// The serving HA.
        second_ha: NodeId,
    },
    /// This HA serves a registration (install the tunnel to the care-of address).
    Registered {
        /// Home address.
        home_address: Ipv4Addr,
        /// Care-of address.
        care_of: Ipv4Addr,
        /// Granted lifetime.
        lifetime: u16,
    },
    /// A binding was removed by deregistration.
    Deregistered {
        /// Home address.
        home_address: Ipv4Addr,
    },
    /// A binding's lifetime ended.
    Expired {
        /// Home address.
        home_address: Ipv4Addr,
    },
    /// A peer is Up (health).
    PeerUp {
        /// The peer.
        node: NodeId,
    },
    /// A peer is Down (health).
    PeerDown {
        /// The peer.
        node: NodeId,
    },
    /// The bindings served by `failed` are now served by `owner`.
    TakenOver {
        /// The failed HA.
        failed: NodeId,
        /// The new serving HA.
        owner: NodeId,
        /// Bindings moved in this HA's table.
        bindings: usize,
    },
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HaStats {
    /// Requests received from foreign agents or mobile nodes.
    pub requests: u64,
    /// Requests forwarded to a second HA.
    pub forwarded: u64,
    /// Requests served here (as second HA or alone).
    pub served: u64,
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
    /// Cluster messages refused (MAC, replay, malformed, non-member).
    pub cluster_refused: u64,
    /// Replicated items applied.
    pub replicas_applied: u64,
    /// Replicated bindings not stored because the table was full.
    pub replicas_refused: u64,
    /// Transmits dropped because the queue was full.
    pub dropped_transmits: u64,
    /// Events dropped because the queue was full.
    pub dropped_events: u64,
}

#[derive(Debug)]
struct Inflight {
    seq: u64,
    items: Vec<Item>,
    deadline: Instant,
    timeout: Duration,
}

/// Where an outgoing bulk sync stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum BulkSync {
    /// None in progress.
    #[default]
    Idle,
    /// To start: the next batch opens with [`Item::SyncBegin`].
    Start,
    /// Walking the table from this slot.
    Walk(u32),
    /// Walked: the next batch carries [`Item::SyncEnd`].
    Finish,
}

/// An incoming bulk sync: its epoch and the slots its sender named since it began.
#[derive(Debug)]
struct SyncIn {
    epoch: u32,
    seen: HashSet<u32>,
}

#[derive(Debug, Default)]
struct Channel {
    next_seq: u64,
    queue: VecDeque<Item>,
    inflight: Option<Inflight>,
    bulk: BulkSync,
    /// Epoch of the last bulk sync started towards this peer.
    epoch: u32,
    /// A bulk sync from this peer in progress.
    sync_in: Option<SyncIn>,
    last_acked_in: Option<u64>,
}

impl Channel {
    /// (Re)starts a bulk sync under a new epoch. The batch in flight is abandoned (the sync covers
    /// its upserts and removals); its takeover decisions are queued again, first.
    fn restart_bulk(&mut self) {
        self.bulk = BulkSync::Start;
        if let Some(inf) = self.inflight.take() {
            for i in inf.items.into_iter().rev() {
                if matches!(i, Item::Takeover { .. }) {
                    self.queue.push_front(i);
                }
            }
        }
    }
}

/// A mobile node's binding key: home address and NAI.
type MnKey = (Ipv4Addr, Option<Box<[u8]>>);

/// Bindings this HA took over from an HA that turned out alive (same incarnation).
#[derive(Debug)]
struct Returned {
    incarnation: u32,
    moved: HashMap<MnKey, u64>,
}

/// A takeover decision this HA applied for one failed HA.
#[derive(Debug)]
struct Decision {
    coordinator: NodeId,
    owner: NodeId,
    /// The failed HA's incarnation then, as its cluster messages last said.
    incarnation: Option<u32>,
    /// The mobile nodes whose bindings were moved from the failed HA (home address, NAI), with
    /// their identification then.
    moved: HashMap<MnKey, u64>,
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
    network: Ipv4Network,
    mode: ForwardMode,
    notices_on: bool,
    key: ClusterMac,
    members: BTreeMap<NodeId, Member>,
    monitor: Monitor,
    table: BindingTable,
    sas: HashMap<MnId, Arc<MnSa>, Hasher>,
    fa_sas: HashMap<Ipv4Addr, MnSa, Hasher>,
    pool: Option<Ipv4Network>,
    pool_cursor: u32,
    allocated: HashSet<Ipv4Addr, Hasher>,
    max_lifetime: u16,
    max_simultaneous: usize,
    pending_timeout: Duration,
    tolerance: Duration,
    wall_clock: Duration,
    start: Instant,
    rng: Rng,
    pn: u64,
    windows: HashMap<NodeId, ReplayWindow>,
    channels: BTreeMap<NodeId, Channel>,
    takeovers: BTreeMap<NodeId, Decision>,
    /// Bindings this HA took over from an HA seen alive again, until that HA's next bulk sync
    /// says which it still has.
    returned: BTreeMap<NodeId, Returned>,
    /// Takeover decisions received for HAs not yet seen Down: coordinator, owner, valid until.
    deferred: BTreeMap<NodeId, (NodeId, NodeId, Instant)>,
    /// How long a deferred decision stays valid.
    defer_for: Duration,
    rto: Duration,
    max_queue: usize,
    notices: HashMap<(MnId, u64), (NodeId, Instant), Hasher>,
    notice_order: VecDeque<((MnId, u64), Instant)>,
    max_notices: usize,
    advertising: bool,
    /// Where replies to the request being processed leave from: the address it was sent to
    /// (RFC 5944 section 3.8.3.1).
    reply_src: SocketAddr,
    transmits: VecDeque<Transmit>,
    max_transmits: usize,
    events: VecDeque<Event>,
    max_events: usize,
    /// The bucket of [`HomeAgentConfig::refusals`].
    refusal_bucket: TokenBucket,
    stats: HaStats,
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
        let mut members = BTreeMap::new();
        for m in &cfg.members {
            if members.insert(m.node, m.clone()).is_some() {
                return Err(ConfigError::Members("duplicate member"));
            }
        }
        let Some(me) = members.get(&cfg.node).cloned() else {
            return Err(ConfigError::Members("node is not a member"));
        };
        if cfg.max_bindings == 0 || cfg.max_pending == 0 {
            return Err(ConfigError::Bound(
                "max_bindings and max_pending must be > 0",
            ));
        }
        if !(1..=super::binding::MAX_SIMULTANEOUS).contains(&cfg.max_simultaneous) {
            return Err(ConfigError::Bound("max_simultaneous must be 1..=4"));
        }
        let hour = Duration::from_secs(3600);
        if cfg.pending_timeout.is_zero()
            || cfg.pending_timeout > hour
            || cfg.replication_rto.is_zero()
            || cfg.replication_rto > Duration::from_secs(60)
            || cfg.replay_tolerance > hour
        {
            return Err(ConfigError::Bound(
                "pending_timeout 0 < t <= 1 h, replication_rto 0 < t <= 60 s, tolerance <= 1 h",
            ));
        }
        // RFC 5944 section 1.6: SPIs 0-255 are reserved, no security association uses them.
        let spis = cfg.mobile_nodes.iter().map(|k| k.sa.spi);
        if spis
            .chain(cfg.foreign_agents.iter().map(|(_, sa)| sa.spi))
            .any(|spi| spi < FIRST_USABLE_SPI)
        {
            return Err(ConfigError::Bound("SPIs 0-255 are reserved"));
        }
        if cfg.max_transmits == 0 || cfg.max_events == 0 || cfg.max_replication_queue == 0 {
            return Err(ConfigError::Bound("queue bounds must be > 0"));
        }
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
        mc.interval = cfg.heartbeat_interval;
        mc.misses_suspect = cfg.misses_suspect;
        mc.misses_down = cfg.misses_down;
        mc.max_peers = members.len();
        mc.overload_percent = cfg.overload_percent;
        mc.addresses = vec![IpAddr::V4(cfg.virtual_address)];
        mc.load = Load::new(0, cfg.max_bindings.min(u32::MAX as usize) as u32);
        mc.max_events = 256;
        let monitor = Monitor::new(mc, now)?;
        // The tables' hash seed comes from its own stream, so the protocol's random choices do
        // not depend on it.
        let rng = Rng::from_config(cfg.seed)?;
        let hash_seed = rng.other_stream(0x6d69_705f_6861_7368).next_u64();
        let hasher = Hasher::with_seed(hash_seed);
        let mut sas = HashMap::with_capacity_and_hasher(cfg.mobile_nodes.len(), hasher.clone());
        let mut principals: HashMap<(u32, AuthAlgorithm, &[u8]), u32> = HashMap::new();
        for k in &cfg.mobile_nodes {
            let n = principals.len() as u32;
            let principal = *principals
                .entry((k.sa.spi, k.sa.algorithm, &k.sa.key[..]))
                .or_insert(n);
            let sa = MnSa {
                spi: k.sa.spi,
                key: k.sa.prepare(),
                principal,
            };
            sas.insert(k.id.clone(), Arc::new(sa));
        }
        let mut fa_sas = HashMap::with_hasher(hasher.clone());
        fa_sas.extend(cfg.foreign_agents.iter().map(|(a, sa)| {
            (
                *a,
                MnSa {
                    spi: sa.spi,
                    key: sa.prepare(),
                    principal: u32::MAX,
                },
            )
        }));
        let channels = members
            .keys()
            .filter(|n| **n != cfg.node)
            .map(|n| (*n, Channel::default()))
            .collect();
        let mut ha = HomeAgent {
            node: cfg.node,
            incarnation: cfg.incarnation,
            vip: cfg.virtual_address,
            network: cfg.virtual_network,
            mode: cfg.mode,
            notices_on: cfg.layer2_notices,
            key: ClusterMac::new(&cfg.cluster_key),
            members,
            monitor,
            table: BindingTable::with_seed(cfg.max_bindings, cfg.max_pending, hash_seed),
            sas,
            fa_sas,
            pool: cfg.pool,
            pool_cursor: 0,
            allocated: HashSet::with_hasher(hasher.clone()),
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
            takeovers: BTreeMap::new(),
            returned: BTreeMap::new(),
            deferred: BTreeMap::new(),
            defer_for: cfg
                .heartbeat_interval
                .saturating_mul(cfg.misses_down.saturating_add(1))
                .saturating_mul(2),
            rto: cfg.replication_rto,
            max_queue: cfg.max_replication_queue,
            notices: HashMap::with_hasher(hasher),
            notice_order: VecDeque::new(),
            max_notices: cfg.max_pending,
            advertising: true,
            reply_src: SocketAddr::V4(SocketAddrV4::new(cfg.virtual_address, PORT)),
            transmits: VecDeque::new(),
            max_transmits: cfg.max_transmits,
            events: VecDeque::new(),
            max_events: cfg.max_events,
            refusal_bucket: TokenBucket::new(cfg.refusals, now),
            stats: HaStats::default(),
        };
        let _ = me;
        ha.push_event(Event::AdvertiseRoute {
            prefix: IpNetwork::V4(ha.network),
        });
        Ok(ha)
    }

    // ----- queries -----

    /// This HA's node id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Counters.
    pub fn stats(&self) -> HaStats {
        self.stats
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
        if node == self.node {
            return NodeState::Up;
        }
        self.monitor.state(node).unwrap_or(NodeState::Down)
    }

    /// The members (this HA included, when it advertises) that announce the virtual network and
    /// are Up.
    pub fn announcers(&self) -> Vec<NodeId> {
        let vip = IpAddr::V4(self.vip);
        self.members
            .keys()
            .copied()
            .filter(|n| {
                if *n == self.node {
                    self.advertising
                } else {
                    self.peer_state(*n) == NodeState::Up
                        && self.monitor.addresses(*n).contains(&vip)
                }
            })
            .collect()
    }

    /// A peer's last reported load (this HA's own for its own id).
    pub fn peer_load(&self, node: NodeId) -> Option<Load> {
        self.monitor.load(node)
    }

    /// Whether this HA currently advertises the virtual network.
    pub fn is_advertising(&self) -> bool {
        self.advertising
    }

    /// Replication items not yet acknowledged by `peer` (queued or in flight).
    pub fn replication_backlog(&self, peer: NodeId) -> usize {
        self.channels.get(&peer).map_or(0, |c| {
            c.queue.len()
                + c.inflight.as_ref().map_or(0, |i| i.items.len())
                + usize::from(c.bulk != BulkSync::Idle)
        })
    }

    // ----- commands -----

    /// Stops serving the virtual network: [`Event::WithdrawRoute`], and peers learn it from the
    /// heartbeats. Requests still arriving are served.
    pub fn withdraw(&mut self) {
        if self.advertising {
            self.advertising = false;
            self.monitor.set_addresses(&[]);
            self.push_event(Event::WithdrawRoute {
                prefix: IpNetwork::V4(self.network),
            });
        }
    }

    /// Serves the virtual network again: [`Event::AdvertiseRoute`].
    pub fn advertise(&mut self) {
        if !self.advertising {
            self.advertising = true;
            self.monitor.set_addresses(&[IpAddr::V4(self.vip)]);
            self.push_event(Event::AdvertiseRoute {
                prefix: IpNetwork::V4(self.network),
            });
        }
    }

    // ----- queues -----

    fn push_event(&mut self, e: Event) {
        if self.events.len() >= self.max_events {
            self.events.pop_front();
            self.stats.dropped_events += 1;
        }
        self.events.push_back(e);
    }

    fn push_transmit(&mut self, t: Transmit) {
        if self.transmits.len() >= self.max_transmits {
            self.stats.dropped_transmits += 1;
            return;
        }
        self.transmits.push_back(t);
    }

    fn vip_sock(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.vip, PORT))
    }

    fn ntp_now(&self, now: Instant) -> NtpTime {
        NtpTime::from_unix(self.wall_clock + now.saturating_duration_since(self.start))
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
        if health::is_heartbeat(data) {
            let r = self.monitor.handle_heartbeat(now, from, data);
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
                .members
                .values()
                .find(|m| m.mac == mac && m.node != self.node)
                .map(|m| m.node),
            _ => None,
        };
        match data.first() {
            Some(&REQUEST_TYPE) => self.handle_request(now, from, to, data, member),
            Some(&REPLY_TYPE) => self.handle_reply(now, data, member),
            // Not a registration message: the header parser says why.
            _ => Err(InputError::Wire(Header::parse(data).err().unwrap_or(
                WireError::UnsupportedType {
                    offset: 0,
                    value: data.first().copied().unwrap_or(0),
                },
            ))),
        }
    }

    // The refusal needs the whole context of the request it answers.
    #[allow(clippy::too_many_arguments)]
    fn refuse(
        &mut self,
        to: SocketAddr,
        q: &Request,
        code: ReplyCode,
        sa: Option<&MnSa>,
        relay_via: Option<NodeId>,
        nai: Option<&[u8]>,
        now: Instant,
    ) -> InputError {
        // A request nobody proved (no MN-HA association verified it, or its foreign agent failed
        // FA-HA): its answer is rate-limited.
        let unproven = sa.is_none() || code == ReplyCode::FA_AUTH_FAILED;
        if unproven && !self.refusal_bucket.take(now) {
            self.stats.refusals_suppressed += 1;
            return InputError::Refused(code);
        }
        self.stats.refusals += 1;
        let identification = if code == ReplyCode::IDENTIFICATION_MISMATCH {
            replay::mismatch_identification(q.identification, self.ntp_now(now))
        } else {
            q.identification
        };
        // RFC 5944 section 3.8.2.1: a 136 reply names this HA's unicast (virtual) address, for
        // the mobile node to ask again there.
        let home_agent = if code == ReplyCode::UNKNOWN_HA_ADDRESS {
            self.vip
        } else {
            q.home_agent
        };
        let p = Reply {
            code,
            lifetime: 0,
            home_address: q.home_address,
            home_agent,
            identification,
        };
        let bytes = {
            let mut b = Builder::reply(p);
            if let Some(n) = nai {
                b = b.nai(n);
            }
            if let Some(sa) = sa {
                b = b.auth_prepared(ExtensionType::MN_HA_AUTH, sa.spi, &sa.key);
            }
            if let Some(fa) = self.fa_sas.get(&v4(to)) {
                b = b.auth_prepared(ExtensionType::FA_HA_AUTH, fa.spi, &fa.key);
            }
            b.to_vec()
        };
        self.send_reply(to, bytes, relay_via);
        InputError::Refused(code)
    }

    fn send_reply(&mut self, fa: SocketAddr, bytes: Vec<u8>, relay_via: Option<NodeId>) {
        match relay_via {
            Some(first) if first != self.node => match self.mode {
                ForwardMode::Layer2 => {
                    let mac = self.members.get(&first).map(|m| m.mac);
                    self.push_transmit(Transmit {
                        dst: self.vip_sock(),
                        src: None,
                        link_dst: mac,
                        payload: bytes.into(),
                    });
                }
                ForwardMode::Layer3 => self.send_cluster(first, Body::Relay { reply: &bytes }),
            },
            _ => {
                let src = Some(self.reply_src);
                self.push_transmit(Transmit {
                    dst: fa,
                    src,
                    link_dst: None,
                    payload: bytes.into(),
                });
            }
        }
    }

    fn lookup_sa(&self, home: Ipv4Addr, nai: Option<&[u8]>) -> Option<Arc<MnSa>> {
        if !home.is_unspecified()
            && let Some(sa) = self.sas.get(&MnId::Home(home))
        {
            return Some(sa.clone());
        }
        if let Some(n) = nai
            && let Some(sa) = self.sas.get(&MnId::Nai(n.into()))
        {
            return Some(sa.clone());
        }
        // A mobile node known by NAI that now uses its assigned home address.
        self.binding(home, nai)
            .and_then(|b| b.nai.as_ref())
            .and_then(|n| self.sas.get(&MnId::Nai(n.clone())))
            .cloned()
    }

    /// Whether every identity a request names belongs to the mobile node `sa` authenticated:
    /// the home address and the NAI when a key is configured for them, and the binding the
    /// request would change (RFC 5944 section 3.8.2.1: the home agent acts for the mobile node
    /// that authenticated, RFC 2794 section 2: the NAI identifies it).
    fn names_only(&self, sa: &MnSa, home: Ipv4Addr, nai: Option<&[u8]>) -> bool {
        let mine = |id: MnId| {
            self.sas
                .get(&id)
                .is_none_or(|o| o.principal == sa.principal)
        };
        if !home.is_unspecified() && !mine(MnId::Home(home)) {
            return false;
        }
        if let Some(n) = nai
            && !mine(MnId::Nai(n.into()))
        {
            return false;
        }
        let Some(b) = self.table.find(home, nai).and_then(|s| self.table.get(s)) else {
            return true;
        };
        let owner = if b.home_address.is_unspecified() {
            None
        } else {
            self.sas.get(&MnId::Home(b.home_address))
        };
        let owner = owner.or_else(|| {
            b.nai
                .as_ref()
                .and_then(|n| self.sas.get(&MnId::Nai(n.clone())))
        });
        owner.is_none_or(|o| o.principal == sa.principal)
    }

    /// `forwarded_by`: the first HA, when this HA is the second HA for the request.
    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
        forwarded_by: Option<NodeId>,
    ) -> Result<(), InputError> {
        let relay = forwarded_by;
        // RFC 5944 section 3.8.3.1: the reply's IP source and UDP source port are the request's
        // destination: this HA's own address when the request was sent there, else the virtual
        // address (also for a request sent to an address that is not this HA's).
        let own = self.members.get(&self.node).map(|m| v4(m.addr));
        self.reply_src = if own == Some(v4(to)) {
            SocketAddr::V4(SocketAddrV4::new(v4(to), to.port()))
        } else {
            self.vip_sock()
        };
        // One pass over the message, no allocation (the NAI and authenticators borrow `data`).
        let m = match Summary::parse(data) {
            Ok(m) => m,
            Err(e) => {
                let (header, _) = Header::parse(data)?;
                let Header::Request(q) = header else {
                    return Err(e.into());
                };
                if forwarded_by.is_none() {
                    self.stats.requests += 1;
                }
                return Err(self.refuse(
                    from,
                    &q,
                    ReplyCode::POORLY_FORMED_REQUEST,
                    None,
                    relay,
                    None,
                    now,
                ));
            }
        };
        let Header::Request(q) = m.header else {
            return Err(InputError::Refused(ReplyCode::POORLY_FORMED_REQUEST));
        };
        if forwarded_by.is_none() {
            self.stats.requests += 1;
        }
        // Only what the MN-HA authenticator covers decides anything: an NAI after it is ignored.
        let nai = m.covered_nai();
        if m.unknown_non_skippable.is_some() {
            return Err(self.refuse(
                from,
                &q,
                ReplyCode::POORLY_FORMED_REQUEST,
                None,
                relay,
                nai,
                now,
            ));
        }
        let own_ip = self.members.get(&self.node).map(|m| v4(m.addr));
        let to_me = Some(q.home_agent) == own_ip;
        // A forwarded request may name the first HA's own address.
        let member_ip =
            forwarded_by.is_some() && self.members.values().any(|m| v4(m.addr) == q.home_agent);
        if q.home_agent != self.vip && !to_me && !member_ip {
            return Err(self.refuse(
                from,
                &q,
                ReplyCode::UNKNOWN_HA_ADDRESS,
                None,
                relay,
                nai,
                now,
            ));
        }
        let Some(mn) = MnId::of(q.home_address, nai) else {
            return Err(self.refuse(
                from,
                &q,
                ReplyCode::POORLY_FORMED_REQUEST,
                None,
                relay,
                nai,
                now,
            ));
        };
        let Some(sa) = self.lookup_sa(q.home_address, nai) else {
            return Err(self.refuse(from, &q, ReplyCode::MN_AUTH_FAILED, None, relay, nai, now));
        };
        // RFC 5944 section 3.8.2.1: exactly one authorization-enabling extension, valid.
        let ok = m.authorizing == 1
            && m.mn_ha
                .is_some_and(|a| a.verify_prepared(data, sa.spi, &sa.key).is_ok());
        // Every identity the request names, and the binding it would change, must be the
        // authenticated mobile node's: its key admitted the request, not another node's.
        if !ok || !self.names_only(&sa, q.home_address, nai) {
            return Err(self.refuse(from, &q, ReplyCode::MN_AUTH_FAILED, None, relay, nai, now));
        }
        // A known foreign agent must authenticate itself with exactly one FA-HA extension, valid
        // (RFC 5944 section 3.8.2.1 (c); 132): a second one would be an unchecked extension.
        if let Some(fa) = self.fa_sas.get(&v4(from)) {
            let fa_ok = m.fa_ha_count == 1
                && m.fa_ha
                    .is_some_and(|a| a.verify_prepared(data, fa.spi, &fa.key).is_ok());
            if !fa_ok {
                return Err(self.refuse(
                    from,
                    &q,
                    ReplyCode::FA_AUTH_FAILED,
                    Some(&sa),
                    relay,
                    nai,
                    now,
                ));
            }
        }
        // Layer 2: a request announced by a notice is ours to serve for its first HA.
        // (A notice is consumed even when the link-layer source already named the first HA.)
        let mut first = forwarded_by;
        if !self.notices.is_empty()
            && let Some((f, _)) = self.notices.remove(&(mn.clone(), q.identification))
        {
            first = first.or(Some(f));
        }
        if let Some(first) = first {
            return self.serve(now, from, &q, nai, &sa, first);
        }
        // Addressed to this HA by its own address: it serves the request itself.
        if to_me {
            return self.serve(now, from, &q, nai, &sa, self.node);
        }
        // First HA: find the binding, or select the second HA by load.
        let slot = self.table.find(q.home_address, nai);
        let existing = slot
            .and_then(|s| self.table.get(s))
            .map(|b| b.second_ha)
            .filter(|n| self.peer_state(*n) == NodeState::Up);
        let second = match existing {
            Some(n) => n,
            None => {
                let members = &self.members;
                match self
                    .monitor
                    .select(Policy::LeastLoaded, &mut self.rng, |n| {
                        members.contains_key(&n)
                    }) {
                    Some(n) => n,
                    None => self.node,
                }
            }
        };
        if second == self.node {
            return self.serve(now, from, &q, nai, &sa, self.node);
        }
        // A temporary binding, then forward unchanged.
        let pending = Pending {
            fa: sock4(from),
            care_of: q.care_of,
            identification: q.identification,
            second_ha: second,
            deadline: now + self.pending_timeout,
            simultaneous: q.flags.simultaneous(),
            first_ha: self.node,
            stage: PendingStage::Forwarded,
        };
        let pending = Box::new(pending);
        let res = match slot {
            Some(s) => self
                .table
                .update(s, |b| b.pending = Some(pending))
                .map(|_| s),
            None => self.table.insert(Binding {
                home_address: q.home_address,
                nai: nai.map(Box::from),
                first_ha: self.node,
                second_ha: second,
                fa: sock4(from),
                identification: 0,
                care_of: Default::default(),
                pending: Some(pending),
            }),
        };
        let slot = match res {
            Ok(s) => s,
            Err(TableError::Full(_)) | Err(TableError::PendingFull(_)) => {
                return Err(self.refuse(
                    from,
                    &q,
                    ReplyCode::HA_INSUFFICIENT_RESOURCES,
                    Some(&sa),
                    None,
                    nai,
                    now,
                ));
            }
        };
        self.push_event(Event::TemporaryBinding {
            mn: mn.clone(),
            second_ha: second,
        });
        self.replicate_slot(slot, now);
        self.stats.forwarded += 1;
        match self.mode {
            ForwardMode::Layer2 => {
                if self.notices_on {
                    self.send_cluster(
                        second,
                        Body::Notice {
                            home_address: q.home_address,
                            nai,
                            identification: q.identification,
                        },
                    );
                }
                let mac = self.members.get(&second).map(|m| m.mac);
                self.push_transmit(Transmit {
                    dst: SocketAddr::V4(SocketAddrV4::new(v4(to), PORT)),
                    src: Some(from),
                    link_dst: mac,
                    payload: data.to_vec().into(),
                });
            }
            ForwardMode::Layer3 => {
                self.send_cluster(
                    second,
                    Body::Forward {
                        fa: from,
                        request: data,
                    },
                );
            }
        }
        Ok(())
    }

    fn allocate(&mut self) -> Option<Ipv4Addr> {
        let pool = self.pool?;
        let size = pool.size();
        for _ in 0..size.min(1 << 20) {
            let i = self.pool_cursor % size;
            self.pool_cursor = self.pool_cursor.wrapping_add(1);
            let a = pool.nth(i)?;
            if a == pool.network() || a == pool.broadcast() || self.allocated.contains(&a) {
                continue;
            }
            if self.table.find(a, None).is_some() {
                continue;
            }
            self.allocated.insert(a);
            return Some(a);
        }
        None
    }

    /// Second-HA processing: authenticate replay, grant, bind, reply via the first HA.
    fn serve(
        &mut self,
        now: Instant,
        fa: SocketAddr,
        q: &Request,
        nai: Option<&[u8]>,
        sa: &MnSa,
        first: NodeId,
    ) -> Result<(), InputError> {
        let slot = self.table.find(q.home_address, nai);
        let last = slot
            .and_then(|s| self.table.get(s))
            .map(|b| b.identification)
            .filter(|i| *i != 0);
        if replay::check_timestamp(q.identification, self.ntp_now(now), last, self.tolerance)
            .is_err()
        {
            return Err(self.refuse(
                fa,
                q,
                ReplyCode::IDENTIFICATION_MISMATCH,
                Some(sa),
                Some(first),
                nai,
                now,
            ));
        }
        self.stats.served += 1;
        let mut code = ReplyCode::ACCEPTED;
        let mut home = q.home_address;
        let mut granted = 0u16;
        if q.lifetime == 0 {
            // Deregistration: of one care-of address, or of all (care-of = home address).
            if let Some(s) = slot {
                let all = q.care_of == q.home_address || q.care_of.is_unspecified();
                let _ = self.table.update(s, |b| {
                    if all {
                        b.care_of.clear();
                    } else {
                        b.care_of.retain(|c| c.address != q.care_of);
                    }
                    b.identification = q.identification;
                });
                if let Some(b) = self.table.get(s) {
                    home = b.home_address;
                    if b.care_of.is_empty() {
                        let b = self.table.remove(s);
                        if let Some(b) = b {
                            self.allocated.remove(&b.home_address);
                            self.replicate_remove(b.home_address, b.nai.clone());
                        }
                        self.push_event(Event::Deregistered { home_address: home });
                    } else {
                        self.replicate_slot(s, now);
                    }
                }
            }
        } else {
            if home.is_unspecified() {
                home = match slot.and_then(|s| self.table.get(s)).map(|b| b.home_address) {
                    Some(h) if !h.is_unspecified() => h,
                    _ => match self.allocate() {
                        Some(a) => a,
                        None => {
                            return Err(self.refuse(
                                fa,
                                q,
                                ReplyCode::HA_INSUFFICIENT_RESOURCES,
                                Some(sa),
                                Some(first),
                                nai,
                                now,
                            ));
                        }
                    },
                };
            }
            granted = if self.max_lifetime == LIFETIME_INFINITE {
                q.lifetime
            } else {
                q.lifetime.min(self.max_lifetime)
            };
            let expires = (granted != LIFETIME_INFINITE)
                .then(|| now + Duration::from_secs(u64::from(granted)));
            let coa = CareOf {
                address: q.care_of,
                expires,
            };
            let simultaneous = q.flags.simultaneous() && self.max_simultaneous > 1;
            if q.flags.simultaneous() && self.max_simultaneous == 1 {
                code = ReplyCode::ACCEPTED_NO_SIMULTANEOUS;
            }
            let existing = slot.and_then(|s| self.table.get(s));
            if simultaneous
                && let Some(b) = existing
                && !b.care_of.contains(q.care_of)
                && (b.care_of.len() >= self.max_simultaneous || b.care_of.is_full())
            {
                return Err(self.refuse(
                    fa,
                    q,
                    ReplyCode::TOO_MANY_BINDINGS,
                    Some(sa),
                    Some(first),
                    nai,
                    now,
                ));
            }
            let node = self.node;
            let fa4 = sock4(fa);
            let identification = q.identification;
            // The binding is changed in place: a re-registration allocates nothing.
            let grant = |b: &mut Binding| {
                b.home_address = home;
                if let Some(n) = nai
                    && b.nai.as_deref() != Some(n)
                {
                    b.nai = Some(n.into());
                }
                b.first_ha = first;
                b.second_ha = node;
                b.fa = fa4;
                b.identification = identification;
                if simultaneous {
                    b.care_of.upsert(coa);
                } else {
                    b.care_of.set_single(coa);
                }
                if first == node {
                    b.pending = None;
                }
            };
            let res = match slot {
                Some(s) => self.table.update(s, grant).map(|_| s),
                None => {
                    let mut b = Binding {
                        home_address: home,
                        nai: None,
                        first_ha: first,
                        second_ha: node,
                        fa: fa4,
                        identification,
                        care_of: Default::default(),
                        pending: None,
                    };
                    grant(&mut b);
                    self.table.insert(b)
                }
            };
            let s = match res {
                Ok(s) => s,
                Err(_) => {
                    self.allocated.remove(&home);
                    return Err(self.refuse(
                        fa,
                        q,
                        ReplyCode::HA_INSUFFICIENT_RESOURCES,
                        Some(sa),
                        Some(first),
                        nai,
                        now,
                    ));
                }
            };
            self.push_event(Event::Registered {
                home_address: home,
                care_of: q.care_of,
                lifetime: granted,
            });
            self.replicate_slot(s, now);
            self.update_load();
        }
        let p = Reply {
            code,
            lifetime: granted,
            home_address: home,
            home_agent: q.home_agent,
            identification: q.identification,
        };
        // Written straight into one exactly sized buffer.
        let header = Header::Reply(p);
        let nai_ext = nai.map(|n| Extension::Nai(Cow::Borrowed(n)));
        let fa_sa = self.fa_sas.get(&v4(fa));
        let auth_len = 6 + AUTHENTICATOR_LEN;
        let mut bytes = Vec::with_capacity(
            header.encoded_len()
                + nai_ext.as_ref().map_or(0, Extension::encoded_len)
                + auth_len * (1 + usize::from(fa_sa.is_some())),
        );
        header.emit(&mut bytes);
        if let Some(e) = &nai_ext {
            e.emit(&mut bytes);
        }
        append_auth_prepared(&mut bytes, ExtensionType::MN_HA_AUTH, sa.spi, &sa.key);
        // Replies to a known foreign agent carry FA-HA authentication after MN-HA.
        if let Some(k) = fa_sa {
            append_auth_prepared(&mut bytes, ExtensionType::FA_HA_AUTH, k.spi, &k.key);
        }
        self.send_reply(fa, bytes, Some(first));
        Ok(())
    }

    /// First-HA processing of the second HA's reply.
    /// `replier`: the member that sent the reply, when known (layer 3, or a layer-2 frame with its
    /// link-layer source). It is the HA that served the request: if a request was forwarded twice
    /// (a duplicate, with the selection changed in between) it may not be the one the pending
    /// request names.
    fn handle_reply(
        &mut self,
        now: Instant,
        data: &[u8],
        replier: Option<NodeId>,
    ) -> Result<(), InputError> {
        let m = Summary::parse(data)?;
        let Header::Reply(p) = m.header else {
            return Err(InputError::UnmatchedReply);
        };
        // As for requests: an NAI the MN-HA authenticator does not cover is ignored.
        let nai = m.covered_nai();
        let slot = self.table.find(p.home_address, nai).filter(|s| {
            self.table.get(*s).is_some_and(|b| {
                b.pending.as_ref().is_some_and(|pe| {
                    pe.first_ha == self.node
                        && replay::reply_matches(pe.identification, p.identification)
                        && match pe.stage {
                            PendingStage::Forwarded => true,
                            // After a relayed 133, only the same HA's answers still match.
                            PendingStage::MismatchRelayed { by } => replier.is_none_or(|r| r == by),
                        }
                })
            })
        });
        let Some(slot) = slot else {
            self.stats.unmatched_replies += 1;
            return Err(InputError::UnmatchedReply);
        };
        let Some(b) = self.table.get(slot) else {
            return Err(InputError::UnmatchedReply);
        };
        let Some(pe) = b.pending.as_deref().cloned() else {
            return Err(InputError::UnmatchedReply);
        };
        let b_home = b.home_address;
        // A late reply to an older request (a network copy of it came after a newer
        // registration was accepted) ends the pending request but does not roll the binding back.
        let applies = p.code.is_accepted() && b.identification <= pe.identification;
        // The reply must carry the mobile node's authenticator when it accepts (it changes the
        // binding), and a valid one whenever it carries one; an unauthenticated denial (134, 136)
        // is relayed, it only ends the pending request.
        let sa = self.lookup_sa(b.home_address, b.nai.as_deref().or(nai));
        let auth_ok = match (m.mn_ha, &sa) {
            (Some(a), Some(sa)) => a.verify_prepared(data, sa.spi, &sa.key).is_ok(),
            (None, _) => !p.code.is_accepted(),
            (Some(_), None) => false,
        };
        if !auth_ok {
            self.stats.unauthenticated_replies += 1;
            return Err(InputError::UnauthenticatedReply);
        }
        if applies && matches!(pe.stage, PendingStage::MismatchRelayed { .. }) {
            self.stats.superseded_refusals += 1;
        }
        if applies && p.lifetime > 0 {
            // The second HA's grant, held to this HA's own `max_lifetime` too.
            let secs = if p.lifetime == LIFETIME_INFINITE {
                u32::MAX
            } else {
                u32::from(p.lifetime)
            };
            let expires = self.bounded_expiry(now, secs);
            let coa = CareOf {
                address: pe.care_of,
                expires,
            };
            let sim = pe.simultaneous && p.code == ReplyCode::ACCEPTED;
            let node = self.node;
            let server = replier.unwrap_or(pe.second_ha);
            let max_sim = self.max_simultaneous;
            let r = self.table.update(slot, |b| {
                b.home_address = p.home_address;
                if let Some(n) = nai
                    && b.nai.as_deref() != Some(n)
                {
                    b.nai = Some(n.into());
                }
                b.first_ha = node;
                b.second_ha = server;
                b.fa = pe.fa;
                b.identification = pe.identification;
                if sim {
                    b.care_of.retain(|c| c.address != coa.address);
                    while b.care_of.len() >= max_sim || b.care_of.is_full() {
                        b.care_of.remove(0);
                    }
                    b.care_of.push(coa);
                } else {
                    b.care_of.set_single(coa);
                }
                b.pending = None;
            });
            let _ = r;
            self.push_event(Event::BindingPermanent {
                home_address: p.home_address,
                lifetime: p.lifetime,
                second_ha: server,
            });
            self.replicate_slot(slot, now);
        } else if applies {
            // Accepted deregistration: the binding goes on this HA too.
            let all = pe.care_of == b_home || pe.care_of.is_unspecified();
            let _ = self.table.update(slot, |b| {
                if all {
                    b.care_of.clear();
                } else {
                    b.care_of.retain(|c| c.address != pe.care_of);
                }
                b.pending = None;
            });
            if self.table.get(slot).is_some_and(|b| b.care_of.is_empty()) {
                if let Some(b) = self.table.remove(slot) {
                    self.replicate_remove(b.home_address, b.nai.clone());
                    self.push_event(Event::Deregistered {
                        home_address: b.home_address,
                    });
                }
            } else {
                self.replicate_slot(slot, now);
            }
        } else if p.code == ReplyCode::IDENTIFICATION_MISMATCH {
            // Relayed, but the pending request stays until its timer: this 133 may answer a
            // network copy of a request the same HA accepts (RFC 5944 sections 3.8.3, 5.7), and
            // the mobile node's next request goes to the same HA.
            let by = replier.unwrap_or(pe.second_ha);
            let _ = self.table.update(slot, |b| {
                if let Some(x) = b.pending.as_mut() {
                    x.stage = PendingStage::MismatchRelayed { by };
                }
            });
        } else {
            // Denied (or stale): the temporary part goes; a permanent binding stays as it was.
            let _ = self.table.update(slot, |b| b.pending = None);
            if self.table.get(slot).is_some_and(|b| b.care_of.is_empty()) {
                if let Some(b) = self.table.remove(slot) {
                    self.replicate_remove(b.home_address, b.nai.clone());
                }
            }
        }
        self.update_load();
        self.stats.relayed += 1;
        let src = Some(self.vip_sock());
        self.push_transmit(Transmit {
            dst: pe.fa.into(),
            src,
            link_dst: None,
            payload: data.to_vec().into(),
        });
        Ok(())
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
        w.accept(msg.incarnation, msg.pn);
        match msg.body {
            Body::Forward { fa, request } => {
                let to = self.vip_sock();
                self.handle_request(now, fa, to, request, Some(sender))
            }
            Body::Relay { reply } => self.handle_reply(now, reply, Some(sender)),
            Body::Notice {
                home_address,
                nai,
                identification,
            } => {
                if let Some(mn) = MnId::of(home_address, nai) {
                    self.expire_notices(now);
                    if self.notices.len() >= self.max_notices {
                        return Err(InputError::Refused(ReplyCode::HA_INSUFFICIENT_RESOURCES));
                    }
                    let deadline = now + self.pending_timeout;
                    self.notices
                        .insert((mn.clone(), identification), (sender, deadline));
                    self.notice_order
                        .push_back(((mn, identification), deadline));
                }
                Ok(())
            }
            Body::Replicate { seq, items } => {
                let ch = self.channels.entry(sender).or_default();
                let fresh = ch.last_acked_in.is_none_or(|l| seq > l);
                if fresh {
                    ch.last_acked_in = Some(seq);
                    for item in items {
                        self.apply(now, sender, item);
                    }
                }
                self.send_cluster(sender, Body::Ack { seq });
                // What the batch made this HA replicate (a yield, a handover) goes out now.
                self.pump(now);
                Ok(())
            }
            Body::Ack { seq } => {
                if let Some(ch) = self.channels.get_mut(&sender)
                    && ch.inflight.as_ref().is_some_and(|i| i.seq == seq)
                {
                    ch.inflight = None;
                }
                self.pump(now);
                Ok(())
            }
        }
    }

    fn expire_notices(&mut self, now: Instant) {
        while let Some((k, d)) = self.notice_order.front().cloned() {
            if d > now && self.notice_order.len() <= self.max_notices {
                break;
            }
            self.notice_order.pop_front();
            if self.notices.get(&k).is_some_and(|(_, dd)| *dd == d) {
                self.notices.remove(&k);
            }
        }
    }

    // ----- replication -----

    fn backups(&self) -> Vec<NodeId> {
        self.members
            .get(&self.node)
            .map(|m| m.backups.clone())
            .unwrap_or_default()
    }

    fn record(&self, slot: u32, now: Instant) -> Option<Record> {
        let b = self.table.get(slot)?;
        if b.state() == BindingState::Temporary {
            let p = b.pending.as_ref()?;
            let ms = p.deadline.saturating_duration_since(now).as_millis();
            return Some(Record {
                home_address: b.home_address,
                nai: b.nai.clone(),
                state: BindingState::Temporary,
                first_ha: p.first_ha,
                second_ha: p.second_ha,
                fa: p.fa.into(),
                identification: p.identification,
                care_of: vec![(p.care_of, ms.min(u128::from(u32::MAX)) as u32)],
            });
        }
        Some(Record {
            home_address: b.home_address,
            nai: b.nai.clone(),
            state: BindingState::Permanent,
            first_ha: b.first_ha,
            second_ha: b.second_ha,
            fa: b.fa.into(),
            identification: b.identification,
            care_of: b
                .care_of
                .iter()
                .map(|c| {
                    let secs = c.expires.map_or(u32::MAX, |e| {
                        e.saturating_duration_since(now)
                            .as_secs()
                            .min(u64::from(u32::MAX - 1)) as u32
                    });
                    (c.address, secs)
                })
                .collect(),
        })
    }

    fn enqueue(&mut self, peer: NodeId, item: Item) {
        let max = self.max_queue;
        if let Some(ch) = self.channels.get_mut(&peer) {
            if ch.queue.len() >= max {
                // Too far behind: drop the queue and resynchronise in bulk (authoritative: the
                // sync also removes what the dropped removals would have). Takeover decisions are
                // not table state: they stay queued (a few per failed member at most).
                ch.queue.retain(|i| matches!(i, Item::Takeover { .. }));
                if ch.queue.len() >= max {
                    ch.queue.clear();
                }
                ch.restart_bulk();
                if matches!(item, Item::Takeover { .. }) {
                    ch.queue.push_back(item);
                }
            } else {
                ch.queue.push_back(item);
            }
        }
    }

    fn replicate_slot(&mut self, slot: u32, now: Instant) {
        if self
            .members
            .get(&self.node)
            .is_none_or(|m| m.backups.is_empty())
        {
            return;
        }
        let Some(r) = self.record(slot, now) else {
            return;
        };
        // Replicate what this HA is authoritative for: what it serves, or what it relays.
        if r.second_ha != self.node && r.first_ha != self.node {
            return;
        }
        for peer in self.backups() {
            self.enqueue(peer, Item::Upsert(r.clone()));
        }
        self.pump(now);
    }

    /// Sends the binding in `slot` to the backups whoever serves it (a handover).
    fn replicate_record(&mut self, slot: u32, now: Instant) {
        let Some(r) = self.record(slot, now) else {
            return;
        };
        for peer in self.backups() {
            self.enqueue(peer, Item::Upsert(r.clone()));
        }
    }

    fn replicate_remove(&mut self, home_address: Ipv4Addr, nai: Option<Box<[u8]>>) {
        for peer in self.backups() {
            self.enqueue(
                peer,
                Item::Remove {
                    home_address,
                    nai: nai.clone(),
                },
            );
        }
    }

    /// Sends the next batch to every peer with nothing in flight.
    fn pump(&mut self, now: Instant) {
        let peers: Vec<NodeId> = self.channels.keys().copied().collect();
        for peer in peers {
            if self.peer_state(peer) != NodeState::Up {
                continue;
            }
            let Some(ch) = self.channels.get(&peer) else {
                continue;
            };
            if ch.inflight.is_some() {
                continue;
            }
            let mut items = Vec::new();
            // Bulk sync first (SyncBegin, a cursor over the table, SyncEnd), then the queue.
            let mut bulk = ch.bulk;
            let mut epoch = ch.epoch;
            while items.len() < cluster::MAX_ITEMS {
                match bulk {
                    BulkSync::Idle => break,
                    BulkSync::Start => {
                        epoch = epoch.wrapping_add(1);
                        items.push(Item::SyncBegin { epoch });
                        bulk = BulkSync::Walk(0);
                    }
                    BulkSync::Walk(c) => match self.table.next_slot(c) {
                        Some(s) => {
                            if let Some(r) = self.record(s, now) {
                                if r.second_ha == self.node || r.first_ha == self.node {
                                    items.push(Item::Upsert(r));
                                } else if r.second_ha == peer && r.state == BindingState::Permanent
                                {
                                    items.push(Item::Holds {
                                        home_address: r.home_address,
                                        nai: r.nai,
                                    });
                                }
                            }
                            bulk = s.checked_add(1).map_or(BulkSync::Finish, BulkSync::Walk);
                        }
                        None => bulk = BulkSync::Finish,
                    },
                    BulkSync::Finish => {
                        items.push(Item::SyncEnd { epoch });
                        bulk = BulkSync::Idle;
                    }
                }
            }
            let Some(ch) = self.channels.get_mut(&peer) else {
                continue;
            };
            ch.bulk = bulk;
            ch.epoch = epoch;
            while items.len() < cluster::MAX_ITEMS {
                match ch.queue.pop_front() {
                    Some(i) => items.push(i),
                    None => break,
                }
            }
            if items.is_empty() {
                continue;
            }
            ch.next_seq += 1;
            let seq = ch.next_seq;
            ch.inflight = Some(Inflight {
                seq,
                items: items.clone(),
                deadline: now + self.rto,
                timeout: self.rto,
            });
            self.send_cluster(peer, Body::Replicate { seq, items });
        }
    }

    fn retransmit(&mut self, now: Instant) {
        let peers: Vec<NodeId> = self.channels.keys().copied().collect();
        let max_rto = self.rto.saturating_mul(8);
        for peer in peers {
            let up = self.peer_state(peer) == NodeState::Up;
            let Some(ch) = self.channels.get_mut(&peer) else {
                continue;
            };
            let Some(inf) = ch.inflight.as_mut() else {
                continue;
            };
            if inf.deadline > now {
                continue;
            }
            if !up {
                // The peer is not Up: keep the batch for when it is (bulk sync then covers it).
                inf.deadline = now + max_rto;
                continue;
            }
            inf.timeout = inf.timeout.saturating_mul(2).min(max_rto);
            inf.deadline = now + inf.timeout;
            let (seq, items) = (inf.seq, inf.items.clone());
            self.send_cluster(peer, Body::Replicate { seq, items });
        }
    }

    fn apply(&mut self, now: Instant, sender: NodeId, item: Item) {
        self.stats.replicas_applied += 1;
        match item {
            Item::Upsert(mut r) => {
                let key = (r.home_address, r.nai.clone());
                // A late replica naming an HA already taken over names the decided owner (which
                // replicates it as its own).
                let mut taken = false;
                let cap = self.table.max_bindings();
                if r.state == BindingState::Permanent
                    && r.second_ha != sender
                    && let Some(d) = self.takeovers.get_mut(&r.second_ha)
                {
                    let failed = r.second_ha;
                    if d.moved.len() < cap {
                        d.moved.insert(key.clone(), r.identification);
                    }
                    r.second_ha = d.owner;
                    if r.first_ha == failed {
                        r.first_ha = d.owner;
                    }
                    taken = d.owner == self.node;
                }
                self.apply_upsert(now, sender, r, taken);
                if taken && let Some(s) = self.table.find(key.0, key.1.as_deref()) {
                    self.replicate_slot(s, now);
                }
                // Seen in the sender's bulk sync (if one is open): not swept at its end.
                if let Some(sync) = self
                    .channels
                    .get_mut(&sender)
                    .and_then(|c| c.sync_in.as_mut())
                    && let Some(s) = self.table.find(key.0, key.1.as_deref())
                {
                    sync.seen.insert(s);
                }
            }
            Item::Remove { home_address, nai } => {
                // Only what the sender is authoritative for goes: a temporary binding it relays,
                // a permanent one it serves (of one it does not, only the request it relays).
                let node = self.node;
                if let Some(s) = self.table.find(home_address, nai.as_deref())
                    && let Some(b) = self.table.get(s)
                    && b.second_ha != node
                {
                    let relays = b.pending.as_ref().is_some_and(|p| p.first_ha == sender);
                    match b.state() {
                        BindingState::Temporary if relays => {
                            self.table.remove(s);
                        }
                        BindingState::Permanent if b.second_ha == sender => {
                            self.table.remove(s);
                        }
                        BindingState::Permanent if relays => {
                            let _ = self.table.update(s, |b| b.pending = None);
                        }
                        _ => {}
                    }
                }
            }
            Item::Takeover {
                failed,
                owner,
                coordinator,
            } => self.take_over(now, failed, owner, coordinator, Some(sender)),
            Item::SyncBegin { epoch } => {
                // The sender is alive, whatever health said.
                self.forget_takeover(sender);
                let incarnation = self.windows.get(&sender).map(ReplayWindow::incarnation);
                if self
                    .returned
                    .get(&sender)
                    .is_some_and(|r| Some(r.incarnation) != incarnation)
                {
                    // It restarted: its state is gone, the takeover stands.
                    self.returned.remove(&sender);
                }
                if let Some(ch) = self.channels.get_mut(&sender) {
                    // A newer sync replaces one left unfinished.
                    ch.sync_in = Some(SyncIn {
                        epoch,
                        seen: HashSet::new(),
                    });
                }
            }
            Item::SyncEnd { epoch } => self.end_sync(sender, epoch),
            Item::Holds { home_address, nai } => {
                if let Some(sync) = self
                    .channels
                    .get_mut(&sender)
                    .and_then(|c| c.sync_in.as_mut())
                    && let Some(s) = self.table.find(home_address, nai.as_deref())
                {
                    sync.seen.insert(s);
                }
            }
        }
        self.update_load();
    }

    /// Ends the bulk sync `epoch` from `sender`: removes the replicas `sender` is authoritative
    /// for (it serves them, or relays their pending request) that it did not name since the sync
    /// began. Never what this HA serves, nor a binding this HA relays as first HA (it learnt that
    /// one first-hand, from the second HA's reply, possibly after the sender's snapshot: it ends
    /// with its own lifetime or the deregistration this HA relays).
    fn end_sync(&mut self, sender: NodeId, epoch: u32) {
        let Some(ch) = self.channels.get_mut(&sender) else {
            return;
        };
        if ch.sync_in.as_ref().is_none_or(|s| s.epoch != epoch) {
            return;
        }
        let Some(sync) = ch.sync_in.take() else {
            return;
        };
        let node = self.node;
        let stale: Vec<u32> = self
            .table
            .iter()
            .filter(|(s, b)| {
                let mine = b.second_ha == node
                    || b.first_ha == node
                    || b.pending.as_ref().is_some_and(|p| p.first_ha == node);
                let from_sender = match b.state() {
                    BindingState::Temporary => {
                        b.pending.as_ref().is_some_and(|p| p.first_ha == sender)
                    }
                    BindingState::Permanent => b.second_ha == sender,
                };
                !mine && from_sender && !sync.seen.contains(s)
            })
            .map(|(s, _)| s)
            .collect();
        for s in stale {
            self.table.remove(s);
        }
        // What this HA took over from the sender while it was thought Down, and the sender
        // (same incarnation) no longer holds at all (deregistered or expired meanwhile), unless
        // re-registered here since. What it still holds naming this HA came as Holds.
        let Some(returned) = self.returned.remove(&sender) else {
            return;
        };
        if Some(returned.incarnation) != self.windows.get(&sender).map(ReplayWindow::incarnation) {
            return;
        }
        for ((h, n), id) in returned.moved {
            if let Some(s) = self.table.find(h, n.as_deref())
                && !sync.seen.contains(&s)
                && self
                    .table
                    .get(s)
                    .is_some_and(|b| b.second_ha == node && b.identification == id)
                && let Some(b) = self.table.remove(s)
            {
                self.replicate_remove(b.home_address, b.nai);
            }
        }
    }

    /// `node` is alive: a later failure of it is a new takeover; what this HA took over from it
    /// is checked against its next bulk sync (if it kept its state: same incarnation).
    fn forget_takeover(&mut self, node: NodeId) {
        self.deferred.remove(&node);
        let Some(d) = self.takeovers.remove(&node) else {
            return;
        };
        let Some(incarnation) = d.incarnation else {
            return;
        };
        if d.owner == self.node {
            self.returned.insert(
                node,
                Returned {
                    incarnation,
                    moved: d.moved,
                },
            );
            return;
        }
        // Another HA was to take them over. If `node` kept its state (it was only cut off, the
        // same incarnation), the bindings this HA re-pointed and nobody has registered since name
        // `node` again: the owner may never have taken them (it may not have seen `node` Down),
        // and `node` does not replicate bindings that did not change. An owner that did take
        // them re-announces them, and the two-servers rule settles it.
        if self.windows.get(&node).map(ReplayWindow::incarnation) != Some(incarnation) {
            return;
        }
        for ((h, n), id) in d.moved {
            if let Some(s) = self.table.find(h, n.as_deref())
                && self
                    .table
                    .get(s)
                    .is_some_and(|b| b.second_ha == d.owner && b.identification == id)
            {
                let _ = self.table.update(s, |b| b.second_ha = node);
            }
        }
    }

    /// When a lifetime of `secs` seconds (`u32::MAX`: infinite) granted elsewhere ends here:
    /// never later than `max_lifetime` from `now`.
    fn bounded_expiry(&self, now: Instant, secs: u32) -> Option<Instant> {
        let max = self.max_lifetime;
        if max == LIFETIME_INFINITE && secs == u32::MAX {
            return None;
        }
        let secs = if max == LIFETIME_INFINITE {
            secs
        } else {
            secs.min(u32::from(max))
        };
        Some(now + Duration::from_secs(u64::from(secs)))
    }

    /// `decided`: the record was re-pointed to this HA by a takeover decision.
    fn apply_upsert(&mut self, now: Instant, sender: NodeId, r: Record, decided: bool) {
        let slot = self.table.find(r.home_address, r.nai.as_deref());
        if r.state == BindingState::Temporary {
            let Some(&(care_of, ms)) = r.care_of.first() else {
                return;
            };
            // A replica waits no longer than a local request would (`pending_timeout`).
            let wait = Duration::from_millis(u64::from(ms)).min(self.pending_timeout);
            let pending = Pending {
                fa: sock4(r.fa),
                care_of,
                identification: r.identification,
                second_ha: r.second_ha,
                deadline: now + wait,
                simultaneous: false,
                first_ha: r.first_ha,
                stage: PendingStage::Forwarded,
            };
            let res = match slot {
                Some(s) => self
                    .table
                    .update(s, |b| b.pending = Some(Box::new(pending)))
                    .map(|_| s),
                None => self.table.insert(Binding {
                    home_address: r.home_address,
                    nai: r.nai,
                    first_ha: r.first_ha,
                    second_ha: r.second_ha,
                    fa: sock4(r.fa),
                    identification: 0,
                    care_of: Default::default(),
                    pending: Some(Box::new(pending)),
                }),
            };
            if res.is_err() {
                self.stats.replicas_refused += 1;
            }
            return;
        }
        // A replica is held to this HA's own bounds, as a local registration is (RFC 5944
        // section 3.8.3: no more simultaneous bindings than supported, no lifetime beyond what
        // the home agent grants): the first `max_simultaneous` distinct care-of addresses, each
        // lifetime cut to `max_lifetime`.
        let mut care_of = super::binding::CareOfs::default();
        for &(a, secs) in &r.care_of {
            if care_of.len() >= self.max_simultaneous {
                break;
            }
            if care_of.contains(a) {
                continue;
            }
            care_of.push(CareOf {
                address: a,
                expires: self.bounded_expiry(now, secs),
            });
        }
        let node = self.node;
        // A record naming this HA as the server of a binding it does not serve (a first HA's
        // relay record, a handover): this HA serves it now and says so, so that any other HA
        // that claims it resolves the claim with it (never a binding nobody serves).
        let becomes_server = r.second_ha == node
            && !decided
            && slot
                .and_then(|s| self.table.get(s))
                .is_none_or(|b| b.second_ha != node);
        let mut yielded = false;
        let res = match slot {
            Some(s) => {
                // Never let a replica overwrite what this HA serves itself, unless the sender
                // claims to serve it too and wins: the owner a takeover decided, else the newer
                // registration (identification), else the lower node id. A winner re-asserts
                // its binding, so the loser and the other replicas converge on it.
                let conflict = self
                    .table
                    .get(s)
                    .filter(|b| b.second_ha == node && r.second_ha != node)
                    .map(|b| {
                        r.second_ha == sender
                            && match self.decided_owner(r.home_address, r.nai.as_deref()) {
                                Some(o) => o == sender,
                                None => {
                                    (r.identification, Reverse(sender))
                                        > (b.identification, Reverse(node))
                                }
                            }
                    });
                match conflict {
                    Some(false) => {
                        if r.second_ha == sender {
                            self.replicate_slot(s, now);
                        }
                        return;
                    }
                    Some(true) => {
                        // Yield: an address this HA assigned goes back to its pool, and the
                        // backups learn who serves the binding now.
                        if let Some(old) = self.table.get(s).map(|b| b.home_address)
                            && old != r.home_address
                        {
                            self.allocated.remove(&old);
                        }
                        yielded = true;
                    }
                    None => {
                        // A replica older than the binding here changes nothing and makes
                        // nobody server: replication from two senders is not ordered (a first
                        // HA's relay record queued before a newer registration elsewhere).
                        if self
                            .table
                            .get(s)
                            .is_some_and(|b| b.identification > r.identification)
                        {
                            let _ = self.table.update(s, |b| {
                                if b.pending.as_ref().is_some_and(|p| p.first_ha == sender) {
                                    b.pending = None;
                                }
                            });
                            return;
                        }
                    }
                }
                self.table
                    .update(s, |b| {
                        b.home_address = r.home_address;
                        if r.nai.is_some() {
                            b.nai = r.nai.clone();
                        }
                        b.first_ha = r.first_ha;
                        b.second_ha = r.second_ha;
                        b.fa = sock4(r.fa);
                        b.identification = b.identification.max(r.identification);
                        b.care_of = care_of;
                        if b.pending.as_ref().is_some_and(|p| p.first_ha == sender) {
                            b.pending = None;
                        }
                    })
                    .map(|_| s)
            }
            None => self.table.insert(Binding {
                home_address: r.home_address,
                nai: r.nai,
                first_ha: r.first_ha,
                second_ha: r.second_ha,
                fa: sock4(r.fa),
                identification: r.identification,
                care_of,
                pending: None,
            }),
        };
        match res {
            Err(_) => self.stats.replicas_refused += 1,
            Ok(s) if yielded => self.replicate_record(s, now),
            Ok(s) if becomes_server => self.replicate_slot(s, now),
            Ok(_) => {}
        }
    }

    /// Applies the decision "`coordinator` moved the bindings of `failed` to `owner`" (see the
    /// module docs for the rule): the lowest (coordinator, owner) wins; a winning decision
    /// re-points the failed HA's bindings and those a losing decision had moved; a losing one is
    /// answered (to `sender`) with the winning decision.
    fn take_over(
        &mut self,
        now: Instant,
        failed: NodeId,
        owner: NodeId,
        coordinator: NodeId,
        sender: Option<NodeId>,
    ) {
        let node = self.node;
        // This HA is alive: its own bindings stay its own.
        if failed == node {
            return;
        }
        // A decision about an HA this HA does not see Down waits until it does (it may be only
        // cut off from the coordinator); the lowest coordinator's is kept.
        if sender.is_some() && self.peer_state(failed) != NodeState::Down {
            let until = now + self.defer_for;
            let keep = self
                .deferred
                .get(&failed)
                .is_some_and(|(c, o, u)| (*c, *o) <= (coordinator, owner) && *u >= now);
            if !keep {
                self.deferred.insert(failed, (coordinator, owner, until));
            }
            return;
        }
        let prev = self
            .takeovers
            .get(&failed)
            .map(|d| (d.coordinator, d.owner));
        if let Some((c, o)) = prev
            && (coordinator, owner) > (c, o)
        {
            // A losing decision: keep ours and tell the sender which one wins.
            if let Some(s) = sender.filter(|s| *s != failed && *s != node) {
                self.enqueue(
                    s,
                    Item::Takeover {
                        failed,
                        owner: o,
                        coordinator: c,
                    },
                );
                self.pump(now);
            }
            return;
        }
        let old_owner = prev.map(|(_, o)| o).filter(|o| *o != owner);
        let mut moved = self
            .takeovers
            .remove(&failed)
            .map(|d| d.moved)
            .unwrap_or_default();
        // The failed HA's bindings, then those a losing decision moved to another owner.
        let mut slots: Vec<u32> = Vec::new();
        let cap = self.table.max_bindings();
        for (s, b) in self.table.iter() {
            if b.second_ha == failed {
                slots.push(s);
                if moved.len() < cap {
                    moved.insert((b.home_address, b.nai.clone()), b.identification);
                }
            }
        }
        if let Some(o) = old_owner {
            for (h, n) in moved.keys() {
                if let Some(s) = self.table.find(*h, n.as_deref())
                    && self.table.get(s).is_some_and(|b| b.second_ha == o)
                {
                    slots.push(s);
                }
            }
        }
        for &s in &slots {
            let _ = self.table.update(s, |b| {
                b.second_ha = owner;
                if b.first_ha == failed {
                    b.first_ha = owner;
                }
                if b.pending.as_ref().is_some_and(|p| p.second_ha == failed) {
                    b.pending = None;
                }
            });
        }
        // The owner's bulk sync in progress must not sweep what it now owns here.
        if let Some(sync) = self
            .channels
            .get_mut(&owner)
            .and_then(|c| c.sync_in.as_mut())
        {
            sync.seen.extend(slots.iter().copied());
        }
        if owner == node {
            for &s in &slots {
                self.replicate_slot(s, now);
            }
        } else if old_owner == Some(node) {
            // This HA had taken them over and lost: it hands every one over, so its backups'
            // replicas (which it may have overwritten meanwhile) name the winner.
            for (h, n) in moved.keys() {
                if let Some(s) = self.table.find(*h, n.as_deref()) {
                    self.replicate_record(s, now);
                }
            }
            self.pump(now);
        }
        let changed = prev != Some((coordinator, owner));
        let incarnation = self.windows.get(&failed).map(ReplayWindow::incarnation);
        self.takeovers.insert(
            failed,
            Decision {
                coordinator,
                owner,
                incarnation,
                moved,
            },
        );
        if let Some((c, o)) = prev.filter(|_| changed) {
            // Superseded: the losing coordinator and owner learn the winner directly.
            for p in [c, o] {
                if p != node && p != failed && Some(p) != sender {
                    self.enqueue(
                        p,
                        Item::Takeover {
                            failed,
                            owner,
                            coordinator,
                        },
                    );
                }
            }
            self.pump(now);
        }
        if changed || !slots.is_empty() {
            self.push_event(Event::TakenOver {
                failed,
                owner,
                bindings: slots.len(),
            });
        }
    }

    /// The owner a takeover decision gave this mobile node's binding, if one did.
    fn decided_owner(&self, home_address: Ipv4Addr, nai: Option<&[u8]>) -> Option<NodeId> {
        let key = (home_address, nai.map(Box::from));
        self.takeovers
            .values()
            .find(|d| d.moved.contains_key(&key))
            .map(|d| d.owner)
    }

    fn on_down(&mut self, now: Instant, failed: NodeId) {
        // A decision received before this HA saw the failure applies now, if recent.
        if let Some((coordinator, owner, until)) = self.deferred.remove(&failed)
            && until >= now
        {
            self.take_over(now, failed, owner, coordinator, None);
        }
        // A decision already taken (by a lower coordinator) stands.
        if self.takeovers.contains_key(&failed) {
            return;
        }
        let Some(backups) = self.members.get(&failed).map(|m| m.backups.clone()) else {
            return;
        };
        let candidates: Vec<NodeId> = backups
            .into_iter()
            .filter(|n| *n != failed && self.peer_state(*n) == NodeState::Up)
            .collect();
        // The lowest-numbered live backup coordinates; everyone else waits for its Takeover.
        if candidates.iter().min() != Some(&self.node) {
            return;
        }
        let owner = self
            .monitor
            .select(Policy::LeastLoaded, &mut self.rng, |n| {
                candidates.contains(&n)
            })
            .unwrap_or(self.node);
        let peers: Vec<NodeId> = self
            .members
            .keys()
            .copied()
            .filter(|n| *n != self.node && *n != failed)
            .collect();
        let coordinator = self.node;
        for p in peers {
            self.enqueue(
                p,
                Item::Takeover {
                    failed,
                    owner,
                    coordinator,
                },
            );
        }
        self.take_over(now, failed, owner, coordinator, None);
        self.pump(now);
    }

    fn update_load(&mut self) {
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
                    self.forget_takeover(node);
                    // A backup (re)joins: send it everything in bulk.
                    if self.backups().contains(&node)
                        && let Some(ch) = self.channels.get_mut(&node)
                    {
                        ch.restart_bulk();
                    }
                    self.pump(now);
                }
                HealthEvent::Restarted { node, .. } => {
                    self.windows.remove(&node);
                    // Its state is gone: a takeover of it stands.
                    self.deferred.remove(&node);
                    self.takeovers.remove(&node);
                    self.returned.remove(&node);
                    let is_backup = self.backups().contains(&node);
                    if let Some(ch) = self.channels.get_mut(&node) {
                        ch.last_acked_in = None;
                        ch.sync_in = None;
                        if is_backup {
                            ch.restart_bulk();
                        }
                    }
                }
                HealthEvent::Down { node } => {
                    self.push_event(Event::PeerDown { node });
                    self.on_down(now, node);
                }
                HealthEvent::Suspect { .. } => {}
            }
        }
    }

    /// Lets due timers fire: heartbeats and failure detection, temporary and permanent binding
    /// expiry, replication retransmissions, layer-2 notices.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.update_load();
        self.monitor.handle_timeout(now);
        self.drain_health(now);
        while let Some(x) = self.table.pop_expired(now) {
            match x {
                Expiry::TemporaryFreed(b) => {
                    if let Some(mn) = MnId::of(b.home_address, b.nai.as_deref()) {
                        self.push_event(Event::TemporaryExpired { mn });
                    }
                }
                Expiry::LifetimeEnded(b) => {
                    self.allocated.remove(&b.home_address);
                    if b.second_ha == self.node {
                        self.replicate_remove(b.home_address, b.nai.clone());
                    }
                    self.push_event(Event::Expired {
                        home_address: b.home_address,
                    });
                }
                Expiry::PendingCleared(_) | Expiry::CareOfExpired(_) => {}
            }
        }
        self.expire_notices(now);
        self.retransmit(now);
        self.pump(now);
        self.update_load();
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let repl = self
            .channels
            .values()
            .filter_map(|c| c.inflight.as_ref().map(|i| i.deadline))
            .min();
        [
            self.monitor.poll_timeout(),
            self.table.next_deadline(),
            self.notice_order.front().map(|(_, d)| *d),
            repl,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl crate::io::Node for HomeAgent {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let _ = HomeAgent::handle_datagram(self, now, from, to, data);
    }
    fn handle_frame(
        &mut self,
        now: Instant,
        link_src: Option<MacAddr>,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) {
        let _ = HomeAgent::handle_frame(self, now, link_src, from, to, data);
    }
    fn handle_timeout(&mut self, now: Instant) {
        HomeAgent::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        HomeAgent::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        HomeAgent::poll_timeout(self)
    }
}
