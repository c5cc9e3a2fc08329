//! The steering claims, as scenarios on the deterministic simulator with loss.
//!
//! Topology: an SGSN (a test peer speaking GTPv1 with retransmissions) in front of the gateway's
//! line interfaces; behind them, on the fabric, the switch processor and four processors.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, Policy};
use telcp::l2tp::wire::{ControlMessage, DataMessage, Message as L2tpMessage};
use telcp::sim::{LinkConfig, NodeId, Sim};
use telcp::steering::fabric::{FabricMessage, VidState};
use telcp::steering::gtp::{self, Apn, Cause, EndUserAddress, Ie, Imsi, Message, MessageType};
use telcp::steering::limit::RateLimit;
use telcp::steering::line::{DropReason, LineConfig, Verdict};
use telcp::steering::processor::{ProcessorConfig, ProcessorEvent};
use telcp::steering::switch::{SwitchConfig, SwitchEvent};
use telcp::steering::{LineInterface, Processor, SwitchProcessor, VidLayout, VirtualId};
use telcp::{Node, Transmit};

const SGSN_IP: [u8; 4] = [192, 0, 2, 10];
const GW_IP: [u8; 4] = [10, 0, 0, 1];
const GW2_IP: [u8; 4] = [10, 0, 0, 2];

fn sa(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
}
fn li_fabric(i: u8) -> SocketAddr {
    sa([172, 16, 0, i], 4000)
}
fn sp_fabric() -> SocketAddr {
    sa([172, 16, 0, 100], 4000)
}
fn p_fabric(id: u32) -> SocketAddr {
    sa([172, 16, 1, id as u8], 4000)
}

// ---------------------------------------------------------------- the SGSN test peer

#[derive(Debug, Clone, Default)]
struct SgsnSession {
    nsapi: u8,
    own_teid: u32,
    /// The gateway's TEIDs from the Create PDP Context Response.
    gw_teid_c: u32,
    gw_teid_u: u32,
    ue: Option<Ipv4Addr>,
    created: Option<Cause>,
    updates_ok: u32,
    /// TEIDs the Update responses carried.
    update_teids: Vec<u32>,
    deleted: Option<Cause>,
}

#[derive(Debug)]
struct Outstanding {
    bytes: Vec<u8>,
    dst: SocketAddr,
    next: Instant,
    tries: u32,
    session: usize,
}

/// Attempts per request: a request crosses up to five lossy hops before its answer comes back.
const N3: u32 = 12;

/// Attempts per request in the failover runs over many seeds (10 % loss on every hop).
///
/// An attempt is answered only if it crosses five lossy hops (SGSN -> line -> switch or
/// processor -> line -> SGSN; the fabric sync in between is retried by the machines), so with
/// 10 % loss an attempt fails with q = 1 - 0.9^5 = 0.4095 and a request goes unanswered after n
/// attempts with q^n: 2.2e-5 for n = 12. A failover run sends about 90 requests (40 Create, 40
/// Update, the victim's Delete), so with n = 12 about 2e-3 of the seeds fail on loss alone:
/// STEERING_SEED=8008 and 13224 were such runs (seeds 8028..8036 and 13244..13252; the trace
/// showed every attempt that reached a processor answered, and all 12 attempts of one Create
/// lost on one hop or another). With n = 24, q^n = 4.9e-10: a sweep of 100 000 seeds (9e6
/// requests) expects 0.004 failures.
const N3_HEAVY_LOSS: u32 = 24;

/// A GTPv1 SGSN: sends requests, retransmits them (T3 = 300 ms, N3 attempts), records answers.
#[derive(Debug)]
struct Sgsn {
    gw: SocketAddr,
    seq: u16,
    sessions: Vec<SgsnSession>,
    outstanding: std::collections::BTreeMap<u16, Outstanding>,
    out: Vec<Transmit>,
    responses: Vec<Message<'static>>,
    /// Where the responses came from.
    response_sources: Vec<SocketAddr>,
    echo_recovery: Option<u8>,
    /// Error Indications and Version Not Supported messages received: (from, to, message).
    unsolicited: Vec<(SocketAddr, SocketAddr, Message<'static>)>,
    /// Attempts per request (N3).
    n3: u32,
}

impl Sgsn {
    fn new(gw: SocketAddr) -> Sgsn {
        Sgsn {
            gw,
            seq: 0,
            sessions: Vec::new(),
            outstanding: std::collections::BTreeMap::new(),
            out: Vec::new(),
            responses: Vec::new(),
            response_sources: Vec::new(),
            echo_recovery: None,
            unsolicited: Vec::new(),
            n3: N3,
        }
    }

    fn request(&mut self, now: Instant, m: Message<'static>, session: usize) {
        let bytes = m.to_vec().unwrap();
        let seq = m.header.sequence.unwrap();
        self.out.push(Transmit {
            dst: self.gw,
            src: Some(sa(SGSN_IP, 2123)),
            link_dst: None,
            payload: bytes.clone().into(),
        });
        self.outstanding.insert(
            seq,
            Outstanding {
                bytes,
                dst: self.gw,
                next: now + Duration::from_millis(300),
                tries: 1,
                session,
            },
        );
    }

    fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends a hand-made Create PDP Context Request for a new session slot.
    fn raw_create(&mut self, now: Instant, ies: Vec<Ie<'static>>) -> usize {
        let idx = self.sessions.len();
        self.sessions.push(SgsnSession::default());
        let seq = self.next_seq();
        let m = Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, 0, seq, ies);
        self.request(now, m, idx);
        idx
    }

    fn echo(&mut self, now: Instant) {
        let seq = self.next_seq();
        self.request(
            now,
            Message::new(MessageType::ECHO_REQUEST, 0, seq, vec![]),
            usize::MAX,
        );
    }

    fn create(&mut self, now: Instant, imsi: &str, nsapi: u8) -> usize {
        let idx = self.sessions.len();
        let own_teid = 0x5500_0000 + idx as u32 + 1;
        self.sessions.push(SgsnSession {
            nsapi,
            own_teid,
            ..Default::default()
        });
        let seq = self.next_seq();
        let sgsn = IpAddr::V4(Ipv4Addr::from(SGSN_IP));
        let m = Message::new(
            MessageType::CREATE_PDP_CONTEXT_REQUEST,
            0,
            seq,
            vec![
                Ie::Imsi(Imsi::from_digits(imsi).unwrap()),
                Ie::Recovery(1),
                Ie::SelectionMode(0xfc),
                Ie::TeidDataI(own_teid),
                Ie::TeidControl(own_teid),
                Ie::Nsapi(nsapi),
                Ie::EndUserAddress(EndUserAddress::ipv4(None)),
                Ie::Apn(Apn::from_name("internet").unwrap()),
                Ie::GsnAddress(sgsn),
                Ie::GsnAddress(sgsn),
                Ie::QosProfile(std::borrow::Cow::Borrowed(&[0, 0x0b, 0x92, 0x1f])),
            ],
        );
        self.request(now, m, idx);
        idx
    }

    fn update(&mut self, now: Instant, idx: usize) {
        let s = &self.sessions[idx];
        let (teid, own) = (s.gw_teid_c, s.own_teid);
        let seq = self.next_seq();
        let sgsn = IpAddr::V4(Ipv4Addr::from(SGSN_IP));
        let m = Message::new(
            MessageType::UPDATE_PDP_CONTEXT_REQUEST,
            teid,
            seq,
            vec![
                Ie::TeidDataI(own),
                Ie::TeidControl(own),
                Ie::Nsapi(self.sessions[idx].nsapi),
                Ie::GsnAddress(sgsn),
                Ie::GsnAddress(sgsn),
                Ie::QosProfile(std::borrow::Cow::Borrowed(&[0, 0x0b, 0x92, 0x1f])),
            ],
        );
        self.request(now, m, idx);
    }

    fn delete(&mut self, now: Instant, idx: usize) {
        let teid = self.sessions[idx].gw_teid_c;
        let seq = self.next_seq();
        let m = Message::new(
            MessageType::DELETE_PDP_CONTEXT_REQUEST,
            teid,
            seq,
            vec![Ie::TeardownInd(0xff), Ie::Nsapi(self.sessions[idx].nsapi)],
        );
        self.request(now, m, idx);
    }

    fn g_pdu(&mut self, idx: usize) {
        let teid = self.sessions[idx].gw_teid_u;
        let ue = self.sessions[idx].ue.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let m = Message::g_pdu(teid, inner_ipv4(ue, b"user data"));
        self.out.push(Transmit {
            dst: SocketAddr::new(self.gw.ip(), 2152),
            src: Some(sa(SGSN_IP, 2152)),
            link_dst: None,
            payload: m.to_vec().unwrap().into(),
        });
    }

    /// Sends `bytes` from the SGSN's port `src_port` to the gateway's port `dst_port`, once.
    fn send_raw(&mut self, src_port: u16, dst_port: u16, bytes: Vec<u8>) {
        self.out.push(Transmit {
            dst: SocketAddr::new(self.gw.ip(), dst_port),
            src: Some(sa(SGSN_IP, src_port)),
            link_dst: None,
            payload: bytes.into(),
        });
    }

    /// A G-PDU to any TEID, from the SGSN's UDP port `src_port`.
    fn g_pdu_to(&mut self, src_port: u16, teid: u32) {
        let m = Message::g_pdu(teid, inner_ipv4(Ipv4Addr::new(10, 9, 9, 9), b"stale"));
        self.send_raw(src_port, 2152, m.to_vec().unwrap());
    }

    /// Error Indications received, with the TEID Data I each carries.
    fn error_indications(&self) -> Vec<(SocketAddr, SocketAddr, &Message<'static>)> {
        self.unsolicited
            .iter()
            .filter(|(_, _, m)| m.message_type() == MessageType::ERROR_INDICATION)
            .map(|(f, t, m)| (*f, *t, m))
            .collect()
    }

    /// Version Not Supported messages received.
    fn version_not_supported(&self) -> Vec<(SocketAddr, SocketAddr, &Message<'static>)> {
        self.unsolicited
            .iter()
            .filter(|(_, _, m)| m.message_type() == MessageType::VERSION_NOT_SUPPORTED)
            .map(|(f, t, m)| (*f, *t, m))
            .collect()
    }

    fn created(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.created == Some(Cause::REQUEST_ACCEPTED))
            .count()
    }
}

impl Node for Sgsn {
    fn handle_datagram(&mut self, _now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Ok(m) = gtp::parse(data) else { return };
        if matches!(
            m.message_type(),
            MessageType::ERROR_INDICATION | MessageType::VERSION_NOT_SUPPORTED
        ) {
            self.unsolicited.push((from, to, m.into_owned()));
            return;
        }
        self.response_sources.push(from);
        let Some(seq) = m.header.sequence else { return };
        let Some(o) = self.outstanding.remove(&seq) else {
            return; // a duplicate answer
        };
        let idx = o.session;
        match m.message_type() {
            MessageType::ECHO_RESPONSE => self.echo_recovery = m.recovery(),
            MessageType::CREATE_PDP_CONTEXT_RESPONSE => {
                let s = &mut self.sessions[idx];
                s.created = m.cause();
                s.gw_teid_c = m.teid_control().unwrap_or(0);
                s.gw_teid_u = m.teid_data_i().unwrap_or(0);
                s.ue = m.end_user_address().and_then(|e| e.ipv4_addr());
            }
            MessageType::UPDATE_PDP_CONTEXT_RESPONSE => {
                let s = &mut self.sessions[idx];
                if m.cause() == Some(Cause::REQUEST_ACCEPTED) {
                    s.updates_ok += 1;
                }
                s.update_teids.extend(m.teid_data_i());
            }
            MessageType::DELETE_PDP_CONTEXT_RESPONSE => {
                self.sessions[idx].deleted = m.cause();
            }
            _ => {}
        }
        self.responses.push(m.into_owned());
    }

