//! Shared pieces of the GTP conformance tests (TS 29.060, TS 29.281): a gateway (one line
//! interface, the switch processor, two processors) wired in process with no loss, a hand-written
//! GTPv1 byte builder and an independent decoder of the answers, so the tests check the wire
//! format against the specification rather than against the crate's own codec.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::Transmit;
use telcp::health::{ClusterKey, NodeId, Policy};
use telcp::steering::limit::RateLimit;
use telcp::steering::line::LineConfig;
use telcp::steering::processor::ProcessorConfig;
use telcp::steering::switch::SwitchConfig;
use telcp::steering::{LineInterface, Processor, SwitchProcessor, VidLayout};

// ------------------------------------------------------------------ addresses

/// The SGSN's address (the hand-written peer).
pub const SGSN: [u8; 4] = [192, 0, 2, 10];
/// The gateway's address (where the SGSN sends).
pub const GW: [u8; 4] = [10, 0, 0, 1];
/// The restart counter the gateway is configured with (GTP-C).
pub const RECOVERY: u8 = 7;
/// The Recovery Time Stamp the gateway is configured with (PFCP, TS 29.244 section 8.2.65): it
/// started at 2025-06-01 00:00:00 UTC (1 748 736 000 s after the Unix epoch), in NTP seconds.
pub const RECOVERY_TIME_STAMP: u32 = telcp::steering::switch::NTP_UNIX_OFFSET + 1_748_736_000;

pub fn sa(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
}
pub fn sgsn_c() -> SocketAddr {
    sa(SGSN, 2123)
}
pub fn sgsn_u() -> SocketAddr {
    sa(SGSN, 2152)
}
pub fn gw_c() -> SocketAddr {
    sa(GW, 2123)
}
pub fn gw_u() -> SocketAddr {
    sa(GW, 2152)
}
fn line_fabric() -> SocketAddr {
    sa([172, 16, 0, 1], 4000)
}
fn switch_fabric() -> SocketAddr {
    sa([172, 16, 0, 100], 4000)
}
fn proc_fabric(id: u32) -> SocketAddr {
    sa([172, 16, 1, id as u8], 4000)
}

// ------------------------------------------------------------------ configuration

pub fn layout() -> VidLayout {
    VidLayout::teid32(8, 8).unwrap()
}
fn key() -> ClusterKey {
    ClusterKey::new(b"conformance gtp key")
}

/// The one place the tests set a seed (the switch processor's tie-breaks).
pub fn switch_config(seed: u64) -> SwitchConfig {
    let mut c = SwitchConfig::new(
        NodeId(1),
        switch_fabric(),
        vec![line_fabric()],
        vec![(NodeId(2), proc_fabric(2)), (NodeId(3), proc_fabric(3))],
        layout(),
        key(),
    );
    c.seed = telcp::io::seed(seed);
    c.recovery = RECOVERY;
    c.health.interval = Duration::from_millis(100);
    c.retransmit = Duration::from_millis(50);
    c.policy = Policy::LeastLoaded;
    c
}

fn processor_config(id: u32, max_sessions: usize) -> ProcessorConfig {
    let mut c = ProcessorConfig::new(
        NodeId(id),
        proc_fabric(id),
        switch_fabric(),
        line_fabric(),
        layout(),
        "100.0.0.0/8".parse().unwrap(),
        key(),
    );
    c.recovery = RECOVERY;
    c.max_sessions = max_sessions;
    c.health.interval = Duration::from_millis(100);
    c.retransmit = Duration::from_millis(50);
    c
}

fn line_config() -> LineConfig {
    let mut c = LineConfig::new(line_fabric(), switch_fabric(), layout(), NodeId(21), key());
    c.error_indications = RateLimit::default();
    c
}

// ------------------------------------------------------------------ the gateway

/// One line interface, the switch processor and processors 2 and 3, wired without loss.
pub struct Gw {
    pub now: Instant,
    pub line: LineInterface,
    pub sp: SwitchProcessor,
    pub procs: Vec<Processor>,
    outside: Vec<Transmit>,
}

