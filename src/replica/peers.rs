//! The channels with every peer of a node.

use super::{Channel, Entry, Replicated};
use crate::health::NodeId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A batch to send: the peer, its `seq` and entries (a [`super::Frame::Replicate`]).
pub type Outgoing<I> = (NodeId, u64, Vec<Entry<I>>);

/// A node's [`Channel`] with each peer, in node id order; what to send to all of them.
#[derive(Debug)]
pub struct Peers<I: Replicated> {
    channels: BTreeMap<NodeId, Channel<I>>,
}

impl<I: Replicated> Default for Peers<I> {
    fn default() -> Self {
        Peers {
            channels: BTreeMap::new(),
        }
    }
}

impl<I: Replicated> Peers<I> {
    /// An idle channel with each of `peers`.
    pub fn new(peers: impl IntoIterator<Item = NodeId>) -> Self {
        Peers {
            channels: peers.into_iter().map(|p| (p, Channel::new())).collect(),
        }
    }

    /// The channel with `peer`.
    #[inline]
    pub fn get(&self, peer: &NodeId) -> Option<&Channel<I>> {
        self.channels.get(peer)
    }

    /// The channel with `peer`, to change.
    #[inline]
    pub fn get_mut(&mut self, peer: &NodeId) -> Option<&mut Channel<I>> {
        self.channels.get_mut(peer)
    }

    /// The channel with `peer`, made idle if there was none (the caller has checked that
    /// `peer` is a member: the number of channels is bounded by the membership).
    pub fn channel(&mut self, peer: NodeId) -> &mut Channel<I> {
        self.channels.entry(peer).or_default()
    }

    /// Every channel, in node id order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &Channel<I>)> {
        self.channels.iter().map(|(p, c)| (*p, c))
    }

    /// Queues `item` to `peer` ([`Channel::enqueue`]); nothing for a peer without a channel.
    /// Returns whether its queue overflowed.
    pub fn enqueue(&mut self, peer: NodeId, item: I, max: usize) -> bool {
        self.get_mut(&peer).is_some_and(|c| c.enqueue(item, max))
    }

    /// The next batch ([`Channel::next_batch`]) to each peer that is `up` with nothing in
    /// flight, in node id order; `walk(peer, cursor)` walks the table for a bulk sync to `peer`.
    pub fn pump(
        &mut self,
        now: Instant,
        rto: Duration,
        up: impl Fn(NodeId) -> bool,
        mut walk: impl FnMut(NodeId, u64) -> Option<(u64, Option<I>)>,
    ) -> Vec<Outgoing<I>> {
        let mut out = Vec::new();
        for (&peer, ch) in self.channels.iter_mut().filter(|(p, _)| up(**p)) {
            if let Some((seq, items)) = ch.next_batch(now, rto, |c| walk(peer, c)) {
                out.push((peer, seq, items));
            }
        }
        out
    }

    /// The batches whose deadline passed ([`Channel::due`]), to send again, in node id order.
    pub fn due(
        &mut self,
        now: Instant,
        max_rto: Duration,
        up: impl Fn(NodeId) -> bool,
    ) -> Vec<Outgoing<I>> {
        let mut out = Vec::new();
        for (&peer, ch) in &mut self.channels {
            if let Some((seq, items)) = ch.due(now, up(peer), max_rto) {
                out.push((peer, seq, items));
            }
        }
        out
    }

    /// The earliest deadline of a batch in flight.
    pub fn deadline(&self) -> Option<Instant> {
        self.channels.values().filter_map(Channel::deadline).min()
    }
}

impl<I: Replicated> std::ops::Index<&NodeId> for Peers<I> {
    type Output = Channel<I>;

    /// The channel with `peer`; panics without one (tests).
    fn index(&self, peer: &NodeId) -> &Channel<I> {
        &self.channels[peer]
    }
}

/// A small map from peer node id to per-peer state, in node id order: a sorted `Vec`, searched
/// linearly. A node keeps one entry per cluster member at most (the membership bounds it), so
/// the lookups on every replication datagram cost a few compares where a `BTreeMap` walked its
/// nodes (replication cost per L2TP set-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerMap<V> {
    entries: Vec<(NodeId, V)>,
}

impl<V> Default for PeerMap<V> {
    fn default() -> Self {
        PeerMap {
            entries: Vec::new(),
        }
    }
}

impl<V> PeerMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where `peer` is, or where it would go.
    #[inline]
    fn find(&self, peer: NodeId) -> Result<usize, usize> {
        // Linear: a cluster has a handful of members (no branchy binary search for them).
        match self.entries.iter().position(|(n, _)| *n >= peer) {
            Some(i) if self.entries[i].0 == peer => Ok(i),
            Some(i) => Err(i),
            None => Err(self.entries.len()),
        }
    }

    /// The state of `peer`.
    pub fn get(&self, peer: &NodeId) -> Option<&V> {
        self.find(*peer).ok().map(|i| &self.entries[i].1)
    }

    /// The state of `peer`, to change.
    pub fn get_mut(&mut self, peer: &NodeId) -> Option<&mut V> {
        self.find(*peer).ok().map(|i| &mut self.entries[i].1)
    }

    /// The state of `peer`, made with `make` if there was none (the caller has checked that
    /// `peer` is a member: the map is bounded by the membership).
    #[inline]
    pub fn get_or_insert_with(&mut self, peer: NodeId, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(peer) {
            Ok(i) => i,
            Err(i) => self.insert_at(i, peer, make),
        };
        &mut self.entries[i].1
    }

    /// [`PeerMap::get_or_insert_with`] of a peer not held, at `i`: out of line (once per peer),
    /// so that finding one held is the search and little more.
    #[cold]
    #[inline(never)]
    fn insert_at(&mut self, i: usize, peer: NodeId, make: impl FnOnce() -> V) -> usize {
        self.entries.insert(i, (peer, make()));
        i
    }

    /// Removes `peer`'s state, returning it.
    pub fn remove(&mut self, peer: &NodeId) -> Option<V> {
        self.find(*peer).ok().map(|i| self.entries.remove(i).1)
    }

    /// Every peer and its state, in node id order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &V)> {
        self.entries.iter().map(|(n, v)| (*n, v))
    }

    /// Every peer and its state, to change, in node id order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (NodeId, &mut V)> {
        self.entries.iter_mut().map(|(n, v)| (*n, v))
    }

    /// Every state, in node id order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Peers held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no peer is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<V: Default> PeerMap<V> {
    /// The state of `peer`, made idle (`V::default()`) if there was none (as
    /// [`PeerMap::get_or_insert_with`]).
    #[inline]
    pub fn get_or_default(&mut self, peer: NodeId) -> &mut V {
        self.get_or_insert_with(peer, V::default)
    }
}
