//! [`Monitor`]: heartbeats, failure detection and load-based selection for one node, sans IO.
//!
//! # Call order
//!
//! ```text
//! let mut m = Monitor::new(config, now)?;      // the first heartbeat round is due at `now`
//! loop {
//!     // on a datagram for which health::is_heartbeat(data) holds:
//!     m.handle_datagram(now, from, to, data)?; // typed refusal, state unchanged on error
//!     // when now >= m.poll_timeout():
//!     m.handle_timeout(now);                   // sends a round of heartbeats, ages peers
//!     while let Some(t) = m.poll_transmit() { /* send t.payload to t.dst */ }
//!     while let Some(e) = m.poll_event() { /* Up, Suspect, Down, Restarted */ }
//!     let next = m.poll_timeout();             // O(1)
//! }
//! ```
//!
//! Time passed in never goes backwards; a `handle_timeout` before the deadline is a no-op.
//!
//! # Events
//!
//! A peer never heard from is [`NodeState::Down`]. The first accepted heartbeat gives
//! [`HealthEvent::Up`]; silence for `misses_suspect` intervals [`HealthEvent::Suspect`], for
//! `misses_down` intervals [`HealthEvent::Down`]; a heartbeat of a newer incarnation
//! [`HealthEvent::Restarted`] (then `Up` if the peer was not Up). The caller must give a restarted
//! node a higher incarnation than before (persist it, or derive it from a boot counter or clock).
//!
//! # Bounds
//!
//! * Peers: at most `max_peers` (configured plus learned). A heartbeat from an unknown node is
//!   refused with [`HealthError::UnknownNode`] unless `accept_unknown` is set, and with
//!   [`HealthError::Full`] when the table is full; existing peers are never evicted.
//! * Transmits: one round of heartbeats per interval, one per peer. If the caller does not drain
//!   them, a new round discards the unsent heartbeats of older rounds (they are stale anyway).
//! * Events: at most `max_events` queued; beyond that the oldest is dropped and counted
//!   ([`MonitorStats::events_dropped`]).

use super::detector::{FailureDetector, Freshness, NodeState, ReplayError, ReplayGuard};
use super::embed::HealthConfig;
use super::table::{LoadTable, Policy};
use super::wire::{ClusterKey, Heartbeat, Load, MAX_ADDRESSES, NodeId, Role, WireError};
use crate::io::{Outbox, Overflow};
use crate::{Rng, Transmit};
use arrayvec::ArrayVec;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Configuration of a [`Monitor`].
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// This node's id (must not be among `peers`).
    pub node: NodeId,
    /// This node's role, sent in its heartbeats.
    pub role: Role,
    /// This node's incarnation: must grow on every restart so peers recognise it.
    pub incarnation: u32,
    /// The cluster key that authenticates heartbeats: at least
    /// [`MIN_KEY_LEN`](crate::io::auth::MIN_KEY_LEN) (16) octets, 128 bits (RFC 2104 section 3;
    /// [`ConfigError::KeyTooShort`] otherwise).
    pub key: ClusterKey,
    /// The tuning every host shares: interval, misses to Suspect and Down, overload threshold,
    /// event bound.
    pub health: HealthConfig,
    /// Peers to send heartbeats to, and where: a usable unicast destination each, neither port 0
    /// nor the unspecified address ([`ConfigError::UnusableAddress`] otherwise).
    pub peers: Vec<(NodeId, SocketAddr)>,
    /// Most peers (configured plus learned), at least `peers.len()`.
    pub max_peers: usize,
    /// Whether a valid heartbeat from a node not in `peers` adds it (heartbeats are then sent to
    /// the address it came from). Otherwise it is refused.
    pub accept_unknown: bool,
    /// Addresses this node serves, sent in its heartbeats (at most [`MAX_ADDRESSES`]).
    pub addresses: Vec<IpAddr>,
    /// This node's initial load.
    pub load: Load,
}

impl MonitorConfig {
    /// A configuration with defaults: incarnation 1, [`HealthConfig::default`], at most 64
    /// peers, unknown nodes refused, no addresses, an idle load of `0 / 1`.
    pub fn new(
        node: NodeId,
        role: Role,
        key: ClusterKey,
        peers: Vec<(NodeId, SocketAddr)>,
    ) -> Self {
        MonitorConfig {
            node,
            role,
            incarnation: 1,
            key,
            health: HealthConfig::default(),
            peers,
            max_peers: 64,
            accept_unknown: false,
            addresses: Vec::new(),
            load: Load::new(0, 1),
        }
    }
}

