//! Virtual Home Agent: registrations per second through first HA -> second HA -> first HA -> FA
//! (layer 2, HMAC-MD5 on both sides), and binding-table memory per binding at 1M bindings.
//!
//! `cost_curve` prints the registration's CPU time with 10k, 100k and 1M mobile nodes registered
//! (`MIP_HA_MAX_BINDINGS` caps the largest, `MIP_HA_MIN_BINDINGS` the smallest), each also as a `table|` line for
//! `scripts/bench-table`.
//!
//! `MIP_HA_COUNT=N` is an instruction-count mode (for `valgrind --tool=callgrind
//! --toggle-collect='*count_*'`): see [`count_mode`].

#[path = "common/cpu.rs"]
mod cpu;

use cpu::cpu_time;
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use telcp::MacAddr;
use telcp::health::NodeId;
use telcp::mip::binding::{Binding, BindingTable, CareOf};
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::wire::replay::NtpTime;
use telcp::mip::wire::{Builder, Request};
use telcp::mip::{Datagram, ForwardMode, HomeAgent, HomeAgentConfig, Member, MnId, MobileNodeKey};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const WALL: Duration = Duration::from_secs(1_700_000_000);
const MNS: u32 = 1000;

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, i], 434))
}

fn sa(k: u32) -> SecurityAssociation {
    SecurityAssociation::new(
        0x1000 + k,
        AuthAlgorithm::HmacMd5,
        k.to_be_bytes().repeat(4),
    )
}

fn home(k: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a05_0000 + k)
}

/// A Home Agent knowing the keys of `mns` mobile nodes (room for as many bindings).
fn ha_n(i: u32, start: Instant, notices: bool, mns: u32) -> HomeAgent {
    let members = (1..=2)
        .map(|j| Member {
            node: NodeId(j),
            addr: addr(j as u8),
            mac: MacAddr::local(j),
            backups: vec![],
        })
        .collect();
    let mut c = HomeAgentConfig::new(
        NodeId(i),
        VIP,
        "10.0.0.0/8".parse().unwrap(),
        members,
        b"test cluster key",
    );
    c.seed = telcp::io::seed(0);
    c.mode = ForwardMode::Layer2;
    c.layer2_notices = notices;
    c.wall_clock = WALL;
    c.health.interval = Duration::from_secs(3600);
    c.health.misses_suspect = 100;
    c.health.misses_down = 200;
    c.max_bindings = c.max_bindings.max(mns as usize);
    for k in 0..mns {
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(home(k)),
            sa: sa(k),
        });
    }
    HomeAgent::new(c, start).unwrap()
}

/// Delivers every queued datagram between the two HAs (as frames on the shared link, with the
/// sender's MAC as link-layer source); returns the bytes that left for the FA.
fn exchange(now: Instant, h: &mut [HomeAgent; 2], fa: SocketAddr) -> usize {
    let mut to_fa = 0;
    loop {
        let mut moved = false;
        for i in 0..2 {
            while let Some(t) = h[i].poll_transmit() {
                moved = true;
                if t.dst == fa {
                    to_fa += t.payload.len();
                    continue;
                }
                let from = SocketAddr::from(([192, 0, 2, i as u8 + 1], 434));
                let j = match t.link_dst {
                    Some(m) => usize::from(m.0[5] == 2),
                    None => usize::from(t.dst == addr(2)),
                };
                let src_mac = Some(MacAddr::local(i as u32 + 1));
                let _ = h[j].handle_frame(now, src_mac, t.src.unwrap_or(from), t.dst, &t.payload);
            }
        }
        if !moved {
            return to_fa;
        }
    }
}

/// Two HAs where HA 1 forwards every registration to HA 2 (HA 2 is the least loaded: HA 1 is
/// made to look full), a clock, and the mobile nodes' keys.
struct Rig {
    h: [HomeAgent; 2],
    start: Instant,
    now: Instant,
    sas: Vec<SecurityAssociation>,
    k: u32,
    mns: u32,
}

const FA: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 434));

impl Rig {
    fn new(notices: bool) -> Rig {
        Rig::with_nodes(notices, MNS)
    }

    fn with_nodes(notices: bool, mns: u32) -> Rig {
        let start = Instant::now();
        let mut h = [ha_n(1, start, notices, mns), ha_n(2, start, notices, mns)];
        // Heartbeats: both Up.
        let mut now = start;
        for _ in 0..2 {
            for x in h.iter_mut() {
                x.handle_timeout(now);
            }
            exchange(now, &mut h, addr(9));
            now += Duration::from_millis(10);
        }
        Rig {
            h,
            start,
            now,
            sas: (0..mns).map(sa).collect(),
            k: 0,
            mns,
        }
    }

