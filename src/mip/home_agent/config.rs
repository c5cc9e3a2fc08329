//! The Home Agent's configuration.

use super::*;
use std::fmt;

/// How the first HA hands a request to the second HA.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
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

/// What the cluster does with a request for dynamic home agent assignment (RFC 4433 section 3:
/// the Home Agent field 0.0.0.0 or 255.255.255.255, the ALL-ZERO-ONE-ADDR).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum DynamicHaPolicy {
    /// Not offered: such a request is refused with 136 (unknown home agent address, RFC 5944
    /// section 3.8.2.1), the reply naming the virtual address.
    #[default]
    Off,
    /// The virtual HA is the assigned HA: the first HA selects the serving HA by load (as for
    /// any new mobile node), and the accepting reply names the virtual address in its Home Agent
    /// field (RFC 4433 section 3.2), where the mobile node re-registers.
    Serve,
    /// The first HA selects a member by load; if it is another member, the request is denied
    /// with 143 (register with the redirected HA) and a Redirected HA extension naming that
    /// member's own address (RFC 4433 sections 3.3, 4.2), protected by the MN-HA authenticator.
    /// The mobile node asks again there; that member (or this one, when it is the least loaded)
    /// serves the request and names its own address in the reply.
    Redirect,
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

/// Configuration of a [`HomeAgent`]. `Debug` shows the cluster key's length only and whether a
/// seed is set (the seed decides the tables' hash seed and the sealing nonces).
#[derive(Clone)]
pub struct HomeAgentConfig {
    /// This HA's node id (must be in `members`).
    pub node: NodeId,
    /// Grows on every restart (health and cluster anti-replay).
    pub incarnation: u32,
    /// The virtual HA address shared by the cluster, on UDP port 434 ([`crate::mip::wire::PORT`]):
    /// a reply to a request sent to it leaves from the address and port the request was sent
    /// to (RFC 5944 sections 3.4 and 3.8.3.1: the reply's source port is the request's
    /// destination port; [`Transmit::src`](crate::io::Transmit::src)), 434 for a mobile node
    /// following the RFC; frames forwarded at layer 2 leave from `virtual_address:434`.
    /// (Requests sent to the HA's own [`Member::addr`] are answered from that address and port.)
    /// It must lie inside [`Self::virtual_network`]: it is the home agent address the mobile
    /// nodes of that home network register with (RFC 5944 section 3.8: "home agent" is a router
    /// on the mobile node's home network; the cluster answers for it on that link, layer-2
    /// forwarding included); [`ConfigError::OutOfRange`] naming [`ConfigField::VirtualAddress`]
    /// otherwise.
    pub virtual_address: Ipv4Addr,
    /// The virtual (home) network this cluster serves, advertised as a route; it contains
    /// [`Self::virtual_address`].
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
    /// Cluster key (HMAC-MD5 of cluster messages and heartbeats; key material of the sealing of
    /// keys from AAA): at least [`MIN_KEY_LEN`](crate::io::auth::MIN_KEY_LEN) (16) octets, 128
    /// bits (RFC 2104 section 3); [`ConfigError::KeyTooShort`] naming
    /// [`ConfigField::ClusterKey`] otherwise.
    pub cluster_key: Vec<u8>,
    /// Mobile nodes' keys: each MN-HA key at least 16 octets, the 128 bits of the default
    /// algorithm (RFC 5944 section 5.1); [`ConfigError::KeyTooShort`] naming
    /// [`ConfigField::MobileNodeKey`] otherwise.
    pub mobile_nodes: Vec<MobileNodeKey>,
    /// Foreign agents with an FA-HA security association: a request coming from one of these
    /// addresses must carry exactly one FA-HA authentication extension, valid (RFC 5944 section
    /// 3.8.2.1; 132 otherwise). An IP address, not a socket address as the members' and peers'
    /// elsewhere: RFC 5944 section 1.6 indexes a mobility security association by its SPI and
    /// the peer's IP address, and the home agent knows the foreign agent by the source address
    /// of the request it relays (section 3.7.2.2: the foreign agent relays from a variable UDP
    /// port; section 3.8.3.1: the reply goes back to the request's source port), so no port
    /// belongs to the association. Each FA-HA key is at least 16 octets (RFC 5944 section 5.1:
    /// HMAC-MD5 with 128-bit keys; [`ConfigError::KeyTooShort`] naming
    /// [`ConfigField::ForeignAgentKey`] otherwise).
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
    /// Wall-clock time (since the Unix epoch) at the `now` given to [`HomeAgent::new`]: the HA's
    /// time for Identification timestamps (RFC 5944 section 5.7.1). The crate never reads a clock,
    /// so a caller sets it (e.g. `SystemTime::now().duration_since(UNIX_EPOCH)`); the default of
    /// [`HomeAgentConfig::new`] is a fixed instant (1,700,000,000 s, November 2023), right only for
    /// simulations whose mobile nodes use the same value.
    pub wall_clock: Duration,
    /// Heartbeats with the other members: interval, misses before Suspect and Down, the load
    /// percentage at which an HA is not selected, the health event bound.
    pub health: HealthConfig,
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
    /// Registration revocation (RFC 3543): when on, a request relayed by a foreign agent with an
    /// FA-HA association and the Revocation Support extension is answered with the extension
    /// (revocation negotiated), and [`HomeAgent::revoke`] sends that agent a Registration
    /// Revocation. Off by default: the extension is skipped and never answered.
    pub revocation: bool,
    /// Most Registration Revocations awaiting acknowledgement (beyond, a revoked binding is
    /// removed without one: [`HaStats::revocations_saturated`]). Default 1024.
    pub max_revocations: usize,
    /// First retransmission timeout of a Registration Revocation (doubled after each). Default
    /// 1 s.
    pub revocation_rto: Duration,
    /// Retransmissions of a Registration Revocation before it is given up
    /// ([`Event::RevocationUnacknowledged`]). Default 4.
    pub revocation_retransmits: u32,
    /// How long a member that took over bindings it cannot serve waits before revoking them
    /// (RFC 3543 section 4.1 on takeover): the failed member seen Up again within it (it was
    /// only cut off: a false Down under loss) cancels them, and the bindings go back to it by the
    /// takeover rules; seen restarted (its state gone), they are revoked at once. At most
    /// `max_bindings` wait (beyond, revoked at once: [`HaStats::takeover_grace_full`]). Zero
    /// revokes at once. Default 10 s (several heartbeat intervals past the Down); at most 1 h.
    pub takeover_revocation_grace: Duration,
    /// Dynamic home agent assignment (RFC 4433): refused (the default), served by the virtual HA
    /// or redirected to the least loaded member.
    pub dynamic_ha: DynamicHaPolicy,
    /// The tunnels offered (RFC 5944 section 3.8.3 M and G bits, RFC 3024 reverse tunnels,
    /// RFC 3519 UDP tunnelling, RFC 6245 GRE keys): what the binding events'
    /// [`Tunnel`](crate::mip::binding::Tunnel) may say, and the codes refusing the rest.
    /// Default [`TunnelConfig::default`]: IP-in-IP and GRE, reverse tunnels allowed, no minimal
    /// encapsulation, no UDP tunnelling. Every member gets the same.
    pub tunnels: TunnelConfig,
    /// MN-HA keys from AAA ([`HomeAgent::provide_key`]): `Some`, a request naming a mobile node
    /// and SPI this HA has no key for is parked and the key asked of the caller
    /// ([`Event::KeyRequest`]); `None` (the default), it is refused with 131 as before. Configured
    /// keys ([`Self::mobile_nodes`]) are used as always and never asked for.
    pub aaa: Option<AaaConfig>,
    /// Seed of the RNG (selection among equal HAs, the tables' hash seed): `None` (the default)
    /// reads 32 bytes from the operating system at [`HomeAgent::new`]; `Some` replays a run
    /// exactly (tests, simulations: [`crate::io::seed`]).
    pub seed: Option<[u8; 32]>,
}

