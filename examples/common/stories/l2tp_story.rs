//! The L2TP story.

use super::*;

/// L2TP: a LAC asks a contact LNS at capacity; the contact redirects the call to the least-loaded
/// pool LNS (pool LNSs report their load with heartbeats); PPP frames flow; then that pool LNS
/// stops: its backup (the other pool LNS, which held a replica of its tunnel and session) takes
/// them over with its address, the call's PPP frames keep flowing there, and the next call goes
/// to the other pool LNS too.
pub fn l2tp_story(net: &mut Net, tr: &Trace, sum: &mut Summary) {
    tr.section("L2TP: contact LNS redirects calls to the least-loaded pool LNS");
    let key = ClusterKey::new(b"demo pool cluster key");
    let contact_addr = addr("127.0.20.10:1701");
    let pool_addrs = [addr("127.0.20.11:1701"), addr("127.0.20.12:1701")];
    // The pool LNSs' own addresses for heartbeats and replication between them (the service
    // address moves at a takeover; these do not).
    let pool_mgmt = [addr("127.0.20.21:1701"), addr("127.0.20.22:1701")];
    let names = ["lac", "contact", "pool-a", "pool-b"];
    let name_of = |a: std::net::IpAddr| match a {
        a if a == contact_addr.ip() => "contact",
        a if a == pool_addrs[0].ip() => "pool-a",
        a if a == pool_addrs[1].ip() => "pool-b",
        _ => "lac",
    };
    let common = |seed: u64| l2tp::Config {
        seed: telcp::io::seed(seed),
        ..Default::default()
    };
    let membership = |me: u32, role, peers: Vec<(NodeId, SocketAddr)>| {
        Some(LnsMembership::new(NodeId(me), role, key.clone(), peers))
    };
    let health = HealthConfig::default()
        .with_interval(Duration::from_millis(200))
        .with_misses(3, 5);
    let now = net.now();
    let mut lac_cfg = LacConfig::new(contact_addr);
    lac_cfg.common = common(11);
    let lac = net.add(
        names[0],
        &[addr("127.0.20.1:1701")],
        Box::new(Lac::new(lac_cfg, now).expect("LAC config")),
    );
    let contact_cfg = LnsConfig {
        common: common(12),
        contact: true,
        health,
        membership: membership(
            100,
            Role::CONTACT_LNS,
            vec![(NodeId(1), pool_addrs[0]), (NodeId(2), pool_addrs[1])],
        ),
        ..Default::default()
    };
    let contact = net.add(
        names[1],
        &[contact_addr],
        Box::new(Lns::new(contact_cfg, now).expect("LNS config")),
    );
    let mut pool = Vec::new();
    for (i, &a) in pool_addrs.iter().enumerate() {
        let other = 1 - i;
        let peers = vec![
            (NodeId(100), contact_addr),
            (NodeId(other as u32 + 1), pool_mgmt[other]),
        ];
        let cfg = LnsConfig {
            common: common(13 + i as u64),
            health,
            membership: membership(i as u32 + 1, Role::LNS, peers),
            replication: Some(l2tp::ReplicationConfig::default()),
            ..Default::default()
        };
        // In the simulator a node receives only on addresses it has: each pool LNS also has
        // the other's service address, routed to its owner until a takeover moves it (over
        // real sockets the address's socket is handed over instead).
        let mut addrs = vec![a, pool_mgmt[i]];
        if matches!(net, Net::Sim(..)) {
            addrs.push(pool_addrs[other]);
        }
        pool.push(net.add(
            names[2 + i],
            &addrs,
            Box::new(Lns::new(cfg, now).expect("LNS config")),
        ));
    }
    for (a, n) in pool_addrs.iter().zip(&pool) {
        net.set_owner(*a, *n);
    }
    // The contact is at capacity; pool-b is the least loaded.
    net.node_mut::<Lns>(contact).set_load(100);
    net.node_mut::<Lns>(pool[0]).set_load(40);
    net.node_mut::<Lns>(pool[1]).set_load(20);
    tr.step(
        net,
        "contact",
        "-",
        "load 100%",
        "at capacity: will redirect",
    );
    tr.step(net, "pool-a", "contact", "heartbeats, load 40%", "health");
    tr.step(net, "pool-b", "contact", "heartbeats, load 20%", "health");
    net.run_for(Duration::from_millis(800));

    let mut redirects = 0;
    let mut frames_sent = 0;
    let mut frames_in = 0;
    let mut frames_back = 0;
    let mut call_to = Vec::new();
    let mut first_call = None;
    let (mut taken, mut after_in, mut after_back) = (0, 0, 0);
    for round in 0..2 {
        if round == 1 {
            net.stop(pool[1]);
            tr.step(net, "pool-b", "-", "stops", "crash");
            taken = takeover(net, tr, pool[0], pool_addrs[1]);
            (after_in, after_back) = frames_after_takeover(net, tr, lac, pool[0], first_call);
        }
        let now = net.now();
        let call = match net.node_mut::<Lac>(lac).open_session(now) {
            Ok(c) => c,
            Err(e) => {
                tr.step(net, "lac", "-", "cannot open a call", &e.to_string());
                continue;
            }
        };
        tr.step(
            net,
            "lac",
            "contact",
            "ICRQ + LoadBalanceCapable",
            "new call",
        );
        let mut up = None;
        let mut down = false;
        // Until the LAC reports the call up or down. Under the simulator's loss a set-up may need
        // several retransmissions: RFC 2661 5.8 retransmits an unacknowledged control message
        // (1 s, doubling to 8 s, 5 retries by default: the last one 23 s after the first) and a
        // call not established in `session_setup_timeout` (30 s) is reported down, so 35 s
        // covers the protocol's whole attempt (a fixed 15 s cut it after the fourth send).
        for _ in 0..700 {
            net.run_for(Duration::from_millis(50));
            while let Some(ev) = net.poll_event_of::<Lns>(contact) {
                if let l2tp::Event::RedirectIssued { to, .. } = ev {
                    tr.step(
                        net,
                        "contact",
                        "lac",
                        "ICRP + RedirectTarget",
                        &format!("to {} (least loaded, Up)", name_of(to)),
                    );
                }
            }
            while let Some(ev) = net.poll_event_of::<Lac>(lac) {
                match ev {
                    l2tp::Event::Redirected { from, to, .. } => {
                        redirects += 1;
                        tr.step(
                            net,
                            "lac",
                            name_of(to),
                            "SCCRQ/ICRQ to the pool LNS",
                            &format!("redirected by {}", name_of(from)),
                        );
                    }
                    l2tp::Event::SessionUp {
                        call: Some(c),
                        peer,
                        ..
                    } if c == call => {
                        tr.step(net, "lac", name_of(peer.ip()), "session up (ICRP/ICCN)", "");
                        up = Some(peer);
                    }
                    l2tp::Event::SessionDown { call: Some(c), .. } if c == call => down = true,
                    _ => {}
                }
            }
            if up.is_some() || down {
                break;
            }
        }
        let Some(lns_addr) = up else {
            tr.step(net, "lac", "-", "call not established", "");
            continue;
        };
        call_to.push(name_of(lns_addr.ip()));
        first_call.get_or_insert(call);
        let lns_idx = if lns_addr == pool_addrs[0] {
            pool[0]
        } else if lns_addr == pool_addrs[1] {
            pool[1]
        } else {
            contact
        };
        // The LAC's session is up when it sends its ICCN (RFC 2661 7.4.1: "Receive ICRP,
        // acceptable / Send ICCN / established"), the LNS's only when that ICCN arrives (7.4.2:
        // "wait-connect / Receive ICCN, acceptable / Prepare for data / established"); data
        // messages are not retransmitted (RFC 2661 5.8 makes only the control channel
        // reliable). Frames sent before a lost ICCN's retransmission reaches the LNS are
        // dropped there. The story's Echo-Requests stand in for PPP's first exchange, which LCP
        // sends again on its Restart timer until the peer answers (RFC 1661 4.6: three seconds,
        // ten Configure-Requests by default): so do they, which outlasts the ICCN's
        // retransmissions (the last one 23 s after the first).
        for attempt in 0..10 {
            if attempt > 0 {
                net.run_for(Duration::from_millis(2800));
                tr.step(
                    net,
                    "lac",
                    name_of(lns_addr.ip()),
                    "PPP frames again",
                    "none echoed yet",
                );
            }
            let (n_sent, n_in, n_back) = echo_exchange(net, lac, lns_idx, call, 0);
            frames_sent += n_sent;
            frames_in += n_in;
            frames_back += n_back;
            if n_back > 0 {
                break;
            }
        }
        tr.step(
            net,
            "lac",
            name_of(lns_addr.ip()),
            "PPP frames over L2TP data",
            &format!("{frames_in} in, {frames_back} echoed back so far"),
        );
    }
    sum.add("lac", "L2TP calls established at", call_to.join(", "));
    sum.fact("l2tp.calls_established", call_to.len());
    sum.fact("l2tp.calls_at_distinct_pool_lns", {
        let mut v = call_to.clone();
        v.sort();
        v.dedup();
        v.iter().filter(|n| n.starts_with("pool")).count()
    });
    sum.fact("l2tp.redirects", redirects);
    sum.fact("l2tp.sessions_taken_over", taken);
    sum.fact("l2tp.frames_after_takeover", after_in);
    sum.fact("l2tp.frames_echoed_after_takeover", after_back);
    sum.add(
        "pool-a",
        "L2TP sessions taken over from pool-b / PPP frames after",
        format!("{taken} / {after_in} in, {after_back} echoed"),
    );
    sum.fact("l2tp.frames_in", frames_in);
    sum.fact("l2tp.frames_echoed", frames_back);
    sum.add("lac", "L2TP redirects followed", redirects);
    sum.add(
        "lac",
        "L2TP PPP frames sent / echoed as each call came up",
        format!("{frames_sent} / {frames_back}"),
    );
    for (i, n) in pool.iter().enumerate() {
        let sessions = net.node_mut::<Lns>(*n).session_count();
        // pool-b stopped (crashed) in round 1: what it held then, now served by pool-a.
        let what = if i == 1 {
            "L2TP sessions when it stopped"
        } else {
            "L2TP sessions"
        };
        sum.add(names[2 + i], what, sessions);
    }
    let c = net.node_mut::<Lns>(contact).session_count();
    sum.add("contact", "L2TP sessions (redirects keep none)", c);
    sum.fact("l2tp.contact_sessions", c);
    // The story is over: its endpoints stop (their heartbeats do not run through the others).
    for n in [lac, contact, pool[0]] {
        net.stop(n);
    }
}

