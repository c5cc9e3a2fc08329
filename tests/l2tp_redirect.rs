//! Load redirection of L2TP sessions (issue 4, claims 1-8), as scenarios on the simulator with
//! loss, duplication and reordering.
#![cfg(feature = "sim")]

mod common;

use common::l2tp::*;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, NodeId as HNode, Role};
use telcp::l2tp::pool::{MemberState, VirtualLns};
use telcp::l2tp::wire::{ErrorCode, Message, MessageType};
use telcp::l2tp::{CallId, Event, Lac, LacConfig, Lns, LnsConfig, LnsMembership};
use telcp::sim::{Fate, LinkConfig, NodeId, Sim};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn common(seed: u64) -> telcp::l2tp::Config {
    telcp::l2tp::Config {
        seed: telcp::io::seed(seed),
        max_retries: 10,
        ..Default::default()
    }
}

pub fn lac_config(seed: u64) -> LacConfig {
    let mut c = LacConfig::new(addr("10.0.0.1"));
    c.common = common(seed);
    c
}

pub fn lns_config(seed: u64) -> LnsConfig {
    LnsConfig {
        common: common(seed),
        ..Default::default()
    }
}

struct World {
    sim: Sim,
    lac: NodeId,
    contact: NodeId,
    pool: Vec<NodeId>,
}

const POOL: [&str; 3] = ["10.0.1.1", "10.0.1.2", "10.0.1.3"];

fn world(seed: u64, lossy: bool, lac_cfg: LacConfig, contact_cfg: LnsConfig) -> World {
    let now = Instant::now();
    let mut sim = Sim::new(seed, now);
    if lossy {
        sim.set_default_link(lossy_link());
    }
    let lac = add_lac(&mut sim, "lac", "10.0.9.1", lac_cfg);
    let contact = add_lns(&mut sim, "contact", "10.0.0.1", contact_cfg);
    let pool = POOL
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let cfg = lns_config(seed * 10 + i as u64 + 7);
            add_lns(&mut sim, &format!("pool{i}"), a, cfg)
        })
        .collect();
    World {
        sim,
        lac,
        contact,
        pool,
    }
}

fn session_ups(ev: &[Event]) -> usize {
    ev.iter()
        .filter(|e| matches!(e, Event::SessionUp { .. }))
        .count()
}

/// `lev` (the LAC's events) holds the call's redirection from the contact LNS to pool member
/// `to` (RFC 2661 4.4.2 Result Code 2 / Error Code 9, issue 4 claim 4) and one session up.
fn assert_redirected_and_up(lev: &[Event], call: CallId, to: usize) {
    assert!(
        lev.contains(&Event::Redirected {
            call,
            from: ip("10.0.0.1"),
            to: ip(POOL[to])
        }),
        "{lev:?}"
    );
    assert_eq!(session_ups(lev), 1);
}

/// Control messages of `mt` delivered to `to` in the trace.
fn delivered(sim: &Sim, to: SocketAddr, mt: MessageType) -> Vec<Message<'static>> {
    sim.trace()
        .iter()
        .filter(|r| r.to.ip() == to.ip())
        .filter_map(|r| Message::parse(&r.payload).ok().map(Message::into_owned))
        .filter(|m| m.message_type() == Some(mt))
        .collect()
}

fn control<'m>(m: &'m Message<'static>) -> &'m telcp::l2tp::wire::ControlMessage<'static> {
    match m {
        Message::Control(c) => c,
        Message::Data(_) => panic!("data"),
    }
}

fn feed_pool(sim: &mut Sim, contact: NodeId, loads: &[(usize, u32)]) {
    let lns = sim.node_mut::<Lns>(contact);
    for (i, used) in loads {
        lns.pool
            .update(ip(POOL[*i]), MemberState::Up, *used, 100, *used as u8);
    }
}

fn open(sim: &mut Sim, lac: NodeId) -> CallId {
    let now = sim.now();
    sim.node_mut::<Lac>(lac).open_session(now).unwrap()
}

/// Runs until the call is up on the LAC and its ICCN reached the LNS `at` (at most 90 s, the
/// retransmission span of `max_retries` 10): under loss a tunnel's set-up may take its
/// retransmissions (RFC 2661 5.8: a control message is retransmitted, the interval doubling,
/// until acknowledged; seed 698 lost the pool's acknowledgement of the SCCCN three times and the
/// SCCCN twice, the call up after 30 s).
fn run_until_up(w: &mut World, call: CallId, at: &str) {
    let lac = w.lac;
    let up = w
        .sim
        .run_until_cond(Duration::from_millis(100), Duration::from_secs(90), |s| {
            s.node_mut::<Lac>(lac).session_of(call).is_some()
                && s.trace().iter().any(|r| {
                    r.to == addr(at)
                        && r.fate == Fate::Delivered
                        && Message::parse(&r.payload)
                            .is_ok_and(|m| m.message_type() == Some(MessageType::ICCN))
                })
        });
    assert!(up, "call {call:?} not up");
    // The last acknowledgements and events arrive; the test judges no earlier than 30 s in (past
    // the contact's `redirect_hold`, 10 s, when the LAC's CDN was lost).
    let judge = Duration::from_secs(30).max(w.sim.elapsed() + Duration::from_secs(1));
    w.sim.run_for(judge - w.sim.elapsed());
}