impl fmt::Debug for HomeAgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let HomeAgentConfig {
            node,
            incarnation,
            virtual_address,
            virtual_network,
            members,
            mode,
            layer2_notices,
            cluster_key,
            mobile_nodes,
            foreign_agents,
            pool,
            max_lifetime,
            max_bindings,
            max_pending,
            max_simultaneous,
            pending_timeout,
            replay_tolerance,
            wall_clock,
            health,
            replication_rto,
            max_replication_queue,
            max_transmits,
            max_events,
            refusals,
            revocation,
            max_revocations,
            revocation_rto,
            revocation_retransmits,
            takeover_revocation_grace,
            dynamic_ha,
            tunnels,
            aaa,
            seed,
        } = self;
        f.debug_struct("HomeAgentConfig")
            .field("node", node)
            .field("incarnation", incarnation)
            .field("virtual_address", virtual_address)
            .field("virtual_network", virtual_network)
            .field("members", members)
            .field("mode", mode)
            .field("layer2_notices", layer2_notices)
            .field(
                "cluster_key",
                &format_args!("<{} bytes redacted>", cluster_key.len()),
            )
            .field("mobile_nodes", mobile_nodes)
            .field("foreign_agents", foreign_agents)
            .field("pool", pool)
            .field("max_lifetime", max_lifetime)
            .field("max_bindings", max_bindings)
            .field("max_pending", max_pending)
            .field("max_simultaneous", max_simultaneous)
            .field("pending_timeout", pending_timeout)
            .field("replay_tolerance", replay_tolerance)
            .field("wall_clock", wall_clock)
            .field("health", health)
            .field("replication_rto", replication_rto)
            .field("max_replication_queue", max_replication_queue)
            .field("max_transmits", max_transmits)
            .field("max_events", max_events)
            .field("refusals", refusals)
            .field("revocation", revocation)
            .field("max_revocations", max_revocations)
            .field("revocation_rto", revocation_rto)
            .field("revocation_retransmits", revocation_retransmits)
            .field("takeover_revocation_grace", takeover_revocation_grace)
            .field("dynamic_ha", dynamic_ha)
            .field("tunnels", tunnels)
            .field("aaa", aaa)
            .field("seed", &seed.map(|_| "<seeded>"))
            .finish()
    }
}

