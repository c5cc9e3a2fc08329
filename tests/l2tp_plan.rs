//! Per-call tunnel plans at the LAC (issue 14 item 2), as scenarios on the simulator with loss,
//! duplication and reordering: levels filled by weight, the next level when one is denied or
//! full, the timed deny-list, least-filled choice, Tunnel-Assignment-Id sharing, and redirects
//! as steps inside the plan, the `LnsDenied` event with its typed reason, and per-endpoint
//! Tunnel-Passwords (RFC 2868 3.5) authenticating each tunnel with its own secret (RFC 2661
//! 5.1.1). `TELCP_SEEDS` sets the number of seeds (default 8), `TELCP_FIRST` the first (default 0).
#![cfg(feature = "sim")]

mod common;

use common::l2tp::*;

use std::net::IpAddr;
use std::time::Duration;
use telcp::l2tp::lac::{DenyReason, PlanEndpoint};
use telcp::l2tp::pool::MemberState;
use telcp::l2tp::{CallId, CallRequest, Event, Lac, LacConfig, Lns, TunnelPlan, lac::PlanPolicy};
use telcp::sim::{NodeId, Sim};

fn seeds() -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let first = var("TELCP_FIRST").unwrap_or(0);
    first..first + var("TELCP_SEEDS").unwrap_or(8)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn common_cfg(seed: u64) -> telcp::l2tp::Config {
    telcp::l2tp::Config {
        seed: telcp::io::seed(seed),
        max_retries: 10,
        ..Default::default()
    }
}

/// The LNSs of the plans: A and B (level 1), C (level 2), D (level 3).
const A: &str = "10.0.1.1";
const B: &str = "10.0.1.2";
const C: &str = "10.0.2.1";
const D: &str = "10.0.3.1";

struct World {
    sim: Sim,
    lac: NodeId,
    lns: Vec<NodeId>,
}

/// A LAC at 10.0.9.1 (contact LNS 10.0.0.1, unused by plan calls) and an LNS at each of
/// `lnss`, over lossy links (10 % loss, 5 % duplication, 5 % reordering).
fn world(seed: u64, lac: impl FnOnce(&mut LacConfig), lnss: &[&str]) -> World {
    let mut sim = Sim::new(seed, std::time::Instant::now());
    sim.set_default_link(lossy_link());
    let mut cfg = LacConfig::new(addr("10.0.0.1"));
    cfg.common = common_cfg(seed);
    lac(&mut cfg);
    let lac = add_lac(&mut sim, "lac", "10.0.9.1", cfg);
    let lns = lnss
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let cfg = lns_config_of(common_cfg(seed * 31 + i as u64 + 1));
            add_lns(&mut sim, a, a, cfg)
        })
        .collect();
    World { sim, lac, lns }
}

fn ep(a: &str, preference: u32) -> PlanEndpoint {
    PlanEndpoint::new(addr(a)).preference(preference)
}

fn plan(endpoints: Vec<PlanEndpoint>) -> CallRequest {
    CallRequest::with_plan(TunnelPlan::new(endpoints).unwrap())
}

/// The three-level plan: A (weight 3) and B (weight 1), then C, then D; `cap` on A and B.
fn three_levels(cap: Option<u32>) -> CallRequest {
    let mut a = ep(A, 1).weight(3);
    let mut b = ep(B, 1).weight(1);
    a.max_sessions = cap;
    b.max_sessions = cap;
    plan(vec![a, b, ep(C, 2), ep(D, 3)])
}

fn open(w: &mut World, req: CallRequest) -> CallId {
    let now = w.sim.now();
    w.sim.node_mut::<Lac>(w.lac).open_call(now, req).unwrap()
}

fn lns_of(w: &mut World, call: CallId) -> Option<IpAddr> {
    w.sim.node_mut::<Lac>(w.lac).lns_of(call).map(|a| a.ip())
}

/// Runs the simulation a second at a time, at most `secs` seconds more, until `done` holds of
/// the LAC ([`Sim::run_until_cond`]): a scenario waits out RFC 2661 5.8 retransmissions (up to
/// about a minute for one message) rather than judging at a fixed time.
fn wait_for_lac(w: &mut World, secs: u64, mut done: impl FnMut(&mut Lac) -> bool) {
    let lac = w.lac;
    w.sim
        .run_until_cond(Duration::from_secs(1), Duration::from_secs(secs), |sim| {
            done(sim.node_mut::<Lac>(lac))
        });
}

