//! The virtual LNS with replication on the simulator (issue 15): a LAC holding calls with pool
//! members that replicate their tunnels and sessions to a backup chosen by load.
//!
//! Each member `i` owns a management address 10.0.2.(i+1) (its heartbeats) and a service address
//! 10.0.1.(i+1) (the one LACs talk to); every member also owns the other members' service
//! addresses, routed to their own member until a takeover: on [`Event::TakenOver`] the world moves
//! the address (`Sim::set_route`), as the caller of a real LNS would. Replication travels between
//! the members' management addresses on the simulator (the LNS's own acked, authenticated
//! channel).
#![allow(dead_code)]

use super::l2tp::addr;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use telcp::health::{ClusterKey, NodeId as HNode, Role};
use telcp::l2tp::{
    CallId, Config, Event, Lac, LacConfig, Lns, LnsConfig, LnsMembership, ReplicationConfig,
    SessionRef,
};
use telcp::sim::{LinkConfig, NodeId, Sim};

/// Member `i`'s service address (LACs talk to it).
pub fn service(i: usize) -> SocketAddr {
    addr(&format!("10.0.1.{}", i + 1))
}

/// Member `i`'s management address (heartbeats).
pub fn management(i: usize) -> SocketAddr {
    addr(&format!("10.0.2.{}", i + 1))
}

/// The configuration shared by every endpoint of a seed; `rfc4951`: with RFC 4951 failover (C
/// bit, 10 s Recovery Time).
pub fn common(seed: u64, rfc4951: bool) -> Config {
    Config {
        seed: telcp::io::seed(seed),
        max_retries: 10,
        failover: rfc4951.then(telcp::l2tp::FailoverConfig::default),
        ..Config::default()
    }
}

/// How long a control message of a seed's endpoints may go unacknowledged before its channel
/// gives up (RFC 2661 5.8: the first timeout doubling up to the cap over `max_retries`
/// retransmissions, per [`common`]): a handshake that needs one message acknowledged may take
/// this long over lossy links and still succeed.
pub fn give_up_after() -> Duration {
    let c = common(0, false);
    telcp::l2tp::channel::ChannelConfig {
        retransmit_initial: c.retransmit_initial,
        retransmit_cap: c.retransmit_cap,
        max_retries: c.max_retries,
        ..Default::default()
    }
    .give_up_after()
}

/// Member `i` of `n`, incarnation `incarnation`.
pub fn member_config(seed: u64, i: usize, n: usize, incarnation: u32, rfc4951: bool) -> LnsConfig {
    let peers = (0..n)
        .filter(|j| *j != i)
        .map(|j| (HNode(j as u32 + 1), management(j)))
        .collect();
    let mut m = LnsMembership::new(
        HNode(i as u32 + 1),
        Role::LNS,
        ClusterKey::new(b"pool cluster key"),
        peers,
    );
    m.incarnation = incarnation;
    LnsConfig {
        common: common(seed.wrapping_mul(31).wrapping_add(i as u64 + 1), rfc4951),
        contact: false,
        membership: Some(m),
        replication: Some(ReplicationConfig::default()),
        ..LnsConfig::default()
    }
}

/// The world: a LAC and `n` members.
pub struct World {
    pub sim: Sim,
    pub seed: u64,
    /// Every endpoint advertises RFC 4951 failover.
    pub rfc4951: bool,
    pub lac: NodeId,
    pub members: Vec<NodeId>,
    /// Every event of the LAC, in order.
    pub lac_events: Vec<Event>,
    /// Every event of each member, in order.
    pub events: Vec<Vec<Event>>,
    /// Frames received by each member and by the LAC, per session / call.
    pub member_frames: Vec<BTreeMap<(u16, u16), usize>>,
    pub lac_frames: BTreeMap<CallId, usize>,
    /// The sessions each member serves (from its events).
    pub serving: Vec<BTreeSet<SessionRef>>,
    /// Calls [`World::open_calls`] saw fail in set-up after a takeover and opened again (a
    /// subscriber's redial); their CDN is not a lost session.
    pub redialed: BTreeSet<CallId>,
    /// With `TELCP_GIVEUPS` set: each member's `Stats::backups_unresponsive` as last seen, so
    /// that every give-up is told with its cause as it happens ([`World::giveups`]).
    giveups_seen: Option<Vec<u64>>,
    /// The give-ups told so far (with `TELCP_GIVEUPS`).
    pub giveups: Vec<GiveUp>,
    /// When each member last (re)started (time since the start of the simulation).
    started: Vec<Duration>,
}

