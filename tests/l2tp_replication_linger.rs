//! `lns::replicate` docs (records, output commit): a set-up's record leaves for the backup at
//! once (its ICRP waits for the backup's acknowledgement, RFC 2661 7.4.2 setting no time limit on
//! the answer; a backup that leaves it unacknowledged for a health Down interval is given up),
//! while the records of a call this LNS cleared linger up to
//! `ReplicationConfig::linger` and leave with the next set-up's batch at the latest. A call the
//! LAC cleared is different: its CDN's acknowledgement waits for the backup (output commit), so
//! its record leaves at once. Two members and a LAC in process, every datagram delivered, time
//! moved by hand.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, NodeId as HNode, NodeState, Role};
use telcp::l2tp::ReplicationConfig;
use telcp::l2tp::wire::{Message, MessageType};
use telcp::l2tp::{
    AcceptParams, AdmissionConfig, AdmissionId, Close, Config, Event, Lac, LacConfig, Lns,
    LnsConfig, LnsMembership, SessionRef,
};

fn addr(a: [u8; 4]) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::from(a).into(), 1701)
}

const LAC: [u8; 4] = [10, 0, 9, 1];

fn service(i: u8) -> SocketAddr {
    addr([10, 0, 1, i + 1])
}

fn management(i: u8) -> SocketAddr {
    addr([10, 0, 2, i + 1])
}

/// Member `i`, its session set-up timeout `setup`, calls admitted by the caller when
/// `admission`.
fn member(
    i: u8,
    linger: Duration,
    setup: Duration,
    admission: Option<AdmissionConfig>,
    now: Instant,
) -> Lns {
    let peers = vec![(HNode(u32::from(2 - i)), management(1 - i))];
    let m = LnsMembership::new(
        HNode(u32::from(i) + 1),
        Role::LNS,
        ClusterKey::new(b"test cluster key"),
        peers,
    );
    let mut repl = ReplicationConfig::default();
    repl.linger = linger;
    let cfg = LnsConfig {
        common: Config {
            hello_interval: Duration::from_secs(3600),
            seed: telcp::io::seed(20 + u64::from(i)),
            session_setup_timeout: setup,
            ..Default::default()
        },
        contact: false,
        membership: Some(m),
        replication: Some(repl),
        admission,
        ..Default::default()
    };
    Lns::new(cfg, now).unwrap()
}

struct Pool {
    now: Instant,
    lac: Lac,
    a: Lns,
    b: Lns,
    /// Replication datagrams member 0 sent to member 1.
    batches: usize,
    /// The sessions member 0 reported up, latest last.
    up: Vec<SessionRef>,
    /// Control datagrams the LAC sent.
    lac_sent: usize,
    /// Whether member 1's replication datagrams to member 0 (its acknowledgements) are kept in
    /// `withheld` rather than delivered (its heartbeats still are).
    withhold: bool,
    withheld: Vec<Vec<u8>>,
    /// Whether the LAC's ICCNs are lost on the way to member 0.
    lose_iccn: bool,
    /// The calls member 0 asked the caller to admit (`Event::IncomingCall`), latest last.
    incoming: Vec<AdmissionId>,
}

impl Pool {
    fn new(linger: Duration) -> Pool {
        Pool::waiting(linger, Config::default().session_setup_timeout)
    }

    /// [`Pool::new`], the members' session set-up timeout `setup`.
    fn waiting(linger: Duration, setup: Duration) -> Pool {
        Pool::with(linger, setup, None)
    }

