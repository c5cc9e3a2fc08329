//! The LAC closes a control connection that has carried no session for
//! [`LacConfig::idle_tunnel_timeout`] (default 10 s): StopCCN Result Code 1 ("general request to
//! clear control connection"), acknowledged by the LNS, which frees the tunnel after the RFC 2661
//! 5.7 hold; a call placed before the timeout reuses the tunnel, a call placed after the close
//! opens a fresh one. On the simulator with 10% loss, 5% duplication and 5% reordering.
#![cfg(feature = "sim")]

mod common;

use common::l2tp::*;

use std::time::{Duration, Instant};
use telcp::l2tp::wire::{Message, MessageType, ResultCodeValue};
use telcp::l2tp::{CallId, Event, Lac, LacConfig, Lns, LnsConfig};
use telcp::sim::{Fate, Sim};

const LAC: &str = "10.0.9.1";
const LNS: &str = "10.0.0.1";

fn pair(seed: u64, lac_cfg: LacConfig) -> Pair {
    let mut sim = Sim::new(seed, Instant::now());
    sim.set_default_link(lossy_link());
    let lac = add_lac(&mut sim, "lac", LAC, lac_cfg);
    let mut lc = LnsConfig::default();
    lc.common.seed = telcp::io::seed(seed + 1000);
    let lns = add_lns(&mut sim, "lns", LNS, lc);
    Pair { sim, lac, lns }
}

fn lac_config(seed: u64) -> LacConfig {
    let mut c = LacConfig::new(addr(LNS));
    c.common.seed = telcp::io::seed(seed);
    // Enough retransmissions that 10% loss never kills a tunnel in these runs.
    c.common.max_retries = 10;
    c
}

/// Opens a call and runs until it is up; returns it with the LAC's tunnel id.
fn call_up(p: &mut Pair) -> (CallId, u16) {
    let now = p.sim.now();
    let call = p.sim.node_mut::<Lac>(p.lac).open_session(now).unwrap();
    let lac = p.lac;
    p.sim
        .run_until_cond(Duration::from_millis(100), Duration::from_secs(60), |s| {
            s.node_mut::<Lac>(lac).session_of(call).is_some()
        });
    let s = p.sim.node_mut::<Lac>(p.lac).session_of(call);
    let s = s.unwrap_or_else(|| panic!("call not up: {:?}", lac_ev(p)));
    (call, s.tunnel)
}

fn hang_up(p: &mut Pair, call: CallId) {
    let now = p.sim.now();
    p.sim
        .node_mut::<Lac>(p.lac)
        .close_session(now, call, telcp::l2tp::Close::default())
        .unwrap();
}

/// Control messages of type `mt` the simulator delivered to `to`.
fn delivered(sim: &Sim, to: &str, mt: MessageType) -> Vec<Message<'static>> {
    sim.trace()
        .iter()
        .filter(|r| r.to.ip() == addr(to).ip() && r.fate == Fate::Delivered)
        .filter_map(|r| Message::parse(&r.payload).ok().map(Message::into_owned))
        .filter(|m| m.message_type() == Some(mt))
        .collect()
}

fn tunnel_downs(ev: &[Event]) -> Vec<(u16, Option<ResultCodeValue>)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::TunnelDown { tunnel, result, .. } => {
                Some((*tunnel, result.as_ref().map(|r| r.result)))
            }
            _ => None,
        })
        .collect()
}

fn tunnel_ups(ev: &[Event]) -> Vec<u16> {
    ev.iter()
        .filter_map(|e| match e {
            Event::TunnelUp { tunnel, .. } => Some(*tunnel),
            _ => None,
        })
        .collect()
}

#[test]
fn default_idle_timeout_is_ten_seconds() {
    let c = LacConfig::new(addr(LNS));
    assert_eq!(c.idle_tunnel_timeout, Some(Duration::from_secs(10)));
}

