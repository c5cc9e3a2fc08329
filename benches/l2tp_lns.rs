//! LNS rates and memory:
//! * redirect decisions per second (ICRQ with LoadBalanceCapable in, ICRP with RedirectTarget out,
//!   then the LAC's CDN that frees the record) with 10k tunnels open;
//! * full session set-ups per second LAC <-> LNS in process (ICRQ/ICRP/ICCN and the CDN);
//! * heap bytes per tunnel and per session, measured with a counting allocator and printed;
//! * replication (issue 15): session set-up (ICRQ/ICRP/ICCN from a real LAC) on a pool member with
//!   a backup member Up and replication on (the batches delivered to the backup and its acks back,
//!   inside the measurement) against the same two-member pool without replication, in bursts of
//!   16 set-ups (a loaded LNS) and isolated; the ratios of the whole set-up (no clock read
//!   inside a measured round) and of the LNS members' time alone (the LAC's and the backup's
//!   shares timed apart, in rounds of their own, with and without a backup), the replication
//!   bytes per session set up and the heap the backup holds per replicated session, printed;
//! * every call the LAC sets up carries a BRAS/PPPoE LAC's details ([`call_details`]: Calling
//!   Number a circuit id, Called Number, Bearer and Framing Types, Tx/Rx Connect Speeds), which
//!   the LNS keeps and replicates (issue 15); `L2TP_LNS_NO_DETAILS=1` sets calls up without
//!   (the LAC's defaults), the set-up of the figures before, to compare with;
//!   `L2TP_LNS_NO_REPLICATED_DETAILS=1` turns `ReplicationConfig::call_details` off on the
//!   replicating members (the details neither kept nor replicated);
//! * `redirect_cost_curve`: the redirect decision with 10k tunnels holding 10k, 100k and 1M
//!   established sessions (`L2TP_LNS_MAX_SESSIONS` caps the largest), printed per size and as a
//!   `table|` line for `scripts/bench-table`.
use criterion::{Criterion, criterion_group};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, NodeId as HNode, NodeState, Role};
use telcp::l2tp::call::{BearerType, FramingType};
use telcp::l2tp::pool::MemberState;
use telcp::l2tp::wire::avp::AvpValue;
use telcp::l2tp::wire::{Avp, ControlMessage, DEFAULT_ENTERPRISE, Message};
use telcp::l2tp::{
    CallDetails, CallRequest, Config, Event, Lac, LacConfig, Lns, LnsConfig, LnsMembership,
    ReplicationConfig,
};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Allocations made (calls to `alloc`; a `realloc` counts as one too).
static ALLOCS: AtomicIsize = AtomicIsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static A: Counting = Counting;

const LNS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 1701);

fn peer(i: u32) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::from(0x0b00_0000 + i).into(), 1701)
}

/// The details of every call the bench sets up (issue 15: the LNS keeps them and replicates
/// them): those of a BRAS/PPPoE LAC, a circuit id as Calling Number (RFC 2661 4.4.5, 6.6), a
/// Called Number, a digital bearer, synchronous framing and the line's speeds (6.8). With
/// `L2TP_LNS_NO_DETAILS` set in the environment, none (the LAC's defaults: Bearer Type 2 in
/// ICRQ, a Tx Connect Speed of 64000 and Framing Type 1 in ICCN): the set-up of the figures
/// before call details were replicated (session 46), to compare with.
fn call_details() -> &'static CallDetails {
    static D: std::sync::OnceLock<CallDetails> = std::sync::OnceLock::new();
    D.get_or_init(|| {
        if std::env::var_os("L2TP_LNS_NO_DETAILS").is_some() {
            return CallDetails::default();
        }
        CallDetails {
            calling_number: Some(b"bras1 eth 0/1/2:100.200".to_vec()),
            called_number: Some(b"broadband.isp.example".to_vec()),
            bearer_type: Some(BearerType(BearerType::DIGITAL)),
            framing_type: Some(FramingType(FramingType::SYNCHRONOUS)),
            tx_connect_speed: Some(100_000_000),
            rx_connect_speed: Some(20_000_000),
            ..CallDetails::default()
        }
    })
}

/// A call of [`call_details`].
fn call_request() -> CallRequest {
    CallRequest::default().details(call_details().clone())
}

/// One emulated LAC tunnel: (our id, LNS's id, next Ns, next Nr).
struct T {
    from: SocketAddr,
    lns_id: u16,
    ns: u16,
    nr: u16,
}

fn drain(lns: &mut Lns) -> Vec<Message<'static>> {
    let mut v = Vec::new();
    while let Some(t) = lns.poll_transmit() {
        if let Ok(m) = Message::parse(&t.payload) {
            v.push(m.into_owned());
        }
    }
    while lns.poll_event().is_some() {}
    v
}

fn send(
    lns: &mut Lns,
    now: Instant,
    from: SocketAddr,
    m: ControlMessage<'_>,
) -> Vec<Message<'static>> {
    let b = Message::Control(m).to_vec();
    let _ = lns.handle_datagram(now, from, LNS, &b);
    drain(lns)
}

