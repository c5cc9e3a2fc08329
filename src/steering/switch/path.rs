//! Path management at the switch processor: the peer table, Echo / Heartbeat Requests, restart
//! detection and the batched purge of a peer's sessions (see [`crate::steering::path`]).

use super::{SwitchEvent, SwitchProcessor, Timer, vids};
use crate::steering::common::Route;
use crate::steering::error::{FabricKind, InputError};
use crate::steering::fabric::{FabricMessage, SessionProtocol, SessionRecord, VidState};
use crate::steering::gtp::GTP_U_PORT;
use crate::steering::gtp::Imsi;
use crate::steering::path::{
    MAX_PURGES_IN_FLIGHT, PathFailureAction, PathProtocol, PeerId, is_newer,
};
use crate::steering::processor::record_imsi;
use crate::steering::{gtp, gtpv2, pfcp};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Tries of a purge batch (the first and its repeats) before the processors still silent are
/// given up on.
const PURGE_TRIES: u32 = 10;

/// One peer's path.
#[derive(Debug, Default)]
struct Peer {
    /// Where echoes leave from (the line interface and gateway address the peer talked to).
    route: Option<Route>,
    /// The restart value stored (TS 23.007 sections 18 and 19A).
    recovery: Option<u32>,
    /// The TEIDs of the gateway's sessions with this peer.
    sessions: HashSet<u32>,
    /// Whether it holds a PFCP association.
    associated: bool,
    /// The Echo Request awaiting its response: (sequence number, times sent).
    probe: Option<(u32, u32)>,
    /// Whether its path has failed (and not answered since).
    failed: bool,
}

/// A peer's sessions being purged, in TEID order.
#[derive(Debug)]
struct PurgeJob {
    teids: VecDeque<u32>,
}

/// A purge batch sent, awaiting the processors' acknowledgements.
#[derive(Debug)]
struct Batch {
    teids: Vec<u32>,
    awaiting: BTreeSet<SocketAddr>,
    tries: u32,
}

/// The switch processor's path state.
#[derive(Debug, Default)]
pub(super) struct Paths {
    peers: HashMap<PeerId, Peer>,
    /// Each session's control-plane peer.
    session_peer: HashMap<u32, PeerId>,
    /// Each session's user-plane (GTP-U) peer, once its address is known.
    session_peer_u: HashMap<u32, PeerId>,
    next_seq: u32,
    jobs: VecDeque<PurgeJob>,
    batches: BTreeMap<u32, Batch>,
    next_batch: u32,
    /// The GTPv1 and GTPv2-C session of each subscriber (protocol, IMSI and NSAPI / EPS Bearer
    /// ID) set up with an IMSI, learnt from the syncs (the newest), so that a new set-up of the
    /// subscriber reaches the processor holding the context it replaces (TS 29.060 section
    /// 7.3.1, TS 29.274 section 7.2.1). One entry per live session at most: bounded by
    /// `max_sessions`.
    subscribers: HashMap<Subscriber, u32>,
    /// The subscriber key of each session in `subscribers`.
    subscriber_of: HashMap<u32, Subscriber>,
}

/// A GTP subscriber as the switch processor indexes it: the protocol of its session, its IMSI
/// and its NSAPI (GTPv1) or EPS Bearer ID (GTPv2-C).
pub(super) type Subscriber = (SessionProtocol, Imsi, u8);

impl SwitchProcessor {
    /// The number of sessions the gateway holds with `peer`, if it is tracked.
    pub fn peer_sessions(&self, peer: PeerId) -> Option<usize> {
        self.paths.peers.get(&peer).map(|p| p.sessions.len())
    }

    /// The restart value (Recovery, Recovery Time Stamp) stored for `peer`.
    pub fn peer_recovery(&self, peer: PeerId) -> Option<u32> {
        self.paths.peers.get(&peer).and_then(|p| p.recovery)
    }

    /// Whether `peer`'s path is failed (no answer to N3 Echo Requests since the last answer).
    pub fn path_failed(&self, peer: PeerId) -> bool {
        self.paths.peers.get(&peer).is_some_and(|p| p.failed)
    }