    fn handle_timeout(&mut self, now: Instant) {
        for o in self.outstanding.values_mut() {
            if o.next <= now && o.tries < self.n3 {
                o.tries += 1;
                o.next = now + Duration::from_millis(300);
                self.out.push(Transmit {
                    dst: o.dst,
                    src: Some(sa(SGSN_IP, 2123)),
                    link_dst: None,
                    payload: o.bytes.clone().into(),
                });
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.outstanding
            .values()
            .filter(|o| o.tries < self.n3)
            .map(|o| o.next)
            .min()
    }
}

/// An IPv4/UDP packet from the UE, with a correct header checksum (UDP checksum 0).
fn inner_ipv4(src: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&[192, 0, 2, 1]);
    let sum: u32 = p
        .chunks(2)
        .map(|c| (u32::from(c[0]) << 8) | u32::from(c[1]))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&[0x9c, 0x40, 0x9c, 0x41]);
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

// ---------------------------------------------------------------- the gateway

const PROCS: [u32; 4] = [11, 12, 13, 14];

fn layout() -> VidLayout {
    VidLayout::teid32(8, 8).unwrap()
}
fn l2tp_layout() -> VidLayout {
    VidLayout::id16(4, 4).unwrap()
}
fn key() -> ClusterKey {
    ClusterKey::new(b"steering test key")
}

fn processor_config(id: u32, incarnation: u32) -> ProcessorConfig {
    ProcessorConfig {
        id,
        incarnation,
        fabric_addr: p_fabric(id),
        switch_addr: sp_fabric(),
        switch_node: 1,
        line_addr: li_fabric(1),
        layout: layout(),
        l2tp_layout: Some(l2tp_layout()),
        // 1 % of load per session: health's least-loaded policy compares percentages.
        max_sessions: 100,
        max_shadow: 400,
        ue_pool: "10.0.0.0/8".parse().unwrap(),
        ue_pool_v6: None,
        recovery: incarnation as u8,
        retransmit: Duration::from_millis(50),
        max_retries: 20,
        key: key(),
        heartbeat_interval: Duration::from_millis(100),
        queue_limit: 4096,
        error_indications: RateLimit::default(),
        non_existent: RateLimit::default(),
        extension_headers: RateLimit::default(),
    }
}

fn switch_config(lines: &[SocketAddr]) -> SwitchConfig {
    SwitchConfig {
        node: 1,
        incarnation: 1,
        rejoin_grace: Duration::from_millis(500),
        fabric_addr: sp_fabric(),
        line_interfaces: lines.to_vec(),
        processors: PROCS.iter().map(|&id| (id, p_fabric(id))).collect(),
        layout: layout(),
        l2tp_layout: Some(l2tp_layout()),
        recovery: 7,
        max_sessions: 10_000,
        max_recent: 1000,
        recent_window: Duration::from_secs(10),
        retransmit: Duration::from_millis(50),
        withdraw_after: Duration::from_secs(3),
        key: key(),
        heartbeat_interval: Duration::from_millis(100),
        misses_suspect: 3,
        misses_down: 6,
        overload_percent: 95,
        policy: Policy::LeastLoaded,
        seed: telcp::io::seed(5),
        queue_limit: 4096,
        version_not_supported: RateLimit::default(),
        error_indications: RateLimit::default(),
        echo_responses: RateLimit::default(),
        extension_headers: RateLimit::default(),
    }
}

fn line_config(i: u8) -> LineConfig {
    LineConfig {
        fabric_addr: li_fabric(i),
        switch_addr: sp_fabric(),
        layout: layout(),
        l2tp_layout: Some(l2tp_layout()),
        queue_limit: 4096,
        error_indications: RateLimit::default(),
        non_existent: RateLimit::default(),
        extension_headers: RateLimit::default(),
    }
}

struct Gateway {
    sim: Sim,
    sgsn: NodeId,
    lines: Vec<NodeId>,
    sp: NodeId,
    procs: HashMap<u32, NodeId>,
}

impl Gateway {
    /// A gateway with `n_lines` line interfaces (the SGSN talks to the first), on links with
    /// `loss`, duplication and reordering; runs until every processor has its VID.
    fn new(seed: u64, loss: f64, n_lines: u8) -> Gateway {
        let start = Instant::now();
        let seed = seed
            + std::env::var("STEERING_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        let mut sim = Sim::new(seed, start);
        sim.set_default_link(LinkConfig::lossy(loss, loss / 2.0, loss / 2.0));
        sim.set_trace_limit(10_000);
        let sgsn = sim.add_node(
            "sgsn",
            &[sa(SGSN_IP, 0)],
            None,
            Box::new(Sgsn::new(sa(GW_IP, 2123))),
        );
        let line_addrs: Vec<SocketAddr> = (1..=n_lines).map(li_fabric).collect();
        let mut lines = Vec::new();
        for i in 1..=n_lines {
            let gw = if i == 1 { GW_IP } else { GW2_IP };
            let li = LineInterface::new(line_config(i), start).unwrap();
            lines.push(sim.add_node(
                format!("line{i}"),
                &[li_fabric(i), sa(gw, 0)],
                None,
                Box::new(li),
            ));
        }
        let sp = SwitchProcessor::new(switch_config(&line_addrs), start).unwrap();
        let sp = sim.add_node("switch", &[sp_fabric()], None, Box::new(sp));
        let mut procs = HashMap::new();
        for id in PROCS {
            let p = Processor::new(processor_config(id, 1), start).unwrap();
            procs.insert(
                id,
                sim.add_node(format!("proc{id}"), &[p_fabric(id)], None, Box::new(p)),
            );
        }
        let mut gw = Gateway {
            sim,
            sgsn,
            lines,
            sp,
            procs,
        };
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(10), Duration::from_secs(5), |s| {
                PROCS.iter().all(|id| {
                    let sp = s.node::<SwitchProcessor>(NodeId(1 + n_lines as usize));
                    sp.vid_of(*id).is_some()
                        && sp
                            .table()
                            .iter()
                            .filter(|e| e.state == VidState::Up)
                            .count()
                            == PROCS.len()
                })
            });
        assert!(ok, "processors did not all get a VID and come up");
        gw.sim.run_for(Duration::from_millis(500));
        gw
    }

    fn sgsn(&mut self) -> &mut Sgsn {
        self.sim.node_mut::<Sgsn>(self.sgsn)
    }
    fn sp(&self) -> &SwitchProcessor {
        self.sim.node::<SwitchProcessor>(self.sp)
    }
    fn line(&self, i: usize) -> &LineInterface {
        self.sim.node::<LineInterface>(self.lines[i])
    }
    fn proc(&self, id: u32) -> &Processor {
        self.sim.node::<Processor>(self.procs[&id])
    }
    fn proc_by_vid(&self, vid: VirtualId) -> Option<u32> {
        PROCS
            .iter()
            .copied()
            .find(|id| self.sim.is_alive(self.procs[id]) && self.proc(*id).vid() == Some(vid))
    }

    /// Creates `n` sessions and runs until all are answered.
    fn create_sessions(&mut self, n: usize) {
        self.create_sessions_every(n, Duration::from_millis(20));
    }

    /// Creates `n` sessions, one every `gap`, and runs until all are answered.
    fn create_sessions_every(&mut self, n: usize, gap: Duration) {
        for i in 0..n {
            let now = self.sim.now();
            let imsi = format!("00101{:010}", i);
            self.sgsn().create(now, &imsi, 5);
            self.sim.run_for(gap);
        }
        let ok = self
            .sim
            .run_until_cond(Duration::from_millis(50), Duration::from_secs(20), |s| {
                s.node::<Sgsn>(NodeId(0))
                    .sessions
                    .iter()
                    .all(|x| x.created.is_some())
            });
        assert!(ok, "not every Create PDP Context Request was answered");
    }

    fn settle(&mut self) {
        self.sim.run_for(Duration::from_secs(2));
    }
}

// ---------------------------------------------------------------- claims 1-3

#[test]
fn claims_1_2_3_setup_goes_through_the_switch_to_a_processor_selected_by_load() {
    let mut gw = Gateway::new(1, 0.05, 1);
    let from_line_before = gw.sp().stats().from_line;
    // One set-up per heartbeat interval and a half, so the switch sees each new load.
    gw.create_sessions_every(40, Duration::from_millis(150));
    let layout = layout();
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert_eq!(sgsn.created(), 40, "every session is accepted");
    let sessions = sgsn.sessions.clone();
    // Claim 3: the replies came back through the line interface, from the gateway's address.
    assert!(sgsn.response_sources.iter().all(|a| *a == sa(GW_IP, 2123)));
    assert!(gw.line(0).stats().transmitted >= 40);

    // Claim 1: the line interface passed every set-up (and its retransmissions) to the switch.
    assert!(gw.line(0).stats().to_switch >= 40);
    assert!(gw.sp().stats().from_line - from_line_before >= 40);
    // Claim 2: the switch directed each to a processor, with a different backup.
    assert!(gw.sp().stats().setups_directed >= 40);
    let mut per_proc: HashMap<u32, usize> = HashMap::new();
    let mut ues = std::collections::HashSet::new();
    for s in &sessions {
        let p = layout
            .primary(s.gw_teid_c)
            .expect("the TEID carries a primary VID");
        let b = layout
            .backup(s.gw_teid_c)
            .expect("the TEID carries a backup VID");
        assert_ne!(p, b, "the backup is a different processor");
        // Claim 3: the processor that holds the session is the one whose VID the TEIDs carry.
        let holder = gw
            .proc_by_vid(p)
            .expect("the primary VID names a live processor");
        assert!(gw.proc(holder).has_session(s.gw_teid_c));
        assert_eq!(s.gw_teid_u, s.gw_teid_c);
        let backup = gw
            .proc_by_vid(b)
            .expect("the backup VID names a live processor");
        assert!(
            gw.proc(backup).has_session(s.gw_teid_c),
            "replicated to the backup"
        );
        *per_proc.entry(holder).or_default() += 1;
        assert!(ues.insert(s.ue.expect("an End User Address")));
    }
    // Retransmitted requests (lossy links) created no second session.
    let total: usize = PROCS.iter().map(|id| gw.proc(*id).session_count()).sum();
    assert_eq!(total, 40);
    // By load: least loaded first, so the 40 sessions spread evenly over the 4 processors.
    assert_eq!(per_proc.len(), 4, "{per_proc:?}");
    let (min, max) = (
        per_proc.values().min().unwrap(),
        per_proc.values().max().unwrap(),
    );
    assert!(max - min <= 2, "uneven spread {per_proc:?}");
    gw.settle();
    for id in PROCS {
        let load = gw.sp().monitor().load(telcp::health::NodeId(id)).unwrap();
        assert_eq!(load.used as usize, per_proc[&id], "health carries the load");
    }
}

#[test]
fn switch_answers_echo_and_refuses_when_no_processor() {
    let mut gw = Gateway::new(2, 0.0, 1);
    let now = gw.sim.now();
    gw.sgsn().echo(now);
    gw.sim.run_for(Duration::from_millis(100));
    assert_eq!(gw.sgsn().echo_recovery, Some(7));
    assert_eq!(gw.sp().stats().echoes, 1);
    for id in PROCS {
        let n = gw.procs[&id];
        gw.sim.crash(n);
    }
    gw.sim.run_for(Duration::from_secs(2));
    let now = gw.sim.now();
    gw.sgsn().create(now, "001019999999999", 1);
    gw.sim.run_for(Duration::from_millis(200));
    assert_eq!(
        gw.sgsn().sessions[0].created,
        Some(Cause::NO_RESOURCES_AVAILABLE)
    );
}

// ---------------------------------------------------------------- claim 4

#[test]
fn claim_4_session_packets_bypass_the_switch() {
    let mut gw = Gateway::new(3, 0.05, 1);
    gw.create_sessions(20);
    gw.settle();
    let sp_before = gw.sp().stats().from_line;
    let user_before: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().user_packets)
        .sum();
    for round in 0..5 {
        for i in 0..20 {
            gw.sgsn().g_pdu(i);
            if round == 0 {
                let now = gw.sim.now();
                gw.sgsn().update(now, i);
            }
        }
        gw.sim.run_for(Duration::from_millis(200));
    }
    gw.sim.run_for(Duration::from_secs(5));
    assert_eq!(
        gw.sp().stats().from_line,
        sp_before,
        "the switch processor saw none of the session's packets"
    );
    let user: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().user_packets)
        .sum();
    assert!(
        user - user_before >= 80,
        "G-PDUs reached the processors ({})",
        user - user_before
    );
    let layout = layout();
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for s in &sgsn.sessions {
        assert_eq!(s.updates_ok, 1, "update answered");
        // The request carried the VID in its header TEID; the reply carries it in its TEIDs.
        for t in &s.update_teids {
            assert_eq!(layout.primary(*t), layout.primary(s.gw_teid_c));
        }
    }
    assert!(gw.line(0).stats().to_primary >= 100);
    assert_eq!(gw.line(0).stats().to_backup, 0);
}