/// Waits (at most 3 s) for `backup` to take over the stopped pool LNS's tunnels and sessions;
/// moves the address `moved` to it, as the caller of `Event::TakenOver` does. Returns the
/// sessions taken.
fn takeover(net: &mut Net, tr: &Trace, backup: usize, moved: SocketAddr) -> usize {
    for _ in 0..60 {
        net.run_for(Duration::from_millis(50));
        while let Some(ev) = net.poll_event_of::<Lns>(backup) {
            if let l2tp::Event::TakenOver {
                addr,
                tunnels,
                sessions,
                ..
            } = ev
            {
                net.set_owner(SocketAddr::new(addr, moved.port()), backup);
                tr.step(
                    net,
                    "pool-a",
                    "-",
                    &format!(
                        "takes over pool-b's {} tunnel(s), {} session(s)",
                        tunnels.len(),
                        sessions.len()
                    ),
                    "backup: replica held, address moved",
                );
                return sessions.len();
            }
        }
    }
    tr.step(net, "pool-a", "-", "no takeover", "");
    0
}

/// Five PPP frames on the first call after the takeover: how many reach the backup, and how
/// many of its echoes come back.
fn frames_after_takeover(
    net: &mut Net,
    tr: &Trace,
    lac: usize,
    backup: usize,
    call: Option<l2tp::CallId>,
) -> (usize, usize) {
    let Some(call) = call else {
        return (0, 0);
    };
    let (_, n_in, n_back) = echo_exchange(net, lac, backup, call, 0x80);
    tr.step(
        net,
        "lac",
        "pool-a",
        "PPP frames of the first call, at pool-b's address",
        &format!("{n_in} in, {n_back} echoed back by the backup"),
    );
    (n_in, n_back)
}