    /// The next mobile node's request, built (and authenticated) by the mobile node: not part of
    /// the cluster's work, so outside the measurement. Each is stamped 2 us after the last.
    fn next_request(&mut self) -> (Instant, Vec<u8>) {
        self.now += Duration::from_micros(2);
        self.k = (self.k + 1) % self.mns;
        let id = NtpTime::from_unix(WALL + self.now.duration_since(self.start)).0;
        let rrq = Builder::request(Request {
            lifetime: 1800,
            home_address: home(self.k),
            home_agent: VIP,
            care_of: Ipv4Addr::new(198, 51, 100, 1),
            identification: id,
            ..Request::default()
        })
        .mn_ha_auth(&self.sas[self.k as usize])
        .to_vec();
        (self.now, rrq)
    }
}

/// The frames on their way to each HA (source, destination, datagram): the harness's own
/// vectors, made once for a whole round and emptied after each delivery (not grown again and
/// again inside the measurement).
type Frames = [Vec<(SocketAddr, SocketAddr, telcp::Transmit)>; 2];

/// Delivers every queued datagram between the two HAs as [`exchange`] does, but each HA's
/// datagrams for the other in one [`HomeAgent::handle_batch`]; returns the bytes that left for
/// the FA.
fn exchange_batched(
    now: Instant,
    h: &mut [HomeAgent; 2],
    fa: SocketAddr,
    frames: &mut Frames,
) -> usize {
    let mut to_fa = 0;
    loop {
        let mut moved = false;
        for i in 0..2 {
            while let Some(t) = h[i].poll_transmit() {
                moved = true;
                if t.dst == fa {
                    to_fa += 1;
                    continue;
                }
                let from = SocketAddr::from(([192, 0, 2, i as u8 + 1], 434));
                let j = match t.link_dst {
                    Some(m) => usize::from(m.0[5] == 2),
                    None => usize::from(t.dst == addr(2)),
                };
                frames[j].push((t.src.unwrap_or(from), t.dst, t));
            }
            let src_mac = MacAddr::local(i as u32 + 1);
            for (j, f) in frames.iter_mut().enumerate() {
                if f.is_empty() {
                    continue;
                }
                let mut b: Vec<Datagram<'_>> = f
                    .iter()
                    .map(|(from, to, t)| {
                        Datagram::new(*from, *to, &t.payload).with_link_src(src_mac)
                    })
                    .collect();
                h[j].handle_batch(now, &mut b);
                drop(b);
                f.clear();
            }
        }
        if !moved {
            return to_fa;
        }
    }
}

/// A batch of registrations FA -> HA 1 -> HA 2 -> HA 1 -> FA, every hop batched; returns how
/// many replies were relayed to the FA.
fn register_batch(
    h: &mut [HomeAgent; 2],
    now: Instant,
    rrqs: &[(Instant, Vec<u8>)],
    frames: &mut Frames,
) -> usize {
    let to = SocketAddr::from((VIP, 434));
    let mut b: Vec<Datagram<'_>> = rrqs.iter().map(|(_, r)| Datagram::new(FA, to, r)).collect();
    h[0].handle_batch(now, &mut b);
    let n = exchange_batched(now, h, FA, frames);
    while h[0].poll_event().is_some() {}
    while h[1].poll_event().is_some() {}
    n
}

/// Registrations fed one by one ([`register`]) or [`BATCH`] at a time ([`register_batch`], each
/// batch at its last request's time); returns how many were relayed to the FA.
fn register_all(h: &mut [HomeAgent; 2], requests: &[(Instant, Vec<u8>)], batched: bool) -> u32 {
    let mut relayed = 0;
    if batched {
        let mut frames: Frames = [Vec::with_capacity(BATCH), Vec::with_capacity(BATCH)];
        for b in requests.chunks(BATCH) {
            if let Some((now, _)) = b.last() {
                relayed += register_batch(h, *now, b, &mut frames) as u32;
            }
        }
    } else {
        for (now, rrq) in requests {
            relayed += u32::from(register(h, *now, rrq) > 0);
        }
    }
    relayed
}

/// Requests per batch: the group `HomeAgent::handle_batch` authenticates at once,
/// [`telcp::io::md5x::GROUP`] (8; 16 where the build enables AVX2, as `md5x::ISA`, printed with
/// the figures, says).
const BATCH: usize = telcp::io::md5x::GROUP;