impl HomeAgentConfig {
    /// A configuration with defaults: layer 2, lifetime up to 1800 s, 100 000 bindings, 10 000
    /// pending, 1 simultaneous binding, 3 s pending timer, 7 s tolerance, a fixed wall clock
    /// (set [`Self::wall_clock`] to the real time: replay protection by timestamps compares with
    /// it, RFC 5944 section 5.7), 1 s heartbeats (Suspect after 2, Down after 4), overloaded at
    /// 90 %, 200 ms replication timeout, 4096 queued transmits and events, refusals of unproven
    /// requests at 100 per second (bursts of 20).
    ///
    /// Layer 2 ([`ForwardMode::Layer2`]) forwards requests as frames with a foreign source
    /// address and a link-layer destination, which need a raw or packet socket; a caller with
    /// only UDP sockets sets [`Self::mode`] to [`ForwardMode::Layer3`].
    ///
    /// `members` holds every HA of the cluster, this one (`node`) included; `cluster_key` is the
    /// raw key (at least 16 octets, [`Self::cluster_key`]), not a
    /// [`ClusterKey`](crate::health::ClusterKey) as the L2TP and steering roles take.
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
            health: HealthConfig::default(),
            replication_rto: Duration::from_millis(200),
            max_replication_queue: 100_000,
            max_transmits: 4096,
            max_events: 4096,
            refusals: RateLimit::default(),
            revocation: false,
            max_revocations: 1024,
            revocation_rto: Duration::from_secs(1),
            revocation_retransmits: 4,
            takeover_revocation_grace: Duration::from_secs(10),
            dynamic_ha: DynamicHaPolicy::Off,
            tunnels: TunnelConfig::default(),
            aaa: None,
            seed: None,
        }
    }
}

