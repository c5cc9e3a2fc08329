//! Shared pieces of the RFC 5944 conformance tests: a hand-written peer's byte builder and reply
//! reader (independent of the crate's own codec, so the wire format itself is under test), an
//! HMAC-MD5 computed with the `hmac` and `md-5` crates directly, and a Home Agent configured alone
//! (a one-member cluster, the simplest peer to hold the RFC's HA rules against).
#![allow(dead_code)]

use hmac::{Hmac, Mac};
use md5::Md5;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use telcp::health::NodeId;
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::wire::replay::NtpTime;
use telcp::mip::wire::{Builder, Extension, Header, Message, Reply, Request};
use telcp::mip::{ClientConfig, ClientEvent, Event, ForwardMode, MobileNodeClient};
use telcp::mip::{HomeAgent, HomeAgentConfig, InputError, Member, MnId, MobileNodeKey};
use telcp::sim::{LinkConfig, NodeId as SimId, Sim};
use telcp::{MacAddr, Transmit};

/// The virtual HA address (the HA's service address).
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The HA's own unicast address.
pub const HA_OWN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The home network.
pub const HOME_NET: &str = "10.0.0.0/16";
/// A mobile node known by its home address.
pub const HOME: Ipv4Addr = Ipv4Addr::new(10, 0, 5, 7);
/// Its SPI and key.
pub const MN_SPI: u32 = 0x1007;
/// Its MN-HA key.
pub const MN_KEY: &[u8] = b"mn-ha key of 10.0.5.7";
/// A mobile node known by NAI only (RFC 2794).
pub const NAI: &[u8] = b"roamer@home.example";
/// Its SPI.
pub const NAI_SPI: u32 = 0x2001;
/// Its MN-HA key.
pub const NAI_KEY: &[u8] = b"mn-ha key of the roamer";
/// Another NAI-only mobile node.
pub const VICTIM_NAI: &[u8] = b"victim@home.example";
/// Its SPI.
pub const VICTIM_SPI: u32 = 0x2002;
/// Its key.
pub const VICTIM_KEY: &[u8] = b"mn-ha key of the victim";
/// A foreign agent the HA shares an FA-HA security association with.
pub const FA: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);
/// Its FA-HA SPI.
pub const FA_SPI: u32 = 0x3009;
/// Its FA-HA key.
pub const FA_KEY: &[u8] = b"fa-ha key of 203.0.113.9";
/// A mobile node's co-located care-of address.
pub const COA: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
/// A second care-of address.
pub const COA2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 21);
/// The HA's wall clock at start.
pub const WALL: Duration = Duration::from_secs(1_700_000_000);
/// The pool the HA assigns home addresses from.
pub const POOL: &str = "10.0.9.0/24";

/// Request flags (RFC 5944 section 3.3: S B D M G r T x).
pub const S: u8 = 0x80;
/// B bit.
pub const B: u8 = 0x40;
/// D bit.
pub const D: u8 = 0x20;
/// M bit.
pub const M: u8 = 0x10;
/// G bit.
pub const G: u8 = 0x08;
/// r (reserved) bit.
pub const R_RESERVED: u8 = 0x04;
/// x (reserved) bit.
pub const X_RESERVED: u8 = 0x01;

