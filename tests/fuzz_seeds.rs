//! Seed corpora for the cargo-fuzz targets (issue 12: "the fuzz targets get these inputs as seed
//! corpora"; issue 18 item 5), and their replay under `cargo test`.
//!
//! `fuzz/seeds/TARGET/` holds one input per file for each target in `fuzz/fuzz_targets/`, of two
//! kinds:
//!
//! * the known-answer inputs written by [`write_seed_corpora`] from the vectors the wire tests
//!   check (xl2tpd captures in `tests/vectors/l2tp`, scapy-built Mobile IPv4 and GTP vectors in
//!   `tests/vectors/mip` and `tests/vectors/steering`, sgsnemu captures), raw for the parser
//!   targets and wrapped in each harness's operation script for the state-machine targets;
//! * inputs other engineers commit by hand: crash inputs found by fuzzing (regression seeds).
//!
//! Rebuild the generated files (never deletes a file, overwrites only its own names) with
//! `cargo test --all-features --test fuzz_seeds -- --ignored`.
//!
//! [`every_committed_seed_runs_through_its_harness`] (not ignored) runs every committed file
//! through its `telcp::harness` function, so `cargo test` replays the whole corpus and a crash
//! input committed there is a regression test with no further code.
//! [`committed_seeds_match_the_generator`] checks the committed generated files are what the
//! generator writes today.

mod common;

use common::hex;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use telcp::harness;
use telcp::health::{ClusterKey, Heartbeat, Load, NodeId, Role};
use telcp::l2tp::{Config, Event, Lac, Lns, LnsConfig};
use telcp::mip::cluster::{Body, ClusterMessage};
use telcp::steering::fabric::{FabricMessage, SessionProtocol, SessionRecord};
use telcp::steering::gtp::Imsi;
use telcp::steering::{VidLayout, VirtualId};

/// A fuzz target: its name (the `fuzz/fuzz_targets/NAME.rs` binary) and its harness function.
type Harness = fn(Instant, &[u8]);

