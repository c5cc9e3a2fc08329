//! A hand-written RFC 2661 peer for the conformance tests: it builds control and data messages
//! byte by byte (independent of the crate's emitters), reads what the endpoint sends with its own
//! small parser, and keeps its own Ns/Nr.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use telcp::l2tp::{CallId, Config, Data, Event, Lac, LacConfig, Lns, LnsConfig};
use telcp::sim::{LinkConfig, NodeId, Sim};

/// The one place the tests set the RNG seed (the seed field is about to change type).
pub fn common(seed: u64) -> Config {
    Config {
        seed: telcp::io::seed(seed),
        ..Config::default()
    }
}

pub fn lac_addr() -> SocketAddr {
    "10.0.9.1:1701".parse().unwrap()
}
pub fn lns_addr() -> SocketAddr {
    "10.0.0.1:1701".parse().unwrap()
}

/// Message types (RFC 2661 section 3.2).
pub mod mt {
    pub const SCCRQ: u16 = 1;
    pub const SCCRP: u16 = 2;
    pub const SCCCN: u16 = 3;
    pub const STOPCCN: u16 = 4;
    pub const HELLO: u16 = 6;
    pub const OCRQ: u16 = 7;
    pub const OCRP: u16 = 8;
    pub const OCCN: u16 = 9;
    pub const ICRQ: u16 = 10;
    pub const ICRP: u16 = 11;
    pub const ICCN: u16 = 12;
    pub const CDN: u16 = 14;
    pub const WEN: u16 = 15;
    pub const SLI: u16 = 16;
}

/// AVP attribute types (RFC 2661 section 4.4).
pub mod at {
    pub const MESSAGE_TYPE: u16 = 0;
    pub const RESULT_CODE: u16 = 1;
    pub const PROTOCOL_VERSION: u16 = 2;
    pub const FRAMING_CAPABILITIES: u16 = 3;
    pub const BEARER_CAPABILITIES: u16 = 4;
    pub const TIE_BREAKER: u16 = 5;
    pub const FIRMWARE_REVISION: u16 = 6;
    pub const HOST_NAME: u16 = 7;
    pub const VENDOR_NAME: u16 = 8;
    pub const ASSIGNED_TUNNEL_ID: u16 = 9;
    pub const RECEIVE_WINDOW_SIZE: u16 = 10;
    pub const CHALLENGE: u16 = 11;
    pub const Q931_CAUSE: u16 = 12;
    pub const CHALLENGE_RESPONSE: u16 = 13;
    pub const ASSIGNED_SESSION_ID: u16 = 14;
    pub const CALL_SERIAL_NUMBER: u16 = 15;
    pub const MINIMUM_BPS: u16 = 16;
    pub const MAXIMUM_BPS: u16 = 17;
    pub const BEARER_TYPE: u16 = 18;
    pub const FRAMING_TYPE: u16 = 19;
    pub const CALLED_NUMBER: u16 = 21;
    pub const CALLING_NUMBER: u16 = 22;
    pub const SUB_ADDRESS: u16 = 23;
    pub const TX_CONNECT_SPEED: u16 = 24;
    pub const PHYSICAL_CHANNEL_ID: u16 = 25;
    pub const CALL_ERRORS: u16 = 34;
    pub const ACCM: u16 = 35;
    pub const RANDOM_VECTOR: u16 = 36;
    pub const RX_CONNECT_SPEED: u16 = 38;
    pub const SEQUENCING_REQUIRED: u16 = 39;
}

/// One AVP as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A {
    /// The whole first 16 bits (M, H, reserved, length) as received; 0 when building (computed).
    pub raw_flags: u16,
    pub m: bool,
    pub h: bool,
    pub vendor: u16,
    pub ty: u16,
    pub value: Vec<u8>,
}

/// A mandatory (M=1) IETF AVP.
pub fn m(ty: u16, value: impl Into<Vec<u8>>) -> A {
    A {
        raw_flags: 0,
        m: true,
        h: false,
        vendor: 0,
        ty,
        value: value.into(),
    }
}

/// An optional (M=0) IETF AVP.
pub fn o(ty: u16, value: impl Into<Vec<u8>>) -> A {
    A {
        m: false,
        ..m(ty, value)
    }
}

