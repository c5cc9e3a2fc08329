//! The simulator's vocabulary: node ids, link impairments, fates, trace records, counters and
//! the in-flight queue's ordering.

use crate::io::MacAddr;
use bytes::Bytes;
use std::cmp::Ordering;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Index of a node in a [`super::Sim`], in the order nodes were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// Impairments of a directed link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram is delivered twice (the copy gets its own delay).
    pub duplicate: f64,
    /// Probability that a datagram is held back by up to `reorder_delay` more, so that later
    /// datagrams overtake it.
    pub reorder: f64,
    /// Base one-way delay.
    pub delay: Duration,
    /// Uniform extra delay in `0..=jitter`.
    pub jitter: Duration,
    /// Maximum extra hold of a reordered datagram.
    pub reorder_delay: Duration,
}

impl Default for LinkConfig {
    /// A perfect link with 1 ms delay.
    fn default() -> Self {
        LinkConfig {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            delay: Duration::from_millis(1),
            jitter: Duration::ZERO,
            reorder_delay: Duration::from_millis(20),
        }
    }
}

impl LinkConfig {
    /// A lossy, duplicating, reordering link: the usual stress profile of the scenario tests.
    pub fn lossy(loss: f64, duplicate: f64, reorder: f64) -> LinkConfig {
        LinkConfig {
            loss,
            duplicate,
            reorder,
            delay: Duration::from_millis(2),
            jitter: Duration::from_millis(3),
            reorder_delay: Duration::from_millis(30),
        }
    }
}

/// What happened to one datagram (or one copy of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// Handed to the destination node.
    Delivered,
    /// Dropped by the link's loss.
    Lost,
    /// Dropped by a partition between the two nodes.
    Partitioned,
    /// No node owns the destination (or the MAC).
    NoRoute,
    /// The destination node was crashed when the datagram arrived.
    DestinationDown,
}

/// One line of the simulator's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRecord {
    /// Time since the start of the simulation at which the fate was decided (delivery time for
    /// delivered datagrams, send time for dropped ones).
    pub at: Duration,
    /// Source transport address.
    pub from: SocketAddr,
    /// Destination transport address.
    pub to: SocketAddr,
    /// The sending node (`None` for injected datagrams).
    pub src_node: Option<NodeId>,
    /// The receiving node, when one was found.
    pub dst_node: Option<NodeId>,
    /// The layer-2 destination, when the sender gave one.
    pub link_dst: Option<MacAddr>,
    /// What happened.
    pub fate: Fate,
    /// For a delivered datagram the node refused: its typed input error ([`crate::Node`]'s
    /// error; the node may also have queued the protocol's own refusal).
    pub refusal: Option<crate::Error>,
    /// The UDP payload.
    pub payload: Bytes,
}

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Datagrams polled from nodes or injected.
    pub sent: u64,
    /// Copies handed to a node.
    pub delivered: u64,
    /// Datagrams dropped by loss.
    pub lost: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Datagrams held back for reordering.
    pub reordered: u64,
    /// Datagrams dropped by a partition.
    pub partitioned: u64,
    /// Datagrams with no destination node.
    pub no_route: u64,
    /// Copies that reached a crashed node.
    pub to_down_node: u64,
    /// Delivered copies the destination node refused with an input error (each trace record
    /// says why in [`TraceRecord::refusal`]).
    pub refused: u64,
    /// Times a node asked for a timeout in the past again right after handling one (a node bug the
    /// simulator steps over instead of spinning).
    pub stalled_timeouts: u64,
    /// Events collected from nodes.
    pub events: u64,
    /// Events dropped because a node's collected queue held the limit (oldest dropped; see
    /// [`super::Sim::set_event_limit`]).
    pub events_dropped: u64,
}

pub(super) struct InFlight {
    pub(super) at: Instant,
    pub(super) seq: u64,
    pub(super) from: SocketAddr,
    pub(super) to: SocketAddr,
    pub(super) src_node: Option<NodeId>,
    pub(super) dst_node: NodeId,
    pub(super) link_dst: Option<MacAddr>,
    pub(super) payload: Bytes,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}
