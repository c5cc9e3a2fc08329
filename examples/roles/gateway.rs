//! The `gateway` role: the steering machines of a GTP gateway, each on its own driver task. The
//! line interface takes GTP-C and GTP-U from peers and steers each packet by the virtual ID in its
//! TEID (TEID 0, a set-up, goes to the switch processor); the switch processor assigns VIDs to
//! processors and directs each set-up to the least loaded one, naming a backup; the processors
//! hold the sessions. A process runs the sections present in its file (`[line]`, `[switch]`,
//! `[processors]`), so the machines can be spread over hosts that share `[fabric]`.

use super::{Observer, Part, RoleConfig, Running, Secret, StartError, defaults, drive};
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::time::Duration;
use telcp::health::{ClusterKey, HealthConfig, NodeId};
use telcp::ipnetwork::Ipv4Network;
use telcp::steering::line::LineConfig;
use telcp::steering::processor::{ProcessorConfig, ProcessorEvent};
use telcp::steering::switch::{SwitchConfig, SwitchEvent};
use telcp::steering::{LineInterface, Processor, SwitchProcessor, VidLayout};

/// `[fabric]`: where every machine of the gateway is, on the internal fabric.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fabric {
    /// The line interface's fabric address.
    pub line: SocketAddr,
    /// The switch processor's.
    pub switch: SocketAddr,
    /// The processors: `{ id = 11, addr = "127.0.12.11:4000" }`.
    pub processors: Vec<ProcessorAddr>,
    /// Milliseconds between heartbeats.
    #[serde(default = "heartbeat_ms")]
    pub heartbeat_ms: u64,
}

/// A processor on the fabric.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorAddr {
    /// Its id.
    pub id: u32,
    /// Its fabric address.
    pub addr: SocketAddr,
}

/// `[line]`: run the line interface here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Its node id, the sender of its sealed fabric messages: neither a processor's id nor the
    /// switch processor's.
    #[serde(default = "two")]
    pub node: u32,
    /// The switch processor's node id (`[switch] node`), whose sealed messages it takes.
    #[serde(default = "one")]
    pub switch_node: u32,
    /// The GTP-C address peers send to (port 2123).
    pub gtp_c: SocketAddr,
    /// The GTP-U address (port 2152).
    pub gtp_u: SocketAddr,
}

/// `[switch]`: run the switch processor here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    /// Its node id.
    #[serde(default = "one")]
    pub node: u32,
    /// Most sessions it directs.
    #[serde(default = "switch_sessions")]
    pub max_sessions: usize,
}

/// `[processors]`: run these processors here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Processors {
    /// The ids (from `fabric.processors`) run by this process.
    pub run: Vec<u32>,
    /// The UE address pool (End User Addresses), shared by the processors.
    #[serde(deserialize_with = "prefix")]
    pub ue_pool: Ipv4Network,
    /// Most sessions per processor.
    #[serde(default = "processor_sessions")]
    pub max_sessions: usize,
}

/// `examples/config/gateway.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The key of the fabric messages (the same on every machine).
    pub key: Secret,
    /// A fixed RNG seed (tests); absent: from the operating system.
    pub seed: Option<u64>,
    /// Seconds between stats lines (0: only at exit).
    #[serde(default = "defaults::stats_interval_secs")]
    pub stats_interval_secs: u64,
    /// Where every machine is.
    pub fabric: Fabric,
    /// The line interface, if it runs here.
    pub line: Option<Line>,
    /// The switch processor, if it runs here.
    pub switch: Option<Switch>,
    /// The processors that run here.
    pub processors: Option<Processors>,
}

