//! Issue 15, item 1: each LNS of the virtual LNS replicates its sessions' call details (RFC 2661
//! 4.4.5: what the LAC said of the call in its ICRQ, 6.6, and ICCN, 6.8), so that a backup that
//! takes a call over tells its caller whose call it is, as `Event::CallConnected` told the
//! failed member's (accounting, RADIUS and lawful intercept key on the Calling Number).
//!
//! A LAC, member 0 (admission on: its caller gets `CallConnected`) and member 1 (its backup),
//! every datagram delivered in process; member 0 "crashes" when nothing more is delivered to or
//! from it, and member 1 takes it over once its health sees it Down.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, NodeId as HNode, NodeState, Role};
use telcp::l2tp::call::{BearerType, FramingType, ProxyAuth, ProxyAuthenType};
use telcp::l2tp::{
    AcceptParams, AdmissionConfig, CallDetails, CallRequest, Config, Event, Lac, LacConfig, Lns,
    LnsConfig, LnsMembership, ReplicationConfig,
};

fn service(i: u8) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(10, 0, 1, i + 1).into(), 1701)
}

fn management(i: u8) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(10, 0, 2, i + 1).into(), 1701)
}

const LAC: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 9, 1)), 1701);

/// The PAP password of the call (RFC 2661 4.4.5, Proxy Authen Response: "the PAP password").
const PASSWORD: &[u8] = b"s3cret-pap-password";
/// The proxy authentication's challenge, and the proxy LCP's initial CONFREQ.
const CHALLENGE: &[u8] = b"challenge-octets";
const PROXY_LCP: &[u8] = b"\x01\x04\x05\xd4lcp-options";

/// Member `i` of incarnation 1, with admission or not, with
/// [`ReplicationConfig::call_details`] `call_details`.
fn member_with(i: u8, admission: bool, call_details: bool, now: Instant) -> Lns {
    let mut l = member_config(i, 1);
    l.admission = admission.then(AdmissionConfig::default);
    if let Some(r) = &mut l.replication {
        r.call_details = call_details;
    }
    Lns::new(l, now).unwrap()
}

/// Member `i` of incarnation `incarnation`.
fn member_of(i: u8, incarnation: u32, now: Instant) -> Lns {
    Lns::new(member_config(i, incarnation), now).unwrap()
}

/// The configuration of [`member_of`]: admission on, the default replication.
fn member_config(i: u8, incarnation: u32) -> LnsConfig {
    let peers = vec![(HNode(u32::from(2 - i)), management(1 - i))];
    let mut m = LnsMembership::new(
        HNode(u32::from(i) + 1),
        Role::LNS,
        ClusterKey::new(b"pool cluster key"),
        peers,
    );
    m.incarnation = incarnation;
    LnsConfig {
        common: Config {
            hello_interval: Duration::from_secs(3600),
            seed: telcp::io::seed(40 + u64::from(i)),
            ..Default::default()
        },
        contact: false,
        membership: Some(m),
        replication: Some(ReplicationConfig::default()),
        admission: Some(AdmissionConfig::default()),
        ..Default::default()
    }
}

/// A BRAS/PPPoE LAC's call: a circuit id as Calling Number, a Called Number, digital bearer,
/// synchronous framing, the line's speeds, a Private Group ID, PAP proxy authentication (the
/// password in its response) and a proxy LCP.
fn bras_call() -> CallDetails {
    CallDetails {
        calling_number: Some(b"bras1 eth 0/1/2:100.200".to_vec()),
        called_number: Some(b"isp.example".to_vec()),
        sub_address: Some(b"42".to_vec()),
        bearer_type: Some(BearerType(BearerType::DIGITAL)),
        physical_channel_id: Some(0x0102_0304),
        framing_type: Some(FramingType(FramingType::SYNCHRONOUS)),
        tx_connect_speed: Some(100_000_000),
        rx_connect_speed: Some(20_000_000),
        private_group_id: Some(b"vpn-blue".to_vec()),
        sequencing_required: false,
        proxy_lcp: telcp::l2tp::call::ProxyLcp {
            initial_received: Some(PROXY_LCP.to_vec()),
            ..Default::default()
        },
        proxy_auth: Some(ProxyAuth {
            kind: ProxyAuthenType::PAP,
            name: Some(b"alice@isp.example".to_vec()),
            challenge: Some(CHALLENGE.to_vec()),
            id: Some(7),
            response: Some(PASSWORD.to_vec()),
        }),
    }
}

