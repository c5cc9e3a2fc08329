//! The sans-IO endpoint contract (`telcp::Endpoint`), run over every endpoint type of the crate.
//!
//! Checked for each, generically: the call order (handle, drain transmits and events,
//! `poll_timeout`, `handle_timeout`); an early `handle_timeout` is a no-op (no transmit, no event,
//! the same deadline); after `handle_timeout(now)` the next deadline is never in the past; time
//! going backwards neither panics nor moves a deadline backwards; and a flood of inputs fed
//! without draining leaves at most the configured number of queued transmits and events, with a
//! drop (or suppression) counter that moved.

use ipnetwork::Ipv4Network;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use telcp::Endpoint;
use telcp::health::{ClusterKey, Monitor, MonitorConfig, NodeId as HealthId, Role};
use telcp::l2tp::{Lac, LacConfig, Lns, LnsConfig};
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::{
    ClientConfig, ForeignAgent, ForeignAgentConfig, HomeAgent, HomeAgentConfig, Member,
    MobileNodeClient,
};
use telcp::steering::VidLayout;
use telcp::steering::line::{LineConfig, LineInterface};
use telcp::steering::processor::{Processor, ProcessorConfig};
use telcp::steering::switch::{SwitchConfig, SwitchProcessor};

/// The seed every endpoint of this file draws from.
fn seed() -> Option<[u8; 32]> {
    telcp::io::seed(13)
}

fn sock(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port))
}

/// One endpoint type under the contract.
struct Case<T: Endpoint> {
    name: &'static str,
    make: fn(Instant) -> T,
    /// One input of the flood (a datagram or a command), the `i`-th, at `now`.
    flood: fn(&mut T, Instant, u32),
    /// The most transmits plus events the endpoint may hold after any flood.
    bound: usize,
    /// The counter a flood must move (drops, suppressions), when the endpoint has one.
    drops: Option<fn(&T::Stats) -> u64>,
}

fn drain<T: Endpoint>(e: &mut T) -> (usize, usize) {
    let t = std::iter::from_fn(|| e.poll_transmit()).count();
    let v = std::iter::from_fn(|| e.poll_event()).count();
    (t, v)
}

/// Runs the endpoint's own timers from `t0` for `span`, in the contract's call order; returns
/// the last instant reached.
fn run_timers<T: Endpoint>(e: &mut T, t0: Instant, span: Duration) -> Instant {
    let end = t0 + span;
    let mut now = t0;
    for _ in 0..10_000 {
        drain(e);
        let Some(d) = e.poll_timeout() else { break };
        if d > end {
            break;
        }
        now = now.max(d);
        e.handle_timeout(now);
        drain(e);
        // "Never in the past": after handle_timeout(now), nothing is due at or before now.
        if let Some(next) = e.poll_timeout() {
            assert!(next > now, "deadline {:?} not after now", next - now);
        }
    }
    now
}

