//! Path management over the steering gateway (issue 17 item 5; TS 23.007 sections 18 to 20, TS
//! 29.274 section 7.1, TS 29.244 sections 6.2.2 and 7.4.2), on the deterministic simulator with
//! loss, duplication and reordering: the switch processor sends Echo / Heartbeat Requests to the
//! peers it has sessions or associations with; a peer that restarted (a newer Recovery or
//! Recovery Time Stamp, in an answer to our echo or in a request it sends) has every session it
//! held purged on every processor, counted and reported once; a silent peer raises a path
//! failure (its sessions kept, or purged if so configured) and a path restored when it answers
//! again; echo answers with the same value keep every session. Seeds: 70..74, or the range
//! `STEERING_SWEEP=a..b` (plus `STEERING_SEED`).

mod common;

use common::steering::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::sim::{NodeId, Sim};
use telcp::steering::gtpv2::{self, IeValue};
use telcp::steering::path::{PathConfig, PathFailureAction, PathProtocol, PeerId};
use telcp::steering::pfcp::{self, Ie, MessageType};
use telcp::steering::switch::SwitchEvent;
use telcp::{Node, Transmit};

const PEER_NODE: NodeId = NodeId(0);

/// A peer model (`Smf`, `Mme`) that also answers the gateway's Echo (GTPv2-C) and Heartbeat
/// (PFCP) Requests with its restart value, and its GTP-U Echo Requests (its user plane, the
/// gNB / eNodeB, shares its address), and can fall silent on all or on GTP-U only.
struct Answering<T> {
    inner: T,
    /// The Recovery (GTPv2-C, low 8 bits) or Recovery Time Stamp (PFCP) it answers with.
    recovery: u32,
    /// Drops everything it receives and sends nothing.
    silent: bool,
    echoes_answered: u64,
    /// The Recovery its GTP-U Echo Responses carry (TS 29.281 section 7.2.2 says 0; a
    /// non-conforming peer's value must change nothing).
    gtpu_recovery: u8,
    /// Drops the GTP-U Echo Requests.
    silent_u: bool,
    /// The GTP-U Echo Requests received.
    gtpu_echoes: Vec<Vec<u8>>,
    /// When each of `gtpu_echoes` arrived.
    gtpu_echo_times: Vec<Instant>,
    out: Vec<Transmit>,
}

impl<T: Node> Answering<T> {
    fn new(inner: T, recovery: u32) -> Self {
        Answering {
            inner,
            recovery,
            silent: false,
            echoes_answered: 0,
            gtpu_recovery: 0,
            silent_u: false,
            gtpu_echoes: Vec::new(),
            gtpu_echo_times: Vec::new(),
            out: Vec::new(),
        }
    }

    /// The answer to an Echo or Heartbeat Request in `data` (to `port`), if it is one.
    fn answer(&mut self, port: u16, data: &[u8]) -> Option<Vec<u8>> {
        if port == 2152 {
            let m = telcp::steering::gtp::parse(data).ok()?;
            if m.message_type() != telcp::steering::gtp::MessageType::ECHO_REQUEST {
                return None;
            }
            self.gtpu_echoes.push(data.to_vec());
            if self.silent_u {
                return Some(Vec::new());
            }
            let r = telcp::steering::gtp::Message::new(
                telcp::steering::gtp::MessageType::ECHO_RESPONSE,
                0,
                m.header.sequence.unwrap_or(0),
                vec![telcp::steering::gtp::Ie::Recovery(self.gtpu_recovery)],
            );
            // The next answer carries another value: none of them may count.
            self.gtpu_recovery = self.gtpu_recovery.wrapping_add(77);
            return Some(r.to_vec().unwrap());
        }
        match data.first()? >> 4 {
            0x4 => {
                let m = gtpv2::parse(data).ok()?;
                (m.message_type() == gtpv2::MessageType::ECHO_REQUEST).then(|| {
                    gtpv2::Message::echo_response(m.header.sequence, self.recovery as u8)
                        .to_vec()
                        .unwrap()
                })
            }
            0x2 => {
                let m = pfcp::parse(data).ok()?;
                (m.message_type() == MessageType::HEARTBEAT_REQUEST).then(|| {
                    pfcp::Message::heartbeat_response(m.header.sequence, self.recovery)
                        .to_vec()
                        .unwrap()
                })
            }
            _ => None,
        }
    }
}