struct Pool {
    now: Instant,
    lac: Lac,
    a: Lns,
    b: Lns,
    /// Member 0 is delivered to and from (not crashed).
    a_alive: bool,
    /// Every replication datagram member 0 sent member 1.
    replication: Vec<Vec<u8>>,
    /// Member 0's events, member 1's.
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

impl Pool {
    fn new() -> Pool {
        Pool::with(true, true)
    }

    /// Both members with admission or not, with [`ReplicationConfig::call_details`]
    /// `call_details`.
    fn with(admission: bool, call_details: bool) -> Pool {
        Pool::with_b(admission, call_details, |_| {})
    }

    /// As [`Pool::with`], member 1 changed by `b` before the pool forms.
    fn with_b(admission: bool, call_details: bool, b: impl FnOnce(&mut Lns)) -> Pool {
        let now = Instant::now();
        let mut lc = LacConfig::new(service(0));
        lc.common.hello_interval = Duration::from_secs(3600);
        lc.common.seed = telcp::io::seed(39);
        let mut p = Pool {
            now,
            lac: Lac::new(lc, now).unwrap(),
            a: member_with(0, admission, call_details, now),
            b: member_with(1, admission, call_details, now),
            a_alive: true,
            replication: Vec::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
        };
        b(&mut p.b);
        let sees =
            |l: &Lns, n: u32| l.monitor().and_then(|m| m.state(HNode(n))) == Some(NodeState::Up);
        for _ in 0..100_000 {
            if sees(&p.a, 2) && sees(&p.b, 1) && p.a.backup() == Some(HNode(2)) {
                break;
            }
            p.tick();
        }
        assert_eq!(p.a.backup(), Some(HNode(2)), "the pool did not form");
        p
    }

    /// The LAC opens a call with `details`; set up, then ten timers on, so that what lingers
    /// ([`ReplicationConfig::linger`]: the ICCN's details) has left.
    fn connect(&mut self, details: CallDetails) {
        self.lac
            .open_call(self.now, CallRequest::default().details(details))
            .unwrap();
        self.pump();
        for _ in 0..10 {
            self.tick();
        }
    }

    /// Virtual time to the next timer of any endpoint, which fires; then every datagram.
    fn tick(&mut self) {
        let next = [
            self.a_alive.then(|| self.a.poll_timeout()).flatten(),
            self.b.poll_timeout(),
            self.lac.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.now + Duration::from_millis(10));
        self.now = next.max(self.now);
        if self.a_alive {
            self.a.handle_timeout(self.now);
        }
        self.b.handle_timeout(self.now);
        self.lac.handle_timeout(self.now);
        self.pump();
    }

