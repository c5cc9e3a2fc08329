//! The demo's stories (L2TP, Mobile IP, steering for GTPv1 and for 5G over PFCP), shared by `examples/demo.rs` and the integration test that checks
//! what they show.

use super::Net;
use super::sgsn::{self, Sgsn};
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

mod l2tp_story;
mod mip_story;
mod steering_5g_story;
mod steering_story;
pub use l2tp_story::l2tp_story;
pub use mip_story::mip_story;
pub use steering_5g_story::steering_5g_story;
pub use steering_story::steering_story;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

/// Runs the stories on `net`.
pub fn run_all(net: &mut Net, tr: &Trace) -> Summary {
    let mut sum = Summary::default();
    l2tp_story(net, tr, &mut sum);
    mip_story(net, tr, &mut sum);
    steering_story(net, tr, &mut sum);
    steering_5g_story(net, tr, &mut sum);
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