pub fn be16(x: u16) -> Vec<u8> {
    x.to_be_bytes().to_vec()
}
pub fn be32(x: u32) -> Vec<u8> {
    x.to_be_bytes().to_vec()
}

impl A {
    pub fn bytes(&self) -> Vec<u8> {
        let len = 6 + self.value.len();
        let mut f = len as u16 & 0x03ff;
        if self.m {
            f |= 0x8000;
        }
        if self.h {
            f |= 0x4000;
        }
        f |= self.raw_flags & 0x3c00;
        let mut v = f.to_be_bytes().to_vec();
        v.extend(self.vendor.to_be_bytes());
        v.extend(self.ty.to_be_bytes());
        v.extend(&self.value);
        v
    }
    pub fn u16(&self) -> Option<u16> {
        Some(u16::from_be_bytes(self.value.get(..2)?.try_into().ok()?))
    }
    pub fn u32(&self) -> Option<u32> {
        Some(u32::from_be_bytes(self.value.get(..4)?.try_into().ok()?))
    }
}

/// A control message: header T=1 L=1 S=1 version 2, then the AVPs (the first should be Message
/// Type, see [`with_type`]).
pub fn control(tid: u16, sid: u16, ns: u16, nr: u16, avps: &[A]) -> Vec<u8> {
    let body: Vec<u8> = avps.iter().flat_map(A::bytes).collect();
    let mut v = vec![0xc8, 0x02];
    v.extend(((12 + body.len()) as u16).to_be_bytes());
    for x in [tid, sid, ns, nr] {
        v.extend(x.to_be_bytes());
    }
    v.extend(body);
    v
}

/// The Message Type AVP first, then `avps`.
pub fn with_type(mt: u16, avps: Vec<A>) -> Vec<A> {
    let mut v = vec![m(at::MESSAGE_TYPE, be16(mt))];
    v.extend(avps);
    v
}

/// A control message as read back.
#[derive(Debug, Clone)]
pub struct Ctl {
    pub flags: u16,
    pub length: u16,
    pub tid: u16,
    pub sid: u16,
    pub ns: u16,
    pub nr: u16,
    pub avps: Vec<A>,
    pub raw: Vec<u8>,
}

impl Ctl {
    pub fn mt(&self) -> Option<u16> {
        self.avps
            .first()
            .filter(|a| a.ty == at::MESSAGE_TYPE && a.vendor == 0)
            .and_then(A::u16)
    }
    pub fn is_zlb(&self) -> bool {
        self.avps.is_empty()
    }
    pub fn avp(&self, ty: u16) -> Option<&A> {
        self.avps.iter().find(|a| a.vendor == 0 && a.ty == ty)
    }
    pub fn has(&self, ty: u16) -> bool {
        self.avp(ty).is_some()
    }
    /// Result Code and Error Code (RFC 2661 4.4.2).
    pub fn result(&self) -> Option<(u16, Option<u16>)> {
        let a = self.avp(at::RESULT_CODE)?;
        let r = a.u16()?;
        let e = a.value.get(2..4).map(|b| u16::from_be_bytes([b[0], b[1]]));
        Some((r, e))
    }
}

/// Parses a control message (None if it is not one or is malformed).
pub fn parse_ctl(b: &[u8]) -> Option<Ctl> {
    let flags = u16::from_be_bytes(b.get(..2)?.try_into().ok()?);
    if flags & 0x8000 == 0 {
        return None;
    }
    let g = |i: usize| Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?));
    let (length, tid, sid, ns, nr) = (g(2)?, g(4)?, g(6)?, g(8)?, g(10)?);
    let mut avps = Vec::new();
    let mut i = 12;
    while i < b.len() {
        let f = g(i)?;
        let len = usize::from(f & 0x03ff);
        if len < 6 || i + len > b.len() {
            return None;
        }
        avps.push(A {
            raw_flags: f,
            m: f & 0x8000 != 0,
            h: f & 0x4000 != 0,
            vendor: g(i + 2)?,
            ty: g(i + 4)?,
            value: b[i + 6..i + len].to_vec(),
        });
        i += len;
    }
    Some(Ctl {
        flags,
        length,
        tid,
        sid,
        ns,
        nr,
        avps,
        raw: b.to_vec(),
    })
}

/// A data message as read back.
#[derive(Debug, Clone)]
pub struct Dat {
    pub flags: u16,
    pub tid: u16,
    pub sid: u16,
    pub seq: Option<(u16, u16)>,
    pub payload: Vec<u8>,
}

