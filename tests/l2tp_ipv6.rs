//! L2TP over IPv6 transport (issue 14 item 6): a full redirect scenario with every address IPv6
//! (the LAC, the contact LNS, the pool LNSs), the redirect target carrying an IPv6 address, PPP
//! frames both ways, over the simulator with loss, duplication and reordering. Three ways to be
//! redirected: the vendor `RedirectTarget` AVP in ICRP (an IPv6 address, 16 octets), CDN Result 2
//! / Error 9 with an IPv6 address in the error message (RFC 2661 4.4.2), and the tunnel-level
//! StopCCN with `RedirectTarget`; and a tunnel plan of IPv6 endpoints. `TELCP_SEEDS` sets the
//! number of seeds (default 8), `TELCP_FIRST` the first (default 0).
#![cfg(feature = "sim")]

mod common;

use common::l2tp::lossy_link;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use telcp::l2tp::lac::PlanEndpoint;
use telcp::l2tp::pool::MemberState;
use telcp::l2tp::wire::{Message, MessageType};
use telcp::l2tp::{CallId, CallRequest, Event, Lac, LacConfig, Lns, LnsConfig, TunnelPlan};
use telcp::sim::{NodeId, Sim};

fn seeds() -> std::ops::Range<u64> {
    common::seed_range(common::seeds(8))
}

const LAC: &str = "2001:db8:9::1";
const CONTACT: &str = "2001:db8::1";
const POOL: [&str; 2] = ["2001:db8:1::1", "2001:db8:1::2"];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `[ip]:1701`.
fn addr(s: &str) -> SocketAddr {
    SocketAddr::new(ip(s), 1701)
}

