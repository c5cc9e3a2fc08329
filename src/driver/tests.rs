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
    let (handle, mut events, _) = spawn(ticker, loopback()).await.expect("bind");
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
    let (handle, _events, _) = spawn(Ticker::new(None, Duration::from_secs(1)), loopback())
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
    let (handle, events, _) = spawn(ticker, config).await.expect("bind");
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
    let (handle, _events, _) = spawn(Ticker::new(None, Duration::from_secs(1)), config)
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

/// An endpoint whose `handle_timeout` leaves its deadline in the past (a timer never re-armed
/// nor cleared) still gets its datagrams: the task does not spin on the stale deadline, deaf
/// (a virtual LNS member back after a cut was seen so: no datagram received in 10 s, 91 508
/// timeouts), but tries it again a millisecond later, after the datagrams.
#[tokio::test]
async fn a_deadline_the_endpoint_never_moves_does_not_starve_its_datagrams() {
    let start = std::time::Instant::now();
    let stuck = Ticker::new(Some(now()), Duration::ZERO);
    let (handle, _events, _) = spawn(stuck, loopback()).await.expect("bind");
    let local = handle.local_addrs()[0];
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // The deadline fires (tokio's timer rounds it up to its next millisecond), and stays due.
    tokio::time::sleep(Duration::from_millis(20)).await;
    for i in 0..3u8 {
        peer.send_to(&[7, i], local).await.expect("send");
        assert_eq!(answer(&peer).await, Some((vec![7, i], local)), "answer {i}");
    }
    let stopped = handle.shutdown().await.expect("clean stop");
    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    assert_eq!(stopped.stats.received, 3);
    // Still handled, but once a millisecond at most, not in a busy loop.
    let timeouts = stopped.stats.timeouts;
    assert!(
        (1..=ms + 2).contains(&timeouts),
        "{timeouts} timeouts in {ms} ms"
    );
}

/// An address bound while the task runs ([`Handle::bind`], as a backup binds the address of a
/// failed member it took over): a datagram to it reaches the endpoint with `to` = that address,
/// and the answer, whose `src` names it, leaves from it (before the bind, a transmit from it is
/// dropped as from an unbound source). An address in use is refused with the OS's error kind
/// and changes nothing; shutdown closes the adopted socket too.
#[tokio::test]
async fn an_address_bound_while_running_receives_and_sends() {
    let (handle, _events, _) = spawn(Ticker::new(None, Duration::from_secs(1)), loopback())
        .await
        .expect("bind");
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // Where the later address will be: free now, reserved by a socket we close right away.
    let later = {
        let s = std::net::UdpSocket::bind("127.0.0.3:0").expect("bind");
        s.local_addr().expect("address")
    };
    // Before the bind, an answer from an address the driver does not hold is dropped (byte 1
    // makes the Ticker answer from one).
    peer.send_to(&[1], handle.local_addrs()[0])
        .await
        .expect("send");
    assert_eq!(answer(&peer).await, None);
    assert_eq!(handle.bind(later).await, Ok(later));
    peer.send_to(&[9, 9], later).await.expect("send");
    assert_eq!(
        answer(&peer).await,
        Some((vec![9, 9], later)),
        "answered from it"
    );
    // In use (by the driver itself now): refused, nothing changes.
    assert_eq!(
        handle.bind(later).await,
        Err(DriverError::Bind(std::io::ErrorKind::AddrInUse))
    );
    peer.send_to(&[8], later).await.expect("send");
    assert_eq!(answer(&peer).await, Some((vec![8], later)));
    assert_eq!(handle.local_addrs().len(), 1, "the spawn-time addresses");
    let stopped = handle.shutdown().await.expect("clean stop");
    assert_eq!(stopped.stats.received, 3);
    assert_eq!(stopped.stats.sent, 2);
    assert_eq!(stopped.stats.unbound_source, 1);
    std::net::UdpSocket::bind(later).expect("the adopted socket is closed");
}