/// An IPv4 transport address.
pub fn sock(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// HMAC-MD5 (RFC 2104), the default authenticator of RFC 5944 section 3.5.1.
pub fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut m = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The 64-bit NTP timestamp of a wall-clock time (RFC 5944 section 5.7 timestamps).
pub fn ntp(since_unix: Duration) -> u64 {
    let secs = since_unix.as_secs() + 2_208_988_800;
    let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The fixed part of a Registration Request (RFC 5944 section 3.3), 24 bytes.
pub fn rrq(
    flags: u8,
    lifetime: u16,
    home: Ipv4Addr,
    ha: Ipv4Addr,
    coa: Ipv4Addr,
    id: u64,
) -> Vec<u8> {
    let mut v = vec![1, flags];
    v.extend_from_slice(&lifetime.to_be_bytes());
    v.extend_from_slice(&home.octets());
    v.extend_from_slice(&ha.octets());
    v.extend_from_slice(&coa.octets());
    v.extend_from_slice(&id.to_be_bytes());
    v
}

/// The fixed part of a Registration Reply (RFC 5944 section 3.4), 20 bytes.
pub fn rrp(code: u8, lifetime: u16, home: Ipv4Addr, ha: Ipv4Addr, id: u64) -> Vec<u8> {
    let mut v = vec![3, code];
    v.extend_from_slice(&lifetime.to_be_bytes());
    v.extend_from_slice(&home.octets());
    v.extend_from_slice(&ha.octets());
    v.extend_from_slice(&id.to_be_bytes());
    v
}

/// Appends a short-format extension: type, length, data.
pub fn push_ext(msg: &mut Vec<u8>, ext_type: u8, data: &[u8]) {
    msg.push(ext_type);
    msg.push(data.len() as u8);
    msg.extend_from_slice(data);
}

/// Appends an authentication extension (32 MN-HA, 33 MN-FA, 34 FA-HA) whose HMAC-MD5
/// authenticator covers every byte before it plus its own type, length and SPI (RFC 5944
/// section 3.5.1).
pub fn push_auth(msg: &mut Vec<u8>, ext_type: u8, spi: u32, key: &[u8]) {
    msg.push(ext_type);
    msg.push(20);
    msg.extend_from_slice(&spi.to_be_bytes());
    let a = hmac_md5(key, msg);
    msg.extend_from_slice(&a);
}

/// A reply as a hand-written peer reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rrp {
    /// Code.
    pub code: u8,
    /// Lifetime.
    pub lifetime: u16,
    /// Home address.
    pub home: Ipv4Addr,
    /// Home agent.
    pub ha: Ipv4Addr,
    /// Identification.
    pub id: u64,
    /// Extensions: (type, offset of the extension in the message, its data after the length).
    pub exts: Vec<(u8, usize, Vec<u8>)>,
    /// The whole message.
    pub raw: Vec<u8>,
}

impl Rrp {
    /// Reads a reply; panics (failing the test) on anything that is not one.
    pub fn read(b: &[u8]) -> Rrp {
        assert!(
            b.len() >= 20,
            "a Registration Reply has a 20-byte fixed part: {b:02x?}"
        );
        assert_eq!(
            b[0], 3,
            "type 3 is a Registration Reply (RFC 5944 section 3.4)"
        );
        let a = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
        let mut exts = Vec::new();
        let mut at = 20;
        while at < b.len() {
            let t = b[at];
            let (hdr, len) = if matches!(t, 36 | 38 | 47 | 48) {
                (4, u16::from_be_bytes([b[at + 2], b[at + 3]]) as usize)
            } else {
                (2, b[at + 1] as usize)
            };
            assert!(at + hdr + len <= b.len(), "extension overruns the reply");
            exts.push((t, at, b[at + hdr..at + hdr + len].to_vec()));
            at += hdr + len;
        }
        Rrp {
            code: b[1],
            lifetime: u16::from_be_bytes([b[2], b[3]]),
            home: a(4),
            ha: a(8),
            id: u64::from_be_bytes(b[12..20].try_into().unwrap()),
            exts,
            raw: b.to_vec(),
        }
    }

    /// Types of the extensions, in order.
    pub fn types(&self) -> Vec<u8> {
        self.exts.iter().map(|e| e.0).collect()
    }

    /// Whether the authentication extension of type `t` is present once and its HMAC-MD5
    /// authenticator, under `spi` and `key`, covers everything before it (section 3.5.1).
    pub fn auth_ok(&self, t: u8, spi: u32, key: &[u8]) -> bool {
        let found: Vec<_> = self.exts.iter().filter(|e| e.0 == t).collect();
        let [(_, at, data)] = found[..] else {
            return false;
        };
        data.len() == 20
            && data[..4] == spi.to_be_bytes()
            && hmac_md5(key, &self.raw[..at + 6]) == data[4..20]
    }
}

/// The single member of a one-HA cluster.
pub fn member() -> Member {
    Member {
        node: NodeId(1),
        addr: sock(HA_OWN, 434),
        mac: MacAddr::local(1),
        backups: Vec::new(),
    }
}

/// A Home Agent configured alone, with the mobile nodes above and the FA-HA association; the
/// seed is left to each test file's own `cfg` helper.
pub fn base_config() -> HomeAgentConfig {
    let mut c = HomeAgentConfig::new(
        NodeId(1),
        VIP,
        HOME_NET.parse().unwrap(),
        vec![member()],
        b"virtual HA cluster key",
    );
    c.wall_clock = WALL;
    c.pool = Some(POOL.parse().unwrap());
    c.max_simultaneous = 4;
    let sa = |spi, key: &[u8]| SecurityAssociation::new(spi, AuthAlgorithm::HmacMd5, key.to_vec());
    c.mobile_nodes = vec![
        MobileNodeKey {
            id: MnId::Home(HOME),
            sa: sa(MN_SPI, MN_KEY),
        },
        MobileNodeKey {
            id: MnId::Nai(NAI.into()),
            sa: sa(NAI_SPI, NAI_KEY),
        },
        MobileNodeKey {
            id: MnId::Nai(VICTIM_NAI.into()),
            sa: sa(VICTIM_SPI, VICTIM_KEY),
        },
    ];
    c.foreign_agents = vec![(FA, sa(FA_SPI, FA_KEY))];
    c
}

/// A Home Agent under test, with its start instant.
pub struct Ha {
    /// The endpoint.
    pub ha: HomeAgent,
    /// Its start.
    pub t0: Instant,
}

impl Ha {
    /// A Home Agent from `cfg`.
    pub fn new(cfg: HomeAgentConfig) -> Ha {
        let t0 = Instant::now();
        let ha = HomeAgent::new(cfg, t0).expect("valid configuration");
        let mut h = Ha { ha, t0 };
        while h.ha.poll_event().is_some() {}
        h
    }

    /// The identification a mobile node whose clock agrees with the HA's sends `at` after start.
    pub fn id_at(&self, at: Duration) -> u64 {
        ntp(WALL + at)
    }

    /// Feeds `bytes` from `from` to `to` at `at` after start; returns the result and every
    /// transmit it queued.
    pub fn feed(
        &mut self,
        at: Duration,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
    ) -> (Result<(), InputError>, Vec<Transmit>) {
        let r = self.ha.handle_datagram(self.t0 + at, from, to, bytes);
        let mut out = Vec::new();
        while let Some(t) = self.ha.poll_transmit() {
            out.push(t);
        }
        (r, out)
    }

    /// Feeds a request sent to the virtual address and returns the one reply it must produce.
    pub fn ask(&mut self, at: Duration, from: SocketAddr, bytes: &[u8]) -> (Transmit, Rrp) {
        let (_, out) = self.feed(at, from, sock(VIP, 434), bytes);
        let replies: Vec<_> = out
            .into_iter()
            .filter(|t| t.payload.first() == Some(&3))
            .collect();
        assert_eq!(replies.len(), 1, "exactly one Registration Reply");
        let t = replies.into_iter().next().unwrap();
        let r = Rrp::read(&t.payload);
        (t, r)
    }

    /// Runs the HA's timers up to `at` after start.
    pub fn tick(&mut self, at: Duration) {
        self.ha.handle_timeout(self.t0 + at);
        while self.ha.poll_transmit().is_some() {}
    }
}

/// A request from the home-address mobile node, co-located care-of `coa`, authenticated.
pub fn mn_request(flags: u8, lifetime: u16, coa: Ipv4Addr, id: u64) -> Vec<u8> {
    let mut m = rrq(flags | D, lifetime, HOME, VIP, coa, id);
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    m
}

/// The mobile node's own transport address.
pub fn mn_sock() -> SocketAddr {
    sock(COA, 434)
}

// ------------------------------------------------------------- the virtual HA cluster world

// The virtual Home Agent cluster (issue 6) on the deterministic simulator: three or more HAs
// sharing the virtual address VIP, mobile nodes each with a co-located care-of address (so each is
// its own foreign agent), links with or without loss.

pub const KEY: &[u8] = b"virtual HA cluster key";

pub fn vip() -> SocketAddr {
    sock(VIP, 434)
}
pub fn ha_addr(i: u32) -> SocketAddr {
    sock(Ipv4Addr::new(192, 0, 2, i as u8), 434)
}
pub fn mac(i: u32) -> MacAddr {
    MacAddr::local(i)
}
pub fn mn_sa(k: u32) -> SecurityAssociation {
    SecurityAssociation::new(
        0x1000 + k,
        AuthAlgorithm::HmacMd5,
        format!("mn-ha key of mn {k}").into_bytes(),
    )
}
pub fn home(k: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 5, k as u8)
}
pub fn nai(k: u32) -> Vec<u8> {
    format!("mn{k}@home.example").into_bytes()
}
pub fn mn_addr(k: u32) -> SocketAddr {
    sock(Ipv4Addr::new(198, 51, 100, k as u8), 434)
}

