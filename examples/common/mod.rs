//! A small, readable driver that runs sans-IO endpoints over real `std::net::UdpSocket`s on
//! loopback, shared by the examples. No async runtime: non-blocking sockets, and a loop that
//! receives what is ready, fires due timers, sends what the endpoints queued, then sleeps until the
//! earliest deadline (at most a millisecond, so new datagrams are picked up promptly).
#![allow(dead_code)]

/// The SGSN peer, written once for the tests and the examples.
#[path = "../../tests/common/sgsn.rs"]
pub mod sgsn;
/// The SMF peer (PFCP), written once for the tests and the examples.
#[path = "../../tests/common/smf.rs"]
pub mod smf;
pub mod stories;

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use telcp::Node;
use telcp::pcap::PcapWriter;

struct Entry {
    name: String,
    node: Box<dyn Node>,
    alive: bool,
}

/// Endpoints bound to loopback sockets.
pub struct UdpLoop {
    start: Instant,
    entries: Vec<Entry>,
    /// Every bound address, its socket and the entry that currently receives on it (an address
    /// shared by a cluster, like a virtual HA address, is re-routed with `set_owner`).
    sockets: Vec<(SocketAddr, UdpSocket, usize)>,
    by_addr: HashMap<SocketAddr, usize>,
    pcap: Option<PcapWriter<std::fs::File>>,
    buf: Vec<u8>,
    /// Datagrams sent and received, for the summary.
    pub sent: u64,
    /// Datagrams received.
    pub received: u64,
    /// Datagrams an endpoint refused (with a typed error, `telcp::Error`).
    pub refused: u64,
}

impl UdpLoop {
    pub fn new(pcap: Option<&str>) -> std::io::Result<UdpLoop> {
        let pcap = match pcap {
            Some(path) => Some(
                PcapWriter::new(std::fs::File::create(path)?)
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            ),
            None => None,
        };
        Ok(UdpLoop {
            start: Instant::now(),
            entries: Vec::new(),
            sockets: Vec::new(),
            by_addr: HashMap::new(),
            pcap,
            buf: vec![0; 65_536],
            sent: 0,
            received: 0,
            refused: 0,
        })
    }

    /// Binds `addrs` (loopback) and adds the endpoint; returns its index.
    pub fn add(
        &mut self,
        name: &str,
        addrs: &[SocketAddr],
        node: Box<dyn Node>,
    ) -> std::io::Result<usize> {
        let idx = self.entries.len();
        self.entries.push(Entry {
            name: name.to_owned(),
            node,
            alive: true,
        });
        for &a in addrs {
            if let Some(&s) = self.by_addr.get(&a) {
                // Already bound by another endpoint of a cluster: the first one receives.
                let _ = s;
                continue;
            }
            let sock = UdpSocket::bind(a)?;
            sock.set_nonblocking(true)?;
            self.by_addr.insert(a, self.sockets.len());
            self.sockets.push((a, sock, idx));
        }
        Ok(idx)
    }

    /// Routes what arrives on `addr` to endpoint `idx` (a routing daemon following a route event).
    pub fn set_owner(&mut self, addr: SocketAddr, idx: usize) {
        if let Some(&s) = self.by_addr.get(&addr) {
            self.sockets[s].2 = idx;
        }
    }

    /// Stops endpoint `idx`: it receives nothing more and its timers stop (a crash).
    pub fn stop(&mut self, idx: usize) {
        if let Some(e) = self.entries.get_mut(idx) {
            e.alive = false;
        }
    }

