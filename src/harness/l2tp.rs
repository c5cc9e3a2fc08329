//! Fuzz harnesses for the L2TP subsystem.

use crate::l2tp::wire::{Message, ParseOptions};

/// `l2tp_message`: parses arbitrary bytes; on success, emitting and re-parsing must give the same
/// message, and the re-emitted bytes must be a fixed point. Also parses with a secret (hidden AVPs
/// unhidden), which must never panic, and re-emits that: every AVP that arrived hidden must leave
/// hidden, never with its unhidden value in clear (RFC 2661 4.3).
pub fn message(data: &[u8]) {
    if let Ok(m) = Message::parse(data) {
        let bytes = m.to_vec();
        assert_eq!(bytes.len(), m.encoded_len());
        let again = Message::parse(&bytes).expect("re-parse of emitted message");
        assert_eq!(again, m);
        assert_eq!(again.to_vec(), bytes);
    }
    let opts = ParseOptions {
        secret: Some(b"fuzz"),
        ..ParseOptions::default()
    };
    if let Ok(Message::Control(m)) = Message::parse_with(data, &opts) {
        let bytes = Message::Control(m.clone()).to_vec();
        assert_eq!(bytes.len(), m.encoded_len());
        let Ok(Message::Control(out)) = Message::parse(&bytes) else {
            panic!("re-parse of a message parsed with the secret");
        };
        assert_eq!(out.avps.len(), m.avps.len());
        for (a, b) in m.avps.iter().zip(&out.avps) {
            if a.hidden {
                assert!(b.hidden, "an AVP received hidden left with H=0");
                assert!(
                    !a.value.is_recognised() || !b.value.is_recognised(),
                    "an AVP received hidden left in clear"
                );
            }
        }
    }
}

/// A byte-driven script of operations on an endpoint: datagrams (arbitrary, or mutated valid
/// messages), time steps and commands.
struct Ops<'a> {
    data: &'a [u8],
}

impl Ops<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*b)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

const LNS_ADDR: &str = "10.0.0.1:1701";
const LAC_ADDR: &str = "10.0.9.1:1701";

fn addr(s: &str) -> std::net::SocketAddr {
    s.parse()
        .unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 1701)))
}

/// Valid control messages to start mutations from.
fn templates() -> Vec<Vec<u8>> {
    use crate::l2tp::wire::avp::{
        AvpValue, FailoverCapability, FailoverSessionState, SuggestedControlSequence,
        TunnelRecovery,
    };
    use crate::l2tp::wire::{Avp, ControlMessage};
    let fss = FailoverSessionState {
        session_id: 9,
        remote_session_id: 1,
    };
    let ms = [
        ControlMessage::sccrq(7, b"peer".as_slice(), 3),
        ControlMessage::sccrp(1, 7, b"peer".as_slice(), 3),
        ControlMessage::scccn(1),
        ControlMessage::icrq(1, 9, 1),
        ControlMessage::icrp(1, 1, 9),
        ControlMessage::iccn(1, 1, 64000, 1),
        ControlMessage::hello(1),
        ControlMessage::zlb(1, 0, 1),
        // RFC 4951: an SCCRP advertising failover, a recovery SCCRQ, the SCCRP answering it, FSQ
        // and FSR.
        ControlMessage::sccrp(1, 7, b"peer".as_slice(), 3).with(Avp::optional(
            AvpValue::FailoverCapability(FailoverCapability {
                control: true,
                data: false,
                recovery_time_ms: 2000,
            }),
        )),
        ControlMessage::sccrq(8, b"peer".as_slice(), 3).with(Avp::mandatory(
            AvpValue::TunnelRecovery(TunnelRecovery {
                tunnel_id: 7,
                remote_tunnel_id: 1,
            }),
        )),
        ControlMessage::sccrp(1, 8, b"peer".as_slice(), 3).with(Avp::mandatory(
            AvpValue::SuggestedControlSequence(SuggestedControlSequence { ns: 1, nr: 1 }),
        )),
        ControlMessage::fsq(1, &[fss]),
        ControlMessage::fsr(1, &[fss, FailoverSessionState::default()]),
    ];
    ms.into_iter()
        .map(|m| Message::Control(m).to_vec())
        .collect()
}

