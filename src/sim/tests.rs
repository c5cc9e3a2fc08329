//! The simulator's own tests, with a ping node.

use super::*;
use std::collections::VecDeque;

/// Sends `count` numbered pings to `peer`, one every 10 ms, and echoes what it receives.
struct Pinger {
    peer: SocketAddr,
    next: Option<Instant>,
    sent: u32,
    count: u32,
    out: VecDeque<Transmit>,
    got: Vec<(SocketAddr, Vec<u8>)>,
}

impl Pinger {
    fn new(peer: SocketAddr, count: u32, now: Instant) -> Pinger {
        Pinger {
            peer,
            next: (count > 0).then_some(now),
            sent: 0,
            count,
            out: VecDeque::new(),
            got: Vec::new(),
        }
    }
}

impl Endpoint for Pinger {
    type Event = Event;
    type Error = std::convert::Infallible;
    type Data = std::convert::Infallible;
    type Stats = u32;
    fn handle_datagram(
        &mut self,
        _now: Instant,
        from: SocketAddr,
        _to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Self::Error> {
        self.got.push((from, data.to_vec()));
        if data.first() == Some(&b'p') {
            let mut reply = data.to_vec();
            reply[0] = b'r';
            self.out.push_back(Transmit::to(from, reply));
        }
        Ok(())
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.next.is_some_and(|n| n <= now) {
            self.out.push_back(Transmit::to(
                self.peer,
                format!("p{}", self.sent).into_bytes(),
            ));
            self.sent += 1;
            self.next = (self.sent < self.count).then(|| now + Duration::from_millis(10));
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
    fn poll_event(&mut self) -> Option<Event> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
    fn stats(&self) -> u32 {
        self.sent
    }
}

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn run(seed: u64, link: LinkConfig) -> (Sim, NodeId, NodeId) {
    let t0 = Instant::now();
    let mut sim = Sim::new(seed, t0);
    sim.set_default_link(link);
    let x = sim.add_node(
        "x",
        &[a("10.0.0.1:9")],
        None,
        Box::new(Pinger::new(a("10.0.0.2:9"), 200, t0)),
    );
    let y = sim.add_node(
        "y",
        &[a("10.0.0.2:9")],
        None,
        Box::new(Pinger::new(a("10.0.0.1:9"), 0, t0)),
    );
    sim.run_for(Duration::from_secs(5));
    (sim, x, y)
}

#[test]
fn perfect_link_delivers_everything_in_order() {
    let (mut sim, x, y) = run(1, LinkConfig::default());
    let got: Vec<Vec<u8>> = sim
        .node_mut::<Pinger>(y)
        .got
        .iter()
        .map(|g| g.1.clone())
        .collect();
    let want: Vec<Vec<u8>> = (0..200).map(|i| format!("p{i}").into_bytes()).collect();
    assert_eq!(got, want);
    assert_eq!(sim.node_mut::<Pinger>(x).got.len(), 200);
    assert_eq!(sim.stats().delivered, 400);
    assert_eq!(sim.elapsed(), Duration::from_secs(5));
}

#[test]
fn impairments_happen_at_the_configured_rates() {
    let (mut sim, _x, y) = run(2, LinkConfig::lossy(0.2, 0.1, 0.2));
    let st = sim.stats();
    assert!(st.lost > 40 && st.lost < 130, "{st:?}");
    assert!(st.duplicated > 10, "{st:?}");
    assert!(st.reordered > 20, "{st:?}");
    let got: Vec<u32> = sim
        .node_mut::<Pinger>(y)
        .got
        .iter()
        .map(|g| String::from_utf8_lossy(&g.1[1..]).parse().unwrap())
        .collect();
    assert!(
        got.windows(2).any(|w| w[1] < w[0]),
        "something was reordered"
    );
    let distinct: BTreeSet<u32> = got.iter().copied().collect();
    assert!(got.len() > distinct.len(), "something was duplicated");
}

#[test]
fn same_seed_same_run_byte_for_byte() {
    let link = LinkConfig::lossy(0.1, 0.05, 0.05);
    let p1 = run(77, link).0.write_pcap(Vec::new()).unwrap();
    let p2 = run(77, link).0.write_pcap(Vec::new()).unwrap();
    let p3 = run(78, link).0.write_pcap(Vec::new()).unwrap();
    assert_eq!(p1, p2);
    assert_ne!(p1, p3);
}

#[test]
fn partitions_crashes_and_virtual_addresses() {
    let t0 = Instant::now();
    let mut sim = Sim::new(5, t0);
    let vip = a("10.9.9.9:434");
    let c = sim.add_node(
        "client",
        &[a("10.0.0.1:9")],
        None,
        Box::new(Pinger::new(vip, 10, t0)),
    );
    let s1 = sim.add_node(
        "s1",
        &[a("10.0.0.2:434"), vip],
        Some(MacAddr::local(2)),
        Box::new(Pinger::new(vip, 0, t0)),
    );
    let s2 = sim.add_node(
        "s2",
        &[a("10.0.0.3:434"), vip],
        Some(MacAddr::local(3)),
        Box::new(Pinger::new(vip, 0, t0)),
    );
    sim.run_for(Duration::from_millis(45));
    assert_eq!(
        sim.node_mut::<Pinger>(s1).got.len(),
        5,
        "first live owner of the VIP"
    );
    sim.crash(s1);
    sim.run_for(Duration::from_millis(30));
    assert_eq!(
        sim.node_mut::<Pinger>(s2).got.len(),
        3,
        "next owner takes over"
    );
    sim.set_route(vip.ip(), s1);
    sim.restart(s1, Box::new(Pinger::new(vip, 0, t0)));
    sim.partition(c, s1);
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.node_mut::<Pinger>(s1).got.len(), 0);
    assert!(sim.stats().partitioned >= 2);
    // Layer-2 forwarding: the MAC decides, whatever owns the IP.
    sim.heal_all();
    sim.node_mut::<Pinger>(s1).out.push_back(Transmit {
        dst: vip,
        src: Some(vip),
        link_dst: Some(MacAddr::local(3)),
        payload: Bytes::from_static(b"l2"),
    });
    sim.run_for(Duration::from_millis(5));
    let last = sim.node_mut::<Pinger>(s2).got.last().cloned().unwrap();
    assert_eq!(last, (vip, b"l2".to_vec()));
    let rec = sim
        .trace()
        .iter()
        .rev()
        .find(|r| r.payload.as_ref() == b"l2")
        .unwrap();
    assert_eq!((rec.src_node, rec.dst_node), (Some(s1), Some(s2)));
}

fn monitor(me: u32, peer: u32) -> Box<crate::health::Monitor> {
    use crate::health::{ClusterKey, Monitor, MonitorConfig, NodeId as Id, Role};
    let cfg = MonitorConfig::new(
        Id(me),
        Role::LNS,
        ClusterKey::new(b"simulation key 1"),
        vec![(Id(peer), a(&format!("10.0.0.{peer}:1701")))],
    );
    match Monitor::new(cfg, Instant::now()) {
        Ok(m) => Box::new(m),
        Err(e) => panic!("valid config: {e}"),
    }
}

#[test]
fn events_are_collected_per_node_without_a_downcast() {
    use crate::health::{HealthEvent, Monitor, NodeId as Id};
    let mut sim = Sim::new(9, Instant::now());
    let x = sim.add_node("x", &[a("10.0.0.1:1701")], None, monitor(1, 2));
    let y = sim.add_node("y", &[a("10.0.0.2:1701")], None, monitor(2, 1));
    sim.run_for(Duration::from_millis(100));
    assert_eq!(
        sim.poll_event(x),
        Some(Event::Health(HealthEvent::Up { node: Id(2) }))
    );
    assert_eq!(sim.poll_event(x), None);
    assert_eq!(
        sim.poll_event_of::<Monitor>(y),
        Some(HealthEvent::Up { node: Id(1) })
    );
    // A node's events of another kind stay queued.
    sim.crash(y);
    sim.run_for(Duration::from_secs(5));
    assert_eq!(sim.poll_event_of::<crate::l2tp::Lac>(x), None);
    let rest = sim.events(x);
    assert_eq!(
        rest,
        vec![
            Event::Health(HealthEvent::Suspect { node: Id(2) }),
            Event::Health(HealthEvent::Down { node: Id(2) }),
        ]
    );
    assert_eq!(sim.stats().events, 4);
}

#[test]
fn collected_events_are_bounded_and_drops_counted() {
    use crate::health::{HealthEvent, NodeId as Id};
    let mut sim = Sim::new(9, Instant::now());
    sim.set_event_limit(1);
    let x = sim.add_node("x", &[a("10.0.0.1:1701")], None, monitor(1, 2));
    let y = sim.add_node("y", &[a("10.0.0.2:1701")], None, monitor(2, 1));
    sim.run_for(Duration::from_millis(100));
    sim.crash(y);
    sim.run_for(Duration::from_secs(5));
    // Up, Suspect, Down were reported: the two oldest were dropped, counted.
    assert_eq!(
        sim.events(x),
        vec![Event::Health(HealthEvent::Down { node: Id(2) })]
    );
    assert_eq!(sim.stats().events_dropped, 2);
}

#[test]
fn refusals_are_counted_and_traced_with_the_typed_error() {
    use crate::health::HealthError;
    let mut sim = Sim::new(9, Instant::now());
    sim.add_node("x", &[a("10.0.0.1:1701")], None, monitor(1, 2));
    // A datagram that is no heartbeat, from outside: the monitor refuses it with its wire error.
    sim.inject(
        a("10.0.0.9:1701"),
        a("10.0.0.1:1701"),
        &b"not a heartbeat"[..],
    );
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.stats().refused, 1);
    let rec = sim
        .trace()
        .iter()
        .find(|r| r.payload.as_ref() == b"not a heartbeat")
        .expect("traced");
    assert_eq!(rec.fate, Fate::Delivered);
    assert!(
        matches!(
            rec.refusal,
            Some(crate::Error::Health(HealthError::Wire(_)))
        ),
        "{:?}",
        rec.refusal
    );
    // Heartbeats between two monitors are not refusals; the synchronous path reports its error.
    let y = sim.add_node("y", &[a("10.0.0.2:1701")], None, monitor(2, 1));
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.stats().refused, 1);
    let own = sim.deliver_now(y, a("10.0.0.9:1701"), a("10.0.0.2:1701"), b"\x00");
    assert!(matches!(own, Err(crate::Error::Health(_))), "{own:?}");
    assert_eq!(sim.stats().refused, 2);
}
