//! Bounds and bad input: floods of spoofed SCCRQ/ICRQ keep every table within its configured
//! bound and leave established sessions up; malformed and unauthenticated input gets the RFC's
//! answer (StopCCN, CDN or silence), never a panic, never loss of other state.
#![cfg(feature = "sim")]

mod common;

use common::l2tp::*;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::Rng;
use telcp::l2tp::wire::avp::AvpValue;
use telcp::l2tp::wire::{Avp, ControlMessage, Message};
use telcp::l2tp::{CommandError, Config, Event, Lac, LacConfig, Lns, Table};
use telcp::sim::{NodeId, Sim};

struct Setup {
    sim: Sim,
    lac: NodeId,
    lns: NodeId,
    call: telcp::l2tp::CallId,
}

/// A LAC configuration towards `lns` with the replayable seed 0.
fn lac_config(lns: &str) -> LacConfig {
    let mut c = LacConfig::new(addr(lns));
    c.common = seeded(c.common, 0);
    c
}

fn setup(lns_common: Config) -> Setup {
    let now = Instant::now();
    let Pair { mut sim, lac, lns } = Pair::new(
        Sim::new(1, now),
        lac_config("10.0.0.1"),
        lns_config_of(seeded(lns_common, 0)),
    );
    let call = sim.node_mut::<Lac>(lac).open_session(now).unwrap();
    sim.run_for(Duration::from_secs(5));
    assert!(sim.node_mut::<Lac>(lac).session_of(call).is_some());
    Setup {
        sim,
        lac,
        lns,
        call,
    }
}

fn spoofed(rng: &mut Rng) -> SocketAddr {
    SocketAddr::new(
        Ipv4Addr::from(rng.next_u32() | 0x0100_0000).into(),
        1024 + (rng.next_u32() % 60000) as u16,
    )
}

fn data_still_flows(s: &mut Setup) {
    let _ = std::iter::from_fn(|| s.sim.node_mut::<Lns>(s.lns).poll_data()).count();
    s.sim
        .node_mut::<Lac>(s.lac)
        .send_ppp(s.call, b"\xff\x03\x00\x21ping")
        .unwrap();
    s.sim.run_for(Duration::from_millis(50));
    assert_eq!(
        std::iter::from_fn(|| s.sim.node_mut::<Lns>(s.lns).poll_data()).count(),
        1
    );
}

/// One million SCCRQs from spoofed sources: at most `max_pending_tunnels` half-open tunnels, the
/// rest refused statelessly, with at most `Config::refusals` StopCCNs actually sent (issue 12
/// fault 17: the LNS is no reflector; all the flood arrives at one instant, so the burst of 20)
/// and the others counted as suppressed; the established session is untouched; once the flood
/// stops the half-open tunnels time out.
#[test]
fn sccrq_flood_from_spoofed_sources() {
    let cfg = Config {
        max_tunnels: 64,
        max_pending_tunnels: 16,
        ..Default::default()
    };
    let mut s = setup(cfg);
    let mut rng = Rng::seed_from_u64(7);
    let mut sccrq = ControlMessage::sccrq(1, b"flood".as_slice(), 3);
    let n = 1_000_000u32;
    let now = s.sim.now();
    let mut refusals = 0u64;
    let mut buf = Vec::with_capacity(64);
    for i in 0..n {
        if let Some(Avp {
            value: AvpValue::AssignedTunnelId(t),
            ..
        }) = sccrq.avps.get_mut(4)
        {
            *t = (i % 65535 + 1) as u16;
        }
        buf.clear();
        Message::Control(sccrq.clone()).emit(&mut buf);
        let lns = s.sim.node_mut::<Lns>(s.lns);
        let _ = lns.handle_datagram(now, spoofed(&mut rng), addr("10.0.0.1"), &buf);
        while let Some(t) = lns.poll_transmit() {
            refusals += u64::from(
                Message::parse(&t.payload)
                    .ok()
                    .and_then(|m| m.message_type())
                    .is_some_and(|m| m.0 == 4),
            );
        }
        while lns.poll_event().is_some() {}
        assert!(lns.tunnel_count() <= 1 + 16);
    }
    let stats = s.sim.node_mut::<Lns>(s.lns).stats();
    assert_eq!(stats.refusals_sent, refusals);
    assert!(
        refusals <= u64::from(Config::default().refusals.burst),
        "{refusals}"
    );
    assert!(
        stats.refusals_sent + stats.refusals_suppressed > u64::from(n) - 100,
        "{stats:?}"
    );
    assert_eq!(s.sim.node_mut::<Lns>(s.lns).session_count(), 1);
    data_still_flows(&mut s);
    s.sim.run_for(Duration::from_secs(120));
    assert_eq!(s.sim.node_mut::<Lns>(s.lns).tunnel_count(), 1);
    assert!(
        !std::iter::from_fn(|| s.sim.poll_event_of::<Lac>(s.lac))
            .any(|e| matches!(e, Event::SessionDown { .. } | Event::TunnelDown { .. }))
    );
    data_still_flows(&mut s);
}