impl<T: Node> Node for Answering<T> {
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), telcp::Error> {
        if self.silent {
            return Ok(());
        }
        let echoes = self.gtpu_echoes.len();
        let answer = self.answer(to.port(), data);
        if self.gtpu_echoes.len() > echoes {
            self.gtpu_echo_times.push(now);
        }
        match answer {
            Some(r) if r.is_empty() => {}
            Some(r) => {
                self.echoes_answered += 1;
                self.out.push(Transmit {
                    dst: from,
                    src: Some(to),
                    link_dst: None,
                    payload: r.into(),
                });
            }
            None => return self.inner.handle_datagram(now, from, to, data),
        }
        Ok(())
    }
    fn handle_timeout(&mut self, now: Instant) {
        if !self.silent {
            self.inner.handle_timeout(now);
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.silent {
            while self.inner.poll_transmit().is_some() {}
            self.out.clear();
            return None;
        }
        if !self.out.is_empty() {
            return Some(self.out.remove(0));
        }
        self.inner.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
}

fn seeds() -> Vec<u64> {
    match std::env::var("STEERING_SWEEP").ok() {
        Some(r) => {
            let (a, b) = r.split_once("..").expect("STEERING_SWEEP=a..b");
            (a.parse().unwrap()..b.parse().unwrap()).collect()
        }
        None => (70..75).collect(),
    }
}

fn path_config(on_failure: PathFailureAction) -> PathConfig {
    PathConfig {
        echo_interval: Duration::from_secs(1),
        // Simulated time: below the 60 s of TS 29.281 section 7.2.1 on purpose.
        min_echo_interval: Duration::ZERO,
        t3: Duration::from_millis(300),
        n3: 3,
        max_peers: 16,
        on_failure,
        purge_batch: 3,
    }
}

fn smf_peer() -> PeerId {
    PeerId {
        protocol: PathProtocol::Pfcp,
        addr: IpAddr::V4(Ipv4Addr::from(SMF_IP)),
    }
}

fn mme_peer() -> PeerId {
    PeerId {
        protocol: PathProtocol::Gtpv2,
        addr: IpAddr::V4(Ipv4Addr::from(MME_IP)),
    }
}

/// A gateway with an MME (GTPv2-C, Recovery 1) in front and `n` sessions created; with the
/// gateway's control TEIDs of those sessions.
fn mme_world(seed: u64, path: PathConfig, n: usize) -> (Gateway, Vec<u32>) {
    let mut mme = Mme::new(MME_IP.into(), sa(GW_IP, 2123));
    mme.n3 = 24;
    let peer = Box::new(Answering::new(mme, 1));
    let mut gw = Gateway::with_peer_path(seed, 0.05, 1, ("mme", MME_IP), peer, path);
    for i in 0..n {
        let now = gw.sim.now();
        let imsi = format!("00101{:010}", i);
        gw.sim
            .node_mut::<Sgw>(PEER_NODE)
            .inner
            .create(now, &imsi, 5);
        gw.sim.run_for(Duration::from_millis(10));
    }
    run_until(&mut gw, "create session", |s| {
        s.node::<Sgw>(PEER_NODE).inner.created() == n
    });
    gw.sim.run_for(Duration::from_millis(500));
    let old: Vec<u32> = gw
        .sim
        .node::<Sgw>(PEER_NODE)
        .inner
        .sessions
        .iter()
        .map(|s| s.gw_teid_c)
        .collect();
    (gw, old)
}

type Cp = Answering<Smf>;

/// A gateway with an SMF in front, associated, with `n` sessions established.
fn smf_world(seed: u64, loss: f64, n: usize, on_failure: PathFailureAction) -> Gateway {
    smf_world_with(seed, loss, n, path_config(on_failure))
}

/// [`smf_world`] with the switch's path management configured by `path`.
fn smf_world_with(seed: u64, loss: f64, n: usize, path: PathConfig) -> Gateway {
    let mut smf = Smf::new(SMF_IP.into(), sa(GW_IP, 8805));
    smf.n1 = 24;
    let cp = Answering::new(smf, SMF_RECOVERY);
    let mut gw = Gateway::with_peer_path(seed, loss, 1, ("smf", SMF_IP), Box::new(cp), path);
    let now = gw.sim.now();
    gw.sim.node_mut::<Cp>(PEER_NODE).inner.associate(now);
    run_until(&mut gw, "association", |s| {
        s.node::<Cp>(PEER_NODE).inner.association.is_some()
    });
    for _ in 0..n {
        let now = gw.sim.now();
        gw.sim.node_mut::<Cp>(PEER_NODE).inner.establish(now);
        gw.sim.run_for(Duration::from_millis(10));
    }
    run_until(&mut gw, "establishment", |s| {
        s.node::<Cp>(PEER_NODE).inner.established() == n
    });
    gw.sim.run_for(Duration::from_millis(500));
    gw
}

fn run_until(gw: &mut Gateway, what: &str, done: impl Fn(&mut Sim) -> bool) {
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(50), Duration::from_secs(30), done);
    assert!(ok, "{what} did not happen");
}

