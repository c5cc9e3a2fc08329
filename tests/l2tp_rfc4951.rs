//! RFC 4951 failover over the simulator: a LAC holds a tunnel with three sessions to an LNS; the
//! LNS crashes and a fresh LNS at another address starts with the tunnel's identity only
//! (`Config::restore`, no control-channel state) and recovers it with the LAC: recovery tunnel
//! (Tunnel Recovery, Suggested Control Sequence), the old tunnel's control channel resumed, FSQ
//! about every session. Over many seeds at 10% loss with duplication and reordering:
//!
//! * the LAC keeps the old tunnel (no TunnelDown, no SCCRQ of its own after the crash) and both
//!   ends report it recovered (RFC 4951: the non-failed endpoint does not tear the tunnel down
//!   while its peer recovers);
//! * a PPP frame each way crosses every surviving session after the recovery;
//! * the session the LAC hung up while the LNS was down (its CDN lost with the LNS) is cleared at
//!   the recovered LNS by FSQ/FSR, and only that one.
//!
//! 1,000 seeds by default (about 0.3 s in the test profile); every fourth runs with a tunnel
//! secret, challenges and hidden AVPs, so the recovery tunnel authenticates the move. (`TELCP_SEEDS=n` overrides). Also: without a recovery the LAC keeps the
//! tunnel for the LNS's Recovery Time, then lets it go; a recovery SCCRQ for an unknown tunnel,
//! or from an LNS that did not advertise the C bit, is refused with StopCCN.
#![cfg(feature = "sim")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use telcp::l2tp::wire::{ControlMessage, Message, MessageType, ParseOptions};
use telcp::l2tp::{
    CallId, Config, Event, FailoverConfig, Lac, LacConfig, Lns, LnsConfig, RestoredTunnel,
    SessionRef, UnsureSessions,
};
use telcp::sim::{LinkConfig, NodeId, Sim};

fn addr(s: &str) -> SocketAddr {
    format!("{s}:1701").parse().unwrap()
}