// ---------------------------------------------------------------- claim 5

#[test]
fn claim_5_versioned_tables_reach_every_line_interface() {
    let mut gw = Gateway::new(4, 0.1, 2);
    gw.settle();
    let v = gw.sp().table_version();
    assert!(v >= 2, "several versions were pushed ({v})");
    for i in 0..2 {
        let li = gw.line(i);
        assert_eq!(li.table().version(), v, "line {i} holds the latest table");
        assert_eq!(gw.sp().acked_version(li_fabric(i as u8 + 1)), Some(v));
        for e in gw.sp().table() {
            assert_eq!(li.table().state(e.vid), Some(e.state));
            assert_eq!(li.table().addr(e.vid), Some(e.addr));
        }
    }
    // A stale update (a delayed duplicate) is ignored and the table stays whole.
    let stale = FabricMessage::TableUpdate {
        version: 1,
        entries: vec![],
    };
    let lf = li_fabric(1);
    gw.sim.inject(sp_fabric(), lf, stale.to_vec());
    gw.sim.run_for(Duration::from_millis(50));
    assert_eq!(gw.line(0).table().version(), v);
    assert!(gw.line(0).stats().updates_stale >= 1);
    // A processor going down is a new version at every line interface.
    let n = gw.procs[&11];
    gw.sim.crash(n);
    gw.sim.run_for(Duration::from_secs(2));
    let v2 = gw.sp().table_version();
    assert!(v2 > v);
    let vid = gw.sp().vid_of(11).unwrap();
    for i in 0..2 {
        assert_eq!(gw.line(i).table().version(), v2);
        assert_eq!(gw.line(i).table().state(vid), Some(VidState::Down));
    }
}

// ---------------------------------------------------------------- claim 6

#[test]
fn claim_6_backup_serves_when_the_primary_fails_and_no_session_is_lost() {
    failover(6, 0.05);
}

/// Seeds 20..28 (plus STEERING_SEED), or the range STEERING_SWEEP=a..b (plus STEERING_SEED):
/// every seed of it once, failures collected and listed.
#[test]
fn claim_6_over_many_seeds_with_heavier_loss() {
    let range = std::env::var("STEERING_SWEEP")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some(a.parse::<u64>().ok()?..b.parse::<u64>().ok()?)
        })
        .unwrap_or(20..28);
    let mut failed = Vec::new();
    for seed in range.clone() {
        if std::panic::catch_unwind(|| failover(seed, 0.1)).is_err() {
            eprintln!("failover failed for seed {seed} (plus STEERING_SEED)");
            failed.push(seed);
        }
        if seed % 1000 == 999 {
            eprintln!("seeds up to {seed}: {} failed", failed.len());
        }
    }
    assert!(
        failed.is_empty(),
        "failover failed for seeds {failed:?} of {range:?} (plus STEERING_SEED)"
    );
}

fn failover(seed: u64, loss: f64) {
    let mut gw = Gateway::new(seed, loss, 1);
    gw.sgsn().n3 = N3_HEAVY_LOSS;
    // The whole retransmission span of a request, and a second for the last answer.
    let span = Duration::from_millis(300) * N3_HEAVY_LOSS + Duration::from_secs(1);
    gw.create_sessions(40);
    gw.settle();
    let layout = layout();
    let victim_vid = gw.proc(12).vid().unwrap();
    let sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
    let victims: Vec<usize> = (0..sessions.len())
        .filter(|&i| layout.primary(sessions[i].gw_teid_c) == Some(victim_vid))
        .collect();
    assert!(!victims.is_empty());
    // Every session of the victim is held by the backup its TEID names, before the failure.
    for &i in &victims {
        let b = layout.backup(sessions[i].gw_teid_c).unwrap();
        let holder = gw.proc_by_vid(b).unwrap();
        assert!(gw.proc(holder).has_session(sessions[i].gw_teid_c));
    }
    let version_before = gw.sp().table_version();
    let n = gw.procs[&12];
    gw.sim.crash(n);
    // Health finds it not operational; the line interface learns it from a table update.
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<LineInterface>(NodeId(1)).table().state(victim_vid) == Some(VidState::Down)
        });
    assert!(
        ok,
        "the line interface never marked the failed processor down"
    );
    for i in 0..sessions.len() {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
        gw.sgsn().g_pdu(i);
        gw.sim.run_for(Duration::from_millis(10));
    }
    gw.sim.run_until_cond(Duration::from_millis(50), span, |s| {
        s.node::<Sgsn>(NodeId(0))
            .sessions
            .iter()
            .all(|x| x.updates_ok >= 1)
    });
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    let served = sgsn.sessions.iter().filter(|s| s.updates_ok >= 1).count();
    assert_eq!(served, sessions.len(), "processor failure lost no session");
    assert!(gw.line(0).stats().to_backup >= victims.len() as u64);
    let by_backup: u64 = PROCS
        .iter()
        .filter(|id| **id != 12)
        .map(|id| gw.proc(*id).stats().served_backup)
        .sum();
    // With 10 % loss, a surviving processor can miss `misses_down` heartbeats in a row and be
    // marked down (and up again) meanwhile: one of its own sessions' updates then goes to its
    // backup too, which is the claim at work, not a loss. The 100 000-seed sweep met this
    // twice (seeds 19560 and 57988: three table versions instead of one, one extra update
    // served by a backup); without such a flap, the backups served exactly the victim's.
    if gw.sp().table_version() - version_before == 1 {
        assert_eq!(
            by_backup,
            victims.len() as u64,
            "the backups answered the victim's updates"
        );
    } else {
        assert!(
            by_backup >= victims.len() as u64,
            "the backups answered the victim's updates"
        );
    }
    // The victim's sessions can still be deleted, by the backups.
    for &i in &victims {
        let now = gw.sim.now();
        gw.sgsn().delete(now, i);
    }
    let v = victims.clone();
    gw.sim.run_until_cond(Duration::from_millis(50), span, |s| {
        let sg = s.node::<Sgsn>(NodeId(0));
        v.iter().all(|&i| sg.sessions[i].deleted.is_some())
    });
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for &i in &victims {
        assert_eq!(sgsn.sessions[i].deleted, Some(Cause::REQUEST_ACCEPTED));
    }
}

// ---------------------------------------------------------------- claim 7

#[test]
fn claim_7_processors_ask_for_their_vid_and_vids_are_reused_only_when_safe() {
    let mut gw = Gateway::new(7, 0.05, 1);
    // Every processor asked at start and got a distinct VID.
    let vids: Vec<VirtualId> = PROCS.iter().map(|id| gw.proc(*id).vid().unwrap()).collect();
    let mut uniq = vids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), PROCS.len());
    for (id, v) in PROCS.iter().zip(&vids) {
        assert_eq!(gw.sp().vid_of(*id), Some(*v));
    }
    gw.create_sessions(20);
    gw.settle();
    let layout = layout();
    let old = gw.proc(13).vid().unwrap();
    let named = gw
        .sim
        .node::<Sgsn>(gw.sgsn)
        .sessions
        .iter()
        .filter(|s| {
            layout.primary(s.gw_teid_c) == Some(old) || layout.backup(s.gw_teid_c) == Some(old)
        })
        .count();
    assert!(named > 0);
    // Restart processor 13: it asks again; sessions still name its old VID, so it gets another.
    let n = gw.procs[&13];
    gw.sim.crash(n);
    gw.sim.run_for(Duration::from_secs(1));
    let now = gw.sim.now();
    gw.sim.restart(
        n,
        Box::new(Processor::new(processor_config(13, 2), now).unwrap()),
    );
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<Processor>(n).vid().is_some()
        });
    assert!(ok, "the restarted processor got no VID");
    let new = gw.proc(13).vid().unwrap();
    assert_ne!(
        new, old,
        "the old VID is still named by live sessions: not reused"
    );
    assert!(!vids.contains(&new));
    gw.settle();
    assert_eq!(gw.line(0).table().state(old), Some(VidState::Down));
    // Delete every session; then nothing names the old VID: it is withdrawn, then free.
    let n_sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.len();
    for i in 0..n_sessions {
        let now = gw.sim.now();
        gw.sgsn().delete(now, i);
        gw.sim.run_for(Duration::from_millis(10));
    }
    gw.sim.run_for(Duration::from_secs(5));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for s in &sgsn.sessions {
        assert_eq!(
            s.deleted,
            Some(Cause::REQUEST_ACCEPTED),
            "{:08x} old {old:?} new {new:?} {:?}",
            s.gw_teid_c,
            gw.sp().table()
        );
    }
    assert_eq!(gw.sp().session_count(), 0);
    gw.sim.run_for(Duration::from_secs(4));
    assert_eq!(
        gw.line(0).table().state(old),
        None,
        "withdrawn from the tables"
    );
    assert_eq!(
        gw.sp().vid_refs(old),
        None,
        "free once every line interface has the table"
    );
    // Restart 13 again: its last VID is safe now, so it gets it back.
    let n = gw.procs[&13];
    let now = gw.sim.now();
    gw.sim.restart(
        n,
        Box::new(Processor::new(processor_config(13, 3), now).unwrap()),
    );
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<Processor>(n).vid().is_some()
        });
    assert!(ok);
    assert_eq!(
        gw.proc(13).vid(),
        Some(new),
        "a VID no session names is given back"
    );
}