/// Claims 1-3: the LAC asks the contact LNS (ICRQ with LoadBalanceCapable); the contact can serve
/// it and establishes it: SessionUp on both sides, over a lossy network.
#[test]
fn claims_1_2_3_contact_serves_when_not_overloaded() {
    common::for_each_seed(common::seed_range(common::seeds(5)), |seed| {
        let mut w = world(seed, true, lac_config(seed), lns_config(seed + 100));
        let call = open(&mut w.sim, w.lac);
        run_until_up(&mut w, call, "10.0.0.1");
        let lev = lac_events(&mut w.sim, w.lac);
        let cev = lns_events(&mut w.sim, w.contact);
        assert_eq!(session_ups(&lev), 1, "seed {seed}: {lev:?}");
        assert_eq!(session_ups(&cev), 1, "seed {seed}: {cev:?}");
        assert!(
            lev.iter()
                .any(|e| matches!(e, Event::SessionUp { call: Some(c), .. } if *c == call))
        );
        let icrqs = delivered(&w.sim, addr("10.0.0.1"), MessageType::ICRQ);
        assert!(!icrqs.is_empty());
        assert!(icrqs.iter().all(|m| control(m).load_balance_capable(32473)));
        // Data flows both ways.
        w.sim
            .node_mut::<Lac>(w.lac)
            .send_ppp(call, b"\xff\x03\xc0\x21hello")
            .unwrap();
        w.sim.run_for(Duration::from_secs(1));
        let got: Vec<_> =
            std::iter::from_fn(|| w.sim.node_mut::<Lns>(w.contact).poll_data()).collect();
        // Data is not retransmitted: a lossy link may drop it.
        assert!(got.len() <= 2);
    });
}

/// Claim 2: each configured limit makes the contact refuse to serve (here: redirect).
#[test]
fn claim_2_limits_and_policy_decide() {
    type Tweak = fn(&mut Sim, NodeId);
    let tweaks: [(&str, Tweak); 3] = [
        ("load", |s, c| s.node_mut::<Lns>(c).set_load(95)),
        ("policy", |s, c| s.node_mut::<Lns>(c).set_accepting(false)),
        ("sessions", |_, _| {}),
    ];
    for (name, tweak) in tweaks {
        let mut cfg = lns_config(5);
        if name == "sessions" {
            cfg.common.max_sessions = 1;
        }
        let mut w = world(1, false, lac_config(1), cfg);
        feed_pool(&mut w.sim, w.contact, &[(0, 10)]);
        tweak(&mut w.sim, w.contact);
        let first = open(&mut w.sim, w.lac);
        w.sim.run_for(Duration::from_secs(5));
        let second = open(&mut w.sim, w.lac);
        w.sim.run_for(Duration::from_secs(5));
        let lac = w.sim.node_mut::<Lac>(w.lac);
        if name == "sessions" {
            assert_eq!(lac.lns_of(first), Some(addr("10.0.0.1")), "{name}");
        } else {
            assert_eq!(lac.lns_of(first), Some(addr(POOL[0])), "{name}");
        }
        assert_eq!(lac.lns_of(second), Some(addr(POOL[0])), "{name}");
    }
}