/// The switch processor's events so far.
fn switch_events(gw: &mut Gateway) -> Vec<SwitchEvent> {
    let sp = gw.sp;
    gw.sim
        .events(sp)
        .into_iter()
        .filter_map(|e| match e {
            telcp::Event::Switch(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Sessions (own and replicated copies) the processors hold among `teids`.
fn held(gw: &Gateway, teids: &[u32]) -> usize {
    PROCS
        .iter()
        .map(|id| {
            teids
                .iter()
                .filter(|t| gw.proc(*id).has_session(**t))
                .count()
        })
        .sum()
}

fn smf_teids(gw: &Gateway) -> Vec<u32> {
    gw.sim
        .node::<Cp>(PEER_NODE)
        .inner
        .sessions
        .iter()
        .map(|s| s.up_teid)
        .collect()
}

/// ts23007-18-restart-purge, ts23007-19a-recovery-time-stamp: an SMF that restarted (a newer
/// Recovery Time Stamp, seen in its answer to the gateway's Heartbeat Request on even seeds, in its
/// new Association Setup Request on odd ones) has every session purged on every processor, in
/// batches, reported once with the count; its sessions set up afterwards stay.
#[test]
fn restarted_smf_has_its_sessions_purged_on_every_processor() {
    for seed in seeds() {
        let n = 10;
        let mut gw = smf_world(seed, 0.05, n, PathFailureAction::Keep);
        let old = smf_teids(&gw);
        assert_eq!(gw.sp().peer_sessions(smf_peer()), Some(n), "seed {seed}");
        assert_eq!(gw.sp().peer_recovery(smf_peer()), Some(SMF_RECOVERY));
        let own: usize = PROCS.iter().map(|id| gw.proc(*id).session_count()).sum();
        assert_eq!(own, n, "seed {seed}: one primary per session");
        assert!(held(&gw, &old) > n, "seed {seed}: backups hold copies");
        let _ = switch_events(&mut gw);

        let restarted = SMF_RECOVERY + 60;
        let now = gw.sim.now();
        let cp = gw.sim.node_mut::<Cp>(PEER_NODE);
        cp.recovery = restarted;
        cp.inner.sessions.clear();
        if seed % 2 == 1 {
            let ies = vec![
                Ie::NodeId(pfcp::NodeId::Ipv4(SMF_IP.into())),
                Ie::RecoveryTimeStamp(restarted),
            ];
            let m = pfcp::Message::new(MessageType::ASSOCIATION_SETUP_REQUEST, 0, 0, ies);
            cp.inner.request(now, m, usize::MAX);
        }
        run_until(&mut gw, "the purge", |s| {
            let sp = s.node::<telcp::steering::SwitchProcessor>(NodeId(2));
            sp.peer_recovery(smf_peer()) == Some(restarted) && sp.session_count() == 0
        });
        gw.sim.run_for(Duration::from_secs(2));
        assert_eq!(held(&gw, &old), 0, "seed {seed}: an old session survived");
        let events = switch_events(&mut gw);
        let restarts: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                SwitchEvent::PeerRestarted {
                    peer,
                    recovery,
                    sessions,
                } => Some((*peer, *recovery, *sessions)),
                _ => None,
            })
            .collect();
        assert_eq!(restarts, vec![(smf_peer(), restarted, n)], "seed {seed}");
        let st = gw.sp().stats();
        assert_eq!(st.peer_restarts, 1);
        assert_eq!(st.sessions_purged, n as u64, "seed {seed}");
        let purged: u64 = PROCS
            .iter()
            .map(|id| gw.proc(*id).stats().sessions_purged)
            .sum();
        assert!(purged >= n as u64, "seed {seed}: {purged}");

        // The restarted SMF's new sessions are kept, echoes going on.
        for _ in 0..4 {
            let now = gw.sim.now();
            gw.sim.node_mut::<Cp>(PEER_NODE).inner.establish(now);
        }
        run_until(&mut gw, "new establishment", |s| {
            s.node::<Cp>(PEER_NODE).inner.established() == 4
        });
        gw.sim.run_for(Duration::from_secs(5));
        let new = smf_teids(&gw);
        let own = new
            .iter()
            .filter(|t| {
                PROCS
                    .iter()
                    .any(|id| gw.proc(*id).session_teids().any(|x| x == **t))
            })
            .count();
        assert_eq!(own, 4, "seed {seed}: new sessions kept");
        assert_eq!(gw.sp().stats().peer_restarts, 1, "seed {seed}");
    }
}

/// ts23007-20-path-failure: an SMF that stops answering gets N3 Heartbeat Requests, T3
/// apart, then a path failure with its session count; its sessions are kept (the default);
/// when it answers again, the path is restored, still with every session.
#[test]
fn silent_peer_raises_path_failure_and_keeps_sessions() {
    for seed in seeds() {
        let n = 6;
        let mut gw = smf_world(seed, 0.02, n, PathFailureAction::Keep);
        let old = smf_teids(&gw);
        let before = held(&gw, &old);
        let _ = switch_events(&mut gw);
        gw.sim.node_mut::<Cp>(PEER_NODE).silent = true;
        gw.sim.run_for(Duration::from_secs(4));
        let events = switch_events(&mut gw);
        // Both of its paths fail: PFCP and GTP-U (the gNB shares its address).
        let mut failures: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                SwitchEvent::PathFailure {
                    peer,
                    sessions,
                    purged,
                } => Some((*peer, *sessions, *purged)),
                _ => None,
            })
            .collect();
        failures.sort();
        assert_eq!(
            failures,
            vec![(smf_peer(), n, false), (smf_peer_u(), n, false)],
            "seed {seed}"
        );
        assert!(gw.sp().path_failed(smf_peer()));
        assert!(gw.sp().path_failed(smf_peer_u()));
        assert_eq!(held(&gw, &old), before, "seed {seed}: sessions kept");
        assert_eq!(gw.sp().session_count(), n);

        gw.sim.node_mut::<Cp>(PEER_NODE).silent = false;
        run_until(&mut gw, "path restored", |s| {
            !s.node::<telcp::steering::SwitchProcessor>(NodeId(2))
                .path_failed(smf_peer())
        });
        let events = switch_events(&mut gw);
        assert!(
            events.contains(&SwitchEvent::PathRestored { peer: smf_peer() }),
            "seed {seed}"
        );
        assert_eq!(held(&gw, &old), before, "seed {seed}: sessions kept");
        assert_eq!(gw.sp().stats().path_failures, 2);
        assert_eq!(gw.sp().stats().peer_restarts, 0);
    }
}