/// A configuration field out of its range, named by [`ConfigError::OutOfRange`] for every
/// Mobile IP role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigField {
    /// [`HomeAgentConfig::max_bindings`]: must be > 0.
    MaxBindings,
    /// [`HomeAgentConfig::max_pending`] or
    /// [`crate::mip::ForeignAgentConfig::max_pending`]: must be > 0.
    MaxPending,
    /// [`HomeAgentConfig::max_simultaneous`]: 1..=4.
    MaxSimultaneous,
    /// [`HomeAgentConfig::pending_timeout`] or
    /// [`crate::mip::ForeignAgentConfig::pending_timeout`]: 0 < t <= 1 h.
    PendingTimeout,
    /// [`HomeAgentConfig::replication_rto`]: 0 < t <= 60 s.
    ReplicationRto,
    /// [`HomeAgentConfig::replay_tolerance`]: <= 1 h.
    ReplayTolerance,
    /// The SPI of a security association of [`HomeAgentConfig::mobile_nodes`],
    /// [`HomeAgentConfig::foreign_agents`], [`crate::mip::ClientConfig::sa`] or
    /// [`crate::mip::ForeignAgentConfig::fa_ha`]: from
    /// [`FIRST_USABLE_SPI`](crate::mip::wire::auth::FIRST_USABLE_SPI) (256) up, 0-255 being
    /// reserved (RFC 5944 section 1.6).
    Spi,
    /// [`HomeAgentConfig::max_transmits`]: must be > 0.
    MaxTransmits,
    /// [`HomeAgentConfig::max_events`]: must be > 0.
    MaxEvents,
    /// [`HomeAgentConfig::max_replication_queue`]: must be > 0.
    MaxReplicationQueue,
    /// [`crate::mip::ClientConfig::retransmit`]: 0 < t <= 1 h.
    Retransmit,
    /// [`HomeAgentConfig::max_revocations`]: must be > 0.
    MaxRevocations,
    /// [`HomeAgentConfig::revocation_rto`]: 0 < t <= 1 h.
    RevocationRto,
    /// [`HomeAgentConfig::takeover_revocation_grace`]: at most 1 h.
    TakeoverRevocationGrace,
    /// [`AaaConfig::max_pending`]: must be > 0.
    AaaMaxPending,
    /// [`AaaConfig::timeout`]: 0 < t <= 1 h.
    AaaTimeout,
    /// [`AaaConfig::max_keys`]: must be > 0.
    AaaMaxKeys,
    /// [`HomeAgentConfig::virtual_address`]: inside [`HomeAgentConfig::virtual_network`].
    VirtualAddress,
    /// [`HomeAgentConfig::cluster_key`]: at least 16 octets ([`ConfigError::KeyTooShort`]).
    ClusterKey,
    /// A key of [`HomeAgentConfig::mobile_nodes`] or [`crate::mip::ClientConfig::sa`]: at least
    /// 16 octets ([`ConfigError::KeyTooShort`]).
    MobileNodeKey,
    /// A key of [`HomeAgentConfig::foreign_agents`] or
    /// [`crate::mip::ForeignAgentConfig::fa_ha`]: at least 16 octets
    /// ([`ConfigError::KeyTooShort`]).
    ForeignAgentKey,
    /// [`crate::mip::ForeignAgentConfig::home_agent`], or [`crate::mip::ClientConfig::home_agent`]
    /// when requests go to it (`via: None`): a usable destination
    /// ([`ConfigError::UnusableAddress`]).
    HomeAgent,
    /// [`crate::mip::ClientConfig::via`], the foreign agent requests go to: a usable destination
    /// ([`ConfigError::UnusableAddress`]).
    Via,
}