/// FA -> HA 1 -> HA 2 -> HA 1 -> FA; returns the bytes relayed to the FA.
fn register(h: &mut [HomeAgent; 2], now: Instant, rrq: &[u8]) -> usize {
    let _ = h[0].handle_datagram(now, FA, SocketAddr::from((VIP, 434)), rrq);
    let n = exchange(now, h, FA);
    while h[0].poll_event().is_some() {}
    while h[1].poll_event().is_some() {}
    n
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mip_ha");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for (name, notices) in [
        ("registration_fa_ha1_ha2_ha1_fa", false),
        ("registration_fa_ha1_ha2_ha1_fa_with_notices", true),
    ] {
        // MIP_HA_NO_NOTICES: only the first variant (for profiling).
        if notices && std::env::var_os("MIP_HA_NO_NOTICES").is_some() {
            continue;
        }
        let rig = std::cell::RefCell::new(Rig::new(notices));
        g.bench_function(name, |b| {
            // By reference: the request (the mobile node's) is built and freed outside the
            // measurement.
            b.iter_batched_ref(
                || rig.borrow_mut().next_request(),
                |(now, rrq)| assert!(register(&mut rig.borrow_mut().h, *now, rrq) > 0),
                BatchSize::SmallInput,
            )
        });
        let mut rig = rig.into_inner();
        // CPU time (not wall time: the machine may be shared) of 100k more registrations, built
        // beforehand.
        let n: u32 = std::env::var("MIP_HA_CPU_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        // One by one, then BATCH at a time (HomeAgent::handle_batch, multi-lane HMAC-MD5).
        let [one, four] = both_ways(&mut rig, n);
        let batched = format!(
            "batched by {BATCH} (HMAC-MD5 lanes: {})",
            telcp::io::md5x::ISA
        );
        for (how, us) in [("one by one", one), (batched.as_str(), four)] {
            println!(
                "mip_ha {name}, {how}: {us:.3} us CPU per registration ({:.0} registrations/s/core), \
                 best of 5 interleaved rounds",
                1e6 / us
            );
        }
        let s1 = rig.h[0].stats();
        println!(
            "mip_ha {name}: forwarded {} served-by-HA1 {} relayed {} (HA2 served {})",
            s1.forwarded,
            s1.served,
            s1.relayed,
            rig.h[1].stats().served
        );
    }
    g.finish();
}

/// The binding table's memory, measured first (before the other benches free memory the
/// allocator could hand back to it, which would hide part of the growth).
fn memory(_c: &mut Criterion) {
    if std::env::var_os("MIP_HA_SKIP_MEMORY").is_none() {
        memory_per_binding();
    }
}

/// CPU microseconds per registration one by one and batched by [`BATCH`]: the best of 5 interleaved
/// rounds (one by one, batched, one by one, ...) of `n / 5` registrations each, built beforehand.
fn both_ways(rig: &mut Rig, n: u32) -> [f64; 2] {
    let per_round = (n / 5).max(BATCH as u32);
    let mut best = [f64::MAX; 2];
    // MIP_HA_ONLY=one or =batched: only that way, in wall time (for profiling, e.g. under
    // callgrind with `--toggle-collect=*register_all*`); the other's figure is then infinite.
    let only = std::env::var("MIP_HA_ONLY").ok();
    for _ in 0..5 {
        for (b, batched) in [false, true].into_iter().enumerate() {
            if only.as_deref().is_some_and(|o| o != ["one", "batched"][b]) {
                continue;
            }
            let requests: Vec<_> = (0..per_round).map(|_| rig.next_request()).collect();
            let (took, relayed) = if only.is_some() {
                // Wall time: valgrind cannot run the CPU clock's vDSO call.
                let t = Instant::now();
                let r = register_all(&mut rig.h, &requests, batched);
                (t.elapsed(), r)
            } else {
                cpu_time(|| register_all(&mut rig.h, &requests, batched))
            };
            assert_eq!(relayed, per_round);
            best[b] = best[b].min(took.as_secs_f64() * 1e6 / f64::from(per_round));
        }
    }
    best
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn memory_per_binding() {
    const N: u32 = 1_000_000;
    let now = Instant::now();
    let before = rss_kib();
    let mut t = BindingTable::new(N as usize, 1);
    for i in 0..N {
        let care_of = std::iter::once(CareOf::new(
            Ipv4Addr::from(0xc633_0000 + i),
            Some(now + Duration::from_secs(u64::from(600 + i % 1200))),
        ))
        .collect();
        let mut b = Binding::new(
            Ipv4Addr::from(0x0a00_0000 + i),
            NodeId(1),
            NodeId(2),
            SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 434),
            u64::from(i),
        );
        b.care_of = care_of;
        t.insert(b).unwrap();
    }
    let after = rss_kib();
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "mip_ha: binding table with {} bindings: {} MiB RSS, {} bytes per binding (struct {} bytes)",
            t.len(),
            (a - b) / 1024,
            (a - b) * 1024 / u64::from(N),
            std::mem::size_of::<Binding>()
        );
        println!(
            "table| `mip_ha` | binding table memory at {} bindings (RSS growth) | {} B per binding \
             (struct {} B) | at most 128 B per binding |",
            count(N),
            (a - b) * 1024 / u64::from(N),
            std::mem::size_of::<Binding>()
        );
    }
}