/// An LNS with `n` established tunnels from emulated LACs.
fn lns_with_tunnels(n: u32, now: Instant) -> (Lns, Vec<T>) {
    let mut cfg = LnsConfig {
        common: Config {
            max_tunnels: 65535,
            max_pending_tunnels: 65535,
            max_sessions: 1 << 20,
            hello_interval: Duration::from_secs(3600),
            ..Default::default()
        },
        max_pending_redirects: 1 << 20,
        ..Default::default()
    };
    cfg.common.seed = telcp::io::seed(1);
    let mut lns = Lns::new(cfg, now).unwrap();
    let mut ts = Vec::new();
    for i in 0..n {
        let from = peer(i);
        let m = ControlMessage::sccrq((i % 65000 + 1) as u16, b"lac".as_slice(), 3)
            .with(Avp::mandatory(AvpValue::ReceiveWindowSize(1024)));
        let out = send(&mut lns, now, from, m);
        let lns_id = out
            .iter()
            .find_map(|m| match m {
                Message::Control(c) => c.assigned_tunnel_id(),
                _ => None,
            })
            .expect("SCCRP");
        let mut scccn = ControlMessage::scccn(lns_id);
        scccn.header.ns = 1;
        scccn.header.nr = 1;
        send(&mut lns, now, from, scccn);
        ts.push(T {
            from,
            lns_id,
            ns: 2,
            nr: 1,
        });
    }
    (lns, ts)
}

fn redirect_decisions(c: &mut Criterion) {
    let now = Instant::now();
    let (mut lns, mut ts) = lns_with_tunnels(10_000, now);
    lns.pool
        .update("10.0.1.1".parse().unwrap(), MemberState::Up, 0, 1 << 30, 0);
    lns.pool
        .update("10.0.1.2".parse().unwrap(), MemberState::Up, 0, 1 << 30, 0);
    lns.set_load(100);
    let mut k = 0usize;
    let mut g = c.benchmark_group("l2tp_lns");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    // Pre-encoded ICRQ (with LoadBalanceCapable) and CDN; per iteration only the tunnel id, Ns, Nr
    // and the session id are patched in place, so the loop measures the LNS.
    let icrq_bytes = Message::Control(ControlMessage::icrq(0, 7, 1).with(Avp::optional(
        AvpValue::LoadBalanceCapable {
            vendor: DEFAULT_ENTERPRISE,
        },
    )))
    .to_vec();
    let cdn_bytes = Message::Control(ControlMessage::cdn(
        0,
        0,
        7,
        telcp::l2tp::wire::ResultCode::new(telcp::l2tp::wire::ResultCodeValue(3)),
    ))
    .to_vec();
    let patch = |b: &mut Vec<u8>, tunnel: u16, session: u16, ns: u16, nr: u16| {
        b[4..6].copy_from_slice(&tunnel.to_be_bytes());
        b[6..8].copy_from_slice(&session.to_be_bytes());
        b[8..10].copy_from_slice(&ns.to_be_bytes());
        b[10..12].copy_from_slice(&nr.to_be_bytes());
    };
    let (mut icrq_buf, mut cdn_buf) = (icrq_bytes.clone(), cdn_bytes.clone());
    let mut redirected = 0u64;
    g.bench_function("redirect_decision_10k_tunnels", |b| {
        b.iter(|| {
            let t = &mut ts[k % 10_000];
            k += 1;
            patch(&mut icrq_buf, t.lns_id, 0, t.ns, t.nr);
            let _ = lns.handle_datagram(now, t.from, LNS, &icrq_buf);
            let mut sid = 0;
            while let Some(x) = lns.poll_transmit() {
                // ICRP: Message Type AVP at 12..20, Assigned Session ID value at 26..28.
                if x.payload.len() > 28 && x.payload[19] == 11 {
                    sid = u16::from_be_bytes([x.payload[26], x.payload[27]]);
                    redirected += 1;
                }
            }
            while lns.poll_event().is_some() {}
            // The LAC's CDN frees the record and acknowledges the ICRP.
            patch(
                &mut cdn_buf,
                t.lns_id,
                sid,
                t.ns.wrapping_add(1),
                t.nr.wrapping_add(1),
            );
            let _ = lns.handle_datagram(now, t.from, LNS, &cdn_buf);
            while lns.poll_transmit().is_some() {}
            t.ns = t.ns.wrapping_add(2);
            t.nr = t.nr.wrapping_add(1);
            sid
        })
    });
    // The timed decisions redirected (none is timed when a name filter leaves this one out).
    assert!(redirected > 0 || k == 0);
    assert_eq!(lns.pending_redirects(), 0);

    let lns_addr = LNS;
    let lac_addr: SocketAddr = "10.0.9.1:1701".parse().unwrap();
    let mut lc = LacConfig::new(lns_addr);
    lc.common.max_sessions = 1 << 20;
    lc.common.seed = telcp::io::seed(0);
    let mut lac = Lac::new(lc, now).unwrap();
    let mut lns2 = Lns::new(
        LnsConfig {
            common: Config {
                max_sessions: 1 << 20,
                seed: telcp::io::seed(0),
                ..Default::default()
            },
            ..Default::default()
        },
        now,
    )
    .unwrap();
    let pump = |lac: &mut Lac, lns: &mut Lns| loop {
        let mut moved = false;
        while let Some(t) = lac.poll_transmit() {
            let _ = lns.handle_datagram(now, lac_addr, lns_addr, &t.payload);
            moved = true;
        }
        while let Some(t) = lns.poll_transmit() {
            let _ = lac.handle_datagram(now, lns_addr, lac_addr, &t.payload);
            moved = true;
        }
        while lns.poll_event().is_some() {}
        if !moved {
            break;
        }
    };
    g.bench_function("session_setup_and_teardown", |b| {
        b.iter(|| {
            let call = lac.open_session(now).unwrap();
            pump(&mut lac, &mut lns2);
            let up = lac.session_of(call).is_some();
            lac.close_session(now, call, telcp::l2tp::Close::default())
                .unwrap();
            pump(&mut lac, &mut lns2);
            while lac.poll_event().is_some() {}
            up
        })
    });
    g.finish();

    memory(now);
}

