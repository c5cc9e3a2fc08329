//! A deterministic in-process network for tests, fuzzing and demos (feature `sim`).
//!
//! Nodes are sans-IO endpoints behind [`Node`] (every [`crate::Endpoint`] is one), each owning one
//! or more transport addresses (and optionally a MAC). After every call it makes on a node the
//! simulator collects the node's events (bounded per node, drops counted in
//! [`SimStats::events_dropped`]); read them by node id with [`Sim::poll_event`], [`Sim::events`]
//! or, typed, [`Sim::poll_event_of`]. [`Sim::node_mut`] is for commands and state. The simulator keeps a virtual clock that jumps straight to the next delivery
//! or deadline, and applies per-link impairments drawn from one seeded [`Rng`]: loss, duplication,
//! reordering and delay with jitter. Partitions cut pairs of nodes; a node can crash (it stops
//! receiving and its timers stop) and restart as a new instance.
//!
//! The same seed and the same calls give the same run, byte for byte: every choice comes from the
//! seeded generator, nodes are visited in the order they were added, and in-flight datagrams are
//! ordered by (delivery time, send order).
//!
//! Routing: a [`Transmit`] with `link_dst` goes to the node with that MAC (layer-2 forwarding, as
//! the virtual Home Agent needs); otherwise to the node owning `dst` (an owned address with port 0
//! owns every port of its IP). When several nodes own the address (a virtual address), the route set
//! with [`Sim::set_route`] wins, else the first live owner in the order they were added. Nodes
//! receive through [`Node::handle_frame`] with the sending node's MAC as the link-layer source
//! (none for injected datagrams).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use telcp::sim::{LinkConfig, Sim};
//! let mut sim = Sim::new(42, Instant::now());
//! sim.set_default_link(LinkConfig { loss: 0.1, ..LinkConfig::default() });
//! sim.run_for(Duration::from_secs(1));
//! assert_eq!(sim.elapsed(), Duration::from_secs(1));
//! ```

mod link;

pub use link::{Fate, LinkConfig, NodeId, SimStats, TraceRecord};

use crate::endpoint::{Endpoint, Event};
use crate::io::{MacAddr, Node, Rng, Transmit};
use crate::pcap::{PcapError, PcapWriter};
use bytes::Bytes;
use link::InFlight;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

struct Slot {
    name: String,
    addrs: Vec<SocketAddr>,
    mac: Option<MacAddr>,
    node: Box<dyn Node>,
    alive: bool,
    /// The instant of the last `handle_timeout`, to step over a node that keeps asking for the past.
    timed_out_at: Option<Instant>,
    /// Events collected from the node, oldest first, at most `Sim::event_limit`.
    events: VecDeque<Event>,
}

/// The deterministic network. See the [module docs](self).
pub struct Sim {
    start: Instant,
    now: Instant,
    rng: Rng,
    nodes: Vec<Slot>,
    default_link: LinkConfig,
    links: HashMap<(NodeId, NodeId), LinkConfig>,
    partitions: BTreeSet<(NodeId, NodeId)>,
    routes: HashMap<IpAddr, NodeId>,
    in_flight: BinaryHeap<InFlight>,
    seq: u64,
    trace: Vec<TraceRecord>,
    trace_limit: usize,
    event_limit: usize,
    stats: SimStats,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("elapsed", &self.elapsed())
            .field("nodes", &self.nodes.len())
            .field("in_flight", &self.in_flight.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Sim {
    /// A network with no nodes, perfect 1 ms links, its clock at `start`, its choices drawn from
    /// `seed`.
    pub fn new(seed: u64, start: Instant) -> Sim {
        Sim {
            start,
            now: start,
            rng: Rng::seed_from_u64(seed),
            nodes: Vec::new(),
            default_link: LinkConfig::default(),
            links: HashMap::new(),
            partitions: BTreeSet::new(),
            routes: HashMap::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            trace: Vec::new(),
            trace_limit: 1_000_000,
            event_limit: 4096,
            stats: SimStats::default(),
        }
    }

    /// Adds a node owning `addrs` (the first is its default source address) and, optionally, a MAC.
    ///
    /// # Panics
    /// When `addrs` is empty: a node must own at least one address.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        addrs: &[SocketAddr],
        mac: Option<MacAddr>,
        node: Box<dyn Node>,
    ) -> NodeId {
        assert!(!addrs.is_empty(), "a simulated node needs an address");
        self.nodes.push(Slot {
            name: name.into(),
            addrs: addrs.to_vec(),
            mac,
            node,
            alive: true,
            timed_out_at: None,
            events: VecDeque::new(),
        });
        NodeId(self.nodes.len() - 1)
    }

    /// The link impairments used where no per-link configuration is set.
    pub fn set_default_link(&mut self, link: LinkConfig) {
        self.default_link = link;
    }

    /// Impairments of the directed link `from -> to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        self.links.insert((from, to), link);
    }