/// The last call hangs up; 10 s later the LAC sends StopCCN Result 1, both sides report the tunnel
/// down with that result, the LNS acknowledges it and frees the tunnel after its hold period, and
/// the LAC frees its own after its hold.
#[test]
fn idle_tunnel_is_closed_with_stopccn_result_1_and_freed_on_both_sides() {
    for seed in 0..20 {
        let mut p = pair(seed, lac_config(seed));
        let (call, tid) = call_up(&mut p);
        let _ = (lac_ev(&mut p), lns_ev(&mut p));
        hang_up(&mut p, call);
        // Not before the timeout.
        p.sim.run_for(Duration::from_millis(9_500));
        assert!(
            tunnel_downs(&lac_ev(&mut p)).is_empty(),
            "seed {seed}: closed early"
        );
        assert!(delivered(&p.sim, LNS, MessageType::STOPCCN).is_empty());
        // Then StopCCN with Result Code 1.
        p.sim.run_for(Duration::from_secs(10));
        assert_eq!(
            tunnel_downs(&lac_ev(&mut p)),
            vec![(tid, Some(ResultCodeValue::STOPCCN_GENERAL_REQUEST))],
            "seed {seed}"
        );
        let stop = delivered(&p.sim, LNS, MessageType::STOPCCN);
        assert!(!stop.is_empty(), "seed {seed}");
        for m in &stop {
            let Message::Control(c) = m else { panic!() };
            assert_eq!(
                c.result_code().map(|r| r.result),
                Some(ResultCodeValue::STOPCCN_GENERAL_REQUEST)
            );
        }
        let lns_downs = tunnel_downs(&lns_ev(&mut p));
        assert_eq!(lns_downs.len(), 1, "seed {seed}: {lns_downs:?}");
        assert_eq!(
            lns_downs[0].1,
            Some(ResultCodeValue::STOPCCN_GENERAL_REQUEST)
        );
        // Both hold the tunnel id for the teardown time (31 s by default), then free it.
        assert_eq!(p.sim.node_mut::<Lns>(p.lns).tunnel_count(), 1);
        assert_eq!(p.sim.node_mut::<Lac>(p.lac).tunnel_count(), 1);
        p.sim.run_for(Duration::from_secs(60));
        assert_eq!(
            p.sim.node_mut::<Lns>(p.lns).tunnel_count(),
            0,
            "seed {seed}"
        );
        assert_eq!(
            p.sim.node_mut::<Lac>(p.lac).tunnel_count(),
            0,
            "seed {seed}"
        );
        // The LNS acknowledged the StopCCN (a ZLB, or it would still be retransmitted): the LAC
        // sent it at most a few times, never until its retries ran out.
        let sent = p
            .sim
            .trace()
            .iter()
            .filter(|r| r.to.ip() == addr(LNS).ip())
            .filter(|r| {
                Message::parse(&r.payload)
                    .ok()
                    .and_then(|m| m.message_type())
                    == Some(MessageType::STOPCCN)
            })
            .count();
        assert!(sent <= 6, "seed {seed}: StopCCN sent {sent} times");
        assert!(lac_ev(&mut p).is_empty());
    }
}

/// A new call within the idle timeout reuses the tunnel (one SCCRQ in all) and cancels the close.
#[test]
fn a_call_before_the_timeout_reuses_the_tunnel() {
    for seed in 0..10 {
        let mut p = pair(seed, lac_config(seed));
        let (call, tid) = call_up(&mut p);
        hang_up(&mut p, call);
        p.sim.run_for(Duration::from_secs(6));
        let (_, tid2) = call_up(&mut p);
        assert_eq!(tid2, tid, "seed {seed}");
        p.sim.run_for(Duration::from_secs(60));
        let ev = lac_ev(&mut p);
        assert!(tunnel_downs(&ev).is_empty(), "seed {seed}: {ev:?}");
        assert_eq!(tunnel_ups(&ev), vec![tid]);
        let sccrqs = p
            .sim
            .trace()
            .iter()
            .filter(|r| {
                Message::parse(&r.payload)
                    .ok()
                    .and_then(|m| m.message_type())
                    == Some(MessageType::SCCRQ)
            })
            .filter_map(|r| match Message::parse(&r.payload).ok()? {
                Message::Control(c) => c.assigned_tunnel_id(),
                _ => None,
            })
            .collect::<std::collections::BTreeSet<u16>>();
        assert_eq!(sccrqs.len(), 1, "seed {seed}: one tunnel asked for");
        assert_eq!(p.sim.node_mut::<Lns>(p.lns).tunnel_count(), 1);
    }
}