fn common(seed: u64) -> telcp::l2tp::Config {
    telcp::l2tp::Config {
        seed: telcp::io::seed(seed),
        max_retries: 10,
        ..Default::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Way {
    /// ICRP with the vendor RedirectTarget AVP.
    VendorIcrp,
    /// CDN Result 2 / Error 9 (the LAC does not advertise LoadBalanceCapable).
    Error9,
    /// StopCCN answering a tunnel-level request (SCCRQ with LoadBalanceCapable).
    TunnelLevel,
}

struct World {
    sim: Sim,
    lac: NodeId,
    contact: NodeId,
    pool: Vec<NodeId>,
}

/// The IPv6 world: LAC, overloaded contact LNS (its pool: POOL[1] least loaded), two pool LNSs.
fn world(seed: u64, way: Way) -> World {
    let mut sim = Sim::new(seed, std::time::Instant::now());
    sim.set_default_link(lossy_link());
    let mut lac_cfg = LacConfig::new(addr(CONTACT));
    lac_cfg.common = common(seed);
    lac_cfg.advertise_load_balance = way != Way::Error9;
    lac_cfg.tunnel_level_request = way == Way::TunnelLevel;
    let now = sim.now();
    let lac = Lac::new(lac_cfg, now).unwrap();
    let lac = sim.add_node("lac", &[addr(LAC)], None, Box::new(lac));
    let lns = |s: u64, standard: bool| {
        let cfg = LnsConfig {
            common: common(s),
            standard_redirect: standard,
            ..Default::default()
        };
        Box::new(Lns::new(cfg, now).unwrap())
    };
    let contact = sim.add_node("contact", &[addr(CONTACT)], None, lns(seed + 100, true));
    let pool = POOL
        .iter()
        .enumerate()
        .map(|(i, a)| sim.add_node(*a, &[addr(a)], None, lns(seed * 7 + i as u64, false)))
        .collect();
    let c = sim.node_mut::<Lns>(contact);
    c.pool.update(ip(POOL[0]), MemberState::Up, 70, 100, 70);
    c.pool.update(ip(POOL[1]), MemberState::Up, 10, 100, 10);
    c.set_load(95);
    World {
        sim,
        lac,
        contact,
        pool,
    }
}

/// PPP frames both ways on the call's session: data messages are not retransmitted (RFC 2661
/// 5.8), so of 20 frames each way over the lossy link at least 10 arrive, each intact.
fn ppp_both_ways(w: &mut World, call: CallId, at: NodeId) {
    let lcp = |i: u8| vec![0xff, 0x03, 0xc0, 0x21, 0x09, i, 0x00, 0x08, 0, 0, 0, i];
    for i in 0..20 {
        w.sim
            .node_mut::<Lac>(w.lac)
            .send_ppp(call, &lcp(i))
            .unwrap();
    }
    w.sim.run_for(Duration::from_secs(1));
    let got: Vec<_> = std::iter::from_fn(|| w.sim.node_mut::<Lns>(at).poll_data()).collect();
    assert!(got.len() >= 10, "{} frames at the LNS", got.len());
    let session = got[0].session;
    for d in &got {
        assert_eq!(d.session, session);
        assert_eq!(&d.frame[..], &lcp(d.frame[5])[..]);
    }
    for i in 0..20 {
        w.sim
            .node_mut::<Lns>(at)
            .send_ppp(session, &lcp(100 + i))
            .unwrap();
    }
    w.sim.run_for(Duration::from_secs(1));
    let got: Vec<_> = std::iter::from_fn(|| w.sim.node_mut::<Lac>(w.lac).poll_data()).collect();
    assert!(got.len() >= 10, "{} frames at the LAC", got.len());
    for d in &got {
        assert_eq!(d.call, Some(call));
        assert_eq!(&d.frame[..], &lcp(d.frame[5])[..]);
    }
}

/// The redirecting message the contact LNS sent carried POOL[1]'s IPv6 address: in the vendor
/// AVP (16-octet value), or in the Error 9 list.
fn redirect_on_wire(sim: &Sim, way: Way) {
    let from_contact: Vec<_> = sim
        .trace()
        .iter()
        .filter(|r| r.from == addr(CONTACT) && r.to == addr(LAC))
        .filter_map(|r| Message::parse(&r.payload).ok().map(Message::into_owned))
        .filter_map(|m| match m {
            Message::Control(c) => Some(c),
            Message::Data(_) => None,
        })
        .collect();
    let target = ip(POOL[1]);
    let found = from_contact.iter().any(|c| match way {
        Way::VendorIcrp => {
            c.message_type() == Some(MessageType::ICRP) && c.redirect_target(32473) == Some(target)
        }
        Way::TunnelLevel => {
            c.message_type() == Some(MessageType::STOPCCN)
                && c.redirect_target(32473) == Some(target)
        }
        Way::Error9 => {
            c.message_type() == Some(MessageType::CDN)
                && c.result_code()
                    .and_then(|r| r.directed_addresses())
                    .is_some_and(|a| a == [target])
        }
    });
    assert!(found, "{way:?}: {from_contact:?}");
}

#[test]
fn ipv6_redirect_end_to_end() {
    for way in [Way::VendorIcrp, Way::Error9, Way::TunnelLevel] {
        for seed in seeds() {
            let mut w = world(seed, way);
            let now = w.sim.now();
            let call = w.sim.node_mut::<Lac>(w.lac).open_session(now).unwrap();
            w.sim.run_for(Duration::from_secs(60));
            let ev: Vec<Event> = std::iter::from_fn(|| w.sim.poll_event_of::<Lac>(w.lac)).collect();
            assert!(
                ev.contains(&Event::Redirected {
                    call,
                    from: ip(CONTACT),
                    to: ip(POOL[1])
                }),
                "{way:?} seed {seed}: {ev:?}"
            );
            assert!(
                ev.iter().any(|e| matches!(e,
                    Event::SessionUp { call: Some(c), peer, .. }
                        if *c == call && *peer == addr(POOL[1]))),
                "{way:?} seed {seed}: {ev:?}"
            );
            let pev: Vec<Event> =
                std::iter::from_fn(|| w.sim.poll_event_of::<Lns>(w.pool[1])).collect();
            assert!(
                pev.iter()
                    .any(|e| matches!(e, Event::SessionUp { peer, .. } if *peer == addr(LAC))),
                "{way:?} seed {seed}: {pev:?}"
            );
            assert_eq!(w.sim.node_mut::<Lns>(w.contact).session_count(), 0);
            redirect_on_wire(&w.sim, way);
            let pool1 = w.pool[1];
            ppp_both_ways(&mut w, call, pool1);
        }
    }
}

/// A tunnel plan of IPv6 endpoints: the contact LNS (preference 1) redirects inside the plan to
/// POOL[1]; the call comes up there with PPP both ways.
#[test]
fn ipv6_plan_with_redirect() {
    for seed in seeds() {
        let mut w = world(seed, Way::VendorIcrp);
        let plan = TunnelPlan::new(vec![
            PlanEndpoint::new(addr(CONTACT)).preference(1),
            PlanEndpoint::new(addr(POOL[0])).preference(2),
        ])
        .unwrap();
        let now = w.sim.now();
        let call = w
            .sim
            .node_mut::<Lac>(w.lac)
            .open_call(now, CallRequest::with_plan(plan))
            .unwrap();
        w.sim.run_for(Duration::from_secs(60));
        let lac = w.sim.node_mut::<Lac>(w.lac);
        assert_eq!(lac.lns_of(call), Some(addr(POOL[1])), "seed {seed}");
        assert!(lac.session_of(call).is_some(), "seed {seed}");
        let pool1 = w.pool[1];
        ppp_both_ways(&mut w, call, pool1);
    }
}