    /// Sends datagrams for `ip` (when several nodes own it) to `node`.
    pub fn set_route(&mut self, ip: IpAddr, node: NodeId) {
        self.routes.insert(ip, node);
    }

    /// Cuts both directions between `a` and `b`.
    pub fn partition(&mut self, a: NodeId, b: NodeId) {
        self.partitions.insert((a.min(b), a.max(b)));
    }

    /// Restores both directions between `a` and `b`.
    pub fn heal(&mut self, a: NodeId, b: NodeId) {
        self.partitions.remove(&(a.min(b), a.max(b)));
    }

    /// Removes every partition.
    pub fn heal_all(&mut self) {
        self.partitions.clear();
    }

    /// Stops `node`: it receives nothing and its timers stop until [`Sim::restart`].
    pub fn crash(&mut self, node: NodeId) {
        if let Some(s) = self.nodes.get_mut(node.0) {
            s.alive = false;
        }
    }

    /// Replaces `node` with a fresh instance (a restart: all its state is what `new` gives) and
    /// brings it back up.
    pub fn restart(&mut self, node: NodeId, fresh: Box<dyn Node>) {
        if let Some(s) = self.nodes.get_mut(node.0) {
            s.node = fresh;
            s.alive = true;
            s.timed_out_at = None;
            // The events of the old instance went with it, as they would in the node.
            s.events.clear();
        }
    }

    /// Whether `node` is up.
    pub fn is_alive(&self, node: NodeId) -> bool {
        self.nodes.get(node.0).is_some_and(|s| s.alive)
    }

    /// The node's name.
    pub fn name(&self, node: NodeId) -> &str {
        self.nodes.get(node.0).map_or("?", |s| s.name.as_str())
    }

    /// The addresses the node owns.
    pub fn addrs(&self, node: NodeId) -> &[SocketAddr] {
        self.nodes.get(node.0).map_or(&[], |s| s.addrs.as_slice())
    }

    /// The next event `node` reported, oldest first. The simulator collects every node's events
    /// after each call it makes on the node (at most [`Sim::set_event_limit`] per node, oldest
    /// dropped and counted in [`SimStats::events_dropped`]); this also collects what a command
    /// given through [`Sim::node_mut`] queued.
    pub fn poll_event(&mut self, node: NodeId) -> Option<Event> {
        self.collect_events(node);
        self.nodes.get_mut(node.0)?.events.pop_front()
    }

    /// Every event `node` reported and nobody took yet, oldest first.
    pub fn events(&mut self, node: NodeId) -> Vec<Event> {
        self.collect_events(node);
        self.nodes
            .get_mut(node.0)
            .map(|s| s.events.drain(..).collect())
            .unwrap_or_default()
    }

    /// The next event of `node` in the typed form of endpoint `T` (for instance
    /// `sim.poll_event_of::<Lac>(lac)` gives an [`crate::l2tp::Event`]). An event of another
    /// kind stays queued and `None` is returned.
    pub fn poll_event_of<T>(&mut self, node: NodeId) -> Option<T::Event>
    where
        T: Endpoint,
        T::Event: TryFrom<Event, Error = Event>,
    {
        let e = self.poll_event(node)?;
        match T::Event::try_from(e) {
            Ok(e) => Some(e),
            Err(other) => {
                if let Some(s) = self.nodes.get_mut(node.0) {
                    s.events.push_front(other);
                }
                None
            }
        }
    }

    /// Keeps at most `limit` uncollected events per node (default 4096; oldest dropped).
    pub fn set_event_limit(&mut self, limit: usize) {
        self.event_limit = limit;
    }