pub const MNS: u32 = 60;

pub fn members(n: u32) -> Vec<Member> {
    (1..=n)
        .map(|i| Member {
            node: NodeId(i),
            addr: ha_addr(i),
            mac: mac(i),
            backups: (1..=n).filter(|j| *j != i).map(NodeId).collect(),
        })
        .collect()
}

pub fn ha_config(i: u32, n: u32, mode: ForwardMode) -> HomeAgentConfig {
    let mut c = HomeAgentConfig::new(
        NodeId(i),
        VIP,
        "10.0.0.0/16".parse().unwrap(),
        members(n),
        KEY,
    );
    c.mode = mode;
    c.pool = Some(format!("10.0.{i}.0/24").parse().unwrap());
    c.seed = telcp::io::seed(u64::from(i));
    c.pending_timeout = Duration::from_secs(2);
    c.wall_clock = WALL;
    for k in 1..=MNS {
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(home(k)),
            sa: mn_sa(k),
        });
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Nai(nai(k).into()),
            sa: mn_sa(k),
        });
    }
    c
}

pub struct World {
    pub sim: Sim,
    pub ha: Vec<SimId>,
    pub start: Instant,
    /// The seed the world was built with (named in a tunnel-invariant failure).
    pub seed: u64,
    /// The callers' view of each HA's tunnels ([`Callers`]), checked after every step of
    /// [`World::run_for`].
    pub callers: Callers,
}

