//! The virtual Home Agent cluster (issue 6), claim by claim, on the deterministic simulator:
//! three or more HAs sharing a virtual address, several mobile nodes (each with a co-located
//! care-of address, so it is its own foreign agent), with and without loss.
#![cfg(feature = "sim")]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use telcp::MacAddr;
use telcp::health::{NodeId, NodeState};
use telcp::mip::binding::BindingState;
use telcp::mip::cluster::{Body, ClusterMessage};
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::wire::replay::NtpTime;
use telcp::mip::wire::{
    Builder, Extension, ExtensionType, Header, Message, Reply, ReplyCode, Request,
};
use telcp::mip::{
    ClientConfig, ClientEvent, Event, ForeignAgent, ForeignAgentConfig, ForwardMode, HomeAgent,
    HomeAgentConfig, Member, MnId, MobileNodeClient, MobileNodeKey,
};
use telcp::sim::{Fate, LinkConfig, NodeId as SimId, Sim};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const KEY: &[u8] = b"cluster key";
const WALL: Duration = Duration::from_secs(1_700_000_000);

fn sock(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}
fn vip() -> SocketAddr {
    sock(VIP, 434)
}
fn ha_addr(i: u32) -> SocketAddr {
    sock(Ipv4Addr::new(192, 0, 2, i as u8), 434)
}
fn mac(i: u32) -> MacAddr {
    MacAddr::local(i)
}
fn mn_sa(k: u32) -> SecurityAssociation {
    SecurityAssociation::new(
        0x1000 + k,
        AuthAlgorithm::HmacMd5,
        format!("mn-key-{k}").into_bytes(),
    )
}
fn home(k: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 5, k as u8)
}
fn nai(k: u32) -> Vec<u8> {
    format!("mn{k}@home.example").into_bytes()
}
fn mn_addr(k: u32) -> SocketAddr {
    sock(Ipv4Addr::new(198, 51, 100, k as u8), 434)
}

const MNS: u32 = 60;

fn members(n: u32) -> Vec<Member> {
    (1..=n)
        .map(|i| Member {
            node: NodeId(i),
            addr: ha_addr(i),
            mac: mac(i),
            backups: (1..=n).filter(|j| *j != i).map(NodeId).collect(),
        })
        .collect()
}

fn ha_config(i: u32, n: u32, mode: ForwardMode) -> HomeAgentConfig {
    let mut c = HomeAgentConfig::new(
        NodeId(i),
        VIP,
        "10.0.0.0/16".parse().unwrap(),
        members(n),
        KEY,
    );
    c.mode = mode;
    c.pool = Some(format!("10.0.{i}.0/24").parse().unwrap());
    c.seed = telcp::io::seed(u64::from(i));
    c.pending_timeout = Duration::from_secs(2);
    c.wall_clock = WALL;
    for k in 1..=MNS {
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(home(k)),
            sa: mn_sa(k),
        });
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Nai(nai(k).into()),
            sa: mn_sa(k),
        });
    }
    c
}

struct World {
    sim: Sim,
    ha: Vec<SimId>,
    start: Instant,
}

impl World {
    fn new(n: u32, mode: ForwardMode, seed: u64, link: LinkConfig) -> World {
        Self::with(n, seed, link, |i| ha_config(i, n, mode))
    }

    fn with(n: u32, seed: u64, link: LinkConfig, cfg: impl Fn(u32) -> HomeAgentConfig) -> World {
        let start = Instant::now();
        let mut sim = Sim::new(seed, start);
        sim.set_default_link(link);
        let mut ha = Vec::new();
        for i in 1..=n {
            let h = HomeAgent::new(cfg(i), start).unwrap();
            ha.push(sim.add_node(
                format!("ha{i}"),
                &[ha_addr(i), vip()],
                Some(mac(i)),
                Box::new(h),
            ));
        }
        sim.set_route(VIP.into(), ha[0]);
        let mut w = World { sim, ha, start };
        w.sim.run_for(Duration::from_secs(3));
        w
    }

    fn ha(&mut self, i: u32) -> &mut HomeAgent {
        let id = self.ha[i as usize - 1];
        self.sim.node_mut::<HomeAgent>(id)
    }

    fn events(&mut self, i: u32) -> Vec<Event> {
        let h = self.ha(i);
        std::iter::from_fn(|| h.poll_event()).collect()
    }

    fn client_cfg(&self, k: u32, by_nai: bool, local: SocketAddr) -> ClientConfig {
        ClientConfig {
            home_address: if by_nai {
                Ipv4Addr::UNSPECIFIED
            } else {
                home(k)
            },
            nai: by_nai.then(|| nai(k)),
            sa: mn_sa(k),
            home_agent: vip(),
            local,
            via: None,
            lifetime: 600,
            simultaneous: false,
            retransmit: Duration::from_millis(500),
            max_retransmits: 6,
            wall_clock: WALL + self.sim.now().duration_since(self.start),
            auto_reregister: false,
        }
    }

    fn add_mn(&mut self, cfg: ClientConfig) -> SimId {
        let local = cfg.local;
        let c = MobileNodeClient::new(cfg, self.sim.now()).unwrap();
        self.sim
            .add_node(format!("mn@{local}"), &[local], None, Box::new(c))
    }

    fn mn(&mut self, id: SimId) -> &mut MobileNodeClient {
        self.sim.node_mut::<MobileNodeClient>(id)
    }

    /// Sends a registration (or deregistration) and runs until the client reports an outcome.
    fn run_request(&mut self, id: SimId, dereg: bool) -> ClientEvent {
        let now = self.sim.now();
        if dereg {
            self.mn(id).deregister(now);
        } else {
            self.mn(id).register(now);
        }
        // Up to 8200 s: a client's whole backoff (up to 13 retransmissions), so a run of losses
        // ends in an outcome.
        let mut out = None;
        for _ in 0..164_000 {
            self.sim.run_for(Duration::from_millis(50));
            if let Some(e) = self.mn(id).poll_event() {
                out = Some(e);
                break;
            }
        }
        out.expect("no outcome")
    }

    fn register(&mut self, id: SimId) -> ClientEvent {
        self.run_request(id, false)
    }

    /// Replies sent to `to` (they may go nowhere: injected senders own no node).
    fn replies_to(&self, to: SocketAddr) -> Vec<Reply> {
        self.sim
            .trace()
            .iter()
            .filter(|r| r.to == to)
            .filter_map(|r| match Message::parse(&r.payload).ok()?.header {
                Header::Reply(p) => Some(p),
                _ => None,
            })
            .collect()
    }
}

fn registered(e: &ClientEvent) -> Ipv4Addr {
    match e {
        ClientEvent::Registered { home_address, .. } => *home_address,
        other => panic!("not registered: {other:?}"),
    }
}

/// A well-authenticated request from outside the simulated nodes, for injection.
fn request(k: u32, ha_field: Ipv4Addr, id: u64, extra: Option<Extension<'static>>) -> Vec<u8> {
    let sa = mn_sa(k);
    let mut b = Builder::request(Request {
        lifetime: 600,
        home_address: home(k),
        home_agent: ha_field,
        care_of: Ipv4Addr::new(203, 0, 113, k as u8),
        identification: id,
        ..Request::default()
    });
    if let Some(e) = extra {
        b = b.extension(e);
    }
    b.mn_ha_auth(&sa).to_vec()
}

fn ntp_at(w: &World) -> u64 {
    NtpTime::from_unix(WALL + w.sim.now().duration_since(w.start)).0
}

// ---------------------------------------------------------------- claim 1

#[test]
fn claim1_accepts_the_virtual_and_its_own_address_and_refuses_136_134_131() {
    let mut w = World::new(3, ForwardMode::Layer2, 1, LinkConfig::default());
    // To the virtual address.
    let cfg = w.client_cfg(1, false, mn_addr(1));
    let a = w.add_mn(cfg);
    assert_eq!(registered(&w.register(a)), home(1));
    // To HA 2's own address.
    let mut cfg = w.client_cfg(2, false, mn_addr(2));
    cfg.home_agent = ha_addr(2);
    let b = w.add_mn(cfg);
    assert_eq!(registered(&w.register(b)), home(2));
    assert_eq!(w.ha(2).binding(home(2), None).unwrap().second_ha, NodeId(2));
    let replied = w.replies_to(mn_addr(2));
    assert_eq!(
        replied.last().unwrap().home_agent,
        Ipv4Addr::new(192, 0, 2, 2)
    );

    let outsider = sock(Ipv4Addr::new(203, 0, 113, 50), 434);
    let id = ntp_at(&w);
    // HA field neither the virtual address nor the HA's own: 136.
    w.sim.inject(
        outsider,
        vip(),
        request(3, Ipv4Addr::new(192, 0, 2, 99), id, None),
    );
    w.sim.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::UNKNOWN_HA_ADDRESS
    );
    // An unknown extension below 128: poorly formed, 134.
    let odd = Extension::Other {
        ext_type: ExtensionType(40),
        data: b"?".as_slice().into(),
    };
    w.sim
        .inject(outsider, vip(), request(3, VIP, id + 1, Some(odd)));
    w.sim.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::POORLY_FORMED_REQUEST
    );
    // A mobile node for which the HA has no key: 131.
    w.sim
        .inject(outsider, vip(), request(MNS + 7, VIP, id + 2, None));
    w.sim.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::MN_AUTH_FAILED
    );
    // A known mobile node with a wrong authenticator: 131 too.
    let mut forged = request(4, VIP, id + 3, None);
    let n = forged.len();
    forged[n - 1] ^= 1;
    w.sim.inject(outsider, vip(), forged);
    w.sim.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::MN_AUTH_FAILED
    );
    // None of the refusals left state behind.
    for i in 1..=3 {
        assert!(w.ha(i).binding(home(3), None).is_none());
        assert!(w.ha(i).binding(home(4), None).is_none());
    }
}