fn contract<T: Endpoint>(case: Case<T>) {
    let name = case.name;
    let t0 = Instant::now() + Duration::from_secs(1000);
    let mut e = (case.make)(t0);
    // Call order: input, drain, deadline, timers.
    (case.flood)(&mut e, t0, 0);
    drain(&mut e);
    let now = run_timers(&mut e, t0, Duration::from_secs(30));

    // An early handle_timeout is a no-op.
    if let Some(d) = e.poll_timeout() {
        assert!(d > now, "{name}: a deadline in the past");
        let early = now + (d - now) / 2;
        e.handle_timeout(early);
        assert_eq!(
            drain(&mut e),
            (0, 0),
            "{name}: early handle_timeout did something"
        );
        assert_eq!(
            e.poll_timeout(),
            Some(d),
            "{name}: early handle_timeout moved the deadline"
        );
    }

    // Time going backwards: no panic, no deadline moved backwards, nothing sent.
    let before = e.poll_timeout();
    e.handle_timeout(t0 - Duration::from_secs(500));
    assert_eq!(drain(&mut e), (0, 0), "{name}: a timeout in the past fired");
    assert_eq!(
        e.poll_timeout(),
        before,
        "{name}: a past now moved a deadline"
    );
    let _ = e.handle_datagram(
        t0 - Duration::from_secs(500),
        sock(203, 0, 113, 9, 9),
        sock(192, 0, 2, 1, 9),
        &[0xff; 12],
    );
    drain(&mut e);
    if let (Some(b), Some(a)) = (before, e.poll_timeout()) {
        assert!(
            a >= b,
            "{name}: garbage from the past moved a deadline backwards"
        );
    }

    // Bounded queues: a flood fed without draining.
    let later = now + Duration::from_secs(1);
    let drops_before = case.drops.map(|f| f(&e.stats()));
    for i in 1..20_000 {
        (case.flood)(&mut e, later, i);
    }
    let (t, v) = drain(&mut e);
    assert!(
        t + v <= case.bound,
        "{name}: {t} transmits and {v} events queued, bound {}",
        case.bound
    );
    if let (Some(f), Some(b)) = (case.drops, drops_before) {
        assert!(f(&e.stats()) > b, "{name}: the flood moved no drop counter");
    }
    run_timers(&mut e, later, Duration::from_secs(60));
}

// ---- L2TP (RFC 2661) ----

fn lac(now: Instant) -> Lac {
    let mut cfg = LacConfig::new(sock(10, 0, 0, 1, 1701));
    cfg.common.seed = seed();
    cfg.max_calls = 64;
    cfg.common.max_events = 256;
    Lac::new(cfg, now).expect("valid LAC config")
}

/// An SCCRQ as a LAC sends it (RFC 2661 section 6.1).
fn sccrq(now: Instant) -> Vec<u8> {
    let mut l = lac(now);
    let _ = l.open_session(now);
    let t = l
        .poll_transmit()
        .expect("the LAC opens a tunnel with an SCCRQ");
    t.payload.to_vec()
}

fn lns(now: Instant) -> Lns {
    let mut cfg = LnsConfig::default();
    cfg.common.seed = seed();
    cfg.common.max_tunnels = 4;
    cfg.common.max_pending_tunnels = 4;
    cfg.common.max_events = 256;
    Lns::new(cfg, now).expect("valid LNS config")
}

#[test]
fn lac_keeps_the_contract() {
    contract(Case {
        name: "Lac",
        make: lac,
        flood: |l, now, _| {
            let _ = l.open_session(now);
        },
        // max_calls 64 calls on one tunnel: one SCCRQ, and 256 queued events.
        bound: 1 + 256,
        drops: None,
    });
}

#[test]
fn lns_keeps_the_contract() {
    contract(Case {
        name: "Lns",
        make: lns,
        flood: |l, now, i| {
            let from = sock(10, 9, (i >> 8) as u8, i as u8, 1701);
            let _ = l.handle_datagram(now, from, sock(10, 0, 0, 1, 1701), &sccrq(now));
        },
        // 4 tunnels answered, then StopCCN refusals within the refusal rate limit (RFC 2661
        // section 5.7: an SCCRQ that cannot be served is answered with StopCCN); 256 queued
        // events.
        bound: 4 + 4 + 200 + 256,
        drops: Some(|s| s.refusals_suppressed),
    });
}

// ---- Mobile IPv4 (RFC 5944) ----

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const WALL: Duration = Duration::from_secs(1_700_000_000);

fn mn_cfg(k: u8) -> ClientConfig {
    ClientConfig {
        home_address: Ipv4Addr::new(10, 0, 5, k),
        nai: None,
        sa: SecurityAssociation::new(
            0x1000 + u32::from(k),
            AuthAlgorithm::HmacMd5,
            format!("mn-ha key of mn {k}").into_bytes(),
        ),
        home_agent: SocketAddr::from((VIP, 434)),
        local: sock(198, 51, 100, k, 434),
        via: None,
        lifetime: 600,
        simultaneous: false,
        broadcast: false,
        retransmit: Duration::from_millis(500),
        max_retransmits: 6,
        wall_clock: WALL,
        auto_reregister: false,
    }
}