/// Path failure (TS 23.007 section 20) with [`PathFailureAction::Purge`]: the silent peer's
/// sessions are purged on every processor. The silent SMF is also the GTP-U peer its sessions
/// name, and both paths fail: whichever is found failed first (its echo round ends first)
/// purges the sessions, reported with the count, and the other reports none left (seeds 10, 198
/// and 26 more of 1,500 had the GTP-U path first). Each path fails once, purging, and the two
/// reports add up to the `n` sessions.
#[test]
fn silent_peer_sessions_purged_when_configured() {
    for seed in seeds() {
        let n = 5;
        let mut gw = smf_world(seed, 0.02, n, PathFailureAction::Purge);
        let old = smf_teids(&gw);
        gw.sim.node_mut::<Cp>(PEER_NODE).silent = true;
        gw.sim.run_for(Duration::from_secs(5));
        let events = switch_events(&mut gw);
        let failed = |peer: PeerId| -> Vec<usize> {
            events
                .iter()
                .filter_map(|e| match e {
                    SwitchEvent::PathFailure {
                        peer: p,
                        sessions,
                        purged: true,
                    } if *p == peer => Some(*sessions),
                    _ => None,
                })
                .collect()
        };
        let (pfcp, gtpu) = (failed(smf_peer()), failed(smf_peer_u()));
        assert_eq!(pfcp.len(), 1, "seed {seed}: {events:?}");
        assert!(gtpu.len() <= 1, "seed {seed}: {events:?}");
        assert_eq!(
            pfcp.iter().chain(&gtpu).sum::<usize>(),
            n,
            "seed {seed}: {events:?}"
        );
        assert_eq!(held(&gw, &old), 0, "seed {seed}");
        assert_eq!(gw.sp().stats().sessions_purged, n as u64);
    }
}

/// ts23007-20-echo, ts23007-18-late-counter, pfcp-7.4.2.1-heartbeat-request: over twenty echo
/// intervals an SMF answering with the same Recovery Time Stamp keeps every session: no restart,
/// no purge; a late message of an older incarnation (an older time stamp) is ignored. No path
/// failure either, but where the network lost a whole round of N3 requests or their answers
/// (seeds 671, 723, 820, 944, 1190, 1489, 1896 of 1,900: each hop loses 1 %): TS 23.007
/// section 20 then declares the path failed, at most once per such round
/// ([`rounds_sent_n3_times`]), and the sessions go as configured.
#[test]
fn echo_answers_keep_state() {
    for seed in seeds() {
        let n = 4;
        let mut gw = smf_world(seed, 0.01, n, PathFailureAction::Purge);
        let old = smf_teids(&gw);
        let before = held(&gw, &old);
        gw.sim.run_for(Duration::from_secs(20));
        let st = gw.sp().stats();
        assert!(st.path_echoes >= 15, "seed {seed}: {}", st.path_echoes);
        assert!(gw.sim.node::<Cp>(PEER_NODE).echoes_answered >= 15);
        let unanswered = rounds_sent_n3_times(&gw, sa(SMF_IP, 8805), 3, Duration::ZERO)
            + rounds_sent_n3_times(&gw, sa(SMF_IP, 2152), 3, Duration::ZERO);
        assert!(
            st.path_failures <= unanswered as u64,
            "seed {seed}: {} failures, {unanswered} rounds unanswered N3 times",
            st.path_failures
        );
        assert_eq!(st.peer_restarts, 0);
        let failed = st.path_failures > 0;
        if !failed {
            assert_eq!(held(&gw, &old), before);
        }

        let now = gw.sim.now();
        let late = pfcp::Message::heartbeat_request(0, SMF_RECOVERY - 100);
        gw.sim
            .node_mut::<Cp>(PEER_NODE)
            .inner
            .request(now, late, usize::MAX);
        gw.sim.run_for(Duration::from_secs(2));
        let st = gw.sp().stats();
        assert_eq!(st.peer_restarts, 0, "seed {seed}");
        assert!(st.stale_recovery >= 1, "seed {seed}");
        assert_eq!(gw.sp().peer_recovery(smf_peer()), Some(SMF_RECOVERY));
        if !failed {
            assert_eq!(held(&gw, &old), before);
        }
    }
}

type Sgw = Answering<Mme>;

/// ts23007-18-restart-counter (and ts23007-18-restart-purge on S11): an MME (GTPv2-C) whose Create
/// Session Request carries a newer Recovery restarted: its earlier sessions are purged everywhere,
/// the new one is set up.
#[test]
fn restarted_mme_detected_from_create_session_recovery() {
    for seed in seeds() {
        let n = 6;
        let (mut gw, old) = mme_world(seed, path_config(PathFailureAction::Keep), n);
        assert_eq!(gw.sp().peer_sessions(mme_peer()), Some(n), "seed {seed}");
        assert_eq!(gw.sp().peer_recovery(mme_peer()), Some(1));

        // The MME restarts: Recovery 2, a new Create Session Request.
        let now = gw.sim.now();
        let sgw = gw.sim.node_mut::<Sgw>(PEER_NODE);
        sgw.recovery = 2;
        let mut ies = sgw
            .inner
            .create_ies("001019999999999", 5, 0x6666_0001, 0x7777_0001);
        for ie in &mut ies {
            if let IeValue::Recovery(r) = &mut ie.value {
                *r = 2;
            }
        }
        let idx = sgw.inner.sessions.len();
        sgw.inner.sessions.push(MmeSession::default());
        let m = gtpv2::Message::new(gtpv2::MessageType::CREATE_SESSION_REQUEST, Some(0), 0, ies);
        sgw.inner.request(now, m, idx);
        run_until(&mut gw, "the purge and the new session", |s| {
            let sgw = s.node::<Sgw>(PEER_NODE);
            sgw.inner.sessions[idx].created.is_some()
                && s.node::<telcp::steering::SwitchProcessor>(NodeId(2))
                    .stats()
                    .sessions_purged
                    == n as u64
        });
        gw.sim.run_for(Duration::from_secs(2));
        assert_eq!(held(&gw, &old), 0, "seed {seed}");
        let new = gw.sim.node::<Sgw>(PEER_NODE).inner.sessions[idx].gw_teid_c;
        assert!(
            PROCS
                .iter()
                .any(|id| gw.proc(*id).session_teids().any(|t| t == new)),
            "seed {seed}: the new session is kept"
        );
        assert_eq!(gw.sp().peer_sessions(mme_peer()), Some(1));
        let events = switch_events(&mut gw);
        assert!(events.contains(&SwitchEvent::PeerRestarted {
            peer: mme_peer(),
            recovery: 2,
            sessions: n
        }));
    }
}

