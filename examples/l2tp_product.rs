//! The README's L2TP product snippets, compiled and run (`cargo run --example l2tp_product`): a
//! LAC takes a tunnel plan per call (RFC 2868 tunnel attributes, as a RADIUS server returns
//! them) and three LNSs admit each call themselves (a BNG asking RADIUS before ICRP), over the
//! deterministic simulator. The blocks between `// README:` markers are the README's text
//! (tests/readme_l2tp.rs keeps them equal).

use std::time::Duration;
use telcp::l2tp::wire::{ResultCode, ResultCodeValue};
use telcp::l2tp::{
    AcceptParams, AdmissionConfig, CallDetails, CallRequest, Close, CommandError, Event, Lac,
    LacConfig, Lns, LnsConfig, PlanEndpoint, SessionHandoff, SessionRef, TunnelPlan,
};
use telcp::sim::Sim;

/// A stand-in for the product's RADIUS client and data plane.
#[derive(Default)]
struct Radius {
    installed: Vec<SessionHandoff>,
}

impl Radius {
    /// Access-Request on the ICRQ's details: here, any caller of 0123...
    fn check(&self, calling_number: &Option<Vec<u8>>) -> bool {
        calling_number
            .as_deref()
            .is_some_and(|n| n.starts_with(b"0123"))
    }

    /// Authentication with the ICCN's proxy authentication details.
    fn authenticate(&mut self, _session: SessionRef, _details: &CallDetails) {}

    /// The kernel's `L2TP_CMD_SESSION_CREATE` (or a DPDK path) would take these.
    fn install(&mut self, handoff: &SessionHandoff) {
        self.installed.push(*handoff);
    }
}

/// The admission loop of one LNS: answers every event it has.
fn admission_loop(
    sim: &mut Sim,
    node: telcp::sim::NodeId,
    radius: &mut Radius,
) -> Result<(), CommandError> {
    let now = sim.now();
    while let Some(ev) = sim.poll_event_of::<Lns>(node) {
        let lns = sim.node_mut::<Lns>(node);
        // README: admission {
        match ev {
            Event::IncomingCall { id, details, .. } if radius.check(&details.calling_number) => {
                lns.accept(now, id, AcceptParams::default())?;
            }
            // Refused: CDN Result 5, permanent lack of resources (RFC 2661 4.4.2).
            Event::IncomingCall { id, .. } => {
                lns.refuse(now, id, ResultCode::new(ResultCodeValue(5)))?
            }
            Event::CallConnected { session, details } => radius.authenticate(session, &details),
            Event::SessionUp { handoff, .. } => radius.install(&handoff),
            _ => {}
        }
        // README: }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sim = Sim::new(7, std::time::Instant::now());
    let now = sim.now();
    let addr = |a: &str| -> std::net::SocketAddr { format!("{a}:1701").parse().unwrap() };
    // README: admission config {
    let lns_config = LnsConfig {
        admission: Some(AdmissionConfig {
            max_pending: 256,
            timeout: Duration::from_secs(3),
        }),
        ..LnsConfig::default()
    };
    // README: }
    let lnss: Vec<_> = ["10.0.1.1", "10.0.1.2", "10.0.2.1"]
        .into_iter()
        .map(|a| {
            let lns = Lns::new(lns_config.clone(), now).unwrap();
            sim.add_node(a, &[addr(a)], None, Box::new(lns))
        })
        .collect();
    let lac = Lac::new(LacConfig::new(addr("10.0.1.1")), now)?;
    let lac_node = sim.add_node("lac", &[addr("10.0.9.1")], None, Box::new(lac));
    let lac = sim.node_mut::<Lac>(lac_node);
    // README: plan {
    let lns = |a: &str| PlanEndpoint::new(format!("{a}:1701").parse().unwrap());
    let plan = TunnelPlan::new(vec![
        lns("10.0.1.1").preference(1).weight(3).max_sessions(1000), // level 1: 3/4 of the calls
        lns("10.0.1.2").preference(1).assignment_id("isp-a"),       // weight 1: 1/4, own tunnel
        lns("10.0.2.1").preference(2).password("lns-3 secret"), // level 2: level 1 full or denied
    ])?;
    let details = CallDetails {
        calling_number: Some(b"0123456789".to_vec()),
        ..Default::default()
    };
    let call = lac.open_call(now, CallRequest::with_plan(plan).details(details))?;
    // README: }
    let refused = lac.open_call(
        now,
        CallRequest::with_plan(TunnelPlan::new(vec![lns("10.0.2.1")])?),
    )?;
    let mut radius = Radius::default();
    for _ in 0..100 {
        sim.run_for(Duration::from_millis(100));
        for n in &lnss {
            admission_loop(&mut sim, *n, &mut radius)?;
        }
    }
    let now = sim.now();
    let lac = sim.node_mut::<Lac>(lac_node);
    let up = lac.session_of(call).ok_or("the call is not up")?;
    println!("call {call:?} up at {:?} on {up:?}", lac.lns_of(call));
    println!("data planes installed: {:?}", radius.installed);
    assert!(
        lac.session_of(refused).is_none(),
        "no Calling Number: refused"
    );
    // README: close {
    let cause = telcp::l2tp::wire::avp::PppDisconnectCause {
        code: telcp::l2tp::wire::avp::DisconnectCode::NORMAL,
        protocol: 0xc021, // LCP
        direction: telcp::l2tp::wire::avp::DisconnectDirection::AT_PEER,
        message: b"user logged out"[..].into(),
    };
    lac.close_session(now, call, Close::default().cause(cause))?; // CDN with AVP 46
    // README: }
    Ok(())
}
