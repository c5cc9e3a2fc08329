//! A deterministic in-process network for tests, fuzzing and demos (feature `sim`).
//!
//! Nodes are sans-IO endpoints behind [`Node`], each owning one or more transport addresses (and
//! optionally a MAC). The simulator keeps a virtual clock that jumps straight to the next delivery
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

use crate::io::{MacAddr, Node, Rng, Transmit};
use crate::pcap::{PcapError, PcapWriter};
use bytes::Bytes;
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Index of a node in a [`Sim`], in the order nodes were added.
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
    /// Times a node asked for a timeout in the past again right after handling one (a node bug the
    /// simulator steps over instead of spinning).
    pub stalled_timeouts: u64,
}

struct Slot {
    name: String,
    addrs: Vec<SocketAddr>,
    mac: Option<MacAddr>,
    node: Box<dyn Node>,
    alive: bool,
    /// The instant of the last `handle_timeout`, to step over a node that keeps asking for the past.
    timed_out_at: Option<Instant>,
}

struct InFlight {
    at: Instant,
    seq: u64,
    from: SocketAddr,
    to: SocketAddr,
    src_node: Option<NodeId>,
    dst_node: NodeId,
    link_dst: Option<MacAddr>,
    payload: Bytes,
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

    /// The node as its concrete type, if it is one.
    pub fn try_node_mut<T: Node>(&mut self, node: NodeId) -> Option<&mut T> {
        let slot = self.nodes.get_mut(node.0)?;
        let any: &mut dyn std::any::Any = slot.node.as_mut();
        any.downcast_mut::<T>()
    }