// ---------------------------------------------------------------- claim 2

#[test]
fn claim2_binding_names_the_second_ha_else_least_loaded_up_member_including_itself() {
    let mut w = World::new(3, ForwardMode::Layer2, 2, LinkConfig::default());
    let mut seconds = Vec::new();
    let mut ids = Vec::new();
    for k in 1..=30 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        ids.push(id);
        seconds.push(w.ha(1).binding(home(k), None).unwrap().second_ha);
        // Let the loads travel in heartbeats.
        w.sim.run_for(Duration::from_millis(1100));
    }
    // Selection by load spreads the work over all three, the first HA included.
    for i in 1..=3 {
        let n = seconds.iter().filter(|s| **s == NodeId(i)).count();
        assert!(
            (6..=14).contains(&n),
            "HA {i} serves {n} of 30: {seconds:?}"
        );
    }
    // A binding exists: the re-registration goes to the HA it names.
    for (k, id) in (1..=30).zip(ids) {
        registered(&w.register(id));
        let now = w.ha(1).binding(home(k), None).unwrap().second_ha;
        assert_eq!(now, seconds[k as usize - 1]);
    }
    // A Down member is never selected.
    w.sim.crash(w.ha[2]);
    w.sim.run_for(Duration::from_secs(6));
    assert_eq!(w.ha(1).peer_state(NodeId(3)), NodeState::Down);
    for k in 31..=40 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        assert_ne!(w.ha(1).binding(home(k), None).unwrap().second_ha, NodeId(3));
    }
}

// ---------------------------------------------------------------- claim 3

fn first_forward(w: &mut World, k: u32) -> (u32, SimId) {
    // Register MNs until one is forwarded to another HA; return (second HA, client).
    let cfg = w.client_cfg(k, false, mn_addr(k));
    let id = w.add_mn(cfg);
    registered(&w.register(id));
    let second = w.ha(1).binding(home(k), None).unwrap().second_ha.0;
    (second, id)
}

#[test]
fn claim3_layer2_forwarding_keeps_the_virtual_destination_and_uses_the_second_has_mac() {
    let mut w = World::new(3, ForwardMode::Layer2, 3, LinkConfig::default());
    let mut checked = 0;
    for k in 1..=12 {
        let (second, _) = first_forward(&mut w, k);
        if second == 1 {
            continue;
        }
        let trace = w.sim.trace();
        let from_mn = trace
            .iter()
            .rev()
            .find(|r| r.from == mn_addr(k) && r.to == vip() && r.fate == Fate::Delivered)
            .unwrap();
        let fwd = trace
            .iter()
            .rev()
            .find(|r| {
                r.src_node == Some(w.ha[0])
                    && r.dst_node == Some(w.ha[second as usize - 1])
                    && r.payload.first() == Some(&1)
            })
            .expect("forwarded request");
        assert_eq!(fwd.to, vip(), "IP destination stays the virtual address");
        assert_eq!(
            fwd.link_dst,
            Some(mac(second)),
            "layer-2 next hop is the second HA"
        );
        assert_eq!(fwd.payload, from_mn.payload, "forwarded unchanged");
        checked += 1;
    }
    assert!(checked >= 3, "too few forwarded requests ({checked})");
}

#[test]
fn claim3_layer3_forwarding_wraps_the_request_unchanged_in_an_authenticated_cluster_message() {
    let mut w = World::new(3, ForwardMode::Layer3, 4, LinkConfig::default());
    let mut checked = 0;
    for k in 1..=12 {
        let (second, _) = first_forward(&mut w, k);
        if second == 1 {
            continue;
        }
        let trace = w.sim.trace();
        let from_mn = trace
            .iter()
            .rev()
            .find(|r| r.from == mn_addr(k) && r.to == vip())
            .unwrap()
            .payload
            .clone();
        let fwd = trace
            .iter()
            .rev()
            .filter(|r| r.src_node == Some(w.ha[0]) && r.to == ha_addr(second))
            .find_map(|r| {
                let m = ClusterMessage::parse(&r.payload, KEY).ok()?;
                match m.body {
                    Body::Forward { fa, request } => Some((fa, request.to_vec(), r.link_dst)),
                    _ => None,
                }
            })
            .expect("forward message");
        assert_eq!(fwd.0, mn_addr(k));
        assert_eq!(fwd.1, from_mn.to_vec());
        assert_eq!(fwd.2, None);
        // With another key, the message does not verify.
        checked += 1;
    }
    assert!(checked >= 3);
}

// ---------------------------------------------------------------- claims 4, 5, 6

#[test]
fn claims4_to_6_temporary_binding_second_ha_grants_first_ha_makes_permanent_and_relays() {
    let mut w = World::new(3, ForwardMode::Layer2, 5, LinkConfig::default());
    // Make HA 1 look loaded so it forwards (the choice stays by load).
    let mut k = 1;
    let (second, id) = loop {
        let cfg = w.client_cfg(k, true, mn_addr(k));
        let id = w.add_mn(cfg);
        let now = w.sim.now();
        w.mn(id).register(now);
        // Stop right after HA 1 has forwarded: the temporary binding is there.
        w.sim.run_for(Duration::from_micros(1500));
        let b = w
            .ha(1)
            .binding(Ipv4Addr::UNSPECIFIED, Some(&nai(k)))
            .cloned();
        match b {
            Some(b) if b.state() == BindingState::Temporary => {
                let p = b.pending.clone().unwrap();
                // Claim 4: MN identifier, FA address, second HA, identification, pending timer.
                assert_eq!(b.nai.as_deref(), Some(&nai(k)[..]));
                assert_eq!(SocketAddr::V4(p.fa), mn_addr(k));
                assert_ne!(p.second_ha, NodeId(1));
                assert!(p.deadline <= w.sim.now() + Duration::from_secs(2));
                let ev = w.events(1);
                assert!(
                    ev.iter()
                        .any(|e| matches!(e, Event::TemporaryBinding { .. }))
                );
                break (p.second_ha.0, id);
            }
            _ => {
                w.sim.run_for(Duration::from_secs(1));
                let _ = w.mn(id).poll_event();
                k += 1;
                assert!(k < 20, "nothing was forwarded");
            }
        }
    };
    w.sim.run_for(Duration::from_millis(100));
    // Claim 5: the second HA assigned an address from its pool, bounded the lifetime, bound it.
    let e = w.mn(id).poll_event().unwrap();
    let assigned = registered(&e);
    let pool: ipnetwork::Ipv4Network = format!("10.0.{second}.0/24").parse().unwrap();
    assert!(
        pool.contains(assigned),
        "{assigned} not from HA {second}'s pool"
    );
    let b2 = w.ha(second).binding(assigned, None).unwrap().clone();
    assert_eq!(b2.second_ha, NodeId(second));
    assert_eq!(b2.state(), BindingState::Permanent);
    // Its reply went to the virtual address with the first HA's MAC.
    let rrp = w
        .sim
        .trace()
        .iter()
        .rev()
        .find(|r| r.src_node == Some(w.ha[second as usize - 1]) && r.payload.first() == Some(&3))
        .unwrap()
        .clone();
    assert_eq!(rrp.to, vip());
    assert_eq!(rrp.link_dst, Some(mac(1)));
    // Claim 6: HA 1 made it permanent and relayed the reply, unchanged, to the FA.
    let b1 = w.ha(1).binding(assigned, Some(&nai(k))).unwrap().clone();
    assert_eq!(b1.state(), BindingState::Permanent);
    assert_eq!(b1.home_address, assigned);
    assert_eq!(b1.second_ha, NodeId(second));
    assert!(b1.pending.is_none());
    let relayed = w
        .sim
        .trace()
        .iter()
        .rev()
        .find(|r| r.src_node == Some(w.ha[0]) && r.to == mn_addr(k))
        .unwrap()
        .clone();
    assert_eq!(relayed.payload, rrp.payload);
    assert_eq!(relayed.from, vip());
    assert!(w.events(1).iter().any(|e| matches!(
        e,
        Event::BindingPermanent { home_address, .. } if *home_address == assigned
    )));

    // Lifetime bounded by configuration (1800): ask for 60000.
    let mut cfg = w.client_cfg(k, true, mn_addr(100));
    cfg.lifetime = 60000;
    cfg.home_address = assigned;
    let id2 = w.add_mn(cfg);
    match w.register(id2) {
        ClientEvent::Registered { lifetime, .. } => assert_eq!(lifetime, 1800),
        e => panic!("{e:?}"),
    }

    // A reply that matches no temporary binding is dropped and counted, never relayed.
    let before = w.ha(1).stats().unmatched_replies;
    let stray = Builder::reply(Reply {
        code: ReplyCode::ACCEPTED,
        lifetime: 600,
        home_address: home(55),
        home_agent: VIP,
        identification: 42,
    })
    .mn_ha_auth(&mn_sa(55))
    .to_vec();
    let n_trace = w.sim.trace().len();
    w.sim.inject(ha_addr(2), vip(), stray);
    w.sim.run_for(Duration::from_millis(50));
    assert_eq!(w.ha(1).stats().unmatched_replies, before + 1);
    assert!(
        w.sim.trace()[n_trace..]
            .iter()
            .all(|r| r.src_node != Some(w.ha[0]) || r.payload.first() != Some(&3))
    );
}