fn smf_peer_u() -> PeerId {
    PeerId {
        protocol: PathProtocol::Gtpu,
        addr: IpAddr::V4(Ipv4Addr::from(SMF_IP)),
    }
}

/// gtpu-7.2.1-echo-path-in-use. TS 29.281 sections 7.2.1 and 7.2.2, TS 23.007 section 20: the
/// gateway sends GTP-U Echo
/// Requests (no Recovery IE: the Echo Request carries only an optional Private Extension) to the
/// user-plane peer its sessions' F-TEIDs name (here the gNB address in the SMF's Outer Header
/// Creation), every echo interval, repeated T3 apart up to N3 in all; a Recovery in the answers,
/// whatever its value, is ignored (no restart, no purge); a peer silent on GTP-U raises one path
/// failure for that path only (the PFCP path stays up), its sessions kept; its next answer
/// restores the path. Each hop losing 5 %, a whole round of N3 requests or their answers is
/// lost in about one seed in fifteen (seeds 6, 22, 26 and 56 more of 800): TS 23.007 section 20
/// then declares that path failed though the peer answers, at most once per such round
/// ([`rounds_sent_n3_times`]), and restores it at the next answer, before the silence begins.
#[test]
fn gtpu_path_echoes_report_failure_and_ignore_recovery() {
    for seed in seeds() {
        let n = 5;
        let mut gw = smf_world(seed, 0.05, n, PathFailureAction::Keep);
        let old = smf_teids(&gw);
        let before = held(&gw, &old);
        assert_eq!(gw.sp().peer_sessions(smf_peer_u()), Some(n), "seed {seed}");
        let _ = switch_events(&mut gw);
        gw.sim.run_for(Duration::from_secs(6));
        let cp = gw.sim.node::<Cp>(PEER_NODE);
        assert!(
            cp.gtpu_echoes.len() >= 4,
            "seed {seed}: {}",
            cp.gtpu_echoes.len()
        );
        for e in &cp.gtpu_echoes {
            let m = telcp::steering::gtp::parse(e).unwrap();
            assert_eq!(m.header.teid, 0, "TS 29.281 section 5.1: Echo TEID 0");
            assert!(m.header.sequence.is_some(), "S flag set");
            assert_eq!(m.recovery(), None, "TS 29.281 7.2.1: no Recovery IE");
        }
        let st = gw.sp().stats();
        assert_eq!(st.peer_restarts, 0, "seed {seed}: a GTP-U Recovery counted");
        let (u0, p0) = (
            rounds_sent_n3_times(&gw, sa(SMF_IP, 2152), 3, Duration::ZERO),
            rounds_sent_n3_times(&gw, sa(SMF_IP, 8805), 3, Duration::ZERO),
        );
        assert!(
            st.path_failures <= (u0 + p0) as u64,
            "seed {seed}: {} failures, {u0} + {p0} rounds unanswered N3 times",
            st.path_failures
        );
        assert_eq!(gw.sp().peer_recovery(smf_peer_u()), None);
        assert_eq!(held(&gw, &old), before);
        run_until(&mut gw, "both paths up", |s| {
            let sp = s.node::<telcp::steering::SwitchProcessor>(NodeId(2));
            !sp.path_failed(smf_peer_u()) && !sp.path_failed(smf_peer())
        });
        let _ = switch_events(&mut gw);
        let base = gw.sp().stats().path_failures;
        // A round whose last request went out less than T3 ago may still fail the path.
        let since = gw.sim.elapsed().saturating_sub(Duration::from_millis(400));

        gw.sim.node_mut::<Cp>(PEER_NODE).silent_u = true;
        gw.sim.run_for(Duration::from_secs(4));
        let failures: Vec<_> = switch_events(&mut gw)
            .into_iter()
            .filter(|e| matches!(e, SwitchEvent::PathFailure { .. }))
            .collect();
        let on = |peer: PeerId| -> Vec<&SwitchEvent> {
            failures
                .iter()
                .filter(|e| matches!(e, SwitchEvent::PathFailure { peer: p, .. } if *p == peer))
                .collect()
        };
        assert_eq!(
            on(smf_peer_u()),
            vec![&SwitchEvent::PathFailure {
                peer: smf_peer_u(),
                sessions: n,
                purged: false
            }],
            "seed {seed}"
        );
        // The PFCP path stays up but where a round of N3 heartbeats went unanswered meanwhile.
        let pfcp_failed = on(smf_peer()).len();
        assert!(
            pfcp_failed <= rounds_sent_n3_times(&gw, sa(SMF_IP, 8805), 3, since),
            "seed {seed}: {failures:?}"
        );
        assert!(gw.sp().path_failed(smf_peer_u()));
        if pfcp_failed == 0 {
            assert!(!gw.sp().path_failed(smf_peer()), "the PFCP path is up");
        }
        assert_eq!(gw.sp().stats().path_failures, base + 1 + pfcp_failed as u64);
        assert_eq!(held(&gw, &old), before, "seed {seed}: sessions kept");

        gw.sim.node_mut::<Cp>(PEER_NODE).silent_u = false;
        run_until(&mut gw, "GTP-U path restored", |s| {
            !s.node::<telcp::steering::SwitchProcessor>(NodeId(2))
                .path_failed(smf_peer_u())
        });
        assert!(
            switch_events(&mut gw).contains(&SwitchEvent::PathRestored { peer: smf_peer_u() }),
            "seed {seed}"
        );
        assert_eq!(gw.sp().stats().peer_restarts, 0);
        assert_eq!(held(&gw, &old), before);

        // The sessions deleted: the GTP-U peer has none left and is forgotten at its next echo.
        for i in 0..n {
            let now = gw.sim.now();
            gw.sim.node_mut::<Cp>(PEER_NODE).inner.delete(now, i);
        }
        run_until(&mut gw, "deletion", |s| {
            s.node::<Cp>(PEER_NODE)
                .inner
                .sessions
                .iter()
                .all(|x| x.deleted.is_some())
        });
        gw.sim.run_for(Duration::from_secs(3));
        assert_eq!(gw.sp().peer_sessions(smf_peer_u()), None, "seed {seed}");
    }
}