    /// [`Pool::waiting`], member 0's calls admitted by the caller when `admission`.
    fn with(linger: Duration, setup: Duration, admission: Option<AdmissionConfig>) -> Pool {
        let now = Instant::now();
        let mut lc = LacConfig::new(service(0));
        lc.common.hello_interval = Duration::from_secs(3600);
        lc.common.seed = telcp::io::seed(9);
        let mut p = Pool {
            now,
            lac: Lac::new(lc, now).unwrap(),
            a: member(0, linger, setup, admission, now),
            b: member(1, linger, setup, None, now),
            batches: 0,
            up: Vec::new(),
            lac_sent: 0,
            withhold: false,
            withheld: Vec::new(),
            lose_iccn: false,
            incoming: Vec::new(),
        };
        let sees =
            |l: &Lns, n: u32| l.monitor().and_then(|m| m.state(HNode(n))) == Some(NodeState::Up);
        for _ in 0..10_000 {
            if sees(&p.a, 2) && sees(&p.b, 1) && p.a.backup() == Some(HNode(2)) {
                break;
            }
            let next = [p.a.poll_timeout(), p.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(p.now + Duration::from_millis(10));
            p.advance(next.max(p.now));
        }
        assert_eq!(p.a.backup(), Some(HNode(2)));
        p
    }

    fn advance(&mut self, to: Instant) {
        self.now = to;
        self.a.handle_timeout(to);
        self.b.handle_timeout(to);
        self.pump();
    }

    fn pump(&mut self) {
        let now = self.now;
        let lac = addr(LAC);
        loop {
            let mut moved = false;
            while let Some(t) = self.lac.poll_transmit() {
                self.lac_sent += 1;
                let iccn = Message::parse(&t.payload).is_ok_and(|m| match m {
                    Message::Control(c) => c.message_type() == Some(MessageType::ICCN),
                    _ => false,
                });
                if !(self.lose_iccn && iccn) {
                    let _ = self.a.handle_datagram(now, lac, service(0), &t.payload);
                }
                moved = true;
            }
            while let Some(t) = self.a.poll_transmit() {
                if t.dst == management(1) {
                    // The replication envelope's magic (`lns::replicate`).
                    self.batches +=
                        usize::from(t.payload.starts_with(b"\xfeL2") && t.payload[4] == 4);
                    let _ = self
                        .b
                        .handle_datagram(now, management(0), management(1), &t.payload);
                } else {
                    let _ = self.lac.handle_datagram(now, service(0), lac, &t.payload);
                }
                moved = true;
            }
            while let Some(t) = self.b.poll_transmit() {
                if self.withhold && t.payload.starts_with(b"\xfeL2") {
                    self.withheld.push(t.payload.to_vec());
                } else if t.dst == management(0) {
                    let _ = self
                        .a
                        .handle_datagram(now, management(1), management(0), &t.payload);
                }
                moved = true;
            }
            while let Some(e) = self.a.poll_event() {
                match e {
                    Event::SessionUp { session, .. } => self.up.push(session),
                    Event::IncomingCall { id, .. } => self.incoming.push(id),
                    _ => {}
                }
            }
            while self.b.poll_event().is_some() {}
            while self.lac.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
    }

    /// Moves time to `to` through every timer due before it (heartbeats, retransmissions).
    fn run_to(&mut self, to: Instant) {
        while self.now < to {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(to)
                .clamp(self.now, to);
            self.advance(next);
            if next == to {
                break;
            }
        }
    }
}

/// The session member 0 reported up last.
fn last_up(p: &Pool) -> SessionRef {
    *p.up.last().expect("member 0 reported a session up")
}

#[test]
fn calls_we_clear_linger_and_ride_with_the_next_setup() {
    let linger = Duration::from_millis(20);
    let mut p = Pool::new(linger);
    let first = p.lac.open_session(p.now).unwrap();
    p.pump();
    assert!(p.lac.session_of(first).is_some(), "the first call is up");
    assert_eq!(p.b.held_for(HNode(1)), (1, 1));
    // This LNS clears the call: its records wait (time stands still), the backup still holds it.
    let before = p.batches;
    let s = last_up(&p);
    p.a.close_session(p.now, s, Close::default()).unwrap();
    p.pump();
    assert_eq!(p.a.session_count(), 0);
    assert!(p.lac.session_of(first).is_none(), "the LAC took the CDN");
    assert_eq!(p.batches, before, "a cleared call's records left at once");
    assert_eq!(p.b.held_for(HNode(1)), (1, 1));
    // A set-up now: its ICRP is held for the backup, so its record leaves at once, with the
    // cleared call's in the same batch.
    let second = p.lac.open_session(p.now).unwrap();
    p.pump();
    assert!(p.lac.session_of(second).is_some(), "the second call is up");
    assert_eq!(
        p.batches,
        before + 1,
        "one batch for the clear and the set-up"
    );
    assert_eq!(p.b.held_for(HNode(1)), (1, 1));
    // Cleared again, nothing after it: the records leave when the linger is over, not before.
    let s = last_up(&p);
    p.a.close_session(p.now, s, Close::default()).unwrap();
    p.pump();
    assert_eq!(p.b.held_for(HNode(1)), (1, 1));
    assert!(p.a.poll_timeout().is_some_and(|t| t <= p.now + linger));
    p.advance(p.now + linger - Duration::from_millis(1));
    assert_eq!(
        p.b.held_for(HNode(1)),
        (1, 1),
        "left before the linger was over"
    );
    p.advance(p.now + Duration::from_millis(1));
    assert_eq!(
        p.b.held_for(HNode(1)),
        (1, 0),
        "the backup never heard of the clear"
    );
}

/// RFC 2661 5.8: the LAC retransmits its CDN until acknowledged. Our acknowledgement waits for
/// the backup to hold the call's end, so a crash before then leaves the CDN to be retransmitted
/// to the backup; so the record cannot linger, and the acknowledgement follows the batch's.
#[test]
fn a_call_the_lac_clears_leaves_at_once_and_is_acknowledged_after_the_backup() {
    let mut p = Pool::new(Duration::from_millis(20));
    let call = p.lac.open_session(p.now).unwrap();
    p.pump();
    assert_eq!(p.b.held_for(HNode(1)), (1, 1));
    let before = p.batches;
    p.lac.close_session(p.now, call, Close::default()).unwrap();
    p.pump();
    assert_eq!(
        p.batches,
        before + 1,
        "the clear's record waited for the linger"
    );
    assert_eq!(p.b.held_for(HNode(1)), (1, 0));
    // Acknowledged: no retransmission at the LAC's first timeout (1 s, RFC 2661 5.8) nor later.
    let sent = p.lac_sent;
    for _ in 0..4 {
        let to = p.now + Duration::from_millis(500);
        p.lac.handle_timeout(to);
        p.advance(to);
    }
    assert_eq!(
        p.lac_sent, sent,
        "the LAC sent its CDN again: never acknowledged"
    );
}

#[test]
fn without_linger_a_clear_leaves_at_once() {
    let mut p = Pool::new(Duration::ZERO);
    let call = p.lac.open_session(p.now).unwrap();
    p.pump();
    assert_eq!(p.b.held_for(HNode(1)), (1, 1));
    p.lac.close_session(p.now, call, Close::default()).unwrap();
    p.pump();
    assert_eq!(p.b.held_for(HNode(1)), (1, 0));
}

/// Output commit (`lns::replicate` docs): an ICRP is numbered in the control channel when it is
/// held for the backup. A call this LNS clears while its ICRP waits still has that ICRP sent at
/// its Ns once the backup acknowledged: the LAC takes control messages in order (RFC 2661 5.8),
/// so the CDN numbered after it reaches the LAC's call only then, and the Ns must be filled.
#[test]
fn a_held_icrp_goes_at_its_ns_though_its_call_went_meanwhile() {
    let mut p = Pool::new(Duration::from_millis(20));
    let first = p.lac.open_session(p.now).unwrap();
    p.pump();
    assert!(p.lac.session_of(first).is_some(), "the first call is up");
    let up = last_up(&p);
    let second = p.lac.open_session(p.now).unwrap();
    assert_eq!(p.lac.call_count(), 2);
    let (now, lac) = (p.now, addr(LAC));
    // The ICRQ to member 0 and its batch to member 1; member 1's acknowledgement kept back.
    let to_lac = |p: &mut Pool| {
        while let Some(t) = p.a.poll_transmit() {
            if t.dst == management(1) {
                let _ =
                    p.b.handle_datagram(now, management(0), management(1), &t.payload);
            } else {
                let _ = p.lac.handle_datagram(now, service(0), lac, &t.payload);
            }
        }
        while let Some(t) = p.lac.poll_transmit() {
            let _ = p.a.handle_datagram(now, lac, service(0), &t.payload);
        }
    };
    while let Some(t) = p.lac.poll_transmit() {
        let _ = p.a.handle_datagram(now, lac, service(0), &t.payload);
    }
    to_lac(&mut p);
    let acks: Vec<_> = std::iter::from_fn(|| p.b.poll_transmit())
        .filter(|t| t.dst == management(0) && t.payload.starts_with(b"\xfeL2"))
        .collect();
    assert_eq!(acks.len(), 1, "member 1 acknowledged the set-up's batch");
    let held = p.b.held_sessions_for(HNode(1));
    assert_eq!(held.len(), 2);
    let answered = *held.iter().find(|s| **s != up).unwrap();
    // Member 0 clears the answered call: its CDN follows the held ICRP, and waits at the LAC.
    p.a.close_session(now, answered, Close::default()).unwrap();
    to_lac(&mut p);
    to_lac(&mut p);
    assert_eq!(p.lac.call_count(), 2, "the CDN was taken before the ICRP");
    // The acknowledgement: the ICRP goes at its Ns, then the CDN is taken.
    for t in acks {
        let _ =
            p.a.handle_datagram(now, management(1), management(0), &t.payload);
    }
    p.pump();
    assert_eq!(p.lac.call_count(), 1, "the LAC never got the CDN in order");
    assert!(p.lac.session_of(second).is_none());
    assert!(
        p.lac.session_of(first).is_some(),
        "the first call is still up"
    );
}

/// Output commit (`lns::replicate` docs) for a burst: calls whose records share a batch have
/// their held ICRPs released together by the backup's one acknowledgement, and every one of them
/// leaves then (RFC 2661 7.4.2: the ICRP answers the ICRQ; nothing else would carry it here,
/// time standing still): all the calls are established at the LAC and up at the LNS, each held
/// by the backup, with fewer batches than calls.
#[test]
fn a_burst_of_calls_sharing_a_batch_all_connect_on_its_acknowledgement() {
    let mut p = Pool::new(Duration::from_millis(20));
    let calls: Vec<_> = (0..8).map(|_| p.lac.open_session(p.now).unwrap()).collect();
    p.pump();
    for c in &calls {
        assert!(p.lac.session_of(*c).is_some(), "call {c:?} not established");
    }
    assert_eq!(p.up.len(), calls.len(), "sessions up at the LNS");
    assert_eq!(p.b.held_for(HNode(1)), (1, calls.len()));
    assert!(
        p.batches < calls.len(),
        "{} batches for {} calls: no two calls shared a batch, no run was released",
        p.batches,
        calls.len()
    );
}

/// l2tp-7.4.2-lns-setup-from-icrp: the wait for a call's ICCN runs from its ICRP's release, not
/// from the ICRQ's acceptance (`lns::replicate::Released`). RFC 2661 7.4.2: the LNS answers an
/// ICRQ with ICRP and waits in
/// wait-connect for the ICCN, which the LAC sends on receiving the ICRP (7.4.1); the LAC's own
/// wait runs from its ICRQ's transmission (row l2tp-4.4.2-lac-setup-from-icrq), and an ICRP held
/// for the backup (output commit) has not been sent: time spent holding it is not the LAC's.
/// Here the backup's acknowledgement comes 3 s into a 60 s set-up timeout (before the Down
/// interval after which member 0 would give its backup up, `lns::replicate` docs, backup) and
/// the ICCN is lost: the call is still waiting past 60 s from its ICRQ, and is cleared 60 s
/// after its ICRP left (the wait stays bounded), not before.
#[test]
fn l2tp_7_4_2_lns_setup_from_icrp() {
    let setup = Duration::from_secs(60);
    let mut p = Pool::waiting(Duration::from_millis(20), setup);
    p.withhold = true;
    p.lose_iccn = true;
    let taken = p.now;
    let call = p.lac.open_session(p.now).unwrap();
    p.pump();
    assert_eq!(p.a.session_count(), 1, "the ICRQ was taken");
    assert!(p.lac.session_of(call).is_none(), "the ICRP is held");
    assert!(!p.withheld.is_empty(), "member 1 acknowledged");
    p.run_to(taken + Duration::from_secs(3));
    assert!(p.lac.session_of(call).is_none(), "the ICRP is still held");
    // The backup's acknowledgements arrive: the ICRP leaves, the LAC sends its ICCN (lost).
    p.withhold = false;
    let released = p.now;
    for d in std::mem::take(&mut p.withheld) {
        let _ = p.a.handle_datagram(p.now, management(1), management(0), &d);
    }
    p.pump();
    assert!(p.lac.session_of(call).is_some(), "the LAC took the ICRP");
    p.run_to(taken + setup + Duration::from_secs(1));
    assert_eq!(
        p.a.session_count(),
        1,
        "cleared at the set-up timeout from the ICRQ's acceptance"
    );
    p.run_to(released + setup - Duration::from_millis(1));
    assert_eq!(p.a.session_count(), 1, "cleared before its wait was over");
    p.run_to(released + setup + Duration::from_secs(1));
    assert_eq!(p.a.session_count(), 0, "never cleared: an unbounded wait");
}

/// `Lns::accept` with a backup (`lns::replicate` docs, output commit; RFC 2661 7.4.2: the ICRP
/// answers the ICRQ, with no time limit): the accepted call's record leaves for the backup at
/// once, in the call to `accept` itself, not at the member's next input or timer; its ICRP
/// waits for the backup's acknowledgement, then leaves and the call comes up.
#[test]
fn an_accepted_calls_record_leaves_within_accept() {
    let setup = Config::default().session_setup_timeout;
    let mut p = Pool::with(
        Duration::from_millis(20),
        setup,
        Some(AdmissionConfig::default()),
    );
    let call = p.lac.open_session(p.now).unwrap();
    p.pump();
    let id = *p.incoming.last().expect("member 0 asked to admit the call");
    // The tunnel's record lingers (time stands still); the call is not answered yet.
    assert_eq!(p.b.held_for(HNode(1)), (0, 0), "nothing replicated yet");
    assert!(p.lac.session_of(call).is_none());
    p.a.accept(p.now, id, AcceptParams::default()).unwrap();
    // Nothing else happens to member 0: what it sends now, `accept` made.
    let sent: Vec<_> = std::iter::from_fn(|| p.a.poll_transmit()).collect();
    let to_backup: Vec<_> = sent
        .iter()
        .filter(|t| t.dst == management(1) && t.payload.starts_with(b"\xfeL2"))
        .collect();
    assert_eq!(to_backup.len(), 1, "the call's record, at once");
    assert!(
        sent.iter().all(|t| t.dst == management(1)),
        "the ICRP waits for the backup"
    );
    let now = p.now;
    for t in &to_backup {
        let _ =
            p.b.handle_datagram(now, management(0), management(1), &t.payload);
    }
    assert_eq!(p.b.held_for(HNode(1)), (1, 1), "the backup holds the call");
    p.pump();
    assert!(p.lac.session_of(call).is_some(), "the call is up");
    // A second call, nothing lingering this time (the set-up lane): the same.
    let second = p.lac.open_session(p.now).unwrap();
    p.pump();
    let id = *p.incoming.last().unwrap();
    p.a.accept(p.now, id, AcceptParams::default()).unwrap();
    let sent: Vec<_> = std::iter::from_fn(|| p.a.poll_transmit()).collect();
    assert_eq!(sent.len(), 1, "the record alone, at once");
    assert_eq!(sent[0].dst, management(1));
    let _ =
        p.b.handle_datagram(now, management(0), management(1), &sent[0].payload);
    assert_eq!(p.b.held_for(HNode(1)), (1, 2));
    p.pump();
    assert!(p.lac.session_of(second).is_some(), "the second call is up");
}
