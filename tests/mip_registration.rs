//! The virtual Home Agent cluster (issue 6), registration claims on the deterministic simulator
//! (`common::mip`): addresses accepted and refused (claim 1), the binding's second HA (claim 2),
//! layer-2 and layer-3 forwarding (claim 3), temporary bindings made permanent and relayed (claims
//! 4-6), lifetimes and simultaneous bindings (claim 7), several foreign agents.
#![cfg(feature = "sim")]

mod common;

use common::mip::*;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{NodeId, NodeState};
use telcp::mip::binding::BindingState;
use telcp::mip::cluster::{Body, ClusterMessage};
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::wire::{Builder, Extension, ExtensionType, Reply, ReplyCode};
use telcp::mip::{
    ClientEvent, Event, ForeignAgent, ForeignAgentConfig, ForwardMode, HomeAgent, MnId,
    MobileNodeClient,
};
use telcp::sim::{Fate, LinkConfig, NodeId as SimId, Sim};

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
    w.run_for(Duration::from_millis(100));
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
    w.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::POORLY_FORMED_REQUEST
    );
    // A mobile node for which the HA has no key: 131.
    w.sim
        .inject(outsider, vip(), request(MNS + 7, VIP, id + 2, None));
    w.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::MN_AUTH_FAILED
    );
    // A known mobile node with a wrong authenticator: 131 too.
    let mut forged = request(4, VIP, id + 3, None);
    let n = forged.len();
    forged[n - 1] ^= 1;
    w.sim.inject(outsider, vip(), forged);
    w.run_for(Duration::from_millis(100));
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
        w.run_for(Duration::from_millis(1100));
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
    w.run_for(Duration::from_secs(6));
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

/// RFC 5944 3.8.3.1: the reply's IP source address and UDP source port are copied from the
/// request's destination, also when the first HA relays the second HA's reply: a request sent
/// to the virtual address on port 4340 is answered from the virtual address and port 4340,
/// whichever HA served it.
#[test]
fn a_relayed_reply_leaves_from_the_address_and_port_the_request_was_sent_to() {
    let to = sock(VIP, 4340);
    // World::new's cluster, each HA also owning the virtual address on port 4340.
    let start = Instant::now();
    let mut sim = Sim::new(4, start);
    let ha: Vec<SimId> = (1..=3)
        .map(|i| {
            let h = HomeAgent::new(ha_config(i, 3, ForwardMode::Layer3), start).unwrap();
            sim.add_node(
                format!("ha{i}"),
                &[ha_addr(i), vip(), to],
                Some(mac(i)),
                Box::new(h),
            )
        })
        .collect();
    sim.set_route(VIP.into(), ha[0]);
    let mut w = World::of(sim, ha, start, 4);
    w.run_for(Duration::from_secs(3));
    let mut relayed = 0;
    for k in 1..=12 {
        let mut cfg = w.client_cfg(k, false, mn_addr(k));
        cfg.home_agent = to;
        let id = w.add_mn(cfg);
        registered(&w.register(id));
        let second = w.ha(1).binding(home(k), None).unwrap().second_ha.0;
        let sources: Vec<SocketAddr> = w
            .sim
            .trace()
            .iter()
            .filter(|r| r.to == mn_addr(k) && r.src_node == Some(w.ha[0]))
            .map(|r| r.from)
            .collect();
        assert!(!sources.is_empty(), "mobile node {k}: no reply");
        assert!(
            sources.iter().all(|f| *f == to),
            "mobile node {k} (served by HA {second}): replies from {sources:?}"
        );
        relayed += usize::from(second != 1);
    }
    assert!(relayed >= 3, "only {relayed} replies relayed");
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
        w.run_for(Duration::from_micros(1500));
        let b = w
            .ha(1)
            .binding(Ipv4Addr::UNSPECIFIED, Some(&nai(k)))
            .cloned();
        match b {
            Some(b) if b.state() == BindingState::Temporary => {
                let p = b.pending().cloned().unwrap();
                // Claim 4: MN identifier, FA address, second HA, identification, pending timer.
                assert_eq!(b.nai(), Some(&nai(k)[..]));
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
                w.run_for(Duration::from_secs(1));
                let _ = w.sim.poll_event_of::<MobileNodeClient>(id);
                k += 1;
                assert!(k < 20, "nothing was forwarded");
            }
        }
    };
    w.run_for(Duration::from_millis(100));
    // Claim 5: the second HA assigned an address from its pool, bounded the lifetime, bound it.
    let e = w.sim.poll_event_of::<MobileNodeClient>(id).unwrap();
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
    assert!(b1.pending().is_none());
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
    w.run_for(Duration::from_millis(50));
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
        w.run_for(Duration::from_millis(10));
        let temp = w
            .ha(1)
            .binding(home(k), None)
            .is_some_and(|b| b.state() == BindingState::Temporary);
        if temp {
            // The mobile node goes quiet (no retransmission refreshes the temporary binding).
            w.sim.crash(id);
            let _ = w.events(1);
            w.run_for(Duration::from_millis(2100));
            assert!(w.events(1).iter().any(|e| *e
                == Event::TemporaryExpired {
                    mn: MnId::Home(home(k))
                }));
            assert!(w.ha(1).binding(home(k), None).is_none(), "freed");
            assert_eq!(w.ha(1).bindings().pending_len(), 0);
            return;
        }
        w.sim.heal_all();
        w.run_for(Duration::from_secs(5));
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
    w.run_for(Duration::from_millis(100));
    let r = w.replies_to(outsider);
    let r = r.last().unwrap();
    assert_eq!(r.code, ReplyCode::IDENTIFICATION_MISMATCH);
    assert_eq!(r.identification & 0xffff_ffff, stale & 0xffff_ffff);
    assert_eq!(r.identification >> 32, ntp_at(&w) >> 32);
    // A good one, then its replay: the replay is refused with 133.
    let good = ntp_at(&w);
    w.sim.inject(outsider, vip(), request(9, VIP, good, None));
    w.run_for(Duration::from_millis(100));
    assert_eq!(
        w.replies_to(outsider).last().unwrap().code,
        ReplyCode::ACCEPTED
    );
    w.sim.inject(outsider, vip(), request(9, VIP, good, None));
    w.run_for(Duration::from_millis(100));
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
    w.run_for(Duration::from_secs(10));
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
    // The server of this registration (the first HA may have chosen another member).
    let server = w.ha(1).binding(home(k), None).unwrap().second_ha.0;
    for i in 1..=3 {
        let _ = w.events(i);
    }
    w.run_for(Duration::from_secs(21));
    for i in 1..=3 {
        assert!(w.ha(i).binding(home(k), None).is_none(), "HA {i}");
        // RFC 5944 section 3.8.3.1: the tunnel goes where it was, at the server, once; a
        // member holding a replica tunnelled to nothing and reports nothing.
        let expired = w
            .events(i)
            .into_iter()
            .filter(|e| matches!(
                e,
                Event::Expired { home_address, tunnel } if *home_address == home(k) && tunnel.home_address == home(k)
            ))
            .count();
        assert_eq!(expired, usize::from(i == server), "HA {i}, server {server}");
    }
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
        w.run_for(Duration::from_millis(300));
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
        w.run_for(Duration::from_millis(1100));
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