/// Claims 4 and 5: overloaded contact answers ICRP with RedirectTarget = the pool LNS with most
/// spare capacity; it keeps no lasting state; the LAC establishes the session there and forwards
/// data there; Redirected { from, to } on the LAC.
#[test]
fn claims_4_5_redirect_to_pool_lns() {
    common::for_each_seed(common::seed_range(common::seeds(5)), |seed| {
        let mut w = world(seed, true, lac_config(seed), lns_config(seed + 100));
        feed_pool(&mut w.sim, w.contact, &[(0, 60), (1, 10), (2, 30)]);
        w.sim.node_mut::<Lns>(w.contact).set_load(95);
        let call = open(&mut w.sim, w.lac);
        run_until_up(&mut w, call, POOL[1]);
        let lev = lac_events(&mut w.sim, w.lac);
        assert!(
            lev.contains(&Event::Redirected {
                call,
                from: ip("10.0.0.1"),
                to: ip(POOL[1])
            }),
            "seed {seed}: {lev:?}"
        );
        assert_eq!(session_ups(&lev), 1, "seed {seed}: {lev:?}");
        assert_eq!(session_ups(&lns_events(&mut w.sim, w.pool[1])), 1);
        assert_eq!(session_ups(&lns_events(&mut w.sim, w.contact)), 0);
        // The ICRP carried the vendor AVP with M=0.
        let icrps = delivered(&w.sim, addr("10.0.9.1"), MessageType::ICRP);
        let redirect = icrps
            .iter()
            .find(|m| control(m).redirect_target(32473).is_some())
            .unwrap();
        let avp = control(redirect)
            .avps
            .iter()
            .find(|a| a.key().0 == 32473)
            .unwrap();
        assert!(!avp.mandatory);
        // No lasting state at the contact.
        let contact = w.sim.node_mut::<Lns>(w.contact);
        assert_eq!(contact.pending_redirects(), 0, "seed {seed}");
        assert_eq!(contact.session_count(), 0);
        // Data goes to the pool LNS.
        let lac = w.sim.node_mut::<Lac>(w.lac);
        assert_eq!(lac.lns_of(call), Some(addr(POOL[1])));
        for _ in 0..20 {
            lac.send_ppp(call, b"\xff\x03\x00\x21payload").unwrap();
        }
        w.sim.run_for(Duration::from_secs(1));
        let got = std::iter::from_fn(|| w.sim.node_mut::<Lns>(w.pool[1]).poll_data()).count();
        assert!(got > 10, "seed {seed}: {got}");
        assert_eq!(w.sim.node_mut::<Lns>(w.contact).poll_data(), None);
    });
}

/// Claim 4, tunnel level: SCCRQ with LoadBalanceCapable; the overloaded contact answers the SCCRQ
/// itself with the RedirectTarget (StopCCN) and keeps no tunnel.
#[test]
fn claim_4_tunnel_level_redirect() {
    let mut lc = lac_config(3);
    lc.tunnel_level_request = true;
    let mut w = world(3, true, lc, lns_config(4));
    feed_pool(&mut w.sim, w.contact, &[(2, 5)]);
    w.sim.node_mut::<Lns>(w.contact).set_load(99);
    let call = open(&mut w.sim, w.lac);
    w.sim.run_for(Duration::from_secs(30));
    let lev = lac_events(&mut w.sim, w.lac);
    assert_redirected_and_up(&lev, call, 2);
    assert_eq!(w.sim.node_mut::<Lns>(w.contact).tunnel_count(), 0);
    let sccrqs = delivered(&w.sim, addr("10.0.0.1"), MessageType::SCCRQ);
    assert!(
        sccrqs
            .iter()
            .all(|m| control(m).load_balance_capable(32473))
    );
}

/// Claim 5: bounded redirection: never back to an LNS that redirected the call, at most
/// `max_redirects` hops.
#[test]
fn claim_5_redirection_is_bounded() {
    // Contact redirects to pool0, which (overloaded, contact role) redirects back to the contact.
    let mut w = world(9, false, lac_config(9), lns_config(10));
    feed_pool(&mut w.sim, w.contact, &[(0, 5)]);
    w.sim.node_mut::<Lns>(w.contact).set_load(99);
    {
        let p0 = w.sim.node_mut::<Lns>(w.pool[0]);
        p0.set_load(99);
        p0.pool.update(ip("10.0.0.1"), MemberState::Up, 0, 100, 0);
    }
    let call = open(&mut w.sim, w.lac);
    w.sim.run_for(Duration::from_secs(30));
    let lev = lac_events(&mut w.sim, w.lac);
    let redirects = lev
        .iter()
        .filter(|e| matches!(e, Event::Redirected { .. }))
        .count();
    assert_eq!(redirects, 1, "{lev:?}");
    assert!(
        lev.iter()
            .any(|e| matches!(e, Event::SessionDown { call: Some(c), .. } if *c == call)),
        "{lev:?}"
    );
    assert_eq!(w.sim.node_mut::<Lac>(w.lac).call_count(), 0);

    // A chain of distinct LNSs is cut at max_redirects.
    let mut lc = lac_config(11);
    lc.max_redirects = 1;
    let mut w = world(11, false, lc, lns_config(12));
    feed_pool(&mut w.sim, w.contact, &[(0, 5)]);
    w.sim.node_mut::<Lns>(w.contact).set_load(99);
    {
        let p0 = w.sim.node_mut::<Lns>(w.pool[0]);
        p0.set_load(99);
        p0.pool.update(ip(POOL[1]), MemberState::Up, 0, 100, 0);
    }
    let call = open(&mut w.sim, w.lac);
    w.sim.run_for(Duration::from_secs(30));
    let lev = lac_events(&mut w.sim, w.lac);
    assert_eq!(
        lev.iter()
            .filter(|e| matches!(e, Event::Redirected { .. }))
            .count(),
        1
    );
    assert!(
        lev.iter()
            .any(|e| matches!(e, Event::SessionDown { call: Some(c), .. } if *c == call))
    );
    assert_eq!(session_ups(&lns_events(&mut w.sim, w.pool[1])), 0);
}