/// The tunnels each HA's caller holds, as it learns them from the HA's events alone: the
/// invariant that they are, after every step, exactly the tunnels the HA serves
/// ([`HomeAgent::served_tunnels`]), and that each was told exactly once. RFC 5944 section
/// 3.8.3: a binding's tunnel lives as long as the binding at the home agent serving it
/// (installed when it serves a registration, removed when a care-of address is deregistered,
/// expires, is revoked or moves to another member).
///
/// The caller's rules, from the docs of [`Event`]: `Registered` installs the tunnel to its
/// care-of address (with `refresh`, it is installed already, unchanged); `Deregistered`,
/// `Expired` and `RegistrationRevoked` with a tunnel remove it; `TakenOver` installs the tunnels
/// it carries; a crashed HA's tunnels go with it (a restarted HA begins with none). Exactly once:
/// installing a tunnel already installed, a refresh of one not installed (or of another tunnel
/// than the one installed), and removing one not installed (or another than the one installed)
/// are each a violation too.
#[derive(Default)]
pub struct Callers {
    /// Off: [`World::run_for`] checks nothing (a scenario that drives the HAs past the
    /// caller's rules on purpose).
    pub off: bool,
    /// Per HA (index `i - 1`): home address and care-of address to the tunnel installed.
    pub tunnels: Vec<std::collections::BTreeMap<(Ipv4Addr, Ipv4Addr), telcp::mip::binding::Tunnel>>,
    /// Per HA: the events the checker took from the simulator, not yet read by the test
    /// ([`World::events`]).
    pub log: Vec<std::collections::VecDeque<Event>>,
    /// Events that broke exactly-once (a tunnel installed twice, removed without being
    /// installed, ...), not yet counted as violations by [`World::check_tunnels`].
    pub spurious: Vec<String>,
    /// Of the violations, how many broke exactly-once.
    pub not_once: u64,
    /// Steps after which a caller's tunnels and the tunnels served parted, and events that
    /// broke exactly-once.
    pub violations: Vec<String>,
    /// Steps checked.
    pub steps: u64,
}