/// Heap bytes per established tunnel and per established session (one per tunnel), 10k each,
/// printed.
fn memory(now: Instant) {
    let before = LIVE.load(Ordering::Relaxed);
    let (mut lns3, ts) = lns_with_tunnels(10_000, now);
    // The emulated LACs' own records (`ts`, a vector the bench keeps) are no part of the LNS.
    let lacs = (ts.capacity() * std::mem::size_of::<T>()) as isize;
    let after_tunnels = LIVE.load(Ordering::Relaxed) - lacs;
    let per_tunnel = (after_tunnels - before) as f64 / 10_000.0;
    let mut n_sessions = 0;
    for (i, t) in ts.iter().enumerate() {
        let mut icrq = ControlMessage::icrq(t.lns_id, (i % 60000 + 1) as u16, 1);
        call_details().emit(&mut icrq).unwrap();
        icrq.header.ns = t.ns;
        icrq.header.nr = t.nr;
        let out = send(&mut lns3, now, t.from, icrq);
        let sid = out.iter().find_map(|m| match m {
            Message::Control(c) => c.assigned_session_id(),
            _ => None,
        });
        let mut iccn = ControlMessage::iccn(t.lns_id, sid.unwrap_or(0), 64000, 1);
        call_details().emit(&mut iccn).unwrap();
        iccn.header.ns = t.ns.wrapping_add(1);
        iccn.header.nr = t.nr.wrapping_add(1);
        send(&mut lns3, now, t.from, iccn);
        n_sessions += 1;
    }
    let after_sessions = LIVE.load(Ordering::Relaxed) - lacs;
    let per_session = (after_sessions - after_tunnels) as f64 / f64::from(n_sessions);
    assert_eq!(lns3.session_count(), 10_000);
    println!(
        "l2tp_lns memory: {per_tunnel:.0} B per established tunnel, {per_session:.0} B per established session (10k each, heap bytes; {})",
        details_case()
    );
    println!(
        "table| `l2tp_lns` | memory per established tunnel / session (heap bytes, 10k each) | {per_tunnel:.0} B / {per_session:.0} B | at most 512 B / 128 B |"
    );
    let _ = Event::TunnelUp {
        tunnel: 0,
        peer: LNS,
        peer_tunnel: 0,
        local: None,
    };
}

/// Pool member `i`'s service address (the LAC talks to member 0's).
fn service(i: u8) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(10, 0, 1, i + 1).into(), 1701)
}

/// Pool member `i`'s management address (heartbeats and replication).
fn management(i: u8) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(10, 0, 2, i + 1).into(), 1701)
}

const LAC_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 9, 1)), 1701);

/// Member `i` of a two-member virtual LNS, replicating or not.
fn member(i: u8, replication: bool, now: Instant) -> Lns {
    let peers = vec![(HNode(u32::from(2 - i)), management(1 - i))];
    let m = LnsMembership::new(
        HNode(u32::from(i) + 1),
        Role::LNS,
        ClusterKey::new(b"pool cluster key"),
        peers,
    );
    let cfg = LnsConfig {
        common: Config {
            max_sessions: 1 << 20,
            max_sessions_per_tunnel: 60_000,
            hello_interval: Duration::from_secs(3600),
            seed: telcp::io::seed(10 + u64::from(i)),
            ..Default::default()
        },
        contact: false,
        membership: Some(m),
        // Heartbeats every minute of virtual time (a run of spaced set-ups spans under 30 s):
        // their MACs are not a set-up's cost, and the spacing would fire them in the figures.
        health: telcp::health::HealthConfig::default().with_interval(Duration::from_secs(60)),
        replication: replication.then(|| {
            let mut r = ReplicationConfig::default();
            // `L2TP_LNS_NO_REPLICATED_DETAILS=1`: the calls' details are neither kept nor
            // replicated (`ReplicationConfig::call_details` off).
            r.call_details = std::env::var_os("L2TP_LNS_NO_REPLICATED_DETAILS").is_none();
            r
        }),
        ..Default::default()
    };
    Lns::new(cfg, now).unwrap()
}

/// A LAC, member 0 (its LNS) and member 1 (its backup when replicating), every datagram delivered
/// in process; the replication bytes member 0 sends and the acks it gets back are counted.
struct Pool {
    now: Instant,
    lac: Lac,
    a: Lns,
    b: Lns,
    replicated: u64,
    acked: u64,
    /// Time spent in member 1's `handle_datagram` (its share of the set-ups, on its own CPU in a
    /// real pool), when [`Pool::split`].
    in_backup: Duration,
    /// Time spent in the LAC (`open_session` and `handle_datagram`: another box in a real
    /// network), when [`Pool::split`]; taken out of the LNS members' own CPU figures.
    in_lac: Duration,
    /// Whether member 1's and the LAC's shares are timed apart (two clock reads per call timed:
    /// a cost of the measurement, so the whole set-up's ratios are measured without them).
    split: bool,
    /// Whether the clock is read (not in the instruction-count mode: reading it is the
    /// measurement's cost, not the set-up's).
    timed: bool,
    /// Virtual time passing after a set-up, before its teardown (zero: back to back); beyond
    /// [`ReplicationConfig::linger`] the records that linger leave at the timer, inside the
    /// set-up's figures.
    spacing: Duration,
    /// Whether the members' calls go through [`counted`] (the set-ups' own, in
    /// [`Pool::setup`]; not the teardown's): the instruction-count mode reads the members' share
    /// from it alone.
    counting: bool,
}