/// One million ICRQs: from spoofed addresses for the real tunnel (ignored), and with the LAC's own
/// address but arbitrary Ns (outside the window: dropped; inside: at most `max_out_of_order`
/// queued). Sessions stay within bounds and the established one keeps working.
#[test]
fn icrq_flood() {
    let cfg = Config {
        max_sessions: 8,
        max_sessions_per_tunnel: 8,
        session_setup_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let mut s = setup(cfg);
    let tid = s
        .sim
        .trace()
        .iter()
        .filter(|r| r.to == addr("10.0.0.1"))
        .find_map(|r| {
            Message::parse(&r.payload)
                .ok()
                .filter(|m| m.message_type().is_some_and(|t| t.0 == 10))
                .map(|m| m.tunnel_id())
        })
        .unwrap();
    let mut rng = Rng::seed_from_u64(9);
    let now = s.sim.now();
    let mut buf = Vec::new();
    for i in 0..1_000_000u32 {
        let mut m = ControlMessage::icrq(tid, (i % 65535 + 1) as u16, i);
        m.header.ns = rng.next_u32() as u16;
        m.header.nr = rng.next_u32() as u16;
        buf.clear();
        Message::Control(m).emit(&mut buf);
        let from = if i % 2 == 0 {
            spoofed(&mut rng)
        } else {
            addr("10.0.9.1")
        };
        let lns = s.sim.node_mut::<Lns>(s.lns);
        let _ = lns.handle_datagram(now, from, addr("10.0.0.1"), &buf);
        while lns.poll_transmit().is_some() {}
        while lns.poll_event().is_some() {}
        assert!(lns.session_count() <= 8);
    }
    // Spoofed in-window ICRQs may have been taken (L2TP has no per-message authentication); they
    // are bounded and expire, the established session stays.
    s.sim.run_for(Duration::from_secs(30));
    let lns = s.sim.node_mut::<Lns>(s.lns);
    assert!(lns.session_count() >= 1 && lns.session_count() <= 8);
}

/// Garbage and mutated messages: typed errors, no panic, nothing else lost.
#[test]
fn malformed_input_changes_nothing() {
    let mut s = setup(Config::default());
    let mut rng = Rng::seed_from_u64(3);
    let valid: Vec<Vec<u8>> = s.sim.trace().iter().map(|r| r.payload.to_vec()).collect();
    let now = s.sim.now();
    for i in 0..100_000usize {
        let mut d = if i % 2 == 0 {
            let mut v = vec![0u8; (rng.next_u32() % 100) as usize];
            rng.fill_bytes(&mut v);
            v
        } else {
            valid[i % valid.len()].clone()
        };
        if !d.is_empty() {
            let at = (rng.next_u32() as usize) % d.len();
            d[at] ^= 1 << (rng.next_u32() % 8);
        }
        for id in [s.lns, s.lac] {
            let from = if id == s.lns {
                addr("10.0.9.1")
            } else {
                addr("10.0.0.1")
            };
            if id == s.lns {
                let n = s.sim.node_mut::<Lns>(id);
                let _ = n.handle_datagram(now, spoofed(&mut rng), addr("10.0.0.1"), &d);
                while n.poll_transmit().is_some() {}
            } else {
                let n = s.sim.node_mut::<Lac>(id);
                let _ = n.handle_datagram(now, spoofed(&mut rng), from, &d);
                while n.poll_transmit().is_some() {}
            }
        }
    }
    assert_eq!(s.sim.node_mut::<Lns>(s.lns).session_count(), 1);
    data_still_flows(&mut s);
}

/// A LAC without the secret is refused (StopCCN result 4) and the LNS's other tunnel is untouched.
#[test]
fn unauthenticated_peer_refused() {
    let cfg = Config {
        secret: Some(b"k".to_vec()),
        challenge: true,
        ..Default::default()
    };
    let now = Instant::now();
    let mut sim = Sim::new(2, now);
    let mut good = lac_config("10.0.0.1");
    good.common.secret = Some(b"k".to_vec());
    let g = add_lac(&mut sim, "good", "10.0.9.1", good);
    let bad = add_lac(&mut sim, "bad", "10.0.9.2", lac_config("10.0.0.1"));
    let lns = add_lns(&mut sim, "lns", "10.0.0.1", lns_config_of(seeded(cfg, 0)));
    let gc = sim.node_mut::<Lac>(g).open_session(now).unwrap();
    sim.run_for(Duration::from_secs(5));
    let bc = sim.node_mut::<Lac>(bad).open_session(now).unwrap();
    sim.run_for(Duration::from_secs(60));
    assert!(sim.node_mut::<Lac>(g).session_of(gc).is_some());
    assert!(sim.node_mut::<Lac>(bad).session_of(bc).is_none());
    let ev: Vec<Event> = std::iter::from_fn(|| sim.poll_event_of::<Lac>(bad)).collect();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::TunnelDown { result: Some(r), .. } if r.result.0 == 4)),
        "{ev:?}"
    );
    assert_eq!(sim.node_mut::<Lns>(lns).session_count(), 1);
    assert_eq!(sim.node_mut::<Lns>(lns).tunnel_count(), 1);
}

/// LAC calls and received-data queues are bounded.
#[test]
fn lac_calls_and_data_queue_bounded() {
    let now = Instant::now();
    let mut cfg = lac_config("10.0.0.1");
    cfg.max_calls = 3;
    cfg.common.max_data_queue = 10;
    let mut lac = Lac::new(cfg, now).unwrap();
    for _ in 0..3 {
        lac.open_session(now).unwrap();
    }
    assert_eq!(lac.open_session(now), Err(CommandError::Full(Table::Calls)));
    let mut s = setup(Config {
        max_data_queue: 10,
        ..Default::default()
    });
    for _ in 0..100 {
        s.sim.node_mut::<Lac>(s.lac).send_ppp(s.call, b"x").unwrap();
    }
    s.sim.run_for(Duration::from_millis(100));
    let lns = s.sim.node_mut::<Lns>(s.lns);
    assert_eq!(std::iter::from_fn(|| lns.poll_data()).count(), 10);
    assert_eq!(lns.stats().dropped_frames, 90);
}