// ---------------------------------------------------------------- claim 8

/// An L2TPv2 data message (L bit, a PPP LCP frame), built with `telcp::l2tp::wire`.
fn l2tp_data(tunnel: u16, session: u16) -> Vec<u8> {
    let ppp: &[u8] = &[0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x04];
    L2tpMessage::Data(DataMessage::new(tunnel, session, ppp)).to_vec()
}

/// An L2TPv2 control message: a HELLO in `tunnel` (an SCCRQ, to tunnel 0, when `tunnel` is 0).
fn l2tp_control(tunnel: u16, session: u16) -> Vec<u8> {
    let mut m = if tunnel == 0 {
        ControlMessage::sccrq(0x4242, b"lac".as_slice(), 3)
    } else {
        ControlMessage::hello(tunnel)
    };
    m.header.session_id = session;
    m.header.ns = 1;
    m.header.nr = 1;
    L2tpMessage::Control(m).to_vec()
}

#[test]
fn claim_8_l2tp_ids_carry_the_vid_and_are_steered_by_it() {
    let mut gw = Gateway::new(8, 0.0, 1);
    let l2 = l2tp_layout();
    let lac = sa([198, 51, 100, 1], 1701);
    let lns = sa(GW_IP, 1701);
    // Each processor's LNS allocates tunnel and session ids carrying its VID, backup next door.
    let mut ids = Vec::new();
    for (k, id) in PROCS.iter().enumerate() {
        let backup = gw.proc(PROCS[(k + 1) % PROCS.len()]).vid();
        let n = gw.procs[id];
        let (t, s) = gw
            .sim
            .node_mut::<Processor>(n)
            .allocate_l2tp_ids(backup)
            .unwrap();
        assert_eq!(l2.primary(u32::from(t)), gw.proc(*id).vid());
        assert_eq!(l2.primary(u32::from(s)), gw.proc(*id).vid());
        assert_eq!(l2.backup(u32::from(t)), backup);
        ids.push((*id, t, s));
    }
    for &(_, t, s) in &ids {
        gw.sim.inject(lac, lns, l2tp_data(t, s));
        gw.sim.inject(lac, lns, l2tp_control(t, s));
    }
    // An SCCRQ (tunnel id 0) is a set-up: it goes to the switch, which directs it.
    gw.sim.inject(lac, lns, l2tp_control(0, 0));
    gw.sim.run_for(Duration::from_millis(100));
    for &(id, _, _) in &ids {
        assert!(gw.proc(id).stats().l2tp_packets >= 2, "processor {id}");
    }
    let total: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().l2tp_packets)
        .sum();
    assert_eq!(total, 9);
    assert_eq!(gw.sp().stats().setups_directed, 1);
    // The first processor fails: its tunnel's packets go to the backup the tunnel id names.
    let (victim, t, s) = ids[0];
    let backup = PROCS[1];
    let before = gw.proc(backup).stats().l2tp_packets;
    let n = gw.procs[&victim];
    gw.sim.crash(n);
    gw.sim.run_for(Duration::from_secs(2));
    gw.sim.inject(lac, lns, l2tp_data(t, s));
    gw.sim.run_for(Duration::from_millis(100));
    assert_eq!(gw.proc(backup).stats().l2tp_packets, before + 1);
    assert!(gw.line(0).stats().to_backup >= 1);
}

// ---------------------------------------------------------------- spoofing

#[test]
fn spoofed_vids_and_teids_are_dropped_with_counted_reasons() {
    let mut gw = Gateway::new(9, 0.0, 1);
    gw.create_sessions(4);
    gw.settle();
    let layout = layout();
    let attacker = sa([203, 0, 113, 66], 2152);
    let gu = sa(GW_IP, 2152);
    let gc = sa(GW_IP, 2123);
    let from_line = gw.sp().stats().from_line;
    // Unknown VID (200 is not assigned): dropped at the line interface.
    let spoof = layout
        .compose(VirtualId::new(200).unwrap(), None, 1)
        .unwrap();
    for _ in 0..10 {
        gw.sim.inject(
            attacker,
            gu,
            Message::g_pdu(spoof, vec![1u8; 20]).to_vec().unwrap(),
        );
    }
    // Known VID, unknown local part: reaches the processor, which drops (G-PDU) or refuses it.
    let vid = gw.proc(11).vid().unwrap();
    let unknown = layout.compose(vid, None, 0x7777).unwrap();
    for _ in 0..5 {
        gw.sim.inject(
            attacker,
            gu,
            Message::g_pdu(unknown, vec![1u8; 20]).to_vec().unwrap(),
        );
    }
    let upd = Message::new(MessageType::UPDATE_PDP_CONTEXT_REQUEST, unknown, 99, vec![]);
    gw.sim
        .inject(sa([203, 0, 113, 66], 2123), gc, upd.to_vec().unwrap());
    // Garbage and a zero-TEID G-PDU.
    gw.sim.inject(attacker, gu, vec![0xde, 0xad]);
    gw.sim.inject(
        attacker,
        gu,
        Message::g_pdu(0, vec![1u8; 4]).to_vec().unwrap(),
    );
    gw.sim.run_for(Duration::from_millis(200));
    let s = gw.line(0).stats().clone();
    assert_eq!(s.drops(DropReason::UnknownVid), 10);
    assert_eq!(s.drops(DropReason::Malformed), 1);
    assert_eq!(s.drops(DropReason::ZeroId), 1);
    assert_eq!(gw.proc(11).stats().unknown_teid, 6);
    // No state changed: every session is still there and served.
    for i in 0..4 {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
    }
    gw.sim.run_for(Duration::from_secs(1));
    assert!(
        gw.sim
            .node::<Sgsn>(gw.sgsn)
            .sessions
            .iter()
            .all(|s| s.updates_ok == 1)
    );
    assert_eq!(
        gw.sp().stats().from_line,
        from_line,
        "none reached the switch"
    );
    // Fabric messages from outside the fabric's trusted senders are refused: no reflection
    // through the line interface, no forged VID at a processor.
    let forged = FabricMessage::Transmit {
        from: sa(GW_IP, 2123),
        to: sa([198, 51, 100, 7], 2123),
        data: std::borrow::Cow::Borrowed(b"reflect me"),
    };
    let sent_before = gw.line(0).stats().transmitted;
    gw.sim.inject(attacker, li_fabric(1), forged.to_vec());
    let forged_vid = FabricMessage::VidAssign {
        processor: 11,
        incarnation: 1,
        vid: VirtualId::new(99).unwrap(),
    };
    gw.sim.inject(attacker, p_fabric(11), forged_vid.to_vec());
    gw.sim.run_for(Duration::from_millis(50));
    assert_eq!(gw.line(0).stats().transmitted, sent_before);
    assert!(gw.line(0).stats().fabric_refused >= 1);
    assert_eq!(gw.proc(11).vid(), Some(vid));
}

// ---------------------------------------------------------------- the fast path directly

#[test]
fn steer_reads_the_vid_from_the_teid() {
    use telcp::steering::fabric::TableEntry;
    use telcp::steering::line::VidTable;
    let layout = layout();
    let v = |n| VirtualId::new(n).unwrap();
    let t = VidTable::with_entries(
        layout,
        Some(l2tp_layout()),
        3,
        &[
            TableEntry {
                vid: v(1),
                state: VidState::Up,
                addr: p_fabric(11),
            },
            TableEntry {
                vid: v(2),
                state: VidState::Down,
                addr: p_fabric(12),
            },
            TableEntry {
                vid: v(3),
                state: VidState::Up,
                addr: p_fabric(13),
            },
        ],
    );
    let gpdu = |teid| Message::g_pdu(teid, vec![0u8; 8]).to_vec().unwrap();
    let teid = |p, b| layout.compose(v(p), b, 5).unwrap();
    assert_eq!(
        t.steer(&gpdu(teid(1, None))),
        Verdict::Processor {
            vid: v(1),
            backup: false
        }
    );
    assert_eq!(
        t.steer(&gpdu(teid(2, Some(v(3))))),
        Verdict::Processor {
            vid: v(3),
            backup: true
        }
    );
    assert_eq!(
        t.steer(&gpdu(teid(2, Some(v(2))))),
        Verdict::Drop(DropReason::ProcessorDown)
    );
    assert_eq!(
        t.steer(&gpdu(teid(2, None))),
        Verdict::Drop(DropReason::ProcessorDown)
    );
    assert_eq!(
        t.steer(&gpdu(teid(9, None))),
        Verdict::Drop(DropReason::UnknownVid)
    );
    let create = Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, 0, 1, vec![]);
    assert_eq!(t.steer(&create.to_vec().unwrap()), Verdict::Switch);
    assert_eq!(t.steer(&[]), Verdict::Drop(DropReason::Malformed));
    assert_eq!(
        t.steer(&[0x32, 0xff, 0, 0]),
        Verdict::Drop(DropReason::Malformed)
    );
    let packets: Vec<Vec<u8>> = vec![gpdu(teid(1, None)), gpdu(teid(3, None)), vec![]];
    let refs: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
    let mut out = [Verdict::Switch; 3];
    assert_eq!(t.steer_batch(&refs, &mut out), 3);
    assert_eq!(
        out[1],
        Verdict::Processor {
            vid: v(3),
            backup: false
        }
    );
    assert_eq!(out[2], Verdict::Drop(DropReason::Malformed));
    // L2TP: tunnel id 0x1205 carries primary 1, backup 2.
    let l2 = l2tp_data(0x1205, 0x1206);
    assert_eq!(
        t.steer(&l2),
        Verdict::Processor {
            vid: v(1),
            backup: false
        }
    );
    assert_eq!(t.steer(&l2tp_control(0, 0)), Verdict::Switch);
    assert_eq!(t.steer(&l2tp_data(0, 0)), Verdict::Drop(DropReason::ZeroId));
}

#[test]
fn processor_events_report_vid_assignment() {
    let mut gw = Gateway::new(10, 0.0, 1);
    let n = gw.procs[&11];
    let mut saw = false;
    while let Some(e) = gw.sim.poll_event_of::<Processor>(n) {
        if matches!(e, ProcessorEvent::VidAssigned { .. }) {
            saw = true;
        }
    }
    assert!(saw);
    let sp = gw.sp;
    let mut assigned = 0;
    while let Some(e) = gw.sim.poll_event_of::<SwitchProcessor>(sp) {
        if matches!(e, SwitchEvent::VidAssigned { reused: false, .. }) {
            assigned += 1;
        }
    }
    assert_eq!(assigned, 4);
}

// ---------------------------------------------------------------- tshark on the gateway's traffic