/// The LAC's `LnsDenied` events: (LNS, until, reason).
fn denials(ev: &[Event]) -> Vec<(IpAddr, std::time::Instant, DenyReason)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::LnsDenied { lns, until, reason } => Some((*lns, *until, *reason)),
            _ => None,
        })
        .collect()
}

/// The calls of the LAC's `SessionUp` events, with the LNS each is up at.
fn ups(ev: &[Event]) -> Vec<(CallId, IpAddr)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::SessionUp {
                call: Some(c),
                peer,
                ..
            } => Some((*c, peer.ip())),
            _ => None,
        })
        .collect()
}

/// Level 1 is filled by weight: A (weight 3) takes three quarters of the calls, B the rest;
/// levels 2 and 3 take none while level 1 has room. Every call comes up where it was placed.
///
/// Tolerance: with 200 calls, A's count is Binomial(200, 3/4): mean 150, standard deviation
/// 6.1; the bound 150 ± 31 is five standard deviations (a false failure about once in two
/// million seeds; at four, 150 ± 25, seed 28041 of the session 36 sweep gave A 123). An even
/// split (mean 100) stays eight standard deviations out of it. The seeds are fixed, so a run
/// replays.
///
/// Time: the 200 calls are opened at once and their requests wait for a send window that
/// losses shrink (RFC 2661 5.8, Appendix A); answers in set-ups under way (ICCN) go ahead of
/// the queued ICRQs, so the burst's last ICRQs leave late: 120 s lets them come up (seeds 185,
/// 1767 and 1968 of 2000 needed 92 to 101 s).
#[test]
fn level_one_filled_by_weight() {
    for seed in seeds() {
        level_one_filled_by_weight_at(seed);
    }
}

/// [`level_one_filled_by_weight`] with one seed.
fn level_one_filled_by_weight_at(seed: u64) {
    let mut w = world(seed, |_| {}, &[A, B, C, D]);
    let calls: Vec<CallId> = (0..200).map(|_| open(&mut w, three_levels(None))).collect();
    w.sim.run_for(Duration::from_secs(120));
    // Seed 6609 needed 14 s more (the sweep of 35,000 seeds, session 36).
    wait_for_lac(&mut w, 120, |lac| {
        calls.iter().all(|c| lac.session_of(*c).is_some())
    });
    let on_a = calls
        .iter()
        .filter(|c| lns_of(&mut w, **c) == Some(ip(A)))
        .count();
    let on_b = calls
        .iter()
        .filter(|c| lns_of(&mut w, **c) == Some(ip(B)))
        .count();
    assert_eq!(on_a + on_b, 200, "seed {seed}: level 1 only");
    assert!((119..=181).contains(&on_a), "seed {seed}: A took {on_a}");
    let ev = lac_events(&mut w.sim, w.lac);
    let up = ups(&ev);
    assert_eq!(up.len(), 200, "seed {seed}");
    for (c, at) in up {
        assert_eq!(Some(at), lns_of(&mut w, c), "seed {seed}");
    }
    // One tunnel to each of A and B, none elsewhere.
    assert_eq!(w.sim.node_mut::<Lac>(w.lac).tunnel_count(), 2);
    for n in &w.lns[2..] {
        assert_eq!(w.sim.node_mut::<Lns>(*n).tunnel_count(), 0, "seed {seed}");
    }
}

/// Seed 6609 of the 35,000-seed sweep of session 36: the 200 calls were up 14 s after the two minutes.
#[test]
fn level_one_filled_by_weight_seed_6609() {
    level_one_filled_by_weight_at(6609);
}

/// Seed 28041 of the 35,000-seed sweep of session 36: A took 123 of the 200 calls, outside four standard deviations, inside five.
#[test]
fn level_one_filled_by_weight_seed_28041() {
    level_one_filled_by_weight_at(28041);
}

