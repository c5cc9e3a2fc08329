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
use telcp::health::{ClusterKey, Policy};
use telcp::steering::limit::RateLimit;
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
    let li = LineInterface::new(
        LineConfig {
            fabric_addr: fabric(0),
            switch_addr: fabric(1),
            layout,
            l2tp_layout: None,
            ue_pool: None,
            queue_limit: 4096,
            event_limit: 4096,
            error_indications: RateLimit::default(),
            non_existent: RateLimit::default(),
            extension_headers: RateLimit::default(),
        },
        now,
    )
    .map_err(bad)?;
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
    let sp = SwitchProcessor::new(
        SwitchConfig {
            node: 1,
            incarnation: 1,
            rejoin_grace: Duration::from_secs(1),
            fabric_addr: fabric(1),
            line_interfaces: vec![fabric(0)],
            processors: ids
                .iter()
                .map(|&id| (id, fabric(2 + (id - 11) as u16)))
                .collect(),
            layout,
            l2tp_layout: None,
            recovery: 1,
            max_sessions: 100_000,
            max_recent: 1024,
            recent_window: Duration::from_secs(30),
            retransmit: Duration::from_millis(200),
            withdraw_after: Duration::from_secs(30),
            key: key.clone(),
            health: telcp::health::HealthConfig::default()
                .with_interval(Duration::from_millis(200))
                .with_misses(3, 6)
                .with_overload_percent(95),
            policy: Policy::LeastLoaded,
            placement: telcp::steering::switch::Placement::Load,
            seed: telcp::io::seed(1),
            queue_limit: 4096,
            version_not_supported: RateLimit::default(),
            error_indications: RateLimit::default(),
            echo_responses: RateLimit::default(),
            extension_headers: RateLimit::default(),
            path: telcp::steering::path::PathConfig::default(),
            teid_ranges: false,
        },
        now,
    )
    .map_err(bad)?;
    let switch = net.add("switch", &[fabric(1)], Box::new(sp))?;
    let mut processors = Vec::new();
    for &id in &ids {
        let p = Processor::new(
            ProcessorConfig {
                id,
                incarnation: 1,
                fabric_addr: fabric(2 + (id - 11) as u16),
                switch_addr: fabric(1),
                switch_node: 1,
                line_addr: fabric(0),
                layout,
                l2tp_layout: None,
                max_sessions: 1000,
                max_shadow: 10_000,
                ue_pool: "10.0.0.0/8".parse().map_err(std::io::Error::other)?,
                ue_pool_v6: None,
                apns: Vec::new(),
                recovery: 1,
                retransmit: Duration::from_millis(100),
                max_retries: 10,
                key: key.clone(),
                health: telcp::health::HealthConfig::default()
                    .with_interval(Duration::from_millis(200)),
                queue_limit: 4096,
                error_indications: RateLimit::default(),
                non_existent: RateLimit::default(),
                extension_headers: RateLimit::default(),
            },
            now,
        )
        .map_err(bad)?;
        processors.push(net.add(
            &format!("proc{id}"),
            &[fabric(2 + (id - 11) as u16)],
            Box::new(p),
        )?);
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
                SwitchEvent::VidAssigned { processor, vid, .. } => lines.push(format!(
                    "{t:7.3}s switch: processor {processor} has VID {vid}"
                )),
                SwitchEvent::SetupDirected { primary, backup } => lines.push(format!(
                    "{t:7.3}s switch: set-up directed to VID {primary}, backup {}",
                    backup.map_or("none".into(), |b| b.to_string())
                )),
                SwitchEvent::SetupRefused => lines.push(format!("{t:7.3}s switch: set-up refused")),
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
