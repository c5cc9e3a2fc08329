//! Call admission by the caller at the LNS (issue 14 item 1; `lns::incoming` module docs), over the
//! simulator at 10% loss, 5% duplication and 5% reordering, many seeds each:
//!
//! * a call the caller refuses gets CDN with the caller's result (RFC 2661 6.12, 7.4.2), no ICRP,
//!   and leaves no state at the LNS;
//! * calls beyond [`AdmissionConfig::max_pending`] get CDN Result 2 / Error 4 (RFC 2661 4.4.2) and
//!   are counted;
//! * an unanswered call is refused after [`AdmissionConfig::timeout`] with CDN Result 4, counted,
//!   and a late answer is `CommandError::NoAdmission`;
//! * an accepted call comes up, its ICCN details reported merged with the ICRQ's, and carries PPP.
//!
//! 100 seeds per scenario by default; `TELCP_SEEDS=n` overrides.
#![cfg(feature = "sim")]

mod common;

use common::l2tp::*;
use std::time::Duration;
use telcp::l2tp::wire::{ErrorCode, Message, MessageType, ResultCode, ResultCodeValue};
use telcp::l2tp::{
    AcceptParams, AdmissionConfig, CommandError, Event, LacConfig, Lns, LnsConfig, SessionRef,
};
use telcp::sim::Sim;

fn seeds() -> u64 {
    common::seeds(100)
}

/// A LAC and an LNS with admission on, on a lossy simulator seeded `seed`.
fn pair(seed: u64, admission: AdmissionConfig) -> Pair {
    Pair::lossy(seed, |lns| lns.admission = Some(admission))
}

/// The control messages the LNS sent during the run, as (message type, result code).
fn lns_sent(p: &Pair) -> Vec<(MessageType, Option<ResultCode<'static>>)> {
    p.sim
        .trace()
        .iter()
        .filter(|r| r.from == addr("10.0.0.1"))
        .filter_map(|r| match Message::parse(&r.payload) {
            Ok(Message::Control(c)) => Some((
                c.message_type()?,
                c.result_code().cloned().map(ResultCode::into_owned),
            )),
            _ => None,
        })
        .collect()
}

/// Runs `base`, then one second at a time until `done` holds, 45 s more at most: RFC 2661 5.8
/// retransmits a message for up to 1 + 2 + 4 + 7 x 8 = 63 s (10 retries, the interval capped
/// at 8 s), so an answer may still be on its way after `base` (seed 14765: the LNS's CDN lost
/// five times, its sixth try due 23 s after the first).
fn run_until(p: &mut Pair, base: Duration, mut done: impl FnMut(&mut Pair) -> bool) {
    p.sim.run_for(base);
    for _ in 0..45 {
        if done(p) {
            return;
        }
        p.sim.run_for(Duration::from_secs(1));
    }
}

/// Runs until the LNS reports an `IncomingCall` (within 60 s), returns its events so far.
fn until_incoming(p: &mut Pair, seen: &mut Vec<Event>) {
    for _ in 0..600 {
        p.sim.run_for(Duration::from_millis(100));
        seen.extend(lns_ev(p));
        if seen.iter().any(|e| matches!(e, Event::IncomingCall { .. })) {
            return;
        }
    }
    panic!("no IncomingCall: {seen:?}");
}

fn incoming(ev: &[Event]) -> Vec<(telcp::l2tp::AdmissionId, SessionRef)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::IncomingCall { id, session, .. } => Some((*id, *session)),
            _ => None,
        })
        .collect()
}

/// l2tp-7.4.2-icrq-unacceptable (RFC 2661 7.4.2, LNS idle state: an unacceptable ICRQ is
/// answered by CDN and cleaned up): the caller's refusal is the CDN's result, no ICRP leaves,
/// nothing is kept.
#[test]
fn l2tp_7_4_2_icrq_unacceptable() {
    for seed in 0..seeds() {
        refused_call(seed);
    }
}

/// A call opened at the LAC of a pair with default admission, run until the LNS reports it
/// incoming: the pair, the call, the LNS's events so far.
fn call_incoming(seed: u64) -> (Pair, telcp::l2tp::CallId, Vec<Event>) {
    let mut p = pair(seed, AdmissionConfig::default());
    let now = p.sim.now();
    let call = p
        .sim
        .node_mut::<telcp::l2tp::Lac>(p.lac)
        .open_session(now)
        .unwrap();
    let mut ev = Vec::new();
    until_incoming(&mut p, &mut ev);
    (p, call, ev)
}