/// After a restart (Recovery 2) of `peer` seen in a steered message: every one of its `n`
/// sessions (`old`, the gateway's control TEIDs) purged on every processor, reported once with
/// the count, the Recovery forwarded by a processor.
fn assert_restart_purged(gw: &mut Gateway, old: &[u32], peer: PeerId, n: usize, seed: u64) {
    run_until(gw, "the purge", |s| {
        s.node::<telcp::steering::SwitchProcessor>(NodeId(2))
            .stats()
            .sessions_purged
            == n as u64
    });
    gw.sim.run_for(Duration::from_secs(2));
    assert_eq!(held(gw, old), 0, "seed {seed}: an old session survived");
    assert_eq!(gw.sp().peer_recovery(peer), Some(2));
    assert_eq!(gw.sp().session_count(), 0);
    let restarts: Vec<_> = switch_events(gw)
        .into_iter()
        .filter(|e| matches!(e, SwitchEvent::PeerRestarted { .. }))
        .collect();
    assert_eq!(
        restarts,
        vec![SwitchEvent::PeerRestarted {
            peer,
            recovery: 2,
            sessions: n
        }],
        "seed {seed}"
    );
    assert_eq!(gw.sp().stats().peer_restarts, 1, "seed {seed}");
    assert!(gw.sp().stats().peer_recoveries >= 1, "seed {seed}");
    let forwarded: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().recoveries_forwarded)
        .sum();
    assert!(forwarded >= 1, "seed {seed}");
}

fn sgsn_peer() -> PeerId {
    PeerId {
        protocol: PathProtocol::Gtpv1,
        addr: IpAddr::V4(Ipv4Addr::from(SGSN_IP)),
    }
}

/// ts23007-18-restart-in-steered-message, GTPv1. TS 23.007 section 18, TS 29.060 section 7.3.3
/// (an Update PDP Context Request may carry Recovery; TS 29.060 section 7.7.11: a restart
/// counter other than the one held means the peer restarted): an SGSN restarts and its first
/// message after the restart is an Update PDP Context Request, steered by its TEID straight to
/// a processor; the newer Recovery reaches the switch processor (`PeerRecovery`) and every
/// session the gateway held with the SGSN is purged on every processor, reported once with the
/// count; the request itself never passes the switch processor.
#[test]
fn restart_seen_in_a_steered_update_pdp_context_purges_the_sgsn() {
    for seed in seeds() {
        let mut gw = Gateway::new(seed, 0.05, 1);
        gw.sgsn().n3 = 24;
        let n = 6;
        gw.create_sessions(n);
        gw.settle();
        let sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
        assert!(sessions.iter().all(|s| s.created.is_some()), "seed {seed}");
        let old: Vec<u32> = sessions.iter().map(|s| s.gw_teid_c).collect();
        assert_eq!(gw.sp().peer_recovery(sgsn_peer()), Some(1), "seed {seed}");
        assert!(held(&gw, &old) >= n, "seed {seed}");
        let _ = switch_events(&mut gw);
        let inputs = gw.switch_inputs().len();

        // Restarted (Recovery 2): its first message is an Update for session 3.
        let now = gw.sim.now();
        gw.sgsn()
            .update_with(now, 3, vec![telcp::steering::gtp::Ie::Recovery(2)]);
        assert_restart_purged(&mut gw, &old, sgsn_peer(), n, seed);
        for d in &gw.switch_inputs()[inputs..] {
            let t = telcp::steering::gtp::parse(d).map(|m| m.message_type());
            assert_ne!(
                t,
                Ok(telcp::steering::gtp::MessageType::UPDATE_PDP_CONTEXT_REQUEST),
                "seed {seed}"
            );
        }
    }
}