#[test]
fn claim6_a_forged_reply_matching_a_temporary_binding_is_dropped_a_genuine_one_relayed() {
    let mut w = World::new(3, ForwardMode::Layer3, 24, LinkConfig::default());
    w.sim.partition(w.ha[0], w.ha[1]);
    w.sim.partition(w.ha[0], w.ha[2]);
    let outsider = sock(Ipv4Addr::new(203, 0, 113, 40), 434);
    for k in 1..=20 {
        let id = ntp_at(&w);
        w.sim.inject(outsider, vip(), request(k, VIP, id, None));
        w.run_for(Duration::from_millis(20));
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
        w.run_for(Duration::from_millis(20));
        assert_eq!(w.ha(1).stats().unauthenticated_replies, 1);
        assert!(w.sim.trace()[n_trace..].iter().all(|r| r.to != outsider));
        assert_eq!(
            w.ha(1).binding(home(k), None).unwrap().state(),
            BindingState::Temporary
        );
        // The genuine reply is relayed and makes the binding permanent.
        w.sim.inject(ha_addr(2), vip(), reply(&mn_sa(k)));
        w.run_for(Duration::from_millis(20));
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

// ---------------------------------------------------------------- several foreign agents

fn fa_addr(j: u32) -> SocketAddr {
    sock(Ipv4Addr::new(198, 51, 200, j as u8), 434)
}

fn fa_sa(j: u32) -> SecurityAssociation {
    SecurityAssociation::new(
        0x2000 + j,
        AuthAlgorithm::HmacMd5,
        format!("fa-ha key of fa {j}").into_bytes(),
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
            w.run_for(Duration::from_millis(100));
        }
        w.run_for(Duration::from_secs(15));
        for (k, j, id) in clients {
            let e = w.sim.poll_event_of::<MobileNodeClient>(id);
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
        assert!(w.sim.node::<ForeignAgent>(fas[0]).stats().relayed_replies >= 4);
        assert!(
            w.replies_to(fa_addr(3))
                .iter()
                .all(|r| r.code == ReplyCode::FA_AUTH_FAILED)
        );
        assert!(!w.replies_to(fa_addr(3)).is_empty());
    }
}
