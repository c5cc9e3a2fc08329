//! telcp's demo: the sans-IO machines driven over real UDP sockets on loopback (or, with
//! `--sim SEED`, in the deterministic simulator with seeded loss).
//!
//! ```text
//! cargo run --release --example demo [-- [--pcap PATH] [--quiet] [--sim SEED]]
//! ```
//!
//! It prints one line per protocol step (who -> whom: what, why), a summary table, and writes
//! `demo.pcap` that tshark dissects.

mod common;

use common::stories::{Trace, run_all};
use common::{Net, UdpLoop};
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
    let sum = run_all(&mut net, &tr);
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