    pub fn name(&self, idx: usize) -> &str {
        &self.entries[idx].name
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The endpoint as its concrete type.
    pub fn node_mut<T: Node>(&mut self, idx: usize) -> &mut T {
        let any: &mut dyn std::any::Any = self.entries[idx].node.as_mut();
        any.downcast_mut::<T>().expect("endpoint type")
    }

    /// The next event of the endpoint, in its typed form (through [`Node::poll_event`], no
    /// downcast); an event of another kind is dropped.
    pub fn poll_event_of<T: telcp::Endpoint>(&mut self, idx: usize) -> Option<T::Event>
    where
        T::Event: TryFrom<telcp::Event>,
    {
        let e = self.entries[idx].node.poll_event()?;
        T::Event::try_from(e).ok()
    }

    /// Runs for `d` of wall-clock time.
    pub fn run_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.turn(end);
        }
    }

    /// Runs until `done` holds or `limit` passes; returns whether it held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut UdpLoop) -> bool,
    ) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if done(self) {
                return true;
            }
            self.turn(end);
        }
        done(self)
    }

    /// One turn of the loop: receive, time out, send, sleep.
    fn turn(&mut self, end: Instant) {
        let now = Instant::now();
        for s in 0..self.sockets.len() {
            loop {
                let (local, owner) = (self.sockets[s].0, self.sockets[s].2);
                let (n, from) = match self.sockets[s].1.recv_from(&mut self.buf) {
                    Ok(x) => x,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                };
                self.received += 1;
                let e = &mut self.entries[owner];
                if e.alive
                    && e.node
                        .handle_datagram(now, from, local, &self.buf[..n])
                        .is_err()
                {
                    self.refused += 1;
                }
            }
        }
        let now = Instant::now();
        for e in self.entries.iter_mut().filter(|e| e.alive) {
            if e.node.poll_timeout().is_some_and(|t| t <= now) {
                e.node.handle_timeout(now);
            }
        }
        self.flush();
        let next = self
            .entries
            .iter()
            .filter(|e| e.alive)
            .filter_map(|e| e.node.poll_timeout())
            .min()
            .unwrap_or(end)
            .min(end)
            .min(Instant::now() + Duration::from_millis(1));
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }

    /// Sends everything the endpoints queued, from the socket of the source they asked for.
    fn flush(&mut self) {
        for idx in 0..self.entries.len() {
            while let Some(t) = self.entries[idx].node.poll_transmit() {
                if !self.entries[idx].alive {
                    continue;
                }
                let sock = t
                    .src
                    .and_then(|a| self.by_addr.get(&a).copied())
                    .or_else(|| self.sockets.iter().position(|s| s.2 == idx));
                let Some(sock) = sock else { continue };
                let (local, socket, _) = &self.sockets[sock];
                if socket.send_to(&t.payload, t.dst).is_ok() {
                    self.sent += 1;
                    if let Some(p) = self.pcap.as_mut() {
                        let _ = p.write_udp(self.start.elapsed(), *local, t.dst, &t.payload);
                    }
                }
            }
        }
    }
}

impl UdpLoop {
    /// Replaces endpoint `idx` with a fresh instance on the same sockets (a restart).
    pub fn restart(&mut self, idx: usize, node: Box<dyn Node>) {
        if let Some(e) = self.entries.get_mut(idx) {
            e.node = node;
            e.alive = true;
        }
    }
}

/// Where a story runs: real loopback sockets, or the deterministic simulator.
pub enum Net {
    /// Real `UdpSocket`s on 127.0.0.0/8.
    Udp(UdpLoop),
    /// The simulator with seeded impairments.
    Sim(Box<telcp::sim::Sim>, Vec<telcp::sim::NodeId>),
}

impl Net {
    pub fn add(&mut self, name: &str, addrs: &[SocketAddr], node: Box<dyn Node>) -> usize {
        match self {
            Net::Udp(l) => l.add(name, addrs, node).unwrap_or_else(|e| {
                panic!("{name}: bind {addrs:?}: {e} (another demo or tests/demo.rs running?)")
            }),
            Net::Sim(s, ids) => {
                ids.push(s.add_node(name, addrs, None, node));
                ids.len() - 1
            }
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        match self {
            Net::Udp(l) => l.run_for(d),
            Net::Sim(s, _) => s.run_for(d),
        }
    }

    /// Runs in steps of 10 ms until `done` holds or `limit` has passed; returns whether it held.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Net) -> bool,
    ) -> bool {
        let end = self.elapsed() + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.elapsed() >= end {
                return false;
            }
            self.run_for(Duration::from_millis(10));
        }
    }

    pub fn now(&self) -> Instant {
        match self {
            Net::Udp(_) => Instant::now(),
            Net::Sim(s, _) => s.now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        match self {
            Net::Udp(l) => l.elapsed(),
            Net::Sim(s, _) => s.elapsed(),
        }
    }

    pub fn node_mut<T: Node>(&mut self, idx: usize) -> &mut T {
        match self {
            Net::Udp(l) => l.node_mut(idx),
            Net::Sim(s, ids) => s.node_mut(ids[idx]),
        }
    }

    pub fn poll_event_of<T: telcp::Endpoint>(&mut self, idx: usize) -> Option<T::Event>
    where
        T::Event: TryFrom<telcp::Event, Error = telcp::Event>,
    {
        match self {
            Net::Udp(l) => l.poll_event_of::<T>(idx),
            Net::Sim(s, ids) => s.poll_event_of::<T>(ids[idx]),
        }
    }

    pub fn stop(&mut self, idx: usize) {
        match self {
            Net::Udp(l) => l.stop(idx),
            Net::Sim(s, ids) => s.crash(ids[idx]),
        }
    }

    pub fn restart(&mut self, idx: usize, node: Box<dyn Node>) {
        match self {
            Net::Udp(l) => l.restart(idx, node),
            Net::Sim(s, ids) => s.restart(ids[idx], node),
        }
    }

    /// Routes what arrives on a shared (virtual) address to endpoint `idx`.
    pub fn set_owner(&mut self, addr: SocketAddr, idx: usize) {
        match self {
            Net::Udp(l) => l.set_owner(addr, idx),
            Net::Sim(s, ids) => s.set_route(addr.ip(), ids[idx]),
        }
    }
}