impl fmt::Display for ConfigField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A configuration that cannot work: what [`HomeAgent::new`](crate::mip::HomeAgent::new),
/// [`ForeignAgent::new`](crate::mip::ForeignAgent::new) and
/// [`MobileNodeClient::new`](crate::mip::MobileNodeClient::new) return, as `l2tp::ConfigError`
/// is for the LAC and the LNS and `steering::ConfigError` for the steering roles.
///
/// Each names what to change, once (a [`NodeId`] shows as `node#N`):
///
/// ```
/// use std::time::Instant;
/// use telcp::health::NodeId;
/// use telcp::mip::{ConfigError, HomeAgent, HomeAgentConfig, Member};
///
/// let member = Member {
///     node: NodeId(1),
///     addr: "10.1.0.11:434".parse()?,
///     mac: telcp::MacAddr([2, 0, 0, 0, 0, 1]),
///     backups: vec![],
/// };
/// let (virt, network) = ("10.1.0.1".parse()?, "10.1.0.0/16".parse()?);
/// // This HA is node 2, but the member list names node 1 only.
/// let config = HomeAgentConfig::new(NodeId(2), virt, network, vec![member], b"cluster key of 128 bits");
/// let err = HomeAgent::new(config, Instant::now()).unwrap_err();
/// assert_eq!(err, ConfigError::NotMember(NodeId(2)));
/// assert_eq!(err.to_string(), "node#2 is not among the members");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A member appears twice in `members`.
    #[error("member {0} appears twice")]
    DuplicateMember(NodeId),
    /// `node` is not among `members`.
    #[error("{0} is not among the members")]
    NotMember(NodeId),
    /// A bound is zero or out of range.
    #[error("{0} out of range")]
    OutOfRange(ConfigField),
    /// A mobile node's home address is 0.0.0.0 and it has no NAI: its requests could not name
    /// it (RFC 2794 section 2; [`crate::mip::MobileNodeClient::new`]).
    #[error("home address 0.0.0.0 needs an NAI")]
    NoIdentity,
    /// A key has fewer than [`MIN_KEY_LEN`](crate::io::auth::MIN_KEY_LEN) (16) octets: the
    /// Mobile IP default algorithm is HMAC-MD5 with 128-bit keys (RFC 5944 section 5.1), RFC
    /// 2104 section 3 strongly discourages HMAC keys shorter than the 16-octet hash, and the
    /// cluster key is also the key material of the cluster's sealing keys. `field` is
    /// [`ConfigField::ClusterKey`], [`ConfigField::MobileNodeKey`] or
    /// [`ConfigField::ForeignAgentKey`].
    #[error("{field}: key of {octets} octets, at least {min} needed")]
    KeyTooShort {
        /// Which key.
        field: ConfigField,
        /// Octets configured.
        octets: usize,
        /// The fewest accepted.
        min: usize,
    },
    /// A peer address no datagram can be sent to: port 0 (reserved, RFC 6335 section 6) or the
    /// unspecified address (0.0.0.0, never a destination: RFC 1122 section 3.2.1.3). `field` is
    /// [`ConfigField::HomeAgent`] or [`ConfigField::Via`] (the same name as
    /// `l2tp::ConfigError::UnusableAddress`, `steering::ConfigError::UnusableAddress` and
    /// [`health::ConfigError::UnusableAddress`], which refuses a Home Agent member's address).
    #[error("{field}: unusable address {addr}")]
    UnusableAddress {
        /// The field.
        field: ConfigField,
        /// The address as configured.
        addr: std::net::SocketAddr,
    },
    /// The health monitor refused its part (a member's address unusable as a destination:
    /// [`health::ConfigError::UnusableAddress`]).
    #[error(transparent)]
    Health(#[from] health::ConfigError),
    /// `seed: None` and the operating system gave no entropy.
    #[error(transparent)]
    Entropy(#[from] crate::io::EntropyError),
}

impl HomeAgentConfig {
    /// The members by node id, after checking every bound (a member list without this node or
    /// with a node twice, zero bounds, an SPI reserved by RFC 5944 section 1.6).
    pub(super) fn validate(&self) -> Result<BTreeMap<NodeId, Member>, ConfigError> {
        let mut members = BTreeMap::new();
        for m in &self.members {
            if members.insert(m.node, m.clone()).is_some() {
                return Err(ConfigError::DuplicateMember(m.node));
            }
        }
        if !members.contains_key(&self.node) {
            return Err(ConfigError::NotMember(self.node));
        }
        let keys = std::iter::once((ConfigField::ClusterKey, &self.cluster_key[..]))
            .chain(
                self.mobile_nodes
                    .iter()
                    .map(|k| (ConfigField::MobileNodeKey, &k.sa.key[..])),
            )
            .chain(
                self.foreign_agents
                    .iter()
                    .map(|(_, sa)| (ConfigField::ForeignAgentKey, &sa.key[..])),
            );
        for (field, key) in keys {
            check_key(field, key)?;
        }
        let hour = Duration::from_secs(3600);
        let spis = self.mobile_nodes.iter().map(|k| k.sa.spi);
        let mut spis = spis.chain(self.foreign_agents.iter().map(|(_, sa)| sa.spi));
        let checks = [
            (self.max_bindings == 0, ConfigField::MaxBindings),
            (self.max_pending == 0, ConfigField::MaxPending),
            (
                !(1..=crate::mip::binding::MAX_SIMULTANEOUS).contains(&self.max_simultaneous),
                ConfigField::MaxSimultaneous,
            ),
            (
                self.pending_timeout.is_zero() || self.pending_timeout > hour,
                ConfigField::PendingTimeout,
            ),
            (
                self.replication_rto.is_zero() || self.replication_rto > Duration::from_secs(60),
                ConfigField::ReplicationRto,
            ),
            (self.replay_tolerance > hour, ConfigField::ReplayTolerance),
            // RFC 5944 section 3.8: the virtual address is the home agent address of the mobile
            // nodes of the home network the cluster serves.
            (
                !self.virtual_network.contains(self.virtual_address),
                ConfigField::VirtualAddress,
            ),
            // RFC 5944 section 1.6: SPIs 0-255 are reserved, no security association uses them.
            (spis.any(|spi| spi < FIRST_USABLE_SPI), ConfigField::Spi),
            (self.max_transmits == 0, ConfigField::MaxTransmits),
            (self.max_events == 0, ConfigField::MaxEvents),
            (self.max_revocations == 0, ConfigField::MaxRevocations),
            (
                self.revocation_rto.is_zero() || self.revocation_rto > hour,
                ConfigField::RevocationRto,
            ),
            (
                self.takeover_revocation_grace > hour,
                ConfigField::TakeoverRevocationGrace,
            ),
            (
                self.max_replication_queue == 0,
                ConfigField::MaxReplicationQueue,
            ),
            (
                self.aaa.is_some_and(|a| a.max_pending == 0),
                ConfigField::AaaMaxPending,
            ),
            (
                self.aaa
                    .is_some_and(|a| a.timeout.is_zero() || a.timeout > hour),
                ConfigField::AaaTimeout,
            ),
            (
                self.aaa.is_some_and(|a| a.max_keys == 0),
                ConfigField::AaaMaxKeys,
            ),
        ];
        match checks.into_iter().find(|(bad, _)| *bad) {
            Some((_, field)) => Err(ConfigError::OutOfRange(field)),
            None => Ok(members),
        }
    }
}

/// [`ConfigError::KeyTooShort`] naming `field` when `key` has fewer than
/// [`MIN_KEY_LEN`](crate::io::auth::MIN_KEY_LEN) octets (RFC 5944 section 5.1, RFC 2104
/// section 3).
pub(crate) fn check_key(field: ConfigField, key: &[u8]) -> Result<(), ConfigError> {
    let min = crate::io::auth::MIN_KEY_LEN;
    if key.len() < min {
        return Err(ConfigError::KeyTooShort {
            field,
            octets: key.len(),
            min,
        });
    }
    Ok(())
}

/// [`ConfigError::OutOfRange`] naming [`ConfigField::Spi`] when `spi` is below
/// [`FIRST_USABLE_SPI`] (256): SPIs 0-255 are reserved and no mobility security association
/// uses them (RFC 5944 section 1.6). The check of every Mobile IP role.
pub(crate) fn check_spi(spi: u32) -> Result<(), ConfigError> {
    if spi < FIRST_USABLE_SPI {
        return Err(ConfigError::OutOfRange(ConfigField::Spi));
    }
    Ok(())
}

/// [`ConfigError::UnusableAddress`] naming `field` when no datagram can be sent to `addr`
/// ([`crate::io::usable_peer`]).
pub(crate) fn check_peer(
    field: ConfigField,
    addr: std::net::SocketAddr,
) -> Result<(), ConfigError> {
    if crate::io::usable_peer(addr) {
        Ok(())
    } else {
        Err(ConfigError::UnusableAddress { field, addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cluster key seals AAA keys and authenticates every cluster message and heartbeat; a
    /// mobile node's key authenticates its registrations (RFC 5944 section 3.5): neither may leave
    /// in a configuration's `Debug` output, nor may the seed of the tables' hash and nonces.
    #[test]
    fn debug_output_hides_the_cluster_key_the_mobile_node_keys_and_the_seed() {
        let key = b"cluster-secret-xyz";
        let mn_key = b"mobile node secret";
        let mut c = valid();
        c.cluster_key = key.to_vec();
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(Ipv4Addr::new(10, 0, 1, 1)),
            sa: SecurityAssociation::new(0x100, AuthAlgorithm::HmacMd5, mn_key.to_vec()),
        });
        c.seed = Some([0xa5; 32]);
        let shown = format!("{c:?}");
        for secret in [&key[..], &mn_key[..], &[0xa5; 32][..]] {
            assert!(!shown.contains(&format!("{secret:?}")), "{shown}");
            let bytes: Vec<String> = secret.iter().map(|b| b.to_string()).collect();
            assert!(!shown.contains(&bytes.join(", ")), "{shown}");
        }
        assert!(!shown.contains("cluster-secret"), "{shown}");
        assert!(
            shown.contains("cluster_key: <18 bytes redacted>"),
            "{shown}"
        );
        assert!(shown.contains("seed: Some(\"<seeded>\")"), "{shown}");
        assert!(shown.contains("max_bindings: 100000"), "{shown}");
    }

    fn valid() -> HomeAgentConfig {
        let members = vec![Member {
            node: NodeId(1),
            addr: "10.0.2.1:434".parse().unwrap(),
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
            backups: Vec::new(),
        }];
        let mut c = HomeAgentConfig::new(
            NodeId(1),
            Ipv4Addr::new(10, 0, 0, 1),
            "10.0.0.0/16".parse().unwrap(),
            members,
            b"a cluster key of 24 octs",
        );
        c.seed = Some([1; 32]);
        c
    }

    fn sa(key: &[u8]) -> SecurityAssociation {
        SecurityAssociation::new(0x100, AuthAlgorithm::HmacMd5, key.to_vec())
    }

    /// RFC 5944 section 3.8: the home agent is a router on the mobile node's home network, and
    /// the virtual address is the home agent address the cluster's mobile nodes use: one
    /// outside [`HomeAgentConfig::virtual_network`] is refused, naming the field.
    #[test]
    fn a_virtual_address_outside_the_virtual_network_is_refused() {
        let now = Instant::now();
        assert!(HomeAgent::new(valid(), now).is_ok());
        for outside in [Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(192, 0, 2, 1)] {
            let mut c = valid();
            c.virtual_address = outside;
            assert_eq!(
                HomeAgent::new(c, now).err(),
                Some(ConfigError::OutOfRange(ConfigField::VirtualAddress)),
                "{outside}"
            );
        }
    }

    /// RFC 5944 section 5.1: the default algorithm is HMAC-MD5 with a key size of 128 bits
    /// (mobile node, home agent, and foreign agent keys); RFC 2104 section 3 strongly discourages
    /// HMAC keys shorter than the 16-octet hash output, and the cluster key is also key material
    /// of the cluster's own keys. Each key under 16 octets is refused, naming which; 16 pass.
    #[test]
    fn keys_under_128_bits_are_refused() {
        let now = Instant::now();
        let short = |field, octets| {
            Some(ConfigError::KeyTooShort {
                field,
                octets,
                min: 16,
            })
        };
        let mut c = valid();
        c.cluster_key = vec![1; 15];
        assert_eq!(
            HomeAgent::new(c, now).err(),
            short(ConfigField::ClusterKey, 15)
        );
        let mut c = valid();
        c.cluster_key = vec![1; 16];
        assert!(HomeAgent::new(c, now).is_ok());
        let mut c = valid();
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(Ipv4Addr::new(10, 0, 1, 1)),
            sa: sa(b"mn-ha key 15 oc"),
        });
        assert_eq!(
            HomeAgent::new(c, now).err(),
            short(ConfigField::MobileNodeKey, 15)
        );
        let mut c = valid();
        c.foreign_agents
            .push((Ipv4Addr::new(192, 0, 2, 9), sa(b"fa-ha")));
        assert_eq!(
            HomeAgent::new(c, now).err(),
            short(ConfigField::ForeignAgentKey, 5)
        );
        let mut c = valid();
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(Ipv4Addr::new(10, 0, 1, 1)),
            sa: sa(&[9; 16]),
        });
        c.foreign_agents
            .push((Ipv4Addr::new(192, 0, 2, 9), sa(&[8; 16])));
        assert!(HomeAgent::new(c, now).is_ok());
        // The foreign agent's and the mobile node's own configurations likewise.
        let mut fa = crate::mip::ForeignAgentConfig::new("10.0.0.1:434".parse().unwrap());
        fa.fa_ha = Some(sa(b"fa-ha"));
        assert_eq!(
            crate::mip::ForeignAgent::new(fa.clone(), now).err(),
            short(ConfigField::ForeignAgentKey, 5)
        );
        fa.fa_ha = Some(sa(&[8; 16]));
        assert!(crate::mip::ForeignAgent::new(fa, now).is_ok());
    }

    /// A member whose address is the unspecified one cannot be sent heartbeats or cluster
    /// messages (RFC 1122 section 3.2.1.3 (a)): the health monitor refuses it.
    #[test]
    fn a_member_at_an_unusable_address_is_refused() {
        let now = Instant::now();
        let mut c = valid();
        let addr: SocketAddr = "0.0.0.0:434".parse().unwrap();
        c.members.push(Member {
            node: NodeId(2),
            addr,
            mac: MacAddr([2, 0, 0, 0, 0, 2]),
            backups: Vec::new(),
        });
        assert_eq!(
            HomeAgent::new(c, now).err(),
            Some(ConfigError::Health(health::ConfigError::UnusableAddress {
                node: NodeId(2),
                addr
            }))
        );
    }
}