/// Registration cost with 10k, 100k and 1M mobile nodes registered: every node registers once,
/// then 100k more registrations (re-registrations of bound nodes) are timed in CPU time, one by
/// one and batched by [`BATCH`] in interleaved rounds ([`both_ways`]).
fn cost_curve(_c: &mut Criterion) {
    let max: u32 = std::env::var("MIP_HA_MAX_BINDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // MIP_HA_MIN_BINDINGS: leave out the smaller sizes (for profiling one size).
    let min: u32 = std::env::var("MIP_HA_MIN_BINDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (mut cells, mut batched_cells) = (Vec::new(), Vec::new());
    for n in [10_000u32, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max && n >= min)
    {
        let mut rig = Rig::with_nodes(false, n);
        for _ in 0..n {
            let (now, rrq) = rig.next_request();
            register(&mut rig.h, now, &rrq);
        }
        let bound = rig.h[1].bindings().len();
        const M: u32 = 100_000;
        let [one, four] = both_ways(&mut rig, M);
        for (batched, us) in [(false, one), (true, four)] {
            let how = if batched {
                format!(
                    "batched by {BATCH} (HMAC-MD5 lanes: {})",
                    telcp::io::md5x::ISA
                )
            } else {
                "one by one".to_string()
            };
            println!(
                "mip_ha registration at {n} bindings, {how}: {us:.3} us CPU per registration \
                 ({:.0}/s/core; {bound} bindings on HA 2)",
                1e6 / us
            );
            let cell = format!("{} {us:.2} µs ({:.0}k/s)", count(n), 1e3 / us);
            if batched {
                batched_cells.push(cell);
            } else {
                cells.push(cell);
            }
        }
    }
    println!(
        "table| `mip_ha` | registration FA -> HA1 -> HA2 -> HA1 -> FA (4 HMACs), one by one, CPU \
         time at 10k / 100k / 1M bindings | {} | at most 2x from 10k to 1M |",
        cells.join(", ")
    );
    println!(
        "table| `mip_ha` | the same, batched by {BATCH} (`handle_batch`, {BATCH}-lane HMAC-MD5 on {}), \
         CPU time at 10k / 100k / 1M bindings | {} | 1 µs (1M/s/core); at most 2x from 10k to 1M |",
        telcp::io::md5x::ISA,
        batched_cells.join(", ")
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

/// Instruction-count mode (`MIP_HA_COUNT=N` in the environment, for `valgrind --tool=callgrind
/// --toggle-collect='*count_*'`, whose counts do not move with the machine's load):
/// `MIP_HA_BINDINGS` mobile nodes (default 10k) each registered once (one by one, not counted),
/// then `N` registrations batched by [`BATCH`] ([`count_batched`]) and `N` one by one
/// ([`count_one_by_one`]), each built beforehand; nothing else runs. `MIP_HA_COUNT_ONLY=batched`
/// or `one`: that way only. The inclusive count of a `count_*` function over `N` is the
/// instructions per registration of the whole FA -> HA1 -> HA2 -> HA1 -> FA exchange (both HAs,
/// events drained).
fn count_mode(n: u32) {
    let mns: u32 = std::env::var("MIP_HA_BINDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let only = std::env::var("MIP_HA_COUNT_ONLY").ok();
    let mut rig = Rig::with_nodes(false, mns);
    for _ in 0..mns {
        let (now, rrq) = rig.next_request();
        register(&mut rig.h, now, &rrq);
    }
    let bound = rig.h[1].bindings().len();
    if only.as_deref() != Some("one") {
        let requests: Vec<_> = (0..n).map(|_| rig.next_request()).collect();
        assert_eq!(count_batched(&mut rig.h, &requests), n);
    }
    if only.as_deref() != Some("batched") {
        let requests: Vec<_> = (0..n).map(|_| rig.next_request()).collect();
        assert_eq!(count_one_by_one(&mut rig.h, &requests), n);
    }
    println!(
        "mip_ha count mode: {n} registrations {}, {bound} bindings on HA 2",
        only.map_or("each way".to_string(), |w| format!("{w} only"))
    );
}

/// See [`count_mode`].
#[inline(never)]
fn count_batched(h: &mut [HomeAgent; 2], requests: &[(Instant, Vec<u8>)]) -> u32 {
    register_all(h, requests, true)
}

/// See [`count_mode`].
#[inline(never)]
fn count_one_by_one(h: &mut [HomeAgent; 2], requests: &[(Instant, Vec<u8>)]) -> u32 {
    register_all(h, requests, false)
}

criterion_group!(benches, memory, bench, cost_curve);

fn main() {
    if let Some(n) = std::env::var("MIP_HA_COUNT")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        count_mode(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