fn datagram(ops: &mut Ops<'_>, templates: &[Vec<u8>]) -> Vec<u8> {
    let kind = ops.byte().unwrap_or(0);
    let len = usize::from(ops.byte().unwrap_or(0));
    if kind % 2 == 0 {
        ops.bytes(len).to_vec()
    } else {
        let mut d = templates
            .get(usize::from(kind / 2) % templates.len().max(1))
            .cloned()
            .unwrap_or_default();
        // Patch tunnel id, ns, nr and a few bytes from the script.
        for (i, b) in ops.bytes(len.min(8)).iter().enumerate() {
            let at = [4, 5, 8, 9, 10, 11, 13, 19][i];
            if let Some(x) = d.get_mut(at) {
                *x = *b;
            }
        }
        d
    }
}

/// The [`crate::l2tp::Lns`] the `l2tp_lns` harness drives (contact role, small bounds, RFC 4951
/// failover on, replayable seed, one Up pool member 10.0.1.1 at 0 % load), built at `start`; the first script byte's low
/// bit chooses `standard_redirect`. Public so that seed generators can replay a conversation
/// against the very endpoint the harness builds.
pub fn lns_endpoint(
    start: std::time::Instant,
    standard_redirect: bool,
) -> Option<crate::l2tp::Lns> {
    lns_endpoint_with(start, standard_redirect, None)
}

/// [`lns_endpoint`] with call admission by the caller (`admission`: each call waits for
/// [`crate::l2tp::Lns::accept`] or [`crate::l2tp::Lns::refuse`]) when given.
pub fn lns_endpoint_with(
    start: std::time::Instant,
    standard_redirect: bool,
    admission: Option<crate::l2tp::AdmissionConfig>,
) -> Option<crate::l2tp::Lns> {
    lns_endpoint_secret(start, standard_redirect, admission, false)
}

/// [`lns_endpoint_with`], with the secret `fuzz`, challenge/response and hidden AVPs when
/// `secret` (RFC 2661 5.1.1, 4.3).
fn lns_endpoint_secret(
    start: std::time::Instant,
    standard_redirect: bool,
    admission: Option<crate::l2tp::AdmissionConfig>,
    secret: bool,
) -> Option<crate::l2tp::Lns> {
    use crate::l2tp::{Config, Lns, LnsConfig, pool::MemberState};
    let common = Config {
        secret: secret.then(|| b"fuzz".to_vec()),
        challenge: secret,
        hide_avps: secret,
        max_tunnels: 4,
        max_pending_tunnels: 2,
        max_sessions: 6,
        max_sessions_per_tunnel: 4,
        max_data_queue: 8,
        max_events: 64,
        max_send_queue: 8,
        seed: crate::io::seed(0),
        failover: Some(crate::l2tp::FailoverConfig::default()),
        ..Config::default()
    };
    let cfg = LnsConfig {
        common,
        max_pending_redirects: 3,
        standard_redirect,
        admission,
        ..LnsConfig::default()
    };
    let mut lns = Lns::new(cfg, start).ok()?;
    lns.pool.update(
        std::net::IpAddr::from([10, 0, 1, 1]),
        MemberState::Up,
        0,
        10,
        0,
    );
    Some(lns)
}