    /// The tracked peers, in order.
    pub fn peers(&self) -> Vec<PeerId> {
        let mut v: Vec<PeerId> = self.paths.peers.keys().copied().collect();
        v.sort();
        v
    }

    /// The peer `id`, created if the table has room.
    fn peer_entry(&mut self, id: PeerId) -> Option<&mut Peer> {
        if !self.paths.peers.contains_key(&id) {
            if self.paths.peers.len() >= self.config.path.max_peers {
                self.stats.peers_full += 1;
                return None;
            }
            self.paths.peers.insert(id, Peer::default());
        }
        self.paths.peers.get_mut(&id)
    }

    /// A session learnt from a processor's sync: indexed under its control-plane peer, and a
    /// GTPv1 or GTPv2-C session with an IMSI under its subscriber ([`Subscriber`]).
    pub(super) fn path_add_session(&mut self, record: &SessionRecord) {
        let gtp = matches!(
            record.protocol,
            SessionProtocol::Gtpv1 | SessionProtocol::Gtpv2
        );
        if let (true, Some(imsi)) = (gtp, record_imsi(record)) {
            let key = (record.protocol, imsi, record.nsapi);
            if let Some(old) = self.paths.subscribers.insert(key, record.teid) {
                self.paths.subscriber_of.remove(&old);
            }
            self.paths.subscriber_of.insert(record.teid, key);
        }
        let id = PeerId {
            protocol: record.protocol.into(),
            addr: record.peer_c,
        };
        if let Some(p) = self.peer_entry(id) {
            p.sessions.insert(record.teid);
            self.paths.session_peer.insert(record.teid, id);
        }
    }

    /// A session's user-plane peer (TS 29.281 section 7.2.1: a path is in use while a session
    /// uses it), from every sync of it: the address its F-TEID names (`peer_u`), once known,
    /// indexed as a GTP-U peer. Its echoes leave from the gateway address the control-plane peer
    /// talked to, port 2152, through the same line interface, which is where the processors
    /// send the session's G-PDUs from.
    pub(super) fn path_user_plane(&mut self, now: Instant, record: &SessionRecord) {
        let addr = record.peer_u;
        let id = (!addr.is_unspecified()).then_some(PeerId {
            protocol: PathProtocol::Gtpu,
            addr,
        });
        let old = self.paths.session_peer_u.get(&record.teid).copied();
        if old == id {
            return;
        }
        if let Some(old) = old {
            self.paths.session_peer_u.remove(&record.teid);
            if let Some(p) = self.paths.peers.get_mut(&old) {
                p.sessions.remove(&record.teid);
            }
        }
        let Some(id) = id else {
            return;
        };
        let control = PeerId {
            protocol: record.protocol.into(),
            addr: record.peer_c,
        };
        let route = self
            .paths
            .peers
            .get(&control)
            .and_then(|p| p.route)
            .map(|r| Route {
                line: r.line,
                gateway: SocketAddr::new(r.gateway.ip(), GTP_U_PORT),
                peer: SocketAddr::new(addr, GTP_U_PORT),
            });
        let interval = self.config.path.interval(PathProtocol::Gtpu);
        let Some(p) = self.peer_entry(id) else {
            return;
        };
        p.sessions.insert(record.teid);
        let first = p.route.is_none() && route.is_some();
        if first {
            p.route = route;
        }
        self.paths.session_peer_u.insert(record.teid, id);
        if first && !interval.is_zero() {
            self.timers.arm(Timer::Echo(id), now + interval);
        }
    }

    /// A session gone: no longer indexed; a peer left with nothing is forgotten when it has no
    /// echo timer (no route).
    pub(super) fn path_remove_session(&mut self, teid: u32) {
        if let Some(key) = self.paths.subscriber_of.remove(&teid) {
            if self.paths.subscribers.get(&key) == Some(&teid) {
                self.paths.subscribers.remove(&key);
            }
        }
        for id in [
            self.paths.session_peer.remove(&teid),
            self.paths.session_peer_u.remove(&teid),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(p) = self.paths.peers.get_mut(&id) {
                p.sessions.remove(&teid);
                if p.sessions.is_empty() && !p.associated && p.route.is_none() {
                    self.paths.peers.remove(&id);
                }
            }
        }
    }

