//! The demo's three stories, shared by `examples/demo.rs` and the integration test that checks
//! what they show.

use super::Net;
use super::sgsn::Sgsn;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use telcp::health::{ClusterKey, HealthConfig, NodeId, Role};
use telcp::l2tp::{self, Lac, LacConfig, Lns, LnsConfig, LnsMembership};
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::{
    self, ClientConfig, ClientEvent, ForwardMode, HomeAgent, HomeAgentConfig, Member, MnId,
    MobileNodeClient, MobileNodeKey,
};
use telcp::steering::line::LineConfig;
use telcp::steering::processor::{ProcessorConfig, ProcessorEvent};
use telcp::steering::switch::{SwitchConfig, SwitchEvent};
use telcp::steering::{LineInterface, Processor, SwitchProcessor, VidLayout};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

/// Runs the three stories on `net`.
pub fn run_all(net: &mut Net, tr: &Trace) -> Summary {
    let mut sum = Summary::default();
    l2tp_story(net, tr, &mut sum);
    mip_story(net, tr, &mut sum);
    steering_story(net, tr, &mut sum);
    sum
}

/// The readable trace: one line per protocol step.
pub struct Trace {
    pub quiet: bool,
}

impl Trace {
    fn step(&self, net: &Net, who: &str, whom: &str, what: &str, why: &str) {
        if !self.quiet {
            let t = net.elapsed().as_secs_f64();
            println!("{t:7.3}s  {who:>10} -> {whom:<10} {what:<34} {why}");
        }
    }
    fn section(&self, title: &str) {
        if !self.quiet {
            println!("\n== {title}");
        }
    }
}

/// What the demo measured, printed as the summary table.
#[derive(Default)]
pub struct Summary {
    pub rows: Vec<(String, String, String)>,
    /// Named figures for tests to check.
    pub facts: std::collections::BTreeMap<&'static str, u64>,
}

impl Summary {
    pub fn add(&mut self, node: &str, what: &str, value: impl ToString) {
        self.rows
            .push((node.into(), what.into(), value.to_string()));
    }
    pub fn fact(&mut self, name: &'static str, value: impl TryInto<u64>) {
        self.facts
            .insert(name, value.try_into().unwrap_or(u64::MAX));
    }
    pub fn get(&self, name: &str) -> u64 {
        self.facts.get(name).copied().unwrap_or(0)
    }
    pub fn print(&self) {
        println!("\n{:<14} {:<34} value", "node", "measure");
        println!("{}", "-".repeat(60));
        for (n, w, v) in &self.rows {
            println!("{n:<14} {w:<34} {v}");
        }
    }
}