/// A member giving its backup up as unresponsive (`Stats::backups_unresponsive`, `lns::replicate`
/// docs: a batch left unacknowledged for a health Down interval), as the harness saw it.
#[derive(Debug, Clone)]
pub struct GiveUp {
    /// Time since the start of the simulation.
    pub at: Duration,
    /// The member that gave its backup up, and the backup (member indices).
    pub member: usize,
    pub backup: usize,
    /// Why, from the simulator's point of view: `crashed` (the backup is down), `cut off` (a
    /// partition dropped datagrams between them in the window), `crashed since` (datagrams to
    /// it met it down in the window), else `alive` (spurious: alive and reachable, its batches
    /// merely lost or delayed).
    pub cause: &'static str,
    /// Over the window (the Down interval and 2.5 s before the give-up): replication batches
    /// from the member to the backup (sent, delivered), acknowledgement tokens back (sent,
    /// delivered), and the backup's health state at the member at the give-up.
    pub batches: (usize, usize),
    pub tokens: (usize, usize),
    pub state: Option<telcp::health::NodeState>,
    /// Whether the backup had acknowledged a batch of the member before the window (a token
    /// of it taken since both last started): it had shown that it replicates.
    pub proven: bool,
}

impl World {
    /// `n` members, the LAC's contact LNS member 0, the LAC's links `link`.
    pub fn new(seed: u64, n: usize, link: LinkConfig) -> World {
        World::with_failover(seed, n, link, false)
    }

    /// The same; `rfc4951`: every endpoint (the LAC too) advertises RFC 4951 failover.
    pub fn with_failover(seed: u64, n: usize, link: LinkConfig, rfc4951: bool) -> World {
        let mut sim = Sim::new(seed, std::time::Instant::now());
        sim.set_default_link(link);
        let mut lc = LacConfig::new(service(0));
        lc.common = common(seed, rfc4951);
        lc.advertise_load_balance = false;
        lc.idle_tunnel_timeout = None;
        lc.max_calls = 4096;
        let lac = sim.add_node(
            "lac",
            &[addr("10.0.9.1")],
            None,
            Box::new(Lac::new(lc, sim.now()).unwrap()),
        );
        let members = (0..n)
            .map(|i| {
                let lns = Lns::new(member_config(seed, i, n, 1, rfc4951), sim.now()).unwrap();
                let mut addrs = vec![management(i), service(i)];
                addrs.extend((0..n).filter(|j| *j != i).map(service));
                sim.add_node(format!("lns{i}"), &addrs, None, Box::new(lns))
            })
            .collect::<Vec<_>>();
        for (i, m) in members.iter().enumerate() {
            sim.set_route(service(i).ip(), *m);
            // The members' own network (heartbeats and replication) has the same impairments
            // as the LAC's path, in every phase (set-up, steady state, takeover).
            for other in &members {
                if other != m {
                    sim.set_link(*m, *other, link);
                }
            }
        }
        World {
            sim,
            seed,
            rfc4951,
            lac,
            members,
            lac_events: Vec::new(),
            redialed: BTreeSet::new(),
            events: vec![Vec::new(); n],
            member_frames: vec![BTreeMap::new(); n],
            lac_frames: BTreeMap::new(),
            serving: vec![BTreeSet::new(); n],
            giveups_seen: std::env::var_os("TELCP_GIVEUPS").map(|_| vec![0; n]),
            giveups: Vec::new(),
            started: vec![Duration::ZERO; n],
        }
    }

    pub fn lac(&mut self) -> &mut Lac {
        self.sim.node_mut::<Lac>(self.lac)
    }

    pub fn member(&mut self, i: usize) -> &mut Lns {
        self.sim.node_mut::<Lns>(self.members[i])
    }

    fn index_of(&self, h: HNode) -> Option<usize> {
        (h.0 as usize)
            .checked_sub(1)
            .filter(|i| *i < self.members.len())
    }