/// l2tp-rfc2868.3.8-preference: the lowest Tunnel-Preference is tried first, the next only when
/// none of it can take the call. Level 1 full (session cap 4 on A and B): the ninth call and
/// later go to level 2 (C); when a call on A ends, level 1 has room again and the next call goes
/// back to it.
#[test]
fn l2tp_rfc2868_3_8_preference() {
    for seed in seeds() {
        let mut w = world(seed, |_| {}, &[A, B, C, D]);
        let calls: Vec<CallId> = (0..12)
            .map(|_| open(&mut w, three_levels(Some(4))))
            .collect();
        let at: Vec<IpAddr> = calls.iter().map(|c| lns_of(&mut w, *c).unwrap()).collect();
        let count = |x: &str| at.iter().filter(|a| **a == ip(x)).count();
        assert_eq!((count(A), count(B), count(C)), (4, 4, 4), "seed {seed}");
        assert!(at[..8].iter().all(|a| *a != ip(C)), "seed {seed}: {at:?}");
        w.sim.run_for(Duration::from_secs(60));
        assert_eq!(ups(&lac_events(&mut w.sim, w.lac)).len(), 12, "seed {seed}");
        // One call on A ends: the next goes to A again (level 1 has room only there).
        let on_a = calls[at.iter().position(|a| *a == ip(A)).unwrap()];
        let now = w.sim.now();
        w.sim
            .node_mut::<Lac>(w.lac)
            .close_session(now, on_a, telcp::l2tp::Close::default())
            .unwrap();
        let next = open(&mut w, three_levels(Some(4)));
        assert_eq!(lns_of(&mut w, next), Some(ip(A)), "seed {seed}");
        w.sim.run_for(Duration::from_secs(30));
        assert!(ups(&lac_events(&mut w.sim, w.lac)).contains(&(next, ip(A))));
    }
}

/// Level 1 denied: A does not answer (crashed), B refuses with a busy CDN (its session table is
/// full, RFC 2661 4.4.2 CDN Result 4). The call goes to level 2 (C) and comes up there; A and B
/// are on the deny-list (counted); calls within the deny time go straight to C; after it, A and
/// B are tried again.
#[test]
fn denied_level_moves_to_next_and_deny_expires() {
    for seed in seeds() {
        denied_level_moves_to_next_and_deny_expires_at(seed);
    }
}

/// [`denied_level_moves_to_next_and_deny_expires`] with one seed.
fn denied_level_moves_to_next_and_deny_expires_at(seed: u64) {
    let deny = Duration::from_secs(300);
    let mut w = world(seed, |c| c.deny_time = deny, &[A, B, C, D]);
    let (a, b) = (w.lns[0], w.lns[1]);
    w.sim.crash(a);
    // B has room for one session: once it holds one, every ICRQ gets CDN Result 4.
    let mut full = lns_config_of(common_cfg(seed + 500));
    full.common.max_sessions = 1;
    w.sim
        .restart(b, Box::new(Lns::new(full, w.sim.now()).unwrap()));
    let first = open(&mut w, plan(vec![ep(B, 1)]));
    w.sim.run_for(Duration::from_secs(20));
    // RFC 2661 5.8: the SCCRQ may take up to 63 s of retransmissions (seed 30358 of the
    // session 36 sweep: its SCCRQ was lost seven times, up 41 s in).
    wait_for_lac(&mut w, 60, |lac| lac.session_of(first).is_some());
    assert!(
        ups(&lac_events(&mut w.sim, w.lac)).contains(&(first, ip(B))),
        "seed {seed}"
    );
    let call = open(&mut w, three_levels(None));
    w.sim.run_for(Duration::from_secs(200));
    let ev = lac_events(&mut w.sim, w.lac);
    assert!(ups(&ev).contains(&(call, ip(C))), "seed {seed}: {ev:?}");
    let now = w.sim.now();
    let lac = w.sim.node_mut::<Lac>(w.lac);
    let denied: Vec<(IpAddr, std::time::Instant)> = lac.denied(now).collect();
    assert_eq!(
        denied.iter().map(|d| d.0).collect::<Vec<_>>(),
        [ip(A), ip(B)],
        "seed {seed}"
    );
    // Each denial came as an event with its reason and the time it ends (the deny-list's):
    // A timed out (crashed: nothing answers), B sent CDN Result 4 (RFC 2661 4.4.2: no
    // resources), one of the codes that mean busy.
    let mut got = denials(&ev);
    got.sort_by_key(|d| d.0);
    let want = [
        (ip(A), denied[0].1, DenyReason::Timeout),
        (
            ip(B),
            denied[1].1,
            DenyReason::Busy(telcp::l2tp::wire::ResultCodeValue(4)),
        ),
    ];
    assert_eq!(got, want, "seed {seed}: {ev:?}");
    assert_eq!(lac.stats().lns_denied, 2, "seed {seed}");
    // Within the deny time: C is chosen at once (A and B skipped, nothing sent to them).
    let second = open(&mut w, three_levels(None));
    assert_eq!(lns_of(&mut w, second), Some(ip(C)), "seed {seed}");
    // After it, with A back: A or B is tried again (B, if chosen, is still full and sends
    // the call on to A).
    w.sim.run_for(deny);
    let fresh = lns_config_of(common_cfg(seed + 900));
    let lns_a = Lns::new(fresh, w.sim.now()).unwrap();
    w.sim.restart(a, Box::new(lns_a));
    let _ = lac_events(&mut w.sim, w.lac);
    let third = open(&mut w, three_levels(None));
    assert!(
        [ip(A), ip(B)].contains(&lns_of(&mut w, third).unwrap()),
        "seed {seed}"
    );
    w.sim.run_for(Duration::from_secs(60));
    assert!(
        ups(&lac_events(&mut w.sim, w.lac)).contains(&(third, ip(A))),
        "seed {seed}"
    );
}