/// An address bound while running and released again ([`Handle::unbind`], as a taker releases
/// a member's address it no longer serves a tunnel on): from then on a datagram to it reaches
/// nothing (the OS has no socket there, so another process may bind it), and a transmit whose
/// `src` names it is dropped as from an unbound source. A second unbind, an address never bound
/// and a spawn-time address are refused with `NotBound`, and change nothing: the spawn-time
/// socket still answers, and the released address can be bound again.
#[tokio::test]
async fn an_address_bound_while_running_is_released_by_unbind() {
    let config = DriverConfig::new(vec!["127.0.0.1:0".parse().expect("address")]);
    let (handle, _events, _) = spawn(Ticker::new(None, Duration::from_secs(1)), config)
        .await
        .expect("bind");
    let own = handle.local_addrs()[0];
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let later = handle
        .bind("127.0.0.4:0".parse().expect("address"))
        .await
        .expect("bound");
    peer.send_to(&[5], later).await.expect("send");
    assert_eq!(
        answer(&peer).await,
        Some((vec![5], later)),
        "bound: answers"
    );
    assert_eq!(handle.unbind(later).await, Ok(()));
    // Released: nothing receives there (the driver counts no datagram), nothing answers.
    let _ = peer.send_to(&[6], later).await;
    assert_eq!(answer(&peer).await, None, "released: no answer");
    let stats = handle.driver_stats().await.expect("running");
    assert_eq!(stats.received, 1, "{stats:?}");
    // A transmit from the released address (the Ticker answers from `to`: here the spawn-time
    // address, so make it name the released one) is dropped as from an unbound source.
    handle
        .call(move |t, _| {
            let mut out = Transmit::to(own, vec![4]);
            out.src = Some(later);
            t.out.push_back(out);
        })
        .await
        .expect("running");
    let stats = handle.driver_stats().await.expect("running");
    assert_eq!((stats.sent, stats.unbound_source), (1, 1), "{stats:?}");
    // Refused, nothing changes: released already, never bound, bound at spawn.
    let never: SocketAddr = "127.0.0.5:9".parse().expect("address");
    for a in [later, never, own] {
        assert_eq!(handle.unbind(a).await, Err(DriverError::NotBound(a)));
    }
    peer.send_to(&[3], own).await.expect("send");
    assert_eq!(answer(&peer).await, Some((vec![3], own)), "spawn-time kept");
    // The OS holds nothing there: bound again (here, then by anyone after the shutdown).
    assert_eq!(handle.bind(later).await, Ok(later));
    peer.send_to(&[7], later).await.expect("send");
    assert_eq!(answer(&peer).await, Some((vec![7], later)), "bound again");
    let stopped = handle.shutdown().await.expect("clean stop");
    assert_eq!(stopped.stats.received, 3);
    std::net::UdpSocket::bind(later).expect("closed at shutdown");
}

#[tokio::test]
async fn dropping_the_handle_stops_the_task() {
    let (handle, mut events, _) = spawn(Ticker::new(None, Duration::from_secs(1)), loopback())
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

/// An LCP Configure-Request and its Configure-Ack (RFC 1661 section 5.1: code 1 and 2,
/// identifier 7, length 4, no options), with the 0xff 0x03 address and control fields.
const LCP_REQUEST: [u8; 8] = [0xff, 0x03, 0xc0, 0x21, 0x01, 0x07, 0x00, 0x04];
const LCP_ACK: [u8; 8] = [0xff, 0x03, 0xc0, 0x21, 0x02, 0x07, 0x00, 0x04];

/// Receives from `rx` within 5 s (real time: the sockets are real).
async fn within<T>(rx: &mut mpsc::Receiver<T>) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .ok()
        .flatten()
}

/// Waits up to 5 s for an L2TP event that `want` accepts.
async fn l2tp_event<T>(
    events: &mut mpsc::Receiver<crate::l2tp::Event>,
    mut want: impl FnMut(&crate::l2tp::Event) -> Option<T>,
) -> Option<T> {
    loop {
        let e = within(events).await?;
        if let Some(t) = want(&e) {
            return Some(t);
        }
    }
}

/// An LNS and a LAC, each on a driver, with the LAC's call up.
struct Pair {
    lns: Handle<crate::l2tp::Lns>,
    lns_events: mpsc::Receiver<crate::l2tp::Event>,
    lns_data: DataReceiver<crate::l2tp::Lns>,
    lac: Handle<crate::l2tp::Lac>,
    lac_data: DataReceiver<crate::l2tp::Lac>,
    call: crate::l2tp::CallId,
}

/// An LNS driven on `lns_bind` (RNG seed `seed`) and a LAC driven on 127.0.0.2 (seed `seed - 1`)
/// that opens a call to it; returns once the LAC reports the call's session up (RFC 2661
/// section 5.1: tunnel and session establishment).
async fn pair(seed: u64, lns_bind: DriverConfig) -> Pair {
    use crate::l2tp::{self, Event, Lac, LacConfig, Lns, LnsConfig};
    let common = |seed| l2tp::Config {
        seed: crate::io::seed(seed),
        ..Default::default()
    };
    let lns = Lns::new(
        LnsConfig {
            common: common(seed),
            ..Default::default()
        },
        now(),
    )
    .expect("LNS config");
    let (lns, lns_events, lns_data) = spawn(lns, lns_bind).await.expect("bind");
    let mut lac_config = LacConfig::new(lns.local_addrs()[0]);
    lac_config.common = common(seed - 1);
    let lac = Lac::new(lac_config, now()).expect("LAC config");
    let bind = DriverConfig::new(vec!["127.0.0.2:0".parse().expect("address")]);
    let (lac, mut lac_events, lac_data) = spawn(lac, bind).await.expect("bind");
    let call = lac
        .call(|lac, now| lac.open_session(now))
        .await
        .expect("running")
        .expect("a call");
    let up = l2tp_event(&mut lac_events, |e| match e {
        Event::SessionUp { call: Some(c), .. } => Some(*c),
        _ => None,
    })
    .await;
    assert_eq!(up, Some(call), "the LAC's session is up");
    Pair {
        lns,
        lns_events,
        lns_data,
        lac,
        lac_data,
        call,
    }
}

