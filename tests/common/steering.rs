//! The steering world (issue 3's claims): an SGSN (the shared peer of `sgsn.rs`, speaking GTPv1
//! with retransmissions) in front of the gateway's line interfaces on the deterministic simulator
//! with loss; behind them, on the fabric, the switch processor and four processors.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{self, ClusterKey, Policy};
use telcp::sim::{LinkConfig, NodeId, Sim};
use telcp::steering::fabric::VidState;
use telcp::steering::limit::RateLimit;
use telcp::steering::line::LineConfig;
use telcp::steering::processor::ProcessorConfig;
use telcp::steering::switch::SwitchConfig;
use telcp::steering::{LineInterface, Processor, SwitchProcessor, VidLayout, VirtualId};

// Re-exported for the scenario files; not every test crate uses each.
#[allow(unused_imports)]
pub use super::mme::{Mme, MmeSession};
#[allow(unused_imports)]
pub use super::sgsn::{N3, Sgsn, SgsnSession, inner_ipv4};
#[allow(unused_imports)]
pub use super::smf::{SMF_RECOVERY, Smf, SmfSession, created_fteid};
#[allow(unused_imports)]
pub use super::{Capture, have_tshark};

pub const SGSN_IP: [u8; 4] = [192, 0, 2, 10];
pub const MME_IP: [u8; 4] = [192, 0, 2, 20];
pub const SMF_IP: [u8; 4] = [192, 0, 2, 30];
pub const GW_IP: [u8; 4] = [10, 0, 0, 1];
pub const GW2_IP: [u8; 4] = [10, 0, 0, 2];

pub fn sa(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
}
pub fn li_fabric(i: u8) -> SocketAddr {
    sa([172, 16, 0, i], 4000)
}
pub fn sp_fabric() -> SocketAddr {
    sa([172, 16, 0, 100], 4000)
}
pub fn p_fabric(id: u32) -> SocketAddr {
    sa([172, 16, 1, id as u8], 4000)
}

// ---------------------------------------------------------------- the gateway

pub const PROCS: [u32; 4] = [11, 12, 13, 14];
/// The switch processor's Recovery Time Stamp (TS 29.244 section 8.2.65): it started at
/// 2024-12-01 00:00:00 UTC (1 733 011 200 s after the Unix epoch), in NTP seconds.
pub const SWITCH_RECOVERY_TIME_STAMP: u32 =
    telcp::steering::switch::NTP_UNIX_OFFSET + 1_733_011_200;

pub fn layout() -> VidLayout {
    VidLayout::teid32(8, 8).unwrap()
}
pub fn l2tp_layout() -> VidLayout {
    VidLayout::id16(4, 4).unwrap()
}
pub fn key() -> ClusterKey {
    ClusterKey::new(b"steering test key")
}

thread_local! {
    // The switch processor (node 1, incarnation 1) as a test thread plays it, by cluster key:
    // one packet number sequence per test (each test runs on a thread of its own).
    static SWITCH_SEALERS: std::cell::RefCell<
        HashMap<Vec<u8>, telcp::steering::fabric::FabricSealer>,
    > = std::cell::RefCell::new(HashMap::new());
}

/// `m` as the switch processor (node 1, incarnation 1, cluster key `key`) sends it to processor
/// `processor` in its incarnation 1: sealed when its kind must be (fabric version 5), the packet
/// numbers of the test's thread running on from one call to the next.
pub fn from_switch(
    key: &[u8],
    processor: u32,
    m: &telcp::steering::fabric::FabricMessage<'_>,
) -> Vec<u8> {
    SWITCH_SEALERS.with(|s| {
        s.borrow_mut()
            .entry(key.to_vec())
            .or_insert_with(|| {
                let key = ClusterKey::new(key);
                telcp::steering::fabric::FabricSealer::new(&key, health::NodeId(1), 1)
            })
            .seal(health::NodeId(processor), 1, m)
    })
}

/// Seals fabric messages as node `node` (incarnation 1) with the gateway's key (`key`), as a
/// test playing a machine sends them (fabric version 5: `seal` names the receiver's
/// incarnation).
#[allow(dead_code)]
pub fn sealer(node: u32) -> telcp::steering::fabric::FabricSealer {
    telcp::steering::fabric::FabricSealer::new(&key(), health::NodeId(node), 1)
}