fn refused_call(seed: u64) {
    let (mut p, call, ev) = call_incoming(seed);
    let (id, _) = incoming(&ev)[0];
    let now = p.sim.now();
    let rc = ResultCode::new(ResultCodeValue::CDN_PERMANENT_RESOURCES);
    p.sim
        .node_mut::<Lns>(p.lns)
        .refuse(now, id, rc.clone())
        .unwrap();
    let mut lac_seen = Vec::new();
    let lac_down = |e: &Event| {
        matches!(e, Event::SessionDown { call: Some(c), result: Some(r), .. }
                if *c == call && *r == rc)
    };
    run_until(&mut p, Duration::from_secs(20), |p| {
        lac_seen.extend(lac_ev(p));
        lac_seen.iter().any(lac_down)
    });
    let lns = p.sim.node_mut::<Lns>(p.lns);
    assert_eq!(lns.session_count(), 0, "seed {seed}");
    assert_eq!(lns.pending_admissions(), 0, "seed {seed}");
    assert_eq!(lns.stats().admissions_refused, 1, "seed {seed}");
    // A second answer to the same id is refused, typed.
    assert_eq!(
        lns.refuse(now, id, rc.clone()),
        Err(CommandError::NoAdmission)
    );
    let sent = lns_sent(&p);
    assert!(
        !sent.iter().any(|(mt, _)| *mt == MessageType::ICRP),
        "seed {seed}: ICRP sent for a refused call"
    );
    assert!(
        sent.iter()
            .any(|(mt, r)| *mt == MessageType::CDN && r.as_ref() == Some(&rc)),
        "seed {seed}: {sent:?}"
    );
    lac_seen.extend(lac_ev(&mut p));
    assert!(
        lac_seen.iter().any(lac_down),
        "seed {seed}: the LAC saw no CDN with the result"
    );
}

/// l2tp-4.4.2-admission-overflow (RFC 2661 4.4.2, CDN Result 2 with Error 4 "insufficient
/// resources to handle this operation now"): beyond `max_pending` undecided calls, the others are
/// refused at once and counted.
#[test]
fn l2tp_4_4_2_admission_overflow() {
    const CALLS: usize = 5;
    const BOUND: usize = 2;
    for seed in 0..seeds() {
        let mut p = pair(
            seed,
            AdmissionConfig {
                max_pending: BOUND,
                timeout: Duration::from_secs(60),
            },
        );
        for _ in 0..CALLS {
            let now = p.sim.now();
            p.sim
                .node_mut::<telcp::l2tp::Lac>(p.lac)
                .open_session(now)
                .unwrap();
        }
        p.sim.run_for(Duration::from_secs(50));
        let ev = lns_ev(&mut p);
        assert_eq!(incoming(&ev).len(), BOUND, "seed {seed}: {ev:?}");
        let lns = p.sim.node_mut::<Lns>(p.lns);
        assert_eq!(lns.pending_admissions(), BOUND);
        assert_eq!(lns.session_count(), BOUND, "seed {seed}");
        let s = lns.stats();
        assert_eq!(
            s.admissions_overflowed,
            (CALLS - BOUND) as u64,
            "seed {seed}"
        );
        assert_eq!(s.admissions_asked, BOUND as u64);
        let lev = lac_ev(&mut p);
        let refused = lev
            .iter()
            .filter(|e| {
                matches!(e, Event::SessionDown { result: Some(r), .. }
                    if r.result == ResultCodeValue::CDN_GENERAL_ERROR
                        && r.error_code() == Some(ErrorCode::INSUFFICIENT_RESOURCES))
            })
            .count();
        assert_eq!(refused, CALLS - BOUND, "seed {seed}: {lev:?}");
    }
}

/// ADM-3: a call not answered within the timeout is refused with CDN Result 4, counted, reported
/// down; a late answer is `NoAdmission`.
#[test]
fn unanswered_call_refused_at_the_timeout() {
    for seed in 0..seeds() {
        unanswered_call(seed);
    }
}

fn unanswered_call(seed: u64) {
    let timeout = Duration::from_secs(2);
    let mut p = pair(
        seed,
        AdmissionConfig {
            max_pending: 4,
            timeout,
        },
    );
    let now = p.sim.now();
    p.sim
        .node_mut::<telcp::l2tp::Lac>(p.lac)
        .open_session(now)
        .unwrap();
    let mut ev = Vec::new();
    until_incoming(&mut p, &mut ev);
    let (id, session) = incoming(&ev)[0];
    let mut lac_seen = Vec::new();
    let lac_down = |e: &Event| {
        matches!(e, Event::SessionDown { result: Some(r), .. }
                if r.result == ResultCodeValue::CDN_TEMPORARY_RESOURCES)
    };
    run_until(&mut p, timeout + Duration::from_secs(20), |p| {
        lac_seen.extend(lac_ev(p));
        lac_seen.iter().any(lac_down)
    });
    ev.extend(lns_ev(&mut p));
    assert!(
        ev.iter().any(
            |e| matches!(e, Event::SessionDown { session: Some(s), result: Some(r), .. }
                if *s == session && r.result == ResultCodeValue::CDN_TEMPORARY_RESOURCES)
        ),
        "seed {seed}: {ev:?}"
    );
    let now = p.sim.now();
    let lns = p.sim.node_mut::<Lns>(p.lns);
    assert_eq!(lns.stats().admissions_timed_out, 1);
    assert_eq!(lns.session_count(), 0);
    assert_eq!(lns.pending_admissions(), 0);
    assert_eq!(
        lns.accept(now, id, AcceptParams::default()),
        Err(CommandError::NoAdmission)
    );
    lac_seen.extend(lac_ev(&mut p));
    assert!(lac_seen.iter().any(lac_down), "seed {seed}");
}

