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