/// gtpu-7.2.1-echo-interval. TS 29.281 section 7.2.1 (as TS 29.060 section 7.2.1): an Echo
/// Request shall not be sent more often than every 60 s on a path. Configured to echo every
/// second with the default `min_echo_interval`, the gateway's new GTP-U Echo Requests (new
/// sequence numbers; a repeat after T3 keeps its number) reach the user-plane peer at least
/// 60 s apart (at least three in 250 s), while PFCP heartbeats (TS 29.244 section 6.2.2, no such floor) go every second.
#[test]
fn gtpu_echo_requests_are_at_least_60_s_apart_on_a_path() {
    for seed in seeds() {
        let path = PathConfig {
            echo_interval: Duration::from_secs(1),
            min_echo_interval: telcp::steering::path::MIN_ECHO_INTERVAL,
            ..path_config(PathFailureAction::Keep)
        };
        let mut gw = smf_world_with(seed, 0.05, 3, path);
        let cp = gw.sim.node::<Cp>(PEER_NODE);
        let answered = cp.echoes_answered - cp.gtpu_echoes.len() as u64;
        // Four requests are due in 250 s; three lost copies in a row (5 % loss) can drop one.
        gw.sim.run_for(Duration::from_secs(250));
        let cp = gw.sim.node::<Cp>(PEER_NODE);
        let mut firsts: Vec<(u16, Instant)> = Vec::new();
        for (e, at) in cp.gtpu_echoes.iter().zip(&cp.gtpu_echo_times) {
            let seq = telcp::steering::gtp::parse(e)
                .unwrap()
                .header
                .sequence
                .unwrap();
            if firsts.last().map(|(s, _)| *s) != Some(seq) {
                firsts.push((seq, *at));
            }
        }
        assert!(
            firsts.len() >= 3,
            "seed {seed}: {} GTP-U Echo Requests in 250 s: {:?}",
            firsts.len(),
            cp.gtpu_echo_times
        );
        for w in firsts.windows(2) {
            let gap = w[1].1 - w[0].1;
            // Each request's first copy may be lost and a repeat (T3 later) be the first seen.
            let slack = path.t3 * (path.n3 - 1);
            assert!(
                gap + slack >= Duration::from_secs(60),
                "seed {seed}: GTP-U Echo Requests {gap:?} apart"
            );
        }
        let pfcp = cp.echoes_answered - answered - cp.gtpu_echoes.len() as u64;
        assert!(pfcp >= 200, "seed {seed}: {pfcp} PFCP heartbeats in 250 s");
        assert_eq!(path.interval(PathProtocol::Gtpu), Duration::from_secs(60));
        assert_eq!(path.interval(PathProtocol::Pfcp), Duration::from_secs(1));
    }
}

/// ts23007-18-restart-in-steered-message. TS 23.007 section 18, TS 29.274 section 7.2.7
/// (Recovery in a Modify Bearer Request when the
/// MME contacts the SGW for the first time): an MME restarts and its first message after the
/// restart is a Modify Bearer Request, steered by its TEID straight to a processor, which never
/// passes the switch processor's path table; its newer Recovery reaches the peer table through
/// the processor (`PeerRecovery`), and every session the gateway held with the MME is purged on
/// every processor, reported once with the count.
#[test]
fn restart_seen_in_a_steered_message_purges_the_peer() {
    for seed in seeds() {
        let path = PathConfig {
            // No echo reaches the MME meanwhile: only the steered message can tell.
            echo_interval: Duration::from_secs(3600),
            ..path_config(PathFailureAction::Keep)
        };
        let n = 6;
        let (mut gw, old) = mme_world(seed, path, n);
        assert_eq!(gw.sp().peer_recovery(mme_peer()), Some(1));
        let _ = switch_events(&mut gw);
        let inputs = gw.switch_inputs().len();

        // Restarted (Recovery 2): a Modify Bearer Request for session 3 with Recovery 2.
        let now = gw.sim.now();
        let sgw = gw.sim.node_mut::<Sgw>(PEER_NODE);
        sgw.recovery = 2;
        let s = sgw.inner.sessions[3].clone();
        let ies = vec![
            gtpv2::Ie::new(IeValue::Grouped {
                ie_type: gtpv2::IeType::BEARER_CONTEXT,
                ies: vec![gtpv2::Ie::new(IeValue::Ebi(s.ebi))],
            }),
            gtpv2::Ie::new(IeValue::Recovery(2)),
        ];
        let m = gtpv2::Message::new(
            gtpv2::MessageType::MODIFY_BEARER_REQUEST,
            Some(s.gw_teid_c),
            0,
            ies,
        );
        sgw.inner.request(now, m, 3);
        assert_restart_purged(&mut gw, &old, mme_peer(), n, seed);
        // The Modify Bearer Request itself never reached the switch processor.
        for d in &gw.switch_inputs()[inputs..] {
            let t = gtpv2::parse(d).map(|m| m.message_type());
            assert_ne!(
                t,
                Ok(gtpv2::MessageType::MODIFY_BEARER_REQUEST),
                "seed {seed}"
            );
        }
    }
}

/// The switch processor alone, fed what a line interface passes on (`Packet`s from 192.0.2.x).
fn bare_switch(max_peers: usize) -> (telcp::steering::SwitchProcessor, Instant) {
    let now = Instant::now();
    let mut c = switch_config(&[li_fabric(1)]);
    c.path = PathConfig {
        max_peers,
        ..path_config(PathFailureAction::Keep)
    };
    (telcp::steering::SwitchProcessor::new(c, now).unwrap(), now)
}

