//! The async driver (`telcp::driver`, feature `tokio`) running an L2TP LNS and a LAC over
//! loopback UDP: the tunnel and session come up (RFC 2661 5.1: SCCRQ/SCCRP/SCCCN, ICRQ/ICRP/ICCN),
//! a PPP frame crosses in an L2TP data message (RFC 2661 5.8) both ways, and shutdown ends both
//! tasks with their sockets closed.

#[path = "common/events.rs"]
mod events;

use events::wait_for;
use std::net::SocketAddr;
use std::time::Duration;
use telcp::driver::{self, DriverConfig, Handle, StopReason};
use telcp::l2tp::{self, Lac, LacConfig, Lns, LnsConfig};
use tokio::sync::mpsc;

/// An LCP Echo-Request (RFC 1661 5.8: code 9, identifier 1, length 8, magic number).
const LCP_ECHO: [u8; 12] = [
    0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78,
];

fn common(seed: u64) -> l2tp::Config {
    l2tp::Config {
        seed: telcp::io::seed(seed),
        ..Default::default()
    }
}

type Frames = mpsc::UnboundedReceiver<Vec<u8>>;

/// An LNS on the driver that echoes every PPP frame back on its session (its hook drains
/// `poll_data` inside the driver's task, so the answer leaves in the same turn) and reports it.
async fn spawn_lns() -> (Handle<Lns>, mpsc::Receiver<l2tp::Event>, Frames) {
    let (frames, seen) = mpsc::unbounded_channel();
    let cfg = LnsConfig {
        common: common(2),
        ..Default::default()
    };
    let lns = Lns::new(cfg, driver::now()).expect("LNS config");
    let bind = vec!["127.0.0.1:0".parse().expect("address")];
    let (h, events, _) =
        driver::spawn_with(lns, DriverConfig::new(bind), move |lns: &mut Lns, _| {
            while let Some(d) = lns.poll_data() {
                let _ = lns.send_ppp(d.session, &d.frame);
                let _ = frames.send(d.frame.to_vec());
            }
        })
        .await
        .expect("bind the LNS");
    (h, events, seen)
}

/// A LAC of `lns` on the driver that reports every PPP frame it receives.
async fn spawn_lac(lns: SocketAddr) -> (Handle<Lac>, mpsc::Receiver<l2tp::Event>, Frames) {
    let (frames, seen) = mpsc::unbounded_channel();
    let mut cfg = LacConfig::new(lns);
    cfg.common = common(1);
    let lac = Lac::new(cfg, driver::now()).expect("LAC config");
    let bind = vec!["127.0.0.2:0".parse().expect("address")];
    let (h, events, _) =
        driver::spawn_with(lac, DriverConfig::new(bind), move |lac: &mut Lac, _| {
            while let Some(d) = lac.poll_data() {
                let _ = frames.send(d.frame.to_vec());
            }
        })
        .await
        .expect("bind the LAC");
    (h, events, seen)
}

#[tokio::test]
async fn lns_and_lac_over_loopback_udp_bring_a_session_up_and_carry_ppp() {
    let (lns, mut lns_events, mut lns_seen) = spawn_lns().await;
    let lns_addr = lns.local_addrs()[0];
    let (lac, mut lac_events, mut lac_seen) = spawn_lac(lns_addr).await;
    let lac_addr = lac.local_addrs()[0];

    let call = lac
        .call(|lac, now| lac.open_session(now))
        .await
        .expect("driver running")
        .expect("a call");
    let up = wait_for(&mut lac_events, Duration::from_secs(5), |e| match e {
        l2tp::Event::SessionUp {
            call: Some(c),
            peer,
            ..
        } if *c == call => Some(*peer),
        _ => None,
    })
    .await;
    assert_eq!(up, Some(lns_addr), "the LAC's session is up with the LNS");
    let lns_up = wait_for(&mut lns_events, Duration::from_secs(5), |e| match e {
        l2tp::Event::SessionUp { peer, .. } => Some(*peer),
        _ => None,
    })
    .await;
    assert_eq!(
        lns_up,
        Some(lac_addr),
        "the LNS's session is up with the LAC"
    );

    lac.call(move |lac, _| lac.send_ppp(call, &LCP_ECHO))
        .await
        .expect("driver running")
        .expect("the session takes PPP");
    let at_lns = tokio::time::timeout(Duration::from_secs(5), lns_seen.recv()).await;
    assert_eq!(at_lns.ok().flatten().as_deref(), Some(&LCP_ECHO[..]));
    let back = tokio::time::timeout(Duration::from_secs(5), lac_seen.recv()).await;
    assert_eq!(back.ok().flatten().as_deref(), Some(&LCP_ECHO[..]));

    let lac_stats = lac.driver_stats().await.expect("running");
    assert!(
        lac_stats.sent >= 5,
        "SCCRQ, SCCCN, ICRQ, ICCN and data: {lac_stats:?}"
    );
    assert_eq!(lac_stats.refused, 0, "{lac_stats:?}");

    let lac_stopped = lac.shutdown().await.expect("the LAC's task ends");
    let lns_stopped = lns.shutdown().await.expect("the LNS's task ends");
    assert_eq!(lac_stopped.reason, StopReason::Shutdown);
    assert_eq!(lns_stopped.reason, StopReason::Shutdown);
    assert_eq!(lns_stopped.endpoint.session_count(), 1);
    assert_eq!(lns_stopped.stats.refused, 0, "{:?}", lns_stopped.stats);
    // Both tasks have ended and closed their sockets: the addresses are free again.
    for a in [lac_addr, lns_addr] {
        std::net::UdpSocket::bind(a).expect("socket closed at shutdown");
    }
    // And their event channels are closed once drained.
    while lac_events.try_recv().is_ok() {}
    assert_eq!(lac_events.recv().await, None);
}