    fn collect_events(&mut self, id: NodeId) {
        let Some(slot) = self.nodes.get_mut(id.0) else {
            return;
        };
        while let Some(e) = slot.node.poll_event() {
            self.stats.events += 1;
            if slot.events.len() >= self.event_limit {
                slot.events.pop_front();
                self.stats.events_dropped += 1;
            }
            if self.event_limit > 0 {
                slot.events.push_back(e);
            }
        }
    }

    /// The node as its concrete type, if it is one.
    pub fn try_node_mut<T: Node>(&mut self, node: NodeId) -> Option<&mut T> {
        let slot = self.nodes.get_mut(node.0)?;
        let any: &mut dyn std::any::Any = slot.node.as_mut();
        any.downcast_mut::<T>()
    }

    /// The node as its concrete type, to give it commands or read its state (its events come
    /// through [`Sim::poll_event`]).
    ///
    /// # Panics
    /// When `node` is not a `T` (a test's mistake).
    pub fn node_mut<T: Node>(&mut self, node: NodeId) -> &mut T {
        let name = self.name(node).to_owned();
        match self.try_node_mut::<T>(node) {
            Some(n) => n,
            None => panic!(
                "sim node {node:?} ({name}) is not a {}",
                std::any::type_name::<T>()
            ),
        }
    }

    /// The node as its concrete type, read-only.
    ///
    /// # Panics
    /// When `node` is not a `T`.
    pub fn node<T: Node>(&self, node: NodeId) -> &T {
        let any: Option<&dyn std::any::Any> = self.nodes.get(node.0).map(|s| {
            let a: &dyn std::any::Any = s.node.as_ref();
            a
        });
        match any.and_then(|a| a.downcast_ref::<T>()) {
            Some(n) => n,
            None => panic!("sim node {node:?} is not a {}", std::any::type_name::<T>()),
        }
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(self.start)
    }

    /// Counters so far.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Every delivery and drop so far (up to the trace limit).
    pub fn trace(&self) -> &[TraceRecord] {
        &self.trace
    }

    /// Stops recording after `limit` records (default 1,000,000), for floods.
    pub fn set_trace_limit(&mut self, limit: usize) {
        self.trace_limit = limit;
    }

    /// Number of datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Sends a datagram from outside the simulated nodes (a spoofed source, a flood), through the
    /// default link's delay but without loss.
    pub fn inject(&mut self, from: SocketAddr, to: SocketAddr, payload: impl Into<Bytes>) {
        let payload = payload.into();
        self.stats.sent += 1;
        match self.route(to, None) {
            Some(dst) => {
                let at = self.now + self.default_link.delay;
                self.schedule(at, from, to, None, dst, None, payload);
            }
            None => self.record(from, to, None, None, None, Fate::NoRoute, None, payload),
        }
    }

    /// Hands a datagram to `node` at once, synchronously, with no trace: for floods of millions of
    /// datagrams that would not fit in flight.
    ///
    /// # Errors
    /// The node's refusal ([`crate::Node::handle_datagram`]), also counted in
    /// [`SimStats::refused`]; a crashed or unknown node takes nothing and returns `Ok`.
    pub fn deliver_now(
        &mut self,
        node: NodeId,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), crate::Error> {
        let now = self.now;
        let mut result = Ok(());
        if let Some(s) = self.nodes.get_mut(node.0) {
            if s.alive {
                result = s.node.handle_datagram(now, from, to, data);
            }
        }
        if result.is_err() {
            self.stats.refused += 1;
        }
        self.flush_node(node);
        result
    }

    /// Advances the clock to `deadline`, processing every delivery and timeout due until then.
    pub fn run_until(&mut self, deadline: Instant) {
        loop {
            self.flush_all();
            match self.next_event() {
                Some(t) if t <= deadline => self.step_at(t),
                _ => break,
            }
        }
        if deadline > self.now {
            self.now = deadline;
        }
    }