/// A [`MonitorConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Zero interval, `misses_suspect` of 0, `misses_down <= misses_suspect`, or an interval so
    /// long that `interval * misses_down` overflows.
    #[error(
        "invalid timing: interval {interval:?}, suspect after {misses_suspect}, down after {misses_down}"
    )]
    Timing {
        /// The interval.
        interval: Duration,
        /// Misses before Suspect.
        misses_suspect: u32,
        /// Misses before Down.
        misses_down: u32,
    },
    /// More configured peers than `max_peers`.
    #[error("{count} peers configured, at most {max}")]
    TooManyPeers {
        /// Peers configured.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A peer appears twice.
    #[error("peer {0} configured twice")]
    DuplicatePeer(NodeId),
    /// The node lists itself as a peer.
    #[error("{0} lists itself as a peer")]
    PeerIsSelf(NodeId),
    /// More addresses than a heartbeat carries.
    #[error("{count} addresses, at most {max}")]
    TooManyAddresses {
        /// Addresses configured.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A field is zero or out of its range (the same name in every subsystem).
    #[error("{0} out of range")]
    OutOfRange(ConfigField),
    /// The cluster key ([`MonitorConfig::key`]) has fewer than
    /// [`MIN_KEY_LEN`](crate::io::auth::MIN_KEY_LEN) octets: HMAC-MD5 keys shorter than the
    /// 16-octet hash output are strongly discouraged (RFC 2104 section 3), and the cluster's
    /// AES-128 keys are derived from it (RFC 4493).
    #[error("cluster key of {octets} octets, at least {min} needed")]
    KeyTooShort {
        /// Octets configured.
        octets: usize,
        /// The fewest accepted.
        min: usize,
    },
    /// A configured peer's address cannot be sent to: port 0 or the unspecified address
    /// (0.0.0.0, `::`).
    #[error("peer {node}: unusable address {addr}")]
    UnusableAddress {
        /// The peer.
        node: NodeId,
        /// Its address as configured.
        addr: SocketAddr,
    },
}

/// A single-valued [`MonitorConfig`] field out of its range ([`ConfigError::OutOfRange`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigField {
    /// [`super::HealthConfig::overload_percent`]: 1..=100.
    OverloadPercent,
    /// [`super::HealthConfig::max_events`]: at least 1.
    MaxEvents,
}

impl std::fmt::Display for ConfigField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConfigField::OverloadPercent => "overload_percent",
            ConfigField::MaxEvents => "max_events",
        })
    }
}

/// Why a heartbeat (or a peer command) was refused. State is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// Not a well-formed, authentic heartbeat.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Stale or replayed sequence, or an older incarnation, from `node`.
    #[error("heartbeat from {node} refused: {reason}")]
    Replayed {
        /// The sender.
        node: NodeId,
        /// Why.
        reason: ReplayError,
    },
    /// A heartbeat carrying this node's own id (a loop or a misconfigured peer).
    #[error("heartbeat carries our own id {0}")]
    OwnNode(NodeId),
    /// A heartbeat from a node that is not a peer, and unknown nodes are not accepted.
    #[error("heartbeat from unknown node {0}")]
    UnknownNode(NodeId),
    /// The peer table is full.
    #[error("peer table full ({max}): {node} refused")]
    Full {
        /// The refused node.
        node: NodeId,
        /// The bound.
        max: usize,
    },
}

/// A change in a peer's health, for the caller to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HealthEvent {
    /// The peer is heard from again (or for the first time).
    Up {
        /// The peer.
        node: NodeId,
    },
    /// The peer missed `misses_suspect` intervals: do not pick it for new work.
    Suspect {
        /// The peer.
        node: NodeId,
    },
    /// The peer missed `misses_down` intervals: take over its work.
    Down {
        /// The peer.
        node: NodeId,
    },
    /// The peer restarted (a higher incarnation): whatever state it held is gone.
    Restarted {
        /// The peer.
        node: NodeId,
        /// The incarnation known before.
        previous: u32,
        /// The new incarnation.
        incarnation: u32,
    },
}

/// Counters of a [`Monitor`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MonitorStats {
    /// Heartbeat rounds sent (one datagram to every peer each).
    pub rounds: u64,
    /// Heartbeats accepted (authenticated, fresh, from a known or admitted peer).
    pub accepted: u64,
    /// Heartbeats refused (any [`HealthError`]).
    pub refused: u64,
    /// Unsent heartbeats of an earlier round dropped when a new round was queued.
    pub stale_dropped: u64,
    /// Events dropped because the queue held `max_events` (oldest dropped).
    pub events_dropped: u64,
}