impl Callers {
    /// Replays one event of HA `i` (index `i - 1`) into its caller's tunnels.
    fn replay(&mut self, i: usize, e: &Event) {
        use telcp::mip::binding::Tunnel;
        type Held = std::collections::BTreeMap<(Ipv4Addr, Ipv4Addr), Tunnel>;
        fn remove(t: &mut Held, sp: &mut Vec<String>, ha: usize, tunnel: &Tunnel, what: &str) {
            let key = (tunnel.home_address, tunnel.care_of);
            match t.remove(&key) {
                None => sp.push(format!("HA {ha}: {what} of {key:?} not installed")),
                Some(held) if held != *tunnel => sp.push(format!(
                    "HA {ha}: {what} of {tunnel:?}, but {held:?} installed"
                )),
                Some(_) => {}
            }
        }
        fn install(t: &mut Held, sp: &mut Vec<String>, ha: usize, tunnel: &Tunnel, refresh: bool) {
            let key = (tunnel.home_address, tunnel.care_of);
            match (t.insert(key, *tunnel), refresh) {
                (None, false) => {}
                (Some(held), true) if held == *tunnel => {}
                (None, true) => sp.push(format!("HA {ha}: refresh of {key:?}, not installed")),
                (Some(held), true) => sp.push(format!(
                    "HA {ha}: refresh of {tunnel:?}, but {held:?} installed"
                )),
                (Some(held), false) => sp.push(format!(
                    "HA {ha}: {tunnel:?} installed, {held:?} installed already"
                )),
            }
        }
        let (t, sp, ha) = (&mut self.tunnels[i], &mut self.spurious, i + 1);
        match e {
            Event::Registered {
                tunnel, refresh, ..
            } => install(t, sp, ha, tunnel, *refresh),
            Event::Deregistered { tunnel, .. } => remove(t, sp, ha, tunnel, "Deregistered"),
            Event::Expired { tunnel, .. } => remove(t, sp, ha, tunnel, "Expired"),
            Event::RegistrationRevoked {
                tunnel: Some(tunnel),
                ..
            } => remove(t, sp, ha, tunnel, "RegistrationRevoked"),
            Event::TakenOver { tunnels, .. } => {
                for tunnel in tunnels {
                    install(t, sp, ha, tunnel, false);
                }
            }
            _ => {}
        }
    }
}

impl World {
    pub fn new(n: u32, mode: ForwardMode, seed: u64, link: LinkConfig) -> World {
        Self::with(n, seed, link, |i| ha_config(i, n, mode))
    }

    pub fn with(
        n: u32,
        seed: u64,
        link: LinkConfig,
        cfg: impl Fn(u32) -> HomeAgentConfig,
    ) -> World {
        let start = Instant::now();
        let mut sim = Sim::new(seed, start);
        sim.set_default_link(link);
        let mut ha = Vec::new();
        for i in 1..=n {
            let h = HomeAgent::new(cfg(i), start).unwrap();
            ha.push(sim.add_node(
                format!("ha{i}"),
                &[ha_addr(i), vip()],
                Some(mac(i)),
                Box::new(h),
            ));
        }
        sim.set_route(VIP.into(), ha[0]);
        let mut w = World::of(sim, ha, start, seed);
        w.run_for(Duration::from_secs(3));
        w
    }