/// A call to the same LNS once the idle tunnel is closed (and still held) opens a fresh tunnel; the
/// held one is freed on both sides after its hold, the new one stays.
#[test]
fn a_call_after_the_close_opens_a_fresh_tunnel() {
    for seed in 0..10 {
        let mut p = pair(seed, lac_config(seed));
        let (call, tid) = call_up(&mut p);
        hang_up(&mut p, call);
        p.sim.run_for(Duration::from_secs(20));
        let ev = lac_ev(&mut p);
        assert_eq!(
            tunnel_downs(&ev),
            vec![(tid, Some(ResultCodeValue::STOPCCN_GENERAL_REQUEST))],
            "seed {seed}"
        );
        // Held, not reused.
        assert_eq!(p.sim.node_mut::<Lac>(p.lac).tunnel_count(), 1);
        let (call2, tid2) = call_up(&mut p);
        assert_ne!(tid2, tid, "seed {seed}");
        assert_eq!(tunnel_ups(&lac_ev(&mut p)), vec![tid2]);
        p.sim.run_for(Duration::from_secs(60));
        assert_eq!(p.sim.node_mut::<Lac>(p.lac).tunnel_count(), 1);
        assert_eq!(p.sim.node_mut::<Lns>(p.lns).tunnel_count(), 1);
        assert!(p.sim.node_mut::<Lac>(p.lac).session_of(call2).is_some());
        assert_eq!(p.sim.node_mut::<Lns>(p.lns).session_count(), 1);
    }
}

/// With the timeout off, an idle tunnel stays (kept alive by HELLO) until the LAC is told otherwise.
#[test]
fn no_idle_timeout_keeps_the_tunnel() {
    let mut c = lac_config(3);
    c.idle_tunnel_timeout = None;
    let mut p = pair(3, c);
    let (call, _) = call_up(&mut p);
    hang_up(&mut p, call);
    p.sim.run_for(Duration::from_secs(300));
    assert!(tunnel_downs(&lac_ev(&mut p)).is_empty());
    assert_eq!(p.sim.node_mut::<Lac>(p.lac).tunnel_count(), 1);
    assert_eq!(p.sim.node_mut::<Lns>(p.lns).tunnel_count(), 1);
    assert!(delivered(&p.sim, LNS, MessageType::STOPCCN).is_empty());
}

/// After a redirect the tunnel to the contact LNS carries no session: it is closed after the idle
/// timeout and freed at the contact, while the tunnel to the pool LNS that serves the call stays.
#[test]
fn after_a_redirect_the_contact_tunnel_is_closed_and_the_pool_tunnel_kept() {
    use telcp::l2tp::pool::MemberState;
    const POOL: &str = "10.0.1.1";
    for seed in 0..10 {
        let mut p = pair(seed, lac_config(seed));
        let mut pc = LnsConfig::default();
        pc.common.seed = telcp::io::seed(seed + 2000);
        let pool = add_lns(&mut p.sim, "pool", POOL, pc);
        {
            let contact = p.sim.node_mut::<Lns>(p.lns);
            contact
                .pool
                .update(POOL.parse().unwrap(), MemberState::Up, 10, 100, 10);
            contact.set_load(95);
        }
        let (call, tid) = call_up(&mut p);
        assert_eq!(
            p.sim.node_mut::<Lac>(p.lac).lns_of(call),
            Some(addr(POOL)),
            "seed {seed}"
        );
        let ev = lac_ev(&mut p);
        assert!(
            ev.iter().any(|e| matches!(e, Event::Redirected { .. })),
            "seed {seed}"
        );
        let contact_tid = tunnel_ups(&ev)
            .into_iter()
            .find(|t| *t != tid)
            .expect("tunnel to the contact");
        p.sim.run_for(Duration::from_secs(20));
        let ev = lac_ev(&mut p);
        assert_eq!(
            tunnel_downs(&ev),
            vec![(contact_tid, Some(ResultCodeValue::STOPCCN_GENERAL_REQUEST))],
            "seed {seed}: {ev:?}"
        );
        p.sim.run_for(Duration::from_secs(60));
        assert_eq!(
            p.sim.node_mut::<Lns>(p.lns).tunnel_count(),
            0,
            "seed {seed}"
        );
        assert_eq!(p.sim.node_mut::<Lns>(pool).tunnel_count(), 1);
        assert_eq!(p.sim.node_mut::<Lns>(pool).session_count(), 1);
        assert_eq!(p.sim.node_mut::<Lac>(p.lac).tunnel_count(), 1);
        assert_eq!(
            p.sim
                .node_mut::<Lac>(p.lac)
                .session_of(call)
                .map(|s| s.tunnel),
            Some(tid)
        );
    }
}