/// `l2tp_lns`: drives an [`crate::l2tp::Lns`] (contact role, small bounds) with arbitrary datagrams,
/// time steps and commands; checks its bounds after each step. `start` is the base instant the run
/// starts at (the caller's clock; the harness never reads one). The first script byte's bit 1
/// turns call admission on (at most 2 pending, 2 s), bit 2 a tunnel secret with challenge and
/// hidden AVPs; the commands then include closes with an RFC 3145 cause, admission answers
/// (accept, refuse) to ids taken from the script (ids count from 1, so small bytes hit live ones),
/// and time steps let pending calls time out.
pub fn lns(start: std::time::Instant, data: &[u8]) {
    let first = data.first().copied().unwrap_or(0);
    let admission = (first & 2 == 2).then_some(crate::l2tp::AdmissionConfig {
        max_pending: 2,
        timeout: std::time::Duration::from_secs(2),
    });
    let Some(mut lns) = lns_endpoint_secret(start, first & 1 == 1, admission, first & 4 == 4)
    else {
        return;
    };
    let command = |lns: &mut crate::l2tp::Lns, now, ops: &mut Ops<'_>| {
        let s = |ops: &mut Ops<'_>| crate::l2tp::SessionRef {
            tunnel: u16::from(ops.byte().unwrap_or(0)),
            session: u16::from(ops.byte().unwrap_or(0)),
        };
        match ops.byte().unwrap_or(0) % 7 {
            0 => lns.set_load(ops.byte().unwrap_or(0)),
            1 => lns.set_accepting(ops.byte().unwrap_or(0) % 2 == 0),
            2 => {
                let _ = lns.send_ppp(s(ops), b"x");
            }
            3 => {
                let id = crate::l2tp::AdmissionId(u64::from(ops.byte().unwrap_or(0) % 8));
                let params = crate::l2tp::AcceptParams {
                    sequencing_required: Some(ops.byte().unwrap_or(0) % 2 == 0),
                };
                if let Ok(sref) = lns.accept(now, id, params) {
                    let info = lns.session_info(sref).expect("an accepted call is held");
                    assert!(!info.admission_pending);
                }
            }
            4 => {
                let id = crate::l2tp::AdmissionId(u64::from(ops.byte().unwrap_or(0) % 8));
                let result = crate::l2tp::wire::ResultCodeValue(u16::from(ops.byte().unwrap_or(0)));
                let _ = lns.refuse(now, id, crate::l2tp::wire::ResultCode::new(result));
            }
            5 => {
                let close = close(ops);
                let _ = lns.close_session(now, s(ops), close);
            }
            _ => {
                let sref = s(ops);
                if let Some(i) = lns.session_info(sref) {
                    assert_eq!(i.handoff.session, sref);
                }
                let _ = lns.tunnel_info(sref.tunnel);
            }
        }
    };
    let check = |lns: &mut crate::l2tp::Lns| {
        assert!(lns.tunnel_count() <= 4);
        assert!(lns.session_count() <= 6);
        assert!(lns.pending_redirects() <= 3);
        assert!(lns.pending_admissions() <= 2);
        while lns.poll_data().is_some() {}
        if let Some(d) = lns.poll_timeout() {
            assert!(d >= start);
        }
    };
    drive(
        &mut lns,
        start,
        data,
        (|_| LAC_ADDR, LNS_ADDR),
        command,
        check,
    );
}