pub fn processor_config(id: u32, incarnation: u32) -> ProcessorConfig {
    ProcessorConfig {
        id: health::NodeId(id),
        incarnation,
        fabric_addr: p_fabric(id),
        switch_addr: sp_fabric(),
        switch_node: health::NodeId(1),
        line_addr: li_fabric(1),
        layout: layout(),
        l2tp_layout: Some(l2tp_layout()),
        // 1 % of load per session: health's least-loaded policy compares percentages.
        max_sessions: 100,
        max_shadow: 400,
        ue_pool: "10.0.0.0/8".parse().unwrap(),
        ue_pool_v6: None,
        apns: Vec::new(),
        recovery: incarnation as u8,
        retransmit: Duration::from_millis(50),
        max_retries: 20,
        key: key(),
        health: telcp::health::HealthConfig::default().with_interval(Duration::from_millis(100)),
        queue_limit: 4096,
        error_indications: RateLimit::default(),
        non_existent: RateLimit::default(),
        extension_headers: RateLimit::default(),
        length_errors: RateLimit::default(),
    }
}

pub fn switch_config(lines: &[SocketAddr]) -> SwitchConfig {
    SwitchConfig {
        node: health::NodeId(1),
        incarnation: 1,
        rejoin_grace: Duration::from_millis(500),
        fabric_addr: sp_fabric(),
        line_interfaces: lines.to_vec(),
        processors: PROCS
            .iter()
            .map(|&id| (health::NodeId(id), p_fabric(id)))
            .collect(),
        layout: layout(),
        l2tp_layout: Some(l2tp_layout()),
        recovery: 7,
        max_sessions: 10_000,
        max_recent: 1000,
        recent_window: Duration::from_secs(10),
        retransmit: Duration::from_millis(50),
        line_ack_timeout: Duration::from_secs(1),
        withdraw_after: Duration::from_secs(3),
        key: key(),
        health: telcp::health::HealthConfig::default()
            .with_interval(Duration::from_millis(100))
            .with_misses(3, 6)
            .with_overload_percent(95),
        policy: Policy::LeastLoaded,
        placement: telcp::steering::switch::Placement::Load,
        seed: telcp::io::seed(5),
        queue_limit: 4096,
        version_not_supported: RateLimit::default(),
        error_indications: RateLimit::default(),
        echo_responses: RateLimit::default(),
        extension_headers: RateLimit::default(),
        length_errors: RateLimit::default(),
        path: telcp::steering::path::PathConfig::default(),
        teid_ranges: false,
    }
}

pub fn line_config(i: u8) -> LineConfig {
    line_config_for(i, layout())
}

/// [`line_config`] with the TEID layout `layout`.
pub fn line_config_for(i: u8, layout: VidLayout) -> LineConfig {
    LineConfig {
        fabric_addr: li_fabric(i),
        switch_addr: sp_fabric(),
        id: health::NodeId(u32::from(i) + 1),
        incarnation: 1,
        switch_node: health::NodeId(1),
        key: key(),
        layout,
        l2tp_layout: Some(l2tp_layout()),
        // The processors' pool (`processor_config`), sliced by (VID, backup VID).
        ue_pool: telcp::steering::ue_pool::UePool::new(
            &layout,
            "10.0.0.0/8".parse().unwrap(),
            None,
        )
        .ok(),
        queue_limit: 4096,
        event_limit: 4096,
        error_indications: RateLimit::default(),
        non_existent: RateLimit::default(),
        extension_headers: RateLimit::default(),
        hello_interval: Duration::from_millis(200),
        stale_answers: RateLimit::default(),
    }
}

/// What a [`Gateway`] may be built with besides its peer: the TEID layout, whether the switch
/// processor advertises TEID ranges ([`SwitchConfig::teid_ranges`]), its path management.
#[derive(Debug, Clone)]
pub struct Shape {
    pub layout: VidLayout,
    pub teid_ranges: bool,
    pub path: telcp::steering::path::PathConfig,
    /// The processors' [`telcp::steering::ProcessorConfig::apns`].
    pub apns: Vec<String>,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            layout: layout(),
            teid_ranges: false,
            path: telcp::steering::path::PathConfig::default(),
            apns: Vec::new(),
        }
    }
}