pub fn parse_data(b: &[u8]) -> Option<Dat> {
    let flags = u16::from_be_bytes(b.get(..2)?.try_into().ok()?);
    if flags & 0x8000 != 0 {
        return None;
    }
    let g = |i: usize| Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?));
    let mut i = 2;
    if flags & 0x4000 != 0 {
        i += 2;
    }
    let (tid, sid) = (g(i)?, g(i + 2)?);
    i += 4;
    let seq = if flags & 0x0800 != 0 {
        i += 4;
        Some((g(i - 4)?, g(i - 2)?))
    } else {
        None
    };
    if flags & 0x0200 != 0 {
        i += 2 + usize::from(g(i)?);
    }
    Some(Dat {
        flags,
        tid,
        sid,
        seq,
        payload: b.get(i..)?.to_vec(),
    })
}

/// What the tests need of either endpoint.
pub trait Endpoint {
    fn feed(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, b: &[u8]) -> bool;
    fn timeout(&mut self, now: Instant);
    fn transmit(&mut self) -> Option<Vec<u8>>;
    fn event(&mut self) -> Option<Event>;
    fn data(&mut self) -> Option<Data>;
    fn deadline(&self) -> Option<Instant>;
}

macro_rules! endpoint {
    ($t:ty) => {
        impl Endpoint for $t {
            fn feed(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, b: &[u8]) -> bool {
                self.handle_datagram(now, from, to, b).is_ok()
            }
            fn timeout(&mut self, now: Instant) {
                self.handle_timeout(now)
            }
            fn transmit(&mut self) -> Option<Vec<u8>> {
                self.poll_transmit().map(|t| t.payload.to_vec())
            }
            fn event(&mut self) -> Option<Event> {
                self.poll_event()
            }
            fn data(&mut self) -> Option<Data> {
                self.poll_data()
            }
            fn deadline(&self) -> Option<Instant> {
                self.poll_timeout()
            }
        }
    };
}
endpoint!(Lns);
endpoint!(Lac);

/// The hand-written peer of an endpoint `E`: it is `me`, the endpoint is `them`.
pub struct Peer<E> {
    pub ep: E,
    pub now: Instant,
    pub me: SocketAddr,
    pub them: SocketAddr,
    /// Our Tunnel ID (the endpoint puts it in the headers it sends us).
    pub my_tid: u16,
    /// The endpoint's Tunnel ID (we put it in our headers).
    pub their_tid: u16,
    pub ns: u16,
    pub nr: u16,
    /// Every control message the endpoint sent, in order.
    pub log: Vec<Ctl>,
}

impl<E: Endpoint> Peer<E> {
    /// Sends raw bytes; returns whether the endpoint accepted them.
    pub fn raw(&mut self, b: &[u8]) -> bool {
        self.ep.feed(self.now, self.me, self.them, b)
    }

    /// Sends a control message of type `mt` on session `sid` with our Ns/Nr (Ns then advances).
    pub fn send(&mut self, mt: u16, sid: u16, avps: Vec<A>) -> bool {
        let b = control(self.their_tid, sid, self.ns, self.nr, &with_type(mt, avps));
        self.ns = self.ns.wrapping_add(1);
        self.raw(&b)
    }

    /// Sends a ZLB acknowledging everything received.
    pub fn zlb(&mut self) {
        let b = control(self.their_tid, 0, self.ns, self.nr, &[]);
        self.raw(&b);
    }

    /// Drains what the endpoint sent: control messages (our Nr advances past in-order ones).
    pub fn recv(&mut self) -> Vec<Ctl> {
        let mut out = Vec::new();
        while let Some(b) = self.ep.transmit() {
            if let Some(c) = parse_ctl(&b) {
                if !c.is_zlb() && c.ns == self.nr {
                    self.nr = self.nr.wrapping_add(1);
                }
                self.log.push(c.clone());
                out.push(c);
            }
        }
        out
    }