/// Runs `f`, a call into an LNS member made by a set-up (`Pool::counting`): out of line, so that
/// `valgrind --tool=callgrind --toggle-collect='l2tp_lns::counted*'` counts the members'
/// instructions alone (their `handle_datagram`, `handle_timeout`, `poll_transmit` and
/// `poll_event`, and the drop of the datagrams they sent), neither the LAC's nor the bench's
/// ([`count_plain`] docs).
#[inline(never)]
fn counted<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// [`counted`] for the calls into member 1 (the backup when replicating): its share of the
/// members' instructions is this function's inclusive cost in the profile. Its body differs
/// from [`counted`]'s (the `black_box` marker): with the same body, the compiler merged an
/// instance of one with the other's for the same call on the other member (rustc's function
/// merging; `a.handle_timeout(now)` and `b.handle_timeout(now)` compile alike), and the
/// profile gave member 0's timers to member 1 (the totals were right, the split was not).
#[inline(never)]
fn counted_backup<R>(f: impl FnOnce() -> R) -> R {
    std::hint::black_box(1u8);
    f()
}

/// A call into member 1: through [`counted_backup`] while the pool is counting.
macro_rules! backup {
    ($pool:expr, $call:expr) => {
        if $pool.counting {
            counted_backup(|| $call)
        } else {
            $call
        }
    };
}

/// A call into a member: through [`counted`] while the pool is counting.
macro_rules! member {
    ($pool:expr, $call:expr) => {
        if $pool.counting {
            counted(|| $call)
        } else {
            $call
        }
    };
}

impl Pool {
    /// Heartbeats (virtual time) until both members see each other Up and, when replicating,
    /// member 0 has chosen member 1 as its backup; then one call sets up the LAC's tunnel.
    fn new(replication: bool) -> Pool {
        let now = Instant::now();
        let mut lc = LacConfig::new(service(0));
        lc.common.max_sessions = 1 << 20;
        lc.common.max_sessions_per_tunnel = 60_000;
        lc.common.hello_interval = Duration::from_secs(3600);
        lc.common.seed = telcp::io::seed(9);
        lc.max_calls = 1 << 20;
        let mut p = Pool {
            now,
            lac: Lac::new(lc, now).unwrap(),
            a: member(0, replication, now),
            b: member(1, replication, now),
            replicated: 0,
            acked: 0,
            in_backup: Duration::ZERO,
            in_lac: Duration::ZERO,
            split: false,
            timed: true,
            spacing: Duration::ZERO,
            counting: false,
        };
        let sees =
            |l: &Lns, n: u32| l.monitor().and_then(|m| m.state(HNode(n))) == Some(NodeState::Up);
        for _ in 0..100_000 {
            if sees(&p.a, 2) && sees(&p.b, 1) && (!replication || p.a.backup() == Some(HNode(2))) {
                break;
            }
            let next = [p.a.poll_timeout(), p.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(p.now + Duration::from_millis(10));
            p.now = next.max(p.now);
            p.a.handle_timeout(p.now);
            p.b.handle_timeout(p.now);
            p.pump();
        }
        assert!(sees(&p.a, 2) && sees(&p.b, 1), "the pool did not form");
        assert_eq!(p.a.backup().is_some(), replication);
        let call = p.lac.open_session(p.now).unwrap();
        p.pump();
        assert!(p.lac.session_of(call).is_some());
        p.lac
            .close_session(p.now, call, telcp::l2tp::Close::default())
            .unwrap();
        p.pump();
        p
    }

    /// Delivers every datagram until none moves (time stands still).
    fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            while let Some(t) = self.lac.poll_transmit() {
                let a = &mut self.a;
                let _ = member!(
                    self,
                    a.handle_datagram(now, LAC_ADDR, service(0), &t.payload)
                );
                moved = true;
            }
            while let Some(t) = member!(self, self.a.poll_transmit()) {
                if t.dst == management(1) {
                    if !telcp::health::is_heartbeat(&t.payload) {
                        self.replicated += t.payload.len() as u64;
                    }
                    let t0 = (self.timed && self.split).then(Instant::now);
                    let b = &mut self.b;
                    let _ = backup!(self, {
                        let r = b.handle_datagram(now, management(0), management(1), &t.payload);
                        drop(t);
                        r
                    });
                    if let Some(t0) = t0 {
                        self.in_backup += t0.elapsed();
                    }
                } else {
                    let t0 = (self.timed && self.split).then(Instant::now);
                    let _ = self
                        .lac
                        .handle_datagram(now, service(0), LAC_ADDR, &t.payload);
                    member!(self, drop(t));
                    if let Some(t0) = t0 {
                        self.in_lac += t0.elapsed();
                    }
                }
                moved = true;
            }
            while let Some(t) = backup!(self, self.b.poll_transmit()) {
                if t.dst == management(0) {
                    if !telcp::health::is_heartbeat(&t.payload) {
                        self.acked += t.payload.len() as u64;
                    }
                    let a = &mut self.a;
                    let _ = member!(self, {
                        let r = a.handle_datagram(now, management(1), management(0), &t.payload);
                        drop(t);
                        r
                    });
                }
                moved = true;
            }
            member!(self, while self.a.poll_event().is_some() {});
            backup!(self, while self.b.poll_event().is_some() {});
            while self.lac.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
    }