/// Seed 30358 of the 35,000-seed sweep of session 36: the SCCRQ was lost seven times (RFC 2661 5.8), the first call up 41 s in.
#[test]
fn denied_level_moves_to_next_and_deny_expires_seed_30358() {
    denied_level_moves_to_next_and_deny_expires_at(30358);
}

/// Least-filled: with three equal endpoints, nine calls land three on each; after two calls on
/// B end, the next two go to B.
#[test]
fn least_filled_policy() {
    for seed in seeds() {
        let mut w = world(
            seed,
            |c| c.plan_policy = PlanPolicy::LeastFilled,
            &[A, B, C],
        );
        let req = || plan(vec![ep(A, 0), ep(B, 0), ep(C, 0)]);
        let calls: Vec<CallId> = (0..9).map(|_| open(&mut w, req())).collect();
        let at: Vec<IpAddr> = calls.iter().map(|c| lns_of(&mut w, *c).unwrap()).collect();
        for x in [A, B, C] {
            assert_eq!(at.iter().filter(|a| **a == ip(x)).count(), 3, "seed {seed}");
        }
        w.sim.run_for(Duration::from_secs(60));
        assert_eq!(ups(&lac_events(&mut w.sim, w.lac)).len(), 9, "seed {seed}");
        let now = w.sim.now();
        for (c, _) in calls.iter().zip(&at).filter(|(_, a)| **a == ip(B)).take(2) {
            w.sim
                .node_mut::<Lac>(w.lac)
                .close_session(now, *c, telcp::l2tp::Close::default())
                .unwrap();
        }
        for _ in 0..2 {
            let c = open(&mut w, req());
            assert_eq!(lns_of(&mut w, c), Some(ip(B)), "seed {seed}");
        }
    }
}

/// l2tp-rfc2868.3.7-assignment-id: RFC 2868 3.7 Tunnel-Assignment-Id: calls to the same LNS
/// with the same id share a tunnel, different ids (and no id) get different tunnels.
#[test]
fn l2tp_rfc2868_3_7_assignment_id() {
    for seed in seeds() {
        let mut w = world(seed, |_| {}, &[A]);
        let with = |id: Option<&str>| {
            let mut e = ep(A, 0);
            e.assignment_id = id.map(|s| s.as_bytes().to_vec());
            plan(vec![e])
        };
        let calls = [
            open(&mut w, with(Some("x"))),
            open(&mut w, with(Some("y"))),
            open(&mut w, with(Some("x"))),
            open(&mut w, with(None)),
        ];
        w.sim.run_for(Duration::from_secs(60));
        assert_eq!(ups(&lac_events(&mut w.sim, w.lac)).len(), 4, "seed {seed}");
        let lac = w.sim.node_mut::<Lac>(w.lac);
        let t: Vec<u16> = calls
            .iter()
            .map(|c| lac.session_of(*c).unwrap().tunnel)
            .collect();
        assert_eq!(t[0], t[2], "seed {seed}");
        assert!(t[0] != t[1] && t[0] != t[3] && t[1] != t[3], "seed {seed}");
        assert_eq!(lac.tunnel_count(), 3);
        assert_eq!(w.sim.node_mut::<Lns>(w.lns[0]).tunnel_count(), 3);
    }
}