    /// The world of `sim`, its HAs `ha` (member `i` at index `i - 1`), their callers holding no
    /// tunnel yet.
    pub fn of(sim: Sim, ha: Vec<SimId>, start: Instant, seed: u64) -> World {
        let n = ha.len();
        let callers = Callers {
            off: std::env::var("MIP_TUNNELS").is_ok_and(|v| v == "off"),
            tunnels: vec![Default::default(); n],
            log: vec![Default::default(); n],
            ..Callers::default()
        };
        World {
            sim,
            ha,
            start,
            seed,
            callers,
        }
    }

    /// Advances the clock by `d` ([`Sim::run_for`]) one step (instant with something due) at a
    /// time, checking after each that every HA's caller holds exactly the tunnels it serves
    /// ([`Callers`]).
    pub fn run_for(&mut self, d: Duration) {
        if self.callers.off {
            return self.sim.run_for(d);
        }
        let deadline = self.sim.now() + d;
        while let Some(t) = self.sim.next_event_at().filter(|t| *t <= deadline) {
            self.sim.run_until(t);
            self.check_tunnels();
        }
        self.sim.run_until(deadline);
        self.check_tunnels();
    }

    /// Takes HA `i`'s new events into its caller's view (and the log [`World::events`] reads).
    fn collect(&mut self, i: u32) {
        let (idx, id) = (i as usize - 1, self.ha[i as usize - 1]);
        if !self.sim.is_alive(id) {
            // A crashed HA's data plane goes with it; a restarted one begins empty.
            self.callers.tunnels[idx].clear();
            return;
        }
        while let Some(e) = self.sim.poll_event_of::<HomeAgent>(id) {
            self.callers.replay(idx, &e);
            self.callers.log[idx].push_back(e);
        }
    }

    /// The invariant after a step ([`Callers`]): a violation panics, naming the seed, the time,
    /// the HA and the tunnels on either side; with `MIP_TUNNELS=tally` it is counted instead
    /// (printed when the world is dropped).
    pub fn check_tunnels(&mut self) {
        if self.callers.off {
            return;
        }
        self.callers.steps += 1;
        let tally = std::env::var("MIP_TUNNELS").is_ok_and(|v| v == "tally");
        for i in 1..=self.ha.len() as u32 {
            self.collect(i);
            for what in std::mem::take(&mut self.callers.spurious) {
                let msg = format!(
                    "seed {} at {:?}: not exactly once: {what}",
                    self.seed,
                    self.sim.elapsed()
                );
                if !tally {
                    panic!("tunnel invariant: {msg}");
                }
                self.callers.not_once += 1;
                self.callers.violations.push(msg);
            }
            let id = self.ha[i as usize - 1];
            if !self.sim.is_alive(id) {
                continue;
            }
            let served: std::collections::BTreeMap<_, _> = self
                .sim
                .node_mut::<HomeAgent>(id)
                .served_tunnels()
                .map(|t| ((t.home_address, t.care_of), t))
                .collect();
            let held = &self.callers.tunnels[i as usize - 1];
            if *held == served {
                continue;
            }
            let missing: Vec<_> = served
                .iter()
                .filter(|(k, t)| held.get(k) != Some(t))
                .collect();
            let extra: Vec<_> = held
                .iter()
                .filter(|(k, t)| served.get(k) != Some(t))
                .collect();
            let msg = format!(
                "seed {} at {:?}: HA {i} serves {missing:?} its caller was never told of, \
                 and its caller still holds {extra:?} it no longer serves",
                self.seed,
                self.sim.elapsed()
            );
            if tally {
                self.callers.violations.push(msg);
                // Resynchronised, so that each parting is counted once.
                self.callers.tunnels[i as usize - 1] = served;
            } else {
                panic!("tunnel invariant: {msg}");
            }
        }
    }

    pub fn ha(&mut self, i: u32) -> &mut HomeAgent {
        let id = self.ha[i as usize - 1];
        self.sim.node_mut::<HomeAgent>(id)
    }

