//! Harnesses for [`crate::health`]: the heartbeat codec and a [`crate::health::Monitor`] driven by fuzz bytes.

use crate::Rng;
use crate::health::{
    ClusterKey, HealthError, HealthEvent, Heartbeat, Load, Monitor, MonitorConfig, NodeId,
    NodeState, PeerStatus, Policy, Role,
};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const KEY: &[u8] = b"fuzz cluster key";

/// Parses `data` as a heartbeat under a fixed key (and under a key that cannot match); on success
/// the emitted form must be `data` again and parse to the same heartbeat.
pub fn heartbeat(data: &[u8]) {
    let key = ClusterKey::new(KEY);
    let _ = crate::health::is_heartbeat(data);
    let _ = Heartbeat::parse(data, &ClusterKey::new(b"another key"));
    if let Ok(hb) = Heartbeat::parse(data, &key) {
        let out = hb.to_bytes(&key);
        assert_eq!(out.as_ref(), data, "emit(parse(b)) == b");
        assert_eq!(out.len(), hb.encoded_len());
        assert_eq!(Heartbeat::parse(&out, &key).as_ref(), Ok(&hb));
    }
    // The same bytes, signed, so the structural checks are reached past the MAC too.
    if data.len() > 16 {
        let body = data.get(..data.len() - 16).unwrap_or_default();
        let mut signed = body.to_vec();
        if let Ok(mut m) = <hmac::Hmac<md5::Md5> as hmac::Mac>::new_from_slice(KEY) {
            hmac::Mac::update(&mut m, body);
            signed.extend_from_slice(&hmac::Mac::finalize(m).into_bytes());
        }
        if let Ok(hb) = Heartbeat::parse(&signed, &key) {
            assert_eq!(hb.to_bytes(&key).as_ref(), &signed[..]);
        }
    }
}

/// A cursor over fuzz bytes that yields zeros once exhausted.
struct Ops<'a>(&'a [u8]);

impl Ops<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn addr(n: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | n)), 7000)
}

fn snapshot(m: &Monitor) -> Vec<PeerStatus> {
    m.peers().collect()
}

/// Drives one [`Monitor`] (node 1, configured peers 2 and 3, unknown nodes accepted up to 4 peers)
/// with operations decoded from `data`: advance time, authentic heartbeats from peers, self or
/// strangers (any incarnation and sequence), replays of earlier heartbeats, arbitrary datagrams,
/// load changes, peer removal and additions, and selections. After each operation it checks:
/// a refused datagram changes nothing; the peer table stays within its bound; events agree with
/// `state()`; a restart's incarnation grows; what is sent authenticates, comes from node 1 and
/// has growing sequences; the next deadline is after `now`; a selected node is Up and not
/// overloaded.
/// `t0` is the base instant the run starts at (the caller's clock; the harness never reads one).
pub fn monitor(t0: Instant, data: &[u8]) {
    let Some(mut run) = MonitorRun::new(t0) else {
        return;
    };
    let mut input = Ops(data);
    let mut ops = 0;
    while !input.0.is_empty() && ops < 512 {
        ops += 1;
        let before = snapshot(&run.m);
        let op = input.u8() % 8;
        if let Some(Err(_)) = run.apply(op, &mut input) {
            assert_eq!(
                before,
                snapshot(&run.m),
                "a refused heartbeat changes nothing"
            );
        }
        assert!(run.m.peer_count() <= 4);
        run.check_transmits();
        run.check_events();
        run.check_state(op == 0);
    }
}

/// The monitor under test and the model the harness checks it against.
struct MonitorRun {
    m: Monitor,
    key: ClusterKey,
    now: Instant,
    rng: Rng,
    sent: Vec<bytes::Bytes>,
    model: BTreeMap<NodeId, NodeState>,
    incarnations: BTreeMap<NodeId, u32>,
    last_seq: u64,
}

impl MonitorRun {
    fn new(t0: Instant) -> Option<MonitorRun> {
        let key = ClusterKey::new(KEY);
        let mut cfg = MonitorConfig::new(
            NodeId(1),
            Role::HOME_AGENT,
            key.clone(),
            vec![(NodeId(2), addr(2)), (NodeId(3), addr(3))],
        );
        cfg.accept_unknown = true;
        cfg.max_peers = 4;
        cfg.health.interval = Duration::from_millis(100);
        cfg.health.misses_suspect = 2;
        cfg.health.misses_down = 4;
        cfg.health.overload_percent = 80;
        let m = Monitor::new(cfg, t0).ok()?;
        Some(MonitorRun {
            m,
            key,
            now: t0,
            rng: Rng::seed_from_u64(0),
            sent: Vec::new(),
            model: BTreeMap::new(),
            incarnations: BTreeMap::new(),
            last_seq: 0,
        })
    }