#[test]
fn claim4_temporary_binding_expires_when_the_second_ha_never_answers() {
    let mut w = World::new(3, ForwardMode::Layer3, 6, LinkConfig::default());
    // Cut HA 1 from HA 2 and HA 3 after they are Up: forwarded requests vanish.
    for k in 1..=10 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        w.sim.partition(w.ha[0], w.ha[1]);
        w.sim.partition(w.ha[0], w.ha[2]);
        let now = w.sim.now();
        w.mn(id).register(now);
        w.sim.run_for(Duration::from_millis(10));
        let temp = w
            .ha(1)
            .binding(home(k), None)
            .is_some_and(|b| b.state() == BindingState::Temporary);
        if temp {
            // The mobile node goes quiet (no retransmission refreshes the temporary binding).
            w.sim.crash(id);
            let _ = w.events(1);
            w.sim.run_for(Duration::from_millis(2100));
            assert!(w.events(1).iter().any(|e| *e
                == Event::TemporaryExpired {
                    mn: MnId::Home(home(k))
                }));
            assert!(w.ha(1).binding(home(k), None).is_none(), "freed");
            assert_eq!(w.ha(1).bindings().pending_len(), 0);
            return;
        }
        w.sim.heal_all();
        w.sim.run_for(Duration::from_secs(5));
    }
    panic!("no request was forwarded");
}

// ---------------------------------------------------------------- claim 5 (replay)

#[test]
fn claim5_second_ha_enforces_replay_protection_with_the_133_identification_rule() {
    let mut w = World::new(3, ForwardMode::Layer2, 7, LinkConfig::default());
    let outsider = sock(Ipv4Addr::new(203, 0, 113, 9), 434);
    // 30 s in the past: outside the 7 s tolerance.
    let stale = ntp_at(&w) - (30u64 << 32);
    w.sim.inject(outsider, vip(), request(9, VIP, stale, None));
    w.sim.run_for(Duration::from_millis(100));
    let r = w.replies_to(outsider);
    let r = r.last().unwrap();
    assert_eq!(r.code, ReplyCode::IDENTIFICATION_MISMATCH);
    assert_eq!(r.identification & 0xffff_ffff, stale & 0xffff_ffff);
    assert_eq!(r.identification >> 32, ntp_at(&w) >> 32);
    // A good one, then its replay: the replay is refused with 133.
    let good = ntp_at(&w);
    w.sim.inject(outsider, vip(), request(9, VIP, good, None));
    w.sim.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::ACCEPTED
    );
    w.sim.inject(outsider, vip(), request(9, VIP, good, None));
    w.sim.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::IDENTIFICATION_MISMATCH
    );
    // The client resynchronises from a 133 and registers.
    let mut cfg = w.client_cfg(10, false, mn_addr(10));
    cfg.wall_clock -= Duration::from_secs(100);
    let id = w.add_mn(cfg);
    assert_eq!(registered(&w.register(id)), home(10));
}

// ---------------------------------------------------------------- claim 7

#[test]
fn claim7_lifetimes_expire_deregistration_removes_on_both_reregistration_refreshes() {
    let mut w = World::new(3, ForwardMode::Layer2, 8, LinkConfig::default());
    let mut both = None;
    for k in 1..=10 {
        let mut cfg = w.client_cfg(k, false, mn_addr(k));
        cfg.lifetime = 20;
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        let s = w.ha(1).binding(home(k), None).unwrap().second_ha.0;
        if s != 1 {
            both = Some((k, id, s));
            break;
        }
    }
    let (k, id, s) = both.expect("a forwarded registration");
    let exp1 = w.ha(1).binding(home(k), None).unwrap().expires().unwrap();
    // Re-registration refreshes the lifetime on both.
    w.sim.run_for(Duration::from_secs(10));
    registered(&w.register(id));
    let exp1b = w.ha(1).binding(home(k), None).unwrap().expires().unwrap();
    assert!(exp1b > exp1 + Duration::from_secs(9));
    assert!(
        w.ha(s).binding(home(k), None).unwrap().expires().unwrap() > exp1 + Duration::from_secs(9)
    );
    // Deregistration removes it on both HAs.
    assert_eq!(w.run_request(id, true), ClientEvent::Deregistered);
    assert!(w.ha(1).binding(home(k), None).is_none());
    assert!(w.ha(s).binding(home(k), None).is_none());
    // Expiry: register again and let 20 s pass; no table scan, the timer fires.
    registered(&w.register(id));
    let _ = (w.events(1), w.events(s));
    w.sim.run_for(Duration::from_secs(21));
    assert!(w.ha(1).binding(home(k), None).is_none());
    assert!(w.ha(s).binding(home(k), None).is_none());
    assert!(w.events(s).contains(&Event::Expired {
        home_address: home(k)
    }));
}

#[test]
fn claim7_simultaneous_bindings_per_configuration_135_beyond() {
    let mut w = World::with(3, 9, LinkConfig::default(), |i| {
        let mut c = ha_config(i, 3, ForwardMode::Layer2);
        c.max_simultaneous = 2;
        c
    });
    let mut results = Vec::new();
    for c in 1..=3 {
        let mut cfg = w.client_cfg(5, false, mn_addr(100 + c));
        cfg.simultaneous = true;
        let id = w.add_mn(cfg);
        results.push(w.register(id));
        w.sim.run_for(Duration::from_millis(300));
    }
    assert!(matches!(
        results[0],
        ClientEvent::Registered {
            code: ReplyCode::ACCEPTED,
            ..
        }
    ));
    assert!(matches!(
        results[1],
        ClientEvent::Registered {
            code: ReplyCode::ACCEPTED,
            ..
        }
    ));
    assert_eq!(
        results[2],
        ClientEvent::Denied {
            code: ReplyCode::TOO_MANY_BINDINGS
        }
    );
    let s = w.ha(1).binding(home(5), None).unwrap().second_ha.0;
    assert_eq!(w.ha(s).binding(home(5), None).unwrap().care_of.len(), 2);

    // With the default limit of 1, an S bit is answered with code 1.
    let mut w = World::new(3, ForwardMode::Layer2, 10, LinkConfig::default());
    let mut cfg = w.client_cfg(6, false, mn_addr(6));
    cfg.simultaneous = true;
    let id = w.add_mn(cfg);
    assert!(matches!(
        w.register(id),
        ClientEvent::Registered {
            code: ReplyCode::ACCEPTED_NO_SIMULTANEOUS,
            ..
        }
    ));
}

/// Claim 2: without a binding, the second HA is selected by load, and the load an HA reports is
/// what it serves (not the replicas it keeps for its backups' sake): registrations spread evenly.
#[test]
fn claim2_selection_by_load_spreads_bindings_over_the_cluster() {
    let mut w = World::new(3, ForwardMode::Layer3, 31, LinkConfig::default());
    for k in 1..=12 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        // A heartbeat interval, so every HA's new load has reached the others.
        w.sim.run_for(Duration::from_millis(1100));
    }
    let served: Vec<usize> = (1..=3)
        .map(|i| w.ha(i).bindings().owned_by(NodeId(i)))
        .collect();
    assert_eq!(served.iter().sum::<usize>(), 12, "{served:?}");
    assert!(served.iter().all(|&n| (3..=5).contains(&n)), "{served:?}");
    // Every HA holds every binding (full-mesh backups), yet reports only its own share.
    for i in 1..=3 {
        assert_eq!(w.ha(i).bindings().len(), 12);
    }
}

// ---------------------------------------------------------------- claim 8

#[test]
fn claim8_health_and_load_heartbeats_drive_the_up_view() {
    let mut w = World::new(
        4,
        ForwardMode::Layer2,
        11,
        LinkConfig::lossy(0.1, 0.02, 0.05),
    );
    for i in 1..=4 {
        for j in 1..=4 {
            assert_eq!(w.ha(i).peer_state(NodeId(j)), NodeState::Up, "{i} sees {j}");
        }
    }
    for k in 1..=12 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    w.sim.run_for(Duration::from_secs(3));
    // Each HA's view of the others' load is what they report: the bindings they serve (not the
    // replicas they hold for the others), and their capacity.
    for i in 2..=4 {
        let own = w.ha(i).bindings().owned_by(NodeId(i)) as u32;
        let seen = w.ha(1).peer_load(NodeId(i)).unwrap();
        assert_eq!(seen.capacity, 100_000);
        assert!(
            seen.used <= own + 2 && seen.used + 2 >= own,
            "{seen:?} vs {own}"
        );
    }
    w.sim.crash(w.ha[3]);
    w.sim.run_for(Duration::from_secs(8));
    for i in 1..=3 {
        assert_eq!(w.ha(i).peer_state(NodeId(4)), NodeState::Down);
    }
    assert!(w.events(1).contains(&Event::PeerDown { node: NodeId(4) }));
}