fn seeds() -> u64 {
    std::env::var("TELCP_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

const LAC: &str = "10.0.9.1";
const PRIMARY: &str = "10.0.0.1";
const BACKUP: &str = "10.0.0.2";

fn common(seed: u64, control: bool, recovery: Duration) -> Config {
    // The three endpoints of a scenario seed `n` use RNG seeds 3n, 3n + 1 and 3n + 2.
    let secret = (seed / 3) % 4 == 1;
    Config {
        seed: telcp::io::seed(seed),
        secret: secret.then(|| b"failover".to_vec()),
        challenge: secret,
        hide_avps: secret,
        max_retries: 10,
        failover: Some(FailoverConfig {
            control,
            data: false,
            recovery_time: recovery,
        }),
        ..Default::default()
    }
}

fn lns_cfg(common: Config) -> LnsConfig {
    LnsConfig {
        common,
        contact: false,
        ..Default::default()
    }
}

fn control_messages(sim: &Sim) -> Vec<(Duration, SocketAddr, SocketAddr, ControlMessage<'static>)> {
    // Hidden AVPs (every fourth seed) are read with the tunnel secret.
    let opts = ParseOptions {
        secret: Some(b"failover"),
        ..Default::default()
    };
    sim.trace()
        .iter()
        .filter_map(|r| match Message::parse_with(&r.payload, &opts) {
            Ok(Message::Control(c)) => Some((r.at, r.from, r.to, c.into_owned())),
            _ => None,
        })
        .collect()
}

/// The tunnel and session ids both ends assigned, read from the wire: the SCCRP (header: the
/// LAC's Tunnel ID; Assigned Tunnel ID: the LNS's) and each ICRP (header: the LAC's Session ID;
/// Assigned Session ID: the LNS's). Returns (LAC tid, LNS tid, [(LAC sid, LNS sid)]).
fn ids(sim: &Sim) -> (u16, u16, Vec<(u16, u16)>) {
    let msgs = control_messages(sim);
    let sccrp = msgs
        .iter()
        .find(|m| m.3.message_type() == Some(MessageType::SCCRP))
        .expect("SCCRP");
    let (lac_tid, lns_tid) = (
        sccrp.3.header.tunnel_id,
        sccrp.3.assigned_tunnel_id().unwrap(),
    );
    let mut sessions: Vec<(u16, u16)> = msgs
        .iter()
        .filter(|m| m.3.message_type() == Some(MessageType::ICRP))
        .map(|m| (m.3.header.session_id, m.3.assigned_session_id().unwrap()))
        .collect();
    sessions.sort_unstable();
    sessions.dedup();
    (lac_tid, lns_tid, sessions)
}

fn lac_events(sim: &mut Sim, n: NodeId) -> Vec<Event> {
    std::iter::from_fn(|| sim.poll_event_of::<Lac>(n)).collect()
}

fn lns_events(sim: &mut Sim, n: NodeId) -> Vec<Event> {
    std::iter::from_fn(|| sim.poll_event_of::<Lns>(n)).collect()
}

struct World {
    sim: Sim,
    lac: NodeId,
    primary: NodeId,
    calls: Vec<CallId>,
}

/// A LAC with `calls` established sessions to the primary LNS (over `link`).
fn world(seed: u64, calls: usize, link: LinkConfig, lns_recovery: Duration) -> World {
    let now = Instant::now();
    let mut sim = Sim::new(seed, now);
    sim.set_default_link(link);
    let mut lc = LacConfig::new(addr(PRIMARY));
    lc.common = common(3 * seed, false, Duration::from_secs(5));
    lc.advertise_load_balance = false;
    lc.idle_tunnel_timeout = None;
    let lac = sim.add_node(
        "lac",
        &[addr(LAC)],
        None,
        Box::new(Lac::new(lc, now).unwrap()),
    );
    let lns = Lns::new(lns_cfg(common(3 * seed + 1, true, lns_recovery)), now).unwrap();
    let primary = sim.add_node("primary", &[addr(PRIMARY)], None, Box::new(lns));
    let mut ids = Vec::new();
    for _ in 0..calls {
        let t = sim.now();
        ids.push(sim.node_mut::<Lac>(lac).open_session(t).unwrap());
        sim.run_for(Duration::from_millis(200));
    }
    sim.run_for(Duration::from_secs(40));
    for c in &ids {
        assert!(
            sim.node_mut::<Lac>(lac).session_of(*c).is_some(),
            "seed {seed}: call {c:?} not up"
        );
    }
    World {
        sim,
        lac,
        primary,
        calls: ids,
    }
}

#[test]
fn lns_recovers_tunnel_and_sessions_under_loss() {
    for seed in 0..seeds() {
        run_seed(seed);
    }
}

fn run_seed(seed: u64) {
    let mut w = world(
        seed,
        3,
        LinkConfig::lossy(0.1, 0.05, 0.05),
        Duration::from_secs(60),
    );
    let (lac_tid, lns_tid, sessions) = ids(&w.sim);
    assert_eq!(sessions.len(), 3, "seed {seed}");
    let crash_at = w.sim.elapsed();
    w.sim.crash(w.primary);
    // The LAC hangs up the third call while the LNS is down: its CDN is lost with the LNS.
    let hung_up = w.calls[2];
    let gone_lac_sid = w
        .sim
        .node_mut::<Lac>(w.lac)
        .session_of(hung_up)
        .unwrap()
        .session;
    let gone_lns_sid = sessions.iter().find(|s| s.0 == gone_lac_sid).unwrap().1;
    let t = w.sim.now();
    w.sim
        .node_mut::<Lac>(w.lac)
        .close_session(t, hung_up)
        .unwrap();
    w.sim.run_for(Duration::from_secs(5));
    let _ = lac_events(&mut w.sim, w.lac);
    // The backup starts with the tunnel's identity (ids, peer, sessions) and recovers it.
    let mut bc = lns_cfg(common(3 * seed + 2, true, Duration::from_secs(60)));
    bc.common.restore = vec![RestoredTunnel {
        local_id: lns_tid,
        peer_id: lac_tid,
        peer: addr(LAC),
        local: Some(addr(BACKUP)),
        peer_failover: telcp::l2tp::wire::avp::FailoverCapability {
            control: false,
            data: false,
            recovery_time_ms: 5000,
        },
        sessions: sessions.iter().map(|&(l, n)| (n, l)).collect(),
        recover: Some(UnsureSessions::All),
    }];
    let t = w.sim.now();
    let backup = w.sim.add_node(
        "backup",
        &[addr(BACKUP)],
        None,
        Box::new(Lns::new(bc, t).unwrap()),
    );
    w.sim.run_for(Duration::from_secs(60));
    let lac_events = lac_events(&mut w.sim, w.lac);
    let backup_events = lns_events(&mut w.sim, backup);
    let ctx = format!("seed {seed}\nLAC {lac_events:?}\nbackup {backup_events:?}");
    assert!(
        lac_events
            .iter()
            .any(|e| matches!(e, Event::TunnelRecovered { tunnel, peer } if *tunnel == lac_tid && *peer == addr(BACKUP))),
        "{ctx}"
    );
    assert!(
        backup_events
            .iter()
            .any(|e| matches!(e, Event::TunnelRecovered { tunnel, .. } if *tunnel == lns_tid)),
        "{ctx}"
    );
    assert!(
        !lac_events
            .iter()
            .any(|e| matches!(e, Event::TunnelDown { .. } | Event::SessionDown { .. })),
        "{ctx}"
    );
    // No new tunnel from the LAC: its only SCCRQ was the first one.
    let lac_sccrqs_after: Vec<_> = control_messages(&w.sim)
        .into_iter()
        .filter(|m| {
            m.0 > crash_at && m.1 == addr(LAC) && m.3.message_type() == Some(MessageType::SCCRQ)
        })
        .collect();
    assert!(lac_sccrqs_after.is_empty(), "{ctx}\n{lac_sccrqs_after:?}");
    // FSQ/FSR cleared exactly the hung-up session at the backup.
    let cleared: Vec<u16> = backup_events
        .iter()
        .filter_map(|e| match e {
            Event::SessionDown {
                session: Some(s), ..
            } => Some(s.session),
            _ => None,
        })
        .collect();
    assert_eq!(cleared, vec![gone_lns_sid], "{ctx}");
    let lac_stats = w.sim.node_mut::<Lac>(w.lac).stats();
    assert_eq!(lac_stats.recoveries_succeeded, 1, "{ctx}");
    let b_stats = w.sim.node_mut::<Lns>(backup).stats();
    assert_eq!(b_stats.recoveries_succeeded, 1, "{ctx}");
    assert_eq!(b_stats.sessions_cleared_by_fsr, 1, "{ctx}");
    assert_eq!(w.sim.node_mut::<Lns>(backup).session_count(), 2, "{ctx}");
    // A PPP frame each way on every surviving session.
    for &call in &w.calls[..2] {
        let lac_sid = w
            .sim
            .node_mut::<Lac>(w.lac)
            .session_of(call)
            .unwrap()
            .session;
        let lns_sid = sessions.iter().find(|s| s.0 == lac_sid).unwrap().1;
        let up = ppp_each_way(
            &mut w.sim,
            w.lac,
            backup,
            call,
            SessionRef {
                tunnel: lns_tid,
                session: lns_sid,
            },
        );
        assert!(
            up,
            "{ctx}: no PPP frame crossed session {lac_sid}/{lns_sid}"
        );
    }
}

/// Sends PPP frames both ways (up to 20 tries each, the link is lossy); true when at least one
/// arrived each way, on the right session.
fn ppp_each_way(sim: &mut Sim, lac: NodeId, lns: NodeId, call: CallId, at_lns: SessionRef) -> bool {
    let (mut up, mut down) = (false, false);
    for i in 0..20u8 {
        if !up {
            sim.node_mut::<Lac>(lac)
                .send_ppp(call, &[0xff, 0x03, 0xc0, 0x21, 9, i, 0, 4])
                .unwrap();
        }
        if !down {
            sim.node_mut::<Lns>(lns)
                .send_ppp(at_lns, &[0xff, 0x03, 0xc0, 0x21, 10, i, 0, 4])
                .unwrap();
        }
        sim.run_for(Duration::from_millis(100));
        while let Some(d) = sim.node_mut::<Lns>(lns).poll_data() {
            up |= d.session == at_lns && d.frame[4] == 9;
        }
        while let Some(d) = sim.node_mut::<Lac>(lac).poll_data() {
            down |= d.call == Some(call) && d.frame[4] == 10;
        }
        if up && down {
            return true;
        }
    }
    false
}

/// RFC 4951: the non-failed endpoint keeps a tunnel whose peer stopped answering for the peer's
/// Recovery Time after its control channel gave up, and only then lets it go.
#[test]
fn lac_keeps_tunnel_for_the_recovery_time_then_drops_it() {
    let recovery = Duration::from_secs(120);
    let mut w = world(7, 1, LinkConfig::default(), recovery);
    w.sim.crash(w.primary);
    let t = w.sim.now();
    // Something to retransmit: a WEN the dead LNS never acknowledges.
    w.sim
        .node_mut::<Lac>(w.lac)
        .send_wen(t, w.calls[0], Default::default())
        .unwrap();
    let _ = lac_events(&mut w.sim, w.lac);
    // The channel gives up after its retransmissions (1+2+4+8*8 s with 10 retries, 71 s)...
    w.sim.run_for(Duration::from_secs(100));
    let ev = lac_events(&mut w.sim, w.lac);
    assert!(
        !ev.iter().any(|e| matches!(e, Event::TunnelDown { .. })),
        "{ev:?}"
    );
    assert_eq!(w.sim.node_mut::<Lac>(w.lac).stats().recovery_waits, 1);
    assert!(
        w.sim
            .node_mut::<Lac>(w.lac)
            .session_of(w.calls[0])
            .is_some()
    );
    // ... and the Recovery Time (120 s) after that, the tunnel goes.
    w.sim.run_for(Duration::from_secs(100));
    let ev = lac_events(&mut w.sim, w.lac);
    assert!(
        ev.iter().any(|e| matches!(e, Event::TunnelDown { .. })),
        "{ev:?}"
    );
    assert!(
        w.sim
            .node_mut::<Lac>(w.lac)
            .session_of(w.calls[0])
            .is_none()
    );
}

/// RFC 4951: a recovery SCCRQ naming a tunnel the LAC does not have is refused with StopCCN
/// (Result 2 / Error 3) and keeps no state; so is one for a tunnel whose LNS did not advertise the
/// C bit.
#[test]
fn recovery_for_unknown_tunnel_or_without_c_bit_is_refused() {
    for control in [true, false] {
        let mut w = world(11, 1, LinkConfig::default(), Duration::from_secs(60));
        let (lac_tid, lns_tid, sessions) = ids(&w.sim);
        w.sim.crash(w.primary);
        let mut bc = lns_cfg(common(3 * 11 + 2, true, Duration::from_secs(60)));
        bc.common.restore = vec![RestoredTunnel {
            local_id: lns_tid,
            // The tunnel the backup believes in is not the LAC's (control) or the LNS never
            // advertised the C bit (its Failover Capability came without it).
            peer_id: if control {
                lac_tid.wrapping_add(1).max(1)
            } else {
                lac_tid
            },
            peer: addr(LAC),
            local: None,
            peer_failover: Default::default(),
            sessions: sessions.iter().map(|&(l, n)| (n, l)).collect(),
            recover: Some(UnsureSessions::None),
        }];
        if !control {
            // The primary advertised no C bit: rebuild the world with such an LNS.
            w = world_without_c_bit();
            let (lac_tid2, lns_tid2, sessions2) = ids(&w.sim);
            w.sim.crash(w.primary);
            bc.common.restore[0].local_id = lns_tid2;
            bc.common.restore[0].peer_id = lac_tid2;
            bc.common.restore[0].sessions = sessions2.iter().map(|&(l, n)| (n, l)).collect();
        }
        let t = w.sim.now();
        let backup = w.sim.add_node(
            "backup",
            &[addr(BACKUP)],
            None,
            Box::new(Lns::new(bc, t).unwrap()),
        );
        w.sim.run_for(Duration::from_secs(10));
        let stopccn = control_messages(&w.sim)
            .into_iter()
            .find(|m| m.1 == addr(LAC) && m.3.message_type() == Some(MessageType::STOPCCN));
        let stopccn = stopccn.expect("StopCCN refusing the recovery");
        let rc = stopccn.3.result_code().unwrap();
        assert_eq!((rc.result.0, rc.error_code().map(|e| e.0)), (2, Some(3)));
        assert_eq!(w.sim.node_mut::<Lac>(w.lac).stats().recoveries_refused, 1);
        let ev = lns_events(&mut w.sim, backup);
        assert!(
            ev.iter()
                .any(|e| matches!(e, Event::TunnelRecoveryFailed { .. })),
            "{ev:?}"
        );
        assert!(
            ev.iter().any(|e| matches!(e, Event::TunnelDown { .. })),
            "{ev:?}"
        );
    }
}

fn world_without_c_bit() -> World {
    let now = Instant::now();
    let mut sim = Sim::new(13, now);
    let mut lc = LacConfig::new(addr(PRIMARY));
    lc.common = common(3 * 13, false, Duration::from_secs(5));
    lc.advertise_load_balance = false;
    lc.idle_tunnel_timeout = None;
    let lac = sim.add_node(
        "lac",
        &[addr(LAC)],
        None,
        Box::new(Lac::new(lc, now).unwrap()),
    );
    let lns = Lns::new(
        lns_cfg(common(3 * 13 + 1, false, Duration::from_secs(60))),
        now,
    )
    .unwrap();
    let primary = sim.add_node("primary", &[addr(PRIMARY)], None, Box::new(lns));
    let t = sim.now();
    let call = sim.node_mut::<Lac>(lac).open_session(t).unwrap();
    sim.run_for(Duration::from_secs(10));
    World {
        sim,
        lac,
        primary,
        calls: vec![call],
    }
}