/// The run's capture, written under a fresh temporary directory (removed when dropped), read
/// back by tshark.
struct Capture {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl Capture {
    fn new(gw: &Gateway, dir_tag: &str, file: &str) -> Capture {
        let dir =
            std::env::temp_dir().join(format!("telcp-steering-{dir_tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(file);
        gw.sim
            .write_pcap(std::fs::File::create(&path).unwrap())
            .unwrap();
        Capture { dir, path }
    }

    /// tshark's standard output over the capture with these arguments.
    fn run(&self, args: &[&str]) -> String {
        let o = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&self.path)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn tshark_reads_the_gateway_traffic() {
    let tshark = std::process::Command::new("tshark")
        .arg("--version")
        .output();
    if !tshark.is_ok_and(|o| o.status.success()) {
        println!("skipped: tshark not found");
        return;
    }
    let mut gw = Gateway::new(11, 0.0, 1);
    gw.create_sessions(4);
    for i in 0..4 {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
        gw.sgsn().g_pdu(i);
    }
    gw.sim.run_for(Duration::from_millis(300));
    for i in 0..4 {
        let now = gw.sim.now();
        gw.sgsn().delete(now, i);
    }
    gw.sim.run_for(Duration::from_millis(300));
    let cap = Capture::new(&gw, "tshark", "gateway.pcap");
    let run = |args: &[&str]| cap.run(args);
    // Only the peer-facing side: the fabric (port 4000) is not GTP.
    let bad = run(&[
        "-Y",
        "gtp && !(udp.port == 4000) && (_ws.malformed || _ws.expert.severity >= 8388608)",
    ]);
    assert!(bad.trim().is_empty(), "tshark reports errors:\n{bad}");
    let out = run(&[
        "-Y",
        "gtp && !(udp.port == 4000) && ip.src == 10.0.0.1",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "gtp.message",
        "-e",
        "gtp.cause",
        "-e",
        "gtp.teid_data",
        "-e",
        "gtp.user_ipv4",
    ]);
    let layout = layout();
    let mut seen = HashMap::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split('|').collect();
        *seen.entry(cols[0].to_owned()).or_insert(0) += 1;
        assert_eq!(cols[1], "128", "accepted: {line}");
        if cols[0] == "0x11" || cols[0] == "0x13" {
            // Create / Update responses: the TEID tshark reads carries a primary and a backup VID.
            let teid = u32::from_str_radix(cols[2].trim_start_matches("0x"), 16).unwrap();
            let p = layout.primary(teid).unwrap();
            assert!(gw.proc_by_vid(p).is_some());
            assert!(layout.backup(teid).is_some_and(|b| b != p));
        }
        if cols[0] == "0x11" {
            assert!(cols[3].starts_with("10."), "End User Address {line}");
        }
    }
    for t in ["0x11", "0x13", "0x15"] {
        assert!(
            seen.get(t).is_some_and(|n| *n >= 4),
            "{t} in {seen:?}\n{out}"
        );
    }
}

// ---------------------------------------------------------------- bounds

#[test]
fn setups_beyond_capacity_are_refused_with_no_resources() {
    let mut gw = Gateway::new(12, 0.0, 1);
    // 4 processors x 100 sessions; a processor at 95 % takes no new session.
    let n = 450;
    for i in 0..n {
        let now = gw.sim.now();
        gw.sgsn().create(now, &format!("00102{:010}", i), 5);
        if i % 10 == 9 {
            gw.sim.run_for(Duration::from_millis(150));
        }
    }
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(100), Duration::from_secs(20), |s| {
            s.node::<Sgsn>(NodeId(0))
                .sessions
                .iter()
                .all(|x| x.created.is_some())
        });
    assert!(ok);
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    let accepted = sgsn.created();
    let refused = sgsn
        .sessions
        .iter()
        .filter(|s| s.created == Some(Cause::NO_RESOURCES_AVAILABLE))
        .count();
    assert_eq!(
        accepted + refused,
        n,
        "every set-up accepted or refused with No resources"
    );
    assert!((360..=400).contains(&accepted), "accepted {accepted}");
    for id in PROCS {
        assert!(gw.proc(id).session_count() <= 100);
    }
    assert!(gw.sp().session_count() <= 400);
    // The accepted sessions are all intact and served.
    let idx: Vec<usize> = (0..n)
        .filter(|&i| {
            gw.sim.node::<Sgsn>(gw.sgsn).sessions[i].created == Some(Cause::REQUEST_ACCEPTED)
        })
        .take(20)
        .collect();
    for &i in &idx {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
    }
    gw.sim.run_for(Duration::from_secs(1));
    for &i in &idx {
        assert_eq!(gw.sim.node::<Sgsn>(gw.sgsn).sessions[i].updates_ok, 1);
    }
}

#[test]
fn a_flood_of_spoofed_packets_is_dropped_and_counted() {
    let mut gw = Gateway::new(13, 0.0, 1);
    let line = gw.lines[0];
    let layout = layout();
    let attacker = sa([203, 0, 113, 9], 2152);
    let gu = sa(GW_IP, 2152);
    let mut rng = telcp::Rng::seed_from_u64(3);
    let assigned: Vec<u16> = PROCS
        .iter()
        .map(|id| gw.proc(*id).vid().unwrap().get())
        .collect();
    let mut unknown = 0u64;
    for _ in 0..100_000 {
        let teid = rng.next_u32() | 1;
        let p = layout.primary_raw(teid);
        if !assigned.contains(&p) {
            unknown += 1;
            let pkt = Message::g_pdu(teid, vec![0u8; 8]).to_vec().unwrap();
            gw.sim.deliver_now(line, attacker, gu, &pkt);
        }
    }
    let s = gw.line(0).stats();
    assert_eq!(s.drops(DropReason::UnknownVid), unknown);
    assert_eq!(s.to_primary + s.to_backup + s.to_switch, 0);
    assert_eq!(s.queue_full, 0, "nothing was queued for a dropped packet");
}

#[test]
fn processors_refuse_bad_setups_with_the_protocols_causes() {
    let mut gw = Gateway::new(14, 0.0, 1);
    let sgsn_ip = IpAddr::V4(Ipv4Addr::from(SGSN_IP));
    let now = gw.sim.now();
    // No TEID Control Plane: Mandatory IE missing.
    let a = gw.sgsn().raw_create(
        now,
        vec![
            Ie::Imsi(Imsi::from_digits("001019000000001").unwrap()),
            Ie::TeidDataI(7),
            Ie::Nsapi(5),
            Ie::GsnAddress(sgsn_ip),
            Ie::GsnAddress(sgsn_ip),
        ],
    );
    // An IPv6 End User Address: Unknown PDP address or PDP type.
    let b = gw.sgsn().raw_create(
        now,
        vec![
            Ie::Imsi(Imsi::from_digits("001019000000002").unwrap()),
            Ie::TeidDataI(8),
            Ie::TeidControl(8),
            Ie::Nsapi(5),
            Ie::EndUserAddress(EndUserAddress {
                organization: 0xf1,
                pdp_type: EndUserAddress::IPV6,
                address: Default::default(),
            }),
            Ie::GsnAddress(sgsn_ip),
            Ie::GsnAddress(sgsn_ip),
            // complete otherwise, so the PDP type is what is refused (TS 29.060 11.1.5 first)
            Ie::QosProfile(std::borrow::Cow::Borrowed(&[0, 0x0b, 0x92, 0x1f])),
        ],
    );
    gw.sim.run_for(Duration::from_millis(300));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert_eq!(sgsn.sessions[a].created, Some(Cause::MANDATORY_IE_MISSING));
    assert_eq!(
        sgsn.sessions[b].created,
        Some(Cause::UNKNOWN_PDP_ADDRESS_OR_TYPE)
    );
    let refused: u64 = PROCS.iter().map(|id| gw.proc(*id).stats().refused).sum();
    assert_eq!(refused, 2);
    let sessions: usize = PROCS.iter().map(|id| gw.proc(*id).session_count()).sum();
    assert_eq!(sessions, 0, "a refused set-up leaves no state");
}

// ---------------------------------------------------------------- successive failures

/// Processors fail and restart one after another while sessions come and go. A session is lost
/// only when both processors its TEID names have failed; every other one is still served, and
/// no two live processors ever hold the same VID.
fn successive_failures(seed: u64) {
    let mut gw = Gateway::new(seed, 0.05, 1);
    let layout = layout();
    let mut incarnation: HashMap<u32, u32> = PROCS.iter().map(|id| (*id, 1)).collect();
    // VIDs whose processor failed since the session was created.
    let mut dead_vids: Vec<VirtualId> = Vec::new();
    let mut rng = telcp::Rng::seed_from_u64(seed);
    let mut created = 0;
    for round in 0..3 {
        let n = gw.sim.node::<Sgsn>(gw.sgsn).sessions.len();
        for i in 0..10 {
            let now = gw.sim.now();
            let imsi = format!("0010{round}{:010}", n + i);
            gw.sgsn().create(now, &imsi, 5);
            gw.sim.run_for(Duration::from_millis(30));
        }
        created += 10;
        gw.sim.run_for(Duration::from_secs(3));
        let victim = PROCS[rng.below(PROCS.len() as u64) as usize];
        dead_vids.push(gw.proc(victim).vid().unwrap());
        let node = gw.procs[&victim];
        gw.sim.crash(node);
        gw.sim.run_for(Duration::from_secs(2));
        // Every session with a live holder answers an update.
        let sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
        let before: Vec<u32> = sessions.iter().map(|s| s.updates_ok).collect();
        for (i, s) in sessions.iter().enumerate() {
            if s.created == Some(Cause::REQUEST_ACCEPTED) && s.deleted.is_none() {
                let now = gw.sim.now();
                gw.sgsn().update(now, i);
                gw.sim.run_for(Duration::from_millis(5));
            }
        }
        gw.sim.run_for(Duration::from_secs(4));
        let after = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
        for (i, s) in after.iter().enumerate() {
            if s.created != Some(Cause::REQUEST_ACCEPTED) || s.deleted.is_some() {
                continue;
            }
            let p = layout.primary(s.gw_teid_c).unwrap();
            let b = layout.backup(s.gw_teid_c);
            let both_dead = dead_vids.contains(&p) && b.is_none_or(|b| dead_vids.contains(&b));
            if !both_dead {
                assert_eq!(
                    s.updates_ok,
                    before[i] + 1,
                    "seed {seed} round {round}: session {:08x} (dead {dead_vids:?}) not served",
                    s.gw_teid_c
                );
            }
        }
        // Restart the victim: it asks for a VID again and gets one no live processor holds.
        let inc = incarnation.get_mut(&victim).unwrap();
        *inc += 1;
        let now = gw.sim.now();
        gw.sim.restart(
            node,
            Box::new(Processor::new(processor_config(victim, *inc), now).unwrap()),
        );
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
                s.node::<Processor>(node).vid().is_some()
            });
        assert!(ok, "seed {seed}: restarted processor got no VID");
        gw.sim.run_for(Duration::from_secs(2));
        let mut vids: Vec<VirtualId> = PROCS.iter().filter_map(|id| gw.proc(*id).vid()).collect();
        vids.sort();
        vids.dedup();
        assert_eq!(
            vids.len(),
            PROCS.len(),
            "seed {seed}: two processors share a VID"
        );
        // Delete a few sessions.
        for i in 0..3 {
            let now = gw.sim.now();
            let idx = rng.below(created as u64) as usize;
            let s = &gw.sim.node::<Sgsn>(gw.sgsn).sessions[idx];
            if s.deleted.is_none() && s.created == Some(Cause::REQUEST_ACCEPTED) {
                let p = layout.primary(s.gw_teid_c).unwrap();
                let b = layout.backup(s.gw_teid_c);
                if !(dead_vids.contains(&p) && b.is_none_or(|b| dead_vids.contains(&b))) {
                    gw.sgsn().delete(now, idx);
                }
            }
            let _ = i;
        }
        gw.sim.run_for(Duration::from_secs(3));
    }
    assert!(gw.sim.node::<Sgsn>(gw.sgsn).created() >= 25, "seed {seed}");
}