/// What the monitor knows about one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer.
    pub node: NodeId,
    /// Where heartbeats are sent.
    pub addr: SocketAddr,
    /// Its liveness.
    pub state: NodeState,
    /// Its role, once heard from.
    pub role: Option<Role>,
    /// Its incarnation, once heard from.
    pub incarnation: Option<u32>,
    /// Its last reported load, once heard from.
    pub load: Option<Load>,
    /// Whether it was configured (rather than learned).
    pub configured: bool,
}

#[derive(Clone, Debug)]
struct Peer {
    addr: SocketAddr,
    configured: bool,
    role: Option<Role>,
    guard: Option<ReplayGuard>,
    addresses: ArrayVec<IpAddr, MAX_ADDRESSES>,
}

/// Heartbeats, failure detection and load selection for one node. See the module docs for the
/// call order, the events and the bounds.
#[derive(Debug)]
pub struct Monitor {
    node: NodeId,
    role: Role,
    incarnation: u32,
    key: ClusterKey,
    interval: Duration,
    max_peers: usize,
    accept_unknown: bool,
    addresses: ArrayVec<IpAddr, MAX_ADDRESSES>,
    load: Load,
    sequence: u64,
    next_send: Option<Instant>,
    peers: BTreeMap<NodeId, Peer>,
    detector: FailureDetector,
    table: LoadTable,
    /// At most two rounds: a partly polled one and the new one ([`Monitor::send_round`]).
    transmits: Outbox<Transmit>,
    events: Outbox<HealthEvent>,
    stats: MonitorStats,
}

impl Monitor {
    /// A monitor whose first round of heartbeats is due at `now`.
    pub fn new(config: MonitorConfig, now: Instant) -> Result<Monitor, ConfigError> {
        let h = config.health;
        let timing = h.check()?;
        config.key.check_len()?;
        if let Some(&(node, addr)) = config
            .peers
            .iter()
            .find(|(_, a)| !crate::io::usable_peer(*a))
        {
            return Err(ConfigError::UnusableAddress { node, addr });
        }
        if config.peers.len() > config.max_peers {
            return Err(ConfigError::TooManyPeers {
                count: config.peers.len(),
                max: config.max_peers,
            });
        }
        if config.addresses.len() > MAX_ADDRESSES {
            return Err(ConfigError::TooManyAddresses {
                count: config.addresses.len(),
                max: MAX_ADDRESSES,
            });
        }
        let mut detector = FailureDetector::new(timing);
        // The local node counts as an entry too.
        let mut table = LoadTable::new(h.overload_percent, config.max_peers.saturating_add(1));
        let _ = table.set(config.node, clamp(config.load));
        table.set_state(config.node, NodeState::Up);
        let mut peers = BTreeMap::new();
        for &(id, addr) in &config.peers {
            if id == config.node {
                return Err(ConfigError::PeerIsSelf(id));
            }
            if peers.insert(id, Peer::new(addr, true)).is_some() {
                return Err(ConfigError::DuplicatePeer(id));
            }
            detector.track(id);
        }
        Ok(Monitor {
            node: config.node,
            role: config.role,
            incarnation: config.incarnation,
            key: config.key,
            interval: h.interval,
            max_peers: config.max_peers,
            accept_unknown: config.accept_unknown,
            addresses: config.addresses.iter().copied().collect(),
            load: clamp(config.load),
            sequence: 0,
            next_send: Some(now),
            peers,
            detector,
            table,
            transmits: Outbox::new(
                config.max_peers.saturating_mul(2).max(1),
                Overflow::DropNewest,
            ),
            events: Outbox::new(h.max_events, Overflow::DropOldest),
            stats: MonitorStats::default(),
        })
    }

    /// This node's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// This node's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// This node's incarnation.
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The sequence of the last heartbeat round sent (0 before the first).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The heartbeat interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Sets this node's own load, carried by the next heartbeats and used when this node is a
    /// selection candidate. A percentage above 100 is taken as 100.
    pub fn set_load(&mut self, load: Load) {
        self.load = clamp(load);
        let _ = self.table.set(self.node, self.load);
    }

    /// Sets the addresses carried in this node's heartbeats; at most [`MAX_ADDRESSES`] are kept.
    pub fn set_addresses(&mut self, addresses: &[IpAddr]) {
        self.addresses = addresses.iter().copied().take(MAX_ADDRESSES).collect();
    }