    /// The node as its concrete type, to give it commands or drain its events.
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
            None => self.record(from, to, None, None, None, Fate::NoRoute, payload),
        }
    }

    /// Hands a datagram to `node` at once, synchronously, with no trace: for floods of millions of
    /// datagrams that would not fit in flight.
    pub fn deliver_now(&mut self, node: NodeId, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let now = self.now;
        if let Some(s) = self.nodes.get_mut(node.0) {
            if s.alive {
                s.node.handle_datagram(now, from, to, data);
            }
        }
        self.flush_node(node);
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
            self.record(
                f.from,
                f.to,
                f.src_node,
                Some(f.dst_node),
                f.link_dst,
                Fate::DestinationDown,
                f.payload,
            );
            return;
        }
        self.stats.delivered += 1;
        // Every node sits on one shared link: a frame carries its sender's MAC.
        let link_src = f
            .src_node
            .and_then(|n| self.nodes.get(n.0))
            .and_then(|s| s.mac);
        if let Some(s) = self.nodes.get_mut(f.dst_node.0) {
            s.node.handle_frame(now, link_src, f.from, f.to, &f.payload);
        }
        self.record(
            f.from,
            f.to,
            f.src_node,
            Some(f.dst_node),
            f.link_dst,
            Fate::Delivered,
            f.payload,
        );
        self.flush_node(f.dst_node);
    }

    fn flush_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.flush_node(NodeId(i));
        }
    }

    fn flush_node(&mut self, id: NodeId) {
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
            self.stats.no_route += 1;
            self.record(
                from,
                t.dst,
                Some(src),
                None,
                t.link_dst,
                Fate::NoRoute,
                t.payload,
            );
            return;
        };
        if self.partitions.contains(&(src.min(dst), src.max(dst))) {
            self.stats.partitioned += 1;
            self.record(
                from,
                t.dst,
                Some(src),
                Some(dst),
                t.link_dst,
                Fate::Partitioned,
                t.payload,
            );
            return;
        }
        let link = self
            .links
            .get(&(src, dst))
            .copied()
            .unwrap_or(self.default_link);
        if self.rng.chance(link.loss) {
            self.stats.lost += 1;
            self.record(
                from,
                t.dst,
                Some(src),
                Some(dst),
                t.link_dst,
                Fate::Lost,
                t.payload,
            );
            return;
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
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Sends `count` numbered pings to `peer`, one every 10 ms, and echoes what it receives.
    struct Pinger {
        peer: SocketAddr,
        next: Option<Instant>,
        sent: u32,
        count: u32,
        out: VecDeque<Transmit>,
        got: Vec<(SocketAddr, Vec<u8>)>,
    }

    impl Pinger {
        fn new(peer: SocketAddr, count: u32, now: Instant) -> Pinger {
            Pinger {
                peer,
                next: (count > 0).then_some(now),
                sent: 0,
                count,
                out: VecDeque::new(),
                got: Vec::new(),
            }
        }
    }

    impl Node for Pinger {
        fn handle_datagram(
            &mut self,
            _now: Instant,
            from: SocketAddr,
            _to: SocketAddr,
            data: &[u8],
        ) {
            self.got.push((from, data.to_vec()));
            if data.first() == Some(&b'p') {
                let mut reply = data.to_vec();
                reply[0] = b'r';
                self.out.push_back(Transmit::to(from, reply));
            }
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.next.is_some_and(|n| n <= now) {
                self.out.push_back(Transmit::to(
                    self.peer,
                    format!("p{}", self.sent).into_bytes(),
                ));
                self.sent += 1;
                self.next = (self.sent < self.count).then(|| now + Duration::from_millis(10));
            }
        }
        fn poll_transmit(&mut self) -> Option<Transmit> {
            self.out.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.next
        }
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn run(seed: u64, link: LinkConfig) -> (Sim, NodeId, NodeId) {
        let t0 = Instant::now();
        let mut sim = Sim::new(seed, t0);
        sim.set_default_link(link);
        let x = sim.add_node(
            "x",
            &[a("10.0.0.1:9")],
            None,
            Box::new(Pinger::new(a("10.0.0.2:9"), 200, t0)),
        );
        let y = sim.add_node(
            "y",
            &[a("10.0.0.2:9")],
            None,
            Box::new(Pinger::new(a("10.0.0.1:9"), 0, t0)),
        );
        sim.run_for(Duration::from_secs(5));
        (sim, x, y)
    }

    #[test]
    fn perfect_link_delivers_everything_in_order() {
        let (mut sim, x, y) = run(1, LinkConfig::default());
        let got: Vec<Vec<u8>> = sim
            .node_mut::<Pinger>(y)
            .got
            .iter()
            .map(|g| g.1.clone())
            .collect();
        let want: Vec<Vec<u8>> = (0..200).map(|i| format!("p{i}").into_bytes()).collect();
        assert_eq!(got, want);
        assert_eq!(sim.node_mut::<Pinger>(x).got.len(), 200);
        assert_eq!(sim.stats().delivered, 400);
        assert_eq!(sim.elapsed(), Duration::from_secs(5));
    }

    #[test]
    fn impairments_happen_at_the_configured_rates() {
        let (mut sim, _x, y) = run(2, LinkConfig::lossy(0.2, 0.1, 0.2));
        let st = sim.stats();
        assert!(st.lost > 40 && st.lost < 130, "{st:?}");
        assert!(st.duplicated > 10, "{st:?}");
        assert!(st.reordered > 20, "{st:?}");
        let got: Vec<u32> = sim
            .node_mut::<Pinger>(y)
            .got
            .iter()
            .map(|g| String::from_utf8_lossy(&g.1[1..]).parse().unwrap())
            .collect();
        assert!(
            got.windows(2).any(|w| w[1] < w[0]),
            "something was reordered"
        );
        let distinct: BTreeSet<u32> = got.iter().copied().collect();
        assert!(got.len() > distinct.len(), "something was duplicated");
    }

    #[test]
    fn same_seed_same_run_byte_for_byte() {
        let link = LinkConfig::lossy(0.1, 0.05, 0.05);
        let p1 = run(77, link).0.write_pcap(Vec::new()).unwrap();
        let p2 = run(77, link).0.write_pcap(Vec::new()).unwrap();
        let p3 = run(78, link).0.write_pcap(Vec::new()).unwrap();
        assert_eq!(p1, p2);
        assert_ne!(p1, p3);
    }

    #[test]
    fn partitions_crashes_and_virtual_addresses() {
        let t0 = Instant::now();
        let mut sim = Sim::new(5, t0);
        let vip = a("10.9.9.9:434");
        let c = sim.add_node(
            "client",
            &[a("10.0.0.1:9")],
            None,
            Box::new(Pinger::new(vip, 10, t0)),
        );
        let s1 = sim.add_node(
            "s1",
            &[a("10.0.0.2:434"), vip],
            Some(MacAddr::local(2)),
            Box::new(Pinger::new(vip, 0, t0)),
        );
        let s2 = sim.add_node(
            "s2",
            &[a("10.0.0.3:434"), vip],
            Some(MacAddr::local(3)),
            Box::new(Pinger::new(vip, 0, t0)),
        );
        sim.run_for(Duration::from_millis(45));
        assert_eq!(
            sim.node_mut::<Pinger>(s1).got.len(),
            5,
            "first live owner of the VIP"
        );
        sim.crash(s1);
        sim.run_for(Duration::from_millis(30));
        assert_eq!(
            sim.node_mut::<Pinger>(s2).got.len(),
            3,
            "next owner takes over"
        );
        sim.set_route(vip.ip(), s1);
        sim.restart(s1, Box::new(Pinger::new(vip, 0, t0)));
        sim.partition(c, s1);
        sim.run_for(Duration::from_millis(100));
        assert_eq!(sim.node_mut::<Pinger>(s1).got.len(), 0);
        assert!(sim.stats().partitioned >= 2);
        // Layer-2 forwarding: the MAC decides, whatever owns the IP.
        sim.heal_all();
        sim.node_mut::<Pinger>(s1).out.push_back(Transmit {
            dst: vip,
            src: Some(vip),
            link_dst: Some(MacAddr::local(3)),
            payload: Bytes::from_static(b"l2"),
        });
        sim.run_for(Duration::from_millis(5));
        let last = sim.node_mut::<Pinger>(s2).got.last().cloned().unwrap();
        assert_eq!(last, (vip, b"l2".to_vec()));
        let rec = sim
            .trace()
            .iter()
            .rev()
            .find(|r| r.payload.as_ref() == b"l2")
            .unwrap();
        assert_eq!((rec.src_node, rec.dst_node), (Some(s1), Some(s2)));
    }
}