// ---------------------------------------------------------------- claim 9

#[test]
fn claim9_route_advertisement_and_withdrawal_and_peers_known_to_announce() {
    let mut w = World::new(3, ForwardMode::Layer2, 12, LinkConfig::default());
    let prefix: ipnetwork::IpNetwork = "10.0.0.0/16".parse().unwrap();
    for i in 1..=3 {
        assert!(w.events(i).contains(&Event::AdvertiseRoute { prefix }));
        assert_eq!(w.ha(i).announcers(), vec![NodeId(1), NodeId(2), NodeId(3)]);
    }
    w.ha(2).withdraw();
    assert!(w.events(2).contains(&Event::WithdrawRoute { prefix }));
    w.sim.run_for(Duration::from_secs(2));
    assert_eq!(w.ha(1).announcers(), vec![NodeId(1), NodeId(3)]);
    w.ha(2).advertise();
    w.sim.run_for(Duration::from_secs(2));
    assert_eq!(w.ha(3).announcers(), vec![NodeId(1), NodeId(2), NodeId(3)]);
    w.sim.crash(w.ha[2]);
    w.sim.run_for(Duration::from_secs(6));
    assert_eq!(w.ha(1).announcers(), vec![NodeId(1), NodeId(2)]);
}

// ---------------------------------------------------------------- claim 10

#[test]
fn claim10_every_binding_is_replicated_to_the_backups_reliably_with_its_identification() {
    let mut w = World::new(
        3,
        ForwardMode::Layer2,
        13,
        LinkConfig::lossy(0.1, 0.05, 0.05),
    );
    for k in 1..=20 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    w.sim.run_for(Duration::from_secs(5));
    for k in 1..=20 {
        let serving = w.ha(1).binding(home(k), None).unwrap().clone();
        let s = serving.second_ha.0;
        let truth = w.ha(s).binding(home(k), None).unwrap().clone();
        for i in 1..=3 {
            let b = w
                .ha(i)
                .binding(home(k), None)
                .unwrap_or_else(|| panic!("HA {i} lacks {k}"));
            assert_eq!(b.state(), BindingState::Permanent);
            assert_eq!(b.second_ha, NodeId(s));
            assert_eq!(b.identification, truth.identification, "HA {i} MN {k}");
        }
    }
    for i in 1..=3 {
        for j in 1..=3 {
            assert_eq!(w.ha(i).replication_backlog(NodeId(j)), 0);
        }
    }
}

#[test]
fn claim10_a_backup_that_rejoins_gets_a_bulk_sync() {
    let mut w = World::new(
        3,
        ForwardMode::Layer2,
        14,
        LinkConfig::lossy(0.05, 0.0, 0.0),
    );
    w.sim.crash(w.ha[2]);
    w.sim.run_for(Duration::from_secs(6));
    for k in 1..=15 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    let mut cfg = ha_config(3, 3, ForwardMode::Layer2);
    cfg.incarnation = 2;
    let now = w.sim.now();
    cfg.wall_clock = WALL + now.duration_since(w.start);
    w.sim
        .restart(w.ha[2], Box::new(HomeAgent::new(cfg, now).unwrap()));
    w.sim.run_for(Duration::from_secs(8));
    for k in 1..=15 {
        assert!(
            w.ha(3).binding(home(k), None).is_some(),
            "MN {k} missing after bulk sync"
        );
    }
}

// ---------------------------------------------------------------- claim 11

#[test]
fn claim11_failover_moves_every_binding_to_a_backup_chosen_by_load_and_the_mn_reregisters() {
    failover(15, 2);
}

#[test]
fn claim11_failover_in_layer3_mode_of_another_member() {
    failover(16, 3);
}

fn failover(seed: u64, victim: u32) {
    let mode = if seed % 2 == 0 {
        ForwardMode::Layer3
    } else {
        ForwardMode::Layer2
    };
    let mut w = World::new(4, mode, seed, LinkConfig::lossy(0.05, 0.0, 0.02));
    let mut clients = Vec::new();
    for k in 1..=24 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        clients.push((k, id));
    }
    w.sim.run_for(Duration::from_secs(3));
    let served: Vec<u32> = (1..=24)
        .filter(|k| {
            w.ha(victim)
                .binding(home(*k), None)
                .is_some_and(|b| b.second_ha == NodeId(victim))
        })
        .collect();
    assert!(!served.is_empty());
    let total_before = (1..=24)
        .filter(|k| w.ha(1).binding(home(*k), None).is_some())
        .count();
    w.sim.crash(w.ha[victim as usize - 1]);
    w.sim.run_for(Duration::from_secs(10));
    // One owner, chosen among the backups; every table agrees; nothing is lost.
    let owner = w.ha(1).binding(home(served[0]), None).unwrap().second_ha;
    assert_ne!(owner, NodeId(victim));
    for i in (1..=4u32).filter(|i| *i != victim) {
        for k in &served {
            let b = w
                .ha(i)
                .binding(home(*k), None)
                .unwrap_or_else(|| panic!("HA {i} lost MN {k}"));
            assert_eq!(b.second_ha, owner, "HA {i} MN {k}");
        }
        let count = (1..=24)
            .filter(|k| w.ha(i).binding(home(*k), None).is_some())
            .count();
        assert_eq!(count, total_before, "HA {i} binding count");
    }
    let moved = w
        .events(owner.0)
        .iter()
        .find_map(|e| match e {
            Event::TakenOver {
                failed, bindings, ..
            } if *failed == NodeId(victim) => Some(*bindings),
            _ => None,
        })
        .expect("takeover event");
    assert_eq!(moved, served.len());
    // The MNs' next re-registrations succeed at the new owner, without 131 or 133.
    for (k, id) in clients.into_iter().filter(|(k, _)| served.contains(k)) {
        match w.register(id) {
            ClientEvent::Registered { .. } => {}
            e => panic!("MN {k}: {e:?}"),
        }
        assert_eq!(
            w.ha(owner.0).binding(home(k), None).unwrap().second_ha,
            owner
        );
    }
    assert_eq!(w.ha(owner.0).stats().refusals, 0);
}

// ---------------------------------------------------------------- bounds and bad input

#[test]
fn bounds_max_bindings_130_and_max_pending_130() {
    let mut w = World::with(3, 16, LinkConfig::default(), |i| {
        let mut c = ha_config(i, 3, ForwardMode::Layer2);
        c.max_bindings = 4;
        c
    });
    let mut codes = Vec::new();
    for k in 1..=8 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        codes.push(w.register(id));
    }
    assert!(codes.contains(&ClientEvent::Denied {
        code: ReplyCode::HA_INSUFFICIENT_RESOURCES
    }));
    for i in 1..=3 {
        assert!(w.ha(i).bindings().len() <= 4);
    }
    // Pending bound: HA 1 alone can forward; its peers are cut off.
    let mut w = World::with(3, 17, LinkConfig::default(), |i| {
        let mut c = ha_config(i, 3, ForwardMode::Layer3);
        c.max_pending = 2;
        c
    });
    w.sim.partition(w.ha[0], w.ha[1]);
    w.sim.partition(w.ha[0], w.ha[2]);
    let outsider = sock(Ipv4Addr::new(203, 0, 113, 77), 434);
    for k in 1..=20 {
        let id = ntp_at(&w) + u64::from(k);
        w.sim.inject(outsider, vip(), request(k, VIP, id, None));
    }
    w.sim.run_for(Duration::from_millis(50));
    assert!(w.ha(1).bindings().pending_len() <= 2);
    assert!(
        w.replies_to(outsider)
            .iter()
            .any(|r| r.code == ReplyCode::HA_INSUFFICIENT_RESOURCES)
    );
}

#[test]
fn bounds_a_million_spoofed_requests_leave_tables_bounded_and_a_real_mn_registers() {
    let mut w = World::new(3, ForwardMode::Layer2, 18, LinkConfig::default());
    let mut rng = telcp::Rng::seed_from_u64(99);
    let known = request(1, VIP, 1, None);
    let before = w.ha(1).bindings().len();
    for n in 0..1_000_000u32 {
        let mut b = known.clone();
        if n % 4 == 1 {
            // No authenticator at all.
            b.truncate(24);
        } else if n % 4 == 0 {
            // A known MN with a wrong authenticator.
            let l = b.len();
            b[l - 1 - (n as usize % 16)] ^= 0x5a;
        } else {
            // A random MN.
            b[4..8].copy_from_slice(&rng.next_u32().to_be_bytes());
        }
        let from = sock(Ipv4Addr::from(rng.next_u32()), 434);
        w.sim.deliver_now(w.ha[0], from, vip(), &b);
        if n == 500_000 {
            // A legitimate MN registers in the middle of the flood.
            let cfg = w.client_cfg(2, false, mn_addr(2));
            let id = w.add_mn(cfg);
            assert_eq!(registered(&w.register(id)), home(2));
        }
    }
    let ha = w.ha(1);
    assert!(ha.bindings().len() <= before + 1, "{}", ha.bindings().len());
    assert_eq!(ha.bindings().pending_len(), 0);
    // Every forged request is refused; the answers are rate-limited (issue 12 fault 17), the
    // rest suppressed and counted.
    let st = ha.stats();
    assert!(st.refusals + st.refusals_suppressed >= 1_000_000);
    assert!(st.refusals < 10_000, "{} refusals sent", st.refusals);
}