pub struct Gateway {
    pub sim: Sim,
    pub sgsn: NodeId,
    pub lines: Vec<NodeId>,
    pub sp: NodeId,
    pub procs: HashMap<u32, NodeId>,
}

impl Gateway {
    /// A gateway with `n_lines` line interfaces (the SGSN talks to the first), on links with
    /// `loss`, duplication and reordering; runs until every processor has its VID.
    pub fn new(seed: u64, loss: f64, n_lines: u8) -> Gateway {
        let sgsn = Sgsn::new(Ipv4Addr::from(SGSN_IP), sa(GW_IP, 2123));
        Gateway::with_peer(seed, loss, n_lines, ("sgsn", SGSN_IP), Box::new(sgsn))
    }

    /// A gateway as [`Gateway::new`] with `peer` (named `name`, at `ip`) in front of it instead
    /// of the SGSN (an MME or an SMF: the world's `sgsn` node).
    pub fn with_peer(
        seed: u64,
        loss: f64,
        n_lines: u8,
        peer: (&str, [u8; 4]),
        node: Box<dyn telcp::Node>,
    ) -> Gateway {
        let path = telcp::steering::path::PathConfig::default();
        Gateway::with_peer_path(seed, loss, n_lines, peer, node, path)
    }

    /// A gateway as [`Gateway::with_peer`] whose switch processor manages its paths with
    /// `path`.
    pub fn with_peer_path(
        seed: u64,
        loss: f64,
        n_lines: u8,
        peer: (&str, [u8; 4]),
        node: Box<dyn telcp::Node>,
        path: telcp::steering::path::PathConfig,
    ) -> Gateway {
        let shape = Shape {
            path,
            ..Shape::default()
        };
        Gateway::with_shape(seed, loss, n_lines, peer, node, shape)
    }

    /// A gateway as [`Gateway::with_peer`] of the given [`Shape`].
    pub fn with_shape(
        seed: u64,
        loss: f64,
        n_lines: u8,
        (name, ip): (&str, [u8; 4]),
        peer: Box<dyn telcp::Node>,
        shape: Shape,
    ) -> Gateway {
        let start = Instant::now();
        let seed = seed
            + std::env::var("STEERING_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        let mut sim = Sim::new(seed, start);
        sim.set_default_link(LinkConfig::lossy(loss, loss / 2.0, loss / 2.0));
        sim.set_trace_limit(10_000);
        let sgsn = sim.add_node(name, &[sa(ip, 0)], None, peer);
        let line_addrs: Vec<SocketAddr> = (1..=n_lines).map(li_fabric).collect();
        let mut lines = Vec::new();
        for i in 1..=n_lines {
            let gw = if i == 1 { GW_IP } else { GW2_IP };
            let li = LineInterface::new(line_config_for(i, shape.layout), start).unwrap();
            lines.push(sim.add_node(
                format!("line{i}"),
                &[li_fabric(i), sa(gw, 0)],
                None,
                Box::new(li),
            ));
        }
        let mut sc = switch_config(&line_addrs);
        sc.path = shape.path;
        sc.layout = shape.layout;
        sc.teid_ranges = shape.teid_ranges;
        let mut sp = SwitchProcessor::new(sc, start).unwrap();
        sp.set_recovery_time_stamp(SWITCH_RECOVERY_TIME_STAMP);
        let sp = sim.add_node("switch", &[sp_fabric()], None, Box::new(sp));
        let mut procs = HashMap::new();
        for id in PROCS {
            let mut pc = processor_config(id, 1);
            pc.layout = shape.layout;
            pc.apns = shape.apns.clone();
            let p = Processor::new(pc, start).unwrap();
            procs.insert(
                id,
                sim.add_node(format!("proc{id}"), &[p_fabric(id)], None, Box::new(p)),
            );
        }
        let mut gw = Gateway {
            sim,
            sgsn,
            lines,
            sp,
            procs,
        };
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(10), Duration::from_secs(5), |s| {
                PROCS.iter().all(|id| {
                    let sp = s.node::<SwitchProcessor>(NodeId(1 + n_lines as usize));
                    sp.vid_of(health::NodeId(*id)).is_some()
                        && sp
                            .table()
                            .iter()
                            .filter(|e| e.state == VidState::Up)
                            .count()
                            == PROCS.len()
                })
            });
        assert!(ok, "processors did not all get a VID and come up");
        gw.sim.run_for(Duration::from_millis(500));
        gw
    }