/// L2TP: a LAC asks a contact LNS at capacity; the contact redirects the call to the least-loaded
/// pool LNS (pool LNSs report their load with heartbeats); PPP frames flow; then that pool LNS
/// stops and the next call goes to the other one.
pub fn l2tp_story(net: &mut Net, tr: &Trace, sum: &mut Summary) {
    tr.section("L2TP: contact LNS redirects calls to the least-loaded pool LNS");
    let key = ClusterKey::new(b"demo pool key");
    let contact_addr = addr("127.0.20.10:1701");
    let pool_addrs = [addr("127.0.20.11:1701"), addr("127.0.20.12:1701")];
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
        let cfg = LnsConfig {
            common: common(13 + i as u64),
            health,
            membership: membership(i as u32 + 1, Role::LNS, vec![(NodeId(100), contact_addr)]),
            ..Default::default()
        };
        pool.push(net.add(
            names[2 + i],
            &[a],
            Box::new(Lns::new(cfg, now).expect("LNS config")),
        ));
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
    let mut frames_in = 0;
    let mut frames_back = 0;
    let mut call_to = Vec::new();
    for round in 0..2 {
        if round == 1 {
            net.stop(pool[1]);
            tr.step(net, "pool-b", "-", "stops", "crash");
            net.run_for(Duration::from_millis(1500));
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
        for _ in 0..100 {
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
                    _ => {}
                }
            }
            if up.is_some() {
                break;
            }
        }
        let Some(lns_addr) = up else {
            tr.step(net, "lac", "-", "call not established", "");
            continue;
        };
        call_to.push(name_of(lns_addr.ip()));
        let lns_idx = if lns_addr == pool_addrs[0] {
            pool[0]
        } else if lns_addr == pool_addrs[1] {
            pool[1]
        } else {
            contact
        };
        for i in 0..5u8 {
            // An LCP Echo-Request (code 9, id, length 8, magic number).
            let frame = [
                0xff, 0x03, 0xc0, 0x21, 0x09, i, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78,
            ];
            let _ = net.node_mut::<Lac>(lac).send_ppp(call, &frame);
        }
        net.run_for(Duration::from_millis(100));
        while let Some(d) = net.node_mut::<Lns>(lns_idx).poll_data() {
            frames_in += 1;
            let _ = net.node_mut::<Lns>(lns_idx).send_ppp(d.session, &d.frame);
        }
        net.run_for(Duration::from_millis(100));
        while net.node_mut::<Lac>(lac).poll_data().is_some() {
            frames_back += 1;
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
    sum.fact("l2tp.frames_in", frames_in);
    sum.fact("l2tp.frames_echoed", frames_back);
    sum.add("lac", "L2TP redirects followed", redirects);
    sum.add(
        "lac",
        "L2TP PPP frames sent / echoed",
        format!("10 / {frames_back}"),
    );
    for (i, n) in pool.iter().enumerate() {
        let sessions = net.node_mut::<Lns>(*n).session_count();
        sum.add(names[2 + i], "L2TP sessions", sessions);
    }
    let c = net.node_mut::<Lns>(contact).session_count();
    sum.add("contact", "L2TP sessions (redirects keep none)", c);
    sum.fact("l2tp.contact_sessions", c);
}

/// Mobile IP: three Home Agents behind one virtual address (layer-3 forwarding); mobile nodes
/// register, the HA that receives a request forwards it to the HA chosen by load, bindings go
/// temporary -> permanent; one HA stops, its bindings move to a backup, re-registrations succeed.
pub fn mip_story(net: &mut Net, tr: &Trace, sum: &mut Summary) {
    tr.section("Mobile IP: a virtual Home Agent of three HAs");
    const WALL: Duration = Duration::from_secs(1_700_000_000);
    const MNS: u8 = 4;
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
            format!("mn-{k} secret").into_bytes(),
        )
    };
    let home = |k: u8| Ipv4Addr::new(10, 30, 0, k);
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
            "10.30.0.0/24".parse().expect("prefix"),
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
                retransmit: Duration::from_millis(300),
                max_retransmits: 8,
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
            for _ in 0..400 {
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

/// Steering: a gateway of one line interface, a switch processor and four processors; an SGSN
/// creates PDP contexts (through the switch processor), then sends G-PDUs that the line interface
/// steers straight to the processor named by the VID in the TEID; one processor stops and its
/// sessions continue on their backup.
pub fn steering_story(net: &mut Net, tr: &Trace, sum: &mut Summary) {
    tr.section("Steering: virtual-ID steering in a GTP gateway");
    const PROCS: [u32; 4] = [11, 12, 13, 14];
    const CONTEXTS: usize = 8;
    let key = ClusterKey::new(b"demo gateway fabric key");
    let layout = VidLayout::teid32(8, 8).expect("layout");
    let gw_c = addr("127.0.40.1:2123");
    let gw_u = addr("127.0.40.1:2152");
    let line_fabric = addr("127.0.41.1:4000");
    let switch_fabric = addr("127.0.41.100:4000");
    let proc_fabric = |id: u32| SocketAddr::from(([127, 0, 42, id as u8], 4000));
    let now = net.now();
    let line_cfg = LineConfig::new(line_fabric, switch_fabric, layout);
    let line = net.add(
        "line",
        &[line_fabric, gw_c, gw_u],
        Box::new(LineInterface::new(line_cfg, now).expect("line config")),
    );
    let mut sw_cfg = SwitchConfig::new(
        1,
        switch_fabric,
        vec![line_fabric],
        PROCS.iter().map(|&id| (id, proc_fabric(id))).collect(),
        layout,
        key.clone(),
    );
    // Fast heartbeats and retransmissions, so the story's failover takes about a second.
    sw_cfg.recovery = 7;
    sw_cfg.retransmit = Duration::from_millis(50);
    sw_cfg.health.interval = Duration::from_millis(100);
    sw_cfg.health.misses_down = 6;
    sw_cfg.health.overload_percent = 95;
    sw_cfg.seed = telcp::io::seed(5);
    let switch = net.add(
        "switch",
        &[switch_fabric],
        Box::new(SwitchProcessor::new(sw_cfg, now).expect("switch config")),
    );
    let procs: Vec<usize> = PROCS
        .iter()
        .map(|&id| {
            let pool = "10.0.0.0/8".parse().expect("prefix");
            let mut cfg = ProcessorConfig::new(
                id,
                proc_fabric(id),
                switch_fabric,
                line_fabric,
                layout,
                pool,
                key.clone(),
            );
            // 100 sessions each: one session is 1 % of load, which the switch compares.
            cfg.max_sessions = 100;
            cfg.max_shadow = 400;
            cfg.recovery = 1;
            cfg.retransmit = Duration::from_millis(50);
            cfg.max_retries = 20;
            cfg.health.interval = Duration::from_millis(100);
            net.add(
                &format!("proc-{id}"),
                &[proc_fabric(id)],
                Box::new(Processor::new(cfg, now).expect("processor config")),
            )
        })
        .collect();
    let sgsn_ip = std::net::Ipv4Addr::new(127, 0, 40, 10);
    let sgsn = net.add(
        "sgsn",
        &[
            SocketAddr::from((sgsn_ip, 2123)),
            SocketAddr::from((sgsn_ip, 2152)),
        ],
        Box::new({
            let mut s = Sgsn::new(sgsn_ip, gw_c);
            s.n3 = 8;
            s
        }),
    );
    // VID -> processor, as the switch processor assigns them.
    let mut vids = std::collections::HashMap::new();
    let mut drain = |net: &mut Net, tr: &Trace| {
        while let Some(ev) = net.poll_event_of::<SwitchProcessor>(switch) {
            match ev {
                SwitchEvent::VidAssigned { processor, vid, .. } => {
                    vids.insert(vid, format!("proc-{processor}"));
                    tr.step(
                        net,
                        "switch",
                        &format!("proc-{processor}"),
                        &format!("VID {vid} assigned"),
                        "processor asked at start",
                    );
                }
                SwitchEvent::SetupDirected { primary, backup } => {
                    let name = |v| vids.get(&v).cloned().unwrap_or_else(|| format!("VID {v}"));
                    let b = backup.map_or("none".to_string(), name);
                    tr.step(
                        net,
                        "switch",
                        &name(primary),
                        "Create PDP Context directed",
                        &format!("least loaded; backup {b}"),
                    );
                }
                SwitchEvent::VidWithdrawn { vid } => {
                    tr.step(
                        net,
                        "switch",
                        "line",
                        &format!("VID {vid} not operational"),
                        "processor Down: steer to backups",
                    );
                }
                _ => {}
            }
        }
        for (i, &p) in procs.iter().enumerate() {
            while let Some(ev) = net.poll_event_of::<Processor>(p) {
                if let ProcessorEvent::SessionCreated { teid, ue_addr, .. } = ev {
                    tr.step(
                        net,
                        &format!("proc-{}", PROCS[i]),
                        "sgsn",
                        "Create PDP Context Response",
                        &format!("TEID {teid:#010x}, UE {ue_addr}"),
                    );
                }
            }
        }
    };
    net.run_for(Duration::from_millis(600));
    drain(net, tr);
    for k in 0..CONTEXTS {
        let now = net.now();
        net.node_mut::<Sgsn>(sgsn)
            .create(now, &format!("00101000000{k:04}"), 5);
        tr.step(
            net,
            "sgsn",
            "line",
            "Create PDP Context Request",
            "TEID 0: to the switch processor",
        );
        for _ in 0..300 {
            net.run_for(Duration::from_millis(5));
            drain(net, tr);
            if net.node_mut::<Sgsn>(sgsn).idle() {
                break;
            }
        }
        // Let the processors' heartbeats carry their new load to the switch processor.
        net.run_for(Duration::from_millis(150));
        drain(net, tr);
    }
    let accepted = net.node_mut::<Sgsn>(sgsn).created();
    let setups_at_switch = net.node_mut::<SwitchProcessor>(switch).stats().from_line;
    // User traffic: 10 G-PDUs per context, steered by the VID in the TEID.
    let send_traffic = |net: &mut Net| {
        for k in 0..CONTEXTS {
            for i in 0..10u8 {
                let packet = [
                    0x45, 0, 0, 20, 0, i, 0, 0, 64, 17, 0, 0, 10, 40, 0, 1, 10, 0, 0, 1,
                ];
                net.node_mut::<Sgsn>(sgsn).g_pdu_with(k, packet.to_vec());
            }
        }
        net.run_for(Duration::from_millis(200));
    };
    send_traffic(net);
    tr.step(
        net,
        "sgsn",
        "line",
        &format!("{} G-PDUs", CONTEXTS * 10),
        "steered by VID, no switch processor",
    );
    let per_proc = |net: &mut Net| -> Vec<u64> {
        procs
            .iter()
            .map(|&p| {
                let s = net.node_mut::<Processor>(p).stats();
                s.user_packets + s.user_packets_backup
            })
            .collect()
    };
    let before = per_proc(net);
    // The processor with the most sessions stops.
    let counts: Vec<usize> = procs
        .iter()
        .map(|&p| net.node_mut::<Processor>(p).session_count())
        .collect();
    let victim = (0..procs.len()).max_by_key(|&i| counts[i]).unwrap_or(0);
    net.stop(procs[victim]);
    tr.step(
        net,
        &format!("proc-{}", PROCS[victim]),
        "-",
        &format!("stops ({} sessions)", counts[victim]),
        "crash",
    );
    net.run_for(Duration::from_millis(1200));
    drain(net, tr);
    send_traffic(net);
    tr.step(
        net,
        "sgsn",
        "line",
        &format!("{} G-PDUs", CONTEXTS * 10),
        "sessions of the stopped one go to their backup",
    );
    for k in 0..CONTEXTS {
        let now = net.now();
        net.node_mut::<Sgsn>(sgsn).update(now, k);
    }
    net.run_for(Duration::from_millis(800));
    drain(net, tr);
    let updated = net
        .node_mut::<Sgsn>(sgsn)
        .sessions
        .iter()
        .filter(|c| c.updates_ok > 0)
        .count();
    tr.step(
        net,
        "line",
        "backups",
        &format!("{updated}/{CONTEXTS} Update PDP Context answered"),
        "backup serves from synced state",
    );
    let after = per_proc(net);
    let switch_seen = net.node_mut::<SwitchProcessor>(switch).stats().from_line;
    for (i, &id) in PROCS.iter().enumerate() {
        sum.add(
            &format!("proc-{id}"),
            "GTP sessions / G-PDUs before, after",
            format!("{} / {}, {}", counts[i], before[i], after[i] - before[i]),
        );
    }
    let st = net.node_mut::<LineInterface>(line).stats();
    sum.add(
        "sgsn",
        "GTP contexts accepted",
        format!("{accepted} of {CONTEXTS}"),
    );
    sum.add(
        "line",
        "packets steered to primary / backup",
        format!("{} / {}", st.to_primary, st.to_backup),
    );
    sum.add(
        "switch",
        "packets seen (set-ups only)",
        format!("{setups_at_switch} before traffic, {switch_seen} after"),
    );
    sum.add(
        "sgsn",
        "updates answered after failover",
        format!("{updated} of {CONTEXTS}"),
    );
    sum.fact("gtp.contexts", CONTEXTS);
    sum.fact("gtp.accepted", accepted);
    sum.fact(
        "gtp.switch_saw_after_setups",
        switch_seen - setups_at_switch,
    );
    sum.fact("gtp.to_backup", st.to_backup);
    sum.fact("gtp.victim_sessions", counts[victim]);
    sum.fact("gtp.victim_packets_after", after[victim] - before[victim]);
    sum.fact(
        "gtp.packets_after",
        after.iter().sum::<u64>() - before.iter().sum::<u64>(),
    );
    sum.fact("gtp.updates_answered", updated);
}