/// The loop both L2TP harnesses share: each operation is a datagram (from the address `ends.0`
/// gives for the operation byte, to `ends.1`), a time step of up to 64 s, or a `command`; after
/// each, `check` runs and the transmits and events are drained.
fn drive<T: crate::Endpoint>(
    e: &mut T,
    start: std::time::Instant,
    data: &[u8],
    ends: (fn(u8) -> &'static str, &str),
    mut command: impl FnMut(&mut T, std::time::Instant, &mut Ops<'_>),
    mut check: impl FnMut(&mut T),
) {
    let templates = templates();
    let mut now = start;
    let mut ops = Ops { data };
    while let Some(op) = ops.byte() {
        match op % 4 {
            0 | 1 => {
                let d = datagram(&mut ops, &templates);
                let _ = e.handle_datagram(now, addr(ends.0(op)), addr(ends.1), &d);
            }
            2 => {
                now += std::time::Duration::from_millis(u64::from(ops.byte().unwrap_or(0)) * 250);
                e.handle_timeout(now);
            }
            _ => command(e, now, &mut ops),
        }
        check(e);
        while e.poll_transmit().is_some() {}
        while e.poll_event().is_some() {}
    }
}

/// The [`crate::l2tp::Lac`] the `l2tp_lac` harness drives (contact LNS 10.0.0.1:1701, alternate
/// 10.0.2.1:1701, small bounds, RFC 4951 failover on, replayable seed), built at `start`; the first script byte's low bit
/// chooses `tunnel_level_request`. Public so that seed generators can replay a conversation
/// against the very endpoint the harness builds.
pub fn lac_endpoint(
    start: std::time::Instant,
    tunnel_level_request: bool,
) -> Option<crate::l2tp::Lac> {
    lac_endpoint_with(start, tunnel_level_request, false, false)
}

/// [`lac_endpoint`] with the plan policy least-filled (`least_filled`) or weighted; its
/// deny-list holds 2 LNSs for 30 s. `secret`: the default tunnel secret `lac` with hidden AVPs
/// (plan endpoints' passwords override it per tunnel).
fn lac_endpoint_with(
    start: std::time::Instant,
    tunnel_level_request: bool,
    least_filled: bool,
    secret: bool,
) -> Option<crate::l2tp::Lac> {
    use crate::l2tp::lac::PlanPolicy;
    use crate::l2tp::{Config, Lac, LacConfig};
    let mut cfg = LacConfig::new(addr(LNS_ADDR));
    cfg.common = Config {
        max_tunnels: 4,
        max_pending_tunnels: 2,
        max_sessions: 6,
        max_data_queue: 8,
        max_events: 64,
        max_send_queue: 8,
        seed: crate::io::seed(0),
        failover: Some(crate::l2tp::FailoverConfig::default()),
        secret: secret.then(|| b"lac".to_vec()),
        hide_avps: secret,
        ..Config::default()
    };
    cfg.max_calls = 5;
    cfg.tunnel_level_request = tunnel_level_request;
    cfg.alternates = vec![addr("10.0.2.1:1701")];
    cfg.plan_policy = if least_filled {
        PlanPolicy::LeastFilled
    } else {
        PlanPolicy::Weighted
    };
    cfg.deny_time = std::time::Duration::from_secs(30);
    cfg.max_denied = 2;
    Lac::new(cfg, start).ok()
}

/// A close command from the script (both endpoints, RFC 3145): a CDN Result Code, and half the
/// time a PPP Disconnect Cause Code whose code, direction and message length (now and then too
/// long for its AVP) come from the script.
fn close(ops: &mut Ops<'_>) -> crate::l2tp::Close {
    use crate::l2tp::wire::avp::{DisconnectCode, DisconnectDirection, PppDisconnectCause};
    use crate::l2tp::wire::{ResultCode, ResultCodeValue};
    let b = ops.byte().unwrap_or(0);
    let close = crate::l2tp::Close::new(ResultCode::new(ResultCodeValue(u16::from(b % 12))));
    if b & 0x80 == 0 {
        return close;
    }
    let len = match ops.byte().unwrap_or(0) {
        0xff => 1020,
        n => usize::from(n % 16),
    };
    close.cause(PppDisconnectCause {
        code: DisconnectCode(u16::from(ops.byte().unwrap_or(0))),
        protocol: 0xc021,
        direction: DisconnectDirection(ops.byte().unwrap_or(0) % 4),
        message: std::borrow::Cow::Owned(vec![b'x'; len]),
    })
}

/// A call request from the script: up to 4 plan endpoints (the contact LNS, the LNS the
/// datagrams also come from, the alternate, an IPv6 one), each with a preference, weight, session
/// cap, assignment id and Tunnel-Password from the script, and some call details.
fn call_request(ops: &mut Ops<'_>) -> crate::l2tp::CallRequest {
    use crate::l2tp::lac::{PlanEndpoint, TunnelPlan};
    const SERVERS: [&str; 4] = [
        LNS_ADDR,
        "10.0.1.1:1701",
        "10.0.2.1:1701",
        "[2001:db8::1]:1701",
    ];
    let n = ops.byte().unwrap_or(0) % 5;
    let endpoints = (0..n)
        .map(|_| {
            let b = ops.byte().unwrap_or(0);
            let mut e = PlanEndpoint::new(addr(SERVERS[usize::from(b % 4)]))
                .preference(u32::from(b >> 2 & 3))
                .weight(u32::from(b >> 4 & 3));
            e.max_sessions = (b & 0x40 != 0).then_some(u32::from(b >> 7) + 1);
            let id = ops.byte().unwrap_or(0);
            e.assignment_id = (id % 3 != 0).then(|| vec![id % 3]);
            // Tunnel-Password: none, the LNS's secret, or another one.
            e.password = match id >> 6 {
                1 => Some(b"fuzz".to_vec()),
                2 => Some(b"other".to_vec()),
                _ => None,
            };
            e
        })
        .collect();
    let plan = TunnelPlan::new(endpoints).unwrap_or_default();
    let len = usize::from(ops.byte().unwrap_or(0) % 8);
    let details = crate::l2tp::CallDetails {
        calling_number: (len > 0).then(|| ops.bytes(len).to_vec()),
        sequencing_required: len % 2 == 1,
        ..Default::default()
    };
    crate::l2tp::CallRequest::with_plan(plan).details(details)
}

/// `l2tp_lac`: drives an [`crate::l2tp::Lac`] with arbitrary datagrams, time steps and commands;
/// checks its bounds after each step. `start` is the base instant the run starts at (the caller's
/// clock; the harness never reads one). The first script byte: bit 0 tunnel-level requests,
/// bit 1 the least-filled plan policy, bit 2 a default tunnel secret with hidden AVPs; commands
/// include plan calls with per-endpoint passwords and closes with an RFC 3145 cause.
pub fn lac(start: std::time::Instant, data: &[u8]) {
    use crate::l2tp::{CallId, Lac};
    let first = data.first().copied().unwrap_or(0);
    let Some(mut lac) = lac_endpoint_with(start, first & 1 == 1, first & 2 == 2, first & 4 == 4)
    else {
        return;
    };
    let from = |op: u8| {
        if op & 4 == 0 {
            LNS_ADDR
        } else {
            "10.0.1.1:1701"
        }
    };
    let command = |lac: &mut Lac, now, ops: &mut Ops<'_>| {
        let c = CallId(u64::from(ops.byte().unwrap_or(0) % 8));
        match ops.byte().unwrap_or(0) % 5 {
            0 => {
                let _ = lac.open_session(now);
            }
            4 => {
                let _ = lac.open_call(now, call_request(ops));
            }
            1 => {
                let _ = lac.close_session(now, c, close(ops));
            }
            2 => {
                let _ = lac.send_ppp(c, b"frame");
            }
            // RFC 4951: recover a tunnel as the failed endpoint (ids tried from the script).
            _ => {
                let t =
                    u16::from(ops.byte().unwrap_or(0)) << 8 | u16::from(ops.byte().unwrap_or(0));
                let _ = lac.start_recovery(now, t, crate::l2tp::UnsureSessions::All);
            }
        }
    };
    let check = |lac: &mut Lac| {
        assert!(lac.tunnel_count() <= 4);
        assert!(lac.call_count() <= 5);
        assert!(lac.denied(start).count() <= 2);
        while lac.poll_data().is_some() {}
    };
    drive(&mut lac, start, data, (from, LAC_ADDR), command, check);
}

/// `l2tp_replica_record`: parses arbitrary bytes as a virtual-LNS replication record
/// ([`crate::l2tp::replica::Record`]), alone and as the items of a replication batch; a record
/// that parses re-emits to the same octets, and re-parses to itself.
pub fn replica_record(data: &[u8]) {
    use crate::l2tp::replica::Record;
    if let Ok(r) = Record::parse(data) {
        let bytes = r.to_vec();
        assert_eq!(bytes, data, "a record is a fixed point of parse and emit");
        assert_eq!(Record::parse(&bytes).as_ref(), Ok(&r));
    }
    let mut reader = crate::io::Reader::new(data);
    let parsed = crate::replica::parse_batch::<Record>(&mut reader);
    if let Ok((_, items)) = &parsed {
        for e in items {
            if let Some(r) = e.item() {
                assert_eq!(Record::parse(&r.to_vec()).as_ref(), Ok(r));
            }
        }
    }
    // A batch of call updates read in place (a backup's way, `lns::replicate`) is the batch
    // the general parse reads, update for update.
    let mut head = crate::io::Reader::new(data);
    if let Ok((_, count)) = crate::replica::parse_batch_head::<Record>(&mut head) {
        let mut updates = crate::l2tp::replica::CallUpdates::new();
        if crate::l2tp::replica::call_updates(head.rest(), count, &mut updates) {
            let Ok((_, items)) = &parsed else {
                panic!("call updates read in place from a batch that does not parse");
            };
            assert_eq!(items.len(), updates.len());
            for (e, u) in items.iter().zip(&updates) {
                let Some(Record::CallUpdate {
                    tunnel,
                    session,
                    details,
                }) = e.item()
                else {
                    panic!("read in place as a call update: {e:?}");
                };
                assert_eq!((*tunnel, *session), (u.tunnel, u.session));
                assert_eq!((details.as_bytes(), details.last_rank()), (u.block, u.last));
            }
        }
        // A batch of set-ups' and tear-downs' records read in place (a backup's way,
        // `lns::replicate`) is the batch the general parse reads, record for record.
        let mut entries = crate::l2tp::replica::SetupEntries::new();
        if crate::l2tp::replica::setup_entries(head.rest(), count, &mut entries) {
            use crate::l2tp::replica::SetupEntry;
            let Ok((_, items)) = &parsed else {
                panic!("set-up records read in place from a batch that does not parse");
            };
            assert_eq!(items.len(), entries.len());
            for (e, got) in items.iter().zip(entries) {
                let want = e.item();
                match got {
                    SetupEntry::Call(c) => {
                        assert_eq!(want, Some(&Record::Call(Box::new(c))));
                    }
                    SetupEntry::Update(u) => {
                        let Some(Record::CallUpdate {
                            tunnel,
                            session,
                            details,
                        }) = want
                        else {
                            panic!("read in place as a call update: {e:?}");
                        };
                        assert_eq!((*tunnel, *session), (u.tunnel, u.session));
                        assert_eq!((details.as_bytes(), details.last_rank()), (u.block, u.last));
                    }
                    SetupEntry::Plain(rec) => assert_eq!(want, Some(&rec)),
                }
            }
        }
    }
}

/// Seeds of `l2tp_replica_record`: one record of each kind (tunnel with IPv6 addresses and the
/// Failover Capability, session, removals, takeover notice, a call with every detail item and
/// its update).
pub fn replica_record_seeds(mut add: impl FnMut(&'static str, Vec<u8>)) {
    use crate::l2tp::replica::{Record, SessionRecord, TunnelRecord};
    let addr = |s: &str| s.parse().unwrap_or(crate::l2tp::replica::ANY);
    let t = TunnelRecord {
        tunnel: 0x1234,
        peer_tunnel: 0x4321,
        peer: addr("[2001:db8::9]:1701"),
        local: addr("10.0.1.1:1701"),
        ns: 7,
        nr: 9,
        peer_window: 8,
        peer_framing_capabilities: 3,
        peer_bearer_capabilities: Some(3),
        peer_load_balance_capable: true,
        peer_failover: Some(crate::l2tp::wire::avp::FailoverCapability {
            control: true,
            data: false,
            recovery_time_ms: 10_000,
        }),
        hello_interval_ms: 60_000,
        epoch: 1,
    };
    let s = SessionRecord {
        tunnel: 0x1234,
        session: 0x0101,
        peer_session: 0x0202,
        serial: 42,
        sequencing: true,
        load_balance_capable: false,
        data_ns: 100,
        data_nr: 200,
        answered: false,
        icrp_ns: None,
    };
    add("tunnel.bin", Record::Tunnel(Box::new(t)).to_vec());
    add("session.bin", Record::Session(s).to_vec());
    add(
        "session_answered.bin",
        Record::Session(SessionRecord {
            answered: true,
            icrp_ns: Some(9),
            ..s
        })
        .to_vec(),
    );
    add(
        "session_sequence.bin",
        Record::SessionSequence {
            session: SessionRecord {
                answered: true,
                icrp_ns: Some(9),
                ..s
            },
            ns: 9,
            nr: 11,
        }
        .to_vec(),
    );
    add(
        "session_gone.bin",
        Record::SessionGone {
            tunnel: 0x1234,
            session: 0x0101,
        }
        .to_vec(),
    );
    add(
        "tunnel_gone.bin",
        Record::TunnelGone { tunnel: 0x1234 }.to_vec(),
    );
    // A BRAS's call (`replica` docs, call details): every item type once.
    let details = crate::l2tp::CallDetails {
        calling_number: Some(b"bras1 eth 0/1/2:100.200".to_vec()),
        called_number: Some(b"isp.example".to_vec()),
        sub_address: Some(b"7".to_vec()),
        bearer_type: Some(crate::l2tp::call::BearerType(1)),
        physical_channel_id: Some(3),
        framing_type: Some(crate::l2tp::call::FramingType(1)),
        tx_connect_speed: Some(100_000_000),
        rx_connect_speed: Some(20_000_000),
        private_group_id: Some(b"vpn".to_vec()),
        sequencing_required: true,
        proxy_auth: Some(crate::l2tp::call::ProxyAuth {
            kind: crate::l2tp::call::ProxyAuthenType::PAP,
            name: Some(b"alice@isp".to_vec()),
            ..Default::default()
        }),
        ..Default::default()
    };
    add(
        "call.bin",
        Record::Call(Box::new(crate::l2tp::replica::CallRecord {
            session: SessionRecord {
                answered: true,
                icrp_ns: Some(9),
                ..s
            },
            sequence: Some((9, 11)),
            details: crate::l2tp::call::PackedCallDetails::new(&details),
        }))
        .to_vec(),
    );
    add(
        "call_update.bin",
        Record::CallUpdate {
            tunnel: 0x1234,
            session: 0x0101,
            details: crate::l2tp::call::PackedCallDetails::new(&details),
        }
        .to_vec(),
    );
    // A batch (sequence 3) of two call updates, as a member's lingered ICCN details leave.
    let update = |session: u16| {
        crate::replica::Entry::Item(Record::CallUpdate {
            tunnel: 0x1234,
            session,
            details: crate::l2tp::call::PackedCallDetails::new(&details),
        })
    };
    let mut batch = Vec::new();
    crate::replica::encode_batch(3, &[update(0x0101), update(0x0102)], &mut batch);
    add("call_update_batch.bin", batch);
    // A batch (sequence 4) of set-ups' and tear-downs' records, as a member's burst of set-ups
    // leaves while a batch is in flight: calls answered (one with its tunnel's numbers), the
    // tunnel's numbers, a call update, a session and a session gone.
    let call = |session: u16, sequence: Option<(u16, u16)>| {
        crate::replica::Entry::Item(Record::Call(Box::new(crate::l2tp::replica::CallRecord {
            session: SessionRecord {
                session,
                answered: true,
                icrp_ns: Some(9),
                ..s
            },
            sequence,
            details: crate::l2tp::call::PackedCallDetails::new(&details),
        })))
    };
    let mut batch = Vec::new();
    let entries = [
        call(0x0103, None),
        call(0x0104, Some((10, 12))),
        crate::replica::Entry::Item(Record::TunnelSequence {
            tunnel: 0x1234,
            ns: 11,
            nr: 13,
        }),
        update(0x0101),
        crate::replica::Entry::Item(Record::Session(s)),
        crate::replica::Entry::Item(Record::SessionGone {
            tunnel: 0x1234,
            session: 0x0102,
        }),
    ];
    crate::replica::encode_batch(4, &entries, &mut batch);
    add("setup_batch.bin", batch);
    add(
        "tunnel_sequence.bin",
        Record::TunnelSequence {
            tunnel: 0x1234,
            ns: 7,
            nr: 9,
        }
        .to_vec(),
    );
    add(
        "address_taken.bin",
        Record::AddressTaken {
            incarnation: 2,
            addr: addr("10.0.1.1:1701").ip(),
        }
        .to_vec(),
    );
    // A later version's record (an extension kind this one does not know).
    add(
        "extension.bin",
        Record::Extension {
            kind: 0x9A,
            body: vec![0, 1, 2, 3],
        }
        .to_vec(),
    );
    add(
        "taken_over.bin",
        Record::TakenOver {
            incarnation: 1,
            tunnel: 0x1234,
            epoch: 1,
        }
        .to_vec(),
    );
}

#[cfg(test)]
mod tests {
    use crate::Rng;

    #[test]
    fn message_harness_on_random_and_mutated_inputs() {
        let mut rng = Rng::seed_from_u64(3);
        let seeds: Vec<Vec<u8>> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/l2tp"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
                        .filter_map(|e| std::fs::read(e.path()).ok())
                        .collect()
                })
                .unwrap_or_default();
        for i in 0..600 {
            let mut data = if !seeds.is_empty() && i % 2 == 0 {
                seeds[i % seeds.len()].clone()
            } else {
                let mut d = vec![0u8; rng.below(80) as usize];
                rng.fill_bytes(&mut d);
                if d.len() > 2 && i % 3 == 0 {
                    d[0] = 0xc8;
                    d[1] = 0x02;
                }
                d
            };
            for _ in 0..rng.below(4) {
                if data.is_empty() {
                    break;
                }
                let at = rng.below(data.len() as u64) as usize;
                data[at] = rng.next_u32() as u8;
            }
            super::message(&data);
        }
    }

    #[test]
    fn lac_and_lns_harnesses_on_random_scripts() {
        // TELCP_FUZZ_ITERS=n runs a longer local campaign.
        let iters = std::env::var("TELCP_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300u64);
        let t0 = std::time::Instant::now();
        let mut rng = Rng::seed_from_u64(11);
        for _ in 0..iters {
            let mut d = vec![0u8; rng.below(600) as usize];
            rng.fill_bytes(&mut d);
            // Bias towards datagram ops carrying mutated templates.
            for (i, b) in d.iter_mut().enumerate() {
                if i % 7 == 0 && rng.chance(0.5) {
                    *b = 1;
                }
            }
            super::lns(t0, &d);
            super::lac(t0, &d);
        }
    }
}