    /// A Create PDP Context Request or Create Session Request (not a repeat) for a subscriber
    /// `key` whose context a processor holds is a new session replacing it (TS 29.060 section
    /// 7.3.1, TS 29.274 section 7.2.1): it
    /// is directed to the processor holding the context's primary VID, or its backup VID when
    /// the primary is down, with a backup chosen by load, whatever the loads (the replacement
    /// adds no session); that processor tears the old context down and creates the new one
    /// (see [`crate::steering::processor`]). "Up" here is Up in a table version every line
    /// interface has acknowledged (as for any placement, see the module documentation). Whether
    /// it was directed: not when no context is known for the subscriber or neither of its VIDs
    /// is up (then placed as any set-up).
    pub(super) fn direct_to_context(
        &mut self,
        now: Instant,
        seq: u32,
        route: Route,
        data: &[u8],
        key: Subscriber,
    ) -> bool {
        let Some(&teid) = self.paths.subscribers.get(&key) else {
            return false;
        };
        let layout = self.config.layout;
        let acked = self.acked_by_lines();
        let holder = [layout.primary(teid), layout.backup(teid)]
            .into_iter()
            .flatten()
            .filter(|&v| {
                self.info(v)
                    .is_some_and(|i| self.vid_state(i) == Some(VidState::Up))
            })
            .find_map(|v| {
                let (&id, slot) = self.slots.iter().find(|(_, s)| s.vid == Some(v))?;
                // As for any placement, the holder's VID must be Up in the tables every line
                // interface acknowledged: a primary back Up that some line interface still
                // holds Down has its packets steered to the backup, which holds the context too.
                vids::named_up(&self.up_since, slot, acked).then_some((id, slot.addr, v))
            });
        let Some((id, addr, vid)) = holder else {
            return false;
        };
        let backup = self
            .select(Some(id))
            .and_then(|b| self.slots.get(&b))
            .and_then(|s| s.vid);
        self.stats.setups_replacing += 1;
        self.direct_to(now, Some(seq), route, data, (addr, vid, backup));
        true
    }

    /// Records a PFCP association (or its release) of the peer `route` names, if tracked.
    pub(super) fn path_associated(&mut self, route: Route, associated: bool) {
        let id = PeerId {
            protocol: PathProtocol::Pfcp,
            addr: route.peer.ip(),
        };
        if let Some(p) = self.paths.peers.get_mut(&id) {
            p.associated = associated;
        }
    }

    /// The PFCP peers holding an association, in order.
    pub(super) fn path_associated_peers(&self) -> Vec<PeerId> {
        let mut v: Vec<PeerId> = self
            .paths
            .peers
            .iter()
            .filter(|(id, p)| id.protocol == PathProtocol::Pfcp && p.associated)
            .map(|(id, _)| *id)
            .collect();
        v.sort();
        v
    }

    /// The route to `peer`'s port for its protocol, if known.
    pub(super) fn path_route(&self, peer: PeerId) -> Option<Route> {
        let r = self.paths.peers.get(&peer)?.route?;
        let port = peer.protocol.port();
        Some(Route {
            line: r.line,
            gateway: SocketAddr::new(r.gateway.ip(), port),
            peer: SocketAddr::new(peer.addr, port),
        })
    }

    /// A fresh sequence number for a request to a `protocol` peer.
    pub(super) fn path_next_seq(&mut self, protocol: PathProtocol) -> u32 {
        let mask = (1u32 << protocol.sequence_bits()) - 1;
        let seq = self.paths.next_seq & mask;
        self.paths.next_seq = self.paths.next_seq.wrapping_add(1);
        seq
    }

