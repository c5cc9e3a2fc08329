//! The Mobile IP story.

use super::*;

/// Mobile IP: three Home Agents behind one virtual address (layer-3 forwarding); mobile nodes
/// register, the HA that receives a request forwards it to the HA chosen by load, bindings go
/// temporary -> permanent; one HA stops, its bindings move to a backup, re-registrations succeed.
pub fn mip_story(net: &mut Net, tr: &Trace, sum: &mut Summary) {
    tr.section("Mobile IP: a virtual Home Agent of three HAs");
    const WALL: Duration = Duration::from_secs(1_700_000_000);
    const MNS: u8 = 4;
    const RETRANSMIT: Duration = Duration::from_millis(300);
    const MAX_RETRANSMITS: u32 = 8;
    const WAIT_MARGIN: Duration = Duration::from_millis(500);
    let start = net.now();
    let vip = Ipv4Addr::new(127, 0, 30, 100);
    let vaddr = SocketAddr::from((vip, 434));
    // HA-to-HA traffic (heartbeats, forwarded requests, replication) on its own port, so that
    // port 434 carries only Mobile IP registrations.
    let ha_addr = |i: u32| SocketAddr::from(([127, 0, 30, i as u8], 4340));
    let sa = |k: u8| {
        SecurityAssociation::new(
            0x100 + u32::from(k),
            AuthAlgorithm::HmacMd5,
            format!("mn-{k} shared secret").into_bytes(),
        )
    };
    let home = |k: u8| Ipv4Addr::new(127, 0, 30, 200 + k);
    let members: Vec<Member> = (1..=3)
        .map(|i| Member {
            node: NodeId(i),
            addr: ha_addr(i),
            mac: telcp::MacAddr::local(i),
            backups: (1..=3).filter(|&j| j != i).map(NodeId).collect(),
        })
        .collect();
    let ha_cfg = |i: u32, incarnation: u32, now: std::time::Instant| {
        let mut c = HomeAgentConfig::new(
            NodeId(i),
            vip,
            "127.0.30.0/24".parse().expect("prefix"),
            members.clone(),
            b"demo HA cluster key",
        );
        c.mode = ForwardMode::Layer3;
        c.incarnation = incarnation;
        c.seed = telcp::io::seed(u64::from(i));
        c.max_bindings = 16;
        c.health.interval = Duration::from_millis(200);
        c.health.misses_suspect = 3;
        c.health.misses_down = 5;
        c.wall_clock = WALL + now.duration_since(start);
        c.mobile_nodes = (1..=MNS)
            .map(|k| MobileNodeKey {
                id: MnId::Home(home(k)),
                sa: sa(k),
            })
            .collect();
        HomeAgent::new(c, now).expect("HA config")
    };
    let now = net.now();
    let has: Vec<usize> = (1..=3)
        .map(|i| {
            net.add(
                &format!("ha-{i}"),
                &[ha_addr(i), vaddr],
                Box::new(ha_cfg(i, 1, now)),
            )
        })
        .collect();
    let mns: Vec<usize> = (1..=MNS)
        .map(|k| {
            let local = SocketAddr::from(([127, 0, 32, k], 4340));
            let cfg = ClientConfig {
                home_address: home(k),
                nai: Some(format!("mn-{k}@home.example").into_bytes()),
                sa: sa(k),
                home_agent: vaddr,
                local,
                via: None,
                lifetime: 600,
                simultaneous: false,
                broadcast: false,
                retransmit: RETRANSMIT,
                max_retransmits: MAX_RETRANSMITS,
                wall_clock: WALL,
                auto_reregister: false,
            };
            net.add(
                &format!("mn-{k}"),
                &[local],
                Box::new(MobileNodeClient::new(cfg, now).expect("client config")),
            )
        })
        .collect();
    // The router sends the virtual address to ha-1 while it advertises the route.
    net.set_owner(vaddr, has[0]);
    let mut router_owner = 0usize;
    let events = |net: &mut Net, tr: &Trace, taken_over: &mut usize, router_owner: &mut usize| {
        for (i, &h) in has.iter().enumerate() {
            let who = format!("ha-{}", i + 1);
            while let Some(ev) = net.poll_event_of::<HomeAgent>(h) {
                match ev {
                    mip::Event::AdvertiseRoute { prefix } if i == 0 => {
                        tr.step(
                            net,
                            &who,
                            "router",
                            &format!("advertise {prefix}"),
                            "can serve the virtual network",
                        );
                    }
                    mip::Event::TemporaryBinding { mn, second_ha } => {
                        let target = format!("ha-{}", second_ha.0);
                        let why = if second_ha.0 as usize == i + 1 {
                            "chosen by load: itself"
                        } else {
                            "chosen by load, request forwarded"
                        };
                        tr.step(
                            net,
                            &who,
                            &target,
                            &format!("temporary binding {mn:?}"),
                            why,
                        );
                    }
                    mip::Event::Registered {
                        home_address,
                        lifetime,
                        ..
                    } => {
                        tr.step(
                            net,
                            &who,
                            "-",
                            &format!("binds {home_address} ({lifetime} s)"),
                            "second HA: authenticated, granted",
                        );
                    }
                    mip::Event::BindingPermanent {
                        home_address,
                        second_ha,
                        ..
                    } => {
                        tr.step(
                            net,
                            &who,
                            "mn",
                            &format!("reply relayed, {home_address} permanent"),
                            &format!("served by ha-{}", second_ha.0),
                        );
                    }
                    // Every live HA reports the takeover; the trace shows it once.
                    mip::Event::TakenOver {
                        failed,
                        owner,
                        bindings,
                        ..
                    } if *taken_over == 0 => {
                        *taken_over += bindings;
                        tr.step(
                            net,
                            &who,
                            "cluster",
                            &format!("{bindings} bindings of ha-{} -> ha-{}", failed.0, owner.0),
                            "failover, backup chosen by load",
                        );
                    }
                    mip::Event::PeerDown { node } if *router_owner == i => {
                        tr.step(
                            net,
                            &who,
                            "-",
                            &format!("ha-{} is Down", node.0),
                            "heartbeats",
                        );
                    }
                    _ => {}
                }
            }
        }
    };
    let mut taken_over = 0;
    net.run_for(Duration::from_millis(800));
    events(net, tr, &mut taken_over, &mut router_owner);
    let mut registered = 0;
    let register_all = |net: &mut Net,
                        tr: &Trace,
                        taken_over: &mut usize,
                        router_owner: &mut usize,
                        round: &str| {
        let mut ok = 0;
        for (k, &m) in mns.iter().enumerate() {
            let now = net.now();
            net.node_mut::<MobileNodeClient>(m).register(now);
            tr.step(
                net,
                &format!("mn-{}", k + 1),
                "virtual HA",
                "Registration Request",
                round,
            );
            // Until the client reports the outcome (accepted, denied, or given up after its
            // last retransmission). RFC 5944 3.6.3: with no reply, the request is sent again,
            // each timeout "at least twice the previous period": 300 ms doubling over 8
            // retransmissions is 153.3 s to the client's `Failed`. A request and its reply cross
            // four lossy hops here (MN, first HA, second HA, first HA, MN), so one attempt in five
            // or six is lost; a fixed 10 s cut the client off after its sixth attempt.
            let deadline = now + retransmission_span(RETRANSMIT, MAX_RETRANSMITS) + WAIT_MARGIN;
            while net.now() < deadline {
                net.run_for(Duration::from_millis(5));
                events(net, tr, taken_over, router_owner);
                let mut done = false;
                while let Some(ev) = net.poll_event_of::<MobileNodeClient>(m) {
                    done = true;
                    match ev {
                        ClientEvent::Registered {
                            home_address,
                            lifetime,
                            ..
                        } => {
                            ok += 1;
                            tr.step(
                                net,
                                "virtual HA",
                                &format!("mn-{}", k + 1),
                                "Registration Reply: accepted",
                                &format!("{home_address}, {lifetime} s"),
                            );
                        }
                        other => tr.step(
                            net,
                            "virtual HA",
                            &format!("mn-{}", k + 1),
                            "registration failed",
                            &format!("{other:?}"),
                        ),
                    }
                }
                if done {
                    break;
                }
            }
        }
        ok
    };
    registered += register_all(
        net,
        tr,
        &mut taken_over,
        &mut router_owner,
        "first registration",
    );
    let served: Vec<usize> = has
        .iter()
        .map(|&h| net.node_mut::<HomeAgent>(h).served())
        .collect();
    for (i, n) in served.iter().enumerate() {
        sum.add(
            &format!("ha-{}", i + 1),
            "MIP bindings served (before failover)",
            n,
        );
    }
    // Stop the HA serving the most bindings (not ha-1, which receives the virtual address).
    let victim = if served[1] >= served[2] { 1 } else { 2 };
    net.stop(has[victim]);
    tr.step(net, &format!("ha-{}", victim + 1), "-", "stops", "crash");
    net.run_for(Duration::from_millis(1600));
    events(net, tr, &mut taken_over, &mut router_owner);
    let again = register_all(
        net,
        tr,
        &mut taken_over,
        &mut router_owner,
        "re-registration after failover",
    );
    registered += again;
    for (i, &h) in has.iter().enumerate() {
        if i != victim {
            let n = net.node_mut::<HomeAgent>(h).served();
            sum.add(
                &format!("ha-{}", i + 1),
                "MIP bindings served (after failover)",
                n,
            );
        }
    }
    sum.add(
        "mobile nodes",
        "MIP registrations accepted",
        format!("{registered} of {}", 2 * MNS),
    );
    sum.add("cluster", "MIP bindings moved by failover", taken_over);
    sum.fact("mip.registrations", registered);
    sum.fact("mip.registrations_asked", 2 * usize::from(MNS));
    sum.fact("mip.bindings_moved", taken_over);
    sum.fact("mip.victim_served", served[victim]);
}

/// How long a client retransmitting from `first`, doubling each time, takes over `retries`
/// retransmissions to give up: `first * (2^(retries + 1) - 1)`.
fn retransmission_span(first: Duration, retries: u32) -> Duration {
    (0..=retries).map(|i| first * 2u32.pow(i)).sum()
}