/// Claim 6: the contact selects among Up, not-overloaded pool LNSs by spare capacity; with none
/// available it refuses with CDN result 4.
#[test]
fn claim_6_selection_and_empty_pool() {
    let mut w = world(4, true, lac_config(4), lns_config(5));
    {
        let c = w.sim.node_mut::<Lns>(w.contact);
        c.set_load(95);
        c.pool.update(ip(POOL[0]), MemberState::Down, 0, 100, 0);
        c.pool.update(ip(POOL[1]), MemberState::Up, 95, 100, 95);
        c.pool.update(ip(POOL[2]), MemberState::Up, 50, 100, 50);
    }
    let call = open(&mut w.sim, w.lac);
    w.sim.run_for(Duration::from_secs(30));
    assert_eq!(
        w.sim.node_mut::<Lac>(w.lac).lns_of(call),
        Some(addr(POOL[2]))
    );

    let mut w = world(5, true, lac_config(5), lns_config(6));
    w.sim.node_mut::<Lns>(w.contact).set_load(95);
    let call = open(&mut w.sim, w.lac);
    w.sim.run_for(Duration::from_secs(30));
    let lev = lac_events(&mut w.sim, w.lac);
    let down = lev
        .iter()
        .find_map(|e| match e {
            Event::SessionDown {
                call: Some(c),
                result,
                ..
            } if *c == call => Some(result.clone()),
            _ => None,
        })
        .expect("call refused");
    assert_eq!(down.unwrap().result.0, 4);
}

/// Claim 7: a LAC that did not say LoadBalanceCapable never gets the vendor AVP; by default it is
/// refused plainly (CDN 4); with standard_redirect it gets CDN Result 2 / Error 9 with the address
/// list, and our LAC follows it.
#[test]
fn claim_7_standard_redirect_for_plain_lacs() {
    let mut lc = lac_config(6);
    lc.advertise_load_balance = false;
    let mut w = world(6, true, lc.clone(), lns_config(7));
    feed_pool(&mut w.sim, w.contact, &[(0, 5)]);
    w.sim.node_mut::<Lns>(w.contact).set_load(95);
    let call = open(&mut w.sim, w.lac);
    w.sim.run_for(Duration::from_secs(30));
    let lev = lac_events(&mut w.sim, w.lac);
    assert!(lev.iter().any(|e| matches!(e, Event::SessionDown { call: Some(c), result: Some(r), .. } if *c == call && r.result.0 == 4)), "{lev:?}");
    let to_lac: Vec<_> = w
        .sim
        .trace()
        .iter()
        .filter(|r| r.to == addr("10.0.9.1"))
        .filter_map(|r| Message::parse(&r.payload).ok().map(Message::into_owned))
        .collect();
    assert!(to_lac.iter().all(|m| match m {
        Message::Control(c) => c.avps.iter().all(|a| a.key().0 != 32473),
        _ => true,
    }));

    let mut cc = lns_config(8);
    cc.standard_redirect = true;
    let mut w = world(7, true, lc, cc);
    feed_pool(&mut w.sim, w.contact, &[(1, 5)]);
    w.sim.node_mut::<Lns>(w.contact).set_load(95);
    let call = open(&mut w.sim, w.lac);
    w.sim.run_for(Duration::from_secs(30));
    let lev = lac_events(&mut w.sim, w.lac);
    assert_redirected_and_up(&lev, call, 1);
    let cdns = delivered(&w.sim, addr("10.0.9.1"), MessageType::CDN);
    let rc = control(&cdns[0]).result_code().unwrap().clone();
    assert_eq!(rc.error_code(), Some(ErrorCode::TRY_ANOTHER_DIRECTED));
    assert_eq!(rc.directed_addresses(), Some(vec![ip(POOL[1])]));
    assert!(
        cdns.iter()
            .all(|m| control(m).avps.iter().all(|a| a.key().0 != 32473))
    );
}

/// A minimal scripted LNS that answers every ICRQ with CDN Result 2 / Error 7 "try another".
struct TryAnotherLns {
    out: Vec<telcp::Transmit>,
    ns: u16,
    nr: u16,
    peer_tunnel: u16,
}