    /// A message from a peer (a set-up, an Echo or Heartbeat Request, an Association Setup):
    /// its route is kept for echoes, and its restart value, if it carries one, compared.
    pub(super) fn path_seen(
        &mut self,
        now: Instant,
        protocol: PathProtocol,
        route: Route,
        recovery: Option<u32>,
    ) {
        let id = PeerId {
            protocol,
            addr: route.peer.ip(),
        };
        let interval = self.config.path.interval(protocol);
        let Some(p) = self.peer_entry(id) else {
            return;
        };
        let first = p.route.is_none();
        p.route = Some(route);
        if first && !interval.is_zero() {
            self.timers.arm(Timer::Echo(id), now + interval);
        }
        if let Some(r) = recovery {
            self.path_recovery(now, id, r);
        }
    }

    /// A message any host may send (an Echo or Heartbeat Request): taken as [`Self::path_seen`]
    /// takes it only from a peer already tracked, so such messages create no peers.
    pub(super) fn path_known(
        &mut self,
        now: Instant,
        protocol: PathProtocol,
        route: Route,
        recovery: Option<u32>,
    ) {
        let id = PeerId {
            protocol,
            addr: route.peer.ip(),
        };
        if self.paths.peers.contains_key(&id) {
            self.path_seen(now, protocol, route, recovery);
        }
    }

    /// A restart value a processor saw in a message steered to it (`PeerRecovery`, TS 23.007
    /// section 18): compared as if the switch processor had received the message, for a peer
    /// already tracked (the peer's sessions name it), and acknowledged either way so the
    /// processor stops repeating it.
    pub(super) fn handle_peer_recovery(
        &mut self,
        now: Instant,
        from: SocketAddr,
        protocol: SessionProtocol,
        addr: IpAddr,
        recovery: u32,
    ) -> Result<(), InputError> {
        if !self.by_addr.contains_key(&from) {
            return Err(InputError::Untrusted(FabricKind::PeerRecovery));
        }
        let id = PeerId {
            protocol: protocol.into(),
            addr,
        };
        if self.paths.peers.contains_key(&id) {
            self.stats.peer_recoveries += 1;
            self.path_recovery(now, id, recovery);
        }
        self.send(
            from,
            &FabricMessage::PeerRecoveryAck {
                protocol,
                peer: addr,
                recovery,
            },
        );
        Ok(())
    }

    /// Compares a restart value received from `id` with the one stored (TS 23.007 sections 18
    /// and 19A): newer is a restart, and the peer's sessions are purged.
    fn path_recovery(&mut self, now: Instant, id: PeerId, value: u32) {
        if id.protocol == PathProtocol::Gtpu {
            // TS 29.281 section 7.2.2: the GTP-U restart counter is ignored by the receiver.
            return;
        }
        let Some(p) = self.paths.peers.get_mut(&id) else {
            return;
        };
        match p.recovery {
            None => p.recovery = Some(value),
            Some(old) if is_newer(id.protocol, value, old) => {
                p.recovery = Some(value);
                let teids = std::mem::take(&mut p.sessions);
                self.stats.peer_restarts += 1;
                self.event(SwitchEvent::PeerRestarted {
                    peer: id,
                    recovery: value,
                    sessions: teids.len(),
                });
                self.start_purge(now, teids);
            }
            Some(old) if old != value => self.stats.stale_recovery += 1,
            Some(_) => {}
        }
    }

    /// Queues the purge of `teids` (in TEID order, so runs replay).
    fn start_purge(&mut self, now: Instant, teids: HashSet<u32>) {
        if teids.is_empty() {
            return;
        }
        let mut v: Vec<u32> = teids.into_iter().collect();
        v.sort_unstable();
        for t in &v {
            self.purged.insert(
                now,
                *t,
                self.config.max_sessions,
                self.config.withdraw_after,
            );
            // Out of both indexes, and out of the other peer's set (the session's user-plane
            // peer when its control-plane peer restarted, and the reverse).
            for id in [
                self.paths.session_peer.remove(t),
                self.paths.session_peer_u.remove(t),
            ]
            .into_iter()
            .flatten()
            {
                if let Some(p) = self.paths.peers.get_mut(&id) {
                    p.sessions.remove(t);
                }
            }
        }
        self.paths.jobs.push_back(PurgeJob { teids: v.into() });
        self.timers.arm(Timer::PurgeStep, now);
    }