    /// Applies operation `op`; returns the monitor's answer when it was fed a datagram.
    fn apply(&mut self, op: u8, input: &mut Ops<'_>) -> Option<Result<(), HealthError>> {
        let (m, now) = (&mut self.m, self.now);
        match op {
            0 => {
                self.now += Duration::from_millis(u64::from(input.u8()) * 10);
                m.handle_timeout(self.now);
                None
            }
            1 | 2 => {
                let node = NodeId(u32::from(input.u8() % 7));
                let used = u32::from(input.u8());
                let hb = Heartbeat {
                    node,
                    role: Role(input.u8()),
                    incarnation: u32::from(input.u8() % 4),
                    sequence: u64::from(input.u16()),
                    load: Load::new(used, 200),
                    addresses: Default::default(),
                };
                let bytes = hb.to_bytes(&self.key);
                if self.sent.len() < 64 {
                    self.sent.push(bytes.clone());
                }
                Some(m.handle_datagram(now, addr(node.0), addr(1), &bytes))
            }
            3 => {
                let i = usize::from(input.u8());
                let sent = &self.sent;
                sent.get(i % sent.len().max(1))
                    .map(|b| m.handle_datagram(now, addr(9), addr(1), b))
            }
            4 => {
                let n = usize::from(input.u8());
                let raw = input.take(n).to_vec();
                Some(m.handle_datagram(now, addr(9), addr(1), &raw))
            }
            5 => {
                m.set_load(Load::new(u32::from(input.u8()), 200));
                None
            }
            6 => {
                let node = NodeId(u32::from(input.u8() % 7));
                if input.u8() % 2 == 0 {
                    if m.remove_peer(node) {
                        self.model.remove(&node);
                        self.incarnations.remove(&node);
                    }
                } else {
                    let _ = m.add_peer(node, addr(node.0));
                }
                None
            }
            _ => {
                self.select(input);
                None
            }
        }
    }

    /// A selection picks an Up, not overloaded node that passes the filter.
    fn select(&mut self, input: &mut Ops<'_>) {
        let policy = match input.u8() % 3 {
            0 => Policy::LeastLoaded,
            1 => Policy::WeightedSpare,
            _ => Policy::RoundRobin,
        };
        let mask = input.u8();
        let m = &mut self.m;
        let pick = m.select(policy, &mut self.rng, |n| (mask >> (n.0 % 8)) & 1 == 0);
        if let Some(p) = pick {
            assert_eq!(m.state(p), Some(NodeState::Up), "selected node is Up");
            let load = m.load(p).unwrap_or_default();
            assert!(
                load.percent < 80 && load.used < load.capacity,
                "not overloaded"
            );
            assert_eq!((mask >> (p.0 % 8)) & 1, 0, "filter respected");
        }
    }

    /// What is sent authenticates, comes from node 1 and has growing sequences.
    fn check_transmits(&mut self) {
        while let Some(t) = self.m.poll_transmit() {
            let hb = Heartbeat::parse(&t.payload, &self.key);
            assert!(hb.is_ok(), "own heartbeats authenticate");
            if let Ok(hb) = hb {
                assert_eq!(hb.node, NodeId(1));
                assert!(hb.sequence >= self.last_seq);
                self.last_seq = hb.sequence;
            }
        }
    }

    /// Events follow Up -> Suspect -> Down, and a restart's incarnation grows.
    fn check_events(&mut self) {
        while let Some(e) = self.m.poll_event() {
            match e {
                HealthEvent::Up { node } => {
                    self.model.insert(node, NodeState::Up);
                }
                HealthEvent::Suspect { node } => {
                    let was = self.model.insert(node, NodeState::Suspect);
                    assert_eq!(was, Some(NodeState::Up));
                }
                HealthEvent::Down { node } => {
                    let was = self.model.insert(node, NodeState::Down);
                    assert_eq!(was, Some(NodeState::Suspect));
                }
                HealthEvent::Restarted {
                    node,
                    previous,
                    incarnation,
                } => {
                    assert!(incarnation > previous);
                    if let Some(&known) = self.incarnations.get(&node) {
                        assert_eq!(known, previous);
                    }
                }
            }
        }
    }

    /// Events agree with `state()`; after `handle_timeout` the next deadline is after `now`.
    fn check_state(&mut self, timed_out: bool) {
        for p in self.m.peers() {
            assert_eq!(
                self.model.get(&p.node).copied().unwrap_or(NodeState::Down),
                p.state,
                "events agree with state()"
            );
            if let Some(i) = p.incarnation {
                self.incarnations.insert(p.node, i);
            }
        }
        let next = self.m.poll_timeout();
        assert!(next.is_some(), "a heartbeat round is always pending");
        if timed_out {
            assert!(
                next.is_some_and(|t| t > self.now),
                "handle_timeout leaves nothing due"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harnesses_run_over_random_inputs() {
        let t0 = Instant::now();
        let mut rng = Rng::seed_from_u64(0x4845_414c);
        let key = ClusterKey::new(KEY);
        for i in 0..400 {
            let len = rng.below(300) as usize;
            let mut data = vec![0u8; len];
            rng.fill_bytes(&mut data);
            if i % 2 == 0 && data.len() >= 4 {
                data[..4].copy_from_slice(&[0xFF, 0x48, 0x42, 1]);
            }
            heartbeat(&data);
            monitor(t0, &data);
        }
        // Valid heartbeats too.
        for i in 0..50u32 {
            let hb = Heartbeat {
                node: NodeId(i),
                sequence: u64::from(i),
                ..Heartbeat::default()
            };
            heartbeat(&hb.to_bytes(&key));
        }
    }

    #[test]
    fn monitor_harness_reaches_every_state() {
        // Heartbeats from node 2 at 10 ms steps, then silence: Up, Suspect, Down.
        let mut ops = Vec::new();
        for s in 1..5u8 {
            ops.extend_from_slice(&[1, 2, 50, 0, 1, 0, s, 0, 1]);
        }
        ops.extend_from_slice(&[0, 30, 0, 30, 0, 30]);
        monitor(Instant::now(), &ops);
    }
}