/// ADM-4: an accepted call comes up; the ICCN's details are reported merged with the ICRQ's
/// (RFC 2661 6.6 Bearer Type from the ICRQ, 6.8 Framing Type and Connect Speed from the ICCN);
/// PPP flows.
#[test]
fn accepted_call_comes_up_and_carries_ppp() {
    for seed in 0..seeds() {
        accepted_call(seed);
    }
}

fn accepted_call(seed: u64) {
    let (mut p, call, mut ev) = call_incoming(seed);
    let Some(Event::IncomingCall { id, details, .. }) =
        ev.iter().find(|e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    assert!(
        details.bearer_type.is_some(),
        "seed {seed}: ICRQ Bearer Type"
    );
    assert!(details.framing_type.is_none(), "seed {seed}: no ICCN yet");
    let now = p.sim.now();
    let sref = p
        .sim
        .node_mut::<Lns>(p.lns)
        .accept(now, *id, AcceptParams::default())
        .unwrap();
    run_until(&mut p, Duration::from_secs(20), |p| {
        ev.extend(lns_ev(p));
        ev.iter()
            .any(|e| matches!(e, Event::SessionUp { session, .. } if *session == sref))
    });
    ev.extend(lns_ev(&mut p));
    let connected = ev.iter().position(|e| {
        matches!(e, Event::CallConnected { session, details }
            if *session == sref && details.framing_type.is_some()
                && details.tx_connect_speed.is_some() && details.bearer_type.is_some())
    });
    let up = ev
        .iter()
        .position(|e| matches!(e, Event::SessionUp { session, .. } if *session == sref));
    assert!(
        matches!((connected, up), (Some(c), Some(u)) if c < u),
        "seed {seed}: {ev:?}"
    );
    assert!(
        lac_ev(&mut p)
            .iter()
            .any(|e| matches!(e, Event::SessionUp { call: Some(c), .. } if *c == call))
    );
    assert_eq!(p.sim.node_mut::<Lns>(p.lns).stats().admissions_accepted, 1);
    // PPP frames until one gets through the lossy link (data messages are not retransmitted).
    let frame = b"\xff\x03\xc0\x21\x01\x01\x00\x04";
    let mut got = None;
    for _ in 0..50 {
        p.sim
            .node_mut::<telcp::l2tp::Lac>(p.lac)
            .send_ppp(call, frame)
            .unwrap();
        p.sim.run_for(Duration::from_millis(50));
        if let Some(d) = p.sim.node_mut::<Lns>(p.lns).poll_data() {
            got = Some(d);
            break;
        }
    }
    let d = got.expect("a PPP frame crossed");
    assert_eq!(d.session, sref);
    assert_eq!(&d.frame[..], frame);
}

/// The default keeps automatic acceptance: no IncomingCall, the call comes up.
#[test]
fn without_admission_calls_are_accepted_automatically() {
    let mut sim = Sim::new(7, std::time::Instant::now());
    sim.set_default_link(lossy_link());
    let mut p = Pair::new(
        sim,
        LacConfig::new(addr("10.0.0.1")),
        lns_config_of(seeded(telcp::l2tp::Config::default(), 8)),
    );
    let now = p.sim.now();
    p.sim
        .node_mut::<telcp::l2tp::Lac>(p.lac)
        .open_session(now)
        .unwrap();
    p.sim.run_for(Duration::from_secs(20));
    let ev = lns_ev(&mut p);
    assert!(incoming(&ev).is_empty());
    assert!(session_up_in(&ev));
}

/// An admission configuration out of range is refused.
#[test]
fn admission_config_is_checked() {
    for bad in [
        AdmissionConfig {
            max_pending: 0,
            ..Default::default()
        },
        AdmissionConfig {
            timeout: Duration::ZERO,
            ..Default::default()
        },
        AdmissionConfig {
            timeout: Duration::from_secs(61),
            ..Default::default()
        },
    ] {
        let cfg = LnsConfig {
            admission: Some(bad),
            ..Default::default()
        };
        assert_eq!(
            Lns::new(cfg, std::time::Instant::now()).err(),
            Some(telcp::l2tp::ConfigError::OutOfRange(
                telcp::l2tp::ConfigField::Admission
            ))
        );
    }
}

/// Seed 14765 (the sweep of session 36): the LNS's answer to the call (the CDN of the refusal,
/// the ICRP of the acceptance) was lost again and again, its sixth try due 23 s in (RFC 2661
/// 5.8); the scenarios looked 20 s after the answer and failed. They now wait for the outcome,
/// 45 s more at most.
#[test]
fn seed_14765_answer_retransmitted_late() {
    refused_call(14765);
    unanswered_call(14765);
    accepted_call(14765);
}