    /// The time of the next delivery or timeout due (not before [`Sim::now`]); `None` when
    /// nothing is pending. A driver that acts on the nodes' events in the order they happen runs
    /// [`Sim::run_until`] to each such time in turn.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.next_event()
    }

    /// Advances the clock by `d`.
    pub fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        self.run_until(deadline);
    }

    /// Runs in steps of `step` until `done` holds or `limit` has passed; returns whether it held.
    pub fn run_until_cond(
        &mut self,
        step: Duration,
        limit: Duration,
        mut done: impl FnMut(&mut Sim) -> bool,
    ) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.run_for(step);
        }
        done(self)
    }

    /// Writes the delivered datagrams of the trace as a pcap with Ethernet/IP/UDP framing; the
    /// timestamps are the simulated times since the start (so the file is deterministic).
    pub fn write_pcap<W: std::io::Write>(&self, w: W) -> Result<W, PcapError> {
        let mut p = PcapWriter::new(w)?;
        for r in self.trace.iter().filter(|r| r.fate == Fate::Delivered) {
            let src_mac = r
                .src_node
                .and_then(|n| self.nodes.get(n.0))
                .and_then(|s| s.mac);
            let dst_mac = r.link_dst.or_else(|| {
                r.dst_node
                    .and_then(|n| self.nodes.get(n.0))
                    .and_then(|s| s.mac)
            });
            match (src_mac, dst_mac) {
                (Some(s), Some(d)) => p.write_udp_l2(r.at, s, d, r.from, r.to, &r.payload)?,
                _ => p.write_udp(r.at, r.from, r.to, &r.payload)?,
            }
        }
        Ok(p.into_inner())
    }

    fn next_event(&self) -> Option<Instant> {
        let mut t = self.in_flight.peek().map(|f| f.at);
        for s in self.nodes.iter().filter(|s| s.alive) {
            if let Some(mut d) = s.node.poll_timeout() {
                if d <= self.now && s.timed_out_at == Some(self.now) {
                    // Already handled at this instant and still in the past: look again later.
                    d = self.now + Duration::from_millis(1);
                }
                t = Some(t.map_or(d, |t: Instant| t.min(d)));
            }
        }
        t.map(|t| t.max(self.now))
    }

    fn step_at(&mut self, t: Instant) {
        self.now = self.now.max(t);
        let now = self.now;
        while self.in_flight.peek().is_some_and(|f| f.at <= now) {
            let Some(f) = self.in_flight.pop() else { break };
            self.deliver(f);
        }
        for i in 0..self.nodes.len() {
            let due = {
                let s = &self.nodes[i];
                s.alive && s.node.poll_timeout().is_some_and(|d| d <= now)
            };
            if !due {
                continue;
            }
            if self.nodes[i].timed_out_at == Some(now) {
                self.stats.stalled_timeouts += 1;
                continue;
            }
            let s = &mut self.nodes[i];
            s.timed_out_at = Some(now);
            s.node.handle_timeout(now);
            self.flush_node(NodeId(i));
        }
    }

    fn deliver(&mut self, f: InFlight) {
        let now = self.now;
        let alive = self.nodes.get(f.dst_node.0).is_some_and(|s| s.alive);
        if !alive {
            self.stats.to_down_node += 1;
            return self.record_arrival(f, Fate::DestinationDown);
        }
        self.stats.delivered += 1;
        // Every node sits on one shared link: a frame carries its sender's MAC.
        let link_src = f
            .src_node
            .and_then(|n| self.nodes.get(n.0))
            .and_then(|s| s.mac);
        let refusal = match self.nodes.get_mut(f.dst_node.0) {
            Some(s) => s
                .node
                .handle_frame(now, link_src, f.from, f.to, &f.payload)
                .err(),
            None => None,
        };
        if refusal.is_some() {
            self.stats.refused += 1;
        }
        let dst = f.dst_node;
        let (from, to, src_node, link_dst) = (f.from, f.to, f.src_node, f.link_dst);
        self.record(
            from,
            to,
            src_node,
            Some(dst),
            link_dst,
            Fate::Delivered,
            refusal,
            f.payload,
        );
        self.flush_node(dst);
    }

    fn flush_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.flush_node(NodeId(i));
        }
    }

    fn flush_node(&mut self, id: NodeId) {
        self.collect_events(id);
        loop {
            let Some(slot) = self.nodes.get_mut(id.0) else {
                return;
            };
            if !slot.alive {
                // A crashed node sends nothing; drain what it had queued.
                while slot.node.poll_transmit().is_some() {}
                return;
            }
            let Some(t) = slot.node.poll_transmit() else {
                return;
            };
            let from = t.src.unwrap_or(slot.addrs[0]);
            self.send(id, from, t);
        }
    }

    fn send(&mut self, src: NodeId, from: SocketAddr, t: Transmit) {
        self.stats.sent += 1;
        let Some(dst) = self.route(t.dst, t.link_dst) else {
            return self.drop_sent(Fate::NoRoute, src, None, from, t);
        };
        if self.partitions.contains(&(src.min(dst), src.max(dst))) {
            return self.drop_sent(Fate::Partitioned, src, Some(dst), from, t);
        }
        let link = self
            .links
            .get(&(src, dst))
            .copied()
            .unwrap_or(self.default_link);
        if self.rng.chance(link.loss) {
            return self.drop_sent(Fate::Lost, src, Some(dst), from, t);
        }
        let copies = if self.rng.chance(link.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut delay = link.delay + self.random_upto(link.jitter);
            if self.rng.chance(link.reorder) {
                self.stats.reordered += 1;
                delay += self.random_upto(link.reorder_delay);
            }
            let at = self.now + delay;
            self.schedule(
                at,
                from,
                t.dst,
                Some(src),
                dst,
                t.link_dst,
                t.payload.clone(),
            );
        }
    }

    /// Records what happened to a datagram that reached its destination node.
    fn record_arrival(&mut self, f: InFlight, fate: Fate) {
        let dst = Some(f.dst_node);
        self.record(
            f.from, f.to, f.src_node, dst, f.link_dst, fate, None, f.payload,
        );
    }

    /// Counts and records a datagram a node sent that the network dropped (`fate`).
    fn drop_sent(
        &mut self,
        fate: Fate,
        src: NodeId,
        dst: Option<NodeId>,
        from: SocketAddr,
        t: Transmit,
    ) {
        match fate {
            Fate::NoRoute => self.stats.no_route += 1,
            Fate::Partitioned => self.stats.partitioned += 1,
            Fate::Lost => self.stats.lost += 1,
            Fate::Delivered | Fate::DestinationDown => {}
        }
        self.record(
            from,
            t.dst,
            Some(src),
            dst,
            t.link_dst,
            fate,
            None,
            t.payload,
        );
    }

    fn random_upto(&mut self, d: Duration) -> Duration {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.rng.range_inclusive(0, micros))
    }

    #[allow(clippy::too_many_arguments)]
    fn schedule(
        &mut self,
        at: Instant,
        from: SocketAddr,
        to: SocketAddr,
        src_node: Option<NodeId>,
        dst_node: NodeId,
        link_dst: Option<MacAddr>,
        payload: Bytes,
    ) {
        self.seq += 1;
        self.in_flight.push(InFlight {
            at,
            seq: self.seq,
            from,
            to,
            src_node,
            dst_node,
            link_dst,
            payload,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        src_node: Option<NodeId>,
        dst_node: Option<NodeId>,
        link_dst: Option<MacAddr>,
        fate: Fate,
        refusal: Option<crate::Error>,
        payload: Bytes,
    ) {
        if self.trace.len() < self.trace_limit {
            self.trace.push(TraceRecord {
                at: self.elapsed(),
                from,
                to,
                src_node,
                dst_node,
                link_dst,
                fate,
                refusal,
                payload,
            });
        }
    }

    fn route(&self, dst: SocketAddr, link_dst: Option<MacAddr>) -> Option<NodeId> {
        if let Some(mac) = link_dst {
            return self
                .nodes
                .iter()
                .position(|s| s.mac == Some(mac))
                .map(NodeId);
        }
        let owns = |s: &Slot| {
            s.addrs
                .iter()
                .any(|a| a.ip() == dst.ip() && (a.port() == dst.port() || a.port() == 0))
        };
        if let Some(&n) = self.routes.get(&dst.ip()) {
            if self.nodes.get(n.0).is_some_and(owns) {
                return Some(n);
            }
        }
        self.nodes
            .iter()
            .position(|s| s.alive && owns(s))
            .or_else(|| self.nodes.iter().position(owns))
            .map(NodeId)
    }
}

#[cfg(test)]
mod tests;