/// Every cargo-fuzz target and the harness its body calls (`fuzz/fuzz_targets/*.rs`).
fn targets() -> Vec<(&'static str, Harness)> {
    vec![
        ("gtp_message", |_, d| harness::steering::gtp_message(d)),
        ("gtpv2_message", |_, d| harness::gtpv2::gtpv2_message(d)),
        ("health_monitor", harness::health::monitor),
        ("heartbeat", |_, d| harness::health::heartbeat(d)),
        ("l2tp_lac", harness::l2tp::lac),
        ("l2tp_lns", harness::l2tp::lns),
        ("l2tp_message", |_, d| harness::l2tp::message(d)),
        ("l2tp_replica_record", |_, d| {
            harness::l2tp::replica_record(d)
        }),
        ("mip_foreign_agent", harness::mip::foreign_agent),
        ("mip_home_agent", harness::mip::home_agent),
        ("mip_mobile_node", harness::mip::mobile_node),
        ("mip_message", |_, d| harness::mip::message(d)),
        ("pfcp_message", |_, d| harness::steering::pfcp_message(d)),
        ("replica_frame", |_, d| harness::replica::frame(d)),
        ("steering_line", harness::steering::steering_line),
        ("steering_processor", harness::steering::steering_processor),
        ("steering_switch", harness::steering::steering_switch),
    ]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seeds_dir() -> PathBuf {
    root().join("fuzz/seeds")
}

/// The one place this file sets a seed: the peer endpoints the L2TP conversations are recorded
/// against (the endpoints under test are the harnesses' own, with their own fixed seeds).
fn common(seed: u64) -> Config {
    Config {
        seed: telcp::io::seed(seed),
        ..Config::default()
    }
}

fn l2tp_vectors() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("tests/vectors/l2tp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

fn mip_vectors() -> Vec<(String, Vec<u8>)> {
    std::fs::read_to_string(root().join("tests/vectors/mip/vectors.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, h)| (n.to_string(), hex(h)))
        .collect()
}

/// The `.hex` vectors directly in `tests/vectors/DIR`, sorted by name.
fn hex_vectors(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("tests/vectors").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, hex(&std::fs::read_to_string(&p).unwrap()))
        })
        .collect();
    v.sort();
    v
}

fn gtp(name: &str) -> Vec<u8> {
    hex_vectors("steering")
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1
}

/// A length-prefixed chunk of a script: the harnesses take lengths as one byte.
fn len8(b: &[u8]) -> u8 {
    u8::try_from(b.len()).unwrap_or_else(|_| panic!("{} bytes do not fit a script chunk", b.len()))
}

/// The generated seed files: target name -> (file name -> bytes).
type Corpora = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

fn add(c: &mut Corpora, target: &'static str, name: impl Into<String>, bytes: Vec<u8>) {
    let old = c.entry(target).or_default().insert(name.into(), bytes);
    assert!(
        old.is_none(),
        "two generated seeds of {target} share a name"
    );
}

// Parser targets: the file is the raw message. ------------------------------------------------

fn parser_seeds(c: &mut Corpora) {
    for (n, v) in l2tp_vectors() {
        add(c, "l2tp_message", format!("xl2tpd_{n}.bin"), v);
    }
    {
        use telcp::l2tp::wire::{ControlMessage, Message};
        let built = [
            ("built_hello.bin", ControlMessage::hello(7)),
            ("built_zlb.bin", ControlMessage::zlb(7, 3, 4)),
            ("built_icrp.bin", ControlMessage::icrp(7, 9, 11)),
            ("built_occn.bin", ControlMessage::occn(7, 9, 64000, 1)),
            ("built_sli.bin", ControlMessage::sli(7, 9, 0, u32::MAX)),
        ];
        for (n, m) in built {
            add(c, "l2tp_message", n, Message::Control(m).to_vec());
        }
    }
    // RFC 4951's recovery SCCRQ and SCCRP, FSQ and FSR (the L2TPv2 forms of AVPs 77 and 79,
    // 5.2 and 5.4), as tests/vectors/l2tp/make_rfc4951.py builds them.
    for (n, h) in std::fs::read_to_string(root().join("tests/vectors/l2tp/rfc4951.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
    {
        add(c, "l2tp_message", format!("rfc4951_{n}.bin"), hex(h));
    }
    for (n, v) in mip_vectors() {
        add(c, "mip_message", format!("{n}.bin"), v);
    }
    for (n, v) in hex_vectors("steering") {
        add(c, "gtp_message", format!("{n}.bin"), v);
    }
    for n in [
        "create_session_request",
        "create_session_response_piggybacked",
        "echo_request",
    ] {
        add(
            c,
            "gtpv2_message",
            format!("{n}.bin"),
            common::vector("steering/gtpv2", n),
        );
    }
    harness::replica::seeds(|n, v| add(c, "replica_frame", n, v));
    harness::l2tp::replica_record_seeds(|n, v| add(c, "l2tp_replica_record", n, v));
    for (n, v) in hex_vectors("steering/pfcp") {
        add(c, "pfcp_message", format!("scapy_{n}.bin"), v);
    }
    // Heartbeats under the harness's key ("fuzz cluster key", src/harness/health.rs).
    let key = ClusterKey::new(b"fuzz cluster key");
    let mut with_addresses = Heartbeat {
        node: NodeId(2),
        role: Role::HOME_AGENT,
        incarnation: 3,
        sequence: 77,
        load: Load::new(40, 200),
        addresses: Default::default(),
    };
    with_addresses
        .addresses
        .push(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    with_addresses
        .addresses
        .push(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST));
    let beats = [
        ("default.bin", Heartbeat::default()),
        ("home_agent_two_addresses.bin", with_addresses),
        (
            "contact_lns_full.bin",
            Heartbeat {
                node: NodeId(9),
                role: Role::CONTACT_LNS,
                incarnation: u32::MAX,
                sequence: u64::MAX,
                load: Load::new(200, 200),
                addresses: Default::default(),
            },
        ),
    ];
    for (n, hb) in beats {
        add(c, "heartbeat", n, hb.to_bytes(&key).to_vec());
    }
}

// ---------------------------------------------------------------------------------------------
// L2TP: conversations of a real peer with the harness's own endpoint, recorded as scripts.

const LNS_ADDR: &str = "10.0.0.1:1701";
const LAC_ADDR: &str = "10.0.9.1:1701";
const OTHER_LNS: &str = "10.0.1.1:1701";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An endpoint the L2TP harnesses drive: what the harness drains after every operation.
trait Driven: telcp::Node {
    fn drain(&mut self, events: &mut Vec<Event>);
}

impl Driven for Lns {
    fn drain(&mut self, events: &mut Vec<Event>) {
        events.extend(std::iter::from_fn(|| self.poll_event()));
        while self.poll_data().is_some() {}
    }
}

impl Driven for Lac {
    fn drain(&mut self, events: &mut Vec<Event>) {
        events.extend(std::iter::from_fn(|| self.poll_event()));
        while self.poll_data().is_some() {}
    }
}

/// A harness's own endpoint (`ep`, at `me`) talking to real peers over a lossless link, every
/// input it gets written down as the harness's operation script: a datagram from a peer becomes
/// a raw-datagram op (op byte from `op_for`, even kind, length, bytes), a time step `[2, k]`
/// (k × 250 ms), a command its own bytes. Replaying the script in the harness (same endpoint, same
/// seed, same relative times) gives the endpoint the same inputs in the same order.
struct World<T, P> {
    ep: T,
    me: SocketAddr,
    now: Instant,
    script: Vec<u8>,
    events: Vec<Event>,
    outbox: Vec<telcp::io::Transmit>,
    peers: Vec<(SocketAddr, P)>,
    op_for: fn(SocketAddr) -> u8,
}

impl<T: Driven, P: telcp::Node> World<T, P> {
    /// `first_bit` is the low bit the harness reads from the script's first byte: an empty
    /// datagram (op 1) when set, a zero time step (op 2) when not.
    fn new(
        ep: T,
        me: SocketAddr,
        start: Instant,
        first_bit: bool,
        op_for: fn(SocketAddr) -> u8,
    ) -> Self {
        let mut w = World {
            ep,
            me,
            now: start,
            script: Vec::new(),
            events: Vec::new(),
            outbox: Vec::new(),
            peers: Vec::new(),
            op_for,
        };
        if first_bit {
            // The harness's source of op 1: the LAC at the LNS harness, the contact LNS at the LAC's.
            let from = if me == sa(LNS_ADDR) {
                LAC_ADDR
            } else {
                LNS_ADDR
            };
            w.script.extend_from_slice(&[1, 0, 0]);
            let _ = w.ep.handle_datagram(start, sa(from), w.me, &[]);
            w.after();
        } else {
            w.step(0);
        }
        w
    }

    fn after(&mut self) {
        while let Some(t) = self.ep.poll_transmit() {
            self.outbox.push(t);
        }
        self.ep.drain(&mut self.events);
    }

    fn feed(&mut self, from: SocketAddr, payload: &[u8]) {
        self.script
            .extend_from_slice(&[(self.op_for)(from), 0, len8(payload)]);
        self.script.extend_from_slice(payload);
        let _ = self.ep.handle_datagram(self.now, from, self.me, payload);
        self.after();
    }

    /// Delivers datagrams both ways until nothing moves.
    fn settle(&mut self) {
        for _ in 0..64 {
            let mut moved = false;
            for t in std::mem::take(&mut self.outbox) {
                if let Some((_, p)) = self.peers.iter_mut().find(|(a, _)| *a == t.dst) {
                    moved = true;
                    let _ =
                        p.handle_datagram(self.now, t.src.unwrap_or(self.me), t.dst, &t.payload);
                }
            }
            let mut inbound = Vec::new();
            for (a, p) in &mut self.peers {
                while let Some(t) = p.poll_transmit() {
                    if t.dst == self.me {
                        inbound.push((t.src.unwrap_or(*a), t.payload));
                    }
                }
            }
            for (from, payload) in inbound {
                moved = true;
                self.feed(from, &payload);
            }
            if !moved {
                return;
            }
        }
        panic!("the conversation does not settle");
    }

    fn step(&mut self, k: u8) {
        self.script.extend_from_slice(&[2, k]);
        self.now += Duration::from_millis(u64::from(k) * 250);
        self.ep.handle_timeout(self.now);
        self.after();
        for (_, p) in &mut self.peers {
            p.handle_timeout(self.now);
        }
        self.settle();
    }

    fn steps(&mut self, n: usize, k: u8) {
        for _ in 0..n {
            self.step(k);
        }
    }

    /// A command of the harness (its script bytes) applied to the endpoint.
    fn command(&mut self, bytes: &[u8], f: impl FnOnce(&mut T, Instant)) {
        self.script.extend_from_slice(bytes);
        f(&mut self.ep, self.now);
        self.after();
        self.settle();
    }

    /// Something a peer does (not part of the script).
    fn peer(&mut self, i: usize, f: impl FnOnce(&mut P, Instant)) {
        f(&mut self.peers[i].1, self.now);
        self.settle();
    }
}

fn count(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

fn session_up(e: &Event) -> bool {
    matches!(e, Event::SessionUp { .. })
}

/// `l2tp_lns` scripts: a real LAC (this file's) against the harness's contact LNS.
fn lns_seeds(c: &mut Corpora) {
    use telcp::l2tp::{Lac, LacConfig};
    let lac = |start| {
        let mut cfg = LacConfig::new(sa(LNS_ADDR));
        cfg.common = common(1);
        Lac::new(cfg, start).unwrap()
    };
    for standard in [false, true] {
        // RFC 2661 5.1/5.2: SCCRQ-SCCRP-SCCCN, ICRQ-ICRP-ICCN, data, CDN, then idle teardown.
        let start = Instant::now();
        let ep = harness::l2tp::lns_endpoint(start, standard).unwrap();
        let mut w: World<Lns, Lac> = World::new(ep, sa(LNS_ADDR), start, standard, |_| 0);
        w.peers.push((sa(LAC_ADDR), lac(start)));
        let mut call = None;
        w.peer(0, |l, now| call = l.open_session(now).ok());
        w.steps(8, 1);
        let call = call.unwrap();
        w.peer(0, |l, _| {
            l.send_ppp(call, b"\xff\x03\xc0\x21\x01\x01\x00\x04")
                .unwrap()
        });
        w.steps(2, 1);
        w.peer(0, |l, now| {
            l.close_session(now, call, telcp::l2tp::Close::default())
                .unwrap()
        });
        w.steps(30, 4);
        assert_eq!(count(&w.events, session_up), 1, "{:?}", w.events);
        let name = if standard {
            "session_standard_redirect_mode"
        } else {
            "session"
        };
        add(c, "l2tp_lns", format!("lac_{name}.bin"), w.script);

        // The contact LNS loaded (set_load 250 %) redirects the call to the Up pool member.
        let ep = harness::l2tp::lns_endpoint(start, standard).unwrap();
        let mut w: World<Lns, Lac> = World::new(ep, sa(LNS_ADDR), start, standard, |_| 0);
        w.peers.push((sa(LAC_ADDR), lac(start)));
        w.command(&[3, 0, 250], |l, _| l.set_load(250));
        w.peer(0, |l, now| {
            l.open_session(now).unwrap();
        });
        w.steps(12, 2);
        let redirects = count(&w.events, |e| matches!(e, Event::RedirectIssued { .. }));
        assert!(redirects > 0, "{:?}", w.events);
        let name = if standard {
            "redirect_standard"
        } else {
            "redirect_private"
        };
        add(c, "l2tp_lns", format!("lac_{name}.bin"), w.script);
    }
}

/// `l2tp_lac` scripts: the harness's LAC against real LNSes (this file's) at the contact
/// address and at the pool member 10.0.1.1.
fn lac_seeds(c: &mut Corpora) {
    use telcp::l2tp::pool::MemberState;
    let op_for = |from: SocketAddr| if from == sa(LNS_ADDR) { 0 } else { 4 };
    let lns = |start, seed| {
        Lns::new(
            LnsConfig {
                common: common(seed),
                ..LnsConfig::default()
            },
            start,
        )
        .unwrap()
    };
    for (redirect, tunnel_level) in [(false, false), (true, false), (true, true)] {
        let start = Instant::now();
        let ep = harness::l2tp::lac_endpoint(start, tunnel_level).unwrap();
        let mut w: World<telcp::l2tp::Lac, Lns> =
            World::new(ep, sa(LAC_ADDR), start, tunnel_level, op_for);
        let mut contact = lns(start, 2);
        if redirect {
            contact
                .pool
                .update(IpAddr::from([10, 0, 1, 1]), MemberState::Up, 0, 10, 0);
            contact.set_load(250);
        }
        w.peers.push((sa(LNS_ADDR), contact));
        w.peers.push((sa(OTHER_LNS), lns(start, 3)));
        let mut call = None;
        w.command(&[3, 0, 0], |l, now| call = l.open_session(now).ok());
        w.steps(8, 1);
        let call = call.unwrap();
        assert!(call.0 < 8, "the harness names calls 0..8");
        let c8 = call.0 as u8;
        w.command(&[3, c8, 2], |l, _| {
            let _ = l.send_ppp(call, b"frame");
        });
        w.steps(2, 1);
        w.command(&[3, c8, 1], |l, now| {
            let _ = l.close_session(now, call, telcp::l2tp::Close::default());
        });
        w.steps(30, 4);
        assert_eq!(count(&w.events, session_up), 1, "{:?}", w.events);
        let redirected = count(&w.events, |e| matches!(e, Event::Redirected { .. }));
        assert_eq!(redirected, usize::from(redirect), "{:?}", w.events);
        let name = match (redirect, tunnel_level) {
            (false, _) => "session",
            (true, false) => "redirected_call",
            (true, true) => "redirected_tunnel_level_request",
        };
        add(c, "l2tp_lac", format!("lns_{name}.bin"), w.script);
    }
}

// ---------------------------------------------------------------------------------------------
// Mobile IPv4 (RFC 5944): scripts of src/harness/mip.rs.

/// The body of a cluster message as the `mip_home_agent` harness's op 4 takes it (the message
/// without its header and MAC), when its length makes the harness tag it with its own kind
/// (the harness tags kind `1 + length % 5`).
fn cluster_body(m: &ClusterMessage<'_>) -> Option<Vec<u8>> {
    let bytes = m.to_vec(b"fuzz cluster key");
    let header = ClusterMessage {
        body: Body::Relay { reply: &[] },
        ..m.clone()
    }
    .to_vec(b"fuzz cluster key")
    .len()
        - 16;
    let body = bytes[header..bytes.len() - 16].to_vec();
    let kind = bytes[4];
    (1 + body.len() % 5 == usize::from(kind)).then_some(body)
}
/// A Notice / Replicate body of the right length: the NAI length is tuned until it fits.
fn cluster_op(script: &mut Vec<u8>, make: impl Fn(Option<Box<[u8]>>) -> ClusterMessage<'static>) {
    let body = (0..5)
        .find_map(|n| cluster_body(&make((n > 0).then(|| vec![b'n'; n].into_boxed_slice()))))
        .unwrap();
    script.extend_from_slice(&[4, len8(&body)]);
    script.extend_from_slice(&body);
}

fn home_agent_seeds(c: &mut Corpora) {
    use telcp::mip::cluster::{Entry, Item};
    // Layer 3 (first byte odd): registrations of two home addresses, a renewal, simultaneous
    // bindings (S bit, three care-of addresses against a bound of two), a short lifetime that
    // expires, a deregistration (lifetime 0), an NAI request, a request for another HA,
    // forwarded and layer-2 requests, withdraw and advertise.
    let mut s = vec![1u8];
    s.extend_from_slice(&[1, 0, 100, 2, 25, 1, 1, 2, 2, 25]);
    s.extend_from_slice(&[2, 255, 1, 0, 101]);
    s.extend_from_slice(&[1, 2, 0x81, 1, 2, 0x82, 1, 2, 0x83, 2, 10]);
    s.extend_from_slice(&[1, 0, 0, 1, 0x10, 50, 1, 0x21, 60, 1, 0x43, 70, 1, 0x84, 80]);
    s.extend_from_slice(&[3, 0, 2, 100, 3, 1, 5, 0, 2, 255, 2, 255]);
    add(c, "mip_home_agent", "layer3_bindings.bin", s.clone());
    // The same operations in layer-2 mode with notices (first byte 0).
    s[0] = 0;
    add(c, "mip_home_agent", "layer2_bindings.bin", s);

    // Keys from AAA (first byte bit 5), layer 3: requests of mobile nodes 3 and 4 parked, each
    // answered with a key under 128 bits (empty, then 5 octets: refused, the request stays
    // parked, RFC 2104 section 3), then with a wrong 128-bit key (131) or the right one.
    let mut s = vec![0x21u8];
    for (home, b) in [(2, 33), (3, 161), (4, 129)] {
        s.extend_from_slice(&[1, home, b, 5, 3 << 2, 5, 24 << 2, 5, 2 << 2, 2, 5]);
    }
    for (home, b) in [(2, 35), (3, 163), (4, 131)] {
        s.extend_from_slice(&[1, home, b, 5, 3 << 2, 5, 0, 2, 5]);
    }
    s.extend_from_slice(&[2, 255]);
    add(c, "mip_home_agent", "aaa_key_answers.bin", s);

    // Cluster traffic from member 2 under the cluster key: notices, replicated changes (one key).
    let mut s = vec![0u8, 1, 0, 100];
    let member = |body| ClusterMessage {
        sender: NodeId(2),
        incarnation: 1,
        pn: 1,
        body,
    };
    let ha = Ipv4Addr::new(10, 0, 5, 1);
    let leak = |n: Option<Box<[u8]>>| -> &'static [u8] { Box::leak(n.unwrap_or_default()) };
    cluster_op(&mut s, |n| {
        member(Body::Notice {
            home_address: ha,
            nai: n.map(|n| leak(Some(n))),
            identification: 7,
        })
    });
    type Items = fn(Option<Box<[u8]>>) -> Vec<Entry<Item>>;
    let items: [Items; 4] = [
        |nai| {
            vec![
                Entry::SyncBegin { epoch: 1 },
                Entry::Item(Item::Holds {
                    home_address: Ipv4Addr::new(10, 0, 5, 0),
                    nai,
                }),
                Entry::SyncEnd { epoch: 1 },
            ]
        },
        |nai| {
            vec![Entry::Item(Item::Remove {
                home_address: Ipv4Addr::new(10, 0, 5, 0),
                nai,
            })]
        },
        |nai| {
            vec![
                Entry::Item(Item::Takeover {
                    failed: NodeId(1),
                    owner: NodeId(2),
                    coordinator: NodeId(2),
                }),
                Entry::Item(Item::Remove {
                    home_address: Ipv4Addr::new(10, 0, 5, 3),
                    nai,
                }),
            ]
        },
        common::mip::sealed_replica,
    ];
    for (seq, make) in items.into_iter().enumerate() {
        cluster_op(&mut s, |n| {
            member(Body::Replicate {
                seq: seq as u64 + 1,
                items: make(n),
            })
        });
        s.extend_from_slice(&[2, 25]);
    }
    add(c, "mip_home_agent", "cluster_member_traffic.bin", s);

    // The known-answer vectors as raw datagrams to the virtual address.
    let mut s = vec![0u8];
    for (_, v) in mip_vectors() {
        s.extend_from_slice(&[0, len8(&v)]);
        s.extend_from_slice(&v);
    }
    add(c, "mip_home_agent", "scapy_vectors_raw.bin", s);
}

fn foreign_agent_seeds(c: &mut Corpora) {
    // With FA-HA authentication (first byte odd): a request from mobile node 1 relayed, the
    // authenticated reply (code 1, home 10.0.5.1) relayed back; an unauthenticated reply dropped;
    // a pending request timing out (7 s) after 8 s.
    add(
        c,
        "mip_foreign_agent",
        "fa_ha_auth_accept_and_timeout.bin",
        vec![
            1, 2, 5, 1, 3, 5, 1, 2, 6, 2, 3, 6, 2, 2, 9, 3, 4, 200, 0, 4, 10, 0,
        ],
    );
    // Without FA-HA authentication: accepted (0), denied by the HA (130, home .2), five pending
    // requests against a bound of four, a duplicate identification, then expiry.
    add(
        c,
        "mip_foreign_agent",
        "no_auth_denied_and_pending_bound.bin",
        vec![
            0, 2, 3, 0, 3, 3, 0, 2, 4, 2, 3, 4, 130, 2, 1, 1, 2, 2, 3, 2, 3, 5, 2, 4, 6, 2, 5, 7,
            2, 5, 7, 4, 200, 0,
        ],
    );
    // The known-answer vectors as raw datagrams: requests from a mobile node, replies from the HA.
    let mut s = vec![0u8];
    for (n, v) in mip_vectors() {
        let op = u8::from(n.contains("rrp"));
        s.extend_from_slice(&[op, len8(&v), 3]);
        s.extend_from_slice(&v);
    }
    add(c, "mip_foreign_agent", "scapy_vectors_raw.bin", s);
}

// ---------------------------------------------------------------------------------------------
// GTP steering (3GPP TS 29.060, TS 29.281): scripts of src/harness/steering.rs.

fn vid(n: u16) -> VirtualId {
    VirtualId::new(n).unwrap()
}

fn with_teid(mut m: Vec<u8>, teid: u32) -> Vec<u8> {
    m[4..8].copy_from_slice(&teid.to_be_bytes());
    m
}

fn line_seeds(c: &mut Corpora) {
    // The harness's table: VID 1 Up, 2 Down, 3 Up.
    let layout = VidLayout::default();
    for (n, v) in hex_vectors("steering") {
        add(c, "steering_line", format!("{n}.bin"), v);
    }
    let g = gtp("g_pdu");
    for (name, primary, backup) in [
        ("vid1_up", 1, None),
        ("vid2_down_backup3", 2, Some(3)),
        ("vid3_up", 3, None),
        ("vid9_unknown", 9, None),
    ] {
        let teid = layout.compose(vid(primary), backup.map(vid), 5).unwrap();
        add(
            c,
            "steering_line",
            format!("g_pdu_{name}.bin"),
            with_teid(g.clone(), teid),
        );
    }
    let unknown = layout.compose(vid(9), None, 5).unwrap();
    for n in ["update_pdp_request", "delete_pdp_request"] {
        add(
            c,
            "steering_line",
            format!("{n}_vid9_unknown.bin"),
            with_teid(gtp(n), unknown),
        );
    }
    for (n, v) in l2tp_vectors() {
        add(c, "steering_line", format!("xl2tpd_{n}.bin"), v);
    }
}

fn fabric_packet(data: &[u8]) -> Vec<u8> {
    FabricMessage::Packet {
        from: SocketAddr::from(([192, 0, 2, 1], 2123)),
        to: SocketAddr::from(([10, 0, 0, 1], 2123)),
        data: std::borrow::Cow::Borrowed(data),
    }
    .to_vec()
}

fn switch_seeds(c: &mut Corpora) {
    // Processors 11, 12, 13 ask for VIDs from their own addresses (a = 6, 7, 8 picks sender and
    // slot alike), send heartbeats (cluster key "fuzz") and acknowledge the table; then Create
    // PDP Context Requests arrive from the line interface, an Echo, a GTPv2 Echo, an Error
    // Indication, replicated sessions, and the processors fall silent.
    let key = ClusterKey::new(b"fuzz cluster key");
    let mut s = Vec::new();
    for a in [6u8, 7, 8] {
        s.extend_from_slice(&[1, a, 1]);
    }
    for seq in 1..4u64 {
        for (a, node) in [(6u8, 11u32), (7, 12), (8, 13)] {
            let hb = Heartbeat {
                node: NodeId(node),
                role: Role::PROCESSOR,
                incarnation: 1,
                sequence: seq,
                load: Load::new(u32::from(a), 100),
                addresses: Default::default(),
            }
            .to_bytes(&key);
            s.extend_from_slice(&[0, a, len8(&hb)]);
            s.extend_from_slice(&hb);
        }
        s.extend_from_slice(&[5, 0, 10]);
    }
    for v in 1..4u8 {
        s.extend_from_slice(&[3, 6, v, 3, 7, v, 3, 8, v]);
    }
    add(c, "steering_switch", "processors_join.bin", s.clone());
    // With `teid_ranges` (the first byte's top bit): the processors ask for their VIDs, an SMF
    // associates (a PFCP Association Setup Request, b % 8 == 6: no range yet, no processor
    // heard), the processors' heartbeats arrive, and the line interface acknowledges the table
    // (a = 0, the current version) within `line_ack_timeout`: the switch processor advertises
    // their TEID ranges in an Association Update Request. Then a Session Establishment Request
    // (b % 8 == 7) and time passing (the update repeated, unanswered).
    let mut t = vec![0x81, 6, 1, 1, 7, 1, 1, 8, 1, 4, 0, 6];
    for (a, node) in [(6u8, 11u32), (7, 12), (8, 13)] {
        let hb = Heartbeat {
            node: NodeId(node),
            role: Role::PROCESSOR,
            incarnation: 1,
            sequence: 1,
            load: Load::new(u32::from(a), 100),
            addresses: Default::default(),
        }
        .to_bytes(&key);
        t.extend_from_slice(&[0, a, len8(&hb)]);
        t.extend_from_slice(&hb);
    }
    t.extend_from_slice(&[5, 0, 5, 3, 0, 0, 5, 0, 5, 4, 0, 7, 5, 0, 10, 5, 0, 10]);
    add(c, "steering_switch", "processors_join_teid_ranges.bin", t);
    for n in [
        "create_pdp_request",
        "sgsnemu_create_pdp_request",
        "echo_request",
    ] {
        let p = fabric_packet(&gtp(n));
        s.extend_from_slice(&[0, 0, len8(&p)]);
        s.extend_from_slice(&p);
    }
    s.extend_from_slice(&[4, 0, 0, 4, 0, 1, 4, 0, 2, 4, 0, 3]);
    s.extend_from_slice(&[2, 6, 0x11, 2, 7, 0x92, 2, 6, 0x11]);
    s.extend_from_slice(&[5, 0, 50, 5, 0, 50, 5, 0, 100, 5, 0, 100]);
    add(
        c,
        "steering_switch",
        "processors_join_sessions_silence.bin",
        s,
    );
}

fn processor_seeds(c: &mut Corpora) {
    // Slot 11 gets VID 1, the switch processor directs Create PDP Context Requests to it (the
    // scapy one, then sgsnemu's with backup VID 2), the line interface passes on G-PDUs, an
    // Update, a Delete and an Echo; sessions are replicated to it and deleted; time passes.
    let layout = VidLayout::default();
    let mut s = vec![2u8, 1, 5, 5];
    let create = gtp("create_pdp_request");
    s.extend_from_slice(&[3, len8(&create) & 0x7f]);
    assert!(create.len() < 0x80);
    s.extend_from_slice(&create);
    let sgsnemu = gtp("sgsnemu_create_pdp_request");
    assert!(sgsnemu.len() < 0x80);
    s.extend_from_slice(&[3, 0x80 | len8(&sgsnemu)]);
    s.extend_from_slice(&sgsnemu);
    s.extend_from_slice(&[5, 5]);
    let teid = layout.compose(vid(1), None, 1).unwrap();
    for m in [
        with_teid(gtp("g_pdu"), teid),
        with_teid(gtp("g_pdu_ext"), teid),
        with_teid(gtp("update_pdp_request"), teid),
        gtp("echo_request"),
        with_teid(gtp("delete_pdp_request"), teid),
    ] {
        s.extend_from_slice(&[4, len8(&m)]);
        s.extend_from_slice(&m);
    }
    for b in [0x20u8, 0x41, 0x62, 0x03, 0x30] {
        s.extend_from_slice(&[6, b, 0, b]);
    }
    s.extend_from_slice(&[5, 100, 5, 100, 5, 255]);
    add(
        c,
        "steering_processor",
        "vid_assign_create_traffic_sync.bin",
        s,
    );
    // Raw fabric datagrams: a sync from the switch and a packet from the line interface (the GTPv2 vector, answered Version Not Supported upstream).
    let mut s = vec![2u8, 3];
    let p = fabric_packet(&gtp("gtpv2_echo_request"));
    s.extend_from_slice(&[1, len8(&p)]);
    s.extend_from_slice(&p);
    let sync = FabricMessage::Sync {
        delete: false,
        record: SessionRecord {
            teid: layout.compose(vid(2), Some(vid(3)), 9).unwrap(),
            version: 1,
            peer_teid_c: 1,
            peer_teid_u: 2,
            peer_c: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            peer_u: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            imsi: Imsi([0x21, 0x43, 0x65, 0x87, 0x09, 0x21, 0x43, 0xf5]),
            nsapi: 5,
            ue_addr: Ipv4Addr::new(10, 0, 0, 9),
            protocol: SessionProtocol::Gtpv1,
            peer_seid: 0,
        },
    }
    .to_vec();
    // Unsealed (operation 0: refused, fabric version 5), then sealed by the harness as the
    // switch processor (operation 0x40: taken).
    for op in [0, 0x40] {
        s.extend_from_slice(&[op, len8(&sync)]);
        s.extend_from_slice(&sync);
    }
    s.extend_from_slice(&[5, 20]);
    add(c, "steering_processor", "raw_fabric_datagrams.bin", s);
}

// ---------------------------------------------------------------------------------------------
// Health monitor: scripts of src/harness/health.rs (op % 8).

fn heartbeat_op(node: u8, used: u8, role: u8, incarnation: u8, sequence: u16) -> Vec<u8> {
    let [hi, lo] = sequence.to_be_bytes();
    vec![1, node, used, role, incarnation, hi, lo]
}

fn monitor_seeds(c: &mut Corpora) {
    // Peer 2 heartbeats every 10 ms, then silence: Up, Suspect, Down (misses 2 and 4 at 100 ms).
    let mut s = Vec::new();
    for seq in 1..5 {
        s.extend(heartbeat_op(2, 50, 3, 1, seq));
        s.extend_from_slice(&[0, 1]);
    }
    s.extend_from_slice(&[0, 30, 0, 30, 0, 30]);
    add(c, "health_monitor", "peer_up_suspect_down.bin", s);
    // Restart (incarnation 1 -> 2), replays of earlier heartbeats, a stranger accepted up to
    // the bound of four peers, an overloaded peer, selections under each policy, removal and
    // re-addition, own node's id heard from outside, our load changing.
    let mut s = Vec::new();
    s.extend(heartbeat_op(2, 10, 3, 1, 1));
    s.extend(heartbeat_op(3, 190, 3, 1, 1));
    s.extend(heartbeat_op(2, 10, 3, 1, 2));
    s.extend_from_slice(&[3, 0, 3, 1]);
    s.extend(heartbeat_op(2, 10, 3, 2, 1));
    s.extend_from_slice(&[3, 2]);
    for n in 4..7 {
        s.extend(heartbeat_op(n, 20 * n, 3, 0, 1));
    }
    s.extend(heartbeat_op(1, 10, 3, 1, 9));
    s.extend_from_slice(&[7, 0, 0, 7, 1, 0, 7, 2, 0, 7, 2, 0x04]);
    s.extend_from_slice(&[6, 4, 0, 6, 4, 1, 5, 190, 0, 20, 7, 0, 0]);
    add(
        c,
        "health_monitor",
        "restart_replay_strangers_select.bin",
        s,
    );
    // Raw datagrams: a heartbeat under the harness's key, one under another key, garbage.
    let mut s = Vec::new();
    let hb = Heartbeat {
        node: NodeId(3),
        role: Role::HOME_AGENT,
        incarnation: 1,
        sequence: 5,
        load: Load::new(1, 200),
        addresses: Default::default(),
    };
    for key in [&b"fuzz cluster key"[..], b"another key"] {
        let b = hb.to_bytes(&ClusterKey::new(key));
        s.extend_from_slice(&[4, len8(&b)]);
        s.extend_from_slice(&b);
    }
    s.extend_from_slice(&[4, 4, 0xff, 0x48, 0x42, 1, 0, 10]);
    add(c, "health_monitor", "raw_heartbeats.bin", s);
}

// ---------------------------------------------------------------------------------------------

/// Every generated seed file.
fn generate() -> Corpora {
    let mut c = Corpora::new();
    parser_seeds(&mut c);
    lns_seeds(&mut c);
    lac_seeds(&mut c);
    home_agent_seeds(&mut c);
    foreign_agent_seeds(&mut c);
    line_seeds(&mut c);
    switch_seeds(&mut c);
    processor_seeds(&mut c);
    monitor_seeds(&mut c);
    c
}

fn committed(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = seeds_dir().join(target);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

/// Rebuilds the generated seed files (`cargo test --all-features --test fuzz_seeds --
/// --ignored`). Overwrites only its own file names; other files (crash inputs) stay.
#[test]
#[ignore = "writes fuzz/seeds: run by hand to rebuild the generated seed corpora"]
fn write_seed_corpora() {
    for (target, files) in generate() {
        let dir = seeds_dir().join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

/// Runs one input through a harness, turning a panic into the input's description.
fn replay(target: &str, h: Harness, path: &Path, data: &[u8]) -> Result<(), String> {
    let t0 = Instant::now();
    std::panic::catch_unwind(|| h(t0, data)).map_err(|e| {
        let why = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{target}: {} panicked: {why}", path.display())
    })
}

#[test]
fn every_committed_seed_runs_through_its_harness() {
    let targets = targets();
    // Every fuzz target has a corpus here, and every corpus here names a fuzz target.
    let bins: Vec<String> = std::fs::read_dir(root().join("fuzz/fuzz_targets"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        bins.len(),
        targets.len(),
        "a fuzz target without a harness here"
    );
    for b in &bins {
        assert!(
            targets.iter().any(|(t, _)| t == b),
            "{b} has no harness in this test"
        );
    }
    for d in std::fs::read_dir(seeds_dir()).unwrap() {
        let name = d.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            targets.iter().any(|(t, _)| *t == name),
            "fuzz/seeds/{name} names no target"
        );
    }
    let mut failures = Vec::new();
    let mut runs = 0;
    for (target, h) in targets {
        let files = committed(target);
        assert!(!files.is_empty(), "fuzz/seeds/{target} is empty");
        for (path, data) in files {
            runs += 1;
            if let Err(e) = replay(target, h, &path, &data) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} seeds fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn committed_seeds_match_the_generator() {
    for (target, files) in generate() {
        let have: BTreeMap<String, Vec<u8>> = committed(target)
            .into_iter()
            .map(|(p, b)| (p.file_name().unwrap().to_string_lossy().into_owned(), b))
            .collect();
        for (name, bytes) in files {
            assert_eq!(
                have.get(&name),
                Some(&bytes),
                "fuzz/seeds/{target}/{name} differs from the generator: run `cargo test \
                 --all-features --test fuzz_seeds -- --ignored` and commit"
            );
        }
    }
}