    /// Delivers every datagram until none moves (time stands still); member 0's caller admits
    /// every call.
    fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            while let Some(t) = self.lac.poll_transmit() {
                moved = true;
                if t.dst == service(0) && self.a_alive {
                    let _ = self.a.handle_datagram(now, LAC, service(0), &t.payload);
                } else if t.dst == service(0) {
                    // After the takeover the address is member 1's.
                    let _ = self.b.handle_datagram(now, LAC, service(0), &t.payload);
                }
            }
            while self.a_alive
                && let Some(t) = self.a.poll_transmit()
            {
                moved = true;
                if t.dst == management(1) {
                    if !telcp::health::is_heartbeat(&t.payload) {
                        self.replication.push(t.payload.to_vec());
                    }
                    let _ = self
                        .b
                        .handle_datagram(now, management(0), management(1), &t.payload);
                } else {
                    let _ = self.lac.handle_datagram(now, service(0), LAC, &t.payload);
                }
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                if t.dst == management(0) {
                    if self.a_alive {
                        let _ =
                            self.a
                                .handle_datagram(now, management(1), management(0), &t.payload);
                    }
                } else {
                    let src = t.src.unwrap_or(service(1));
                    let _ = self.lac.handle_datagram(now, src, LAC, &t.payload);
                }
            }
            while self.a_alive
                && let Some(e) = self.a.poll_event()
            {
                moved = true;
                if let Event::IncomingCall { id, .. } = &e {
                    self.a
                        .accept(now, *id, AcceptParams::default())
                        .expect("accepted");
                }
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
            while self.lac.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
    }

    /// The details member 0's caller got with `CallConnected`.
    fn connected(&self) -> Vec<CallDetails> {
        self.a_events
            .iter()
            .filter_map(|e| match e {
                Event::CallConnected { details, .. } => Some((**details).clone()),
                _ => None,
            })
            .collect()
    }

    /// Member 0 crashes; virtual time runs until member 1 took it over: the sessions' details
    /// its `TakenOver` events carry.
    fn crash_and_take_over(&mut self) -> Vec<Option<Box<CallDetails>>> {
        self.a_alive = false;
        for _ in 0..100_000 {
            let taken: Vec<Option<Box<CallDetails>>> = self
                .b_events
                .iter()
                .filter_map(|e| match e {
                    Event::TakenOver {
                        sessions, details, ..
                    } if !sessions.is_empty() => {
                        assert_eq!(sessions.len(), details.len(), "one per session");
                        Some(details.clone())
                    }
                    _ => None,
                })
                .flatten()
                .collect();
            if !taken.is_empty() {
                return taken;
            }
            self.tick();
        }
        panic!("member 1 took nothing over");
    }

