//! telcp's demo: the sans-IO machines driven over real UDP sockets on loopback (or, with
//! `--sim SEED`, in the deterministic simulator with seeded loss).
//!
//! ```text
//! cargo run --release --example demo [-- --pcap PATH] [--quiet] [--sim SEED]
//! ```
//!
//! It prints one line per protocol step (who -> whom: what, why), a summary table, and writes
//! `demo.pcap` that tshark dissects.

mod common;

use common::{Net, UdpLoop};
use std::net::SocketAddr;
use std::time::Duration;
use telcp::health::{ClusterKey, HealthEvent, Load, Monitor, MonitorConfig, NodeId, Policy, Role};
use telcp::l2tp::{self, Lac, LacConfig, Lns, LnsConfig};
use telcp::sim::{LinkConfig, Sim};

struct Opts {
    pcap: String,
    quiet: bool,
    sim: Option<u64>,
}

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        pcap: "demo.pcap".into(),
        quiet: false,
        sim: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pcap" => o.pcap = args.next().ok_or("--pcap needs a path")?,
            "--quiet" => o.quiet = true,
            "--sim" => {
                let s = args.next().ok_or("--sim needs a seed")?;
                o.sim = Some(s.parse().map_err(|_| format!("bad seed {s}"))?);
            }
            "-h" | "--help" => {
                return Err("usage: demo [--pcap PATH] [--quiet] [--sim SEED]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

/// The readable trace: one line per protocol step.
struct Trace {
    quiet: bool,
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

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

/// What the demo measured, printed as the summary table.
#[derive(Default)]
struct Summary {
    rows: Vec<(String, String, String)>,
}

impl Summary {
    fn add(&mut self, node: &str, what: &str, value: impl ToString) {
        self.rows
            .push((node.into(), what.into(), value.to_string()));
    }
    fn print(&self) {
        println!("\n{:<14} {:<34} value", "node", "measure");
        println!("{}", "-".repeat(60));
        for (n, w, v) in &self.rows {
            println!("{n:<14} {w:<34} {v}");
        }
    }
}

/// Heartbeats among a contact node and three pool nodes; one stops, is found Down, restarts.
fn health_story(net: &mut Net, tr: &Trace, sum: &mut Summary) {
    tr.section("health: heartbeats, failure detection, load-based selection");
    let key = ClusterKey::new(b"demo cluster key");
    let names = ["contact", "pool-a", "pool-b", "pool-c"];
    let addrs: Vec<SocketAddr> = (1..=4)
        .map(|i| addr(&format!("127.0.10.{i}:7000")))
        .collect();
    let loads = [
        Load::new(95, 100),
        Load::new(30, 100),
        Load::new(60, 100),
        Load::new(10, 100),
    ];
    let monitor = |i: usize, incarnation: u32, now| {
        let peers = (0..4)
            .filter(|&j| j != i)
            .map(|j| (NodeId(j as u32), addrs[j]))
            .collect();
        let role = if i == 0 { Role::CONTACT_LNS } else { Role::LNS };
        let mut cfg = MonitorConfig::new(NodeId(i as u32), role, key.clone(), peers);
        cfg.interval = Duration::from_millis(200);
        cfg.incarnation = incarnation;
        cfg.load = loads[i];
        Monitor::new(cfg, now).expect("valid monitor config")
    };
    let ids: Vec<usize> = (0..4)
        .map(|i| {
            let m = monitor(i, 1, net.now());
            net.add(names[i], &[addrs[i]], Box::new(m))
        })
        .collect();
    let watch = |net: &mut Net, d: Duration| {
        let end = net.elapsed() + d;
        while net.elapsed() < end {
            net.run_for(Duration::from_millis(50));
            while let Some(ev) = net.node_mut::<Monitor>(ids[0]).poll_event() {
                let (peer, what) = match ev {
                    HealthEvent::Up { node } => (node, "is Up".to_string()),
                    HealthEvent::Suspect { node } => (node, "is Suspect".into()),
                    HealthEvent::Down { node } => (node, "is Down".into()),
                    HealthEvent::Restarted {
                        node,
                        previous,
                        incarnation,
                    } => (node, format!("restarted ({previous} -> {incarnation})")),
                };
                let who = names.get(peer.0 as usize).copied().unwrap_or("?");
                tr.step(net, who, "contact", &format!("{who} {what}"), "heartbeats");
            }
        }
    };
    watch(net, Duration::from_millis(700));
    let pick = |net: &mut Net| {
        let mut rng = telcp::Rng::seed_from_u64(1);
        net.node_mut::<Monitor>(ids[0])
            .select(Policy::LeastLoaded, &mut rng, |n| n != NodeId(0))
            .map_or("none", |n| names[n.0 as usize])
    };
    let first = pick(net);
    tr.step(
        net,
        "contact",
        first,
        "selects least loaded",
        "pool-c 10%, a 30%, b 60%",
    );
    net.stop(ids[3]);
    tr.step(net, "pool-c", "-", "stops", "crash");
    watch(net, Duration::from_millis(1200));
    let second = pick(net);
    tr.step(
        net,
        "contact",
        second,
        "selects least loaded",
        "pool-c is Down",
    );
    let fresh = monitor(3, 2, net.now());
    net.restart(ids[3], Box::new(fresh));
    tr.step(net, "pool-c", "-", "restarts", "incarnation 2");
    watch(net, Duration::from_millis(700));
    sum.add("contact", "health: first choice", first);
    sum.add("contact", "health: choice with pool-c down", second);
}

/// L2TP: a LAC asks a contact LNS at capacity; the contact redirects the call to the least-loaded
/// pool LNS (pool LNSs report their load with heartbeats); PPP frames flow; then that pool LNS
/// stops and the next call goes to the other one.
fn l2tp_story(net: &mut Net, tr: &Trace, sum: &mut Summary) {
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
        seed,
        ..Default::default()
    };
    let health = |me: u32, role, peers: Vec<(NodeId, SocketAddr)>| {
        let mut h = MonitorConfig::new(NodeId(me), role, key.clone(), peers);
        h.interval = Duration::from_millis(200);
        h.misses_suspect = 3;
        h.misses_down = 5;
        h
    };
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
        health: Some(health(
            100,
            Role::CONTACT_LNS,
            vec![(NodeId(1), pool_addrs[0]), (NodeId(2), pool_addrs[1])],
        )),
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
            health: Some(health(
                i as u32 + 1,
                Role::LNS,
                vec![(NodeId(100), contact_addr)],
            )),
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
            while let Some(ev) = net.node_mut::<Lns>(contact).poll_event() {
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
            while let Some(ev) = net.node_mut::<Lac>(lac).poll_event() {
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
}

fn main() {
    let o = match opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let tr = Trace { quiet: o.quiet };
    let mut net = match o.sim {
        Some(seed) => {
            let mut s = Sim::new(seed, std::time::Instant::now());
            s.set_default_link(LinkConfig::lossy(0.05, 0.01, 0.02));
            Net::Sim(Box::new(s), Vec::new())
        }
        None => match UdpLoop::new(Some(&o.pcap)) {
            Ok(l) => Net::Udp(l),
            Err(e) => {
                eprintln!("cannot open {}: {e}", o.pcap);
                std::process::exit(1);
            }
        },
    };
    let mut sum = Summary::default();
    health_story(&mut net, &tr, &mut sum);
    l2tp_story(&mut net, &tr, &mut sum);
    if let Net::Sim(s, _) = &net {
        match std::fs::File::create(&o.pcap)
            .map_err(|e| e.to_string())
            .and_then(|f| s.write_pcap(f).map(|_| ()).map_err(|e| e.to_string()))
        {
            Ok(()) => {}
            Err(e) => eprintln!("cannot write {}: {e}", o.pcap),
        }
    }
    sum.print();
    println!("\ncapture written to {}", o.pcap);
}