impl telcp::Node for TryAnotherLns {
    fn handle_datagram(
        &mut self,
        _now: Instant,
        from: SocketAddr,
        _to: SocketAddr,
        data: &[u8],
    ) -> Result<(), telcp::Error> {
        use telcp::l2tp::wire::{ControlMessage as C, ResultCode, ResultCodeValue};
        let Ok(Message::Control(m)) = Message::parse(data) else {
            return Ok(());
        };
        let Some(mt) = m.message_type() else {
            return Ok(());
        };
        if m.header.ns != self.nr {
            return Ok(());
        }
        self.nr = self.nr.wrapping_add(1);
        let mut reply = match mt {
            MessageType::SCCRQ => {
                self.peer_tunnel = m.assigned_tunnel_id().unwrap_or(0);
                C::sccrp(self.peer_tunnel, 42, b"other".as_slice(), 3)
            }
            MessageType::ICRQ => C::cdn(
                self.peer_tunnel,
                m.assigned_session_id().unwrap_or(0),
                0,
                ResultCode::with_error(
                    ResultCodeValue::CDN_GENERAL_ERROR,
                    ErrorCode::TRY_ANOTHER,
                    b"".as_slice(),
                ),
            ),
            _ => C::zlb(self.peer_tunnel, self.ns, self.nr),
        };
        if !reply.is_zlb() {
            reply.header.ns = self.ns;
            self.ns = self.ns.wrapping_add(1);
        }
        reply.header.nr = self.nr;
        self.out
            .push(telcp::Transmit::to(from, Message::Control(reply).to_vec()));
        Ok(())
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self) -> Option<telcp::Transmit> {
        self.out.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Claim 7, error 7: "try another" from any LNS sends our LAC to its next configured alternate.
#[test]
fn claim_7_try_another_uses_alternates() {
    let now = Instant::now();
    let mut sim = Sim::new(8, now);
    let mut lc = LacConfig::new(addr("10.0.0.1"));
    lc.common = common(8);
    lc.alternates = vec![addr("10.0.0.1"), addr(POOL[2])];
    let lac = sim.add_node(
        "lac",
        &[addr("10.0.9.1")],
        None,
        Box::new(Lac::new(lc, now).unwrap()),
    );
    let fake = TryAnotherLns {
        out: Vec::new(),
        ns: 0,
        nr: 0,
        peer_tunnel: 0,
    };
    sim.add_node("other", &[addr("10.0.0.1")], None, Box::new(fake));
    let pool2 = sim.add_node(
        "pool2",
        &[addr(POOL[2])],
        None,
        Box::new(Lns::new(lns_config(3), now).unwrap()),
    );
    let call = open(&mut sim, lac);
    sim.run_for(Duration::from_secs(30));
    let lev = lac_events(&mut sim, lac);
    // The alternate equal to the refusing LNS is skipped.
    assert_redirected_and_up(&lev, call, 2);
    assert_eq!(session_ups(&lns_events(&mut sim, pool2)), 1);
}

fn health(me: u32, role: Role, peers: &[(u32, &str)]) -> LnsMembership {
    let peers = peers.iter().map(|(n, a)| (HNode(*n), addr(a))).collect();
    LnsMembership::new(HNode(me), role, ClusterKey::new(b"pool cluster key"), peers)
}

/// Claim 6 with real heartbeats: pool LNSs report their load to the contact over `health`; the
/// contact picks the Up, not overloaded one with most spare capacity; a failed one is skipped once
/// Down; with none left the call is refused with CDN result 4.
#[test]
fn claim_6_pool_fed_by_heartbeats() {
    let now = Instant::now();
    let mut sim = Sim::new(77, now);
    sim.set_default_link(LinkConfig::lossy(0.1, 0.05, 0.05));
    let lac = sim.add_node(
        "lac",
        &[addr("10.0.9.1")],
        None,
        Box::new(Lac::new(lac_config(1), now).unwrap()),
    );
    let mut cc = lns_config(2);
    cc.health.interval = Duration::from_millis(500);
    cc.membership = Some(health(
        100,
        Role::CONTACT_LNS,
        &[(0, POOL[0]), (1, POOL[1]), (2, POOL[2])],
    ));
    let contact = sim.add_node(
        "contact",
        &[addr("10.0.0.1")],
        None,
        Box::new(Lns::new(cc, now).unwrap()),
    );
    let mut pool = Vec::new();
    for (i, cap) in [(0usize, 1000usize), (1, 300), (2, 200)] {
        let mut c = lns_config(3 + i as u64);
        c.common.max_sessions = cap;
        c.health.interval = Duration::from_millis(500);
        c.membership = Some(health(i as u32, Role::LNS, &[(100, "10.0.0.1")]));
        pool.push(sim.add_node(
            format!("pool{i}"),
            &[addr(POOL[i])],
            None,
            Box::new(Lns::new(c, now).unwrap()),
        ));
    }
    // pool0 has most capacity but reports itself overloaded.
    sim.node_mut::<Lns>(pool[0]).set_load(95);
    sim.node_mut::<Lns>(contact).set_load(95);
    sim.run_for(Duration::from_secs(3));
    let call = open(&mut sim, lac);
    sim.run_for(Duration::from_secs(20));
    assert_eq!(sim.node_mut::<Lac>(lac).lns_of(call), Some(addr(POOL[1])));
    assert_eq!(session_ups(&lns_events(&mut sim, pool[1])), 1);
    // pool1 fails: once Down at the contact, calls go to pool2.
    sim.crash(pool[1]);
    sim.run_for(Duration::from_secs(5));
    let call = open(&mut sim, lac);
    sim.run_for(Duration::from_secs(20));
    assert_eq!(sim.node_mut::<Lac>(lac).lns_of(call), Some(addr(POOL[2])));
    // Nobody left: CDN result 4.
    sim.crash(pool[2]);
    sim.run_for(Duration::from_secs(5));
    let _ = lac_events(&mut sim, lac);
    let call = open(&mut sim, lac);
    sim.run_for(Duration::from_secs(20));
    let lev = lac_events(&mut sim, lac);
    assert!(
        lev.iter().any(|e| matches!(e, Event::SessionDown { call: Some(c), result: Some(r), .. } if *c == call && r.result.0 == 4)),
        "{lev:?}"
    );
}

/// Claim 4 with a pool LNS whose heartbeats go to a cluster address of its own, apart from its
/// service address (`LnsMembership::services`): the contact LNS exchanges heartbeats with it at
/// the cluster address and redirects the LAC (ICRP RedirectTarget) to the service address,
/// where the LAC's call comes up; the pool view knows the member by its service address only.
/// A services entry naming no peer, a node twice, or an unspecified address is refused. Failed
/// with the services ignored (the LAC sent to the cluster address) and with the checks off.
#[test]
fn claim_4_redirect_to_the_service_address_of_a_pool_lns_apart_from_its_cluster_address() {
    use telcp::l2tp::{ConfigError, ConfigField};
    let now = Instant::now();
    let mut sim = Sim::new(78, now);
    sim.set_default_link(LinkConfig::lossy(0.1, 0.05, 0.05));
    let lac = sim.add_node(
        "lac",
        &[addr("10.0.9.1")],
        None,
        Box::new(Lac::new(lac_config(1), now).unwrap()),
    );
    let (service, cluster) = ("10.0.1.2", "10.0.1.12");
    let contact_config = |services: Vec<(HNode, IpAddr)>| {
        let mut c = lns_config(2);
        c.health.interval = Duration::from_millis(500);
        let mut m = health(100, Role::CONTACT_LNS, &[(1, cluster)]);
        m.services = services;
        c.membership = Some(m);
        c
    };
    let contact = sim.add_node(
        "contact",
        &[addr("10.0.0.1")],
        None,
        Box::new(Lns::new(contact_config(vec![(HNode(1), ip(service))]), now).unwrap()),
    );
    sim.node_mut::<Lns>(contact).set_load(95);
    let mut pc = lns_config(3);
    pc.health.interval = Duration::from_millis(500);
    pc.membership = Some(health(1, Role::LNS, &[(100, "10.0.0.1")]));
    // Its cluster address first: its heartbeats (no source of their own) leave from it.
    let pool = sim.add_node(
        "pool",
        &[addr(cluster), addr(service)],
        None,
        Box::new(Lns::new(pc, now).unwrap()),
    );
    sim.run_for(Duration::from_secs(3));
    let view = sim.node_mut::<Lns>(contact).pool_view();
    assert_eq!(view.state(ip(service)), Some(MemberState::Up), "heard");
    assert_eq!(view.node_at(ip(service)), Some(HNode(1)));
    assert_eq!(view.node_at(ip(cluster)), None);
    let call = open(&mut sim, lac);
    sim.run_for(Duration::from_secs(20));
    assert_eq!(sim.node_mut::<Lac>(lac).lns_of(call), Some(addr(service)));
    assert_eq!(session_ups(&lns_events(&mut sim, pool)), 1);

    let refused = |services| Lns::new(contact_config(services), now).err();
    assert_eq!(
        refused(vec![(HNode(7), ip(service))]),
        Some(ConfigError::OutOfRange(ConfigField::MembershipServices)),
        "no such peer"
    );
    assert_eq!(
        refused(vec![(HNode(1), ip(service)), (HNode(1), ip("10.0.1.3"))]),
        Some(ConfigError::OutOfRange(ConfigField::MembershipServices)),
        "twice"
    );
    assert_eq!(
        refused(vec![(HNode(1), ip("0.0.0.0"))]),
        Some(ConfigError::UnusableAddress {
            field: ConfigField::MembershipServices,
            addr: addr("0.0.0.0"),
        })
    );
}

/// An LNS whose cluster address (heartbeats, replication) is apart from its service address
/// (`LnsMembership::cluster_addr`) sets up no tunnel for an SCCRQ (RFC 2661 5.1: a control
/// message with Tunnel ID 0) arriving at the cluster address: nothing is sent back (no
/// SCCRP, no StopCCN: RFC 2661 has no Result Code for a wrong address, and the LAC's
/// retransmissions end as with an unreachable LNS), no tunnel is kept, the SCCRQ is counted in
/// `Stats::sccrqs_at_cluster_address` and reported as `Unexpected::AtClusterAddress`. The same
/// SCCRQ at the service address is answered with an SCCRP and a tunnel set up, and without a
/// cluster address set apart the cluster address serves as before. Fails with the check
/// removed (an SCCRP from the cluster address).
#[test]
fn an_sccrq_at_the_cluster_address_sets_up_no_tunnel() {
    use telcp::l2tp::{InputError, Unexpected};
    let now = Instant::now();
    let (service, cluster, lac) = (addr("10.0.1.2"), addr("10.0.1.12"), addr("10.0.9.1"));
    let lns = |apart: bool| {
        let mut c = lns_config(5);
        let mut m = health(1, Role::LNS, &[(100, "10.0.0.1")]);
        m.cluster_addr = apart.then_some(cluster);
        c.membership = Some(m);
        Lns::new(c, now).unwrap()
    };
    let sccrq = common::l2tp::control(0, 0, 0, 0, &with_type(1, sccrq_avps(9)));
    let sccrps = |l: &mut Lns| {
        std::iter::from_fn(|| l.poll_transmit())
            .filter(|t| parse_ctl(&t.payload).is_some_and(|c| c.mt() == Some(2)))
            .map(|t| t.src)
            .collect::<Vec<_>>()
    };

    let mut l = lns(true);
    assert_eq!(
        l.handle_datagram(now, lac, cluster, &sccrq),
        Err(InputError::Unexpected(Unexpected::AtClusterAddress))
    );
    assert_eq!(
        l.poll_transmit().map(|t| t.payload),
        None,
        "nothing answers"
    );
    assert_eq!(l.tunnel_count(), 0);
    assert_eq!(l.stats().sccrqs_at_cluster_address, 1);
    // A retransmission: dropped and counted again.
    assert!(l.handle_datagram(now, lac, cluster, &sccrq).is_err());
    assert_eq!(l.stats().sccrqs_at_cluster_address, 2);
    assert_eq!(l.tunnel_count(), 0);
    // At the service address: an SCCRP, from it.
    assert_eq!(l.handle_datagram(now, lac, service, &sccrq), Ok(()));
    assert_eq!(sccrps(&mut l), [Some(service)]);
    assert_eq!(l.tunnel_count(), 1);

    // No cluster address apart: the address serves LACs too.
    let mut l = lns(false);
    assert_eq!(l.handle_datagram(now, lac, cluster, &sccrq), Ok(()));
    assert_eq!(sccrps(&mut l), [Some(cluster)]);
    assert_eq!(l.stats().sccrqs_at_cluster_address, 0);
}

/// Claim 8: a virtual LNS: members share 10.0.5.5 and exchange heartbeats; the lowest-ranked live
/// member is the contact; when it fails and the others see it Down, the next member becomes contact
/// and new calls to the virtual address are served.
#[test]
fn claim_8_virtual_lns_failover() {
    let now = Instant::now();
    let mut sim = Sim::new(21, now);
    sim.set_default_link(LinkConfig::lossy(0.1, 0.05, 0.05));
    let vip = "10.0.5.5";
    let names = ["10.0.5.1", "10.0.5.2", "10.0.5.3"];
    let members: Vec<IpAddr> = names.iter().map(|n| ip(n)).collect();
    let mut ids = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let mut c = lns_config(30 + i as u64);
        c.virtual_lns = Some(VirtualLns {
            virtual_addr: ip(vip),
            members: members.clone(),
            me: i,
        });
        let peers: Vec<(u32, &str)> = (0..3)
            .filter(|j| *j != i)
            .map(|j| (j as u32, names[j]))
            .collect();
        c.health.interval = Duration::from_millis(500);
        c.membership = Some(health(i as u32, Role::LNS, &peers));
        let lns = Lns::new(c, now).unwrap();
        ids.push(sim.add_node(
            format!("m{i}"),
            &[SocketAddr::new(*m, 1701), addr(vip)],
            None,
            Box::new(lns),
        ));
    }
    let mut lc = LacConfig::new(addr(vip));
    lc.common = common(40);
    let lac = sim.add_node(
        "lac",
        &[addr("10.0.9.1")],
        None,
        Box::new(Lac::new(lc, now).unwrap()),
    );
    sim.run_for(Duration::from_secs(3));
    assert!(sim.node_mut::<Lns>(ids[0]).is_contact());
    assert!(!sim.node_mut::<Lns>(ids[1]).is_contact());
    open(&mut sim, lac);
    sim.run_for(Duration::from_secs(20));
    assert_eq!(session_ups(&lns_events(&mut sim, ids[0])), 1);
    // Member 0 fails; the others see it Down through missed heartbeats.
    sim.crash(ids[0]);
    sim.run_for(Duration::from_secs(5));
    assert!(sim.node_mut::<Lns>(ids[1]).is_contact());
    assert!(!sim.node_mut::<Lns>(ids[2]).is_contact());
    let _ = lac_events(&mut sim, lac);
    let call = open(&mut sim, lac);
    // The LAC's tunnel went with member 0: its ICRQ goes unanswered until the tunnel is declared
    // dead (retransmissions exhausted), then the call starts again on a new tunnel.
    sim.run_for(Duration::from_secs(150));
    let lev = lac_events(&mut sim, lac);
    assert!(
        lev.iter()
            .any(|e| matches!(e, Event::SessionUp { call: Some(c), .. } if *c == call)),
        "{lev:?}"
    );
    assert_eq!(session_ups(&lns_events(&mut sim, ids[1])), 1);
    assert_eq!(session_ups(&lns_events(&mut sim, ids[2])), 0);
}

/// Claim 4: if the LAC never sends its CDN (it crashed), the contact's redirect record is freed by
/// the short timer.
#[test]
fn claim_4_redirect_record_freed_by_timer() {
    let mut cc = lns_config(50);
    cc.redirect_hold = Duration::from_secs(3);
    let mut w = world(50, false, lac_config(50), cc);
    feed_pool(&mut w.sim, w.contact, &[(0, 5)]);
    w.sim.node_mut::<Lns>(w.contact).set_load(95);
    // Cut the LAC -> contact direction as soon as the ICRP is out: the CDN never arrives.
    open(&mut w.sim, w.lac);
    w.sim
        .run_until_cond(Duration::from_millis(1), Duration::from_secs(5), |s| {
            s.trace().iter().any(|r| {
                r.to.ip() == ip("10.0.9.1")
                    && Message::parse(&r.payload)
                        .ok()
                        .and_then(|m| m.message_type())
                        == Some(MessageType::ICRP)
            })
        });
    w.sim.crash(w.lac);
    assert_eq!(w.sim.node_mut::<Lns>(w.contact).pending_redirects(), 1);
    w.sim.run_for(Duration::from_secs(4));
    assert_eq!(w.sim.node_mut::<Lns>(w.contact).pending_redirects(), 0);
    assert_eq!(w.sim.node_mut::<Lns>(w.contact).session_count(), 0);
}

/// Claim 5, data both ways: after the redirect, frames from the pool LNS reach the LAC's caller
/// under the same call id.
#[test]
fn claim_5_data_relayed_both_ways_after_redirect() {
    let mut w = world(51, false, lac_config(51), lns_config(52));
    feed_pool(&mut w.sim, w.contact, &[(1, 5)]);
    w.sim.node_mut::<Lns>(w.contact).set_load(95);
    let call = open(&mut w.sim, w.lac);
    w.sim.run_for(Duration::from_secs(10));
    let session = lns_events(&mut w.sim, w.pool[1])
        .into_iter()
        .find_map(|e| match e {
            Event::SessionUp { session, .. } => Some(session),
            _ => None,
        })
        .unwrap();
    w.sim
        .node_mut::<Lns>(w.pool[1])
        .send_ppp(session, b"\xff\x03\xc0\x21down")
        .unwrap();
    w.sim
        .node_mut::<Lac>(w.lac)
        .send_ppp(call, b"\xff\x03\xc0\x21up")
        .unwrap();
    w.sim.run_for(Duration::from_millis(100));
    let d = w.sim.node_mut::<Lac>(w.lac).poll_data().unwrap();
    assert_eq!(d.call, Some(call));
    assert_eq!(&d.frame[..], b"\xff\x03\xc0\x21down");
    assert_eq!(
        &w.sim.node_mut::<Lns>(w.pool[1]).poll_data().unwrap().frame[..],
        b"\xff\x03\xc0\x21up"
    );
}