/// RFC 2661 section 5.3 (Forwarding PPP Frames): "PPP frames from the remote system are
/// received at the LAC, [...] encapsulated in L2TP, and forwarded over the appropriate tunnel.
/// The LNS receives the L2TP packet, and processes the encapsulated PPP frame as if it were
/// received on a local PPP interface." Under the driver, with no hook: a frame the LAC's user
/// hands in ([`Handle::send_data`] on the call) reaches the LNS's user unchanged on the data
/// channel, named by its session; the answer handed in on that session reaches the LAC's user,
/// named by its call. A frame to a session that does not exist is refused and counted.
#[tokio::test]
async fn ppp_frames_cross_an_lns_and_a_lac_through_the_data_channels() {
    use crate::l2tp::{Event, SessionRef};
    let Pair {
        lns,
        mut lns_events,
        mut lns_data,
        lac,
        mut lac_data,
        call,
        ..
    } = pair(2, loopback()).await;
    let session = l2tp_event(&mut lns_events, |e| match e {
        Event::SessionUp { session, .. } => Some(*session),
        _ => None,
    })
    .await
    .expect("the LNS's session is up");

    // LAC -> LNS.
    lac.send_data(call, LCP_REQUEST.to_vec())
        .await
        .expect("running");
    let at_lns = within(&mut lns_data).await.expect("the frame at the LNS");
    assert_eq!(&at_lns.frame[..], &LCP_REQUEST[..], "handed up unchanged");
    assert_eq!(at_lns.session, session);
    // LNS -> LAC, answered on the session the frame named.
    lns.send_data(at_lns.session, LCP_ACK)
        .await
        .expect("running");
    let at_lac = within(&mut lac_data).await.expect("the frame at the LAC");
    assert_eq!(&at_lac.frame[..], &LCP_ACK[..], "handed up unchanged");
    assert_eq!(at_lac.call, Some(call));

    // A session the LNS does not have: refused, nothing sent.
    let none = SessionRef {
        tunnel: session.tunnel,
        session: session.session.wrapping_add(1000),
    };
    lns.send_data(none, LCP_ACK).await.expect("running");
    // Commands run in order: the stats read follows the refused frame.
    let lns_stats = lns.driver_stats().await.expect("running");
    let lac_stats = lac.driver_stats().await.expect("running");
    assert_eq!(
        (
            lns_stats.data_delivered,
            lns_stats.data_sent,
            lns_stats.data_refused
        ),
        (1, 1, 1),
        "{lns_stats:?}"
    );
    assert_eq!(
        (
            lac_stats.data_delivered,
            lac_stats.data_sent,
            lac_stats.data_refused
        ),
        (1, 1, 0),
        "{lac_stats:?}"
    );
    assert_eq!((lns_stats.data_dropped, lac_stats.data_dropped), (0, 0));
    assert!(lac_data.try_recv().is_err() && lns_data.try_recv().is_err());
    let _ = lac.shutdown().await;
    let _ = lns.shutdown().await;
}

/// A data channel whose user does not read it holds `data_queue` frames; the driver drops and
/// counts the rest, as it does events.
#[tokio::test]
async fn a_full_data_channel_drops_and_counts() {
    let mut config = loopback();
    config.data_queue = 2;
    let Pair {
        lns,
        lns_data,
        lac,
        call,
        ..
    } = pair(4, config).await;
    for _ in 0..5 {
        lac.send_data(call, LCP_REQUEST).await.expect("running");
    }
    // Five frames reach the LNS (loopback does not lose them); its user reads none.
    let mut stats = DriverStats::default();
    for _ in 0..50 {
        stats = lns.driver_stats().await.expect("running");
        if stats.data_delivered + stats.data_dropped == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        (stats.data_delivered, stats.data_dropped),
        (2, 3),
        "{stats:?}"
    );
    drop(lns_data);
    let _ = lac.shutdown().await;
    let _ = lns.shutdown().await;
}