fn heartbeat_ms() -> u64 {
    200
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn switch_sessions() -> usize {
    100_000
}
fn processor_sessions() -> usize {
    10_000
}

fn prefix<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Network, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn describe_line(l: &LineInterface) -> String {
    format!("{:?}", l.stats())
}
fn describe_switch(s: &SwitchProcessor) -> String {
    format!("{:?}", s.stats())
}
fn describe_processor(p: &Processor) -> String {
    format!("sessions {}, {:?}", p.session_count(), p.stats())
}

impl Config {
    fn health(&self) -> HealthConfig {
        HealthConfig::default().with_interval(Duration::from_millis(self.fabric.heartbeat_ms))
    }

    /// The line interface on its fabric, GTP-C and GTP-U addresses.
    async fn start_line(
        &self,
        line: &Line,
        observer: &Observer,
    ) -> Result<Box<dyn Part>, StartError> {
        let f = &self.fabric;
        let key = ClusterKey::new(self.key.as_bytes());
        let node = NodeId(line.node);
        let mut cfg = LineConfig::new(f.line, f.switch, VidLayout::default(), node, key);
        cfg.switch_node = NodeId(line.switch_node);
        cfg.incarnation = super::incarnation().await;
        let li = LineInterface::new(cfg, telcp::driver::now())
            .map_err(|e| format!("gateway line: {e}"))?;
        let bind = vec![f.line, line.gtp_c, line.gtp_u];
        let (p, _) = drive("line", li, bind, None, |_, _| {}, describe_line, observer).await?;
        Ok(p)
    }

    /// The switch processor.
    async fn start_switch(
        &self,
        sw: &Switch,
        observer: &Observer,
    ) -> Result<Box<dyn Part>, StartError> {
        let f = &self.fabric;
        let procs = f
            .processors
            .iter()
            .map(|p| (NodeId(p.id), p.addr))
            .collect();
        let key = ClusterKey::new(self.key.as_bytes());
        let layout = VidLayout::default();
        let mut cfg =
            SwitchConfig::new(NodeId(sw.node), f.switch, vec![f.line], procs, layout, key);
        cfg.incarnation = super::incarnation().await;
        cfg.max_sessions = sw.max_sessions;
        cfg.health = self.health();
        cfg.seed = super::seed(self.seed);
        // The incarnation is this start's Unix time (`super::incarnation`): PFCP's Recovery
        // Time Stamp is the same instant in NTP seconds (TS 29.244 section 8.2.65).
        let started = cfg.incarnation;
        let mut sp = SwitchProcessor::new(cfg, telcp::driver::now())
            .map_err(|e| format!("gateway switch: {e}"))?;
        sp.set_recovery_time_stamp(telcp::steering::switch::NTP_UNIX_OFFSET.wrapping_add(started));
        let react = |ev: &SwitchEvent, _: &_| {
            if let SwitchEvent::SetupDirected { primary, backup } = ev {
                tracing::info!(%primary, backup = ?backup, "set-up directed");
            }
        };
        let (p, _) = drive(
            "switch",
            sp,
            vec![f.switch],
            None,
            react,
            describe_switch,
            observer,
        )
        .await?;
        Ok(p)
    }

    /// Processor `id`.
    async fn start_processor(
        &self,
        id: u32,
        run: &Processors,
        observer: &Observer,
    ) -> Result<Box<dyn Part>, StartError> {
        let f = &self.fabric;
        let Some(me) = f.processors.iter().find(|p| p.id == id) else {
            return Err(format!("gateway: processor {id} is not in fabric.processors").into());
        };
        let key = ClusterKey::new(self.key.as_bytes());
        let layout = VidLayout::default();
        let mut cfg = ProcessorConfig::new(
            NodeId(id),
            me.addr,
            f.switch,
            f.line,
            layout,
            run.ue_pool,
            key,
        );
        cfg.incarnation = super::incarnation().await;
        cfg.max_sessions = run.max_sessions;
        cfg.health = self.health();
        let pr = Processor::new(cfg, telcp::driver::now())
            .map_err(|e| format!("gateway processor {id}: {e}"))?;
        let react = |ev: &ProcessorEvent, _: &_| {
            if let ProcessorEvent::SessionCreated { teid, ue_addr, .. } = ev {
                tracing::info!(teid = format_args!("{teid:#010x}"), %ue_addr, "session created");
            }
        };
        let name = format!("processor-{id}");
        let (p, _) = drive(
            &name,
            pr,
            vec![me.addr],
            None,
            react,
            describe_processor,
            observer,
        )
        .await?;
        Ok(p)
    }
}

impl RoleConfig for Config {
    const ROLE: &'static str = "gateway";

    fn stats_interval(&self) -> Duration {
        Duration::from_secs(self.stats_interval_secs)
    }

    async fn start(self, observer: Observer) -> Result<Running, StartError> {
        let mut parts = Vec::new();
        if let Some(line) = &self.line {
            parts.push(self.start_line(line, &observer).await?);
        }
        if let Some(sw) = &self.switch {
            parts.push(self.start_switch(sw, &observer).await?);
        }
        if let Some(run) = &self.processors {
            for &id in &run.run {
                parts.push(self.start_processor(id, run, &observer).await?);
            }
        }
        if parts.is_empty() {
            return Err("gateway: nothing to run (no [line], [switch] or [processors])".into());
        }
        Ok(Running {
            role: Self::ROLE,
            parts,
        })
    }
}