    /// Adds a peer (Down until heard from) or changes where its heartbeats go. Refused for this
    /// node's own id and when the table is full.
    pub fn add_peer(&mut self, node: NodeId, addr: SocketAddr) -> Result<(), HealthError> {
        if node == self.node {
            return Err(HealthError::OwnNode(node));
        }
        if let Some(p) = self.peers.get_mut(&node) {
            p.addr = addr;
            p.configured = true;
            return Ok(());
        }
        if self.peers.len() >= self.max_peers {
            return Err(HealthError::Full {
                node,
                max: self.max_peers,
            });
        }
        self.peers.insert(node, Peer::new(addr, true));
        self.detector.track(node);
        Ok(())
    }

    /// Forgets a peer: no more heartbeats to it, no event about it, not selectable. Returns
    /// whether it was a peer.
    pub fn remove_peer(&mut self, node: NodeId) -> bool {
        if self.peers.remove(&node).is_none() {
            return false;
        }
        self.detector.forget(node);
        self.table.remove(node);
        true
    }

    /// Feeds one received heartbeat datagram (the [`crate::Endpoint`] entry): `from` is its
    /// source, `to` the local address (unused: a heartbeat names its sender inside the
    /// authenticated payload). On error nothing changes but [`MonitorStats::refused`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), HealthError> {
        let _ = to;
        self.handle_heartbeat(now, from, data)
    }

    /// Feeds one datagram that [`super::is_heartbeat`] recognised, for hosts that share a port
    /// with heartbeats. On error nothing changes but [`MonitorStats::refused`].
    pub(crate) fn handle_heartbeat(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
    ) -> Result<(), HealthError> {
        let r = self.accept_heartbeat(now, from, data);
        match r {
            Ok(()) => self.stats.accepted += 1,
            Err(_) => self.stats.refused += 1,
        }
        r
    }

    fn accept_heartbeat(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
    ) -> Result<(), HealthError> {
        let hb = Heartbeat::parse(data, &self.key)?;
        let node = hb.node;
        if node == self.node {
            return Err(HealthError::OwnNode(node));
        }
        let freshness = match self.peers.get(&node) {
            Some(p) => match &p.guard {
                Some(g) => g
                    .check(hb.incarnation, hb.sequence)
                    .map_err(|reason| HealthError::Replayed { node, reason })?,
                None => Freshness::Fresh,
            },
            None if !self.accept_unknown => return Err(HealthError::UnknownNode(node)),
            None if self.peers.len() >= self.max_peers => {
                return Err(HealthError::Full {
                    node,
                    max: self.max_peers,
                });
            }
            None => Freshness::Fresh,
        };
        // All checks passed: commit.
        let peer = self
            .peers
            .entry(node)
            .or_insert_with(|| Peer::new(from, false));
        peer.guard = Some(ReplayGuard::new(hb.incarnation, hb.sequence));
        peer.role = Some(hb.role);
        peer.addresses = hb.addresses;
        // Cannot fail: the table holds max_peers + 1 entries and the peer table is bounded.
        let _ = self.table.set(node, hb.load);
        if let Freshness::Restarted { previous } = freshness {
            self.push_event(HealthEvent::Restarted {
                node,
                previous,
                incarnation: hb.incarnation,
            });
        }
        if self.detector.heard(now, node).is_some() {
            self.table.set_state(node, NodeState::Up);
            self.push_event(HealthEvent::Up { node });
        }
        Ok(())
    }

    /// Sends a round of heartbeats when one is due, and lets due peers turn Suspect or Down.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(due) = self.next_send {
            if due <= now {
                self.send_round();
                let mut next = due.checked_add(self.interval);
                if next.is_some_and(|n| n <= now) {
                    next = now.checked_add(self.interval);
                }
                self.next_send = next;
            }
        }
        while let Some(t) = self.detector.poll_expired(now) {
            self.table.set_state(t.node, t.to);
            let node = t.node;
            match t.to {
                NodeState::Suspect => self.push_event(HealthEvent::Suspect { node }),
                NodeState::Down => self.push_event(HealthEvent::Down { node }),
                NodeState::Up => self.push_event(HealthEvent::Up { node }),
            }
        }
    }

    fn send_round(&mut self) {
        self.sequence = self.sequence.wrapping_add(1);
        let hb = Heartbeat {
            node: self.node,
            role: self.role,
            incarnation: self.incarnation,
            sequence: self.sequence,
            load: self.load,
            addresses: self.addresses.clone(),
        };
        let bytes = hb.to_bytes(&self.key);
        // Unsent heartbeats of earlier rounds are stale: keep at most one round queued.
        if self.transmits.len() >= self.peers.len().max(1) {
            self.transmits.discard();
        }
        self.stats.rounds += 1;
        for p in self.peers.values() {
            self.transmits.push(Transmit::to(p.addr, bytes.clone()));
        }
    }

    fn push_event(&mut self, e: HealthEvent) {
        self.events.push(e);
    }

    /// The next heartbeat to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop()
    }

    /// The next health event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<HealthEvent> {
        self.events.pop()
    }

    /// Events dropped because the queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.events.dropped()
    }

    /// The counters so far.
    pub fn stats(&self) -> MonitorStats {
        MonitorStats {
            stale_dropped: self.transmits.dropped(),
            events_dropped: self.events.dropped(),
            ..self.stats
        }
    }

    /// When [`Monitor::handle_timeout`] has work next (O(1)).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_send, self.detector.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The state of `node`: this node itself is always Up; `None` for an unknown node.
    pub fn state(&self, node: NodeId) -> Option<NodeState> {
        if node == self.node {
            Some(NodeState::Up)
        } else {
            self.detector.state(node)
        }
    }

    /// Whether any peer is Down (this node itself never is), in O(1): when none is, no peer's
    /// [`Monitor::state`] need be looked up to find one Down.
    pub fn any_down(&self) -> bool {
        self.detector.any_down()
    }

    /// The last load of `node` (this node's own load for its own id); `None` if never heard from.
    pub fn load(&self, node: NodeId) -> Option<Load> {
        self.table.load(node)
    }

    /// Where heartbeats to `node` go.
    pub fn addr_of(&self, node: NodeId) -> Option<SocketAddr> {
        self.peers.get(&node).map(|p| p.addr)
    }

    /// The addresses `node` announced in its last heartbeat (this node's own for its own id).
    pub fn addresses(&self, node: NodeId) -> &[IpAddr] {
        if node == self.node {
            return &self.addresses;
        }
        self.peers.get(&node).map_or(&[], |p| &p.addresses)
    }

    /// The role `node` announced (this node's own for its own id).
    pub fn role_of(&self, node: NodeId) -> Option<Role> {
        if node == self.node {
            return Some(self.role);
        }
        self.peers.get(&node).and_then(|p| p.role)
    }

    /// The incarnation `node` announced last (this node's own for its own id).
    pub fn incarnation_of(&self, node: NodeId) -> Option<u32> {
        if node == self.node {
            return Some(self.incarnation);
        }
        self.peers
            .get(&node)
            .and_then(|p| p.guard.map(|g| g.incarnation()))
    }

    /// Every peer, by ascending id.
    pub fn peers(&self) -> impl Iterator<Item = PeerStatus> + '_ {
        self.peers.iter().map(|(&node, p)| PeerStatus {
            node,
            addr: p.addr,
            state: self.detector.state(node).unwrap_or(NodeState::Down),
            role: p.role,
            incarnation: p.guard.map(|g| g.incarnation()),
            load: p.guard.and_then(|_| self.table.load(node)),
            configured: p.configured,
        })
    }

    /// The load table: every peer's (and this node's) liveness and last load, the one source
    /// the hosts select from (the contact LNS's pool reads it, `l2tp::pool::PoolView`).
    pub fn table(&self) -> &LoadTable {
        &self.table
    }

    /// Counts one more unit of work given to peer `node` until its next heartbeat reports its
    /// load again ([`LoadTable::note_assigned`]).
    pub fn note_assigned(&mut self, node: NodeId) {
        if node != self.node {
            self.table.note_assigned(node);
        }
    }

    /// Number of peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Whether `node` (a peer or this node) may be selected: Up and not overloaded.
    pub fn is_eligible(&self, node: NodeId) -> bool {
        self.table.is_eligible(node)
    }

    /// Chooses a node for new work among this node and its Up, not overloaded peers accepted by
    /// `filter`, under `policy` (see [`super::table`]). Deterministic given `rng`'s state.
    pub fn select(
        &mut self,
        policy: Policy,
        rng: &mut Rng,
        filter: impl FnMut(NodeId) -> bool,
    ) -> Option<NodeId> {
        self.table.select(policy, rng, filter)
    }
}

impl Peer {
    fn new(addr: SocketAddr, configured: bool) -> Peer {
        Peer {
            addr,
            configured,
            role: None,
            guard: None,
            addresses: ArrayVec::new(),
        }
    }
}

fn clamp(load: Load) -> Load {
    Load {
        percent: load.percent.min(100),
        ..load
    }
}

#[cfg(test)]
mod tests;