impl Gw {
    /// A gateway whose processors hold at most `max_sessions` sessions each, brought up until
    /// both processors have a VID and the line interface steers to them.
    pub fn with_capacity(max_sessions: usize) -> Gw {
        Gw::configured(|c| c.max_sessions = max_sessions)
    }

    /// A gateway whose processors' configuration (100 sessions each) `f` changes, brought up
    /// as [`Gw::with_capacity`] does.
    pub fn configured(f: impl Fn(&mut ProcessorConfig)) -> Gw {
        let config = |id| {
            let mut c = processor_config(id, 100);
            f(&mut c);
            c
        };
        let now = Instant::now();
        let mut gw = Gw {
            now,
            line: LineInterface::new(line_config(), now).unwrap(),
            sp: {
                let mut sp = SwitchProcessor::new(switch_config(3), now).unwrap();
                sp.set_recovery_time_stamp(RECOVERY_TIME_STAMP);
                sp
            },
            procs: vec![
                Processor::new(config(2), now).unwrap(),
                Processor::new(config(3), now).unwrap(),
            ],
            outside: Vec::new(),
        };
        for _ in 0..100 {
            gw.advance(Duration::from_millis(50));
            let up = gw
                .sp
                .table()
                .iter()
                .filter(|e| e.state == telcp::steering::fabric::VidState::Up)
                .count();
            if gw.procs.iter().all(|p| p.vid().is_some())
                && up == 2
                && gw.line.table().version() == gw.sp.table_version()
            {
                gw.advance(Duration::from_millis(300));
                gw.outside.clear();
                return gw;
            }
        }
        panic!("the gateway did not come up");
    }

    pub fn new() -> Gw {
        Gw::with_capacity(100)
    }

    /// The line interface restarts: a new one in its place (same node id and addresses,
    /// incarnation `incarnation`), holding no table, at the gateway's clock.
    #[allow(dead_code)]
    pub fn restart_line(&mut self, incarnation: u32) {
        let mut c = line_config();
        c.incarnation = incarnation;
        self.line = LineInterface::new(c, self.now).unwrap();
    }

    /// The line interface's fabric address.
    #[allow(dead_code)]
    pub fn line_fabric(&self) -> SocketAddr {
        line_fabric()
    }