#[test]
fn forged_and_replayed_cluster_messages_are_refused_and_change_nothing() {
    let mut w = World::new(3, ForwardMode::Layer2, 19, LinkConfig::default());
    for k in 1..=6 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    w.sim.run_for(Duration::from_secs(1));
    // A replication batch seen on the wire, replayed to its receiver.
    let rec = w
        .sim
        .trace()
        .iter()
        .find(|r| {
            ClusterMessage::parse(&r.payload, KEY)
                .is_ok_and(|m| matches!(m.body, Body::Replicate { .. }))
        })
        .unwrap()
        .clone();
    let dst = w.ha.iter().position(|n| Some(*n) == rec.dst_node).unwrap() as u32 + 1;
    let snapshot: Vec<_> = (1..=6)
        .map(|k| w.ha(dst).binding(home(k), None).cloned())
        .collect();
    let refused = w.ha(dst).stats().cluster_refused;
    w.sim.inject(rec.from, rec.to, rec.payload.clone());
    w.sim.run_for(Duration::from_millis(20));
    assert_eq!(w.ha(dst).stats().cluster_refused, refused + 1);
    // A forged one: a removal of every binding, under a wrong key.
    for k in 1..=6 {
        let forged = ClusterMessage {
            sender: NodeId(1),
            incarnation: 9,
            pn: 1_000_000,
            body: Body::Replicate {
                seq: 1_000_000,
                items: vec![telcp::mip::cluster::Item::Remove {
                    home_address: home(k),
                    nai: None,
                }],
            },
        }
        .to_vec(b"not the key");
        w.sim.inject(ha_addr(1), ha_addr(dst), forged);
    }
    w.sim.run_for(Duration::from_millis(20));
    assert_eq!(w.ha(dst).stats().cluster_refused, refused + 7);
    let after: Vec<_> = (1..=6)
        .map(|k| w.ha(dst).binding(home(k), None).cloned())
        .collect();
    assert_eq!(snapshot, after);
}

#[test]
fn harness_home_agent_survives_random_operations() {
    let t0 = std::time::Instant::now();
    let mut rng = telcp::Rng::seed_from_u64(3);
    for _ in 0..300 {
        let n = rng.below(400) as usize;
        let mut data = vec![0u8; n];
        rng.fill_bytes(&mut data);
        telcp::harness::mip::home_agent(t0, &data);
    }
}

// ---------------------------------------------------------------- end to end, with loss

/// Lifetime asked and granted in the lossy scenario: infinite, so no binding expires before it is
/// checked however long the mobile nodes' backoffs make the scenario (up to 8192 s each).
const LOSSY_LIFETIME: u16 = u16::MAX;

fn lossy_end_to_end(mode: ForwardMode, seed: u64) {
    lossy_end_to_end_in(World::with(
        3,
        seed,
        LinkConfig::lossy(0.1, 0.05, 0.05),
        |i| {
            let mut c = ha_config(i, 3, mode);
            c.max_lifetime = LOSSY_LIFETIME;
            c
        },
    ));
}

fn lossy_end_to_end_in(mut w: World) -> World {
    let mut clients = Vec::new();
    for k in 1..=24 {
        let by_nai = k % 2 == 0;
        let mut cfg = w.client_cfg(k, by_nai, mn_addr(k));
        // Four lossy hops per attempt (10% loss each: about one attempt in three fails), so 9
        // attempts still failed about once in 15,000 registrations (seeds 357, 460, 933, 1088:
        // every attempt lost on some hop), 12 attempts once in 40,000 runs (seed 18758). 14
        // attempts: about once in 3 million registrations.
        cfg.max_retransmits = 13;
        cfg.lifetime = LOSSY_LIFETIME;
        let id = w.add_mn(cfg);
        let now = w.sim.now();
        w.mn(id).register(now);
        clients.push((k, by_nai, id));
        w.sim.run_for(Duration::from_millis(137));
    }
    // Until every mobile node has an outcome (its backoff ends within 8192 s).
    let mut outcomes = std::collections::HashMap::new();
    for _ in 0..8200 {
        w.sim.run_for(Duration::from_secs(1));
        for (k, _, id) in &clients {
            if !outcomes.contains_key(k)
                && let Some(e) = w.mn(*id).poll_event()
            {
                outcomes.insert(*k, e);
            }
        }
        if outcomes.len() == clients.len() {
            break;
        }
    }
    // The tables are compared under one view of the cluster. Four heartbeats lost in a row (about
    // once in 10,000 seconds per pair of HAs at 10% loss) make an HA see a live peer Down: it
    // re-points the peer's bindings to an owner that, still seeing the peer, waits (seed 3556,
    // layer 3). That lasts until it hears the peer again and points them back, and the records it
    // points back reach the other HAs: one view also means no replication in flight. Seed 86797
    // (layer 2): HA 3 saw HA 2 Down at 11.0 s, took its 11 bindings over and handed them back
    // (a Takeover, 11 Upserts naming HA 3, the same 11 naming HA 2 again). HA 1 got the first
    // 32-item batch (to the Upsert naming HA 3 for MN 11), not acknowledged in time (its
    // retransmission at 11.20 s lost), so at 11.29 s, with every HA Up, HA 1 still named HA 3
    // for MN 11 while HA 2 served it, 38 items behind. A false Down within a second of the check
    // and a loss on the hand-back: 1 run in the 200,000 of the 0..100,000 sweep.
    for _ in 0..60 {
        let all_up = (1..=3u32).all(|i| {
            (1..=3u32)
                .filter(|j| *j != i)
                .all(|j| w.ha(i).peer_state(NodeId(j)) == NodeState::Up)
        });
        let quiet = (1..=3u32).all(|i| {
            (1..=3u32)
                .filter(|j| *j != i)
                .all(|j| w.ha(i).replication_backlog(NodeId(j)) == 0)
        });
        if all_up && quiet {
            break;
        }
        w.sim.run_for(Duration::from_secs(1));
    }
    let mut homes = Vec::new();
    for (k, by_nai, _) in &clients {
        let e = outcomes.remove(k);
        let h = match e {
            Some(ClientEvent::Registered { home_address, .. }) => home_address,
            other => panic!("MN {k}: {other:?}"),
        };
        if !by_nai {
            assert_eq!(h, home(*k));
        }
        homes.push(h);
        let n = by_nai.then(|| nai(*k));
        let b1 = w.ha(1).binding(h, n.as_deref()).unwrap().clone();
        assert_eq!(b1.state(), BindingState::Permanent, "MN {k} at HA 1");
        let s = b1.second_ha.0;
        let b2 = w.ha(s).binding(h, n.as_deref()).unwrap().clone();
        assert_eq!(b2.second_ha, NodeId(s));
        assert_eq!(b2.identification, b1.identification);
    }
    // Every assigned address is distinct.
    let mut sorted = homes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), homes.len());
    // NAI mobile nodes re-register with 0.0.0.0 again: the binding is found by NAI, same address.
    for ((k, by_nai, id), h) in clients.iter().zip(&homes) {
        if *by_nai {
            let mut cfg = w.client_cfg(*k, true, mn_addr(*k + 100));
            cfg.max_retransmits = 13;
            cfg.lifetime = LOSSY_LIFETIME;
            let again = w.add_mn(cfg);
            assert_eq!(registered(&w.register(again)), *h, "MN {k}");
            let _ = id;
        }
    }
    w
}

#[test]
fn end_to_end_with_loss_duplication_and_reordering_layer2() {
    lossy_end_to_end(ForwardMode::Layer2, 21);
}

#[test]
fn claim3_layer2_without_notices_the_second_ha_learns_the_first_ha_from_the_source_mac() {
    let w = World::with(3, 23, LinkConfig::lossy(0.1, 0.05, 0.05), |i| {
        let mut c = ha_config(i, 3, ForwardMode::Layer2);
        c.layer2_notices = false;
        c.max_lifetime = LOSSY_LIFETIME;
        c
    });
    let mut w = lossy_end_to_end_in(w);
    // Requests were forwarded at layer 2 and relayed back through HA 1, with no notice at all.
    let trace = w.sim.trace();
    let notices = trace
        .iter()
        .filter(|r| {
            ClusterMessage::parse(&r.payload, KEY)
                .is_ok_and(|m| matches!(m.body, Body::Notice { .. }))
        })
        .count();
    assert_eq!(notices, 0);
    let forwarded_frames = trace
        .iter()
        .filter(|r| {
            r.src_node == Some(w.ha[0])
                && r.to == vip()
                && r.link_dst.is_some()
                && r.payload.first() == Some(&1)
        })
        .count();
    assert!(forwarded_frames >= 3, "{forwarded_frames} forwarded frames");
    let served_elsewhere = w.ha(2).stats().served + w.ha(3).stats().served;
    assert!(served_elsewhere >= 3, "{served_elsewhere}");
    assert!(w.ha(1).stats().relayed >= 3);
}

#[test]
fn end_to_end_with_loss_duplication_and_reordering_layer3() {
    lossy_end_to_end(ForwardMode::Layer3, 22);
}