    pub fn events(&mut self, i: u32) -> Vec<Event> {
        self.collect(i);
        let id = self.ha[i as usize - 1];
        let mut out: Vec<Event> = self.callers.log[i as usize - 1].drain(..).collect();
        out.extend(std::iter::from_fn(|| {
            self.sim.poll_event_of::<HomeAgent>(id)
        }));
        out
    }

    pub fn client_cfg(&self, k: u32, by_nai: bool, local: SocketAddr) -> ClientConfig {
        ClientConfig {
            home_address: if by_nai {
                Ipv4Addr::UNSPECIFIED
            } else {
                home(k)
            },
            nai: by_nai.then(|| nai(k)),
            sa: mn_sa(k),
            home_agent: vip(),
            local,
            via: None,
            lifetime: 600,
            simultaneous: false,
            broadcast: false,
            retransmit: Duration::from_millis(500),
            max_retransmits: 6,
            wall_clock: WALL + self.sim.now().duration_since(self.start),
            auto_reregister: false,
        }
    }

    pub fn add_mn(&mut self, cfg: ClientConfig) -> SimId {
        let local = cfg.local;
        let c = MobileNodeClient::new(cfg, self.sim.now()).unwrap();
        self.sim
            .add_node(format!("mn@{local}"), &[local], None, Box::new(c))
    }

    pub fn mn(&mut self, id: SimId) -> &mut MobileNodeClient {
        self.sim.node_mut::<MobileNodeClient>(id)
    }

    /// Sends a registration (or deregistration) and runs until the client reports an outcome.
    pub fn run_request(&mut self, id: SimId, dereg: bool) -> ClientEvent {
        let now = self.sim.now();
        if dereg {
            self.mn(id).deregister(now);
        } else {
            self.mn(id).register(now);
        }
        // Up to 15,000 s: a client's whole backoff (up to 15 retransmissions), so a run of losses
        // ends in an outcome.
        let mut out = None;
        for _ in 0..300_000 {
            self.run_for(Duration::from_millis(50));
            if let Some(e) = self.sim.poll_event_of::<MobileNodeClient>(id) {
                out = Some(e);
                break;
            }
        }
        out.expect("no outcome")
    }

    pub fn register(&mut self, id: SimId) -> ClientEvent {
        self.run_request(id, false)
    }

    /// Replies sent to `to` (they may go nowhere: injected senders own no node).
    pub fn replies_to(&self, to: SocketAddr) -> Vec<Reply> {
        self.sim
            .trace()
            .iter()
            .filter(|r| r.to == to)
            .filter_map(|r| match Message::parse(&r.payload).ok()?.header {
                Header::Reply(p) => Some(p),
                _ => None,
            })
            .collect()
    }
}

impl Drop for World {
    /// With `MIP_TUNNELS=tally`, one line per world: the seed, the steps checked, the
    /// invariant's violations (of which those that broke exactly-once, [`Callers`]), the first.
    fn drop(&mut self) {
        if std::env::var("MIP_TUNNELS").is_ok_and(|v| v == "tally") {
            let c = &self.callers;
            println!(
                "TUNNELS seed {} steps {} violations {} not-once {} first {:?}",
                self.seed,
                c.steps,
                c.violations.len(),
                c.not_once,
                c.violations.first(),
            );
        }
    }
}

pub fn registered(e: &ClientEvent) -> Ipv4Addr {
    match e {
        ClientEvent::Registered { home_address, .. } => *home_address,
        other => panic!("not registered: {other:?}"),
    }
}

/// A well-authenticated request from outside the simulated nodes, for injection.
pub fn request(k: u32, ha_field: Ipv4Addr, id: u64, extra: Option<Extension<'static>>) -> Vec<u8> {
    let sa = mn_sa(k);
    let mut b = Builder::request(Request {
        lifetime: 600,
        home_address: home(k),
        home_agent: ha_field,
        care_of: Ipv4Addr::new(203, 0, 113, k as u8),
        identification: id,
        ..Request::default()
    });
    if let Some(e) = extra {
        b = b.extension(e);
    }
    b.mn_ha_auth(&sa).to_vec()
}