/// A contact LNS's redirect is a step inside the plan: the call follows it (to the pool LNS)
/// before the next plan entry; when the redirect target does not answer, it is denied and the
/// call goes to the plan's next entry.
#[test]
fn redirect_is_a_step_inside_the_plan() {
    for seed in seeds() {
        let contact = "10.0.0.1";
        let pool = "10.0.5.1";
        let hour = Duration::from_secs(3600);
        let mut w = world(seed, |c| c.deny_time = hour, &[contact, pool, C]);
        let lns = w.sim.node_mut::<Lns>(w.lns[0]);
        lns.pool.update(ip(pool), MemberState::Up, 10, 100, 10);
        lns.set_load(95);
        let req = || plan(vec![ep(contact, 1), ep(C, 2)]);
        let first = open(&mut w, req());
        w.sim.run_for(Duration::from_secs(60));
        let ev = lac_events(&mut w.sim, w.lac);
        assert!(
            ev.contains(&Event::Redirected {
                call: first,
                from: ip(contact),
                to: ip(pool)
            }),
            "seed {seed}: {ev:?}"
        );
        assert!(ups(&ev).contains(&(first, ip(pool))), "seed {seed}");
        // The pool LNS dies: the next call is redirected there, times out, and ends at C.
        w.sim.crash(w.lns[1]);
        let second = open(&mut w, req());
        w.sim.run_for(Duration::from_secs(300));
        let ev = lac_events(&mut w.sim, w.lac);
        assert!(ups(&ev).contains(&(second, ip(C))), "seed {seed}: {ev:?}");
        let now = w.sim.now();
        let denied: Vec<IpAddr> = w
            .sim
            .node_mut::<Lac>(w.lac)
            .denied(now)
            .map(|(a, _)| a)
            .collect();
        assert!(denied.contains(&ip(pool)), "seed {seed}: {denied:?}");
        assert!(
            denials(&ev)
                .iter()
                .any(|d| d.0 == ip(pool) && d.2 == DenyReason::Timeout),
            "seed {seed}: {ev:?}"
        );
    }
}

/// No endpoint left (every one denied or tried): the call fails with `SessionDown`, its state
/// gone.
#[test]
fn exhausted_plan_fails_the_call() {
    for seed in seeds() {
        let hour = Duration::from_secs(3600);
        let mut w = world(seed, |c| c.deny_time = hour, &[A]);
        w.sim.crash(w.lns[0]);
        let call = open(&mut w, plan(vec![ep(A, 0)]));
        w.sim.run_for(Duration::from_secs(300));
        let ev = lac_events(&mut w.sim, w.lac);
        assert!(
            ev.iter()
                .any(|e| matches!(e, Event::SessionDown { call: Some(c), .. } if *c == call)),
            "seed {seed}: {ev:?}"
        );
        let now = w.sim.now();
        let lac = w.sim.node_mut::<Lac>(w.lac);
        assert_eq!(lac.call_count(), 0);
        // A is denied: a new call has nowhere to go and fails at once.
        let again = lac.open_call(now, plan(vec![ep(A, 0)])).unwrap();
        assert_eq!(lac.call_count(), 0);
        let ev: Vec<Event> = std::iter::from_fn(|| lac.poll_event()).collect();
        assert!(ev.contains(&Event::SessionDown {
            session: None,
            call: Some(again),
            result: None,
            cause: None,
        }));
    }
}