    /// Cuts member `i` off from everyone (LAC and members): a false Down.
    pub fn isolate(&mut self, i: usize) {
        let all: Vec<NodeId> = std::iter::once(self.lac)
            .chain(self.members.iter().copied())
            .collect();
        for n in all {
            if n != self.members[i] {
                self.sim.partition(self.members[i], n);
            }
        }
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.sim.heal_all();
    }

    /// Restarts member `i` empty with `incarnation`: it serves nothing (what it served before
    /// is forgotten with its state).
    pub fn restart(&mut self, i: usize, incarnation: u32) {
        let n = self.members.len();
        let cfg = member_config(self.seed, i, n, incarnation, self.rfc4951);
        let lns = Lns::new(cfg, self.sim.now()).unwrap();
        self.sim.restart(self.members[i], Box::new(lns));
        self.serving[i].clear();
        self.member_frames[i].clear();
        if let Some(seen) = &mut self.giveups_seen {
            seen[i] = 0;
        }
        self.started[i] = self.sim.elapsed();
    }

    /// Events and frames collected; a takeover moves the address.
    fn pump(&mut self) {
        for i in 0..self.members.len() {
            let node = self.members[i];
            if !self.sim.is_alive(node) {
                continue;
            }
            while let Some(d) = self.member(i).poll_data() {
                *self.member_frames[i]
                    .entry((d.session.tunnel, d.session.session))
                    .or_default() += 1;
            }
        }
        for i in 0..self.members.len() {
            while let Some(e) = self.sim.poll_event_of::<Lns>(self.members[i]) {
                if let Event::TakenOver { addr, .. } = &e {
                    self.sim.set_route(*addr, self.members[i]);
                }
                self.track(i, &e);
                self.events[i].push(e);
            }
        }
        while let Some(e) = self.sim.poll_event_of::<Lac>(self.lac) {
            self.lac_events.push(e);
        }
        while let Some(d) = self.lac().poll_data() {
            if let Some(c) = d.call {
                *self.lac_frames.entry(c).or_default() += 1;
            }
        }
        if self.giveups_seen.is_some() {
            self.count_giveups();
        }
    }

    /// With `TELCP_GIVEUPS`: every give-up since the last look, with its cause, to
    /// [`World::giveups`] and, one line each (`giveup ...`), to stderr.
    fn count_giveups(&mut self) {
        for i in 0..self.members.len() {
            if !self.alive(i) {
                continue;
            }
            let m = self.sim.node::<Lns>(self.members[i]);
            let now = m.stats().backups_unresponsive;
            let seen = self.giveups_seen.as_ref().map_or(0, |s| s[i]);
            if now <= seen {
                continue;
            }
            // The newest mark is the last (`Lns::unresponsive_members`: in the order given up).
            let Some(b) = m.unresponsive_members().last() else {
                panic!(
                    "seed {}: member {i} gave a backup up, none marked",
                    self.seed
                );
            };
            let b = b.0 as usize - 1;
            let state = m.monitor().and_then(|h| h.state(HNode(b as u32 + 1)));
            let g = self.classify(i, b, state);
            eprintln!(
                "giveup seed={} rfc4951={} test={} at={:.3} member={i} backup={b} cause={} \
                 state={:?} batches={:?} tokens={:?} proven={} count={}",
                self.seed,
                self.rfc4951,
                std::thread::current().name().unwrap_or("?"),
                g.at.as_secs_f64(),
                g.cause.replace(' ', "_"),
                g.state,
                g.batches,
                g.tokens,
                g.proven,
                now - seen,
            );
            // With `TELCP_DEBUG`: the pair's datagrams over the window, to read the cause.
            if std::env::var_os("TELCP_DEBUG").is_some() {
                let since = g.at.saturating_sub(Duration::from_millis(6500));
                let pair = [management(i).ip(), management(b).ip()];
                for r in self.sim.trace().iter().filter(|r| r.at >= since) {
                    if pair.contains(&r.from.ip()) && pair.contains(&r.to.ip()) {
                        let refused = r.refusal.as_ref().map(|e| format!(" refused: {e}"));
                        eprintln!(
                            "  {:>10.3} {} -> {} {:?} {}{}",
                            r.at.as_secs_f64(),
                            r.from,
                            r.to,
                            r.fate,
                            replication(&r.payload),
                            refused.unwrap_or_default()
                        );
                    }
                }
            }
            self.giveups.push(g);
            if let Some(s) = &mut self.giveups_seen {
                s[i] = now;
            }
        }
    }