pub fn ntp_at(w: &World) -> u64 {
    NtpTime::from_unix(WALL + w.sim.now().duration_since(w.start)).0
}

impl super::Traced for World {
    fn sim(&self) -> &Sim {
        &self.sim
    }
}

/// A replicated binding of `home(4)` served by member 2 (fuzz seed of the `mip_home_agent`
/// harness, cluster key `fuzz cluster key`): an AAA key sealed under that key, revocation
/// negotiated.
pub fn sealed_replica(
    nai: Option<Box<[u8]>>,
) -> Vec<telcp::mip::cluster::Entry<telcp::mip::cluster::Item>> {
    use telcp::mip::cluster::{Entry, Item, KeyWrap, Record, RecordKey, RecordState, Secret};
    let key = RecordKey {
        spi: 0x1004,
        key: Secret(b"mn-key-aaa-4".to_vec().into()),
        left: Duration::from_secs(600),
    };
    let sealed = KeyWrap::new(b"fuzz cluster key").seal([4; 24], home(4), nai.as_deref(), &key);
    vec![Entry::Item(Item::Upsert(Record {
        home_address: home(4),
        nai,
        first_ha: NodeId(2),
        second_ha: NodeId(2),
        fa: sock(Ipv4Addr::new(192, 0, 2, 9), 434),
        identification: 9,
        state: RecordState::Permanent {
            care_of: vec![(Ipv4Addr::new(203, 0, 113, 4), Some(Duration::from_secs(60)))],
        },
        tunnel: None,
        key: sealed,
        revocation: Some(true),
    }))]
}

// ------------------------------------------------- scapy-built known answers, dissected by tshark

/// One exchange of a known-answer test: its name in the vectors file, the request the mobile
/// node sends, the home agent's reply.
pub type KnownExchange = (&'static str, Vec<u8>, Vec<u8>);

/// The replies of `ours` are, in order and by name, the bytes of the vectors file `vectors`
/// (one `name hex` a line, written by the scapy script `script`); when python3 with scapy runs,
/// the script still prints that file exactly.
pub fn assert_known_answers(vectors: &str, script: &str, ours: &[KnownExchange]) {
    let known: Vec<(&str, Vec<u8>)> = vectors
        .lines()
        .map(|l| {
            let (name, hex) = l.split_once(' ').unwrap();
            (name, super::hex(hex))
        })
        .collect();
    assert_eq!(known.len(), ours.len());
    for ((name, bytes), (our_name, _, reply)) in known.iter().zip(ours) {
        assert_eq!(name, our_name);
        assert_eq!(reply, bytes, "{name}");
    }
    let out = std::process::Command::new("python3").arg(script).output();
    match out {
        Ok(o) if o.status.success() => assert_eq!(String::from_utf8_lossy(&o.stdout), vectors),
        _ => println!("skipped re-running the script: python3 with scapy not found"),
    }
}

/// The exchanges `ex` as a capture `file` (each request from the mobile node to the virtual
/// address, its reply 1 µs later, 2 ms between exchanges) that tshark dissects with no error
/// item and no malformed packet; the caller reads fields from it. `None`, said, when tshark is
/// not installed.
#[cfg(feature = "pcap")]
pub fn tshark_dissects(tag: &str, file: &str, ex: &[KnownExchange]) -> Option<super::Capture> {
    use telcp::pcap::PcapWriter;
    if !super::have_tshark() {
        println!("skipped: tshark not found");
        return None;
    }
    let cap = super::Capture::written(tag, file, |f| {
        let mut w = PcapWriter::new(f).unwrap();
        let (mn, ha) = (mn_sock(), sock(VIP, 434));
        for (i, (_, q, p)) in ex.iter().enumerate() {
            let at = Duration::from_millis(2 * i as u64);
            w.write_udp(at, mn, ha, q).unwrap();
            w.write_udp(at + Duration::from_micros(1), ha, mn, p)
                .unwrap();
        }
        drop(w.into_inner());
    });
    cap.assert_no_expert_errors();
    Some(cap)
}