    /// The fabric addresses of the processors holding a VID and up (or suspect).
    fn operational_processors(&self) -> BTreeSet<SocketAddr> {
        self.slots
            .iter()
            .filter(|(id, s)| s.vid.is_some() && self.is_operational(**id))
            .map(|(_, s)| s.addr)
            .collect()
    }

    /// One purge batch: the switch processor forgets its sessions, and every operational
    /// processor is asked to delete them.
    pub(super) fn purge_step(&mut self, now: Instant) {
        if self.paths.batches.len() >= MAX_PURGES_IN_FLIGHT {
            self.timers
                .insert(Timer::PurgeStep, now + self.config.retransmit);
            return;
        }
        let n = self.config.path.purge_batch.clamp(1, 4096);
        let Some(job) = self.paths.jobs.front_mut() else {
            return;
        };
        let take = n.min(job.teids.len());
        let teids: Vec<u32> = job.teids.drain(..take).collect();
        if job.teids.is_empty() {
            self.paths.jobs.pop_front();
        }
        let layout = self.config.layout;
        for &t in &teids {
            if self.sessions.remove(&t) {
                self.stats.sessions_purged += 1;
                self.add_ref(layout.primary(t), false);
                self.add_ref(layout.backup(t), false);
                // Out of the peer indexes again: a sync of the session that arrived after
                // `start_purge` took it out of them (it was still live) filed it anew.
                self.path_remove_session(t);
            }
        }
        let id = self.paths.next_batch;
        self.paths.next_batch = id.wrapping_add(1);
        let awaiting = self.operational_processors();
        let msg = FabricMessage::Purge {
            id,
            teids: teids.clone(),
        };
        for a in &awaiting {
            self.send(*a, &msg);
        }
        if !awaiting.is_empty() {
            self.paths.batches.insert(
                id,
                Batch {
                    teids,
                    awaiting,
                    tries: 1,
                },
            );
            self.timers
                .insert(Timer::PurgeRetry(id), now + self.config.retransmit);
        }
        if !self.paths.jobs.is_empty() {
            self.timers.arm(Timer::PurgeStep, now);
        }
        self.collect(now);
    }

    /// A purge batch not acknowledged by every processor: repeated to those still operational,
    /// up to [`PURGE_TRIES`] times.
    pub(super) fn purge_retry(&mut self, now: Instant, id: u32) {
        let operational = self.operational_processors();
        let Some(b) = self.paths.batches.get_mut(&id) else {
            return;
        };
        b.awaiting.retain(|a| operational.contains(a));
        if b.awaiting.is_empty() || b.tries >= PURGE_TRIES {
            if !b.awaiting.is_empty() {
                self.stats.purges_unacked += 1;
            }
            self.paths.batches.remove(&id);
            self.timers.arm(Timer::PurgeStep, now);
            return;
        }
        b.tries += 1;
        let to: Vec<SocketAddr> = b.awaiting.iter().copied().collect();
        let msg = FabricMessage::Purge {
            id,
            teids: b.teids.clone(),
        };
        for a in to {
            self.send(a, &msg);
        }
        self.timers
            .insert(Timer::PurgeRetry(id), now + self.config.retransmit);
    }

    /// A processor's acknowledgement of a purge batch.
    pub(super) fn handle_purge_ack(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: u32,
    ) -> Result<(), InputError> {
        if !self.by_addr.contains_key(&from) {
            return Err(InputError::Untrusted(FabricKind::PurgeAck));
        }
        if let Some(b) = self.paths.batches.get_mut(&id) {
            b.awaiting.remove(&from);
            if b.awaiting.is_empty() {
                self.paths.batches.remove(&id);
                self.timers.disarm(&Timer::PurgeRetry(id));
                if !self.paths.jobs.is_empty() {
                    self.timers.arm(Timer::PurgeStep, now);
                }
            }
        }
        Ok(())
    }