    /// `k` calls set up together (timed: ICRQs, ICRPs, ICCNs and the replication round trips),
    /// then torn down (not timed). `k = 1` is an isolated set-up; with more, the records of
    /// set-ups that complete while a replication batch is in flight share the next batch.
    ///
    /// With a [`Pool::spacing`], virtual time then moves on by it before the teardown and every
    /// timer due fires (timed and counted: with replication, the records that linger, the
    /// ICCNs' call details, leave there when the spacing is beyond the linger, and the backup
    /// applies them). Without, what lingers leaves with the teardown's records, which neither
    /// times nor counts (back to back: the figures leave it out).
    fn setup(&mut self, k: usize) -> Duration {
        let t0 = self.timed.then(Instant::now);
        let t_lac = (self.timed && self.split).then(Instant::now);
        let calls: Vec<_> = (0..k)
            .map(|_| self.lac.open_call(self.now, call_request()).unwrap())
            .collect();
        if let Some(t_lac) = t_lac {
            self.in_lac += t_lac.elapsed();
        }
        // The members' calls counted in the instruction-count mode (no clock read) only.
        self.counting = !self.timed;
        self.pump();
        let mut took = t0.map_or(Duration::ZERO, |t0| t0.elapsed());
        self.counting = false;
        if !self.spacing.is_zero() {
            self.counting = !self.timed;
            let t0 = self.timed.then(Instant::now);
            self.now += self.spacing;
            let t_lac = self.split.then(Instant::now);
            self.lac.handle_timeout(self.now);
            if let Some(t_lac) = t_lac {
                self.in_lac += t_lac.elapsed();
            }
            let (a, b, now) = (&mut self.a, &mut self.b, self.now);
            member!(self, a.handle_timeout(now));
            backup!(self, b.handle_timeout(now));
            self.pump();
            took += t0.map_or(Duration::ZERO, |t0| t0.elapsed());
            self.counting = false;
        }
        self.teardown(calls);
        took
    }

    /// The LAC clears `calls` (not timed, its replication bytes not counted); a function of its
    /// own so that an instruction count can leave it out (`L2TP_LNS_COUNT`: the inclusive count
    /// of `Pool::teardown` subtracted from [`count_plain`]'s or [`count_replicated`]'s gives the
    /// set-ups alone).
    #[inline(never)]
    fn teardown(&mut self, calls: Vec<telcp::l2tp::CallId>) {
        assert!(calls.iter().all(|c| self.lac.session_of(*c).is_some()));
        let (r, a, b, l) = (self.replicated, self.acked, self.in_backup, self.in_lac);
        for c in calls {
            self.lac
                .close_session(self.now, c, telcp::l2tp::Close::default())
                .unwrap();
        }
        self.pump();
        (self.replicated, self.acked, self.in_backup, self.in_lac) = (r, a, b, l);
    }
}

/// Which calls the figures are of ([`call_details`]).
fn details_case() -> &'static str {
    if call_details().is_empty() {
        "calls without details, L2TP_LNS_NO_DETAILS"
    } else {
        "calls with a BRAS's details"
    }
}

/// Heap bytes member 1 holds (dropped and counted) after member 0 set up `n` calls.
fn backup_heap(n: usize) -> isize {
    let mut p = Pool::new(true);
    for _ in 0..n {
        p.lac.open_call(p.now, call_request()).unwrap();
        p.pump();
    }
    assert_eq!(p.a.session_count(), n);
    let before = LIVE.load(Ordering::Relaxed);
    drop(p.b);
    before - LIVE.load(Ordering::Relaxed)
}

/// Virtual time after a set-up (a burst's, or an isolated one's) in the spaced figures, before
/// its teardown: beyond the default [`ReplicationConfig::linger`], so the records that linger
/// (the ICCNs' call details) leave and the backup applies them inside the figures, and a
/// teardown's records leave alone.
const SPACING: Duration = Duration::from_millis(25);

/// Set-ups per burst in the printed figures: a loaded LNS completes several set-ups while a
/// replication batch is in flight.
const BURST: usize = 16;

/// Median ns per set-up over `rounds` rounds of 1000 set-ups in bursts of `k`, alternating
/// without and with replication. The ratio's rounds ([`Split::plain`], [`Split::replicated`])
/// read no clock inside a round; the shares are timed apart in rounds of their own
/// ([`Pool::split`]): the LAC's time taken out of both ([`Split::lns_plain`],
/// [`Split::lns_replicated`]: what the LNS members spend), and the backup's too
/// ([`Split::member0`]).
fn per_setup(plain: &mut Pool, repl: &mut Pool, k: usize, rounds: usize) -> Split {
    let mut t = [(); 6].map(|_| Vec::new());
    for _ in 0..rounds {
        t[0].push((0..1000 / k).map(|_| plain.setup(k)).sum::<Duration>());
        t[1].push((0..1000 / k).map(|_| repl.setup(k)).sum::<Duration>());
        for (p, i) in [(&mut *plain, 2), (&mut *repl, 3)] {
            p.split = true;
            let (b0, l0) = (p.in_backup, p.in_lac);
            let all = (0..1000 / k).map(|_| p.setup(k)).sum::<Duration>();
            let (backup, lac) = (p.in_backup - b0, p.in_lac - l0);
            t[i].push(all.saturating_sub(lac));
            if i == 3 {
                t[4].push(all.saturating_sub(lac + backup));
                t[5].push(backup);
            }
            p.split = false;
        }
    }
    let [
        plain,
        replicated,
        lns_plain,
        lns_replicated,
        member0,
        backup,
    ] = t.map(|mut v| {
        v.sort();
        v[v.len() / 2].as_nanos() as f64 / (1000 / k * k) as f64
    });
    Split {
        plain,
        replicated,
        lns_plain,
        lns_replicated,
        member0,
        backup,
    }
}