fn mobile_node(now: Instant) -> MobileNodeClient {
    MobileNodeClient::new(mn_cfg(1), now).expect("valid client config")
}

/// A Registration Request of a mobile node the home agent does not know (RFC 5944 3.3).
fn rrq(now: Instant) -> Vec<u8> {
    let mut m = mobile_node(now);
    m.register(now);
    m.handle_timeout(now);
    m.poll_transmit().expect("a request").payload.to_vec()
}

fn home_agent(now: Instant) -> HomeAgent {
    let members = vec![Member {
        node: HealthId(1),
        addr: sock(192, 0, 2, 1, 434),
        mac: telcp::MacAddr::local(1),
        backups: vec![],
    }];
    let mut c = HomeAgentConfig::new(
        HealthId(1),
        VIP,
        "10.0.0.0/8".parse().expect("a network"),
        members,
        b"virtual HA cluster key",
    );
    c.seed = seed();
    c.wall_clock = WALL;
    HomeAgent::new(c, now).expect("valid HA config")
}

#[test]
fn home_agent_keeps_the_contract() {
    contract(Case {
        name: "HomeAgent",
        make: home_agent,
        flood: |h, now, i| {
            let from = sock(198, 51, (i >> 8) as u8, i as u8, 434);
            let _ = h.handle_datagram(now, from, SocketAddr::from((VIP, 434)), &rrq(now));
        },
        // RFC 5944 3.8.2.2: an unauthenticated request is refused with code 131, within the
        // refusal rate limit; the rest are suppressed and counted.
        bound: 4096 * 2,
        drops: Some(|s| s.refusals_suppressed),
    });
}

fn foreign_agent(now: Instant) -> ForeignAgent {
    let cfg = ForeignAgentConfig {
        home_agent: SocketAddr::from((VIP, 434)),
        fa_ha: None,
        max_pending: 16,
        pending_timeout: Duration::from_secs(7),
    };
    ForeignAgent::new(cfg, now).expect("valid FA config")
}

#[test]
fn foreign_agent_keeps_the_contract() {
    contract(Case {
        name: "ForeignAgent",
        make: foreign_agent,
        flood: |f, now, i| {
            let from = sock(198, 51, (i >> 8) as u8, i as u8, 434);
            let _ = f.handle_datagram(now, from, sock(192, 0, 2, 9, 434), &rrq(now));
        },
        // 1024 queued transmits and 1024 queued events.
        bound: 2048,
        drops: Some(|s| s.transmits_dropped + s.events_dropped),
    });
}

#[test]
fn mobile_node_keeps_the_contract() {
    contract(Case {
        name: "MobileNodeClient",
        make: mobile_node,
        flood: |m, now, _| {
            m.register(now);
            m.handle_timeout(now);
        },
        // One request in flight, 16 queued transmits, 64 queued events.
        bound: 16 + 64,
        drops: Some(|s| s.transmits_dropped),
    });
}

// ---- Health ----

fn monitor(now: Instant) -> Monitor {
    let peers = (2..6)
        .map(|n| (HealthId(n), sock(10, 0, 0, n as u8, 1701)))
        .collect();
    let cfg = MonitorConfig::new(
        HealthId(1),
        Role::LNS,
        ClusterKey::new(b"test cluster key"),
        peers,
    );
    Monitor::new(cfg, now).expect("valid monitor config")
}

#[test]
fn monitor_keeps_the_contract() {
    contract(Case {
        name: "Monitor",
        make: monitor,
        // One heartbeat round per interval, never drained.
        flood: |m, now, i| m.handle_timeout(now + Duration::from_secs(u64::from(i))),
        // One round of 4 heartbeats; 4 peers each Up, Suspect, Down at most once per flood.
        bound: 4 + 64,
        drops: Some(|s| s.stale_dropped),
    });
}