#[test]
fn claim10_temporary_bindings_are_replicated_too() {
    let mut w = World::new(3, ForwardMode::Layer3, 23, LinkConfig::default());
    // HA 1 cannot reach HA 2: a request it forwards there stays temporary.
    w.sim.partition(w.ha[0], w.ha[1]);
    for k in 1..=20 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        let now = w.sim.now();
        w.mn(id).register(now);
        w.sim.run_for(Duration::from_millis(20));
        let pending = w
            .ha(1)
            .binding(home(k), None)
            .and_then(|b| b.pending.clone())
            .filter(|p| p.second_ha == NodeId(2));
        if let Some(p) = pending {
            w.sim.crash(id);
            let r = w.ha(3).binding(home(k), None).unwrap().clone();
            let rp = r.pending.clone().expect("replicated temporary binding");
            assert_eq!(r.state(), BindingState::Temporary);
            assert_eq!(
                (rp.fa, rp.second_ha, rp.identification),
                (p.fa, p.second_ha, p.identification)
            );
            // Both copies are freed by their pending timers.
            w.sim.run_for(Duration::from_millis(2100));
            assert!(w.ha(1).binding(home(k), None).is_none());
            assert!(w.ha(3).binding(home(k), None).is_none());
            return;
        }
        // Quickly, while HA 1 still sees HA 2 Up: least-loaded selection reaches HA 2 (it serves
        // nothing) once HA 1 and HA 3 serve one binding each.
        w.sim.run_for(Duration::from_millis(100));
    }
    panic!("no request forwarded to HA 2");
}

/// `MIP_SWEEP=FROM..TO cargo test --release --test mip_virtual_ha wide_seed_sweep -- --ignored`:
/// the lossy end-to-end scenario in both modes over a range of seeds (default 100..300), every
/// failure listed.
#[test]
#[ignore = "wide seed sweep, run by hand"]
fn wide_seed_sweep() {
    let range = std::env::var("MIP_SWEEP").unwrap_or_else(|_| "100..300".into());
    let (a, b) = range.split_once("..").expect("FROM..TO");
    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    let mut fails = Vec::new();
    for seed in a..b {
        for mode in [ForwardMode::Layer2, ForwardMode::Layer3] {
            if let Err(e) = std::panic::catch_unwind(|| lossy_end_to_end(mode, seed)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                fails.push((seed, mode, msg));
            }
        }
    }
    for f in &fails {
        eprintln!("failed: {f:?}");
    }
    assert!(
        fails.is_empty(),
        "{} of {} runs failed",
        fails.len(),
        2 * (b - a)
    );
}

/// Seed 68792 of the wide sweep (layer 2): the first HA's forwarded frame reached the second HA
/// twice; the copy was refused with 133 (RFC 5944 section 3.8.3: the Identification is checked
/// for replay, section 5.7) and that refusal reached the first HA before the acceptance. The
/// first HA relays the reply it gets for its pending request (RFC 5944 section 3.8.3), but the
/// acceptance of the same request by the same second HA still decides the binding.
#[test]
fn wide_sweep_seed_68792_layer2_duplicate_refused_before_accepted() {
    lossy_end_to_end(ForwardMode::Layer2, 68792);
}

/// Seed 69426 of the wide sweep (layer 2): as seed 68792; the dropped acceptance left the mobile
/// node (by NAI) with two home addresses.
#[test]
fn wide_sweep_seed_69426_layer2_duplicate_refused_before_accepted() {
    lossy_end_to_end(ForwardMode::Layer2, 69426);
}

#[test]
#[ignore = "seed sweep, run by hand"]
fn seed_sweep() {
    for seed in 100..112 {
        eprintln!("seed {seed}");
        lossy_end_to_end(ForwardMode::Layer2, seed);
        lossy_end_to_end(ForwardMode::Layer3, seed + 1000);
        failover(seed, 2 + (seed % 3) as u32);
        authoritative_bulk_sync(seed);
        divergent_takeover(seed);
        split_and_crash(seed);
        restart_empty(seed);
    }
}

#[test]
fn claim6_a_forged_reply_matching_a_temporary_binding_is_dropped_a_genuine_one_relayed() {
    let mut w = World::new(3, ForwardMode::Layer3, 24, LinkConfig::default());
    w.sim.partition(w.ha[0], w.ha[1]);
    w.sim.partition(w.ha[0], w.ha[2]);
    let outsider = sock(Ipv4Addr::new(203, 0, 113, 40), 434);
    for k in 1..=20 {
        let id = ntp_at(&w);
        w.sim.inject(outsider, vip(), request(k, VIP, id, None));
        w.sim.run_for(Duration::from_millis(20));
        if !w
            .ha(1)
            .binding(home(k), None)
            .is_some_and(|b| b.state() == BindingState::Temporary)
        {
            continue;
        }
        let reply = |sa: &SecurityAssociation| {
            Builder::reply(Reply {
                code: ReplyCode::ACCEPTED,
                lifetime: 600,
                home_address: home(k),
                home_agent: VIP,
                identification: id,
            })
            .mn_ha_auth(sa)
            .to_vec()
        };
        let n_trace = w.sim.trace().len();
        // Signed with another mobile node's key: dropped, counted, the binding stays temporary.
        w.sim.inject(ha_addr(2), vip(), reply(&mn_sa(k + 1)));
        w.sim.run_for(Duration::from_millis(20));
        assert_eq!(w.ha(1).stats().unauthenticated_replies, 1);
        assert!(w.sim.trace()[n_trace..].iter().all(|r| r.to != outsider));
        assert_eq!(
            w.ha(1).binding(home(k), None).unwrap().state(),
            BindingState::Temporary
        );
        // The genuine reply is relayed and makes the binding permanent.
        w.sim.inject(ha_addr(2), vip(), reply(&mn_sa(k)));
        w.sim.run_for(Duration::from_millis(20));
        assert_eq!(
            w.replies_to(outsider).last().unwrap().code,
            ReplyCode::ACCEPTED
        );
        assert_eq!(
            w.ha(1).binding(home(k), None).unwrap().state(),
            BindingState::Permanent
        );
        return;
    }
    panic!("no request was forwarded");
}

#[test]
#[ignore = "long random run of the fuzz harness, by hand"]
fn harness_home_agent_long_run() {
    let t0 = std::time::Instant::now();
    let mut rng = telcp::Rng::seed_from_u64(77);
    for i in 0..20_000u32 {
        let n = rng.below(2000) as usize;
        let mut data = vec![0u8; n];
        rng.fill_bytes(&mut data);
        // Bias towards the structured operations.
        for b in data.iter_mut().step_by(3) {
            *b %= 6;
        }
        if i % 1000 == 0 {
            eprintln!("{i}");
        }
        telcp::harness::mip::home_agent(t0, &data);
    }
}

// ---------------------------------------------------------------- several foreign agents

fn fa_addr(j: u32) -> SocketAddr {
    sock(Ipv4Addr::new(198, 51, 200, j as u8), 434)
}

fn fa_sa(j: u32) -> SecurityAssociation {
    SecurityAssociation::new(
        0x2000 + j,
        AuthAlgorithm::HmacMd5,
        format!("fa-key-{j}").into_bytes(),
    )
}

#[test]
fn several_foreign_agents_relay_with_fa_ha_authentication_and_a_forged_fa_gets_132() {
    for mode in [ForwardMode::Layer2, ForwardMode::Layer3] {
        let mut w = World::with(3, 25, LinkConfig::lossy(0.1, 0.02, 0.05), |i| {
            let mut c = ha_config(i, 3, mode);
            for j in 1..=3 {
                c.foreign_agents
                    .push((Ipv4Addr::new(198, 51, 200, j as u8), fa_sa(j)));
            }
            c
        });
        let mut fas = Vec::new();
        for j in 1..=3 {
            // FA 3 holds the wrong key.
            let sa = if j == 3 { fa_sa(9) } else { fa_sa(j) };
            let fa = ForeignAgent::new(
                ForeignAgentConfig {
                    home_agent: vip(),
                    fa_ha: Some(sa),
                    max_pending: 64,
                    pending_timeout: Duration::from_secs(10),
                },
                w.sim.now(),
            )
            .unwrap();
            fas.push(
                w.sim
                    .add_node(format!("fa{j}"), &[fa_addr(j)], None, Box::new(fa)),
            );
        }
        let mut clients = Vec::new();
        for k in 1..=12 {
            let j = 1 + k % 3;
            let mut cfg = w.client_cfg(k, k % 2 == 0, mn_addr(k));
            cfg.via = Some(fa_addr(j));
            let id = w.add_mn(cfg);
            let now = w.sim.now();
            w.mn(id).register(now);
            clients.push((k, j, id));
            w.sim.run_for(Duration::from_millis(100));
        }
        w.sim.run_for(Duration::from_secs(15));
        for (k, j, id) in clients {
            let e = w.mn(id).poll_event();
            if j == 3 {
                // The HA refuses the forged FA with 132; the FA, holding the wrong key, cannot
                // verify even that reply, so its mobile node is never registered.
                assert!(!matches!(e, Some(ClientEvent::Registered { .. })), "MN {k}");
            } else {
                let h = match e {
                    Some(ClientEvent::Registered { home_address, .. }) => home_address,
                    other => panic!("MN {k} via FA {j}: {other:?}"),
                };
                let n = (k % 2 == 0).then(|| nai(k));
                let b = w.ha(1).binding(h, n.as_deref()).unwrap().clone();
                assert_eq!(SocketAddr::V4(b.fa), fa_addr(j), "replies go to the FA");
                assert_eq!(b.care_of.first().unwrap().address.octets()[2], 200);
            }
        }
        assert!(w.sim.node::<ForeignAgent>(fas[0]).relayed_replies >= 4);
        assert!(
            w.replies_to(fa_addr(3))
                .iter()
                .all(|r| r.code == ReplyCode::FA_AUTH_FAILED)
        );
        assert!(!w.replies_to(fa_addr(3)).is_empty());
    }
}