    /// Delivers every queued fabric datagram until the machines are quiet; datagrams to any other
    /// address leave the gateway and are kept for [`Gw::take`].
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut q: VecDeque<(SocketAddr, Transmit)> = VecDeque::new();
            while let Some(t) = self.line.poll_transmit() {
                q.push_back((line_fabric(), t));
            }
            while let Some(t) = self.sp.poll_transmit() {
                q.push_back((switch_fabric(), t));
            }
            for (i, p) in self.procs.iter_mut().enumerate() {
                while let Some(t) = p.poll_transmit() {
                    q.push_back((proc_fabric(i as u32 + 2), t));
                }
            }
            while self.line.poll_event().is_some() {}
            while self.sp.poll_event().is_some() {}
            for p in &mut self.procs {
                while p.poll_event().is_some() {}
            }
            if q.is_empty() {
                return;
            }
            let now = self.now;
            for (own, t) in q {
                let from = t.src.unwrap_or(own);
                if t.dst == line_fabric() {
                    let _ = self.line.handle_datagram(now, from, t.dst, &t.payload);
                } else if t.dst == switch_fabric() {
                    let _ = self.sp.handle_datagram(now, from, t.dst, &t.payload);
                } else if let Some(i) =
                    (0..self.procs.len()).find(|i| t.dst == proc_fabric(*i as u32 + 2))
                {
                    let _ = self.procs[i].handle_datagram(now, from, t.dst, &t.payload);
                } else {
                    self.outside.push(t);
                }
            }
        }
        panic!("the gateway's machines never went quiet");
    }

    /// Runs the clock forward by `d`, firing every timer on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..100_000 {
            self.pump();
            let next = [
                self.line.poll_timeout(),
                self.sp.poll_timeout(),
                self.procs[0].poll_timeout(),
                self.procs[1].poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    self.line.handle_timeout(now);
                    self.sp.handle_timeout(now);
                    for p in &mut self.procs {
                        p.handle_timeout(now);
                    }
                }
                _ => break,
            }
        }
        self.now = end;
        self.pump();
    }

    /// A datagram from outside (`from`) to the gateway address `to`; returns what left the
    /// gateway for outside addresses as a result (after the machines went quiet).
    pub fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) -> Vec<Transmit> {
        self.now += Duration::from_millis(1);
        let _ = self.line.handle_datagram(self.now, from, to, bytes);
        self.pump();
        self.take()
    }

    /// A GTP-C datagram from the SGSN's control address to the gateway's.
    pub fn c(&mut self, bytes: &[u8]) -> Vec<Transmit> {
        self.send(sgsn_c(), gw_c(), bytes)
    }

    /// A GTP-U datagram from the SGSN's user-plane address to the gateway's.
    pub fn u(&mut self, bytes: &[u8]) -> Vec<Transmit> {
        self.send(sgsn_u(), gw_u(), bytes)
    }

    /// What left the gateway since the last call.
    pub fn take(&mut self) -> Vec<Transmit> {
        std::mem::take(&mut self.outside)
    }

    /// G-PDUs the processors took as user data (own and backup sessions).
    pub fn user_packets(&self) -> u64 {
        self.procs
            .iter()
            .map(|p| p.stats().user_packets + p.stats().user_packets_backup)
            .sum()
    }

    /// Whether any processor holds a session with this TEID.
    pub fn has_session(&self, teid: u32) -> bool {
        self.procs.iter().any(|p| p.has_session(teid))
    }

    /// Creates a session for `imsi` (NSAPI 5) with the SGSN's TEIDs `sgsn_teid` (both planes);
    /// returns the decoded Create PDP Context Response.
    pub fn create(&mut self, imsi: &str, seq: u16, sgsn_teid: u32) -> Gtp {
        let out = self.c(&create_request(seq, &create_ies(imsi, sgsn_teid)));
        let r = only(&out);
        assert_eq!(r.mtype, 17, "a Create PDP Context Response");
        assert_eq!(r.cause(), Some(128), "the set-up was accepted");
        r
    }
}

/// The single datagram that left the gateway, decoded.
pub fn only(out: &[Transmit]) -> Gtp {
    assert_eq!(out.len(), 1, "exactly one answer, got {out:?}");
    Gtp::decode(&out[0].payload)
}

// ------------------------------------------------------------------ building messages

/// A TV element: type (below 128) and its fixed-length value.
pub fn tv(t: u8, v: &[u8]) -> Vec<u8> {
    let mut b = vec![t];
    b.extend_from_slice(v);
    b
}

/// A TLV element: type (128 and above), two-octet length, value.
pub fn tlv(t: u8, v: &[u8]) -> Vec<u8> {
    let mut b = vec![t];
    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
    b.extend_from_slice(v);
    b
}

