//! A GTP gateway made of telcp's steering machines over real UDP sockets on loopback: one line
//! interface (the GTP-C and GTP-U addresses peers talk to), the switch processor and N
//! processors, talking over a loopback "fabric", in the demo's `std::net::UdpSocket` loop: the
//! harness of `tests/interop_sgsnemu.rs`. (The runnable gateway is `examples/gateway.rs`, on the
//! async driver.)
//!
//! sgsnemu's Echo Request and Create PDP Context Request reach the line interface on
//! `--listen`:2123 (TEID 0, so they go to the switch processor); the switch processor answers
//! the echo and directs the set-up to the least loaded processor, naming a backup; that processor
//! answers with TEIDs carrying both VIDs and an End User Address, once the session is replicated
//! to the backup. Every later packet of the session (G-PDUs with `--pinghost`, Update/Delete)
//! goes from the line interface straight to the processor. The gateway prints what each machine
//! reports.

#[path = "../common/mod.rs"]
mod common;

use common::UdpLoop;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use telcp::health::{ClusterKey, HealthConfig, NodeId};
use telcp::steering::line::LineConfig;
use telcp::steering::processor::{ProcessorConfig, ProcessorEvent};
use telcp::steering::switch::{SwitchConfig, SwitchEvent};
use telcp::steering::{LineInterface, Processor, SwitchProcessor, VidLayout};

/// Where the gateway listens and how many processors it has.
pub struct Options {
    /// The address peers send GTP-C (2123) and GTP-U (2152) to.
    pub listen: Ipv4Addr,
    /// Number of processors.
    pub processors: u32,
    /// First fabric port (the line interface; then the switch processor, then processors).
    pub fabric_port: u16,
    /// Where to write a pcap of every datagram sent.
    pub pcap: Option<String>,
}

/// The running gateway: the socket loop and the index of each machine in it.
pub struct Gateway {
    /// The loop.
    pub net: UdpLoop,
    /// The line interface.
    pub line: usize,
    /// The switch processor.
    pub switch: usize,
    /// The processors.
    pub processors: Vec<usize>,
    /// The TEID layout.
    pub layout: VidLayout,
}

/// Binds every socket and builds the machines.
pub fn build(o: &Options) -> std::io::Result<Gateway> {
    let now = std::time::Instant::now();
    let fabric = |i: u16| SocketAddr::new(IpAddr::V4(o.listen), o.fabric_port + i);
    let layout = VidLayout::default();
    let key = ClusterKey::new(b"gateway example key");
    let bad = |e: telcp::steering::ConfigError| std::io::Error::other(e.to_string());
    let mut net = UdpLoop::new(o.pcap.as_deref())?;
    let line_cfg = LineConfig::new(fabric(0), fabric(1), layout, NodeId(2), key.clone());
    let li = LineInterface::new(line_cfg, now).map_err(bad)?;
    let gw = IpAddr::V4(o.listen);
    let line = net.add(
        "line",
        &[
            fabric(0),
            SocketAddr::new(gw, 2123),
            SocketAddr::new(gw, 2152),
        ],
        Box::new(li),
    )?;
    let ids: Vec<u32> = (0..o.processors).map(|i| 11 + i).collect();
    let processor_addr = |id: u32| fabric(2 + (id - 11) as u16);
    let slots = ids
        .iter()
        .map(|&id| (NodeId(id), processor_addr(id)))
        .collect();
    let mut sc = SwitchConfig::new(
        NodeId(1),
        fabric(1),
        vec![fabric(0)],
        slots,
        layout,
        key.clone(),
    );
    // Beyond the defaults: restart counter 1 in Recovery IEs, heartbeats every 200 ms (a silent
    // processor is Down after 1.2 s, so a failover shows at once), a seeded placement.
    sc.recovery = 1;
    sc.health = HealthConfig::default()
        .with_interval(Duration::from_millis(200))
        .with_misses(3, 6)
        .with_overload_percent(95);
    sc.seed = telcp::io::seed(1);
    let sp = SwitchProcessor::new(sc, now).map_err(bad)?;
    let switch = net.add("switch", &[fabric(1)], Box::new(sp))?;
    let mut processors = Vec::new();
    for &id in &ids {
        let pool = "10.0.0.0/8".parse().map_err(std::io::Error::other)?;
        let mut pc = ProcessorConfig::new(
            NodeId(id),
            processor_addr(id),
            fabric(1),
            fabric(0),
            layout,
            pool,
            key.clone(),
        );
        // The switch processor's heartbeat interval and restart counter; faster fabric repeats.
        pc.max_sessions = 1000;
        pc.recovery = 1;
        pc.retransmit = Duration::from_millis(100);
        pc.health = HealthConfig::default().with_interval(Duration::from_millis(200));
        let p = Processor::new(pc, now).map_err(bad)?;
        processors.push(net.add(&format!("proc{id}"), &[processor_addr(id)], Box::new(p))?);
    }
    Ok(Gateway {
        net,
        line,
        switch,
        processors,
        layout,
    })
}

impl Gateway {
    /// Prints and returns what the machines reported since the last call.
    pub fn report(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let t = self.net.elapsed().as_secs_f64();
        while let Some(e) = self.net.poll_event_of::<SwitchProcessor>(self.switch) {
            match e {
                SwitchEvent::VidAssigned {
                    processor: NodeId(processor),
                    vid,
                    ..
                } => lines.push(format!(
                    "{t:7.3}s switch: processor {processor} has VID {vid}"
                )),
                SwitchEvent::SetupDirected { primary, backup } => lines.push(format!(
                    "{t:7.3}s switch: set-up directed to VID {primary}, backup {}",
                    backup.map_or("none".into(), |b| b.to_string())
                )),
                SwitchEvent::SetupRefused { request, peer, .. } => lines.push(format!(
                    "{t:7.3}s switch: set-up from {peer} refused ({request:?})"
                )),
                SwitchEvent::ErrorIndication { teid, peer } => lines.push(format!(
                    "{t:7.3}s switch: Error Indication from {peer} for its TEID {teid:#010x}, relayed"
                )),
                _ => {}
            }
        }
        for &p in &self.processors.clone() {
            let name = self.net.name(p).to_owned();
            while let Some(e) = self.net.poll_event_of::<Processor>(p) {
                if let ProcessorEvent::SessionErrorIndication { teid, as_backup } = e {
                    lines.push(format!(
                        "{t:7.3}s {name}: session TEID {teid:#010x} deleted by the peer's Error Indication{}",
                        if as_backup { " (backup copy)" } else { "" }
                    ));
                } else if let ProcessorEvent::SessionCreated {
                    teid,
                    imsi,
                    ue_addr,
                    backup,
                    ..
                } = e
                {
                    lines.push(format!(
                        "{t:7.3}s {name}: session IMSI {} TEID {teid:#010x} (primary VID {}, backup VID {}) End User Address {ue_addr}",
                        imsi.map(|i| i.digits()).unwrap_or_default(),
                        self.layout.primary(teid).map_or(0, |v| v.get()),
                        backup.map_or(0, |v| v.get()),
                    ));
                }
            }
        }
        for l in &lines {
            println!("{l}");
        }
        lines
    }
}