// ---- Steering (TS 29.060 / TS 29.281) ----

const KEY: &[u8] = b"steering fabric key";

fn line(now: Instant) -> LineInterface {
    let mut c = LineConfig::new(
        sock(172, 16, 0, 2, 3386),
        sock(172, 16, 0, 1, 3386),
        VidLayout::default(),
        telcp::health::NodeId(2),
        telcp::health::ClusterKey::new(KEY),
    );
    c.queue_limit = 64;
    LineInterface::new(c, now).expect("valid line config")
}

/// A GTPv1-C Echo Request (TS 29.060 section 7.2.1), sequence `i`.
fn echo(i: u32) -> Vec<u8> {
    let s = (i as u16).to_be_bytes();
    vec![0x32, 1, 0, 4, 0, 0, 0, 0, s[0], s[1], 0, 0]
}

#[test]
fn line_interface_keeps_the_contract() {
    contract(Case {
        name: "LineInterface",
        make: line,
        flood: |l, now, i| {
            let from = sock(203, 0, 113, (i >> 8) as u8, 2123);
            let _ = l.handle_datagram(now, from, sock(192, 0, 2, 1, 2123), &echo(i));
        },
        bound: 64 + 4096,
        drops: Some(|s| s.queue_full),
    });
}

fn switch(now: Instant) -> SwitchProcessor {
    let mut c = SwitchConfig::new(
        HealthId(1),
        sock(172, 16, 0, 1, 3386),
        vec![sock(172, 16, 0, 2, 3386)],
        vec![(HealthId(11), sock(172, 16, 0, 11, 3386))],
        VidLayout::default(),
        ClusterKey::new(KEY),
    );
    c.seed = seed();
    SwitchProcessor::new(c, now).expect("valid switch config")
}

#[test]
fn switch_processor_keeps_the_contract() {
    contract(Case {
        name: "SwitchProcessor",
        make: switch,
        flood: |s, now, i| {
            let from = sock(203, 0, 113, (i >> 8) as u8, 2123);
            let _ = s.handle_datagram(now, from, sock(172, 16, 0, 1, 3386), &echo(i));
        },
        bound: 2 * 4096,
        drops: None,
    });
}

fn processor(now: Instant) -> Processor {
    let pool: Ipv4Network = "10.0.0.0/8".parse().expect("a pool");
    let mut c = ProcessorConfig::new(
        HealthId(11),
        sock(172, 16, 0, 11, 3386),
        sock(172, 16, 0, 1, 3386),
        sock(172, 16, 0, 2, 3386),
        VidLayout::default(),
        pool,
        ClusterKey::new(KEY),
    );
    c.queue_limit = 64;
    Processor::new(c, now).expect("valid processor config")
}

#[test]
fn processor_keeps_the_contract() {
    contract(Case {
        name: "Processor",
        make: processor,
        flood: |p, now, i| {
            let from = sock(203, 0, 113, (i >> 8) as u8, 2123);
            let _ = p.handle_datagram(now, from, sock(172, 16, 0, 11, 3386), &echo(i));
        },
        bound: 64 + 64,
        drops: None,
    });
}

// ---- The deviations the contract removed ----