fn feed(
    sp: &mut telcp::steering::SwitchProcessor,
    now: Instant,
    host: u8,
    port: u16,
    data: Vec<u8>,
) {
    use telcp::steering::fabric::FabricMessage;
    let pkt = FabricMessage::Packet {
        from: sa([192, 0, 2, host], port),
        to: sa(GW_IP, port),
        data: data.into(),
    };
    let _ = sp.handle_datagram(now, li_fabric(1), sp_fabric(), &pkt.to_vec());
    while sp.poll_transmit().is_some() {}
}

fn association_setup(host: u8, rts: u32) -> Vec<u8> {
    let ies = vec![
        Ie::NodeId(pfcp::NodeId::Ipv4(Ipv4Addr::new(192, 0, 2, host))),
        Ie::RecoveryTimeStamp(rts),
    ];
    pfcp::Message::new(MessageType::ASSOCIATION_SETUP_REQUEST, 0, 1, ies)
        .to_vec()
        .unwrap()
}

/// Echo and Heartbeat Requests from hosts the gateway has nothing with create no peer (anyone
/// may send them); an answer that matches no request of ours is ignored, restart value and
/// all (an off-path sender must guess the sequence number); the peer table holds `max_peers`,
/// the peers beyond are counted.
#[test]
fn untracked_hosts_and_unmatched_answers_change_nothing() {
    let (mut sp, now) = bare_switch(2);
    feed(
        &mut sp,
        now,
        99,
        8805,
        pfcp::Message::heartbeat_request(1, 5).to_vec().unwrap(),
    );
    feed(
        &mut sp,
        now,
        98,
        2123,
        gtpv2::Message::echo_request(1, 5).to_vec().unwrap(),
    );
    let ignored = sp.stats().ignored;
    feed(
        &mut sp,
        now,
        97,
        8805,
        pfcp::Message::heartbeat_response(0, 5).to_vec().unwrap(),
    );
    assert!(sp.peers().is_empty(), "{:?}", sp.peers());
    assert_eq!(sp.stats().ignored, ignored + 1);

    for host in 1..=3 {
        feed(&mut sp, now, host, 8805, association_setup(host, 1000));
    }
    assert_eq!(sp.peers().len(), 2);
    assert_eq!(sp.stats().peers_full, 1);
    let peer = PeerId {
        protocol: PathProtocol::Pfcp,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    };
    assert_eq!(sp.peer_recovery(peer), Some(1000));
    // No Heartbeat Request of ours is outstanding: a "response" with a newer time stamp is
    // ignored.
    feed(
        &mut sp,
        now,
        1,
        8805,
        pfcp::Message::heartbeat_response(0, 2000).to_vec().unwrap(),
    );
    assert_eq!(sp.peer_recovery(peer), Some(1000));
    assert_eq!(sp.stats().peer_restarts, 0);
    // A Heartbeat Request of the associated peer carrying a newer one is a restart.
    feed(
        &mut sp,
        now,
        1,
        8805,
        pfcp::Message::heartbeat_request(2, 2000).to_vec().unwrap(),
    );
    assert_eq!(sp.peer_recovery(peer), Some(2000));
    assert_eq!(sp.stats().peer_restarts, 1);
}

/// The rounds of Echo (GTP-U, port 2152) or Heartbeat (PFCP, port 8805) Requests the switch
/// processor sent to `peer` at least `n3` times, the last of them at `since` or later (a path
/// fails T3 after that last one): one sequence number, the first request and its
/// repeats after each T3 without an answer (TS 29.281 section 7.2.1, TS 29.244 section 6.2.2),
/// counted as the line interface was asked to send them (whatever became of them after), copies
/// the fabric made (within 100 ms of each other, T3 being 300 ms) counted once. Only after such a
/// round may the path be declared failed (TS 23.007 section 20, N3-REQUESTS).
fn rounds_sent_n3_times(gw: &Gateway, peer: SocketAddr, n3: usize, since: Duration) -> usize {
    use telcp::steering::fabric::FabricMessage;
    let mut sent = std::collections::HashMap::<u32, Vec<Duration>>::new();
    for r in gw.sim.trace() {
        let Ok(FabricMessage::Transmit { to, data, .. }) = FabricMessage::parse(&r.payload) else {
            continue;
        };
        if to != peer {
            continue;
        }
        let seq = if peer.port() == 2152 {
            telcp::steering::gtp::parse(&data)
                .ok()
                .filter(|m| {
                    m.header.message_type == telcp::steering::gtp::MessageType::ECHO_REQUEST
                })
                .and_then(|m| m.header.sequence)
                .map(u32::from)
        } else {
            pfcp::parse(&data)
                .ok()
                .filter(|m| m.header.message_type == MessageType::HEARTBEAT_REQUEST)
                .map(|m| m.header.sequence)
        };
        if let Some(s) = seq {
            sent.entry(s).or_default().push(r.at);
        }
    }
    sent.values_mut()
        .map(|at| {
            at.sort();
            let sends = 1 + at
                .windows(2)
                .filter(|w| w[1] - w[0] > Duration::from_millis(100))
                .count();
            (sends, at.last().copied())
        })
        .filter(|(sends, last)| *sends >= n3 && last.is_some_and(|t| t >= since))
        .count()
}