    /// Drains everything the endpoint sent, raw.
    pub fn recv_raw(&mut self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.ep.transmit()).collect()
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.event()).collect()
    }

    /// Advances time by `d`, letting every due timer fire; returns what was sent meanwhile.
    pub fn advance(&mut self, d: Duration) -> Vec<Ctl> {
        let end = self.now + d;
        let mut out = Vec::new();
        while let Some(t) = self.ep.deadline().filter(|t| *t <= end) {
            self.now = self.now.max(t);
            self.ep.timeout(self.now);
            out.extend(self.recv());
        }
        self.now = end;
        self.ep.timeout(end);
        out.extend(self.recv());
        out
    }

    /// The first non-ZLB message of type `mt` among `v`.
    pub fn find(v: &[Ctl], t: u16) -> Option<Ctl> {
        v.iter().find(|c| c.mt() == Some(t)).cloned()
    }
}

/// The AVPs an SCCRQ must carry (RFC 2661 6.1), with our Tunnel ID `tid`.
pub fn sccrq_avps(tid: u16) -> Vec<A> {
    vec![
        m(at::PROTOCOL_VERSION, vec![1, 0]),
        m(at::HOST_NAME, b"peer".to_vec()),
        m(at::FRAMING_CAPABILITIES, be32(3)),
        m(at::ASSIGNED_TUNNEL_ID, be16(tid)),
    ]
}

/// The AVPs an SCCRP must carry (RFC 2661 6.2).
pub fn sccrp_avps(tid: u16) -> Vec<A> {
    sccrq_avps(tid)
}

/// The AVPs an ICRQ must carry (RFC 2661 6.10).
pub fn icrq_avps(sid: u16, serial: u32) -> Vec<A> {
    vec![
        m(at::ASSIGNED_SESSION_ID, be16(sid)),
        m(at::CALL_SERIAL_NUMBER, be32(serial)),
    ]
}

/// The AVPs an ICCN must carry (RFC 2661 6.12).
pub fn iccn_avps() -> Vec<A> {
    vec![
        m(at::TX_CONNECT_SPEED, be32(64_000)),
        m(at::FRAMING_TYPE, be32(1)),
    ]
}

/// The AVPs an OCRQ must carry (RFC 2661 6.9), for our Session ID `sid` and the Called Number
/// `called`.
pub fn ocrq_avps(sid: u16, called: &[u8]) -> Vec<A> {
    vec![
        m(at::ASSIGNED_SESSION_ID, be16(sid)),
        m(at::CALL_SERIAL_NUMBER, be32(9)),
        m(at::MINIMUM_BPS, be32(9600)),
        m(at::MAXIMUM_BPS, be32(64_000)),
        m(at::BEARER_TYPE, be32(1)),
        m(at::FRAMING_TYPE, be32(1)),
        m(at::CALLED_NUMBER, called.to_vec()),
    ]
}

pub const MY_TID: u16 = 0x1111;
pub const MY_SID: u16 = 0x2222;

/// An LNS (not a contact: it serves every call) built from `cfg`, and us as its LAC.
pub fn lns_with(cfg: Config) -> Peer<Lns> {
    let now = Instant::now();
    let lns = Lns::new(
        LnsConfig {
            common: cfg,
            contact: false,
            ..LnsConfig::default()
        },
        now,
    )
    .unwrap();
    Peer {
        ep: lns,
        now,
        me: lac_addr(),
        them: lns_addr(),
        my_tid: MY_TID,
        their_tid: 0,
        ns: 0,
        nr: 0,
        log: Vec::new(),
    }
}

pub fn lns() -> Peer<Lns> {
    lns_with(common(7))
}

impl Peer<Lns> {
    /// SCCRQ, and the LNS's answer (learns its Tunnel ID from the SCCRP).
    pub fn sccrq(&mut self, avps: Vec<A>) -> Vec<Ctl> {
        self.send(mt::SCCRQ, 0, avps);
        let got = self.recv();
        if let Some(rp) = Self::find(&got, mt::SCCRP) {
            if let Some(id) = rp.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16) {
                self.their_tid = id;
            }
        }
        got
    }

    /// A tunnel established: SCCRQ, SCCRP, SCCCN, ZLB.
    pub fn tunnel(&mut self) {
        let got = self.sccrq(sccrq_avps(MY_TID));
        assert!(Self::find(&got, mt::SCCRP).is_some(), "no SCCRP: {got:?}");
        self.send(mt::SCCCN, 0, vec![]);
        self.recv();
    }

    /// A tunnel and an incoming call: ICRQ, ICRP, ICCN. Returns the LNS's Session ID.
    pub fn session(&mut self) -> u16 {
        self.tunnel();
        self.send(mt::ICRQ, 0, icrq_avps(MY_SID, 1));
        let got = self.recv();
        let icrp = Self::find(&got, mt::ICRP).expect("ICRP");
        let sid = icrp.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16).unwrap();
        self.send(mt::ICCN, sid, iccn_avps());
        self.recv();
        sid
    }
}