/// The call's details reach every LNS its plan tries (RFC 2661 6.6 ICRQ, 6.8 ICCN): the Calling
/// and Called Number in ICRQ, the Tx Connect Speed and proxy authentication in ICCN, at the
/// first endpoint (it refuses: busy) and at the one that serves the call.
#[test]
fn call_details_sent_at_each_step() {
    use telcp::l2tp::call::ProxyAuth;
    use telcp::l2tp::wire::{AvpType, AvpValue, Message, MessageType};
    for seed in seeds() {
        let mut w = world(seed, |_| {}, &[A, B]);
        let mut busy = lns_config_of(common_cfg(seed + 500));
        busy.common.max_sessions = 0;
        let now = w.sim.now();
        w.sim
            .restart(w.lns[0], Box::new(Lns::new(busy, now).unwrap()));
        let details = telcp::l2tp::CallDetails {
            calling_number: Some(b"0123456789".to_vec()),
            called_number: Some(b"4711".to_vec()),
            tx_connect_speed: Some(1_000_000),
            proxy_auth: Some(ProxyAuth {
                name: Some(b"user@realm".to_vec()),
                ..ProxyAuth::default()
            }),
            ..Default::default()
        };
        let call = open(&mut w, plan(vec![ep(A, 1), ep(B, 2)]).details(details));
        w.sim.run_for(Duration::from_secs(60));
        assert!(ups(&lac_events(&mut w.sim, w.lac)).contains(&(call, ip(B))));
        let to = |a: &str, mt: MessageType| -> Vec<Message<'static>> {
            w.sim
                .trace()
                .iter()
                .filter(|r| r.to.ip() == ip(a))
                .filter_map(|r| Message::parse(&r.payload).ok().map(Message::into_owned))
                .filter(|m| m.message_type() == Some(mt))
                .collect()
        };
        for a in [A, B] {
            let icrqs = to(a, MessageType::ICRQ);
            assert!(!icrqs.is_empty(), "seed {seed}: no ICRQ to {a}");
            for m in icrqs {
                let Message::Control(c) = m else { panic!() };
                assert!(matches!(c.get(AvpType::CALLING_NUMBER),
                    Some(AvpValue::CallingNumber(n)) if &n[..] == b"0123456789"));
                assert!(matches!(c.get(AvpType::CALLED_NUMBER),
                    Some(AvpValue::CalledNumber(n)) if &n[..] == b"4711"));
            }
        }
        let iccns = to(B, MessageType::ICCN);
        assert!(!iccns.is_empty(), "seed {seed}");
        for m in iccns {
            let Message::Control(c) = m else { panic!() };
            assert!(matches!(
                c.get(AvpType::TX_CONNECT_SPEED),
                Some(AvpValue::TxConnectSpeed(1_000_000))
            ));
            assert!(matches!(c.get(AvpType::PROXY_AUTHEN_NAME),
                Some(AvpValue::ProxyAuthenName(n)) if &n[..] == b"user@realm"));
        }
        assert!(to(A, MessageType::ICCN).is_empty());
    }
}

/// An LNS with challenge/response and hidden AVPs on, authenticating with `secret` (RFC 2661
/// 5.1.1, 4.3).
fn lns_with_secret(seed: u64, secret: &str) -> telcp::l2tp::LnsConfig {
    let mut c = common_cfg(seed);
    c.secret = Some(secret.as_bytes().to_vec());
    c.challenge = true;
    c.hide_avps = true;
    lns_config_of(c)
}

/// l2tp-rfc2868.3.5-tunnel-password: each plan endpoint's Tunnel-Password is that tunnel's
/// secret (RFC 2661 5.1.1 challenge/response both ways, 4.3 hidden AVPs both ways). Two LNSs with
/// different secrets: both tunnels come up from one plan, with the LAC's own secret a third one.
/// An endpoint given a wrong password fails authentication: the LNS's Challenge Response does
/// not match, the LAC clears the tunnel with StopCCN Result 4 (not authorized), no ICRQ reaches
/// that LNS and it holds no session; it goes on the deny-list (`LnsDenied`, reason
/// authentication) and the next endpoint serves the call. No password shows in `Debug`.
#[test]
fn l2tp_rfc2868_3_5_tunnel_password() {
    for seed in seeds() {
        l2tp_rfc2868_3_5_tunnel_password_at(seed);
    }
}