    fn sent_anywhere(&self, needle: &[u8]) -> bool {
        self.replication
            .iter()
            .any(|d| d.windows(needle.len()).any(|w| w == needle))
    }
}

/// RFC 2661 4.4.5 (call status AVPs), 6.6 (ICRQ), 6.8 (ICCN): a call connected with a Calling
/// and Called Number, Bearer and Framing Types and Tx/Rx Connect Speeds, taken over by the
/// backup, carries in its handoff the values the original member's `CallConnected` gave, but
/// for the proxy LCP and the proxy authentication's challenge, ID and response ("secrets never
/// leave in clear"): those served PPP's start only.
#[test]
fn a_taken_over_call_carries_the_details_call_connected_gave() {
    let mut p = Pool::new();
    let d = bras_call();
    // The ICCN's details linger ([`ReplicationConfig::linger`]) and leave at its end.
    p.connect(d.clone());
    let connected = p.connected();
    assert_eq!(connected.len(), 1, "CallConnected at member 0");
    // What the LAC said arrived whole at member 0 (RFC 2661 6.6, 6.8).
    assert_eq!(connected[0], d);
    let taken = p.crash_and_take_over();
    assert_eq!(taken.len(), 1);
    let got = taken[0].as_deref().expect("the call's details handed over");
    // RFC 2661 4.4.5: the values of each AVP, as the LAC gave them.
    assert_eq!(
        got.calling_number.as_deref(),
        Some(&b"bras1 eth 0/1/2:100.200"[..])
    );
    assert_eq!(got.called_number.as_deref(), Some(&b"isp.example"[..]));
    assert_eq!(got.sub_address.as_deref(), Some(&b"42"[..]));
    assert_eq!(got.bearer_type, Some(BearerType(BearerType::DIGITAL)));
    assert_eq!(got.physical_channel_id, Some(0x0102_0304));
    assert_eq!(
        got.framing_type,
        Some(FramingType(FramingType::SYNCHRONOUS))
    );
    assert_eq!(got.tx_connect_speed, Some(100_000_000));
    assert_eq!(got.rx_connect_speed, Some(20_000_000));
    assert_eq!(got.private_group_id.as_deref(), Some(&b"vpn-blue"[..]));
    let auth = got
        .proxy_auth
        .as_ref()
        .expect("proxy authentication type and name");
    assert_eq!(auth.kind, ProxyAuthenType::PAP);
    assert_eq!(auth.name.as_deref(), Some(&b"alice@isp.example"[..]));
    assert_eq!(
        (&auth.challenge, auth.id, &auth.response),
        (&None, None, &None)
    );
    assert!(got.proxy_lcp.is_empty());
    // The same as CallConnected's, the secrets left out.
    assert_eq!(*got, connected[0].clone().replicable());
}

/// Calls connected together: their ICCNs' details linger and leave in one batch (`lns::replicate`
/// docs, records); each call taken over carries its own ICCN's values (RFC 2661 6.8: Tx and Rx
/// Connect Speed, Private Group ID, the proxy authentication's name) with its ICRQ's (6.6).
#[test]
fn calls_connected_together_are_taken_over_each_with_its_iccns_details() {
    let mut p = Pool::new();
    let call = |k: u32| {
        let mut d = bras_call();
        d.calling_number = Some(format!("bras1 eth 0/1/2:{k}").into_bytes());
        d.tx_connect_speed = Some(1_000_000 + k);
        d.rx_connect_speed = Some(2_000_000 + k);
        d.private_group_id = Some(format!("vpn-{k}").into_bytes());
        if let Some(a) = d.proxy_auth.as_mut() {
            a.name = Some(format!("user{k}@isp.example").into_bytes());
        }
        d
    };
    let n = 6;
    for k in 0..n {
        p.lac
            .open_call(p.now, CallRequest::default().details(call(k)))
            .unwrap();
    }
    p.pump();
    assert_eq!(
        p.connected().len(),
        n as usize,
        "every call connected at member 0"
    );
    for _ in 0..10 {
        p.tick();
    }
    let mut taken: Vec<CallDetails> = p
        .crash_and_take_over()
        .into_iter()
        .map(|d| *d.expect("each call's details handed over"))
        .collect();
    taken.sort_by_key(|d| d.tx_connect_speed);
    let want: Vec<CallDetails> = (0..n).map(|k| call(k).replicable()).collect();
    assert_eq!(taken, want);
}

/// A call whose ICCN's details had not reached the backup when its member failed (they linger
/// for the next batch, `lns::replicate` docs) is handed over with the ICRQ's (RFC 2661 6.6:
/// Bearer Type, Physical Channel ID, Calling and Called Number, Sub-Address), which travelled
/// with the answered call's record before its ICRP left.
#[test]
fn a_call_whose_iccn_was_not_replicated_carries_the_icrqs() {
    let mut p = Pool::new();
    let d = bras_call();
    p.lac
        .open_call(p.now, CallRequest::default().details(d.clone()))
        .unwrap();
    // Set up with time standing still: the ICCN's update still lingers at member 0.
    p.pump();
    assert_eq!(p.connected().len(), 1, "the call connected at member 0");
    let taken = p.crash_and_take_over();
    assert_eq!(taken.len(), 1);
    let got = taken[0].as_deref().expect("the ICRQ's details handed over");
    let icrq = CallDetails {
        calling_number: d.calling_number.clone(),
        called_number: d.called_number.clone(),
        sub_address: d.sub_address.clone(),
        bearer_type: d.bearer_type,
        physical_channel_id: d.physical_channel_id,
        ..CallDetails::default()
    };
    assert_eq!(*got, icrq);
}

/// RFC 2661 4.4.5: the Proxy Authen Response of PAP is the password in clear. It, the
/// challenge and the proxy LCP appear in no replication datagram (the channel is
/// authenticated, not encrypted); the user name does (the backup's caller needs it).
#[test]
fn the_proxy_authentication_response_never_leaves_in_replication() {
    let mut p = Pool::new();
    p.connect(bras_call());
    assert_eq!(p.connected().len(), 1);
    assert!(!p.replication.is_empty());
    assert!(p.sent_anywhere(b"alice@isp.example"), "the name travels");
    assert!(p.sent_anywhere(b"bras1 eth 0/1/2:100.200"));
    assert!(!p.sent_anywhere(PASSWORD), "the PAP password left in clear");
    assert!(!p.sent_anywhere(CHALLENGE));
    assert!(!p.sent_anywhere(PROXY_LCP));
}

/// Issue 15, bulk sync: a backup that (re)joins gets every established session from a bulk
/// sync, each with its call's merged details (`lns::replicate` docs, records): member 1
/// restarts empty after the call connected, member 0 syncs it, then fails; the handoff carries
/// the values `CallConnected` gave (RFC 2661 4.4.5), the secrets left out.
#[test]
fn a_backup_synced_after_the_call_connected_hands_over_its_details() {
    let mut p = Pool::new();
    p.connect(bras_call());
    let connected = p.connected();
    assert_eq!(connected.len(), 1);
    // Member 1 restarts empty (a new incarnation): member 0 syncs it in bulk.
    p.b = member_of(1, 2, p.now);
    p.replication.clear();
    let synced = |p: &Pool| p.b.held_for(HNode(1)) == (1, 1);
    for _ in 0..100_000 {
        if synced(&p) && p.a.backup() == Some(HNode(2)) {
            break;
        }
        p.tick();
    }
    assert!(synced(&p), "member 1 holds the tunnel and the call again");
    assert!(
        p.sent_anywhere(b"bras1 eth 0/1/2:100.200"),
        "the sync carried the details"
    );
    assert!(!p.sent_anywhere(PASSWORD));
    let taken = p.crash_and_take_over();
    assert_eq!(taken.len(), 1);
    let got = taken[0].as_deref().expect("the call's details handed over");
    assert_eq!(*got, connected[0].clone().replicable());
}

/// [`ReplicationConfig::call_details`] (on by default): a replicating member keeps its calls'
/// details for its backup with or without admission (no `CallConnected` then), and the taker
/// hands them over (RFC 2661 6.6 and 6.8: the ICRQ's and the ICCN's merged). Off, the calls'
/// details are neither kept nor replicated: the Calling Number appears in no replication
/// datagram, and the handoff carries none.
#[test]
fn call_details_are_replicated_without_admission_and_not_when_turned_off() {
    for call_details in [true, false] {
        let mut p = Pool::with(false, call_details);
        let d = bras_call();
        p.connect(d.clone());
        assert!(
            p.connected().is_empty(),
            "no CallConnected without admission"
        );
        let calling = b"bras1 eth 0/1/2:100.200";
        assert_eq!(p.sent_anywhere(calling), call_details, "{call_details}");
        let taken = p.crash_and_take_over();
        assert_eq!(taken.len(), 1, "the call taken over");
        if call_details {
            let got = taken[0].as_deref().expect("the call's details handed over");
            assert_eq!(*got, d.clone().replicable());
        } else {
            assert!(taken[0].is_none(), "{:?}", taken[0]);
        }
    }
}

/// A member that takes no new call (`Lns::set_accepting(false)`: its heartbeats report 100 %,
/// as the lns role's member does while a taker holds its service address) is still chosen as
/// the backup when no other member has room: a copy held by a full member beats none
/// (`lns::replicate` docs, backup; issue 15: every LNS replicates to a backup member chosen by
/// load). The call set up then is held by it.
#[test]
fn a_member_taking_no_new_call_is_still_the_backup_when_none_has_room() {
    let mut p = Pool::with_b(false, true, |b| b.set_accepting(false));
    assert_eq!(p.a.backup(), Some(HNode(2)));
    p.connect(bras_call());
    assert_eq!(p.b.held_for(HNode(1)).1, 1, "the backup holds the call");
}