// ---------------------------------------------------------------- tshark on a cluster run

#[test]
fn tshark_dissects_the_registrations_of_a_cluster_run_without_errors() {
    let ok = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: tshark not found");
        return;
    }
    let mut w = World::new(3, ForwardMode::Layer2, 26, LinkConfig::default());
    for k in 1..=9 {
        let cfg = w.client_cfg(k, k % 3 == 0, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
    }
    let dir = std::env::temp_dir().join(format!("telcp-mip-ha-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cluster.pcap");
    let f = std::fs::File::create(&path).unwrap();
    drop(w.sim.write_pcap(f).unwrap());
    let filter = "mip.type == 1 || mip.type == 3";
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args(["-q", "-z", &format!("expert,{filter}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Errors"), "{text}");
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args([
            "-Y", filter, "-T", "fields", "-e", "mip.type", "-e", "mip.code",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    // Each registration: request (MN -> HA 1), maybe forwarded, reply, maybe relayed.
    assert!(
        lines.iter().filter(|l| l.starts_with('1')).count() >= 9,
        "{text}"
    );
    assert!(
        lines.iter().filter(|l| **l == "3\t0").count() >= 9,
        "{text}"
    );
    assert!(lines.iter().all(|l| *l == "1\t" || *l == "3\t0"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- authoritative bulk sync

/// A backup that misses removals (partitioned from the primary until the primary's replication
/// queue overflowed and the backup was Down, then Up again) ends the primary's bulk sync holding
/// exactly the primary's bindings: no replica of the mobile nodes deregistered (or expired)
/// meanwhile, every other one with its identification.
#[test]
fn claim10_bulk_sync_after_a_partition_removes_replicas_of_deregistered_bindings() {
    authoritative_bulk_sync(31);
}

fn authoritative_bulk_sync(seed: u64) {
    let mut w = World::with(3, seed, LinkConfig::lossy(0.05, 0.02, 0.02), |i| {
        let mut c = ha_config(i, 3, ForwardMode::Layer2);
        c.max_replication_queue = 4;
        c
    });
    // Every mobile node registers with HA 1 by its own address: HA 1 serves them all, and the
    // bulk sync of 40 bindings spans several batches.
    let mut clients = Vec::new();
    for k in 1..=40 {
        let mut cfg = w.client_cfg(k, false, mn_addr(k));
        cfg.home_agent = ha_addr(1);
        cfg.max_retransmits = 8;
        if k == 40 {
            cfg.lifetime = 8;
        }
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        clients.push(id);
    }
    w.sim.run_for(Duration::from_secs(2));
    for k in 1..=40 {
        let b = w.ha(3).binding(home(k), None).expect("replicated");
        assert_eq!(b.second_ha, NodeId(1));
    }
    // HA 3 is cut off from HA 1 (not from HA 2): twelve deregistrations and one expiry at HA 1
    // overflow its queue towards HA 3, and HA 3 goes Down for HA 1.
    w.sim.partition(w.ha[0], w.ha[2]);
    for k in 1..=12 {
        assert_eq!(
            w.run_request(clients[k - 1], true),
            ClientEvent::Deregistered
        );
    }
    w.sim.run_for(Duration::from_secs(8));
    assert_eq!(w.ha(1).peer_state(NodeId(3)), NodeState::Down);
    assert!(w.ha(1).binding(home(40), None).is_none(), "MN 40 expired");
    // HA 3 still holds the stale replicas (nothing reached it).
    assert!(w.ha(3).binding(home(1), None).is_some());
    w.sim.heal(w.ha[0], w.ha[2]);
    w.sim.run_for(Duration::from_secs(8));
    assert_eq!(w.ha(1).peer_state(NodeId(3)), NodeState::Up);
    assert_eq!(w.ha(1).replication_backlog(NodeId(3)), 0);
    for i in [3, 2] {
        for k in (1..=12).chain([40]) {
            assert!(
                w.ha(i).binding(home(k), None).is_none(),
                "HA {i} keeps a stale replica of MN {k}"
            );
        }
        for k in 13..=39 {
            let truth = w.ha(1).binding(home(k), None).unwrap().clone();
            let b = w
                .ha(i)
                .binding(home(k), None)
                .unwrap_or_else(|| panic!("HA {i} lost MN {k}"))
                .clone();
            assert_eq!(b.second_ha, NodeId(1));
            assert_eq!(b.identification, truth.identification);
        }
        assert_eq!(w.ha(i).bindings().len(), 27, "HA {i} binding count");
    }
}

// ---------------------------------------------------------------- divergent takeovers

/// HA 3 crashes while HA 1 and HA 2 cannot hear each other (Suspect): each believes it is the
/// lowest live backup, coordinates, and picks a different owner (HA 4, small, is the most
/// loaded). After the partition heals, every binding HA 3 served is served by one owner that
/// every table names, and each of those mobile nodes re-registers without 131 or 133.
#[test]
fn claim11_two_coordinators_choosing_different_owners_converge_on_one() {
    divergent_takeover(32);
}

fn divergent_takeover(seed: u64) {
    let mut w = World::with(4, seed, LinkConfig::default(), |i| {
        let mut c = ha_config(i, 4, ForwardMode::Layer2);
        c.misses_suspect = 1;
        if i == 4 {
            c.max_bindings = 50;
        }
        c
    });
    let mut clients = Vec::new();
    for k in 1..=16 {
        let mut cfg = w.client_cfg(k, false, mn_addr(k));
        if k == 16 {
            // HA 4 serves at least one binding, so it is the most loaded of all.
            cfg.home_agent = ha_addr(4);
        }
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        clients.push((k, id));
        w.sim.run_for(Duration::from_millis(300));
    }
    w.sim.run_for(Duration::from_secs(2));
    let served: Vec<u32> = (1..=16)
        .filter(|k| w.ha(1).binding(home(*k), None).unwrap().second_ha == NodeId(3))
        .collect();
    assert!(!served.is_empty(), "HA 3 serves nothing");
    let total: usize = w.ha(1).bindings().len();
    for i in 1..=4 {
        let _ = w.events(i);
    }
    // HA 3 crashes; two seconds later HA 1 and HA 2 lose each other, until both find HA 3 Down.
    w.sim.crash(w.ha[2]);
    w.sim.run_for(Duration::from_secs(2));
    w.sim.partition(w.ha[0], w.ha[1]);
    for _ in 0..100 {
        if w.ha(1).peer_state(NodeId(3)) == NodeState::Down
            && w.ha(2).peer_state(NodeId(3)) == NodeState::Down
        {
            break;
        }
        w.sim.run_for(Duration::from_millis(100));
    }
    assert_eq!(w.ha(1).peer_state(NodeId(3)), NodeState::Down);
    assert_eq!(w.ha(2).peer_state(NodeId(3)), NodeState::Down);
    assert_eq!(w.ha(1).peer_state(NodeId(2)), NodeState::Suspect);
    assert_eq!(w.ha(2).peer_state(NodeId(1)), NodeState::Suspect);
    let first_owner = |events: Vec<Event>| {
        events.into_iter().find_map(|e| match e {
            Event::TakenOver {
                failed: NodeId(3),
                owner,
                ..
            } => Some(owner),
            _ => None,
        })
    };
    let o1 = first_owner(w.events(1)).expect("HA 1 coordinated");
    let o2 = first_owner(w.events(2)).expect("HA 2 coordinated");
    assert_ne!(o1, o2, "the two coordinators chose the same owner");
    w.sim.heal(w.ha[0], w.ha[1]);
    w.sim.run_for(Duration::from_secs(10));
    // One owner, named by every live table, for every binding HA 3 served; nothing lost.
    let owner = w.ha(1).binding(home(served[0]), None).unwrap().second_ha;
    assert!([1, 2, 4].contains(&owner.0), "owner {owner:?}");
    for i in [1, 2, 4] {
        for k in &served {
            let b = w
                .ha(i)
                .binding(home(*k), None)
                .unwrap_or_else(|| panic!("HA {i} lost MN {k}"));
            assert_eq!(b.second_ha, owner, "HA {i} MN {k}");
        }
        assert_eq!(w.ha(i).bindings().len(), total, "HA {i} binding count");
    }
    // Each of them re-registers at once, without 131 or 133.
    for (k, id) in clients.into_iter().filter(|(k, _)| served.contains(k)) {
        match w.register(id) {
            ClientEvent::Registered { .. } => {}
            e => panic!("MN {k}: {e:?}"),
        }
        for r in w.replies_to(mn_addr(k)) {
            assert!(
                r.code != ReplyCode::MN_AUTH_FAILED && r.code != ReplyCode::IDENTIFICATION_MISMATCH,
                "MN {k} got {:?}",
                r.code
            );
        }
        for i in [1, 2, 4] {
            assert_eq!(w.ha(i).binding(home(k), None).unwrap().second_ha, owner);
        }
    }
}

/// The receiving side of a bulk sync, message by message: a sync restarted midway sweeps with the
/// latest epoch only, an end for an older epoch and a duplicated batch change nothing, and the
/// sweep removes only the sender's replicas (not another HA's, not what the receiver serves).
#[test]
fn claim10_bulk_sync_epochs_restarts_and_duplicates_at_the_receiver() {
    use telcp::mip::cluster::{Item, Record, RecordState};
    let start = Instant::now();
    let mut ha = HomeAgent::new(ha_config(2, 3, ForwardMode::Layer2), start).unwrap();
    let mut pn = 0;
    let mut batch = |ha: &mut HomeAgent, sender: u32, seq: u64, items: Vec<Item>| {
        pn += 1;
        let m = ClusterMessage {
            sender: NodeId(sender),
            incarnation: 1,
            pn,
            body: Body::Replicate { seq, items },
        }
        .to_vec(KEY);
        ha.handle_datagram(start, ha_addr(sender), ha_addr(2), &m)
            .unwrap();
    };
    let rec = |k: u32, first: u32, second: u32, state: BindingState| {
        let care_of = Ipv4Addr::new(203, 0, 113, k as u8);
        let state = match state {
            BindingState::Temporary => RecordState::Temporary {
                care_of,
                pending_left: Duration::from_millis(600),
            },
            BindingState::Permanent => RecordState::Permanent {
                care_of: vec![(care_of, Some(Duration::from_secs(600)))],
            },
        };
        Item::Upsert(Record {
            home_address: home(k),
            nai: None,
            first_ha: NodeId(first),
            second_ha: NodeId(second),
            fa: mn_addr(k),
            identification: u64::from(k),
            state,
        })
    };
    let perm = BindingState::Permanent;
    let has = |ha: &HomeAgent, k: u32| ha.binding(home(k), None).is_some();
    // HA 1 replicates 1..=4 (4 temporary, forwarded to HA 3); HA 3 replicates 5; HA 2 serves 6
    // itself (registered at its own address).
    let q = request(
        6,
        Ipv4Addr::new(192, 0, 2, 2),
        NtpTime::from_unix(WALL).0,
        None,
    );
    ha.handle_datagram(start, mn_addr(6), ha_addr(2), &q)
        .unwrap();
    assert_eq!(ha.binding(home(6), None).unwrap().second_ha, NodeId(2));
    batch(
        &mut ha,
        1,
        1,
        vec![
            rec(1, 1, 1, perm),
            rec(2, 1, 1, perm),
            rec(3, 1, 1, perm),
            rec(4, 1, 3, BindingState::Temporary),
            rec(6, 1, 2, perm),
        ],
    );
    batch(&mut ha, 3, 1, vec![rec(5, 3, 3, perm)]);
    assert!((1..=6).all(|k| has(&ha, k)));
    // Sync 1 from HA 1, restarted midway as sync 2 (a duplicate of a batch on the way).
    batch(
        &mut ha,
        1,
        2,
        vec![Item::SyncBegin { epoch: 1 }, rec(1, 1, 1, perm)],
    );
    batch(
        &mut ha,
        1,
        3,
        vec![Item::SyncBegin { epoch: 2 }, rec(2, 1, 1, perm)],
    );
    batch(
        &mut ha,
        1,
        3,
        vec![Item::SyncBegin { epoch: 2 }, rec(2, 1, 1, perm)],
    );
    // An end of the abandoned sync changes nothing.
    batch(&mut ha, 1, 4, vec![Item::SyncEnd { epoch: 1 }]);
    assert!((1..=6).all(|k| has(&ha, k)));
    // The end of sync 2: HA 1 named only MN 2, so its other replicas (1, 3 and the temporary 4)
    // go; HA 3's (5) and the one HA 2 serves (6) stay.
    batch(
        &mut ha,
        1,
        5,
        vec![rec(3, 1, 1, perm), Item::SyncEnd { epoch: 2 }],
    );
    let left: Vec<u32> = (1..=6).filter(|k| has(&ha, *k)).collect();
    assert_eq!(left, vec![2, 3, 5, 6]);
    // A retransmitted copy of that last batch (already acknowledged) changes nothing either.
    batch(&mut ha, 1, 5, vec![Item::SyncEnd { epoch: 2 }]);
    batch(&mut ha, 1, 4, vec![Item::SyncBegin { epoch: 9 }]);
    batch(&mut ha, 1, 6, vec![Item::SyncEnd { epoch: 9 }]);
    let left: Vec<u32> = (1..=6).filter(|k| has(&ha, *k)).collect();
    assert_eq!(left, vec![2, 3, 5, 6]);
}

/// A harder split: HA 1 and HA 2 are cut off from each other long enough to find each other
/// Down (each takes over the other's bindings for the HAs it still reaches) while HA 3 crashes.
/// After the partition heals, every table names the same live server for every binding, and
/// every mobile node re-registers without 131 or 133.
#[test]
fn claim11_a_partition_and_a_crash_together_converge_on_one_server_per_binding() {
    split_and_crash(33);
}

fn split_and_crash(seed: u64) {
    let mut w = World::new(4, ForwardMode::Layer2, seed, LinkConfig::default());
    let mut clients = Vec::new();
    for k in 1..=16 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        clients.push((k, id));
        w.sim.run_for(Duration::from_millis(300));
    }
    w.sim.run_for(Duration::from_secs(2));
    let total = w.ha(1).bindings().len();
    w.sim.partition(w.ha[0], w.ha[1]);
    w.sim.crash(w.ha[2]);
    w.sim.run_for(Duration::from_secs(8));
    assert_eq!(w.ha(1).peer_state(NodeId(2)), NodeState::Down);
    assert_eq!(w.ha(2).peer_state(NodeId(1)), NodeState::Down);
    w.sim.heal(w.ha[0], w.ha[1]);
    w.sim.run_for(Duration::from_secs(10));
    for k in 1..=16 {
        let owner = w.ha(1).binding(home(k), None).unwrap().second_ha;
        assert_ne!(owner, NodeId(3), "MN {k}");
        for i in [1, 2, 4] {
            let b = w
                .ha(i)
                .binding(home(k), None)
                .unwrap_or_else(|| panic!("HA {i} lost MN {k}"));
            assert_eq!(b.second_ha, owner, "HA {i} MN {k}");
        }
    }
    for i in [1, 2, 4] {
        assert_eq!(w.ha(i).bindings().len(), total, "HA {i} binding count");
    }
    for (k, id) in clients {
        match w.register(id) {
            ClientEvent::Registered { .. } => {}
            e => panic!("MN {k}: {e:?}"),
        }
        for r in w.replies_to(mn_addr(k)) {
            assert!(
                r.code != ReplyCode::MN_AUTH_FAILED && r.code != ReplyCode::IDENTIFICATION_MISMATCH,
                "MN {k} got {:?}",
                r.code
            );
        }
    }
}

/// An HA whose bindings were taken over restarts with an empty table: its (empty) bulk sync does
/// not make anyone drop the bindings now served by the owner, and it gets them all back as
/// replicas.
#[test]
fn claim11_a_failed_ha_that_restarts_empty_takes_nothing_away_from_the_owner() {
    restart_empty(34);
}

fn restart_empty(seed: u64) {
    let mut w = World::new(
        3,
        ForwardMode::Layer2,
        seed,
        LinkConfig::lossy(0.05, 0.02, 0.02),
    );
    let mut clients = Vec::new();
    for k in 1..=15 {
        let cfg = w.client_cfg(k, false, mn_addr(k));
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        clients.push((k, id));
        w.sim.run_for(Duration::from_millis(300));
    }
    w.sim.run_for(Duration::from_secs(2));
    let served: Vec<u32> = (1..=15)
        .filter(|k| w.ha(1).binding(home(*k), None).unwrap().second_ha == NodeId(2))
        .collect();
    assert!(!served.is_empty());
    w.sim.crash(w.ha[1]);
    w.sim.run_for(Duration::from_secs(8));
    let owner = w.ha(1).binding(home(served[0]), None).unwrap().second_ha;
    assert_ne!(owner, NodeId(2));
    let mut cfg = ha_config(2, 3, ForwardMode::Layer2);
    cfg.incarnation = 2;
    let now = w.sim.now();
    cfg.wall_clock = WALL + now.duration_since(w.start);
    w.sim
        .restart(w.ha[1], Box::new(HomeAgent::new(cfg, now).unwrap()));
    w.sim.run_for(Duration::from_secs(10));
    for i in 1..=3 {
        for k in 1..=15 {
            let b = w
                .ha(i)
                .binding(home(k), None)
                .unwrap_or_else(|| panic!("HA {i} lacks MN {k}"));
            if served.contains(&k) {
                assert_eq!(b.second_ha, owner, "HA {i} MN {k}");
            }
        }
    }
    for (k, id) in clients.into_iter().filter(|(k, _)| served.contains(k)) {
        match w.register(id) {
            ClientEvent::Registered { .. } => {}
            e => panic!("MN {k}: {e:?}"),
        }
    }
}