    /// The cause of member `i` giving its backup `b` up now (see [`GiveUp`]).
    fn classify(&self, i: usize, b: usize, state: Option<telcp::health::NodeState>) -> GiveUp {
        use telcp::sim::Fate;
        let at = self.sim.elapsed();
        let since = at.saturating_sub(Duration::from_millis(6500));
        let (mi, mb) = (self.members[i], self.members[b]);
        let trace = self.sim.trace();
        // (Past the simulator's trace limit the window is not in the trace: told apart.)
        let whole = trace.last().is_some_and(|r| r.at >= since);
        let between = |r: &&telcp::sim::TraceRecord| {
            r.at >= since
                && ((r.src_node == Some(mi) && r.to.ip() == management(b).ip())
                    || (r.src_node == Some(mb) && r.to.ip() == management(i).ip()))
        };
        let (mut batches, mut tokens) = ((0, 0), (0, 0));
        let (mut cut, mut down) = (false, false);
        let since_both = self.started[i].max(self.started[b]);
        let proven = trace.iter().any(|r| {
            r.at >= since_both
                && r.at < since
                && r.src_node == Some(mb)
                && r.to.ip() == management(i).ip()
                && r.fate == Fate::Delivered
                && r.refusal.is_none()
                && r.payload.len() > 5
                && &r.payload[..3] == b"\xfeL2"
                && r.payload[4] == 6
        });
        for r in trace.iter().filter(between) {
            cut |= r.fate == Fate::Partitioned;
            down |= r.fate == Fate::DestinationDown;
            let p = &r.payload;
            if p.len() < 5 || &p[..3] != b"\xfeL2" {
                continue;
            }
            let delivered = usize::from(r.fate == Fate::Delivered);
            let count = match (r.src_node == Some(mi), p[4] == 6) {
                (true, false) => &mut batches,
                (false, true) => &mut tokens,
                _ => continue,
            };
            count.0 += 1;
            count.1 += delivered;
        }
        let cause = if !self.alive(b) {
            "crashed"
        } else if !whole {
            "unknown (trace cut short)"
        } else if cut {
            "cut off"
        } else if down {
            "crashed since"
        } else {
            "alive"
        };
        GiveUp {
            at,
            member: i,
            backup: b,
            cause,
            batches,
            tokens,
            state,
            proven,
        }
    }

    /// Runs for `d`, pumping after every instant at which something happened: events are acted
    /// on in the order they happen, as a caller would (of two takeovers of one address, the later
    /// moves it last).
    pub fn run(&mut self, d: Duration) {
        let end = self.sim.now() + d;
        while let Some(t) = self.sim.next_event_at().filter(|t| *t <= end) {
            self.sim.run_until(t);
            self.pump();
        }
        self.sim.run_until(end);
        self.pump();
    }