/// RFC 5944 section 3.7: the foreign agent relays a mobile node's Registration Request to the
/// home agent (3.7.2.3) and the home agent's Registration Reply back (3.7.3.2); an accepted
/// reply (Code 0 or 1) puts the mobile node on the visitor list with the granted lifetime, which
/// counts down and then removes the entry (3.7.1, "Remaining Lifetime"). A denial adds nothing.
#[test]
fn foreign_agent_reports_relays_and_its_visitor_list() {
    use telcp::mip::wire::{Builder, Header, Reply, ReplyCode};
    use telcp::mip::{FaEvent, FaStats};
    let t0 = Instant::now();
    let mut fa = foreign_agent(t0);
    let ha = SocketAddr::from((VIP, 434));
    let fa_addr = sock(192, 0, 2, 9, 434);
    let mn = sock(198, 51, 100, 1, 434);
    let request = rrq(t0);
    let Ok((Header::Request(q), _)) = Header::parse(&request) else {
        panic!("a request");
    };
    assert_eq!(fa.handle_datagram(t0, mn, fa_addr, &request), Ok(()));
    assert_eq!(fa.poll_transmit().map(|t| t.dst), Some(ha));
    assert_eq!(
        fa.poll_event(),
        Some(FaEvent::RequestRelayed {
            mobile_node: mn,
            home_address: q.home_address,
            identification: q.identification,
        })
    );
    let reply = |code: ReplyCode| {
        Builder::reply(Reply {
            code,
            lifetime: 300,
            home_address: q.home_address,
            home_agent: VIP,
            identification: q.identification,
        })
        .to_vec()
    };
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(
        fa.handle_datagram(t1, ha, fa_addr, &reply(ReplyCode(0))),
        Ok(())
    );
    assert_eq!(fa.poll_transmit().map(|t| t.dst), Some(mn));
    let expires = t1 + Duration::from_secs(300);
    assert_eq!(
        std::iter::from_fn(|| fa.poll_event()).collect::<Vec<_>>(),
        vec![
            FaEvent::RegistrationAccepted {
                mobile_node: mn,
                home_address: q.home_address,
                lifetime: 300,
            },
            FaEvent::VisitorAdded {
                home_address: q.home_address,
                mobile_node: mn,
                expires,
            },
        ]
    );
    assert_eq!(fa.stats().visitors, 1);
    // The FA wakes up by then (earlier for the pending request's own timer).
    assert!(fa.poll_timeout().is_some_and(|d| d <= expires));
    // A denial of a second request from another mobile node adds no visitor.
    let other = sock(198, 51, 100, 2, 434);
    let mut again = request.clone();
    again[23] ^= 1; // another Identification (its low octet)
    assert_eq!(fa.handle_datagram(t1, other, fa_addr, &again), Ok(()));
    while fa.poll_transmit().is_some() {}
    while fa.poll_event().is_some() {}
    let mut denied = reply(ReplyCode(131));
    denied[19] ^= 1; // the same Identification as `again`
    assert_eq!(fa.handle_datagram(t1, ha, fa_addr, &denied), Ok(()));
    assert_eq!(
        fa.poll_event(),
        Some(FaEvent::RegistrationDenied {
            mobile_node: other,
            code: ReplyCode(131),
        })
    );
    assert_eq!(fa.stats().visitors, 1);
    // Not before the lifetime runs out; then the entry goes.
    fa.handle_timeout(expires - Duration::from_millis(1));
    assert!(
        std::iter::from_fn(|| fa.poll_event())
            .all(|e| !matches!(e, FaEvent::VisitorExpired { .. }))
    );
    assert_eq!(fa.stats().visitors, 1);
    fa.handle_timeout(expires);
    assert_eq!(
        fa.poll_event(),
        Some(FaEvent::VisitorExpired {
            home_address: q.home_address,
        })
    );
    let FaStats { visitors, .. } = fa.stats();
    assert_eq!(visitors, 0);
}