#[test]
fn successive_processor_failures_lose_only_doubly_failed_sessions() {
    for seed in 40..46 {
        successive_failures(seed);
    }
}

// ---------------------------------------------------------------- switch processor restart

#[test]
fn a_restarted_switch_processor_relearns_vids_and_sessions() {
    let mut gw = Gateway::new(15, 0.05, 1);
    gw.create_sessions(30);
    gw.settle();
    // One processor fails first: its sessions are served by their backups.
    let victim = gw.proc(14).vid().unwrap();
    let n14 = gw.procs[&14];
    gw.sim.crash(n14);
    gw.settle();
    let vids: Vec<Option<VirtualId>> = PROCS.iter().map(|id| gw.proc(*id).vid()).collect();
    let old_version = gw.line(0).table().version();
    // The switch processor crashes, then comes back as a new incarnation knowing nothing.
    gw.sim.crash(gw.sp);
    gw.sim.run_for(Duration::from_millis(300));
    // Meanwhile the line interface keeps steering: session packets never needed the switch.
    for i in 0..30 {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
        gw.sim.run_for(Duration::from_millis(5));
    }
    // (A primary answers once its replication attempts give up: max_retries x retransmit.)
    gw.sim.run_for(Duration::from_secs(3));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(
        sgsn.sessions.iter().all(|s| s.updates_ok == 1),
        "sessions served while the switch processor was down"
    );
    let mut cfg = switch_config(&[li_fabric(1)]);
    cfg.incarnation = 2;
    let now = gw.sim.now();
    gw.sim
        .restart(gw.sp, Box::new(SwitchProcessor::new(cfg, now).unwrap()));
    gw.sim.run_for(Duration::from_secs(3));
    // The live processors kept their VIDs; the failed one's VID is relearned (down) from the
    // sessions its backups announced; the table replaced the old one.
    for (id, v) in PROCS.iter().zip(&vids) {
        if *id != 14 {
            assert_eq!(gw.sp().vid_of(*id), *v, "processor {id} kept its VID");
        }
    }
    assert_eq!(gw.sp().session_count(), 30, "every session announced again");
    assert!(gw.sp().vid_refs(victim).is_some_and(|r| r > 0));
    let t = gw.line(0).table();
    assert!(t.version() > old_version);
    assert_eq!(t.state(victim), Some(VidState::Down));
    // Sessions are still served (the failed processor's by its backups), and new ones set up.
    for i in 0..30 {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
        gw.sim.run_for(Duration::from_millis(5));
    }
    gw.sim.run_for(Duration::from_secs(3));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(sgsn.sessions.iter().all(|s| s.updates_ok == 2));
    let now = gw.sim.now();
    let idx = gw.sgsn().create(now, "001015555555555", 5);
    gw.sim.run_for(Duration::from_secs(2));
    let s = gw.sim.node::<Sgsn>(gw.sgsn).sessions[idx].clone();
    assert_eq!(s.created, Some(Cause::REQUEST_ACCEPTED));
    assert_ne!(
        layout().primary(s.gw_teid_c),
        Some(victim),
        "no new session on a down VID"
    );
}

// ---------------------------------------------------------------- Error Indication, Version Not Supported

/// A known-answer vector of tests/vectors/steering (built by scapy, see its README).
fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/vectors/steering/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// A GTPv0 Echo Request (GSM 09.60: a 20-octet header, version 0, PT 1, spare bits set,
/// SNDCP N-PDU number and spare octets 0xff, TID 0), made by hand: scapy has no GTPv0.
fn gtpv0_echo_request(seq: u16) -> Vec<u8> {
    let mut b = vec![0x1e, 0x01, 0x00, 0x00];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&[0x00, 0x00, 0xff, 0xff, 0xff, 0xff]);
    b.extend_from_slice(&[0; 8]);
    b
}

fn gw_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(GW_IP))
}

#[test]
fn a_g_pdu_naming_no_context_is_answered_with_an_error_indication() {
    let mut gw = Gateway::new(21, 0.05, 1);
    gw.create_sessions(3);
    gw.settle();
    let layout = layout();
    // VID 200 is held by no processor: the line interface answers.
    let no_vid = layout
        .compose(VirtualId::new(200).unwrap(), None, 5)
        .unwrap();
    // Processor 11's VID, but no session there: the processor answers, through the line.
    let vid = gw.proc(11).vid().unwrap();
    let no_session = layout.compose(vid, None, 0x7777).unwrap();
    for _ in 0..4 {
        gw.sgsn().g_pdu_to(2152, no_vid);
        // From another port (a peer behind a NAT): the Error Indication names it.
        gw.sgsn().g_pdu_to(40001, no_session);
        gw.sgsn().g_pdu_to(2152, 0); // TEID 0: never answered
        for i in 0..3 {
            gw.sgsn().g_pdu(i); // live sessions: never answered
        }
        gw.sim.run_for(Duration::from_millis(50));
    }
    gw.sim.run_for(Duration::from_millis(500));

    let line = gw.line(0).stats().clone();
    let p11 = gw.proc(11).stats().clone();
    assert!(line.drops(DropReason::UnknownVid) >= 1);
    assert_eq!(
        line.error_indications,
        line.drops(DropReason::UnknownVid),
        "every G-PDU naming no VID is answered (within the burst)"
    );
    assert!(p11.unknown_teid >= 1);
    assert_eq!(p11.error_indications, p11.unknown_teid);
    assert_eq!(
        line.error_indications_suppressed + p11.error_indications_suppressed,
        0
    );

    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    let eis = sgsn.error_indications();
    for teid in [no_vid, no_session] {
        assert!(
            eis.iter().any(|(_, _, m)| m.teid_data_i() == Some(teid)),
            "an Error Indication names {teid:#x}: {eis:?}"
        );
    }
    let live: Vec<u32> = sgsn.sessions.iter().map(|s| s.gw_teid_u).collect();
    for (from, to, m) in &eis {
        // To the G-PDU's source address, GTP-U port; from the address it was sent to.
        assert_eq!(*from, sa(GW_IP, 2152));
        assert_eq!(*to, sa(SGSN_IP, 2152));
        assert_eq!(m.header.teid, 0);
        assert_eq!(m.header.sequence, Some(0));
        assert_eq!(m.gtp_u_peer_address(), Some(gw_ip()));
        let teid = m.teid_data_i().unwrap();
        // The G-PDU's source port, when it is not the GTP-U port.
        assert_eq!(m.header.udp_port(), (teid == no_session).then_some(40001));
        assert!(teid != 0 && !live.contains(&teid), "{teid:#x}");
    }
    // Nothing changed for the live sessions.
    for i in 0..3 {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
    }
    gw.sim.run_for(Duration::from_secs(2));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(sgsn.sessions.iter().all(|s| s.updates_ok == 1));
}

#[test]
fn a_flood_of_unknown_teids_gets_a_bounded_number_of_error_indications() {
    let mut gw = Gateway::new(22, 0.0, 1);
    let line = gw.lines[0];
    let layout = layout();
    let src = sa(SGSN_IP, 2152);
    let gu = sa(GW_IP, 2152);
    let spoof = |i: u32| {
        let teid = layout
            .compose(VirtualId::new(200).unwrap(), None, i & 0xffff)
            .unwrap();
        Message::g_pdu(teid, vec![0u8; 8]).to_vec().unwrap()
    };
    // 10 000 at one instant: only the burst (20) is answered.
    for i in 0..10_000 {
        gw.sim.deliver_now(line, src, gu, &spoof(i));
    }
    let s = gw.line(0).stats().clone();
    assert_eq!(s.drops(DropReason::UnknownVid), 10_000);
    assert_eq!(s.error_indications, 20);
    assert_eq!(s.error_indications_suppressed, 9_980);
    assert_eq!(s.queue_full, 0);
    // Then 10 per millisecond for a second: the sustained rate (100/s), nothing more.
    for ms in 0..1000u32 {
        gw.sim.run_for(Duration::from_millis(1));
        for i in 0..10 {
            gw.sim.deliver_now(line, src, gu, &spoof(ms * 10 + i));
        }
    }
    let s = gw.line(0).stats().clone();
    let sustained = s.error_indications - 20;
    assert!(
        (95..=120).contains(&sustained),
        "{sustained} Error Indications in a second"
    );
    assert_eq!(s.error_indications + s.error_indications_suppressed, 20_000);
    gw.sim.run_for(Duration::from_millis(100));
    let got = gw.sim.node::<Sgsn>(gw.sgsn).error_indications().len() as u64;
    assert_eq!(got, s.error_indications, "what was counted is what left");

    // The same at a processor: its own VID, no session, 2000 at one instant.
    let vid = gw.proc(12).vid().unwrap();
    for i in 0..2000u32 {
        let teid = layout.compose(vid, None, 0x8000 + i).unwrap();
        let pkt = Message::g_pdu(teid, vec![0u8; 8]).to_vec().unwrap();
        gw.sim.deliver_now(line, src, gu, &pkt);
    }
    gw.sim.run_for(Duration::from_millis(100));
    let p = gw.proc(12).stats().clone();
    assert_eq!(p.unknown_teid, 2000);
    assert_eq!(p.error_indications + p.error_indications_suppressed, 2000);
    assert!(p.error_indications <= 21, "{}", p.error_indications);
}