    /// Runs until `cond` holds or `limit` passed; whether it held.
    pub fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&mut World) -> bool) -> bool {
        let end = self.sim.now() + limit;
        while self.sim.now() < end {
            if cond(self) {
                return true;
            }
            self.run(Duration::from_millis(50));
        }
        cond(self)
    }

    /// Whether every live member's health sees every other live member Up.
    pub fn formed(&mut self) -> bool {
        let n = self.members.len();
        let live: Vec<usize> = (0..n).filter(|i| self.alive(*i)).collect();
        live.iter().all(|&i| {
            let m = self.sim.node::<Lns>(self.members[i]).monitor();
            live.iter().filter(|&&j| j != i).all(|&j| {
                m.and_then(|m| m.state(HNode(j as u32 + 1))) == Some(telcp::health::NodeState::Up)
            })
        })
    }

    /// Opens `n` calls at the LAC (to member 0), once the members see each other (a member is
    /// taken over when health finds it Down, so its backup must have heard it), and waits until
    /// all are up at both ends; returns them. A call still in set-up when a false Down moved the
    /// tunnel may fail at the LAC's set-up timer (CDN Result 10, RFC 2661 7.4.1; `lns::replicate`
    /// docs: an ICRQ acknowledged but not yet answered is not replicated): it is cleared at the
    /// LAC (never half up) and opened again, as a subscriber redials.
    pub fn open_calls(&mut self, n: usize) -> Vec<CallId> {
        assert!(self.run_until(Duration::from_secs(30), World::formed));
        // In batches, as calls arrive (a thousand ICRQs at once would outrun the set-up timer
        // on a window of 8 messages).
        let mut calls = Vec::with_capacity(n);
        let mut redials = 0;
        while calls.len() < n {
            let now = self.sim.now();
            let k = (n - calls.len()).min(25);
            calls.extend((0..k).map(|_| self.lac().open_session(now).unwrap()));
            let want = calls.len();
            let ok = self.run_until(Duration::from_secs(120), |w| {
                w.lac_session_ups() >= want
                    && w.serving.iter().map(BTreeSet::len).sum::<usize>() >= want
            });
            if ok {
                continue;
            }
            let (up, cleared) = self.lac_calls();
            let moved = self
                .events
                .iter()
                .flatten()
                .any(|e| matches!(e, Event::TakenOver { .. }));
            let failed: Vec<CallId> = calls
                .iter()
                .copied()
                .filter(|c| !up.contains(c) && cleared.contains(c))
                .collect();
            let stuck = calls
                .iter()
                .any(|c| !up.contains(c) && !cleared.contains(c));
            if moved && !stuck && !failed.is_empty() && redials < n {
                redials += failed.len();
                calls.retain(|c| !failed.contains(c));
                self.redialed.extend(failed);
                continue;
            }
            panic!(
                "seed {}: {} of {want} calls up at the LAC, {:?} at the LNSs",
                self.seed,
                self.lac_session_ups(),
                self.serving.iter().map(BTreeSet::len).collect::<Vec<_>>(),
            );
        }
        calls
    }

    /// The calls the LAC reported up, and those it reported down.
    fn lac_calls(&self) -> (BTreeSet<CallId>, BTreeSet<CallId>) {
        let mut up = BTreeSet::new();
        let mut down = BTreeSet::new();
        for e in &self.lac_events {
            match e {
                Event::SessionUp { call: Some(c), .. } => {
                    up.insert(*c);
                }
                Event::SessionDown { call: Some(c), .. } => {
                    down.insert(*c);
                }
                _ => {}
            }
        }
        (up, down)
    }

    /// `SessionUp` events the LAC reported.
    pub fn lac_session_ups(&self) -> usize {
        self.lac_events
            .iter()
            .filter(|e| matches!(e, Event::SessionUp { .. }))
            .count()
    }

    /// `TunnelUp` events the LAC reported (a tunnel re-established would add one).
    pub fn lac_tunnel_ups(&self) -> usize {
        self.lac_events
            .iter()
            .filter(|e| matches!(e, Event::TunnelUp { .. }))
            .count()
    }

    /// `SessionDown` and `TunnelDown` events the LAC reported, but for the set-up failures of
    /// the calls [`World::open_calls`] opened again ([`World::redialed`]): those calls were
    /// never up, so their CDN loses no session.
    pub fn lac_downs(&self) -> usize {
        self.lac_events
            .iter()
            .filter(|e| match e {
                Event::SessionDown { call: Some(c), .. } => !self.redialed.contains(c),
                Event::SessionDown { .. } | Event::TunnelDown { .. } => true,
                _ => false,
            })
            .count()
    }

    /// The takeovers member `i` reported.
    pub fn takeovers(&self, i: usize) -> Vec<&Event> {
        self.events[i]
            .iter()
            .filter(|e| matches!(e, Event::TakenOver { .. }))
            .collect()
    }

    /// `k` rounds, 100 ms apart, of one frame on every call from the LAC and one on every
    /// session each live member serves.
    pub fn send_frames(&mut self, calls: &[CallId], k: usize) {
        for _ in 0..k {
            for c in calls {
                let _ = self.lac().send_ppp(*c, b"\xc0\x21lac");
            }
            for i in 0..self.members.len() {
                if !self.alive(i) {
                    continue;
                }
                let refs: Vec<SessionRef> = self.serving[i].iter().copied().collect();
                for r in refs {
                    let _ = self.member(i).send_ppp(r, b"\xc0\x21lns");
                }
            }
            self.run(Duration::from_millis(100));
        }
    }

    /// Tracks the sessions member `i` serves from its events.
    fn track(&mut self, i: usize, e: &Event) {
        match e {
            Event::SessionUp { session, .. } => {
                self.serving[i].insert(*session);
            }
            Event::SessionDown {
                session: Some(s), ..
            } => {
                self.serving[i].remove(s);
            }
            Event::TunnelDown { tunnel, .. } | Event::Yielded { tunnel, .. } => {
                self.serving[i].retain(|s| s.tunnel != *tunnel);
            }
            Event::TakenOver { sessions, .. } => {
                self.serving[i].extend(sessions.iter().map(|h| h.session));
            }
            _ => {}
        }
    }

    /// Whether member `i` is up.
    pub fn alive(&self, i: usize) -> bool {
        self.sim.is_alive(self.members[i])
    }

    /// The IP of member `i`'s service address.
    pub fn service_ip(i: usize) -> IpAddr {
        service(i).ip()
    }
}