    /// A peer's echo timer: forget it if it has nothing left, else send (or repeat) an Echo
    /// Request, or, after N3 unanswered, declare its path failed.
    pub(super) fn echo_due(&mut self, now: Instant, id: PeerId) {
        let cfg = self.config.path;
        let Some(p) = self.paths.peers.get_mut(&id) else {
            return;
        };
        if p.sessions.is_empty() && !p.associated {
            self.paths.peers.remove(&id);
            return;
        }
        if p.probe.is_some_and(|(_, sent)| sent >= cfg.n3.max(1)) {
            p.probe = None;
            self.timers
                .insert(Timer::Echo(id), now + cfg.interval(id.protocol));
            if p.failed {
                return;
            }
            p.failed = true;
            let purge = cfg.on_failure == PathFailureAction::Purge;
            let sessions = p.sessions.len();
            let teids = if purge {
                std::mem::take(&mut p.sessions)
            } else {
                HashSet::new()
            };
            self.stats.path_failures += 1;
            self.event(SwitchEvent::PathFailure {
                peer: id,
                sessions,
                purged: purge,
            });
            self.start_purge(now, teids);
            return;
        }
        let seq = match p.probe {
            Some((seq, sent)) => {
                p.probe = Some((seq, sent + 1));
                seq
            }
            None => {
                let mask = (1u32 << id.protocol.sequence_bits()) - 1;
                let seq = self.paths.next_seq & mask;
                self.paths.next_seq = self.paths.next_seq.wrapping_add(1);
                if let Some(p) = self.paths.peers.get_mut(&id) {
                    p.probe = Some((seq, 1));
                }
                seq
            }
        };
        self.timers.arm(Timer::Echo(id), now + cfg.t3);
        self.send_echo(id, seq);
    }

    /// Sends an Echo (Heartbeat) Request to `id` along its route.
    fn send_echo(&mut self, id: PeerId, seq: u32) {
        let Some(route) = self.paths.peers.get(&id).and_then(|p| p.route) else {
            return;
        };
        let port = id.protocol.port();
        let route = Route {
            line: route.line,
            gateway: SocketAddr::new(route.gateway.ip(), port),
            peer: SocketAddr::new(id.addr, port),
        };
        let data = match id.protocol {
            // TS 29.060 section 7.2.1, TS 29.281 section 7.2.1: the Echo Request carries no
            // Recovery.
            PathProtocol::Gtpv1 | PathProtocol::Gtpu => gtp::Message::new(
                gtp::MessageType::ECHO_REQUEST,
                0,
                u16::try_from(seq & 0xffff).unwrap_or(0),
                vec![],
            )
            .to_vec()
            .ok(),
            PathProtocol::Gtpv2 => gtpv2::Message::echo_request(seq, self.config.recovery)
                .to_vec()
                .ok(),
            PathProtocol::Pfcp => pfcp::Message::heartbeat_request(seq, self.recovery_time_stamp())
                .to_vec()
                .ok(),
        };
        self.stats.path_echoes += 1;
        self.transmit_data(route, data);
    }

    /// An Echo (Heartbeat) Response from `route`'s peer: if it answers the request awaiting one
    /// (same sequence number), the path is alive (restored, if it had failed) and its restart
    /// value is compared; otherwise it is ignored.
    pub(super) fn path_response(
        &mut self,
        now: Instant,
        protocol: PathProtocol,
        route: Route,
        seq: u32,
        recovery: Option<u32>,
    ) {
        let id = PeerId {
            protocol,
            addr: route.peer.ip(),
        };
        let interval = self.config.path.interval(protocol);
        let Some(p) = self.paths.peers.get_mut(&id) else {
            self.stats.ignored += 1;
            return;
        };
        if p.probe.map(|(s, _)| s) != Some(seq) {
            self.stats.ignored += 1;
            return;
        }
        p.probe = None;
        let restored = std::mem::replace(&mut p.failed, false);
        self.timers.arm(Timer::Echo(id), now + interval);
        if restored {
            self.event(SwitchEvent::PathRestored { peer: id });
        }
        if let Some(r) = recovery {
            self.path_recovery(now, id, r);
        }
    }
}
