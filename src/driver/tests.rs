//! The driver's own tests: deadlines under tokio's paused clock, socket choice, shutdown.

use super::*;
use crate::Transmit;
use crate::health::{HealthEvent, NodeId};
use std::collections::VecDeque;
use std::time::Duration;

/// A test endpoint: fires a deadline every `period` (recording when it was called and what the
/// deadline was, and reporting each firing as an event); answers every datagram with its own
/// bytes, from the address it came to, unless the first byte asks for an unbound source (1) or a
/// layer-2 next hop (2).
struct Ticker {
    deadline: Option<Instant>,
    period: Duration,
    fired: Vec<(Instant, Instant)>,
    out: VecDeque<Transmit>,
    events: VecDeque<HealthEvent>,
}

impl Ticker {
    fn new(first: Option<Instant>, period: Duration) -> Self {
        Ticker {
            deadline: first,
            period,
            fired: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }
}

impl Endpoint for Ticker {
    type Event = HealthEvent;
    type Error = crate::health::HealthError;
    type Data = std::convert::Infallible;
    type Stats = usize;
    fn handle_datagram(
        &mut self,
        _now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), crate::health::HealthError> {
        let mut t = Transmit::to(from, data.to_vec());
        t.src = Some(to);
        match data.first() {
            Some(1) => t.src = Some("127.0.0.1:9".parse().expect("address")),
            Some(2) => t.link_dst = Some(crate::MacAddr::local(1)),
            Some(0xff) => return Err(crate::health::HealthError::OwnNode(NodeId(0))),
            _ => {}
        }
        self.out.push_back(t);
        Ok(())
    }
    fn handle_timeout(&mut self, now: Instant) {
        if let Some(d) = self.deadline.filter(|&d| now >= d) {
            self.fired.push((now, d));
            self.deadline = Some(d + self.period);
            self.events.push_back(HealthEvent::Up {
                node: NodeId(self.fired.len() as u32),
            });
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
    fn poll_event(&mut self) -> Option<HealthEvent> {
        self.events.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
    fn stats(&self) -> usize {
        self.fired.len()
    }
}

fn loopback() -> DriverConfig {
    DriverConfig::new(vec!["127.0.0.1:0".parse().expect("address")])
}

#[tokio::test(start_paused = true)]
async fn deadlines_fire_at_their_instant_never_before() {
    let t0 = now();
    let ticker = Ticker::new(Some(t0 + Duration::from_secs(10)), Duration::from_secs(10));
    let (handle, mut events) = spawn(ticker, loopback()).await.expect("bind");
    tokio::time::sleep(Duration::from_millis(9_990)).await;
    assert_eq!(handle.stats().await, Ok(0), "fired before its deadline");
    assert_eq!(handle.driver_stats().await.map(|s| s.timeouts), Ok(0));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(handle.stats().await, Ok(1));
    assert_eq!(events.try_recv(), Ok(HealthEvent::Up { node: NodeId(1) }));
    // Two more periods: two more firings, one event each, in order.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        events.recv().await,
        Some(HealthEvent::Up { node: NodeId(2) })
    );
    assert_eq!(
        events.recv().await,
        Some(HealthEvent::Up { node: NodeId(3) })
    );
    let stopped = handle.shutdown().await.expect("clean stop");
    assert_eq!(stopped.reason, StopReason::Shutdown);
    assert_eq!(stopped.stats.timeouts, 3);
    assert_eq!(stopped.stats.events_delivered, 3);
    for &(at, deadline) in &stopped.endpoint.fired {
        assert!(at >= deadline, "handle_timeout before the deadline");
        assert!(
            at - deadline < Duration::from_millis(2),
            "{:?} late",
            at - deadline
        );
    }
}

#[tokio::test(start_paused = true)]
async fn no_deadline_no_wakeup_and_a_command_moves_the_deadline() {
    let (handle, _events) = spawn(Ticker::new(None, Duration::from_secs(1)), loopback())
        .await
        .expect("bind");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(handle.driver_stats().await.map(|s| s.timeouts), Ok(0));
    // A command sets a deadline 5 s ahead: the sleeping task picks it up.
    let set_at = handle
        .call(|t, now| {
            t.deadline = Some(now + Duration::from_secs(5));
            now
        })
        .await
        .expect("running");
    tokio::time::sleep(Duration::from_millis(5_010)).await;
    let stopped = handle.shutdown().await.expect("clean stop");
    assert_eq!(stopped.endpoint.fired.len(), 1);
    assert_eq!(stopped.endpoint.fired[0].1, set_at + Duration::from_secs(5));
    // The driver-stats read and the call.
    assert_eq!(stopped.stats.commands, 2);
}

#[tokio::test(start_paused = true)]
async fn a_full_event_queue_drops_and_counts() {
    let t0 = now();
    let mut config = loopback();
    config.event_queue = 2;
    let ticker = Ticker::new(Some(t0 + Duration::from_secs(1)), Duration::from_secs(1));
    let (handle, events) = spawn(ticker, config).await.expect("bind");
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    let stopped = handle.shutdown().await.expect("clean stop");
    assert_eq!(stopped.stats.events_delivered, 2);
    assert_eq!(stopped.stats.events_dropped, 3);
    drop(events);
}

/// Receives one datagram on `peer` within a second: its bytes and source.
async fn answer(peer: &tokio::net::UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf)).await;
    r.ok()?.ok().map(|(n, from)| (buf[..n].to_vec(), from))
}

#[tokio::test]
async fn answers_leave_from_the_socket_named_by_src_and_shutdown_closes_every_socket() {
    let config = DriverConfig::new(vec![
        "127.0.0.1:0".parse().expect("address"),
        "127.0.0.2:0".parse().expect("address"),
    ]);
    let (handle, _events) = spawn(Ticker::new(None, Duration::from_secs(1)), config)
        .await
        .expect("bind");
    let local = handle.local_addrs().to_vec();
    assert_eq!(local.len(), 2);
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    for &a in &local {
        peer.send_to(&[7, 7], a).await.expect("send");
        assert_eq!(answer(&peer).await, Some((vec![7, 7], a)));
    }
    // An unbound source, a layer-2 next hop and a refusal: nothing sent, each counted.
    for first in [1u8, 2, 0xff] {
        peer.send_to(&[first], local[0]).await.expect("send");
    }
    assert_eq!(answer(&peer).await, None);
    let stopped = handle.shutdown().await.expect("clean stop");
    assert_eq!(stopped.stats.received, 5);
    assert_eq!(stopped.stats.sent, 2);
    assert_eq!(stopped.stats.unbound_source, 1);
    assert_eq!(stopped.stats.link_layer_dropped, 1);
    assert_eq!(stopped.stats.refused, 1);
    // The sockets are closed: both addresses can be bound again.
    for a in local {
        std::net::UdpSocket::bind(a).expect("the driver's socket is closed");
    }
}

#[tokio::test]
async fn dropping_the_handle_stops_the_task() {
    let (handle, mut events) = spawn(Ticker::new(None, Duration::from_secs(1)), loopback())
        .await
        .expect("bind");
    let local = handle.local_addrs()[0];
    let commander = handle.commander();
    drop(handle);
    // The task ends: the event channel closes and commands fail.
    assert_eq!(events.recv().await, None);
    assert_eq!(commander.stats().await, Err(DriverError::Closed));
    std::net::UdpSocket::bind(local).expect("the driver's socket is closed");
}

#[tokio::test]
async fn an_empty_bind_list_is_refused() {
    let r = spawn(
        Ticker::new(None, Duration::from_secs(1)),
        DriverConfig::new(vec![]),
    )
    .await;
    assert_eq!(
        r.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::InvalidInput)
    );
}