/// A LAC whose contact LNS is us; `open` starts a call (its SCCRQ is drained into `log`).
pub fn lac_with(cfg: Config) -> Peer<Lac> {
    let now = Instant::now();
    let mut lc = LacConfig::new(lns_addr());
    lc.common = cfg;
    lc.advertise_load_balance = false;
    Peer {
        ep: Lac::new(lc, now).unwrap(),
        now,
        me: lns_addr(),
        them: lac_addr(),
        my_tid: 0x3333,
        their_tid: 0,
        ns: 0,
        nr: 0,
        log: Vec::new(),
    }
}

pub fn lac() -> Peer<Lac> {
    lac_with(common(7))
}

impl Peer<Lac> {
    /// The LAC opens a call; returns it and its SCCRQ (whose Assigned Tunnel ID we learn).
    pub fn open(&mut self) -> (CallId, Ctl) {
        let call = self.ep.open_session(self.now).unwrap();
        let got = self.recv();
        let rq = Self::find(&got, mt::SCCRQ).expect("SCCRQ");
        self.their_tid = rq.avp(at::ASSIGNED_TUNNEL_ID).and_then(A::u16).unwrap();
        (call, rq)
    }

    /// Opens a call and answers as an LNS up to the LAC's ICRQ: SCCRP with the AVPs `sccrp`, then
    /// a ZLB (the ICRQ may wait for the SCCCN's acknowledgement, RFC 2661 5.8). Returns the call,
    /// the LAC's Session ID (the ICRQ's Assigned Session ID) and the messages it sent after the
    /// SCCRP (SCCCN, ICRQ).
    pub fn until_icrq_with(&mut self, sccrp: Vec<A>) -> (CallId, u16, Vec<Ctl>) {
        let (call, _) = self.open();
        self.send(mt::SCCRP, 0, sccrp);
        let mut got = self.recv();
        self.zlb();
        got.extend(self.recv());
        let icrq = Self::find(&got, mt::ICRQ).expect("ICRQ");
        let lac_sid = icrq.avp(at::ASSIGNED_SESSION_ID).and_then(A::u16).unwrap();
        (call, lac_sid, got)
    }

    /// Opens a call and answers its SCCRQ with the SCCRP of [`sccrp_avps`] less the AVPs of type
    /// `ty` (one RFC 2661 6.2 requires: not acceptable); returns what the LAC sent then.
    pub fn sccrp_without(&mut self, ty: u16) -> Vec<Ctl> {
        self.open();
        let avps: Vec<A> = sccrp_avps(self.my_tid)
            .into_iter()
            .filter(|a| a.ty != ty)
            .collect();
        self.send(mt::SCCRP, 0, avps);
        self.recv()
    }

    /// [`Peer::until_icrq_with`] the SCCRP of [`sccrp_avps`].
    pub fn until_icrq(&mut self) -> (CallId, u16, Vec<Ctl>) {
        self.until_icrq_with(sccrp_avps(self.my_tid))
    }

    /// Opens a call and answers as an LNS up to ICRP; returns the call, the LAC's session id and
    /// the messages it sent after SCCRP (SCCCN, ICRQ) and after ICRP (ICCN).
    pub fn session(&mut self) -> (CallId, u16, Vec<Ctl>) {
        let (call, lac_sid, mut got) = self.until_icrq();
        self.send(
            mt::ICRP,
            lac_sid,
            vec![m(at::ASSIGNED_SESSION_ID, be16(MY_SID))],
        );
        let more = self.recv();
        got.extend(more);
        self.zlb();
        (call, lac_sid, got)
    }
}

// ------------------------------------------------------------- LAC and LNS on the simulator

/// The address `ip`:1701 (RFC 2661 section 8.1: L2TP's UDP port).
pub fn addr(ip: &str) -> SocketAddr {
    format!("{ip}:1701").parse().unwrap()
}

/// `c` with the replayable seed `n`.
pub fn seeded(c: Config, n: u64) -> Config {
    Config {
        seed: telcp::io::seed(n),
        ..c
    }
}