/// Five LCP Echo-Requests (ids `id_base`..`id_base + 4`) on `call` from the LAC; the LNS `lns`
/// echoes every frame it takes. Returns how many the LAC sent (`send_ppp` took them: a call not
/// yet up at the LAC refuses them), how many reached the LNS and how many came back.
fn echo_exchange(
    net: &mut Net,
    lac: usize,
    lns: usize,
    call: l2tp::CallId,
    id_base: u8,
) -> (usize, usize, usize) {
    let mut n_sent = 0;
    for i in 0..5u8 {
        // An LCP Echo-Request (code 9, id, length 8, magic number).
        let frame = [
            0xff,
            0x03,
            0xc0,
            0x21,
            0x09,
            id_base | i,
            0x00,
            0x08,
            0x12,
            0x34,
            0x56,
            0x78,
        ];
        if net.node_mut::<Lac>(lac).send_ppp(call, &frame).is_ok() {
            n_sent += 1;
        }
    }
    net.run_for(Duration::from_millis(100));
    let mut n_in = 0;
    while let Some(d) = net.node_mut::<Lns>(lns).poll_data() {
        n_in += 1;
        let _ = net.node_mut::<Lns>(lns).send_ppp(d.session, &d.frame);
    }
    net.run_for(Duration::from_millis(100));
    let mut n_back = 0;
    while net.node_mut::<Lac>(lac).poll_data().is_some() {
        n_back += 1;
    }
    (n_sent, n_in, n_back)
}