impl World {
    /// With `TELCP_DEBUG` set: the simulator's trace of control messages between the LAC and the
    /// members from `since` on (time, addresses, fate, tunnel/session, Ns/Nr, message type), and
    /// the member links' datagrams (length only), to stderr: a failing seed's wire story.
    pub fn dump_trace(&self, since: Duration) {
        if std::env::var("TELCP_DEBUG").is_err() {
            return;
        }
        use telcp::l2tp::wire::Message;
        for r in self.sim.trace().iter().filter(|r| r.at >= since) {
            let what = match Message::parse(&r.payload) {
                Ok(Message::Control(c)) => format!(
                    "t{} s{} ns{} nr{} {:?}",
                    c.header.tunnel_id,
                    c.header.session_id,
                    c.header.ns,
                    c.header.nr,
                    c.message_type()
                ),
                Ok(Message::Data(d)) => {
                    format!("data t{} s{}", d.header.tunnel_id, d.header.session_id)
                }
                Err(_) => replication(&r.payload),
            };
            let refused = r.refusal.as_ref().map(|e| format!(" refused: {e}"));
            eprintln!(
                "{:>10.3} {} -> {} {:?} {what}{}",
                r.at.as_secs_f64(),
                r.from,
                r.to,
                r.fate,
                refused.unwrap_or_default()
            );
        }
    }
}

/// A members' datagram told in brief (`World::dump_trace`): a replication batch (kind, sender's
/// incarnation, `seq`, entries) or acknowledgement token (`seq`), per the envelope layout of
/// `lns::replicate` docs (transport); anything else (heartbeats) by its length.
fn replication(p: &[u8]) -> String {
    let u64_at = |i: usize| {
        p.get(i..i + 8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap()))
    };
    let u32_at = |i: usize| {
        p.get(i..i + 4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
    };
    if p.len() < 5 || &p[..3] != b"\xfeL2" {
        return format!("{} B", p.len());
    }
    if p[4] == 6 {
        return format!("token seq {:?}", u64_at(11).unwrap_or(0));
    }
    let mut what = format!(
        "batch kind {} inc {:?} seq {:?} entries {:?} ({} B)",
        p[4],
        u32_at(11).unwrap_or(0),
        u64_at(23).unwrap_or(0),
        p.get(31).copied().unwrap_or(0),
        p.len()
    );
    // With `TELCP_DEBUG=entries`: each entry of a batch (the body is authenticated, not
    // encrypted: `lns::replicate` docs, transport).
    let body = &p[..p.len().saturating_sub(telcp::replica::TAG_LEN)];
    let entries = std::env::var("TELCP_DEBUG").is_ok_and(|v| v == "entries");
    if entries && body.len() > telcp::replica::HEADER_LEN {
        let head = telcp::replica::HEADER_LEN;
        let mut r = telcp::io::Reader::at(&body[head..], head);
        match telcp::replica::parse_batch::<telcp::l2tp::replica::Record>(&mut r) {
            Ok((_, items)) => {
                for e in items {
                    let e: String = format!("{e:?}").chars().take(160).collect();
                    what.push_str(&format!("\n             {e}"));
                }
            }
            Err(e) => what.push_str(&format!(" (unparsed: {e:?})")),
        }
    }
    what
}