    pub fn sgsn(&mut self) -> &mut Sgsn {
        self.sim.node_mut::<Sgsn>(self.sgsn)
    }
    pub fn sp(&self) -> &SwitchProcessor {
        self.sim.node::<SwitchProcessor>(self.sp)
    }
    /// The switch processor's `SetupRefused` events so far: (request and cause, peer, sequence).
    pub fn refused_setups(&mut self) -> Vec<(telcp::steering::RefusedSetup, SocketAddr, u32)> {
        self.sim
            .events(self.sp)
            .into_iter()
            .filter_map(|e| match e {
                telcp::Event::Switch(telcp::steering::SwitchEvent::SetupRefused {
                    request,
                    peer,
                    sequence,
                }) => Some((request, peer, sequence)),
                _ => None,
            })
            .collect()
    }
    pub fn line(&self, i: usize) -> &LineInterface {
        self.sim.node::<LineInterface>(self.lines[i])
    }
    pub fn proc(&self, id: u32) -> &Processor {
        self.sim.node::<Processor>(self.procs[&id])
    }
    pub fn proc_by_vid(&self, vid: VirtualId) -> Option<u32> {
        PROCS
            .iter()
            .copied()
            .find(|id| self.sim.is_alive(self.procs[id]) && self.proc(*id).vid() == Some(vid))
    }

    /// Creates `n` sessions and runs until all are answered.
    pub fn create_sessions(&mut self, n: usize) {
        self.create_sessions_every(n, Duration::from_millis(20));
    }

    /// Creates `n` sessions, one every `gap`, and runs until all are answered.
    pub fn create_sessions_every(&mut self, n: usize, gap: Duration) {
        for i in 0..n {
            let now = self.sim.now();
            let imsi = format!("00101{:010}", i);
            self.sgsn().create(now, &imsi, 5);
            self.sim.run_for(gap);
        }
        let ok = self
            .sim
            .run_until_cond(Duration::from_millis(50), Duration::from_secs(20), |s| {
                s.node::<Sgsn>(NodeId(0))
                    .sessions
                    .iter()
                    .all(|x| x.created.is_some())
            });
        assert!(ok, "not every Create PDP Context Request was answered");
    }

    /// Two TEIDs naming no context: one whose VID (200) no processor holds (the line interface
    /// answers for it), and one with processor 11's VID but no session there (the processor
    /// answers, through the line).
    pub fn unknown_teids(&self) -> (u32, u32) {
        let layout = layout();
        let no_vid = layout
            .compose(VirtualId::new(200).unwrap(), None, 5)
            .unwrap();
        let vid = self.proc(11).vid().unwrap();
        (no_vid, layout.compose(vid, None, 0x7777).unwrap())
    }

    /// Sends an Update PDP Context Request for each session of `idx`, `gap` apart (at once when
    /// `gap` is zero).
    pub fn update_sessions(&mut self, idx: impl IntoIterator<Item = usize>, gap: Duration) {
        for i in idx {
            let now = self.sim.now();
            self.sgsn().update(now, i);
            if !gap.is_zero() {
                self.sim.run_for(gap);
            }
        }
    }

    /// The outside datagrams the line interfaces passed to the switch processor (every
    /// `Packet` delivered to its fabric address, as far as the trace goes).
    pub fn switch_inputs(&self) -> Vec<Vec<u8>> {
        use telcp::sim::Fate;
        use telcp::steering::fabric::FabricMessage;
        self.sim
            .trace()
            .iter()
            .filter(|r| r.to == sp_fabric() && r.fate == Fate::Delivered)
            .filter_map(|r| match FabricMessage::parse(&r.payload) {
                Ok(FabricMessage::Packet { data, .. }) => Some(data.into_owned()),
                _ => None,
            })
            .collect()
    }

    pub fn settle(&mut self) {
        self.sim.run_for(Duration::from_secs(2));
    }
}

impl super::Traced for Gateway {
    fn sim(&self) -> &Sim {
        &self.sim
    }
}

/// A known-answer vector of tests/vectors/steering (built by scapy, see its README).
pub fn vector(name: &str) -> Vec<u8> {
    super::vector("steering", name)
}

/// The gateway's GTP address.
pub fn gw_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(GW_IP))
}