#[test]
fn a_peers_error_indication_deletes_the_session_it_names() {
    let mut gw = Gateway::new(23, 0.05, 1);
    gw.create_sessions(4);
    gw.settle();
    assert_eq!(gw.sp().session_count(), 4);
    let victim = gw.sim.node::<Sgsn>(gw.sgsn).sessions[1].clone();
    let holders: Vec<u32> = PROCS
        .iter()
        .copied()
        .filter(|id| gw.proc(*id).has_session(victim.gw_teid_u))
        .collect();
    assert_eq!(holders.len(), 2, "a primary and a backup copy");
    // The SGSN lost the context: every downlink G-PDU would get an Error Indication naming its
    // own TEID for the session. Three of them, over a lossy path.
    let ei = Message::error_indication(victim.own_teid, IpAddr::V4(Ipv4Addr::from(SGSN_IP)), None);
    for _ in 0..3 {
        gw.sgsn().send_raw(2152, 2152, ei.to_vec().unwrap());
        gw.sim.run_for(Duration::from_millis(100));
    }
    gw.settle();
    for id in PROCS {
        assert!(
            !gw.proc(id).has_session(victim.gw_teid_u),
            "processor {id} still holds the session"
        );
    }
    assert_eq!(gw.sp().session_count(), 3);
    assert!(gw.sp().stats().error_indications_relayed >= 1);
    let torn: u64 = PROCS
        .iter()
        .map(|id| gw.proc(*id).stats().sessions_torn_down)
        .sum();
    // At least the primary's copy went by the Error Indication; the backup's went by it too, or
    // by the primary's replicated deletion if that came first.
    assert!(torn >= 1, "{torn}");
    // Reported as events: the switch processor relayed it, the holders deleted the session.
    let mut relayed = false;
    while let Some(e) = gw.sim.poll_event_of::<SwitchProcessor>(gw.sp) {
        relayed |= e
            == SwitchEvent::ErrorIndication {
                teid: victim.own_teid,
                peer: IpAddr::V4(Ipv4Addr::from(SGSN_IP)),
            };
    }
    assert!(relayed);
    let mut reported = Vec::new();
    for id in holders.iter().copied() {
        let node = gw.procs[&id];
        while let Some(e) = gw.sim.poll_event_of::<Processor>(node) {
            if let ProcessorEvent::SessionErrorIndication { teid, as_backup } = e {
                assert_eq!(teid, victim.gw_teid_u);
                reported.push((id, as_backup));
            }
        }
    }
    assert!(
        reported.iter().any(|(_, b)| !b),
        "the primary reported it: {reported:?}"
    );
    // An Error Indication with a non-zero header TEID is steered straight to a processor, not
    // through the switch processor's rate limit: it is refused there, and session 0 survives.
    let s0 = gw.sim.node::<Sgsn>(gw.sgsn).sessions[0].clone();
    let mut direct =
        Message::error_indication(s0.own_teid, IpAddr::V4(Ipv4Addr::from(SGSN_IP)), None);
    direct.header.teid = s0.gw_teid_u;
    for _ in 0..3 {
        gw.sgsn().send_raw(2152, 2152, direct.to_vec().unwrap());
    }
    gw.sim.run_for(Duration::from_millis(300));
    assert!(
        PROCS
            .iter()
            .any(|id| gw.proc(*id).has_session(s0.gw_teid_u))
    );
    assert_eq!(gw.sp().session_count(), 3);
    // The other sessions are untouched; the victim's Update is refused as Non-existent.
    for i in 0..4 {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
    }
    gw.sim.run_for(Duration::from_secs(3));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for (i, s) in sgsn.sessions.iter().enumerate() {
        assert_eq!(s.updates_ok, u32::from(i != 1), "session {i}");
    }
    assert!(sgsn.responses.iter().any(|m| {
        m.message_type() == MessageType::UPDATE_PDP_CONTEXT_RESPONSE
            && m.cause() == Some(Cause::NON_EXISTENT)
    }));
}

#[test]
fn gtp_c_of_other_versions_is_answered_with_version_not_supported() {
    let mut gw = Gateway::new(24, 0.05, 1);
    let directed = gw.sp().stats().setups_directed;
    let kinds = [
        ("GTPv2-C Echo Request", vector("gtpv2_echo_request")),
        (
            "GTPv2-C Create Session Request",
            vector("gtpv2_create_session_request"),
        ),
        ("GTPv0 Echo Request", gtpv0_echo_request(9)),
    ];
    for (what, bytes) in &kinds {
        let before = gw.sim.node::<Sgsn>(gw.sgsn).version_not_supported().len();
        for _ in 0..3 {
            gw.sgsn().send_raw(2123, 2123, bytes.clone());
            gw.sim.run_for(Duration::from_millis(100));
        }
        gw.sim.run_for(Duration::from_millis(300));
        let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
        let vns = sgsn.version_not_supported();
        assert!(vns.len() > before, "{what} is answered");
        for (from, to, m) in &vns {
            assert_eq!(*from, sa(GW_IP, 2123));
            assert_eq!(*to, sa(SGSN_IP, 2123), "back to the sender's port");
            // A GTPv1 header (it parsed as one): the highest version the gateway supports.
            assert_eq!(**m, Message::version_not_supported());
        }
    }
    let sp = gw.sp().stats().clone();
    let line = gw.line(0).stats().clone();
    assert!(line.other_version >= 3);
    assert!(sp.version_not_supported >= 3, "one kind at least once each");
    assert_eq!(
        sp.version_not_supported_suppressed, 0,
        "all within the burst"
    );
    assert_eq!(sp.setups_directed, directed, "nothing was set up");
    assert!(
        PROCS
            .iter()
            .all(|id| gw.proc(*id).stats().l2tp_packets == 0)
    );

    // A peer's own Version Not Supported (GTPv2 type 3) is never answered: no ping-pong.
    let answered = gw.sp().stats().version_not_supported;
    for _ in 0..3 {
        gw.sgsn().send_raw(
            2123,
            2123,
            vec![0x40, 0x03, 0x00, 0x04, 0x00, 0x00, 0x07, 0x00],
        );
    }
    gw.sim.run_for(Duration::from_millis(300));
    assert_eq!(gw.sp().stats().version_not_supported, answered);
    // A GTPv2 datagram to the GTP-U port is no GTP-C: not answered.
    gw.sgsn().send_raw(2152, 2152, vector("gtpv2_echo_request"));
    gw.sim.run_for(Duration::from_millis(300));
    assert_eq!(gw.sp().stats().version_not_supported, answered);
}

#[test]
fn a_flood_of_other_versions_gets_a_bounded_number_of_version_not_supported() {
    let mut gw = Gateway::new(25, 0.0, 1);
    let line = gw.lines[0];
    let src = sa(SGSN_IP, 2123);
    let gc = sa(GW_IP, 2123);
    let echo = vector("gtpv2_echo_request");
    for _ in 0..2000 {
        gw.sim.deliver_now(line, src, gc, &echo);
    }
    gw.sim.run_for(Duration::from_millis(100));
    let sp = gw.sp().stats().clone();
    assert_eq!(gw.line(0).stats().other_version, 2000);
    assert_eq!(sp.version_not_supported, 20, "the burst");
    assert_eq!(sp.version_not_supported_suppressed, 1980);
    let got = gw.sim.node::<Sgsn>(gw.sgsn).version_not_supported().len();
    assert_eq!(got, 20);
}

#[test]
fn tshark_reads_the_error_indications_version_not_supported_and_non_existent() {
    let tshark = std::process::Command::new("tshark")
        .arg("--version")
        .output();
    if !tshark.is_ok_and(|o| o.status.success()) {
        println!("skipped: tshark not found");
        return;
    }
    let mut gw = Gateway::new(26, 0.0, 1);
    gw.create_sessions(1);
    let layout = layout();
    let no_vid = layout
        .compose(VirtualId::new(200).unwrap(), None, 5)
        .unwrap();
    let vid = gw.proc(11).vid().unwrap();
    let no_session = layout.compose(vid, None, 0x7777).unwrap();
    gw.sgsn().g_pdu_to(2152, no_vid);
    gw.sgsn().g_pdu_to(40001, no_session);
    gw.sgsn()
        .send_raw(2123, 2123, vector("gtpv2_create_session_request"));
    // Update and Delete PDP Context Requests naming no context: answered Non-existent.
    for (t, seq) in [
        (MessageType::UPDATE_PDP_CONTEXT_REQUEST, 0x0301),
        (MessageType::DELETE_PDP_CONTEXT_REQUEST, 0x0302),
    ] {
        let m = Message::new(t, no_vid, seq, vec![Ie::Nsapi(5)]);
        gw.sgsn().send_raw(2123, 2123, m.to_vec().unwrap());
    }
    gw.sim.run_for(Duration::from_millis(300));
    let cap = Capture::new(&gw, "ei", "errors.pcap");
    let run = |args: &[&str]| cap.run(args);
    let bad = run(&[
        "-Y",
        "(gtp || gtpv2) && !(udp.port == 4000) && (_ws.malformed || _ws.expert.severity >= 8388608)",
    ]);
    assert!(bad.trim().is_empty(), "tshark reports errors:\n{bad}");
    let out = run(&[
        "-Y",
        "gtp && ip.src == 10.0.0.1 && (gtp.message == 0x1a || gtp.message == 0x03)",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "gtp.message",
        "-e",
        "gtp.teid_data",
        "-e",
        "gtp.gsn_ipv4",
        "-e",
        "gtp.ext_hdr.udp_port",
        "-e",
        "udp.dstport",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    let ei = |teid: u32, port: &str| format!("0x1a|0x{teid:08x}|10.0.0.1|{port}|2152");
    assert!(lines.contains(&ei(no_vid, "").as_str()), "{out}");
    assert!(lines.contains(&ei(no_session, "40001").as_str()), "{out}");
    assert!(lines.contains(&"0x03||||2123"), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    let out = run(&[
        "-Y",
        "gtp && ip.src == 10.0.0.1 && gtp.cause == 192",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "gtp.message",
        "-e",
        "gtp.teid",
        "-e",
        "gtp.seq_number",
        "-e",
        "gtp.cause",
        "-e",
        "udp.srcport",
        "-e",
        "udp.dstport",
    ]);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "0x13|0x00000000|0x0301|192|2123|2123",
            "0x15|0x00000000|0x0302|192|2123|2123"
        ],
        "{out}"
    );
}

// ---------------------------------------------------------------- requests naming no context

/// A session slot at the SGSN whose gateway TEIDs are `teid`: its Update and Delete requests
/// name that TEID.
fn forged_slot(gw: &mut Gateway, teid: u32) -> usize {
    let sgsn = gw.sgsn();
    sgsn.sessions.push(SgsnSession {
        nsapi: 5,
        own_teid: 0x7700_0000 + teid % 0x100,
        gw_teid_c: teid,
        gw_teid_u: teid,
        ..Default::default()
    });
    sgsn.sessions.len() - 1
}

/// The responses the SGSN took of `t` with sequence number `seq`.
fn responses_to(sgsn: &Sgsn, t: MessageType, seq: u16) -> Vec<&Message<'static>> {
    sgsn.responses
        .iter()
        .filter(|m| m.message_type() == t && m.header.sequence == Some(seq))
        .collect()
}