/// The health monitor's entry is the contract's `handle_datagram`: a heartbeat from a peer,
/// fed through the trait, makes it Up.
#[test]
fn monitor_takes_heartbeats_through_the_contract() {
    use telcp::health::{HealthEvent, NodeId};
    let t0 = Instant::now();
    let mut a = monitor(t0);
    let peers = vec![(HealthId(1), sock(10, 0, 0, 1, 1701))];
    let cfg = MonitorConfig::new(
        HealthId(2),
        Role::LNS,
        ClusterKey::new(b"test cluster key"),
        peers,
    );
    let mut b = Monitor::new(cfg, t0).expect("valid monitor config");
    Endpoint::handle_timeout(&mut b, t0);
    let hb = Endpoint::poll_transmit(&mut b).expect("a heartbeat");
    let (from, to) = (sock(10, 0, 0, 2, 1701), sock(10, 0, 0, 1, 1701));
    assert_eq!(
        Endpoint::handle_datagram(&mut a, t0, from, to, &hb.payload),
        Ok(())
    );
    assert_eq!(
        Endpoint::poll_event(&mut a),
        Some(HealthEvent::Up { node: NodeId(2) })
    );
    assert_eq!(Endpoint::stats(&a).accepted, 1);
}

/// Delivers every datagram between `a` and `b` until none moves (time stands still): a caller's
/// own loop over two endpoints it knows only by the contract.
fn exchange<A: Endpoint, B: Endpoint>(a: &mut A, b: &mut B, now: Instant) {
    loop {
        let mut moved = false;
        while let Some(t) = a.poll_transmit() {
            let from = t.src.unwrap_or(sock(10, 0, 0, 2, 1701));
            let _ = b.handle_datagram(now, from, t.dst, &t.payload);
            moved = true;
        }
        while let Some(t) = b.poll_transmit() {
            let from = t.src.unwrap_or(sock(10, 0, 0, 1, 1701));
            let _ = a.handle_datagram(now, from, t.dst, &t.payload);
            moved = true;
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
}

/// Hands `frame` to `e` through the generic [`telcp::SendData`] (what a caller's own socket loop
/// uses without the tokio driver).
fn hand_in<E: telcp::SendData>(e: &mut E, to: E::Target, frame: &[u8]) -> Result<(), E::Refusal> {
    e.send_data(to, frame)
}

/// RFC 2661 section 5.3: a PPP frame the LAC's user hands in on a call reaches the LNS's user,
/// named by its session, and the answer handed in on that session reaches the LAC's user,
/// named by its call, through [`telcp::SendData`] and [`Endpoint::poll_data`] alone. A frame
/// to a session the LNS does not have is refused (typed), and nothing leaves.
#[test]
fn user_data_crosses_a_lac_and_an_lns_through_the_generic_contract() {
    use telcp::l2tp::{CommandError, SessionRef};
    const LCP_REQUEST: &[u8] = &[0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04];
    const LCP_ACK: &[u8] = &[0xff, 0x03, 0xc0, 0x21, 0x02, 0x01, 0x00, 0x04];
    let now = Instant::now();
    let (mut a, mut b) = (lac(now), lns(now));
    let call = a.open_session(now).expect("a call");
    exchange(&mut a, &mut b, now);
    assert!(a.session_of(call).is_some(), "the call is up");

    hand_in(&mut a, call, LCP_REQUEST).expect("the LAC takes the frame");
    exchange(&mut a, &mut b, now);
    let at_lns = b.poll_data().expect("the frame at the LNS");
    assert_eq!(&at_lns.frame[..], LCP_REQUEST, "handed up unchanged");
    assert!(b.poll_data().is_none(), "once");

    hand_in(&mut b, at_lns.session, LCP_ACK).expect("the LNS takes the answer");
    exchange(&mut a, &mut b, now);
    let at_lac = a.poll_data().expect("the answer at the LAC");
    assert_eq!(&at_lac.frame[..], LCP_ACK, "handed up unchanged");
    assert_eq!(at_lac.call, Some(call));

    let none = SessionRef {
        tunnel: at_lns.session.tunnel,
        session: at_lns.session.session.wrapping_add(1000),
    };
    assert_eq!(hand_in(&mut b, none, LCP_ACK), Err(CommandError::NoSession));
    assert!(b.poll_transmit().is_none(), "a refused frame sends nothing");
}