/// [`per_setup`]'s figures, ns per set-up (medians of rounds).
struct Split {
    /// Without a backup: LAC and LNS.
    plain: f64,
    /// With one: LAC, member 0 and the backup.
    replicated: f64,
    /// Without a backup, the LAC's time taken out: the LNS alone.
    lns_plain: f64,
    /// With one, the LAC's time taken out: member 0 and the backup.
    lns_replicated: f64,
    /// With one, the LAC's and the backup's time taken out: member 0 alone.
    member0: f64,
    /// The backup's share.
    backup: f64,
}

fn replication(c: &mut Criterion) {
    let mut plain = Pool::new(false);
    let mut repl = Pool::new(true);
    let mut g = c.benchmark_group("l2tp_lns");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for (name, p) in [
        ("session_setup_no_backup", &mut plain),
        ("session_setup_replicated", &mut repl),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| p.setup(1)).sum())
        });
    }
    g.finish();

    // The printed ratios: rounds of 1000 set-ups, alternating, the median round of each; in
    // bursts of BURST (the target), then isolated.
    repl.replicated = 0;
    repl.acked = 0;
    let rounds = 25;
    (plain.spacing, repl.spacing) = (SPACING, SPACING);
    let burst = per_setup(&mut plain, &mut repl, BURST, rounds);
    (plain.spacing, repl.spacing) = (Duration::ZERO, Duration::ZERO);
    // Twice: the rounds of the ratio and those timing the shares apart.
    let n = (2 * rounds * (1000 / BURST) * BURST) as f64;
    let (bytes, acks) = (repl.replicated as f64 / n, repl.acked as f64 / n);
    assert_eq!(plain.replicated, 0);
    let back_to_back = per_setup(&mut plain, &mut repl, 1, rounds);
    (plain.spacing, repl.spacing) = (SPACING, SPACING);
    let spaced = per_setup(&mut plain, &mut repl, 1, rounds);
    (plain.spacing, repl.spacing) = (Duration::ZERO, Duration::ZERO);
    let cases = [
        (
            format!("bursts of {BURST} spaced {} ms", SPACING.as_millis()),
            &burst,
        ),
        ("isolated back to back".to_string(), &back_to_back),
        (
            format!("isolated spaced {} ms", SPACING.as_millis()),
            &spaced,
        ),
    ];
    for (case, s) in &cases {
        println!(
            "l2tp_lns replication, {case}: whole set-up (LAC, LNS, backup) {:.0} ns with, {:.0} without, ratio {:.2}; LNS members (the LAC's time taken out) {:.0} with (member 0 {:.0}, backup {:.0}), {:.0} without, ratio {:.2} (member 0 alone {:.2})",
            s.replicated,
            s.plain,
            s.replicated / s.plain,
            s.lns_replicated,
            s.member0,
            s.backup,
            s.lns_plain,
            s.lns_replicated / s.lns_plain,
            s.member0 / s.lns_plain,
        );
    }
    let row = |f: &dyn Fn(&Split) -> String| {
        cases
            .iter()
            .map(|(case, s)| format!("{case} {}", f(s)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    println!(
        "table| `l2tp_lns` | session set-up with replication to a backup vs without, wall time per set-up of the whole set-up (LAC, LNS and backup in process; `L2TP_LNS_COUNT` gives instruction counts) | {} | at most 1.25x |",
        row(&|s| format!(
            "{:.0} vs {:.0} ns ({:.2}x)",
            s.replicated,
            s.plain,
            s.replicated / s.plain
        ))
    );
    println!(
        "table| `l2tp_lns` | the same, the LNS members' time only (the LAC's taken out, timed apart in rounds of their own): member 0 and the backup together vs the LNS without a backup (member 0 alone) | {} | at most 1.25x |",
        row(&|s| format!(
            "{:.0} vs {:.0} ns ({:.2}x; member 0 alone {:.2}x)",
            s.lns_replicated,
            s.lns_plain,
            s.lns_replicated / s.lns_plain,
            s.member0 / s.lns_plain
        ))
    );
    let k = 10_000;
    let held = (backup_heap(k) - backup_heap(0)) as f64 / k as f64;
    println!(
        "bytes per replicated session: {bytes:.0} (replication datagrams per set-up in bursts of {BURST}, {acks:.0} more in acks back); {held:.0} B of backup heap per replicated session ({k}; {})",
        details_case()
    );
    println!(
        "table| `l2tp_lns` | bytes per replicated session | {bytes:.0} B of replication datagrams (+{acks:.0} B of acks back); {held:.0} B of backup heap | at most 256 B |",
    );
}

/// One redirect decision on `t` (ICRQ with LoadBalanceCapable in, ICRP with RedirectTarget
/// out, the LAC's CDN freeing the record), from the pre-encoded `icrq` and `cdn` patched in place;
/// returns whether the LNS redirected.
fn redirect_once(lns: &mut Lns, now: Instant, t: &mut T, icrq: &mut [u8], cdn: &mut [u8]) -> bool {
    let patch = |b: &mut [u8], tunnel: u16, session: u16, ns: u16, nr: u16| {
        b[4..6].copy_from_slice(&tunnel.to_be_bytes());
        b[6..8].copy_from_slice(&session.to_be_bytes());
        b[8..10].copy_from_slice(&ns.to_be_bytes());
        b[10..12].copy_from_slice(&nr.to_be_bytes());
    };
    patch(icrq, t.lns_id, 0, t.ns, t.nr);
    let _ = lns.handle_datagram(now, t.from, LNS, icrq);
    let mut sid = None;
    while let Some(x) = lns.poll_transmit() {
        // ICRP: Message Type AVP at 12..20, Assigned Session ID value at 26..28.
        if x.payload.len() > 28 && x.payload[19] == 11 {
            sid = Some(u16::from_be_bytes([x.payload[26], x.payload[27]]));
        }
    }
    while lns.poll_event().is_some() {}
    patch(
        cdn,
        t.lns_id,
        sid.unwrap_or(0),
        t.ns.wrapping_add(1),
        t.nr.wrapping_add(1),
    );
    let _ = lns.handle_datagram(now, t.from, LNS, cdn);
    while lns.poll_transmit().is_some() {}
    t.ns = t.ns.wrapping_add(2);
    t.nr = t.nr.wrapping_add(1);
    sid.is_some()
}

/// The redirect decision's cost with 10k tunnels and 10k, 100k and 1M established sessions
/// (1, 10 and 100 per tunnel): wall time of 100k decisions, best of 3 rounds.
fn redirect_cost_curve(_c: &mut Criterion) {
    let max: u32 = std::env::var("L2TP_LNS_MAX_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let now = Instant::now();
    let (mut icrq, mut cdn) = redirect_messages();
    let mut cells = Vec::new();
    for n in [10_000u32, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
    {
        let (mut lns, mut ts) = lns_with_tunnels(10_000, now);
        establish_sessions(&mut lns, &mut ts, n / 10_000, now);
        assert_eq!(lns.session_count(), n as usize);
        for member in ["10.0.1.1", "10.0.1.2"] {
            let member = member.parse().unwrap();
            lns.pool.update(member, MemberState::Up, 0, 1 << 30, 0);
        }
        lns.set_load(100);
        const M: usize = 100_000;
        let mut best = Duration::MAX;
        let mut k = 0;
        for _ in 0..3 {
            let t0 = Instant::now();
            for _ in 0..M {
                let len = ts.len();
                let t = &mut ts[k % len];
                k += 1;
                assert!(redirect_once(&mut lns, now, t, &mut icrq, &mut cdn));
            }
            best = best.min(t0.elapsed());
        }
        assert_eq!(lns.session_count(), n as usize);
        let us = best.as_secs_f64() * 1e6 / M as f64;
        println!(
            "l2tp_lns redirect decision with 10k tunnels and {n} sessions: {us:.2} us \
             ({:.0}/s)",
            1e6 / us
        );
        cells.push(format!("{} {us:.2} µs", count(n)));
    }
    println!(
        "table| `l2tp_lns` | redirect decision, 10k tunnels, 10k / 100k / 1M sessions | {} | at \
         most 2x from 10k to 1M |",
        cells.join(", ")
    );
}

/// 10000 as "10k", 1000000 as "1M".
fn count(n: u32) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Instruction-count mode (`L2TP_LNS_COUNT=K` in the environment, for `valgrind --tool=callgrind`,
/// whose counts do not move with the machine's load): 1008 set-ups in bursts of `K` without
/// replication ([`count_plain`]), then with ([`count_replicated`]); nothing else runs
/// (`L2TP_LNS_ONLY=plain` or `replicated`: that way only). After each set-up (each burst)
/// [`SPACING`] of virtual time passes before its teardown, timers fired, counted: what lingers
/// (the ICCNs' call details) is replicated and applied inside the count;
/// `L2TP_LNS_BACK_TO_BACK=1` leaves that out (no time passes, as before session 50).
///
/// The LNS members' share (the issue 15 target: member 0 and its backup against member 0
/// alone), the LAC's and the teardowns' left out: every call a set-up makes into a member goes
/// through [`counted`], so `L2TP_LNS_ONLY=plain L2TP_LNS_COUNT=K valgrind --tool=callgrind
/// --toggle-collect='l2tp_lns::counted*' $BENCH` collects those alone; its total over 1008 is
/// the members' instructions per set-up (and the same with `replicated`).
#[inline(never)]
fn count_plain(p: &mut Pool, k: usize) {
    for _ in 0..1008 / k {
        p.setup(k);
    }
}

/// See [`count_plain`].
#[inline(never)]
fn count_replicated(p: &mut Pool, k: usize) {
    for _ in 0..1008 / k {
        p.setup(k);
    }
}

/// Redirect instruction-count mode (`L2TP_LNS_REDIRECT_COUNT=N`, for `valgrind --tool=callgrind
/// --toggle-collect=*count_redirects*`): 10k tunnels holding `L2TP_LNS_PER_TUNNEL` established
/// sessions each (default 1), then `N` redirect decisions in [`count_redirects`]; nothing else
/// runs.
fn redirect_count_mode(n: usize) {
    let per_tunnel: u32 = std::env::var("L2TP_LNS_PER_TUNNEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let now = Instant::now();
    let (mut lns, mut ts) = lns_with_tunnels(10_000, now);
    establish_sessions(&mut lns, &mut ts, per_tunnel, now);
    for member in ["10.0.1.1", "10.0.1.2"] {
        let member = member.parse().unwrap();
        lns.pool.update(member, MemberState::Up, 0, 1 << 30, 0);
    }
    lns.set_load(100);
    let allocs = ALLOCS.load(Ordering::Relaxed);
    count_redirects(&mut lns, now, &mut ts, n);
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs;
    println!(
        "l2tp_lns redirect count mode: {n} decisions, 10k tunnels, {} sessions, {:.2} allocations per decision",
        lns.session_count(),
        allocs as f64 / n.max(1) as f64
    );
}

/// The pre-encoded ICRQ (with LoadBalanceCapable) and CDN [`redirect_once`] patches.
fn redirect_messages() -> (Vec<u8>, Vec<u8>) {
    let lbc = AvpValue::LoadBalanceCapable {
        vendor: DEFAULT_ENTERPRISE,
    };
    let icrq = Message::Control(ControlMessage::icrq(0, 7, 1).with(Avp::optional(lbc))).to_vec();
    let result = telcp::l2tp::wire::ResultCode::new(telcp::l2tp::wire::ResultCodeValue(3));
    let cdn = Message::Control(ControlMessage::cdn(0, 0, 7, result)).to_vec();
    (icrq, cdn)
}

/// See [`redirect_count_mode`].
#[inline(never)]
fn count_redirects(lns: &mut Lns, now: Instant, ts: &mut [T], n: usize) {
    let (mut icrq, mut cdn) = redirect_messages();
    let len = ts.len();
    for k in 0..n {
        assert!(redirect_once(
            lns,
            now,
            &mut ts[k % len],
            &mut icrq,
            &mut cdn
        ));
    }
}

/// `per_tunnel` established sessions (ICRQ, ICRP, ICCN) on each of `ts`.
fn establish_sessions(lns: &mut Lns, ts: &mut [T], per_tunnel: u32, now: Instant) {
    for t in ts.iter_mut() {
        for j in 0..per_tunnel {
            let mut m = ControlMessage::icrq(t.lns_id, (1000 + j) as u16, j);
            (m.header.ns, m.header.nr) = (t.ns, t.nr);
            let out = send(lns, now, t.from, m);
            let sid = out.iter().find_map(|m| match m {
                Message::Control(c) => c.assigned_session_id(),
                _ => None,
            });
            let mut m = ControlMessage::iccn(t.lns_id, sid.unwrap_or(0), 64000, 1);
            (m.header.ns, m.header.nr) = (t.ns.wrapping_add(1), t.nr.wrapping_add(1));
            send(lns, now, t.from, m);
            t.ns = t.ns.wrapping_add(2);
            t.nr = t.nr.wrapping_add(1);
        }
    }
}

criterion_group!(
    benches,
    redirect_decisions,
    replication,
    redirect_cost_curve
);

fn main() {
    if std::env::var_os("L2TP_LNS_MEMORY").is_some() {
        // Memory only (`L2TP_LNS_MEMORY=1`): the per-tunnel and per-session figures, and the
        // sizes of the records behind them.
        println!(
            "l2tp_lns sizes: Tunnel {} B (its Channel {} B, Sessions {} B), Session {} B",
            std::mem::size_of::<telcp::l2tp::tunnel::Tunnel>(),
            std::mem::size_of::<telcp::l2tp::channel::Channel>(),
            std::mem::size_of::<telcp::l2tp::session::Sessions>(),
            std::mem::size_of::<telcp::l2tp::session::Session>(),
        );
        memory(Instant::now());
        // The backup's heap per replicated session (as the full run prints it).
        let k = 10_000;
        let held = (backup_heap(k) - backup_heap(0)) as f64 / k as f64;
        println!(
            "l2tp_lns memory: {held:.0} B of backup heap per replicated session ({k}; {})",
            details_case()
        );
        return;
    }
    if let Some(n) = std::env::var("L2TP_LNS_REDIRECT_COUNT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        redirect_count_mode(n);
        return;
    }
    if let Some(k) = std::env::var("L2TP_LNS_COUNT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let (mut plain, mut repl) = (Pool::new(false), Pool::new(true));
        (plain.timed, repl.timed) = (false, false);
        (repl.replicated, repl.acked) = (0, 0);
        let spaced = std::env::var_os("L2TP_LNS_BACK_TO_BACK").is_none();
        if spaced {
            (plain.spacing, repl.spacing) = (SPACING, SPACING);
        }
        // `L2TP_LNS_ONLY=plain|replicated`: one way only (so a profile of the whole run, every
        // function's own count, is of that way's set-ups alone).
        let only = std::env::var("L2TP_LNS_ONLY").ok();
        if only.as_deref() != Some("replicated") {
            count_plain(&mut plain, k);
        }
        if only.as_deref() != Some("plain") {
            count_replicated(&mut repl, k);
        }
        println!(
            "l2tp_lns count mode: 1008 set-ups in bursts of {k}, {}{}; {}; {:.1} B of replication datagrams per replicated set-up (+{:.1} B of acks back)",
            only.map_or("each way".to_string(), |w| format!("{w} only")),
            if spaced { ", spaced" } else { ", back to back" },
            details_case(),
            repl.replicated as f64 / 1008.0,
            repl.acked as f64 / 1008.0,
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