/// A GTPv1 message with the S flag set (first octet 0x32): version 1, PT 1, no E or PN.
pub fn msg(mtype: u8, teid: u32, seq: u16, ies: &[u8]) -> Vec<u8> {
    let mut b = vec![0x32, mtype];
    b.extend_from_slice(&((ies.len() + 4) as u16).to_be_bytes());
    b.extend_from_slice(&teid.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(ies);
    b
}

/// A GTPv1 message with the E flag (and S) set and one extension header `ext_type` with
/// `content` (2 octets, so the header is one 4-octet unit).
pub fn msg_ext(
    mtype: u8,
    teid: u32,
    seq: u16,
    ext_type: u8,
    content: [u8; 2],
    body: &[u8],
) -> Vec<u8> {
    let mut b = vec![0x36, mtype];
    b.extend_from_slice(&((body.len() + 8) as u16).to_be_bytes());
    b.extend_from_slice(&teid.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&[0, ext_type, 1]);
    b.extend_from_slice(&content);
    b.push(0);
    b.extend_from_slice(body);
    b
}

/// A G-PDU without optional fields (first octet 0x30).
pub fn g_pdu(teid: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0x30, 0xff];
    b.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    b.extend_from_slice(&teid.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

/// A small IPv4 packet from the UE, as the T-PDU of a G-PDU.
/// An IPv4/UDP packet `src` -> `dst` (UDP ports 1000 -> 40000) carrying `payload`, with a
/// correct IPv4 header checksum (RFC 791) and a zero UDP checksum (RFC 768: none computed).
pub fn ipv4_udp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let sum: u32 = p
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(c[1]))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    let ulen = 8 + payload.len();
    p.extend_from_slice(&[0x03, 0xe8, 0x9c, 0x40, (ulen >> 8) as u8, ulen as u8, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// The PFCP peer (SMF) address of the tests: the SGSN's address, port 8805.
pub fn smf() -> SocketAddr {
    sa(SGSN, 8805)
}

/// The gateway's PFCP address (UPF): port 8805.
pub fn upf() -> SocketAddr {
    sa(GW, 8805)
}

/// A PFCP IE (TS 29.244 section 8.1.1): two-octet type, two-octet length, value.
pub fn pfcp_ie(t: u16, v: &[u8]) -> Vec<u8> {
    let mut b = t.to_be_bytes().to_vec();
    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
    b.extend_from_slice(v);
    b
}

pub fn t_pdu() -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 24, 0, 1, 0, 0, 64, 17, 0, 0];
    p.extend_from_slice(&[100, 3, 0, 1, 198, 51, 100, 1]);
    p.extend_from_slice(b"conf");
    p
}

/// The IMSI IE's TBCD value for up to 15 digits.
pub fn imsi(digits: &str) -> [u8; 8] {
    let mut out = [0xff; 8];
    for (i, c) in digits.bytes().enumerate() {
        let v = c - b'0';
        if i % 2 == 0 {
            out[i / 2] = (out[i / 2] & 0xf0) | v;
        } else {
            out[i / 2] = (out[i / 2] & 0x0f) | (v << 4);
        }
    }
    out
}

pub const QOS: [u8; 4] = [0x02, 0x0b, 0x92, 0x1f];

/// The elements of a Create PDP Context Request (TS 29.060 7.3.1), type order: IMSI, Selection
/// Mode, TEID Data I, TEID Control Plane, NSAPI, End User Address (IPv4, dynamic), APN, SGSN
/// Address for signalling, SGSN Address for user traffic, QoS Profile.
pub fn create_ies(imsi_digits: &str, sgsn_teid: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(tv(2, &imsi(imsi_digits)));
    b.extend(tv(15, &[0xfc]));
    b.extend(tv(16, &sgsn_teid.to_be_bytes()));
    b.extend(tv(17, &sgsn_teid.to_be_bytes()));
    b.extend(tv(20, &[5]));
    b.extend(tlv(128, &[0xf1, 0x21]));
    b.extend(tlv(131, b"\x08internet"));
    b.extend(tlv(133, &SGSN));
    b.extend(tlv(133, &SGSN));
    b.extend(tlv(135, &QOS));
    b
}

/// A Create PDP Context Request (type 16, TEID 0).
pub fn create_request(seq: u16, ies: &[u8]) -> Vec<u8> {
    msg(16, 0, seq, ies)
}

/// The elements of an Update PDP Context Request (TS 29.060 7.3.3, SGSN-initiated): TEID Data I,
/// TEID Control Plane, NSAPI, SGSN Addresses for signalling and user traffic, QoS Profile.
pub fn update_ies(sgsn_teid: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(tv(16, &sgsn_teid.to_be_bytes()));
    b.extend(tv(17, &sgsn_teid.to_be_bytes()));
    b.extend(tv(20, &[5]));
    b.extend(tlv(133, &SGSN));
    b.extend(tlv(133, &SGSN));
    b.extend(tlv(135, &QOS));
    b
}

/// The elements of a Delete PDP Context Request (TS 29.060 7.3.5): Teardown Ind, NSAPI.
pub fn delete_ies() -> Vec<u8> {
    let mut b = tv(19, &[1]);
    b.extend(tv(20, &[5]));
    b
}

// ------------------------------------------------------------------ decoding answers

/// A GTPv1 message decoded by this file's own reading of TS 29.060 section 6 / TS 29.281 section
/// 5 and the IE formats of TS 29.060 7.7 (TV lengths from the IE table, TLV with two-octet
/// length, the Extension Header Type List with a one-octet length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gtp {
    pub flags: u8,
    pub mtype: u8,
    pub length: u16,
    pub teid: u32,
    pub seq: Option<u16>,
    pub exts: Vec<(u8, Vec<u8>)>,
    /// (type, value) in wire order.
    pub ies: Vec<(u8, Vec<u8>)>,
    /// The body after the header (the T-PDU of a G-PDU, the IEs otherwise).
    pub body: Vec<u8>,
}