/// The links of the lossy runs: 10 % loss, 5 % duplication, 5 % reordering.
pub fn lossy_link() -> LinkConfig {
    LinkConfig::lossy(0.1, 0.05, 0.05)
}

/// An LNS configuration with these common settings and every other one at its default.
pub fn lns_config_of(common: Config) -> LnsConfig {
    LnsConfig {
        common,
        ..Default::default()
    }
}

/// Adds a LAC named `name` at `ip`:1701, started at the simulator's time.
pub fn add_lac(sim: &mut Sim, name: &str, ip: &str, cfg: LacConfig) -> NodeId {
    let lac = Lac::new(cfg, sim.now()).unwrap();
    sim.add_node(name, &[addr(ip)], None, Box::new(lac))
}

/// Adds an LNS named `name` at `ip`:1701, started at the simulator's time.
pub fn add_lns(sim: &mut Sim, name: &str, ip: &str, cfg: LnsConfig) -> NodeId {
    let lns = Lns::new(cfg, sim.now()).unwrap();
    sim.add_node(name, &[addr(ip)], None, Box::new(lns))
}

/// A LAC at 10.0.9.1 and an LNS at 10.0.0.1 on one simulator.
pub struct Pair {
    pub sim: Sim,
    pub lac: NodeId,
    pub lns: NodeId,
}

impl Pair {
    /// A LAC and an LNS on a simulator seeded `seed` whose links are [`lossy_link`]; both
    /// endpoints are seeded from `seed` and retransmit up to 10 times; `lns` adjusts the LNS's
    /// configuration before it starts.
    pub fn lossy(seed: u64, lns: impl FnOnce(&mut LnsConfig)) -> Pair {
        let mut sim = Sim::new(seed, Instant::now());
        sim.set_default_link(lossy_link());
        let mut lac = LacConfig::new(addr("10.0.0.1"));
        lac.common = seeded(Config::default(), seed);
        lac.common.max_retries = 10;
        let mut lns_cfg = lns_config_of(seeded(Config::default(), seed + 1));
        lns_cfg.common.max_retries = 10;
        lns(&mut lns_cfg);
        Pair::new(sim, lac, lns_cfg)
    }

    /// The LAC (`lac`) and the LNS (`lns`) added to `sim`.
    pub fn new(mut sim: Sim, lac: LacConfig, lns: LnsConfig) -> Pair {
        let lac = add_lac(&mut sim, "lac", "10.0.9.1", lac);
        let lns = add_lns(&mut sim, "lns", "10.0.0.1", lns);
        Pair { sim, lac, lns }
    }
}

/// The LAC's events (the simulator collected them).
pub fn lac_events(sim: &mut Sim, id: NodeId) -> Vec<Event> {
    std::iter::from_fn(|| sim.poll_event_of::<Lac>(id)).collect()
}

/// The LNS's events (the simulator collected them).
pub fn lns_events(sim: &mut Sim, id: NodeId) -> Vec<Event> {
    std::iter::from_fn(|| sim.poll_event_of::<Lns>(id)).collect()
}

/// The pair's LAC events.
pub fn lac_ev(p: &mut Pair) -> Vec<Event> {
    lac_events(&mut p.sim, p.lac)
}

/// The pair's LNS events.
pub fn lns_ev(p: &mut Pair) -> Vec<Event> {
    lns_events(&mut p.sim, p.lns)
}

/// Whether `ev` holds a `TunnelUp` (the control connection established, RFC 2661 section 5.1).
pub fn tunnel_up_in(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::TunnelUp { .. }))
}

/// Whether `ev` holds a `TunnelDown`.
pub fn tunnel_down_in(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::TunnelDown { .. }))
}

/// Whether `ev` holds a `SessionUp` (a call established, RFC 2661 section 5.2).
pub fn session_up_in(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::SessionUp { .. }))
}

/// Whether `ev` holds a `SessionDown`.
pub fn session_down_in(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::SessionDown { .. }))
}

/// The Tunnel ID of the first `TunnelUp` in `ev`.
pub fn tunnel_up_id(ev: &[Event]) -> Option<u16> {
    ev.iter().find_map(|e| match e {
        Event::TunnelUp { tunnel, .. } => Some(*tunnel),
        _ => None,
    })
}