#[test]
fn an_update_or_delete_naming_no_context_is_answered_non_existent() {
    let mut gw = Gateway::new(27, 0.05, 1);
    gw.create_sessions(3);
    gw.settle();
    let layout = layout();
    // VID 200 is held by no processor: the line interface answers.
    let no_vid = layout
        .compose(VirtualId::new(200).unwrap(), None, 5)
        .unwrap();
    // Processor 11's VID, no session there: the processor answers, through the line.
    let vid = gw.proc(11).vid().unwrap();
    let no_session = layout.compose(vid, None, 0x7777).unwrap();
    let mut asked = Vec::new();
    for teid in [no_vid, no_session] {
        let idx = forged_slot(&mut gw, teid);
        let now = gw.sim.now();
        gw.sgsn().update(now, idx);
        let upd = gw.sgsn().seq;
        gw.sim.run_for(Duration::from_millis(20));
        let now = gw.sim.now();
        gw.sgsn().delete(now, idx);
        let del = gw.sgsn().seq;
        asked.push((teid, idx, upd, del));
        gw.sim.run_for(Duration::from_millis(20));
    }
    // The SGSN retransmits until answered, over the lossy path.
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(50), Duration::from_secs(10), |s| {
            s.node::<Sgsn>(NodeId(0)).outstanding.is_empty()
        });
    assert!(ok, "every request was answered");

    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    for &(teid, idx, upd, del) in &asked {
        let s = &sgsn.sessions[idx];
        assert_eq!(s.updates_ok, 0, "{teid:#x}");
        assert_eq!(s.deleted, Some(Cause::NON_EXISTENT), "{teid:#x}");
        for (t, seq) in [
            (MessageType::UPDATE_PDP_CONTEXT_RESPONSE, upd),
            (MessageType::DELETE_PDP_CONTEXT_RESPONSE, del),
        ] {
            let r = responses_to(sgsn, t, seq);
            assert_eq!(
                r.len(),
                1,
                "{teid:#x}: one {t:?} with sequence number {seq}"
            );
            let m = r[0];
            // The context is unknown, so the peer's control TEID is too: TEID 0.
            assert_eq!(m.header.teid, 0, "{teid:#x}");
            assert_eq!(m.cause(), Some(Cause::NON_EXISTENT));
            assert_eq!(m.ies().len(), 1, "Cause only: {m:?}");
        }
    }
    assert!(sgsn.response_sources.iter().all(|a| *a == sa(GW_IP, 2123)));
    assert!(sgsn.error_indications().is_empty());

    let line = gw.line(0).stats().clone();
    // The requests naming VID 200 were answered by the line interface, every copy that
    // arrived, within the burst; the others by processor 11.
    assert!(line.drops(DropReason::UnknownVid) >= 2);
    assert_eq!(line.non_existent, line.drops(DropReason::UnknownVid));
    assert_eq!(line.non_existent_suppressed, 0);
    assert!(gw.proc(11).stats().unknown_teid >= 2);
    assert_eq!(gw.sp().session_count(), 3, "nothing changed in the gateway");
    // The live sessions are untouched.
    for i in 0..3 {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
    }
    gw.sim.run_for(Duration::from_secs(2));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(sgsn.sessions[..3].iter().all(|s| s.updates_ok == 1));
}

#[test]
fn a_flood_of_requests_naming_no_context_gets_a_bounded_number_of_answers() {
    let mut gw = Gateway::new(28, 0.0, 1);
    let line = gw.lines[0];
    let layout = layout();
    let src = sa(SGSN_IP, 2123);
    let gc = sa(GW_IP, 2123);
    let forged = |i: u32| {
        let teid = layout
            .compose(VirtualId::new(200).unwrap(), None, i & 0xffff)
            .unwrap();
        let t = if i % 2 == 0 {
            MessageType::UPDATE_PDP_CONTEXT_REQUEST
        } else {
            MessageType::DELETE_PDP_CONTEXT_REQUEST
        };
        Message::new(t, teid, i as u16, vec![Ie::Nsapi(5)])
            .to_vec()
            .unwrap()
    };
    // 10 000 at one instant: only the burst (20) is answered.
    for i in 0..10_000 {
        gw.sim.deliver_now(line, src, gc, &forged(i));
    }
    let s = gw.line(0).stats().clone();
    assert_eq!(s.drops(DropReason::UnknownVid), 10_000);
    assert_eq!(s.non_existent, 20);
    assert_eq!(s.non_existent_suppressed, 9_980);
    assert_eq!(s.queue_full, 0);
    assert_eq!(s.error_indications + s.error_indications_suppressed, 0);
    // Then 10 per millisecond for a second: the sustained rate (100/s), nothing more.
    for ms in 0..1000u32 {
        gw.sim.run_for(Duration::from_millis(1));
        for i in 0..10 {
            gw.sim.deliver_now(line, src, gc, &forged(ms * 10 + i));
        }
    }
    let s = gw.line(0).stats().clone();
    let sustained = s.non_existent - 20;
    assert!(
        (95..=120).contains(&sustained),
        "{sustained} Non-existent answers in a second"
    );
    assert_eq!(s.non_existent + s.non_existent_suppressed, 20_000);
    gw.sim.run_for(Duration::from_millis(100));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert_eq!(
        sgsn.response_sources.len() as u64,
        s.non_existent,
        "what was counted is what left"
    );

    // Responses naming no context, requests without a sequence number and other requests are
    // dropped unanswered (and take no token).
    let answered = s.non_existent + s.non_existent_suppressed;
    gw.sim.run_for(Duration::from_secs(1));
    let teid = layout
        .compose(VirtualId::new(200).unwrap(), None, 9)
        .unwrap();
    let resp = Message::new(
        MessageType::UPDATE_PDP_CONTEXT_RESPONSE,
        teid,
        1,
        vec![Ie::Cause(Cause::NON_EXISTENT)],
    );
    let mut no_seq = Message::new(MessageType::DELETE_PDP_CONTEXT_REQUEST, teid, 0, vec![]);
    no_seq.header.sequence = None;
    let create = Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, teid, 2, vec![]);
    for m in [resp, no_seq, create] {
        gw.sim.deliver_now(line, src, gc, &m.to_vec().unwrap());
    }
    // An Update to the GTP-U port is no GTP-C request there.
    gw.sim
        .deliver_now(line, sa(SGSN_IP, 2152), sa(GW_IP, 2152), &forged(0));
    let s = gw.line(0).stats().clone();
    assert_eq!(s.drops(DropReason::UnknownVid), 20_004);
    assert_eq!(s.non_existent + s.non_existent_suppressed, answered);
    assert_eq!(s.error_indications + s.error_indications_suppressed, 0);

    // The same at a processor: its own VID, no session, 2000 at one instant.
    gw.sim.run_for(Duration::from_millis(100));
    let before = gw.sim.node::<Sgsn>(gw.sgsn).response_sources.len();
    let vid = gw.proc(12).vid().unwrap();
    for i in 0..2000u32 {
        let teid = layout.compose(vid, None, 0x8000 + i).unwrap();
        let m = Message::new(
            MessageType::UPDATE_PDP_CONTEXT_REQUEST,
            teid,
            i as u16,
            vec![],
        );
        gw.sim.deliver_now(line, src, gc, &m.to_vec().unwrap());
    }
    gw.sim.run_for(Duration::from_millis(100));
    let p = gw.proc(12).stats().clone();
    assert_eq!(p.unknown_teid, 2000);
    let got = gw.sim.node::<Sgsn>(gw.sgsn).response_sources.len() - before;
    assert!(got <= 21, "{got} Non-existent answers from the processor");
    assert_eq!(got as u64 + p.non_existent_suppressed, 2000);
}

// ---------------------------------------------------------------- repeated set-ups

#[test]
fn repeated_setups_of_a_subscriber_leave_no_orphaned_backup_copy() {
    let mut gw = Gateway::new(29, 0.05, 1);
    let layout = layout();
    let (sgsn_node, line) = (gw.sgsn, gw.lines[0]);
    // Three processors: when one fails, the other two are the only candidates, so the backup
    // of a failed primary's session takes part in the set-up that replaces it.
    let v14 = gw.proc(14).vid().unwrap();
    gw.sim.crash(gw.procs[&14]);
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<LineInterface>(line).table().state(v14) == Some(VidState::Down)
        });
    assert!(ok);
    let mut incarnation: HashMap<u32, u32> = PROCS.iter().map(|id| (*id, 1)).collect();
    let live = [11, 12, 13];
    let mut after = Vec::new();
    for cycle in 0..3 {
        // The request reaches the gateway; every answer to the SGSN is lost.
        gw.sim.partition(sgsn_node, line);
        let now = gw.sim.now();
        let idx = gw.sgsn().create(now, "001019999999999", 5);
        let seq = gw.sgsn().seq;
        let bytes = gw.sgsn().outstanding[&seq].bytes.clone();
        // The primary created the session and replicated it to the backup. (The SGSN's
        // retransmissions are cut off with its answers: copies are injected, every 300 ms.)
        let replicated = |s: &Sim| -> bool {
            live.iter().any(|id| {
                let p = s.node::<Processor>(gw.procs[id]);
                p.session_teids().any(|t| {
                    live.iter().any(|b| {
                        let q = s.node::<Processor>(gw.procs[b]);
                        b != id && q.vid() == layout.backup(t) && q.has_session(t)
                    })
                })
            })
        };
        let mut ok = false;
        for _ in 0..N3 {
            gw.sim
                .inject(sa(SGSN_IP, 2123), sa(GW_IP, 2123), bytes.clone());
            ok = gw
                .sim
                .run_until_cond(Duration::from_millis(5), Duration::from_millis(300), |s| {
                    replicated(s)
                });
            if ok {
                break;
            }
        }
        assert!(ok, "cycle {cycle}: the first attempt was not replicated");
        let primary = *live
            .iter()
            .find(|id| gw.proc(**id).session_count() == 1)
            .unwrap();
        let pv = gw.proc(primary).vid().unwrap();
        // The primary fails before the SGSN saw the answer; the SGSN repeats the request.
        gw.sim.crash(gw.procs[&primary]);
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
                s.node::<LineInterface>(line).table().state(pv) == Some(VidState::Down)
            });
        assert!(ok);
        gw.sim.heal(sgsn_node, line);
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(10), |s| {
                s.node::<Sgsn>(sgsn_node).sessions[idx].created.is_some()
            });
        assert!(ok, "cycle {cycle}: the repeat was not answered");
        assert_eq!(
            gw.sim.node::<Sgsn>(sgsn_node).sessions[idx].created,
            Some(Cause::REQUEST_ACCEPTED)
        );
        // The SGSN is done with the session it got (once duplicates of its request in flight
        // have drained: one arriving after the Delete would be a new set-up); the failed
        // processor comes back.
        gw.sim.run_for(Duration::from_secs(1));
        let now = gw.sim.now();
        gw.sgsn().delete(now, idx);
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(10), |s| {
                s.node::<Sgsn>(sgsn_node).sessions[idx].deleted.is_some()
            });
        assert!(ok, "cycle {cycle}: the Delete was not answered");
        let inc = incarnation.get_mut(&primary).unwrap();
        *inc += 1;
        let n = gw.procs[&primary];
        let now = gw.sim.now();
        gw.sim.restart(
            n,
            Box::new(Processor::new(processor_config(primary, *inc), now).unwrap()),
        );
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
                s.node::<Processor>(n).vid().is_some_and(|v| {
                    s.node::<LineInterface>(line).table().state(v) == Some(VidState::Up)
                })
            });
        assert!(ok, "cycle {cycle}: the restarted processor did not come up");
        gw.settle();
        let own: usize = live.iter().map(|id| gw.proc(*id).session_count()).sum();
        let shadow: usize = live.iter().map(|id| gw.proc(*id).shadow_count()).sum();
        after.push((own, shadow, gw.sp().session_count()));
    }
    // After every cycle the subscriber has no session (the SGSN deleted the one it got), and no
    // processor keeps a copy of the first attempt: the set-up that replaced it superseded it.
    assert_eq!(
        after,
        vec![(0, 0, 0); 3],
        "(own, shadow, switch) after each cycle"
    );
    let superseded: u64 = live
        .iter()
        .map(|id| gw.proc(*id).stats().shadow_superseded)
        .sum();
    assert!(superseded >= 1, "{superseded}");
}