/// The fixed value length of the TV elements the gateway may send (TS 29.060 7.7).
fn tv_len(t: u8) -> usize {
    match t {
        1 | 8 | 13 | 14 | 15 | 19 | 20 => 1,
        2 => 8,
        16 | 17 | 127 => 4,
        18 => 5,
        _ => panic!("TV element {t} the gateway should not send"),
    }
}

impl Gtp {
    pub fn decode(b: &[u8]) -> Gtp {
        assert!(b.len() >= 8, "shorter than the mandatory header");
        let flags = b[0];
        let length = u16::from_be_bytes([b[2], b[3]]);
        assert_eq!(
            usize::from(length),
            b.len() - 8,
            "Length counts the octets after the first 8"
        );
        let teid = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        let mut at = 8;
        let mut seq = None;
        let mut exts = Vec::new();
        if flags & 0x07 != 0 {
            if flags & 0x02 != 0 {
                seq = Some(u16::from_be_bytes([b[8], b[9]]));
            }
            let mut next = b[11];
            at = 12;
            while flags & 0x04 != 0 && next != 0 {
                let units = usize::from(b[at]);
                assert!(units > 0);
                let content = b[at + 1..at + units * 4 - 1].to_vec();
                exts.push((next, content));
                next = b[at + units * 4 - 1];
                at += units * 4;
            }
        }
        let body = b[at..].to_vec();
        let mut ies = Vec::new();
        if b[1] != 0xff {
            let mut i = at;
            while i < b.len() {
                let t = b[i];
                let (len, hdr) = if t < 128 {
                    (tv_len(t), 1)
                } else if t == 141 {
                    (usize::from(b[i + 1]), 2)
                } else {
                    (usize::from(u16::from_be_bytes([b[i + 1], b[i + 2]])), 3)
                };
                ies.push((t, b[i + hdr..i + hdr + len].to_vec()));
                i += hdr + len;
            }
            assert_eq!(i, b.len(), "the elements fill the message exactly");
        }
        Gtp {
            flags,
            mtype: b[1],
            length,
            teid,
            seq,
            exts,
            ies,
            body,
        }
    }

    pub fn version(&self) -> u8 {
        self.flags >> 5
    }

    /// The first element of type `t`.
    pub fn ie(&self, t: u8) -> Option<&[u8]> {
        self.ies
            .iter()
            .find(|(x, _)| *x == t)
            .map(|(_, v)| v.as_slice())
    }

    pub fn cause(&self) -> Option<u8> {
        self.ie(1).map(|v| v[0])
    }

    pub fn u32_ie(&self, t: u8) -> Option<u32> {
        self.ie(t)
            .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }

    /// The GSN Address elements (type 133) as addresses.
    pub fn gsn_addresses(&self) -> Vec<IpAddr> {
        self.ies
            .iter()
            .filter(|(t, _)| *t == 133)
            .map(|(_, v)| match v.len() {
                4 => IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
                16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v.as_slice()).unwrap())),
                n => panic!("GSN Address of {n} octets"),
            })
            .collect()
    }

    pub fn types(&self) -> Vec<u8> {
        self.ies.iter().map(|(t, _)| *t).collect()
    }
}