/// [`l2tp_rfc2868_3_5_tunnel_password`] with one seed.
fn l2tp_rfc2868_3_5_tunnel_password_at(seed: u64) {
    use telcp::l2tp::wire::{Message, MessageType, ResultCodeValue};
    let mut w = world(
        seed,
        |c| {
            c.plan_policy = PlanPolicy::LeastFilled;
            c.common.secret = Some(b"lac-default".to_vec());
            c.common.hide_avps = true;
        },
        &[],
    );
    let secrets = [(A, "alpha"), (B, "bravo"), (C, "charlie")];
    for (i, (a, s)) in secrets.iter().enumerate() {
        let cfg = lns_with_secret(seed * 31 + i as u64 + 1, s);
        let n = add_lns(&mut w.sim, a, a, cfg);
        w.lns.push(n);
    }
    let good = || {
        plan(vec![
            ep(A, 1).password("alpha"),
            ep(B, 1).password(b"bravo".to_vec()),
        ])
    };
    let calls = [open(&mut w, good()), open(&mut w, good())];
    w.sim.run_for(Duration::from_secs(60));
    let ev = lac_events(&mut w.sim, w.lac);
    let mut at: Vec<IpAddr> = ups(&ev).iter().map(|u| u.1).collect();
    at.sort();
    assert_eq!(at, [ip(A), ip(B)], "seed {seed}: {ev:?}");
    for n in &w.lns[..2] {
        assert_eq!(w.sim.node_mut::<Lns>(*n).session_count(), 1, "seed {seed}");
    }
    // A wrong password for C (level 1), B (level 2) next.
    let wrong = plan(vec![
        ep(C, 1).password("not-charlie"),
        ep(B, 2).password("bravo"),
    ]);
    let mut cfg = LacConfig::new(addr(A));
    cfg.common.secret = Some(b"lac-default".to_vec());
    let shown = format!("{wrong:?} {cfg:?} {:?}", w.sim.node_mut::<Lac>(w.lac));
    for s in ["alpha", "bravo", "charlie", "lac-default"] {
        assert!(!shown.contains(s), "seed {seed}: {shown}");
    }
    let call = open(&mut w, wrong);
    w.sim.run_for(Duration::from_secs(60));
    let ev = lac_events(&mut w.sim, w.lac);
    assert!(ups(&ev).contains(&(call, ip(B))), "seed {seed}: {ev:?}");
    let d = denials(&ev);
    assert_eq!(d.len(), 1, "seed {seed}: {ev:?}");
    assert_eq!((d[0].0, d[0].2), (ip(C), DenyReason::Authentication));
    assert_eq!(w.sim.node_mut::<Lns>(w.lns[2]).session_count(), 0);
    let to_c: Vec<_> = w
        .sim
        .trace()
        .iter()
        .filter(|r| r.to.ip() == ip(C))
        .filter_map(|r| match Message::parse(&r.payload) {
            Ok(Message::Control(m)) => Some(m.into_owned()),
            _ => None,
        })
        .collect();
    assert!(
        to_c.iter()
            .all(|m| m.message_type() != Some(MessageType::ICRQ))
    );
    assert!(
        to_c.iter()
            .any(|m| m.message_type() == Some(MessageType::STOPCCN)
                && m.result_code().map(|r| r.result)
                    == Some(ResultCodeValue::STOPCCN_NOT_AUTHORIZED)),
        "seed {seed}: no StopCCN Result 4 to C"
    );
    // The tunnel to C goes once the StopCCN's acknowledgement is in or its retransmissions
    // end (RFC 2661 5.7, 5.8), later when losses delayed the set-up before it (seed 33549
    // of the session 36 sweep: 12 s after the minute).
    wait_for_lac(&mut w, 60, |lac| lac.tunnel_count() == 2);
    let lac = w.sim.node_mut::<Lac>(w.lac);
    assert!(calls.iter().all(|c| lac.session_of(*c).is_some()));
    // The tunnels to A and B stay; the one to C is gone.
    assert_eq!(lac.tunnel_count(), 2, "seed {seed}");
}

/// Seed 33549 of the 35,000-seed sweep of session 36: the tunnel to C went 12 s after the minute.
#[test]
fn l2tp_rfc2868_3_5_tunnel_password_seed_33549() {
    l2tp_rfc2868_3_5_tunnel_password_at(33549);
}
